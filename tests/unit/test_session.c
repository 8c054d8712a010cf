/*
 * test_session.c - the session API end to end on models/tiny-bert: outputs against the NumPy
 * references shipped with the model, memory plans (a steady-state run allocates nothing),
 * errors that name what is wrong, providers, and an allocation-failure loop over session
 * creation and run.
 */
#include <stdint.h>

#include "core/alloc.h"
#include "core/host_cache.h"
#include "harness.h"
#include "model/onnx_writer.h"
#include "onnx/loader.h"
#include "providers/provider.h"
#include "runtime/dim_expr.h"

#define MODEL_DIR ONYX_SOURCE_DIR "/models/tiny-bert"

static const char *input_names[3] = {"input_ids", "attention_mask", "token_type_ids"};
static const char *output_names[2] = {"logits", "last_hidden_state"};

typedef struct case_data {
    onyx_tensor *inputs[3];
    onyx_tensor *outputs[2];
} case_data;

static int load_case(int set, case_data *c) {
    char path[512];
    for (int k = 0; k < 3; k++) {
        snprintf(path, sizeof path, MODEL_DIR "/test_data_set_%d/input_%d.pb", set, k);
        if (onyx_onnx_read_tensor_file(path, &c->inputs[k], NULL) != ONYX_OK) return -1;
    }
    for (int k = 0; k < 2; k++) {
        snprintf(path, sizeof path, MODEL_DIR "/test_data_set_%d/output_%d.pb", set, k);
        if (onyx_onnx_read_tensor_file(path, &c->outputs[k], NULL) != ONYX_OK) return -1;
    }
    return 0;
}

static void free_case(case_data *c) {
    for (int k = 0; k < 3; k++) onyx_tensor_destroy(c->inputs[k]);
    for (int k = 0; k < 2; k++) onyx_tensor_destroy(c->outputs[k]);
}

static void check_outputs(onyx_tensor **got, const case_data *c) {
    for (int k = 0; k < 2; k++) {
        ONYX_CHECK(got[k] != NULL);
        if (!got[k]) continue;
        ONYX_CHECK_INT(onyx_tensor_dtype(got[k]), ONYX_DTYPE_FLOAT32);
        ONYX_CHECK_INT(onyx_tensor_numel(got[k]), onyx_tensor_numel(c->outputs[k]));
        ONYX_CHECK_INT(onyx_tensor_rank(got[k]), onyx_tensor_rank(c->outputs[k]));
        if (onyx_tensor_numel(got[k]) != onyx_tensor_numel(c->outputs[k])) continue;
        ONYX_CHECK_FLOATS((const float *)onyx_tensor_data(got[k]), (const float *)onyx_tensor_data(c->outputs[k]),
                          (long)onyx_tensor_numel(got[k]), 1e-4, 1e-3);
    }
}

static void test_metadata(void) {
    onyx_session *s = NULL;
    ONYX_CHECK_OK(onyx_session_create(MODEL_DIR "/model.onnx", NULL, &s));
    if (!s) return;
    ONYX_CHECK_INT(onyx_session_input_count(s), 3);
    ONYX_CHECK_INT(onyx_session_output_count(s), 2);
    onyx_value_info info;
    ONYX_CHECK_OK(onyx_session_input_info(s, 0, &info));
    ONYX_CHECK(strcmp(info.name, "input_ids") == 0);
    ONYX_CHECK_INT(info.dtype, ONYX_DTYPE_INT64);
    ONYX_CHECK_INT(info.rank, 2);
    ONYX_CHECK_INT(info.dims[0], -1);
    ONYX_CHECK(info.dim_params[0] && strcmp(info.dim_params[0], "batch_size") == 0);
    ONYX_CHECK(info.dim_params[1] && strcmp(info.dim_params[1], "sequence_length") == 0);
    ONYX_CHECK_OK(onyx_session_output_info(s, 0, &info));
    ONYX_CHECK(strcmp(info.name, "logits") == 0);
    ONYX_CHECK_INT(info.dims[1], 3);
    ONYX_CHECK_ERROR(onyx_session_input_info(s, 3, &info), ONYX_ERR_INVALID_ARGUMENT, "out of range");
    ONYX_CHECK(strcmp(onyx_session_providers(s), "cpu") == 0);
    /* Folding removes the constant-only nodes; every remaining node is placed on cpu. */
    ONYX_CHECK(onyx_session_node_count(s) > 0);
    const char *op, *name, *provider;
    ONYX_CHECK_OK(onyx_session_node_info(s, 0, &op, &name, &provider));
    ONYX_CHECK(strcmp(provider, "cpu") == 0);
    onyx_session_destroy(s);
}

/* Two runs on different inputs match their references; the first run's outputs, handed over in
 * buffers of their own, are still the first run's after the second. */
static void test_run_matches_reference(void) {
    case_data c0 = {0}, c1 = {0};
    ONYX_CHECK(load_case(0, &c0) == 0);
    ONYX_CHECK(load_case(1, &c1) == 0);
    onyx_session *s = NULL;
    ONYX_CHECK_OK(onyx_session_create(MODEL_DIR "/model.onnx", NULL, &s));
    if (s && c0.inputs[2] && c1.outputs[1]) {
        onyx_tensor *got[2] = {0}, *second[2] = {0};
        for (int round = 0; round < 2; round++) { /* the second round reuses the first's plan */
            ONYX_CHECK_OK(onyx_session_run(s, input_names, (const onyx_tensor *const *)c0.inputs, 3, output_names, 2, got));
            check_outputs(got, &c0);
            ONYX_CHECK_OK(
                onyx_session_run(s, input_names, (const onyx_tensor *const *)c1.inputs, 3, output_names, 2, second));
            check_outputs(second, &c1);
            check_outputs(got, &c0);
            for (int k = 0; k < 2; k++) onyx_tensor_destroy(got[k]), onyx_tensor_destroy(second[k]);
        }
    }
    onyx_session_destroy(s);
    free_case(&c0);
    free_case(&c1);
}

/* The second run with the same input shapes reuses the plan and allocates only the output
 * tensors handed to the caller (two allocations each: the struct and its data). */
static void test_steady_state_allocates_nothing(void) {
    case_data c0 = {0}, c1 = {0};
    ONYX_CHECK(load_case(0, &c0) == 0);
    ONYX_CHECK(load_case(1, &c1) == 0);
    onyx_session *s = NULL;
    ONYX_CHECK_OK(onyx_session_create(MODEL_DIR "/model.onnx", NULL, &s));
    if (!s || !c1.inputs[2]) goto done;
    onyx_tensor *got[2] = {0};
    onyx_run_stats stats;
    onyx_run_stats_init(&stats);
    for (int round = 0; round < 3; round++) {
        case_data *c = round == 1 ? &c1 : &c0;
        uint64_t before = onyx_alloc_count();
        ONYX_CHECK_OK(onyx_session_run(s, input_names, (const onyx_tensor *const *)c->inputs, 3, output_names, 2, got));
        uint64_t used = onyx_alloc_count() - before;
        ONYX_CHECK_OK(onyx_session_last_run_stats(s, &stats));
        check_outputs(got, c);
        for (int k = 0; k < 2; k++) onyx_tensor_destroy(got[k]);
        if (round < 2) {
            ONYX_CHECK_INT(stats.plan_reused, 0); /* a new shape: recording run */
            ONYX_CHECK(stats.host_allocations > 0);
        } else {
            ONYX_CHECK_INT(stats.plan_reused, 1); /* the shape of round 0 again */
            ONYX_CHECK_INT(stats.host_allocations, 0);
            ONYX_CHECK_INT(used, 4);
            ONYX_CHECK(stats.arena_bytes > 0);
            ONYX_CHECK(stats.nodes_run > 0);
        }
    }
done:
    onyx_session_destroy(s);
    free_case(&c0);
    free_case(&c1);
}

/* One run of the model on (1, length) zero inputs; *stats receives its counters. */
/* One run on ids of length zeros (mask ones); its outputs into keep (2, may be NULL). */
static onyx_status run_length_keep(onyx_session *s, int64_t length, onyx_run_stats *stats, onyx_tensor **keep) {
    int64_t dims[2] = {1, length};
    onyx_tensor *in[3] = {0}, *out[2] = {0};
    onyx_status st = ONYX_OK;
    for (int k = 0; k < 3 && st == ONYX_OK; k++) {
        st = onyx_tensor_create(ONYX_DTYPE_INT64, dims, 2, &in[k]);
        if (st == ONYX_OK && k == 1)
            for (int64_t t = 0; t < length; t++) ((int64_t *)onyx_tensor_data(in[k]))[t] = 1;
    }
    if (st == ONYX_OK) st = onyx_session_run(s, input_names, (const onyx_tensor *const *)in, 3, output_names, 2, out);
    if (st == ONYX_OK) st = onyx_session_last_run_stats(s, stats);
    for (int k = 0; k < 3; k++) onyx_tensor_destroy(in[k]);
    for (int k = 0; k < 2; k++) {
        if (keep) keep[k] = out[k];
        else onyx_tensor_destroy(out[k]);
    }
    return st;
}

static onyx_status run_length(onyx_session *s, int64_t length, onyx_run_stats *stats) {
    return run_length_keep(s, length, stats, NULL);
}

/* Outputs of s at length equal bit for bit those of a session that sees length first; and s ran
 * fewer nodes (the static memo took the shape arithmetic that did not change). */
static void check_memo_run(onyx_session *s, int64_t length) {
    onyx_session *fresh = NULL;
    ONYX_CHECK_OK(onyx_session_create(MODEL_DIR "/model.onnx", NULL, &fresh));
    onyx_run_stats got_stats, want_stats;
    onyx_run_stats_init(&got_stats);
    onyx_run_stats_init(&want_stats);
    onyx_tensor *got[2] = {0}, *want[2] = {0};
    ONYX_CHECK_OK(run_length_keep(s, length, &got_stats, got));
    if (fresh) ONYX_CHECK_OK(run_length_keep(fresh, length, &want_stats, want));
    ONYX_CHECK_INT(got_stats.plan_reused, 0); /* a recording run */
    ONYX_CHECK(got_stats.nodes_run < want_stats.nodes_run);
    for (int k = 0; k < 2; k++) {
        ONYX_CHECK(got[k] && want[k] && onyx_tensor_nbytes(got[k]) == onyx_tensor_nbytes(want[k]) &&
                   !memcmp(onyx_tensor_data(got[k]), onyx_tensor_data(want[k]), onyx_tensor_nbytes(want[k])));
        onyx_tensor_destroy(got[k]);
        onyx_tensor_destroy(want[k]);
    }
    onyx_session_destroy(fresh);
}

/* The static memo (executor.c): recording runs at new lengths reuse the shape arithmetic that
 * does not depend on the length, and compute the rest; a run that fails half way (a length past
 * the model's 64 positions fails in the position Gather, after shape nodes saw the new length)
 * leaves nothing stale behind. */
static void test_static_memo(void) {
    onyx_session *s = NULL;
    ONYX_CHECK_OK(onyx_session_create(MODEL_DIR "/model.onnx", NULL, &s));
    if (!s) return;
    onyx_run_stats stats;
    onyx_run_stats_init(&stats);
    ONYX_CHECK_OK(run_length(s, 7, &stats));
    check_memo_run(s, 9);
    check_memo_run(s, 10);
    ONYX_CHECK(run_length(s, 100, &stats) != ONYX_OK);
    check_memo_run(s, 11);
    check_memo_run(s, 12);
    onyx_session_destroy(s);
}

/* The plan policy: shapes are planned on first sight until plans keep being evicted unused
 * (16 plans cached, 4 evicted unused), as in a decode loop where every step has a new length;
 * then only shapes that come back within 16 runs are planned. A cached plan is still reused. */
static void test_plan_policy(void) {
    onyx_session *s = NULL;
    ONYX_CHECK_OK(onyx_session_create(MODEL_DIR "/model.onnx", NULL, &s));
    if (!s) return;
    onyx_run_stats stats;
    onyx_run_stats_init(&stats);
    int planned = 0, reused = 0;
    for (int64_t length = 1; length <= 40; length++) { /* a "generation" of 40 new lengths */
        ONYX_CHECK_OK(run_length(s, length, &stats));
        planned += stats.plan_made;
        reused += stats.plan_reused;
    }
    ONYX_CHECK_INT(planned, 20); /* 16 cached, then 4 evicted unused */
    ONYX_CHECK_INT(reused, 0);
    planned = reused = 0;
    for (int64_t length = 1; length <= 40; length++) { /* the same lengths again, 40 runs later */
        ONYX_CHECK_OK(run_length(s, length, &stats));
        planned += stats.plan_made;
        reused += stats.plan_reused;
    }
    ONYX_CHECK_INT(planned, 0);
    ONYX_CHECK_INT(reused, 16); /* lengths 5 to 20 were still cached */
    /* a fixed shape: planned on first sight (a reuse reset the policy), reused after */
    ONYX_CHECK_OK(run_length(s, 50, &stats));
    ONYX_CHECK_INT(stats.plan_made, 1);
    ONYX_CHECK_OK(run_length(s, 50, &stats));
    ONYX_CHECK_INT(stats.plan_reused, 1);
    ONYX_CHECK_INT(stats.host_allocations, 0);
    onyx_session_destroy(s);
}

/* Symbolic dims as expressions: the evaluator, then onyx_session_output_shape against the shapes
 * a real run of the GPT2 fixture produces. */
static void test_output_shape(void) {
    const char *names[3] = {"batch_size", "past_sequence_length", "sequence_length"};
    const int64_t values[3] = {2, 5, 3};
    int64_t v = 0;
    ONYX_CHECK_OK(onyx_dim_expr_eval("past_sequence_length + sequence_length", names, values, 3, &v));
    ONYX_CHECK_INT(v, 8);
    ONYX_CHECK_OK(onyx_dim_expr_eval(" 2*batch_size+1 ", names, values, 3, &v));
    ONYX_CHECK_INT(v, 5);
    ONYX_CHECK_OK(onyx_dim_expr_eval("(past_sequence_length - 1) // 2 + 1", names, values, 3, &v));
    ONYX_CHECK_INT(v, 3);
    ONYX_CHECK_OK(onyx_dim_expr_eval("-7 / 2", names, values, 3, &v)); /* floor division, as Python */
    ONYX_CHECK_INT(v, -4);
    ONYX_CHECK_OK(onyx_dim_expr_eval("batch_size*(sequence_length-past_sequence_length)", names, values, 3, &v));
    ONYX_CHECK_INT(v, -4);
    ONYX_CHECK_ERROR(onyx_dim_expr_eval("batch_size + s9", names, values, 3, &v), ONYX_ERR_INVALID_ARGUMENT,
                     "no value given for 's9'");
    ONYX_CHECK_ERROR(onyx_dim_expr_eval("batch_size +", names, values, 3, &v), ONYX_ERR_INVALID_ARGUMENT,
                     "unexpected end");
    ONYX_CHECK_ERROR(onyx_dim_expr_eval("batch_size / (sequence_length - 3)", names, values, 3, &v),
                     ONYX_ERR_INVALID_ARGUMENT, "division by zero");
    ONYX_CHECK_ERROR(onyx_dim_expr_eval("2**3", names, values, 3, &v), ONYX_ERR_INVALID_ARGUMENT,
                     "unexpected character at character 3");
    ONYX_CHECK_ERROR(onyx_dim_expr_eval("(1 + 2", names, values, 3, &v), ONYX_ERR_INVALID_ARGUMENT, "expected ')'");
    ONYX_CHECK_ERROR(onyx_dim_expr_eval("9223372036854775807 + batch_size", names, values, 3, &v),
                     ONYX_ERR_INVALID_ARGUMENT, "overflow");
    char deep[200];
    memset(deep, '-', sizeof deep - 2);
    deep[sizeof deep - 2] = '1';
    deep[sizeof deep - 1] = 0;
    ONYX_CHECK_ERROR(onyx_dim_expr_eval(deep, names, values, 3, &v), ONYX_ERR_INVALID_ARGUMENT, "nested too deeply");

    onyx_session *s = NULL;
    ONYX_CHECK_OK(onyx_session_create(ONYX_SOURCE_DIR "/tests/models/gpt2-ts17/model.onnx", NULL, &s));
    if (!s) return;
    size_t n_in = onyx_session_input_count(s), n_out = onyx_session_output_count(s);
    const char *in_names[16];
    onyx_tensor *in[16] = {0}, *out[16] = {0};
    const char *out_names[16];
    onyx_status st = ONYX_OK;
    for (size_t i = 0; i < n_in && i < 16 && st == ONYX_OK; i++) {
        onyx_value_info info;
        st = onyx_session_input_info(s, i, &info);
        int64_t dims[ONYX_MAX_RANK];
        int rank = info.rank;
        for (int d = 0; d < rank && st == ONYX_OK; d++)
            st = info.dims[d] >= 0 ? ONYX_OK : onyx_dim_expr_eval(info.dim_params[d], names, values, 3, &dims[d]);
        for (int d = 0; d < rank; d++)
            if (info.dims[d] >= 0) dims[d] = info.dims[d];
        in_names[i] = info.name;
        if (st == ONYX_OK) st = onyx_tensor_create(info.dtype, dims, (size_t)rank, &in[i]); /* zeros */
        if (st == ONYX_OK && !strcmp(info.name, "attention_mask"))
            for (int64_t k = 0; k < onyx_tensor_numel(in[i]); k++) ((int64_t *)onyx_tensor_data(in[i]))[k] = 1;
    }
    ONYX_CHECK_OK(st);
    for (size_t o = 0; o < n_out && o < 16; o++) {
        onyx_value_info info;
        ONYX_CHECK_OK(onyx_session_output_info(s, o, &info));
        out_names[o] = info.name;
    }
    if (st == ONYX_OK)
        ONYX_CHECK_OK(onyx_session_run(s, in_names, (const onyx_tensor *const *)in, n_in, out_names, n_out, out));
    for (size_t o = 0; o < n_out && o < 16 && out[o]; o++) {
        int64_t dims[ONYX_MAX_RANK];
        int rank = 0;
        ONYX_CHECK_OK(onyx_session_output_shape(s, o, names, values, 3, dims, &rank));
        ONYX_CHECK_INT(rank, (int)onyx_tensor_rank(out[o]));
        for (int d = 0; d < rank && d < (int)onyx_tensor_rank(out[o]); d++)
            ONYX_CHECK_INT(dims[d], onyx_tensor_dims(out[o])[d]);
    }
    int64_t dims[ONYX_MAX_RANK];
    int rank = 0;
    ONYX_CHECK_ERROR(onyx_session_output_shape(s, 1, names, values, 2, dims, &rank), ONYX_ERR_INVALID_ARGUMENT,
                     "no value given for 'sequence_length'");
    ONYX_CHECK_ERROR(onyx_session_output_shape(s, 99, names, values, 3, dims, &rank), ONYX_ERR_INVALID_ARGUMENT,
                     "out of range");
    for (size_t i = 0; i < 16; i++) {
        onyx_tensor_destroy(in[i]);
        onyx_tensor_destroy(out[i]);
    }
    onyx_session_destroy(s);
}

static void test_input_errors(void) {
    case_data c = {0};
    ONYX_CHECK(load_case(1, &c) == 0);
    onyx_session *s = NULL;
    ONYX_CHECK_OK(onyx_session_create(MODEL_DIR "/model.onnx", NULL, &s));
    if (!s || !c.inputs[2]) goto done;
    onyx_tensor *got[2] = {0};
    const char *wrong_names[3] = {"input_ids", "attention_mask", "token_types"};
    ONYX_CHECK_ERROR(onyx_session_run(s, wrong_names, (const onyx_tensor *const *)c.inputs, 3, output_names, 2, got),
                     ONYX_ERR_INVALID_ARGUMENT, "'token_types' is not an input of the model; the inputs are ['input_ids', 'attention_mask', 'token_type_ids']");
    ONYX_CHECK(got[0] == NULL && got[1] == NULL);
    ONYX_CHECK_ERROR(onyx_session_run(s, input_names, (const onyx_tensor *const *)c.inputs, 2, output_names, 2, got),
                     ONYX_ERR_INVALID_ARGUMENT, "input 'token_type_ids' is missing");
    const char *bad_out[1] = {"pooler_output"};
    ONYX_CHECK_ERROR(onyx_session_run(s, input_names, (const onyx_tensor *const *)c.inputs, 3, bad_out, 1, got),
                     ONYX_ERR_INVALID_ARGUMENT, "'pooler_output' is not an output of the model; the outputs are ['logits', 'last_hidden_state']");
    int64_t dims3[3] = {2, 5, 1};
    onyx_tensor *rank3 = NULL, *floats = NULL;
    ONYX_CHECK_OK(onyx_tensor_create(ONYX_DTYPE_INT64, dims3, 3, &rank3));
    ONYX_CHECK_OK(onyx_tensor_create(ONYX_DTYPE_FLOAT32, dims3, 2, &floats));
    const onyx_tensor *with_rank3[3] = {rank3, c.inputs[1], c.inputs[2]};
    ONYX_CHECK_ERROR(onyx_session_run(s, input_names, with_rank3, 3, output_names, 2, got), ONYX_ERR_INVALID_ARGUMENT,
                     "input 'input_ids' has rank 3 (shape [2,5,1]), expected rank 2 ([batch_size,sequence_length])");
    const onyx_tensor *with_float[3] = {floats, c.inputs[1], c.inputs[2]};
    ONYX_CHECK_ERROR(onyx_session_run(s, input_names, with_float, 3, output_names, 2, got), ONYX_ERR_INVALID_ARGUMENT,
                     "input 'input_ids' has dtype float32, expected int64");
    /* A shape that breaks a kernel names the model, the node and the input shapes. */
    int64_t long_dims[2] = {1, 100}; /* the model has 64 positions */
    onyx_tensor *long_ids = NULL, *long_mask = NULL, *long_types = NULL;
    ONYX_CHECK_OK(onyx_tensor_create(ONYX_DTYPE_INT64, long_dims, 2, &long_ids));
    ONYX_CHECK_OK(onyx_tensor_create(ONYX_DTYPE_INT64, long_dims, 2, &long_mask));
    ONYX_CHECK_OK(onyx_tensor_create(ONYX_DTYPE_INT64, long_dims, 2, &long_types));
    const onyx_tensor *too_long[3] = {long_ids, long_mask, long_types};
    onyx_status st = onyx_session_run(s, input_names, too_long, 3, output_names, 2, got);
    ONYX_CHECK(st != ONYX_OK);
    ONYX_CHECK(strstr(onyx_last_error(), "model.onnx") && strstr(onyx_last_error(), "(Gather)") &&
               strstr(onyx_last_error(), "float32[64,32]"));
    if (st != ONYX_OK) fprintf(stderr, "  (message: %s)\n", onyx_last_error());
    /* The session still works after errors. */
    ONYX_CHECK_OK(onyx_session_run(s, input_names, (const onyx_tensor *const *)c.inputs, 3, output_names, 2, got));
    check_outputs(got, &c);
    for (int k = 0; k < 2; k++) onyx_tensor_destroy(got[k]);
    onyx_tensor_destroy(rank3);
    onyx_tensor_destroy(floats);
    onyx_tensor_destroy(long_ids);
    onyx_tensor_destroy(long_mask);
    onyx_tensor_destroy(long_types);
done:
    onyx_session_destroy(s);
    free_case(&c);
}

static void test_providers(void) {
    onyx_session_options o;
    onyx_session_options_init(&o);
    onyx_session *s = (onyx_session *)&o; /* must be reset to NULL on failure */
    o.providers = "cuda";
    if (onyx_session_create(MODEL_DIR "/model.onnx", &o, &s) == ONYX_OK) {
        onyx_session_destroy(s); /* a GPU is here: test_cuda_session_gpu covers the cuda provider */
        s = (onyx_session *)&o;
    } else {
        ONYX_CHECK_ERROR(onyx_session_create(MODEL_DIR "/model.onnx", &o, &s), ONYX_ERR_NO_PROVIDER,
                         "Asked to use the cuda provider, but the available providers are [cpu]");
        ONYX_CHECK(s == NULL);
    }
    o.providers = "tpu,cpu";
    ONYX_CHECK_ERROR(onyx_session_create(MODEL_DIR "/model.onnx", &o, &s), ONYX_ERR_NO_PROVIDER,
                     "unknown provider 'tpu'; the available providers are [cpu]");
    o.providers = "CPUExecutionProvider";
    ONYX_CHECK_OK(onyx_session_create(MODEL_DIR "/model.onnx", &o, &s));
    onyx_session_destroy(s);
    o.providers = "cpu";
    o.provider_options = "cpu.arena=1";
    ONYX_CHECK_ERROR(onyx_session_create(MODEL_DIR "/model.onnx", &o, &s), ONYX_ERR_INVALID_ARGUMENT,
                     "the cpu provider takes no options");
    o.provider_options = "cuda.device_id=0";
    ONYX_CHECK_ERROR(onyx_session_create(MODEL_DIR "/model.onnx", &o, &s), ONYX_ERR_INVALID_ARGUMENT,
                     "names provider 'cuda', which is not in the provider list");
    o.provider_options = NULL;
    o.struct_size = 3;
    ONYX_CHECK_ERROR(onyx_session_create(MODEL_DIR "/model.onnx", &o, &s), ONYX_ERR_INVALID_ARGUMENT,
                     "struct_size");
    onyx_session_options_init(&o);
    ONYX_CHECK_ERROR(onyx_session_create(MODEL_DIR "/no-such-model.onnx", &o, &s), ONYX_ERR_IO, "no-such-model.onnx");
}

/* Opt level all fuses the GELU chains of both exporters' BERT (2 layers) into BiasGelu and the
 * Linear layers into MatMulBias; basic leaves them. The fixtures' references (tests/models.cmake)
 * check that the fused graphs compute the same numbers. */
static void test_fusions(void) {
    const char *models[] = {ONYX_SOURCE_DIR "/tests/models/bert-text-classification-ts17/model.onnx",
                            ONYX_SOURCE_DIR "/tests/models/bert-text-classification-dynamo18/model.onnx"};
    for (int m = 0; m < 2; m++) {
        for (int level = ONYX_OPT_BASIC; level <= ONYX_OPT_ALL; level++) {
            onyx_session_options o;
            onyx_session_options_init(&o);
            o.opt_level = (onyx_opt_level)level;
            onyx_session *s = NULL;
            ONYX_CHECK_OK(onyx_session_create(models[m], &o, &s));
            if (!s) continue;
            if (level == ONYX_OPT_ALL) {
                ONYX_CHECK_INT(onyx_test_count_op(s, "BiasGelu"), 2);
                ONYX_CHECK_INT(onyx_test_count_op(s, "Erf"), 0);
                ONYX_CHECK(onyx_test_count_op(s, "MatMulBias") >= 2 * 5); /* q, k, v, attention output, FFN output */
                /* post-norm: the embeddings' norm and both of each of the 2 layers read an Add */
                ONYX_CHECK_INT(onyx_test_count_op(s, "SkipLayerNormalization"), 5);
                ONYX_CHECK_INT(onyx_test_count_op(s, "LayerNormalization"), 0);
            } else {
                ONYX_CHECK_INT(onyx_test_count_op(s, "Erf"), 2);
                ONYX_CHECK_INT(onyx_test_count_op(s, "BiasGelu"), 0);
                ONYX_CHECK_INT(onyx_test_count_op(s, "MatMulBias"), 0);
                ONYX_CHECK_INT(onyx_test_count_op(s, "SkipLayerNormalization"), 0);
            }
            onyx_session_destroy(s);
        }
    }
}

/* Opt level all fuses GPT-2's tanh GELU (3 layers) into FastGelu and T5's RMS norms (2 encoder
 * and 2 decoder layers of gated-gelu T5) into SimplifiedLayerNormalization, and norms reading a
 * residual Add into the Skip norms, in both exporters' graphs; basic leaves them. test_model checks the fused graphs against transformers. */
static void test_fusions_tanh_gelu_and_rms_norm(void) {
    struct {
        const char *file;
        size_t fast_gelus, rms_norms, skip_norms;
    } cases[] = {
        /* GPT-2: ln_1 and ln_2 of 3 layers and ln_f all read a residual (or embedding) Add */
        {"gpt2-ts17/model.onnx", 3, 0, 7},
        {"gpt2-dynamo18/model.onnx", 3, 0, 7},
        {"gpt2-fp16-ts17/model.onnx", 3, 0, 7},
        /* T5: every norm but the first reads a residual Add */
        {"t5-ts17/encoder_model.onnx", 2, 5, 4},
        {"t5-ts17/decoder_model.onnx", 2, 7, 6},
        {"t5-dynamo18/encoder_model.onnx", 2, 5, 4},
        {"t5-dynamo18/decoder_with_past_model.onnx", 2, 7, 6},
    };
    for (size_t m = 0; m < sizeof cases / sizeof cases[0]; m++) {
        char path[512];
        snprintf(path, sizeof path, "%s/tests/models/%s", ONYX_SOURCE_DIR, cases[m].file);
        for (int level = ONYX_OPT_BASIC; level <= ONYX_OPT_ALL; level++) {
            onyx_session_options o;
            onyx_session_options_init(&o);
            o.opt_level = (onyx_opt_level)level;
            onyx_session *s = NULL;
            ONYX_CHECK_OK(onyx_session_create(path, &o, &s));
            if (!s) continue;
            int all = level == ONYX_OPT_ALL;
            fprintf(stderr, "  %s, level %d\n", cases[m].file, level);
            ONYX_CHECK_INT(onyx_test_count_op(s, "FastGelu"), all ? cases[m].fast_gelus : 0);
            ONYX_CHECK_INT(onyx_test_count_op(s, "Tanh"), all ? 0 : cases[m].fast_gelus);
            size_t skips = onyx_test_count_op(s, "SkipLayerNormalization") + onyx_test_count_op(s, "SkipSimplifiedLayerNormalization");
            ONYX_CHECK_INT(skips, all ? cases[m].skip_norms : 0);
            ONYX_CHECK_INT(onyx_test_count_op(s, "SimplifiedLayerNormalization") +
                               onyx_test_count_op(s, "SkipSimplifiedLayerNormalization"),
                           all ? cases[m].rms_norms : 0);
            if (all) ONYX_CHECK_INT(onyx_test_count_op(s, "Sqrt"), 0);
            else ONYX_CHECK_INT(onyx_test_count_op(s, "Sqrt"), cases[m].rms_norms);
            onyx_session_destroy(s);
        }
    }
}

/* Optimisation levels give the same numbers. */
static void test_opt_levels_agree(void) {
    case_data c = {0};
    ONYX_CHECK(load_case(1, &c) == 0);
    for (int level = ONYX_OPT_NONE; level <= ONYX_OPT_ALL && c.inputs[2]; level++) {
        onyx_session_options o;
        onyx_session_options_init(&o);
        o.opt_level = (onyx_opt_level)level;
        o.intra_op_threads = level + 1;
        onyx_session *s = NULL;
        ONYX_CHECK_OK(onyx_session_create(MODEL_DIR "/model.onnx", &o, &s));
        if (!s) continue;
        onyx_tensor *got[2] = {0};
        ONYX_CHECK_OK(onyx_session_run(s, input_names, (const onyx_tensor *const *)c.inputs, 3, output_names, 2, got));
        check_outputs(got, &c);
        for (int k = 0; k < 2; k++) onyx_tensor_destroy(got[k]);
        onyx_session_destroy(s);
    }
    free_case(&c);
}

/* A session (default options) of the graph w holds, at opset 17; w is released. NULL on failure. */
static onyx_session *open_written(onyx_graph_writer *w) {
    uint8_t *bytes = NULL;
    size_t size = 0;
    ONYX_CHECK_OK(onyx_graph_writer_finish(w, 17, &bytes, &size));
    onyx_graph_writer_release(w);
    onyx_session *s = NULL;
    if (bytes) ONYX_CHECK_OK(onyx_session_create_from_memory(bytes, size, NULL, &s));
    onyx_free(bytes);
    return s;
}

/* SQLite's loop: fail allocation N (and all after it) for N = 1, 2, ... during session creation
 * and two runs; every attempt must fail with OUT_OF_MEMORY or succeed, and leak nothing. */
/* A Transpose that moves only dims of size 1 (a decode step's (batch, 1, heads, head) to
 * (batch, heads, 1, head)) is a view: no copy and no buffer of its own; its input must then
 * live as long as the view is read. Graph: t = Transpose(Relu(x)), z = Transpose(Neg(x)),
 * y = t + z = relu(x) - x, with the perm (0, 2, 1, 3) on x (1, S, 4, 6). With S = 1 both
 * transposes are views, and Neg's output is made after Relu's output had its last direct
 * reader: freed too early, it would be overwritten (y = -2x). With S = 3 both copy. Each shape
 * runs three times (recording, then planned runs that reuse the arena layout). */
static void test_transpose_views(void) {
    onyx_graph_writer w;
    onyx_graph_writer_init(&w, "transpose_views");
    onyx_graph_writer_input(&w, "x", ONYX_DTYPE_FLOAT32, 4);
    onyx_graph_writer_output(&w, "y", ONYX_DTYPE_FLOAT32, 4);
    int64_t perm_values[4] = {0, 2, 1, 3};
    onyx_node_attr_value perm = {"perm", 0, 0.0f, 0, perm_values, 4};
    onyx_graph_writer_node(&w, "Relu", "x", "a", NULL, 0);
    onyx_graph_writer_node(&w, "Transpose", "a", "t", &perm, 1);
    onyx_graph_writer_node(&w, "Neg", "x", "n", NULL, 0);
    onyx_graph_writer_node(&w, "Transpose", "n", "z", &perm, 1);
    onyx_graph_writer_node(&w, "Add", "t,z", "y", NULL, 0);
    onyx_session *s = open_written(&w);
    if (!s) return;
    uint64_t recorded_allocations[2] = {0, 0};
    for (int shape = 0; shape < 2; shape++) {
        const int64_t S = shape == 0 ? 1 : 3, H = 4, D = 6;
        int64_t dims[4] = {1, S, H, D};
        onyx_tensor *x = NULL;
        ONYX_CHECK_OK(onyx_tensor_create(ONYX_DTYPE_FLOAT32, dims, 4, &x));
        if (!x) break;
        float *xv = onyx_tensor_data(x);
        for (int64_t i = 0; i < S * H * D; i++) xv[i] = (float)((i * 7) % 11) - 5.0f;
        for (int round = 0; round < 3; round++) {
            const char *in_names[1] = {"x"}, *out_names[1] = {"y"};
            const onyx_tensor *ins[1] = {x};
            onyx_tensor *y = NULL;
            ONYX_CHECK_OK(onyx_session_run(s, in_names, ins, 1, out_names, 1, &y));
            onyx_run_stats stats;
            onyx_run_stats_init(&stats);
            ONYX_CHECK_OK(onyx_session_last_run_stats(s, &stats));
            if (round == 0) recorded_allocations[shape] = stats.host_allocations;
            if (!y) continue;
            ONYX_CHECK_INT(onyx_tensor_dims(y)[1], H);
            ONYX_CHECK_INT(onyx_tensor_dims(y)[2], S);
            const float *yv = onyx_tensor_data(y);
            int bad = 0;
            for (int64_t si = 0; si < S; si++)
                for (int64_t h = 0; h < H; h++)
                    for (int64_t d = 0; d < D; d++) {
                        float v = xv[(si * H + h) * D + d];
                        float want = (v > 0 ? v : 0.0f) - v;
                        if (yv[(h * S + si) * D + d] != want) bad++;
                    }
            ONYX_CHECK_INT(bad, 0);
            onyx_tensor_destroy(y);
        }
        onyx_tensor_destroy(x);
    }
    /* the two transposes at S = 3 needed a buffer each; the views at S = 1 none */
    ONYX_CHECK_INT(recorded_allocations[1], recorded_allocations[0] + 2);
    onyx_session_destroy(s);
}

/* A recording run frees a buffer when its last reader is done, also when that reader reads it
 * through views: y = Relu(Neg(Relu(...(x)))) with an Identity or a Reshape after each op holds
 * two buffers at a time, not all six (the executor used to release only a node's direct inputs,
 * so every view's source stayed until the end of the run). */
static void test_views_release_their_source(void) {
    enum { OPS = 6, N = 1 << 16 };
    onyx_graph_writer w;
    onyx_graph_writer_init(&w, "view_chain");
    onyx_graph_writer_input(&w, "x", ONYX_DTYPE_FLOAT32, 1);
    onyx_graph_writer_output(&w, "y", ONYX_DTYPE_FLOAT32, 1);
    int64_t flat = -1, one = 1;
    onyx_graph_writer_int64s(&w, "flat", &flat, &one, 1);
    char in[32] = "x", op_out[32], view_out[32];
    for (int k = 0; k < OPS; k++) {
        snprintf(op_out, sizeof op_out, "op%d", k);
        onyx_graph_writer_node(&w, k % 2 ? "Neg" : "Relu", in, op_out, NULL, 0);
        if (k == OPS - 1) break;
        snprintf(view_out, sizeof view_out, "view%d", k);
        char reshape_in[64];
        snprintf(reshape_in, sizeof reshape_in, "%s,flat", op_out);
        if (k % 2) onyx_graph_writer_node(&w, "Reshape", reshape_in, view_out, NULL, 0);
        else onyx_graph_writer_node(&w, "Identity", op_out, view_out, NULL, 0);
        snprintf(in, sizeof in, "%s", view_out);
    }
    onyx_graph_writer_node(&w, "Identity", op_out, "y", NULL, 0);
    onyx_session *s = open_written(&w);
    int64_t dims[1] = {N};
    onyx_tensor *x = NULL;
    ONYX_CHECK_OK(onyx_tensor_create(ONYX_DTYPE_FLOAT32, dims, 1, &x));
    if (!s || !x) goto done;
    float *xv = onyx_tensor_data(x);
    for (int i = 0; i < N; i++) xv[i] = (float)(i % 7) - 3.0f;
    const uint64_t tensor_bytes = (uint64_t)N * sizeof(float);
    for (int round = 0; round < 2; round++) { /* a recording run, then the planned one */
        const char *in_names[1] = {"x"}, *out_names[1] = {"y"};
        const onyx_tensor *ins[1] = {x};
        onyx_tensor *y = NULL;
        onyx_alloc_aligned_peak_reset();
        uint64_t before = onyx_alloc_aligned_live_bytes();
        ONYX_CHECK_OK(onyx_session_run(s, in_names, ins, 1, out_names, 1, &y));
        uint64_t held = onyx_alloc_aligned_peak_bytes() - before;
        onyx_run_stats stats;
        onyx_run_stats_init(&stats);
        ONYX_CHECK_OK(onyx_session_last_run_stats(s, &stats));
        ONYX_CHECK_INT(stats.plan_reused, round);
        /* two op outputs at once (a node's input and output), and the copy of y handed out */
        /* Recording: at most two op outputs at once (a node's input and output), then the plan's
         * arena (room for two) while the last is still held, and the copy of y handed out: four.
         * (Holding every op output until the end, as before, was nine.) Planned: the arena is
         * there already; only the copy of y. */
        if (round == 0) ONYX_CHECK(held >= 3 * tensor_bytes && held < 4 * tensor_bytes + tensor_bytes / 2);
        else ONYX_CHECK(held >= tensor_bytes && held < tensor_bytes + tensor_bytes / 2);
        if (!y) continue;
        int bad = 0;
        const float *yv = onyx_tensor_data(y);
        for (int i = 0; i < N; i++) {
            float v = xv[i];
            for (int k = 0; k < OPS; k++) v = k % 2 ? -v : (v > 0 ? v : 0.0f);
            if (yv[i] != v) bad++;
        }
        ONYX_CHECK_INT(bad, 0);
        onyx_tensor_destroy(y);
    }
done:
    onyx_tensor_destroy(x);
    onyx_session_destroy(s);
}

/* onyx_io_binding_give_input: a KV-cache step's graph, present = Concat(past, x) (an output),
 * y = Relu(Neg(present)). A given past is freed after the Concat, so the run peaks one past lower
 * than with the past bound (and borrowed), in the recording run and in the planned one; the
 * given tensor is gone after the run. Error paths leave the caller owning what it gave. */
static onyx_session *kv_step_session(void) {
    onyx_graph_writer w;
    onyx_graph_writer_init(&w, "kv_step");
    onyx_graph_writer_input(&w, "past", ONYX_DTYPE_FLOAT32, 1);
    onyx_graph_writer_input(&w, "x", ONYX_DTYPE_FLOAT32, 1);
    onyx_graph_writer_output(&w, "present", ONYX_DTYPE_FLOAT32, 1);
    onyx_graph_writer_output(&w, "y", ONYX_DTYPE_FLOAT32, 1);
    onyx_node_attr_value axis = ONYX_ATTR_INT("axis", 0);
    onyx_graph_writer_node(&w, "Concat", "past,x", "present", &axis, 1);
    onyx_graph_writer_node(&w, "Neg", "present", "neg", NULL, 0);
    onyx_graph_writer_node(&w, "Relu", "neg", "y", NULL, 0);
    return open_written(&w);
}

static onyx_tensor *filled(int64_t n, float first) {
    onyx_tensor *t = NULL;
    ONYX_CHECK_OK(onyx_tensor_create(ONYX_DTYPE_FLOAT32, &n, 1, &t));
    if (!t) return NULL;
    float *v = onyx_tensor_data(t);
    for (int64_t i = 0; i < n; i++) v[i] = first - (float)(i % 5);
    return t;
}

/* Outputs handed over by onyx_session_run come back to the host cache when destroyed, and the
 * next run's outputs of that size reuse those blocks (no fresh pages), holding the new run's
 * values; small outputs are not kept; destroying the last session frees what is kept, and
 * onyx_session_release_cached_memory frees it earlier. */
static void test_outputs_reuse_their_blocks(void) {
    enum { N = 1 << 15 }; /* present: 2N floats (256 KB); y the same */
    uint64_t live_before = onyx_alloc_aligned_live_bytes();
    onyx_session *s = kv_step_session();
    onyx_tensor *x = filled(N, 1.0f), *past = filled(N, 3.0f), *x2 = filled(N, 7.0f), *small = filled(8, 1.0f);
    const char *in_names[2] = {"past", "x"}, *out_names[2] = {"present", "y"};
    if (!s || !x || !past || !x2 || !small) goto done;
    onyx_tensor *out[2] = {0};
    const onyx_tensor *in1[2] = {past, x}, *in2[2] = {past, x2};
    ONYX_CHECK_OK(onyx_session_run(s, in_names, in1, 2, out_names, 2, out));
    const void *first[2] = {out[0] ? onyx_tensor_data(out[0]) : NULL, out[1] ? onyx_tensor_data(out[1]) : NULL};
    size_t kept_before = onyx_host_cache_blocks();
    for (int k = 0; k < 2; k++) onyx_tensor_destroy(out[k]);
    ONYX_CHECK_INT(onyx_host_cache_blocks(), kept_before + 2);
    ONYX_CHECK_OK(onyx_session_run(s, in_names, in2, 2, out_names, 2, out));
    ONYX_CHECK_INT(onyx_host_cache_blocks(), kept_before);
    for (int k = 0; k < 2 && out[k]; k++) { /* the same two blocks, in either order */
        const void *d = onyx_tensor_data(out[k]);
        ONYX_CHECK(d == first[0] || d == first[1]);
    }
    if (out[0] && out[1]) {
        const float *pv = onyx_tensor_data(out[0]), *yv = onyx_tensor_data(out[1]);
        int bad = 0;
        for (int64_t i = 0; i < 2 * N; i++) {
            float want = i < N ? 3.0f - (float)(i % 5) : 7.0f - (float)((i - N) % 5);
            if (pv[i] != want || yv[i] != (want < 0 ? -want : 0.0f)) bad++;
        }
        ONYX_CHECK_INT(bad, 0);
    }
    for (int k = 0; k < 2; k++) onyx_tensor_destroy(out[k]);
    ONYX_CHECK(onyx_host_cache_blocks() >= 2);
    ONYX_CHECK_OK(onyx_session_release_cached_memory(s));
    ONYX_CHECK_INT(onyx_host_cache_blocks(), 0);
    /* small outputs (8 + 8 floats) are freed, not kept */
    const onyx_tensor *in3[2] = {small, small};
    ONYX_CHECK_OK(onyx_session_run(s, in_names, in3, 2, out_names, 2, out));
    for (int k = 0; k < 2; k++) onyx_tensor_destroy(out[k]);
    ONYX_CHECK_INT(onyx_host_cache_blocks(), 0);
    /* kept blocks go with the last session; an output destroyed after it is freed at once */
    ONYX_CHECK_OK(onyx_session_run(s, in_names, in1, 2, out_names, 2, out));
    onyx_tensor_destroy(out[1]);
    ONYX_CHECK_INT(onyx_host_cache_blocks(), 1);
    onyx_session_destroy(s);
    s = NULL;
    ONYX_CHECK_INT(onyx_host_cache_blocks(), 0);
    onyx_tensor_destroy(out[0]);
    ONYX_CHECK_INT(onyx_host_cache_blocks(), 0);
done:
    onyx_session_destroy(s);
    onyx_tensor_destroy(x);
    onyx_tensor_destroy(x2);
    onyx_tensor_destroy(past);
    onyx_tensor_destroy(small);
    ONYX_CHECK(onyx_alloc_aligned_live_bytes() == live_before);
}

static void test_given_inputs_are_freed_after_their_reader(void) {
    enum { N = 1 << 16 };
    onyx_session *lent = kv_step_session(), *handed = kv_step_session();
    onyx_io_binding *bl = NULL, *bh = NULL;
    if (!lent || !handed) goto done;
    ONYX_CHECK_OK(onyx_io_binding_create(lent, &bl));
    ONYX_CHECK_OK(onyx_io_binding_create(handed, &bh));
    if (!bl || !bh) goto done;
    onyx_tensor *x = filled(N, 1.0f), *kept = filled(N, 2.0f);
    uint64_t tensor_bytes = 0;
    for (int round = 0; round < 2 && x && kept; round++) { /* recording, then planned */
        uint64_t held[2] = {0, 0}, grown[2] = {0, 0};
        for (int give = 0; give < 2; give++) {
            onyx_io_binding *b = give ? bh : bl;
            uint64_t before_past = onyx_alloc_aligned_live_bytes();
            onyx_tensor *past = filled(N, 3.0f);
            if (!past) continue;
            tensor_bytes = onyx_alloc_aligned_live_bytes() - before_past;
            ONYX_CHECK_OK(onyx_io_binding_bind_output_to_device(b, "present", ONYX_DEVICE_CPU));
            ONYX_CHECK_OK(onyx_io_binding_bind_output_to_device(b, "y", ONYX_DEVICE_CPU));
            ONYX_CHECK_OK(onyx_io_binding_bind_input(b, "x", x));
            if (give) ONYX_CHECK_OK(onyx_io_binding_give_input(b, "past", past));
            else ONYX_CHECK_OK(onyx_io_binding_bind_input(b, "past", past));
            onyx_alloc_aligned_peak_reset();
            uint64_t start = onyx_alloc_aligned_live_bytes();
            ONYX_CHECK_OK(onyx_session_run_with_binding(give ? handed : lent, b));
            held[give] = onyx_alloc_aligned_peak_bytes() - start;
            onyx_io_binding_clear_inputs(b);
            onyx_tensor *present = NULL, *y = NULL;
            ONYX_CHECK_OK(onyx_io_binding_get_output(b, "present", &present));
            ONYX_CHECK_OK(onyx_io_binding_get_output(b, "y", &y));
            if (present && y) {
                const float *pv = onyx_tensor_data(present), *yv = onyx_tensor_data(y);
                int bad = 0;
                for (int64_t i = 0; i < 2 * N; i++) {
                    float want = i < N ? 3.0f - (float)(i % 5) : 1.0f - (float)((i - N) % 5);
                    float relu = -want > 0 ? -want : 0.0f;
                    if (pv[i] != want || yv[i] != relu) bad++;
                }
                ONYX_CHECK_INT(bad, 0);
            }
            onyx_tensor_destroy(present);
            onyx_tensor_destroy(y);
            /* the outputs' blocks went back to the host cache: freed, so live bytes compare */
            ONYX_CHECK_OK(onyx_session_release_cached_memory(give ? handed : lent));
            if (!give) onyx_tensor_destroy(past);
            grown[give] = onyx_alloc_aligned_live_bytes() - before_past; /* the recording run's plan arena */
        }
        /* given or destroyed by us, past is gone, and so the sessions grew alike */
        ONYX_CHECK(grown[1] == grown[0]);
        if (round == 1) ONYX_CHECK_INT(grown[1], 0);
        /* the lent run held past to its end; the given one freed it after the Concat */
        ONYX_CHECK(held[0] == held[1] + tensor_bytes);
    }
    /* Errors: a wrong dtype leaves the caller owning the tensor; one tensor given to two inputs
     * is refused; what a binding was given and never ran is freed by clearing it. */
    int64_t n = N;
    onyx_tensor *ints = NULL, *past = filled(N, 4.0f);
    ONYX_CHECK_OK(onyx_tensor_create(ONYX_DTYPE_INT64, &n, 1, &ints));
    if (ints) {
        ONYX_CHECK(onyx_io_binding_give_input(bh, "past", ints) == ONYX_ERR_INVALID_ARGUMENT);
        onyx_tensor_destroy(ints);
    }
    if (past) {
        uint64_t with_past = onyx_alloc_aligned_live_bytes();
        ONYX_CHECK_OK(onyx_io_binding_give_input(bh, "past", past));
        ONYX_CHECK(onyx_io_binding_give_input(bh, "x", past) == ONYX_ERR_INVALID_ARGUMENT);
        onyx_io_binding_clear_inputs(bh);
        ONYX_CHECK(onyx_alloc_aligned_live_bytes() + tensor_bytes == with_past);
    }
    /* A run that fails part way (allocation k of the run fails) still frees what it was given. */
    int failed_runs = 0;
    for (uint64_t k = 1; k < 50 && x; k++) {
        uint64_t before_past = onyx_alloc_aligned_live_bytes();
        past = filled(N, 6.0f);
        if (!past) break;
        ONYX_CHECK_OK(onyx_io_binding_bind_output_to_device(bh, "present", ONYX_DEVICE_CPU));
        ONYX_CHECK_OK(onyx_io_binding_bind_input(bh, "x", x));
        ONYX_CHECK_OK(onyx_io_binding_give_input(bh, "past", past));
        onyx_alloc_fail_at(k, 1);
        onyx_status st = onyx_session_run_with_binding(handed, bh);
        onyx_alloc_fail_at(0, 0);
        onyx_io_binding_clear_inputs(bh);
        onyx_tensor *present = NULL;
        if (st == ONYX_OK) ONYX_CHECK_OK(onyx_io_binding_get_output(bh, "present", &present));
        else ONYX_CHECK_INT(st, ONYX_ERR_OUT_OF_MEMORY);
        onyx_tensor_destroy(present);
        onyx_io_binding_clear_outputs(bh);
        ONYX_CHECK_OK(onyx_session_release_cached_memory(handed));
        ONYX_CHECK(onyx_alloc_aligned_live_bytes() == before_past);
        if (st == ONYX_OK) break;
        failed_runs++;
    }
    ONYX_CHECK(failed_runs > 0);
    past = filled(N, 5.0f); /* given, then the binding destroyed: freed with it */
    if (past) ONYX_CHECK_OK(onyx_io_binding_give_input(bh, "past", past));
    onyx_tensor_destroy(x);
    onyx_tensor_destroy(kept);
done:
    onyx_io_binding_destroy(bl);
    onyx_io_binding_destroy(bh);
    onyx_session_destroy(lent);
    onyx_session_destroy(handed);
}

static void test_allocation_failures(void) {
    case_data c = {0};
    ONYX_CHECK(load_case(1, &c) == 0);
    if (!c.inputs[2]) return;
    int64_t live_before = onyx_alloc_live();
    int succeeded = 0, failures = 0, wrong_status = 0;
    for (uint64_t n = 1; n < 200000 && !succeeded; n += (n < 2000 ? 1 : 7)) {
        onyx_alloc_fail_at(n, 1);
        onyx_session *s = NULL;
        onyx_tensor *got[2] = {0};
        onyx_status st = onyx_session_create(MODEL_DIR "/model.onnx", NULL, &s);
        if (st == ONYX_OK) st = onyx_session_run(s, input_names, (const onyx_tensor *const *)c.inputs, 3, output_names, 2, got);
        for (int k = 0; k < 2; k++) onyx_tensor_destroy(got[k]);
        if (st == ONYX_OK) st = onyx_session_run(s, input_names, (const onyx_tensor *const *)c.inputs, 3, output_names, 2, got);
        for (int k = 0; k < 2; k++) onyx_tensor_destroy(got[k]);
        onyx_session_destroy(s);
        onyx_alloc_fail_at(0, 0);
        if (st == ONYX_OK) succeeded = 1;
        else if (st == ONYX_ERR_OUT_OF_MEMORY) failures++;
        else if (wrong_status++ < 5)
            fprintf(stderr, "  allocation %llu failed but the status was %s: %s\n", (unsigned long long)n,
                    onyx_status_name(st), onyx_last_error());
        if (onyx_alloc_live() != live_before) {
            fprintf(stderr, "  allocation %llu: %lld blocks leaked\n", (unsigned long long)n,
                    (long long)(onyx_alloc_live() - live_before));
            ONYX_CHECK(onyx_alloc_live() == live_before);
            break;
        }
    }
    ONYX_CHECK(succeeded);
    ONYX_CHECK(failures > 100);
    ONYX_CHECK_INT(wrong_status, 0);
    free_case(&c);
}

/* onyx_runtime_info: a cpu line naming OpenBLAS and the kernels it picked, a cuda line, and a
 * short buffer cut off but terminated. */
static void test_runtime_info(void) {
    char info[1024];
    ONYX_CHECK(onyx_runtime_info(info, sizeof info) == info);
    ONYX_CHECK(strncmp(info, "cpu: OpenBLAS ", 14) == 0);
    ONYX_CHECK(strstr(info, "; kernels for ") != NULL);
    ONYX_CHECK(strstr(info, "\ncuda: ") != NULL);
    ONYX_CHECK(info[strlen(info) - 1] == '\n');
    char little[12];
    memset(little, 'x', sizeof little);
    onyx_runtime_info(little, sizeof little);
    ONYX_CHECK(memchr(little, '\0', sizeof little) != NULL);
    ONYX_CHECK(strncmp(little, "cpu: OpenBL", 11) == 0);
    ONYX_CHECK(onyx_runtime_info(NULL, 0) == NULL);
}

static int same_name(const char *got, const char *want) { return got == want || (got && want && !strcmp(got, want)); }

/* Where OpenBLAS chose kernels narrower than the CPU's instructions (SSE ones on an AVX2 or
 * AVX-512 CPU it does not know by model), onyx names the OPENBLAS_CORETYPE to set. */
static void test_blas_core_suggestion(void) {
    ONYX_CHECK(same_name(onyx_cpu_blas_better_core("Prescott", 1, 1), "SkylakeX"));
    ONYX_CHECK(same_name(onyx_cpu_blas_better_core("Prescott", 1, 0), "Haswell"));
    ONYX_CHECK(same_name(onyx_cpu_blas_better_core("NEHALEM", 1, 0), "Haswell"));
    ONYX_CHECK(same_name(onyx_cpu_blas_better_core("Sandybridge", 1, 1), "SkylakeX"));
    ONYX_CHECK(same_name(onyx_cpu_blas_better_core("Prescott", 0, 0), NULL)); /* nothing wider to run */
    ONYX_CHECK(same_name(onyx_cpu_blas_better_core("Haswell", 1, 1), NULL));
    ONYX_CHECK(same_name(onyx_cpu_blas_better_core("Zen", 1, 0), NULL));
    ONYX_CHECK(same_name(onyx_cpu_blas_better_core("Cooperlake", 1, 1), NULL));
    ONYX_CHECK(same_name(onyx_cpu_blas_better_core(NULL, 1, 1), NULL));
}

int main(void) {
    ONYX_TEST_RUN(test_metadata);
    ONYX_TEST_RUN(test_run_matches_reference);
    ONYX_TEST_RUN(test_steady_state_allocates_nothing);
    ONYX_TEST_RUN(test_plan_policy);
    ONYX_TEST_RUN(test_static_memo);
    ONYX_TEST_RUN(test_output_shape);
    ONYX_TEST_RUN(test_input_errors);
    ONYX_TEST_RUN(test_providers);
    ONYX_TEST_RUN(test_opt_levels_agree);
    ONYX_TEST_RUN(test_fusions);
    ONYX_TEST_RUN(test_fusions_tanh_gelu_and_rms_norm);
    ONYX_TEST_RUN(test_transpose_views);
    ONYX_TEST_RUN(test_views_release_their_source);
    ONYX_TEST_RUN(test_given_inputs_are_freed_after_their_reader);
    ONYX_TEST_RUN(test_outputs_reuse_their_blocks);
    ONYX_TEST_RUN(test_allocation_failures);
    ONYX_TEST_RUN(test_runtime_info);
    ONYX_TEST_RUN(test_blas_core_suggestion);
    return onyx_test_finish();
}
