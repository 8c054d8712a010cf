/*
 * fuzz_onnx_loader.c - libFuzzer target: any bytes given to the ONNX model loader must yield a
 * model or an error, never a crash, a sanitizer report or a leak.
 */
#include <stddef.h>
#include <stdint.h>

#include "onnx/loader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    onyx_onnx_model *model = NULL;
    if (onyx_onnx_load_memory(data, size, "fuzz.onnx", &model) == ONYX_OK) onyx_onnx_model_destroy(model);
    return 0;
}
