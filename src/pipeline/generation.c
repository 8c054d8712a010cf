/*
 * generation.c - transformers' generative pipelines over onyx_model_generate: text-generation
 * (TextGenerationPipeline) for causal LMs, and text2text-generation, summarization and
 * translation (Text2TextGenerationPipeline and its subclasses) for seq2seq models.
 *
 * A run is preprocess -> generate -> postprocess, as in transformers:
 *  - each text gets the prefix put before it and is encoded alone (the tokenizer's special
 *    tokens included); M2M100 translation swaps the tokenizer's default "__en__" first token
 *    for the source language's token, as M2M100Tokenizer's src_lang does;
 *  - the batch is padded to the longest prompt: on the left for causal LMs (pad_token_id, else
 *    eos), on the right for seq2seq sources, with the attention mask 0 there, and generated in
 *    one onyx_model_generate call;
 *  - each returned row loses its padding (left: the prompt's; right: after the first new eos)
 *    and is decoded. text-generation cuts the decoded prompt off the decoded sequence by its
 *    length in code points (Python's text[len(prompt):]) and, with return_full_text, puts the
 *    caller's text (without the prefix) before it.
 * The settings come from options.generation, or from the model's generation config with the
 * task's config.json task_specific_params laid over it. B = batch, S = padded prompt length,
 * R = sequences returned per prompt, L = generated length.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "model/model_internal.h"
#include "onyx/pipeline.h"
#include "pipeline/pipeline_internal.h"
#include "text/text_util.h"

struct pipe_generation {
    onyx_model *model;               /* borrowed */
    const onyx_tokenizer *tokenizer; /* borrowed */
    onyx_task task;
    onyx_text2text_task text2text;
    onyx_generation_config config; /* what runs use when given none */
    char *prefix;                  /* never NULL */
    int return_full_text, skip_special, clean_up, return_tensors;
    size_t max_length; /* truncation of the prompts; 0 = none */
    /* M2M100 translation: the language tokens; multilingual 0 elsewhere */
    int multilingual;
    int64_t default_lang_id, src_lang_id, tgt_lang_id;
    int strip_text; /* M2M100Tokenizer's decode ends with str.strip() */
};

static onyx_status oom(void) { return onyx_error(ONYX_ERR_OUT_OF_MEMORY, "generation pipeline: out of memory"); }

static const char *task_title(onyx_task task, onyx_text2text_task text2text) {
    if (task == ONYX_TASK_CAUSAL_LM) return "text-generation";
    if (text2text == ONYX_TEXT2TEXT_SUMMARIZATION) return "summarization";
    if (text2text == ONYX_TEXT2TEXT_TRANSLATION) return "translation";
    return "text2text-generation";
}

/* A language code as given: src_lang from a task name ends at "_to_". */
static size_t lang_code_len(const char *code) {
    const char *to = strstr(code, "_to_");
    return to ? (size_t)(to - code) : strlen(code);
}

/* ---------------------------------------------------------------------------------------------
 * Settings: task_specific_params over the model's generation config
 */
static void apply_task_params(pipe_generation *g, const cJSON *params) {
    onyx_generation_config *c = &g->config;
    int seq2seq = g->task == ONYX_TASK_SEQ2SEQ_LM;
    const cJSON *item;
    cJSON_ArrayForEach(item, params) {
        const char *k = item->string;
        if (!k) continue;
        if (strcmp(k, "early_stopping") == 0 && !cJSON_IsNumber(item)) {
            if (cJSON_IsBool(item)) c->early_stopping = cJSON_IsTrue(item);
            else if (cJSON_IsString(item) && strcmp(item->valuestring, "never") == 0) c->early_stopping = 2;
            continue;
        }
        if (strcmp(k, "do_sample") == 0) {
            if (cJSON_IsBool(item)) c->do_sample = cJSON_IsTrue(item);
            continue;
        }
        if (!cJSON_IsNumber(item)) continue;
        double v = item->valuedouble;
        int64_t n = (int64_t)v;
        if (strcmp(k, "max_new_tokens") == 0) c->max_new_tokens = n;
        else if (strcmp(k, "min_new_tokens") == 0) c->min_new_tokens = n;
        else if (strcmp(k, "max_length") == 0 && seq2seq) c->max_new_tokens = n > 1 ? n - 1 : 0;
        else if (strcmp(k, "min_length") == 0 && seq2seq) c->min_new_tokens = n > 1 ? n - 1 : 0;
        else if (strcmp(k, "num_beams") == 0) c->num_beams = (int)n;
        else if (strcmp(k, "num_return_sequences") == 0) c->num_return_sequences = (int)n;
        else if (strcmp(k, "no_repeat_ngram_size") == 0) c->no_repeat_ngram_size = (int)n;
        else if (strcmp(k, "top_k") == 0) c->top_k = (int)n;
        else if (strcmp(k, "length_penalty") == 0) c->length_penalty = (float)v;
        else if (strcmp(k, "temperature") == 0) c->temperature = (float)v;
        else if (strcmp(k, "top_p") == 0) c->top_p = (float)v;
        else if (strcmp(k, "repetition_penalty") == 0) c->repetition_penalty = (float)v;
        else if (strcmp(k, "forced_bos_token_id") == 0) c->forced_bos_token_id = n;
        else if (strcmp(k, "forced_eos_token_id") == 0) c->forced_eos_token_id = n;
        else if (strcmp(k, "decoder_start_token_id") == 0) c->decoder_start_token_id = n;
        else if (strcmp(k, "early_stopping") == 0) c->early_stopping = (int)n;
    }
}

/* The task_specific_params entry of the pipeline's task, or NULL. For translation without both
 * languages, the first "translation..." entry (transformers' pipeline("translation")), whose
 * name gives the languages; *key receives the entry's name. */
static const cJSON *task_params(const pipe_generation *g, const char *src, const char *tgt, const char **key) {
    const cJSON *all = g->model->config ? cJSON_GetObjectItemCaseSensitive(g->model->config, "task_specific_params") : NULL;
    *key = NULL;
    if (!cJSON_IsObject(all)) return NULL;
    if (g->task == ONYX_TASK_SEQ2SEQ_LM && g->text2text == ONYX_TEXT2TEXT_TRANSLATION) {
        const cJSON *item;
        cJSON_ArrayForEach(item, all) {
            const char *k = item->string;
            if (!k || strncmp(k, "translation", 11) != 0 || !cJSON_IsObject(item)) continue;
            if (!src || !tgt) {
                *key = k;
                return item;
            }
            size_t ns = lang_code_len(src), nt = lang_code_len(tgt);
            if (strncmp(k, "translation_", 12) == 0 && strncmp(k + 12, src, ns) == 0 &&
                strncmp(k + 12 + ns, "_to_", 4) == 0 && strncmp(k + 16 + ns, tgt, nt) == 0 && !k[16 + ns + nt]) {
                *key = k;
                return item;
            }
        }
        return NULL;
    }
    const char *name = task_title(g->task, g->text2text);
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(all, name);
    if (!cJSON_IsObject(item)) return NULL;
    *key = name;
    return item;
}

/* The id of "__<code>__" (code of len bytes), or -1. */
static int64_t lang_token(const onyx_tokenizer *tok, const char *code, size_t len) {
    char name[64];
    if (len == 0 || len > sizeof name - 5) return -1;
    snprintf(name, sizeof name, "__%.*s__", (int)len, code);
    return onyx_tokenizer_token_to_id(tok, name, strlen(name));
}

static onyx_status resolve_languages(pipe_generation *g, const char *src, const char *tgt) {
    g->default_lang_id = onyx_tokenizer_token_to_id(g->tokenizer, "__en__", 6);
    g->multilingual = g->default_lang_id >= 0;
    if (!g->multilingual || g->text2text != ONYX_TEXT2TEXT_TRANSLATION) return ONYX_OK;
    if (!src || !tgt)
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT,
                          "translation: this model's tokenizer has language tokens (M2M100): give src_lang and "
                          "tgt_lang (e.g. \"en\" and \"fr\")");
    const char *codes[2] = {src, tgt};
    int64_t *ids[2] = {&g->src_lang_id, &g->tgt_lang_id};
    for (int k = 0; k < 2; k++) {
        size_t len = lang_code_len(codes[k]);
        *ids[k] = lang_token(g->tokenizer, codes[k], len);
        if (*ids[k] < 0)
            return onyx_error(ONYX_ERR_INVALID_ARGUMENT,
                              "translation: unknown %s language code '%.*s' (the tokenizer has no token '__%.*s__')",
                              k == 0 ? "source" : "target", (int)len, codes[k], (int)len, codes[k]);
    }
    return ONYX_OK;
}

onyx_status pipe_generation_create(onyx_model *model, const onyx_tokenizer *tokenizer, onyx_task task,
                                   const onyx_pipeline_options *o, pipe_generation **out) {
    *out = NULL;
    if (task == ONYX_TASK_CAUSAL_LM && o->text2text != ONYX_TEXT2TEXT_GENERATION)
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT,
                          "pipeline: summarization and translation need a seq2seq model; '%s' is a causal LM", model->dir);
    if ((unsigned)o->text2text > ONYX_TEXT2TEXT_TRANSLATION)
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "pipeline: text2text %d is not an onyx_text2text_task", (int)o->text2text);
    pipe_generation *g = onyx_calloc(1, sizeof *g);
    if (!g) return oom();
    g->model = model;
    g->tokenizer = tokenizer;
    g->task = task;
    g->text2text = task == ONYX_TASK_SEQ2SEQ_LM ? o->text2text : ONYX_TEXT2TEXT_GENERATION;
    g->return_full_text = o->return_full_text;
    g->skip_special = o->skip_special_tokens;
    g->clean_up = o->clean_up_tokenization_spaces < 0 ? task == ONYX_TASK_CAUSAL_LM : o->clean_up_tokenization_spaces != 0;
    g->return_tensors = o->return_tensors;
    g->max_length = o->max_length > 0 ? (size_t)o->max_length : 0;
    g->default_lang_id = g->src_lang_id = g->tgt_lang_id = -1;
    const char *what = task_title(task, g->text2text);
    onyx_status st = ONYX_OK;
    if (o->generation) {
        if (o->generation->struct_size != sizeof *o->generation)
            st = onyx_error(ONYX_ERR_INVALID_ARGUMENT, "%s: options.generation->struct_size is %zu, expected %zu (call "
                            "onyx_generation_config_init or onyx_model_generation_config)", what,
                            o->generation->struct_size, sizeof *o->generation);
        else g->config = *o->generation;
    } else {
        st = onyx_model_generation_config(model, &g->config);
    }
    const char *src = o->src_lang, *tgt = o->tgt_lang, *key = NULL;
    const cJSON *params = st ? NULL : task_params(g, src, tgt, &key);
    if (params && (!src || !tgt) && key && strncmp(key, "translation_", 12) == 0) {
        /* pipeline("translation") on T5 takes the first translation_XX_to_YY entry */
        src = key + 12;
        tgt = strstr(src, "_to_");
        tgt = tgt ? tgt + 4 : NULL;
    }
    if (!st && params && !o->generation) apply_task_params(g, params);
    if (!st) st = resolve_languages(g, src, tgt);
    if (!st) {
        g->strip_text = g->multilingual;
        const cJSON *pp = params ? cJSON_GetObjectItemCaseSensitive(params, "prefix") : NULL;
        const char *prefix = o->prefix ? o->prefix : cJSON_IsString(pp) ? pp->valuestring : "";
        /* M2M100Tokenizer's _build_translation_inputs takes no prefix */
        if (g->multilingual && g->text2text == ONYX_TEXT2TEXT_TRANSLATION) prefix = "";
        if (tk_utf8_invalid_at(prefix, strlen(prefix)) != strlen(prefix))
            st = onyx_error(ONYX_ERR_INVALID_ARGUMENT, "%s: the prefix is not valid UTF-8", what);
        else if (!(g->prefix = onyx_strdup(prefix))) st = oom();
    }
    if (st) {
        pipe_generation_destroy(g);
        return st;
    }
    *out = g;
    return ONYX_OK;
}

void pipe_generation_destroy(pipe_generation *g) {
    if (!g) return;
    onyx_free(g->prefix);
    onyx_free(g);
}

void pipe_generation_defaults(const pipe_generation *g, onyx_generation_config *out) {
    *out = g->config;
    if (g->multilingual && g->text2text == ONYX_TEXT2TEXT_TRANSLATION) out->forced_bos_token_id = g->tgt_lang_id;
}

/* ---------------------------------------------------------------------------------------------
 * Running
 */

/* One input's prompt: its ids (count, without padding). */
typedef struct prompt_ids {
    int64_t *ids;
    size_t count;
} prompt_ids;

static int is_eos(const onyx_generation_config *c, int64_t id) {
    for (int k = 0; k < c->n_eos; k++)
        if (c->eos_token_id[k] == id) return 1;
    return 0;
}

/* Encode prefix + text[i] for each input (M2M100: the source language first). */
static onyx_status encode_prompts(const pipe_generation *g, const char *what, const char *const *texts,
                                  const size_t *lens, size_t n, const onyx_generation_config *c, prompt_ids *prompts) {
    onyx_encode_options eo;
    onyx_encode_options_init(&eo);
    if (g->max_length) {
        eo.truncation = ONYX_TRUNCATE_LONGEST_FIRST;
        eo.max_length = g->max_length;
    }
    size_t prefix_len = strlen(g->prefix);
    onyx_status st = ONYX_OK;
    for (size_t i = 0; i < n && !st; i++) {
        size_t len = lens[i];
        char *joined = onyx_malloc(prefix_len + len + 1);
        if (!joined) return oom();
        memcpy(joined, g->prefix, prefix_len);
        memcpy(joined + prefix_len, texts[i], len);
        joined[prefix_len + len] = '\0';
        onyx_encoding *enc = NULL;
        st = onyx_tokenizer_encode(g->tokenizer, joined, prefix_len + len, NULL, 0, &eo, &enc);
        onyx_free(joined);
        if (st) return onyx_error_prefix(st, "%s: text %zu: ", what, i);
        int swap = g->multilingual && g->text2text == ONYX_TEXT2TEXT_TRANSLATION;
        int prepend = swap && (enc->length == 0 || enc->ids[0] != g->default_lang_id);
        int bos = g->task == ONYX_TASK_CAUSAL_LM && enc->length == 0;
        if (bos && c->bos_token_id < 0) {
            onyx_encoding_destroy(enc);
            return onyx_error(ONYX_ERR_INVALID_ARGUMENT,
                              "%s: text %zu encodes to no tokens and the model has no bos_token_id to start from",
                              what, i);
        }
        size_t count = enc->length + (size_t)prepend + (size_t)bos;
        prompts[i].ids = onyx_malloc(count * sizeof(int64_t));
        if (!prompts[i].ids) {
            onyx_encoding_destroy(enc);
            return oom();
        }
        int64_t *dst = prompts[i].ids;
        if (bos) *dst++ = c->bos_token_id;
        if (prepend) *dst++ = g->src_lang_id;
        if (enc->length) memcpy(dst, enc->ids, enc->length * sizeof(int64_t));
        if (swap && !prepend) dst[0] = g->src_lang_id;
        prompts[i].count = count;
        onyx_encoding_destroy(enc);
    }
    return st;
}

static onyx_status decode(const pipe_generation *g, const int64_t *ids, size_t n, char **text) {
    size_t len = 0;
    return onyx_tokenizer_decode(g->tokenizer, ids, n, g->skip_special, g->clean_up, text, &len);
}

/* The text of one returned sequence (token_ids, count), input i. */
static onyx_status sequence_text(const pipe_generation *g, const char *text, size_t text_len, const prompt_ids *prompt,
                                 const int64_t *ids, size_t count, char **out) {
    *out = NULL;
    char *full = NULL;
    ONYX_TRY(decode(g, ids, count, &full));
    if (g->task == ONYX_TASK_SEQ2SEQ_LM) {
        if (g->strip_text) {
            size_t a = 0, b = strlen(full);
            while (b > 0 && strchr(" \t\n\r\v\f", full[b - 1])) b--;
            while (a < b && strchr(" \t\n\r\v\f", full[a])) a++;
            memmove(full, full + a, b - a);
            full[b - a] = '\0';
        }
        *out = full;
        return ONYX_OK;
    }
    /* text[len(decode(prompt)):], counted in code points */
    char *prompt_text = NULL;
    onyx_status st = decode(g, prompt->ids, prompt->count, &prompt_text);
    if (st) {
        onyx_tokenizer_free_text(full);
        return st;
    }
    size_t chars = 0, full_len = strlen(full), at = 0;
    for (const char *c = prompt_text; *c; c++) chars += ((unsigned char)*c & 0xC0) != 0x80;
    for (; at < full_len && chars > 0; chars--) {
        at++;
        while (at < full_len && ((unsigned char)full[at] & 0xC0) == 0x80) at++;
    }
    size_t keep = g->return_full_text ? text_len : 0, gen = full_len - at;
    char *result = onyx_malloc(keep + gen + 1);
    if (result) {
        memcpy(result, text, keep);
        memcpy(result + keep, full + at, gen);
        result[keep + gen] = '\0';
    }
    onyx_tokenizer_free_text(prompt_text);
    onyx_tokenizer_free_text(full);
    if (!result) return oom();
    *out = result;
    return ONYX_OK;
}

onyx_status pipe_generation_run(pipe_generation *g, const char *const *texts, const size_t *lens, size_t n,
                                const onyx_generation_config *config, onyx_pipeline_result **out) {
    *out = NULL;
    const char *what = task_title(g->task, g->text2text);
    if (n == 0) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "%s: no inputs (n == 0)", what);
    if (!texts) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "%s: texts is NULL", what);
    onyx_generation_config c;
    if (config) {
        if (config->struct_size != sizeof *config)
            return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "%s: config->struct_size is %zu, expected %zu (call "
                              "onyx_pipeline_generation_config)", what, config->struct_size, sizeof *config);
        c = *config;
        if (g->multilingual && g->text2text == ONYX_TEXT2TEXT_TRANSLATION) c.forced_bos_token_id = g->tgt_lang_id;
    } else {
        pipe_generation_defaults(g, &c);
    }
    size_t *own_lens = onyx_malloc(n * sizeof *own_lens);
    prompt_ids *prompts = onyx_calloc(n, sizeof *prompts);
    onyx_status st = own_lens && prompts ? ONYX_OK : oom();
    for (size_t i = 0; i < n && !st; i++) {
        if (!texts[i]) {
            st = onyx_error(ONYX_ERR_INVALID_ARGUMENT, "%s: text %zu is NULL", what, i);
            break;
        }
        own_lens[i] = lens ? lens[i] : strlen(texts[i]);
        size_t bad = tk_utf8_invalid_at(texts[i], own_lens[i]);
        if (bad != own_lens[i]) st = onyx_error(ONYX_ERR_INVALID_ARGUMENT, "%s: text %zu is not valid UTF-8 at byte %zu",
                                                what, i, bad);
    }
    if (!st) st = encode_prompts(g, what, texts, own_lens, n, &c, prompts);

    /* the batch (B, S): left padding for causal LMs, right padding for seq2seq sources */
    int causal = g->task == ONYX_TASK_CAUSAL_LM;
    size_t seq = 0;
    for (size_t i = 0; i < n && !st; i++) seq = prompts[i].count > seq ? prompts[i].count : seq;
    if (!st && seq == 0) st = onyx_error(ONYX_ERR_INVALID_ARGUMENT, "%s: the inputs encode to no tokens", what);
    int64_t pad = c.pad_token_id >= 0 ? c.pad_token_id : c.n_eos > 0 ? c.eos_token_id[0] : 0;
    int64_t *ids = st ? NULL : onyx_malloc(n * seq * sizeof *ids);
    int64_t *mask = st ? NULL : onyx_calloc(n * seq, sizeof *mask);
    if (!st && (!ids || !mask)) st = oom();
    for (size_t i = 0; i < n && !st; i++) {
        size_t offset = causal ? seq - prompts[i].count : 0;
        for (size_t t = 0; t < seq; t++) {
            int in_prompt = t >= offset && t < offset + prompts[i].count;
            ids[i * seq + t] = in_prompt ? prompts[i].ids[t - offset] : pad;
            mask[i * seq + t] = in_prompt;
        }
    }
    int64_t *sequences = NULL, rows = 0, length = 0;
    if (!st) {
        st = onyx_model_generate(g->model, ids, mask, (int64_t)n, (int64_t)seq, &c, &sequences, &rows, &length);
        if (st) st = onyx_error_prefix(st, "%s: ", what);
    }
    size_t per_input = !st && rows > 0 ? (size_t)rows / n : 0;
    onyx_pipeline_result *r = NULL;
    if (!st) st = pipe_result_new(g->task, n, &r);
    if (!st) {
        r->text2text = g->text2text;
        r->tensors = g->return_tensors;
    }
    for (size_t i = 0; i < n && !st; i++) {
        onyx_pipeline_output *o = &r->outputs[i];
        o->items = onyx_calloc(per_input ? per_input : 1, sizeof *o->items);
        if (!o->items) {
            st = oom();
            break;
        }
        for (size_t k = 0; k < per_input && !st; k++) {
            const int64_t *row = sequences + (i * per_input + k) * (size_t)length;
            size_t first = causal ? seq - prompts[i].count : 0, new_from = causal ? seq : 1, end = (size_t)length;
            for (size_t t = new_from; t < (size_t)length; t++)
                if (is_eos(&c, row[t])) {
                    end = t + 1;
                    break;
                }
            onyx_pipeline_item *item = &o->items[o->count++];
            item->index = (int64_t)i;
            item->start = item->end = -1;
            int64_t *token_ids = onyx_malloc((end - first) * sizeof *token_ids + 1);
            if (!token_ids) {
                st = oom();
                break;
            }
            memcpy(token_ids, row + first, (end - first) * sizeof *token_ids);
            item->token_ids = token_ids;
            item->token_count = end - first;
            char *text = NULL;
            st = sequence_text(g, texts[i], own_lens[i], &prompts[i], token_ids, end - first, &text);
            item->text = text;
        }
    }
    onyx_ids_free(sequences);
    onyx_free(ids);
    onyx_free(mask);
    for (size_t i = 0; prompts && i < n; i++) onyx_free(prompts[i].ids);
    onyx_free(prompts);
    onyx_free(own_lens);
    if (st) {
        onyx_pipeline_result_destroy(r);
        return st;
    }
    *out = r;
    return ONYX_OK;
}
