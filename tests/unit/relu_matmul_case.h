/*
 * relu_matmul_case.h - a small model for tests of how runs go (graph recording on cpu and cuda):
 * y = MatMul(Relu(a), b), written in memory (float32, or another dtype), with float32 operands
 * a (2, 3), b (3, 4) and bad_b (5, 4), whose inner dims do not match a's, so a run with it fails
 * in MatMul's prepare after Relu ran.
 * Included by test_record.c and test_cuda_graph_gpu.c.
 */
#include <stdint.h>
#include <string.h>

#include "harness.h"
#include "model/onnx_writer.h"

/* The model's bytes (onyx_malloc'd, *size of them) with a, b and y of dtype dt, NULL on failure. */
static inline uint8_t *relu_matmul_model_of(onyx_dtype dt, size_t *size) {
    onyx_graph_writer w;
    onyx_graph_writer_init(&w, "relu_matmul");
    onyx_graph_writer_input(&w, "a", dt, 2);
    onyx_graph_writer_input(&w, "b", dt, 2);
    onyx_graph_writer_output(&w, "y", dt, 2);
    onyx_graph_writer_node(&w, "Relu", "a", "r", NULL, 0);
    onyx_graph_writer_node(&w, "MatMul", "r,b", "y", NULL, 0);
    uint8_t *bytes = NULL;
    *size = 0;
    ONYX_CHECK_OK(onyx_graph_writer_finish(&w, 17, &bytes, size));
    onyx_graph_writer_release(&w);
    return bytes;
}

/* The float32 model. */
static inline uint8_t *relu_matmul_model(size_t *size) { return relu_matmul_model_of(ONYX_DTYPE_FLOAT32, size); }

typedef struct relu_matmul_operands {
    onyx_tensor *a, *b, *bad_b;
} relu_matmul_operands;

/* All three made and filled, or some NULL when out of memory. */
static inline void relu_matmul_operands_make(relu_matmul_operands *x) {
    int64_t da[2] = {2, 3}, db[2] = {3, 4}, dbad[2] = {5, 4};
    memset(x, 0, sizeof *x);
    onyx_tensor_create(ONYX_DTYPE_FLOAT32, da, 2, &x->a);
    onyx_tensor_create(ONYX_DTYPE_FLOAT32, db, 2, &x->b);
    onyx_tensor_create(ONYX_DTYPE_FLOAT32, dbad, 2, &x->bad_b);
    if (!x->a || !x->b || !x->bad_b) return;
    for (int i = 0; i < 6; i++) ((float *)onyx_tensor_data(x->a))[i] = (float)i - 2.0f;
    for (int i = 0; i < 12; i++) ((float *)onyx_tensor_data(x->b))[i] = (float)(i % 5) - 1.0f;
    memset(onyx_tensor_data(x->bad_b), 0, 20 * sizeof(float));
}

static inline void relu_matmul_operands_free(relu_matmul_operands *x) {
    onyx_tensor_destroy(x->a);
    onyx_tensor_destroy(x->b);
    onyx_tensor_destroy(x->bad_b);
}
