/*
 * harness.h - the one C test harness: checks that say what failed and where.
 *
 * A test file defines test functions and a main that calls ONYX_TEST_RUN(fn) for each, then
 * returns onyx_test_finish(). A failed check prints file:line, the expression and the values,
 * and the test continues to the end of that function. Exit code: 0 all passed, 1 any failed,
 * 77 (CTest "skipped") when the test called onyx_test_skip().
 */
#ifndef ONYX_TESTS_HARNESS_H
#define ONYX_TESTS_HARNESS_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onyx/onyx.h"

static int onyx_test_failures;
static int onyx_test_checks;
static int onyx_test_skipped;
static const char *onyx_test_current = "";

#define ONYX_CHECK(cond)                                                                          \
    do {                                                                                          \
        onyx_test_checks++;                                                                       \
        if (!(cond)) {                                                                            \
            onyx_test_failures++;                                                                 \
            fprintf(stderr, "FAIL %s: %s:%d: %s\n", onyx_test_current, __FILE__, __LINE__, #cond); \
        }                                                                                         \
    } while (0)

/* Check an onyx call returned ONYX_OK; prints the status and message otherwise. */
#define ONYX_CHECK_OK(expr)                                                                       \
    do {                                                                                          \
        onyx_test_checks++;                                                                       \
        onyx_status check_st_ = (expr);                                                           \
        if (check_st_ != ONYX_OK) {                                                               \
            onyx_test_failures++;                                                                 \
            fprintf(stderr, "FAIL %s: %s:%d: %s returned %s: %s\n", onyx_test_current, __FILE__,  \
                    __LINE__, #expr, onyx_status_name(check_st_), onyx_last_error());             \
        }                                                                                         \
    } while (0)

/* Check a call failed with the given status and that its message contains text. */
#define ONYX_CHECK_ERROR(expr, status, text)                                                      \
    do {                                                                                          \
        onyx_test_checks++;                                                                       \
        onyx_status check_st_ = (expr);                                                           \
        if (check_st_ != (status) || !strstr(onyx_last_error(), (text))) {                        \
            onyx_test_failures++;                                                                 \
            fprintf(stderr, "FAIL %s: %s:%d: %s returned %s \"%s\", expected %s containing \"%s\"\n", \
                    onyx_test_current, __FILE__, __LINE__, #expr, onyx_status_name(check_st_),    \
                    onyx_last_error(), onyx_status_name(status), (text));                         \
        }                                                                                         \
    } while (0)

#define ONYX_CHECK_INT(got, want)                                                                 \
    do {                                                                                          \
        onyx_test_checks++;                                                                       \
        long long got_ = (long long)(got), want_ = (long long)(want);                             \
        if (got_ != want_) {                                                                      \
            onyx_test_failures++;                                                                 \
            fprintf(stderr, "FAIL %s: %s:%d: %s == %lld, expected %lld\n", onyx_test_current,     \
                    __FILE__, __LINE__, #got, got_, want_);                                       \
        }                                                                                         \
    } while (0)

/* |got - want| <= atol + rtol * |want|, NaN equal to NaN, infinities exact. */
#define ONYX_CHECK_CLOSE(got, want, atol, rtol)                                                   \
    do {                                                                                          \
        onyx_test_checks++;                                                                       \
        double g_ = (double)(got), w_ = (double)(want);                                           \
        int ok_ = (isnan(g_) && isnan(w_)) || (isinf(w_) ? g_ == w_ : fabs(g_ - w_) <= (atol) + (rtol) * fabs(w_)); \
        if (!ok_) {                                                                               \
            onyx_test_failures++;                                                                 \
            fprintf(stderr, "FAIL %s: %s:%d: %s == %.9g, expected %.9g (atol %g rtol %g)\n",      \
                    onyx_test_current, __FILE__, __LINE__, #got, g_, w_, (double)(atol), (double)(rtol)); \
        }                                                                                         \
    } while (0)

/* Compare n floats; reports the first bad index and the max difference. */
static inline void onyx_check_floats_at(const char *file, int line, const float *got, const float *want,
                                        long n, double atol, double rtol) {
    onyx_test_checks++;
    long first_bad = -1;
    double max_diff = 0;
    for (long i = 0; i < n; i++) {
        double g = got[i], w = want[i];
        int ok = (isnan(g) && isnan(w)) || (isinf(w) ? g == w : fabs(g - w) <= atol + rtol * fabs(w));
        if (!ok && first_bad < 0) first_bad = i;
        if (!isnan(g - w) && fabs(g - w) > max_diff) max_diff = fabs(g - w);
    }
    if (first_bad >= 0) {
        onyx_test_failures++;
        fprintf(stderr, "FAIL %s: %s:%d: element %ld is %.9g, expected %.9g (max diff %g, atol %g rtol %g)\n",
                onyx_test_current, file, line, first_bad, got[first_bad], want[first_bad], max_diff, atol, rtol);
    }
}
#define ONYX_CHECK_FLOATS(got, want, n, atol, rtol) onyx_check_floats_at(__FILE__, __LINE__, got, want, n, atol, rtol)

#define ONYX_TEST_RUN(fn)                                                                         \
    do {                                                                                          \
        onyx_test_current = #fn;                                                                  \
        int before_ = onyx_test_failures;                                                         \
        fn();                                                                                     \
        fprintf(stderr, "%s %s\n", onyx_test_failures == before_ ? "ok  " : "FAIL", #fn);         \
    } while (0)

/* The whole file at path, NUL-terminated, from malloc (the caller frees); NULL when it cannot
 * be read. */
static inline char *onyx_test_read_text(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = size >= 0 ? malloc((size_t)size + 1) : NULL;
    size_t got = text ? fread(text, 1, (size_t)size, f) : 0;
    fclose(f);
    if (!text || got != (size_t)size) {
        free(text);
        return NULL;
    }
    text[size] = 0;
    return text;
}

/* Nodes of s's graph (after optimisation) whose op type is op. */
static inline size_t onyx_test_count_op(const onyx_session *s, const char *op) {
    size_t n = 0;
    for (size_t i = 0; i < onyx_session_node_count(s); i++) {
        const char *type, *name, *provider;
        if (onyx_session_node_info(s, i, &type, &name, &provider) == ONYX_OK && !strcmp(type, op)) n++;
    }
    return n;
}

static inline void onyx_test_skip(const char *why) {
    fprintf(stderr, "SKIP %s: %s\n", onyx_test_current, why);
    onyx_test_skipped = 1;
}

/* 1, with the reason printed, when this machine (or build) has no cuda provider: GPU tests then
 * exit 77 (skipped). The probe is a session on empty bytes, which fails before loading when the
 * provider is missing. */
static inline int onyx_test_cuda_missing(void) {
    onyx_session_options o;
    onyx_session_options_init(&o);
    o.providers = "cuda";
    onyx_session *probe = NULL;
    if (onyx_session_create_from_memory("", 0, &o, &probe) != ONYX_ERR_NO_PROVIDER) {
        onyx_session_destroy(probe);
        return 0;
    }
    printf("skipping: %s\n", onyx_last_error());
    return 1;
}

/* A (rows, cols) int64 host tensor holding values, or NULL when out of memory. */
static inline onyx_tensor *onyx_test_int64_matrix(const int64_t *values, int64_t rows, int64_t cols) {
    int64_t dims[2] = {rows, cols};
    onyx_tensor *t = NULL;
    onyx_tensor_create(ONYX_DTYPE_INT64, dims, 2, &t);
    if (t) memcpy(onyx_tensor_data(t), values, (size_t)(rows * cols) * sizeof *values);
    return t;
}

static inline int onyx_test_finish(void) {
    fprintf(stderr, "%d checks, %d failed\n", onyx_test_checks, onyx_test_failures);
    if (onyx_test_failures) return 1;
    if (onyx_test_skipped && onyx_test_checks == 0) return 77;
    return 0;
}

#endif
