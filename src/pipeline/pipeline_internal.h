/*
 * pipeline_internal.h - what the pipeline files share: result allocation, the small numeric
 * helpers of scoring.c, and the generative pipelines of generation.c, which pipeline.c's
 * create / run / destroy hand generative tasks to. L = labels.
 */
#ifndef ONYX_PIPELINE_INTERNAL_H
#define ONYX_PIPELINE_INTERNAL_H

#include "onyx/pipeline.h"

/* scores (L) = softmax(logits (L)) in double, shifted by the maximum. */
void pipe_softmax(const float *logits, int64_t n, double *scores);
/* The index of the first maximum of values (n > 0), as numpy's argmax. */
int64_t pipe_argmax(const double *values, int64_t n);
/* A zeroed result for task with n outputs. Caller owns *out (onyx_pipeline_result_destroy). */
onyx_status pipe_result_new(onyx_task task, size_t n, onyx_pipeline_result **out);

/* The state of a text-generation / seq2seq pipeline (generation.c). */
typedef struct pipe_generation pipe_generation;

/* Resolve the generation options (task_specific_params, prefix, languages) for task over model
 * and tokenizer (both borrowed; they outlive the result). Caller owns *out. */
onyx_status pipe_generation_create(onyx_model *model, const onyx_tokenizer *tokenizer, onyx_task task,
                                   const onyx_pipeline_options *options, pipe_generation **out);
void pipe_generation_destroy(pipe_generation *generation);
/* The settings runs use when given no config. */
void pipe_generation_defaults(const pipe_generation *generation, onyx_generation_config *out);
/* onyx_pipeline_generate on the state: n texts (byte lengths lens, or NULL: NUL-terminated). */
onyx_status pipe_generation_run(pipe_generation *generation, const char *const *texts, const size_t *lens,
                                size_t n, const onyx_generation_config *config, onyx_pipeline_result **out);

#endif
