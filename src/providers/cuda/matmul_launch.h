/*
 * matmul_launch.h - launchers of the CUDA matmul kernels (matmul.cu), called by matmul.c.
 *
 * float32/float16/bfloat16 (and float64 where cuBLASLt takes it) products go through cuBLASLt
 * from matmul.c; these kernels cover what cuBLASLt does not: integer products, MatMulInteger's
 * zero points, a fallback GEMM when cuBLASLt has no algorithm for a case, broadcasting Gemm's C
 * into the output, the strided copies that permute Einsum operands, and Einsum's generic loop.
 *
 * Compiles as C and C++: plain types only. Matrices are row-major; lda/ldb/ldy are row pitches
 * in elements; a batch of matrices is addressed by a uniform stride in elements (0 = every batch
 * reads the same matrix). Every launcher returns cudaGetLastError() after its launches and
 * launches nothing for zero-size work.
 *
 * Legend: M = rows of op(A) and Y, K = inner dimension, N = columns of op(B) and Y.
 */
#ifndef ONYX_PROVIDERS_CUDA_MATMUL_LAUNCH_H
#define ONYX_PROVIDERS_CUDA_MATMUL_LAUNCH_H

#include <stddef.h>
#include <stdint.h>

#include <cuda_runtime_api.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Element types the kernels know (onyx's dtype codes are mapped in matmul.c). */
typedef enum onyx_cuda_elem {
    ONYX_CUDA_ELEM_F32,
    ONYX_CUDA_ELEM_F16,
    ONYX_CUDA_ELEM_BF16,
    ONYX_CUDA_ELEM_F64,
    ONYX_CUDA_ELEM_I8,
    ONYX_CUDA_ELEM_U8,
    ONYX_CUDA_ELEM_I16,
    ONYX_CUDA_ELEM_U16,
    ONYX_CUDA_ELEM_I32,
    ONYX_CUDA_ELEM_U32,
    ONYX_CUDA_ELEM_I64,
    ONYX_CUDA_ELEM_U64
} onyx_cuda_elem;

#define ONYX_CUDA_MATMUL_MAX_RANK 12     /* ONYX_MAX_RANK (checked in matmul.c) */
#define ONYX_CUDA_EINSUM_MAX_OPERANDS 8
#define ONYX_CUDA_EINSUM_MAX_SUMMED 16

/* y (batch, M, N) = alpha * op(a) op(b) + beta * y, for every element type above. float16 and
 * bfloat16 accumulate in float32; float32 in float32, float64 in float64; integers accumulate
 * in 64 bits and wrap to the element type on store (alpha_int/beta_int are used for them,
 * alpha/beta for floats). With beta == 0, y is not read. a is (batch, M, K), or (batch, K, M)
 * when trans_a; b is (batch, K, N), or (batch, N, K) when trans_b. */
cudaError_t onyx_cuda_gemm_tiled(onyx_cuda_elem type, int trans_a, int trans_b, int64_t M, int64_t N, int64_t K,
                                 double alpha, int64_t alpha_int, const void *a, int64_t lda, int64_t stride_a,
                                 const void *b, int64_t ldb, int64_t stride_b, double beta, int64_t beta_int,
                                 void *y, int64_t ldy, int64_t stride_y, int64_t batch, cudaStream_t stream);

/* Products of few rows (decode steps): y (batch, M, N) = alpha * a (batch, M, K) b (batch, K, N)
 * + bias (N; NULL for none), 1 <= M <= ONYX_CUDA_SKINNY_MAX_M, float32, float16 or bfloat16 with
 * float32 accumulation; no transposes; y is contiguous (row pitch N). With ws, a product too
 * narrow to fill the GPU splits K over blocks, their float32 sums in ws->partial; ws belongs to
 * the stream (one launch at a time uses it) and its counters start at 0, as each launch leaves
 * them. NULL ws: no split. */
#define ONYX_CUDA_SKINNY_MAX_M 8
typedef struct onyx_cuda_skinny_ws {
    float *partial;        /* device, partial_floats floats */
    size_t partial_floats;
    unsigned *counters;    /* device, n_counters, zero between launches */
    int64_t n_counters;
    int sm_count;
} onyx_cuda_skinny_ws;
cudaError_t onyx_cuda_gemm_skinny(onyx_cuda_elem type, int64_t M, int64_t N, int64_t K, float alpha, const void *a,
                                  int64_t lda, int64_t stride_a, const void *b, int64_t ldb, int64_t stride_b,
                                  const void *bias, void *y, int64_t stride_y, int64_t batch,
                                  const onyx_cuda_skinny_ws *ws, cudaStream_t stream);

/* MatMulInteger: y (batch, M, N) int32 = (a - a_zero) (b - b_zero), accumulated in int32.
 * a is (batch, M, K) of a_type, b is (batch, K, N) of b_type (each int8 or uint8). a_zero is
 * NULL (no zero point), one value (a_zero_count 1) or one per row of A (M values), of a_type;
 * b_zero likewise per column of B (N values), of b_type. */
cudaError_t onyx_cuda_matmul_integer(onyx_cuda_elem a_type, onyx_cuda_elem b_type, int64_t M, int64_t N, int64_t K,
                                     const void *a, int64_t stride_a, const void *a_zero, int64_t a_zero_count,
                                     const void *b, int64_t stride_b, const void *b_zero, int64_t b_zero_count,
                                     int32_t *y, int64_t stride_y, int64_t batch, cudaStream_t stream);

/* y (M, N)[i][j] = c[i * row_stride + j * col_stride] for elements of elem_size bytes (1, 2, 4
 * or 8): Gemm's C broadcast into the output (strides 0 broadcast). */
cudaError_t onyx_cuda_broadcast_matrix(size_t elem_size, void *y, int64_t M, int64_t N, const void *c,
                                       int64_t row_stride, int64_t col_stride, cudaStream_t stream);

/* A view of a tensor: dims and element strides (any order, 0 = broadcast). */
typedef struct onyx_cuda_strided_view {
    int rank;
    int64_t dims[ONYX_CUDA_MATMUL_MAX_RANK];
    int64_t strides[ONYX_CUDA_MATMUL_MAX_RANK];
} onyx_cuda_strided_view;

/* dst (contiguous, view.dims) = src read through view.strides, elements of elem_size bytes. */
cudaError_t onyx_cuda_strided_copy(size_t elem_size, void *dst, const void *src, onyx_cuda_strided_view view,
                                   cudaStream_t stream);

/* Einsum's generic form: out[o] = sum over the summed labels of the product of every operand,
 * in float64 (as the CPU kernel), stored like the CPU's math_store (integers truncate toward
 * zero, NaN and out-of-range values become 0, negative values of unsigned types 0). Operand op
 * is read at offset sum_d(coord_d * out_strides[op][d]) + sum_s(coord_s * summed_strides[op][s]),
 * where coord_d runs over out_dims and coord_s over summed_dims. */
typedef struct onyx_cuda_einsum_args {
    int n_operands;
    int out_rank;
    int n_summed;
    int64_t out_dims[ONYX_CUDA_MATMUL_MAX_RANK];
    int64_t summed_dims[ONYX_CUDA_EINSUM_MAX_SUMMED];
    int64_t out_strides[ONYX_CUDA_EINSUM_MAX_OPERANDS][ONYX_CUDA_MATMUL_MAX_RANK];
    int64_t summed_strides[ONYX_CUDA_EINSUM_MAX_OPERANDS][ONYX_CUDA_EINSUM_MAX_SUMMED];
    const void *operands[ONYX_CUDA_EINSUM_MAX_OPERANDS];
} onyx_cuda_einsum_args;

cudaError_t onyx_cuda_einsum_generic(onyx_cuda_elem type, void *out, const onyx_cuda_einsum_args *args,
                                     cudaStream_t stream);

#ifdef __cplusplus
}
#endif

#endif
