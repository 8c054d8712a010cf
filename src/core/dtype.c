/*
 * dtype.c - names and sizes of element types (see dtype.h and onyx.h).
 */
#include "core/dtype.h"

static const struct {
    const char *name;
    size_t size;
} dtype_table[] = {
    [ONYX_DTYPE_UNDEFINED] = {"undefined", 0}, [ONYX_DTYPE_FLOAT32] = {"float32", 4},
    [ONYX_DTYPE_UINT8] = {"uint8", 1},         [ONYX_DTYPE_INT8] = {"int8", 1},
    [ONYX_DTYPE_UINT16] = {"uint16", 2},       [ONYX_DTYPE_INT16] = {"int16", 2},
    [ONYX_DTYPE_INT32] = {"int32", 4},         [ONYX_DTYPE_INT64] = {"int64", 8},
    [ONYX_DTYPE_STRING] = {"string", sizeof(onyx_string)},
    [ONYX_DTYPE_BOOL] = {"bool", 1},           [ONYX_DTYPE_FLOAT16] = {"float16", 2},
    [ONYX_DTYPE_FLOAT64] = {"float64", 8},     [ONYX_DTYPE_UINT32] = {"uint32", 4},
    [ONYX_DTYPE_UINT64] = {"uint64", 8},       [ONYX_DTYPE_COMPLEX64] = {"complex64", 8},
    [ONYX_DTYPE_COMPLEX128] = {"complex128", 16},
    [ONYX_DTYPE_BFLOAT16] = {"bfloat16", 2},
};

int onyx_dtype_valid(int code) {
    return code > 0 && code < (int)(sizeof dtype_table / sizeof dtype_table[0]);
}

const char *onyx_dtype_name(onyx_dtype dtype) {
    if ((int)dtype < 0 || (int)dtype >= (int)(sizeof dtype_table / sizeof dtype_table[0])) return "invalid";
    return dtype_table[dtype].name;
}

size_t onyx_dtype_size(onyx_dtype dtype) {
    if (!onyx_dtype_valid((int)dtype)) return 0;
    return dtype_table[dtype].size;
}

int onyx_dtype_is_float(onyx_dtype d) {
    return d == ONYX_DTYPE_FLOAT32 || d == ONYX_DTYPE_FLOAT16 || d == ONYX_DTYPE_BFLOAT16 ||
           d == ONYX_DTYPE_FLOAT64;
}

int onyx_dtype_is_signed_int(onyx_dtype d) {
    return d == ONYX_DTYPE_INT8 || d == ONYX_DTYPE_INT16 || d == ONYX_DTYPE_INT32 || d == ONYX_DTYPE_INT64;
}

int onyx_dtype_is_unsigned_int(onyx_dtype d) {
    return d == ONYX_DTYPE_UINT8 || d == ONYX_DTYPE_UINT16 || d == ONYX_DTYPE_UINT32 ||
           d == ONYX_DTYPE_UINT64;
}
