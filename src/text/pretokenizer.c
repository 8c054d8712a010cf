/*
 * pretokenizer.c - HF pre-tokenizers: BertPreTokenizer, ByteLevel, Whitespace, WhitespaceSplit,
 * Metaspace, Punctuation, Digits, Split, Sequence. Each turns every piece into sub-pieces by
 * HF's split behaviours (removed, isolated, merged with previous/next, contiguous), keeping
 * alignments so that offsets map back to the original text.
 */
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "text/components.h"

static const char GPT2_PATTERN[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
static const char WHITESPACE_PATTERN[] = "\\w+|[^\\w\\s]+";

onyx_status tk_pieces_push(tk_pieces *p, tk_nstr ns) {
    if (p->count == p->cap) {
        size_t c = p->cap ? p->cap * 2 : 16;
        tk_nstr *g = onyx_realloc(p->items, c * sizeof(tk_nstr));
        if (!g) { tk_nstr_free(&ns); return ONYX_ERR_OUT_OF_MEMORY; }
        p->items = g;
        p->cap = c;
    }
    p->items[p->count++] = ns;
    return ONYX_OK;
}

void tk_pieces_free(tk_pieces *p) {
    for (size_t i = 0; i < p->count; i++) tk_nstr_free(&p->items[i]);
    onyx_free(p->items);
    memset(p, 0, sizeof(*p));
}

/* ---- the byte-level table (GPT-2's bytes_to_unicode) ---- */
uint32_t tk_byte_to_char(unsigned char b) {
    if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174)) return b;
    /* the others, in byte order, map to 256, 257, ... */
    int n = 0;
    for (int x = 0; x < b; x++)
        if (!((x >= 33 && x <= 126) || (x >= 161 && x <= 172) || (x >= 174))) n++;
    return 256u + (uint32_t)n;
}

int tk_char_to_byte(uint32_t cp) {
    if (cp < 256) {
        unsigned char b = (unsigned char)cp;
        return tk_byte_to_char(b) == cp ? (int)cp : -1;
    }
    if (cp >= 256 + 68) return -1;
    int n = 0;
    for (int x = 0; x < 256; x++)
        if (!((x >= 33 && x <= 126) || (x >= 161 && x <= 172) || (x >= 174))) {
            if (256 + n == (int)cp) return x;
            n++;
        }
    return -1;
}

/* ---- parsing ---- */

static int json_bool(const cJSON *obj, const char *key, int dflt) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsBool(v) ? cJSON_IsTrue(v) : dflt;
}

static onyx_status parse_behavior(const cJSON *json, tk_split_behavior dflt, tk_split_behavior *out) {
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(json, "behavior");
    *out = dflt;
    if (!cJSON_IsString(b)) return ONYX_OK;
    const char *s = b->valuestring;
    if (!strcmp(s, "Removed")) *out = TK_SPLIT_REMOVED;
    else if (!strcmp(s, "Isolated")) *out = TK_SPLIT_ISOLATED;
    else if (!strcmp(s, "MergedWithPrevious")) *out = TK_SPLIT_MERGED_WITH_PREVIOUS;
    else if (!strcmp(s, "MergedWithNext")) *out = TK_SPLIT_MERGED_WITH_NEXT;
    else if (!strcmp(s, "Contiguous")) *out = TK_SPLIT_CONTIGUOUS;
    else return onyx_error(ONYX_ERR_INVALID_MODEL, "split behavior \"%.50s\" is not known", s);
    return ONYX_OK;
}

onyx_status tk_parse_prepend_scheme(const cJSON *json, tk_prepend_scheme *out) {
    const cJSON *ps = cJSON_GetObjectItemCaseSensitive(json, "prepend_scheme");
    if (cJSON_IsString(ps)) {
        if (!strcmp(ps->valuestring, "always")) *out = TK_PREPEND_ALWAYS;
        else if (!strcmp(ps->valuestring, "first")) *out = TK_PREPEND_FIRST;
        else if (!strcmp(ps->valuestring, "never")) *out = TK_PREPEND_NEVER;
        else return onyx_error(ONYX_ERR_INVALID_MODEL, "Metaspace prepend_scheme \"%.50s\" is not known", ps->valuestring);
    } else {
        *out = json_bool(json, "add_prefix_space", 1) ? TK_PREPEND_ALWAYS : TK_PREPEND_NEVER;
    }
    return ONYX_OK;
}

onyx_status tk_parse_replacement(const cJSON *json, uint32_t *out) {
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(json, "replacement");
    *out = 0x2581;
    if (cJSON_IsString(r)) {
        size_t n = strlen(r->valuestring);
        if (n == 0 || tk_utf8_invalid_at(r->valuestring, n) != n)
            return onyx_error(ONYX_ERR_INVALID_MODEL, "Metaspace replacement must be one character");
        tk_utf8_decode(r->valuestring, n, 0, out);
    }
    return ONYX_OK;
}

onyx_status tk_pretokenizer_parse(const cJSON *json, tk_pretokenizer **out) {
    *out = NULL;
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(json, "type");
    if (!cJSON_IsString(type)) return onyx_error(ONYX_ERR_INVALID_MODEL, "pre_tokenizer has no \"type\"");
    const char *t = type->valuestring;
    tk_pretokenizer *p = onyx_calloc(1, sizeof(*p));
    if (!p) return ONYX_ERR_OUT_OF_MEMORY;
    onyx_status st = ONYX_OK;
    if (!strcmp(t, "Sequence")) {
        p->kind = TK_PRE_SEQUENCE;
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(json, "pretokenizers");
        int count = cJSON_GetArraySize(list);
        p->children = onyx_calloc(count ? (size_t)count : 1, sizeof(*p->children));
        if (!p->children) { st = ONYX_ERR_OUT_OF_MEMORY; goto fail; }
        const cJSON *child;
        cJSON_ArrayForEach(child, list) {
            if ((st = tk_pretokenizer_parse(child, &p->children[p->child_count]))) goto fail;
            p->child_count++;
        }
    } else if (!strcmp(t, "BertPreTokenizer")) p->kind = TK_PRE_BERT;
    else if (!strcmp(t, "ByteLevel")) {
        p->kind = TK_PRE_BYTELEVEL;
        p->add_prefix_space = json_bool(json, "add_prefix_space", 1);
        p->use_regex = json_bool(json, "use_regex", 1);
        if (p->use_regex && (st = tk_pattern_compile(&p->pattern, GPT2_PATTERN, "ByteLevel"))) goto fail;
    } else if (!strcmp(t, "Whitespace")) {
        p->kind = TK_PRE_WHITESPACE;
        if ((st = tk_pattern_compile(&p->pattern, WHITESPACE_PATTERN, "Whitespace"))) goto fail;
    } else if (!strcmp(t, "WhitespaceSplit")) p->kind = TK_PRE_WHITESPACE_SPLIT;
    else if (!strcmp(t, "Metaspace")) {
        p->kind = TK_PRE_METASPACE;
        if ((st = tk_parse_replacement(json, &p->replacement))) goto fail;
        if ((st = tk_parse_prepend_scheme(json, &p->prepend_scheme))) goto fail;
        p->split = json_bool(json, "split", 1);
    } else if (!strcmp(t, "Punctuation")) {
        p->kind = TK_PRE_PUNCTUATION;
        if ((st = parse_behavior(json, TK_SPLIT_ISOLATED, &p->behavior))) goto fail;
    } else if (!strcmp(t, "Digits")) {
        p->kind = TK_PRE_DIGITS;
        p->individual_digits = json_bool(json, "individual_digits", 0);
    } else if (!strcmp(t, "Split")) {
        p->kind = TK_PRE_SPLIT;
        if ((st = parse_behavior(json, TK_SPLIT_ISOLATED, &p->behavior))) goto fail;
        p->invert = json_bool(json, "invert", 0);
        if ((st = tk_pattern_parse(&p->pattern, cJSON_GetObjectItemCaseSensitive(json, "pattern"), "pre_tokenizer Split"))) goto fail;
    } else {
        st = onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "pre_tokenizer type \"%.100s\" is not supported", t);
        goto fail;
    }
    *out = p;
    return ONYX_OK;
fail:
    tk_pretokenizer_free(p);
    return st;
}

void tk_pretokenizer_free(tk_pretokenizer *p) {
    if (!p) return;
    for (size_t i = 0; i < p->child_count; i++) tk_pretokenizer_free(p->children[i]);
    onyx_free(p->children);
    tk_pattern_free(&p->pattern);
    onyx_free(p);
}

/* ---- splitting ---- */

/* Matches by a char predicate: each char is a match or not; `contiguous_runs` groups runs of
 * matching chars into one match (HF's char patterns give one match per char). */
typedef int (*char_pred)(uint32_t cp);

static onyx_status find_chars(const char *text, size_t len, char_pred pred, tk_match **out, size_t *count) {
    size_t cap = 16, n = 0, i = 0, run_start = 0;
    int run_kind = -1;
    tk_match *m = onyx_malloc(cap * sizeof(tk_match));
    if (!m) return ONYX_ERR_OUT_OF_MEMORY;
    while (i < len) {
        uint32_t c;
        size_t k = tk_utf8_decode(text, len, i, &c);
        int is = pred(c) ? 1 : 0;
        /* matches are one char each; non-matches merge into runs */
        if (run_kind != -1 && (is || run_kind == 1)) {
            if (n + 1 >= cap) {
                cap *= 2;
                tk_match *g = onyx_realloc(m, cap * sizeof(tk_match));
                if (!g) { onyx_free(m); return ONYX_ERR_OUT_OF_MEMORY; }
                m = g;
            }
            m[n++] = (tk_match){run_start, i, run_kind};
            run_kind = -1;
        }
        if (run_kind == -1) { run_start = i; run_kind = is; }
        i += k;
    }
    if (run_kind != -1) {
        if (n + 1 >= cap) {
            tk_match *g = onyx_realloc(m, (cap + 1) * sizeof(tk_match));
            if (!g) { onyx_free(m); return ONYX_ERR_OUT_OF_MEMORY; }
            m = g;
        }
        m[n++] = (tk_match){run_start, len, run_kind};
    }
    *out = m;
    *count = n;
    return ONYX_OK;
}

static onyx_status emit(tk_pieces *out, const tk_nstr *src, size_t s, size_t e) {
    if (e <= s) return ONYX_OK;
    tk_nstr piece = {0};
    ONYX_TRY(tk_nstr_slice(&piece, src, s, e));
    return tk_pieces_push(out, piece);
}

/* HF's NormalizedString::split with a behavior over find_matches output. */
static onyx_status split_by(const tk_nstr *ns, tk_match *m, size_t n, tk_split_behavior behavior,
                            int invert, tk_pieces *out) {
    if (invert)
        for (size_t i = 0; i < n; i++) m[i].is_match = !m[i].is_match;
    switch (behavior) {
    case TK_SPLIT_REMOVED:
        for (size_t i = 0; i < n; i++)
            if (!m[i].is_match) ONYX_TRY(emit(out, ns, m[i].start, m[i].end));
        return ONYX_OK;
    case TK_SPLIT_ISOLATED:
        for (size_t i = 0; i < n; i++) ONYX_TRY(emit(out, ns, m[i].start, m[i].end));
        return ONYX_OK;
    case TK_SPLIT_CONTIGUOUS: {
        size_t i = 0;
        while (i < n) {
            size_t j = i + 1;
            if (m[i].is_match)
                while (j < n && m[j].is_match) j++;
            ONYX_TRY(emit(out, ns, m[i].start, m[j - 1].end));
            i = j;
        }
        return ONYX_OK;
    }
    case TK_SPLIT_MERGED_WITH_PREVIOUS: {
        size_t start = 0, i = 0;
        int have = 0;
        for (; i < n; i++) {
            if (m[i].is_match) {
                ONYX_TRY(emit(out, ns, have ? start : m[i].start, m[i].end));
                have = 0;
            } else {
                if (have) ONYX_TRY(emit(out, ns, start, m[i].start));
                start = m[i].start;
                have = 1;
            }
        }
        if (have) ONYX_TRY(emit(out, ns, start, ns->len));
        return ONYX_OK;
    }
    case TK_SPLIT_MERGED_WITH_NEXT: {
        size_t start = 0;
        int have = 0;
        for (size_t i = 0; i < n; i++) {
            if (m[i].is_match) {
                if (have) ONYX_TRY(emit(out, ns, start, m[i].start));
                start = m[i].start;
                have = 1;
            } else {
                ONYX_TRY(emit(out, ns, have ? start : m[i].start, m[i].end));
                have = 0;
            }
        }
        if (have) ONYX_TRY(emit(out, ns, start, ns->len));
        return ONYX_OK;
    }
    }
    return ONYX_OK;
}

static int pred_whitespace(uint32_t c) { return tk_is_whitespace(c); }
static int pred_punct(uint32_t c) { return tk_is_bert_punctuation(c); }
static int pred_digit(uint32_t c) { return tk_is_numeric(c); }
static int pred_space(uint32_t c) { return c == ' '; }

static onyx_status split_chars(const tk_nstr *ns, char_pred pred, tk_split_behavior b, tk_pieces *out) {
    tk_match *m = NULL;
    size_t n = 0;
    ONYX_TRY(find_chars(ns->text, ns->len, pred, &m, &n));
    onyx_status st = split_by(ns, m, n, b, 0, out);
    onyx_free(m);
    return st;
}

static onyx_status split_pattern(const tk_nstr *ns, const tk_pattern *p, tk_split_behavior b, int invert,
                                 tk_pieces *out) {
    tk_match *m = NULL;
    size_t n = 0;
    ONYX_TRY(tk_pattern_find(p, ns->text, ns->len, &m, &n));
    onyx_status st = split_by(ns, m, n, b, invert, out);
    onyx_free(m);
    return st;
}

static size_t map_bytes(uint32_t cp, uint32_t *out, const void *ctx) {
    (void)ctx;
    char enc[4];
    size_t n = tk_utf8_encode(cp, enc);
    for (size_t i = 0; i < n; i++) out[i] = tk_byte_to_char((unsigned char)enc[i]);
    return n;
}

/* Prepend cp to ns as HF's NormalizedString::prepend does through transform: the new char
 * takes the alignment of the first byte, the old first char that of its last byte. */
static onyx_status prepend_cp(tk_nstr *ns, uint32_t cp) {
    if (ns->len == 0) return ONYX_OK;
    char enc[4];
    size_t add = tk_utf8_encode(cp, enc);
    tk_nstr fresh;
    ONYX_TRY(tk_nstr_alloc(&fresh, ns->len + add));
    char *text = fresh.text;
    tk_span *align = fresh.align;
    memcpy(text, enc, add);
    memcpy(text + add, ns->text, ns->len);
    for (size_t b = 0; b < add; b++) align[b] = ns->align[0];
    size_t first = tk_utf8_len((unsigned char)ns->text[0]);
    if (first > ns->len) first = ns->len;
    for (size_t b = 0; b < first; b++) align[add + b] = ns->align[first - 1];
    memcpy(align + add + first, ns->align + first, (ns->len - first) * sizeof(tk_span));
    tk_nstr_free(ns);
    *ns = fresh;
    return ONYX_OK;
}

/* Move ns into out as one piece (nothing for an empty one); ns is left empty. */
static onyx_status move_whole(tk_nstr *ns, tk_pieces *out) {
    tk_nstr whole = *ns;
    *ns = (tk_nstr){0};
    if (!whole.len) {
        tk_nstr_free(&whole);
        return ONYX_OK;
    }
    return tk_pieces_push(out, whole);
}

/* WhitespaceSplit (split on White_Space chars, removed): the runs between them; a piece that
 * has no whitespace moves to out whole. */
static onyx_status split_whitespace(tk_nstr *ns, tk_pieces *out) {
    size_t i = 0, run_start = 0;
    int in_run = 0;
    while (i < ns->len) {
        uint32_t c;
        size_t k = tk_utf8_decode(ns->text, ns->len, i, &c);
        int space = tk_is_whitespace(c);
        if (space && in_run) {
            ONYX_TRY(emit(out, ns, run_start, i));
            in_run = 0;
        } else if (!space && !in_run) {
            run_start = i;
            in_run = 1;
        }
        i += k;
    }
    if (!in_run) return ONYX_OK;
    if (run_start == 0) return move_whole(ns, out);
    return emit(out, ns, run_start, ns->len);
}

/* One pre-tokenizer over one piece, appending to out. */
static onyx_status run_one(const tk_pretokenizer *p, tk_nstr *ns, tk_pieces *out) {
    switch (p->kind) {
    case TK_PRE_SEQUENCE: return ONYX_OK; /* handled by the caller */
    case TK_PRE_WHITESPACE_SPLIT: return split_whitespace(ns, out);
    case TK_PRE_WHITESPACE: return split_pattern(ns, &p->pattern, TK_SPLIT_REMOVED, 1, out);
    case TK_PRE_PUNCTUATION: return split_chars(ns, pred_punct, p->behavior, out);
    case TK_PRE_SPLIT: return split_pattern(ns, &p->pattern, p->behavior, p->invert, out);
    case TK_PRE_DIGITS:
        return split_chars(ns, pred_digit, p->individual_digits ? TK_SPLIT_ISOLATED : TK_SPLIT_CONTIGUOUS, out);
    case TK_PRE_BERT: {
        tk_pieces words = {0};
        onyx_status st = split_chars(ns, pred_whitespace, TK_SPLIT_REMOVED, &words);
        for (size_t i = 0; !st && i < words.count; i++) st = split_chars(&words.items[i], pred_punct, TK_SPLIT_ISOLATED, out);
        tk_pieces_free(&words);
        return st;
    }
    case TK_PRE_BYTELEVEL: {
        if (p->add_prefix_space && ns->len && ns->text[0] != ' ') ONYX_TRY(prepend_cp(ns, ' '));
        tk_pieces parts = {0};
        onyx_status st;
        if (p->use_regex) {
            st = split_pattern(ns, &p->pattern, TK_SPLIT_ISOLATED, 0, &parts);
        } else {
            tk_nstr whole = {0};
            st = tk_nstr_slice(&whole, ns, 0, ns->len);
            if (!st) st = whole.len ? tk_pieces_push(&parts, whole) : (tk_nstr_free(&whole), ONYX_OK);
        }
        for (size_t i = 0; !st && i < parts.count; i++) {
            st = tk_nstr_map(&parts.items[i], map_bytes, NULL);
            if (!st) {
                st = tk_pieces_push(out, parts.items[i]);
                parts.items[i] = (tk_nstr){0};
            }
        }
        tk_pieces_free(&parts);
        return st;
    }
    case TK_PRE_METASPACE: {
        char rep[4];
        size_t rep_len = tk_utf8_encode(p->replacement, rep);
        if (memchr(ns->text, ' ', ns->len)) {
            tk_match *m = NULL;
            size_t n = 0;
            ONYX_TRY(find_chars(ns->text, ns->len, pred_space, &m, &n));
            size_t *starts = onyx_malloc((n + 1) * sizeof(size_t)), *ends = onyx_malloc((n + 1) * sizeof(size_t));
            onyx_status st = ONYX_OK;
            if (!starts || !ends) st = ONYX_ERR_OUT_OF_MEMORY;
            size_t k = 0;
            for (size_t i = 0; !st && i < n; i++)
                if (m[i].is_match) { starts[k] = m[i].start; ends[k] = m[i].end; k++; }
            if (!st) st = tk_nstr_replace_ranges(ns, starts, ends, k, rep, rep_len);
            onyx_free(starts);
            onyx_free(ends);
            onyx_free(m);
            ONYX_TRY(st);
        }
        int starts_with_rep = ns->len >= rep_len && memcmp(ns->text, rep, rep_len) == 0;
        if (!starts_with_rep && ns->len) {
            int first = ns->align[0].start == 0;
            if (p->prepend_scheme == TK_PREPEND_ALWAYS || (p->prepend_scheme == TK_PREPEND_FIRST && first)) {
                ONYX_TRY(prepend_cp(ns, p->replacement));
                starts_with_rep = 1;
            }
        }
        /* Split before each replacement (merged with next); with none past the first char the
         * piece stays whole. */
        size_t after_first = starts_with_rep ? rep_len : 0;
        if (!p->split || !memmem(ns->text + after_first, ns->len - after_first, rep, rep_len))
            return move_whole(ns, out);
        tk_pattern lit = {0};
        lit.literal = rep;
        lit.literal_len = rep_len;
        return split_pattern(ns, &lit, TK_SPLIT_MERGED_WITH_NEXT, 0, out);
    }
    }
    return ONYX_OK;
}

onyx_status tk_pretokenizer_run(const tk_pretokenizer *p, tk_pieces *pieces) {
    if (p->kind == TK_PRE_SEQUENCE) {
        for (size_t i = 0; i < p->child_count; i++) ONYX_TRY(tk_pretokenizer_run(p->children[i], pieces));
        return ONYX_OK;
    }
    tk_pieces out = {0};
    onyx_status st = ONYX_OK;
    for (size_t i = 0; !st && i < pieces->count; i++) st = run_one(p, &pieces->items[i], &out);
    if (st) { tk_pieces_free(&out); return st; }
    tk_pieces_free(pieces);
    *pieces = out;
    return ONYX_OK;
}
