"""gpu_bench.py - full-size BERT-base and GPT2 (124M) with random weights, exported in Optimum's
layout on the GPU machine, timed on onyx's cuda provider (`onyx bench`, IOBinding) beside PyTorch
eager on the same GPU and in the same run. Prints a Markdown table and writes results.csv.

    python3 bench/gpu_bench.py ONYX_BINARY OUT_DIR

Encoders: BERT-base at batch 1, 8, 32 and sequence 128 (last_hidden_state). GPT2: one prefill of
128 tokens (batch 1 and 8), and one decode step on a past of 128 (batch 1 and 8). PyTorch runs
fp32 without TF32, like onyx. Times are medians of CUDA-synchronised runs after warm-up.
"""
import csv
import os
import subprocess
import sys
import time

import numpy as np
import torch
import transformers
from transformers import BertConfig, BertModel, GPT2Config, GPT2LMHeadModel

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools", "fixtures"))
import hf_fixtures as F  # noqa: E402  (the fixture generator's Optimum-layout export)

onyx, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
dev = "cuda"
rows = []


def torch_ms(fn, warm=10, runs=50):
    with torch.no_grad():
        for _ in range(warm):
            fn()
        torch.cuda.synchronize()
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            fn()
            torch.cuda.synchronize()
            times.append((time.perf_counter() - t0) * 1e3)
    return float(np.median(times))


def onyx_ms(model_path, dims, runs=50):
    args = [onyx, "bench", model_path, "--provider", "cuda", "--csv", "--runs", str(runs), "--warmup", "10",
            "--max-id", "1000"]
    for k, v in dims.items():
        args += ["--dim", f"{k}={v}"]
    r = subprocess.run(args, capture_output=True, text=True)
    if r.returncode != 0:
        print("onyx bench failed:", " ".join(args), r.stderr.strip()[-800:], flush=True)
        return None, None
    f = r.stdout.strip().split(",")
    return float(f[5]), int(f[10])  # p50 ms, peak device bytes


def record(model, case, batch, t_torch, t_onyx, peak):
    saving = None if t_onyx is None else 100.0 * (t_torch - t_onyx) / t_torch
    rows.append(dict(model=model, case=case, batch=batch, torch_eager_ms=round(t_torch, 3),
                     onyx_cuda_ms=None if t_onyx is None else round(t_onyx, 3),
                     saving_pct=None if saving is None else round(saving, 1),
                     onyx_peak_mib=None if peak is None else round(peak / 1048576, 1)))
    print(rows[-1], flush=True)


# ---- BERT-base (feature extraction) ----
torch.manual_seed(0)
bert = BertModel(BertConfig(), add_pooling_layer=False).eval()
spec = F.encoder_spec(bert, ["input_ids", "attention_mask", "token_type_ids"], [("last_hidden_state", F.ENC_AXES)])
bert_dir = os.path.join(out, "bert-base")
os.makedirs(bert_dir, exist_ok=True)
example = {"input_ids": np.random.randint(0, 1000, (2, 16)).astype(np.int64),
           "attention_mask": np.ones((2, 16), np.int64), "token_type_ids": np.zeros((2, 16), np.int64)}
F.use_eager_attention(bert)
F.export(spec, example, os.path.join(bert_dir, "model.onnx"), "torchscript", 17)
bert.set_attn_implementation("sdpa") if hasattr(bert, "set_attn_implementation") else None
bert = bert.to(dev)
for batch in (1, 8, 32):
    seq = 128
    ids = torch.randint(0, 1000, (batch, seq), device=dev)
    mask = torch.ones_like(ids)
    tt = torch.zeros_like(ids)
    t = torch_ms(lambda: bert(input_ids=ids, attention_mask=mask, token_type_ids=tt))
    o, peak = onyx_ms(os.path.join(bert_dir, "model.onnx"), {"batch_size": batch, "sequence_length": seq})
    record("bert-base", "encoder seq 128", batch, t, o, peak)
del bert
torch.cuda.empty_cache()

# ---- GPT2 124M (model.onnx with past, Optimum's current layout) ----
torch.manual_seed(0)
gpt2 = F.use_eager_attention(GPT2LMHeadModel(GPT2Config()).eval())
gspec = F.gpt2_spec(gpt2, "model.onnx", with_past=True, legacy=False)
gdir = os.path.join(out, "gpt2")
os.makedirs(gdir, exist_ok=True)
L, H, D = 12, 12, 64
past = 4
ex = {"input_ids": np.random.randint(0, 1000, (2, 3)).astype(np.int64),
      "attention_mask": np.ones((2, past + 3), np.int64),
      "position_ids": np.tile(np.arange(past, past + 3), (2, 1)).astype(np.int64)}
for i in range(L):
    for kv in ("key", "value"):
        ex[f"past_key_values.{i}.{kv}"] = np.random.standard_normal((2, H, past, D)).astype(np.float32)
F.export(gspec, ex, os.path.join(gdir, "model.onnx"), "torchscript", 17)
if hasattr(gpt2, "set_attn_implementation"):
    gpt2.set_attn_implementation("sdpa")
gpt2 = gpt2.to(dev)
for batch in (1, 8):
    seq = 128
    ids = torch.randint(0, 1000, (batch, seq), device=dev)
    t = torch_ms(lambda: gpt2(input_ids=ids, use_cache=True))
    o, peak = onyx_ms(os.path.join(gdir, "model.onnx"), {"batch_size": batch, "sequence_length": seq,
                                                          "past_sequence_length": 0})
    record("gpt2", "prefill 128 tokens", batch, t, o, peak)
    with torch.no_grad():
        cache = gpt2(input_ids=ids, use_cache=True).past_key_values
    nxt = torch.randint(0, 1000, (batch, 1), device=dev)
    mask = torch.ones((batch, seq + 1), dtype=torch.int64, device=dev)

    def step():
        # A decode step reads the 128-token cache and appends one; crop it back so every timed
        # step sees the same past length, as onyx's runs do.
        gpt2(input_ids=nxt, attention_mask=mask, past_key_values=cache, use_cache=True)
        cache.crop(seq)
    t = torch_ms(step)
    o, peak = onyx_ms(os.path.join(gdir, "model.onnx"), {"batch_size": batch, "sequence_length": 1,
                                                          "past_sequence_length": seq})
    record("gpt2", "decode step, past 128", batch, t, o, peak)

with open(os.path.join(out, "results.csv"), "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
    w.writeheader()
    w.writerows(rows)
gpu = torch.cuda.get_device_name(0)
print(f"\n{time.strftime('%Y-%m-%d')}, {gpu}, torch {torch.__version__}, transformers {transformers.__version__}\n")
print("| model | case | batch | PyTorch eager fp32 (ms) | onyx cuda fp32 (ms) | time saved | onyx peak device MiB |")
print("|---|---|---:|---:|---:|---:|---:|")
for r in rows:
    print(f"| {r['model']} | {r['case']} | {r['batch']} | {r['torch_eager_ms']} | {r['onyx_cuda_ms']} | "
          f"{r['saving_pct']}% | {r['onyx_peak_mib']} |")
