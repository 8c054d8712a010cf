/*
 * test_optimize.c - constant folding (src/runtime/optimize.c) inside subgraphs: the If branches
 * of Optimum's merged decoders hold whole decoders, whose Constant nodes and the arithmetic on
 * them must fold at load time as the top graph's do. That the folded models still compute the
 * transformers references is test_model's part.
 */
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "graph/ir.h"
#include "graph/passes.h"
#include "harness.h"
#include "onnx/loader.h"
#include "providers/cpu/cpu_tables.h"
#include "runtime/optimize.h"

/* fn for every node of the subgraphs of g's nodes, at any depth. */
static void each_branch_node(const onyx_graph *g, void (*fn)(const onyx_graph *sub, const onyx_node *n, void *ctx),
                             void *ctx) {
    for (int i = 0; i < g->n_nodes; i++)
        for (int a = 0; a < g->nodes[i].n_attrs; a++) {
            const onyx_graph *sub = g->nodes[i].attrs[a].type == ONYX_ATTR_GRAPH ? g->nodes[i].attrs[a].g : NULL;
            if (!sub) continue;
            for (int k = 0; k < sub->n_nodes; k++) fn(sub, &sub->nodes[k], ctx);
            each_branch_node(sub, fn, ctx);
        }
}

typedef struct branch_nodes {
    int nodes, constants;
} branch_nodes;

static void count_node(const onyx_graph *sub, const onyx_node *n, void *ctx) {
    branch_nodes *c = ctx;
    c->nodes++;
    /* a Constant writing a branch output stays: the branch must produce it */
    int output = n->n_outputs == 1 && n->outputs[0] >= 0 && sub->values[n->outputs[0]].is_graph_output;
    c->constants += !strcmp(n->op_type, "Constant") && !output;
}

/* Nodes of the subgraphs of g's nodes (at any depth), and how many of them are Constant nodes
 * that do not write a branch output. */
static void count_branch_nodes(const onyx_graph *g, int *nodes, int *constants) {
    branch_nodes c = {0, 0};
    each_branch_node(g, count_node, &c);
    *nodes += c.nodes;
    *constants += c.constants;
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

/* A value of sub that is a constant there or names one of an enclosing graph (or, with
 * through_identities, the output of Identity nodes of such a value). */
static int resolves_to_constant(const onyx_graph *g, int v, int through_identities) {
    while (g && v >= 0) {
        int p = g->values[v].producer;
        if (through_identities && p >= 0 && !strcmp(g->nodes[p].op_type, "Identity") && g->nodes[p].n_inputs == 1) {
            v = g->nodes[p].inputs[0];
            continue;
        }
        if (g->values[v].kind == ONYX_VALUE_CONSTANT) return 1;
        if (g->values[v].kind != ONYX_VALUE_OUTER || !g->parent) return 0;
        v = onyx_graph_find_value(g->parent, g->values[v].name);
        g = g->parent;
    }
    return 0;
}

typedef struct branch_ops {
    int reduce_means, pows, norms, matmul_bias, identities_of_constants, biased_matmuls;
} branch_ops;

static void count_op(const onyx_graph *sub, const onyx_node *n, void *ctx) {
    branch_ops *c = ctx;
    c->reduce_means += !strcmp(n->op_type, "ReduceMean");
    c->pows += !strcmp(n->op_type, "Pow");
    c->norms += !strcmp(n->op_type, "SimplifiedLayerNormalization") ||
                !strcmp(n->op_type, "SkipSimplifiedLayerNormalization");
    c->matmul_bias += !strcmp(n->op_type, "MatMulBias");
    if (!strcmp(n->op_type, "Identity") && n->n_inputs == 1 && resolves_to_constant(sub, n->inputs[0], 0))
        c->identities_of_constants++;
    if (!strcmp(n->op_type, "Add") && n->n_inputs == 2)
        for (int j = 0; j < 2; j++) {
            int p = n->inputs[j] >= 0 ? sub->values[n->inputs[j]].producer : -1;
            if (p >= 0 && !strcmp(sub->nodes[p].op_type, "MatMul") && resolves_to_constant(sub, n->inputs[1 - j], 1))
                c->biased_matmuls++;
        }
}

/* What the fusions should have left in g's branches (any depth): RMS norms (ReduceMean, Pow)
 * and Linear layers (Add of a MatMul output and a constant) not fused, and Identity nodes of
 * constants, against the fused nodes. */
static void count_branch_ops(const onyx_graph *g, branch_ops *c) { each_branch_node(g, count_op, c); }

/* Fusions reach the weights a merged decoder's branches read from the main graph: every RMS
 * norm of T5's branches and every Linear layer of M2M100's is fused, and the Identities through
 * which the branches read shared weights are gone. */
static void check_fused_branches(const char *folder, int want_norms, int want_linears) {
    char path[512];
    snprintf(path, sizeof path, "%s/tests/models/%s/decoder_model_merged.onnx", ONYX_SOURCE_DIR, folder);
    onyx_onnx_model *m = NULL;
    ONYX_CHECK_OK(onyx_onnx_load_file(path, &m));
    if (!m) return;
    int folded = 0, fused = 0;
    ONYX_CHECK_OK(onyx_graph_infer_dtypes(m->graph));
    ONYX_CHECK_OK(onyx_fold_constants(m->graph, onyx_cpu_kernel_tables, 1, &folded));
    branch_ops before = {0}, after = {0};
    count_branch_ops(m->graph, &before);
    ONYX_CHECK_OK(onyx_graph_fuse(m->graph, 0, &fused));
    count_branch_ops(m->graph, &after);
    fprintf(stderr, "  %s: ReduceMean %d -> %d, norms %d, Linear %d -> MatMulBias %d, Identity of a constant %d -> %d\n",
            folder, before.reduce_means, after.reduce_means, after.norms, before.biased_matmuls, after.matmul_bias,
            before.identities_of_constants, after.identities_of_constants);
    if (want_norms) {
        ONYX_CHECK_INT(before.reduce_means, want_norms);
        ONYX_CHECK_INT(after.norms, want_norms);
        ONYX_CHECK_INT(after.reduce_means, 0);
        ONYX_CHECK_INT(after.pows, 0);
    }
    if (want_linears) {
        ONYX_CHECK_INT(before.biased_matmuls, want_linears);
        ONYX_CHECK_INT(after.matmul_bias, want_linears);
        ONYX_CHECK_INT(after.biased_matmuls, 0);
    }
    ONYX_CHECK(before.identities_of_constants > 0);
    ONYX_CHECK_INT(after.identities_of_constants, 0);
    onyx_onnx_model_destroy(m);
}

static void test_fusion_in_if_branches(void) {
    check_fused_branches("t5-ts17", 14, 0);          /* 2 blocks x 3 norms + the final one, per branch */
    /* per layer self q, k, v, out, cross q, out, fc1, fc2, and cross k, v where the branch makes
     * them (no past): 2 layers, 20 + 16 */
    check_fused_branches("m2m100-ts14", 0, 36);
}

static void test_folding_in_if_branches(void) {
    check_merged_decoder("t5-ts17");
    check_merged_decoder("m2m100-ts14");
}

/* Attention over heads fuses in float16 always and in float32 only with ONYX_FUSE_F32_ATTENTION
 * (sessions whose first provider is the CPU): the BERT fixtures' two layers. */
static int count_attention(const char *model, unsigned flags) {
    char path[512];
    snprintf(path, sizeof path, "%s/tests/models/%s/model.onnx", ONYX_SOURCE_DIR, model);
    onyx_onnx_model *m = NULL;
    ONYX_CHECK_OK(onyx_onnx_load_file(path, &m));
    if (!m) return -1;
    int folded = 0, fused = 0, n = 0;
    ONYX_CHECK_OK(onyx_graph_infer_dtypes(m->graph));
    ONYX_CHECK_OK(onyx_fold_constants(m->graph, onyx_cpu_kernel_tables, 1, &folded));
    ONYX_CHECK_OK(onyx_graph_fuse(m->graph, flags, &fused));
    for (int i = 0; i < m->graph->n_nodes; i++)
        n += !strcmp(m->graph->nodes[i].domain, "onyx") && !strcmp(m->graph->nodes[i].op_type, "Attention");
    onyx_onnx_model_destroy(m);
    return n;
}

static void test_attention_fusion_by_dtype_and_flag(void) {
    ONYX_CHECK_INT(count_attention("bert-text-classification-fp16-ts17", 0), 2);
    ONYX_CHECK_INT(count_attention("bert-text-classification-ts17", 0), 0);
    ONYX_CHECK_INT(count_attention("bert-text-classification-ts17", ONYX_FUSE_F32_ATTENTION), 2);
    ONYX_CHECK_INT(count_attention("distilbert-text-classification-ts14", ONYX_FUSE_F32_ATTENTION), 2);
}

/* The BERT fixture after the session's folding and fusions, its nodes on "provider 0" but the
 * first MatMul with a 2-D constant weight, which goes on "provider 1"; the other such nodes,
 * their weights' dims and a copy of their data. */
enum { MAX_W = 64 };
typedef struct bert_weights {
    onyx_onnx_model *m;
    int nodes[MAX_W], n_w, other;
    float *before[MAX_W];
    int64_t rows[MAX_W], cols[MAX_W];
} bert_weights;

static int load_bert_weights(bert_weights *b) {
    char path[512];
    snprintf(path, sizeof path, "%s/tests/models/bert-text-classification-ts17/model.onnx", ONYX_SOURCE_DIR);
    memset(b, 0, sizeof *b);
    b->other = -1;
    ONYX_CHECK_OK(onyx_onnx_load_file(path, &b->m));
    if (!b->m) return -1;
    onyx_graph *g = b->m->graph;
    int folded = 0, fused = 0;
    ONYX_CHECK_OK(onyx_graph_infer_dtypes(g));
    ONYX_CHECK_OK(onyx_fold_constants(g, onyx_cpu_kernel_tables, 1, &folded));
    ONYX_CHECK_OK(onyx_graph_fuse(g, ONYX_FUSE_F32_ATTENTION, &fused));
    for (int i = 0; i < g->n_nodes; i++) {
        onyx_node *n = &g->nodes[i];
        n->provider = 0;
        int mm = !strcmp(n->op_type, "MatMul") || !strcmp(n->op_type, "MatMulBias");
        const onyx_tensor *w = mm && n->n_inputs >= 2 ? onyx_graph_constant(g, n->inputs[1]) : NULL;
        if (!w || w->rank != 2 || b->n_w == MAX_W) continue;
        if (b->other < 0) {
            b->other = i;
            n->provider = 1;
            continue;
        }
        int k = b->n_w++;
        b->nodes[k] = i;
        b->rows[k] = w->dims[0];
        b->cols[k] = w->dims[1];
        b->before[k] = onyx_malloc(w->nbytes);
        if (b->before[k]) memcpy(b->before[k], w->data, w->nbytes);
    }
    return 0;
}

static void free_bert_weights(bert_weights *b) {
    for (int k = 0; k < b->n_w; k++) onyx_free(b->before[k]);
    onyx_onnx_model_destroy(b->m);
}

/* Weights stored transposed for one provider (src/graph/weight_layout.c), on the BERT fixture
 * after the session's folding and fusions: each layer's q, k, v, attention output and FFN down
 * MatMulBias and its FFN up MatMul (its bias went to BiasGelu) become MatMulBias with transB = 1
 * and their weights (N, K), the same numbers; a node placed on another provider keeps its own. */
static void test_transposed_weights(void) {
    bert_weights bw;
    if (load_bert_weights(&bw)) return;
    onyx_graph *g = bw.m->graph;
    int count = -1, n_w = bw.n_w, other = bw.other, *nodes = bw.nodes;
    float **before = bw.before;
    const int64_t *rows = bw.rows, *cols = bw.cols;
    ONYX_CHECK_INT(n_w + 1, 2 * 6);
    ONYX_CHECK_OK(onyx_graph_transpose_weights(g, 0, ONYX_DT(FLOAT16), &count)); /* not this model's dtype */
    ONYX_CHECK_INT(count, 0);
    ONYX_CHECK_OK(onyx_graph_transpose_weights(g, 0, ONYX_DT(FLOAT32), &count));
    ONYX_CHECK_INT(count, n_w);
    for (int k = 0; k < n_w; k++) {
        const onyx_node *n = &g->nodes[nodes[k]];
        ONYX_CHECK(!strcmp(n->op_type, "MatMulBias"));
        ONYX_CHECK(!strcmp(n->domain, "onyx"));
        ONYX_CHECK_INT(onyx_node_attr_int(n, "transB", 0), 1);
        const onyx_tensor *w = onyx_graph_constant(g, n->inputs[1]);
        ONYX_CHECK(w && w->rank == 2 && w->dims[0] == cols[k] && w->dims[1] == rows[k]);
        if (!w || !before[k] || w->rank != 2 || w->dims[0] != cols[k]) continue;
        int bad = 0;
        for (int64_t r = 0; r < rows[k]; r++)
            for (int64_t c = 0; c < cols[k]; c++) bad += ((const float *)w->data)[c * rows[k] + r] != before[k][r * cols[k] + c];
        ONYX_CHECK_INT(bad, 0);
    }
    ONYX_CHECK_INT(onyx_node_attr_int(&g->nodes[other], "transB", 0), 0);
    /* a second pass finds nothing left to do */
    ONYX_CHECK_OK(onyx_graph_transpose_weights(g, 0, ONYX_DT(FLOAT32), &count));
    ONYX_CHECK_INT(count, 0);
    free_bert_weights(&bw);
}

/* Weights packed in panels for the cpu provider (onyx_graph_pack_weights) on the BERT fixture
 * after the session's folding and fusions: the same 11 nodes as the transposed layout become
 * MatMulBias with packedN = N, their weights (ceil(N / 32), K, 32) with every element in its
 * panel's place and the padding zero; a node on another provider keeps its weight; a second
 * pass finds nothing to do. */
static void test_packed_weights(void) {
    bert_weights bw;
    if (load_bert_weights(&bw)) return;
    onyx_graph *g = bw.m->graph;
    int count = -1, n_w = bw.n_w, other = bw.other, *nodes = bw.nodes;
    float **before = bw.before;
    const int64_t *rows = bw.rows, *cols = bw.cols;
    ONYX_CHECK_INT(n_w, 11);
    ONYX_CHECK_OK(onyx_graph_pack_weights(g, 0, &count));
    ONYX_CHECK_INT(count, n_w);
    const int64_t width = ONYX_WEIGHT_PANEL;
    for (int k = 0; k < n_w; k++) {
        const onyx_node *n = &g->nodes[nodes[k]];
        ONYX_CHECK(!strcmp(n->op_type, "MatMulBias") && !strcmp(n->domain, "onyx"));
        ONYX_CHECK_INT(onyx_node_attr_int(n, "packedN", 0), cols[k]);
        const onyx_tensor *w = onyx_graph_constant(g, n->inputs[1]);
        int64_t panels = (cols[k] + width - 1) / width;
        ONYX_CHECK(w && w->rank == 3 && w->dims[0] == panels && w->dims[1] == rows[k] && w->dims[2] == width);
        if (!w || !before[k] || w->rank != 3 || w->dims[0] != panels || w->dims[1] != rows[k]) continue;
        const float *p = w->data;
        int bad = 0;
        for (int64_t q = 0; q < panels; q++)
            for (int64_t r = 0; r < rows[k]; r++)
                for (int64_t j = 0; j < width; j++) {
                    int64_t col = q * width + j;
                    float want = col < cols[k] ? before[k][r * cols[k] + col] : 0.0f;
                    bad += p[(q * rows[k] + r) * width + j] != want;
                }
        ONYX_CHECK_INT(bad, 0);
    }
    ONYX_CHECK_INT(onyx_node_attr_int(&g->nodes[other], "packedN", 0), 0);
    ONYX_CHECK_OK(onyx_graph_pack_weights(g, 0, &count));
    ONYX_CHECK_INT(count, 0);
    free_bert_weights(&bw);
}

/* Products of a transposed B on the GPT2 fixture with a key/value cache: each layer's
 * MatMul(Q, Transpose(Concat(past key, key), swapping the last two axes)) becomes onyx
 * MatMulBias(Q, Concat) with transB = 1 and its Transpose is removed, only with
 * ONYX_FUSE_TRANSPOSED_B. That the fused model still computes transformers' logits is
 * test_model's part (the cpu sessions fuse it). */
static int count_key_products(const char *folder, unsigned flags, int *fused_nodes, int *transposes) {
    char path[512];
    snprintf(path, sizeof path, "%s/tests/models/%s/model.onnx", ONYX_SOURCE_DIR, folder);
    onyx_onnx_model *m = NULL;
    ONYX_CHECK_OK(onyx_onnx_load_file(path, &m));
    if (!m) return -1;
    onyx_graph *g = m->graph;
    int folded = 0, fused = 0, plain = 0;
    ONYX_CHECK_OK(onyx_graph_infer_dtypes(g));
    ONYX_CHECK_OK(onyx_fold_constants(g, onyx_cpu_kernel_tables, 1, &folded));
    ONYX_CHECK_OK(onyx_graph_fuse(g, flags, &fused));
    *fused_nodes = 0;
    *transposes = 0;
    int *producer = onyx_calloc((size_t)g->n_values + 1, sizeof *producer);
    for (int i = 0; producer && i < g->n_nodes; i++)
        for (int o = 0; o < g->nodes[i].n_outputs; o++)
            if (g->nodes[i].outputs[o] >= 0) producer[g->nodes[i].outputs[o]] = i + 1;
    for (int i = 0; producer && i < g->n_nodes; i++) {
        const onyx_node *n = &g->nodes[i];
        *transposes += !strcmp(n->op_type, "Transpose");
        if (n->n_inputs < 2 || n->inputs[1] < 0 || !producer[n->inputs[1]]) continue;
        const onyx_node *b = &g->nodes[producer[n->inputs[1]] - 1];
        if (!strcmp(n->op_type, "MatMul") && !strcmp(b->op_type, "Transpose")) plain++;
        if (!strcmp(n->op_type, "MatMulBias") && onyx_node_attr_int(n, "transB", 0) == 1) {
            ONYX_CHECK(!strcmp(n->domain, "onyx"));
            ONYX_CHECK_INT(n->n_inputs, 2);
            ONYX_CHECK(!strcmp(b->op_type, "Concat")); /* the cache, read directly */
            (*fused_nodes)++;
        }
    }
    onyx_free(producer);
    onyx_onnx_model_destroy(m);
    return plain;
}

static void test_transposed_b_fusion(void) {
    int fused = -1, transposes_before = -1, transposes_after = -1;
    /* the fixture has 3 layers */
    ONYX_CHECK_INT(count_key_products("gpt2-ts17", ONYX_FUSE_F32_ATTENTION, &fused, &transposes_before), 3);
    ONYX_CHECK_INT(fused, 0);
    ONYX_CHECK_INT(count_key_products("gpt2-ts17", ONYX_FUSE_F32_ATTENTION | ONYX_FUSE_TRANSPOSED_B, &fused,
                                      &transposes_after),
                   0);
    ONYX_CHECK_INT(fused, 3);
    ONYX_CHECK_INT(transposes_after, transposes_before - 3);
    ONYX_CHECK_INT(count_key_products("gpt2-fp16-ts17", ONYX_FUSE_TRANSPOSED_B, &fused, &transposes_after), 0);
    ONYX_CHECK_INT(fused, 3);
}

int main(void) {
    ONYX_TEST_RUN(test_attention_fusion_by_dtype_and_flag);
    ONYX_TEST_RUN(test_folding_in_if_branches);
    ONYX_TEST_RUN(test_fusion_in_if_branches);
    ONYX_TEST_RUN(test_transposed_weights);
    ONYX_TEST_RUN(test_transposed_b_fusion);
    ONYX_TEST_RUN(test_packed_weights);
    return onyx_test_finish();
}
