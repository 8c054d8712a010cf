/*
 * fuzz_dim_expr.c - libFuzzer target: symbolic dim expressions (dim_param strings of model files)
 * evaluated with a few names given values.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/dim_expr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char *const names[3] = {"batch_size", "past_sequence_length", "s0"};
    static const int64_t values[3] = {3, 9223372036854775807LL, -2};
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = 0;
    int64_t v = 0;
    (void)onyx_dim_expr_eval(text, names, values, 3, &v);
    free(text);
    return 0;
}
