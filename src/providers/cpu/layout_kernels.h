/*
 * layout_kernels.h - prototypes of the CPU layout, indexing and shape kernels (layout.c,
 * gather.c, generate.c) and the strided-copy engine they share. layout_table.c gathers the
 * prepare/run pairs into onyx_cpu_layout_kernels.
 *
 * The plan builders below (perm, split sizes, slice plan, ...) are shared with the CUDA
 * provider's layout kernels (src/providers/cuda/layout.c), which use the same prepare
 * functions and must move exactly the elements the CPU kernels move.
 *
 * Layout ops never look at element values: they move elements of 1, 2, 4, 8 or 16 bytes
 * (STRING elements are onyx_string structs). The runtime hands these kernels STRING outputs
 * that do not own per-element bytes, so copying the onyx_string struct (a shallow copy that
 * shares the bytes with the input) is the right copy for strings too.
 */
#ifndef ONYX_PROVIDERS_CPU_LAYOUT_KERNELS_H
#define ONYX_PROVIDERS_CPU_LAYOUT_KERNELS_H

#include <stdint.h>

#include "core/tensor.h"
#include "providers/kernel.h"

/* Bytes a parallel copy should move before OpenMP threads pay for themselves. */
#define LAYOUT_PARALLEL_BYTES (1 << 18)
#define LAYOUT_COPY_MAX_DIMS (2 * ONYX_MAX_RANK)

/* A strided gather into a contiguous destination: for each index (i_0..i_{rank-1}) of dims,
 * in row-major order, copy `run` contiguous elements from
 * src + (src_offset + sum i_d * src_strides[d]) * elem_size to the next run of dst.
 * Strides are in elements and may be 0 (broadcast) or negative (reversed Slice). */
typedef struct layout_copy {
    int rank;
    int64_t dims[LAYOUT_COPY_MAX_DIMS];
    int64_t src_strides[LAYOUT_COPY_MAX_DIMS];
    int64_t src_offset;
    int64_t run;
    size_t elem_size;
} layout_copy;

/* Drop size-1 dims, merge dims that are contiguous in src, and fold trailing unit-stride dims
 * into run, so the copy moves the longest memcpy runs it can. */
void layout_copy_simplify(layout_copy *c);
/* Execute the copy (after simplify) with up to threads OpenMP threads. */
void layout_copy_execute(const layout_copy *c, void *dst, const void *src, int threads);
/* Copy bytes from src to dst (memmove when they overlap; threaded memcpy chunks when large). */
void layout_copy_bytes(void *dst, const void *src, size_t bytes, int threads);
/* Copy n elements of elem_size bytes (memcpy, or a typed loop for single elements). */
void layout_copy_elements(void *dst, const void *src, int64_t n, size_t elem_size);

/* layout.c */
onyx_status layout_reshape_prepare(onyx_kernel_ctx *ctx);
onyx_status layout_flatten_prepare(onyx_kernel_ctx *ctx);
onyx_status layout_squeeze_prepare(onyx_kernel_ctx *ctx);
onyx_status layout_unsqueeze_prepare(onyx_kernel_ctx *ctx);
onyx_status layout_identity_prepare(onyx_kernel_ctx *ctx);
/* Output 0 = input 0's bytes (Reshape, Flatten, Squeeze, Unsqueeze, Identity). */
onyx_status layout_copy_input_run(onyx_kernel_ctx *ctx);
onyx_status layout_dropout_prepare(onyx_kernel_ctx *ctx);
onyx_status layout_dropout_run(onyx_kernel_ctx *ctx);
onyx_status layout_shape_prepare(onyx_kernel_ctx *ctx);
onyx_status layout_shape_run(onyx_kernel_ctx *ctx);
onyx_status layout_size_prepare(onyx_kernel_ctx *ctx);
onyx_status layout_size_run(onyx_kernel_ctx *ctx);
onyx_status layout_transpose_prepare(onyx_kernel_ctx *ctx);
onyx_status layout_transpose_run(onyx_kernel_ctx *ctx);
onyx_status layout_expand_prepare(onyx_kernel_ctx *ctx);
onyx_status layout_expand_run(onyx_kernel_ctx *ctx);
onyx_status layout_tile_prepare(onyx_kernel_ctx *ctx);
onyx_status layout_tile_run(onyx_kernel_ctx *ctx);
onyx_status layout_concat_prepare(onyx_kernel_ctx *ctx);
onyx_status layout_concat_run(onyx_kernel_ctx *ctx);
onyx_status layout_split_prepare(onyx_kernel_ctx *ctx);
onyx_status layout_split_run(onyx_kernel_ctx *ctx);
onyx_status layout_slice_prepare(onyx_kernel_ctx *ctx);
onyx_status layout_slice_run(onyx_kernel_ctx *ctx);
onyx_status layout_trilu_prepare(onyx_kernel_ctx *ctx);
onyx_status layout_trilu_run(onyx_kernel_ctx *ctx);

/* Plans shared by prepare, run and the CUDA kernels (layout.c). */
#define LAYOUT_SPLIT_MAX_OUTPUTS 1024
/* Transpose's perm attribute (reversed dims when absent), checked to be a permutation. */
onyx_status layout_transpose_perm(const onyx_kernel_ctx *ctx, int rank, int *perm);
/* The size of each of Split's outputs along axis (sizes has ctx->n_outputs entries). */
onyx_status layout_split_sizes(const onyx_kernel_ctx *ctx, int axis, int64_t *sizes);
/* Slice as a strided read: output dim d takes count[d] elements from start[d] by step[d]. */
typedef struct layout_slice_plan {
    int64_t start[ONYX_MAX_RANK], step[ONYX_MAX_RANK], count[ONYX_MAX_RANK];
} layout_slice_plan;
onyx_status layout_slice_plan_build(const onyx_kernel_ctx *ctx, layout_slice_plan *p);
/* Trilu's diagonal offset k (input 1; 0 when absent). */
onyx_status layout_trilu_k(const onyx_kernel_ctx *ctx, int64_t *k);

/* gather.c */
onyx_status layout_gather_prepare(onyx_kernel_ctx *ctx);
onyx_status layout_gather_run(onyx_kernel_ctx *ctx);
onyx_status layout_gather_elements_prepare(onyx_kernel_ctx *ctx);
onyx_status layout_gather_elements_run(onyx_kernel_ctx *ctx);
onyx_status layout_gather_nd_prepare(onyx_kernel_ctx *ctx);
onyx_status layout_gather_nd_run(onyx_kernel_ctx *ctx);
onyx_status layout_scatter_nd_prepare(onyx_kernel_ctx *ctx);
onyx_status layout_scatter_nd_run(onyx_kernel_ctx *ctx);

/* GatherND: batches x tuples k-tuples of indices, each selecting a slice of data. */
typedef struct layout_gather_nd_plan {
    int batch_dims, k;
    int64_t batches, tuples, slice; /* tuples per batch, elements per gathered slice */
} layout_gather_nd_plan;
/* The plan and the output shape (dims, rank) of a GatherND node. */
onyx_status layout_gather_nd_plan_build(const onyx_kernel_ctx *ctx, layout_gather_nd_plan *p, int64_t *dims,
                                        int *rank);
typedef enum layout_scatter_reduction {
    LAYOUT_SCATTER_NONE,
    LAYOUT_SCATTER_ADD,
    LAYOUT_SCATTER_MUL,
    LAYOUT_SCATTER_MAX,
    LAYOUT_SCATTER_MIN
} layout_scatter_reduction;
/* ScatterND's reduction attribute for the node's opset ("none" before 16). */
onyx_status layout_scatter_reduction_get(const onyx_kernel_ctx *ctx, layout_scatter_reduction *out);

/* generate.c */
onyx_status layout_constant_prepare(onyx_kernel_ctx *ctx);
onyx_status layout_constant_run(onyx_kernel_ctx *ctx);
onyx_status layout_constant_of_shape_prepare(onyx_kernel_ctx *ctx);
onyx_status layout_constant_of_shape_run(onyx_kernel_ctx *ctx);
onyx_status layout_range_prepare(onyx_kernel_ctx *ctx);
onyx_status layout_range_run(onyx_kernel_ctx *ctx);

/* Where a Constant's value comes from: dtype, shape and a pointer to contiguous host elements
 * (the node's attribute). A lone value_string is returned through *scalar_string (its data
 * pointer then points there). */
typedef struct layout_constant_source {
    onyx_dtype dtype;
    int rank;
    int64_t dims[ONYX_MAX_RANK];
    const void *data;
    onyx_string scalar_string;
} layout_constant_source;
onyx_status layout_constant_source_get(const onyx_kernel_ctx *ctx, layout_constant_source *src);

#endif
