/*
 * optimize.c - constant folding with the CPU kernels (see optimize.h).
 */
#include "runtime/optimize.h"

#include <string.h>

#include "core/alloc.h"
#include "core/status.h"

/* Generators whose large outputs are cheaper to recompute than to keep. */
static int fold_would_bloat(const onyx_node *n, const onyx_tensor *const *outputs) {
    static const char *generators[] = {"ConstantOfShape", "Expand", "Tile", "Range", NULL};
    for (int k = 0; generators[k]; k++)
        if (strcmp(n->op_type, generators[k]) == 0)
            for (int o = 0; o < n->n_outputs; o++)
                if (outputs[o] && outputs[o]->nbytes > (1u << 20)) return 1;
    return 0;
}

static onyx_status fold_node(onyx_graph *g, onyx_node *n, const onyx_kernel_def *k, int threads, int *done) {
    enum { MAX_IO = 64 };
    const onyx_tensor *inputs[MAX_IO];
    onyx_tensor *outputs[MAX_IO];
    onyx_tensor shapes[MAX_IO];
    *done = 0;
    if (n->n_inputs > MAX_IO || n->n_outputs > MAX_IO) return ONYX_OK;
    for (int i = 0; i < n->n_inputs; i++) inputs[i] = n->inputs[i] >= 0 ? g->values[n->inputs[i]].constant : NULL;
    for (int o = 0; o < n->n_outputs; o++) {
        onyx_tensor_init(&shapes[o]);
        outputs[o] = n->outputs[o] >= 0 ? &shapes[o] : NULL;
    }
    onyx_kernel_ctx ctx = {.graph = g, .node = n, .n_inputs = n->n_inputs, .inputs = inputs,
                           .n_outputs = n->n_outputs, .outputs = outputs, .threads = threads};
    if (k->prepare(&ctx) != ONYX_OK) {
        onyx_error_clear(); /* leave the node to run (and report) at run time */
        return ONYX_OK;
    }
    if (fold_would_bloat(n, (const onyx_tensor *const *)outputs)) return ONYX_OK;
    onyx_tensor *made[MAX_IO] = {0};
    onyx_status st = ONYX_OK;
    for (int o = 0; o < n->n_outputs && st == ONYX_OK; o++) {
        if (!outputs[o]) continue;
        st = onyx_onnx_model_new_tensor(g->model, &made[o]);
        if (st == ONYX_OK) st = onyx_tensor_set_shape(made[o], shapes[o].dtype, shapes[o].dims, shapes[o].rank, "folded value");
        if (st == ONYX_OK) st = onyx_tensor_alloc_data(made[o]);
        outputs[o] = made[o];
    }
    void *workspace = NULL;
    if (st == ONYX_OK && ctx.workspace_bytes) {
        workspace = onyx_malloc_aligned(ctx.workspace_bytes);
        if (!workspace) st = ONYX_ERR_OUT_OF_MEMORY;
    }
    ctx.workspace = workspace;
    if (st == ONYX_OK && k->run(&ctx) != ONYX_OK) {
        onyx_error_clear();
        onyx_free_aligned(workspace);
        return ONYX_OK; /* the model-owned tensors are freed with the model */
    }
    onyx_free_aligned(workspace);
    if (st != ONYX_OK) return st;
    for (int o = 0; o < n->n_outputs; o++) {
        if (!made[o]) continue;
        onyx_value *val = &g->values[n->outputs[o]];
        val->kind = ONYX_VALUE_CONSTANT;
        val->constant = made[o];
        val->dtype = made[o]->dtype;
        val->producer = -1;
    }
    *done = 1;
    return ONYX_OK;
}

typedef struct fold_job {
    const onyx_kernel_def *const *tables;
    int threads;
    int *folded; /* summed over the subgraphs */
} fold_job;

static onyx_status fold_subgraph(onyx_graph *sub, void *ctx) {
    fold_job *job = ctx;
    int n = 0;
    onyx_status st = onyx_fold_constants(sub, job->tables, job->threads, &n);
    *job->folded += n;
    return st;
}

onyx_status onyx_fold_constants(onyx_graph *g, const onyx_kernel_def *const *tables, int threads, int *folded) {
    *folded = 0;
    int w = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        onyx_node *n = &g->nodes[i];
        int foldable = n->n_outputs > 0;
        for (int a = 0; a < n->n_attrs && foldable; a++)
            if (n->attrs[a].type == ONYX_ATTR_GRAPH || n->attrs[a].type == ONYX_ATTR_GRAPHS) foldable = 0;
        for (int k = 0; k < n->n_inputs && foldable; k++) {
            int v = n->inputs[k];
            if (v >= 0 && (g->values[v].kind != ONYX_VALUE_CONSTANT || onyx_graph_is_input(g, v))) foldable = 0;
        }
        for (int o = 0; o < n->n_outputs && foldable; o++)
            if (n->outputs[o] >= 0 && g->values[n->outputs[o]].is_graph_output) foldable = 0;
        int done = 0;
        if (foldable) {
            const onyx_kernel_def *k = onyx_kernel_lookup(tables, n->op_type, n->domain, n->opset, ONYX_DTYPE_UNDEFINED, NULL, 0);
            if (k && k->type_input >= 0 && k->type_input < n->n_inputs && n->inputs[k->type_input] >= 0)
                k = onyx_kernel_lookup(tables, n->op_type, n->domain, n->opset,
                                       g->values[n->inputs[k->type_input]].constant->dtype, NULL, 0);
            if (k) ONYX_TRY(fold_node(g, n, k, threads, &done));
        }
        if (done) (*folded)++;
        else g->nodes[w++] = *n;
    }
    g->n_nodes = w;
    for (int v = 0; v < g->n_values; v++)
        if (g->values[v].kind != ONYX_VALUE_CONSTANT) g->values[v].producer = -1;
    for (int i = 0; i < g->n_nodes; i++)
        for (int o = 0; o < g->nodes[i].n_outputs; o++)
            if (g->nodes[i].outputs[o] >= 0) g->values[g->nodes[i].outputs[o]].producer = i;
    /* Subgraphs too: Optimum's merged decoders hold each whole decoder in an If branch, whose
     * Constant nodes and shape arithmetic on them would otherwise run at every step. Values of
     * enclosing graphs stay OUTER there, so only what a branch computes from its own constants
     * folds. */
    fold_job job = {tables, threads, folded};
    return onyx_graph_each_subgraph(g, fold_subgraph, &job);
}
