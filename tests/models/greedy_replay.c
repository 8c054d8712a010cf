/*
 * greedy_replay.c - model-level parity of generation: replays the greedy cases of every
 * tests/models/<folder>/generation_refs.json through onyx sessions over the folder's ONNX files and
 * checks the token ids against those transformers' generate() produced.
 *
 * The loop is the plain one a runtime runs, with the logits processing the recorded generate kwargs
 * ask for (min_new_tokens bars EOS, forced_bos_token_id forces the first token):
 * - decoder-only folders (model.onnx, or decoder_model_merged.onnx of the legacy layout): the
 *   prompt with a zero-length past first, then one token per step; position_ids, when the graph
 *   has them, are cumsum(attention_mask) - 1 with 1 on padding, as generate makes them;
 * - seq2seq folders: encoder_model.onnx once, then decoder_model_merged.onnx with
 *   use_cache_branch false on the first step and true afterwards; the cross-attention presents of
 *   the first step are kept as past (later steps return empty stand-ins for them).
 * The legacy GPT2 export has no position_ids input, so its left-padded rows legitimately differ
 * from generate's; those rows are reported and not checked.
 *
 * Usage: greedy_replay MODELS_DIR. Registered by tests/models.cmake.
 * B = batch, T = prompt length, S = tokens so far, V = vocab.
 */
#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "harness.h"
#include "onyx/onyx.h"

#define MAX_FEEDS 96
#define MAX_BATCH 16

static onyx_session_options replay_options; /* providers from argv[2] (default cpu) */
static const char *models_dir;

static int file_exists(const char *path) {
    FILE *f = fopen(path, "rb");
    if (f) fclose(f);
    return f != NULL;
}

/* The inputs of one session run, bound by name; set_feed replaces (and destroys) a value. */
typedef struct {
    char *names[MAX_FEEDS];
    onyx_tensor *values[MAX_FEEDS];
    int count;
} feeds;

static void set_feed(feeds *f, const char *name, onyx_tensor *value) {
    for (int i = 0; i < f->count; i++)
        if (strcmp(f->names[i], name) == 0) {
            onyx_tensor_destroy(f->values[i]);
            f->values[i] = value;
            return;
        }
    if (f->count == MAX_FEEDS) {
        onyx_tensor_destroy(value);
        return;
    }
    f->names[f->count] = strdup(name);
    f->values[f->count++] = value;
}

static void clear_feeds(feeds *f) {
    for (int i = 0; i < f->count; i++) {
        free(f->names[i]);
        onyx_tensor_destroy(f->values[i]);
    }
    f->count = 0;
}

/* ids is (rows, cols) */
static onyx_tensor *int64_matrix(const int64_t *ids, int64_t rows, int64_t cols) {
    int64_t dims[2] = {rows, cols};
    onyx_tensor *t = NULL;
    if (onyx_tensor_create(ONYX_DTYPE_INT64, dims, 2, &t) != ONYX_OK) return NULL;
    memcpy(onyx_tensor_data(t), ids, (size_t)(rows * cols) * sizeof(int64_t));
    return t;
}

static int session_has_input(const onyx_session *s, const char *name) {
    for (size_t i = 0; i < onyx_session_input_count(s); i++) {
        onyx_value_info info;
        if (onyx_session_input_info(s, i, &info) == ONYX_OK && strcmp(info.name, name) == 0) return 1;
    }
    return 0;
}

/* Zero-length past for every past_key_values.* input: (B, heads, 0, head_dim). */
static void feed_empty_past(const onyx_session *s, feeds *f, int64_t batch) {
    for (size_t i = 0; i < onyx_session_input_count(s); i++) {
        onyx_value_info info;
        if (onyx_session_input_info(s, i, &info) != ONYX_OK) continue;
        if (strncmp(info.name, "past_key_values.", 16) != 0 || info.rank != 4) continue;
        int64_t dims[4] = {batch, info.dims[1], 0, info.dims[3]};
        onyx_tensor *t = NULL;
        ONYX_CHECK_OK(onyx_tensor_create(info.dtype, dims, 4, &t));
        set_feed(f, info.name, t);
    }
}

static float half_to_float(uint16_t h) {
    int sign = h >> 15, exponent = (h >> 10) & 31, mantissa = h & 1023;
    double v = exponent == 0    ? ldexp(mantissa, -24)
               : exponent == 31 ? (mantissa ? NAN : INFINITY)
                                : ldexp(mantissa + 1024, exponent - 25);
    return (float)(sign ? -v : v);
}

/* The generate kwargs that change the greedy choice. */
typedef struct {
    int max_new_tokens;
    int min_new_tokens;
    int64_t eos_token_id;
    int64_t forced_bos_token_id; /* -1 when absent */
} greedy_rules;

/* Greedy token of row b at the last position of logits (B, Tq, V) after the logits processing. */
static int64_t pick_token(onyx_tensor *logits, int64_t b, int step, const greedy_rules *rules) {
    const int64_t *dims = onyx_tensor_dims(logits);
    int64_t positions = dims[1], vocab = dims[2];
    int64_t base = (b * positions + positions - 1) * vocab;
    int is_half = onyx_tensor_dtype(logits) == ONYX_DTYPE_FLOAT16;
    const void *data = onyx_tensor_data(logits);
    int64_t best = -1;
    float best_value = -INFINITY;
    for (int64_t v = 0; v < vocab; v++) {
        if (step < rules->min_new_tokens && v == rules->eos_token_id) continue;
        if (step == 0 && rules->forced_bos_token_id >= 0 && v != rules->forced_bos_token_id) continue;
        float value = is_half ? half_to_float(((const uint16_t *)data)[base + v]) : ((const float *)data)[base + v];
        if (best < 0 || value > best_value) {
            best = v;
            best_value = value;
        }
    }
    return best;
}

/* Run s on f, all outputs; names[i] and outputs[i] receive them. Returns the count or -1. */
static int run_all(onyx_session *s, feeds *f, const char **names, onyx_tensor **outputs) {
    size_t n = onyx_session_output_count(s);
    if (n > MAX_FEEDS) return -1;
    for (size_t i = 0; i < n; i++) {
        onyx_value_info info;
        if (onyx_session_output_info(s, i, &info) != ONYX_OK) return -1;
        names[i] = info.name;
    }
    onyx_status st = onyx_session_run(s, (const char *const *)f->names, (const onyx_tensor *const *)f->values,
                                      (size_t)f->count, names, n, outputs);
    ONYX_CHECK_OK(st);
    return st == ONYX_OK ? (int)n : -1;
}

/* After a step: logits pick the next tokens into next[b]; presents become the next past. */
static int take_step_outputs(int n, const char **names, onyx_tensor **outputs, feeds *f, int step,
                             int keep_cross_attention, const greedy_rules *rules, int64_t batch,
                             int64_t *next) {
    int got_logits = 0;
    for (int i = 0; i < n; i++) {
        if (strcmp(names[i], "logits") == 0) {
            for (int64_t b = 0; b < batch; b++) next[b] = pick_token(outputs[i], b, step, rules);
            got_logits = 1;
            onyx_tensor_destroy(outputs[i]);
        } else if (strncmp(names[i], "present.", 8) == 0 &&
                   (keep_cross_attention || !strstr(names[i], ".encoder."))) {
            char past_name[256];
            snprintf(past_name, sizeof past_name, "past_key_values.%s", names[i] + 8);
            set_feed(f, past_name, outputs[i]);
        } else {
            onyx_tensor_destroy(outputs[i]);
        }
    }
    return got_logits;
}

/* prompt is (B, T), mask is (B, T); sequence receives (B, T + max_new_tokens). */
static int replay_decoder_only(onyx_session *s, const int64_t *prompt, const int64_t *mask, int64_t batch,
                               int64_t prompt_len, const greedy_rules *rules, int64_t *sequence) {
    int64_t width = prompt_len + rules->max_new_tokens;
    int64_t *full_mask = calloc((size_t)(batch * width), sizeof(int64_t));
    int64_t *step_ids = calloc((size_t)(batch * prompt_len), sizeof(int64_t));
    int64_t *positions = calloc((size_t)(batch * prompt_len), sizeof(int64_t));
    int64_t *step_mask = calloc((size_t)(batch * width), sizeof(int64_t));
    feeds f = {0};
    int ok = full_mask && step_ids && positions && step_mask;
    for (int64_t b = 0; ok && b < batch; b++) {
        memcpy(sequence + b * width, prompt + b * prompt_len, (size_t)prompt_len * sizeof(int64_t));
        memcpy(full_mask + b * width, mask + b * prompt_len, (size_t)prompt_len * sizeof(int64_t));
    }
    if (ok) feed_empty_past(s, &f, batch);
    int64_t mask_len = prompt_len, fed = prompt_len; /* fed: tokens given this step */
    for (int step = 0; ok && step < rules->max_new_tokens; step++) {
        for (int64_t b = 0; b < batch; b++) {
            int64_t seen = 0;
            for (int64_t t = 0; t < mask_len; t++) {
                int64_t m = full_mask[b * width + t];
                step_mask[b * mask_len + t] = m;
                seen += m;
                if (t >= mask_len - fed) positions[b * fed + t - (mask_len - fed)] = m ? seen - 1 : 1;
            }
            memcpy(step_ids + b * fed, sequence + b * width + mask_len - fed, (size_t)fed * sizeof(int64_t));
        }
        set_feed(&f, "input_ids", int64_matrix(step_ids, batch, fed));
        set_feed(&f, "attention_mask", int64_matrix(step_mask, batch, mask_len));
        if (session_has_input(s, "position_ids")) set_feed(&f, "position_ids", int64_matrix(positions, batch, fed));
        if (session_has_input(s, "use_cache_branch")) {
            int64_t one = 1;
            onyx_tensor *flag = NULL;
            ONYX_CHECK_OK(onyx_tensor_create(ONYX_DTYPE_BOOL, &one, 1, &flag));
            if (flag) *(uint8_t *)onyx_tensor_data(flag) = step > 0;
            set_feed(&f, "use_cache_branch", flag);
        }
        const char *names[MAX_FEEDS];
        onyx_tensor *outputs[MAX_FEEDS];
        int64_t next[MAX_BATCH];
        int n = run_all(s, &f, names, outputs);
        ok = n > 0 && take_step_outputs(n, names, outputs, &f, step, 1, rules, batch, next);
        for (int64_t b = 0; ok && b < batch; b++) {
            sequence[b * width + mask_len] = next[b];
            full_mask[b * width + mask_len] = 1;
        }
        mask_len++;
        fed = 1;
    }
    clear_feeds(&f);
    free(full_mask);
    free(step_ids);
    free(positions);
    free(step_mask);
    return ok;
}

/* source and mask are (B, T); sequence receives (B, 1 + max_new_tokens), the start token first. */
static int replay_seq2seq(onyx_session *encoder, onyx_session *decoder, const int64_t *source, const int64_t *mask,
                          int64_t batch, int64_t source_len, int64_t start_token, const greedy_rules *rules,
                          int64_t *sequence) {
    int64_t width = 1 + rules->max_new_tokens;
    feeds encoder_feeds = {0}, f = {0};
    set_feed(&encoder_feeds, "input_ids", int64_matrix(source, batch, source_len));
    set_feed(&encoder_feeds, "attention_mask", int64_matrix(mask, batch, source_len));
    const char *names[MAX_FEEDS];
    onyx_tensor *outputs[MAX_FEEDS];
    int n = run_all(encoder, &encoder_feeds, names, outputs);
    clear_feeds(&encoder_feeds);
    if (n != 1) return 0;
    set_feed(&f, "encoder_hidden_states", outputs[0]);
    set_feed(&f, "encoder_attention_mask", int64_matrix(mask, batch, source_len));
    feed_empty_past(decoder, &f, batch);
    for (int64_t b = 0; b < batch; b++) sequence[b * width] = start_token;
    int ok = 1;
    for (int step = 0; ok && step < rules->max_new_tokens; step++) {
        int64_t last[MAX_BATCH], next[MAX_BATCH];
        for (int64_t b = 0; b < batch; b++) last[b] = sequence[b * width + step];
        set_feed(&f, "input_ids", int64_matrix(last, batch, 1));
        int64_t one = 1;
        onyx_tensor *flag = NULL;
        ONYX_CHECK_OK(onyx_tensor_create(ONYX_DTYPE_BOOL, &one, 1, &flag));
        if (flag) *(uint8_t *)onyx_tensor_data(flag) = step > 0;
        set_feed(&f, "use_cache_branch", flag);
        n = run_all(decoder, &f, names, outputs);
        ok = n > 0 && take_step_outputs(n, names, outputs, &f, step, step == 0, rules, batch, next);
        for (int64_t b = 0; ok && b < batch; b++) sequence[b * width + step + 1] = next[b];
    }
    clear_feeds(&f);
    return ok;
}

static int64_t json_int(const cJSON *object, const char *key, int64_t fallback) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, key);
    return cJSON_IsNumber(item) ? (int64_t)item->valuedouble : fallback;
}

/* Reads a (rows, cols) int matrix from a JSON array of arrays into out; returns 0 on a bad shape. */
static int json_matrix(const cJSON *array, int64_t rows, int64_t cols, int64_t *out) {
    if (cJSON_GetArraySize(array) != rows) return 0;
    for (int64_t r = 0; r < rows; r++) {
        const cJSON *row = cJSON_GetArrayItem(array, (int)r);
        if (cJSON_GetArraySize(row) != cols) return 0;
        for (int64_t c = 0; c < cols; c++) out[r * cols + c] = (int64_t)cJSON_GetArrayItem(row, (int)c)->valuedouble;
    }
    return 1;
}

static void replay_folder(const char *folder_name) {
    char path[4096], folder[2048];
    snprintf(folder, sizeof folder, "%s/%s", models_dir, folder_name);
    snprintf(path, sizeof path, "%s/generation_refs.json", folder);
    char *refs_text = onyx_test_read_text(path);
    snprintf(path, sizeof path, "%s/config.json", folder);
    char *config_text = onyx_test_read_text(path);
    cJSON *refs = refs_text ? cJSON_Parse(refs_text) : NULL, *config = config_text ? cJSON_Parse(config_text) : NULL;
    ONYX_CHECK(refs != NULL && config != NULL);
    onyx_session *encoder = NULL, *decoder = NULL;
    snprintf(path, sizeof path, "%s/encoder_model.onnx", folder);
    int seq2seq = file_exists(path);
    if (refs && config && seq2seq) {
        ONYX_CHECK_OK(onyx_session_create(path, &replay_options, &encoder));
        snprintf(path, sizeof path, "%s/decoder_model_merged.onnx", folder);
    } else {
        snprintf(path, sizeof path, "%s/model.onnx", folder);
        if (!file_exists(path)) snprintf(path, sizeof path, "%s/decoder_model_merged.onnx", folder);
    }
    if (refs && config) ONYX_CHECK_OK(onyx_session_create(path, &replay_options, &decoder));
    int legacy = strstr(folder_name, "legacy") != NULL;
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(refs, "cases")) {
        if (!decoder || (seq2seq && !encoder)) break;
        const cJSON *mode = cJSON_GetObjectItemCaseSensitive(c, "mode");
        if (!cJSON_IsString(mode) || strcmp(mode->valuestring, "greedy") != 0) continue;
        const cJSON *kwargs = cJSON_GetObjectItemCaseSensitive(c, "generate_kwargs");
        const cJSON *prompt_json = cJSON_GetObjectItemCaseSensitive(c, "input_ids");
        const char *label = cJSON_GetObjectItemCaseSensitive(c, "case")->valuestring;
        greedy_rules rules = {(int)json_int(kwargs, "max_new_tokens", 0), (int)json_int(kwargs, "min_new_tokens", 0),
                              json_int(config, "eos_token_id", -1), json_int(kwargs, "forced_bos_token_id", -1)};
        int64_t batch = cJSON_GetArraySize(prompt_json);
        int64_t prompt_len = cJSON_GetArraySize(cJSON_GetArrayItem(prompt_json, 0));
        int64_t width = (seq2seq ? 1 : prompt_len) + rules.max_new_tokens;
        ONYX_CHECK(batch >= 1 && batch <= MAX_BATCH && rules.max_new_tokens > 0);
        if (batch < 1 || batch > MAX_BATCH || rules.max_new_tokens <= 0) continue;
        int64_t *prompt = calloc((size_t)(batch * prompt_len), sizeof(int64_t));
        int64_t *mask = calloc((size_t)(batch * prompt_len), sizeof(int64_t));
        int64_t *got = calloc((size_t)(batch * width), sizeof(int64_t));
        int64_t *want = calloc((size_t)(batch * width), sizeof(int64_t));
        int shapes_ok = prompt && mask && got && want && json_matrix(prompt_json, batch, prompt_len, prompt) &&
                        json_matrix(cJSON_GetObjectItemCaseSensitive(c, "attention_mask"), batch, prompt_len, mask) &&
                        json_matrix(cJSON_GetObjectItemCaseSensitive(c, "sequences"), batch, width, want);
        ONYX_CHECK(shapes_ok);
        int ran = shapes_ok &&
                  (seq2seq ? replay_seq2seq(encoder, decoder, prompt, mask, batch, prompt_len,
                                            json_int(config, "decoder_start_token_id", 0), &rules, got)
                           : replay_decoder_only(decoder, prompt, mask, batch, prompt_len, &rules, got));
        ONYX_CHECK(ran);
        for (int64_t b = 0; ran && b < batch; b++) {
            int padded = 0;
            for (int64_t t = 0; t < prompt_len; t++) padded |= mask[b * prompt_len + t] == 0;
            int64_t first = -1;
            for (int64_t t = 0; t < width && first < 0; t++)
                if (got[b * width + t] != want[b * width + t]) first = t;
            if (legacy && padded) {
                printf("     %s: %s, row %lld: not checked (the legacy export has no position_ids)\n", folder_name,
                       label, (long long)b);
                continue;
            }
            onyx_test_checks++;
            if (first >= 0) {
                onyx_test_failures++;
                fprintf(stderr, "FAIL %s: %s, row %lld: token %lld is %lld, generate() gave %lld\n", folder_name,
                        label, (long long)b, (long long)first, (long long)got[b * width + first],
                        (long long)want[b * width + first]);
            } else {
                printf("     %s: %s, row %lld: %lld tokens match\n", folder_name, label, (long long)b,
                       (long long)width);
            }
        }
        free(prompt);
        free(mask);
        free(got);
        free(want);
    }
    onyx_session_destroy(encoder);
    onyx_session_destroy(decoder);
    cJSON_Delete(refs);
    cJSON_Delete(config);
    free(refs_text);
    free(config_text);
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void test_all_generation_folders(void) {
    DIR *dir = opendir(models_dir);
    ONYX_CHECK(dir != NULL);
    if (!dir) return;
    char *folders[256];
    int count = 0;
    struct dirent *entry;
    while ((entry = readdir(dir)) && count < 256) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s/generation_refs.json", models_dir, entry->d_name);
        if (entry->d_name[0] != '.' && file_exists(path)) folders[count++] = strdup(entry->d_name);
    }
    closedir(dir);
    qsort(folders, (size_t)count, sizeof folders[0], by_name);
    ONYX_CHECK(count > 0);
    for (int i = 0; i < count; i++) {
        replay_folder(folders[i]);
        free(folders[i]);
    }
}

int main(int argc, char **argv) {
    models_dir = argc > 1 ? argv[1] : "tests/models";
    onyx_session_options_init(&replay_options);
    replay_options.providers = argc > 2 ? argv[2] : "cpu";
    if (strcmp(replay_options.providers, "cpu") != 0) {
        /* Skip (77) where the asked-for provider cannot be created. */
        onyx_session *probe = NULL;
        onyx_status st = onyx_session_create_from_memory("", 0, &replay_options, &probe);
        if (st == ONYX_ERR_NO_PROVIDER) {
            printf("skipping: %s\n", onyx_last_error());
            return 77;
        }
        onyx_session_destroy(probe);
    }
    ONYX_TEST_RUN(test_all_generation_folders);
    return onyx_test_finish();
}
