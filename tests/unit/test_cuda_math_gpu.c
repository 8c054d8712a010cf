/*
 * test_cuda_math_gpu.c - the CUDA math family (Reduce*, ArgMax/ArgMin, CumSum, TopK,
 * Softmax/LogSoftmax, LayerNormalization, onyx Attention, QuantizeLinear, DequantizeLinear,
 * DynamicQuantizeLinear) against the CPU kernels on seeded random inputs, through
 * cuda_op_case.h; also GlobalAverage/MaxPool, Hardmax, Instance- and BatchNormalization,
 * MeanVarianceNormalization.
 * Shapes cover every launcher path: rows handled by a warp, by a block, and
 * split over blocks; columns (a middle axis); the generic walk (non-adjacent axes); odd sizes
 * (1, 7, 33, 1000), zero sizes, rank 0; rows moved as 16-byte packets (Softmax, LayerNormalization)
 * and rows that are not; TopK's single-chunk, chunked-round and global-sort paths.
 * Exits 77 without a GPU.
 *
 * Tolerances: float32 computes in float32 on the GPU where the CPU often sums in double, so
 * results agree to about 1e-6 relative plus a small absolute term for sums that cancel;
 * float16/bfloat16 both compute in float32 and round once, so they differ by at most about one
 * unit in the last place; float64 tight; integers and indices exact.
 */
#include <math.h>
#include <stdint.h>

#include "cuda_op_case.h"
#ifdef ONYX_HAVE_CUDA
#include <cuda_runtime_api.h>

#include "providers/cuda/math_launch.h"
#endif

#define DIMS(...) (const int64_t[]){__VA_ARGS__}, (int)(sizeof((const int64_t[]){__VA_ARGS__}) / sizeof(int64_t))
#define AXES(...) DIMS(__VA_ARGS__)
#define NO_AXES NULL, -1

typedef struct tolerance {
    double atol, rtol;
} tolerance;

static tolerance tol_for(onyx_dtype dtype) {
    switch (dtype) {
    case ONYX_DTYPE_FLOAT16: return (tolerance){2e-3, 2e-3};
    case ONYX_DTYPE_BFLOAT16: return (tolerance){1.6e-2, 1.6e-2};
    case ONYX_DTYPE_FLOAT64: return (tolerance){1e-11, 1e-11};
    case ONYX_DTYPE_FLOAT32: return (tolerance){2e-5, 2e-5};
    default: return (tolerance){0, 0};
    }
}

static const onyx_dtype float_types[] = {ONYX_DTYPE_FLOAT32, ONYX_DTYPE_FLOAT16, ONYX_DTYPE_BFLOAT16,
                                         ONYX_DTYPE_FLOAT64};

static uint64_t positive_seed = 0x243F6A8885A308D3ull;

/* Input i with seeded random values in [0.25, 2] (integers in [1, 5]): for logs of sums, which
 * are ill-conditioned near zero. */
static void positive_input(opc_case *c, int i, onyx_dtype dtype, const int64_t *dims, int rank) {
    opc_input(c, i, dtype, dims, rank, NULL);
    onyx_tensor *t = &c->inputs[i];
    int64_t n = onyx_shape_numel(t->dims, t->rank);
    for (int64_t e = 0; e < n; e++) {
        positive_seed = positive_seed * 6364136223846793005ull + 1442695040888963407ull;
        double u = (double)(positive_seed >> 11) / 9007199254740992.0;
        double v = onyx_dtype_is_float(dtype) ? 0.25 + 1.75 * u : floor(1 + 5 * u > 5 ? 5 : 1 + 5 * u);
        switch (dtype) {
        case ONYX_DTYPE_FLOAT32: ((float *)t->data)[e] = (float)v; break;
        case ONYX_DTYPE_FLOAT64: ((double *)t->data)[e] = v; break;
        case ONYX_DTYPE_FLOAT16: ((uint16_t *)t->data)[e] = onyx_f32_to_f16((float)v); break;
        case ONYX_DTYPE_BFLOAT16: ((uint16_t *)t->data)[e] = onyx_f32_to_bf16((float)v); break;
        case ONYX_DTYPE_INT32: ((int32_t *)t->data)[e] = (int32_t)v; break;
        case ONYX_DTYPE_INT64: ((int64_t *)t->data)[e] = (int64_t)v; break;
        default: break;
        }
    }
}

/* ---- Reduce* ---- */

/* One reduction: axes as the attribute before axes_input_since, as host input 1 after;
 * n_axes < 0 gives no axes at all. */
static void reduce_case(const char *op, int opset, onyx_dtype dt, const int64_t *dims, int rank, const int64_t *axes,
                        int n_axes, int keepdims, int noop) {
    int axes_input_since = strcmp(op, "ReduceSum") == 0 ? 13 : 18;
    opc_case c;
    opc_init(&c, op, opset, 1);
    int positive = strcmp(op, "ReduceLogSum") == 0 || strcmp(op, "ReduceProd") == 0;
    if (positive) positive_input(&c, 0, dt, dims, rank);
    else opc_input(&c, 0, dt, dims, rank, NULL);
    if (keepdims >= 0) opc_attr_int(&c, "keepdims", keepdims);
    if (opset >= axes_input_since) {
        if (noop) opc_attr_int(&c, "noop_with_empty_axes", 1);
        if (n_axes >= 0) opc_input(&c, 1, ONYX_DTYPE_INT64, (int64_t[]){n_axes}, 1, axes);
    } else if (n_axes > 0) {
        opc_attr_ints(&c, "axes", axes, n_axes);
    }
    tolerance t = tol_for(dt);
    /* a product of n terms carries about n rounding errors */
    if (strcmp(op, "ReduceProd") == 0) t.rtol *= 8;
    opc_run(&c, t.atol, t.rtol);
}

static const char *reduce_ops[] = {"ReduceSum",       "ReduceMean",   "ReduceMax",      "ReduceMin",
                                   "ReduceProd",      "ReduceL1",     "ReduceL2",       "ReduceSumSquare",
                                   "ReduceLogSum",    "ReduceLogSumExp"};

static void test_reduce_shapes(void) {
    for (size_t o = 0; o < sizeof reduce_ops / sizeof reduce_ops[0]; o++) {
        const char *op = reduce_ops[o];
        for (size_t d = 0; d < sizeof float_types / sizeof float_types[0]; d++) {
            onyx_dtype dt = float_types[d];
            int opset = dt == ONYX_DTYPE_BFLOAT16 ? 13 : 11;
            reduce_case(op, opset, dt, DIMS(7, 33), AXES(1), 1, 0);            /* warp per row */
            reduce_case(op, opset, dt, DIMS(3, 1000), AXES(-1), 0, 0);         /* block per row */
            reduce_case(op, opset, dt, DIMS(4, 33, 5), AXES(1), 1, 0);         /* columns */
            reduce_case(op, opset, dt, DIMS(2, 3, 4, 5), AXES(0, 2), 0, 0);    /* generic */
            reduce_case(op, opset, dt, DIMS(2, 3, 4, 5), AXES(1, 3), 1, 0);
            reduce_case(op, opset, dt, DIMS(5, 7), NO_AXES, 1, 0);             /* all axes */
            reduce_case(op, opset, dt, DIMS(1, 7, 1), AXES(0, 2), 1, 0);       /* only size-1 axes */
        }
        reduce_case(op, 18, ONYX_DTYPE_FLOAT32, DIMS(6, 1, 33), AXES(1, 2), 0, 0); /* axes as input */
        reduce_case(op, 18, ONYX_DTYPE_FLOAT32, DIMS(2, 3, 4), AXES(0, 2), 1, 0);
        reduce_case(op, 18, ONYX_DTYPE_FLOAT32, DIMS(2, 3, 4), NULL, 0, 1, 0);      /* empty axes: all */
        reduce_case(op, 18, ONYX_DTYPE_FLOAT32, DIMS(2, 3, 4), NULL, 0, 1, 1);      /* noop: identity */
        reduce_case(op, 18, ONYX_DTYPE_FLOAT16, DIMS(2, 3, 4), NO_AXES, 0, 1);
        reduce_case(op, 11, ONYX_DTYPE_FLOAT32, NULL, 0, NO_AXES, 1, 0);            /* rank 0 */
        reduce_case(op, 11, ONYX_DTYPE_FLOAT32, DIMS(0, 3), AXES(1), 1, 0);         /* empty output */
        reduce_case(op, 11, ONYX_DTYPE_FLOAT32, DIMS(3, 0), AXES(1), 1, 0);         /* empty reductions */
        reduce_case(op, 11, ONYX_DTYPE_FLOAT32, DIMS(3, 0, 2), AXES(1), 0, 0);
    }
}

static void test_reduce_long_rows(void) {
    /* rows split over blocks, then finished per row */
    reduce_case("ReduceSum", 11, ONYX_DTYPE_FLOAT32, DIMS(70001), NO_AXES, 1, 0);
    reduce_case("ReduceMean", 11, ONYX_DTYPE_FLOAT32, DIMS(3, 100000), AXES(1), 1, 0);
    reduce_case("ReduceMax", 11, ONYX_DTYPE_FLOAT16, DIMS(2, 80000), AXES(1), 0, 0);
    reduce_case("ReduceLogSumExp", 11, ONYX_DTYPE_FLOAT32, DIMS(2, 90000), AXES(1), 1, 0);
    reduce_case("ReduceL2", 11, ONYX_DTYPE_FLOAT64, DIMS(100000), NO_AXES, 1, 0);
    reduce_case("ReduceSum", 11, ONYX_DTYPE_INT64, DIMS(2, 70000), AXES(1), 1, 0);
    reduce_case("ReduceSum", 11, ONYX_DTYPE_FLOAT32, DIMS(4, 20000, 3), AXES(1), 1, 0); /* long columns */
}

static void test_reduce_integers(void) {
    /* Integer products stay below 2^53 (20 factors of at most 5), where the CPU's double is
     * exact; the GPU multiplies in int64. */
    static const onyx_dtype ints[] = {ONYX_DTYPE_INT32, ONYX_DTYPE_INT64};
    for (size_t o = 0; o < sizeof reduce_ops / sizeof reduce_ops[0]; o++)
        for (int d = 0; d < 2; d++) {
            const char *op = reduce_ops[o];
            int64_t n = strcmp(op, "ReduceProd") == 0 ? 20 : 33;
            reduce_case(op, 13, ints[d], (int64_t[]){7, n}, 2, AXES(1), 1, 0);
            reduce_case(op, 13, ints[d], (int64_t[]){4, n, 5}, 3, AXES(1), 0, 0);
            reduce_case(op, 13, ints[d], DIMS(2, 3, 4, 5), AXES(0, 2), 1, 0);
            /* Min of nothing is INT64_MAX; the CPU converts it through double and gets INT64_MIN */
            if (!(ints[d] == ONYX_DTYPE_INT64 && strcmp(op, "ReduceMin") == 0))
                reduce_case(op, 13, ints[d], DIMS(3, 0), AXES(1), 1, 0);
        }
    static const onyx_dtype bytes[] = {ONYX_DTYPE_INT8, ONYX_DTYPE_UINT8};
    for (int d = 0; d < 2; d++) {
        reduce_case("ReduceMax", 13, bytes[d], DIMS(7, 1000), AXES(1), 1, 0);
        reduce_case("ReduceMin", 13, bytes[d], DIMS(4, 33, 5), AXES(1), 1, 0);
        reduce_case("ReduceMax", 18, bytes[d], DIMS(3, 0), AXES(1), 1, 0);
    }
}

/* ---- ArgMax / ArgMin ---- */

static void argmax_case(const char *op, int opset, onyx_dtype dt, const int64_t *dims, int rank, int axis,
                        int keepdims, int select_last) {
    opc_case c;
    opc_init(&c, op, opset, 1);
    opc_input(&c, 0, dt, dims, rank, NULL);
    opc_attr_int(&c, "axis", axis);
    opc_attr_int(&c, "keepdims", keepdims);
    if (select_last) opc_attr_int(&c, "select_last_index", 1);
    opc_run(&c, 0, 0);
}

static void test_argmax(void) {
    static const onyx_dtype types[] = {ONYX_DTYPE_FLOAT32, ONYX_DTYPE_FLOAT16, ONYX_DTYPE_BFLOAT16, ONYX_DTYPE_FLOAT64,
                                       ONYX_DTYPE_INT32,   ONYX_DTYPE_INT64,   ONYX_DTYPE_INT8,     ONYX_DTYPE_UINT8};
    const char *ops[] = {"ArgMax", "ArgMin"};
    for (int o = 0; o < 2; o++)
        for (size_t d = 0; d < sizeof types / sizeof types[0]; d++)
            for (int last = 0; last < 2; last++) {
                onyx_dtype dt = types[d];
                argmax_case(ops[o], 13, dt, DIMS(7, 33), -1, 1, last);     /* warp per row */
                argmax_case(ops[o], 13, dt, DIMS(3, 1000), 1, 0, last);    /* block per row */
                argmax_case(ops[o], 13, dt, DIMS(4, 33, 5), 1, 1, last);   /* columns */
                argmax_case(ops[o], 13, dt, DIMS(33, 7), 0, 0, last);
                argmax_case(ops[o], 13, dt, DIMS(1), 0, 1, last);
                argmax_case(ops[o], 13, dt, DIMS(0, 5), 1, 1, last);       /* empty output */
            }
    argmax_case("ArgMax", 11, ONYX_DTYPE_FLOAT32, DIMS(2, 3, 4), 1, 1, 0);
}

static void test_argmax_nan(void) {
    /* NaN is skipped unless it is the first element, as the CPU's scan does */
    float rows[3][5] = {{1, NAN, 3, 2, 3}, {NAN, 5, 6, 7, 1}, {NAN, NAN, NAN, NAN, NAN}};
    for (int last = 0; last < 2; last++) {
        opc_case c;
        opc_init(&c, "ArgMax", 13, 1);
        opc_input(&c, 0, ONYX_DTYPE_FLOAT32, DIMS(3, 5), rows);
        opc_attr_int(&c, "axis", 1);
        if (last) opc_attr_int(&c, "select_last_index", 1);
        opc_run(&c, 0, 0);
    }
}

/* ---- CumSum ---- */

static void cumsum_case(int opset, onyx_dtype dt, const int64_t *dims, int rank, int64_t axis, int exclusive,
                        int reverse) {
    opc_case c;
    opc_init(&c, "CumSum", opset, 1);
    opc_input(&c, 0, dt, dims, rank, NULL);
    opc_input(&c, 1, ONYX_DTYPE_INT64, NULL, 0, &axis);
    if (exclusive) opc_attr_int(&c, "exclusive", 1);
    if (reverse) opc_attr_int(&c, "reverse", 1);
    tolerance t = tol_for(dt);
    opc_run(&c, t.atol, t.rtol);
}

static void test_cumsum(void) {
    static const onyx_dtype types[] = {ONYX_DTYPE_FLOAT32, ONYX_DTYPE_FLOAT16, ONYX_DTYPE_BFLOAT16,
                                       ONYX_DTYPE_FLOAT64, ONYX_DTYPE_INT32,   ONYX_DTYPE_INT64};
    for (size_t d = 0; d < sizeof types / sizeof types[0]; d++)
        for (int mode = 0; mode < 4; mode++) {
            int exclusive = mode & 1, reverse = mode >> 1;
            onyx_dtype dt = types[d];
            cumsum_case(14, dt, DIMS(3, 1000), 1, exclusive, reverse);    /* block per row, tiles */
            cumsum_case(14, dt, DIMS(3, 1000), 0, exclusive, reverse);    /* short columns: a thread each */
            cumsum_case(14, dt, DIMS(5, 1024), 1, exclusive, reverse);    /* exactly one tile */
            cumsum_case(14, dt, DIMS(2, 2500), -1, exclusive, reverse);   /* several tiles, partial last */
            cumsum_case(14, dt, DIMS(4, 7), 1, exclusive, reverse);       /* short rows: a thread each */
            cumsum_case(14, dt, DIMS(4, 33, 5), 1, exclusive, reverse);   /* columns */
            cumsum_case(14, dt, DIMS(33, 7), 0, exclusive, reverse);
            cumsum_case(14, dt, DIMS(1), 0, exclusive, reverse);
            cumsum_case(14, dt, DIMS(0, 7), 1, exclusive, reverse);
        }
    cumsum_case(11, ONYX_DTYPE_INT64, DIMS(2, 128), 1, 0, 0); /* position ids from a mask */
}

/* ---- TopK ---- */

static void topk_case(int opset, onyx_dtype dt, const int64_t *dims, int rank, int axis, int64_t k, int largest) {
    opc_case c;
    opc_init(&c, "TopK", opset, 2);
    opc_input(&c, 0, dt, dims, rank, NULL);
    if (opset >= 10) opc_input(&c, 1, ONYX_DTYPE_INT64, DIMS(1), &k);
    else opc_attr_int(&c, "k", k);
    opc_attr_int(&c, "axis", axis);
    if (opset >= 11) opc_attr_int(&c, "largest", largest);
    opc_run(&c, 0, 0); /* values are copied from the input: exact */
}

static void test_topk(void) {
    static const onyx_dtype types[] = {ONYX_DTYPE_FLOAT32, ONYX_DTYPE_FLOAT16, ONYX_DTYPE_FLOAT64, ONYX_DTYPE_INT32,
                                       ONYX_DTYPE_INT64,   ONYX_DTYPE_INT8,    ONYX_DTYPE_UINT8};
    for (size_t d = 0; d < sizeof types / sizeof types[0]; d++)
        for (int largest = 0; largest < 2; largest++) {
            onyx_dtype dt = types[d];
            topk_case(11, dt, DIMS(7, 33), -1, 5, largest);
            topk_case(11, dt, DIMS(3, 1000), 1, 1000, largest);   /* a whole row */
            topk_case(11, dt, DIMS(4, 33, 5), 1, 7, largest);     /* strided slices */
            topk_case(11, dt, DIMS(2, 1), 1, 1, largest);
            topk_case(11, dt, DIMS(3, 7), 1, 0, largest);         /* k = 0 */
            topk_case(11, dt, DIMS(0, 7), 1, 3, largest);         /* no slices */
        }
    topk_case(11, ONYX_DTYPE_FLOAT32, DIMS(2, 50257), 1, 50, 1);  /* a vocabulary: chunked rounds */
    topk_case(11, ONYX_DTYPE_FLOAT16, DIMS(1, 50257), 1, 1000, 1);
    topk_case(11, ONYX_DTYPE_INT32, DIMS(3, 20000), 1, 7, 0);     /* many ties */
    topk_case(11, ONYX_DTYPE_FLOAT32, DIMS(2, 5000), 1, 2000, 1); /* global sort fallback */
    topk_case(11, ONYX_DTYPE_FLOAT32, DIMS(3, 5000, 2), 1, 1500, 0);
    topk_case(1, ONYX_DTYPE_FLOAT32, DIMS(4, 9), 1, 3, 1);        /* k as attribute */
    topk_case(10, ONYX_DTYPE_FLOAT32, DIMS(4, 9), -1, 4, 1);
}

/* ---- Softmax / LogSoftmax ---- */

static void softmax_case(const char *op, int opset, onyx_dtype dt, const int64_t *dims, int rank, int has_axis,
                         int64_t axis) {
    opc_case c;
    opc_init(&c, op, opset, 1);
    opc_input(&c, 0, dt, dims, rank, NULL);
    if (has_axis) opc_attr_int(&c, "axis", axis);
    tolerance t = tol_for(dt);
    opc_run(&c, t.atol, t.rtol);
}

static void test_softmax(void) {
    const char *ops[] = {"Softmax", "LogSoftmax"};
    for (int o = 0; o < 2; o++)
        for (size_t d = 0; d < sizeof float_types / sizeof float_types[0]; d++) {
            onyx_dtype dt = float_types[d];
            const char *op = ops[o];
            softmax_case(op, 13, dt, DIMS(2, 4, 7, 7), 0, 0);       /* warp rows, registers */
            softmax_case(op, 13, dt, DIMS(2, 3, 33), 1, -1);
            softmax_case(op, 13, dt, DIMS(5, 1), 1, -1);
            for (int64_t n = 60; n <= 1024; n *= 2) softmax_case(op, 13, dt, (int64_t[]){3, n + 3}, 2, 1, 1);
            softmax_case(op, 13, dt, DIMS(3, 1000), 1, -1);
            softmax_case(op, 13, dt, DIMS(2, 2, 128, 128), 1, -1); /* attention rows: 16-byte packets */
            softmax_case(op, 13, dt, DIMS(5, 8), 1, -1);
            softmax_case(op, 13, dt, DIMS(3, 64), 1, -1);
            softmax_case(op, 13, dt, DIMS(6, 256), 1, -1);
            softmax_case(op, 13, dt, DIMS(3, 1024), 1, -1);
            softmax_case(op, 13, dt, DIMS(3, 3000), 1, -1);         /* block rows, shared memory */
            softmax_case(op, 13, dt, DIMS(2, 20000), 1, -1);        /* block rows, re-read */
            softmax_case(op, 13, dt, DIMS(2, 33, 5), 1, 1);         /* columns */
            softmax_case(op, 13, dt, DIMS(33, 7), 1, 0);
            softmax_case(op, 13, dt, DIMS(0, 7), 1, -1);
            softmax_case(op, 13, dt, NULL, 0, 0, 0);                 /* rank 0 */
            if (dt == ONYX_DTYPE_BFLOAT16) continue;
            softmax_case(op, 11, dt, DIMS(2, 3, 4), 0, 0);          /* legacy: flatten at 1 */
            softmax_case(op, 11, dt, DIMS(2, 3, 4), 1, 0);
            softmax_case(op, 11, dt, DIMS(2, 3, 4), 1, 3);           /* rows of one */
            softmax_case(op, 11, dt, DIMS(2, 3, 500), 1, 1);
        }
}

static void test_softmax_masks(void) {
    /* attention masks: large negatives, and rows of -inf (NaN, like the reference) */
    float rows[4][9];
    for (int r = 0; r < 4; r++)
        for (int c = 0; c < 9; c++) rows[r][c] = (float)((r * 9 + c) % 5) * 0.5f - 1.0f;
    for (int c = 4; c < 9; c++) rows[1][c] = -1e9f;
    for (int c = 0; c < 9; c++) rows[2][c] = -INFINITY;
    rows[3][0] = -3.4028235e38f;
    const char *ops[] = {"Softmax", "LogSoftmax"};
    for (int o = 0; o < 2; o++) {
        opc_case c;
        opc_init(&c, ops[o], 13, 1);
        opc_input(&c, 0, ONYX_DTYPE_FLOAT32, DIMS(4, 9), rows);
        opc_run(&c, 1e-6, 1e-5);
    }
}

/* ---- LayerNormalization ---- */

/* has_bias < 0: the RMS norm (com.microsoft SimplifiedLayerNormalization, no bias; output 1 is
 * the InvStdDev). */
static void layer_norm_case(onyx_dtype dt, const int64_t *dims, int rank, int axis, int has_bias, int n_outputs) {
    opc_case c;
    if (has_bias < 0) {
        opc_init(&c, "SimplifiedLayerNormalization", 1, n_outputs > 2 ? 2 : n_outputs);
        c.node.domain = "com.microsoft";
    } else {
        opc_init(&c, "LayerNormalization", 17, n_outputs);
    }
    opc_input(&c, 0, dt, dims, rank, NULL);
    int a = axis < 0 ? axis + rank : axis;
    opc_input(&c, 1, dt, dims + a, rank - a, NULL);
    if (has_bias > 0) opc_input(&c, 2, dt, dims + a, rank - a, NULL);
    opc_attr_int(&c, "axis", axis);
    opc_attr_float(&c, "epsilon", 1e-5f);
    tolerance t = tol_for(dt);
    if (dt == ONYX_DTYPE_FLOAT32) t = (tolerance){5e-5, 5e-5}; /* y reaches ~10 with scale up to 2 */
    opc_run(&c, t.atol, t.rtol);
}

static void test_layer_norm(void) {
    for (size_t d = 0; d < sizeof float_types / sizeof float_types[0]; d++) {
        onyx_dtype dt = float_types[d];
        layer_norm_case(dt, DIMS(2, 7, 768), -1, 1, 3);  /* BERT: registers, four items a thread */
        layer_norm_case(dt, DIMS(5, 33), -1, 0, 1);       /* one item */
        layer_norm_case(dt, DIMS(3, 1), -1, 1, 3);
        layer_norm_case(dt, DIMS(4, 500), -1, 1, 3);      /* two items */
        layer_norm_case(dt, DIMS(2, 1000), 1, 1, 3);
        layer_norm_case(dt, DIMS(3, 2048), -1, 1, 1);     /* eight items */
        layer_norm_case(dt, DIMS(2, 4096), -1, 0, 3);     /* sixteen items */
        layer_norm_case(dt, DIMS(2, 9000), -1, 1, 3);    /* more than 256 threads */
        layer_norm_case(dt, DIMS(2, 9001), -1, 1, 3);    /* the same, element by element (not packets) */
        layer_norm_case(dt, DIMS(2, 16384), -1, 1, 3);   /* the register path's limit: 1024 threads */
        layer_norm_case(dt, DIMS(2, 16383), -1, 0, 3);   /* 1024 threads of sixteen single elements */
        layer_norm_case(dt, DIMS(2, 16385), -1, 1, 3);   /* just past it: long rows */
        layer_norm_case(dt, DIMS(3, 4100), -1, 1, 3);    /* 4-aligned, not 8-aligned: float16 unpacked */
        layer_norm_case(dt, DIMS(2, 20000), -1, 1, 3);    /* long rows */
        layer_norm_case(dt, DIMS(2, 3, 4, 5), 1, 1, 3);   /* normalise the last three dims */
        layer_norm_case(dt, DIMS(0, 16), -1, 1, 3);
        layer_norm_case(dt, DIMS(2, 7, 512), -1, -1, 2);  /* T5-small's RMS norm */
        layer_norm_case(dt, DIMS(3, 33), -1, -1, 1);
        layer_norm_case(dt, DIMS(2, 9001), -1, -1, 2);    /* element by element */
        layer_norm_case(dt, DIMS(2, 20000), -1, -1, 2);   /* long rows */
    }
}

/* ---- ScaleAddSoftmax ---- */

static void scale_add_softmax_case(onyx_dtype dt, const int64_t *xd, int xr, const int64_t *bd, int br, float scale) {
    opc_case c;
    opc_init(&c, "ScaleAddSoftmax", 1, 1);
    c.node.domain = "onyx";
    opc_input(&c, 0, dt, xd, xr, NULL);
    opc_input(&c, 1, dt, bd, br, NULL);
    if (scale != 1.0f) opc_attr_float(&c, "scale", scale);
    tolerance t = tol_for(dt);
    opc_run(&c, t.atol, t.rtol);
}

static void test_scale_add_softmax(void) {
    for (size_t d = 0; d < sizeof float_types / sizeof float_types[0]; d++) {
        onyx_dtype dt = float_types[d];
        scale_add_softmax_case(dt, DIMS(1, 12, 1, 129), DIMS(1, 1, 1, 129), 0.125f); /* a decode step's mask */
        scale_add_softmax_case(dt, DIMS(2, 8, 7, 7), DIMS(2, 1, 7, 7), 1.0f);        /* position bias, no scale */
        scale_add_softmax_case(dt, DIMS(2, 8, 7, 7), DIMS(2, 8, 7, 7), 0.5f);        /* full bias */
        scale_add_softmax_case(dt, DIMS(2, 4, 3, 1), DIMS(2, 4, 3, 1), 1.0f);        /* rows of one */
        scale_add_softmax_case(dt, DIMS(1, 2, 3, 2000), DIMS(1, 1, 1, 2000), 0.25f); /* past a warp's row */
        scale_add_softmax_case(dt, DIMS(1, 1, 3, 5), DIMS(2, 4, 3, 5), 2.0f);        /* x broadcast too */
        scale_add_softmax_case(dt, DIMS(2, 4, 3, 6), DIMS(2, 4, 3, 1), 1.0f);        /* bias along the row */
        scale_add_softmax_case(dt, DIMS(5, 300), DIMS(300), 0.125f);                 /* 1-D bias */
        scale_add_softmax_case(dt, DIMS(2, 13000), DIMS(13000), 0.5f);               /* rows past shared memory */
        /* rows of whole 16-byte packets: x and bias read in packets */
        scale_add_softmax_case(dt, DIMS(2, 12, 16, 128), DIMS(2, 1, 1, 128), 0.125f); /* an encoder's mask */
        scale_add_softmax_case(dt, DIMS(2, 4, 8, 64), DIMS(2, 4, 8, 64), 1.0f);       /* full bias */
        scale_add_softmax_case(dt, DIMS(3, 64), DIMS(64), 0.5f);                      /* 1-D bias */
        scale_add_softmax_case(dt, DIMS(1, 2, 3, 1024), DIMS(1, 1, 1, 1024), 0.25f);  /* a warp's longest row */
        scale_add_softmax_case(dt, DIMS(2, 3, 4, 16), DIMS(2, 1, 4, 1), 1.0f);        /* bias along the row: by element */
    }
}

/* ---- Attention (onyx) ---- */

/* Q (b, sq, h, d), K (kb, sk, h, d), V (kb, sk, h, dv), bias of bias_dims (rank 0: none). */
static void attention_case(onyx_dtype dt, int64_t b, int64_t sq, int64_t sk, int64_t h, int64_t d, int64_t dv,
                           int64_t kb, const int64_t *bias_dims, int bias_rank, float scale, const void *bias_data) {
    opc_case c;
    opc_init(&c, "Attention", 1, 1);
    c.node.domain = "onyx";
    opc_input(&c, 0, dt, DIMS(b, sq, h, d), NULL);
    opc_input(&c, 1, dt, DIMS(kb, sk, h, d), NULL);
    opc_input(&c, 2, dt, DIMS(kb, sk, h, dv), NULL);
    if (bias_rank > 0) opc_input(&c, 3, dt, bias_dims, bias_rank, bias_data);
    if (scale != 1.0f) opc_attr_float(&c, "scale", scale);
    /* float16 with head size 64: P (the softmax) is rounded to float16 for the tensor cores */
    tolerance t = tol_for(dt);
    if (dt == ONYX_DTYPE_FLOAT16) t = (tolerance){4e-3, 4e-3};
    if (dt == ONYX_DTYPE_FLOAT32) t = (tolerance){5e-5, 5e-5};
    opc_run(&c, t.atol, t.rtol);
}

/* A padding mask (b, 1, 1, sk): batch row r's last 7 * r keys masked with dtype's lowest finite
 * value, as transformers writes it. */
static void padding_mask(onyx_dtype dt, int64_t b, int64_t sk, void *out) {
    for (int64_t r = 0; r < b; r++)
        for (int64_t j = 0; j < sk; j++) {
            int masked = j >= sk - 7 * r;
            int64_t i = r * sk + j;
            if (dt == ONYX_DTYPE_FLOAT16) ((uint16_t *)out)[i] = masked ? 0xFBFFu : onyx_f32_to_f16(0.0f);
            else if (dt == ONYX_DTYPE_BFLOAT16) ((uint16_t *)out)[i] = masked ? 0xFF7Fu : onyx_f32_to_bf16(0.0f);
            else ((float *)out)[i] = masked ? -3.4028235e38f : 0.0f;
        }
}

static void test_attention(void) {
    static const onyx_dtype types[] = {ONYX_DTYPE_FLOAT32, ONYX_DTYPE_FLOAT16, ONYX_DTYPE_BFLOAT16};
    for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
        onyx_dtype dt = types[k];
        float mask[3 * 300];
        padding_mask(dt, 3, 128, mask);
        attention_case(dt, 3, 128, 128, 4, 64, 64, 3, DIMS(3, 1, 1, 128), 0.125f, mask); /* an encoder */
        attention_case(dt, 2, 77, 45, 3, 64, 64, 2, DIMS(2, 3, 77, 45), 0.125f, NULL);   /* partial tiles, full bias */
        attention_case(dt, 2, 65, 33, 2, 64, 64, 2, NULL, 0, 1.0f, NULL);                 /* no bias */
        attention_case(dt, 2, 20, 20, 8, 64, 64, 2, DIMS(1, 8, 20, 20), 1.0f, NULL);      /* T5's position bias */
        attention_case(dt, 3, 9, 300, 2, 64, 64, 1, DIMS(300), 0.125f, NULL);             /* K, V of batch 1; 1-D bias */
        padding_mask(dt, 2, 300, mask);
        attention_case(dt, 2, 1, 300, 2, 64, 64, 2, DIMS(2, 1, 1, 300), 0.125f, mask); /* one query row */
        attention_case(dt, 1, 5, 1000, 2, 64, 64, 1, DIMS(1, 1, 5, 1000), 0.125f, NULL); /* many key steps */
        attention_case(dt, 2, 17, 19, 3, 32, 32, 2, DIMS(2, 1, 1, 19), 0.25f, NULL);     /* head size 32 */
        attention_case(dt, 2, 70, 130, 2, 32, 32, 2, DIMS(2, 2, 70, 130), 0.5f, NULL);  /* head size 32, tiles */
        attention_case(dt, 2, 7, 11, 3, 12, 20, 2, DIMS(2, 3, 7, 11), 0.5f, NULL);       /* V's head size differs */
        attention_case(dt, 1, 3, 5, 1, 40, 256, 1, NULL, 0, 0.5f, NULL);                 /* V's widest head */
        attention_case(dt, 2, 4, 0, 3, 64, 64, 2, NULL, 0, 1.0f, NULL);                  /* no keys: zeros */
        attention_case(dt, 0, 4, 6, 3, 64, 64, 0, NULL, 0, 1.0f, NULL);                  /* empty batch */
    }
#ifdef ONYX_HAVE_CUDA
    /* which kernel the cases above ran: float16 of head size 64 the tensor-core one, float32 of
     * head size 64 and 32 the FFMA tiles, the rest by row */
    onyx_cuda_attention_shape s = {2, 3, 77, 45, 64, 64, {77 * 192, 192, 64}, {45 * 192, 192, 64},
                                   {45 * 192, 192, 64}, {77 * 192, 192, 64}, {0}, 0.125f};
    static uint4 aligned[2];
    const void *a16 = aligned, *off8 = (const char *)aligned + 8;
    ONYX_CHECK_INT(onyx_cuda_attention_kernel(ONYX_CUDA_DT_FLOAT16, 9, a16, a16, a16, a16, &s), ONYX_CUDA_ATTENTION_MMA);
    ONYX_CHECK_INT(onyx_cuda_attention_kernel(ONYX_CUDA_DT_FLOAT32, 9, a16, a16, a16, a16, &s),
                   ONYX_CUDA_ATTENTION_F32_TILES);
    ONYX_CHECK_INT(onyx_cuda_attention_kernel(ONYX_CUDA_DT_FLOAT32, 7, a16, a16, a16, a16, &s),
                   ONYX_CUDA_ATTENTION_F32_TILES);
    ONYX_CHECK_INT(onyx_cuda_attention_kernel(ONYX_CUDA_DT_FLOAT16, 7, a16, a16, a16, a16, &s), ONYX_CUDA_ATTENTION_ROWS);
    ONYX_CHECK_INT(onyx_cuda_attention_kernel(ONYX_CUDA_DT_BFLOAT16, 9, a16, a16, a16, a16, &s), ONYX_CUDA_ATTENTION_ROWS);
    ONYX_CHECK_INT(onyx_cuda_attention_kernel(ONYX_CUDA_DT_FLOAT32, 9, a16, off8, a16, a16, &s), ONYX_CUDA_ATTENTION_ROWS);
    s.k_strides[1] = 194; /* K rows not on 16 bytes */
    ONYX_CHECK_INT(onyx_cuda_attention_kernel(ONYX_CUDA_DT_FLOAT32, 9, a16, a16, a16, a16, &s), ONYX_CUDA_ATTENTION_ROWS);
    s.k_strides[1] = 192;
    s.head_dim = s.v_dim = 32;
    ONYX_CHECK_INT(onyx_cuda_attention_kernel(ONYX_CUDA_DT_FLOAT16, 9, a16, a16, a16, a16, &s), ONYX_CUDA_ATTENTION_ROWS);
    ONYX_CHECK_INT(onyx_cuda_attention_kernel(ONYX_CUDA_DT_FLOAT32, 9, a16, a16, a16, a16, &s),
                   ONYX_CUDA_ATTENTION_F32_TILES);
    s.v_dim = 64; /* V's head size differs */
    ONYX_CHECK_INT(onyx_cuda_attention_kernel(ONYX_CUDA_DT_FLOAT32, 9, a16, a16, a16, a16, &s), ONYX_CUDA_ATTENTION_ROWS);
#endif
}

/* ---- SkipLayerNormalization / SkipSimplifiedLayerNormalization ---- */

/* input (dims), skip (the last skip_rank dims of dims: a broadcast when shorter), gamma (and
 * beta), an optional bias; n_outputs 1 leaves the sum unwritten, 4 asks for all. */
static void skip_norm_case(onyx_dtype dt, const int64_t *dims, int rank, int skip_rank, int simplified, int bias,
                           int n_outputs) {
    opc_case c;
    opc_init(&c, simplified ? "SkipSimplifiedLayerNormalization" : "SkipLayerNormalization", 1, n_outputs);
    c.node.domain = "com.microsoft";
    opc_input(&c, 0, dt, dims, rank, NULL);
    opc_input(&c, 1, dt, dims + rank - skip_rank, skip_rank, NULL);
    opc_input(&c, 2, dt, dims + rank - 1, 1, NULL);
    int next = 3;
    if (!simplified) opc_input(&c, next++, dt, dims + rank - 1, 1, NULL);
    if (bias) opc_input(&c, next, dt, dims + rank - 1, 1, NULL);
    opc_attr_float(&c, "epsilon", 1e-5f);
    tolerance t = tol_for(dt);
    if (dt == ONYX_DTYPE_FLOAT32) t = (tolerance){5e-5, 5e-5};
    opc_run(&c, t.atol, t.rtol);
}

static void test_skip_norm(void) {
    for (size_t d = 0; d < sizeof float_types / sizeof float_types[0]; d++) {
        onyx_dtype dt = float_types[d];
        for (int simplified = 0; simplified < 2; simplified++) {
            skip_norm_case(dt, DIMS(2, 7, 768), 3, simplified, 0, 4);  /* fused, the sum written */
            skip_norm_case(dt, DIMS(2, 7, 768), 3, simplified, 0, 1);  /* fused, no sum */
            skip_norm_case(dt, DIMS(2, 7, 768), 3, simplified, 1, 4);  /* with a bias */
            skip_norm_case(dt, DIMS(1, 1, 1024), 3, simplified, 0, 4); /* a decode step */
            skip_norm_case(dt, DIMS(3, 33), 2, simplified, 0, 4);      /* unpacked */
            skip_norm_case(dt, DIMS(2, 7, 768), 2, simplified, 1, 4);  /* skip broadcast: Add, then the norm */
            skip_norm_case(dt, DIMS(2, 7, 768), 1, simplified, 0, 1);  /* the same, the sum in the workspace */
            skip_norm_case(dt, DIMS(2, 20000), 2, simplified, 0, 4);   /* long rows, fused */
            skip_norm_case(dt, DIMS(2, 20000), 2, simplified, 1, 1);   /* long rows without a sum output */
        }
    }
}

/* ---- GlobalAveragePool / GlobalMaxPool, Hardmax ---- */

static void test_global_pool(void) {
    const char *ops[] = {"GlobalAveragePool", "GlobalMaxPool"};
    static const onyx_dtype types[] = {ONYX_DTYPE_FLOAT32, ONYX_DTYPE_FLOAT16, ONYX_DTYPE_FLOAT64};
    for (int o = 0; o < 2; o++)
        for (int d = 0; d < 3; d++) {
            opc_case c;
            int64_t dims_list[5][4] = {{2, 3, 7, 7}, {1, 5, 33, 1}, {2, 4, 1, 1}, {1, 2, 300, 300}, {2, 0, 3, 1}};
            int ranks[5] = {4, 3, 2, 4, 3};
            for (int s = 0; s < 5; s++) {
                opc_init(&c, ops[o], 1, 1);
                opc_input(&c, 0, types[d], dims_list[s], ranks[s], NULL);
                tolerance t = tol_for(types[d]);
                opc_run(&c, t.atol, t.rtol);
            }
        }
}

static void test_hardmax(void) {
    for (size_t d = 0; d < sizeof float_types / sizeof float_types[0]; d++) {
        onyx_dtype dt = float_types[d];
        softmax_case("Hardmax", 13, dt, DIMS(7, 33), 1, -1);
        softmax_case("Hardmax", 13, dt, DIMS(3, 1000), 1, 1);
        softmax_case("Hardmax", 13, dt, DIMS(4, 33, 5), 1, 1);
        softmax_case("Hardmax", 13, dt, DIMS(0, 5), 1, 1);
        if (dt != ONYX_DTYPE_BFLOAT16) softmax_case("Hardmax", 11, dt, DIMS(2, 3, 4), 1, 1);
    }
}

/* ---- InstanceNormalization, BatchNormalization ---- */

/* Per-channel variances must be positive: |random| + 0.5. */
static void variance_input(opc_case *c, int i, onyx_dtype dt, int64_t channels) {
    positive_input(c, i, dt, &channels, 1);
}

static void instance_norm_case(onyx_dtype dt, const int64_t *dims, int rank) {
    opc_case c;
    opc_init(&c, "InstanceNormalization", 6, 1);
    opc_input(&c, 0, dt, dims, rank, NULL);
    opc_input(&c, 1, dt, &dims[1], 1, NULL);
    opc_input(&c, 2, dt, &dims[1], 1, NULL);
    opc_attr_float(&c, "epsilon", 1e-5f);
    tolerance t = tol_for(dt);
    if (dt == ONYX_DTYPE_FLOAT32) t = (tolerance){5e-5, 5e-5};
    opc_run(&c, t.atol, t.rtol);
}

static void batch_norm_case(int opset, onyx_dtype dt, onyx_dtype param_dt, const int64_t *dims, int rank,
                            int training, int n_outputs) {
    opc_case c;
    opc_init(&c, "BatchNormalization", opset, n_outputs);
    opc_input(&c, 0, dt, dims, rank, NULL);
    opc_input(&c, 1, param_dt, &dims[1], 1, NULL);
    opc_input(&c, 2, param_dt, &dims[1], 1, NULL);
    opc_input(&c, 3, param_dt, &dims[1], 1, NULL);
    variance_input(&c, 4, param_dt, dims[1]);
    if (training) opc_attr_int(&c, "training_mode", 1);
    opc_attr_float(&c, "momentum", 0.8f);
    tolerance t = tol_for(dt), tp = tol_for(param_dt);
    if (tp.atol > t.atol) t = tp;
    if (dt == ONYX_DTYPE_FLOAT32) t = (tolerance){5e-5, 5e-5};
    opc_run(&c, t.atol, t.rtol);
}

static void test_channel_norm(void) {
    static const onyx_dtype types[] = {ONYX_DTYPE_FLOAT32, ONYX_DTYPE_FLOAT16, ONYX_DTYPE_FLOAT64};
    for (int d = 0; d < 3; d++) {
        onyx_dtype dt = types[d];
        instance_norm_case(dt, DIMS(2, 3, 7, 7));
        instance_norm_case(dt, DIMS(1, 5, 1000));
        instance_norm_case(dt, DIMS(3, 4, 1));
        instance_norm_case(dt, DIMS(2, 3));
        instance_norm_case(dt, DIMS(0, 3, 5));
        batch_norm_case(9, dt, dt, DIMS(2, 3, 7, 7), 0, 1);
        batch_norm_case(9, dt, dt, DIMS(5, 33), 0, 1);
        batch_norm_case(9, dt, dt, DIMS(2, 4, 33), 0, 5); /* the stats outputs of opset < 14 */
        batch_norm_case(15, dt, dt, DIMS(2, 3, 7, 7), 0, 1);
        batch_norm_case(15, dt, dt, DIMS(2, 3, 7, 7), 1, 3); /* training: batch statistics */
        batch_norm_case(15, dt, dt, DIMS(0, 3, 5), 0, 1);
    }
    batch_norm_case(15, ONYX_DTYPE_BFLOAT16, ONYX_DTYPE_FLOAT32, DIMS(2, 3, 33), 0, 1); /* mixed dtypes */
    batch_norm_case(15, ONYX_DTYPE_FLOAT16, ONYX_DTYPE_FLOAT32, DIMS(2, 3, 33), 1, 3);
}

static void mvn_case(int opset, onyx_dtype dt, const int64_t *dims, int rank, const int64_t *axes, int n_axes) {
    opc_case c;
    opc_init(&c, "MeanVarianceNormalization", opset, 1);
    opc_input(&c, 0, dt, dims, rank, NULL);
    if (axes) opc_attr_ints(&c, "axes", axes, n_axes);
    tolerance t = tol_for(dt);
    if (dt == ONYX_DTYPE_FLOAT32) t = (tolerance){5e-5, 5e-5};
    opc_run(&c, t.atol, t.rtol);
}

static void test_mvn(void) {
    for (size_t d = 0; d < sizeof float_types / sizeof float_types[0]; d++) {
        onyx_dtype dt = float_types[d];
        int opset = dt == ONYX_DTYPE_BFLOAT16 ? 13 : 9;
        mvn_case(opset, dt, DIMS(2, 3, 7, 5), NULL, 0); /* default axes [0,2,3] */
        mvn_case(opset, dt, DIMS(3, 33), AXES(1));
        mvn_case(opset, dt, DIMS(4, 33, 5), AXES(1));
        mvn_case(opset, dt, DIMS(2, 3, 4, 5), AXES(1, 3));
        mvn_case(opset, dt, DIMS(1, 1, 7, 1), NULL, 0);
        mvn_case(opset, dt, DIMS(2, 0, 3, 3), NULL, 0);
    }
}

/* ---- quantization ---- */

static void test_quantize(void) {
    float scale = 0.05f, scales[5] = {0.01f, 0.02f, 0.05f, 0.1f, 1.0f};
    uint8_t zp_u8 = 128;
    int8_t zp_i8 = -3, zps_i8[5] = {0, -1, 2, 10, -128};
    for (int opset = 10; opset <= 13; opset += 3) {
        opc_case c;
        opc_init(&c, "QuantizeLinear", opset, 1); /* per tensor, uint8 */
        opc_input(&c, 0, ONYX_DTYPE_FLOAT32, DIMS(7, 33), NULL);
        opc_input(&c, 1, ONYX_DTYPE_FLOAT32, NULL, 0, &scale);
        opc_input(&c, 2, ONYX_DTYPE_UINT8, NULL, 0, &zp_u8);
        opc_run(&c, 0, 0);
        opc_init(&c, "QuantizeLinear", opset, 1); /* no zero point: uint8 */
        opc_input(&c, 0, ONYX_DTYPE_FLOAT32, DIMS(1000), NULL);
        opc_input(&c, 1, ONYX_DTYPE_FLOAT32, NULL, 0, &scale);
        opc_run(&c, 0, 0);
        opc_init(&c, "QuantizeLinear", opset, 1); /* int8, saturating */
        opc_input(&c, 0, ONYX_DTYPE_FLOAT32, DIMS(3, 33), NULL);
        opc_input(&c, 1, ONYX_DTYPE_FLOAT32, DIMS(1), &scale);
        opc_input(&c, 2, ONYX_DTYPE_INT8, DIMS(1), &zp_i8);
        opc_run(&c, 0, 0);
        opc_init(&c, "QuantizeLinear", opset, 1); /* int32 input */
        opc_input(&c, 0, ONYX_DTYPE_INT32, DIMS(4, 9), NULL);
        opc_input(&c, 1, ONYX_DTYPE_FLOAT32, NULL, 0, &scale);
        opc_input(&c, 2, ONYX_DTYPE_INT8, NULL, 0, &zp_i8);
        opc_run(&c, 0, 0);
        opc_init(&c, "QuantizeLinear", opset, 1);
        opc_input(&c, 0, ONYX_DTYPE_FLOAT32, DIMS(0, 3), NULL);
        opc_input(&c, 1, ONYX_DTYPE_FLOAT32, NULL, 0, &scale);
        opc_run(&c, 0, 0);
    }
    for (int axis = 0; axis < 3; axis++) { /* per axis */
        int64_t dims[3] = {3, 4, 7};
        dims[axis] = 5;
        opc_case c;
        opc_init(&c, "QuantizeLinear", 13, 1);
        opc_input(&c, 0, ONYX_DTYPE_FLOAT32, dims, 3, NULL);
        opc_input(&c, 1, ONYX_DTYPE_FLOAT32, DIMS(5), scales);
        opc_input(&c, 2, ONYX_DTYPE_INT8, DIMS(5), zps_i8);
        opc_attr_int(&c, "axis", axis);
        opc_run(&c, 0, 0);
    }
    float ties[4] = {0.025f, 0.075f, -0.025f, 0.125f}; /* x / scale = 0.5, 1.5, -0.5, 2.5: to even */
    opc_case c;
    opc_init(&c, "QuantizeLinear", 13, 1);
    opc_input(&c, 0, ONYX_DTYPE_FLOAT32, DIMS(4), ties);
    opc_input(&c, 1, ONYX_DTYPE_FLOAT32, NULL, 0, &scale);
    opc_input(&c, 2, ONYX_DTYPE_INT8, NULL, 0, &zp_i8);
    opc_run(&c, 0, 0);
}

static void test_dequantize(void) {
    float scale = 0.05f, scales[5] = {0.01f, 0.02f, 0.05f, 0.1f, 1.0f};
    uint8_t zp_u8 = 128;
    int8_t zp_i8 = -3, zps_i8[5] = {0, -1, 2, 10, -128};
    int32_t zp_i32 = 7;
    opc_case c;
    opc_init(&c, "DequantizeLinear", 13, 1);
    opc_input(&c, 0, ONYX_DTYPE_UINT8, DIMS(7, 33), NULL);
    opc_input(&c, 1, ONYX_DTYPE_FLOAT32, NULL, 0, &scale);
    opc_input(&c, 2, ONYX_DTYPE_UINT8, NULL, 0, &zp_u8);
    opc_run(&c, 0, 0);
    opc_init(&c, "DequantizeLinear", 10, 1);
    opc_input(&c, 0, ONYX_DTYPE_INT8, DIMS(1000), NULL);
    opc_input(&c, 1, ONYX_DTYPE_FLOAT32, NULL, 0, &scale);
    opc_input(&c, 2, ONYX_DTYPE_INT8, NULL, 0, &zp_i8);
    opc_run(&c, 0, 0);
    opc_init(&c, "DequantizeLinear", 13, 1);
    opc_input(&c, 0, ONYX_DTYPE_INT32, DIMS(4, 9), NULL);
    opc_input(&c, 1, ONYX_DTYPE_FLOAT32, NULL, 0, &scale);
    opc_input(&c, 2, ONYX_DTYPE_INT32, NULL, 0, &zp_i32);
    opc_run(&c, 0, 0);
    opc_init(&c, "DequantizeLinear", 13, 1); /* no zero point */
    opc_input(&c, 0, ONYX_DTYPE_INT8, DIMS(3, 5), NULL);
    opc_input(&c, 1, ONYX_DTYPE_FLOAT32, NULL, 0, &scale);
    opc_run(&c, 0, 0);
    for (int axis = 0; axis < 3; axis++) {
        int64_t dims[3] = {3, 4, 7};
        dims[axis] = 5;
        opc_init(&c, "DequantizeLinear", 13, 1);
        opc_input(&c, 0, ONYX_DTYPE_INT8, dims, 3, NULL);
        opc_input(&c, 1, ONYX_DTYPE_FLOAT32, DIMS(5), scales);
        opc_input(&c, 2, ONYX_DTYPE_INT8, DIMS(5), zps_i8);
        opc_attr_int(&c, "axis", axis - 3); /* negative axes count from the end */
        opc_run(&c, 0, 0);
    }
    opc_init(&c, "DequantizeLinear", 13, 1);
    opc_input(&c, 0, ONYX_DTYPE_UINT8, DIMS(0), NULL);
    opc_input(&c, 1, ONYX_DTYPE_FLOAT32, NULL, 0, &scale);
    opc_run(&c, 0, 0);
}

static void test_dynamic_quantize(void) {
    const int64_t sizes[] = {1, 7, 33, 1000, 300000};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        opc_case c;
        opc_init(&c, "DynamicQuantizeLinear", 11, 3);
        opc_input(&c, 0, ONYX_DTYPE_FLOAT32, &sizes[s], 1, NULL);
        opc_run(&c, 0, 0);
    }
    float positive[6] = {0.5f, 1.0f, 2.0f, 3.0f, 0.25f, 7.0f}, zeros[3] = {0, 0, 0};
    opc_case c;
    opc_init(&c, "DynamicQuantizeLinear", 11, 3);
    opc_input(&c, 0, ONYX_DTYPE_FLOAT32, DIMS(2, 3), positive);
    opc_run(&c, 0, 0);
    opc_init(&c, "DynamicQuantizeLinear", 11, 3); /* scale 0 */
    opc_input(&c, 0, ONYX_DTYPE_FLOAT32, DIMS(3), zeros);
    opc_run(&c, 0, 0);
    opc_init(&c, "DynamicQuantizeLinear", 11, 3);
    opc_input(&c, 0, ONYX_DTYPE_FLOAT32, DIMS(0, 4), NULL);
    opc_run(&c, 0, 0);
}

/* ---- errors both providers report in prepare ---- */

static void test_errors(void) {
    opc_case c;
    int64_t k = 9;
    opc_init(&c, "TopK", 11, 2); /* K beyond the axis */
    opc_input(&c, 0, ONYX_DTYPE_FLOAT32, DIMS(2, 5), NULL);
    opc_input(&c, 1, ONYX_DTYPE_INT64, DIMS(1), &k);
    opc_run_expect_error(&c);
    opc_init(&c, "Attention", 1, 1); /* Q of rank 3 */
    c.node.domain = "onyx";
    opc_input(&c, 0, ONYX_DTYPE_FLOAT16, DIMS(2, 3, 64), NULL);
    opc_input(&c, 1, ONYX_DTYPE_FLOAT16, DIMS(2, 3, 1, 64), NULL);
    opc_input(&c, 2, ONYX_DTYPE_FLOAT16, DIMS(2, 3, 1, 64), NULL);
    opc_run_expect_error(&c);
    opc_init(&c, "Attention", 1, 1); /* a bias larger than the scores */
    c.node.domain = "onyx";
    opc_input(&c, 0, ONYX_DTYPE_FLOAT32, DIMS(1, 3, 2, 8), NULL);
    opc_input(&c, 1, ONYX_DTYPE_FLOAT32, DIMS(1, 5, 2, 8), NULL);
    opc_input(&c, 2, ONYX_DTYPE_FLOAT32, DIMS(1, 5, 2, 8), NULL);
    opc_input(&c, 3, ONYX_DTYPE_FLOAT32, DIMS(4, 2, 3, 5), NULL);
    opc_run_expect_error(&c);
    opc_init(&c, "ArgMax", 13, 1); /* empty axis */
    opc_input(&c, 0, ONYX_DTYPE_FLOAT32, DIMS(2, 0), NULL);
    opc_attr_int(&c, "axis", 1);
    opc_run_expect_error(&c);
    opc_init(&c, "ReduceSum", 11, 1); /* axis out of range */
    opc_input(&c, 0, ONYX_DTYPE_FLOAT32, DIMS(2, 3), NULL);
    opc_attr_ints(&c, "axes", (int64_t[]){2}, 1);
    opc_run_expect_error(&c);
    opc_init(&c, "LayerNormalization", 17, 1); /* scale of the wrong size */
    opc_input(&c, 0, ONYX_DTYPE_FLOAT32, DIMS(2, 8), NULL);
    opc_input(&c, 1, ONYX_DTYPE_FLOAT32, DIMS(7), NULL);
    opc_run_expect_error(&c);
}

int main(void) {
    if (!opc_cuda_available()) return 77;
    ONYX_TEST_RUN(test_reduce_shapes);
    ONYX_TEST_RUN(test_reduce_long_rows);
    ONYX_TEST_RUN(test_reduce_integers);
    ONYX_TEST_RUN(test_argmax);
    ONYX_TEST_RUN(test_argmax_nan);
    ONYX_TEST_RUN(test_cumsum);
    ONYX_TEST_RUN(test_topk);
    ONYX_TEST_RUN(test_softmax);
    ONYX_TEST_RUN(test_softmax_masks);
    ONYX_TEST_RUN(test_layer_norm);
    ONYX_TEST_RUN(test_skip_norm);
    ONYX_TEST_RUN(test_scale_add_softmax);
    ONYX_TEST_RUN(test_attention);
    ONYX_TEST_RUN(test_global_pool);
    ONYX_TEST_RUN(test_hardmax);
    ONYX_TEST_RUN(test_channel_norm);
    ONYX_TEST_RUN(test_mvn);
    ONYX_TEST_RUN(test_quantize);
    ONYX_TEST_RUN(test_dequantize);
    ONYX_TEST_RUN(test_dynamic_quantize);
    ONYX_TEST_RUN(test_errors);
    return onyx_test_finish();
}
