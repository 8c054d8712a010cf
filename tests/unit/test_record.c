/*
 * test_record.c - the executor's side of recording runs as graphs (CUDA graphs on the cuda
 * provider), without a GPU: the CPU provider is given capture hooks that count their calls and
 * fail when told to, and runs through a session must then:
 *  - never be recorded on the session's first run, or when profiling;
 *  - call capture_node once for each node the provider ran, and report graph_launched;
 *  - go again without a recording when capture_end fails (the outputs stay right), and stop
 *    asking after three unusable recordings in a row, or three refusals of capture_begin;
 *  - when the run itself fails while recorded: end the recording without running it
 *    (capture_end's run = 0) and return the error an unrecorded run returns.
 */
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "harness.h"
#include "relu_matmul_case.h"
#include "runtime/session_internal.h"

static struct {
    int begins, begin_refusals_left, nodes, ends, ends_run0, end_failures_left;
    int recording;
} hooks;

static onyx_status mock_begin(onyx_provider *p) {
    hooks.begins++;
    if (hooks.begin_refusals_left > 0) {
        hooks.begin_refusals_left--;
        return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "mock: refused");
    }
    hooks.recording = 1;
    return ONYX_OK;
}

static onyx_status mock_node(onyx_provider *p) {
    if (hooks.recording) hooks.nodes++;
    return ONYX_OK;
}

static onyx_status mock_end(onyx_provider *p, int run, uint64_t *instantiations) {
    hooks.ends++;
    hooks.ends_run0 += run == 0;
    hooks.recording = 0;
    if (instantiations) *instantiations = 1;
    if (hooks.end_failures_left > 0) {
        hooks.end_failures_left--;
        return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "mock: the recording is unusable");
    }
    return ONYX_OK;
}

static onyx_provider_ops mock_ops;

/* The session's CPU provider with the hooks; returns its own ops to restore. */
static const onyx_provider_ops *hook(onyx_session *s) {
    onyx_provider *p = s->providers[0];
    const onyx_provider_ops *own = p->ops;
    mock_ops = *own;
    mock_ops.capture_begin = mock_begin;
    mock_ops.capture_node = mock_node;
    mock_ops.capture_end = mock_end;
    p->ops = &mock_ops;
    memset(&hooks, 0, sizeof hooks);
    return own;
}

/* The relu_matmul model, with enable_profiling = profile. */
static onyx_session *open_model(int profile) {
    size_t size = 0;
    uint8_t *bytes = relu_matmul_model(&size);
    onyx_session_options o;
    onyx_session_options_init(&o);
    o.enable_profiling = profile;
    onyx_session *s = NULL;
    if (bytes) ONYX_CHECK_OK(onyx_session_create_from_memory(bytes, size, &o, &s));
    onyx_free(bytes);
    return s;
}

/* One run of s with b (x->b or x->bad_b); checks y = relu(a) b when it succeeds. Returns the
 * run's status; *launched gets onyx_run_stats.graph_launched. */
static onyx_status run(onyx_session *s, const relu_matmul_operands *x, const onyx_tensor *b, int *launched) {
    const char *in_names[2] = {"a", "b"}, *out_names[1] = {"y"};
    const onyx_tensor *ins[2] = {x->a, b};
    onyx_tensor *y = NULL;
    onyx_status st = onyx_session_run(s, in_names, ins, 2, out_names, 1, &y);
    onyx_run_stats stats;
    onyx_run_stats_init(&stats);
    onyx_session_last_run_stats(s, &stats);
    *launched = stats.graph_launched;
    if (st == ONYX_OK && y) {
        const float *a = onyx_tensor_data(x->a), *bv = onyx_tensor_data((onyx_tensor *)b), *yv = onyx_tensor_data(y);
        int bad = 0;
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 4; j++) {
                float want = 0.0f;
                for (int k = 0; k < 3; k++) want += (a[i * 3 + k] > 0 ? a[i * 3 + k] : 0.0f) * bv[k * 4 + j];
                bad += yv[i * 4 + j] != want;
            }
        ONYX_CHECK_INT(bad, 0);
    }
    onyx_tensor_destroy(y);
    return st;
}

static void test_recorded_runs(void) {
    onyx_session *s = open_model(0);
    relu_matmul_operands x;
    relu_matmul_operands_make(&x);
    if (!s || !x.bad_b) goto done;
    const onyx_provider_ops *own = hook(s);
    int launched = -1;
    ONYX_CHECK_OK(run(s, &x, x.b, &launched)); /* the first run: never recorded */
    ONYX_CHECK_INT(launched, 0);
    ONYX_CHECK_INT(hooks.begins, 0);
    ONYX_CHECK_OK(run(s, &x, x.b, &launched));
    ONYX_CHECK_INT(launched, 1);
    ONYX_CHECK_INT(hooks.begins, 1);
    ONYX_CHECK_INT(hooks.ends, 1);
    ONYX_CHECK_INT(hooks.ends_run0, 0);
    onyx_run_stats stats;
    onyx_run_stats_init(&stats);
    ONYX_CHECK_OK(onyx_session_last_run_stats(s, &stats));
    ONYX_CHECK_INT(hooks.nodes, (int)stats.nodes_run); /* one call per node run */
    ONYX_CHECK(stats.nodes_run >= 2);
    ONYX_CHECK_INT(stats.graph_instantiations, 1);
    /* An unusable recording: the run goes again unrecorded, with the right outputs. */
    hooks.end_failures_left = 1;
    ONYX_CHECK_OK(run(s, &x, x.b, &launched));
    ONYX_CHECK_INT(launched, 0);
    ONYX_CHECK_INT(hooks.ends, 2);
    /* A run that fails while recorded: dropped (run = 0), the unrecorded run's error. */
    ONYX_CHECK(run(s, &x, x.bad_b, &launched) != ONYX_OK);
    char recorded_error[512];
    snprintf(recorded_error, sizeof recorded_error, "%s", onyx_last_error());
    ONYX_CHECK_INT(hooks.ends_run0, 1);
    ONYX_CHECK_INT(launched, 0);
    /* Two failures in a row so far; a success resets the count. */
    ONYX_CHECK_OK(run(s, &x, x.b, &launched));
    ONYX_CHECK_INT(launched, 1);
    /* Three unusable recordings in a row: no more recording. */
    hooks.end_failures_left = 3;
    for (int i = 0; i < 3; i++) ONYX_CHECK_OK(run(s, &x, x.b, &launched));
    int begins = hooks.begins;
    ONYX_CHECK_OK(run(s, &x, x.b, &launched));
    ONYX_CHECK_INT(launched, 0);
    ONYX_CHECK_INT(hooks.begins, begins);
    onyx_run_totals totals;
    onyx_run_totals_init(&totals);
    ONYX_CHECK_OK(onyx_session_run_totals(s, &totals));
    ONYX_CHECK_INT(totals.graph_runs, 2);
    ONYX_CHECK_INT(totals.graph_instantiations, 2);
    s->providers[0]->ops = own;
    /* The same failing run without hooks: the same error. */
    onyx_session *plain = open_model(0);
    if (plain) {
        ONYX_CHECK(run(plain, &x, x.b, &launched) == ONYX_OK);
        ONYX_CHECK(run(plain, &x, x.bad_b, &launched) != ONYX_OK);
        if (strcmp(onyx_last_error(), recorded_error) != 0) {
            onyx_test_failures++;
            fprintf(stderr, "FAIL %s: recorded run's error '%s', unrecorded '%s'\n", onyx_test_current, recorded_error,
                    onyx_last_error());
        }
        onyx_test_checks++;
    }
    onyx_session_destroy(plain);
done:
    relu_matmul_operands_free(&x);
    onyx_session_destroy(s);
}

static void test_refusals(void) {
    onyx_session *s = open_model(0);
    relu_matmul_operands x;
    relu_matmul_operands_make(&x);
    if (!s || !x.b) goto done;
    const onyx_provider_ops *own = hook(s);
    hooks.begin_refusals_left = 3;
    int launched = -1;
    for (int i = 0; i < 6; i++) {
        ONYX_CHECK_OK(run(s, &x, x.b, &launched));
        ONYX_CHECK_INT(launched, 0);
    }
    ONYX_CHECK_INT(hooks.begins, 3); /* runs 1-3 asked and were refused; later runs do not ask */
    ONYX_CHECK_INT(hooks.ends, 0);
    s->providers[0]->ops = own;
done:
    relu_matmul_operands_free(&x);
    onyx_session_destroy(s);
}

/* Profiled runs are never recorded (node times would time the recording). */
static void test_profiled_not_recorded(void) {
    onyx_session *s = open_model(ONYX_PROFILE_HOST);
    relu_matmul_operands x;
    relu_matmul_operands_make(&x);
    if (s && x.b) {
        const onyx_provider_ops *own = hook(s);
        int launched = -1;
        for (int i = 0; i < 3; i++) ONYX_CHECK_OK(run(s, &x, x.b, &launched));
        ONYX_CHECK_INT(hooks.begins, 0);
        s->providers[0]->ops = own;
    }
    relu_matmul_operands_free(&x);
    onyx_session_destroy(s);
}

int main(void) {
    ONYX_TEST_RUN(test_recorded_runs);
    ONYX_TEST_RUN(test_refusals);
    ONYX_TEST_RUN(test_profiled_not_recorded);
    return onyx_test_finish();
}
