/*
 * normalizer.c - HF normalizers (NFC/NFD/NFKC/NFKD, Lowercase, StripAccents, Strip, Replace,
 * Prepend, BertNormalizer, Precompiled, Sequence) and the String/Regex pattern they share with
 * pre-tokenizers and decoders. Every edit goes through tk_nstr so that offsets keep mapping to
 * the original text the way HF's NormalizedString maps them.
 */
#include <string.h>
#include <utf8proc.h>

#include "core/alloc.h"
#include "core/status.h"
#include "text/components.h"

/* ---- patterns ---- */

onyx_status tk_pattern_compile(tk_pattern *p, const char *regex, const char *what) {
    int err;
    PCRE2_SIZE erroff;
    p->regex = pcre2_compile((PCRE2_SPTR)regex, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP, &err,
                             &erroff, NULL);
    if (!p->regex) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(err, msg, sizeof(msg));
        return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "%s: regex \"%.200s\" does not compile at %zu: %s",
                          what, regex, (size_t)erroff, (const char *)msg);
    }
    pcre2_jit_compile(p->regex, PCRE2_JIT_COMPLETE);
    return ONYX_OK;
}

onyx_status tk_pattern_parse(tk_pattern *p, const cJSON *json, const char *what) {
    memset(p, 0, sizeof(*p));
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(json, "String");
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(json, "Regex");
    if (cJSON_IsString(s)) {
        p->literal = onyx_strdup(s->valuestring);
        if (!p->literal) return ONYX_ERR_OUT_OF_MEMORY;
        p->literal_len = strlen(s->valuestring);
        return ONYX_OK;
    }
    if (cJSON_IsString(r)) return tk_pattern_compile(p, r->valuestring, what);
    if (cJSON_IsString(json)) {
        p->literal = onyx_strdup(json->valuestring);
        if (!p->literal) return ONYX_ERR_OUT_OF_MEMORY;
        p->literal_len = strlen(json->valuestring);
        return ONYX_OK;
    }
    return onyx_error(ONYX_ERR_INVALID_MODEL, "%s: pattern must be {\"String\": ...} or {\"Regex\": ...}", what);
}

void tk_pattern_free(tk_pattern *p) {
    onyx_free(p->literal);
    if (p->regex) pcre2_code_free(p->regex);
    memset(p, 0, sizeof(*p));
}

static onyx_status match_push(tk_match **m, size_t *n, size_t *cap, size_t s, size_t e, int is_match) {
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 16;
        tk_match *g = onyx_realloc(*m, c * sizeof(tk_match));
        if (!g) return ONYX_ERR_OUT_OF_MEMORY;
        *m = g;
        *cap = c;
    }
    (*m)[(*n)++] = (tk_match){s, e, is_match};
    return ONYX_OK;
}

onyx_status tk_pattern_find(const tk_pattern *p, const char *text, size_t len, tk_match **out,
                            size_t *count) {
    tk_match *m = NULL;
    size_t n = 0, cap = 0, prev = 0;
    onyx_status st = ONYX_OK;
    if (p->literal) {
        if (p->literal_len > 0) {
            size_t i = 0;
            while (i + p->literal_len <= len) {
                const char *hit = memmem(text + i, len - i, p->literal, p->literal_len);
                if (!hit) break;
                size_t s = (size_t)(hit - text);
                if (s > prev && (st = match_push(&m, &n, &cap, prev, s, 0))) goto fail;
                if ((st = match_push(&m, &n, &cap, s, s + p->literal_len, 1))) goto fail;
                prev = i = s + p->literal_len;
            }
        }
    } else if (p->regex) {
        pcre2_match_data *md = pcre2_match_data_create_from_pattern(p->regex, NULL);
        if (!md) return ONYX_ERR_OUT_OF_MEMORY;
        size_t at = 0;
        while (at <= len) {
            int rc = pcre2_match(p->regex, (PCRE2_SPTR)text, len, at, PCRE2_NO_UTF_CHECK, md, NULL);
            if (rc < 0) break;
            PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
            size_t s = ov[0], e = ov[1];
            if (e == s) {
                if (s >= len) break;
                at = s + tk_utf8_len((unsigned char)text[s]);
                continue;
            }
            if (s > prev && (st = match_push(&m, &n, &cap, prev, s, 0))) break;
            if ((st = match_push(&m, &n, &cap, s, e, 1))) break;
            prev = at = e;
        }
        pcre2_match_data_free(md);
        if (st) goto fail;
    }
    if (prev < len && (st = match_push(&m, &n, &cap, prev, len, 0))) goto fail;
    *out = m;
    *count = n;
    return ONYX_OK;
fail:
    onyx_free(m);
    return st;
}

/* ---- parsing ---- */

static void charsmap_ascii_tables(tk_normalizer *n);

static int json_bool(const cJSON *obj, const char *key, int dflt) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (cJSON_IsBool(v)) return cJSON_IsTrue(v);
    return dflt;
}

static onyx_status base64_decode(const char *in, unsigned char **out, size_t *out_len) {
    size_t n = strlen(in);
    unsigned char *o = onyx_malloc(n / 4 * 3 + 4);
    if (!o) return ONYX_ERR_OUT_OF_MEMORY;
    size_t k = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        char c = in[i];
        int v;
        if (c >= 'A' && c <= 'Z') v = c - 'A';
        else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
        else if (c >= '0' && c <= '9') v = c - '0' + 52;
        else if (c == '+' || c == '-') v = 62;
        else if (c == '/' || c == '_') v = 63;
        else continue;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            o[k++] = (unsigned char)(acc >> bits);
        }
    }
    *out = o;
    *out_len = k;
    return ONYX_OK;
}

onyx_status tk_normalizer_parse(const cJSON *json, tk_normalizer **out) {
    *out = NULL;
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(json, "type");
    if (!cJSON_IsString(type)) return onyx_error(ONYX_ERR_INVALID_MODEL, "normalizer has no \"type\"");
    const char *t = type->valuestring;
    tk_normalizer *n = onyx_calloc(1, sizeof(*n));
    if (!n) return ONYX_ERR_OUT_OF_MEMORY;
    onyx_status st = ONYX_OK;
    if (!strcmp(t, "Sequence")) {
        n->kind = TK_NORM_SEQUENCE;
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(json, "normalizers");
        int count = cJSON_GetArraySize(list);
        n->children = onyx_calloc(count ? (size_t)count : 1, sizeof(*n->children));
        if (!n->children) { st = ONYX_ERR_OUT_OF_MEMORY; goto fail; }
        const cJSON *child;
        cJSON_ArrayForEach(child, list) {
            if ((st = tk_normalizer_parse(child, &n->children[n->child_count]))) goto fail;
            n->child_count++;
        }
    } else if (!strcmp(t, "NFC")) n->kind = TK_NORM_NFC;
    else if (!strcmp(t, "NFD")) n->kind = TK_NORM_NFD;
    else if (!strcmp(t, "NFKC")) n->kind = TK_NORM_NFKC;
    else if (!strcmp(t, "NFKD")) n->kind = TK_NORM_NFKD;
    else if (!strcmp(t, "Lowercase")) n->kind = TK_NORM_LOWERCASE;
    else if (!strcmp(t, "Nmt")) n->kind = TK_NORM_NMT;
    else if (!strcmp(t, "StripAccents")) n->kind = TK_NORM_STRIP_ACCENTS;
    else if (!strcmp(t, "Strip")) {
        n->kind = TK_NORM_STRIP;
        n->strip_left = json_bool(json, "strip_left", 1);
        n->strip_right = json_bool(json, "strip_right", 1);
    } else if (!strcmp(t, "Replace") || !strcmp(t, "Prepend")) {
        int is_replace = !strcmp(t, "Replace");
        n->kind = is_replace ? TK_NORM_REPLACE : TK_NORM_PREPEND;
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(json, is_replace ? "content" : "prepend");
        if (!cJSON_IsString(c)) { st = onyx_error(ONYX_ERR_INVALID_MODEL, "normalizer %s has no string content", t); goto fail; }
        n->content = onyx_strdup(c->valuestring);
        if (!n->content) { st = ONYX_ERR_OUT_OF_MEMORY; goto fail; }
        n->content_len = strlen(c->valuestring);
        if (is_replace && (st = tk_pattern_parse(&n->pattern, cJSON_GetObjectItemCaseSensitive(json, "pattern"), "normalizer Replace")))
            goto fail;
    } else if (!strcmp(t, "BertNormalizer")) {
        n->kind = TK_NORM_BERT;
        n->clean_text = json_bool(json, "clean_text", 1);
        n->handle_chinese_chars = json_bool(json, "handle_chinese_chars", 1);
        n->lowercase = json_bool(json, "lowercase", 1);
        n->strip_accents = json_bool(json, "strip_accents", n->lowercase);
    } else if (!strcmp(t, "Precompiled")) {
        n->kind = TK_NORM_PRECOMPILED;
        n->longest_match = json_bool(json, "longest_match", 0);
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(json, "precompiled_charsmap");
        if (cJSON_IsNull(c) || !c) goto done; /* no map: identity */
        if (!cJSON_IsString(c)) { st = onyx_error(ONYX_ERR_INVALID_MODEL, "Precompiled: precompiled_charsmap is not a string"); goto fail; }
        if ((st = base64_decode(c->valuestring, &n->charsmap, &n->charsmap_len))) goto fail;
        if (n->charsmap_len == 0) goto done;
        if (n->charsmap_len < 4) { st = onyx_error(ONYX_ERR_INVALID_MODEL, "Precompiled: charsmap of %zu bytes is too short", n->charsmap_len); goto fail; }
        uint32_t trie_bytes = (uint32_t)n->charsmap[0] | ((uint32_t)n->charsmap[1] << 8) |
                              ((uint32_t)n->charsmap[2] << 16) | ((uint32_t)n->charsmap[3] << 24);
        if ((size_t)trie_bytes > n->charsmap_len - 4 || trie_bytes % 4) {
            st = onyx_error(ONYX_ERR_INVALID_MODEL, "Precompiled: trie size %u does not fit the %zu-byte charsmap", trie_bytes, n->charsmap_len);
            goto fail;
        }
        /* The trie units are little-endian uint32 after the 4-byte size; copy to aligned memory. */
        uint32_t *units = onyx_malloc(trie_bytes ? trie_bytes : 4);
        if (!units) { st = ONYX_ERR_OUT_OF_MEMORY; goto fail; }
        for (size_t i = 0; i < trie_bytes / 4; i++) {
            const unsigned char *b = n->charsmap + 4 + 4 * i;
            units[i] = (uint32_t)b[0] | ((uint32_t)b[1] << 8) | ((uint32_t)b[2] << 16) | ((uint32_t)b[3] << 24);
        }
        n->trie = units;
        n->trie_units = trie_bytes / 4;
        n->normalized = (const char *)n->charsmap + 4 + trie_bytes;
        n->normalized_len = n->charsmap_len - 4 - trie_bytes;
        charsmap_ascii_tables(n);
    } else {
        st = onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "normalizer type \"%.100s\" is not supported", t);
        goto fail;
    }
done:
    *out = n;
    return ONYX_OK;
fail:
    tk_normalizer_free(n);
    return st;
}

void tk_normalizer_free(tk_normalizer *n) {
    if (!n) return;
    for (size_t i = 0; i < n->child_count; i++) tk_normalizer_free(n->children[i]);
    onyx_free(n->children);
    tk_pattern_free(&n->pattern);
    onyx_free(n->content);
    onyx_free(n->charsmap);
    onyx_free((void *)n->trie);
    onyx_free(n);
}

/* ---- running ---- */

static size_t map_lowercase(uint32_t cp, uint32_t *out, const void *ctx) {
    (void)ctx;
    if (cp == 0x130) { out[0] = 'i'; out[1] = 0x307; return 2; } /* Rust's full mapping */
    out[0] = (uint32_t)utf8proc_tolower((utf8proc_int32_t)cp);
    return 1;
}

static size_t map_strip_marks(uint32_t cp, uint32_t *out, const void *ctx) {
    (void)ctx;
    if (utf8proc_category((utf8proc_int32_t)cp) == UTF8PROC_CATEGORY_MN) return 0;
    out[0] = cp;
    return 1;
}

static size_t map_bert_clean(uint32_t cp, uint32_t *out, const void *ctx) {
    (void)ctx;
    if (cp == 0 || cp == 0xFFFD || tk_is_control(cp)) return 0;
    out[0] = cp;
    return 1;
}

static size_t map_bert_whitespace(uint32_t cp, uint32_t *out, const void *ctx) {
    (void)ctx;
    out[0] = (cp == '\t' || cp == '\n' || cp == '\r' || tk_is_whitespace(cp)) ? ' ' : cp;
    return 1;
}

static size_t map_nmt_filter(uint32_t cp, uint32_t *out, const void *ctx) {
    (void)ctx;
    if ((cp >= 1 && cp <= 8) || cp == 0x0B || (cp >= 0x0E && cp <= 0x1F) || cp == 0x7F || cp == 0x8F || cp == 0x9F)
        return 0;
    out[0] = cp;
    return 1;
}

static size_t map_nmt_spaces(uint32_t cp, uint32_t *out, const void *ctx) {
    (void)ctx;
    int space = cp == 0x09 || cp == 0x0A || cp == 0x0C || cp == 0x0D || cp == 0x1680 ||
                (cp >= 0x200B && cp <= 0x200F) || cp == 0x2028 || cp == 0x2029 || cp == 0x2581 ||
                cp == 0xFEFF || cp == 0xFFFD;
    out[0] = space ? ' ' : cp;
    return 1;
}

static size_t map_chinese(uint32_t cp, uint32_t *out, const void *ctx) {
    (void)ctx;
    if (tk_is_chinese(cp)) { out[0] = ' '; out[1] = cp; out[2] = ' '; return 3; }
    out[0] = cp;
    return 1;
}

/* Whether cp joins the segment before it for normalization: combining marks and Hangul V/T
 * jamo. Segments are normalized one at a time so each keeps its alignment. */
static int continues_segment(uint32_t cp) {
    const utf8proc_property_t *p = utf8proc_get_property((utf8proc_int32_t)cp);
    return p->combining_class != 0 || (cp >= 0x1161 && cp <= 0x11C2);
}

static onyx_status unicode_normalize(tk_nstr *ns, utf8proc_option_t options) {
    size_t cap = ns->len * 2 + 16, n = 0;
    uint32_t *cps = onyx_malloc(cap * sizeof(uint32_t));
    int32_t *changes = onyx_malloc(cap * sizeof(int32_t));
    onyx_status st = ONYX_OK;
    if (!cps || !changes) { st = ONYX_ERR_OUT_OF_MEMORY; goto done; }
    size_t i = 0;
    while (i < ns->len) {
        size_t seg_start = i, in_chars = 0;
        uint32_t cp;
        i += tk_utf8_decode(ns->text, ns->len, i, &cp);
        in_chars++;
        while (i < ns->len) {
            uint32_t next;
            size_t k = tk_utf8_decode(ns->text, ns->len, i, &next);
            if (!continues_segment(next)) break;
            i += k;
            in_chars++;
        }
        utf8proc_uint8_t *mapped = NULL;
        utf8proc_ssize_t m = utf8proc_map((const utf8proc_uint8_t *)ns->text + seg_start,
                                          (utf8proc_ssize_t)(i - seg_start), &mapped, options);
        if (m < 0) { st = onyx_error(ONYX_ERR_RUNTIME, "unicode normalization failed: %s", utf8proc_errmsg(m)); goto done; }
        size_t out_chars = 0;
        for (utf8proc_ssize_t j = 0; j < m;) {
            uint32_t c;
            j += (utf8proc_ssize_t)tk_utf8_decode((const char *)mapped, (size_t)m, (size_t)j, &c);
            if (n + 2 >= cap) {
                cap *= 2;
                uint32_t *c2 = onyx_realloc(cps, cap * sizeof(uint32_t));
                if (c2) cps = c2;
                int32_t *g2 = onyx_realloc(changes, cap * sizeof(int32_t));
                if (g2) changes = g2;
                if (!c2 || !g2) { free(mapped); st = ONYX_ERR_OUT_OF_MEMORY; goto done; }
            }
            cps[n] = c;
            changes[n] = out_chars < in_chars ? 0 : 1;
            n++;
            out_chars++;
        }
        free(mapped);
        if (out_chars < in_chars) {
            if (out_chars == 0) { st = onyx_error(ONYX_ERR_RUNTIME, "unicode normalization removed a segment"); goto done; }
            changes[n - out_chars] = -(int32_t)(in_chars - out_chars);
        }
    }
    st = tk_nstr_transform(ns, cps, changes, n);
done:
    onyx_free(cps);
    onyx_free(changes);
    return st;
}

/* darts-clone common prefix search over the charsmap's trie: the keys that prefix
 * text[0,len), shortest first. With want_longest 0 it stops at the shortest (HF's Precompiled
 * takes the first result), with 1 it goes on to the longest (sentencepiece's
 * Normalizer::NormalizePrefix). Returns the key's value (a blob offset) and sets *key_len, or
 * returns -1 when no key prefixes the text. */
static int64_t charsmap_prefix_match(const tk_normalizer *n, const unsigned char *text, size_t len,
                                     int want_longest, size_t *key_len) {
    const uint32_t *a = n->trie;
    size_t units = n->trie_units;
    if (!units) return -1;
#define UNIT_OFFSET(u) (((u) >> 10) << (((u) & (1u << 9)) >> 6))
    int64_t found = -1;
    size_t pos = 0;
    uint32_t unit = a[0];
    pos ^= UNIT_OFFSET(unit);
    for (size_t i = 0; i < len; i++) {
        pos ^= text[i];
        if (pos >= units) break;
        unit = a[pos];
        if ((unit & ((1u << 31) | 0xFF)) != text[i]) break;
        pos ^= UNIT_OFFSET(unit);
        if (pos >= units) break;
        if ((unit >> 8) & 1) {
            found = (int64_t)(a[pos] & ((1u << 31) - 1));
            *key_len = i + 1;
            if (!want_longest) break;
        }
    }
#undef UNIT_OFFSET
    return found;
}

/* The per-ASCII-byte lookups: ascii_value[b], the value of the key "b" (or -1), and
 * ascii_begins_longer[b], whether any longer key begins with b (then the longest match
 * needs the trie). */
static void charsmap_ascii_tables(tk_normalizer *n) {
    const uint32_t *a = n->trie;
    size_t units = n->trie_units;
#define UNIT_OFFSET(u) (((u) >> 10) << (((u) & (1u << 9)) >> 6))
#define UNIT_LABEL(u) ((u) & ((1u << 31) | 0xFF))
    for (unsigned b = 0; b < 128; b++) {
        unsigned char key = (unsigned char)b;
        size_t key_len;
        n->ascii_value[b] = charsmap_prefix_match(n, &key, 1, 0, &key_len);
        n->ascii_begins_longer[b] = 0;
        if (!units) continue;
        size_t pos = UNIT_OFFSET(a[0]) ^ b;
        if (pos >= units || UNIT_LABEL(a[pos]) != b) continue;
        pos ^= UNIT_OFFSET(a[pos]);
        for (unsigned c = 1; c < 256 && !n->ascii_begins_longer[b]; c++)
            if ((pos ^ c) < units && UNIT_LABEL(a[pos ^ c]) == c) n->ascii_begins_longer[b] = 1;
    }
#undef UNIT_LABEL
#undef UNIT_OFFSET
}

/* (code point, change) pairs for tk_nstr_transform. In a Precompiled pass chars are pushed
 * only from the first replacement on: the unchanged ones before it wait in
 * [pending_from, the current position), and a text with no replacement costs no pairs. */
typedef struct change_list {
    uint32_t *cps;
    int32_t *changes;
    size_t count, cap;
    size_t pending_from; /* byte offset of the first unchanged char not pushed yet */
    int modified;
} change_list;

static onyx_status push_change(change_list *o, uint32_t c, int32_t change) {
    if (o->count == o->cap) {
        size_t grown = o->cap ? o->cap * 2 : 64;
        uint32_t *a = onyx_realloc(o->cps, grown * sizeof(uint32_t));
        if (a) o->cps = a;
        int32_t *b = onyx_realloc(o->changes, grown * sizeof(int32_t));
        if (b) o->changes = b;
        if (!a || !b) return ONYX_ERR_OUT_OF_MEMORY;
        o->cap = grown;
    }
    o->cps[o->count] = c;
    o->changes[o->count] = change;
    o->count++;
    return ONYX_OK;
}

/* Push the unchanged chars of text[pending_from, upto). */
static onyx_status flush_unchanged(change_list *o, const char *text, size_t upto) {
    size_t i = o->pending_from;
    while (i < upto) {
        uint32_t c;
        i += tk_utf8_decode(text, upto, i, &c);
        ONYX_TRY(push_change(o, c, 0));
    }
    o->pending_from = upto;
    return ONYX_OK;
}

/* Replace text[at, at + old_bytes) (old_count chars) by the normalized string at blob offset
 * value (NUL-terminated). The first new char replaces (and removes the surplus old chars), the
 * others are inserted; this is what the offsets of HF tokenizers 0.23 show. */
static onyx_status push_replacement(const tk_normalizer *n, change_list *o, const char *text, size_t at,
                                    size_t old_bytes, size_t old_count, int64_t value) {
    ONYX_TRY(flush_unchanged(o, text, at));
    o->pending_from = at + old_bytes;
    o->modified = 1;
    size_t s = (size_t)value, e = s;
    while (e < n->normalized_len && n->normalized[e]) e++;
    if (tk_utf8_invalid_at(n->normalized + s, e - s) != e - s)
        return onyx_error(ONYX_ERR_INVALID_MODEL, "Precompiled: replacement at %zu is not valid UTF-8", s);
    size_t new_count = 0;
    for (size_t k = s; k < e; k++)
        if (((unsigned char)n->normalized[k] & 0xC0) != 0x80) new_count++;
    if (new_count == 0) {
        /* Removed: the chars count against the char before them; at the very start nothing
         * absorbs them and the next char takes their alignment (HF 0.23 does the same). */
        if (o->count > 0) o->changes[o->count - 1] -= (int32_t)old_count;
        return ONYX_OK;
    }
    size_t k = 0, idx = 0;
    while (s + k < e) {
        uint32_t c;
        k += tk_utf8_decode(n->normalized + s, e - s, k, &c);
        int32_t change = 1;
        if (idx == 0) change = new_count < old_count ? (int32_t)new_count - (int32_t)old_count : 0;
        ONYX_TRY(push_change(o, c, change));
        idx++;
    }
    return ONYX_OK;
}

static size_t count_chars(const char *text, size_t len) {
    size_t chars = 0;
    for (size_t k = 0; k < len; k++)
        if (((unsigned char)text[k] & 0xC0) != 0x80) chars++;
    return chars;
}

/* The charsmap's value for a key, when it names a place in the blob. */
static int usable_value(const tk_normalizer *n, int64_t v) { return v >= 0 && (size_t)v < n->normalized_len; }

/* HF's Precompiled: each extended grapheme cluster shorter than 6 bytes is looked up whole
 * (shortest key prefixing it), otherwise, or when it has no key, each of its chars alone. An
 * ASCII char followed by ASCII (or the end) is a cluster of its own unless it is CR before LF,
 * so it is looked up in the ASCII table without grapheme segmentation. */
static onyx_status precompiled_by_grapheme(const tk_normalizer *n, const tk_nstr *ns, change_list *o) {
    const char *text = ns->text;
    size_t i = 0, len = ns->len;
    while (i < len) {
        unsigned char b = (unsigned char)text[i];
        if (b < 0x80 && (i + 1 == len || ((unsigned char)text[i + 1] < 0x80 && !(b == '\r' && text[i + 1] == '\n')))) {
            if (usable_value(n, n->ascii_value[b])) ONYX_TRY(push_replacement(n, o, text, i, 1, 1, n->ascii_value[b]));
            i++;
            continue;
        }
        utf8proc_int32_t state = 0;
        uint32_t prev;
        size_t g_end = i + tk_utf8_decode(text, len, i, &prev);
        while (g_end < len) {
            uint32_t next;
            size_t k = tk_utf8_decode(text, len, g_end, &next);
            if (utf8proc_grapheme_break_stateful((utf8proc_int32_t)prev, (utf8proc_int32_t)next, &state)) break;
            prev = next;
            g_end += k;
        }
        if (g_end - i < 6) {
            size_t key_len;
            int64_t v = charsmap_prefix_match(n, (const unsigned char *)text + i, g_end - i, 0, &key_len);
            if (usable_value(n, v)) {
                ONYX_TRY(push_replacement(n, o, text, i, g_end - i, count_chars(text + i, g_end - i), v));
                i = g_end;
                continue;
            }
        }
        while (i < g_end) {
            size_t k = tk_utf8_len((unsigned char)text[i]), key_len;
            int64_t v = charsmap_prefix_match(n, (const unsigned char *)text + i, k, 0, &key_len);
            if (usable_value(n, v)) ONYX_TRY(push_replacement(n, o, text, i, k, 1, v));
            i += k;
        }
    }
    return ONYX_OK;
}

/* The sentencepiece library's Normalizer: at each position the longest key prefixing the rest
 * of the text replaces what it covers ("e\u0301" -> "\u00e9" where the map has that key),
 * otherwise one char is kept as it is. An ASCII byte that begins no longer key is looked up
 * in the ASCII table. */
static onyx_status precompiled_longest_match(const tk_normalizer *n, const tk_nstr *ns, change_list *o) {
    const char *text = ns->text;
    size_t i = 0, len = ns->len;
    while (i < len) {
        unsigned char b = (unsigned char)text[i];
        if (b < 0x80 && !n->ascii_begins_longer[b]) {
            if (usable_value(n, n->ascii_value[b])) ONYX_TRY(push_replacement(n, o, text, i, 1, 1, n->ascii_value[b]));
            i++;
            continue;
        }
        size_t key_len = 0;
        int64_t v = charsmap_prefix_match(n, (const unsigned char *)text + i, len - i, 1, &key_len);
        if (usable_value(n, v)) {
            ONYX_TRY(push_replacement(n, o, text, i, key_len, count_chars(text + i, key_len), v));
            i += key_len;
            continue;
        }
        i += tk_utf8_len(b);
    }
    return ONYX_OK;
}

static onyx_status precompiled_normalize(const tk_normalizer *n, tk_nstr *ns) {
    if (!n->trie_units) return ONYX_OK;
    change_list o = {0};
    onyx_status st = n->longest_match ? precompiled_longest_match(n, ns, &o) : precompiled_by_grapheme(n, ns, &o);
    if (!st && o.modified) st = flush_unchanged(&o, ns->text, ns->len);
    if (!st && o.modified) st = tk_nstr_transform(ns, o.cps, o.changes, o.count);
    onyx_free(o.cps);
    onyx_free(o.changes);
    return st;
}

onyx_status tk_normalizer_run(const tk_normalizer *n, tk_nstr *ns) {
    switch (n->kind) {
    case TK_NORM_SEQUENCE:
        for (size_t i = 0; i < n->child_count; i++) ONYX_TRY(tk_normalizer_run(n->children[i], ns));
        return ONYX_OK;
    case TK_NORM_NFC: return unicode_normalize(ns, UTF8PROC_STABLE | UTF8PROC_COMPOSE);
    case TK_NORM_NFD: return unicode_normalize(ns, UTF8PROC_STABLE | UTF8PROC_DECOMPOSE);
    case TK_NORM_NFKC: return unicode_normalize(ns, UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT);
    case TK_NORM_NFKD: return unicode_normalize(ns, UTF8PROC_STABLE | UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT);
    case TK_NORM_LOWERCASE: return tk_nstr_map(ns, map_lowercase, NULL);
    case TK_NORM_STRIP_ACCENTS: return tk_nstr_map(ns, map_strip_marks, NULL);
    case TK_NORM_STRIP: {
        size_t s = 0, e = ns->len;
        if (n->strip_left)
            while (s < e) {
                uint32_t c;
                size_t k = tk_utf8_decode(ns->text, ns->len, s, &c);
                if (!tk_is_whitespace(c)) break;
                s += k;
            }
        if (n->strip_right)
            while (e > s) {
                size_t b = e - 1;
                while (b > s && ((unsigned char)ns->text[b] & 0xC0) == 0x80) b--;
                uint32_t c;
                tk_utf8_decode(ns->text, ns->len, b, &c);
                if (!tk_is_whitespace(c)) break;
                e = b;
            }
        if (s == 0 && e == ns->len) return ONYX_OK;
        tk_nstr cut = {0};
        ONYX_TRY(tk_nstr_slice(&cut, ns, s, e));
        tk_nstr_free(ns);
        *ns = cut;
        return ONYX_OK;
    }
    case TK_NORM_REPLACE: {
        tk_match *m = NULL;
        size_t count = 0;
        ONYX_TRY(tk_pattern_find(&n->pattern, ns->text, ns->len, &m, &count));
        size_t *starts = onyx_malloc((count + 1) * sizeof(size_t)), *ends = onyx_malloc((count + 1) * sizeof(size_t));
        onyx_status st = ONYX_OK;
        if (!starts || !ends) st = ONYX_ERR_OUT_OF_MEMORY;
        size_t k = 0;
        for (size_t i = 0; !st && i < count; i++)
            if (m[i].is_match) { starts[k] = m[i].start; ends[k] = m[i].end; k++; }
        if (!st) st = tk_nstr_replace_ranges(ns, starts, ends, k, n->content, n->content_len);
        onyx_free(starts);
        onyx_free(ends);
        onyx_free(m);
        return st;
    }
    case TK_NORM_PREPEND: {
        if (ns->len == 0 || n->content_len == 0) return ONYX_OK;
        change_list o = {0};
        size_t k = 0;
        onyx_status st = ONYX_OK;
        while (!st && k < n->content_len) {
            uint32_t c;
            k += tk_utf8_decode(n->content, n->content_len, k, &c);
            st = push_change(&o, c, o.count == 0 ? 0 : 1);
        }
        size_t i = 0, idx = 0;
        while (!st && i < ns->len) {
            uint32_t c;
            i += tk_utf8_decode(ns->text, ns->len, i, &c);
            st = push_change(&o, c, idx == 0 ? 1 : 0);
            idx++;
        }
        if (!st) st = tk_nstr_transform(ns, o.cps, o.changes, o.count);
        onyx_free(o.cps);
        onyx_free(o.changes);
        return st;
    }
    case TK_NORM_BERT:
        if (n->clean_text) {
            ONYX_TRY(tk_nstr_map(ns, map_bert_clean, NULL));
            ONYX_TRY(tk_nstr_map(ns, map_bert_whitespace, NULL));
        }
        if (n->handle_chinese_chars) ONYX_TRY(tk_nstr_map(ns, map_chinese, NULL));
        if (n->strip_accents) {
            ONYX_TRY(unicode_normalize(ns, UTF8PROC_STABLE | UTF8PROC_DECOMPOSE));
            ONYX_TRY(tk_nstr_map(ns, map_strip_marks, NULL));
        }
        if (n->lowercase) ONYX_TRY(tk_nstr_map(ns, map_lowercase, NULL));
        return ONYX_OK;
    case TK_NORM_PRECOMPILED: return precompiled_normalize(n, ns);
    case TK_NORM_NMT:
        ONYX_TRY(tk_nstr_map(ns, map_nmt_filter, NULL));
        return tk_nstr_map(ns, map_nmt_spaces, NULL);
    }
    return ONYX_OK;
}
