/*
 * test_pipeline_generation_gpu.c - the generative pipelines on the cuda provider give the CPU's
 * tokens and texts: text-generation on GPT2 (greedy, padded batch; 3-beam with 2 sequences),
 * summarization on T5 (2 beams), translation on M2M100 (greedy, batch of two). Sampling is left
 * out: its draws are reproducible per provider only (model.h). Exits 77 without a CUDA device.
 */
#include <stdio.h>
#include <string.h>

#include "harness.h"
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

int main(void) {
    /* a build without CUDA has no cuda provider either: both skip here */
    if (onyx_test_cuda_missing()) return 77;
    ONYX_TEST_RUN(test_cuda_matches_cpu);
    return onyx_test_finish();
}
