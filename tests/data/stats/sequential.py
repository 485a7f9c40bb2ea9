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
  j = 1..24, of the product over looks of
  [binom.pmf(xc, m, p(rho_j)) / binom.pmf(xc, m, p(tau))]^(1/phi_k),
  p(rho) = rho w / (1 + rho w), w = nc / nb, m = xc + xb (scipy.stats.binom.logpmf), not by
  slogate's sufficient statistic; phi_k = 1 + (m - 1) p(tau)(1 - p(tau)) s2_k, with s2_k the
  dispersion estimated (numpy) from the looks before k: Pearson residuals around the pooled
  ratio (half an event added to each side), method of moments, shrunk towards 0.446 with a
  weight of 3 looks;
- shift: ln E of the values test, by numerical integration (quad) of
  exp(theta S - theta^2 V / 2) against a half-normal prior of variance 1 / (10 LRV), with
  S = sum(d - ln tau), V = n LRV, LRV = s2 (1 + phi) / (1 - phi), s2 and phi the sample
  variance and lag-one autocorrelation of d = ln c - ln b (numpy), shrunk towards 0.1^2 and
  0.5 with a weight of 4 observations, phi clipped to [0, 0.9].
Floats are written by json (repr: the shortest string that reads back as the same double).
"""

import json
import math
import pathlib

import numpy as np
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
    # Looks of several minutes (a fifth number): the rate noise of a look shrinks with them.
    (1.2, "higher", [(60, 6000, 500, 54000, 10), (9, 600, 50, 5400, 1), (14, 600, 52, 5400, 1),
                     (5, 600, 60, 5400, 1), (20, 1200, 101, 10800, 2)]),
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


def dispersion(previous):
    looks = np.array(previous, dtype=float).reshape(-1, 5)
    used = 0
    excess = scale = 0.0
    if len(looks) and looks[:, 1].sum() > 0 and looks[:, 3].sum() > 0:
        ratio = ((looks[:, 0].sum() + 0.5) / looks[:, 1].sum()) / (
            (looks[:, 2].sum() + 0.5) / looks[:, 3].sum())
        for xc, nc, xb, nb, minutes in looks:
            m = xc + xb
            if m < 2 or nc == 0 or nb == 0:
                continue
            w = nc / nb
            p = ratio * w / (1 + ratio * w)
            excess += (xc - m * p) ** 2 - m * p * (1 - p)
            scale += m * (m - 1) * (p * (1 - p)) ** 2 / minutes
            used += 1
    dof = max(used - 1, 0)
    estimate = max(excess / scale, 0.0) * used / dof if scale > 0 and dof > 0 else 0.0
    return (3 * 0.446 + dof * estimate) / (3 + dof)


def rate_log_e(tau, worse, looks):
    step = 16.0 ** (1 / 24)
    grid = [tau * step ** j if worse == "higher" else tau / step ** j for j in range(1, 25)]
    looks = [tuple(l) + (1,) * (5 - len(l)) for l in looks]
    temper = []
    kept = []
    for xc, nc, xb, nb, minutes in looks:
        m = xc + xb
        if nc == 0 or nb == 0 or m == 0:
            temper.append(None)
            continue
        w = nc / nb
        p0 = tau * w / (1 + tau * w)
        temper.append(1 + (m - 1) * p0 * (1 - p0) * dispersion(kept) / max(minutes, 1))
        kept.append((xc, nc, xb, nb, max(minutes, 1)))
    logs = []
    for rho in grid:
        total = 0.0
        for (xc, nc, xb, nb, _), phi in zip(looks, temper):
            if phi is None:
                continue
            m = xc + xb
            w = nc / nb
            p = rho * w / (1 + rho * w)
            p0 = tau * w / (1 + tau * w)
            total += (binom.logpmf(xc, m, p) - binom.logpmf(xc, m, p0)) / phi
        logs.append(total)
    return float(logsumexp(logs) - math.log(len(grid)))


SHIFT_CASES = [
    (1.05, "higher", [0.21, 0.2], [0.2, 0.2]),
    (1.05, "higher", [0.25, 0.26, 0.24, 0.27, 0.25, 0.26], [0.2, 0.21, 0.2, 0.22, 0.2, 0.21]),
    (1.0, "higher", [1.1, 1.3, 1.2, 1.25, 1.1, 1.15, 1.2, 1.3, 1.22, 1.18, 1.2, 1.24],
     [1.0, 1.1, 1.05, 1.0, 0.95, 1.0, 1.02, 1.1, 1.0, 0.98, 1.01, 1.0]),
    (1.05, "higher", [0.2, 0.19, 0.21, 0.2, 0.18, 0.2, 0.22, 0.2], [0.2] * 8),
    (0.95, "lower", [80, 70, 75, 72, 71, 69, 74], [100, 98, 101, 99, 103, 100, 97]),
    (1.1, "higher", [0.3 * (1.0 + 0.1 * math.sin(i)) for i in range(40)],
     [0.2 * (1.0 + 0.05 * math.cos(i)) for i in range(40)]),
]


def shift_log_e(tau, worse, canary, baseline):
    d = np.log(np.array(canary, dtype=float)) - np.log(np.array(baseline, dtype=float))
    n = len(d)
    dof = n - 1
    if n >= 2:
        variance = np.var(d, ddof=1)
        centred = d - d.mean()
        c0 = np.mean(centred ** 2)
        c1 = np.sum(centred[1:] * centred[:-1]) / n
        r1 = np.clip(c1 / c0, -1, 1) if c0 > 0 else 0.0
        phi = r1 if n >= 3 else 0.5
    else:
        variance, phi = 0.0, 0.8
    s2 = (4 * 0.01 + dof * variance) / (4 + dof)
    phi = float(np.clip((4 * 0.5 + dof * phi) / (4 + dof), 0.0, 0.9))
    lrv = s2 * (1 + phi) / (1 - phi)
    beyond = d - math.log(tau) if worse == "higher" else math.log(tau) - d
    S, V = float(beyond.sum()), n * lrv
    c2 = 1 / (10 * lrv)
    peak = max(S / V, 0.0)

    def integrand(theta):
        return math.exp(theta * S - theta * theta * V / 2 - theta * theta / (2 * c2)
                        - (peak * S - peak * peak * V / 2 - peak * peak / (2 * c2)))

    value, _ = quad(integrand, 0, math.inf, epsabs=0, epsrel=1e-12, limit=200)
    log_peak = peak * S - peak * peak * V / 2 - peak * peak / (2 * c2)
    return math.log(value) + log_peak + math.log(2 / math.sqrt(2 * math.pi * c2))


def main():
    out = {
        "scipy": scipy.__version__,
        "signs": [{"wins": s, "losses": f, "log_e": sign_log_e(s, f)} for s, f in SIGN_CASES],
        "rates": [
            {"tolerance": tau, "worse": worse, "looks": [list(l) for l in looks],
             "log_e": rate_log_e(tau, worse, looks)}
            for tau, worse, looks in RATE_CASES
        ],
        "shift": [
            {"tolerance": tau, "worse": worse, "canary": c, "baseline": b,
             "log_e": shift_log_e(tau, worse, c, b)}
            for tau, worse, c, b in SHIFT_CASES
        ],
    }
    OUT.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
