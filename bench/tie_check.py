#!/usr/bin/env python3
"""Where a greedy pair of bench/suite left each other's tokens: was it a near-tie?

    tie_check.py SUITE_DIR

For every generation row of SUITE_DIR/results.csv that is greedy, onyx, and marked valid=no, and
for each batch row where onyx's and PyTorch's tokens part, PyTorch in float32 and in float16 is fed
the common prefix (teacher forcing; seq2seq models get the prompt as encoder input) and prints the
logits of the two tokens chosen. A float32 gap of a few float16 steps (the `ulp` column) means
either token is a faithful greedy choice in float16; a wide gap points at a fault.
"""
import argparse
import csv
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import generation_bench as G  # noqa: E402
import suite_models as SM  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("suite")
    a = p.parse_args(argv)
    import torch
    torch.backends.cuda.matmul.allow_tf32 = False
    with open(os.path.join(a.suite, "results.csv"), newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["section"] == "generate" and r["search"] == "greedy"
                and r["variant"].startswith("onyx") and r["valid"] == "no"]
    if not rows:
        print("no invalid greedy rows")
        return 0
    models = {}
    print("model dtype batch length row | new token | onyx tok, torch tok | fp32 logits (onyx's, torch's) gap"
          " | fp16 logits gap | ulp of fp16 at |logit|")
    for r in rows:
        name, dtype, batch, length = r["model"], r["dtype"], int(r["batch"]), int(r["length"])
        onyx = np.load(G.ids_path(a.suite, r))
        ref = np.load(G.ids_path(a.suite, dict(r, variant=f"torch-{dtype}")))
        prompt = np.load(G.input_path(a.suite, name, batch, length))
        if name not in models:
            base = SM.build_model(name).eval()
            models[name] = {"fp32": base.cuda(), "fp16": SM.build_model(name).eval().half().cuda()}
        seq2seq = name in SM.SEQ2SEQ
        start = 1 if seq2seq else length
        for b in range(batch):
            diff = np.nonzero(onyx[b, start:] != ref[b, start:])[0]
            if not diff.size:
                continue
            pos = start + int(diff[0])
            prefix = torch.tensor(ref[b, :pos][None], device="cuda")
            tok_o, tok_t = int(onyx[b, pos]), int(ref[b, pos])
            out = {}
            for d, m in models[name].items():
                with torch.no_grad():
                    if seq2seq:
                        enc = torch.tensor(prompt[b][None], device="cuda")
                        logits = m(input_ids=enc, attention_mask=torch.ones_like(enc), decoder_input_ids=prefix).logits
                    else:
                        logits = m(input_ids=prefix, attention_mask=torch.ones_like(prefix)).logits
                lg = logits[0, -1].float().cpu().numpy()
                out[d] = (float(lg[tok_o]), float(lg[tok_t]), int(lg.argmax()))
            o32, t32, _ = out["fp32"]
            o16, t16, _ = out["fp16"]
            ulp = float(np.spacing(np.float16(max(abs(o32), abs(t32)))))
            print(f"{name} {dtype} b{batch} l{length} row {b} | {pos - start} | {tok_o}, {tok_t} | "
                  f"{o32:.5f}, {t32:.5f} gap {t32 - o32:+.5f} | {t16 - o16:+.5f} | {ulp:.5f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
