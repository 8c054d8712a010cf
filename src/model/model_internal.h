/*
 * model_internal.h - what model.c (loading, metadata, encoder forward) and generate.c (the
 * decoding loops) share: the model struct and small helpers over sessions and tensors.
 *
 * A model holds one session per ONNX file it runs. Encoder tasks use `encoder` alone. Causal LMs
 * use `decoder` (model.onnx with past, or decoder_model_merged.onnx, or decoder_model.onnx) and
 * `decoder_with_past` (only in the two-file layout: decoder_with_past_model.onnx). Seq2seq models
 * use `encoder` (encoder_model.onnx) and the same two decoder fields. `cache_gather` is a one-node
 * Gather graph (axis 0) opened on the decoder's providers: beam search reorders and expands KV
 * cache rows with it, so the cache stays on the device where the decoder put it.
 */
#ifndef ONYX_MODEL_INTERNAL_H
#define ONYX_MODEL_INTERNAL_H

#include <cjson/cJSON.h>

#include "onyx/model.h"

#define ONYX_MODEL_FILES_CAPACITY 160

struct onyx_model {
    char *dir;
    onyx_task task;
    char files[ONYX_MODEL_FILES_CAPACITY]; /* "encoder_model.onnx,decoder_model_merged.onnx" */
    cJSON *config;                         /* config.json */
    cJSON *generation_config;              /* generation_config.json, or NULL */
    onyx_tokenizer *tokenizer;             /* NULL when the folder has no tokenizer files */
    onyx_session *encoder;
    onyx_session *decoder;
    onyx_session *decoder_with_past;
    onyx_session *cache_gather; /* generative tasks only */
    char **labels;              /* id2label, label_count entries (NULL where an id is missing) */
    int64_t label_count;
    /* Where present.* outputs are bound: the first provider's device when it is a GPU and the
     * options ask for IOBinding, else the host. */
    onyx_device_type cache_device;
};

/* Whether session has an input (or output) called name; *info receives it when given. */
int onyx_model_session_input(const onyx_session *session, const char *name, onyx_value_info *info);
int onyx_model_session_output(const onyx_session *session, const char *name, onyx_value_info *info);

/* A new host INT64 tensor (rows, cols) holding a copy of values. */
onyx_status onyx_model_int64_tensor(const int64_t *values, int64_t rows, int64_t cols, onyx_tensor **out);

/* An integer of a JSON object, or fallback when absent or not a number. */
int64_t onyx_model_json_int(const cJSON *object, const char *key, int64_t fallback);

#endif
