/*
 * fuzz_tokenizer_encode.c - libFuzzer target: encoding arbitrary bytes with small fixed
 * tokenizers (WordPiece with BertNormalizer, byte-level BPE, Unigram with Metaspace, and a
 * BPE with byte fallback behind a Sequence of normalizers and pre-tokenizers).
 *
 * Input layout: byte 0 picks the tokenizer and options, the rest is split at the first 0xFF
 * byte into text and pair (0xFF never occurs in UTF-8, so invalid UTF-8 stays reachable through
 * other bytes). Valid encodings are decoded again and their char offsets computed.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "onyx/tokenizer.h"

static const char *const TOKENIZERS[] = {
    "{\"added_tokens\":[{\"id\":2,\"content\":\"[CLS]\",\"special\":true},{\"id\":3,\"content\":\"[SEP]\",\"special\":true},"
    "{\"id\":11,\"content\":\"[MASK]\",\"special\":true,\"lstrip\":true,\"rstrip\":true},"
    "{\"id\":12,\"content\":\"xy\",\"special\":false,\"normalized\":true,\"single_word\":true}],"
    "\"normalizer\":{\"type\":\"BertNormalizer\",\"clean_text\":true,\"handle_chinese_chars\":true,\"strip_accents\":null,\"lowercase\":true},"
    "\"pre_tokenizer\":{\"type\":\"BertPreTokenizer\"},"
    "\"post_processor\":{\"type\":\"BertProcessing\",\"sep\":[\"[SEP]\",3],\"cls\":[\"[CLS]\",2]},"
    "\"decoder\":{\"type\":\"WordPiece\",\"prefix\":\"##\",\"cleanup\":true},"
    "\"model\":{\"type\":\"WordPiece\",\"unk_token\":\"[UNK]\",\"max_input_chars_per_word\":20,"
    "\"vocab\":{\"[PAD]\":0,\"[UNK]\":1,\"[CLS]\":2,\"[SEP]\":3,\"a\":4,\"b\":5,\"##a\":6,\"##b\":7,\",\":8,\"ab\":9,\"##ab\":10}}}",

    "{\"added_tokens\":[{\"id\":6,\"content\":\"<|endoftext|>\",\"special\":true}],"
    "\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"add_prefix_space\":true,\"trim_offsets\":true,\"use_regex\":true},"
    "\"post_processor\":{\"type\":\"RobertaProcessing\",\"sep\":[\"<|endoftext|>\",6],\"cls\":[\"<|endoftext|>\",6],\"trim_offsets\":true,\"add_prefix_space\":true},"
    "\"decoder\":{\"type\":\"ByteLevel\"},"
    "\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1,\"\\u0120\":2,\"ab\":3,\"\\u0120ab\":4,\"\\u0120a\":5},"
    "\"merges\":[\"a b\",\"\\u0120 a\",\"\\u0120a b\"]}}",

    "{\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"NFKC\"},{\"type\":\"Replace\",\"pattern\":{\"Regex\":\" {2,}\"},\"content\":\" \"},"
    "{\"type\":\"Strip\",\"strip_left\":true,\"strip_right\":true},{\"type\":\"Nmt\"}]},"
    "\"pre_tokenizer\":{\"type\":\"Metaspace\",\"replacement\":\"\\u2581\",\"prepend_scheme\":\"first\",\"split\":true},"
    "\"post_processor\":{\"type\":\"TemplateProcessing\",\"single\":[{\"Sequence\":{\"id\":\"A\",\"type_id\":0}},{\"SpecialToken\":{\"id\":\"</s>\",\"type_id\":0}}],"
    "\"pair\":[{\"Sequence\":{\"id\":\"A\",\"type_id\":0}},{\"Sequence\":{\"id\":\"B\",\"type_id\":1}},{\"SpecialToken\":{\"id\":\"</s>\",\"type_id\":1}}],"
    "\"special_tokens\":{\"</s>\":{\"id\":\"</s>\",\"ids\":[1],\"tokens\":[\"</s>\"]}}},"
    "\"decoder\":{\"type\":\"Metaspace\",\"replacement\":\"\\u2581\",\"prepend_scheme\":\"first\",\"split\":true},"
    "\"model\":{\"type\":\"Unigram\",\"unk_id\":0,\"byte_fallback\":true,\"vocab\":[[\"<unk>\",0.0],[\"</s>\",0.0],[\"\\u2581\",-2.0],"
    "[\"a\",-3.0],[\"b\",-3.0],[\"ab\",-4.0],[\"\\u2581ab\",-4.5],[\"\\u2581a\",-3.5],[\"<0xC3>\",-9.0],[\"<0xA9>\",-9.0]]}}",

    "{\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"NFD\"},{\"type\":\"StripAccents\"},{\"type\":\"Lowercase\"},{\"type\":\"Prepend\",\"prepend\":\"_\"}]},"
    "\"pre_tokenizer\":{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Split\",\"pattern\":{\"String\":\"b\"},\"behavior\":\"MergedWithNext\",\"invert\":false},"
    "{\"type\":\"Digits\",\"individual_digits\":false},{\"type\":\"Punctuation\",\"behavior\":\"Contiguous\"},{\"type\":\"WhitespaceSplit\"},"
    "{\"type\":\"Split\",\"pattern\":{\"Regex\":\"\\\\p{L}+\"},\"behavior\":\"Removed\",\"invert\":true}]},"
    "\"decoder\":{\"type\":\"Sequence\",\"decoders\":[{\"type\":\"Replace\",\"pattern\":{\"String\":\"_\"},\"content\":\" \"},{\"type\":\"ByteFallback\"},{\"type\":\"Fuse\"},"
    "{\"type\":\"Strip\",\"content\":\" \",\"start\":1,\"stop\":0}]},"
    "\"model\":{\"type\":\"BPE\",\"unk_token\":\"<unk>\",\"fuse_unk\":true,\"byte_fallback\":true,\"continuing_subword_prefix\":\"##\",\"end_of_word_suffix\":\"</w>\","
    "\"vocab\":{\"<unk>\":0,\"_\":1,\"a\":2,\"##a\":3,\"##b\":4,\"a</w>\":5,\"##b</w>\":6,\"<0x31>\":7,\"ab</w>\":8},"
    "\"merges\":[\"a ##b</w>\",[\"_\",\"a\"]]}}",
};

#define TOKENIZER_COUNT (sizeof(TOKENIZERS) / sizeof(TOKENIZERS[0]))

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static onyx_tokenizer *loaded[TOKENIZER_COUNT];
    if (size < 1) return 0;
    size_t which = data[0] % TOKENIZER_COUNT;
    if (!loaded[which] && onyx_tokenizer_load_json(TOKENIZERS[which], strlen(TOKENIZERS[which]), &loaded[which]) != ONYX_OK)
        __builtin_trap(); /* the embedded files are valid: failing to load them is a bug */
    const onyx_tokenizer *t = loaded[which];
    const char *text = (const char *)data + 1;
    size_t rest = size - 1, text_len = rest;
    const char *pair = NULL;
    size_t pair_len = 0;
    const void *cut = memchr(text, 0xFF, rest);
    if (cut) {
        text_len = (size_t)((const char *)cut - text);
        pair = text + text_len + 1;
        pair_len = rest - text_len - 1;
    }
    onyx_encode_options o;
    onyx_encode_options_init(&o);
    uint8_t flags = data[0] / TOKENIZER_COUNT;
    o.add_special_tokens = flags & 1;
    if (flags & 2) {
        o.truncation = (onyx_truncation_strategy)(1 + (flags >> 4) % 3);
        o.max_length = 3 + (flags >> 2) % 6;
        o.stride = (flags >> 3) & 1;
        o.truncation_side = (flags & 4) ? ONYX_SIDE_LEFT : ONYX_SIDE_RIGHT;
        o.return_overflowing = 1;
    }
    if (flags & 64) {
        o.padding = ONYX_PAD_MAX_LENGTH;
        o.padding_length = 9;
        o.pad_to_multiple_of = (flags & 8) ? 4 : 0;
        o.padding_side = (flags & 16) ? ONYX_SIDE_LEFT : ONYX_SIDE_RIGHT;
    }
    onyx_encoding *e = NULL;
    if (onyx_tokenizer_encode(t, text, text_len, pair, pair_len, &o, &e) == ONYX_OK) {
        int64_t char_offsets[2 * 4096];
        if (e->length <= 4096) onyx_encoding_char_offsets(e, text, text_len, pair, pair_len, char_offsets);
        char *out = NULL;
        if (onyx_tokenizer_decode(t, e->ids, e->length, flags & 1, flags & 2, &out, NULL) == ONYX_OK)
            onyx_tokenizer_free_text(out);
        onyx_encoding_destroy(e);
    }
    return 0;
}
