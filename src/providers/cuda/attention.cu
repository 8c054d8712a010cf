/*
 * attention.cu - the kernels of onyx Attention (math_launch.h; the op is described in
 * src/providers/cpu/attention.c).
 *
 * attention_mma_kernel: float16, head size 64. A block of 4 warps takes 64 query rows of one
 * (batch, head), 16 per warp, and walks the keys 32 at a time (FlashAttention's online softmax):
 * the warp's scores S = Q K^T by WMMA (16x16x16, float32 accumulators) into shared memory, each
 * row's running max and sum updated by two lanes, P = exp(S - max) as float16, the output
 * accumulator O (float32, shared memory) rescaled and O += P V by WMMA. The (q_len, kv_len)
 * scores never reach global memory and Q, K, V are read in place through their strides. Shared
 * memory is 40 KiB, under the 48 KiB a launch may use without opting in.
 *
 * attention_rows_kernel: any float dtype and head size, one warp per query row: each key's dot
 * product across the warp, the online softmax in registers, the lanes holding V's columns.
 */
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <math_constants.h>
#include <mma.h>
#include <stdint.h>

#include "providers/cuda/math_launch.h"

namespace {

using namespace nvcuda;

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

/* ---- float16, head size 64: tensor cores ---- */

constexpr int MMA_D = 64;         /* head size of Q, K and V */
constexpr int MMA_M = 64;         /* query rows per block */
constexpr int MMA_N = 32;         /* keys per step */
constexpr int MMA_WARPS = MMA_M / 16;
constexpr int LDH = MMA_D + 8;    /* float16 rows of the K and V tiles and the Q staging */
constexpr int LDS = MMA_N + 4;    /* float32 score rows */
constexpr int LDP = MMA_N + 8;    /* float16 probability rows */
constexpr int LDO = MMA_D + 4;    /* float32 output rows */
constexpr int K_BYTES = MMA_N * LDH * 2, V_BYTES = K_BYTES;
constexpr int S_BYTES = MMA_WARPS * 16 * LDS * 4, P_BYTES = MMA_WARPS * 16 * LDP * 2, O_BYTES = MMA_WARPS * 16 * LDO * 4;
constexpr int MMA_SMEM = K_BYTES + V_BYTES + S_BYTES + P_BYTES + O_BYTES;
static_assert(MMA_SMEM <= 48 * 1024, "the tensor-core kernel's shared memory must fit a launch without opt-in");
static_assert(K_BYTES % 32 == 0 && S_BYTES % 32 == 0 && P_BYTES % 32 == 0, "WMMA tiles need 32-byte alignment");
static_assert(16 * LDH * 2 <= 16 * LDO * 4, "a warp's Q rows are staged in its output rows");

__global__ void __launch_bounds__(MMA_WARPS * 32)
    attention_mma_kernel(const __half *__restrict__ q, const __half *__restrict__ k, const __half *__restrict__ v,
                         const __half *__restrict__ bias, __half *__restrict__ o, onyx_cuda_attention_shape s) {
    __shared__ __align__(128) unsigned char smem[MMA_SMEM];
    __half *ks = (__half *)smem;
    __half *vs = (__half *)(smem + K_BYTES);
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
    float *ss = (float *)(smem + K_BYTES + V_BYTES) + warp * 16 * LDS;
    __half *ps = (__half *)(smem + K_BYTES + V_BYTES + S_BYTES) + warp * 16 * LDP;
    float *os = (float *)(smem + K_BYTES + V_BYTES + S_BYTES + P_BYTES) + warp * 16 * LDO;
    const int64_t b = blockIdx.z, h = blockIdx.y, i0 = (int64_t)blockIdx.x * MMA_M + warp * 16;
    const __half *qb = q + b * s.q_strides[0] + h * s.q_strides[2];
    const __half *kb = k + b * s.k_strides[0] + h * s.k_strides[2];
    const __half *vb = v + b * s.v_strides[0] + h * s.v_strides[2];

    /* The warp's 16 query rows, staged (zeros past q_len) in its output rows, into fragments. */
    __half *qs = (__half *)os;
    for (int c = lane; c < 16 * MMA_D / 8; c += 32) {
        int r = c / (MMA_D / 8), col = (c % (MMA_D / 8)) * 8;
        uint4 val = make_uint4(0, 0, 0, 0);
        if (i0 + r < s.q_len) val = *(const uint4 *)(qb + (i0 + r) * s.q_strides[1] + col);
        *(uint4 *)(qs + r * LDH + col) = val;
    }
    __syncwarp();
    wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> qa[MMA_D / 16];
#pragma unroll
    for (int kk = 0; kk < MMA_D / 16; kk++) wmma::load_matrix_sync(qa[kk], qs + kk * 16, LDH);
    __syncwarp();
    for (int c = lane; c < 16 * LDO; c += 32) os[c] = 0.0f;

    /* Two lanes per query row: row r, columns half * 16 .. + 16 of each step's scores and
     * half * 32 .. + 32 of the output. */
    const int r = lane >> 1, half = lane & 1;
    const int64_t i = i0 + r;
    const __half *br = nullptr;
    if (bias) {
        int64_t bi = i < s.q_len ? i : s.q_len - 1;
        br = bias + b * s.bias_strides[0] + h * s.bias_strides[1] + bi * s.bias_strides[2];
    }
    float m = -CUDART_INF_F, l = 0.0f;
    for (int64_t j0 = 0; j0 < s.kv_len; j0 += MMA_N) {
        __syncthreads(); /* the last step's K and V reads are done */
        for (int c = tid; c < MMA_N * MMA_D / 8; c += MMA_WARPS * 32) {
            int rr = c / (MMA_D / 8), col = (c % (MMA_D / 8)) * 8;
            uint4 kv = make_uint4(0, 0, 0, 0), vv = make_uint4(0, 0, 0, 0);
            if (j0 + rr < s.kv_len) {
                kv = *(const uint4 *)(kb + (j0 + rr) * s.k_strides[1] + col);
                vv = *(const uint4 *)(vb + (j0 + rr) * s.v_strides[1] + col);
            }
            *(uint4 *)(ks + rr * LDH + col) = kv;
            *(uint4 *)(vs + rr * LDH + col) = vv;
        }
        __syncthreads();
        /* S = Q K^T: K's rows as the columns of a column-major B */
#pragma unroll
        for (int nt = 0; nt < MMA_N / 16; nt++) {
            wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
            wmma::fill_fragment(acc, 0.0f);
#pragma unroll
            for (int kk = 0; kk < MMA_D / 16; kk++) {
                wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::col_major> kf;
                wmma::load_matrix_sync(kf, ks + nt * 16 * LDH + kk * 16, LDH);
                wmma::mma_sync(acc, qa[kk], kf, acc);
            }
            wmma::store_matrix_sync(ss + nt * 16, acc, LDS, wmma::mem_row_major);
        }
        __syncwarp();
        float x[16], tmax = -CUDART_INF_F;
#pragma unroll
        for (int c = 0; c < 16; c++) {
            int col = half * 16 + c;
            int64_t j = j0 + col;
            float t = -CUDART_INF_F;
            if (j < s.kv_len) {
                t = ss[r * LDS + col] * s.scale;
                if (br) t += __half2float(br[j * s.bias_strides[3]]);
            }
            x[c] = t;
            tmax = fmaxf(tmax, t);
        }
        tmax = fmaxf(tmax, __shfl_xor_sync(0xffffffffu, tmax, 1));
        float m_new = fmaxf(m, tmax);
        /* as in the row kernel: no weight while every score so far is -inf */
        float alpha = m_new == -CUDART_INF_F ? 1.0f : __expf(m - m_new), psum = 0.0f;
#pragma unroll
        for (int c = 0; c < 16; c++) {
            float p = m_new == -CUDART_INF_F ? 0.0f : __expf(x[c] - m_new);
            psum += p;
            ps[r * LDP + half * 16 + c] = __float2half(p);
        }
        psum += __shfl_xor_sync(0xffffffffu, psum, 1);
        l = l * alpha + psum;
        m = m_new;
#pragma unroll
        for (int c = 0; c < MMA_D / 2; c++) os[r * LDO + half * (MMA_D / 2) + c] *= alpha;
        __syncwarp();
        /* O += P V */
#pragma unroll
        for (int dt = 0; dt < MMA_D / 16; dt++) {
            wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
            wmma::load_matrix_sync(acc, os + dt * 16, LDO, wmma::mem_row_major);
#pragma unroll
            for (int kk = 0; kk < MMA_N / 16; kk++) {
                wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> pf;
                wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::row_major> vf;
                wmma::load_matrix_sync(pf, ps + kk * 16, LDP);
                wmma::load_matrix_sync(vf, vs + kk * 16 * LDH + dt * 16, LDH);
                wmma::mma_sync(acc, pf, vf, acc);
            }
            wmma::store_matrix_sync(os + dt * 16, acc, LDO, wmma::mem_row_major);
        }
        __syncwarp();
    }
    if (i >= s.q_len) return;
    float inv = 1.0f / l;
    __half *orow = o + b * s.o_strides[0] + i * s.o_strides[1] + h * s.o_strides[2] + half * (MMA_D / 2);
    const float *orow_s = os + r * LDO + half * (MMA_D / 2);
#pragma unroll
    for (int c = 0; c < MMA_D / 2; c += 8) {
        __align__(16) __half packed[8];
#pragma unroll
        for (int e = 0; e < 8; e++) packed[e] = __float2half(orow_s[c + e] * inv);
        *(uint4 *)(orow + c) = *(const uint4 *)packed;
    }
}

bool aligned16(const void *p) { return ((uintptr_t)p & 15) == 0; }

bool strides_of_8(const int64_t *strides, int n) {
    for (int d = 0; d < n; d++)
        if (strides[d] % 8) return false;
    return true;
}

bool mma_applies(int dtype, const void *q, const void *k, const void *v, const void *o,
                 const onyx_cuda_attention_shape *s) {
    return dtype == ONYX_CUDA_DT_FLOAT16 && s->head_dim == MMA_D && s->v_dim == MMA_D && s->batch <= 65535 &&
           s->heads <= 65535 && (s->q_len + MMA_M - 1) / MMA_M <= INT32_MAX && aligned16(q) && aligned16(k) &&
           aligned16(v) && aligned16(o) && strides_of_8(s->q_strides, 3) && strides_of_8(s->k_strides, 3) &&
           strides_of_8(s->v_strides, 3) && strides_of_8(s->o_strides, 3);
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

extern "C" int onyx_cuda_attention_uses_tensor_cores(int dtype, const void *q, const void *k, const void *v,
                                                     const void *o, const onyx_cuda_attention_shape *shape) {
    return mma_applies(dtype, q, k, v, o, shape);
}

extern "C" cudaError_t onyx_cuda_attention(int dtype, const void *q, const void *k, const void *v, const void *bias,
                                           void *o, const onyx_cuda_attention_shape *s, cudaStream_t stream) {
    if (s->kv_len <= 0 || s->v_dim > ONYX_CUDA_ATTENTION_MAX_V_DIM) return cudaErrorInvalidValue;
    if (s->batch * s->heads * s->q_len == 0) return cudaSuccess;
    if (mma_applies(dtype, q, k, v, o, s)) {
        dim3 grid((unsigned)((s->q_len + MMA_M - 1) / MMA_M), (unsigned)s->heads, (unsigned)s->batch);
        attention_mma_kernel<<<grid, MMA_WARPS * 32, 0, stream>>>((const __half *)q, (const __half *)k,
                                                                 (const __half *)v, (const __half *)bias,
                                                                 (__half *)o, *s);
        return cudaGetLastError();
    }
    switch (dtype) {
    case ONYX_CUDA_DT_FLOAT32: return launch_rows<float>(q, k, v, bias, o, s, stream);
    case ONYX_CUDA_DT_FLOAT16: return launch_rows<__half>(q, k, v, bias, o, s, stream);
    case ONYX_CUDA_DT_BFLOAT16: return launch_rows<__nv_bfloat16>(q, k, v, bias, o, s, stream);
    default: return cudaErrorInvalidValue;
    }
}
