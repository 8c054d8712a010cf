/*
 * chooser.c - the token chooser: transformers' logits processors, warpers and token choice as one
 * ONNX graph, opened on the decoder's providers. On cuda the decoder's logits stay on the GPU and
 * only what the search needs comes back: the next ids (greedy, sampling) or the 2 * num_beams best
 * candidates per prompt (beam search). The same graph runs on the cpu provider, so both devices
 * share one implementation of the processors.
 *
 * The graph, for logits (N, T, V) of the step (N rows, V vocab), in transformers' order:
 *   x = float(logits[:, -1, :])                                   (N, V)
 *   beam modes: x = log_softmax(x)
 *   repetition penalty: at the (row, token) pairs `seen` (P, 2):  x = x < 0 ? x * p : x / p
 *   bans: at the pairs `banned` (M, 2): x = min(x, banned_values) (-inf bans; a +inf entry is
 *     the padding of a step without bans)
 *   greedy: next = argmax(x)                                      (N, 1)
 *   sampling modes: x /= temperature; top-k: x < kth largest -> -inf; top-p: the sorted
 *     probabilities' reverse cumulative sum keeps tokens above 1 - top_p (at least min_keep),
 *     tokens below the last kept value -> -inf
 *   sampling: next = the first token whose cumulative softmax exceeds uniform * total   (N, 1)
 *   beam search: (values, indices) = topk(reshape(x + beam_scores, (B, beams * V)), K)  (B, K)
 *   beam sampling: scores = reshape(x + beam_scores, (B, beams * V)), drawn from on the host.
 * No-repeat n-grams and min_new_tokens become bans, computed by the search on the host (they
 * need the token history, which the host holds); forced BOS/EOS steps are decided on the host
 * without the chooser (every score but one is -inf).
 *
 * Sessions are cached per spec in the model (ONYX_MODEL_CHOOSERS, the oldest replaced).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "model/model_internal.h"
#include "model/onnx_writer.h"

static int spec_equal(const onyx_chooser_spec *a, const onyx_chooser_spec *b) {
    return a->mode == b->mode && a->dtype == b->dtype && a->vocab == b->vocab && a->beams == b->beams &&
           a->candidates == b->candidates && a->repetition_penalty == b->repetition_penalty &&
           a->temperature == b->temperature && a->top_k == b->top_k && a->top_p == b->top_p &&
           a->min_keep == b->min_keep;
}

static int sampling(const onyx_chooser_spec *s) {
    return s->mode == ONYX_CHOOSER_SAMPLE || s->mode == ONYX_CHOOSER_BEAM_SAMPLE;
}

static int beam(const onyx_chooser_spec *s) { return s->mode == ONYX_CHOOSER_BEAM || s->mode == ONYX_CHOOSER_BEAM_SAMPLE; }

static void scalar_float(onyx_graph_writer *w, const char *name, float v) { onyx_graph_writer_floats(w, name, &v, NULL, 0); }

static void scalar_int64(onyx_graph_writer *w, const char *name, int64_t v) { onyx_graph_writer_int64s(w, name, &v, NULL, 0); }

static void list_int64(onyx_graph_writer *w, const char *name, const int64_t *v, int64_t n) {
    onyx_graph_writer_int64s(w, name, v, &n, 1);
}

/* Writes the graph of spec (inputs, nodes, outputs) into w. */
static void write_graph(onyx_graph_writer *w, const onyx_chooser_spec *s) {
    const onyx_node_attr_value axis1 = ONYX_ATTR_INT("axis", 1);
    const onyx_node_attr_value keep1 = ONYX_ATTR_INT("keepdims", 1); /* next: (N, 1), the next input_ids */
    const int64_t last = -1, end = INT64_MAX, one = 1;
    list_int64(w, "last_start", &last, 1);
    list_int64(w, "last_end", &end, 1);
    list_int64(w, "axes_1", &one, 1);
    onyx_graph_writer_input(w, "logits", s->dtype, 3);
    onyx_graph_writer_input(w, "banned", ONYX_DTYPE_INT64, 2);
    onyx_graph_writer_input(w, "banned_values", ONYX_DTYPE_FLOAT32, 1);
    onyx_graph_writer_node(w, "Slice", "logits,last_start,last_end,axes_1", "last_position", NULL, 0);
    onyx_graph_writer_node(w, "Squeeze", "last_position,axes_1", "last_logits", NULL, 0);
    onyx_node_attr_value to_float = ONYX_ATTR_INT("to", ONYX_DTYPE_FLOAT32);
    onyx_graph_writer_node(w, "Cast", "last_logits", "scores_raw", &to_float, 1);
    const char *x = "scores_raw";
    if (beam(s)) {
        onyx_graph_writer_node(w, "LogSoftmax", x, "scores_log", &axis1, 1);
        x = "scores_log";
    }
    if (s->repetition_penalty != 1.0f) {
        char in[96];
        onyx_graph_writer_input(w, "seen", ONYX_DTYPE_INT64, 2);
        scalar_float(w, "penalty", s->repetition_penalty);
        scalar_float(w, "zero", 0.0f);
        snprintf(in, sizeof in, "%s,seen", x);
        onyx_graph_writer_node(w, "GatherND", in, "seen_scores", NULL, 0);
        onyx_graph_writer_node(w, "Less", "seen_scores,zero", "seen_negative", NULL, 0);
        onyx_graph_writer_node(w, "Mul", "seen_scores,penalty", "seen_times", NULL, 0);
        onyx_graph_writer_node(w, "Div", "seen_scores,penalty", "seen_divided", NULL, 0);
        onyx_graph_writer_node(w, "Where", "seen_negative,seen_times,seen_divided", "seen_penalised", NULL, 0);
        snprintf(in, sizeof in, "%s,seen,seen_penalised", x);
        onyx_graph_writer_node(w, "ScatterND", in, "scores_penalised", NULL, 0);
        x = "scores_penalised";
    }
    {
        char in[96];
        snprintf(in, sizeof in, "%s,banned", x);
        onyx_graph_writer_node(w, "GatherND", in, "banned_scores", NULL, 0);
        onyx_graph_writer_node(w, "Min", "banned_scores,banned_values", "banned_new", NULL, 0);
        snprintf(in, sizeof in, "%s,banned,banned_new", x);
        onyx_graph_writer_node(w, "ScatterND", in, "scores_processed", NULL, 0);
        x = "scores_processed";
    }
    if (s->mode == ONYX_CHOOSER_GREEDY) {
        onyx_node_attr_value attrs[2] = {axis1, keep1};
        onyx_graph_writer_node(w, "ArgMax", x, "next", attrs, 2);
        onyx_graph_writer_output(w, "next", ONYX_DTYPE_INT64, 2);
        return;
    }
    if (sampling(s)) {
        char in[96];
        scalar_float(w, "neg_inf", -INFINITY);
        if (s->temperature != 1.0f) {
            scalar_float(w, "temperature", s->temperature);
            snprintf(in, sizeof in, "%s,temperature", x);
            onyx_graph_writer_node(w, "Div", in, "scores_tempered", NULL, 0);
            x = "scores_tempered";
        }
        int64_t top_k = s->top_k > 0 ? (s->top_k > s->min_keep ? s->top_k : s->min_keep) : 0;
        int top_k_on = top_k > 0 && top_k < s->vocab;
        if (top_k_on) {
            list_int64(w, "top_k", &top_k, 1);
            snprintf(in, sizeof in, "%s,top_k", x);
            onyx_graph_writer_node(w, "TopK", in, "top_k_values,top_k_indices", &axis1, 1);
            onyx_graph_writer_node(w, "Slice", "top_k_values,last_start,last_end,axes_1", "top_k_last", NULL, 0);
            snprintf(in, sizeof in, "%s,top_k_last", x);
            onyx_graph_writer_node(w, "Less", in, "below_top_k", NULL, 0);
            snprintf(in, sizeof in, "below_top_k,neg_inf,%s", x);
            onyx_graph_writer_node(w, "Where", in, "scores_top_k", NULL, 0);
            x = "scores_top_k";
        }
        if (s->top_p < 1.0f) {
            /* after top-k every other score is -inf, so the top_k best hold the whole softmax */
            int64_t sorted_count = top_k_on ? top_k : s->vocab;
            list_int64(w, "sorted_count", &sorted_count, 1);
            scalar_int64(w, "axis_1", 1);
            scalar_float(w, "one_minus_top_p", 1.0f - s->top_p);
            scalar_int64(w, "one", 1);
            scalar_int64(w, "min_keep_last", (int64_t)s->min_keep - 1);
            snprintf(in, sizeof in, "%s,sorted_count", x);
            onyx_graph_writer_node(w, "TopK", in, "sorted_scores,sorted_indices", &axis1, 1);
            onyx_graph_writer_node(w, "Softmax", "sorted_scores", "sorted_probs", &axis1, 1);
            onyx_node_attr_value reverse = ONYX_ATTR_INT("reverse", 1);
            onyx_graph_writer_node(w, "CumSum", "sorted_probs,axis_1", "tail_mass", &reverse, 1);
            onyx_graph_writer_node(w, "Greater", "tail_mass,one_minus_top_p", "kept", NULL, 0);
            onyx_node_attr_value to_int64 = ONYX_ATTR_INT("to", ONYX_DTYPE_INT64);
            onyx_graph_writer_node(w, "Cast", "kept", "kept_count_each", &to_int64, 1);
            onyx_graph_writer_node(w, "ReduceSum", "kept_count_each,axes_1", "kept_count", NULL, 0);
            onyx_graph_writer_node(w, "Sub", "kept_count,one", "kept_last_raw", NULL, 0);
            onyx_graph_writer_node(w, "Max", "kept_last_raw,min_keep_last", "kept_last", NULL, 0);
            onyx_graph_writer_node(w, "GatherElements", "sorted_scores,kept_last", "top_p_threshold", &axis1, 1);
            snprintf(in, sizeof in, "%s,top_p_threshold", x);
            onyx_graph_writer_node(w, "Less", in, "below_top_p", NULL, 0);
            snprintf(in, sizeof in, "below_top_p,neg_inf,%s", x);
            onyx_graph_writer_node(w, "Where", in, "scores_top_p", NULL, 0);
            x = "scores_top_p";
        }
    }
    if (s->mode == ONYX_CHOOSER_SAMPLE) {
        onyx_graph_writer_input(w, "uniform", ONYX_DTYPE_FLOAT32, 2);
        if (s->top_p >= 1.0f) scalar_int64(w, "axis_1", 1);
        onyx_graph_writer_node(w, "Softmax", x, "probs", &axis1, 1);
        onyx_graph_writer_node(w, "CumSum", "probs,axis_1", "cumulative", NULL, 0);
        onyx_graph_writer_node(w, "Slice", "cumulative,last_start,last_end,axes_1", "total", NULL, 0);
        onyx_graph_writer_node(w, "Mul", "uniform,total", "target", NULL, 0);
        onyx_graph_writer_node(w, "Greater", "cumulative,target", "past_target", NULL, 0);
        onyx_node_attr_value to_int32 = ONYX_ATTR_INT("to", ONYX_DTYPE_INT32);
        onyx_graph_writer_node(w, "Cast", "past_target", "past_target_int", &to_int32, 1);
        onyx_node_attr_value attrs[2] = {axis1, keep1};
        onyx_graph_writer_node(w, "ArgMax", "past_target_int", "next", attrs, 2);
        onyx_graph_writer_output(w, "next", ONYX_DTYPE_INT64, 2);
        return;
    }
    /* beam modes */
    char in[96];
    int64_t flat_shape[2] = {-1, s->beams * s->vocab};
    list_int64(w, "flat_shape", flat_shape, 2);
    onyx_graph_writer_input(w, "beam_scores", ONYX_DTYPE_FLOAT32, 2);
    snprintf(in, sizeof in, "%s,beam_scores", x);
    onyx_graph_writer_node(w, "Add", in, "scores_accumulated", NULL, 0);
    if (s->mode == ONYX_CHOOSER_BEAM_SAMPLE) {
        onyx_graph_writer_node(w, "Reshape", "scores_accumulated,flat_shape", "scores", NULL, 0);
        onyx_graph_writer_output(w, "scores", ONYX_DTYPE_FLOAT32, 2);
        return;
    }
    list_int64(w, "candidates", &s->candidates, 1);
    onyx_graph_writer_node(w, "Reshape", "scores_accumulated,flat_shape", "scores_flat", NULL, 0);
    onyx_node_attr_value last_axis = ONYX_ATTR_INT("axis", -1);
    onyx_graph_writer_node(w, "TopK", "scores_flat,candidates", "values,indices", &last_axis, 1);
    onyx_graph_writer_output(w, "values", ONYX_DTYPE_FLOAT32, 2);
    onyx_graph_writer_output(w, "indices", ONYX_DTYPE_INT64, 2);
}

onyx_status onyx_model_chooser(onyx_model *m, const onyx_chooser_spec *spec, onyx_session **out) {
    *out = NULL;
    for (int i = 0; i < ONYX_MODEL_CHOOSERS; i++)
        if (m->choosers[i].session && spec_equal(&m->choosers[i].spec, spec)) {
            *out = m->choosers[i].session;
            return ONYX_OK;
        }
    onyx_graph_writer w;
    onyx_graph_writer_init(&w, "token_chooser");
    write_graph(&w, spec);
    uint8_t *bytes = NULL;
    size_t size = 0;
    onyx_status st = onyx_graph_writer_finish(&w, 13, &bytes, &size);
    onyx_graph_writer_release(&w);
    if (st != ONYX_OK) return onyx_error_prefix(st, "%s: the token chooser: ", m->dir);
    onyx_session_options options = m->session_options;
    char name[4200];
    snprintf(name, sizeof name, "%s (token chooser)", m->dir);
    options.model_name = name;
    onyx_session *session = NULL;
    st = onyx_session_create_from_memory(bytes, size, &options, &session);
    onyx_free(bytes);
    if (st != ONYX_OK) return onyx_error_prefix(st, "%s: opening the token chooser graph: ", m->dir);
    onyx_model_chooser_slot *slot = &m->choosers[m->next_chooser];
    m->next_chooser = (m->next_chooser + 1) % ONYX_MODEL_CHOOSERS;
    onyx_session_destroy(slot->session);
    slot->session = session;
    slot->spec = *spec;
    *out = session;
    return ONYX_OK;
}
