"""report.py - tables and charts from a benchmark-suite folder (bench/suite, bench/generation_bench.py).

    python3 bench/report.py OUT_DIR                 # OUT_DIR/results.md and OUT_DIR/charts/*.png
    python3 bench/report.py OUT_DIR --docs          # also docs/benchmarks.md and docs/benchmarks/*.png
    python3 bench/report.py OUT_DIR --docs-md PATH  # the docs page elsewhere (its charts in PATH's stem folder)

Reads OUT_DIR/results.csv, OUT_DIR/env.json and, when present, OUT_DIR/notes.md (findings of the
people who ran it, appended under Notes) only (needs numpy-free Python and matplotlib, Agg
backend), so it runs on any machine the folder is copied to. Every row of the CSV appears: measured
rows in the tables (a pair whose token ids differ is marked invalid, its time kept), failed rows
and rows not run (time budget, a skipped variant) listed with their reasons, never dropped.
"""
import argparse
import csv
import json
import os
import sys
from collections import OrderedDict, defaultdict

GEN_VARIANTS = ["onyx-fp32", "torch-fp32", "torch-compile-fp32", "onyx-fp16", "torch-fp16", "torch-compile-fp16"]
LABELS = {"onyx-fp32": "onyx cuda fp32", "onyx-fp16": "onyx cuda fp16", "torch-fp32": "PyTorch eager fp32",
          "torch-fp16": "PyTorch eager fp16", "torch-compile-fp32": "PyTorch static cache + compile fp32",
          "torch-compile-fp16": "PyTorch static cache + compile fp16", "onyx-cpu": "onyx cpu",
          "ort-cpu": "ONNX Runtime cpu"}
SHORT = {"onyx-fp32": "onyx fp32", "onyx-fp16": "onyx fp16", "torch-fp32": "PyTorch fp32",
         "torch-fp16": "PyTorch fp16", "torch-compile-fp32": "compile fp32", "torch-compile-fp16": "compile fp16"}
MODEL_NAMES = {"gpt2": "GPT2 (124M)", "t5-small": "T5-small (60M)", "m2m100-418m": "M2M100-418M",
               "bert-base": "BERT-base", "distilbert": "DistilBERT"}
STYLE = {"onyx-fp32": ("tab:blue", "-", "o"), "onyx-fp16": ("tab:cyan", "-", "o"),
         "torch-fp32": ("tab:red", "--", "s"), "torch-fp16": ("tab:orange", "--", "s"),
         "torch-compile-fp32": ("tab:purple", ":", "^"), "torch-compile-fp16": ("tab:pink", ":", "^")}
SEARCH_NAMES = {"greedy": "greedy", "beam5": "beam search (5 beams)"}
CPU_CASES = {"encoder": "encoder, batch 1, sequence 128", "prefill": "prefill of 128 tokens (model.onnx, empty past)",
             "decode": "one decode step on a past of 128", "greedy16": "greedy generation, 16 new tokens, prompt 128"}


def fnum(x):
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


def load(out):
    with open(os.path.join(out, "results.csv"), newline="") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        for k in ("batch", "length"):
            r[k] = int(r[k]) if str(r.get(k, "")).lstrip("-").isdigit() else r.get(k)
    env = {}
    if os.path.exists(os.path.join(out, "env.json")):
        with open(os.path.join(out, "env.json")) as f:
            env = json.load(f)
    return rows, env


def index(rows):
    return {(r["section"], r["model"], r["variant"], r["batch"], r["length"], r["search"]): r for r in rows}


def ms_cell(r):
    if r is None:
        return ""
    if r["status"] == "ok":
        text = f"{fnum(r['p50_ms']):.1f}" if fnum(r["p50_ms"]) is not None else "?"
        return text + (" ✗" if r.get("valid") == "no" else "")
    return "failed" if r["status"].startswith("failed") else "not run"


def saving_cell(onyx, other):
    if onyx is None or other is None or onyx["status"] != "ok" or other["status"] != "ok":
        return ""
    a, b = fnum(onyx["p50_ms"]), fnum(other["p50_ms"])
    if a is None or not b:
        return ""
    text = f"{100.0 * (b - a) / b:.0f}%"
    return text + (" ✗" if "no" in (other.get("valid"), onyx.get("valid")) else "")


def table(header, body, align=None):
    align = align or ["---"] + ["---:"] * (len(header) - 1)
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in body]
    return "\n".join(lines)


def present(rows, section, model=None):
    return [v for v in GEN_VARIANTS if any(r["section"] == section and r["variant"] == v and
                                           (model is None or r["model"] == model) for r in rows)]


# ---------------------------------------------------------------------------------------------- charts

def charts(rows, env, folder):
    """One PNG per generation model (latency vs input length), encoders.png, bandwidth.png. Returns names."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:
        print(f"report: matplotlib unavailable ({e}); no charts", file=sys.stderr)
        return {}
    os.makedirs(folder, exist_ok=True)
    made = {}
    idx = index(rows)
    gen = [r for r in rows if r["section"] == "generate"]
    models = model_order(r["model"] for r in gen)
    all_lengths = sorted({r["length"] for r in gen if isinstance(r["length"], int)})
    batches = sorted({r["batch"] for r in gen})
    searches = [s for s in ("greedy", "beam5") if any(r["search"] == s for r in gen)]
    for m in models:
        fig, axes = plt.subplots(len(batches), len(searches), figsize=(6 * len(searches), 4 * len(batches)),
                                 squeeze=False)
        any_point = False
        for bi, b in enumerate(batches):
            for si, s in enumerate(searches):
                ax = axes[bi][si]
                for v in present(rows, "generate", m):
                    pts = sorted((r["length"], fnum(r["p50_ms"]), r.get("valid") == "no") for r in gen
                                 if r["model"] == m and r["variant"] == v and r["batch"] == b and r["search"] == s
                                 and r["status"] == "ok" and fnum(r["p50_ms"]) is not None)
                    if not pts:
                        continue
                    any_point = True
                    color, ls, marker = STYLE[v]
                    ax.plot([p[0] for p in pts], [p[1] for p in pts], ls, color=color, marker=marker, label=LABELS[v])
                    bad = [p for p in pts if p[2]]
                    if bad:
                        ax.plot([p[0] for p in bad], [p[1] for p in bad], "x", color="black", markersize=10,
                                label="tokens differ (invalid)" if v == present(rows, "generate", m)[0] else None)
                ax.set_xscale("log", base=2)
                length_ticks(ax, all_lengths)
                ax.set_title(f"batch {b}, {SEARCH_NAMES.get(s, s)}")
                ax.set_xlabel("input length (tokens)")
                ax.set_ylabel(f"ms for {next((r['new_tokens'] for r in gen), '64')} new tokens")
                ax.grid(True, alpha=0.3)
                if ax.lines:
                    ax.legend(fontsize=7)
        if any_point:
            fig.suptitle(f"{MODEL_NAMES.get(m, m)}: generation latency (p50), {env.get('gpu', 'GPU')}")
            fig.tight_layout()
            name = f"{m}.png"
            fig.savefig(os.path.join(folder, name), dpi=110)
            made[m] = name
        plt.close(fig)
    # bandwidth: GB/s of a decode step beside the measured copy bandwidth and the nominal spec
    greedy = [r for r in gen if r["search"] == "greedy" and r["status"] == "ok" and fnum(r.get("gbps"))]
    if greedy:
        fig, axes = plt.subplots(len(batches), len(models), figsize=(5 * len(models), 3.8 * len(batches)), squeeze=False)
        for bi, b in enumerate(batches):
            for mi, m in enumerate(models):
                ax = axes[bi][mi]
                for v in present(rows, "generate", m):
                    pts = sorted((r["length"], fnum(r["gbps"])) for r in greedy
                                 if r["model"] == m and r["variant"] == v and r["batch"] == b)
                    if pts:
                        color, ls, marker = STYLE[v]
                        ax.plot([p[0] for p in pts], [p[1] for p in pts], ls, color=color, marker=marker, label=LABELS[v])
                for key, label, ls in (("copy_bandwidth_gbps", "device copy (measured)", "-."),
                                       ("nominal_bandwidth_gbps", "nominal", "-")):
                    if fnum(env.get(key)):
                        ax.axhline(fnum(env[key]), color="gray", linestyle=ls, label=f"{label} {fnum(env[key]):.0f} GB/s")
                ax.set_xscale("log", base=2)
                length_ticks(ax, all_lengths)
                ax.set_title(f"{MODEL_NAMES.get(m, m)}, batch {b}, greedy")
                ax.set_xlabel("input length")
                ax.set_ylabel("GB/s per decode step")
                ax.grid(True, alpha=0.3)
                if ax.lines:
                    ax.legend(fontsize=6)
        fig.tight_layout()
        fig.savefig(os.path.join(folder, "bandwidth.png"), dpi=110)
        made["bandwidth"] = "bandwidth.png"
        plt.close(fig)
    enc = [r for r in rows if r["section"] == "encoder" and r["status"] == "ok" and fnum(r.get("seq_per_s"))]
    if enc:
        enc_models = model_order(r["model"] for r in enc)
        fig, axes = plt.subplots(1, len(enc_models), figsize=(6 * len(enc_models), 4), squeeze=False)
        for mi, m in enumerate(enc_models):
            ax = axes[0][mi]
            vs = present(rows, "encoder", m)
            bs = sorted({r["batch"] for r in enc if r["model"] == m})
            width = 0.8 / max(1, len(vs))
            for vi, v in enumerate(vs):
                ys = [fnum(idx.get(("encoder", m, v, b, r_len(enc, m), "-"), {}).get("seq_per_s")) or 0 for b in bs]
                ax.bar([i + vi * width for i in range(len(bs))], ys, width, color=STYLE[v][0], label=LABELS[v])
            ax.set_xticks([i + width * (len(vs) - 1) / 2 for i in range(len(bs))])
            ax.set_xticklabels([f"batch {b}" for b in bs])
            ax.set_ylabel("sequences/s (seq 128)")
            ax.set_yscale("log")
            ax.set_title(MODEL_NAMES.get(m, m))
            ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(os.path.join(folder, "encoders.png"), dpi=110)
        made["encoders"] = "encoders.png"
        plt.close(fig)
    return made


def model_order(names):
    known = list(MODEL_NAMES)
    return sorted(OrderedDict.fromkeys(names), key=lambda m: known.index(m) if m in known else len(known))


def length_ticks(ax, lengths):
    if lengths:
        ax.set_xticks(sorted(lengths))
        ax.set_xticklabels([str(x) for x in sorted(lengths)])
        ax.minorticks_off()


def r_len(rows, model):
    return next(r["length"] for r in rows if r["model"] == model)


# ---------------------------------------------------------------------------------------------- markdown

def run_of(row, runs):
    """The suite run (an entry of env.json's runs) during which a row was measured: of the runs
    whose start and end hold its measured_utc, the one started last; None when there is none."""
    import datetime
    try:
        t = datetime.datetime.strptime(row.get("measured_utc", ""), "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=datetime.timezone.utc).timestamp()
    except ValueError:
        return None
    best = None
    for run in runs:
        start = run.get("started")
        if start is not None and start - 1 <= t <= start + (run.get("elapsed_s") or 0) + 60:
            if best is None or start > best["started"]:
                best = run
    return best


def commit_of(row, runs):
    """The onyx commit of the suite run during which a row was measured, or None."""
    run = run_of(row, runs)
    return run.get("onyx_commit") if run else None


def rows_by_commit(rows, env):
    """'1f2a63f: 160 rows; ...' for merged runs, in the runs' order; '' for a single commit."""
    runs = env.get("runs") or []
    counts = OrderedDict((run.get("onyx_commit"), 0) for run in runs)
    unknown = 0
    for r in rows:
        if r["status"] != "ok":
            continue
        c = commit_of(r, runs)
        if c is None:
            unknown += 1
        else:
            counts[c] += 1
    if len([c for c, n in counts.items() if n]) < 2:
        return ""
    return "; ".join(f"{c}: {n}" for c, n in counts.items() if n) + (f"; not placed: {unknown}" if unknown else "")


def environment_section(env, rows=()):
    def g(k):
        v = env.get(k)
        return "" if v in (None, "") else v
    items = [("date", g("date_utc")), ("GPU", g("gpu")), ("nvidia-smi", g("nvidia_smi_gpu")), ("driver", g("driver")),
             ("CUDA (torch build)", g("torch_cuda")), ("nvcc", g("nvcc")), ("torch", g("torch")),
             ("transformers", g("transformers")), ("onnx", g("onnx")), ("onnxruntime", g("onnxruntime")),
             ("python", g("python")), ("CPU", f"{g('cpu')}, {g('cpu_cores')} cores"),
             ("CPU threads (onyx --threads = ORT intra_op_num_threads)", g("cpu_threads_used")),
             ("OpenBLAS kernels (onyx cpu)", next((ln.split("; kernels for ")[1].split(";")[0]
                                                   for ln in (g("onyx_runtime") or "").splitlines()
                                                   if "; kernels for " in ln), "not recorded")
              + (f", OPENBLAS_CORETYPE={env['openblas_coretype']}" if env.get("openblas_coretype") else "")),
             ("onyx commit", f"{g('onyx_commit')}" + (" (with uncommitted changes)" if env.get("onyx_tree_modified")
                                                      else "")),
             ("device-to-device copy, measured",
              f"{g('copy_bandwidth_gbps')} GB/s" if g("copy_bandwidth_gbps") else "not measured"),
             ("nominal memory bandwidth",
              f"{g('nominal_bandwidth_gbps')} GB/s" if g("nominal_bandwidth_gbps") else "unknown for this GPU")]
    exports = env.get("exports") or {}
    if exports:
        items.append(("ONNX exports (this run)", "; ".join(
            f"{k}: " + ("failed" if v is None else f"{(v.get('bytes') or 0) / 1e9:.2f} GB" +
                        (f" ({', '.join(v.get('notes') or [])})" if v.get("notes") else ""))
            for k, v in sorted(exports.items()))))
    runs = env.get("runs") or []
    if len(runs) > 1:
        items.append(("suite runs merged",
                      "; ".join(f"{x.get('date_utc', '?')} ({x.get('elapsed_s', '?')} s, onyx {x.get('onyx_commit', '?')})"
                                for x in runs)))
    by_commit = rows_by_commit(rows, env)
    if by_commit:
        items.append(("rows measured, by onyx commit", by_commit))
    return table(["", ""], [(k, v) for k, v in items], ["---", "---"])


def method_section(env):
    s = env.get("settings", {})
    n = s.get("new_tokens", 64)
    return f"""- Models: GPT2 (`GPT2Config()`, 124M), T5-small (`T5Config` as t5-small: d_model 512, d_ff 2048,
  6+6 layers, 8 heads, vocab 32128, relative attention) and M2M100-418M (`M2M100Config` as
  facebook/m2m100_418M: d_model 1024, 12+12 layers, 16 heads, ffn 4096, vocab 128112); BERT-base
  (`BertConfig()`, no pooler) and DistilBERT (`DistilBertConfig()`). Random weights from a fixed seed,
  the same tensors on both sides (a fingerprint of the weights is checked); no pretrained weights.
- Export (`bench/suite_models.py`, reusing `tools/fixtures/hf_fixtures.py`): Optimum's layouts, TorchScript
  exporter, opset 17, constant folding. GPT2: `model.onnx` with past; T5 and M2M100: `encoder_model.onnx`
  and `decoder_model_merged.onnx` (also `decoder_model.onnx` + `decoder_with_past_model.onnx`);
  float16 exports are the float16 PyTorch model exported. Files with more than 1.8 GB of weights use
  external data.
- Generation: exactly {n} new tokens (`min_new_tokens = max_new_tokens = {n}`, so eos cannot end a row),
  greedy or 5-beam search, `num_return_sequences` 1, prompts of random token ids without padding (attention
  mask all ones), the same ids for every variant. Seq2seq lengths are source lengths, GPT2 lengths prompt lengths.
- onyx: `onyx bench --generate --model DIR --provider cuda --input-ids FILE --new-tokens {n} --num-beams K`
  (one process per row; the KV cache stays on the GPU), median of {s.get('runs', 3)} generate calls after
  {s.get('warmup', 1)} warm-up; first-token time is the median of generate calls with 1 new token (prefill, and
  the encoder for seq2seq).
- PyTorch eager: `model.generate` (transformers, dynamic cache, SDPA attention where the model has it),
  same ids, same settings, median of {s.get('runs', 3)} calls after {s.get('warmup', 1)} warm-up, each ended by
  `torch.cuda.synchronize()`. PyTorch static cache + compile: `generation_config.cache_implementation =
  "static"`, the decode step compiled with `torch.compile(mode="reduce-overhead")` (transformers' generate
  compiles it; prefill stays eager); the first {s.get('compile_warmup', 3)} calls per shape are untimed, and
  the compile time (first call minus a timed call) is reported separately (`compile_s` in results.csv),
  never inside the latency. It recompiles for every new shape (input length, batch, beams).
- float32 with TF32 off on both sides (onyx does not use TF32).
- Per-token time = (generate time - first-token time) / (new tokens - 1). GB/s of a decode step =
  (weights one step reads: the decoder and LM head without embedding tables and, for seq2seq, without the
  cross-attention key/value projections + the KV cache it reads: self-attention past averaged over the
  steps, and for seq2seq the cross-attention cache of the source length, for batch x beams rows) /
  per-token time. It counts the bytes a step must read, not what an implementation moves: copying the
  cache each step (ONNX past -> present) moves more. The device-to-device copy bandwidth is measured in the
  same run with torch (1 GiB, read + write bytes / time).
- Token agreement: the token ids of onyx and PyTorch at the same dtype are compared; a pair that differs
  anywhere is marked invalid (✗), with the number of leading new tokens that agree (the worst row).
  Random weights give near-ties that float16 rounding can flip.
- Encoders: `onyx bench model.onnx --provider cuda --dim batch_size=B --dim sequence_length=128 --max-id 1000`
  (IOBinding: inputs uploaded once, outputs left on the GPU) against the PyTorch model's forward,
  median of {s.get('encoder_runs', 30)} runs.
- CPU: `onyx bench --provider cpu --threads T` against onnxruntime's CPUExecutionProvider with
  `intra_op_num_threads = T` (inter-op 1, ORT_ENABLE_ALL), the same `model.onnx` files and the same inputs
  (token ids random below 1000, masks ones, KV caches zeros), median of {s.get('cpu_runs', 20)} runs; the
  16-token greedy loop over ORT is Python (argmax on the host) against `onyx bench --generate --provider cpu`."""


def generation_section(rows, images, image_dir):
    out = []
    idx = index(rows)
    gen = [r for r in rows if r["section"] == "generate"]
    for m in model_order(r["model"] for r in gen):
        out.append(f"### {MODEL_NAMES.get(m, m)}\n")
        if m in images:
            out.append(f"![{m} latency]({image_dir}/{images[m]})\n")
        vs = present(rows, "generate", m)
        pairs = [(o, t) for o in ("onyx-fp32", "onyx-fp16") for t in vs
                 if not t.startswith("onyx") and t.endswith(o[-4:]) and o in vs]
        for b in sorted({r["batch"] for r in gen if r["model"] == m}):
            for s in [s for s in ("greedy", "beam5") if any(r["search"] == s and r["model"] == m for r in gen)]:
                lengths = sorted({r["length"] for r in gen if r["model"] == m and r["batch"] == b and r["search"] == s})
                header = ["input length"] + [f"{SHORT[v]} ms" for v in vs] + [f"saved vs {SHORT[t]}" for _, t in pairs]
                body = []
                for length in lengths:
                    cells = [length]
                    get = lambda v: idx.get(("generate", m, v, b, length, s))  # noqa: E731
                    cells += [ms_cell(get(v)) for v in vs]
                    cells += [saving_cell(get(o), get(t)) for o, t in pairs]
                    body.append(cells)
                out.append(f"Batch {b}, {SEARCH_NAMES.get(s, s)}: p50 ms for the whole generate call; saved = onyx's "
                           f"time saving against that PyTorch variant at the same dtype.\n")
                out.append(table(header, body) + "\n")
        # per-token and bandwidth
        body = []
        for r in sorted((r for r in gen if r["model"] == m and r["status"] == "ok" and fnum(r.get("per_token_ms"))),
                        key=lambda r: (r["batch"], r["search"], r["length"], GEN_VARIANTS.index(r["variant"]))):
            body.append([f"b{r['batch']} {r['search']} {r['length']}", SHORT[r["variant"]],
                         f"{fnum(r['first_token_ms']):.1f}", f"{fnum(r['per_token_ms']):.2f}",
                         r.get("gbps") or "", r.get("gbps_pct_of_copy") and f"{r['gbps_pct_of_copy']}%" or "",
                         r.get("peak_device_mib") or ""])
        if body:
            out.append("<details><summary>First token, per decode step, bandwidth and memory</summary>\n")
            out.append(table(["case", "variant", "first token ms", "per token ms", "GB/s", "of copy bandwidth",
                              "peak MiB"], body, ["---", "---"] + ["---:"] * 5) + "\n")
            out.append("</details>\n")
    return "\n".join(out)


def agreement_section(rows):
    compared = [r for r in rows if r["status"] == "ok" and r["section"] in ("generate", "cpu")
                and r.get("valid") in ("yes", "no") and not r["variant"].startswith("onyx")]
    if not compared:
        return "No token ids were compared (no pair of onyx and PyTorch rows at the same settings was measured).\n"
    same = [r for r in compared if r["valid"] == "yes"]
    text = [f"{len(same)} of {len(compared)} compared pairs produced identical token ids."]
    differ = [r for r in compared if r["valid"] == "no"]
    if differ:
        body = [[r["model"], r["batch"], r["search"], r["length"], r["variant"], r.get("compared_with", ""),
                 r.get("matched_tokens", ""), r.get("rows_matching", ""), (r.get("notes") or "")[:120]]
                for r in sorted(differ, key=lambda r: (r["model"], r["batch"], r["search"], r["length"], r["variant"]))]
        text.append("\nPairs whose token ids differ (their times are in the tables, marked ✗):\n")
        text.append(table(["model", "batch", "search", "length", "variant", "against", "leading tokens equal (worst row)",
                           "rows identical", "notes"], body, ["---"] * 9))
    return "\n".join(text) + "\n"


def encoder_section(rows, images, image_dir):
    idx = index(rows)
    enc = [r for r in rows if r["section"] == "encoder"]
    if not enc:
        return "No encoder rows.\n"
    out = []
    if "encoders" in images:
        out.append(f"![encoders]({image_dir}/{images['encoders']})\n")
    for m in model_order(r["model"] for r in enc):
        vs = present(rows, "encoder", m)
        pairs = [(o, t) for o in ("onyx-fp32", "onyx-fp16") for t in vs if t.startswith("torch") and t.endswith(o[-4:])
                 and o in vs]
        body = []
        for b in sorted({r["batch"] for r in enc if r["model"] == m}):
            length = next(r["length"] for r in enc if r["model"] == m)
            get = lambda v: idx.get(("encoder", m, v, b, length, "-"))  # noqa: E731
            cells = [b]
            for v in vs:
                r = get(v)
                c = ms_cell(r)
                if r is not None and r["status"] == "ok" and fnum(r.get("seq_per_s")):
                    c += f" ({fnum(r['seq_per_s']):,.0f}/s)"
                cells.append(c)
            cells += [saving_cell(get(o), get(t)) for o, t in pairs]
            body.append(cells)
        out.append(f"**{MODEL_NAMES.get(m, m)}**, sequence length {length}: p50 ms (sequences/s)\n")
        out.append(table(["batch"] + [SHORT[v] for v in vs] + [f"saved vs {SHORT[t]}" for _, t in pairs], body) + "\n")
    return "\n".join(out)


def cpu_section(rows):
    idx = index(rows)
    cpu = [r for r in rows if r["section"] == "cpu"]
    if not cpu:
        return "No CPU rows.\n"
    body = []
    cases = list(CPU_CASES)
    keys = OrderedDict.fromkeys((r["model"], r["search"], r["batch"], r["length"]) for r in cpu)
    for key in sorted(keys, key=lambda k: (model_order(r["model"] for r in cpu).index(k[0]),
                                           cases.index(k[1]) if k[1] in cases else 99)):
        m, case, b, length = key
        onyx, ort = idx.get(("cpu", m, "onyx-cpu", b, length, case)), idx.get(("cpu", m, "ort-cpu", b, length, case))
        threads = next((r.get("threads") for r in (onyx, ort) if r is not None and r.get("threads")), "")
        match = ""
        if ort is not None and ort.get("valid") in ("yes", "no"):
            match = "yes" if ort["valid"] == "yes" else f"no ({ort.get('matched_tokens', '')})"
        body.append([MODEL_NAMES.get(m, m), CPU_CASES.get(case, case), ms_cell(onyx), ms_cell(ort),
                     saving_cell(onyx, ort), threads, match])
    return table(["model", "case", "onyx cpu ms", "ORT cpu ms", "saved vs ORT", "threads", "same tokens"], body,
                 ["---", "---"] + ["---:"] * 4 + ["---"]) + "\n"


def missing_section(rows):
    failed = [r for r in rows if r["status"].startswith("failed")]
    not_run = [r for r in rows if r["status"].startswith("not run")]
    out = []
    if failed:
        out.append(f"**Failed rows ({len(failed)})**: started, but no measurement came of them; the reason is the row's "
                   "note, or its status when the process died during the row.\n")
        body = [[r["section"], r["model"], r["variant"], r["batch"], r["length"], r["search"],
                 (r.get("notes") or r["status"][len("failed: "):] if r["status"].startswith("failed: ") else r.get("notes") or "")[:200]]
                for r in failed]
        out.append(table(["section", "model", "variant", "batch", "length", "search", "reason"], body, ["---"] * 7) + "\n")
    if not_run:
        groups = defaultdict(lambda: defaultdict(list))
        for r in not_run:
            groups[r["status"]][(r["section"], r["model"], r["variant"], r["batch"], r["search"])].append(r["length"])
        out.append(f"**Rows not run ({len(not_run)})**, by reason:\n")
        for reason, g in groups.items():
            out.append(f"- {reason[len('not run: '):] if reason.startswith('not run: ') else reason}:")
            for (sec, m, v, b, s), lengths in sorted(g.items()):
                out.append(f"  - {sec} {m} {v} batch {b} {s}: lengths {', '.join(str(x) for x in sorted(lengths))}")
        out.append("")
    if not out:
        out.append("Every planned row was measured.\n")
    return "\n".join(out)


def notes_section(rows, env):
    ok = [r for r in rows if r["status"] == "ok"]
    n_invalid = sum(1 for r in ok if r.get("valid") == "no" and not r["variant"].startswith("onyx"))
    compile_rows = [r for r in ok if r["variant"].startswith("torch-compile") and fnum(r.get("compile_s"))]
    lines = [
        "- Random weights: the models are the right size and shape, but their outputs are meaningless; "
        "times do not depend on the weights' values, while token agreement does (near-ties).",
        "- PyTorch eager at batch 1 is bound by Python and kernel launches and moves between runs "
        "(up to ~2x on the same machine in earlier measurements); the large-batch rows are steadier.",
        "- One onyx process per row: model load and session creation are outside the timed calls, "
        "but each row pays them once (they are not in any number here).",
        f"- Pairs with differing token ids: {n_invalid} (marked ✗; the time is kept, the saving is not a like-for-like "
        "comparison there).",
    ]
    if compile_rows:
        secs = [fnum(r["compile_s"]) for r in compile_rows]
        lines.append(f"- torch.compile: {len(compile_rows)} rows, compile time {min(secs):.0f}-{max(secs):.0f} s per "
                     f"shape (first call minus a timed call), {sum(secs):.0f} s in all, excluded from the latencies.")
    if env.get("onyx_tree_modified"):
        lines.append("- The onyx tree had uncommitted changes when this was measured (env.json `onyx_tree_modified`).")
    # notes.md of the results folder: what the people who ran it found (outside what the rows say)
    extra = env.get("_notes_md")
    return "\n".join(lines) + "\n" + ("\n" + extra.strip() + "\n" if extra else "")


def render(rows, env, images, image_dir, title, intro):
    counts = defaultdict(int)
    for r in rows:
        counts["ok" if r["status"] == "ok" else "failed" if r["status"].startswith("failed") else "not run"] += 1
    parts = [f"# {title}\n", intro,
             f"Rows: {counts['ok']} measured, {counts['failed']} failed, {counts['not run']} not run "
             f"(listed under [Rows not measured](#rows-not-measured)).\n",
             "## Environment\n", environment_section(env, rows) + "\n",
             "## Method\n", method_section(env) + "\n",
             "## Generation on the GPU\n", generation_section(rows, images, image_dir),
             "## Token agreement\n", agreement_section(rows),
             "## Bandwidth of decode steps\n",
             (f"![bandwidth]({image_dir}/{images['bandwidth']})\n\n" if "bandwidth" in images else "")
             + "GB/s per decode step for each row are in the per-model details above and in results.csv "
             "(`gbps`, `gbps_pct_of_copy`).\n",
             "## Encoders on the GPU\n", encoder_section(rows, images, image_dir),
             "## CPU: onyx against ONNX Runtime\n", cpu_section(rows),
             "## Rows not measured\n", missing_section(rows),
             "## Notes\n", notes_section(rows, env)]
    return "\n".join(parts)


def main(argv=None):
    p = argparse.ArgumentParser(description="tables and charts from a bench/suite folder")
    p.add_argument("out")
    p.add_argument("--docs", action="store_true", help="also write docs/benchmarks.md and docs/benchmarks/*.png")
    p.add_argument("--docs-md", default=None, help="where the docs page goes (default docs/benchmarks.md)")
    a = p.parse_args(argv)
    rows, env = load(a.out)
    notes = os.path.join(a.out, "notes.md")
    if os.path.exists(notes):
        with open(notes) as f:
            env["_notes_md"] = f.read()
    images = charts(rows, env, os.path.join(a.out, "charts"))
    intro = (f"Measured {env.get('date_utc', '?')} on {env.get('gpu', '?')} by `bench/suite`; "
             "every row is in results.csv.\n")
    text = render(rows, env, images, "charts", "onyx benchmark suite results", intro)
    with open(os.path.join(a.out, "results.md"), "w") as f:
        f.write(text)
    print(f"report: {os.path.join(a.out, 'results.md')}, {len(images)} charts")
    if a.docs or a.docs_md:
        if env.get("generated_by") != "bench/generation_bench.py" or not env.get("cuda_available"):
            print("report: env.json does not come from a GPU run of bench/generation_bench.py; the docs page is "
                  "only written from real measurements", file=sys.stderr)
            return 1
        md = a.docs_md or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "docs", "benchmarks.md")
        md = os.path.abspath(md)
        stem = os.path.splitext(os.path.basename(md))[0]
        img_dir = os.path.join(os.path.dirname(md), stem)
        docs_images = charts(rows, env, img_dir)
        runs = env.get("runs") or []
        when = (f"in {len(runs)} runs of `bench/suite` from {runs[0].get('date_utc', '?')} to "
                f"{runs[-1].get('date_utc', '?')} (listed under Environment)" if len(runs) > 1
                else f"{env.get('date_utc', '?')} in one run of `bench/suite`")
        source = os.path.relpath(os.path.abspath(a.out), os.path.join(os.path.dirname(md), ".."))
        intro = (f"Hugging Face Optimum's GPU-guide experiment (generation latency against input length, batch 1 and "
                 f"8, greedy and beam search) for onyx, measured on {env.get('gpu', '?')} {when} (see "
                 f"[gpu.md](gpu.md) for how to run it). Regenerate this page from its results folder with "
                 f"`python3 bench/report.py {source} --docs`.\n")
        with open(md, "w") as f:
            f.write(render(rows, env, docs_images, stem, "Benchmarks: onyx against PyTorch and ONNX Runtime", intro))
        print(f"report: {md}, charts in {img_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
