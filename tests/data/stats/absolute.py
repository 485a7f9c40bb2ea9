"""Reference values for the absolute criteria of canary metrics (tests/absolute_reference.rs).

Run from the crate root with scipy and statsmodels installed (a venv is enough):
    python3 -m venv target/pyenv-stats
    target/pyenv-stats/bin/pip install scipy statsmodels
    target/pyenv-stats/bin/python tests/data/stats/absolute.py
Writes tests/data/stats/absolute_reference.json (produced with scipy 1.17.1, statsmodels
0.15.0):
- binomial: scipy.stats.binomtest(k, n, p, alternative="greater").pvalue, the exact
  one-sided test behind `max_rate`;
- clopper_pearson: binomtest(k, n, alternative="greater").proportion_ci(1 - alpha, "exact")
  for the lower bound and alternative="less" for the upper one, each one-sided at alpha;
- tempered: `max_rate` on counts tempered for overdispersion, k' = k/phi of n' = n/phi with
  phi = 1 + n p0 c2 / (L (1 - p0)), c2 = expm1(dispersion / 2): the bounds as
  scipy.special.betaincinv(k', n' - k' + 1, alpha) and betaincinv(k' + 1, n' - k', 1 - alpha),
  the tail as scipy.special.betainc(k', n' - k' + 1, p0) (the incomplete beta taken from scipy,
  not from statrs);
- newcombe: statsmodels confint_proportions_2indep(k1, n1, k2, n2, method="newcomb",
  compare="diff", alpha=2 * alpha): the two-sided interval at 1 - 2 alpha, whose ends are
  the one-sided bounds at alpha (also on tempered, fractional counts);
- level: `max` on per-minute values, written out in numpy from docs/statistics.md rather than
  from slogate's sufficient statistics: d = ln(x / max), the sample variance (ddof 1) and the
  lag-one autocorrelation of d, shrunk towards 0.1^2 and 0.5 with a weight of 4 observations,
  phi clipped to [0, 0.9], then s2 at least 0.1^2 and phi at least 0.8 (one window cannot
  tell drift from a level), LRV = s2 (1 + phi) / (1 - phi), z = mean(d) / sqrt(LRV / n), the
  bounds max * exp(mean(d) -+ norm.isf(alpha) sqrt(LRV / n)).
Numbers are written with repr (the shortest string that reads back as the same double).
"""

import json
import math
import pathlib

import numpy
from scipy.special import betainc, betaincinv
from scipy.stats import binomtest, norm
from statsmodels.stats.proportion import confint_proportions_2indep

OUT = pathlib.Path("tests/data/stats/absolute_reference.json")


def num(x):
    x = float(x)
    return None if math.isnan(x) or math.isinf(x) else repr(x)


binomial = [
    (30, 2000, 0.005), (12, 12000, 0.005), (0, 100, 0.005), (5, 1000, 0.005),
    (6, 1000, 0.005), (9, 10, 0.5), (10, 10, 0.5), (60, 100, 0.5), (1, 1, 0.3),
    (250, 40000, 0.005), (3, 7, 0.5),
]
clopper = [
    (30, 2000, 0.01), (0, 1000, 0.01), (1000, 1000, 0.01), (12, 12000, 0.005),
    (3, 50, 0.0001), (250, 40000, 0.01), (1, 2, 0.01),
]
tempered = [
    # k, n, p0, minutes, dispersion, alpha
    (30, 2000, 0.005, 10.0, 0.446, 0.01), (0, 1039, 0.005, 10.0, 0.446, 0.01),
    (90, 2893, 0.005, 10.0, 0.446, 0.01), (120, 12000, 0.005, 10.0, 0.446, 0.0025),
    (12, 12000, 0.005, 10.0, 0.1, 0.01), (8, 1200, 0.005, 10.0, 0.446, 0.01),
]
levels = [
    # values, max, alpha
    ([0.62] * 10, 0.5, 0.01),
    ([0.45, 0.6, 0.5, 0.58, 0.44, 0.62, 0.49, 0.55, 0.47, 0.52], 0.5, 0.01),
    ([0.2, 0.25, 0.3, 0.22, 0.28, 0.6], 0.5, 0.01),
    ([0.93, 0.95, 0.91, 0.94, 0.96, 0.9, 0.92, 0.97, 0.93, 0.94, 0.95], 0.5, 0.0025),
    ([0.3 + 0.02 * i for i in range(15)], 0.5, 0.001),
]
newcombe = [
    (30, 2000, 10, 2000, 0.01), (12, 12000, 12, 12000, 0.01), (0, 500, 0, 500, 0.01),
    (50, 1000, 20, 1000, 0.005), (7, 300, 1, 400, 0.0001), (260, 12000, 12, 12000, 0.01),
    (48.2, 4820.5, 4.8, 4820.5, 0.01),  # 482 and 48 of 48205, tempered by 10
]

out = {"binomial": [], "clopper_pearson": [], "tempered": [], "newcombe": [], "level": []}
for k, n, p in binomial:
    out["binomial"].append({"k": k, "n": n, "p": repr(p),
                            "p_value": num(binomtest(k, n, p, alternative="greater").pvalue)})
for k, n, alpha in clopper:
    low = binomtest(k, n, alternative="greater").proportion_ci(1 - alpha, "exact").low
    high = binomtest(k, n, alternative="less").proportion_ci(1 - alpha, "exact").high
    out["clopper_pearson"].append({"k": k, "n": n, "alpha": repr(alpha),
                                   "lower": num(low), "upper": num(high)})
for k, n, p0, minutes, dispersion, alpha in tempered:
    c2 = math.expm1(dispersion / 2)
    phi = 1 + n * p0 * c2 / (minutes * (1 - p0))
    kk, nn = k / phi, n / phi
    low = 0.0 if kk == 0 else betaincinv(kk, nn - kk + 1, alpha)
    high = betaincinv(kk + 1, nn - kk, 1 - alpha)
    tail = 1.0 if kk == 0 else betainc(kk, nn - kk + 1, p0)
    out["tempered"].append({"k": k, "n": n, "p0": repr(p0), "minutes": repr(minutes),
                            "dispersion": repr(dispersion), "alpha": repr(alpha),
                            "phi": num(phi), "lower": num(low), "upper": num(high),
                            "p_value": num(tail)})
for x, limit, alpha in levels:
    d = numpy.log(numpy.array(x) / limit)
    n = len(d)
    mean = d.mean()
    s2 = d.var(ddof=1)
    c0 = ((d - mean) ** 2).mean()
    c1 = ((d[1:] - mean) * (d[:-1] - mean)).sum() / n
    r1 = min(1.0, max(-1.0, c1 / c0)) if c0 > 0 else 0.0
    s2 = (4 * 0.1 ** 2 + (n - 1) * s2) / (4 + n - 1)
    phi = min(0.9, max(0.0, (4 * 0.5 + (n - 1) * r1) / (4 + n - 1)))
    # One window cannot tell drift from a level: spread at least the prior's, lag-one
    # correlation at least 0.8 (the noise model's strongest drift).
    s2, phi = max(s2, 0.1 ** 2), max(phi, 0.8)
    se = math.sqrt(s2 * (1 + phi) / (1 - phi) / n)
    za = norm.isf(alpha)
    out["level"].append({"x": [repr(v) for v in x], "max": repr(limit), "alpha": repr(alpha),
                         "z": num(mean / se), "lower": num(limit * math.exp(mean - za * se)),
                         "upper": num(limit * math.exp(mean + za * se))})
for k1, n1, k2, n2, alpha in newcombe:
    low, high = confint_proportions_2indep(k1, n1, k2, n2, method="newcomb", compare="diff",
                                           alpha=2 * alpha)
    out["newcombe"].append({"k1": k1, "n1": n1, "k2": k2, "n2": n2, "alpha": repr(alpha),
                            "lower": num(low), "upper": num(high)})
OUT.write_text(json.dumps(out, indent=1) + "\n")
