/*
 * fuzz_tokenizer_json.c - libFuzzer target: tokenizer.json loading from memory; a file that loads
 * is then used to encode a fixed pair of texts and decode the ids, so every component it names
 * runs at least once.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "onyx/tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    onyx_tokenizer *t = NULL;
    if (onyx_tokenizer_load_json((const char *)data, size, &t) != ONYX_OK) return 0;
    static const char text[] = "Hello, w\xC3\xB6rld! 12 caf\xC3\xA9 [MASK] \xE4\xB8\xAD  end";
    static const char pair[] = " tw\xC3\xA9\x08o ";
    onyx_encode_options o;
    onyx_encode_options_init(&o);
    o.truncation = ONYX_TRUNCATE_LONGEST_FIRST;
    o.max_length = 12;
    o.stride = 2;
    o.return_overflowing = 1;
    o.padding = ONYX_PAD_MAX_LENGTH;
    o.padding_length = 14;
    onyx_encoding *e = NULL;
    if (onyx_tokenizer_encode(t, text, strlen(text), pair, strlen(pair), &o, &e) == ONYX_OK) {
        char *out = NULL;
        if (onyx_tokenizer_decode(t, e->ids, e->length, 1, 1, &out, NULL) == ONYX_OK) onyx_tokenizer_free_text(out);
        onyx_encoding_destroy(e);
    }
    if (onyx_tokenizer_encode(t, text, strlen(text), NULL, 0, NULL, &e) == ONYX_OK) onyx_encoding_destroy(e);
    int64_t ids[] = {0, 1, 2, 3, 5, 7, 11, 100, -1, 1000000};
    char *out = NULL;
    if (onyx_tokenizer_decode(t, ids, sizeof(ids) / sizeof(ids[0]), 0, 0, &out, NULL) == ONYX_OK) onyx_tokenizer_free_text(out);
    onyx_tokenizer_destroy(t);
    return 0;
}
