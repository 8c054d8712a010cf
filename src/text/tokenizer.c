/*
 * tokenizer.c - the tokenizer engine behind include/onyx/tokenizer.h: loading tokenizer.json,
 * the encode pipeline (added tokens -> normalizer -> added tokens on normalized text ->
 * pre-tokenizer -> model -> truncation -> post-processor -> padding) and decoding. It follows
 * HF `tokenizers` (Rust) so that ids and offsets agree with it.
 */
#include <stdio.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "core/alloc.h"
#include "core/status.h"
#include "text/components.h"
#include "text/tokenizer_internal.h"

#include <utf8proc.h>

/* ---- post-processor: everything is a template ---- */
typedef struct tk_template_item {
    int is_sequence; /* 1: $A/$B; 0: special token */
    int sequence;    /* 0 = A, 1 = B */
    char *special;   /* special token name (key into specials) */
    int64_t type_id;
} tk_template_item;

typedef struct tk_special {
    char *name;
    int64_t *ids;
    char **tokens;
    size_t count;
} tk_special;

typedef enum tk_post_kind { TK_POST_NONE, TK_POST_TEMPLATE, TK_POST_BYTELEVEL, TK_POST_SEQUENCE } tk_post_kind;

typedef struct tk_post {
    tk_post_kind kind;
    tk_template_item *single, *pair;
    size_t single_count, pair_count;
    tk_special *specials;
    size_t special_count;
    int trim_offsets, add_prefix_space; /* ByteLevel / Roberta offset trimming */
    int keeps_types_without_specials;  /* Bert/Roberta: add_special_tokens=0 leaves type ids as they are */
    int zero_type_ids;                 /* Roberta: every type id is 0, specials or not */
    struct tk_post **children;
    size_t child_count;
} tk_post;

typedef struct tk_added {
    char *content;
    size_t content_len;
    char *match; /* content normalized when normalized=true */
    size_t match_len;
    int64_t id;
    int special, lstrip, rstrip, single_word, normalized;
} tk_added;

struct onyx_tokenizer {
    tk_normalizer *normalizer;
    tk_pretokenizer *pretokenizer;
    tk_model *model;
    tk_decoder *decoder;
    tk_post *post;
    tk_added *added;
    size_t added_count;
    tk_strmap added_by_content;
    /* added tokens by the first byte of their match string: indices
     * added_by_first[first_start[b] .. first_start[b + 1]) */
    size_t *added_by_first;
    size_t first_start[257];
    /* the file's truncation / padding sections */
    int has_truncation, has_padding;
    onyx_encode_options file_options;
    char *file_pad_token;
};

static void post_free(tk_post *p) {
    if (!p) return;
    for (size_t i = 0; i < p->single_count; i++) onyx_free(p->single[i].special);
    for (size_t i = 0; i < p->pair_count; i++) onyx_free(p->pair[i].special);
    onyx_free(p->single);
    onyx_free(p->pair);
    for (size_t i = 0; i < p->special_count; i++) {
        onyx_free(p->specials[i].name);
        onyx_free(p->specials[i].ids);
        for (size_t k = 0; k < p->specials[i].count; k++) onyx_free(p->specials[i].tokens[k]);
        onyx_free(p->specials[i].tokens);
    }
    onyx_free(p->specials);
    for (size_t i = 0; i < p->child_count; i++) post_free(p->children[i]);
    onyx_free(p->children);
    onyx_free(p);
}

static int json_bool(const cJSON *obj, const char *key, int dflt) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsBool(v) ? cJSON_IsTrue(v) : dflt;
}

static onyx_status add_special(tk_post *p, const char *name, const int64_t *ids, char *const *tokens, size_t count) {
    tk_special *g = onyx_realloc(p->specials, (p->special_count + 1) * sizeof(tk_special));
    if (!g) return ONYX_ERR_OUT_OF_MEMORY;
    p->specials = g;
    tk_special *s = &p->specials[p->special_count++];
    memset(s, 0, sizeof(*s));
    s->name = onyx_strdup(name);
    s->ids = onyx_calloc(count ? count : 1, sizeof(int64_t));
    s->tokens = onyx_calloc(count ? count : 1, sizeof(char *));
    if (!s->name || !s->ids || !s->tokens) return ONYX_ERR_OUT_OF_MEMORY;
    s->count = count;
    for (size_t i = 0; i < count; i++) {
        s->ids[i] = ids[i];
        if (!(s->tokens[i] = onyx_strdup(tokens[i]))) return ONYX_ERR_OUT_OF_MEMORY;
    }
    return ONYX_OK;
}

static onyx_status push_item(tk_template_item **items, size_t *n, int is_seq, int seq, const char *special, int64_t type_id) {
    tk_template_item *g = onyx_realloc(*items, (*n + 1) * sizeof(tk_template_item));
    if (!g) return ONYX_ERR_OUT_OF_MEMORY;
    *items = g;
    g[*n] = (tk_template_item){is_seq, seq, NULL, type_id};
    if (special && !(g[*n].special = onyx_strdup(special))) return ONYX_ERR_OUT_OF_MEMORY;
    (*n)++;
    return ONYX_OK;
}

/* "cls": ["[CLS]", 101] */
static onyx_status parse_pair_token(const cJSON *json, const char *key, const char **token, int64_t *id) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(json, key);
    const cJSON *t = cJSON_GetArrayItem(v, 0), *i = cJSON_GetArrayItem(v, 1);
    if (!cJSON_IsString(t) || !cJSON_IsNumber(i)) return onyx_error(ONYX_ERR_INVALID_MODEL, "post_processor \"%s\" must be [token, id]", key);
    *token = t->valuestring;
    *id = tk_json_int(i, 0, 0, INT32_MAX);
    return ONYX_OK;
}

static onyx_status parse_template_list(const cJSON *list, tk_template_item **items, size_t *n) {
    const cJSON *e;
    cJSON_ArrayForEach(e, list) {
        const cJSON *seq = cJSON_GetObjectItemCaseSensitive(e, "Sequence");
        const cJSON *sp = cJSON_GetObjectItemCaseSensitive(e, "SpecialToken");
        const cJSON *body = seq ? seq : sp;
        const cJSON *tid = cJSON_GetObjectItemCaseSensitive(body, "type_id");
        int64_t type_id = tk_json_int(tid, 0, 0, INT32_MAX);
        if (seq) {
            const cJSON *id = cJSON_GetObjectItemCaseSensitive(seq, "id");
            int which = cJSON_IsString(id) && !strcmp(id->valuestring, "B") ? 1 : 0;
            ONYX_TRY(push_item(items, n, 1, which, NULL, type_id));
        } else if (sp) {
            const cJSON *id = cJSON_GetObjectItemCaseSensitive(sp, "id");
            if (!cJSON_IsString(id)) return onyx_error(ONYX_ERR_INVALID_MODEL, "TemplateProcessing SpecialToken has no id");
            ONYX_TRY(push_item(items, n, 0, 0, id->valuestring, type_id));
        } else {
            return onyx_error(ONYX_ERR_INVALID_MODEL, "TemplateProcessing item is neither Sequence nor SpecialToken");
        }
    }
    return ONYX_OK;
}

static onyx_status post_parse(const cJSON *json, tk_post **out) {
    *out = NULL;
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(json, "type");
    if (!cJSON_IsString(type)) return onyx_error(ONYX_ERR_INVALID_MODEL, "post_processor has no \"type\"");
    const char *t = type->valuestring;
    tk_post *p = onyx_calloc(1, sizeof(*p));
    if (!p) return ONYX_ERR_OUT_OF_MEMORY;
    onyx_status st = ONYX_OK;
    if (!strcmp(t, "TemplateProcessing")) {
        p->kind = TK_POST_TEMPLATE;
        if ((st = parse_template_list(cJSON_GetObjectItemCaseSensitive(json, "single"), &p->single, &p->single_count))) goto fail;
        if ((st = parse_template_list(cJSON_GetObjectItemCaseSensitive(json, "pair"), &p->pair, &p->pair_count))) goto fail;
        const cJSON *sp = cJSON_GetObjectItemCaseSensitive(json, "special_tokens"), *e;
        cJSON_ArrayForEach(e, sp) {
            const cJSON *id = cJSON_GetObjectItemCaseSensitive(e, "id");
            const cJSON *ids = cJSON_GetObjectItemCaseSensitive(e, "ids");
            const cJSON *toks = cJSON_GetObjectItemCaseSensitive(e, "tokens");
            int n = cJSON_GetArraySize(ids);
            if (!cJSON_IsString(id) || n != cJSON_GetArraySize(toks) || n > 64) { st = onyx_error(ONYX_ERR_INVALID_MODEL, "TemplateProcessing special token entry is malformed"); goto fail; }
            int64_t idv[64];
            char *tv[64];
            for (int k = 0; k < n; k++) {
                const cJSON *a = cJSON_GetArrayItem(ids, k), *b = cJSON_GetArrayItem(toks, k);
                if (!cJSON_IsNumber(a) || !cJSON_IsString(b)) { st = onyx_error(ONYX_ERR_INVALID_MODEL, "TemplateProcessing special token \"%.50s\" is malformed", id->valuestring); goto fail; }
                idv[k] = tk_json_int(a, 0, 0, INT32_MAX);
                tv[k] = b->valuestring;
            }
            if ((st = add_special(p, id->valuestring, idv, tv, (size_t)n))) goto fail;
        }
    } else if (!strcmp(t, "BertProcessing") || !strcmp(t, "RobertaProcessing")) {
        int roberta = t[0] == 'R';
        p->kind = TK_POST_TEMPLATE;
        p->keeps_types_without_specials = 1;
        const char *cls = NULL, *sep = NULL;
        int64_t cls_id = 0, sep_id = 0;
        if ((st = parse_pair_token(json, "cls", &cls, &cls_id)) || (st = parse_pair_token(json, "sep", &sep, &sep_id))) goto fail;
        char *ct[1] = {(char *)cls}, *stt[1] = {(char *)sep};
        if ((st = add_special(p, cls, &cls_id, ct, 1)) || (st = add_special(p, sep, &sep_id, stt, 1))) goto fail;
        int64_t b_type = roberta ? 0 : 1;
        if ((st = push_item(&p->single, &p->single_count, 0, 0, cls, 0)) || (st = push_item(&p->single, &p->single_count, 1, 0, NULL, 0)) ||
            (st = push_item(&p->single, &p->single_count, 0, 0, sep, 0)) || (st = push_item(&p->pair, &p->pair_count, 0, 0, cls, 0)) ||
            (st = push_item(&p->pair, &p->pair_count, 1, 0, NULL, 0)) || (st = push_item(&p->pair, &p->pair_count, 0, 0, sep, 0)))
            goto fail;
        if (roberta && (st = push_item(&p->pair, &p->pair_count, 0, 0, sep, b_type))) goto fail;
        if ((st = push_item(&p->pair, &p->pair_count, 1, 1, NULL, b_type)) || (st = push_item(&p->pair, &p->pair_count, 0, 0, sep, b_type))) goto fail;
        if (roberta) {
            p->zero_type_ids = 1;
            p->trim_offsets = json_bool(json, "trim_offsets", 1);
            p->add_prefix_space = json_bool(json, "add_prefix_space", 1);
        }
    } else if (!strcmp(t, "ByteLevel")) {
        p->kind = TK_POST_BYTELEVEL;
        p->trim_offsets = json_bool(json, "trim_offsets", 1);
        p->add_prefix_space = json_bool(json, "add_prefix_space", 1);
    } else if (!strcmp(t, "Sequence")) {
        p->kind = TK_POST_SEQUENCE;
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(json, "processors"), *e;
        int n = cJSON_GetArraySize(list);
        p->children = onyx_calloc(n ? (size_t)n : 1, sizeof(tk_post *));
        if (!p->children) { st = ONYX_ERR_OUT_OF_MEMORY; goto fail; }
        cJSON_ArrayForEach(e, list) {
            if ((st = post_parse(e, &p->children[p->child_count]))) goto fail;
            p->child_count++;
        }
    } else {
        st = onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "post_processor type \"%.100s\" is not supported", t);
        goto fail;
    }
    *out = p;
    return ONYX_OK;
fail:
    post_free(p);
    return st;
}

/* ---- encodings ---- */

/* The token strings of an encoding live in chunks that it owns (token_storage, a list whose
 * head is being filled), so a token costs no allocation of its own. Moving tokens from one
 * encoding to another moves the chunks with them. */
typedef struct token_chunk {
    struct token_chunk *next;
    size_t used, cap;
    char text[];
} token_chunk;

/* A copy of token in e's chunks, or NULL when out of memory. */
static char *enc_store_token(onyx_encoding *e, const char *token) {
    size_t n = strlen(token) + 1;
    token_chunk *head = e->token_storage;
    if (!head || head->cap - head->used < n) {
        size_t cap = head ? head->cap * 2 : 256;
        if (cap < n) cap = n;
        token_chunk *fresh = onyx_malloc(sizeof *fresh + cap);
        if (!fresh) return NULL;
        fresh->next = head;
        fresh->used = 0;
        fresh->cap = cap;
        e->token_storage = head = fresh;
    }
    char *copy = head->text + head->used;
    memcpy(copy, token, n);
    head->used += n;
    return copy;
}

/* Give src's chunks to dst (behind dst's head, which goes on being filled). */
static void enc_take_storage(onyx_encoding *dst, onyx_encoding *src) {
    token_chunk *first = src->token_storage, *last = first;
    if (!first) return;
    while (last->next) last = last->next;
    token_chunk *head = dst->token_storage;
    if (head) {
        last->next = head->next;
        head->next = first;
    } else {
        dst->token_storage = first;
    }
    src->token_storage = NULL;
}

static void enc_clear(onyx_encoding *e) {
    for (token_chunk *c = e->token_storage, *next; c; c = next) {
        next = c->next;
        onyx_free(c);
    }
    onyx_free(e->ids); onyx_free(e->type_ids); onyx_free(e->tokens); onyx_free(e->offsets);
    onyx_free(e->word_ids); onyx_free(e->sequence_ids); onyx_free(e->special_tokens_mask);
    onyx_free(e->attention_mask);
    for (size_t i = 0; i < e->overflowing_count; i++) enc_clear(&e->overflowing[i]);
    onyx_free(e->overflowing);
    memset(e, 0, sizeof(*e));
}

static onyx_status enc_reserve(onyx_encoding *e, size_t n) {
    size_t c = n ? n : 1;
#define GROW(field, type, per_token)                                                               \
    do {                                                                                           \
        type *g_ = onyx_realloc(e->field, c * (per_token) * sizeof(type));                         \
        if (!g_) return ONYX_ERR_OUT_OF_MEMORY;                                                    \
        e->field = g_;                                                                             \
    } while (0)
    GROW(ids, int64_t, 1); GROW(type_ids, int64_t, 1); GROW(tokens, char *, 1); GROW(offsets, int64_t, 2);
    GROW(word_ids, int64_t, 1); GROW(sequence_ids, int64_t, 1); GROW(special_tokens_mask, int64_t, 1);
    GROW(attention_mask, int64_t, 1);
#undef GROW
    return ONYX_OK;
}

/* Append one token; its string is copied into e's chunks, or, when owned_token is set, already
 * lives in chunks that the caller hands to e (enc_take_storage). */
static onyx_status enc_push_token(onyx_encoding *e, size_t *cap, int64_t id, int64_t type_id, const char *token,
                                  char *owned_token, int64_t start, int64_t end, int64_t word, int64_t seq,
                                  int64_t special, int64_t attention) {
    if (e->length == *cap) {
        size_t c = *cap ? *cap * 2 : 16;
        ONYX_TRY(enc_reserve(e, c));
        *cap = c;
    }
    char *t = owned_token ? owned_token : enc_store_token(e, token);
    if (!t) return ONYX_ERR_OUT_OF_MEMORY;
    size_t i = e->length++;
    e->ids[i] = id; e->type_ids[i] = type_id; e->tokens[i] = t;
    e->offsets[2 * i] = start; e->offsets[2 * i + 1] = end;
    e->word_ids[i] = word; e->sequence_ids[i] = seq; e->special_tokens_mask[i] = special;
    e->attention_mask[i] = attention;
    return ONYX_OK;
}

static onyx_status enc_push(onyx_encoding *e, size_t *cap, int64_t id, int64_t type_id, const char *token,
                            int64_t start, int64_t end, int64_t word, int64_t seq, int64_t special, int64_t attention) {
    return enc_push_token(e, cap, id, type_id, token, NULL, start, end, word, seq, special, attention);
}

/* Append src's tokens [s,e) (type_id >= 0 overrides theirs). With move (always of all of src),
 * the token strings and the chunks holding them are taken from src instead of copied. */
static onyx_status enc_append(onyx_encoding *dst, size_t *cap, onyx_encoding *src, size_t s, size_t e,
                              int64_t type_id, int move) {
    if (move && dst->length == 0 && *cap == 0 && !dst->ids && s == 0 && e == src->length && e > 0) {
        /* All of src into an empty dst: take its arrays instead of copying them. */
        dst->ids = src->ids; dst->type_ids = src->type_ids; dst->tokens = src->tokens;
        dst->offsets = src->offsets; dst->word_ids = src->word_ids; dst->sequence_ids = src->sequence_ids;
        dst->special_tokens_mask = src->special_tokens_mask; dst->attention_mask = src->attention_mask;
        dst->length = *cap = src->length;
        src->ids = src->type_ids = src->offsets = src->word_ids = src->sequence_ids = NULL;
        src->special_tokens_mask = src->attention_mask = NULL;
        src->tokens = NULL;
        src->length = 0;
        enc_take_storage(dst, src);
        if (type_id >= 0)
            for (size_t i = 0; i < dst->length; i++) dst->type_ids[i] = type_id;
        return ONYX_OK;
    }
    for (size_t i = s; i < e; i++) {
        char *owned = move ? src->tokens[i] : NULL;
        ONYX_TRY(enc_push_token(dst, cap, src->ids[i], type_id >= 0 ? type_id : src->type_ids[i], src->tokens[i],
                                owned, src->offsets[2 * i], src->offsets[2 * i + 1], src->word_ids[i],
                                src->sequence_ids[i], src->special_tokens_mask[i], src->attention_mask[i]));
        if (move) src->tokens[i] = NULL;
    }
    if (move) enc_take_storage(dst, src);
    return ONYX_OK;
}

static onyx_status enc_append_range(onyx_encoding *dst, size_t *cap, const onyx_encoding *src, size_t s, size_t e,
                                    int64_t seq, int64_t type_id) {
    (void)seq;
    return enc_append(dst, cap, (onyx_encoding *)src, s, e, type_id, 0);
}

ONYX_API void onyx_encoding_destroy(onyx_encoding *encoding) {
    if (!encoding) return;
    enc_clear(encoding);
    onyx_free(encoding);
}

ONYX_API void onyx_encoding_batch_destroy(onyx_encoding *encodings, size_t n) {
    if (!encodings) return;
    for (size_t i = 0; i < n; i++) enc_clear(&encodings[i]);
    onyx_free(encodings);
}

/* ---- loading ---- */

ONYX_API void onyx_tokenizer_destroy(onyx_tokenizer *t) {
    if (!t) return;
    tk_normalizer_free(t->normalizer);
    tk_pretokenizer_free(t->pretokenizer);
    tk_model_free(t->model);
    tk_decoder_free(t->decoder);
    post_free(t->post);
    for (size_t i = 0; i < t->added_count; i++) {
        onyx_free(t->added[i].content);
        onyx_free(t->added[i].match);
    }
    onyx_free(t->added);
    onyx_free(t->added_by_first);
    tk_strmap_free(&t->added_by_content);
    onyx_free(t->file_pad_token);
    onyx_free(t);
}

ONYX_API void onyx_encode_options_init(onyx_encode_options *o) {
    memset(o, 0, sizeof(*o));
    o->struct_size = sizeof(*o);
    o->add_special_tokens = 1;
    o->truncation_source = ONYX_CONFIG_FROM_OPTIONS;
    o->padding_source = ONYX_CONFIG_FROM_OPTIONS;
    o->pad_id = -1;
}

static onyx_status parse_added(onyx_tokenizer *t, const cJSON *list) {
    int n = cJSON_GetArraySize(list);
    if (n <= 0) return ONYX_OK;
    t->added = onyx_calloc((size_t)n, sizeof(tk_added));
    if (!t->added) return ONYX_ERR_OUT_OF_MEMORY;
    const cJSON *e;
    cJSON_ArrayForEach(e, list) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(e, "id"), *c = cJSON_GetObjectItemCaseSensitive(e, "content");
        if (!cJSON_IsNumber(id) || !cJSON_IsString(c)) return onyx_error(ONYX_ERR_INVALID_MODEL, "added_tokens entry %zu has no id or content", t->added_count);
        size_t len = strlen(c->valuestring);
        if (len == 0) continue;
        tk_added *a = &t->added[t->added_count];
        a->id = tk_json_int(id, -1, -1, INT32_MAX);
        if (a->id < 0) return onyx_error(ONYX_ERR_INVALID_MODEL, "added token \"%.50s\" has negative id", c->valuestring);
        a->special = json_bool(e, "special", 0);
        a->lstrip = json_bool(e, "lstrip", 0);
        a->rstrip = json_bool(e, "rstrip", 0);
        a->single_word = json_bool(e, "single_word", 0);
        a->normalized = json_bool(e, "normalized", !a->special);
        a->content = onyx_strdup(c->valuestring);
        if (!a->content) return ONYX_ERR_OUT_OF_MEMORY;
        a->content_len = len;
        t->added_count++;
        ONYX_TRY(tk_strmap_put(&t->added_by_content, a->content, len, a->id));
        if (a->normalized && t->normalizer) {
            tk_nstr ns = {0};
            ONYX_TRY(tk_nstr_from_original(&ns, a->content, len, 0));
            onyx_status st = tk_normalizer_run(t->normalizer, &ns);
            if (st) { tk_nstr_free(&ns); return st; }
            a->match = onyx_strndup(ns.text, ns.len);
            a->match_len = ns.len;
            tk_nstr_free(&ns);
            if (!a->match) return ONYX_ERR_OUT_OF_MEMORY;
        } else {
            if (!(a->match = onyx_strdup(a->content))) return ONYX_ERR_OUT_OF_MEMORY;
            a->match_len = len;
        }
    }
    /* index by first byte (counting sort) */
    t->added_by_first = onyx_malloc((t->added_count ? t->added_count : 1) * sizeof(size_t));
    if (!t->added_by_first) return ONYX_ERR_OUT_OF_MEMORY;
    size_t counts[257] = {0};
    for (size_t i = 0; i < t->added_count; i++)
        if (t->added[i].match_len) counts[(unsigned char)t->added[i].match[0] + 1]++;
    for (size_t b = 0; b < 256; b++) counts[b + 1] += counts[b];
    memcpy(t->first_start, counts, sizeof(counts));
    for (size_t i = 0; i < t->added_count; i++)
        if (t->added[i].match_len) t->added_by_first[counts[(unsigned char)t->added[i].match[0]]++] = i;
    return ONYX_OK;
}

static void parse_truncation_padding(onyx_tokenizer *t, const cJSON *root) {
    onyx_encode_options *o = &t->file_options;
    onyx_encode_options_init(o);
    const cJSON *tr = cJSON_GetObjectItemCaseSensitive(root, "truncation");
    if (cJSON_IsObject(tr)) {
        t->has_truncation = 1;
        const cJSON *ml = cJSON_GetObjectItemCaseSensitive(tr, "max_length"), *sd = cJSON_GetObjectItemCaseSensitive(tr, "stride");
        const cJSON *sg = cJSON_GetObjectItemCaseSensitive(tr, "strategy"), *dr = cJSON_GetObjectItemCaseSensitive(tr, "direction");
        o->max_length = (size_t)tk_json_int(ml, 512, 0, INT32_MAX);
        o->stride = (size_t)tk_json_int(sd, 0, 0, INT32_MAX);
        o->truncation = ONYX_TRUNCATE_LONGEST_FIRST;
        if (cJSON_IsString(sg) && !strcmp(sg->valuestring, "OnlyFirst")) o->truncation = ONYX_TRUNCATE_ONLY_FIRST;
        if (cJSON_IsString(sg) && !strcmp(sg->valuestring, "OnlySecond")) o->truncation = ONYX_TRUNCATE_ONLY_SECOND;
        o->truncation_side = cJSON_IsString(dr) && !strcmp(dr->valuestring, "Left") ? ONYX_SIDE_LEFT : ONYX_SIDE_RIGHT;
    }
    const cJSON *pd = cJSON_GetObjectItemCaseSensitive(root, "padding");
    if (cJSON_IsObject(pd)) {
        t->has_padding = 1;
        const cJSON *sg = cJSON_GetObjectItemCaseSensitive(pd, "strategy");
        o->padding = ONYX_PAD_LONGEST;
        const cJSON *fixed = cJSON_GetObjectItemCaseSensitive(sg, "Fixed");
        if (cJSON_IsNumber(fixed)) { o->padding = ONYX_PAD_MAX_LENGTH; o->padding_length = (size_t)tk_json_int(fixed, 0, 0, 1 << 24); }
        const cJSON *dr = cJSON_GetObjectItemCaseSensitive(pd, "direction");
        o->padding_side = cJSON_IsString(dr) && !strcmp(dr->valuestring, "Left") ? ONYX_SIDE_LEFT : ONYX_SIDE_RIGHT;
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(pd, "pad_to_multiple_of");
        o->pad_to_multiple_of = (size_t)tk_json_int(m, 0, 0, 1 << 24);
        const cJSON *pid = cJSON_GetObjectItemCaseSensitive(pd, "pad_id"), *ptid = cJSON_GetObjectItemCaseSensitive(pd, "pad_type_id");
        const cJSON *ptok = cJSON_GetObjectItemCaseSensitive(pd, "pad_token");
        o->pad_id = tk_json_int(pid, -1, -1, INT32_MAX);
        o->pad_type_id = tk_json_int(ptid, 0, 0, INT32_MAX);
        if (cJSON_IsString(ptok)) t->file_pad_token = onyx_strdup(ptok->valuestring);
        o->pad_token = t->file_pad_token;
    }
}

onyx_status onyx_tokenizer_from_cjson(const cJSON *root, onyx_tokenizer **out) {
    *out = NULL;
    if (!cJSON_IsObject(root)) return onyx_error(ONYX_ERR_INVALID_MODEL, "tokenizer.json is not a JSON object");
    onyx_tokenizer *t = onyx_calloc(1, sizeof(*t));
    if (!t) return ONYX_ERR_OUT_OF_MEMORY;
    onyx_status st = ONYX_OK;
    const cJSON *v;
    if ((v = cJSON_GetObjectItemCaseSensitive(root, "normalizer")) && !cJSON_IsNull(v) && (st = tk_normalizer_parse(v, &t->normalizer))) goto fail;
    if ((v = cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer")) && !cJSON_IsNull(v) && (st = tk_pretokenizer_parse(v, &t->pretokenizer))) goto fail;
    v = cJSON_GetObjectItemCaseSensitive(root, "model");
    if (!cJSON_IsObject(v)) { st = onyx_error(ONYX_ERR_INVALID_MODEL, "tokenizer.json has no \"model\" object"); goto fail; }
    if ((st = tk_model_parse(v, &t->model))) goto fail;
    if ((v = cJSON_GetObjectItemCaseSensitive(root, "decoder")) && !cJSON_IsNull(v) && (st = tk_decoder_parse(v, &t->decoder))) goto fail;
    if ((v = cJSON_GetObjectItemCaseSensitive(root, "post_processor")) && !cJSON_IsNull(v) && (st = post_parse(v, &t->post))) goto fail;
    if ((st = parse_added(t, cJSON_GetObjectItemCaseSensitive(root, "added_tokens")))) goto fail;
    parse_truncation_padding(t, root);
    *out = t;
    return ONYX_OK;
fail:
    onyx_tokenizer_destroy(t);
    return st;
}

ONYX_API onyx_status onyx_tokenizer_load_json(const char *json, size_t size, onyx_tokenizer **out) {
    onyx_error_clear();
    if (!out) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "onyx_tokenizer_load_json: out is NULL");
    *out = NULL;
    if (!json) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "onyx_tokenizer_load_json: json is NULL");
    cJSON *root = cJSON_ParseWithLength(json, size);
    if (!root) {
        const char *at = cJSON_GetErrorPtr();
        size_t off = at && at >= json && at <= json + size ? (size_t)(at - json) : 0;
        return onyx_error(ONYX_ERR_INVALID_MODEL, "tokenizer.json is not valid JSON (near byte %zu)", off);
    }
    onyx_status st = onyx_tokenizer_from_cjson(root, out);
    cJSON_Delete(root);
    return st;
}

static onyx_status read_file(const char *path, char **data, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return onyx_error(ONYX_ERR_IO, "cannot open tokenizer file \"%s\"", path);
    tk_buf b = {0};
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        if (tk_buf_add(&b, chunk, n)) { fclose(f); tk_buf_free(&b); return ONYX_ERR_OUT_OF_MEMORY; }
    int bad = ferror(f);
    fclose(f);
    if (bad) { tk_buf_free(&b); return onyx_error(ONYX_ERR_IO, "cannot read tokenizer file \"%s\"", path); }
    *data = b.data;
    *size = b.len;
    return ONYX_OK;
}

static int file_exists(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    fclose(f);
    return 1;
}

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

ONYX_API onyx_status onyx_tokenizer_load(const char *path, onyx_tokenizer **out) {
    onyx_error_clear();
    if (!out) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "onyx_tokenizer_load: out is NULL");
    *out = NULL;
    if (!path) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "onyx_tokenizer_load: path is NULL");
    char joined[4096];
    const char *json_path = path;
    if (ends_with(path, ".model")) {
        return onyx_sentencepiece_load(path, NULL, out);
    }
    FILE *probe = fopen(path, "rb");
    int is_dir = 0;
    if (probe) {
        char c;
        is_dir = fread(&c, 1, 1, probe) == 0 && ferror(probe);
        fclose(probe);
    } else {
        return onyx_error(ONYX_ERR_IO, "cannot open tokenizer \"%s\"", path);
    }
    if (is_dir) {
        snprintf(joined, sizeof(joined), "%s/tokenizer.json", path);
        if (!file_exists(joined)) {
            static const char *const sp_names[] = {"spiece.model", "sentencepiece.bpe.model", "tokenizer.model"};
            for (size_t i = 0; i < 3; i++) {
                snprintf(joined, sizeof(joined), "%s/%s", path, sp_names[i]);
                if (file_exists(joined)) {
                    return onyx_sentencepiece_load(joined, path, out);
                }
            }
            return onyx_error(ONYX_ERR_IO, "folder \"%s\" has no tokenizer.json or SentencePiece model", path);
        }
        json_path = joined;
    }
    char *data = NULL;
    size_t size = 0;
    ONYX_TRY(read_file(json_path, &data, &size));
    onyx_status st = onyx_tokenizer_load_json(data, size, out);
    onyx_free(data);
    if (st) onyx_error_prefix(st, "%s: ", json_path);
    return st;
}

/* ---- vocabulary ---- */

ONYX_API size_t onyx_tokenizer_vocab_size(const onyx_tokenizer *t) {
    if (!t) return 0;
    size_t n = t->model->vocab_size;
    for (size_t i = 0; i < t->added_count; i++)
        if ((size_t)t->added[i].id >= n) n = (size_t)t->added[i].id + 1;
    return n;
}

ONYX_API int64_t onyx_tokenizer_token_to_id(const onyx_tokenizer *t, const char *token, size_t len) {
    if (!t || !token) return -1;
    int64_t id = tk_strmap_get(&t->added_by_content, token, len);
    if (id >= 0) return id;
    return tk_strmap_get(&t->model->vocab, token, len);
}

static const tk_added *added_by_id(const onyx_tokenizer *t, int64_t id) {
    for (size_t i = 0; i < t->added_count; i++)
        if (t->added[i].id == id) return &t->added[i];
    return NULL;
}

ONYX_API const char *onyx_tokenizer_id_to_token(const onyx_tokenizer *t, int64_t id) {
    if (!t || id < 0) return NULL;
    const tk_added *a = added_by_id(t, id);
    if (a) return a->content;
    if ((size_t)id < t->model->vocab_size) return t->model->id_to_token[id];
    return NULL;
}

ONYX_API size_t onyx_tokenizer_added_token_count(const onyx_tokenizer *t) { return t ? t->added_count : 0; }

ONYX_API onyx_status onyx_tokenizer_added_token(const onyx_tokenizer *t, size_t index, const char **content,
                                                int64_t *id, int *is_special) {
    onyx_error_clear();
    if (!t || index >= t->added_count)
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "added token index %zu is out of range (%zu tokens)", index, t ? t->added_count : 0);
    if (content) *content = t->added[index].content;
    if (id) *id = t->added[index].id;
    if (is_special) *is_special = t->added[index].special;
    return ONYX_OK;
}

/* ---- encoding one sequence ---- */

/* A piece of the text on its way to the model: an nstr and, for added tokens, their index. */
typedef struct seg {
    tk_nstr ns;
    int64_t added; /* index into t->added, or -1 */
} seg;

typedef struct segs {
    seg *items;
    size_t count, cap;
} segs;

static onyx_status segs_push(segs *s, tk_nstr ns, int64_t added) {
    if (s->count == s->cap) {
        size_t c = s->cap ? s->cap * 2 : 16;
        seg *g = onyx_realloc(s->items, c * sizeof(seg));
        if (!g) { tk_nstr_free(&ns); return ONYX_ERR_OUT_OF_MEMORY; }
        s->items = g;
        s->cap = c;
    }
    s->items[s->count++] = (seg){ns, added};
    return ONYX_OK;
}

static void segs_free(segs *s) {
    for (size_t i = 0; i < s->count; i++) tk_nstr_free(&s->items[i].ns);
    onyx_free(s->items);
    memset(s, 0, sizeof(*s));
}

/* Rust regex's \w: alphabetic, marks, decimal digits, connector punctuation, joiners. */
static int is_word_char(uint32_t c) {
    utf8proc_category_t cat = utf8proc_category((utf8proc_int32_t)c);
    return (cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_ME) || cat == UTF8PROC_CATEGORY_ND ||
           cat == UTF8PROC_CATEGORY_NL || cat == UTF8PROC_CATEGORY_PC || c == 0x200C || c == 0x200D;
}

/* Split ns at added tokens (normalized ones when normalized_pass, else the others), appending
 * to out, as HF's AddedVocabulary::find_matches: leftmost-longest matches, non-overlapping; a
 * single_word match not on word boundaries is dropped (and its text stays plain). */
static onyx_status split_added(const onyx_tokenizer *t, tk_nstr *ns, int normalized_pass, segs *out) {
    size_t plain_start = 0, i = 0;
    const char *s = ns->text;
    size_t len = ns->len;
    while (i < len) {
        int64_t best = -1;
        size_t best_len = 0;
        unsigned char first = (unsigned char)s[i];
        for (size_t f = t->added_by_first ? t->first_start[first] : 0;
             t->added_by_first && f < t->first_start[first + 1]; f++) {
            size_t k = t->added_by_first[f];
            const tk_added *a = &t->added[k];
            if ((a->normalized != 0) != (normalized_pass != 0) || a->match_len == 0 || a->match_len <= best_len) continue;
            if (a->match_len > len - i || memcmp(s + i, a->match, a->match_len)) continue;
            best = (int64_t)k;
            best_len = a->match_len;
        }
        if (best < 0) {
            i += tk_utf8_len((unsigned char)s[i]);
            continue;
        }
        if (t->added[best].single_word) {
            uint32_t c;
            int ok = 1;
            if (i > 0) {
                size_t b = i - 1;
                while (b > 0 && ((unsigned char)s[b] & 0xC0) == 0x80) b--;
                tk_utf8_decode(s, len, b, &c);
                if (is_word_char(c)) ok = 0;
            }
            if (i + best_len < len) {
                tk_utf8_decode(s, len, i + best_len, &c);
                if (is_word_char(c)) ok = 0;
            }
            if (!ok) {
                i += best_len;
                continue;
            }
        }
        const tk_added *a = &t->added[best];
        size_t ms = i, me = i + best_len;
        if (a->lstrip)
            while (ms > plain_start) {
                size_t b = ms - 1;
                while (b > plain_start && ((unsigned char)s[b] & 0xC0) == 0x80) b--;
                uint32_t c;
                tk_utf8_decode(s, len, b, &c);
                if (!tk_is_whitespace(c)) break;
                ms = b;
            }
        if (a->rstrip)
            while (me < len) {
                uint32_t c;
                size_t k = tk_utf8_decode(s, len, me, &c);
                if (!tk_is_whitespace(c)) break;
                me += k;
            }
        tk_nstr piece = {0};
        if (ms > plain_start) {
            ONYX_TRY(tk_nstr_slice(&piece, ns, plain_start, ms));
            ONYX_TRY(segs_push(out, piece, -1));
        }
        ONYX_TRY(tk_nstr_slice(&piece, ns, ms, me));
        ONYX_TRY(segs_push(out, piece, best));
        plain_start = i = me;
    }
    if (plain_start < len) {
        tk_nstr piece = {0};
        ONYX_TRY(tk_nstr_slice(&piece, ns, plain_start, len));
        ONYX_TRY(segs_push(out, piece, -1));
    }
    return ONYX_OK;
}

/* A final split of one sequence: a pre-tokenized piece or an added token, and the range of its
 * model tokens in the shared token list once tokenized. */
typedef struct final_split {
    tk_nstr ns;
    int64_t added; /* index into t->added, or -1 */
    size_t tok_start, tok_count;
} final_split;

typedef struct final_splits {
    final_split *items;
    size_t count, cap;
} final_splits;

static onyx_status splits_push(final_splits *f, tk_nstr ns, int64_t added) {
    if (f->count == f->cap) {
        size_t c = f->cap ? f->cap * 2 : 16;
        final_split *g = onyx_realloc(f->items, c * sizeof(final_split));
        if (!g) { tk_nstr_free(&ns); return ONYX_ERR_OUT_OF_MEMORY; }
        f->items = g;
        f->cap = c;
    }
    f->items[f->count++] = (final_split){ns, added, 0, 0};
    return ONYX_OK;
}

static onyx_status tokenize_split(const onyx_tokenizer *t, final_split *sp, tk_tokens *toks) {
    sp->tok_start = toks->count;
    if (sp->added < 0) ONYX_TRY(tk_model_tokenize(t->model, sp->ns.text, sp->ns.len, toks));
    sp->tok_count = sp->added >= 0 ? 1 : toks->count - sp->tok_start;
    return ONYX_OK;
}

/* Encode one sequence into enc (ids, tokens, offsets, word ids), type_id and sequence id seq.
 * limit > 0 is HF's early exit under truncation (tokenize_with_limit): splits are tokenized
 * from the kept side until limit tokens exist, and the splits beyond are dropped; limit_side
 * says which side is kept. */
static onyx_status encode_sequence(const onyx_tokenizer *t, const char *text, size_t len, int64_t type_id,
                                   int64_t seq, size_t limit, int use_limit, onyx_side limit_side,
                                   onyx_encoding *enc) {
    size_t cap = 0;
    segs first = {0}, second = {0};
    final_splits splits = {0};
    tk_tokens toks = {0};
    onyx_status st;
    tk_nstr whole = {0};
    if ((st = tk_nstr_from_original(&whole, text, len, 0))) return st;
    st = split_added(t, &whole, 0, &first);
    tk_nstr_free(&whole);
    if (st) goto done;
    for (size_t i = 0; i < first.count; i++) {
        if (first.items[i].added >= 0) {
            st = segs_push(&second, first.items[i].ns, first.items[i].added); /* takes the nstr, even on failure */
            first.items[i].ns = (tk_nstr){0};
            if (st) goto done;
            continue;
        }
        if (t->normalizer && (st = tk_normalizer_run(t->normalizer, &first.items[i].ns))) goto done;
        if ((st = split_added(t, &first.items[i].ns, 1, &second))) goto done;
    }
    for (size_t i = 0; i < second.count; i++) {
        seg *sg = &second.items[i];
        if (sg->added >= 0) {
            st = splits_push(&splits, sg->ns, sg->added);
            sg->ns = (tk_nstr){0};
            if (st) goto done;
            continue;
        }
        tk_pieces pieces = {0};
        st = tk_pieces_push(&pieces, sg->ns); /* takes the nstr, even on failure */
        sg->ns = (tk_nstr){0};
        if (st) goto done;
        if (t->pretokenizer && (st = tk_pretokenizer_run(t->pretokenizer, &pieces))) { tk_pieces_free(&pieces); goto done; }
        for (size_t p = 0; p < pieces.count && !st; p++) {
            if (pieces.items[p].len == 0) continue;
            st = splits_push(&splits, pieces.items[p], -1);
            pieces.items[p] = (tk_nstr){0};
        }
        tk_pieces_free(&pieces);
        if (st) goto done;
    }
    size_t keep_from = 0, keep_to = splits.count, total = 0;
    if (!use_limit) {
        for (size_t i = 0; i < splits.count; i++)
            if ((st = tokenize_split(t, &splits.items[i], &toks))) goto done;
    } else if (limit_side == ONYX_SIDE_RIGHT) {
        keep_to = 0;
        for (size_t i = 0; i < splits.count; i++) {
            if ((st = tokenize_split(t, &splits.items[i], &toks))) goto done;
            total += splits.items[i].tok_count;
            keep_to = i + 1;
            if (splits.items[i].added < 0 && total >= limit) break;
        }
    } else {
        keep_from = splits.count;
        for (size_t i = splits.count; i-- > 0;) {
            if ((st = tokenize_split(t, &splits.items[i], &toks))) goto done;
            total += splits.items[i].tok_count;
            keep_from = i;
            if (splits.items[i].added < 0 && total >= limit) break;
        }
    }
    size_t out_count = 0;
    for (size_t i = keep_from; i < keep_to; i++) out_count += splits.items[i].added >= 0 ? 1 : splits.items[i].tok_count;
    if (out_count && (st = enc_reserve(enc, out_count))) goto done;
    cap = out_count;
    for (size_t i = keep_from; i < keep_to; i++) {
        final_split *sp = &splits.items[i];
        int64_t word = (int64_t)(i - keep_from);
        if (sp->added >= 0) {
            const tk_added *a = &t->added[sp->added];
            int64_t s0 = sp->ns.len ? sp->ns.align[0].start : 0, e0 = sp->ns.len ? sp->ns.align[sp->ns.len - 1].end : 0;
            if ((st = enc_push(enc, &cap, a->id, type_id, a->content, s0, e0, word, seq, 0, 1))) goto done;
            continue;
        }
        const tk_nstr *ns = &sp->ns;
        for (size_t k = sp->tok_start; k < sp->tok_start + sp->tok_count; k++) {
            tk_token *tk = &toks.items[k];
            int64_t s0 = tk->end > tk->start ? ns->align[tk->start].start : (tk->start < ns->len ? ns->align[tk->start].start : ns->align[ns->len - 1].end);
            int64_t e0 = tk->end > tk->start ? ns->align[tk->end - 1].end : s0;
            if ((st = enc_push(enc, &cap, tk->id, type_id, tk->value, s0, e0, word, seq, 0, 1))) goto done;
        }
    }
done:
    for (size_t i = 0; i < splits.count; i++) tk_nstr_free(&splits.items[i].ns);
    onyx_free(splits.items);
    tk_tokens_free(&toks);
    segs_free(&first);
    segs_free(&second);
    return st;
}

/* ---- truncation ---- */

/* HF's Encoding::truncate: keep max_len tokens, the rest (with stride overlap) in overflowing. */
static onyx_status truncate_one(onyx_encoding *e, size_t max_len, size_t stride, onyx_side side, int keep_overflow) {
    if (max_len >= e->length) return ONYX_OK;
    if (max_len > 0 && stride >= max_len)
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "truncation stride %zu must be smaller than the kept length %zu", stride, max_len);
    size_t n = e->length, step = max_len - stride;
    size_t ranges_cap = max_len ? n / (step ? step : 1) + 2 : 2, nr = 0;
    size_t *ranges = onyx_malloc(ranges_cap * 2 * sizeof(size_t));
    if (!ranges) return ONYX_ERR_OUT_OF_MEMORY;
    if (max_len == 0) {
        ranges[0] = 0; ranges[1] = 0; ranges[2] = 0; ranges[3] = n;
        nr = 2;
    } else if (side == ONYX_SIDE_RIGHT) {
        for (size_t s = 0; s < n && nr < ranges_cap; s += step) {
            size_t stop = s + max_len < n ? s + max_len : n;
            ranges[2 * nr] = s; ranges[2 * nr + 1] = stop; nr++;
            if (stop == n) break;
        }
    } else {
        for (size_t k = 0; k < n && nr < ranges_cap; k += step) {
            size_t stop = n - k, start = stop < max_len ? 0 : stop - max_len;
            ranges[2 * nr] = start; ranges[2 * nr + 1] = stop; nr++;
            if (start == 0) break;
        }
    }
    onyx_encoding kept = {0}, *over = NULL;
    size_t cap = 0;
    onyx_status st = enc_append_range(&kept, &cap, e, ranges[0], ranges[1], -1, -1);
    size_t n_over = keep_overflow ? nr - 1 : 0;
    if (!st && n_over) {
        over = onyx_calloc(n_over, sizeof(onyx_encoding));
        if (!over) st = ONYX_ERR_OUT_OF_MEMORY;
        for (size_t r = 1; !st && r < nr; r++) {
            size_t c2 = 0;
            st = enc_append_range(&over[r - 1], &c2, e, ranges[2 * r], ranges[2 * r + 1], -1, -1);
        }
    }
    onyx_free(ranges);
    if (st) {
        enc_clear(&kept);
        for (size_t r = 0; over && r < n_over; r++) enc_clear(&over[r]);
        onyx_free(over);
        return st;
    }
    enc_clear(e);
    *e = kept;
    e->overflowing = over;
    e->overflowing_count = n_over;
    return ONYX_OK;
}

static size_t template_added(const tk_post *p, int pair) {
    if (!p) return 0;
    if (p->kind == TK_POST_SEQUENCE) {
        size_t n = 0;
        for (size_t i = 0; i < p->child_count; i++) n += template_added(p->children[i], pair);
        return n;
    }
    if (p->kind != TK_POST_TEMPLATE) return 0;
    const tk_template_item *items = pair ? p->pair : p->single;
    size_t count = pair ? p->pair_count : p->single_count, n = 0;
    for (size_t i = 0; i < count; i++) {
        if (items[i].is_sequence) continue;
        for (size_t s = 0; s < p->special_count; s++)
            if (!strcmp(p->specials[s].name, items[i].special)) n += p->specials[s].count;
    }
    return n;
}

static onyx_status truncate_encodings(const onyx_tokenizer *t, const onyx_encode_options *o, onyx_encoding *a,
                                      onyx_encoding *b) {
    if (o->truncation == ONYX_TRUNCATE_NONE) return ONYX_OK;
    size_t added = o->add_special_tokens ? template_added(t->post, b != NULL) : 0;
    size_t total = a->length + (b ? b->length : 0) + added;
    if (total <= o->max_length) return ONYX_OK;
    if (o->max_length < added)
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "truncation max_length %zu is smaller than the %zu special tokens added", o->max_length, added);
    size_t max_len = o->max_length - added;
    if (o->truncation == ONYX_TRUNCATE_LONGEST_FIRST) {
        if (!b) return truncate_one(a, max_len, o->stride, o->truncation_side, o->return_overflowing);
        size_t n1 = a->length, n2 = b->length;
        int swap = n1 > n2;
        if (swap) { size_t x = n1; n1 = n2; n2 = x; }
        if (n1 > max_len) n2 = n1;
        else n2 = n1 > max_len - n1 ? n1 : max_len - n1;
        if (n1 + n2 > max_len) { n1 = max_len / 2; n2 = n1 + max_len % 2; }
        if (swap) { size_t x = n1; n1 = n2; n2 = x; }
        ONYX_TRY(truncate_one(a, n1, o->stride, o->truncation_side, o->return_overflowing));
        return truncate_one(b, n2, o->stride, o->truncation_side, o->return_overflowing);
    }
    onyx_encoding *target = o->truncation == ONYX_TRUNCATE_ONLY_FIRST ? a : b;
    onyx_encoding *other = o->truncation == ONYX_TRUNCATE_ONLY_FIRST ? b : a;
    if (!target) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "truncation only_second needs a pair");
    size_t other_len = other ? other->length : 0;
    if (target->length > max_len - (other_len < max_len ? other_len : max_len) && other_len < max_len)
        return truncate_one(target, max_len - other_len, o->stride, o->truncation_side, o->return_overflowing);
    return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "truncation error: the sequence to truncate is too short to respect max_length %zu", o->max_length);
}

/* ---- post-processing ---- */

/* HF's ByteLevel process_offsets: move offsets past leading/trailing spaces of tokens. */
static void trim_byte_level_offsets(onyx_encoding *e, int add_prefix_space) {
    for (size_t i = 0; i < e->length; i++) {
        const char *tok = e->tokens[i];
        size_t len = strlen(tok), k = 0;
        int64_t lead = 0, trail = 0;
        while (k < len) {
            uint32_t c;
            size_t step = tk_utf8_decode(tok, len, k, &c);
            if (c != 0x120 && !tk_is_whitespace(c)) break;
            lead++;
            k += step;
        }
        size_t end = len;
        while (end > 0) {
            size_t b = end - 1;
            while (b > 0 && ((unsigned char)tok[b] & 0xC0) == 0x80) b--;
            uint32_t c;
            tk_utf8_decode(tok, len, b, &c);
            if (c != 0x120 && !tk_is_whitespace(c)) break;
            trail++;
            end = b;
        }
        int64_t *off = &e->offsets[2 * i];
        if (lead > 0) {
            int is_first = i == 0 || off[0] == 0;
            if (is_first && add_prefix_space && lead == 1) lead = 0;
            off[0] = off[0] + lead < off[1] ? off[0] + lead : off[1];
        }
        if (trail > 0 && off[1] >= trail) off[1] = off[1] - trail > off[0] ? off[1] - trail : off[0];
    }
}

static onyx_status apply_template(const tk_post *p, onyx_encoding *a, onyx_encoding *b, int add_special, onyx_encoding *out) {
    size_t cap = 0;
    if (p->kind != TK_POST_TEMPLATE || (!add_special && p->keeps_types_without_specials)) {
        int64_t type_a = p->zero_type_ids ? 0 : -1, type_b = p->zero_type_ids ? 0 : -1;
        ONYX_TRY(enc_append(out, &cap, a, 0, a->length, type_a, 1));
        if (b) ONYX_TRY(enc_append(out, &cap, b, 0, b->length, type_b, 1));
        return ONYX_OK;
    }
    const tk_template_item *items = b ? p->pair : p->single;
    size_t count = b ? p->pair_count : p->single_count;
    /* Token strings move from a and b unless the template repeats a sequence. */
    size_t uses[2] = {0, 0};
    for (size_t i = 0; i < count; i++)
        if (items[i].is_sequence) uses[items[i].sequence]++;
    int move = uses[0] <= 1 && uses[1] <= 1;
    for (size_t i = 0; i < count; i++) {
        const tk_template_item *it = &items[i];
        if (it->is_sequence) {
            onyx_encoding *src = it->sequence == 0 ? a : b;
            if (!src) continue;
            ONYX_TRY(enc_append(out, &cap, src, 0, src->length, it->type_id, move));
            continue;
        }
        if (!add_special) continue; /* HF: the template still sets the sequences' type ids */
        const tk_special *sp = NULL;
        for (size_t s = 0; s < p->special_count; s++)
            if (!strcmp(p->specials[s].name, it->special)) sp = &p->specials[s];
        if (!sp) return onyx_error(ONYX_ERR_INVALID_MODEL, "TemplateProcessing uses special token \"%.50s\" that it does not define", it->special);
        for (size_t k = 0; k < sp->count; k++)
            ONYX_TRY(enc_push(out, &cap, sp->ids[k], it->type_id, sp->tokens[k], 0, 0, -1, -1, 1, 1));
    }
    return ONYX_OK;
}

static onyx_status post_process(const tk_post *p, onyx_encoding *a, onyx_encoding *b, int add_special, onyx_encoding *out) {
    if (!p) return apply_template(&(tk_post){0}, a, b, 0, out);
    if (p->kind == TK_POST_SEQUENCE) {
        /* byte-level trimming first, then the template */
        const tk_post *tmpl = NULL;
        for (size_t i = 0; i < p->child_count; i++) {
            const tk_post *c = p->children[i];
            if (c->kind == TK_POST_BYTELEVEL && c->trim_offsets) {
                trim_byte_level_offsets(a, c->add_prefix_space);
                if (b) trim_byte_level_offsets(b, c->add_prefix_space);
            } else if (c->kind == TK_POST_TEMPLATE) {
                tmpl = c;
            }
        }
        return post_process(tmpl, a, b, add_special, out);
    }
    if ((p->kind == TK_POST_BYTELEVEL || p->kind == TK_POST_TEMPLATE) && p->trim_offsets) {
        trim_byte_level_offsets(a, p->add_prefix_space);
        if (b) trim_byte_level_offsets(b, p->add_prefix_space);
    }
    return apply_template(p, a, b, add_special, out);
}

/* ---- padding ---- */

static onyx_status pad_one(onyx_encoding *e, size_t target, const onyx_encode_options *o, int64_t pad_id, const char *pad_token) {
    for (size_t i = 0; i < e->overflowing_count; i++) ONYX_TRY(pad_one(&e->overflowing[i], target, o, pad_id, pad_token));
    if (e->length >= target) return ONYX_OK;
    onyx_encoding padded = {0};
    size_t cap = 0, pads = target - e->length;
    onyx_status st = ONYX_OK;
    if (o->padding_side == ONYX_SIDE_LEFT)
        for (size_t i = 0; !st && i < pads; i++) st = enc_push(&padded, &cap, pad_id, o->pad_type_id, pad_token, 0, 0, -1, -1, 1, 0);
    if (!st) st = enc_append(&padded, &cap, e, 0, e->length, -1, 1);
    if (o->padding_side == ONYX_SIDE_RIGHT)
        for (size_t i = 0; !st && i < pads; i++) st = enc_push(&padded, &cap, pad_id, o->pad_type_id, pad_token, 0, 0, -1, -1, 1, 0);
    if (st) { enc_clear(&padded); return st; }
    padded.overflowing = e->overflowing;
    padded.overflowing_count = e->overflowing_count;
    e->overflowing = NULL;
    e->overflowing_count = 0;
    enc_clear(e);
    *e = padded;
    return ONYX_OK;
}

static onyx_status pad_batch(const onyx_tokenizer *t, onyx_encoding *encs, size_t n, const onyx_encode_options *o) {
    if (o->padding == ONYX_PAD_NONE) return ONYX_OK;
    size_t target = o->padding_length;
    if (o->padding == ONYX_PAD_LONGEST) {
        target = 0;
        for (size_t i = 0; i < n; i++) {
            if (encs[i].length > target) target = encs[i].length;
            for (size_t k = 0; k < encs[i].overflowing_count; k++)
                if (encs[i].overflowing[k].length > target) target = encs[i].overflowing[k].length;
        }
    }
    if (o->pad_to_multiple_of > 0 && target % o->pad_to_multiple_of)
        target += o->pad_to_multiple_of - target % o->pad_to_multiple_of;
    /* HF's PaddingParams defaults: token "[PAD]", id 0; a named token is looked up. */
    const char *pad_token = o->pad_token ? o->pad_token : "[PAD]";
    int64_t pad_id = o->pad_id;
    if (pad_id < 0 && o->pad_token) pad_id = onyx_tokenizer_token_to_id(t, pad_token, strlen(pad_token));
    if (pad_id < 0) pad_id = 0;
    for (size_t i = 0; i < n; i++) ONYX_TRY(pad_one(&encs[i], target, o, pad_id, pad_token));
    return ONYX_OK;
}

/* ---- public encode ---- */

static onyx_status check_text(const char *text, size_t len, const char *what) {
    if (!text && len) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "%s is NULL with length %zu", what, len);
    if (!text) return ONYX_OK;
    size_t bad = tk_utf8_invalid_at(text, len);
    if (bad != len) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "%s is not valid UTF-8 at byte %zu", what, bad);
    return ONYX_OK;
}

/* The options in effect: the caller's, with the file's truncation/padding where asked. */
static void effective_options(const onyx_tokenizer *t, const onyx_encode_options *in, onyx_encode_options *o) {
    onyx_encode_options_init(o);
    if (in) memcpy(o, in, in->struct_size < sizeof(*o) ? in->struct_size : sizeof(*o));
    o->struct_size = sizeof(*o);
    const onyx_encode_options *f = &t->file_options;
    if (o->truncation_source == ONYX_CONFIG_FROM_TOKENIZER) {
        o->truncation = t->has_truncation ? f->truncation : ONYX_TRUNCATE_NONE;
        o->max_length = f->max_length;
        o->stride = f->stride;
        o->truncation_side = f->truncation_side;
    }
    if (o->padding_source == ONYX_CONFIG_FROM_TOKENIZER) {
        o->padding = t->has_padding ? f->padding : ONYX_PAD_NONE;
        o->padding_length = f->padding_length;
        o->pad_to_multiple_of = f->pad_to_multiple_of;
        o->padding_side = f->padding_side;
        if (!o->pad_token) o->pad_token = f->pad_token;
        if (o->pad_id < 0) o->pad_id = f->pad_id;
        o->pad_type_id = f->pad_type_id;
    }
}

/* Encode without padding into *out (caller-provided struct). */
static onyx_status encode_into(const onyx_tokenizer *t, const char *text, size_t text_len, const char *pair,
                               size_t pair_len, const onyx_encode_options *o, onyx_encoding *out) {
    onyx_encoding a = {0}, b = {0};
    /* HF's early exit: each sequence stops being tokenized past max_length tokens (before the
     * special tokens are counted), except the first one under only_second. */
    int limit_a = o->truncation != ONYX_TRUNCATE_NONE && o->truncation != ONYX_TRUNCATE_ONLY_SECOND;
    int limit_b = o->truncation != ONYX_TRUNCATE_NONE;
    onyx_status st = encode_sequence(t, text ? text : "", text_len, 0, 0, o->max_length, limit_a, o->truncation_side, &a);
    if (!st && pair) st = encode_sequence(t, pair, pair_len, 1, 1, o->max_length, limit_b, o->truncation_side, &b);
    if (!st) st = truncate_encodings(t, o, &a, pair ? &b : NULL);
    /* post_process trims byte-level offsets in place: keep untouched copies for the pieces */
    onyx_encoding a0 = {0}, b0 = {0};
    size_t cap_a = 0, cap_b = 0;
    if (!st && (a.overflowing_count || b.overflowing_count)) {
        st = enc_append_range(&a0, &cap_a, &a, 0, a.length, -1, -1);
        if (!st && pair) st = enc_append_range(&b0, &cap_b, &b, 0, b.length, -1, -1);
    }
    if (!st) st = post_process(t->post, &a, pair ? &b : NULL, o->add_special_tokens, out);
    /* Overflowing pieces combine as HF's Encoding::merge_with: each piece of the first with the
     * second and with each piece of the second, then the first with each piece of the second. */
    size_t pieces = a.overflowing_count * (1 + b.overflowing_count) + b.overflowing_count;
    if (!st && pieces) {
        out->overflowing = onyx_calloc(pieces, sizeof(onyx_encoding));
        if (!out->overflowing) st = ONYX_ERR_OUT_OF_MEMORY;
        for (size_t i = 0; !st && i <= a.overflowing_count; i++) {
            const onyx_encoding *left = i < a.overflowing_count ? &a.overflowing[i] : &a0;
            for (size_t j = 0; !st && j <= b.overflowing_count; j++) {
                if (i == a.overflowing_count && j == 0) continue; /* the main encoding itself */
                const onyx_encoding *right = !pair ? NULL : j == 0 ? &b0 : &b.overflowing[j - 1];
                if (!pair && j > 0) break;
                onyx_encoding lc = {0}, rc = {0};
                size_t c1 = 0, c2 = 0;
                st = enc_append_range(&lc, &c1, left, 0, left->length, -1, -1);
                if (!st && right) st = enc_append_range(&rc, &c2, right, 0, right->length, -1, -1);
                onyx_encoding *piece = &out->overflowing[out->overflowing_count];
                if (!st) st = post_process(t->post, &lc, right ? &rc : NULL, o->add_special_tokens, piece);
                if (!st) out->overflowing_count++;
                else enc_clear(piece); /* what a failed post_process built is not counted yet */
                enc_clear(&lc);
                enc_clear(&rc);
            }
        }
    }
    enc_clear(&a0);
    enc_clear(&b0);
    enc_clear(&a);
    enc_clear(&b);
    if (st) enc_clear(out);
    return st;
}

ONYX_API onyx_status onyx_tokenizer_encode(const onyx_tokenizer *t, const char *text, size_t text_len,
                                           const char *pair, size_t pair_len, const onyx_encode_options *options,
                                           onyx_encoding **out) {
    onyx_error_clear();
    if (!out) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "onyx_tokenizer_encode: out is NULL");
    *out = NULL;
    if (!t) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "onyx_tokenizer_encode: tokenizer is NULL");
    ONYX_TRY(check_text(text, text_len, "text"));
    ONYX_TRY(check_text(pair, pair_len, "pair"));
    onyx_encode_options o;
    effective_options(t, options, &o);
    onyx_encoding *e = onyx_calloc(1, sizeof(*e));
    if (!e) return ONYX_ERR_OUT_OF_MEMORY;
    onyx_status st = encode_into(t, text, text_len, pair, pair_len, &o, e);
    if (!st) st = pad_batch(t, e, 1, &o);
    if (st) { onyx_encoding_destroy(e); return st; }
    *out = e;
    return ONYX_OK;
}

ONYX_API onyx_status onyx_tokenizer_encode_batch(const onyx_tokenizer *t, const char *const *texts, const size_t *lens,
                                                 const char *const *pairs, const size_t *pair_lens, size_t n,
                                                 const onyx_encode_options *options, onyx_encoding **out) {
    onyx_error_clear();
    if (!out) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "onyx_tokenizer_encode_batch: out is NULL");
    *out = NULL;
    if (!t || (n && (!texts || !lens))) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "onyx_tokenizer_encode_batch: tokenizer, texts or lens is NULL");
    for (size_t i = 0; i < n; i++) {
        onyx_status st = check_text(texts[i], lens[i], "text");
        if (!st && pairs && pairs[i]) st = check_text(pairs[i], pair_lens ? pair_lens[i] : strlen(pairs[i]), "pair");
        if (st) return onyx_error_prefix(st, "batch item %zu: ", i);
    }
    onyx_encode_options o;
    effective_options(t, options, &o);
    onyx_encoding *encs = onyx_calloc(n ? n : 1, sizeof(onyx_encoding));
    if (!encs) return ONYX_ERR_OUT_OF_MEMORY;
    onyx_status st = ONYX_OK;
    int failed_at = -1;
    int threads = o.num_threads > 0 ? o.num_threads : 1;
#ifdef _OPENMP
    if (o.num_threads <= 0) threads = omp_get_max_threads();
#endif
    if ((size_t)threads > n) threads = n ? (int)n : 1;
#pragma omp parallel for schedule(dynamic, 4) num_threads(threads) if (threads > 1)
    for (long i = 0; i < (long)n; i++) {
        int failed_before;
#pragma omp atomic read
        failed_before = failed_at;
        if (failed_before >= 0) continue;
        const char *p = pairs ? pairs[i] : NULL;
        size_t pl = p ? (pair_lens ? pair_lens[i] : strlen(p)) : 0;
        /* Built in the thread's own struct, then stored: encs[i] shares cache lines with the
         * encodings other threads are building. */
        onyx_encoding built = {0};
        onyx_status s = encode_into(t, texts[i], lens[i], p, pl, &o, &built);
        encs[i] = built;
        if (s) {
#pragma omp critical(onyx_tokenizer_batch_error)
            {
                if (failed_at < 0) {
                    st = s;
#pragma omp atomic write
                    failed_at = (int)i;
                }
            }
        }
    }
    if (st) {
        onyx_encoding_batch_destroy(encs, n);
        return onyx_error_prefix(st, "batch item %d: ", failed_at);
    }
    if ((st = pad_batch(t, encs, n, &o))) { onyx_encoding_batch_destroy(encs, n); return st; }
    *out = encs;
    return ONYX_OK;
}

ONYX_API onyx_status onyx_encoding_char_offsets(const onyx_encoding *e, const char *text, size_t text_len,
                                                const char *pair, size_t pair_len, int64_t *char_offsets) {
    onyx_error_clear();
    if (!e || !char_offsets) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "onyx_encoding_char_offsets: encoding or char_offsets is NULL");
    for (size_t i = 0; i < e->length; i++) {
        const char *src = e->sequence_ids[i] == 1 ? pair : text;
        size_t src_len = e->sequence_ids[i] == 1 ? pair_len : text_len;
        for (int k = 0; k < 2; k++) {
            int64_t b = e->offsets[2 * i + k];
            if (b < 0 || (size_t)b > src_len || (!src && b > 0))
                return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "token %zu has byte offset %lld beyond its %zu-byte text", i, (long long)b, src_len);
            int64_t chars = 0;
            for (int64_t j = 0; j < b; j++)
                if (((unsigned char)src[j] & 0xC0) != 0x80) chars++;
            char_offsets[2 * i + k] = chars;
        }
    }
    return ONYX_OK;
}

/* ---- decode ---- */

ONYX_API void onyx_tokenizer_free_text(char *text) { onyx_free(text); }

ONYX_API onyx_status onyx_tokenizer_decode(const onyx_tokenizer *t, const int64_t *ids, size_t n, int skip_special,
                                           int cleanup, char **out_text, size_t *out_len) {
    onyx_error_clear();
    if (!out_text) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "onyx_tokenizer_decode: out_text is NULL");
    *out_text = NULL;
    if (out_len) *out_len = 0;
    if (!t || (n && !ids)) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "onyx_tokenizer_decode: tokenizer or ids is NULL");
    char **tokens = onyx_calloc(n ? n : 1, sizeof(char *));
    if (!tokens) return ONYX_ERR_OUT_OF_MEMORY;
    size_t count = 0;
    onyx_status st = ONYX_OK;
    for (size_t i = 0; i < n; i++) {
        const tk_added *a = added_by_id(t, ids[i]);
        if (a && a->special && skip_special) continue;
        const char *tok = onyx_tokenizer_id_to_token(t, ids[i]);
        if (!tok) continue;
        if (!(tokens[count] = onyx_strdup(tok))) { st = ONYX_ERR_OUT_OF_MEMORY; break; }
        count++;
    }
    if (!st && t->decoder) st = tk_decoder_run(t->decoder, &tokens, &count);
    tk_buf text = {0};
    if (!st) st = tk_buf_add(&text, "", 0);
    for (size_t i = 0; !st && i < count; i++) {
        if (!t->decoder && i > 0) st = tk_buf_add(&text, " ", 1);
        if (!st) st = tk_buf_add(&text, tokens[i], strlen(tokens[i]));
    }
    for (size_t i = 0; i < count; i++) onyx_free(tokens[i]);
    onyx_free(tokens);
    if (st) { tk_buf_free(&text); return st; }
    if (cleanup) {
        tk_cleanup_spaces(text.data, 0);
        text.len = strlen(text.data);
    }
    *out_text = text.data;
    if (out_len) *out_len = text.len;
    return ONYX_OK;
}
