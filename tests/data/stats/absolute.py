"""Reference values for the absolute criteria of canary metrics (tests/absolute_reference.rs).

Run from the crate root with scipy and statsmodels installed (a venv is enough):
    python3 -m venv target/pyenv-stats
    target/pyenv-stats/bin/pip install scipy statsmodels
    target/pyenv-stats/bin/python tests/data/stats/absolute.py
Writes tests/data/stats/absolute_reference.json (produced with scipy 1.17.1, statsmodels
0.15.0):
- binomial: scipy.stats.binomtest(k, n, p, alternative="greater").pvalue, the exact
  one-sided test behind `max_rate` (and, at p = 1/2, the sign test behind `max`);
- clopper_pearson: binomtest(k, n, alternative="greater").proportion_ci(1 - alpha, "exact")
  for the lower bound and alternative="less" for the upper one, each one-sided at alpha;
- median: scipy.stats.quantile_test(x, q, p=0.5, alternative="greater"): its p-value and its
  confidence_interval(1 - alpha) lower end, and alternative="less" for the upper end
  (order statistics; an end the sample cannot reach is -inf/inf, written as null);
- newcombe: statsmodels confint_proportions_2indep(k1, n1, k2, n2, method="newcomb",
  compare="diff", alpha=2 * alpha): the two-sided interval at 1 - 2 alpha, whose ends are
  the one-sided bounds at alpha.
Numbers are written with repr (the shortest string that reads back as the same double).
"""

import json
import math
import pathlib

from scipy.stats import binomtest, quantile_test
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
medians = [
    ([0.61, 0.58, 0.7, 0.66, 0.49, 0.63, 0.64, 0.59, 0.72, 0.6], 0.5, 0.01),
    ([0.61, 0.58, 0.7, 0.66, 0.51, 0.63, 0.64, 0.59, 0.72, 0.6], 0.5, 0.01),
    ([0.21, 0.28, 0.3, 0.26, 0.19, 0.23, 0.24, 0.29, 0.22, 0.25], 0.5, 0.01),
    ([0.6, 0.7, 0.8, 0.9, 1.0], 0.5, 0.01),
    ([0.6, 0.7, 0.8, 0.9, 1.0], 0.5, 0.05),
    ([0.5, 0.5, 0.5, 0.6, 0.6, 0.6, 0.6, 0.6], 0.5, 0.01),
    ([float(i) / 4 for i in range(1, 31)], 3.0, 0.001),
]
newcombe = [
    (30, 2000, 10, 2000, 0.01), (12, 12000, 12, 12000, 0.01), (0, 500, 0, 500, 0.01),
    (50, 1000, 20, 1000, 0.005), (7, 300, 1, 400, 0.0001), (260, 12000, 12, 12000, 0.01),
]

out = {"binomial": [], "clopper_pearson": [], "median": [], "newcombe": []}
for k, n, p in binomial:
    out["binomial"].append({"k": k, "n": n, "p": repr(p),
                            "p_value": num(binomtest(k, n, p, alternative="greater").pvalue)})
for k, n, alpha in clopper:
    low = binomtest(k, n, alternative="greater").proportion_ci(1 - alpha, "exact").low
    high = binomtest(k, n, alternative="less").proportion_ci(1 - alpha, "exact").high
    out["clopper_pearson"].append({"k": k, "n": n, "alpha": repr(alpha),
                                   "lower": num(low), "upper": num(high)})
for x, q, alpha in medians:
    greater = quantile_test(x, q=q, p=0.5, alternative="greater")
    less = quantile_test(x, q=q, p=0.5, alternative="less")
    out["median"].append({
        "x": [repr(v) for v in x], "q": repr(q), "alpha": repr(alpha),
        "p_value": num(greater.pvalue),
        "lower": num(greater.confidence_interval(1 - alpha).low),
        "upper": num(less.confidence_interval(1 - alpha).high),
    })
for k1, n1, k2, n2, alpha in newcombe:
    low, high = confint_proportions_2indep(k1, n1, k2, n2, method="newcomb", compare="diff",
                                           alpha=2 * alpha)
    out["newcombe"].append({"k1": k1, "n1": n1, "k2": k2, "n2": n2, "alpha": repr(alpha),
                            "lower": num(low), "upper": num(high)})
OUT.write_text(json.dumps(out, indent=1) + "\n")
