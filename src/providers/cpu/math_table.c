/*
 * math_table.c - the CPU provider's table of math kernels: matrix products, reductions,
 * normalisation and quantization (onyx_cpu_math_kernels, declared in cpu_tables.h).
 *
 * One row per op and opset range whose type constraints differ (ONNX schemas as of opset 18);
 * the kernels themselves read node->opset where semantics change inside a row's range (Reduce*
 * axes as input, Softmax's axis meaning, TopK's k and largest).
 */
#include "providers/cpu/cpu_tables.h"
#include "providers/cpu/math_kernels.h"

#define F3 (ONYX_DT(FLOAT32) | ONYX_DT(FLOAT16) | ONYX_DT(FLOAT64))
#define F4 (F3 | ONYX_DT(BFLOAT16))
#define WIDE_INTS (ONYX_DT(INT32) | ONYX_DT(INT64) | ONYX_DT(UINT32) | ONYX_DT(UINT64))
#define BYTE_INTS (ONYX_DT(INT8) | ONYX_DT(UINT8))
#define MAX ONYX_OPSET_MAX
#define AXES_INPUT (1u << 1) /* input 1 (axes, axis or K) is read by prepare */

/* Reduce ops whose axes became an input at opset 18. */
#define REDUCE_ROWS(op)                                                                           \
    {op, "", 1, 12, 0, F3 | WIDE_INTS, 0, math_reduce_prepare, math_reduce_run},                  \
    {op, "", 13, 17, 0, F4 | WIDE_INTS, 0, math_reduce_prepare, math_reduce_run},                 \
    {op, "", 18, MAX, 0, F4 | WIDE_INTS, AXES_INPUT, math_reduce_prepare, math_reduce_run}

#define REDUCE_EXTREME_ROWS(op)                                                                   \
    {op, "", 1, 11, 0, F3 | WIDE_INTS, 0, math_reduce_prepare, math_reduce_run},                  \
    {op, "", 12, 12, 0, F3 | WIDE_INTS | BYTE_INTS, 0, math_reduce_prepare, math_reduce_run},     \
    {op, "", 13, 17, 0, F4 | WIDE_INTS | BYTE_INTS, 0, math_reduce_prepare, math_reduce_run},     \
    {op, "", 18, MAX, 0, F4 | WIDE_INTS | BYTE_INTS, AXES_INPUT, math_reduce_prepare, math_reduce_run}

const onyx_kernel_def onyx_cpu_math_kernels[] = {
    {"MatMul", "", 1, 8, 0, F3, 0, math_matmul_prepare, math_matmul_run},
    {"MatMul", "", 9, 12, 0, F3 | WIDE_INTS, 0, math_matmul_prepare, math_matmul_run},
    {"MatMul", "", 13, MAX, 0, F4 | WIDE_INTS, 0, math_matmul_prepare, math_matmul_run},
    {"MatMulBias", "onyx", 1, MAX, 0, F4, 0, math_matmul_bias_prepare, math_matmul_bias_run}, /* fused MatMul + Add */
    {"Gemm", "", 7, 8, 0, F3, 0, math_gemm_prepare, math_gemm_run},
    {"Gemm", "", 9, 12, 0, F3 | WIDE_INTS, 0, math_gemm_prepare, math_gemm_run},
    {"Gemm", "", 13, MAX, 0, F4 | WIDE_INTS, 0, math_gemm_prepare, math_gemm_run},
    {"MatMulInteger", "", 10, MAX, 0, BYTE_INTS, 0, math_matmul_integer_prepare, math_matmul_integer_run},
    {"QLinearMatMul", "", 10, MAX, 0, BYTE_INTS, 0, math_qlinear_matmul_prepare, math_qlinear_matmul_run},
    {"Det", "", 11, MAX, 0, F3, 0, math_det_prepare, math_det_run},
    {"Einsum", "", 12, MAX, 0, F3 | ONYX_DT_INTS, 0, math_einsum_prepare, math_einsum_run},

    {"ReduceSum", "", 1, 12, 0, F3 | WIDE_INTS, 0, math_reduce_prepare, math_reduce_run},
    {"ReduceSum", "", 13, MAX, 0, F4 | WIDE_INTS, AXES_INPUT, math_reduce_prepare, math_reduce_run},
    REDUCE_ROWS("ReduceMean"),
    REDUCE_ROWS("ReduceProd"),
    REDUCE_ROWS("ReduceL1"),
    REDUCE_ROWS("ReduceL2"),
    REDUCE_ROWS("ReduceSumSquare"),
    REDUCE_ROWS("ReduceLogSum"),
    REDUCE_ROWS("ReduceLogSumExp"),
    REDUCE_EXTREME_ROWS("ReduceMax"),
    REDUCE_EXTREME_ROWS("ReduceMin"),
    {"ArgMax", "", 1, 12, 0, F3 | ONYX_DT_INTS, 0, math_argmax_prepare, math_argmax_run},
    {"ArgMax", "", 13, MAX, 0, F4 | ONYX_DT_INTS, 0, math_argmax_prepare, math_argmax_run},
    {"ArgMin", "", 1, 12, 0, F3 | ONYX_DT_INTS, 0, math_argmax_prepare, math_argmax_run},
    {"ArgMin", "", 13, MAX, 0, F4 | ONYX_DT_INTS, 0, math_argmax_prepare, math_argmax_run},
    {"CumSum", "", 11, 13, 0, ONYX_DT(FLOAT32) | ONYX_DT(FLOAT64) | WIDE_INTS, AXES_INPUT, math_cumsum_prepare,
     math_cumsum_run},
    {"CumSum", "", 14, MAX, 0, F4 | WIDE_INTS, AXES_INPUT, math_cumsum_prepare, math_cumsum_run},
    {"TopK", "", 1, 9, 0, F3, 0, math_topk_prepare, math_topk_run},
    {"TopK", "", 10, 10, 0, F3, AXES_INPUT, math_topk_prepare, math_topk_run},
    {"TopK", "", 11, MAX, 0, F3 | ONYX_DT_INTS, AXES_INPUT, math_topk_prepare, math_topk_run},

    {"GlobalAveragePool", "", 1, MAX, 0, F3, 0, math_global_pool_prepare, math_global_pool_run},
    {"GlobalMaxPool", "", 1, MAX, 0, F3, 0, math_global_pool_prepare, math_global_pool_run},

    {"Softmax", "", 1, 12, 0, F3, 0, math_softmax_prepare, math_softmax_run},
    {"Softmax", "", 13, MAX, 0, F4, 0, math_softmax_prepare, math_softmax_run},
    {"LogSoftmax", "", 1, 12, 0, F3, 0, math_softmax_prepare, math_softmax_run},
    {"LogSoftmax", "", 13, MAX, 0, F4, 0, math_softmax_prepare, math_softmax_run},
    {"Hardmax", "", 1, 12, 0, F3, 0, math_hardmax_prepare, math_hardmax_run},
    {"Hardmax", "", 13, MAX, 0, F4, 0, math_hardmax_prepare, math_hardmax_run},
    {"InstanceNormalization", "", 6, MAX, 0, F3, 0, math_channel_norm_prepare, math_channel_norm_run},
    {"BatchNormalization", "", 7, 13, 0, F3, 0, math_channel_norm_prepare, math_channel_norm_run},
    {"BatchNormalization", "", 14, MAX, 0, F4, 0, math_channel_norm_prepare, math_channel_norm_run},
    {"MeanVarianceNormalization", "", 9, 12, 0, F3, 0, math_mvn_prepare, math_mvn_run},
    {"MeanVarianceNormalization", "", 13, MAX, 0, F4, 0, math_mvn_prepare, math_mvn_run},
    {"LRN", "", 1, 12, 0, F3, 0, math_lrn_prepare, math_lrn_run},
    {"LRN", "", 13, MAX, 0, F4, 0, math_lrn_prepare, math_lrn_run},
    {"NegativeLogLikelihoodLoss", "", 12, MAX, 0, F3, 0, math_loss_prepare, math_loss_run},
    {"SoftmaxCrossEntropyLoss", "", 12, 12, 0, F3, 0, math_loss_prepare, math_loss_run},
    {"SoftmaxCrossEntropyLoss", "", 13, MAX, 0, F4, 0, math_loss_prepare, math_loss_run},
    {"LayerNormalization", "", 17, MAX, 0, F4, 0, math_layer_norm_prepare, math_layer_norm_run},
    {"RMSNormalization", "", 23, MAX, 0, F4, 0, math_layer_norm_prepare, math_layer_norm_run},
    {"SimplifiedLayerNormalization", "com.microsoft", 1, MAX, 0, F4, 0, math_layer_norm_prepare, math_layer_norm_run},
    {"SkipLayerNormalization", "com.microsoft", 1, MAX, 0, F4, 0, math_skip_norm_prepare, math_skip_norm_run},
    {"ScaleAddSoftmax", "onyx", 1, MAX, 0, F4, 0, math_scale_add_softmax_prepare, math_scale_add_softmax_run},
    {"Attention", "onyx", 1, MAX, 0, ONYX_DT(FLOAT32) | ONYX_DT(FLOAT16) | ONYX_DT(BFLOAT16), 0, math_attention_prepare,
     math_attention_run},
    {"SkipSimplifiedLayerNormalization", "com.microsoft", 1, MAX, 0, F4, 0, math_skip_norm_prepare, math_skip_norm_run},

    {"QuantizeLinear", "", 10, MAX, 0, ONYX_DT(FLOAT32) | ONYX_DT(INT32), 0, math_quantize_prepare, math_quantize_run},
    {"DequantizeLinear", "", 10, MAX, 0, BYTE_INTS | ONYX_DT(INT32), 0, math_dequantize_prepare, math_dequantize_run},
    {"DynamicQuantizeLinear", "", 11, MAX, 0, ONYX_DT(FLOAT32), 0, math_dynamic_quantize_prepare,
     math_dynamic_quantize_run},
    {NULL, NULL, 0, 0, 0, 0, 0, NULL, NULL},
};
