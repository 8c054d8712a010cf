#!/usr/bin/env python3
"""torch_encoder_run.py - PyTorch's side of bench/encoder-profile: the suite's encoder (same seeded
weights as its ONNX export, bench/suite_models.py) on the GPU with SDPA attention, on the inputs
the suite's PyTorch encoder rows use (suite_models.encoder_inputs), run WARMUP + RUNS times.

    torch_encoder_run.py MODEL DTYPE [--batch 128] [--seq 128] [--runs 50] [--warmup 5]

MODEL is bert-base or distilbert, DTYPE fp32 or fp16. Prints the p50 of the runs, and the versions
of torch and of the CUDA libraries its wheels bring (cuBLAS above all: PyTorch's GEMMs are its
own copy of cuBLAS, not the toolkit's that onyx links). Under Nsight Compute, two calls that differ
by one run give the kernels of one steady run (bench/ncu_summary.py), as for onyx.
"""
import argparse
import importlib.metadata
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import suite_models as SM  # noqa: E402


def library_versions():
    out = []
    for d in importlib.metadata.distributions():
        name = d.metadata.get("Name") or ""
        if name.lower().startswith(("nvidia-cublas", "nvidia-cuda-runtime", "nvidia-cudnn")):
            out.append(f"{name} {d.version}")
    return sorted(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", choices=SM.ENCODER_MODELS)
    ap.add_argument("dtype", choices=("fp32", "fp16"))
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--warmup", type=int, default=5)
    a = ap.parse_args()
    import torch
    model = SM.build_model(a.model)
    if a.dtype == "fp16":
        model = model.half()
    model.set_attn_implementation("sdpa")
    model = model.to("cuda")
    kw = SM.encoder_inputs(torch, a.model, a.batch, a.seq)
    times = []
    with torch.no_grad():
        for i in range(a.warmup + a.runs):
            torch.cuda.synchronize()
            t0 = time.perf_counter()
            model(**kw)
            torch.cuda.synchronize()
            if i >= a.warmup:
                times.append((time.perf_counter() - t0) * 1e3)
    times.sort()
    p50 = times[len(times) // 2] if times else float("nan")
    print(f"torch {torch.__version__} (CUDA {torch.version.cuda}); {', '.join(library_versions()) or 'no nvidia wheels'}")
    print(f"torch {a.model} {a.dtype}, batch {a.batch}, sequence {a.seq}, attention "
          f"{model.config._attn_implementation}: p50 {p50:.3f} ms of {len(times)} runs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
