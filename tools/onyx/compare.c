/*
 * compare.c - tolerance comparison of a computed tensor against an expected one (see compare.h).
 *
 * Float dtypes (float16, bfloat16, float32, float64 and the parts of complex numbers) are read
 * as double and judged by cli_compare_close; every other dtype must match bit for bit (strings
 * byte for byte). Only the first bad element is described; the count and the largest finite
 * difference cover all of them.
 */
#include "compare.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/dtype.h"
#include "core/tensor.h"

void cli_compare_default_tolerance(onyx_dtype dtype, double *atol, double *rtol) {
    switch (dtype) {
    case ONYX_DTYPE_FLOAT16:
    case ONYX_DTYPE_BFLOAT16:
        *atol = 1e-3;
        *rtol = 1e-2;
        break;
    case ONYX_DTYPE_FLOAT32:
    case ONYX_DTYPE_FLOAT64:
    case ONYX_DTYPE_COMPLEX64:
    case ONYX_DTYPE_COMPLEX128:
        *atol = 1e-7;
        *rtol = 1e-3;
        break;
    default:
        *atol = 0.0;
        *rtol = 0.0;
        break;
    }
}

int cli_compare_close(double got, double expected, double atol, double rtol) {
    if (isnan(expected) || isnan(got)) return isnan(expected) && isnan(got);
    if (isinf(expected) || isinf(got)) return got == expected;
    return fabs(got - expected) <= atol + rtol * fabs(expected);
}

/* Whether elements of this dtype are compared with a tolerance. */
static int is_float_like(onyx_dtype dtype) {
    return onyx_dtype_is_float(dtype) || dtype == ONYX_DTYPE_COMPLEX64 ||
           dtype == ONYX_DTYPE_COMPLEX128;
}

/* Scalar i of a float-like tensor as double; complex tensors hold 2 scalars per element. */
static double float_scalar(const onyx_tensor *t, int64_t i) {
    switch (t->dtype) {
    case ONYX_DTYPE_COMPLEX64: return ((const float *)t->data)[i];
    case ONYX_DTYPE_COMPLEX128: return ((const double *)t->data)[i];
    default: return onyx_tensor_get_f64(t, i);
    }
}

static int64_t scalars_per_element(onyx_dtype dtype) {
    return dtype == ONYX_DTYPE_COMPLEX64 || dtype == ONYX_DTYPE_COMPLEX128 ? 2 : 1;
}

/* "[1,2,3]": the multi-index of flat element index in a tensor of these dims. */
static void describe_index(const int64_t *dims, int rank, int64_t index, char *buf, size_t size) {
    int64_t coords[ONYX_MAX_RANK];
    for (int d = rank - 1; d >= 0; d--) {
        int64_t extent = dims[d] > 0 ? dims[d] : 1;
        coords[d] = index % extent;
        index /= extent;
    }
    onyx_shape_describe(coords, rank, buf, size);
}

/* A printable copy of a string element, shortened and with control bytes escaped. */
static void describe_string(const onyx_string *s, char *buf, size_t size) {
    size_t used = 0;
    for (size_t i = 0; i < s->size && used + 5 < size; i++) {
        unsigned char c = (unsigned char)s->data[i];
        int n = (c >= 32 && c < 127 && c != '"') ? snprintf(buf + used, size - used, "%c", c)
                                                 : snprintf(buf + used, size - used, "\\x%02x", c);
        used += (size_t)n;
    }
    buf[used] = '\0';
}

static int check_dtype_and_shape(const onyx_tensor *got, const onyx_tensor *expected,
                                 cli_compare_result *out) {
    char got_desc[160], expected_desc[160];
    if (got->dtype != expected->dtype) {
        out->verdict = CLI_COMPARE_DTYPE;
        snprintf(out->message, sizeof out->message, "dtype %s expected, got %s",
                 onyx_dtype_name(expected->dtype), onyx_dtype_name(got->dtype));
        return 0;
    }
    int same = got->rank == expected->rank;
    for (int d = 0; same && d < got->rank; d++) same = got->dims[d] == expected->dims[d];
    if (!same) {
        out->verdict = CLI_COMPARE_SHAPE;
        snprintf(out->message, sizeof out->message, "shape %s expected, got %s",
                 onyx_tensor_describe(expected, expected_desc, sizeof expected_desc),
                 onyx_tensor_describe(got, got_desc, sizeof got_desc));
        return 0;
    }
    return 1;
}

/* Walk float-like scalars; fills counts, first bad scalar and max finite diff. */
static void compare_floats(const onyx_tensor *got, const onyx_tensor *expected, double atol,
                           double rtol, int64_t n_scalars, cli_compare_result *out) {
    for (int64_t i = 0; i < n_scalars; i++) {
        double g = float_scalar(got, i), e = float_scalar(expected, i);
        if (isfinite(g) && isfinite(e) && fabs(g - e) > out->max_abs_diff) out->max_abs_diff = fabs(g - e);
        if (cli_compare_close(g, e, atol, rtol)) continue;
        if (out->bad_count++ == 0) {
            out->first_bad = i;
            out->got_value = g;
            out->expected_value = e;
        }
    }
}

/* Walk integer/bool elements (exact). */
static void compare_integers(const onyx_tensor *got, const onyx_tensor *expected, int64_t n,
                             cli_compare_result *out) {
    size_t elem = onyx_dtype_size(got->dtype);
    const unsigned char *g = got->data, *e = expected->data;
    for (int64_t i = 0; i < n; i++) {
        if (memcmp(g + (size_t)i * elem, e + (size_t)i * elem, elem) == 0) continue;
        if (out->bad_count++ == 0) {
            out->first_bad = i;
            out->got_value = onyx_tensor_get_f64(got, i);
            out->expected_value = onyx_tensor_get_f64(expected, i);
        }
    }
}

static void compare_strings(const onyx_tensor *got, const onyx_tensor *expected, int64_t n,
                            cli_compare_result *out) {
    const onyx_string *g = got->data, *e = expected->data;
    for (int64_t i = 0; i < n; i++) {
        if (g[i].size == e[i].size && (g[i].size == 0 || memcmp(g[i].data, e[i].data, g[i].size) == 0))
            continue;
        if (out->bad_count++ == 0) out->first_bad = i;
    }
}

/* The sentence for a value mismatch, from the fields compare_* filled. */
static void describe_value_mismatch(const onyx_tensor *got, const onyx_tensor *expected,
                                    double atol, double rtol, cli_compare_result *out) {
    int64_t per = scalars_per_element(expected->dtype);
    int64_t element = out->first_bad / per;
    char index[160], count[64] = "";
    describe_index(expected->dims, expected->rank, element, index, sizeof index);
    if (out->bad_count > 1)
        snprintf(count, sizeof count, " (%" PRId64 " elements differ)", out->bad_count);
    const char *part = per == 2 ? (out->first_bad % 2 ? " imag" : " real") : "";
    if (expected->dtype == ONYX_DTYPE_STRING) {
        char g[96], e[96];
        describe_string(&((const onyx_string *)got->data)[element], g, sizeof g);
        describe_string(&((const onyx_string *)expected->data)[element], e, sizeof e);
        snprintf(out->message, sizeof out->message,
                 "element %" PRId64 " (index %s) got \"%s\" expected \"%s\"%s", element, index, g, e, count);
    } else if (is_float_like(expected->dtype)) {
        snprintf(out->message, sizeof out->message,
                 "element %" PRId64 "%s (index %s) got %.9g expected %.9g, max abs diff %.9g (atol %g, rtol %g)%s",
                 element, part, index, out->got_value, out->expected_value, out->max_abs_diff, atol, rtol, count);
    } else {
        snprintf(out->message, sizeof out->message,
                 "element %" PRId64 " (index %s) got %" PRId64 " expected %" PRId64 "%s", element, index,
                 onyx_tensor_get_i64(got, element), onyx_tensor_get_i64(expected, element), count);
    }
}

int cli_compare_tensors(const onyx_tensor *got, const onyx_tensor *expected, double atol,
                        double rtol, cli_compare_result *out) {
    memset(out, 0, sizeof *out);
    out->first_bad = -1;
    if (!check_dtype_and_shape(got, expected, out)) return 0;
    int64_t n = onyx_shape_numel(expected->dims, expected->rank);
    if (n <= 0) return 1;
    if (expected->dtype == ONYX_DTYPE_STRING)
        compare_strings(got, expected, n, out);
    else if (is_float_like(expected->dtype))
        compare_floats(got, expected, atol, rtol, n * scalars_per_element(expected->dtype), out);
    else
        compare_integers(got, expected, n, out);
    if (out->bad_count == 0) return 1;
    out->verdict = CLI_COMPARE_VALUE;
    describe_value_mismatch(got, expected, atol, rtol, out);
    return 0;
}
