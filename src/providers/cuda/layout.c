/*
 * layout.c - the CUDA provider's layout kernels: the table onyx_cuda_layout_kernels and the run
 * functions that turn onyx tensors into calls of the launchers in layout_launch.h.
 *
 * Rows mirror the CPU's layout table (src/providers/cpu/layout_table.c) op for op, opset range
 * for opset range, with the same host inputs and the CPU's prepare functions, so a node the
 * CPU could run is claimed here whenever its dtype lives on the GPU: every dtype but strings
 * (layout ops move elements of 1, 2, 4 or 8 bytes without looking at them). Shape and Size
 * stay on the CPU (they read no data).
 *
 * The run functions rebuild the CPU's plans (layout_slice_plan_build, layout_split_sizes, ...
 * from layout_kernels.h) and its strided-copy description (layout_copy, simplified by
 * layout_copy_simplify), so both providers move the same elements; only the engine that moves
 * them differs. Everything is queued on the provider's stream; nothing synchronises or
 * allocates. Indexing ops clamp out-of-range indices on the device (see layout_launch.h); an
 * index into an empty axis is refused here, on the host, without looking at the indices.
 */
#include <stdio.h>
#include <string.h>

#include "core/dtype.h"
#include "providers/cpu/layout_kernels.h"
#include "providers/cuda/cuda_provider.h"
#include "providers/cuda/layout_launch.h"

_Static_assert(LAYOUT_COPY_MAX_DIMS == ONYX_CUDA_COPY_MAX_DIMS, "copy plans of both providers have the same dims");
/* The launchers take onyx_dtype codes and the CPU's reduction codes as plain ints. */
#define SAME_CODE(a, b) _Static_assert((int)(a) == (int)(b), #a " is " #b)
SAME_CODE(ONYX_CUDA_TYPE_FLOAT32, ONYX_DTYPE_FLOAT32);
SAME_CODE(ONYX_CUDA_TYPE_UINT8, ONYX_DTYPE_UINT8);
SAME_CODE(ONYX_CUDA_TYPE_INT8, ONYX_DTYPE_INT8);
SAME_CODE(ONYX_CUDA_TYPE_UINT16, ONYX_DTYPE_UINT16);
SAME_CODE(ONYX_CUDA_TYPE_INT16, ONYX_DTYPE_INT16);
SAME_CODE(ONYX_CUDA_TYPE_INT32, ONYX_DTYPE_INT32);
SAME_CODE(ONYX_CUDA_TYPE_INT64, ONYX_DTYPE_INT64);
SAME_CODE(ONYX_CUDA_TYPE_BOOL, ONYX_DTYPE_BOOL);
SAME_CODE(ONYX_CUDA_TYPE_FLOAT16, ONYX_DTYPE_FLOAT16);
SAME_CODE(ONYX_CUDA_TYPE_FLOAT64, ONYX_DTYPE_FLOAT64);
SAME_CODE(ONYX_CUDA_TYPE_UINT32, ONYX_DTYPE_UINT32);
SAME_CODE(ONYX_CUDA_TYPE_UINT64, ONYX_DTYPE_UINT64);
SAME_CODE(ONYX_CUDA_TYPE_BFLOAT16, ONYX_DTYPE_BFLOAT16);
SAME_CODE(ONYX_CUDA_SCATTER_NONE, LAYOUT_SCATTER_NONE);
SAME_CODE(ONYX_CUDA_SCATTER_ADD, LAYOUT_SCATTER_ADD);
SAME_CODE(ONYX_CUDA_SCATTER_MUL, LAYOUT_SCATTER_MUL);
SAME_CODE(ONYX_CUDA_SCATTER_MAX, LAYOUT_SCATTER_MAX);
SAME_CODE(ONYX_CUDA_SCATTER_MIN, LAYOUT_SCATTER_MIN);

static cudaStream_t stream_of(const onyx_kernel_ctx *ctx) { return onyx_cuda_state_of(ctx)->stream; }

/* Device-to-device copy of bytes (nothing when empty or in place). */
static onyx_status copy_device_bytes(const onyx_kernel_ctx *ctx, void *dst, const void *src, size_t bytes) {
    if (bytes == 0 || dst == src) return ONYX_OK;
    cudaError_t err = cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream_of(ctx));
    if (err == cudaSuccess) return ONYX_OK;
    char what[96]; /* formatted only on failure: this runs for every copying node */
    snprintf(what, sizeof what, "%s: device copy of %zu bytes", ctx->node->op_type, bytes);
    return onyx_cuda_status(err, what);
}

/* Run a CPU copy description on the device after simplifying it as the CPU does.
 * dst is contiguous with the copy's dims; src is the tensor the strides walk. */
static onyx_status run_copy(const onyx_kernel_ctx *ctx, layout_copy *c, void *dst, const void *src) {
    layout_copy_simplify(c);
    onyx_cuda_copy_plan plan;
    plan.rank = c->rank;
    memcpy(plan.dims, c->dims, sizeof(int64_t) * (size_t)c->rank);
    memcpy(plan.src_strides, c->src_strides, sizeof(int64_t) * (size_t)c->rank);
    plan.src_offset = c->src_offset;
    plan.run = c->run;
    plan.elem_size = c->elem_size;
    return onyx_cuda_status(onyx_cuda_copy_strided(dst, src, &plan, stream_of(ctx)), ctx->node->op_type);
}

/* Indexing into an axis of size 0 cannot pick anything: the CPU reports the first index as out
 * of range, and so does this, without reading the indices from the device. */
static onyx_status check_axis_not_empty(const onyx_kernel_ctx *ctx, int64_t n_indices, int axis, int64_t dim) {
    if (n_indices > 0 && dim == 0)
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT,
                          "%s: %lld indices are out of range for axis %d of size 0", ctx->node->op_type,
                          (long long)n_indices, axis);
    return ONYX_OK;
}

/* ---- Reshape, Flatten, Squeeze, Unsqueeze, Identity: output = input bytes ---- */

static onyx_status cuda_copy_input_run(onyx_kernel_ctx *ctx) {
    const onyx_tensor *x = ctx->inputs[0];
    onyx_tensor *y = ctx->outputs[0];
    if (!y) return ONYX_OK;
    if (y->nbytes != x->nbytes)
        return onyx_error(ONYX_ERR_RUNTIME, "internal: %s output has %zu bytes but the input has %zu",
                          ctx->node->op_type, y->nbytes, x->nbytes);
    return copy_device_bytes(ctx, y->data, x->data, x->nbytes);
}

/* ---- Dropout (inference: output = input, mask all "kept") ---- */

static onyx_status cuda_dropout_run(onyx_kernel_ctx *ctx) {
    ONYX_TRY(cuda_copy_input_run(ctx));
    onyx_tensor *mask = onyx_output(ctx, 1);
    if (!mask) return ONYX_OK;
    int64_t n = onyx_shape_numel(mask->dims, mask->rank);
    uint64_t one;
    switch (mask->dtype) { /* bool from opset 10; the input's float type before */
    case ONYX_DTYPE_BOOL: one = 1; break;
    case ONYX_DTYPE_FLOAT32: one = 0x3f800000u; break;
    case ONYX_DTYPE_FLOAT64: one = UINT64_C(0x3ff0000000000000); break;
    case ONYX_DTYPE_FLOAT16: one = 0x3c00; break;
    case ONYX_DTYPE_BFLOAT16: one = 0x3f80; break;
    default: return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "Dropout: mask of dtype %s", onyx_dtype_name(mask->dtype));
    }
    return onyx_cuda_status(onyx_cuda_fill(mask->data, n, one, onyx_dtype_size(mask->dtype), stream_of(ctx)),
                            "Dropout mask");
}

/* ---- Transpose, Slice, Expand, Tile: one strided copy each ---- */

static onyx_status cuda_transpose_run(onyx_kernel_ctx *ctx) {
    const onyx_tensor *x = ctx->inputs[0];
    onyx_tensor *y = ctx->outputs[0];
    int perm[ONYX_MAX_RANK];
    int64_t strides[ONYX_MAX_RANK];
    ONYX_TRY(layout_transpose_perm(ctx, x->rank, perm));
    onyx_contiguous_strides(x->dims, x->rank, strides);
    /* output dim d walks input dim perm[d] */
    layout_copy c = {.rank = x->rank, .run = 1, .elem_size = onyx_dtype_size(x->dtype)};
    for (int d = 0; d < x->rank; d++) {
        c.dims[d] = x->dims[perm[d]];
        c.src_strides[d] = strides[perm[d]];
    }
    return run_copy(ctx, &c, y->data, x->data);
}

static onyx_status cuda_slice_run(onyx_kernel_ctx *ctx) {
    const onyx_tensor *x = ctx->inputs[0];
    onyx_tensor *y = ctx->outputs[0];
    layout_slice_plan p;
    ONYX_TRY(layout_slice_plan_build(ctx, &p));
    int same = y->rank == x->rank;
    for (int d = 0; same && d < x->rank; d++) same = y->dims[d] == p.count[d];
    if (!same) return onyx_error(ONYX_ERR_RUNTIME, "internal: Slice output was prepared with another shape than run computes");
    int64_t strides[ONYX_MAX_RANK];
    onyx_contiguous_strides(x->dims, x->rank, strides);
    /* output dim d reads count[d] elements from start[d] by step[d] (negative steps walk back) */
    layout_copy c = {.rank = x->rank, .run = 1, .elem_size = onyx_dtype_size(x->dtype)};
    for (int d = 0; d < x->rank; d++) {
        c.dims[d] = p.count[d];
        c.src_strides[d] = strides[d] * p.step[d];
        c.src_offset += strides[d] * p.start[d];
    }
    return run_copy(ctx, &c, y->data, x->data);
}

static onyx_status cuda_expand_run(onyx_kernel_ctx *ctx) {
    const onyx_tensor *x = ctx->inputs[0];
    onyx_tensor *y = ctx->outputs[0];
    /* the output shape is the broadcast prepare computed; broadcast dims read with stride 0 */
    layout_copy c = {.rank = y->rank, .run = 1, .elem_size = onyx_dtype_size(x->dtype)};
    memcpy(c.dims, y->dims, sizeof(int64_t) * (size_t)y->rank);
    onyx_broadcast_strides(x->dims, x->rank, y->dims, y->rank, c.src_strides);
    return run_copy(ctx, &c, y->data, x->data);
}

static onyx_status cuda_tile_run(onyx_kernel_ctx *ctx) {
    const onyx_tensor *x = ctx->inputs[0];
    onyx_tensor *y = ctx->outputs[0];
    if (onyx_shape_numel(y->dims, y->rank) == 0) return ONYX_OK;
    int64_t strides[ONYX_MAX_RANK];
    onyx_contiguous_strides(x->dims, x->rank, strides);
    /* output dim d of size repeats[d]*dims[d] read as the pair (repeat, i) with strides (0, s_d);
     * with a non-empty output every input dim is non-zero and repeats = output / input */
    layout_copy c = {.rank = 2 * x->rank, .run = 1, .elem_size = onyx_dtype_size(x->dtype)};
    for (int d = 0; d < x->rank; d++) {
        c.dims[2 * d] = y->dims[d] / x->dims[d];
        c.src_strides[2 * d] = 0;
        c.dims[2 * d + 1] = x->dims[d];
        c.src_strides[2 * d + 1] = strides[d];
    }
    return run_copy(ctx, &c, y->data, x->data);
}

/* ---- Concat and Split: one block copy (outer rows) per input / output ---- */

#define BLOCKS_PER_CALL 16

static onyx_status cuda_concat_run(onyx_kernel_ctx *ctx) {
    onyx_tensor *y = ctx->outputs[0];
    int axis;
    ONYX_TRY(onyx_kernel_axis(ctx, onyx_node_attr_int(ctx->node, "axis", 1), y->rank, "attribute axis", &axis));
    /* y is (outer, sum of the inputs' axis dims, inner); input i is (outer, dims_i[axis], inner) */
    int64_t outer = onyx_shape_numel(y->dims, axis), inner = onyx_shape_numel(y->dims + axis + 1, y->rank - axis - 1);
    int64_t es = (int64_t)onyx_dtype_size(y->dtype), out_row = y->dims[axis] * inner * es;
    if (outer == 0 || out_row == 0) return ONYX_OK;
    onyx_cuda_block_copy blocks[BLOCKS_PER_CALL];
    int n = 0;
    int64_t offset = 0; /* bytes into an output row */
    for (int i = 0; i < ctx->n_inputs; i++) {
        const onyx_tensor *x = ctx->inputs[i];
        int64_t row = x->dims[axis] * inner * es;
        blocks[n++] = (onyx_cuda_block_copy){.src = x->data, .dst = (char *)y->data + offset, .rows = outer,
                                             .row_bytes = row, .src_pitch = row, .dst_pitch = out_row};
        offset += row;
        if (n == BLOCKS_PER_CALL || i == ctx->n_inputs - 1) {
            ONYX_TRY(onyx_cuda_status(onyx_cuda_copy_blocks(blocks, n, stream_of(ctx)), "Concat"));
            n = 0;
        }
    }
    return ONYX_OK;
}

static onyx_status cuda_split_run(onyx_kernel_ctx *ctx) {
    const onyx_tensor *x = ctx->inputs[0];
    int axis;
    ONYX_TRY(onyx_kernel_axis(ctx, onyx_node_attr_int(ctx->node, "axis", 0), x->rank, "attribute axis", &axis));
    int64_t sizes[LAYOUT_SPLIT_MAX_OUTPUTS];
    ONYX_TRY(layout_split_sizes(ctx, axis, sizes));
    /* x is (outer, dims[axis], inner); output i is (outer, sizes[i], inner) */
    int64_t outer = onyx_shape_numel(x->dims, axis), inner = onyx_shape_numel(x->dims + axis + 1, x->rank - axis - 1);
    int64_t es = (int64_t)onyx_dtype_size(x->dtype), in_row = x->dims[axis] * inner * es;
    if (outer == 0 || in_row == 0) return ONYX_OK;
    onyx_cuda_block_copy blocks[BLOCKS_PER_CALL];
    int n = 0;
    int64_t offset = 0; /* bytes into an input row */
    for (int i = 0; i < ctx->n_outputs; i++) {
        onyx_tensor *y = ctx->outputs[i];
        int64_t row = sizes[i] * inner * es;
        if (y) {
            if (y->dims[axis] != sizes[i])
                return onyx_error(ONYX_ERR_RUNTIME,
                                  "internal: Split output %d was prepared with %lld on axis %d, run computes %lld", i,
                                  (long long)y->dims[axis], axis, (long long)sizes[i]);
            blocks[n++] = (onyx_cuda_block_copy){.src = (const char *)x->data + offset, .dst = y->data,
                                                 .rows = outer, .row_bytes = row, .src_pitch = in_row,
                                                 .dst_pitch = row};
        }
        offset += row;
        if (n > 0 && (n == BLOCKS_PER_CALL || i == ctx->n_outputs - 1)) {
            ONYX_TRY(onyx_cuda_status(onyx_cuda_copy_blocks(blocks, n, stream_of(ctx)), "Split"));
            n = 0;
        }
    }
    return ONYX_OK;
}

/* ---- Trilu ---- */

static onyx_status cuda_trilu_run(onyx_kernel_ctx *ctx) {
    const onyx_tensor *x = ctx->inputs[0];
    onyx_tensor *y = ctx->outputs[0];
    int64_t k;
    ONYX_TRY(layout_trilu_k(ctx, &k));
    int upper = (int)onyx_node_attr_int(ctx->node, "upper", 1);
    /* x is (batch, rows, cols) */
    int64_t rows = x->dims[x->rank - 2], cols = x->dims[x->rank - 1];
    int64_t batch = onyx_shape_numel(x->dims, x->rank - 2);
    return onyx_cuda_status(onyx_cuda_trilu(y->data, x->data, batch, rows, cols, k, upper, onyx_dtype_size(x->dtype),
                                            stream_of(ctx)),
                            "Trilu");
}

/* ---- Gather, GatherElements, GatherND, ScatterND ---- */

static onyx_status cuda_gather_run(onyx_kernel_ctx *ctx) {
    const onyx_tensor *data = ctx->inputs[0], *indices = ctx->inputs[1];
    onyx_tensor *y = ctx->outputs[0];
    int axis;
    ONYX_TRY(onyx_kernel_axis(ctx, onyx_node_attr_int(ctx->node, "axis", 0), data->rank, "attribute axis", &axis));
    /* data is (outer, n, inner), indices (n_idx), y (outer, n_idx, inner) */
    int64_t outer = onyx_shape_numel(data->dims, axis), n = data->dims[axis];
    int64_t inner = onyx_shape_numel(data->dims + axis + 1, data->rank - axis - 1);
    int64_t n_idx = onyx_shape_numel(indices->dims, indices->rank);
    ONYX_TRY(check_axis_not_empty(ctx, n_idx, axis, n));
    return onyx_cuda_status(onyx_cuda_gather(y->data, data->data, indices->data, indices->dtype == ONYX_DTYPE_INT64,
                                             outer, n, n_idx, inner, onyx_dtype_size(data->dtype), stream_of(ctx)),
                            "Gather");
}

static onyx_status cuda_gather_elements_run(onyx_kernel_ctx *ctx) {
    const onyx_tensor *data = ctx->inputs[0], *indices = ctx->inputs[1];
    onyx_tensor *y = ctx->outputs[0];
    int axis;
    ONYX_TRY(onyx_kernel_axis(ctx, onyx_node_attr_int(ctx->node, "axis", 0), data->rank, "attribute axis", &axis));
    int64_t n_idx = onyx_shape_numel(indices->dims, indices->rank);
    if (n_idx == 0) return ONYX_OK;
    ONYX_TRY(check_axis_not_empty(ctx, n_idx, axis, data->dims[axis]));
    int64_t strides[ONYX_MAX_RANK];
    onyx_contiguous_strides(data->dims, data->rank, strides);
    return onyx_cuda_status(onyx_cuda_gather_elements(y->data, data->data, indices->data,
                                                      indices->dtype == ONYX_DTYPE_INT64, indices->rank,
                                                      indices->dims, strides, axis, data->dims[axis],
                                                      onyx_dtype_size(data->dtype), stream_of(ctx)),
                            "GatherElements");
}

static onyx_status cuda_gather_nd_run(onyx_kernel_ctx *ctx) {
    const onyx_tensor *data = ctx->inputs[0], *indices = ctx->inputs[1];
    onyx_tensor *y = ctx->outputs[0];
    layout_gather_nd_plan p;
    int64_t dims[ONYX_MAX_RANK], strides[ONYX_MAX_RANK];
    int rank;
    ONYX_TRY(layout_gather_nd_plan_build(ctx, &p, dims, &rank));
    if (p.batches == 0 || p.tuples == 0) return ONYX_OK;
    for (int j = 0; j < p.k; j++)
        ONYX_TRY(check_axis_not_empty(ctx, p.batches * p.tuples, p.batch_dims + j, data->dims[p.batch_dims + j]));
    onyx_contiguous_strides(data->dims, data->rank, strides);
    int64_t batch_stride = onyx_shape_numel(data->dims + p.batch_dims, data->rank - p.batch_dims);
    return onyx_cuda_status(onyx_cuda_gather_nd(y->data, data->data, indices->data, p.batches, p.tuples, p.k, p.slice,
                                                batch_stride, data->dims + p.batch_dims, strides + p.batch_dims,
                                                onyx_dtype_size(data->dtype), stream_of(ctx)),
                            "GatherND");
}

static onyx_status cuda_scatter_nd_run(onyx_kernel_ctx *ctx) {
    const onyx_tensor *data = ctx->inputs[0], *indices = ctx->inputs[1], *updates = ctx->inputs[2];
    onyx_tensor *y = ctx->outputs[0];
    layout_scatter_reduction red;
    ONYX_TRY(layout_scatter_reduction_get(ctx, &red));
    /* indices is (tuples, k); updates (tuples, slice) where slice covers data's dims from k */
    int k = (int)indices->dims[indices->rank - 1];
    int64_t tuples = onyx_shape_numel(indices->dims, indices->rank - 1);
    int64_t slice = onyx_shape_numel(data->dims + k, data->rank - k);
    for (int j = 0; j < k; j++) ONYX_TRY(check_axis_not_empty(ctx, tuples, j, data->dims[j]));
    ONYX_TRY(copy_device_bytes(ctx, y->data, data->data, data->nbytes));
    if (tuples == 0 || slice == 0) return ONYX_OK;
    int64_t strides[ONYX_MAX_RANK];
    onyx_contiguous_strides(data->dims, data->rank, strides);
    return onyx_cuda_status(onyx_cuda_scatter_nd(y->data, indices->data, updates->data, tuples, k, slice, data->dims,
                                                 strides, (int)data->dtype, (int)red, stream_of(ctx)),
                            "ScatterND");
}

/* ---- Constant, ConstantOfShape, Range ---- */

static onyx_status cuda_constant_run(onyx_kernel_ctx *ctx) {
    layout_constant_source src;
    ONYX_TRY(layout_constant_source_get(ctx, &src));
    onyx_tensor *y = ctx->outputs[0];
    if (src.dtype == ONYX_DTYPE_STRING)
        return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "Constant: string values cannot live on the GPU");
    if (!y->nbytes || !src.data) return ONYX_OK;
    /* the value is the node's attribute in host memory, alive as long as the model */
    return onyx_cuda_upload(onyx_cuda_state_of(ctx), y->data, src.data, y->nbytes, "Constant: copy of the value to the device");
}

static onyx_status cuda_constant_of_shape_run(onyx_kernel_ctx *ctx) {
    const onyx_tensor *value = onyx_node_attr_tensor(ctx->node, "value"); /* one host element; checked by prepare */
    onyx_tensor *y = ctx->outputs[0];
    int64_t n = onyx_shape_numel(y->dims, y->rank);
    if (n == 0) return ONYX_OK;
    if (y->dtype == ONYX_DTYPE_STRING)
        return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "ConstantOfShape: string values cannot live on the GPU");
    size_t es = onyx_dtype_size(y->dtype);
    uint64_t bits = 0; /* float32 0 when the attribute is absent */
    if (value) memcpy(&bits, value->data, es);
    return onyx_cuda_status(onyx_cuda_fill(y->data, n, bits, es, stream_of(ctx)), "ConstantOfShape");
}

static onyx_status cuda_range_run(onyx_kernel_ctx *ctx) {
    const onyx_tensor *start = ctx->inputs[0], *delta = ctx->inputs[2]; /* host scalars */
    onyx_tensor *y = ctx->outputs[0];
    int64_t n = y->dims[0]; /* the count prepare computed from start, limit and delta */
    cudaStream_t stream = stream_of(ctx);
    cudaError_t err;
    switch (start->dtype) {
    case ONYX_DTYPE_FLOAT32:
        err = onyx_cuda_range_f32(y->data, n, *(const float *)start->data, *(const float *)delta->data, stream);
        break;
    case ONYX_DTYPE_FLOAT64:
        err = onyx_cuda_range_f64(y->data, n, *(const double *)start->data, *(const double *)delta->data, stream);
        break;
    case ONYX_DTYPE_INT16:
    case ONYX_DTYPE_INT32:
    case ONYX_DTYPE_INT64:
        err = onyx_cuda_range_int(y->data, n, onyx_tensor_get_i64(start, 0), onyx_tensor_get_i64(delta, 0),
                                  onyx_dtype_size(start->dtype), stream);
        break;
    default: return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "Range: dtype %s", onyx_dtype_name(start->dtype));
    }
    return onyx_cuda_status(err, "Range");
}

/* ---- the table ---- */

#define MAX ONYX_OPSET_MAX
#define DEV16 (ONYX_DT_ALL & ~ONYX_DT(STRING))  /* every dtype of 1, 2, 4 or 8 bytes */
#define DEV15 (DEV16 & ~ONYX_DT(BFLOAT16))      /* the same before opset 13 added bfloat16 */
#define F3 (ONYX_DT(FLOAT32) | ONYX_DT(FLOAT16) | ONYX_DT(FLOAT64))
#define F4 (F3 | ONYX_DT(BFLOAT16))
#define RANGE_DTYPES (ONYX_DT(FLOAT32) | ONYX_DT(FLOAT64) | ONYX_DT(INT16) | ONYX_DT(INT32) | ONYX_DT(INT64))
#define IN(i) (1u << (i))

#define COPY(prepare) prepare, cuda_copy_input_run, 0, ONYX_KERNEL_ALIAS_OUTPUT

const onyx_kernel_def onyx_cuda_layout_kernels[] = {
    {"Reshape", "", 5, 12, 0, DEV15, IN(1), COPY(layout_reshape_prepare)},
    {"Reshape", "", 13, 13, 0, DEV16, IN(1), COPY(layout_reshape_prepare)},
    {"Reshape", "", 14, MAX, 0, DEV16, IN(1), COPY(layout_reshape_prepare)},
    {"Flatten", "", 1, 8, 0, F3, 0, COPY(layout_flatten_prepare)},
    {"Flatten", "", 9, 10, 0, DEV15, 0, COPY(layout_flatten_prepare)},
    {"Flatten", "", 11, 12, 0, DEV15, 0, COPY(layout_flatten_prepare)},
    {"Flatten", "", 13, MAX, 0, DEV16, 0, COPY(layout_flatten_prepare)},
    {"Squeeze", "", 1, 10, 0, DEV15, 0, COPY(layout_squeeze_prepare)},
    {"Squeeze", "", 11, 12, 0, DEV15, 0, COPY(layout_squeeze_prepare)},
    {"Squeeze", "", 13, MAX, 0, DEV16, IN(1), COPY(layout_squeeze_prepare)},
    {"Unsqueeze", "", 1, 10, 0, DEV15, 0, COPY(layout_unsqueeze_prepare)},
    {"Unsqueeze", "", 11, 12, 0, DEV15, 0, COPY(layout_unsqueeze_prepare)},
    {"Unsqueeze", "", 13, MAX, 0, DEV16, IN(1), COPY(layout_unsqueeze_prepare)},
    {"Identity", "", 1, 12, 0, DEV15, 0, COPY(layout_identity_prepare)},
    {"Identity", "", 13, 13, 0, DEV16, 0, COPY(layout_identity_prepare)},
    {"Identity", "", 14, 15, 0, DEV16, 0, COPY(layout_identity_prepare)},
    {"Identity", "", 16, MAX, 0, DEV16, 0, COPY(layout_identity_prepare)},
    {"Dropout", "", 7, 9, 0, F3, 0, layout_dropout_prepare, cuda_dropout_run, 0},
    {"Dropout", "", 10, 11, 0, F3, 0, layout_dropout_prepare, cuda_dropout_run, 0},
    {"Dropout", "", 12, 12, 0, F3, IN(1) | IN(2), layout_dropout_prepare, cuda_dropout_run, 0},
    {"Dropout", "", 13, MAX, 0, F4, IN(1) | IN(2), layout_dropout_prepare, cuda_dropout_run, 0},

    {"Transpose", "", 1, 12, 0, DEV15, 0, layout_transpose_prepare, cuda_transpose_run, 0, ONYX_KERNEL_MAY_ALIAS_OUTPUT},
    {"Transpose", "", 13, MAX, 0, DEV16, 0, layout_transpose_prepare, cuda_transpose_run, 0, ONYX_KERNEL_MAY_ALIAS_OUTPUT},
    {"Expand", "", 8, 12, 0, DEV15, IN(1), layout_expand_prepare, cuda_expand_run, 0},
    {"Expand", "", 13, MAX, 0, DEV16, IN(1), layout_expand_prepare, cuda_expand_run, 0},
    {"Tile", "", 6, 12, 0, DEV15, IN(1), layout_tile_prepare, cuda_tile_run, 0},
    {"Tile", "", 13, MAX, 0, DEV16, IN(1), layout_tile_prepare, cuda_tile_run, 0},
    {"Concat", "", 4, 10, 0, DEV15, 0, layout_concat_prepare, cuda_concat_run, 0},
    {"Concat", "", 11, 12, 0, DEV15, 0, layout_concat_prepare, cuda_concat_run, 0},
    {"Concat", "", 13, MAX, 0, DEV16, 0, layout_concat_prepare, cuda_concat_run, 0},
    {"Split", "", 2, 10, 0, DEV15, 0, layout_split_prepare, cuda_split_run, 0},
    {"Split", "", 11, 12, 0, DEV15, 0, layout_split_prepare, cuda_split_run, 0},
    {"Split", "", 13, 17, 0, DEV16, IN(1), layout_split_prepare, cuda_split_run, 0},
    {"Split", "", 18, MAX, 0, DEV16, IN(1), layout_split_prepare, cuda_split_run, 0},
    {"Slice", "", 1, 9, 0, DEV15, 0, layout_slice_prepare, cuda_slice_run, 0, ONYX_KERNEL_MAY_ALIAS_OUTPUT},
    {"Slice", "", 10, 10, 0, DEV15, IN(1) | IN(2) | IN(3) | IN(4), layout_slice_prepare, cuda_slice_run, 0,
     ONYX_KERNEL_MAY_ALIAS_OUTPUT},
    {"Slice", "", 11, 12, 0, DEV15, IN(1) | IN(2) | IN(3) | IN(4), layout_slice_prepare, cuda_slice_run, 0,
     ONYX_KERNEL_MAY_ALIAS_OUTPUT},
    {"Slice", "", 13, MAX, 0, DEV16, IN(1) | IN(2) | IN(3) | IN(4), layout_slice_prepare, cuda_slice_run, 0,
     ONYX_KERNEL_MAY_ALIAS_OUTPUT},
    {"Trilu", "", 14, MAX, 0, DEV16, IN(1), layout_trilu_prepare, cuda_trilu_run, 0},

    {"Gather", "", 1, 10, 0, DEV15, 0, layout_gather_prepare, cuda_gather_run, 0},
    {"Gather", "", 11, 12, 0, DEV15, 0, layout_gather_prepare, cuda_gather_run, 0},
    {"Gather", "", 13, MAX, 0, DEV16, 0, layout_gather_prepare, cuda_gather_run, 0},
    {"GatherElements", "", 11, 12, 0, DEV15, 0, layout_gather_elements_prepare, cuda_gather_elements_run, 0},
    {"GatherElements", "", 13, MAX, 0, DEV16, 0, layout_gather_elements_prepare, cuda_gather_elements_run, 0},
    {"GatherND", "", 11, 11, 0, DEV15, 0, layout_gather_nd_prepare, cuda_gather_nd_run, 0},
    {"GatherND", "", 12, 12, 0, DEV15, 0, layout_gather_nd_prepare, cuda_gather_nd_run, 0},
    {"GatherND", "", 13, MAX, 0, DEV16, 0, layout_gather_nd_prepare, cuda_gather_nd_run, 0},
    {"ScatterND", "", 11, 12, 0, DEV15, 0, layout_scatter_nd_prepare, cuda_scatter_nd_run, 0},
    {"ScatterND", "", 13, 15, 0, DEV16, 0, layout_scatter_nd_prepare, cuda_scatter_nd_run, 0},
    {"ScatterND", "", 16, 17, 0, DEV16, 0, layout_scatter_nd_prepare, cuda_scatter_nd_run, 0},
    {"ScatterND", "", 18, MAX, 0, DEV16, 0, layout_scatter_nd_prepare, cuda_scatter_nd_run, 0},

    /* Constant checks no input dtype (it has none): a string Constant is refused by run */
    {"Constant", "", 1, 8, -1, F3, 0, layout_constant_prepare, cuda_constant_run, 0},
    {"Constant", "", 9, 10, -1, DEV15, 0, layout_constant_prepare, cuda_constant_run, 0},
    {"Constant", "", 11, 11, -1, DEV15, 0, layout_constant_prepare, cuda_constant_run, 0},
    {"Constant", "", 12, 12, -1, DEV15, 0, layout_constant_prepare, cuda_constant_run, 0},
    {"Constant", "", 13, MAX, -1, DEV16, 0, layout_constant_prepare, cuda_constant_run, 0},
    {"ConstantOfShape", "", 9, MAX, 0, ONYX_DT(INT64), IN(0), layout_constant_of_shape_prepare,
     cuda_constant_of_shape_run, 0},
    {"Range", "", 11, MAX, 0, RANGE_DTYPES, IN(0) | IN(1) | IN(2), layout_range_prepare, cuda_range_run, 0},
    {0},
};
