/*
 * test_optimize.c - constant folding (src/runtime/optimize.c) inside subgraphs: the If branches
 * of Optimum's merged decoders hold whole decoders, whose Constant nodes and the arithmetic on
 * them must fold at load time as the top graph's do. That the folded models still compute the
 * transformers references is test_model's part.
 */
#include <stdio.h>
#include <string.h>

#include "graph/ir.h"
#include "graph/passes.h"
#include "harness.h"
#include "onnx/loader.h"
#include "providers/cpu/cpu_tables.h"
#include "runtime/optimize.h"

/* Nodes of the subgraphs of g's nodes (at any depth), and how many of them are Constant nodes
 * that do not write a branch output. */
static void count_branch_nodes(const onyx_graph *g, int *nodes, int *constants) {
    for (int i = 0; i < g->n_nodes; i++)
        for (int a = 0; a < g->nodes[i].n_attrs; a++) {
            const onyx_graph *sub = g->nodes[i].attrs[a].type == ONYX_ATTR_GRAPH ? g->nodes[i].attrs[a].g : NULL;
            if (!sub) continue;
            *nodes += sub->n_nodes;
            for (int k = 0; k < sub->n_nodes; k++) {
                const onyx_node *n = &sub->nodes[k];
                /* a Constant writing a branch output stays: the branch must produce it */
                int output = n->n_outputs == 1 && n->outputs[0] >= 0 && sub->values[n->outputs[0]].is_graph_output;
                *constants += !strcmp(n->op_type, "Constant") && !output;
            }
            count_branch_nodes(sub, nodes, constants);
        }
}

static void check_merged_decoder(const char *folder) {
    char path[512];
    snprintf(path, sizeof path, "%s/tests/models/%s/decoder_model_merged.onnx", ONYX_SOURCE_DIR, folder);
    onyx_onnx_model *m = NULL;
    ONYX_CHECK_OK(onyx_onnx_load_file(path, &m));
    if (!m) return;
    int nodes = 0, constants = 0, folded = 0;
    count_branch_nodes(m->graph, &nodes, &constants);
    fprintf(stderr, "  %s: %d branch nodes, %d Constant\n", folder, nodes, constants);
    ONYX_CHECK(constants > 0);
    ONYX_CHECK_OK(onyx_graph_infer_dtypes(m->graph));
    ONYX_CHECK_OK(onyx_fold_constants(m->graph, onyx_cpu_kernel_tables, 1, &folded));
    int nodes_after = 0, constants_after = 0;
    count_branch_nodes(m->graph, &nodes_after, &constants_after);
    fprintf(stderr, "  folded %d: %d branch nodes, %d Constant\n", folded, nodes_after, constants_after);
    ONYX_CHECK_INT(constants_after, 0);
    ONYX_CHECK(nodes_after <= nodes - constants); /* each such Constant is gone */
    onyx_onnx_model_destroy(m);
}

static void test_folding_in_if_branches(void) {
    check_merged_decoder("t5-ts17");
    check_merged_decoder("m2m100-ts14");
}

int main(void) {
    ONYX_TEST_RUN(test_folding_in_if_branches);
    return onyx_test_finish();
}
