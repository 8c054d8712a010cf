/*
 * fusion.c - node fusions of opt level ALL (ONNX Runtime's GeluFusion, FastGeluFusion,
 * BiasGeluFusion and SimplifiedLayerNormFusion).
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
 * The tanh GELU (GPT-2's gelu_new, T5 v1.1's gated-gelu) is eight nodes,
 *     y = 0.5 x (1 + Tanh(sqrt(2/pi) (x + 0.044715 Pow(x, 3))))
 * with the same three ways of placing the 0.5; it becomes com.microsoft FastGelu(x), or
 * FastGelu(h, bias) when x = Add(h, 1-D constant bias).
 *
 * T5's RMS norm (T5LayerNorm) is six or seven nodes, with Casts to float32 in half models,
 *     y = w * (x * 1 / Sqrt(ReduceMean(Pow(x, 2), -1) + eps))
 * and becomes com.microsoft SimplifiedLayerNormalization(x, w): one pass instead of seven.
 *
 * A Cast to the dtype its input already has (attention's `weights.type(value.dtype)`) becomes
 * Identity, which the executor runs as a view.
 *
 * Linear layers' MatMul + Add(bias) become onyx MatMulBias (the bias in the GEMM's epilogue).
 *
 * With ONYX_FUSE_TRANSPOSED_B, a MatMul whose B is a Transpose swapping the last two axes (the
 * keys of a decoder's attention, K^T of the cache that grows each step) reads the Transpose's
 * input directly: onyx MatMulBias(A, X) with transB = 1 and no bias (ONNX Runtime's FusedMatMul
 * with transB). A decode step of GPT2 wrote each layer's whole K^T, (1, 12, 64, past + 1), first.
 *
 * Attention's scale, mask Add and Softmax become onyx ScaleAddSoftmax; in float16 (and in float32
 * for the CPU) the whole attention of an encoder (the Q, K and V transposes, both MatMuls, that
 * softmax and the output transpose) becomes onyx Attention (src/providers/cpu/attention.c says
 * what it computes).
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
    unsigned flags; /* ONYX_FUSE_* */
} fusion_ctx;

static int is_op(const onyx_node *n, const char *op) { return !strcmp(n->domain, "") && !strcmp(n->op_type, op); }

static const onyx_node *producer(const fusion_ctx *f, int v) {
    if (v < 0) return NULL;
    int p = f->g->values[v].producer;
    return p >= 0 ? &f->g->nodes[p] : NULL;
}

/* The value of a one-element constant input (float, or any number with ints), from an
 * initializer or a Constant node. */
static int const_number(const fusion_ctx *f, int v, int ints, double *out) {
    if (v < 0) return 0;
    const onyx_tensor *t = onyx_graph_constant(f->g, v);
    if (!t) {
        const onyx_node *p = producer(f, v);
        if (p && is_op(p, "Constant")) t = onyx_node_attr_tensor(p, "value");
    }
    if (!t || !t->data || onyx_shape_numel(t->dims, t->rank) != 1) return 0;
    int integer = onyx_dtype_is_signed_int(t->dtype) || onyx_dtype_is_unsigned_int(t->dtype);
    if (!onyx_dtype_is_float(t->dtype) && !(ints && integer)) return 0;
    *out = onyx_tensor_get_f64(t, 0);
    return 1;
}

static int const_scalar(const fusion_ctx *f, int v, double *out) { return const_number(f, v, 0, out); }

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

/* Is v = Pow(x, 3), or x * x * x as Mul(x, Mul(x, x)) either way round? Sets *x. */
static int cube_of(const fusion_ctx *f, int v, int *x) {
    const onyx_node *p = producer(f, v);
    if (!p || p->n_inputs != 2) return 0;
    double e;
    if (is_op(p, "Pow")) {
        if (!const_scalar(f, p->inputs[1], &e) || e != 3.0) return 0;
        *x = p->inputs[0];
        return 1;
    }
    if (!is_op(p, "Mul")) return 0;
    for (int k = 0; k < 2; k++) {
        const onyx_node *sq = producer(f, p->inputs[k]);
        if (!sq || !is_op(sq, "Mul") || sq->n_inputs != 2 || !sole_reader(f, p->inputs[k])) continue;
        if (sq->inputs[0] == sq->inputs[1] && sq->inputs[0] == p->inputs[1 - k]) {
            *x = sq->inputs[0];
            return 1;
        }
    }
    return 0;
}

/* Is value a = Add(Tanh(sqrt(2/pi) * (x + 0.044715 * x^3)), 1)? Sets *x. */
static int one_plus_tanh(const fusion_ctx *f, int a, int *x) {
    const onyx_node *add = producer(f, a);
    int t, inner, sum;
    if (!add || !is_op(add, "Add") || !other_than_const(f, add, 1.0, &t) || !sole_reader(f, t)) return 0;
    const onyx_node *th = producer(f, t);
    if (!th || !is_op(th, "Tanh") || !sole_reader(f, inner = th->inputs[0])) return 0;
    const onyx_node *scale = producer(f, inner);
    if (!scale || !is_op(scale, "Mul") || !other_than_const(f, scale, 0.7978845608028654, &sum) || !sole_reader(f, sum))
        return 0;
    const onyx_node *s = producer(f, sum);
    if (!s || !is_op(s, "Add") || s->n_inputs != 2) return 0;
    for (int k = 0; k < 2; k++) {
        int gx = s->inputs[1 - k], term = s->inputs[k], cube, cx;
        const onyx_node *m = producer(f, term);
        if (!m || !is_op(m, "Mul") || !sole_reader(f, term) || !other_than_const(f, m, 0.044715, &cube)) continue;
        if (sole_reader(f, cube) && cube_of(f, cube, &cx) && cx == gx) {
            *x = gx;
            return 1;
        }
    }
    return 0;
}

typedef int (*one_plus_fn)(const fusion_ctx *f, int a, int *x);

/* If node y_node computes 0.5 x (1 + g(x)) with one_plus matching 1 + g(x), set *x: Gelu with
 * one_plus_erf, FastGelu with one_plus_tanh. */
static int match_gelu(const fusion_ctx *f, const onyx_node *y_node, one_plus_fn one_plus, int *x) {
    if (!is_op(y_node, "Mul") || y_node->n_inputs != 2) return 0;
    int inner;
    /* Variant 1: Mul(Mul(x, 1 + erf), 0.5). */
    if (other_than_const(f, y_node, 0.5, &inner) && sole_reader(f, inner)) {
        const onyx_node *m = producer(f, inner);
        if (m && is_op(m, "Mul") && m->n_inputs == 2)
            for (int k = 0; k < 2; k++) {
                int a = m->inputs[k], other = m->inputs[1 - k], gx;
                if (sole_reader(f, a) && one_plus(f, a, &gx) && gx == other) {
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
        if (sole_reader(f, a) && one_plus(f, a, &gx) && gx == hx) {
            *x = gx;
            return 1;
        }
    }
    /* Variant 3 (dynamo): Mul(x, Mul(0.5, 1 + erf)), either order. */
    for (int k = 0; k < 2; k++) {
        int gx_other = y_node->inputs[1 - k], scaled = y_node->inputs[k], a, gx;
        const onyx_node *h = producer(f, scaled);
        if (!h || !is_op(h, "Mul") || !sole_reader(f, scaled) || !other_than_const(f, h, 0.5, &a)) continue;
        if (sole_reader(f, a) && one_plus(f, a, &gx) && gx == gx_other) {
            *x = gx;
            return 1;
        }
    }
    return 0;
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
            if (!mm || !is_op(mm, "MatMul") || mm->n_inputs != 2 || !sole_reader(f, mm_out)) continue;
            const onyx_tensor *b = onyx_graph_constant(g, bias), *w = onyx_graph_constant(g, mm->inputs[1]);
            if (!b || b->rank != 1 || !w || w->rank != 2 || w->dims[1] != b->dims[0] || w->dtype != b->dtype ||
                g->values[mm->inputs[0]].dtype != b->dtype || !onyx_dtype_is_float(b->dtype))
                continue;
            int in[3] = {mm->inputs[0], mm->inputs[1], bias};
            ONYX_TRY(rewrite_in(g, add, "onyx", "MatMulBias", in, 3));
            (*count)++;
            break;
        }
    }
    return ONYX_OK;
}

/* Is node n a Transpose swapping the last two of its input's axes (rank >= 2), the others in place? */
static int swaps_last_two(const fusion_ctx *f, const onyx_node *n) {
    if (!n || !is_op(n, "Transpose") || n->n_inputs != 1 || n->inputs[0] < 0) return 0;
    size_t count = 0;
    const int64_t *p = onyx_node_attr_ints(n, "perm", &count);
    int rank = f->g->values[n->inputs[0]].rank;
    if (!p || count < 2 || (int)count != rank) return 0; /* no perm reverses every axis */
    for (size_t i = 0; i + 2 < count; i++)
        if (p[i] != (int64_t)i) return 0;
    return p[count - 2] == (int64_t)count - 1 && p[count - 1] == (int64_t)count - 2;
}

static onyx_status set_attrs(onyx_graph *g, onyx_node *n, const char *const *names, const double *values, int count,
                             int int_first);

/* MatMul(A, Transpose(X, swapping the last two axes)), the Transpose read only by it and A and X
 * of one float dtype, becomes onyx MatMulBias(A, X) with transB = 1. */
static onyx_status fuse_transposed_b(fusion_ctx *f, int *count) {
    static const char *const names[1] = {"transB"};
    static const double one = 1;
    onyx_graph *g = f->g;
    for (int i = 0; i < g->n_nodes; i++) {
        onyx_node *mm = &g->nodes[i];
        if (!is_op(mm, "MatMul") || mm->n_inputs != 2 || mm->inputs[0] < 0 || mm->inputs[1] < 0) continue;
        int bt = mm->inputs[1];
        const onyx_node *t = producer(f, bt);
        if (!sole_reader(f, bt) || !swaps_last_two(f, t)) continue;
        int x = t->inputs[0];
        onyx_dtype dt = g->values[x].dtype;
        if ((dt != ONYX_DTYPE_FLOAT32 && dt != ONYX_DTYPE_FLOAT16 && dt != ONYX_DTYPE_BFLOAT16 && dt != ONYX_DTYPE_FLOAT64) ||
            g->values[mm->inputs[0]].dtype != dt)
            continue;
        int in[2] = {mm->inputs[0], x};
        ONYX_TRY(rewrite_in(g, mm, "onyx", "MatMulBias", in, 2));
        ONYX_TRY(set_attrs(g, mm, names, &one, 1, 1));
        (*count)++;
    }
    return ONYX_OK;
}

/* v without Identity nodes (no-op Casts became Identity above): the value they read. */
static int strip_identities(const fusion_ctx *f, int v) {
    for (const onyx_node *c = producer(f, v); c && is_op(c, "Identity") && c->n_inputs == 1 && c->inputs[0] >= 0;
         c = producer(f, v))
        v = c->inputs[0];
    return v;
}

/* v without Casts to float32 and Identities: the value they read. */
static int strip_widening_casts(const fusion_ctx *f, int v) {
    for (;;) {
        v = strip_identities(f, v);
        const onyx_node *c = producer(f, v);
        if (!c || !is_op(c, "Cast") || c->n_inputs != 1 || c->inputs[0] < 0) return v;
        if (onyx_node_attr_int(c, "to", 0) != (int64_t)ONYX_DTYPE_FLOAT32) return v;
        v = c->inputs[0];
    }
}

/* Does ReduceMean node m average over the last axis only, keeping it? */
static int reduces_last_axis(const fusion_ctx *f, const onyx_node *m) {
    if (onyx_node_attr_int(m, "keepdims", 1) != 1) return 0;
    const int64_t *axes = NULL;
    size_t n = 0;
    if (m->n_inputs >= 2 && m->inputs[1] >= 0) { /* opset 18: axes is an input */
        const onyx_tensor *a = onyx_graph_constant(f->g, m->inputs[1]);
        if (!a || a->dtype != ONYX_DTYPE_INT64) return 0;
        axes = a->data;
        n = (size_t)onyx_shape_numel(a->dims, a->rank);
    } else {
        axes = onyx_node_attr_ints(m, "axes", &n);
    }
    if (!axes || n != 1) return 0;
    int rank = f->g->values[m->inputs[0]].rank;
    return axes[0] == -1 || (rank > 0 && axes[0] == rank - 1);
}

/* Is r = 1 / Sqrt(ReduceMean(x^2, -1) + eps) (Div(1, .) or Reciprocal)? Sets *x (Casts to
 * float32 stripped) and *eps. */
static int inverse_rms(const fusion_ctx *f, int r, int *x, double *eps) {
    const onyx_node *inv = producer(f, r);
    int s;
    if (!inv) return 0;
    if (is_op(inv, "Reciprocal") && inv->n_inputs == 1) {
        s = inv->inputs[0];
    } else {
        double one;
        if (!is_op(inv, "Div") || inv->n_inputs != 2 || !const_scalar(f, inv->inputs[0], &one) || one != 1.0) return 0;
        s = inv->inputs[1];
    }
    const onyx_node *sq = producer(f, s);
    if (!sole_reader(f, s) || !sq || !is_op(sq, "Sqrt") || !sole_reader(f, sq->inputs[0])) return 0;
    const onyx_node *add = producer(f, sq->inputs[0]);
    if (!add || !is_op(add, "Add") || add->n_inputs != 2) return 0;
    int mean = -1;
    for (int k = 0; k < 2 && mean < 0; k++)
        if (const_scalar(f, add->inputs[1 - k], eps) && *eps >= 0) mean = add->inputs[k];
    const onyx_node *m = producer(f, mean);
    if (mean < 0 || !sole_reader(f, mean) || !m || !is_op(m, "ReduceMean") || !reduces_last_axis(f, m) ||
        !sole_reader(f, m->inputs[0]))
        return 0;
    const onyx_node *p = producer(f, m->inputs[0]);
    double e;
    if (!p || p->n_inputs != 2) return 0;
    if (is_op(p, "Pow") && const_scalar(f, p->inputs[1], &e) && e == 2.0) *x = strip_widening_casts(f, p->inputs[0]);
    else if (is_op(p, "Mul") && p->inputs[0] == p->inputs[1]) *x = strip_widening_casts(f, p->inputs[0]);
    else return 0;
    return 1;
}

/* If node y_node computes w * (x * inverse_rms(x)) with w a 1-D constant of x's dtype (one
 * Cast allowed before the outer Mul, Identities anywhere on the way), set *x, *w and *eps. */
static int match_rms_norm(const fusion_ctx *f, const onyx_node *y_node, int *x, int *w, double *eps) {
    if (!is_op(y_node, "Mul") || y_node->n_inputs != 2 || y_node->n_outputs != 1 || y_node->outputs[0] < 0) return 0;
    onyx_dtype dt = f->g->values[y_node->outputs[0]].dtype;
    if (!onyx_dtype_is_float(dt)) return 0;
    for (int k = 0; k < 2; k++) {
        int wv = y_node->inputs[k], h = y_node->inputs[1 - k];
        const onyx_tensor *wt = onyx_graph_constant(f->g, wv);
        if (!wt || wt->rank != 1 || wt->dtype != dt || !sole_reader(f, h)) continue;
        h = strip_identities(f, h);
        const onyx_node *c = producer(f, h);
        if (c && is_op(c, "Cast") && c->n_inputs == 1 && onyx_node_attr_int(c, "to", 0) == (int64_t)dt &&
            sole_reader(f, c->inputs[0]))
            h = strip_identities(f, c->inputs[0]);
        const onyx_node *mul = producer(f, h);
        if (!mul || !is_op(mul, "Mul") || mul->n_inputs != 2) continue;
        for (int j = 0; j < 2; j++) {
            int gx, a = strip_widening_casts(f, mul->inputs[j]);
            if (sole_reader(f, mul->inputs[1 - j]) && inverse_rms(f, mul->inputs[1 - j], &gx, eps) && gx == a &&
                f->g->values[gx].dtype == dt) {
                *x = gx;
                *w = wv;
                return 1;
            }
        }
    }
    return 0;
}

/* v, or the input of the Cast to dtype dt that produces it (Identities skipped). */
static int strip_cast_to(const fusion_ctx *f, int v, onyx_dtype dt) {
    v = strip_identities(f, v);
    const onyx_node *c = producer(f, v);
    if (c && is_op(c, "Cast") && c->n_inputs == 1 && onyx_node_attr_int(c, "to", 0) == (int64_t)dt)
        return strip_identities(f, c->inputs[0]);
    return v;
}

/* The fp16 overflow guard of T5 blocks (transformers' T5 in float16):
 *     b = Where(ReduceSum(Cast(IsInf(Cast(x, wider)))) > 0, bound_if_inf, bound)
 *     y = Clip(x, Cast(-b, x's dtype), Cast(b, x's dtype))
 * If Clip node n is that, set *x and the two bounds. Nine nodes after each residual Add, only
 * the Clip rewritten (to onyx ClampInf); the others die when nothing else reads them. */
static int match_clamp_inf(const fusion_ctx *f, const onyx_node *n, int *x, double *bound, double *inf_bound) {
    if (!is_op(n, "Clip") || n->n_inputs != 3 || n->inputs[0] < 0 || n->inputs[1] < 0 || n->inputs[2] < 0) return 0;
    onyx_dtype dt = f->g->values[n->inputs[0]].dtype;
    if (!onyx_dtype_is_float(dt)) return 0;
    int b = strip_cast_to(f, n->inputs[2], dt);
    const onyx_node *neg = producer(f, strip_cast_to(f, n->inputs[1], dt));
    if (!neg || !is_op(neg, "Neg") || neg->n_inputs != 1 || strip_cast_to(f, neg->inputs[0], dt) != b) return 0;
    const onyx_node *where = producer(f, b);
    if (!where || !is_op(where, "Where") || where->n_inputs != 3 || !const_scalar(f, where->inputs[1], inf_bound) ||
        !const_scalar(f, where->inputs[2], bound))
        return 0;
    const onyx_node *gt = producer(f, where->inputs[0]);
    double zero;
    if (!gt || !is_op(gt, "Greater") || gt->n_inputs != 2 || !const_number(f, gt->inputs[1], 1, &zero) || zero != 0.0)
        return 0;
    const onyx_node *sum = producer(f, gt->inputs[0]);
    if (!sum || !is_op(sum, "ReduceSum") || (sum->n_inputs > 1 && sum->inputs[1] >= 0) ||
        onyx_node_attr_int(sum, "noop_with_empty_axes", 0) != 0 || onyx_node_attr(sum, "axes"))
        return 0;
    const onyx_node *p = producer(f, sum->inputs[0]);
    if (p && is_op(p, "Cast") && p->n_inputs == 1) p = producer(f, p->inputs[0]); /* the count's type */
    if (!p || !is_op(p, "IsInf") || p->n_inputs != 1 || onyx_node_attr_int(p, "detect_negative", 1) != 1 ||
        onyx_node_attr_int(p, "detect_positive", 1) != 1)
        return 0;
    int src = strip_identities(f, p->inputs[0]);
    const onyx_node *widen = producer(f, src);
    if (widen && is_op(widen, "Cast") && widen->n_inputs == 1) {
        int64_t to = onyx_node_attr_int(widen, "to", 0);
        int wider = to == ONYX_DTYPE_FLOAT64 || (to == ONYX_DTYPE_FLOAT32 && dt != ONYX_DTYPE_FLOAT64) || to == (int64_t)dt;
        if (!wider) return 0; /* a narrowing Cast can overflow to inf where x has none */
        src = strip_identities(f, widen->inputs[0]);
    }
    if (src != strip_identities(f, n->inputs[0])) return 0;
    *x = n->inputs[0];
    return 1;
}

/* Softmax(Add(Mul(S, c), M)) over the last axis (either operand order; the Mul optional when
 * S comes from a MatMul): attention's scores, their scale and the mask or position bias. Sets
 * *x = S, *b = M and *scale (1 without the Mul). */
static int match_scale_add_softmax(const fusion_ctx *f, const onyx_node *n, int *x, int *b, double *scale) {
    if (!is_op(n, "Softmax") || n->opset < 13 || n->n_inputs != 1 || n->n_outputs != 1 || n->inputs[0] < 0) return 0;
    int in = n->inputs[0];
    onyx_dtype dt = f->g->values[in].dtype;
    int rank = f->g->values[in].rank;
    int64_t axis = onyx_node_attr_int(n, "axis", -1);
    if (!onyx_dtype_is_float(dt) || !(axis == -1 || (rank > 0 && axis == rank - 1)) || !sole_reader(f, in)) return 0;
    const onyx_node *add = producer(f, in);
    if (!add || !is_op(add, "Add") || add->n_inputs != 2 || add->inputs[0] < 0 || add->inputs[1] < 0 ||
        f->g->values[add->inputs[0]].dtype != dt || f->g->values[add->inputs[1]].dtype != dt)
        return 0;
    for (int k = 0; k < 2; k++) {
        const onyx_node *m = producer(f, add->inputs[k]);
        if (!m || !is_op(m, "Mul") || m->n_inputs != 2 || !sole_reader(f, add->inputs[k])) continue;
        for (int j = 0; j < 2; j++) {
            double c;
            if (m->inputs[1 - j] < 0 || !const_scalar(f, m->inputs[j], &c) || (double)(float)c != c ||
                f->g->values[m->inputs[1 - j]].dtype != dt)
                continue;
            *x = m->inputs[1 - j];
            *b = add->inputs[1 - k];
            *scale = c;
            return 1;
        }
    }
    for (int k = 0; k < 2; k++) {
        const onyx_node *p = producer(f, add->inputs[k]);
        if (p && (is_op(p, "MatMul") || (!strcmp(p->domain, "onyx") && !strcmp(p->op_type, "MatMulBias")))) {
            *x = add->inputs[k];
            *b = add->inputs[1 - k];
            *scale = 1.0;
            return 1;
        }
    }
    return 0;
}

/* Is node n a Transpose with permutation perm (4 axes)? */
static int is_transpose(const onyx_node *n, const int64_t perm[4]) {
    if (!n || !is_op(n, "Transpose") || n->n_inputs != 1 || n->inputs[0] < 0) return 0;
    size_t count = 0;
    const int64_t *p = onyx_node_attr_ints(n, "perm", &count);
    return p && count == 4 && !memcmp(p, perm, sizeof(int64_t) * 4);
}

static const int64_t heads_first[4] = {0, 2, 1, 3}; /* (batch, seq, heads, size) <-> (batch, heads, seq, size) */
static const int64_t keys_last[4] = {0, 2, 3, 1};   /* (batch, seq, heads, size) -> (batch, heads, size, seq) */
static const int64_t swap_last[4] = {0, 1, 3, 2};

/* v = Transpose(x, heads_first) read only by its reader: sets *x. */
static int heads_first_of(const fusion_ctx *f, int v, int *x) {
    const onyx_node *t = producer(f, v);
    if (!sole_reader(f, v) || !is_transpose(t, heads_first)) return 0;
    *x = t->inputs[0];
    return 1;
}

/* v = K^T per head from K (batch, seq, heads, size): Transpose(K, keys_last), or
 * Transpose(Transpose(K, heads_first), swap_last). Sets *k. */
static int keys_transposed_of(const fusion_ctx *f, int v, int *k) {
    const onyx_node *t = producer(f, v);
    if (!sole_reader(f, v) || !t) return 0;
    if (is_transpose(t, keys_last)) {
        *k = t->inputs[0];
        return 1;
    }
    return is_transpose(t, swap_last) && heads_first_of(f, t->inputs[0], k);
}

/* Node n = Transpose(MatMul(P, Transpose(V)), heads_first) with P = ScaleAddSoftmax(S, B) (or
 * Softmax(S) over the last axis) and S = MatMul(Transpose(Q), K^T), every intermediate read only
 * inside the chain and all of float16: attention over heads as an encoder's export writes it
 * (transformers' eager attention after the projections' Reshapes). Sets in[] = {Q, K, V, B} (B
 * -1 without a bias) and *scale.
 *
 * Float16, and float32 with ONYX_FUSE_F32_ATTENTION: in float16 the CUDA kernel (tensor cores,
 * scores in registers) beats the two batched GEMMs, the softmax and four transposes that it
 * replaces; in float32 the CUDA kernel's FFMA tiles and the CPU's two sgemm calls save the
 * transposes and the passes over the scores. */
static int match_attention(const fusion_ctx *f, const onyx_node *n, int in[4], double *scale) {
    int o, p, s, vt;
    if (!is_transpose(n, heads_first) || n->n_outputs != 1) return 0;
    o = n->inputs[0];
    const onyx_node *pv = producer(f, o);
    if (!sole_reader(f, o) || !pv || !is_op(pv, "MatMul") || pv->n_inputs != 2) return 0;
    p = pv->inputs[0];
    vt = pv->inputs[1];
    if (!heads_first_of(f, vt, &in[2])) return 0;
    const onyx_node *sm = producer(f, p);
    if (!sole_reader(f, p) || !sm || sm->n_inputs < 1) return 0;
    if (!strcmp(sm->domain, "onyx") && !strcmp(sm->op_type, "ScaleAddSoftmax") && sm->n_inputs == 2 &&
        sm->inputs[1] >= 0) {
        in[3] = sm->inputs[1];
        *scale = onyx_node_attr_float(sm, "scale", 1.0f);
    } else if (is_op(sm, "Softmax") && sm->opset >= 13 && sm->n_inputs == 1 &&
               onyx_node_attr_int(sm, "axis", -1) == -1) {
        in[3] = -1;
        *scale = 1.0;
    } else {
        return 0;
    }
    s = sm->inputs[0];
    const onyx_node *qk = producer(f, s);
    if (!sole_reader(f, s) || !qk || !is_op(qk, "MatMul") || qk->n_inputs != 2) return 0;
    if (!heads_first_of(f, qk->inputs[0], &in[0]) || !keys_transposed_of(f, qk->inputs[1], &in[1])) return 0;
    onyx_dtype dt = f->g->values[n->outputs[0]].dtype;
    if (dt != ONYX_DTYPE_FLOAT16 && !(dt == ONYX_DTYPE_FLOAT32 && (f->flags & ONYX_FUSE_F32_ATTENTION))) return 0;
    for (int i = 0; i < 4; i++)
        if (in[i] >= 0 && f->g->values[in[i]].dtype != dt) return 0;
    return 1;
}

/* Replace the attributes of node n (rewritten) with float attributes names[i] = values[i], or
 * (int_first) the first one an int. */
static onyx_status set_attrs(onyx_graph *g, onyx_node *n, const char *const *names, const double *values, int count,
                             int int_first) {
    onyx_attr *a = onyx_region_alloc(&g->model->region, (size_t)count * sizeof *a);
    if (!a) return ONYX_ERR_OUT_OF_MEMORY;
    memset(a, 0, (size_t)count * sizeof *a);
    for (int i = 0; i < count; i++) {
        a[i].name = names[i];
        a[i].type = i == 0 && int_first ? ONYX_ATTR_INT : ONYX_ATTR_FLOAT;
        if (a[i].type == ONYX_ATTR_INT) a[i].i = (int64_t)values[i];
        else a[i].f = (float)values[i];
    }
    n->attrs = a;
    n->n_attrs = count;
    return ONYX_OK;
}

/* Give node n (rewritten) the float attribute scale. */
static onyx_status set_scale_attr(onyx_graph *g, onyx_node *n, double scale) {
    static const char *const names[1] = {"scale"};
    return set_attrs(g, n, names, &scale, 1, 0);
}

/* Give node n (rewritten) the float attributes bound and bound_if_inf. */
static onyx_status set_clamp_attrs(onyx_graph *g, onyx_node *n, double bound, double inf_bound) {
    static const char *const names[2] = {"bound", "bound_if_inf"};
    double values[2] = {bound, inf_bound};
    return set_attrs(g, n, names, values, 2, 0);
}

/* Give node n (rewritten) the attributes axis = -1 and epsilon = eps. */
static onyx_status set_norm_attrs(onyx_graph *g, onyx_node *n, double eps) {
    static const char *const names[2] = {"axis", "epsilon"};
    double values[2] = {-1, eps};
    return set_attrs(g, n, names, values, 2, 1);
}

/* Cast to the dtype its input has becomes Identity (a view). */
static onyx_status drop_noop_casts(onyx_graph *g, int *count) {
    for (int i = 0; i < g->n_nodes; i++) {
        onyx_node *n = &g->nodes[i];
        if (!is_op(n, "Cast") || n->n_inputs != 1 || n->inputs[0] < 0) continue;
        onyx_dtype from = g->values[n->inputs[0]].dtype;
        if (from == ONYX_DTYPE_UNDEFINED || onyx_node_attr_int(n, "to", 0) != (int64_t)from) continue;
        int in[1] = {n->inputs[0]};
        ONYX_TRY(rewrite_in(g, n, "", "Identity", in, 1));
        n->opset = 14;
        (*count)++;
    }
    return ONYX_OK;
}

/* Fold x = Add(h, b) read only by node n (Gelu or FastGelu) into n as its second input: b the
 * constant side (or the second operand), h the other. Both dtypes must agree. */
static int bias_of(const fusion_ctx *f, const onyx_node *n, int in[2]) {
    const onyx_graph *g = f->g;
    if (!sole_reader(f, n->inputs[0])) return 0;
    const onyx_node *add = producer(f, n->inputs[0]);
    if (!add || !is_op(add, "Add") || add->n_inputs != 2 || add->inputs[0] < 0 || add->inputs[1] < 0 ||
        g->values[add->inputs[0]].dtype != g->values[add->inputs[1]].dtype)
        return 0;
    int bias = onyx_graph_constant(g, add->inputs[1]) ? 1 : 0;
    in[0] = add->inputs[1 - bias];
    in[1] = add->inputs[bias];
    return 1;
}

/* LayerNormalization (or our SimplifiedLayerNormalization) over the last axis of an Add of two
 * tensors of its dtype becomes com.microsoft SkipLayerNormalization (SkipSimplified...) of the
 * Add's operands: the residual sum and its norm in one pass. The sum stays an output (3) when
 * something else reads it, as the next residual Add of a pre-norm block does; the Add goes.
 * The graph needs sorting afterwards (the sum's readers may precede the norm). */
static onyx_status fuse_skip_norms(fusion_ctx *f, int *count) {
    onyx_graph *g = f->g;
    for (int i = 0; i < g->n_nodes; i++) {
        onyx_node *n = &g->nodes[i];
        int simplified = !strcmp(n->domain, "com.microsoft") && !strcmp(n->op_type, "SimplifiedLayerNormalization");
        if (!(is_op(n, "LayerNormalization") || simplified) || n->n_inputs < 2 || n->inputs[0] < 0 || n->inputs[1] < 0 ||
            n->n_outputs < 1 || n->outputs[0] < 0)
            continue;
        int sum = n->inputs[0];
        onyx_dtype dt = g->values[sum].dtype;
        int rank = g->values[sum].rank;
        int64_t axis = onyx_node_attr_int(n, "axis", -1);
        if (!onyx_dtype_is_float(dt) || !(axis == -1 || (rank > 0 && axis == rank - 1))) continue;
        int p = g->values[sum].producer;
        onyx_node *add = p >= 0 ? &g->nodes[p] : NULL;
        if (!add || !is_op(add, "Add") || add->n_inputs != 2 || add->n_outputs != 1 || add->inputs[0] < 0 ||
            add->inputs[1] < 0 || g->values[add->inputs[0]].dtype != dt || g->values[add->inputs[1]].dtype != dt)
            continue;
        int *outs = onyx_region_alloc(&g->model->region, 4 * sizeof *outs);
        if (!outs) return ONYX_ERR_OUT_OF_MEMORY;
        /* LayerNormalization: Y, Mean, InvStdDev; SimplifiedLayerNormalization: Y, InvStdDev */
        outs[0] = n->outputs[0];
        outs[1] = !simplified && n->n_outputs > 1 ? n->outputs[1] : -1;
        outs[2] = n->n_outputs > (simplified ? 1 : 2) ? n->outputs[simplified ? 1 : 2] : -1;
        outs[3] = f->readers[sum] > 1 ? sum : -1;
        int in[4] = {add->inputs[0], add->inputs[1], n->inputs[1], !simplified && n->n_inputs > 2 ? n->inputs[2] : -1};
        double eps = onyx_node_attr_float(n, "epsilon", 1e-5f);
        ONYX_TRY(rewrite(g, n, simplified ? "SkipSimplifiedLayerNormalization" : "SkipLayerNormalization", in,
                         in[3] >= 0 ? 4 : 3));
        ONYX_TRY(set_norm_attrs(g, n, eps));
        n->outputs = outs;
        n->n_outputs = 4;
        add->outputs[0] = -1; /* dead: the norm writes the sum now, if anything reads it */
        (*count)++;
    }
    return ONYX_OK;
}

/* Nodes reading Identity(c), c a constant (of this graph or an enclosing one), read c itself.
 * Optimum's merged decoders reach the weights the two branches share through such Identities:
 * each cost a node per run, and hid the weights from the fusions below. Identities still read
 * (graph outputs, subgraphs) stay. */
static void bypass_constant_identities(onyx_graph *g, int *count) {
    for (int i = 0; i < g->n_nodes; i++) {
        onyx_node *n = &g->nodes[i];
        for (int k = 0; k < n->n_inputs; k++) {
            int v = n->inputs[k];
            int p = v >= 0 ? g->values[v].producer : -1;
            const onyx_node *id = p >= 0 ? &g->nodes[p] : NULL;
            if (!id || !is_op(id, "Identity") || id->n_inputs != 1 || !onyx_graph_constant(g, id->inputs[0])) continue;
            n->inputs[k] = id->inputs[0];
            (*count)++;
        }
    }
}

typedef struct fuse_args {
    unsigned flags;
    int *fused;
} fuse_args;

static onyx_status fuse_graph(onyx_graph *g, unsigned flags, int *fused);

static onyx_status fuse_subgraph(onyx_graph *sub, void *args) {
    fuse_args *a = args;
    return fuse_graph(sub, a->flags, a->fused);
}

static onyx_status fuse_graph(onyx_graph *g, unsigned flags, int *fused) {
    fusion_ctx f = {g, onyx_calloc((size_t)g->n_values + 1, sizeof(int)), flags};
    if (!f.readers) return ONYX_ERR_OUT_OF_MEMORY;
    int casts = 0, chains = 0, removed = 0, bypassed = 0;
    onyx_status st = drop_noop_casts(g, &casts);
    if (st == ONYX_OK) bypass_constant_identities(g, &bypassed);
    if (st == ONYX_OK && bypassed) st = onyx_graph_remove_dead_nodes(g, &removed);
    if (st == ONYX_OK) st = onyx_graph_count_readers(f.g, f.readers);
    for (int i = 0; i < g->n_nodes && st == ONYX_OK; i++) {
        onyx_node *n = &g->nodes[i];
        int x, w;
        double eps, bound, inf_bound;
        if (match_gelu(&f, n, one_plus_erf, &x)) {
            int in[1] = {x};
            st = rewrite(g, n, "Gelu", in, 1);
        } else if (match_gelu(&f, n, one_plus_tanh, &x)) {
            int in[1] = {x};
            st = rewrite(g, n, "FastGelu", in, 1);
        } else if (match_rms_norm(&f, n, &x, &w, &eps)) {
            int in[2] = {x, w};
            st = rewrite(g, n, "SimplifiedLayerNormalization", in, 2);
            if (st == ONYX_OK) st = set_norm_attrs(g, n, eps);
        } else if (match_scale_add_softmax(&f, n, &x, &w, &bound)) {
            int in[2] = {x, w};
            st = rewrite_in(g, n, "onyx", "ScaleAddSoftmax", in, 2);
            if (st == ONYX_OK) st = set_scale_attr(g, n, bound);
        } else if (match_clamp_inf(&f, n, &x, &bound, &inf_bound)) {
            int in[1] = {x};
            st = rewrite_in(g, n, "onyx", "ClampInf", in, 1);
            if (st == ONYX_OK) st = set_clamp_attrs(g, n, bound, inf_bound);
        } else {
            continue;
        }
        chains++;
    }
    /* The chains' other nodes have no readers now; recount, then fold bias Adds into Gelu
     * (BiasGelu) and FastGelu (its optional bias input). BiasGelu(A, B) is Gelu(A + B) with
     * Add's broadcasting on both providers, so any Add of two tensors of one dtype folds in
     * (exports give Linear's output and its bias); FastGelu's bias must be a 1-D constant. */
    if (st == ONYX_OK && chains) st = onyx_graph_remove_dead_nodes(g, &removed);
    if (st == ONYX_OK && chains) st = onyx_graph_count_readers(f.g, f.readers);
    /* Attention over heads (its softmax fused above) into onyx Attention. */
    int attentions = 0;
    for (int i = 0; i < g->n_nodes && st == ONYX_OK; i++) {
        onyx_node *n = &g->nodes[i];
        int in[4];
        double scale;
        if (!match_attention(&f, n, in, &scale)) continue;
        st = rewrite_in(g, n, "onyx", "Attention", in, in[3] >= 0 ? 4 : 3);
        if (st == ONYX_OK) st = set_scale_attr(g, n, scale);
        attentions++;
    }
    if (st == ONYX_OK && attentions) st = onyx_graph_remove_dead_nodes(g, &removed);
    if (st == ONYX_OK && attentions) st = onyx_graph_count_readers(f.g, f.readers);
    int biased = 0;
    for (int i = 0; i < g->n_nodes && st == ONYX_OK; i++) {
        onyx_node *n = &g->nodes[i];
        int in[2];
        if (strcmp(n->domain, "com.microsoft") || n->n_inputs != 1 || !bias_of(&f, n, in)) continue;
        if (!strcmp(n->op_type, "Gelu")) {
            st = rewrite(g, n, "BiasGelu", in, 2);
        } else if (!strcmp(n->op_type, "FastGelu")) {
            const onyx_tensor *b = onyx_graph_constant(g, in[1]);
            if (!b || b->rank != 1) continue;
            st = rewrite(g, n, "FastGelu", in, 2);
        } else {
            continue;
        }
        biased++;
    }
    /* Then Linear layers: MatMul + bias Add (the biased GELUs took their Add already). */
    int linears = 0;
    if (st == ONYX_OK && biased) st = onyx_graph_remove_dead_nodes(g, &removed);
    if (st == ONYX_OK) st = onyx_graph_count_readers(f.g, f.readers);
    if (st == ONYX_OK) st = fuse_matmul_bias(&f, &linears);
    if (st == ONYX_OK && linears) st = onyx_graph_remove_dead_nodes(g, &removed);
    /* Then products of a transposed B (after the attention and Linear fusions, which match the
     * Transposes and MatMuls they replace). */
    int transposed = 0;
    if (st == ONYX_OK && (flags & ONYX_FUSE_TRANSPOSED_B)) st = onyx_graph_count_readers(f.g, f.readers);
    if (st == ONYX_OK && (flags & ONYX_FUSE_TRANSPOSED_B)) st = fuse_transposed_b(&f, &transposed);
    if (st == ONYX_OK && transposed) st = onyx_graph_remove_dead_nodes(g, &removed);
    /* Last, residual Adds into the norms after them (the norm fusions above made theirs). */
    int skips = 0;
    if (st == ONYX_OK) st = onyx_graph_count_readers(f.g, f.readers);
    if (st == ONYX_OK) st = fuse_skip_norms(&f, &skips);
    if (st == ONYX_OK && skips) st = onyx_graph_sort(g);
    if (st == ONYX_OK && skips) st = onyx_graph_remove_dead_nodes(g, &removed);
    onyx_free(f.readers);
    *fused += casts + chains + attentions + linears + transposed + skips;
    /* If branches (the merged decoders of Optimum) hold whole models: fuse inside them too. */
    fuse_args args = {flags, fused};
    if (st == ONYX_OK) st = onyx_graph_each_subgraph(g, fuse_subgraph, &args);
    return st;
}

onyx_status onyx_graph_fuse(onyx_graph *g, unsigned flags, int *fused) {
    *fused = 0;
    return fuse_graph(g, flags, fused);
}
