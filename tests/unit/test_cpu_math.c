/*
 * test_cpu_math.c - unit tests of the CPU math kernels (matmul.c, reduce.c, normalize.c,
 * quantize.c, attention.c) called through onyx_cpu_math_kernels with hand-built kernel contexts.
 *
 * Each test builds a one-node context (op, opset, attributes, borrowed input data), finds the row
 * with onyx_kernel_lookup, runs prepare and run, and compares with values worked out by hand or
 * computed with NumPy when the test was written (hard-coded here; no Python at test time);
 * Attention against its definition, computed in double by the test itself.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "core/alloc.h"
#include "core/dtype.h"
#include "core/tensor.h"
#include "graph/passes.h"
#include "harness.h"
#include "providers/cpu/cpu_tables.h"
#include "providers/cpu/math_kernels.h"
#include "providers/kernel.h"

#define CASE_MAX_IO 8
#define CASE_MAX_ATTRS 8

/* One node, its inputs (borrowed data) and outputs (owned data), ready to prepare and run. */
typedef struct op_case {
    onyx_node node;
    onyx_attr attrs[CASE_MAX_ATTRS];
    onyx_tensor in_store[CASE_MAX_IO];
    const onyx_tensor *inputs[CASE_MAX_IO];
    onyx_tensor out_store[CASE_MAX_IO];
    onyx_tensor *outputs[CASE_MAX_IO];
    onyx_kernel_ctx ctx;
    void *workspace;
} op_case;

static void case_init(op_case *c, const char *op_type, int opset, int n_outputs) {
    memset(c, 0, sizeof *c);
    c->node.name = "test_node";
    c->node.op_type = op_type;
    c->node.domain = "";
    c->node.opset = opset;
    c->node.attrs = c->attrs;
    for (int i = 0; i < n_outputs; i++) {
        onyx_tensor_init(&c->out_store[i]);
        c->outputs[i] = &c->out_store[i];
    }
    c->ctx.node = &c->node;
    c->ctx.inputs = c->inputs;
    c->ctx.outputs = c->outputs;
    c->ctx.n_outputs = n_outputs;
    c->ctx.threads = 2;
}

static onyx_attr *case_attr(op_case *c, const char *name, onyx_attr_type type) {
    onyx_attr *a = &c->attrs[c->node.n_attrs++];
    a->name = name;
    a->type = type;
    return a;
}
static void attr_int(op_case *c, const char *name, int64_t v) { case_attr(c, name, ONYX_ATTR_INT)->i = v; }
static void attr_float(op_case *c, const char *name, float v) { case_attr(c, name, ONYX_ATTR_FLOAT)->f = v; }
static void attr_string(op_case *c, const char *name, const char *s) {
    onyx_attr *a = case_attr(c, name, ONYX_ATTR_STRING);
    a->s = s;
    a->s_len = strlen(s);
}
static void attr_ints(op_case *c, const char *name, int64_t *values, size_t count) {
    onyx_attr *a = case_attr(c, name, ONYX_ATTR_INTS);
    a->ints = values;
    a->count = count;
}

/* Input i views data (not copied); a NULL data with index set leaves the input absent. */
static void case_input(op_case *c, int i, onyx_dtype dtype, const int64_t *dims, int rank, const void *data) {
    onyx_tensor *t = &c->in_store[i];
    onyx_tensor_init(t);
    ONYX_CHECK_OK(onyx_tensor_set_shape(t, dtype, dims, rank, "test input"));
    t->data = (void *)data;
    c->inputs[i] = t;
    if (i + 1 > c->ctx.n_inputs) c->ctx.n_inputs = i + 1;
    if (i + 1 > c->node.n_inputs) c->node.n_inputs = i + 1;
}

/* Look up, prepare, allocate, run. Returns the first failing status. */
static onyx_status case_run(op_case *c) {
    const onyx_kernel_def *tables[] = {onyx_cpu_math_kernels, NULL};
    char why[256];
    onyx_dtype dt = c->inputs[0] ? c->inputs[0]->dtype : ONYX_DTYPE_FLOAT32;
    const onyx_kernel_def *def =
        onyx_kernel_lookup(tables, c->node.op_type, c->node.domain, c->node.opset, dt, why, sizeof why);
    if (!def) return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "lookup: %s", why);
    ONYX_TRY(def->prepare(&c->ctx));
    for (int i = 0; i < c->ctx.n_outputs; i++)
        if (c->outputs[i]) ONYX_TRY(onyx_tensor_alloc_data(c->outputs[i]));
    c->workspace = onyx_malloc_aligned(c->ctx.workspace_bytes);
    if (!c->workspace) return ONYX_ERR_OUT_OF_MEMORY;
    c->ctx.workspace = c->workspace;
    return def->run(&c->ctx);
}

static void case_free(op_case *c) {
    for (int i = 0; i < CASE_MAX_IO; i++)
        if (c->outputs[i]) onyx_tensor_release(c->outputs[i]);
    onyx_free_aligned(c->workspace);
    c->workspace = NULL;
}

static void check_shape(const onyx_tensor *t, const int64_t *dims, int rank) {
    ONYX_CHECK_INT(t->rank, rank);
    for (int d = 0; d < rank && d < t->rank; d++) ONYX_CHECK_INT(t->dims[d], dims[d]);
}

static const float *out_f32(op_case *c, int i) { return (const float *)c->outputs[i]->data; }

/* ---- matrix products ---- */

static void test_matmul_2d(void) {
    op_case c;
    case_init(&c, "MatMul", 13, 1);
    float a[6] = {1, 2, 3, 4, 5, 6}, b[6] = {7, 8, 9, 10, 11, 12};
    case_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){2, 3}, 2, a);
    case_input(&c, 1, ONYX_DTYPE_FLOAT32, (int64_t[]){3, 2}, 2, b);
    ONYX_CHECK_OK(case_run(&c));
    check_shape(c.outputs[0], (int64_t[]){2, 2}, 2);
    float want[4] = {58, 64, 139, 154}; /* by hand: 1*7+2*9+3*11 = 58 ... */
    ONYX_CHECK_FLOATS(out_f32(&c, 0), want, 4, 0, 1e-6);
    case_free(&c);
}

static void test_matmul_broadcast_batch(void) {
    /* A (2,1,2,3) = arange, B (3,3,2) = arange - 5; NumPy A @ B */
    float a[12], b[18];
    for (int i = 0; i < 12; i++) a[i] = (float)i;
    for (int i = 0; i < 18; i++) b[i] = (float)i - 5;
    op_case c;
    case_init(&c, "MatMul", 13, 1);
    case_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){2, 1, 2, 3}, 4, a);
    case_input(&c, 1, ONYX_DTYPE_FLOAT32, (int64_t[]){3, 3, 2}, 3, b);
    ONYX_CHECK_OK(case_run(&c));
    check_shape(c.outputs[0], (int64_t[]){2, 3, 2, 2}, 4);
    float want[24] = {-5, -2, -32, -20, 13, 16, 40, 52, 31, 34, 112, 124,
                      -59, -38, -86, -56, 67, 88, 94, 124, 193, 214, 274, 304};
    ONYX_CHECK_FLOATS(out_f32(&c, 0), want, 24, 0, 1e-6);
    case_free(&c);
}

static void test_matmul_vector_promotion(void) {
    /* A (3) @ B (2,3,4) = (2,4): NumPy [20,23,26,29,56,59,62,65] */
    float a[3] = {0, 1, 2}, b[24];
    for (int i = 0; i < 24; i++) b[i] = (float)i;
    op_case c;
    case_init(&c, "MatMul", 13, 1);
    case_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){3}, 1, a);
    case_input(&c, 1, ONYX_DTYPE_FLOAT32, (int64_t[]){2, 3, 4}, 3, b);
    ONYX_CHECK_OK(case_run(&c));
    check_shape(c.outputs[0], (int64_t[]){2, 4}, 2);
    float want[8] = {20, 23, 26, 29, 56, 59, 62, 65};
    ONYX_CHECK_FLOATS(out_f32(&c, 0), want, 8, 0, 1e-6);
    case_free(&c);

    /* vector . vector is a scalar: 1*4 + 2*5 + 3*6 = 32 */
    float u[3] = {1, 2, 3}, v[3] = {4, 5, 6};
    case_init(&c, "MatMul", 13, 1);
    case_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){3}, 1, u);
    case_input(&c, 1, ONYX_DTYPE_FLOAT32, (int64_t[]){3}, 1, v);
    ONYX_CHECK_OK(case_run(&c));
    ONYX_CHECK_INT(c.outputs[0]->rank, 0);
    ONYX_CHECK_CLOSE(out_f32(&c, 0)[0], 32.0, 0, 1e-6);
    case_free(&c);
}

static void test_matmul_empty_inner_gives_zeros(void) {
    float dummy[1] = {0};
    op_case c;
    case_init(&c, "MatMul", 13, 1);
    case_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){2, 0}, 2, dummy);
    case_input(&c, 1, ONYX_DTYPE_FLOAT32, (int64_t[]){0, 3}, 2, dummy);
    ONYX_CHECK_OK(case_run(&c));
    check_shape(c.outputs[0], (int64_t[]){2, 3}, 2);
    float want[6] = {0};
    ONYX_CHECK_FLOATS(out_f32(&c, 0), want, 6, 0, 0);
    case_free(&c);
}

static void test_matmul_shape_error(void) {
    float dummy[20] = {0};
    op_case c;
    case_init(&c, "MatMul", 13, 1);
    case_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){2, 3}, 2, dummy);
    case_input(&c, 1, ONYX_DTYPE_FLOAT32, (int64_t[]){4, 5}, 2, dummy);
    ONYX_CHECK_ERROR(case_run(&c), ONYX_ERR_INVALID_ARGUMENT,
                     "MatMul: input A is [2,3] and input B is [4,5]: inner dimensions 3 and 4 differ");
    case_free(&c);
}

static void test_matmul_float16_and_int64(void) {
    float a[6] = {1, 2, 3, 4, 5, 6}, b[6] = {7, 8, 9, 10, 11, 12};
    uint16_t ah[6], bh[6];
    for (int i = 0; i < 6; i++) {
        ah[i] = onyx_f32_to_f16(a[i]);
        bh[i] = onyx_f32_to_f16(b[i]);
    }
    op_case c;
    case_init(&c, "MatMul", 13, 1);
    case_input(&c, 0, ONYX_DTYPE_FLOAT16, (int64_t[]){2, 3}, 2, ah);
    case_input(&c, 1, ONYX_DTYPE_FLOAT16, (int64_t[]){3, 2}, 2, bh);
    ONYX_CHECK_OK(case_run(&c));
    ONYX_CHECK_INT(c.outputs[0]->dtype, ONYX_DTYPE_FLOAT16);
    const uint16_t *yh = c.outputs[0]->data;
    float want[4] = {58, 64, 139, 154};
    for (int i = 0; i < 4; i++) ONYX_CHECK_CLOSE(onyx_f16_to_f32(yh[i]), want[i], 0, 1e-3);
    case_free(&c);

    int64_t ai[6] = {1, 2, 3, 4, 5, 6}, bi[6] = {7, 8, 9, 10, 11, 12};
    case_init(&c, "MatMul", 13, 1);
    case_input(&c, 0, ONYX_DTYPE_INT64, (int64_t[]){2, 3}, 2, ai);
    case_input(&c, 1, ONYX_DTYPE_INT64, (int64_t[]){3, 2}, 2, bi);
    ONYX_CHECK_OK(case_run(&c));
    const int64_t *yi = c.outputs[0]->data;
    for (int i = 0; i < 4; i++) ONYX_CHECK_INT(yi[i], (int64_t)want[i]);
    case_free(&c);
}

/* MatMulBias (domain "onyx") = MatMul + Add(bias over the last axis): hand-computed float32
 * results for a folded batch, a broadcast batch and a 1-D B; float16, bfloat16 and float64
 * against MatMul's own output plus the bias; the shape and dtype errors. */
static void matmul_bias_case(op_case *c, onyx_dtype dt, const int64_t *a_dims, int a_rank, const void *a,
                             const int64_t *b_dims, int b_rank, const void *b, const int64_t *bias_dims,
                             int bias_rank, const void *bias) {
    case_init(c, "MatMulBias", 1, 1);
    c->node.domain = "onyx";
    case_input(c, 0, dt, a_dims, a_rank, a);
    case_input(c, 1, dt, b_dims, b_rank, b);
    case_input(c, 2, dt, bias_dims, bias_rank, bias);
}

static void test_matmul_bias(void) {
    float a[12], b[6], b2[12], bias[2] = {0.5f, -1.0f};
    for (int i = 0; i < 12; i++) a[i] = (float)i;
    for (int i = 0; i < 6; i++) b[i] = (float)(7 + i);
    for (int i = 0; i < 12; i++) b2[i] = (float)i - 5;
    op_case c;
    /* [2,2,3] x [3,2] + [2]: the Linear-layer form (batch folded into M) */
    matmul_bias_case(&c, ONYX_DTYPE_FLOAT32, (int64_t[]){2, 2, 3}, 3, a, (int64_t[]){3, 2}, 2, b, (int64_t[]){2}, 1,
                     bias);
    ONYX_CHECK_OK(case_run(&c));
    check_shape(c.outputs[0], (int64_t[]){2, 2, 2}, 3);
    float want[8] = {31.5f, 33, 112.5f, 123, 193.5f, 213, 274.5f, 303};
    ONYX_CHECK_FLOATS(out_f32(&c, 0), want, 8, 0, 1e-6);
    case_free(&c);
    /* [2,2,3] x [2,3,2] + [2]: one product per batch */
    matmul_bias_case(&c, ONYX_DTYPE_FLOAT32, (int64_t[]){2, 2, 3}, 3, a, (int64_t[]){2, 3, 2}, 3, b2, (int64_t[]){2},
                     1, bias);
    ONYX_CHECK_OK(case_run(&c));
    check_shape(c.outputs[0], (int64_t[]){2, 2, 2}, 3);
    float want2[8] = {-4.5f, -3, -31.5f, -21, 67.5f, 87, 94.5f, 123};
    ONYX_CHECK_FLOATS(out_f32(&c, 0), want2, 8, 0, 1e-6);
    case_free(&c);
    /* [2,3] x [3] (1-D B): the result [2]'s last axis is M */
    float bv[3] = {1, -2, 3}, bias_m[2] = {10, 20};
    matmul_bias_case(&c, ONYX_DTYPE_FLOAT32, (int64_t[]){2, 3}, 2, a, (int64_t[]){3}, 1, bv, (int64_t[]){2}, 1,
                     bias_m);
    ONYX_CHECK_OK(case_run(&c));
    check_shape(c.outputs[0], (int64_t[]){2}, 1);
    ONYX_CHECK_FLOATS(out_f32(&c, 0), ((float[]){14, 30}), 2, 0, 1e-6);
    case_free(&c);

    /* other dtypes: MatMulBias == MatMul + bias (the bias added in float32 before rounding) */
    const onyx_dtype dts[3] = {ONYX_DTYPE_FLOAT16, ONYX_DTYPE_BFLOAT16, ONYX_DTYPE_FLOAT64};
    for (int t = 0; t < 3; t++) {
        onyx_dtype dt = dts[t];
        enum { M = 5, K = 7, N = 6, BATCH = 3 };
        static uint16_t ah[BATCH * M * K], bh[K * N], biash[N];
        static double ad[BATCH * M * K], bd[K * N], biasd[N];
        for (int i = 0; i < BATCH * M * K; i++) {
            double v = ((i * 37) % 17 - 8) / 8.0;
            ad[i] = v;
            ah[i] = dt == ONYX_DTYPE_FLOAT16 ? onyx_f32_to_f16((float)v) : onyx_f32_to_bf16((float)v);
        }
        for (int i = 0; i < K * N; i++) {
            double v = ((i * 11) % 13 - 6) / 4.0;
            bd[i] = v;
            bh[i] = dt == ONYX_DTYPE_FLOAT16 ? onyx_f32_to_f16((float)v) : onyx_f32_to_bf16((float)v);
        }
        for (int i = 0; i < N; i++) {
            biasd[i] = (i - 2.5) * 0.75;
            biash[i] = dt == ONYX_DTYPE_FLOAT16 ? onyx_f32_to_f16((float)biasd[i]) : onyx_f32_to_bf16((float)biasd[i]);
        }
        const void *A = dt == ONYX_DTYPE_FLOAT64 ? (const void *)ad : ah, *B = dt == ONYX_DTYPE_FLOAT64 ? (const void *)bd : bh;
        const void *BIAS = dt == ONYX_DTYPE_FLOAT64 ? (const void *)biasd : biash;
        op_case mm;
        case_init(&mm, "MatMul", 13, 1);
        case_input(&mm, 0, dt, (int64_t[]){BATCH, M, K}, 3, A);
        case_input(&mm, 1, dt, (int64_t[]){K, N}, 2, B);
        ONYX_CHECK_OK(case_run(&mm));
        matmul_bias_case(&c, dt, (int64_t[]){BATCH, M, K}, 3, A, (int64_t[]){K, N}, 2, B, (int64_t[]){N}, 1, BIAS);
        ONYX_CHECK_OK(case_run(&c));
        check_shape(c.outputs[0], (int64_t[]){BATCH, M, N}, 3);
        ONYX_CHECK_INT(c.outputs[0]->dtype, dt);
        /* products of these inputs are exact in float32; the sums up to |7 * 1 * 1.5| + bias stay
         * within a few units of the 8-bit (bfloat16) mantissa */
        double tol = dt == ONYX_DTYPE_BFLOAT16 ? 0.07 : dt == ONYX_DTYPE_FLOAT16 ? 0.01 : 1e-12;
        for (int64_t i = 0; i < BATCH * M * N; i++)
            ONYX_CHECK_CLOSE(math_load(dt, c.outputs[0]->data, i),
                             math_load(dt, mm.outputs[0]->data, i) + math_load(dt, BIAS, i % N), tol, 0);
        case_free(&mm);
        case_free(&c);
    }

    /* errors name the shapes */
    matmul_bias_case(&c, ONYX_DTYPE_FLOAT32, (int64_t[]){2, 2, 3}, 3, a, (int64_t[]){3, 2}, 2, b, (int64_t[]){3}, 1,
                     a);
    ONYX_CHECK_ERROR(case_run(&c), ONYX_ERR_INVALID_ARGUMENT,
                     "MatMulBias: input 2 (bias) has shape [3] but the MatMul result is [2,2,2]: expected a 1-D bias "
                     "of length 2 (its last dimension)");
    case_free(&c);
    matmul_bias_case(&c, ONYX_DTYPE_FLOAT32, (int64_t[]){2, 2, 3}, 3, a, (int64_t[]){3, 2}, 2, b, (int64_t[]){1, 2},
                     2, bias);
    ONYX_CHECK_ERROR(case_run(&c), ONYX_ERR_INVALID_ARGUMENT, "input 2 (bias) has shape [1,2]");
    case_free(&c);
    matmul_bias_case(&c, ONYX_DTYPE_FLOAT32, (int64_t[]){2, 3}, 2, a, (int64_t[]){3, 2}, 2, b, (int64_t[]){2}, 1, bias);
    c.in_store[2].dtype = ONYX_DTYPE_FLOAT64;
    ONYX_CHECK_ERROR(case_run(&c), ONYX_ERR_INVALID_MODEL, "MatMulBias: input 2 (bias) is float64 but input A is float32");
    case_free(&c);
    matmul_bias_case(&c, ONYX_DTYPE_FLOAT32, (int64_t[]){3}, 1, a, (int64_t[]){3}, 1, b, (int64_t[]){1}, 1, bias);
    ONYX_CHECK_ERROR(case_run(&c), ONYX_ERR_INVALID_ARGUMENT, "the MatMul result is a scalar");
    case_free(&c);
    matmul_bias_case(&c, ONYX_DTYPE_FLOAT32, (int64_t[]){2, 4}, 2, a, (int64_t[]){3, 2}, 2, b, (int64_t[]){2}, 1, bias);
    ONYX_CHECK_ERROR(case_run(&c), ONYX_ERR_INVALID_ARGUMENT, "MatMulBias: input A is [2,4] and input B is [3,2]");
    case_free(&c);
    /* integers have no MatMulBias row */
    int64_t ai[6] = {1, 2, 3, 4, 5, 6};
    matmul_bias_case(&c, ONYX_DTYPE_INT64, (int64_t[]){2, 3}, 2, ai, (int64_t[]){3, 2}, 2, ai, (int64_t[]){2}, 1, ai);
    ONYX_CHECK(case_run(&c) != ONYX_OK);
    case_free(&c);
}

/* MatMulBias with transB = 1 (the cuda provider's weight layout, src/graph/weight_layout.c): B
 * stored (N, K). The hand-computed results of test_matmul_bias's first case with B transposed,
 * without the bias too; 1, 4 and 15 rows (sgemv per row, the few-row kernel, sgemm) against MatMul
 * on the untransposed B in float32 and float16; the errors. */
static void test_matmul_bias_transposed(void) {
    float a[12], bt[6] = {7, 9, 11, 8, 10, 12}, bias[2] = {0.5f, -1.0f};
    for (int i = 0; i < 12; i++) a[i] = (float)i;
    op_case c;
    matmul_bias_case(&c, ONYX_DTYPE_FLOAT32, (int64_t[]){2, 2, 3}, 3, a, (int64_t[]){2, 3}, 2, bt, (int64_t[]){2}, 1,
                     bias);
    attr_int(&c, "transB", 1);
    ONYX_CHECK_OK(case_run(&c));
    check_shape(c.outputs[0], (int64_t[]){2, 2, 2}, 3);
    float want[8] = {31.5f, 33, 112.5f, 123, 193.5f, 213, 274.5f, 303};
    ONYX_CHECK_FLOATS(out_f32(&c, 0), want, 8, 0, 1e-6);
    case_free(&c);
    case_init(&c, "MatMulBias", 1, 1); /* no bias */
    c.node.domain = "onyx";
    case_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){2, 2, 3}, 3, a);
    case_input(&c, 1, ONYX_DTYPE_FLOAT32, (int64_t[]){2, 3}, 2, bt);
    attr_int(&c, "transB", 1);
    ONYX_CHECK_OK(case_run(&c));
    float want_nobias[8];
    for (int i = 0; i < 8; i++) want_nobias[i] = want[i] - bias[i % 2];
    ONYX_CHECK_FLOATS(out_f32(&c, 0), want_nobias, 8, 0, 1e-6);
    case_free(&c);

    enum { K = 40, N = 37, MAX_ROWS = 15 };
    static float af[MAX_ROWS * K], bf[K * N], btf[N * K], biasf[N];
    static uint16_t ah[MAX_ROWS * K], bh[K * N], bth[N * K], biash[N];
    for (int i = 0; i < MAX_ROWS * K; i++) af[i] = (float)((i * 37) % 17 - 8) / 8.0f;
    for (int k = 0; k < K; k++)
        for (int n = 0; n < N; n++) bf[k * N + n] = btf[n * K + k] = (float)((k * N + n) * 11 % 13 - 6) / 4.0f;
    for (int n = 0; n < N; n++) biasf[n] = (float)(n - 18) * 0.25f;
    for (int i = 0; i < MAX_ROWS * K; i++) ah[i] = onyx_f32_to_f16(af[i]);
    for (int i = 0; i < K * N; i++) bh[i] = onyx_f32_to_f16(bf[i]), bth[i] = onyx_f32_to_f16(btf[i]);
    for (int n = 0; n < N; n++) biash[n] = onyx_f32_to_f16(biasf[n]);
    const int rows[3] = {1, 4, MAX_ROWS};
    for (int t = 0; t < 2; t++) {
        onyx_dtype dt = t == 0 ? ONYX_DTYPE_FLOAT32 : ONYX_DTYPE_FLOAT16;
        const void *A = t == 0 ? (const void *)af : ah, *B = t == 0 ? (const void *)bf : bh;
        const void *BT = t == 0 ? (const void *)btf : bth, *BIAS = t == 0 ? (const void *)biasf : biash;
        for (int r = 0; r < 3; r++) {
            op_case mm;
            matmul_bias_case(&mm, dt, (int64_t[]){rows[r], K}, 2, A, (int64_t[]){K, N}, 2, B, (int64_t[]){N}, 1, BIAS);
            ONYX_CHECK_OK(case_run(&mm));
            matmul_bias_case(&c, dt, (int64_t[]){rows[r], K}, 2, A, (int64_t[]){N, K}, 2, BT, (int64_t[]){N}, 1, BIAS);
            attr_int(&c, "transB", 1);
            ONYX_CHECK_OK(case_run(&c));
            check_shape(c.outputs[0], (int64_t[]){rows[r], N}, 2);
            /* the same products in another order: float32 sums of 40 terms of magnitude <= 1.5 */
            double tol = t == 0 ? 1e-4 : 0.05;
            for (int64_t i = 0; i < (int64_t)rows[r] * N; i++)
                ONYX_CHECK_CLOSE(math_load(dt, c.outputs[0]->data, i), math_load(dt, mm.outputs[0]->data, i), tol, 0);
            case_free(&mm);
            case_free(&c);
        }
    }

    matmul_bias_case(&c, ONYX_DTYPE_FLOAT32, (int64_t[]){2, 2, 3}, 3, a, (int64_t[]){3}, 1, bt, (int64_t[]){2}, 1,
                     bias);
    attr_int(&c, "transB", 1);
    ONYX_CHECK_ERROR(case_run(&c), ONYX_ERR_INVALID_MODEL,
                     "MatMulBias: input B is [3] with transB = 1; a transposed B must have rank >= 2 (..., N, K)");
    case_free(&c);
    matmul_bias_case(&c, ONYX_DTYPE_FLOAT32, (int64_t[]){2, 2, 3}, 3, a, (int64_t[]){2, 3}, 2, bt, (int64_t[]){2}, 1,
                     bias);
    attr_int(&c, "transB", 2);
    ONYX_CHECK_ERROR(case_run(&c), ONYX_ERR_INVALID_MODEL, "MatMulBias: attribute transB is 2; expected 0 or 1");
    case_free(&c);
    matmul_bias_case(&c, ONYX_DTYPE_FLOAT32, (int64_t[]){2, 2, 3}, 3, a, (int64_t[]){3, 2}, 2, bt, (int64_t[]){2}, 1,
                     bias);
    attr_int(&c, "transB", 1); /* (N, K) = (3, 2): K = 2 does not match A's 3 */
    ONYX_CHECK_ERROR(case_run(&c), ONYX_ERR_INVALID_ARGUMENT, "inner dimensions 3 and 2 differ");
    case_free(&c);
}

/* MatMulBias with transB = 1 and a batched B (attention's keys, their Transpose fused in by
 * src/graph/fusion.c): hand-computed values for two heads of one query row; then heads of 1, 4
 * and 15 query rows (sgemv per head, the few-row kernel, sgemm) against MatMul on the explicitly
 * transposed keys in float32 and float16, with B's batch broadcast over A's leading axis too. */
static void test_matmul_transposed_batched(void) {
    float q[6] = {1, 2, 3, 4, 5, 6}, keys[12] = {1, 0, 0, 0, 1, 1, 1, 1, 1, 2, 0, -1};
    op_case c;
    case_init(&c, "MatMulBias", 1, 1);
    c.node.domain = "onyx";
    case_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){2, 1, 3}, 3, q);
    case_input(&c, 1, ONYX_DTYPE_FLOAT32, (int64_t[]){2, 2, 3}, 3, keys);
    attr_int(&c, "transB", 1);
    ONYX_CHECK_OK(case_run(&c));
    check_shape(c.outputs[0], (int64_t[]){2, 1, 2}, 3);
    float want[4] = {1, 5, 15, 2};
    ONYX_CHECK_FLOATS(out_f32(&c, 0), want, 4, 0, 0);
    case_free(&c);

    enum { H = 3, K = 24, N = 29, MAX_ROWS = 15 };
    static float af[2 * H * MAX_ROWS * K], kf[2 * H * N * K], ktf[2 * H * K * N];
    static uint16_t ah[2 * H * MAX_ROWS * K], kh[2 * H * N * K], kth[2 * H * K * N];
    for (int i = 0; i < 2 * H * MAX_ROWS * K; i++) af[i] = (float)((i * 29) % 19 - 9) / 8.0f;
    for (int m = 0; m < 2 * H; m++)
        for (int n = 0; n < N; n++)
            for (int k = 0; k < K; k++)
                kf[(m * N + n) * K + k] = ktf[(m * K + k) * N + n] = (float)(((m * N + n) * K + k) * 7 % 11 - 5) / 4.0f;
    for (int i = 0; i < 2 * H * MAX_ROWS * K; i++) ah[i] = onyx_f32_to_f16(af[i]);
    for (int i = 0; i < 2 * H * N * K; i++) kh[i] = onyx_f32_to_f16(kf[i]), kth[i] = onyx_f32_to_f16(ktf[i]);
    const int rows[3] = {1, 4, MAX_ROWS};
    for (int t = 0; t < 2; t++) {
        onyx_dtype dt = t == 0 ? ONYX_DTYPE_FLOAT32 : ONYX_DTYPE_FLOAT16;
        const void *A = t == 0 ? (const void *)af : ah, *KEYS = t == 0 ? (const void *)kf : kh;
        const void *KT = t == 0 ? (const void *)ktf : kth;
        for (int r = 0; r < 3; r++)
            for (int shared = 0; shared < 2; shared++) { /* shared: B (1, H, N, K) for A (2, H, M, K) */
                int64_t b_lead = shared ? 1 : 2, M = rows[r];
                op_case mm;
                case_init(&mm, "MatMul", 13, 1);
                case_input(&mm, 0, dt, (int64_t[]){2, H, M, K}, 4, A);
                case_input(&mm, 1, dt, (int64_t[]){b_lead, H, K, N}, 4, KT);
                ONYX_CHECK_OK(case_run(&mm));
                case_init(&c, "MatMulBias", 1, 1);
                c.node.domain = "onyx";
                case_input(&c, 0, dt, (int64_t[]){2, H, M, K}, 4, A);
                case_input(&c, 1, dt, (int64_t[]){b_lead, H, N, K}, 4, KEYS);
                attr_int(&c, "transB", 1);
                ONYX_CHECK_OK(case_run(&c));
                check_shape(c.outputs[0], (int64_t[]){2, H, M, N}, 4);
                /* the same products in another order: sums of 24 terms of magnitude <= 1.4 */
                double tol = t == 0 ? 1e-4 : 0.05;
                int64_t total = 2 * H * M * N;
                for (int64_t i = 0; i < total && mm.outputs[0]->data && c.outputs[0]->data; i++)
                    ONYX_CHECK_CLOSE(math_load(dt, c.outputs[0]->data, i), math_load(dt, mm.outputs[0]->data, i), tol, 0);
                case_free(&mm);
                case_free(&c);
            }
    }
}

/* B (K,N) in the weight-layout pass's panels (packedN): ceil(N / 32) panels of K rows of 32
 * columns, the columns past N zero. */
static void pack_panels(const float *b, int64_t K, int64_t N, float *out) {
    const int64_t w = ONYX_WEIGHT_PANEL;
    for (int64_t q = 0; q < (N + w - 1) / w; q++)
        for (int64_t k = 0; k < K; k++)
            for (int64_t j = 0; j < w; j++) out[(q * K + k) * w + j] = q * w + j < N ? b[k * N + q * w + j] : 0.0f;
}

/* MatMulBias with packedN (B in panels, the cpu provider's layout on AVX-512): against MatMul on
 * the unpacked B for 1 to 300 rows (one tile to many, every tile size), with and without the
 * bias, N with a partial last panel; the errors. Without AVX-512 the kernel refuses packed B. */
static void test_matmul_packed_panels(void) {
    enum { K = 21, MAX_M = 300, N_MAX = 229 };
    static float a[MAX_M * K], b[K * N_MAX], bias[N_MAX], packed[8 * K * ONYX_WEIGHT_PANEL];
    for (int i = 0; i < MAX_M * K; i++) a[i] = (float)((i * 31) % 23 - 11) / 8.0f;
    for (int i = 0; i < K * N_MAX; i++) b[i] = (float)((i * 17) % 13 - 6) / 4.0f;
    for (int i = 0; i < N_MAX; i++) bias[i] = (float)(i % 7) - 3.0f;
    const int64_t ns[2] = {37, N_MAX}, ms[6] = {1, 4, 15, 45, 128, MAX_M};
    op_case c, mm;
    if (!onyx_cpu_packs_weights()) {
        fprintf(stderr, "  no AVX-512 here: only the refusal of packed B is checked\n");
        pack_panels(b, K, 37, packed);
        case_init(&c, "MatMulBias", 1, 1);
        c.node.domain = "onyx";
        case_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){4, K}, 2, a);
        case_input(&c, 1, ONYX_DTYPE_FLOAT32, (int64_t[]){2, K, ONYX_WEIGHT_PANEL}, 3, packed);
        attr_int(&c, "packedN", 37);
        ONYX_CHECK_ERROR(case_run(&c), ONYX_ERR_INVALID_MODEL, "on a CPU with AVX-512");
        case_free(&c);
        return;
    }
    for (int ni = 0; ni < 2; ni++) {
        int64_t N = ns[ni], P = (N + ONYX_WEIGHT_PANEL - 1) / ONYX_WEIGHT_PANEL;
        pack_panels(b, K, N, packed);
        for (int mi = 0; mi < 6; mi++)
            for (int with_bias = 0; with_bias < 2; with_bias++) {
                int64_t M = ms[mi];
                case_init(&mm, with_bias ? "MatMulBias" : "MatMul", with_bias ? 1 : 13, 1);
                if (with_bias) mm.node.domain = "onyx";
                case_input(&mm, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){M, K}, 2, a);
                case_input(&mm, 1, ONYX_DTYPE_FLOAT32, (int64_t[]){K, N}, 2, b);
                if (with_bias) case_input(&mm, 2, ONYX_DTYPE_FLOAT32, (int64_t[]){N}, 1, bias);
                ONYX_CHECK_OK(case_run(&mm));
                case_init(&c, "MatMulBias", 1, 1);
                c.node.domain = "onyx";
                case_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){M, K}, 2, a);
                case_input(&c, 1, ONYX_DTYPE_FLOAT32, (int64_t[]){P, K, ONYX_WEIGHT_PANEL}, 3, packed);
                if (with_bias) case_input(&c, 2, ONYX_DTYPE_FLOAT32, (int64_t[]){N}, 1, bias);
                attr_int(&c, "packedN", N);
                ONYX_CHECK_OK(case_run(&c));
                if (c.outputs[0]->data && mm.outputs[0]->data) {
                    check_shape(c.outputs[0], (int64_t[]){M, N}, 2);
                    /* sums of 21 products of magnitude <= 2.1, in another order */
                    ONYX_CHECK_FLOATS(out_f32(&c, 0), out_f32(&mm, 0), (long)(M * N), 1e-4, 0);
                }
                case_free(&mm);
                case_free(&c);
            }
    }
    /* errors: panels of the wrong count, width or dtype; transB beside packedN */
    pack_panels(b, K, 37, packed);
    const int64_t bad[3][3] = {{3, K, ONYX_WEIGHT_PANEL}, {2, K, 16}, {2, K, ONYX_WEIGHT_PANEL}};
    for (int e = 0; e < 4; e++) {
        case_init(&c, "MatMulBias", 1, 1);
        c.node.domain = "onyx";
        case_input(&c, 0, e == 3 ? ONYX_DTYPE_FLOAT16 : ONYX_DTYPE_FLOAT32, (int64_t[]){4, K}, 2, a);
        case_input(&c, 1, e == 3 ? ONYX_DTYPE_FLOAT16 : ONYX_DTYPE_FLOAT32, bad[e < 3 ? e : 2], 3, packed);
        attr_int(&c, "packedN", 37);
        if (e == 2) attr_int(&c, "transB", 1);
        ONYX_CHECK_ERROR(case_run(&c), ONYX_ERR_INVALID_MODEL, "expected float32 panels [2,K,32]");
        case_free(&c);
    }
}

/* The bulk float16 converters (F16C when present) agree with the scalar ones in core/dtype.h
 * on every float16 bit pattern, and on float32 values around the float16 range edges. */
static void test_float16_bulk_conversion(void) {
    static uint16_t halves[65536], back[65536];
    static float widened[65536];
    for (int i = 0; i < 65536; i++) halves[i] = (uint16_t)i;
    math_to_f32(ONYX_DTYPE_FLOAT16, halves, 0, 65536, widened);
    int bad = 0;
    for (int i = 0; i < 65536 && bad < 5; i++) {
        float want = onyx_f16_to_f32((uint16_t)i);
        if (!(widened[i] == want || (isnan(widened[i]) && isnan(want)))) {
            bad++;
            fprintf(stderr, "half 0x%04x widened to %g, expected %g\n", i, widened[i], want);
        }
    }
    ONYX_CHECK_INT(bad, 0);
    static float singles[4096];
    for (int i = 0; i < 4096; i++) singles[i] = ldexpf(1.0f + (float)(i % 64) / 64.0f, i / 64 - 30) * (i % 2 ? -1 : 1);
    singles[0] = 65520.0f;   /* rounds to inf */
    singles[1] = 65519.0f;   /* rounds to 65504 */
    singles[2] = 2.9802322e-08f; /* 2^-25: ties to zero */
    singles[3] = NAN;
    math_from_f32(ONYX_DTYPE_FLOAT16, singles, 4096, back, 0);
    bad = 0;
    for (int i = 0; i < 4096 && bad < 5; i++) {
        uint16_t want = onyx_f32_to_f16(singles[i]);
        int both_nan = isnan(singles[i]) && (back[i] & 0x7c00) == 0x7c00 && (back[i] & 0x3ff);
        if (back[i] != want && !both_nan) {
            bad++;
            fprintf(stderr, "float %g narrowed to 0x%04x, expected 0x%04x\n", singles[i], back[i], want);
        }
    }
    ONYX_CHECK_INT(bad, 0);
}

static void test_gemm_transposes_and_bias(void) {
    /* Y = 0.5 * A^T B + 2 * C, A (2,3) = arange, B (2,4) = arange - 3, C (4) = [1,2,3,4]: NumPy */
    float a[6], b[8], bias[4] = {1, 2, 3, 4};
    for (int i = 0; i < 6; i++) a[i] = (float)i;
    for (int i = 0; i < 8; i++) b[i] = (float)i - 3;
    op_case c;
    case_init(&c, "Gemm", 13, 1);
    attr_int(&c, "transA", 1);
    attr_float(&c, "alpha", 0.5f);
    attr_float(&c, "beta", 2.0f);
    case_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){2, 3}, 2, a);
    case_input(&c, 1, ONYX_DTYPE_FLOAT32, (int64_t[]){2, 4}, 2, b);
    case_input(&c, 2, ONYX_DTYPE_FLOAT32, (int64_t[]){4}, 1, bias);
    ONYX_CHECK_OK(case_run(&c));
    check_shape(c.outputs[0], (int64_t[]){3, 4}, 2);
    float want[12] = {3.5, 7.0, 10.5, 14.0, 2.5, 7.0, 11.5, 16.0, 1.5, 7.0, 12.5, 18.0};
    ONYX_CHECK_FLOATS(out_f32(&c, 0), want, 12, 1e-6, 1e-6);
    case_free(&c);

    /* transB with no C: A (1,2) [1,2], B (3,2) rows [1,0],[0,1],[1,1] -> [1,2,3] */
    float a2[2] = {1, 2}, b2[6] = {1, 0, 0, 1, 1, 1};
    case_init(&c, "Gemm", 13, 1);
    attr_int(&c, "transB", 1);
    case_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){1, 2}, 2, a2);
    case_input(&c, 1, ONYX_DTYPE_FLOAT32, (int64_t[]){3, 2}, 2, b2);
    ONYX_CHECK_OK(case_run(&c));
    float want2[3] = {1, 2, 3};
    ONYX_CHECK_FLOATS(out_f32(&c, 0), want2, 3, 0, 1e-6);
    case_free(&c);

    /* int32 Gemm with a scalar C: [[1,2],[3,4]] @ [[5,6],[7,8]] + 10 = [[29,32],[53,60]] */
    int32_t ia[4] = {1, 2, 3, 4}, ib[4] = {5, 6, 7, 8}, ic = 10;
    case_init(&c, "Gemm", 13, 1);
    case_input(&c, 0, ONYX_DTYPE_INT32, (int64_t[]){2, 2}, 2, ia);
    case_input(&c, 1, ONYX_DTYPE_INT32, (int64_t[]){2, 2}, 2, ib);
    case_input(&c, 2, ONYX_DTYPE_INT32, NULL, 0, &ic);
    ONYX_CHECK_OK(case_run(&c));
    int32_t want_int[4] = {29, 32, 53, 60};
    for (int i = 0; i < 4; i++) ONYX_CHECK_INT(((int32_t *)c.outputs[0]->data)[i], want_int[i]);
    case_free(&c);

    /* int64 products stay exact beyond 2^53: (2^60 + 1) * 1 */
    int64_t big = ((int64_t)1 << 60) + 1, one = 1;
    case_init(&c, "MatMul", 13, 1);
    case_input(&c, 0, ONYX_DTYPE_INT64, (int64_t[]){1, 1}, 2, &big);
    case_input(&c, 1, ONYX_DTYPE_INT64, (int64_t[]){1, 1}, 2, &one);
    ONYX_CHECK_OK(case_run(&c));
    ONYX_CHECK(((int64_t *)c.outputs[0]->data)[0] == big);
    case_free(&c);

    float c_bad[5] = {0};
    case_init(&c, "Gemm", 13, 1);
    case_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){2, 3}, 2, a);
    case_input(&c, 1, ONYX_DTYPE_FLOAT32, (int64_t[]){3, 2}, 2, a);
    case_input(&c, 2, ONYX_DTYPE_FLOAT32, (int64_t[]){5}, 1, c_bad);
    ONYX_CHECK_ERROR(case_run(&c), ONYX_ERR_INVALID_ARGUMENT, "input C is [5], which does not broadcast to [2,2]");
    case_free(&c);
}

/* Every row count of the float32 product paths (sgemv for 1 row, the few-rows kernel from 2 to
 * 8, sgemm above, split by columns across the 2 threads from 9 rows when N >= 64: on AVX-512 the
 * panel product, each thread packing its own 16-column panels of B, in row tiles of 24, 16, 8, 4,
 * 2 and 1, which 17 to 45 rows use each; elsewhere, and with A transposed, one sgemm per thread),
 * with transposes, alpha, beta and a C that is a bias (N), a full matrix (M, N) or a column
 * (M, 1), against a plain double-precision loop. K = 21 and the column counts leave tails after
 * the kernels' 16-wide blocks: N = 37 is two blocks, N = 229 fourteen (a span of 8 walked 4
 * blocks at a time, then a span of 6: 4 + 1 + 1; panels 7 + 8), and its column split is 112 + 117. */
static void gemm_row_counts(int64_t N) {
    enum { K = 21, MAX_M = 45, MAX_N = 229 };
    static float a[MAX_M * K], b[K * MAX_N], cm[MAX_M * MAX_N];
    uint64_t seed = 0x243f6a8885a308d3ull;
    float *all[3] = {a, b, cm};
    int64_t sizes[3] = {MAX_M * K, K * N, MAX_M * N};
    for (int t = 0; t < 3; t++)
        for (int64_t i = 0; i < sizes[t]; i++) {
            seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
            all[t][i] = (float)((double)(seed >> 11) / 9007199254740992.0 * 2.0 - 1.0);
        }
    /* 1 to 10 rows, then 17, 24, 31, 38 and 45: every tile size of the AVX-512 panel product */
    for (int m = 1; m <= MAX_M; m = m < 10 ? m + 1 : m + 7)
        for (int trans_a = 0; trans_a < 2; trans_a++)
            for (int trans_b = 0; trans_b < 2; trans_b++)
                for (int c_kind = 0; c_kind < 3; c_kind++) {
                    op_case c;
                    case_init(&c, "Gemm", 13, 1);
                    attr_int(&c, "transA", trans_a);
                    attr_int(&c, "transB", trans_b);
                    attr_float(&c, "alpha", 0.5f);
                    attr_float(&c, "beta", 2.0f);
                    case_input(&c, 0, ONYX_DTYPE_FLOAT32, trans_a ? (int64_t[]){K, m} : (int64_t[]){m, K}, 2, a);
                    case_input(&c, 1, ONYX_DTYPE_FLOAT32, trans_b ? (int64_t[]){N, K} : (int64_t[]){K, N}, 2, b);
                    if (c_kind == 0) case_input(&c, 2, ONYX_DTYPE_FLOAT32, (int64_t[]){N}, 1, cm);
                    else if (c_kind == 1) case_input(&c, 2, ONYX_DTYPE_FLOAT32, (int64_t[]){m, N}, 2, cm);
                    else case_input(&c, 2, ONYX_DTYPE_FLOAT32, (int64_t[]){m, 1}, 2, cm);
                    ONYX_CHECK_OK(case_run(&c));
                    static float want[MAX_M * MAX_N];
                    for (int i = 0; i < m; i++)
                        for (int64_t j = 0; j < N; j++) {
                            double sum = 0;
                            for (int k = 0; k < K; k++)
                                sum += (double)(trans_a ? a[k * m + i] : a[i * K + k]) * (trans_b ? b[j * K + k] : b[k * N + j]);
                            float cv = c_kind == 0 ? cm[j] : c_kind == 1 ? cm[i * N + j] : cm[i];
                            want[i * N + j] = (float)(0.5 * sum + 2.0 * cv);
                        }
                    if (c.outputs[0]) {
                        check_shape(c.outputs[0], (int64_t[]){m, N}, 2);
                        ONYX_CHECK_FLOATS(out_f32(&c, 0), want, m * N, 1e-5, 1e-5);
                    }
                    case_free(&c);
                }
}

static void test_gemm_row_counts(void) {
    gemm_row_counts(37);
    gemm_row_counts(229);
}

static void test_matmul_integer_zero_points(void) {
    /* NumPy: (A - 12) @ (B - [0,1]) with A (4,3), B (3,2) uint8 */
    uint8_t a[12] = {11, 7, 3, 10, 6, 2, 9, 5, 1, 8, 4, 0}, b[6] = {1, 4, 2, 5, 3, 6};
    uint8_t a_zero = 12, b_zero[2] = {0, 1};
    op_case c;
    case_init(&c, "MatMulInteger", 10, 1);
    case_input(&c, 0, ONYX_DTYPE_UINT8, (int64_t[]){4, 3}, 2, a);
    case_input(&c, 1, ONYX_DTYPE_UINT8, (int64_t[]){3, 2}, 2, b);
    case_input(&c, 2, ONYX_DTYPE_UINT8, NULL, 0, &a_zero);
    case_input(&c, 3, ONYX_DTYPE_UINT8, (int64_t[]){2}, 1, b_zero);
    ONYX_CHECK_OK(case_run(&c));
    ONYX_CHECK_INT(c.outputs[0]->dtype, ONYX_DTYPE_INT32);
    int32_t want[8] = {-38, -68, -44, -80, -50, -92, -56, -104};
    const int32_t *y = c.outputs[0]->data;
    for (int i = 0; i < 8; i++) ONYX_CHECK_INT(y[i], want[i]);
    case_free(&c);
}

static void test_qlinear_matmul(void) {
    /* A = [[2,4]] (zero 0, scale 0.5), B = [[1],[3]] (zero 1, scale 2), y scale 1, zero 10:
     * (2*0 + 4*2) * 0.5 * 2 / 1 = 8, + 10 = 18 */
    uint8_t a[2] = {2, 4}, b[2] = {1, 3}, a_zero = 0, b_zero = 1, y_zero = 10;
    float a_scale = 0.5f, b_scale = 2.0f, y_scale = 1.0f;
    op_case c;
    case_init(&c, "QLinearMatMul", 10, 1);
    case_input(&c, 0, ONYX_DTYPE_UINT8, (int64_t[]){1, 2}, 2, a);
    case_input(&c, 1, ONYX_DTYPE_FLOAT32, NULL, 0, &a_scale);
    case_input(&c, 2, ONYX_DTYPE_UINT8, NULL, 0, &a_zero);
    case_input(&c, 3, ONYX_DTYPE_UINT8, (int64_t[]){2, 1}, 2, b);
    case_input(&c, 4, ONYX_DTYPE_FLOAT32, NULL, 0, &b_scale);
    case_input(&c, 5, ONYX_DTYPE_UINT8, NULL, 0, &b_zero);
    case_input(&c, 6, ONYX_DTYPE_FLOAT32, NULL, 0, &y_scale);
    case_input(&c, 7, ONYX_DTYPE_UINT8, NULL, 0, &y_zero);
    ONYX_CHECK_OK(case_run(&c));
    check_shape(c.outputs[0], (int64_t[]){1, 1}, 2);
    ONYX_CHECK_INT(((uint8_t *)c.outputs[0]->data)[0], 18);
    case_free(&c);
}

static void run_einsum(const char *equation, int n, const int64_t *const *dims, const int *ranks,
                       const float *const *data, const int64_t *want_dims, int want_rank, const float *want,
                       long want_n) {
    op_case c;
    case_init(&c, "Einsum", 12, 1);
    attr_string(&c, "equation", equation);
    for (int i = 0; i < n; i++) case_input(&c, i, ONYX_DTYPE_FLOAT32, dims[i], ranks[i], data[i]);
    ONYX_CHECK_OK(case_run(&c));
    if (c.outputs[0]->data) {
        check_shape(c.outputs[0], want_dims, want_rank);
        ONYX_CHECK_FLOATS(out_f32(&c, 0), want, want_n, 1e-6, 1e-6);
    }
    case_free(&c);
}

static void test_einsum_patterns(void) {
    /* batched matmul: A (2,2,3) = arange - 7, B (2,3,2) = arange - 7; NumPy einsum */
    float a[12], b[12];
    for (int i = 0; i < 12; i++) a[i] = b[i] = (float)i - 7;
    float want_bmm[8] = {94, 76, 49, 40, 4, 4, 13, 22};
    run_einsum("bij,bjk->bik", 2, (const int64_t *const[]){(int64_t[]){2, 2, 3}, (int64_t[]){2, 3, 2}},
               (int[]){3, 3}, (const float *const[]){a, b}, (int64_t[]){2, 2, 2}, 3, want_bmm, 8);

    /* attention scores: q (1,2,3,4) = arange/8, k (1,2,3,4) = arange/8 - 1 */
    float q[24], k[24];
    for (int i = 0; i < 24; i++) {
        q[i] = (float)i / 8;
        k[i] = (float)i / 8 - 1;
    }
    float want_att[18] = {-0.53125, -0.15625, 0.21875, -2.15625, -0.78125, 0.59375, -3.78125, -1.40625, 0.96875,
                          4.71875,  8.09375,  11.46875, 6.09375, 10.46875, 14.84375, 7.46875, 12.84375, 18.21875};
    run_einsum("bhid,bhjd->bhij", 2, (const int64_t *const[]){(int64_t[]){1, 2, 3, 4}, (int64_t[]){1, 2, 3, 4}},
               (int[]){4, 4}, (const float *const[]){q, k}, (int64_t[]){1, 2, 3, 3}, 4, want_att, 18);

    /* outer product */
    float u[2] = {1, 2}, v[3] = {3, 4, 5};
    float want_outer[6] = {3, 4, 5, 6, 8, 10};
    run_einsum("i,j->ij", 2, (const int64_t *const[]){(int64_t[]){2}, (int64_t[]){3}}, (int[]){1, 1},
               (const float *const[]){u, v}, (int64_t[]){2, 3}, 2, want_outer, 6);

    /* batched diagonal with ellipsis: (2,3,3) = arange */
    float m[18];
    for (int i = 0; i < 18; i++) m[i] = (float)i;
    float want_diag[6] = {0, 4, 8, 9, 13, 17};
    run_einsum("...ii->...i", 1, (const int64_t *const[]){(int64_t[]){2, 3, 3}}, (int[]){3},
               (const float *const[]){m}, (int64_t[]){2, 3}, 2, want_diag, 6);

    /* implicit output (matrix product) and trace: 0 + 4 + 8 = 12 */
    float x[6] = {0, 1, 2, 3, 4, 5};
    float want_mm[4] = {10, 13, 28, 40};
    run_einsum("ij,jk", 2, (const int64_t *const[]){(int64_t[]){2, 3}, (int64_t[]){3, 2}}, (int[]){2, 2},
               (const float *const[]){x, x}, (int64_t[]){2, 2}, 2, want_mm, 4);
    float want_mm_t[4] = {10, 28, 13, 40}; /* the same product written transposed */
    run_einsum("ij,jk->ki", 2, (const int64_t *const[]){(int64_t[]){2, 3}, (int64_t[]){3, 2}}, (int[]){2, 2},
               (const float *const[]){x, x}, (int64_t[]){2, 2}, 2, want_mm_t, 4);
    float want_trace[1] = {12};
    run_einsum("ii", 1, (const int64_t *const[]){(int64_t[]){3, 3}}, (int[]){2}, (const float *const[]){m},
               (int64_t[]){1}, 0, want_trace, 1);
}

/* ---- reductions ---- */

static float x234[24]; /* arange(24) - 7, shape (2,3,4) */

static void fill_x234(void) {
    for (int i = 0; i < 24; i++) x234[i] = (float)i - 7;
}

static void test_reduce_axes_attribute_and_input(void) {
    fill_x234();
    op_case c;
    /* opset 11: axes attribute, keepdims 0; NumPy x.sum((0,2)) = [4, 36, 68] */
    int64_t axes[2] = {0, -1};
    case_init(&c, "ReduceSum", 11, 1);
    attr_ints(&c, "axes", axes, 2);
    attr_int(&c, "keepdims", 0);
    case_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){2, 3, 4}, 3, x234);
    ONYX_CHECK_OK(case_run(&c));
    check_shape(c.outputs[0], (int64_t[]){3}, 1);
    float want_sum[3] = {4, 36, 68};
    ONYX_CHECK_FLOATS(out_f32(&c, 0), want_sum, 3, 0, 1e-6);
    case_free(&c);

    /* opset 13: axes as input, keepdims 1 */
    int64_t axes_in[2] = {0, 2};
    case_init(&c, "ReduceSum", 13, 1);
    case_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){2, 3, 4}, 3, x234);
    case_input(&c, 1, ONYX_DTYPE_INT64, (int64_t[]){2}, 1, axes_in);
    ONYX_CHECK_OK(case_run(&c));
    check_shape(c.outputs[0], (int64_t[]){1, 3, 1}, 3);
    ONYX_CHECK_FLOATS(out_f32(&c, 0), want_sum, 3, 0, 1e-6);
    case_free(&c);

    /* empty axes input with noop_with_empty_axes: identity */
    case_init(&c, "ReduceSum", 13, 1);
    attr_int(&c, "noop_with_empty_axes", 1);
    case_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){2, 3, 4}, 3, x234);
    case_input(&c, 1, ONYX_DTYPE_INT64, (int64_t[]){0}, 1, axes_in);
    ONYX_CHECK_OK(case_run(&c));
    check_shape(c.outputs[0], (int64_t[]){2, 3, 4}, 3);
    ONYX_CHECK_FLOATS(out_f32(&c, 0), x234, 24, 0, 0);
    case_free(&c);

    /* empty axes input without noop: all axes. sum(arange(24) - 7) = 276 - 168 = 108 */
    case_init(&c, "ReduceSum", 13, 1);
    attr_int(&c, "keepdims", 0);
    case_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){2, 3, 4}, 3, x234);
    case_input(&c, 1, ONYX_DTYPE_INT64, (int64_t[]){0}, 1, axes_in);
    ONYX_CHECK_OK(case_run(&c));
    ONYX_CHECK_INT(c.outputs[0]->rank, 0);
    ONYX_CHECK_CLOSE(out_f32(&c, 0)[0], 108.0, 0, 1e-6);
    case_free(&c);

    /* ReduceMean at opset 18 takes axes as an input too */
    int64_t last[1] = {-1};
    case_init(&c, "ReduceMean", 18, 1);
    case_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){2, 3, 4}, 3, x234);
    case_input(&c, 1, ONYX_DTYPE_INT64, (int64_t[]){1}, 1, last);
    ONYX_CHECK_OK(case_run(&c));
    check_shape(c.outputs[0], (int64_t[]){2, 3, 1}, 3);
    float want_mean[6] = {-5.5, -1.5, 2.5, 6.5, 10.5, 14.5};
    ONYX_CHECK_FLOATS(out_f32(&c, 0), want_mean, 6, 0, 1e-6);
    case_free(&c);
}

static void test_reduce_kinds(void) {
    fill_x234();
    op_case c;
    /* ReduceMax over the middle axis (general path): NumPy x.max(1) */
    int64_t middle[1] = {1};
    case_init(&c, "ReduceMax", 13, 1);
    attr_ints(&c, "axes", middle, 1);
    attr_int(&c, "keepdims", 0);
    case_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){2, 3, 4}, 3, x234);
    ONYX_CHECK_OK(case_run(&c));
    float want_max[8] = {1, 2, 3, 4, 13, 14, 15, 16};
    ONYX_CHECK_FLOATS(out_f32(&c, 0), want_max, 8, 0, 0);
    case_free(&c);

    /* ReduceL2 over the last axis: NumPy sqrt((x**2).sum(2)) */
    int64_t last[1] = {2};
    case_init(&c, "ReduceL2", 13, 1);
    attr_ints(&c, "axes", last, 1);
    case_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){2, 3, 4}, 3, x234);
    ONYX_CHECK_OK(case_run(&c));
    float want_l2[6] = {11.224972f, 3.7416575f, 5.4772258f, 13.190906f, 21.118711f, 29.086079f};
    ONYX_CHECK_FLOATS(out_f32(&c, 0), want_l2, 6, 0, 1e-6);
    case_free(&c);

    /* ReduceMin of int32 over axis 0: min(i-7, i+5) = i-7 for the first 12 */
    int32_t xi[24];
    for (int i = 0; i < 24; i++) xi[i] = i - 7;
    int64_t first[1] = {0};
    case_init(&c, "ReduceMin", 13, 1);
    attr_ints(&c, "axes", first, 1);
    attr_int(&c, "keepdims", 0);
    case_input(&c, 0, ONYX_DTYPE_INT32, (int64_t[]){2, 3, 4}, 3, xi);
    ONYX_CHECK_OK(case_run(&c));
    const int32_t *yi = c.outputs[0]->data;
    for (int i = 0; i < 12; i++) ONYX_CHECK_INT(yi[i], i - 7);
    case_free(&c);

    /* products over an empty axis give 1, sums 0, max -inf */
    float dummy[1] = {0};
    const char *ops[3] = {"ReduceProd", "ReduceSum", "ReduceMax"};
    float identity[3] = {1.0f, 0.0f, -INFINITY};
    for (int k = 0; k < 3; k++) {
        case_init(&c, ops[k], 13, 1);
        attr_ints(&c, "axes", last, 1);
        attr_int(&c, "keepdims", 0);
        case_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){2, 3, 0}, 3, dummy);
        if (k == 1) /* ReduceSum 13 takes axes from input 1 */
            case_input(&c, 1, ONYX_DTYPE_INT64, (int64_t[]){1}, 1, last);
        ONYX_CHECK_OK(case_run(&c));
        check_shape(c.outputs[0], (int64_t[]){2, 3}, 2);
        for (int i = 0; i < 6; i++) ONYX_CHECK_CLOSE(out_f32(&c, 0)[i], identity[k], 0, 0);
        case_free(&c);
    }

    /* bad axis names the attribute */
    int64_t bad[1] = {3};
    case_init(&c, "ReduceMean", 13, 1);
    attr_ints(&c, "axes", bad, 1);
    case_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){2, 3, 4}, 3, x234);
    ONYX_CHECK_ERROR(case_run(&c), ONYX_ERR_INVALID_MODEL, "axes entry 3 is out of range for rank 3");
    case_free(&c);
}

static void test_argmax_cumsum_topk(void) {
    op_case c;
    /* ArgMax along axis 1 with ties, first and last index */
    float x[6] = {1, 3, 3, 5, 2, 5};
    for (int last = 0; last < 2; last++) {
        case_init(&c, "ArgMax", 13, 1);
        attr_int(&c, "axis", 1);
        attr_int(&c, "keepdims", 0);
        attr_int(&c, "select_last_index", last);
        case_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){2, 3}, 2, x);
        ONYX_CHECK_OK(case_run(&c));
        check_shape(c.outputs[0], (int64_t[]){2}, 1);
        const int64_t *idx = c.outputs[0]->data;
        ONYX_CHECK_INT(idx[0], last ? 2 : 1);
        ONYX_CHECK_INT(idx[1], last ? 2 : 0);
        case_free(&c);
    }

    /* ArgMin with ties: rows [1,3,3] and [5,2,5] -> 0 and 1 */
    float xm[6] = {1, 3, 3, 5, 2, 5};
    case_init(&c, "ArgMin", 13, 1);
    attr_int(&c, "axis", -1);
    case_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){2, 3}, 2, xm);
    ONYX_CHECK_OK(case_run(&c));
    check_shape(c.outputs[0], (int64_t[]){2, 1}, 2);
    ONYX_CHECK_INT(((int64_t *)c.outputs[0]->data)[0], 0);
    ONYX_CHECK_INT(((int64_t *)c.outputs[0]->data)[1], 1);
    case_free(&c);

    /* CumSum exclusive + reverse over [1,2,3,4]: [9,7,4,0] */
    float v[4] = {1, 2, 3, 4};
    int32_t axis0 = 0;
    case_init(&c, "CumSum", 14, 1);
    attr_int(&c, "exclusive", 1);
    attr_int(&c, "reverse", 1);
    case_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){4}, 1, v);
    case_input(&c, 1, ONYX_DTYPE_INT32, NULL, 0, &axis0);
    ONYX_CHECK_OK(case_run(&c));
    float want_cum[4] = {9, 7, 4, 0};
    ONYX_CHECK_FLOATS(out_f32(&c, 0), want_cum, 4, 0, 0);
    case_free(&c);

    /* CumSum of int64 along axis -1 of (2,2): [[1,3],[3,7]] */
    int64_t vi[4] = {1, 2, 3, 4}, axis_last = -1;
    case_init(&c, "CumSum", 14, 1);
    case_input(&c, 0, ONYX_DTYPE_INT64, (int64_t[]){2, 2}, 2, vi);
    case_input(&c, 1, ONYX_DTYPE_INT64, (int64_t[]){1}, 1, &axis_last);
    ONYX_CHECK_OK(case_run(&c));
    const int64_t *ci = c.outputs[0]->data;
    ONYX_CHECK_INT(ci[0], 1);
    ONYX_CHECK_INT(ci[1], 3);
    ONYX_CHECK_INT(ci[2], 3);
    ONYX_CHECK_INT(ci[3], 7);
    case_free(&c);

    /* TopK k=3 largest and smallest with ties (lower index first) */
    float t[6] = {4, 1, 4, 2, 9, 1};
    int64_t k = 3;
    case_init(&c, "TopK", 11, 2);
    case_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){6}, 1, t);
    case_input(&c, 1, ONYX_DTYPE_INT64, (int64_t[]){1}, 1, &k);
    ONYX_CHECK_OK(case_run(&c));
    float want_top[3] = {9, 4, 4};
    int64_t want_top_idx[3] = {4, 0, 2};
    ONYX_CHECK_FLOATS(out_f32(&c, 0), want_top, 3, 0, 0);
    for (int i = 0; i < 3; i++) ONYX_CHECK_INT(((int64_t *)c.outputs[1]->data)[i], want_top_idx[i]);
    case_free(&c);

    case_init(&c, "TopK", 11, 2);
    attr_int(&c, "largest", 0);
    case_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){6}, 1, t);
    case_input(&c, 1, ONYX_DTYPE_INT64, (int64_t[]){1}, 1, &k);
    ONYX_CHECK_OK(case_run(&c));
    float want_low[3] = {1, 1, 2};
    int64_t want_low_idx[3] = {1, 5, 3};
    ONYX_CHECK_FLOATS(out_f32(&c, 0), want_low, 3, 0, 0);
    for (int i = 0; i < 3; i++) ONYX_CHECK_INT(((int64_t *)c.outputs[1]->data)[i], want_low_idx[i]);
    case_free(&c);

    int64_t k_big = 7;
    case_init(&c, "TopK", 11, 2);
    case_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){6}, 1, t);
    case_input(&c, 1, ONYX_DTYPE_INT64, (int64_t[]){1}, 1, &k_big);
    ONYX_CHECK_ERROR(case_run(&c), ONYX_ERR_INVALID_ARGUMENT, "K is 7 but axis 0 of input 0 (X) has size 6");
    case_free(&c);
}

/* ---- normalisation ---- */

/* ---- onyx Attention ---- */

/* The definition, in double: o[b,i,h,:] = sum_j softmax_j(scale q[b,i,h,:].k[b,j,h,:] + bias) v[b,j,h,:],
 * K and V of batch kb (1: shared), bias of dims bd (rank br, broadcast to (b, h, sq, sk); br 0: none). */
static void attention_reference(const float *q, const float *k, const float *v, const float *bias, const int64_t *bd,
                                int br, int64_t B, int64_t SQ, int64_t SK, int64_t H, int64_t D, int64_t DV,
                                int64_t KB, float scale, float *o) {
    int64_t full[4] = {B, H, SQ, SK}, bdims[4] = {1, 1, 1, 1};
    for (int d = 0; d < br; d++) bdims[4 - br + d] = bd[d];
    for (int64_t b = 0; b < B; b++)
        for (int64_t i = 0; i < SQ; i++)
            for (int64_t h = 0; h < H; h++) {
                int64_t kbi = KB == 1 ? 0 : b;
                double s[64], m = -INFINITY, sum = 0;
                for (int64_t j = 0; j < SK; j++) {
                    double dot = 0;
                    for (int64_t d = 0; d < D; d++)
                        dot += (double)q[((b * SQ + i) * H + h) * D + d] * k[((kbi * SK + j) * H + h) * D + d];
                    s[j] = dot * scale;
                    if (br) {
                        int64_t at[4] = {b, h, i, j}, off = 0;
                        for (int d = 0; d < 4; d++) off = off * bdims[d] + (bdims[d] == 1 ? 0 : at[d]);
                        s[j] += bias[off];
                    }
                    if (s[j] > m) m = s[j];
                }
                (void)full;
                for (int64_t j = 0; j < SK; j++) sum += (s[j] = exp(s[j] - m));
                for (int64_t c = 0; c < DV; c++) {
                    double acc = 0;
                    for (int64_t j = 0; j < SK; j++) acc += s[j] / sum * v[((kbi * SK + j) * H + h) * DV + c];
                    o[((b * SQ + i) * H + h) * DV + c] = (float)acc;
                }
            }
}

static void attention_check(int64_t B, int64_t SQ, int64_t SK, int64_t H, int64_t D, int64_t DV, int64_t KB,
                            const int64_t *bd, int br, float scale, onyx_dtype dt) {
    enum { N = 1024 };
    float q[N], k[N], v[N], bias[N], want[N], got[N];
    uint16_t q16[N], k16[N], v16[N], b16[N];
    for (int i = 0; i < N; i++) {
        q[i] = (float)sin(0.37 * i) * 1.5f;
        k[i] = (float)cos(0.91 * i + 0.2) * 1.2f;
        v[i] = (float)sin(1.3 * i + 0.5) * 2.0f;
        bias[i] = i % 5 == 4 ? -1e4f : 0.25f * (float)(i % 3); /* some keys masked */
    }
    if (dt == ONYX_DTYPE_FLOAT16) /* the reference reads the values float16 holds */
        for (int i = 0; i < N; i++) {
            q[i] = onyx_f16_to_f32(q16[i] = onyx_f32_to_f16(q[i]));
            k[i] = onyx_f16_to_f32(k16[i] = onyx_f32_to_f16(k[i]));
            v[i] = onyx_f16_to_f32(v16[i] = onyx_f32_to_f16(v[i]));
            bias[i] = onyx_f16_to_f32(b16[i] = onyx_f32_to_f16(bias[i]));
        }
    int half = dt == ONYX_DTYPE_FLOAT16;
    op_case c;
    case_init(&c, "Attention", 1, 1);
    c.node.domain = "onyx";
    case_input(&c, 0, dt, (int64_t[]){B, SQ, H, D}, 4, half ? (void *)q16 : (void *)q);
    case_input(&c, 1, dt, (int64_t[]){KB, SK, H, D}, 4, half ? (void *)k16 : (void *)k);
    case_input(&c, 2, dt, (int64_t[]){KB, SK, H, DV}, 4, half ? (void *)v16 : (void *)v);
    if (br) case_input(&c, 3, dt, bd, br, half ? (void *)b16 : (void *)bias);
    if (scale != 1.0f) attr_float(&c, "scale", scale);
    ONYX_CHECK_OK(case_run(&c));
    check_shape(c.outputs[0], (int64_t[]){B, SQ, H, DV}, 4);
    int64_t n = B * SQ * H * DV;
    if (SK) attention_reference(q, k, v, bias, bd, br, B, SQ, SK, H, D, DV, KB, scale, want);
    else memset(want, 0, sizeof want); /* no keys: the weighted sum of nothing */
    for (int64_t i = 0; i < n; i++)
        got[i] = half ? onyx_f16_to_f32(((const uint16_t *)c.outputs[0]->data)[i]) : out_f32(&c, 0)[i];
    ONYX_CHECK_FLOATS(got, want, n, half ? 2e-3 : 1e-5, half ? 2e-3 : 1e-5);
    case_free(&c);
}

static void test_attention(void) {
    static const onyx_dtype types[2] = {ONYX_DTYPE_FLOAT32, ONYX_DTYPE_FLOAT16};
    for (int t = 0; t < 2; t++) {
        attention_check(2, 3, 5, 2, 4, 4, 2, (int64_t[]){2, 1, 1, 5}, 4, 0.5f, types[t]); /* a padding mask */
        attention_check(2, 3, 5, 2, 4, 3, 2, (int64_t[]){2, 2, 3, 5}, 4, 1.0f, types[t]); /* full bias, V narrower */
        attention_check(3, 2, 4, 2, 5, 6, 1, (int64_t[]){2, 1, 4}, 3, 0.25f, types[t]);   /* K, V shared; 3-D bias */
        attention_check(1, 4, 6, 3, 2, 2, 1, NULL, 0, 1.0f, types[t]);                     /* no bias */
        attention_check(2, 3, 0, 2, 4, 4, 2, NULL, 0, 1.0f, types[t]);                     /* no keys */
    }
    /* a bias wider than the scores, K of another batch, a rank-3 Q: errors naming the input */
    float data[256] = {0};
    const int64_t qd[4] = {1, 3, 2, 4}, kd[4] = {1, 5, 2, 4}, bad_b[4] = {4, 2, 3, 5}, kd2[4] = {3, 5, 2, 4};
    const int64_t *ks[3] = {kd, kd2, kd};
    for (int e = 0; e < 3; e++) {
        op_case c;
        case_init(&c, "Attention", 1, 1);
        c.node.domain = "onyx";
        case_input(&c, 0, ONYX_DTYPE_FLOAT32, qd, e == 2 ? 3 : 4, data);
        case_input(&c, 1, ONYX_DTYPE_FLOAT32, ks[e], 4, data);
        case_input(&c, 2, ONYX_DTYPE_FLOAT32, ks[e], 4, data);
        if (e == 0) case_input(&c, 3, ONYX_DTYPE_FLOAT32, bad_b, 4, data);
        ONYX_CHECK_INT(case_run(&c), ONYX_ERR_INVALID_ARGUMENT);
        ONYX_CHECK(strstr(onyx_last_error(), e == 0 ? "input 3 (B)" : e == 1 ? "do not agree" : "input 0 (Q)") != NULL);
        case_free(&c);
    }
}

static void test_softmax_axis_semantics(void) {
    float x[8];
    for (int i = 0; i < 8; i++) x[i] = (float)i / 4;
    op_case c;
    /* opset 13, axis 1 of (2,2,2): NumPy */
    case_init(&c, "Softmax", 13, 1);
    attr_int(&c, "axis", 1);
    case_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){2, 2, 2}, 3, x);
    ONYX_CHECK_OK(case_run(&c));
    float want13[8] = {0.37754068f, 0.37754068f, 0.62245935f, 0.62245929f,
                       0.37754068f, 0.37754071f, 0.62245929f, 0.62245935f};
    ONYX_CHECK_FLOATS(out_f32(&c, 0), want13, 8, 1e-6, 1e-5);
    case_free(&c);

    /* opset 11, axis 1: flattened to (2,4) */
    case_init(&c, "Softmax", 11, 1);
    attr_int(&c, "axis", 1);
    case_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){2, 2, 2}, 3, x);
    ONYX_CHECK_OK(case_run(&c));
    float want11[8] = {0.16529618f, 0.21224450f, 0.27252731f, 0.34993201f,
                       0.16529618f, 0.21224450f, 0.27252731f, 0.34993201f};
    ONYX_CHECK_FLOATS(out_f32(&c, 0), want11, 8, 1e-6, 1e-5);
    case_free(&c);

    case_init(&c, "LogSoftmax", 11, 1);
    case_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){2, 2, 2}, 3, x);
    ONYX_CHECK_OK(case_run(&c));
    float want_log[8] = {-1.8000164f, -1.5500164f, -1.3000164f, -1.0500164f,
                         -1.8000164f, -1.5500164f, -1.3000164f, -1.0500164f};
    ONYX_CHECK_FLOATS(out_f32(&c, 0), want_log, 8, 1e-6, 1e-5);
    case_free(&c);

    /* float16 along the last axis of (2,4) (the 2-D view above), checked against want11 */
    uint16_t xh[8];
    for (int i = 0; i < 8; i++) xh[i] = onyx_f32_to_f16(x[i]);
    case_init(&c, "Softmax", 13, 1);
    case_input(&c, 0, ONYX_DTYPE_FLOAT16, (int64_t[]){2, 4}, 2, xh);
    ONYX_CHECK_OK(case_run(&c));
    const uint16_t *yh = c.outputs[0]->data;
    for (int i = 0; i < 8; i++) ONYX_CHECK_CLOSE(onyx_f16_to_f32(yh[i]), want11[i], 1e-3, 1e-3);
    case_free(&c);

    /* large values stay finite */
    float big[3] = {1000, 1001, 1002};
    case_init(&c, "Softmax", 13, 1);
    case_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){1, 3}, 2, big);
    ONYX_CHECK_OK(case_run(&c));
    float want_big[3] = {0.09003057f, 0.24472847f, 0.66524096f};
    ONYX_CHECK_FLOATS(out_f32(&c, 0), want_big, 3, 1e-6, 1e-5);
    case_free(&c);
}

/* float16 rows big enough for the threaded path, against the softmax formula evaluated in double
 * right here on the float16-rounded inputs. */
static void test_softmax_float16_many_rows(void) {
    enum { ROWS = 64, COLS = 512 };
    static uint16_t xh[ROWS * COLS];
    static double want[ROWS * COLS];
    for (int i = 0; i < ROWS * COLS; i++) xh[i] = onyx_f32_to_f16(3.0f * sinf((float)i));
    for (int r = 0; r < ROWS; r++) {
        double max = -INFINITY, sum = 0;
        for (int c = 0; c < COLS; c++) max = fmax(max, onyx_f16_to_f32(xh[r * COLS + c]));
        for (int c = 0; c < COLS; c++) sum += exp(onyx_f16_to_f32(xh[r * COLS + c]) - max);
        for (int c = 0; c < COLS; c++) want[r * COLS + c] = exp(onyx_f16_to_f32(xh[r * COLS + c]) - max) / sum;
    }
    op_case c;
    case_init(&c, "Softmax", 13, 1);
    c.ctx.threads = 4;
    case_input(&c, 0, ONYX_DTYPE_FLOAT16, (int64_t[]){ROWS, COLS}, 2, xh);
    ONYX_CHECK_OK(case_run(&c));
    const uint16_t *yh = c.outputs[0]->data;
    int bad = 0;
    for (int i = 0; i < ROWS * COLS; i++) {
        double got = onyx_f16_to_f32(yh[i]);
        if (fabs(got - want[i]) > 1e-3 * fabs(want[i]) + 1e-7) {
            if (bad++ < 3) fprintf(stderr, "element %d is %g, expected %g\n", i, got, want[i]);
        }
    }
    ONYX_CHECK_INT(bad, 0);
    case_free(&c);
}

static void test_hardmax_first_maximum(void) {
    /* rows [1,3,3] and [5,2,5]: the first maximum wins */
    float x[6] = {1, 3, 3, 5, 2, 5};
    op_case c;
    case_init(&c, "Hardmax", 13, 1);
    case_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){2, 3}, 2, x);
    ONYX_CHECK_OK(case_run(&c));
    float want[6] = {0, 1, 0, 1, 0, 0};
    ONYX_CHECK_FLOATS(out_f32(&c, 0), want, 6, 0, 0);
    case_free(&c);
}

static void test_classification_losses(void) {
    /* NLL with weights [1,2,3]: targets [2,0] pick 3*3 = 9 and 1*0.5 = 0.5; mean = 9.5 / (3+1) */
    float logp[6] = {-1, -2, -3, -0.5f, -1.5f, -2.5f}, weight[3] = {1, 2, 3};
    int64_t target[2] = {2, 0};
    op_case c;
    case_init(&c, "NegativeLogLikelihoodLoss", 13, 1);
    case_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){2, 3}, 2, logp);
    case_input(&c, 1, ONYX_DTYPE_INT64, (int64_t[]){2}, 1, target);
    case_input(&c, 2, ONYX_DTYPE_FLOAT32, (int64_t[]){3}, 1, weight);
    ONYX_CHECK_OK(case_run(&c));
    ONYX_CHECK_INT(c.outputs[0]->rank, 0);
    ONYX_CHECK_CLOSE(out_f32(&c, 0)[0], 2.375, 0, 1e-6);
    case_free(&c);

    /* SoftmaxCrossEntropyLoss of equal scores [0,0] with label 1: ln 2; log_prob = [-ln 2, -ln 2] */
    float scores[2] = {0, 0};
    int32_t label = 1;
    case_init(&c, "SoftmaxCrossEntropyLoss", 13, 2);
    case_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){1, 2}, 2, scores);
    case_input(&c, 1, ONYX_DTYPE_INT32, (int64_t[]){1}, 1, &label);
    ONYX_CHECK_OK(case_run(&c));
    ONYX_CHECK_CLOSE(out_f32(&c, 0)[0], 0.69314718, 0, 1e-6);
    ONYX_CHECK_CLOSE(out_f32(&c, 1)[1], -0.69314718, 0, 1e-6);
    case_free(&c);
}

static void test_channel_norms_and_global_pools(void) {
    /* X (1,2,2): channel 0 = [1,3], channel 1 = [2,6] */
    float x[4] = {1, 3, 2, 6}, scale[2] = {1, 2}, bias[2] = {0, 1};
    op_case c;
    /* InstanceNormalization, epsilon 0: channel 0 -> [-1,1]; channel 1 -> 2*[-1,1] + 1 = [-1,3] */
    case_init(&c, "InstanceNormalization", 6, 1);
    attr_float(&c, "epsilon", 0.0f);
    case_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){1, 2, 2}, 3, x);
    case_input(&c, 1, ONYX_DTYPE_FLOAT32, (int64_t[]){2}, 1, scale);
    case_input(&c, 2, ONYX_DTYPE_FLOAT32, (int64_t[]){2}, 1, bias);
    ONYX_CHECK_OK(case_run(&c));
    float want_in[4] = {-1, 1, -1, 3};
    ONYX_CHECK_FLOATS(out_f32(&c, 0), want_in, 4, 1e-6, 1e-6);
    case_free(&c);

    /* BatchNormalization (inference) with mean [1,2], var [4,16], epsilon 0:
     * channel 0: (x-1)/2 = [0,1]; channel 1: 2*(x-2)/4 + 1 = [1,3] */
    float mean[2] = {1, 2}, var[2] = {4, 16};
    case_init(&c, "BatchNormalization", 15, 1);
    attr_float(&c, "epsilon", 0.0f);
    case_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){1, 2, 2}, 3, x);
    case_input(&c, 1, ONYX_DTYPE_FLOAT32, (int64_t[]){2}, 1, scale);
    case_input(&c, 2, ONYX_DTYPE_FLOAT32, (int64_t[]){2}, 1, bias);
    case_input(&c, 3, ONYX_DTYPE_FLOAT32, (int64_t[]){2}, 1, mean);
    case_input(&c, 4, ONYX_DTYPE_FLOAT32, (int64_t[]){2}, 1, var);
    ONYX_CHECK_OK(case_run(&c));
    float want_bn[4] = {0, 1, 1, 3};
    ONYX_CHECK_FLOATS(out_f32(&c, 0), want_bn, 4, 1e-6, 1e-6);
    case_free(&c);

    /* global pools: averages [2,4], maxima [3,6], shape (1,2,1) */
    const char *ops[2] = {"GlobalAveragePool", "GlobalMaxPool"};
    float want_pool[2][2] = {{2, 4}, {3, 6}};
    for (int k = 0; k < 2; k++) {
        case_init(&c, ops[k], 1, 1);
        case_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){1, 2, 2}, 3, x);
        ONYX_CHECK_OK(case_run(&c));
        check_shape(c.outputs[0], (int64_t[]){1, 2, 1}, 3);
        ONYX_CHECK_FLOATS(out_f32(&c, 0), want_pool[k], 2, 0, 1e-6);
        case_free(&c);
    }
}

static void test_det_mvn_lrn(void) {
    /* det [[1,2],[3,4]] = -2; det [[0,1],[1,0]] = -1 (needs a row swap) */
    float m[8] = {1, 2, 3, 4, 0, 1, 1, 0};
    op_case c;
    case_init(&c, "Det", 11, 1);
    case_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){2, 2, 2}, 3, m);
    ONYX_CHECK_OK(case_run(&c));
    check_shape(c.outputs[0], (int64_t[]){2}, 1);
    float want_det[2] = {-2, -1};
    ONYX_CHECK_FLOATS(out_f32(&c, 0), want_det, 2, 1e-6, 1e-6);
    case_free(&c);

    /* MeanVarianceNormalization over axis 1 of [[1,3]]: mean 2, std 1 -> [-1, 1] */
    float x[2] = {1, 3};
    int64_t axes[1] = {1};
    case_init(&c, "MeanVarianceNormalization", 13, 1);
    attr_ints(&c, "axes", axes, 1);
    case_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){1, 2}, 2, x);
    ONYX_CHECK_OK(case_run(&c));
    float want_mvn[2] = {-1, 1};
    ONYX_CHECK_FLOATS(out_f32(&c, 0), want_mvn, 2, 1e-6, 1e-6);
    case_free(&c);

    /* LRN size 1, alpha 1, beta 1, bias 1 on x = 2: 2 / (1 + 4) = 0.4 */
    float two = 2;
    case_init(&c, "LRN", 13, 1);
    attr_int(&c, "size", 1);
    attr_float(&c, "alpha", 1);
    attr_float(&c, "beta", 1);
    case_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){1, 1}, 2, &two);
    ONYX_CHECK_OK(case_run(&c));
    ONYX_CHECK_CLOSE(out_f32(&c, 0)[0], 0.4, 0, 1e-6);
    case_free(&c);
}

static void test_layer_norm_with_statistics(void) {
    float x[8] = {1, 2, 3, 4, 2, 4, 6, 9}, scale[4] = {1, 0.5f, 2, -1}, bias[4] = {0, 1, 0, 1};
    op_case c;
    case_init(&c, "LayerNormalization", 17, 3);
    case_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){2, 4}, 2, x);
    case_input(&c, 1, ONYX_DTYPE_FLOAT32, (int64_t[]){4}, 1, scale);
    case_input(&c, 2, ONYX_DTYPE_FLOAT32, (int64_t[]){4}, 1, bias);
    ONYX_CHECK_OK(case_run(&c));
    float want[8] = {-1.3416355f, 0.7763941f, 0.8944237f, -0.3416355f,
                     -1.2567564f, 0.7583160f, 0.5800414f, -0.4501035f};
    ONYX_CHECK_FLOATS(out_f32(&c, 0), want, 8, 1e-5, 1e-5);
    check_shape(c.outputs[1], (int64_t[]){2, 1}, 2);
    float want_mean[2] = {2.5f, 5.25f}, want_inv[2] = {0.8944237f, 0.3866943f};
    ONYX_CHECK_FLOATS(out_f32(&c, 1), want_mean, 2, 1e-6, 1e-6);
    ONYX_CHECK_FLOATS(out_f32(&c, 2), want_inv, 2, 1e-6, 1e-5);
    case_free(&c);

    /* bfloat16 input gives the same within bfloat16 precision */
    uint16_t xb[8], sb[4], bb[4];
    for (int i = 0; i < 8; i++) xb[i] = onyx_f32_to_bf16(x[i]);
    for (int i = 0; i < 4; i++) {
        sb[i] = onyx_f32_to_bf16(scale[i]);
        bb[i] = onyx_f32_to_bf16(bias[i]);
    }
    case_init(&c, "LayerNormalization", 17, 1);
    case_input(&c, 0, ONYX_DTYPE_BFLOAT16, (int64_t[]){2, 4}, 2, xb);
    case_input(&c, 1, ONYX_DTYPE_BFLOAT16, (int64_t[]){4}, 1, sb);
    case_input(&c, 2, ONYX_DTYPE_BFLOAT16, (int64_t[]){4}, 1, bb);
    ONYX_CHECK_OK(case_run(&c));
    const uint16_t *yb = c.outputs[0]->data;
    for (int i = 0; i < 8; i++) ONYX_CHECK_CLOSE(onyx_bf16_to_f32(yb[i]), want[i], 1e-2, 1e-2);
    case_free(&c);

    float bad_scale[3] = {1, 1, 1};
    case_init(&c, "LayerNormalization", 17, 1);
    case_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){2, 4}, 2, x);
    case_input(&c, 1, ONYX_DTYPE_FLOAT32, (int64_t[]){3}, 1, bad_scale);
    ONYX_CHECK_ERROR(case_run(&c), ONYX_ERR_INVALID_ARGUMENT, "input 1 (Scale) has shape [3] but X is [2,4]");
    case_free(&c);
}

/* The RMS norms: y = x / sqrt(mean(x^2) + 1e-5) * scale (NumPy, double), no mean, no bias;
 * SimplifiedLayerNormalization's second output is the InvStdDev. */
static void test_rms_norm(void) {
    float x[8] = {1, 2, 3, 4, 2, 4, 6, 9}, scale[4] = {1, 0.5f, 2, -1};
    float want[8] = {0.36514813f, 0.36514813f, 2.19088877f, -1.46059251f,
                     0.34174301f, 0.34174301f, 2.05045808f, -1.53784356f};
    float want_inv[2] = {0.36514813f, 0.17087151f};
    op_case c;
    case_init(&c, "SimplifiedLayerNormalization", 1, 2);
    c.node.domain = "com.microsoft";
    case_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){2, 4}, 2, x);
    case_input(&c, 1, ONYX_DTYPE_FLOAT32, (int64_t[]){4}, 1, scale);
    ONYX_CHECK_OK(case_run(&c));
    ONYX_CHECK_FLOATS(out_f32(&c, 0), want, 8, 1e-5, 1e-5);
    check_shape(c.outputs[1], (int64_t[]){2, 1}, 2);
    ONYX_CHECK_FLOATS(out_f32(&c, 1), want_inv, 2, 1e-6, 1e-5);
    case_free(&c);

    /* RMSNormalization (opset 23), float16 and float64 */
    uint16_t xh[8], sh[4];
    for (int i = 0; i < 8; i++) xh[i] = onyx_f32_to_f16(x[i]);
    for (int i = 0; i < 4; i++) sh[i] = onyx_f32_to_f16(scale[i]);
    case_init(&c, "RMSNormalization", 23, 1);
    case_input(&c, 0, ONYX_DTYPE_FLOAT16, (int64_t[]){2, 4}, 2, xh);
    case_input(&c, 1, ONYX_DTYPE_FLOAT16, (int64_t[]){4}, 1, sh);
    ONYX_CHECK_OK(case_run(&c));
    const uint16_t *yh = c.outputs[0]->data;
    for (int i = 0; i < 8; i++) ONYX_CHECK_CLOSE(onyx_f16_to_f32(yh[i]), want[i], 2e-3, 2e-3);
    case_free(&c);
    double xd[8], sd[4];
    for (int i = 0; i < 8; i++) xd[i] = x[i];
    for (int i = 0; i < 4; i++) sd[i] = scale[i];
    case_init(&c, "RMSNormalization", 23, 1);
    case_input(&c, 0, ONYX_DTYPE_FLOAT64, (int64_t[]){2, 4}, 2, xd);
    case_input(&c, 1, ONYX_DTYPE_FLOAT64, (int64_t[]){4}, 1, sd);
    ONYX_CHECK_OK(case_run(&c));
    const double *yd = c.outputs[0]->data;
    for (int i = 0; i < 8; i++) ONYX_CHECK_CLOSE(yd[i], want[i], 1e-6, 1e-6);
    case_free(&c);

    float bad_scale[3] = {1, 1, 1};
    case_init(&c, "RMSNormalization", 23, 1);
    case_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){2, 4}, 2, x);
    case_input(&c, 1, ONYX_DTYPE_FLOAT32, (int64_t[]){3}, 1, bad_scale);
    ONYX_CHECK_ERROR(case_run(&c), ONYX_ERR_INVALID_ARGUMENT,
                     "RMSNormalization: input 1 (Scale) has shape [3] but X is [2,4]");
    case_free(&c);
}

/* ---- quantization ---- */

static void test_quantize_round_half_even_and_saturate(void) {
    /* rint(x / 1) + 10 clipped to [0,255]: NumPy */
    float x[8] = {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, 300, -300, 7};
    float scale = 1.0f;
    uint8_t zero = 10;
    op_case c;
    case_init(&c, "QuantizeLinear", 13, 1);
    case_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){8}, 1, x);
    case_input(&c, 1, ONYX_DTYPE_FLOAT32, NULL, 0, &scale);
    case_input(&c, 2, ONYX_DTYPE_UINT8, NULL, 0, &zero);
    ONYX_CHECK_OK(case_run(&c));
    uint8_t want[8] = {10, 12, 12, 10, 8, 255, 0, 17};
    const uint8_t *y = c.outputs[0]->data;
    for (int i = 0; i < 8; i++) ONYX_CHECK_INT(y[i], want[i]);
    case_free(&c);

    /* per-axis int8 on axis 1 of (2,2): scales [1, 0.5], zero points [0, -1] */
    float xa[4] = {3, 3, -200, 1.25f}, scales[2] = {1, 0.5f};
    int8_t zeros[2] = {0, -1};
    case_init(&c, "QuantizeLinear", 13, 1);
    case_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){2, 2}, 2, xa);
    case_input(&c, 1, ONYX_DTYPE_FLOAT32, (int64_t[]){2}, 1, scales);
    case_input(&c, 2, ONYX_DTYPE_INT8, (int64_t[]){2}, 1, zeros);
    ONYX_CHECK_OK(case_run(&c));
    ONYX_CHECK_INT(c.outputs[0]->dtype, ONYX_DTYPE_INT8);
    int8_t want_axis[4] = {3, 5, -128, 1}; /* 3; 6-1; -200 saturates; rint(2.5)=2, -1 -> 1 */
    const int8_t *ya = c.outputs[0]->data;
    for (int i = 0; i < 4; i++) ONYX_CHECK_INT(ya[i], want_axis[i]);
    case_free(&c);

    /* DequantizeLinear per axis: (x - zp) * scale */
    int8_t q[4] = {3, 5, -128, 1};
    case_init(&c, "DequantizeLinear", 13, 1);
    case_input(&c, 0, ONYX_DTYPE_INT8, (int64_t[]){2, 2}, 2, q);
    case_input(&c, 1, ONYX_DTYPE_FLOAT32, (int64_t[]){2}, 1, scales);
    case_input(&c, 2, ONYX_DTYPE_INT8, (int64_t[]){2}, 1, zeros);
    ONYX_CHECK_OK(case_run(&c));
    float want_deq[4] = {3, 3, -128, 1};
    ONYX_CHECK_FLOATS(out_f32(&c, 0), want_deq, 4, 0, 1e-6);
    case_free(&c);
}

static void test_dynamic_quantize(void) {
    /* x in [-1, 2]: scale = 3/255, zero point = rint(1 / scale) = rint(85) = 85 */
    float x[4] = {-1, 0, 1, 2};
    op_case c;
    case_init(&c, "DynamicQuantizeLinear", 11, 3);
    case_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){4}, 1, x);
    ONYX_CHECK_OK(case_run(&c));
    ONYX_CHECK_CLOSE(out_f32(&c, 1)[0], 3.0 / 255.0, 0, 1e-6);
    ONYX_CHECK_INT(((uint8_t *)c.outputs[2]->data)[0], 85);
    uint8_t want[4] = {0, 85, 170, 255};
    for (int i = 0; i < 4; i++) ONYX_CHECK_INT(((uint8_t *)c.outputs[0]->data)[i], want[i]);
    case_free(&c);
}

int main(void) {
    ONYX_TEST_RUN(test_attention);
    ONYX_TEST_RUN(test_matmul_2d);
    ONYX_TEST_RUN(test_matmul_broadcast_batch);
    ONYX_TEST_RUN(test_matmul_vector_promotion);
    ONYX_TEST_RUN(test_matmul_empty_inner_gives_zeros);
    ONYX_TEST_RUN(test_matmul_shape_error);
    ONYX_TEST_RUN(test_matmul_float16_and_int64);
    ONYX_TEST_RUN(test_float16_bulk_conversion);
    ONYX_TEST_RUN(test_gemm_transposes_and_bias);
    ONYX_TEST_RUN(test_gemm_row_counts);
    ONYX_TEST_RUN(test_matmul_bias);
    ONYX_TEST_RUN(test_matmul_bias_transposed);
    ONYX_TEST_RUN(test_matmul_transposed_batched);
    ONYX_TEST_RUN(test_matmul_packed_panels);
    ONYX_TEST_RUN(test_matmul_integer_zero_points);
    ONYX_TEST_RUN(test_qlinear_matmul);
    ONYX_TEST_RUN(test_einsum_patterns);
    ONYX_TEST_RUN(test_reduce_axes_attribute_and_input);
    ONYX_TEST_RUN(test_reduce_kinds);
    ONYX_TEST_RUN(test_argmax_cumsum_topk);
    ONYX_TEST_RUN(test_softmax_axis_semantics);
    ONYX_TEST_RUN(test_softmax_float16_many_rows);
    ONYX_TEST_RUN(test_hardmax_first_maximum);
    ONYX_TEST_RUN(test_classification_losses);
    ONYX_TEST_RUN(test_channel_norms_and_global_pools);
    ONYX_TEST_RUN(test_det_mvn_lrn);
    ONYX_TEST_RUN(test_layer_norm_with_statistics);
    ONYX_TEST_RUN(test_rms_norm);
    ONYX_TEST_RUN(test_quantize_round_half_even_and_saturate);
    ONYX_TEST_RUN(test_dynamic_quantize);
    return onyx_test_finish();
}
