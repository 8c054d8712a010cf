/*
 * attention.cu - the kernels of onyx Attention (math_launch.h; the op is described in
 * src/providers/cpu/attention.c).
 *
 * attention_mma_kernel: float16, head size 64, on tensor cores through mma.sync (sm_80 and
 * later), the scores, the softmax and the output accumulator in registers (its comment says
 * how). The (q_len, kv_len) scores never reach global memory, and Q, K, V are read in place
 * through their strides.
 *
 * attention_f32_kernel: float32, head size 32 or 64 (K and V), FFMA on tiles in shared memory:
 * the scores of 64 query rows against 64 keys at a time, the online softmax in registers, P
 * through shared memory into O += P V. Without TF32 there are no tensor cores for float32; what
 * it saves over two batched GEMMs and a softmax is the transposes and the scores' round trips
 * through global memory.
 *
 * attention_rows_kernel: any float dtype and head size, one warp per query row: each key's dot
 * product across the warp, the online softmax in registers, the lanes holding V's columns.
 */
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <math_constants.h>
#include <stdint.h>

#include "providers/cuda/math_launch.h"

namespace {

__device__ __forceinline__ float to_f(float x) { return x; }
__device__ __forceinline__ float to_f(__half x) { return __half2float(x); }
__device__ __forceinline__ float to_f(__nv_bfloat16 x) { return __bfloat162float(x); }
template <typename T> __device__ __forceinline__ T from_f(float x);
template <> __device__ __forceinline__ float from_f<float>(float x) { return x; }
template <> __device__ __forceinline__ __half from_f<__half>(float x) { return __float2half(x); }
template <> __device__ __forceinline__ __nv_bfloat16 from_f<__nv_bfloat16>(float x) { return __float2bfloat16(x); }

/* ---- one warp per query row ---- */

constexpr int ROWS_WARPS = 4;
constexpr int ROWS_PER_LANE = ONYX_CUDA_ATTENTION_MAX_V_DIM / 32;

template <typename T>
__global__ void __launch_bounds__(ROWS_WARPS * 32)
    attention_rows_kernel(const T *__restrict__ q, const T *__restrict__ k, const T *__restrict__ v,
                          const T *__restrict__ bias, T *__restrict__ o, onyx_cuda_attention_shape s) {
    const int lane = threadIdx.x & 31;
    const int64_t row = (int64_t)blockIdx.x * ROWS_WARPS + (threadIdx.x >> 5);
    if (row >= s.batch * s.heads * s.q_len) return;
    const int64_t i = row % s.q_len, h = (row / s.q_len) % s.heads, b = row / (s.q_len * s.heads);
    const T *qr = q + b * s.q_strides[0] + i * s.q_strides[1] + h * s.q_strides[2];
    const T *kb = k + b * s.k_strides[0] + h * s.k_strides[2];
    const T *vb = v + b * s.v_strides[0] + h * s.v_strides[2];
    const T *br = bias ? bias + b * s.bias_strides[0] + h * s.bias_strides[1] + i * s.bias_strides[2] : nullptr;
    float acc[ROWS_PER_LANE];
#pragma unroll
    for (int c = 0; c < ROWS_PER_LANE; c++) acc[c] = 0.0f;
    float m = -CUDART_INF_F, l = 0.0f;
    for (int64_t j = 0; j < s.kv_len; j++) {
        const T *kr = kb + j * s.k_strides[1];
        float dot = 0.0f;
        for (int64_t d = lane; d < s.head_dim; d += 32) dot += to_f(qr[d]) * to_f(kr[d]);
#pragma unroll
        for (int off = 16; off > 0; off >>= 1) dot += __shfl_xor_sync(0xffffffffu, dot, off);
        float x = dot * s.scale;
        if (br) x += to_f(br[j * s.bias_strides[3]]);
        float m_new = fmaxf(m, x);
        /* Every score so far -inf (a masked prefix): nothing to weigh yet. A row masked to the
         * end keeps l = 0 and comes out NaN, as Softmax's 0/0 does. */
        if (m_new == -CUDART_INF_F) continue;
        float alpha = __expf(m - m_new), p = __expf(x - m_new);
        l = l * alpha + p;
        m = m_new;
        const T *vr = vb + j * s.v_strides[1];
#pragma unroll
        for (int c = 0; c < ROWS_PER_LANE; c++) {
            int64_t col = lane + 32 * c;
            if (col < s.v_dim) acc[c] = acc[c] * alpha + p * to_f(vr[col]);
        }
    }
    T *orow = o + b * s.o_strides[0] + i * s.o_strides[1] + h * s.o_strides[2];
    float inv = 1.0f / l;
#pragma unroll
    for (int c = 0; c < ROWS_PER_LANE; c++) {
        int64_t col = lane + 32 * c;
        if (col < s.v_dim) orow[col] = from_f<T>(acc[c] * inv);
    }
}

/* ---- float32, head size 32 or 64: FFMA tiles ---- */

constexpr int F32_M = 64;        /* query rows per block */
constexpr int F32_N = 64;        /* keys per step */
constexpr int F32_THREADS = 256; /* 16 x 16: thread (ty, tx) holds query rows 4 ty .. 4 ty + 3 */

/* Row stride of the shared tiles in floats: a multiple of 4 (float4 reads) that is 4 mod 32 for
 * D = 64, so the key rows tx + 16 c that lanes tx = 0..7 read fall in distinct banks. */
template <int D> __host__ __device__ constexpr int f32_ld() { return D + 4; }
/* W consecutive floats, W = 2 or 4, in one 8- or 16-byte access (both addresses aligned to it) */
template <int W> __device__ __forceinline__ void copy_w(float *dst, const float *src) {
    if constexpr (W == 4) *(float4 *)dst = *(const float4 *)src;
    else *(float2 *)dst = *(const float2 *)src;
}

/* P's row stride (64 keys; 4 mod 32 again, for its column-wise stores) and the floats of the
 * K tile's space, which P takes over */
constexpr int F32_PLD = F32_N + 4;
template <int D> __host__ __device__ constexpr int f32_k_floats() {
    return F32_N * f32_ld<D>() > F32_M * F32_PLD ? F32_N * f32_ld<D>() : F32_M * F32_PLD;
}
template <int D> constexpr size_t f32_smem_bytes() {
    return (size_t)((F32_M + F32_N) * f32_ld<D>() + f32_k_floats<D>()) * sizeof(float);
}

/* A block of 256 threads takes 64 query rows of one (batch, head) and walks the keys 64 at a
 * time. Shared memory holds Q (row-major, read once), a K tile (row-major) and a V tile; thread
 * (ty, tx) computes the scores of its 4 rows against keys tx, tx + 16, tx + 32, tx + 48 (Q reads
 * are broadcasts, K reads conflict-free), keeps each row's running max and sum across the 16
 * lanes of its half-warp (shuffles), writes P over the K tile (the scores are taken), and adds
 * P V into its 4 x D/16 outputs (columns tx D/16 ..). Keys past the end are zeros with weight 0. */
template <int D>
__global__ void __launch_bounds__(F32_THREADS)
    attention_f32_kernel(const float *__restrict__ q, const float *__restrict__ k, const float *__restrict__ v,
                         const float *__restrict__ bias, float *__restrict__ o, onyx_cuda_attention_shape s) {
    constexpr int LD = f32_ld<D>(), W = D / 16, C4 = D / 4;
    static_assert(D == 32 || D == 64, "head sizes 32 and 64");
    extern __shared__ float4 f32_smem[];
    float *qs = (float *)f32_smem;  /* [row][dim] */
    float *ks = qs + F32_M * LD;    /* [key][dim]; P [row][key] once the scores are taken */
    float *vs = ks + f32_k_floats<D>(); /* [key][dim] */
    const int tid = threadIdx.x, tx = tid & 15, ty = tid >> 4;
    const int64_t b = blockIdx.z, h = blockIdx.y, i_block = (int64_t)blockIdx.x * F32_M;
    const float *qb = q + b * s.q_strides[0] + h * s.q_strides[2];
    const float *kb = k + b * s.k_strides[0] + h * s.k_strides[2];
    const float *vb = v + b * s.v_strides[0] + h * s.v_strides[2];

    for (int c = tid; c < F32_M * C4; c += F32_THREADS) {
        int r = c / C4, col = (c % C4) * 4;
        float4 val = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
        if (i_block + r < s.q_len) val = *(const float4 *)(qb + (i_block + r) * s.q_strides[1] + col);
        *(float4 *)(qs + r * LD + col) = val;
    }
    const float *br[4] = {nullptr, nullptr, nullptr, nullptr};
    if (bias) {
        const float *bh = bias + b * s.bias_strides[0] + h * s.bias_strides[1];
#pragma unroll
        for (int r = 0; r < 4; r++) {
            int64_t row = i_block + ty * 4 + r;
            br[r] = bh + (row < s.q_len ? row : s.q_len - 1) * s.bias_strides[2];
        }
    }
    alignas(16) float acc[4][W];
    float m[4], l[4];
#pragma unroll
    for (int r = 0; r < 4; r++) {
        m[r] = -CUDART_INF_F;
        l[r] = 0.0f;
#pragma unroll
        for (int c = 0; c < W; c++) acc[r][c] = 0.0f;
    }

    for (int64_t j0 = 0; j0 < s.kv_len; j0 += F32_N) {
        __syncthreads(); /* the last step's P and V are read */
        for (int c = tid; c < F32_N * C4; c += F32_THREADS) {
            int r = c / C4, col = (c % C4) * 4;
            float4 kv = make_float4(0.0f, 0.0f, 0.0f, 0.0f), vv = kv;
            if (j0 + r < s.kv_len) {
                kv = *(const float4 *)(kb + (j0 + r) * s.k_strides[1] + col);
                vv = *(const float4 *)(vb + (j0 + r) * s.v_strides[1] + col);
            }
            *(float4 *)(ks + r * LD + col) = kv;
            *(float4 *)(vs + r * LD + col) = vv;
        }
        __syncthreads();
        float sc[4][4];
#pragma unroll
        for (int r = 0; r < 4; r++)
#pragma unroll
            for (int c = 0; c < 4; c++) sc[r][c] = 0.0f;
#pragma unroll 4
        for (int d = 0; d < D; d += 4) {
            float4 qa[4], kk[4];
#pragma unroll
            for (int r = 0; r < 4; r++) qa[r] = *(const float4 *)(qs + (ty * 4 + r) * LD + d);
#pragma unroll
            for (int c = 0; c < 4; c++) kk[c] = *(const float4 *)(ks + (tx + 16 * c) * LD + d);
#pragma unroll
            for (int r = 0; r < 4; r++)
#pragma unroll
                for (int c = 0; c < 4; c++) {
                    float t = sc[r][c];
                    t = fmaf(qa[r].x, kk[c].x, t);
                    t = fmaf(qa[r].y, kk[c].y, t);
                    t = fmaf(qa[r].z, kk[c].z, t);
                    sc[r][c] = fmaf(qa[r].w, kk[c].w, t);
                }
        }
#pragma unroll
        for (int r = 0; r < 4; r++) {
            float t = -CUDART_INF_F;
#pragma unroll
            for (int c = 0; c < 4; c++) {
                int64_t j = j0 + tx + 16 * c;
                float x = -CUDART_INF_F;
                if (j < s.kv_len) {
                    x = sc[r][c] * s.scale;
                    if (bias) x += br[r][j * s.bias_strides[3]];
                }
                sc[r][c] = x;
                t = fmaxf(t, x);
            }
#pragma unroll
            for (int off = 1; off < 16; off <<= 1) t = fmaxf(t, __shfl_xor_sync(0xffffffffu, t, off));
            const float n = fmaxf(m[r], t);
            /* as in the row kernel: no weight while every score so far is -inf */
            const bool none = n == -CUDART_INF_F;
            const float a = none ? 1.0f : __expf(m[r] - n);
            float sum = 0.0f;
#pragma unroll
            for (int c = 0; c < 4; c++) {
                float p = none ? 0.0f : __expf(sc[r][c] - n);
                sc[r][c] = p;
                sum += p;
            }
#pragma unroll
            for (int off = 1; off < 16; off <<= 1) sum += __shfl_xor_sync(0xffffffffu, sum, off);
            l[r] = l[r] * a + sum;
            m[r] = n;
#pragma unroll
            for (int c = 0; c < W; c++) acc[r][c] *= a;
        }
        __syncthreads(); /* every thread's scores are taken: P goes over the K tile */
        float *ps = ks;
#pragma unroll
        for (int r = 0; r < 4; r++)
#pragma unroll
            for (int c = 0; c < 4; c++) ps[(ty * 4 + r) * F32_PLD + tx + 16 * c] = sc[r][c];
        __syncthreads();
#pragma unroll 4
        for (int j = 0; j < F32_N; j += 4) {
            float4 pa[4];
#pragma unroll
            for (int r = 0; r < 4; r++) pa[r] = *(const float4 *)(ps + (ty * 4 + r) * F32_PLD + j);
#pragma unroll
            for (int jj = 0; jj < 4; jj++) {
                alignas(16) float vr[W];
                copy_w<W>(vr, vs + (j + jj) * LD + tx * W);
#pragma unroll
                for (int r = 0; r < 4; r++) {
                    const float p = jj == 0 ? pa[r].x : jj == 1 ? pa[r].y : jj == 2 ? pa[r].z : pa[r].w;
#pragma unroll
                    for (int c = 0; c < W; c++) acc[r][c] = fmaf(p, vr[c], acc[r][c]);
                }
            }
        }
    }
#pragma unroll
    for (int r = 0; r < 4; r++) {
        const int64_t row = i_block + ty * 4 + r;
        if (row >= s.q_len) continue;
        float *orow = o + b * s.o_strides[0] + row * s.o_strides[1] + h * s.o_strides[2] + tx * W;
        const float inv = 1.0f / l[r];
#pragma unroll
        for (int c = 0; c < W; c++) acc[r][c] *= inv;
        copy_w<W>(orow, acc[r]);
    }
}

/* ---- float16, head size 64: tensor cores ---- */

constexpr int MMA_D = 64;      /* head size of Q, K and V */
constexpr int MMA_M = 64;      /* query rows per block, 16 per warp */
constexpr int MMA_N = 64;      /* keys per step */
constexpr int MMA_WARPS = MMA_M / 16;
constexpr int LDT = MMA_D + 8; /* float16 row stride of the shared tiles: fragment loads hit 32 banks */
static_assert(MMA_N == MMA_D, "the K and V tiles share one shape");

/* D += A B for one m16n8k16 tile: A 16x16 float16 (row), B 16x8 float16 (column), D float32.
 * PTX's fragment layout, with g = lane / 4 and t = lane % 4: a[0] (row g, cols 2t, 2t+1), a[1] row
 * g + 8, a[2] and a[3] the same rows at cols 2t + 8; b[0] (rows 2t, 2t+1 of col g), b[1] rows
 * 2t + 8; d[0], d[1] (row g, cols 2t, 2t+1), d[2], d[3] row g + 8. */
__device__ __forceinline__ void mma_16816(float d[4], const uint32_t a[4], const uint32_t b[2]) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
    __trap(); /* never launched there: onyx_cuda_attention asks for compute capability 8.0 */
#else
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
                 "{%0, %1, %2, %3};\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
#endif
}

__device__ __forceinline__ uint32_t pack_half2(float lo, float hi) {
    __half2 h = __floats2half2_rn(lo, hi);
    return *(const uint32_t *)&h;
}

__device__ __forceinline__ uint32_t load_pair(const __half *p) { return *(const uint32_t *)p; }

/* Four 8x8 float16 matrices from shared memory, lane l giving the address of row l % 8 of matrix
 * l / 8; r[m] is matrix m's fragment: row lane / 4, cols 2 (lane % 4) and + 1 (trans: the same of
 * the transposed matrix, i.e. rows 2 (lane % 4), + 1 of column lane / 4: a B fragment of a
 * row-major tile). */
__device__ __forceinline__ void ldmatrix_x4(uint32_t r[4], const __half *row) {
    unsigned a = (unsigned)__cvta_generic_to_shared(row);
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(a));
}
__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t r[4], const __half *row) {
    unsigned a = (unsigned)__cvta_generic_to_shared(row);
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(a));
}

/* A block of 4 warps takes 64 query rows of one (batch, head), 16 per warp, and walks the keys 64
 * at a time (FlashAttention-2's forward pass): S = Q K^T by mma.sync into registers, the running
 * max and sum of each row across the 4 lanes that hold it, P = exp(S - max) rounded to float16
 * straight into the A fragments of O += P V (an accumulator tile's layout is an A fragment's),
 * O rescaled in registers. Shared memory holds the Q tile (read once into fragments), a K and a
 * V tile (row-major; ldmatrix gives their B fragments, transposed for V): 27 KiB. */
__global__ void __launch_bounds__(MMA_WARPS * 32)
    attention_mma_kernel(const __half *__restrict__ q, const __half *__restrict__ k, const __half *__restrict__ v,
                         const __half *__restrict__ bias, __half *__restrict__ o, onyx_cuda_attention_shape s) {
    __shared__ __align__(16) __half qs[MMA_M * LDT];
    __shared__ __align__(16) __half ks[MMA_N * LDT]; /* [key][dim] */
    __shared__ __align__(16) __half vs[MMA_N * LDT]; /* [key][dim] */
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, g = lane >> 2, t = lane & 3;
    const int64_t b = blockIdx.z, h = blockIdx.y, i_block = (int64_t)blockIdx.x * MMA_M;
    const __half *qb = q + b * s.q_strides[0] + h * s.q_strides[2];
    const __half *kb = k + b * s.k_strides[0] + h * s.k_strides[2];
    const __half *vb = v + b * s.v_strides[0] + h * s.v_strides[2];

    for (int c = tid; c < MMA_M * MMA_D / 8; c += MMA_WARPS * 32) {
        int r = c / (MMA_D / 8), col = (c % (MMA_D / 8)) * 8;
        uint4 val = make_uint4(0, 0, 0, 0);
        if (i_block + r < s.q_len) val = *(const uint4 *)(qb + (i_block + r) * s.q_strides[1] + col);
        *(uint4 *)(qs + r * LDT + col) = val;
    }
    __syncthreads();
    uint32_t qa[MMA_D / 16][4];
    const __half *qw = qs + warp * 16 * LDT;
#pragma unroll
    for (int kk = 0; kk < MMA_D / 16; kk++) {
        qa[kk][0] = load_pair(qw + g * LDT + kk * 16 + 2 * t);
        qa[kk][1] = load_pair(qw + (g + 8) * LDT + kk * 16 + 2 * t);
        qa[kk][2] = load_pair(qw + g * LDT + kk * 16 + 8 + 2 * t);
        qa[kk][3] = load_pair(qw + (g + 8) * LDT + kk * 16 + 8 + 2 * t);
    }

    /* this lane's rows: g and g + 8 of the warp's 16 */
    const int64_t row0 = i_block + warp * 16 + g, row1 = row0 + 8;
    const __half *br0 = nullptr, *br1 = nullptr;
    if (bias) {
        const __half *bh = bias + b * s.bias_strides[0] + h * s.bias_strides[1];
        br0 = bh + (row0 < s.q_len ? row0 : s.q_len - 1) * s.bias_strides[2];
        br1 = bh + (row1 < s.q_len ? row1 : s.q_len - 1) * s.bias_strides[2];
    }
    float oacc[MMA_D / 8][4];
#pragma unroll
    for (int dt = 0; dt < MMA_D / 8; dt++) oacc[dt][0] = oacc[dt][1] = oacc[dt][2] = oacc[dt][3] = 0.0f;
    float m0 = -CUDART_INF_F, m1 = -CUDART_INF_F, l0 = 0.0f, l1 = 0.0f;

    for (int64_t j0 = 0; j0 < s.kv_len; j0 += MMA_N) {
        __syncthreads(); /* the last step's tiles are read */
        for (int c = tid; c < MMA_N * MMA_D / 8; c += MMA_WARPS * 32) {
            int r = c / (MMA_D / 8), col = (c % (MMA_D / 8)) * 8;
            uint4 kv = make_uint4(0, 0, 0, 0), vv = make_uint4(0, 0, 0, 0);
            if (j0 + r < s.kv_len) { /* keys past the end: zeros (their weights are 0, and 0 * NaN is not) */
                kv = *(const uint4 *)(kb + (j0 + r) * s.k_strides[1] + col);
                vv = *(const uint4 *)(vb + (j0 + r) * s.v_strides[1] + col);
            }
            *(uint4 *)(ks + r * LDT + col) = kv;
            *(uint4 *)(vs + r * LDT + col) = vv;
        }
        __syncthreads();
        float sacc[MMA_N / 8][4];
        /* K's B fragments: matrices (keys nt*8.., dims kk*16 + 0, 8, 16, 24 ..) of two k steps */
        const __half *k_lane = ks + (lane & 7) * LDT + (lane >> 3) * 8;
#pragma unroll
        for (int nt = 0; nt < MMA_N / 8; nt++) {
            sacc[nt][0] = sacc[nt][1] = sacc[nt][2] = sacc[nt][3] = 0.0f;
#pragma unroll
            for (int kk = 0; kk < MMA_D / 16; kk += 2) {
                uint32_t bf[4];
                ldmatrix_x4(bf, k_lane + nt * 8 * LDT + kk * 16);
                mma_16816(sacc[nt], qa[kk], bf);
                mma_16816(sacc[nt], qa[kk + 1], bf + 2);
            }
        }
        float t0 = -CUDART_INF_F, t1 = -CUDART_INF_F;
#pragma unroll
        for (int nt = 0; nt < MMA_N / 8; nt++)
#pragma unroll
            for (int e = 0; e < 2; e++) {
                int64_t j = j0 + nt * 8 + 2 * t + e;
                float x0 = -CUDART_INF_F, x1 = -CUDART_INF_F;
                if (j < s.kv_len) {
                    x0 = sacc[nt][e] * s.scale;
                    x1 = sacc[nt][2 + e] * s.scale;
                    if (bias) {
                        x0 += __half2float(br0[j * s.bias_strides[3]]);
                        x1 += __half2float(br1[j * s.bias_strides[3]]);
                    }
                }
                sacc[nt][e] = x0;
                sacc[nt][2 + e] = x1;
                t0 = fmaxf(t0, x0);
                t1 = fmaxf(t1, x1);
            }
#pragma unroll
        for (int off = 1; off < 4; off <<= 1) {
            t0 = fmaxf(t0, __shfl_xor_sync(0xffffffffu, t0, off));
            t1 = fmaxf(t1, __shfl_xor_sync(0xffffffffu, t1, off));
        }
        const float n0 = fmaxf(m0, t0), n1 = fmaxf(m1, t1);
        /* as in the row kernel: no weight while every score so far is -inf */
        const bool none0 = n0 == -CUDART_INF_F, none1 = n1 == -CUDART_INF_F;
        const float a0 = none0 ? 1.0f : __expf(m0 - n0), a1 = none1 ? 1.0f : __expf(m1 - n1);
        float sum0 = 0.0f, sum1 = 0.0f;
#pragma unroll
        for (int nt = 0; nt < MMA_N / 8; nt++)
#pragma unroll
            for (int e = 0; e < 2; e++) {
                float p0 = none0 ? 0.0f : __expf(sacc[nt][e] - n0), p1 = none1 ? 0.0f : __expf(sacc[nt][2 + e] - n1);
                sacc[nt][e] = p0;
                sacc[nt][2 + e] = p1;
                sum0 += p0;
                sum1 += p1;
            }
#pragma unroll
        for (int off = 1; off < 4; off <<= 1) {
            sum0 += __shfl_xor_sync(0xffffffffu, sum0, off);
            sum1 += __shfl_xor_sync(0xffffffffu, sum1, off);
        }
        l0 = l0 * a0 + sum0;
        l1 = l1 * a1 + sum1;
        m0 = n0;
        m1 = n1;
#pragma unroll
        for (int dt = 0; dt < MMA_D / 8; dt++) {
            oacc[dt][0] *= a0;
            oacc[dt][1] *= a0;
            oacc[dt][2] *= a1;
            oacc[dt][3] *= a1;
        }
#pragma unroll
        for (int kk = 0; kk < MMA_N / 16; kk++) {
            uint32_t pa[4] = {pack_half2(sacc[2 * kk][0], sacc[2 * kk][1]), pack_half2(sacc[2 * kk][2], sacc[2 * kk][3]),
                              pack_half2(sacc[2 * kk + 1][0], sacc[2 * kk + 1][1]),
                              pack_half2(sacc[2 * kk + 1][2], sacc[2 * kk + 1][3])};
            /* V's B fragments, transposed: matrices (keys kk*16 + 0 / 8, dims dt*8) and dt + 1 */
            const __half *v_lane = vs + (kk * 16 + (lane & 15)) * LDT + (lane >> 4) * 8;
#pragma unroll
            for (int dt = 0; dt < MMA_D / 8; dt += 2) {
                uint32_t bf[4];
                ldmatrix_x4_trans(bf, v_lane + dt * 8);
                mma_16816(oacc[dt], pa, bf);
                mma_16816(oacc[dt + 1], pa, bf + 2);
            }
        }
    }
    __half *o0 = o + b * s.o_strides[0] + row0 * s.o_strides[1] + h * s.o_strides[2] + 2 * t;
    __half *o1 = o0 + 8 * s.o_strides[1];
    const float inv0 = 1.0f / l0, inv1 = 1.0f / l1;
#pragma unroll
    for (int dt = 0; dt < MMA_D / 8; dt++) {
        if (row0 < s.q_len) *(__half2 *)(o0 + dt * 8) = __floats2half2_rn(oacc[dt][0] * inv0, oacc[dt][1] * inv0);
        if (row1 < s.q_len) *(__half2 *)(o1 + dt * 8) = __floats2half2_rn(oacc[dt][2] * inv1, oacc[dt][3] * inv1);
    }
}

bool aligned16(const void *p) { return ((uintptr_t)p & 15) == 0; }

bool strides_of_8(const int64_t *strides, int n) {
    for (int d = 0; d < n; d++)
        if (strides[d] % 8) return false;
    return true;
}

bool grid_fits(const onyx_cuda_attention_shape *s, int rows_per_block) {
    return s->batch <= 65535 && s->heads <= 65535 && (s->q_len + rows_per_block - 1) / rows_per_block <= INT32_MAX;
}

bool mma_applies(int dtype, int cc_major, const void *q, const void *k, const void *v, const void *o,
                 const onyx_cuda_attention_shape *s) {
    return dtype == ONYX_CUDA_DT_FLOAT16 && cc_major >= 8 && s->head_dim == MMA_D && s->v_dim == MMA_D &&
           grid_fits(s, MMA_M) && aligned16(q) && aligned16(k) && aligned16(v) && aligned16(o) &&
           strides_of_8(s->q_strides, 3) && strides_of_8(s->k_strides, 3) && strides_of_8(s->v_strides, 3) &&
           strides_of_8(s->o_strides, 3);
}

bool strides_of_4(const int64_t *strides, int n) {
    for (int d = 0; d < n; d++)
        if (strides[d] % 4) return false;
    return true;
}

bool f32_applies(int dtype, const void *q, const void *k, const void *v, const void *o,
                 const onyx_cuda_attention_shape *s) {
    return dtype == ONYX_CUDA_DT_FLOAT32 && (s->head_dim == 32 || s->head_dim == 64) && s->v_dim == s->head_dim &&
           grid_fits(s, F32_M) && aligned16(q) && aligned16(k) && aligned16(v) && aligned16(o) &&
           strides_of_4(s->q_strides, 3) && strides_of_4(s->k_strides, 3) && strides_of_4(s->v_strides, 3) &&
           strides_of_4(s->o_strides, 3);
}

int kernel_for(int dtype, int cc_major, const void *q, const void *k, const void *v, const void *o,
               const onyx_cuda_attention_shape *s) {
    if (mma_applies(dtype, cc_major, q, k, v, o, s)) return ONYX_CUDA_ATTENTION_MMA;
    if (f32_applies(dtype, q, k, v, o, s)) return ONYX_CUDA_ATTENTION_F32_TILES;
    return ONYX_CUDA_ATTENTION_ROWS;
}

template <int D>
cudaError_t launch_f32(const void *q, const void *k, const void *v, const void *bias, void *o,
                       const onyx_cuda_attention_shape *s, cudaStream_t stream) {
    /* above the 48 KiB a launch gets unasked for D = 64 (per device: asked at every launch, which
     * costs a host call; graph replays make none) */
    cudaError_t err = cudaFuncSetAttribute(attention_f32_kernel<D>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                           (int)f32_smem_bytes<D>());
    if (err != cudaSuccess) return err;
    dim3 grid((unsigned)((s->q_len + F32_M - 1) / F32_M), (unsigned)s->heads, (unsigned)s->batch);
    attention_f32_kernel<D><<<grid, F32_THREADS, f32_smem_bytes<D>(), stream>>>(
        (const float *)q, (const float *)k, (const float *)v, (const float *)bias, (float *)o, *s);
    return cudaGetLastError();
}

template <typename T>
cudaError_t launch_rows(const void *q, const void *k, const void *v, const void *bias, void *o,
                        const onyx_cuda_attention_shape *s, cudaStream_t stream) {
    int64_t rows = s->batch * s->heads * s->q_len, blocks = (rows + ROWS_WARPS - 1) / ROWS_WARPS;
    if (blocks > INT32_MAX) return cudaErrorInvalidValue;
    attention_rows_kernel<T><<<(unsigned)blocks, ROWS_WARPS * 32, 0, stream>>>(
        (const T *)q, (const T *)k, (const T *)v, (const T *)bias, (T *)o, *s);
    return cudaGetLastError();
}

} // namespace

extern "C" int onyx_cuda_attention_kernel(int dtype, int cc_major, const void *q, const void *k, const void *v,
                                          const void *o, const onyx_cuda_attention_shape *shape) {
    return kernel_for(dtype, cc_major, q, k, v, o, shape);
}

extern "C" cudaError_t onyx_cuda_attention(int dtype, int cc_major, const void *q, const void *k, const void *v,
                                           const void *bias, void *o, const onyx_cuda_attention_shape *s,
                                           cudaStream_t stream) {
    if (s->kv_len <= 0 || s->v_dim > ONYX_CUDA_ATTENTION_MAX_V_DIM) return cudaErrorInvalidValue;
    if (s->batch * s->heads * s->q_len == 0) return cudaSuccess;
    switch (kernel_for(dtype, cc_major, q, k, v, o, s)) {
    case ONYX_CUDA_ATTENTION_MMA: {
        dim3 grid((unsigned)((s->q_len + MMA_M - 1) / MMA_M), (unsigned)s->heads, (unsigned)s->batch);
        attention_mma_kernel<<<grid, MMA_WARPS * 32, 0, stream>>>((const __half *)q, (const __half *)k,
                                                                 (const __half *)v, (const __half *)bias,
                                                                 (__half *)o, *s);
        return cudaGetLastError();
    }
    case ONYX_CUDA_ATTENTION_F32_TILES:
        return s->head_dim == 64 ? launch_f32<64>(q, k, v, bias, o, s, stream)
                                 : launch_f32<32>(q, k, v, bias, o, s, stream);
    default: break;
    }
    switch (dtype) {
    case ONYX_CUDA_DT_FLOAT32: return launch_rows<float>(q, k, v, bias, o, s, stream);
    case ONYX_CUDA_DT_FLOAT16: return launch_rows<__half>(q, k, v, bias, o, s, stream);
    case ONYX_CUDA_DT_BFLOAT16: return launch_rows<__nv_bfloat16>(q, k, v, bias, o, s, stream);
    default: return cudaErrorInvalidValue;
    }
}
