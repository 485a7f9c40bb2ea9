#!/usr/bin/env python3
"""Times `slogate judge` and scipy's mannwhitneyu as whole processes on the same JSON files.

Run through scripts/bench-judge-vs-scipy, which builds slogate and provides numpy and scipy.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

import numpy as np
import scipy

# What the peer process does: read both files as a user would (json.load, then numpy), and run
# the test slogate reproduces (R's wilcox.test with exact=FALSE, correct=TRUE).
SCIPY_PROGRAM = """
import json, sys
import numpy as np
from scipy.stats import mannwhitneyu
with open(sys.argv[1]) as f:
    b = np.asarray(json.load(f), dtype=float)
with open(sys.argv[2]) as f:
    c = np.asarray(json.load(f), dtype=float)
r = mannwhitneyu(c, b, alternative="greater", method="asymptotic", use_continuity=True)
print(r.statistic, r.pvalue)
"""


def write_samples(directory, n):
    """Seeded log-normal latencies around 200 ms, the canary 20% slower; JSON arrays as Python
    writes them (shortest round-trip digits). Rewritten only when missing or of another size."""
    os.makedirs(directory, exist_ok=True)
    paths = (os.path.join(directory, "baseline.json"), os.path.join(directory, "canary.json"))
    stamp = os.path.join(directory, "n")
    if all(os.path.exists(p) for p in paths) and os.path.exists(stamp):
        with open(stamp) as f:
            if f.read().strip() == str(n):
                return paths
    rng = np.random.default_rng(15)
    baseline = 0.2 * rng.lognormal(0.0, 0.5, n)
    canary = 1.2 * 0.2 * rng.lognormal(0.0, 0.5, n)
    for path, values in zip(paths, (baseline, canary)):
        with open(path, "w") as f:
            json.dump(values.tolist(), f)
    with open(stamp, "w") as f:
        f.write(str(n))
    return paths


def timed(argv):
    """Wall-clock seconds of one process; exit 0 or 1 (slogate's pass/fail) count as success."""
    start = time.perf_counter()
    done = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    if done.returncode not in (0, 1):
        sys.exit(f"{argv[0]} failed ({done.returncode}): {done.stderr.decode()}")
    return elapsed


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--slogate", required=True)
    parser.add_argument("--dir", required=True)
    parser.add_argument("--rounds", type=int, default=11)
    parser.add_argument("--n", type=int, default=1_000_000)
    args = parser.parse_args()

    baseline, canary = write_samples(args.dir, args.n)
    runs = {
        "slogate judge": [args.slogate, "judge", "--baseline", baseline, "--canary", canary],
        "scipy mannwhitneyu": [sys.executable, "-c", SCIPY_PROGRAM, baseline, canary],
    }
    for argv in runs.values():  # warm-up: page cache, and the first run of each binary
        timed(argv)
    times = {name: [] for name in runs}
    names = list(runs)
    for r in range(args.rounds):
        for name in names if r % 2 == 0 else reversed(names):
            times[name].append(timed(runs[name]))

    size = sum(os.path.getsize(p) for p in (baseline, canary)) / 1e6
    print(
        f"{args.n:,} values a side ({size:.0f} MB of JSON), {args.rounds} rounds, "
        f"{os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}, "
        f"numpy {np.__version__}, scipy {scipy.__version__}"
    )
    for name, ts in times.items():
        print(
            f"{name:<20} min {min(ts):.3f} s  median {statistics.median(ts):.3f} s  "
            f"max {max(ts):.3f} s"
        )
    ratios = [a / b for a, b in zip(*times.values())]
    print(f"slogate / scipy, per round: median {statistics.median(ratios):.2f}")


if __name__ == "__main__":
    main()
