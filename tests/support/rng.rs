//! The seeded random numbers of the simulations: one generator for every test that simulates.

/// SplitMix64: a fixed, seedable generator so that every simulation is the same on every run.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_f64(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A standard normal (Box-Muller, one of the pair).
    pub fn normal(&mut self) -> f64 {
        let (u1, u2) = (self.next_f64().max(f64::MIN_POSITIVE), self.next_f64());
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }

    /// Poisson(mean): a walk up the CDF below 40, a rounded normal above (the counts there are
    /// large enough that the difference does not matter to a test of rates).
    pub fn poisson(&mut self, mean: f64) -> u64 {
        if mean <= 0.0 {
            return 0;
        }
        if mean > 40.0 {
            return (mean + mean.sqrt() * self.normal()).round().max(0.0) as u64;
        }
        let u = self.next_f64();
        let mut pmf = (-mean).exp();
        let mut cdf = pmf;
        let mut k = 0u64;
        while u > cdf && k < 1000 {
            k += 1;
            pmf *= mean / k as f64;
            cdf += pmf;
        }
        k
    }

    /// Gamma with mean 1 and coefficient of variation `cv` (Marsaglia-Tsang); 1 when cv is 0.
    pub fn gamma_unit(&mut self, cv: f64) -> f64 {
        if cv <= 0.0 {
            return 1.0;
        }
        let shape = 1.0 / (cv * cv);
        let (d, boost) = if shape < 1.0 {
            (shape + 1.0 - 1.0 / 3.0, true)
        } else {
            (shape - 1.0 / 3.0, false)
        };
        let c = 1.0 / (9.0 * d).sqrt();
        let draw = loop {
            let x = self.normal();
            let v = (1.0 + c * x).powi(3);
            if v <= 0.0 {
                continue;
            }
            let u = self.next_f64();
            if u.ln() < 0.5 * x * x + d - d * v + d * v.ln() {
                break d * v;
            }
        };
        let draw = if boost {
            draw * self.next_f64().powf(1.0 / shape)
        } else {
            draw
        };
        draw / shape
    }
}

impl Rng {
    /// Errors among `n` requests that each fail with probability `p`: Binomial(n, p) by
    /// inversion (a walk up the CDF, about n·p steps: cheap at small error rates).
    pub fn binomial(&mut self, n: u64, p: f64) -> u64 {
        let u = self.next_f64();
        let q = 1.0 - p;
        let mut pmf = q.powf(n as f64);
        let mut cdf = pmf;
        let mut k = 0;
        while u > cdf && k < n {
            pmf *= (n - k) as f64 / (k + 1) as f64 * p / q;
            k += 1;
            cdf += pmf;
        }
        k
    }

    /// A latency in seconds: log-normal around 200 ms (σ 0.5), as request latencies are.
    pub fn latency(&mut self) -> f64 {
        0.2 * (0.5 * self.normal()).exp()
    }
}
