/*
 * fuzz_tensor_proto.c - libFuzzer target: standalone TensorProto decoding (the backend tests'
 * input_K.pb / output_K.pb files).
 */
#include <stddef.h>
#include <stdint.h>

#include "core/alloc.h"
#include "onnx/loader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    onyx_tensor *tensor = NULL;
    char *name = NULL;
    if (onyx_onnx_read_tensor_memory(data, size, &tensor, &name) == ONYX_OK) {
        onyx_tensor_destroy(tensor);
        onyx_free(name);
    }
    return 0;
}
