/*
 * gather.c - CPU indexing kernels: Gather, GatherElements, GatherND and ScatterND.
 *
 * Indices are int32 or int64 and may be negative (counted from the end of their axis). run
 * checks every index before it writes anything and names the bad value, its position, the axis
 * and the axis size. Gather and GatherND copy whole contiguous slices (memcpy of the trailing
 * dims); Gather parallelises over (outer index, index) pairs for large outputs.
 *
 * Legend: data is (outer, N, inner) around Gather's axis; indices has any shape.
 */
#include <stdio.h>
#include <string.h>

#include "core/dtype.h"
#include "providers/cpu/layout_kernels.h"

#define INDEX_DTYPES (ONYX_DT(INT32) | ONYX_DT(INT64))

static inline int64_t index_at(const onyx_tensor *t, int64_t i) {
    return t->dtype == ONYX_DTYPE_INT64 ? ((const int64_t *)t->data)[i] : ((const int32_t *)t->data)[i];
}

/* Index i of t normalised against dim, or an error naming it. */
static onyx_status check_index(const onyx_kernel_ctx *ctx, const onyx_tensor *indices, int64_t i, int axis,
                               int64_t dim, int64_t *out) {
    int64_t v = index_at(indices, i);
    int64_t n = v < 0 ? v + dim : v;
    if (n < 0 || n >= dim)
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT,
                          "%s: index %lld (at position %lld of the indices) is out of range for axis %d of size %lld",
                          ctx->node->op_type, (long long)v, (long long)i, axis, (long long)dim);
    *out = n;
    return ONYX_OK;
}

/* ---- Gather ---- */

onyx_status layout_gather_prepare(onyx_kernel_ctx *ctx) {
    ONYX_TRY(onyx_kernel_require(ctx, 0));
    ONYX_TRY(onyx_kernel_check_dtype(ctx, 1, INDEX_DTYPES));
    const onyx_tensor *data = ctx->inputs[0], *indices = ctx->inputs[1];
    if (data->rank < 1) return onyx_error(ONYX_ERR_INVALID_MODEL, "Gather: input 0 (data) is a scalar; expected rank >= 1");
    int axis;
    ONYX_TRY(onyx_kernel_axis(ctx, onyx_node_attr_int(ctx->node, "axis", 0), data->rank, "attribute axis", &axis));
    int rank = data->rank - 1 + indices->rank;
    if (rank > ONYX_MAX_RANK)
        return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "Gather: output rank %d exceeds %d", rank, ONYX_MAX_RANK);
    int64_t dims[ONYX_MAX_RANK];
    int r = 0;
    for (int d = 0; d < axis; d++) dims[r++] = data->dims[d];
    for (int d = 0; d < indices->rank; d++) dims[r++] = indices->dims[d];
    for (int d = axis + 1; d < data->rank; d++) dims[r++] = data->dims[d];
    return onyx_tensor_set_shape(ctx->outputs[0], data->dtype, dims, rank, "Gather output");
}

onyx_status layout_gather_run(onyx_kernel_ctx *ctx) {
    const onyx_tensor *data = ctx->inputs[0], *indices = ctx->inputs[1];
    onyx_tensor *y = ctx->outputs[0];
    int axis;
    ONYX_TRY(onyx_kernel_axis(ctx, onyx_node_attr_int(ctx->node, "axis", 0), data->rank, "attribute axis", &axis));
    int64_t outer = onyx_shape_numel(data->dims, axis), n = data->dims[axis];
    int64_t inner = onyx_shape_numel(data->dims + axis + 1, data->rank - axis - 1);
    int64_t n_idx = onyx_shape_numel(indices->dims, indices->rank);
    int64_t unused;
    for (int64_t i = 0; i < n_idx; i++) ONYX_TRY(check_index(ctx, indices, i, axis, n, &unused));
    size_t es = onyx_dtype_size(data->dtype);
    int64_t row = inner * (int64_t)es, items = outer * n_idx;
    if (row == 0 || items == 0) return ONYX_OK;
    const char *src = data->data;
    char *dst = y->data;
    int nt = ctx->threads > 1 && (int64_t)y->nbytes >= LAYOUT_PARALLEL_BYTES ? ctx->threads : 1;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t w = 0; w < items; w++) {
        int64_t o = w / n_idx, v = index_at(indices, w % n_idx);
        if (v < 0) v += n;
        layout_copy_elements(dst + w * row, src + (o * n + v) * row, inner, es);
    }
    return ONYX_OK;
}

/* ---- GatherElements ---- */

onyx_status layout_gather_elements_prepare(onyx_kernel_ctx *ctx) {
    ONYX_TRY(onyx_kernel_require(ctx, 0));
    ONYX_TRY(onyx_kernel_check_dtype(ctx, 1, INDEX_DTYPES));
    const onyx_tensor *data = ctx->inputs[0], *indices = ctx->inputs[1];
    char a[160], b[160];
    int axis;
    ONYX_TRY(onyx_kernel_axis(ctx, onyx_node_attr_int(ctx->node, "axis", 0), data->rank, "attribute axis", &axis));
    int ok = indices->rank == data->rank;
    for (int d = 0; ok && d < data->rank; d++) ok = d == axis || indices->dims[d] <= data->dims[d];
    if (!ok)
        return onyx_error(ONYX_ERR_INVALID_MODEL,
                          "GatherElements: input 1 (indices) has shape %s, which does not fit input 0 (data) %s "
                          "(same rank, dims no larger outside axis %d)",
                          onyx_shape_describe(indices->dims, indices->rank, a, sizeof a),
                          onyx_shape_describe(data->dims, data->rank, b, sizeof b), axis);
    return onyx_tensor_set_shape(ctx->outputs[0], data->dtype, indices->dims, indices->rank, "GatherElements output");
}

onyx_status layout_gather_elements_run(onyx_kernel_ctx *ctx) {
    const onyx_tensor *data = ctx->inputs[0], *indices = ctx->inputs[1];
    onyx_tensor *y = ctx->outputs[0];
    int axis;
    ONYX_TRY(onyx_kernel_axis(ctx, onyx_node_attr_int(ctx->node, "axis", 0), data->rank, "attribute axis", &axis));
    int64_t n = onyx_shape_numel(indices->dims, indices->rank);
    int64_t strides[ONYX_MAX_RANK], idx[ONYX_MAX_RANK] = {0};
    onyx_contiguous_strides(data->dims, data->rank, strides);
    size_t es = onyx_dtype_size(data->dtype);
    int rank = indices->rank;
    int64_t base = 0; /* data offset of idx with the axis coordinate left out */
    for (int64_t i = 0; i < n; i++) {
        int64_t v = 0;
        ONYX_TRY(check_index(ctx, indices, i, axis, data->dims[axis], &v));
        layout_copy_elements((char *)y->data + i * (int64_t)es,
                             (const char *)data->data + (base + v * strides[axis]) * (int64_t)es, 1, es);
        for (int d = rank - 1; d >= 0; d--) {
            idx[d]++;
            if (d != axis) base += strides[d];
            if (idx[d] < indices->dims[d]) break;
            if (d != axis) base -= strides[d] * indices->dims[d];
            idx[d] = 0;
        }
    }
    return ONYX_OK;
}

/* ---- GatherND ---- */

onyx_status layout_gather_nd_plan_build(const onyx_kernel_ctx *ctx, layout_gather_nd_plan *p, int64_t *dims,
                                        int *rank) {
    const onyx_tensor *data = ctx->inputs[0], *indices = ctx->inputs[1];
    char a[160], b[160];
    int64_t bd = onyx_node_attr_int(ctx->node, "batch_dims", 0);
    if (indices->rank < 1)
        return onyx_error(ONYX_ERR_INVALID_MODEL, "GatherND: input 1 (indices) is a scalar; expected rank >= 1");
    int64_t k = indices->dims[indices->rank - 1];
    if (bd < 0 || bd >= indices->rank || bd >= data->rank || k < 1 || k > data->rank - bd)
        return onyx_error(ONYX_ERR_INVALID_MODEL,
                          "GatherND: batch_dims %lld with data %s and indices %s: need batch_dims < both ranks and "
                          "1 <= indices' last dim <= data rank - batch_dims",
                          (long long)bd, onyx_shape_describe(data->dims, data->rank, a, sizeof a),
                          onyx_shape_describe(indices->dims, indices->rank, b, sizeof b));
    for (int d = 0; d < bd; d++)
        if (indices->dims[d] != data->dims[d])
            return onyx_error(ONYX_ERR_INVALID_MODEL, "GatherND: batch dim %d is %lld in indices %s but %lld in data %s", d,
                              (long long)indices->dims[d], onyx_shape_describe(indices->dims, indices->rank, b, sizeof b),
                              (long long)data->dims[d], onyx_shape_describe(data->dims, data->rank, a, sizeof a));
    p->batch_dims = (int)bd;
    p->k = (int)k;
    p->batches = onyx_shape_numel(data->dims, (int)bd);
    p->tuples = onyx_shape_numel(indices->dims + bd, indices->rank - 1 - (int)bd);
    p->slice = onyx_shape_numel(data->dims + bd + k, data->rank - (int)(bd + k));
    int r = 0;
    for (int d = 0; d < indices->rank - 1; d++) dims[r++] = indices->dims[d];
    for (int d = (int)(bd + k); d < data->rank; d++) {
        if (r >= ONYX_MAX_RANK) return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "GatherND: output rank exceeds %d", ONYX_MAX_RANK);
        dims[r++] = data->dims[d];
    }
    *rank = r;
    return ONYX_OK;
}

onyx_status layout_gather_nd_prepare(onyx_kernel_ctx *ctx) {
    ONYX_TRY(onyx_kernel_require(ctx, 0));
    ONYX_TRY(onyx_kernel_check_dtype(ctx, 1, ONYX_DT(INT64)));
    layout_gather_nd_plan p;
    int64_t dims[ONYX_MAX_RANK];
    int rank;
    ONYX_TRY(layout_gather_nd_plan_build(ctx, &p, dims, &rank));
    return onyx_tensor_set_shape(ctx->outputs[0], ctx->inputs[0]->dtype, dims, rank, "GatherND output");
}

/* Data offset (elements) of the k-tuple starting at indices element t*k, inside one batch. */
static onyx_status nd_tuple_offset(const onyx_kernel_ctx *ctx, const onyx_tensor *data, const onyx_tensor *indices,
                                   int batch_dims, int k, int64_t t, const int64_t *strides, int64_t *out) {
    int64_t off = 0;
    for (int j = 0; j < k; j++) {
        int64_t v = 0;
        ONYX_TRY(check_index(ctx, indices, t * k + j, batch_dims + j, data->dims[batch_dims + j], &v));
        off += v * strides[batch_dims + j];
    }
    *out = off;
    return ONYX_OK;
}

onyx_status layout_gather_nd_run(onyx_kernel_ctx *ctx) {
    const onyx_tensor *data = ctx->inputs[0], *indices = ctx->inputs[1];
    onyx_tensor *y = ctx->outputs[0];
    layout_gather_nd_plan p;
    int64_t dims[ONYX_MAX_RANK], strides[ONYX_MAX_RANK];
    int rank;
    ONYX_TRY(layout_gather_nd_plan_build(ctx, &p, dims, &rank));
    onyx_contiguous_strides(data->dims, data->rank, strides);
    int64_t batch_stride = onyx_shape_numel(data->dims + p.batch_dims, data->rank - p.batch_dims);
    size_t es = onyx_dtype_size(data->dtype);
    for (int64_t bt = 0; bt < p.batches; bt++) {
        for (int64_t t = 0; t < p.tuples; t++) {
            int64_t off = 0;
            ONYX_TRY(nd_tuple_offset(ctx, data, indices, p.batch_dims, p.k, bt * p.tuples + t, strides, &off));
            layout_copy_elements((char *)y->data + (bt * p.tuples + t) * p.slice * (int64_t)es,
                                 (const char *)data->data + (bt * batch_stride + off) * (int64_t)es, p.slice, es);
        }
    }
    return ONYX_OK;
}

/* ---- ScatterND ---- */

onyx_status layout_scatter_reduction_get(const onyx_kernel_ctx *ctx, layout_scatter_reduction *out) {
    const char *r = ctx->node->opset >= 16 ? onyx_node_attr_string(ctx->node, "reduction", "none") : "none";
    if (!strcmp(r, "none")) *out = LAYOUT_SCATTER_NONE;
    else if (!strcmp(r, "add")) *out = LAYOUT_SCATTER_ADD;
    else if (!strcmp(r, "mul")) *out = LAYOUT_SCATTER_MUL;
    else if (!strcmp(r, "max") && ctx->node->opset >= 18) *out = LAYOUT_SCATTER_MAX;
    else if (!strcmp(r, "min") && ctx->node->opset >= 18) *out = LAYOUT_SCATTER_MIN;
    else
        return onyx_error(ONYX_ERR_INVALID_MODEL,
                          "ScatterND: attribute reduction '%s' is not one of none, add, mul%s at opset %d", r,
                          ctx->node->opset >= 18 ? ", max, min" : "", ctx->node->opset);
    return ONYX_OK;
}

onyx_status layout_scatter_nd_prepare(onyx_kernel_ctx *ctx) {
    ONYX_TRY(onyx_kernel_require(ctx, 0));
    ONYX_TRY(onyx_kernel_check_dtype(ctx, 1, ONYX_DT(INT64)));
    ONYX_TRY(onyx_kernel_require(ctx, 2));
    const onyx_tensor *data = ctx->inputs[0], *indices = ctx->inputs[1], *updates = ctx->inputs[2];
    layout_scatter_reduction red;
    ONYX_TRY(layout_scatter_reduction_get(ctx, &red));
    if (red != LAYOUT_SCATTER_NONE && (data->dtype == ONYX_DTYPE_STRING || data->dtype == ONYX_DTYPE_BOOL))
        return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "ScatterND: reduction on dtype %s", onyx_dtype_name(data->dtype));
    char a[160], b[160], c[160];
    if (updates->dtype != data->dtype)
        return onyx_error(ONYX_ERR_INVALID_MODEL, "ScatterND: input 2 (updates) has dtype %s but data has %s",
                          onyx_dtype_name(updates->dtype), onyx_dtype_name(data->dtype));
    int64_t k = indices->rank >= 1 ? indices->dims[indices->rank - 1] : 0;
    int ok = indices->rank >= 1 && k >= 1 && k <= data->rank &&
             updates->rank == indices->rank - 1 + data->rank - (int)k;
    for (int d = 0; ok && d < indices->rank - 1; d++) ok = updates->dims[d] == indices->dims[d];
    for (int d = (int)k; ok && d < data->rank; d++) ok = updates->dims[indices->rank - 1 + d - k] == data->dims[d];
    if (!ok)
        return onyx_error(ONYX_ERR_INVALID_MODEL,
                          "ScatterND: data %s, indices %s and updates %s do not fit (updates must be "
                          "indices.shape[:-1] + data.shape[indices.shape[-1]:])",
                          onyx_shape_describe(data->dims, data->rank, a, sizeof a),
                          onyx_shape_describe(indices->dims, indices->rank, b, sizeof b),
                          onyx_shape_describe(updates->dims, updates->rank, c, sizeof c));
    return onyx_tensor_set_shape(ctx->outputs[0], data->dtype, data->dims, data->rank, "ScatterND output");
}

#define SCATTER_COMBINE(type, load, store)                                                         \
    do {                                                                                           \
        type *d_ = dst;                                                                            \
        const type *s_ = src;                                                                      \
        for (int64_t i = 0; i < n; i++) {                                                          \
            double x_ = load(d_[i]), u_ = load(s_[i]), r_;                                         \
            switch (red) {                                                                         \
            case LAYOUT_SCATTER_ADD: r_ = x_ + u_; break;                                          \
            case LAYOUT_SCATTER_MUL: r_ = x_ * u_; break;                                          \
            case LAYOUT_SCATTER_MAX: r_ = u_ > x_ ? u_ : x_; break;                                \
            default: r_ = u_ < x_ ? u_ : x_; break;                                                \
            }                                                                                      \
            d_[i] = store(r_);                                                                     \
        }                                                                                          \
    } while (0)

#define SCATTER_COMBINE_INT(type)                                                                  \
    do {                                                                                           \
        type *d_ = dst;                                                                            \
        const type *s_ = src;                                                                      \
        for (int64_t i = 0; i < n; i++) {                                                          \
            switch (red) {                                                                         \
            case LAYOUT_SCATTER_ADD: d_[i] = (type)(d_[i] + s_[i]); break;                         \
            case LAYOUT_SCATTER_MUL: d_[i] = (type)(d_[i] * s_[i]); break;                         \
            case LAYOUT_SCATTER_MAX: d_[i] = s_[i] > d_[i] ? s_[i] : d_[i]; break;                 \
            default: d_[i] = s_[i] < d_[i] ? s_[i] : d_[i]; break;                                 \
            }                                                                                      \
        }                                                                                          \
    } while (0)

#define AS_DOUBLE(v) ((double)(v))
#define TO_F32(v) ((float)(v))
#define F16_LOAD(v) ((double)onyx_f16_to_f32(v))
#define F16_STORE(v) onyx_f32_to_f16((float)(v))
#define BF16_LOAD(v) ((double)onyx_bf16_to_f32(v))
#define BF16_STORE(v) onyx_f32_to_bf16((float)(v))

/* dst[i] = dst[i] (op) src[i] for n elements of dtype. */
static void scatter_combine(void *dst, const void *src, int64_t n, onyx_dtype dtype,
                            layout_scatter_reduction red) {
    switch (dtype) {
    case ONYX_DTYPE_FLOAT32: SCATTER_COMBINE(float, AS_DOUBLE, TO_F32); break;
    case ONYX_DTYPE_FLOAT64: SCATTER_COMBINE(double, AS_DOUBLE, AS_DOUBLE); break;
    case ONYX_DTYPE_FLOAT16: SCATTER_COMBINE(uint16_t, F16_LOAD, F16_STORE); break;
    case ONYX_DTYPE_BFLOAT16: SCATTER_COMBINE(uint16_t, BF16_LOAD, BF16_STORE); break;
    case ONYX_DTYPE_INT8: SCATTER_COMBINE_INT(int8_t); break;
    case ONYX_DTYPE_INT16: SCATTER_COMBINE_INT(int16_t); break;
    case ONYX_DTYPE_INT32: SCATTER_COMBINE_INT(int32_t); break;
    case ONYX_DTYPE_INT64: SCATTER_COMBINE_INT(int64_t); break;
    case ONYX_DTYPE_UINT8: SCATTER_COMBINE_INT(uint8_t); break;
    case ONYX_DTYPE_UINT16: SCATTER_COMBINE_INT(uint16_t); break;
    case ONYX_DTYPE_UINT32: SCATTER_COMBINE_INT(uint32_t); break;
    case ONYX_DTYPE_UINT64: SCATTER_COMBINE_INT(uint64_t); break;
    default: break;
    }
}

onyx_status layout_scatter_nd_run(onyx_kernel_ctx *ctx) {
    const onyx_tensor *data = ctx->inputs[0], *indices = ctx->inputs[1], *updates = ctx->inputs[2];
    onyx_tensor *y = ctx->outputs[0];
    layout_scatter_reduction red;
    ONYX_TRY(layout_scatter_reduction_get(ctx, &red));
    int k = (int)indices->dims[indices->rank - 1];
    int64_t tuples = onyx_shape_numel(indices->dims, indices->rank - 1);
    int64_t slice = onyx_shape_numel(data->dims + k, data->rank - k);
    int64_t strides[ONYX_MAX_RANK];
    onyx_contiguous_strides(data->dims, data->rank, strides);
    size_t es = onyx_dtype_size(data->dtype);
    /* check every index before writing, so a bad index leaves no half-written output */
    for (int64_t t = 0; t < tuples; t++) {
        int64_t off = 0;
        ONYX_TRY(nd_tuple_offset(ctx, data, indices, 0, k, t, strides, &off));
    }
    layout_copy_bytes(y->data, data->data, data->nbytes, ctx->threads);
    for (int64_t t = 0; t < tuples; t++) {
        int64_t off = 0;
        ONYX_TRY(nd_tuple_offset(ctx, data, indices, 0, k, t, strides, &off));
        char *dst = (char *)y->data + off * (int64_t)es;
        const char *src = (const char *)updates->data + t * slice * (int64_t)es;
        if (red == LAYOUT_SCATTER_NONE)
            layout_copy_elements(dst, src, slice, es);
        else
            scatter_combine(dst, src, slice, data->dtype, red);
    }
    return ONYX_OK;
}
