/*
 * sentencepiece.h - SentencePiece .model files (ModelProto) converted into tokenizer.json
 * documents for the tokenizer engine (see sentencepiece.c for the layouts: T5 spiece.model,
 * M2M100 sentencepiece.bpe.model + vocab.json, and plain SentencePiece models).
 * onyx_sentencepiece_load itself is declared in text/tokenizer_internal.h.
 */
#ifndef ONYX_TEXT_SENTENCEPIECE_H
#define ONYX_TEXT_SENTENCEPIECE_H

#include <cjson/cJSON.h>

#include "onyx/onyx.h"

/* Convert the .model at path (folder: where to look for vocab.json, or NULL for path's folder)
 * into a tokenizer.json-shaped document. Caller owns *out (cJSON_Delete). */
onyx_status onyx_sentencepiece_to_json(const char *path, const char *folder, cJSON **out);

#endif
