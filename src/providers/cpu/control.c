/*
 * control.c - control flow on the CPU: If. The chosen branch runs through the runtime
 * (ctx->run_subgraph) during prepare, which fixes the output shapes; run copies the branch's
 * results into the outputs, except those the runtime handed over (ONYX_KERNEL_SUBGRAPH_OUTPUTS).
 */
#include <string.h>

#include "providers/cpu/cpu_tables.h"

onyx_status control_if_branch(onyx_kernel_ctx *ctx, const onyx_graph **out) {
    ONYX_TRY(onyx_kernel_require(ctx, 0));
    const onyx_tensor *cond = ctx->inputs[0];
    if (cond->dtype != ONYX_DTYPE_BOOL || onyx_shape_numel(cond->dims, cond->rank) != 1)
        return onyx_error(ONYX_ERR_INVALID_MODEL, "If: cond must be a bool tensor of one element, got %s[%lld elements]",
                          onyx_dtype_name(cond->dtype), (long long)onyx_shape_numel(cond->dims, cond->rank));
    int taken = ((const uint8_t *)cond->data)[0] != 0;
    const onyx_graph *branch = onyx_node_attr_graph(ctx->node, taken ? "then_branch" : "else_branch");
    if (!branch)
        return onyx_error(ONYX_ERR_INVALID_MODEL, "If: attribute %s is missing", taken ? "then_branch" : "else_branch");
    if (branch->n_outputs != ctx->n_outputs)
        return onyx_error(ONYX_ERR_INVALID_MODEL, "If: %s has %d outputs but the node has %d",
                          taken ? "then_branch" : "else_branch", branch->n_outputs, ctx->n_outputs);
    *out = branch;
    return ONYX_OK;
}

onyx_status control_if_prepare(onyx_kernel_ctx *ctx) {
    const onyx_graph *branch;
    ONYX_TRY(control_if_branch(ctx, &branch));
    if (!ctx->run_subgraph) return onyx_error(ONYX_ERR_RUNTIME, "If: no runtime to run the branch");
    onyx_tensor *const *results;
    ONYX_TRY(ctx->run_subgraph(ctx, branch, &results));
    for (int i = 0; i < ctx->n_outputs; i++)
        if (ctx->outputs[i])
            ONYX_TRY(onyx_tensor_set_shape(ctx->outputs[i], results[i]->dtype, results[i]->dims, results[i]->rank,
                                           "If output"));
    return ONYX_OK;
}

static onyx_status if_run(onyx_kernel_ctx *ctx) {
    const onyx_graph *branch;
    ONYX_TRY(control_if_branch(ctx, &branch));
    onyx_tensor *const *results;
    ONYX_TRY(ctx->run_subgraph(ctx, branch, &results)); /* returns the results of prepare's run */
    for (int i = 0; i < ctx->n_outputs; i++)
        if (ctx->outputs[i] && ctx->outputs[i]->data != results[i]->data) /* else handed over */
            ONYX_TRY(onyx_tensor_copy_data(ctx->outputs[i], results[i]));
    return ONYX_OK;
}

const onyx_kernel_def onyx_cpu_control_kernels[] = {
    {"If", "", 1, 10, -1, 0, 1u << 0, control_if_prepare, if_run, 0, ONYX_KERNEL_SUBGRAPH_OUTPUTS},
    {"If", "", 11, 12, -1, 0, 1u << 0, control_if_prepare, if_run, 0, ONYX_KERNEL_SUBGRAPH_OUTPUTS},
    {"If", "", 13, 15, -1, 0, 1u << 0, control_if_prepare, if_run, 0, ONYX_KERNEL_SUBGRAPH_OUTPUTS},
    {"If", "", 16, ONYX_OPSET_MAX, -1, 0, 1u << 0, control_if_prepare, if_run, 0, ONYX_KERNEL_SUBGRAPH_OUTPUTS},
    {0},
};
