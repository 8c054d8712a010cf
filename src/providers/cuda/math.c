/*
 * math.c - the CUDA provider's math kernel table: Reduce*, GlobalAverage/MaxPool, ArgMax/ArgMin,
 * CumSum, TopK, Softmax/LogSoftmax, Hardmax, Layer-, Instance- and BatchNormalization,
 * MeanVarianceNormalization, onyx Attention, QuantizeLinear, DequantizeLinear and DynamicQuantizeLinear.
 *
 * Rows mirror the CPU provider's (src/providers/cpu/math_table.c): same ops, opset ranges and
 * host inputs, with the dtypes the CUDA kernels take. prepare is the CPU's (shape inference and
 * checks in one place), wrapped where the CUDA run needs a different workspace. run reads the
 * node's attributes and host inputs as the CPU run does, turns the tensors into the
 * (outer, n, inner) view of math_launch.h and enqueues the kernels on the session's stream.
 */
#include <string.h>

#include "providers/cpu/math_kernels.h"
#include "providers/cuda/cuda_provider.h"
#include "providers/cuda/math_launch.h"

_Static_assert((int)ONYX_CUDA_DT_FLOAT32 == (int)ONYX_DTYPE_FLOAT32 && (int)ONYX_CUDA_DT_UINT8 == (int)ONYX_DTYPE_UINT8 &&
                   (int)ONYX_CUDA_DT_INT8 == (int)ONYX_DTYPE_INT8 && (int)ONYX_CUDA_DT_INT32 == (int)ONYX_DTYPE_INT32 &&
                   (int)ONYX_CUDA_DT_INT64 == (int)ONYX_DTYPE_INT64 &&
                   (int)ONYX_CUDA_DT_FLOAT16 == (int)ONYX_DTYPE_FLOAT16 &&
                   (int)ONYX_CUDA_DT_FLOAT64 == (int)ONYX_DTYPE_FLOAT64 &&
                   (int)ONYX_CUDA_DT_BFLOAT16 == (int)ONYX_DTYPE_BFLOAT16,
               "math_launch.h dtype codes must be onyx_dtype values");
_Static_assert(ONYX_CUDA_MATH_MAX_RANK == ONYX_MAX_RANK, "math_launch.h's rank limit must be ONYX_MAX_RANK");

static inline cudaStream_t stream_of(const onyx_kernel_ctx *ctx) { return onyx_cuda_state_of(ctx)->stream; }

/* ---- Reduce* ---- */

static const struct {
    const char *op_type;
    int kind;
    int axes_input_since; /* first opset where axes is an input (the CPU's reduce_ops) */
} reduce_ops[] = {
    {"ReduceSum", ONYX_CUDA_REDUCE_SUM, 13},
    {"ReduceMean", ONYX_CUDA_REDUCE_MEAN, 18},
    {"ReduceMax", ONYX_CUDA_REDUCE_MAX, 18},
    {"ReduceMin", ONYX_CUDA_REDUCE_MIN, 18},
    {"ReduceProd", ONYX_CUDA_REDUCE_PROD, 18},
    {"ReduceL1", ONYX_CUDA_REDUCE_L1, 18},
    {"ReduceL2", ONYX_CUDA_REDUCE_L2, 18},
    {"ReduceSumSquare", ONYX_CUDA_REDUCE_SUM_SQUARE, 18},
    {"ReduceLogSum", ONYX_CUDA_REDUCE_LOG_SUM, 18},
    {"ReduceLogSumExp", ONYX_CUDA_REDUCE_LOG_SUM_EXP, 18},
};

/* Which axes of input 0 the node reduces (reduced, rank entries), and whether it is the
 * identity (noop_with_empty_axes with no axes). prepare (math_reduce_prepare) has checked the
 * axes; this reads them again the same way. */
static onyx_status reduce_axes_of(const onyx_kernel_ctx *ctx, int *kind, int *reduced, int *identity) {
    const onyx_node *node = ctx->node;
    const onyx_tensor *x = ctx->inputs[0];
    int axes_input_since = 18;
    *kind = -1;
    for (size_t i = 0; i < sizeof reduce_ops / sizeof reduce_ops[0]; i++) {
        if (strcmp(node->op_type, reduce_ops[i].op_type) == 0) {
            *kind = reduce_ops[i].kind;
            axes_input_since = reduce_ops[i].axes_input_since;
        }
    }
    if (*kind < 0) return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "%s: not a reduction onyx knows", node->op_type);
    int64_t axes[ONYX_MAX_RANK];
    int n_axes = 0, noop = 0;
    if (node->opset >= axes_input_since) {
        noop = onyx_node_attr_int(node, "noop_with_empty_axes", 0) != 0;
        const onyx_tensor *axes_t = onyx_input(ctx, 1);
        if (axes_t) ONYX_TRY(onyx_tensor_read_ints(axes_t, axes, ONYX_MAX_RANK, &n_axes, "input 1 (axes)"));
    } else {
        size_t count = 0;
        const int64_t *attr = onyx_node_attr_ints(node, "axes", &count);
        if (count > ONYX_MAX_RANK)
            return onyx_error(ONYX_ERR_INVALID_MODEL, "%s: attribute axes has %zu entries", node->op_type, count);
        for (size_t i = 0; i < count; i++) axes[i] = attr[i];
        n_axes = (int)count;
    }
    *identity = n_axes == 0 && noop;
    for (int d = 0; d < x->rank; d++) reduced[d] = n_axes == 0 && !noop;
    for (int i = 0; i < n_axes; i++) {
        int a;
        ONYX_TRY(onyx_kernel_axis(ctx, axes[i], x->rank, "axes entry", &a));
        if (x->rank > 0) reduced[a] = 1;
    }
    return ONYX_OK;
}

static onyx_status cuda_reduce_prepare(onyx_kernel_ctx *ctx) {
    ONYX_TRY(math_reduce_prepare(ctx));
    int kind, identity, reduced[ONYX_MAX_RANK];
    ONYX_TRY(reduce_axes_of(ctx, &kind, reduced, &identity));
    const onyx_tensor *x = ctx->inputs[0];
    ctx->workspace_bytes = identity ? 0 : onyx_cuda_reduce_workspace(x->rank, x->dims, reduced);
    return ONYX_OK;
}

static onyx_status cuda_reduce_run(onyx_kernel_ctx *ctx) {
    int kind, identity, reduced[ONYX_MAX_RANK];
    ONYX_TRY(reduce_axes_of(ctx, &kind, reduced, &identity));
    const onyx_tensor *x = ctx->inputs[0];
    onyx_tensor *y = ctx->outputs[0];
    if (identity) {
        if (x->nbytes == 0) return ONYX_OK;
        return onyx_cuda_status(cudaMemcpyAsync(y->data, x->data, x->nbytes, cudaMemcpyDeviceToDevice, stream_of(ctx)),
                                "reduction (identity) copy");
    }
    return onyx_cuda_status(onyx_cuda_reduce(kind, (int)x->dtype, x->data, y->data, x->rank, x->dims, reduced,
                                             ctx->workspace, ctx->workspace_bytes, stream_of(ctx)),
                            "reduction kernel");
}

/* ---- GlobalAveragePool / GlobalMaxPool: X (N,C,S...) reduced over the spatial dims ---- */

static void global_pool_axes(const onyx_tensor *x, int *reduced) {
    for (int d = 0; d < x->rank; d++) reduced[d] = d >= 2;
}

static onyx_status cuda_global_pool_prepare(onyx_kernel_ctx *ctx) {
    ONYX_TRY(math_global_pool_prepare(ctx));
    const onyx_tensor *x = ctx->inputs[0];
    int reduced[ONYX_MAX_RANK];
    global_pool_axes(x, reduced);
    ctx->workspace_bytes = onyx_cuda_reduce_workspace(x->rank, x->dims, reduced);
    return ONYX_OK;
}

static onyx_status cuda_global_pool_run(onyx_kernel_ctx *ctx) {
    const onyx_tensor *x = ctx->inputs[0];
    int reduced[ONYX_MAX_RANK];
    global_pool_axes(x, reduced);
    int kind = strcmp(ctx->node->op_type, "GlobalMaxPool") == 0 ? ONYX_CUDA_REDUCE_MAX : ONYX_CUDA_REDUCE_MEAN;
    return onyx_cuda_status(onyx_cuda_reduce(kind, (int)x->dtype, x->data, ctx->outputs[0]->data, x->rank, x->dims,
                                             reduced, ctx->workspace, ctx->workspace_bytes, stream_of(ctx)),
                            "global pool kernel");
}

/* ---- the (outer, n, inner) view of an axis ---- */

typedef struct axis_view {
    int axis;
    int64_t outer, n, inner;
} axis_view;

static void axis_view_of(const onyx_tensor *x, int axis, axis_view *v) {
    v->axis = axis;
    v->outer = onyx_shape_numel(x->dims, axis);
    v->n = x->rank ? x->dims[axis] : 1;
    v->inner = x->rank ? onyx_shape_numel(x->dims + axis + 1, x->rank - axis - 1) : 1;
}

/* ---- ArgMax / ArgMin ---- */

static onyx_status cuda_argmax_run(onyx_kernel_ctx *ctx) {
    const onyx_tensor *x = ctx->inputs[0];
    int axis;
    ONYX_TRY(onyx_kernel_axis(ctx, onyx_node_attr_int(ctx->node, "axis", 0), x->rank, "attribute axis", &axis));
    axis_view v;
    axis_view_of(x, axis, &v);
    int want_min = strcmp(ctx->node->op_type, "ArgMin") == 0;
    int last = onyx_node_attr_int(ctx->node, "select_last_index", 0) != 0;
    return onyx_cuda_status(onyx_cuda_argmax((int)x->dtype, want_min, last, x->data, ctx->outputs[0]->data, v.outer,
                                             v.n, v.inner, stream_of(ctx)),
                            "ArgMax/ArgMin kernel");
}

/* ---- CumSum (axis is host input 1) ---- */

static onyx_status cuda_cumsum_run(onyx_kernel_ctx *ctx) {
    const onyx_tensor *x = ctx->inputs[0];
    int64_t axis_value[1];
    int count = 0, axis;
    ONYX_TRY(onyx_tensor_read_ints(ctx->inputs[1], axis_value, 1, &count, "CumSum input 1 (axis)"));
    ONYX_TRY(onyx_kernel_axis(ctx, axis_value[0], x->rank, "input 1 (axis)", &axis));
    axis_view v;
    axis_view_of(x, axis, &v);
    int exclusive = onyx_node_attr_int(ctx->node, "exclusive", 0) != 0;
    int reverse = onyx_node_attr_int(ctx->node, "reverse", 0) != 0;
    return onyx_cuda_status(onyx_cuda_cumsum((int)x->dtype, exclusive, reverse, x->data, ctx->outputs[0]->data,
                                             v.outer, v.n, v.inner, stream_of(ctx)),
                            "CumSum kernel");
}

/* ---- TopK (K is host input 1 from opset 10, attribute k before) ---- */

static onyx_status topk_view_of(const onyx_kernel_ctx *ctx, axis_view *v, int64_t *k) {
    const onyx_tensor *x = ctx->inputs[0];
    int axis;
    ONYX_TRY(onyx_kernel_axis(ctx, onyx_node_attr_int(ctx->node, "axis", -1), x->rank, "attribute axis", &axis));
    axis_view_of(x, axis, v);
    if (ctx->node->opset >= 10) {
        int count = 0;
        ONYX_TRY(onyx_tensor_read_ints(ctx->inputs[1], k, 1, &count, "TopK input 1 (K)"));
    } else {
        *k = onyx_node_attr_int(ctx->node, "k", -1);
    }
    return ONYX_OK;
}

static onyx_status cuda_topk_prepare(onyx_kernel_ctx *ctx) {
    ONYX_TRY(math_topk_prepare(ctx));
    axis_view v;
    int64_t k;
    ONYX_TRY(topk_view_of(ctx, &v, &k));
    if (v.n >= UINT32_MAX)
        return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "TopK: axis %d has %lld elements; the CUDA kernel takes < 2^32",
                          v.axis, (long long)v.n);
    ctx->workspace_bytes = onyx_cuda_topk_workspace(v.outer * v.inner, v.n, k);
    return ONYX_OK;
}

static onyx_status cuda_topk_run(onyx_kernel_ctx *ctx) {
    axis_view v;
    int64_t k;
    ONYX_TRY(topk_view_of(ctx, &v, &k));
    const onyx_tensor *x = ctx->inputs[0];
    onyx_tensor *indices = onyx_output(ctx, 1);
    int largest = ctx->node->opset >= 11 ? onyx_node_attr_int(ctx->node, "largest", 1) != 0 : 1;
    return onyx_cuda_status(onyx_cuda_topk((int)x->dtype, largest, x->data, ctx->outputs[0]->data,
                                           indices ? indices->data : NULL, v.outer, v.n, v.inner, k, ctx->workspace,
                                           ctx->workspace_bytes, stream_of(ctx)),
                            "TopK kernel");
}

/* ---- Softmax / LogSoftmax: before opset 13 rows of prod(dims[axis:]), from 13 one axis ---- */

static onyx_status softmax_view_of(const onyx_kernel_ctx *ctx, axis_view *v) {
    const onyx_tensor *x = ctx->inputs[0];
    int legacy = ctx->node->opset < 13;
    int rank = x->rank;
    int64_t axis_attr = onyx_node_attr_int(ctx->node, "axis", legacy ? 1 : -1);
    if (rank == 0) {
        v->outer = v->n = v->inner = 1;
        return ONYX_OK;
    }
    int axis;
    if (legacy && axis_attr == rank) axis = rank; /* flattening at rank: rows of one element */
    else ONYX_TRY(onyx_kernel_axis(ctx, axis_attr, rank, "attribute axis", &axis));
    v->axis = axis;
    v->outer = onyx_shape_numel(x->dims, axis);
    if (legacy) {
        v->n = onyx_shape_numel(x->dims + axis, rank - axis);
        v->inner = 1;
    } else {
        v->n = x->dims[axis];
        v->inner = onyx_shape_numel(x->dims + axis + 1, rank - axis - 1);
    }
    return ONYX_OK;
}

static onyx_status cuda_softmax_prepare(onyx_kernel_ctx *ctx) {
    ONYX_TRY(math_softmax_prepare(ctx));
    ctx->workspace_bytes = 0;
    return ONYX_OK;
}

static onyx_status cuda_softmax_run(onyx_kernel_ctx *ctx) {
    axis_view v = {0};
    ONYX_TRY(softmax_view_of(ctx, &v));
    const onyx_tensor *x = ctx->inputs[0];
    int log_output = strcmp(ctx->node->op_type, "LogSoftmax") == 0;
    return onyx_cuda_status(onyx_cuda_softmax((int)x->dtype, log_output, x->data, ctx->outputs[0]->data, v.outer,
                                              v.n, v.inner, stream_of(ctx)),
                            "softmax kernel");
}

/* ---- ScaleAddSoftmax (onyx): normalize.c's view, one kernel ---- */

static onyx_status cuda_scale_add_softmax_prepare(onyx_kernel_ctx *ctx) {
    math_scale_add_softmax v;
    ONYX_TRY(math_scale_add_softmax_view(ctx, &v));
    ctx->workspace_bytes = 0;
    return onyx_tensor_set_shape(ctx->outputs[0], ctx->inputs[0]->dtype, v.dims, v.rank, "output 0 (Y)");
}

static onyx_status cuda_scale_add_softmax_run(onyx_kernel_ctx *ctx) {
    math_scale_add_softmax v;
    ONYX_TRY(math_scale_add_softmax_view(ctx, &v));
    if (v.rows * v.n == 0) return ONYX_OK;
    const onyx_tensor *x = ctx->inputs[0];
    return onyx_cuda_status(onyx_cuda_scale_add_softmax((int)x->dtype, x->data, ctx->inputs[1]->data,
                                                        ctx->outputs[0]->data, v.rows, v.n, v.scale, v.scale != 1.0f,
                                                        v.lead_rank, v.lead_dims, v.x_strides, v.b_strides, v.x_last,
                                                        v.b_last, stream_of(ctx)),
                            "ScaleAddSoftmax kernel");
}

/* ---- Attention (onyx): attention.c's view, one kernel ---- */

static onyx_status cuda_attention_prepare(onyx_kernel_ctx *ctx) {
    math_attention v;
    ONYX_TRY(math_attention_view(ctx, &v));
    if (v.v_dim > ONYX_CUDA_ATTENTION_MAX_V_DIM)
        return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "Attention: V's head size %lld is above the CUDA kernel's %d",
                          (long long)v.v_dim, ONYX_CUDA_ATTENTION_MAX_V_DIM);
    ctx->workspace_bytes = 0;
    return onyx_tensor_set_shape(ctx->outputs[0], ctx->inputs[0]->dtype, v.out_dims, 4, "output 0 (O)");
}

static onyx_status cuda_attention_run(onyx_kernel_ctx *ctx) {
    math_attention v;
    ONYX_TRY(math_attention_view(ctx, &v));
    onyx_tensor *o = ctx->outputs[0];
    if (o->nbytes == 0) return ONYX_OK;
    if (v.kv_len == 0) /* no keys: the weighted sum of nothing */
        return onyx_cuda_status(cudaMemsetAsync(o->data, 0, o->nbytes, stream_of(ctx)), "Attention output");
    onyx_cuda_attention_shape s = {v.batch, v.heads, v.q_len, v.kv_len, v.head_dim, v.v_dim};
    memcpy(s.q_strides, v.q_strides, sizeof s.q_strides);
    memcpy(s.k_strides, v.k_strides, sizeof s.k_strides);
    memcpy(s.v_strides, v.v_strides, sizeof s.v_strides);
    memcpy(s.o_strides, v.o_strides, sizeof s.o_strides);
    memcpy(s.bias_strides, v.bias_strides, sizeof s.bias_strides);
    s.scale = v.scale;
    const void *bias = v.has_bias ? ctx->inputs[3]->data : NULL;
    return onyx_cuda_status(onyx_cuda_attention((int)o->dtype, onyx_cuda_state_of(ctx)->cc_major, ctx->inputs[0]->data,
                                                ctx->inputs[1]->data, ctx->inputs[2]->data, bias, o->data, &s,
                                                stream_of(ctx)),
                            "Attention kernel");
}

/* ---- Hardmax: the softmax view ---- */

static onyx_status cuda_hardmax_prepare(onyx_kernel_ctx *ctx) {
    ONYX_TRY(math_hardmax_prepare(ctx));
    axis_view v = {0};
    ONYX_TRY(softmax_view_of(ctx, &v));
    ctx->workspace_bytes = onyx_cuda_hardmax_workspace(v.outer, v.inner);
    return ONYX_OK;
}

static onyx_status cuda_hardmax_run(onyx_kernel_ctx *ctx) {
    axis_view v = {0};
    ONYX_TRY(softmax_view_of(ctx, &v));
    const onyx_tensor *x = ctx->inputs[0];
    return onyx_cuda_status(onyx_cuda_hardmax((int)x->dtype, x->data, ctx->outputs[0]->data, v.outer, v.n, v.inner,
                                              ctx->workspace, ctx->workspace_bytes, stream_of(ctx)),
                            "Hardmax kernels");
}

/* ---- LayerNormalization: rows of prod(dims[axis:]) ---- */

static onyx_status cuda_layer_norm_prepare(onyx_kernel_ctx *ctx) {
    ONYX_TRY(math_layer_norm_prepare(ctx));
    ctx->workspace_bytes = 0;
    return ONYX_OK;
}

static onyx_status cuda_layer_norm_run(onyx_kernel_ctx *ctx) {
    int rms = math_norm_is_rms(ctx->node); /* RMSNormalization, SimplifiedLayerNormalization */
    const onyx_tensor *x = ctx->inputs[0], *scale = ctx->inputs[1], *bias = rms ? NULL : onyx_input(ctx, 2);
    onyx_tensor *mean = rms ? NULL : onyx_output(ctx, 1), *inv_std = onyx_output(ctx, rms ? 1 : 2);
    int axis;
    ONYX_TRY(onyx_kernel_axis(ctx, onyx_node_attr_int(ctx->node, "axis", -1), x->rank, "attribute axis", &axis));
    int64_t rows = onyx_shape_numel(x->dims, axis), cols = onyx_shape_numel(x->dims + axis, x->rank - axis);
    double epsilon = onyx_node_attr_float(ctx->node, "epsilon", 1e-5f);
    return onyx_cuda_status(onyx_cuda_layer_norm((int)x->dtype, x->data, scale->data, bias ? bias->data : NULL,
                                                 ctx->outputs[0]->data, mean ? mean->data : NULL,
                                                 inv_std ? inv_std->data : NULL, rows, cols, epsilon, rms, NULL, NULL,
                                                 NULL, stream_of(ctx)),
                            "normalization kernel");
}

/* ---- SkipLayerNormalization / SkipSimplifiedLayerNormalization: the residual Add and the norm
 * in one kernel when skip has input's shape (normalize.c's view); else the Add kernel into the
 * sum, then the norm ---- */

static int cuda_skip_norm_fused(const math_skip_norm *v) {
    return v->same_shape && (v->sum || v->cols <= ONYX_CUDA_LN_REGISTER_COLS);
}

static onyx_status cuda_skip_norm_prepare(onyx_kernel_ctx *ctx) {
    math_skip_norm v;
    ONYX_TRY(math_skip_norm_view(ctx, &v));
    ONYX_TRY(math_skip_norm_set_outputs(ctx, &v));
    ctx->workspace_bytes = v.sum || cuda_skip_norm_fused(&v) ? 0 : v.sum_bytes;
    return ONYX_OK;
}

/* out = a + b through the provider's own Add kernel (NumPy broadcasting). */
static onyx_status cuda_add_into(onyx_kernel_ctx *ctx, onyx_tensor *out, const onyx_tensor *a, const onyx_tensor *b) {
    char why[128];
    const onyx_kernel_def *add = onyx_kernel_lookup(onyx_cuda_kernel_tables, "Add", "", 14, a->dtype, why, sizeof why);
    if (!add) return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "%s: %s", ctx->node->op_type, why);
    static const onyx_node add_node = {.op_type = "Add", .domain = "", .opset = 14};
    const onyx_tensor *ins[2] = {a, b};
    onyx_tensor *outs[1] = {out};
    onyx_kernel_ctx sub = onyx_kernel_sub_ctx(ctx, &add_node, ins, 2, outs, 1);
    ONYX_TRY(add->prepare(&sub)); /* sets out's shape (prepare leaves data alone) */
    return add->run(&sub);
}

static onyx_status cuda_skip_norm_run(onyx_kernel_ctx *ctx) {
    math_skip_norm v;
    ONYX_TRY(math_skip_norm_view(ctx, &v));
    double epsilon = onyx_node_attr_float(ctx->node, "epsilon", 1e-5f);
    if (cuda_skip_norm_fused(&v))
        return onyx_cuda_status(onyx_cuda_layer_norm((int)v.input->dtype, v.input->data, v.gamma->data,
                                                     v.beta ? v.beta->data : NULL, ctx->outputs[0]->data,
                                                     v.mean ? v.mean->data : NULL, v.inv_std ? v.inv_std->data : NULL,
                                                     v.rows, v.cols, epsilon, v.rms, v.skip->data,
                                                     v.bias ? v.bias->data : NULL, v.sum ? v.sum->data : NULL,
                                                     stream_of(ctx)),
                                "skip normalization kernel");
    onyx_tensor sum;
    onyx_tensor_init(&sum);
    ONYX_TRY(onyx_tensor_set_shape(&sum, v.input->dtype, v.dims, v.rank, "the sum"));
    sum.device = ONYX_DEVICE_CUDA;
    sum.data = v.sum ? v.sum->data : ctx->workspace;
    ONYX_TRY(cuda_add_into(ctx, &sum, v.input, v.skip));
    if (v.bias) ONYX_TRY(cuda_add_into(ctx, &sum, &sum, v.bias));
    return onyx_cuda_status(onyx_cuda_layer_norm((int)v.input->dtype, sum.data, v.gamma->data,
                                                 v.beta ? v.beta->data : NULL, ctx->outputs[0]->data,
                                                 v.mean ? v.mean->data : NULL, v.inv_std ? v.inv_std->data : NULL,
                                                 v.rows, v.cols, epsilon, v.rms, NULL, NULL, NULL, stream_of(ctx)),
                            "normalization kernel");
}

/* ---- InstanceNormalization and BatchNormalization of X (N,C,S...): inputs 1.. are per-channel
 * scale, B (and mean, var for BatchNormalization), any float dtype; prepare has checked them ---- */

static onyx_status cuda_channel_norm_prepare(onyx_kernel_ctx *ctx) {
    ONYX_TRY(math_channel_norm_prepare(ctx));
    int batch = strcmp(ctx->node->op_type, "BatchNormalization") == 0;
    ctx->workspace_bytes = batch ? onyx_cuda_batch_norm_workspace(ctx->inputs[0]->dims[1]) : 0;
    return ONYX_OK;
}

static onyx_status cuda_channel_norm_run(onyx_kernel_ctx *ctx) {
    int batch = strcmp(ctx->node->op_type, "BatchNormalization") == 0;
    const onyx_tensor *x = ctx->inputs[0];
    int64_t N = x->dims[0], C = x->dims[1], S = onyx_shape_numel(x->dims + 2, x->rank - 2);
    const void *params[ONYX_CUDA_NORM_PARAMS] = {NULL, NULL, NULL, NULL};
    int param_dtypes[ONYX_CUDA_NORM_PARAMS] = {0, 0, 0, 0};
    for (int i = 0; i < (batch ? 4 : 2); i++) {
        params[i] = ctx->inputs[1 + i]->data;
        param_dtypes[i] = (int)ctx->inputs[1 + i]->dtype;
    }
    double epsilon = onyx_node_attr_float(ctx->node, "epsilon", 1e-5f);
    if (!batch)
        return onyx_cuda_status(onyx_cuda_instance_norm((int)x->dtype, x->data, ctx->outputs[0]->data, params,
                                                        param_dtypes, N, C, S, epsilon, stream_of(ctx)),
                                "InstanceNormalization kernel");
    /* outputs 1..4: running mean, running var, then (opset < 14) the mean and inverse std used */
    void *stats[ONYX_CUDA_NORM_PARAMS] = {NULL, NULL, NULL, NULL};
    int stats_dtypes[ONYX_CUDA_NORM_PARAMS] = {0, 0, 0, 0};
    for (int o = 1; o <= ONYX_CUDA_NORM_PARAMS; o++) {
        onyx_tensor *t = onyx_output(ctx, o);
        if (!t) continue;
        stats[o - 1] = t->data;
        stats_dtypes[o - 1] = (int)t->dtype;
    }
    int training = ctx->node->opset >= 14 && onyx_node_attr_int(ctx->node, "training_mode", 0) != 0;
    double momentum = onyx_node_attr_float(ctx->node, "momentum", 0.9f);
    return onyx_cuda_status(onyx_cuda_batch_norm((int)x->dtype, x->data, ctx->outputs[0]->data, params, param_dtypes,
                                                 stats, stats_dtypes, training, momentum, epsilon, N, C, S,
                                                 ctx->workspace, ctx->workspace_bytes, stream_of(ctx)),
                            "BatchNormalization kernels");
}

/* ---- MeanVarianceNormalization over 'axes' (default [0,2,3]), as the CPU's mvn_plan reads them ---- */

static onyx_status mvn_axes_of(const onyx_kernel_ctx *ctx, int *reduced) {
    const onyx_tensor *x = ctx->inputs[0];
    static const int64_t default_axes[3] = {0, 2, 3};
    size_t count = 0;
    const int64_t *axes = onyx_node_attr_ints(ctx->node, "axes", &count);
    if (!axes) {
        axes = default_axes;
        count = 3;
    }
    for (int d = 0; d < ONYX_MAX_RANK; d++) reduced[d] = 0;
    for (size_t i = 0; i < count; i++) {
        int a;
        ONYX_TRY(onyx_kernel_axis(ctx, axes[i], x->rank, "axes entry", &a));
        reduced[a] = 1;
    }
    return ONYX_OK;
}

static onyx_status cuda_mvn_prepare(onyx_kernel_ctx *ctx) {
    ONYX_TRY(math_mvn_prepare(ctx));
    int reduced[ONYX_MAX_RANK];
    ONYX_TRY(mvn_axes_of(ctx, reduced));
    const onyx_tensor *x = ctx->inputs[0];
    ctx->workspace_bytes = onyx_cuda_mvn_workspace(x->rank, x->dims, reduced);
    return ONYX_OK;
}

static onyx_status cuda_mvn_run(onyx_kernel_ctx *ctx) {
    int reduced[ONYX_MAX_RANK];
    ONYX_TRY(mvn_axes_of(ctx, reduced));
    const onyx_tensor *x = ctx->inputs[0];
    return onyx_cuda_status(onyx_cuda_mvn((int)x->dtype, x->data, ctx->outputs[0]->data, x->rank, x->dims, reduced,
                                          ctx->workspace, ctx->workspace_bytes, stream_of(ctx)),
                            "MeanVarianceNormalization kernels");
}

/* ---- QuantizeLinear / DequantizeLinear: per-tensor, or per-axis (opset 13) when the scale is
 * 1-D with more than one element; prepare (the CPU's quant_params_of) has checked the shapes ---- */

static onyx_status quant_view_of(const onyx_kernel_ctx *ctx, int64_t *total, int64_t *channels, int64_t *inner) {
    const onyx_tensor *x = ctx->inputs[0], *scale = ctx->inputs[1];
    int64_t scale_n = onyx_shape_numel(scale->dims, scale->rank);
    *total = onyx_shape_numel(x->dims, x->rank);
    *channels = 1;
    *inner = *total;
    if (scale->rank == 1 && scale_n != 1) {
        int axis;
        ONYX_TRY(onyx_kernel_axis(ctx, onyx_node_attr_int(ctx->node, "axis", 1), x->rank, "attribute axis", &axis));
        *channels = scale_n;
        *inner = onyx_shape_numel(x->dims + axis + 1, x->rank - axis - 1);
    }
    return ONYX_OK;
}

static onyx_status cuda_quantize_run(onyx_kernel_ctx *ctx) {
    int64_t total, channels, inner;
    ONYX_TRY(quant_view_of(ctx, &total, &channels, &inner));
    const onyx_tensor *x = ctx->inputs[0], *scale = ctx->inputs[1], *zp = onyx_input(ctx, 2);
    onyx_tensor *y = ctx->outputs[0];
    return onyx_cuda_status(onyx_cuda_quantize_linear((int)x->dtype, (int)y->dtype, x->data, scale->data,
                                                      zp ? zp->data : NULL, y->data, total, channels, inner,
                                                      stream_of(ctx)),
                            "QuantizeLinear kernel");
}

static onyx_status cuda_dequantize_run(onyx_kernel_ctx *ctx) {
    int64_t total, channels, inner;
    ONYX_TRY(quant_view_of(ctx, &total, &channels, &inner));
    const onyx_tensor *x = ctx->inputs[0], *scale = ctx->inputs[1], *zp = onyx_input(ctx, 2);
    return onyx_cuda_status(onyx_cuda_dequantize_linear((int)x->dtype, x->data, scale->data, zp ? zp->data : NULL,
                                                        ctx->outputs[0]->data, total, channels, inner,
                                                        stream_of(ctx)),
                            "DequantizeLinear kernel");
}

static onyx_status cuda_dynamic_quantize_prepare(onyx_kernel_ctx *ctx) {
    ONYX_TRY(math_dynamic_quantize_prepare(ctx));
    const onyx_tensor *x = ctx->inputs[0];
    ctx->workspace_bytes = onyx_cuda_dynamic_quantize_workspace(onyx_shape_numel(x->dims, x->rank));
    return ONYX_OK;
}

static onyx_status cuda_dynamic_quantize_run(onyx_kernel_ctx *ctx) {
    const onyx_tensor *x = ctx->inputs[0];
    onyx_tensor *scale = onyx_output(ctx, 1), *zero_point = onyx_output(ctx, 2);
    return onyx_cuda_status(onyx_cuda_dynamic_quantize_linear(x->data, ctx->outputs[0]->data,
                                                              scale ? scale->data : NULL,
                                                              zero_point ? zero_point->data : NULL,
                                                              onyx_shape_numel(x->dims, x->rank), ctx->workspace,
                                                              ctx->workspace_bytes, stream_of(ctx)),
                            "DynamicQuantizeLinear kernels");
}

/* ---- the table ---- */

#define F3 (ONYX_DT(FLOAT32) | ONYX_DT(FLOAT16) | ONYX_DT(FLOAT64))
#define F4 (F3 | ONYX_DT(BFLOAT16))
#define WIDE_INTS (ONYX_DT(INT32) | ONYX_DT(INT64)) /* of the CPU's: uint32/uint64 stay on the CPU */
#define BYTE_INTS (ONYX_DT(INT8) | ONYX_DT(UINT8))
#define MAX ONYX_OPSET_MAX
#define AXES_INPUT (1u << 1) /* input 1 (axes, axis or K) is read on the host */

#define REDUCE_ROWS(op)                                                                           \
    {op, "", 1, 12, 0, F3 | WIDE_INTS, 0, cuda_reduce_prepare, cuda_reduce_run},                  \
    {op, "", 13, 17, 0, F4 | WIDE_INTS, 0, cuda_reduce_prepare, cuda_reduce_run},                 \
    {op, "", 18, MAX, 0, F4 | WIDE_INTS, AXES_INPUT, cuda_reduce_prepare, cuda_reduce_run}

#define REDUCE_EXTREME_ROWS(op)                                                                   \
    {op, "", 1, 11, 0, F3 | WIDE_INTS, 0, cuda_reduce_prepare, cuda_reduce_run},                  \
    {op, "", 12, 12, 0, F3 | WIDE_INTS | BYTE_INTS, 0, cuda_reduce_prepare, cuda_reduce_run},     \
    {op, "", 13, 17, 0, F4 | WIDE_INTS | BYTE_INTS, 0, cuda_reduce_prepare, cuda_reduce_run},     \
    {op, "", 18, MAX, 0, F4 | WIDE_INTS | BYTE_INTS, AXES_INPUT, cuda_reduce_prepare, cuda_reduce_run}

const onyx_kernel_def onyx_cuda_math_kernels[] = {
    {"ReduceSum", "", 1, 12, 0, F3 | WIDE_INTS, 0, cuda_reduce_prepare, cuda_reduce_run},
    {"ReduceSum", "", 13, MAX, 0, F4 | WIDE_INTS, AXES_INPUT, cuda_reduce_prepare, cuda_reduce_run},
    REDUCE_ROWS("ReduceMean"),
    REDUCE_ROWS("ReduceProd"),
    REDUCE_ROWS("ReduceL1"),
    REDUCE_ROWS("ReduceL2"),
    REDUCE_ROWS("ReduceSumSquare"),
    REDUCE_ROWS("ReduceLogSum"),
    REDUCE_ROWS("ReduceLogSumExp"),
    REDUCE_EXTREME_ROWS("ReduceMax"),
    REDUCE_EXTREME_ROWS("ReduceMin"),
    {"ArgMax", "", 1, 12, 0, F3 | WIDE_INTS | BYTE_INTS, 0, math_argmax_prepare, cuda_argmax_run},
    {"ArgMax", "", 13, MAX, 0, F4 | WIDE_INTS | BYTE_INTS, 0, math_argmax_prepare, cuda_argmax_run},
    {"ArgMin", "", 1, 12, 0, F3 | WIDE_INTS | BYTE_INTS, 0, math_argmax_prepare, cuda_argmax_run},
    {"ArgMin", "", 13, MAX, 0, F4 | WIDE_INTS | BYTE_INTS, 0, math_argmax_prepare, cuda_argmax_run},
    {"CumSum", "", 11, 13, 0, ONYX_DT(FLOAT32) | ONYX_DT(FLOAT64) | WIDE_INTS, AXES_INPUT, math_cumsum_prepare,
     cuda_cumsum_run},
    {"CumSum", "", 14, MAX, 0, F4 | WIDE_INTS, AXES_INPUT, math_cumsum_prepare, cuda_cumsum_run},
    {"TopK", "", 1, 9, 0, F3, 0, cuda_topk_prepare, cuda_topk_run},
    {"TopK", "", 10, 10, 0, F3, AXES_INPUT, cuda_topk_prepare, cuda_topk_run},
    {"TopK", "", 11, MAX, 0, F3 | WIDE_INTS | BYTE_INTS, AXES_INPUT, cuda_topk_prepare, cuda_topk_run},

    {"GlobalAveragePool", "", 1, MAX, 0, F3, 0, cuda_global_pool_prepare, cuda_global_pool_run},
    {"GlobalMaxPool", "", 1, MAX, 0, F3, 0, cuda_global_pool_prepare, cuda_global_pool_run},

    {"Softmax", "", 1, 12, 0, F3, 0, cuda_softmax_prepare, cuda_softmax_run},
    {"Softmax", "", 13, MAX, 0, F4, 0, cuda_softmax_prepare, cuda_softmax_run},
    {"LogSoftmax", "", 1, 12, 0, F3, 0, cuda_softmax_prepare, cuda_softmax_run},
    {"LogSoftmax", "", 13, MAX, 0, F4, 0, cuda_softmax_prepare, cuda_softmax_run},
    {"Hardmax", "", 1, 12, 0, F3, 0, cuda_hardmax_prepare, cuda_hardmax_run},
    {"Hardmax", "", 13, MAX, 0, F4, 0, cuda_hardmax_prepare, cuda_hardmax_run},
    {"InstanceNormalization", "", 6, MAX, 0, F3, 0, cuda_channel_norm_prepare, cuda_channel_norm_run},
    {"BatchNormalization", "", 7, 13, 0, F3, 0, cuda_channel_norm_prepare, cuda_channel_norm_run},
    {"BatchNormalization", "", 14, MAX, 0, F4, 0, cuda_channel_norm_prepare, cuda_channel_norm_run},
    {"MeanVarianceNormalization", "", 9, 12, 0, F3, 0, cuda_mvn_prepare, cuda_mvn_run},
    {"MeanVarianceNormalization", "", 13, MAX, 0, F4, 0, cuda_mvn_prepare, cuda_mvn_run},
    {"LayerNormalization", "", 17, MAX, 0, F4, 0, cuda_layer_norm_prepare, cuda_layer_norm_run},
    {"RMSNormalization", "", 23, MAX, 0, F4, 0, cuda_layer_norm_prepare, cuda_layer_norm_run},
    {"SimplifiedLayerNormalization", "com.microsoft", 1, MAX, 0, F4, 0, cuda_layer_norm_prepare, cuda_layer_norm_run},
    {"SkipLayerNormalization", "com.microsoft", 1, MAX, 0, F4, 0, cuda_skip_norm_prepare, cuda_skip_norm_run},
    {"SkipSimplifiedLayerNormalization", "com.microsoft", 1, MAX, 0, F4, 0, cuda_skip_norm_prepare, cuda_skip_norm_run},
    {"ScaleAddSoftmax", "onyx", 1, MAX, 0, F4, 0, cuda_scale_add_softmax_prepare, cuda_scale_add_softmax_run},
    {"Attention", "onyx", 1, MAX, 0, ONYX_DT(FLOAT32) | ONYX_DT(FLOAT16) | ONYX_DT(BFLOAT16), 0, cuda_attention_prepare,
     cuda_attention_run},

    {"QuantizeLinear", "", 10, MAX, 0, ONYX_DT(FLOAT32) | ONYX_DT(INT32), 0, math_quantize_prepare, cuda_quantize_run},
    {"DequantizeLinear", "", 10, MAX, 0, BYTE_INTS | ONYX_DT(INT32), 0, math_dequantize_prepare, cuda_dequantize_run},
    {"DynamicQuantizeLinear", "", 11, MAX, 0, ONYX_DT(FLOAT32), 0, cuda_dynamic_quantize_prepare,
     cuda_dynamic_quantize_run},
    {0},
};
