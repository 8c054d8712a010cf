/*
 * test_cuda_graph_gpu.c - runs recorded and launched as CUDA graphs (the cuda provider's
 * enable_cuda_graph, on by default) against the same runs launched kernel by kernel:
 *  - the GPT2 fixture's prefill and 12 greedy decode steps, host inputs and outputs: every
 *    output of every step has the same bits both ways (one graph per run, parts of 64 and of 5
 *    nodes), every decode step after the first went out as graphs, and from the third on they
 *    were updated in place (each step has a new past length), not instantiated;
 *  - uploads: a 3 MiB host input outgrows the staging memory once (that run goes again without
 *    a recording), then is staged; three runs queued without waiting, their host input rewritten
 *    after each run returns, each see their own data;
 *  - a run that fails while recording, after a part of it was launched, gives the error an
 *    unrecorded run gives, and the next run is recorded;
 *  - generation through the model API gives the same tokens with and without graphs for merged
 *    decoders (an If) in float32 and float16 and GPT2 in float16, greedy and with beams, and the
 *    decoder's runs went out as graphs (tests/data/t5-ts17-fp16's tokens differed when parts
 *    were updated across a change of cuBLASLt kernel, graph.c);
 *  - a float16 MatMul whose kernel changes between ours and cuBLASLt's from run to run has the
 *    same bits both ways;
 *  - the provider's recording refuses a copy to the host and a wait for the device, and the
 *    option's values (and its default, on) are checked.
 * Exits 77 without a GPU.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/dtype.h"
#include "harness.h"
#include "model/model_internal.h"
#include "model/onnx_writer.h"
#include "relu_matmul_case.h"
#include "runtime/session_internal.h"

#ifdef ONYX_HAVE_CUDA
#include <cuda_runtime_api.h>

#define GPT2_DIR ONYX_SOURCE_DIR "/tests/models/gpt2-ts17"
#define GPT2_LAYERS 3
#define N_PRESENT (2 * GPT2_LAYERS)

static onyx_session *open_file(const char *path, const char *provider_options) {
    onyx_session_options o;
    onyx_session_options_init(&o);
    o.providers = "cuda";
    o.provider_options = provider_options;
    onyx_session *s = NULL;
    ONYX_CHECK_OK(onyx_session_create(path, &o, &s));
    return s;
}

static onyx_session *open_bytes(const uint8_t *bytes, size_t size, const char *provider_options) {
    onyx_session_options o;
    onyx_session_options_init(&o);
    o.providers = "cuda";
    o.provider_options = provider_options;
    onyx_session *s = NULL;
    ONYX_CHECK_OK(onyx_session_create_from_memory(bytes, size, &o, &s));
    return s;
}

static int same_bits(const onyx_tensor *a, const onyx_tensor *b) {
    if (!a || !b || onyx_tensor_rank(a) != onyx_tensor_rank(b) || onyx_tensor_nbytes(a) != onyx_tensor_nbytes(b)) return 0;
    if (memcmp(onyx_tensor_dims(a), onyx_tensor_dims(b), (size_t)onyx_tensor_rank(a) * sizeof(int64_t))) return 0;
    return !memcmp(onyx_tensor_data((onyx_tensor *)a), onyx_tensor_data((onyx_tensor *)b), onyx_tensor_nbytes(a));
}

static int graph_launched(const onyx_session *s) {
    onyx_run_stats stats;
    onyx_run_stats_init(&stats);
    if (onyx_session_last_run_stats(s, &stats) != ONYX_OK) return -1;
    return stats.graph_launched;
}

/* GPT2 prefill of 6 tokens and 12 decode steps, graphs on (with options) and off, host tensors
 * throughout. */
static void decode_same_bits(const char *options) {
    onyx_session *on = open_file(GPT2_DIR "/model.onnx", options), *off = open_file(GPT2_DIR "/model.onnx", "cuda.enable_cuda_graph=0");
    if (!on || !off) goto done;
    char past_buf[N_PRESENT][64], present_buf[N_PRESENT][64];
    const char *names[3 + N_PRESENT] = {"input_ids", "attention_mask", "position_ids"};
    const char *out_names[1 + N_PRESENT] = {"logits"};
    for (int i = 0; i < N_PRESENT; i++) {
        snprintf(past_buf[i], 64, "past_key_values.%d.%s", i / 2, i % 2 ? "value" : "key");
        snprintf(present_buf[i], 64, "present.%d.%s", i / 2, i % 2 ? "value" : "key");
        names[3 + i] = past_buf[i];
        out_names[1 + i] = present_buf[i];
    }
    int64_t ids[64] = {17, 42, 5, 300, 7, 99};
    int64_t n_tokens = 6, past_len = 0;
    onyx_tensor *past[N_PRESENT] = {0};
    for (int i = 0; i < N_PRESENT; i++) {
        int64_t dims[4] = {1, 4, 0, 8};
        onyx_tensor_create(ONYX_DTYPE_FLOAT32, dims, 4, &past[i]);
    }
    int steps_as_graphs = 0;
    uint64_t late_instantiations = 0;
    for (int step = 0; step <= 12; step++) {
        int64_t seq = step == 0 ? n_tokens : 1, mask[64], pos[64];
        for (int64_t i = 0; i < past_len + seq; i++) mask[i] = 1;
        for (int64_t i = 0; i < seq; i++) pos[i] = past_len + i;
        onyx_tensor *in_ids = onyx_test_int64_matrix(ids + (step == 0 ? 0 : past_len), 1, seq);
        onyx_tensor *in_mask = onyx_test_int64_matrix(mask, 1, past_len + seq), *in_pos = onyx_test_int64_matrix(pos, 1, seq);
        const onyx_tensor *inputs[3 + N_PRESENT] = {in_ids, in_mask, in_pos};
        for (int i = 0; i < N_PRESENT; i++) inputs[3 + i] = past[i];
        onyx_tensor *got[1 + N_PRESENT] = {0}, *want[1 + N_PRESENT] = {0};
        ONYX_CHECK_OK(onyx_session_run(on, names, inputs, 3 + N_PRESENT, out_names, 1 + N_PRESENT, got));
        int launched = graph_launched(on);
        onyx_run_stats stats;
        onyx_run_stats_init(&stats);
        ONYX_CHECK_OK(onyx_session_last_run_stats(on, &stats));
        if (step >= 3) late_instantiations += stats.graph_instantiations;
        ONYX_CHECK_OK(onyx_session_run(off, names, inputs, 3 + N_PRESENT, out_names, 1 + N_PRESENT, want));
        ONYX_CHECK_INT(graph_launched(off), 0);
        if (step == 0) ONYX_CHECK_INT(launched, 0); /* the first run uploads the weights */
        if (step >= 2) ONYX_CHECK_INT(launched, 1);
        steps_as_graphs += launched == 1;
        for (int k = 0; k < 1 + N_PRESENT; k++) {
            if (!same_bits(got[k], want[k])) {
                onyx_test_failures++;
                fprintf(stderr, "FAIL %s: %s at step %d differs between graph (%s) and kernel-by-kernel runs\n",
                        onyx_test_current, out_names[k], step, options);
            }
            onyx_test_checks++;
        }
        if (want[0]) {
            /* greedy next token from the unrecorded run's logits */
            const int64_t *d = onyx_tensor_dims(want[0]);
            const float *row = (const float *)onyx_tensor_data(want[0]) + (d[1] - 1) * d[2];
            int64_t best = 0;
            for (int64_t v = 1; v < d[2]; v++)
                if (row[v] > row[best]) best = v;
            ids[past_len + seq] = best;
        }
        for (int i = 0; i < N_PRESENT; i++) {
            onyx_tensor_destroy(past[i]);
            past[i] = want[1 + i];
            onyx_tensor_destroy(got[1 + i]);
        }
        onyx_tensor_destroy(got[0]);
        onyx_tensor_destroy(want[0]);
        onyx_tensor_destroy(in_ids);
        onyx_tensor_destroy(in_mask);
        onyx_tensor_destroy(in_pos);
        past_len += seq;
        if (!past[0]) break;
    }
    ONYX_CHECK_INT(past_len, 18);
    onyx_run_totals totals;
    onyx_run_totals_init(&totals);
    ONYX_CHECK_OK(onyx_session_run_totals(on, &totals));
    ONYX_CHECK_INT(totals.graph_runs, steps_as_graphs);
    ONYX_CHECK(totals.graph_runs >= 11);
    /* Steps after the second differ from the one before only in shapes: every graph is updated
     * in place, none instantiated. */
    ONYX_CHECK_INT(late_instantiations, 0);
    printf("%s: %llu graph runs, %llu instantiations in all\n", options,
           (unsigned long long)totals.graph_runs, (unsigned long long)totals.graph_instantiations);
    ONYX_CHECK_OK(onyx_session_run_totals(off, &totals));
    ONYX_CHECK_INT(totals.graph_runs, 0);
    for (int i = 0; i < N_PRESENT; i++) onyx_tensor_destroy(past[i]);
done:
    onyx_session_destroy(on);
    onyx_session_destroy(off);
}

static void test_decode_same_bits(void) {
    decode_same_bits("cuda.enable_cuda_graph=1");                               /* parts of 64 nodes */
    decode_same_bits("cuda.enable_cuda_graph=1;cuda.cuda_graph_part_nodes=0"); /* one graph per run */
    decode_same_bits("cuda.enable_cuda_graph=1;cuda.cuda_graph_part_nodes=5"); /* many parts */
}

/* y = x + x (float32, any shape). */
static uint8_t *doubling_model(size_t *size) {
    onyx_graph_writer w;
    onyx_graph_writer_init(&w, "double");
    onyx_graph_writer_input(&w, "x", ONYX_DTYPE_FLOAT32, 1);
    onyx_graph_writer_output(&w, "y", ONYX_DTYPE_FLOAT32, 1);
    onyx_graph_writer_node(&w, "Add", "x,x", "y", NULL, 0);
    uint8_t *bytes = NULL;
    ONYX_CHECK_OK(onyx_graph_writer_finish(&w, 17, &bytes, size));
    onyx_graph_writer_release(&w);
    return bytes;
}

static void fill(onyx_tensor *x, int round) {
    float *v = onyx_tensor_data(x);
    for (int64_t i = 0; i < onyx_tensor_numel(x); i++) v[i] = (float)((i * 13 + round * 7) % 1001) - 500.0f;
}

static void check_doubled(const float *y, int64_t n, int round, const char *what) {
    int64_t bad = -1;
    for (int64_t i = 0; i < n && bad < 0; i++)
        if (y[i] != 2.0f * ((float)((i * 13 + round * 7) % 1001) - 500.0f)) bad = i;
    onyx_test_checks++;
    if (bad >= 0) {
        onyx_test_failures++;
        fprintf(stderr, "FAIL %s: %s, round %d: y[%lld] = %g\n", onyx_test_current, what, round, (long long)bad, y[bad]);
    }
}

static void test_uploads(void) {
    size_t size = 0;
    uint8_t *bytes = doubling_model(&size);
    onyx_session *s = bytes ? open_bytes(bytes, size, "cuda.enable_cuda_graph=1") : NULL;
    onyx_free(bytes);
    onyx_io_binding *b = NULL;
    onyx_tensor *x = NULL, *y_dev[3] = {0};
    void *d_y[3] = {0};
    if (!s) goto done;
    const int64_t n = 3 << 18; /* 3 MiB of float32: more than the first staging (1 MiB) */
    ONYX_CHECK_OK(onyx_tensor_create(ONYX_DTYPE_FLOAT32, &n, 1, &x));
    if (!x) goto done;
    const char *in_names[1] = {"x"}, *out_names[1] = {"y"};
    /* Runs 0 (first, unrecorded), 1 (uploads outgrow the staging: again without a recording), 2
     * (staged): each with its own data. */
    int want_launched[3] = {0, 0, 1};
    for (int round = 0; round < 3; round++) {
        fill(x, round);
        const onyx_tensor *ins[1] = {x};
        onyx_tensor *y = NULL;
        ONYX_CHECK_OK(onyx_session_run(s, in_names, ins, 1, out_names, 1, &y));
        ONYX_CHECK_INT(graph_launched(s), want_launched[round]);
        if (y) check_doubled(onyx_tensor_data(y), n, round, "session run");
        onyx_tensor_destroy(y);
    }
    /* Three runs queued without waiting: the host input is rewritten as soon as each run returns,
     * before the device may have copied it. */
    ONYX_CHECK_OK(onyx_io_binding_create(s, &b));
    if (!b) goto done;
    for (int k = 0; k < 3; k++) {
        if (cudaMalloc(&d_y[k], (size_t)n * sizeof(float)) != cudaSuccess) goto done;
        ONYX_CHECK_OK(onyx_tensor_create_borrowed_on(ONYX_DTYPE_FLOAT32, &n, 1, d_y[k], (size_t)n * sizeof(float),
                                                     ONYX_DEVICE_CUDA, 0, &y_dev[k]));
    }
    for (int k = 0; k < 3; k++) {
        fill(x, 10 + k);
        ONYX_CHECK_OK(onyx_io_binding_bind_input(b, "x", x));
        ONYX_CHECK_OK(onyx_io_binding_bind_output(b, "y", y_dev[k]));
        ONYX_CHECK_OK(onyx_session_run_with_binding(s, b));
        ONYX_CHECK_INT(graph_launched(s), 1);
    }
    memset(onyx_tensor_data(x), 0, (size_t)n * sizeof(float));
    float *host = onyx_malloc((size_t)n * sizeof(float));
    for (int k = 0; k < 3 && host; k++) {
        ONYX_CHECK(cudaMemcpy(host, d_y[k], (size_t)n * sizeof(float), cudaMemcpyDeviceToHost) == cudaSuccess);
        check_doubled(host, n, 10 + k, "queued runs");
    }
    onyx_free(host);
done:
    onyx_io_binding_destroy(b);
    for (int k = 0; k < 3; k++) {
        onyx_tensor_destroy(y_dev[k]);
        if (d_y[k]) cudaFree(d_y[k]);
    }
    onyx_tensor_destroy(x);
    onyx_session_destroy(s);
}

/* relu_matmul: a run with bad_b fails in MatMul's prepare. */
static void test_failed_run(void) {
    size_t size = 0;
    uint8_t *bytes = relu_matmul_model(&size);
    /* Parts of one node: Relu's part is launched before MatMul fails. */
    onyx_session *on = bytes ? open_bytes(bytes, size, "cuda.enable_cuda_graph=1;cuda.cuda_graph_part_nodes=1") : NULL;
    onyx_session *off = bytes ? open_bytes(bytes, size, "cuda.enable_cuda_graph=0") : NULL;
    onyx_free(bytes);
    relu_matmul_operands x;
    relu_matmul_operands_make(&x);
    onyx_tensor *a = x.a, *good_b = x.b, *bad_b = x.bad_b;
    if (!on || !off || !a || !good_b || !bad_b) goto done;
    const char *in_names[2] = {"a", "b"}, *out_names[1] = {"y"};
    const onyx_tensor *good[2] = {a, good_b}, *bad[2] = {a, bad_b};
    onyx_tensor *y = NULL;
    ONYX_CHECK_OK(onyx_session_run(on, in_names, good, 2, out_names, 1, &y)); /* the first run */
    onyx_tensor_destroy(y);
    y = NULL;
    char want_error[512] = "";
    onyx_status want_st = onyx_session_run(off, in_names, bad, 2, out_names, 1, &y);
    ONYX_CHECK(want_st != ONYX_OK);
    snprintf(want_error, sizeof want_error, "%s", onyx_last_error());
    onyx_status st = onyx_session_run(on, in_names, bad, 2, out_names, 1, &y);
    ONYX_CHECK_INT(st, want_st);
    ONYX_CHECK(y == NULL);
    if (strcmp(onyx_last_error(), want_error) != 0) {
        onyx_test_failures++;
        fprintf(stderr, "FAIL %s: recorded run's error '%s', unrecorded '%s'\n", onyx_test_current, onyx_last_error(), want_error);
    }
    onyx_test_checks++;
    ONYX_CHECK_INT(graph_launched(on), 0);
    ONYX_CHECK_OK(onyx_session_run(on, in_names, good, 2, out_names, 1, &y));
    ONYX_CHECK_INT(graph_launched(on), 1);
    onyx_tensor *want = NULL;
    ONYX_CHECK_OK(onyx_session_run(off, in_names, good, 2, out_names, 1, &want));
    ONYX_CHECK(same_bits(y, want));
    onyx_tensor_destroy(y);
    onyx_tensor_destroy(want);
done:
    relu_matmul_operands_free(&x);
    onyx_session_destroy(on);
    onyx_session_destroy(off);
}

/* Tokens of onyx_model_generate on dir, greedy or with beams, 20 new tokens, two prompts. */
static int64_t *generate_ids(const char *dir, const char *provider_options, int beams, int64_t *n, uint64_t *graph_runs) {
    onyx_model_options o;
    onyx_model_options_init(&o);
    o.session.providers = "cuda";
    o.session.provider_options = provider_options;
    onyx_model *m = NULL;
    ONYX_CHECK_OK(onyx_model_load(dir, ONYX_TASK_AUTO, &o, &m));
    if (!m) return NULL;
    onyx_generation_config g;
    ONYX_CHECK_OK(onyx_model_generation_config(m, &g));
    g.max_new_tokens = g.min_new_tokens = 20;
    g.num_beams = beams;
    g.num_return_sequences = 1;
    g.do_sample = 0;
    int64_t ids[2 * 5] = {5, 17, 42, 7, 99, 3, 250, 11, 64, 8};
    int64_t *out = NULL, rows = 0, length = 0;
    for (int call = 0; call < 2; call++) { /* the second call's decode steps are all recorded */
        onyx_ids_free(out);
        out = NULL;
        ONYX_CHECK_OK(onyx_model_generate(m, ids, NULL, 2, 5, &g, &out, &rows, &length));
    }
    *n = rows * length;
    onyx_run_totals t;
    onyx_run_totals_init(&t);
    *graph_runs = m->decoder && onyx_session_run_totals(m->decoder, &t) == ONYX_OK ? t.graph_runs : 0;
    onyx_model_destroy(m);
    return out;
}

static void test_generate(void) {
    const char *dirs[] = {ONYX_SOURCE_DIR "/tests/models/t5-ts17", ONYX_SOURCE_DIR "/tests/data/t5-ts17-fp16",
                          ONYX_SOURCE_DIR "/tests/models/m2m100-ts14", ONYX_SOURCE_DIR "/tests/models/gpt2-fp16-ts17"};
    for (size_t d = 0; d < sizeof dirs / sizeof dirs[0]; d++) {
        for (int beams = 1; beams <= 3; beams += 2) {
            int64_t n_on = 0, n_off = 0;
            uint64_t runs_on = 0, runs_off = 0;
            int64_t *on = generate_ids(dirs[d], "cuda.enable_cuda_graph=1", beams, &n_on, &runs_on);
            int64_t *off = generate_ids(dirs[d], "cuda.enable_cuda_graph=0", beams, &n_off, &runs_off);
            ONYX_CHECK(on && off && n_on == n_off && n_on > 0);
            if (on && off && n_on == n_off && memcmp(on, off, (size_t)n_on * sizeof *on) != 0) {
                onyx_test_failures++;
                fprintf(stderr, "FAIL %s: %s, %d beams: tokens differ with graphs\n", onyx_test_current, dirs[d], beams);
            }
            onyx_test_checks++;
            ONYX_CHECK(runs_on > 0);
            ONYX_CHECK_INT(runs_off, 0);
            onyx_ids_free(on);
            onyx_ids_free(off);
        }
    }
}

static onyx_tensor *float16_tensor(int64_t rows, int64_t cols, uint32_t seed) {
    int64_t dims[2] = {rows, cols};
    onyx_tensor *t = NULL;
    onyx_tensor_create(ONYX_DTYPE_FLOAT16, dims, 2, &t);
    if (!t) return NULL;
    uint16_t *x = onyx_tensor_data(t);
    for (int64_t i = 0; i < rows * cols; i++) {
        seed = seed * 1664525u + 1013904223u;
        x[i] = onyx_f32_to_f16((float)(seed >> 8) / 16777216.0f - 0.5f);
    }
    return t;
}

/* relu_matmul_case.h's model in float16, with rows that change from run to run so that the
 * product's kernel changes: up to 8 rows our few-row kernel, more cuBLASLt's (by its heuristic,
 * one per shape). Graphs on in parts of one node and off, bits compared at every run. A part is
 * updated only from a graph with the same cuBLASLt kernels (graph.c): updated across such a
 * change, float16 decoders computed other values. */
static void test_kernel_changes(void) {
    size_t size = 0;
    uint8_t *bytes = relu_matmul_model_of(ONYX_DTYPE_FLOAT16, &size);
    onyx_session *on = bytes ? open_bytes(bytes, size, "cuda.enable_cuda_graph=1;cuda.cuda_graph_part_nodes=1") : NULL;
    onyx_session *off = bytes ? open_bytes(bytes, size, "cuda.enable_cuda_graph=0") : NULL;
    onyx_free(bytes);
    const int64_t rows[] = {1, 8, 9, 64, 8, 1, 64, 9, 33, 8, 200, 2, 9, 200, 64, 1};
    const int n_runs = (int)(sizeof rows / sizeof rows[0]);
    const char *in_names[2] = {"a", "b"}, *out_names[1] = {"y"};
    onyx_tensor *b = float16_tensor(256, 384, 7u);
    int differ = 0, as_graphs = 0;
    for (int round = 0; on && off && b && round < 3; round++) {
        for (int r = 0; r < n_runs; r++) {
            onyx_tensor *a = float16_tensor(rows[r], 256, (uint32_t)(round * 100 + r));
            const onyx_tensor *ins[2] = {a, b};
            onyx_tensor *y = NULL, *want = NULL;
            if (a) {
                ONYX_CHECK_OK(onyx_session_run(on, in_names, ins, 2, out_names, 1, &y));
                as_graphs += round > 0 && graph_launched(on) == 1;
                ONYX_CHECK_OK(onyx_session_run(off, in_names, ins, 2, out_names, 1, &want));
                if (!same_bits(y, want) && differ++ < 3)
                    fprintf(stderr, "FAIL %s: round %d, %lld rows: graphs on and off differ\n", onyx_test_current, round,
                            (long long)rows[r]);
            }
            onyx_tensor_destroy(y);
            onyx_tensor_destroy(want);
            onyx_tensor_destroy(a);
        }
    }
    ONYX_CHECK_INT(differ, 0);
    /* In the first round some runs go again kernel by kernel (the first, and those whose inputs
     * outgrow the pinned staging of uploads, which then grows: graph.c); from the second, with
     * every shape seen, all of them go out as graphs, so the bits above compare graphs. */
    ONYX_CHECK_INT(as_graphs, 2 * n_runs);
    onyx_tensor_destroy(b);
    onyx_session_destroy(on);
    onyx_session_destroy(off);
}

/* The provider's recording: a copy to the host and a wait for the device make it unusable, and
 * the provider's stream works afterwards; option values. */
static void test_provider_recording(void) {
    onyx_provider *p = NULL;
    ONYX_CHECK_OK(onyx_provider_create("cuda", "enable_cuda_graph=1", 1, &p));
    if (!p) return;
    float *dev = NULL, host[4] = {1, 2, 3, 4}, back[4] = {0};
    ONYX_CHECK_OK(p->ops->alloc(p, sizeof host, (void **)&dev));
    ONYX_CHECK_OK(p->ops->copy(p, dev, ONYX_DEVICE_CUDA, host, ONYX_DEVICE_CPU, sizeof host));
    ONYX_CHECK_OK(p->ops->capture_begin(p));
    ONYX_CHECK_ERROR(p->ops->copy(p, back, ONYX_DEVICE_CPU, dev, ONYX_DEVICE_CUDA, sizeof back), ONYX_ERR_NOT_IMPLEMENTED,
                     "copy to the host");
    ONYX_CHECK_ERROR(p->ops->capture_end(p, 1, NULL), ONYX_ERR_NOT_IMPLEMENTED, "copies a value to the host");
    ONYX_CHECK_OK(p->ops->capture_begin(p));
    ONYX_CHECK_ERROR(p->ops->sync(p), ONYX_ERR_NOT_IMPLEMENTED, "wait for the device");
    ONYX_CHECK_ERROR(p->ops->capture_end(p, 1, NULL), ONYX_ERR_NOT_IMPLEMENTED, "waits for the device");
    /* A recorded upload lands when the graph runs, from the host's bytes at the time of the call. */
    ONYX_CHECK_OK(p->ops->capture_begin(p));
    float later[4] = {5, 6, 7, 8};
    ONYX_CHECK_OK(p->ops->copy(p, dev, ONYX_DEVICE_CUDA, later, ONYX_DEVICE_CPU, sizeof later));
    later[0] = -1;
    ONYX_CHECK_OK(p->ops->capture_end(p, 1, NULL));
    ONYX_CHECK_OK(p->ops->copy(p, back, ONYX_DEVICE_CPU, dev, ONYX_DEVICE_CUDA, sizeof back));
    ONYX_CHECK(back[0] == 5 && back[3] == 8);
    /* Dropped: nothing runs. */
    ONYX_CHECK_OK(p->ops->capture_begin(p));
    ONYX_CHECK_OK(p->ops->copy(p, dev, ONYX_DEVICE_CUDA, host, ONYX_DEVICE_CPU, sizeof host));
    ONYX_CHECK_OK(p->ops->capture_end(p, 0, NULL));
    ONYX_CHECK_OK(p->ops->copy(p, back, ONYX_DEVICE_CPU, dev, ONYX_DEVICE_CUDA, sizeof back));
    ONYX_CHECK(back[0] == 5);
    p->ops->free(p, dev);
    onyx_provider_destroy(p);
    ONYX_CHECK_OK(onyx_provider_create("cuda", "enable_cuda_graph=0", 1, &p));
    if (p) ONYX_CHECK_ERROR(p->ops->capture_begin(p), ONYX_ERR_NOT_IMPLEMENTED, "enable_cuda_graph=0");
    onyx_provider_destroy(p);
    p = NULL;
    ONYX_CHECK_OK(onyx_provider_create("cuda", "", 1, &p)); /* the default: on */
    if (p) {
        ONYX_CHECK_OK(p->ops->capture_begin(p));
        ONYX_CHECK_OK(p->ops->capture_end(p, 0, NULL));
    }
    onyx_provider_destroy(p);
    p = NULL;
    ONYX_CHECK_ERROR(onyx_provider_create("cuda", "enable_cuda_graph=2", 1, &p), ONYX_ERR_INVALID_ARGUMENT,
                     "enable_cuda_graph=2");
    ONYX_CHECK_ERROR(onyx_provider_create("cuda", "cuda_graph_part_nodes=-1", 1, &p), ONYX_ERR_INVALID_ARGUMENT,
                     "cuda_graph_part_nodes=-1");
}
#endif

int main(void) {
#ifdef ONYX_HAVE_CUDA
    if (onyx_test_cuda_missing()) return 77;
    ONYX_TEST_RUN(test_decode_same_bits);
    ONYX_TEST_RUN(test_uploads);
    ONYX_TEST_RUN(test_failed_run);
    ONYX_TEST_RUN(test_generate);
    ONYX_TEST_RUN(test_kernel_changes);
    ONYX_TEST_RUN(test_provider_recording);
    return onyx_test_finish();
#else
    printf("skipping: onyx was built without CUDA\n");
    return 77;
#endif
}
