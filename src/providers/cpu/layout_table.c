/*
 * layout_table.c - the CPU provider's table of layout, indexing and shape kernels
 * (onyx_cpu_layout_kernels, declared in cpu_tables.h).
 *
 * One row per op and ONNX opset range where the op's definition changes (ONNX schemas up to
 * opset 18), starting at the version in force at opset 7 (or the op's first version). Kernels
 * read node->opset where the semantics change inside one prepare/run pair (attributes that
 * became inputs, new attributes). host_inputs marks the inputs whose data prepare reads.
 */
#include "providers/cpu/cpu_tables.h"
#include "providers/cpu/layout_kernels.h"

#define MAX ONYX_OPSET_MAX
#define F3 (ONYX_DT(FLOAT32) | ONYX_DT(FLOAT16) | ONYX_DT(FLOAT64))
#define F4 (F3 | ONYX_DT(BFLOAT16))
#define ALL16 ONYX_DT_ALL                        /* every tensor type onyx has (no complex) */
#define ALL15 (ONYX_DT_ALL & ~ONYX_DT(BFLOAT16)) /* the same before opset 13 added bfloat16 */
#define IN(i) (1u << (i))

#define COPY(prepare) prepare, layout_copy_input_run, 0, ONYX_KERNEL_ALIAS_OUTPUT

const onyx_kernel_def onyx_cpu_layout_kernels[] = {
    {"Reshape", "", 5, 12, 0, ALL15, IN(1), COPY(layout_reshape_prepare)},
    {"Reshape", "", 13, 13, 0, ALL16, IN(1), COPY(layout_reshape_prepare)},
    {"Reshape", "", 14, MAX, 0, ALL16, IN(1), COPY(layout_reshape_prepare)},
    {"Flatten", "", 1, 8, 0, F3, 0, COPY(layout_flatten_prepare)},
    {"Flatten", "", 9, 10, 0, ALL15, 0, COPY(layout_flatten_prepare)},
    {"Flatten", "", 11, 12, 0, ALL15, 0, COPY(layout_flatten_prepare)},
    {"Flatten", "", 13, MAX, 0, ALL16, 0, COPY(layout_flatten_prepare)},
    {"Squeeze", "", 1, 10, 0, ALL15, 0, COPY(layout_squeeze_prepare)},
    {"Squeeze", "", 11, 12, 0, ALL15, 0, COPY(layout_squeeze_prepare)},
    {"Squeeze", "", 13, MAX, 0, ALL16, IN(1), COPY(layout_squeeze_prepare)},
    {"Unsqueeze", "", 1, 10, 0, ALL15, 0, COPY(layout_unsqueeze_prepare)},
    {"Unsqueeze", "", 11, 12, 0, ALL15, 0, COPY(layout_unsqueeze_prepare)},
    {"Unsqueeze", "", 13, MAX, 0, ALL16, IN(1), COPY(layout_unsqueeze_prepare)},
    {"Identity", "", 1, 12, 0, ALL15, 0, COPY(layout_identity_prepare)},
    {"Identity", "", 13, 13, 0, ALL16, 0, COPY(layout_identity_prepare)},
    {"Identity", "", 14, 15, 0, ALL16, 0, COPY(layout_identity_prepare)},
    {"Identity", "", 16, MAX, 0, ALL16, 0, COPY(layout_identity_prepare)},
    {"Dropout", "", 7, 9, 0, F3, 0, layout_dropout_prepare, layout_dropout_run},
    {"Dropout", "", 10, 11, 0, F3, 0, layout_dropout_prepare, layout_dropout_run},
    {"Dropout", "", 12, 12, 0, F3, IN(1) | IN(2), layout_dropout_prepare, layout_dropout_run},
    {"Dropout", "", 13, MAX, 0, F4, IN(1) | IN(2), layout_dropout_prepare, layout_dropout_run},
    {"Shape", "", 1, 12, 0, ALL15, 0, layout_shape_prepare, layout_shape_run, IN(0)},
    {"Shape", "", 13, 14, 0, ALL16, 0, layout_shape_prepare, layout_shape_run, IN(0)},
    {"Shape", "", 15, MAX, 0, ALL16, 0, layout_shape_prepare, layout_shape_run, IN(0)},
    {"Size", "", 1, 12, 0, ALL15, 0, layout_size_prepare, layout_size_run, IN(0)},
    {"Size", "", 13, MAX, 0, ALL16, 0, layout_size_prepare, layout_size_run, IN(0)},

    {"Transpose", "", 1, 12, 0, ALL15, 0, layout_transpose_prepare, layout_transpose_run, 0, ONYX_KERNEL_MAY_ALIAS_OUTPUT},
    {"Transpose", "", 13, MAX, 0, ALL16, 0, layout_transpose_prepare, layout_transpose_run, 0, ONYX_KERNEL_MAY_ALIAS_OUTPUT},
    {"Expand", "", 8, 12, 0, ALL15, IN(1), layout_expand_prepare, layout_expand_run},
    {"Expand", "", 13, MAX, 0, ALL16, IN(1), layout_expand_prepare, layout_expand_run},
    {"Tile", "", 6, 12, 0, ALL15, IN(1), layout_tile_prepare, layout_tile_run},
    {"Tile", "", 13, MAX, 0, ALL16, IN(1), layout_tile_prepare, layout_tile_run},
    {"Concat", "", 4, 10, 0, ALL15, 0, layout_concat_prepare, layout_concat_run},
    {"Concat", "", 11, 12, 0, ALL15, 0, layout_concat_prepare, layout_concat_run},
    {"Concat", "", 13, MAX, 0, ALL16, 0, layout_concat_prepare, layout_concat_run},
    {"Split", "", 2, 10, 0, ALL15, 0, layout_split_prepare, layout_split_run},
    {"Split", "", 11, 12, 0, ALL15, 0, layout_split_prepare, layout_split_run},
    {"Split", "", 13, 17, 0, ALL16, IN(1), layout_split_prepare, layout_split_run},
    {"Split", "", 18, MAX, 0, ALL16, IN(1), layout_split_prepare, layout_split_run},
    {"Slice", "", 1, 9, 0, ALL15, 0, layout_slice_prepare, layout_slice_run, 0, ONYX_KERNEL_MAY_ALIAS_OUTPUT},
    {"Slice", "", 10, 10, 0, ALL15, IN(1) | IN(2) | IN(3) | IN(4), layout_slice_prepare, layout_slice_run, 0,
     ONYX_KERNEL_MAY_ALIAS_OUTPUT},
    {"Slice", "", 11, 12, 0, ALL15, IN(1) | IN(2) | IN(3) | IN(4), layout_slice_prepare, layout_slice_run, 0,
     ONYX_KERNEL_MAY_ALIAS_OUTPUT},
    {"Slice", "", 13, MAX, 0, ALL16, IN(1) | IN(2) | IN(3) | IN(4), layout_slice_prepare, layout_slice_run, 0,
     ONYX_KERNEL_MAY_ALIAS_OUTPUT},
    {"Trilu", "", 14, MAX, 0, ALL16, IN(1), layout_trilu_prepare, layout_trilu_run},

    {"Gather", "", 1, 10, 0, ALL15, 0, layout_gather_prepare, layout_gather_run},
    {"Gather", "", 11, 12, 0, ALL15, 0, layout_gather_prepare, layout_gather_run},
    {"Gather", "", 13, MAX, 0, ALL16, 0, layout_gather_prepare, layout_gather_run},
    {"GatherElements", "", 11, 12, 0, ALL15, 0, layout_gather_elements_prepare, layout_gather_elements_run},
    {"GatherElements", "", 13, MAX, 0, ALL16, 0, layout_gather_elements_prepare, layout_gather_elements_run},
    {"GatherND", "", 11, 11, 0, ALL15, 0, layout_gather_nd_prepare, layout_gather_nd_run},
    {"GatherND", "", 12, 12, 0, ALL15, 0, layout_gather_nd_prepare, layout_gather_nd_run},
    {"GatherND", "", 13, MAX, 0, ALL16, 0, layout_gather_nd_prepare, layout_gather_nd_run},
    {"ScatterND", "", 11, 12, 0, ALL15, 0, layout_scatter_nd_prepare, layout_scatter_nd_run},
    {"ScatterND", "", 13, 15, 0, ALL16, 0, layout_scatter_nd_prepare, layout_scatter_nd_run},
    {"ScatterND", "", 16, 17, 0, ALL16, 0, layout_scatter_nd_prepare, layout_scatter_nd_run},
    {"ScatterND", "", 18, MAX, 0, ALL16, 0, layout_scatter_nd_prepare, layout_scatter_nd_run},

    {"Constant", "", 1, 8, -1, F3, 0, layout_constant_prepare, layout_constant_run},
    {"Constant", "", 9, 10, -1, ALL15, 0, layout_constant_prepare, layout_constant_run},
    {"Constant", "", 11, 11, -1, ALL15, 0, layout_constant_prepare, layout_constant_run},
    {"Constant", "", 12, 12, -1, ALL15, 0, layout_constant_prepare, layout_constant_run},
    {"Constant", "", 13, MAX, -1, ALL16, 0, layout_constant_prepare, layout_constant_run},
    {"ConstantOfShape", "", 9, MAX, 0, ONYX_DT(INT64), IN(0), layout_constant_of_shape_prepare,
     layout_constant_of_shape_run},
    {"Range", "", 11, MAX, 0, ONYX_DT(FLOAT32) | ONYX_DT(FLOAT64) | ONYX_DT(INT16) | ONYX_DT(INT32) | ONYX_DT(INT64),
     IN(0) | IN(1) | IN(2), layout_range_prepare, layout_range_run},
    {NULL, NULL, 0, 0, 0, 0, 0, NULL, NULL},
};
