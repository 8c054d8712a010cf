/*
 * fusion.c - node fusions of opt level ALL (ONNX Runtime's GeluFusion and BiasGeluFusion).
 *
 * Exporters write the exact (erf) GELU of BERT/GPT-style feed-forward blocks as five nodes,
 *     y = Mul(Mul(x, Add(Erf(Div(x, sqrt 2)), 1)), 0.5)      (TorchScript)
 *     y = Mul(x, Mul(0.5, Add(Erf(Div(x, sqrt 2)), 1)))      (dynamo)
 * or with Mul(x, 1/sqrt 2), Mul(x, 0.5) first, and the operands of each Mul/Add either way round.
 * Each node reads and writes the whole [B, T, 4C] activation, so on a GPU the chain costs five
 * memory passes where one suffices. The chain becomes com.microsoft Gelu(x); when x is
 * Add(h, bias) read by nothing else (Linear's bias), that Add folds in too: com.microsoft
 * BiasGelu(h, bias). Both providers implement both ops.
 *
 * Linear layers' MatMul + Add(bias) become onyx MatMulBias (the bias in the GEMM's epilogue).
 *
 * The rewrite turns the chain's last node into the fused node and leaves the rest without
 * readers, for dead-node removal. A chain is fused only when each of its intermediate values has
 * no reader outside the chain and is no graph output.
 */
#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "core/dtype.h"
#include "core/tensor.h"
#include "graph/passes.h"

typedef struct fusion_ctx {
    onyx_graph *g;
    int *readers; /* per value: nodes reading it, +2 for graph outputs and subgraph uses */
} fusion_ctx;

static int is_op(const onyx_node *n, const char *op) { return !strcmp(n->domain, "") && !strcmp(n->op_type, op); }

static const onyx_node *producer(const fusion_ctx *f, int v) {
    if (v < 0) return NULL;
    int p = f->g->values[v].producer;
    return p >= 0 ? &f->g->nodes[p] : NULL;
}

/* The value of a one-element float constant input, from an initializer or a Constant node. */
static int const_scalar(const fusion_ctx *f, int v, double *out) {
    if (v < 0) return 0;
    const onyx_value *val = &f->g->values[v];
    const onyx_tensor *t = NULL;
    if (val->kind == ONYX_VALUE_CONSTANT) t = val->constant;
    else {
        const onyx_node *p = producer(f, v);
        if (p && is_op(p, "Constant")) t = onyx_node_attr_tensor(p, "value");
    }
    if (!t || !t->data || onyx_shape_numel(t->dims, t->rank) != 1 || !onyx_dtype_is_float(t->dtype)) return 0;
    *out = onyx_tensor_get_f64(t, 0);
    return 1;
}

static int near(double x, double want) { return fabs(x - want) <= 1e-3 * fabs(want); }

/* n is a binary node one of whose inputs is the constant c (within 0.1%): the other input. */
static int other_than_const(const fusion_ctx *f, const onyx_node *n, double c, int *other) {
    if (n->n_inputs != 2) return 0;
    double v;
    if (const_scalar(f, n->inputs[1], &v) && near(v, c)) {
        *other = n->inputs[0];
        return 1;
    }
    if (const_scalar(f, n->inputs[0], &v) && near(v, c)) {
        *other = n->inputs[1];
        return 1;
    }
    return 0;
}

static int sole_reader(const fusion_ctx *f, int v) { return v >= 0 && f->readers[v] == 1; }

/* Is value e = Erf(x / sqrt 2) (Div by sqrt 2 or Mul by 1/sqrt 2)? Sets *x. */
static int erf_of_scaled(const fusion_ctx *f, int e, int *x) {
    const onyx_node *erf = producer(f, e);
    if (!erf || !is_op(erf, "Erf") || !sole_reader(f, erf->inputs[0])) return 0;
    const onyx_node *scale = producer(f, erf->inputs[0]);
    if (!scale) return 0;
    if (is_op(scale, "Div") && scale->n_inputs == 2) {
        double c;
        if (!const_scalar(f, scale->inputs[1], &c) || !near(c, M_SQRT2)) return 0;
        *x = scale->inputs[0];
        return 1;
    }
    return is_op(scale, "Mul") && other_than_const(f, scale, M_SQRT1_2, x);
}

/* Is value a = Add(Erf(x / sqrt 2), 1)? Sets *x. */
static int one_plus_erf(const fusion_ctx *f, int a, int *x) {
    const onyx_node *add = producer(f, a);
    int e;
    if (!add || !is_op(add, "Add") || !other_than_const(f, add, 1.0, &e) || !sole_reader(f, e)) return 0;
    return erf_of_scaled(f, e, x);
}

/* If node y_node computes Gelu(x), set *x. */
static int match_gelu(const fusion_ctx *f, const onyx_node *y_node, int *x) {
    if (!is_op(y_node, "Mul") || y_node->n_inputs != 2) return 0;
    int inner;
    /* Variant 1: Mul(Mul(x, 1 + erf), 0.5). */
    if (other_than_const(f, y_node, 0.5, &inner) && sole_reader(f, inner)) {
        const onyx_node *m = producer(f, inner);
        if (m && is_op(m, "Mul") && m->n_inputs == 2)
            for (int k = 0; k < 2; k++) {
                int a = m->inputs[k], other = m->inputs[1 - k], gx;
                if (sole_reader(f, a) && one_plus_erf(f, a, &gx) && gx == other) {
                    *x = gx;
                    return 1;
                }
            }
    }
    /* Variant 2: Mul(Mul(x, 0.5), 1 + erf), either order. */
    for (int k = 0; k < 2; k++) {
        int half = y_node->inputs[k], a = y_node->inputs[1 - k], gx, hx;
        const onyx_node *h = producer(f, half);
        if (!h || !is_op(h, "Mul") || !sole_reader(f, half) || !other_than_const(f, h, 0.5, &hx)) continue;
        if (sole_reader(f, a) && one_plus_erf(f, a, &gx) && gx == hx) {
            *x = gx;
            return 1;
        }
    }
    /* Variant 3 (dynamo): Mul(x, Mul(0.5, 1 + erf)), either order. */
    for (int k = 0; k < 2; k++) {
        int gx_other = y_node->inputs[1 - k], scaled = y_node->inputs[k], a, gx;
        const onyx_node *h = producer(f, scaled);
        if (!h || !is_op(h, "Mul") || !sole_reader(f, scaled) || !other_than_const(f, h, 0.5, &a)) continue;
        if (sole_reader(f, a) && one_plus_erf(f, a, &gx) && gx == gx_other) {
            *x = gx;
            return 1;
        }
    }
    return 0;
}

static onyx_status count_readers(fusion_ctx *f) {
    onyx_graph *g = f->g;
    memset(f->readers, 0, (size_t)g->n_values * sizeof *f->readers);
    unsigned char *outer = onyx_calloc((size_t)g->n_values + 1, 1);
    if (!outer) return ONYX_ERR_OUT_OF_MEMORY;
    for (int i = 0; i < g->n_nodes; i++) {
        const onyx_node *n = &g->nodes[i];
        for (int k = 0; k < n->n_inputs; k++)
            if (n->inputs[k] >= 0) f->readers[n->inputs[k]]++;
        for (int a = 0; a < n->n_attrs; a++)
            if (n->attrs[a].type == ONYX_ATTR_GRAPH && n->attrs[a].g) onyx_graph_mark_outer_uses(g, n->attrs[a].g, outer);
    }
    /* Graph outputs and values a subgraph reads count as readers outside any chain. */
    for (int v = 0; v < g->n_values; v++)
        if (outer[v]) f->readers[v] += 2;
    for (int o = 0; o < g->n_outputs; o++) f->readers[g->outputs[o]] += 2;
    onyx_free(outer);
    return ONYX_OK;
}

/* Turn node n into op (of domain, opset 1) with the given inputs. */
static onyx_status rewrite_in(onyx_graph *g, onyx_node *n, const char *domain, const char *op, const int *inputs,
                              int n_inputs) {
    int *ins = n->inputs;
    if (n->n_inputs < n_inputs) {
        ins = onyx_region_alloc(&g->model->region, (size_t)n_inputs * sizeof *ins);
        if (!ins) return ONYX_ERR_OUT_OF_MEMORY;
    }
    memcpy(ins, inputs, (size_t)n_inputs * sizeof *ins);
    n->inputs = ins;
    n->n_inputs = n_inputs;
    n->op_type = op;
    n->domain = domain;
    n->opset = 1;
    n->n_attrs = 0;
    return ONYX_OK;
}

static onyx_status rewrite(onyx_graph *g, onyx_node *n, const char *op, const int *inputs, int n_inputs) {
    return rewrite_in(g, n, "com.microsoft", op, inputs, n_inputs);
}

/* Add(MatMul(A, W), bias) with W a 2-D constant and bias a 1-D constant of W's column count
 * becomes onyx MatMulBias(A, W, bias): the bias rides on the GEMM (cuBLASLt's bias epilogue)
 * instead of another pass over the activations. Every Linear layer of a transformer export. */
static onyx_status fuse_matmul_bias(fusion_ctx *f, int *count) {
    onyx_graph *g = f->g;
    for (int i = 0; i < g->n_nodes; i++) {
        onyx_node *add = &g->nodes[i];
        if (!is_op(add, "Add") || add->n_inputs != 2 || add->inputs[0] < 0 || add->inputs[1] < 0) continue;
        for (int k = 0; k < 2; k++) {
            int mm_out = add->inputs[k], bias = add->inputs[1 - k];
            const onyx_node *mm = producer(f, mm_out);
            const onyx_value *bv = &g->values[bias];
            if (!mm || !is_op(mm, "MatMul") || mm->n_inputs != 2 || !sole_reader(f, mm_out)) continue;
            if (bv->kind != ONYX_VALUE_CONSTANT || !bv->constant || bv->constant->rank != 1) continue;
            const onyx_value *wv = &g->values[mm->inputs[1]];
            if (wv->kind != ONYX_VALUE_CONSTANT || !wv->constant || wv->constant->rank != 2 ||
                wv->constant->dims[1] != bv->constant->dims[0] || wv->dtype != bv->dtype ||
                g->values[mm->inputs[0]].dtype != bv->dtype || !onyx_dtype_is_float(bv->dtype))
                continue;
            int in[3] = {mm->inputs[0], mm->inputs[1], bias};
            ONYX_TRY(rewrite_in(g, add, "onyx", "MatMulBias", in, 3));
            (*count)++;
            break;
        }
    }
    return ONYX_OK;
}

static onyx_status fuse_graph(onyx_graph *g, int *fused) {
    fusion_ctx f = {g, onyx_calloc((size_t)g->n_values + 1, sizeof(int))};
    if (!f.readers) return ONYX_ERR_OUT_OF_MEMORY;
    onyx_status st = count_readers(&f);
    int gelus = 0;
    for (int i = 0; i < g->n_nodes && st == ONYX_OK; i++) {
        int x;
        if (!match_gelu(&f, &g->nodes[i], &x)) continue;
        int in[1] = {x};
        st = rewrite(g, &g->nodes[i], "Gelu", in, 1);
        gelus++;
    }
    /* The chains' other nodes have no readers now; recount, then fold bias Adds into Gelu. */
    int removed = 0;
    if (st == ONYX_OK && gelus) st = onyx_graph_remove_dead_nodes(g, &removed);
    if (st == ONYX_OK && gelus) st = count_readers(&f);
    for (int i = 0; i < g->n_nodes && st == ONYX_OK; i++) {
        onyx_node *n = &g->nodes[i];
        if (strcmp(n->op_type, "Gelu") || strcmp(n->domain, "com.microsoft") || !sole_reader(&f, n->inputs[0])) continue;
        const onyx_node *add = producer(&f, n->inputs[0]);
        if (!add || !is_op(add, "Add") || add->n_inputs != 2) continue;
        /* BiasGelu(A, B) is Gelu(A + B) with Add's broadcasting on both providers, so any Add
         * of two tensors of one dtype folds in (exports give Linear's output and its bias). */
        if (add->inputs[0] < 0 || add->inputs[1] < 0 ||
            g->values[add->inputs[0]].dtype != g->values[add->inputs[1]].dtype)
            continue;
        int bias = g->values[add->inputs[1]].kind == ONYX_VALUE_CONSTANT ? 1 : 0;
        int in[2] = {add->inputs[1 - bias], add->inputs[bias]};
        st = rewrite(g, n, "BiasGelu", in, 2);
    }
    /* Then Linear layers: MatMul + bias Add (the BiasGelu ones took their Add already). */
    int linears = 0;
    if (st == ONYX_OK && gelus) st = onyx_graph_remove_dead_nodes(g, &removed);
    if (st == ONYX_OK) st = count_readers(&f);
    if (st == ONYX_OK) st = fuse_matmul_bias(&f, &linears);
    if (st == ONYX_OK && linears) st = onyx_graph_remove_dead_nodes(g, &removed);
    onyx_free(f.readers);
    *fused += gelus + linears;
    /* If branches (the merged decoders of Optimum) hold whole models: fuse inside them too. */
    for (int i = 0; i < g->n_nodes && st == ONYX_OK; i++)
        for (int a = 0; a < g->nodes[i].n_attrs && st == ONYX_OK; a++)
            if (g->nodes[i].attrs[a].type == ONYX_ATTR_GRAPH && g->nodes[i].attrs[a].g)
                st = fuse_graph(g->nodes[i].attrs[a].g, fused);
    return st;
}

onyx_status onyx_graph_fuse(onyx_graph *g, int *fused) {
    *fused = 0;
    return fuse_graph(g, fused);
}
