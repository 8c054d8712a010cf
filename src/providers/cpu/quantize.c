/*
 * quantize.c - CPU QuantizeLinear, DequantizeLinear and DynamicQuantizeLinear (linear 8-bit
 * quantization as ONNX defines it).
 *
 * QuantizeLinear: y = saturate(round_half_even(x / scale) + zero_point), computed in float32
 * like the reference, with uint8 output unless a zero point says int8. DequantizeLinear:
 * y = (x - zero_point) * scale in float32. Both take a per-tensor scale (one element) or, from
 * opset 13, a 1-D per-axis scale with one entry per slice of 'axis' (default 1); the input is
 * then read as (outer, channels, inner). DynamicQuantizeLinear picks a uint8 scale and zero point
 * that cover [min(0, min x), max(0, max x)].
 */
#include <math.h>
#include <string.h>

#include "providers/cpu/math_kernels.h"

typedef struct quant_params {
    int64_t channels; /* 1 for per-tensor */
    int64_t inner;    /* elements per channel run */
    int64_t total;
} quant_params;

/* Validates scale (input 1) and zero point (input 2) against x (input 0). */
static onyx_status quant_params_of(const onyx_kernel_ctx *ctx, const char *op, quant_params *q) {
    ONYX_TRY(onyx_kernel_require(ctx, 0));
    ONYX_TRY(onyx_kernel_require(ctx, 1));
    const onyx_tensor *x = ctx->inputs[0], *scale = ctx->inputs[1], *zp = onyx_input(ctx, 2);
    char xbuf[128], sbuf[128];
    if (scale->dtype != ONYX_DTYPE_FLOAT32)
        return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "%s: input 1 (scale) is %s; float32 is supported", op,
                          onyx_dtype_name(scale->dtype));
    int64_t scale_n = onyx_shape_numel(scale->dims, scale->rank);
    q->total = onyx_shape_numel(x->dims, x->rank);
    q->channels = 1;
    q->inner = q->total;
    if (scale->rank == 1 && scale_n != 1) {
        if (ctx->node->opset < 13)
            return onyx_error(ONYX_ERR_INVALID_MODEL, "%s: per-axis scale needs opset 13", op);
        int axis;
        ONYX_TRY(onyx_kernel_axis(ctx, onyx_node_attr_int(ctx->node, "axis", 1), x->rank, "attribute axis", &axis));
        if (x->rank == 0 || x->dims[axis] != scale_n)
            return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "%s: input 1 (scale) has shape %s but input 0 is %s along axis %d",
                              op, onyx_shape_describe(scale->dims, scale->rank, sbuf, sizeof sbuf),
                              onyx_shape_describe(x->dims, x->rank, xbuf, sizeof xbuf), axis);
        q->channels = scale_n;
        q->inner = onyx_shape_numel(x->dims + axis + 1, x->rank - axis - 1);
    } else if (scale_n != 1) {
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "%s: input 1 (scale) has shape %s; expected a scalar or a 1-D tensor",
                          op, onyx_shape_describe(scale->dims, scale->rank, sbuf, sizeof sbuf));
    }
    if (zp && onyx_shape_numel(zp->dims, zp->rank) != scale_n)
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "%s: input 2 (zero_point) has shape %s but scale has shape %s", op,
                          onyx_shape_describe(zp->dims, zp->rank, xbuf, sizeof xbuf),
                          onyx_shape_describe(scale->dims, scale->rank, sbuf, sizeof sbuf));
    return ONYX_OK;
}

static inline int64_t quant_channel(const quant_params *q, int64_t i) {
    return q->channels == 1 ? 0 : (i / q->inner) % q->channels;
}

static inline float quant_saturate(float value, onyx_dtype dt) {
    float lo = dt == ONYX_DTYPE_INT8 ? -128.0f : 0.0f, hi = dt == ONYX_DTYPE_INT8 ? 127.0f : 255.0f;
    if (isnan(value)) return 0.0f;
    return value < lo ? lo : value > hi ? hi : value;
}

onyx_status math_quantize_prepare(onyx_kernel_ctx *ctx) {
    quant_params q = {0};
    ONYX_TRY(quant_params_of(ctx, "QuantizeLinear", &q));
    const onyx_tensor *x = ctx->inputs[0], *zp = onyx_input(ctx, 2);
    onyx_dtype out = zp ? zp->dtype : ONYX_DTYPE_UINT8;
    if (out != ONYX_DTYPE_UINT8 && out != ONYX_DTYPE_INT8)
        return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "QuantizeLinear: input 2 (y_zero_point) is %s; uint8 and int8 are supported",
                          onyx_dtype_name(out));
    ctx->workspace_bytes = 0;
    return onyx_tensor_set_shape(ctx->outputs[0], out, x->dims, x->rank, "QuantizeLinear output y");
}

onyx_status math_quantize_run(onyx_kernel_ctx *ctx) {
    quant_params q = {0};
    ONYX_TRY(quant_params_of(ctx, "QuantizeLinear", &q));
    const onyx_tensor *x = ctx->inputs[0], *scale = ctx->inputs[1], *zp = onyx_input(ctx, 2);
    onyx_tensor *y = ctx->outputs[0];
    onyx_dtype out = y->dtype;
    const float *scales = scale->data;
#pragma omp parallel for num_threads(math_threads(ctx)) if (q.total > (1 << 16))
    for (int64_t i = 0; i < q.total; i++) {
        int64_t c = quant_channel(&q, i);
        float zero = zp ? (float)math_load(zp->dtype, zp->data, c) : 0.0f;
        float value = (float)math_load(x->dtype, x->data, i) / scales[c];
        float quantized = quant_saturate(rintf(value) + zero, out);
        if (out == ONYX_DTYPE_INT8) ((int8_t *)y->data)[i] = (int8_t)quantized;
        else ((uint8_t *)y->data)[i] = (uint8_t)quantized;
    }
    return ONYX_OK;
}

onyx_status math_dequantize_prepare(onyx_kernel_ctx *ctx) {
    quant_params q = {0};
    ONYX_TRY(quant_params_of(ctx, "DequantizeLinear", &q));
    const onyx_tensor *x = ctx->inputs[0], *zp = onyx_input(ctx, 2);
    if (zp && zp->dtype != x->dtype)
        return onyx_error(ONYX_ERR_INVALID_MODEL, "DequantizeLinear: input 2 (x_zero_point) is %s but input 0 (x) is %s",
                          onyx_dtype_name(zp->dtype), onyx_dtype_name(x->dtype));
    ctx->workspace_bytes = 0;
    return onyx_tensor_set_shape(ctx->outputs[0], ONYX_DTYPE_FLOAT32, x->dims, x->rank, "DequantizeLinear output y");
}

onyx_status math_dequantize_run(onyx_kernel_ctx *ctx) {
    quant_params q = {0};
    ONYX_TRY(quant_params_of(ctx, "DequantizeLinear", &q));
    const onyx_tensor *x = ctx->inputs[0], *scale = ctx->inputs[1], *zp = onyx_input(ctx, 2);
    float *y = ctx->outputs[0]->data;
    const float *scales = scale->data;
#pragma omp parallel for num_threads(math_threads(ctx)) if (q.total > (1 << 16))
    for (int64_t i = 0; i < q.total; i++) {
        int64_t c = quant_channel(&q, i);
        int64_t zero = zp ? onyx_tensor_get_i64(zp, c) : 0;
        y[i] = (float)(onyx_tensor_get_i64(x, i) - zero) * scales[c];
    }
    return ONYX_OK;
}

onyx_status math_dynamic_quantize_prepare(onyx_kernel_ctx *ctx) {
    ONYX_TRY(onyx_kernel_require(ctx, 0));
    ONYX_TRY(onyx_kernel_check_dtype(ctx, 0, ONYX_DT(FLOAT32)));
    const onyx_tensor *x = ctx->inputs[0];
    ONYX_TRY(onyx_tensor_set_shape(ctx->outputs[0], ONYX_DTYPE_UINT8, x->dims, x->rank, "DynamicQuantizeLinear output y"));
    if (onyx_output(ctx, 1))
        ONYX_TRY(onyx_tensor_set_shape(ctx->outputs[1], ONYX_DTYPE_FLOAT32, NULL, 0, "DynamicQuantizeLinear output y_scale"));
    if (onyx_output(ctx, 2))
        ONYX_TRY(onyx_tensor_set_shape(ctx->outputs[2], ONYX_DTYPE_UINT8, NULL, 0,
                                       "DynamicQuantizeLinear output y_zero_point"));
    ctx->workspace_bytes = 0;
    return ONYX_OK;
}

onyx_status math_dynamic_quantize_run(onyx_kernel_ctx *ctx) {
    const onyx_tensor *x = ctx->inputs[0];
    const float *X = x->data;
    uint8_t *Y = ctx->outputs[0]->data;
    int64_t n = onyx_shape_numel(x->dims, x->rank);
    float lo = 0.0f, hi = 0.0f; /* the range always includes 0 */
    for (int64_t i = 0; i < n; i++) {
        lo = X[i] < lo ? X[i] : lo;
        hi = X[i] > hi ? X[i] : hi;
    }
    float scale = (hi - lo) / 255.0f;
    float zero = scale == 0.0f ? 0.0f : quant_saturate(rintf(0.0f - lo / scale), ONYX_DTYPE_UINT8);
#pragma omp parallel for num_threads(math_threads(ctx)) if (n > (1 << 16))
    for (int64_t i = 0; i < n; i++)
        Y[i] = scale == 0.0f ? (uint8_t)zero : (uint8_t)quant_saturate(rintf(X[i] / scale) + zero, ONYX_DTYPE_UINT8);
    if (onyx_output(ctx, 1)) *(float *)ctx->outputs[1]->data = scale;
    if (onyx_output(ctx, 2)) *(uint8_t *)ctx->outputs[2]->data = (uint8_t)zero;
    return ONYX_OK;
}
