/*
 * test_compare.c - the tolerance comparison of `onyx check` (tools/onyx/compare.c) on hand-made
 * tensors: NaN and infinity rules, float16, exact integers and strings, the first bad element,
 * its multi-index and the largest difference. Expected values are worked out by hand in the
 * comments. compare.c is part of the CLI, not the library, so it is compiled into this test.
 */
#include "../../tools/onyx/compare.c"

#include "harness.h"

/* A float32 tensor of the given shape over a copy of values. */
static onyx_tensor *make_f32(const int64_t *dims, int rank, const float *values) {
    onyx_tensor *t = NULL;
    if (onyx_tensor_create(ONYX_DTYPE_FLOAT32, dims, (size_t)rank, &t) != ONYX_OK) return NULL;
    memcpy(onyx_tensor_data(t), values, onyx_tensor_nbytes(t));
    return t;
}

static onyx_tensor *make_raw(onyx_dtype dtype, int64_t n, const void *values) {
    onyx_tensor *t = NULL;
    if (onyx_tensor_create(dtype, &n, 1, &t) != ONYX_OK) return NULL;
    memcpy(onyx_tensor_data(t), values, onyx_tensor_nbytes(t));
    return t;
}

static void test_close_rule(void) {
    double inf = INFINITY;
    ONYX_CHECK(cli_compare_close(NAN, NAN, 0, 0));
    ONYX_CHECK(!cli_compare_close(1.0, NAN, 1e9, 1e9));
    ONYX_CHECK(!cli_compare_close(NAN, 1.0, 1e9, 1e9));
    ONYX_CHECK(cli_compare_close(inf, inf, 0, 0));
    ONYX_CHECK(cli_compare_close(-inf, -inf, 0, 0));
    ONYX_CHECK(!cli_compare_close(-inf, inf, 1e9, 1e9));
    ONYX_CHECK(!cli_compare_close(1e308, inf, 1e9, 1e9)); /* a huge finite value is not infinity */
    ONYX_CHECK(!cli_compare_close(inf, 1e308, 1e9, 1e9));
    /* |1.0009 - 1| = 9e-4 <= 0 + 1e-3 * 1; |1.0011 - 1| = 1.1e-3 > 1e-3 */
    ONYX_CHECK(cli_compare_close(1.0009, 1.0, 0, 1e-3));
    ONYX_CHECK(!cli_compare_close(1.0011, 1.0, 0, 1e-3));
    /* rtol scales with the expected value, not the computed one: |0 - 1e-7| <= 1e-7 + 0 */
    ONYX_CHECK(cli_compare_close(0.0, 1e-7, 1e-7, 1e-3));
    ONYX_CHECK(!cli_compare_close(0.0, 2e-7, 1e-7, 1e-3));
}

static void test_default_tolerances(void) {
    double atol, rtol;
    cli_compare_default_tolerance(ONYX_DTYPE_FLOAT32, &atol, &rtol);
    ONYX_CHECK(atol == 1e-7 && rtol == 1e-3);
    cli_compare_default_tolerance(ONYX_DTYPE_FLOAT64, &atol, &rtol);
    ONYX_CHECK(atol == 1e-7 && rtol == 1e-3);
    cli_compare_default_tolerance(ONYX_DTYPE_FLOAT16, &atol, &rtol);
    ONYX_CHECK(atol == 1e-3 && rtol == 1e-2);
    cli_compare_default_tolerance(ONYX_DTYPE_BFLOAT16, &atol, &rtol);
    ONYX_CHECK(atol == 1e-3 && rtol == 1e-2);
    cli_compare_default_tolerance(ONYX_DTYPE_INT64, &atol, &rtol);
    ONYX_CHECK(atol == 0 && rtol == 0);
}

static void test_first_bad_and_max_diff(void) {
    int64_t dims[2] = {2, 3};
    float expected_values[6] = {1, 2, 3, 4, 5, 6};
    /* with atol 0.01: element 3 passes (|4.002 - 4| = 2e-3), element 4 (index [1,1]) is off by
     * 0.25 and element 5 (index [1,2]) by 0.5: 2 bad, the first is 4, the max diff is 0.5 */
    float got_values[6] = {1, 2, 3, 4.002f, 5.25f, 6.5f};
    onyx_tensor *expected = make_f32(dims, 2, expected_values), *got = make_f32(dims, 2, got_values);
    cli_compare_result r;
    ONYX_CHECK(!cli_compare_tensors(got, expected, 0.01, 0, &r));
    ONYX_CHECK_INT(r.verdict, CLI_COMPARE_VALUE);
    ONYX_CHECK_INT(r.first_bad, 4);
    ONYX_CHECK_INT(r.bad_count, 2);
    ONYX_CHECK_CLOSE(r.got_value, 5.25, 0, 0);
    ONYX_CHECK_CLOSE(r.expected_value, 5.0, 0, 0);
    ONYX_CHECK_CLOSE(r.max_abs_diff, 0.5, 0, 0);
    ONYX_CHECK(strstr(r.message, "element 4 (index [1,1]) got 5.25 expected 5") != NULL);
    ONYX_CHECK(strstr(r.message, "max abs diff 0.5 (atol 0.01, rtol 0)") != NULL);
    ONYX_CHECK(strstr(r.message, "2 elements differ") != NULL);
    /* with atol 1 everything passes and the message is empty */
    ONYX_CHECK(cli_compare_tensors(got, expected, 1.0, 0, &r));
    ONYX_CHECK_INT(r.verdict, CLI_COMPARE_EQUAL);
    ONYX_CHECK_INT(r.first_bad, -1);
    ONYX_CHECK(r.message[0] == '\0');
    onyx_tensor_destroy(expected);
    onyx_tensor_destroy(got);
}

static void test_nan_and_inf_elements(void) {
    int64_t dims[1] = {4};
    float expected_values[4] = {NAN, INFINITY, -INFINITY, 1};
    float same[4] = {NAN, INFINITY, -INFINITY, 1};
    float nan_for_number[4] = {NAN, INFINITY, -INFINITY, NAN};
    float wrong_inf_sign[4] = {NAN, -INFINITY, -INFINITY, 3};
    onyx_tensor *expected = make_f32(dims, 1, expected_values);
    onyx_tensor *got = make_f32(dims, 1, same);
    cli_compare_result r;
    ONYX_CHECK(cli_compare_tensors(got, expected, 0, 0, &r));
    onyx_tensor_destroy(got);
    got = make_f32(dims, 1, nan_for_number);
    ONYX_CHECK(!cli_compare_tensors(got, expected, 1e9, 1e9, &r));
    ONYX_CHECK_INT(r.first_bad, 3);
    ONYX_CHECK_CLOSE(r.max_abs_diff, 0, 0, 0); /* no element is finite on both sides and different */
    onyx_tensor_destroy(got);
    got = make_f32(dims, 1, wrong_inf_sign);
    /* element 1 (+inf vs -inf) is the first bad; the max finite diff is |3 - 1| = 2 */
    ONYX_CHECK(!cli_compare_tensors(got, expected, 0, 0, &r));
    ONYX_CHECK_INT(r.first_bad, 1);
    ONYX_CHECK_INT(r.bad_count, 2);
    ONYX_CHECK_CLOSE(r.max_abs_diff, 2, 0, 0);
    onyx_tensor_destroy(got);
    onyx_tensor_destroy(expected);
}

static void test_float16(void) {
    /* bits: 0x3C00 = 1.0, 0x3C01 = 1.0009765625, 0x3E00 = 1.5, 0x7C00 = +inf, 0x7E00 = NaN */
    uint16_t expected_bits[4] = {0x3C00, 0x3C00, 0x7C00, 0x7E00};
    uint16_t close_bits[4] = {0x3C01, 0x3C00, 0x7C00, 0x7E00};
    uint16_t far_bits[4] = {0x3C00, 0x3E00, 0x7C00, 0x7E00};
    onyx_tensor *expected = make_raw(ONYX_DTYPE_FLOAT16, 4, expected_bits);
    onyx_tensor *close_t = make_raw(ONYX_DTYPE_FLOAT16, 4, close_bits);
    onyx_tensor *far_t = make_raw(ONYX_DTYPE_FLOAT16, 4, far_bits);
    double atol, rtol;
    cli_compare_default_tolerance(ONYX_DTYPE_FLOAT16, &atol, &rtol);
    cli_compare_result r;
    /* one ulp at 1.0 is 9.77e-4 <= 1e-3 + 1e-2 */
    ONYX_CHECK(cli_compare_tensors(close_t, expected, atol, rtol, &r));
    ONYX_CHECK(!cli_compare_tensors(far_t, expected, atol, rtol, &r));
    ONYX_CHECK_INT(r.first_bad, 1);
    ONYX_CHECK_CLOSE(r.got_value, 1.5, 0, 0);
    ONYX_CHECK_CLOSE(r.max_abs_diff, 0.5, 0, 0);
    onyx_tensor_destroy(expected);
    onyx_tensor_destroy(close_t);
    onyx_tensor_destroy(far_t);
}

static void test_integers_exact(void) {
    /* 2^53 and 2^53 + 1 are one double apart only in int64: they must differ */
    int64_t expected_values[3] = {7, INT64_C(9007199254740992), -3};
    int64_t got_values[3] = {7, INT64_C(9007199254740993), -3};
    onyx_tensor *expected = make_raw(ONYX_DTYPE_INT64, 3, expected_values);
    onyx_tensor *got = make_raw(ONYX_DTYPE_INT64, 3, got_values);
    cli_compare_result r;
    ONYX_CHECK(!cli_compare_tensors(got, expected, 1e9, 1e9, &r)); /* tolerances do not apply */
    ONYX_CHECK_INT(r.first_bad, 1);
    ONYX_CHECK(strstr(r.message, "got 9007199254740993 expected 9007199254740992") != NULL);
    ONYX_CHECK(cli_compare_tensors(expected, expected, 0, 0, &r));
    onyx_tensor_destroy(expected);
    onyx_tensor_destroy(got);

    uint8_t bool_expected[3] = {1, 0, 1}, bool_got[3] = {1, 1, 1};
    expected = make_raw(ONYX_DTYPE_BOOL, 3, bool_expected);
    got = make_raw(ONYX_DTYPE_BOOL, 3, bool_got);
    ONYX_CHECK(!cli_compare_tensors(got, expected, 1, 1, &r));
    ONYX_CHECK_INT(r.first_bad, 1);
    ONYX_CHECK_INT(r.bad_count, 1);
    onyx_tensor_destroy(expected);
    onyx_tensor_destroy(got);
}

static void test_strings(void) {
    int64_t n = 2;
    onyx_tensor *expected = NULL, *got = NULL;
    ONYX_CHECK_OK(onyx_tensor_create(ONYX_DTYPE_STRING, &n, 1, &expected));
    ONYX_CHECK_OK(onyx_tensor_create(ONYX_DTYPE_STRING, &n, 1, &got));
    if (!expected || !got) return;
    onyx_tensor_set_string(expected, 0, "abc", 3);
    onyx_tensor_set_string(expected, 1, "de", 2);
    onyx_tensor_set_string(got, 0, "abc", 3);
    onyx_tensor_set_string(got, 1, "de\0", 3); /* one more byte: differs */
    cli_compare_result r;
    ONYX_CHECK(!cli_compare_tensors(got, expected, 0, 0, &r));
    ONYX_CHECK_INT(r.first_bad, 1);
    ONYX_CHECK(strstr(r.message, "got \"de\\x00\" expected \"de\"") != NULL);
    onyx_tensor_set_string(got, 1, "de", 2);
    ONYX_CHECK(cli_compare_tensors(got, expected, 0, 0, &r));
    onyx_tensor_destroy(expected);
    onyx_tensor_destroy(got);
}

static void test_dtype_and_shape(void) {
    int64_t dims23[2] = {2, 3}, dims32[2] = {3, 2}, dims6[1] = {6};
    float values[6] = {0};
    onyx_tensor *a = make_f32(dims23, 2, values), *b = make_f32(dims32, 2, values), *c = make_f32(dims6, 1, values);
    int64_t ints[6] = {0};
    onyx_tensor *d = make_raw(ONYX_DTYPE_INT64, 6, ints);
    cli_compare_result r;
    ONYX_CHECK(!cli_compare_tensors(b, a, 1, 1, &r));
    ONYX_CHECK_INT(r.verdict, CLI_COMPARE_SHAPE);
    ONYX_CHECK(strstr(r.message, "shape float32[2,3] expected, got float32[3,2]") != NULL);
    ONYX_CHECK(!cli_compare_tensors(c, a, 1, 1, &r));
    ONYX_CHECK_INT(r.verdict, CLI_COMPARE_SHAPE);
    ONYX_CHECK(!cli_compare_tensors(d, c, 1, 1, &r));
    ONYX_CHECK_INT(r.verdict, CLI_COMPARE_DTYPE);
    ONYX_CHECK(strstr(r.message, "dtype float32 expected, got int64") != NULL);
    onyx_tensor_destroy(a);
    onyx_tensor_destroy(b);
    onyx_tensor_destroy(c);
    onyx_tensor_destroy(d);
}

static void test_empty_and_scalar(void) {
    int64_t zero[2] = {0, 3};
    onyx_tensor *e1 = NULL, *e2 = NULL;
    ONYX_CHECK_OK(onyx_tensor_create(ONYX_DTYPE_FLOAT32, zero, 2, &e1));
    ONYX_CHECK_OK(onyx_tensor_create(ONYX_DTYPE_FLOAT32, zero, 2, &e2));
    cli_compare_result r;
    ONYX_CHECK(e1 && e2 && cli_compare_tensors(e1, e2, 0, 0, &r));
    float one = 1, two = 2;
    onyx_tensor *s1 = make_f32(NULL, 0, &one), *s2 = make_f32(NULL, 0, &two);
    ONYX_CHECK(s1 && s2 && !cli_compare_tensors(s2, s1, 0, 0, &r));
    ONYX_CHECK(strstr(r.message, "element 0 (index []) got 2 expected 1") != NULL);
    onyx_tensor_destroy(e1);
    onyx_tensor_destroy(e2);
    onyx_tensor_destroy(s1);
    onyx_tensor_destroy(s2);
}

int main(void) {
    ONYX_TEST_RUN(test_close_rule);
    ONYX_TEST_RUN(test_default_tolerances);
    ONYX_TEST_RUN(test_first_bad_and_max_diff);
    ONYX_TEST_RUN(test_nan_and_inf_elements);
    ONYX_TEST_RUN(test_float16);
    ONYX_TEST_RUN(test_integers_exact);
    ONYX_TEST_RUN(test_strings);
    ONYX_TEST_RUN(test_dtype_and_shape);
    ONYX_TEST_RUN(test_empty_and_scalar);
    return onyx_test_finish();
}
