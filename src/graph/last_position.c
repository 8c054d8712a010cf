/*
 * last_position.c - an output wanted only at the last position of its sequence dim (the logits
 * of a generate loop: transformers' logits_to_keep=1): the graph is rewritten so the product that
 * makes it reads only the last row. A prefill of S tokens then runs the LM head on one row per
 * sequence instead of S, and never holds the (batch, S, vocab) logits.
 *
 * The walk goes back from the output through Identity, Cast, elementwise Add/Sub/Mul/Div with a
 * scalar or 1-D constant (a logit scale, a final bias), and into both branches of an If (merged
 * decoders), to a MatMul whose right operand is a 2-D constant (the LM head; onyx_graph_constant
 * finds a merged decoder's in the main graph). Every value on the way must have no other reader
 * (onyx_graph_count_readers), so nothing else sees the shorter shape. Then
 * Slice(A, starts=[-1], ends=[INT64_MAX], axes=[1]) is put in front of the MatMul. The output
 * must be declared with rank 3 or more, so that axis 1 is its sequence. With a 2-D
 * right operand the product's rank is A's, so axis 1 of A is the output's axis 1. Anything else
 * leaves the graph as it is.
 */
#include <stdint.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "graph/passes.h"

#define LP_MAX_SITES 16
#define LP_MAX_DEPTH 32

typedef struct lp_site {
    onyx_graph *g;
    int node; /* the MatMul */
} lp_site;

typedef struct lp_out {
    onyx_graph *g;
    int value; /* an output of g on the way: the graph's, or an If branch's */
} lp_out;

typedef struct lp_plan {
    lp_site sites[LP_MAX_SITES];
    int n_sites;
    lp_out outs[LP_MAX_SITES];
    int n_outs;
} lp_plan;

static int is_small_constant(const onyx_graph *g, int v) {
    const onyx_tensor *t = onyx_graph_constant(g, v);
    return t && t->rank <= 1;
}

/* Add the MatMul sites behind value v of g to plan; 1 when every path ends at one. Every value on
 * the way must be read by the walk's node alone (readers: onyx_graph_count_readers of g). */
static int walk(onyx_graph *g, const int *readers, int v, lp_plan *plan, int depth);

/* The same for output k of If branch sub, read by nothing but the If. */
static int walk_branch(onyx_graph *sub, int k, lp_plan *plan, int depth) {
    if (k < 0 || k >= sub->n_outputs || plan->n_outs == LP_MAX_SITES) return 0;
    int sv = sub->outputs[k];
    int *readers = onyx_malloc((size_t)(sub->n_values ? sub->n_values : 1) * sizeof *readers);
    onyx_status st = readers ? onyx_graph_count_readers(sub, readers) : ONYX_ERR_OUT_OF_MEMORY;
    if (st != ONYX_OK) onyx_error_clear(); /* no memory for the walk: the output stays whole */
    int ok = st == ONYX_OK && readers[sv] == 2; /* read by nothing but being the output */
    if (ok) {
        plan->outs[plan->n_outs].g = sub;
        plan->outs[plan->n_outs].value = sv;
        plan->n_outs++;
        ok = walk(sub, readers, sv, plan, depth + 1);
    }
    onyx_free(readers);
    return ok;
}

static int walk(onyx_graph *g, const int *readers, int v, lp_plan *plan, int depth) {
    for (; depth < LP_MAX_DEPTH; depth++) {
        int p = g->values[v].producer;
        if (p < 0) return 0;
        onyx_node *n = &g->nodes[p];
        if (strcmp(n->domain, "") != 0) return 0;
        const char *op = n->op_type;
        int next = -1;
        if ((!strcmp(op, "Identity") || !strcmp(op, "Cast")) && n->n_inputs == 1) {
            next = n->inputs[0];
        } else if ((!strcmp(op, "Add") || !strcmp(op, "Sub") || !strcmp(op, "Mul") || !strcmp(op, "Div")) &&
                   n->n_inputs == 2) {
            if (is_small_constant(g, n->inputs[1])) next = n->inputs[0];
            else if (is_small_constant(g, n->inputs[0])) next = n->inputs[1];
            else return 0;
        } else if (!strcmp(op, "MatMul") && n->n_inputs == 2 && n->inputs[0] >= 0 && n->inputs[1] >= 0) {
            const onyx_tensor *b = onyx_graph_constant(g, n->inputs[1]);
            if (!b || b->rank != 2 || plan->n_sites == LP_MAX_SITES) return 0;
            plan->sites[plan->n_sites].g = g;
            plan->sites[plan->n_sites].node = p;
            plan->n_sites++;
            return 1;
        } else if (!strcmp(op, "If")) {
            int k = -1;
            for (int o = 0; o < n->n_outputs; o++)
                if (n->outputs[o] == v) k = o;
            const char *names[2] = {"then_branch", "else_branch"};
            for (int b = 0; b < 2; b++) {
                const onyx_attr *at = onyx_node_attr(n, names[b]);
                if (!at || at->type != ONYX_ATTR_GRAPH || !at->g || !walk_branch(at->g, k, plan, depth)) return 0;
            }
            return 1;
        } else {
            return 0;
        }
        if (next < 0 || g->values[next].kind != ONYX_VALUE_INTERMEDIATE || readers[next] != 1) return 0;
        v = next;
    }
    return 0;
}

/* A 1-D int64 constant of g holding value. */
static onyx_status int64_constant(onyx_graph *g, const char *hint, int64_t value, int *out) {
    onyx_tensor *t = NULL;
    int64_t one = 1;
    ONYX_TRY(onyx_onnx_model_new_tensor(g->model, &t));
    ONYX_TRY(onyx_tensor_set_shape(t, ONYX_DTYPE_INT64, &one, 1, hint));
    ONYX_TRY(onyx_tensor_alloc_data(t));
    *(int64_t *)t->data = value;
    ONYX_TRY(onyx_graph_new_value(g, hint, out));
    onyx_value *val = &g->values[*out];
    val->kind = ONYX_VALUE_CONSTANT;
    val->constant = t;
    val->dtype = ONYX_DTYPE_INT64;
    val->rank = 1;
    val->dims[0].value = 1;
    return ONYX_OK;
}

/* Slice(A, [-1], [INT64_MAX], [1]) in front of MatMul node of g. */
static onyx_status slice_before(onyx_graph *g, int node) {
    int starts, ends, axes, last, slice;
    ONYX_TRY(int64_constant(g, "last_position_starts", -1, &starts));
    ONYX_TRY(int64_constant(g, "last_position_ends", INT64_MAX, &ends));
    ONYX_TRY(int64_constant(g, "last_position_axes", 1, &axes));
    int a = g->nodes[node].inputs[0];
    ONYX_TRY(onyx_graph_new_value(g, g->values[a].name, &last));
    g->values[last].dtype = g->values[a].dtype;
    ONYX_TRY(onyx_graph_add_node(g, "Slice", "", "last_position_slice", 4, 1, 0, &slice));
    onyx_node *s = &g->nodes[slice]; /* add_node may have moved the array */
    s->inputs[0] = a;
    s->inputs[1] = starts;
    s->inputs[2] = ends;
    s->inputs[3] = axes;
    s->outputs[0] = last;
    g->values[last].producer = slice;
    g->nodes[node].inputs[0] = last;
    return ONYX_OK;
}

/* Axis 1 of a graph output on the way has one entry now. */
static void mark_output(onyx_graph *g, int v) {
    onyx_value *val = &g->values[v];
    if (val->rank >= 2) {
        val->dims[1].value = 1;
        val->dims[1].param = NULL;
    }
}

onyx_status onyx_graph_keep_last_position(onyx_graph *g, const char *output, int *done) {
    *done = 0;
    int v = -1;
    for (int i = 0; i < g->n_outputs; i++)
        if (!strcmp(g->values[g->outputs[i]].name, output)) v = g->outputs[i];
    if (v < 0) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "'%s' is not an output of the graph", output);
    lp_plan plan;
    memset(&plan, 0, sizeof plan);
    /* Axis 1 must be a sequence: (batch, sequence, ...), as declared. */
    if (g->values[v].rank < 3) return ONYX_OK;
    int *readers = onyx_malloc((size_t)g->n_values * sizeof *readers);
    if (!readers) return ONYX_ERR_OUT_OF_MEMORY;
    onyx_status st = onyx_graph_count_readers(g, readers);
    int found = st == ONYX_OK && readers[v] == 2 && walk(g, readers, v, &plan, 0); /* the output alone reads it */
    onyx_free(readers);
    if (st != ONYX_OK || !found) return st;
    for (int i = 0; i < plan.n_sites; i++) ONYX_TRY(slice_before(plan.sites[i].g, plan.sites[i].node));
    for (int i = 0; i < plan.n_outs; i++) mark_output(plan.outs[i].g, plan.outs[i].value);
    mark_output(g, v);
    /* The Slices were appended: sort each graph that got one. */
    for (int i = 0; i < plan.n_sites; i++) {
        int seen = 0;
        for (int j = 0; j < i; j++) seen |= plan.sites[j].g == plan.sites[i].g;
        if (!seen) ONYX_TRY(onyx_graph_sort(plan.sites[i].g));
    }
    *done = 1;
    return ONYX_OK;
}
