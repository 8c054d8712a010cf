/*
 * json.c - a pipeline result as the JSON of what transformers' pipeline returns for one input:
 * the same nesting (dict or list, list of lists for several masks) and the same keys in the same
 * order. The generative pipelines give one {"<name>_text": ...} (or, with return_tensors,
 * {"<name>_token_ids": [...]}) per returned sequence; name is transformers' return_name:
 * "generated", "summary" or "translation". Numbers: round4 prints round(x, 4) as Python's repr does ("0.25", "1.0"); otherwise
 * %.17g of the double. Non-finite values are Python's json spellings (NaN, Infinity).
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "onyx/pipeline.h"

typedef struct json_buf {
    char *data;
    size_t len, cap;
    int failed;
} json_buf;

static void put(json_buf *b, const char *s, size_t n) {
    if (b->failed) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) cap *= 2;
        char *grown = onyx_realloc(b->data, cap);
        if (!grown) {
            b->failed = 1;
            return;
        }
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

static void puts_(json_buf *b, const char *s) { put(b, s, strlen(s)); }

static void putf(json_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(json_buf *b, const char *fmt, ...) {
    char tmp[64];
    va_list args;
    va_start(args, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, args);
    va_end(args);
    if (n > 0) put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

static void put_number(json_buf *b, double v, int round4) {
    if (isnan(v)) return puts_(b, "NaN");
    if (isinf(v)) return puts_(b, v > 0 ? "Infinity" : "-Infinity");
    char tmp[64];
    if (round4) {
        snprintf(tmp, sizeof tmp, "%.4f", v);
        size_t n = strlen(tmp);
        while (n > 0 && tmp[n - 1] == '0' && tmp[n - 2] != '.') tmp[--n] = '\0';
    } else {
        snprintf(tmp, sizeof tmp, "%.17g", v);
        if (!strpbrk(tmp, ".e")) strcat(tmp, ".0");
    }
    puts_(b, tmp);
}

static void put_string(json_buf *b, const char *s) {
    puts_(b, "\"");
    for (const char *c = s ? s : ""; *c; c++) {
        unsigned char ch = (unsigned char)*c;
        if (ch == '"') puts_(b, "\\\"");
        else if (ch == '\\') puts_(b, "\\\\");
        else if (ch == '\n') puts_(b, "\\n");
        else if (ch == '\t') puts_(b, "\\t");
        else if (ch == '\r') puts_(b, "\\r");
        else if (ch < 0x20) putf(b, "\\u%04x", ch);
        else put(b, c, 1);
    }
    puts_(b, "\"");
}

static void put_key(json_buf *b, const char *key, int first) {
    if (!first) puts_(b, ", ");
    put_string(b, key);
    puts_(b, ": ");
}

/* transformers' return_name of a generative pipeline. */
static const char *return_name(const onyx_pipeline_result *r) {
    if (r->task == ONYX_TASK_SEQ2SEQ_LM && r->text2text == ONYX_TEXT2TEXT_SUMMARIZATION) return "summary";
    if (r->task == ONYX_TASK_SEQ2SEQ_LM && r->text2text == ONYX_TEXT2TEXT_TRANSLATION) return "translation";
    return "generated";
}

static void put_item(json_buf *b, const onyx_pipeline_result *r, const onyx_pipeline_item *it, int round4) {
    puts_(b, "{");
    switch (r->task) {
    case ONYX_TASK_CAUSAL_LM:
    case ONYX_TASK_SEQ2SEQ_LM: {
        char key[32];
        snprintf(key, sizeof key, "%s_%s", return_name(r), r->tensors ? "token_ids" : "text");
        put_key(b, key, 1);
        if (!r->tensors) {
            put_string(b, it->text);
            break;
        }
        puts_(b, "[");
        for (size_t k = 0; k < it->token_count; k++) putf(b, k ? ", %lld" : "%lld", (long long)it->token_ids[k]);
        puts_(b, "]");
        break;
    }
    case ONYX_TASK_SEQUENCE_CLASSIFICATION:
        put_key(b, "label", 1);
        put_string(b, it->label);
        put_key(b, "score", 0);
        put_number(b, it->score, round4);
        break;
    case ONYX_TASK_TOKEN_CLASSIFICATION:
        put_key(b, r->grouped ? "entity_group" : "entity", 1);
        put_string(b, it->label);
        put_key(b, "score", 0);
        put_number(b, it->score, round4);
        if (!r->grouped) {
            put_key(b, "index", 0);
            putf(b, "%lld", (long long)it->index);
        }
        put_key(b, "word", 0);
        put_string(b, it->text);
        put_key(b, "start", 0);
        putf(b, "%lld", (long long)it->start);
        put_key(b, "end", 0);
        putf(b, "%lld", (long long)it->end);
        break;
    case ONYX_TASK_QUESTION_ANSWERING:
        put_key(b, "score", 1);
        put_number(b, it->score, round4);
        put_key(b, "start", 0);
        putf(b, "%lld", (long long)it->start);
        put_key(b, "end", 0);
        putf(b, "%lld", (long long)it->end);
        put_key(b, "answer", 0);
        put_string(b, it->text);
        break;
    default: /* fill-mask */
        put_key(b, "score", 1);
        put_number(b, it->score, round4);
        put_key(b, "token", 0);
        putf(b, "%lld", (long long)it->index);
        put_key(b, "token_str", 0);
        put_string(b, it->label);
        put_key(b, "sequence", 0);
        put_string(b, it->text);
        break;
    }
    puts_(b, "}");
}

static void put_items(json_buf *b, const onyx_pipeline_result *r, const onyx_pipeline_item *items, size_t n,
                      int round4) {
    puts_(b, "[");
    for (size_t i = 0; i < n; i++) {
        if (i) puts_(b, ", ");
        put_item(b, r, &items[i], round4);
    }
    puts_(b, "]");
}

static void put_rows(json_buf *b, const onyx_pipeline_output *o, int round4) {
    for (size_t row = 0; row < o->rows; row++) {
        if (row) puts_(b, ", ");
        puts_(b, "[");
        for (size_t c = 0; c < o->cols; c++) {
            if (c) puts_(b, ", ");
            put_number(b, o->features[row * o->cols + c], round4);
        }
        puts_(b, "]");
    }
}

onyx_status onyx_pipeline_result_json(const onyx_pipeline_result *r, size_t index, int round4, char **out_json) {
    onyx_error_clear();
    if (!out_json) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "result_json: out_json is NULL");
    *out_json = NULL;
    if (!r || index >= r->count)
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "result_json: no output %zu (result has %zu)", index,
                          r ? r->count : 0);
    const onyx_pipeline_output *o = &r->outputs[index];
    json_buf b = {0};
    if (r->task == ONYX_TASK_FEATURE_EXTRACTION) {
        if (r->pooled) {
            put_rows(&b, o, round4);
        } else {
            puts_(&b, "[[");
            put_rows(&b, o, round4);
            puts_(&b, "]]");
        }
    } else if ((r->task == ONYX_TASK_SEQUENCE_CLASSIFICATION && r->single_item && o->count == 1) ||
               (r->task == ONYX_TASK_QUESTION_ANSWERING && o->count == 1)) {
        put_item(&b, r, &o->items[0], round4);
    } else if (r->task == ONYX_TASK_MASKED_LM && o->mask_count > 1) {
        size_t per = o->count / o->mask_count;
        puts_(&b, "[");
        for (size_t m = 0; m < o->mask_count; m++) {
            if (m) puts_(&b, ", ");
            put_items(&b, r, o->items + m * per, per, round4);
        }
        puts_(&b, "]");
    } else {
        put_items(&b, r, o->items, o->count, round4);
    }
    if (!b.data && !b.failed) puts_(&b, "");
    if (b.failed) {
        onyx_free(b.data);
        return onyx_error(ONYX_ERR_OUT_OF_MEMORY, "result_json: out of memory");
    }
    *out_json = b.data;
    return ONYX_OK;
}
