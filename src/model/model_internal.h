/*
 * model_internal.h - what model.c (loading, metadata, encoder forward) and generate.c (the
 * decoding loops) share: the model struct and small helpers over sessions and tensors.
 *
 * A model holds one session per ONNX file it runs. Encoder tasks use `encoder` alone. Causal LMs
 * use `decoder` (model.onnx with past, or decoder_model_merged.onnx, or decoder_model.onnx) and
 * `decoder_with_past` (only in the two-file layout: decoder_with_past_model.onnx). Seq2seq models
 * use `encoder` (encoder_model.onnx) and the same two decoder fields. `cache_gather` is a one-node
 * Gather graph (axis 0) opened on the decoder's providers: beam search reorders and expands KV
 * cache rows with it, so the cache stays on the device where the decoder put it. The token
 * choosers (chooser.c) are graphs of the same kind: the logits processors and the choice of the
 * next tokens, run where the logits are.
 */
#ifndef ONYX_MODEL_INTERNAL_H
#define ONYX_MODEL_INTERNAL_H

#include <cjson/cJSON.h>

#include "onyx/model.h"

#define ONYX_MODEL_FILES_CAPACITY 160
#define ONYX_MODEL_CHOOSERS 4

/* What the token chooser graph (chooser.c) computes for one step. */
typedef enum onyx_chooser_mode {
    ONYX_CHOOSER_GREEDY = 0,     /* next (N, 1): argmax of the processed scores */
    ONYX_CHOOSER_SAMPLE = 1,     /* next (N, 1): a draw from the warped softmax */
    ONYX_CHOOSER_BEAM = 2,       /* values, indices (B, K): the best accumulated log-probabilities */
    ONYX_CHOOSER_BEAM_SAMPLE = 3 /* scores (B, beams * V): warped accumulated log-probabilities */
} onyx_chooser_mode;

typedef struct onyx_chooser_spec {
    onyx_chooser_mode mode;
    onyx_dtype dtype;         /* of the decoder's logits */
    int64_t vocab;            /* V */
    int64_t beams;            /* beam modes */
    int64_t candidates;       /* K, beam search */
    float repetition_penalty; /* 1 = off (no `seen` input) */
    float temperature;        /* sampling modes */
    int64_t top_k;            /* sampling modes; 0 = off */
    float top_p;              /* sampling modes; 1 = off */
    int min_keep;             /* sampling modes: tokens top-k and top-p always keep */
} onyx_chooser_spec;

typedef struct onyx_model_chooser_slot {
    onyx_chooser_spec spec;
    onyx_session *session;
} onyx_model_chooser_slot;

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
    /* The session options every session of the model was opened with, the strings owned here,
     * for the helper graphs opened later (the token choosers). */
    onyx_session_options session_options;
    char *providers, *provider_options;
    /* Set once the first session with a GPU provider is open: every later session runs on its
     * queue (provider_options gains its user_compute_stream), so tensors pass between the
     * sessions (logits to the token chooser, its choice back to the decoder, the encoder's
     * states) in queue order, without waiting for the device. That session owns the queue
     * and is destroyed last. */
    int queue_shared;
    onyx_model_chooser_slot choosers[ONYX_MODEL_CHOOSERS];
    int next_chooser; /* the slot the next new chooser replaces */
};

/* The token chooser session for spec, opened on the model's providers on first use and cached
 * (chooser.c). Owned by the model. */
onyx_status onyx_model_chooser(onyx_model *model, const onyx_chooser_spec *spec, onyx_session **out);

/* Whether session has an input (or output) called name; *info receives it when given. */
int onyx_model_session_input(const onyx_session *session, const char *name, onyx_value_info *info);
int onyx_model_session_output(const onyx_session *session, const char *name, onyx_value_info *info);

/* A new host INT64 tensor (rows, cols) holding a copy of values. */
onyx_status onyx_model_int64_tensor(const int64_t *values, int64_t rows, int64_t cols, onyx_tensor **out);

/* An integer of a JSON object, or fallback when absent or not a number. */
int64_t onyx_model_json_int(const cJSON *object, const char *key, int64_t fallback);

#endif
