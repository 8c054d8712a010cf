/*
 * fuzz_npy.c - libFuzzer target: .npy parsing from memory.
 */
#include <stddef.h>
#include <stdint.h>

#include "core/npy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    onyx_tensor *tensor = NULL;
    if (onyx_npy_read_memory(data, size, "fuzz.npy", &tensor) == ONYX_OK) onyx_tensor_destroy(tensor);
    return 0;
}
