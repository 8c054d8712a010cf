/*
 * model.c - Hugging Face Optimum model folders: config.json and generation_config.json, the
 * choice of ONNX files per task (Optimum's preferences, see model.h), the tokenizer, the
 * metadata calls, and the forward pass of encoder tasks.
 *
 * Task guessing (ONYX_TASK_AUTO) reads the files first and config.json's "architectures"
 * second: encoder_model.onnx means seq2seq; decoder files without model.onnx mean a causal LM;
 * a model.onnx is classified by the architecture's suffix (...ForSequenceClassification,
 * ...LMHeadModel, ...) and, when the architecture says nothing, is a causal LM when it takes
 * past_key_values.* inputs and a feature extractor otherwise.
 *
 * Shapes: B = batch, T = sequence length.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/alloc.h"
#include "core/log.h"
#include "core/status.h"
#include "model/model_internal.h"
#include "model/onnx_writer.h"
#include "runtime/session_internal.h"

/* ---------------------------------------------------------------------------------------------
 * Task names (Optimum's TasksManager names and its synonyms)
 */
typedef struct task_name {
    const char *name;
    onyx_task task;
} task_name;

/* The first entry of each task is its canonical name. */
static const task_name task_names[] = {
    {"auto", ONYX_TASK_AUTO},
    {"feature-extraction", ONYX_TASK_FEATURE_EXTRACTION},
    {"default", ONYX_TASK_FEATURE_EXTRACTION},
    {"text-classification", ONYX_TASK_SEQUENCE_CLASSIFICATION},
    {"sequence-classification", ONYX_TASK_SEQUENCE_CLASSIFICATION},
    {"sentiment-analysis", ONYX_TASK_SEQUENCE_CLASSIFICATION},
    {"token-classification", ONYX_TASK_TOKEN_CLASSIFICATION},
    {"ner", ONYX_TASK_TOKEN_CLASSIFICATION},
    {"question-answering", ONYX_TASK_QUESTION_ANSWERING},
    {"fill-mask", ONYX_TASK_MASKED_LM},
    {"masked-lm", ONYX_TASK_MASKED_LM},
    {"text-generation", ONYX_TASK_CAUSAL_LM},
    {"text-generation-with-past", ONYX_TASK_CAUSAL_LM},
    {"causal-lm", ONYX_TASK_CAUSAL_LM},
    {"causal-lm-with-past", ONYX_TASK_CAUSAL_LM},
    {"text2text-generation", ONYX_TASK_SEQ2SEQ_LM},
    {"text2text-generation-with-past", ONYX_TASK_SEQ2SEQ_LM},
    {"seq2seq-lm", ONYX_TASK_SEQ2SEQ_LM},
    {"seq2seq-lm-with-past", ONYX_TASK_SEQ2SEQ_LM},
    {"translation", ONYX_TASK_SEQ2SEQ_LM},
    {"summarization", ONYX_TASK_SEQ2SEQ_LM},
};

const char *onyx_task_name(onyx_task task) {
    for (size_t i = 0; i < sizeof task_names / sizeof task_names[0]; i++)
        if (task_names[i].task == task) return task_names[i].name;
    return NULL;
}

onyx_status onyx_task_from_name(const char *name, onyx_task *out) {
    onyx_error_clear();
    if (!out) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "onyx_task_from_name: out is NULL");
    *out = ONYX_TASK_AUTO;
    if (!name) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "onyx_task_from_name: name is NULL");
    for (size_t i = 0; i < sizeof task_names / sizeof task_names[0]; i++)
        if (strcmp(task_names[i].name, name) == 0) {
            *out = task_names[i].task;
            return ONYX_OK;
        }
    return onyx_error(ONYX_ERR_INVALID_ARGUMENT,
                      "unknown task '%s'; known tasks: auto, feature-extraction, text-classification, "
                      "token-classification, question-answering, fill-mask, text-generation, "
                      "text2text-generation (and Optimum's synonyms: sequence-classification, masked-lm, "
                      "causal-lm, seq2seq-lm, translation, summarization, ...-with-past)",
                      name);
}

/* ---------------------------------------------------------------------------------------------
 * Helpers shared with generate.c
 */
static int value_named(const onyx_session *session, int outputs, const char *name, onyx_value_info *info) {
    size_t n = outputs ? onyx_session_output_count(session) : onyx_session_input_count(session);
    for (size_t i = 0; i < n; i++) {
        onyx_value_info v;
        onyx_status st = outputs ? onyx_session_output_info(session, i, &v) : onyx_session_input_info(session, i, &v);
        if (st == ONYX_OK && strcmp(v.name, name) == 0) {
            if (info) *info = v;
            return 1;
        }
    }
    return 0;
}

int onyx_model_session_input(const onyx_session *session, const char *name, onyx_value_info *info) {
    return value_named(session, 0, name, info);
}

int onyx_model_session_output(const onyx_session *session, const char *name, onyx_value_info *info) {
    return value_named(session, 1, name, info);
}

onyx_status onyx_model_int64_tensor(const int64_t *values, int64_t rows, int64_t cols, onyx_tensor **out) {
    int64_t dims[2] = {rows, cols};
    ONYX_TRY(onyx_tensor_create(ONYX_DTYPE_INT64, dims, 2, out));
    if (rows * cols > 0) memcpy(onyx_tensor_data(*out), values, (size_t)(rows * cols) * sizeof(int64_t));
    return ONYX_OK;
}

int64_t onyx_model_json_int(const cJSON *object, const char *key, int64_t fallback) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, key);
    return cJSON_IsNumber(item) ? (int64_t)item->valuedouble : fallback;
}

/* ---------------------------------------------------------------------------------------------
 * Files
 */
static int file_exists(const char *dir, const char *name) {
    char path[4096];
    struct stat st;
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path) return 0;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* The JSON object in dir/name. *out is NULL (and ONYX_OK) when optional and the file is absent. */
static onyx_status read_json(const char *dir, const char *name, int optional, cJSON **out) {
    *out = NULL;
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path)
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "model folder path '%s' is too long", dir);
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (optional) return ONYX_OK;
        return onyx_error(ONYX_ERR_IO, "model folder '%s' has no %s (Optimum exports write one beside the ONNX files)",
                          dir, name);
    }
    char *text = NULL;
    long size = -1;
    if (fseek(f, 0, SEEK_END) == 0) size = ftell(f);
    if (size >= 0 && fseek(f, 0, SEEK_SET) == 0) text = onyx_malloc((size_t)size + 1);
    size_t got = text ? fread(text, 1, (size_t)size, f) : 0;
    fclose(f);
    if (!text) return size < 0 ? onyx_error(ONYX_ERR_IO, "%s: cannot read the file", path)
                               : onyx_error(ONYX_ERR_OUT_OF_MEMORY, "%s: no memory for %ld bytes", path, size);
    if (got != (size_t)size) {
        onyx_free(text);
        return onyx_error(ONYX_ERR_IO, "%s: short read (%zu of %ld bytes)", path, got, size);
    }
    text[size] = 0;
    const char *parse_end = NULL;
    cJSON *json = cJSON_ParseWithOpts(text, &parse_end, 1);
    size_t error_at = parse_end ? (size_t)(parse_end - text) : 0;
    onyx_free(text);
    if (!json) return onyx_error(ONYX_ERR_INVALID_MODEL, "%s: invalid JSON at byte %zu", path, error_at);
    if (!cJSON_IsObject(json)) {
        cJSON_Delete(json);
        return onyx_error(ONYX_ERR_INVALID_MODEL, "%s: expected a JSON object at the top level", path);
    }
    *out = json;
    return ONYX_OK;
}

/* ---------------------------------------------------------------------------------------------
 * The cache-gather graph: gathered = Gather(data, indices, axis=0), data of any rank (KV cache
 * rows, encoder outputs).
 */
static onyx_status open_cache_gather(const onyx_session_options *base, const char *dir, onyx_dtype dtype,
                                     onyx_session **out) {
    onyx_graph_writer w;
    onyx_graph_writer_init(&w, "kv_cache_gather");
    onyx_node_attr_value axis = ONYX_ATTR_INT("axis", 0);
    onyx_graph_writer_node(&w, "Gather", "data,indices", "gathered", &axis, 1);
    onyx_graph_writer_input(&w, "data", dtype, -1);
    onyx_graph_writer_input(&w, "indices", ONYX_DTYPE_INT64, 1);
    onyx_graph_writer_output(&w, "gathered", dtype, -1);
    uint8_t *bytes = NULL;
    size_t size = 0;
    ONYX_TRY(onyx_graph_writer_finish(&w, 13, &bytes, &size));
    onyx_session_options options = *base;
    char name[4200];
    snprintf(name, sizeof name, "%s (KV-cache gather)", dir);
    options.model_name = name;
    onyx_status st = onyx_session_create_from_memory(bytes, size, &options, out);
    onyx_free(bytes);
    if (st != ONYX_OK) return onyx_error_prefix(st, "%s: opening the KV-cache gather graph: ", dir);
    return ONYX_OK;
}

/* ---------------------------------------------------------------------------------------------
 * Loading
 */
void onyx_model_options_init(onyx_model_options *options) {
    if (!options) return;
    memset(options, 0, sizeof *options);
    options->struct_size = sizeof *options;
    onyx_session_options_init(&options->session);
    options->use_io_binding = 1;
}

/* After session s opened: the first with a GPU provider lends its queue to the sessions opened
 * after it (model_internal.h, queue_shared), unless the caller gave one already. */
static onyx_status share_queue(onyx_model *m, const onyx_session *s) {
    if (m->queue_shared) return ONYX_OK;
    uintptr_t queue = session_queue(s);
    if (!queue) return ONYX_OK;
    m->queue_shared = 1;
    const char *given = m->provider_options ? m->provider_options : "";
    if (strstr(given, "user_compute_stream=")) return ONYX_OK;
    size_t size = strlen(given) + 64;
    char *options = onyx_malloc(size);
    if (!options) return onyx_error(ONYX_ERR_OUT_OF_MEMORY, "onyx_model_load: no memory for the options of '%s'", m->dir);
    snprintf(options, size, "%s%scuda.user_compute_stream=%llu", given, *given ? ";" : "", (unsigned long long)queue);
    onyx_free(m->provider_options);
    m->provider_options = options;
    m->session_options.provider_options = options;
    return ONYX_OK;
}

static onyx_status open_session(onyx_model *m, const onyx_session_options *base, const char *file, onyx_session **out) {
    char path[4096], name[4200];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", m->dir, file) >= sizeof path)
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "model folder path '%s' is too long", m->dir);
    onyx_session_options options = *base;
    options.provider_options = m->provider_options; /* the caller's, and the shared queue */
    if (!options.model_name) {
        snprintf(name, sizeof name, "%s", path);
        options.model_name = name;
    }
    ONYX_TRY(onyx_session_create(path, &options, out));
    ONYX_TRY(share_queue(m, *out));
    size_t used = strlen(m->files);
    int n = snprintf(m->files + used, sizeof m->files - used, "%s%s", used ? "," : "", file);
    if (n < 0 || (size_t)n >= sizeof m->files - used)
        return onyx_error(ONYX_ERR_RUNTIME, "%s: the list of ONNX files is too long", m->dir);
    return ONYX_OK;
}

static int has_past_inputs(const onyx_session *session) {
    for (size_t i = 0; i < onyx_session_input_count(session); i++) {
        onyx_value_info info;
        if (onyx_session_input_info(session, i, &info) == ONYX_OK && strncmp(info.name, "past_key_values.", 16) == 0)
            return 1;
    }
    return 0;
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* The task config.json's first architecture names; AUTO when it names none we know. */
static onyx_task task_from_architectures(const cJSON *config) {
    const cJSON *architectures = cJSON_GetObjectItemCaseSensitive(config, "architectures");
    const cJSON *first = cJSON_IsArray(architectures) ? cJSON_GetArrayItem(architectures, 0) : NULL;
    if (!cJSON_IsString(first)) return ONYX_TASK_AUTO;
    const char *a = first->valuestring;
    if (ends_with(a, "ForSequenceClassification")) return ONYX_TASK_SEQUENCE_CLASSIFICATION;
    if (ends_with(a, "ForTokenClassification")) return ONYX_TASK_TOKEN_CLASSIFICATION;
    if (ends_with(a, "ForQuestionAnswering")) return ONYX_TASK_QUESTION_ANSWERING;
    if (ends_with(a, "ForMaskedLM")) return ONYX_TASK_MASKED_LM;
    if (ends_with(a, "ForCausalLM") || ends_with(a, "LMHeadModel")) return ONYX_TASK_CAUSAL_LM;
    if (ends_with(a, "ForConditionalGeneration") || ends_with(a, "ForSeq2SeqLM")) return ONYX_TASK_SEQ2SEQ_LM;
    if (ends_with(a, "Model")) return ONYX_TASK_FEATURE_EXTRACTION;
    return ONYX_TASK_AUTO;
}

/* Whether session has output name (of rank want_rank when the graph declares a rank and
 * want_rank >= 0); errors name the file and the task. */
static onyx_status require_output(const onyx_model *m, const onyx_session *session, const char *file, onyx_task task,
                                  const char *name, int want_rank) {
    onyx_value_info info;
    if (!onyx_model_session_output(session, name, &info))
        return onyx_error(ONYX_ERR_INVALID_MODEL, "%s/%s does not fit task %s: it has no output '%s'", m->dir, file,
                          onyx_task_name(task), name);
    if (want_rank >= 0 && info.rank >= 0 && info.rank != want_rank)
        return onyx_error(ONYX_ERR_INVALID_MODEL,
                          "%s/%s does not fit task %s: its output '%s' has rank %d, the task wants rank %d", m->dir,
                          file, onyx_task_name(task), name, info.rank, want_rank);
    return ONYX_OK;
}

static onyx_status open_encoder_task(onyx_model *m, const onyx_session_options *so) {
    if (!file_exists(m->dir, "model.onnx"))
        return onyx_error(ONYX_ERR_INVALID_MODEL, "model folder '%s' has no model.onnx, which task %s needs", m->dir,
                          onyx_task_name(m->task));
    ONYX_TRY(open_session(m, so, "model.onnx", &m->encoder));
    if (!onyx_model_session_input(m->encoder, "input_ids", NULL))
        return onyx_error(ONYX_ERR_INVALID_MODEL, "%s/model.onnx does not fit task %s: it has no input 'input_ids'",
                          m->dir, onyx_task_name(m->task));
    if (has_past_inputs(m->encoder))
        return onyx_error(ONYX_ERR_INVALID_MODEL,
                          "%s/model.onnx does not fit task %s: it takes past_key_values.* inputs (a decoder)", m->dir,
                          onyx_task_name(m->task));
    switch (m->task) {
    case ONYX_TASK_FEATURE_EXTRACTION: return require_output(m, m->encoder, "model.onnx", m->task, "last_hidden_state", 3);
    case ONYX_TASK_SEQUENCE_CLASSIFICATION: return require_output(m, m->encoder, "model.onnx", m->task, "logits", 2);
    case ONYX_TASK_TOKEN_CLASSIFICATION:
    case ONYX_TASK_MASKED_LM: return require_output(m, m->encoder, "model.onnx", m->task, "logits", 3);
    case ONYX_TASK_QUESTION_ANSWERING:
        ONYX_TRY(require_output(m, m->encoder, "model.onnx", m->task, "start_logits", 2));
        return require_output(m, m->encoder, "model.onnx", m->task, "end_logits", 2);
    default: return ONYX_OK;
    }
}

/* The decoder files of a causal LM (with_model_onnx: model.onnx counts) or a seq2seq model.
 * generate reads the logits of the last position only, so the LM head runs on that row alone
 * (last_position_outputs, as transformers' generate does with logits_to_keep=1). */
static onyx_status open_decoders(onyx_model *m, const onyx_session_options *base, int with_model_onnx) {
    onyx_session_options last_only = *base;
    last_only.last_position_outputs = "logits";
    const onyx_session_options *so = &last_only;
    const char *file;
    if (with_model_onnx && file_exists(m->dir, "model.onnx")) {
        file = "model.onnx";
        ONYX_TRY(open_session(m, so, file, &m->decoder));
        if (!has_past_inputs(m->decoder))
            return onyx_error(ONYX_ERR_INVALID_MODEL,
                              "%s/model.onnx does not fit task %s: it has no past_key_values.* inputs (onyx generates "
                              "with a KV cache: export with task text-generation-with-past)",
                              m->dir, onyx_task_name(m->task));
    } else if (file_exists(m->dir, "decoder_model_merged.onnx")) {
        file = "decoder_model_merged.onnx";
        ONYX_TRY(open_session(m, so, file, &m->decoder));
        if (!has_past_inputs(m->decoder) || !onyx_model_session_input(m->decoder, "use_cache_branch", NULL))
            return onyx_error(ONYX_ERR_INVALID_MODEL,
                              "%s/%s is not a merged decoder: it lacks past_key_values.* or use_cache_branch inputs",
                              m->dir, file);
    } else if (file_exists(m->dir, "decoder_model.onnx") && file_exists(m->dir, "decoder_with_past_model.onnx")) {
        file = "decoder_model.onnx";
        ONYX_TRY(open_session(m, so, file, &m->decoder));
        ONYX_TRY(open_session(m, so, "decoder_with_past_model.onnx", &m->decoder_with_past));
        if (!has_past_inputs(m->decoder_with_past))
            return onyx_error(ONYX_ERR_INVALID_MODEL,
                              "%s/decoder_with_past_model.onnx has no past_key_values.* inputs", m->dir);
        ONYX_TRY(require_output(m, m->decoder_with_past, "decoder_with_past_model.onnx", m->task, "logits", 3));
    } else {
        return onyx_error(ONYX_ERR_INVALID_MODEL,
                          "model folder '%s' has no decoder for task %s: expected %sdecoder_model_merged.onnx, or "
                          "decoder_model.onnx with decoder_with_past_model.onnx",
                          m->dir, onyx_task_name(m->task), with_model_onnx ? "model.onnx (with past), " : "");
    }
    if (!onyx_model_session_input(m->decoder, "input_ids", NULL))
        return onyx_error(ONYX_ERR_INVALID_MODEL, "%s/%s has no input 'input_ids'", m->dir, file);
    return require_output(m, m->decoder, file, m->task, "logits", 3);
}

static onyx_status open_generative_task(onyx_model *m, const onyx_model_options *options) {
    const onyx_session_options *so = &options->session;
    if (m->task == ONYX_TASK_SEQ2SEQ_LM) {
        if (!file_exists(m->dir, "encoder_model.onnx"))
            return onyx_error(ONYX_ERR_INVALID_MODEL,
                              "model folder '%s' has no encoder_model.onnx, which task text2text-generation needs",
                              m->dir);
        ONYX_TRY(open_session(m, so, "encoder_model.onnx", &m->encoder));
        ONYX_TRY(require_output(m, m->encoder, "encoder_model.onnx", m->task, "last_hidden_state", 3));
        ONYX_TRY(open_decoders(m, so, 0));
        if (!onyx_model_session_input(m->decoder, "encoder_hidden_states", NULL))
            return onyx_error(ONYX_ERR_INVALID_MODEL,
                              "%s: the decoder does not fit task text2text-generation: it has no input "
                              "'encoder_hidden_states'",
                              m->dir);
    } else {
        ONYX_TRY(open_decoders(m, so, 1));
    }
    const onyx_session *with_past = m->decoder_with_past ? m->decoder_with_past : m->decoder;
    onyx_dtype cache_dtype = ONYX_DTYPE_UNDEFINED;
    for (size_t i = 0; i < onyx_session_input_count(with_past) && !cache_dtype; i++) {
        onyx_value_info info;
        if (onyx_session_input_info(with_past, i, &info) != ONYX_OK) continue;
        if (strncmp(info.name, "past_key_values.", 16) != 0) continue;
        if (info.rank != 4)
            return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "%s: past input '%s' has rank %d; onyx expects (B, heads, S, D)",
                              m->dir, info.name, info.rank);
        cache_dtype = info.dtype;
    }
    const char *providers = onyx_session_providers(m->decoder);
    m->cache_device = options->use_io_binding && providers && strncmp(providers, "cuda", 4) == 0 ? ONYX_DEVICE_CUDA
                                                                                                 : ONYX_DEVICE_CPU;
    return open_cache_gather(&m->session_options, m->dir, cache_dtype, &m->cache_gather);
}

static onyx_status read_labels(onyx_model *m) {
    const cJSON *id2label = cJSON_GetObjectItemCaseSensitive(m->config, "id2label");
    if (!cJSON_IsObject(id2label)) return ONYX_OK;
    int64_t count = cJSON_GetArraySize(id2label);
    if (count == 0) return ONYX_OK;
    m->labels = onyx_calloc((size_t)count, sizeof *m->labels);
    if (!m->labels) return onyx_error(ONYX_ERR_OUT_OF_MEMORY, "%s/config.json: no memory for %lld labels", m->dir,
                                      (long long)count);
    m->label_count = count;
    const cJSON *entry;
    cJSON_ArrayForEach(entry, id2label) {
        char *end = NULL;
        long long id = strtoll(entry->string, &end, 10);
        if (!cJSON_IsString(entry) || end == entry->string || *end || id < 0 || id >= count)
            return onyx_error(ONYX_ERR_INVALID_MODEL,
                              "%s/config.json: id2label entry '%s' is not \"ID\": \"LABEL\" with ID in [0, %lld)",
                              m->dir, entry->string, (long long)count);
        if (!(m->labels[id] = onyx_strdup(entry->valuestring)))
            return onyx_error(ONYX_ERR_OUT_OF_MEMORY, "%s/config.json: no memory for the labels", m->dir);
    }
    return ONYX_OK;
}

/* Keep a copy of the session options (and their strings) for the sessions opened later. */
static onyx_status keep_session_options(onyx_model *m, const onyx_session_options *so) {
    m->session_options = *so;
    m->session_options.model_name = NULL;
    if ((so->providers && !(m->providers = onyx_strdup(so->providers))) ||
        (so->provider_options && !(m->provider_options = onyx_strdup(so->provider_options))))
        return onyx_error(ONYX_ERR_OUT_OF_MEMORY, "onyx_model_load: no memory for the options of '%s'", m->dir);
    m->session_options.providers = m->providers;
    m->session_options.provider_options = m->provider_options;
    return ONYX_OK;
}

static onyx_status load_into(onyx_model *m, onyx_task task, const onyx_model_options *options) {
    ONYX_TRY(keep_session_options(m, &options->session));
    ONYX_TRY(read_json(m->dir, "config.json", 0, &m->config));
    ONYX_TRY(read_json(m->dir, "generation_config.json", 1, &m->generation_config));
    ONYX_TRY(read_labels(m));
    if (task == ONYX_TASK_AUTO) {
        int has_model_onnx = file_exists(m->dir, "model.onnx");
        if (file_exists(m->dir, "encoder_model.onnx"))
            task = ONYX_TASK_SEQ2SEQ_LM;
        else if (!has_model_onnx && (file_exists(m->dir, "decoder_model_merged.onnx") ||
                                     file_exists(m->dir, "decoder_model.onnx")))
            task = ONYX_TASK_CAUSAL_LM;
        else
            task = task_from_architectures(m->config);
        if (task == ONYX_TASK_SEQ2SEQ_LM && !file_exists(m->dir, "encoder_model.onnx")) task = ONYX_TASK_AUTO;
        if (task == ONYX_TASK_AUTO && has_model_onnx) {
            onyx_session *probe = NULL;
            char path[4096];
            snprintf(path, sizeof path, "%s/model.onnx", m->dir);
            ONYX_TRY(onyx_session_create(path, &options->session, &probe));
            task = has_past_inputs(probe) ? ONYX_TASK_CAUSAL_LM : ONYX_TASK_FEATURE_EXTRACTION;
            onyx_session_destroy(probe);
        }
        if (task == ONYX_TASK_AUTO)
            return onyx_error(ONYX_ERR_INVALID_MODEL,
                              "model folder '%s' holds no ONNX file of a known layout (model.onnx, encoder_model.onnx, "
                              "decoder_model.onnx, decoder_model_merged.onnx)",
                              m->dir);
    }
    m->task = task;
    if (task == ONYX_TASK_CAUSAL_LM || task == ONYX_TASK_SEQ2SEQ_LM)
        ONYX_TRY(open_generative_task(m, options));
    else
        ONYX_TRY(open_encoder_task(m, &options->session));
    if (file_exists(m->dir, "tokenizer.json") || file_exists(m->dir, "spiece.model") ||
        file_exists(m->dir, "sentencepiece.bpe.model")) {
        onyx_status st = onyx_tokenizer_load(m->dir, &m->tokenizer);
        if (st != ONYX_OK) return onyx_error_prefix(st, "model folder '%s': tokenizer: ", m->dir);
    }
    onyx_log(options->session.log_level, ONYX_LOG_INFO, "model %s: task %s, files %s", m->dir, onyx_task_name(m->task),
             m->files);
    return ONYX_OK;
}

onyx_status onyx_model_load(const char *dir, onyx_task task, const onyx_model_options *options, onyx_model **out) {
    onyx_error_clear();
    if (!out) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "onyx_model_load: out is NULL");
    *out = NULL;
    if (!dir) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "onyx_model_load: dir is NULL");
    if (!onyx_task_name(task)) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "onyx_model_load: unknown task %d", (int)task);
    onyx_model_options defaults;
    if (!options) {
        onyx_model_options_init(&defaults);
        options = &defaults;
    } else if (options->struct_size != sizeof *options) {
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT,
                          "onyx_model_load: options->struct_size is %zu, expected %zu (call onyx_model_options_init)",
                          options->struct_size, sizeof *options);
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return onyx_error(ONYX_ERR_IO, "model folder '%s' does not exist or is not a folder", dir);
    onyx_model *m = onyx_calloc(1, sizeof *m);
    if (!m || !(m->dir = onyx_strdup(dir))) {
        onyx_free(m);
        return onyx_error(ONYX_ERR_OUT_OF_MEMORY, "onyx_model_load: no memory for model '%s'", dir);
    }
    size_t n = strlen(m->dir);
    while (n > 1 && m->dir[n - 1] == '/') m->dir[--n] = 0;
    onyx_status status = load_into(m, task, options);
    if (status != ONYX_OK) {
        onyx_model_destroy(m);
        return status;
    }
    *out = m;
    return ONYX_OK;
}

void onyx_model_destroy(onyx_model *model) {
    if (!model) return;
    /* The reverse of the order the sessions were opened in: the first owns the shared queue. */
    for (int i = 0; i < ONYX_MODEL_CHOOSERS; i++) onyx_session_destroy(model->choosers[i].session);
    onyx_session_destroy(model->cache_gather);
    onyx_session_destroy(model->decoder_with_past);
    onyx_session_destroy(model->decoder);
    onyx_session_destroy(model->encoder);
    onyx_tokenizer_destroy(model->tokenizer);
    for (int64_t i = 0; i < model->label_count; i++) onyx_free(model->labels[i]);
    onyx_free(model->labels);
    cJSON_Delete(model->config);
    cJSON_Delete(model->generation_config);
    onyx_free(model->providers);
    onyx_free(model->provider_options);
    onyx_free(model->dir);
    onyx_free(model);
}

/* ---------------------------------------------------------------------------------------------
 * Metadata
 */
onyx_status onyx_model_device_memory(const onyx_model *model, onyx_device_memory_stats *out) {
    onyx_error_clear();
    if (!model || !out) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "onyx_model_device_memory: NULL argument");
    const onyx_session *sessions[4 + ONYX_MODEL_CHOOSERS] = {model->encoder, model->decoder, model->decoder_with_past,
                                                             model->cache_gather};
    for (int i = 0; i < ONYX_MODEL_CHOOSERS; i++) sessions[4 + i] = model->choosers[i].session;
    onyx_device_memory_stats total;
    onyx_device_memory_stats_init(&total);
    int found = 0;
    for (size_t i = 0; i < sizeof sessions / sizeof sessions[0]; i++) {
        onyx_device_memory_stats one;
        onyx_device_memory_stats_init(&one);
        if (!sessions[i] || onyx_session_device_memory(sessions[i], &one) != ONYX_OK) continue;
        if (!found++) total.limit_bytes = one.limit_bytes;
        total.reserved_bytes += one.reserved_bytes;
        total.in_use_bytes += one.in_use_bytes;
        total.peak_reserved_bytes += one.peak_reserved_bytes;
        total.peak_in_use_bytes += one.peak_in_use_bytes;
        total.driver_allocations += one.driver_allocations;
        total.driver_frees += one.driver_frees;
    }
    onyx_error_clear();
    if (!found) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "model '%s' runs no session on a GPU provider", model->dir);
    *out = total;
    return ONYX_OK;
}

onyx_task onyx_model_task(const onyx_model *model) { return model ? model->task : ONYX_TASK_AUTO; }

const char *onyx_model_files(const onyx_model *model) { return model ? model->files : ""; }

const onyx_tokenizer *onyx_model_tokenizer(const onyx_model *model) { return model ? model->tokenizer : NULL; }

const char *onyx_model_type(const onyx_model *model) {
    const cJSON *type = model ? cJSON_GetObjectItemCaseSensitive(model->config, "model_type") : NULL;
    return cJSON_IsString(type) ? type->valuestring : "";
}

onyx_status onyx_model_config_int(const onyx_model *model, const char *key, int64_t *out) {
    onyx_error_clear();
    if (out) *out = 0;
    if (!model || !key || !out) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "onyx_model_config_int: NULL argument");
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(model->config, key);
    if (!cJSON_IsNumber(item) || item->valuedouble != (double)(int64_t)item->valuedouble)
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "%s/config.json: \"%s\" is %s", model->dir, key,
                          item ? "not an integer" : "absent");
    *out = (int64_t)item->valuedouble;
    return ONYX_OK;
}

const char *onyx_model_label(const onyx_model *model, int64_t id) {
    if (!model || id < 0 || id >= model->label_count) return NULL;
    return model->labels[id];
}

int64_t onyx_model_label_count(const onyx_model *model) { return model ? model->label_count : 0; }

/* ---------------------------------------------------------------------------------------------
 * Encoder forward
 */

/* values is (B, T) int64; a new tensor of dtype (INT64 or INT32) holding them. */
static onyx_status index_tensor(const int64_t *values, int64_t batch, int64_t seq, onyx_dtype dtype, onyx_tensor **out) {
    if (dtype == ONYX_DTYPE_INT64) return onyx_model_int64_tensor(values, batch, seq, out);
    int64_t dims[2] = {batch, seq};
    ONYX_TRY(onyx_tensor_create(ONYX_DTYPE_INT32, dims, 2, out));
    int32_t *data = onyx_tensor_data(*out);
    for (int64_t i = 0; i < batch * seq; i++) data[i] = (int32_t)values[i];
    return ONYX_OK;
}

#define FORWARD_MAX_INPUTS 8

void onyx_model_inputs_init(onyx_model_inputs *inputs) {
    if (!inputs) return;
    memset(inputs, 0, sizeof *inputs);
    inputs->struct_size = sizeof *inputs;
}

/* The ONNX file of the encoder session, for messages. */
static const char *encoder_file(const onyx_model *m) {
    return m->task == ONYX_TASK_SEQ2SEQ_LM ? "encoder_model.onnx" : "model.onnx";
}

/* onyx_model_run; fn names the public call in messages ("onyx_model_run", "onyx_model_forward").
 * Every encoder input is filled here, from the caller's arrays or as Optimum fills them. */
static onyx_status encoder_run(onyx_model *model, const onyx_model_inputs *in, const char *const *output_names,
                               size_t n_outputs, onyx_tensor **outputs, const char *fn) {
    if (!model || !in || !output_names || !outputs)
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "%s: NULL argument", fn);
    if (n_outputs == 0) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "%s: no outputs requested (n_outputs is 0)", fn);
    if (in->struct_size != sizeof *in)
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT,
                          "%s: inputs->struct_size is %zu, expected %zu (call onyx_model_inputs_init)", fn,
                          in->struct_size, sizeof *in);
    if (!in->input_ids) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "%s: input_ids is NULL", fn);
    for (size_t k = 0; k < n_outputs; k++)
        if (!output_names[k]) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "%s: output name %zu is NULL", fn, k);
    int64_t batch = in->batch, seq = in->seq;
    if (batch <= 0 || seq <= 0)
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "%s: batch (%lld) and seq (%lld) must be positive", fn,
                          (long long)batch, (long long)seq);
    /* the scratch below holds 3 arrays of (B, T) int64 */
    if ((uint64_t)seq > SIZE_MAX / (3 * sizeof(int64_t)) / (uint64_t)batch)
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "%s: batch (%lld) x seq (%lld) is too large", fn, (long long)batch,
                          (long long)seq);
    if (model->task == ONYX_TASK_CAUSAL_LM || !model->encoder)
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "%s: model '%s' has task %s; use onyx_model_generate", fn,
                          model->dir, onyx_task_name(model->task));
    onyx_session *s = model->encoder;
    const char *file = encoder_file(model);
    size_t n_inputs = onyx_session_input_count(s);
    if (n_inputs > FORWARD_MAX_INPUTS)
        return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "%s/%s: the encoder has %zu inputs, %s fills at most %d",
                          model->dir, file, n_inputs, fn, FORWARD_MAX_INPUTS);
    size_t count = (size_t)(batch * seq);
    /* mask, token types and positions are (B, T) */
    int64_t *scratch = onyx_calloc(count * 3, sizeof(int64_t));
    if (!scratch)
        return onyx_error(ONYX_ERR_OUT_OF_MEMORY, "%s: no memory for (%lld, %lld) inputs", fn, (long long)batch,
                          (long long)seq);
    int64_t *mask = scratch, *token_types = scratch + count, *positions = scratch + 2 * count;
    for (size_t i = 0; i < count; i++) mask[i] = in->attention_mask ? in->attention_mask[i] : 1;
    if (in->token_type_ids) memcpy(token_types, in->token_type_ids, count * sizeof(int64_t));
    for (int64_t b = 0; b < batch; b++) {
        int64_t seen = 0;
        for (int64_t t = 0; t < seq; t++) {
            seen += mask[b * seq + t] != 0;
            positions[b * seq + t] = mask[b * seq + t] ? seen - 1 : 1;
        }
    }
    const char *names[FORWARD_MAX_INPUTS];
    onyx_tensor *tensors[FORWARD_MAX_INPUTS] = {0};
    onyx_status st = ONYX_OK;
    for (size_t i = 0; i < n_inputs && st == ONYX_OK; i++) {
        onyx_value_info info;
        st = onyx_session_input_info(s, i, &info);
        if (st != ONYX_OK) break;
        const int64_t *values = NULL;
        if (strcmp(info.name, "input_ids") == 0)
            values = in->input_ids;
        else if (strcmp(info.name, "attention_mask") == 0)
            values = mask;
        else if (strcmp(info.name, "token_type_ids") == 0)
            values = token_types;
        else if (strcmp(info.name, "position_ids") == 0)
            values = positions;
        if (!values) {
            st = onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "%s/%s: %s cannot fill input '%s'", model->dir, file, fn,
                            info.name);
            break;
        }
        if (info.dtype != ONYX_DTYPE_INT64 && info.dtype != ONYX_DTYPE_INT32) {
            st = onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "%s/%s: input '%s' is %s; expected int64 or int32", model->dir,
                            file, info.name, onyx_dtype_name(info.dtype));
            break;
        }
        names[i] = info.name;
        st = index_tensor(values, batch, seq, info.dtype, &tensors[i]);
    }
    if (st == ONYX_OK)
        st = onyx_session_run(s, names, (const onyx_tensor *const *)tensors, n_inputs, output_names, n_outputs,
                              outputs);
    for (size_t i = 0; i < n_inputs; i++) onyx_tensor_destroy(tensors[i]);
    onyx_free(scratch);
    return st;
}

onyx_status onyx_model_run(onyx_model *model, const onyx_model_inputs *inputs, const char *const *output_names,
                           size_t n_outputs, onyx_tensor **outputs) {
    onyx_error_clear();
    if (outputs)
        for (size_t k = 0; k < n_outputs; k++) outputs[k] = NULL;
    return encoder_run(model, inputs, output_names, n_outputs, outputs, "onyx_model_run");
}

onyx_status onyx_model_forward(onyx_model *model, const int64_t *input_ids, const int64_t *attention_mask, int64_t batch,
                               int64_t seq, const char *output, onyx_tensor **out) {
    onyx_error_clear();
    if (out) *out = NULL;
    if (!output) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "onyx_model_forward: NULL argument");
    onyx_model_inputs inputs;
    onyx_model_inputs_init(&inputs);
    inputs.batch = batch;
    inputs.seq = seq;
    inputs.input_ids = input_ids;
    inputs.attention_mask = attention_mask;
    return encoder_run(model, &inputs, &output, 1, out, "onyx_model_forward");
}
