/*
 * math.cu - CUDA kernels of the math family: Reduce* (and GlobalAverage/MaxPool through them),
 * ArgMax/ArgMin, CumSum, TopK, Softmax/LogSoftmax, Hardmax, Layer-, Instance- and
 * BatchNormalization, MeanVarianceNormalization, QuantizeLinear, DequantizeLinear and DynamicQuantizeLinear. The
 * launchers (math_launch.h) pick a kernel per shape; math.c calls them.
 *
 * Legend: outer, n, inner = the (outer, n, inner) view of a tensor around an axis (rows of n
 * elements spaced inner apart); rows, cols = the contiguous case inner == 1.
 *
 * Numerics follow the CPU kernels (src/providers/cpu/reduce.c, normalize.c, quantize.c):
 * float16/bfloat16 load as float32 and round once at the end; float32 computes in float32 (the
 * CPU reductions use double sums, which agree to ~1e-6 relative on well-conditioned data);
 * float64 in double. Integer reductions that the CPU does in double (means, norms, logs) use
 * double here too; sums, products and extremes of integers are exact in int64.
 *
 * Shapes that recur in transformers get a fast path: Softmax over the last axis of (B,H,T,T)
 * keeps each row in a warp's registers (T <= 1024) or in shared memory, LayerNormalization over
 * (B*T, C) keeps a row in one block's registers (C <= 16384); reductions over trailing axes run
 * one warp or block per row and split very long rows over several blocks.
 */
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <math_constants.h>
#include <stdint.h>

#include "providers/cuda/math_launch.h"

#define MATH_MAX_RANK ONYX_CUDA_MATH_MAX_RANK

/* Everything but the launchers is file-local: the other families' .cu files have their own
 * helpers and kernels, and template instantiations of the same name would be merged at link
 * time. */
namespace {

// ----------------------------------------------------------------------------
// CUDA kernels: shared helpers

template <bool B, typename X, typename Y> struct pick_type { typedef X type; };
template <typename X, typename Y> struct pick_type<false, X, Y> { typedef Y type; };

template <typename T> struct is_float_type { enum { value = 0 }; };
template <> struct is_float_type<float> { enum { value = 1 }; };
template <> struct is_float_type<double> { enum { value = 1 }; };
template <> struct is_float_type<__half> { enum { value = 1 }; };
template <> struct is_float_type<__nv_bfloat16> { enum { value = 1 }; };

/* The type float16/bfloat16/float32 compute in: float; float64 and integers keep their own. */
template <typename T> struct wide_type { typedef T type; };
template <> struct wide_type<__half> { typedef float type; };
template <> struct wide_type<__nv_bfloat16> { typedef float type; };

template <typename A, typename T> __device__ __forceinline__ A to_acc(T v) { return (A)v; }
template <> __device__ __forceinline__ float to_acc<float, __half>(__half v) { return __half2float(v); }
template <> __device__ __forceinline__ float to_acc<float, __nv_bfloat16>(__nv_bfloat16 v) {
    return __bfloat162float(v);
}
template <> __device__ __forceinline__ double to_acc<double, __half>(__half v) { return __half2float(v); }
template <> __device__ __forceinline__ double to_acc<double, __nv_bfloat16>(__nv_bfloat16 v) {
    return __bfloat162float(v);
}

/* Store a float or integer result as T. Doubles become integers as the CPU's math_store does:
 * truncated toward zero, NaN and out-of-range values become 0, unsigned types clamp at 0. */
template <typename T> __device__ __forceinline__ T from_float(float v) { return (T)v; }
template <> __device__ __forceinline__ __half from_float<__half>(float v) { return __float2half_rn(v); }
template <> __device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float v) {
    return __float2bfloat16_rn(v);
}
template <typename T> __device__ __forceinline__ T from_double(double v) {
    if (is_float_type<T>::value) return from_float<T>((float)v);
    if (!(v > -9.3e18 && v < 1.8e19)) v = 0.0;
    if ((T)-1 > (T)0) return (T)(unsigned long long)(v < 0 ? 0.0 : v); /* unsigned */
    return (T)(long long)v;
}
template <> __device__ __forceinline__ double from_double<double>(double v) { return v; }
template <> __device__ __forceinline__ float from_double<float>(double v) { return (float)v; }
template <> __device__ __forceinline__ __half from_double<__half>(double v) { return __float2half_rn((float)v); }
template <> __device__ __forceinline__ __nv_bfloat16 from_double<__nv_bfloat16>(double v) {
    return __float2bfloat16_rn((float)v);
}
template <typename T, typename A> struct store_as {
    static __device__ __forceinline__ T go(A v) { return (T)v; }
};
template <typename T> struct store_as<T, float> {
    static __device__ __forceinline__ T go(float v) { return from_float<T>(v); }
};
template <typename T> struct store_as<T, double> {
    static __device__ __forceinline__ T go(double v) { return from_double<T>(v); }
};

__device__ __forceinline__ bool is_nan(float v) { return isnan(v); }
__device__ __forceinline__ bool is_nan(double v) { return isnan(v); }
__device__ __forceinline__ bool is_nan(long long) { return false; }
__device__ __forceinline__ float abs_of(float v) { return fabsf(v); }
__device__ __forceinline__ double abs_of(double v) { return fabs(v); }
__device__ __forceinline__ long long abs_of(long long v) { return v < 0 ? -v : v; }
__device__ __forceinline__ float exp_of(float v) { return expf(v); }
__device__ __forceinline__ double exp_of(double v) { return exp(v); }
__device__ __forceinline__ float log_of(float v) { return logf(v); }
__device__ __forceinline__ double log_of(double v) { return log(v); }
__device__ __forceinline__ float sqrt_of(float v) { return sqrtf(v); }
__device__ __forceinline__ double sqrt_of(double v) { return sqrt(v); }
/* Integer accumulators never take exp, log or sqrt (those kinds accumulate in double); these
 * overloads only let the unused branches of reducer<> compile. */
__device__ __forceinline__ long long exp_of(long long v) { return v; }
__device__ __forceinline__ long long log_of(long long v) { return v; }
__device__ __forceinline__ long long sqrt_of(long long v) { return v; }

template <typename A> __device__ __forceinline__ A infinity_of() { return (A)CUDART_INF; }
template <> __device__ __forceinline__ float infinity_of<float>() { return CUDART_INF_F; }
template <> __device__ __forceinline__ long long infinity_of<long long>() { return INT64_MAX; }

/* The extremes of T as the identity of Max/Min over nothing (the CPU's reduce_extreme). */
template <typename T, typename A> struct limits_of {
    static __device__ __forceinline__ A lowest() { return -infinity_of<A>(); }
    static __device__ __forceinline__ A highest() { return infinity_of<A>(); }
};
#define MATH_INT_LIMITS(T, LO, HI)                                                                \
    template <typename A> struct limits_of<T, A> {                                                \
        static __device__ __forceinline__ A lowest() { return (A)(LO); }                          \
        static __device__ __forceinline__ A highest() { return (A)(HI); }                         \
    };
MATH_INT_LIMITS(int8_t, -128, 127)
MATH_INT_LIMITS(uint8_t, 0, 255)
MATH_INT_LIMITS(int32_t, INT32_MIN, INT32_MAX)
MATH_INT_LIMITS(int64_t, INT64_MIN, INT64_MAX)

template <typename V> __device__ __forceinline__ V shfl_xor(V v, int mask) {
    return __shfl_xor_sync(0xffffffffu, v, mask);
}

template <typename A> __device__ __forceinline__ A warp_sum(A v) {
    for (int m = 16; m > 0; m >>= 1) v += shfl_xor(v, m);
    return v;
}
template <typename A> __device__ __forceinline__ A warp_max(A v) {
    for (int m = 16; m > 0; m >>= 1) v = fmax(v, shfl_xor(v, m));
    return v;
}
__device__ __forceinline__ float warp_max(float v) {
    for (int m = 16; m > 0; m >>= 1) v = fmaxf(v, shfl_xor(v, m));
    return v;
}

/* Sum over the block (every thread gets it). scratch holds 32 values; blockDim.x % 32 == 0. */
template <typename A> __device__ __forceinline__ A block_sum(A v, A *scratch) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    v = warp_sum(v);
    __syncthreads(); /* scratch may still be read from a previous call */
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    v = lane < warps ? scratch[lane] : (A)0;
    return warp_sum(v);
}
template <typename A> __device__ __forceinline__ A block_max(A v, A *scratch) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    v = warp_max(v);
    __syncthreads();
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    v = lane < warps ? scratch[lane] : -infinity_of<A>();
    return warp_max(v);
}

// ----------------------------------------------------------------------------
// CUDA kernels: Reduce*

/* What a reduction keeps while it runs: a, and for LogSumExp the running max in a and the sum
 * of exp(x - a) in b. */
template <typename A> struct reduce_state {
    A a, b;
};

template <typename A> __device__ __forceinline__ reduce_state<A> shfl_state(reduce_state<A> s, int mask) {
    reduce_state<A> r;
    r.a = shfl_xor(s.a, mask);
    r.b = shfl_xor(s.b, mask);
    return r;
}

template <int KIND, typename T, typename A> struct reducer {
    typedef reduce_state<A> state;
    static __device__ __forceinline__ state init() {
        state s;
        s.b = (A)0;
        switch (KIND) {
        case ONYX_CUDA_REDUCE_PROD: s.a = (A)1; break;
        case ONYX_CUDA_REDUCE_MAX: s.a = limits_of<T, A>::lowest(); break;
        case ONYX_CUDA_REDUCE_MIN: s.a = limits_of<T, A>::highest(); break;
        case ONYX_CUDA_REDUCE_LOG_SUM_EXP: s.a = -infinity_of<A>(); break;
        default: s.a = (A)0; break;
        }
        return s;
    }
    /* Combine two partial results (either may be init()). NaN wins Max/Min, as on the CPU. */
    static __device__ __forceinline__ state merge(state x, state y) {
        switch (KIND) {
        case ONYX_CUDA_REDUCE_MAX:
            if (!is_nan(x.a) && (is_nan(y.a) || y.a > x.a)) x.a = y.a;
            return x;
        case ONYX_CUDA_REDUCE_MIN:
            if (!is_nan(x.a) && (is_nan(y.a) || y.a < x.a)) x.a = y.a;
            return x;
        case ONYX_CUDA_REDUCE_PROD: x.a *= y.a; return x;
        case ONYX_CUDA_REDUCE_LOG_SUM_EXP: {
            if (is_nan(x.a)) return x;
            if (is_nan(y.a)) return y;
            if (y.a == -infinity_of<A>()) return x; /* contributes exp(-inf) = 0 */
            if (x.a == -infinity_of<A>()) return y;
            if (x.a == infinity_of<A>() || y.a == infinity_of<A>()) {
                x.a = infinity_of<A>();
                x.b = (A)1;
                return x;
            }
            A m = x.a > y.a ? x.a : y.a;
            x.b = x.b * exp_of(x.a - m) + y.b * exp_of(y.a - m);
            x.a = m;
            return x;
        }
        default: x.a += y.a; return x;
        }
    }
    static __device__ __forceinline__ state add(state s, A v) {
        switch (KIND) {
        case ONYX_CUDA_REDUCE_L1: s.a += abs_of(v); return s;
        case ONYX_CUDA_REDUCE_L2: case ONYX_CUDA_REDUCE_SUM_SQUARE: s.a += v * v; return s;
        case ONYX_CUDA_REDUCE_LOG_SUM_EXP: {
            state one;
            one.a = v;
            one.b = (A)1;
            return merge(s, one);
        }
        default: {
            state one;
            one.a = v;
            one.b = (A)0;
            return merge(s, one);
        }
        }
    }
    static __device__ __forceinline__ T finish(state s, int64_t count) {
        A r = s.a;
        switch (KIND) {
        case ONYX_CUDA_REDUCE_MEAN: r = s.a / (A)count; break;
        case ONYX_CUDA_REDUCE_L2: r = sqrt_of(s.a); break;
        case ONYX_CUDA_REDUCE_LOG_SUM: r = log_of(s.a); break;
        case ONYX_CUDA_REDUCE_LOG_SUM_EXP:
            if (is_nan(s.a) || s.a == infinity_of<A>()) r = s.a;
            else if (s.a == -infinity_of<A>()) r = -infinity_of<A>(); /* log(0), as the CPU gets */
            else r = log_of(s.b) + s.a;
            break;
        default: break;
        }
        return store_as<T, A>::go(r);
    }
    static __device__ __forceinline__ state warp_reduce(state s) {
        for (int m = 16; m > 0; m >>= 1) s = merge(s, shfl_state(s, m));
        return s;
    }
    /* Over the block; the result is valid in thread 0. scratch holds 32 states. */
    static __device__ __forceinline__ state block_reduce(state s, state *scratch) {
        int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
        s = warp_reduce(s);
        __syncthreads();
        if (lane == 0) scratch[warp] = s;
        __syncthreads();
        if (warp == 0) {
            s = lane < warps ? scratch[lane] : init();
            s = warp_reduce(s);
        }
        return s;
    }
};

/* Mathematically exact kinds of integers accumulate in int64; the rest in double (CPU's). */
template <typename T, int KIND> struct reduce_acc {
    typedef typename pick_type<
        is_float_type<T>::value, typename wide_type<T>::type,
        typename pick_type<KIND == ONYX_CUDA_REDUCE_MEAN || KIND == ONYX_CUDA_REDUCE_L2 ||
                               KIND == ONYX_CUDA_REDUCE_LOG_SUM || KIND == ONYX_CUDA_REDUCE_LOG_SUM_EXP,
                           double, long long>::type>::type type;
};

/* y (rows) = reduction of x (rows, cols); one warp per row. */
template <int KIND, typename T>
__global__ void reduce_rows_warp_kernel(T *y, const T *x, int64_t rows, int64_t cols) {
    typedef typename reduce_acc<T, KIND>::type A;
    typedef reducer<KIND, T, A> R;
    int lane = threadIdx.x & 31;
    int64_t row = (int64_t)blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    if (row >= rows) return;
    const T *xr = x + row * cols;
    typename R::state s = R::init();
    for (int64_t c = lane; c < cols; c += 32) s = R::add(s, to_acc<A>(xr[c]));
    s = R::warp_reduce(s);
    if (lane == 0) y[row] = R::finish(s, cols);
}

/* y (rows) = reduction of x (rows, cols); one block per row. */
template <int KIND, typename T>
__global__ void reduce_rows_block_kernel(T *y, const T *x, int64_t rows, int64_t cols) {
    typedef typename reduce_acc<T, KIND>::type A;
    typedef reducer<KIND, T, A> R;
    __shared__ typename R::state scratch[32];
    for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
        const T *xr = x + row * cols;
        typename R::state s = R::init();
        for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) s = R::add(s, to_acc<A>(xr[c]));
        s = R::block_reduce(s, scratch);
        if (threadIdx.x == 0) y[row] = R::finish(s, cols);
    }
}

/* Long rows split over gridDim.x blocks: partial (rows, splits) states of x (rows, cols). */
template <int KIND, typename T>
__global__ void reduce_rows_split_kernel(reduce_state<typename reduce_acc<T, KIND>::type> *partial, const T *x,
                                         int64_t cols, int64_t chunk) {
    typedef typename reduce_acc<T, KIND>::type A;
    typedef reducer<KIND, T, A> R;
    __shared__ typename R::state scratch[32];
    int64_t row = blockIdx.y, start = (int64_t)blockIdx.x * chunk;
    int64_t end = start + chunk < cols ? start + chunk : cols;
    const T *xr = x + row * cols;
    typename R::state s = R::init();
    for (int64_t c = start + threadIdx.x; c < end; c += blockDim.x) s = R::add(s, to_acc<A>(xr[c]));
    s = R::block_reduce(s, scratch);
    if (threadIdx.x == 0) partial[row * gridDim.x + blockIdx.x] = s;
}

/* y (rows) from partial (rows, splits): one block per row. */
template <int KIND, typename T>
__global__ void reduce_rows_finish_kernel(T *y, const reduce_state<typename reduce_acc<T, KIND>::type> *partial,
                                          int splits, int64_t cols) {
    typedef typename reduce_acc<T, KIND>::type A;
    typedef reducer<KIND, T, A> R;
    __shared__ typename R::state scratch[32];
    int64_t row = blockIdx.x;
    typename R::state s = R::init();
    for (int i = threadIdx.x; i < splits; i += blockDim.x) s = R::merge(s, partial[row * splits + i]);
    s = R::block_reduce(s, scratch);
    if (threadIdx.x == 0) y[row] = R::finish(s, cols);
}

/* y (outer, inner) = reduction of x (outer, n, inner) along n. Blocks of (32, 8) threads: x runs
 * along inner (coalesced), y splits n; tiles of 32 inner positions, outer * tiles of them. */
template <int KIND, typename T>
__global__ void reduce_cols_kernel(T *y, const T *x, int64_t outer, int64_t n, int64_t inner, int64_t tiles) {
    typedef typename reduce_acc<T, KIND>::type A;
    typedef reducer<KIND, T, A> R;
    __shared__ typename R::state partial[8][33];
    for (int64_t tile = blockIdx.x; tile < outer * tiles; tile += gridDim.x) {
        int64_t o = tile / tiles, i = (tile % tiles) * 32 + threadIdx.x;
        typename R::state s = R::init();
        if (i < inner) {
            const T *xo = x + o * n * inner + i;
            for (int64_t k = threadIdx.y; k < n; k += blockDim.y) s = R::add(s, to_acc<A>(xo[k * inner]));
        }
        partial[threadIdx.y][threadIdx.x] = s;
        __syncthreads();
        if (threadIdx.y == 0 && i < inner) {
            for (int r = 1; r < (int)blockDim.y; r++) s = R::merge(s, partial[r][threadIdx.x]);
            y[o * inner + i] = R::finish(s, n);
        }
        __syncthreads();
    }
}

/* Any pattern of reduced axes: kept and reduced dims with their input strides. */
struct reduce_layout {
    int n_kept, n_red;
    int64_t kept_dims[MATH_MAX_RANK], kept_strides[MATH_MAX_RANK];
    int64_t red_dims[MATH_MAX_RANK], red_strides[MATH_MAX_RANK];
    int64_t out_count, red_count;
};

/* y (out_count) = reduction of x; one thread per output walks its reduced elements. */
template <int KIND, typename T> __global__ void reduce_generic_kernel(T *y, const T *x, reduce_layout l) {
    typedef typename reduce_acc<T, KIND>::type A;
    typedef reducer<KIND, T, A> R;
    for (int64_t o = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; o < l.out_count;
         o += (int64_t)gridDim.x * blockDim.x) {
        int64_t base = 0, rest = o;
        for (int d = l.n_kept - 1; d >= 0; d--) {
            base += (rest % l.kept_dims[d]) * l.kept_strides[d];
            rest /= l.kept_dims[d];
        }
        typename R::state s = R::init();
        int64_t coord[MATH_MAX_RANK] = {0};
        int last = l.n_red - 1;
        int64_t offset = base;
        for (int64_t done = 0; done < l.red_count; done += l.red_dims[last]) {
            for (int64_t k = 0; k < l.red_dims[last]; k++)
                s = R::add(s, to_acc<A>(x[offset + k * l.red_strides[last]]));
            for (int d = last - 1; d >= 0; d--) { /* odometer over the outer reduced dims */
                coord[d]++;
                offset += l.red_strides[d];
                if (coord[d] < l.red_dims[d]) break;
                offset -= coord[d] * l.red_strides[d];
                coord[d] = 0;
            }
        }
        y[o] = R::finish(s, l.red_count);
    }
}

// ----------------------------------------------------------------------------
// CUDA kernels: ArgMax / ArgMin

/* A candidate: value and index; index -1 = none yet. */
template <typename A> struct arg_state {
    A value;
    long long index;
};

template <typename A>
__device__ __forceinline__ arg_state<A> arg_merge(arg_state<A> x, arg_state<A> y, bool want_min, bool last) {
    if (y.index < 0) return x;
    if (x.index < 0) return y;
    bool y_better = want_min ? y.value < x.value : y.value > x.value;
    bool x_better = want_min ? x.value < y.value : x.value > y.value;
    if (y_better) return y;
    if (x_better) return x;
    return (last ? y.index > x.index : y.index < x.index) ? y : x;
}

template <typename A> __device__ __forceinline__ arg_state<A> arg_warp_reduce(arg_state<A> s, bool want_min, bool last) {
    for (int m = 16; m > 0; m >>= 1) {
        arg_state<A> o;
        o.value = shfl_xor(s.value, m);
        o.index = shfl_xor(s.index, m);
        s = arg_merge(s, o, want_min, last);
    }
    return s;
}

template <typename T> struct arg_acc {
    typedef typename pick_type<is_float_type<T>::value, typename wide_type<T>::type, long long>::type type;
};

/* indices (rows) = arg of x (rows, cols); one warp per row (blockDim.x == 32 * rows per block)
 * or, with one_block_per_row, one block per row. */
template <typename T>
__global__ void argmax_rows_kernel(int64_t *indices, const T *x, int64_t rows, int64_t cols, bool want_min, bool last,
                                   bool one_block_per_row) {
    typedef typename arg_acc<T>::type A;
    __shared__ arg_state<A> scratch[32];
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    int64_t row = one_block_per_row ? (int64_t)blockIdx.x : (int64_t)blockIdx.x * (blockDim.x >> 5) + warp;
    if (row >= rows) return;
    int start = one_block_per_row ? threadIdx.x : lane, step = one_block_per_row ? blockDim.x : 32;
    const T *xr = x + row * cols;
    arg_state<A> s;
    s.value = (A)0;
    s.index = -1;
    for (int64_t c = start; c < cols; c += step) {
        A v = to_acc<A>(xr[c]);
        if (is_nan(v)) continue;
        arg_state<A> one;
        one.value = v;
        one.index = c;
        s = arg_merge(s, one, want_min, last);
    }
    s = arg_warp_reduce(s, want_min, last);
    if (one_block_per_row) {
        if (lane == 0) scratch[warp] = s;
        __syncthreads();
        if (warp != 0) return;
        if (lane < (int)(blockDim.x >> 5)) s = scratch[lane];
        else s.index = -1;
        s = arg_warp_reduce(s, want_min, last);
    }
    if (lane == 0) indices[row] = (s.index < 0 || is_nan(to_acc<A>(xr[0]))) ? 0 : s.index;
}

/* indices (outer, inner) = arg of x (outer, n, inner) along n; one thread per (o, i). */
template <typename T>
__global__ void argmax_cols_kernel(int64_t *indices, const T *x, int64_t outer, int64_t n, int64_t inner,
                                   bool want_min, bool last) {
    typedef typename arg_acc<T>::type A;
    for (int64_t s = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; s < outer * inner;
         s += (int64_t)gridDim.x * blockDim.x) {
        int64_t o = s / inner, i = s % inner;
        const T *xs = x + o * n * inner + i;
        A best = to_acc<A>(xs[0]);
        int64_t best_index = 0;
        for (int64_t k = 1; k < n; k++) { /* the CPU's scan, NaN included */
            A v = to_acc<A>(xs[k * inner]);
            if ((want_min ? v < best : v > best) || (last && v == best)) {
                best = v;
                best_index = k;
            }
        }
        indices[s] = best_index;
    }
}

// ----------------------------------------------------------------------------
// CUDA kernels: CumSum

template <typename T> struct scan_acc {
    typedef typename pick_type<is_float_type<T>::value, double, long long>::type type;
};

#define CUMSUM_THREADS 256
#define CUMSUM_ITEMS 4

/* y (rows, n) = running sums of x (rows, n) along n; one block per row, tiles of
 * CUMSUM_THREADS * CUMSUM_ITEMS elements staged through shared memory so loads and stores stay
 * coalesced. reverse runs from the end; exclusive leaves out each element itself. */
template <typename T>
__global__ void cumsum_rows_kernel(T *y, const T *x, int64_t rows, int64_t n, bool exclusive, bool reverse) {
    typedef typename scan_acc<T>::type A;
    const int tile_size = CUMSUM_THREADS * CUMSUM_ITEMS;
    __shared__ A tile[CUMSUM_THREADS * CUMSUM_ITEMS];
    __shared__ A warp_totals[CUMSUM_THREADS / 32];
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
        const T *xr = x + row * n;
        T *yr = y + row * n;
        A carry = 0;
        for (int64_t start = 0; start < n; start += tile_size) {
            for (int j = 0; j < CUMSUM_ITEMS; j++) {
                int64_t p = start + threadIdx.x + j * CUMSUM_THREADS;
                tile[threadIdx.x + j * CUMSUM_THREADS] = p < n ? to_acc<A>(xr[reverse ? n - 1 - p : p]) : (A)0;
            }
            __syncthreads();
            A local[CUMSUM_ITEMS], total = 0;
            for (int j = 0; j < CUMSUM_ITEMS; j++) {
                local[j] = tile[threadIdx.x * CUMSUM_ITEMS + j];
                total += local[j];
            }
            A inclusive = total; /* scan of the threads' totals: warps, then across warps */
            for (int m = 1; m < 32; m <<= 1) {
                A up = __shfl_up_sync(0xffffffffu, inclusive, m);
                if (lane >= m) inclusive += up;
            }
            if (lane == 31) warp_totals[warp] = inclusive;
            __syncthreads();
            A before_warp = 0, tile_total = 0;
            for (int w = 0; w < CUMSUM_THREADS / 32; w++) {
                if (w < warp) before_warp += warp_totals[w];
                tile_total += warp_totals[w];
            }
            A running = carry + before_warp + inclusive - total;
            for (int j = 0; j < CUMSUM_ITEMS; j++) {
                A before = running;
                running += local[j];
                tile[threadIdx.x * CUMSUM_ITEMS + j] = exclusive ? before : running;
            }
            __syncthreads();
            for (int j = 0; j < CUMSUM_ITEMS; j++) {
                int64_t p = start + threadIdx.x + j * CUMSUM_THREADS;
                if (p < n) yr[reverse ? n - 1 - p : p] = store_as<T, A>::go(tile[threadIdx.x + j * CUMSUM_THREADS]);
            }
            carry += tile_total;
            __syncthreads();
        }
    }
}

/* y (outer, n, inner) = running sums of x along n; one thread per (o, i). */
template <typename T>
__global__ void cumsum_cols_kernel(T *y, const T *x, int64_t outer, int64_t n, int64_t inner, bool exclusive,
                                   bool reverse) {
    typedef typename scan_acc<T>::type A;
    for (int64_t s = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; s < outer * inner;
         s += (int64_t)gridDim.x * blockDim.x) {
        int64_t o = s / inner, i = s % inner;
        const T *xs = x + o * n * inner + i;
        T *ys = y + o * n * inner + i;
        A sum = 0;
        for (int64_t step = 0; step < n; step++) {
            int64_t k = reverse ? n - 1 - step : step;
            A v = to_acc<A>(xs[k * inner]);
            if (!exclusive) sum += v;
            ys[k * inner] = store_as<T, A>::go(sum);
            if (exclusive) sum += v;
        }
    }
}

// ----------------------------------------------------------------------------
// CUDA kernels: TopK

/* Each element becomes a 64-bit rank key (larger = better) and its index: floats map their bits
 * to an order-preserving unsigned (with -0 as +0, so equal values tie), signed integers flip
 * the sign bit, and "smallest" inverts the key. Sorting by (key descending, index ascending)
 * gives the CPU's order: better value first, ties by the lower index. Padding entries have key
 * 0 and index TOPK_NO_INDEX, behind every real element. */
#define TOPK_NO_INDEX 0xffffffffu
#define TOPK_MAX_CHUNK 4096 /* elements one block sorts in shared memory: 4096 * 12 bytes = 48 KiB */

__device__ __forceinline__ uint64_t topk_key_bits32(float f) {
    if (f == 0.0f) f = 0.0f;
    uint32_t u = __float_as_uint(f);
    return (uint64_t)((u & 0x80000000u) ? ~u : (u | 0x80000000u)) << 32;
}
template <typename T> __device__ __forceinline__ uint64_t topk_key_of(T v) {
    return (uint64_t)(long long)v ^ 0x8000000000000000ull; /* signed integers */
}
template <> __device__ __forceinline__ uint64_t topk_key_of<uint8_t>(uint8_t v) { return v; }
template <> __device__ __forceinline__ uint64_t topk_key_of<float>(float v) { return topk_key_bits32(v); }
template <> __device__ __forceinline__ uint64_t topk_key_of<__half>(__half v) {
    return topk_key_bits32(__half2float(v));
}
template <> __device__ __forceinline__ uint64_t topk_key_of<__nv_bfloat16>(__nv_bfloat16 v) {
    return topk_key_bits32(__bfloat162float(v));
}
template <> __device__ __forceinline__ uint64_t topk_key_of<double>(double v) {
    if (v == 0.0) v = 0.0;
    uint64_t u = (uint64_t)__double_as_longlong(v);
    return (u & 0x8000000000000000ull) ? ~u : (u | 0x8000000000000000ull);
}

__device__ __forceinline__ bool topk_before(uint64_t ka, uint32_t ia, uint64_t kb, uint32_t ib) {
    return ka > kb || (ka == kb && ia < ib);
}

/* Bitonic sort of size entries (a power of two) of keys/index in shared memory, best first. */
__device__ void topk_bitonic_sort(uint64_t *keys, uint32_t *index, int size) {
    for (int k = 2; k <= size; k <<= 1) {
        for (int j = k >> 1; j > 0; j >>= 1) {
            for (int i = threadIdx.x; i < size; i += blockDim.x) {
                int partner = i ^ j;
                if (partner <= i) continue;
                bool ascending_block = (i & k) == 0; /* this half wants i before partner */
                bool swap = ascending_block ? topk_before(keys[partner], index[partner], keys[i], index[i])
                                            : topk_before(keys[i], index[i], keys[partner], index[partner]);
                if (swap) {
                    uint64_t tk = keys[i];
                    keys[i] = keys[partner];
                    keys[partner] = tk;
                    uint32_t ti = index[i];
                    index[i] = index[partner];
                    index[partner] = ti;
                }
            }
            __syncthreads();
        }
    }
}

/* One round of the chunked TopK. Each block sorts one chunk of chunk_size (a power of two)
 * entries of one slice: from x (outer, n, inner) when from_input, else from the candidates
 * in_keys/in_index (slices, n_in). The best k go to out_keys/out_index (slices, chunks, k), or,
 * in the last round (chunks == 1), to values/indices (outer, k, inner). */
template <typename T>
__global__ void topk_chunk_kernel(const T *x, const uint64_t *in_keys, const uint32_t *in_index, uint64_t *out_keys,
                                  uint32_t *out_index, T *values, int64_t *indices, int64_t n, int64_t inner,
                                  int64_t n_in, int64_t chunks, int chunk_size, int64_t k, bool largest,
                                  bool from_input, bool last_round) {
    extern __shared__ uint64_t topk_shared[];
    uint64_t *keys = topk_shared;
    uint32_t *index = (uint32_t *)(keys + chunk_size);
    int64_t slice = blockIdx.x / chunks, chunk = blockIdx.x % chunks;
    int64_t o = slice / inner, i = slice % inner;
    const T *xs = x + o * n * inner + i;
    for (int t = threadIdx.x; t < chunk_size; t += blockDim.x) {
        int64_t e = chunk * chunk_size + t;
        uint64_t key = 0;
        uint32_t at = TOPK_NO_INDEX;
        if (e < n_in) {
            if (from_input) {
                key = topk_key_of<T>(xs[e * inner]);
                if (!largest) key = ~key;
                at = (uint32_t)e;
            } else {
                key = in_keys[slice * n_in + e];
                at = in_index[slice * n_in + e];
            }
        }
        keys[t] = key;
        index[t] = at;
    }
    __syncthreads();
    topk_bitonic_sort(keys, index, chunk_size);
    for (int r = threadIdx.x; r < k; r += blockDim.x) {
        if (last_round) {
            int64_t out = o * k * inner + (int64_t)r * inner + i;
            values[out] = xs[(int64_t)index[r] * inner];
            if (indices) indices[out] = index[r];
        } else {
            out_keys[(slice * chunks + chunk) * k + r] = keys[r];
            out_index[(slice * chunks + chunk) * k + r] = index[r];
        }
    }
}

/* The general fallback (k > TOPK_MAX_CHUNK / 4 on long rows): a bitonic sort of whole slices in
 * global memory, keys/index (slices, size) with size a power of two >= n. */
template <typename T>
__global__ void topk_fill_kernel(uint64_t *keys, uint32_t *index, const T *x, int64_t slices, int64_t n,
                                 int64_t inner, int64_t size, bool largest) {
    for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < slices * size;
         e += (int64_t)gridDim.x * blockDim.x) {
        int64_t slice = e / size, p = e % size;
        uint64_t key = 0;
        uint32_t at = TOPK_NO_INDEX;
        if (p < n) {
            int64_t o = slice / inner, i = slice % inner;
            key = topk_key_of<T>(x[(o * n + p) * inner + i]);
            if (!largest) key = ~key;
            at = (uint32_t)p;
        }
        keys[e] = key;
        index[e] = at;
    }
}

__global__ void topk_bitonic_step_kernel(uint64_t *keys, uint32_t *index, int64_t total, int64_t size, int64_t k,
                                         int64_t j) {
    for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < total;
         e += (int64_t)gridDim.x * blockDim.x) {
        int64_t p = e % size, partner_p = p ^ j;
        if (partner_p <= p) continue;
        int64_t partner = e - p + partner_p;
        bool ascending_block = (p & k) == 0;
        bool swap = ascending_block ? topk_before(keys[partner], index[partner], keys[e], index[e])
                                    : topk_before(keys[e], index[e], keys[partner], index[partner]);
        if (swap) {
            uint64_t tk = keys[e];
            keys[e] = keys[partner];
            keys[partner] = tk;
            uint32_t ti = index[e];
            index[e] = index[partner];
            index[partner] = ti;
        }
    }
}

template <typename T>
__global__ void topk_emit_kernel(T *values, int64_t *indices, const uint32_t *index, const T *x, int64_t slices,
                                 int64_t n, int64_t inner, int64_t size, int64_t k) {
    for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < slices * k;
         e += (int64_t)gridDim.x * blockDim.x) {
        int64_t slice = e / k, r = e % k;
        int64_t o = slice / inner, i = slice % inner;
        uint32_t at = index[slice * size + r];
        int64_t out = (o * k + r) * inner + i;
        values[out] = x[(o * n + at) * inner + i];
        if (indices) indices[out] = at;
    }
}

// ----------------------------------------------------------------------------
// CUDA kernels: Softmax / LogSoftmax (the CPU's formulas: subtract the row max, with a row of
// -inf shifted by 0 so it gives NaN like the reference; softmax = e * (1 / sum) in float32,
// e / sum in double; log-softmax = x - (max + log(sum)))

template <typename A> __device__ __forceinline__ A softmax_scale(A e, A sum) { return e / sum; }
template <> __device__ __forceinline__ float softmax_scale<float>(float e, float sum) { return e * (1.0f / sum); }

/* VEC consecutive elements moved by one aligned load or store (16 bytes in the vector paths). */
template <typename T, int VEC> struct alignas(sizeof(T) * VEC) packet {
    T v[VEC];
};

/* Whether rows of cols elements of T starting at every pointer in ptrs can move as 16-byte
 * packets: cols a multiple of the packet and each pointer 16-byte aligned (NULL passes). */
template <typename T> static bool rows_vectorizable(int64_t cols, const void *a, const void *b,
                                                    const void *c = NULL, const void *d = NULL) {
    const int vec = 16 / (int)sizeof(T);
    const void *ptrs[4] = {a, b, c, d};
    if (cols % vec != 0) return false;
    for (int i = 0; i < 4; i++)
        if ((uintptr_t)ptrs[i] % 16 != 0) return false;
    return true;
}

/* ScaleAddSoftmax's operands: the softmax rows are round(round(x * scale) + bias), x and bias
 * broadcast to y (rows, cols): the leading dims (collapsed) with each operand's element strides,
 * and their strides along the row (0 or 1). bias NULL: plain Softmax of contiguous x. */
#define SOFTMAX_PRE_RANK 12
struct softmax_pre {
    const void *bias;
    float scale;
    int use_scale;
    int rank;
    int64_t dims[SOFTMAX_PRE_RANK], x_strides[SOFTMAX_PRE_RANK], b_strides[SOFTMAX_PRE_RANK];
    int64_t x_last, b_last;
};

/* Offsets of row r's first elements in x and bias. */
__device__ __forceinline__ void softmax_pre_offsets(const softmax_pre &pre, int64_t row, int64_t *xo, int64_t *bo) {
    int64_t x = 0, b = 0;
    for (int d = pre.rank - 1; d >= 0; d--) {
        int64_t i = row % pre.dims[d];
        row /= pre.dims[d];
        x += i * pre.x_strides[d];
        b += i * pre.b_strides[d];
    }
    *xo = x;
    *bo = b;
}

/* x * scale + bias as the unfused Mul and Add kernels leave it: each rounded to T. */
template <typename T, typename A>
__device__ __forceinline__ A softmax_pre_combine(const softmax_pre &pre, T x, T bias) {
    A v = to_acc<A>(x);
    if (pre.use_scale) v = to_acc<A>(store_as<T, A>::go(v * (A)pre.scale));
    return to_acc<A>(store_as<T, A>::go(v + to_acc<A>(bias)));
}

/* Element c of row (offsets xo, bo). */
template <typename T, typename A>
__device__ __forceinline__ A softmax_pre_value(const softmax_pre &pre, const T *x, int64_t xo, int64_t bo, int64_t c) {
    return softmax_pre_combine<T, A>(pre, x[xo + c * pre.x_last], ((const T *)pre.bias)[bo + c * pre.b_last]);
}

/* y (rows, cols) = softmax of x (rows, cols); one warp per row, the row in registers: lane l holds
 * packets l, l + 32, ... of VEC elements, ITEMS of them (cols <= 32 * ITEMS * VEC; cols is a
 * multiple of VEC). */
template <typename T, int ITEMS, int VEC>
__global__ void softmax_rows_warp_kernel(T *y, const T *x, int64_t rows, int cols, bool log_output, softmax_pre pre) {
    typedef typename wide_type<T>::type A;
    typedef packet<T, VEC> P;
    int lane = threadIdx.x & 31;
    int64_t row = (int64_t)blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    if (row >= rows) return;
    const P *xr = (const P *)(x + row * cols);
    P *yr = (P *)(y + row * cols);
    int64_t xo = 0, bo = 0;
    if (pre.bias) softmax_pre_offsets(pre, row, &xo, &bo);
    int packets = cols / VEC;
    A v[ITEMS][VEC];
    A max = -infinity_of<A>();
#pragma unroll
    for (int j = 0; j < ITEMS; j++) {
        int p = lane + j * 32;
        if (p < packets && pre.bias) {
            if constexpr (VEC == 1) {
                v[j][0] = softmax_pre_value<T, A>(pre, x, xo, bo, p);
            } else { /* x and bias rows contiguous and packet-aligned (softmax_pre_vectorizable) */
                P in = *(const P *)(x + xo + (int64_t)p * VEC);
                P add = *(const P *)((const T *)pre.bias + bo + (int64_t)p * VEC);
#pragma unroll
                for (int q = 0; q < VEC; q++) v[j][q] = softmax_pre_combine<T, A>(pre, in.v[q], add.v[q]);
            }
        } else if (p < packets) {
            P in = xr[p];
#pragma unroll
            for (int q = 0; q < VEC; q++) v[j][q] = to_acc<A>(in.v[q]);
        } else {
#pragma unroll
            for (int q = 0; q < VEC; q++) v[j][q] = -infinity_of<A>();
        }
#pragma unroll
        for (int q = 0; q < VEC; q++) max = v[j][q] > max ? v[j][q] : max;
    }
    max = warp_max(max);
    if (max == -infinity_of<A>()) max = (A)0;
    A sum = 0;
#pragma unroll
    for (int j = 0; j < ITEMS; j++) {
        if (lane + j * 32 >= packets) continue;
#pragma unroll
        for (int q = 0; q < VEC; q++) {
            A e = exp_of(v[j][q] - max);
            sum += e;
            if (!log_output) v[j][q] = e;
        }
    }
    sum = warp_sum(sum);
    A shift = max + log_of(sum);
#pragma unroll
    for (int j = 0; j < ITEMS; j++) {
        int p = lane + j * 32;
        if (p >= packets) continue;
        P out;
#pragma unroll
        for (int q = 0; q < VEC; q++)
            out.v[q] = store_as<T, A>::go(log_output ? v[j][q] - shift : softmax_scale(v[j][q], sum));
        yr[p] = out;
    }
}

/* y (rows, cols) = softmax of x (rows, cols); one block per row. With cached, the row is kept in
 * dynamic shared memory (cols * sizeof(A) bytes); otherwise it is read three times. */
template <typename T, bool CACHED>
__global__ void softmax_rows_block_kernel(T *y, const T *x, int64_t rows, int64_t cols, bool log_output,
                                          softmax_pre pre) {
    typedef typename wide_type<T>::type A;
    extern __shared__ double softmax_shared[];
    A *row_cache = (A *)softmax_shared;
    __shared__ A scratch[32];
    for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
        const T *xr = x + row * cols;
        T *yr = y + row * cols;
        int64_t xo = 0, bo = 0;
        if (pre.bias) softmax_pre_offsets(pre, row, &xo, &bo);
#define SOFTMAX_IN(c) (pre.bias ? softmax_pre_value<T, A>(pre, x, xo, bo, (c)) : to_acc<A>(xr[c]))
        A max = -infinity_of<A>();
        for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
            A v = SOFTMAX_IN(c);
            if (CACHED) row_cache[c] = v;
            max = v > max ? v : max;
        }
        max = block_max(max, scratch);
        if (max == -infinity_of<A>()) max = (A)0;
        A sum = 0;
        for (int64_t c = threadIdx.x; c < cols; c += blockDim.x)
            sum += exp_of((CACHED ? row_cache[c] : SOFTMAX_IN(c)) - max);
        sum = block_sum(sum, scratch);
        A shift = max + log_of(sum);
        for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
            A v = CACHED ? row_cache[c] : SOFTMAX_IN(c);
#undef SOFTMAX_IN
            yr[c] = store_as<T, A>::go(log_output ? v - shift : softmax_scale(exp_of(v - max), sum));
        }
        __syncthreads(); /* row_cache is reused by the next row */
    }
}

/* y (outer, n, inner) = softmax of x along n; one thread per (o, i), coalesced along inner. */
template <typename T>
__global__ void softmax_cols_kernel(T *y, const T *x, int64_t outer, int64_t n, int64_t inner, bool log_output) {
    typedef typename wide_type<T>::type A;
    for (int64_t s = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; s < outer * inner;
         s += (int64_t)gridDim.x * blockDim.x) {
        int64_t o = s / inner, i = s % inner;
        const T *xs = x + o * n * inner + i;
        T *ys = y + o * n * inner + i;
        A max = -infinity_of<A>();
        for (int64_t k = 0; k < n; k++) {
            A v = to_acc<A>(xs[k * inner]);
            max = v > max ? v : max;
        }
        if (max == -infinity_of<A>()) max = (A)0;
        A sum = 0;
        for (int64_t k = 0; k < n; k++) sum += exp_of(to_acc<A>(xs[k * inner]) - max);
        A shift = max + log_of(sum);
        for (int64_t k = 0; k < n; k++) {
            A v = to_acc<A>(xs[k * inner]);
            ys[k * inner] = store_as<T, A>::go(log_output ? v - shift : softmax_scale(exp_of(v - max), sum));
        }
    }
}

// ----------------------------------------------------------------------------
// CUDA kernels: LayerNormalization (two passes: mean, then the mean of squared deviations;
// y = (x - mean) * inv_std * scale + bias) and the RMS norm (rms: no mean pass, mean 0)

/* Launch shapes of layer_norm_rows_kernel: a thread holds ITEMS * VEC <= LN_MAX_ELEMS elements.
 * Rows that fit LN_THREADS threads at ITEMS packets a thread take the smallest such ITEMS; only
 * the widest instantiation (ITEMS * VEC == LN_MAX_ELEMS) grows its block up to LN_MAX_THREADS,
 * so rows of up to LN_MAX_THREADS * LN_MAX_ELEMS elements stay in registers. Each instantiation
 * is compiled for the largest block it is launched with (__launch_bounds__: at 1024 threads
 * ptxas keeps it within 64 registers, 65536 per SM); without the bound the 16-element kernels
 * took 143-164 registers (no block above 384-448 threads can launch) and <double, 8, 2> 72 (none
 * above 896). */
#define LN_THREADS 256
#define LN_MAX_THREADS 1024
#define LN_MAX_ELEMS 16
#define LN_REGISTER_COLS (LN_MAX_THREADS * LN_MAX_ELEMS)
static_assert(LN_REGISTER_COLS == ONYX_CUDA_LN_REGISTER_COLS, "math_launch.h states the register rows' limit");
#define LN_BLOCK_BOUND(ITEMS, VEC) ((ITEMS) * (VEC) == LN_MAX_ELEMS ? LN_MAX_THREADS : LN_THREADS)

/* x, y are (rows, cols), scale and bias (cols); mean, inv_std (rows). One block per row, each
 * thread keeping ITEMS packets of VEC elements in registers: packets t, t + blockDim.x, ...
 * (cols <= blockDim.x * ITEMS * VEC; cols is a multiple of VEC; blockDim.x a multiple of 32 and
 * at most LN_BLOCK_BOUND(ITEMS, VEC)). */
/* The residual sum of the Skip norms, rounded to T as an Add kernel rounds it: a + b (+ c). */
template <typename T> __device__ __forceinline__ T skip_sum(T a, T b, const T *c) {
    typedef typename wide_type<T>::type A;
    A s = to_acc<A>(a) + to_acc<A>(b);
    if (c) s += to_acc<A>(*c);
    return store_as<T, A>::go(s);
}

/* The Skip norms' operands: x + skip (+ skip_bias, (cols)) is normalised, and written to
 * sum_out when it is not NULL. All NULL: a plain norm of x. */
template <typename T> struct ln_skip {
    const T *skip, *skip_bias;
    T *sum_out;
};

template <typename T, int ITEMS, int VEC>
__global__ void __launch_bounds__(LN_BLOCK_BOUND(ITEMS, VEC))
    layer_norm_rows_kernel(T *y, float *mean_out, float *inv_std_out, const T *x, const T *scale, const T *bias,
                           int64_t rows, int cols, double epsilon, bool rms, ln_skip<T> sk) {
    typedef typename wide_type<T>::type A;
    typedef packet<T, VEC> P;
    __shared__ A scratch[32];
    int packets = cols / VEC;
    for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
        const P *xr = (const P *)(x + row * cols);
        P *yr = (P *)(y + row * cols);
        A v[ITEMS][VEC];
        A sum = 0;
#pragma unroll
        for (int j = 0; j < ITEMS; j++) {
            int p = threadIdx.x + j * blockDim.x;
            if (p < packets) {
                P in = xr[p];
                if (sk.skip) {
                    P other = ((const P *)(sk.skip + row * cols))[p], b;
                    if (sk.skip_bias) b = ((const P *)sk.skip_bias)[p];
#pragma unroll
                    for (int q = 0; q < VEC; q++) in.v[q] = skip_sum(in.v[q], other.v[q], sk.skip_bias ? &b.v[q] : NULL);
                    if (sk.sum_out) ((P *)(sk.sum_out + row * cols))[p] = in;
                }
#pragma unroll
                for (int q = 0; q < VEC; q++) v[j][q] = to_acc<A>(in.v[q]);
            } else {
#pragma unroll
                for (int q = 0; q < VEC; q++) v[j][q] = (A)0;
            }
#pragma unroll
            for (int q = 0; q < VEC; q++) sum += v[j][q];
        }
        A mean = rms ? (A)0 : block_sum(sum, scratch) / (A)cols;
        A var_sum = 0;
#pragma unroll
        for (int j = 0; j < ITEMS; j++) {
            if ((int)threadIdx.x + j * (int)blockDim.x >= packets) continue;
#pragma unroll
            for (int q = 0; q < VEC; q++) {
                A d = v[j][q] - mean;
                var_sum += d * d;
            }
        }
        A inv_std = (A)1 / sqrt_of(block_sum(var_sum, scratch) / (A)cols + (A)epsilon);
#pragma unroll
        for (int j = 0; j < ITEMS; j++) {
            int p = threadIdx.x + j * blockDim.x;
            if (p >= packets) continue;
            P sc = ((const P *)scale)[p], out;
            P b;
            if (bias) b = ((const P *)bias)[p];
#pragma unroll
            for (int q = 0; q < VEC; q++) {
                A value = (v[j][q] - mean) * inv_std * to_acc<A>(sc.v[q]);
                if (bias) value += to_acc<A>(b.v[q]);
                out.v[q] = store_as<T, A>::go(value);
            }
            yr[p] = out;
        }
        if (threadIdx.x == 0) {
            if (mean_out) mean_out[row] = (float)mean;
            if (inv_std_out) inv_std_out[row] = (float)inv_std;
        }
    }
}

/* The same for rows of any length, reading x three times; launched with LN_MAX_THREADS threads. */
template <typename T>
__global__ void __launch_bounds__(LN_MAX_THREADS)
    layer_norm_long_rows_kernel(T *y, float *mean_out, float *inv_std_out, const T *x, const T *scale, const T *bias,
                                int64_t rows, int64_t cols, double epsilon, bool rms, ln_skip<T> sk) {
    typedef typename wide_type<T>::type A;
    __shared__ A scratch[32];
    for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
        const T *xr = x + row * cols;
        T *yr = y + row * cols;
        if (sk.skip) { /* the sum first (into sum_out, which the launch makes non-NULL), then its norm */
            for (int64_t c = threadIdx.x; c < cols; c += blockDim.x)
                sk.sum_out[row * cols + c] = skip_sum(xr[c], sk.skip[row * cols + c], sk.skip_bias ? sk.skip_bias + c : NULL);
            __syncthreads();
            xr = sk.sum_out + row * cols;
        }
        A sum = 0;
        if (!rms)
            for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) sum += to_acc<A>(xr[c]);
        A mean = rms ? (A)0 : block_sum(sum, scratch) / (A)cols;
        A var_sum = 0;
        for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
            A d = to_acc<A>(xr[c]) - mean;
            var_sum += d * d;
        }
        A inv_std = (A)1 / sqrt_of(block_sum(var_sum, scratch) / (A)cols + (A)epsilon);
        for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
            A value = (to_acc<A>(xr[c]) - mean) * inv_std * to_acc<A>(scale[c]);
            if (bias) value += to_acc<A>(bias[c]);
            yr[c] = store_as<T, A>::go(value);
        }
        if (threadIdx.x == 0) {
            if (mean_out) mean_out[row] = (float)mean;
            if (inv_std_out) inv_std_out[row] = (float)inv_std;
        }
    }
}

// ----------------------------------------------------------------------------
// CUDA kernels: Hardmax (argmax_* kernels find the first maximum, then this writes the rows)

/* y (outer, n, inner) = 1 where k is the argmax of (o, i), 0 elsewhere; argmax is (outer, inner). */
template <typename T>
__global__ void hardmax_fill_kernel(T *y, const int64_t *argmax, int64_t outer, int64_t n, int64_t inner) {
    T one = from_float<T>(1.0f), zero = from_float<T>(0.0f);
    for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < outer * n * inner;
         e += (int64_t)gridDim.x * blockDim.x) {
        int64_t i = e % inner, rest = e / inner;
        int64_t k = rest % n, o = rest / n;
        y[e] = k == argmax[o * inner + i] ? one : zero;
    }
}

// ----------------------------------------------------------------------------
// CUDA kernels: InstanceNormalization and BatchNormalization of (N, C, S): statistics in double
// as on the CPU, y = (x - mean) * inv_std * scale + bias in the compute type.

/* The per-channel tensors (C elements each) with their dtype codes: float32/16, bfloat16, float64. */
struct channel_tensors {
    const void *data[ONYX_CUDA_NORM_PARAMS];
    int dtype[ONYX_CUDA_NORM_PARAMS];
};
struct channel_outputs {
    void *data[ONYX_CUDA_NORM_PARAMS];
    int dtype[ONYX_CUDA_NORM_PARAMS];
};

__device__ __forceinline__ double load_channel(const void *p, int dtype, int64_t c) {
    switch (dtype) {
    case ONYX_CUDA_DT_FLOAT16: return __half2float(((const __half *)p)[c]);
    case ONYX_CUDA_DT_BFLOAT16: return __bfloat162float(((const __nv_bfloat16 *)p)[c]);
    case ONYX_CUDA_DT_FLOAT64: return ((const double *)p)[c];
    default: return ((const float *)p)[c];
    }
}

__device__ __forceinline__ void store_channel(void *p, int dtype, int64_t c, double v) {
    switch (dtype) {
    case ONYX_CUDA_DT_FLOAT16: ((__half *)p)[c] = __float2half_rn((float)v); break;
    case ONYX_CUDA_DT_BFLOAT16: ((__nv_bfloat16 *)p)[c] = __float2bfloat16_rn((float)v); break;
    case ONYX_CUDA_DT_FLOAT64: ((double *)p)[c] = v; break;
    default: ((float *)p)[c] = (float)v; break;
    }
}

/* x, y are (N, C, S); one block per (n, c) plane of S elements. */
template <typename T>
__global__ void instance_norm_kernel(T *y, const T *x, channel_tensors p, int64_t planes, int64_t C, int64_t S,
                                     double epsilon) {
    typedef typename wide_type<T>::type A;
    __shared__ double scratch[32];
    for (int64_t plane = blockIdx.x; plane < planes; plane += gridDim.x) {
        int64_t c = plane % C;
        const T *xp = x + plane * S;
        T *yp = y + plane * S;
        double sum = 0.0;
        for (int64_t i = threadIdx.x; i < S; i += blockDim.x) sum += to_acc<double>(xp[i]);
        double mean = block_sum(sum, scratch) / (double)S;
        double square_sum = 0.0;
        for (int64_t i = threadIdx.x; i < S; i += blockDim.x) {
            double d = to_acc<double>(xp[i]) - mean;
            square_sum += d * d;
        }
        double inv = 1.0 / sqrt(block_sum(square_sum, scratch) / (double)S + epsilon);
        A mean_a = (A)mean, inv_a = (A)inv;
        A scale = (A)load_channel(p.data[ONYX_CUDA_NORM_SCALE], p.dtype[ONYX_CUDA_NORM_SCALE], c);
        A bias = (A)load_channel(p.data[ONYX_CUDA_NORM_BIAS], p.dtype[ONYX_CUDA_NORM_BIAS], c);
        for (int64_t i = threadIdx.x; i < S; i += blockDim.x)
            yp[i] = store_as<T, A>::go((to_acc<A>(xp[i]) - mean_a) * inv_a * scale + bias);
    }
}

/* BatchNormalization, stage 1: one block per channel. coef (4, C) receives mean, inv_std, scale
 * and bias; stats (running mean, running var, mean, inv_std) go to the outputs present. */
template <typename T>
__global__ void batch_norm_coef_kernel(double *coef, const T *x, channel_tensors p, channel_outputs stats,
                                       bool training, double momentum, double epsilon, int64_t N, int64_t C,
                                       int64_t S) {
    __shared__ double scratch[32];
    int64_t c = blockIdx.x;
    double given_mean = load_channel(p.data[ONYX_CUDA_NORM_MEAN], p.dtype[ONYX_CUDA_NORM_MEAN], c);
    double given_var = load_channel(p.data[ONYX_CUDA_NORM_VAR], p.dtype[ONYX_CUDA_NORM_VAR], c);
    double mean = given_mean, var = given_var;
    if (training) {
        double sum = 0.0;
        for (int64_t j = threadIdx.x; j < N * S; j += blockDim.x)
            sum += to_acc<double>(x[((j / S) * C + c) * S + j % S]);
        mean = block_sum(sum, scratch) / (double)(N * S);
        double square_sum = 0.0;
        for (int64_t j = threadIdx.x; j < N * S; j += blockDim.x) {
            double d = to_acc<double>(x[((j / S) * C + c) * S + j % S]) - mean;
            square_sum += d * d;
        }
        var = block_sum(square_sum, scratch) / (double)(N * S);
    }
    if (threadIdx.x != 0) return;
    double inv = 1.0 / sqrt(var + epsilon);
    coef[c] = mean;
    coef[C + c] = inv;
    coef[2 * C + c] = load_channel(p.data[ONYX_CUDA_NORM_SCALE], p.dtype[ONYX_CUDA_NORM_SCALE], c);
    coef[3 * C + c] = load_channel(p.data[ONYX_CUDA_NORM_BIAS], p.dtype[ONYX_CUDA_NORM_BIAS], c);
    double running_mean = given_mean, running_var = given_var;
    if (training) {
        running_mean = given_mean * momentum + mean * (1.0 - momentum);
        running_var = given_var * momentum + var * (1.0 - momentum);
    }
    double values[ONYX_CUDA_NORM_PARAMS] = {running_mean, running_var, mean, inv};
    for (int o = 0; o < ONYX_CUDA_NORM_PARAMS; o++)
        if (stats.data[o]) store_channel(stats.data[o], stats.dtype[o], c, values[o]);
}

/* Stage 2: y (N, C, S) from x with coef (4, C). */
template <typename T>
__global__ void batch_norm_apply_kernel(T *y, const T *x, const double *coef, int64_t total, int64_t C, int64_t S) {
    typedef typename wide_type<T>::type A;
    for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < total;
         e += (int64_t)gridDim.x * blockDim.x) {
        int64_t c = (e / S) % C;
        A mean = (A)coef[c], inv = (A)coef[C + c], scale = (A)coef[2 * C + c], bias = (A)coef[3 * C + c];
        y[e] = store_as<T, A>::go((to_acc<A>(x[e]) - mean) * inv * scale + bias);
    }
}

// ----------------------------------------------------------------------------
// CUDA kernels: MeanVarianceNormalization

/* x viewed as merged dims (adjacent dims of the same kind joined), each kept or reduced. */
struct mvn_layout {
    int m;
    int64_t dims[MATH_MAX_RANK], strides[MATH_MAX_RANK];
    int reduced[MATH_MAX_RANK];
    int64_t kept_count, red_count;
};

/* stats (2, kept_count): sum and sum of squares of each kept position; one block per position. */
template <typename T> __global__ void mvn_stats_kernel(double *stats, const T *x, mvn_layout l) {
    __shared__ double scratch[32];
    for (int64_t k = blockIdx.x; k < l.kept_count; k += gridDim.x) {
        int64_t base = 0, rest = k;
        for (int d = l.m - 1; d >= 0; d--)
            if (!l.reduced[d]) {
                base += (rest % l.dims[d]) * l.strides[d];
                rest /= l.dims[d];
            }
        double sum = 0.0, square_sum = 0.0;
        for (int64_t r = threadIdx.x; r < l.red_count; r += blockDim.x) {
            int64_t offset = base, left = r;
            for (int d = l.m - 1; d >= 0; d--)
                if (l.reduced[d]) {
                    offset += (left % l.dims[d]) * l.strides[d];
                    left /= l.dims[d];
                }
            double v = to_acc<double>(x[offset]);
            sum += v;
            square_sum += v * v;
        }
        sum = block_sum(sum, scratch);
        square_sum = block_sum(square_sum, scratch);
        if (threadIdx.x == 0) {
            stats[k] = sum;
            stats[l.kept_count + k] = square_sum;
        }
    }
}

/* y = (x - mean) / (sqrt(var) + 1e-9) with each element's kept position's stats. */
template <typename T> __global__ void mvn_apply_kernel(T *y, const T *x, const double *stats, mvn_layout l) {
    int64_t total = l.kept_count * l.red_count;
    for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < total;
         e += (int64_t)gridDim.x * blockDim.x) {
        int64_t k = 0, scale = 1, rest = e;
        for (int d = l.m - 1; d >= 0; d--) {
            int64_t coord = rest % l.dims[d];
            rest /= l.dims[d];
            if (!l.reduced[d]) {
                k += coord * scale;
                scale *= l.dims[d];
            }
        }
        double mean = stats[k] / (double)l.red_count;
        double var = stats[l.kept_count + k] / (double)l.red_count - mean * mean;
        y[e] = store_as<T, double>::go((to_acc<double>(x[e]) - mean) / (sqrt(var > 0 ? var : 0.0) + 1e-9));
    }
}

// ----------------------------------------------------------------------------
// CUDA kernels: quantization (the CPU's formulas: y = saturate(rint(x / scale) + zero_point)
// in float32, NaN to 0; x = (q - zero_point) * scale)

template <typename Q> __device__ __forceinline__ float quant_saturate(float v) {
    float lo = (Q)-1 > (Q)0 ? 0.0f : -128.0f, hi = (Q)-1 > (Q)0 ? 255.0f : 127.0f;
    if (isnan(v)) return 0.0f;
    return v < lo ? lo : v > hi ? hi : v;
}

/* y, x are (outer, channels, inner) flattened to total; scale, zero_point are (channels). */
template <typename TX, typename Q>
__global__ void quantize_kernel(Q *y, const TX *x, const float *scale, const Q *zero_point, int64_t total,
                                int64_t channels, int64_t inner) {
    for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < total;
         e += (int64_t)gridDim.x * blockDim.x) {
        int64_t c = channels == 1 ? 0 : (e / inner) % channels;
        float zero = zero_point ? (float)zero_point[c] : 0.0f;
        y[e] = (Q)quant_saturate<Q>(rintf((float)x[e] / scale[c]) + zero);
    }
}

template <typename Q>
__global__ void dequantize_kernel(float *y, const Q *x, const float *scale, const Q *zero_point, int64_t total,
                                  int64_t channels, int64_t inner) {
    for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < total;
         e += (int64_t)gridDim.x * blockDim.x) {
        int64_t c = channels == 1 ? 0 : (e / inner) % channels;
        long long zero = zero_point ? (long long)zero_point[c] : 0;
        y[e] = (float)((long long)x[e] - zero) * scale[c];
    }
}

/* DynamicQuantizeLinear, stage 1: each block's min and max of x (n) into range (blocks, 2). */
__global__ void dynamic_quantize_range_kernel(float *range, const float *x, int64_t n) {
    __shared__ float scratch[32];
    float lo = 0.0f, hi = 0.0f; /* the range always includes 0 */
    for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < n; e += (int64_t)gridDim.x * blockDim.x) {
        lo = fminf(lo, x[e]); /* NaN is skipped, as the CPU's comparisons skip it */
        hi = fmaxf(hi, x[e]);
    }
    hi = block_max(hi, scratch);
    lo = -block_max(-lo, scratch);
    if (threadIdx.x == 0) {
        range[2 * blockIdx.x] = lo;
        range[2 * blockIdx.x + 1] = hi;
    }
}

/* Stage 2 (one block): the whole range, then scale and zero point into params (2) and the
 * optional outputs. */
__global__ void dynamic_quantize_params_kernel(float *params, float *y_scale, uint8_t *y_zero_point,
                                               const float *range, int blocks) {
    __shared__ float scratch[32];
    float lo = 0.0f, hi = 0.0f;
    for (int b = threadIdx.x; b < blocks; b += blockDim.x) {
        lo = fminf(lo, range[2 * b]);
        hi = fmaxf(hi, range[2 * b + 1]);
    }
    hi = block_max(hi, scratch);
    lo = -block_max(-lo, scratch);
    if (threadIdx.x == 0) {
        float scale = (hi - lo) / 255.0f;
        float zero = scale == 0.0f ? 0.0f : quant_saturate<uint8_t>(rintf(0.0f - lo / scale));
        params[0] = scale;
        params[1] = zero;
        if (y_scale) *y_scale = scale;
        if (y_zero_point) *y_zero_point = (uint8_t)zero;
    }
}

/* Stage 3: y (n) = quantized x (n) with params (scale, zero point). */
__global__ void dynamic_quantize_apply_kernel(uint8_t *y, const float *x, const float *params, int64_t n) {
    float scale = params[0], zero = params[1];
    for (int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; e < n; e += (int64_t)gridDim.x * blockDim.x)
        y[e] = scale == 0.0f ? (uint8_t)zero : (uint8_t)quant_saturate<uint8_t>(rintf(x[e] / scale) + zero);
}

// ----------------------------------------------------------------------------
// kernel launchers

static inline unsigned grid_for(int64_t work, int threads, int64_t cap = 65536) {
    int64_t blocks = (work + threads - 1) / threads;
    if (blocks < 1) blocks = 1;
    return (unsigned)(blocks < cap ? blocks : cap);
}

/* Call fn.template operator()<T>() with T the element type of dtype; cudaErrorInvalidValue for
 * a dtype the math kernels do not take. */
template <typename F> static cudaError_t dispatch_dtype(int dtype, F &fn) {
    switch (dtype) {
    case ONYX_CUDA_DT_FLOAT32: return fn.template run<float>();
    case ONYX_CUDA_DT_FLOAT16: return fn.template run<__half>();
    case ONYX_CUDA_DT_BFLOAT16: return fn.template run<__nv_bfloat16>();
    case ONYX_CUDA_DT_FLOAT64: return fn.template run<double>();
    case ONYX_CUDA_DT_INT32: return fn.template run<int32_t>();
    case ONYX_CUDA_DT_INT64: return fn.template run<int64_t>();
    case ONYX_CUDA_DT_INT8: return fn.template run<int8_t>();
    case ONYX_CUDA_DT_UINT8: return fn.template run<uint8_t>();
    default: return cudaErrorInvalidValue;
    }
}

/* ---- Reduce* ---- */

/* How a reduction runs: rows (inner == 1; optionally split over blocks), columns
 * (outer, n, inner), or the generic walk. Dims of size 1 are dropped and neighbours of the same
 * kind merged first, so [B,T,C] over axis 2 is rows and [B,T,C] over axes 1 is columns. */
enum { REDUCE_PLAN_ROWS, REDUCE_PLAN_COLS, REDUCE_PLAN_GENERIC };
#define REDUCE_SPLIT_MIN_COLS 65536
#define REDUCE_SPLIT_MAX_ROWS 64
#define REDUCE_SPLIT_CHUNK 8192
#define REDUCE_SPLIT_MAX 1024

struct reduce_plan {
    int path;
    int64_t outer, n, inner;
    int splits; /* > 1: rows split over blocks, partial states in the workspace */
    reduce_layout layout;
};

static void reduce_plan_of(int rank, const int64_t *dims, const int *reduced, reduce_plan *p) {
    int64_t merged[MATH_MAX_RANK];
    int kind[MATH_MAX_RANK]; /* 1 = reduced */
    int m = 0;
    int64_t out_count = 1, red_count = 1;
    for (int d = 0; d < rank; d++) {
        if (reduced[d]) red_count *= dims[d];
        else out_count *= dims[d];
        if (dims[d] == 1) continue;
        if (m > 0 && kind[m - 1] == (reduced[d] != 0)) {
            merged[m - 1] *= dims[d];
        } else {
            merged[m] = dims[d];
            kind[m++] = reduced[d] != 0;
        }
    }
    *p = reduce_plan();
    p->splits = 1;
    p->layout.out_count = out_count;
    p->layout.red_count = red_count;
    int red_groups = 0, first_red = -1;
    for (int i = 0; i < m; i++)
        if (kind[i]) {
            red_groups++;
            if (first_red < 0) first_red = i;
        }
    if (red_count == 0 || red_groups == 0) { /* nothing or one element per output */
        p->path = REDUCE_PLAN_ROWS;
        p->outer = out_count;
        p->n = red_count;
        p->inner = 1;
        return;
    }
    if (red_groups == 1) {
        p->outer = 1;
        p->inner = 1;
        for (int i = 0; i < first_red; i++) p->outer *= merged[i];
        for (int i = first_red + 1; i < m; i++) p->inner *= merged[i];
        p->n = merged[first_red];
        p->path = p->inner == 1 ? REDUCE_PLAN_ROWS : REDUCE_PLAN_COLS;
        if (p->path == REDUCE_PLAN_ROWS && p->n >= REDUCE_SPLIT_MIN_COLS && p->outer <= REDUCE_SPLIT_MAX_ROWS) {
            int64_t splits = (p->n + REDUCE_SPLIT_CHUNK - 1) / REDUCE_SPLIT_CHUNK;
            p->splits = (int)(splits < REDUCE_SPLIT_MAX ? splits : REDUCE_SPLIT_MAX);
        }
        return;
    }
    p->path = REDUCE_PLAN_GENERIC;
    int64_t strides[MATH_MAX_RANK];
    int64_t stride = 1;
    for (int i = m - 1; i >= 0; i--) {
        strides[i] = stride;
        stride *= merged[i];
    }
    reduce_layout *l = &p->layout;
    for (int i = 0; i < m; i++) {
        if (kind[i]) {
            l->red_dims[l->n_red] = merged[i];
            l->red_strides[l->n_red++] = strides[i];
        } else {
            l->kept_dims[l->n_kept] = merged[i];
            l->kept_strides[l->n_kept++] = strides[i];
        }
    }
}

struct reduce_launch {
    int kind;
    const void *x;
    void *y;
    const reduce_plan *p;
    void *workspace;
    cudaStream_t stream;

    template <typename T, int KIND> cudaError_t run_kind() {
        typedef typename reduce_acc<T, KIND>::type A;
        const T *X = (const T *)x;
        T *Y = (T *)y;
        const reduce_plan &pl = *p;
        if (pl.layout.out_count == 0) return cudaSuccess;
        if (pl.path == REDUCE_PLAN_ROWS && pl.splits > 1) {
            int64_t chunk = (pl.n + pl.splits - 1) / pl.splits;
            reduce_state<A> *partial = (reduce_state<A> *)workspace;
            reduce_rows_split_kernel<KIND, T><<<dim3(pl.splits, (unsigned)pl.outer), 256, 0, stream>>>(partial, X, pl.n,
                                                                                                   chunk);
            reduce_rows_finish_kernel<KIND, T><<<(unsigned)pl.outer, 256, 0, stream>>>(Y, partial, pl.splits, pl.n);
        } else if (pl.path == REDUCE_PLAN_ROWS && pl.n <= 512) {
            reduce_rows_warp_kernel<KIND, T><<<grid_for(pl.outer, 8, INT32_MAX), 256, 0, stream>>>(Y, X, pl.outer, pl.n);
        } else if (pl.path == REDUCE_PLAN_ROWS) {
            int threads = pl.n >= 8192 ? 512 : 256;
            reduce_rows_block_kernel<KIND, T><<<grid_for(pl.outer, 1, 1 << 20), threads, 0, stream>>>(Y, X, pl.outer,
                                                                                                    pl.n);
        } else if (pl.path == REDUCE_PLAN_COLS) {
            int64_t tiles = (pl.inner + 31) / 32;
            reduce_cols_kernel<KIND, T><<<grid_for(pl.outer * tiles, 1, 1 << 20), dim3(32, 8), 0, stream>>>(
                Y, X, pl.outer, pl.n, pl.inner, tiles);
        } else {
            reduce_generic_kernel<KIND, T><<<grid_for(pl.layout.out_count, 256), 256, 0, stream>>>(Y, X, pl.layout);
        }
        return cudaGetLastError();
    }

    template <typename T> cudaError_t run() {
        switch (kind) {
        case ONYX_CUDA_REDUCE_SUM: return run_kind<T, ONYX_CUDA_REDUCE_SUM>();
        case ONYX_CUDA_REDUCE_MEAN: return run_kind<T, ONYX_CUDA_REDUCE_MEAN>();
        case ONYX_CUDA_REDUCE_MAX: return run_kind<T, ONYX_CUDA_REDUCE_MAX>();
        case ONYX_CUDA_REDUCE_MIN: return run_kind<T, ONYX_CUDA_REDUCE_MIN>();
        case ONYX_CUDA_REDUCE_PROD: return run_kind<T, ONYX_CUDA_REDUCE_PROD>();
        case ONYX_CUDA_REDUCE_L1: return run_kind<T, ONYX_CUDA_REDUCE_L1>();
        case ONYX_CUDA_REDUCE_L2: return run_kind<T, ONYX_CUDA_REDUCE_L2>();
        case ONYX_CUDA_REDUCE_SUM_SQUARE: return run_kind<T, ONYX_CUDA_REDUCE_SUM_SQUARE>();
        case ONYX_CUDA_REDUCE_LOG_SUM: return run_kind<T, ONYX_CUDA_REDUCE_LOG_SUM>();
        case ONYX_CUDA_REDUCE_LOG_SUM_EXP: return run_kind<T, ONYX_CUDA_REDUCE_LOG_SUM_EXP>();
        default: return cudaErrorInvalidValue;
        }
    }
};

/* Max/Min are the only reductions of int8/uint8 (the ONNX schemas'); instantiate no others. */
template <> cudaError_t reduce_launch::run<int8_t>() {
    if (kind == ONYX_CUDA_REDUCE_MAX) return run_kind<int8_t, ONYX_CUDA_REDUCE_MAX>();
    if (kind == ONYX_CUDA_REDUCE_MIN) return run_kind<int8_t, ONYX_CUDA_REDUCE_MIN>();
    return cudaErrorInvalidValue;
}
template <> cudaError_t reduce_launch::run<uint8_t>() {
    if (kind == ONYX_CUDA_REDUCE_MAX) return run_kind<uint8_t, ONYX_CUDA_REDUCE_MAX>();
    if (kind == ONYX_CUDA_REDUCE_MIN) return run_kind<uint8_t, ONYX_CUDA_REDUCE_MIN>();
    return cudaErrorInvalidValue;
}

} // namespace

extern "C" size_t onyx_cuda_reduce_workspace(int rank, const int64_t *dims, const int *reduced) {
    reduce_plan p;
    reduce_plan_of(rank, dims, reduced, &p);
    return p.splits > 1 ? (size_t)p.outer * (size_t)p.splits * sizeof(reduce_state<double>) : 0;
}

extern "C" cudaError_t onyx_cuda_reduce(int kind, int dtype, const void *x, void *y, int rank, const int64_t *dims,
                                        const int *reduced, void *workspace, size_t workspace_bytes,
                                        cudaStream_t stream) {
    if (rank > MATH_MAX_RANK) return cudaErrorInvalidValue;
    reduce_plan p;
    reduce_plan_of(rank, dims, reduced, &p);
    if (p.splits > 1 && workspace_bytes < (size_t)p.outer * (size_t)p.splits * sizeof(reduce_state<double>))
        return cudaErrorInvalidValue;
    reduce_launch launch = {kind, x, y, &p, workspace, stream};
    return dispatch_dtype(dtype, launch);
}

namespace {

/* ---- ArgMax / ArgMin ---- */

struct argmax_launch {
    int want_min, select_last;
    const void *x;
    int64_t *indices;
    int64_t outer, n, inner;
    cudaStream_t stream;
    template <typename T> cudaError_t run() {
        const T *X = (const T *)x;
        if (outer * inner == 0 || n == 0) return cudaSuccess;
        if (inner == 1 && n <= 256)
            argmax_rows_kernel<T><<<grid_for(outer, 8, INT32_MAX), 256, 0, stream>>>(indices, X, outer, n, want_min,
                                                                                    select_last, false);
        else if (inner == 1)
            argmax_rows_kernel<T><<<(unsigned)outer, 256, 0, stream>>>(indices, X, outer, n, want_min, select_last,
                                                                        true);
        else
            argmax_cols_kernel<T><<<grid_for(outer * inner, 256), 256, 0, stream>>>(indices, X, outer, n, inner,
                                                                                    want_min, select_last);
        return cudaGetLastError();
    }
};

} // namespace

extern "C" cudaError_t onyx_cuda_argmax(int dtype, int want_min, int select_last, const void *x, int64_t *indices,
                                        int64_t outer, int64_t n, int64_t inner, cudaStream_t stream) {
    if (inner == 1 && n > 256 && outer > INT32_MAX) return cudaErrorInvalidConfiguration;
    argmax_launch launch = {want_min, select_last, x, indices, outer, n, inner, stream};
    return dispatch_dtype(dtype, launch);
}

namespace {

/* ---- CumSum ---- */

struct cumsum_launch {
    int exclusive, reverse;
    const void *x;
    void *y;
    int64_t outer, n, inner;
    cudaStream_t stream;
    template <typename T> cudaError_t run() {
        const T *X = (const T *)x;
        T *Y = (T *)y;
        if (outer * n * inner == 0) return cudaSuccess;
        /* Short columns of many rows: a thread per column beats a block per row. */
        if (inner == 1 && n > 32)
            cumsum_rows_kernel<T><<<grid_for(outer, 1, 1 << 20), CUMSUM_THREADS, 0, stream>>>(Y, X, outer, n, exclusive,
                                                                                            reverse);
        else
            cumsum_cols_kernel<T><<<grid_for(outer * inner, 256), 256, 0, stream>>>(Y, X, outer, n, inner, exclusive,
                                                                                    reverse);
        return cudaGetLastError();
    }
};

} // namespace

extern "C" cudaError_t onyx_cuda_cumsum(int dtype, int exclusive, int reverse, const void *x, void *y, int64_t outer,
                                        int64_t n, int64_t inner, cudaStream_t stream) {
    cumsum_launch launch = {exclusive, reverse, x, y, outer, n, inner, stream};
    return dispatch_dtype(dtype, launch);
}

namespace {

/* ---- TopK ----
 * Chunked rounds while k <= TOPK_MAX_CHUNK / 4: each round sorts chunks of at most
 * TOPK_MAX_CHUNK entries per slice in shared memory and keeps the best k of each, so every
 * round shrinks the candidates at least 4x (a 50257-entry vocabulary with k = 50: 13 chunks, then
 * one chunk of 650). A larger k on long rows falls back to one bitonic sort of each whole slice
 * in global memory. */

static int64_t next_pow2(int64_t v) {
    int64_t p = 1;
    while (p < v) p <<= 1;
    return p;
}

static bool topk_chunked(int64_t n, int64_t k) { return n <= TOPK_MAX_CHUNK || k <= TOPK_MAX_CHUNK / 4; }

} // namespace

extern "C" size_t onyx_cuda_topk_workspace(int64_t slices, int64_t n, int64_t k) {
    if (k == 0 || slices == 0) return 0;
    if (topk_chunked(n, k)) {
        if (n <= TOPK_MAX_CHUNK) return 0;
        int64_t chunks = (n + TOPK_MAX_CHUNK - 1) / TOPK_MAX_CHUNK;
        size_t entries = (size_t)(slices * chunks * k);
        return 2 * entries * (sizeof(uint64_t) + sizeof(uint32_t)) + 16;
    }
    size_t entries = (size_t)(slices * next_pow2(n));
    return entries * (sizeof(uint64_t) + sizeof(uint32_t)) + 16;
}

namespace {

struct topk_launch {
    int largest;
    const void *x;
    void *values;
    int64_t *indices;
    int64_t outer, n, inner, k;
    void *workspace;
    size_t workspace_bytes;
    cudaStream_t stream;

    template <typename T> cudaError_t run() {
        const T *X = (const T *)x;
        T *V = (T *)values;
        int64_t slices = outer * inner;
        if (k == 0 || slices == 0) return cudaSuccess;
        if (workspace_bytes < onyx_cuda_topk_workspace(slices, n, k)) return cudaErrorInvalidValue;
        if (topk_chunked(n, k)) {
            int64_t first_chunks = (n + TOPK_MAX_CHUNK - 1) / TOPK_MAX_CHUNK;
            size_t entries = (size_t)(slices * first_chunks * k);
            uint64_t *keys[2] = {(uint64_t *)workspace, (uint64_t *)workspace + entries};
            uint32_t *index[2] = {(uint32_t *)(keys[1] + entries), (uint32_t *)(keys[1] + entries) + entries};
            int64_t n_in = n;
            int round = 0;
            for (;;) {
                int64_t chunk_size = next_pow2(n_in < TOPK_MAX_CHUNK ? n_in : TOPK_MAX_CHUNK);
                int64_t chunks = (n_in + chunk_size - 1) / chunk_size;
                bool last_round = chunks == 1;
                int threads = (int)(chunk_size / 2 < 32 ? 32 : chunk_size / 2 > 1024 ? 1024 : chunk_size / 2);
                size_t shared = (size_t)chunk_size * (sizeof(uint64_t) + sizeof(uint32_t));
                int from = (round + 1) & 1, to = round & 1;
                if (slices * chunks > INT32_MAX) return cudaErrorInvalidConfiguration;
                topk_chunk_kernel<T><<<(unsigned)(slices * chunks), threads, shared, stream>>>(
                    X, round ? keys[from] : NULL, round ? index[from] : NULL, keys[to], index[to], V, indices, n,
                    inner, n_in, chunks, (int)chunk_size, k, largest, round == 0, last_round);
                cudaError_t err = cudaGetLastError();
                if (err != cudaSuccess || last_round) return err;
                n_in = chunks * k;
                round++;
            }
        }
        int64_t size = next_pow2(n);
        uint64_t *keys = (uint64_t *)workspace;
        uint32_t *index = (uint32_t *)(keys + slices * size);
        int64_t total = slices * size;
        topk_fill_kernel<T><<<grid_for(total, 256), 256, 0, stream>>>(keys, index, X, slices, n, inner, size, largest);
        for (int64_t kk = 2; kk <= size; kk <<= 1)
            for (int64_t j = kk >> 1; j > 0; j >>= 1)
                topk_bitonic_step_kernel<<<grid_for(total, 256), 256, 0, stream>>>(keys, index, total, size, kk, j);
        topk_emit_kernel<T><<<grid_for(slices * k, 256), 256, 0, stream>>>(V, indices, index, X, slices, n, inner, size,
                                                                           k);
        return cudaGetLastError();
    }
};

} // namespace

extern "C" cudaError_t onyx_cuda_topk(int dtype, int largest, const void *x, void *values, int64_t *indices,
                                      int64_t outer, int64_t n, int64_t inner, int64_t k, void *workspace,
                                      size_t workspace_bytes, cudaStream_t stream) {
    if (n >= (int64_t)TOPK_NO_INDEX) return cudaErrorInvalidValue;
    topk_launch launch = {largest, x, values, indices, outer, n, inner, k, workspace, workspace_bytes, stream};
    return dispatch_dtype(dtype, launch);
}

namespace {

/* ---- Softmax / LogSoftmax ---- */

#define SOFTMAX_SHARED_MAX (47 * 1024) /* under the 48 KiB a block gets without opt-in, with its scratch */

struct softmax_launch {
    int log_output;
    const void *x;
    void *y;
    int64_t outer, n, inner;
    cudaStream_t stream;
    softmax_pre pre;

    /* ScaleAddSoftmax in packets: x's and the bias's rows are contiguous, and every row starts
     * on a 16-byte boundary of both (each row dim's stride a whole number of packets). */
    template <typename T> bool softmax_pre_vectorizable() const {
        const int64_t vec = 16 / (int64_t)sizeof(T);
        if (pre.x_last != 1 || pre.b_last != 1 || !rows_vectorizable<T>(n, x, y, pre.bias)) return false;
        for (int d = 0; d < pre.rank; d++)
            if (pre.x_strides[d] % vec != 0 || pre.b_strides[d] % vec != 0) return false;
        return true;
    }

    template <typename T, int ITEMS, int VEC> cudaError_t warp_rows() {
        softmax_rows_warp_kernel<T, ITEMS, VEC><<<grid_for(outer, 4, INT32_MAX), 128, 0, stream>>>(
            (T *)y, (const T *)x, outer, (int)n, log_output, pre);
        return cudaGetLastError();
    }

    /* Rows of n <= 1024 in packets of VEC: at most 32 elements a lane. */
    template <typename T, int VEC> cudaError_t warp_rows_of() {
        int64_t packets = n / VEC;
        if (packets <= 32) return warp_rows<T, 1, VEC>();
        if (packets <= 64) return warp_rows<T, 2, VEC>();
        if constexpr (VEC <= 8) {
            if (packets <= 128) return warp_rows<T, 4, VEC>();
        }
        if constexpr (VEC <= 4) {
            if (packets <= 256) return warp_rows<T, 8, VEC>();
        }
        if constexpr (VEC <= 2) {
            if (packets <= 512) return warp_rows<T, 16, VEC>();
        }
        if constexpr (VEC == 1) return warp_rows<T, 32, VEC>();
        return cudaErrorInvalidValue; /* n > 1024: not called */
    }

    template <typename T> cudaError_t run() {
        typedef typename wide_type<T>::type A;
        if (outer * n * inner == 0) return cudaSuccess;
        if (inner == 1 && n <= 1024) {
            if (!pre.bias && rows_vectorizable<T>(n, x, y)) return warp_rows_of<T, 16 / (int)sizeof(T)>();
            if (pre.bias && softmax_pre_vectorizable<T>()) return warp_rows_of<T, 16 / (int)sizeof(T)>();
            return warp_rows_of<T, 1>();
        }
        if (inner == 1) {
            size_t shared = (size_t)n * sizeof(A);
            unsigned blocks = grid_for(outer, 1, 1 << 20);
            if (shared <= SOFTMAX_SHARED_MAX)
                softmax_rows_block_kernel<T, true><<<blocks, 512, shared, stream>>>((T *)y, (const T *)x, outer, n,
                                                                                    log_output, pre);
            else
                softmax_rows_block_kernel<T, false><<<blocks, 1024, 0, stream>>>((T *)y, (const T *)x, outer, n,
                                                                                 log_output, pre);
            return cudaGetLastError();
        }
        softmax_cols_kernel<T><<<grid_for(outer * inner, 256), 256, 0, stream>>>((T *)y, (const T *)x, outer, n, inner,
                                                                                 log_output);
        return cudaGetLastError();
    }
};

} // namespace

static cudaError_t softmax_dispatch(int dtype, const softmax_launch &launch_in) {
    softmax_launch launch = launch_in;
    switch (dtype) {
    case ONYX_CUDA_DT_FLOAT32: return launch.run<float>();
    case ONYX_CUDA_DT_FLOAT16: return launch.run<__half>();
    case ONYX_CUDA_DT_BFLOAT16: return launch.run<__nv_bfloat16>();
    default: return launch.run<double>();
    }
}

extern "C" cudaError_t onyx_cuda_softmax(int dtype, int log_output, const void *x, void *y, int64_t outer,
                                         int64_t n, int64_t inner, cudaStream_t stream) {
    if (dtype != ONYX_CUDA_DT_FLOAT32 && dtype != ONYX_CUDA_DT_FLOAT16 && dtype != ONYX_CUDA_DT_BFLOAT16 &&
        dtype != ONYX_CUDA_DT_FLOAT64)
        return cudaErrorInvalidValue;
    softmax_launch launch = {log_output, x, y, outer, n, inner, stream, {}};
    return softmax_dispatch(dtype, launch);
}

extern "C" cudaError_t onyx_cuda_scale_add_softmax(int dtype, const void *x, const void *bias, void *y, int64_t rows,
                                                   int64_t n, float scale, int use_scale, int rank,
                                                   const int64_t *dims, const int64_t *x_strides,
                                                   const int64_t *b_strides, int64_t x_last, int64_t b_last,
                                                   cudaStream_t stream) {
    if ((dtype != ONYX_CUDA_DT_FLOAT32 && dtype != ONYX_CUDA_DT_FLOAT16 && dtype != ONYX_CUDA_DT_BFLOAT16 &&
         dtype != ONYX_CUDA_DT_FLOAT64) ||
        rank < 0 || rank > SOFTMAX_PRE_RANK || !bias)
        return cudaErrorInvalidValue;
    softmax_launch launch = {0, x, y, rows, n, 1, stream, {}};
    launch.pre.bias = bias;
    launch.pre.scale = scale;
    launch.pre.use_scale = use_scale;
    launch.pre.rank = rank;
    for (int d = 0; d < rank; d++) {
        launch.pre.dims[d] = dims[d];
        launch.pre.x_strides[d] = x_strides[d];
        launch.pre.b_strides[d] = b_strides[d];
    }
    launch.pre.x_last = x_last;
    launch.pre.b_last = b_last;
    return softmax_dispatch(dtype, launch);
}

namespace {

/* ---- LayerNormalization ---- */

struct layer_norm_launch {
    const void *x, *scale, *bias;
    void *y;
    float *mean, *inv_std;
    int64_t rows, cols;
    double epsilon;
    bool rms;
    cudaStream_t stream;
    const void *skip, *skip_bias;
    void *sum_out;

    template <typename T> ln_skip<T> skip_of() const { return {(const T *)skip, (const T *)skip_bias, (T *)sum_out}; }

    template <typename T, int ITEMS, int VEC> cudaError_t in_registers() {
        int64_t threads = (cols / VEC + ITEMS - 1) / ITEMS;
        threads = threads < 32 ? 32 : (threads + 31) / 32 * 32;
        if (threads > LN_BLOCK_BOUND(ITEMS, VEC)) return long_rows<T>(); /* not reached: rows_of picks ITEMS */
        layer_norm_rows_kernel<T, ITEMS, VEC><<<grid_for(rows, 1, 1 << 20), (unsigned)threads, 0, stream>>>(
            (T *)y, mean, inv_std, (const T *)x, (const T *)scale, (const T *)bias, rows, (int)cols, epsilon, rms,
            skip_of<T>());
        return cudaGetLastError();
    }

    /* The smallest ITEMS (a power of two) that covers the row with LN_THREADS threads; rows
     * longer than LN_THREADS * LN_MAX_ELEMS take the widest ITEMS and more threads, up to
     * LN_MAX_THREADS. C = 768: float32 192 threads of one 4-packet, float16 96 threads of one
     * 8-packet; C = 4096: float32 256 threads of four 4-packets, float16 256 of two 8-packets. */
    template <typename T, int VEC> cudaError_t rows_of() {
        const int max_items = LN_MAX_ELEMS / VEC;
        int64_t packets = cols / VEC;
        if (packets <= LN_THREADS) return in_registers<T, 1, VEC>();
        if constexpr (LN_MAX_ELEMS / VEC >= 2) {
            if (packets <= (max_items == 2 ? LN_MAX_THREADS : LN_THREADS) * 2) return in_registers<T, 2, VEC>();
        }
        if constexpr (LN_MAX_ELEMS / VEC >= 4) {
            if (packets <= (max_items == 4 ? LN_MAX_THREADS : LN_THREADS) * 4) return in_registers<T, 4, VEC>();
        }
        if constexpr (LN_MAX_ELEMS / VEC >= 8) {
            if (packets <= (max_items == 8 ? LN_MAX_THREADS : LN_THREADS) * 8) return in_registers<T, 8, VEC>();
        }
        if constexpr (LN_MAX_ELEMS / VEC >= 16) {
            if (packets <= LN_MAX_THREADS * 16) return in_registers<T, 16, VEC>();
        }
        return long_rows<T>();
    }

    template <typename T> cudaError_t long_rows() {
        layer_norm_long_rows_kernel<T><<<grid_for(rows, 1, 1 << 20), 1024, 0, stream>>>(
            (T *)y, mean, inv_std, (const T *)x, (const T *)scale, (const T *)bias, rows, cols, epsilon, rms,
            skip_of<T>());
        return cudaGetLastError();
    }

    template <typename T> cudaError_t run() {
        if (rows == 0) return cudaSuccess;
        if (cols > LN_REGISTER_COLS) return long_rows<T>();
        if (rows_vectorizable<T>(cols, x, y, scale, bias) && rows_vectorizable<T>(cols, skip, skip_bias, sum_out))
            return rows_of<T, 16 / (int)sizeof(T)>();
        return rows_of<T, 1>();
    }
};

} // namespace

extern "C" cudaError_t onyx_cuda_layer_norm(int dtype, const void *x, const void *scale, const void *bias, void *y,
                                            float *mean, float *inv_std, int64_t rows, int64_t cols, double epsilon,
                                            int rms, const void *skip, const void *skip_bias, void *sum_out,
                                            cudaStream_t stream) {
    if (skip && !sum_out && cols > LN_REGISTER_COLS) return cudaErrorInvalidValue; /* long rows keep the sum */
    layer_norm_launch launch = {x, scale, bias, y, mean, inv_std, rows, cols, epsilon, rms != 0, stream,
                                skip, skip_bias, sum_out};
    switch (dtype) {
    case ONYX_CUDA_DT_FLOAT32: return launch.run<float>();
    case ONYX_CUDA_DT_FLOAT16: return launch.run<__half>();
    case ONYX_CUDA_DT_BFLOAT16: return launch.run<__nv_bfloat16>();
    case ONYX_CUDA_DT_FLOAT64: return launch.run<double>();
    default: return cudaErrorInvalidValue;
    }
}

namespace {

/* ---- Hardmax ---- */

} // namespace

extern "C" size_t onyx_cuda_hardmax_workspace(int64_t outer, int64_t inner) {
    return (size_t)(outer * inner) * sizeof(int64_t);
}

namespace {

struct hardmax_launch {
    const void *x;
    void *y;
    int64_t outer, n, inner;
    int64_t *argmax;
    cudaStream_t stream;
    template <typename T> cudaError_t run() {
        hardmax_fill_kernel<T><<<grid_for(outer * n * inner, 256), 256, 0, stream>>>((T *)y, argmax, outer, n, inner);
        return cudaGetLastError();
    }
};

} // namespace

extern "C" cudaError_t onyx_cuda_hardmax(int dtype, const void *x, void *y, int64_t outer, int64_t n, int64_t inner,
                                         void *workspace, size_t workspace_bytes, cudaStream_t stream) {
    if (outer * n * inner == 0) return cudaSuccess;
    if (workspace_bytes < onyx_cuda_hardmax_workspace(outer, inner)) return cudaErrorInvalidValue;
    int64_t *argmax = (int64_t *)workspace;
    cudaError_t err = onyx_cuda_argmax(dtype, 0, 0, x, argmax, outer, n, inner, stream);
    if (err != cudaSuccess) return err;
    hardmax_launch launch = {x, y, outer, n, inner, argmax, stream};
    switch (dtype) {
    case ONYX_CUDA_DT_FLOAT32: return launch.run<float>();
    case ONYX_CUDA_DT_FLOAT16: return launch.run<__half>();
    case ONYX_CUDA_DT_BFLOAT16: return launch.run<__nv_bfloat16>();
    case ONYX_CUDA_DT_FLOAT64: return launch.run<double>();
    default: return cudaErrorInvalidValue;
    }
}

namespace {

/* ---- InstanceNormalization / BatchNormalization ---- */

static channel_tensors channel_tensors_of(const void *const *params, const int *dtypes) {
    channel_tensors p;
    for (int i = 0; i < ONYX_CUDA_NORM_PARAMS; i++) {
        p.data[i] = params[i];
        p.dtype[i] = dtypes[i];
    }
    return p;
}

struct channel_norm_launch {
    const void *x;
    void *y;
    channel_tensors params;
    channel_outputs stats;
    bool batch, training;
    double momentum, epsilon;
    int64_t N, C, S;
    double *coef;
    cudaStream_t stream;
    template <typename T> cudaError_t run() {
        if (!batch) {
            int threads = S >= 1024 ? 512 : S >= 256 ? 256 : 128;
            instance_norm_kernel<T><<<grid_for(N * C, 1, 1 << 20), threads, 0, stream>>>((T *)y, (const T *)x, params,
                                                                                       N * C, C, S, epsilon);
            return cudaGetLastError();
        }
        batch_norm_coef_kernel<T><<<(unsigned)C, 256, 0, stream>>>(coef, (const T *)x, params, stats, training,
                                                                   momentum, epsilon, N, C, S);
        if (N * C * S > 0)
            batch_norm_apply_kernel<T><<<grid_for(N * C * S, 256), 256, 0, stream>>>((T *)y, (const T *)x, coef,
                                                                                    N * C * S, C, S);
        return cudaGetLastError();
    }
    cudaError_t dispatch(int dtype) {
        switch (dtype) {
        case ONYX_CUDA_DT_FLOAT32: return run<float>();
        case ONYX_CUDA_DT_FLOAT16: return run<__half>();
        case ONYX_CUDA_DT_BFLOAT16: return run<__nv_bfloat16>();
        case ONYX_CUDA_DT_FLOAT64: return run<double>();
        default: return cudaErrorInvalidValue;
        }
    }
};

} // namespace

extern "C" cudaError_t onyx_cuda_instance_norm(int dtype, const void *x, void *y, const void *const *params,
                                               const int *param_dtypes, int64_t N, int64_t C, int64_t S,
                                               double epsilon, cudaStream_t stream) {
    if (N * C * S == 0) return cudaSuccess;
    channel_norm_launch launch = {};
    launch.x = x;
    launch.y = y;
    launch.params = channel_tensors_of(params, param_dtypes);
    launch.epsilon = epsilon;
    launch.N = N;
    launch.C = C;
    launch.S = S;
    launch.stream = stream;
    return launch.dispatch(dtype);
}

extern "C" size_t onyx_cuda_batch_norm_workspace(int64_t C) { return (size_t)(4 * C) * sizeof(double); }

extern "C" cudaError_t onyx_cuda_batch_norm(int dtype, const void *x, void *y, const void *const *params,
                                            const int *param_dtypes, void *const *stats, const int *stats_dtypes,
                                            int training, double momentum, double epsilon, int64_t N, int64_t C,
                                            int64_t S, void *workspace, size_t workspace_bytes, cudaStream_t stream) {
    if (C == 0) return cudaSuccess;
    if (C > INT32_MAX || workspace_bytes < onyx_cuda_batch_norm_workspace(C)) return cudaErrorInvalidValue;
    channel_norm_launch launch = {};
    launch.x = x;
    launch.y = y;
    launch.params = channel_tensors_of(params, param_dtypes);
    for (int i = 0; i < ONYX_CUDA_NORM_PARAMS; i++) {
        launch.stats.data[i] = stats[i];
        launch.stats.dtype[i] = stats_dtypes[i];
    }
    launch.batch = true;
    launch.training = training != 0;
    launch.momentum = momentum;
    launch.epsilon = epsilon;
    launch.N = N;
    launch.C = C;
    launch.S = S;
    launch.coef = (double *)workspace;
    launch.stream = stream;
    return launch.dispatch(dtype);
}

namespace {

/* ---- MeanVarianceNormalization ---- */

static void mvn_layout_of(int rank, const int64_t *dims, const int *reduced, mvn_layout *l) {
    *l = mvn_layout();
    l->kept_count = 1;
    l->red_count = 1;
    for (int d = 0; d < rank; d++) {
        if (reduced[d]) l->red_count *= dims[d];
        else l->kept_count *= dims[d];
        if (dims[d] == 1) continue;
        if (l->m > 0 && l->reduced[l->m - 1] == (reduced[d] != 0)) {
            l->dims[l->m - 1] *= dims[d];
        } else {
            l->dims[l->m] = dims[d];
            l->reduced[l->m++] = reduced[d] != 0;
        }
    }
    int64_t stride = 1;
    for (int i = l->m - 1; i >= 0; i--) {
        l->strides[i] = stride;
        stride *= l->dims[i];
    }
}

} // namespace

extern "C" size_t onyx_cuda_mvn_workspace(int rank, const int64_t *dims, const int *reduced) {
    mvn_layout l;
    mvn_layout_of(rank, dims, reduced, &l);
    return (size_t)(l.kept_count ? l.kept_count : 1) * 2 * sizeof(double);
}

namespace {

struct mvn_launch {
    const void *x;
    void *y;
    const mvn_layout *l;
    double *stats;
    cudaStream_t stream;
    template <typename T> cudaError_t run() {
        mvn_stats_kernel<T><<<grid_for(l->kept_count, 1, 1 << 20), 256, 0, stream>>>(stats, (const T *)x, *l);
        mvn_apply_kernel<T><<<grid_for(l->kept_count * l->red_count, 256), 256, 0, stream>>>((T *)y, (const T *)x,
                                                                                           stats, *l);
        return cudaGetLastError();
    }
};

} // namespace

extern "C" cudaError_t onyx_cuda_mvn(int dtype, const void *x, void *y, int rank, const int64_t *dims,
                                     const int *reduced, void *workspace, size_t workspace_bytes,
                                     cudaStream_t stream) {
    if (rank > MATH_MAX_RANK) return cudaErrorInvalidValue;
    mvn_layout l;
    mvn_layout_of(rank, dims, reduced, &l);
    if (l.kept_count * l.red_count == 0) return cudaSuccess;
    if (workspace_bytes < onyx_cuda_mvn_workspace(rank, dims, reduced)) return cudaErrorInvalidValue;
    mvn_launch launch = {x, y, &l, (double *)workspace, stream};
    switch (dtype) {
    case ONYX_CUDA_DT_FLOAT32: return launch.run<float>();
    case ONYX_CUDA_DT_FLOAT16: return launch.run<__half>();
    case ONYX_CUDA_DT_BFLOAT16: return launch.run<__nv_bfloat16>();
    case ONYX_CUDA_DT_FLOAT64: return launch.run<double>();
    default: return cudaErrorInvalidValue;
    }
}

namespace {

/* ---- Quantization ---- */

template <typename TX>
static cudaError_t quantize_typed(int y_dtype, const TX *x, const float *scale, const void *zero_point, void *y,
                                  int64_t total, int64_t channels, int64_t inner, cudaStream_t stream) {
    unsigned blocks = grid_for(total, 256, 8192);
    if (y_dtype == ONYX_CUDA_DT_INT8)
        quantize_kernel<TX, int8_t><<<blocks, 256, 0, stream>>>((int8_t *)y, x, scale, (const int8_t *)zero_point,
                                                                total, channels, inner);
    else if (y_dtype == ONYX_CUDA_DT_UINT8)
        quantize_kernel<TX, uint8_t><<<blocks, 256, 0, stream>>>((uint8_t *)y, x, scale, (const uint8_t *)zero_point,
                                                                 total, channels, inner);
    else
        return cudaErrorInvalidValue;
    return cudaGetLastError();
}

} // namespace

extern "C" cudaError_t onyx_cuda_quantize_linear(int x_dtype, int y_dtype, const void *x, const float *scale,
                                                 const void *zero_point, void *y, int64_t total, int64_t channels,
                                                 int64_t inner, cudaStream_t stream) {
    if (total == 0) return cudaSuccess;
    if (x_dtype == ONYX_CUDA_DT_FLOAT32)
        return quantize_typed(y_dtype, (const float *)x, scale, zero_point, y, total, channels, inner, stream);
    if (x_dtype == ONYX_CUDA_DT_INT32)
        return quantize_typed(y_dtype, (const int32_t *)x, scale, zero_point, y, total, channels, inner, stream);
    return cudaErrorInvalidValue;
}

extern "C" cudaError_t onyx_cuda_dequantize_linear(int x_dtype, const void *x, const float *scale,
                                                   const void *zero_point, float *y, int64_t total, int64_t channels,
                                                   int64_t inner, cudaStream_t stream) {
    if (total == 0) return cudaSuccess;
    unsigned blocks = grid_for(total, 256, 8192);
    switch (x_dtype) {
    case ONYX_CUDA_DT_INT8:
        dequantize_kernel<int8_t><<<blocks, 256, 0, stream>>>(y, (const int8_t *)x, scale, (const int8_t *)zero_point,
                                                              total, channels, inner);
        break;
    case ONYX_CUDA_DT_UINT8:
        dequantize_kernel<uint8_t><<<blocks, 256, 0, stream>>>(y, (const uint8_t *)x, scale,
                                                               (const uint8_t *)zero_point, total, channels, inner);
        break;
    case ONYX_CUDA_DT_INT32:
        dequantize_kernel<int32_t><<<blocks, 256, 0, stream>>>(y, (const int32_t *)x, scale,
                                                               (const int32_t *)zero_point, total, channels, inner);
        break;
    default: return cudaErrorInvalidValue;
    }
    return cudaGetLastError();
}

namespace {

#define DYNAMIC_QUANTIZE_BLOCKS 1024

static unsigned dynamic_quantize_blocks(int64_t n) { return grid_for(n, 256, DYNAMIC_QUANTIZE_BLOCKS); }

} // namespace

extern "C" size_t onyx_cuda_dynamic_quantize_workspace(int64_t n) {
    return (2 + 2 * (size_t)dynamic_quantize_blocks(n)) * sizeof(float);
}

extern "C" cudaError_t onyx_cuda_dynamic_quantize_linear(const float *x, uint8_t *y, float *y_scale,
                                                         uint8_t *y_zero_point, int64_t n, void *workspace,
                                                         size_t workspace_bytes, cudaStream_t stream) {
    if (workspace_bytes < onyx_cuda_dynamic_quantize_workspace(n)) return cudaErrorInvalidValue;
    float *params = (float *)workspace, *range = params + 2;
    unsigned blocks = dynamic_quantize_blocks(n);
    dynamic_quantize_range_kernel<<<blocks, 256, 0, stream>>>(range, x, n);
    dynamic_quantize_params_kernel<<<1, 1024, 0, stream>>>(params, y_scale, y_zero_point, range, (int)blocks);
    if (n > 0) dynamic_quantize_apply_kernel<<<blocks, 256, 0, stream>>>(y, x, params, n);
    return cudaGetLastError();
}
