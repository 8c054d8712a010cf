/*
 * elementwise_launch.h - launchers of the CUDA elementwise kernels (elementwise.cu), called by
 * the kernel table's run functions (elementwise.c). Compiles as C and as C++.
 *
 * One launcher per arity: unary (flat), binary and Where (broadcast), Pow with mixed dtypes,
 * Cast. Ops are codes of onyx_cuda_ew_op; dtypes are ONNX dtype codes (the same numbers as
 * onyx_dtype, checked in elementwise.c). Each op's dtype mask (ONYX_CUDA_EW_DT_<OP>) is what
 * the .cu instantiates and what the table rows in elementwise.c claim, so the two cannot
 * disagree. Every launcher returns cudaErrorNotSupported for an (op, dtype) it has no kernel
 * for, else cudaGetLastError() after the launch; n == 0 launches nothing.
 *
 * Broadcast shapes arrive collapsed (elementwise_plan.h's ew_plan: size-1 dims dropped,
 * neighbouring dims merged): rank 1 means every input is either the output's shape (stride 1)
 * or a scalar (stride 0), which takes the flat vectorised path.
 */
#ifndef ONYX_PROVIDERS_CUDA_ELEMENTWISE_LAUNCH_H
#define ONYX_PROVIDERS_CUDA_ELEMENTWISE_LAUNCH_H

#include <stddef.h>
#include <stdint.h>

#include <cuda_runtime_api.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ONNX dtype codes (TensorProto.DataType) the kernels know. */
#define ONYX_CUDA_EW_FLOAT32 1
#define ONYX_CUDA_EW_UINT8 2
#define ONYX_CUDA_EW_INT8 3
#define ONYX_CUDA_EW_UINT16 4
#define ONYX_CUDA_EW_INT16 5
#define ONYX_CUDA_EW_INT32 6
#define ONYX_CUDA_EW_INT64 7
#define ONYX_CUDA_EW_BOOL 9
#define ONYX_CUDA_EW_FLOAT16 10
#define ONYX_CUDA_EW_FLOAT64 11
#define ONYX_CUDA_EW_UINT32 12
#define ONYX_CUDA_EW_UINT64 13
#define ONYX_CUDA_EW_BFLOAT16 16

#define ONYX_CUDA_EW_BIT(code) (UINT64_C(1) << (code))
/* float32, float16, float64 */
#define ONYX_CUDA_EW_F3                                                                           \
    (ONYX_CUDA_EW_BIT(ONYX_CUDA_EW_FLOAT32) | ONYX_CUDA_EW_BIT(ONYX_CUDA_EW_FLOAT16) |            \
     ONYX_CUDA_EW_BIT(ONYX_CUDA_EW_FLOAT64))
/* the four floats */
#define ONYX_CUDA_EW_F (ONYX_CUDA_EW_F3 | ONYX_CUDA_EW_BIT(ONYX_CUDA_EW_BFLOAT16))
/* the signed integers served by compute ops */
#define ONYX_CUDA_EW_SI                                                                           \
    (ONYX_CUDA_EW_BIT(ONYX_CUDA_EW_INT8) | ONYX_CUDA_EW_BIT(ONYX_CUDA_EW_INT32) |                 \
     ONYX_CUDA_EW_BIT(ONYX_CUDA_EW_INT64))
/* the integers served by compute ops: int8, int32, int64, uint8 */
#define ONYX_CUDA_EW_I (ONYX_CUDA_EW_SI | ONYX_CUDA_EW_BIT(ONYX_CUDA_EW_UINT8))
#define ONYX_CUDA_EW_UINTS                                                                        \
    (ONYX_CUDA_EW_BIT(ONYX_CUDA_EW_UINT8) | ONYX_CUDA_EW_BIT(ONYX_CUDA_EW_UINT16) |               \
     ONYX_CUDA_EW_BIT(ONYX_CUDA_EW_UINT32) | ONYX_CUDA_EW_BIT(ONYX_CUDA_EW_UINT64))
#define ONYX_CUDA_EW_BOOLS ONYX_CUDA_EW_BIT(ONYX_CUDA_EW_BOOL)
/* every numeric dtype and bool (Cast, Where) */
#define ONYX_CUDA_EW_ALL                                                                          \
    (ONYX_CUDA_EW_F | ONYX_CUDA_EW_I | ONYX_CUDA_EW_UINTS | ONYX_CUDA_EW_BOOLS |                  \
     ONYX_CUDA_EW_BIT(ONYX_CUDA_EW_INT16))

/* Unary ops, output shaped as the input; the dtype mask of each is ONYX_CUDA_EW_DT_<NAME>.
 * ISNAN and ISINF write bool; CLIP reads params lo/hi, SCALE params scale (Mean's 1/n). */
#define ONYX_CUDA_EW_UNARY_OPS(X)  \
    X(ABS)                         \
    X(NEG)                         \
    X(CEIL)                        \
    X(FLOOR)                       \
    X(RECIPROCAL)                  \
    X(SQRT)                        \
    X(EXP)                         \
    X(LOG)                         \
    X(ERF)                         \
    X(SIN)                         \
    X(COS)                         \
    X(TAN)                         \
    X(ASIN)                        \
    X(ACOS)                        \
    X(ATAN)                        \
    X(SINH)                        \
    X(COSH)                        \
    X(ASINH)                       \
    X(ACOSH)                       \
    X(ATANH)                       \
    X(TANH)                        \
    X(SIGMOID)                     \
    X(RELU)                        \
    X(SIGN)                        \
    X(ROUND)                       \
    X(ISNAN)                       \
    X(ISINF)                       \
    X(NOT)                         \
    X(LEAKY_RELU)                  \
    X(ELU)                         \
    X(SELU)                        \
    X(CELU)                        \
    X(HARD_SIGMOID)                \
    X(HARD_SWISH)                  \
    X(SOFTPLUS)                    \
    X(SOFTSIGN)                    \
    X(THRESHOLDED_RELU)            \
    X(SHRINK)                      \
    X(GELU_ERF)                    \
    X(GELU_TANH)                   \
    X(QUICK_GELU)                  \
    X(CLIP)                        \
    X(SCALE)

#define ONYX_CUDA_EW_DT_ABS (ONYX_CUDA_EW_F | ONYX_CUDA_EW_I)
#define ONYX_CUDA_EW_DT_NEG (ONYX_CUDA_EW_F | ONYX_CUDA_EW_SI)
#define ONYX_CUDA_EW_DT_CEIL (ONYX_CUDA_EW_F)
#define ONYX_CUDA_EW_DT_FLOOR (ONYX_CUDA_EW_F)
#define ONYX_CUDA_EW_DT_RECIPROCAL (ONYX_CUDA_EW_F)
#define ONYX_CUDA_EW_DT_SQRT (ONYX_CUDA_EW_F)
#define ONYX_CUDA_EW_DT_EXP (ONYX_CUDA_EW_F)
#define ONYX_CUDA_EW_DT_LOG (ONYX_CUDA_EW_F)
#define ONYX_CUDA_EW_DT_ERF (ONYX_CUDA_EW_F | ONYX_CUDA_EW_I)
#define ONYX_CUDA_EW_DT_SIN (ONYX_CUDA_EW_F3)
#define ONYX_CUDA_EW_DT_COS (ONYX_CUDA_EW_F3)
#define ONYX_CUDA_EW_DT_TAN (ONYX_CUDA_EW_F3)
#define ONYX_CUDA_EW_DT_ASIN (ONYX_CUDA_EW_F3)
#define ONYX_CUDA_EW_DT_ACOS (ONYX_CUDA_EW_F3)
#define ONYX_CUDA_EW_DT_ATAN (ONYX_CUDA_EW_F3)
#define ONYX_CUDA_EW_DT_SINH (ONYX_CUDA_EW_F3)
#define ONYX_CUDA_EW_DT_COSH (ONYX_CUDA_EW_F3)
#define ONYX_CUDA_EW_DT_ASINH (ONYX_CUDA_EW_F3)
#define ONYX_CUDA_EW_DT_ACOSH (ONYX_CUDA_EW_F3)
#define ONYX_CUDA_EW_DT_ATANH (ONYX_CUDA_EW_F3)
#define ONYX_CUDA_EW_DT_TANH (ONYX_CUDA_EW_F)
#define ONYX_CUDA_EW_DT_SIGMOID (ONYX_CUDA_EW_F)
#define ONYX_CUDA_EW_DT_RELU (ONYX_CUDA_EW_F | ONYX_CUDA_EW_SI)
#define ONYX_CUDA_EW_DT_SIGN (ONYX_CUDA_EW_F | ONYX_CUDA_EW_I)
#define ONYX_CUDA_EW_DT_ROUND (ONYX_CUDA_EW_F3)
#define ONYX_CUDA_EW_DT_ISNAN (ONYX_CUDA_EW_F) /* bool out */
#define ONYX_CUDA_EW_DT_ISINF (ONYX_CUDA_EW_BIT(ONYX_CUDA_EW_FLOAT32) | ONYX_CUDA_EW_BIT(ONYX_CUDA_EW_FLOAT64)) /* bool out */
#define ONYX_CUDA_EW_DT_NOT (ONYX_CUDA_EW_BOOLS)
#define ONYX_CUDA_EW_DT_LEAKY_RELU (ONYX_CUDA_EW_F)
#define ONYX_CUDA_EW_DT_ELU (ONYX_CUDA_EW_F3)
#define ONYX_CUDA_EW_DT_SELU (ONYX_CUDA_EW_F3)
#define ONYX_CUDA_EW_DT_CELU (ONYX_CUDA_EW_BIT(ONYX_CUDA_EW_FLOAT32))
#define ONYX_CUDA_EW_DT_HARD_SIGMOID (ONYX_CUDA_EW_F3)
#define ONYX_CUDA_EW_DT_HARD_SWISH (ONYX_CUDA_EW_F3)
#define ONYX_CUDA_EW_DT_SOFTPLUS (ONYX_CUDA_EW_F3)
#define ONYX_CUDA_EW_DT_SOFTSIGN (ONYX_CUDA_EW_F3)
#define ONYX_CUDA_EW_DT_THRESHOLDED_RELU (ONYX_CUDA_EW_F3)
#define ONYX_CUDA_EW_DT_SHRINK (ONYX_CUDA_EW_F3 | ONYX_CUDA_EW_I)
#define ONYX_CUDA_EW_DT_GELU_ERF (ONYX_CUDA_EW_F)
#define ONYX_CUDA_EW_DT_GELU_TANH (ONYX_CUDA_EW_F)
#define ONYX_CUDA_EW_DT_QUICK_GELU (ONYX_CUDA_EW_F)
#define ONYX_CUDA_EW_DT_CLIP (ONYX_CUDA_EW_F | ONYX_CUDA_EW_I)
#define ONYX_CUDA_EW_DT_SCALE (ONYX_CUDA_EW_F)

/* Binary ops with NumPy broadcasting; A and B share a dtype (the mask is A's). Comparisons
 * write bool. */
#define ONYX_CUDA_EW_BINARY_OPS(X)  \
    X(ADD)                          \
    X(SUB)                          \
    X(MUL)                          \
    X(DIV)                          \
    X(POW)                          \
    X(MOD_PY)                       \
    X(MOD_C)                        \
    X(MAX)                          \
    X(MIN)                          \
    X(PRELU)                        \
    X(BIT_SHIFT)                    \
    X(AND)                          \
    X(OR)                           \
    X(XOR)                          \
    X(EQUAL)                        \
    X(GREATER)                      \
    X(GREATER_EQUAL)                \
    X(LESS)                         \
    X(LESS_EQUAL)                   \
    X(GELU_ERF_BIAS)                \
    X(GELU_TANH_BIAS)

#define ONYX_CUDA_EW_DT_ADD (ONYX_CUDA_EW_F | ONYX_CUDA_EW_I)
#define ONYX_CUDA_EW_DT_SUB (ONYX_CUDA_EW_F | ONYX_CUDA_EW_I)
#define ONYX_CUDA_EW_DT_MUL (ONYX_CUDA_EW_F | ONYX_CUDA_EW_I)
#define ONYX_CUDA_EW_DT_DIV (ONYX_CUDA_EW_F | ONYX_CUDA_EW_I)
#define ONYX_CUDA_EW_DT_POW (ONYX_CUDA_EW_F | ONYX_CUDA_EW_BIT(ONYX_CUDA_EW_INT32) | ONYX_CUDA_EW_BIT(ONYX_CUDA_EW_INT64))
#define ONYX_CUDA_EW_DT_MOD_PY (ONYX_CUDA_EW_F | ONYX_CUDA_EW_I) /* Mod fmod=0 */
#define ONYX_CUDA_EW_DT_MOD_C (ONYX_CUDA_EW_F | ONYX_CUDA_EW_I) /* Mod fmod=1 */
#define ONYX_CUDA_EW_DT_MAX (ONYX_CUDA_EW_F | ONYX_CUDA_EW_I)
#define ONYX_CUDA_EW_DT_MIN (ONYX_CUDA_EW_F | ONYX_CUDA_EW_I)
#define ONYX_CUDA_EW_DT_PRELU (ONYX_CUDA_EW_F | ONYX_CUDA_EW_BIT(ONYX_CUDA_EW_INT32) | ONYX_CUDA_EW_BIT(ONYX_CUDA_EW_INT64))
#define ONYX_CUDA_EW_DT_BIT_SHIFT (ONYX_CUDA_EW_UINTS) /* params.shift_left */
#define ONYX_CUDA_EW_DT_AND (ONYX_CUDA_EW_BOOLS)
#define ONYX_CUDA_EW_DT_OR (ONYX_CUDA_EW_BOOLS)
#define ONYX_CUDA_EW_DT_XOR (ONYX_CUDA_EW_BOOLS)
#define ONYX_CUDA_EW_DT_EQUAL (ONYX_CUDA_EW_F | ONYX_CUDA_EW_I | ONYX_CUDA_EW_BOOLS) /* bool out */
#define ONYX_CUDA_EW_DT_GREATER (ONYX_CUDA_EW_F | ONYX_CUDA_EW_I) /* bool out */
#define ONYX_CUDA_EW_DT_GREATER_EQUAL (ONYX_CUDA_EW_F | ONYX_CUDA_EW_I) /* bool out */
#define ONYX_CUDA_EW_DT_LESS (ONYX_CUDA_EW_F | ONYX_CUDA_EW_I) /* bool out */
#define ONYX_CUDA_EW_DT_LESS_EQUAL (ONYX_CUDA_EW_F | ONYX_CUDA_EW_I) /* bool out */
#define ONYX_CUDA_EW_DT_GELU_ERF_BIAS (ONYX_CUDA_EW_F) /* Gelu(A + B) */
#define ONYX_CUDA_EW_DT_GELU_TANH_BIAS (ONYX_CUDA_EW_F)

typedef enum onyx_cuda_ew_op {
#define ONYX_CUDA_EW_ENUM(name) ONYX_CUDA_EW_##name,
    ONYX_CUDA_EW_UNARY_OPS(ONYX_CUDA_EW_ENUM)
    ONYX_CUDA_EW_BINARY_OPS(ONYX_CUDA_EW_ENUM)
#undef ONYX_CUDA_EW_ENUM
    ONYX_CUDA_EW_OP_COUNT
} onyx_cuda_ew_op;

#define ONYX_CUDA_EW_MAX_RANK 12
#define ONYX_CUDA_EW_MAX_INPUTS 3

/* Per-call scalars of the ops that have them. */
typedef struct onyx_cuda_ew_params {
    float alpha, beta, gamma;  /* activation attributes; Shrink: alpha = lambd, beta = bias */
    int detect_positive;       /* IsInf */
    int detect_negative;
    int shift_left;            /* BitShift direction */
    double scale;              /* SCALE (Mean's 1/n) */
    /* Clip bounds: lo/hi point at one element of the input's dtype on the device (Clip's
     * inputs min/max), or are NULL, in which case lo_bits/hi_bits hold that element. */
    const void *lo, *hi;
    uint64_t lo_bits, hi_bits;
} onyx_cuda_ew_params;

/* A collapsed broadcast: output dims and each input's element strides (0 where it repeats). */
typedef struct onyx_cuda_ew_shape {
    int rank; /* >= 1 */
    int64_t numel;
    int64_t dims[ONYX_CUDA_EW_MAX_RANK];
    int64_t strides[ONYX_CUDA_EW_MAX_INPUTS][ONYX_CUDA_EW_MAX_RANK];
} onyx_cuda_ew_shape;

// out and in are (n) of dtype (out bool for ISNAN, ISINF); out may be in.
cudaError_t onyx_cuda_ew_unary(int op, int dtype, void *out, const void *in, int64_t n,
                               const onyx_cuda_ew_params *params, cudaStream_t stream);
// out is shape->dims, a and b broadcast to it (strides 0 and 1 of shape->strides); out may be a.
cudaError_t onyx_cuda_ew_binary(int op, int dtype, void *out, const void *a, const void *b,
                                const onyx_cuda_ew_shape *shape, const onyx_cuda_ew_params *params,
                                cudaStream_t stream);
// Pow with base and exponent of different dtypes; out has the base's dtype.
cudaError_t onyx_cuda_ew_pow_mixed(int base_dtype, int exponent_dtype, void *out, const void *base,
                                   const void *exponent, const onyx_cuda_ew_shape *shape,
                                   cudaStream_t stream);
// Where: cond (bool), x, y broadcast to out (strides 0, 1, 2); elements of elem_size bytes.
cudaError_t onyx_cuda_ew_where(size_t elem_size, void *out, const uint8_t *cond, const void *x,
                               const void *y, const onyx_cuda_ew_shape *shape, cudaStream_t stream);
// Cast (n) elements from dtype from to dtype to (both in ONYX_CUDA_EW_ALL, different).
cudaError_t onyx_cuda_ew_cast(int from, int to, void *out, const void *in, int64_t n,
                              cudaStream_t stream);

// onyx ClampInf: out = Clip(in, -b, b), b = inf_bound when any of the n elements is infinite,
// else bound, both rounded to dtype (FLOAT32, FLOAT16, BFLOAT16, FLOAT64). Up to
// ONYX_CUDA_CLAMP_INF_ONE_BLOCK elements take one launch of one block; more take two launches and
// flags: ONYX_CUDA_CLAMP_INF_MAX_BLOCKS ints of device workspace. out may be in.
#define ONYX_CUDA_CLAMP_INF_ONE_BLOCK 32768
#define ONYX_CUDA_CLAMP_INF_MAX_BLOCKS 1024
cudaError_t onyx_cuda_clamp_inf(int dtype, void *out, const void *in, int64_t n, float bound, float inf_bound,
                                int *flags, cudaStream_t stream);

#ifdef __cplusplus
}
#endif

#endif
