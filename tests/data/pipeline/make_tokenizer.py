#!/usr/bin/env python3
"""Make tests/data/pipeline/tokenizer.json: a WordPiece tokenizer with exactly 512 ids, the
vocabulary size of the BERT fixtures in tests/models (whose folders ship no tokenizer).

It is cut from tests/data/tokenizers/wordpiece_trained/tokenizer.json.gz (BertWordPiece trained
on the fortunes; see docs/tokenizers.md) and keeps that file's normalizer, pre-tokenizer,
post-processor ([CLS] $A [SEP] / [CLS] $A [SEP] $B:1 [SEP]:1) and decoder. Ids are renumbered:
 0-4   [PAD] [UNK] [CLS] [SEP] [MASK] (as in the source)
 then  every single ASCII character of the source vocabulary,
 then  every "##" + one ASCII letter or digit of the source vocabulary,
 then  the source's other ASCII tokens in source id order, until there are 512.
So every ASCII word can be spelled, and common words are one token or a few pieces.
Only the standard library is needed:  python3 make_tokenizer.py > tokenizer.json
"""
import gzip
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.join(HERE, "..", "tokenizers", "wordpiece_trained", "tokenizer.json.gz")
SIZE = 512

with gzip.open(SOURCE, "rt", encoding="utf-8") as f:
    doc = json.load(f)
by_id = sorted(doc["model"]["vocab"].items(), key=lambda kv: kv[1])
specials = [t for t, i in by_id if i < 5]
chars = [t for t, i in by_id if i >= 5 and len(t) == 1 and t.isascii()]
subchars = [t for t, i in by_id if len(t) == 3 and t.startswith("##") and t[2].isascii() and t[2].isalnum()]
taken = set(specials + chars + subchars)
rest = [t for t, i in by_id if t not in taken and t.isascii()]
vocab = (specials + chars + subchars + rest)[:SIZE]
assert len(vocab) == SIZE
doc["model"]["vocab"] = {t: i for i, t in enumerate(vocab)}
ids = doc["model"]["vocab"]
for tok in doc["added_tokens"]:
    tok["id"] = ids[tok["content"]]
for name, entry in doc["post_processor"]["special_tokens"].items():
    entry["ids"] = [ids[name]]
json.dump(doc, sys.stdout, ensure_ascii=False, indent=1)
sys.stdout.write("\n")
