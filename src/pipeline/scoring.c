/*
 * scoring.c - the arithmetic of transformers' pipelines on given logits, separate from
 * tokenizing and running so that tests can feed it hand-made numbers:
 *  - text-classification's sigmoid / softmax / none;
 *  - TokenClassificationPipeline.aggregate (none, simple, first, average, max), group_entities
 *    and the ignore_labels filter;
 *  - QuestionAnsweringPipeline's select_starts_ends + decode_spans for one span.
 * Each follows the Python it names step by step (argmax takes the first maximum, as numpy does).
 * Legend: L = labels, T = tokens, S = sequence length.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "onyx/pipeline.h"
#include "pipeline/pipeline_internal.h"

onyx_status onyx_pipeline_classify_scores(const float *logits, int64_t n_labels,
                                          onyx_function_to_apply function, double *scores) {
    if (!logits || !scores || n_labels <= 0)
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "classify_scores: no logits");
    if (function == ONYX_FUNCTION_SIGMOID) {
        for (int64_t i = 0; i < n_labels; i++) scores[i] = 1.0 / (1.0 + exp(-(double)logits[i]));
    } else if (function == ONYX_FUNCTION_SOFTMAX) {
        pipe_softmax(logits, n_labels, scores);
    } else if (function == ONYX_FUNCTION_NONE) {
        for (int64_t i = 0; i < n_labels; i++) scores[i] = logits[i];
    } else {
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT,
                          "classify_scores: function_to_apply must be sigmoid, softmax or none");
    }
    return ONYX_OK;
}

/* scores (L) = softmax(logits (L)), shifted by the maximum as transformers does. */
void pipe_softmax(const float *logits, int64_t n, double *scores) {
    double max = logits[0], sum = 0;
    for (int64_t i = 1; i < n; i++)
        if (logits[i] > max) max = logits[i];
    for (int64_t i = 0; i < n; i++) sum += scores[i] = exp((double)logits[i] - max);
    for (int64_t i = 0; i < n; i++) scores[i] /= sum;
}

int64_t pipe_argmax(const double *values, int64_t n) {
    int64_t best = 0;
    for (int64_t i = 1; i < n; i++)
        if (values[i] > values[best]) best = i;
    return best;
}

/* ---------------------------------------------------------------------------------------------
 * Token classification
 */

/* An entity before grouping: what aggregate() or aggregate_words() makes. word is owned. */
typedef struct pre_group {
    const char *entity;
    double score;
    char *word;
    int64_t index;
    int64_t start, end;
} pre_group;

/* get_tag: ("B", tag) / ("I", tag) from "B-tag" / "I-tag"; anything else is ("I", name). */
static void get_tag(const char *name, char *bi, const char **tag) {
    if ((name[0] == 'B' || name[0] == 'I') && name[1] == '-') {
        *bi = name[0];
        *tag = name + 2;
    } else {
        *bi = 'I';
        *tag = name;
    }
}

static int is_ignored(const char *label, const char *const *ignore, size_t n_ignore) {
    for (size_t i = 0; i < n_ignore; i++)
        if (strcmp(label, ignore[i]) == 0) return 1;
    return 0;
}

static onyx_status join_range(onyx_join_words_fn join, void *user, const char *const *words,
                              size_t n, char **out) {
    *out = NULL;
    onyx_status st = join(user, words, n, out);
    if (st == ONYX_OK && !*out) st = onyx_error(ONYX_ERR_RUNTIME, "join_words returned no text");
    return st;
}

/* aggregate_word: one word from tokens[0..n) with the FIRST / MAX / AVERAGE rule. */
static onyx_status aggregate_word(const onyx_token_entity *tokens, size_t n,
                                  const char *const *labels, int64_t n_labels,
                                  onyx_aggregation strategy, onyx_join_words_fn join, void *user,
                                  double *average, pre_group *out) {
    const char **words = onyx_malloc(n * sizeof *words);
    if (!words) return onyx_error(ONYX_ERR_OUT_OF_MEMORY, "token-classification: out of memory");
    for (size_t i = 0; i < n; i++) words[i] = tokens[i].word;
    onyx_status st = join_range(join, user, words, n, &out->word);
    onyx_free(words);
    if (st) return st;
    int64_t idx;
    if (strategy == ONYX_AGGREGATION_FIRST) {
        idx = pipe_argmax(tokens[0].scores, n_labels);
        out->score = tokens[0].scores[idx];
    } else if (strategy == ONYX_AGGREGATION_MAX) {
        /* max(entities, key=lambda e: e["scores"].max()): the first token with the top score */
        size_t best = 0;
        double best_max = tokens[0].scores[pipe_argmax(tokens[0].scores, n_labels)];
        for (size_t i = 1; i < n; i++) {
            double m = tokens[i].scores[pipe_argmax(tokens[i].scores, n_labels)];
            if (m > best_max) {
                best_max = m;
                best = i;
            }
        }
        idx = pipe_argmax(tokens[best].scores, n_labels);
        out->score = tokens[best].scores[idx];
    } else {
        for (int64_t l = 0; l < n_labels; l++) {
            double sum = 0;
            for (size_t i = 0; i < n; i++) sum += tokens[i].scores[l];
            average[l] = sum / (double)n;
        }
        idx = pipe_argmax(average, n_labels);
        out->score = average[idx];
    }
    out->entity = labels[idx];
    out->index = -1;
    out->start = tokens[0].start;
    out->end = tokens[n - 1].end;
    return ONYX_OK;
}

/* group_sub_entities: entities[0..n) become one entity_group item. */
static onyx_status group_sub_entities(const pre_group *entities, size_t n,
                                      onyx_join_words_fn join, void *user,
                                      onyx_pipeline_item *item) {
    const char *first = entities[0].entity;
    const char *dash = strchr(first, '-');
    const char *tag = dash ? dash + 1 : first; /* entity.split("-", 1)[-1] */
    double sum = 0;
    const char **words = onyx_malloc(n * sizeof *words);
    if (!words) return onyx_error(ONYX_ERR_OUT_OF_MEMORY, "token-classification: out of memory");
    for (size_t i = 0; i < n; i++) {
        sum += entities[i].score;
        words[i] = entities[i].word;
    }
    char *word = NULL;
    onyx_status st = join_range(join, user, words, n, &word);
    onyx_free(words);
    if (st) return st;
    item->label = onyx_strdup(tag);
    if (!item->label) {
        onyx_free(word);
        return onyx_error(ONYX_ERR_OUT_OF_MEMORY, "token-classification: out of memory");
    }
    item->text = word;
    item->score = sum / (double)n;
    item->index = -1;
    item->start = entities[0].start;
    item->end = entities[n - 1].end;
    return ONYX_OK;
}

onyx_status onyx_pipeline_aggregate_tokens(const onyx_token_entity *tokens, size_t n_tokens,
                                           const char *const *labels, int64_t n_labels,
                                           onyx_aggregation strategy,
                                           const char *const *ignore_labels,
                                           size_t ignore_label_count,
                                           onyx_join_words_fn join_words, void *user,
                                           onyx_pipeline_result **out) {
    onyx_error_clear();
    if (!out) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "aggregate_tokens: out is NULL");
    *out = NULL;
    if ((n_tokens && !tokens) || !labels || n_labels <= 0 || !join_words ||
        strategy < ONYX_AGGREGATION_NONE || strategy > ONYX_AGGREGATION_MAX)
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT,
                          "aggregate_tokens: needs tokens, labels, a join_words function and a "
                          "known aggregation strategy");
    static const char *const default_ignore[] = {"O"};
    if (!ignore_labels) {
        ignore_labels = default_ignore;
        ignore_label_count = 1;
    }
    onyx_pipeline_result *result = NULL;
    onyx_status st = pipe_result_new(ONYX_TASK_TOKEN_CLASSIFICATION, 1, &result);
    if (st) return st;
    result->grouped = strategy != ONYX_AGGREGATION_NONE;
    pre_group *pre = onyx_calloc(n_tokens ? n_tokens : 1, sizeof *pre);
    double *average = onyx_malloc((size_t)n_labels * sizeof *average);
    onyx_pipeline_output *output = &result->outputs[0];
    output->items = onyx_calloc(n_tokens ? n_tokens : 1, sizeof *output->items);
    size_t n_pre = 0;
    if (!pre || !average || !output->items) {
        st = onyx_error(ONYX_ERR_OUT_OF_MEMORY, "token-classification: out of memory");
        goto done;
    }
    if (strategy == ONYX_AGGREGATION_NONE || strategy == ONYX_AGGREGATION_SIMPLE) {
        for (size_t i = 0; i < n_tokens; i++, n_pre++) {
            int64_t idx = pipe_argmax(tokens[i].scores, n_labels);
            pre[i] = (pre_group){labels[idx], tokens[i].scores[idx], onyx_strdup(tokens[i].word),
                                 tokens[i].index, tokens[i].start, tokens[i].end};
            if (!pre[i].word) {
                st = onyx_error(ONYX_ERR_OUT_OF_MEMORY, "token-classification: out of memory");
                goto done;
            }
        }
    } else {
        /* aggregate_words: a word is a token and the subword tokens that follow it */
        for (size_t i = 0; i < n_tokens;) {
            size_t j = i + 1;
            while (j < n_tokens && tokens[j].is_subword) j++;
            st = aggregate_word(tokens + i, j - i, labels, n_labels, strategy, join_words, user,
                                average, &pre[n_pre]);
            if (st) goto done;
            n_pre++;
            i = j;
        }
    }
    if (strategy == ONYX_AGGREGATION_NONE) {
        for (size_t i = 0; i < n_pre; i++) {
            if (is_ignored(pre[i].entity, ignore_labels, ignore_label_count)) continue;
            onyx_pipeline_item *item = &output->items[output->count];
            item->label = onyx_strdup(pre[i].entity);
            if (!item->label) {
                st = onyx_error(ONYX_ERR_OUT_OF_MEMORY, "token-classification: out of memory");
                goto done;
            }
            item->text = pre[i].word;
            pre[i].word = NULL;
            item->score = pre[i].score;
            item->index = pre[i].index;
            item->start = pre[i].start;
            item->end = pre[i].end;
            output->count++;
        }
        goto done;
    }
    /* group_entities: consecutive entities with the same tag, each after the first not "B" */
    for (size_t i = 0; i < n_pre;) {
        size_t j = i + 1;
        for (; j < n_pre; j++) {
            char bi, last_bi;
            const char *tag, *last_tag;
            get_tag(pre[j].entity, &bi, &tag);
            get_tag(pre[j - 1].entity, &last_bi, &last_tag);
            if (!(strcmp(tag, last_tag) == 0 && bi != 'B')) break;
        }
        onyx_pipeline_item item = {0};
        st = group_sub_entities(pre + i, j - i, join_words, user, &item);
        if (st) goto done;
        if (is_ignored(item.label, ignore_labels, ignore_label_count)) {
            onyx_free((char *)item.label);
            onyx_free((char *)item.text);
        } else {
            output->items[output->count++] = item;
        }
        i = j;
    }
done:
    for (size_t i = 0; i < n_pre; i++) onyx_free(pre[i].word);
    onyx_free(pre);
    onyx_free(average);
    if (st) {
        onyx_pipeline_result_destroy(result);
        return st;
    }
    *out = result;
    return ONYX_OK;
}

/* ---------------------------------------------------------------------------------------------
 * Question answering
 */

typedef struct span_candidate {
    double score;
    int64_t flat; /* start * S + end: numpy's flattened order breaks ties */
} span_candidate;

static int candidate_cmp(const void *a, const void *b) {
    const span_candidate *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return x->flat < y->flat ? -1 : x->flat > y->flat;
}

onyx_status onyx_pipeline_qa_spans(const float *start_logits, const float *end_logits,
                                   const int64_t *p_mask, const int64_t *attention_mask,
                                   int64_t seq, int top_k, int64_t max_answer_len,
                                   int handle_impossible_answer, double *min_null_score,
                                   int64_t *starts, int64_t *ends, double *scores,
                                   size_t *n_spans) {
    if (!start_logits || !end_logits || !p_mask || !min_null_score || !starts || !ends ||
        !scores || !n_spans || seq <= 0 || top_k <= 0 || max_answer_len <= 0)
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT,
                          "qa_spans: needs logits, p_mask, seq > 0, top_k > 0, max_answer_len > 0");
    *n_spans = 0;
    double *start = onyx_malloc((size_t)seq * sizeof *start);
    double *end = onyx_malloc((size_t)seq * sizeof *end);
    unsigned char *desired = onyx_malloc((size_t)seq);
    /* every (s, e) with s <= e < s + max_answer_len: at most seq * max_answer_len of them */
    int64_t width = max_answer_len < seq ? max_answer_len : seq;
    span_candidate *cands = onyx_malloc((size_t)seq * (size_t)width * sizeof *cands);
    if (!start || !end || !desired || !cands) {
        onyx_free(start);
        onyx_free(end);
        onyx_free(desired);
        onyx_free(cands);
        return onyx_error(ONYX_ERR_OUT_OF_MEMORY, "question-answering: out of memory");
    }
    /* undesired_tokens = (1 - p_mask) & attention_mask; masked logits become -10000 */
    for (int64_t i = 0; i < seq; i++) {
        int ok = (1 - p_mask[i]) != 0 && (!attention_mask || attention_mask[i] != 0);
        desired[i] = (unsigned char)ok;
        start[i] = ok ? start_logits[i] : -10000.0;
        end[i] = ok ? end_logits[i] : -10000.0;
    }
    double smax = start[0], emax = end[0], ssum = 0, esum = 0;
    for (int64_t i = 1; i < seq; i++) {
        if (start[i] > smax) smax = start[i];
        if (end[i] > emax) emax = end[i];
    }
    for (int64_t i = 0; i < seq; i++) {
        ssum += start[i] = exp(start[i] - smax);
        esum += end[i] = exp(end[i] - emax);
    }
    for (int64_t i = 0; i < seq; i++) {
        start[i] /= ssum;
        end[i] /= esum;
    }
    if (handle_impossible_answer && start[0] * end[0] < *min_null_score)
        *min_null_score = start[0] * end[0];
    start[0] = end[0] = 0.0; /* mask CLS */
    size_t n = 0;
    for (int64_t s = 0; s < seq; s++)
        for (int64_t e = s; e < seq && e < s + max_answer_len; e++)
            cands[n++] = (span_candidate){start[s] * end[e], s * seq + e};
    qsort(cands, n, sizeof *cands, candidate_cmp);
    size_t keep = (size_t)top_k < n ? (size_t)top_k : n;
    /* decode_spans keeps spans whose start and end are both wanted tokens. transformers tests
     * np.isin(starts, undesired_tokens.nonzero()): nonzero() of the (1, S) array also holds its
     * row indices, all 0, so index 0 always passes; kept here for the same output. */
    for (size_t k = 0; k < keep; k++) {
        int64_t s = cands[k].flat / seq, e = cands[k].flat % seq;
        if ((desired[s] || s == 0) && (desired[e] || e == 0)) {
            starts[*n_spans] = s;
            ends[*n_spans] = e;
            scores[*n_spans] = cands[k].score;
            (*n_spans)++;
        }
    }
    onyx_free(start);
    onyx_free(end);
    onyx_free(desired);
    onyx_free(cands);
    return ONYX_OK;
}
