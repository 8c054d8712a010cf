#!/usr/bin/env python3
"""Sum Nsight Compute's per-kernel GPU time (`ncu --csv --metrics gpu__time_duration.sum`) by kernel name.

    ncu_summary.py RUN.csv [BASE.csv]

With BASE, a profile of the same program doing one run fewer, the sums are RUN minus BASE: the
kernels of exactly one steady-state run, without the warm-up runs' tuning and uploads.
"""
import collections
import csv
import sys


def kernels(path):
    with open(path, errors="replace") as f:
        lines = [ln for ln in f if ln.startswith('"')]
    t, n = collections.defaultdict(float), collections.Counter()
    for r in csv.DictReader(lines):
        if r.get("Metric Name") != "gpu__time_duration.sum":
            continue
        v = float(r["Metric Value"].replace(",", ""))
        scale = {"nsecond": 1e-3, "usecond": 1.0, "msecond": 1e3, "second": 1e6}.get(r.get("Metric Unit", "nsecond"), 1e-3)
        k = r["Kernel Name"][:150]
        t[k] += v * scale
        n[k] += 1
    return t, n


def main(argv):
    if len(argv) not in (2, 3):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    t, n = kernels(argv[1])
    what = "kernels profiled"
    if len(argv) == 3:
        bt, bn = kernels(argv[2])
        for k in list(t):
            t[k] -= bt.get(k, 0.0)
            n[k] -= bn.get(k, 0)
        what = "kernels in one run (difference of two profiles)"
    keep = [k for k in t if n[k] > 0]
    total = sum(t[k] for k in keep)
    count = sum(n[k] for k in keep)
    print(f"ncu: {count} {what}, {total:.1f} us of GPU time ({total / max(count, 1):.2f} us per kernel)")
    for k in sorted(keep, key=lambda k: -t[k])[:30]:
        print(f"  {t[k]:9.1f} us {100 * t[k] / max(total, 1e-9):5.1f}% {n[k]:5d} x  {k}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
