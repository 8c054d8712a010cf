"""generation_bench.py - the benchmark suite behind bench/suite: Hugging Face Optimum's GPU-guide
experiment (generation latency of GPT2, T5-small and M2M100-418M against input length, batch 1 and
8, greedy and 5-beam search, exactly 64 new tokens) for onyx's cuda provider beside PyTorch eager
and PyTorch with a static cache + torch.compile, in float32 and float16, on one GPU in one run;
then BERT-base / DistilBERT encoders on the GPU, and onyx's CPU provider beside ONNX Runtime's.

    python3 bench/generation_bench.py BUILD_DIR OUT_DIR [--models ...] [--lengths ...] [--batches ...]
        [--searches greedy,beam5] [--variants ...] [--sections generate,encoder,cpu]
        [--time-budget SECONDS] [--models-dir DIR] [--resume-from DIR] [--plan]

Every measurement is one row of OUT_DIR/results.csv, rewritten (atomically) after each row, so a
killed run loses only the row it was in; a second run with the same OUT_DIR skips the rows already
measured (ok or failed; --retry-failed runs failed ones again). Rows are run most important first
(batch 1 greedy at lengths 32/128/512 for every model and variant but torch.compile, the encoders,
the CPU comparison, batch 1 beams, one torch.compile row per model and dtype (batch 1 greedy,
length 128), batch 8, the other torch.compile rows at 32/128/512, the other lengths); --plan
prints the order. --time-budget stops starting rows after that many seconds; the rest stay in
the CSV as "not run: time budget". A row that fails is recorded with its reason and the run goes on.
A row is written "running" before it starts: when a crash (a segmentation fault in a library) or a
kill ends the process, the next run marks that row failed and does not run the rest of its model,
variant and search (--retry-failed does). The rows run in a child process, which is started again
(up to MAX_RESTARTS times, within what is left of --time-budget) when a signal ends it.

onyx is timed through its CLI (one process per row: `onyx bench --generate` for generation,
`onyx bench MODEL` for encoders and single steps); PyTorch in this process, every call ended by
torch.cuda.synchronize(). TF32 is off on both sides. Token ids written by both sides are compared
(same dtype): a pair that differs is marked invalid, with the number of leading tokens that match.
The report (tables, charts) is bench/report.py.

results.csv columns: section (generate, encoder, cpu), model, variant, dtype, batch, length (prompt
or source length; sequence length for encoders), search (greedy, beam5; the case for cpu rows),
status (ok, failed, "not run: why"; "running" only while a row is measured), p50_ms/p90_ms (the whole call), first_token_ms, per_token_ms,
tokens_per_s, seq_per_s, compile_s (torch.compile rows: first call minus a timed call),
peak_device_mib, compared_with (the other side of the pair: onyx rows against PyTorch eager at the
same dtype, PyTorch rows against onyx, ort-cpu against onyx-cpu), savings_pct (onyx's time saving
against the PyTorch or ORT side of the pair), valid (token ids identical), matched_tokens (leading
new tokens equal in the worst row, of all), rows_matching, seq_match (beam rows), step_mb and gbps
(bytes a decode step must read / per_token_ms), gbps_pct_of_copy (of the measured device copy),
threads, priority, notes, measured_utc, row_seconds.
"""
import argparse
import copy
import csv
import datetime
import json
import os
import platform
import shutil
import signal
import re
import subprocess
import sys
import time
import traceback

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import report as R  # noqa: E402
import suite_models as SM  # noqa: E402

ALL_VARIANTS = ["onyx-fp32", "onyx-fp16", "torch-fp32", "torch-fp16", "torch-compile-fp32", "torch-compile-fp16"]
CPU_VARIANTS = ["onyx-cpu", "ort-cpu"]
SEARCHES = {"greedy": 1, "beam5": 5}
CORE_LENGTHS = (32, 128, 512)
FIELDS = ["section", "model", "variant", "dtype", "device", "batch", "length", "search", "num_beams", "new_tokens",
          "status", "p50_ms", "p90_ms", "first_token_ms", "per_token_ms", "tokens_per_s", "seq_per_s", "compile_s",
          "peak_device_mib", "compared_with", "savings_pct", "valid", "matched_tokens", "rows_matching", "seq_match",
          "step_mb", "gbps", "gbps_pct_of_copy", "threads", "priority", "notes", "measured_utc", "row_seconds"]
KEY_FIELDS = ("section", "model", "variant", "batch", "length", "search", "new_tokens")
MEASURED = ("p50_ms", "p90_ms", "first_token_ms", "per_token_ms", "tokens_per_s", "seq_per_s", "compile_s",
            "peak_device_mib", "notes", "measured_utc", "row_seconds", "threads")
WEIGHTS_DIFFER = "differ from the ONNX export"
NOT_REACHED = "not run: not reached (the run stopped before this row)"
RUNNING = "running"  # written before a row starts: a row still "running" when a later run reads it killed the process
DIED = ("failed: the suite's process ended during this row (a crash, or it was killed from outside; "
        "suite.log says which)")

# Nominal memory bandwidth of GPUs by name (vendor data sheets, GB/s); matched by substring, first hit.
NOMINAL_BANDWIDTH = [("H200", 4800), ("GH200", 4000), ("H100 NVL", 3900), ("H100 PCIe", 2000), ("H100", 3350),
                     ("H800", 3350), ("B200", 8000), ("A100-SXM4-80GB", 2039), ("A100 80GB PCIe", 1935),
                     ("A100", 1555), ("L40S", 864), ("L40", 864), ("L4", 300), ("A10G", 600), ("A10", 600),
                     ("RTX 4090", 1008), ("RTX 3090", 936), ("V100", 900), ("T4", 320)]


def log(*a):
    print(time.strftime("%H:%M:%S"), *a, flush=True)


def row_key(r):
    return "|".join(str(r[k]) for k in KEY_FIELDS)


def csv_list(text, cast=str):
    return [cast(x.strip()) for x in text.split(",") if x.strip()]


# ---------------------------------------------------------------------------------------------- plan

def plan(args):
    """Every row to measure, with its priority (lower runs first)."""
    rows = []
    lengths, core = args.lengths, [x for x in args.lengths if x in CORE_LENGTHS]
    if not core:
        core = sorted({lengths[0], lengths[-1]})
    first_compile_length = 128 if 128 in core else core[len(core) // 2]
    combos = [(b, s) for b in args.batches for s in args.searches]
    models = [m for m in args.models if m in SM.GENERATION_MODELS]
    model_order = {m: i for i, m in enumerate(args.models)}
    variant_order = {v: i for i, v in enumerate(ALL_VARIANTS + CPU_VARIANTS)}

    def add(priority, section, model, variant, batch, length, search):
        dtype = variant.rsplit("-", 1)[-1] if variant.endswith(("fp32", "fp16")) else "fp32"
        rows.append({"section": section, "model": model, "variant": variant, "dtype": dtype,
                     "device": "cpu" if section == "cpu" else "cuda", "batch": batch, "length": length,
                     "search": search, "num_beams": SEARCHES.get(search, 1),
                     "new_tokens": args.new_tokens if section == "generate" else (16 if search == "greedy16" else ""),
                     "status": NOT_REACHED, "priority": priority})

    if "generate" in args.sections:
        for m in models:
            for ci, (b, s) in enumerate(combos):
                for length in lengths:
                    for v in args.variants:
                        compiled = "compile" in v
                        is_core = length in core
                        if not compiled:  # b1 greedy 0, b1 beam 3, then 5, 6, ... (encoders 1, cpu 2)
                            p = ((0, 3)[ci] if ci < 2 else 3 + ci) if is_core else 30 + ci
                        elif ci == 0 and length == first_compile_length:
                            p = 4
                        else:
                            p = (20 + ci) if is_core else 40 + ci
                        add(p, "generate", m, v, b, length, s)
    if "encoder" in args.sections:
        for m in [m for m in args.models if m in SM.ENCODER_MODELS]:
            for b in args.encoder_batches:
                for v in args.variants:
                    if "compile" not in v:
                        add(1, "encoder", m, v, b, args.encoder_seq, "-")
    if "cpu" in args.sections:
        for m in args.models:
            cases = {"bert-base": ["encoder"], "distilbert": ["encoder"],
                     "gpt2": ["prefill", "decode", "greedy16"]}.get(m, [])
            for case in cases:
                for v in CPU_VARIANTS:
                    add(2, "cpu", m, v, 1, 128, case)
    search_order = {s: i for i, s in enumerate(list(args.searches) + ["-", "encoder", "prefill", "decode", "greedy16"])}
    rows.sort(key=lambda r: (r["priority"], model_order.get(r["model"], 99), r["batch"],
                             search_order.get(r["search"], 99), r["length"], variant_order.get(r["variant"], 99)))
    return rows


# ---------------------------------------------------------------------------------------------- results file

class Results:
    """results.csv: every planned and every earlier row, rewritten after each measurement."""

    def __init__(self, out):
        self.out, self.path = out, os.path.join(out, "results.csv")
        self.rows = {}
        if os.path.exists(self.path):
            with open(self.path, newline="") as f:
                for r in csv.DictReader(f):
                    for k in ("batch", "length", "num_beams", "priority"):
                        try:
                            r[k] = int(r[k])
                        except (TypeError, ValueError):
                            pass
                    self.rows[row_key(r)] = r

    def done(self, key, retry_failed):
        r = self.rows.get(key)
        if r is None:
            return False
        return r["status"] == "ok" or (r["status"].startswith("failed") and not retry_failed)

    def write(self, facts=None, env=None):
        derive(self, facts or {}, env or {})
        tmp = self.path + ".tmp"
        with open(tmp, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=FIELDS, extrasaction="ignore")
            w.writeheader()
            for r in sorted(self.rows.values(), key=lambda r: (int(r.get("priority") or 0), row_key(r))):
                w.writerow({k: r.get(k, "") for k in FIELDS})
        os.replace(tmp, self.path)


def ids_path(out, r):
    """The token ids a generation row wrote."""
    name = f"{r['model']}-{r['variant']}-b{r['batch']}-l{r['length']}-{r['search']}-n{r['new_tokens']}.npy"
    return os.path.join(out, "ids", name)


def input_path(out, model, batch, length):
    return os.path.join(out, "inputs", f"{model}-b{batch}-l{length}.npy")


_compare_cache = {}


def compare_ids(a_path, b_path, start):
    """Leading tokens that match per row after column `start` (the prompt / decoder start)."""
    try:
        stamp = (a_path, b_path, os.path.getmtime(a_path), os.path.getmtime(b_path), start)
    except OSError:
        return None
    if stamp in _compare_cache:
        return _compare_cache[stamp]
    a, b = np.load(a_path), np.load(b_path)
    res = {"shape_a": a.shape, "shape_b": b.shape}
    if a.ndim != 2 or b.ndim != 2 or a.shape[0] != b.shape[0]:
        res.update(ok=False, min_leading=0, rows_equal=0, rows=a.shape[0] if a.ndim == 2 else 0, n=0,
                   note=f"shapes differ: {a.shape} vs {b.shape}")
    else:
        na, nb = a[:, start:], b[:, start:]
        n = min(na.shape[1], nb.shape[1])
        leading = []
        for ra, rb in zip(na[:, :n], nb[:, :n]):
            diff = np.nonzero(ra != rb)[0]
            leading.append(int(diff[0]) if diff.size else n)
        prefix_same = bool(np.array_equal(a[:, :start], b[:, :start]))
        rows_equal = sum(1 for x in leading if x == n) if na.shape[1] == nb.shape[1] else 0
        res.update(ok=prefix_same and rows_equal == a.shape[0], min_leading=min(leading) if leading else 0,
                   rows_equal=rows_equal, rows=a.shape[0], n=max(na.shape[1], nb.shape[1]),
                   note="" if prefix_same else "prompt / decoder-start columns differ")
    _compare_cache[stamp] = res
    return res


def fnum(x):
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


def derive(results, facts, env):
    """Pair columns (compared_with, savings, validity, matched tokens) and the GB/s of decode steps."""
    rows = results.rows
    by_key = {row_key(r): r for r in rows.values()}
    for name, target in (("env.json", env), ("model_facts.json", facts)):
        path = os.path.join(results.out, name)
        if not target and os.path.exists(path):
            with open(path) as f:
                target.update(json.load(f))
    copy_gbps = fnum(env.get("copy_bandwidth_gbps"))
    # A merged folder's rows come from several runs: each row's GB/s is set against the copy
    # bandwidth its own run measured (env.json's runs), the current run's for its own rows.
    runs = env.get("runs")
    if runs is None and os.path.exists(os.path.join(results.out, "env.json")):
        with open(os.path.join(results.out, "env.json")) as f:
            runs = json.load(f).get("runs")
    runs = runs or []
    for r in rows.values():
        for k in ("compared_with", "savings_pct", "valid", "matched_tokens", "rows_matching", "seq_match",
                  "step_mb", "gbps", "gbps_pct_of_copy"):
            r[k] = ""
        if r["status"] != "ok":
            continue
        v, sec = r["variant"], r["section"]
        if sec == "cpu":
            other = "ort-cpu" if v == "onyx-cpu" else "onyx-cpu"
        elif v.startswith("onyx"):
            other = "torch-" + r["dtype"]
        else:
            other = "onyx-" + r["dtype"]
        peer = by_key.get(row_key(dict(r, variant=other)))
        r["compared_with"] = other
        if peer is None or peer["status"] != "ok":
            continue
        mine, theirs = fnum(r["p50_ms"]), fnum(peer["p50_ms"])
        onyx_ms, base_ms = (mine, theirs) if v.startswith("onyx") else (theirs, mine)
        if onyx_ms is not None and base_ms:
            r["savings_pct"] = f"{100.0 * (base_ms - onyx_ms) / base_ms:.1f}"
        if sec == "encoder" or (sec == "cpu" and r["search"] != "greedy16"):
            r["valid"] = "n/a"
            continue
        start = 1 if r["model"] in SM.SEQ2SEQ else int(r["length"])
        cmp = compare_ids(ids_path(results.out, r), ids_path(results.out, peer), start)
        if cmp is None:
            r["valid"] = "unknown"
            r["notes"] = _add_note(r.get("notes", ""), "no token ids to compare")
            continue
        same_weights = WEIGHTS_DIFFER not in (r.get("notes", "") + peer.get("notes", ""))
        r["valid"] = "yes" if cmp["ok"] and same_weights else "no"
        r["matched_tokens"] = f"{cmp['min_leading']}/{cmp['n']}"
        r["rows_matching"] = f"{cmp['rows_equal']}/{cmp['rows']}"
        if int(r["num_beams"] or 1) > 1:
            r["seq_match"] = "yes" if cmp["ok"] else "no"
        if cmp["note"]:
            r["notes"] = _add_note(r.get("notes", ""), cmp["note"])
    for r in rows.values():  # bandwidth of a decode step
        if r["status"] != "ok" or r["section"] != "generate" or r["model"] not in facts:
            continue
        per_token = fnum(r["per_token_ms"])
        if not per_token or per_token <= 0:
            continue
        f = facts[r["model"]]
        bpp = 2 if r["dtype"] == "fp16" else 4
        n, length = int(r["new_tokens"]), int(r["length"])
        streams = int(r["batch"]) * int(r["num_beams"] or 1)
        kv_width = f["layers"] * 2 * f["heads"] * f["head_dim"] * bpp  # bytes per cached position
        if r["model"] in SM.SEQ2SEQ:
            positions = (1 + n / 2.0) + length  # self-attention past (average over steps) + cross-attention
        else:
            positions = length + n / 2.0
        step_bytes = f["decode_step_params"] * bpp + streams * kv_width * positions
        gbps = step_bytes / (per_token / 1e3) / 1e9
        r["step_mb"] = f"{step_bytes / 1e6:.1f}"
        r["gbps"] = f"{gbps:.1f}"
        copy = fnum((R.run_of(r, runs) or {}).get("copy_bandwidth_gbps")) or copy_gbps
        if copy:
            r["gbps_pct_of_copy"] = f"{100.0 * gbps / copy:.1f}"


def _add_note(notes, text):
    if not text or text in (notes or ""):
        return notes or ""
    return f"{notes}; {text}" if notes else text


# ---------------------------------------------------------------------------------------------- the suite

class RowTimeout(Exception):
    pass


class Suite:
    def __init__(self, args):
        self.args = args
        self.out = args.out
        self.t0 = time.time()
        self.torch = None
        self.torch_models = {}
        self.facts = {}
        self.exports = {}
        self.ort_sessions = {}
        self.env = {}
        self.skip = {}  # (model, variant) -> reason: later rows of a variant that cannot work
        self.compile_seconds = 0.0
        facts_path = os.path.join(self.out, "model_facts.json")
        if os.path.exists(facts_path):
            with open(facts_path) as f:
                self.facts = json.load(f)

    # ---- environment
    def init_torch(self):
        if self.torch is not None:
            return self.torch
        import torch
        # TF32 off the way bench/gpu_bench.py does it (seen working with torch 2.11); float32 matmul
        # precision is left at its default ("highest"): setting both the legacy flags and the newer
        # precision API can make torch refuse to read either.
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        try:
            import torch._dynamo
            for attr, value in (("cache_size_limit", 1024), ("recompile_limit", 1024),
                                ("accumulated_cache_size_limit", 8192), ("accumulated_recompile_limit", 8192)):
                if hasattr(torch._dynamo.config, attr):
                    setattr(torch._dynamo.config, attr, value)
        except Exception as e:
            log(f"torch._dynamo settings not applied: {e}")
        self.torch = torch
        return torch

    def environment(self):
        env = {"date_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
               "generated_by": "bench/generation_bench.py", "python": platform.python_version(),
               "numpy": np.__version__, "command": " ".join(sys.argv)}
        try:
            torch = self.init_torch()
            import transformers
            env.update(torch=torch.__version__, torch_cuda=torch.version.cuda, transformers=transformers.__version__,
                       cuda_available=torch.cuda.is_available())
            if torch.cuda.is_available():
                env["gpu"] = torch.cuda.get_device_name(0)
                env["gpu_memory_gib"] = round(torch.cuda.get_device_properties(0).total_memory / 2**30, 1)
        except Exception as e:
            env["torch_error"] = f"{type(e).__name__}: {e}"
        for mod in ("onnx", "onnxruntime"):
            try:
                env[mod] = __import__(mod).__version__
            except Exception as e:
                env[mod] = f"unavailable ({type(e).__name__})"
        env["driver"] = _run_text(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"])
        env["nvidia_smi_gpu"] = _run_text(["nvidia-smi", "--query-gpu=name,memory.total,clocks.max.memory",
                                           "--format=csv,noheader"])
        for nvcc in ("nvcc", "/usr/local/cuda/bin/nvcc"):
            text = _run_text([nvcc, "--version"])
            if text:
                env["nvcc"] = text.strip().splitlines()[-1]
                break
        env["cpu"] = _cpu_name()
        env["cpu_cores"] = os.cpu_count()
        env["cpu_threads_used"] = self.args.threads
        # ONYX_COMMIT overrides: a copy of the tree may travel with a .git that is not its own
        env["onyx_commit"] = os.environ.get("ONYX_COMMIT") or _run_text(
            ["git", "-C", os.path.join(HERE, ".."), "rev-parse", "--short", "HEAD"]) or "unknown"
        dirty = "" if os.environ.get("ONYX_COMMIT") else _run_text(
            ["git", "-C", os.path.join(HERE, ".."), "status", "--porcelain", "--untracked-files=no"])
        env["onyx_tree_modified"] = bool(dirty)
        env["onyx_binary"] = os.path.abspath(self.args.onyx)
        # OpenBLAS's build and the kernels it picked for this CPU; CUDA runtime, driver, cuBLASLt
        env["onyx_runtime"] = _run_text([self.args.onyx, "--version"])
        # Where OpenBLAS chose kernels narrower than this CPU runs (a CPU model it does not know),
        # onyx names the OPENBLAS_CORETYPE that fixes it; onyx's rows run with it, as a user told
        # by onyx's warning would (ONNX Runtime's MLAS chooses by the instructions present).
        env["openblas_coretype"] = os.environ.get("OPENBLAS_CORETYPE")
        core = apply_blas_core_hint(env["onyx_runtime"])
        if core:
            env["openblas_coretype"] = core
            env["openblas_coretype_set_by"] = "the suite, from onyx --version"
            env["onyx_runtime"] = _run_text([self.args.onyx, "--version"])
        name = env.get("gpu", "")
        env["nominal_bandwidth_gbps"] = next((bw for key, bw in NOMINAL_BANDWIDTH if key in name), None)
        env["copy_bandwidth_gbps"] = self.copy_bandwidth() if env.get("cuda_available") else None
        env["settings"] = {"new_tokens": self.args.new_tokens, "runs": self.args.runs, "warmup": self.args.warmup,
                           "compile_warmup": self.args.compile_warmup, "encoder_runs": self.args.encoder_runs,
                           "cpu_runs": self.args.cpu_runs, "time_budget_s": self.args.time_budget,
                           "tf32": False}
        self.env = env
        self.write_env()
        log("environment: " + json.dumps({k: env.get(k) for k in ("gpu", "driver", "torch", "transformers",
                                                                   "onnxruntime", "copy_bandwidth_gbps",
                                                                   "nominal_bandwidth_gbps")}))

    def write_env(self):
        old = {}
        path = os.path.join(self.out, "env.json")
        if os.path.exists(path):
            with open(path) as f:
                old = json.load(f)
        runs = old.get("runs", [])
        current = {k: v for k, v in self.env.items() if k != "runs"}
        current["elapsed_s"] = round(time.time() - self.t0)
        if runs and runs[-1].get("started") == self.t0:
            runs[-1] = dict(current, started=self.t0)
        else:
            runs.append(dict(current, started=self.t0))
        doc = dict(current, runs=runs)
        SM._write_json(path, doc)

    def copy_bandwidth(self):
        """Device-to-device copy of 1 GiB with torch (read + write bytes / time), best of 20 copies."""
        torch = self.torch
        try:
            src = torch.empty(2**30 // 4, dtype=torch.float32, device="cuda").normal_()
            dst = torch.empty_like(src)
            for _ in range(3):
                dst.copy_(src)
            torch.cuda.synchronize()
            best = None
            for _ in range(20):
                a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                a.record()
                dst.copy_(src)
                b.record()
                b.synchronize()
                ms = a.elapsed_time(b)
                best = ms if best is None else min(best, ms)
            del src, dst
            torch.cuda.empty_cache()
            return round(2 * 2**30 / (best / 1e3) / 1e9, 1)
        except Exception as e:
            log(f"copy bandwidth not measured: {e}")
            return None

    # ---- models
    def onyx_folder(self, model, dtype):
        meta = self.exports.get((model, dtype))
        if meta is None:
            raise RuntimeError(f"no ONNX export of {model} {dtype} (its export failed; see suite.log)")
        return SM.folder_for(self.args.models_dir, model, dtype)

    def base_model(self, name):
        """The float32 CPU model, built once; its weights are checked against the exports."""
        self.init_torch()
        base = self.torch_models.get((name, "fp32-cpu"))
        if base is None:
            t0 = time.time()
            base = SM.build_model(name)
            self.torch_models[(name, "fp32-cpu")] = base
            digest = SM.fingerprint(base)
            self.note_facts(name, base)
            for d in ("fp32", "fp16"):
                meta = self.exports.get((name, d))
                if meta is not None and meta.get("fingerprint") != digest:
                    self.skip[(name, f"weights-{d}")] = (f"PyTorch weights (fingerprint {digest}) {WEIGHTS_DIFFER}"
                                                         f" ({meta.get('fingerprint')})")
            log(f"built {name} in PyTorch ({time.time() - t0:.1f} s, fingerprint {digest})")
        return base

    def torch_model(self, name, dtype, variant_key=None):
        """The model on the GPU in dtype. torch.compile rows get their own copy per search (variant_key),
        so what compiling does to a module never reaches the eager rows."""
        key = (name, dtype, variant_key)
        if key in self.torch_models:
            return self.torch_models[key]
        m = copy.deepcopy(self.base_model(name))
        if dtype == "fp16":
            m = m.half()
        try:
            if hasattr(m, "set_attn_implementation"):
                m.set_attn_implementation("sdpa")
        except Exception as e:  # some architectures have no SDPA path; keep their default
            log(f"{name}: sdpa not set ({type(e).__name__}: {str(e)[:120]})")
        m = m.to("cuda")
        self.torch_models[key] = m
        return m

    def note_facts(self, name, model):
        if name in self.facts or name not in SM.GENERATION_MODELS:
            return
        f = SM.model_shape(name, model)
        f["decode_step_params"] = SM.decode_step_params(name, model)
        f["parameters"] = sum(p.numel() for p in model.parameters())
        self.facts[name] = f
        SM._write_json(os.path.join(self.out, "model_facts.json"), self.facts)

    def ensure_facts(self, models):
        for name in models:
            if name in SM.GENERATION_MODELS and name not in self.facts:
                self.base_model(name)

    def inputs(self, model, batch, length):
        path = input_path(self.out, model, batch, length)
        if not os.path.exists(path):
            seed = 1000 * batch + length + 100000 * (SM.ALL_MODELS.index(model) + 1)
            rng = np.random.default_rng(seed)
            vocab = {"gpt2": 50257, "t5-small": 32128, "m2m100-418m": 128112}.get(model, 30522)
            ids = rng.integers(10, min(vocab, 30000), size=(batch, length)).astype(np.int64)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            np.save(path, ids)
        return path

    # ---- onyx
    def run_onyx(self, cmd, r):
        if self.torch is not None:
            try:
                self.torch.cuda.empty_cache()  # give cached PyTorch memory back before onyx allocates
            except Exception:
                pass
        log("  $ " + " ".join(cmd))
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=self.args.onyx_timeout)
        except subprocess.TimeoutExpired as e:
            text = [x.decode(errors="replace") if isinstance(x, bytes) else (x or "") for x in (e.stdout, e.stderr)]
            self.save_log(r, " ".join(cmd), *text)
            raise RuntimeError(f"onyx timed out after {self.args.onyx_timeout} s")
        if p.returncode != 0:
            path = self.save_log(r, " ".join(cmd), p.stdout, p.stderr)
            tail = " ".join((p.stderr or p.stdout).strip().splitlines()[-3:])[-400:]
            raise RuntimeError(f"onyx exit {p.returncode}: {tail} (log {os.path.relpath(path, self.out)})")
        lines = [ln for ln in p.stdout.strip().splitlines() if ln.count(",") >= 10]
        if not lines:
            path = self.save_log(r, " ".join(cmd), p.stdout, p.stderr)
            raise RuntimeError(f"onyx printed no CSV line (log {os.path.relpath(path, self.out)})")
        return lines[-1].split(",")

    def save_log(self, r, cmd, stdout, stderr):
        path = os.path.join(self.out, "logs", row_key(r).replace("|", "_") + ".log")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(f"$ {cmd}\n--- stdout\n{stdout}\n--- stderr\n{stderr}\n")
        return path

    def onyx_generate_row(self, r, provider="cuda", threads=None, runs=None):
        folder = self.onyx_folder(r["model"], r["dtype"])
        out_ids = ids_path(self.out, r)
        os.makedirs(os.path.dirname(out_ids), exist_ok=True)
        if os.path.exists(out_ids):
            os.remove(out_ids)
        n = int(r["new_tokens"])
        cmd = [self.args.onyx, "bench", "--generate", "--model", folder, "--provider", provider,
               "--input-ids", self.inputs(r["model"], r["batch"], r["length"]), "--new-tokens", str(n),
               "--num-beams", str(r["num_beams"]), "--runs", str(runs or self.args.runs),
               "--warmup", str(self.args.warmup), "--output-ids", out_ids, "--csv"]
        if threads:
            cmd += ["--threads", str(threads)]
        f = self.run_onyx(cmd, r)
        # model_dir,provider,batch,input_len,new_tokens,num_beams,runs,p50,p90,first,per_token,tok/s,peak (from the right)
        r.update(p50_ms=f[-6], p90_ms=f[-5], first_token_ms=f[-4], per_token_ms=f[-3], tokens_per_s=f[-2],
                 peak_device_mib=f"{fnum(f[-1]) / 2**20:.1f}" if provider == "cuda" and fnum(f[-1]) else "")
        if (fnum(f[-9]), fnum(f[-8])) != (n, int(r["num_beams"])):
            r["notes"] = _add_note(r.get("notes", ""), f"onyx reports new_tokens {f[-9]}, num_beams {f[-8]}")
        if fnum(f[-6]) is None:
            raise RuntimeError(f"onyx printed an unexpected CSV line: {','.join(f)[:300]}")
        if not os.path.exists(out_ids):
            r["notes"] = _add_note(r.get("notes", ""), "onyx wrote no --output-ids file")
        if threads:
            r["threads"] = threads

    def onyx_session_row(self, r, path, dims, provider, threads=None, runs=None):
        cmd = [self.args.onyx, "bench", path, "--provider", provider, "--csv", "--runs",
               str(runs or self.args.encoder_runs), "--warmup", "5", "--max-id", "1000"]
        for k, v in dims.items():
            cmd += ["--dim", f"{k}={v}"]
        if threads:
            cmd += ["--threads", str(threads)]
        f = self.run_onyx(cmd, r)
        # model,providers,io,batch,mean_ms,p50_ms,p90_ms,p99_ms,runs_per_s,items_per_s,peak_device_bytes
        p50 = fnum(f[5])
        if not p50:
            raise RuntimeError(f"onyx printed an unexpected CSV line: {','.join(f)[:300]}")
        r.update(p50_ms=f[5], p90_ms=f[6], seq_per_s=f"{int(r['batch']) * 1e3 / p50:.1f}",
                 peak_device_mib=f"{fnum(f[10]) / 2**20:.1f}" if provider == "cuda" and fnum(f[10]) else "")
        if threads:
            r["threads"] = threads

    # ---- PyTorch
    def torch_generate_row(self, r):
        torch = self.init_torch()
        compiled = r["variant"].startswith("torch-compile")
        model = self.torch_model(r["model"], r["dtype"], ("compile", r["search"]) if compiled else None)
        weights_note = self.skip.get((r["model"], f"weights-{r['dtype']}"))
        ids = torch.from_numpy(np.load(self.inputs(r["model"], r["batch"], r["length"]))).to("cuda")
        mask = torch.ones_like(ids)
        n, beams = int(r["new_tokens"]), int(r["num_beams"])
        cfg = copy.deepcopy(model.generation_config)
        notes = [f"attention {getattr(model.config, '_attn_implementation', '?')}"]
        if weights_note:
            notes.append(weights_note)
        if compiled:
            cfg.cache_implementation = "static"
            try:
                from transformers import CompileConfig
                cfg.compile_config = CompileConfig(mode="reduce-overhead")
            except ImportError:
                notes.append("no transformers.CompileConfig: generate's default compile settings")

        def call(new):
            with torch.no_grad():
                out = model.generate(input_ids=ids, attention_mask=mask, generation_config=cfg, do_sample=False,
                                     num_beams=beams, max_new_tokens=new, min_new_tokens=new)
            torch.cuda.synchronize()
            return out

        t0 = time.perf_counter()
        out = call(n)
        first_call = time.perf_counter() - t0
        if compiled and not hasattr(model, "_compiled_call"):
            # generate did not compile its decode step (transformers' auto-compile criteria not met):
            # compile the forward ourselves, as transformers' docs did before auto-compile existed.
            model.forward = torch.compile(model.forward, mode="reduce-overhead")
            notes.append("forward compiled by the suite (generate did not compile it)")
            t0 = time.perf_counter()
            out = call(n)
            first_call += time.perf_counter() - t0
        elif compiled:
            notes.append("decode step compiled by generate (torch.compile, mode reduce-overhead), prefill eager")
        warm = (self.args.compile_warmup if compiled else self.args.warmup) - 1
        for _ in range(max(0, warm)):
            out = call(n)
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        times = []
        for _ in range(self.args.runs):
            t0 = time.perf_counter()
            out = call(n)
            times.append((time.perf_counter() - t0) * 1e3)
        peak = torch.cuda.max_memory_allocated() - base + sum(p.numel() * p.element_size() for p in model.parameters())
        os.makedirs(os.path.join(self.out, "ids"), exist_ok=True)
        np.save(ids_path(self.out, r), out.detach().cpu().numpy().astype(np.int64))
        expect = (1 + n) if r["model"] in SM.SEQ2SEQ else int(r["length"]) + n
        if out.shape[1] != expect:
            notes.append(f"PyTorch returned {out.shape[1]} columns, expected {expect}")
        firsts = []
        for _ in range(self.args.runs):
            t0 = time.perf_counter()
            call(1)
            firsts.append((time.perf_counter() - t0) * 1e3)
        p50, first = float(np.median(times)), float(np.median(firsts))
        r.update(p50_ms=f"{p50:.3f}", p90_ms=f"{float(np.percentile(times, 90)):.3f}", first_token_ms=f"{first:.3f}",
                 per_token_ms=f"{(p50 - first) / (n - 1):.4f}" if n > 1 else "",
                 tokens_per_s=f"{int(r['batch']) * n / (p50 / 1e3):.1f}", peak_device_mib=f"{peak / 2**20:.1f}",
                 notes="; ".join(notes))
        if compiled:
            compile_s = max(0.0, first_call - p50 / 1e3)
            self.compile_seconds += compile_s
            r["compile_s"] = f"{compile_s:.1f}"
            r["notes"] = _add_note(r["notes"], f"first call {first_call:.1f} s")

    def torch_encoder_row(self, r):
        torch = self.init_torch()
        model = self.torch_model(r["model"], r["dtype"])
        b, s = int(r["batch"]), int(r["length"])
        kw = SM.encoder_inputs(torch, r["model"], b, s)
        with torch.no_grad():
            for _ in range(5):
                model(**kw)
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            base = torch.cuda.memory_allocated()
            times = []
            for _ in range(self.args.encoder_runs):
                t0 = time.perf_counter()
                model(**kw)
                torch.cuda.synchronize()
                times.append((time.perf_counter() - t0) * 1e3)
        peak = torch.cuda.max_memory_allocated() - base + sum(p.numel() * p.element_size() for p in model.parameters())
        p50 = float(np.median(times))
        r.update(p50_ms=f"{p50:.3f}", p90_ms=f"{float(np.percentile(times, 90)):.3f}",
                 seq_per_s=f"{b * 1e3 / p50:.1f}", peak_device_mib=f"{peak / 2**20:.1f}",
                 notes=f"attention {getattr(model.config, '_attn_implementation', '?')}")

    # ---- ONNX Runtime (CPU)
    def ort_session(self, path):
        if path not in self.ort_sessions:
            self.ort_sessions[path] = ort_session(path, self.args.threads)
        return self.ort_sessions[path]

    def ort_greedy(self, sess, prompt, new_tokens, layers, heads, head_dim):
        """Greedy generation over model.onnx with past, in Python: prefill, then one step per token."""
        b, length = prompt.shape
        past = {f"past_key_values.{i}.{kv}": np.zeros((b, heads, 0, head_dim), np.float32)
                for i in range(layers) for kv in ("key", "value")}
        names = [o.name for o in sess.get_outputs()]
        ids, tokens = prompt, [prompt]
        total = length
        for step in range(new_tokens):
            feeds = {"input_ids": ids, "attention_mask": np.ones((b, total), np.int64),
                     "position_ids": np.tile(np.arange(total - ids.shape[1], total, dtype=np.int64), (b, 1))}
            feeds.update(past)
            outs = dict(zip(names, sess.run(None, feeds)))
            nxt = outs["logits"][:, -1].argmax(-1).astype(np.int64)[:, None]
            tokens.append(nxt)
            past = {f"past_key_values.{i}.{kv}": outs[f"present.{i}.{kv}"] for i in range(layers) for kv in ("key", "value")}
            ids = nxt
            total += 1
        return np.concatenate(tokens, axis=1)

    def cpu_row(self, r):
        t = self.args.threads
        model, case, variant = r["model"], r["search"], r["variant"]
        path = os.path.join(self.onyx_folder(model, "fp32"), "model.onnx")
        if case == "encoder":
            dims = {"batch_size": 1, "sequence_length": 128}
        elif case == "prefill":
            dims = {"batch_size": 1, "sequence_length": 128, "past_sequence_length": 0}
        elif case == "decode":
            dims = {"batch_size": 1, "sequence_length": 1, "past_sequence_length": 128}
        r["threads"] = t
        if case == "greedy16":
            if variant == "onyx-cpu":
                self.onyx_generate_row(r, provider="cpu", threads=t, runs=self.args.runs)
                return
            sess = self.ort_session(path)
            past = [i for i in sess.get_inputs() if i.name.startswith("past_key_values.")]
            f = {"layers": len(past) // 2, "heads": past[0].shape[1], "head_dim": past[0].shape[3]}
            prompt = np.load(self.inputs(model, 1, 128))
            n = int(r["new_tokens"])
            self.ort_greedy(sess, prompt, n, f["layers"], f["heads"], f["head_dim"])
            times, firsts, out = [], [], None
            for _ in range(self.args.runs):
                t0 = time.perf_counter()
                out = self.ort_greedy(sess, prompt, n, f["layers"], f["heads"], f["head_dim"])
                times.append((time.perf_counter() - t0) * 1e3)
                t0 = time.perf_counter()
                self.ort_greedy(sess, prompt, 1, f["layers"], f["heads"], f["head_dim"])
                firsts.append((time.perf_counter() - t0) * 1e3)
            os.makedirs(os.path.join(self.out, "ids"), exist_ok=True)
            np.save(ids_path(self.out, r), out)
            p50, first = float(np.median(times)), float(np.median(firsts))
            r.update(p50_ms=f"{p50:.3f}", p90_ms=f"{float(np.percentile(times, 90)):.3f}",
                     first_token_ms=f"{first:.3f}", per_token_ms=f"{(p50 - first) / (n - 1):.4f}",
                     tokens_per_s=f"{n / (p50 / 1e3):.1f}",
                     notes="greedy loop in Python over model.onnx (argmax on host), timed whole")
            return
        if variant == "onyx-cpu":
            self.onyx_session_row(r, path, dims, "cpu", threads=t, runs=self.args.cpu_runs)
            return
        sess = self.ort_session(path)
        times = ort_time(sess, ort_feeds(sess, dims), self.args.cpu_runs)
        p50 = float(np.median(times))
        r.update(p50_ms=f"{p50:.3f}", p90_ms=f"{float(np.percentile(times, 90)):.3f}",
                 seq_per_s=f"{1e3 / p50:.1f}", notes="onnxruntime CPUExecutionProvider, ORT_ENABLE_ALL, host tensors")

    # ---- one row
    def run_row(self, r):
        sec, v = r["section"], r["variant"]
        r["row_seconds"] = "0"
        skip = self.skip.get((r["model"], v))
        if skip:
            r["status"] = "not run: " + skip
            return
        if "compile" in v and self.args.compile_budget is not None and self.compile_seconds > self.args.compile_budget:
            r["status"] = f"not run: compile budget ({self.args.compile_budget:.0f} s) spent"
            return
        for k in MEASURED:
            r[k] = ""
        t0 = time.time()
        old = signal.signal(signal.SIGALRM, _alarm)
        signal.alarm(int(self.args.row_timeout))
        try:
            if sec == "generate":
                if v.startswith("onyx"):
                    self.onyx_generate_row(r)
                else:
                    self.torch_generate_row(r)
            elif sec == "encoder":
                if v.startswith("onyx"):
                    path = os.path.join(self.onyx_folder(r["model"], r["dtype"]), "model.onnx")
                    self.onyx_session_row(r, path, {"batch_size": r["batch"], "sequence_length": r["length"]}, "cuda")
                else:
                    self.torch_encoder_row(r)
            elif sec == "cpu":
                self.cpu_row(r)
            r["status"] = "ok"
        except BaseException as e:  # one failing row must not stop the others
            if isinstance(e, KeyboardInterrupt):
                raise
            reason = f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}"[:500]
            r["status"] = "failed"
            r["notes"] = _add_note(r.get("notes", ""), reason)
            log(f"  FAILED: {reason}")
            traceback.print_exc(limit=4)
            self.after_failure(r, e)
        finally:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, old)
        r["row_seconds"] = f"{time.time() - t0:.1f}"
        r["measured_utc"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

    def after_failure(self, r, e):
        text = str(e)
        key = (r["model"], r["variant"])
        if "compile" in r["variant"] and r["section"] == "generate":
            self.skip[key] = f"an earlier {r['variant']} row of {r['model']} failed ({text[:120]})"
        elif "timed out" in text or isinstance(e, RowTimeout):
            n = self.skip.get(("timeouts", key), 0) + 1
            self.skip[("timeouts", key)] = n
            if n >= 2:
                self.skip[key] = f"two earlier {r['variant']} rows of {r['model']} timed out"
        elif "no ONNX export" in text:
            self.skip[key] = text[:200]
        elif "unknown option --generate" in text:
            # this onyx build has no `onyx bench --generate`: every generation row of onyx would fail alike
            for m in SM.GENERATION_MODELS:
                for v in ("onyx-fp32", "onyx-fp16", "onyx-cpu"):
                    self.skip[(m, v)] = f"this onyx build rejects `onyx bench --generate` ({text[:120]})"
        if self.torch is not None:
            try:
                self.torch.cuda.synchronize()
                self.torch.cuda.empty_cache()
            except Exception as cuda_error:  # the CUDA context is gone: no later PyTorch row can run
                for v in ALL_VARIANTS:
                    if v.startswith("torch"):
                        for m in SM.ALL_MODELS:
                            self.skip[(m, v)] = f"the CUDA context of PyTorch failed ({str(cuda_error)[:100]})"


def _alarm(signum, frame):
    raise RowTimeout("row took longer than --row-timeout")


def ort_session_options(threads):
    """ONNX Runtime's CPU settings for the comparison: threads intra-op, one inter-op, sequential,
    every graph optimization."""
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return so


def ort_session(path, threads, options=None):
    import onnxruntime as ort
    return ort.InferenceSession(path, options or ort_session_options(threads), providers=["CPUExecutionProvider"])


def ort_time(sess, feeds, runs, warmup=5):
    """Milliseconds of each of runs sess.run calls after warmup untimed ones."""
    for _ in range(warmup):
        sess.run(None, feeds)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        sess.run(None, feeds)
        times.append((time.perf_counter() - t0) * 1e3)
    return times


def ort_feeds(sess, dims, seed=0):
    """Inputs as `onyx bench` makes them: masks ones, position ids from the past length, token type
    ids zeros, token ids random in [0, 1000), floats (KV caches) zeros."""
    rng = np.random.default_rng(seed)
    feeds = {}
    past = dims.get("past_sequence_length", 0)
    for i in sess.get_inputs():
        shape = [_dim_value(d, dims) for d in i.shape]
        name = i.name
        if "mask" in name:
            v = np.ones(shape, np.int64)
        elif "position_ids" in name:
            v = np.broadcast_to(np.arange(past, past + shape[-1], dtype=np.int64), shape).copy()
        elif "token_type" in name:
            v = np.zeros(shape, np.int64)
        elif "input_ids" in name:
            v = rng.integers(0, 1000, size=shape).astype(np.int64)
        elif "float16" in i.type:
            v = np.zeros(shape, np.float16)
        else:
            v = np.zeros(shape, np.float32)
        feeds[name] = v
    return feeds


def _dim_value(d, dims):
    if isinstance(d, int):
        return d
    if d is None:
        return 1
    total = 0
    for term in str(d).replace(" ", "").split("+"):
        if term.isdigit():
            total += int(term)
        elif term in dims:
            total += dims[term]
        elif "past" in term:
            total += 0
        elif "sequence_length" in term:
            total += 8
        else:
            total += 1
    return total


def apply_blas_core_hint(version_text):
    """Where `onyx --version` (version_text) says OpenBLAS chose kernels narrower than this CPU
    runs, set the OPENBLAS_CORETYPE it names for the onyx processes started from here, as a user
    told by onyx's warning would, and return it; None when it names none or OPENBLAS_CORETYPE is
    set already (ONNX Runtime's MLAS picks by the instructions present and is unaffected)."""
    hint = re.search(r"OPENBLAS_CORETYPE=(\w+) would choose", version_text or "")
    if not hint or os.environ.get("OPENBLAS_CORETYPE"):
        return None
    os.environ["OPENBLAS_CORETYPE"] = hint.group(1)
    log(f"OPENBLAS_CORETYPE={hint.group(1)} for onyx's runs (onyx --version suggests it)")
    return hint.group(1)


def _run_text(cmd):
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        return p.stdout.strip() if p.returncode == 0 else ""
    except Exception:
        return ""


def _cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


# ---------------------------------------------------------------------------------------------- main

def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("build", help="onyx build folder (holds the onyx binary)")
    p.add_argument("out", help="results folder (results.csv, env.json, ids/, inputs/, logs/)")
    p.add_argument("--models", default=",".join(SM.ALL_MODELS))
    p.add_argument("--lengths", default="8,16,32,64,128,256,512")
    p.add_argument("--batches", default="1,8")
    p.add_argument("--searches", default="greedy,beam5")
    p.add_argument("--variants", default=",".join(ALL_VARIANTS))
    p.add_argument("--sections", default="generate,encoder,cpu")
    p.add_argument("--encoder-batches", default="1,32,128")
    p.add_argument("--encoder-seq", type=int, default=128)
    p.add_argument("--new-tokens", type=int, default=64)
    p.add_argument("--runs", type=int, default=3, help="timed generate calls per row (median)")
    p.add_argument("--warmup", type=int, default=1, help="untimed generate calls before them")
    p.add_argument("--compile-warmup", type=int, default=3, help="torch.compile rows: untimed calls (the first compiles)")
    p.add_argument("--encoder-runs", type=int, default=30)
    p.add_argument("--cpu-runs", type=int, default=20)
    p.add_argument("--threads", type=int, default=0, help="CPU threads for onyx --threads and ORT (0: all cores)")
    p.add_argument("--time-budget", type=float, default=None, help="start no new row after this many seconds")
    p.add_argument("--compile-budget", type=float, default=None,
                   help="start no torch.compile row after this many seconds of compiling in total")
    p.add_argument("--row-timeout", type=float, default=150, help="seconds one row may take (compiling included)")
    p.add_argument("--onyx-timeout", type=float, default=300, help="seconds one onyx process may take")
    p.add_argument("--models-dir", default=None, help="cache of ONNX exports (default OUT/models)")
    p.add_argument("--export-workers", type=int, default=8)
    p.add_argument("--resume-from", default=None, help="a previous OUT folder whose rows count as measured")
    p.add_argument("--retry-failed", action="store_true", help="run rows that failed before again")
    p.add_argument("--mirror", default=None, help="copy results.csv and env.json here after every row")
    p.add_argument("--plan", action="store_true", help="print the rows in the order they would run, and stop")
    a = p.parse_args(argv)
    a.onyx = os.path.join(a.build, "onyx")
    a.models = csv_list(a.models)
    a.lengths = sorted(csv_list(a.lengths, int))
    a.batches = csv_list(a.batches, int)
    a.searches = csv_list(a.searches)
    a.variants = csv_list(a.variants)
    a.sections = csv_list(a.sections)
    a.encoder_batches = csv_list(a.encoder_batches, int)
    a.models_dir = os.path.abspath(a.models_dir or os.path.join(a.out, "models"))
    a.out = os.path.abspath(a.out)
    if a.threads <= 0:
        a.threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    bad = ([m for m in a.models if m not in SM.ALL_MODELS] + [v for v in a.variants if v not in ALL_VARIANTS]
           + [s for s in a.searches if s not in SEARCHES] + [s for s in a.sections if s not in ("generate", "encoder", "cpu")])
    if bad:
        p.error(f"unknown {', '.join(bad)}; models {SM.ALL_MODELS}, variants {ALL_VARIANTS}, searches "
                f"{list(SEARCHES)}, sections generate,encoder,cpu")
    if a.new_tokens < 2:
        p.error("--new-tokens must be at least 2 (the per-token time divides by new_tokens - 1)")
    return a


def resume_from(src, out):
    """Take a previous OUT folder's results.csv, ids/, inputs/, model_facts.json into out (not models/).
    A committed results folder keeps ids/ and inputs/ as ids-inputs.tgz: it is unpacked into out."""
    packed = os.path.join(src, "ids-inputs.tgz")
    if os.path.exists(packed):
        import tarfile
        with tarfile.open(packed) as tar:
            members = [m for m in tar.getmembers() if m.isfile() and m.name.split("/")[0] in ("ids", "inputs")
                       and ".." not in m.name.split("/")]
            safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}  # Python >= 3.12 asks for one
            tar.extractall(out, members=members, **safe)
    for name in ("ids", "inputs", "logs"):
        s = os.path.join(src, name)
        if os.path.isdir(s):
            shutil.copytree(s, os.path.join(out, name), dirs_exist_ok=True)
    for name in ("model_facts.json", "env.json"):
        if os.path.exists(os.path.join(src, name)) and not os.path.exists(os.path.join(out, name)):
            shutil.copy(os.path.join(src, name), os.path.join(out, name))
    prev = Results(src)
    mine = Results(out)
    for k, r in prev.rows.items():
        if k not in mine.rows or (r["status"] == "ok" and mine.rows[k]["status"] != "ok"):
            mine.rows[k] = r
    mine.write()


def pending(rows, results, retry_failed):
    """The planned rows still to measure, in order; results takes in the planned rows. A row an
    earlier run left "running" ended that run's process: it is marked failed, and the rows of the
    same model, variant and search are not run (unless retry_failed), in that run and every later
    one that resumes the folder."""
    died = set()
    for r in results.rows.values():
        if r["status"] == RUNNING:
            r["status"] = DIED
        if r["status"] == DIED:
            died.add((r["model"], r["variant"], r["search"]))
    todo = []
    for r in rows:
        k = row_key(r)
        if results.done(k, retry_failed):
            results.rows[k]["priority"] = r["priority"]
            continue
        results.rows[k] = r
        if (r["model"], r["variant"], r["search"]) in died and not retry_failed:
            r["status"] = (f"not run: a {r['variant']} {r['search']} row of {r['model']} killed the suite's process "
                           "in an earlier run (--retry-failed runs them)")
            continue
        todo.append(r)
    return todo


def save(results, suite):
    """Write results.csv and env.json; a failure to write is logged, and the run goes on."""
    try:
        results.write(suite.facts, suite.env)
        suite.write_env()
        if suite.args.mirror:  # a copy that survives the run being killed (scripts/gpu-check points it at its OUT_DIR)
            os.makedirs(suite.args.mirror, exist_ok=True)
            for name in ("results.csv", "env.json", "model_facts.json"):
                if os.path.exists(os.path.join(suite.out, name)):
                    shutil.copy(os.path.join(suite.out, name), os.path.join(suite.args.mirror, name))
    except Exception as e:
        log(f"WRITING RESULTS FAILED: {type(e).__name__}: {e}")
        traceback.print_exc(limit=4)


def main(argv=None):
    args = parse_args(argv)
    rows = plan(args)
    if args.plan:
        for i, r in enumerate(rows):
            print(f"{i:4d} p{r['priority']:<3d} {r['section']:9s} {r['model']:12s} {r['variant']:19s} "
                  f"b{r['batch']:<4d} l{r['length']:<4d} {r['search']}")
        print(f"{len(rows)} rows")
        return 0
    os.makedirs(args.out, exist_ok=True)
    if args.resume_from:
        resume_from(os.path.abspath(args.resume_from), args.out)
    results = Results(args.out)
    todo = pending(rows, results, args.retry_failed)
    log(f"{len(rows)} rows planned, {len(rows) - len(todo)} already measured, {len(todo)} to run; "
        f"budget {args.time_budget} s")
    suite = Suite(args)
    results.write(suite.facts)
    if not todo:
        return 0
    suite.environment()
    needed = set()
    for r in todo:
        if r["variant"].startswith("onyx") or r["section"] == "cpu":
            needed.add((r["model"], r["dtype"]))
    order = {m: i for i, m in enumerate(("m2m100-418m", "gpt2", "t5-small", "bert-base", "distilbert"))}
    needed = sorted(needed, key=lambda nd: (order[nd[0]], nd[1]))
    if needed:
        t0 = time.time()
        suite.exports = SM.prepare(args.models_dir, needed, args.export_workers, log)
        log(f"exports ready after {time.time() - t0:.0f} s")
        suite.env["export_seconds_this_run"] = round(time.time() - t0)
        suite.env["exports"] = {f"{n}-{d}": (None if m is None else {k: m.get(k) for k in ("bytes", "files", "notes")})
                                for (n, d), m in suite.exports.items()}
    try:
        suite.ensure_facts(sorted({r["model"] for r in todo if r["section"] == "generate"}))
    except Exception as e:
        log(f"model facts (for GB/s) not computed: {e}")
    stopped = None
    for i, r in enumerate(todo):
        elapsed = time.time() - suite.t0
        if args.time_budget is not None and elapsed > args.time_budget:
            stopped = f"not run: time budget ({args.time_budget:.0f} s) spent"
            for rest in todo[i:]:
                rest["status"] = stopped
            break
        log(f"[{i + 1}/{len(todo)} {elapsed:.0f}s] {r['section']} {r['model']} {r['variant']} b{r['batch']} "
            f"l{r['length']} {r['search']}")
        r["status"] = RUNNING
        save(results, suite)
        suite.run_row(r)
        log(f"  -> {r['status']} p50 {r.get('p50_ms') or '-'} ms ({r.get('row_seconds')} s)")
        save(results, suite)
    save(results, suite)
    counts = {}
    for r in results.rows.values():
        s = r["status"] if not r["status"].startswith("not run") else "not run"
        counts[s] = counts.get(s, 0) + 1
    log(f"done in {time.time() - suite.t0:.0f} s: " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items())))
    return 0


MAX_RESTARTS = 8


def supervise(argv, run=None):
    """Run main() in a child process and start it again when a signal ends it (a segmentation
    fault inside PyTorch or a library): the new child resumes the results folder, where the row
    that died is marked failed and its kind is skipped (pending). --time-budget is shared: each
    child gets what is left. --plan and --help run directly."""
    if any(a in ("--plan", "-h", "--help") for a in argv):
        return main(argv)
    run = run or (lambda args: subprocess.call([sys.executable, os.path.abspath(__file__), "--child", *args]))
    budget = None
    if "--time-budget" in argv:
        budget = float(argv[argv.index("--time-budget") + 1])
    start = time.time()
    for attempt in range(MAX_RESTARTS + 1):
        args = list(argv)
        if budget is not None:
            left = max(0.0, budget - (time.time() - start))
            args[args.index("--time-budget") + 1] = f"{left:.0f}"
        rc = run(args)
        if rc >= 0:
            return rc
        log(f"the suite's process ended by signal {-rc}; starting it again to resume "
            f"({attempt + 1} of {MAX_RESTARTS})")
    return 1


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        sys.exit(main(sys.argv[2:]))
    sys.exit(supervise(sys.argv[1:]))
