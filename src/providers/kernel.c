/*
 * kernel.c - kernel table lookup and small checks shared by kernels (see kernel.h).
 */
#include "providers/kernel.h"

#include <stdio.h>
#include <string.h>

static int domain_equal(const char *a, const char *b) {
    if (!a || strcmp(a, "ai.onnx") == 0) a = "";
    if (!b || strcmp(b, "ai.onnx") == 0) b = "";
    return strcmp(a, b) == 0;
}

const char *onyx_dtype_mask_describe(uint64_t mask, char *buf, size_t size) {
    size_t used = 0;
    buf[0] = '\0';
    for (int d = 1; d < 64; d++) {
        if (!(mask & (UINT64_C(1) << d)) || !onyx_dtype_valid(d)) continue;
        int n = snprintf(buf + used, size - used, "%s%s", used ? ", " : "", onyx_dtype_name((onyx_dtype)d));
        if (n < 0 || (size_t)n >= size - used) break;
        used += (size_t)n;
    }
    return buf;
}

const onyx_kernel_def *onyx_kernel_lookup(const onyx_kernel_def *const *tables, const char *op_type,
                                          const char *domain, int opset, onyx_dtype dtype, char *why,
                                          size_t why_size) {
    int found_op = 0, found_version = 0;
    int lo = 1 << 30, hi = 0;
    uint64_t version_dtypes = 0;
    for (int t = 0; tables[t]; t++) {
        for (const onyx_kernel_def *k = tables[t]; k->op_type; k++) {
            if (strcmp(k->op_type, op_type) != 0 || !domain_equal(k->domain, domain)) continue;
            found_op = 1;
            if (k->since_version < lo) lo = k->since_version;
            if (k->until_version > hi) hi = k->until_version;
            if (opset < k->since_version || opset > k->until_version) continue;
            found_version = 1;
            if (dtype == ONYX_DTYPE_UNDEFINED || k->type_input < 0 || (k->dtypes & (UINT64_C(1) << dtype)))
                return k;
            version_dtypes |= k->dtypes;
        }
    }
    if (why && why_size) {
        const char *dom = domain && domain[0] ? domain : "ai.onnx";
        if (!found_op)
            snprintf(why, why_size, "no kernel for %s (domain %s)", op_type, dom);
        else if (!found_version)
            snprintf(why, why_size, "%s (domain %s) at opset %d: kernels cover opsets %d to %d", op_type, dom, opset,
                     lo, hi >= ONYX_OPSET_MAX ? 18 : hi);
        else {
            char types[256];
            snprintf(why, why_size, "%s at opset %d does not support dtype %s (supported: %s)", op_type, opset,
                     onyx_dtype_name(dtype), onyx_dtype_mask_describe(version_dtypes, types, sizeof types));
        }
    }
    return NULL;
}

onyx_status onyx_kernel_require(const onyx_kernel_ctx *ctx, int i) {
    if (onyx_input(ctx, i)) return ONYX_OK;
    return onyx_error(ONYX_ERR_INVALID_MODEL, "%s: required input %d is missing", ctx->node->op_type, i);
}

onyx_status onyx_kernel_check_dtype(const onyx_kernel_ctx *ctx, int i, uint64_t mask) {
    const onyx_tensor *t = onyx_input(ctx, i);
    if (!t) return onyx_kernel_require(ctx, i);
    if (mask & (UINT64_C(1) << t->dtype)) return ONYX_OK;
    char types[256];
    return onyx_error(ONYX_ERR_INVALID_MODEL, "%s: input %d has dtype %s; expected one of: %s", ctx->node->op_type, i,
                      onyx_dtype_name(t->dtype), onyx_dtype_mask_describe(mask, types, sizeof types));
}

onyx_status onyx_kernel_axis(const onyx_kernel_ctx *ctx, int64_t axis, int rank, const char *what, int *out) {
    int64_t a = axis < 0 ? axis + rank : axis;
    if (a < 0 || a >= (rank > 0 ? rank : 1))
        return onyx_error(ONYX_ERR_INVALID_MODEL, "%s: %s %lld is out of range for rank %d", ctx->node->op_type, what,
                          (long long)axis, rank);
    *out = (int)a;
    return ONYX_OK;
}
