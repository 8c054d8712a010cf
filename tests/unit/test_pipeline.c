/*
 * test_pipeline.c - the encoder pipelines (include/onyx/pipeline.h).
 *
 * Two kinds of checks:
 *  - the scoring functions on hand-made logits, against results worked out by hand from
 *    transformers' Python (aggregation strategies, QA span selection, JSON shape);
 *  - the pipelines on the BERT fixtures of tests/models against values this file computes itself
 *    from the model's raw outputs (onyx_model_forward; onyx_model_run with token_type_ids for
 *    text pairs; a plain session with token_type_ids for question-answering): softmax, argmax
 *    and top-k by hand.
 * The fixtures ship no tokenizer; tests/data/pipeline/tokenizer.json (512 ids, the fixtures'
 * vocabulary size) is made by tests/data/pipeline/make_tokenizer.py.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "onyx/model.h"
#include "onyx/pipeline.h"
#include "onyx/tokenizer.h"

#define MODELS ONYX_SOURCE_DIR "/tests/models/"
#define TOKENIZER ONYX_SOURCE_DIR "/tests/data/pipeline/tokenizer.json"

/* WordPiece's convert_tokens_to_string for the hand-made cases: space-joined, "##" glued. */
static onyx_status join_simple(void *user, const char *const *words, size_t n, char **out) {
    (void)user;
    char buf[256] = "";
    for (size_t i = 0; i < n; i++) {
        const char *w = words[i];
        if (i && strncmp(w, "##", 2) == 0) w += 2;
        else if (i) strcat(buf, " ");
        strcat(buf, w);
    }
    *out = malloc(strlen(buf) + 1);
    strcpy(*out, buf);
    return ONYX_OK;
}

static void free_join(char *s) { free(s); }

static void test_classify_scores(void) {
    const float logits[3] = {1.0f, 2.0f, 0.5f};
    double s[3];
    ONYX_CHECK_OK(onyx_pipeline_classify_scores(logits, 3, ONYX_FUNCTION_SOFTMAX, s));
    double z = exp(1.0) + exp(2.0) + exp(0.5);
    ONYX_CHECK_CLOSE(s[0], exp(1.0) / z, 1e-12, 0);
    ONYX_CHECK_CLOSE(s[1], exp(2.0) / z, 1e-12, 0);
    ONYX_CHECK_OK(onyx_pipeline_classify_scores(logits, 3, ONYX_FUNCTION_SIGMOID, s));
    ONYX_CHECK_CLOSE(s[2], 1.0 / (1.0 + exp(-0.5)), 1e-12, 0);
    ONYX_CHECK_OK(onyx_pipeline_classify_scores(logits, 3, ONYX_FUNCTION_NONE, s));
    ONYX_CHECK_CLOSE(s[1], 2.0, 0, 0);
    ONYX_CHECK_ERROR(onyx_pipeline_classify_scores(logits, 3, ONYX_FUNCTION_DEFAULT, s),
                     ONYX_ERR_INVALID_ARGUMENT, "function_to_apply");
}

/* Hand-worked aggregation. Labels O B-PER I-PER B-LOC I-LOC; the text is "Jean Dupont lives in
 * Paris" tokenized as Jean, Du, ##pont, lives, in, Paris (specials already dropped). */
static const char *const ner_labels[5] = {"O", "B-PER", "I-PER", "B-LOC", "I-LOC"};
static const double ner_scores[6][5] = {
    {0.1, 0.7, 0.1, 0.05, 0.05}, /* Jean: B-PER 0.7 */
    {0.1, 0.2, 0.6, 0.05, 0.05}, /* Du: I-PER 0.6 */
    {0.1, 0.1, 0.2, 0.5, 0.1},   /* ##pont: B-LOC 0.5 (disagrees with its word) */
    {0.9, 0.025, 0.025, 0.025, 0.025}, /* lives: O */
    {0.8, 0.05, 0.05, 0.05, 0.05},     /* in: O */
    {0.2, 0.0, 0.0, 0.7, 0.1},         /* Paris: B-LOC 0.7 */
};

static void make_ner_tokens(onyx_token_entity *t) {
    static const char *words[6] = {"Jean", "Du", "##pont", "lives", "in", "Paris"};
    static const int64_t starts[6] = {0, 5, 7, 12, 18, 21}, ends[6] = {4, 7, 11, 17, 20, 26};
    for (int i = 0; i < 6; i++)
        t[i] = (onyx_token_entity){words[i], ner_scores[i], i + 1, starts[i], ends[i], i == 2};
}

static onyx_pipeline_result *aggregate(onyx_aggregation strategy) {
    onyx_token_entity tokens[6];
    make_ner_tokens(tokens);
    onyx_pipeline_result *r = NULL;
    ONYX_CHECK_OK(onyx_pipeline_aggregate_tokens(tokens, 6, ner_labels, 5, strategy, NULL, 0, join_simple, NULL, &r));
    return r;
}

static void check_item(const onyx_pipeline_output *o, size_t i, const char *label, double score, const char *word,
                       int64_t index, int64_t start, int64_t end) {
    if (i >= o->count) {
        ONYX_CHECK_INT(o->count, i + 1);
        return;
    }
    const onyx_pipeline_item *it = &o->items[i];
    ONYX_CHECK(strcmp(it->label, label) == 0);
    if (strcmp(it->label, label)) fprintf(stderr, "  item %zu label '%s', expected '%s'\n", i, it->label, label);
    ONYX_CHECK_CLOSE(it->score, score, 1e-12, 1e-12);
    ONYX_CHECK(strcmp(it->text, word) == 0);
    if (strcmp(it->text, word)) fprintf(stderr, "  item %zu word '%s', expected '%s'\n", i, it->text, word);
    ONYX_CHECK_INT(it->index, index);
    ONYX_CHECK_INT(it->start, start);
    ONYX_CHECK_INT(it->end, end);
}

static void test_aggregation_strategies(void) {
    (void)free_join;
    onyx_pipeline_result *r = aggregate(ONYX_AGGREGATION_NONE);
    if (r) {
        /* none: every token not labelled O, with its own argmax */
        ONYX_CHECK_INT(r->outputs[0].count, 4);
        check_item(&r->outputs[0], 0, "B-PER", 0.7, "Jean", 1, 0, 4);
        check_item(&r->outputs[0], 1, "I-PER", 0.6, "Du", 2, 5, 7);
        check_item(&r->outputs[0], 2, "B-LOC", 0.5, "##pont", 3, 7, 11);
        check_item(&r->outputs[0], 3, "B-LOC", 0.7, "Paris", 6, 21, 26);
        ONYX_CHECK(!r->grouped);
        onyx_pipeline_result_destroy(r);
    }
    r = aggregate(ONYX_AGGREGATION_SIMPLE);
    if (r) {
        /* simple: B-PER I-PER group to PER (mean 0.65); ##pont's B-LOC starts a LOC group */
        ONYX_CHECK_INT(r->outputs[0].count, 3);
        check_item(&r->outputs[0], 0, "PER", 0.65, "Jean Du", -1, 0, 7);
        check_item(&r->outputs[0], 1, "LOC", 0.5, "##pont", -1, 7, 11);
        check_item(&r->outputs[0], 2, "LOC", 0.7, "Paris", -1, 21, 26);
        ONYX_CHECK(r->grouped);
        onyx_pipeline_result_destroy(r);
    }
    r = aggregate(ONYX_AGGREGATION_FIRST);
    if (r) {
        /* first: "Dupont" takes Du's I-PER 0.6; I-PER continues PER: mean(0.7, 0.6) */
        ONYX_CHECK_INT(r->outputs[0].count, 2);
        check_item(&r->outputs[0], 0, "PER", 0.65, "Jean Dupont", -1, 0, 11);
        check_item(&r->outputs[0], 1, "LOC", 0.7, "Paris", -1, 21, 26);
        onyx_pipeline_result_destroy(r);
    }
    r = aggregate(ONYX_AGGREGATION_MAX);
    if (r) {
        /* max: Du's top score 0.6 beats ##pont's 0.5, so I-PER 0.6 again */
        ONYX_CHECK_INT(r->outputs[0].count, 2);
        check_item(&r->outputs[0], 0, "PER", 0.65, "Jean Dupont", -1, 0, 11);
        onyx_pipeline_result_destroy(r);
    }
    r = aggregate(ONYX_AGGREGATION_AVERAGE);
    if (r) {
        /* average of Du and ##pont: O .1, B-PER .15, I-PER .4, B-LOC .275, I-LOC .075 -> I-PER .4;
         * group with Jean: mean(0.7, 0.4) = 0.55 */
        ONYX_CHECK_INT(r->outputs[0].count, 2);
        check_item(&r->outputs[0], 0, "PER", 0.55, "Jean Dupont", -1, 0, 11);
        check_item(&r->outputs[0], 1, "LOC", 0.7, "Paris", -1, 21, 26);
        char *json = NULL;
        ONYX_CHECK_OK(onyx_pipeline_result_json(r, 0, 1, &json));
        const char *want = "[{\"entity_group\": \"PER\", \"score\": 0.55, \"word\": \"Jean Dupont\", \"start\": 0, "
                           "\"end\": 11}, {\"entity_group\": \"LOC\", \"score\": 0.7, \"word\": \"Paris\", "
                           "\"start\": 21, \"end\": 26}]";
        ONYX_CHECK(json && strcmp(json, want) == 0);
        if (json && strcmp(json, want)) fprintf(stderr, "  json %s\n  want %s\n", json, want);
        onyx_pipeline_free_text(json);
        onyx_pipeline_result_destroy(r);
    }
    /* ignore_labels = [] keeps the O tokens; a label without B-/I- continues the previous tag */
    onyx_token_entity tokens[6];
    make_ner_tokens(tokens);
    const char *none[1] = {NULL};
    r = NULL;
    ONYX_CHECK_OK(onyx_pipeline_aggregate_tokens(tokens, 6, ner_labels, 5, ONYX_AGGREGATION_SIMPLE, none, 0,
                                                 join_simple, NULL, &r));
    if (r) {
        ONYX_CHECK_INT(r->outputs[0].count, 4);
        check_item(&r->outputs[0], 2, "O", 0.85, "lives in", -1, 12, 20);
        onyx_pipeline_result_destroy(r);
    }
}

static void test_qa_spans(void) {
    /* 6 tokens: [CLS] q [SEP] c1 c2 [SEP]; only c1, c2 (and CLS) may be in the answer */
    const float start[6] = {0.0f, 9.0f, 9.0f, 2.0f, 1.0f, 9.0f};
    const float end[6] = {0.0f, 9.0f, 9.0f, 0.0f, 3.0f, 9.0f};
    const int64_t p_mask[6] = {0, 1, 1, 0, 0, 1};
    const int64_t attention[6] = {1, 1, 1, 1, 1, 1};
    int64_t s[3], e[3];
    double sc[3], null_score = 1000000;
    size_t n = 0;
    ONYX_CHECK_OK(onyx_pipeline_qa_spans(start, end, p_mask, attention, 6, 3, 15, 1, &null_score, s, e, sc, &n));
    /* softmax over CLS, c1, c2: start (1, e^2, e) / Z1, end (1, 1, e^3) / Z2 */
    double z1 = 1 + exp(2.0) + exp(1.0), z2 = 2 + exp(3.0);
    ONYX_CHECK_CLOSE(null_score, 1 / (z1 * z2), 1e-12, 1e-9);
    ONYX_CHECK_INT(n, 3);
    /* spans by score: (3,4) e^2 e^3, (4,4) e e^3, (3,3) e^2 */
    ONYX_CHECK_INT(s[0], 3);
    ONYX_CHECK_INT(e[0], 4);
    ONYX_CHECK_CLOSE(sc[0], exp(2.0) * exp(3.0) / (z1 * z2), 1e-12, 1e-9);
    ONYX_CHECK_INT(s[1], 4);
    ONYX_CHECK_INT(e[1], 4);
    ONYX_CHECK_INT(s[2], 3);
    ONYX_CHECK_INT(e[2], 3);
    /* max_answer_len 1: only one-token answers */
    ONYX_CHECK_OK(onyx_pipeline_qa_spans(start, end, p_mask, attention, 6, 1, 1, 0, &null_score, s, e, sc, &n));
    ONYX_CHECK_INT(n, 1);
    ONYX_CHECK_INT(s[0], 4);
    ONYX_CHECK_INT(e[0], 4);
}

/* ---- the fixtures ---- */

static onyx_pipeline *open_pipeline(const char *name, onyx_task task, onyx_pipeline_options *o) {
    onyx_pipeline_options local;
    if (!o) {
        onyx_pipeline_options_init(&local);
        o = &local;
    }
    o->tokenizer_path = TOKENIZER;
    char dir[512];
    snprintf(dir, sizeof dir, "%s%s", MODELS, name);
    onyx_pipeline *p = NULL;
    ONYX_CHECK_OK(onyx_pipeline_create(dir, task, o, &p));
    return p;
}

/* The reference: encode text alone with the test tokenizer and run onyx_model_forward. */
static onyx_tensor *reference_forward(onyx_pipeline *p, const char *text, const char *output, onyx_encoding **enc_out) {
    onyx_tokenizer *tok = NULL;
    ONYX_CHECK_OK(onyx_tokenizer_load(TOKENIZER, &tok));
    onyx_encoding *enc = NULL;
    if (tok) ONYX_CHECK_OK(onyx_tokenizer_encode(tok, text, strlen(text), NULL, 0, NULL, &enc));
    onyx_tensor *t = NULL;
    if (enc)
        ONYX_CHECK_OK(onyx_model_forward(onyx_pipeline_model(p), enc->ids, NULL, 1, (int64_t)enc->length, output, &t));
    onyx_tokenizer_destroy(tok);
    if (enc_out) *enc_out = enc;
    else onyx_encoding_destroy(enc);
    return t;
}

static void softmax_ref(const float *x, int n, double *out) {
    double m = x[0], z = 0;
    for (int i = 1; i < n; i++) m = x[i] > m ? x[i] : m;
    for (int i = 0; i < n; i++) z += out[i] = exp(x[i] - m);
    for (int i = 0; i < n; i++) out[i] /= z;
}

static void test_text_classification(void) {
    onyx_pipeline_options o;
    onyx_pipeline_options_init(&o);
    o.top_k = ONYX_TOP_K_ALL;
    onyx_pipeline *p = open_pipeline("bert-text-classification-ts17", ONYX_TASK_SEQUENCE_CLASSIFICATION, &o);
    if (!p) return;
    const char *texts[3] = {"The cat sat on the mat.", "Hello world", "a much longer text with some words in it"};
    onyx_pipeline_result *r = NULL;
    ONYX_CHECK_OK(onyx_pipeline_run(p, texts, NULL, NULL, NULL, 3, &r));
    for (int i = 0; r && i < 3; i++) {
        onyx_tensor *logits = reference_forward(p, texts[i], "logits", NULL);
        if (!logits) continue;
        double want[3];
        softmax_ref(onyx_tensor_data(logits), 3, want);
        const char *names[3] = {"negative", "neutral", "positive"};
        ONYX_CHECK_INT(r->outputs[i].count, 3);
        double prev = 2;
        for (size_t k = 0; k < r->outputs[i].count; k++) {
            const onyx_pipeline_item *it = &r->outputs[i].items[k];
            ONYX_CHECK(it->index >= 0 && it->index < 3);
            if (it->index < 0 || it->index > 2) continue;
            ONYX_CHECK(strcmp(it->label, names[it->index]) == 0);
            ONYX_CHECK_CLOSE(it->score, want[it->index], 1e-5, 1e-4); /* batch padding vs alone */
            ONYX_CHECK(it->score <= prev);
            prev = it->score;
        }
        onyx_tensor_destroy(logits);
    }
    char *json = NULL;
    if (r) ONYX_CHECK_OK(onyx_pipeline_result_json(r, 0, 1, &json));
    ONYX_CHECK(json && json[0] == '[' && strstr(json, "{\"label\": \"") && strstr(json, "\"score\": "));
    onyx_pipeline_free_text(json);
    onyx_pipeline_result_destroy(r);
    onyx_pipeline_destroy(p);

    /* default top_k: one dict per input, the argmax */
    p = open_pipeline("bert-text-classification-ts17", ONYX_TASK_AUTO, NULL);
    if (!p) return;
    r = NULL;
    ONYX_CHECK_OK(onyx_pipeline_run(p, texts, NULL, NULL, NULL, 1, &r));
    if (r) {
        ONYX_CHECK_INT(r->outputs[0].count, 1);
        ONYX_CHECK_OK(onyx_pipeline_result_json(r, 0, 0, &json));
        ONYX_CHECK(json && json[0] == '{');
        onyx_pipeline_free_text(json);
    }
    onyx_pipeline_result_destroy(r);
    /* a text pair runs with token_type_ids 1 on the second text */
    const char *pair[1] = {"second sentence"};
    r = NULL;
    ONYX_CHECK_OK(onyx_pipeline_run(p, texts, NULL, pair, NULL, 1, &r));
    ONYX_CHECK(r && r->outputs[0].count == 1);
    onyx_pipeline_result_destroy(r);
    onyx_pipeline_destroy(p);
}

/* Text pairs: the scores are the softmax of the logits onyx_model_run gives for the pair encoded
 * alone with its token_type_ids (1 on the second text); DistilBERT, which has no token_type_ids
 * input, runs pairs too. */
static void pair_case(const char *folder, int types_matter) {
    onyx_pipeline_options o;
    onyx_pipeline_options_init(&o);
    o.top_k = ONYX_TOP_K_ALL;
    onyx_pipeline *p = open_pipeline(folder, ONYX_TASK_SEQUENCE_CLASSIFICATION, &o);
    if (!p) return;
    const char *texts[2] = {"The cat sat on the mat.", "Hello world"};
    const char *pairs[2] = {"second sentence", "a much longer second text with some words in it"};
    onyx_pipeline_result *r = NULL;
    ONYX_CHECK_OK(onyx_pipeline_run(p, texts, NULL, pairs, NULL, 2, &r));
    onyx_tokenizer *tok = NULL;
    ONYX_CHECK_OK(onyx_tokenizer_load(TOKENIZER, &tok));
    for (int i = 0; r && tok && i < 2; i++) {
        onyx_encoding *enc = NULL;
        ONYX_CHECK_OK(onyx_tokenizer_encode(tok, texts[i], strlen(texts[i]), pairs[i], strlen(pairs[i]), NULL, &enc));
        if (!enc) continue;
        int second = 0;
        for (size_t t = 0; t < enc->length; t++) second |= enc->type_ids[t] == 1;
        ONYX_CHECK(second);
        onyx_model_inputs in;
        onyx_model_inputs_init(&in);
        in.batch = 1;
        in.seq = (int64_t)enc->length;
        in.input_ids = enc->ids;
        in.attention_mask = enc->attention_mask;
        in.token_type_ids = enc->type_ids;
        const char *name = "logits";
        onyx_tensor *logits = NULL, *one_segment = NULL;
        ONYX_CHECK_OK(onyx_model_run(onyx_pipeline_model(p), &in, &name, 1, &logits));
        in.token_type_ids = NULL;
        ONYX_CHECK_OK(onyx_model_run(onyx_pipeline_model(p), &in, &name, 1, &one_segment));
        int64_t n = logits ? onyx_tensor_numel(logits) : 0;
        double want[8], without[8];
        if (logits && one_segment && n <= 8 && r->outputs[i].count == (size_t)n) {
            softmax_ref(onyx_tensor_data(logits), (int)n, want);
            softmax_ref(onyx_tensor_data(one_segment), (int)n, without);
            double differ = 0;
            for (int64_t l = 0; l < n; l++) differ = fmax(differ, fabs(want[l] - without[l]));
            if (types_matter) ONYX_CHECK(differ > 1e-4); /* else the check below could not tell */
            else ONYX_CHECK(differ == 0);
            for (size_t k = 0; k < r->outputs[i].count; k++) {
                const onyx_pipeline_item *it = &r->outputs[i].items[k];
                if (it->index < 0 || it->index >= n) {
                    ONYX_CHECK(it->index >= 0 && it->index < n);
                    continue;
                }
                ONYX_CHECK_CLOSE(it->score, want[it->index], 1e-5, 1e-4); /* batch padding vs alone */
            }
        } else {
            fprintf(stderr, "     %s pair %d: %lld logits, %zu items\n", folder, i, (long long)n, r->outputs[i].count);
            ONYX_CHECK(logits && one_segment && n <= 8 && r->outputs[i].count == (size_t)n);
        }
        onyx_tensor_destroy(logits);
        onyx_tensor_destroy(one_segment);
        onyx_encoding_destroy(enc);
    }
    onyx_tokenizer_destroy(tok);
    onyx_pipeline_result_destroy(r);
    onyx_pipeline_destroy(p);
}

static void test_text_pair_classification(void) {
    pair_case("bert-text-classification-ts17", 1);
    pair_case("distilbert-text-classification-ts14", 0);
}

static void test_token_classification(void) {
    onyx_pipeline_options o;
    onyx_pipeline_options_init(&o);
    const char *keep_all[1] = {NULL};
    o.ignore_labels = keep_all;
    o.ignore_label_count = 0;
    onyx_pipeline *p = open_pipeline("bert-token-classification-ts14", ONYX_TASK_TOKEN_CLASSIFICATION, &o);
    if (!p) return;
    const char *text = "John lives in \xCE\xA9mega today"; /* Omega: not in the ASCII vocabulary */
    onyx_pipeline_result *r = NULL;
    ONYX_CHECK_OK(onyx_pipeline_run(p, &text, NULL, NULL, NULL, 1, &r));
    onyx_encoding *enc = NULL;
    onyx_tensor *logits = reference_forward(p, text, "logits", &enc);
    if (r && logits && enc) {
        const float *x = onyx_tensor_data(logits);
        const char *names[5] = {"O", "B-PER", "I-PER", "B-LOC", "I-LOC"};
        ONYX_CHECK_INT(r->outputs[0].count, enc->length - 2); /* every token but [CLS], [SEP] */
        for (size_t k = 0; k < r->outputs[0].count; k++) {
            const onyx_pipeline_item *it = &r->outputs[0].items[k];
            size_t t = k + 1;
            ONYX_CHECK_INT(it->index, t);
            double sc[5];
            softmax_ref(x + t * 5, 5, sc);
            int best = 0;
            for (int l = 1; l < 5; l++) best = sc[l] > sc[best] ? l : best;
            ONYX_CHECK(strcmp(it->label, names[best]) == 0);
            ONYX_CHECK_CLOSE(it->score, sc[best], 1e-6, 1e-5);
            ONYX_CHECK(strcmp(it->text, enc->tokens[t]) == 0 || enc->ids[t] == 1);
        }
        /* the vocabulary is ASCII, so the Greek word is [UNK]: its word is the original text and
         * its offsets count code points (the Omega is two bytes) */
        int saw_unk = 0;
        for (size_t k = 0; k < r->outputs[0].count; k++)
            if (strcmp(r->outputs[0].items[k].text, "\xCE\xA9mega") == 0) {
                saw_unk = 1;
                ONYX_CHECK_INT(r->outputs[0].items[k].start, 14);
                ONYX_CHECK_INT(r->outputs[0].items[k].end, 19);
            }
        ONYX_CHECK(saw_unk);
    }
    onyx_tensor_destroy(logits);
    onyx_encoding_destroy(enc);
    onyx_pipeline_result_destroy(r);
    onyx_pipeline_destroy(p);

    /* simple grouping covers each character of the entities it returns once, in order */
    onyx_pipeline_options_init(&o);
    o.aggregation = ONYX_AGGREGATION_FIRST;
    p = open_pipeline("bert-token-classification-ts14", ONYX_TASK_TOKEN_CLASSIFICATION, &o);
    if (!p) return;
    r = NULL;
    ONYX_CHECK_OK(onyx_pipeline_run(p, &text, NULL, NULL, NULL, 1, &r));
    for (size_t k = 0; r && k < r->outputs[0].count; k++) {
        const onyx_pipeline_item *it = &r->outputs[0].items[k];
        ONYX_CHECK(strcmp(it->label, "O") != 0);
        ONYX_CHECK(it->start < it->end && it->index == -1);
        if (k) ONYX_CHECK(it->start >= r->outputs[0].items[k - 1].end);
    }
    onyx_pipeline_result_destroy(r);
    onyx_pipeline_destroy(p);
}

static void test_fill_mask(void) {
    onyx_pipeline *p = open_pipeline("bert-fill-mask-ts14", ONYX_TASK_MASKED_LM, NULL);
    if (!p) return;
    const char *text = "The cat [MASK] on the mat.";
    onyx_pipeline_result *r = NULL;
    ONYX_CHECK_OK(onyx_pipeline_run(p, &text, NULL, NULL, NULL, 1, &r));
    onyx_encoding *enc = NULL;
    onyx_tensor *logits = reference_forward(p, text, "logits", &enc);
    if (r && logits && enc) {
        size_t mask_at = 0;
        for (size_t t = 0; t < enc->length; t++)
            if (enc->ids[t] == 4) mask_at = t;
        double *probs = malloc(512 * sizeof *probs);
        softmax_ref((const float *)onyx_tensor_data(logits) + mask_at * 512, 512, probs);
        ONYX_CHECK_INT(r->outputs[0].count, 5);
        for (size_t k = 0; k < r->outputs[0].count; k++) {
            const onyx_pipeline_item *it = &r->outputs[0].items[k];
            int above = 0; /* ids with a higher probability than this one: exactly k */
            for (int v = 0; v < 512; v++) above += probs[v] > probs[it->index];
            ONYX_CHECK_INT(above, k);
            ONYX_CHECK_CLOSE(it->score, probs[it->index], 1e-6, 1e-5);
            ONYX_CHECK(it->label && it->text && strlen(it->text) > 0);
        }
        free(probs);
    }
    onyx_tensor_destroy(logits);
    onyx_encoding_destroy(enc);
    onyx_pipeline_result_destroy(r);
    /* no mask token */
    const char *plain = "no mask here";
    r = NULL;
    ONYX_CHECK_ERROR(onyx_pipeline_run(p, &plain, NULL, NULL, NULL, 1, &r), ONYX_ERR_INVALID_ARGUMENT, "no mask_token");
    ONYX_CHECK(r == NULL);
    onyx_pipeline_destroy(p);

    /* targets: only those ids are scored (softmax still over the whole vocabulary) */
    onyx_pipeline_options o;
    onyx_pipeline_options_init(&o);
    const char *targets[2] = {"the", "is"};
    o.targets = targets;
    o.target_count = 2;
    p = open_pipeline("bert-fill-mask-ts14", ONYX_TASK_MASKED_LM, &o);
    if (!p) return;
    r = NULL;
    ONYX_CHECK_OK(onyx_pipeline_run(p, &text, NULL, NULL, NULL, 1, &r));
    if (r) {
        ONYX_CHECK_INT(r->outputs[0].count, 2);
        for (size_t k = 0; k < r->outputs[0].count; k++)
            ONYX_CHECK(strcmp(r->outputs[0].items[k].label, "the") == 0 || strcmp(r->outputs[0].items[k].label, "is") == 0);
    }
    onyx_pipeline_result_destroy(r);
    onyx_pipeline_destroy(p);
}

static void test_feature_extraction(void) {
    onyx_pipeline_options o;
    onyx_pipeline_options_init(&o);
    o.pooling = ONYX_POOLING_MEAN;
    o.normalize = 1;
    onyx_pipeline *p = open_pipeline("bert-feature-extraction-ts17-external-data", ONYX_TASK_FEATURE_EXTRACTION, &o);
    if (!p) return;
    const char *texts[2] = {"short", "a somewhat longer sentence"};
    onyx_pipeline_result *r = NULL;
    ONYX_CHECK_OK(onyx_pipeline_run(p, texts, NULL, NULL, NULL, 2, &r));
    for (int i = 0; r && i < 2; i++) {
        onyx_encoding *enc = NULL;
        onyx_tensor *h = reference_forward(p, texts[i], "last_hidden_state", &enc);
        if (!h || !enc) continue;
        const float *x = onyx_tensor_data(h);
        double mean[32], norm = 0;
        for (int c = 0; c < 32; c++) {
            mean[c] = 0;
            for (size_t t = 0; t < enc->length; t++) mean[c] += x[t * 32 + c];
            mean[c] /= (double)enc->length;
            norm += mean[c] * mean[c];
        }
        ONYX_CHECK_INT(r->outputs[i].rows, 1);
        ONYX_CHECK_INT(r->outputs[i].cols, 32);
        for (int c = 0; c < 32; c++) ONYX_CHECK_CLOSE(r->outputs[i].features[c], mean[c] / sqrt(norm), 1e-5, 1e-4);
        onyx_tensor_destroy(h);
        onyx_encoding_destroy(enc);
    }
    onyx_pipeline_result_destroy(r);
    onyx_pipeline_destroy(p);

    p = open_pipeline("bert-feature-extraction-ts17-external-data", ONYX_TASK_FEATURE_EXTRACTION, NULL);
    if (!p) return;
    r = NULL;
    ONYX_CHECK_OK(onyx_pipeline_run(p, texts, NULL, NULL, NULL, 2, &r));
    if (r) {
        onyx_encoding *enc = NULL;
        onyx_tensor *h = reference_forward(p, texts[0], "last_hidden_state", &enc);
        /* the shorter input keeps its own length, not the batch's padded one */
        if (enc) ONYX_CHECK_INT(r->outputs[0].rows, enc->length);
        if (h && enc)
            for (size_t k = 0; k < enc->length * 32; k++)
                ONYX_CHECK_CLOSE(r->outputs[0].features[k], ((const float *)onyx_tensor_data(h))[k], 1e-5, 1e-4);
        onyx_tensor_destroy(h);
        onyx_encoding_destroy(enc);
        char *json = NULL;
        ONYX_CHECK_OK(onyx_pipeline_result_json(r, 0, 1, &json));
        ONYX_CHECK(json && strncmp(json, "[[[", 3) == 0);
        onyx_pipeline_free_text(json);
    }
    onyx_pipeline_result_destroy(r);
    onyx_pipeline_destroy(p);
}

static void test_question_answering(void) {
    onyx_pipeline_options o;
    onyx_pipeline_options_init(&o);
    o.top_k = 3;
    onyx_pipeline *p = open_pipeline("bert-question-answering-ts17", ONYX_TASK_QUESTION_ANSWERING, &o);
    if (!p) return;
    const char *q = "Where does John live?", *c = "John lives in Paris with his cat.";
    onyx_pipeline_result *r = NULL;
    ONYX_CHECK_OK(onyx_pipeline_answer(p, &q, &c, 1, &r));
    /* reference: a plain session with token_type_ids; best span by brute force */
    onyx_tokenizer *tok = NULL;
    onyx_encoding *enc = NULL;
    onyx_session *s = NULL;
    ONYX_CHECK_OK(onyx_tokenizer_load(TOKENIZER, &tok));
    if (tok) ONYX_CHECK_OK(onyx_tokenizer_encode(tok, q, strlen(q), c, strlen(c), NULL, &enc));
    ONYX_CHECK_OK(onyx_session_create(MODELS "bert-question-answering-ts17/model.onnx", NULL, &s));
    if (r && enc && s) {
        int64_t dims[2] = {1, (int64_t)enc->length};
        size_t bytes = enc->length * sizeof(int64_t);
        onyx_tensor *in[3] = {NULL, NULL, NULL}, *out[2] = {NULL, NULL};
        onyx_tensor_create_borrowed(ONYX_DTYPE_INT64, dims, 2, enc->ids, bytes, &in[0]);
        onyx_tensor_create_borrowed(ONYX_DTYPE_INT64, dims, 2, enc->attention_mask, bytes, &in[1]);
        onyx_tensor_create_borrowed(ONYX_DTYPE_INT64, dims, 2, enc->type_ids, bytes, &in[2]);
        const char *in_names[3] = {"input_ids", "attention_mask", "token_type_ids"};
        const char *out_names[2] = {"start_logits", "end_logits"};
        ONYX_CHECK_OK(onyx_session_run(s, in_names, (const onyx_tensor *const *)in, 3, out_names, 2, out));
        if (out[0] && out[1]) {
            const float *sl = onyx_tensor_data(out[0]), *el = onyx_tensor_data(out[1]);
            size_t n = enc->length;
            double ps[64], pe[64], zs = 0, ze = 0, ms = -1e30, me = -1e30;
            for (size_t t = 0; t < n; t++) {
                int ok = t == 0 || enc->sequence_ids[t] == 1;
                ps[t] = ok ? sl[t] : -10000.0;
                pe[t] = ok ? el[t] : -10000.0;
                ms = ps[t] > ms ? ps[t] : ms;
                me = pe[t] > me ? pe[t] : me;
            }
            for (size_t t = 0; t < n; t++) {
                zs += ps[t] = exp(ps[t] - ms);
                ze += pe[t] = exp(pe[t] - me);
            }
            double best = -1;
            size_t bs = 0, be = 0;
            for (size_t a = 1; a < n; a++)
                for (size_t b = a; b < n && b < a + 15; b++)
                    if (enc->sequence_ids[a] == 1 && enc->sequence_ids[b] == 1 && ps[a] * pe[b] / (zs * ze) > best) {
                        best = ps[a] * pe[b] / (zs * ze);
                        bs = a;
                        be = b;
                    }
            int64_t chars[128];
            onyx_encoding_char_offsets(enc, q, strlen(q), c, strlen(c), chars);
            const onyx_pipeline_item *it = &r->outputs[0].items[0];
            ONYX_CHECK(r->outputs[0].count >= 1 && r->outputs[0].count <= 3);
            ONYX_CHECK_CLOSE(it->score, best, 1e-7, 1e-4);
            /* the context is ASCII words: word alignment keeps whole words; the span's tokens are inside */
            ONYX_CHECK(it->start <= chars[2 * bs] && it->end >= chars[2 * be + 1]);
            ONYX_CHECK(strncmp(it->text, c + it->start, (size_t)(it->end - it->start)) == 0);
            for (size_t k = 1; k < r->outputs[0].count; k++)
                ONYX_CHECK(r->outputs[0].items[k].score <= r->outputs[0].items[k - 1].score);
        }
        for (int k = 0; k < 3; k++) onyx_tensor_destroy(in[k]);
        onyx_tensor_destroy(out[0]);
        onyx_tensor_destroy(out[1]);
    }
    onyx_session_destroy(s);
    onyx_encoding_destroy(enc);
    onyx_tokenizer_destroy(tok);
    onyx_pipeline_result_destroy(r);

    /* a context longer than max_seq_len (64) is split into spans with doc_stride overlap */
    char long_ctx[2048] = "";
    for (int i = 0; i < 40; i++) strcat(long_ctx, "the cat sat on the mat and ");
    strcat(long_ctx, "John lives in Paris.");
    const char *lc = long_ctx;
    r = NULL;
    ONYX_CHECK_OK(onyx_pipeline_answer(p, &q, &lc, 1, &r));
    for (size_t k = 0; r && k < r->outputs[0].count; k++) {
        const onyx_pipeline_item *it = &r->outputs[0].items[k];
        ONYX_CHECK(it->start >= 0 && it->end <= (int64_t)strlen(long_ctx) && it->start <= it->end);
        ONYX_CHECK(it->score > 0 && it->score <= 1);
    }
    onyx_pipeline_result_destroy(r);

    const char *empty = "";
    r = NULL;
    ONYX_CHECK_ERROR(onyx_pipeline_answer(p, &empty, &c, 1, &r), ONYX_ERR_INVALID_ARGUMENT, "`question` cannot be empty");
    onyx_pipeline_destroy(p);
}

static void test_errors(void) {
    onyx_pipeline_options o;
    onyx_pipeline_options_init(&o);
    o.tokenizer_path = TOKENIZER;
    onyx_pipeline *p = NULL;
    /* a folder of another task */
    ONYX_CHECK_ERROR(onyx_pipeline_create(MODELS "bert-token-classification-ts14", ONYX_TASK_SEQUENCE_CLASSIFICATION,
                                          &o, &p),
                     ONYX_ERR_INVALID_ARGUMENT, "not text-classification");
    ONYX_CHECK(p == NULL);
    ONYX_CHECK_ERROR(onyx_pipeline_create(MODELS "gpt2-ts14", ONYX_TASK_SEQUENCE_CLASSIFICATION, &o, &p),
                     ONYX_ERR_INVALID_ARGUMENT, "is a text-generation model, not text-classification");
    /* no tokenizer in the folder and none given */
    onyx_pipeline_options_init(&o);
    ONYX_CHECK_ERROR(onyx_pipeline_create(MODELS "bert-text-classification-ts17", ONYX_TASK_AUTO, &o, &p),
                     ONYX_ERR_INVALID_ARGUMENT, "no tokenizer");
    p = open_pipeline("bert-text-classification-ts17", ONYX_TASK_AUTO, NULL);
    if (!p) return;
    onyx_pipeline_result *r = NULL;
    const char *bad = "bad \xC3\x28 text";
    ONYX_CHECK_ERROR(onyx_pipeline_run(p, &bad, NULL, NULL, NULL, 1, &r), ONYX_ERR_INVALID_ARGUMENT, "UTF-8");
    ONYX_CHECK(r == NULL);
    const char *good = "fine";
    ONYX_CHECK_ERROR(onyx_pipeline_run(p, &good, NULL, NULL, NULL, 0, &r), ONYX_ERR_INVALID_ARGUMENT, "no inputs");
    ONYX_CHECK_ERROR(onyx_pipeline_answer(p, &good, &good, 1, &r), ONYX_ERR_INVALID_ARGUMENT, "not question-answering");
    onyx_pipeline_destroy(p);
}

int main(void) {
    ONYX_TEST_RUN(test_classify_scores);
    ONYX_TEST_RUN(test_aggregation_strategies);
    ONYX_TEST_RUN(test_qa_spans);
    ONYX_TEST_RUN(test_text_classification);
    ONYX_TEST_RUN(test_text_pair_classification);
    ONYX_TEST_RUN(test_token_classification);
    ONYX_TEST_RUN(test_fill_mask);
    ONYX_TEST_RUN(test_feature_extraction);
    ONYX_TEST_RUN(test_question_answering);
    ONYX_TEST_RUN(test_errors);
    return onyx_test_finish();
}
