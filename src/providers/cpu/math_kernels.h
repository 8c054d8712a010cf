/*
 * math_kernels.h - prototypes and small shared helpers of the CPU math kernels: matrix products
 * (matmul.c), reductions (reduce.c), normalisation (normalize.c) and quantization (quantize.c).
 * math_table.c gathers their prepare/run functions into onyx_cpu_math_kernels.
 *
 * The helpers read and write one element of any numeric dtype as double, so each kernel can keep
 * one generic path (float16, bfloat16, float64, integers) beside its float32 fast path.
 */
#ifndef ONYX_PROVIDERS_CPU_MATH_KERNELS_H
#define ONYX_PROVIDERS_CPU_MATH_KERNELS_H

#include <math.h>
#include <stdint.h>

#include "core/dtype.h"
#include "core/tensor.h"
#include "providers/kernel.h"

/* Element i of data (of dtype) as double. */
static inline double math_load(onyx_dtype dtype, const void *data, int64_t i) {
    switch (dtype) {
    case ONYX_DTYPE_FLOAT32: return ((const float *)data)[i];
    case ONYX_DTYPE_FLOAT64: return ((const double *)data)[i];
    case ONYX_DTYPE_FLOAT16: return onyx_f16_to_f32(((const uint16_t *)data)[i]);
    case ONYX_DTYPE_BFLOAT16: return onyx_bf16_to_f32(((const uint16_t *)data)[i]);
    case ONYX_DTYPE_INT8: return ((const int8_t *)data)[i];
    case ONYX_DTYPE_INT16: return ((const int16_t *)data)[i];
    case ONYX_DTYPE_INT32: return ((const int32_t *)data)[i];
    case ONYX_DTYPE_INT64: return (double)((const int64_t *)data)[i];
    case ONYX_DTYPE_UINT8: case ONYX_DTYPE_BOOL: return ((const uint8_t *)data)[i];
    case ONYX_DTYPE_UINT16: return ((const uint16_t *)data)[i];
    case ONYX_DTYPE_UINT32: return ((const uint32_t *)data)[i];
    case ONYX_DTYPE_UINT64: return (double)((const uint64_t *)data)[i];
    default: return 0.0;
    }
}

/* Element i of integer data as int64 (exact, unlike going through double); floats truncate. */
static inline int64_t math_load_i64(onyx_dtype dtype, const void *data, int64_t i) {
    switch (dtype) {
    case ONYX_DTYPE_INT8: return ((const int8_t *)data)[i];
    case ONYX_DTYPE_INT16: return ((const int16_t *)data)[i];
    case ONYX_DTYPE_INT32: return ((const int32_t *)data)[i];
    case ONYX_DTYPE_INT64: return ((const int64_t *)data)[i];
    case ONYX_DTYPE_UINT8: case ONYX_DTYPE_BOOL: return ((const uint8_t *)data)[i];
    case ONYX_DTYPE_UINT16: return ((const uint16_t *)data)[i];
    case ONYX_DTYPE_UINT32: return ((const uint32_t *)data)[i];
    case ONYX_DTYPE_UINT64: return (int64_t)((const uint64_t *)data)[i];
    default: {
        double value = math_load(dtype, data, i);
        return value > -9.2e18 && value < 9.2e18 ? (int64_t)value : 0;
    }
    }
}

/* Store value as element i of data (of dtype); integers are truncated toward zero like a C cast
 * (NaN and out-of-range values become 0 rather than undefined behaviour). */
static inline void math_store(onyx_dtype dtype, void *data, int64_t i, double value) {
    if (!onyx_dtype_is_float(dtype) && !(value > -9.3e18 && value < 1.8e19)) value = 0.0;
    switch (dtype) {
    case ONYX_DTYPE_FLOAT32: ((float *)data)[i] = (float)value; break;
    case ONYX_DTYPE_FLOAT64: ((double *)data)[i] = value; break;
    case ONYX_DTYPE_FLOAT16: ((uint16_t *)data)[i] = onyx_f32_to_f16((float)value); break;
    case ONYX_DTYPE_BFLOAT16: ((uint16_t *)data)[i] = onyx_f32_to_bf16((float)value); break;
    case ONYX_DTYPE_INT8: ((int8_t *)data)[i] = (int8_t)(int64_t)value; break;
    case ONYX_DTYPE_INT16: ((int16_t *)data)[i] = (int16_t)(int64_t)value; break;
    case ONYX_DTYPE_INT32: ((int32_t *)data)[i] = (int32_t)(int64_t)value; break;
    case ONYX_DTYPE_INT64: ((int64_t *)data)[i] = (int64_t)value; break;
    case ONYX_DTYPE_UINT8: case ONYX_DTYPE_BOOL: ((uint8_t *)data)[i] = (uint8_t)(uint64_t)(value < 0 ? 0 : value); break;
    case ONYX_DTYPE_UINT16: ((uint16_t *)data)[i] = (uint16_t)(uint64_t)(value < 0 ? 0 : value); break;
    case ONYX_DTYPE_UINT32: ((uint32_t *)data)[i] = (uint32_t)(uint64_t)(value < 0 ? 0 : value); break;
    case ONYX_DTYPE_UINT64: ((uint64_t *)data)[i] = (uint64_t)(value < 0 ? 0 : value); break;
    default: break;
    }
}

/* Threads for this kernel's OpenMP loops: ctx->threads, or 1 when OpenBLAS runs its own pthread
 * pool. Measured on 16 cores (BERT-layer-like MatMul, MatMul, Softmax, LayerNormalization):
 * 28 ms with both pools at 16 threads (each spins while the other works), 3.0 ms with the math
 * loops single-threaded, 1.6 ms with the OpenMP build of OpenBLAS sharing one pool. */
int math_threads(const onyx_kernel_ctx *ctx);

/* Convert n elements of a float16/bfloat16/float32 array (starting at element offset) to float32
 * and back. */
void math_to_f32(onyx_dtype dtype, const void *src, int64_t offset, int64_t n, float *dst);
void math_from_f32(onyx_dtype dtype, const float *src, int64_t n, void *dst, int64_t offset);

/* normalize.c: yr (cols) = softmax, or log-softmax when log_output, of xr (cols) in float32; yr
 * may be xr. Softmax's float32 rows and Attention's score rows share it. */
void math_softmax_row_f32(float *yr, const float *xr, int64_t cols, int log_output);

/* matmul.c */
onyx_status math_matmul_prepare(onyx_kernel_ctx *ctx);
onyx_status math_matmul_run(onyx_kernel_ctx *ctx);
/* MatMulBias (domain "onyx"): inputs A, B, optional bias; Y = MatMul(A, B) + bias, bias 1-D
 * with the length of Y's last axis (N when B has rank >= 2), same dtype as A and B. Attribute
 * transB = 1: B has rank >= 2 and each of its matrices is stored (N, K). The CUDA row reuses
 * the prepare. */
onyx_status math_matmul_bias_prepare(onyx_kernel_ctx *ctx);
/* MatMulBias's input B as MatMul reads it, (..., K, N): with transB = 1, *logical gets B's
 * header with its last two dims swapped (same data) and *trans_b is 1; with packedN = N (B in
 * the weight-layout pass's panels, the cpu provider only), *logical is (K, N) and *trans_b is
 * MATMUL_B_PANELS. */
#define MATMUL_B_PANELS 2
/* Whether the cpu provider's panel product runs on this CPU (AVX-512): host-only sessions then
 * pack float32 weights into its panels (onyx_graph_pack_weights). */
int onyx_cpu_packs_weights(void);
onyx_status math_matmul_bias_b(const onyx_kernel_ctx *ctx, onyx_tensor *logical, int *trans_b);
onyx_status math_matmul_bias_run(onyx_kernel_ctx *ctx);
onyx_status math_gemm_prepare(onyx_kernel_ctx *ctx);
onyx_status math_gemm_run(onyx_kernel_ctx *ctx);
onyx_status math_matmul_integer_prepare(onyx_kernel_ctx *ctx);
onyx_status math_matmul_integer_run(onyx_kernel_ctx *ctx);
onyx_status math_qlinear_matmul_prepare(onyx_kernel_ctx *ctx);
onyx_status math_qlinear_matmul_run(onyx_kernel_ctx *ctx);
onyx_status math_det_prepare(onyx_kernel_ctx *ctx);
onyx_status math_det_run(onyx_kernel_ctx *ctx);
onyx_status math_einsum_prepare(onyx_kernel_ctx *ctx);
onyx_status math_einsum_run(onyx_kernel_ctx *ctx);

/* reduce.c: one prepare/run pair serves every Reduce* op (the op type picks the reduction). */
onyx_status math_reduce_prepare(onyx_kernel_ctx *ctx);
onyx_status math_reduce_run(onyx_kernel_ctx *ctx);
/* ArgMax and ArgMin share one pair (the op type picks the direction). */
onyx_status math_argmax_prepare(onyx_kernel_ctx *ctx);
onyx_status math_argmax_run(onyx_kernel_ctx *ctx);
onyx_status math_cumsum_prepare(onyx_kernel_ctx *ctx);
onyx_status math_cumsum_run(onyx_kernel_ctx *ctx);
onyx_status math_topk_prepare(onyx_kernel_ctx *ctx);
onyx_status math_topk_run(onyx_kernel_ctx *ctx);
/* GlobalAveragePool and GlobalMaxPool share one pair. */
onyx_status math_global_pool_prepare(onyx_kernel_ctx *ctx);
onyx_status math_global_pool_run(onyx_kernel_ctx *ctx);

/* normalize.c: Softmax and LogSoftmax share one pair (the op type picks the log). */
onyx_status math_softmax_prepare(onyx_kernel_ctx *ctx);
onyx_status math_softmax_run(onyx_kernel_ctx *ctx);
onyx_status math_hardmax_prepare(onyx_kernel_ctx *ctx);
onyx_status math_hardmax_run(onyx_kernel_ctx *ctx);
/* InstanceNormalization and BatchNormalization share one pair. */
onyx_status math_channel_norm_prepare(onyx_kernel_ctx *ctx);
onyx_status math_channel_norm_run(onyx_kernel_ctx *ctx);
onyx_status math_mvn_prepare(onyx_kernel_ctx *ctx);
onyx_status math_mvn_run(onyx_kernel_ctx *ctx);
onyx_status math_lrn_prepare(onyx_kernel_ctx *ctx);
onyx_status math_lrn_run(onyx_kernel_ctx *ctx);
/* NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss share one pair. */
onyx_status math_loss_prepare(onyx_kernel_ctx *ctx);
onyx_status math_loss_run(onyx_kernel_ctx *ctx);
/* LayerNormalization, and the RMS norms (RMSNormalization, com.microsoft
 * SimplifiedLayerNormalization: math_norm_is_rms) without mean or bias. */
int math_norm_is_rms(const onyx_node *node);
/* com.microsoft SkipLayerNormalization / SkipSimplifiedLayerNormalization (normalize.c): the
 * checked view of a node, its output shapes, the plain norm of the sum as a context of its own
 * (the CUDA provider shares these), and the CPU kernel. */
typedef struct math_skip_norm {
    int rms;
    const onyx_tensor *input, *skip, *gamma, *beta, *bias;
    onyx_tensor *mean, *inv_std, *sum; /* optional outputs */
    int64_t dims[ONYX_MAX_RANK];       /* input and skip broadcast */
    int rank;
    int64_t rows, cols;
    int same_shape;                    /* skip has input's shape and the result's */
    size_t sum_bytes;                  /* the sum's bytes, rounded up to 256 */
} math_skip_norm;
onyx_status math_skip_norm_view(const onyx_kernel_ctx *ctx, math_skip_norm *v);
onyx_status math_skip_norm_set_outputs(onyx_kernel_ctx *ctx, const math_skip_norm *v);
onyx_kernel_ctx math_skip_norm_inner(const onyx_kernel_ctx *ctx, const math_skip_norm *v, const onyx_tensor *sum,
                                     const onyx_tensor **ins, onyx_tensor **outs);
onyx_status math_skip_norm_prepare(onyx_kernel_ctx *ctx);
onyx_status math_skip_norm_run(onyx_kernel_ctx *ctx);
/* onyx ScaleAddSoftmax (normalize.c): Y = Softmax(X * scale + B) along the last axis of the
 * broadcast shape; the view of a node (shared with the CUDA provider) and the CPU kernel. */
typedef struct math_scale_add_softmax {
    int64_t dims[ONYX_MAX_RANK]; /* Y's shape */
    int rank;
    int64_t rows, n;
    float scale;
    int lead_rank;               /* Y's leading dims collapsed, with X's and B's strides */
    int64_t lead_dims[ONYX_MAX_RANK], x_strides[ONYX_MAX_RANK], b_strides[ONYX_MAX_RANK];
    int64_t x_last, b_last;      /* strides along the last axis (0 or 1) */
} math_scale_add_softmax;
onyx_status math_scale_add_softmax_view(const onyx_kernel_ctx *ctx, math_scale_add_softmax *v);
onyx_status math_scale_add_softmax_prepare(onyx_kernel_ctx *ctx);
onyx_status math_scale_add_softmax_run(onyx_kernel_ctx *ctx);
/* onyx Attention (attention.c): softmax(scale * Q K^T + B) V per head, Q, K, V and the output in
 * (batch, sequence, heads, size) layout; the view of a node (shared with the CUDA provider) and
 * the CPU kernel. */
typedef struct math_attention {
    int64_t batch, heads, q_len, kv_len, head_dim, v_dim;
    /* element strides along (batch, sequence, head); a head's vector is contiguous. A batch
     * stride of 0: K or V of batch 1, shared by every batch. */
    int64_t q_strides[3], k_strides[3], v_strides[3], o_strides[3];
    int has_bias;
    int64_t bias_strides[4]; /* along (batch, head, query, key); 0 where B is broadcast */
    float scale;
    int64_t out_dims[4];
} math_attention;
onyx_status math_attention_view(const onyx_kernel_ctx *ctx, math_attention *v);
onyx_status math_attention_prepare(onyx_kernel_ctx *ctx);
onyx_status math_attention_run(onyx_kernel_ctx *ctx);
onyx_status math_layer_norm_prepare(onyx_kernel_ctx *ctx);
onyx_status math_layer_norm_run(onyx_kernel_ctx *ctx);

/* quantize.c */
onyx_status math_quantize_prepare(onyx_kernel_ctx *ctx);
onyx_status math_quantize_run(onyx_kernel_ctx *ctx);
onyx_status math_dequantize_prepare(onyx_kernel_ctx *ctx);
onyx_status math_dequantize_run(onyx_kernel_ctx *ctx);
onyx_status math_dynamic_quantize_prepare(onyx_kernel_ctx *ctx);
onyx_status math_dynamic_quantize_run(onyx_kernel_ctx *ctx);

#endif
