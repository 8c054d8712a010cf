/*
 * test_profile.c - profiling and run totals (onyx_session_op_times, onyx_session_run_totals)
 * over the T5 fixture's generate loop, whose merged decoder runs each step inside an If branch:
 * the per-op times reach the branch's nodes, an If counts only its own time, the parts add up
 * to the top-level nodes' times, the totals count the decoder's runs, a reset starts both from
 * zero, and the option's values are checked. GPT2's loop shows the static memo skipping Shape
 * nodes whose input kept its shape.
 */
#include <stdint.h>
#include <string.h>

#include "core/alloc.h"
#include "harness.h"
#include "model/model_internal.h"
#include "onyx/model.h"

#define T5_DIR ONYX_SOURCE_DIR "/tests/models/t5-ts17"
#define NEW_TOKENS 6
#define MAX_OPS 256

static onyx_model *load_t5(int profiling) {
    onyx_model_options o;
    onyx_model_options_init(&o);
    o.session.providers = "cpu";
    o.session.enable_profiling = profiling;
    onyx_model *m = NULL;
    ONYX_CHECK_OK(onyx_model_load(T5_DIR, ONYX_TASK_AUTO, &o, &m));
    return m;
}

static int generate(onyx_model *m) {
    onyx_generation_config g;
    if (onyx_model_generation_config(m, &g) != ONYX_OK) return -1;
    g.max_new_tokens = g.min_new_tokens = NEW_TOKENS;
    g.num_beams = 1;
    g.do_sample = 0;
    int64_t ids[5] = {5, 17, 3, 42, 9}, *out = NULL, rows = 0, length = 0;
    onyx_status st = onyx_model_generate(m, ids, NULL, 1, 5, &g, &out, &rows, &length);
    onyx_ids_free(out);
    return st == ONYX_OK ? 0 : -1;
}

static void check_profile(int mode) {
    onyx_model *m = load_t5(mode);
    if (!m) return;
    ONYX_CHECK_INT(generate(m), 0);
    onyx_session *dec = m->decoder;
    onyx_run_totals t;
    onyx_run_totals_init(&t);
    ONYX_CHECK_OK(onyx_session_run_totals(dec, &t));
    ONYX_CHECK_INT(t.runs, NEW_TOKENS); /* one decoder run per new token */
    ONYX_CHECK(t.planned_runs <= t.runs);
    ONYX_CHECK(t.nodes_run > 0);
    ONYX_CHECK(t.host_ns > 0);

    onyx_op_time *ops = onyx_malloc(MAX_OPS * sizeof *ops);
    size_t count = 0;
    ONYX_CHECK(ops != NULL);
    if (!ops) goto out;
    ONYX_CHECK_OK(onyx_session_op_times(dec, ops, MAX_OPS, &count));
    /* The main graph of a merged decoder is an If and little else; the op times also hold the
     * nodes of its branches. */
    uint64_t nodes = 0, parts = 0, top = 0, if_self = 0, if_total = 0;
    int matmuls = 0;
    for (size_t k = 0; k < count; k++) {
        nodes += ops[k].nodes;
        parts += ops[k].total_ns;
        if (!strcmp(ops[k].op_type, "MatMul")) matmuls = 1;
        if (!strcmp(ops[k].op_type, "If")) if_self += ops[k].total_ns;
        ONYX_CHECK(ops[k].calls <= ops[k].nodes * t.runs);
        ONYX_CHECK(!strcmp(ops[k].provider, "cpu"));
        if (k) ONYX_CHECK(ops[k - 1].total_ns >= ops[k].total_ns); /* largest first */
    }
    ONYX_CHECK(matmuls);
    ONYX_CHECK(nodes > onyx_session_node_count(dec));
    for (size_t i = 0; i < onyx_session_node_count(dec); i++) {
        const char *op;
        uint64_t ns = 0, calls = 0;
        ONYX_CHECK_OK(onyx_session_node_info(dec, i, &op, NULL, NULL));
        ONYX_CHECK_OK(onyx_session_node_time(dec, i, &ns, &calls));
        top += ns;
        if (!strcmp(op, "If")) if_total += ns;
    }
    /* An If's own time leaves its branch out; the parts add up to the top-level times. */
    ONYX_CHECK(if_total > 0);
    ONYX_CHECK(if_self < if_total);
    ONYX_CHECK_INT(parts, top);

    /* Too small a buffer keeps the largest entries that fit, no more. */
    if (count > 2) {
        onyx_op_time largest[2] = {ops[0], ops[1]};
        size_t few = 0;
        ONYX_CHECK_OK(onyx_session_op_times(dec, ops, 2, &few));
        ONYX_CHECK_INT(few, 2);
        for (int k = 0; k < 2; k++) {
            ONYX_CHECK(!strcmp(ops[k].op_type, largest[k].op_type) && !strcmp(ops[k].provider, largest[k].provider));
            ONYX_CHECK_INT(ops[k].total_ns, largest[k].total_ns);
        }
    }

    onyx_session_reset_run_totals(dec);
    ONYX_CHECK_OK(onyx_session_run_totals(dec, &t));
    ONYX_CHECK_INT(t.runs, 0);
    ONYX_CHECK_INT(t.host_ns, 0);
    ONYX_CHECK_OK(onyx_session_op_times(dec, ops, MAX_OPS, &count));
    for (size_t k = 0; k < count; k++) {
        ONYX_CHECK_INT(ops[k].total_ns, 0);
        ONYX_CHECK_INT(ops[k].calls, 0);
    }
    ONYX_CHECK_INT(generate(m), 0);
    ONYX_CHECK_OK(onyx_session_run_totals(dec, &t));
    ONYX_CHECK_INT(t.runs, NEW_TOKENS);
out:
    onyx_free(ops);
    onyx_model_destroy(m);
}

static void test_profile_host(void) { check_profile(ONYX_PROFILE_HOST); }

static void test_profile_nodes(void) { check_profile(ONYX_PROFILE_NODES); }

static void test_totals_without_profiling(void) {
    onyx_model *m = load_t5(ONYX_PROFILE_OFF);
    if (!m) return;
    ONYX_CHECK_INT(generate(m), 0);
    onyx_run_totals t;
    onyx_run_totals_init(&t);
    ONYX_CHECK_OK(onyx_session_run_totals(m->decoder, &t));
    ONYX_CHECK_INT(t.runs, NEW_TOKENS);
    ONYX_CHECK_OK(onyx_session_run_totals(m->encoder, &t));
    ONYX_CHECK_INT(t.runs, 1);
    onyx_op_time op;
    size_t count = 7;
    ONYX_CHECK_ERROR(onyx_session_op_times(m->decoder, &op, 1, &count), ONYX_ERR_INVALID_ARGUMENT, "profiling is off");
    ONYX_CHECK_INT(count, 0);
    t.struct_size = 3;
    ONYX_CHECK_ERROR(onyx_session_run_totals(m->decoder, &t), ONYX_ERR_INVALID_ARGUMENT, "struct_size");
    onyx_model_destroy(m);
}

/* A decode loop's recording runs skip the Shape nodes whose input kept its shape (the static
 * memo): GPT2's per-token activations are (1, 1, C) at every step; only the Shapes of what grows
 * with the past run again. */
static void test_shape_nodes_skipped(void) {
    onyx_model_options o;
    onyx_model_options_init(&o);
    o.session.providers = "cpu";
    o.session.enable_profiling = ONYX_PROFILE_HOST;
    onyx_model *m = NULL;
    ONYX_CHECK_OK(onyx_model_load(ONYX_SOURCE_DIR "/tests/models/gpt2-ts17", ONYX_TASK_AUTO, &o, &m));
    if (!m) return;
    ONYX_CHECK_INT(generate(m), 0);
    onyx_run_totals t;
    onyx_run_totals_init(&t);
    ONYX_CHECK_OK(onyx_session_run_totals(m->decoder, &t));
    onyx_op_time *ops = onyx_malloc(MAX_OPS * sizeof *ops);
    size_t count = 0;
    ONYX_CHECK(ops != NULL);
    if (ops) ONYX_CHECK_OK(onyx_session_op_times(m->decoder, ops, MAX_OPS, &count));
    uint64_t shape_nodes = 0, shape_calls = 0;
    for (size_t k = 0; k < count; k++)
        if (!strcmp(ops[k].op_type, "Shape")) shape_nodes = ops[k].nodes, shape_calls = ops[k].calls;
    uint64_t recording = t.runs - t.planned_runs;
    fprintf(stderr, "  %llu Shape nodes, %llu calls over %llu recording runs\n", (unsigned long long)shape_nodes,
            (unsigned long long)shape_calls, (unsigned long long)recording);
    ONYX_CHECK(shape_nodes > 20);
    ONYX_CHECK(recording >= 2);
    ONYX_CHECK(shape_calls > 0);                                 /* the first run, and what grows */
    ONYX_CHECK(2 * shape_calls < shape_nodes * recording);       /* most are skipped */
    onyx_free(ops);
    onyx_model_destroy(m);
}

static void test_bad_mode(void) {
    onyx_session_options o;
    onyx_session_options_init(&o);
    o.enable_profiling = 3;
    onyx_session *s = NULL;
    ONYX_CHECK_ERROR(onyx_session_create(T5_DIR "/encoder_model.onnx", &o, &s), ONYX_ERR_INVALID_ARGUMENT,
                     "enable_profiling is 3");
    ONYX_CHECK(s == NULL);
}

int main(void) {
    int64_t blocks = onyx_alloc_live();
    ONYX_TEST_RUN(test_profile_host);
    ONYX_TEST_RUN(test_profile_nodes);
    ONYX_TEST_RUN(test_totals_without_profiling);
    ONYX_TEST_RUN(test_shape_nodes_skipped);
    ONYX_TEST_RUN(test_bad_mode);
    ONYX_CHECK_INT(onyx_alloc_live(), blocks);
    return onyx_test_finish();
}
