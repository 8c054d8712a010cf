/*
 * tensor.c - tensor lifetime, shapes, broadcasting and the public tensor API (see tensor.h).
 */
#include "core/tensor.h"

#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/dtype.h"
#include "core/status.h"

int64_t onyx_shape_numel(const int64_t *dims, int rank) {
    int64_t n = 1;
    for (int i = 0; i < rank; i++) {
        if (dims[i] < 0) return -1;
        if (dims[i] != 0 && n > INT64_MAX / dims[i]) return -1;
        n *= dims[i];
    }
    return n;
}

void onyx_tensor_init(onyx_tensor *t) {
    memset(t, 0, sizeof *t);
    t->device = ONYX_DEVICE_CPU;
}

onyx_status onyx_tensor_set_shape(onyx_tensor *t, onyx_dtype dtype, const int64_t *dims, int rank,
                                  const char *what) {
    if (!what) what = "tensor";
    if (rank < 0 || rank > ONYX_MAX_RANK)
        return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "%s has rank %d; onyx supports ranks 0 to %d",
                          what, rank, ONYX_MAX_RANK);
    if (!onyx_dtype_valid((int)dtype))
        return onyx_error(ONYX_ERR_INVALID_MODEL, "%s has unknown dtype code %d", what, (int)dtype);
    int64_t numel = onyx_shape_numel(dims, rank);
    char buf[256];
    if (numel < 0)
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "%s has an invalid shape %s (negative or too large)",
                          what, onyx_shape_describe(dims, rank, buf, sizeof buf));
    size_t bytes;
    if ((uint64_t)numel > SIZE_MAX || onyx_mul_size((size_t)numel, onyx_dtype_size(dtype), &bytes))
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "%s of shape %s is too large", what,
                          onyx_shape_describe(dims, rank, buf, sizeof buf));
    t->dtype = dtype;
    t->rank = rank;
    if (rank) memmove(t->dims, dims, (size_t)rank * sizeof(int64_t));
    t->nbytes = bytes;
    return ONYX_OK;
}

onyx_status onyx_tensor_alloc_data(onyx_tensor *t) {
    void *p = onyx_malloc_aligned(t->nbytes);
    if (!p) return ONYX_ERR_OUT_OF_MEMORY;
    memset(p, 0, t->nbytes);
    t->data = p;
    t->owns_data = 1;
    t->device = ONYX_DEVICE_CPU;
    return ONYX_OK;
}

void onyx_tensor_release(onyx_tensor *t) {
    if (t->owns_data && t->release) {
        t->release(t->release_ctx, t);
    } else if (t->owns_data && t->data) {
        if (t->dtype == ONYX_DTYPE_STRING) {
            onyx_string *s = t->data;
            int64_t n = onyx_shape_numel(t->dims, t->rank);
            for (int64_t i = 0; i < n; i++) onyx_free((void *)s[i].data);
        }
        onyx_free_aligned(t->data);
    }
    onyx_tensor_init(t);
}

onyx_status onyx_tensor_new(onyx_dtype dtype, const int64_t *dims, int rank, onyx_tensor **out) {
    *out = NULL;
    onyx_tensor *t = onyx_malloc(sizeof *t);
    if (!t) return ONYX_ERR_OUT_OF_MEMORY;
    onyx_tensor_init(t);
    onyx_status st = onyx_tensor_set_shape(t, dtype, dims, rank, "tensor");
    if (st == ONYX_OK) st = onyx_tensor_alloc_data(t);
    if (st != ONYX_OK) {
        onyx_free(t);
        return st;
    }
    *out = t;
    return ONYX_OK;
}

onyx_status onyx_tensor_copy_data(onyx_tensor *dst, const onyx_tensor *src) {
    if (dst->dtype != src->dtype || dst->nbytes != src->nbytes)
        return onyx_error(ONYX_ERR_RUNTIME, "internal: tensor copy between different shapes");
    if (src->dtype == ONYX_DTYPE_STRING && dst->owns_data) {
        const onyx_string *s = src->data;
        onyx_string *d = dst->data;
        int64_t n = onyx_shape_numel(src->dims, src->rank);
        for (int64_t i = 0; i < n; i++) {
            char *copy = onyx_strndup(s[i].data ? s[i].data : "", s[i].size);
            if (!copy) return ONYX_ERR_OUT_OF_MEMORY;
            onyx_free((void *)d[i].data);
            d[i].data = copy;
            d[i].size = s[i].size;
        }
        return ONYX_OK;
    }
    if (src->nbytes) memcpy(dst->data, src->data, src->nbytes);
    return ONYX_OK;
}

onyx_status onyx_tensor_clone(const onyx_tensor *src, onyx_tensor **out) {
    onyx_tensor *t;
    ONYX_TRY(onyx_tensor_new(src->dtype, src->dims, src->rank, &t));
    onyx_status st = onyx_tensor_copy_data(t, src);
    if (st != ONYX_OK) {
        onyx_tensor_destroy(t);
        *out = NULL;
        return st;
    }
    *out = t;
    return ONYX_OK;
}

const char *onyx_shape_describe(const int64_t *dims, int rank, char *buf, size_t size) {
    size_t used = 0;
    int n = snprintf(buf, size, "[");
    if (n > 0) used = (size_t)n < size ? (size_t)n : size;
    for (int i = 0; i < rank && used < size; i++) {
        n = snprintf(buf + used, size - used, i ? ",%lld" : "%lld", (long long)dims[i]);
        if (n > 0) used += (size_t)n < size - used ? (size_t)n : size - used;
    }
    if (used < size) snprintf(buf + used, size - used, "]");
    return buf;
}

const char *onyx_tensor_describe(const onyx_tensor *t, char *buf, size_t size) {
    char shape[200];
    snprintf(buf, size, "%s%s", onyx_dtype_name(t->dtype), onyx_shape_describe(t->dims, t->rank, shape, sizeof shape));
    return buf;
}

int onyx_broadcast_shape(const int64_t *a, int a_rank, const int64_t *b, int b_rank,
                         int64_t *out_dims, int *out_rank) {
    int rank = a_rank > b_rank ? a_rank : b_rank;
    if (rank > ONYX_MAX_RANK) return -1;
    int64_t tmp[ONYX_MAX_RANK];
    for (int i = 0; i < rank; i++) {
        int ai = i - (rank - a_rank), bi = i - (rank - b_rank);
        int64_t da = ai >= 0 ? a[ai] : 1, db = bi >= 0 ? b[bi] : 1;
        if (da == db || db == 1) tmp[i] = da;
        else if (da == 1) tmp[i] = db;
        else return -1;
    }
    memcpy(out_dims, tmp, (size_t)rank * sizeof(int64_t));
    *out_rank = rank;
    return 0;
}

void onyx_contiguous_strides(const int64_t *dims, int rank, int64_t *strides) {
    int64_t s = 1;
    for (int i = rank - 1; i >= 0; i--) {
        strides[i] = s;
        s *= dims[i];
    }
}

void onyx_broadcast_strides(const int64_t *in, int in_rank, const int64_t *out, int out_rank,
                            int64_t *strides) {
    int64_t contiguous[ONYX_MAX_RANK];
    onyx_contiguous_strides(in, in_rank, contiguous);
    for (int i = 0; i < out_rank; i++) {
        int ii = i - (out_rank - in_rank);
        strides[i] = (ii < 0 || (in[ii] == 1 && out[i] != 1)) ? 0 : contiguous[ii];
    }
}

onyx_status onyx_tensor_read_ints(const onyx_tensor *t, int64_t *out, int capacity, int *count,
                                  const char *what) {
    if (t->dtype != ONYX_DTYPE_INT64 && t->dtype != ONYX_DTYPE_INT32)
        return onyx_error(ONYX_ERR_INVALID_MODEL, "%s must be int64 or int32, got %s", what,
                          onyx_dtype_name(t->dtype));
    if (t->device != ONYX_DEVICE_CPU)
        return onyx_error(ONYX_ERR_RUNTIME, "internal: %s must be on the host", what);
    int64_t n = onyx_shape_numel(t->dims, t->rank);
    if (t->rank > 1)
        return onyx_error(ONYX_ERR_INVALID_MODEL, "%s must be a scalar or 1-D, got rank %d", what, t->rank);
    if (n > capacity)
        return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "%s has %lld values; at most %d are supported",
                          what, (long long)n, capacity);
    for (int64_t i = 0; i < n; i++)
        out[i] = t->dtype == ONYX_DTYPE_INT64 ? ((const int64_t *)t->data)[i] : ((const int32_t *)t->data)[i];
    *count = (int)n;
    return ONYX_OK;
}

double onyx_tensor_get_f64(const onyx_tensor *t, int64_t i) {
    const void *d = t->data;
    switch (t->dtype) {
    case ONYX_DTYPE_FLOAT32: return ((const float *)d)[i];
    case ONYX_DTYPE_FLOAT64: return ((const double *)d)[i];
    case ONYX_DTYPE_FLOAT16: return onyx_f16_to_f32(((const uint16_t *)d)[i]);
    case ONYX_DTYPE_BFLOAT16: return onyx_bf16_to_f32(((const uint16_t *)d)[i]);
    case ONYX_DTYPE_INT8: return ((const int8_t *)d)[i];
    case ONYX_DTYPE_INT16: return ((const int16_t *)d)[i];
    case ONYX_DTYPE_INT32: return ((const int32_t *)d)[i];
    case ONYX_DTYPE_INT64: return (double)((const int64_t *)d)[i];
    case ONYX_DTYPE_UINT8: case ONYX_DTYPE_BOOL: return ((const uint8_t *)d)[i];
    case ONYX_DTYPE_UINT16: return ((const uint16_t *)d)[i];
    case ONYX_DTYPE_UINT32: return ((const uint32_t *)d)[i];
    case ONYX_DTYPE_UINT64: return (double)((const uint64_t *)d)[i];
    default: return 0.0;
    }
}

int64_t onyx_tensor_get_i64(const onyx_tensor *t, int64_t i) {
    const void *d = t->data;
    switch (t->dtype) {
    case ONYX_DTYPE_INT8: return ((const int8_t *)d)[i];
    case ONYX_DTYPE_INT16: return ((const int16_t *)d)[i];
    case ONYX_DTYPE_INT32: return ((const int32_t *)d)[i];
    case ONYX_DTYPE_INT64: return ((const int64_t *)d)[i];
    case ONYX_DTYPE_UINT8: case ONYX_DTYPE_BOOL: return ((const uint8_t *)d)[i];
    case ONYX_DTYPE_UINT16: return ((const uint16_t *)d)[i];
    case ONYX_DTYPE_UINT32: return ((const uint32_t *)d)[i];
    case ONYX_DTYPE_UINT64: return (int64_t)((const uint64_t *)d)[i];
    default: return (int64_t)onyx_tensor_get_f64(t, i);
    }
}

/* ---- public API ---- */

onyx_status onyx_tensor_create(onyx_dtype dtype, const int64_t *dims, size_t rank, onyx_tensor **out) {
    onyx_error_clear();
    if (!out) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "onyx_tensor_create: out is NULL");
    *out = NULL;
    if (rank && !dims) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "onyx_tensor_create: dims is NULL");
    if (rank > ONYX_MAX_RANK)
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "onyx_tensor_create: rank %zu exceeds %d", rank, ONYX_MAX_RANK);
    return onyx_tensor_new(dtype, dims, (int)rank, out);
}

onyx_status onyx_tensor_create_borrowed(onyx_dtype dtype, const int64_t *dims, size_t rank,
                                        void *data, size_t data_bytes, onyx_tensor **out) {
    onyx_error_clear();
    if (!out) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "onyx_tensor_create_borrowed: out is NULL");
    *out = NULL;
    if (rank && !dims) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "onyx_tensor_create_borrowed: dims is NULL");
    if (rank > ONYX_MAX_RANK)
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "onyx_tensor_create_borrowed: rank %zu exceeds %d", rank, ONYX_MAX_RANK);
    if (dtype == ONYX_DTYPE_STRING)
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "onyx_tensor_create_borrowed: STRING tensors must own their data");
    onyx_tensor probe;
    onyx_tensor_init(&probe);
    ONYX_TRY(onyx_tensor_set_shape(&probe, dtype, dims, (int)rank, "borrowed tensor"));
    if (probe.nbytes > data_bytes)
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT,
                          "onyx_tensor_create_borrowed: shape needs %zu bytes but the buffer has %zu",
                          probe.nbytes, data_bytes);
    if (probe.nbytes && !data) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "onyx_tensor_create_borrowed: data is NULL");
    onyx_tensor *t = onyx_malloc(sizeof *t);
    if (!t) return ONYX_ERR_OUT_OF_MEMORY;
    *t = probe;
    t->data = data;
    *out = t;
    return ONYX_OK;
}

void onyx_tensor_destroy(onyx_tensor *t) {
    if (!t) return;
    onyx_tensor_release(t);
    onyx_free(t);
}

onyx_dtype onyx_tensor_dtype(const onyx_tensor *t) { return t ? t->dtype : ONYX_DTYPE_UNDEFINED; }
size_t onyx_tensor_rank(const onyx_tensor *t) { return t ? (size_t)t->rank : 0; }
const int64_t *onyx_tensor_dims(const onyx_tensor *t) { return t ? t->dims : NULL; }
int64_t onyx_tensor_numel(const onyx_tensor *t) { return t ? onyx_shape_numel(t->dims, t->rank) : 0; }
size_t onyx_tensor_nbytes(const onyx_tensor *t) { return t ? t->nbytes : 0; }
void *onyx_tensor_data(onyx_tensor *t) { return t ? t->data : NULL; }
onyx_device_type onyx_tensor_device(const onyx_tensor *t) { return t ? t->device : ONYX_DEVICE_CPU; }
int onyx_tensor_device_id(const onyx_tensor *t) { return t ? t->device_id : 0; }

onyx_status onyx_tensor_set_string(onyx_tensor *t, int64_t index, const char *bytes, size_t size) {
    onyx_error_clear();
    if (!t || t->dtype != ONYX_DTYPE_STRING || !t->owns_data)
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "onyx_tensor_set_string: not an owned STRING tensor");
    if (index < 0 || index >= onyx_shape_numel(t->dims, t->rank))
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "onyx_tensor_set_string: index %lld out of range", (long long)index);
    if (size && !bytes) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "onyx_tensor_set_string: bytes is NULL");
    char *copy = onyx_strndup(size ? bytes : "", size);
    if (!copy) return ONYX_ERR_OUT_OF_MEMORY;
    onyx_string *s = (onyx_string *)t->data + index;
    onyx_free((void *)s->data);
    s->data = copy;
    s->size = size;
    return ONYX_OK;
}
