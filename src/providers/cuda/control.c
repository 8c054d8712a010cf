/*
 * control.c - control flow on the GPU: If. The condition is read on the host (host input 0);
 * the chosen branch runs through the runtime during prepare (the CPU provider's If prepare),
 * and run copies the branch's results, wherever they live, into the device outputs (those the
 * runtime did not hand over from the branch: ONYX_KERNEL_SUBGRAPH_OUTPUTS). So the merged
 * decoders of Optimum exports keep logits and KV caches on the GPU, uncopied.
 */
#include "providers/cpu/cpu_tables.h"
#include "providers/cuda/cuda_provider.h"

static onyx_status cuda_if_run(onyx_kernel_ctx *ctx) {
    const onyx_graph *branch;
    ONYX_TRY(control_if_branch(ctx, &branch));
    onyx_tensor *const *results;
    ONYX_TRY(ctx->run_subgraph(ctx, branch, &results)); /* the results of prepare's run */
    onyx_provider *p = ctx->provider;
    for (int i = 0; i < ctx->n_outputs; i++) {
        onyx_tensor *out = ctx->outputs[i];
        if (!out) continue;
        if (results[i]->dtype == ONYX_DTYPE_STRING)
            return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "If: output %d is a string tensor, which the GPU cannot hold", i);
        if (out->data == results[i]->data) continue; /* handed over (ONYX_KERNEL_SUBGRAPH_OUTPUTS) */
        ONYX_TRY(p->ops->copy(p, out->data, ONYX_DEVICE_CUDA, results[i]->data, results[i]->device, out->nbytes));
    }
    return ONYX_OK;
}


const onyx_kernel_def onyx_cuda_control_kernels[] = {
    {"If", "", 1, 10, -1, 0, 1u << 0, control_if_prepare, cuda_if_run, 0, ONYX_KERNEL_SUBGRAPH_OUTPUTS},
    {"If", "", 11, 12, -1, 0, 1u << 0, control_if_prepare, cuda_if_run, 0, ONYX_KERNEL_SUBGRAPH_OUTPUTS},
    {"If", "", 13, 15, -1, 0, 1u << 0, control_if_prepare, cuda_if_run, 0, ONYX_KERNEL_SUBGRAPH_OUTPUTS},
    {"If", "", 16, ONYX_OPSET_MAX, -1, 0, 1u << 0, control_if_prepare, cuda_if_run, 0, ONYX_KERNEL_SUBGRAPH_OUTPUTS},
    {0},
};
