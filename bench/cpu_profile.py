#!/usr/bin/env python3
"""Where the cpu provider's time goes beside ONNX Runtime's, by op type and thread count.

    cpu_profile.py ONYX_BINARY MODEL.onnx [--threads 1,16] [--dim NAME=VALUE ...] [--runs 20]

For each thread count: onyx's p50 (`onyx bench --provider cpu`) and its time per op type
(`--profile`), then, when Python's onnxruntime is installed, ONNX Runtime's p50 on the same file
and inputs (intra-op threads as onyx's, inter-op 1, ORT_ENABLE_ALL) and its time per op type from
its own profiler (the Node events' kernel times). The op names differ where the two fuse
differently (onyx's MatMulBias is ORT's MatMul + Add, or FusedMatMul / Attention after its
fusions). Where `onyx --version` suggests an OPENBLAS_CORETYPE and none is set, onyx runs with it.
"""
import argparse
import collections
import json
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def onyx_part(onyx, model, threads, dims, runs):
    base = [onyx, "bench", model, "--provider", "cpu", "--threads", str(threads), "--runs", str(runs),
            "--warmup", "3", "--max-id", "1000"]
    for k, v in dims.items():
        base += ["--dim", f"{k}={v}"]
    line = subprocess.run(base + ["--csv"], check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
    p50 = float(line.split(",")[5])
    prof = subprocess.run(base + ["--profile"], check=True, capture_output=True, text=True).stdout
    ops = []
    for ln in prof.splitlines():
        m = re.match(r"\s+(\S+) \(cpu\)\s+(\d+) nodes\s+([\d.]+) calls/run\s+([\d.]+) ms", ln)
        if m:
            ops.append((m.group(1), float(m.group(4))))
    return p50, ops


def ort_part(model, threads, dims, runs):
    try:
        import onnxruntime  # noqa: F401  (only whether it is there)
    except ImportError:
        return None, []
    import generation_bench as G
    with tempfile.TemporaryDirectory() as d:
        sess = G.ort_session(model, threads)
        feeds = G.ort_feeds(sess, dims)
        times = sorted(G.ort_time(sess, feeds, runs, warmup=3))
        p50 = times[len(times) // 2]
        so = G.ort_session_options(threads)
        so.enable_profiling = True
        so.profile_file_prefix = os.path.join(d, "ort")
        sess = G.ort_session(model, threads, so)
        for _ in range(3):
            sess.run(None, feeds)
        path = sess.end_profiling()
        with open(path) as f:
            events = json.load(f)
    per_op = collections.defaultdict(float)
    for e in events:
        if e.get("cat") == "Node" and e.get("name", "").endswith("_kernel_time"):
            per_op[e.get("args", {}).get("op_name", "?")] += e.get("dur", 0) / 1e3 / 3  # us -> ms, per run
    return p50, sorted(per_op.items(), key=lambda kv: -kv[1])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("onyx")
    p.add_argument("model")
    p.add_argument("--threads", default=f"1,{os.cpu_count()}")
    p.add_argument("--dim", action="append", default=[], help="NAME=VALUE (default batch_size=1, sequence_length=128)")
    p.add_argument("--runs", type=int, default=20)
    a = p.parse_args(argv)
    dims = {"batch_size": 1, "sequence_length": 128}
    for d in a.dim:
        k, _, v = d.partition("=")
        dims[k] = int(v)
    import generation_bench as G
    G.apply_blas_core_hint(G._run_text([a.onyx, "--version"]))
    print(f"{a.model}, dims {dims}, OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}")
    for t in [int(x) for x in a.threads.split(",") if x]:
        onyx_p50, onyx_ops = onyx_part(a.onyx, a.model, t, dims, a.runs)
        ort_p50, ort_ops = ort_part(a.model, t, dims, a.runs)
        ort_text = f"{ort_p50:.2f} ms" if ort_p50 is not None else "not installed"
        print(f"\n== {t} threads: onyx p50 {onyx_p50:.2f} ms, ONNX Runtime p50 {ort_text}")
        print(f"  {'onyx op type':28s} {'ms/run':>8s}   {'ORT op type':28s} {'ms/run':>8s}")
        for i in range(max(len(onyx_ops), len(ort_ops))):
            left = f"{onyx_ops[i][0]:28s} {onyx_ops[i][1]:8.3f}" if i < len(onyx_ops) else " " * 37
            right = f"{ort_ops[i][0]:28s} {ort_ops[i][1]:8.3f}" if i < len(ort_ops) else ""
            print(f"  {left}   {right}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
