/*
 * text_util.c - UTF-8 helpers, hash maps, buffers and HF's NormalizedString for the tokenizer
 * engine. See text_util.h.
 */
#include "text/text_util.h"

#include <string.h>
#include <utf8proc.h>

#include "core/alloc.h"
#include "core/status.h"

size_t tk_utf8_decode(const char *s, size_t len, size_t i, uint32_t *cp) {
    const unsigned char *u = (const unsigned char *)s + i;
    size_t n = tk_utf8_len(u[0]);
    if (i + n > len) n = len - i;
    uint32_t c;
    switch (n) {
    case 1: c = u[0]; break;
    case 2: c = ((uint32_t)(u[0] & 0x1F) << 6) | (u[1] & 0x3F); break;
    case 3: c = ((uint32_t)(u[0] & 0x0F) << 12) | ((uint32_t)(u[1] & 0x3F) << 6) | (u[2] & 0x3F); break;
    default:
        c = ((uint32_t)(u[0] & 0x07) << 18) | ((uint32_t)(u[1] & 0x3F) << 12) |
            ((uint32_t)(u[2] & 0x3F) << 6) | (u[3] & 0x3F);
        n = 4;
        break;
    }
    *cp = c;
    return n;
}

size_t tk_utf8_encode(uint32_t cp, char *out) {
    unsigned char *o = (unsigned char *)out;
    if (cp < 0x80) { o[0] = (unsigned char)cp; return 1; }
    if (cp < 0x800) { o[0] = (unsigned char)(0xC0 | (cp >> 6)); o[1] = (unsigned char)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xE0 | (cp >> 12)); o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (unsigned char)(0xF0 | (cp >> 18)); o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F)); o[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

size_t tk_utf8_invalid_at(const char *s, size_t len) {
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        unsigned char c = u[i];
        if (c < 0x80) { i++; continue; }
        size_t n;
        uint32_t cp, min;
        if (c >= 0xC2 && c <= 0xDF) { n = 2; cp = c & 0x1F; min = 0x80; }
        else if (c >= 0xE0 && c <= 0xEF) { n = 3; cp = c & 0x0F; min = 0x800; }
        else if (c >= 0xF0 && c <= 0xF4) { n = 4; cp = c & 0x07; min = 0x10000; }
        else return i;
        if (i + n > len) return i;
        for (size_t k = 1; k < n; k++) {
            if ((u[i + k] & 0xC0) != 0x80) return i;
            cp = (cp << 6) | (u[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return i;
        i += n;
    }
    return len;
}

onyx_status tk_buf_add(tk_buf *b, const void *bytes, size_t n) {
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1) cap *= 2;
        char *d = onyx_realloc(b->data, cap);
        if (!d) return ONYX_ERR_OUT_OF_MEMORY;
        b->data = d;
        b->cap = cap;
    }
    if (n) memcpy(b->data + b->len, bytes, n);
    b->len += n;
    b->data[b->len] = 0;
    return ONYX_OK;
}

onyx_status tk_buf_add_cp(tk_buf *b, uint32_t cp) {
    char tmp[4];
    return tk_buf_add(b, tmp, tk_utf8_encode(cp, tmp));
}

void tk_buf_free(tk_buf *b) {
    onyx_free(b->data);
    memset(b, 0, sizeof(*b));
}

static uint64_t hash_bytes(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h ^ (h >> 29);
}

static onyx_status strmap_grow(tk_strmap *m) {
    size_t cap = m->cap ? m->cap * 2 : 64;
    tk_strmap bigger = {0};
    bigger.keys = onyx_calloc(cap, sizeof(char *));
    bigger.key_lens = onyx_calloc(cap, sizeof(size_t));
    bigger.values = onyx_calloc(cap, sizeof(int64_t));
    if (!bigger.keys || !bigger.key_lens || !bigger.values) {
        onyx_free(bigger.keys); onyx_free(bigger.key_lens); onyx_free(bigger.values);
        return ONYX_ERR_OUT_OF_MEMORY;
    }
    bigger.cap = cap;
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->keys[i]) continue;
        size_t j = hash_bytes(m->keys[i], m->key_lens[i]) & (cap - 1);
        while (bigger.keys[j]) j = (j + 1) & (cap - 1);
        bigger.keys[j] = m->keys[i];
        bigger.key_lens[j] = m->key_lens[i];
        bigger.values[j] = m->values[i];
    }
    bigger.count = m->count;
    onyx_free(m->keys); onyx_free(m->key_lens); onyx_free(m->values);
    *m = bigger;
    return ONYX_OK;
}

onyx_status tk_strmap_put(tk_strmap *m, const char *key, size_t len, int64_t value) {
    if ((m->count + 1) * 2 > m->cap) ONYX_TRY(strmap_grow(m));
    size_t j = hash_bytes(key, len) & (m->cap - 1);
    while (m->keys[j]) {
        if (m->key_lens[j] == len && memcmp(m->keys[j], key, len) == 0) {
            m->values[j] = value;
            return ONYX_OK;
        }
        j = (j + 1) & (m->cap - 1);
    }
    char *copy = onyx_malloc(len + 1);
    if (!copy) return ONYX_ERR_OUT_OF_MEMORY;
    memcpy(copy, key, len);
    copy[len] = 0;
    m->keys[j] = copy;
    m->key_lens[j] = len;
    m->values[j] = value;
    m->count++;
    return ONYX_OK;
}

int64_t tk_strmap_get(const tk_strmap *m, const char *key, size_t len) {
    if (!m->cap) return -1;
    size_t j = hash_bytes(key, len) & (m->cap - 1);
    while (m->keys[j]) {
        if (m->key_lens[j] == len && memcmp(m->keys[j], key, len) == 0) return m->values[j];
        j = (j + 1) & (m->cap - 1);
    }
    return -1;
}

void tk_strmap_free(tk_strmap *m) {
    for (size_t i = 0; i < m->cap; i++) onyx_free(m->keys[i]);
    onyx_free(m->keys); onyx_free(m->key_lens); onyx_free(m->values);
    memset(m, 0, sizeof(*m));
}

static uint64_t hash_u64(uint64_t x) {
    x ^= x >> 33; x *= 0xff51afd7ed558ccdull; x ^= x >> 33; x *= 0xc4ceb9fe1a85ec53ull;
    return x ^ (x >> 33);
}

onyx_status tk_pairmap_put(tk_pairmap *m, uint64_t key, int32_t rank, int32_t value) {
    if ((m->count + 1) * 2 > m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 64;
        tk_pairmap b = {0};
        b.keys = onyx_calloc(cap, sizeof(uint64_t));
        b.rank = onyx_calloc(cap, sizeof(int32_t));
        b.value = onyx_calloc(cap, sizeof(int32_t));
        b.used = onyx_calloc(cap, 1);
        if (!b.keys || !b.rank || !b.value || !b.used) {
            onyx_free(b.keys); onyx_free(b.rank); onyx_free(b.value); onyx_free(b.used);
            return ONYX_ERR_OUT_OF_MEMORY;
        }
        b.cap = cap;
        for (size_t i = 0; i < m->cap; i++) {
            if (!m->used[i]) continue;
            size_t j = hash_u64(m->keys[i]) & (cap - 1);
            while (b.used[j]) j = (j + 1) & (cap - 1);
            b.used[j] = 1; b.keys[j] = m->keys[i]; b.rank[j] = m->rank[i]; b.value[j] = m->value[i];
        }
        b.count = m->count;
        tk_pairmap_free(m);
        *m = b;
    }
    size_t j = hash_u64(key) & (m->cap - 1);
    while (m->used[j]) {
        if (m->keys[j] == key) return ONYX_OK; /* the first (lowest-rank) merge wins, as in HF */
        j = (j + 1) & (m->cap - 1);
    }
    m->used[j] = 1; m->keys[j] = key; m->rank[j] = rank; m->value[j] = value;
    m->count++;
    return ONYX_OK;
}

int tk_pairmap_get(const tk_pairmap *m, uint64_t key, int32_t *rank, int32_t *value) {
    if (!m->cap) return 0;
    size_t j = hash_u64(key) & (m->cap - 1);
    while (m->used[j]) {
        if (m->keys[j] == key) { *rank = m->rank[j]; *value = m->value[j]; return 1; }
        j = (j + 1) & (m->cap - 1);
    }
    return 0;
}

void tk_pairmap_free(tk_pairmap *m) {
    onyx_free(m->keys); onyx_free(m->rank); onyx_free(m->value); onyx_free(m->used);
    memset(m, 0, sizeof(*m));
}

onyx_status tk_nstr_alloc(tk_nstr *ns, size_t len) {
    /* One block: the len spans, then the len bytes of text and a NUL (spans first, so that they
     * are aligned). */
    tk_span *block = onyx_malloc(len * sizeof(tk_span) + len + 1);
    if (!block) {
        *ns = (tk_nstr){0};
        return ONYX_ERR_OUT_OF_MEMORY;
    }
    ns->align = block;
    ns->text = (char *)(block + len);
    ns->text[len] = 0;
    ns->len = len;
    return ONYX_OK;
}

/* Replace *ns by fresh (freeing ns's block). */
static void nstr_replace(tk_nstr *ns, tk_nstr fresh) {
    tk_nstr_free(ns);
    *ns = fresh;
}

onyx_status tk_nstr_from_original(tk_nstr *ns, const char *text, size_t len, int64_t base) {
    ONYX_TRY(tk_nstr_alloc(ns, len));
    memcpy(ns->text, text, len);
    size_t i = 0;
    while (i < len) {
        size_t n = tk_utf8_len((unsigned char)text[i]);
        if (i + n > len) n = len - i;
        for (size_t k = 0; k < n; k++) ns->align[i + k] = (tk_span){base + (int64_t)i, base + (int64_t)(i + n)};
        i += n;
    }
    return ONYX_OK;
}

onyx_status tk_nstr_slice(tk_nstr *out, const tk_nstr *src, size_t start, size_t end) {
    size_t len = end - start;
    ONYX_TRY(tk_nstr_alloc(out, len));
    memcpy(out->text, src->text + start, len);
    memcpy(out->align, src->align + start, len * sizeof(tk_span));
    return ONYX_OK;
}

void tk_nstr_free(tk_nstr *ns) {
    onyx_free(ns->align);
    ns->text = NULL;
    ns->align = NULL;
    ns->len = 0;
}

onyx_status tk_nstr_transform(tk_nstr *ns, const uint32_t *cps, const int32_t *changes, size_t n) {
    return tk_nstr_transform_skip(ns, cps, changes, n, 0);
}

onyx_status tk_nstr_transform_skip(tk_nstr *ns, const uint32_t *cps, const int32_t *changes, size_t n,
                                   size_t initial_chars) {
    size_t out_len = 0;
    for (size_t k = 0; k < n; k++) out_len += cps[k] < 0x80 ? 1 : cps[k] < 0x800 ? 2 : cps[k] < 0x10000 ? 3 : 4;
    tk_nstr fresh;
    ONYX_TRY(tk_nstr_alloc(&fresh, out_len));
    char *text = fresh.text;
    tk_span *align = fresh.align;
    size_t count = 0;
    size_t offset = 0; /* bytes of the old text consumed */
    for (size_t k = 0; k < initial_chars && offset < ns->len; k++) offset += tk_utf8_len((unsigned char)ns->text[offset]);
    for (size_t k = 0; k < n; k++) {
        tk_span a;
        if (changes[k] > 0) {
            a = offset < 1 ? (tk_span){0, 0} : ns->align[offset - 1];
            if (offset < 1 && ns->len) a = (tk_span){ns->align[0].start, ns->align[0].start};
        } else {
            a = offset < ns->len ? ns->align[offset] : (ns->len ? ns->align[ns->len - 1] : (tk_span){0, 0});
            if (offset < ns->len) offset += tk_utf8_len((unsigned char)ns->text[offset]);
            for (int32_t r = 0; r < -changes[k] && offset < ns->len; r++)
                offset += tk_utf8_len((unsigned char)ns->text[offset]);
        }
        size_t m = tk_utf8_encode(cps[k], text + count);
        for (size_t b = 0; b < m; b++) align[count + b] = a;
        count += m;
    }
    nstr_replace(ns, fresh);
    return ONYX_OK;
}

onyx_status tk_nstr_replace_ranges(tk_nstr *ns, const size_t *starts, const size_t *ends,
                                   size_t n, const char *content, size_t content_len) {
    if (n == 0) return ONYX_OK;
    size_t total = ns->len;
    for (size_t k = 0; k < n; k++) total += content_len - (ends[k] - starts[k]);
    tk_nstr fresh;
    ONYX_TRY(tk_nstr_alloc(&fresh, total));
    char *text = fresh.text;
    tk_span *align = fresh.align;
    size_t out = 0, pos = 0;
    for (size_t k = 0; k < n; k++) {
        size_t keep = starts[k] - pos;
        memcpy(text + out, ns->text + pos, keep);
        memcpy(align + out, ns->align + pos, keep * sizeof(tk_span));
        out += keep;
        tk_span a = ns->align[ends[k] - 1];
        memcpy(text + out, content, content_len);
        for (size_t b = 0; b < content_len; b++) align[out + b] = a;
        out += content_len;
        pos = ends[k];
    }
    memcpy(text + out, ns->text + pos, ns->len - pos);
    memcpy(align + out, ns->align + pos, (ns->len - pos) * sizeof(tk_span));
    nstr_replace(ns, fresh);
    return ONYX_OK;
}

onyx_status tk_nstr_map(tk_nstr *ns, tk_cp_map_fn fn, const void *ctx) {
    /* Small pieces (most words) use the stack; longer ones grow on the heap. */
    uint32_t stack_cps[256];
    int32_t stack_changes[256];
    uint32_t *cps = stack_cps;
    int32_t *changes = stack_changes;
    size_t cap = 256, n = 0, leading_removed = 0, i = 0;
    onyx_status st = ONYX_OK;
    while (i < ns->len) {
        uint32_t cp, outs[8];
        i += tk_utf8_decode(ns->text, ns->len, i, &cp);
        size_t m = fn(cp, outs, ctx);
        if (m == 0) {
            /* HF's filter: a removed char is a -1 on the kept char before it; removed chars
             * before the first kept one are skipped (transform's initial offset). */
            if (n > 0) changes[n - 1] -= 1;
            else leading_removed++;
            continue;
        }
        if (n + m > cap) {
            size_t grown_cap = (n + m) * 2;
            uint32_t *c2 = onyx_malloc(grown_cap * sizeof(uint32_t));
            int32_t *g2 = onyx_malloc(grown_cap * sizeof(int32_t));
            if (!c2 || !g2) {
                onyx_free(c2);
                onyx_free(g2);
                st = ONYX_ERR_OUT_OF_MEMORY;
                goto done;
            }
            memcpy(c2, cps, n * sizeof(uint32_t));
            memcpy(g2, changes, n * sizeof(int32_t));
            if (cps != stack_cps) {
                onyx_free(cps);
                onyx_free(changes);
            }
            cps = c2;
            changes = g2;
            cap = grown_cap;
        }
        for (size_t k = 0; k < m; k++) {
            cps[n] = outs[k];
            changes[n] = k == 0 ? 0 : 1;
            n++;
        }
    }
    st = tk_nstr_transform_skip(ns, cps, changes, n, leading_removed);
done:
    if (cps != stack_cps) {
        onyx_free(cps);
        onyx_free(changes);
    }
    return st;
}

int tk_is_whitespace(uint32_t c) {
    return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
           c == 0x205F || c == 0x3000;
}

int tk_is_bert_punctuation(uint32_t c) {
    if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126))
        return 1;
    utf8proc_category_t cat = utf8proc_category((utf8proc_int32_t)c);
    return cat == UTF8PROC_CATEGORY_PC || cat == UTF8PROC_CATEGORY_PD || cat == UTF8PROC_CATEGORY_PS ||
           cat == UTF8PROC_CATEGORY_PE || cat == UTF8PROC_CATEGORY_PI || cat == UTF8PROC_CATEGORY_PF ||
           cat == UTF8PROC_CATEGORY_PO;
}

int tk_is_control(uint32_t c) {
    if (c == '\t' || c == '\n' || c == '\r') return 0;
    utf8proc_category_t cat = utf8proc_category((utf8proc_int32_t)c);
    return cat == UTF8PROC_CATEGORY_CC || cat == UTF8PROC_CATEGORY_CF || cat == UTF8PROC_CATEGORY_CN ||
           cat == UTF8PROC_CATEGORY_CO || cat == UTF8PROC_CATEGORY_CS;
}

int tk_is_chinese(uint32_t c) {
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
           (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

int tk_is_numeric(uint32_t c) {
    utf8proc_category_t cat = utf8proc_category((utf8proc_int32_t)c);
    return cat == UTF8PROC_CATEGORY_ND || cat == UTF8PROC_CATEGORY_NL || cat == UTF8PROC_CATEGORY_NO;
}
