/*
 * reduce.c - CPU reductions: ReduceSum/Mean/Max/Min/Prod/L1/L2/SumSquare/LogSum/LogSumExp,
 * ArgMax, ArgMin, CumSum, TopK, and GlobalAveragePool/GlobalMaxPool (reductions over the
 * spatial dims).
 *
 * Reduce*: the axes come from the 'axes' attribute before opset 18 (ReduceSum: before 13) and
 * from the optional second input after, where an empty list means "all axes" unless
 * noop_with_empty_axes=1 makes the op an identity. One plan (reduce_plan) splits the input into
 * kept and reduced dims with their strides; the run walks each output element's reduced
 * elements with an odometer (no allocation). A fast path covers the common case of reducing a
 * contiguous trailing block (the last axis, or all axes) of float32. Accumulation is in double;
 * the reduction of an empty set gives the identity (0 for sums, 1 for products, -inf/+inf or
 * the integer type's extreme for Max/Min, NaN for Mean of nothing).
 *
 * ArgMax/ArgMin, CumSum and TopK view the input as (outer, n, inner) around their axis.
 */
#include <float.h>
#include <math.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "core/alloc.h"
#include "providers/cpu/math_kernels.h"

typedef enum reduce_kind {
    REDUCE_SUM,
    REDUCE_MEAN,
    REDUCE_MAX,
    REDUCE_MIN,
    REDUCE_PROD,
    REDUCE_L1,
    REDUCE_L2,
    REDUCE_SUM_SQUARE,
    REDUCE_LOG_SUM,
    REDUCE_LOG_SUM_EXP
} reduce_kind;

static const struct {
    const char *op_type;
    reduce_kind kind;
    int axes_input_since; /* first opset where axes is an input */
} reduce_ops[] = {
    {"ReduceSum", REDUCE_SUM, 13},       {"ReduceMean", REDUCE_MEAN, 18},
    {"ReduceMax", REDUCE_MAX, 18},       {"ReduceMin", REDUCE_MIN, 18},
    {"ReduceProd", REDUCE_PROD, 18},     {"ReduceL1", REDUCE_L1, 18},
    {"ReduceL2", REDUCE_L2, 18},         {"ReduceSumSquare", REDUCE_SUM_SQUARE, 18},
    {"ReduceLogSum", REDUCE_LOG_SUM, 18}, {"ReduceLogSumExp", REDUCE_LOG_SUM_EXP, 18},
};

typedef struct reduce_plan {
    reduce_kind kind;
    int identity;                 /* noop_with_empty_axes with no axes: copy */
    int rank;
    int reduced[ONYX_MAX_RANK];   /* 1 for reduced axes */
    int out_rank;
    int64_t out_dims[ONYX_MAX_RANK];
    /* kept dims (outer to inner) and reduced dims with input strides */
    int n_kept, n_red;
    int64_t kept_dims[ONYX_MAX_RANK], kept_strides[ONYX_MAX_RANK];
    int64_t red_dims[ONYX_MAX_RANK], red_strides[ONYX_MAX_RANK];
    int64_t out_count, red_count;
    int trailing; /* the reduced axes are the last n_red axes: each output reduces a contiguous run */
} reduce_plan;

static onyx_status reduce_plan_build(const onyx_kernel_ctx *ctx, reduce_plan *p) {
    const onyx_node *node = ctx->node;
    memset(p, 0, sizeof *p);
    int axes_input_since = 18;
    int known = 0;
    for (size_t i = 0; i < sizeof reduce_ops / sizeof reduce_ops[0]; i++) {
        if (strcmp(node->op_type, reduce_ops[i].op_type) == 0) {
            p->kind = reduce_ops[i].kind;
            axes_input_since = reduce_ops[i].axes_input_since;
            known = 1;
        }
    }
    if (!known) return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "%s: not a reduction onyx knows", node->op_type);
    ONYX_TRY(onyx_kernel_require(ctx, 0));
    const onyx_tensor *x = ctx->inputs[0];
    int64_t axes[ONYX_MAX_RANK];
    int n_axes = 0;
    int noop = 0;
    if (node->opset >= axes_input_since) {
        noop = onyx_node_attr_int(node, "noop_with_empty_axes", 0) != 0;
        const onyx_tensor *axes_t = onyx_input(ctx, 1);
        if (axes_t) {
            if (axes_t->dtype != ONYX_DTYPE_INT64)
                return onyx_error(ONYX_ERR_INVALID_MODEL, "%s: input 1 (axes) must be int64, got %s", node->op_type,
                                  onyx_dtype_name(axes_t->dtype));
            ONYX_TRY(onyx_tensor_read_ints(axes_t, axes, ONYX_MAX_RANK, &n_axes, "input 1 (axes)"));
        }
    } else {
        size_t count = 0;
        const int64_t *attr = onyx_node_attr_ints(node, "axes", &count);
        if (count > ONYX_MAX_RANK)
            return onyx_error(ONYX_ERR_INVALID_MODEL, "%s: attribute axes has %zu entries for an input of rank %d",
                              node->op_type, count, x->rank);
        for (size_t i = 0; i < count; i++) axes[i] = attr[i];
        n_axes = (int)count;
    }
    int keepdims = onyx_node_attr_int(node, "keepdims", 1) != 0;
    p->rank = x->rank;
    if (n_axes == 0) {
        if (noop) p->identity = 1;
        for (int d = 0; d < x->rank; d++) p->reduced[d] = !noop;
    }
    for (int i = 0; i < n_axes; i++) {
        int a;
        ONYX_TRY(onyx_kernel_axis(ctx, axes[i], x->rank, "axes entry", &a));
        if (x->rank == 0) continue;
        if (p->reduced[a])
            return onyx_error(ONYX_ERR_INVALID_MODEL, "%s: axes lists axis %d twice", node->op_type, a);
        p->reduced[a] = 1;
    }
    int64_t strides[ONYX_MAX_RANK];
    onyx_contiguous_strides(x->dims, x->rank, strides);
    p->out_count = 1;
    p->red_count = 1;
    int last_kept = -1, first_red = x->rank;
    for (int d = 0; d < x->rank; d++) {
        if (p->reduced[d]) {
            if (keepdims) p->out_dims[p->out_rank++] = 1;
            p->red_dims[p->n_red] = x->dims[d];
            p->red_strides[p->n_red++] = strides[d];
            p->red_count *= x->dims[d];
            if (d < first_red) first_red = d;
        } else {
            p->out_dims[p->out_rank++] = x->dims[d];
            p->kept_dims[p->n_kept] = x->dims[d];
            p->kept_strides[p->n_kept++] = strides[d];
            p->out_count *= x->dims[d];
            last_kept = d;
        }
    }
    p->trailing = last_kept < first_red;
    return ONYX_OK;
}

onyx_status math_reduce_prepare(onyx_kernel_ctx *ctx) {
    reduce_plan p;
    ONYX_TRY(reduce_plan_build(ctx, &p));
    ctx->workspace_bytes = 0;
    return onyx_tensor_set_shape(ctx->outputs[0], ctx->inputs[0]->dtype, p.out_dims, p.out_rank, "reduction output");
}

/* The identity of Max/Min over an empty set: -inf/+inf for floats, the type's extremes for ints. */
static double reduce_extreme(onyx_dtype dt, int want_max) {
    if (onyx_dtype_is_float(dt)) return want_max ? -INFINITY : INFINITY;
    switch (dt) {
    case ONYX_DTYPE_INT8: return want_max ? INT8_MIN : INT8_MAX;
    case ONYX_DTYPE_UINT8: return want_max ? 0 : UINT8_MAX;
    case ONYX_DTYPE_INT16: return want_max ? INT16_MIN : INT16_MAX;
    case ONYX_DTYPE_UINT16: return want_max ? 0 : UINT16_MAX;
    case ONYX_DTYPE_INT32: return want_max ? INT32_MIN : INT32_MAX;
    case ONYX_DTYPE_UINT32: return want_max ? 0 : UINT32_MAX;
    case ONYX_DTYPE_INT64: return want_max ? (double)INT64_MIN : (double)INT64_MAX;
    default: return want_max ? 0 : (double)UINT64_MAX;
    }
}

/* Reduce the red_count elements of one output, starting at base. */
static double reduce_one(const reduce_plan *p, onyx_dtype dt, const void *data, int64_t base) {
    double max_shift = 0.0;
    if (p->kind == REDUCE_LOG_SUM_EXP) { /* subtract the max for stability */
        reduce_plan max_plan = *p;
        max_plan.kind = REDUCE_MAX;
        max_shift = p->red_count ? reduce_one(&max_plan, dt, data, base) : 0.0;
        if (isinf(max_shift)) max_shift = 0.0;
    }
    double acc;
    switch (p->kind) {
    case REDUCE_PROD: acc = 1.0; break;
    case REDUCE_MAX: acc = reduce_extreme(dt, 1); break;
    case REDUCE_MIN: acc = reduce_extreme(dt, 0); break;
    default: acc = 0.0; break;
    }
    int64_t coord[ONYX_MAX_RANK] = {0};
    int64_t offset = base;
    int last = p->n_red - 1;
    int64_t inner = p->n_red ? p->red_dims[last] : 1;
    int64_t inner_stride = p->n_red ? p->red_strides[last] : 0;
    if (p->red_count == 0) inner = 0;
    for (int64_t done = 0; done < p->red_count; done += inner) {
        for (int64_t i = 0; i < inner; i++) {
            double v = math_load(dt, data, offset + i * inner_stride);
            switch (p->kind) {
            case REDUCE_SUM: case REDUCE_MEAN: case REDUCE_LOG_SUM: acc += v; break;
            case REDUCE_MAX: if (v > acc || isnan(v)) acc = v; break;
            case REDUCE_MIN: if (v < acc || isnan(v)) acc = v; break;
            case REDUCE_PROD: acc *= v; break;
            case REDUCE_L1: acc += fabs(v); break;
            case REDUCE_L2: case REDUCE_SUM_SQUARE: acc += v * v; break;
            case REDUCE_LOG_SUM_EXP: acc += exp(v - max_shift); break;
            }
        }
        /* advance the odometer over the outer reduced dims */
        for (int d = last - 1; d >= 0; d--) {
            coord[d]++;
            offset += p->red_strides[d];
            if (coord[d] < p->red_dims[d]) break;
            offset -= coord[d] * p->red_strides[d];
            coord[d] = 0;
        }
    }
    switch (p->kind) {
    case REDUCE_MEAN: return acc / (double)p->red_count;
    case REDUCE_L2: return sqrt(acc);
    case REDUCE_LOG_SUM: return log(acc);
    case REDUCE_LOG_SUM_EXP: return log(acc) + max_shift;
    default: return acc;
    }
}

/* float32 rows: out[r] = reduction of in[r*cols .. r*cols+cols). */
static void reduce_rows_f32(reduce_kind kind, const float *in, float *out, int64_t rows, int64_t cols, int threads) {
#pragma omp parallel for num_threads(threads) if (rows * cols > (1 << 16))
    for (int64_t r = 0; r < rows; r++) {
        const float *row = in + r * cols;
        float result;
        if (kind == REDUCE_MAX || kind == REDUCE_MIN) {
            float m = kind == REDUCE_MAX ? -INFINITY : INFINITY;
            int saw_nan = 0;
            for (int64_t c = 0; c < cols; c++) {
                float v = row[c];
                saw_nan |= isnan(v);
                m = kind == REDUCE_MAX ? (v > m ? v : m) : (v < m ? v : m);
            }
            result = saw_nan ? NAN : m;
        } else {
            double sum = 0.0;
            if (kind == REDUCE_SUM_SQUARE || kind == REDUCE_L2) {
                for (int64_t c = 0; c < cols; c++) sum += (double)row[c] * row[c];
            } else {
                for (int64_t c = 0; c < cols; c++) sum += row[c];
            }
            result = (float)(kind == REDUCE_MEAN ? sum / (double)cols : kind == REDUCE_L2 ? sqrt(sum) : sum);
        }
        out[r] = result;
    }
}

onyx_status math_reduce_run(onyx_kernel_ctx *ctx) {
    reduce_plan p;
    ONYX_TRY(reduce_plan_build(ctx, &p));
    const onyx_tensor *x = ctx->inputs[0];
    onyx_tensor *y = ctx->outputs[0];
    onyx_dtype dt = x->dtype;
    if (p.identity) {
        memcpy(y->data, x->data, x->nbytes);
        return ONYX_OK;
    }
    int fast_kind = p.kind == REDUCE_SUM || p.kind == REDUCE_MEAN || p.kind == REDUCE_MAX || p.kind == REDUCE_MIN ||
                    p.kind == REDUCE_L2 || p.kind == REDUCE_SUM_SQUARE;
    if (dt == ONYX_DTYPE_FLOAT32 && p.trailing && fast_kind && p.red_count > 0) {
        reduce_rows_f32(p.kind, x->data, y->data, p.out_count, p.red_count, math_threads(ctx));
        return ONYX_OK;
    }
#pragma omp parallel for num_threads(math_threads(ctx)) if (p.out_count * (p.red_count ? p.red_count : 1) > (1 << 16))
    for (int64_t o = 0; o < p.out_count; o++) {
        int64_t base = 0, rest = o;
        for (int d = p.n_kept - 1; d >= 0; d--) {
            base += (rest % p.kept_dims[d]) * p.kept_strides[d];
            rest /= p.kept_dims[d];
        }
        math_store(dt, y->data, o, reduce_one(&p, dt, x->data, base));
    }
    return ONYX_OK;
}

/* ---- ArgMax / ArgMin (the op type picks the direction) ---- */

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

static onyx_status argmax_view(const onyx_kernel_ctx *ctx, axis_view *v) {
    ONYX_TRY(onyx_kernel_require(ctx, 0));
    const onyx_tensor *x = ctx->inputs[0];
    if (x->rank < 1)
        return onyx_error(ONYX_ERR_INVALID_MODEL, "%s: input 0 (data) is a scalar; rank >= 1 is needed",
                          ctx->node->op_type);
    int axis;
    ONYX_TRY(onyx_kernel_axis(ctx, onyx_node_attr_int(ctx->node, "axis", 0), x->rank, "attribute axis", &axis));
    axis_view_of(x, axis, v);
    return ONYX_OK;
}

onyx_status math_argmax_prepare(onyx_kernel_ctx *ctx) {
    axis_view v = {0};
    ONYX_TRY(argmax_view(ctx, &v));
    const onyx_tensor *x = ctx->inputs[0];
    if (v.n == 0)
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "%s: input 0 (data) has size 0 along axis %d",
                          ctx->node->op_type, v.axis);
    int keepdims = onyx_node_attr_int(ctx->node, "keepdims", 1) != 0;
    int64_t dims[ONYX_MAX_RANK];
    int rank = 0;
    for (int d = 0; d < x->rank; d++) {
        if (d == v.axis) {
            if (keepdims) dims[rank++] = 1;
        } else {
            dims[rank++] = x->dims[d];
        }
    }
    ctx->workspace_bytes = 0;
    return onyx_tensor_set_shape(ctx->outputs[0], ONYX_DTYPE_INT64, dims, rank, "ArgMax/ArgMin output");
}

onyx_status math_argmax_run(onyx_kernel_ctx *ctx) {
    axis_view v = {0};
    ONYX_TRY(argmax_view(ctx, &v));
    const onyx_tensor *x = ctx->inputs[0];
    int64_t *out = ctx->outputs[0]->data;
    int last = onyx_node_attr_int(ctx->node, "select_last_index", 0) != 0;
    onyx_dtype dt = x->dtype;
    int exact_ints = !onyx_dtype_is_float(dt); /* int64 beyond 2^53 compares exactly */
    int want_min = strcmp(ctx->node->op_type, "ArgMin") == 0;
#pragma omp parallel for num_threads(math_threads(ctx)) if (v.outer * v.n * v.inner > (1 << 16))
    for (int64_t o = 0; o < v.outer; o++) {
        for (int64_t i = 0; i < v.inner; i++) {
            int64_t base = o * v.n * v.inner + i;
            int64_t best_index = 0;
            if (exact_ints) {
                int64_t best = math_load_i64(dt, x->data, base);
                for (int64_t k = 1; k < v.n; k++) {
                    int64_t value = math_load_i64(dt, x->data, base + k * v.inner);
                    if ((want_min ? value < best : value > best) || (last && value == best)) {
                        best = value;
                        best_index = k;
                    }
                }
            } else {
                double best = math_load(dt, x->data, base);
                for (int64_t k = 1; k < v.n; k++) {
                    double value = math_load(dt, x->data, base + k * v.inner);
                    if ((want_min ? value < best : value > best) || (last && value == best)) {
                        best = value;
                        best_index = k;
                    }
                }
            }
            out[o * v.inner + i] = best_index;
        }
    }
    return ONYX_OK;
}

/* ---- CumSum ---- */

static onyx_status cumsum_view(const onyx_kernel_ctx *ctx, axis_view *v) {
    ONYX_TRY(onyx_kernel_require(ctx, 0));
    ONYX_TRY(onyx_kernel_require(ctx, 1));
    const onyx_tensor *x = ctx->inputs[0], *axis_t = ctx->inputs[1];
    int64_t axis_value[1];
    int count = 0;
    if (onyx_shape_numel(axis_t->dims, axis_t->rank) != 1)
        return onyx_error(ONYX_ERR_INVALID_MODEL, "CumSum: input 1 (axis) must hold one value");
    ONYX_TRY(onyx_tensor_read_ints(axis_t, axis_value, 1, &count, "CumSum input 1 (axis)"));
    if (x->rank < 1) return onyx_error(ONYX_ERR_INVALID_MODEL, "CumSum: input 0 (x) is a scalar; rank >= 1 is needed");
    int axis;
    ONYX_TRY(onyx_kernel_axis(ctx, axis_value[0], x->rank, "input 1 (axis)", &axis));
    axis_view_of(x, axis, v);
    return ONYX_OK;
}

onyx_status math_cumsum_prepare(onyx_kernel_ctx *ctx) {
    axis_view v = {0};
    ONYX_TRY(cumsum_view(ctx, &v));
    const onyx_tensor *x = ctx->inputs[0];
    ctx->workspace_bytes = 0;
    return onyx_tensor_set_shape(ctx->outputs[0], x->dtype, x->dims, x->rank, "CumSum output");
}

onyx_status math_cumsum_run(onyx_kernel_ctx *ctx) {
    axis_view v = {0};
    ONYX_TRY(cumsum_view(ctx, &v));
    const onyx_tensor *x = ctx->inputs[0];
    onyx_tensor *y = ctx->outputs[0];
    int exclusive = onyx_node_attr_int(ctx->node, "exclusive", 0) != 0;
    int reverse = onyx_node_attr_int(ctx->node, "reverse", 0) != 0;
    onyx_dtype dt = x->dtype;
    int is_float = onyx_dtype_is_float(dt);
    for (int64_t o = 0; o < v.outer; o++) {
        for (int64_t i = 0; i < v.inner; i++) {
            double sum_f = 0.0;
            int64_t sum_i = 0;
            for (int64_t step = 0; step < v.n; step++) {
                int64_t k = reverse ? v.n - 1 - step : step;
                int64_t at = (o * v.n + k) * v.inner + i;
                if (is_float) {
                    double value = math_load(dt, x->data, at);
                    if (!exclusive) sum_f += value;
                    math_store(dt, y->data, at, sum_f);
                    if (exclusive) sum_f += value;
                } else {
                    int64_t value = onyx_tensor_get_i64(x, at);
                    if (!exclusive) sum_i += value;
                    switch (dt) {
                    case ONYX_DTYPE_INT32: ((int32_t *)y->data)[at] = (int32_t)sum_i; break;
                    case ONYX_DTYPE_UINT32: ((uint32_t *)y->data)[at] = (uint32_t)sum_i; break;
                    case ONYX_DTYPE_UINT64: ((uint64_t *)y->data)[at] = (uint64_t)sum_i; break;
                    default: math_store(dt, y->data, at, (double)sum_i); break;
                    case ONYX_DTYPE_INT64: ((int64_t *)y->data)[at] = sum_i; break;
                    }
                    if (exclusive) sum_i += value;
                }
            }
        }
    }
    return ONYX_OK;
}

/* ---- TopK ---- */

typedef struct topk_item {
    double value;
    int64_t index;
} topk_item;

/* a ranks before b: larger (or smaller) value first, ties broken by the lower index. */
static inline int topk_before(const topk_item *a, const topk_item *b, int largest) {
    if (a->value != b->value) return largest ? a->value > b->value : a->value < b->value;
    return a->index < b->index;
}

/* Heap whose root is the item that ranks last, so it is the one a better candidate replaces. */
static void topk_sift_down(topk_item *heap, int64_t size, int64_t at, int largest) {
    for (;;) {
        int64_t worst = at, l = 2 * at + 1, r = l + 1;
        if (l < size && topk_before(&heap[worst], &heap[l], largest)) worst = l;
        if (r < size && topk_before(&heap[worst], &heap[r], largest)) worst = r;
        if (worst == at) return;
        topk_item t = heap[at];
        heap[at] = heap[worst];
        heap[worst] = t;
        at = worst;
    }
}

static void topk_sift_up(topk_item *heap, int64_t at, int largest) {
    while (at > 0) {
        int64_t parent = (at - 1) / 2;
        if (!topk_before(&heap[parent], &heap[at], largest)) return;
        topk_item t = heap[at];
        heap[at] = heap[parent];
        heap[parent] = t;
        at = parent;
    }
}

static onyx_status topk_view(const onyx_kernel_ctx *ctx, axis_view *v, int64_t *k) {
    ONYX_TRY(onyx_kernel_require(ctx, 0));
    const onyx_tensor *x = ctx->inputs[0];
    if (x->rank < 1) return onyx_error(ONYX_ERR_INVALID_MODEL, "TopK: input 0 (X) is a scalar; rank >= 1 is needed");
    int axis;
    ONYX_TRY(onyx_kernel_axis(ctx, onyx_node_attr_int(ctx->node, "axis", -1), x->rank, "attribute axis", &axis));
    axis_view_of(x, axis, v);
    if (ctx->node->opset >= 10) {
        ONYX_TRY(onyx_kernel_require(ctx, 1));
        int64_t values[1];
        int count = 0;
        if (onyx_shape_numel(ctx->inputs[1]->dims, ctx->inputs[1]->rank) != 1)
            return onyx_error(ONYX_ERR_INVALID_MODEL, "TopK: input 1 (K) must hold one value");
        ONYX_TRY(onyx_tensor_read_ints(ctx->inputs[1], values, 1, &count, "TopK input 1 (K)"));
        *k = values[0];
    } else {
        *k = onyx_node_attr_int(ctx->node, "k", -1);
    }
    if (*k < 0 || *k > v->n)
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "TopK: K is %lld but axis %d of input 0 (X) has size %lld",
                          (long long)*k, axis, (long long)v->n);
    return ONYX_OK;
}

onyx_status math_topk_prepare(onyx_kernel_ctx *ctx) {
    axis_view v = {0};
    int64_t k;
    ONYX_TRY(topk_view(ctx, &v, &k));
    const onyx_tensor *x = ctx->inputs[0];
    int64_t dims[ONYX_MAX_RANK];
    memcpy(dims, x->dims, sizeof(int64_t) * (size_t)x->rank);
    dims[v.axis] = k;
    ONYX_TRY(onyx_tensor_set_shape(ctx->outputs[0], x->dtype, dims, x->rank, "TopK output Values"));
    if (onyx_output(ctx, 1))
        ONYX_TRY(onyx_tensor_set_shape(ctx->outputs[1], ONYX_DTYPE_INT64, dims, x->rank, "TopK output Indices"));
    int slots = math_threads(ctx);
    ctx->workspace_bytes = (size_t)slots * (size_t)(k ? k : 1) * sizeof(topk_item);
    return ONYX_OK;
}

onyx_status math_topk_run(onyx_kernel_ctx *ctx) {
    axis_view v = {0};
    int64_t k;
    ONYX_TRY(topk_view(ctx, &v, &k));
    if (k == 0) return ONYX_OK;
    const onyx_tensor *x = ctx->inputs[0];
    onyx_tensor *values = ctx->outputs[0];
    onyx_tensor *indices = onyx_output(ctx, 1);
    int largest = ctx->node->opset >= 11 ? onyx_node_attr_int(ctx->node, "largest", 1) != 0 : 1;
    onyx_dtype dt = x->dtype;
    int slots = (int)(ctx->workspace_bytes / ((size_t)k * sizeof(topk_item)));
    if (slots < 1) return onyx_error(ONYX_ERR_RUNTIME, "TopK: internal: workspace too small");
    int64_t slices = v.outer * v.inner;
#pragma omp parallel for num_threads(slots) if (slices > 1 && slices * v.n > (1 << 15))
    for (int64_t s = 0; s < slices; s++) {
        int tid = 0;
#ifdef _OPENMP
        tid = omp_get_thread_num();
#endif
        topk_item *heap = (topk_item *)ctx->workspace + (int64_t)tid * k;
        int64_t o = s / v.inner, i = s % v.inner;
        int64_t base = o * v.n * v.inner + i;
        int64_t size = 0;
        for (int64_t j = 0; j < v.n; j++) {
            topk_item item = {math_load(dt, x->data, base + j * v.inner), j};
            if (size < k) {
                heap[size] = item;
                topk_sift_up(heap, size++, largest);
            } else if (topk_before(&item, &heap[0], largest)) {
                heap[0] = item;
                topk_sift_down(heap, size, 0, largest);
            }
        }
        /* pop the worst into the last free slot: the output is sorted best first */
        int64_t out_base = o * k * v.inner + i;
        for (int64_t r = k - 1; r >= 0; r--) {
            topk_item worst = heap[0];
            heap[0] = heap[--size];
            topk_sift_down(heap, size, 0, largest);
            math_store(dt, values->data, out_base + r * v.inner, worst.value);
            if (indices) ((int64_t *)indices->data)[out_base + r * v.inner] = worst.index;
        }
    }
    return ONYX_OK;
}

/* ---- GlobalAveragePool / GlobalMaxPool: X (N,C,S...) -> (N,C,1...) ---- */

onyx_status math_global_pool_prepare(onyx_kernel_ctx *ctx) {
    ONYX_TRY(onyx_kernel_require(ctx, 0));
    const onyx_tensor *x = ctx->inputs[0];
    char buf[128];
    if (x->rank < 2)
        return onyx_error(ONYX_ERR_INVALID_MODEL, "%s: input 0 (X) is %s; rank >= 2 (N,C,...) is needed",
                          ctx->node->op_type, onyx_shape_describe(x->dims, x->rank, buf, sizeof buf));
    int64_t dims[ONYX_MAX_RANK];
    for (int d = 0; d < x->rank; d++) dims[d] = d < 2 ? x->dims[d] : 1;
    ctx->workspace_bytes = 0;
    return onyx_tensor_set_shape(ctx->outputs[0], x->dtype, dims, x->rank, "global pool output");
}

onyx_status math_global_pool_run(onyx_kernel_ctx *ctx) {
    const onyx_tensor *x = ctx->inputs[0];
    onyx_dtype dt = x->dtype;
    int want_max = strcmp(ctx->node->op_type, "GlobalMaxPool") == 0;
    int64_t planes = x->dims[0] * x->dims[1], S = onyx_shape_numel(x->dims + 2, x->rank - 2);
    for (int64_t p = 0; p < planes; p++) {
        double acc = want_max ? -INFINITY : 0.0;
        for (int64_t i = 0; i < S; i++) {
            double v = math_load(dt, x->data, p * S + i);
            if (want_max) acc = (v > acc || isnan(v)) ? v : acc;
            else acc += v;
        }
        math_store(dt, ctx->outputs[0]->data, p, want_max ? acc : acc / (double)S);
    }
    return ONYX_OK;
}
