#!/usr/bin/env python3
"""Times `slogate judge` and scipy's mannwhitneyu as whole processes on the same JSON files.

Run through scripts/bench-judge-vs-scipy, which builds slogate and provides numpy and scipy.
"""

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

import numpy as np
import scipy

# What the peer process does: read both files as a user would (json.load, then numpy), and run
# the test slogate reproduces (R's wilcox.test with exact=FALSE, correct=TRUE).
SCIPY_PROGRAM = """
import time
start = time.perf_counter()
import json, sys
import numpy as np
from scipy.stats import mannwhitneyu
imported = time.perf_counter()
with open(sys.argv[1]) as f:
    b = np.asarray(json.load(f), dtype=float)
with open(sys.argv[2]) as f:
    c = np.asarray(json.load(f), dtype=float)
loaded = time.perf_counter()
r = mannwhitneyu(c, b, alternative="greater", method="asymptotic", use_continuity=True)
tested = time.perf_counter()
print(imported - start, loaded - imported, tested - loaded)
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


def cpu_of_children():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(argv):
    """Wall-clock and CPU (user + system, all threads) seconds of one process, and what it
    printed; exit 0 or 1 (slogate's pass and fail) count as success."""
    cpu = cpu_of_children()
    start = time.perf_counter()
    done = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    if done.returncode not in (0, 1):
        sys.exit(f"{argv[0]} failed ({done.returncode}): {done.stderr.decode()}")
    return elapsed, cpu_of_children() - cpu, done.stdout.decode()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--slogate", required=True)
    # Another build of slogate (say, before a change) timed in the same rounds.
    parser.add_argument("--compare")
    parser.add_argument("--dir", required=True)
    parser.add_argument("--rounds", type=int, default=11)
    parser.add_argument("--n", type=int, default=1_000_000)
    args = parser.parse_args()

    baseline, canary = write_samples(args.dir, args.n)
    judge = ["judge", "--baseline", baseline, "--canary", canary]
    runs = {
        "slogate judge": [args.slogate, *judge],
        "scipy mannwhitneyu": [sys.executable, "-c", SCIPY_PROGRAM, baseline, canary],
    }
    if args.compare:
        runs["slogate (compared)"] = [args.compare, *judge]
    for argv in runs.values():  # warm-up: page cache, and the first run of each binary
        timed(argv)
    wall = {name: [] for name in runs}
    cpu = {name: [] for name in runs}
    # scipy's phases, from inside its process: import, json.load + numpy, mannwhitneyu.
    phases = []
    names = list(runs)
    for r in range(args.rounds):
        for name in names if r % 2 == 0 else reversed(names):
            elapsed, used, out = timed(runs[name])
            wall[name].append(elapsed)
            cpu[name].append(used)
            if name == "scipy mannwhitneyu":
                phases.append([float(t) for t in out.split()])

    size = sum(os.path.getsize(p) for p in (baseline, canary)) / 1e6
    print(
        f"{args.n:,} values a side ({size:.0f} MB of JSON), {args.rounds} rounds, "
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end, "
        f"Python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}"
    )
    print(f"{'process':<20} {'wall min':>9} {'median':>9} {'max':>9} {'CPU median':>11}")
    for name in runs:
        ts = wall[name]
        print(
            f"{name:<20} {min(ts):>8.3f}s {statistics.median(ts):>8.3f}s {max(ts):>8.3f}s "
            f"{statistics.median(cpu[name]):>10.3f}s"
        )
    for i, phase in enumerate(["import", "json.load + numpy", "mannwhitneyu alone"]):
        ts = [p[i] for p in phases]
        print(
            f"  scipy {phase:<18} min {min(ts):.3f} s  median {statistics.median(ts):.3f} s"
        )
    ratios = [a / b for a, b in zip(wall["slogate judge"], wall["scipy mannwhitneyu"])]
    print(f"slogate / scipy wall time, per round: median {statistics.median(ratios):.2f}")
    alone = [a / p[2] for a, p in zip(wall["slogate judge"], phases)]
    print(
        "slogate's whole process / scipy's mannwhitneyu call alone, per round: "
        f"median {statistics.median(alone):.2f}"
    )


if __name__ == "__main__":
    main()
