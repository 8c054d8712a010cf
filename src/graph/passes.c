/*
 * passes.c - dtype inference and dead-node removal (see passes.h).
 */
#include "graph/passes.h"

#include <string.h>

#include "core/alloc.h"
#include "core/status.h"

static int op_is(const onyx_node *n, const char *op) { return strcmp(n->op_type, op) == 0; }

static onyx_dtype input_dtype(const onyx_graph *g, const onyx_node *n, int i) {
    if (i >= n->n_inputs || n->inputs[i] < 0) return ONYX_DTYPE_UNDEFINED;
    return g->values[n->inputs[i]].dtype;
}

/* The dtype rule of output o of node n. */
static onyx_dtype infer_output(const onyx_graph *g, const onyx_node *n, int o) {
    static const char *bool_ops[] = {"Equal", "Greater", "GreaterOrEqual", "Less", "LessOrEqual", "And", "Or",
                                     "Xor", "Not", "IsNaN", "IsInf", NULL};
    for (int k = 0; bool_ops[k]; k++)
        if (op_is(n, bool_ops[k])) return ONYX_DTYPE_BOOL;
    if (op_is(n, "Shape") || op_is(n, "Size") || op_is(n, "ArgMax") || op_is(n, "ArgMin") || op_is(n, "NonZero"))
        return ONYX_DTYPE_INT64;
    if (op_is(n, "Cast")) return (onyx_dtype)onyx_node_attr_int(n, "to", 0);
    if (op_is(n, "CastLike")) return input_dtype(g, n, 1);
    if (op_is(n, "TopK")) return o == 1 ? ONYX_DTYPE_INT64 : input_dtype(g, n, 0);
    if (op_is(n, "Dropout")) return o == 1 ? ONYX_DTYPE_BOOL : input_dtype(g, n, 0);
    if (op_is(n, "Where")) return input_dtype(g, n, 1);
    if (op_is(n, "MatMulInteger")) return ONYX_DTYPE_INT32;
    if (op_is(n, "DynamicQuantizeLinear")) return o == 1 ? ONYX_DTYPE_FLOAT32 : ONYX_DTYPE_UINT8;
    if (op_is(n, "QuantizeLinear")) {
        onyx_dtype zp = input_dtype(g, n, 2);
        return zp != ONYX_DTYPE_UNDEFINED ? zp : ONYX_DTYPE_UINT8;
    }
    if (op_is(n, "DequantizeLinear")) return input_dtype(g, n, 1) != ONYX_DTYPE_UNDEFINED ? input_dtype(g, n, 1) : ONYX_DTYPE_FLOAT32;
    if (op_is(n, "LayerNormalization") && o > 0) return (onyx_dtype)onyx_node_attr_int(n, "stash_type", 1);
    if (op_is(n, "Constant")) {
        const onyx_tensor *t = onyx_node_attr_tensor(n, "value");
        if (t) return t->dtype;
        if (onyx_node_attr(n, "value_float") || onyx_node_attr(n, "value_floats")) return ONYX_DTYPE_FLOAT32;
        if (onyx_node_attr(n, "value_int") || onyx_node_attr(n, "value_ints")) return ONYX_DTYPE_INT64;
        if (onyx_node_attr(n, "value_string") || onyx_node_attr(n, "value_strings")) return ONYX_DTYPE_STRING;
        return ONYX_DTYPE_UNDEFINED;
    }
    if (op_is(n, "ConstantOfShape")) {
        const onyx_tensor *t = onyx_node_attr_tensor(n, "value");
        return t ? t->dtype : ONYX_DTYPE_FLOAT32;
    }
    if (op_is(n, "If")) {
        const onyx_graph *branch = onyx_node_attr_graph(n, "then_branch");
        if (branch && o < branch->n_outputs) return branch->values[branch->outputs[o]].dtype;
        return ONYX_DTYPE_UNDEFINED;
    }
    /* Everything else in onyx's op set: the dtype of the first present input. */
    for (int i = 0; i < n->n_inputs; i++)
        if (n->inputs[i] >= 0) return input_dtype(g, n, i);
    return ONYX_DTYPE_UNDEFINED;
}

onyx_status onyx_graph_infer_dtypes(onyx_graph *g) {
    for (int v = 0; v < g->n_values; v++) {
        onyx_value *val = &g->values[v];
        if (val->kind == ONYX_VALUE_CONSTANT && val->constant) val->dtype = val->constant->dtype;
        if (val->kind == ONYX_VALUE_OUTER && g->parent && val->dtype == ONYX_DTYPE_UNDEFINED) {
            for (const onyx_graph *p = g->parent; p; p = p->parent) {
                int id = onyx_graph_find_value(p, val->name);
                if (id >= 0) {
                    val->dtype = p->values[id].dtype;
                    break;
                }
            }
        }
    }
    for (int i = 0; i < g->n_nodes; i++) {
        onyx_node *n = &g->nodes[i];
        for (int a = 0; a < n->n_attrs; a++)
            if (n->attrs[a].type == ONYX_ATTR_GRAPH && n->attrs[a].g) ONYX_TRY(onyx_graph_infer_dtypes(n->attrs[a].g));
        for (int o = 0; o < n->n_outputs; o++) {
            if (n->outputs[o] < 0) continue;
            onyx_value *val = &g->values[n->outputs[o]];
            onyx_dtype inferred = infer_output(g, n, o);
            if (val->dtype == ONYX_DTYPE_UNDEFINED) val->dtype = inferred;
        }
    }
    return ONYX_OK;
}

onyx_status onyx_graph_count_readers(const onyx_graph *g, int *readers) {
    memset(readers, 0, (size_t)g->n_values * sizeof *readers);
    unsigned char *outer = onyx_calloc((size_t)g->n_values + 1, 1);
    if (!outer) return ONYX_ERR_OUT_OF_MEMORY;
    for (int i = 0; i < g->n_nodes; i++) {
        const onyx_node *n = &g->nodes[i];
        for (int k = 0; k < n->n_inputs; k++)
            if (n->inputs[k] >= 0) readers[n->inputs[k]]++;
        for (int a = 0; a < n->n_attrs; a++)
            if (n->attrs[a].type == ONYX_ATTR_GRAPH && n->attrs[a].g) onyx_graph_mark_outer_uses(g, n->attrs[a].g, outer);
    }
    for (int v = 0; v < g->n_values; v++)
        if (outer[v]) readers[v] += 2;
    for (int o = 0; o < g->n_outputs; o++) readers[g->outputs[o]] += 2;
    onyx_free(outer);
    return ONYX_OK;
}

void onyx_graph_mark_outer_uses(const onyx_graph *g, const onyx_graph *sub, unsigned char *live) {
    for (int v = 0; v < sub->n_values; v++) {
        if (sub->values[v].kind != ONYX_VALUE_OUTER) continue;
        int id = onyx_graph_find_value(g, sub->values[v].name);
        if (id >= 0) live[id] = 1;
    }
    for (int i = 0; i < sub->n_nodes; i++)
        for (int a = 0; a < sub->nodes[i].n_attrs; a++)
            if (sub->nodes[i].attrs[a].type == ONYX_ATTR_GRAPH && sub->nodes[i].attrs[a].g)
                onyx_graph_mark_outer_uses(g, sub->nodes[i].attrs[a].g, live);
}

onyx_status onyx_graph_remove_dead_nodes(onyx_graph *g, int *removed) {
    *removed = 0;
    unsigned char *live = onyx_calloc((size_t)g->n_values + 1, 1);
    unsigned char *keep = onyx_calloc((size_t)g->n_nodes + 1, 1);
    if (!live || !keep) {
        onyx_free(live);
        onyx_free(keep);
        return ONYX_ERR_OUT_OF_MEMORY;
    }
    for (int o = 0; o < g->n_outputs; o++) live[g->outputs[o]] = 1;
    /* Values a subgraph of this graph's parent chain might use are not ours to judge: a
     * subgraph keeps everything its parent's If uses, so only the top graph is pruned. */
    for (int i = g->n_nodes - 1; i >= 0; i--) {
        const onyx_node *n = &g->nodes[i];
        int any = 0;
        for (int o = 0; o < n->n_outputs; o++)
            if (n->outputs[o] >= 0 && live[n->outputs[o]]) any = 1;
        if (!any) continue;
        keep[i] = 1;
        for (int k = 0; k < n->n_inputs; k++)
            if (n->inputs[k] >= 0) live[n->inputs[k]] = 1;
        for (int a = 0; a < n->n_attrs; a++)
            if (n->attrs[a].type == ONYX_ATTR_GRAPH && n->attrs[a].g) onyx_graph_mark_outer_uses(g, n->attrs[a].g, live);
    }
    int w = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        if (!keep[i]) {
            (*removed)++;
            continue;
        }
        g->nodes[w++] = g->nodes[i];
    }
    g->n_nodes = w;
    onyx_free(live);
    onyx_free(keep);
    for (int v = 0; v < g->n_values; v++) g->values[v].producer = -1;
    for (int i = 0; i < g->n_nodes; i++)
        for (int o = 0; o < g->nodes[i].n_outputs; o++)
            if (g->nodes[i].outputs[o] >= 0) g->values[g->nodes[i].outputs[o]].producer = i;
    return ONYX_OK;
}
