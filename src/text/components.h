/*
 * components.h - the parts of a tokenizer pipeline as parsed from tokenizer.json: normalizers,
 * pre-tokenizers, models, decoders. Each is a tagged struct; Sequence holds children. Parsing
 * (tk_*_parse) reads the HF JSON object; running follows HF's Rust implementation.
 */
#ifndef ONYX_TEXT_COMPONENTS_H
#define ONYX_TEXT_COMPONENTS_H

#include <cjson/cJSON.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "text/text_util.h"

/* A JSON number as an integer clamped to [lo, hi]; dflt when v is not a number (NaN included). */
static inline int64_t tk_json_int(const cJSON *v, int64_t dflt, int64_t lo, int64_t hi) {
    if (!cJSON_IsNumber(v) || v->valuedouble != v->valuedouble) return dflt;
    double d = v->valuedouble;
    if (d <= (double)lo) return lo;
    if (d >= (double)hi) return hi;
    return (int64_t)d;
}

/* A pattern from JSON: {"String": s} or {"Regex": r}. */
typedef struct tk_pattern {
    char *literal; /* String pattern, or NULL */
    size_t literal_len;
    pcre2_code *regex; /* Regex pattern, or NULL */
} tk_pattern;

onyx_status tk_pattern_parse(tk_pattern *p, const cJSON *json, const char *what);
onyx_status tk_pattern_compile(tk_pattern *p, const char *regex, const char *what);
void tk_pattern_free(tk_pattern *p);
/* HF's find_matches: pieces covering text[0,len) marked match / not; *out is caller-freed. */
onyx_status tk_pattern_find(const tk_pattern *p, const char *text, size_t len, tk_match **out,
                            size_t *count);

typedef enum tk_split_behavior {
    TK_SPLIT_REMOVED, TK_SPLIT_ISOLATED, TK_SPLIT_MERGED_WITH_PREVIOUS, TK_SPLIT_MERGED_WITH_NEXT,
    TK_SPLIT_CONTIGUOUS
} tk_split_behavior;

/* ---- normalizers ---- */
typedef enum tk_norm_kind {
    TK_NORM_SEQUENCE, TK_NORM_NFC, TK_NORM_NFD, TK_NORM_NFKC, TK_NORM_NFKD, TK_NORM_LOWERCASE,
    TK_NORM_STRIP_ACCENTS, TK_NORM_STRIP, TK_NORM_REPLACE, TK_NORM_PREPEND, TK_NORM_BERT,
    TK_NORM_PRECOMPILED, TK_NORM_NMT
} tk_norm_kind;

typedef struct tk_normalizer {
    tk_norm_kind kind;
    struct tk_normalizer **children;
    size_t child_count;
    int strip_left, strip_right;
    tk_pattern pattern;
    char *content; /* Replace content, Prepend prefix */
    size_t content_len;
    int clean_text, handle_chinese_chars, strip_accents, lowercase;
    unsigned char *charsmap; /* Precompiled: decoded blob */
    size_t charsmap_len;
    const uint32_t *trie; /* into charsmap */
    size_t trie_units;
    const char *normalized; /* into charsmap */
    size_t normalized_len;
    int longest_match; /* Precompiled: sentencepiece's longest-key rule instead of HF's graphemes */
    int64_t ascii_value[128];               /* Precompiled: the value of each 1-byte key, or -1 */
    unsigned char ascii_begins_longer[128]; /* Precompiled: some longer key begins with the byte */
} tk_normalizer;

onyx_status tk_normalizer_parse(const cJSON *json, tk_normalizer **out);
void tk_normalizer_free(tk_normalizer *n);
onyx_status tk_normalizer_run(const tk_normalizer *n, tk_nstr *ns);

/* ---- pre-tokenizers: turn one nstr into a list of nstr pieces ---- */
typedef struct tk_pieces {
    tk_nstr *items;
    size_t count, cap;
} tk_pieces;
onyx_status tk_pieces_push(tk_pieces *p, tk_nstr ns); /* takes ownership */
void tk_pieces_free(tk_pieces *p);

typedef enum tk_pretok_kind {
    TK_PRE_SEQUENCE, TK_PRE_BERT, TK_PRE_BYTELEVEL, TK_PRE_WHITESPACE, TK_PRE_WHITESPACE_SPLIT,
    TK_PRE_METASPACE, TK_PRE_PUNCTUATION, TK_PRE_DIGITS, TK_PRE_SPLIT
} tk_pretok_kind;

typedef enum tk_prepend_scheme { TK_PREPEND_ALWAYS, TK_PREPEND_FIRST, TK_PREPEND_NEVER } tk_prepend_scheme;

typedef struct tk_pretokenizer {
    tk_pretok_kind kind;
    struct tk_pretokenizer **children;
    size_t child_count;
    int add_prefix_space, use_regex, individual_digits, invert, split;
    tk_split_behavior behavior;
    tk_pattern pattern;
    uint32_t replacement;
    tk_prepend_scheme prepend_scheme;
} tk_pretokenizer;

onyx_status tk_pretokenizer_parse(const cJSON *json, tk_pretokenizer **out);
void tk_pretokenizer_free(tk_pretokenizer *p);
/* Pre-tokenize every piece; first_offset_zero tells Metaspace "first" which pieces begin the
 * text (original start == 0). */
onyx_status tk_pretokenizer_run(const tk_pretokenizer *p, tk_pieces *pieces);

/* Metaspace fields shared with the Metaspace decoder. */
onyx_status tk_parse_prepend_scheme(const cJSON *json, tk_prepend_scheme *out);
onyx_status tk_parse_replacement(const cJSON *json, uint32_t *out);

/* The GPT-2 byte <-> printable char table. */
uint32_t tk_byte_to_char(unsigned char b);
int tk_char_to_byte(uint32_t cp); /* -1 if cp is not in the table */

/* ---- models ---- */
typedef enum tk_model_kind { TK_MODEL_WORDPIECE, TK_MODEL_BPE, TK_MODEL_UNIGRAM } tk_model_kind;

typedef struct tk_model {
    tk_model_kind kind;
    tk_strmap vocab;
    char **id_to_token; /* vocab_size entries (NULL holes allowed) */
    size_t vocab_size;
    int64_t unk_id; /* -1 if none */
    char *prefix;   /* continuing_subword_prefix (WordPiece, BPE) or NULL */
    char *suffix;   /* end_of_word_suffix (BPE) or NULL */
    size_t max_input_chars_per_word;
    tk_pairmap merges;
    int fuse_unk, byte_fallback, ignore_merges;
    int has_unk_token; /* BPE: an unk_token is configured (it may be missing from the vocab) */
    double *scores; /* Unigram */
    double min_score;
    size_t max_piece_len; /* Unigram, bytes */
    tk_pairmap trie_edges; /* Unigram trie: (node << 8 | byte) -> child node (in .rank) */
    int64_t *trie_ids;     /* Unigram trie: piece id ending at node, or -1 */
    size_t trie_nodes;
} tk_model;

/* One token of a model's output: offsets are byte offsets in the piece's text. */
typedef struct tk_token {
    int64_t id;
    const char *value; /* the vocab's string (not owned) or, when owned, a heap copy */
    int owned;
    size_t start, end;
} tk_token;

typedef struct tk_tokens {
    tk_token *items;
    size_t count, cap;
} tk_tokens;
onyx_status tk_tokens_push(tk_tokens *t, int64_t id, const char *value, size_t value_len,
                           size_t start, size_t end);
/* Push a token whose string is the model's own vocab entry for id (no copy). */
onyx_status tk_tokens_push_vocab(tk_tokens *t, const struct tk_model *m, int64_t id, size_t start, size_t end);
void tk_tokens_free(tk_tokens *t);

onyx_status tk_model_parse(const cJSON *json, tk_model **out);
void tk_model_free(tk_model *m);
onyx_status tk_model_tokenize(const tk_model *m, const char *text, size_t len, tk_tokens *out);

/* ---- decoders: act on a list of token strings ---- */
typedef enum tk_decoder_kind {
    TK_DEC_SEQUENCE, TK_DEC_WORDPIECE, TK_DEC_BYTELEVEL, TK_DEC_METASPACE, TK_DEC_BPE,
    TK_DEC_BYTE_FALLBACK, TK_DEC_FUSE, TK_DEC_STRIP, TK_DEC_REPLACE
} tk_decoder_kind;

typedef struct tk_decoder {
    tk_decoder_kind kind;
    struct tk_decoder **children;
    size_t child_count;
    char *prefix; /* WordPiece prefix, BPE suffix, Strip content, Replace content */
    int cleanup;
    uint32_t replacement;
    tk_prepend_scheme prepend_scheme;
    size_t strip_start, strip_stop;
    tk_pattern pattern;
} tk_decoder;

onyx_status tk_decoder_parse(const cJSON *json, tk_decoder **out);
void tk_decoder_free(tk_decoder *d);
/* tokens is an array of *count heap strings (onyx_malloc); the decoder may replace and shrink it. */
onyx_status tk_decoder_run(const tk_decoder *d, char ***tokens, size_t *count);
/* Cleanup of tokenization spaces on a heap string, in place: transformers'
 * clean_up_tokenization, plus " do not" -> " don't" when wordpiece (HF's WordPiece decoder). */
void tk_cleanup_spaces(char *s, int wordpiece);

#endif
