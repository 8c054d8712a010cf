#!/usr/bin/env python3
"""Make the tokenizers of the generation pipeline test folders: three tokenizers with ids below
512, the vocabulary size of the GPT2, T5 and M2M100 fixtures in tests/models (whose folders ship
no tokenizer). Only the standard library is needed:

    python3 tests/data/pipeline/make_generation_tokenizers.py

writes (over the committed files; a second run gives the same bytes):

 gpt2-text-generation/tokenizer.json
     byte-level BPE cut from tests/data/tokenizers/gpt2/tokenizer.json.gz: ids 0-255 are the 256
     byte symbols (GPT2's own first 256 ids), then GPT2's merges in merge order, keeping a merge
     when both its pieces are kept and its result is new, until ids 256-510 are filled; 511 is
     "<|endoftext|>", the fixture's bos, eos and pad. Pre-tokenizer, post-processor and decoder
     are GPT2's.
 t5-text2text/tokenizer.json
     a T5-style Unigram cut from tests/data/tokenizers/unigram_trained/tokenizer.json.gz (trained
     like T5's: <pad> 0, </s> 1, <unk> 2, "$A </s>"): the three specials, every single ASCII
     character piece and "\u2581", then the other ASCII pieces in source id order, 512 in all,
     with their scores.
 t5-text2text/config.json
     tests/models/t5-ts17/config.json plus the task_specific_params of t5-small's config
     (summarization and translation_en_to_{de,fr,ro} prefixes and generation settings).
 m2m100-translation/sentencepiece.bpe.model, vocab.json, tokenizer_config.json
     M2M100's layout, cut from tests/data/tokenizers/m2m100_spm: a BPE ModelProto written here
     with the protobuf wire format (pieces <unk> <s> </s>, then 400 pieces: every single-character
     ASCII piece and "\u2581", then, in the source's score order, each ASCII piece that splits
     into two kept pieces), normalizer "identity" (the source's 240 kB nmt_nfkc charsmap is
     dropped) with add_dummy_prefix, remove_extra_whitespaces and escape_whitespaces on.
     vocab.json: <s> 0, <pad> 1, </s> 2, <unk> 3, the pieces 4-403. onyx (src/text/sentencepiece.c)
     numbers the 100 language tokens after the highest vocab.json id, 404-503 (__en__ = 422), then
     <madeupword0-7> 504-511: every id stays below 512.
"""
import gzip
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
TOKENIZERS = os.path.join(HERE, "..", "tokenizers")
MODELS = os.path.join(HERE, "..", "..", "models")
SIZE = 512


def read_json_gz(path):
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return json.load(f)


def write_json(path, doc):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, indent=1)
        f.write("\n")


def gpt2_bpe():
    doc = read_json_gz(os.path.join(TOKENIZERS, "gpt2", "tokenizer.json.gz"))
    by_id = sorted(doc["model"]["vocab"].items(), key=lambda kv: kv[1])
    symbols = [t for t, i in by_id[:256]]
    assert all(len(s) == 1 for s in symbols) and len(set(symbols)) == 256
    kept = {s: i for i, s in enumerate(symbols)}
    merges = []
    for merge in doc["model"]["merges"]:
        a, b = merge if isinstance(merge, list) else merge.split(" ")
        if a in kept and b in kept and a + b not in kept:
            kept[a + b] = len(kept)
            merges.append([a, b])
            if len(kept) == SIZE - 1:
                break
    eot = "<|endoftext|>"
    kept[eot] = SIZE - 1
    doc["model"]["vocab"] = kept
    doc["model"]["merges"] = merges
    assert [t["content"] for t in doc["added_tokens"]] == [eot]
    doc["added_tokens"][0]["id"] = SIZE - 1
    write_json(os.path.join(HERE, "gpt2-text-generation", "tokenizer.json"), doc)


def t5_unigram():
    doc = read_json_gz(os.path.join(TOKENIZERS, "unigram_trained", "tokenizer.json.gz"))
    vocab = doc["model"]["vocab"]
    assert [p for p, _ in vocab[:3]] == ["<pad>", "</s>", "<unk>"] and doc["model"]["unk_id"] == 2
    specials = vocab[:3]
    chars = [e for e in vocab[3:] if len(e[0]) == 1 and (e[0].isascii() or e[0] == "\u2581")]
    taken = {e[0] for e in specials + chars}
    rest = [e for e in vocab[3:] if e[0] not in taken and e[0].replace("\u2581", "").isascii()]
    cut = (specials + chars + rest)[:SIZE]
    assert len(cut) == SIZE
    doc["model"]["vocab"] = cut
    ids = {p: i for i, (p, _) in enumerate(cut)}
    for tok in doc["added_tokens"]:
        tok["id"] = ids[tok["content"]]
    for name, entry in doc["post_processor"]["special_tokens"].items():
        entry["ids"] = [ids[name]]
    write_json(os.path.join(HERE, "t5-text2text", "tokenizer.json"), doc)

    with open(os.path.join(MODELS, "t5-ts17", "config.json"), encoding="utf-8") as f:
        config = json.load(f)
    config["task_specific_params"] = {
        "summarization": {"early_stopping": True, "length_penalty": 2.0, "max_length": 200, "min_length": 30,
                          "no_repeat_ngram_size": 3, "num_beams": 4, "prefix": "summarize: "},
        "translation_en_to_de": {"early_stopping": True, "max_length": 300, "num_beams": 4,
                                 "prefix": "translate English to German: "},
        "translation_en_to_fr": {"early_stopping": True, "max_length": 300, "num_beams": 4,
                                 "prefix": "translate English to French: "},
        "translation_en_to_ro": {"early_stopping": True, "max_length": 300, "num_beams": 4,
                                 "prefix": "translate English to Romanian: "},
    }
    with open(os.path.join(HERE, "t5-text2text", "config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, indent=2, sort_keys=True)
        f.write("\n")


# ---- the protobuf wire format, as much as a SentencePiece ModelProto needs ----

def varint(value):
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def read_varint(data, at):
    value = shift = 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, at


def read_fields(data):
    """(number, wire type, value) of each field; value is an int or bytes."""
    at = 0
    while at < len(data):
        key, at = read_varint(data, at)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, at = read_varint(data, at)
        elif wire == 1:
            value, at = data[at:at + 8], at + 8
        elif wire == 5:
            value, at = data[at:at + 4], at + 4
        elif wire == 2:
            size, at = read_varint(data, at)
            value, at = data[at:at + size], at + size
        else:
            raise ValueError("wire type %d" % wire)
        yield number, wire, value


def field_varint(number, value):
    return varint(number << 3) + varint(value)


def field_bytes(number, value):
    return varint(number << 3 | 2) + varint(len(value)) + value


def field_float(number, value):
    return varint(number << 3 | 5) + struct.pack("<f", value)


def m2m100_spm():
    source = os.path.join(TOKENIZERS, "m2m100_spm")
    with open(os.path.join(source, "sentencepiece.bpe.model"), "rb") as f:
        model = f.read()
    pieces = []  # (text, score, type) in the source's order (score descending)
    for number, _, value in read_fields(model):
        if number != 1:
            continue
        text, score, kind = b"", 0.0, 1
        for n, _, v in read_fields(value):
            if n == 1:
                text = v
            elif n == 2:
                score = struct.unpack("<f", v)[0]
            elif n == 3:
                kind = v
        pieces.append((text.decode("utf-8"), score, kind))
    assert [p[0] for p in pieces[:3]] == ["<unk>", "<s>", "</s>"]
    normal = [p for p in pieces if p[2] == 1]

    def ascii_piece(text):
        return text.replace("\u2581", "").isascii()

    count = 400
    kept = [p for p in normal if len(p[0]) == 1 and (p[0].isascii() or p[0] == "\u2581")]
    names = {p[0] for p in kept}
    for p in normal:
        if len(kept) == count:
            break
        text = p[0]
        if len(text) < 2 or text in names or not ascii_piece(text):
            continue
        if any(text[:cut] in names and text[cut:] in names for cut in range(1, len(text))):
            kept.append(p)
            names.add(text)
    assert len(kept) == count
    order = {p[0]: i for i, p in enumerate(normal)}
    kept.sort(key=lambda p: order[p[0]])  # the source's order

    proto = b""
    for text, score, kind in pieces[:3] + kept:
        piece = field_bytes(1, text.encode("utf-8")) + field_float(2, score)
        if kind != 1:
            piece += field_varint(3, kind)
        proto += field_bytes(1, piece)
    trainer = field_varint(3, 2) + field_varint(4, 3 + count) + field_varint(40, 0) + field_varint(41, 1) + \
        field_varint(42, 2)
    normalizer = field_bytes(1, b"identity") + field_varint(3, 1) + field_varint(4, 1) + field_varint(5, 1)
    proto += field_bytes(2, trainer) + field_bytes(3, normalizer)
    out = os.path.join(HERE, "m2m100-translation")
    with open(os.path.join(out, "sentencepiece.bpe.model"), "wb") as f:
        f.write(proto)

    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    for text, _, _ in kept:
        vocab[text] = len(vocab)
    assert max(vocab.values()) + 1 + 100 + 8 == SIZE
    write_json(os.path.join(out, "vocab.json"), vocab)
    with open(os.path.join(source, "tokenizer_config.json"), encoding="utf-8") as f:
        config = json.load(f)
    write_json(os.path.join(out, "tokenizer_config.json"), config)


if __name__ == "__main__":
    gpt2_bpe()
    t5_unigram()
    m2m100_spm()
