/*
 * tensor_device.c - the public tensor calls that involve devices: borrowed device tensors,
 * copies to the host, and DLPack exchange (dlpack/dlpack.h from Debian's libdlpack-dev, ABI 0.6).
 */
#include <dlpack/dlpack.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "core/tensor.h"
#include "providers/provider.h"

/* DLPack 0.8 added kDLBool = 6 (one byte per element); PyTorch exports bool tensors with it. */
#define ONYX_DL_BOOL 6

onyx_status onyx_tensor_create_borrowed_on(onyx_dtype dtype, const int64_t *dims, size_t rank, void *data,
                                           size_t data_bytes, onyx_device_type device, int device_id,
                                           onyx_tensor **out) {
    if (out) *out = NULL;
    if (device != ONYX_DEVICE_CPU && device != ONYX_DEVICE_CUDA)
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "onyx_tensor_create_borrowed_on: unknown device %d", (int)device);
    if (device_id < 0)
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "onyx_tensor_create_borrowed_on: device_id %d is negative", device_id);
    ONYX_TRY(onyx_tensor_create_borrowed(dtype, dims, rank, data, data_bytes, out));
    (*out)->device = device;
    (*out)->device_id = device_id;
    return ONYX_OK;
}

onyx_status onyx_tensor_to_host(const onyx_tensor *t, onyx_tensor **out) {
    onyx_error_clear();
    if (!out) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "onyx_tensor_to_host: out is NULL");
    *out = NULL;
    if (!t) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "onyx_tensor_to_host: tensor is NULL");
    if (t->device == ONYX_DEVICE_CPU) return onyx_tensor_clone(t, out);
#ifdef ONYX_HAVE_CUDA
    ONYX_TRY(onyx_tensor_new(t->dtype, t->dims, t->rank, out));
    onyx_status st = onyx_cuda_copy_to_host((*out)->data, t->data, t->nbytes);
    if (st != ONYX_OK) {
        onyx_tensor_destroy(*out);
        *out = NULL;
    }
    return st;
#else
    return onyx_error(ONYX_ERR_NO_PROVIDER, "onyx_tensor_to_host: the tensor is on a GPU, but onyx was built without CUDA");
#endif
}

/* ---- DLPack ---- */

static onyx_status dtype_from_dlpack(DLDataType t, onyx_dtype *out) {
    *out = ONYX_DTYPE_UNDEFINED;
    if (t.lanes != 1) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "DLPack tensor has %u lanes; onyx takes 1", t.lanes);
    switch (t.code) {
    case kDLFloat: *out = t.bits == 32 ? ONYX_DTYPE_FLOAT32 : t.bits == 16 ? ONYX_DTYPE_FLOAT16 : t.bits == 64 ? ONYX_DTYPE_FLOAT64 : 0; break;
    case kDLBfloat: *out = t.bits == 16 ? ONYX_DTYPE_BFLOAT16 : 0; break;
    case kDLInt:
        *out = t.bits == 8 ? ONYX_DTYPE_INT8 : t.bits == 16 ? ONYX_DTYPE_INT16 : t.bits == 32 ? ONYX_DTYPE_INT32
             : t.bits == 64 ? ONYX_DTYPE_INT64 : 0;
        break;
    case kDLUInt:
        *out = t.bits == 8 ? ONYX_DTYPE_UINT8 : t.bits == 16 ? ONYX_DTYPE_UINT16 : t.bits == 32 ? ONYX_DTYPE_UINT32
             : t.bits == 64 ? ONYX_DTYPE_UINT64 : 0;
        break;
    case ONYX_DL_BOOL: *out = t.bits == 8 ? ONYX_DTYPE_BOOL : 0; break;
    default: break;
    }
    if (*out == ONYX_DTYPE_UNDEFINED)
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "DLPack dtype (code %u, %u bits) has no onyx dtype", t.code, t.bits);
    return ONYX_OK;
}

static DLDataType dtype_to_dlpack(onyx_dtype d) {
    DLDataType t = {kDLFloat, 32, 1};
    switch (d) {
    case ONYX_DTYPE_FLOAT32: break;
    case ONYX_DTYPE_FLOAT16: t.bits = 16; break;
    case ONYX_DTYPE_FLOAT64: t.bits = 64; break;
    case ONYX_DTYPE_BFLOAT16: t.code = kDLBfloat; t.bits = 16; break;
    case ONYX_DTYPE_INT8: t.code = kDLInt; t.bits = 8; break;
    case ONYX_DTYPE_INT16: t.code = kDLInt; t.bits = 16; break;
    case ONYX_DTYPE_INT32: t.code = kDLInt; t.bits = 32; break;
    case ONYX_DTYPE_INT64: t.code = kDLInt; t.bits = 64; break;
    case ONYX_DTYPE_UINT8: t.code = kDLUInt; t.bits = 8; break;
    case ONYX_DTYPE_UINT16: t.code = kDLUInt; t.bits = 16; break;
    case ONYX_DTYPE_UINT32: t.code = kDLUInt; t.bits = 32; break;
    case ONYX_DTYPE_UINT64: t.code = kDLUInt; t.bits = 64; break;
    case ONYX_DTYPE_BOOL: t.code = ONYX_DL_BOOL; t.bits = 8; break;
    default: t.bits = 0; break;
    }
    return t;
}

static void release_dlpack(void *ctx, onyx_tensor *t) {
    DLManagedTensor *m = ctx;
    if (m && m->deleter) m->deleter(m);
}

onyx_status onyx_tensor_from_dlpack(struct DLManagedTensor *m, onyx_tensor **out) {
    onyx_error_clear();
    if (!out) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "onyx_tensor_from_dlpack: out is NULL");
    *out = NULL;
    if (!m) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "onyx_tensor_from_dlpack: tensor is NULL");
    const DLTensor *dl = &m->dl_tensor;
    onyx_status st = ONYX_OK;
    onyx_dtype dtype = ONYX_DTYPE_UNDEFINED;
    onyx_device_type device = ONYX_DEVICE_CPU;
    if (dl->device.device_type == kDLCUDA) device = ONYX_DEVICE_CUDA;
    else if (dl->device.device_type != kDLCPU)
        st = onyx_error(ONYX_ERR_INVALID_ARGUMENT, "DLPack tensor is on device type %d; onyx takes kDLCPU and kDLCUDA",
                        (int)dl->device.device_type);
    if (st == ONYX_OK && (dl->ndim < 0 || dl->ndim > ONYX_MAX_RANK))
        st = onyx_error(ONYX_ERR_INVALID_ARGUMENT, "DLPack tensor has rank %d; onyx takes 0 to %d", dl->ndim, ONYX_MAX_RANK);
    if (st == ONYX_OK) st = dtype_from_dlpack(dl->dtype, &dtype);
    if (st == ONYX_OK && dl->strides) {
        /* Contiguous row-major only (size-1 dims may have any stride). */
        int64_t expect = 1;
        for (int d = dl->ndim - 1; d >= 0 && st == ONYX_OK; d--) {
            if (dl->shape[d] != 1 && dl->strides[d] != expect)
                st = onyx_error(ONYX_ERR_INVALID_ARGUMENT,
                                "DLPack tensor is not contiguous: dim %d has stride %lld, expected %lld (call .contiguous() first)",
                                d, (long long)dl->strides[d], (long long)expect);
            expect *= dl->shape[d];
        }
    }
    if (st == ONYX_OK && dl->byte_offset % onyx_dtype_size(dtype))
        st = onyx_error(ONYX_ERR_INVALID_ARGUMENT, "DLPack byte_offset %llu is not a multiple of the element size",
                        (unsigned long long)dl->byte_offset);
    onyx_tensor *t = NULL;
    if (st == ONYX_OK) {
        t = onyx_malloc(sizeof *t);
        if (!t) st = ONYX_ERR_OUT_OF_MEMORY;
    }
    if (st == ONYX_OK) {
        onyx_tensor_init(t);
        st = onyx_tensor_set_shape(t, dtype, dl->shape, dl->ndim, "DLPack tensor");
    }
    if (st != ONYX_OK) {
        onyx_free(t);
        if (m->deleter) m->deleter(m);
        return st;
    }
    t->data = (char *)dl->data + dl->byte_offset;
    t->device = device;
    t->device_id = dl->device.device_id;
    t->owns_data = 1;
    t->release = release_dlpack;
    t->release_ctx = m;
    *out = t;
    return ONYX_OK;
}

/* The DLManagedTensor onyx exports: the tensor it owns and the shape array DLPack points at. */
typedef struct onyx_dlpack_export {
    DLManagedTensor managed;
    onyx_tensor *tensor;
    int64_t shape[ONYX_MAX_RANK];
} onyx_dlpack_export;

static void delete_export(DLManagedTensor *m) {
    onyx_dlpack_export *x = (onyx_dlpack_export *)m;
    onyx_tensor_destroy(x->tensor);
    onyx_free(x);
}

onyx_status onyx_tensor_to_dlpack(onyx_tensor **tensor, struct DLManagedTensor **out) {
    onyx_error_clear();
    if (!out) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "onyx_tensor_to_dlpack: out is NULL");
    *out = NULL;
    if (!tensor || !*tensor) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "onyx_tensor_to_dlpack: tensor is NULL");
    onyx_tensor *t = *tensor;
    DLDataType dt = dtype_to_dlpack(t->dtype);
    if (dt.bits == 0)
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "onyx_tensor_to_dlpack: dtype %s has no DLPack equivalent",
                          onyx_dtype_name(t->dtype));
    onyx_dlpack_export *x = onyx_calloc(1, sizeof *x);
    if (!x) return ONYX_ERR_OUT_OF_MEMORY;
    x->tensor = t;
    memcpy(x->shape, t->dims, (size_t)t->rank * sizeof *t->dims);
    DLTensor *dl = &x->managed.dl_tensor;
    dl->data = t->data;
    dl->device.device_type = t->device == ONYX_DEVICE_CUDA ? kDLCUDA : kDLCPU;
    dl->device.device_id = t->device_id;
    dl->ndim = t->rank;
    dl->dtype = dt;
    dl->shape = x->shape;
    dl->strides = NULL; /* compact row-major */
    dl->byte_offset = 0;
    x->managed.manager_ctx = x;
    x->managed.deleter = delete_export;
    *tensor = NULL;
    *out = &x->managed;
    return ONYX_OK;
}
