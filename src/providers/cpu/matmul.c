/*
 * matmul.c - CPU matrix products: MatMul, MatMulBias, Gemm, MatMulInteger, QLinearMatMul, Einsum,
 * and Det.
 *
 * MatMulBias (domain "onyx", made by the graph optimizer from MatMul + Add) is MatMul followed by
 * a bias over the last axis, added in float32 (float64) before half results are rounded. Its
 * bias is optional, and with attribute transB = 1 each matrix of its B (rank >= 2) is stored
 * transposed, (..., N, K): the layout src/graph/weight_layout.c gives the cuda provider's 2-D
 * weights, and attention's keys when the fusion folds their Transpose in (src/graph/fusion.c).
 * With attribute packedN = N its B is a float32 weight packed in the panel product's panels
 * (ceil(N / 32), K, 32), the layout that pass gives host-only sessions on AVX-512.
 *
 * float32 and float64 products go through OpenBLAS (cblas_sgemm / cblas_dgemm), one call per
 * broadcast batch matrix, or one call for the whole batch when B is shared and A is contiguous
 * (the common "activations (B,T,C) times weight (C,OC)" case folds B*T into M). float16 and
 * bfloat16 operands are widened to float32 in the workspace, multiplied by sgemm (accumulating
 * in float32) and rounded back. Integer products use plain loops with 64-bit accumulators.
 * Einsum is one generic loop over output elements and summed labels, reading each operand
 * through per-label strides (repeated labels add their strides, which gives diagonals).
 *
 * Legend: M = rows of A and Y, K = inner dimension, N = columns of B and Y.
 */
#include <cblas.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include <stdio.h>
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "core/alloc.h"
#include "core/host_cache.h"
#include "graph/passes.h"
#include "providers/cpu/elementwise_plan.h"
#include "providers/cpu/math_kernels.h"


void math_to_f32(onyx_dtype dtype, const void *src, int64_t offset, int64_t n, float *dst) {
    if (dtype == ONYX_DTYPE_FLOAT32) {
        memcpy(dst, (const float *)src + offset, (size_t)n * sizeof(float));
    } else if (dtype == ONYX_DTYPE_FLOAT16) {
        ew_f16_to_f32_n(dst, (const uint16_t *)src + offset, n); /* F16C where the CPU has it */
    } else if (dtype == ONYX_DTYPE_BFLOAT16) {
        const uint16_t *s = (const uint16_t *)src + offset;
        for (int64_t i = 0; i < n; i++) dst[i] = onyx_bf16_to_f32(s[i]);
    } else {
        for (int64_t i = 0; i < n; i++) dst[i] = (float)math_load(dtype, src, offset + i);
    }
}

void math_from_f32(onyx_dtype dtype, const float *src, int64_t n, void *dst, int64_t offset) {
    if (dtype == ONYX_DTYPE_FLOAT32) {
        memcpy((float *)dst + offset, src, (size_t)n * sizeof(float));
    } else if (dtype == ONYX_DTYPE_FLOAT16) {
        ew_f32_to_f16_n((uint16_t *)dst + offset, src, n);
    } else if (dtype == ONYX_DTYPE_BFLOAT16) {
        uint16_t *d = (uint16_t *)dst + offset;
        for (int64_t i = 0; i < n; i++) d[i] = onyx_f32_to_bf16(src[i]);
    } else {
        for (int64_t i = 0; i < n; i++) math_store(dtype, dst, offset + i, src[i]);
    }
}

int math_threads(const onyx_kernel_ctx *ctx) {
    int threads = ctx->threads > 1 ? ctx->threads : 1;
    return openblas_get_parallel() == 1 ? 1 : threads; /* 1 = OpenBLAS's pthread build */
}

/* OpenBLAS's OpenMP build runs a product on omp_get_max_threads() threads, the calling thread's
 * OpenMP setting: make it the session's intra-op thread count, so --threads / intra_op_threads
 * bound BLAS too (it is per thread: sessions on other threads keep theirs). The pthread build
 * keeps its own pool, sized by OPENBLAS_NUM_THREADS. */
static void blas_threads(const onyx_kernel_ctx *ctx) {
#ifdef _OPENMP
    if (openblas_get_parallel() == 2 && ctx->threads > 0 && omp_get_max_threads() != ctx->threads)
        omp_set_num_threads(ctx->threads);
#else
    (void)ctx;
#endif
}

/* ---- shared shape logic of MatMul and MatMulInteger ---- */

typedef struct matmul_shape {
    int64_t M, K, N;
    int batch_rank;
    int64_t batch_dims[ONYX_MAX_RANK];
    int64_t a_batch_strides[ONYX_MAX_RANK]; /* in matrices of A (M*K elements); 0 = broadcast */
    int64_t b_batch_strides[ONYX_MAX_RANK];
    int64_t batch;       /* product of batch_dims */
    int64_t a_matrices;  /* matrices stored in A, B */
    int64_t b_matrices;
    int out_rank;
    int64_t out_dims[ONYX_MAX_RANK];
} matmul_shape;

/* NumPy matmul shapes: 1-D A is a row vector, 1-D B a column vector (their unit dims are dropped
 * from the output); the leading dims broadcast. */
static onyx_status matmul_shape_infer(const onyx_kernel_ctx *ctx, const onyx_tensor *a, const onyx_tensor *b,
                                      matmul_shape *s) {
    char abuf[128], bbuf[128];
    const char *op = ctx->node->op_type;
    if (a->rank < 1 || b->rank < 1)
        return onyx_error(ONYX_ERR_INVALID_MODEL, "%s: input A is %s and input B is %s: both need rank >= 1", op,
                          onyx_shape_describe(a->dims, a->rank, abuf, sizeof abuf),
                          onyx_shape_describe(b->dims, b->rank, bbuf, sizeof bbuf));
    int64_t a_k = a->dims[a->rank - 1];
    int64_t b_k = b->rank == 1 ? b->dims[0] : b->dims[b->rank - 2];
    if (a_k != b_k)
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "%s: input A is %s and input B is %s: inner dimensions %lld and %lld differ",
                          op, onyx_shape_describe(a->dims, a->rank, abuf, sizeof abuf),
                          onyx_shape_describe(b->dims, b->rank, bbuf, sizeof bbuf), (long long)a_k, (long long)b_k);
    s->K = a_k;
    s->M = a->rank == 1 ? 1 : a->dims[a->rank - 2];
    s->N = b->rank == 1 ? 1 : b->dims[b->rank - 1];
    int a_batch_rank = a->rank > 2 ? a->rank - 2 : 0;
    int b_batch_rank = b->rank > 2 ? b->rank - 2 : 0;
    if (onyx_broadcast_shape(a->dims, a_batch_rank, b->dims, b_batch_rank, s->batch_dims, &s->batch_rank) != 0)
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "%s: input A is %s and input B is %s: batch dimensions do not broadcast",
                          op, onyx_shape_describe(a->dims, a->rank, abuf, sizeof abuf),
                          onyx_shape_describe(b->dims, b->rank, bbuf, sizeof bbuf));
    onyx_broadcast_strides(a->dims, a_batch_rank, s->batch_dims, s->batch_rank, s->a_batch_strides);
    onyx_broadcast_strides(b->dims, b_batch_rank, s->batch_dims, s->batch_rank, s->b_batch_strides);
    s->batch = onyx_shape_numel(s->batch_dims, s->batch_rank);
    s->a_matrices = onyx_shape_numel(a->dims, a_batch_rank);
    s->b_matrices = onyx_shape_numel(b->dims, b_batch_rank);
    s->out_rank = s->batch_rank;
    memcpy(s->out_dims, s->batch_dims, sizeof(int64_t) * (size_t)s->batch_rank);
    if (a->rank > 1) s->out_dims[s->out_rank++] = s->M;
    if (b->rank > 1) s->out_dims[s->out_rank++] = s->N;
    if (s->out_rank > ONYX_MAX_RANK)
        return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "%s: output rank %d exceeds %d", op, s->out_rank, ONYX_MAX_RANK);
    return ONYX_OK;
}

/* Matrix offsets (in matrices) of A and B for batch index flat. */
static void matmul_batch_offsets(const matmul_shape *s, int64_t flat, int64_t *a_index, int64_t *b_index) {
    int64_t ai = 0, bi = 0;
    for (int d = s->batch_rank - 1; d >= 0; d--) {
        int64_t coord = flat % s->batch_dims[d];
        flat /= s->batch_dims[d];
        ai += coord * s->a_batch_strides[d];
        bi += coord * s->b_batch_strides[d];
    }
    *a_index = ai;
    *b_index = bi;
}

#define GEMV_MAX_ROWS 1  /* up to this many rows, gemm_f32 runs one sgemv per row (as fast as ONNX Runtime) */
#define FEW_ROWS_MAX 8   /* from GEMV_MAX_ROWS + 1 to this many rows, gemm_f32 runs few_rows_f32 */
#define FEW_ROWS_WIDTH 16 /* columns per accumulator vector */
#define FEW_ROWS_SPAN 8   /* blocks of columns per OpenMP work item */
#define FEW_ROWS_AHEAD 8 /* rows of B prefetched ahead */

typedef float few_rows_vec __attribute__((vector_size(FEW_ROWS_WIDTH * sizeof(float))));

/* *c = alpha * sum + beta * *c (beta 0: *c is not read, as BLAS does). */
static inline void few_rows_store(float *c, float sum, float alpha, float beta) {
    *c = alpha * sum + (beta == 0.0f ? 0.0f : beta * *c);
}

/* NB blocks of FEW_ROWS_WIDTH columns from n0 of C (M,N) = alpha * A B + beta * C, B (K,N)
 * row-major. M and NB are constants where this is inlined (few_rows_f32's dispatch), so the
 * M x NB accumulators stay in vector registers; each k reads NB * 64 contiguous bytes of B. */
static inline __attribute__((always_inline)) void few_rows_nt_blocks(const int M, const int NB, int64_t N, int64_t K,
                                                                     float alpha, const float *A, const float *B,
                                                                     float beta, float *C, int64_t n0) {
    few_rows_vec acc[FEW_ROWS_MAX][4];
#pragma GCC unroll 8
    for (int m = 0; m < M; m++)
#pragma GCC unroll 4
        for (int q = 0; q < NB; q++) acc[m][q] = (few_rows_vec){0};
    for (int64_t k = 0; k < K; k++) {
        few_rows_vec b[4];
        /* B's rows are N floats apart, more than a page: the hardware prefetcher does not
         * follow, so ask for the rows FEW_ROWS_AHEAD steps ahead */
        if (k + FEW_ROWS_AHEAD < K)
#pragma GCC unroll 4
            for (int q = 0; q < NB; q++) __builtin_prefetch(B + (k + FEW_ROWS_AHEAD) * N + n0 + q * FEW_ROWS_WIDTH);
#pragma GCC unroll 4
        for (int q = 0; q < NB; q++) memcpy(&b[q], B + k * N + n0 + q * FEW_ROWS_WIDTH, sizeof b[q]);
#pragma GCC unroll 8
        for (int m = 0; m < M; m++) {
            float a = A[m * K + k];
#pragma GCC unroll 4
            for (int q = 0; q < NB; q++) acc[m][q] += a * b[q];
        }
    }
#pragma GCC unroll 8
    for (int m = 0; m < M; m++)
        for (int q = 0; q < NB; q++) {
            float out[FEW_ROWS_WIDTH];
            memcpy(out, &acc[m][q], sizeof out);
            for (int j = 0; j < FEW_ROWS_WIDTH; j++)
                few_rows_store(C + m * N + n0 + q * FEW_ROWS_WIDTH + j, out[j], alpha, beta);
        }
}

/* Blocks of columns per step, for every row count. Measured on AVX-512 (Zen 4, 2 cores, a 56 MB chain of 768 x 2304
 * products): 4 blocks (64 columns) for every row count streamed B best, also at 8 rows, where
 * the 32 accumulator vectors take every zmm register; 1 or 2 blocks for 5-8 rows were up to 2x
 * slower. Machines with AVX2 only (16 registers) were not measured. */
#define FEW_ROWS_NB 4

/* Columns [n0, n0 + count * FEW_ROWS_WIDTH) of C for M rows (a constant where inlined). */
static inline __attribute__((always_inline)) void few_rows_nt_span(const int M, int64_t N, int64_t K, float alpha,
                                                                   const float *A, const float *B, float beta,
                                                                   float *C, int64_t n0, int64_t count) {
    const int nb = FEW_ROWS_NB;
    int64_t q = 0;
    for (; q + nb <= count; q += nb)
        few_rows_nt_blocks(M, nb, N, K, alpha, A, B, beta, C, n0 + q * FEW_ROWS_WIDTH);
    for (; q < count; q++) few_rows_nt_blocks(M, 1, N, K, alpha, A, B, beta, C, n0 + q * FEW_ROWS_WIDTH);
}

/* Column n of C = alpha * A B^T + beta * C, B (N,K) row-major: M dot products with B's row n. */
static inline __attribute__((always_inline)) void few_rows_t_column(const int M, int64_t N, int64_t K, float alpha,
                                                                    const float *A, const float *B, float beta,
                                                                    float *C, int64_t n) {
    const float *b_row = B + n * K;
    int64_t chunks = K / FEW_ROWS_WIDTH;
    few_rows_vec acc[FEW_ROWS_MAX];
#pragma GCC unroll 8
    for (int m = 0; m < M; m++) acc[m] = (few_rows_vec){0};
    for (int64_t c = 0; c < chunks; c++) {
        few_rows_vec b;
        memcpy(&b, b_row + c * FEW_ROWS_WIDTH, sizeof b);
#pragma GCC unroll 8
        for (int m = 0; m < M; m++) {
            few_rows_vec a;
            memcpy(&a, A + m * K + c * FEW_ROWS_WIDTH, sizeof a);
            acc[m] += a * b;
        }
    }
#pragma GCC unroll 8
    for (int m = 0; m < M; m++) {
        float lanes[FEW_ROWS_WIDTH], sum = 0.0f;
        memcpy(lanes, &acc[m], sizeof lanes);
        for (int j = 0; j < FEW_ROWS_WIDTH; j++) sum += lanes[j];
        for (int64_t k = chunks * FEW_ROWS_WIDTH; k < K; k++) sum += A[m * K + k] * b_row[k];
        few_rows_store(C + m * N + n, sum, alpha, beta);
    }
}

/* Calls F(m, args...) with m the constant equal to M (1 to FEW_ROWS_MAX). */
#define FEW_ROWS_DISPATCH(F, M, ...)          \
    switch (M) {                              \
    case 1: F(1, __VA_ARGS__); break;         \
    case 2: F(2, __VA_ARGS__); break;         \
    case 3: F(3, __VA_ARGS__); break;         \
    case 4: F(4, __VA_ARGS__); break;         \
    case 5: F(5, __VA_ARGS__); break;         \
    case 6: F(6, __VA_ARGS__); break;         \
    case 7: F(7, __VA_ARGS__); break;         \
    default: F(FEW_ROWS_MAX, __VA_ARGS__); break; \
    }

/* C (M,N) = alpha * A B + beta * C for a few rows (M <= FEW_ROWS_MAX), A (M,K) row-major, B (K,N)
 * row-major (trans_b 0) or (N,K) (trans_b 1): the shape of a decode step's products (a few rows
 * times a weight matrix), which is bound by reading B. OpenBLAS's sgemm is slow there and one
 * sgemv per row reads B once per row; this reads B once for all rows. trans_b 0: each block of
 * 16 columns keeps M vector accumulators while k runs over B's rows; trans_b 1: each column of C
 * is M dot products with one row of B. Compiled for AVX-512, AVX2 and baseline x86-64, picked at
 * load time. Columns are split over the calling thread's OpenMP team (the session's threads). */
__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default"))) static void
few_rows_f32(int trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float *A, const float *B, float beta,
             float *C) {
    const int rows = (int)M;
    int64_t blocks = N / FEW_ROWS_WIDTH;
    if (!trans_b) {
        /* spans of FEW_ROWS_SPAN blocks split over the team, each walked FEW_ROWS_NB blocks at a time */
        int64_t spans = (blocks + FEW_ROWS_SPAN - 1) / FEW_ROWS_SPAN;
#pragma omp parallel for if (spans > 1 && blocks * FEW_ROWS_WIDTH * K * M > (1 << 16))
        for (int64_t sp = 0; sp < spans; sp++) {
            int64_t first = sp * FEW_ROWS_SPAN, count = blocks - first < FEW_ROWS_SPAN ? blocks - first : FEW_ROWS_SPAN;
            FEW_ROWS_DISPATCH(few_rows_nt_span, rows, N, K, alpha, A, B, beta, C, first * FEW_ROWS_WIDTH, count)
        }
        for (int64_t n = blocks * FEW_ROWS_WIDTH; n < N; n++) /* the last columns */
            for (int64_t m = 0; m < M; m++) {
                float sum = 0.0f;
                for (int64_t k = 0; k < K; k++) sum += A[m * K + k] * B[k * N + n];
                few_rows_store(C + m * N + n, sum, alpha, beta);
            }
        return;
    }
#pragma omp parallel for if (N > 1 && N * K * M > (1 << 16))
    for (int64_t n = 0; n < N; n++)
        FEW_ROWS_DISPATCH(few_rows_t_column, rows, N, K, alpha, A, B, beta, C, n)
}

#if defined(__x86_64__)
/* ---- products of 9 to 256 rows on AVX-512: A packed once for the team, B by panels ----
 * OpenBLAS, called once per thread on that thread's columns, packs the whole of A (M x K) in
 * every thread as well as its columns of B. Here the team packs A once, in tiles of up to
 * PANEL_MR rows laid out k-major (a tile's rows at one k side by side), and B in panels of 32
 * columns (K x 32, contiguous, zero-padded), each thread a share of the tiles and panels;
 * after one barrier each thread multiplies its units (a panel times a group of tiles): two zmm
 * accumulators per row of a tile while k runs over the panel, A's element broadcast into the
 * multiply-adds. */
#define PANEL_W ONYX_WEIGHT_PANEL /* 32: the weight-layout pass packs panels of this width */
#define PANEL_MR 12
#define PANEL_MAX_BYTES ((size_t)64 << 20) /* a larger packed B (a vocabulary head) keeps the split */
#define PANEL_STACK_FLOATS 4096                 /* 16 KB: packing buffers this small live on the stack */

#define PANEL_TILE(MR)                                                                                            \
    __attribute__((target("avx512f"))) static void panel_tile_##MR(int64_t K, const float *Ap, const float *Bp,   \
                                                                  float *C, int64_t ldc, __mmask16 m0,              \
                                                                  __mmask16 m1, float alpha, float beta) {          \
        __m512 acc0[MR], acc1[MR];                                                                                \
        _Pragma("GCC unroll 32") for (int r = 0; r < MR; r++) acc0[r] = acc1[r] = _mm512_setzero_ps();           \
        for (int64_t k = 0; k < K; k++) {                                                                         \
            __m512 b0 = _mm512_loadu_ps(Bp + k * PANEL_W), b1 = _mm512_loadu_ps(Bp + k * PANEL_W + 16);          \
            const float *a = Ap + k * MR;                                                                         \
            _Pragma("GCC unroll 32") for (int r = 0; r < MR; r++) {                                               \
                __m512 av = _mm512_set1_ps(a[r]);                                                                 \
                acc0[r] = _mm512_fmadd_ps(av, b0, acc0[r]);                                                       \
                acc1[r] = _mm512_fmadd_ps(av, b1, acc1[r]);                                                       \
            }                                                                                                     \
        }                                                                                                         \
        __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);                                             \
        _Pragma("GCC unroll 32") for (int r = 0; r < MR; r++) {                                                   \
            __m512 c0 = _mm512_mul_ps(acc0[r], va), c1 = _mm512_mul_ps(acc1[r], va);                              \
            if (beta != 0.0f) {                                                                                   \
                c0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m0, C + r * ldc), vb, c0);                             \
                c1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m1, C + r * ldc + 16), vb, c1);                        \
            }                                                                                                     \
            _mm512_mask_storeu_ps(C + r * ldc, m0, c0);                                                           \
            _mm512_mask_storeu_ps(C + r * ldc + 16, m1, c1);                                                      \
        }                                                                                                         \
    }
PANEL_TILE(12)
PANEL_TILE(8)
PANEL_TILE(4)
PANEL_TILE(2)

/* One row: four pairs of accumulators over k, summed at the end. With one pair each multiply-add
 * waited for the one before (the latency, not the bandwidth, set the pace): a one-token encoder
 * run on one thread measured 12-35% slower than OpenBLAS's sgemv on the unpacked weights. */
__attribute__((target("avx512f"))) static void panel_tile_1(int64_t K, const float *Ap, const float *Bp, float *C,
                                                           int64_t ldc, __mmask16 m0, __mmask16 m1, float alpha,
                                                           float beta) {
    (void)ldc;
    __m512 acc[8];
    for (int i = 0; i < 8; i++) acc[i] = _mm512_setzero_ps();
    int64_t k = 0;
    for (; k + 4 <= K; k += 4)
        for (int u = 0; u < 4; u++) {
            __m512 av = _mm512_set1_ps(Ap[k + u]);
            acc[2 * u] = _mm512_fmadd_ps(av, _mm512_loadu_ps(Bp + (k + u) * PANEL_W), acc[2 * u]);
            acc[2 * u + 1] = _mm512_fmadd_ps(av, _mm512_loadu_ps(Bp + (k + u) * PANEL_W + 16), acc[2 * u + 1]);
        }
    for (; k < K; k++) {
        __m512 av = _mm512_set1_ps(Ap[k]);
        acc[0] = _mm512_fmadd_ps(av, _mm512_loadu_ps(Bp + k * PANEL_W), acc[0]);
        acc[1] = _mm512_fmadd_ps(av, _mm512_loadu_ps(Bp + k * PANEL_W + 16), acc[1]);
    }
    __m512 c0 = _mm512_add_ps(_mm512_add_ps(acc[0], acc[2]), _mm512_add_ps(acc[4], acc[6]));
    __m512 c1 = _mm512_add_ps(_mm512_add_ps(acc[1], acc[3]), _mm512_add_ps(acc[5], acc[7]));
    c0 = _mm512_mul_ps(c0, _mm512_set1_ps(alpha));
    c1 = _mm512_mul_ps(c1, _mm512_set1_ps(alpha));
    if (beta != 0.0f) {
        c0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m0, C), _mm512_set1_ps(beta), c0);
        c1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m1, C + 16), _mm512_set1_ps(beta), c1);
    }
    _mm512_mask_storeu_ps(C, m0, c0);
    _mm512_mask_storeu_ps(C + 16, m1, c1);
}

/* Rows of the tile starting at row m0 of A (M rows): PANEL_MR, or the largest of 8, 4, 2, 1 that
 * the rows left fill. */
static int64_t panel_tile_rows(int64_t M, int64_t m0) {
    int64_t left = M - m0;
    return left >= 12 ? 12 : left >= 8 ? 8 : left >= 4 ? 4 : left >= 2 ? 2 : 1;
}

static int panel_gemm_usable(void) {
    static int usable = -1; /* a benign race: every thread computes the same answer */
    if (usable < 0) {
        __builtin_cpu_init();
        usable = __builtin_cpu_supports("avx512f");
    }
    return usable;
}

/* Mask of the valid lanes of the 16 columns from n0 (N columns in all). */
static __mmask16 panel_mask(int64_t N, int64_t n0) {
    int64_t w = N - n0;
    return (__mmask16)(w >= 16 ? 0xFFFFu : w <= 0 ? 0u : (1u << w) - 1u);
}

/* C (M,N) = alpha * A B + beta * C with A (M,K) row-major and B (K,N) row-major, or (prepacked)
 * B already in panels (the weight-layout pass's packedN layout), over threads (see above).
 * Returns 0, with C untouched, when the packing buffers' memory cannot be had. */
static int panel_gemm_f32(int prepacked, int64_t M, int64_t N, int64_t K, float alpha, const float *A, const float *B,
                          float beta, float *C, int threads) {
    int64_t panels = (N + PANEL_W - 1) / PANEL_W, tiles = 0;
    for (int64_t m0 = 0; m0 < M; m0 += panel_tile_rows(M, m0)) tiles++;
    /* row groups: enough units (a panel times a group of tiles) for the team to share evenly */
    int64_t groups = 1;
    while (groups < tiles && panels * groups < 3 * (int64_t)threads) groups++;
    int64_t units = panels * groups;
    size_t a_floats = ((size_t)M * (size_t)K + 15) & ~(size_t)15; /* B's panels stay 64-byte aligned */
    size_t bytes = (a_floats + (prepacked ? 0 : (size_t)panels * (size_t)K * PANEL_W)) * sizeof(float);
    /* small products pack on the stack; larger ones in a block kept between calls while a
     * session exists (no fresh pages, no allocation in a steady run) */
    float small[PANEL_STACK_FLOATS] __attribute__((aligned(64)));
    float *packed_a = bytes <= sizeof small ? small : onyx_host_cache_alloc(bytes);
    if (!packed_a) {
        onyx_error_clear();
        return 0;
    }
    const float *packed_b = prepacked ? B : packed_a + a_floats;
    int parts = threads < units ? threads : (int)units;
#pragma omp parallel num_threads(parts)
    {
#ifdef _OPENMP
        int p = omp_get_thread_num(), n = omp_get_num_threads();
#else
        int p = 0, n = 1;
#endif
        /* packing: tiles p, p + n, ... of A (k-major); panels p, p + n, ... of B */
        for (int64_t i = 0, m0 = 0; i < tiles; i++) {
            int64_t mr = panel_tile_rows(M, m0);
            if (i % n == p) {
                float *dst = packed_a + m0 * K;
                for (int64_t k = 0; k < K; k++)
                    for (int64_t r = 0; r < mr; r++) dst[k * mr + r] = A[(m0 + r) * K + k];
            }
            m0 += mr;
        }
        for (int64_t q = p; q < panels && !prepacked; q += n)
            onyx_pack_panel(B, K, N, q, packed_a + a_floats + q * K * PANEL_W);
#pragma omp barrier
        int64_t u0 = units * p / n, u1 = units * (p + 1) / n;
        for (int64_t u = u0; u < u1; u++) { /* unit u: panel u / groups, tile group u % groups */
            int64_t q = u / groups, g = u % groups, t0 = tiles * g / groups, t1 = tiles * (g + 1) / groups;
            int64_t n0 = q * PANEL_W;
            __mmask16 k0 = panel_mask(N, n0), k1 = panel_mask(N, n0 + 16);
            const float *bp = packed_b + q * K * PANEL_W;
            int64_t m0 = 0, t = 0;
            for (; t < t0; t++) m0 += panel_tile_rows(M, m0);
            for (; t < t1; t++) {
                int64_t mr = panel_tile_rows(M, m0);
                const float *ap = packed_a + m0 * K;
                float *c = C + m0 * N + n0;
                switch (mr) {
                case 12: panel_tile_12(K, ap, bp, c, N, k0, k1, alpha, beta); break;
                case 8: panel_tile_8(K, ap, bp, c, N, k0, k1, alpha, beta); break;
                case 4: panel_tile_4(K, ap, bp, c, N, k0, k1, alpha, beta); break;
                case 2: panel_tile_2(K, ap, bp, c, N, k0, k1, alpha, beta); break;
                default: panel_tile_1(K, ap, bp, c, N, k0, k1, alpha, beta); break;
                }
                m0 += mr;
            }
        }
    }
    if (packed_a != small) onyx_host_cache_free(packed_a);
    return 1;
}

int onyx_cpu_packs_weights(void) { return panel_gemm_usable(); }

/* C (M,N) = alpha * A B + beta * C with B in panels (packedN): the panel product, on the calling
 * thread's team (one thread inside a parallel region); without memory for A's tiles, a plain
 * loop over the panels. */
static void packed_gemm_f32(int64_t M, int64_t N, int64_t K, float alpha, const float *A, const float *B, float beta,
                            float *C, int threads) {
#ifdef _OPENMP
    if (omp_in_parallel()) threads = 1;
#endif
    if (panel_gemm_f32(1, M, N, K, alpha, A, B, beta, C, threads)) return;
    for (int64_t m = 0; m < M; m++)
        for (int64_t n = 0; n < N; n++) {
            const float *col = B + (n / PANEL_W) * K * PANEL_W + n % PANEL_W;
            float sum = 0.0f;
            for (int64_t k = 0; k < K; k++) sum += A[m * K + k] * col[k * PANEL_W];
            C[m * N + n] = alpha * sum + (beta == 0.0f ? 0.0f : beta * C[m * N + n]);
        }
}
#else
int onyx_cpu_packs_weights(void) { return 0; }
#endif

/* Products of up to this many rows are split by columns across onyx's OpenMP team (below). */
#define SPLIT_MAX_ROWS 256
#define SPLIT_MIN_COLS 32 /* columns of one thread's part, at least */

/* C (M,N) = alpha * op(A) op(B) + beta * C, row-major, float32; K == 0 handled (no BLAS call
 * with a zero leading dimension). threads > 1: the OpenMP threads a product of few rows may be
 * split across (1 inside a parallel region, and with OpenBLAS's pthread build). */
static void gemm_f32(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                     const float *B, float beta, float *C, int threads) {
    if (M == 0 || N == 0) return;
    if (K == 0) {
        for (int64_t i = 0; i < M * N; i++) C[i] = beta == 0.0f ? 0.0f : beta * C[i];
        return;
    }
    /* Decode steps multiply a few rows by a weight matrix, where OpenBLAS's sgemm is slow. Eight
     * 768 x 2304 products on 2 threads (ONNX Runtime 1.30 in brackets): 1 row sgemm 1.31 ms,
     * sgemv 0.37 (0.39); 2 rows sgemv per row 0.77 (0.42), few_rows_f32 1.21; 4 rows sgemv 1.51,
     * few_rows_f32 1.29 (0.62); 8 rows sgemm 2.79, few_rows_f32 1.84 (1.17). */
    if (M > GEMV_MAX_ROWS && M <= FEW_ROWS_MAX && !trans_a) {
        few_rows_f32(trans_b, M, N, K, alpha, A, B, beta, C);
        return;
    }
    if (M <= GEMV_MAX_ROWS) {
        /* Row i of op(A) is A + i * K (A + i with stride M when transposed). */
        for (int64_t i = 0; i < M; i++)
            cblas_sgemv(CblasRowMajor, trans_b ? CblasNoTrans : CblasTrans, (blasint)(trans_b ? N : K),
                        (blasint)(trans_b ? K : N), alpha, B, (blasint)(trans_b ? K : N), trans_a ? A + i : A + i * K,
                        (blasint)(trans_a ? M : 1), beta, C + i * N, 1);
        return;
    }
    /* A batch-1 forward pass multiplies 128 rows by each weight. OpenBLAS's own threads split
     * such a product poorly on 16 cores; one single-threaded sgemm per thread on its own columns
     * of B and C (B's columns are packed once, A's few rows by every thread) ran 25-33% faster
     * (bench/sgemm_split on a 16-core Xeon, SkylakeX kernels: 128 x 768 x 768 0.251 -> 0.188 ms,
     * 128 x 3072 x 768 0.937 -> 0.675, GPT2's 128 x 50257 x 768 head 11.9 -> 9.0). At 512 rows
     * OpenBLAS's split was as fast or faster, so larger products keep it (the limit, 256, lies
     * between the two measured sizes; 256 rows itself is not measured). The same split of a
     * one-row product (sgemv) measured no faster (GPT2's decode products and head, 0.02-0.88 ms),
     * so rows of one keep OpenBLAS's threads too. */
    int64_t parts = N / SPLIT_MIN_COLS < threads ? N / SPLIT_MIN_COLS : threads;
#ifdef _OPENMP
    if (omp_in_parallel()) parts = 1;
#endif
#if defined(__x86_64__)
    /* With AVX-512, the panel product instead (above). On the 16-core Xeon, 1 x 128, against
     * the split below in two rounds: DistilBERT 8-24% faster, GPT2's prefill 2% slower and 15%
     * faster, BERT-base within that machine's noise (6% faster, 11% slower), its products 7%
     * less time by op type (docs/cpu.md). A transposed B (packed by transposing) measured slower
     * than the split, so it keeps the split. */
    if (!trans_a && !trans_b && M <= SPLIT_MAX_ROWS && parts > 1 && panel_gemm_usable() &&
        (size_t)((N + PANEL_W - 1) / PANEL_W) * (size_t)K * PANEL_W * sizeof(float) <= PANEL_MAX_BYTES &&
        panel_gemm_f32(0, M, N, K, alpha, A, B, beta, C, threads))
        return;
#endif
    if (M > SPLIT_MAX_ROWS || parts < 1) parts = 1; /* one part: one sgemm on OpenBLAS's threads */
    const int64_t units = (N + 15) / 16;            /* column parts start on multiples of 16 */
#pragma omp parallel for num_threads((int)parts) schedule(static) if (parts > 1)
    for (int64_t p = 0; p < parts; p++) {
        int64_t c0 = units * p / parts * 16, c1 = units * (p + 1) / parts * 16;
        if (c1 > N) c1 = N;
        if (c1 <= c0) continue;
        const float *Bp = trans_b ? B + c0 * K : B + c0;
        cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
                    (blasint)M, (blasint)(c1 - c0), (blasint)K, alpha, A, (blasint)(trans_a ? M : K), Bp,
                    (blasint)(trans_b ? K : N), beta, C + c0, (blasint)N);
    }
}

static void gemm_f64(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K, double alpha, const double *A,
                     const double *B, double beta, double *C) {
    if (M == 0 || N == 0) return;
    if (K == 0) {
        for (int64_t i = 0; i < M * N; i++) C[i] = beta == 0.0 ? 0.0 : beta * C[i];
        return;
    }
    cblas_dgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, (blasint)M,
                (blasint)N, (blasint)K, alpha, A, (blasint)(trans_a ? M : K), B, (blasint)(trans_b ? K : N), beta, C,
                (blasint)N);
}

/* Integer C (M,N) = alpha * op(A) op(B) + beta * C through 64-bit accumulators (wrapping to the
 * dtype on store like ONNX Runtime). Elements are addressed by flat offsets into the tensors. */
static void gemm_int(onyx_dtype dtype, int trans_a, int trans_b, int64_t M, int64_t N, int64_t K, int64_t alpha,
                     const void *A, int64_t a_off, const void *B, int64_t b_off, int64_t beta, void *C, int64_t c_off) {
    for (int64_t i = 0; i < M; i++) {
        for (int64_t j = 0; j < N; j++) {
            int64_t acc = 0;
            for (int64_t k = 0; k < K; k++) {
                int64_t av = math_load_i64(dtype, A, a_off + (trans_a ? k * M + i : i * K + k));
                int64_t bv = math_load_i64(dtype, B, b_off + (trans_b ? j * K + k : k * N + j));
                acc = (int64_t)((uint64_t)acc + (uint64_t)av * (uint64_t)bv); /* wraps, no UB */
            }
            int64_t c = beta ? beta * math_load_i64(dtype, C, c_off + i * N + j) : 0;
            int64_t value = (int64_t)((uint64_t)alpha * (uint64_t)acc + (uint64_t)c);
            switch (dtype) {
            case ONYX_DTYPE_INT32: ((int32_t *)C)[c_off + i * N + j] = (int32_t)value; break;
            case ONYX_DTYPE_UINT32: ((uint32_t *)C)[c_off + i * N + j] = (uint32_t)value; break;
            case ONYX_DTYPE_UINT64: ((uint64_t *)C)[c_off + i * N + j] = (uint64_t)value; break;
            default: ((int64_t *)C)[c_off + i * N + j] = value; break;
            }
        }
    }
}

/* ---- MatMul ---- */

static onyx_status matmul_check_inputs(const onyx_kernel_ctx *ctx) {
    ONYX_TRY(onyx_kernel_require(ctx, 0));
    ONYX_TRY(onyx_kernel_require(ctx, 1));
    const onyx_tensor *a = ctx->inputs[0], *b = ctx->inputs[1];
    if (a->dtype != b->dtype)
        return onyx_error(ONYX_ERR_INVALID_MODEL, "%s: input A is %s but input B is %s; they must match",
                          ctx->node->op_type, onyx_dtype_name(a->dtype), onyx_dtype_name(b->dtype));
    return ONYX_OK;
}

/* MatMul's shape checks and output with b as input B (MatMulBias passes its logical B). */
static onyx_status matmul_prepare_with(onyx_kernel_ctx *ctx, const onyx_tensor *b) {
    ONYX_TRY(matmul_check_inputs(ctx));
    const onyx_tensor *a = ctx->inputs[0];
    matmul_shape s = {0};
    ONYX_TRY(matmul_shape_infer(ctx, a, b, &s));
    ONYX_TRY(onyx_tensor_set_shape(ctx->outputs[0], a->dtype, s.out_dims, s.out_rank, "MatMul output Y"));
    ctx->workspace_bytes = 0;
    if (a->dtype == ONYX_DTYPE_FLOAT16 || a->dtype == ONYX_DTYPE_BFLOAT16) {
        int64_t floats = onyx_shape_numel(a->dims, a->rank) + onyx_shape_numel(b->dims, b->rank) +
                         onyx_shape_numel(s.out_dims, s.out_rank);
        ctx->workspace_bytes = (size_t)floats * sizeof(float);
    }
    return ONYX_OK;
}

onyx_status math_matmul_prepare(onyx_kernel_ctx *ctx) { return matmul_prepare_with(ctx, ctx->inputs[1]); }

/* Matrices of at least this many elements have their rows filled by the OpenMP team. */
#define FILL_PARALLEL_MIN ((int64_t)1 << 15)

/* Y (rows, N) = C read through its strides (row_stride, col_stride: 0 broadcasts), float32.
 * The products below then run with beta != 0 and read Y as C: BLAS skips its own pass over Y
 * (zeroing it for beta 0), and no pass adds the bias after. A row of C (col_stride 1) is one
 * memcpy; on 16 cores a serial element-by-element fill of GPT2's 128 x 2304 Gemm output took
 * longer than the product itself. */
static void fill_rows_f32(const onyx_kernel_ctx *ctx, float *Y, int64_t rows, int64_t N, const float *C,
                          int64_t row_stride, int64_t col_stride) {
    int threads = math_threads(ctx);
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && rows > 1 && rows * N >= FILL_PARALLEL_MIN)
    for (int64_t i = 0; i < rows; i++) {
        float *row = Y + i * N;
        const float *src = C + i * row_stride;
        if (col_stride == 1) memcpy(row, src, (size_t)N * sizeof(float));
        else for (int64_t j = 0; j < N; j++) row[j] = src[0];
    }
}

static void add_bias_f64(double *Y, int64_t n, const double *bias, int64_t L) {
    for (int64_t r = 0; r < n; r += L) {
        double *row = Y + r;
        for (int64_t j = 0; j < L; j++) row[j] += bias[j];
    }
}

/* MatMul, and MatMulBias when bias is given: bias (1-D, the length of Y's last axis) is added
 * to every row of Y before float16/bfloat16 results are rounded (one rounding, as the fused
 * GPU epilogue). b is B as MatMul reads it (..., K, N); trans_b: each of its matrices is stored
 * (N, K) (a weight of the cuda provider's layout, or attention's keys with their Transpose fused
 * in: src/graph/fusion.c). Each matrix holds K * N elements either way, so the batch offsets
 * are the same. The workspace of a float16/bfloat16 product is
 * [A | B | Y | bias] in float32. */
static onyx_status matmul_run_common(onyx_kernel_ctx *ctx, const onyx_tensor *b, int trans_b, const onyx_tensor *bias) {
    const onyx_tensor *a = ctx->inputs[0];
    onyx_tensor *y = ctx->outputs[0];
    matmul_shape s = {0};
    ONYX_TRY(matmul_shape_infer(ctx, a, b, &s));
    const int64_t M = s.M, K = s.K, N = s.N;
    onyx_dtype dt = a->dtype;
    if (s.batch == 0 || M == 0 || N == 0) return ONYX_OK;
    const int64_t y_n = s.batch * M * N, L = s.out_rank > 0 ? s.out_dims[s.out_rank - 1] : 1;

    if (dt == ONYX_DTYPE_FLOAT32 || dt == ONYX_DTYPE_FLOAT16 || dt == ONYX_DTYPE_BFLOAT16) {
        const float *A = a->data, *B = b->data;
        float *Y = y->data;
        if (dt != ONYX_DTYPE_FLOAT32) { /* widen into the workspace: [A | B | Y] */
            int64_t a_n = onyx_shape_numel(a->dims, a->rank), b_n = onyx_shape_numel(b->dims, b->rank);
            float *wa = ctx->workspace, *wb = wa + a_n;
            math_to_f32(dt, a->data, 0, a_n, wa);
            math_to_f32(dt, b->data, 0, b_n, wb);
            A = wa;
            B = wb;
            Y = wb + b_n;
        }
        float beta = 0.0f;
        if (bias) { /* Y starts as the bias on every row; the products add to it */
            const float *bias32 = bias->data;
            if (dt != ONYX_DTYPE_FLOAT32) {
                float *wbias = Y + y_n;
                math_to_f32(dt, bias->data, 0, L, wbias);
                bias32 = wbias;
            }
            fill_rows_f32(ctx, Y, y_n / L, L, bias32, 0, 1);
            beta = 1.0f;
        }
        if (trans_b == MATMUL_B_PANELS) { /* math_matmul_bias_b accepted it: AVX-512 on x86-64 */
            if (dt != ONYX_DTYPE_FLOAT32 || s.b_matrices != 1 || s.a_matrices != s.batch)
                return onyx_error(ONYX_ERR_INVALID_MODEL, "%s: a packed B (packedN) needs float32 and one B matrix",
                                  ctx->node->op_type);
#if defined(__x86_64__)
            packed_gemm_f32(s.batch * M, N, K, 1.0f, A, B, beta, Y, math_threads(ctx));
#endif
        } else if (s.b_matrices == 1 && s.a_matrices == s.batch) {
            /* One weight matrix for every batch: fold the batch into M. */
            gemm_f32(0, trans_b, s.batch * M, N, K, 1.0f, A, B, beta, Y, math_threads(ctx));
        } else {
            /* Attention's per-head products. With OpenBLAS's OpenMP build they run side by side, one
             * product per thread (BLAS runs single-threaded inside the parallel region), when there
             * are enough of them or each is too small to split. With the pthread build they run one
             * after another: measured on 16 cores, its spinning threads and locked buffer pool made
             * the parallel loop 5-7x slower. */
            int threads = math_threads(ctx);
            int side_by_side = openblas_get_parallel() == 2 && threads > 1 && s.batch > 1 &&
                               (s.batch >= threads || M * N * K <= ((int64_t)1 << 22));
#pragma omp parallel for num_threads(threads) schedule(static) if (side_by_side)
            for (int64_t bi = 0; bi < s.batch; bi++) {
                int64_t ai, bj;
                matmul_batch_offsets(&s, bi, &ai, &bj);
                gemm_f32(0, trans_b, M, N, K, 1.0f, A + ai * M * K, B + bj * K * N, beta, Y + bi * M * N, threads);
            }
        }
        if (dt != ONYX_DTYPE_FLOAT32) math_from_f32(dt, Y, y_n, y->data, 0);
        return ONYX_OK;
    }
    if (dt == ONYX_DTYPE_FLOAT64) {
        const double *A = a->data, *B = b->data;
        double *Y = y->data;
        for (int64_t bi = 0; bi < s.batch; bi++) {
            int64_t ai, bj;
            matmul_batch_offsets(&s, bi, &ai, &bj);
            gemm_f64(0, trans_b, M, N, K, 1.0, A + ai * M * K, B + bj * K * N, 0.0, Y + bi * M * N);
        }
        if (bias) add_bias_f64(Y, y_n, bias->data, L);
        return ONYX_OK;
    }
    for (int64_t bi = 0; bi < s.batch; bi++) {
        int64_t ai, bj;
        matmul_batch_offsets(&s, bi, &ai, &bj);
        gemm_int(dt, 0, trans_b, M, N, K, 1, a->data, ai * M * K, b->data, bj * K * N, 0, y->data, bi * M * N);
    }
    if (bias) /* no table row gives MatMulBias integers; kept generic for completeness */
        for (int64_t i = 0; i < y_n; i++)
            math_store(dt, y->data, i, math_load(dt, y->data, i) + math_load(dt, bias->data, i % L));
    return ONYX_OK;
}

onyx_status math_matmul_run(onyx_kernel_ctx *ctx) {
    blas_threads(ctx);
    return matmul_run_common(ctx, ctx->inputs[1], 0, NULL);
}

/* ---- MatMulBias (domain "onyx"): Y = MatMul(A, B) + bias, bias 1-D over Y's last axis ---- */

onyx_status math_matmul_bias_b(const onyx_kernel_ctx *ctx, onyx_tensor *logical, int *trans_b) {
    ONYX_TRY(onyx_kernel_require(ctx, 1));
    const onyx_tensor *b = ctx->inputs[1];
    int64_t t = onyx_node_attr_int(ctx->node, "transB", 0);
    char bbuf[128];
    if (t != 0 && t != 1)
        return onyx_error(ONYX_ERR_INVALID_MODEL, "%s: attribute transB is %lld; expected 0 or 1", ctx->node->op_type,
                          (long long)t);
    *logical = *b;
    *trans_b = (int)t;
    int64_t packed_n = onyx_node_attr_int(ctx->node, "packedN", 0);
    if (packed_n) { /* the weight-layout pass's panels: (ceil(N / width), K, width) */
        const int64_t width = ONYX_WEIGHT_PANEL;
        if (t || packed_n < 1 || b->rank != 3 || b->dims[2] != width || b->dims[0] != (packed_n + width - 1) / width ||
            b->dtype != ONYX_DTYPE_FLOAT32 || !onyx_cpu_packs_weights())
            return onyx_error(ONYX_ERR_INVALID_MODEL,
                              "%s: input B is %s %s with packedN = %lld%s; expected float32 panels [%lld,K,%lld] "
                              "without transB, on a CPU with AVX-512",
                              ctx->node->op_type, onyx_dtype_name(b->dtype),
                              onyx_shape_describe(b->dims, b->rank, bbuf, sizeof bbuf), (long long)packed_n,
                              t ? " and transB = 1" : "", (long long)((packed_n + width - 1) / width), (long long)width);
        logical->rank = 2;
        logical->dims[0] = b->dims[1];
        logical->dims[1] = packed_n;
        *trans_b = MATMUL_B_PANELS;
        return ONYX_OK;
    }
    if (!t) return ONYX_OK;
    if (b->rank < 2)
        return onyx_error(ONYX_ERR_INVALID_MODEL,
                          "%s: input B is %s with transB = 1; a transposed B must have rank >= 2 (..., N, K)",
                          ctx->node->op_type, onyx_shape_describe(b->dims, b->rank, bbuf, sizeof bbuf));
    logical->dims[b->rank - 2] = b->dims[b->rank - 1];
    logical->dims[b->rank - 1] = b->dims[b->rank - 2];
    return ONYX_OK;
}

onyx_status math_matmul_bias_prepare(onyx_kernel_ctx *ctx) {
    onyx_tensor b;
    int trans_b;
    ONYX_TRY(math_matmul_bias_b(ctx, &b, &trans_b));
    ONYX_TRY(matmul_prepare_with(ctx, &b));
    const onyx_tensor *a = ctx->inputs[0], *bias = onyx_input(ctx, 2);
    if (!bias) return ONYX_OK;
    const onyx_tensor *y = ctx->outputs[0];
    char bbuf[128], ybuf[128];
    if (bias->dtype != a->dtype)
        return onyx_error(ONYX_ERR_INVALID_MODEL, "%s: input 2 (bias) is %s but input A is %s; they must match",
                          ctx->node->op_type, onyx_dtype_name(bias->dtype), onyx_dtype_name(a->dtype));
    int64_t L = y->rank > 0 ? y->dims[y->rank - 1] : -1;
    if (y->rank < 1 || bias->rank != 1 || bias->dims[0] != L) {
        if (y->rank < 1)
            return onyx_error(ONYX_ERR_INVALID_ARGUMENT,
                              "%s: input 2 (bias) is %s but the MatMul result is a scalar (A and B both 1-D); "
                              "a bias needs a result of rank >= 1",
                              ctx->node->op_type, onyx_shape_describe(bias->dims, bias->rank, bbuf, sizeof bbuf));
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT,
                          "%s: input 2 (bias) has shape %s but the MatMul result is %s: expected a 1-D bias of "
                          "length %lld (its last dimension)",
                          ctx->node->op_type, onyx_shape_describe(bias->dims, bias->rank, bbuf, sizeof bbuf),
                          onyx_shape_describe(y->dims, y->rank, ybuf, sizeof ybuf), (long long)L);
    }
    if (ctx->workspace_bytes) ctx->workspace_bytes += (size_t)L * sizeof(float); /* widened bias after Y */
    return ONYX_OK;
}

onyx_status math_matmul_bias_run(onyx_kernel_ctx *ctx) {
    onyx_tensor b;
    int trans_b;
    ONYX_TRY(math_matmul_bias_b(ctx, &b, &trans_b));
    blas_threads(ctx);
    return matmul_run_common(ctx, &b, trans_b, onyx_input(ctx, 2));
}

/* ---- Gemm ---- */

typedef struct gemm_shape {
    int trans_a, trans_b;
    int64_t M, K, N;
    int64_t c_row_stride, c_col_stride; /* C read as (M,N) with broadcasting; 0 = broadcast */
} gemm_shape;

static onyx_status gemm_shape_infer(const onyx_kernel_ctx *ctx, gemm_shape *s) {
    ONYX_TRY(matmul_check_inputs(ctx));
    const onyx_tensor *a = ctx->inputs[0], *b = ctx->inputs[1], *c = onyx_input(ctx, 2);
    char abuf[128], bbuf[128];
    if (a->rank != 2 || b->rank != 2)
        return onyx_error(ONYX_ERR_INVALID_MODEL, "Gemm: input A is %s and input B is %s: both must be matrices",
                          onyx_shape_describe(a->dims, a->rank, abuf, sizeof abuf),
                          onyx_shape_describe(b->dims, b->rank, bbuf, sizeof bbuf));
    s->trans_a = onyx_node_attr_int(ctx->node, "transA", 0) != 0;
    s->trans_b = onyx_node_attr_int(ctx->node, "transB", 0) != 0;
    s->M = s->trans_a ? a->dims[1] : a->dims[0];
    s->K = s->trans_a ? a->dims[0] : a->dims[1];
    int64_t b_k = s->trans_b ? b->dims[1] : b->dims[0];
    s->N = s->trans_b ? b->dims[0] : b->dims[1];
    if (b_k != s->K)
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT,
                          "Gemm: input A is %s (transA=%d) and input B is %s (transB=%d): inner dimensions %lld and %lld differ",
                          onyx_shape_describe(a->dims, a->rank, abuf, sizeof abuf), s->trans_a,
                          onyx_shape_describe(b->dims, b->rank, bbuf, sizeof bbuf), s->trans_b, (long long)s->K,
                          (long long)b_k);
    s->c_row_stride = s->c_col_stride = 0;
    if (c) {
        if (c->dtype != a->dtype)
            return onyx_error(ONYX_ERR_INVALID_MODEL, "Gemm: input C is %s but A is %s", onyx_dtype_name(c->dtype),
                              onyx_dtype_name(a->dtype));
        int64_t rows = c->rank == 2 ? c->dims[0] : 1;
        int64_t cols = c->rank >= 1 ? c->dims[c->rank - 1] : 1;
        if (c->rank > 2 || (rows != 1 && rows != s->M) || (cols != 1 && cols != s->N))
            return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "Gemm: input C is %s, which does not broadcast to [%lld,%lld]",
                              onyx_shape_describe(c->dims, c->rank, abuf, sizeof abuf), (long long)s->M,
                              (long long)s->N);
        s->c_col_stride = cols == 1 ? 0 : 1;
        s->c_row_stride = rows == 1 ? 0 : cols;
    }
    return ONYX_OK;
}

onyx_status math_gemm_prepare(onyx_kernel_ctx *ctx) {
    gemm_shape s = {0};
    ONYX_TRY(gemm_shape_infer(ctx, &s));
    onyx_dtype dt = ctx->inputs[0]->dtype;
    int64_t dims[2] = {s.M, s.N};
    ONYX_TRY(onyx_tensor_set_shape(ctx->outputs[0], dt, dims, 2, "Gemm output Y"));
    ctx->workspace_bytes = 0;
    if (dt == ONYX_DTYPE_FLOAT16 || dt == ONYX_DTYPE_BFLOAT16) { /* [A | B | Y | C] in float32 */
        const onyx_tensor *c = onyx_input(ctx, 2);
        int64_t c_n = c ? onyx_shape_numel(c->dims, c->rank) : 0;
        ctx->workspace_bytes = (size_t)(s.M * s.K + s.K * s.N + s.M * s.N + c_n) * sizeof(float);
    }
    return ONYX_OK;
}

onyx_status math_gemm_run(onyx_kernel_ctx *ctx) {
    blas_threads(ctx);
    gemm_shape s = {0};
    ONYX_TRY(gemm_shape_infer(ctx, &s));
    const onyx_tensor *a = ctx->inputs[0], *b = ctx->inputs[1], *c = onyx_input(ctx, 2);
    onyx_tensor *y = ctx->outputs[0];
    onyx_dtype dt = a->dtype;
    float alpha = onyx_node_attr_float(ctx->node, "alpha", 1.0f);
    float beta = c ? onyx_node_attr_float(ctx->node, "beta", 1.0f) : 0.0f;
    const int64_t M = s.M, N = s.N, K = s.K;
    if (M == 0 || N == 0) return ONYX_OK;

    if (dt == ONYX_DTYPE_FLOAT64) {
        double *Y = y->data;
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++)
                Y[i * N + j] = c ? ((const double *)c->data)[i * s.c_row_stride + j * s.c_col_stride] : 0.0;
        gemm_f64(s.trans_a, s.trans_b, M, N, K, alpha, a->data, b->data, beta, Y);
        return ONYX_OK;
    }
    if (onyx_dtype_is_float(dt)) {
        const float *A = a->data, *B = b->data;
        float *Y = y->data;
        if (dt != ONYX_DTYPE_FLOAT32) {
            float *wa = ctx->workspace, *wb = wa + M * K;
            math_to_f32(dt, a->data, 0, M * K, wa);
            math_to_f32(dt, b->data, 0, K * N, wb);
            A = wa;
            B = wb;
            Y = wb + K * N;
        }
        if (c && beta != 0.0f) { /* with beta 0 the product overwrites Y */
            /* C's stored elements (at most M x N) widened after Y in the workspace, then broadcast */
            const float *C = c->data;
            if (dt != ONYX_DTYPE_FLOAT32) {
                float *wc = Y + M * N;
                math_to_f32(dt, c->data, 0, onyx_shape_numel(c->dims, c->rank), wc);
                C = wc;
            }
            fill_rows_f32(ctx, Y, M, N, C, s.c_row_stride, s.c_col_stride);
        }
        gemm_f32(s.trans_a, s.trans_b, M, N, K, alpha, A, B, beta, Y, math_threads(ctx));
        if (dt != ONYX_DTYPE_FLOAT32) math_from_f32(dt, Y, M * N, y->data, 0);
        return ONYX_OK;
    }
    size_t elem = onyx_dtype_size(dt);
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            char *dst = (char *)y->data + (size_t)(i * N + j) * elem;
            if (c) memcpy(dst, (const char *)c->data + (size_t)(i * s.c_row_stride + j * s.c_col_stride) * elem, elem);
            else memset(dst, 0, elem);
        }
    gemm_int(dt, s.trans_a, s.trans_b, M, N, K, (int64_t)alpha, a->data, 0, b->data, 0, (int64_t)beta, y->data, 0);
    return ONYX_OK;
}

/* ---- MatMulInteger ---- */

/* A zero point is a scalar, or 1-D with one entry per row of A (per column of B). */
static onyx_status matmul_integer_zero_point(const onyx_kernel_ctx *ctx, int index, const char *name,
                                             onyx_dtype want, int64_t per) {
    const onyx_tensor *zp = onyx_input(ctx, index);
    if (!zp) return ONYX_OK;
    char buf[128];
    if (zp->dtype != want)
        return onyx_error(ONYX_ERR_INVALID_MODEL, "MatMulInteger: input %d (%s) is %s but must match its matrix (%s)",
                          index, name, onyx_dtype_name(zp->dtype), onyx_dtype_name(want));
    int64_t n = onyx_shape_numel(zp->dims, zp->rank);
    if (n != 1 && !(zp->rank == 1 && n == per))
        return onyx_error(ONYX_ERR_NOT_IMPLEMENTED,
                          "MatMulInteger: input %d (%s) has shape %s; supported are a scalar or a vector of %lld",
                          index, name, onyx_shape_describe(zp->dims, zp->rank, buf, sizeof buf), (long long)per);
    return ONYX_OK;
}

onyx_status math_matmul_integer_prepare(onyx_kernel_ctx *ctx) {
    ONYX_TRY(onyx_kernel_require(ctx, 0));
    ONYX_TRY(onyx_kernel_require(ctx, 1));
    const onyx_tensor *a = ctx->inputs[0], *b = ctx->inputs[1];
    uint64_t types = ONYX_DT(INT8) | ONYX_DT(UINT8);
    ONYX_TRY(onyx_kernel_check_dtype(ctx, 0, types));
    ONYX_TRY(onyx_kernel_check_dtype(ctx, 1, types));
    matmul_shape s = {0};
    ONYX_TRY(matmul_shape_infer(ctx, a, b, &s));
    ONYX_TRY(matmul_integer_zero_point(ctx, 2, "a_zero_point", a->dtype, s.M));
    ONYX_TRY(matmul_integer_zero_point(ctx, 3, "b_zero_point", b->dtype, s.N));
    return onyx_tensor_set_shape(ctx->outputs[0], ONYX_DTYPE_INT32, s.out_dims, s.out_rank, "MatMulInteger output Y");
}

static inline int32_t int8ish_load(onyx_dtype dtype, const void *data, int64_t i) {
    return dtype == ONYX_DTYPE_INT8 ? ((const int8_t *)data)[i] : ((const uint8_t *)data)[i];
}

onyx_status math_matmul_integer_run(onyx_kernel_ctx *ctx) {
    const onyx_tensor *a = ctx->inputs[0], *b = ctx->inputs[1];
    const onyx_tensor *a_zp = onyx_input(ctx, 2), *b_zp = onyx_input(ctx, 3);
    matmul_shape s = {0};
    ONYX_TRY(matmul_shape_infer(ctx, a, b, &s));
    const int64_t M = s.M, K = s.K, N = s.N;
    int32_t *Y = ctx->outputs[0]->data;
    int64_t a_zp_n = a_zp ? onyx_shape_numel(a_zp->dims, a_zp->rank) : 0;
    int64_t b_zp_n = b_zp ? onyx_shape_numel(b_zp->dims, b_zp->rank) : 0;
    for (int64_t bi = 0; bi < s.batch; bi++) {
        int64_t ai, bj;
        matmul_batch_offsets(&s, bi, &ai, &bj);
        int32_t *y = Y + bi * M * N;
        for (int64_t i = 0; i < M; i++) {
            int32_t a_zero = a_zp ? int8ish_load(a_zp->dtype, a_zp->data, a_zp_n == 1 ? 0 : i) : 0;
            int32_t *row = y + i * N;
            for (int64_t j = 0; j < N; j++) row[j] = 0;
            for (int64_t k = 0; k < K; k++) {
                int32_t av = int8ish_load(a->dtype, a->data, ai * M * K + i * K + k) - a_zero;
                int64_t b_row = bj * K * N + k * N;
                for (int64_t j = 0; j < N; j++) {
                    int32_t b_zero = b_zp ? int8ish_load(b_zp->dtype, b_zp->data, b_zp_n == 1 ? 0 : j) : 0;
                    row[j] += av * (int8ish_load(b->dtype, b->data, b_row + j) - b_zero);
                }
            }
        }
    }
    return ONYX_OK;
}

/* ---- QLinearMatMul ----
 * y = saturate(round_half_even((a - a_zero) (b - b_zero) * a_scale * b_scale / y_scale) + y_zero),
 * the products accumulated in int32. Inputs: a, a_scale, a_zero_point, b, b_scale,
 * b_zero_point, y_scale, y_zero_point. a's scale and zero point are scalars or one per row of A,
 * b's one per column of B; y's are scalars. */

static onyx_status qlinear_param(const onyx_kernel_ctx *ctx, int index, const char *name, onyx_dtype want,
                                 int64_t per) {
    ONYX_TRY(onyx_kernel_require(ctx, index));
    const onyx_tensor *t = ctx->inputs[index];
    char buf[128];
    if (t->dtype != want)
        return onyx_error(ONYX_ERR_INVALID_MODEL, "QLinearMatMul: input %d (%s) is %s, expected %s", index, name,
                          onyx_dtype_name(t->dtype), onyx_dtype_name(want));
    int64_t n = onyx_shape_numel(t->dims, t->rank);
    if (n != 1 && !(t->rank == 1 && n == per && per > 0))
        return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "QLinearMatMul: input %d (%s) has shape %s; supported are a scalar%s",
                          index, name, onyx_shape_describe(t->dims, t->rank, buf, sizeof buf),
                          per > 0 ? " or one value per row/column" : "");
    return ONYX_OK;
}

static onyx_status qlinear_matmul_check(const onyx_kernel_ctx *ctx, matmul_shape *s) {
    ONYX_TRY(onyx_kernel_require(ctx, 0));
    ONYX_TRY(onyx_kernel_require(ctx, 3));
    const onyx_tensor *a = ctx->inputs[0], *b = ctx->inputs[3];
    uint64_t types = ONYX_DT(INT8) | ONYX_DT(UINT8);
    ONYX_TRY(onyx_kernel_check_dtype(ctx, 0, types));
    ONYX_TRY(onyx_kernel_check_dtype(ctx, 3, types));
    ONYX_TRY(matmul_shape_infer(ctx, a, b, s));
    ONYX_TRY(qlinear_param(ctx, 1, "a_scale", ONYX_DTYPE_FLOAT32, s->M));
    ONYX_TRY(qlinear_param(ctx, 2, "a_zero_point", a->dtype, s->M));
    ONYX_TRY(qlinear_param(ctx, 4, "b_scale", ONYX_DTYPE_FLOAT32, s->N));
    ONYX_TRY(qlinear_param(ctx, 5, "b_zero_point", b->dtype, s->N));
    ONYX_TRY(qlinear_param(ctx, 6, "y_scale", ONYX_DTYPE_FLOAT32, 0));
    ONYX_TRY(onyx_kernel_require(ctx, 7));
    ONYX_TRY(qlinear_param(ctx, 7, "y_zero_point", ctx->inputs[7]->dtype, 0));
    return onyx_kernel_check_dtype(ctx, 7, types);
}

onyx_status math_qlinear_matmul_prepare(onyx_kernel_ctx *ctx) {
    matmul_shape s = {0};
    ONYX_TRY(qlinear_matmul_check(ctx, &s));
    ctx->workspace_bytes = 0;
    return onyx_tensor_set_shape(ctx->outputs[0], ctx->inputs[7]->dtype, s.out_dims, s.out_rank,
                                 "QLinearMatMul output y");
}

onyx_status math_qlinear_matmul_run(onyx_kernel_ctx *ctx) {
    matmul_shape s = {0};
    ONYX_TRY(qlinear_matmul_check(ctx, &s));
    const onyx_tensor *a = ctx->inputs[0], *b = ctx->inputs[3];
    const onyx_tensor *a_scale = ctx->inputs[1], *a_zp = ctx->inputs[2], *b_scale = ctx->inputs[4],
                      *b_zp = ctx->inputs[5], *y_scale = ctx->inputs[6], *y_zp = ctx->inputs[7];
    onyx_tensor *y = ctx->outputs[0];
    const int64_t M = s.M, K = s.K, N = s.N;
    int a_per_row = onyx_shape_numel(a_scale->dims, a_scale->rank) > 1;
    int a_zp_per_row = onyx_shape_numel(a_zp->dims, a_zp->rank) > 1;
    int b_per_col = onyx_shape_numel(b_scale->dims, b_scale->rank) > 1;
    int b_zp_per_col = onyx_shape_numel(b_zp->dims, b_zp->rank) > 1;
    float out_scale = *(const float *)y_scale->data;
    float out_zero = (float)int8ish_load(y_zp->dtype, y_zp->data, 0);
    float lo = y->dtype == ONYX_DTYPE_INT8 ? -128.0f : 0.0f, hi = y->dtype == ONYX_DTYPE_INT8 ? 127.0f : 255.0f;
    for (int64_t bi = 0; bi < s.batch; bi++) {
        int64_t ai, bj;
        matmul_batch_offsets(&s, bi, &ai, &bj);
        for (int64_t i = 0; i < M; i++) {
            int32_t a_zero = int8ish_load(a_zp->dtype, a_zp->data, a_zp_per_row ? i : 0);
            float a_s = ((const float *)a_scale->data)[a_per_row ? i : 0];
            for (int64_t j = 0; j < N; j++) {
                int32_t b_zero = int8ish_load(b_zp->dtype, b_zp->data, b_zp_per_col ? j : 0);
                int32_t acc = 0;
                for (int64_t k = 0; k < K; k++)
                    acc += (int8ish_load(a->dtype, a->data, ai * M * K + i * K + k) - a_zero) *
                           (int8ish_load(b->dtype, b->data, bj * K * N + k * N + j) - b_zero);
                float multiplier = a_s * ((const float *)b_scale->data)[b_per_col ? j : 0] / out_scale;
                float value = rintf((float)acc * multiplier) + out_zero;
                value = value < lo ? lo : value > hi ? hi : value;
                int64_t at = bi * M * N + i * N + j;
                if (y->dtype == ONYX_DTYPE_INT8) ((int8_t *)y->data)[at] = (int8_t)value;
                else ((uint8_t *)y->data)[at] = (uint8_t)value;
            }
        }
    }
    return ONYX_OK;
}

/* ---- Det: determinants of the square matrices X (..., M, M) -> (...), by LU with partial
 * pivoting in double (the workspace holds one matrix). ---- */

onyx_status math_det_prepare(onyx_kernel_ctx *ctx) {
    ONYX_TRY(onyx_kernel_require(ctx, 0));
    const onyx_tensor *x = ctx->inputs[0];
    char buf[128];
    if (x->rank < 2 || x->dims[x->rank - 1] != x->dims[x->rank - 2])
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "Det: input 0 (X) is %s; square matrices (..., M, M) expected",
                          onyx_shape_describe(x->dims, x->rank, buf, sizeof buf));
    int64_t M = x->dims[x->rank - 1];
    ctx->workspace_bytes = (size_t)(M > 0 ? M * M : 1) * sizeof(double);
    return onyx_tensor_set_shape(ctx->outputs[0], x->dtype, x->dims, x->rank - 2, "Det output Y");
}

onyx_status math_det_run(onyx_kernel_ctx *ctx) {
    const onyx_tensor *x = ctx->inputs[0];
    onyx_dtype dt = x->dtype;
    int64_t M = x->dims[x->rank - 1], count = onyx_shape_numel(x->dims, x->rank - 2);
    double *lu = ctx->workspace;
    for (int64_t b = 0; b < count; b++) {
        for (int64_t i = 0; i < M * M; i++) lu[i] = math_load(dt, x->data, b * M * M + i);
        double det = 1.0;
        for (int64_t col = 0; col < M && det != 0.0; col++) {
            int64_t pivot = col;
            for (int64_t r = col + 1; r < M; r++)
                if (fabs(lu[r * M + col]) > fabs(lu[pivot * M + col])) pivot = r;
            if (lu[pivot * M + col] == 0.0) {
                det = 0.0;
                break;
            }
            if (pivot != col) {
                for (int64_t k = 0; k < M; k++) {
                    double t = lu[col * M + k];
                    lu[col * M + k] = lu[pivot * M + k];
                    lu[pivot * M + k] = t;
                }
                det = -det;
            }
            det *= lu[col * M + col];
            for (int64_t r = col + 1; r < M; r++) {
                double factor = lu[r * M + col] / lu[col * M + col];
                for (int64_t k = col; k < M; k++) lu[r * M + k] -= factor * lu[col * M + k];
            }
        }
        math_store(dt, ctx->outputs[0]->data, b, det);
    }
    return ONYX_OK;
}

/* ---- Einsum ---- */

#define EINSUM_MAX_OPERANDS 8
#define EINSUM_LETTERS 52 /* a-z then A-Z; ellipsis dims get label ids after them */
#define EINSUM_MAX_LABELS (EINSUM_LETTERS + ONYX_MAX_RANK)

typedef struct einsum_plan {
    int n_operands;
    int n_labels;                 /* label ids in use are < n_labels */
    int64_t label_size[EINSUM_MAX_LABELS];
    int used[EINSUM_MAX_LABELS];
    /* operand strides per label (repeated labels add up: diagonals) */
    int64_t strides[EINSUM_MAX_OPERANDS][EINSUM_MAX_LABELS];
    int out_rank;
    int out_labels[ONYX_MAX_RANK];
    int64_t out_dims[ONYX_MAX_RANK];
    int n_summed;
    int summed_labels[EINSUM_MAX_LABELS];
    int op_rank[EINSUM_MAX_OPERANDS];
    int op_labels[EINSUM_MAX_OPERANDS][ONYX_MAX_RANK];
    int op_irregular[EINSUM_MAX_OPERANDS]; /* a repeated label or a broadcast (size-1) dim */
} einsum_plan;

static int einsum_letter_id(char c) {
    if (c >= 'a' && c <= 'z') return c - 'a';
    if (c >= 'A' && c <= 'Z') return 26 + c - 'A';
    return -1;
}

/* Parses one term (e.g. "bhid" or "...ii") into label ids; an ellipsis expands to ellipsis_rank
 * ids, right-aligned against max_ellipsis (NumPy broadcasting of the ellipsis dims). */
static onyx_status einsum_parse_term(const char *term, size_t len, int rank_or_neg, int max_ellipsis,
                                     int *labels, int *n_labels, int *ellipsis_rank, const char *what) {
    int letters = 0, has_ellipsis = 0;
    for (size_t i = 0; i < len; i++) {
        if (term[i] == '.') {
            if (has_ellipsis || i + 2 >= len || term[i + 1] != '.' || term[i + 2] != '.')
                return onyx_error(ONYX_ERR_INVALID_MODEL, "Einsum: %s '%.*s' has a malformed ellipsis", what, (int)len,
                                  term);
            has_ellipsis = 1;
            i += 2;
        } else if (einsum_letter_id(term[i]) >= 0) {
            letters++;
        } else {
            return onyx_error(ONYX_ERR_INVALID_MODEL, "Einsum: %s '%.*s' has an invalid character '%c'", what,
                              (int)len, term, term[i]);
        }
    }
    int e = 0;
    if (rank_or_neg >= 0) {
        if (has_ellipsis ? letters > rank_or_neg : letters != rank_or_neg)
            return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "Einsum: %s '%.*s' names %d dimensions but the input has rank %d",
                              what, (int)len, term, letters, rank_or_neg);
        e = has_ellipsis ? rank_or_neg - letters : 0;
    } else {
        e = has_ellipsis ? max_ellipsis : 0;
    }
    if (letters + e > ONYX_MAX_RANK)
        return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "Einsum: %s '%.*s' has rank above %d", what, (int)len, term,
                          ONYX_MAX_RANK);
    int n = 0;
    for (size_t i = 0; i < len; i++) {
        if (term[i] == '.') {
            for (int k = 0; k < e; k++) labels[n++] = EINSUM_LETTERS + (max_ellipsis - e) + k;
            i += 2;
        } else {
            labels[n++] = einsum_letter_id(term[i]);
        }
    }
    *n_labels = n;
    *ellipsis_rank = has_ellipsis ? e : -1;
    return ONYX_OK;
}

static onyx_status einsum_plan_build(const onyx_kernel_ctx *ctx, einsum_plan *p) {
    const char *eq_raw = onyx_node_attr_string(ctx->node, "equation", NULL);
    if (!eq_raw) return onyx_error(ONYX_ERR_INVALID_MODEL, "Einsum: attribute 'equation' is missing");
    char eq[512];
    size_t n = 0;
    for (const char *c = eq_raw; *c; c++) {
        if (*c == ' ') continue;
        if (n + 1 >= sizeof eq) return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "Einsum: equation is too long");
        eq[n++] = *c;
    }
    eq[n] = 0;
    memset(p, 0, sizeof *p);
    p->n_operands = ctx->n_inputs;
    if (p->n_operands < 1 || p->n_operands > EINSUM_MAX_OPERANDS)
        return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "Einsum: %d inputs; supported are 1 to %d", p->n_operands,
                          EINSUM_MAX_OPERANDS);
    const char *arrow = strstr(eq, "->");
    size_t lhs_len = arrow ? (size_t)(arrow - eq) : n;

    /* First pass: ellipsis ranks. */
    const char *term = eq;
    int max_ellipsis = 0;
    int term_labels[EINSUM_MAX_OPERANDS][ONYX_MAX_RANK], term_n[EINSUM_MAX_OPERANDS], term_e[EINSUM_MAX_OPERANDS];
    for (int op = 0; op < p->n_operands; op++) {
        const char *end = memchr(term, ',', (size_t)(eq + lhs_len - term));
        if (op == p->n_operands - 1) {
            if (end) return onyx_error(ONYX_ERR_INVALID_MODEL, "Einsum: equation '%s' has more terms than the %d inputs", eq_raw, p->n_operands);
            end = eq + lhs_len;
        } else if (!end) {
            return onyx_error(ONYX_ERR_INVALID_MODEL, "Einsum: equation '%s' has fewer terms than the %d inputs", eq_raw,
                              p->n_operands);
        }
        ONYX_TRY(onyx_kernel_require(ctx, op));
        const onyx_tensor *t = ctx->inputs[op];
        char what[32];
        snprintf(what, sizeof what, "term %d", op);
        ONYX_TRY(einsum_parse_term(term, (size_t)(end - term), t->rank, 0, term_labels[op], &term_n[op], &term_e[op], what));
        if (term_e[op] > max_ellipsis) max_ellipsis = term_e[op];
        term = end + 1;
    }
    /* Second pass with ellipsis dims right-aligned into label ids 52.. */
    term = eq;
    int counts[EINSUM_MAX_LABELS] = {0};
    for (int op = 0; op < p->n_operands; op++) {
        const char *end = op == p->n_operands - 1 ? eq + lhs_len : memchr(term, ',', (size_t)(eq + lhs_len - term));
        const onyx_tensor *t = ctx->inputs[op];
        int e = term_e[op] < 0 ? 0 : term_e[op];
        /* the first pass did not know max_ellipsis yet: relabel with the ellipsis right-aligned */
        int k = 0;
        for (const char *c = term; c < end; c++) {
            if (*c == '.') {
                for (int j = 0; j < e; j++) term_labels[op][k++] = EINSUM_LETTERS + (max_ellipsis - e) + j;
                c += 2;
            } else {
                term_labels[op][k++] = einsum_letter_id(*c);
            }
        }
        for (int d = 0; d < t->rank; d++) {
            int l = term_labels[op][d];
            int64_t size = t->dims[d];
            if (!p->used[l] || p->label_size[l] == 1) {
                p->label_size[l] = size;
            } else if (size != p->label_size[l] && size != 1) {
                return onyx_error(ONYX_ERR_INVALID_ARGUMENT,
                                  "Einsum: label '%c' has size %lld in input %d but %lld elsewhere",
                                  l < 26 ? 'a' + l : l < 52 ? 'A' + l - 26 : '.', (long long)size, op,
                                  (long long)p->label_size[l]);
            }
            p->used[l] = 1;
            counts[l]++;
        }
        term = end + 1;
    }
    for (int op = 0; op < p->n_operands; op++) {
        const onyx_tensor *t = ctx->inputs[op];
        int64_t strides[ONYX_MAX_RANK];
        onyx_contiguous_strides(t->dims, t->rank, strides);
        p->op_rank[op] = t->rank;
        for (int d = 0; d < t->rank; d++) {
            int l = term_labels[op][d];
            p->op_labels[op][d] = l;
            if (!(t->dims[d] == 1 && p->label_size[l] != 1)) p->strides[op][l] += strides[d];
            else p->op_irregular[op] = 1;
            for (int e = 0; e < d; e++)
                if (term_labels[op][e] == l) p->op_irregular[op] = 1;
        }
    }
    /* Output labels. */
    int in_output[EINSUM_MAX_LABELS] = {0};
    if (arrow) {
        int e_unused;
        ONYX_TRY(einsum_parse_term(arrow + 2, strlen(arrow + 2), -1, max_ellipsis, p->out_labels, &p->out_rank,
                                   &e_unused, "output"));
        for (int i = 0; i < p->out_rank; i++) {
            int l = p->out_labels[i];
            if (!p->used[l])
                return onyx_error(ONYX_ERR_INVALID_MODEL, "Einsum: output label '%c' appears in no input",
                                  l < 26 ? 'a' + l : 'A' + l - 26);
            if (in_output[l])
                return onyx_error(ONYX_ERR_INVALID_MODEL, "Einsum: output repeats label '%c'",
                                  l < 26 ? 'a' + l : 'A' + l - 26);
            in_output[l] = 1;
        }
    } else { /* implicit: ellipsis dims, then labels seen once, in alphabetical order */
        for (int j = 0; j < max_ellipsis; j++) p->out_labels[p->out_rank++] = EINSUM_LETTERS + j;
        static const char order[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        for (const char *c = order; *c; c++) {
            int l = einsum_letter_id(*c);
            if (counts[l] == 1) {
                if (p->out_rank >= ONYX_MAX_RANK)
                    return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "Einsum: output rank above %d", ONYX_MAX_RANK);
                p->out_labels[p->out_rank++] = l;
            }
        }
        for (int i = 0; i < p->out_rank; i++) in_output[p->out_labels[i]] = 1;
    }
    for (int i = 0; i < p->out_rank; i++) p->out_dims[i] = p->label_size[p->out_labels[i]];
    for (int l = 0; l < EINSUM_MAX_LABELS; l++)
        if (p->used[l] && !in_output[l]) p->summed_labels[p->n_summed++] = l;
    return ONYX_OK;
}

/* The GEMM form of a two-operand Einsum: labels fall into batch (A, B and output), m (A and
 * output), n (B and output) and k (A and B, summed). Each operand is read in [batch, m, k] /
 * [batch, k, n] order, directly when its memory already has that order (or the transposed one,
 * passed to sgemm as a transpose flag), else gathered into the workspace. */
typedef struct einsum_gemm {
    int n_batch, n_m, n_n, n_k;
    int batch[ONYX_MAX_RANK], m[ONYX_MAX_RANK], n[ONYX_MAX_RANK], k[ONYX_MAX_RANK];
    int64_t B, M, N, K;
} einsum_gemm;

static int einsum_gemm_plan(const einsum_plan *p, onyx_dtype dt, einsum_gemm *g) {
    if (p->n_operands != 2 || p->op_irregular[0] || p->op_irregular[1]) return 0;
    if (dt != ONYX_DTYPE_FLOAT32 && dt != ONYX_DTYPE_FLOAT16 && dt != ONYX_DTYPE_BFLOAT16) return 0;
    int in_a[EINSUM_MAX_LABELS] = {0}, in_b[EINSUM_MAX_LABELS] = {0};
    for (int d = 0; d < p->op_rank[0]; d++) in_a[p->op_labels[0][d]] = 1;
    for (int d = 0; d < p->op_rank[1]; d++) in_b[p->op_labels[1][d]] = 1;
    memset(g, 0, sizeof *g);
    g->B = g->M = g->N = g->K = 1;
    for (int i = 0; i < p->out_rank; i++) {
        int l = p->out_labels[i];
        if (in_a[l] && in_b[l]) {
            g->batch[g->n_batch++] = l;
            g->B *= p->label_size[l];
        } else if (in_a[l]) {
            g->m[g->n_m++] = l;
            g->M *= p->label_size[l];
        } else {
            g->n[g->n_n++] = l;
            g->N *= p->label_size[l];
        }
    }
    for (int s = 0; s < p->n_summed; s++) {
        int l = p->summed_labels[s];
        if (!in_a[l] || !in_b[l]) return 0; /* summed in one operand only: the generic loop */
    }
    for (int d = 0; d < p->op_rank[0]; d++) { /* k in A's order */
        int l = p->op_labels[0][d];
        if (in_b[l]) {
            int is_out = 0;
            for (int i = 0; i < g->n_batch; i++) is_out |= g->batch[i] == l;
            if (!is_out) {
                g->k[g->n_k++] = l;
                g->K *= p->label_size[l];
            }
        }
    }
    return 1;
}

/* Whether the labels groups (in this order) address operand op contiguously. */
static int einsum_is_contiguous(const einsum_plan *p, int op, const int *const *groups, const int *counts,
                                int n_groups) {
    int64_t expect = 1;
    for (int gi = n_groups - 1; gi >= 0; gi--) {
        for (int i = counts[gi] - 1; i >= 0; i--) {
            int l = groups[gi][i];
            if (p->label_size[l] != 1 && p->strides[op][l] != expect) return 0;
            expect *= p->label_size[l];
        }
    }
    return 1;
}

/* Gather operand op into dst (float32) in the order of the label groups. */
static void einsum_gather(const einsum_plan *p, int op, onyx_dtype dt, const void *src, const int *const *groups,
                          const int *counts, int n_groups, float *dst) {
    int64_t dims[ONYX_MAX_RANK], strides[ONYX_MAX_RANK], coord[ONYX_MAX_RANK] = {0};
    int rank = 0;
    int64_t total = 1;
    for (int gi = 0; gi < n_groups; gi++)
        for (int i = 0; i < counts[gi]; i++) {
            dims[rank] = p->label_size[groups[gi][i]];
            strides[rank++] = p->strides[op][groups[gi][i]];
            total *= dims[rank - 1];
        }
    int64_t offset = 0;
    for (int64_t i = 0; i < total; i++) {
        dst[i] = (float)math_load(dt, src, offset);
        for (int d = rank - 1; d >= 0; d--) {
            coord[d]++;
            offset += strides[d];
            if (coord[d] < dims[d]) break;
            offset -= coord[d] * strides[d];
            coord[d] = 0;
        }
    }
}

static size_t einsum_gemm_workspace(const einsum_plan *p, const einsum_gemm *g, const onyx_kernel_ctx *ctx) {
    int64_t a_n = onyx_shape_numel(ctx->inputs[0]->dims, ctx->inputs[0]->rank);
    int64_t b_n = onyx_shape_numel(ctx->inputs[1]->dims, ctx->inputs[1]->rank);
    return (size_t)(a_n + b_n + g->B * g->M * g->N) * sizeof(float);
}

static void einsum_gemm_run(const einsum_plan *p, const einsum_gemm *g, onyx_kernel_ctx *ctx) {
    const onyx_tensor *a = ctx->inputs[0], *b = ctx->inputs[1];
    onyx_tensor *y = ctx->outputs[0];
    onyx_dtype dt = a->dtype;
    float *ws = ctx->workspace;
    int64_t a_n = onyx_shape_numel(a->dims, a->rank), b_n = onyx_shape_numel(b->dims, b->rank);
    const int *a_order[3] = {g->batch, g->m, g->k}, *a_order_t[3] = {g->batch, g->k, g->m};
    const int a_counts[3] = {g->n_batch, g->n_m, g->n_k}, a_counts_t[3] = {g->n_batch, g->n_k, g->n_m};
    const int *b_order[3] = {g->batch, g->k, g->n}, *b_order_t[3] = {g->batch, g->n, g->k};
    const int b_counts[3] = {g->n_batch, g->n_k, g->n_n}, b_counts_t[3] = {g->n_batch, g->n_n, g->n_k};
    int f32 = dt == ONYX_DTYPE_FLOAT32;
    const float *A, *B;
    int trans_a = 0, trans_b = 0;
    if (f32 && einsum_is_contiguous(p, 0, a_order, a_counts, 3)) {
        A = a->data;
    } else if (f32 && einsum_is_contiguous(p, 0, a_order_t, a_counts_t, 3)) {
        A = a->data;
        trans_a = 1;
    } else {
        einsum_gather(p, 0, dt, a->data, a_order, a_counts, 3, ws);
        A = ws;
    }
    if (f32 && einsum_is_contiguous(p, 1, b_order, b_counts, 3)) {
        B = b->data;
    } else if (f32 && einsum_is_contiguous(p, 1, b_order_t, b_counts_t, 3)) {
        B = b->data;
        trans_b = 1;
    } else {
        einsum_gather(p, 1, dt, b->data, b_order, b_counts, 3, ws + a_n);
        B = ws + a_n;
    }
    /* the output is [batch, m, n] when its labels come in that order */
    int direct = f32;
    for (int i = 0; direct && i < p->out_rank; i++) {
        int want = i < g->n_batch ? g->batch[i] : i < g->n_batch + g->n_m ? g->m[i - g->n_batch]
                                                                       : g->n[i - g->n_batch - g->n_m];
        direct = p->out_labels[i] == want;
    }
    float *C = direct ? (float *)y->data : ws + a_n + b_n;
    for (int64_t bi = 0; bi < g->B; bi++)
        gemm_f32(trans_a, trans_b, g->M, g->N, g->K, 1.0f, A + bi * g->M * g->K, B + bi * g->K * g->N, 0.0f,
                 C + bi * g->M * g->N, math_threads(ctx));
    if (direct) return;
    /* scatter C ([batch, m, n]) into the output's label order */
    int64_t out_strides[ONYX_MAX_RANK], label_stride[EINSUM_MAX_LABELS] = {0};
    onyx_contiguous_strides(p->out_dims, p->out_rank, out_strides);
    for (int i = 0; i < p->out_rank; i++) label_stride[p->out_labels[i]] = out_strides[i];
    int64_t dims[ONYX_MAX_RANK], strides[ONYX_MAX_RANK], coord[ONYX_MAX_RANK] = {0};
    int rank = 0;
    const int *groups[3] = {g->batch, g->m, g->n};
    const int counts[3] = {g->n_batch, g->n_m, g->n_n};
    for (int gi = 0; gi < 3; gi++)
        for (int i = 0; i < counts[gi]; i++) {
            dims[rank] = p->label_size[groups[gi][i]];
            strides[rank++] = label_stride[groups[gi][i]];
        }
    int64_t total = g->B * g->M * g->N, offset = 0;
    for (int64_t i = 0; i < total; i++) {
        math_store(dt, y->data, offset, C[i]);
        for (int d = rank - 1; d >= 0; d--) {
            coord[d]++;
            offset += strides[d];
            if (coord[d] < dims[d]) break;
            offset -= coord[d] * strides[d];
            coord[d] = 0;
        }
    }
}

onyx_status math_einsum_prepare(onyx_kernel_ctx *ctx) {
    einsum_plan p;
    ONYX_TRY(einsum_plan_build(ctx, &p));
    onyx_dtype dt = ctx->inputs[0]->dtype;
    for (int op = 1; op < p.n_operands; op++)
        if (ctx->inputs[op]->dtype != dt)
            return onyx_error(ONYX_ERR_INVALID_MODEL, "Einsum: input %d is %s but input 0 is %s", op,
                              onyx_dtype_name(ctx->inputs[op]->dtype), onyx_dtype_name(dt));
    einsum_gemm g = {0};
    ctx->workspace_bytes = einsum_gemm_plan(&p, dt, &g) ? einsum_gemm_workspace(&p, &g, ctx) : 0;
    return onyx_tensor_set_shape(ctx->outputs[0], dt, p.out_dims, p.out_rank, "Einsum output");
}

onyx_status math_einsum_run(onyx_kernel_ctx *ctx) {
    blas_threads(ctx);
    einsum_plan p;
    ONYX_TRY(einsum_plan_build(ctx, &p));
    onyx_tensor *y = ctx->outputs[0];
    onyx_dtype dt = y->dtype;
    einsum_gemm g = {0};
    if (einsum_gemm_plan(&p, dt, &g) && ctx->workspace_bytes >= einsum_gemm_workspace(&p, &g, ctx)) {
        einsum_gemm_run(&p, &g, ctx);
        return ONYX_OK;
    }
    int64_t out_n = onyx_shape_numel(p.out_dims, p.out_rank);
    int64_t summed_n = 1;
    for (int s = 0; s < p.n_summed; s++) summed_n *= p.label_size[p.summed_labels[s]];
#pragma omp parallel for num_threads(math_threads(ctx)) if (out_n * (summed_n ? summed_n : 1) * p.n_operands > (1 << 16))
    for (int64_t o = 0; o < out_n; o++) {
        /* operand base offsets from the output coordinates */
        int64_t base[EINSUM_MAX_OPERANDS] = {0};
        int64_t rest = o;
        for (int d = p.out_rank - 1; d >= 0; d--) {
            int l = p.out_labels[d];
            int64_t coord = rest % p.out_dims[d];
            rest /= p.out_dims[d];
            for (int op = 0; op < p.n_operands; op++) base[op] += coord * p.strides[op][l];
        }
        double acc = 0.0;
        for (int64_t si = 0; si < summed_n; si++) {
            int64_t srest = si;
            double prod = 1.0;
            int64_t off[EINSUM_MAX_OPERANDS];
            for (int op = 0; op < p.n_operands; op++) off[op] = base[op];
            for (int s = p.n_summed - 1; s >= 0; s--) {
                int l = p.summed_labels[s];
                int64_t coord = srest % p.label_size[l];
                srest /= p.label_size[l];
                for (int op = 0; op < p.n_operands; op++) off[op] += coord * p.strides[op][l];
            }
            for (int op = 0; op < p.n_operands; op++) prod *= math_load(dt, ctx->inputs[op]->data, off[op]);
            acc += prod;
        }
        math_store(dt, y->data, o, acc);
    }
    return ONYX_OK;
}
