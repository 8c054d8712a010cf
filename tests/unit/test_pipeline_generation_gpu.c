/*
 * test_pipeline_generation_gpu.c - the generative pipelines on the cuda provider give the CPU's
 * tokens and texts: text-generation on GPT2 (greedy, padded batch; 3-beam with 2 sequences),
 * summarization on T5 (2 beams), translation on M2M100 (greedy, batch of two). Sampling is left
 * out: its draws are reproducible per provider only (model.h). And greedy GPT2 with rows that
 * end (eos) at different steps: on cuda each step's decoder run is queued before the host has
 * read the ids the step feeds it, and a finished row is fed its chosen id instead of the pad.
 * Exits 77 without a CUDA device.
 */
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "onyx/model.h"
#include "onyx/pipeline.h"
#include "pipeline_generation_case.h"

typedef struct gpu_case {
    const char *name, *dir;
    onyx_task task;
    onyx_text2text_task text2text;
    const char *src_lang, *tgt_lang;
    int num_beams, num_return_sequences;
} gpu_case;

static const gpu_case cases[] = {
    {"text-generation greedy", GPT2_DIR, ONYX_TASK_CAUSAL_LM, ONYX_TEXT2TEXT_GENERATION, NULL, NULL, 1, 1},
    {"text-generation beams", GPT2_DIR, ONYX_TASK_CAUSAL_LM, ONYX_TEXT2TEXT_GENERATION, NULL, NULL, 3, 2},
    {"summarization", T5_DIR, ONYX_TASK_SEQ2SEQ_LM, ONYX_TEXT2TEXT_SUMMARIZATION, NULL, NULL, 2, 1},
    {"translation", M2M_DIR, ONYX_TASK_SEQ2SEQ_LM, ONYX_TEXT2TEXT_TRANSLATION, "en", "fr", 1, 1},
};

static onyx_pipeline_result *run_on(const gpu_case *k, const char *providers) {
    onyx_pipeline_options o;
    onyx_pipeline_options_init(&o);
    o.text2text = k->text2text;
    o.src_lang = k->src_lang;
    o.tgt_lang = k->tgt_lang;
    onyx_pipeline *p = gen_open(k->dir, k->task, providers, &o);
    if (!p) return NULL;
    onyx_generation_config c;
    ONYX_CHECK_OK(onyx_pipeline_generation_config(p, &c));
    c.max_new_tokens = 10;
    c.min_new_tokens = 0;
    c.num_beams = k->num_beams;
    c.num_return_sequences = k->num_return_sequences;
    const char *texts[2] = {"the cat sat on the mat", "hello"};
    onyx_pipeline_result *r = NULL;
    ONYX_CHECK_OK(onyx_pipeline_generate(p, texts, NULL, 2, &c, &r));
    onyx_pipeline_destroy(p);
    return r;
}

static void test_cuda_matches_cpu(void) {
    for (size_t n = 0; n < sizeof cases / sizeof cases[0]; n++) {
        const gpu_case *k = &cases[n];
        onyx_pipeline_result *cpu = run_on(k, "cpu"), *cuda = run_on(k, "cuda");
        if (cpu && cuda) {
            for (size_t i = 0; i < 2; i++) {
                const onyx_pipeline_output *a = &cpu->outputs[i], *b = &cuda->outputs[i];
                ONYX_CHECK_INT(b->count, a->count);
                for (size_t s = 0; s < a->count && s < b->count; s++) {
                    const onyx_pipeline_item *x = &a->items[s], *y = &b->items[s];
                    int same = x->token_count == y->token_count &&
                               memcmp(x->token_ids, y->token_ids, x->token_count * sizeof(int64_t)) == 0 &&
                               strcmp(x->text, y->text) == 0;
                    ONYX_CHECK(same);
                    if (!same)
                        fprintf(stderr, "  %s: input %zu sequence %zu: cuda \"%s\" (%zu ids), cpu \"%s\" (%zu ids)\n",
                                k->name, i, s, y->text, y->token_count, x->text, x->token_count);
                }
            }
        }
        onyx_pipeline_result_destroy(cpu);
        onyx_pipeline_result_destroy(cuda);
    }
}

#define EOS_ROWS 3
#define EOS_PROMPT 5

static int64_t *generate_on(const char *providers, const onyx_generation_config *c, int64_t *length) {
    static const int64_t prompts[EOS_ROWS * EOS_PROMPT] = {11, 42, 7, 300, 5, 90, 91, 92, 93, 94, 1, 2, 3, 4, 200};
    onyx_model_options o;
    onyx_model_options_init(&o);
    o.session.providers = providers;
    onyx_model *m = NULL;
    ONYX_CHECK_OK(onyx_model_load(GPT2_DIR, ONYX_TASK_CAUSAL_LM, &o, &m));
    int64_t *ids = NULL, rows = 0;
    *length = 0;
    if (m) ONYX_CHECK_OK(onyx_model_generate(m, prompts, NULL, EOS_ROWS, EOS_PROMPT, c, &ids, &rows, length));
    if (ids) ONYX_CHECK_INT(rows, EOS_ROWS);
    onyx_model_destroy(m);
    return ids;
}

/* The first new position of a row where it has eos, or -1. */
static int64_t eos_at(const int64_t *row, int64_t length, int64_t eos) {
    for (int64_t t = EOS_PROMPT; t < length; t++)
        if (row[t] == eos) return t;
    return -1;
}

static void test_early_eos_matches_cpu(void) {
    onyx_generation_config c;
    onyx_generation_config_init(&c);
    c.max_new_tokens = 12;
    int64_t free_len = 0;
    int64_t *free_run = generate_on("cpu", &c, &free_len);
    if (!free_run) return;
    ONYX_CHECK_INT(free_len, EOS_PROMPT + 12);
    /* eos: the id row 0 makes at its third new token, if no row makes it earlier */
    int64_t eos = free_run[EOS_PROMPT + 2];
    for (int r = 0; r < EOS_ROWS; r++) {
        int64_t at = eos_at(free_run + r * free_len, free_len, eos);
        if (at >= 0 && at < EOS_PROMPT + 2) eos = -1;
    }
    onyx_ids_free(free_run);
    ONYX_CHECK(eos >= 0);
    if (eos < 0) return;
    c.n_eos = 1;
    c.eos_token_id[0] = eos;
    c.pad_token_id = eos;
    int64_t cpu_len = 0, cuda_len = 0;
    int64_t *cpu = generate_on("cpu", &c, &cpu_len), *cuda = generate_on("cuda", &c, &cuda_len);
    if (cpu && cuda) {
        /* the case is what it claims: row 0 ends after 3 tokens while another goes on */
        ONYX_CHECK_INT(eos_at(cpu, cpu_len, eos), EOS_PROMPT + 2);
        ONYX_CHECK(cpu_len > EOS_PROMPT + 3);
        ONYX_CHECK_INT(cuda_len, cpu_len);
        int same = cuda_len == cpu_len && !memcmp(cpu, cuda, (size_t)(EOS_ROWS * cpu_len) * sizeof(int64_t));
        ONYX_CHECK(same);
        for (int r = 0; !same && r < EOS_ROWS; r++)
            for (int64_t t = 0; t < cpu_len && t < cuda_len; t++)
                if (cpu[r * cpu_len + t] != cuda[r * cuda_len + t])
                    fprintf(stderr, "  row %d position %lld: cuda %lld, cpu %lld\n", r, (long long)t,
                            (long long)cuda[r * cuda_len + t], (long long)cpu[r * cpu_len + t]);
    }
    onyx_ids_free(cpu);
    onyx_ids_free(cuda);
}

int main(void) {
    /* a build without CUDA has no cuda provider either: both skip here */
    if (onyx_test_cuda_missing()) return 77;
    ONYX_TEST_RUN(test_cuda_matches_cpu);
    ONYX_TEST_RUN(test_early_eos_matches_cpu);
    return onyx_test_finish();
}
