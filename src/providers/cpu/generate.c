/*
 * generate.c - CPU kernels that make tensors from attributes and scalars: Constant,
 * ConstantOfShape and Range.
 *
 * Constant reads its one value attribute (value, value_float(s), value_int(s), value_string(s))
 * from the node in both prepare and run; strings are copied as onyx_string structs that point at
 * the attribute's bytes, which live as long as the model (see layout_kernels.h on shallow string
 * copies). ConstantOfShape fills with the one element of its 'value' tensor (float32 0 when
 * absent). Range computes its element count exactly in integers for integer types.
 */
#include <math.h>
#include <string.h>

#include "core/dtype.h"
#include "providers/cpu/layout_kernels.h"

/* ---- Constant ---- */

onyx_status layout_constant_source_get(const onyx_kernel_ctx *ctx, layout_constant_source *src) {
    const onyx_node *node = ctx->node;
    static const char *const names[] = {"value", "value_float", "value_floats", "value_int", "value_ints",
                                        "value_string", "value_strings", "sparse_value"};
    const onyx_attr *found = NULL;
    int which = -1, n_found = 0;
    for (int i = 0; i < (int)(sizeof names / sizeof names[0]); i++) {
        const onyx_attr *a = onyx_node_attr(node, names[i]);
        if (!a) continue;
        n_found++;
        found = a;
        which = i;
    }
    if (n_found != 1)
        return onyx_error(ONYX_ERR_INVALID_MODEL,
                          "Constant: expected exactly one of the attributes value, value_float(s), value_int(s), "
                          "value_string(s), sparse_value; found %d",
                          n_found);
    memset(src, 0, sizeof *src);
    switch (which) {
    case 0:
        if (found->type != ONYX_ATTR_TENSOR || !found->t)
            return onyx_error(ONYX_ERR_INVALID_MODEL, "Constant: attribute value is not a tensor");
        src->dtype = found->t->dtype;
        src->rank = found->t->rank;
        memcpy(src->dims, found->t->dims, sizeof(int64_t) * (size_t)found->t->rank);
        src->data = found->t->data;
        break;
    case 1: src->dtype = ONYX_DTYPE_FLOAT32; src->data = &found->f; break;
    case 2:
        src->dtype = ONYX_DTYPE_FLOAT32;
        src->rank = 1;
        src->dims[0] = (int64_t)found->count;
        src->data = found->floats;
        break;
    case 3: src->dtype = ONYX_DTYPE_INT64; src->data = &found->i; break;
    case 4:
        src->dtype = ONYX_DTYPE_INT64;
        src->rank = 1;
        src->dims[0] = (int64_t)found->count;
        src->data = found->ints;
        break;
    case 5:
        src->dtype = ONYX_DTYPE_STRING;
        src->scalar_string = (onyx_string){found->s ? found->s : "", found->s_len};
        src->data = &src->scalar_string;
        break;
    case 6:
        src->dtype = ONYX_DTYPE_STRING;
        src->rank = 1;
        src->dims[0] = (int64_t)found->count;
        src->data = found->strings;
        break;
    default:
        return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "Constant: attribute sparse_value is not supported");
    }
    return ONYX_OK;
}

onyx_status layout_constant_prepare(onyx_kernel_ctx *ctx) {
    layout_constant_source src;
    ONYX_TRY(layout_constant_source_get(ctx, &src));
    return onyx_tensor_set_shape(ctx->outputs[0], src.dtype, src.dims, src.rank, "Constant output");
}

onyx_status layout_constant_run(onyx_kernel_ctx *ctx) {
    layout_constant_source src;
    ONYX_TRY(layout_constant_source_get(ctx, &src));
    onyx_tensor *y = ctx->outputs[0];
    if (y->nbytes && src.data) memcpy(y->data, src.data, y->nbytes);
    return ONYX_OK;
}

/* ---- ConstantOfShape ---- */

static onyx_status constant_of_shape_value(const onyx_kernel_ctx *ctx, const onyx_tensor **value) {
    *value = onyx_node_attr_tensor(ctx->node, "value");
    if (*value && onyx_shape_numel((*value)->dims, (*value)->rank) != 1) {
        char buf[160];
        return onyx_error(ONYX_ERR_INVALID_MODEL, "ConstantOfShape: attribute value has shape %s; expected one element",
                          onyx_shape_describe((*value)->dims, (*value)->rank, buf, sizeof buf));
    }
    return ONYX_OK;
}

onyx_status layout_constant_of_shape_prepare(onyx_kernel_ctx *ctx) {
    ONYX_TRY(onyx_kernel_check_dtype(ctx, 0, ONYX_DT(INT64)));
    const onyx_tensor *value;
    ONYX_TRY(constant_of_shape_value(ctx, &value));
    int64_t dims[ONYX_MAX_RANK];
    int n = 0;
    ONYX_TRY(onyx_tensor_read_ints(ctx->inputs[0], dims, ONYX_MAX_RANK, &n, "ConstantOfShape: input 0 (shape)"));
    for (int d = 0; d < n; d++)
        if (dims[d] < 0)
            return onyx_error(ONYX_ERR_INVALID_MODEL, "ConstantOfShape: input 0 (shape) has the negative dim %lld at %d",
                              (long long)dims[d], d);
    return onyx_tensor_set_shape(ctx->outputs[0], value ? value->dtype : ONYX_DTYPE_FLOAT32, dims, n,
                                 "ConstantOfShape output");
}

onyx_status layout_constant_of_shape_run(onyx_kernel_ctx *ctx) {
    const onyx_tensor *value;
    ONYX_TRY(constant_of_shape_value(ctx, &value));
    onyx_tensor *y = ctx->outputs[0];
    size_t es = onyx_dtype_size(y->dtype);
    int64_t n = onyx_shape_numel(y->dims, y->rank);
    if (n == 0) return ONYX_OK;
    if (!value) {
        memset(y->data, 0, y->nbytes);
        return ONYX_OK;
    }
    char *dst = y->data;
    for (int64_t i = 0; i < n; i++) layout_copy_elements(dst + i * (int64_t)es, value->data, 1, es);
    return ONYX_OK;
}

/* ---- Range ---- */

static onyx_status range_count(const onyx_kernel_ctx *ctx, int64_t *count) {
    const onyx_tensor *start = ctx->inputs[0], *limit = ctx->inputs[1], *delta = ctx->inputs[2];
    const char *names[3] = {"start", "limit", "delta"};
    for (int i = 0; i < 3; i++) {
        const onyx_tensor *t = ctx->inputs[i];
        if (onyx_shape_numel(t->dims, t->rank) != 1 || t->rank > 1)
            return onyx_error(ONYX_ERR_INVALID_MODEL, "Range: input %d (%s) must be a scalar, got rank %d", i, names[i],
                              t->rank);
        if (t->dtype != start->dtype)
            return onyx_error(ONYX_ERR_INVALID_MODEL, "Range: input %d (%s) has dtype %s but start has %s", i,
                              names[i], onyx_dtype_name(t->dtype), onyx_dtype_name(start->dtype));
    }
    if (onyx_dtype_is_float(start->dtype)) {
        double s = onyx_tensor_get_f64(start, 0), l = onyx_tensor_get_f64(limit, 0), d = onyx_tensor_get_f64(delta, 0);
        if (d == 0 || isnan(d) || isnan(s) || isnan(l))
            return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "Range: delta %g with start %g and limit %g", d, s, l);
        double n = ceil((l - s) / d);
        if (!(n < 9.2e18))
            return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "Range: start %g, limit %g, delta %g give too many elements", s,
                              l, d);
        *count = n > 0 ? (int64_t)n : 0;
        return ONYX_OK;
    }
    int64_t s = onyx_tensor_get_i64(start, 0), l = onyx_tensor_get_i64(limit, 0), d = onyx_tensor_get_i64(delta, 0);
    if (d == 0) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "Range: input 2 (delta) is 0");
    int64_t diff = l - s;
    if (diff > 0 && d > 0)
        *count = (diff + d - 1) / d;
    else if (diff < 0 && d < 0)
        *count = (diff + d + 1) / d;
    else
        *count = 0;
    return ONYX_OK;
}

onyx_status layout_range_prepare(onyx_kernel_ctx *ctx) {
    for (int i = 0; i < 3; i++) ONYX_TRY(onyx_kernel_require(ctx, i));
    int64_t n;
    ONYX_TRY(range_count(ctx, &n));
    return onyx_tensor_set_shape(ctx->outputs[0], ctx->inputs[0]->dtype, &n, 1, "Range output");
}

onyx_status layout_range_run(onyx_kernel_ctx *ctx) {
    int64_t n;
    ONYX_TRY(range_count(ctx, &n));
    if (ctx->outputs[0]->rank != 1 || ctx->outputs[0]->dims[0] != n)
        return onyx_error(ONYX_ERR_RUNTIME, "internal: Range output was prepared with another length than the %lld "
                          "that run computes", (long long)n);
    const onyx_tensor *start = ctx->inputs[0], *delta = ctx->inputs[2];
    void *out = ctx->outputs[0]->data;
    switch (start->dtype) {
    case ONYX_DTYPE_FLOAT32: {
        float s = *(const float *)start->data, d = *(const float *)delta->data;
        for (int64_t i = 0; i < n; i++) ((float *)out)[i] = s + (float)i * d;
        break;
    }
    case ONYX_DTYPE_FLOAT64: {
        double s = *(const double *)start->data, d = *(const double *)delta->data;
        for (int64_t i = 0; i < n; i++) ((double *)out)[i] = s + (double)i * d;
        break;
    }
    case ONYX_DTYPE_INT16: {
        int64_t s = onyx_tensor_get_i64(start, 0), d = onyx_tensor_get_i64(delta, 0);
        for (int64_t i = 0; i < n; i++) ((int16_t *)out)[i] = (int16_t)(s + i * d);
        break;
    }
    case ONYX_DTYPE_INT32: {
        int64_t s = onyx_tensor_get_i64(start, 0), d = onyx_tensor_get_i64(delta, 0);
        for (int64_t i = 0; i < n; i++) ((int32_t *)out)[i] = (int32_t)(s + i * d);
        break;
    }
    case ONYX_DTYPE_INT64: {
        int64_t s = onyx_tensor_get_i64(start, 0), d = onyx_tensor_get_i64(delta, 0);
        for (int64_t i = 0; i < n; i++) ((int64_t *)out)[i] = s + i * d;
        break;
    }
    default:
        return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "Range: dtype %s", onyx_dtype_name(start->dtype));
    }
    return ONYX_OK;
}
