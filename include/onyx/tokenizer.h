/*
 * tokenizer.h - the public C API of onyx's text tokenizer: Hugging Face tokenizer.json files
 * (and SentencePiece models) turned into the ids that transformer models take as input.
 *
 * The goal is id-for-id, offset-for-offset agreement with the Hugging Face `tokenizers` library
 * for the same file and text. The pipeline is HF's: added-token split, normalizer,
 * pre-tokenizer, model (WordPiece, BPE, Unigram), post-processor (special tokens, type ids),
 * then truncation and padding. Decoding runs the decoder chain.
 *
 * Conventions are those of onyx.h: fallible calls return onyx_status and leave a message in
 * onyx_last_error(); "caller owns" means the caller passes the object to its _destroy function;
 * _destroy(NULL) does nothing. Text is UTF-8 with an explicit byte length (no NUL needed);
 * invalid UTF-8 is ONYX_ERR_INVALID_ARGUMENT with a message naming the byte offset
 * ("text is not valid UTF-8 at byte 17").
 *
 * Threads: a loaded tokenizer is immutable; any number of threads may encode and decode with one
 * tokenizer at the same time.
 */
#ifndef ONYX_TOKENIZER_H
#define ONYX_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "onyx/onyx.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct onyx_tokenizer onyx_tokenizer;

/* ---------------------------------------------------------------------------------------------
 * Loading
 */

/* Load a tokenizer. path is one of:
 *  - a tokenizer.json file (Hugging Face `tokenizers` format);
 *  - a SentencePiece model file (*.model);
 *  - a folder holding tokenizer.json, or else spiece.model / sentencepiece.bpe.model (with
 *    vocab.json where the model needs it).
 * Unsupported components (e.g. BPE dropout) are ONYX_ERR_NOT_IMPLEMENTED naming the component.
 * Caller owns *out. */
ONYX_API onyx_status onyx_tokenizer_load(const char *path, onyx_tokenizer **out);
/* The same from the bytes of a tokenizer.json in memory (copied as needed). Caller owns *out. */
ONYX_API onyx_status onyx_tokenizer_load_json(const char *json, size_t size, onyx_tokenizer **out);
ONYX_API void onyx_tokenizer_destroy(onyx_tokenizer *tokenizer);

/* ---------------------------------------------------------------------------------------------
 * Vocabulary
 */

/* Number of ids: the model's vocabulary plus added tokens that are not in it (HF's
 * get_vocab_size(with_added_tokens=True)). */
ONYX_API size_t onyx_tokenizer_vocab_size(const onyx_tokenizer *tokenizer);
/* The id of token (added tokens first, then the model's vocabulary); -1 if none. */
ONYX_API int64_t onyx_tokenizer_token_to_id(const onyx_tokenizer *tokenizer, const char *token,
                                            size_t token_len);
/* The token string of id, NUL-terminated and owned by the tokenizer; NULL if id is out of range. */
ONYX_API const char *onyx_tokenizer_id_to_token(const onyx_tokenizer *tokenizer, int64_t id);
/* Added tokens (tokenizer.json "added_tokens"), index 0 .. count-1. *content is owned by the
 * tokenizer. Returns ONYX_ERR_INVALID_ARGUMENT for an index out of range. */
ONYX_API size_t onyx_tokenizer_added_token_count(const onyx_tokenizer *tokenizer);
ONYX_API onyx_status onyx_tokenizer_added_token(const onyx_tokenizer *tokenizer, size_t index,
                                                const char **content, int64_t *id,
                                                int *is_special);

/* ---------------------------------------------------------------------------------------------
 * Encode options
 */
typedef enum onyx_truncation_strategy {
    ONYX_TRUNCATE_NONE = 0,          /* do_not_truncate */
    ONYX_TRUNCATE_LONGEST_FIRST = 1, /* remove from the longer of the pair, one token at a time */
    ONYX_TRUNCATE_ONLY_FIRST = 2,
    ONYX_TRUNCATE_ONLY_SECOND = 3
} onyx_truncation_strategy;

typedef enum onyx_side { ONYX_SIDE_RIGHT = 0, ONYX_SIDE_LEFT = 1 } onyx_side;

typedef enum onyx_padding_strategy {
    ONYX_PAD_NONE = 0,
    ONYX_PAD_LONGEST = 1,    /* in a batch, pad every encoding to the longest one */
    ONYX_PAD_MAX_LENGTH = 2  /* pad to padding_length */
} onyx_padding_strategy;

/* Which settings apply: the tokenizer file's own "truncation" and "padding" sections, or these. */
typedef enum onyx_config_source {
    ONYX_CONFIG_FROM_TOKENIZER = 0, /* use the tokenizer.json's truncation / padding (or none) */
    ONYX_CONFIG_FROM_OPTIONS = 1    /* use the fields below, ignoring the file's */
} onyx_config_source;

typedef struct onyx_encode_options {
    size_t struct_size;     /* sizeof(onyx_encode_options), set by onyx_encode_options_init */
    int add_special_tokens; /* run the post-processor's template; default 1 */

    onyx_config_source truncation_source; /* default ONYX_CONFIG_FROM_OPTIONS */
    onyx_truncation_strategy truncation;  /* default ONYX_TRUNCATE_NONE */
    size_t max_length;                    /* total length including special tokens */
    size_t stride;                        /* overlap between overflowing pieces; default 0 */
    onyx_side truncation_side;            /* default ONYX_SIDE_RIGHT */
    /* Keep the cut-off pieces in encoding->overflowing. As in HF tokenizers 0.23, words past
     * max_length tokens on the kept side are never tokenized, so the pieces hold only what was
     * tokenized; pieces of a pair combine as HF's Encoding::merge. */
    int return_overflowing;

    onyx_config_source padding_source; /* default ONYX_CONFIG_FROM_OPTIONS */
    onyx_padding_strategy padding;     /* default ONYX_PAD_NONE */
    size_t padding_length;             /* for ONYX_PAD_MAX_LENGTH */
    size_t pad_to_multiple_of;         /* 0 = no rounding */
    onyx_side padding_side;            /* default ONYX_SIDE_RIGHT */
    /* The pad token, as HF's PaddingParams: pad_token NULL means the tokenizer.json's padding
     * section when padding_source is FROM_TOKENIZER, else "[PAD]". pad_id < 0 means: look
     * pad_token up when one was given, else 0 (HF's default pad_id). */
    const char *pad_token;
    int64_t pad_id;       /* default -1 */
    int64_t pad_type_id;  /* default 0 */

    /* onyx_tokenizer_encode_batch: how many threads encode the batch (OpenMP); 0 (default) =
     * OpenMP's choice (OMP_NUM_THREADS, else one per core), 1 = the calling thread only. */
    int num_threads;
} onyx_encode_options;

ONYX_API void onyx_encode_options_init(onyx_encode_options *options);

/* ---------------------------------------------------------------------------------------------
 * Encodings: a public struct of parallel arrays, all of `length` entries.
 *
 * Offsets are BYTE offsets into the original text of the sequence the token came from
 * (sequence_ids says which: 0 = text, 1 = pair, -1 = special token added by the post-processor,
 * whose offsets are (0,0)). HF's Python API returns offsets in Unicode code points; convert with
 * onyx_encoding_char_offsets.
 */
typedef struct onyx_encoding {
    size_t length;
    int64_t *ids;
    int64_t *type_ids;
    char **tokens;               /* NUL-terminated token strings */
    int64_t *offsets;            /* 2*length: start, end byte offsets (end exclusive) */
    int64_t *word_ids;           /* word index within its sequence; -1 for special and padding */
    int64_t *sequence_ids;       /* 0, 1, or -1 (special token or padding) */
    int64_t *special_tokens_mask; /* 1 for tokens added by the post-processor and padding */
    int64_t *attention_mask;     /* 0 for padding, else 1 */
    size_t overflowing_count;    /* pieces cut off by truncation when return_overflowing */
    struct onyx_encoding *overflowing; /* overflowing_count encodings (owned by this one) */
    void *token_storage;         /* onyx's own: the memory of the token strings (do not touch) */
} onyx_encoding;

/* Free an encoding from onyx_tokenizer_encode, and its overflowing encodings. */
ONYX_API void onyx_encoding_destroy(onyx_encoding *encoding);
/* Free n encodings from onyx_tokenizer_encode_batch (the array and each one). */
ONYX_API void onyx_encoding_batch_destroy(onyx_encoding *encodings, size_t n);

/* Convert the byte offsets of encoding to code-point offsets, as HF's Python API returns them.
 * text/pair are the same strings that were encoded (pair may be NULL). char_offsets receives
 * 2*length values. */
ONYX_API onyx_status onyx_encoding_char_offsets(const onyx_encoding *encoding, const char *text,
                                                size_t text_len, const char *pair,
                                                size_t pair_len, int64_t *char_offsets);

/* ---------------------------------------------------------------------------------------------
 * Encode and decode
 */

/* Encode text (and pair, if not NULL) into *out. options may be NULL for defaults.
 * Caller owns *out (onyx_encoding_destroy). Linear time in the text length. */
ONYX_API onyx_status onyx_tokenizer_encode(const onyx_tokenizer *tokenizer, const char *text,
                                           size_t text_len, const char *pair, size_t pair_len,
                                           const onyx_encode_options *options,
                                           onyx_encoding **out);

/* Encode n texts (pairs may be NULL, or hold NULL entries for singles); lens and pair_lens give
 * byte lengths. ONYX_PAD_LONGEST pads to the longest in the batch. Texts are shared out over
 * options->num_threads threads (see there); the result does not depend on the thread count.
 * *out is an array of n encodings; caller owns it (onyx_encoding_batch_destroy). */
ONYX_API onyx_status onyx_tokenizer_encode_batch(const onyx_tokenizer *tokenizer,
                                                 const char *const *texts, const size_t *lens,
                                                 const char *const *pairs,
                                                 const size_t *pair_lens, size_t n,
                                                 const onyx_encode_options *options,
                                                 onyx_encoding **out);

/* Decode ids into UTF-8 text. skip_special_tokens drops special added tokens;
 * clean_up_tokenization_spaces applies HF's cleanup (" ." -> ".", " n't" -> "n't", ...).
 * Ids with no token are skipped, as HF does. *out_text is NUL-terminated, *out_len its byte
 * length; caller frees *out_text with onyx_tokenizer_free_text. */
ONYX_API onyx_status onyx_tokenizer_decode(const onyx_tokenizer *tokenizer, const int64_t *ids,
                                           size_t n, int skip_special_tokens,
                                           int clean_up_tokenization_spaces, char **out_text,
                                           size_t *out_len);
ONYX_API void onyx_tokenizer_free_text(char *text);

#ifdef __cplusplus
}
#endif

#endif
