/*
 * weight_layout.c - Linear layers' weights stored transposed, (N, K), for a provider whose
 * GEMMs run faster that way.
 *
 * An ONNX export stores a Linear layer's weight as MatMul's B, (K, N). PyTorch keeps it (N, K)
 * and multiplies by its transpose; in cuBLAS's column-major terms that is the "tn" product, the
 * other an "nn" one, and cuBLASLt offers them different kernels (bench/gemm_layouts.cu times
 * both; docs/cuda.md has the numbers). The pass rewrites, for the nodes placed on one provider,
 *     MatMul(A, W)              -> onyx MatMulBias(A, W^T)        transB = 1
 *     onyx MatMulBias(A, W, b)  -> onyx MatMulBias(A, W^T, b)     transB = 1
 * when W is a 2-D constant of this graph (not a graph input a caller may feed) of one of the
 * dtypes the provider names, that this node alone reads, and replaces W's data by its transpose.
 * On an H200 the cuda provider's float32 GEMMs gained 3-6% (128x128 tiles where "nn" got 256x128),
 * its float16 ones nothing, so it asks for float32 only. (The cpu provider asks for none: its
 * products pack B from (K, N) themselves, docs/cpu.md.) The initializer's old data are
 * freed when the model owned them (a tensor read from an mmap'd file keeps its pages, which are
 * the file's).
 */
#include <string.h>

#include "core/alloc.h"
#include "core/dtype.h"
#include "core/status.h"
#include "core/tensor.h"
#include "graph/passes.h"

/* dst (cols, rows) = the transpose of src (rows, cols), elements of elem bytes, in blocks of 32 x
 * 32 so that both sides are read and written a cache line at a time. */
static void transpose_bytes(void *dst, const void *src, int64_t rows, int64_t cols, size_t elem) {
    const unsigned char *s = src;
    unsigned char *d = dst;
    for (int64_t r0 = 0; r0 < rows; r0 += 32)
        for (int64_t c0 = 0; c0 < cols; c0 += 32) {
            int64_t r1 = r0 + 32 < rows ? r0 + 32 : rows, c1 = c0 + 32 < cols ? c0 + 32 : cols;
            for (int64_t r = r0; r < r1; r++)
                for (int64_t c = c0; c < c1; c++)
                    memcpy(d + ((size_t)c * (size_t)rows + (size_t)r) * elem, s + ((size_t)r * (size_t)cols + (size_t)c) * elem,
                           elem);
        }
}

/* A new model tensor of v's dtype and the given dims, its data allocated, for v's new layout. */
static onyx_status new_layout(onyx_graph *g, int v, const int64_t *dims, int rank, const char *what, onyx_tensor **t) {
    ONYX_TRY(onyx_onnx_model_new_tensor(g->model, t));
    ONYX_TRY(onyx_tensor_set_shape(*t, g->values[v].constant->dtype, dims, rank, what));
    return onyx_tensor_alloc_data(*t);
}

/* Value v re-declared as t (filled by the caller); the old data are freed when the model owned them. */
static void take_layout(onyx_graph *g, int v, onyx_tensor *t) {
    onyx_value *val = &g->values[v];
    onyx_tensor *old = val->constant;
    val->constant = t;
    val->rank = t->rank;
    for (int d = 0; d < t->rank; d++) {
        val->dims[d].value = t->dims[d];
        val->dims[d].param = NULL;
    }
    if (old->owns_data && !old->release) onyx_tensor_release(old);
}

/* The value v's data transposed into a new model tensor, the value re-declared (N, K). */
static onyx_status transpose_constant(onyx_graph *g, int v) {
    const onyx_tensor *old = g->values[v].constant;
    int64_t dims[2] = {old->dims[1], old->dims[0]};
    onyx_tensor *t;
    ONYX_TRY(new_layout(g, v, dims, 2, "transposed weight", &t));
    transpose_bytes(t->data, old->data, old->dims[0], old->dims[1], onyx_dtype_size(old->dtype));
    take_layout(g, v, t);
    return ONYX_OK;
}

/* Node n's weight when the layout pass may rewrite it: a MatMul, or an onyx MatMulBias not yet
 * rewritten, placed on provider, whose B is a 2-D constant of g (not a graph input) of a dtype in
 * dtypes, read by n alone and not held by another value. -1 otherwise; *matmul: n is a MatMul. */
static int layout_weight(const onyx_graph *g, const onyx_node *n, int provider, uint64_t dtypes, const int *readers,
                         int *matmul) {
    *matmul = !strcmp(n->domain, "") && !strcmp(n->op_type, "MatMul") && n->n_inputs == 2;
    int biased = !strcmp(n->domain, "onyx") && !strcmp(n->op_type, "MatMulBias") && n->n_inputs >= 2 &&
                 !onyx_node_attr(n, "transB") && !onyx_node_attr(n, "packedN");
    if (n->provider != provider || !(*matmul || biased)) return -1;
    int w = n->inputs[1];
    if (w < 0 || g->values[w].kind != ONYX_VALUE_CONSTANT || readers[w] != 1 || onyx_graph_is_input(g, w)) return -1;
    const onyx_tensor *t = g->values[w].constant;
    const uint64_t floats = ONYX_DT(FLOAT32) | ONYX_DT(FLOAT16) | ONYX_DT(BFLOAT16);
    if (!t || !t->data || t->rank != 2 || t->dims[0] < 1 || t->dims[1] < 1 ||
        !((UINT64_C(1) << t->dtype) & dtypes & floats))
        return -1;
    for (int v = 0; v < g->n_values; v++) /* the tensor itself behind another value too: its data must stay */
        if (v != w && g->values[v].constant == t) return -1;
    return w;
}

/* Node n (a MatMul or MatMulBias) becomes onyx MatMulBias with the int attribute name = value
 * added. */
static onyx_status rewrite_with_attr(onyx_graph *g, onyx_node *n, int matmul, const char *name, int64_t value) {
    onyx_attr *attrs = onyx_region_alloc(&g->model->region, (size_t)(n->n_attrs + 1) * sizeof *attrs);
    if (!attrs) return ONYX_ERR_OUT_OF_MEMORY;
    if (n->n_attrs) memcpy(attrs, n->attrs, (size_t)n->n_attrs * sizeof *attrs);
    memset(&attrs[n->n_attrs], 0, sizeof *attrs);
    attrs[n->n_attrs].name = name;
    attrs[n->n_attrs].type = ONYX_ATTR_INT;
    attrs[n->n_attrs].i = value;
    n->attrs = attrs;
    n->n_attrs++;
    if (matmul) {
        n->op_type = "MatMulBias";
        n->domain = "onyx";
        n->opset = 1;
    }
    return ONYX_OK;
}

onyx_status onyx_graph_transpose_weights(onyx_graph *g, int provider, uint64_t dtypes, int *count) {
    *count = 0;
    int *readers = onyx_calloc((size_t)g->n_values + 1, sizeof *readers);
    if (!readers) return ONYX_ERR_OUT_OF_MEMORY;
    onyx_status st = onyx_graph_count_readers(g, readers);
    for (int i = 0; i < g->n_nodes && st == ONYX_OK; i++) {
        onyx_node *n = &g->nodes[i];
        int matmul, w = layout_weight(g, n, provider, dtypes, readers, &matmul);
        if (w < 0) continue;
        st = transpose_constant(g, w);
        if (st == ONYX_OK) st = rewrite_with_attr(g, n, matmul, "transB", 1);
        if (st == ONYX_OK) (*count)++;
    }
    onyx_free(readers);
    return st;
}

void onyx_pack_panel(const float *b, int64_t K, int64_t N, int64_t q, float *dst) {
    const int64_t width = ONYX_WEIGHT_PANEL, n0 = q * width, w = N - n0 < width ? N - n0 : width;
    for (int64_t k = 0; k < K; k++) {
        float *row = dst + k * width;
        memcpy(row, b + k * N + n0, (size_t)w * sizeof(float));
        for (int64_t j = w; j < width; j++) row[j] = 0.0f;
    }
}

/* The value v's (K, N) float32 data as panels into a new model tensor (ceil(N / width), K,
 * width), the value re-declared so. */
static onyx_status pack_constant(onyx_graph *g, int v) {
    const onyx_tensor *old = g->values[v].constant;
    const int64_t width = ONYX_WEIGHT_PANEL, K = old->dims[0], N = old->dims[1];
    int64_t dims[3] = {(N + width - 1) / width, K, width};
    onyx_tensor *t;
    ONYX_TRY(new_layout(g, v, dims, 3, "packed weight", &t));
    for (int64_t q = 0; q < dims[0]; q++) onyx_pack_panel(old->data, K, N, q, (float *)t->data + q * K * width);
    take_layout(g, v, t);
    return ONYX_OK;
}

onyx_status onyx_graph_pack_weights(onyx_graph *g, int provider, int *count) {
    *count = 0;
    int *readers = onyx_calloc((size_t)g->n_values + 1, sizeof *readers);
    if (!readers) return ONYX_ERR_OUT_OF_MEMORY;
    onyx_status st = onyx_graph_count_readers(g, readers);
    for (int i = 0; i < g->n_nodes && st == ONYX_OK; i++) {
        onyx_node *n = &g->nodes[i];
        int matmul, w = layout_weight(g, n, provider, ONYX_DT(FLOAT32), readers, &matmul);
        if (w < 0) continue;
        int64_t N = g->values[w].constant->dims[1];
        st = pack_constant(g, w);
        if (st == ONYX_OK) st = rewrite_with_attr(g, n, matmul, "packedN", N);
        if (st == ONYX_OK) (*count)++;
    }
    onyx_free(readers);
    return st;
}
