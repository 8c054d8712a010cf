/*
 * elementwise.c - the CUDA provider's elementwise kernel table and its run functions: unary
 * math and activations, binary ops with NumPy broadcasting, the variadic Max/Min/Sum/Mean,
 * Where, Clip, Gelu (ai.onnx and com.microsoft), Cast and CastLike. The kernels are in
 * elementwise.cu behind the launchers of elementwise_launch.h.
 *
 * Rows mirror the CPU provider's (src/providers/cpu/elementwise.c): same ops, opset ranges and
 * host inputs, with each dtype mask cut down to what the .cu instantiates for the op
 * (ONYX_CUDA_EW_DT_<OP>). The CPU prepare functions are static and check dtypes against CPU
 * row tables and host devices, so the prepares here follow them step by step: the same checks,
 * the same messages, the same output shapes; shapes broadcast with the CPU's
 * ew_broadcast_inputs, and the launchers get the CPU's collapsed broadcast plan (ew_plan_init).
 *
 * Every launch goes to the session's stream; nothing here synchronises or allocates. Zero-size
 * outputs launch nothing.
 */
#include <math.h>
#include <string.h>

#include "core/status.h"
#include "providers/cpu/elementwise_plan.h"
#include "providers/cuda/cuda_provider.h"
#include "providers/cuda/elementwise_launch.h"

/* The launchers take ONNX dtype codes, which are onyx_dtype's values. */
_Static_assert(ONYX_CUDA_EW_FLOAT32 == ONYX_DTYPE_FLOAT32 && ONYX_CUDA_EW_UINT8 == ONYX_DTYPE_UINT8 &&
               ONYX_CUDA_EW_INT8 == ONYX_DTYPE_INT8 && ONYX_CUDA_EW_UINT16 == ONYX_DTYPE_UINT16 &&
               ONYX_CUDA_EW_INT16 == ONYX_DTYPE_INT16 && ONYX_CUDA_EW_INT32 == ONYX_DTYPE_INT32 &&
               ONYX_CUDA_EW_INT64 == ONYX_DTYPE_INT64 && ONYX_CUDA_EW_BOOL == ONYX_DTYPE_BOOL &&
               ONYX_CUDA_EW_FLOAT16 == ONYX_DTYPE_FLOAT16 && ONYX_CUDA_EW_FLOAT64 == ONYX_DTYPE_FLOAT64 &&
               ONYX_CUDA_EW_UINT32 == ONYX_DTYPE_UINT32 && ONYX_CUDA_EW_UINT64 == ONYX_DTYPE_UINT64 &&
               ONYX_CUDA_EW_BFLOAT16 == ONYX_DTYPE_BFLOAT16,
               "elementwise_launch.h dtype codes must equal onyx_dtype");
_Static_assert(ONYX_CUDA_EW_MAX_RANK == ONYX_MAX_RANK && ONYX_CUDA_EW_MAX_INPUTS == EW_MAX_INPUTS,
               "elementwise_launch.h shape limits must match the CPU plan");
_Static_assert(ONYX_CUDA_EW_DT_MOD_PY == ONYX_CUDA_EW_DT_MOD_C, "Mod's rows serve both fmod kernels");

/* ---- shared prepare/run steps (the CPU's, without its host-device checks) ---- */

static const char *ewc_op_name(const onyx_kernel_ctx *ctx) {
    return ctx->node && ctx->node->op_type ? ctx->node->op_type : "elementwise op";
}

static onyx_status ewc_require(const onyx_kernel_ctx *ctx, int i, const char *name) {
    if (!onyx_input(ctx, i))
        return onyx_error(ONYX_ERR_INVALID_MODEL, "%s: input %d (%s) is required but absent",
                          ewc_op_name(ctx), i, name);
    return ONYX_OK;
}

static onyx_status ewc_require_output(const onyx_kernel_ctx *ctx) {
    if (!onyx_output(ctx, 0))
        return onyx_error(ONYX_ERR_INVALID_MODEL, "%s: output 0 is absent", ewc_op_name(ctx));
    return ONYX_OK;
}

/* Input i's dtype must be in mask (the op's kernels). */
static onyx_status ewc_check_dtype(const onyx_kernel_ctx *ctx, uint64_t mask, int i, const char *name) {
    onyx_dtype dt = onyx_input(ctx, i)->dtype;
    if ((int)dt <= 0 || (int)dt >= 64 || !((UINT64_C(1) << dt) & mask))
        return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "%s: input %d (%s) has dtype %s, which the CUDA "
                          "kernel does not support", ewc_op_name(ctx), i, name, onyx_dtype_name(dt));
    return ONYX_OK;
}

/* Inputs first..first+count-1 that are present must share dtype with input first. */
static onyx_status ewc_check_same_dtype(const onyx_kernel_ctx *ctx, int first, int count,
                                        const char *const *names) {
    const onyx_tensor *ref = onyx_input(ctx, first);
    for (int k = first + 1; k < first + count; k++) {
        const onyx_tensor *t = onyx_input(ctx, k);
        if (t && t->dtype != ref->dtype)
            return onyx_error(ONYX_ERR_INVALID_MODEL, "%s: input %d (%s) has dtype %s but input %d "
                              "(%s) has %s; they must match", ewc_op_name(ctx), k, names[k],
                              onyx_dtype_name(t->dtype), first, names[first],
                              onyx_dtype_name(ref->dtype));
    }
    return ONYX_OK;
}

static int64_t ewc_numel(const onyx_tensor *t) { return onyx_shape_numel(t->dims, t->rank); }

/* The collapsed broadcast of inputs[0..n) into out, for the launchers. */
static void ewc_shape_of(onyx_cuda_ew_shape *shape, const onyx_tensor *out,
                         const onyx_tensor *const *inputs, int n_inputs) {
    ew_plan plan;
    ew_plan_init(&plan, out, inputs, n_inputs);
    memset(shape, 0, sizeof *shape);
    shape->rank = plan.rank;
    shape->numel = plan.numel;
    for (int d = 0; d < plan.rank; d++) {
        shape->dims[d] = plan.dims[d];
        for (int k = 0; k < n_inputs; k++) shape->strides[k][d] = plan.strides[k][d];
    }
}

static onyx_status ewc_launched(const onyx_kernel_ctx *ctx, cudaError_t err) {
    return onyx_cuda_status(err, ewc_op_name(ctx));
}

static cudaStream_t ewc_stream(const onyx_kernel_ctx *ctx) { return onyx_cuda_state_of(ctx)->stream; }

/* Unary: output has the input's shape; dtype the input's, or bool. */
static onyx_status ewc_unary_prepare(onyx_kernel_ctx *ctx, uint64_t mask, int out_bool) {
    ONYX_TRY(ewc_require(ctx, 0, "X"));
    ONYX_TRY(ewc_require_output(ctx));
    ONYX_TRY(ewc_check_dtype(ctx, mask, 0, "X"));
    const onyx_tensor *x = onyx_input(ctx, 0);
    return onyx_tensor_set_shape(onyx_output(ctx, 0), out_bool ? ONYX_DTYPE_BOOL : x->dtype,
                                 x->dims, x->rank, "output 0 (Y)");
}

// x is any shape; out has its shape
static onyx_status ewc_unary_launch(onyx_kernel_ctx *ctx, onyx_cuda_ew_op op, onyx_tensor *out,
                                    const onyx_tensor *x, const onyx_cuda_ew_params *params) {
    int64_t n = ewc_numel(x);
    if (n == 0) return ONYX_OK;
    onyx_cuda_ew_params none;
    memset(&none, 0, sizeof none);
    return ewc_launched(ctx, onyx_cuda_ew_unary(op, x->dtype, out->data, x->data, n,
                                                params ? params : &none, ewc_stream(ctx)));
}

static onyx_status ewc_unary_run(onyx_kernel_ctx *ctx, onyx_cuda_ew_op op, const onyx_cuda_ew_params *params) {
    return ewc_unary_launch(ctx, op, onyx_output(ctx, 0), onyx_input(ctx, 0), params);
}

static const char *const ewc_binary_names[] = {"A", "B"};

/* Binary with broadcasting; A and B share a dtype unless mixed (Pow's base and exponent). */
static onyx_status ewc_binary_prepare(onyx_kernel_ctx *ctx, uint64_t mask, int out_bool, int mixed) {
    ONYX_TRY(ewc_require(ctx, 0, "A"));
    ONYX_TRY(ewc_require(ctx, 1, "B"));
    ONYX_TRY(ewc_require_output(ctx));
    ONYX_TRY(ewc_check_dtype(ctx, mask, 0, "A"));
    if (mixed) {
        onyx_dtype exp_dt = onyx_input(ctx, 1)->dtype;
        if ((int)exp_dt <= 0 || (int)exp_dt >= 64 || !((UINT64_C(1) << exp_dt) & ONYX_DT_NUMERIC))
            return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "%s: input 1 (B) has dtype %s; expected a "
                              "numeric dtype", ewc_op_name(ctx), onyx_dtype_name(exp_dt));
    } else {
        ONYX_TRY(ewc_check_same_dtype(ctx, 0, 2, ewc_binary_names));
    }
    int64_t dims[ONYX_MAX_RANK];
    int rank;
    ONYX_TRY(ew_broadcast_inputs(ctx, ctx->inputs, 2, ewc_binary_names, dims, &rank));
    return onyx_tensor_set_shape(onyx_output(ctx, 0),
                                 out_bool ? ONYX_DTYPE_BOOL : onyx_input(ctx, 0)->dtype, dims, rank,
                                 "output 0 (C)");
}

// a and b broadcast to out's shape (out may be a)
static onyx_status ewc_binary_launch(onyx_kernel_ctx *ctx, onyx_cuda_ew_op op, onyx_tensor *out,
                                     const onyx_tensor *a, const onyx_tensor *b,
                                     const onyx_cuda_ew_params *params) {
    if (ewc_numel(out) == 0) return ONYX_OK;
    const onyx_tensor *inputs[2] = {a, b};
    onyx_cuda_ew_shape shape;
    ewc_shape_of(&shape, out, inputs, 2);
    onyx_cuda_ew_params none;
    memset(&none, 0, sizeof none);
    return ewc_launched(ctx, onyx_cuda_ew_binary(op, a->dtype, out->data, a->data, b->data, &shape,
                                                 params ? params : &none, ewc_stream(ctx)));
}

static onyx_status ewc_binary_run(onyx_kernel_ctx *ctx, onyx_cuda_ew_op op, const onyx_cuda_ew_params *params) {
    return ewc_binary_launch(ctx, op, onyx_output(ctx, 0), onyx_input(ctx, 0), onyx_input(ctx, 1), params);
}

/* ---- kernels ---- */

#define EWC_UNARY_KERNEL(fn, OP, out_bool)                                                        \
    static onyx_status fn##_prepare(onyx_kernel_ctx *ctx) {                                       \
        return ewc_unary_prepare(ctx, ONYX_CUDA_EW_DT_##OP, out_bool);                            \
    }                                                                                             \
    static onyx_status fn##_run(onyx_kernel_ctx *ctx) { return ewc_unary_run(ctx, ONYX_CUDA_EW_##OP, NULL); }
#define EWC_BINARY_KERNEL(fn, OP, out_bool)                                                       \
    static onyx_status fn##_prepare(onyx_kernel_ctx *ctx) {                                       \
        return ewc_binary_prepare(ctx, ONYX_CUDA_EW_DT_##OP, out_bool, 0);                        \
    }                                                                                             \
    static onyx_status fn##_run(onyx_kernel_ctx *ctx) { return ewc_binary_run(ctx, ONYX_CUDA_EW_##OP, NULL); }

EWC_UNARY_KERNEL(k_abs, ABS, 0)
EWC_UNARY_KERNEL(k_neg, NEG, 0)
EWC_UNARY_KERNEL(k_ceil, CEIL, 0)
EWC_UNARY_KERNEL(k_floor, FLOOR, 0)
EWC_UNARY_KERNEL(k_reciprocal, RECIPROCAL, 0)
EWC_UNARY_KERNEL(k_sqrt, SQRT, 0)
EWC_UNARY_KERNEL(k_exp, EXP, 0)
EWC_UNARY_KERNEL(k_log, LOG, 0)
EWC_UNARY_KERNEL(k_erf, ERF, 0)
EWC_UNARY_KERNEL(k_sin, SIN, 0)
EWC_UNARY_KERNEL(k_cos, COS, 0)
EWC_UNARY_KERNEL(k_tan, TAN, 0)
EWC_UNARY_KERNEL(k_asin, ASIN, 0)
EWC_UNARY_KERNEL(k_acos, ACOS, 0)
EWC_UNARY_KERNEL(k_atan, ATAN, 0)
EWC_UNARY_KERNEL(k_sinh, SINH, 0)
EWC_UNARY_KERNEL(k_cosh, COSH, 0)
EWC_UNARY_KERNEL(k_asinh, ASINH, 0)
EWC_UNARY_KERNEL(k_acosh, ACOSH, 0)
EWC_UNARY_KERNEL(k_atanh, ATANH, 0)
EWC_UNARY_KERNEL(k_tanh, TANH, 0)
EWC_UNARY_KERNEL(k_sigmoid, SIGMOID, 0)
EWC_UNARY_KERNEL(k_relu, RELU, 0)
EWC_UNARY_KERNEL(k_sign, SIGN, 0)
EWC_UNARY_KERNEL(k_round, ROUND, 0)
EWC_UNARY_KERNEL(k_isnan, ISNAN, 1)
EWC_UNARY_KERNEL(k_not, NOT, 0)
EWC_UNARY_KERNEL(k_hard_swish, HARD_SWISH, 0)
EWC_UNARY_KERNEL(k_softplus, SOFTPLUS, 0)
EWC_UNARY_KERNEL(k_softsign, SOFTSIGN, 0)

EWC_BINARY_KERNEL(k_add, ADD, 0)
EWC_BINARY_KERNEL(k_sub, SUB, 0)
EWC_BINARY_KERNEL(k_mul, MUL, 0)
EWC_BINARY_KERNEL(k_div, DIV, 0)
EWC_BINARY_KERNEL(k_prelu, PRELU, 0)
EWC_BINARY_KERNEL(k_and, AND, 0)
EWC_BINARY_KERNEL(k_or, OR, 0)
EWC_BINARY_KERNEL(k_xor, XOR, 0)
EWC_BINARY_KERNEL(k_equal, EQUAL, 1)
EWC_BINARY_KERNEL(k_greater, GREATER, 1)
EWC_BINARY_KERNEL(k_greater_equal, GREATER_EQUAL, 1)
EWC_BINARY_KERNEL(k_less, LESS, 1)
EWC_BINARY_KERNEL(k_less_equal, LESS_EQUAL, 1)

/* Unary ops with float attributes alpha/beta/gamma (defaults per op, as the CPU's). */
#define EWC_ATTR_KERNEL(fn, OP, alpha_default, beta_default, gamma_default)                       \
    static onyx_status fn##_prepare(onyx_kernel_ctx *ctx) {                                       \
        return ewc_unary_prepare(ctx, ONYX_CUDA_EW_DT_##OP, 0);                                   \
    }                                                                                             \
    static onyx_status fn##_run(onyx_kernel_ctx *ctx) {                                           \
        onyx_cuda_ew_params params;                                                               \
        memset(&params, 0, sizeof params);                                                        \
        params.alpha = onyx_node_attr_float(ctx->node, "alpha", alpha_default);                   \
        params.beta = onyx_node_attr_float(ctx->node, "beta", beta_default);                      \
        params.gamma = onyx_node_attr_float(ctx->node, "gamma", gamma_default);                   \
        return ewc_unary_run(ctx, ONYX_CUDA_EW_##OP, &params);                                    \
    }
EWC_ATTR_KERNEL(k_leaky_relu, LEAKY_RELU, 0.01f, 0, 0)
EWC_ATTR_KERNEL(k_elu, ELU, 1.0f, 0, 0)
EWC_ATTR_KERNEL(k_selu, SELU, 1.67326319217681884765625f, 0, 1.05070102214813232421875f)
EWC_ATTR_KERNEL(k_hard_sigmoid, HARD_SIGMOID, 0.2f, 0.5f, 0)
EWC_ATTR_KERNEL(k_thresholded_relu, THRESHOLDED_RELU, 1.0f, 0, 0)
EWC_ATTR_KERNEL(k_celu, CELU, 1.0f, 0, 0)
EWC_ATTR_KERNEL(k_quick_gelu, QUICK_GELU, 1.702f, 0, 0)

/* Shrink(lambd = 0.5, bias = 0): x + bias below -lambd, x - bias above lambd, else 0. */
static onyx_status k_shrink_prepare(onyx_kernel_ctx *ctx) { return ewc_unary_prepare(ctx, ONYX_CUDA_EW_DT_SHRINK, 0); }
static onyx_status k_shrink_run(onyx_kernel_ctx *ctx) {
    onyx_cuda_ew_params params;
    memset(&params, 0, sizeof params);
    params.alpha = onyx_node_attr_float(ctx->node, "lambd", 0.5f);
    params.beta = onyx_node_attr_float(ctx->node, "bias", 0.0f);
    return ewc_unary_run(ctx, ONYX_CUDA_EW_SHRINK, &params);
}

static onyx_status k_isinf_prepare(onyx_kernel_ctx *ctx) { return ewc_unary_prepare(ctx, ONYX_CUDA_EW_DT_ISINF, 1); }
static onyx_status k_isinf_run(onyx_kernel_ctx *ctx) {
    onyx_cuda_ew_params params;
    memset(&params, 0, sizeof params);
    params.detect_positive = onyx_node_attr_int(ctx->node, "detect_positive", 1) != 0;
    params.detect_negative = onyx_node_attr_int(ctx->node, "detect_negative", 1) != 0;
    return ewc_unary_run(ctx, ONYX_CUDA_EW_ISINF, &params);
}

/* BitShift(X, Y) with direction "LEFT" | "RIGHT"; shifting by the width or more gives 0. */
static onyx_status k_bit_shift_prepare(onyx_kernel_ctx *ctx) {
    const char *direction = onyx_node_attr_string(ctx->node, "direction", "");
    if (strcmp(direction, "LEFT") != 0 && strcmp(direction, "RIGHT") != 0)
        return onyx_error(ONYX_ERR_INVALID_MODEL, "BitShift: attribute direction is \"%s\"; expected "
                          "\"LEFT\" or \"RIGHT\"", direction);
    return ewc_binary_prepare(ctx, ONYX_CUDA_EW_DT_BIT_SHIFT, 0, 0);
}
static onyx_status k_bit_shift_run(onyx_kernel_ctx *ctx) {
    onyx_cuda_ew_params params;
    memset(&params, 0, sizeof params);
    params.shift_left = strcmp(onyx_node_attr_string(ctx->node, "direction", ""), "LEFT") == 0;
    return ewc_binary_run(ctx, ONYX_CUDA_EW_BIT_SHIFT, &params);
}

/* Pow: base A (T) and exponent B (T1) may differ in dtype; the output has A's dtype. The
 * CPU's x^2, x^3, x^0.5 fast paths are inside the float kernel (the exponent stays on the
 * device). */
static onyx_status k_pow_prepare(onyx_kernel_ctx *ctx) { return ewc_binary_prepare(ctx, ONYX_CUDA_EW_DT_POW, 0, 1); }
static onyx_status k_pow_run(onyx_kernel_ctx *ctx) {
    const onyx_tensor *base = onyx_input(ctx, 0), *exponent = onyx_input(ctx, 1);
    if (base->dtype == exponent->dtype) return ewc_binary_run(ctx, ONYX_CUDA_EW_POW, NULL);
    onyx_tensor *out = onyx_output(ctx, 0);
    if (ewc_numel(out) == 0) return ONYX_OK;
    const onyx_tensor *inputs[2] = {base, exponent};
    onyx_cuda_ew_shape shape;
    ewc_shape_of(&shape, out, inputs, 2);
    return ewc_launched(ctx, onyx_cuda_ew_pow_mixed(base->dtype, exponent->dtype, out->data, base->data,
                                                    exponent->data, &shape, ewc_stream(ctx)));
}

/* Mod: fmod=0 takes the divisor's sign (Python's %), fmod=1 the dividend's (C's fmod). */
static int64_t ewc_fmod_attr(const onyx_kernel_ctx *ctx) {
    return ctx->node ? onyx_node_attr_int(ctx->node, "fmod", 0) : 0;
}
static onyx_status k_mod_prepare(onyx_kernel_ctx *ctx) {
    int64_t fmod_attr = ewc_fmod_attr(ctx);
    if (fmod_attr != 0 && fmod_attr != 1)
        return onyx_error(ONYX_ERR_INVALID_MODEL, "Mod: attribute fmod is %lld; expected 0 or 1",
                          (long long)fmod_attr);
    return ewc_binary_prepare(ctx, fmod_attr ? ONYX_CUDA_EW_DT_MOD_C : ONYX_CUDA_EW_DT_MOD_PY, 0, 0);
}
static onyx_status k_mod_run(onyx_kernel_ctx *ctx) {
    return ewc_binary_run(ctx, ewc_fmod_attr(ctx) ? ONYX_CUDA_EW_MOD_C : ONYX_CUDA_EW_MOD_PY, NULL);
}

/* Gelu: ai.onnx (opset 20) has approximate = "none" | "tanh"; com.microsoft Gelu is the erf
 * form and FastGelu the tanh form with an optional bias added first (bias broadcasts). */
static int ewc_gelu_is_tanh(const onyx_kernel_ctx *ctx) {
    if (strcmp(ctx->node->op_type, "FastGelu") == 0) return 1;
    const char *approximate = onyx_node_attr_string(ctx->node, "approximate", "none");
    return strcmp(approximate, "tanh") == 0;
}
static onyx_status k_gelu_prepare(onyx_kernel_ctx *ctx) {
    const char *approximate = onyx_node_attr_string(ctx->node, "approximate", "none");
    if (strcmp(approximate, "none") != 0 && strcmp(approximate, "tanh") != 0)
        return onyx_error(ONYX_ERR_INVALID_MODEL, "%s: attribute approximate is \"%s\"; expected "
                          "\"none\" or \"tanh\"", ewc_op_name(ctx), approximate);
    if (onyx_input(ctx, 1))
        return ewc_binary_prepare(ctx, ewc_gelu_is_tanh(ctx) ? ONYX_CUDA_EW_DT_GELU_TANH_BIAS
                                                             : ONYX_CUDA_EW_DT_GELU_ERF_BIAS, 0, 0);
    return ewc_unary_prepare(ctx, ewc_gelu_is_tanh(ctx) ? ONYX_CUDA_EW_DT_GELU_TANH : ONYX_CUDA_EW_DT_GELU_ERF, 0);
}
static onyx_status k_gelu_run(onyx_kernel_ctx *ctx) {
    int tanh_form = ewc_gelu_is_tanh(ctx);
    if (onyx_input(ctx, 1))
        return ewc_binary_run(ctx, tanh_form ? ONYX_CUDA_EW_GELU_TANH_BIAS : ONYX_CUDA_EW_GELU_ERF_BIAS, NULL);
    return ewc_unary_run(ctx, tanh_form ? ONYX_CUDA_EW_GELU_TANH : ONYX_CUDA_EW_GELU_ERF, NULL);
}
/* com.microsoft BiasGelu(A, B) = Gelu(A + B), erf form. */
static onyx_status k_bias_gelu_prepare(onyx_kernel_ctx *ctx) {
    return ewc_binary_prepare(ctx, ONYX_CUDA_EW_DT_GELU_ERF_BIAS, 0, 0);
}
static onyx_status k_bias_gelu_run(onyx_kernel_ctx *ctx) { return ewc_binary_run(ctx, ONYX_CUDA_EW_GELU_ERF_BIAS, NULL); }

#define EWC_MAX_VARIADIC 64
/* Variadic Max/Min/Sum/Mean over inputs 0..n-1 (at least one), all broadcast together: the
 * output starts as op(in0, in1) and folds each further input into itself (as the CPU, so
 * float16 sums round at the same steps). */
static onyx_status ewc_variadic_prepare(onyx_kernel_ctx *ctx, uint64_t mask) {
    if (ctx->n_inputs < 1 || !onyx_input(ctx, 0))
        return onyx_error(ONYX_ERR_INVALID_MODEL, "%s: needs at least one input", ewc_op_name(ctx));
    ONYX_TRY(ewc_require_output(ctx));
    static const char *const first_names[] = {"data_0", "data_1", "data_2", "data_3",
                                              "data_4", "data_5", "data_6", "data_7"};
    const char *namev[EWC_MAX_VARIADIC];
    for (int k = 0; k < EWC_MAX_VARIADIC; k++) namev[k] = k < 8 ? first_names[k] : "data_i";
    int n = ctx->n_inputs;
    if (n > EWC_MAX_VARIADIC)
        return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "%s: %d inputs; the CUDA kernel takes at most %d",
                          ewc_op_name(ctx), n, EWC_MAX_VARIADIC);
    for (int k = 0; k < n; k++)
        if (!onyx_input(ctx, k))
            return onyx_error(ONYX_ERR_INVALID_MODEL, "%s: input %d is absent", ewc_op_name(ctx), k);
    ONYX_TRY(ewc_check_dtype(ctx, mask, 0, "data_0"));
    ONYX_TRY(ewc_check_same_dtype(ctx, 0, n, namev));
    int64_t dims[ONYX_MAX_RANK];
    int rank;
    ONYX_TRY(ew_broadcast_inputs(ctx, ctx->inputs, n, namev, dims, &rank));
    return onyx_tensor_set_shape(onyx_output(ctx, 0), onyx_input(ctx, 0)->dtype, dims, rank,
                                 "output 0");
}

static onyx_status ewc_variadic_run(onyx_kernel_ctx *ctx, onyx_cuda_ew_op op, int mean) {
    onyx_tensor *out = onyx_output(ctx, 0);
    const onyx_tensor *in0 = onyx_input(ctx, 0);
    if (ewc_numel(out) == 0) return ONYX_OK;
    if (ctx->n_inputs == 1) {
        ONYX_CUDA_TRY(cudaMemcpyAsync(out->data, in0->data, out->nbytes, cudaMemcpyDeviceToDevice,
                                      ewc_stream(ctx)), ewc_op_name(ctx));
        return ONYX_OK;
    }
    ONYX_TRY(ewc_binary_launch(ctx, op, out, in0, onyx_input(ctx, 1), NULL));
    for (int k = 2; k < ctx->n_inputs; k++)
        ONYX_TRY(ewc_binary_launch(ctx, op, out, out, onyx_input(ctx, k), NULL));
    if (mean) {
        onyx_cuda_ew_params params;
        memset(&params, 0, sizeof params);
        params.scale = 1.0 / ctx->n_inputs;
        ONYX_TRY(ewc_unary_launch(ctx, ONYX_CUDA_EW_SCALE, out, out, &params));
    }
    return ONYX_OK;
}

static onyx_status k_max_prepare(onyx_kernel_ctx *ctx) { return ewc_variadic_prepare(ctx, ONYX_CUDA_EW_DT_MAX); }
static onyx_status k_max_run(onyx_kernel_ctx *ctx) { return ewc_variadic_run(ctx, ONYX_CUDA_EW_MAX, 0); }
static onyx_status k_min_prepare(onyx_kernel_ctx *ctx) { return ewc_variadic_prepare(ctx, ONYX_CUDA_EW_DT_MIN); }
static onyx_status k_min_run(onyx_kernel_ctx *ctx) { return ewc_variadic_run(ctx, ONYX_CUDA_EW_MIN, 0); }
static onyx_status k_sum_prepare(onyx_kernel_ctx *ctx) { return ewc_variadic_prepare(ctx, ONYX_CUDA_EW_DT_SCALE); }
static onyx_status k_sum_run(onyx_kernel_ctx *ctx) { return ewc_variadic_run(ctx, ONYX_CUDA_EW_ADD, 0); }
static onyx_status k_mean_run(onyx_kernel_ctx *ctx) { return ewc_variadic_run(ctx, ONYX_CUDA_EW_ADD, 1); }

/* Where(condition, X, Y): bool condition, X and Y of one dtype, all three broadcast. */
static const char *const ewc_where_names[] = {"condition", "X", "Y"};
static onyx_status k_where_prepare(onyx_kernel_ctx *ctx) {
    for (int k = 0; k < 3; k++) ONYX_TRY(ewc_require(ctx, k, ewc_where_names[k]));
    ONYX_TRY(ewc_require_output(ctx));
    const onyx_tensor *cond = onyx_input(ctx, 0), *x = onyx_input(ctx, 1);
    if (cond->dtype != ONYX_DTYPE_BOOL)
        return onyx_error(ONYX_ERR_INVALID_MODEL, "Where: input 0 (condition) has dtype %s; expected bool",
                          onyx_dtype_name(cond->dtype));
    ONYX_TRY(ewc_check_same_dtype(ctx, 1, 2, ewc_where_names));
    ONYX_TRY(ewc_check_dtype(ctx, ONYX_CUDA_EW_ALL, 1, "X"));
    int64_t dims[ONYX_MAX_RANK];
    int rank;
    ONYX_TRY(ew_broadcast_inputs(ctx, ctx->inputs, 3, ewc_where_names, dims, &rank));
    return onyx_tensor_set_shape(onyx_output(ctx, 0), x->dtype, dims, rank, "output 0");
}
static onyx_status k_where_run(onyx_kernel_ctx *ctx) {
    const onyx_tensor *inputs[3] = {onyx_input(ctx, 0), onyx_input(ctx, 1), onyx_input(ctx, 2)};
    onyx_tensor *out = onyx_output(ctx, 0);
    if (ewc_numel(out) == 0) return ONYX_OK;
    onyx_cuda_ew_shape shape;
    ewc_shape_of(&shape, out, inputs, 3);
    return ewc_launched(ctx, onyx_cuda_ew_where(onyx_dtype_size(inputs[1]->dtype), out->data,
                                                inputs[0]->data, inputs[1]->data, inputs[2]->data,
                                                &shape, ewc_stream(ctx)));
}

/* Clip: opset < 11 takes float attributes min/max; from 11 optional scalar inputs min (1) and
 * max (2), of the input's dtype, each possibly absent. Bound inputs stay on the device: the
 * kernel reads them. */
static void ewc_set_limit(uint64_t *slot, onyx_dtype dtype, int high) {
    union { float f32; double f64; uint16_t u16; int8_t i8; int16_t i16; int32_t i32; int64_t i64;
            uint8_t u8; uint32_t u32; uint64_t u64; } v;
    memset(&v, 0, sizeof v);
    switch (dtype) {
    case ONYX_DTYPE_FLOAT32: v.f32 = high ? INFINITY : -INFINITY; break;
    case ONYX_DTYPE_FLOAT64: v.f64 = high ? INFINITY : -INFINITY; break;
    case ONYX_DTYPE_FLOAT16: v.u16 = high ? 0x7c00 : 0xfc00; break;
    case ONYX_DTYPE_BFLOAT16: v.u16 = high ? 0x7f80 : 0xff80; break;
    case ONYX_DTYPE_INT8: v.i8 = high ? INT8_MAX : INT8_MIN; break;
    case ONYX_DTYPE_INT16: v.i16 = high ? INT16_MAX : INT16_MIN; break;
    case ONYX_DTYPE_INT32: v.i32 = high ? INT32_MAX : INT32_MIN; break;
    case ONYX_DTYPE_INT64: v.i64 = high ? INT64_MAX : INT64_MIN; break;
    case ONYX_DTYPE_UINT8: v.u8 = high ? UINT8_MAX : 0; break;
    case ONYX_DTYPE_UINT16: v.u16 = high ? UINT16_MAX : 0; break;
    case ONYX_DTYPE_UINT32: v.u32 = high ? UINT32_MAX : 0; break;
    case ONYX_DTYPE_UINT64: v.u64 = high ? UINT64_MAX : 0; break;
    default: break;
    }
    memcpy(slot, &v, sizeof *slot);
}

static int ewc_clip_uses_attributes(const onyx_kernel_ctx *ctx) {
    if (!ctx->node) return 0;
    if (ctx->node->opset > 0) return ctx->node->opset < 11;
    return onyx_node_attr(ctx->node, "min") || onyx_node_attr(ctx->node, "max");
}

static onyx_status k_clip_prepare(onyx_kernel_ctx *ctx) {
    ONYX_TRY(ewc_unary_prepare(ctx, ONYX_CUDA_EW_DT_CLIP, 0));
    if (ewc_clip_uses_attributes(ctx)) return ONYX_OK;
    const onyx_tensor *x = onyx_input(ctx, 0);
    static const char *const names[] = {"input", "min", "max"};
    for (int k = 1; k <= 2; k++) {
        const onyx_tensor *bound = onyx_input(ctx, k);
        if (!bound) continue;
        if (bound->dtype != x->dtype)
            return onyx_error(ONYX_ERR_INVALID_MODEL, "Clip: input %d (%s) has dtype %s but input 0 "
                              "(input) has %s; they must match", k, names[k],
                              onyx_dtype_name(bound->dtype), onyx_dtype_name(x->dtype));
        if (ewc_numel(bound) != 1) {
            char buf[128];
            return onyx_error(ONYX_ERR_INVALID_MODEL, "Clip: input %d (%s) has shape %s; expected a "
                              "scalar", k, names[k], onyx_shape_describe(bound->dims, bound->rank, buf, sizeof buf));
        }
    }
    return ONYX_OK;
}

static onyx_status k_clip_run(onyx_kernel_ctx *ctx) {
    const onyx_tensor *x = onyx_input(ctx, 0);
    onyx_cuda_ew_params params;
    memset(&params, 0, sizeof params);
    ewc_set_limit(&params.lo_bits, x->dtype, 0);
    ewc_set_limit(&params.hi_bits, x->dtype, 1);
    if (ewc_clip_uses_attributes(ctx)) {
        const onyx_attr *lo = onyx_node_attr(ctx->node, "min"), *hi = onyx_node_attr(ctx->node, "max");
        if (lo) {
            params.lo_bits = 0;
            ew_store_f64(&params.lo_bits, 0, x->dtype, lo->f);
        }
        if (hi) {
            params.hi_bits = 0;
            ew_store_f64(&params.hi_bits, 0, x->dtype, hi->f);
        }
    } else {
        if (onyx_input(ctx, 1)) params.lo = onyx_input(ctx, 1)->data;
        if (onyx_input(ctx, 2)) params.hi = onyx_input(ctx, 2)->data;
    }
    return ewc_unary_run(ctx, ONYX_CUDA_EW_CLIP, &params);
}

/* Cast, CastLike: the CPU's prepare (attribute 'to', target dtype), then strings refused:
 * they do not live on the GPU. */
static onyx_status ewc_cast_check(const onyx_kernel_ctx *ctx, const char *op) {
    onyx_dtype to = onyx_output(ctx, 0)->dtype;
    if (to == ONYX_DTYPE_STRING || onyx_input(ctx, 0)->dtype == ONYX_DTYPE_STRING)
        return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "%s: casts from or to string are not supported "
                          "by the CUDA kernel (strings stay on the CPU)", op);
    return ONYX_OK;
}
static onyx_status k_cast_prepare(onyx_kernel_ctx *ctx) {
    ONYX_TRY(ew_cast_prepare(ctx));
    return ewc_cast_check(ctx, "Cast");
}
static onyx_status k_castlike_prepare(onyx_kernel_ctx *ctx) {
    ONYX_TRY(ew_castlike_prepare(ctx));
    return ewc_cast_check(ctx, "CastLike");
}
static onyx_status k_cast_run(onyx_kernel_ctx *ctx) {
    const onyx_tensor *in = onyx_input(ctx, 0);
    onyx_tensor *out = onyx_output(ctx, 0);
    int64_t n = ewc_numel(in);
    if (n == 0) return ONYX_OK;
    if (in->dtype == out->dtype) {
        if (out->data != in->data)
            ONYX_CUDA_TRY(cudaMemcpyAsync(out->data, in->data, in->nbytes, cudaMemcpyDeviceToDevice,
                                          ewc_stream(ctx)), ewc_op_name(ctx));
        return ONYX_OK;
    }
    return ewc_launched(ctx, onyx_cuda_ew_cast(in->dtype, out->dtype, out->data, in->data, n, ewc_stream(ctx)));
}

/* ---- the table (the CPU's rows, dtype masks cut to the CUDA kernels') ---- */

#define F16_32_64 (ONYX_DT(FLOAT32) | ONYX_DT(FLOAT16) | ONYX_DT(FLOAT64))
#define ALL_FLOATS ONYX_DT_FLOATS
#define NUM_NO_BF16 (ONYX_DT_NUMERIC & ~ONYX_DT(BFLOAT16))
#define ARITH7 (F16_32_64 | ONYX_DT(INT32) | ONYX_DT(INT64) | ONYX_DT(UINT32) | ONYX_DT(UINT64))
#define SIGNED_NO_BF16 (F16_32_64 | ONYX_DT_SIGNED_INTS)
#define WHERE_TYPES (ONYX_DT_NUMERIC | ONYX_DT(BOOL))
#define CAST_TYPES (ONYX_DT_NUMERIC | ONYX_DT(BOOL))

/* onyx ClampInf (fused from T5's float16 overflow guard): Clip(X, -b, b), b = bound_if_inf when
 * X holds an infinity, else bound. */
static onyx_status k_clamp_inf_prepare(onyx_kernel_ctx *ctx) {
    ONYX_TRY(ewc_unary_prepare(ctx, ONYX_CUDA_EW_F, 0));
    if (ewc_numel(onyx_input(ctx, 0)) > ONYX_CUDA_CLAMP_INF_ONE_BLOCK)
        ctx->workspace_bytes = ONYX_CUDA_CLAMP_INF_MAX_BLOCKS * sizeof(int);
    return ONYX_OK;
}

static onyx_status k_clamp_inf_run(onyx_kernel_ctx *ctx) {
    const onyx_tensor *x = onyx_input(ctx, 0);
    float bound = onyx_node_attr_float(ctx->node, "bound", 65504.0f);
    float inf_bound = onyx_node_attr_float(ctx->node, "bound_if_inf", 64504.0f);
    return ewc_launched(ctx, onyx_cuda_clamp_inf(x->dtype, onyx_output(ctx, 0)->data, x->data, ewc_numel(x), bound,
                                                 inf_bound, ctx->workspace, ewc_stream(ctx)));
}

#define ROW(op, since, until, dtypes, OP, fn)                                                     \
    {op, "", since, until, 0, (dtypes) & ONYX_CUDA_EW_DT_##OP, 0, fn##_prepare, fn##_run, 0}
#define MS_ROW(op, dtypes, OP, fn)                                                                \
    {op, "com.microsoft", 1, ONYX_OPSET_MAX, 0, (dtypes) & ONYX_CUDA_EW_DT_##OP, 0, fn##_prepare, fn##_run, 0}

const onyx_kernel_def onyx_cuda_elementwise_kernels[] = {
    ROW("Abs", 6, 12, NUM_NO_BF16, ABS, k_abs),
    ROW("Abs", 13, ONYX_OPSET_MAX, ONYX_DT_NUMERIC, ABS, k_abs),
    ROW("Neg", 6, 12, SIGNED_NO_BF16, NEG, k_neg),
    ROW("Neg", 13, ONYX_OPSET_MAX, F16_32_64 | ONYX_DT(BFLOAT16) | ONYX_DT_SIGNED_INTS, NEG, k_neg),
    ROW("Ceil", 6, 12, F16_32_64, CEIL, k_ceil),
    ROW("Ceil", 13, ONYX_OPSET_MAX, ALL_FLOATS, CEIL, k_ceil),
    ROW("Floor", 6, 12, F16_32_64, FLOOR, k_floor),
    ROW("Floor", 13, ONYX_OPSET_MAX, ALL_FLOATS, FLOOR, k_floor),
    ROW("Reciprocal", 6, 12, F16_32_64, RECIPROCAL, k_reciprocal),
    ROW("Reciprocal", 13, ONYX_OPSET_MAX, ALL_FLOATS, RECIPROCAL, k_reciprocal),
    ROW("Sqrt", 6, 12, F16_32_64, SQRT, k_sqrt),
    ROW("Sqrt", 13, ONYX_OPSET_MAX, ALL_FLOATS, SQRT, k_sqrt),
    ROW("Exp", 6, 12, F16_32_64, EXP, k_exp),
    ROW("Exp", 13, ONYX_OPSET_MAX, ALL_FLOATS, EXP, k_exp),
    ROW("Log", 6, 12, F16_32_64, LOG, k_log),
    ROW("Log", 13, ONYX_OPSET_MAX, ALL_FLOATS, LOG, k_log),
    ROW("Erf", 9, 12, NUM_NO_BF16, ERF, k_erf),
    ROW("Erf", 13, ONYX_OPSET_MAX, ONYX_DT_NUMERIC, ERF, k_erf),
    ROW("Sin", 7, ONYX_OPSET_MAX, F16_32_64, SIN, k_sin),
    ROW("Cos", 7, ONYX_OPSET_MAX, F16_32_64, COS, k_cos),
    ROW("Tanh", 6, 12, F16_32_64, TANH, k_tanh),
    ROW("Tanh", 13, ONYX_OPSET_MAX, ALL_FLOATS, TANH, k_tanh),
    ROW("Sigmoid", 6, 12, F16_32_64, SIGMOID, k_sigmoid),
    ROW("Sigmoid", 13, ONYX_OPSET_MAX, ALL_FLOATS, SIGMOID, k_sigmoid),
    ROW("Relu", 6, 12, F16_32_64, RELU, k_relu),
    ROW("Relu", 13, 13, ALL_FLOATS, RELU, k_relu),
    ROW("Relu", 14, ONYX_OPSET_MAX, ALL_FLOATS | ONYX_DT_SIGNED_INTS, RELU, k_relu),
    ROW("Sign", 9, 12, NUM_NO_BF16, SIGN, k_sign),
    ROW("Sign", 13, ONYX_OPSET_MAX, ONYX_DT_NUMERIC, SIGN, k_sign),
    ROW("IsInf", 10, ONYX_OPSET_MAX, ONYX_DT(FLOAT32) | ONYX_DT(FLOAT64), ISINF, k_isinf),
    ROW("IsNaN", 9, 12, F16_32_64, ISNAN, k_isnan),
    ROW("IsNaN", 13, ONYX_OPSET_MAX, ALL_FLOATS, ISNAN, k_isnan),
    ROW("Not", 1, ONYX_OPSET_MAX, ONYX_DT(BOOL), NOT, k_not),
    ROW("LeakyRelu", 6, 15, F16_32_64, LEAKY_RELU, k_leaky_relu),
    ROW("LeakyRelu", 16, ONYX_OPSET_MAX, ALL_FLOATS, LEAKY_RELU, k_leaky_relu),
    ROW("Elu", 6, ONYX_OPSET_MAX, F16_32_64, ELU, k_elu),
    ROW("Selu", 6, ONYX_OPSET_MAX, F16_32_64, SELU, k_selu),
    ROW("HardSigmoid", 6, ONYX_OPSET_MAX, F16_32_64, HARD_SIGMOID, k_hard_sigmoid),
    ROW("HardSwish", 14, ONYX_OPSET_MAX, F16_32_64, HARD_SWISH, k_hard_swish),
    ROW("Softplus", 1, ONYX_OPSET_MAX, F16_32_64, SOFTPLUS, k_softplus),
    ROW("Softsign", 1, ONYX_OPSET_MAX, F16_32_64, SOFTSIGN, k_softsign),
    ROW("ThresholdedRelu", 10, ONYX_OPSET_MAX, F16_32_64, THRESHOLDED_RELU, k_thresholded_relu),
    ROW("Celu", 12, ONYX_OPSET_MAX, ONYX_DT(FLOAT32), CELU, k_celu),
    ROW("Acos", 7, ONYX_OPSET_MAX, F16_32_64, ACOS, k_acos),
    ROW("Asin", 7, ONYX_OPSET_MAX, F16_32_64, ASIN, k_asin),
    ROW("Atan", 7, ONYX_OPSET_MAX, F16_32_64, ATAN, k_atan),
    ROW("Tan", 7, ONYX_OPSET_MAX, F16_32_64, TAN, k_tan),
    ROW("Acosh", 9, ONYX_OPSET_MAX, F16_32_64, ACOSH, k_acosh),
    ROW("Asinh", 9, ONYX_OPSET_MAX, F16_32_64, ASINH, k_asinh),
    ROW("Atanh", 9, ONYX_OPSET_MAX, F16_32_64, ATANH, k_atanh),
    ROW("Sinh", 9, ONYX_OPSET_MAX, F16_32_64, SINH, k_sinh),
    ROW("Cosh", 9, ONYX_OPSET_MAX, F16_32_64, COSH, k_cosh),
    ROW("Round", 11, ONYX_OPSET_MAX, F16_32_64, ROUND, k_round),
    ROW("Shrink", 9, ONYX_OPSET_MAX, NUM_NO_BF16, SHRINK, k_shrink),

    ROW("Add", 7, 12, ARITH7, ADD, k_add),
    ROW("Add", 13, 13, ARITH7 | ONYX_DT(BFLOAT16), ADD, k_add),
    ROW("Add", 14, ONYX_OPSET_MAX, ONYX_DT_NUMERIC, ADD, k_add),
    ROW("Sub", 7, 12, ARITH7, SUB, k_sub),
    ROW("Sub", 13, 13, ARITH7 | ONYX_DT(BFLOAT16), SUB, k_sub),
    ROW("Sub", 14, ONYX_OPSET_MAX, ONYX_DT_NUMERIC, SUB, k_sub),
    ROW("Mul", 7, 12, ARITH7, MUL, k_mul),
    ROW("Mul", 13, 13, ARITH7 | ONYX_DT(BFLOAT16), MUL, k_mul),
    ROW("Mul", 14, ONYX_OPSET_MAX, ONYX_DT_NUMERIC, MUL, k_mul),
    ROW("Div", 7, 12, ARITH7, DIV, k_div),
    ROW("Div", 13, 13, ARITH7 | ONYX_DT(BFLOAT16), DIV, k_div),
    ROW("Div", 14, ONYX_OPSET_MAX, ONYX_DT_NUMERIC, DIV, k_div),
    ROW("Pow", 7, 11, F16_32_64, POW, k_pow),
    ROW("Pow", 12, 12, F16_32_64 | ONYX_DT(INT32) | ONYX_DT(INT64), POW, k_pow),
    ROW("Pow", 13, 14, ALL_FLOATS | ONYX_DT(INT32) | ONYX_DT(INT64), POW, k_pow),
    ROW("Pow", 15, ONYX_OPSET_MAX, ALL_FLOATS | ONYX_DT(INT32) | ONYX_DT(INT64), POW, k_pow),
    /* Mod's rows are checked against fmod=0's kernels; the two masks are equal */
    ROW("Mod", 10, 12, NUM_NO_BF16, MOD_PY, k_mod),
    ROW("Mod", 13, ONYX_OPSET_MAX, ONYX_DT_NUMERIC, MOD_PY, k_mod),
    ROW("PRelu", 7, 8, F16_32_64, PRELU, k_prelu),
    ROW("PRelu", 9, 15, ARITH7, PRELU, k_prelu),
    ROW("PRelu", 16, ONYX_OPSET_MAX, ARITH7 | ONYX_DT(BFLOAT16), PRELU, k_prelu),
    ROW("BitShift", 11, ONYX_OPSET_MAX, ONYX_DT_UNSIGNED_INTS, BIT_SHIFT, k_bit_shift),
    ROW("And", 7, ONYX_OPSET_MAX, ONYX_DT(BOOL), AND, k_and),
    ROW("Or", 7, ONYX_OPSET_MAX, ONYX_DT(BOOL), OR, k_or),
    ROW("Xor", 7, ONYX_OPSET_MAX, ONYX_DT(BOOL), XOR, k_xor),
    ROW("Equal", 7, 10, ONYX_DT(BOOL) | ONYX_DT(INT32) | ONYX_DT(INT64), EQUAL, k_equal),
    ROW("Equal", 11, 12, NUM_NO_BF16 | ONYX_DT(BOOL), EQUAL, k_equal),
    ROW("Equal", 13, ONYX_OPSET_MAX, ONYX_DT_NUMERIC | ONYX_DT(BOOL), EQUAL, k_equal),
    ROW("Greater", 7, 8, F16_32_64, GREATER, k_greater),
    ROW("Greater", 9, 12, NUM_NO_BF16, GREATER, k_greater),
    ROW("Greater", 13, ONYX_OPSET_MAX, ONYX_DT_NUMERIC, GREATER, k_greater),
    ROW("Less", 7, 8, F16_32_64, LESS, k_less),
    ROW("Less", 9, 12, NUM_NO_BF16, LESS, k_less),
    ROW("Less", 13, ONYX_OPSET_MAX, ONYX_DT_NUMERIC, LESS, k_less),
    ROW("GreaterOrEqual", 12, 15, NUM_NO_BF16, GREATER_EQUAL, k_greater_equal),
    ROW("GreaterOrEqual", 16, ONYX_OPSET_MAX, ONYX_DT_NUMERIC, GREATER_EQUAL, k_greater_equal),
    ROW("LessOrEqual", 12, 15, NUM_NO_BF16, LESS_EQUAL, k_less_equal),
    ROW("LessOrEqual", 16, ONYX_OPSET_MAX, ONYX_DT_NUMERIC, LESS_EQUAL, k_less_equal),

    ROW("Max", 6, 7, F16_32_64, MAX, k_max),
    ROW("Max", 8, 11, F16_32_64, MAX, k_max),
    ROW("Max", 12, 12, NUM_NO_BF16, MAX, k_max),
    ROW("Max", 13, ONYX_OPSET_MAX, ONYX_DT_NUMERIC, MAX, k_max),
    ROW("Min", 6, 7, F16_32_64, MIN, k_min),
    ROW("Min", 8, 11, F16_32_64, MIN, k_min),
    ROW("Min", 12, 12, NUM_NO_BF16, MIN, k_min),
    ROW("Min", 13, ONYX_OPSET_MAX, ONYX_DT_NUMERIC, MIN, k_min),
    ROW("Sum", 6, 7, F16_32_64, SCALE, k_sum),
    ROW("Sum", 8, 12, F16_32_64, SCALE, k_sum),
    ROW("Sum", 13, ONYX_OPSET_MAX, ALL_FLOATS, SCALE, k_sum),
    {"Mean", "", 6, 7, 0, F16_32_64 & ONYX_CUDA_EW_DT_SCALE, 0, k_sum_prepare, k_mean_run, 0},
    {"Mean", "", 8, 12, 0, F16_32_64 & ONYX_CUDA_EW_DT_SCALE, 0, k_sum_prepare, k_mean_run, 0},
    {"Mean", "", 13, ONYX_OPSET_MAX, 0, ALL_FLOATS & ONYX_CUDA_EW_DT_SCALE, 0, k_sum_prepare, k_mean_run, 0},

    {"Where", "", 9, 15, 1, WHERE_TYPES & ~ONYX_DT(BFLOAT16), 0, k_where_prepare, k_where_run, 0},
    {"Where", "", 16, ONYX_OPSET_MAX, 1, WHERE_TYPES, 0, k_where_prepare, k_where_run, 0},
    ROW("Clip", 6, 10, F16_32_64, CLIP, k_clip),
    ROW("Clip", 11, 11, F16_32_64, CLIP, k_clip),
    ROW("Clip", 12, 12, NUM_NO_BF16, CLIP, k_clip),
    ROW("Clip", 13, ONYX_OPSET_MAX, ONYX_DT_NUMERIC, CLIP, k_clip),

    {"Cast", "", 6, 8, 0, CAST_TYPES & ~ONYX_DT(BFLOAT16), 0, k_cast_prepare, k_cast_run, 0},
    {"Cast", "", 9, 12, 0, CAST_TYPES & ~ONYX_DT(BFLOAT16), 0, k_cast_prepare, k_cast_run, 0},
    {"Cast", "", 13, ONYX_OPSET_MAX, 0, CAST_TYPES, 0, k_cast_prepare, k_cast_run, 0},
    /* CastLike reads only target_type's dtype: it stays where it is (shape input) */
    {"CastLike", "", 15, ONYX_OPSET_MAX, 0, CAST_TYPES, 0, k_castlike_prepare, k_cast_run, 1u << 1},

    ROW("Gelu", 20, ONYX_OPSET_MAX, ALL_FLOATS, GELU_ERF, k_gelu),
    MS_ROW("Gelu", ALL_FLOATS, GELU_ERF, k_gelu),
    MS_ROW("FastGelu", ALL_FLOATS, GELU_TANH, k_gelu),
    MS_ROW("QuickGelu", ALL_FLOATS, QUICK_GELU, k_quick_gelu),
    MS_ROW("BiasGelu", ALL_FLOATS, GELU_ERF_BIAS, k_bias_gelu),
    {"ClampInf", "onyx", 1, ONYX_OPSET_MAX, 0, ALL_FLOATS, 0, k_clamp_inf_prepare, k_clamp_inf_run, 0},
    {0},
};
