/*
 * test_cuda_elementwise_gpu.c - the CUDA elementwise family against the CPU kernels on seeded
 * random inputs, through cuda_op_case.h: every unary op and activation over its float (and
 * integer) dtypes, binary ops over broadcast shapes that take each launcher path (same shape
 * and scalar operands: the flat vectorised kernel; last-dim vectors, both-sides broadcasts and
 * permutation-like shapes: the strided kernel), the variadic ops, Where, Clip in both forms,
 * Pow with mixed dtypes, Cast between every pair of dtypes with saturating and special values,
 * Gelu in its ai.onnx and com.microsoft forms, odd sizes (1, 7, 33, 1000), zero sizes and
 * rank 0, and the errors both providers must raise. Exits 77 without a GPU.
 *
 * Tolerances: float32 agrees to a few units in the last place (the CPU uses its own
 * vectorised exp/tanh/erf, the GPU CUDA's libdevice); float16/bfloat16 compute in float32 on
 * both sides and may round the last bit differently; integers, bools and casts are exact.
 */
#include <math.h>
#include <stdint.h>

#include "cuda_op_case.h"
#include "providers/cpu/elementwise_plan.h"

typedef struct shape {
    int64_t dims[6];
    int rank;
} shape;
#define SH(...) {{__VA_ARGS__}, (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t))}
#define SCALAR {{0}, 0}
static const int64_t no_dims[1] = {0}; /* dims of rank-0 inputs */

typedef struct tolerance {
    double atol, rtol;
} tolerance;

static tolerance tol_for(onyx_dtype dtype) {
    switch (dtype) {
    case ONYX_DTYPE_FLOAT16: return (tolerance){2e-3, 2e-3};
    case ONYX_DTYPE_BFLOAT16: return (tolerance){1.6e-2, 1.6e-2};
    case ONYX_DTYPE_FLOAT64: return (tolerance){1e-12, 1e-11};
    case ONYX_DTYPE_FLOAT32: return (tolerance){1e-6, 1e-5};
    default: return (tolerance){0, 0};
    }
}

#define FLOATS ONYX_DT_FLOATS
#define F16_32_64 (ONYX_DT(FLOAT32) | ONYX_DT(FLOAT16) | ONYX_DT(FLOAT64))
#define INTS (ONYX_DT(INT8) | ONYX_DT(INT32) | ONYX_DT(INT64) | ONYX_DT(UINT8))
#define SINTS (ONYX_DT(INT8) | ONYX_DT(INT32) | ONYX_DT(INT64))

static const onyx_dtype all_types[] = {
    ONYX_DTYPE_FLOAT32, ONYX_DTYPE_FLOAT16, ONYX_DTYPE_BFLOAT16, ONYX_DTYPE_FLOAT64, ONYX_DTYPE_INT8,
    ONYX_DTYPE_INT16,   ONYX_DTYPE_INT32,   ONYX_DTYPE_INT64,    ONYX_DTYPE_UINT8,   ONYX_DTYPE_UINT16,
    ONYX_DTYPE_UINT32,  ONYX_DTYPE_UINT64,  ONYX_DTYPE_BOOL};
#define N_ALL_TYPES ((int)(sizeof all_types / sizeof all_types[0]))

static int has(uint64_t mask, onyx_dtype dt) { return (mask >> dt) & 1; }

/* Shapes of unary inputs: odd sizes, rank 0, zero size, a long one for the grid-stride loop. */
static const shape unary_shapes[] = {SH(7), SH(1), SH(2, 3, 33), SH(1000), SCALAR, SH(0, 5), SH(3, 70001)};
#define N_UNARY_SHAPES ((int)(sizeof unary_shapes / sizeof unary_shapes[0]))

/* ---- unary ---- */

typedef struct unary_op {
    const char *op;
    int opset;
    uint64_t dtypes;
    const char *domain;
} unary_op;

static const unary_op unary_ops[] = {
    {"Abs", 13, FLOATS | INTS, ""},        {"Neg", 13, FLOATS | SINTS, ""},
    {"Ceil", 13, FLOATS, ""},              {"Floor", 13, FLOATS, ""},
    {"Reciprocal", 13, FLOATS, ""},        {"Sqrt", 13, FLOATS, ""},
    {"Exp", 13, FLOATS, ""},               {"Log", 13, FLOATS, ""},
    {"Erf", 13, FLOATS | INTS, ""},        {"Sin", 7, F16_32_64, ""},
    {"Cos", 7, F16_32_64, ""},             {"Tan", 7, F16_32_64, ""},
    {"Asin", 7, F16_32_64, ""},            {"Acos", 7, F16_32_64, ""},
    {"Atan", 7, F16_32_64, ""},            {"Sinh", 9, F16_32_64, ""},
    {"Cosh", 9, F16_32_64, ""},            {"Asinh", 9, F16_32_64, ""},
    {"Acosh", 9, F16_32_64, ""},           {"Atanh", 9, F16_32_64, ""},
    {"Tanh", 13, FLOATS, ""},              {"Sigmoid", 13, FLOATS, ""},
    {"Relu", 14, FLOATS | SINTS, ""},      {"Sign", 13, FLOATS | INTS, ""},
    {"Round", 11, F16_32_64, ""},          {"IsNaN", 13, FLOATS, ""},
    {"IsInf", 10, ONYX_DT(FLOAT32) | ONYX_DT(FLOAT64), ""},
    {"Not", 1, ONYX_DT(BOOL), ""},         {"LeakyRelu", 16, FLOATS, ""},
    {"Elu", 6, F16_32_64, ""},             {"Selu", 6, F16_32_64, ""},
    {"Celu", 12, ONYX_DT(FLOAT32), ""},    {"HardSigmoid", 6, F16_32_64, ""},
    {"HardSwish", 14, F16_32_64, ""},      {"Softplus", 1, F16_32_64, ""},
    {"Softsign", 1, F16_32_64, ""},        {"ThresholdedRelu", 10, F16_32_64, ""},
    {"Shrink", 9, F16_32_64 | INTS, ""},   {"Gelu", 20, FLOATS, ""},
    {"Gelu", 1, FLOATS, "com.microsoft"},  {"FastGelu", 1, FLOATS, "com.microsoft"},
    {"QuickGelu", 1, FLOATS, "com.microsoft"},
    {"Clip", 13, FLOATS | INTS, ""},       {"Sum", 13, FLOATS, ""},
    {"Mean", 13, FLOATS, ""},              {"Max", 13, FLOATS | INTS, ""},
    {"Min", 13, FLOATS | INTS, ""},
};

static void unary_case(const unary_op *u, onyx_dtype dt, const shape *s) {
    opc_case c;
    opc_init(&c, u->op, u->opset, 1);
    c.node.domain = u->domain;
    opc_input(&c, 0, dt, s->dims, s->rank, NULL);
    tolerance t = tol_for(dt);
    opc_run(&c, t.atol, t.rtol);
}

static void test_unary(void) {
    for (size_t o = 0; o < sizeof unary_ops / sizeof unary_ops[0]; o++)
        for (int d = 0; d < N_ALL_TYPES; d++)
            if (has(unary_ops[o].dtypes, all_types[d]))
                for (int s = 0; s < N_UNARY_SHAPES; s++) unary_case(&unary_ops[o], all_types[d], &unary_shapes[s]);
}

/* Attributes of the activations, and the special values of IsNaN / IsInf. */
static void test_unary_attributes(void) {
    static const struct {
        const char *op, *attr;
        float value;
        int opset;
    } cases[] = {
        {"LeakyRelu", "alpha", 0.1f, 16}, {"Elu", "alpha", 0.5f, 6},       {"Selu", "alpha", 2.0f, 6},
        {"Selu", "gamma", 0.5f, 6},       {"HardSigmoid", "alpha", 0.3f, 6}, {"HardSigmoid", "beta", 0.25f, 6},
        {"ThresholdedRelu", "alpha", 0.5f, 10}, {"Celu", "alpha", 2.0f, 12}, {"Shrink", "lambd", 1.0f, 9},
        {"Shrink", "bias", 0.5f, 9},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        onyx_dtype types[] = {ONYX_DTYPE_FLOAT32, ONYX_DTYPE_FLOAT16};
        for (int d = 0; d < 2; d++) {
            if (strcmp(cases[k].op, "Celu") == 0 && d == 1) continue;
            opc_case c;
            opc_init(&c, cases[k].op, cases[k].opset, 1);
            opc_attr_float(&c, cases[k].attr, cases[k].value);
            opc_input(&c, 0, types[d], (int64_t[]){4, 33}, 2, NULL);
            tolerance t = tol_for(types[d]);
            opc_run(&c, t.atol, t.rtol);
        }
    }
    /* Shrink on integers with lambd 1.5 and bias 1 */
    onyx_dtype ints[] = {ONYX_DTYPE_INT8, ONYX_DTYPE_INT32, ONYX_DTYPE_INT64, ONYX_DTYPE_UINT8};
    for (int d = 0; d < 4; d++) {
        opc_case c;
        opc_init(&c, "Shrink", 9, 1);
        opc_attr_float(&c, "lambd", 1.5f);
        opc_attr_float(&c, "bias", 1.0f);
        opc_input(&c, 0, ints[d], (int64_t[]){7, 5}, 2, NULL);
        opc_run(&c, 0, 0);
    }
    opc_case c;
    opc_init(&c, "QuickGelu", 1, 1);
    c.node.domain = "com.microsoft";
    opc_attr_float(&c, "alpha", 1.0f);
    opc_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){33}, 1, NULL);
    opc_run(&c, 1e-6, 1e-5);
    opc_init(&c, "Gelu", 20, 1);
    opc_attr_string(&c, "approximate", "tanh");
    opc_input(&c, 0, ONYX_DTYPE_BFLOAT16, (int64_t[]){3, 1000}, 2, NULL);
    opc_run(&c, 1.6e-2, 1.6e-2);
    opc_init(&c, "Gelu", 20, 1);
    opc_attr_string(&c, "approximate", "tanh");
    opc_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){3, 1000}, 2, NULL);
    opc_run(&c, 1e-6, 1e-5);

    float specials[] = {0, -0.0f, 1, -1, INFINITY, -INFINITY, NAN, 3.5f, -2.5f, 0.5f, 1e30f, -1e-30f, 65504, 1e-8f};
    for (int pos = 0; pos < 2; pos++)
        for (int neg = 0; neg < 2; neg++) {
            opc_init(&c, "IsInf", 10, 1);
            opc_attr_int(&c, "detect_positive", pos);
            opc_attr_int(&c, "detect_negative", neg);
            opc_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){14}, 1, specials);
            opc_run(&c, 0, 0);
        }
    const char *ops[] = {"IsNaN", "Round", "Sign", "Relu", "Abs", "Neg", "Sqrt", "Reciprocal", "Sigmoid", "Tanh",
                         "Erf", "Exp", "Log", "Ceil", "Floor"};
    int opsets[] = {13, 11, 13, 14, 13, 13, 13, 13, 13, 13, 13, 13, 13, 13, 13};
    for (int k = 0; k < (int)(sizeof ops / sizeof ops[0]); k++) {
        opc_init(&c, ops[k], opsets[k], 1);
        opc_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){14}, 1, specials);
        opc_run(&c, 1e-6, 1e-5);
    }
}

/* ---- binary ---- */

typedef struct shape_pair {
    shape a, b;
} shape_pair;

static const shape_pair binary_shapes[] = {
    {SH(2, 3, 33), SH(2, 3, 33)},     /* same shape: flat */
    {SH(7, 33), SCALAR},              /* scalar operand: flat */
    {SH(1), SH(1000)},                /* one-element operand */
    {SCALAR, SH(2, 5)},
    {SH(4, 7, 33), SH(33)},           /* last-dim vector, odd row: strided rank 2 */
    {SH(4, 7, 64), SH(64)},           /* last-dim vector, rows of whole packs: the rows kernel */
    {SH(64), SH(4, 7, 64)},           /* the same with the repeated row first */
    {SH(5, 40), SH(1, 40)},           /* rows kernel where 40 is whole packs, strided for 1-byte types */
    {SH(9, 3072), SH(3072)},          /* a transformer's feed-forward bias */
    {SH(4, 7, 33), SH(7, 1)},         /* middle broadcast */
    {SH(4, 1, 33), SH(1, 7, 1)},      /* both sides broadcast */
    {SH(3, 1, 5, 2), SH(1, 4, 5, 1)}, /* interleaved broadcast dims */
    {SH(2, 1, 3, 1, 2, 1), SH(1, 2, 1, 3, 1, 2)},
    {SH(0, 3), SH(3)},                /* zero size */
    {SH(5, 0), SH(1)},
    {SH(1), SH(1)},
    {SCALAR, SCALAR},
    {SH(3, 70001), SH(70001)},        /* long, strided */
    {SH(3, 70001), SH(3, 70001)},     /* long, flat */
};
#define N_BINARY_SHAPES ((int)(sizeof binary_shapes / sizeof binary_shapes[0]))

typedef struct binary_op {
    const char *op;
    int opset;
    uint64_t dtypes;
} binary_op;

static const binary_op binary_ops[] = {
    {"Add", 14, FLOATS | INTS},     {"Sub", 14, FLOATS | INTS},
    {"Mul", 14, FLOATS | INTS},     {"Div", 14, FLOATS | INTS},
    {"Pow", 15, FLOATS | ONYX_DT(INT32) | ONYX_DT(INT64)},
    {"Mod", 13, FLOATS | INTS},     {"PRelu", 16, FLOATS | ONYX_DT(INT32) | ONYX_DT(INT64)},
    {"And", 7, ONYX_DT(BOOL)},      {"Or", 7, ONYX_DT(BOOL)},
    {"Xor", 7, ONYX_DT(BOOL)},      {"Equal", 13, FLOATS | INTS | ONYX_DT(BOOL)},
    {"Greater", 13, FLOATS | INTS}, {"GreaterOrEqual", 16, FLOATS | INTS},
    {"Less", 13, FLOATS | INTS},    {"LessOrEqual", 16, FLOATS | INTS},
    {"Max", 13, FLOATS | INTS},     {"Min", 13, FLOATS | INTS},
    {"Sum", 13, FLOATS},            {"Mean", 13, FLOATS},
    {"FastGelu", 1, FLOATS},        {"BiasGelu", 1, FLOATS},
};

static void binary_case(const char *op, int opset, onyx_dtype dt, const shape *a, const shape *b) {
    opc_case c;
    opc_init(&c, op, opset, 1);
    if (strcmp(op, "FastGelu") == 0 || strcmp(op, "BiasGelu") == 0) c.node.domain = "com.microsoft";
    opc_input(&c, 0, dt, a->dims, a->rank, NULL);
    opc_input(&c, 1, dt, b->dims, b->rank, NULL);
    tolerance t = tol_for(dt);
    opc_run(&c, t.atol, t.rtol);
}

static void test_binary(void) {
    for (size_t o = 0; o < sizeof binary_ops / sizeof binary_ops[0]; o++)
        for (int d = 0; d < N_ALL_TYPES; d++)
            if (has(binary_ops[o].dtypes, all_types[d]))
                for (int s = 0; s < N_BINARY_SHAPES; s++)
                    binary_case(binary_ops[o].op, binary_ops[o].opset, all_types[d], &binary_shapes[s].a,
                                &binary_shapes[s].b);
}

static void test_binary_details(void) {
    opc_case c;
    /* Mod with fmod=1 (C's fmod) */
    onyx_dtype mod_types[] = {ONYX_DTYPE_FLOAT32, ONYX_DTYPE_FLOAT16, ONYX_DTYPE_FLOAT64, ONYX_DTYPE_INT32,
                              ONYX_DTYPE_INT64, ONYX_DTYPE_INT8, ONYX_DTYPE_UINT8};
    for (int d = 0; d < 7; d++) {
        opc_init(&c, "Mod", 13, 1);
        opc_attr_int(&c, "fmod", 1);
        opc_input(&c, 0, mod_types[d], (int64_t[]){4, 33}, 2, NULL);
        opc_input(&c, 1, mod_types[d], (int64_t[]){33}, 1, NULL);
        tolerance t = tol_for(mod_types[d]);
        opc_run(&c, t.atol, t.rtol);
    }
    /* BitShift both ways; shifts past the width give 0 */
    onyx_dtype uints[] = {ONYX_DTYPE_UINT8, ONYX_DTYPE_UINT16, ONYX_DTYPE_UINT32, ONYX_DTYPE_UINT64};
    for (int d = 0; d < 4; d++)
        for (int left = 0; left < 2; left++) {
            opc_init(&c, "BitShift", 11, 1);
            opc_attr_string(&c, "direction", left ? "LEFT" : "RIGHT");
            opc_input(&c, 0, uints[d], (int64_t[]){7, 33}, 2, NULL);
            opc_input_range(&c, 1, uints[d], (int64_t[]){33}, 1, 0, 70);
            opc_run(&c, 0, 0);
        }
    /* Pow by a scalar 2, 3, 0.5 (the fast paths), and integer exponents of float bases */
    float exponents[] = {2, 3, 0.5f, -1, 0};
    for (int e = 0; e < 5; e++) {
        opc_init(&c, "Pow", 15, 1);
        opc_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){5, 33}, 2, NULL);
        opc_input(&c, 1, ONYX_DTYPE_FLOAT32, no_dims, 0, &exponents[e]);
        opc_run(&c, 1e-6, 1e-5);
    }
    /* Pow with mixed dtypes */
    static const onyx_dtype mixed[][2] = {
        {ONYX_DTYPE_FLOAT32, ONYX_DTYPE_INT64}, {ONYX_DTYPE_FLOAT16, ONYX_DTYPE_FLOAT32},
        {ONYX_DTYPE_INT64, ONYX_DTYPE_INT32},   {ONYX_DTYPE_INT32, ONYX_DTYPE_FLOAT32},
        {ONYX_DTYPE_FLOAT64, ONYX_DTYPE_UINT8}, {ONYX_DTYPE_BFLOAT16, ONYX_DTYPE_FLOAT64},
        {ONYX_DTYPE_INT32, ONYX_DTYPE_INT8},
    };
    for (size_t m = 0; m < sizeof mixed / sizeof mixed[0]; m++)
        for (int s = 0; s < N_BINARY_SHAPES; s++) {
            opc_init(&c, "Pow", 15, 1);
            opc_input(&c, 0, mixed[m][0], binary_shapes[s].a.dims, binary_shapes[s].a.rank, NULL);
            if (onyx_dtype_is_float(mixed[m][1]))
                opc_input(&c, 1, mixed[m][1], binary_shapes[s].b.dims, binary_shapes[s].b.rank, NULL);
            else
                opc_input_range(&c, 1, mixed[m][1], binary_shapes[s].b.dims, binary_shapes[s].b.rank, 0, 4);
            tolerance t = tol_for(mixed[m][0]);
            opc_run(&c, t.atol, t.rtol);
        }
    /* PRelu with a per-channel slope */
    opc_init(&c, "PRelu", 16, 1);
    opc_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){2, 3, 4, 5}, 4, NULL);
    opc_input(&c, 1, ONYX_DTYPE_FLOAT32, (int64_t[]){3, 1, 1}, 3, NULL);
    opc_run(&c, 1e-6, 1e-5);
    /* comparisons that hit equal values, NaN and infinities */
    float a[] = {1, 2, NAN, INFINITY, -INFINITY, 0, -0.0f, 5};
    float b[] = {1, 3, NAN, INFINITY, 1, -0.0f, 0, NAN};
    const char *cmp[] = {"Equal", "Greater", "GreaterOrEqual", "Less", "LessOrEqual", "Max", "Min", "Add", "Div"};
    int cmp_opsets[] = {13, 13, 16, 13, 16, 13, 13, 14, 14};
    for (int k = 0; k < 9; k++) {
        opc_init(&c, cmp[k], cmp_opsets[k], 1);
        opc_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){8}, 1, a);
        opc_input(&c, 1, ONYX_DTYPE_FLOAT32, (int64_t[]){8}, 1, b);
        opc_run(&c, 0, 0);
    }
    /* integer division and modulo by zero and by -1 at the type's minimum */
    int32_t num[] = {7, -7, INT32_MIN, INT32_MIN, 5, -5, 0, 9};
    int32_t den[] = {0, 0, -1, 1, -3, 3, 0, -1};
    const char *div_ops[] = {"Div", "Mod"};
    for (int k = 0; k < 2; k++)
        for (int f = 0; f < 2; f++) {
            if (k == 0 && f == 1) continue;
            opc_init(&c, div_ops[k], 13, 1);
            if (f) opc_attr_int(&c, "fmod", 1);
            opc_input(&c, 0, ONYX_DTYPE_INT32, (int64_t[]){8}, 1, num);
            opc_input(&c, 1, ONYX_DTYPE_INT32, (int64_t[]){8}, 1, den);
            opc_run(&c, 0, 0);
        }
}

/* ---- variadic ---- */

static void test_variadic(void) {
    const char *ops[] = {"Max", "Min", "Sum", "Mean"};
    static const shape shapes[] = {SH(2, 1, 33), SH(7, 1), SH(33), SCALAR};
    onyx_dtype types[] = {ONYX_DTYPE_FLOAT32, ONYX_DTYPE_FLOAT16, ONYX_DTYPE_BFLOAT16, ONYX_DTYPE_FLOAT64,
                          ONYX_DTYPE_INT32,   ONYX_DTYPE_INT64,   ONYX_DTYPE_INT8,     ONYX_DTYPE_UINT8};
    for (int o = 0; o < 4; o++)
        for (int d = 0; d < 8; d++) {
            if (o >= 2 && !onyx_dtype_is_float(types[d])) continue;
            for (int n = 1; n <= 4; n++) {
                opc_case c;
                opc_init(&c, ops[o], 13, 1);
                for (int k = 0; k < n; k++) opc_input(&c, k, types[d], shapes[k].dims, shapes[k].rank, NULL);
                tolerance t = tol_for(types[d]);
                opc_run(&c, t.atol, t.rtol);
            }
            opc_case c; /* an empty broadcast */
            opc_init(&c, ops[o], 13, 1);
            opc_input(&c, 0, types[d], (int64_t[]){0, 3}, 2, NULL);
            opc_input(&c, 1, types[d], (int64_t[]){3}, 1, NULL);
            opc_input(&c, 2, types[d], (int64_t[]){1, 1}, 2, NULL);
            opc_run(&c, 0, 0);
        }
}

/* ---- Where ---- */

static void test_where(void) {
    static const shape shapes[][3] = {
        {SH(5, 33), SH(5, 33), SH(5, 33)},      /* flat */
        {SH(5, 33), SH(5, 33), SCALAR},         /* masked fill */
        {SCALAR, SH(5, 33), SH(5, 33)},         /* one condition */
        {SH(4, 1, 33), SH(7, 1), SCALAR},       /* strided */
        {SH(1, 7, 1), SH(4, 1, 1), SH(1, 1, 33)},
        {SH(2, 1, 1000), SH(2, 3, 1000), SH(1000)},
        {SH(0, 3), SH(3), SH(1)},               /* zero size */
    };
    for (int d = 0; d < N_ALL_TYPES; d++)
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            opc_case c;
            opc_init(&c, "Where", 16, 1);
            opc_input(&c, 0, ONYX_DTYPE_BOOL, shapes[s][0].dims, shapes[s][0].rank, NULL);
            opc_input(&c, 1, all_types[d], shapes[s][1].dims, shapes[s][1].rank, NULL);
            opc_input(&c, 2, all_types[d], shapes[s][2].dims, shapes[s][2].rank, NULL);
            opc_run(&c, 0, 0);
        }
}

/* ---- Clip ---- */

static void test_clip(void) {
    opc_case c;
    /* opset 6: float attributes */
    for (int k = 0; k < 4; k++) {
        opc_init(&c, "Clip", 6, 1);
        if (k & 1) opc_attr_float(&c, "min", -0.5f);
        if (k & 2) opc_attr_float(&c, "max", 0.75f);
        opc_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){7, 33}, 2, NULL);
        opc_run(&c, 0, 0);
    }
    opc_init(&c, "Clip", 6, 1);
    opc_attr_float(&c, "min", -1.25f);
    opc_attr_float(&c, "max", 1.5f);
    opc_input(&c, 0, ONYX_DTYPE_FLOAT16, (int64_t[]){1000}, 1, NULL);
    opc_run(&c, 0, 0);
    /* opset 13: bounds as inputs, each possibly absent, every dtype; lo > hi gives hi */
    onyx_dtype types[] = {ONYX_DTYPE_FLOAT32, ONYX_DTYPE_FLOAT16, ONYX_DTYPE_BFLOAT16, ONYX_DTYPE_FLOAT64,
                          ONYX_DTYPE_INT8,    ONYX_DTYPE_INT32,   ONYX_DTYPE_INT64,    ONYX_DTYPE_UINT8};
    for (int d = 0; d < 8; d++)
        for (int k = 0; k < 5; k++) {
            opc_init(&c, "Clip", 13, 1);
            opc_input(&c, 0, types[d], (int64_t[]){3, 1000}, 2, NULL);
            if (k == 4) { /* lo > hi */
                opc_input_range(&c, 1, types[d], no_dims, 0, 3, 3);
                opc_input_range(&c, 2, types[d], no_dims, 0, 1, 1);
            } else {
                if (k & 1) opc_input_range(&c, 1, types[d], no_dims, 0, 0, 1);
                else opc_input_absent(&c, 1);
                if (k & 2) opc_input_range(&c, 2, types[d], (int64_t[]){1}, 1, 2, 3);
                else opc_input_absent(&c, 2);
            }
            opc_run(&c, 0, 0);
        }
}

/* ---- ClampInf (onyx) ---- */

/* Sizes on both sides of the one-block path; inputs without and with an infinity (anywhere, so
 * the flag of the block that finds it decides), values between the two bounds, and NaN. */
static void test_clamp_inf(void) {
    onyx_dtype types[] = {ONYX_DTYPE_FLOAT16, ONYX_DTYPE_FLOAT32, ONYX_DTYPE_BFLOAT16, ONYX_DTYPE_FLOAT64};
    int64_t sizes[] = {6, 1000, 32768, 32769, 300000};
    for (int d = 0; d < 4; d++)
        for (int z = 0; z < 5; z++)
            for (int k = 0; k < 3; k++) {
                opc_case c;
                opc_init(&c, "ClampInf", 1, 1);
                c.node.domain = "onyx";
                opc_attr_float(&c, "bound", 65504.0f);
                opc_attr_float(&c, "bound_if_inf", 64504.0f);
                int64_t n = sizes[z];
                opc_input(&c, 0, types[d], (int64_t[]){n}, 1, NULL);
                onyx_tensor *t = &c.inputs[0];
                ew_store_f64(t->data, n / 3, types[d], 65000.0);
                ew_store_f64(t->data, n / 2, types[d], -64900.0);
                ew_store_f64(t->data, n - 1, types[d], NAN);
                if (k == 1) ew_store_f64(t->data, n - 2, types[d], INFINITY);
                if (k == 2) ew_store_f64(t->data, 0, types[d], -INFINITY);
                opc_run(&c, 0, 0);
            }
}

/* ---- Cast ---- */

/* Values that exercise Cast's rules: fractions, halves, negatives into unsigned, saturation and
 * wrapping of large floats, float16 overflow and subnormals, NaN and infinities, integer
 * extremes. Stored through the CPU's own conversion, so each source holds what its dtype can. */
static void cast_input(opc_case *c, onyx_dtype dt, int64_t n) {
    static const double float_values[] = {0, -0.0, 1, -1, 0.5, -0.5, 1.5, 2.5, -2.5, 0.7, -0.7, 127.6, 128, -129,
                                          255.9, 256, 300.7, -300.7, 65504, 65519, 65520, 70000, 1e-8, -6e-8,
                                          2147483647.0, 2147483648.0, -2147483649.0, 4294967296.0, 1e10, -1e10,
                                          9.3e18, 1.9e19, -9.3e18, 1e20, 3.4e38, 1e300, INFINITY, -INFINITY, NAN,
                                          1.0000001, 3.14159265358979, 16777217.0, 0.1};
    static const int64_t int_values[] = {0, 1, -1, 2, 127, 128, -128, -129, 255, 256, 32767, 32768, -32769, 65535,
                                         65536, 2147483647, -2147483647 - 1, 4294967295, 4294967296, 16777217,
                                         9007199254740993, INT64_MAX, INT64_MIN, -7, 100};
    int64_t dims[1] = {n};
    opc_input(c, 0, dt, dims, 1, NULL);
    onyx_tensor *t = &c->inputs[0];
    int nf = (int)(sizeof float_values / sizeof float_values[0]), ni = (int)(sizeof int_values / sizeof int_values[0]);
    for (int64_t i = 0; i < n; i += 2) { /* every other element special, the rest random */
        int64_t k = i / 2;
        if (onyx_dtype_is_float(dt)) ew_store_f64(t->data, i, dt, float_values[k % nf]);
        else if (dt != ONYX_DTYPE_BOOL) ew_store_i64(t->data, i, dt, int_values[k % ni]);
    }
}

static void test_cast(void) {
    for (int from = 0; from < N_ALL_TYPES; from++)
        for (int to = 0; to < N_ALL_TYPES; to++) {
            int64_t sizes[] = {100, 7, 1, 0, 1003};
            for (int s = 0; s < 5; s++) {
                opc_case c;
                opc_init(&c, "Cast", 13, 1);
                opc_attr_int(&c, "to", all_types[to]);
                cast_input(&c, all_types[from], sizes[s]);
                opc_run(&c, 0, 0);
            }
            opc_case c;
            opc_init(&c, "CastLike", 15, 1);
            cast_input(&c, all_types[from], 33);
            opc_input(&c, 1, all_types[to], no_dims, 0, NULL);
            opc_run(&c, 0, 0);
        }
    opc_case c; /* rank 0 */
    opc_init(&c, "Cast", 6, 1);
    opc_attr_int(&c, "to", ONYX_DTYPE_INT32);
    opc_input(&c, 0, ONYX_DTYPE_FLOAT32, no_dims, 0, NULL);
    opc_run(&c, 0, 0);
}

/* ---- errors both providers raise ---- */

static void test_errors(void) {
    opc_case c;
    opc_init(&c, "Add", 14, 1);
    opc_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){2, 3}, 2, NULL);
    opc_input(&c, 1, ONYX_DTYPE_FLOAT32, (int64_t[]){4}, 1, NULL);
    opc_run_expect_error(&c);
    opc_init(&c, "Mul", 14, 1);
    opc_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){3}, 1, NULL);
    opc_input(&c, 1, ONYX_DTYPE_INT64, (int64_t[]){3}, 1, NULL);
    opc_run_expect_error(&c);
    opc_init(&c, "Mod", 13, 1);
    opc_attr_int(&c, "fmod", 2);
    opc_input(&c, 0, ONYX_DTYPE_INT32, (int64_t[]){3}, 1, NULL);
    opc_input(&c, 1, ONYX_DTYPE_INT32, (int64_t[]){3}, 1, NULL);
    opc_run_expect_error(&c);
    opc_init(&c, "BitShift", 11, 1);
    opc_attr_string(&c, "direction", "UP");
    opc_input(&c, 0, ONYX_DTYPE_UINT8, (int64_t[]){3}, 1, NULL);
    opc_input(&c, 1, ONYX_DTYPE_UINT8, (int64_t[]){3}, 1, NULL);
    opc_run_expect_error(&c);
    opc_init(&c, "Where", 16, 1);
    opc_input(&c, 0, ONYX_DTYPE_INT32, (int64_t[]){3}, 1, NULL);
    opc_input(&c, 1, ONYX_DTYPE_FLOAT32, (int64_t[]){3}, 1, NULL);
    opc_input(&c, 2, ONYX_DTYPE_FLOAT32, (int64_t[]){3}, 1, NULL);
    opc_run_expect_error(&c);
    opc_init(&c, "Clip", 13, 1);
    opc_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){3}, 1, NULL);
    opc_input(&c, 1, ONYX_DTYPE_FLOAT32, (int64_t[]){2}, 1, NULL);
    opc_run_expect_error(&c);
    opc_init(&c, "Gelu", 20, 1);
    opc_attr_string(&c, "approximate", "fast");
    opc_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){3}, 1, NULL);
    opc_run_expect_error(&c);
    opc_init(&c, "Sum", 13, 1);
    opc_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){3}, 1, NULL);
    opc_input(&c, 1, ONYX_DTYPE_FLOAT32, (int64_t[]){2, 3}, 2, NULL);
    opc_input(&c, 2, ONYX_DTYPE_FLOAT32, (int64_t[]){4, 1, 1}, 3, NULL);
    opc_input(&c, 3, ONYX_DTYPE_FLOAT32, (int64_t[]){5, 1, 1}, 3, NULL);
    opc_run_expect_error(&c);
}

int main(void) {
    if (!opc_cuda_available()) return 77;
    ONYX_TEST_RUN(test_unary);
    ONYX_TEST_RUN(test_unary_attributes);
    ONYX_TEST_RUN(test_binary);
    ONYX_TEST_RUN(test_binary_details);
    ONYX_TEST_RUN(test_variadic);
    ONYX_TEST_RUN(test_where);
    ONYX_TEST_RUN(test_clip);
    ONYX_TEST_RUN(test_clamp_inf);
    ONYX_TEST_RUN(test_cast);
    ONYX_TEST_RUN(test_errors);
    return onyx_test_finish();
}
