/*
 * model.h - model folders as Hugging Face Optimum exports them, their tasks, and generation
 * (Optimum's ORTModelFor* classes in C). Same conventions as onyx.h.
 *
 * A folder holds config.json, optionally generation_config.json, tokenizer files
 * (tokenizer.json, or spiece.model / sentencepiece.bpe.model + vocab.json), and ONNX files in one
 * of Optimum's layouts: model.onnx (encoders; causal LMs with past), decoder_model.onnx +
 * decoder_with_past_model.onnx (+ decoder_model_merged.onnx), encoder_model.onnx + the decoder
 * files (seq2seq). onyx_model_load opens sessions for the files the task needs, preferring what
 * Optimum prefers: for causal LMs the single model.onnx with past, else the merged decoder, else
 * decoder + decoder_with_past; for seq2seq the merged decoder, else decoder + decoder_with_past.
 * The files chosen are logged at info level and returned by onyx_model_files.
 */
#ifndef ONYX_MODEL_H
#define ONYX_MODEL_H

#include "onyx/onyx.h"
#include "onyx/tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum onyx_task {
    ONYX_TASK_AUTO = 0,                /* from the files and config.json's architectures */
    ONYX_TASK_FEATURE_EXTRACTION = 1,  /* last_hidden_state */
    ONYX_TASK_SEQUENCE_CLASSIFICATION = 2,
    ONYX_TASK_TOKEN_CLASSIFICATION = 3,
    ONYX_TASK_QUESTION_ANSWERING = 4,  /* start_logits, end_logits */
    ONYX_TASK_MASKED_LM = 5,
    ONYX_TASK_CAUSAL_LM = 6,
    ONYX_TASK_SEQ2SEQ_LM = 7
} onyx_task;

/* "text-classification", ...; NULL for unknown values. Static storage. */
ONYX_API const char *onyx_task_name(onyx_task task);
/* Parse Optimum's task names ("text-classification", "sequence-classification",
 * "text-generation", "text2text-generation", "fill-mask", ...). */
ONYX_API onyx_status onyx_task_from_name(const char *name, onyx_task *out);

typedef struct onyx_model onyx_model;

typedef struct onyx_model_options {
    size_t struct_size;        /* set by onyx_model_options_init */
    /* Passed to every session the model opens (providers, provider_options, opt level,
     * threads, log level). */
    onyx_session_options session;
    /* 1: keep the KV cache, the logits and their processing on the device of the first
     * provider (IOBinding) when it is a GPU, so only the chosen token ids come back per step;
     * 0: host tensors. Default 1. */
    int use_io_binding;
} onyx_model_options;

ONYX_API void onyx_model_options_init(onyx_model_options *options);

/* Open the folder dir for task (ONYX_TASK_AUTO: guess). Caller owns *out. Errors name the
 * folder and the file at fault (a missing config.json, no ONNX file of any known layout, an
 * ONNX file whose inputs do not fit the task). */
ONYX_API onyx_status onyx_model_load(const char *dir, onyx_task task, const onyx_model_options *options,
                                     onyx_model **out);
ONYX_API void onyx_model_destroy(onyx_model *model);

ONYX_API onyx_task onyx_model_task(const onyx_model *model);
/* The ONNX files the model runs, comma-separated ("model.onnx"). Valid while the model lives. */
ONYX_API const char *onyx_model_files(const onyx_model *model);
/* The folder's tokenizer, or NULL when it has none. Owned by the model. */
ONYX_API const onyx_tokenizer *onyx_model_tokenizer(const onyx_model *model);
/* config.json's "model_type" ("bert", "gpt2", "t5", "m2m_100", ...). */
ONYX_API const char *onyx_model_type(const onyx_model *model);
/* An integer of config.json (e.g. "vocab_size", "pad_token_id"); ONYX_ERR_INVALID_ARGUMENT when
 * absent or not an integer. */
ONYX_API onyx_status onyx_model_config_int(const onyx_model *model, const char *key, int64_t *out);
/* config.json's id2label[id], or NULL. Valid while the model lives. */
ONYX_API const char *onyx_model_label(const onyx_model *model, int64_t id);
/* The number of labels (id2label entries), 0 when none. */
ONYX_API int64_t onyx_model_label_count(const onyx_model *model);

/* Device memory of the model's sessions, summed over them (each session has its own arena; the
 * peaks are each session's peak, so their sum is an upper bound of the model's). limit_bytes is
 * the first GPU session's. ONYX_ERR_INVALID_ARGUMENT when no session uses a GPU provider. */
ONYX_API onyx_status onyx_model_device_memory(const onyx_model *model, onyx_device_memory_stats *out);

/* The inputs of an encoder run (onyx_model_run): B = batch, T = seq, every array (B, T)
 * row-major int64, borrowed for the call. Fields may be added at the end; callers set
 * struct_size through onyx_model_inputs_init and then the fields they give.
 * - input_ids: required.
 * - attention_mask: NULL = all ones.
 * - token_type_ids: NULL = zeros (one segment) when the graph has a token_type_ids input. Given
 *   ones are passed only to a graph that has the input and are silently dropped otherwise
 *   (DistilBERT and RoBERTa exports, seq2seq encoders), as Optimum's ORTModel passes
 *   token_type_ids only when the model declares it.
 * The inputs the graph wants and no field gives are filled as Optimum does: position_ids from
 * the mask (cumsum(mask) - 1, 1 on padding). A graph input of type int32 receives the values
 * converted. */
typedef struct onyx_model_inputs {
    size_t struct_size;             /* set by onyx_model_inputs_init */
    int64_t batch;                  /* B > 0 */
    int64_t seq;                    /* T > 0 */
    const int64_t *input_ids;       /* (B, T) */
    const int64_t *attention_mask;  /* (B, T) or NULL */
    const int64_t *token_type_ids;  /* (B, T) or NULL */
} onyx_model_inputs;

/* No inputs given (batch and seq 0, every array NULL). */
ONYX_API void onyx_model_inputs_init(onyx_model_inputs *inputs);

/* Run the encoder of an encoder task (or of a seq2seq model: encoder_model.onnx) once on inputs
 * and return n_outputs graph outputs by name (output_names[i]: "logits", "start_logits",
 * "end_logits", "last_hidden_state"; n_outputs >= 1). outputs[i] receives a new host tensor the
 * caller owns; on failure every outputs[i] is NULL. The model is not changed; one run at a time
 * per model (the encoder session's rule). Errors: ONYX_ERR_INVALID_ARGUMENT for a NULL model,
 * inputs, input_ids, output_names, output name or outputs, a struct_size other than
 * onyx_model_inputs_init's, batch or seq <= 0 or too large, a causal LM (use
 * onyx_model_generate), or a name that is not an output of the graph (the message lists the
 * outputs); ONYX_ERR_NOT_IMPLEMENTED for a graph input onyx cannot fill (named) or one that is
 * not int64 / int32; ONYX_ERR_OUT_OF_MEMORY; the session's errors otherwise. */
ONYX_API onyx_status onyx_model_run(onyx_model *model, const onyx_model_inputs *inputs,
                                    const char *const *output_names, size_t n_outputs,
                                    onyx_tensor **outputs);

/* onyx_model_run with input_ids and attention_mask (B, T) = (batch, seq) (attention_mask NULL
 * = all ones), no token_type_ids (zeros where the graph wants them), and one output by name;
 * *out is a new host tensor the caller owns, NULL on failure. Errors as onyx_model_run's. */
ONYX_API onyx_status onyx_model_forward(onyx_model *model, const int64_t *input_ids,
                                        const int64_t *attention_mask, int64_t batch, int64_t seq,
                                        const char *output, onyx_tensor **out);

/* ---------------------------------------------------------------------------------------------
 * Generation (transformers' generate): causal LM and seq2seq LM.
 */
#define ONYX_MAX_EOS_TOKENS 8

typedef struct onyx_generation_config {
    size_t struct_size;
    int64_t max_new_tokens;       /* default 20 */
    int64_t min_new_tokens;       /* eos is suppressed until this many; default 0 */
    int num_beams;                /* 1 = greedy or sampling */
    float length_penalty;         /* beam scores are divided by length^length_penalty; default 1 */
    /* beam search: 1 (True) stops when num_beams hypotheses are done; 0 (False, the default)
     * stops when no running beam can beat the finished ones at the current length; 2 ("never")
     * assumes the longest possible length when length_penalty > 0 (transformers' values) */
    int early_stopping;
    int num_return_sequences;     /* <= num_beams for beam search; default 1 */
    int no_repeat_ngram_size;     /* 0 = off */
    int do_sample;
    float temperature;            /* default 1 */
    int top_k;                    /* default 50 with do_sample (transformers' default), 0 = off */
    float top_p;                  /* default 1 = off */
    /* Sampling RNG seed: xoshiro256** seeded through splitmix64; each draw takes one uniform
     * u in [0, 1) and picks the first token, in vocabulary order, whose running sum of
     * probabilities exceeds u times their total. Reproducible for a seed and provider (the
     * probabilities are computed where the logits are, in float); not PyTorch's generator. */
    uint64_t seed;
    float repetition_penalty;     /* default 1 = off */
    int n_eos;                    /* eos ids (generation_config may list several) */
    int64_t eos_token_id[ONYX_MAX_EOS_TOKENS];
    int64_t pad_token_id;         /* -1 = none */
    int64_t bos_token_id;         /* -1 = none */
    int64_t decoder_start_token_id; /* seq2seq; -1 = from config */
    int64_t forced_bos_token_id;  /* -1 = none (M2M100's target language) */
    int64_t forced_eos_token_id;  /* -1 = none */
} onyx_generation_config;

/* transformers' defaults (greedy, 20 new tokens, no eos). */
ONYX_API void onyx_generation_config_init(onyx_generation_config *config);
/* The model's defaults: generation_config.json over config.json over transformers' defaults.
 * max_length is not read (it counts the prompt); max_new_tokens is. */
ONYX_API onyx_status onyx_model_generation_config(const onyx_model *model, onyx_generation_config *out);

/* Generate from a batch of prompts: input_ids / attention_mask (batch, seq), left-padded for
 * causal LMs (attention_mask NULL = all ones). *sequences receives batch * num_return_sequences
 * rows of *length ids each (causal LM: prompt + new tokens; seq2seq: decoder start + new tokens),
 * rows that finished early padded with pad_token_id (eos when there is no pad), allocated by the
 * library; free it with onyx_ids_free. Greedy search and sampling stop when every row has
 * finished (*length may be shorter than the prompt + max_new_tokens); beam search returns the
 * best num_return_sequences hypotheses per prompt, best first, cut to the longest of them
 * (transformers' beam search). num_beams is at most 64. */
ONYX_API onyx_status onyx_model_generate(onyx_model *model, const int64_t *input_ids,
                                         const int64_t *attention_mask, int64_t batch, int64_t seq,
                                         const onyx_generation_config *config, int64_t **sequences,
                                         int64_t *rows, int64_t *length);
ONYX_API void onyx_ids_free(int64_t *ids);

#ifdef __cplusplus
}
#endif

#endif /* ONYX_MODEL_H */
