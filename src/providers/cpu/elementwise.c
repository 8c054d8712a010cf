/*
 * elementwise.c - the CPU provider's elementwise kernels and their table rows: unary math,
 * binary arithmetic/comparison/logic with NumPy broadcasting, the variadic Max/Min/Mean/Sum,
 * Where, Clip, Gelu (ai.onnx and com.microsoft), FastGelu/BiasGelu/QuickGelu, and the small
 * activations (LeakyRelu, Elu, Selu, HardSigmoid, HardSwish, Softplus, Softsign,
 * ThresholdedRelu, Celu, PRelu, Shrink), trigonometry, Round and BitShift. Cast lives in
 * elementwise_cast.c; the broadcast plan and row driver in elementwise_plan.c.
 *
 * Each op is one expression instantiated per dtype by the row templates below (a row is a run
 * of contiguous output elements, see elementwise_plan.h), collected in a table indexed by dtype
 * code. float16/bfloat16 rows compute in float32 and round back. Tensors here are any shape;
 * inputs broadcast to the output's shape.
 */
#include <float.h>
#include <string.h>
#include <tgmath.h>

/* Let gcc if-convert float selects (Relu, Max, Clip, comparisons, onyx_cpu_expf's clamps) into vector
 * blends: with trapping math on it keeps them as branches. onyx never enables FP traps. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif

#include "core/alloc.h"
#include "core/status.h"
#include "providers/cpu/cpu_tables.h"
#include "providers/cpu/elementwise_plan.h"
#include "providers/cpu/fast_math.h"

/* ---- row templates ----
 * EXPR is a macro of the computed element(s) x (and y) in type ct; it may read params. */

#define EW_UNARY_ROW(name, TI, TO, LOAD, CT, STORE, EXPR) EW_UNARY_ROW_A(name, TI, TO, LOAD, CT, STORE, EXPR, )
#define EW_UNARY_ROW_A(name, TI, TO, LOAD, CT, STORE, EXPR, ATTR)                                 \
    ATTR static void name(void *out_, const void *const *in, const int *step, int64_t n,               \
                     const ew_params *params) {                                                   \
        typedef CT ct;                                                                            \
        TO *out = out_;                                                                           \
        const TI *src = in[0];                                                                    \
        (void)step;                                                                               \
        (void)params;                                                                             \
        for (int64_t i = 0; i < n; i++) {                                                         \
            ct x = (ct)LOAD(src[i]);                                                              \
            out[i] = STORE(EXPR(x));                                                              \
        }                                                                                         \
    }

#define EW_BINARY_ROW(name, T, TO, LOAD, CT, STORE, EXPR) EW_BINARY_ROW_A(name, T, TO, LOAD, CT, STORE, EXPR, )
#define EW_BINARY_ROW_A(name, T, TO, LOAD, CT, STORE, EXPR, ATTR)                                 \
    ATTR static void name(void *out_, const void *const *in, const int *step, int64_t n,               \
                     const ew_params *params) {                                                   \
        typedef CT ct;                                                                            \
        TO *out = out_;                                                                           \
        const T *a = in[0], *b = in[1];                                                           \
        (void)params;                                                                             \
        if (step[0] && step[1]) {                                                                 \
            for (int64_t i = 0; i < n; i++) {                                                     \
                ct x = (ct)LOAD(a[i]), y = (ct)LOAD(b[i]);                                        \
                out[i] = STORE(EXPR(x, y));                                                       \
            }                                                                                     \
        } else if (step[0]) {                                                                     \
            ct y = (ct)LOAD(b[0]);                                                                \
            for (int64_t i = 0; i < n; i++) {                                                     \
                ct x = (ct)LOAD(a[i]);                                                            \
                out[i] = STORE(EXPR(x, y));                                                       \
            }                                                                                     \
        } else if (step[1]) {                                                                     \
            ct x = (ct)LOAD(a[0]);                                                                \
            for (int64_t i = 0; i < n; i++) {                                                     \
                ct y = (ct)LOAD(b[i]);                                                            \
                out[i] = STORE(EXPR(x, y));                                                       \
            }                                                                                     \
        } else {                                                                                  \
            ct x = (ct)LOAD(a[0]), y = (ct)LOAD(b[0]);                                            \
            TO value = STORE(EXPR(x, y));                                                         \
            for (int64_t i = 0; i < n; i++) out[i] = value;                                       \
        }                                                                                         \
    }

/* Instantiations for one entry X(op, EXPR, DT, T, CT, LOAD, STORE) of a type list. */
#define EW_DEF_UNARY(op, EXPR, DT, T, CT, LOAD, STORE) EW_UNARY_ROW(op##_##DT, T, T, LOAD, CT, STORE, EXPR)
#define EW_DEF_UNARY_BOOL(op, EXPR, DT, T, CT, LOAD, STORE) EW_UNARY_ROW(op##_##DT, T, uint8_t, LOAD, CT, (uint8_t), EXPR)
#define EW_DEF_BINARY(op, EXPR, DT, T, CT, LOAD, STORE) EW_BINARY_ROW(op##_##DT, T, T, LOAD, CT, STORE, EXPR)
#define EW_DEF_COMPARE(op, EXPR, DT, T, CT, LOAD, STORE) EW_BINARY_ROW(op##_##DT, T, uint8_t, LOAD, CT, (uint8_t), EXPR)
/* Hot float rows (transcendentals, arithmetic) also get an AVX2+FMA clone picked at load time. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define EW_HOT __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define EW_HOT
#endif
/* Their float16 rows stage blocks through the float32 row (ew_f16_staged). */
#define EW_DEF_UNARY_HOT(op, EXPR, DT, T, CT, LOAD, STORE) EW_HOT_ROW_##DT(op, EXPR, T, CT, LOAD, STORE, EW_UNARY_ROW_A, 1)
#define EW_DEF_BINARY_HOT(op, EXPR, DT, T, CT, LOAD, STORE) EW_HOT_ROW_##DT(op, EXPR, T, CT, LOAD, STORE, EW_BINARY_ROW_A, 2)
#define EW_HOT_ROW_FLOAT32(op, EXPR, T, CT, LOAD, STORE, TEMPLATE, n_in) TEMPLATE(op##_FLOAT32, T, T, LOAD, CT, STORE, EXPR, EW_HOT)
#define EW_HOT_ROW_FLOAT64(op, EXPR, T, CT, LOAD, STORE, TEMPLATE, n_in) TEMPLATE(op##_FLOAT64, T, T, LOAD, CT, STORE, EXPR, EW_HOT)
#define EW_HOT_ROW_BFLOAT16(op, EXPR, T, CT, LOAD, STORE, TEMPLATE, n_in) TEMPLATE(op##_BFLOAT16, T, T, LOAD, CT, STORE, EXPR, EW_HOT)
#define EW_HOT_ROW_FLOAT16(op, EXPR, T, CT, LOAD, STORE, TEMPLATE, n_in)                          \
    static void op##_FLOAT16(void *out, const void *const *in, const int *step, int64_t n,        \
                             const ew_params *params) {                                           \
        ew_f16_staged(op##_FLOAT32, n_in, out, in, step, n, params);                              \
    }
#define EW_ENTRY_OP(op, EXPR, DT, T, CT, LOAD, STORE) [ONYX_DTYPE_##DT] = op##_##DT,

/* Define op's rows for the types of LIST with EXPR (DEF is one of the EW_DEF_ macros), and
 * collect them: EW_ROWS(op, LIST) makes op_rows[] for every type of LIST. */
#define EW_DEFINE(DEF, op, LIST, EXPR) LIST(DEF, op, EXPR)
#define EW_ROWS(op, LIST) static const ew_row_fn op##_rows[EW_DTYPE_COUNT] = {LIST(EW_ENTRY_OP, op, _)};

/* ---- scalar helpers that need statements ---- */

static inline int64_t ew_py_mod_i64(int64_t x, int64_t y) {
    if (y == 0 || y == -1) return 0; /* no trap on division by zero or INT64_MIN % -1 */
    int64_t r = x % y;
    if (r != 0 && ((r < 0) != (y < 0))) r += y;
    return r;
}
static inline int64_t ew_c_mod_i64(int64_t x, int64_t y) {
    return (y == 0 || y == -1) ? 0 : x % y;
}
static inline float ew_py_mod_f32(float x, float y) {
    float r = fmodf(x, y);
    if (r != 0 && ((r < 0) != (y < 0))) r += y;
    return r;
}
static inline double ew_py_mod_f64(double x, double y) {
    double r = fmod(x, y);
    if (r != 0 && ((r < 0) != (y < 0))) r += y;
    return r;
}
/* onyx_cpu_expf (fast_math.h) for float, libm's exp for double. */
#define EW_EXPF(x) _Generic((x), float: onyx_cpu_expf, default: exp)(x)

/* tanh for float32, vectorizable: Cephes' odd polynomial below |x| = 0.625 (written as
 * x * (1 + ...) so -0 stays -0), 1 - 2 / (exp(2|x|) + 1) above; within 2e-7 relative. */
static inline float ew_tanhf(float x) {
    float ax = fabsf(x), z = x * x;
    float p = -5.70498872745E-3f;
    p = p * z + 2.06390887954E-2f;
    p = p * z - 5.37397155531E-2f;
    p = p * z + 1.33314422036E-1f;
    p = p * z - 3.33332819422E-1f;
    float small = x * (1.0f + p * z);
    float big = 1.0f - 2.0f / (onyx_cpu_expf(2.0f * ax) + 1.0f);
    big = x < 0 ? -big : big;
    return ax < 0.625f ? small : big;
}
#define EW_TANHF(x) _Generic((x), float: ew_tanhf, default: tanh)(x)

/* erf for float32 as a vectorizable rational function (the odd/even minimax pair Eigen and XLA
 * use): within 5e-7 absolute of the exact erf; inputs are clamped to [-4, 4], where erf is
 * +-1 in float32 anyway. NaN is kept. */
static inline float ew_erff(float a) {
    float x = a < 4.0f ? a : 4.0f;
    x = x > -4.0f ? x : -4.0f;
    float x2 = x * x;
    float p = x2 * -2.72614225801306e-10f + 2.77068142495902e-08f;
    p = x2 * p + -2.10102402082508e-06f;
    p = x2 * p + -5.69250639462346e-05f;
    p = x2 * p + -7.34990630326855e-04f;
    p = x2 * p + -2.95459980854025e-03f;
    p = x2 * p + -1.60960333262415e-02f;
    p = x * p;
    float q = x2 * -1.45660718464996e-05f + -2.13374055278905e-04f;
    q = x2 * q + -1.68282697438203e-03f;
    q = x2 * q + -7.37332916720468e-03f;
    q = x2 * q + -1.42647390514189e-02f;
    float r = p / q;
    return a != a ? a : r;
}
/* ew_erff for float, libm's erf for double. */
#define EW_ERFF(x) _Generic((x), float: ew_erff, default: erf)(x)

/* Integer power by squaring (wrapping); negative exponents give 1/x^n truncated. */
static inline int64_t ew_int_pow(int64_t base, int64_t exponent) {
    if (exponent < 0) return base == 1 ? 1 : base == -1 ? ((exponent & 1) ? -1 : 1) : 0;
    uint64_t result = 1, b = (uint64_t)base;
    for (uint64_t e = (uint64_t)exponent; e; e >>= 1) {
        if (e & 1) result *= b;
        b *= b;
    }
    return (int64_t)result;
}

/* ---- expressions ---- */

#define EW_NEG_S(x) ((ct)(0u - (uint64_t)(x)))
#define EW_ABS_F(x) fabs(x)
#define EW_ABS_S(x) ((x) < 0 ? EW_NEG_S(x) : (x))
#define EW_NEG_F(x) (-(x))
#define EW_CEIL(x) ceil(x)
#define EW_FLOOR(x) floor(x)
#define EW_RECIPROCAL(x) ((ct)1 / (x))
#define EW_SQRT(x) sqrt(x)
#define EW_EXP(x) EW_EXPF(x)
#define EW_LOG(x) log(x)
#define EW_ERF_F(x) EW_ERFF(x)
#define EW_ERF_I(x) ((ct)erf((double)(x)))
#define EW_SIN(x) sin(x)
#define EW_COS(x) cos(x)
#define EW_TANH(x) EW_TANHF(x)
/* e = exp(-|x|) never overflows; 1/(1+e) for x >= 0, e/(1+e) below keeps tiny results. */
#define EW_SIGMOID(x) EW_SIGMOID_OF((x), EW_EXPF(-fabs(x)))
#define EW_SIGMOID_OF(x, e) ((x) >= 0 ? (ct)1 / ((ct)1 + (e)) : (e) / ((ct)1 + (e)))
#define EW_RELU(x) ((x) < 0 ? (ct)0 : (x))
#define EW_SIGN(x) ((x) > 0 ? (ct)1 : (x) < 0 ? (ct)-1 : (x))
#define EW_SIGN_U(x) ((x) > 0 ? (ct)1 : (ct)0)
#define EW_ISNAN(x) ((x) != (x))
#define EW_ISINF(x) (isinf(x) && ((x) > 0 ? params->detect_positive : params->detect_negative))
#define EW_NOT(x) (!(x))
#define EW_GELU_ERF(x) ((ct)0.5 * (x) * ((ct)1 + EW_ERFF((x) * (ct)0.70710678118654752440)))
/* 0.5 x (1 + tanh(u)) == x * sigmoid(2u), u = sqrt(2/pi) (x + 0.044715 x^3) */
#define EW_GELU_TANH(x)                                                                           \
    ((x) / ((ct)1 + EW_EXPF((ct)-1.59576912160573071176 * ((x) + (ct)0.044715 * (x) * (x) * (x)))))
#define EW_SCALE(x) ((ct)((x) * (ct)params->scale))

#define EW_ALPHA ((ct)params->alpha)
#define EW_LEAKY_RELU(x) ((x) < 0 ? EW_ALPHA * (x) : (x))
#define EW_ELU(x) ((x) < 0 ? EW_ALPHA * (EW_EXPF(x) - (ct)1) : (x))
#define EW_SELU(x) ((ct)params->gamma * ((x) <= 0 ? EW_ALPHA * EW_EXPF(x) - EW_ALPHA : (x)))
#define EW_CLAMP01(v) ((v) < 0 ? (ct)0 : (v) > 1 ? (ct)1 : (v))
#define EW_HARD_SIGMOID(x) EW_CLAMP01(EW_ALPHA * (x) + (ct)params->beta)
#define EW_HARD_SWISH(x) ((x) * EW_CLAMP01((x) * ((ct)1 / (ct)6) + (ct)0.5))
#define EW_SOFTPLUS(x) (((x) > 0 ? (x) : (ct)0) + log1p(EW_EXPF(-fabs(x))))
#define EW_SOFTSIGN(x) ((x) / ((ct)1 + fabs(x)))
#define EW_THRESHOLDED_RELU(x) ((x) > EW_ALPHA ? (x) : (ct)0)
#define EW_CELU(x) (((x) > 0 ? (x) : (ct)0) + ((x) < 0 ? EW_ALPHA * (EW_EXPF((x) / EW_ALPHA) - (ct)1) : (ct)0))
/* Shrink computes in double so integer inputs compare with the float lambd exactly. */
#define EW_SHRINK(x)                                                                              \
    ((double)(x) < -(double)params->alpha ? (ct)((double)(x) + params->beta)                      \
     : (double)(x) > (double)params->alpha ? (ct)((double)(x) - params->beta) : (ct)0)
#define EW_QUICK_GELU(x) ((x) * EW_SIGMOID(EW_ALPHA * (x)))
#define EW_ACOS(x) acos(x)
#define EW_ASIN(x) asin(x)
#define EW_ATAN(x) atan(x)
#define EW_ACOSH(x) acosh(x)
#define EW_ASINH(x) asinh(x)
#define EW_ATANH(x) atanh(x)
#define EW_SINH(x) sinh(x)
#define EW_COSH(x) cosh(x)
#define EW_TAN(x) tan(x)
#define EW_ROUND(x) nearbyint(x) /* halves to even in the default rounding mode */

#define EW_ADD(x, y) ((x) + (y))
#define EW_SUB(x, y) ((x) - (y))
#define EW_MUL(x, y) ((x) * (y))
#define EW_DIV_F(x, y) ((x) / (y))
#define EW_DIV_S(x, y) ((y) == 0 ? (ct)0 : (y) == -1 ? EW_NEG_S(x) : (ct)((x) / (y)))
#define EW_DIV_U(x, y) ((y) == 0 ? (ct)0 : (ct)((x) / (y)))
#define EW_POW_F(x, y) pow(x, y)
#define EW_POW_I(x, y) ((ct)ew_int_pow((int64_t)(x), (int64_t)(y)))
#define EW_MOD_PY_F(x, y) _Generic((x), float: ew_py_mod_f32, default: ew_py_mod_f64)(x, y)
#define EW_MOD_C_F(x, y) fmod(x, y)
#define EW_MOD_PY_S(x, y) ((ct)ew_py_mod_i64(x, y))
#define EW_MOD_C_S(x, y) ((ct)ew_c_mod_i64(x, y))
#define EW_MOD_U(x, y) ((y) == 0 ? (ct)0 : (ct)((x) % (y)))
#define EW_MAX(x, y) (((x) != (x) || (x) > (y)) ? (x) : (y)) /* NaN propagates */
#define EW_MIN(x, y) (((x) != (x) || (x) < (y)) ? (x) : (y))
#define EW_AND(x, y) ((x) && (y))
#define EW_OR(x, y) ((x) || (y))
#define EW_XOR(x, y) (((x) != 0) != ((y) != 0))
#define EW_EQUAL(x, y) ((x) == (y))
#define EW_GREATER(x, y) ((x) > (y))
#define EW_GREATER_EQUAL(x, y) ((x) >= (y))
#define EW_LESS(x, y) ((x) < (y))
#define EW_LESS_EQUAL(x, y) ((x) <= (y))
#define EW_PRELU(x, y) ((x) < 0 ? (y) * (x) : (x))
#define EW_FIRST(x, y) ((void)(y), (x))
#define EW_BIT_SHIFT(x, y)                                                                        \
    ((y) >= (ct)(sizeof(ct) * 8) ? (ct)0 : params->shift_left ? (ct)((x) << (y)) : (ct)((x) >> (y)))
#define EW_GELU_TANH_BIAS(x, y) EW_GELU_TANH((x) + (y))
#define EW_GELU_ERF_BIAS(x, y) EW_GELU_ERF((x) + (y))

/* ---- rows ---- */

EW_DEFINE(EW_DEF_UNARY, k_abs, EW_TYPES_FLOAT, EW_ABS_F)
EW_DEFINE(EW_DEF_UNARY, k_abs, EW_TYPES_SINT, EW_ABS_S)
EW_DEFINE(EW_DEF_UNARY, k_abs, EW_TYPES_UINT, EW_ID)
EW_ROWS(k_abs, EW_TYPES_NUMERIC)
EW_DEFINE(EW_DEF_UNARY, k_neg, EW_TYPES_FLOAT, EW_NEG_F)
EW_DEFINE(EW_DEF_UNARY, k_neg, EW_TYPES_SINT, EW_NEG_S)
EW_ROWS(k_neg, EW_TYPES_SIGNED)
EW_DEFINE(EW_DEF_UNARY, k_ceil, EW_TYPES_FLOAT, EW_CEIL)
EW_ROWS(k_ceil, EW_TYPES_FLOAT)
EW_DEFINE(EW_DEF_UNARY, k_floor, EW_TYPES_FLOAT, EW_FLOOR)
EW_ROWS(k_floor, EW_TYPES_FLOAT)
EW_DEFINE(EW_DEF_UNARY, k_reciprocal, EW_TYPES_FLOAT, EW_RECIPROCAL)
EW_ROWS(k_reciprocal, EW_TYPES_FLOAT)
EW_DEFINE(EW_DEF_UNARY, k_sqrt, EW_TYPES_FLOAT, EW_SQRT)
EW_ROWS(k_sqrt, EW_TYPES_FLOAT)
EW_DEFINE(EW_DEF_UNARY_HOT, k_exp, EW_TYPES_FLOAT, EW_EXP)
EW_ROWS(k_exp, EW_TYPES_FLOAT)
EW_DEFINE(EW_DEF_UNARY, k_log, EW_TYPES_FLOAT, EW_LOG)
EW_ROWS(k_log, EW_TYPES_FLOAT)
EW_DEFINE(EW_DEF_UNARY_HOT, k_erf, EW_TYPES_FLOAT, EW_ERF_F)
EW_DEFINE(EW_DEF_UNARY, k_erf, EW_TYPES_INT, EW_ERF_I)
EW_ROWS(k_erf, EW_TYPES_NUMERIC)
EW_DEFINE(EW_DEF_UNARY, k_sin, EW_TYPES_FLOAT, EW_SIN)
EW_ROWS(k_sin, EW_TYPES_FLOAT)
EW_DEFINE(EW_DEF_UNARY, k_cos, EW_TYPES_FLOAT, EW_COS)
EW_ROWS(k_cos, EW_TYPES_FLOAT)
EW_DEFINE(EW_DEF_UNARY_HOT, k_tanh, EW_TYPES_FLOAT, EW_TANH)
EW_ROWS(k_tanh, EW_TYPES_FLOAT)
EW_DEFINE(EW_DEF_UNARY_HOT, k_sigmoid, EW_TYPES_FLOAT, EW_SIGMOID)
EW_ROWS(k_sigmoid, EW_TYPES_FLOAT)
EW_DEFINE(EW_DEF_UNARY, k_relu, EW_TYPES_SIGNED, EW_RELU)
EW_ROWS(k_relu, EW_TYPES_SIGNED)
EW_DEFINE(EW_DEF_UNARY, k_sign, EW_TYPES_SIGNED, EW_SIGN)
EW_DEFINE(EW_DEF_UNARY, k_sign, EW_TYPES_UINT, EW_SIGN_U)
EW_ROWS(k_sign, EW_TYPES_NUMERIC)
EW_DEFINE(EW_DEF_UNARY_BOOL, k_isnan, EW_TYPES_FLOAT, EW_ISNAN)
EW_ROWS(k_isnan, EW_TYPES_FLOAT)
EW_DEFINE(EW_DEF_UNARY_BOOL, k_isinf, EW_TYPES_FLOAT, EW_ISINF)
EW_ROWS(k_isinf, EW_TYPES_FLOAT)
EW_DEFINE(EW_DEF_UNARY, k_not, EW_TYPE_BOOL, EW_NOT)
EW_ROWS(k_not, EW_TYPE_BOOL)
EW_DEFINE(EW_DEF_UNARY_HOT, k_gelu_erf, EW_TYPES_FLOAT, EW_GELU_ERF)
EW_ROWS(k_gelu_erf, EW_TYPES_FLOAT)
EW_DEFINE(EW_DEF_UNARY_HOT, k_gelu_tanh, EW_TYPES_FLOAT, EW_GELU_TANH)
EW_ROWS(k_gelu_tanh, EW_TYPES_FLOAT)
EW_DEFINE(EW_DEF_UNARY, k_scale, EW_TYPES_FLOAT, EW_SCALE)
EW_ROWS(k_scale, EW_TYPES_FLOAT)

#define EW_FLOAT_UNARY(op, EXPR) EW_DEFINE(EW_DEF_UNARY, op, EW_TYPES_FLOAT, EXPR) EW_ROWS(op, EW_TYPES_FLOAT)
EW_FLOAT_UNARY(k_leaky_relu, EW_LEAKY_RELU)
EW_FLOAT_UNARY(k_elu, EW_ELU)
EW_FLOAT_UNARY(k_selu, EW_SELU)
EW_FLOAT_UNARY(k_hard_sigmoid, EW_HARD_SIGMOID)
EW_FLOAT_UNARY(k_hard_swish, EW_HARD_SWISH)
EW_FLOAT_UNARY(k_softplus, EW_SOFTPLUS)
EW_FLOAT_UNARY(k_softsign, EW_SOFTSIGN)
EW_FLOAT_UNARY(k_thresholded_relu, EW_THRESHOLDED_RELU)
EW_FLOAT_UNARY(k_celu, EW_CELU)
EW_DEFINE(EW_DEF_UNARY, k_shrink, EW_TYPES_NUMERIC, EW_SHRINK)
EW_ROWS(k_shrink, EW_TYPES_NUMERIC)
EW_DEFINE(EW_DEF_UNARY_HOT, k_quick_gelu, EW_TYPES_FLOAT, EW_QUICK_GELU)
EW_ROWS(k_quick_gelu, EW_TYPES_FLOAT)
EW_FLOAT_UNARY(k_acos, EW_ACOS)
EW_FLOAT_UNARY(k_asin, EW_ASIN)
EW_FLOAT_UNARY(k_atan, EW_ATAN)
EW_FLOAT_UNARY(k_acosh, EW_ACOSH)
EW_FLOAT_UNARY(k_asinh, EW_ASINH)
EW_FLOAT_UNARY(k_atanh, EW_ATANH)
EW_FLOAT_UNARY(k_sinh, EW_SINH)
EW_FLOAT_UNARY(k_cosh, EW_COSH)
EW_FLOAT_UNARY(k_tan, EW_TAN)
EW_FLOAT_UNARY(k_round, EW_ROUND)

EW_DEFINE(EW_DEF_BINARY_HOT, k_add, EW_TYPES_FLOAT, EW_ADD)
EW_DEFINE(EW_DEF_BINARY, k_add, EW_TYPES_INT, EW_ADD)
EW_ROWS(k_add, EW_TYPES_NUMERIC)
EW_DEFINE(EW_DEF_BINARY_HOT, k_sub, EW_TYPES_FLOAT, EW_SUB)
EW_DEFINE(EW_DEF_BINARY, k_sub, EW_TYPES_INT, EW_SUB)
EW_ROWS(k_sub, EW_TYPES_NUMERIC)
EW_DEFINE(EW_DEF_BINARY_HOT, k_mul, EW_TYPES_FLOAT, EW_MUL)
EW_DEFINE(EW_DEF_BINARY, k_mul, EW_TYPES_INT, EW_MUL)
EW_ROWS(k_mul, EW_TYPES_NUMERIC)
EW_DEFINE(EW_DEF_BINARY_HOT, k_div, EW_TYPES_FLOAT, EW_DIV_F)
EW_DEFINE(EW_DEF_BINARY, k_div, EW_TYPES_SINT, EW_DIV_S)
EW_DEFINE(EW_DEF_BINARY, k_div, EW_TYPES_UINT, EW_DIV_U)
EW_ROWS(k_div, EW_TYPES_NUMERIC)
EW_DEFINE(EW_DEF_BINARY, k_pow, EW_TYPES_FLOAT, EW_POW_F)
/* Pow by a scalar 2, 3 or 0.5 (x^3 in GPT-2's Gelu, x^2 in decomposed LayerNorm). sqrt is
 * written so -0 gives +0 and -inf gives +inf, as pow does. */
#define EW_SQUARE(x) ((x) * (x))
#define EW_CUBE(x) ((x) * (x) * (x))
#define EW_POW_HALF(x) ((x) == -INFINITY ? (ct)INFINITY : sqrt(x) + (ct)0)
EW_DEFINE(EW_DEF_UNARY_HOT, k_square, EW_TYPES_FLOAT, EW_SQUARE)
EW_ROWS(k_square, EW_TYPES_FLOAT)
EW_DEFINE(EW_DEF_UNARY_HOT, k_cube, EW_TYPES_FLOAT, EW_CUBE)
EW_ROWS(k_cube, EW_TYPES_FLOAT)
EW_DEFINE(EW_DEF_UNARY_HOT, k_pow_half, EW_TYPES_FLOAT, EW_POW_HALF)
EW_ROWS(k_pow_half, EW_TYPES_FLOAT)
EW_DEFINE(EW_DEF_BINARY, k_pow, EW_TYPES_INT, EW_POW_I)
EW_ROWS(k_pow, EW_TYPES_NUMERIC)
EW_DEFINE(EW_DEF_BINARY, k_mod_py, EW_TYPES_FLOAT, EW_MOD_PY_F)
EW_DEFINE(EW_DEF_BINARY, k_mod_py, EW_TYPES_SINT, EW_MOD_PY_S)
EW_DEFINE(EW_DEF_BINARY, k_mod_py, EW_TYPES_UINT, EW_MOD_U)
EW_ROWS(k_mod_py, EW_TYPES_NUMERIC)
EW_DEFINE(EW_DEF_BINARY, k_mod_c, EW_TYPES_FLOAT, EW_MOD_C_F)
EW_DEFINE(EW_DEF_BINARY, k_mod_c, EW_TYPES_SINT, EW_MOD_C_S)
EW_DEFINE(EW_DEF_BINARY, k_mod_c, EW_TYPES_UINT, EW_MOD_U)
EW_ROWS(k_mod_c, EW_TYPES_NUMERIC)
EW_DEFINE(EW_DEF_BINARY, k_max, EW_TYPES_NUMERIC, EW_MAX)
EW_ROWS(k_max, EW_TYPES_NUMERIC)
EW_DEFINE(EW_DEF_BINARY, k_min, EW_TYPES_NUMERIC, EW_MIN)
EW_ROWS(k_min, EW_TYPES_NUMERIC)
EW_DEFINE(EW_DEF_BINARY, k_and, EW_TYPE_BOOL, EW_AND)
EW_ROWS(k_and, EW_TYPE_BOOL)
EW_DEFINE(EW_DEF_BINARY, k_or, EW_TYPE_BOOL, EW_OR)
EW_ROWS(k_or, EW_TYPE_BOOL)
EW_DEFINE(EW_DEF_BINARY, k_xor, EW_TYPE_BOOL, EW_XOR)
EW_ROWS(k_xor, EW_TYPE_BOOL)
EW_DEFINE(EW_DEF_COMPARE, k_equal, EW_TYPES_NUMERIC, EW_EQUAL)
EW_DEFINE(EW_DEF_COMPARE, k_equal, EW_TYPE_BOOL, EW_EQUAL)
static const ew_row_fn k_equal_rows[EW_DTYPE_COUNT] = {
    EW_TYPES_NUMERIC(EW_ENTRY_OP, k_equal, _) EW_TYPE_BOOL(EW_ENTRY_OP, k_equal, _)};
EW_DEFINE(EW_DEF_COMPARE, k_greater, EW_TYPES_NUMERIC, EW_GREATER)
EW_ROWS(k_greater, EW_TYPES_NUMERIC)
EW_DEFINE(EW_DEF_COMPARE, k_greater_equal, EW_TYPES_NUMERIC, EW_GREATER_EQUAL)
EW_ROWS(k_greater_equal, EW_TYPES_NUMERIC)
EW_DEFINE(EW_DEF_COMPARE, k_less, EW_TYPES_NUMERIC, EW_LESS)
EW_ROWS(k_less, EW_TYPES_NUMERIC)
EW_DEFINE(EW_DEF_COMPARE, k_less_equal, EW_TYPES_NUMERIC, EW_LESS_EQUAL)
EW_ROWS(k_less_equal, EW_TYPES_NUMERIC)
EW_DEFINE(EW_DEF_BINARY, k_prelu, EW_TYPES_SIGNED, EW_PRELU)
EW_DEFINE(EW_DEF_BINARY, k_prelu, EW_TYPES_UINT, EW_FIRST)
EW_ROWS(k_prelu, EW_TYPES_NUMERIC)
EW_DEFINE(EW_DEF_BINARY, k_bit_shift, EW_TYPES_UINT, EW_BIT_SHIFT)
EW_ROWS(k_bit_shift, EW_TYPES_UINT)
EW_DEFINE(EW_DEF_BINARY_HOT, k_gelu_tanh_bias, EW_TYPES_FLOAT, EW_GELU_TANH_BIAS)
EW_ROWS(k_gelu_tanh_bias, EW_TYPES_FLOAT)
EW_DEFINE(EW_DEF_BINARY_HOT, k_gelu_erf_bias, EW_TYPES_FLOAT, EW_GELU_ERF_BIAS)
EW_ROWS(k_gelu_erf_bias, EW_TYPES_FLOAT)

/* Clip: params->lo/hi hold one element of the input's dtype (absent bounds are the type's
 * extremes). lo > hi gives hi everywhere, as ONNX specifies. NaN stays NaN. */
#define EW_DEF_CLIP(op, unused, DT, T, CT, LOAD, STORE)                                           \
    static void op##_##DT(void *out_, const void *const *in, const int *step, int64_t n,          \
                          const ew_params *params) {                                              \
        T *out = out_;                                                                            \
        const T *src = in[0];                                                                     \
        CT lo = (CT)LOAD(*(const T *)&params->lo), hi = (CT)LOAD(*(const T *)&params->hi);        \
        (void)step;                                                                               \
        for (int64_t i = 0; i < n; i++) {                                                         \
            CT x = (CT)LOAD(src[i]);                                                              \
            CT v = x < lo ? lo : x;                                                               \
            out[i] = STORE(v > hi ? hi : v);                                                      \
        }                                                                                         \
    }
EW_DEFINE(EW_DEF_CLIP, k_clip, EW_TYPES_NUMERIC, _)
EW_ROWS(k_clip, EW_TYPES_NUMERIC)

/* Where by element size: condition is bool, X and Y any dtype of that size. The select is
 * written as mask arithmetic (mask = all ones where cond) so the compiler vectorizes it. */
#define EW_SELECT(T, c, a, b) ((T)((a) & (T)(0 - (T)((c) != 0))) | (T)((b) & (T)((T)((c) != 0) - 1)))
#define EW_WHERE_ROW(name, T)                                                                     \
    static void name(void *out_, const void *const *in, const int *step, int64_t n,               \
                     const ew_params *params) {                                                   \
        T *out = out_;                                                                            \
        const uint8_t *cond = in[0];                                                              \
        const T *x = in[1], *y = in[2];                                                           \
        (void)params;                                                                             \
        if (step[0] && step[1] && step[2]) {                                                      \
            for (int64_t i = 0; i < n; i++) out[i] = EW_SELECT(T, cond[i], x[i], y[i]);           \
        } else if (step[0] && step[1]) { /* masked fill with a scalar: Where(mask, x, -inf) */    \
            T fill = y[0];                                                                        \
            for (int64_t i = 0; i < n; i++) out[i] = EW_SELECT(T, cond[i], x[i], fill);           \
        } else if (step[0] && step[2]) {                                                          \
            T fill = x[0];                                                                        \
            for (int64_t i = 0; i < n; i++) out[i] = EW_SELECT(T, cond[i], fill, y[i]);           \
        } else if (step[0]) {                                                                     \
            T a = x[0], b = y[0];                                                                 \
            for (int64_t i = 0; i < n; i++) out[i] = EW_SELECT(T, cond[i], a, b);                 \
        } else { /* one condition for the whole row */                                            \
            const T *src = cond[0] ? x : y;                                                       \
            if (cond[0] ? step[1] : step[2]) memcpy(out, src, (size_t)n * sizeof(T));             \
            else for (int64_t i = 0; i < n; i++) out[i] = src[0];                                 \
        }                                                                                         \
    }
EW_WHERE_ROW(k_where_1, uint8_t)
EW_WHERE_ROW(k_where_2, uint16_t)
EW_WHERE_ROW(k_where_4, uint32_t)
EW_WHERE_ROW(k_where_8, uint64_t)

/* Pow with different base and exponent dtypes: integer bases with integer exponents use exact
 * integer powers, everything else computes in double and stores into the base's dtype. */
static void k_pow_mixed(void *out, const void *const *in, const int *step, int64_t n,
                        const ew_params *params) {
    onyx_dtype base_dt = params->dtypes[0], exp_dt = params->dtypes[1];
    int exact = !onyx_dtype_is_float(base_dt) && !onyx_dtype_is_float(exp_dt);
    for (int64_t i = 0; i < n; i++) {
        int64_t ia = step[0] ? i : 0, ib = step[1] ? i : 0;
        if (exact)
            ew_store_i64(out, i, base_dt,
                         ew_int_pow(ew_load_i64(in[0], ia, base_dt), ew_load_i64(in[1], ib, exp_dt)));
        else
            ew_store_f64(out, i, base_dt,
                         pow(ew_load_f64(in[0], ia, base_dt), ew_load_f64(in[1], ib, exp_dt)));
    }
}

/* Copy one input as is (single-input Max/Min/Sum/Mean). */
static void k_copy_1(void *out, const void *const *in, const int *step, int64_t n, const ew_params *params) {
    (void)step; (void)params; memcpy(out, in[0], (size_t)n);
}
static void k_copy_2(void *out, const void *const *in, const int *step, int64_t n, const ew_params *params) {
    (void)step; (void)params; memcpy(out, in[0], (size_t)n * 2);
}
static void k_copy_4(void *out, const void *const *in, const int *step, int64_t n, const ew_params *params) {
    (void)step; (void)params; memcpy(out, in[0], (size_t)n * 4);
}
static void k_copy_8(void *out, const void *const *in, const int *step, int64_t n, const ew_params *params) {
    (void)step; (void)params; memcpy(out, in[0], (size_t)n * 8);
}

static ew_row_fn ew_row_by_size(size_t size, ew_row_fn r1, ew_row_fn r2, ew_row_fn r4, ew_row_fn r8) {
    return size == 1 ? r1 : size == 2 ? r2 : size == 4 ? r4 : size == 8 ? r8 : NULL;
}

/* ---- shared prepare/run steps ---- */

static const char *ew_op_name(const onyx_kernel_ctx *ctx) {
    return ctx->node && ctx->node->op_type ? ctx->node->op_type : "elementwise op";
}

static onyx_status ew_require(const onyx_kernel_ctx *ctx, int i, const char *name) {
    if (!onyx_input(ctx, i))
        return onyx_error(ONYX_ERR_INVALID_MODEL, "%s: input %d (%s) is required but absent",
                          ew_op_name(ctx), i, name);
    if (onyx_input(ctx, i)->device != ONYX_DEVICE_CPU)
        return onyx_error(ONYX_ERR_RUNTIME, "internal: %s input %d (%s) is not on the host",
                          ew_op_name(ctx), i, name);
    return ONYX_OK;
}

static onyx_status ew_require_output(const onyx_kernel_ctx *ctx) {
    if (!onyx_output(ctx, 0))
        return onyx_error(ONYX_ERR_INVALID_MODEL, "%s: output 0 is absent", ew_op_name(ctx));
    return ONYX_OK;
}

/* Input i's dtype must have a row in rows. */
static onyx_status ew_check_rows(const onyx_kernel_ctx *ctx, const ew_row_fn *rows, int i,
                                 const char *name) {
    onyx_dtype dt = onyx_input(ctx, i)->dtype;
    if ((int)dt <= 0 || (int)dt >= EW_DTYPE_COUNT || !rows[dt])
        return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "%s: input %d (%s) has dtype %s, which the CPU "
                          "kernel does not support", ew_op_name(ctx), i, name, onyx_dtype_name(dt));
    return ONYX_OK;
}

/* Inputs first..first+count-1 that are present must share dtype with input first. */
static onyx_status ew_check_same_dtype(const onyx_kernel_ctx *ctx, int first, int count,
                                       const char *const *names) {
    const onyx_tensor *ref = onyx_input(ctx, first);
    for (int k = first + 1; k < first + count; k++) {
        const onyx_tensor *t = onyx_input(ctx, k);
        if (t && t->dtype != ref->dtype)
            return onyx_error(ONYX_ERR_INVALID_MODEL, "%s: input %d (%s) has dtype %s but input %d "
                              "(%s) has %s; they must match", ew_op_name(ctx), k, names[k],
                              onyx_dtype_name(t->dtype), first, names[first],
                              onyx_dtype_name(ref->dtype));
    }
    return ONYX_OK;
}

static onyx_status ew_run_plan(onyx_kernel_ctx *ctx, const onyx_tensor *const *inputs,
                               int n_inputs, ew_row_fn row, const ew_params *params) {
    onyx_tensor *out = onyx_output(ctx, 0);
    ew_plan plan;
    ew_plan_init(&plan, out, inputs, n_inputs);
    const void *data[EW_MAX_INPUTS] = {0};
    for (int k = 0; k < n_inputs; k++) data[k] = inputs[k]->data;
    ew_plan_run(&plan, row, out->data, data, params, ctx->threads);
    return ONYX_OK;
}

/* Unary: output has the input's shape; dtype the input's, or bool. */
static onyx_status ew_unary_prepare(onyx_kernel_ctx *ctx, const ew_row_fn *rows, int out_bool) {
    ONYX_TRY(ew_require(ctx, 0, "X"));
    ONYX_TRY(ew_require_output(ctx));
    ONYX_TRY(ew_check_rows(ctx, rows, 0, "X"));
    const onyx_tensor *x = onyx_input(ctx, 0);
    return onyx_tensor_set_shape(onyx_output(ctx, 0), out_bool ? ONYX_DTYPE_BOOL : x->dtype,
                                 x->dims, x->rank, "output 0 (Y)");
}

static onyx_status ew_unary_run(onyx_kernel_ctx *ctx, const ew_row_fn *rows, const ew_params *params) {
    const onyx_tensor *x = onyx_input(ctx, 0);
    ew_params none;
    memset(&none, 0, sizeof none);
    return ew_run_plan(ctx, &x, 1, rows[x->dtype], params ? params : &none);
}

static const char *const ew_binary_names[] = {"A", "B"};

/* Binary with broadcasting; A and B share a dtype unless mixed (Pow's base and exponent). */
static onyx_status ew_binary_prepare(onyx_kernel_ctx *ctx, const ew_row_fn *rows, int out_bool,
                                     int mixed) {
    ONYX_TRY(ew_require(ctx, 0, "A"));
    ONYX_TRY(ew_require(ctx, 1, "B"));
    ONYX_TRY(ew_require_output(ctx));
    ONYX_TRY(ew_check_rows(ctx, rows, 0, "A"));
    if (mixed) {
        onyx_dtype exp_dt = onyx_input(ctx, 1)->dtype;
        if (!((UINT64_C(1) << exp_dt) & ONYX_DT_NUMERIC))
            return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "%s: input 1 (B) has dtype %s; expected a "
                              "numeric dtype", ew_op_name(ctx), onyx_dtype_name(exp_dt));
    } else {
        ONYX_TRY(ew_check_same_dtype(ctx, 0, 2, ew_binary_names));
    }
    int64_t dims[ONYX_MAX_RANK];
    int rank;
    ONYX_TRY(ew_broadcast_inputs(ctx, ctx->inputs, 2, ew_binary_names, dims, &rank));
    return onyx_tensor_set_shape(onyx_output(ctx, 0),
                                 out_bool ? ONYX_DTYPE_BOOL : onyx_input(ctx, 0)->dtype, dims, rank,
                                 "output 0 (C)");
}

static onyx_status ew_binary_run(onyx_kernel_ctx *ctx, const ew_row_fn *rows) {
    const onyx_tensor *inputs[2] = {onyx_input(ctx, 0), onyx_input(ctx, 1)};
    ew_params params;
    memset(&params, 0, sizeof params);
    params.dtypes[0] = inputs[0]->dtype;
    params.dtypes[1] = inputs[1]->dtype;
    ew_row_fn row = inputs[0]->dtype == inputs[1]->dtype ? rows[inputs[0]->dtype] : k_pow_mixed;
    return ew_run_plan(ctx, inputs, 2, row, &params);
}

/* ---- kernels ---- */

#define EW_UNARY_KERNEL(op, out_bool)                                                             \
    static onyx_status op##_prepare(onyx_kernel_ctx *ctx) { return ew_unary_prepare(ctx, op##_rows, out_bool); } \
    static onyx_status op##_run(onyx_kernel_ctx *ctx) { return ew_unary_run(ctx, op##_rows, NULL); }
#define EW_BINARY_KERNEL(op, out_bool)                                                            \
    static onyx_status op##_prepare(onyx_kernel_ctx *ctx) { return ew_binary_prepare(ctx, op##_rows, out_bool, 0); } \
    static onyx_status op##_run(onyx_kernel_ctx *ctx) { return ew_binary_run(ctx, op##_rows); }

EW_UNARY_KERNEL(k_abs, 0)
EW_UNARY_KERNEL(k_neg, 0)
EW_UNARY_KERNEL(k_ceil, 0)
EW_UNARY_KERNEL(k_floor, 0)
EW_UNARY_KERNEL(k_reciprocal, 0)
EW_UNARY_KERNEL(k_sqrt, 0)
EW_UNARY_KERNEL(k_exp, 0)
EW_UNARY_KERNEL(k_log, 0)
EW_UNARY_KERNEL(k_erf, 0)
EW_UNARY_KERNEL(k_sin, 0)
EW_UNARY_KERNEL(k_cos, 0)
EW_UNARY_KERNEL(k_tanh, 0)
EW_UNARY_KERNEL(k_sigmoid, 0)
EW_UNARY_KERNEL(k_relu, 0)
EW_UNARY_KERNEL(k_sign, 0)
EW_UNARY_KERNEL(k_isnan, 1)
EW_UNARY_KERNEL(k_not, 0)

EW_BINARY_KERNEL(k_add, 0)
EW_BINARY_KERNEL(k_sub, 0)
EW_BINARY_KERNEL(k_mul, 0)
EW_BINARY_KERNEL(k_div, 0)
EW_BINARY_KERNEL(k_and, 0)
EW_BINARY_KERNEL(k_or, 0)
EW_BINARY_KERNEL(k_xor, 0)
EW_BINARY_KERNEL(k_equal, 1)
EW_BINARY_KERNEL(k_greater, 1)
EW_BINARY_KERNEL(k_greater_equal, 1)
EW_BINARY_KERNEL(k_less, 1)
EW_BINARY_KERNEL(k_less_equal, 1)

/* Unary ops with float attributes alpha/beta/gamma (defaults per op). */
#define EW_ATTR_KERNEL(op, alpha_default, beta_default, gamma_default)                           \
    static onyx_status op##_prepare(onyx_kernel_ctx *ctx) { return ew_unary_prepare(ctx, op##_rows, 0); } \
    static onyx_status op##_run(onyx_kernel_ctx *ctx) {                                           \
        ew_params params;                                                                         \
        memset(&params, 0, sizeof params);                                                        \
        params.alpha = onyx_node_attr_float(ctx->node, "alpha", alpha_default);                   \
        params.beta = onyx_node_attr_float(ctx->node, "beta", beta_default);                      \
        params.gamma = onyx_node_attr_float(ctx->node, "gamma", gamma_default);                   \
        return ew_unary_run(ctx, op##_rows, &params);                                             \
    }
EW_ATTR_KERNEL(k_leaky_relu, 0.01f, 0, 0)
EW_ATTR_KERNEL(k_elu, 1.0f, 0, 0)
EW_ATTR_KERNEL(k_selu, 1.67326319217681884765625f, 0, 1.05070102214813232421875f)
EW_ATTR_KERNEL(k_hard_sigmoid, 0.2f, 0.5f, 0)
EW_ATTR_KERNEL(k_thresholded_relu, 1.0f, 0, 0)
EW_ATTR_KERNEL(k_celu, 1.0f, 0, 0)
EW_ATTR_KERNEL(k_quick_gelu, 1.702f, 0, 0)
EW_UNARY_KERNEL(k_hard_swish, 0)
EW_UNARY_KERNEL(k_softplus, 0)
EW_UNARY_KERNEL(k_softsign, 0)
EW_UNARY_KERNEL(k_acos, 0)
EW_UNARY_KERNEL(k_asin, 0)
EW_UNARY_KERNEL(k_atan, 0)
EW_UNARY_KERNEL(k_acosh, 0)
EW_UNARY_KERNEL(k_asinh, 0)
EW_UNARY_KERNEL(k_atanh, 0)
EW_UNARY_KERNEL(k_sinh, 0)
EW_UNARY_KERNEL(k_cosh, 0)
EW_UNARY_KERNEL(k_tan, 0)
EW_UNARY_KERNEL(k_round, 0)

/* Shrink(lambd = 0.5, bias = 0): x + bias below -lambd, x - bias above lambd, else 0. */
static onyx_status k_shrink_prepare(onyx_kernel_ctx *ctx) { return ew_unary_prepare(ctx, k_shrink_rows, 0); }
static onyx_status k_shrink_run(onyx_kernel_ctx *ctx) {
    ew_params params;
    memset(&params, 0, sizeof params);
    params.alpha = onyx_node_attr_float(ctx->node, "lambd", 0.5f);
    params.beta = onyx_node_attr_float(ctx->node, "bias", 0.0f);
    return ew_unary_run(ctx, k_shrink_rows, &params);
}

/* PRelu(X, slope): slope broadcasts to X (unidirectionally in ONNX; any broadcast here). */
static onyx_status k_prelu_prepare(onyx_kernel_ctx *ctx) { return ew_binary_prepare(ctx, k_prelu_rows, 0, 0); }
static onyx_status k_prelu_run(onyx_kernel_ctx *ctx) { return ew_binary_run(ctx, k_prelu_rows); }

/* BitShift(X, Y) with direction "LEFT" | "RIGHT"; shifting by the width or more gives 0. */
static onyx_status k_bit_shift_prepare(onyx_kernel_ctx *ctx) {
    const char *direction = onyx_node_attr_string(ctx->node, "direction", "");
    if (strcmp(direction, "LEFT") != 0 && strcmp(direction, "RIGHT") != 0)
        return onyx_error(ONYX_ERR_INVALID_MODEL, "BitShift: attribute direction is \"%s\"; expected "
                          "\"LEFT\" or \"RIGHT\"", direction);
    return ew_binary_prepare(ctx, k_bit_shift_rows, 0, 0);
}
static onyx_status k_bit_shift_run(onyx_kernel_ctx *ctx) {
    const onyx_tensor *inputs[2] = {onyx_input(ctx, 0), onyx_input(ctx, 1)};
    ew_params params;
    memset(&params, 0, sizeof params);
    params.shift_left = strcmp(onyx_node_attr_string(ctx->node, "direction", ""), "LEFT") == 0;
    return ew_run_plan(ctx, inputs, 2, k_bit_shift_rows[inputs[0]->dtype], &params);
}

static onyx_status k_isinf_prepare(onyx_kernel_ctx *ctx) { return ew_unary_prepare(ctx, k_isinf_rows, 1); }
static onyx_status k_isinf_run(onyx_kernel_ctx *ctx) {
    ew_params params;
    memset(&params, 0, sizeof params);
    params.detect_positive = onyx_node_attr_int(ctx->node, "detect_positive", 1) != 0;
    params.detect_negative = onyx_node_attr_int(ctx->node, "detect_negative", 1) != 0;
    return ew_unary_run(ctx, k_isinf_rows, &params);
}

/* Pow: base A (T) and exponent B (T1) may differ in dtype; the output has A's dtype. */
static onyx_status k_pow_prepare(onyx_kernel_ctx *ctx) { return ew_binary_prepare(ctx, k_pow_rows, 0, 1); }
static onyx_status k_pow_run(onyx_kernel_ctx *ctx) {
    const onyx_tensor *base = onyx_input(ctx, 0), *exponent = onyx_input(ctx, 1);
    if (onyx_dtype_is_float(base->dtype) && onyx_dtype_is_float(exponent->dtype) &&
        onyx_shape_numel(exponent->dims, exponent->rank) == 1 &&
        onyx_shape_numel(base->dims, base->rank) == onyx_shape_numel(onyx_output(ctx, 0)->dims, onyx_output(ctx, 0)->rank)) {
        double e = ew_load_f64(exponent->data, 0, exponent->dtype);
        const ew_row_fn *rows = e == 2 ? k_square_rows : e == 3 ? k_cube_rows : e == 0.5 ? k_pow_half_rows : NULL;
        if (rows) {
            ew_params none;
            memset(&none, 0, sizeof none);
            return ew_run_plan(ctx, &base, 1, rows[base->dtype], &none);
        }
    }
    return ew_binary_run(ctx, k_pow_rows);
}

/* Mod: fmod=0 takes the divisor's sign (Python's %), fmod=1 the dividend's (C's fmod). */
static onyx_status k_mod_prepare(onyx_kernel_ctx *ctx) {
    int64_t fmod_attr = ctx->node ? onyx_node_attr_int(ctx->node, "fmod", 0) : 0;
    if (fmod_attr != 0 && fmod_attr != 1)
        return onyx_error(ONYX_ERR_INVALID_MODEL, "Mod: attribute fmod is %lld; expected 0 or 1",
                          (long long)fmod_attr);
    return ew_binary_prepare(ctx, fmod_attr ? k_mod_c_rows : k_mod_py_rows, 0, 0);
}
static onyx_status k_mod_run(onyx_kernel_ctx *ctx) {
    int64_t fmod_attr = ctx->node ? onyx_node_attr_int(ctx->node, "fmod", 0) : 0;
    return ew_binary_run(ctx, fmod_attr ? k_mod_c_rows : k_mod_py_rows);
}

/* Gelu: ai.onnx (opset 20) has approximate = "none" | "tanh"; com.microsoft Gelu is the erf
 * form and FastGelu the tanh form with an optional bias added first (bias broadcasts). */
static int ew_gelu_is_tanh(const onyx_kernel_ctx *ctx) {
    if (strcmp(ctx->node->op_type, "FastGelu") == 0) return 1;
    const char *approximate = onyx_node_attr_string(ctx->node, "approximate", "none");
    return strcmp(approximate, "tanh") == 0;
}
static onyx_status k_gelu_prepare(onyx_kernel_ctx *ctx) {
    const char *approximate = onyx_node_attr_string(ctx->node, "approximate", "none");
    if (strcmp(approximate, "none") != 0 && strcmp(approximate, "tanh") != 0)
        return onyx_error(ONYX_ERR_INVALID_MODEL, "%s: attribute approximate is \"%s\"; expected "
                          "\"none\" or \"tanh\"", ew_op_name(ctx), approximate);
    if (onyx_input(ctx, 1)) {
        const ew_row_fn *rows = ew_gelu_is_tanh(ctx) ? k_gelu_tanh_bias_rows : k_gelu_erf_bias_rows;
        return ew_binary_prepare(ctx, rows, 0, 0);
    }
    return ew_unary_prepare(ctx, ew_gelu_is_tanh(ctx) ? k_gelu_tanh_rows : k_gelu_erf_rows, 0);
}
static onyx_status k_gelu_run(onyx_kernel_ctx *ctx) {
    int tanh_form = ew_gelu_is_tanh(ctx);
    if (onyx_input(ctx, 1))
        return ew_binary_run(ctx, tanh_form ? k_gelu_tanh_bias_rows : k_gelu_erf_bias_rows);
    return ew_unary_run(ctx, tanh_form ? k_gelu_tanh_rows : k_gelu_erf_rows, NULL);
}
/* com.microsoft BiasGelu(A, B) = Gelu(A + B), erf form. */
static onyx_status k_bias_gelu_prepare(onyx_kernel_ctx *ctx) {
    return ew_binary_prepare(ctx, k_gelu_erf_bias_rows, 0, 0);
}
static onyx_status k_bias_gelu_run(onyx_kernel_ctx *ctx) { return ew_binary_run(ctx, k_gelu_erf_bias_rows); }

/* onyx ClampInf(X) (fused from the fp16 overflow guard of T5 blocks): Y = Clip(X, -b, b) with
 * b = bound_if_inf when any element of X is infinite, else bound; both bounds rounded to X's
 * dtype. NaN passes through, as in Clip. */
static onyx_status k_clamp_inf_prepare(onyx_kernel_ctx *ctx) {
    ONYX_TRY(onyx_kernel_require(ctx, 0));
    ONYX_TRY(ew_require_output(ctx));
    const onyx_tensor *x = onyx_input(ctx, 0);
    return onyx_tensor_set_shape(onyx_output(ctx, 0), x->dtype, x->dims, x->rank, "output 0");
}

#define CLAMP_INF_LOOP(T, to_f, from_f)                                                           \
    do {                                                                                          \
        const T *in = x->data;                                                                    \
        T *out = y->data;                                                                         \
        int any = 0;                                                                              \
        for (int64_t i = 0; i < n && !any; i++) any = isinf(to_f(in[i]));                        \
        double hi = to_f(from_f(any ? inf_bound : bound)), lo = -hi;                              \
        for (int64_t i = 0; i < n; i++) {                                                         \
            double v = to_f(in[i]);                                                               \
            out[i] = v < lo ? from_f(lo) : v > hi ? from_f(hi) : in[i];                           \
        }                                                                                         \
    } while (0)
#define CLAMP_ID(v) (v)
static double clamp_f16_in(uint16_t h) { return onyx_f16_to_f32(h); }
static uint16_t clamp_f16_out(double v) { return onyx_f32_to_f16((float)v); }
static double clamp_bf16_in(uint16_t h) { return onyx_bf16_to_f32(h); }
static uint16_t clamp_bf16_out(double v) { return onyx_f32_to_bf16((float)v); }
static double clamp_f32_in(float v) { return v; }
static float clamp_f32_out(double v) { return (float)v; }

static onyx_status k_clamp_inf_run(onyx_kernel_ctx *ctx) {
    const onyx_tensor *x = onyx_input(ctx, 0);
    onyx_tensor *y = onyx_output(ctx, 0);
    int64_t n = onyx_shape_numel(x->dims, x->rank);
    double bound = onyx_node_attr_float(ctx->node, "bound", 65504.0f);
    double inf_bound = onyx_node_attr_float(ctx->node, "bound_if_inf", 64504.0f);
    switch (x->dtype) {
    case ONYX_DTYPE_FLOAT16: CLAMP_INF_LOOP(uint16_t, clamp_f16_in, clamp_f16_out); break;
    case ONYX_DTYPE_BFLOAT16: CLAMP_INF_LOOP(uint16_t, clamp_bf16_in, clamp_bf16_out); break;
    case ONYX_DTYPE_FLOAT32: CLAMP_INF_LOOP(float, clamp_f32_in, clamp_f32_out); break;
    case ONYX_DTYPE_FLOAT64: CLAMP_INF_LOOP(double, CLAMP_ID, CLAMP_ID); break;
    default:
        return onyx_error(ONYX_ERR_INVALID_MODEL, "ClampInf: input 0 has dtype %s; expected a float type",
                          onyx_dtype_name(x->dtype));
    }
    return ONYX_OK;
}

#define EW_MAX_VARIADIC 64
/* Variadic Max/Min/Sum/Mean over inputs 0..n-1 (at least one), all broadcast together: the
 * output starts as op(in0, in1) and folds each further input into itself. */
static onyx_status ew_variadic_prepare(onyx_kernel_ctx *ctx, const ew_row_fn *rows) {
    if (ctx->n_inputs < 1 || !onyx_input(ctx, 0))
        return onyx_error(ONYX_ERR_INVALID_MODEL, "%s: needs at least one input", ew_op_name(ctx));
    ONYX_TRY(ew_require_output(ctx));
    static const char *const first_names[] = {"data_0", "data_1", "data_2", "data_3",
                                              "data_4", "data_5", "data_6", "data_7"};
    const char *namev[EW_MAX_VARIADIC];
    for (int k = 0; k < EW_MAX_VARIADIC; k++) namev[k] = k < 8 ? first_names[k] : "data_i";
    int n = ctx->n_inputs;
    if (n > EW_MAX_VARIADIC)
        return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "%s: %d inputs; the CPU kernel takes at most %d",
                          ew_op_name(ctx), n, EW_MAX_VARIADIC);
    for (int k = 0; k < n; k++)
        if (!onyx_input(ctx, k))
            return onyx_error(ONYX_ERR_INVALID_MODEL, "%s: input %d is absent", ew_op_name(ctx), k);
    ONYX_TRY(ew_check_rows(ctx, rows, 0, "data_0"));
    ONYX_TRY(ew_check_same_dtype(ctx, 0, n, namev));
    int64_t dims[ONYX_MAX_RANK];
    int rank;
    ONYX_TRY(ew_broadcast_inputs(ctx, ctx->inputs, n, namev, dims, &rank));
    return onyx_tensor_set_shape(onyx_output(ctx, 0), onyx_input(ctx, 0)->dtype, dims, rank,
                                 "output 0");
}

static onyx_status ew_variadic_run(onyx_kernel_ctx *ctx, const ew_row_fn *rows, int mean) {
    onyx_tensor *out = onyx_output(ctx, 0);
    const onyx_tensor *in0 = onyx_input(ctx, 0);
    ew_params params;
    memset(&params, 0, sizeof params);
    if (ctx->n_inputs == 1) {
        ew_row_fn copy = ew_row_by_size(onyx_dtype_size(in0->dtype), k_copy_1, k_copy_2, k_copy_4, k_copy_8);
        ONYX_TRY(ew_run_plan(ctx, &in0, 1, copy, &params));
    } else {
        const onyx_tensor *first[2] = {in0, onyx_input(ctx, 1)};
        ONYX_TRY(ew_run_plan(ctx, first, 2, rows[in0->dtype], &params));
        for (int k = 2; k < ctx->n_inputs; k++) {
            const onyx_tensor *fold[2] = {out, onyx_input(ctx, k)};
            ONYX_TRY(ew_run_plan(ctx, fold, 2, rows[in0->dtype], &params));
        }
    }
    if (mean && ctx->n_inputs > 1) {
        params.scale = 1.0 / ctx->n_inputs;
        const onyx_tensor *self = out;
        ONYX_TRY(ew_run_plan(ctx, &self, 1, k_scale_rows[out->dtype], &params));
    }
    return ONYX_OK;
}

static onyx_status k_max_prepare(onyx_kernel_ctx *ctx) { return ew_variadic_prepare(ctx, k_max_rows); }
static onyx_status k_max_run(onyx_kernel_ctx *ctx) { return ew_variadic_run(ctx, k_max_rows, 0); }
static onyx_status k_min_prepare(onyx_kernel_ctx *ctx) { return ew_variadic_prepare(ctx, k_min_rows); }
static onyx_status k_min_run(onyx_kernel_ctx *ctx) { return ew_variadic_run(ctx, k_min_rows, 0); }
static onyx_status k_sum_prepare(onyx_kernel_ctx *ctx) { return ew_variadic_prepare(ctx, k_scale_rows); }
static onyx_status k_sum_run(onyx_kernel_ctx *ctx) { return ew_variadic_run(ctx, k_add_rows, 0); }
static onyx_status k_mean_run(onyx_kernel_ctx *ctx) { return ew_variadic_run(ctx, k_add_rows, 1); }

/* Where(condition, X, Y): bool condition, X and Y of one dtype, all three broadcast. */
static const char *const ew_where_names[] = {"condition", "X", "Y"};
static onyx_status k_where_prepare(onyx_kernel_ctx *ctx) {
    for (int k = 0; k < 3; k++) ONYX_TRY(ew_require(ctx, k, ew_where_names[k]));
    ONYX_TRY(ew_require_output(ctx));
    const onyx_tensor *cond = onyx_input(ctx, 0), *x = onyx_input(ctx, 1);
    if (cond->dtype != ONYX_DTYPE_BOOL)
        return onyx_error(ONYX_ERR_INVALID_MODEL, "Where: input 0 (condition) has dtype %s; expected bool",
                          onyx_dtype_name(cond->dtype));
    ONYX_TRY(ew_check_same_dtype(ctx, 1, 2, ew_where_names));
    if (x->dtype != ONYX_DTYPE_STRING &&
        !ew_row_by_size(onyx_dtype_size(x->dtype), k_where_1, k_where_2, k_where_4, k_where_8))
        return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "Where: input 1 (X) has dtype %s, which the CPU "
                          "kernel does not support", onyx_dtype_name(x->dtype));
    int64_t dims[ONYX_MAX_RANK];
    int rank;
    ONYX_TRY(ew_broadcast_inputs(ctx, ctx->inputs, 3, ew_where_names, dims, &rank));
    return onyx_tensor_set_shape(onyx_output(ctx, 0), x->dtype, dims, rank, "output 0");
}
/* Where on strings copies each chosen element's bytes (string tensors own them), serially,
 * walking the broadcast with an index counter. */
static onyx_status ew_where_strings(onyx_tensor *out, const onyx_tensor *const *inputs) {
    int rank = out->rank;
    int64_t strides[3][ONYX_MAX_RANK], index[ONYX_MAX_RANK] = {0}, offset[3] = {0};
    for (int k = 0; k < 3; k++)
        onyx_broadcast_strides(inputs[k]->dims, inputs[k]->rank, out->dims, rank, strides[k]);
    int64_t n = onyx_shape_numel(out->dims, rank);
    const uint8_t *cond = inputs[0]->data;
    onyx_string *dst = out->data;
    for (int64_t i = 0; i < n; i++) {
        int pick = cond[offset[0]] ? 1 : 2;
        const onyx_string *src = (const onyx_string *)inputs[pick]->data + offset[pick];
        char *copy = onyx_strndup(src->data ? src->data : "", src->size);
        if (!copy) return ONYX_ERR_OUT_OF_MEMORY;
        onyx_free((void *)dst[i].data); /* slots start zeroed; replace any earlier string */
        dst[i].data = copy;
        dst[i].size = src->size;
        for (int d = rank - 1; d >= 0; d--) {
            for (int k = 0; k < 3; k++) offset[k] += strides[k][d];
            if (++index[d] < out->dims[d]) break;
            for (int k = 0; k < 3; k++) offset[k] -= index[d] * strides[k][d];
            index[d] = 0;
        }
    }
    return ONYX_OK;
}

static onyx_status k_where_run(onyx_kernel_ctx *ctx) {
    const onyx_tensor *inputs[3] = {onyx_input(ctx, 0), onyx_input(ctx, 1), onyx_input(ctx, 2)};
    if (inputs[1]->dtype == ONYX_DTYPE_STRING) return ew_where_strings(onyx_output(ctx, 0), inputs);
    ew_params params;
    memset(&params, 0, sizeof params);
    ew_row_fn row = ew_row_by_size(onyx_dtype_size(inputs[1]->dtype), k_where_1, k_where_2, k_where_4, k_where_8);
    return ew_run_plan(ctx, inputs, 3, row, &params);
}

/* Clip: opset < 11 takes float attributes min/max; from 11 optional scalar inputs min (1) and
 * max (2), of the input's dtype, each possibly absent. */
static void ew_set_limit(void *slot, onyx_dtype dtype, int high) {
    switch (dtype) {
    case ONYX_DTYPE_FLOAT32: *(float *)slot = high ? INFINITY : -INFINITY; break;
    case ONYX_DTYPE_FLOAT64: *(double *)slot = high ? INFINITY : -INFINITY; break;
    case ONYX_DTYPE_FLOAT16: *(uint16_t *)slot = high ? 0x7c00 : 0xfc00; break;
    case ONYX_DTYPE_BFLOAT16: *(uint16_t *)slot = high ? 0x7f80 : 0xff80; break;
    case ONYX_DTYPE_INT8: *(int8_t *)slot = high ? INT8_MAX : INT8_MIN; break;
    case ONYX_DTYPE_INT16: *(int16_t *)slot = high ? INT16_MAX : INT16_MIN; break;
    case ONYX_DTYPE_INT32: *(int32_t *)slot = high ? INT32_MAX : INT32_MIN; break;
    case ONYX_DTYPE_INT64: *(int64_t *)slot = high ? INT64_MAX : INT64_MIN; break;
    case ONYX_DTYPE_UINT8: *(uint8_t *)slot = high ? UINT8_MAX : 0; break;
    case ONYX_DTYPE_UINT16: *(uint16_t *)slot = high ? UINT16_MAX : 0; break;
    case ONYX_DTYPE_UINT32: *(uint32_t *)slot = high ? UINT32_MAX : 0; break;
    case ONYX_DTYPE_UINT64: *(uint64_t *)slot = high ? UINT64_MAX : 0; break;
    default: break;
    }
}

static int ew_clip_uses_attributes(const onyx_kernel_ctx *ctx) {
    if (!ctx->node) return 0;
    if (ctx->node->opset > 0) return ctx->node->opset < 11;
    return onyx_node_attr(ctx->node, "min") || onyx_node_attr(ctx->node, "max");
}

static onyx_status k_clip_prepare(onyx_kernel_ctx *ctx) {
    ONYX_TRY(ew_unary_prepare(ctx, k_clip_rows, 0));
    if (ew_clip_uses_attributes(ctx)) return ONYX_OK;
    const onyx_tensor *x = onyx_input(ctx, 0);
    static const char *const names[] = {"input", "min", "max"};
    for (int k = 1; k <= 2; k++) {
        const onyx_tensor *bound = onyx_input(ctx, k);
        if (!bound) continue;
        if (bound->dtype != x->dtype)
            return onyx_error(ONYX_ERR_INVALID_MODEL, "Clip: input %d (%s) has dtype %s but input 0 "
                              "(input) has %s; they must match", k, names[k],
                              onyx_dtype_name(bound->dtype), onyx_dtype_name(x->dtype));
        if (onyx_shape_numel(bound->dims, bound->rank) != 1) {
            char buf[128];
            return onyx_error(ONYX_ERR_INVALID_MODEL, "Clip: input %d (%s) has shape %s; expected a "
                              "scalar", k, names[k], onyx_shape_describe(bound->dims, bound->rank, buf, sizeof buf));
        }
    }
    return ONYX_OK;
}

static onyx_status k_clip_run(onyx_kernel_ctx *ctx) {
    const onyx_tensor *x = onyx_input(ctx, 0);
    ew_params params;
    memset(&params, 0, sizeof params);
    ew_set_limit(&params.lo, x->dtype, 0);
    ew_set_limit(&params.hi, x->dtype, 1);
    if (ew_clip_uses_attributes(ctx)) {
        const onyx_attr *lo = onyx_node_attr(ctx->node, "min"), *hi = onyx_node_attr(ctx->node, "max");
        if (lo) ew_store_f64(&params.lo, 0, x->dtype, lo->f);
        if (hi) ew_store_f64(&params.hi, 0, x->dtype, hi->f);
    } else {
        size_t size = onyx_dtype_size(x->dtype);
        if (onyx_input(ctx, 1)) memcpy(&params.lo, onyx_input(ctx, 1)->data, size);
        if (onyx_input(ctx, 2)) memcpy(&params.hi, onyx_input(ctx, 2)->data, size);
    }
    return ew_unary_run(ctx, k_clip_rows, &params);
}

/* ---- the table ---- */

#define F16_32_64 (ONYX_DT(FLOAT32) | ONYX_DT(FLOAT16) | ONYX_DT(FLOAT64))
#define ALL_FLOATS ONYX_DT_FLOATS
#define NUM_NO_BF16 (ONYX_DT_NUMERIC & ~ONYX_DT(BFLOAT16))
#define ARITH7 (F16_32_64 | ONYX_DT(INT32) | ONYX_DT(INT64) | ONYX_DT(UINT32) | ONYX_DT(UINT64))
#define SIGNED_NO_BF16 (F16_32_64 | ONYX_DT_SIGNED_INTS)
#define WHERE_TYPES (ONYX_DT_NUMERIC | ONYX_DT(BOOL) | ONYX_DT(STRING))

#define ROW(op, since, until, type_input, dtypes, fn) {op, "", since, until, type_input, dtypes, 0, fn##_prepare, fn##_run}

const onyx_kernel_def onyx_cpu_elementwise_kernels[] = {
    ROW("Abs", 6, 12, 0, NUM_NO_BF16, k_abs),
    ROW("Abs", 13, ONYX_OPSET_MAX, 0, ONYX_DT_NUMERIC, k_abs),
    ROW("Neg", 6, 12, 0, SIGNED_NO_BF16, k_neg),
    ROW("Neg", 13, ONYX_OPSET_MAX, 0, F16_32_64 | ONYX_DT(BFLOAT16) | ONYX_DT_SIGNED_INTS, k_neg),
    ROW("Ceil", 6, 12, 0, F16_32_64, k_ceil),
    ROW("Ceil", 13, ONYX_OPSET_MAX, 0, ALL_FLOATS, k_ceil),
    ROW("Floor", 6, 12, 0, F16_32_64, k_floor),
    ROW("Floor", 13, ONYX_OPSET_MAX, 0, ALL_FLOATS, k_floor),
    ROW("Reciprocal", 6, 12, 0, F16_32_64, k_reciprocal),
    ROW("Reciprocal", 13, ONYX_OPSET_MAX, 0, ALL_FLOATS, k_reciprocal),
    ROW("Sqrt", 6, 12, 0, F16_32_64, k_sqrt),
    ROW("Sqrt", 13, ONYX_OPSET_MAX, 0, ALL_FLOATS, k_sqrt),
    ROW("Exp", 6, 12, 0, F16_32_64, k_exp),
    ROW("Exp", 13, ONYX_OPSET_MAX, 0, ALL_FLOATS, k_exp),
    ROW("Log", 6, 12, 0, F16_32_64, k_log),
    ROW("Log", 13, ONYX_OPSET_MAX, 0, ALL_FLOATS, k_log),
    ROW("Erf", 9, 12, 0, NUM_NO_BF16, k_erf),
    ROW("Erf", 13, ONYX_OPSET_MAX, 0, ONYX_DT_NUMERIC, k_erf),
    ROW("Sin", 7, ONYX_OPSET_MAX, 0, F16_32_64, k_sin),
    ROW("Cos", 7, ONYX_OPSET_MAX, 0, F16_32_64, k_cos),
    ROW("Tanh", 6, 12, 0, F16_32_64, k_tanh),
    ROW("Tanh", 13, ONYX_OPSET_MAX, 0, ALL_FLOATS, k_tanh),
    ROW("Sigmoid", 6, 12, 0, F16_32_64, k_sigmoid),
    ROW("Sigmoid", 13, ONYX_OPSET_MAX, 0, ALL_FLOATS, k_sigmoid),
    ROW("Relu", 6, 12, 0, F16_32_64, k_relu),
    ROW("Relu", 13, 13, 0, ALL_FLOATS, k_relu),
    ROW("Relu", 14, ONYX_OPSET_MAX, 0, ALL_FLOATS | ONYX_DT_SIGNED_INTS, k_relu),
    ROW("Sign", 9, 12, 0, NUM_NO_BF16, k_sign),
    ROW("Sign", 13, ONYX_OPSET_MAX, 0, ONYX_DT_NUMERIC, k_sign),
    ROW("IsInf", 10, ONYX_OPSET_MAX, 0, ONYX_DT(FLOAT32) | ONYX_DT(FLOAT64), k_isinf),
    ROW("IsNaN", 9, 12, 0, F16_32_64, k_isnan),
    ROW("IsNaN", 13, ONYX_OPSET_MAX, 0, ALL_FLOATS, k_isnan),
    ROW("Not", 1, ONYX_OPSET_MAX, 0, ONYX_DT(BOOL), k_not),
    ROW("LeakyRelu", 6, 15, 0, F16_32_64, k_leaky_relu),
    ROW("LeakyRelu", 16, ONYX_OPSET_MAX, 0, ALL_FLOATS, k_leaky_relu),
    ROW("Elu", 6, ONYX_OPSET_MAX, 0, F16_32_64, k_elu),
    ROW("Selu", 6, ONYX_OPSET_MAX, 0, F16_32_64, k_selu),
    ROW("HardSigmoid", 6, ONYX_OPSET_MAX, 0, F16_32_64, k_hard_sigmoid),
    ROW("HardSwish", 14, ONYX_OPSET_MAX, 0, F16_32_64, k_hard_swish),
    ROW("Softplus", 1, ONYX_OPSET_MAX, 0, F16_32_64, k_softplus),
    ROW("Softsign", 1, ONYX_OPSET_MAX, 0, F16_32_64, k_softsign),
    ROW("ThresholdedRelu", 10, ONYX_OPSET_MAX, 0, F16_32_64, k_thresholded_relu),
    ROW("Celu", 12, ONYX_OPSET_MAX, 0, ONYX_DT(FLOAT32), k_celu),
    ROW("Acos", 7, ONYX_OPSET_MAX, 0, F16_32_64, k_acos),
    ROW("Asin", 7, ONYX_OPSET_MAX, 0, F16_32_64, k_asin),
    ROW("Atan", 7, ONYX_OPSET_MAX, 0, F16_32_64, k_atan),
    ROW("Tan", 7, ONYX_OPSET_MAX, 0, F16_32_64, k_tan),
    ROW("Acosh", 9, ONYX_OPSET_MAX, 0, F16_32_64, k_acosh),
    ROW("Asinh", 9, ONYX_OPSET_MAX, 0, F16_32_64, k_asinh),
    ROW("Atanh", 9, ONYX_OPSET_MAX, 0, F16_32_64, k_atanh),
    ROW("Sinh", 9, ONYX_OPSET_MAX, 0, F16_32_64, k_sinh),
    ROW("Cosh", 9, ONYX_OPSET_MAX, 0, F16_32_64, k_cosh),
    ROW("Round", 11, ONYX_OPSET_MAX, 0, F16_32_64, k_round),
    ROW("Shrink", 9, ONYX_OPSET_MAX, 0, NUM_NO_BF16, k_shrink),

    ROW("Add", 7, 12, 0, ARITH7, k_add),
    ROW("Add", 13, 13, 0, ARITH7 | ONYX_DT(BFLOAT16), k_add),
    ROW("Add", 14, ONYX_OPSET_MAX, 0, ONYX_DT_NUMERIC, k_add),
    ROW("Sub", 7, 12, 0, ARITH7, k_sub),
    ROW("Sub", 13, 13, 0, ARITH7 | ONYX_DT(BFLOAT16), k_sub),
    ROW("Sub", 14, ONYX_OPSET_MAX, 0, ONYX_DT_NUMERIC, k_sub),
    ROW("Mul", 7, 12, 0, ARITH7, k_mul),
    ROW("Mul", 13, 13, 0, ARITH7 | ONYX_DT(BFLOAT16), k_mul),
    ROW("Mul", 14, ONYX_OPSET_MAX, 0, ONYX_DT_NUMERIC, k_mul),
    ROW("Div", 7, 12, 0, ARITH7, k_div),
    ROW("Div", 13, 13, 0, ARITH7 | ONYX_DT(BFLOAT16), k_div),
    ROW("Div", 14, ONYX_OPSET_MAX, 0, ONYX_DT_NUMERIC, k_div),
    ROW("Pow", 7, 11, 0, F16_32_64, k_pow),
    ROW("Pow", 12, 12, 0, F16_32_64 | ONYX_DT(INT32) | ONYX_DT(INT64), k_pow),
    ROW("Pow", 13, 14, 0, ALL_FLOATS | ONYX_DT(INT32) | ONYX_DT(INT64), k_pow),
    ROW("Pow", 15, ONYX_OPSET_MAX, 0, ALL_FLOATS | ONYX_DT(INT32) | ONYX_DT(INT64), k_pow),
    ROW("Mod", 10, 12, 0, NUM_NO_BF16, k_mod),
    ROW("Mod", 13, ONYX_OPSET_MAX, 0, ONYX_DT_NUMERIC, k_mod),
    ROW("PRelu", 7, 8, 0, F16_32_64, k_prelu),
    ROW("PRelu", 9, 15, 0, ARITH7, k_prelu),
    ROW("PRelu", 16, ONYX_OPSET_MAX, 0, ARITH7 | ONYX_DT(BFLOAT16), k_prelu),
    ROW("BitShift", 11, ONYX_OPSET_MAX, 0, ONYX_DT_UNSIGNED_INTS, k_bit_shift),
    ROW("And", 7, ONYX_OPSET_MAX, 0, ONYX_DT(BOOL), k_and),
    ROW("Or", 7, ONYX_OPSET_MAX, 0, ONYX_DT(BOOL), k_or),
    ROW("Xor", 7, ONYX_OPSET_MAX, 0, ONYX_DT(BOOL), k_xor),
    ROW("Equal", 7, 10, 0, ONYX_DT(BOOL) | ONYX_DT(INT32) | ONYX_DT(INT64), k_equal),
    ROW("Equal", 11, 12, 0, NUM_NO_BF16 | ONYX_DT(BOOL), k_equal),
    ROW("Equal", 13, ONYX_OPSET_MAX, 0, ONYX_DT_NUMERIC | ONYX_DT(BOOL), k_equal),
    ROW("Greater", 7, 8, 0, F16_32_64, k_greater),
    ROW("Greater", 9, 12, 0, NUM_NO_BF16, k_greater),
    ROW("Greater", 13, ONYX_OPSET_MAX, 0, ONYX_DT_NUMERIC, k_greater),
    ROW("Less", 7, 8, 0, F16_32_64, k_less),
    ROW("Less", 9, 12, 0, NUM_NO_BF16, k_less),
    ROW("Less", 13, ONYX_OPSET_MAX, 0, ONYX_DT_NUMERIC, k_less),
    ROW("GreaterOrEqual", 12, 15, 0, NUM_NO_BF16, k_greater_equal),
    ROW("GreaterOrEqual", 16, ONYX_OPSET_MAX, 0, ONYX_DT_NUMERIC, k_greater_equal),
    ROW("LessOrEqual", 12, 15, 0, NUM_NO_BF16, k_less_equal),
    ROW("LessOrEqual", 16, ONYX_OPSET_MAX, 0, ONYX_DT_NUMERIC, k_less_equal),

    ROW("Max", 6, 7, 0, F16_32_64, k_max),
    ROW("Max", 8, 11, 0, F16_32_64, k_max),
    ROW("Max", 12, 12, 0, NUM_NO_BF16, k_max),
    ROW("Max", 13, ONYX_OPSET_MAX, 0, ONYX_DT_NUMERIC, k_max),
    ROW("Min", 6, 7, 0, F16_32_64, k_min),
    ROW("Min", 8, 11, 0, F16_32_64, k_min),
    ROW("Min", 12, 12, 0, NUM_NO_BF16, k_min),
    ROW("Min", 13, ONYX_OPSET_MAX, 0, ONYX_DT_NUMERIC, k_min),
    ROW("Sum", 6, 7, 0, F16_32_64, k_sum),
    ROW("Sum", 8, 12, 0, F16_32_64, k_sum),
    ROW("Sum", 13, ONYX_OPSET_MAX, 0, ALL_FLOATS, k_sum),
    {"Mean", "", 6, 7, 0, F16_32_64, 0, k_sum_prepare, k_mean_run},
    {"Mean", "", 8, 12, 0, F16_32_64, 0, k_sum_prepare, k_mean_run},
    {"Mean", "", 13, ONYX_OPSET_MAX, 0, ALL_FLOATS, 0, k_sum_prepare, k_mean_run},

    ROW("Where", 9, 15, 1, WHERE_TYPES & ~ONYX_DT(BFLOAT16), k_where),
    ROW("Where", 16, ONYX_OPSET_MAX, 1, WHERE_TYPES, k_where),
    ROW("Clip", 6, 10, 0, F16_32_64, k_clip),
    ROW("Clip", 11, 11, 0, F16_32_64, k_clip),
    ROW("Clip", 12, 12, 0, NUM_NO_BF16, k_clip),
    ROW("Clip", 13, ONYX_OPSET_MAX, 0, ONYX_DT_NUMERIC, k_clip),

    {"Cast", "", 6, 8, 0, (ONYX_DT_NUMERIC & ~ONYX_DT(BFLOAT16)) | ONYX_DT(BOOL), 0, ew_cast_prepare, ew_cast_run},
    {"Cast", "", 9, 12, 0, (ONYX_DT_ALL & ~ONYX_DT(BFLOAT16)), 0, ew_cast_prepare, ew_cast_run},
    {"Cast", "", 13, ONYX_OPSET_MAX, 0, ONYX_DT_ALL, 0, ew_cast_prepare, ew_cast_run},
    {"CastLike", "", 15, ONYX_OPSET_MAX, 0, ONYX_DT_ALL, 0, ew_castlike_prepare, ew_cast_run},

    ROW("Gelu", 20, ONYX_OPSET_MAX, 0, ALL_FLOATS, k_gelu),
    {"Gelu", "com.microsoft", 1, ONYX_OPSET_MAX, 0, ALL_FLOATS, 0, k_gelu_prepare, k_gelu_run},
    {"FastGelu", "com.microsoft", 1, ONYX_OPSET_MAX, 0, ALL_FLOATS, 0, k_gelu_prepare, k_gelu_run},
    {"QuickGelu", "com.microsoft", 1, ONYX_OPSET_MAX, 0, ALL_FLOATS, 0, k_quick_gelu_prepare, k_quick_gelu_run},
    {"BiasGelu", "com.microsoft", 1, ONYX_OPSET_MAX, 0, ALL_FLOATS, 0, k_bias_gelu_prepare, k_bias_gelu_run},
    {"ClampInf", "onyx", 1, ONYX_OPSET_MAX, 0, ALL_FLOATS, 0, k_clamp_inf_prepare, k_clamp_inf_run},
    {NULL, NULL, 0, 0, 0, 0, 0, NULL, NULL},
};
