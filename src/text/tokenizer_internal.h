/*
 * tokenizer_internal.h - the contract between the tokenizer engine (src/text/tokenizer*.c) and
 * the loaders of other formats (src/text/sentencepiece.c).
 *
 * The engine is built from a Hugging Face tokenizer.json document. Other formats are loaded by
 * converting them into that same document, as HF's convert_slow_tokenizer does: a SentencePiece
 * Unigram model becomes {"model": {"type": "Unigram", "vocab": [[piece, score], ...], "unk_id",
 * "byte_fallback"}, "normalizer": {"type": "Precompiled", "precompiled_charsmap": base64}, or a
 * Sequence with it, "pre_tokenizer": {"type": "Metaspace", "replacement": "\u2581",
 * "prepend_scheme": "always", "split": true}, "decoder": {"type": "Metaspace", ...}, ...}; a
 * SentencePiece BPE model becomes {"model": {"type": "BPE", "vocab": {...}, "merges": [...],
 * "byte_fallback": ..., "fuse_unk": true}, ...}. The cJSON tree is read, never kept: the caller
 * frees it after onyx_tokenizer_from_cjson returns.
 *
 * One key is onyx's own, not HF's: Precompiled "longest_match": true makes the charsmap lookup
 * the sentencepiece library's (the longest key at each position) instead of HF's (grapheme
 * clusters, then chars). The .model loader sets it for every model except T5's spiece.model,
 * whose references are HF's conversion; a tokenizer.json may set it too.
 */
#ifndef ONYX_TEXT_TOKENIZER_INTERNAL_H
#define ONYX_TEXT_TOKENIZER_INTERNAL_H

#include <cjson/cJSON.h>

#include "onyx/tokenizer.h"

/* Build a tokenizer from a parsed tokenizer.json document (HF format). Caller owns *out. */
onyx_status onyx_tokenizer_from_cjson(const cJSON *root, onyx_tokenizer **out);

/* Load a SentencePiece model (defined in sentencepiece.c). path is the .model file; folder is
 * the folder it was found in (for a vocab.json beside it) or NULL. It converts the model into a
 * tokenizer.json-shaped cJSON tree and calls onyx_tokenizer_from_cjson. Caller owns *out. */
onyx_status onyx_sentencepiece_load(const char *path, const char *folder, onyx_tokenizer **out);

#endif
