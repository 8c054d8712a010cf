/*
 * cpu_tables.h - the CPU provider's kernel table, kept as one list of family tables.
 *
 * Each op family file defines one table terminated by a row whose op_type is NULL. The provider
 * (cpu_provider.c), claiming, dispatch and `onyx ops` (which writes docs/ops.md) all read
 * onyx_cpu_kernel_tables, so adding a row to a family table is the only step to add a kernel.
 */
#ifndef ONYX_PROVIDERS_CPU_TABLES_H
#define ONYX_PROVIDERS_CPU_TABLES_H

#include "providers/kernel.h"

extern const onyx_kernel_def onyx_cpu_elementwise_kernels[]; /* elementwise.c */
extern const onyx_kernel_def onyx_cpu_math_kernels[];        /* matmul.c, reduce.c, softmax.c, ... */
extern const onyx_kernel_def onyx_cpu_layout_kernels[];      /* layout.c, gather.c, ... */
extern const onyx_kernel_def onyx_cpu_control_kernels[];     /* control.c (If) */

/* If's branch choice and prepare (runs the branch, sets output shapes), shared with the CUDA
 * provider's If. */
onyx_status control_if_branch(onyx_kernel_ctx *ctx, const onyx_graph **out);
onyx_status control_if_prepare(onyx_kernel_ctx *ctx);

/* NULL-terminated list of the tables above. */
extern const onyx_kernel_def *const onyx_cpu_kernel_tables[];

#endif
