/*
 * layout_launch.h - launchers of the CUDA layout kernels (layout.cu), called by layout.c.
 *
 * Plain C types only, so the header compiles as C11 (layout.c) and as C++ (layout.cu). Every
 * launcher queues work on the given stream, never synchronises, and returns cudaGetLastError()
 * after its last launch. Pointers are device pointers unless a comment says otherwise; sizes and
 * strides are int64 and counted in elements of elem_size bytes (1, 2, 4 or 8) unless named
 * *_bytes. Zero-size work launches nothing.
 *
 * Index inputs (Gather, GatherElements, GatherND, ScatterND) may be out of range: a kernel cannot
 * report that without a synchronisation, so the kernels clamp an index to its axis after the
 * ONNX negative-index rule (the CPU provider reports such indices as errors).
 */
#ifndef ONYX_PROVIDERS_CUDA_LAYOUT_LAUNCH_H
#define ONYX_PROVIDERS_CUDA_LAYOUT_LAUNCH_H

#include <stddef.h>
#include <stdint.h>

#include <cuda_runtime_api.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Dims of a strided copy: twice onyx's maximum rank (Tile reads each dim as a pair). */
#define ONYX_CUDA_COPY_MAX_DIMS 24

/* A strided gather into a contiguous destination, the CUDA twin of the CPU's layout_copy: for
 * each index (i_0..i_{rank-1}) of dims in row-major order, copy `run` contiguous elements from
 * src + src_offset + sum_d i_d * src_strides[d] to the next run of dst. Strides may be 0
 * (broadcast) or negative (reversed Slice). Built by the CPU's layout_copy_simplify. */
typedef struct onyx_cuda_copy_plan {
    int rank;
    int64_t dims[ONYX_CUDA_COPY_MAX_DIMS];
    int64_t src_strides[ONYX_CUDA_COPY_MAX_DIMS];
    int64_t src_offset;
    int64_t run;
    size_t elem_size;
} onyx_cuda_copy_plan;

/* Execute a copy plan: one memcpy when the plan is a single run, a tiled shared-memory transpose
 * when the source's unit-stride dim is not the innermost one, a vectorised strided gather
 * otherwise. */
cudaError_t onyx_cuda_copy_strided(void *dst, const void *src, const onyx_cuda_copy_plan *plan,
                                   cudaStream_t stream);

/* Copy rows x row_bytes from src (rows src_pitch bytes apart) to dst (rows dst_pitch bytes
 * apart): one input of a Concat into its slice of the output, or one output of a Split. */
typedef struct onyx_cuda_block_copy {
    const void *src;
    void *dst;
    int64_t rows, row_bytes, src_pitch, dst_pitch;
} onyx_cuda_block_copy;

/* Run n block copies (any n; batched several to a launch). */
cudaError_t onyx_cuda_copy_blocks(const onyx_cuda_block_copy *blocks, int n, cudaStream_t stream);

/* Gather along an axis: data is (outer, axis_dim, inner), indices is (n_idx) of int32 or int64
 * (index_is_int64), out is (outer, n_idx, inner). */
cudaError_t onyx_cuda_gather(void *out, const void *data, const void *indices, int index_is_int64, int64_t outer,
                             int64_t axis_dim, int64_t n_idx, int64_t inner, size_t elem_size, cudaStream_t stream);

/* GatherElements: out has the shape of indices (rank dims idx_dims); out[i] = data at i with the
 * axis coordinate replaced by indices[i]. data_strides are data's contiguous strides, axis_dim
 * its size along axis. */
cudaError_t onyx_cuda_gather_elements(void *out, const void *data, const void *indices, int index_is_int64,
                                      int rank, const int64_t *idx_dims, const int64_t *data_strides, int axis,
                                      int64_t axis_dim, size_t elem_size, cudaStream_t stream);

/* GatherND: indices (int64) hold batches x tuples k-tuples; tuple t of batch b selects the slice
 * data[b][i_0]...[i_{k-1}] of `slice` elements (batch_stride elements per batch of data).
 * axis_dims and axis_strides (k entries) are data's sizes and strides of the indexed axes. */
cudaError_t onyx_cuda_gather_nd(void *out, const void *data, const int64_t *indices, int64_t batches,
                                int64_t tuples, int k, int64_t slice, int64_t batch_stride,
                                const int64_t *axis_dims, const int64_t *axis_strides, size_t elem_size,
                                cudaStream_t stream);

/* ScatterND's element types and reductions. Type codes are the ONNX TensorProto codes, which
 * onyx_dtype uses too. */
enum {
    ONYX_CUDA_TYPE_FLOAT32 = 1,
    ONYX_CUDA_TYPE_UINT8 = 2,
    ONYX_CUDA_TYPE_INT8 = 3,
    ONYX_CUDA_TYPE_UINT16 = 4,
    ONYX_CUDA_TYPE_INT16 = 5,
    ONYX_CUDA_TYPE_INT32 = 6,
    ONYX_CUDA_TYPE_INT64 = 7,
    ONYX_CUDA_TYPE_BOOL = 9,
    ONYX_CUDA_TYPE_FLOAT16 = 10,
    ONYX_CUDA_TYPE_FLOAT64 = 11,
    ONYX_CUDA_TYPE_UINT32 = 12,
    ONYX_CUDA_TYPE_UINT64 = 13,
    ONYX_CUDA_TYPE_BFLOAT16 = 16
};
enum {
    ONYX_CUDA_SCATTER_NONE,
    ONYX_CUDA_SCATTER_ADD,
    ONYX_CUDA_SCATTER_MUL,
    ONYX_CUDA_SCATTER_MAX,
    ONYX_CUDA_SCATTER_MIN
};

/* ScatterND into out, which already holds a copy of data: indices (int64) hold `tuples`
 * k-tuples; tuple t writes (or combines with `reduction`) the `slice` elements of updates[t] at
 * out[i_0]...[i_{k-1}]. axis_dims and axis_strides (k entries) are out's leading sizes and
 * strides. Duplicate tuples: with reduction none one of the updates wins (ONNX leaves this
 * undefined; the CPU keeps the last); reductions combine atomically in any order. */
cudaError_t onyx_cuda_scatter_nd(void *out, const int64_t *indices, const void *updates, int64_t tuples, int k,
                                 int64_t slice, const int64_t *axis_dims, const int64_t *axis_strides, int type,
                                 int reduction, cudaStream_t stream);

/* Trilu on (batch, rows, cols) matrices: keep j >= i + k (upper) or j <= i + k (lower), zero
 * the rest. */
cudaError_t onyx_cuda_trilu(void *out, const void *in, int64_t batch, int64_t rows, int64_t cols, int64_t k,
                            int upper, size_t elem_size, cudaStream_t stream);

/* Fill n elements of elem_size bytes with the low elem_size bytes of value_bits (little-endian
 * bit pattern of one element). */
cudaError_t onyx_cuda_fill(void *out, int64_t n, uint64_t value_bits, size_t elem_size, cudaStream_t stream);

/* Range: out[i] = start + i * delta, rounded as the CPU kernel computes it (float32 and float64
 * in their own precision without contraction; integers in int64, truncated to elem_size bytes
 * for int16/int32). */
cudaError_t onyx_cuda_range_f32(float *out, int64_t n, float start, float delta, cudaStream_t stream);
cudaError_t onyx_cuda_range_f64(double *out, int64_t n, double start, double delta, cudaStream_t stream);
cudaError_t onyx_cuda_range_int(void *out, int64_t n, int64_t start, int64_t delta, size_t elem_size,
                                cudaStream_t stream);

#ifdef __cplusplus
}
#endif

#endif
