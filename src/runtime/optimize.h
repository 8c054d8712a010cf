/*
 * optimize.h - load-time graph optimisation that runs kernels: constant folding.
 */
#ifndef ONYX_RUNTIME_OPTIMIZE_H
#define ONYX_RUNTIME_OPTIMIZE_H

#include "graph/ir.h"
#include "providers/kernel.h"

/* Evaluate, with the given kernel tables, every node whose inputs are all constants (and that
 * has no subgraph), turning its outputs into constants owned by the model and removing the node;
 * then the same inside every subgraph, where values of enclosing graphs count as inputs.
 * *folded counts the nodes folded. Nodes without a kernel are left alone (placement reports
 * them). */
onyx_status onyx_fold_constants(onyx_graph *g, const onyx_kernel_def *const *tables, int threads,
                                int *folded);

#endif
