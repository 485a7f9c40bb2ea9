"""scipy reference values for tests/sequential_reference.rs (analysis::sequential).

Run from the crate root:
    python3 -m venv target/pyenv-stats && target/pyenv-stats/bin/pip install scipy
    target/pyenv-stats/bin/python tests/data/stats/sequential.py
Writes tests/data/stats/sequential_reference.json, computed independently of slogate's
algebra:
- signs: ln E of the sequential sign test, E = 2^(S+F) * integral_{1/2}^{1} p^S (1-p)^F dp / (1/2)
  (a uniform prior truncated to p > 1/2), by numerical integration (scipy.integrate.quad), not
  by the incomplete-beta closed form slogate uses;
- rates: ln E of the rate-ratio test, the mean over the grid rho_j = tau * 16^(+-j/24),
  j = 1..24, of the product over looks of binom.pmf(xc, m, p(rho_j)) / binom.pmf(xc, m, p(tau)),
  p(rho) = rho w / (1 + rho w), w = nc / nb, m = xc + xb (scipy.stats.binom.logpmf), not by
  slogate's sufficient statistic.
Floats are written by json (repr: the shortest string that reads back as the same double).
"""

import json
import math
import pathlib

import scipy
from scipy.integrate import quad
from scipy.special import logsumexp
from scipy.stats import binom

OUT = pathlib.Path("tests/data/stats/sequential_reference.json")

SIGN_CASES = [(0, 0), (1, 0), (0, 1), (5, 5), (10, 0), (7, 3), (3, 7), (60, 40), (40, 60),
              (130, 70), (300, 100), (1000, 1000), (520, 480), (0, 50)]

RATE_CASES = [
    (1.0, "higher", [(20, 1000, 10, 1000)]),
    (1.0, "higher", [(10, 1000, 10, 1000), (12, 1000, 9, 1000), (8, 1000, 11, 1000)]),
    (1.2, "higher", [(20, 1000, 10, 1000), (25, 1000, 11, 1000), (18, 1000, 9, 1000)]),
    # Argo's canary weight changing across steps: the traffic split moves look by look.
    (1.2, "higher", [(3, 100, 9, 900), (10, 250, 20, 750), (22, 500, 11, 500)]),
    (1.0, "lower", [(2, 1000, 10, 1000), (3, 1000, 12, 1000)]),
    (0.9, "lower", [(40, 2000, 41, 2000)]),
    (1.5, "higher", [(0, 1000, 5, 1000), (1, 1000, 0, 1000), (7, 500, 3, 1500)]),
]


def sign_log_e(s, f):
    if s == 0 and f == 0:
        return 0.0
    n = s + f
    peak = max(0.5, s / n)
    log_peak = (s * math.log(peak) if s else 0.0) + (f * math.log1p(-peak) if f and peak < 1 else 0.0)
    if f and peak >= 1:
        log_peak = 0.0

    def scaled(p):
        value = (s * math.log(p) if s else 0.0) + (f * math.log1p(-p) if f else 0.0)
        return math.exp(value - log_peak)

    integral, _ = quad(scaled, 0.5, 1.0, points=[peak] if 0.5 < peak < 1 else None,
                       epsabs=0, epsrel=1e-13, limit=200)
    return n * math.log(2) + math.log(2) + math.log(integral) + log_peak


def rate_log_e(tau, worse, looks):
    step = 16.0 ** (1 / 24)
    grid = [tau * step ** j if worse == "higher" else tau / step ** j for j in range(1, 25)]
    logs = []
    for rho in grid:
        total = 0.0
        for xc, nc, xb, nb in looks:
            m = xc + xb
            if nc == 0 or nb == 0 or m == 0:
                continue
            w = nc / nb
            p = rho * w / (1 + rho * w)
            p0 = tau * w / (1 + tau * w)
            total += binom.logpmf(xc, m, p) - binom.logpmf(xc, m, p0)
        logs.append(total)
    return float(logsumexp(logs) - math.log(len(grid)))


def main():
    out = {
        "scipy": scipy.__version__,
        "signs": [{"wins": s, "losses": f, "log_e": sign_log_e(s, f)} for s, f in SIGN_CASES],
        "rates": [
            {"tolerance": tau, "worse": worse, "looks": [list(l) for l in looks],
             "log_e": rate_log_e(tau, worse, looks)}
            for tau, worse, looks in RATE_CASES
        ],
    }
    OUT.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
