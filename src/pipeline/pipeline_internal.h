/*
 * pipeline_internal.h - what the pipeline files share: result allocation and the small numeric
 * helpers of scoring.c. L = labels.
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

#endif
