/*
 * tensor.h - the tensor struct behind the public onyx_tensor handle, and shape helpers.
 *
 * A tensor is a dtype, a shape of at most ONYX_MAX_RANK dims, and a data pointer on a device.
 * Dims live inside the struct so a kernel's prepare step can set output shapes without
 * allocating. owns_data says whether destroying the tensor frees data (and, for STRING
 * tensors, each element's bytes).
 */
#ifndef ONYX_CORE_TENSOR_H
#define ONYX_CORE_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#include "onyx/onyx.h"

struct onyx_tensor {
    onyx_dtype dtype;
    int rank;
    int64_t dims[ONYX_MAX_RANK];
    void *data;
    size_t nbytes; /* numel * element size */
    onyx_device_type device;
    int device_id;
    int owns_data;
    /* When set, releasing owned data calls release(release_ctx, t) instead of freeing host
     * memory: device memory from a session's arena, DLPack tensors, cudaMalloc'd buffers. */
    void (*release)(void *release_ctx, onyx_tensor *t);
    void *release_ctx;
};

/* Product of dims; -1 if a dim is negative or the product overflows int64. */
int64_t onyx_shape_numel(const int64_t *dims, int rank);
/* Set dtype and shape of t (data untouched) and compute nbytes. Errors on rank > ONYX_MAX_RANK,
 * negative dims or byte-size overflow; what names the tensor in the message. */
onyx_status onyx_tensor_set_shape(onyx_tensor *t, onyx_dtype dtype, const int64_t *dims, int rank,
                                  const char *what);
/* A tensor value in place (stack or embedded): no data, host device. */
void onyx_tensor_init(onyx_tensor *t);
/* Allocate host memory the tensor owns for its current shape (zero-filled). */
onyx_status onyx_tensor_alloc_data(onyx_tensor *t);
/* Free owned data (strings included) and reset to an empty tensor. */
void onyx_tensor_release(onyx_tensor *t);
/* A new heap tensor with owned zeroed data. */
onyx_status onyx_tensor_new(onyx_dtype dtype, const int64_t *dims, int rank, onyx_tensor **out);
/* Deep copy of a host tensor into a new owned heap tensor. */
onyx_status onyx_tensor_clone(const onyx_tensor *src, onyx_tensor **out);
/* Deep copy of src's bytes into dst, whose shape and dtype must already match; strings are
 * duplicated only when dst owns its data. */
onyx_status onyx_tensor_copy_data(onyx_tensor *dst, const onyx_tensor *src);
/* "float32[2,3,4]" into buf. */
const char *onyx_tensor_describe(const onyx_tensor *t, char *buf, size_t size);
const char *onyx_shape_describe(const int64_t *dims, int rank, char *buf, size_t size);

/* NumPy broadcasting of two shapes into out_dims/out_rank. Returns 0, or -1 if incompatible. */
int onyx_broadcast_shape(const int64_t *a, int a_rank, const int64_t *b, int b_rank,
                         int64_t *out_dims, int *out_rank);
/* Element strides of an input of shape in (rank in_rank) read as the broadcast shape out
 * (rank out_rank >= in_rank): broadcast dims get stride 0. strides has out_rank entries. */
void onyx_broadcast_strides(const int64_t *in, int in_rank, const int64_t *out, int out_rank,
                            int64_t *strides);
/* Row-major contiguous strides in elements. */
void onyx_contiguous_strides(const int64_t *dims, int rank, int64_t *strides);

/* Reading scalars and 1-D integer tensors that steer shapes (Reshape's shape, Slice's starts):
 * accept INT32 and INT64 host tensors. */
onyx_status onyx_tensor_read_ints(const onyx_tensor *t, int64_t *out, int capacity, int *count,
                                  const char *what);
/* Element i of a numeric host tensor as double / int64 (any numeric dtype, bool included). */
double onyx_tensor_get_f64(const onyx_tensor *t, int64_t i);
int64_t onyx_tensor_get_i64(const onyx_tensor *t, int64_t i);

#endif
