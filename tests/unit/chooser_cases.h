/*
 * chooser_cases.h - the token chooser graph (src/model/chooser.c) against a plain C reference of
 * transformers' logits processors, warpers and token choice, computed here in double precision.
 * Included by test_chooser.c (cpu) and test_chooser_cuda_gpu.c (cuda); each defines
 * CHOOSER_PROVIDERS before including it.
 *
 * Logits are random (N, T, V) with N = 3 rows, T = 2 positions, V = 512 (the gpt2-ts17 fixture's
 * vocabulary, whose folder gives the model the chooser sessions are opened for). Every case
 * checks what the search reads back: next ids (greedy, sampling), the K candidates (beam search),
 * the accumulated scores (beam sampling).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"
#include "core/status.h"
#include "harness.h"
#include "model/model_internal.h"
#include "onyx/model.h"

#define CN 3
#define CT 2
#define CV 512

typedef struct chooser_case {
    const char *name;
    onyx_chooser_spec spec;
    int64_t seen[8][2];
    int n_seen;
    int64_t banned[8][2];
    float banned_values[8];
    int n_banned;
    float uniform[CN];
    float beam_scores[CN];
} chooser_case;

static float case_logits[CN * CT * CV];

static void make_logits(uint64_t seed) {
    for (int i = 0; i < CN * CT * CV; i++) {
        seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
        case_logits[i] = (float)((double)(seed >> 11) / 9007199254740992.0 * 8.0 - 4.0);
    }
}

/* The reference: x (N, V) = processed (and, when sampling, warped) scores of the last position. */
static void reference_scores(const chooser_case *c, double x[CN][CV]) {
    const onyx_chooser_spec *s = &c->spec;
    int beam = s->mode == ONYX_CHOOSER_BEAM || s->mode == ONYX_CHOOSER_BEAM_SAMPLE;
    int sample = s->mode == ONYX_CHOOSER_SAMPLE || s->mode == ONYX_CHOOSER_BEAM_SAMPLE;
    for (int n = 0; n < CN; n++) {
        const float *row = case_logits + (n * CT + CT - 1) * CV;
        double max = -INFINITY, total = 0;
        for (int v = 0; v < CV; v++) max = row[v] > max ? row[v] : max;
        for (int v = 0; v < CV; v++) total += exp(row[v] - max);
        for (int v = 0; v < CV; v++) x[n][v] = beam ? row[v] - max - log(total) : row[v];
    }
    for (int i = 0; i < c->n_seen && s->repetition_penalty != 1.0f; i++) {
        double *v = &x[c->seen[i][0]][c->seen[i][1]];
        *v = *v < 0 ? *v * s->repetition_penalty : *v / s->repetition_penalty;
    }
    for (int i = 0; i < c->n_banned; i++) {
        double *v = &x[c->banned[i][0]][c->banned[i][1]];
        if (c->banned_values[i] < *v) *v = c->banned_values[i];
    }
    if (!sample) return;
    for (int n = 0; n < CN; n++) {
        double sorted[CV];
        for (int v = 0; v < CV; v++) x[n][v] /= s->temperature;
        int64_t k = s->top_k > s->min_keep ? s->top_k : s->min_keep;
        if (s->top_k > 0 && k < CV) {
            for (int v = 0; v < CV; v++) sorted[v] = x[n][v];
            for (int i = 0; i < k; i++) /* partial selection sort, descending */
                for (int j = i + 1; j < CV; j++)
                    if (sorted[j] > sorted[i]) {
                        double t = sorted[i];
                        sorted[i] = sorted[j];
                        sorted[j] = t;
                    }
            for (int v = 0; v < CV; v++)
                if (x[n][v] < sorted[k - 1]) x[n][v] = -INFINITY;
        }
        if (s->top_p < 1.0f) {
            for (int v = 0; v < CV; v++) sorted[v] = x[n][v];
            for (int i = 0; i < CV; i++)
                for (int j = i + 1; j < CV; j++)
                    if (sorted[j] > sorted[i]) {
                        double t = sorted[i];
                        sorted[i] = sorted[j];
                        sorted[j] = t;
                    }
            double total = 0, cumulative = 0, threshold = -INFINITY;
            for (int v = 0; v < CV; v++) total += exp(sorted[v] - sorted[0]);
            for (int i = CV - 1; i >= 0; i--) {
                cumulative += exp(sorted[i] - sorted[0]) / total;
                if (cumulative > 1.0 - s->top_p || i < s->min_keep) {
                    threshold = sorted[i];
                    break;
                }
            }
            for (int v = 0; v < CV; v++)
                if (x[n][v] < threshold) x[n][v] = -INFINITY;
        }
    }
}

static onyx_status run_case(onyx_model *m, const chooser_case *c, onyx_dtype dtype, onyx_io_binding **binding_out,
                            onyx_session **session_out) {
    onyx_session *session = NULL;
    ONYX_TRY(onyx_model_chooser(m, &c->spec, &session));
    onyx_io_binding *binding = NULL;
    ONYX_TRY(onyx_io_binding_create(session, &binding));
    *binding_out = binding;
    *session_out = session;
    onyx_tensor *t[6] = {0};
    int64_t ldims[3] = {CN, CT, CV}, bdims[2] = {c->n_banned, 2}, vdims[1] = {c->n_banned}, sdims[2] = {c->n_seen, 2},
            rdims[2] = {CN, 1};
    onyx_status st = onyx_tensor_create(dtype, ldims, 3, &t[0]);
    for (int i = 0; st == ONYX_OK && i < CN * CT * CV; i++) {
        if (dtype == ONYX_DTYPE_FLOAT16)
            ((uint16_t *)onyx_tensor_data(t[0]))[i] = onyx_f32_to_f16(case_logits[i]);
        else
            ((float *)onyx_tensor_data(t[0]))[i] = case_logits[i];
    }
    if (st == ONYX_OK) st = onyx_tensor_create(ONYX_DTYPE_INT64, bdims, 2, &t[1]);
    if (st == ONYX_OK) memcpy(onyx_tensor_data(t[1]), c->banned, sizeof(int64_t) * 2 * (size_t)c->n_banned);
    if (st == ONYX_OK) st = onyx_tensor_create(ONYX_DTYPE_FLOAT32, vdims, 1, &t[2]);
    if (st == ONYX_OK) memcpy(onyx_tensor_data(t[2]), c->banned_values, sizeof(float) * (size_t)c->n_banned);
    if (st == ONYX_OK) st = onyx_io_binding_bind_input(binding, "logits", t[0]);
    if (st == ONYX_OK) st = onyx_io_binding_bind_input(binding, "banned", t[1]);
    if (st == ONYX_OK) st = onyx_io_binding_bind_input(binding, "banned_values", t[2]);
    if (st == ONYX_OK && c->spec.repetition_penalty != 1.0f) {
        st = onyx_tensor_create(ONYX_DTYPE_INT64, sdims, 2, &t[3]);
        if (st == ONYX_OK) memcpy(onyx_tensor_data(t[3]), c->seen, sizeof(int64_t) * 2 * (size_t)c->n_seen);
        if (st == ONYX_OK) st = onyx_io_binding_bind_input(binding, "seen", t[3]);
    }
    if (st == ONYX_OK && c->spec.mode == ONYX_CHOOSER_SAMPLE) {
        st = onyx_tensor_create(ONYX_DTYPE_FLOAT32, rdims, 2, &t[4]);
        if (st == ONYX_OK) memcpy(onyx_tensor_data(t[4]), c->uniform, sizeof c->uniform);
        if (st == ONYX_OK) st = onyx_io_binding_bind_input(binding, "uniform", t[4]);
    }
    if (st == ONYX_OK && (c->spec.mode == ONYX_CHOOSER_BEAM || c->spec.mode == ONYX_CHOOSER_BEAM_SAMPLE)) {
        st = onyx_tensor_create(ONYX_DTYPE_FLOAT32, rdims, 2, &t[5]);
        if (st == ONYX_OK) memcpy(onyx_tensor_data(t[5]), c->beam_scores, sizeof c->beam_scores);
        if (st == ONYX_OK) st = onyx_io_binding_bind_input(binding, "beam_scores", t[5]);
    }
    for (size_t i = 0; st == ONYX_OK && i < onyx_session_output_count(session); i++) {
        onyx_value_info info;
        st = onyx_session_output_info(session, i, &info);
        if (st == ONYX_OK) st = onyx_io_binding_bind_output_to_device(binding, info.name, ONYX_DEVICE_CPU);
    }
    if (st == ONYX_OK) st = onyx_session_run_with_binding(session, binding);
    onyx_io_binding_clear_inputs(binding);
    for (int i = 0; i < 6; i++) onyx_tensor_destroy(t[i]);
    return st;
}

static void check_case(onyx_model *m, const chooser_case *c, onyx_dtype dtype) {
    onyx_io_binding *binding = NULL;
    onyx_session *session = NULL;
    onyx_status st = run_case(m, c, dtype, &binding, &session);
    onyx_test_checks++;
    if (st != ONYX_OK) {
        onyx_test_failures++;
        fprintf(stderr, "FAIL %s: case %s: %s %s\n", onyx_test_current, c->name, onyx_status_name(st), onyx_last_error());
        onyx_io_binding_destroy(binding);
        return;
    }
    /* fp16 logits are rounded: compare against the reference of the rounded values */
    float saved[CN * CT * CV];
    memcpy(saved, case_logits, sizeof saved);
    if (dtype == ONYX_DTYPE_FLOAT16)
        for (int i = 0; i < CN * CT * CV; i++) case_logits[i] = onyx_f16_to_f32(onyx_f32_to_f16(case_logits[i]));
    static double x[CN][CV];
    reference_scores(c, x);
    memcpy(case_logits, saved, sizeof saved);
    onyx_tensor *out = NULL, *out2 = NULL;
    const onyx_chooser_spec *s = &c->spec;
    if (s->mode == ONYX_CHOOSER_GREEDY) {
        ONYX_CHECK_OK(onyx_io_binding_get_output(binding, "next", &out));
        for (int n = 0; out && n < CN; n++) {
            int best = 0;
            for (int v = 1; v < CV; v++)
                if (x[n][v] > x[n][best]) best = v;
            int64_t got = ((const int64_t *)onyx_tensor_data(out))[n];
            if (got != best)
                fprintf(stderr, "  case %s row %d: chose %lld (%.6g), reference %d (%.6g)\n", c->name, n, (long long)got,
                        got >= 0 && got < CV ? x[n][got] : NAN, best, x[n][best]);
            ONYX_CHECK_INT(got, best);
        }
    } else if (s->mode == ONYX_CHOOSER_SAMPLE) {
        ONYX_CHECK_OK(onyx_io_binding_get_output(binding, "next", &out));
        for (int n = 0; out && n < CN; n++) {
            double w[CV], max = -INFINITY, total = 0;
            for (int v = 0; v < CV; v++) max = x[n][v] > max ? x[n][v] : max;
            for (int v = 0; v < CV; v++) total += w[v] = x[n][v] == -INFINITY ? 0 : exp(x[n][v] - max);
            int64_t got = ((const int64_t *)onyx_tensor_data(out))[n];
            onyx_test_checks++;
            if (got < 0 || got >= CV || w[got] == 0) {
                onyx_test_failures++;
                fprintf(stderr, "FAIL %s: case %s row %d: chose %lld, a token the warpers removed\n", onyx_test_current,
                        c->name, n, (long long)got);
                continue;
            }
            /* the first token whose cumulative probability exceeds u, within float rounding */
            double before = 0, target = c->uniform[n];
            for (int v = 0; v < got; v++) before += w[v] / total;
            double through = before + w[got] / total;
            if (!(before <= target + 1e-5 && through >= target - 1e-5)) {
                onyx_test_failures++;
                fprintf(stderr, "FAIL %s: case %s row %d: chose %lld, cumulative [%.7f, %.7f] misses u = %.7f\n",
                        onyx_test_current, c->name, n, (long long)got, before, through, target);
            }
        }
    } else {
        int64_t beams = s->beams, n_flat = beams * CV, B = CN / beams;
        for (int n = 0; n < CN; n++)
            for (int v = 0; v < CV; v++) x[n][v] += c->beam_scores[n];
        if (s->mode == ONYX_CHOOSER_BEAM) {
            ONYX_CHECK_OK(onyx_io_binding_get_output(binding, "values", &out));
            ONYX_CHECK_OK(onyx_io_binding_get_output(binding, "indices", &out2));
            for (int64_t b = 0; out && out2 && b < B; b++) {
                const double *flat = &x[b * beams][0];
                int64_t taken[64];
                for (int64_t k = 0; k < s->candidates; k++) {
                    int64_t best = -1;
                    for (int64_t i = 0; i < n_flat; i++) {
                        int used = 0;
                        for (int64_t u = 0; u < k && !used; u++) used = taken[u] == i;
                        if (!used && (best < 0 || flat[i] > flat[best])) best = i;
                    }
                    taken[k] = best;
                    int64_t got = ((const int64_t *)onyx_tensor_data(out2))[b * s->candidates + k];
                    float value = ((const float *)onyx_tensor_data(out))[b * s->candidates + k];
                    ONYX_CHECK_INT(got, best);
                    ONYX_CHECK_CLOSE(value, flat[best], 1e-4, 1e-5);
                }
            }
        } else {
            ONYX_CHECK_OK(onyx_io_binding_get_output(binding, "scores", &out));
            if (out) {
                ONYX_CHECK_INT(onyx_tensor_numel(out), B * n_flat);
                static float want[CN * CV];
                for (int n = 0; n < CN; n++)
                    for (int v = 0; v < CV; v++) want[n * CV + v] = (float)x[n][v];
                ONYX_CHECK_FLOATS((const float *)onyx_tensor_data(out), want, CN * CV, 1e-4, 1e-5);
            }
        }
    }
    onyx_tensor_destroy(out);
    onyx_tensor_destroy(out2);
    onyx_io_binding_destroy(binding);
}

static chooser_case make_case(const char *name, onyx_chooser_mode mode, int64_t beams, float penalty,
                              float temperature, int64_t top_k, float top_p, int min_keep) {
    chooser_case c;
    memset(&c, 0, sizeof c);
    c.name = name;
    c.spec = (onyx_chooser_spec){mode, ONYX_DTYPE_FLOAT32, CV, beams, mode == ONYX_CHOOSER_BEAM ? 2 * beams : 0,
                                 penalty, temperature, top_k, top_p, min_keep};
    /* the best token of row 0 and row 2 are seen and banned in turn, so both change the choice */
    int64_t seen[5][2] = {{0, 7}, {0, 300}, {1, 7}, {2, 64}, {2, 511}};
    memcpy(c.seen, seen, sizeof seen);
    c.n_seen = 5;
    int64_t banned[3][2] = {{0, 12}, {1, 400}, {2, 3}};
    for (int i = 0; i < 3; i++) {
        c.banned[i][0] = banned[i][0];
        c.banned[i][1] = banned[i][1];
        c.banned_values[i] = -INFINITY;
    }
    c.n_banned = 3;
    float uniform[CN] = {0.13f, 0.57f, 0.91f}, scores[CN] = {-0.5f, -1.25f, -3.0f};
    memcpy(c.uniform, uniform, sizeof uniform);
    memcpy(c.beam_scores, scores, sizeof scores);
    return c;
}

/* Point seen and banned pairs at each row's best raw token, so the processors decide. */
static void aim_at_best(chooser_case *c) {
    for (int n = 0; n < CN; n++) {
        const float *row = case_logits + (n * CT + CT - 1) * CV;
        int best = 0, second = 0;
        for (int v = 1; v < CV; v++)
            if (row[v] > row[best]) best = v;
        second = best == 0 ? 1 : 0;
        for (int v = 0; v < CV; v++)
            if (v != best && row[v] > row[second]) second = v;
        c->seen[n][0] = n;
        c->seen[n][1] = best;
        c->banned[n][0] = n;
        c->banned[n][1] = n == 1 ? best : second;
    }
    c->n_seen = CN;
}

static void run_chooser_cases(const char *providers) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/tests/models/gpt2-ts17", ONYX_SOURCE_DIR);
    onyx_model_options o;
    onyx_model_options_init(&o);
    o.session.providers = providers;
    onyx_model *m = NULL;
    ONYX_CHECK_OK(onyx_model_load(dir, ONYX_TASK_AUTO, &o, &m));
    if (!m) return;
    make_logits(0x1234567887654321ull);
    chooser_case cases[] = {
        make_case("greedy", ONYX_CHOOSER_GREEDY, 1, 1.0f, 1.0f, 0, 1.0f, 1),
        make_case("greedy, penalty 1.5", ONYX_CHOOSER_GREEDY, 1, 1.5f, 1.0f, 0, 1.0f, 1),
        make_case("sample, T 0.7, top-k 20, top-p 0.8, penalty 1.2", ONYX_CHOOSER_SAMPLE, 1, 1.2f, 0.7f, 20, 0.8f, 1),
        make_case("sample, top-p 0.5", ONYX_CHOOSER_SAMPLE, 1, 1.0f, 1.0f, 0, 0.5f, 1),
        make_case("sample, top-k 5", ONYX_CHOOSER_SAMPLE, 1, 1.0f, 2.0f, 5, 1.0f, 1),
        make_case("beam 3, penalty 1.3", ONYX_CHOOSER_BEAM, 3, 1.3f, 1.0f, 0, 1.0f, 1),
        make_case("beam 3", ONYX_CHOOSER_BEAM, 3, 1.0f, 1.0f, 0, 1.0f, 1),
        make_case("beam sample 3, T 1.3, top-k 10, top-p 0.9", ONYX_CHOOSER_BEAM_SAMPLE, 3, 1.0f, 1.3f, 10, 0.9f, 2),
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (i == 1 || i == 5) aim_at_best(&cases[i]);
        if (i == 0) cases[i].n_banned = 1, cases[i].banned[0][0] = 0, cases[i].banned[0][1] = 0,
                    cases[i].banned_values[0] = INFINITY; /* the padding entry of a step without bans */
        check_case(m, &cases[i], ONYX_DTYPE_FLOAT32);
        cases[i].spec.dtype = ONYX_DTYPE_FLOAT16;
        check_case(m, &cases[i], ONYX_DTYPE_FLOAT16);
    }
    onyx_model_destroy(m);
}
