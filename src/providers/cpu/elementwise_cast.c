/*
 * elementwise_cast.c - Cast and CastLike on the CPU: every pair of float32, float16, bfloat16,
 * float64, int8..int64, uint8..uint64 and bool, and strings to and from all of them.
 *
 * Numeric casts are one loop per (from, to) pair, instantiated by nesting two type lists. Each
 * element travels through a wide intermediate chosen by the source kind: double for floats,
 * int64 for signed ints, uint64 for unsigned ints and bool. From there: float -> int truncates
 * toward zero (NaN -> 0, saturating at the 64-bit range, then wrapping to narrower widths like
 * numpy on x86); int -> int wraps; anything -> bool is "!= 0"; float16/bfloat16 round to
 * nearest even, from float64 without double rounding (see cast_f64_to_f32_odd); F16C does
 * float32 <-> float16 where the CPU has it.
 * Strings follow ONNX's test data (numpy's str()): numbers print with the fewest digits that
 * read back to the same value of the source dtype ("0.039187793", "2.0", "1e-05"), with
 * "NaN", "INF", "-INF"; parsing accepts what strtod/strtoll accept,
 * including "INF", "+INF", "-INF", "NaN" in any case. Writing strings allocates each element's
 * bytes (the one allocation in a run step of this family: string tensors own their bytes).
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "providers/cpu/elementwise_plan.h"

/* ---- numeric casts ---- */

/* Load an element into its wide intermediate (d: double, i: int64, u: uint64). */
#define CAST_LOAD_REAL(x) ((double)(x))
#define CAST_LOAD_HALF(x) ((double)onyx_f16_to_f32(x))
#define CAST_LOAD_BF16(x) ((double)onyx_bf16_to_f32(x))
#define CAST_LOAD_SINT(x) ((int64_t)(x))
#define CAST_LOAD_UINT(x) ((uint64_t)(x))
#define CAST_LOAD_BOOL(x) ((uint64_t)((x) != 0))

/* Store from each intermediate into one kind of destination. */
#define CAST_REAL_FROM(T, v) ((T)(v))
#define CAST_HALF_FROM(T, v) onyx_f32_to_f16(cast_f64_to_f32_odd((double)(v)))
#define CAST_BF16_FROM(T, v) onyx_f32_to_bf16(cast_f64_to_f32_odd((double)(v)))

/* double -> float rounding to odd (truncate, then set the last bit if anything was cut), so a
 * second rounding to float16/bfloat16 lands where a direct rounding would: no double rounding. */
static inline float cast_f64_to_f32_odd(double v) {
    float f = (float)v;
    if ((double)f == v || f != f || isinf(f)) return f;
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    if (fabs((double)f) > fabs(v)) bits -= 1; /* rounded away from zero: step back */
    bits |= 1;
    memcpy(&f, &bits, sizeof f);
    return f;
}
#define CAST_BOOL_FROM(T, v) ((uint8_t)((v) != 0))
#define CAST_SINT_FROM_D(T, v) ((T)ew_f64_to_i64(v))
#define CAST_UINT_FROM_D(T, v) ((T)ew_f64_to_u64(v))

#define CAST_STORE_FNS(unused, DT, T, KIND, VIA) CAST_STORE_FNS_##KIND(DT, T)
#define CAST_STORE_FNS_GENERIC(DT, T, FROM_D, FROM_INT)                                           \
    static inline T cast_to_##DT##_from_d(double v) { return FROM_D(T, v); }                      \
    static inline T cast_to_##DT##_from_i(int64_t v) { return FROM_INT(T, v); }                   \
    static inline T cast_to_##DT##_from_u(uint64_t v) { return FROM_INT(T, v); }
#define CAST_STORE_FNS_REAL(DT, T) CAST_STORE_FNS_GENERIC(DT, T, CAST_REAL_FROM, CAST_REAL_FROM)
#define CAST_STORE_FNS_HALF(DT, T) CAST_STORE_FNS_GENERIC(DT, T, CAST_HALF_FROM, CAST_HALF_FROM)
#define CAST_STORE_FNS_BF16(DT, T) CAST_STORE_FNS_GENERIC(DT, T, CAST_BF16_FROM, CAST_BF16_FROM)
#define CAST_STORE_FNS_SINT(DT, T) CAST_STORE_FNS_GENERIC(DT, T, CAST_SINT_FROM_D, CAST_REAL_FROM)
#define CAST_STORE_FNS_UINT(DT, T) CAST_STORE_FNS_GENERIC(DT, T, CAST_UINT_FROM_D, CAST_REAL_FROM)
#define CAST_STORE_FNS_BOOL(DT, T) CAST_STORE_FNS_GENERIC(DT, T, CAST_BOOL_FROM, CAST_BOOL_FROM)

/* X(ARGS, DT, T, KIND, VIA); two copies so one can be expanded inside the other. */
#define CAST_TYPES_A(X, ...)                                                                      \
    X(__VA_ARGS__, FLOAT32, float, REAL, d) X(__VA_ARGS__, FLOAT64, double, REAL, d)              \
    X(__VA_ARGS__, FLOAT16, uint16_t, HALF, d) X(__VA_ARGS__, BFLOAT16, uint16_t, BF16, d)        \
    X(__VA_ARGS__, INT8, int8_t, SINT, i) X(__VA_ARGS__, INT16, int16_t, SINT, i)                 \
    X(__VA_ARGS__, INT32, int32_t, SINT, i) X(__VA_ARGS__, INT64, int64_t, SINT, i)               \
    X(__VA_ARGS__, UINT8, uint8_t, UINT, u) X(__VA_ARGS__, UINT16, uint16_t, UINT, u)             \
    X(__VA_ARGS__, UINT32, uint32_t, UINT, u) X(__VA_ARGS__, UINT64, uint64_t, UINT, u)           \
    X(__VA_ARGS__, BOOL, uint8_t, BOOL, u)
#define CAST_TYPES_B(X, ...)                                                                      \
    X(__VA_ARGS__, FLOAT32, float, REAL, d) X(__VA_ARGS__, FLOAT64, double, REAL, d)              \
    X(__VA_ARGS__, FLOAT16, uint16_t, HALF, d) X(__VA_ARGS__, BFLOAT16, uint16_t, BF16, d)        \
    X(__VA_ARGS__, INT8, int8_t, SINT, i) X(__VA_ARGS__, INT16, int16_t, SINT, i)                 \
    X(__VA_ARGS__, INT32, int32_t, SINT, i) X(__VA_ARGS__, INT64, int64_t, SINT, i)               \
    X(__VA_ARGS__, UINT8, uint8_t, UINT, u) X(__VA_ARGS__, UINT16, uint16_t, UINT, u)             \
    X(__VA_ARGS__, UINT32, uint32_t, UINT, u) X(__VA_ARGS__, UINT64, uint64_t, UINT, u)           \
    X(__VA_ARGS__, BOOL, uint8_t, BOOL, u)

CAST_TYPES_A(CAST_STORE_FNS, _)

#define CAST_ROW(DI, TI, KI, VI, DO, TO, KO, VO)                                                  \
    static void cast_##DI##_to_##DO(void *out_, const void *const *in, const int *step,           \
                                    int64_t n, const ew_params *params) {                         \
        TO *out = out_;                                                                           \
        const TI *src = in[0];                                                                    \
        (void)step;                                                                               \
        (void)params;                                                                             \
        for (int64_t i = 0; i < n; i++) out[i] = cast_to_##DO##_from_##VI(CAST_LOAD_##KI(src[i])); \
    }
#define CAST_ROWS_FROM(unused, DI, TI, KI, VI) CAST_TYPES_B(CAST_ROW, DI, TI, KI, VI)
CAST_TYPES_A(CAST_ROWS_FROM, _)

#define CAST_ENTRY(DI, TI, KI, VI, DO, TO, KO, VO) [ONYX_DTYPE_##DI][ONYX_DTYPE_##DO] = cast_##DI##_to_##DO,
#define CAST_ENTRIES_FROM(unused, DI, TI, KI, VI) CAST_TYPES_B(CAST_ENTRY, DI, TI, KI, VI)
static const ew_row_fn cast_rows[EW_DTYPE_COUNT][EW_DTYPE_COUNT] = {CAST_TYPES_A(CAST_ENTRIES_FROM, _)};

/* float32 <-> float16 through the shared bulk converters (F16C where the CPU has it). */
static void cast_f32_to_f16_bulk(void *out, const void *const *in, const int *step, int64_t n,
                                 const ew_params *params) {
    ew_f32_to_f16_n(out, in[0], n);
}
static void cast_f16_to_f32_bulk(void *out, const void *const *in, const int *step, int64_t n,
                                 const ew_params *params) {
    ew_f16_to_f32_n(out, in[0], n);
}

static ew_row_fn cast_row(onyx_dtype from, onyx_dtype to) {
    if (from == ONYX_DTYPE_FLOAT32 && to == ONYX_DTYPE_FLOAT16) return cast_f32_to_f16_bulk;
    if (from == ONYX_DTYPE_FLOAT16 && to == ONYX_DTYPE_FLOAT32) return cast_f16_to_f32_bulk;
    return cast_rows[from][to];
}

/* ---- strings ---- */

/* Shortest "%.Ng" that reads back to value; float32-valued dtypes round-trip through strtof. */
/* Whether text read back as a double rounds to value in dtype (a float dtype). */
static int cast_round_trips(double parsed, double value, onyx_dtype dtype) {
    switch (dtype) {
    case ONYX_DTYPE_FLOAT64: return parsed == value;
    case ONYX_DTYPE_FLOAT16: return onyx_f32_to_f16(cast_f64_to_f32_odd(parsed)) == onyx_f32_to_f16((float)value);
    case ONYX_DTYPE_BFLOAT16: return onyx_f32_to_bf16(cast_f64_to_f32_odd(parsed)) == onyx_f32_to_bf16((float)value);
    default: return (float)parsed == (float)value;
    }
}

/* numpy's str() of a float: the fewest significant digits that read back to the same value of
 * the source dtype; positional with at least one decimal ("2.0", "0.0001234", "123456790.0")
 * when 1e-4 <= |x| < 1e16, else scientific with a two-digit exponent ("1e-05", "3.4e+38");
 * "NaN", "INF", "-INF" as ONNX spells them. */
static int cast_format_float(char *buf, size_t size, double value, onyx_dtype dtype) {
    if (isnan(value)) return snprintf(buf, size, "NaN");
    if (isinf(value)) return snprintf(buf, size, value > 0 ? "INF" : "-INF");
    const char *sign = signbit(value) ? "-" : "";
    if (value == 0) return snprintf(buf, size, "%s0.0", sign);
    char sci[40];
    for (int digits = 1; digits <= 17; digits++) {
        snprintf(sci, sizeof sci, "%.*e", digits - 1, fabs(value));
        if (cast_round_trips(strtod(sci, NULL), fabs(value), dtype)) break;
    }
    /* sci is "d.ddde+XX" or "de+XX": collect the digits and the decimal exponent */
    char digits[20];
    int n = 0;
    const char *c = sci;
    for (; *c && *c != 'e'; c++)
        if (*c >= '0' && *c <= '9' && n < (int)sizeof digits - 1) digits[n++] = *c;
    digits[n] = '\0';
    int exponent = *c == 'e' ? atoi(c + 1) : 0;
    double magnitude = fabs(value);
    if (magnitude >= 1e-4 && magnitude < 1e16) { /* positional: at most 17 + 16 characters */
        char text[48];
        int len = 0;
        if (exponent < 0) {
            text[len++] = '0';
            text[len++] = '.';
            for (int z = 0; z < -exponent - 1; z++) text[len++] = '0';
            for (int d = 0; d < n; d++) text[len++] = digits[d];
        } else {
            for (int d = 0; d <= exponent; d++) text[len++] = d < n ? digits[d] : '0';
            text[len++] = '.';
            if (n <= exponent + 1) text[len++] = '0';
            for (int d = exponent + 1; d < n; d++) text[len++] = digits[d];
        }
        text[len] = '\0';
        return snprintf(buf, size, "%s%s", sign, text);
    }
    if (n > 1) return snprintf(buf, size, "%s%c.%se%c%02d", sign, digits[0], digits + 1,
                               exponent < 0 ? '-' : '+', abs(exponent));
    return snprintf(buf, size, "%s%ce%c%02d", sign, digits[0], exponent < 0 ? '-' : '+', abs(exponent));
}

static int cast_format(char *buf, size_t size, const void *data, int64_t i, onyx_dtype dtype) {
    switch (dtype) {
    case ONYX_DTYPE_FLOAT64: case ONYX_DTYPE_FLOAT32: case ONYX_DTYPE_FLOAT16: case ONYX_DTYPE_BFLOAT16:
        return cast_format_float(buf, size, ew_load_f64(data, i, dtype), dtype);
    case ONYX_DTYPE_UINT64: return snprintf(buf, size, "%" PRIu64, ((const uint64_t *)data)[i]);
    default: return snprintf(buf, size, "%" PRId64, ew_load_i64(data, i, dtype));
    }
}

static onyx_status cast_to_string(onyx_tensor *out, const onyx_tensor *in, int64_t n) {
    onyx_string *dst = out->data;
    char buf[64];
    for (int64_t i = 0; i < n; i++) {
        const char *text = buf;
        size_t len;
        if (in->dtype == ONYX_DTYPE_STRING) {
            const onyx_string *s = (const onyx_string *)in->data + i;
            text = s->data ? s->data : "";
            len = s->size;
        } else {
            int written = cast_format(buf, sizeof buf, in->data, i, in->dtype);
            len = written < 0 ? 0 : (size_t)written;
        }
        char *copy = onyx_strndup(text, len);
        if (!copy) return ONYX_ERR_OUT_OF_MEMORY;
        onyx_free((void *)dst[i].data); /* slots start zeroed; replace any earlier string */
        dst[i].data = copy;
        dst[i].size = len;
    }
    return ONYX_OK;
}

static onyx_status cast_from_string(onyx_tensor *out, const onyx_tensor *in, int64_t n) {
    const onyx_string *src = in->data;
    char buf[128];
    for (int64_t i = 0; i < n; i++) {
        size_t len = src[i].size < sizeof buf - 1 ? src[i].size : sizeof buf - 1;
        if (len) memcpy(buf, src[i].data, len);
        buf[len] = '\0';
        char *end = buf;
        if (onyx_dtype_is_float(out->dtype) || out->dtype == ONYX_DTYPE_BOOL) {
            double value = strtod(buf, &end);
            ew_store_f64(out->data, i, out->dtype, value);
        } else if (out->dtype == ONYX_DTYPE_UINT64) {
            ((uint64_t *)out->data)[i] = strtoull(buf, &end, 10);
        } else {
            ew_store_i64(out->data, i, out->dtype, strtoll(buf, &end, 10));
        }
        if (end == buf)
            return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "Cast: element %lld of input 0 is \"%.*s\", "
                              "which is not a %s number", (long long)i, (int)len, buf,
                              onyx_dtype_name(out->dtype));
    }
    return ONYX_OK;
}

/* ---- kernels ---- */

static int cast_supported(onyx_dtype dtype) {
    return (int)dtype > 0 && (int)dtype < EW_DTYPE_COUNT && ((UINT64_C(1) << dtype) & ONYX_DT_ALL);
}

static onyx_status cast_prepare_to(onyx_kernel_ctx *ctx, onyx_dtype to, const char *op) {
    const onyx_tensor *in = onyx_input(ctx, 0);
    if (!in) return onyx_error(ONYX_ERR_INVALID_MODEL, "%s: input 0 (input) is required but absent", op);
    if (!onyx_output(ctx, 0)) return onyx_error(ONYX_ERR_INVALID_MODEL, "%s: output 0 is absent", op);
    if (!cast_supported(in->dtype))
        return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "%s: input 0 has dtype %s, which the CPU kernel "
                          "does not cast", op, onyx_dtype_name(in->dtype));
    if (!cast_supported(to))
        return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "%s: target dtype %s (code %d) is not supported "
                          "by the CPU kernel", op, onyx_dtype_name(to), (int)to);
    return onyx_tensor_set_shape(onyx_output(ctx, 0), to, in->dims, in->rank, "output 0");
}

onyx_status ew_cast_prepare(onyx_kernel_ctx *ctx) {
    const onyx_attr *to = ctx->node ? onyx_node_attr(ctx->node, "to") : NULL;
    if (!to) return onyx_error(ONYX_ERR_INVALID_MODEL, "Cast: attribute 'to' is missing");
    return cast_prepare_to(ctx, (onyx_dtype)to->i, "Cast");
}

onyx_status ew_castlike_prepare(onyx_kernel_ctx *ctx) {
    const onyx_tensor *target = onyx_input(ctx, 1);
    if (!target)
        return onyx_error(ONYX_ERR_INVALID_MODEL, "CastLike: input 1 (target_type) is required but absent");
    return cast_prepare_to(ctx, target->dtype, "CastLike");
}

onyx_status ew_cast_run(onyx_kernel_ctx *ctx) {
    const onyx_tensor *in = onyx_input(ctx, 0);
    onyx_tensor *out = onyx_output(ctx, 0);
    int64_t n = onyx_shape_numel(in->dims, in->rank);
    if (out->dtype == ONYX_DTYPE_STRING) return cast_to_string(out, in, n);
    if (in->dtype == ONYX_DTYPE_STRING) return cast_from_string(out, in, n);
    if (in->dtype == out->dtype) {
        if (n && out->data != in->data) memcpy(out->data, in->data, in->nbytes);
        return ONYX_OK;
    }
    ew_params params;
    memset(&params, 0, sizeof params);
    ew_plan plan;
    ew_plan_init(&plan, out, &in, 1);
    const void *data[1] = {in->data};
    ew_plan_run(&plan, cast_row(in->dtype, out->dtype), out->data, data, &params, ctx->threads);
    return ONYX_OK;
}
