"""scipy reference values for tests/stats_reference.rs.

Run from the crate root after reference.R (it reads the cases R wrote):
    python3 tests/data/stats/reference.py
Writes tests/data/stats/scipy_reference.json:
- rank cases: scipy.stats.mannwhitneyu(x, y, alternative, method="asymptotic",
  use_continuity=True), the normal approximation with tie-corrected variance and continuity
  correction (an independent check of the p-values where slogate, like R, does not use the
  exact distribution);
- proportion cases: scipy.stats.contingency.relative_risk and its Katz interval at 95% and 98%.
Numbers are read from and written as strings (repr: the shortest string that converts back
to the same double), as reference.R writes them, so no JSON reader can round them; NaN and
infinite values are written as null.
"""

import json
import math
import pathlib

import numpy
import scipy
from scipy.stats import mannwhitneyu
from scipy.stats.contingency import relative_risk

DIR = pathlib.Path("tests/data/stats")


def expand(spec):
    """The same generator as reference.R and the Rust test (IEEE products, sums and floor)."""
    if isinstance(spec, list):
        return [float(v) for v in spec]
    g = {k: (v if isinstance(v, bool) else float(v)) for k, v in spec["gen"].items()}
    out = []
    for i in range(1, int(g["n"]) + 1):
        t = float(i) * g["alpha"]
        u = t - math.floor(t)
        v = u if g["power"] == 1 else (u * u if g["power"] == 2 else (u * u) * u)
        v = g["offset"] + g["scale"] * v
        out.append(float(math.floor(v)) if g["floor"] else v)
    return out


def num(v):
    v = float(v)
    return repr(v) if math.isfinite(v) else None


def rank_case(case):
    x, y = expand(case["x"]), expand(case["y"])
    out = {"name": case["name"]}
    for key, alt in [("two_sided", "two-sided"), ("less", "less"), ("greater", "greater")]:
        r = mannwhitneyu(x, y, alternative=alt, method="asymptotic", use_continuity=True)
        out[key] = {"u": num(r.statistic), "p": num(r.pvalue)}
    return out


def proportion_case(case):
    x1, n1, x2, n2 = (int(float(case[k])) for k in ("x1", "n1", "x2", "n2"))
    rr = relative_risk(x1, n1, x2, n2)
    out = {"name": case["name"], "ratio": num(rr.relative_risk)}
    for level in (0.95, 0.98):
        ci = rr.confidence_interval(confidence_level=level)
        bounds = [num(ci.low), num(ci.high)]
        out[str(level)] = None if None in bounds else bounds
    return out


def main():
    cases = json.loads((DIR / "r_reference.json").read_text())
    out = {
        "scipy_version": scipy.__version__,
        "numpy_version": numpy.__version__,
        "rank_sum": [rank_case(c) for c in cases["wilcox"]],
        "relative_risk": [proportion_case(c) for c in cases["proportions"]],
    }
    text = json.dumps(out, indent=1, allow_nan=False)
    (DIR / "scipy_reference.json").write_text(text + "\n")
    print(f"wrote {len(out['rank_sum'])} rank cases and {len(out['relative_risk'])} ratio cases")


if __name__ == "__main__":
    main()
