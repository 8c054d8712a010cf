/*
 * test_pipeline_generation.c - the generative pipelines (include/onyx/pipeline.h):
 * text-generation on GPT2, text2text-generation, summarization and translation on T5, translation
 * on M2M100, on the CPU provider.
 *
 * The reference of every run is computed here, not by the pipeline's code: the prompt is encoded
 * with a tokenizer this file loads, generated from with onyx_model_generate on a model this file
 * opens (test_model checks that token for token against transformers), cut after its first new
 * eos, and decoded with onyx_tokenizer_decode; the texts are then assembled by hand as
 * transformers' postprocess does (text-generation: the input text, then the decoded sequence
 * after the decoded prompt). Also: return_full_text, a padded batch against one-by-one runs,
 * num_return_sequences (beam search and sampling), task_specific_params and prefixes, the
 * target language token, JSON shapes, the errors, and allocation failure N during creation and
 * runs (OUT_OF_MEMORY or success, nothing leaked, the pipeline still usable).
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "harness.h"
#include "onyx/model.h"
#include "onyx/pipeline.h"
#include "onyx/tokenizer.h"
#include "pipeline_generation_case.h"

/* The reference: ids of one returned sequence and its decoded text. */
typedef struct ref_sequence {
    int64_t ids[512];
    size_t count;
    char text[4096];
} ref_sequence;

static void decode_into(const onyx_tokenizer *tok, const int64_t *ids, size_t n, int clean_up, char *out, size_t cap) {
    char *text = NULL;
    size_t len = 0;
    out[0] = '\0';
    ONYX_CHECK_OK(onyx_tokenizer_decode(tok, ids, n, 1, clean_up, &text, &len));
    if (text) snprintf(out, cap, "%s", text);
    onyx_tokenizer_free_text(text);
}

/* Generate from prompt (count ids) alone with a model opened here; rows of up to `want`
 * sequences go to refs, each cut after its first eos at or after position `new_from`. Returns
 * the number of rows. */
static size_t reference_generate(const char *dir, const int64_t *prompt, size_t count, const onyx_generation_config *c,
                                 int seq2seq, ref_sequence *refs, size_t want) {
    onyx_model *m = NULL;
    ONYX_CHECK_OK(onyx_model_load(dir, ONYX_TASK_AUTO, NULL, &m));
    if (!m) return 0;
    int64_t *seqs = NULL, rows = 0, length = 0;
    ONYX_CHECK_OK(onyx_model_generate(m, prompt, NULL, 1, (int64_t)count, c, &seqs, &rows, &length));
    size_t got = 0;
    for (int64_t r = 0; seqs && r < rows && got < want; r++, got++) {
        size_t end = (size_t)length, from = seq2seq ? 1 : count;
        for (size_t t = from; t < (size_t)length; t++) {
            int eos = 0;
            for (int k = 0; k < c->n_eos; k++) eos |= seqs[r * length + (int64_t)t] == c->eos_token_id[k];
            if (eos) {
                end = t + 1;
                break;
            }
        }
        memcpy(refs[got].ids, seqs + r * length, end * sizeof(int64_t));
        refs[got].count = end;
    }
    onyx_ids_free(seqs);
    onyx_model_destroy(m);
    return got;
}

static void check_ids(const onyx_pipeline_item *it, const ref_sequence *ref, const char *what) {
    ONYX_CHECK_INT(it->token_count, ref->count);
    for (size_t t = 0; t < it->token_count && t < ref->count; t++)
        if (it->token_ids[t] != ref->ids[t]) {
            ONYX_CHECK_INT(it->token_ids[t], ref->ids[t]);
            fprintf(stderr, "  %s: token %zu differs\n", what, t);
            break;
        }
}

static void check_text(const char *got, const char *want, const char *what) {
    int same = got && strcmp(got, want) == 0;
    ONYX_CHECK(same);
    if (!same) fprintf(stderr, "  %s: text \"%s\", expected \"%s\"\n", what, got ? got : "(null)", want);
}

/* The one key of each dict of a result's JSON, and its string value for item k. */
static void check_json(const onyx_pipeline_result *r, size_t index, const char *key) {
    char *json = NULL;
    ONYX_CHECK_OK(onyx_pipeline_result_json(r, index, 1, &json));
    cJSON *doc = json ? cJSON_Parse(json) : NULL;
    ONYX_CHECK(cJSON_IsArray(doc));
    const onyx_pipeline_output *o = &r->outputs[index];
    ONYX_CHECK_INT(cJSON_GetArraySize(doc), o->count);
    for (size_t k = 0; doc && k < o->count; k++) {
        const cJSON *d = cJSON_GetArrayItem(doc, (int)k);
        ONYX_CHECK(cJSON_IsObject(d) && cJSON_GetArraySize(d) == 1);
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(d, key);
        if (!v) fprintf(stderr, "  json %s has no key \"%s\"\n", json, key);
        if (cJSON_IsString(v)) check_text(v->valuestring, o->items[k].text, key);
        else if (cJSON_IsArray(v)) {
            ONYX_CHECK_INT(cJSON_GetArraySize(v), o->items[k].token_count);
            for (size_t t = 0; t < o->items[k].token_count && t < (size_t)cJSON_GetArraySize(v); t++)
                ONYX_CHECK_INT(cJSON_GetArrayItem(v, (int)t)->valuedouble, o->items[k].token_ids[t]);
        } else {
            ONYX_CHECK(v != NULL);
        }
    }
    cJSON_Delete(doc);
    onyx_pipeline_free_text(json);
}

/* Encode text (no prefix handling) with the folder's tokenizer loaded here. */
static size_t encode(const char *dir, const char *text, int64_t *ids) {
    onyx_tokenizer *tok = NULL;
    ONYX_CHECK_OK(onyx_tokenizer_load(dir, &tok));
    onyx_encoding *enc = NULL;
    if (tok) ONYX_CHECK_OK(onyx_tokenizer_encode(tok, text, strlen(text), NULL, 0, NULL, &enc));
    size_t n = enc ? enc->length : 0;
    if (enc) memcpy(ids, enc->ids, n * sizeof *ids);
    onyx_encoding_destroy(enc);
    onyx_tokenizer_destroy(tok);
    return n;
}

static onyx_generation_config model_config(const char *dir) {
    onyx_generation_config c;
    onyx_generation_config_init(&c);
    onyx_model *m = NULL;
    ONYX_CHECK_OK(onyx_model_load(dir, ONYX_TASK_AUTO, NULL, &m));
    if (m) ONYX_CHECK_OK(onyx_model_generation_config(m, &c));
    onyx_model_destroy(m);
    return c;
}

/* text-generation: [input text] + decode(sequence)[len(decode(prompt)):] */
static void expected_causal(const onyx_tokenizer *tok, const char *text, const ref_sequence *ref, size_t prompt_len,
                            int full, char *out, size_t cap) {
    char whole[4096], prompt[4096];
    decode_into(tok, ref->ids, ref->count, 1, whole, sizeof whole);
    decode_into(tok, ref->ids, prompt_len, 1, prompt, sizeof prompt);
    ONYX_CHECK(strncmp(whole, prompt, strlen(prompt)) == 0); /* byte-level BPE decodes piecewise */
    snprintf(out, cap, "%s%s", full ? text : "", whole + strlen(prompt));
}

/* The test folders' tokenizers: ids below the fixtures' 512, ASCII text back as it was (M2M100:
 * after its "__en__ " source-language token). */
static void test_tokenizers(void) {
    const char *dirs[3] = {GPT2_DIR, T5_DIR, M2M_DIR}, *lead[3] = {"", "", "__en__ "};
    const char *text = "The quick brown fox, 42 times: \"Jumps!\" over (the) lazy dog? [yes] {no} a+b=c; x_y~z @#$%^&*";
    for (int k = 0; k < 3; k++) {
        onyx_tokenizer *tok = NULL;
        ONYX_CHECK_OK(onyx_tokenizer_load(dirs[k], &tok));
        if (!tok) continue;
        ONYX_CHECK(onyx_tokenizer_vocab_size(tok) <= 512);
        onyx_encoding *enc = NULL;
        ONYX_CHECK_OK(onyx_tokenizer_encode(tok, text, strlen(text), NULL, 0, NULL, &enc));
        int64_t max_id = 0, unk = onyx_tokenizer_token_to_id(tok, "<unk>", 5);
        for (size_t t = 0; enc && t < enc->length; t++) {
            max_id = enc->ids[t] > max_id ? enc->ids[t] : max_id;
            if (unk >= 0 && enc->ids[t] == unk) fprintf(stderr, "  %s: token %zu is <unk>\n", dirs[k], t);
            ONYX_CHECK(unk < 0 || enc->ids[t] != unk);
        }
        ONYX_CHECK(max_id < 512);
        char back[1024], want[1024];
        if (enc) decode_into(tok, enc->ids, enc->length, 0, back, sizeof back);
        snprintf(want, sizeof want, "%s%s", lead[k], text);
        if (enc) check_text(back, want, dirs[k]);
        onyx_encoding_destroy(enc);
        onyx_tokenizer_destroy(tok);
    }
}

static void test_text_generation(void) {
    onyx_generation_config c = model_config(GPT2_DIR);
    c.max_new_tokens = 12;
    onyx_pipeline_options o;
    onyx_pipeline_options_init(&o);
    o.generation = &c;
    onyx_pipeline *p = gen_open(GPT2_DIR, ONYX_TASK_CAUSAL_LM, NULL, &o);
    if (!p) return;
    const onyx_tokenizer *tok = onyx_pipeline_tokenizer(p);
    const char *texts[3] = {"Hello world", "The quick brown fox jumps over", "a"};
    onyx_pipeline_result *r = NULL;
    ONYX_CHECK_OK(onyx_pipeline_run(p, texts, NULL, NULL, NULL, 3, &r));
    for (size_t i = 0; r && i < 3; i++) {
        int64_t prompt[64];
        size_t n = encode(GPT2_DIR, texts[i], prompt);
        ref_sequence ref;
        if (!reference_generate(GPT2_DIR, prompt, n, &c, 0, &ref, 1)) continue;
        ONYX_CHECK_INT(r->outputs[i].count, 1);
        const onyx_pipeline_item *it = &r->outputs[i].items[0];
        check_ids(it, &ref, texts[i]); /* the batch was left-padded: same tokens as alone */
        char want[8192];
        expected_causal(tok, texts[i], &ref, n, 1, want, sizeof want);
        check_text(it->text, want, texts[i]);
        ONYX_CHECK(strncmp(it->text, texts[i], strlen(texts[i])) == 0);
        check_json(r, i, "generated_text");
    }
    onyx_pipeline_result_destroy(r);

    /* one by one: the same as in the batch */
    onyx_pipeline_result *batch = NULL;
    ONYX_CHECK_OK(onyx_pipeline_run(p, texts, NULL, NULL, NULL, 3, &batch));
    for (size_t i = 0; batch && i < 3; i++) {
        r = NULL;
        ONYX_CHECK_OK(onyx_pipeline_run(p, texts + i, NULL, NULL, NULL, 1, &r));
        if (!r) continue;
        ref_sequence alone;
        alone.count = r->outputs[0].items[0].token_count;
        memcpy(alone.ids, r->outputs[0].items[0].token_ids, alone.count * sizeof(int64_t));
        check_ids(&batch->outputs[i].items[0], &alone, "batch vs alone");
        check_text(batch->outputs[i].items[0].text, r->outputs[0].items[0].text, "batch vs alone");
        onyx_pipeline_result_destroy(r);
    }
    onyx_pipeline_result_destroy(batch);
    onyx_pipeline_destroy(p);

    /* return_full_text 0: only the new text */
    onyx_pipeline_options_init(&o);
    o.generation = &c;
    o.return_full_text = 0;
    p = gen_open(GPT2_DIR, ONYX_TASK_CAUSAL_LM, NULL, &o);
    if (!p) return;
    r = NULL;
    ONYX_CHECK_OK(onyx_pipeline_run(p, texts, NULL, NULL, NULL, 1, &r));
    int64_t prompt[64];
    size_t n = encode(GPT2_DIR, texts[0], prompt);
    ref_sequence ref;
    if (r && reference_generate(GPT2_DIR, prompt, n, &c, 0, &ref, 1)) {
        char want[8192];
        expected_causal(onyx_pipeline_tokenizer(p), texts[0], &ref, n, 0, want, sizeof want);
        check_text(r->outputs[0].items[0].text, want, "return_full_text 0");
        ONYX_CHECK(strncmp(r->outputs[0].items[0].text, texts[0], strlen(texts[0])) != 0);
    }
    onyx_pipeline_result_destroy(r);
    /* an empty prompt starts from bos (511) */
    const char *empty = "";
    r = NULL;
    ONYX_CHECK_OK(onyx_pipeline_run(p, &empty, NULL, NULL, NULL, 1, &r));
    if (r) {
        ONYX_CHECK(r->outputs[0].items[0].token_count > 1);
        ONYX_CHECK_INT(r->outputs[0].items[0].token_ids[0], 511);
    }
    onyx_pipeline_result_destroy(r);
    onyx_pipeline_destroy(p);
}

/* A prefix is encoded with the text and left out of the returned text. */
static void test_prefix_and_tensors(void) {
    onyx_generation_config c = model_config(GPT2_DIR);
    c.max_new_tokens = 6;
    onyx_pipeline_options o;
    onyx_pipeline_options_init(&o);
    o.generation = &c;
    o.prefix = "Once upon a time. ";
    o.return_tensors = 1;
    onyx_pipeline *p = gen_open(GPT2_DIR, ONYX_TASK_CAUSAL_LM, NULL, &o);
    if (!p) return;
    const char *text = "The end";
    onyx_pipeline_result *r = NULL;
    ONYX_CHECK_OK(onyx_pipeline_run(p, &text, NULL, NULL, NULL, 1, &r));
    int64_t prompt[64];
    size_t n = encode(GPT2_DIR, "Once upon a time. The end", prompt);
    ref_sequence ref;
    if (r && reference_generate(GPT2_DIR, prompt, n, &c, 0, &ref, 1)) {
        const onyx_pipeline_item *it = &r->outputs[0].items[0];
        check_ids(it, &ref, "prefix");
        char want[8192];
        expected_causal(onyx_pipeline_tokenizer(p), text, &ref, n, 1, want, sizeof want);
        check_text(it->text, want, "prefix");
        check_json(r, 0, "generated_token_ids");
    }
    onyx_pipeline_result_destroy(r);
    onyx_pipeline_destroy(p);
}

static void test_num_return_sequences(void) {
    onyx_generation_config beam = model_config(GPT2_DIR), sample = beam;
    beam.max_new_tokens = 8;
    beam.num_beams = 3;
    beam.num_return_sequences = 2;
    sample.max_new_tokens = 8;
    sample.do_sample = 1;
    sample.seed = 42;
    sample.num_return_sequences = 3;
    onyx_pipeline *p = gen_open(GPT2_DIR, ONYX_TASK_CAUSAL_LM, NULL, NULL);
    if (!p) return;
    const char *texts[2] = {"Hello world", "One two"};
    const onyx_generation_config *configs[2] = {&beam, &sample};
    for (int k = 0; k < 2; k++) {
        const onyx_generation_config *c = configs[k];
        onyx_pipeline_result *r = NULL;
        /* one text per call: sampling draws depend on the batch's rows */
        ONYX_CHECK_OK(onyx_pipeline_generate(p, texts, NULL, 1, c, &r));
        int64_t prompt[64];
        size_t n = encode(GPT2_DIR, texts[0], prompt);
        ref_sequence refs[3];
        size_t rows = reference_generate(GPT2_DIR, prompt, n, c, 0, refs, 3);
        ONYX_CHECK_INT(rows, c->num_return_sequences);
        if (r) {
            ONYX_CHECK_INT(r->outputs[0].count, c->num_return_sequences);
            for (size_t s = 0; s < r->outputs[0].count && s < rows; s++) {
                check_ids(&r->outputs[0].items[s], &refs[s], k ? "sampling" : "beam search");
                char want[8192];
                expected_causal(onyx_pipeline_tokenizer(p), texts[0], &refs[s], n, 1, want, sizeof want);
                check_text(r->outputs[0].items[s].text, want, k ? "sampling" : "beam search");
            }
            check_json(r, 0, "generated_text");
        }
        onyx_pipeline_result_destroy(r);
    }
    /* beam search over a padded batch of two: each input as alone */
    onyx_pipeline_result *r = NULL;
    ONYX_CHECK_OK(onyx_pipeline_generate(p, texts, NULL, 2, &beam, &r));
    for (size_t i = 0; r && i < 2; i++) {
        int64_t prompt[64];
        size_t n = encode(GPT2_DIR, texts[i], prompt);
        ref_sequence refs[2];
        size_t rows = reference_generate(GPT2_DIR, prompt, n, &beam, 0, refs, 2);
        ONYX_CHECK_INT(r->outputs[i].count, 2);
        for (size_t s = 0; s < rows && s < r->outputs[i].count; s++)
            check_ids(&r->outputs[i].items[s], &refs[s], "beam batch");
    }
    onyx_pipeline_result_destroy(r);
    onyx_pipeline_destroy(p);
}

/* seq2seq: decode(sequence) with skip_special_tokens and no clean-up (transformers' default) */
static void check_seq2seq(const char *dir, onyx_pipeline *p, const onyx_pipeline_result *r, size_t index,
                          const int64_t *source, size_t n, const onyx_generation_config *c, int strip, const char *key) {
    ref_sequence refs[4];
    size_t rows = reference_generate(dir, source, n, c, 1, refs, 4);
    ONYX_CHECK_INT(r->outputs[index].count, rows);
    for (size_t s = 0; s < rows && s < r->outputs[index].count; s++) {
        check_ids(&r->outputs[index].items[s], &refs[s], key);
        char want[4096];
        decode_into(onyx_pipeline_tokenizer(p), refs[s].ids, refs[s].count, 0, want, sizeof want);
        char *w = want;
        if (strip) {
            while (*w == ' ') w++;
            size_t len = strlen(w);
            while (len && w[len - 1] == ' ') w[--len] = '\0';
        }
        check_text(r->outputs[index].items[s].text, w, key);
    }
    check_json(r, index, key);
}

static void test_text2text(void) {
    onyx_generation_config c = model_config(T5_DIR);
    c.max_new_tokens = 10;
    onyx_pipeline_options o;
    onyx_pipeline_options_init(&o);
    o.generation = &c;
    onyx_pipeline *p = gen_open(T5_DIR, ONYX_TASK_SEQ2SEQ_LM, NULL, &o);
    if (!p) return;
    const char *texts[2] = {"the cat sat on the mat", "hello"};
    onyx_pipeline_result *r = NULL;
    ONYX_CHECK_OK(onyx_pipeline_run(p, texts, NULL, NULL, NULL, 2, &r)); /* right-padded sources */
    for (size_t i = 0; r && i < 2; i++) {
        int64_t src[64];
        size_t n = encode(T5_DIR, texts[i], src);
        ONYX_CHECK_INT(src[n - 1], 1); /* "$A </s>" */
        check_seq2seq(T5_DIR, p, r, i, src, n, &c, 0, "generated_text");
        ONYX_CHECK_INT(r->outputs[i].items[0].token_ids[0], 0); /* T5's decoder start: pad */
    }
    onyx_pipeline_result_destroy(r);
    onyx_pipeline_destroy(p);
}

static void test_summarization(void) {
    onyx_pipeline_options o;
    onyx_pipeline_options_init(&o);
    o.text2text = ONYX_TEXT2TEXT_SUMMARIZATION;
    onyx_pipeline *p = gen_open(T5_DIR, ONYX_TASK_SEQ2SEQ_LM, NULL, &o);
    if (!p) return;
    /* t5-small's "summarization" task_specific_params over the model's defaults */
    onyx_generation_config c;
    ONYX_CHECK_OK(onyx_pipeline_generation_config(p, &c));
    ONYX_CHECK_INT(c.num_beams, 4);
    ONYX_CHECK_INT(c.max_new_tokens, 199);
    ONYX_CHECK_INT(c.min_new_tokens, 29);
    ONYX_CHECK_INT(c.no_repeat_ngram_size, 3);
    ONYX_CHECK_INT(c.early_stopping, 1);
    ONYX_CHECK_CLOSE(c.length_penalty, 2.0, 0, 0);
    ONYX_CHECK_INT(c.eos_token_id[0], 1);
    c.max_new_tokens = 8;
    c.min_new_tokens = 2;
    c.num_beams = 2;
    c.num_return_sequences = 2;
    const char *text = "the cat sat on the mat and the dog sat on the log";
    onyx_pipeline_result *r = NULL;
    ONYX_CHECK_OK(onyx_pipeline_generate(p, &text, NULL, 1, &c, &r));
    int64_t src[64];
    size_t n = encode(T5_DIR, "summarize: the cat sat on the mat and the dog sat on the log", src);
    if (r) check_seq2seq(T5_DIR, p, r, 0, src, n, &c, 0, "summary_text");
    onyx_pipeline_result_destroy(r);
    onyx_pipeline_destroy(p);
}

static void test_t5_translation(void) {
    /* by task name: translation_en_to_fr's prefix and settings */
    onyx_pipeline_options o;
    onyx_pipeline_options_init(&o);
    onyx_task task = ONYX_TASK_AUTO;
    ONYX_CHECK_OK(onyx_pipeline_task_from_name("translation_en_to_fr", &task, &o));
    ONYX_CHECK_INT(task, ONYX_TASK_SEQ2SEQ_LM);
    ONYX_CHECK_INT(o.text2text, ONYX_TEXT2TEXT_TRANSLATION);
    onyx_pipeline *p = gen_open(T5_DIR, task, NULL, &o);
    if (!p) return;
    onyx_generation_config c;
    ONYX_CHECK_OK(onyx_pipeline_generation_config(p, &c));
    ONYX_CHECK_INT(c.num_beams, 4);
    ONYX_CHECK_INT(c.max_new_tokens, 299);
    c.max_new_tokens = 6;
    const char *text = "the house is small";
    onyx_pipeline_result *r = NULL;
    ONYX_CHECK_OK(onyx_pipeline_generate(p, &text, NULL, 1, &c, &r));
    int64_t src[64];
    size_t n = encode(T5_DIR, "translate English to French: the house is small", src);
    if (r) check_seq2seq(T5_DIR, p, r, 0, src, n, &c, 0, "translation_text");
    onyx_pipeline_result_destroy(r);
    onyx_pipeline_destroy(p);

    /* "translation" alone takes the first translation_XX_to_YY entry (en_to_de) */
    onyx_pipeline_options_init(&o);
    o.text2text = ONYX_TEXT2TEXT_TRANSLATION;
    c.num_beams = 1;
    c.max_new_tokens = 5;
    p = gen_open(T5_DIR, ONYX_TASK_SEQ2SEQ_LM, NULL, &o);
    if (!p) return;
    r = NULL;
    ONYX_CHECK_OK(onyx_pipeline_generate(p, &text, NULL, 1, &c, &r));
    n = encode(T5_DIR, "translate English to German: the house is small", src);
    if (r) check_seq2seq(T5_DIR, p, r, 0, src, n, &c, 0, "translation_text");
    onyx_pipeline_result_destroy(r);
    onyx_pipeline_destroy(p);
}

static void test_m2m100_translation(void) {
    onyx_pipeline_options o;
    onyx_pipeline_options_init(&o);
    o.text2text = ONYX_TEXT2TEXT_TRANSLATION;
    o.src_lang = "de";
    o.tgt_lang = "fr";
    onyx_pipeline *p = gen_open(M2M_DIR, ONYX_TASK_SEQ2SEQ_LM, NULL, &o);
    if (!p) return;
    const onyx_tokenizer *tok = onyx_pipeline_tokenizer(p);
    int64_t en = onyx_tokenizer_token_to_id(tok, "__en__", 6), de = onyx_tokenizer_token_to_id(tok, "__de__", 6),
            fr = onyx_tokenizer_token_to_id(tok, "__fr__", 6);
    ONYX_CHECK_INT(en, 422); /* after vocab.json's 404 ids, "en" is language 18 */
    ONYX_CHECK(de >= 404 && fr >= 404 && fr < 504);
    onyx_generation_config c;
    ONYX_CHECK_OK(onyx_pipeline_generation_config(p, &c));
    ONYX_CHECK_INT(c.forced_bos_token_id, fr);
    c.max_new_tokens = 8;
    const char *texts[2] = {"the cat sat on the mat", "hello world"};
    onyx_pipeline_result *r = NULL;
    ONYX_CHECK_OK(onyx_pipeline_generate(p, texts, NULL, 2, &c, &r));
    for (size_t i = 0; r && i < 2; i++) {
        int64_t src[64];
        size_t n = encode(M2M_DIR, texts[i], src);
        ONYX_CHECK_INT(src[0], en); /* the tokenizer's default source language ... */
        src[0] = de;                /* ... which src_lang replaces */
        check_seq2seq(M2M_DIR, p, r, i, src, n, &c, 1, "translation_text");
        const onyx_pipeline_item *it = &r->outputs[i].items[0];
        ONYX_CHECK(it->token_count >= 2);
        ONYX_CHECK_INT(it->token_ids[0], 2); /* decoder start: eos */
        ONYX_CHECK_INT(it->token_ids[1], fr); /* then the target language */
        /* transformers 5's M2M100Tokenizer keeps language tokens when skipping special tokens */
        ONYX_CHECK(strncmp(it->text, "__fr__", 6) == 0);
    }
    onyx_pipeline_result_destroy(r);
    onyx_pipeline_destroy(p);

    /* skip_special_tokens 0 keeps the decoder start token (eos) */
    o.skip_special_tokens = 0;
    p = gen_open(M2M_DIR, ONYX_TASK_SEQ2SEQ_LM, NULL, &o);
    r = NULL;
    if (p) ONYX_CHECK_OK(onyx_pipeline_generate(p, texts, NULL, 1, &c, &r));
    if (r) ONYX_CHECK(strncmp(r->outputs[0].items[0].text, "</s>", 4) == 0);
    onyx_pipeline_result_destroy(r);
    onyx_pipeline_destroy(p);
    o.skip_special_tokens = 1;

    /* unknown language codes, missing languages */
    o.tgt_lang = "xx";
    p = NULL;
    ONYX_CHECK_ERROR(onyx_pipeline_create(M2M_DIR, ONYX_TASK_SEQ2SEQ_LM, &o, &p), ONYX_ERR_INVALID_ARGUMENT,
                     "unknown target language code 'xx'");
    ONYX_CHECK(p == NULL);
    o.src_lang = "zz";
    o.tgt_lang = "fr";
    ONYX_CHECK_ERROR(onyx_pipeline_create(M2M_DIR, ONYX_TASK_SEQ2SEQ_LM, &o, &p), ONYX_ERR_INVALID_ARGUMENT,
                     "unknown source language code 'zz'");
    o.src_lang = NULL;
    ONYX_CHECK_ERROR(onyx_pipeline_create(M2M_DIR, ONYX_TASK_SEQ2SEQ_LM, &o, &p), ONYX_ERR_INVALID_ARGUMENT,
                     "give src_lang and tgt_lang");
    onyx_task task;
    ONYX_CHECK_ERROR(onyx_pipeline_task_from_name("translation_en_fr", &task, &o), ONYX_ERR_INVALID_ARGUMENT,
                     "'translation_en_fr'");
}

static void test_errors(void) {
    onyx_pipeline *p = NULL;
    /* a folder without a tokenizer */
    ONYX_CHECK_ERROR(onyx_pipeline_create(ONYX_SOURCE_DIR "/tests/models/gpt2-ts17", ONYX_TASK_CAUSAL_LM, NULL, &p),
                     ONYX_ERR_INVALID_ARGUMENT, "has no tokenizer");
    ONYX_CHECK(p == NULL);
    /* summarization on a causal LM; text-generation on a seq2seq model */
    onyx_pipeline_options o;
    onyx_pipeline_options_init(&o);
    o.text2text = ONYX_TEXT2TEXT_SUMMARIZATION;
    ONYX_CHECK_ERROR(onyx_pipeline_create(GPT2_DIR, ONYX_TASK_SEQ2SEQ_LM, &o, &p), ONYX_ERR_INVALID_ARGUMENT,
                     "is a text-generation model, not text2text-generation");
    ONYX_CHECK_ERROR(onyx_pipeline_create(T5_DIR, ONYX_TASK_CAUSAL_LM, NULL, &p), ONYX_ERR_INVALID_ARGUMENT,
                     "not text-generation");
    ONYX_CHECK_ERROR(onyx_pipeline_create(GPT2_DIR, ONYX_TASK_CAUSAL_LM, &o, &p), ONYX_ERR_INVALID_ARGUMENT,
                     "summarization and translation need a seq2seq model");
    p = gen_open(GPT2_DIR, ONYX_TASK_AUTO, NULL, NULL);
    if (!p) return;
    ONYX_CHECK_INT(onyx_pipeline_task(p), ONYX_TASK_CAUSAL_LM);
    onyx_pipeline_result *r = NULL;
    const char *texts[2] = {"fine", "bad \xC3\x28 text"};
    ONYX_CHECK_ERROR(onyx_pipeline_run(p, texts, NULL, NULL, NULL, 2, &r), ONYX_ERR_INVALID_ARGUMENT,
                     "text-generation: text 1 is not valid UTF-8 at byte 4");
    ONYX_CHECK(strncmp(onyx_last_error(), "text-generation: text 1", 23) == 0);
    ONYX_CHECK(r == NULL);
    ONYX_CHECK_ERROR(onyx_pipeline_run(p, texts, NULL, NULL, NULL, 0, &r), ONYX_ERR_INVALID_ARGUMENT,
                     "text-generation: no inputs (n == 0)");
    ONYX_CHECK_ERROR(onyx_pipeline_run(p, texts, NULL, texts, NULL, 1, &r), ONYX_ERR_INVALID_ARGUMENT, "text pairs");
    onyx_generation_config c;
    ONYX_CHECK_OK(onyx_pipeline_generation_config(p, &c));
    c.num_beams = 0;
    ONYX_CHECK_ERROR(onyx_pipeline_generate(p, texts, NULL, 1, &c, &r), ONYX_ERR_INVALID_ARGUMENT, "num_beams is 0");
    c.struct_size = 3;
    ONYX_CHECK_ERROR(onyx_pipeline_generate(p, texts, NULL, 1, &c, &r), ONYX_ERR_INVALID_ARGUMENT, "struct_size");
    ONYX_CHECK(r == NULL);
    onyx_pipeline_destroy(p);
    /* the encoder entry points refuse a generative pipeline and the other way round */
    p = gen_open(ONYX_SOURCE_DIR "/models/bert-tiny-sentiment", ONYX_TASK_AUTO, NULL, NULL);
    if (p) {
        ONYX_CHECK_ERROR(onyx_pipeline_generate(p, texts, NULL, 1, NULL, &r), ONYX_ERR_INVALID_ARGUMENT,
                         "does not generate");
        ONYX_CHECK_ERROR(onyx_pipeline_generation_config(p, &c), ONYX_ERR_INVALID_ARGUMENT, "does not generate");
    }
    onyx_pipeline_destroy(p);
}

/* Allocation N fails (and every one after it), for N spread over creating a pipeline and a
 * batch-2 beam-search run with 2 sequences each and its JSON: each attempt reports
 * OUT_OF_MEMORY or succeeds, and leaves no block behind. */
static void out_of_memory_case(const char *dir, onyx_text2text_task kind, const char *src, const char *tgt) {
    const char *texts[2] = {"the cat sat", "hello world again"};
    int64_t live_before = onyx_alloc_live();
    int succeeded = 0;
    for (uint64_t n = 1; n < 1000000 && !succeeded; n += 1 + n / 30) {
        onyx_pipeline_options o;
        onyx_pipeline_options_init(&o);
        o.text2text = kind;
        o.src_lang = src;
        o.tgt_lang = tgt;
        onyx_pipeline *p = NULL;
        onyx_pipeline_result *r = NULL;
        char *json = NULL;
        onyx_alloc_fail_at(n, 1);
        onyx_status st = onyx_pipeline_create(dir, ONYX_TASK_AUTO, &o, &p);
        onyx_generation_config c;
        if (st == ONYX_OK) st = onyx_pipeline_generation_config(p, &c);
        if (st == ONYX_OK) {
            c.num_beams = 2;
            c.num_return_sequences = 2;
            c.max_new_tokens = 3;
            c.min_new_tokens = 0;
            st = onyx_pipeline_generate(p, texts, NULL, 2, &c, &r);
        }
        if (st == ONYX_OK) st = onyx_pipeline_result_json(r, 1, 1, &json);
        onyx_pipeline_free_text(json);
        onyx_pipeline_result_destroy(r);
        onyx_pipeline_destroy(p);
        onyx_alloc_fail_at(0, 0);
        if (st == ONYX_OK) {
            succeeded = 1;
        } else if (st != ONYX_ERR_OUT_OF_MEMORY) {
            onyx_test_checks++;
            onyx_test_failures++;
            fprintf(stderr, "FAIL %s: %s: allocation %llu failed but the status was %s: %s\n", onyx_test_current, dir,
                    (unsigned long long)n, onyx_status_name(st), onyx_last_error());
            break;
        }
        if (onyx_alloc_live() != live_before) {
            onyx_test_checks++;
            onyx_test_failures++;
            fprintf(stderr, "FAIL %s: %s: allocation %llu: %lld blocks leaked\n", onyx_test_current, dir,
                    (unsigned long long)n, (long long)(onyx_alloc_live() - live_before));
            break;
        }
    }
    ONYX_CHECK(succeeded);

    /* every allocation of a run, one at a time, on a pipeline that then still works */
    onyx_pipeline_options o;
    onyx_pipeline_options_init(&o);
    o.text2text = kind;
    o.src_lang = src;
    o.tgt_lang = tgt;
    onyx_pipeline *p = NULL;
    ONYX_CHECK_OK(onyx_pipeline_create(dir, ONYX_TASK_AUTO, &o, &p));
    if (!p) return;
    onyx_generation_config c;
    ONYX_CHECK_OK(onyx_pipeline_generation_config(p, &c));
    c.num_beams = 2;
    c.num_return_sequences = 2;
    c.max_new_tokens = 3;
    c.min_new_tokens = 0;
    /* a first run opens what the model caches (the token chooser graphs) */
    onyx_pipeline_result *warm = NULL;
    ONYX_CHECK_OK(onyx_pipeline_generate(p, texts, NULL, 2, &c, &warm));
    onyx_pipeline_result_destroy(warm);
    live_before = onyx_alloc_live();
    succeeded = 0;
    for (uint64_t n = 1; n < 100000 && !succeeded; n++) {
        onyx_pipeline_result *r = NULL;
        onyx_alloc_fail_at(n, 1);
        onyx_status st = onyx_pipeline_generate(p, texts, NULL, 2, &c, &r);
        onyx_alloc_fail_at(0, 0);
        onyx_pipeline_result_destroy(r);
        succeeded = st == ONYX_OK;
        if (st != ONYX_OK && st != ONYX_ERR_OUT_OF_MEMORY) {
            ONYX_CHECK_INT(st, ONYX_ERR_OUT_OF_MEMORY);
            fprintf(stderr, "  %s: run allocation %llu: %s\n", dir, (unsigned long long)n, onyx_last_error());
            break;
        }
        if (onyx_alloc_live() != live_before) {
            ONYX_CHECK_INT(onyx_alloc_live(), live_before);
            fprintf(stderr, "  %s: run allocation %llu leaked\n", dir, (unsigned long long)n);
            break;
        }
    }
    ONYX_CHECK(succeeded);
    onyx_pipeline_destroy(p);
}

static void test_out_of_memory(void) {
    out_of_memory_case(GPT2_DIR, ONYX_TEXT2TEXT_GENERATION, NULL, NULL);
    out_of_memory_case(M2M_DIR, ONYX_TEXT2TEXT_TRANSLATION, "en", "fr");
}

int main(void) {
    ONYX_TEST_RUN(test_tokenizers);
    ONYX_TEST_RUN(test_text_generation);
    ONYX_TEST_RUN(test_prefix_and_tensors);
    ONYX_TEST_RUN(test_num_return_sequences);
    ONYX_TEST_RUN(test_text2text);
    ONYX_TEST_RUN(test_summarization);
    ONYX_TEST_RUN(test_t5_translation);
    ONYX_TEST_RUN(test_m2m100_translation);
    ONYX_TEST_RUN(test_errors);
    ONYX_TEST_RUN(test_out_of_memory);
    return onyx_test_finish();
}
