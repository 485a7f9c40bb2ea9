#!/usr/bin/env python3
"""Checks that two builds of `slogate judge` give the same verdicts, bit for bit.

    target/bench-venv/bin/python scripts/judge_compare_builds.py OLD_SLOGATE NEW_SLOGATE

(target/bench-venv is made by scripts/bench-judge-vs-scipy.) Seeded samples of several kinds
(continuous, heavily tied integers, the exact small-sample path, signed zeros, equal
distributions at 1M a side, constant samples, Kayenta's spiky canary), each judged with three
settings. The reference is OLD reading the samples one number a line, which every build parses
exactly (Rust's float parser); NEW must give the same verdict from the same numbers written as
one number a line and as a JSON array. (Before the JSON reader parsed numbers itself, release
builds rounded some JSON numbers one unit in the last place off, so OLD's own JSON verdicts can
differ in the last digits; the test builds always parsed them exactly.) Verdict ids and times
are left out of the comparison.
"""

import json
import os
import subprocess
import sys
import tempfile

import numpy as np


def cases():
    rng = np.random.default_rng(7)
    return {
        "log-normal, 100k a side": (
            0.2 * rng.lognormal(0, 0.5, 100_000),
            0.21 * rng.lognormal(0, 0.5, 100_000),
        ),
        "integers with heavy ties, 300k a side": (
            np.floor(rng.gamma(2, 50, 300_000)),
            np.floor(rng.gamma(2, 52, 300_000)),
        ),
        "exact p-value, 30 vs 30": (rng.normal(0, 1, 30), rng.normal(0.5, 1, 30)),
        "ties, 40 vs 45": (np.round(rng.normal(0, 1, 40), 1), np.round(rng.normal(0.2, 1, 45), 1)),
        "signed zeros": (
            np.array([-0.0, 0.0, 1.0, -1.0, 2.0, 0.0, -0.0, 3.0, -2.5, 0.5, 0.0]),
            np.array([0.0, -0.0, -1.0, 1.0, 0.0, 2.0, -3.0, 0.25, 0.0, -0.0, 1.5]),
        ),
        "equal distributions, 1M a side": (
            rng.normal(10, 1, 1_000_000),
            rng.normal(10, 1, 1_000_000),
        ),
        "constant": (np.full(50, 3.0), np.full(50, 3.0)),
        "Kayenta's spiky canary": (np.ones(10), np.array([100.0] * 7 + [1.0] * 3)),
    }


SETTINGS = [
    None,
    "effect: median\ndirection: either\nmin_samples: 5\n",
    "confidence: 0.9\nmin_samples: 5\n",
]


def verdict(exe, args, cwd):
    done = subprocess.run([exe, *args], capture_output=True, cwd=cwd)
    if not done.stdout:
        return done.returncode, done.stderr.decode()
    v = json.loads(done.stdout)
    return done.returncode, {k: v[k] for k in v if k not in ("id", "window", "evaluated_at")}


def main():
    old, new = (os.path.abspath(p) for p in sys.argv[1:3])
    compared = differing = 0
    with tempfile.TemporaryDirectory() as d:
        for name, (b, c) in cases().items():
            for side, values in (("b", b), ("c", c)):
                with open(os.path.join(d, f"{side}.lines"), "w") as f:
                    f.write("\n".join(repr(float(v)) for v in values))
                with open(os.path.join(d, f"{side}.json"), "w") as f:
                    json.dump(values.tolist(), f)
            for setting in SETTINGS:
                args = ["judge"]
                if setting:
                    with open(os.path.join(d, "settings.yaml"), "w") as f:
                        f.write(setting)
                    args += ["--config", "settings.yaml"]
                files = lambda fmt: ["--baseline", f"b.{fmt}", "--canary", f"c.{fmt}"]
                reference = verdict(old, args + files("lines"), d)
                for fmt in ("lines", "json"):
                    compared += 1
                    got = verdict(new, args + files(fmt), d)
                    if got != reference:
                        differing += 1
                        print(f"DIFFERENT: {name}, {fmt}, {setting!r}\n  {reference}\n  {got}")
    print(f"{compared} verdicts compared, {differing} different")
    sys.exit(1 if differing else 0)


if __name__ == "__main__":
    main()
