/*
 * matmul.cu - CUDA kernels of the matmul family that cuBLASLt does not cover (matmul.c runs
 * float GEMMs through cuBLASLt and calls these for the rest; matmul_launch.h documents each).
 *
 *  - gemm_tiled_kernel: one 64x64 output tile per block of 256 threads, 4x4 outputs per
 *    thread, operands staged through shared memory 16 columns of K at a time (converted to the
 *    accumulator type as they are staged, zero points subtracted there for MatMulInteger).
 *    It serves integer MatMul/Gemm, MatMulInteger, and float products when cuBLASLt has no
 *    algorithm. Batches are blockIdx.z with uniform strides.
 *  - skinny_gemm_kernel: products of at most SKINNY_MAX_M rows (decode steps: one row per
 *    sequence or beam), float32/float16/bfloat16, B row-major (K, N). The step reads every
 *    weight once, so the product is a stream over B: a block owns 4 column groups of VEC columns
 *    (16-byte loads) and all of K, split over its 64 threads per group (8 lanes of a warp times
 *    8 warps); with several rows, A's rows are staged in shared memory as float, 256 columns of
 *    K at a time; lanes reduce by shuffles (a reduce-scatter when each holds 8 or more sums),
 *    warps through shared memory, then alpha and the bias are applied. Rows that are not
 *    16-byte multiples (an LM head of 50257 columns) take single elements, a warp across 32 columns. A product of too few column blocks to fill the GPU
 *    also splits K over blocks (grid z); the last block of a column block adds the splits' sums
 *    in a fixed order. One kernel where cuBLASLt ran a split-K GEMM and its reduction, and no
 *    heuristic query for the attention products, whose shapes grow with every step.
 *  - broadcast_matrix_kernel: Gemm's C copied into Y (M, N) through broadcast strides.
 *  - strided_copy_kernel: a permuted/broadcast view copied contiguous (Einsum operands).
 *  - einsum_generic_kernel: one thread per output element, summing over the summed labels in
 *    float64 like the CPU kernel.
 *
 * Legend: M = rows of op(A) and Y, K = inner dimension, N = columns of op(B) and Y.
 */
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "providers/cuda/matmul_launch.h"

#define GEMM_TILE_M 64
#define GEMM_TILE_N 64
#define GEMM_TILE_K 16
#define GEMM_THREADS 256 /* 16 x 16, each 4 x 4 outputs */
#define GRID_Y_MAX 65535
#define GRID_Z_MAX 65535

// ----------------------------------------------------------------------------
// element conversion

template <typename Acc, typename T> __device__ __forceinline__ Acc load_as(const T *p, int64_t i) {
    return static_cast<Acc>(p[i]);
}
template <> __device__ __forceinline__ float load_as<float, __half>(const __half *p, int64_t i) {
    return __half2float(p[i]);
}
template <> __device__ __forceinline__ float load_as<float, __nv_bfloat16>(const __nv_bfloat16 *p, int64_t i) {
    return __bfloat162float(p[i]);
}
template <> __device__ __forceinline__ double load_as<double, __half>(const __half *p, int64_t i) {
    return (double)__half2float(p[i]);
}
template <> __device__ __forceinline__ double load_as<double, __nv_bfloat16>(const __nv_bfloat16 *p, int64_t i) {
    return (double)__bfloat162float(p[i]);
}
/* Integers convert with static_cast: signed to unsigned accumulators is the modular (two's
 * complement) conversion the integer dtypes' wrap-around needs. */

template <typename T, typename Acc> __device__ __forceinline__ void store_from(T *p, int64_t i, Acc v) {
    p[i] = static_cast<T>(v);
}
template <> __device__ __forceinline__ void store_from<__half, float>(__half *p, int64_t i, float v) {
    p[i] = __float2half_rn(v);
}
template <> __device__ __forceinline__ void store_from<__nv_bfloat16, float>(__nv_bfloat16 *p, int64_t i, float v) {
    p[i] = __float2bfloat16_rn(v);
}

/* CPU math_store for a float64 value: floats round, integers truncate toward zero with NaN and
 * out-of-range values stored as 0 and negative values of unsigned types as 0. */
template <typename T> __device__ __forceinline__ void store_f64(T *p, int64_t i, double v) {
    if (!(v > -9.3e18 && v < 1.8e19)) v = 0.0;
    if (v < 0) v = 0.0;
    p[i] = static_cast<T>((uint64_t)v);
}
template <> __device__ __forceinline__ void store_f64<float>(float *p, int64_t i, double v) { p[i] = (float)v; }
template <> __device__ __forceinline__ void store_f64<double>(double *p, int64_t i, double v) { p[i] = v; }
template <> __device__ __forceinline__ void store_f64<__half>(__half *p, int64_t i, double v) {
    p[i] = __float2half_rn((float)v);
}
template <> __device__ __forceinline__ void store_f64<__nv_bfloat16>(__nv_bfloat16 *p, int64_t i, double v) {
    p[i] = __float2bfloat16_rn((float)v);
}
#define STORE_F64_SIGNED(T)                                                                       \
    template <> __device__ __forceinline__ void store_f64<T>(T * p, int64_t i, double v) {        \
        if (!(v > -9.3e18 && v < 1.8e19)) v = 0.0;                                                \
        p[i] = (T)(int64_t)v;                                                                     \
    }
STORE_F64_SIGNED(int8_t)
STORE_F64_SIGNED(int16_t)
STORE_F64_SIGNED(int32_t)
STORE_F64_SIGNED(int64_t)

// ----------------------------------------------------------------------------
// CUDA kernels

/* Columns of K whose A values a several-row skinny block stages in shared memory at a time (a
 * multiple of every shape's step), and the row stride of that stage: MR floats, 8 padded to 12 so
 * that the 8 k rows one warp reads with 16-byte loads fall in distinct banks. */
#define SKINNY_A_STAGE 256
template <int MR> struct skinny_a_pad {
    static constexpr int value = MR == 8 ? 12 : MR;
};

/* x[0, MR) = row[0, MR) from shared memory, by 16-byte loads when MR is a multiple of 4. */
template <int MR> __device__ __forceinline__ void skinny_a_row(float *x, const float *row) {
    if constexpr (MR % 4 == 0) {
#pragma unroll
        for (int i = 0; i < MR; i += 4) {
            float4 v = *(const float4 *)(row + i);
            x[i] = v.x, x[i + 1] = v.y, x[i + 2] = v.z, x[i + 3] = v.w;
        }
    } else {
#pragma unroll
        for (int i = 0; i < MR; i++) x[i] = row[i];
    }
}

/* One level of a reduce-scatter over lanes off apart: v[0, 2N) holds this lane's sums; the
 * lane keeps the upper or the lower half, sends its partner the other, and adds the partner's
 * copy of the half it keeps (own value first, as a butterfly does) into v[0, N). The halves are
 * chosen by a bitwise select: a ?: over v[] made nvcc put the array in local memory. */
template <int N> __device__ __forceinline__ void reduce_scatter_half(float *v, int off, bool upper) {
    const int mask = upper ? -1 : 0;
#pragma unroll
    for (int i = 0; i < N; i++) {
        const int lo = __float_as_int(v[i]), hi = __float_as_int(v[i + N]);
        float keep = __int_as_float((hi & mask) | (lo & ~mask));
        float send = __int_as_float((lo & mask) | (hi & ~mask));
        v[i] = keep + __shfl_xor_sync(0xffffffffu, send, off);
    }
}

/* y (batch, M, N) = alpha * op(a - a_zero) op(b - b_zero) + beta * y. The zero points are NULL
 * for plain products. Acc is the accumulator: float for float/half/bfloat16, double, or an
 * unsigned integer whose wrap-around is the integer dtypes' two's complement arithmetic. */
template <typename TA, typename TB, typename TY, typename Acc>
__global__ void __launch_bounds__(GEMM_THREADS)
gemm_tiled_kernel(TY *y, const TA *a, const TB *b, int trans_a, int trans_b, int64_t M, int64_t N, int64_t K,
                  Acc alpha, Acc beta, int64_t lda, int64_t ldb, int64_t ldy, int64_t stride_a, int64_t stride_b,
                  int64_t stride_y, const TA *a_zero, int64_t a_zero_count, const TB *b_zero,
                  int64_t b_zero_count, int64_t row_base, int64_t batch_base) {
    __shared__ Acc a_tile[GEMM_TILE_K][GEMM_TILE_M + 1];
    __shared__ Acc b_tile[GEMM_TILE_K][GEMM_TILE_N + 1];
    const int tid = threadIdx.x;
    const int tx = tid % 16, ty = tid / 16;
    const int64_t batch = batch_base + blockIdx.z;
    a += batch * stride_a;
    b += batch * stride_b;
    y += batch * stride_y;
    const int64_t row0 = row_base + (int64_t)blockIdx.y * GEMM_TILE_M;
    const int64_t col0 = (int64_t)blockIdx.x * GEMM_TILE_N;

    Acc acc[4][4];
#pragma unroll
    for (int r = 0; r < 4; r++)
#pragma unroll
        for (int c = 0; c < 4; c++) acc[r][c] = Acc(0);

    for (int64_t k0 = 0; k0 < K; k0 += GEMM_TILE_K) {
        /* stage A's tile (64 rows x 16 of K): consecutive threads read consecutive addresses */
        for (int l = tid; l < GEMM_TILE_M * GEMM_TILE_K; l += GEMM_THREADS) {
            int ii = trans_a ? l % GEMM_TILE_M : l / GEMM_TILE_K;
            int kk = trans_a ? l / GEMM_TILE_M : l % GEMM_TILE_K;
            int64_t gi = row0 + ii, gk = k0 + kk;
            Acc v = Acc(0);
            if (gi < M && gk < K) {
                v = load_as<Acc>(a, trans_a ? gk * lda + gi : gi * lda + gk);
                if (a_zero) v -= load_as<Acc>(a_zero, a_zero_count == 1 ? 0 : gi);
            }
            a_tile[kk][ii] = v;
        }
        /* stage B's tile (16 of K x 64 columns) */
        for (int l = tid; l < GEMM_TILE_K * GEMM_TILE_N; l += GEMM_THREADS) {
            int jj = trans_b ? l / GEMM_TILE_K : l % GEMM_TILE_N;
            int kk = trans_b ? l % GEMM_TILE_K : l / GEMM_TILE_N;
            int64_t gj = col0 + jj, gk = k0 + kk;
            Acc v = Acc(0);
            if (gj < N && gk < K) {
                v = load_as<Acc>(b, trans_b ? gj * ldb + gk : gk * ldb + gj);
                if (b_zero) v -= load_as<Acc>(b_zero, b_zero_count == 1 ? 0 : gj);
            }
            b_tile[kk][jj] = v;
        }
        __syncthreads();
#pragma unroll
        for (int kk = 0; kk < GEMM_TILE_K; kk++) {
            Acc av[4], bv[4];
#pragma unroll
            for (int r = 0; r < 4; r++) av[r] = a_tile[kk][ty + 16 * r];
#pragma unroll
            for (int c = 0; c < 4; c++) bv[c] = b_tile[kk][tx + 16 * c];
#pragma unroll
            for (int r = 0; r < 4; r++)
#pragma unroll
                for (int c = 0; c < 4; c++) acc[r][c] += av[r] * bv[c];
        }
        __syncthreads();
    }
#pragma unroll
    for (int r = 0; r < 4; r++) {
        int64_t i = row0 + ty + 16 * r;
        if (i >= M) continue;
#pragma unroll
        for (int c = 0; c < 4; c++) {
            int64_t j = col0 + tx + 16 * c;
            if (j >= N) continue;
            Acc v = alpha * acc[r][c];
            if (beta != Acc(0)) v += beta * load_as<Acc>(y, i * ldy + j);
            store_from(y, i * ldy + j, v);
        }
    }
}

#define SKINNY_LANES 8   /* lanes of a warp splitting K for one column group of packets */
#define SKINNY_WARPS 8   /* warps of a block, each a slice of K */
#define SKINNY_THREADS (32 * SKINNY_WARPS)

/* Lanes per column group: packets of VEC > 1 elements put SKINNY_LANES lanes on one group (8 rows
 * of 16 bytes a load: whole 32-byte sectors); single elements put a warp across 32 consecutive
 * columns (one 128-byte row segment a load). */
template <int VEC> struct skinny_shape {
    static constexpr int lanes = VEC == 1 ? 1 : SKINNY_LANES;
    static constexpr int groups = 32 / lanes;
    static constexpr int cols = groups * VEC; /* columns of a block */
};

template <typename T, int VEC> struct alignas(sizeof(T) * VEC) skinny_packet {
    T v[VEC];
};

/* y (batch, M, N) = alpha * a (batch, M, K) b (batch, K, N) + bias (N, may be NULL), M <= MR,
 * float32 accumulation. Block (blockIdx.x, batch_base + blockIdx.y, blockIdx.z) owns columns
 * [blockIdx.x * cols, + cols) and the rows [blockIdx.z * k_chunk, + k_chunk) of K. Thread: lane l
 * of warp w works on column group l / lanes and the k = slice, slice + lanes * SKINNY_WARPS, ...
 * of that range, with slice = w * lanes + l % lanes. VEC > 1 needs N, ldb, stride_b a multiple of
 * VEC and b 16-byte aligned.
 *
 * Split K (gridDim.z > 1): each block writes its sums to partial[z][tile] (tile = the block's
 * (x, y), MR * cols floats), and the last block of a tile to arrive (its counter, which it resets
 * to 0 for the next launch) adds the splits in order 0, 1, ... and writes y: one kernel, and the
 * same sums in the same order on every run. */
template <typename T, int VEC, int MR>
__global__ void __launch_bounds__(SKINNY_THREADS)
skinny_gemm_kernel(T *y, const T *a, const T *b, const T *bias, int M, int64_t N, int64_t K, int64_t lda,
                   int64_t ldb, int64_t ldy, int64_t stride_a, int64_t stride_b, int64_t stride_y, float alpha,
                   int64_t batch_base, int64_t k_chunk, float *partial, unsigned *counters) {
    typedef skinny_shape<VEC> S;
    __shared__ float sums[SKINNY_WARPS][MR][S::cols];
    __shared__ int last;
    typedef skinny_packet<T, VEC> P;
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    const int group = lane / S::lanes, slice = warp * S::lanes + lane % S::lanes;
    const int64_t batch = batch_base + blockIdx.y;
    a += batch * stride_a;
    b += batch * stride_b;
    y += batch * stride_y;
    const int64_t col = ((int64_t)blockIdx.x * S::groups + group) * VEC;
    const int64_t k_begin = (int64_t)blockIdx.z * k_chunk;
    const int64_t k_end = K - k_begin < k_chunk ? K : k_begin + k_chunk;
    float acc[MR][VEC];
#pragma unroll
    for (int m = 0; m < MR; m++)
#pragma unroll
        for (int q = 0; q < VEC; q++) acc[m][q] = 0.0f;
    const int64_t step = S::lanes * SKINNY_WARPS;
    if constexpr (MR == 1) {
        if (col < N) {
#pragma unroll 4
            for (int64_t k = k_begin + slice; k < k_end; k += step) {
                P w = *(const P *)(b + k * ldb + col);
                float x = load_as<float>(a, k);
#pragma unroll
                for (int q = 0; q < VEC; q++) acc[0][q] += x * load_as<float>(w.v, q);
            }
        }
    } else {
        /* Several rows: A's rows are staged through shared memory as float, SKINNY_A_STAGE
         * columns of K at a time, so that one or two vector loads from shared memory give a
         * thread all MR values of its k (MR scalar global loads and conversions did, per 16 bytes
         * of B). Each thread still takes k = k_begin + slice, + step, ..., in that order. */
        __shared__ __align__(16) float as[SKINNY_A_STAGE][skinny_a_pad<MR>::value];
        for (int64_t k0 = k_begin; k0 < k_end; k0 += SKINNY_A_STAGE) {
            const int kn = k_end - k0 < SKINNY_A_STAGE ? (int)(k_end - k0) : SKINNY_A_STAGE;
            __syncthreads(); /* the previous stage has been read */
            for (int o = threadIdx.x; o < MR * SKINNY_A_STAGE; o += SKINNY_THREADS) {
                const int m = o / SKINNY_A_STAGE, kk = o % SKINNY_A_STAGE;
                as[kk][m] = m < M && kk < kn ? load_as<float>(a, m * lda + k0 + kk) : 0.0f;
            }
            __syncthreads();
            if (col < N) {
#pragma unroll 4
                for (int kk = slice; kk < kn; kk += (int)step) {
                    P w = *(const P *)(b + (k0 + kk) * ldb + col);
                    float x[MR];
                    skinny_a_row<MR>(x, as[kk]);
#pragma unroll
                    for (int m = 0; m < MR; m++) {
                        if (m >= M) break;
#pragma unroll
                        for (int q = 0; q < VEC; q++) acc[m][q] += x[m] * load_as<float>(w.v, q);
                    }
                }
            }
        }
    }
    /* Lanes of one group (consecutive lanes) reduce by shuffles. With 8 lanes a group and
     * MR * VEC a multiple of 8, a reduce-scatter (reduce_scatter_half): each level halves the
     * values a lane holds (it keeps one half, sends the other to its partner and adds the
     * partner's copy of its own half), so 8 lanes reduce 64 sums with 56 shuffles instead of
     * 192, and each lane ends with 1/8 of the sums. Each sum is added in the same pairs, in the
     * same order, as the butterfly over all values that the other shapes run, so the results are
     * the same bits. */
    constexpr int NV = MR * VEC;
    static_assert(SKINNY_LANES == 8, "the reduce-scatter below has three levels: 8 lanes a group");
    if constexpr (S::lanes == SKINNY_LANES && NV % SKINNY_LANES == 0) {
        float *v = &acc[0][0];
        const int l = lane % 8;
        reduce_scatter_half<NV / 2>(v, 4, (l & 4) != 0);
        reduce_scatter_half<NV / 4>(v, 2, (l & 2) != 0);
        reduce_scatter_half<NV / 8>(v, 1, (l & 1) != 0);
        const int base = (l & 4 ? NV / 2 : 0) + (l & 2 ? NV / 4 : 0) + (l & 1 ? NV / 8 : 0);
#pragma unroll
        for (int i = 0; i < NV / 8; i++) {
            int idx = base + i;
            sums[warp][idx / VEC][group * VEC + idx % VEC] = v[i];
        }
    } else {
#pragma unroll
        for (int m = 0; m < MR; m++)
#pragma unroll
            for (int q = 0; q < VEC; q++)
#pragma unroll
                for (int off = S::lanes / 2; off > 0; off /= 2)
                    acc[m][q] += __shfl_xor_sync(0xffffffffu, acc[m][q], off);
        if (lane % S::lanes == 0)
#pragma unroll
            for (int m = 0; m < MR; m++)
#pragma unroll
                for (int q = 0; q < VEC; q++) sums[warp][m][group * VEC + q] = acc[m][q];
    }
    __syncthreads();
    const int64_t tile = (int64_t)blockIdx.y * gridDim.x + blockIdx.x, tiles = (int64_t)gridDim.y * gridDim.x;
    const int per_tile = MR * S::cols;
    if (gridDim.z > 1) {
        float *mine = partial + ((int64_t)blockIdx.z * tiles + tile) * per_tile;
        for (int o = threadIdx.x; o < per_tile; o += SKINNY_THREADS) {
            float v = 0.0f;
#pragma unroll
            for (int w = 0; w < SKINNY_WARPS; w++) v += sums[w][o / S::cols][o % S::cols];
            mine[o] = v;
        }
        __threadfence(); /* the sums are visible device-wide before the counter moves */
        __syncthreads();
        if (threadIdx.x == 0) last = atomicAdd(&counters[tile], 1u) == gridDim.z - 1;
        __syncthreads();
        if (!last) return;
        __threadfence();
    }
    for (int o = threadIdx.x; o < per_tile; o += SKINNY_THREADS) {
        int m = o / S::cols, c = o % S::cols;
        int64_t j = (int64_t)blockIdx.x * S::cols + c;
        if (m >= M || j >= N) continue;
        float v = 0.0f;
        if (gridDim.z > 1) {
            for (unsigned z = 0; z < gridDim.z; z++) v += __ldcg(partial + ((int64_t)z * tiles + tile) * per_tile + o);
        } else {
#pragma unroll
            for (int w = 0; w < SKINNY_WARPS; w++) v += sums[w][m][c];
        }
        v *= alpha;
        if (bias) v += load_as<float>(bias, j);
        store_from(y, m * ldy + j, v);
    }
    if (gridDim.z > 1 && threadIdx.x == 0) counters[tile] = 0;
}

/* y (M, N) = c read through (row_stride, col_stride); grid-stride over the elements. */
template <typename T>
__global__ void broadcast_matrix_kernel(T *y, const T *c, int64_t M, int64_t N, int64_t row_stride,
                                        int64_t col_stride) {
    int64_t total = M * N;
    for (int64_t idx = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; idx < total;
         idx += (int64_t)gridDim.x * blockDim.x) {
        int64_t i = idx / N, j = idx - i * N;
        y[idx] = c[i * row_stride + j * col_stride];
    }
}

/* dst (contiguous view.dims) = src through view.strides; grid-stride over dst. The innermost
 * dim is peeled off so the division chain runs over rank - 1 dims. */
template <typename T>
__global__ void strided_copy_kernel(T *dst, const T *src, onyx_cuda_strided_view view, int64_t total) {
    const int last = view.rank - 1;
    const int64_t inner = view.dims[last], inner_stride = view.strides[last];
    for (int64_t idx = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; idx < total;
         idx += (int64_t)gridDim.x * blockDim.x) {
        int64_t rest = idx / inner;
        int64_t offset = (idx - rest * inner) * inner_stride;
        for (int d = last - 1; d >= 0; d--) {
            int64_t q = rest / view.dims[d];
            offset += (rest - q * view.dims[d]) * view.strides[d];
            rest = q;
        }
        dst[idx] = src[offset];
    }
}

/* out[o] = sum over summed coordinates of prod_op operand_op[...], in float64. */
template <typename T>
__global__ void einsum_generic_kernel(T *out, onyx_cuda_einsum_args args, int64_t out_total, int64_t summed_total) {
    for (int64_t o = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; o < out_total;
         o += (int64_t)gridDim.x * blockDim.x) {
        int64_t base[ONYX_CUDA_EINSUM_MAX_OPERANDS];
        for (int op = 0; op < args.n_operands; op++) base[op] = 0;
        int64_t rest = o;
        for (int d = args.out_rank - 1; d >= 0; d--) {
            int64_t q = rest / args.out_dims[d];
            int64_t coord = rest - q * args.out_dims[d];
            rest = q;
            for (int op = 0; op < args.n_operands; op++) base[op] += coord * args.out_strides[op][d];
        }
        double sum = 0.0;
        for (int64_t s = 0; s < summed_total; s++) {
            int64_t off[ONYX_CUDA_EINSUM_MAX_OPERANDS];
            for (int op = 0; op < args.n_operands; op++) off[op] = base[op];
            int64_t srest = s;
            for (int d = args.n_summed - 1; d >= 0; d--) {
                int64_t q = srest / args.summed_dims[d];
                int64_t coord = srest - q * args.summed_dims[d];
                srest = q;
                for (int op = 0; op < args.n_operands; op++) off[op] += coord * args.summed_strides[op][d];
            }
            double prod = 1.0;
            for (int op = 0; op < args.n_operands; op++)
                prod *= load_as<double>((const T *)args.operands[op], off[op]);
            sum += prod;
        }
        store_f64(out, o, sum);
    }
}

// ----------------------------------------------------------------------------
// kernel launchers

static unsigned grid_for(int64_t total, int threads) {
    int64_t blocks = (total + threads - 1) / threads;
    if (blocks > 65536) blocks = 65536; /* grid-stride loops cover the rest */
    return (unsigned)(blocks < 1 ? 1 : blocks);
}

/* Tiles cover N in grid x, M in grid y (chunks of GRID_Y_MAX tiles), batches in grid z
 * (chunks of GRID_Z_MAX). */
template <typename TA, typename TB, typename TY, typename Acc>
static cudaError_t launch_gemm_tiled(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K, Acc alpha, Acc beta,
                                     const void *a, int64_t lda, int64_t stride_a, const void *b, int64_t ldb,
                                     int64_t stride_b, void *y, int64_t ldy, int64_t stride_y, int64_t batch,
                                     const void *a_zero, int64_t a_zero_count, const void *b_zero,
                                     int64_t b_zero_count, cudaStream_t stream) {
    if (M <= 0 || N <= 0 || batch <= 0) return cudaGetLastError();
    int64_t tiles_n = (N + GEMM_TILE_N - 1) / GEMM_TILE_N, tiles_m = (M + GEMM_TILE_M - 1) / GEMM_TILE_M;
    if (tiles_n > 0x7fffffff) return cudaErrorInvalidValue;
    for (int64_t b0 = 0; b0 < batch; b0 += GRID_Z_MAX) {
        int64_t nb = batch - b0 < GRID_Z_MAX ? batch - b0 : GRID_Z_MAX;
        for (int64_t t0 = 0; t0 < tiles_m; t0 += GRID_Y_MAX) {
            int64_t nt = tiles_m - t0 < GRID_Y_MAX ? tiles_m - t0 : GRID_Y_MAX;
            dim3 grid((unsigned)tiles_n, (unsigned)nt, (unsigned)nb);
            gemm_tiled_kernel<TA, TB, TY, Acc><<<grid, GEMM_THREADS, 0, stream>>>(
                (TY *)y, (const TA *)a, (const TB *)b, trans_a, trans_b, M, N, K, alpha, beta, lda, ldb, ldy,
                stride_a, stride_b, stride_y, (const TA *)a_zero, a_zero_count, (const TB *)b_zero, b_zero_count,
                t0 * GEMM_TILE_M, b0);
        }
    }
    return cudaGetLastError();
}

extern "C" cudaError_t onyx_cuda_gemm_tiled(onyx_cuda_elem type, int trans_a, int trans_b, int64_t M, int64_t N,
                                            int64_t K, double alpha, int64_t alpha_int, const void *a, int64_t lda,
                                            int64_t stride_a, const void *b, int64_t ldb, int64_t stride_b,
                                            double beta, int64_t beta_int, void *y, int64_t ldy, int64_t stride_y,
                                            int64_t batch, cudaStream_t stream) {
    const uint64_t ai = (uint64_t)alpha_int, bi = (uint64_t)beta_int;
#define GEMM_TILED_CASE(elem, T, Acc, al, be)                                                            \
    case elem:                                                                                          \
        return launch_gemm_tiled<T, T, T, Acc>(trans_a, trans_b, M, N, K, (Acc)(al), (Acc)(be), a, lda, \
                                               stride_a, b, ldb, stride_b, y, ldy, stride_y, batch, NULL, 0, \
                                               NULL, 0, stream)
    switch (type) {
        GEMM_TILED_CASE(ONYX_CUDA_ELEM_F32, float, float, alpha, beta);
        GEMM_TILED_CASE(ONYX_CUDA_ELEM_F16, __half, float, alpha, beta);
        GEMM_TILED_CASE(ONYX_CUDA_ELEM_BF16, __nv_bfloat16, float, alpha, beta);
        GEMM_TILED_CASE(ONYX_CUDA_ELEM_F64, double, double, alpha, beta);
        GEMM_TILED_CASE(ONYX_CUDA_ELEM_I32, int32_t, uint64_t, ai, bi);
        GEMM_TILED_CASE(ONYX_CUDA_ELEM_U32, uint32_t, uint64_t, ai, bi);
        GEMM_TILED_CASE(ONYX_CUDA_ELEM_I64, int64_t, uint64_t, ai, bi);
        GEMM_TILED_CASE(ONYX_CUDA_ELEM_U64, uint64_t, uint64_t, ai, bi);
    default: return cudaErrorInvalidValue;
    }
#undef GEMM_TILED_CASE
}

template <typename TA, typename TB>
static cudaError_t launch_matmul_integer(int64_t M, int64_t N, int64_t K, const void *a, int64_t stride_a,
                                         const void *a_zero, int64_t a_zero_count, const void *b, int64_t stride_b,
                                         const void *b_zero, int64_t b_zero_count, int32_t *y, int64_t stride_y,
                                         int64_t batch, cudaStream_t stream) {
    return launch_gemm_tiled<TA, TB, int32_t, uint32_t>(0, 0, M, N, K, 1u, 0u, a, K, stride_a, b, N, stride_b, y, N,
                                                        stride_y, batch, a_zero, a_zero_count, b_zero,
                                                        b_zero_count, stream);
}

/* Blocks a skinny launch aims at, per SM, before it splits K; the fewest rows of K a split
 * takes; the most splits. A decode step's products are narrow (GPT2's 768 columns are 48 blocks
 * of 16 columns in float32) while the H200 has 132 SMs: without splitting, most SMs idled and the
 * busy ones had too few loads in flight to stream B at the memory's speed. */
#define SKINNY_BLOCKS_PER_SM 4
#define SKINNY_SPLIT_MIN_K 64
#define SKINNY_MAX_SPLITS 32

template <typename T, int VEC, int MR>
static cudaError_t launch_skinny(int M, int64_t N, int64_t K, float alpha, const void *a, int64_t lda,
                                 int64_t stride_a, const void *b, int64_t ldb, int64_t stride_b, const void *bias,
                                 void *y, int64_t ldy, int64_t stride_y, int64_t batch,
                                 const onyx_cuda_skinny_ws *ws, cudaStream_t stream) {
    typedef skinny_shape<VEC> S;
    const int64_t cols = S::cols, step = S::lanes * SKINNY_WARPS;
    int64_t blocks = (N + cols - 1) / cols;
    if (blocks > 0x7fffffff) return cudaErrorInvalidValue;
    /* Split K when the tiles are too few to fill the GPU and the workspace holds their sums. */
    int64_t tiles = blocks * batch, splits = 1, k_chunk = K > 0 ? K : 1;
    if (ws && ws->partial && batch <= GRID_Y_MAX && tiles <= ws->n_counters) {
        int64_t target = (int64_t)ws->sm_count * SKINNY_BLOCKS_PER_SM;
        int64_t min_k = SKINNY_SPLIT_MIN_K > step ? SKINNY_SPLIT_MIN_K : step;
        int64_t want = tiles < target ? (target + tiles - 1) / tiles : 1;
        if (want > K / min_k) want = K / min_k;
        if (want > SKINNY_MAX_SPLITS) want = SKINNY_MAX_SPLITS;
        int64_t room = (int64_t)(ws->partial_floats / ((size_t)tiles * MR * cols));
        if (want > room) want = room;
        if (want > 1) {
            k_chunk = (K + want - 1) / want;
            k_chunk = (k_chunk + step - 1) / step * step; /* whole steps: every warp's slices start alike */
            splits = (K + k_chunk - 1) / k_chunk;
        }
    }
    float *partial = splits > 1 ? ws->partial : NULL;
    unsigned *counters = splits > 1 ? ws->counters : NULL;
    for (int64_t b0 = 0; b0 < batch; b0 += GRID_Y_MAX) {
        int64_t nb = batch - b0 < GRID_Y_MAX ? batch - b0 : GRID_Y_MAX;
        skinny_gemm_kernel<T, VEC, MR><<<dim3((unsigned)blocks, (unsigned)nb, (unsigned)splits), SKINNY_THREADS, 0,
                                         stream>>>((T *)y, (const T *)a, (const T *)b, (const T *)bias, M, N, K, lda,
                                                   ldb, ldy, stride_a, stride_b, stride_y, alpha, b0, k_chunk,
                                                   partial, counters);
    }
    return cudaGetLastError();
}

template <typename T, int VEC>
static cudaError_t skinny_rows(int M, int64_t N, int64_t K, float alpha, const void *a, int64_t lda,
                               int64_t stride_a, const void *b, int64_t ldb, int64_t stride_b, const void *bias,
                               void *y, int64_t ldy, int64_t stride_y, int64_t batch, const onyx_cuda_skinny_ws *ws,
                               cudaStream_t stream) {
#define SKINNY_CALL(MR)                                                                                          \
    launch_skinny<T, VEC, MR>(M, N, K, alpha, a, lda, stride_a, b, ldb, stride_b, bias, y, ldy, stride_y, batch, \
                              ws, stream)
    if (M <= 1) return SKINNY_CALL(1);
    if (M <= 2) return SKINNY_CALL(2);
    if (M <= 4) return SKINNY_CALL(4);
    /* 16-bit weights at 8 rows take 8-byte packets (4 columns a thread, as float32's 16 bytes do):
     * with 16-byte ones a thread held 8 x 8 sums and did 64 multiply-adds per load, and the
     * float16 decode step at batch 8 was slower than the float32 one, which reads twice the bytes. */
    if constexpr (sizeof(T) == 2 && VEC == 8)
        return launch_skinny<T, 4, ONYX_CUDA_SKINNY_MAX_M>(M, N, K, alpha, a, lda, stride_a, b, ldb, stride_b, bias, y,
                                                           ldy, stride_y, batch, ws, stream);
    else
        return SKINNY_CALL(ONYX_CUDA_SKINNY_MAX_M);
#undef SKINNY_CALL
}

template <typename T>
static cudaError_t skinny_typed(int M, int64_t N, int64_t K, float alpha, const void *a, int64_t lda,
                                int64_t stride_a, const void *b, int64_t ldb, int64_t stride_b, const void *bias,
                                void *y, int64_t ldy, int64_t stride_y, int64_t batch, const onyx_cuda_skinny_ws *ws,
                                cudaStream_t stream) {
    const int vec = 16 / (int)sizeof(T);
    int packed = N % vec == 0 && ldb % vec == 0 && (batch == 1 || stride_b % vec == 0) && ((uintptr_t)b % 16) == 0;
    if (packed)
        return skinny_rows<T, 16 / sizeof(T)>(M, N, K, alpha, a, lda, stride_a, b, ldb, stride_b, bias, y, ldy,
                                              stride_y, batch, ws, stream);
    return skinny_rows<T, 1>(M, N, K, alpha, a, lda, stride_a, b, ldb, stride_b, bias, y, ldy, stride_y, batch, ws,
                             stream);
}

extern "C" cudaError_t onyx_cuda_gemm_skinny(onyx_cuda_elem type, int64_t M, int64_t N, int64_t K, float alpha,
                                             const void *a, int64_t lda, int64_t stride_a, const void *b,
                                             int64_t ldb, int64_t stride_b, const void *bias, void *y,
                                             int64_t stride_y, int64_t batch, const onyx_cuda_skinny_ws *ws,
                                             cudaStream_t stream) {
    if (M < 1 || M > ONYX_CUDA_SKINNY_MAX_M || N <= 0 || batch <= 0) return M == 0 || N == 0 || batch == 0 ? cudaGetLastError() : cudaErrorInvalidValue;
    switch (type) {
    case ONYX_CUDA_ELEM_F32:
        return skinny_typed<float>((int)M, N, K, alpha, a, lda, stride_a, b, ldb, stride_b, bias, y, N, stride_y,
                                   batch, ws, stream);
    case ONYX_CUDA_ELEM_F16:
        return skinny_typed<__half>((int)M, N, K, alpha, a, lda, stride_a, b, ldb, stride_b, bias, y, N, stride_y,
                                    batch, ws, stream);
    case ONYX_CUDA_ELEM_BF16:
        return skinny_typed<__nv_bfloat16>((int)M, N, K, alpha, a, lda, stride_a, b, ldb, stride_b, bias, y, N,
                                           stride_y, batch, ws, stream);
    default: return cudaErrorInvalidValue;
    }
}

extern "C" cudaError_t onyx_cuda_matmul_integer(onyx_cuda_elem a_type, onyx_cuda_elem b_type, int64_t M, int64_t N,
                                                int64_t K, const void *a, int64_t stride_a, const void *a_zero,
                                                int64_t a_zero_count, const void *b, int64_t stride_b,
                                                const void *b_zero, int64_t b_zero_count, int32_t *y,
                                                int64_t stride_y, int64_t batch, cudaStream_t stream) {
    int a_signed = a_type == ONYX_CUDA_ELEM_I8, b_signed = b_type == ONYX_CUDA_ELEM_I8;
    if ((!a_signed && a_type != ONYX_CUDA_ELEM_U8) || (!b_signed && b_type != ONYX_CUDA_ELEM_U8))
        return cudaErrorInvalidValue;
    if (a_signed && b_signed)
        return launch_matmul_integer<int8_t, int8_t>(M, N, K, a, stride_a, a_zero, a_zero_count, b, stride_b, b_zero,
                                                     b_zero_count, y, stride_y, batch, stream);
    if (a_signed)
        return launch_matmul_integer<int8_t, uint8_t>(M, N, K, a, stride_a, a_zero, a_zero_count, b, stride_b,
                                                      b_zero, b_zero_count, y, stride_y, batch, stream);
    if (b_signed)
        return launch_matmul_integer<uint8_t, int8_t>(M, N, K, a, stride_a, a_zero, a_zero_count, b, stride_b,
                                                      b_zero, b_zero_count, y, stride_y, batch, stream);
    return launch_matmul_integer<uint8_t, uint8_t>(M, N, K, a, stride_a, a_zero, a_zero_count, b, stride_b, b_zero,
                                                   b_zero_count, y, stride_y, batch, stream);
}

extern "C" cudaError_t onyx_cuda_broadcast_matrix(size_t elem_size, void *y, int64_t M, int64_t N, const void *c,
                                                  int64_t row_stride, int64_t col_stride, cudaStream_t stream) {
    if (M <= 0 || N <= 0) return cudaGetLastError();
    unsigned grid = grid_for(M * N, 256);
    switch (elem_size) {
    case 1: broadcast_matrix_kernel<<<grid, 256, 0, stream>>>((uint8_t *)y, (const uint8_t *)c, M, N, row_stride, col_stride); break;
    case 2: broadcast_matrix_kernel<<<grid, 256, 0, stream>>>((uint16_t *)y, (const uint16_t *)c, M, N, row_stride, col_stride); break;
    case 4: broadcast_matrix_kernel<<<grid, 256, 0, stream>>>((uint32_t *)y, (const uint32_t *)c, M, N, row_stride, col_stride); break;
    case 8: broadcast_matrix_kernel<<<grid, 256, 0, stream>>>((uint64_t *)y, (const uint64_t *)c, M, N, row_stride, col_stride); break;
    default: return cudaErrorInvalidValue;
    }
    return cudaGetLastError();
}

extern "C" cudaError_t onyx_cuda_strided_copy(size_t elem_size, void *dst, const void *src,
                                              onyx_cuda_strided_view view, cudaStream_t stream) {
    int64_t total = 1;
    for (int d = 0; d < view.rank; d++) total *= view.dims[d];
    if (total <= 0) return cudaGetLastError();
    if (view.rank == 0) { /* a scalar: one element */
        view.rank = 1;
        view.dims[0] = 1;
        view.strides[0] = 0;
    }
    unsigned grid = grid_for(total, 256);
    switch (elem_size) {
    case 1: strided_copy_kernel<<<grid, 256, 0, stream>>>((uint8_t *)dst, (const uint8_t *)src, view, total); break;
    case 2: strided_copy_kernel<<<grid, 256, 0, stream>>>((uint16_t *)dst, (const uint16_t *)src, view, total); break;
    case 4: strided_copy_kernel<<<grid, 256, 0, stream>>>((uint32_t *)dst, (const uint32_t *)src, view, total); break;
    case 8: strided_copy_kernel<<<grid, 256, 0, stream>>>((uint64_t *)dst, (const uint64_t *)src, view, total); break;
    default: return cudaErrorInvalidValue;
    }
    return cudaGetLastError();
}

template <typename T>
static cudaError_t launch_einsum_generic(void *out, const onyx_cuda_einsum_args *args, cudaStream_t stream) {
    int64_t out_total = 1, summed_total = 1;
    for (int d = 0; d < args->out_rank; d++) out_total *= args->out_dims[d];
    for (int d = 0; d < args->n_summed; d++) summed_total *= args->summed_dims[d];
    if (out_total <= 0) return cudaGetLastError();
    einsum_generic_kernel<T><<<grid_for(out_total, 128), 128, 0, stream>>>((T *)out, *args, out_total, summed_total);
    return cudaGetLastError();
}

extern "C" cudaError_t onyx_cuda_einsum_generic(onyx_cuda_elem type, void *out, const onyx_cuda_einsum_args *args,
                                                cudaStream_t stream) {
    switch (type) {
    case ONYX_CUDA_ELEM_F32: return launch_einsum_generic<float>(out, args, stream);
    case ONYX_CUDA_ELEM_F16: return launch_einsum_generic<__half>(out, args, stream);
    case ONYX_CUDA_ELEM_BF16: return launch_einsum_generic<__nv_bfloat16>(out, args, stream);
    case ONYX_CUDA_ELEM_F64: return launch_einsum_generic<double>(out, args, stream);
    case ONYX_CUDA_ELEM_I8: return launch_einsum_generic<int8_t>(out, args, stream);
    case ONYX_CUDA_ELEM_U8: return launch_einsum_generic<uint8_t>(out, args, stream);
    case ONYX_CUDA_ELEM_I16: return launch_einsum_generic<int16_t>(out, args, stream);
    case ONYX_CUDA_ELEM_U16: return launch_einsum_generic<uint16_t>(out, args, stream);
    case ONYX_CUDA_ELEM_I32: return launch_einsum_generic<int32_t>(out, args, stream);
    case ONYX_CUDA_ELEM_U32: return launch_einsum_generic<uint32_t>(out, args, stream);
    case ONYX_CUDA_ELEM_I64: return launch_einsum_generic<int64_t>(out, args, stream);
    case ONYX_CUDA_ELEM_U64: return launch_einsum_generic<uint64_t>(out, args, stream);
    default: return cudaErrorInvalidValue;
    }
}
