#!/usr/bin/env python3
"""Writes the demo's Prometheus history as OpenMetrics text, for `promtool tsdb
create-blocks-from openmetrics`.

The example services of slo-definitions/ all read the same two metric families, which is what an
HTTP server instrumented the usual way exports:

  http_requests_total{service, route, code, rollouts_pod_template_hash}           counter
  http_request_duration_seconds_bucket/_sum/_count{service, route, le, rollouts_pod_template_hash}

Every series carries the version label (Argo Rollouts' pod-template hash, the `version_label` of
the canary profiles). There are no separate unversioned series: the SLO queries sum over all
versions, so extra aggregate series would count every request twice.

financeanalyst-api and financy-api tell the canary story. `stable-7d9f` serves the whole span;
for the last `--canary-minutes` two canaries serve next to it at the same traffic: `good-5c8b`
behaves like stable (same latency, 0.04% errors against 0.05%), `bad-6f1a` fails 5% of requests
and is about 1.7x slower at p95. The other services serve healthy traffic from one stable
version, so every error-budget gate has data.

Output rules promtool enforces: timestamps in seconds, each series' samples in time order, all
samples of a metric family together after its `# TYPE` line, `# EOF` last. The data must end at
least an hour before now (older than Prometheus' head block), so by default it ends 65 minutes
ago, on a whole minute.

Prints the span as shell assignments (DATA_START=..., unix seconds) for scripts/demo.
Standard library only; the same --seed and span give the same values.
"""

import argparse
import bisect
import math
import random
import sys
import time

# Classic histogram bounds: they include every SLI threshold of slo-definitions/ (500ms, 1s, 2s),
# since a classic histogram's threshold must be one of its bucket bounds.
BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0]

VERSION_LABEL = "rollouts_pod_template_hash"

STABLE, GOOD, BAD = "stable-7d9f", "good-5c8b", "bad-6f1a"


def stream(service, version, rps, routes, error_ratio, median_s, sigma, canary=False):
    """One version of one service: traffic (requests per second, split over routes by share),
    the share of 5xx answers and a log-normal latency (median in seconds, sigma of its log)."""
    return dict(service=service, version=version, rps=rps, routes=routes,
                error_ratio=error_ratio, median_s=median_s, sigma=sigma, canary=canary)


def with_canaries(service, rps, routes, error_ratio, median_s, sigma):
    """Stable plus the two canaries. The good one has the same latency and a little fewer errors
    (0.8x: the fix it ships). Exactly stable's error ratio would not do: canary profiles without
    an `allowed_increase` call a canary that is worse by any margin, however insignificant,
    inconclusive, which an equal ratio is about half the time. The bad one fails 5% of requests
    and is slower: median 1.6x and a wider tail, p95 about 1.7x stable's."""
    return [
        stream(service, STABLE, rps, routes, error_ratio, median_s, sigma),
        stream(service, GOOD, rps, routes, error_ratio * 0.8, median_s, sigma, canary=True),
        stream(service, BAD, rps, routes, 0.05, median_s * 1.6, sigma + 0.05, canary=True),
    ]


def streams(rps):
    """What the demo serves. financeanalyst-api and financy-api get the canaries: the first
    has a canary profile of Prometheus metrics only, so its gate can pass; financy-api's also
    judges a trace metric, which stays without a verdict (inconclusive) until slogate receives
    spans. Stable error ratios stay well under each objective's budget (0.05% against the 0.1%
    a 99.9% objective allows), so the error-budget gates pass until the bad canary arrives."""
    return [
        *with_canaries("financeanalyst-api", rps,
                       {"/api/v1/reports": 0.3, "/api/v1/portfolio": 0.3, "/api/v1/market": 0.4},
                       0.0005, 0.120, 0.50),
        *with_canaries("financy-api", rps,
                       {"/api/v1/transactions": 0.6, "/api/v1/payments": 0.4},
                       0.0005, 0.080, 0.50),
        stream("finbot-api", "stable-9b2c", 3,
               {"/api/v1/chat": 0.8, "/api/v1/history": 0.2}, 0.002, 0.900, 0.40),
        stream("mita-backend", "stable-4e8d", 10,
               {"/api/v1/budgets": 0.5, "/api/v1/expenses": 0.5}, 0.0003, 0.090, 0.60),
        stream("reconciliation-backend", "stable-2f6a", 2,
               {"/api/v1/reconcile": 0.7, "/api/v1/statements": 0.3}, 0.003, 0.250, 0.50),
    ]


# finbot's history route answers from a cache, not the language model: much faster than chat.
ROUTE_MEDIAN_S = {("finbot-api", "/api/v1/history"): 0.060}

CLIENT_ERROR_RATIO = 0.01  # 404s: answered, not server errors; they count in the total only


def poisson(rng, mean):
    """A Poisson draw (the standard library has none): Knuth's method for small means, the
    normal approximation above (means here are tens to hundreds)."""
    if mean < 30:
        limit, k, p = math.exp(-mean), 0, 1.0
        while True:
            p *= rng.random()
            if p <= limit:
                return k
            k += 1
    return max(0, round(rng.gauss(mean, math.sqrt(mean))))


def simulate(streams, start, end, step, canary_start, seed):
    """Cumulative counters per series, one point per step: {family: {labels: [(ts, value)]}}."""
    rng = random.Random(seed)
    counters = {}   # labels -> list of (ts, value)
    histograms = {}  # labels (without le) -> {"buckets": [...], "sum": [...], "count": [...]}
    for s in streams:
        first = canary_start if s["canary"] else start
        for route, share in s["routes"].items():
            median = ROUTE_MEDIAN_S.get((s["service"], route), s["median_s"])
            mu = math.log(median)
            base = (("service", s["service"]), ("route", route), (VERSION_LABEL, s["version"]))
            codes = {"200": 0, "404": 0, "500": 0, "503": 0}
            code_points = {c: [] for c in codes}
            buckets = [0] * (len(BUCKETS) + 1)  # last: +Inf
            total_s, count = 0.0, 0
            owed_errors = 0.0  # fraction of an error carried to the next step
            h = histograms[base] = {"buckets": [[] for _ in buckets], "sum": [], "count": []}
            for ts in range(first, end + 1, step):
                if ts > first:
                    # A slow daily swing (+-10% over 6 h) so the traffic is not flat.
                    swing = 1 + 0.1 * math.sin(2 * math.pi * ts / 21600)
                    n = poisson(rng, s["rps"] * share * step * swing)
                    # Traffic and latency are random, the number of 5xx is not: exactly the
                    # error ratio of the requests, carried over between steps. Random errors
                    # would leave the good canary behind stable's ratio in some runs, and the
                    # demo's verdicts would change from run to run.
                    owed_errors += n * s["error_ratio"]
                    errors = int(owed_errors)
                    owed_errors -= errors
                    for i in range(n):
                        if i < errors:
                            code = "500" if rng.random() < 0.7 else "503"
                        elif rng.random() < CLIENT_ERROR_RATIO:
                            code = "404"
                        else:
                            code = "200"
                        codes[code] += 1
                        latency = rng.lognormvariate(mu, s["sigma"])
                        buckets[bisect.bisect_left(BUCKETS, latency)] += 1
                        total_s += latency
                        count += 1
                for c, v in codes.items():
                    code_points[c].append((ts, v))
                cumulative = 0
                for i, b in enumerate(buckets):
                    cumulative += b
                    h["buckets"][i].append((ts, cumulative))
                h["sum"].append((ts, total_s))
                h["count"].append((ts, count))
            for c, points in code_points.items():
                counters[base + (("code", c),)] = points
    return counters, histograms


def labels_text(labels):
    return "{" + ",".join(f'{k}="{v}"' for k, v in labels) + "}"


def write(out, counters, histograms):
    """One family after the other, each series' samples in time order."""
    lines = 0
    out.write("# TYPE http_requests counter\n")
    out.write("# HELP http_requests HTTP requests answered, by route and status code.\n")
    for labels, points in counters.items():
        text = labels_text(labels)
        for ts, v in points:
            out.write(f"http_requests_total{text} {v} {ts}\n")
        lines += len(points)
    out.write("# TYPE http_request_duration_seconds histogram\n")
    out.write("# HELP http_request_duration_seconds HTTP request latency.\n")
    bounds = [repr(b) for b in BUCKETS] + ["+Inf"]  # 0.5, 1.0: OpenMetrics' canonical form
    name = "http_request_duration_seconds"
    for labels, h in histograms.items():
        for le, points in zip(bounds, h["buckets"]):
            text = labels_text(labels + (("le", le),))
            for ts, v in points:
                out.write(f"{name}_bucket{text} {v} {ts}\n")
            lines += len(points)
        text = labels_text(labels)
        for ts, v in h["sum"]:
            out.write(f"{name}_sum{text} {v:.6f} {ts}\n")
        for ts, v in h["count"]:
            out.write(f"{name}_count{text} {v} {ts}\n")
        lines += 2 * len(h["sum"])
    out.write("# EOF\n")
    return lines


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, help="OpenMetrics file to write")
    p.add_argument("--end", type=int,
                   help="last sample, unix seconds (default: 65 minutes ago, on a whole minute)")
    p.add_argument("--hours", type=float, default=3.0, help="span of the data (default 3)")
    p.add_argument("--step", type=int, default=15,
                   help="seconds between samples, a scrape interval (default 15: the canary's "
                        "p95 query takes rate(...[1m]), which needs several samples a minute)")
    p.add_argument("--canary-minutes", type=int, default=45,
                   help="the canaries serve for the last N minutes (default 45)")
    p.add_argument("--rps", type=float, default=20.0,
                   help="requests per second of each version of the canary services (default 20)")
    p.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    args = p.parse_args()
    if args.step <= 0 or 60 % args.step:
        p.error("--step must divide 60")
    if args.canary_minutes * 60 >= args.hours * 3600:
        p.error("--canary-minutes must be shorter than the span")
    return args


def main():
    args = parse_args()
    end = args.end if args.end is not None else (int(time.time()) - 65 * 60) // 60 * 60
    end -= end % args.step
    start = end - int(args.hours * 3600) // args.step * args.step
    canary_start = end - args.canary_minutes * 60
    if end > time.time() - 3600:
        print("warning: data newer than an hour may be refused by promtool", file=sys.stderr)
    counters, histograms = simulate(streams(args.rps), start, end, args.step, canary_start,
                                    args.seed)
    with open(args.out, "w", encoding="utf-8") as out:
        samples = write(out, counters, histograms)
    series = len(counters) + sum(len(h["buckets"]) + 2 for h in histograms.values())
    print(f"demo_data: {series} series, {samples} samples, "
          f"{time.strftime('%H:%M', time.gmtime(start))}-{time.strftime('%H:%M', time.gmtime(end))}"
          " UTC", file=sys.stderr)
    print(f"DATA_START={start}\nDATA_END={end}\nCANARY_START={canary_start}")


if __name__ == "__main__":
    main()
