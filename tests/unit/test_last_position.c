/*
 * test_last_position.c - onyx_session_options.last_position_outputs (logits at the last position
 * only, as generate wants them):
 *  - the fixtures' test sets (GPT2, and T5's and M2M100's merged decoders, whose logits come
 *    out of an If) give logits with one position, equal to the last position of the whole
 *    logits, and the other outputs unchanged;
 *  - a graph written in memory: MatMul, scale Mul and bias Add are cut to the last row (with one
 *    position the Slice is a view and allocates nothing); the
 *    output is left whole when the product is read elsewhere too, when the output has rank 2, or
 *    when it is not a product; a name that is not an output is an error;
 *  - the model layer opens its decoders this way.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "harness.h"
#include "model/model_internal.h"
#include "model/onnx_writer.h"
#include "onnx/loader.h"

#define MODELS ONYX_SOURCE_DIR "/tests/models"

static onyx_session *open_path(const char *path, const char *last) {
    onyx_session_options o;
    onyx_session_options_init(&o);
    o.last_position_outputs = last;
    onyx_session *s = NULL;
    ONYX_CHECK_OK(onyx_session_create(path, &o, &s));
    return s;
}

/* out (B, 1, ...) equals the last position of whole (B, S, ...), within float32 rounding. */
static void check_last(const onyx_tensor *out, const onyx_tensor *whole, const char *what) {
    ONYX_CHECK(out && whole);
    if (!out || !whole) return;
    const int64_t *d = onyx_tensor_dims(whole), *e = onyx_tensor_dims(out);
    ONYX_CHECK_INT(onyx_tensor_rank(out), onyx_tensor_rank(whole));
    ONYX_CHECK_INT(e[1], 1);
    if (onyx_tensor_rank(out) != 3 || e[1] != 1 || e[0] != d[0] || e[2] != d[2]) return;
    const float *o = onyx_tensor_data((onyx_tensor *)out), *w = onyx_tensor_data((onyx_tensor *)whole);
    int64_t S = d[1], V = d[2], bad = -1;
    for (int64_t b = 0; b < d[0] && bad < 0; b++)
        for (int64_t v = 0; v < V && bad < 0; v++) {
            float x = o[b * V + v], y = w[(b * S + S - 1) * V + v];
            if (!(fabsf(x - y) <= 1e-5f + 1e-4f * fabsf(y))) bad = b * V + v;
        }
    onyx_test_checks++;
    if (bad >= 0) {
        onyx_test_failures++;
        fprintf(stderr, "FAIL %s: %s: element %lld differs from the last position\n", onyx_test_current, what, (long long)bad);
    }
}

/* Every test set of folder dir (model.onnx + test_data_set_N) with and without the option. */
static void check_fixture(const char *dir) {
    char path[1024];
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    onyx_session *whole = open_path(path, NULL), *last = open_path(path, "logits");
    if (!whole || !last) goto done;
    for (int set = 0; set < 2; set++) {
        onyx_tensor *in[32] = {0};
        char *names[32] = {0};
        int n = 0;
        for (; n < 32; n++) {
            char file[1200];
            snprintf(file, sizeof file, "%s/test_data_set_%d/input_%d.pb", dir, set, n);
            FILE *f = fopen(file, "rb");
            if (!f) break;
            fclose(f);
            ONYX_CHECK_OK(onyx_onnx_read_tensor_file(file, &in[n], &names[n]));
        }
        if (n == 0) break;
        size_t n_out = onyx_session_output_count(whole);
        const char *out_names[64];
        for (size_t k = 0; k < n_out && k < 64; k++) {
            onyx_value_info info;
            ONYX_CHECK_OK(onyx_session_output_info(whole, k, &info));
            out_names[k] = info.name;
        }
        onyx_tensor *a[64] = {0}, *b[64] = {0};
        ONYX_CHECK_OK(onyx_session_run(whole, (const char *const *)names, (const onyx_tensor *const *)in, (size_t)n,
                                       out_names, n_out, a));
        ONYX_CHECK_OK(onyx_session_run(last, (const char *const *)names, (const onyx_tensor *const *)in, (size_t)n,
                                       out_names, n_out, b));
        for (size_t k = 0; k < n_out; k++) {
            if (!a[k] || !b[k]) continue;
            if (!strcmp(out_names[k], "logits")) {
                check_last(b[k], a[k], dir);
            } else {
                /* the presents: the same values */
                ONYX_CHECK(onyx_tensor_nbytes(a[k]) == onyx_tensor_nbytes(b[k]) &&
                           !memcmp(onyx_tensor_data(a[k]), onyx_tensor_data(b[k]), onyx_tensor_nbytes(a[k])));
            }
        }
        for (size_t k = 0; k < n_out; k++) {
            onyx_tensor_destroy(a[k]);
            onyx_tensor_destroy(b[k]);
        }
        for (int i = 0; i < n; i++) {
            onyx_tensor_destroy(in[i]);
            onyx_free(names[i]);
        }
    }
    onyx_value_info info;
    size_t k = 0;
    while (k < onyx_session_output_count(last) && onyx_session_output_info(last, k, &info) == ONYX_OK &&
           strcmp(info.name, "logits") != 0)
        k++;
    ONYX_CHECK(k < onyx_session_output_count(last) && info.rank == 3 && info.dims[1] == 1);
done:
    onyx_session_destroy(whole);
    onyx_session_destroy(last);
}

static void test_fixtures(void) {
    check_fixture(MODELS "/gpt2-ts17");
    check_fixture(MODELS "/t5-ts17/decoder_model_merged");
    check_fixture(MODELS "/m2m100-ts14/decoder_model_merged");
}

/* y = (MatMul(x, W) * 0.5 + bias); shared: h = MatMul(x, W) is also output "h". */
static onyx_session *open_head(int shared, const char *last, onyx_status want) {
    onyx_graph_writer w;
    onyx_graph_writer_init(&w, "head");
    onyx_graph_writer_input(&w, "x", ONYX_DTYPE_FLOAT32, 3);
    onyx_graph_writer_output(&w, "y", ONYX_DTYPE_FLOAT32, 3);
    onyx_graph_writer_output(&w, "r", ONYX_DTYPE_FLOAT32, 2);
    if (shared) onyx_graph_writer_output(&w, "h", ONYX_DTYPE_FLOAT32, 3);
    float wv[4 * 5], bias[5], half = 0.5f;
    for (int i = 0; i < 20; i++) wv[i] = (float)((i * 7) % 11) - 5.0f;
    for (int i = 0; i < 5; i++) bias[i] = (float)i;
    int64_t wd[2] = {4, 5}, bd[1] = {5}, rd[2] = {4, 5};
    onyx_graph_writer_floats(&w, "W", wv, wd, 2);
    onyx_graph_writer_floats(&w, "bias", bias, bd, 1);
    onyx_graph_writer_floats(&w, "half", &half, NULL, 0);
    onyx_graph_writer_floats(&w, "R", wv, rd, 2);
    onyx_graph_writer_node(&w, "MatMul", "x,W", "h", NULL, 0);
    onyx_graph_writer_node(&w, "Mul", "h,half", "s", NULL, 0);
    onyx_graph_writer_node(&w, "Add", "s,bias", "y", NULL, 0);
    /* r: rank 2, a product too: the mean over the sequence first */
    const int64_t axis1[1] = {1};
    onyx_node_attr_value mean_attrs[2] = {ONYX_ATTR_INT("keepdims", 0), {"axes", 0, 0.0f, 0, axis1, 1}};
    onyx_graph_writer_node(&w, "ReduceMean", "x", "m", mean_attrs, 2);
    onyx_graph_writer_node(&w, "MatMul", "m,R", "r", NULL, 0);
    uint8_t *bytes = NULL;
    size_t size = 0;
    ONYX_CHECK_OK(onyx_graph_writer_finish(&w, 17, &bytes, &size));
    onyx_graph_writer_release(&w);
    onyx_session_options o;
    onyx_session_options_init(&o);
    o.last_position_outputs = last;
    onyx_session *s = NULL;
    if (bytes) {
        onyx_status st = onyx_session_create_from_memory(bytes, size, &o, &s);
        ONYX_CHECK_INT(st, want);
    }
    onyx_free(bytes);
    return s;
}

static void run_head_len(onyx_session *s, int shared, int64_t len, onyx_tensor **y, onyx_tensor **r) {
    int64_t dims[3] = {2, len, 4};
    onyx_tensor *x = NULL;
    ONYX_CHECK_OK(onyx_tensor_create(ONYX_DTYPE_FLOAT32, dims, 3, &x));
    if (!x) return;
    float *xv = onyx_tensor_data(x);
    for (int i = 0; i < 2 * len * 4; i++) xv[i] = (float)((i * 5) % 7) - 3.0f;
    const char *in_names[1] = {"x"}, *out_names[3] = {"y", "r", "h"};
    const onyx_tensor *ins[1] = {x};
    onyx_tensor *outs[3] = {0};
    ONYX_CHECK_OK(onyx_session_run(s, in_names, ins, 1, out_names, shared ? 3 : 2, outs));
    *y = outs[0];
    *r = outs[1];
    onyx_tensor_destroy(outs[2]);
    onyx_tensor_destroy(x);
}

static void run_head(onyx_session *s, int shared, onyx_tensor **y, onyx_tensor **r) { run_head_len(s, shared, 3, y, r); }

static uint64_t last_host_allocations(const onyx_session *s) {
    onyx_run_stats stats;
    onyx_run_stats_init(&stats);
    ONYX_CHECK_OK(onyx_session_last_run_stats(s, &stats));
    return stats.host_allocations;
}

static void test_written_graph(void) {
    onyx_session *whole = open_head(0, NULL, ONYX_OK), *last = open_head(0, "y, r", ONYX_OK);
    onyx_tensor *wy = NULL, *wr = NULL, *ly = NULL, *lr = NULL;
    if (whole && last) {
        run_head(whole, 0, &wy, &wr);
        run_head(last, 0, &ly, &lr);
        check_last(ly, wy, "y");
        /* r has rank 2: left whole */
        ONYX_CHECK(wr && lr && onyx_tensor_nbytes(wr) == onyx_tensor_nbytes(lr) &&
                   !memcmp(onyx_tensor_data(wr), onyx_tensor_data(lr), onyx_tensor_nbytes(wr)));
    }
    onyx_tensor_destroy(wy);
    onyx_tensor_destroy(wr);
    onyx_tensor_destroy(ly);
    onyx_tensor_destroy(lr);
    /* One position (a decode step): the Slice keeps everything, so it is a view and allocates
     * nothing more than the whole graph does. */
    if (whole && last) {
        wy = wr = ly = lr = NULL;
        run_head_len(whole, 0, 1, &wy, &wr);
        uint64_t whole_allocations = last_host_allocations(whole);
        run_head_len(last, 0, 1, &ly, &lr);
        ONYX_CHECK_INT(last_host_allocations(last), whole_allocations);
        ONYX_CHECK(wy && ly && !memcmp(onyx_tensor_data(wy), onyx_tensor_data(ly), onyx_tensor_nbytes(wy)));
        onyx_tensor_destroy(wy);
        onyx_tensor_destroy(wr);
        onyx_tensor_destroy(ly);
        onyx_tensor_destroy(lr);
    }
    onyx_session_destroy(whole);
    onyx_session_destroy(last);
    /* The product is also output h: y is left whole. */
    onyx_session *shared = open_head(1, "y", ONYX_OK);
    if (shared) {
        onyx_tensor *y = NULL, *r = NULL;
        run_head(shared, 1, &y, &r);
        ONYX_CHECK(y && onyx_tensor_dims(y)[1] == 3);
        onyx_tensor_destroy(y);
        onyx_tensor_destroy(r);
    }
    onyx_session_destroy(shared);
    /* Not an output. */
    ONYX_CHECK(open_head(0, "y,nope", ONYX_ERR_INVALID_ARGUMENT) == NULL);
    ONYX_CHECK(strstr(onyx_last_error(), "'nope', which is not an output; the outputs are [y, r]") != NULL);
}

/* onyx_model_load opens decoders with the logits cut to the last position. */
static void test_model_decoders(void) {
    onyx_model_options o;
    onyx_model_options_init(&o);
    const char *dirs[2] = {MODELS "/gpt2-ts17", MODELS "/t5-ts17"};
    for (int i = 0; i < 2; i++) {
        onyx_model *m = NULL;
        ONYX_CHECK_OK(onyx_model_load(dirs[i], ONYX_TASK_AUTO, &o, &m));
        if (!m) continue;
        onyx_value_info info;
        int found = onyx_model_session_output(m->decoder, "logits", &info);
        ONYX_CHECK(found && info.rank == 3 && info.dims[1] == 1);
        onyx_model_destroy(m);
    }
}

int main(void) {
    ONYX_TEST_RUN(test_fixtures);
    ONYX_TEST_RUN(test_written_graph);
    ONYX_TEST_RUN(test_model_decoders);
    return onyx_test_finish();
}
