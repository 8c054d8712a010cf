/*
 * test_cpu_layout.c - unit tests of the CPU layout, indexing and shape kernels (layout.c,
 * gather.c, generate.c) called through onyx_cpu_layout_kernels with hand-built kernel contexts.
 *
 * Each test builds a one-node context (op, opset, attributes, borrowed input data), finds the row
 * with onyx_kernel_lookup, runs prepare and run, and compares with values worked out by hand or
 * with NumPy when the test was written (hard-coded here), or with a closed form of the index
 * (large Transpose/Concat/Slice cases that exercise the blocked and multi-threaded paths).
 */
#include <stdint.h>
#include <string.h>

#include "core/alloc.h"
#include "core/dtype.h"
#include "core/tensor.h"
#include "harness.h"
#include "providers/cpu/cpu_tables.h"
#include "providers/kernel.h"

#define CASE_MAX_IO 6
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
    c->node.n_outputs = n_outputs;
    for (int i = 0; i < n_outputs; i++) {
        onyx_tensor_init(&c->out_store[i]);
        c->outputs[i] = &c->out_store[i];
    }
    c->ctx.node = &c->node;
    c->ctx.inputs = c->inputs;
    c->ctx.outputs = c->outputs;
    c->ctx.n_outputs = n_outputs;
    c->ctx.threads = 4;
}

static onyx_attr *case_attr(op_case *c, const char *name, onyx_attr_type type) {
    onyx_attr *a = &c->attrs[c->node.n_attrs++];
    a->name = name;
    a->type = type;
    return a;
}
static void attr_int(op_case *c, const char *name, int64_t v) { case_attr(c, name, ONYX_ATTR_INT)->i = v; }
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

/* Input i views data (not copied). */
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
    const onyx_kernel_def *tables[] = {onyx_cpu_layout_kernels, NULL};
    char why[256];
    onyx_dtype dt = c->inputs[0] ? c->inputs[0]->dtype : ONYX_DTYPE_UNDEFINED;
    const onyx_kernel_def *def = onyx_kernel_lookup(tables, c->node.op_type, "", c->node.opset, dt, why, sizeof why);
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
        if (c->outputs[i]) {
            /* STRING outputs hold shallow copies of the inputs' strings: do not free them */
            if (c->outputs[i]->dtype == ONYX_DTYPE_STRING && c->outputs[i]->data)
                memset(c->outputs[i]->data, 0, c->outputs[i]->nbytes);
            onyx_tensor_release(c->outputs[i]);
        }
    onyx_free_aligned(c->workspace);
    c->workspace = NULL;
}

static void check_shape(const onyx_tensor *t, const int64_t *dims, int rank) {
    ONYX_CHECK_INT(t->rank, rank);
    for (int d = 0; d < rank && d < t->rank; d++) ONYX_CHECK_INT(t->dims[d], dims[d]);
}

static void check_i64(const onyx_tensor *t, const int64_t *want, int64_t n) {
    ONYX_CHECK_INT(onyx_shape_numel(t->dims, t->rank), n);
    const int64_t *got = t->data;
    for (int64_t i = 0; i < n; i++) {
        if (got[i] != want[i]) {
            ONYX_CHECK_INT(got[i], want[i]);
            fprintf(stderr, "  at element %lld\n", (long long)i);
            return;
        }
    }
}

static void check_f32(const onyx_tensor *t, const float *want, int64_t n) {
    ONYX_CHECK_INT(onyx_shape_numel(t->dims, t->rank), n);
    ONYX_CHECK_FLOATS((const float *)t->data, want, n, 0, 0);
}

/* ---- Reshape, Flatten, Squeeze, Unsqueeze ---- */

static void test_reshape_zero_and_infer(void) {
    int64_t x[6] = {1, 2, 3, 4, 5, 6}, shape[3] = {0, -1, 1};
    op_case c;
    case_init(&c, "Reshape", 14, 1);
    case_input(&c, 0, ONYX_DTYPE_INT64, (int64_t[]){2, 3}, 2, x);
    case_input(&c, 1, ONYX_DTYPE_INT64, (int64_t[]){3}, 1, shape);
    ONYX_CHECK_OK(case_run(&c));
    check_shape(c.outputs[0], (int64_t[]){2, 3, 1}, 3);
    check_i64(c.outputs[0], x, 6);
    case_free(&c);
}

static void test_reshape_allowzero_and_empty(void) {
    /* allowzero=1: 0 is a real zero dim; [0,3] -> [3,0] */
    int64_t shape[2] = {3, 0};
    op_case c;
    case_init(&c, "Reshape", 14, 1);
    attr_int(&c, "allowzero", 1);
    case_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){0, 3}, 2, NULL);
    case_input(&c, 1, ONYX_DTYPE_INT64, (int64_t[]){2}, 1, shape);
    ONYX_CHECK_OK(case_run(&c));
    check_shape(c.outputs[0], (int64_t[]){3, 0}, 2);
    case_free(&c);
}

static void test_reshape_errors(void) {
    float x[6] = {0};
    int64_t shape[2] = {4, -1};
    op_case c;
    case_init(&c, "Reshape", 13, 1);
    case_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){2, 3}, 2, x);
    case_input(&c, 1, ONYX_DTYPE_INT64, (int64_t[]){2}, 1, shape);
    ONYX_CHECK_ERROR(case_run(&c), ONYX_ERR_INVALID_MODEL, "cannot reshape [2,3] (6 elements) into [4,-1]");
    case_free(&c);
    int64_t two_infer[2] = {-1, -1};
    case_init(&c, "Reshape", 13, 1);
    case_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){2, 3}, 2, x);
    case_input(&c, 1, ONYX_DTYPE_INT64, (int64_t[]){2}, 1, two_infer);
    ONYX_CHECK_ERROR(case_run(&c), ONYX_ERR_INVALID_MODEL, "more than one -1");
    case_free(&c);
}

static void test_flatten_squeeze_unsqueeze(void) {
    float x[6] = {1, 2, 3, 4, 5, 6};
    op_case c;
    case_init(&c, "Flatten", 13, 1);
    attr_int(&c, "axis", 0);
    case_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){1, 2, 3}, 3, x);
    ONYX_CHECK_OK(case_run(&c));
    check_shape(c.outputs[0], (int64_t[]){1, 6}, 2);
    check_f32(c.outputs[0], x, 6);
    case_free(&c);

    /* Squeeze with no axes removes every 1-dim */
    case_init(&c, "Squeeze", 13, 1);
    case_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){1, 2, 1, 3, 1}, 5, x);
    ONYX_CHECK_OK(case_run(&c));
    check_shape(c.outputs[0], (int64_t[]){2, 3}, 2);
    case_free(&c);

    int64_t bad_axes[1] = {1};
    case_init(&c, "Squeeze", 13, 1);
    case_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){1, 2, 3}, 3, x);
    case_input(&c, 1, ONYX_DTYPE_INT64, (int64_t[]){1}, 1, bad_axes);
    ONYX_CHECK_ERROR(case_run(&c), ONYX_ERR_INVALID_MODEL, "has size 2, expected 1");
    case_free(&c);

    /* Unsqueeze before 13 takes an attribute; negative axes count in the output rank */
    int64_t axes[2] = {0, -1};
    case_init(&c, "Unsqueeze", 11, 1);
    attr_ints(&c, "axes", axes, 2);
    case_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){2, 3}, 2, x);
    ONYX_CHECK_OK(case_run(&c));
    check_shape(c.outputs[0], (int64_t[]){1, 2, 3, 1}, 4);
    check_f32(c.outputs[0], x, 6);
    case_free(&c);
}

/* ---- Shape, Size, Identity, Dropout ---- */

static void test_shape_size(void) {
    op_case c;
    case_init(&c, "Shape", 15, 1);
    attr_int(&c, "start", 1);
    attr_int(&c, "end", -1);
    case_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){2, 3, 4, 5}, 4, NULL);
    ONYX_CHECK_OK(case_run(&c));
    check_i64(c.outputs[0], (int64_t[]){3, 4}, 2);
    case_free(&c);

    case_init(&c, "Shape", 15, 1);
    attr_int(&c, "start", 10); /* clamped to the rank: empty */
    case_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){2, 3}, 2, NULL);
    ONYX_CHECK_OK(case_run(&c));
    check_shape(c.outputs[0], (int64_t[]){0}, 1);
    case_free(&c);

    case_init(&c, "Size", 13, 1);
    case_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){2, 3, 4}, 3, NULL);
    ONYX_CHECK_OK(case_run(&c));
    check_shape(c.outputs[0], NULL, 0);
    ONYX_CHECK_INT(*(int64_t *)c.outputs[0]->data, 24);
    case_free(&c);
}

static void test_dropout(void) {
    float x[4] = {1, -2, 3, -4};
    op_case c;
    case_init(&c, "Dropout", 13, 2);
    case_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){2, 2}, 2, x);
    ONYX_CHECK_OK(case_run(&c));
    check_f32(c.outputs[0], x, 4);
    ONYX_CHECK_INT(c.outputs[1]->dtype, ONYX_DTYPE_BOOL);
    for (int i = 0; i < 4; i++) ONYX_CHECK_INT(((uint8_t *)c.outputs[1]->data)[i], 1);
    case_free(&c);

    float ratio = 0.5f;
    uint8_t training = 1;
    case_init(&c, "Dropout", 13, 1);
    case_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){2, 2}, 2, x);
    case_input(&c, 1, ONYX_DTYPE_FLOAT32, NULL, 0, &ratio);
    case_input(&c, 2, ONYX_DTYPE_BOOL, NULL, 0, &training);
    ONYX_CHECK_ERROR(case_run(&c), ONYX_ERR_NOT_IMPLEMENTED, "training_mode");
    case_free(&c);

    ratio = 0.0f; /* training with ratio 0 is an identity */
    case_init(&c, "Dropout", 13, 1);
    case_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){2, 2}, 2, x);
    case_input(&c, 1, ONYX_DTYPE_FLOAT32, NULL, 0, &ratio);
    case_input(&c, 2, ONYX_DTYPE_BOOL, NULL, 0, &training);
    ONYX_CHECK_OK(case_run(&c));
    check_f32(c.outputs[0], x, 4);
    case_free(&c);
}

/* ---- Transpose ---- */

static void test_transpose_small(void) {
    /* (2,3,4) int64 arange, perm (2,0,1): y[k][i][j] = x[i][j][k] = 12i + 4j + k */
    int64_t x[24], want[24];
    for (int i = 0; i < 24; i++) x[i] = i;
    for (int k = 0; k < 4; k++)
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 3; j++) want[k * 6 + i * 3 + j] = 12 * i + 4 * j + k;
    int64_t perm[3] = {2, 0, 1};
    op_case c;
    case_init(&c, "Transpose", 13, 1);
    attr_ints(&c, "perm", perm, 3);
    case_input(&c, 0, ONYX_DTYPE_INT64, (int64_t[]){2, 3, 4}, 3, x);
    ONYX_CHECK_OK(case_run(&c));
    check_shape(c.outputs[0], (int64_t[]){4, 2, 3}, 3);
    check_i64(c.outputs[0], want, 24);
    case_free(&c);

    /* default perm reverses the dims */
    case_init(&c, "Transpose", 13, 1);
    case_input(&c, 0, ONYX_DTYPE_INT64, (int64_t[]){2, 3, 4}, 3, x);
    ONYX_CHECK_OK(case_run(&c));
    check_shape(c.outputs[0], (int64_t[]){4, 3, 2}, 3);
    ONYX_CHECK_INT(((int64_t *)c.outputs[0]->data)[1], 12); /* y[0][0][1] = x[1][0][0] */
    ONYX_CHECK_INT(((int64_t *)c.outputs[0]->data)[2], 4);  /* y[0][1][0] = x[0][1][0] */
    case_free(&c);

    int64_t bad[3] = {0, 0, 1};
    case_init(&c, "Transpose", 13, 1);
    attr_ints(&c, "perm", bad, 3);
    case_input(&c, 0, ONYX_DTYPE_INT64, (int64_t[]){2, 3, 4}, 3, x);
    ONYX_CHECK_ERROR(case_run(&c), ONYX_ERR_INVALID_MODEL, "not a permutation");
    case_free(&c);
}

static void test_transpose_large(void) {
    /* (B,H,T,D) = (2,300,70,33) float -> perm (0,2,1,3): contiguous runs of D, threaded */
    enum { B = 2, H = 300, T = 70, D = 33 };
    float *x = onyx_malloc(sizeof(float) * B * H * T * D);
    ONYX_CHECK(x != NULL);
    if (!x) return;
    for (int i = 0; i < B * H * T * D; i++) x[i] = (float)i;
    int64_t perm[4] = {0, 2, 1, 3};
    op_case c;
    case_init(&c, "Transpose", 13, 1);
    attr_ints(&c, "perm", perm, 4);
    case_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){B, H, T, D}, 4, x);
    ONYX_CHECK_OK(case_run(&c));
    const float *y = c.outputs[0]->data;
    long bad = -1;
    for (int b = 0; b < B && bad < 0; b++)
        for (int t = 0; t < T; t++)
            for (int h = 0; h < H; h++)
                for (int d = 0; d < D; d++) {
                    long yi = (((long)b * T + t) * H + h) * D + d, xi = (((long)b * H + h) * T + t) * D + d;
                    if (y[yi] != (float)xi && bad < 0) bad = yi;
                }
    ONYX_CHECK_INT(bad, -1);
    case_free(&c);

    /* last-two swap (2,300,70*33) -> (2,2310,300): blocked tiles with a ragged edge */
    int64_t swap[3] = {0, 2, 1};
    case_init(&c, "Transpose", 13, 1);
    attr_ints(&c, "perm", swap, 3);
    case_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){B, H, T * D}, 3, x);
    ONYX_CHECK_OK(case_run(&c));
    y = c.outputs[0]->data;
    bad = -1;
    for (int b = 0; b < B; b++)
        for (int j = 0; j < T * D; j++)
            for (int h = 0; h < H; h++) {
                long yi = ((long)b * T * D + j) * H + h, xi = ((long)b * H + h) * T * D + j;
                if (y[yi] != (float)xi && bad < 0) bad = yi;
            }
    ONYX_CHECK_INT(bad, -1);
    case_free(&c);
    onyx_free(x);
}

static void test_transpose_strings(void) {
    onyx_string x[6] = {{"a", 1}, {"b", 1}, {"c", 1}, {"d", 1}, {"e", 1}, {"f", 1}};
    op_case c;
    case_init(&c, "Transpose", 13, 1);
    case_input(&c, 0, ONYX_DTYPE_STRING, (int64_t[]){2, 3}, 2, x);
    ONYX_CHECK_OK(case_run(&c));
    const onyx_string *y = c.outputs[0]->data;
    const char *want = "adbecf";
    for (int i = 0; i < 6; i++) ONYX_CHECK(y[i].size == 1 && y[i].data[0] == want[i]);
    case_free(&c);
}

static void test_transpose_narrow_types(void) {
    /* uint8 (3,70,40) perm (2,1,0) and float16 bits (70,40) swapped: blocked tiles of 1- and
     * 2-byte elements; y[k][j][i] = x[i][j][k] */
    enum { I = 3, J = 70, K = 40 };
    uint8_t x8[I * J * K];
    uint16_t x16[J * K];
    for (int i = 0; i < I * J * K; i++) x8[i] = (uint8_t)(i * 7);
    for (int i = 0; i < J * K; i++) x16[i] = (uint16_t)(i * 3);
    op_case c;
    case_init(&c, "Transpose", 13, 1);
    case_input(&c, 0, ONYX_DTYPE_UINT8, (int64_t[]){I, J, K}, 3, x8);
    ONYX_CHECK_OK(case_run(&c));
    const uint8_t *y8 = c.outputs[0]->data;
    long bad = -1;
    for (int i = 0; i < I; i++)
        for (int j = 0; j < J; j++)
            for (int k = 0; k < K; k++)
                if (y8[(k * J + j) * I + i] != x8[(i * J + j) * K + k] && bad < 0) bad = (k * J + j) * I + i;
    ONYX_CHECK_INT(bad, -1);
    case_free(&c);

    case_init(&c, "Transpose", 13, 1);
    case_input(&c, 0, ONYX_DTYPE_FLOAT16, (int64_t[]){J, K}, 2, x16);
    ONYX_CHECK_OK(case_run(&c));
    const uint16_t *y16 = c.outputs[0]->data;
    bad = -1;
    for (int j = 0; j < J; j++)
        for (int k = 0; k < K; k++)
            if (y16[k * J + j] != x16[j * K + k] && bad < 0) bad = k * J + j;
    ONYX_CHECK_INT(bad, -1);
    case_free(&c);
}

/* ---- Concat and Split ---- */

static void test_concat(void) {
    float a[4] = {1, 2, 3, 4}, b[2] = {5, 6};
    op_case c;
    case_init(&c, "Concat", 13, 1);
    attr_int(&c, "axis", -1);
    case_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){2, 2}, 2, a);
    case_input(&c, 1, ONYX_DTYPE_FLOAT32, (int64_t[]){2, 0}, 2, NULL); /* empty past */
    case_input(&c, 2, ONYX_DTYPE_FLOAT32, (int64_t[]){2, 1}, 2, b);
    ONYX_CHECK_OK(case_run(&c));
    check_shape(c.outputs[0], (int64_t[]){2, 3}, 2);
    check_f32(c.outputs[0], (float[]){1, 2, 5, 3, 4, 6}, 6);
    case_free(&c);

    case_init(&c, "Concat", 13, 1);
    attr_int(&c, "axis", 0);
    case_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){2, 2}, 2, a);
    case_input(&c, 1, ONYX_DTYPE_FLOAT32, (int64_t[]){1, 3}, 2, b);
    ONYX_CHECK_ERROR(case_run(&c), ONYX_ERR_INVALID_MODEL, "input 1 has shape [1,3]");
    case_free(&c);
}

static void test_concat_large(void) {
    /* KV-cache style: (4,8,1000,16) + (4,8,1,16) on axis 2, threaded */
    enum { B = 4, H = 8, P = 1000, D = 16 };
    float *past = onyx_malloc(sizeof(float) * B * H * P * D), now[B * H * D];
    ONYX_CHECK(past != NULL);
    if (!past) return;
    for (int i = 0; i < B * H * P * D; i++) past[i] = (float)i;
    for (int i = 0; i < B * H * D; i++) now[i] = -(float)i - 1;
    op_case c;
    case_init(&c, "Concat", 13, 1);
    attr_int(&c, "axis", 2);
    case_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){B, H, P, D}, 4, past);
    case_input(&c, 1, ONYX_DTYPE_FLOAT32, (int64_t[]){B, H, 1, D}, 4, now);
    ONYX_CHECK_OK(case_run(&c));
    const float *y = c.outputs[0]->data;
    long bad = -1;
    for (int bh = 0; bh < B * H; bh++)
        for (int t = 0; t <= P; t++)
            for (int d = 0; d < D; d++) {
                long yi = ((long)bh * (P + 1) + t) * D + d;
                float want = t < P ? (float)(((long)bh * P + t) * D + d) : -(float)(bh * D + d) - 1;
                if (y[yi] != want && bad < 0) bad = yi;
            }
    ONYX_CHECK_INT(bad, -1);
    case_free(&c);
    onyx_free(past);
}

static void test_split(void) {
    float x[10] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    /* opset 13: split sizes as input 1, axis 1 of (2,5) */
    int64_t sizes[2] = {2, 3};
    op_case c;
    case_init(&c, "Split", 13, 2);
    attr_int(&c, "axis", 1);
    case_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){2, 5}, 2, x);
    case_input(&c, 1, ONYX_DTYPE_INT64, (int64_t[]){2}, 1, sizes);
    ONYX_CHECK_OK(case_run(&c));
    check_shape(c.outputs[0], (int64_t[]){2, 2}, 2);
    check_f32(c.outputs[0], (float[]){0, 1, 5, 6}, 4);
    check_f32(c.outputs[1], (float[]){2, 3, 4, 7, 8, 9}, 6);
    case_free(&c);

    /* opset 18 num_outputs=3 over 5: chunks 2, 2, 1 */
    case_init(&c, "Split", 18, 3);
    attr_int(&c, "num_outputs", 3);
    case_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){5}, 1, x);
    ONYX_CHECK_OK(case_run(&c));
    check_f32(c.outputs[0], (float[]){0, 1}, 2);
    check_f32(c.outputs[1], (float[]){2, 3}, 2);
    check_f32(c.outputs[2], (float[]){4}, 1);
    case_free(&c);

    /* opset 11 attribute; equal split that does not divide is an error */
    case_init(&c, "Split", 11, 3);
    case_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){5}, 1, x);
    ONYX_CHECK_ERROR(case_run(&c), ONYX_ERR_INVALID_MODEL, "does not split evenly into 3 outputs");
    case_free(&c);

    /* opset 13 without the split input: equal parts */
    case_init(&c, "Split", 13, 2);
    case_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){2, 5}, 2, x);
    ONYX_CHECK_OK(case_run(&c));
    check_shape(c.outputs[1], (int64_t[]){1, 5}, 2);
    check_f32(c.outputs[1], (float[]){5, 6, 7, 8, 9}, 5);
    case_free(&c);

    int64_t attr_split[2] = {1, 3};
    case_init(&c, "Split", 11, 2);
    attr_ints(&c, "split", attr_split, 2);
    case_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){5}, 1, x);
    ONYX_CHECK_ERROR(case_run(&c), ONYX_ERR_INVALID_MODEL, "sum to 4 but axis 0 has size 5");
    case_free(&c);
}

/* ---- Slice ---- */

static void test_slice_steps_and_sentinels(void) {
    int64_t x[10] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    struct {
        int64_t start, end, step;
        int64_t want[10];
        int n;
    } cases[] = {
        {8, 1, -2, {8, 6, 4, 2}, 4},                 /* NumPy x[8:1:-2] */
        {-1, INT64_MIN, -3, {9, 6, 3, 0}, 4},        /* x[-1::-3] */
        {INT64_MAX, -8, -1, {9, 8, 7, 6, 5, 4, 3}, 7}, /* x[9:2:-1] */
        {2, INT64_MAX, 3, {2, 5, 8}, 3},             /* x[2::3] */
        {-100, 2, 1, {0, 1}, 2},                     /* start clamped to 0 */
        {5, 5, 1, {0}, 0},                           /* empty */
        {3, 7, -1, {0}, 0},                          /* empty with a negative step */
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        op_case c;
        case_init(&c, "Slice", 13, 1);
        case_input(&c, 0, ONYX_DTYPE_INT64, (int64_t[]){10}, 1, x);
        case_input(&c, 1, ONYX_DTYPE_INT64, (int64_t[]){1}, 1, &cases[k].start);
        case_input(&c, 2, ONYX_DTYPE_INT64, (int64_t[]){1}, 1, &cases[k].end);
        case_input(&c, 4, ONYX_DTYPE_INT64, (int64_t[]){1}, 1, &cases[k].step);
        ONYX_CHECK_OK(case_run(&c));
        check_i64(c.outputs[0], cases[k].want, cases[k].n);
        case_free(&c);
    }
}

static void test_slice_multi_axis(void) {
    /* (2,3,4) arange: NumPy a[:, ::-1, 1:3] with axes given out of order and int32 inputs */
    int64_t x[24];
    for (int i = 0; i < 24; i++) x[i] = i;
    int32_t starts[2] = {1, -1}, ends[2] = {3, INT32_MIN}, axes[2] = {2, 1}, steps[2] = {1, -1};
    op_case c;
    case_init(&c, "Slice", 13, 1);
    case_input(&c, 0, ONYX_DTYPE_INT64, (int64_t[]){2, 3, 4}, 3, x);
    case_input(&c, 1, ONYX_DTYPE_INT32, (int64_t[]){2}, 1, starts);
    case_input(&c, 2, ONYX_DTYPE_INT32, (int64_t[]){2}, 1, ends);
    case_input(&c, 3, ONYX_DTYPE_INT32, (int64_t[]){2}, 1, axes);
    case_input(&c, 4, ONYX_DTYPE_INT32, (int64_t[]){2}, 1, steps);
    ONYX_CHECK_OK(case_run(&c));
    check_shape(c.outputs[0], (int64_t[]){2, 3, 2}, 3);
    check_i64(c.outputs[0], (int64_t[]){9, 10, 5, 6, 1, 2, 21, 22, 17, 18, 13, 14}, 12);
    case_free(&c);

    /* opset 9: attributes */
    int64_t a_starts[1] = {1}, a_ends[1] = {1000};
    case_init(&c, "Slice", 9, 1);
    attr_ints(&c, "starts", a_starts, 1);
    attr_ints(&c, "ends", a_ends, 1);
    case_input(&c, 0, ONYX_DTYPE_INT64, (int64_t[]){2, 3, 4}, 3, x);
    ONYX_CHECK_OK(case_run(&c));
    check_shape(c.outputs[0], (int64_t[]){1, 3, 4}, 3);
    check_i64(c.outputs[0], x + 12, 12);
    case_free(&c);

    int64_t zero_step = 0, s0 = 0, e0 = 2;
    case_init(&c, "Slice", 13, 1);
    case_input(&c, 0, ONYX_DTYPE_INT64, (int64_t[]){24}, 1, x);
    case_input(&c, 1, ONYX_DTYPE_INT64, (int64_t[]){1}, 1, &s0);
    case_input(&c, 2, ONYX_DTYPE_INT64, (int64_t[]){1}, 1, &e0);
    case_input(&c, 4, ONYX_DTYPE_INT64, (int64_t[]){1}, 1, &zero_step);
    ONYX_CHECK_ERROR(case_run(&c), ONYX_ERR_INVALID_MODEL, "is 0");
    case_free(&c);
}

static void test_slice_large(void) {
    /* (64,512,96) float, last axis 16:80 and middle axis reversed: threaded strided runs */
    enum { A = 64, B = 512, C = 96 };
    float *x = onyx_malloc(sizeof(float) * A * B * C);
    ONYX_CHECK(x != NULL);
    if (!x) return;
    for (int i = 0; i < A * B * C; i++) x[i] = (float)i;
    int64_t starts[2] = {16, -1}, ends[2] = {80, INT64_MIN}, axes[2] = {2, 1}, steps[2] = {1, -1};
    op_case c;
    case_init(&c, "Slice", 13, 1);
    case_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){A, B, C}, 3, x);
    case_input(&c, 1, ONYX_DTYPE_INT64, (int64_t[]){2}, 1, starts);
    case_input(&c, 2, ONYX_DTYPE_INT64, (int64_t[]){2}, 1, ends);
    case_input(&c, 3, ONYX_DTYPE_INT64, (int64_t[]){2}, 1, axes);
    case_input(&c, 4, ONYX_DTYPE_INT64, (int64_t[]){2}, 1, steps);
    ONYX_CHECK_OK(case_run(&c));
    check_shape(c.outputs[0], (int64_t[]){A, B, 64}, 3);
    const float *y = c.outputs[0]->data;
    long bad = -1;
    for (int a = 0; a < A; a++)
        for (int b = 0; b < B; b++)
            for (int k = 0; k < 64; k++) {
                long yi = ((long)a * B + b) * 64 + k, xi = ((long)a * B + (B - 1 - b)) * C + 16 + k;
                if (y[yi] != (float)xi && bad < 0) bad = yi;
            }
    ONYX_CHECK_INT(bad, -1);
    case_free(&c);
    onyx_free(x);
}

static void test_large_contiguous_copies(void) {
    /* Reshape of 8 MB and a Slice that is one contiguous block: threaded memcpy chunks */
    enum { R = 64, C = 32768 };
    float *x = onyx_malloc(sizeof(float) * R * C);
    ONYX_CHECK(x != NULL);
    if (!x) return;
    for (int i = 0; i < R * C; i++) x[i] = (float)i;
    int64_t shape[2] = {C, -1};
    op_case c;
    case_init(&c, "Reshape", 14, 1);
    case_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){R, C}, 2, x);
    case_input(&c, 1, ONYX_DTYPE_INT64, (int64_t[]){2}, 1, shape);
    ONYX_CHECK_OK(case_run(&c));
    check_shape(c.outputs[0], (int64_t[]){C, R}, 2);
    check_f32(c.outputs[0], x, (int64_t)R * C);
    case_free(&c);

    int64_t start = 8, end = 40;
    case_init(&c, "Slice", 13, 1);
    case_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){R, C}, 2, x);
    case_input(&c, 1, ONYX_DTYPE_INT64, (int64_t[]){1}, 1, &start);
    case_input(&c, 2, ONYX_DTYPE_INT64, (int64_t[]){1}, 1, &end);
    ONYX_CHECK_OK(case_run(&c));
    check_shape(c.outputs[0], (int64_t[]){32, C}, 2);
    check_f32(c.outputs[0], x + 8 * C, (int64_t)32 * C);
    case_free(&c);
    onyx_free(x);
}

/* ---- Expand, Tile, Trilu ---- */

static void test_expand_tile(void) {
    int64_t x[3] = {1, 2, 3}, shape[3] = {2, 1, 4};
    op_case c;
    case_init(&c, "Expand", 13, 1);
    case_input(&c, 0, ONYX_DTYPE_INT64, (int64_t[]){3, 1}, 2, x);
    case_input(&c, 1, ONYX_DTYPE_INT64, (int64_t[]){3}, 1, shape);
    ONYX_CHECK_OK(case_run(&c));
    check_shape(c.outputs[0], (int64_t[]){2, 3, 4}, 3);
    check_i64(c.outputs[0],
              (int64_t[]){1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3}, 24);
    case_free(&c);

    int64_t bad_shape[1] = {2};
    case_init(&c, "Expand", 13, 1);
    case_input(&c, 0, ONYX_DTYPE_INT64, (int64_t[]){3}, 1, x);
    case_input(&c, 1, ONYX_DTYPE_INT64, (int64_t[]){1}, 1, bad_shape);
    ONYX_CHECK_ERROR(case_run(&c), ONYX_ERR_INVALID_MODEL, "input shape [3] cannot be broadcast with shape [2]");
    case_free(&c);

    int64_t m[4] = {1, 2, 3, 4}, repeats[2] = {2, 3}, zero_repeats[2] = {0, 3};
    case_init(&c, "Tile", 13, 1);
    case_input(&c, 0, ONYX_DTYPE_INT64, (int64_t[]){2, 2}, 2, m);
    case_input(&c, 1, ONYX_DTYPE_INT64, (int64_t[]){2}, 1, zero_repeats);
    ONYX_CHECK_OK(case_run(&c));
    check_shape(c.outputs[0], (int64_t[]){0, 6}, 2);
    case_free(&c);

    case_init(&c, "Tile", 13, 1);
    case_input(&c, 0, ONYX_DTYPE_INT64, (int64_t[]){2, 2}, 2, m);
    case_input(&c, 1, ONYX_DTYPE_INT64, (int64_t[]){2}, 1, repeats);
    ONYX_CHECK_OK(case_run(&c));
    check_shape(c.outputs[0], (int64_t[]){4, 6}, 2);
    check_i64(c.outputs[0],
              (int64_t[]){1, 2, 1, 2, 1, 2, 3, 4, 3, 4, 3, 4, 1, 2, 1, 2, 1, 2, 3, 4, 3, 4, 3, 4}, 24);
    case_free(&c);
}

static void test_trilu(void) {
    int64_t x[12];
    for (int i = 0; i < 12; i++) x[i] = i;
    int64_t k = 1;
    op_case c;
    case_init(&c, "Trilu", 14, 1);
    case_input(&c, 0, ONYX_DTYPE_INT64, (int64_t[]){3, 4}, 2, x);
    case_input(&c, 1, ONYX_DTYPE_INT64, NULL, 0, &k);
    ONYX_CHECK_OK(case_run(&c));
    check_i64(c.outputs[0], (int64_t[]){0, 1, 2, 3, 0, 0, 6, 7, 0, 0, 0, 11}, 12); /* np.triu(x, 1) */
    case_free(&c);

    k = -1;
    case_init(&c, "Trilu", 14, 1);
    attr_int(&c, "upper", 0);
    case_input(&c, 0, ONYX_DTYPE_INT64, (int64_t[]){3, 4}, 2, x);
    case_input(&c, 1, ONYX_DTYPE_INT64, NULL, 0, &k);
    ONYX_CHECK_OK(case_run(&c));
    check_i64(c.outputs[0], (int64_t[]){0, 0, 0, 0, 4, 0, 0, 0, 8, 9, 0, 0}, 12); /* np.tril(x, -1) */
    case_free(&c);
}

/* ---- Gather family, ScatterND ---- */

static void test_gather(void) {
    float data[6] = {1, 2, 3, 4, 5, 6}; /* (3,2) */
    int64_t idx[2] = {-1, 0};
    op_case c;
    case_init(&c, "Gather", 13, 1);
    case_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){3, 2}, 2, data);
    case_input(&c, 1, ONYX_DTYPE_INT64, (int64_t[]){2}, 1, idx);
    ONYX_CHECK_OK(case_run(&c));
    check_shape(c.outputs[0], (int64_t[]){2, 2}, 2);
    check_f32(c.outputs[0], (float[]){5, 6, 1, 2}, 4);
    case_free(&c);

    int32_t idx32[3] = {1, 1, 0}; /* axis 1, scalar-like 2-D indices (1,3) */
    case_init(&c, "Gather", 13, 1);
    attr_int(&c, "axis", 1);
    case_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){3, 2}, 2, data);
    case_input(&c, 1, ONYX_DTYPE_INT32, (int64_t[]){1, 3}, 2, idx32);
    ONYX_CHECK_OK(case_run(&c));
    check_shape(c.outputs[0], (int64_t[]){3, 1, 3}, 3);
    check_f32(c.outputs[0], (float[]){2, 2, 1, 4, 4, 3, 6, 6, 5}, 9);
    case_free(&c);

    int64_t bad[2] = {0, 3};
    case_init(&c, "Gather", 13, 1);
    case_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){3, 2}, 2, data);
    case_input(&c, 1, ONYX_DTYPE_INT64, (int64_t[]){2}, 1, bad);
    ONYX_CHECK_ERROR(case_run(&c), ONYX_ERR_INVALID_ARGUMENT, "index 3 (at position 1 of the indices) is out of range for axis 0 of size 3");
    case_free(&c);

    onyx_string words[3] = {{"zero", 4}, {"one", 3}, {"two", 3}};
    int64_t pick[2] = {2, 0};
    case_init(&c, "Gather", 13, 1);
    case_input(&c, 0, ONYX_DTYPE_STRING, (int64_t[]){3}, 1, words);
    case_input(&c, 1, ONYX_DTYPE_INT64, (int64_t[]){2}, 1, pick);
    ONYX_CHECK_OK(case_run(&c));
    const onyx_string *got = c.outputs[0]->data;
    ONYX_CHECK(got[0].size == 3 && memcmp(got[0].data, "two", 3) == 0);
    ONYX_CHECK(got[1].size == 4 && memcmp(got[1].data, "zero", 4) == 0);
    case_free(&c);
}

static void test_gather_elements_nd(void) {
    int64_t d[12];
    for (int i = 0; i < 12; i++) d[i] = i;
    int64_t idx[8] = {2, 0, 1, -1, 0, 0, 2, 1}; /* -1 is 2 on axis 0 of size 3 */
    op_case c;
    case_init(&c, "GatherElements", 13, 1);
    case_input(&c, 0, ONYX_DTYPE_INT64, (int64_t[]){3, 4}, 2, d);
    case_input(&c, 1, ONYX_DTYPE_INT64, (int64_t[]){2, 4}, 2, idx);
    ONYX_CHECK_OK(case_run(&c));
    check_i64(c.outputs[0], (int64_t[]){8, 1, 6, 11, 0, 1, 10, 7}, 8); /* np.take_along_axis(d, idx, 0) */
    case_free(&c);

    /* GatherND batch_dims=1: data (2,2,2) arange, indices [[1],[0]] -> [[2,3],[4,5]] */
    int64_t nd_idx[2] = {1, 0};
    case_init(&c, "GatherND", 13, 1);
    attr_int(&c, "batch_dims", 1);
    case_input(&c, 0, ONYX_DTYPE_INT64, (int64_t[]){2, 2, 2}, 3, d);
    case_input(&c, 1, ONYX_DTYPE_INT64, (int64_t[]){2, 1}, 2, nd_idx);
    ONYX_CHECK_OK(case_run(&c));
    check_shape(c.outputs[0], (int64_t[]){2, 2}, 2);
    check_i64(c.outputs[0], (int64_t[]){2, 3, 4, 5}, 4);
    case_free(&c);

    /* GatherND full tuples: data (3,4), indices [[2,3],[0,1]] -> [11, 1] */
    int64_t pairs[4] = {2, 3, 0, 1};
    case_init(&c, "GatherND", 13, 1);
    case_input(&c, 0, ONYX_DTYPE_INT64, (int64_t[]){3, 4}, 2, d);
    case_input(&c, 1, ONYX_DTYPE_INT64, (int64_t[]){2, 2}, 2, pairs);
    ONYX_CHECK_OK(case_run(&c));
    check_i64(c.outputs[0], (int64_t[]){11, 1}, 2);
    case_free(&c);
}

static void test_scatter_nd(void) {
    float data[4] = {1, 5, 3, 7}, updates[3] = {4, 2, 9};
    int64_t idx[3] = {0, 3, 0};
    const char *reductions[] = {"add", "max", "mul"};
    float want[3][4] = {{14, 5, 3, 9}, {9, 5, 3, 7}, {36, 5, 3, 14}};
    for (int r = 0; r < 3; r++) {
        op_case c;
        case_init(&c, "ScatterND", 18, 1);
        attr_string(&c, "reduction", reductions[r]);
        case_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){4}, 1, data);
        case_input(&c, 1, ONYX_DTYPE_INT64, (int64_t[]){3, 1}, 2, idx);
        case_input(&c, 2, ONYX_DTYPE_FLOAT32, (int64_t[]){3}, 1, updates);
        ONYX_CHECK_OK(case_run(&c));
        check_f32(c.outputs[0], want[r], 4);
        case_free(&c);
    }
    op_case c;
    case_init(&c, "ScatterND", 16, 1);
    attr_string(&c, "reduction", "max");
    case_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){4}, 1, data);
    case_input(&c, 1, ONYX_DTYPE_INT64, (int64_t[]){3, 1}, 2, idx);
    case_input(&c, 2, ONYX_DTYPE_FLOAT32, (int64_t[]){3}, 1, updates);
    ONYX_CHECK_ERROR(case_run(&c), ONYX_ERR_INVALID_MODEL, "reduction 'max'");
    case_free(&c);

    int64_t out_of_range[3] = {0, 4, 0};
    case_init(&c, "ScatterND", 13, 1);
    case_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){4}, 1, data);
    case_input(&c, 1, ONYX_DTYPE_INT64, (int64_t[]){3, 1}, 2, out_of_range);
    case_input(&c, 2, ONYX_DTYPE_FLOAT32, (int64_t[]){3}, 1, updates);
    ONYX_CHECK_ERROR(case_run(&c), ONYX_ERR_INVALID_ARGUMENT, "index 4 (at position 1 of the indices) is out of range for axis 0 of size 4");
    case_free(&c);

    /* rows: data (2,3), indices [[1]] replaces row 1 */
    int64_t rows[6] = {1, 2, 3, 4, 5, 6}, one[1] = {1}, new_row[3] = {7, 8, 9};
    case_init(&c, "ScatterND", 13, 1);
    case_input(&c, 0, ONYX_DTYPE_INT64, (int64_t[]){2, 3}, 2, rows);
    case_input(&c, 1, ONYX_DTYPE_INT64, (int64_t[]){1, 1}, 2, one);
    case_input(&c, 2, ONYX_DTYPE_INT64, (int64_t[]){1, 3}, 2, new_row);
    ONYX_CHECK_OK(case_run(&c));
    check_i64(c.outputs[0], (int64_t[]){1, 2, 3, 7, 8, 9}, 6);
    case_free(&c);
}

/* ---- Constant, ConstantOfShape, Range ---- */

static void test_constant(void) {
    int64_t values[3] = {4, 5, 6};
    op_case c;
    case_init(&c, "Constant", 13, 1);
    attr_ints(&c, "value_ints", values, 3);
    ONYX_CHECK_OK(case_run(&c));
    check_shape(c.outputs[0], (int64_t[]){3}, 1);
    check_i64(c.outputs[0], values, 3);
    case_free(&c);

    case_init(&c, "Constant", 13, 1);
    case_attr(&c, "value_float", ONYX_ATTR_FLOAT)->f = 2.5f;
    ONYX_CHECK_OK(case_run(&c));
    check_shape(c.outputs[0], NULL, 0);
    check_f32(c.outputs[0], (float[]){2.5f}, 1);
    case_free(&c);

    case_init(&c, "Constant", 13, 1);
    attr_string(&c, "value_string", "hello");
    ONYX_CHECK_OK(case_run(&c));
    const onyx_string *s = c.outputs[0]->data;
    ONYX_CHECK(c.outputs[0]->dtype == ONYX_DTYPE_STRING && s->size == 5 && memcmp(s->data, "hello", 5) == 0);
    case_free(&c);

    case_init(&c, "Constant", 13, 1);
    ONYX_CHECK_ERROR(case_run(&c), ONYX_ERR_INVALID_MODEL, "found 0");
    case_free(&c);
}

static void test_constant_of_shape(void) {
    int64_t shape[2] = {2, 3};
    int32_t seven = 7;
    onyx_tensor value;
    onyx_tensor_init(&value);
    ONYX_CHECK_OK(onyx_tensor_set_shape(&value, ONYX_DTYPE_INT32, (int64_t[]){1}, 1, "value"));
    value.data = &seven;
    op_case c;
    case_init(&c, "ConstantOfShape", 9, 1);
    case_attr(&c, "value", ONYX_ATTR_TENSOR)->t = &value;
    case_input(&c, 0, ONYX_DTYPE_INT64, (int64_t[]){2}, 1, shape);
    ONYX_CHECK_OK(case_run(&c));
    check_shape(c.outputs[0], shape, 2);
    ONYX_CHECK_INT(c.outputs[0]->dtype, ONYX_DTYPE_INT32);
    for (int i = 0; i < 6; i++) ONYX_CHECK_INT(((int32_t *)c.outputs[0]->data)[i], 7);
    case_free(&c);

    /* default: float32 zeros; an empty shape gives a scalar */
    case_init(&c, "ConstantOfShape", 9, 1);
    case_input(&c, 0, ONYX_DTYPE_INT64, (int64_t[]){0}, 1, shape);
    ONYX_CHECK_OK(case_run(&c));
    check_shape(c.outputs[0], NULL, 0);
    ONYX_CHECK_INT(c.outputs[0]->dtype, ONYX_DTYPE_FLOAT32);
    check_f32(c.outputs[0], (float[]){0}, 1);
    case_free(&c);
}

static void test_range(void) {
    int32_t s = 10, l = 1, d = -3;
    op_case c;
    case_init(&c, "Range", 11, 1);
    case_input(&c, 0, ONYX_DTYPE_INT32, NULL, 0, &s);
    case_input(&c, 1, ONYX_DTYPE_INT32, NULL, 0, &l);
    case_input(&c, 2, ONYX_DTYPE_INT32, NULL, 0, &d);
    ONYX_CHECK_OK(case_run(&c));
    check_shape(c.outputs[0], (int64_t[]){3}, 1);
    const int32_t *y = c.outputs[0]->data;
    ONYX_CHECK(y[0] == 10 && y[1] == 7 && y[2] == 4); /* np.arange(10, 1, -3) */
    case_free(&c);

    float fs = 1.0f, fl = 2.0f, fd = 0.25f;
    case_init(&c, "Range", 11, 1);
    case_input(&c, 0, ONYX_DTYPE_FLOAT32, NULL, 0, &fs);
    case_input(&c, 1, ONYX_DTYPE_FLOAT32, NULL, 0, &fl);
    case_input(&c, 2, ONYX_DTYPE_FLOAT32, NULL, 0, &fd);
    ONYX_CHECK_OK(case_run(&c));
    check_f32(c.outputs[0], (float[]){1.0f, 1.25f, 1.5f, 1.75f}, 4);
    case_free(&c);

    int64_t a = 0, b = 5, zero = 0;
    case_init(&c, "Range", 11, 1);
    case_input(&c, 0, ONYX_DTYPE_INT64, NULL, 0, &a);
    case_input(&c, 1, ONYX_DTYPE_INT64, NULL, 0, &b);
    case_input(&c, 2, ONYX_DTYPE_INT64, NULL, 0, &zero);
    ONYX_CHECK_ERROR(case_run(&c), ONYX_ERR_INVALID_ARGUMENT, "delta) is 0");
    case_free(&c);
}

int main(void) {
    ONYX_TEST_RUN(test_reshape_zero_and_infer);
    ONYX_TEST_RUN(test_reshape_allowzero_and_empty);
    ONYX_TEST_RUN(test_reshape_errors);
    ONYX_TEST_RUN(test_flatten_squeeze_unsqueeze);
    ONYX_TEST_RUN(test_shape_size);
    ONYX_TEST_RUN(test_dropout);
    ONYX_TEST_RUN(test_transpose_small);
    ONYX_TEST_RUN(test_transpose_large);
    ONYX_TEST_RUN(test_transpose_strings);
    ONYX_TEST_RUN(test_transpose_narrow_types);
    ONYX_TEST_RUN(test_concat);
    ONYX_TEST_RUN(test_concat_large);
    ONYX_TEST_RUN(test_split);
    ONYX_TEST_RUN(test_slice_steps_and_sentinels);
    ONYX_TEST_RUN(test_slice_multi_axis);
    ONYX_TEST_RUN(test_slice_large);
    ONYX_TEST_RUN(test_large_contiguous_copies);
    ONYX_TEST_RUN(test_expand_tile);
    ONYX_TEST_RUN(test_trilu);
    ONYX_TEST_RUN(test_gather);
    ONYX_TEST_RUN(test_gather_elements_nd);
    ONYX_TEST_RUN(test_scatter_nd);
    ONYX_TEST_RUN(test_constant);
    ONYX_TEST_RUN(test_constant_of_shape);
    ONYX_TEST_RUN(test_range);
    return onyx_test_finish();
}
