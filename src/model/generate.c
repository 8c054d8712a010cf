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
 * next step's past_key_values.* input; the cross-attention presents (.encoder.) of the first
 * step are kept for the whole run. Beam search reorders the self-attention cache rows with the
 * model's Gather graph on the same device; cross-attention rows need no reordering (every beam
 * of a batch item holds the same encoder output).
 *
 * Sampling draws from xoshiro256** seeded through splitmix64 with config->seed: one uniform
 * double u in [0, 1) per draw, the token is the first whose running sum of probabilities, in
 * vocabulary order, exceeds u times the total. Runs are reproducible for a seed; they do not
 * reproduce PyTorch's generator.
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

/* A binding for session with logits on the host and every other output on the cache device. */
static onyx_status binding_for(decoder_run *r, onyx_session *session, onyx_io_binding **out) {
    ONYX_TRY(onyx_io_binding_create(session, out));
    for (size_t i = 0; i < onyx_session_output_count(session); i++) {
        onyx_value_info info;
        ONYX_TRY(onyx_session_output_info(session, i, &info));
        onyx_device_type device = strcmp(info.name, "logits") == 0 ? ONYX_DEVICE_CPU : r->model->cache_device;
        ONYX_TRY(onyx_io_binding_bind_output_to_device(*out, info.name, device));
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
        if (cross && r->steps > 0) { /* the first step's cross-attention cache stays */
            onyx_tensor_destroy(value);
            continue;
        }
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

/* One decoder run. ids is (N, fed): the tokens of this step; total is the sequence length the
 * step ends at (past + fed). *logits receives the host logits (N, fed or 1, V). */
static onyx_status decoder_step(decoder_run *r, const int64_t *ids, int64_t fed, int64_t total, onyx_tensor **logits) {
    onyx_model *m = r->model;
    *logits = NULL;
    onyx_session *session = r->steps > 0 && m->decoder_with_past ? m->decoder_with_past : m->decoder;
    onyx_io_binding **binding = session == m->decoder ? &r->first_binding : &r->past_binding;
    if (!*binding) ONYX_TRY(binding_for(r, session, binding));
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
        onyx_tensor *made = NULL;
        if (n_temps == MAX_STEP_TEMPS) {
            st = onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "%s: the decoder has too many inputs", m->dir);
            break;
        }
        if (strcmp(info.name, "input_ids") == 0) {
            st = onyx_model_int64_tensor(ids, rows, fed, &made);
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
            if (slot) {
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
        if (st == ONYX_OK) st = onyx_io_binding_bind_input(*binding, info.name, made ? made : bound);
    }
    if (st == ONYX_OK) st = onyx_session_run_with_binding(session, *binding);
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

/* scores (N, V) receives the last position of logits (N, T, V) as float32. */
static onyx_status last_logits(const onyx_model *m, onyx_tensor *logits, int64_t rows, int64_t vocab, float *scores) {
    const int64_t *dims = onyx_tensor_dims(logits);
    if (onyx_tensor_rank(logits) != 3 || dims[0] != rows || dims[2] != vocab || dims[1] < 1)
        return onyx_error(ONYX_ERR_INVALID_MODEL, "%s: logits have an unexpected shape (want (%lld, T, %lld))", m->dir,
                          (long long)rows, (long long)vocab);
    int64_t positions = dims[1];
    onyx_dtype dtype = onyx_tensor_dtype(logits);
    const void *data = onyx_tensor_data(logits);
    for (int64_t b = 0; b < rows; b++) {
        int64_t base = (b * positions + positions - 1) * vocab;
        for (int64_t v = 0; v < vocab; v++) {
            if (dtype == ONYX_DTYPE_FLOAT32)
                scores[b * vocab + v] = ((const float *)data)[base + v];
            else if (dtype == ONYX_DTYPE_FLOAT16)
                scores[b * vocab + v] = onyx_f16_to_f32(((const uint16_t *)data)[base + v]);
            else
                return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "%s: logits of dtype %s", m->dir,
                                  onyx_dtype_name(dtype));
        }
    }
    return ONYX_OK;
}

/* Run the decoder on the tokens (N, L) between fed_from and cur_len and leave the last position's
 * logits in scores (N, V); *vocab is read from the first step's logits (scores is allocated
 * then). */
static onyx_status decode(decoder_run *r, const int64_t *tokens, int64_t fed_from, int64_t cur_len, float **scores,
                          int64_t *vocab) {
    int64_t fed = cur_len - fed_from, rows = r->rows;
    int64_t *step_ids = onyx_malloc((size_t)(rows * fed) * sizeof(int64_t));
    if (!step_ids) return onyx_error(ONYX_ERR_OUT_OF_MEMORY, "%s: no memory for the step's ids", r->model->dir);
    for (int64_t b = 0; b < rows; b++)
        memcpy(step_ids + b * fed, tokens + b * r->max_length + fed_from, (size_t)fed * sizeof(int64_t));
    onyx_tensor *logits = NULL;
    onyx_status st = decoder_step(r, step_ids, fed, cur_len, &logits);
    onyx_free(step_ids);
    if (st == ONYX_OK && !*scores) {
        const int64_t *dims = onyx_tensor_dims(logits);
        *vocab = onyx_tensor_rank(logits) == 3 ? dims[2] : 0;
        if (*vocab <= 0) st = onyx_error(ONYX_ERR_INVALID_MODEL, "%s: logits are not (N, T, V)", r->model->dir);
        if (st == ONYX_OK && !(*scores = onyx_malloc((size_t)(rows * *vocab) * sizeof(float))))
            st = onyx_error(ONYX_ERR_OUT_OF_MEMORY, "%s: no memory for (%lld, %lld) scores", r->model->dir,
                            (long long)rows, (long long)*vocab);
    }
    if (st == ONYX_OK) st = last_logits(r->model, logits, rows, *vocab, *scores);
    onyx_tensor_destroy(logits);
    return st;
}

/* ---------------------------------------------------------------------------------------------
 * Logits processors and warpers (transformers' logits_process.py), on one row of V scores
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

/* tokens is the row's first cur_len ids; scores is (V). */
static void process_scores(const search_setup *s, const int64_t *tokens, int64_t cur_len, float *scores, int64_t vocab) {
    const onyx_generation_config *c = s->config;
    if (c->repetition_penalty != 1.0f) {
        float penalty = c->repetition_penalty;
        /* gather then scatter: a token seen twice is penalised once */
        for (int64_t t = 0; t < cur_len; t++) {
            int64_t id = tokens[t];
            if (id < 0 || id >= vocab) continue;
            int seen_before = 0;
            for (int64_t u = 0; u < t && !seen_before; u++) seen_before = tokens[u] == id;
            if (seen_before) continue;
            float v = scores[id];
            scores[id] = v < 0 ? v * penalty : v / penalty;
        }
    }
    int n = c->no_repeat_ngram_size;
    if (n > 0 && cur_len + 1 >= n) {
        /* ban every token that would complete an n-gram already present */
        const int64_t *prefix = tokens + cur_len - (n - 1);
        for (int64_t start = 0; start + n <= cur_len; start++) {
            int same = 1;
            for (int k = 0; k < n - 1 && same; k++) same = tokens[start + k] == prefix[k];
            int64_t banned = tokens[start + n - 1];
            if (same && banned >= 0 && banned < vocab) scores[banned] = -INFINITY;
        }
    }
    if (cur_len - s->prompt_len < c->min_new_tokens)
        for (int i = 0; i < c->n_eos; i++)
            if (c->eos_token_id[i] >= 0 && c->eos_token_id[i] < vocab) scores[c->eos_token_id[i]] = -INFINITY;
    if (c->forced_bos_token_id >= 0 && c->forced_bos_token_id < vocab && cur_len == 1) {
        for (int64_t v = 0; v < vocab; v++) scores[v] = -INFINITY;
        scores[c->forced_bos_token_id] = 0;
    }
    if (c->forced_eos_token_id >= 0 && c->forced_eos_token_id < vocab && cur_len == s->max_length - 1) {
        for (int64_t v = 0; v < vocab; v++) scores[v] = -INFINITY;
        scores[c->forced_eos_token_id] = 0;
    }
}

static int descending_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x < y) - (x > y);
}

/* Temperature, top-k, top-p (TopKLogitsWarper / TopPLogitsWarper with min_tokens_to_keep).
 * sorted is scratch of V floats. */
static void warp_scores(const onyx_generation_config *c, float *scores, int64_t vocab, int min_keep, float *sorted) {
    if (c->temperature != 1.0f)
        for (int64_t v = 0; v < vocab; v++) scores[v] /= c->temperature;
    if (c->top_k > 0) {
        int64_t k = c->top_k > min_keep ? c->top_k : min_keep;
        if (k < vocab) {
            memcpy(sorted, scores, (size_t)vocab * sizeof(float));
            qsort(sorted, (size_t)vocab, sizeof(float), descending_float);
            float threshold = sorted[k - 1];
            for (int64_t v = 0; v < vocab; v++)
                if (scores[v] < threshold) scores[v] = -INFINITY;
        }
    }
    if (c->top_p < 1.0f) {
        /* remove the tokens whose cumulative probability, in ascending order, stays <= 1 - top_p */
        memcpy(sorted, scores, (size_t)vocab * sizeof(float));
        qsort(sorted, (size_t)vocab, sizeof(float), descending_float);
        double max = sorted[0], total = 0;
        for (int64_t v = 0; v < vocab; v++) total += exp((double)sorted[v] - max);
        double cumulative = 0, threshold = -INFINITY;
        for (int64_t i = vocab - 1; i >= 0; i--) {
            cumulative += exp((double)sorted[i] - max) / total;
            if (cumulative > 1.0 - (double)c->top_p || i < min_keep) {
                threshold = sorted[i];
                break;
            }
        }
        for (int64_t v = 0; v < vocab; v++)
            if (scores[v] < threshold) scores[v] = -INFINITY;
    }
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

/* tokens is (N, L) with the prompt in its first cur_len columns; *out_len receives the final
 * length. */
static onyx_status search_greedy(decoder_run *r, const search_setup *s, int64_t *tokens, int64_t cur_len,
                                 int64_t *out_len) {
    const onyx_generation_config *c = s->config;
    int64_t rows = r->rows, vocab = 0, fed_from = 0;
    float *scores = NULL, *sorted = NULL;
    double *weights = NULL;
    uint8_t *unfinished = onyx_malloc((size_t)rows);
    onyx_status st = unfinished ? ONYX_OK : onyx_error(ONYX_ERR_OUT_OF_MEMORY, "%s: no memory for the search", r->model->dir);
    if (unfinished) memset(unfinished, 1, (size_t)rows);
    rng random;
    rng_seed(&random, c->seed);
    int any_unfinished = 1;
    while (st == ONYX_OK && any_unfinished && cur_len < s->max_length) {
        st = decode(r, tokens, fed_from, cur_len, &scores, &vocab);
        if (st == ONYX_OK && c->do_sample && !sorted) {
            sorted = onyx_malloc((size_t)vocab * sizeof(float));
            weights = onyx_malloc((size_t)vocab * sizeof(double));
            if (!sorted || !weights) st = onyx_error(ONYX_ERR_OUT_OF_MEMORY, "%s: no memory for sampling", r->model->dir);
        }
        if (st != ONYX_OK) break;
        any_unfinished = 0;
        for (int64_t b = 0; b < rows; b++) {
            int64_t *row = tokens + b * s->max_length;
            float *row_scores = scores + b * vocab;
            process_scores(s, row, cur_len, row_scores, vocab);
            int64_t next = 0;
            if (c->do_sample) {
                warp_scores(c, row_scores, vocab, 1, sorted);
                softmax_weights(row_scores, vocab, weights);
                next = draw(&random, weights, vocab);
            } else {
                for (int64_t v = 1; v < vocab; v++)
                    if (row_scores[v] > row_scores[next]) next = v;
            }
            if (c->n_eos > 0 && !unfinished[b]) next = s->pad;
            row[cur_len] = next;
            r->mask[b * r->max_length + cur_len] = 1;
            if (c->n_eos > 0 && is_eos(c, next)) unfinished[b] = 0;
            any_unfinished |= unfinished[b];
        }
        fed_from = cur_len;
        cur_len++;
    }
    *out_len = cur_len;
    onyx_free(scores);
    onyx_free(sorted);
    onyx_free(weights);
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
    float *flat;                        /* (beams * V) one batch item's accumulated scores */
    int64_t *order;                     /* (max(beams * V, beams + K)) candidate indices */
    double *weights;                    /* (beams * V) beam sampling */
    float *sorted;                      /* (V) warper scratch */
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
    onyx_free(b->sorted);
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
    float *scores = NULL;
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
        st = decode(r, b.running, fed_from, cur_len, &scores, &vocab);
        if (st == ONYX_OK && !b.flat) {
            int64_t order_len = beams * vocab > beams + K ? beams * vocab : beams + K;
            b.flat = onyx_malloc((size_t)(beams * vocab) * sizeof(float));
            b.order = onyx_malloc((size_t)order_len * sizeof(int64_t));
            b.weights = onyx_malloc((size_t)(beams * vocab) * sizeof(double));
            b.sorted = onyx_malloc((size_t)vocab * sizeof(float));
            if (!b.flat || !b.order || !b.weights || !b.sorted)
                st = onyx_error(ONYX_ERR_OUT_OF_MEMORY, "%s: no memory for beam scores", r->model->dir);
            if (st == ONYX_OK && K > beams * vocab)
                st = onyx_error(ONYX_ERR_INVALID_ARGUMENT, "%s: %lld beams need %lld candidates, the vocabulary has %lld",
                                r->model->dir, (long long)beams, (long long)K, (long long)vocab);
        }
        if (st != ONYX_OK) break;
        int all_hit = 1;
        for (int64_t bi = 0; bi < batch; bi++) {
            /* accumulated log-probabilities of every continuation of every beam */
            for (int64_t j = 0; j < beams; j++) {
                int64_t row = bi * beams + j;
                const float *logit = scores + row * vocab;
                float *lp = b.flat + j * vocab;
                float max = -INFINITY;
                for (int64_t v = 0; v < vocab; v++)
                    if (logit[v] > max) max = logit[v];
                double total = 0;
                for (int64_t v = 0; v < vocab; v++) total += exp((double)logit[v] - (double)max);
                float log_total = (float)log(total);
                for (int64_t v = 0; v < vocab; v++) lp[v] = (logit[v] - max) - log_total;
                process_scores(s, b.running + row * L, cur_len, lp, vocab);
                if (c->do_sample) warp_scores(c, lp, vocab, min_keep, b.sorted);
                for (int64_t v = 0; v < vocab; v++) lp[v] = lp[v] + b.running_scores[row];
            }
            int64_t n = beams * vocab;
            if (c->do_sample) {
                softmax_weights(b.flat, n, b.weights);
                for (int64_t k = 0; k < K; k++) {
                    int64_t pick = draw(&random, b.weights, n);
                    b.order[k] = pick;
                    if (pick >= 0) b.weights[pick] = 0;
                }
            } else {
                top_k_large(b.flat, n, K, b.order);
            }
            for (int64_t k = 0; k < K; k++) {
                int64_t index = b.order[k] < 0 ? 0 : b.order[k], beam = index / vocab, token = index % vocab;
                int64_t *seq = b.cand_seq + (bi * K + k) * L;
                memcpy(seq, b.running + (bi * beams + beam) * L, (size_t)L * sizeof(int64_t));
                seq[cur_len] = token;
                b.cand_scores[bi * K + k] = b.flat[index];
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
    onyx_free(scores);
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
