/*
 * decoder.c - HF decoders (WordPiece, ByteLevel, Metaspace, BPEDecoder, ByteFallback, Fuse,
 * Strip, Replace, Sequence) over a list of token strings, as HF's decode_chain, and HF's
 * clean_up_tokenization for the final text.
 */
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "text/components.h"

static int json_bool(const cJSON *obj, const char *key, int dflt) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsBool(v) ? cJSON_IsTrue(v) : dflt;
}

static onyx_status dup_field(const cJSON *json, const char *key, const char *dflt, char **out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(json, key);
    const char *s = cJSON_IsString(v) ? v->valuestring : dflt;
    *out = onyx_strdup(s);
    return *out ? ONYX_OK : ONYX_ERR_OUT_OF_MEMORY;
}

onyx_status tk_decoder_parse(const cJSON *json, tk_decoder **out) {
    *out = NULL;
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(json, "type");
    if (!cJSON_IsString(type)) return onyx_error(ONYX_ERR_INVALID_MODEL, "decoder has no \"type\"");
    const char *t = type->valuestring;
    tk_decoder *d = onyx_calloc(1, sizeof(*d));
    if (!d) return ONYX_ERR_OUT_OF_MEMORY;
    onyx_status st = ONYX_OK;
    if (!strcmp(t, "Sequence")) {
        d->kind = TK_DEC_SEQUENCE;
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(json, "decoders");
        int count = cJSON_GetArraySize(list);
        d->children = onyx_calloc(count ? (size_t)count : 1, sizeof(*d->children));
        if (!d->children) { st = ONYX_ERR_OUT_OF_MEMORY; goto fail; }
        const cJSON *child;
        cJSON_ArrayForEach(child, list) {
            if ((st = tk_decoder_parse(child, &d->children[d->child_count]))) goto fail;
            d->child_count++;
        }
    } else if (!strcmp(t, "WordPiece")) {
        d->kind = TK_DEC_WORDPIECE;
        d->cleanup = json_bool(json, "cleanup", 1);
        st = dup_field(json, "prefix", "##", &d->prefix);
    } else if (!strcmp(t, "ByteLevel")) d->kind = TK_DEC_BYTELEVEL;
    else if (!strcmp(t, "Metaspace")) {
        d->kind = TK_DEC_METASPACE;
        if (!(st = tk_parse_replacement(json, &d->replacement))) st = tk_parse_prepend_scheme(json, &d->prepend_scheme);
    } else if (!strcmp(t, "BPEDecoder")) {
        d->kind = TK_DEC_BPE;
        st = dup_field(json, "suffix", "</w>", &d->prefix);
    } else if (!strcmp(t, "ByteFallback")) d->kind = TK_DEC_BYTE_FALLBACK;
    else if (!strcmp(t, "Fuse")) d->kind = TK_DEC_FUSE;
    else if (!strcmp(t, "Strip")) {
        d->kind = TK_DEC_STRIP;
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(json, "start"), *e = cJSON_GetObjectItemCaseSensitive(json, "stop");
        d->strip_start = (size_t)tk_json_int(s, 0, 0, INT32_MAX);
        d->strip_stop = (size_t)tk_json_int(e, 0, 0, INT32_MAX);
        st = dup_field(json, "content", " ", &d->prefix);
    } else if (!strcmp(t, "Replace")) {
        d->kind = TK_DEC_REPLACE;
        if (!(st = dup_field(json, "content", "", &d->prefix)))
            st = tk_pattern_parse(&d->pattern, cJSON_GetObjectItemCaseSensitive(json, "pattern"), "decoder Replace");
    } else {
        st = onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "decoder type \"%.100s\" is not supported", t);
    }
    if (st) goto fail;
    *out = d;
    return ONYX_OK;
fail:
    tk_decoder_free(d);
    return st;
}

void tk_decoder_free(tk_decoder *d) {
    if (!d) return;
    for (size_t i = 0; i < d->child_count; i++) tk_decoder_free(d->children[i]);
    onyx_free(d->children);
    onyx_free(d->prefix);
    tk_pattern_free(&d->pattern);
    onyx_free(d);
}

/* Replace every occurrence of pat in s with rep; returns a new heap string or NULL. */
static char *str_replace(const char *s, const char *pat, const char *rep) {
    size_t pl = strlen(pat), rl = strlen(rep);
    tk_buf b = {0};
    if (tk_buf_add(&b, "", 0)) return NULL;
    if (pl == 0) { tk_buf_add(&b, s, strlen(s)); return b.data; }
    const char *p = s, *hit;
    while ((hit = strstr(p, pat))) {
        if (tk_buf_add(&b, p, (size_t)(hit - p)) || tk_buf_add(&b, rep, rl)) { tk_buf_free(&b); return NULL; }
        p = hit + pl;
    }
    if (tk_buf_add(&b, p, strlen(p))) { tk_buf_free(&b); return NULL; }
    return b.data;
}

void tk_cleanup_spaces(char *s, int wordpiece) {
    /* transformers' clean_up_tokenization; the WordPiece decoder's list also has " do not". */
    static const char *const pairs[][2] = {
        {" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"}, {" n't", "n't"},
        {" 'm", "'m"}, {" do not", " don't"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
    for (size_t k = 0; k < sizeof(pairs) / sizeof(pairs[0]); k++) {
        if (!wordpiece && !strcmp(pairs[k][0], " do not")) continue;
        size_t pl = strlen(pairs[k][0]), rl = strlen(pairs[k][1]);
        char *r = s, *w = s;
        while (*r) {
            if (!strncmp(r, pairs[k][0], pl)) {
                memmove(w, pairs[k][1], rl);
                w += rl;
                r += pl;
            } else {
                *w++ = *r++;
            }
        }
        *w = 0;
    }
}

static onyx_status set_token(char **tokens, size_t i, char *fresh) {
    if (!fresh) return ONYX_ERR_OUT_OF_MEMORY;
    onyx_free(tokens[i]);
    tokens[i] = fresh;
    return ONYX_OK;
}

/* Append bytes as UTF-8, each invalid sequence becoming U+FFFD (Rust's from_utf8_lossy). */
static onyx_status add_lossy(tk_buf *b, const unsigned char *bytes, size_t n) {
    size_t i = 0;
    while (i < n) {
        size_t bad = tk_utf8_invalid_at((const char *)bytes + i, n - i);
        ONYX_TRY(tk_buf_add(b, bytes + i, bad));
        i += bad;
        if (i >= n) break;
        /* One U+FFFD per maximal invalid subpart (Unicode table 3-7): the lead byte and the
         * continuation bytes that were still allowed after it. */
        unsigned char c = bytes[i];
        size_t want = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xC2 && c <= 0xDF ? 2 : 1;
        size_t k = 1;
        while (k < want && i + k < n) {
            unsigned char b = bytes[i + k], lo = 0x80, hi = 0xBF;
            if (k == 1 && c == 0xE0) lo = 0xA0;
            if (k == 1 && c == 0xED) hi = 0x9F;
            if (k == 1 && c == 0xF0) lo = 0x90;
            if (k == 1 && c == 0xF4) hi = 0x8F;
            if (b < lo || b > hi) break;
            k++;
        }
        ONYX_TRY(tk_buf_add(b, "\xEF\xBF\xBD", 3));
        i += k;
    }
    return ONYX_OK;
}

static int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* "<0xHH>" as HF's ByteFallback reads it: Rust's u8::from_str_radix(HH, 16), which also takes
 * "+H" (an optional plus sign before one digit) and nothing else. */
static int byte_token(const char *t, unsigned char *out) {
    if (strlen(t) != 6 || strncmp(t, "<0x", 3) || t[5] != '>') return 0;
    int hi = t[3] == '+' ? 0 : hex_value(t[3]), lo = hex_value(t[4]);
    if (hi < 0 || lo < 0) return 0;
    *out = (unsigned char)(hi * 16 + lo);
    return 1;
}

onyx_status tk_decoder_run(const tk_decoder *d, char ***tokens_io, size_t *count_io) {
    char **tokens = *tokens_io;
    size_t n = *count_io;
    switch (d->kind) {
    case TK_DEC_SEQUENCE:
        for (size_t i = 0; i < d->child_count; i++) ONYX_TRY(tk_decoder_run(d->children[i], tokens_io, count_io));
        return ONYX_OK;
    case TK_DEC_WORDPIECE: {
        size_t pl = strlen(d->prefix);
        for (size_t i = 0; i < n; i++) {
            tk_buf b = {0};
            if (i != 0 && !strncmp(tokens[i], d->prefix, pl)) {
                if (tk_buf_add(&b, tokens[i] + pl, strlen(tokens[i]) - pl)) return ONYX_ERR_OUT_OF_MEMORY;
            } else if (i != 0) {
                if (tk_buf_add(&b, " ", 1) || tk_buf_add(&b, tokens[i], strlen(tokens[i]))) { tk_buf_free(&b); return ONYX_ERR_OUT_OF_MEMORY; }
            } else if (tk_buf_add(&b, tokens[i], strlen(tokens[i]))) {
                return ONYX_ERR_OUT_OF_MEMORY;
            }
            if (d->cleanup) tk_cleanup_spaces(b.data, 1);
            ONYX_TRY(set_token(tokens, i, b.data));
        }
        return ONYX_OK;
    }
    case TK_DEC_BYTELEVEL:
    case TK_DEC_BYTE_FALLBACK:
    case TK_DEC_FUSE: {
        /* These three produce fewer tokens: build a new list. */
        char **outs = onyx_calloc(n ? n : 1, sizeof(char *));
        if (!outs) return ONYX_ERR_OUT_OF_MEMORY;
        size_t m = 0;
        onyx_status st = ONYX_OK;
        if (d->kind == TK_DEC_FUSE || d->kind == TK_DEC_BYTELEVEL) {
            tk_buf all = {0};
            for (size_t i = 0; !st && i < n; i++) {
                if (d->kind == TK_DEC_FUSE) {
                    st = tk_buf_add(&all, tokens[i], strlen(tokens[i]));
                    continue;
                }
                /* As HF: a token whose chars all map to bytes becomes those bytes, any other
                 * token keeps its own UTF-8 bytes. */
                size_t len = strlen(tokens[i]), k = 0, mark = all.len;
                int mapped = 1;
                while (!st && k < len) {
                    uint32_t cp;
                    k += tk_utf8_decode(tokens[i], len, k, &cp);
                    int byte = tk_char_to_byte(cp);
                    if (byte < 0) { mapped = 0; break; }
                    unsigned char bb = (unsigned char)byte;
                    st = tk_buf_add(&all, &bb, 1);
                }
                if (!st && !mapped) {
                    all.len = mark;
                    st = tk_buf_add(&all, tokens[i], len);
                }
            }
            if (!st && d->kind == TK_DEC_BYTELEVEL) {
                tk_buf fixed = {0};
                st = add_lossy(&fixed, (const unsigned char *)(all.data ? all.data : ""), all.len);
                if (!st && !fixed.data) st = tk_buf_add(&fixed, "", 0);
                tk_buf_free(&all);
                all = fixed;
            }
            if (!st && !all.data) st = tk_buf_add(&all, "", 0);
            if (!st) outs[m++] = all.data;
            else tk_buf_free(&all);
        } else {
            size_t i = 0;
            while (!st && i < n) {
                unsigned char byte;
                if (!byte_token(tokens[i], &byte)) {
                    outs[m] = onyx_strdup(tokens[i]);
                    if (!outs[m]) st = ONYX_ERR_OUT_OF_MEMORY;
                    m++;
                    i++;
                    continue;
                }
                tk_buf bytes = {0}, text = {0};
                while (!st && i < n && byte_token(tokens[i], &byte)) {
                    st = tk_buf_add(&bytes, &byte, 1);
                    i++;
                }
                if (!st) {
                    if (tk_utf8_invalid_at(bytes.data, bytes.len) == bytes.len) st = tk_buf_add(&text, bytes.data, bytes.len);
                    else
                        for (size_t k = 0; !st && k < bytes.len; k++) st = tk_buf_add(&text, "\xEF\xBF\xBD", 3);
                }
                tk_buf_free(&bytes);
                if (st) { tk_buf_free(&text); break; }
                outs[m++] = text.data;
            }
        }
        for (size_t i = 0; i < n; i++) onyx_free(tokens[i]);
        onyx_free(tokens);
        *tokens_io = outs;
        *count_io = m;
        if (st) {
            for (size_t i = 0; i < m; i++) onyx_free(outs[i]);
            *count_io = 0;
        }
        return st;
    }
    case TK_DEC_METASPACE: {
        /* As HF: the replacement becomes a space, except in the first token (when a prefix was
         * prepended) where every replacement char is dropped. */
        char rep[5] = {0};
        tk_utf8_encode(d->replacement, rep);
        for (size_t i = 0; i < n; i++) {
            char *r = str_replace(tokens[i], rep, i == 0 && d->prepend_scheme != TK_PREPEND_NEVER ? "" : " ");
            ONYX_TRY(set_token(tokens, i, r));
        }
        return ONYX_OK;
    }
    case TK_DEC_BPE:
        for (size_t i = 0; i < n; i++) ONYX_TRY(set_token(tokens, i, str_replace(tokens[i], d->prefix, i + 1 == n ? "" : " ")));
        return ONYX_OK;
    case TK_DEC_STRIP: {
        size_t cl = strlen(d->prefix);
        for (size_t i = 0; i < n && cl; i++) {
            char *t = tokens[i];
            size_t len = strlen(t), s = 0, e = len;
            for (size_t k = 0; k < d->strip_start && s + cl <= e && !strncmp(t + s, d->prefix, cl); k++) s += cl;
            for (size_t k = 0; k < d->strip_stop && e >= s + cl && !strncmp(t + e - cl, d->prefix, cl); k++) e -= cl;
            memmove(t, t + s, e - s);
            t[e - s] = 0;
        }
        return ONYX_OK;
    }
    case TK_DEC_REPLACE:
        for (size_t i = 0; i < n; i++) {
            size_t len = strlen(tokens[i]), count = 0;
            tk_match *m = NULL;
            ONYX_TRY(tk_pattern_find(&d->pattern, tokens[i], len, &m, &count));
            tk_buf b = {0};
            onyx_status st = tk_buf_add(&b, "", 0);
            for (size_t k = 0; !st && k < count; k++)
                st = m[k].is_match ? tk_buf_add(&b, d->prefix, strlen(d->prefix))
                                   : tk_buf_add(&b, tokens[i] + m[k].start, m[k].end - m[k].start);
            onyx_free(m);
            if (st) { tk_buf_free(&b); return st; }
            ONYX_TRY(set_token(tokens, i, b.data));
        }
        return ONYX_OK;
    }
    return ONYX_OK;
}
