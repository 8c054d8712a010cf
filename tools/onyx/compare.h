/*
 * compare.h - comparing a computed tensor with an expected one, as `onyx check` does for the
 * ONNX backend tests.
 *
 * Rules (those of ONNX's backend runner, numpy.testing.assert_allclose): floats pass when
 * |got - expected| <= atol + rtol * |expected|; NaN matches only NaN; an infinity must match
 * exactly, sign included. Integers, bool and strings must be equal. dtype and shape must match
 * before any element is looked at. The result keeps the first bad element (flat index and its
 * multi-index) and the largest absolute difference over the elements where both are finite.
 */
#ifndef ONYX_TOOLS_COMPARE_H
#define ONYX_TOOLS_COMPARE_H

#include <stddef.h>
#include <stdint.h>

#include "onyx/onyx.h"

typedef enum cli_compare_verdict {
    CLI_COMPARE_EQUAL = 0,
    CLI_COMPARE_DTYPE = 1, /* dtypes differ */
    CLI_COMPARE_SHAPE = 2, /* ranks or dims differ */
    CLI_COMPARE_VALUE = 3  /* at least one element out of tolerance */
} cli_compare_verdict;

typedef struct cli_compare_result {
    cli_compare_verdict verdict;
    int64_t bad_count;     /* elements out of tolerance */
    int64_t first_bad;     /* flat index of the first one, -1 if none */
    double got_value;      /* the values there (numeric dtypes) */
    double expected_value;
    double max_abs_diff;   /* over elements where both values are finite; 0 for non-floats */
    /* A sentence saying what differs: "element 17 (index [1,2,3]) got 1.5 expected 1.25, max abs
     * diff 0.25 (atol 1e-07, rtol 0.001)", or "dtype float32 expected, got int64". Empty when
     * equal. */
    char message[512];
} cli_compare_result;

/* The default tolerance for an expected output of this dtype: rtol 1e-3, atol 1e-7 for
 * float32/float64 (and complex), rtol 1e-2, atol 1e-3 for float16/bfloat16, 0 otherwise. */
void cli_compare_default_tolerance(onyx_dtype dtype, double *atol, double *rtol);

/* Compare host tensors got and expected with atol/rtol (used by floats only). Returns 1 when
 * they match, else 0; out (required) receives the details either way. */
int cli_compare_tensors(const onyx_tensor *got, const onyx_tensor *expected, double atol,
                        double rtol, cli_compare_result *out);

/* Whether got matches expected under the float rule above (exposed for tests). */
int cli_compare_close(double got, double expected, double atol, double rtol);

#endif
