/*
 * generate.c - transformers' generate() for causal LMs and seq2seq LMs over Optimum's decoder
 * layouts: greedy search, multinomial sampling, beam search (transformers 5's vectorised
 * _beam_search: 2 * num_beams candidates per step, finished hypotheses kept by length-penalised
 * score, the early-stop heuristic) and beam sampling, with the logits processors of
 * _get_logits_processor in its order (repetition penalty, no-repeat n-gram, min new tokens,
 * forced BOS, forced EOS, then temperature, top-k, top-p when sampling).
 *
 * The decoder loop: the first step feeds the whole prompt (seq2seq: the decoder start token) with
 * zero-length past inputs (or runs decoder_model.onnx, which has none), later steps feed one
 * token. Every present.* output is bound to the cache device through IOBinding and becomes the
 * next step's past_key_values.* input, given to the run (onyx_io_binding_give_input), which
 * frees each after its last reader, so the cache is not held twice; the cross-attention presents
 * (.encoder.) of the first step are kept for the whole run. Beam search reorders the
 * self-attention cache rows with the model's Gather graph on the same device; cross-attention
 * rows need no reordering (every beam of a batch item holds the same encoder output).
 *
 * The logits stay where the decoder made them: the token chooser (chooser.c), a graph on the same
 * providers, applies the processors and picks the tokens, and only its small outputs come to the
 * host (the next ids, or the K best candidates of each prompt). The host keeps the token
 * history and the search bookkeeping: it turns no-repeat n-grams and min_new_tokens into bans,
 * decides forced BOS/EOS steps, and, for beam sampling only, draws from the chooser's (B,
 * beams * V) warped scores.
 *
 * Sampling draws from xoshiro256** seeded through splitmix64 with config->seed: one uniform u in
 * [0, 1) per row and step (rounded to float for the chooser), the token is the first whose
 * running sum of probabilities, in vocabulary order, exceeds u times the total; beam sampling
 * draws K candidates per prompt without replacement the same way, in double precision. Runs are
 * reproducible for a seed; they do not reproduce PyTorch's generator.
 *
 * Shapes: B = batch, N = rows (B * beams, or B * num_return_sequences when sampling),
 * L = max length (prompt + max_new_tokens), V = vocab, K = candidates per batch item.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/dtype.h"
#include "core/status.h"
#include "model/model_internal.h"
#include "runtime/session_internal.h"

#define MAX_KV_SLOTS 256
#define MAX_STEP_TEMPS (MAX_KV_SLOTS + 8)
#define MAX_BEAMS 64
#define MAX_CANDIDATES ((ONYX_MAX_EOS_TOKENS + 1) * MAX_BEAMS) /* K = max(2, 1 + n_eos) * beams */

void onyx_generation_config_init(onyx_generation_config *config) {
    if (!config) return;
    memset(config, 0, sizeof *config);
    config->struct_size = sizeof *config;
    config->max_new_tokens = 20;
    config->num_beams = 1;
    config->length_penalty = 1.0f;
    config->num_return_sequences = 1;
    config->temperature = 1.0f;
    config->top_k = 50;
    config->top_p = 1.0f;
    config->repetition_penalty = 1.0f;
    config->pad_token_id = -1;
    config->bos_token_id = -1;
    config->decoder_start_token_id = -1;
    config->forced_bos_token_id = -1;
    config->forced_eos_token_id = -1;
}

/* generation_config.json's key, else config.json's. */
static const cJSON *model_setting(const onyx_model *model, const char *key) {
    const cJSON *item = model->generation_config ? cJSON_GetObjectItemCaseSensitive(model->generation_config, key) : NULL;
    if (!item || cJSON_IsNull(item)) item = cJSON_GetObjectItemCaseSensitive(model->config, key);
    return item && !cJSON_IsNull(item) ? item : NULL;
}

static void setting_int64(const onyx_model *model, const char *key, int64_t *value) {
    const cJSON *item = model_setting(model, key);
    if (cJSON_IsNumber(item)) *value = (int64_t)item->valuedouble;
}

static void setting_int(const onyx_model *model, const char *key, int *value) {
    const cJSON *item = model_setting(model, key);
    if (cJSON_IsNumber(item)) *value = (int)item->valuedouble;
}

static void setting_float(const onyx_model *model, const char *key, float *value) {
    const cJSON *item = model_setting(model, key);
    if (cJSON_IsNumber(item)) *value = (float)item->valuedouble;
}

onyx_status onyx_model_generation_config(const onyx_model *model, onyx_generation_config *out) {
    onyx_error_clear();
    if (!model || !out) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "onyx_model_generation_config: NULL argument");
    onyx_generation_config_init(out);
    setting_int64(model, "max_new_tokens", &out->max_new_tokens);
    setting_int64(model, "min_new_tokens", &out->min_new_tokens);
    setting_int(model, "num_beams", &out->num_beams);
    setting_float(model, "length_penalty", &out->length_penalty);
    setting_int(model, "num_return_sequences", &out->num_return_sequences);
    setting_int(model, "no_repeat_ngram_size", &out->no_repeat_ngram_size);
    setting_float(model, "temperature", &out->temperature);
    setting_int(model, "top_k", &out->top_k);
    setting_float(model, "top_p", &out->top_p);
    setting_float(model, "repetition_penalty", &out->repetition_penalty);
    setting_int64(model, "pad_token_id", &out->pad_token_id);
    setting_int64(model, "bos_token_id", &out->bos_token_id);
    setting_int64(model, "decoder_start_token_id", &out->decoder_start_token_id);
    setting_int64(model, "forced_bos_token_id", &out->forced_bos_token_id);
    setting_int64(model, "forced_eos_token_id", &out->forced_eos_token_id);
    const cJSON *do_sample = model_setting(model, "do_sample");
    if (cJSON_IsBool(do_sample)) out->do_sample = cJSON_IsTrue(do_sample);
    const cJSON *early = model_setting(model, "early_stopping");
    if (cJSON_IsBool(early)) out->early_stopping = cJSON_IsTrue(early);
    if (cJSON_IsString(early) && strcmp(early->valuestring, "never") == 0) out->early_stopping = 2;
    const cJSON *eos = model_setting(model, "eos_token_id");
    if (cJSON_IsNumber(eos)) {
        out->n_eos = 1;
        out->eos_token_id[0] = (int64_t)eos->valuedouble;
    } else if (cJSON_IsArray(eos)) {
        const cJSON *id;
        cJSON_ArrayForEach(id, eos) {
            if (!cJSON_IsNumber(id)) continue;
            if (out->n_eos == ONYX_MAX_EOS_TOKENS)
                return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "%s: eos_token_id lists more than %d ids", model->dir,
                                  ONYX_MAX_EOS_TOKENS);
            out->eos_token_id[out->n_eos++] = (int64_t)id->valuedouble;
        }
    }
    return ONYX_OK;
}

void onyx_ids_free(int64_t *ids) { onyx_free(ids); }

/* ---------------------------------------------------------------------------------------------
 * The decoder loop: sessions, IOBinding, the KV cache
 */
typedef struct kv_slot {
    char past_name[192]; /* past_key_values.{i}.key, past_key_values.{i}.decoder.value, ... */
    onyx_tensor *value;  /* (N, heads, S, D) on the cache device */
    int cross;           /* a cross-attention entry (.encoder.): fixed after the first step */
} kv_slot;

typedef struct decoder_run {
    onyx_model *model;
    int64_t rows;                       /* N */
    int64_t max_length;                 /* L: the columns of mask */
    int64_t *mask;                      /* (N, L) causal LM attention mask; generated columns are 1 */
    onyx_tensor *encoder_hidden_states; /* (N, S_enc, C) seq2seq, on the cache device */
    onyx_tensor *encoder_mask;          /* (N, S_enc) seq2seq, host */
    kv_slot slots[MAX_KV_SLOTS];
    int n_slots;
    onyx_io_binding *first_binding, *past_binding, *gather_binding;
    int steps;                          /* decoder runs so far */
} decoder_run;

static void decoder_run_release(decoder_run *r) {
    for (int i = 0; i < r->n_slots; i++) onyx_tensor_destroy(r->slots[i].value);
    r->n_slots = 0;
    onyx_tensor_destroy(r->encoder_hidden_states);
    onyx_tensor_destroy(r->encoder_mask);
    onyx_io_binding_destroy(r->first_binding);
    onyx_io_binding_destroy(r->past_binding);
    onyx_io_binding_destroy(r->gather_binding);
    onyx_free(r->mask);
}

static kv_slot *find_slot(decoder_run *r, const char *past_name) {
    for (int i = 0; i < r->n_slots; i++)
        if (strcmp(r->slots[i].past_name, past_name) == 0) return &r->slots[i];
    return NULL;
}

static int is_cross_present(const char *name) {
    return strncmp(name, "present.", 8) == 0 && strstr(name, ".encoder.") != NULL;
}

/* A binding for session with every output on the cache device (the logits too: the token
 * chooser reads them there), the cross-attention presents only with cross: after the first
 * step the cache keeps the first step's, and a merged decoder's with-past branch passes its
 * inputs through, which unbound are not copied. */
static onyx_status binding_for(decoder_run *r, onyx_session *session, int cross, onyx_io_binding **out) {
    ONYX_TRY(onyx_io_binding_create(session, out));
    for (size_t i = 0; i < onyx_session_output_count(session); i++) {
        onyx_value_info info;
        ONYX_TRY(onyx_session_output_info(session, i, &info));
        if (!cross && is_cross_present(info.name)) continue;
        ONYX_TRY(onyx_io_binding_bind_output_to_device(*out, info.name, r->model->cache_device));
    }
    return ONYX_OK;
}

/* rows out of source (N_src, ...) into *out (count, ...): out[i] = source[indices[i]]. */
static onyx_status gather_rows(decoder_run *r, const onyx_tensor *source, const int64_t *indices, int64_t count,
                               onyx_tensor **out) {
    onyx_model *m = r->model;
    onyx_tensor *index_tensor = NULL;
    if (!r->gather_binding) {
        ONYX_TRY(onyx_io_binding_create(m->cache_gather, &r->gather_binding));
        ONYX_TRY(onyx_io_binding_bind_output_to_device(r->gather_binding, "gathered", m->cache_device));
    }
    int64_t dims[1] = {count};
    ONYX_TRY(onyx_tensor_create(ONYX_DTYPE_INT64, dims, 1, &index_tensor));
    memcpy(onyx_tensor_data(index_tensor), indices, (size_t)count * sizeof(int64_t));
    onyx_status st = onyx_io_binding_bind_input(r->gather_binding, "data", source);
    if (st == ONYX_OK) st = onyx_io_binding_bind_input(r->gather_binding, "indices", index_tensor);
    if (st == ONYX_OK) st = onyx_session_run_with_binding(m->cache_gather, r->gather_binding);
    onyx_io_binding_clear_inputs(r->gather_binding);
    if (st == ONYX_OK) st = onyx_io_binding_get_output(r->gather_binding, "gathered", out);
    onyx_tensor_destroy(index_tensor);
    return st;
}

/* Reorder the self-attention cache: row i of the next step is row source_rows[i] of this one. */
static onyx_status reorder_cache(decoder_run *r, const int64_t *source_rows) {
    int identity = 1;
    for (int64_t i = 0; i < r->rows; i++) identity &= source_rows[i] == i;
    if (identity) return ONYX_OK;
    for (int i = 0; i < r->n_slots; i++) {
        if (r->slots[i].cross) continue;
        onyx_tensor *gathered = NULL;
        ONYX_TRY(gather_rows(r, r->slots[i].value, source_rows, r->rows, &gathered));
        onyx_tensor_destroy(r->slots[i].value);
        r->slots[i].value = gathered;
    }
    return ONYX_OK;
}

/* Take the outputs of a decoder run: present.* into the cache, logits into *logits. */
static onyx_status take_outputs(decoder_run *r, onyx_session *session, onyx_io_binding *binding, onyx_tensor **logits) {
    for (size_t i = 0; i < onyx_session_output_count(session); i++) {
        onyx_value_info info;
        ONYX_TRY(onyx_session_output_info(session, i, &info));
        if (r->steps > 0 && is_cross_present(info.name)) continue; /* not bound: the first step's stay */
        onyx_tensor *value = NULL;
        ONYX_TRY(onyx_io_binding_get_output(binding, info.name, &value));
        if (strcmp(info.name, "logits") == 0) {
            *logits = value;
            continue;
        }
        if (strncmp(info.name, "present.", 8) != 0) {
            onyx_tensor_destroy(value);
            continue;
        }
        char past_name[sizeof r->slots[0].past_name];
        if ((size_t)snprintf(past_name, sizeof past_name, "past_key_values.%s", info.name + 8) >= sizeof past_name) {
            onyx_tensor_destroy(value);
            return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "%s: output name '%s' is too long", r->model->dir, info.name);
        }
        int cross = strstr(info.name, ".encoder.") != NULL;
        kv_slot *slot = find_slot(r, past_name);
        if (!slot) {
            if (r->n_slots == MAX_KV_SLOTS) {
                onyx_tensor_destroy(value);
                return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "%s: more than %d present outputs", r->model->dir,
                                  MAX_KV_SLOTS);
            }
            slot = &r->slots[r->n_slots++];
            snprintf(slot->past_name, sizeof slot->past_name, "%s", past_name);
            slot->cross = cross;
            slot->value = NULL;
        }
        onyx_tensor_destroy(slot->value);
        slot->value = value;
    }
    if (!*logits) return onyx_error(ONYX_ERR_INVALID_MODEL, "%s: the decoder returned no logits", r->model->dir);
    return ONYX_OK;
}

/* One decoder run. ids is (N, fed): the tokens of this step, on the host, or device_ids, (N, 1) on
 * the cache device (then ids is NULL and fed 1); total is the sequence length the step ends at
 * (past + fed). *logits receives the logits (N, fed or 1, V) on the cache device. With sync == 0
 * the run returns once it is queued (session_run_binding): the logits are for work queued after
 * it on the model's shared queue, or for a readback. */
static onyx_status decoder_step(decoder_run *r, const int64_t *ids, const onyx_tensor *device_ids, int64_t fed,
                                int64_t total, int sync, onyx_tensor **logits) {
    onyx_model *m = r->model;
    *logits = NULL;
    onyx_session *session = r->steps > 0 && m->decoder_with_past ? m->decoder_with_past : m->decoder;
    onyx_io_binding **binding = r->steps == 0 ? &r->first_binding : &r->past_binding;
    if (!*binding) ONYX_TRY(binding_for(r, session, r->steps == 0, binding));
    onyx_tensor *temps[MAX_STEP_TEMPS];
    int n_temps = 0;
    onyx_status st = ONYX_OK;
    int64_t rows = r->rows;
    int64_t *columns = onyx_malloc((size_t)(rows * total) * sizeof(int64_t) + 1);
    if (!columns) return onyx_error(ONYX_ERR_OUT_OF_MEMORY, "%s: no memory for a decoder step", m->dir);
    size_t n_inputs = onyx_session_input_count(session);
    for (size_t i = 0; i < n_inputs && st == ONYX_OK; i++) {
        onyx_value_info info;
        st = onyx_session_input_info(session, i, &info);
        if (st != ONYX_OK) break;
        const onyx_tensor *bound = NULL;
        onyx_tensor *made = NULL, *given = NULL;
        if (n_temps == MAX_STEP_TEMPS) {
            st = onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "%s: the decoder has too many inputs", m->dir);
            break;
        }
        if (strcmp(info.name, "input_ids") == 0) {
            if (device_ids) bound = device_ids;
            else st = onyx_model_int64_tensor(ids, rows, fed, &made);
        } else if (strcmp(info.name, "attention_mask") == 0 && !r->encoder_hidden_states) {
            for (int64_t b = 0; b < rows; b++)
                memcpy(columns + b * total, r->mask + b * r->max_length, (size_t)total * sizeof(int64_t));
            st = onyx_model_int64_tensor(columns, rows, total, &made);
        } else if (strcmp(info.name, "position_ids") == 0) {
            /* cumsum(mask) - 1 with 1 on padding, the last fed columns (as generate makes them) */
            for (int64_t b = 0; b < rows; b++) {
                int64_t seen = 0;
                for (int64_t t = 0; t < total; t++) {
                    int64_t on = r->mask[b * r->max_length + t] != 0;
                    seen += on;
                    if (t >= total - fed) columns[b * fed + t - (total - fed)] = on ? seen - 1 : 1;
                }
            }
            st = onyx_model_int64_tensor(columns, rows, fed, &made);
        } else if (strcmp(info.name, "use_cache_branch") == 0) {
            int64_t one = 1;
            st = onyx_tensor_create(ONYX_DTYPE_BOOL, &one, 1, &made);
            if (st == ONYX_OK) *(uint8_t *)onyx_tensor_data(made) = r->steps > 0;
        } else if (strcmp(info.name, "encoder_hidden_states") == 0 && r->encoder_hidden_states) {
            bound = r->encoder_hidden_states;
        } else if ((strcmp(info.name, "encoder_attention_mask") == 0 || strcmp(info.name, "attention_mask") == 0) &&
                   r->encoder_mask) {
            bound = r->encoder_mask;
        } else if (strncmp(info.name, "past_key_values.", 16) == 0) {
            kv_slot *slot = find_slot(r, info.name);
            if (slot && !slot->cross) {
                /* the run frees it after its Concat, while the presents are written */
                given = slot->value;
                slot->value = NULL;
            } else if (slot) {
                bound = slot->value;
            } else if (r->steps == 0 && info.rank == 4 && info.dims[1] >= 0 && info.dims[3] >= 0) {
                int64_t dims[4] = {rows, info.dims[1], 0, info.dims[3]};
                st = onyx_tensor_create(info.dtype, dims, 4, &made);
            } else {
                st = onyx_error(ONYX_ERR_INVALID_MODEL,
                                "%s: no value for decoder input '%s' (no present output feeds it%s)", m->dir, info.name,
                                r->steps == 0 ? ", and its head dims are not fixed in the graph" : "");
            }
        } else {
            st = onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "%s: generation cannot fill decoder input '%s'", m->dir,
                            info.name);
        }
        if (made) temps[n_temps++] = made;
        if (given) {
            st = onyx_io_binding_give_input(*binding, info.name, given);
            if (st != ONYX_OK) onyx_tensor_destroy(given); /* kept by us on an error; the step fails */
        } else if (st == ONYX_OK) {
            st = onyx_io_binding_bind_input(*binding, info.name, made ? made : bound);
        }
    }
    if (st == ONYX_OK) st = session_run_binding(session, *binding, sync);
    onyx_io_binding_clear_inputs(*binding);
    for (int i = 0; i < n_temps; i++) onyx_tensor_destroy(temps[i]);
    onyx_free(columns);
    if (st == ONYX_OK) st = take_outputs(r, session, *binding, logits);
    if (st != ONYX_OK) {
        onyx_tensor_destroy(*logits);
        *logits = NULL;
        return st;
    }
    r->steps++;
    return ONYX_OK;
}

/* Run the decoder on the tokens (N, L) between fed_from and cur_len, or on device_ids (N, 1) for
 * the one token at fed_from = cur_len - 1 when given; *logits receives its logits (N, fed, V) on the
 * cache device and *vocab their V. sync as in decoder_step. */
static onyx_status decode(decoder_run *r, const int64_t *tokens, const onyx_tensor *device_ids, int64_t fed_from,
                          int64_t cur_len, int sync, onyx_tensor **logits, int64_t *vocab) {
    int64_t fed = cur_len - fed_from, rows = r->rows;
    onyx_status st;
    if (device_ids) {
        st = decoder_step(r, NULL, device_ids, 1, cur_len, sync, logits);
    } else {
        int64_t *step_ids = onyx_malloc((size_t)(rows * fed) * sizeof(int64_t));
        if (!step_ids) return onyx_error(ONYX_ERR_OUT_OF_MEMORY, "%s: no memory for the step's ids", r->model->dir);
        for (int64_t b = 0; b < rows; b++)
            memcpy(step_ids + b * fed, tokens + b * r->max_length + fed_from, (size_t)fed * sizeof(int64_t));
        st = decoder_step(r, step_ids, NULL, fed, cur_len, sync, logits);
        onyx_free(step_ids);
    }
    if (st != ONYX_OK) return st;
    const int64_t *dims = onyx_tensor_dims(*logits);
    if (onyx_tensor_rank(*logits) != 3 || dims[0] != rows || dims[1] < 1 || dims[2] <= 0 ||
        (*vocab && dims[2] != *vocab)) {
        onyx_tensor_destroy(*logits);
        *logits = NULL;
        return onyx_error(ONYX_ERR_INVALID_MODEL, "%s: logits have an unexpected shape (want (%lld, T, V))",
                          r->model->dir, (long long)rows);
    }
    *vocab = dims[2];
    return ONYX_OK;
}

/* ---------------------------------------------------------------------------------------------
 * The token chooser's inputs: bans and the tokens seen, from the token history on the host
 */
typedef struct search_setup {
    const onyx_generation_config *config;
    int64_t prompt_len; /* decoder prompt: the prompt (causal) or 1 (seq2seq) */
    int64_t max_length;
    int64_t pad;        /* what finished rows are padded with; -1 = none */
} search_setup;

static int is_eos(const onyx_generation_config *c, int64_t token) {
    for (int i = 0; i < c->n_eos; i++)
        if (c->eos_token_id[i] == token) return 1;
    return 0;
}

/* The token every row must take at cur_len (forced BOS after the first token, forced EOS at the
 * last position), or -1. transformers sets every other score to -inf. */
static int64_t forced_token(const search_setup *s, int64_t cur_len, int64_t vocab) {
    const onyx_generation_config *c = s->config;
    if (c->forced_bos_token_id >= 0 && c->forced_bos_token_id < vocab && cur_len == 1) return c->forced_bos_token_id;
    if (c->forced_eos_token_id >= 0 && c->forced_eos_token_id < vocab && cur_len == s->max_length - 1)
        return c->forced_eos_token_id;
    return -1;
}

typedef struct chooser_run {
    onyx_chooser_spec spec;
    onyx_session *session;     /* owned by the model */
    onyx_io_binding *binding;
    int64_t *pairs;            /* (capacity, 2) (row, token) pairs */
    float *pair_values;        /* (capacity) */
    int64_t capacity;
    uint8_t *seen;             /* (V) scratch flags */
} chooser_run;

static void chooser_run_release(chooser_run *c) {
    onyx_io_binding_destroy(c->binding);
    onyx_free(c->pairs);
    onyx_free(c->pair_values);
    onyx_free(c->seen);
    memset(c, 0, sizeof *c);
}

/* Open the chooser for mode once V and the logits' dtype are known; its outputs land on
 * out_device. */
static onyx_status chooser_open(decoder_run *r, const search_setup *s, chooser_run *c, onyx_chooser_mode mode,
                                const onyx_tensor *logits, int64_t vocab, int min_keep, onyx_device_type out_device) {
    const onyx_generation_config *g = s->config;
    onyx_chooser_spec spec = {mode, onyx_tensor_dtype(logits), vocab, g->num_beams, 0, g->repetition_penalty,
                              1.0f, 0, 1.0f, 1};
    if (mode == ONYX_CHOOSER_BEAM) spec.candidates = (g->n_eos + 1 > 2 ? g->n_eos + 1 : 2) * (int64_t)g->num_beams;
    if (mode == ONYX_CHOOSER_SAMPLE || mode == ONYX_CHOOSER_BEAM_SAMPLE) {
        spec.temperature = g->temperature;
        spec.top_k = g->top_k;
        spec.top_p = g->top_p;
        spec.min_keep = min_keep;
    }
    onyx_dtype dtype = spec.dtype;
    if (dtype != ONYX_DTYPE_FLOAT32 && dtype != ONYX_DTYPE_FLOAT16 && dtype != ONYX_DTYPE_BFLOAT16)
        return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "%s: logits of dtype %s", r->model->dir, onyx_dtype_name(dtype));
    c->spec = spec;
    ONYX_TRY(onyx_model_chooser(r->model, &spec, &c->session));
    ONYX_TRY(onyx_io_binding_create(c->session, &c->binding));
    for (size_t i = 0; i < onyx_session_output_count(c->session); i++) {
        onyx_value_info info;
        ONYX_TRY(onyx_session_output_info(c->session, i, &info));
        ONYX_TRY(onyx_io_binding_bind_output_to_device(c->binding, info.name, out_device));
    }
    c->capacity = r->rows * (s->max_length + ONYX_MAX_EOS_TOKENS + 1);
    c->pairs = onyx_malloc((size_t)c->capacity * 2 * sizeof(int64_t));
    c->pair_values = onyx_malloc((size_t)c->capacity * sizeof(float));
    c->seen = onyx_calloc((size_t)vocab, 1);
    if (!c->pairs || !c->pair_values || !c->seen)
        return onyx_error(ONYX_ERR_OUT_OF_MEMORY, "%s: no memory for the token chooser's inputs", r->model->dir);
    return ONYX_OK;
}

/* Bind a new host tensor of dtype and dims holding a copy of data as input name of the chooser;
 * *slot receives it (the caller destroys it after the run). */
static onyx_status bind_host(chooser_run *c, const char *name, onyx_dtype dtype, const int64_t *dims, size_t rank,
                             const void *data, onyx_tensor **slot) {
    ONYX_TRY(onyx_tensor_create(dtype, dims, rank, slot));
    memcpy(onyx_tensor_data(*slot), data, onyx_tensor_nbytes(*slot));
    return onyx_io_binding_bind_input(c->binding, name, *slot);
}

/* The bans of every row (tokens is (N, L), the first cur_len columns filled): tokens completing
 * an n-gram already in the row (no_repeat_ngram_size), eos before min_new_tokens. Into
 * c->pairs/pair_values, -inf each; one +inf entry when there are none. Returns the count. */
static int64_t collect_bans(chooser_run *c, const search_setup *s, const int64_t *tokens, int64_t rows, int64_t cur_len) {
    const onyx_generation_config *g = s->config;
    int64_t count = 0, vocab = c->spec.vocab;
    int n = g->no_repeat_ngram_size;
    for (int64_t row = 0; row < rows; row++) {
        const int64_t *t = tokens + row * s->max_length;
        if (n > 0 && cur_len + 1 >= n) {
            const int64_t *prefix = t + cur_len - (n - 1);
            for (int64_t start = 0; start + n <= cur_len; start++) {
                int same = 1;
                for (int k = 0; k < n - 1 && same; k++) same = t[start + k] == prefix[k];
                int64_t banned = t[start + n - 1];
                if (!same || banned < 0 || banned >= vocab || c->seen[banned]) continue;
                c->seen[banned] = 1;
                c->pairs[2 * count] = row;
                c->pairs[2 * count + 1] = banned;
                c->pair_values[count++] = -INFINITY;
            }
        }
        if (cur_len - s->prompt_len < g->min_new_tokens)
            for (int i = 0; i < g->n_eos; i++) {
                int64_t eos = g->eos_token_id[i];
                if (eos < 0 || eos >= vocab || c->seen[eos]) continue;
                c->seen[eos] = 1;
                c->pairs[2 * count] = row;
                c->pairs[2 * count + 1] = eos;
                c->pair_values[count++] = -INFINITY;
            }
        for (int64_t k = count - 1; k >= 0 && c->pairs[2 * k] == row; k--) c->seen[c->pairs[2 * k + 1]] = 0;
    }
    if (count == 0) {
        c->pairs[0] = c->pairs[1] = 0;
        c->pair_values[0] = INFINITY;
        count = 1;
    }
    return count;
}

/* The distinct tokens of each row's first cur_len ids (the repetition penalty's), into
 * c->pairs from index at. Returns the count. */
static int64_t collect_seen(chooser_run *c, const search_setup *s, const int64_t *tokens, int64_t rows,
                            int64_t cur_len, int64_t at) {
    int64_t count = 0, vocab = c->spec.vocab;
    int64_t *pairs = c->pairs + 2 * at;
    for (int64_t row = 0; row < rows; row++) {
        const int64_t *t = tokens + row * s->max_length;
        int64_t first = count;
        for (int64_t k = 0; k < cur_len; k++) {
            if (t[k] < 0 || t[k] >= vocab || c->seen[t[k]]) continue;
            c->seen[t[k]] = 1;
            pairs[2 * count] = row;
            pairs[2 * count + 1] = t[k];
            count++;
        }
        for (int64_t k = first; k < count; k++) c->seen[pairs[2 * k + 1]] = 0;
    }
    return count;
}

/* Run the chooser on this step's logits. uniform (N) for sampling, beam_scores (N) for the beam
 * modes, else NULL. The outputs stay in c->binding, on chooser_open's out_device; sync as in
 * decoder_step. */
static onyx_status chooser_step(decoder_run *r, const search_setup *s, chooser_run *c, const onyx_tensor *logits,
                                const int64_t *tokens, int64_t cur_len, const float *uniform, const float *beam_scores,
                                int sync) {
    onyx_model *m = r->model;
    int64_t rows = r->rows;
    int64_t bans = collect_bans(c, s, tokens, rows, cur_len);
    onyx_tensor *inputs[5] = {0};
    int64_t pair_dims[2] = {bans, 2}, value_dims[1] = {bans}, row_dims[2] = {rows, 1};
    onyx_status st = bind_host(c, "banned", ONYX_DTYPE_INT64, pair_dims, 2, c->pairs, &inputs[0]);
    if (st == ONYX_OK) st = bind_host(c, "banned_values", ONYX_DTYPE_FLOAT32, value_dims, 1, c->pair_values, &inputs[1]);
    if (st == ONYX_OK && c->spec.repetition_penalty != 1.0f) {
        int64_t seen = collect_seen(c, s, tokens, rows, cur_len, bans);
        if (seen == 0)
            st = onyx_error(ONYX_ERR_INVALID_ARGUMENT, "%s: repetition_penalty: no token id of the sequences is below "
                            "the vocabulary size %lld", m->dir, (long long)c->spec.vocab);
        int64_t seen_dims[2] = {seen, 2};
        if (st == ONYX_OK) st = bind_host(c, "seen", ONYX_DTYPE_INT64, seen_dims, 2, c->pairs + 2 * bans, &inputs[2]);
    }
    if (st == ONYX_OK && uniform) st = bind_host(c, "uniform", ONYX_DTYPE_FLOAT32, row_dims, 2, uniform, &inputs[3]);
    if (st == ONYX_OK && beam_scores)
        st = bind_host(c, "beam_scores", ONYX_DTYPE_FLOAT32, row_dims, 2, beam_scores, &inputs[4]);
    if (st == ONYX_OK) st = onyx_io_binding_bind_input(c->binding, "logits", logits);
    if (st == ONYX_OK) st = session_run_binding(c->session, c->binding, sync);
    onyx_io_binding_clear_inputs(c->binding);
    for (int i = 0; i < 5; i++) onyx_tensor_destroy(inputs[i]);
    return st;
}

/* ---------------------------------------------------------------------------------------------
 * Random numbers: xoshiro256** seeded with splitmix64
 */
typedef struct rng {
    uint64_t s[4];
} rng;

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void rng_seed(rng *r, uint64_t seed) {
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static double rng_uniform(rng *r) {
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return (double)(result >> 11) * 0x1.0p-53;
}

/* A uniform float in [0, 1): the double draw rounded down to float (never 1.0f). */
static float rng_uniform_float(rng *r) {
    float u = (float)rng_uniform(r);
    return u < 1.0f ? u : nextafterf(1.0f, 0.0f);
}

/* A token drawn from weights (V, non-negative, not all zero): the first whose running sum
 * exceeds u * total. */
static int64_t draw(rng *r, const double *weights, int64_t count) {
    double total = 0;
    for (int64_t v = 0; v < count; v++) total += weights[v];
    double target = rng_uniform(r) * total, running = 0;
    int64_t last = -1;
    for (int64_t v = 0; v < count; v++) {
        if (weights[v] <= 0) continue;
        running += weights[v];
        last = v;
        if (running > target) return v;
    }
    return last;
}

/* weights (V) receives softmax(scores) (exp(scores - max), unnormalised). */
static void softmax_weights(const float *scores, int64_t count, double *weights) {
    float max = -INFINITY;
    for (int64_t v = 0; v < count; v++)
        if (scores[v] > max) max = scores[v];
    for (int64_t v = 0; v < count; v++) weights[v] = scores[v] == -INFINITY ? 0 : exp((double)scores[v] - (double)max);
}

/* ---------------------------------------------------------------------------------------------
 * Greedy search and sampling (transformers' _sample)
 */

/* Greedy search and sampling. tokens is (N, L) with the prompt in its first cur_len columns;
 * *out_len receives the final length. With the cache on a GPU the chosen ids stay there: each step's
 * decoder run is queued with the ids the chooser is still computing (the model's sessions share
 * one queue), and only then does the host wait for them (a readback). So the host records step
 * t + 1 while the device runs step t, instead of the two taking turns. A row that has finished
 * (eos) is fed its chosen id rather than the pad the host writes for it: rows do not see each
 * other, and a finished row's later ids are pads whatever its logits. */
static onyx_status search_greedy(decoder_run *r, const search_setup *s, int64_t *tokens, int64_t cur_len,
                                 int64_t *out_len) {
    const onyx_generation_config *c = s->config;
    int64_t rows = r->rows, vocab = 0;
    int ahead = r->model->cache_device != ONYX_DEVICE_CPU;
    chooser_run chooser = {0};
    uint8_t *unfinished = onyx_malloc((size_t)rows);
    float *uniform = onyx_malloc((size_t)rows * sizeof(float));
    int64_t *read = onyx_malloc((size_t)rows * sizeof(int64_t));
    onyx_status st = unfinished && uniform && read
                         ? ONYX_OK
                         : onyx_error(ONYX_ERR_OUT_OF_MEMORY, "%s: no memory for the search", r->model->dir);
    if (unfinished) memset(unfinished, 1, (size_t)rows);
    rng random;
    rng_seed(&random, c->seed);
    int any_unfinished = 1;
    onyx_tensor *logits = NULL;
    if (st == ONYX_OK && cur_len < s->max_length) st = decode(r, tokens, NULL, 0, cur_len, !ahead, &logits, &vocab);
    while (st == ONYX_OK && any_unfinished && cur_len < s->max_length) {
        onyx_tensor *next = NULL, *next_logits = NULL;
        if (!chooser.session)
            st = chooser_open(r, s, &chooser, c->do_sample ? ONYX_CHOOSER_SAMPLE : ONYX_CHOOSER_GREEDY, logits, vocab, 1,
                              r->model->cache_device);
        /* one uniform per row and step, drawn whether or not it is used */
        for (int64_t b = 0; c->do_sample && b < rows; b++) uniform[b] = rng_uniform_float(&random);
        int64_t forced = forced_token(s, cur_len, vocab);
        if (st == ONYX_OK && forced < 0) {
            st = chooser_step(r, s, &chooser, logits, tokens, cur_len, c->do_sample ? uniform : NULL, NULL, !ahead);
            if (st == ONYX_OK) st = onyx_io_binding_get_output(chooser.binding, "next", &next);
            if (st == ONYX_OK) st = session_readback_begin(chooser.session, next);
        }
        onyx_tensor_destroy(logits);
        logits = NULL;
        for (int64_t b = 0; b < rows; b++) r->mask[b * r->max_length + cur_len] = 1;
        int queued = 0;
        if (st == ONYX_OK && next) {
            if (ahead && cur_len + 1 < s->max_length) {
                st = decode(r, tokens, next, cur_len, cur_len + 1, 0, &next_logits, &vocab);
                queued = 1;
            }
            onyx_status got = session_readback_wait(chooser.session, next, read);
            if (st == ONYX_OK) st = got;
        }
        onyx_tensor_destroy(next);
        if (st != ONYX_OK) {
            onyx_tensor_destroy(next_logits);
            break;
        }
        any_unfinished = 0;
        for (int64_t b = 0; b < rows; b++) {
            int64_t *row = tokens + b * s->max_length;
            int64_t token = forced < 0 ? read[b] : forced;
            if (c->n_eos > 0 && !unfinished[b]) token = s->pad;
            row[cur_len] = token;
            if (c->n_eos > 0 && is_eos(c, token)) unfinished[b] = 0;
            any_unfinished |= unfinished[b];
        }
        if (!queued && any_unfinished && cur_len + 1 < s->max_length)
            st = decode(r, tokens, NULL, cur_len, cur_len + 1, !ahead, &next_logits, &vocab);
        logits = next_logits;
        cur_len++;
    }
    onyx_tensor_destroy(logits);
    *out_len = cur_len;
    chooser_run_release(&chooser);
    onyx_free(read);
    onyx_free(uniform);
    onyx_free(unfinished);
    return st;
}

/* ---------------------------------------------------------------------------------------------
 * Beam search (transformers 5's _beam_search, vectorised over hypotheses; do_sample: beam
 * sampling, candidates drawn without replacement in place of the top K)
 */
typedef struct beam_state {
    int64_t batch, beams, candidates;   /* B, beams, K */
    int64_t *running;                   /* (B, beams, L) */
    float *running_scores;              /* (B, beams) */
    int64_t *finished;                  /* (B, beams, L) */
    int64_t *finished_scratch;          /* (beams, L) */
    float *finished_scores;             /* (B, beams), length-penalised */
    int64_t *finished_len;              /* (B, beams): generated tokens */
    uint8_t *is_finished;               /* (B, beams) */
    uint8_t *improvable;                /* (B): the early-stop heuristic is unsatisfied */
    int64_t *cand_seq;                  /* (B, K, L) */
    float *cand_scores;                 /* (B, K) */
    int64_t *cand_beam;                 /* (B, K) beam of the candidate's parent */
    uint8_t *cand_hits;                 /* (B, K) eos or max length */
    int64_t *source_rows;               /* (N) cache row each next running beam continues */
    float *flat;                        /* (beams * V) one batch item's scores on a forced step */
    int64_t *order;                     /* (beams + K) candidate indices */
    double *weights;                    /* (beams * V) beam sampling */
} beam_state;

static void beam_state_release(beam_state *b) {
    onyx_free(b->running);
    onyx_free(b->running_scores);
    onyx_free(b->finished);
    onyx_free(b->finished_scratch);
    onyx_free(b->finished_scores);
    onyx_free(b->finished_len);
    onyx_free(b->is_finished);
    onyx_free(b->improvable);
    onyx_free(b->cand_seq);
    onyx_free(b->cand_scores);
    onyx_free(b->cand_beam);
    onyx_free(b->cand_hits);
    onyx_free(b->source_rows);
    onyx_free(b->flat);
    onyx_free(b->order);
    onyx_free(b->weights);
}

/* order[0..k) receives the indices of the k largest of values[0..n), largest first, ties by
 * lower index (a partial selection sort: k is small). */
static void top_k_indices(const float *values, int64_t n, int64_t k, int64_t *order) {
    for (int64_t i = 0; i < k; i++) {
        int64_t best = -1;
        for (int64_t j = 0; j < n; j++) {
            int taken = 0;
            for (int64_t u = 0; u < i && !taken; u++) taken = order[u] == j;
            if (taken) continue;
            if (best < 0 || values[j] > values[best]) best = j;
        }
        order[i] = best;
    }
}

/* The same when n is large: one pass keeping a sorted list of k. */
static void top_k_large(const float *values, int64_t n, int64_t k, int64_t *order) {
    int64_t held = 0;
    for (int64_t j = 0; j < n; j++) {
        if (held == k && !(values[j] > values[order[k - 1]])) continue;
        int64_t at = held < k ? held++ : k - 1;
        while (at > 0 && values[j] > values[order[at - 1]]) {
            order[at] = order[at - 1];
            at--;
        }
        order[at] = j;
    }
}

static onyx_status search_beam(decoder_run *r, const search_setup *s, int64_t batch, int64_t *tokens, int64_t cur_len,
                               int64_t **sequences, int64_t *out_rows, int64_t *out_len) {
    const onyx_generation_config *c = s->config;
    int64_t beams = c->num_beams, L = s->max_length, rows = r->rows, vocab = 0;
    int64_t K = (c->n_eos + 1 > 2 ? c->n_eos + 1 : 2) * beams;
    int min_keep = c->n_eos + 1 > 2 ? c->n_eos + 1 : 2;
    beam_state b = {batch, beams, K, 0};
    chooser_run chooser = {0};
    size_t bl = (size_t)(batch * beams), bk = (size_t)(batch * K);
    b.running = onyx_malloc(bl * (size_t)L * sizeof(int64_t));
    b.running_scores = onyx_malloc(bl * sizeof(float));
    b.finished = onyx_malloc(bl * (size_t)L * sizeof(int64_t));
    b.finished_scratch = onyx_malloc((size_t)(beams * L) * sizeof(int64_t));
    b.finished_scores = onyx_malloc(bl * sizeof(float));
    b.finished_len = onyx_calloc(bl, sizeof(int64_t));
    b.is_finished = onyx_calloc(bl, 1);
    b.improvable = onyx_malloc((size_t)batch);
    b.cand_seq = onyx_malloc(bk * (size_t)L * sizeof(int64_t));
    b.cand_scores = onyx_malloc(bk * sizeof(float));
    b.cand_beam = onyx_malloc(bk * sizeof(int64_t));
    b.cand_hits = onyx_malloc(bk);
    b.source_rows = onyx_malloc((size_t)rows * sizeof(int64_t));
    onyx_status st = ONYX_OK;
    if (!b.running || !b.running_scores || !b.finished || !b.finished_scratch || !b.finished_scores || !b.finished_len || !b.is_finished ||
        !b.improvable || !b.cand_seq || !b.cand_scores || !b.cand_beam || !b.cand_hits || !b.source_rows)
        st = onyx_error(ONYX_ERR_OUT_OF_MEMORY, "%s: no memory for beam search", r->model->dir);
    if (st == ONYX_OK) {
        memcpy(b.running, tokens, bl * (size_t)L * sizeof(int64_t));
        memcpy(b.finished, tokens, bl * (size_t)L * sizeof(int64_t));
        for (size_t i = 0; i < bl; i++) {
            b.running_scores[i] = i % (size_t)beams == 0 ? 0.0f : -1.0e9f;
            b.finished_scores[i] = -1.0e9f;
        }
        memset(b.improvable, 1, (size_t)batch);
    }
    rng random;
    rng_seed(&random, c->seed);
    int64_t prompt_len = s->prompt_len, fed_from = 0;
    int running = 1;
    while (st == ONYX_OK && running && cur_len < L) {
        onyx_tensor *logits = NULL, *values_out = NULL, *indices_out = NULL, *scores_out = NULL;
        st = decode(r, b.running, NULL, fed_from, cur_len, 1, &logits, &vocab);
        if (st == ONYX_OK && !chooser.session) {
            st = chooser_open(r, s, &chooser, c->do_sample ? ONYX_CHOOSER_BEAM_SAMPLE : ONYX_CHOOSER_BEAM, logits,
                              vocab, min_keep, ONYX_DEVICE_CPU);
            b.flat = onyx_malloc((size_t)(beams * vocab) * sizeof(float));
            b.order = onyx_malloc((size_t)(beams + K) * sizeof(int64_t));
            b.weights = onyx_malloc((size_t)(beams * vocab) * sizeof(double));
            if (st == ONYX_OK && (!b.flat || !b.order || !b.weights))
                st = onyx_error(ONYX_ERR_OUT_OF_MEMORY, "%s: no memory for beam scores", r->model->dir);
            if (st == ONYX_OK && K > beams * vocab)
                st = onyx_error(ONYX_ERR_INVALID_ARGUMENT, "%s: %lld beams need %lld candidates, the vocabulary has %lld",
                                r->model->dir, (long long)beams, (long long)K, (long long)vocab);
        }
        int64_t forced = forced_token(s, cur_len, vocab);
        if (st == ONYX_OK && forced < 0) {
            st = chooser_step(r, s, &chooser, logits, b.running, cur_len, NULL, b.running_scores, 1);
            if (st == ONYX_OK && c->do_sample) st = onyx_io_binding_get_output(chooser.binding, "scores", &scores_out);
            if (st == ONYX_OK && !c->do_sample) st = onyx_io_binding_get_output(chooser.binding, "values", &values_out);
            if (st == ONYX_OK && !c->do_sample) st = onyx_io_binding_get_output(chooser.binding, "indices", &indices_out);
        }
        onyx_tensor_destroy(logits);
        int64_t n = beams * vocab;
        int all_hit = 1;
        for (int64_t bi = 0; st == ONYX_OK && bi < batch; bi++) {
            /* the K candidates of this batch item: flat indices beam * V + token, best first */
            const float *flat = NULL;
            if (values_out) {
                const float *values = (const float *)onyx_tensor_data(values_out) + bi * K;
                const int64_t *indices = (const int64_t *)onyx_tensor_data(indices_out) + bi * K;
                for (int64_t k = 0; k < K; k++) {
                    b.order[k] = indices[k];
                    b.cand_scores[bi * K + k] = values[k];
                }
            } else {
                /* beam sampling, or a forced step: every score but the forced token's is -inf */
                if (scores_out) {
                    flat = (const float *)onyx_tensor_data(scores_out) + bi * n;
                } else {
                    for (int64_t v = 0; v < n; v++) b.flat[v] = -INFINITY;
                    for (int64_t j = 0; j < beams; j++) b.flat[j * vocab + forced] = b.running_scores[bi * beams + j];
                    flat = b.flat;
                }
                if (c->do_sample) {
                    softmax_weights(flat, n, b.weights);
                    for (int64_t k = 0; k < K; k++) {
                        int64_t pick = draw(&random, b.weights, n);
                        b.order[k] = pick;
                        if (pick >= 0) b.weights[pick] = 0;
                    }
                } else {
                    top_k_large(flat, n, K, b.order);
                }
                for (int64_t k = 0; k < K; k++) b.cand_scores[bi * K + k] = flat[b.order[k] < 0 ? 0 : b.order[k]];
            }
            for (int64_t k = 0; k < K; k++) {
                int64_t index = b.order[k] < 0 ? 0 : b.order[k], beam = index / vocab, token = index % vocab;
                int64_t *seq = b.cand_seq + (bi * K + k) * L;
                memcpy(seq, b.running + (bi * beams + beam) * L, (size_t)L * sizeof(int64_t));
                seq[cur_len] = token;
                b.cand_beam[bi * K + k] = beam;
                b.cand_hits[bi * K + k] = (c->n_eos > 0 && is_eos(c, token)) || cur_len + 1 >= L;
                all_hit &= b.cand_hits[bi * K + k];
            }
            /* the next running beams: the best candidates that did not finish */
            float values[MAX_CANDIDATES];
            for (int64_t k = 0; k < K; k++)
                values[k] = b.cand_scores[bi * K + k] + (b.cand_hits[bi * K + k] ? -1.0e9f : 0.0f);
            top_k_indices(values, K, beams, b.order);
            for (int64_t j = 0; j < beams; j++) {
                int64_t k = b.order[j];
                memcpy(b.running + (bi * beams + j) * L, b.cand_seq + (bi * K + k) * L, (size_t)L * sizeof(int64_t));
                b.running_scores[bi * beams + j] = values[k];
                b.source_rows[bi * beams + j] = bi * beams + b.cand_beam[bi * K + k];
            }
            /* the finished hypotheses: the best of those kept so far and the top beams that just
             * finished, by length-penalised score */
            int all_finished = 1;
            for (int64_t j = 0; j < beams; j++) all_finished &= b.is_finished[bi * beams + j];
            float denominator = (float)pow((double)(cur_len + 1 - prompt_len), (double)c->length_penalty);
            float merged[MAX_BEAMS + MAX_CANDIDATES];
            for (int64_t j = 0; j < beams; j++) merged[j] = b.finished_scores[bi * beams + j];
            for (int64_t k = 0; k < K; k++) {
                float v = b.cand_scores[bi * K + k] / denominator;
                v += all_finished && c->early_stopping == 1 ? -1.0e9f : 0.0f;
                v += b.improvable[bi] ? 0.0f : -1.0e9f;
                v += b.cand_hits[bi * K + k] && k < beams ? 0.0f : -1.0e9f;
                merged[beams + k] = v;
            }
            top_k_indices(merged, beams + K, beams, b.order);
            /* gather the kept hypotheses (finished_copy is (beams, L) scratch) */
            int64_t *finished_copy = b.finished_scratch;
            float finished_scores[MAX_BEAMS];
            int64_t finished_len[MAX_BEAMS];
            uint8_t is_finished[MAX_BEAMS];
            for (int64_t j = 0; j < beams; j++) {
                int64_t from = b.order[j];
                if (from < beams) {
                    memcpy(finished_copy + j * L, b.finished + (bi * beams + from) * L, (size_t)L * sizeof(int64_t));
                    finished_len[j] = b.finished_len[bi * beams + from];
                    is_finished[j] = b.is_finished[bi * beams + from];
                } else {
                    int64_t k = from - beams;
                    memcpy(finished_copy + j * L, b.cand_seq + (bi * K + k) * L, (size_t)L * sizeof(int64_t));
                    finished_len[j] = cur_len + 1 - prompt_len;
                    is_finished[j] = b.cand_hits[bi * K + k] && k < beams;
                }
                finished_scores[j] = merged[from];
            }
            memcpy(b.finished + bi * beams * L, finished_copy, (size_t)(beams * L) * sizeof(int64_t));
            for (int64_t j = 0; j < beams; j++) {
                b.finished_scores[bi * beams + j] = finished_scores[j];
                b.finished_len[bi * beams + j] = finished_len[j];
                b.is_finished[bi * beams + j] = is_finished[j];
            }
        }
        onyx_tensor_destroy(values_out);
        onyx_tensor_destroy(indices_out);
        onyx_tensor_destroy(scores_out);
        if (st != ONYX_OK) break;
        st = reorder_cache(r, b.source_rows);
        if (st != ONYX_OK) break;
        for (int64_t row = 0; row < rows; row++) r->mask[row * L + cur_len] = 1;
        fed_from = cur_len;
        cur_len++;
        /* the early-stop heuristic and the loop's conditions */
        int any_improvable = 0, all_finished = 1;
        for (int64_t bi = 0; bi < batch; bi++) {
            double best_length = c->early_stopping == 2 && c->length_penalty > 0 ? (double)(L - prompt_len)
                                                                                 : (double)(cur_len - prompt_len);
            float best_possible = b.running_scores[bi * beams] / (float)pow(best_length, (double)c->length_penalty);
            float worst = INFINITY;
            for (int64_t j = 0; j < beams; j++)
                if (b.finished_scores[bi * beams + j] < worst) worst = b.finished_scores[bi * beams + j];
            int any_better = 0;
            for (int64_t j = 0; j < beams; j++) {
                float worst_finished = b.is_finished[bi * beams + j] ? worst : -1.0e9f;
                any_better |= best_possible > worst_finished;
                all_finished &= b.is_finished[bi * beams + j];
            }
            b.improvable[bi] = b.improvable[bi] && any_better;
            any_improvable |= b.improvable[bi];
        }
        running = any_improvable && !(all_finished && c->early_stopping == 1) && !all_hit;
    }
    if (st == ONYX_OK) {
        int64_t returned = c->num_return_sequences, longest = 0;
        for (int64_t bi = 0; bi < batch; bi++)
            for (int64_t j = 0; j < returned; j++)
                if (b.finished_len[bi * beams + j] > longest) longest = b.finished_len[bi * beams + j];
        int64_t width = prompt_len + longest;
        int64_t *out = onyx_malloc((size_t)(batch * returned * width) * sizeof(int64_t) + 1);
        if (!out) st = onyx_error(ONYX_ERR_OUT_OF_MEMORY, "%s: no memory for the sequences", r->model->dir);
        for (int64_t bi = 0; out && bi < batch; bi++)
            for (int64_t j = 0; j < returned; j++)
                memcpy(out + (bi * returned + j) * width, b.finished + (bi * beams + j) * L,
                       (size_t)width * sizeof(int64_t));
        if (out) {
            *sequences = out;
            *out_rows = batch * returned;
            *out_len = width;
        }
    }
    chooser_run_release(&chooser);
    beam_state_release(&b);
    return st;
}

/* ---------------------------------------------------------------------------------------------
 * generate
 */

/* Run the encoder on source (B, T) and mask (B, T); r receives its output expanded to N rows
 * (row n is batch item n / expand) and the expanded mask. */
static onyx_status run_encoder(decoder_run *r, const int64_t *source, const int64_t *mask, int64_t batch, int64_t seq,
                               int64_t expand) {
    onyx_model *m = r->model;
    onyx_io_binding *binding = NULL;
    onyx_tensor *ids = NULL, *batch_mask = NULL, *hidden = NULL;
    int64_t *expanded = onyx_malloc((size_t)(r->rows * seq) * sizeof(int64_t));
    onyx_status st = expanded ? ONYX_OK : onyx_error(ONYX_ERR_OUT_OF_MEMORY, "%s: no memory for the encoder", m->dir);
    if (st == ONYX_OK) st = onyx_model_int64_tensor(source, batch, seq, &ids);
    if (st == ONYX_OK) st = onyx_model_int64_tensor(mask, batch, seq, &batch_mask);
    if (st == ONYX_OK) st = onyx_io_binding_create(m->encoder, &binding);
    for (size_t i = 0; st == ONYX_OK && i < onyx_session_input_count(m->encoder); i++) {
        onyx_value_info info;
        st = onyx_session_input_info(m->encoder, i, &info);
        if (st != ONYX_OK) break;
        if (strcmp(info.name, "input_ids") == 0)
            st = onyx_io_binding_bind_input(binding, info.name, ids);
        else if (strcmp(info.name, "attention_mask") == 0)
            st = onyx_io_binding_bind_input(binding, info.name, batch_mask);
        else
            st = onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "%s/encoder_model.onnx: generation cannot fill input '%s'",
                            m->dir, info.name);
    }
    if (st == ONYX_OK) st = onyx_io_binding_bind_output_to_device(binding, "last_hidden_state", m->cache_device);
    if (st == ONYX_OK) st = onyx_session_run_with_binding(m->encoder, binding);
    if (st == ONYX_OK) st = onyx_io_binding_get_output(binding, "last_hidden_state", &hidden);
    if (st == ONYX_OK && expand > 1) {
        for (int64_t n = 0; n < r->rows; n++) expanded[n] = n / expand;
        st = gather_rows(r, hidden, expanded, r->rows, &r->encoder_hidden_states);
        onyx_tensor_destroy(hidden);
    } else if (st == ONYX_OK) {
        r->encoder_hidden_states = hidden;
    }
    if (st == ONYX_OK) {
        for (int64_t n = 0; n < r->rows; n++)
            memcpy(expanded + n * seq, mask + (n / expand) * seq, (size_t)seq * sizeof(int64_t));
        st = onyx_model_int64_tensor(expanded, r->rows, seq, &r->encoder_mask);
    }
    onyx_io_binding_destroy(binding);
    onyx_tensor_destroy(ids);
    onyx_tensor_destroy(batch_mask);
    onyx_free(expanded);
    return st;
}

static onyx_status check_config(const onyx_model *m, const onyx_generation_config *c) {
    const char *d = m->dir;
    if (c->struct_size != sizeof *c)
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT,
                          "onyx_model_generate: config->struct_size is %zu, expected %zu (call "
                          "onyx_generation_config_init or onyx_model_generation_config)",
                          c->struct_size, sizeof *c);
    if (c->max_new_tokens < 0 || c->min_new_tokens < 0)
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "%s: max_new_tokens (%lld) and min_new_tokens (%lld) must be >= 0",
                          d, (long long)c->max_new_tokens, (long long)c->min_new_tokens);
    if (c->num_beams < 1 || c->num_beams > MAX_BEAMS)
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "%s: num_beams is %d; onyx takes 1 to %d", d, c->num_beams,
                          MAX_BEAMS);
    if (c->num_return_sequences < 1 || (c->num_beams > 1 && c->num_return_sequences > c->num_beams))
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "%s: num_return_sequences is %d; it must be in [1, num_beams = %d]",
                          d, c->num_return_sequences, c->num_beams);
    if (c->num_beams == 1 && !c->do_sample && c->num_return_sequences != 1)
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT,
                          "%s: greedy search returns one sequence per prompt (num_return_sequences is %d); use beam "
                          "search or sampling",
                          d, c->num_return_sequences);
    if (c->n_eos < 0 || c->n_eos > ONYX_MAX_EOS_TOKENS)
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "%s: n_eos is %d; it must be in [0, %d]", d, c->n_eos,
                          ONYX_MAX_EOS_TOKENS);
    if (c->do_sample && !(c->temperature > 0))
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "%s: temperature must be > 0 when sampling, got %g", d,
                          (double)c->temperature);
    if (c->do_sample && !(c->top_p > 0 && c->top_p <= 1))
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "%s: top_p must be in (0, 1], got %g", d, (double)c->top_p);
    if (c->top_k < 0 || c->no_repeat_ngram_size < 0 || !(c->repetition_penalty > 0))
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT,
                          "%s: top_k (%d) and no_repeat_ngram_size (%d) must be >= 0, repetition_penalty (%g) > 0", d,
                          c->top_k, c->no_repeat_ngram_size, (double)c->repetition_penalty);
    return ONYX_OK;
}

onyx_status onyx_model_generate(onyx_model *model, const int64_t *input_ids, const int64_t *attention_mask,
                                int64_t batch, int64_t seq, const onyx_generation_config *config, int64_t **sequences,
                                int64_t *rows, int64_t *length) {
    onyx_error_clear();
    if (sequences) *sequences = NULL;
    if (rows) *rows = 0;
    if (length) *length = 0;
    if (!model || !input_ids || !config || !sequences || !rows || !length)
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "onyx_model_generate: NULL argument");
    if (model->task != ONYX_TASK_CAUSAL_LM && model->task != ONYX_TASK_SEQ2SEQ_LM)
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT,
                          "onyx_model_generate: model '%s' has task %s; generation needs text-generation or "
                          "text2text-generation",
                          model->dir, onyx_task_name(model->task));
    if (batch <= 0 || seq <= 0)
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "onyx_model_generate: batch (%lld) and seq (%lld) must be positive",
                          (long long)batch, (long long)seq);
    ONYX_TRY(check_config(model, config));
    const onyx_generation_config *c = config;
    int seq2seq = model->task == ONYX_TASK_SEQ2SEQ_LM;
    int64_t start_token = c->decoder_start_token_id;
    if (seq2seq && start_token < 0) {
        onyx_generation_config defaults;
        ONYX_TRY(onyx_model_generation_config(model, &defaults));
        start_token = defaults.decoder_start_token_id >= 0 ? defaults.decoder_start_token_id : defaults.bos_token_id;
        if (start_token < 0)
            return onyx_error(ONYX_ERR_INVALID_ARGUMENT,
                              "%s: no decoder_start_token_id (nor bos_token_id) in the config or the model's files",
                              model->dir);
    }
    int64_t expand = c->num_beams > 1 ? c->num_beams : c->num_return_sequences;
    search_setup setup = {c, seq2seq ? 1 : seq, (seq2seq ? 1 : seq) + c->max_new_tokens,
                          c->pad_token_id >= 0 ? c->pad_token_id : c->n_eos > 0 ? c->eos_token_id[0] : -1};
    int64_t N = batch * expand, L = setup.max_length;
    decoder_run *r = onyx_calloc(1, sizeof *r);
    int64_t *tokens = onyx_malloc((size_t)(N * L) * sizeof(int64_t));
    onyx_status st = ONYX_OK;
    if (!r || !tokens || !(r->mask = onyx_calloc((size_t)(N * L), sizeof(int64_t)))) {
        onyx_free(tokens);
        if (r) onyx_free(r->mask);
        onyx_free(r);
        return onyx_error(ONYX_ERR_OUT_OF_MEMORY, "%s: no memory for %lld sequences of %lld tokens", model->dir,
                          (long long)N, (long long)L);
    }
    r->model = model;
    r->rows = N;
    r->max_length = L;
    for (int64_t n = 0; n < N * L; n++) tokens[n] = setup.pad;
    for (int64_t n = 0; n < N; n++) {
        const int64_t *prompt = input_ids + (n / expand) * seq;
        if (seq2seq) {
            tokens[n * L] = start_token;
            r->mask[n * L] = 1;
            continue;
        }
        memcpy(tokens + n * L, prompt, (size_t)seq * sizeof(int64_t));
        for (int64_t t = 0; t < seq; t++)
            r->mask[n * L + t] = attention_mask ? attention_mask[(n / expand) * seq + t] : 1;
    }
    if (seq2seq) {
        int64_t *ones = NULL;
        const int64_t *source_mask = attention_mask;
        if (!source_mask) {
            ones = onyx_malloc((size_t)(batch * seq) * sizeof(int64_t));
            if (!ones) st = onyx_error(ONYX_ERR_OUT_OF_MEMORY, "%s: no memory for the source mask", model->dir);
            for (int64_t i = 0; ones && i < batch * seq; i++) ones[i] = 1;
            source_mask = ones;
        }
        if (st == ONYX_OK) st = run_encoder(r, input_ids, source_mask, batch, seq, expand);
        onyx_free(ones);
    }
    if (st == ONYX_OK && c->num_beams > 1) {
        st = search_beam(r, &setup, batch, tokens, setup.prompt_len, sequences, rows, length);
    } else if (st == ONYX_OK) {
        int64_t out_len = 0;
        st = search_greedy(r, &setup, tokens, setup.prompt_len, &out_len);
        int64_t *out = st == ONYX_OK ? onyx_malloc((size_t)(N * out_len) * sizeof(int64_t) + 1) : NULL;
        if (st == ONYX_OK && !out) st = onyx_error(ONYX_ERR_OUT_OF_MEMORY, "%s: no memory for the sequences", model->dir);
        for (int64_t n = 0; out && n < N; n++) memcpy(out + n * out_len, tokens + n * L, (size_t)out_len * sizeof(int64_t));
        if (out) {
            *sequences = out;
            *rows = N;
            *length = out_len;
        }
    }
    decoder_run_release(r);
    onyx_free(r);
    onyx_free(tokens);
    return st;
}
