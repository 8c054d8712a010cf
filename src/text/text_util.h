/*
 * text_util.h - building blocks of the tokenizer engine: UTF-8 helpers, a byte-string hash map
 * (vocabularies), an integer hash map (BPE merges), growable buffers, and the normalized string.
 *
 * The normalized string (tk_nstr) is HF's NormalizedString: the current text plus, for every
 * byte of it, the (start, end) byte range in the ORIGINAL text that it came from. Every
 * normalizer and pre-tokenizer edits text through tk_nstr_transform (HF's transform: a list of
 * (code point, change) pairs) or tk_nstr_replace, so token offsets map back to the input exactly
 * as HF maps them.
 */
#ifndef ONYX_TEXT_TEXT_UTIL_H
#define ONYX_TEXT_TEXT_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "onyx/onyx.h"

/* Decode one code point at s[i] (validated text). Returns its byte length. */
size_t tk_utf8_decode(const char *s, size_t len, size_t i, uint32_t *cp);
/* Encode cp into out (4 bytes room); returns the byte count. */
size_t tk_utf8_encode(uint32_t cp, char *out);
/* Byte offset of the first invalid UTF-8 sequence, or len if the text is valid. */
size_t tk_utf8_invalid_at(const char *s, size_t len);
static inline size_t tk_utf8_len(unsigned char lead) {
    return lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
}

/* Growable byte buffer. */
typedef struct tk_buf {
    char *data;
    size_t len, cap;
} tk_buf;
onyx_status tk_buf_add(tk_buf *b, const void *bytes, size_t n);
onyx_status tk_buf_add_cp(tk_buf *b, uint32_t cp);
void tk_buf_free(tk_buf *b);

/* Map from byte strings to int64 (open addressing; keys are copied). */
typedef struct tk_strmap {
    char **keys;
    size_t *key_lens;
    int64_t *values;
    size_t cap, count;
} tk_strmap;
onyx_status tk_strmap_put(tk_strmap *m, const char *key, size_t len, int64_t value);
/* The value, or -1 when absent. */
int64_t tk_strmap_get(const tk_strmap *m, const char *key, size_t len);
void tk_strmap_free(tk_strmap *m);

/* Map from uint64 keys to two int32 values (BPE merges: (left, right) -> (rank, new id)). */
typedef struct tk_pairmap {
    uint64_t *keys;
    int32_t *rank, *value;
    unsigned char *used;
    size_t cap, count;
} tk_pairmap;
onyx_status tk_pairmap_put(tk_pairmap *m, uint64_t key, int32_t rank, int32_t value);
int tk_pairmap_get(const tk_pairmap *m, uint64_t key, int32_t *rank, int32_t *value);
void tk_pairmap_free(tk_pairmap *m);

/* An original-text byte range. */
typedef struct tk_span {
    int64_t start, end;
} tk_span;

/* HF's NormalizedString: text and, per byte, the original range it came from. */
typedef struct tk_nstr {
    char *text;
    size_t len;
    tk_span *align; /* len entries; the start of the block that also holds text */
} tk_nstr;

/* The text and the spans of an nstr live in one block (align points at it, text into it):
 * tk_nstr_alloc makes one for len bytes (text NUL-terminated, spans unset), tk_nstr_free frees it. */
onyx_status tk_nstr_alloc(tk_nstr *ns, size_t len);
/* A new nstr over original bytes [0,len) shifted by base (align[i] = char range + base). */
onyx_status tk_nstr_from_original(tk_nstr *ns, const char *text, size_t len, int64_t base);
/* A copy of bytes [start,end) of src with their alignments. */
onyx_status tk_nstr_slice(tk_nstr *out, const tk_nstr *src, size_t start, size_t end);
void tk_nstr_free(tk_nstr *ns);

/* HF's NormalizedString::transform over the whole string: for each (cps[k], changes[k]):
 * change 0 replaces the next original char, > 0 inserts, < 0 replaces the next char and removes
 * -change more. Original chars not consumed at the end are dropped. */
onyx_status tk_nstr_transform(tk_nstr *ns, const uint32_t *cps, const int32_t *changes, size_t n);
/* The same, first skipping initial_chars chars of the old text (HF's initial_offset). */
onyx_status tk_nstr_transform_skip(tk_nstr *ns, const uint32_t *cps, const int32_t *changes, size_t n,
                                   size_t initial_chars);
/* HF's NormalizedString::replace for a list of match ranges [starts[k], ends[k]): each match is
 * replaced by content, whose bytes take the alignment of the match's last byte. */
onyx_status tk_nstr_replace_ranges(tk_nstr *ns, const size_t *starts, const size_t *ends,
                                   size_t n, const char *content, size_t content_len);
/* Map every code point through fn, which writes up to 8 output code points and returns their
 * count (0 removes the char). Changes are HF's: first output replaces, the rest insert. */
typedef size_t (*tk_cp_map_fn)(uint32_t cp, uint32_t *out, const void *ctx);
onyx_status tk_nstr_map(tk_nstr *ns, tk_cp_map_fn fn, const void *ctx);

/* Character classes as HF's Rust code uses them. */
int tk_is_whitespace(uint32_t cp);        /* Rust char::is_whitespace (White_Space) */
int tk_is_bert_punctuation(uint32_t cp);  /* ASCII punctuation or Unicode P* */
int tk_is_control(uint32_t cp);           /* Bert: C* but not \t \n \r */
int tk_is_chinese(uint32_t cp);
int tk_is_numeric(uint32_t cp);           /* Rust char::is_numeric: Nd, Nl, No */

/* A growable list of (start,end,is_match) pieces covering a string, as HF's find_matches. */
typedef struct tk_match {
    size_t start, end;
    int is_match;
} tk_match;

#endif
