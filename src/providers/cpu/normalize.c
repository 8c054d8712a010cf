/*
 * normalize.c - CPU Softmax, LogSoftmax, Hardmax, LayerNormalization, Instance- and
 * BatchNormalization, MeanVarianceNormalization, LRN, and the two
 * classification losses built on log-probabilities (NegativeLogLikelihoodLoss,
 * SoftmaxCrossEntropyLoss).
 *
 * Softmax/LogSoftmax/Hardmax before opset 13 flatten the input to 2-D at 'axis' (default 1) and
 * normalise each row of prod(dims[axis:]) elements; from 13 they normalise along the single axis
 * 'axis' (default -1). Both become (outer, n, inner): rows of n elements spaced inner apart.
 * LayerNormalization (opset 17) normalises rows of prod(dims[axis:]) elements and optionally
 * writes each row's Mean and InvStdDev (shape dims[:axis] followed by ones, float32 because
 * stash_type is float32). The RMS norms, RMSNormalization (opset 23) and com.microsoft
 * SimplifiedLayerNormalization (T5's norm, fused by the graph optimiser), are the same rows
 * without the mean: y = x / sqrt(mean(x^2) + epsilon) * scale, no bias; Simplified's optional
 * second output is the InvStdDev.
 *
 * float32 rows with inner == 1 (the transformer case: the last axis) take a contiguous fast
 * path, OpenMP over rows; float16/bfloat16 rows are widened into a per-thread float32 row of the
 * workspace and take the same path (float32 accumulation). float64 and strided rows (Softmax
 * along a middle axis) compute in double through math_load/math_store.
 */
#include <math.h>
#include <string.h>

/* The selects of fast_math.h and the row maxima as vector blends (elementwise.c says why). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif
#ifdef _OPENMP
#include <omp.h>
#endif

#include "providers/cpu/fast_math.h"
#include "providers/cpu/math_kernels.h"

#define NORMALIZE_PARALLEL_MIN (1 << 14)

static inline int is_half(onyx_dtype dt) { return dt == ONYX_DTYPE_FLOAT16 || dt == ONYX_DTYPE_BFLOAT16; }

/* ---- Softmax / LogSoftmax ---- */

typedef struct softmax_view {
    int64_t outer, n, inner;
} softmax_view;

static onyx_status softmax_view_of(const onyx_kernel_ctx *ctx, softmax_view *v) {
    ONYX_TRY(onyx_kernel_require(ctx, 0));
    const onyx_tensor *x = ctx->inputs[0];
    int legacy = ctx->node->opset < 13;
    int rank = x->rank;
    int axis = 0;
    int64_t axis_attr = onyx_node_attr_int(ctx->node, "axis", legacy ? 1 : -1);
    if (rank == 0) {
        v->outer = v->n = v->inner = 1;
        return ONYX_OK;
    }
    if (legacy && axis_attr == rank) { /* flattening at rank: rows of one element */
        axis = rank;
    } else {
        ONYX_TRY(onyx_kernel_axis(ctx, axis_attr, rank, "attribute axis", &axis));
    }
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

onyx_status math_softmax_prepare(onyx_kernel_ctx *ctx) {
    softmax_view v = {0};
    ONYX_TRY(softmax_view_of(ctx, &v));
    const onyx_tensor *x = ctx->inputs[0];
    ctx->workspace_bytes = 0;
    if (is_half(x->dtype) && v.inner == 1) /* one float32 row per thread */
        ctx->workspace_bytes = (size_t)math_threads(ctx) * (size_t)(v.n ? v.n : 1) * sizeof(float);
    return onyx_tensor_set_shape(ctx->outputs[0], x->dtype, x->dims, x->rank, "softmax output");
}

/* Lanes of the partial maxima and sums below: written so the compiler vectorizes them (a
 * sequential float sum cannot be reordered into vectors). */
#define SOFTMAX_LANES 16

static float row_max_f32(const float *x, int64_t n) {
    float lane[SOFTMAX_LANES];
    for (int k = 0; k < SOFTMAX_LANES; k++) lane[k] = -INFINITY;
    int64_t c = 0;
    for (; c + SOFTMAX_LANES <= n; c += SOFTMAX_LANES)
        for (int k = 0; k < SOFTMAX_LANES; k++) lane[k] = x[c + k] > lane[k] ? x[c + k] : lane[k];
    float max = -INFINITY;
    for (int k = 0; k < SOFTMAX_LANES; k++) max = lane[k] > max ? lane[k] : max;
    for (; c < n; c++) max = x[c] > max ? x[c] : max;
    return max; /* NaNs are passed over, as a sequential x > max scan does */
}

static float row_sum_f32(const float *x, int64_t n) {
    float lane[SOFTMAX_LANES] = {0};
    int64_t c = 0;
    for (; c + SOFTMAX_LANES <= n; c += SOFTMAX_LANES)
        for (int k = 0; k < SOFTMAX_LANES; k++) lane[k] += x[c + k];
    float sum = 0.0f;
    for (int k = 0; k < SOFTMAX_LANES; k++) sum += lane[k];
    for (; c < n; c++) sum += x[c];
    return sum;
}

/* exp is fast_math.h's (within 1e-7 relative of libm's, vectorized). */
void math_softmax_row_f32(float *yr, const float *xr, int64_t cols, int log_output) {
    float max = row_max_f32(xr, cols);
    if (isinf(max) && max < 0) max = 0.0f; /* a row of -inf: exp gives 0s, sum 0, NaN like the reference */
    if (log_output) {
        float sum = 0.0f;
        for (int64_t c = 0; c < cols; c++) sum += onyx_cpu_expf(xr[c] - max);
        float shift = max + logf(sum);
        for (int64_t c = 0; c < cols; c++) yr[c] = xr[c] - shift;
    } else {
        for (int64_t c = 0; c < cols; c++) yr[c] = onyx_cpu_expf(xr[c] - max);
        float inv = 1.0f / row_sum_f32(yr, cols);
        for (int64_t c = 0; c < cols; c++) yr[c] *= inv;
    }
}

/* The slot of the calling thread in a per-thread workspace. */
static inline int thread_slot(void) {
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

onyx_status math_softmax_run(onyx_kernel_ctx *ctx) {
    softmax_view v = {0};
    ONYX_TRY(softmax_view_of(ctx, &v));
    const onyx_tensor *x = ctx->inputs[0];
    onyx_tensor *y = ctx->outputs[0];
    int log_output = strcmp(ctx->node->op_type, "LogSoftmax") == 0;
    onyx_dtype dt = x->dtype;
    const int64_t rows = v.outer, cols = v.n;
    if (dt == ONYX_DTYPE_FLOAT32 && v.inner == 1) {
        const float *X = x->data;
        float *Y = y->data;
#pragma omp parallel for num_threads(math_threads(ctx)) if (rows * cols > NORMALIZE_PARALLEL_MIN)
        for (int64_t r = 0; r < rows; r++) math_softmax_row_f32(Y + r * cols, X + r * cols, cols, log_output);
        return ONYX_OK;
    }
    if (is_half(dt) && v.inner == 1 && cols > 0) { /* widen a row, compute in float32, round back */
        int slots = (int)(ctx->workspace_bytes / ((size_t)cols * sizeof(float)));
        if (slots < 1) return onyx_error(ONYX_ERR_RUNTIME, "%s: internal: workspace too small", ctx->node->op_type);
#pragma omp parallel for num_threads(slots) if (rows * cols > NORMALIZE_PARALLEL_MIN)
        for (int64_t r = 0; r < rows; r++) {
            float *row = (float *)ctx->workspace + (int64_t)thread_slot() * cols;
            math_to_f32(dt, x->data, r * cols, cols, row);
            math_softmax_row_f32(row, row, cols, log_output);
            math_from_f32(dt, row, cols, y->data, r * cols);
        }
        return ONYX_OK;
    }
    int64_t slices = v.outer * v.inner;
#pragma omp parallel for num_threads(math_threads(ctx)) if (slices * v.n > NORMALIZE_PARALLEL_MIN)
    for (int64_t s = 0; s < slices; s++) {
        int64_t base = (s / v.inner) * v.n * v.inner + s % v.inner;
        double max = -INFINITY;
        for (int64_t k = 0; k < v.n; k++) {
            double value = math_load(dt, x->data, base + k * v.inner);
            max = value > max ? value : max;
        }
        if (isinf(max) && max < 0) max = 0.0;
        double sum = 0.0;
        for (int64_t k = 0; k < v.n; k++) sum += exp(math_load(dt, x->data, base + k * v.inner) - max);
        double log_sum = log(sum);
        for (int64_t k = 0; k < v.n; k++) {
            int64_t at = base + k * v.inner;
            double shifted = math_load(dt, x->data, at) - max;
            math_store(dt, y->data, at, log_output ? shifted - log_sum : exp(shifted) / sum);
        }
    }
    return ONYX_OK;
}

/* ---- Hardmax: 1 at the first maximum of each softmax row, 0 elsewhere ---- */

onyx_status math_hardmax_prepare(onyx_kernel_ctx *ctx) {
    softmax_view v = {0};
    ONYX_TRY(softmax_view_of(ctx, &v));
    const onyx_tensor *x = ctx->inputs[0];
    ctx->workspace_bytes = 0;
    return onyx_tensor_set_shape(ctx->outputs[0], x->dtype, x->dims, x->rank, "Hardmax output");
}

onyx_status math_hardmax_run(onyx_kernel_ctx *ctx) {
    softmax_view v = {0};
    ONYX_TRY(softmax_view_of(ctx, &v));
    const onyx_tensor *x = ctx->inputs[0];
    onyx_tensor *y = ctx->outputs[0];
    onyx_dtype dt = x->dtype;
    int64_t slices = v.outer * v.inner;
    for (int64_t s = 0; s < slices; s++) {
        int64_t base = (s / v.inner) * v.n * v.inner + s % v.inner;
        int64_t best_index = 0;
        double best = v.n ? math_load(dt, x->data, base) : 0.0;
        for (int64_t k = 1; k < v.n; k++) {
            double value = math_load(dt, x->data, base + k * v.inner);
            if (value > best) {
                best = value;
                best_index = k;
            }
        }
        for (int64_t k = 0; k < v.n; k++) math_store(dt, y->data, base + k * v.inner, k == best_index ? 1.0 : 0.0);
    }
    return ONYX_OK;
}

/* ---- LayerNormalization ---- */

typedef struct layer_norm_view {
    int axis;
    int rms; /* RMSNormalization / SimplifiedLayerNormalization: no mean, no bias */
    int64_t rows, cols;
    const onyx_tensor *bias;
    onyx_tensor *mean_out, *inv_std_out;
} layer_norm_view;

int math_norm_is_rms(const onyx_node *node) {
    return strcmp(node->op_type, "LayerNormalization") != 0 && strcmp(node->op_type, "SkipLayerNormalization") != 0;
}

static onyx_status layer_norm_view_of(const onyx_kernel_ctx *ctx, layer_norm_view *v) {
    ONYX_TRY(onyx_kernel_require(ctx, 0));
    ONYX_TRY(onyx_kernel_require(ctx, 1));
    const char *op = ctx->node->op_type;
    v->rms = math_norm_is_rms(ctx->node);
    v->bias = v->rms ? NULL : onyx_input(ctx, 2);
    v->mean_out = v->rms ? NULL : onyx_output(ctx, 1);
    v->inv_std_out = onyx_output(ctx, v->rms ? 1 : 2);
    const onyx_tensor *x = ctx->inputs[0], *scale = ctx->inputs[1], *bias = v->bias;
    if (x->rank < 1) return onyx_error(ONYX_ERR_INVALID_MODEL, "%s: input 0 (X) is a scalar; rank >= 1 is needed", op);
    ONYX_TRY(onyx_kernel_axis(ctx, onyx_node_attr_int(ctx->node, "axis", -1), x->rank, "attribute axis", &v->axis));
    v->rows = onyx_shape_numel(x->dims, v->axis);
    v->cols = onyx_shape_numel(x->dims + v->axis, x->rank - v->axis);
    char xbuf[128], sbuf[128];
    const onyx_tensor *params[2] = {scale, bias};
    static const char *names[2] = {"input 1 (Scale)", "input 2 (B)"};
    for (int i = 0; i < 2; i++) {
        const onyx_tensor *t = params[i];
        if (!t) continue;
        if (t->dtype != x->dtype)
            return onyx_error(ONYX_ERR_INVALID_MODEL, "%s: %s is %s but X is %s", op, names[i],
                              onyx_dtype_name(t->dtype), onyx_dtype_name(x->dtype));
        if (onyx_shape_numel(t->dims, t->rank) != v->cols)
            return onyx_error(ONYX_ERR_INVALID_ARGUMENT,
                              "%s: %s has shape %s but X is %s normalised from axis %d (%lld elements)", op,
                              names[i], onyx_shape_describe(t->dims, t->rank, sbuf, sizeof sbuf),
                              onyx_shape_describe(x->dims, x->rank, xbuf, sizeof xbuf), v->axis, (long long)v->cols);
    }
    return ONYX_OK;
}

onyx_status math_layer_norm_prepare(onyx_kernel_ctx *ctx) {
    layer_norm_view v = {0};
    ONYX_TRY(layer_norm_view_of(ctx, &v));
    const onyx_tensor *x = ctx->inputs[0];
    ONYX_TRY(onyx_tensor_set_shape(ctx->outputs[0], x->dtype, x->dims, x->rank, "normalization output Y"));
    int64_t stat_dims[ONYX_MAX_RANK];
    for (int d = 0; d < x->rank; d++) stat_dims[d] = d < v.axis ? x->dims[d] : 1;
    if (v.mean_out)
        ONYX_TRY(onyx_tensor_set_shape(v.mean_out, ONYX_DTYPE_FLOAT32, stat_dims, x->rank, "normalization output Mean"));
    if (v.inv_std_out)
        ONYX_TRY(onyx_tensor_set_shape(v.inv_std_out, ONYX_DTYPE_FLOAT32, stat_dims, x->rank,
                                       "normalization output InvStdDev"));
    ctx->workspace_bytes = 0;
    if (is_half(x->dtype)) /* float32 scale, bias, then one row per thread */
        ctx->workspace_bytes = (size_t)(2 + math_threads(ctx)) * (size_t)(v.cols ? v.cols : 1) * sizeof(float);
    return ONYX_OK;
}

/* yr (cols) = (xr - mean) / sqrt(var + epsilon) * scale + bias, float32 with double sums; yr may
 * be xr. mean and inv_std (may be NULL) receive the row's statistics. rms: mean taken as 0. */
static void layer_norm_row_f32(float *yr, const float *xr, const float *scale, const float *bias, int64_t cols,
                               double epsilon, int rms, float *mean_out, float *inv_std_out) {
    double sum = 0.0;
    if (!rms)
        for (int64_t c = 0; c < cols; c++) sum += xr[c];
    float mean = (float)(sum / (double)cols);
    double var_sum = 0.0;
    for (int64_t c = 0; c < cols; c++) {
        float d = xr[c] - mean;
        var_sum += (double)d * d;
    }
    float inv_std = (float)(1.0 / sqrt(var_sum / (double)cols + epsilon));
    if (bias) {
        for (int64_t c = 0; c < cols; c++) yr[c] = (xr[c] - mean) * inv_std * scale[c] + bias[c];
    } else {
        for (int64_t c = 0; c < cols; c++) yr[c] = (xr[c] - mean) * inv_std * scale[c];
    }
    if (mean_out) *mean_out = mean;
    if (inv_std_out) *inv_std_out = inv_std;
}

onyx_status math_layer_norm_run(onyx_kernel_ctx *ctx) {
    layer_norm_view v = {0};
    ONYX_TRY(layer_norm_view_of(ctx, &v));
    const onyx_tensor *x = ctx->inputs[0], *scale = ctx->inputs[1], *bias = v.bias;
    onyx_tensor *y = ctx->outputs[0];
    onyx_tensor *mean_out = v.mean_out, *inv_std_out = v.inv_std_out;
    const int rms = v.rms;
    float *mean_data = mean_out ? mean_out->data : NULL;
    float *inv_std_data = inv_std_out ? inv_std_out->data : NULL;
    double epsilon = onyx_node_attr_float(ctx->node, "epsilon", 1e-5f);
    onyx_dtype dt = x->dtype;
    const int64_t rows = v.rows, cols = v.cols;
    if (dt == ONYX_DTYPE_FLOAT32) {
        const float *X = x->data, *S = scale->data, *B = bias ? bias->data : NULL;
        float *Y = y->data;
#pragma omp parallel for num_threads(math_threads(ctx)) if (rows * cols > NORMALIZE_PARALLEL_MIN)
        for (int64_t r = 0; r < rows; r++)
            layer_norm_row_f32(Y + r * cols, X + r * cols, S, B, cols, epsilon, rms, mean_data ? mean_data + r : NULL,
                               inv_std_data ? inv_std_data + r : NULL);
        return ONYX_OK;
    }
    if (is_half(dt) && cols > 0) { /* widen scale, bias and each row; compute in float32 */
        int slots = (int)(ctx->workspace_bytes / ((size_t)cols * sizeof(float))) - 2;
        if (slots < 1) return onyx_error(ONYX_ERR_RUNTIME, "%s: internal: workspace too small", ctx->node->op_type);
        float *S = ctx->workspace, *B = bias ? S + cols : NULL, *rows_ws = S + 2 * cols;
        math_to_f32(dt, scale->data, 0, cols, S);
        if (B) math_to_f32(dt, bias->data, 0, cols, B);
#pragma omp parallel for num_threads(slots) if (rows * cols > NORMALIZE_PARALLEL_MIN)
        for (int64_t r = 0; r < rows; r++) {
            float *row = rows_ws + (int64_t)thread_slot() * cols;
            math_to_f32(dt, x->data, r * cols, cols, row);
            layer_norm_row_f32(row, row, S, B, cols, epsilon, rms, mean_data ? mean_data + r : NULL,
                               inv_std_data ? inv_std_data + r : NULL);
            math_from_f32(dt, row, cols, y->data, r * cols);
        }
        return ONYX_OK;
    }
#pragma omp parallel for num_threads(math_threads(ctx)) if (rows * cols > NORMALIZE_PARALLEL_MIN)
    for (int64_t r = 0; r < rows; r++) {
        int64_t base = r * cols;
        double sum = 0.0;
        if (!rms)
            for (int64_t c = 0; c < cols; c++) sum += math_load(dt, x->data, base + c);
        double mean = sum / (double)cols;
        double var_sum = 0.0;
        for (int64_t c = 0; c < cols; c++) {
            double d = math_load(dt, x->data, base + c) - mean;
            var_sum += d * d;
        }
        double inv_std = 1.0 / sqrt(var_sum / (double)cols + epsilon);
        for (int64_t c = 0; c < cols; c++) {
            double value = (math_load(dt, x->data, base + c) - mean) * inv_std * math_load(dt, scale->data, c);
            if (bias) value += math_load(dt, bias->data, c);
            math_store(dt, y->data, base + c, value);
        }
        if (mean_data) mean_data[r] = (float)mean;
        if (inv_std_data) inv_std_data[r] = (float)inv_std;
    }
    return ONYX_OK;
}

/* ---- InstanceNormalization and BatchNormalization: per-channel normalisation of (N,C,S...) ----
 * InstanceNormalization normalises each (n,c) plane with its own mean and variance.
 * BatchNormalization uses the given per-channel mean and var, or in training mode (opset 14+)
 * the batch's (over N and S), then also writes running_mean/var = input * momentum + batch *
 * (1 - momentum). Both: y = scale * (x - mean) / sqrt(var + epsilon) + B, in double. */

static onyx_status channel_norm_check(const onyx_kernel_ctx *ctx, int n_params, int64_t *N, int64_t *C, int64_t *S) {
    const char *op = ctx->node->op_type;
    for (int i = 0; i <= n_params; i++) ONYX_TRY(onyx_kernel_require(ctx, i));
    const onyx_tensor *x = ctx->inputs[0];
    char buf[128];
    if (x->rank < 2)
        return onyx_error(ONYX_ERR_INVALID_MODEL, "%s: input 0 (X) is %s; rank >= 2 (N,C,...) is needed", op,
                          onyx_shape_describe(x->dims, x->rank, buf, sizeof buf));
    *N = x->dims[0];
    *C = x->dims[1];
    *S = onyx_shape_numel(x->dims + 2, x->rank - 2);
    for (int i = 1; i <= n_params; i++) {
        const onyx_tensor *t = ctx->inputs[i];
        if (!onyx_dtype_is_float(t->dtype) || onyx_shape_numel(t->dims, t->rank) != *C)
            return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "%s: input %d is %s %s; expected %lld floats (one per channel)",
                              op, i, onyx_dtype_name(t->dtype), onyx_shape_describe(t->dims, t->rank, buf, sizeof buf),
                              (long long)*C);
    }
    return ONYX_OK;
}

static int batch_norm_training(const onyx_kernel_ctx *ctx) {
    return ctx->node->opset >= 14 && onyx_node_attr_int(ctx->node, "training_mode", 0) != 0;
}

onyx_status math_channel_norm_prepare(onyx_kernel_ctx *ctx) {
    int batch = strcmp(ctx->node->op_type, "BatchNormalization") == 0;
    int64_t N, C, S;
    ONYX_TRY(channel_norm_check(ctx, batch ? 4 : 2, &N, &C, &S));
    const onyx_tensor *x = ctx->inputs[0];
    ONYX_TRY(onyx_tensor_set_shape(ctx->outputs[0], x->dtype, x->dims, x->rank, "normalisation output Y"));
    for (int o = 1; batch && o < ctx->n_outputs; o++) /* running/saved mean and var: one per channel */
        if (ctx->outputs[o])
            ONYX_TRY(onyx_tensor_set_shape(ctx->outputs[o], ctx->inputs[o < 3 ? 2 + o : o - 2]->dtype, &C, 1,
                                           "BatchNormalization statistics output"));
    ctx->workspace_bytes = 0;
    return ONYX_OK;
}

onyx_status math_channel_norm_run(onyx_kernel_ctx *ctx) {
    int batch = strcmp(ctx->node->op_type, "BatchNormalization") == 0;
    int64_t N, C, S;
    ONYX_TRY(channel_norm_check(ctx, batch ? 4 : 2, &N, &C, &S));
    const onyx_tensor *x = ctx->inputs[0], *scale = ctx->inputs[1], *bias = ctx->inputs[2];
    onyx_tensor *y = ctx->outputs[0];
    onyx_dtype dt = x->dtype;
    double epsilon = onyx_node_attr_float(ctx->node, "epsilon", 1e-5f);
    double momentum = onyx_node_attr_float(ctx->node, "momentum", 0.9f);
    int training = batch && batch_norm_training(ctx);
    for (int64_t c = 0; c < C; c++) {
        double sc = onyx_tensor_get_f64(scale, c), b = onyx_tensor_get_f64(bias, c);
        if (batch) {
            double mean, var;
            if (training) {
                double sum = 0.0, sq = 0.0;
                for (int64_t n = 0; n < N; n++)
                    for (int64_t i = 0; i < S; i++) sum += math_load(dt, x->data, (n * C + c) * S + i);
                mean = sum / (double)(N * S);
                for (int64_t n = 0; n < N; n++)
                    for (int64_t i = 0; i < S; i++) {
                        double d = math_load(dt, x->data, (n * C + c) * S + i) - mean;
                        sq += d * d;
                    }
                var = sq / (double)(N * S);
            } else {
                mean = onyx_tensor_get_f64(ctx->inputs[3], c);
                var = onyx_tensor_get_f64(ctx->inputs[4], c);
            }
            double inv = 1.0 / sqrt(var + epsilon);
            for (int64_t n = 0; n < N; n++)
                for (int64_t i = 0; i < S; i++) {
                    int64_t at = (n * C + c) * S + i;
                    math_store(dt, y->data, at, (math_load(dt, x->data, at) - mean) * inv * sc + b);
                }
            double running_mean = onyx_tensor_get_f64(ctx->inputs[3], c), running_var = onyx_tensor_get_f64(ctx->inputs[4], c);
            if (training) {
                running_mean = running_mean * momentum + mean * (1.0 - momentum);
                running_var = running_var * momentum + var * (1.0 - momentum);
            }
            double stats[4] = {running_mean, running_var, mean, inv};
            for (int o = 1; o < ctx->n_outputs && o <= 4; o++)
                if (ctx->outputs[o]) math_store(ctx->outputs[o]->dtype, ctx->outputs[o]->data, c, stats[o - 1]);
        } else {
            for (int64_t n = 0; n < N; n++) {
                int64_t base = (n * C + c) * S;
                double sum = 0.0, sq = 0.0;
                for (int64_t i = 0; i < S; i++) sum += math_load(dt, x->data, base + i);
                double mean = sum / (double)S;
                for (int64_t i = 0; i < S; i++) {
                    double d = math_load(dt, x->data, base + i) - mean;
                    sq += d * d;
                }
                double inv = 1.0 / sqrt(sq / (double)S + epsilon);
                for (int64_t i = 0; i < S; i++)
                    math_store(dt, y->data, base + i, (math_load(dt, x->data, base + i) - mean) * inv * sc + b);
            }
        }
    }
    return ONYX_OK;
}

/* ---- MeanVarianceNormalization: y = (x - E[x]) / (sqrt(E[x^2] - E[x]^2) + 1e-9) over 'axes'
 * (default [0,2,3]), as the ONNX function body computes it. The workspace holds a sum and a sum
 * of squares per kept position. ---- */

static onyx_status mvn_plan(const onyx_kernel_ctx *ctx, int *reduced, int64_t *kept_count) {
    ONYX_TRY(onyx_kernel_require(ctx, 0));
    const onyx_tensor *x = ctx->inputs[0];
    static const int64_t default_axes[3] = {0, 2, 3};
    size_t count = 0;
    const int64_t *axes = onyx_node_attr_ints(ctx->node, "axes", &count);
    if (!axes) {
        axes = default_axes;
        count = 3;
    }
    memset(reduced, 0, sizeof(int) * ONYX_MAX_RANK);
    for (size_t i = 0; i < count; i++) {
        int a;
        ONYX_TRY(onyx_kernel_axis(ctx, axes[i], x->rank, "axes entry", &a));
        reduced[a] = 1;
    }
    *kept_count = 1;
    for (int d = 0; d < x->rank; d++)
        if (!reduced[d]) *kept_count *= x->dims[d];
    return ONYX_OK;
}

/* The flat kept position of element i of x (its coordinates on the kept axes, row-major). */
static inline int64_t mvn_kept_index(const onyx_tensor *x, const int *reduced, int64_t i) {
    int64_t index = 0, scale = 1;
    for (int d = x->rank - 1; d >= 0; d--) {
        int64_t coord = i % x->dims[d];
        i /= x->dims[d];
        if (!reduced[d]) {
            index += coord * scale;
            scale *= x->dims[d];
        }
    }
    return index;
}

onyx_status math_mvn_prepare(onyx_kernel_ctx *ctx) {
    int reduced[ONYX_MAX_RANK];
    int64_t kept;
    ONYX_TRY(mvn_plan(ctx, reduced, &kept));
    const onyx_tensor *x = ctx->inputs[0];
    ctx->workspace_bytes = (size_t)(kept ? kept : 1) * 2 * sizeof(double);
    return onyx_tensor_set_shape(ctx->outputs[0], x->dtype, x->dims, x->rank, "MeanVarianceNormalization output");
}

onyx_status math_mvn_run(onyx_kernel_ctx *ctx) {
    int reduced[ONYX_MAX_RANK];
    int64_t kept;
    ONYX_TRY(mvn_plan(ctx, reduced, &kept));
    const onyx_tensor *x = ctx->inputs[0];
    onyx_dtype dt = x->dtype;
    int64_t n = onyx_shape_numel(x->dims, x->rank), per = kept ? n / kept : 0;
    double *sum = ctx->workspace, *sum_sq = sum + kept;
    memset(sum, 0, (size_t)kept * 2 * sizeof(double));
    for (int64_t i = 0; i < n; i++) {
        double v = math_load(dt, x->data, i);
        int64_t k = mvn_kept_index(x, reduced, i);
        sum[k] += v;
        sum_sq[k] += v * v;
    }
    for (int64_t i = 0; i < n; i++) {
        int64_t k = mvn_kept_index(x, reduced, i);
        double mean = sum[k] / (double)per, var = sum_sq[k] / (double)per - mean * mean;
        math_store(dt, ctx->outputs[0]->data, i, (math_load(dt, x->data, i) - mean) / (sqrt(var > 0 ? var : 0) + 1e-9));
    }
    return ONYX_OK;
}

/* ---- LRN: y = x / (bias + alpha / size * sum of x^2 over nearby channels)^beta ---- */

onyx_status math_lrn_prepare(onyx_kernel_ctx *ctx) {
    int64_t N, C, S;
    ONYX_TRY(channel_norm_check(ctx, 0, &N, &C, &S));
    if (onyx_node_attr_int(ctx->node, "size", 0) < 1)
        return onyx_error(ONYX_ERR_INVALID_MODEL, "LRN: attribute size must be given and >= 1");
    const onyx_tensor *x = ctx->inputs[0];
    ctx->workspace_bytes = 0;
    return onyx_tensor_set_shape(ctx->outputs[0], x->dtype, x->dims, x->rank, "LRN output");
}

onyx_status math_lrn_run(onyx_kernel_ctx *ctx) {
    int64_t N, C, S;
    ONYX_TRY(channel_norm_check(ctx, 0, &N, &C, &S));
    const onyx_tensor *x = ctx->inputs[0];
    onyx_dtype dt = x->dtype;
    int64_t size = onyx_node_attr_int(ctx->node, "size", 1);
    double alpha = onyx_node_attr_float(ctx->node, "alpha", 1e-4f), beta = onyx_node_attr_float(ctx->node, "beta", 0.75f);
    double bias = onyx_node_attr_float(ctx->node, "bias", 1.0f);
    int64_t before = (size - 1) / 2, after = size / 2; /* floor and ceil of (size-1)/2 */
    for (int64_t n = 0; n < N; n++)
        for (int64_t c = 0; c < C; c++)
            for (int64_t i = 0; i < S; i++) {
                double square_sum = 0.0;
                for (int64_t k = c - before; k <= c + after; k++) {
                    if (k < 0 || k >= C) continue;
                    double v = math_load(dt, x->data, (n * C + k) * S + i);
                    square_sum += v * v;
                }
                int64_t at = (n * C + c) * S + i;
                math_store(dt, ctx->outputs[0]->data, at,
                           math_load(dt, x->data, at) / pow(bias + alpha / (double)size * square_sum, beta));
            }
    return ONYX_OK;
}

/* ---- NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss ----
 * input/scores is (N,C,d1..dk), target/labels is (N,d1..dk) int32/int64, weight is (C).
 * loss[n,d] = -weight[t] * logp[n,t,d] with t = target[n,d] (0 where t == ignore_index);
 * 'mean' divides the sum by the summed weights of the counted elements (by their number when
 * there are no weights), 'sum' sums, 'none' keeps target's shape. SoftmaxCrossEntropyLoss takes
 * logp = log_softmax(scores) along axis 1, written to its optional second output. Computed in
 * double; training losses are rare in inference graphs, so there is no fast path. */

typedef struct loss_view {
    int64_t N, C, D; /* D = product of d1..dk */
    int reduction;   /* 0 none, 1 sum, 2 mean */
    int has_ignore;
    int64_t ignore_index;
} loss_view;

static onyx_status loss_view_of(const onyx_kernel_ctx *ctx, loss_view *v) {
    const char *op = ctx->node->op_type;
    ONYX_TRY(onyx_kernel_require(ctx, 0));
    ONYX_TRY(onyx_kernel_require(ctx, 1));
    const onyx_tensor *x = ctx->inputs[0], *target = ctx->inputs[1], *weight = onyx_input(ctx, 2);
    char xbuf[128], tbuf[128];
    if (target->dtype != ONYX_DTYPE_INT32 && target->dtype != ONYX_DTYPE_INT64)
        return onyx_error(ONYX_ERR_INVALID_MODEL, "%s: input 1 (target) is %s; int32 or int64 expected", op,
                          onyx_dtype_name(target->dtype));
    int shape_ok = x->rank >= 2 && target->rank == x->rank - 1 && target->dims[0] == x->dims[0];
    for (int d = 2; shape_ok && d < x->rank; d++) shape_ok = target->dims[d - 1] == x->dims[d];
    if (!shape_ok)
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "%s: input 0 is %s and input 1 (target) is %s; expected (N,C,d...) and (N,d...)",
                          op, onyx_shape_describe(x->dims, x->rank, xbuf, sizeof xbuf),
                          onyx_shape_describe(target->dims, target->rank, tbuf, sizeof tbuf));
    v->N = x->dims[0];
    v->C = x->dims[1];
    v->D = onyx_shape_numel(x->dims + 2, x->rank - 2);
    if (weight && (weight->dtype != x->dtype || weight->rank != 1 || weight->dims[0] != v->C))
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "%s: input 2 (weight) is %s %s; expected %s [%lld]", op,
                          onyx_dtype_name(weight->dtype), onyx_shape_describe(weight->dims, weight->rank, tbuf, sizeof tbuf),
                          onyx_dtype_name(x->dtype), (long long)v->C);
    const char *reduction = onyx_node_attr_string(ctx->node, "reduction", "mean");
    if (strcmp(reduction, "none") == 0) v->reduction = 0;
    else if (strcmp(reduction, "sum") == 0) v->reduction = 1;
    else if (strcmp(reduction, "mean") == 0) v->reduction = 2;
    else return onyx_error(ONYX_ERR_INVALID_MODEL, "%s: attribute reduction is '%s'; none, sum or mean expected", op, reduction);
    v->has_ignore = onyx_node_attr(ctx->node, "ignore_index") != NULL;
    v->ignore_index = onyx_node_attr_int(ctx->node, "ignore_index", 0);
    return ONYX_OK;
}

onyx_status math_loss_prepare(onyx_kernel_ctx *ctx) {
    loss_view v = {0};
    ONYX_TRY(loss_view_of(ctx, &v));
    const onyx_tensor *x = ctx->inputs[0], *target = ctx->inputs[1];
    if (v.reduction == 0)
        ONYX_TRY(onyx_tensor_set_shape(ctx->outputs[0], x->dtype, target->dims, target->rank, "loss output"));
    else
        ONYX_TRY(onyx_tensor_set_shape(ctx->outputs[0], x->dtype, NULL, 0, "loss output"));
    if (onyx_output(ctx, 1))
        ONYX_TRY(onyx_tensor_set_shape(ctx->outputs[1], x->dtype, x->dims, x->rank, "log_prob output"));
    ctx->workspace_bytes = 0;
    return ONYX_OK;
}

onyx_status math_loss_run(onyx_kernel_ctx *ctx) {
    loss_view v = {0};
    ONYX_TRY(loss_view_of(ctx, &v));
    const onyx_tensor *x = ctx->inputs[0], *target = ctx->inputs[1], *weight = onyx_input(ctx, 2);
    onyx_tensor *loss = ctx->outputs[0], *log_prob = onyx_output(ctx, 1);
    onyx_dtype dt = x->dtype;
    int softmax_first = strcmp(ctx->node->op_type, "SoftmaxCrossEntropyLoss") == 0;
    if (log_prob && softmax_first) { /* log_softmax along C */
        for (int64_t n = 0; n < v.N; n++)
            for (int64_t d = 0; d < v.D; d++) {
                int64_t base = n * v.C * v.D + d;
                double max = -INFINITY, sum = 0.0;
                for (int64_t c = 0; c < v.C; c++) max = fmax(max, math_load(dt, x->data, base + c * v.D));
                for (int64_t c = 0; c < v.C; c++) sum += exp(math_load(dt, x->data, base + c * v.D) - max);
                for (int64_t c = 0; c < v.C; c++)
                    math_store(dt, log_prob->data, base + c * v.D, math_load(dt, x->data, base + c * v.D) - max - log(sum));
            }
    }
    double total = 0.0, weight_total = 0.0;
    for (int64_t n = 0; n < v.N; n++) {
        for (int64_t d = 0; d < v.D; d++) {
            int64_t t = onyx_tensor_get_i64(target, n * v.D + d);
            double value = 0.0, w = 0.0;
            if (!(v.has_ignore && t == v.ignore_index)) {
                if (t < 0 || t >= v.C)
                    return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "%s: target %lld at element %lld is outside [0, %lld)",
                                      ctx->node->op_type, (long long)t, (long long)(n * v.D + d), (long long)v.C);
                int64_t base = n * v.C * v.D + d;
                double logp;
                if (softmax_first) {
                    double max = -INFINITY, sum = 0.0;
                    for (int64_t c = 0; c < v.C; c++) max = fmax(max, math_load(dt, x->data, base + c * v.D));
                    for (int64_t c = 0; c < v.C; c++) sum += exp(math_load(dt, x->data, base + c * v.D) - max);
                    logp = math_load(dt, x->data, base + t * v.D) - max - log(sum);
                } else {
                    logp = math_load(dt, x->data, base + t * v.D);
                }
                w = weight ? math_load(dt, weight->data, t) : 1.0;
                value = -logp * w;
            }
            if (v.reduction == 0) math_store(dt, loss->data, n * v.D + d, value);
            total += value;
            weight_total += w;
        }
    }
    if (v.reduction == 1) math_store(dt, loss->data, 0, total);
    if (v.reduction == 2) math_store(dt, loss->data, 0, total / weight_total);
    return ONYX_OK;
}

/* ---- SkipLayerNormalization / SkipSimplifiedLayerNormalization (com.microsoft) ----
 * Inputs input, skip, gamma, beta (not Simplified), bias; outputs output, mean, inv_std_var,
 * input_skip_bias_sum. The last axis of sum = input + skip (+ bias) is normalised; the sum is
 * rounded to the dtype as an Add rounds it (made by the fusions from a residual Add and the
 * norm reading it). */

onyx_status math_skip_norm_view(const onyx_kernel_ctx *ctx, math_skip_norm *v) {
    memset(v, 0, sizeof *v);
    const char *op = ctx->node->op_type;
    for (int i = 0; i < 3; i++) ONYX_TRY(onyx_kernel_require(ctx, i));
    v->rms = math_norm_is_rms(ctx->node);
    v->input = ctx->inputs[0];
    v->skip = ctx->inputs[1];
    v->gamma = ctx->inputs[2];
    v->beta = v->rms ? NULL : onyx_input(ctx, 3);
    v->bias = onyx_input(ctx, v->rms ? 3 : 4);
    v->mean = onyx_output(ctx, 1);
    v->inv_std = onyx_output(ctx, 2);
    v->sum = onyx_output(ctx, 3);
    const onyx_tensor *x = v->input;
    if (x->rank < 1) return onyx_error(ONYX_ERR_INVALID_MODEL, "%s: input 0 (input) is a scalar; rank >= 1 is needed", op);
    if (v->skip->dtype != x->dtype || (v->bias && v->bias->dtype != x->dtype))
        return onyx_error(ONYX_ERR_INVALID_MODEL, "%s: skip and bias must have input's dtype %s", op,
                          onyx_dtype_name(x->dtype));
    if (onyx_broadcast_shape(x->dims, x->rank, v->skip->dims, v->skip->rank, v->dims, &v->rank) != 0) {
        char a[128], b[128];
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "%s: input %s and skip %s do not broadcast", op,
                          onyx_shape_describe(x->dims, x->rank, a, sizeof a),
                          onyx_shape_describe(v->skip->dims, v->skip->rank, b, sizeof b));
    }
    v->cols = v->dims[v->rank - 1];
    v->rows = onyx_shape_numel(v->dims, v->rank - 1);
    if (v->bias && (v->bias->rank != 1 || v->bias->dims[0] != v->cols))
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "%s: bias must be 1-D of the last dim (%lld)", op, (long long)v->cols);
    v->same_shape = x->rank == v->skip->rank && !memcmp(x->dims, v->skip->dims, (size_t)x->rank * sizeof *x->dims) &&
                    x->rank == v->rank && !memcmp(x->dims, v->dims, (size_t)x->rank * sizeof *x->dims);
    size_t elem = onyx_dtype_size(x->dtype);
    v->sum_bytes = ((size_t)(v->rows * v->cols) * elem + 255) / 256 * 256;
    return ONYX_OK;
}

onyx_status math_skip_norm_set_outputs(onyx_kernel_ctx *ctx, const math_skip_norm *v) {
    onyx_dtype dt = v->input->dtype;
    ONYX_TRY(onyx_tensor_set_shape(ctx->outputs[0], dt, v->dims, v->rank, "output 0 (output)"));
    int64_t stat_dims[ONYX_MAX_RANK];
    memcpy(stat_dims, v->dims, (size_t)v->rank * sizeof *stat_dims);
    stat_dims[v->rank - 1] = 1;
    if (v->mean) ONYX_TRY(onyx_tensor_set_shape(v->mean, ONYX_DTYPE_FLOAT32, stat_dims, v->rank, "output 1 (mean)"));
    if (v->inv_std)
        ONYX_TRY(onyx_tensor_set_shape(v->inv_std, ONYX_DTYPE_FLOAT32, stat_dims, v->rank, "output 2 (inv_std_var)"));
    if (v->sum) ONYX_TRY(onyx_tensor_set_shape(v->sum, dt, v->dims, v->rank, "output 3 (input_skip_bias_sum)"));
    return ONYX_OK;
}

/* The plain norm of sum (host or device, the kernel's provider) through a LayerNormalization-
 * shaped context: inputs sum, gamma (and beta), outputs output, (mean,) inv_std. */
onyx_kernel_ctx math_skip_norm_inner(const onyx_kernel_ctx *ctx, const math_skip_norm *v, const onyx_tensor *sum,
                                     const onyx_tensor **ins, onyx_tensor **outs) {
    ins[0] = sum;
    ins[1] = v->gamma;
    ins[2] = v->beta;
    outs[0] = ctx->outputs[0];
    outs[1] = v->rms ? v->inv_std : v->mean;
    outs[2] = v->rms ? NULL : v->inv_std;
    return onyx_kernel_sub_ctx(ctx, ctx->node, ins, v->rms ? 2 : 3, outs, v->rms ? 2 : 3);
}

onyx_status math_skip_norm_prepare(onyx_kernel_ctx *ctx) {
    math_skip_norm v;
    ONYX_TRY(math_skip_norm_view(ctx, &v));
    ONYX_TRY(math_skip_norm_set_outputs(ctx, &v));
    /* the sum (when output 3 is absent), then the plain norm's workspace */
    onyx_tensor sum;
    onyx_tensor_init(&sum);
    ONYX_TRY(onyx_tensor_set_shape(&sum, v.input->dtype, v.dims, v.rank, "the sum"));
    const onyx_tensor *ins[3];
    onyx_tensor *outs[3];
    onyx_kernel_ctx sub = math_skip_norm_inner(ctx, &v, &sum, ins, outs);
    onyx_tensor y = *ctx->outputs[0], m, s;
    if (outs[1]) m = *outs[1], outs[1] = &m;
    if (outs[2]) s = *outs[2], outs[2] = &s;
    outs[0] = &y;
    ONYX_TRY(math_layer_norm_prepare(&sub));
    ctx->workspace_bytes = (v.sum ? 0 : v.sum_bytes) + sub.workspace_bytes;
    return ONYX_OK;
}

onyx_status math_skip_norm_run(onyx_kernel_ctx *ctx) {
    math_skip_norm v;
    ONYX_TRY(math_skip_norm_view(ctx, &v));
    onyx_tensor sum;
    onyx_tensor_init(&sum);
    ONYX_TRY(onyx_tensor_set_shape(&sum, v.input->dtype, v.dims, v.rank, "the sum"));
    sum.device = v.input->device;
    sum.data = v.sum ? v.sum->data : ctx->workspace;
    onyx_dtype dt = v.input->dtype;
    int64_t n = v.rows * v.cols;
    if (dt == ONYX_DTYPE_FLOAT32 && v.same_shape) { /* float32: each row summed and normalised in one pass */
        const float *X = v.input->data, *K = v.skip->data, *B = v.bias ? v.bias->data : NULL;
        const float *G = v.gamma->data, *Be = v.beta ? v.beta->data : NULL;
        float *S = sum.data, *Y = ctx->outputs[0]->data;
        float *mean = v.mean ? v.mean->data : NULL, *inv_std = v.inv_std ? v.inv_std->data : NULL;
        double epsilon = onyx_node_attr_float(ctx->node, "epsilon", 1e-5f);
        const int64_t cols = v.cols;
#pragma omp parallel for num_threads(math_threads(ctx)) if (n > NORMALIZE_PARALLEL_MIN)
        for (int64_t r = 0; r < v.rows; r++) {
            float *sr = S + r * cols;
            for (int64_t c = 0; c < cols; c++) {
                float a = X[r * cols + c] + K[r * cols + c];
                sr[c] = B ? a + B[c] : a;
            }
            layer_norm_row_f32(Y + r * cols, sr, G, Be, cols, epsilon, v.rms, mean ? mean + r : NULL,
                               inv_std ? inv_std + r : NULL);
            if (v.rms && mean) mean[r] = 0.0f;
        }
        return ONYX_OK;
    }
    int64_t xs[ONYX_MAX_RANK], ks[ONYX_MAX_RANK];
    if (!v.same_shape) {
        onyx_broadcast_strides(v.input->dims, v.input->rank, v.dims, v.rank, xs);
        onyx_broadcast_strides(v.skip->dims, v.skip->rank, v.dims, v.rank, ks);
    }
    for (int64_t i = 0; i < n; i++) {
        int64_t xi = i, ki = i;
        if (!v.same_shape) {
            xi = ki = 0;
            for (int64_t d = v.rank - 1, rest = i; d >= 0; d--) {
                int64_t c = rest % v.dims[d];
                rest /= v.dims[d];
                xi += c * xs[d];
                ki += c * ks[d];
            }
        }
        if (dt == ONYX_DTYPE_FLOAT32) { /* the Add kernel's float sum (a broadcast skip) */
            float a = ((const float *)v.input->data)[xi] + ((const float *)v.skip->data)[ki];
            if (v.bias) a += ((const float *)v.bias->data)[i % v.cols];
            ((float *)sum.data)[i] = a;
        } else { /* exact in double for the narrower types, rounded once */
            double a = math_load(dt, v.input->data, xi) + math_load(dt, v.skip->data, ki);
            if (v.bias) a += math_load(dt, v.bias->data, i % v.cols);
            math_store(dt, sum.data, i, a);
        }
    }
    const onyx_tensor *ins[3];
    onyx_tensor *outs[3];
    onyx_kernel_ctx sub = math_skip_norm_inner(ctx, &v, &sum, ins, outs);
    size_t used = v.sum ? 0 : v.sum_bytes;
    sub.workspace = (char *)ctx->workspace + used;
    sub.workspace_bytes = ctx->workspace_bytes - used;
    ONYX_TRY(math_layer_norm_run(&sub));
    if (v.rms && v.mean) memset(v.mean->data, 0, v.mean->nbytes); /* an RMS norm's mean is 0 */
    return ONYX_OK;
}

/* ---- ScaleAddSoftmax (onyx): Softmax(X * scale + B) along the last axis, X and B broadcast
 * (fused from attention's scores: the scale Mul, the mask or position-bias Add, the Softmax).
 * Each step rounds to the dtype as the unfused Mul and Add do. ---- */

onyx_status math_scale_add_softmax_view(const onyx_kernel_ctx *ctx, math_scale_add_softmax *v) {
    memset(v, 0, sizeof *v);
    ONYX_TRY(onyx_kernel_require(ctx, 0));
    ONYX_TRY(onyx_kernel_require(ctx, 1));
    const onyx_tensor *x = ctx->inputs[0], *b = ctx->inputs[1];
    if (b->dtype != x->dtype)
        return onyx_error(ONYX_ERR_INVALID_MODEL, "ScaleAddSoftmax: input 1 (B) is %s but X is %s",
                          onyx_dtype_name(b->dtype), onyx_dtype_name(x->dtype));
    if (onyx_broadcast_shape(x->dims, x->rank, b->dims, b->rank, v->dims, &v->rank) != 0 || v->rank < 1) {
        char xs[128], bs[128];
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "ScaleAddSoftmax: X %s and B %s do not broadcast to rank >= 1",
                          onyx_shape_describe(x->dims, x->rank, xs, sizeof xs),
                          onyx_shape_describe(b->dims, b->rank, bs, sizeof bs));
    }
    v->scale = onyx_node_attr_float(ctx->node, "scale", 1.0f);
    v->n = v->dims[v->rank - 1];
    v->rows = onyx_shape_numel(v->dims, v->rank - 1);
    int64_t xs[ONYX_MAX_RANK], bs[ONYX_MAX_RANK];
    onyx_broadcast_strides(x->dims, x->rank, v->dims, v->rank, xs);
    onyx_broadcast_strides(b->dims, b->rank, v->dims, v->rank, bs);
    v->x_last = xs[v->rank - 1];
    v->b_last = bs[v->rank - 1];
    /* the leading dims, size-1 dims dropped and neighbours merged where both operands step evenly */
    for (int d = 0; d < v->rank - 1; d++) {
        if (v->dims[d] == 1) continue;
        int k = v->lead_rank - 1;
        if (k >= 0 && v->x_strides[k] == xs[d] * v->dims[d] && v->b_strides[k] == bs[d] * v->dims[d]) {
            v->lead_dims[k] *= v->dims[d];
            v->x_strides[k] = xs[d];
            v->b_strides[k] = bs[d];
            continue;
        }
        v->lead_dims[v->lead_rank] = v->dims[d];
        v->x_strides[v->lead_rank] = xs[d];
        v->b_strides[v->lead_rank] = bs[d];
        v->lead_rank++;
    }
    return ONYX_OK;
}

static const onyx_node softmax_13 = {.op_type = "Softmax", .domain = "", .opset = 13};

/* Offsets of row r's first elements in X and B. */
static void scale_add_softmax_offsets(const math_scale_add_softmax *v, int64_t r, int64_t *xo, int64_t *bo) {
    *xo = *bo = 0;
    for (int d = v->lead_rank - 1; d >= 0; d--) {
        int64_t i = r % v->lead_dims[d];
        r /= v->lead_dims[d];
        *xo += i * v->x_strides[d];
        *bo += i * v->b_strides[d];
    }
}

onyx_status math_scale_add_softmax_prepare(onyx_kernel_ctx *ctx) {
    math_scale_add_softmax v;
    ONYX_TRY(math_scale_add_softmax_view(ctx, &v));
    ONYX_TRY(onyx_tensor_set_shape(ctx->outputs[0], ctx->inputs[0]->dtype, v.dims, v.rank, "output 0 (Y)"));
    /* the softmax of the output in place: its workspace */
    const onyx_tensor *ins[1] = {ctx->outputs[0]};
    onyx_tensor y = *ctx->outputs[0];
    onyx_tensor *outs[1] = {&y};
    onyx_kernel_ctx sub = onyx_kernel_sub_ctx(ctx, &softmax_13, ins, 1, outs, 1);
    ONYX_TRY(math_softmax_prepare(&sub));
    ctx->workspace_bytes = sub.workspace_bytes;
    return ONYX_OK;
}

onyx_status math_scale_add_softmax_run(onyx_kernel_ctx *ctx) {
    math_scale_add_softmax v;
    ONYX_TRY(math_scale_add_softmax_view(ctx, &v));
    const onyx_tensor *x = ctx->inputs[0], *b = ctx->inputs[1];
    onyx_tensor *y = ctx->outputs[0];
    onyx_dtype dt = x->dtype;
    int use_scale = v.scale != 1.0f;
    if (dt == ONYX_DTYPE_FLOAT32) { /* each row scaled, added and normalised in one pass */
        const float *X = x->data, *Bd = b->data;
        float *Y = y->data;
#pragma omp parallel for num_threads(math_threads(ctx)) if (v.rows * v.n > NORMALIZE_PARALLEL_MIN)
        for (int64_t r = 0; r < v.rows; r++) {
            int64_t xo, bo;
            scale_add_softmax_offsets(&v, r, &xo, &bo);
            float *yr = Y + r * v.n;
            for (int64_t c = 0; c < v.n; c++) {
                float t = X[xo + c * v.x_last];
                if (use_scale) t *= v.scale;
                yr[c] = t + Bd[bo + c * v.b_last];
            }
            math_softmax_row_f32(yr, yr, v.n, 0);
        }
        return ONYX_OK;
    }
    for (int64_t r = 0; r < v.rows; r++) {
        int64_t xo, bo;
        scale_add_softmax_offsets(&v, r, &xo, &bo);
        for (int64_t c = 0; c < v.n; c++) {
            int64_t at = r * v.n + c;
            /* exact in double for the narrower types; rounded after each step as Mul and Add round */
            double t = math_load(dt, x->data, xo + c * v.x_last);
            if (use_scale) {
                math_store(dt, y->data, at, t * v.scale);
                t = math_load(dt, y->data, at);
            }
            math_store(dt, y->data, at, t + math_load(dt, b->data, bo + c * v.b_last));
        }
    }
    const onyx_tensor *ins[1] = {y};
    onyx_tensor *outs[1] = {y};
    onyx_kernel_ctx sub = onyx_kernel_sub_ctx(ctx, &softmax_13, ins, 1, outs, 1);
    sub.workspace = ctx->workspace;
    sub.workspace_bytes = ctx->workspace_bytes;
    return math_softmax_run(&sub);
}
