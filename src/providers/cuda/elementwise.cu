/*
 * elementwise.cu - CUDA kernels of the elementwise family: unary math and activations, binary
 * arithmetic / comparison / logic with NumPy broadcasting, Where, Pow with mixed dtypes, Cast.
 *
 * Each op is a small functor computing one element in its compute type (float for float16 and
 * bfloat16, which are rounded once when stored; double for float64; the element type itself
 * for integers). The formulas are the CPU provider's (src/providers/cpu/elementwise.c), so the
 * two agree to rounding. Kernels are templates over (functor, storage type), instantiated only
 * for the dtypes of the op's mask in elementwise_launch.h (if constexpr in the dispatchers), so
 * compile time grows with what the table claims and nothing else.
 *
 * Two shapes of kernel per arity:
 *  - flat: every input is the output's shape or a scalar (the collapsed broadcast has rank 1).
 *    Grid-stride over packs of VEC elements (16 bytes of the widest type) with vector loads and
 *    stores when every contiguous pointer is 16-byte aligned, scalar loads otherwise; a scalar
 *    input is read once per pack.
 *  - strided: the general broadcast. Each output index is split into coordinates of the
 *    collapsed dims (rank - 1 divisions; a last-dim broadcast [B,T,C] + [C] collapses to rank 2,
 *    one division) with precomputed 32-bit magic-number divisors when the output has fewer than
 *    2^31 elements, 64-bit division beyond.
 *
 * Legend: n = element count of the output; VEC = elements per pack.
 */
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <stdint.h>
#include <string.h>

#include <algorithm>
#include <type_traits>

#include "providers/cuda/elementwise_launch.h"

namespace {

typedef onyx_cuda_ew_params Params;

constexpr int kThreads = 256;
constexpr int64_t kMaxBlocks = 32768;

// ----------------------------------------------------------------------------
// element types

// Storage type T computes in C; from() rounds a computed value back into T (float16 and
// bfloat16 round to nearest even; integers wrap like a C cast).
template <typename T> struct Elem {
    typedef T C;
    __device__ __forceinline__ static C to_c(T v) { return v; }
    template <typename V> __device__ __forceinline__ static T from(V v) { return static_cast<T>(v); }
};
template <> struct Elem<__half> {
    typedef float C;
    __device__ __forceinline__ static C to_c(__half v) { return __half2float(v); }
    template <typename V> __device__ __forceinline__ static __half from(V v) {
        return __float2half_rn(static_cast<float>(v));
    }
};
template <> struct Elem<__nv_bfloat16> {
    typedef float C;
    __device__ __forceinline__ static C to_c(__nv_bfloat16 v) { return __bfloat162float(v); }
    template <typename V> __device__ __forceinline__ static __nv_bfloat16 from(V v) {
        return __float2bfloat16_rn(static_cast<float>(v));
    }
};

template <typename C> constexpr bool is_float_v = std::is_floating_point<C>::value;
template <typename C> constexpr bool is_signed_int_v = std::is_integral<C>::value && std::is_signed<C>::value;

// One element of T held in the low bytes of a 64-bit field (Clip bounds given by value).
template <typename T> __device__ __forceinline__ T from_bits(uint64_t bits) {
    T v;
    memcpy(&v, &bits, sizeof(T));
    return v;
}

// ----------------------------------------------------------------------------
// scalar math (float and double overloads)

#define EWC_MATH1(name, f32, f64)                                                                 \
    __device__ __forceinline__ float name(float x) { return f32(x); }                            \
    __device__ __forceinline__ double name(double x) { return f64(x); }
EWC_MATH1(m_abs, fabsf, fabs)
EWC_MATH1(m_ceil, ceilf, ceil)
EWC_MATH1(m_floor, floorf, floor)
EWC_MATH1(m_sqrt, sqrtf, sqrt)
EWC_MATH1(m_exp, expf, exp)
EWC_MATH1(m_log, logf, log)
EWC_MATH1(m_log1p, log1pf, log1p)
EWC_MATH1(m_erf, erff, erf)
EWC_MATH1(m_sin, sinf, sin)
EWC_MATH1(m_cos, cosf, cos)
EWC_MATH1(m_tan, tanf, tan)
EWC_MATH1(m_asin, asinf, asin)
EWC_MATH1(m_acos, acosf, acos)
EWC_MATH1(m_atan, atanf, atan)
EWC_MATH1(m_sinh, sinhf, sinh)
EWC_MATH1(m_cosh, coshf, cosh)
EWC_MATH1(m_asinh, asinhf, asinh)
EWC_MATH1(m_acosh, acoshf, acosh)
EWC_MATH1(m_atanh, atanhf, atanh)
EWC_MATH1(m_tanh, tanhf, tanh)
EWC_MATH1(m_rint, rintf, rint) /* halves to even, as the CPU's nearbyint */
#undef EWC_MATH1
__device__ __forceinline__ float m_fmod(float x, float y) { return fmodf(x, y); }
__device__ __forceinline__ double m_fmod(double x, double y) { return fmod(x, y); }
__device__ __forceinline__ float m_pow(float x, float y) { return powf(x, y); }
__device__ __forceinline__ double m_pow(double x, double y) { return pow(x, y); }

// Integer power by squaring (wrapping); negative exponents give 1/x^n truncated.
__device__ __forceinline__ int64_t int_pow(int64_t base, int64_t exponent) {
    if (exponent < 0) return base == 1 ? 1 : base == -1 ? ((exponent & 1) ? -1 : 1) : 0;
    uint64_t result = 1, b = (uint64_t)base;
    for (uint64_t e = (uint64_t)exponent; e; e >>= 1) {
        if (e & 1) result *= b;
        b *= b;
    }
    return (int64_t)result;
}

template <typename C> __device__ __forceinline__ C wrap_neg(C x) { return (C)(0u - (uint64_t)x); }

template <typename C> __device__ __forceinline__ C sigmoid(C x) {
    C e = m_exp(-m_abs(x)); // never overflows; e/(1+e) below 0 keeps tiny results
    return x >= 0 ? (C)1 / ((C)1 + e) : e / ((C)1 + e);
}
template <typename C> __device__ __forceinline__ C gelu_erf(C x) {
    return (C)0.5 * x * ((C)1 + m_erf(x * (C)0.70710678118654752440));
}
// 0.5 x (1 + tanh(u)) == x * sigmoid(2u), u = sqrt(2/pi) (x + 0.044715 x^3)
template <typename C> __device__ __forceinline__ C gelu_tanh(C x) {
    return x / ((C)1 + m_exp((C)-1.59576912160573071176 * (x + (C)0.044715 * x * x * x)));
}
template <typename C> __device__ __forceinline__ C clamp01(C v) { return v < 0 ? (C)0 : v > 1 ? (C)1 : v; }

// ----------------------------------------------------------------------------
// unary functors: operator()(x, params, lo, hi) in the compute type; lo/hi are Clip's bounds

// kBoolOut says whether the op writes bools: a trait the host and device passes of nvcc agree
// on (a decltype of a __device__ auto function may not: it made host stubs launch kernels that
// the device pass had instantiated for another output type, "invalid device function").
#define EWC_UNARY(NAME, ...) EWC_UNARY_OUT(NAME, false, auto, __VA_ARGS__)
#define EWC_UNARY_BOOL(NAME, ...) EWC_UNARY_OUT(NAME, true, bool, __VA_ARGS__)
#define EWC_UNARY_OUT(NAME, BOOL_OUT, RET, ...)                                                   \
    struct UnaryOp_##NAME {                                                                       \
        static constexpr bool kBoolOut = BOOL_OUT;                                                \
        template <typename C>                                                                     \
        __device__ __forceinline__ RET operator()(C x, const Params &p, C lo, C hi) const {       \
            (void)p; (void)lo; (void)hi;                                                          \
            __VA_ARGS__                                                                           \
        }                                                                                         \
    };

EWC_UNARY(ABS, if constexpr (is_float_v<C>) return m_abs(x);
               else if constexpr (is_signed_int_v<C>) return x < 0 ? wrap_neg(x) : x;
               else return x;)
EWC_UNARY(NEG, if constexpr (is_float_v<C>) return -x; else return wrap_neg(x);)
EWC_UNARY(CEIL, return m_ceil(x);)
EWC_UNARY(FLOOR, return m_floor(x);)
EWC_UNARY(RECIPROCAL, return (C)1 / x;)
EWC_UNARY(SQRT, return m_sqrt(x);)
EWC_UNARY(EXP, return m_exp(x);)
EWC_UNARY(LOG, return m_log(x);)
EWC_UNARY(ERF, if constexpr (is_float_v<C>) return m_erf(x); else return (C)erf((double)x);)
EWC_UNARY(SIN, return m_sin(x);)
EWC_UNARY(COS, return m_cos(x);)
EWC_UNARY(TAN, return m_tan(x);)
EWC_UNARY(ASIN, return m_asin(x);)
EWC_UNARY(ACOS, return m_acos(x);)
EWC_UNARY(ATAN, return m_atan(x);)
EWC_UNARY(SINH, return m_sinh(x);)
EWC_UNARY(COSH, return m_cosh(x);)
EWC_UNARY(ASINH, return m_asinh(x);)
EWC_UNARY(ACOSH, return m_acosh(x);)
EWC_UNARY(ATANH, return m_atanh(x);)
EWC_UNARY(TANH, return m_tanh(x);)
EWC_UNARY(SIGMOID, return sigmoid(x);)
EWC_UNARY(RELU, return x < 0 ? (C)0 : x;)
EWC_UNARY(SIGN, if constexpr (std::is_unsigned<C>::value) return x > 0 ? (C)1 : (C)0;
                else return x > 0 ? (C)1 : x < 0 ? (C)-1 : x;)
EWC_UNARY(ROUND, return m_rint(x);)
EWC_UNARY_BOOL(ISNAN, return x != x;)
EWC_UNARY_BOOL(ISINF, return isinf(x) && (x > 0 ? p.detect_positive : p.detect_negative);)
EWC_UNARY(NOT, return !x;)
EWC_UNARY(LEAKY_RELU, return x < 0 ? (C)p.alpha * x : x;)
EWC_UNARY(ELU, return x < 0 ? (C)p.alpha * (m_exp(x) - (C)1) : x;)
EWC_UNARY(SELU, return (C)p.gamma * (x <= 0 ? (C)p.alpha * m_exp(x) - (C)p.alpha : x);)
EWC_UNARY(CELU, return (x > 0 ? x : (C)0) + (x < 0 ? (C)p.alpha * (m_exp(x / (C)p.alpha) - (C)1) : (C)0);)
EWC_UNARY(HARD_SIGMOID, return clamp01((C)p.alpha * x + (C)p.beta);)
EWC_UNARY(HARD_SWISH, return x * clamp01(x * ((C)1 / (C)6) + (C)0.5);)
EWC_UNARY(SOFTPLUS, return (x > 0 ? x : (C)0) + m_log1p(m_exp(-m_abs(x)));)
EWC_UNARY(SOFTSIGN, return x / ((C)1 + m_abs(x));)
EWC_UNARY(THRESHOLDED_RELU, return x > (C)p.alpha ? x : (C)0;)
/* computed in double so integer inputs compare with the float lambd exactly */
EWC_UNARY(SHRINK, double d = (double)x;
                  return d < -(double)p.alpha ? (C)(d + p.beta) : d > (double)p.alpha ? (C)(d - p.beta) : (C)0;)
EWC_UNARY(GELU_ERF, return gelu_erf(x);)
EWC_UNARY(GELU_TANH, return gelu_tanh(x);)
EWC_UNARY(QUICK_GELU, return x * sigmoid((C)p.alpha * x);)
/* lo > hi gives hi everywhere, as ONNX specifies; NaN stays NaN */
EWC_UNARY(CLIP, C v = x < lo ? lo : x; return v > hi ? hi : v;)
EWC_UNARY(SCALE, return (C)(x * (C)p.scale);)
#undef EWC_UNARY
#undef EWC_UNARY_BOOL
#undef EWC_UNARY_OUT

// ----------------------------------------------------------------------------
// binary functors: operator()(x, y, params) in the compute type of A

#define EWC_BINARY(NAME, ...) EWC_BINARY_OUT(NAME, false, auto, __VA_ARGS__)
#define EWC_BINARY_BOOL(NAME, ...) EWC_BINARY_OUT(NAME, true, bool, __VA_ARGS__)
#define EWC_BINARY_OUT(NAME, BOOL_OUT, RET, ...)                                                  \
    struct BinaryOp_##NAME {                                                                      \
        static constexpr bool kBoolOut = BOOL_OUT;                                                \
        template <typename C>                                                                     \
        __device__ __forceinline__ RET operator()(C x, C y, const Params &p) const {              \
            (void)p;                                                                              \
            __VA_ARGS__                                                                           \
        }                                                                                         \
    };

EWC_BINARY(ADD, return x + y;)
EWC_BINARY(SUB, return x - y;)
EWC_BINARY(MUL, return x * y;)
/* integer division by zero gives 0 (and INT_MIN / -1 wraps), as the CPU kernel */
EWC_BINARY(DIV, if constexpr (is_float_v<C>) return x / y;
                else if constexpr (is_signed_int_v<C>) return y == 0 ? (C)0 : y == -1 ? wrap_neg(x) : (C)(x / y);
                else return y == 0 ? (C)0 : (C)(x / y);)
/* Pow by 2, 3 or 0.5 as products and sqrt (the CPU's fast path; -0 and -inf as pow) */
EWC_BINARY(POW, if constexpr (is_float_v<C>) {
                    if (y == (C)2) return x * x;
                    if (y == (C)3) return x * x * x;
                    if (y == (C)0.5) return x == -(C)INFINITY ? (C)INFINITY : m_sqrt(x) + (C)0;
                    return m_pow(x, y);
                } else {
                    return (C)int_pow((int64_t)x, (int64_t)y);
                })
/* Mod fmod=0: the divisor's sign (Python's %); integer division by zero gives 0 */
EWC_BINARY(MOD_PY, if constexpr (is_float_v<C>) {
                       C r = m_fmod(x, y);
                       if (r != 0 && ((r < 0) != (y < 0))) r += y;
                       return r;
                   } else if constexpr (is_signed_int_v<C>) {
                       int64_t a = x, b = y;
                       if (b == 0 || b == -1) return (C)0;
                       int64_t r = a % b;
                       if (r != 0 && ((r < 0) != (b < 0))) r += b;
                       return (C)r;
                   } else {
                       return y == 0 ? (C)0 : (C)(x % y);
                   })
/* Mod fmod=1: the dividend's sign (C's fmod) */
EWC_BINARY(MOD_C, if constexpr (is_float_v<C>) return m_fmod(x, y);
                  else if constexpr (is_signed_int_v<C>) return (y == 0 || y == -1) ? (C)0 : (C)((int64_t)x % (int64_t)y);
                  else return y == 0 ? (C)0 : (C)(x % y);)
/* NaN propagates from either side */
EWC_BINARY(MAX, return (x != x || x > y) ? x : y;)
EWC_BINARY(MIN, return (x != x || x < y) ? x : y;)
EWC_BINARY(PRELU, return x < 0 ? (C)(y * x) : x;)
EWC_BINARY(BIT_SHIFT, return y >= (C)(sizeof(C) * 8) ? (C)0 : p.shift_left ? (C)(x << y) : (C)(x >> y);)
EWC_BINARY(AND, return x && y;)
EWC_BINARY(OR, return x || y;)
EWC_BINARY(XOR, return (x != 0) != (y != 0);)
EWC_BINARY_BOOL(EQUAL, return x == y;)
EWC_BINARY_BOOL(GREATER, return x > y;)
EWC_BINARY_BOOL(GREATER_EQUAL, return x >= y;)
EWC_BINARY_BOOL(LESS, return x < y;)
EWC_BINARY_BOOL(LESS_EQUAL, return x <= y;)
EWC_BINARY(GELU_ERF_BIAS, return gelu_erf(x + y);)
EWC_BINARY(GELU_TANH_BIAS, return gelu_tanh(x + y);)
#undef EWC_BINARY
#undef EWC_BINARY_BOOL
#undef EWC_BINARY_OUT

// Output storage type of an op over T: bool (uint8_t) when the functor returns bool.
template <typename Op, typename T, int N> struct OutOf;
template <typename Op, typename T> struct OutOf<Op, T, 1> {
    typedef typename std::conditional<Op::kBoolOut, uint8_t, T>::type type;
};
template <typename Op, typename T> struct OutOf<Op, T, 2> {
    typedef typename std::conditional<Op::kBoolOut, uint8_t, T>::type type;
};

// ----------------------------------------------------------------------------
// packs and broadcast indexing

template <typename T, int VEC> struct alignas(sizeof(T) * VEC) Pack {
    T v[VEC];
};

template <typename T, int VEC> __device__ __forceinline__ void load_pack(T *dst, const T *src, bool vector) {
    if (vector) {
        Pack<T, VEC> pack = *reinterpret_cast<const Pack<T, VEC> *>(src);
#pragma unroll
        for (int v = 0; v < VEC; v++) dst[v] = pack.v[v];
    } else {
#pragma unroll
        for (int v = 0; v < VEC; v++) dst[v] = src[v];
    }
}
template <typename T, int VEC> __device__ __forceinline__ void store_pack(T *dst, const T *src, bool vector) {
    if (vector) {
        Pack<T, VEC> pack;
#pragma unroll
        for (int v = 0; v < VEC; v++) pack.v[v] = src[v];
        *reinterpret_cast<Pack<T, VEC> *>(dst) = pack;
    } else {
#pragma unroll
        for (int v = 0; v < VEC; v++) dst[v] = src[v];
    }
}
// Input k of a flat kernel: VEC elements at index i, or its one element repeated.
template <typename T, int VEC> __device__ __forceinline__ void load_operand(T *dst, const T *src, int64_t i,
                                                                           bool scalar, bool vector) {
    if (scalar) {
        T s = src[0];
#pragma unroll
        for (int v = 0; v < VEC; v++) dst[v] = s;
    } else {
        load_pack<T, VEC>(dst, src + i, vector);
    }
}

// 16 bytes of the widest of the types per pack.
template <typename A, typename B> constexpr int vec_of() {
    return 16 / (sizeof(A) > sizeof(B) ? sizeof(A) : sizeof(B));
}

// Unsigned 32-bit division by a constant d >= 1 as a multiply-high and a shift, exact for
// numerators below 2^31 (Granlund & Montgomery): q = (umulhi(n, m) + n) >> s.
struct FastDiv {
    uint32_t d, m, s;
    __device__ __forceinline__ uint32_t div(uint32_t n) const { return (__umulhi(n, m) + n) >> s; }
};
static FastDiv fast_div_make(uint32_t d) {
    FastDiv f;
    f.d = d;
    f.s = 0;
    while ((UINT64_C(1) << f.s) < d) f.s++;
    f.m = (uint32_t)(((UINT64_C(1) << 32) * ((UINT64_C(1) << f.s) - d)) / d + 1);
    return f;
}

template <int N> struct Bcast {
    int rank;
    int small; // numel < 2^31: 32-bit index arithmetic
    int64_t numel;
    FastDiv div[ONYX_CUDA_EW_MAX_RANK];
    int64_t dims[ONYX_CUDA_EW_MAX_RANK];
    int64_t strides[N][ONYX_CUDA_EW_MAX_RANK];

    // Element offsets of each input for output index i.
    __device__ __forceinline__ void offsets(int64_t i, int64_t *off) const {
#pragma unroll
        for (int k = 0; k < N; k++) off[k] = 0;
        if (small) {
            uint32_t idx = (uint32_t)i;
            for (int d = rank - 1; d > 0; d--) {
                uint32_t q = div[d].div(idx);
                uint32_t coord = idx - q * div[d].d;
#pragma unroll
                for (int k = 0; k < N; k++) off[k] += (int64_t)coord * strides[k][d];
                idx = q;
            }
#pragma unroll
            for (int k = 0; k < N; k++) off[k] += (int64_t)idx * strides[k][0];
        } else {
            int64_t idx = i;
            for (int d = rank - 1; d > 0; d--) {
                int64_t q = idx / dims[d];
                int64_t coord = idx - q * dims[d];
#pragma unroll
                for (int k = 0; k < N; k++) off[k] += coord * strides[k][d];
                idx = q;
            }
#pragma unroll
            for (int k = 0; k < N; k++) off[k] += idx * strides[k][0];
        }
    }
};

template <int N> static Bcast<N> bcast_make(const onyx_cuda_ew_shape *shape) {
    Bcast<N> b;
    memset(&b, 0, sizeof b);
    b.rank = shape->rank;
    b.numel = shape->numel;
    b.small = shape->numel < (INT64_C(1) << 31);
    for (int d = 0; d < shape->rank; d++) {
        b.dims[d] = shape->dims[d];
        if (b.small) b.div[d] = fast_div_make((uint32_t)shape->dims[d]);
        for (int k = 0; k < N; k++) b.strides[k][d] = shape->strides[k][d];
    }
    return b;
}

static int blocks_for(int64_t work) {
    int64_t blocks = (work + kThreads - 1) / kThreads;
    if (blocks < 1) blocks = 1;
    return (int)(blocks < kMaxBlocks ? blocks : kMaxBlocks);
}

static bool aligned16(const void *p) { return ((uintptr_t)p & 15) == 0; }

// ----------------------------------------------------------------------------
// CUDA kernels

// out, in are (n)
template <typename Op, typename T, typename TO, int VEC>
__global__ void __launch_bounds__(kThreads)
ew_unary_flat_kernel(TO *out, const T *in, int64_t n, bool vector, Params p) {
    typedef typename Elem<T>::C C;
    C lo = C(), hi = C();
    if constexpr (std::is_same<Op, UnaryOp_CLIP>::value) {
        lo = Elem<T>::to_c(p.lo ? *(const T *)p.lo : from_bits<T>(p.lo_bits));
        hi = Elem<T>::to_c(p.hi ? *(const T *)p.hi : from_bits<T>(p.hi_bits));
    }
    Op op;
    int64_t packs = n / VEC, stride = (int64_t)gridDim.x * blockDim.x;
    int64_t tid = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    for (int64_t pk = tid; pk < packs; pk += stride) {
        T x[VEC];
        TO y[VEC];
        load_pack<T, VEC>(x, in + pk * VEC, vector);
#pragma unroll
        for (int v = 0; v < VEC; v++) y[v] = Elem<TO>::from(op(Elem<T>::to_c(x[v]), p, lo, hi));
        store_pack<TO, VEC>(out + pk * VEC, y, vector);
    }
    int64_t tail = packs * VEC + tid;
    if (tail < n) out[tail] = Elem<TO>::from(op(Elem<T>::to_c(in[tail]), p, lo, hi));
}

// out is (n); a and b are (n) or a scalar
template <typename Op, typename T, typename TO, int VEC>
__global__ void __launch_bounds__(kThreads)
ew_binary_flat_kernel(TO *out, const T *a, const T *b, int64_t n, bool a_scalar, bool b_scalar,
                      bool vector, Params p) {
    Op op;
    int64_t packs = n / VEC, stride = (int64_t)gridDim.x * blockDim.x;
    int64_t tid = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    for (int64_t pk = tid; pk < packs; pk += stride) {
        T x[VEC], y[VEC];
        TO z[VEC];
        load_operand<T, VEC>(x, a, pk * VEC, a_scalar, vector);
        load_operand<T, VEC>(y, b, pk * VEC, b_scalar, vector);
#pragma unroll
        for (int v = 0; v < VEC; v++) z[v] = Elem<TO>::from(op(Elem<T>::to_c(x[v]), Elem<T>::to_c(y[v]), p));
        store_pack<TO, VEC>(out + pk * VEC, z, vector);
    }
    int64_t tail = packs * VEC + tid;
    if (tail < n)
        out[tail] = Elem<TO>::from(op(Elem<T>::to_c(a[a_scalar ? 0 : tail]), Elem<T>::to_c(b[b_scalar ? 0 : tail]), p));
}

// out is (rows, cols), cols a multiple of VEC, every pointer 16-byte aligned; a and b are each
// (rows, cols) or one row (cols) repeated for every row (a_row, b_row): a bias or a scale along
// the last axis. row_packs divides pack indices by cols / VEC.
template <typename Op, typename T, typename TO, int VEC>
__global__ void __launch_bounds__(kThreads)
ew_binary_rows_kernel(TO *out, const T *a, const T *b, uint32_t packs, FastDiv row_packs, bool a_row,
                      bool b_row, Params p) {
    Op op;
    uint32_t stride = gridDim.x * blockDim.x;
    for (uint32_t pk = blockIdx.x * blockDim.x + threadIdx.x; pk < packs; pk += stride) {
        uint32_t in_row = pk - row_packs.div(pk) * row_packs.d;
        T x[VEC], y[VEC];
        TO z[VEC];
        load_pack<T, VEC>(x, a + (int64_t)(a_row ? in_row : pk) * VEC, true);
        load_pack<T, VEC>(y, b + (int64_t)(b_row ? in_row : pk) * VEC, true);
#pragma unroll
        for (int v = 0; v < VEC; v++) z[v] = Elem<TO>::from(op(Elem<T>::to_c(x[v]), Elem<T>::to_c(y[v]), p));
        store_pack<TO, VEC>(out + (int64_t)pk * VEC, z, true);
    }
}

// out is shape.dims; a and b broadcast to it
template <typename Op, typename T, typename TO>
__global__ void __launch_bounds__(kThreads)
ew_binary_strided_kernel(TO *out, const T *a, const T *b, Bcast<2> shape, Params p) {
    Op op;
    int64_t stride = (int64_t)gridDim.x * blockDim.x;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < shape.numel; i += stride) {
        int64_t off[2];
        shape.offsets(i, off);
        out[i] = Elem<TO>::from(op(Elem<T>::to_c(a[off[0]]), Elem<T>::to_c(b[off[1]]), p));
    }
}

// Where: out, cond, x, y of (n) or scalars; T is any type of the element size
template <typename T, int VEC>
__global__ void __launch_bounds__(kThreads)
ew_where_flat_kernel(T *out, const uint8_t *cond, const T *x, const T *y, int64_t n, bool c_scalar,
                     bool x_scalar, bool y_scalar, bool vector) {
    int64_t packs = n / VEC, stride = (int64_t)gridDim.x * blockDim.x;
    int64_t tid = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    for (int64_t pk = tid; pk < packs; pk += stride) {
        uint8_t c[VEC];
        T a[VEC], b[VEC], z[VEC];
        load_operand<uint8_t, VEC>(c, cond, pk * VEC, c_scalar, vector);
        load_operand<T, VEC>(a, x, pk * VEC, x_scalar, vector);
        load_operand<T, VEC>(b, y, pk * VEC, y_scalar, vector);
#pragma unroll
        for (int v = 0; v < VEC; v++) z[v] = c[v] ? a[v] : b[v];
        store_pack<T, VEC>(out + pk * VEC, z, vector);
    }
    int64_t tail = packs * VEC + tid;
    if (tail < n) out[tail] = cond[c_scalar ? 0 : tail] ? x[x_scalar ? 0 : tail] : y[y_scalar ? 0 : tail];
}

template <typename T>
__global__ void __launch_bounds__(kThreads)
ew_where_strided_kernel(T *out, const uint8_t *cond, const T *x, const T *y, Bcast<3> shape) {
    int64_t stride = (int64_t)gridDim.x * blockDim.x;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < shape.numel; i += stride) {
        int64_t off[3];
        shape.offsets(i, off);
        out[i] = cond[off[0]] ? x[off[1]] : y[off[2]];
    }
}

// ---- values of any numeric dtype by code (Pow with mixed dtypes) ----

__device__ __forceinline__ int64_t f64_to_i64(double v) {
    if (v != v) return 0;
    if (v >= 9223372036854775807.0) return INT64_MAX;
    if (v <= -9223372036854775808.0) return INT64_MIN;
    return (int64_t)v;
}
__device__ __forceinline__ uint64_t f64_to_u64(double v) {
    if (v != v) return 0;
    if (v < 0) return (uint64_t)f64_to_i64(v); /* wraps like numpy on x86 */
    if (v >= 18446744073709551615.0) return UINT64_MAX;
    return (uint64_t)v;
}

// A float element as double (float codes only).
__device__ double load_float_f64(const void *data, int64_t i, int dtype) {
    switch (dtype) {
    case ONYX_CUDA_EW_FLOAT32: return ((const float *)data)[i];
    case ONYX_CUDA_EW_FLOAT64: return ((const double *)data)[i];
    case ONYX_CUDA_EW_FLOAT16: return __half2float(((const __half *)data)[i]);
    default: return __bfloat162float(((const __nv_bfloat16 *)data)[i]);
    }
}
// Any element as int64 (floats truncate, saturating; uint64 wraps), as the CPU's ew_load_i64.
__device__ int64_t load_i64(const void *data, int64_t i, int dtype) {
    switch (dtype) {
    case ONYX_CUDA_EW_INT8: return ((const int8_t *)data)[i];
    case ONYX_CUDA_EW_INT16: return ((const int16_t *)data)[i];
    case ONYX_CUDA_EW_INT32: return ((const int32_t *)data)[i];
    case ONYX_CUDA_EW_INT64: return ((const int64_t *)data)[i];
    case ONYX_CUDA_EW_UINT8: return ((const uint8_t *)data)[i];
    case ONYX_CUDA_EW_BOOL: return ((const uint8_t *)data)[i] != 0;
    case ONYX_CUDA_EW_UINT16: return ((const uint16_t *)data)[i];
    case ONYX_CUDA_EW_UINT32: return ((const uint32_t *)data)[i];
    case ONYX_CUDA_EW_UINT64: return (int64_t)((const uint64_t *)data)[i];
    default: return f64_to_i64(load_float_f64(data, i, dtype));
    }
}
// Any element as double, as the CPU's ew_load_f64.
__device__ double load_f64(const void *data, int64_t i, int dtype) {
    switch (dtype) {
    case ONYX_CUDA_EW_FLOAT32: case ONYX_CUDA_EW_FLOAT64: case ONYX_CUDA_EW_FLOAT16: case ONYX_CUDA_EW_BFLOAT16:
        return load_float_f64(data, i, dtype);
    case ONYX_CUDA_EW_UINT64: return (double)((const uint64_t *)data)[i];
    default: return (double)load_i64(data, i, dtype);
    }
}
__device__ void store_i64(void *data, int64_t i, int dtype, int64_t v) {
    switch (dtype) {
    case ONYX_CUDA_EW_INT32: ((int32_t *)data)[i] = (int32_t)v; break;
    case ONYX_CUDA_EW_INT64: ((int64_t *)data)[i] = v; break;
    case ONYX_CUDA_EW_FLOAT32: ((float *)data)[i] = (float)(double)v; break;
    case ONYX_CUDA_EW_FLOAT64: ((double *)data)[i] = (double)v; break;
    case ONYX_CUDA_EW_FLOAT16: ((__half *)data)[i] = __float2half_rn((float)(double)v); break;
    case ONYX_CUDA_EW_BFLOAT16: ((__nv_bfloat16 *)data)[i] = __float2bfloat16_rn((float)(double)v); break;
    default: break;
    }
}
// The bases Pow takes: floats, int32, int64 (an integer base stores through int64).
__device__ void store_f64(void *data, int64_t i, int dtype, double v) {
    switch (dtype) {
    case ONYX_CUDA_EW_FLOAT32: ((float *)data)[i] = (float)v; break;
    case ONYX_CUDA_EW_FLOAT64: ((double *)data)[i] = v; break;
    case ONYX_CUDA_EW_FLOAT16: ((__half *)data)[i] = __float2half_rn((float)v); break;
    case ONYX_CUDA_EW_BFLOAT16: ((__nv_bfloat16 *)data)[i] = __float2bfloat16_rn((float)v); break;
    default: store_i64(data, i, dtype, f64_to_i64(v)); break;
    }
}
__host__ __device__ constexpr bool code_is_float(int dtype) {
    return dtype == ONYX_CUDA_EW_FLOAT32 || dtype == ONYX_CUDA_EW_FLOAT64 || dtype == ONYX_CUDA_EW_FLOAT16 ||
           dtype == ONYX_CUDA_EW_BFLOAT16;
}

// Pow(base, exponent) of different dtypes: integer pairs use exact integer powers, anything
// else computes in double and stores into the base's dtype (the CPU's k_pow_mixed).
__global__ void __launch_bounds__(kThreads)
ew_pow_mixed_kernel(void *out, const void *base, const void *exponent, int base_dtype, int exp_dtype,
                    Bcast<2> shape) {
    bool exact = !code_is_float(base_dtype) && !code_is_float(exp_dtype);
    int64_t stride = (int64_t)gridDim.x * blockDim.x;
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < shape.numel; i += stride) {
        int64_t off[2];
        shape.offsets(i, off);
        if (exact) {
            store_i64(out, i, base_dtype, int_pow(load_i64(base, off[0], base_dtype), load_i64(exponent, off[1], exp_dtype)));
        } else {
            double x = load_f64(base, off[0], base_dtype), e = load_f64(exponent, off[1], exp_dtype);
            store_f64(out, i, base_dtype, e == 2 ? x * x : pow(x, e));
        }
    }
}

// ---- Cast ----

// Storage type and kind of each dtype code; the kind picks the wide intermediate a value
// travels through (double for floats, int64 for signed, uint64 for unsigned and bool).
enum Kind { K_REAL, K_HALF, K_BF16, K_SINT, K_UINT, K_BOOL };
template <int CODE> struct Dt;
template <> struct Dt<ONYX_CUDA_EW_FLOAT32> { typedef float T; static constexpr Kind kind = K_REAL; };
template <> struct Dt<ONYX_CUDA_EW_FLOAT64> { typedef double T; static constexpr Kind kind = K_REAL; };
template <> struct Dt<ONYX_CUDA_EW_FLOAT16> { typedef __half T; static constexpr Kind kind = K_HALF; };
template <> struct Dt<ONYX_CUDA_EW_BFLOAT16> { typedef __nv_bfloat16 T; static constexpr Kind kind = K_BF16; };
template <> struct Dt<ONYX_CUDA_EW_INT8> { typedef int8_t T; static constexpr Kind kind = K_SINT; };
template <> struct Dt<ONYX_CUDA_EW_INT16> { typedef int16_t T; static constexpr Kind kind = K_SINT; };
template <> struct Dt<ONYX_CUDA_EW_INT32> { typedef int32_t T; static constexpr Kind kind = K_SINT; };
template <> struct Dt<ONYX_CUDA_EW_INT64> { typedef int64_t T; static constexpr Kind kind = K_SINT; };
template <> struct Dt<ONYX_CUDA_EW_UINT8> { typedef uint8_t T; static constexpr Kind kind = K_UINT; };
template <> struct Dt<ONYX_CUDA_EW_UINT16> { typedef uint16_t T; static constexpr Kind kind = K_UINT; };
template <> struct Dt<ONYX_CUDA_EW_UINT32> { typedef uint32_t T; static constexpr Kind kind = K_UINT; };
template <> struct Dt<ONYX_CUDA_EW_UINT64> { typedef uint64_t T; static constexpr Kind kind = K_UINT; };
template <> struct Dt<ONYX_CUDA_EW_BOOL> { typedef uint8_t T; static constexpr Kind kind = K_BOOL; };

// double -> float rounding to odd (truncate, then set the last bit when anything was cut), so
// the second rounding to float16/bfloat16 lands where a direct rounding would.
__device__ __forceinline__ float f64_to_f32_odd(double v) {
    float f = __double2float_rn(v);
    if ((double)f == v || f != f || isinf(f)) return f;
    return __uint_as_float(__float_as_uint(__double2float_rz(v)) | 1u);
}

template <int FROM, int TO>
__device__ __forceinline__ typename Dt<TO>::T cast_value(typename Dt<FROM>::T x) {
    typedef typename Dt<TO>::T TO_T;
    constexpr Kind from = Dt<FROM>::kind, to = Dt<TO>::kind;
    // float32 source to float16/bfloat16 rounds once (the double detour is exact)
    if constexpr (FROM == ONYX_CUDA_EW_FLOAT32 && to == K_HALF) return __float2half_rn(x);
    else if constexpr (FROM == ONYX_CUDA_EW_FLOAT32 && to == K_BF16) return __float2bfloat16_rn(x);
    else if constexpr ((from == K_HALF || from == K_BF16) && TO == ONYX_CUDA_EW_FLOAT32) return Elem<typename Dt<FROM>::T>::to_c(x);
    else {
        // the wide intermediate
        auto wide = [&]() {
            if constexpr (from == K_REAL) return (double)x;
            else if constexpr (from == K_HALF) return (double)__half2float(x);
            else if constexpr (from == K_BF16) return (double)__bfloat162float(x);
            else if constexpr (from == K_SINT) return (int64_t)x;
            else if constexpr (from == K_UINT) return (uint64_t)x;
            else return (uint64_t)(x != 0);
        }();
        typedef decltype(wide) W;
        constexpr bool wide_is_double = std::is_same<W, double>::value;
        if constexpr (to == K_REAL) return (TO_T)wide;
        else if constexpr (to == K_HALF) return __float2half_rn(f64_to_f32_odd((double)wide));
        else if constexpr (to == K_BF16) return __float2bfloat16_rn(f64_to_f32_odd((double)wide));
        else if constexpr (to == K_BOOL) return (TO_T)(wide != 0);
        else if constexpr (to == K_SINT && wide_is_double) return (TO_T)f64_to_i64(wide);
        else if constexpr (to == K_UINT && wide_is_double) return (TO_T)f64_to_u64(wide);
        else return (TO_T)wide;
    }
}

// out, in are (n)
template <int FROM, int TO, int VEC>
__global__ void __launch_bounds__(kThreads)
ew_cast_kernel(typename Dt<TO>::T *out, const typename Dt<FROM>::T *in, int64_t n, bool vector) {
    typedef typename Dt<FROM>::T TI;
    typedef typename Dt<TO>::T TO_T;
    int64_t packs = n / VEC, stride = (int64_t)gridDim.x * blockDim.x;
    int64_t tid = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    for (int64_t pk = tid; pk < packs; pk += stride) {
        TI x[VEC];
        TO_T y[VEC];
        load_pack<TI, VEC>(x, in + pk * VEC, vector);
#pragma unroll
        for (int v = 0; v < VEC; v++) y[v] = cast_value<FROM, TO>(x[v]);
        store_pack<TO_T, VEC>(out + pk * VEC, y, vector);
    }
    int64_t tail = packs * VEC + tid;
    if (tail < n) out[tail] = cast_value<FROM, TO>(in[tail]);
}

// ----------------------------------------------------------------------------
// kernel launchers

template <typename Op, typename T>
cudaError_t launch_unary(void *out, const void *in, int64_t n, const Params &p, cudaStream_t stream) {
    typedef typename OutOf<Op, T, 1>::type TO;
    constexpr int VEC = vec_of<T, TO>();
    bool vector = aligned16(out) && aligned16(in);
    ew_unary_flat_kernel<Op, T, TO, VEC><<<blocks_for(n / VEC + 1), kThreads, 0, stream>>>(
        (TO *)out, (const T *)in, n, vector, p);
    return cudaGetLastError();
}

// Does a rank-2 broadcast fit ew_binary_rows_kernel? Each input is the whole (rows, cols) or one
// row of it repeated, rows of whole packs, 16-byte aligned, pack indices within FastDiv's range.
template <typename T, typename TO>
static bool rows_broadcast(const void *out, const void *a, const void *b, const onyx_cuda_ew_shape *shape) {
    constexpr int VEC = vec_of<T, TO>();
    if (shape->rank != 2) return false;
    int64_t cols = shape->dims[1];
    if (cols % VEC != 0 || shape->numel / VEC >= (INT64_C(1) << 31)) return false;
    for (int k = 0; k < 2; k++)
        if (shape->strides[k][1] != 1 || (shape->strides[k][0] != 0 && shape->strides[k][0] != cols)) return false;
    return aligned16(out) && aligned16(a) && aligned16(b);
}

template <typename Op, typename T>
cudaError_t launch_binary(void *out, const void *a, const void *b, const onyx_cuda_ew_shape *shape,
                          const Params &p, cudaStream_t stream) {
    typedef typename OutOf<Op, T, 2>::type TO;
    int64_t n = shape->numel;
    if (shape->rank == 1) { /* each input is the output's shape or a scalar */
        constexpr int VEC = vec_of<T, TO>();
        bool a_scalar = shape->strides[0][0] == 0, b_scalar = shape->strides[1][0] == 0;
        bool vector = aligned16(out) && (a_scalar || aligned16(a)) && (b_scalar || aligned16(b));
        ew_binary_flat_kernel<Op, T, TO, VEC><<<blocks_for(n / VEC + 1), kThreads, 0, stream>>>(
            (TO *)out, (const T *)a, (const T *)b, n, a_scalar, b_scalar, vector, p);
    } else if (rows_broadcast<T, TO>(out, a, b, shape)) {
        constexpr int VEC = vec_of<T, TO>();
        int64_t cols = shape->dims[1];
        uint32_t packs = (uint32_t)(n / VEC);
        ew_binary_rows_kernel<Op, T, TO, VEC><<<blocks_for(packs), kThreads, 0, stream>>>(
            (TO *)out, (const T *)a, (const T *)b, packs, fast_div_make((uint32_t)(cols / VEC)),
            shape->strides[0][0] == 0, shape->strides[1][0] == 0, p);
    } else {
        ew_binary_strided_kernel<Op, T, TO><<<blocks_for(n), kThreads, 0, stream>>>(
            (TO *)out, (const T *)a, (const T *)b, bcast_make<2>(shape), p);
    }
    return cudaGetLastError();
}

// The storage type of each dtype code an op may take: X(code, T).
#define EWC_DTYPES(X)                                                                             \
    X(ONYX_CUDA_EW_FLOAT32, float) X(ONYX_CUDA_EW_FLOAT16, __half)                                \
    X(ONYX_CUDA_EW_BFLOAT16, __nv_bfloat16) X(ONYX_CUDA_EW_FLOAT64, double)                       \
    X(ONYX_CUDA_EW_INT8, int8_t) X(ONYX_CUDA_EW_INT16, int16_t) X(ONYX_CUDA_EW_INT32, int32_t)    \
    X(ONYX_CUDA_EW_INT64, int64_t) X(ONYX_CUDA_EW_UINT8, uint8_t) X(ONYX_CUDA_EW_UINT16, uint16_t) \
    X(ONYX_CUDA_EW_UINT32, uint32_t) X(ONYX_CUDA_EW_UINT64, uint64_t) X(ONYX_CUDA_EW_BOOL, uint8_t)

// Op over dtype: a kernel is instantiated only for the dtypes of the op's MASK.
template <typename Op, uint64_t MASK>
cudaError_t dispatch_unary(int dtype, void *out, const void *in, int64_t n, const Params &p,
                           cudaStream_t stream) {
    switch (dtype) {
#define EWC_UNARY_DTYPE(code, T)                                                                  \
    case code:                                                                                    \
        if constexpr ((MASK >> (code)) & 1) return launch_unary<Op, T>(out, in, n, p, stream);    \
        else break;
        EWC_DTYPES(EWC_UNARY_DTYPE)
#undef EWC_UNARY_DTYPE
    default: break;
    }
    return cudaErrorNotSupported;
}

template <typename Op, uint64_t MASK>
cudaError_t dispatch_binary(int dtype, void *out, const void *a, const void *b,
                            const onyx_cuda_ew_shape *shape, const Params &p, cudaStream_t stream) {
    switch (dtype) {
#define EWC_BINARY_DTYPE(code, T)                                                                 \
    case code:                                                                                    \
        if constexpr ((MASK >> (code)) & 1) return launch_binary<Op, T>(out, a, b, shape, p, stream); \
        else break;
        EWC_DTYPES(EWC_BINARY_DTYPE)
#undef EWC_BINARY_DTYPE
    default: break;
    }
    return cudaErrorNotSupported;
}

template <int FROM, int TO>
cudaError_t launch_cast(void *out, const void *in, int64_t n, cudaStream_t stream) {
    if constexpr (FROM == TO) {
        return cudaErrorNotSupported; /* same dtype: a copy, done by the caller */
    } else {
        typedef typename Dt<FROM>::T TI;
        typedef typename Dt<TO>::T TO_T;
        constexpr int VEC = vec_of<TI, TO_T>();
        bool vector = aligned16(out) && aligned16(in);
        ew_cast_kernel<FROM, TO, VEC><<<blocks_for(n / VEC + 1), kThreads, 0, stream>>>(
            (TO_T *)out, (const TI *)in, n, vector);
        return cudaGetLastError();
    }
}

#define EWC_CAST_CODES(X, ...)                                                                    \
    X(__VA_ARGS__, ONYX_CUDA_EW_FLOAT32) X(__VA_ARGS__, ONYX_CUDA_EW_FLOAT16)                     \
    X(__VA_ARGS__, ONYX_CUDA_EW_BFLOAT16) X(__VA_ARGS__, ONYX_CUDA_EW_FLOAT64)                    \
    X(__VA_ARGS__, ONYX_CUDA_EW_INT8) X(__VA_ARGS__, ONYX_CUDA_EW_INT16)                          \
    X(__VA_ARGS__, ONYX_CUDA_EW_INT32) X(__VA_ARGS__, ONYX_CUDA_EW_INT64)                         \
    X(__VA_ARGS__, ONYX_CUDA_EW_UINT8) X(__VA_ARGS__, ONYX_CUDA_EW_UINT16)                        \
    X(__VA_ARGS__, ONYX_CUDA_EW_UINT32) X(__VA_ARGS__, ONYX_CUDA_EW_UINT64)                       \
    X(__VA_ARGS__, ONYX_CUDA_EW_BOOL)

template <int FROM>
cudaError_t dispatch_cast_to(int to, void *out, const void *in, int64_t n, cudaStream_t stream) {
    switch (to) {
#define EWC_CAST_TO_CASE(unused, code)                                                            \
    case code: return launch_cast<FROM, code>(out, in, n, stream);
        EWC_CAST_CODES(EWC_CAST_TO_CASE, _)
#undef EWC_CAST_TO_CASE
    default: return cudaErrorNotSupported;
    }
}

template <typename T>
cudaError_t launch_where(void *out, const uint8_t *cond, const void *x, const void *y,
                         const onyx_cuda_ew_shape *shape, cudaStream_t stream) {
    int64_t n = shape->numel;
    if (shape->rank == 1) {
        constexpr int VEC = 16 / sizeof(T);
        bool c_scalar = shape->strides[0][0] == 0, x_scalar = shape->strides[1][0] == 0,
             y_scalar = shape->strides[2][0] == 0;
        bool vector = aligned16(out) && (c_scalar || aligned16(cond)) && (x_scalar || aligned16(x)) &&
                      (y_scalar || aligned16(y));
        ew_where_flat_kernel<T, VEC><<<blocks_for(n / VEC + 1), kThreads, 0, stream>>>(
            (T *)out, cond, (const T *)x, (const T *)y, n, c_scalar, x_scalar, y_scalar, vector);
    } else {
        ew_where_strided_kernel<T><<<blocks_for(n), kThreads, 0, stream>>>(
            (T *)out, cond, (const T *)x, (const T *)y, bcast_make<3>(shape));
    }
    return cudaGetLastError();
}

} // namespace

extern "C" cudaError_t onyx_cuda_ew_unary(int op, int dtype, void *out, const void *in, int64_t n,
                                          const onyx_cuda_ew_params *params, cudaStream_t stream) {
    if (n <= 0) return cudaSuccess;
    switch (op) {
#define EWC_UNARY_CASE(name)                                                                      \
    case ONYX_CUDA_EW_##name:                                                                     \
        return dispatch_unary<UnaryOp_##name, ONYX_CUDA_EW_DT_##name>(dtype, out, in, n, *params, stream);
        ONYX_CUDA_EW_UNARY_OPS(EWC_UNARY_CASE)
#undef EWC_UNARY_CASE
    default: return cudaErrorNotSupported;
    }
}

extern "C" cudaError_t onyx_cuda_ew_binary(int op, int dtype, void *out, const void *a, const void *b,
                                           const onyx_cuda_ew_shape *shape,
                                           const onyx_cuda_ew_params *params, cudaStream_t stream) {
    if (shape->numel <= 0) return cudaSuccess;
    if (shape->rank < 1 || shape->rank > ONYX_CUDA_EW_MAX_RANK) return cudaErrorInvalidValue;
    switch (op) {
#define EWC_BINARY_CASE(name)                                                                     \
    case ONYX_CUDA_EW_##name:                                                                     \
        return dispatch_binary<BinaryOp_##name, ONYX_CUDA_EW_DT_##name>(dtype, out, a, b, shape, *params, stream);
        ONYX_CUDA_EW_BINARY_OPS(EWC_BINARY_CASE)
#undef EWC_BINARY_CASE
    default: return cudaErrorNotSupported;
    }
}

extern "C" cudaError_t onyx_cuda_ew_pow_mixed(int base_dtype, int exponent_dtype, void *out,
                                              const void *base, const void *exponent,
                                              const onyx_cuda_ew_shape *shape, cudaStream_t stream) {
    if (shape->numel <= 0) return cudaSuccess;
    if (shape->rank < 1 || shape->rank > ONYX_CUDA_EW_MAX_RANK) return cudaErrorInvalidValue;
    if (!((ONYX_CUDA_EW_DT_POW >> base_dtype) & 1) || !((ONYX_CUDA_EW_ALL >> exponent_dtype) & 1) ||
        exponent_dtype == ONYX_CUDA_EW_BOOL)
        return cudaErrorNotSupported;
    ew_pow_mixed_kernel<<<blocks_for(shape->numel), kThreads, 0, stream>>>(
        out, base, exponent, base_dtype, exponent_dtype, bcast_make<2>(shape));
    return cudaGetLastError();
}

extern "C" cudaError_t onyx_cuda_ew_where(size_t elem_size, void *out, const uint8_t *cond, const void *x,
                                          const void *y, const onyx_cuda_ew_shape *shape,
                                          cudaStream_t stream) {
    if (shape->numel <= 0) return cudaSuccess;
    if (shape->rank < 1 || shape->rank > ONYX_CUDA_EW_MAX_RANK) return cudaErrorInvalidValue;
    switch (elem_size) {
    case 1: return launch_where<uint8_t>(out, cond, x, y, shape, stream);
    case 2: return launch_where<uint16_t>(out, cond, x, y, shape, stream);
    case 4: return launch_where<uint32_t>(out, cond, x, y, shape, stream);
    case 8: return launch_where<uint64_t>(out, cond, x, y, shape, stream);
    default: return cudaErrorNotSupported;
    }
}

extern "C" cudaError_t onyx_cuda_ew_cast(int from, int to, void *out, const void *in, int64_t n,
                                         cudaStream_t stream) {
    if (n <= 0) return cudaSuccess;
    switch (from) {
#define EWC_CAST_FROM_CASE(unused, code)                                                          \
    case code: return dispatch_cast_to<code>(to, out, in, n, stream);
        EWC_CAST_CODES(EWC_CAST_FROM_CASE, _)
#undef EWC_CAST_FROM_CASE
    default: return cudaErrorNotSupported;
    }
}

// ----------------------------------------------------------------------------
// ClampInf (onyx): T5's float16 overflow guard in one or two launches instead of nine.

template <typename T> __device__ __forceinline__ int any_inf_in(const T *in, int64_t n, int64_t first, int64_t step) {
    int any = 0;
    for (int64_t i = first; i < n && !any; i += step) any = isinf(Elem<T>::to_c(in[i]));
    return any;
}

template <typename T>
__device__ __forceinline__ void clamp_range(T *out, const T *in, int64_t n, int64_t first, int64_t step, int any,
                                            float bound, float inf_bound) {
    typedef typename Elem<T>::C C;
    const T hi_t = Elem<T>::from(any ? inf_bound : bound);
    const C hi = Elem<T>::to_c(hi_t), lo = -hi;
    const T lo_t = Elem<T>::from(lo);
    for (int64_t i = first; i < n; i += step) {
        C v = Elem<T>::to_c(in[i]);
        out[i] = v < lo ? lo_t : v > hi ? hi_t : in[i];
    }
}

template <typename T> __global__ void clamp_inf_block_kernel(T *out, const T *in, int64_t n, float bound, float inf_bound) {
    int any = __syncthreads_or(any_inf_in(in, n, threadIdx.x, blockDim.x));
    clamp_range(out, in, n, threadIdx.x, blockDim.x, any, bound, inf_bound);
}

template <typename T> __global__ void clamp_inf_flags_kernel(int *flags, const T *in, int64_t n) {
    int64_t step = (int64_t)gridDim.x * blockDim.x;
    int any = __syncthreads_or(any_inf_in(in, n, (int64_t)blockIdx.x * blockDim.x + threadIdx.x, step));
    if (threadIdx.x == 0) flags[blockIdx.x] = any;
}

template <typename T>
__global__ void clamp_inf_apply_kernel(T *out, const T *in, int64_t n, const int *flags, int n_flags, float bound,
                                       float inf_bound) {
    int any = 0;
    for (int i = threadIdx.x; i < n_flags; i += blockDim.x) any |= flags[i];
    any = __syncthreads_or(any);
    int64_t step = (int64_t)gridDim.x * blockDim.x;
    clamp_range(out, in, n, (int64_t)blockIdx.x * blockDim.x + threadIdx.x, step, any, bound, inf_bound);
}

template <typename T>
static cudaError_t clamp_inf_typed(T *out, const T *in, int64_t n, float bound, float inf_bound, int *flags,
                                   cudaStream_t stream) {
    if (n <= ONYX_CUDA_CLAMP_INF_ONE_BLOCK) {
        clamp_inf_block_kernel<T><<<1, 1024, 0, stream>>>(out, in, n, bound, inf_bound);
        return cudaGetLastError();
    }
    if (!flags) return cudaErrorInvalidValue;
    int blocks = (int)std::min<int64_t>((n + kThreads - 1) / kThreads, ONYX_CUDA_CLAMP_INF_MAX_BLOCKS);
    clamp_inf_flags_kernel<T><<<blocks, kThreads, 0, stream>>>(flags, in, n);
    clamp_inf_apply_kernel<T><<<blocks, kThreads, 0, stream>>>(out, in, n, flags, blocks, bound, inf_bound);
    return cudaGetLastError();
}

extern "C" cudaError_t onyx_cuda_clamp_inf(int dtype, void *out, const void *in, int64_t n, float bound,
                                           float inf_bound, int *flags, cudaStream_t stream) {
    if (n <= 0) return cudaSuccess;
    switch (dtype) {
    case ONYX_CUDA_EW_FLOAT32: return clamp_inf_typed((float *)out, (const float *)in, n, bound, inf_bound, flags, stream);
    case ONYX_CUDA_EW_FLOAT64: return clamp_inf_typed((double *)out, (const double *)in, n, bound, inf_bound, flags, stream);
    case ONYX_CUDA_EW_FLOAT16: return clamp_inf_typed((__half *)out, (const __half *)in, n, bound, inf_bound, flags, stream);
    case ONYX_CUDA_EW_BFLOAT16:
        return clamp_inf_typed((__nv_bfloat16 *)out, (const __nv_bfloat16 *)in, n, bound, inf_bound, flags, stream);
    default: return cudaErrorNotSupported;
    }
}
