"""suite_models.py - the full-size models of the benchmark suite (bench/suite): built from their
configs with seeded random weights, exported in Hugging Face Optimum's layouts in float32 and
float16, and cached on disk so a second run reuses them.

    GPT2          GPT2Config() (124M): model.onnx with past (Optimum's text-generation-with-past)
    T5-small      T5Config as t5-small (d_model 512, d_ff 2048, 6+6 layers, 8 heads, vocab 32128)
    M2M100-418M   M2M100Config as facebook/m2m100_418M (d_model 1024, 12+12 layers, 16 heads,
                  ffn 4096, vocab 128112): encoder_model.onnx, decoder_model.onnx,
                  decoder_with_past_model.onnx and decoder_model_merged.onnx
    BERT-base     BertConfig() without pooler (last_hidden_state); DistilBERT: DistilBertConfig()

The same build_model() makes the weights for the export (in worker processes, CPU) and for the
PyTorch side of the benchmark (main process, moved to the GPU), so both run the same numbers; a
fingerprint of the weights is stored beside each export and compared by the benchmark.

Exports reuse tools/fixtures/hf_fixtures.py (the Optimum-layout wrappers, input/output names and
axes) and onnx_merge.py (the merged decoder). Files over 1.8 GB of weights are written with
external data (<file>.onnx_data), as Optimum does for large models. Exporting needs torch,
transformers and onnx (the GPU machine has them); nothing here needs a GPU.
"""
import json
import os
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools", "fixtures"))

GENERATION_MODELS = ("gpt2", "t5-small", "m2m100-418m")
ENCODER_MODELS = ("bert-base", "distilbert")
ALL_MODELS = GENERATION_MODELS + ENCODER_MODELS
SEQ2SEQ = ("t5-small", "m2m100-418m")
OPSET = 17
EXTERNAL_DATA_BYTES = 1_800_000_000

# The token ids generation needs, and nothing else: generation_config.json holds exactly these, and
# config.json is written without generation settings (forced_eos_token_id, num_beams, max_length,
# ...), so onyx (generation_config.json over config.json) and transformers (model.generation_config)
# start from the same defaults; the benchmark passes num_beams, min/max_new_tokens explicitly.
GENERATION_TOKENS = {
    "gpt2": {"bos_token_id": 50256, "eos_token_id": 50256, "pad_token_id": 50256},
    "t5-small": {"decoder_start_token_id": 0, "eos_token_id": 1, "pad_token_id": 0},
    "m2m100-418m": {"bos_token_id": 0, "eos_token_id": 2, "pad_token_id": 1, "decoder_start_token_id": 2},
}
CONFIG_GENERATION_KEYS = {
    "forced_bos_token_id", "forced_eos_token_id", "max_length", "min_length", "max_new_tokens",
    "min_new_tokens", "num_beams", "num_beam_groups", "diversity_penalty", "early_stopping",
    "length_penalty", "no_repeat_ngram_size", "encoder_no_repeat_ngram_size", "do_sample", "top_k",
    "top_p", "typical_p", "temperature", "repetition_penalty", "num_return_sequences", "bad_words_ids",
    "task_specific_params", "exponential_decay_length_penalty", "suppress_tokens", "begin_suppress_tokens",
}
SEEDS = {"gpt2": 0, "t5-small": 1, "m2m100-418m": 2, "bert-base": 3, "distilbert": 4}


def build_model(name):
    """The model `name` on the CPU, float32, eval mode, seeded random weights."""
    import torch
    from transformers import (BertConfig, BertModel, DistilBertConfig, DistilBertModel, GenerationConfig,
                              GPT2Config, GPT2LMHeadModel, M2M100Config, M2M100ForConditionalGeneration,
                              T5Config, T5ForConditionalGeneration)
    torch.manual_seed(SEEDS[name])
    if name == "gpt2":
        model = GPT2LMHeadModel(GPT2Config())
    elif name == "t5-small":
        model = T5ForConditionalGeneration(T5Config(
            vocab_size=32128, d_model=512, d_kv=64, d_ff=2048, num_layers=6, num_decoder_layers=6, num_heads=8,
            relative_attention_num_buckets=32, relative_attention_max_distance=128, feed_forward_proj="relu",
            tie_word_embeddings=True, pad_token_id=0, eos_token_id=1, decoder_start_token_id=0))
    elif name == "m2m100-418m":
        model = M2M100ForConditionalGeneration(M2M100Config(
            vocab_size=128112, max_position_embeddings=1024, d_model=1024, encoder_layers=12, decoder_layers=12,
            encoder_attention_heads=16, decoder_attention_heads=16, encoder_ffn_dim=4096, decoder_ffn_dim=4096,
            activation_function="relu", scale_embedding=True, pad_token_id=1, bos_token_id=0, eos_token_id=2,
            decoder_start_token_id=2))
    elif name == "bert-base":
        model = BertModel(BertConfig(), add_pooling_layer=False)
    elif name == "distilbert":
        model = DistilBertModel(DistilBertConfig())
    else:
        raise ValueError(f"unknown model {name}; known: {', '.join(ALL_MODELS)}")
    model.eval()
    if name in GENERATION_TOKENS:
        model.generation_config = GenerationConfig(**GENERATION_TOKENS[name])
    return model


def encoder_inputs(torch, name, batch, seq):
    """PyTorch's inputs for an encoder row on the GPU: ids below 1000 (as `onyx bench --max-id 1000`
    draws them) from a generator seeded by the shape, a full attention mask, and for BERT-base
    token types of zero."""
    g = torch.Generator(device="cpu").manual_seed(batch * 1000 + seq)
    ids = torch.randint(0, 1000, (batch, seq), generator=g).to("cuda")
    kw = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
    if name == "bert-base":
        kw["token_type_ids"] = torch.zeros_like(ids)
    return kw


def fingerprint(model):
    """A cheap digest of the weights: the float64 sum of the first 64 values of every parameter."""
    import torch
    total = 0.0
    with torch.no_grad():
        for _, p in sorted(model.named_parameters(), key=lambda kv: kv[0]):
            total += float(p.detach().reshape(-1)[:64].double().sum())
    return round(total, 6)


def model_shape(name, model):
    """Layers, heads, head size and hidden size of the decoder (for KV-cache bytes)."""
    c = model.config
    if name == "gpt2":
        return {"layers": c.n_layer, "heads": c.n_head, "head_dim": c.n_embd // c.n_head, "hidden": c.n_embd}
    if name == "t5-small":
        return {"layers": c.num_decoder_layers, "heads": c.num_heads, "head_dim": c.d_kv, "hidden": c.d_model}
    if name == "m2m100-418m":
        return {"layers": c.decoder_layers, "heads": c.decoder_attention_heads,
                "head_dim": c.d_model // c.decoder_attention_heads, "hidden": c.d_model}
    return {"layers": c.num_hidden_layers if hasattr(c, "num_hidden_layers") else c.n_layers, "hidden": 0}


CROSS_KV = ("EncDecAttention.k.", "EncDecAttention.v.", "encoder_attn.k_proj.", "encoder_attn.v_proj.")


def decode_step_params(name, model):
    """Number of parameters one decode step reads: the decoder's weights and the LM head, without
    embedding tables (a step reads one row of each: token, position, relative-position bias), and
    without the cross-attention key/value projections of seq2seq decoders (their results are cached
    from the first step). A tied LM head is the token embedding read whole, so it counts once."""
    import torch
    if name == "gpt2":
        body = model.transformer
    elif name in SEQ2SEQ:
        body = model.get_decoder()
    else:
        return 0
    seen, count = set(), 0
    embedding_params = {id(m.weight) for m in body.modules() if isinstance(m, torch.nn.Embedding)}
    for pname, p in body.named_parameters():
        if id(p) in seen or id(p) in embedding_params or any(k in pname + "." for k in CROSS_KV):
            continue
        seen.add(id(p))
        count += p.numel()
    head = model.get_output_embeddings().weight
    if id(head) not in seen:
        count += head.numel()
    return count


# ---------------------------------------------------------------------------------------------- export

def _initializer_bytes(graph):
    total = 0
    for t in graph.initializer:
        total += len(t.raw_data) or 4 * (len(t.float_data) + len(t.int32_data)) + 8 * len(t.int64_data)
    for node in graph.node:  # the branches of a merged decoder's If
        for a in node.attribute:
            if a.HasField("g"):
                total += _initializer_bytes(a.g)
            for g in a.graphs:
                total += _initializer_bytes(g)
    return total


def save_onnx(model, path):
    """Save, with external data (<file>_data, one file) when the weights pass EXTERNAL_DATA_BYTES."""
    import onnx
    data = path + "_data"
    if os.path.exists(data):
        os.remove(data)  # onnx appends to an existing external-data file
    if _initializer_bytes(model.graph) > EXTERNAL_DATA_BYTES:
        onnx.save_model(model, path, save_as_external_data=True, all_tensors_to_one_file=True,
                        location=os.path.basename(data), size_threshold=1024)
    else:
        onnx.save_model(model, path)
    onnx.checker.check_model(path)


def export_spec(spec, example, opset=OPSET):
    """hf_fixtures.export's TorchScript path, returning the ModelProto instead of saving it: the exporter
    writes into a scratch folder (where it puts external tensors if the model passes 2 GB)."""
    import numpy as np
    import onnx
    import torch
    import hf_fixtures as F
    module = spec.module()(spec.model).eval()
    args = tuple(torch.from_numpy(np.ascontiguousarray(example[n])) for n, _ in spec.inputs)
    scratch = tempfile.mkdtemp(prefix="onyx-export-")
    try:
        tmp = os.path.join(scratch, "model.onnx")
        with torch.no_grad():
            torch.onnx.export(module, args, tmp, input_names=[n for n, _ in spec.inputs],
                              output_names=[n for n, _ in spec.outputs], dynamic_axes=dict(spec.inputs + spec.outputs),
                              opset_version=opset, do_constant_folding=True, dynamo=False)
        model = onnx.load(tmp)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    F.strip_wrapper_prefix(model)
    for node in model.graph.node:
        node.doc_string = ""
    F.set_io_dims(model, spec)
    return model


def write_hf_files(folder, name, model):
    """config.json without generation settings, generation_config.json with the token ids only."""
    cfg = model.config
    cfg.architectures = [model.__class__.__name__]
    d = {k: v for k, v in cfg.to_dict().items() if k not in CONFIG_GENERATION_KEYS}
    _write_json(os.path.join(folder, "config.json"), d)
    if name in GENERATION_TOKENS:
        _write_json(os.path.join(folder, "generation_config.json"), GENERATION_TOKENS[name])


def _write_json(path, obj):
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=1, sort_keys=True, default=str)
        f.write("\n")
    os.replace(tmp, path)


def export_parts(name):
    """The export jobs of one model and dtype: one per ONNX file, so they can run in parallel."""
    if name in SEQ2SEQ:
        return ["encoder_model", "decoder_model", "decoder_with_past_model"]
    return ["model"]


def folder_for(models_dir, name, dtype):
    return os.path.join(models_dir, f"{name}-{dtype}")


def is_complete(models_dir, name, dtype):
    return os.path.exists(os.path.join(folder_for(models_dir, name, dtype), "complete.json"))


def read_meta(models_dir, name, dtype):
    with open(os.path.join(folder_for(models_dir, name, dtype), "complete.json")) as f:
        return json.load(f)


def export_job(job):
    """Worker entry: (models_dir, name, dtype, part, threads) -> dict with seconds, fingerprint. Writes
    <folder>/<part>.onnx and <folder>/<part>.done.json."""
    models_dir, name, dtype, part, threads = job
    import numpy as np
    import torch
    import hf_fixtures as F
    t0 = time.time()
    torch.set_num_threads(threads)
    F.patch_dynamic_cache_layer()
    folder = folder_for(models_dir, name, dtype)
    os.makedirs(folder, exist_ok=True)
    model = build_model(name)
    digest = fingerprint(model)
    half = dtype == "fp16"
    if half:
        model = model.half()
    F.use_eager_attention(model)
    fdt = np.float16 if half else np.float32
    rng = np.random.default_rng(7)
    ids = lambda b, n: rng.integers(10, 1000, size=(b, n)).astype(np.int64)  # noqa: E731
    if name == "gpt2":
        spec = F.gpt2_spec(model, "model.onnx", with_past=True, legacy=False)
        s = model_shape(name, model)
        past = 4
        example = {"input_ids": ids(2, 3), "attention_mask": np.ones((2, past + 3), np.int64),
                   "position_ids": np.tile(np.arange(past, past + 3), (2, 1)).astype(np.int64)}
        for i in range(s["layers"]):
            for kv in ("key", "value"):
                example[f"past_key_values.{i}.{kv}"] = rng.standard_normal((2, s["heads"], past, s["head_dim"])).astype(fdt)
    elif name in ENCODER_MODELS:
        names = ["input_ids", "attention_mask"] + (["token_type_ids"] if name == "bert-base" else [])
        spec = F.encoder_spec(model, names, [("last_hidden_state", F.ENC_AXES)])
        example = {"input_ids": ids(2, 16), "attention_mask": np.ones((2, 16), np.int64),
                   "token_type_ids": np.zeros((2, 16), np.int64)}
    else:
        s = model_shape(name, model)
        L, heads, head_dim = s["layers"], s["heads"], s["head_dim"]
        encoder, decoder, with_past = F.seq2seq_specs(model, L, heads, head_dim)
        spec = {"encoder_model": encoder, "decoder_model": decoder, "decoder_with_past_model": with_past}[part]
        mask = np.ones((2, 6), np.int64)
        example = {"input_ids": ids(2, 6), "attention_mask": mask, "encoder_attention_mask": mask,
                   "encoder_hidden_states": rng.standard_normal((2, 6, s["hidden"])).astype(fdt)}
        if part == "decoder_model":
            example["input_ids"] = ids(2, 5)
        if part == "decoder_with_past_model":
            example["input_ids"] = ids(2, 1)
            for i in range(L):
                for kv in ("key", "value"):
                    example[f"past_key_values.{i}.decoder.{kv}"] = rng.standard_normal((2, heads, 4, head_dim)).astype(fdt)
                    example[f"past_key_values.{i}.encoder.{kv}"] = rng.standard_normal((2, heads, 6, head_dim)).astype(fdt)
    onnx_model = export_spec(spec, example)
    save_onnx(onnx_model, os.path.join(folder, part + ".onnx"))
    write_hf_files(folder, name, model)
    info = {"part": part, "seconds": round(time.time() - t0, 1), "fingerprint": digest,
            "parameters": sum(p.numel() for p in model.parameters())}
    _write_json(os.path.join(folder, part + ".done.json"), info)
    return info


def finish_export(models_dir, name, dtype):
    """After every part: merge the seq2seq decoders (decoder_model_merged.onnx; on failure the split
    decoders stay and onyx uses them) and write complete.json."""
    folder = folder_for(models_dir, name, dtype)
    parts = {}
    for part in export_parts(name):
        with open(os.path.join(folder, part + ".done.json")) as f:
            parts[part] = json.load(f)
    notes = []
    if name in SEQ2SEQ:
        t0 = time.time()
        try:
            import onnx
            from onnx_merge import merge_decoders
            dec = onnx.load(os.path.join(folder, "decoder_model.onnx"))
            past = onnx.load(os.path.join(folder, "decoder_with_past_model.onnx"))
            merged = merge_decoders(dec, past)
            del dec, past
            save_onnx(merged, os.path.join(folder, "decoder_model_merged.onnx"))
            notes.append(f"merged decoder written in {time.time() - t0:.0f} s")
        except Exception as e:  # the split decoders are a layout onyx loads too
            for leftover in ("decoder_model_merged.onnx", "decoder_model_merged.onnx_data"):
                if os.path.exists(os.path.join(folder, leftover)):
                    os.remove(os.path.join(folder, leftover))
            notes.append(f"merging failed ({type(e).__name__}: {str(e)[:200]}); decoder + decoder_with_past used")
    digests = {p["fingerprint"] for p in parts.values()}
    files = sorted(f for f in os.listdir(folder) if f.endswith(".onnx") or f.endswith(".onnx_data"))
    meta = {"model": name, "dtype": dtype, "fingerprint": parts[export_parts(name)[0]]["fingerprint"],
            "fingerprints_agree": len(digests) == 1, "parts": parts, "files": files,
            "bytes": sum(os.path.getsize(os.path.join(folder, f)) for f in files), "notes": notes,
            "opset": OPSET, "exporter": "torchscript (torch.onnx.export dynamo=False), constant folding"}
    _write_json(os.path.join(folder, "complete.json"), meta)
    return meta


def prepare(models_dir, wanted, workers, log):
    """Export every (name, dtype) in wanted that is not cached yet, in parallel worker processes (one
    job per ONNX file, then one per model for merging). Returns {(name, dtype): meta or None}; a
    failed export is logged and fails only the rows that need it."""
    from concurrent.futures import ProcessPoolExecutor, as_completed
    import multiprocessing
    result, jobs = {}, []
    for name, dtype in wanted:
        if is_complete(models_dir, name, dtype):
            result[(name, dtype)] = read_meta(models_dir, name, dtype)
            log(f"export cached: {name} {dtype}")
            continue
        folder = folder_for(models_dir, name, dtype)
        for part in export_parts(name):
            if not os.path.exists(os.path.join(folder, part + ".done.json")):
                jobs.append((name, dtype, part))
    pending = [nd for nd in wanted if nd not in result]
    if not pending:
        return result
    n_workers = max(1, min(workers, max(len(jobs), len(pending))))
    threads = max(1, (os.cpu_count() or 4) // n_workers)
    failed = set()
    with ProcessPoolExecutor(max_workers=n_workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        if jobs:
            log(f"exporting {len(jobs)} ONNX files with {n_workers} workers ({threads} threads each): "
                + ", ".join(f"{n}-{d}/{p}" for n, d, p in jobs))
            futures = {pool.submit(export_job, (models_dir, n, d, p, threads)): (n, d, p) for n, d, p in jobs}
            for fut in as_completed(futures):
                n, d, p = futures[fut]
                try:
                    info = fut.result()
                    log(f"exported {n}-{d}/{p}.onnx in {info['seconds']} s")
                except Exception as e:
                    failed.add((n, d))
                    log(f"EXPORT FAILED {n}-{d}/{p}: {type(e).__name__}: {str(e)[:400]}")
        futures = {pool.submit(finish_export, models_dir, n, d): (n, d) for n, d in pending if (n, d) not in failed}
        for fut in as_completed(futures):
            n, d = futures[fut]
            try:
                meta = fut.result()
                result[(n, d)] = meta
                log(f"export ready: {n} {d} ({meta['bytes'] / 1e9:.2f} GB) " + "; ".join(meta["notes"]))
            except Exception as e:
                failed.add((n, d))
                log(f"EXPORT FAILED {n} {d} (finishing): {type(e).__name__}: {str(e)[:400]}")
    for nd in failed:
        result[nd] = None
    return result
