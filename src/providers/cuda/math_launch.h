/*
 * math_launch.h - launchers of the CUDA math kernels (math.cu), called by the math kernel table
 * (math.c): reductions (GlobalAverage/MaxPool among them), ArgMax/ArgMin, CumSum, TopK,
 * Softmax/LogSoftmax, Hardmax, Layer-, Instance- and BatchNormalization, MeanVariance-
 * Normalization, and linear quantization.
 *
 * Compiles as C and as C++. Every launcher takes device pointers, int64 sizes and a stream,
 * enqueues its kernels (never synchronises, never allocates) and returns cudaGetLastError().
 * Shapes are given in the (outer, n, inner) view of an axis: rows of n elements spaced inner
 * apart, outer * inner of them. Element dtypes are onyx_dtype codes (the ONNX TensorProto
 * DataType numbers), listed below; math.c checks that they match onyx's.
 */
#ifndef ONYX_PROVIDERS_CUDA_MATH_LAUNCH_H
#define ONYX_PROVIDERS_CUDA_MATH_LAUNCH_H

#include <stddef.h>
#include <stdint.h>

#include <cuda_runtime_api.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Element dtypes the math kernels take (values of onyx_dtype). */
enum {
    ONYX_CUDA_DT_FLOAT32 = 1,
    ONYX_CUDA_DT_UINT8 = 2,
    ONYX_CUDA_DT_INT8 = 3,
    ONYX_CUDA_DT_INT32 = 6,
    ONYX_CUDA_DT_INT64 = 7,
    ONYX_CUDA_DT_FLOAT16 = 10,
    ONYX_CUDA_DT_FLOAT64 = 11,
    ONYX_CUDA_DT_BFLOAT16 = 16
};

/* The largest rank the launchers take (ONYX_MAX_RANK; math.c checks they agree). */
#define ONYX_CUDA_MATH_MAX_RANK 12

/* Reductions, in the order of the CPU provider's reduce_kind. */
enum {
    ONYX_CUDA_REDUCE_SUM,
    ONYX_CUDA_REDUCE_MEAN,
    ONYX_CUDA_REDUCE_MAX,
    ONYX_CUDA_REDUCE_MIN,
    ONYX_CUDA_REDUCE_PROD,
    ONYX_CUDA_REDUCE_L1,
    ONYX_CUDA_REDUCE_L2,
    ONYX_CUDA_REDUCE_SUM_SQUARE,
    ONYX_CUDA_REDUCE_LOG_SUM,
    ONYX_CUDA_REDUCE_LOG_SUM_EXP
};

/* Reduce* over the axes flagged in reduced (rank entries). x has dims (rank of them), y holds
 * one element per combination of kept dims in order. Float types accumulate in float32 (float64
 * in double); integer sums, products and extremes are exact in int64, integer means, norms and
 * logs go through double like the CPU kernel. The workspace (onyx_cuda_reduce_workspace bytes)
 * holds partial results when few outputs reduce many elements each. */
size_t onyx_cuda_reduce_workspace(int rank, const int64_t *dims, const int *reduced);
cudaError_t onyx_cuda_reduce(int kind, int dtype, const void *x, void *y, int rank, const int64_t *dims,
                             const int *reduced, void *workspace, size_t workspace_bytes, cudaStream_t stream);

/* ArgMax (want_min = 0) or ArgMin along n: x is (outer, n, inner), indices is (outer, inner).
 * Ties go to the first index, or the last with select_last; NaN is skipped unless it is the
 * row's first element (then the answer is 0), as the CPU kernel's scan does. */
cudaError_t onyx_cuda_argmax(int dtype, int want_min, int select_last, const void *x, int64_t *indices,
                             int64_t outer, int64_t n, int64_t inner, cudaStream_t stream);

/* CumSum along n: x and y are (outer, n, inner). Floats accumulate in double, integers in int64. */
cudaError_t onyx_cuda_cumsum(int dtype, int exclusive, int reverse, const void *x, void *y, int64_t outer,
                             int64_t n, int64_t inner, cudaStream_t stream);

/* TopK along n: x is (outer, n, inner); values (x's dtype) and indices (int64, may be NULL) are
 * (outer, k, inner), best first, ties by the lower index. n < 2^32. */
size_t onyx_cuda_topk_workspace(int64_t slices, int64_t n, int64_t k);
cudaError_t onyx_cuda_topk(int dtype, int largest, const void *x, void *values, int64_t *indices, int64_t outer,
                           int64_t n, int64_t inner, int64_t k, void *workspace, size_t workspace_bytes,
                           cudaStream_t stream);

/* Softmax (log_output = 0) or LogSoftmax along n: x and y are (outer, n, inner). */
cudaError_t onyx_cuda_softmax(int dtype, int log_output, const void *x, void *y, int64_t outer, int64_t n,
                              int64_t inner, cudaStream_t stream);

/* onyx ScaleAddSoftmax: y (rows, n) = softmax of round(round(x * scale) + bias) along n (the
 * scale only with use_scale), each rounding to the dtype as the Mul and Add kernels round. x and
 * bias are broadcast to y: rank (<= 12) leading dims with each operand's element strides, and
 * their strides along n (x_last, b_last: 0 or 1). */
cudaError_t onyx_cuda_scale_add_softmax(int dtype, const void *x, const void *bias, void *y, int64_t rows,
                                        int64_t n, float scale, int use_scale, int rank, const int64_t *dims,
                                        const int64_t *x_strides, const int64_t *b_strides, int64_t x_last,
                                        int64_t b_last, cudaStream_t stream);

/* onyx Attention (src/providers/cpu/attention.c): o[b, i, h, :] = softmax_j(scale * q[b, i, h, :] .
 * k[b, j, h, :] + bias[b, h, i, j]) v[b, j, h, :], float32 scores and softmax. Element strides
 * along (batch, sequence, head) for q, k, v and o (a head's vector contiguous; a batch stride of
 * 0 shares one K or V), bias (may be NULL) strides along (batch, head, query, key). The kernel
 * (onyx_cuda_attention_kernel says which): float16 with head size 64 for both K and V on a device
 * of compute capability cc_major >= 8, the tensor-core one (ONYX_CUDA_ATTENTION_MMA); float32 with
 * head size 32 or 64 for both, FFMA tiles (ONYX_CUDA_ATTENTION_F32_TILES); both need 16-byte
 * aligned Q, K, V and O and strides of 8 (float16) or 4 (float32) elements. Other cases (bfloat16,
 * other sizes up to ONYX_CUDA_ATTENTION_MAX_V_DIM for V) one warp per query row. kv_len > 0. */
#define ONYX_CUDA_ATTENTION_MAX_V_DIM 256
typedef struct onyx_cuda_attention_shape {
    int64_t batch, heads, q_len, kv_len, head_dim, v_dim;
    int64_t q_strides[3], k_strides[3], v_strides[3], o_strides[3];
    int64_t bias_strides[4];
    float scale;
} onyx_cuda_attention_shape;
cudaError_t onyx_cuda_attention(int dtype, int cc_major, const void *q, const void *k, const void *v,
                                const void *bias, void *o, const onyx_cuda_attention_shape *shape,
                                cudaStream_t stream);
/* Which kernel onyx_cuda_attention takes for these arguments (for tests). */
enum { ONYX_CUDA_ATTENTION_ROWS = 0, ONYX_CUDA_ATTENTION_MMA = 1, ONYX_CUDA_ATTENTION_F32_TILES = 2 };
int onyx_cuda_attention_kernel(int dtype, int cc_major, const void *q, const void *k, const void *v, const void *o,
                               const onyx_cuda_attention_shape *shape);

/* LayerNormalization of rows: x and y are (rows, cols), scale and bias (may be NULL) are (cols)
 * of x's dtype; mean and inv_std (float32, may be NULL) are (rows). rms: the RMS norm (the mean
 * taken as 0; bias and mean NULL). With skip (rows, cols): the rows normalised are x + skip
 * (+ skip_bias, (cols), may be NULL), rounded to the dtype as an Add rounds them, and written to
 * sum_out (rows, cols) unless it is NULL; rows longer than ONYX_CUDA_LN_REGISTER_COLS (which
 * are read more than once) need sum_out. */
#define ONYX_CUDA_LN_REGISTER_COLS 16384 /* the longest rows the norm keeps in registers */
cudaError_t onyx_cuda_layer_norm(int dtype, const void *x, const void *scale, const void *bias, void *y,
                                 float *mean, float *inv_std, int64_t rows, int64_t cols, double epsilon, int rms,
                                 const void *skip, const void *skip_bias, void *sum_out, cudaStream_t stream);

/* Hardmax along n: y (x's shape, (outer, n, inner)) is 1 at the first maximum of each row, 0
 * elsewhere. The workspace (onyx_cuda_hardmax_workspace bytes) holds each row's argmax. */
size_t onyx_cuda_hardmax_workspace(int64_t outer, int64_t inner);
cudaError_t onyx_cuda_hardmax(int dtype, const void *x, void *y, int64_t outer, int64_t n, int64_t inner,
                              void *workspace, size_t workspace_bytes, cudaStream_t stream);

/* Per-channel parameters of Instance- and BatchNormalization: C elements each, of any float
 * dtype (the dtype codes given beside them). */
enum { ONYX_CUDA_NORM_SCALE, ONYX_CUDA_NORM_BIAS, ONYX_CUDA_NORM_MEAN, ONYX_CUDA_NORM_VAR, ONYX_CUDA_NORM_PARAMS };

/* InstanceNormalization: x and y are (N, C, S); each (n, c) plane is normalised with its own
 * mean and variance (accumulated in double), then scaled and shifted by params[SCALE/BIAS]. */
cudaError_t onyx_cuda_instance_norm(int dtype, const void *x, void *y, const void *const *params,
                                    const int *param_dtypes, int64_t N, int64_t C, int64_t S, double epsilon,
                                    cudaStream_t stream);
/* BatchNormalization: x and y are (N, C, S). With training, mean and variance are the batch's
 * over N and S (in double); otherwise params[MEAN/VAR]. stats[0..3] (each NULL or C elements of
 * stats_dtypes[i]) receive running mean, running var (momentum-blended when training), the mean
 * used and 1 / sqrt(var + epsilon). The workspace (onyx_cuda_batch_norm_workspace bytes) holds
 * the per-channel coefficients. */
size_t onyx_cuda_batch_norm_workspace(int64_t C);
cudaError_t onyx_cuda_batch_norm(int dtype, const void *x, void *y, const void *const *params,
                                 const int *param_dtypes, void *const *stats, const int *stats_dtypes, int training,
                                 double momentum, double epsilon, int64_t N, int64_t C, int64_t S, void *workspace,
                                 size_t workspace_bytes, cudaStream_t stream);

/* MeanVarianceNormalization over the axes flagged in reduced: y = (x - mean) / (sqrt(var) +
 * 1e-9) with mean and var = E[x^2] - mean^2 of each kept position, in double as on the CPU. The
 * workspace (onyx_cuda_mvn_workspace bytes) holds two doubles per kept position. */
size_t onyx_cuda_mvn_workspace(int rank, const int64_t *dims, const int *reduced);
cudaError_t onyx_cuda_mvn(int dtype, const void *x, void *y, int rank, const int64_t *dims, const int *reduced,
                          void *workspace, size_t workspace_bytes, cudaStream_t stream);

/* QuantizeLinear: x (float32 or int32) is (outer, channels, inner) flattened to total elements,
 * scale is (channels) float32, zero_point (channels, y's dtype, may be NULL); y is uint8 or
 * int8. channels == 1 is per-tensor. */
cudaError_t onyx_cuda_quantize_linear(int x_dtype, int y_dtype, const void *x, const float *scale,
                                      const void *zero_point, void *y, int64_t total, int64_t channels,
                                      int64_t inner, cudaStream_t stream);
/* DequantizeLinear: x (int8, uint8 or int32) and zero_point (x's dtype, may be NULL) as above; y
 * is float32. */
cudaError_t onyx_cuda_dequantize_linear(int x_dtype, const void *x, const float *scale, const void *zero_point,
                                        float *y, int64_t total, int64_t channels, int64_t inner,
                                        cudaStream_t stream);
/* DynamicQuantizeLinear of n float32 elements to uint8; y_scale and y_zero_point (device
 * scalars) may be NULL. */
size_t onyx_cuda_dynamic_quantize_workspace(int64_t n);
cudaError_t onyx_cuda_dynamic_quantize_linear(const float *x, uint8_t *y, float *y_scale, uint8_t *y_zero_point,
                                              int64_t n, void *workspace, size_t workspace_bytes,
                                              cudaStream_t stream);

#ifdef __cplusplus
}
#endif

#endif
