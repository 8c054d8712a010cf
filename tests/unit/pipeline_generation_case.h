/*
 * pipeline_generation_case.h - what test_pipeline_generation.c (cpu) and
 * test_pipeline_generation_gpu.c (cuda against cpu) share: the test folders and opening a
 * generative pipeline on a provider.
 *
 * The model fixtures (tests/models) ship no tokenizer; tests/data/pipeline/<folder>/ link a
 * fixture's files beside a tokenizer made by tests/data/pipeline/make_generation_tokenizers.py:
 * gpt2-text-generation (GPT2, byte-level BPE), t5-text2text (T5 with t5-small's
 * task_specific_params, Unigram), m2m100-translation (M2M100, sentencepiece.bpe.model +
 * vocab.json, language tokens 404-503).
 */
#ifndef ONYX_TESTS_PIPELINE_GENERATION_CASE_H
#define ONYX_TESTS_PIPELINE_GENERATION_CASE_H

#include "harness.h"
#include "onyx/pipeline.h"

#define GEN_DATA ONYX_SOURCE_DIR "/tests/data/pipeline/"
#define GPT2_DIR GEN_DATA "gpt2-text-generation"
#define T5_DIR GEN_DATA "t5-text2text"
#define M2M_DIR GEN_DATA "m2m100-translation"

/* A pipeline over dir for task on providers (NULL: the default), with options o (NULL:
 * defaults); NULL after a failed check. */
static inline onyx_pipeline *gen_open(const char *dir, onyx_task task, const char *providers, onyx_pipeline_options *o) {
    onyx_pipeline_options local;
    if (!o) {
        onyx_pipeline_options_init(&local);
        o = &local;
    }
    if (providers) o->model.session.providers = providers;
    onyx_pipeline *p = NULL;
    ONYX_CHECK_OK(onyx_pipeline_create(dir, task, o, &p));
    return p;
}

#endif
