/*
 * pipeline.c - transformers' encoder pipelines over a model folder: tokenize a batch, run the
 * encoder once, and turn its outputs into results (scoring.c holds the arithmetic).
 *
 * Every task encodes its batch padded to the longest input (attention mask 0 on padding) and
 * truncated to the pipeline's max_length. The model runs once per batch through onyx_model_run,
 * with the batch's token_type_ids (text pairs, question + context; model.c drops them for graphs
 * without that input and fills the other inputs) and every output the task reads (start_logits
 * and end_logits together for question-answering).
 * Legend: B = batch, S = sequence, L = labels, V = vocabulary, H = hidden.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "model/model_internal.h"
#include "onyx/pipeline.h"
#include "pipeline/pipeline_internal.h"

struct onyx_pipeline {
    onyx_model *model;
    int owns_model;
    onyx_tokenizer *own_tokenizer; /* from options.tokenizer_path */
    const onyx_tokenizer *tokenizer;
    onyx_task task;
    onyx_pipeline_options options; /* defaults resolved; string arrays below are copies */
    char **ignore_labels;
    size_t ignore_label_count;
    int64_t *target_ids;
    size_t target_count;
    int multi_label;
    int has_subword_prefix; /* the vocabulary has "##" pieces (continuing_subword_prefix) */
    int64_t cls_id, mask_id, pad_id, unk_id;
    pipe_generation *generation; /* text-generation and the seq2seq pipelines */
};

void onyx_pipeline_options_init(onyx_pipeline_options *options) {
    if (!options) return;
    memset(options, 0, sizeof *options);
    options->struct_size = sizeof *options;
    onyx_model_options_init(&options->model);
    options->multi_label = -1;
    options->max_answer_len = 15;
    options->max_question_len = 64;
    options->align_to_words = 1;
    options->clean_up_tokenization_spaces = -1;
    options->return_full_text = 1;
    options->skip_special_tokens = 1;
}

static const char *task_label(onyx_task task) {
    const char *name = onyx_task_name(task);
    return name ? name : "unknown";
}

static int64_t first_token_id(const onyx_tokenizer *tok, const char *const *names, size_t n) {
    for (size_t i = 0; i < n; i++) {
        int64_t id = onyx_tokenizer_token_to_id(tok, names[i], strlen(names[i]));
        if (id >= 0) return id;
    }
    return -1;
}

static onyx_status oom(void) { return onyx_error(ONYX_ERR_OUT_OF_MEMORY, "pipeline: out of memory"); }

/* Resolve the fill-mask targets to ids: a vocabulary token, else the first id it encodes to. */
static onyx_status resolve_targets(onyx_pipeline *p) {
    const onyx_pipeline_options *o = &p->options;
    if (!o->targets || o->target_count == 0) return ONYX_OK;
    p->target_ids = onyx_malloc(o->target_count * sizeof *p->target_ids);
    if (!p->target_ids) return oom();
    onyx_encode_options eo;
    onyx_encode_options_init(&eo);
    eo.add_special_tokens = 0;
    for (size_t i = 0; i < o->target_count; i++) {
        const char *t = o->targets[i];
        if (!t) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "fill-mask: target %zu is NULL", i);
        int64_t id = onyx_tokenizer_token_to_id(p->tokenizer, t, strlen(t));
        if (id < 0) {
            onyx_encoding *enc = NULL;
            ONYX_TRY(onyx_tokenizer_encode(p->tokenizer, t, strlen(t), NULL, 0, &eo, &enc));
            if (enc->length == 0) {
                onyx_encoding_destroy(enc);
                return onyx_error(ONYX_ERR_INVALID_ARGUMENT,
                                  "fill-mask: target '%s' does not tokenize to any token", t);
            }
            id = enc->ids[0];
            onyx_encoding_destroy(enc);
        }
        size_t k = 0; /* transformers keeps the set of ids */
        while (k < p->target_count && p->target_ids[k] != id) k++;
        if (k == p->target_count) p->target_ids[p->target_count++] = id;
    }
    return ONYX_OK;
}

static onyx_status pipeline_setup(onyx_pipeline *p, onyx_task task,
                                  const onyx_pipeline_options *options) {
    if (options && options->struct_size != sizeof *options)
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT,
                          "pipeline options: struct_size %zu, expected %zu (call "
                          "onyx_pipeline_options_init)", options->struct_size, sizeof *options);
    if (options) p->options = *options;
    else onyx_pipeline_options_init(&p->options);
    onyx_pipeline_options *o = &p->options;
    o->ignore_labels = NULL;
    o->tokenizer_path = NULL;

    onyx_task have = onyx_model_task(p->model);
    if (task == ONYX_TASK_AUTO) task = have;
    int generative = task == ONYX_TASK_CAUSAL_LM || task == ONYX_TASK_SEQ2SEQ_LM;
    if (task != ONYX_TASK_FEATURE_EXTRACTION && task != ONYX_TASK_SEQUENCE_CLASSIFICATION &&
        task != ONYX_TASK_TOKEN_CLASSIFICATION && task != ONYX_TASK_QUESTION_ANSWERING &&
        task != ONYX_TASK_MASKED_LM && !generative)
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT,
                          "pipeline: task %s has no pipeline (text-classification, "
                          "token-classification, question-answering, fill-mask, "
                          "feature-extraction, text-generation, text2text-generation)", task_label(task));
    if (have != task)
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT,
                          "pipeline: the model in '%s' is a %s model, not %s",
                          p->model->dir ? p->model->dir : "(model)", task_label(have),
                          task_label(task));
    p->task = task;

    if (options && options->tokenizer_path) {
        onyx_status st = onyx_tokenizer_load(options->tokenizer_path, &p->own_tokenizer);
        if (st) return onyx_error_prefix(st, "pipeline tokenizer: ");
        p->tokenizer = p->own_tokenizer;
    } else {
        p->tokenizer = onyx_model_tokenizer(p->model);
    }
    if (!p->tokenizer)
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT,
                          "pipeline: the model folder '%s' has no tokenizer (tokenizer.json or a "
                          "SentencePiece model); give one with options.tokenizer_path",
                          p->model->dir ? p->model->dir : "(model)");
    if (generative) {
        ONYX_TRY(pipe_generation_create(p->model, p->tokenizer, task, o, &p->generation));
        o->generation = NULL; /* copied; the caller's strings and config are not kept */
        o->prefix = o->src_lang = o->tgt_lang = NULL;
        o->targets = NULL;
        return ONYX_OK;
    }
    if (o->clean_up_tokenization_spaces < 0) o->clean_up_tokenization_spaces = 1;

    if (o->max_length <= 0) {
        int64_t n = 0;
        o->max_length = onyx_model_config_int(p->model, "max_position_embeddings", &n) == ONYX_OK ? n : 0;
        onyx_error_clear();
    }
    if (o->max_seq_len <= 0) o->max_seq_len = o->max_length > 0 && o->max_length < 384 ? o->max_length : 384;
    if (o->doc_stride <= 0) o->doc_stride = o->max_seq_len / 2 < 128 ? o->max_seq_len / 2 : 128;
    if (o->max_answer_len < 1)
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "question-answering: max_answer_len must be >= 1");
    if (o->top_k < ONYX_TOP_K_ALL)
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "pipeline: top_k %d is not valid", o->top_k);

    static const char *const cls_names[] = {"[CLS]", "<s>"};
    static const char *const mask_names[] = {"[MASK]", "<mask>"};
    static const char *const pad_names[] = {"[PAD]", "<pad>"};
    static const char *const unk_names[] = {"[UNK]", "<unk>"};
    static const char *const subword_probe[] = {"##s", "##a", "##e", "##t", "##i"};
    p->cls_id = first_token_id(p->tokenizer, cls_names, 2);
    p->mask_id = first_token_id(p->tokenizer, mask_names, 2);
    p->unk_id = first_token_id(p->tokenizer, unk_names, 2);
    if (onyx_model_config_int(p->model, "pad_token_id", &p->pad_id) != ONYX_OK || p->pad_id < 0)
        p->pad_id = first_token_id(p->tokenizer, pad_names, 2);
    onyx_error_clear();
    if (p->pad_id < 0) p->pad_id = 0;
    p->has_subword_prefix = first_token_id(p->tokenizer, subword_probe, 5) >= 0;

    p->multi_label = o->multi_label;
    if (p->multi_label < 0) {
        const cJSON *pt = p->model->config ? cJSON_GetObjectItemCaseSensitive(p->model->config, "problem_type") : NULL;
        p->multi_label = cJSON_IsString(pt) && strcmp(pt->valuestring, "multi_label_classification") == 0;
    }

    if (options && options->ignore_labels) {
        p->ignore_labels = onyx_calloc(options->ignore_label_count ? options->ignore_label_count : 1,
                                       sizeof *p->ignore_labels);
        if (!p->ignore_labels) return oom();
        for (size_t i = 0; i < options->ignore_label_count; i++) {
            if (!(p->ignore_labels[i] = onyx_strdup(options->ignore_labels[i] ? options->ignore_labels[i] : "")))
                return oom();
            p->ignore_label_count = i + 1;
        }
    }
    if (task == ONYX_TASK_MASKED_LM) {
        if (p->mask_id < 0)
            return onyx_error(ONYX_ERR_INVALID_ARGUMENT,
                              "fill-mask: the tokenizer has no mask token ([MASK] or <mask>)");
        ONYX_TRY(resolve_targets(p));
    }
    o->targets = NULL;
    return ONYX_OK;
}

onyx_status onyx_pipeline_create_from_model(onyx_model *model, onyx_task task,
                                            const onyx_pipeline_options *options,
                                            onyx_pipeline **out) {
    onyx_error_clear();
    if (!out) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "pipeline: out is NULL");
    *out = NULL;
    if (!model) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "pipeline: model is NULL");
    onyx_pipeline *p = onyx_calloc(1, sizeof *p);
    if (!p) return oom();
    p->model = model;
    onyx_status st = pipeline_setup(p, task, options);
    if (st) {
        onyx_pipeline_destroy(p);
        return st;
    }
    *out = p;
    return ONYX_OK;
}

onyx_status onyx_pipeline_create(const char *dir, onyx_task task,
                                 const onyx_pipeline_options *options, onyx_pipeline **out) {
    onyx_error_clear();
    if (!out) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "pipeline: out is NULL");
    *out = NULL;
    if (!dir) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "pipeline: model folder is NULL");
    if (options && options->struct_size != sizeof *options)
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT,
                          "pipeline options: struct_size %zu, expected %zu (call "
                          "onyx_pipeline_options_init)", options->struct_size, sizeof *options);
    onyx_model_options mo;
    if (options) mo = options->model;
    else onyx_model_options_init(&mo);
    onyx_model *model = NULL;
    ONYX_TRY(onyx_model_load(dir, ONYX_TASK_AUTO, &mo, &model));
    onyx_pipeline *p = NULL;
    onyx_status st = onyx_pipeline_create_from_model(model, task, options, &p);
    if (st) {
        onyx_model_destroy(model);
        return st;
    }
    p->owns_model = 1;
    *out = p;
    return ONYX_OK;
}

void onyx_pipeline_destroy(onyx_pipeline *p) {
    if (!p) return;
    if (p->owns_model) onyx_model_destroy(p->model);
    onyx_tokenizer_destroy(p->own_tokenizer);
    for (size_t i = 0; i < p->ignore_label_count; i++) onyx_free(p->ignore_labels[i]);
    onyx_free(p->ignore_labels);
    onyx_free(p->target_ids);
    pipe_generation_destroy(p->generation);
    onyx_free(p);
}

onyx_status onyx_pipeline_task_from_name(const char *name, onyx_task *task, onyx_pipeline_options *options) {
    onyx_error_clear();
    if (!name || !task) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "onyx_pipeline_task_from_name: NULL argument");
    onyx_text2text_task kind = ONYX_TEXT2TEXT_GENERATION;
    const char *src = NULL, *tgt = NULL;
    if (strcmp(name, "ner") == 0) {
        *task = ONYX_TASK_TOKEN_CLASSIFICATION;
    } else if (strcmp(name, "summarization") == 0) {
        *task = ONYX_TASK_SEQ2SEQ_LM;
        kind = ONYX_TEXT2TEXT_SUMMARIZATION;
    } else if (strcmp(name, "translation") == 0) {
        *task = ONYX_TASK_SEQ2SEQ_LM;
        kind = ONYX_TEXT2TEXT_TRANSLATION;
    } else if (strncmp(name, "translation_", 12) == 0) {
        /* translation_<src>_to_<tgt>, transformers' task.split("_") of four items */
        const char *to = strstr(name + 12, "_to_");
        if (!to || to == name + 12 || !to[4] || strchr(to + 4, '_') || memchr(name + 12, '_', (size_t)(to - name - 12)))
            return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "unknown task '%s' (translation tasks are "
                              "'translation' or 'translation_XX_to_YY')", name);
        *task = ONYX_TASK_SEQ2SEQ_LM;
        kind = ONYX_TEXT2TEXT_TRANSLATION;
        src = name + 12;
        tgt = to + 4;
    } else if (onyx_task_from_name(name, task) != ONYX_OK) {
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT,
                          "unknown task '%s' (text-classification, token-classification, ner, question-answering, "
                          "fill-mask, feature-extraction, text-generation, text2text-generation, summarization, "
                          "translation, translation_XX_to_YY)", name);
    }
    if (options) {
        options->text2text = kind;
        if (src) {
            /* pointers into name: src_lang is read up to "_to_" (generation.c), tgt_lang to the end */
            options->src_lang = src;
            options->tgt_lang = tgt;
        }
    }
    return ONYX_OK;
}

onyx_task onyx_pipeline_task(const onyx_pipeline *p) { return p ? p->task : ONYX_TASK_AUTO; }
onyx_model *onyx_pipeline_model(onyx_pipeline *p) { return p ? p->model : NULL; }
const onyx_tokenizer *onyx_pipeline_tokenizer(const onyx_pipeline *p) { return p ? p->tokenizer : NULL; }

onyx_status onyx_pipeline_generation_config(const onyx_pipeline *p, onyx_generation_config *out) {
    onyx_error_clear();
    if (!p || !out) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "onyx_pipeline_generation_config: NULL argument");
    if (!p->generation)
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "onyx_pipeline_generation_config: the pipeline is %s, which does "
                          "not generate", task_label(p->task));
    pipe_generation_defaults(p->generation, out);
    return ONYX_OK;
}

onyx_status onyx_pipeline_generate(onyx_pipeline *p, const char *const *texts, const size_t *lens, size_t n,
                                   const onyx_generation_config *config, onyx_pipeline_result **out) {
    onyx_error_clear();
    if (!out) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "onyx_pipeline_generate: out is NULL");
    *out = NULL;
    if (!p) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "onyx_pipeline_generate: pipeline is NULL");
    if (!p->generation)
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "onyx_pipeline_generate: the pipeline is %s, which does not "
                          "generate (use onyx_pipeline_run)", task_label(p->task));
    return pipe_generation_run(p->generation, texts, lens, n, config, out);
}

/* ---------------------------------------------------------------------------------------------
 * Results
 */
onyx_status pipe_result_new(onyx_task task, size_t n, onyx_pipeline_result **out) {
    *out = NULL;
    onyx_pipeline_result *r = onyx_calloc(1, sizeof *r);
    if (!r) return oom();
    r->task = task;
    r->outputs = onyx_calloc(n ? n : 1, sizeof *r->outputs);
    if (!r->outputs) {
        onyx_free(r);
        return oom();
    }
    r->count = n;
    *out = r;
    return ONYX_OK;
}

void onyx_pipeline_result_destroy(onyx_pipeline_result *r) {
    if (!r) return;
    for (size_t i = 0; i < r->count; i++) {
        onyx_pipeline_output *o = &r->outputs[i];
        for (size_t k = 0; o->items && k < o->count; k++) {
            onyx_free((char *)o->items[k].label);
            onyx_free((char *)o->items[k].text);
            onyx_free((int64_t *)o->items[k].token_ids);
        }
        onyx_free(o->items);
        onyx_free(o->features);
    }
    onyx_free(r->outputs);
    onyx_free(r);
}

void onyx_pipeline_free_text(char *text) { onyx_free(text); }

/* ---------------------------------------------------------------------------------------------
 * Encoding and running
 */

/* A batch encoded for the model: ids, mask and type ids (B, S). */
typedef struct pipe_batch {
    onyx_encoding *encodings; /* B, from onyx_tokenizer_encode_batch (NULL for QA spans) */
    size_t batch, seq;
    int64_t *ids, *mask, *types;
} pipe_batch;

static void batch_free(pipe_batch *b) {
    if (b->encodings) onyx_encoding_batch_destroy(b->encodings, b->batch);
    onyx_free(b->ids);
    onyx_free(b->mask);
    onyx_free(b->types);
    memset(b, 0, sizeof *b);
}

/* Fill ids/mask/types (B, S) from rows encodings (each padded to S already, or shorter). */
static onyx_status batch_fill(pipe_batch *b, const onyx_encoding *const *rows, size_t n, int64_t pad_id) {
    size_t seq = 0;
    for (size_t i = 0; i < n; i++)
        if (rows[i]->length > seq) seq = rows[i]->length;
    if (seq == 0) seq = 1;
    b->batch = n;
    b->seq = seq;
    b->ids = onyx_malloc(n * seq * sizeof *b->ids);
    b->mask = onyx_calloc(n * seq, sizeof *b->mask);
    b->types = onyx_calloc(n * seq, sizeof *b->types);
    if (!b->ids || !b->mask || !b->types) return oom();
    for (size_t i = 0; i < n; i++) {
        for (size_t t = 0; t < seq; t++) {
            size_t at = i * seq + t;
            b->ids[at] = t < rows[i]->length ? rows[i]->ids[t] : pad_id;
            b->mask[at] = t < rows[i]->length ? rows[i]->attention_mask[t] : 0;
            b->types[at] = t < rows[i]->length ? rows[i]->type_ids[t] : 0;
        }
    }
    return ONYX_OK;
}

static onyx_status check_texts(const char *what, const char *const *texts, const size_t *lens, size_t n,
                               size_t **lens_out) {
    if (n == 0) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "%s: no inputs (n == 0)", what);
    if (!texts) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "%s: texts is NULL", what);
    *lens_out = onyx_malloc(n * sizeof **lens_out);
    if (!*lens_out) return oom();
    for (size_t i = 0; i < n; i++) {
        if (!texts[i]) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "%s: text %zu is NULL", what, i);
        (*lens_out)[i] = lens ? lens[i] : strlen(texts[i]);
    }
    return ONYX_OK;
}

static onyx_status encode_batch(onyx_pipeline *p, const char *const *texts, const size_t *lens,
                                const char *const *pairs, const size_t *pair_lens, size_t n,
                                pipe_batch *b) {
    memset(b, 0, sizeof *b);
    onyx_encode_options eo;
    onyx_encode_options_init(&eo);
    if (p->options.max_length > 0) {
        eo.truncation = ONYX_TRUNCATE_LONGEST_FIRST;
        eo.max_length = (size_t)p->options.max_length;
    }
    eo.padding = ONYX_PAD_LONGEST;
    eo.pad_id = p->pad_id;
    onyx_status st = onyx_tokenizer_encode_batch(p->tokenizer, texts, lens, pairs, pair_lens, n, &eo,
                                                 &b->encodings);
    if (st) return st;
    b->batch = n;
    const onyx_encoding **rows = onyx_malloc(n * sizeof *rows);
    if (!rows) return oom();
    for (size_t i = 0; i < n; i++) rows[i] = &b->encodings[i];
    st = batch_fill(b, rows, n, p->pad_id);
    onyx_free(rows);
    return st;
}

/* Run the encoder on b and return n_out outputs by name. The type ids go to onyx_model_run,
 * which drops them for graphs without token_type_ids. */
static onyx_status run_encoder(onyx_pipeline *p, const pipe_batch *b, const char *const *names,
                               size_t n_out, onyx_tensor **outs) {
    onyx_model_inputs in;
    onyx_model_inputs_init(&in);
    in.batch = (int64_t)b->batch;
    in.seq = (int64_t)b->seq;
    in.input_ids = b->ids;
    in.attention_mask = b->mask;
    in.token_type_ids = b->types;
    return onyx_model_run(p->model, &in, names, n_out, outs);
}

/* Check that out has rank dims with leading (B[, S]) and return its float data. */
static onyx_status output_floats(onyx_tensor *t, const char *name, size_t rank, const pipe_batch *b,
                                 const float **data, int64_t *last) {
    const int64_t *d = onyx_tensor_dims(t);
    if (onyx_tensor_dtype(t) != ONYX_DTYPE_FLOAT32 || onyx_tensor_rank(t) != rank ||
        d[0] != (int64_t)b->batch || (rank == 3 && d[1] != (int64_t)b->seq))
        return onyx_error(ONYX_ERR_INVALID_MODEL,
                          "pipeline: output '%s' is %s of rank %zu, expected float32 of rank %zu "
                          "with batch %zu", name, onyx_dtype_name(onyx_tensor_dtype(t)),
                          onyx_tensor_rank(t), rank, b->batch);
    *data = onyx_tensor_data(t);
    *last = d[rank - 1];
    return ONYX_OK;
}

static onyx_status set_label(onyx_pipeline_item *item, const onyx_model *m, int64_t id) {
    const char *label = onyx_model_label(m, id);
    char fallback[32];
    if (!label) {
        snprintf(fallback, sizeof fallback, "LABEL_%lld", (long long)id);
        label = fallback;
    }
    return (item->label = onyx_strdup(label)) ? ONYX_OK : oom();
}

/* ---- text-classification ---- */

typedef struct scored_label {
    double score;
    int64_t id;
} scored_label;

static int scored_cmp(const void *a, const void *b) {
    const scored_label *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1; /* Python's sort is stable */
    return x->id < y->id ? -1 : 1;
}

static onyx_status run_classification(onyx_pipeline *p, const pipe_batch *b, onyx_pipeline_result *r) {
    const char *name = "logits";
    onyx_tensor *logits = NULL;
    ONYX_TRY(run_encoder(p, b, &name, 1, &logits));
    const float *data;
    int64_t n_labels;
    onyx_status st = output_floats(logits, name, 2, b, &data, &n_labels);
    onyx_function_to_apply fn = p->options.function_to_apply;
    if (fn == ONYX_FUNCTION_DEFAULT)
        fn = p->multi_label || n_labels == 1 ? ONYX_FUNCTION_SIGMOID : ONYX_FUNCTION_SOFTMAX;
    int top_k = p->options.top_k;
    r->single_item = top_k == 0; /* transformers' _legacy call with top_k 1: a dict */
    if (top_k == 0) top_k = 1;
    if (top_k == ONYX_TOP_K_ALL || top_k > n_labels) top_k = (int)n_labels;
    double *scores = st ? NULL : onyx_malloc((size_t)n_labels * sizeof *scores);
    scored_label *order = st ? NULL : onyx_malloc((size_t)n_labels * sizeof *order);
    if (!st && (!scores || !order)) st = oom();
    for (size_t i = 0; i < b->batch && !st; i++) {
        st = onyx_pipeline_classify_scores(data + i * (size_t)n_labels, n_labels, fn, scores);
        for (int64_t l = 0; l < n_labels; l++) order[l] = (scored_label){scores[l], l};
        qsort(order, (size_t)n_labels, sizeof *order, scored_cmp);
        onyx_pipeline_output *o = &r->outputs[i];
        o->items = st ? NULL : onyx_calloc((size_t)top_k, sizeof *o->items);
        if (!st && !o->items) st = oom();
        for (int k = 0; k < top_k && !st; k++) {
            o->items[k].score = order[k].score;
            o->items[k].index = order[k].id;
            o->items[k].start = o->items[k].end = -1;
            st = set_label(&o->items[k], p->model, order[k].id);
            o->count = (size_t)k + 1;
        }
    }
    onyx_free(scores);
    onyx_free(order);
    onyx_tensor_destroy(logits);
    return st;
}

/* ---- token-classification ---- */

static size_t utf8_chars(const char *s, size_t n) {
    size_t c = 0;
    for (size_t i = 0; i < n; i++) c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
}

/* convert_tokens_to_string of words: the tokenizer's decoder when every word is a vocabulary
 * token; otherwise runs of tokens are decoded and the other strings (original text of unknown
 * tokens, words joined before) put between them the way the WordPiece decoder joins tokens (a
 * space before each, none before "##" pieces, whose prefix goes). */
static onyx_status join_words(void *user, const char *const *words, size_t n, char **out) {
    const onyx_pipeline *p = user;
    int64_t *ids = onyx_malloc((n ? n : 1) * sizeof *ids);
    char *text = NULL;
    size_t len = 0;
    onyx_status st = ids ? ONYX_OK : oom();
    for (size_t i = 0; i < n && !st;) {
        size_t run = 0;
        while (i + run < n && (ids[run] = onyx_tokenizer_token_to_id(p->tokenizer, words[i + run],
                                                                     strlen(words[i + run]))) >= 0)
            run++;
        char *piece = NULL;
        size_t piece_len = 0;
        if (run > 0) {
            st = onyx_tokenizer_decode(p->tokenizer, ids, run, 0, 0, &piece, &piece_len);
            i += run;
        } else {
            piece = onyx_strdup(words[i]);
            piece_len = piece ? strlen(piece) : 0;
            st = piece ? ONYX_OK : oom();
            i++;
        }
        if (st) break;
        const char *add = piece;
        int space = 0;
        if (text) {
            if (strncmp(add, "##", 2) == 0) add += 2;
            else space = 1;
        }
        size_t add_len = piece_len - (size_t)(add - piece);
        char *grown = onyx_realloc(text, len + (size_t)space + add_len + 1);
        if (!grown) {
            onyx_free(piece);
            st = oom();
            break;
        }
        text = grown;
        if (space) text[len++] = ' ';
        memcpy(text + len, add, add_len);
        len += add_len;
        text[len] = '\0';
        onyx_free(piece);
    }
    onyx_free(ids);
    if (!st && !text) st = (text = onyx_strdup("")) ? ONYX_OK : oom();
    if (st) {
        onyx_free(text);
        return st;
    }
    *out = text;
    return ONYX_OK;
}

static onyx_status run_token_classification(onyx_pipeline *p, const pipe_batch *b, const char *const *texts,
                                            const size_t *lens, onyx_pipeline_result *r) {
    const char *name = "logits";
    onyx_tensor *logits = NULL;
    ONYX_TRY(run_encoder(p, b, &name, 1, &logits));
    const float *data;
    int64_t n_labels;
    onyx_status st = output_floats(logits, name, 3, b, &data, &n_labels);
    const char **labels = st ? NULL : onyx_calloc((size_t)n_labels, sizeof *labels);
    char (*fallback)[32] = st ? NULL : onyx_malloc((size_t)n_labels * sizeof *fallback);
    double *scores = st ? NULL : onyx_malloc(b->seq * (size_t)n_labels * sizeof *scores);
    int64_t *chars = st ? NULL : onyx_malloc(2 * b->seq * sizeof *chars);
    onyx_token_entity *tokens = st ? NULL : onyx_calloc(b->seq, sizeof *tokens);
    char **unk_words = st ? NULL : onyx_calloc(b->seq, sizeof *unk_words);
    if (!st && (!labels || !fallback || !scores || !chars || !tokens || !unk_words)) st = oom();
    for (int64_t l = 0; !st && l < n_labels; l++) {
        labels[l] = onyx_model_label(p->model, l);
        if (!labels[l]) {
            snprintf(fallback[l], sizeof fallback[l], "LABEL_%lld", (long long)l);
            labels[l] = fallback[l];
        }
    }
    for (size_t i = 0; i < b->batch && !st; i++) {
        const onyx_encoding *enc = &b->encodings[i];
        st = onyx_encoding_char_offsets(enc, texts[i], lens[i], NULL, 0, chars);
        size_t n_tokens = 0;
        for (size_t t = 0; t < enc->length && !st; t++) {
            if (enc->special_tokens_mask[t] || !enc->attention_mask[t]) continue;
            double *sc = scores + t * (size_t)n_labels;
            pipe_softmax(data + (i * b->seq + t) * (size_t)n_labels, n_labels, sc);
            onyx_token_entity *e = &tokens[n_tokens++];
            const char *word = onyx_tokenizer_id_to_token(p->tokenizer, enc->ids[t]);
            size_t b0 = (size_t)enc->offsets[2 * t], b1 = (size_t)enc->offsets[2 * t + 1];
            e->scores = sc;
            e->index = (int64_t)t;
            e->start = chars[2 * t];
            e->end = chars[2 * t + 1];
            if (p->has_subword_prefix) {
                e->is_subword = word && utf8_chars(word, strlen(word)) != (size_t)(e->end - e->start);
            } else {
                /* transformers' fallback: start > 0 and no space in sentence[start-1:start+1] */
                e->is_subword = b0 > 0 && texts[i][b0 - 1] != ' ' && (b0 >= lens[i] || texts[i][b0] != ' ');
            }
            if (enc->ids[t] == p->unk_id || !word) {
                if (!(unk_words[t] = onyx_strndup(texts[i] + b0, b1 - b0))) st = oom();
                word = unk_words[t];
                e->is_subword = 0;
            }
            e->word = word;
        }
        onyx_pipeline_result *one = NULL;
        if (!st)
            st = onyx_pipeline_aggregate_tokens(tokens, n_tokens, labels, n_labels, p->options.aggregation,
                                                (const char *const *)p->ignore_labels,
                                                p->ignore_labels ? p->ignore_label_count : 0, join_words, p,
                                                &one);
        if (!st) {
            r->outputs[i] = one->outputs[0]; /* move the output over */
            r->grouped = one->grouped;
            one->count = 0;
        }
        onyx_pipeline_result_destroy(one);
        for (size_t t = 0; t < b->seq; t++) {
            onyx_free(unk_words[t]);
            unk_words[t] = NULL;
        }
    }
    onyx_free(labels);
    onyx_free(fallback);
    onyx_free(scores);
    onyx_free(chars);
    onyx_free(tokens);
    onyx_free(unk_words);
    onyx_tensor_destroy(logits);
    return st;
}

/* ---- fill-mask ---- */

static onyx_status run_fill_mask(onyx_pipeline *p, const pipe_batch *b, onyx_pipeline_result *r) {
    for (size_t i = 0; i < b->batch; i++) {
        size_t masks = 0;
        for (size_t t = 0; t < b->encodings[i].length; t++) masks += b->encodings[i].ids[t] == p->mask_id;
        if (masks == 0)
            return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "fill-mask: no mask_token (%s) found in input %zu",
                              onyx_tokenizer_id_to_token(p->tokenizer, p->mask_id), i);
        r->outputs[i].mask_count = masks;
    }
    const char *name = "logits";
    onyx_tensor *logits = NULL;
    ONYX_TRY(run_encoder(p, b, &name, 1, &logits));
    const float *data;
    int64_t vocab;
    onyx_status st = output_floats(logits, name, 3, b, &data, &vocab);
    for (size_t k = 0; !st && k < p->target_count; k++)
        if (p->target_ids[k] >= vocab)
            st = onyx_error(ONYX_ERR_INVALID_ARGUMENT, "fill-mask: target id %lld is outside the model's %lld logits",
                            (long long)p->target_ids[k], (long long)vocab);
    int64_t n_cand = p->target_count ? (int64_t)p->target_count : vocab;
    int top_k = p->options.top_k == 0 ? 5 : p->options.top_k;
    if (top_k == ONYX_TOP_K_ALL || top_k > n_cand) top_k = (int)n_cand;
    double *probs = st ? NULL : onyx_malloc((size_t)vocab * sizeof *probs);
    scored_label *order = st ? NULL : onyx_malloc((size_t)n_cand * sizeof *order);
    int64_t *seq_ids = st ? NULL : onyx_malloc(b->seq * sizeof *seq_ids);
    if (!st && (!probs || !order || !seq_ids)) st = oom();
    for (size_t i = 0; i < b->batch && !st; i++) {
        const onyx_encoding *enc = &b->encodings[i];
        onyx_pipeline_output *o = &r->outputs[i];
        int single = o->mask_count == 1;
        o->items = onyx_calloc(o->mask_count * (size_t)top_k, sizeof *o->items);
        if (!o->items) st = oom();
        for (size_t t = 0; t < enc->length && !st; t++) {
            if (enc->ids[t] != p->mask_id) continue;
            pipe_softmax(data + (i * b->seq + t) * (size_t)vocab, vocab, probs);
            for (int64_t c = 0; c < n_cand; c++) {
                int64_t id = p->target_count ? p->target_ids[c] : c;
                order[c] = (scored_label){probs[id], id};
            }
            qsort(order, (size_t)n_cand, sizeof *order, scored_cmp);
            for (int k = 0; k < top_k && !st; k++) {
                onyx_pipeline_item *item = &o->items[o->count++];
                item->score = order[k].score;
                item->index = order[k].id;
                item->start = item->end = -1;
                size_t n_ids = 0;
                for (size_t u = 0; u < enc->length; u++) {
                    int64_t id = u == t ? order[k].id : enc->ids[u];
                    if (!enc->attention_mask[u] || id == p->pad_id) continue; /* filter padding out */
                    seq_ids[n_ids++] = id;
                }
                char *text = NULL;
                size_t text_len = 0;
                int cleanup = p->options.clean_up_tokenization_spaces;
                st = onyx_tokenizer_decode(p->tokenizer, seq_ids, n_ids, single, cleanup, &text, &text_len);
                item->text = text;
                if (!st) {
                    char *token_str = NULL;
                    st = onyx_tokenizer_decode(p->tokenizer, &order[k].id, 1, 0, cleanup, &token_str, &text_len);
                    item->label = token_str;
                }
            }
        }
    }
    onyx_free(probs);
    onyx_free(order);
    onyx_free(seq_ids);
    onyx_tensor_destroy(logits);
    return st;
}

/* ---- feature-extraction ---- */

static onyx_status run_features(onyx_pipeline *p, const pipe_batch *b, onyx_pipeline_result *r) {
    const char *name = "last_hidden_state";
    onyx_tensor *hidden = NULL;
    ONYX_TRY(run_encoder(p, b, &name, 1, &hidden));
    const float *data;
    int64_t h;
    onyx_status st = output_floats(hidden, name, 3, b, &data, &h);
    r->pooled = p->options.pooling != ONYX_POOLING_NONE;
    for (size_t i = 0; i < b->batch && !st; i++) {
        onyx_pipeline_output *o = &r->outputs[i];
        size_t tokens = 0;
        for (size_t t = 0; t < b->seq; t++) tokens += b->mask[i * b->seq + t] != 0;
        const float *rows = data + i * b->seq * (size_t)h;
        o->cols = (size_t)h;
        o->rows = r->pooled ? 1 : tokens;
        o->features = onyx_malloc((o->rows ? o->rows : 1) * o->cols * sizeof *o->features);
        if (!o->features) {
            st = oom();
            break;
        }
        if (p->options.pooling == ONYX_POOLING_MEAN) {
            for (int64_t c = 0; c < h; c++) {
                double sum = 0;
                for (size_t t = 0; t < b->seq; t++)
                    if (b->mask[i * b->seq + t]) sum += rows[t * (size_t)h + (size_t)c];
                o->features[c] = (float)(sum / (double)(tokens ? tokens : 1));
            }
        } else if (p->options.pooling == ONYX_POOLING_CLS) {
            memcpy(o->features, rows, (size_t)h * sizeof *o->features);
        } else {
            /* right padding: the first `tokens` rows are the input's own */
            memcpy(o->features, rows, tokens * (size_t)h * sizeof *o->features);
        }
        if (p->options.normalize) {
            for (size_t row = 0; row < o->rows; row++) {
                float *v = o->features + row * o->cols;
                double norm = 0;
                for (size_t c = 0; c < o->cols; c++) norm += (double)v[c] * v[c];
                norm = sqrt(norm);
                if (norm < 1e-12) norm = 1e-12; /* torch.nn.functional.normalize's eps */
                for (size_t c = 0; c < o->cols; c++) v[c] = (float)(v[c] / norm);
            }
        }
    }
    onyx_tensor_destroy(hidden);
    return st;
}

onyx_status onyx_pipeline_run(onyx_pipeline *p, const char *const *texts, const size_t *lens,
                              const char *const *pairs, const size_t *pair_lens, size_t n,
                              onyx_pipeline_result **out) {
    onyx_error_clear();
    if (!out) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "pipeline run: out is NULL");
    *out = NULL;
    if (!p) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "pipeline run: pipeline is NULL");
    const char *what = task_label(p->task);
    if (p->generation) {
        for (size_t i = 0; pairs && i < n; i++)
            if (pairs[i]) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "%s: text pairs are for text-classification", what);
        return pipe_generation_run(p->generation, texts, lens, n, NULL, out);
    }
    if (p->task == ONYX_TASK_QUESTION_ANSWERING)
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT,
                          "question-answering takes (question, context) pairs: use onyx_pipeline_answer");
    if (pairs && p->task != ONYX_TASK_SEQUENCE_CLASSIFICATION)
        for (size_t i = 0; i < n; i++)
            if (pairs[i])
                return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "%s: text pairs are for text-classification", what);
    size_t *own_lens = NULL, *own_pair_lens = NULL;
    onyx_status st = check_texts(what, texts, lens, n, &own_lens);
    if (!st && pairs) {
        own_pair_lens = onyx_calloc(n, sizeof *own_pair_lens);
        if (!own_pair_lens) st = oom();
        for (size_t i = 0; !st && i < n; i++)
            if (pairs[i]) own_pair_lens[i] = pair_lens ? pair_lens[i] : strlen(pairs[i]);
    }
    pipe_batch b = {0};
    if (!st) st = encode_batch(p, texts, own_lens, pairs, own_pair_lens, n, &b);
    if (st) st = onyx_error_prefix(st, "%s: ", what);
    onyx_pipeline_result *r = NULL;
    if (!st) st = pipe_result_new(p->task, n, &r);
    if (!st) {
        if (p->task == ONYX_TASK_SEQUENCE_CLASSIFICATION) st = run_classification(p, &b, r);
        else if (p->task == ONYX_TASK_TOKEN_CLASSIFICATION) st = run_token_classification(p, &b, texts, own_lens, r);
        else if (p->task == ONYX_TASK_MASKED_LM) st = run_fill_mask(p, &b, r);
        else st = run_features(p, &b, r);
    }
    batch_free(&b);
    onyx_free(own_lens);
    onyx_free(own_pair_lens);
    if (st) {
        onyx_pipeline_result_destroy(r);
        return st;
    }
    *out = r;
    return ONYX_OK;
}

/* ---- question-answering ---- */

typedef struct qa_answer {
    double score;
    int64_t start, end; /* chars of the context */
    size_t order;       /* insertion order: Python's sort is stable */
} qa_answer;

static int answer_cmp(const void *a, const void *b) {
    const qa_answer *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* get_indices: the character span of tokens s..e, widened to whole words of the context. */
static void qa_indices(const onyx_encoding *enc, const int64_t *chars, int64_t s, int64_t e, int align,
                       int64_t *start, int64_t *end) {
    *start = chars[2 * s];
    *end = chars[2 * e + 1];
    if (!align || enc->word_ids[s] < 0 || enc->word_ids[e] < 0) return;
    int64_t ws = enc->word_ids[s], we = enc->word_ids[e], first = -1, last = -1;
    for (size_t t = 0; t < enc->length; t++) {
        if (enc->sequence_ids[t] != 1) continue;
        if (enc->word_ids[t] == ws && first < 0) first = chars[2 * t];
        if (enc->word_ids[t] == we) last = chars[2 * t + 1];
    }
    if (first >= 0) *start = first;
    if (last >= 0) *end = last;
}

static onyx_status qa_one(onyx_pipeline *p, const char *question, const char *context, onyx_pipeline_output *o,
                          int *single) {
    const onyx_pipeline_options *opt = &p->options;
    size_t qlen = strlen(question), clen = strlen(context);
    if (qlen == 0) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "`question` cannot be empty");
    if (clen == 0) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "`context` cannot be empty");
    onyx_encode_options eo;
    onyx_encode_options_init(&eo);
    eo.truncation = ONYX_TRUNCATE_ONLY_SECOND;
    eo.max_length = (size_t)opt->max_seq_len;
    eo.stride = (size_t)opt->doc_stride;
    eo.return_overflowing = 1;
    onyx_encoding *enc = NULL;
    ONYX_TRY(onyx_tokenizer_encode(p->tokenizer, question, qlen, context, clen, &eo, &enc));
    size_t n_spans = 1 + enc->overflowing_count;
    const onyx_encoding **spans = onyx_malloc(n_spans * sizeof *spans);
    pipe_batch b = {0};
    onyx_tensor *outs[2] = {NULL, NULL};
    int64_t *p_mask = NULL, *chars = NULL, *starts = NULL, *ends = NULL;
    double *scores = NULL;
    qa_answer *answers = NULL;
    size_t n_answers = 0;
    int top_k = opt->top_k <= 0 ? 1 : opt->top_k;
    onyx_status st = spans ? ONYX_OK : oom();
    if (!st) {
        spans[0] = enc;
        for (size_t k = 1; k < n_spans; k++) spans[k] = &enc->overflowing[k - 1];
        st = batch_fill(&b, spans, n_spans, p->pad_id);
    }
    static const char *const names[2] = {"start_logits", "end_logits"};
    if (!st) st = run_encoder(p, &b, names, 2, outs);
    const float *start_data = NULL, *end_data = NULL;
    int64_t last;
    if (!st) st = output_floats(outs[0], names[0], 2, &b, &start_data, &last);
    if (!st) st = output_floats(outs[1], names[1], 2, &b, &end_data, &last);
    if (!st && last != (int64_t)b.seq) st = onyx_error(ONYX_ERR_INVALID_MODEL, "question-answering: logits are not (batch, seq)");
    if (!st) {
        p_mask = onyx_malloc(b.seq * sizeof *p_mask);
        chars = onyx_malloc(2 * b.seq * sizeof *chars);
        starts = onyx_malloc((size_t)top_k * sizeof *starts);
        ends = onyx_malloc((size_t)top_k * sizeof *ends);
        scores = onyx_malloc((size_t)top_k * sizeof *scores);
        answers = onyx_malloc((n_spans * (size_t)top_k + 1) * sizeof *answers);
        if (!p_mask || !chars || !starts || !ends || !scores || !answers) st = oom();
    }
    double min_null = 1000000;
    for (size_t k = 0; k < n_spans && !st; k++) {
        const onyx_encoding *e = spans[k];
        /* p_mask: 1 for every token not of the context, except the CLS token */
        for (size_t t = 0; t < b.seq; t++)
            p_mask[t] = t >= e->length || e->sequence_ids[t] != 1;
        for (size_t t = 0; t < e->length; t++)
            if (e->ids[t] == p->cls_id) p_mask[t] = 0;
        size_t n_found = 0;
        st = onyx_pipeline_qa_spans(start_data + k * b.seq, end_data + k * b.seq, p_mask, b.mask + k * b.seq,
                                    (int64_t)b.seq, top_k, opt->max_answer_len, opt->handle_impossible_answer,
                                    &min_null, starts, ends, scores, &n_found);
        if (!st) st = onyx_encoding_char_offsets(e, question, qlen, context, clen, chars);
        for (size_t a = 0; a < n_found && !st; a++) {
            qa_answer *ans = &answers[n_answers];
            ans->score = scores[a];
            ans->order = n_answers++;
            qa_indices(e, chars, starts[a], ends[a], opt->align_to_words, &ans->start, &ans->end);
        }
    }
    if (!st && opt->handle_impossible_answer) {
        answers[n_answers] = (qa_answer){min_null, 0, 0, n_answers};
        n_answers++;
    }
    if (!st) {
        qsort(answers, n_answers, sizeof *answers, answer_cmp);
        if (n_answers > (size_t)top_k) n_answers = (size_t)top_k;
        *single = n_answers == 1;
        o->items = onyx_calloc(n_answers ? n_answers : 1, sizeof *o->items);
        if (!o->items) st = oom();
        /* char offsets -> byte offsets of the context for the answer text */
        for (size_t a = 0; a < n_answers && !st; a++) {
            onyx_pipeline_item *item = &o->items[o->count++];
            item->score = answers[a].score;
            item->index = -1;
            item->start = answers[a].start;
            item->end = answers[a].end;
            size_t bs = 0, be = 0, c = 0;
            for (size_t i = 0; i <= clen; i++) {
                if (i == clen || ((unsigned char)context[i] & 0xC0) != 0x80) {
                    if ((int64_t)c == item->start) bs = i;
                    if ((int64_t)c == item->end) be = i;
                    c++;
                }
            }
            if (be < bs) be = bs;
            if (!(item->text = onyx_strndup(context + bs, be - bs))) st = oom();
        }
    }
    onyx_tensor_destroy(outs[0]);
    onyx_tensor_destroy(outs[1]);
    batch_free(&b);
    onyx_free(spans);
    onyx_encoding_destroy(enc);
    onyx_free(p_mask);
    onyx_free(chars);
    onyx_free(starts);
    onyx_free(ends);
    onyx_free(scores);
    onyx_free(answers);
    return st;
}

onyx_status onyx_pipeline_answer(onyx_pipeline *p, const char *const *questions, const char *const *contexts,
                                 size_t n, onyx_pipeline_result **out) {
    onyx_error_clear();
    if (!out) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "question-answering: out is NULL");
    *out = NULL;
    if (!p) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "question-answering: pipeline is NULL");
    if (p->task != ONYX_TASK_QUESTION_ANSWERING)
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "onyx_pipeline_answer: the pipeline is %s, not question-answering",
                          task_label(p->task));
    if (n == 0) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "question-answering: no inputs (n == 0)");
    if (!questions || !contexts)
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "question-answering: questions or contexts is NULL");
    onyx_pipeline_result *r = NULL;
    ONYX_TRY(pipe_result_new(p->task, n, &r));
    onyx_status st = ONYX_OK;
    int all_single = 1;
    for (size_t i = 0; i < n && !st; i++) {
        if (!questions[i] || !contexts[i]) {
            st = onyx_error(ONYX_ERR_INVALID_ARGUMENT, "question-answering: input %zu has a NULL question or context", i);
            break;
        }
        int single = 0;
        st = qa_one(p, questions[i], contexts[i], &r->outputs[i], &single);
        if (st) st = onyx_error_prefix(st, "question-answering: input %zu: ", i);
        all_single &= single;
    }
    if (st) {
        onyx_pipeline_result_destroy(r);
        return st;
    }
    r->single_item = all_single;
    *out = r;
    return ONYX_OK;
}
