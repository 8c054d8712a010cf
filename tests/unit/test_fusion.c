/*
 * test_fusion.c - the opt-level-ALL fusions (src/graph/fusion.c) on small graphs written in
 * memory: each chain in the forms exporters write (float32 and float16 with the Casts of a half
 * model), and chains that must stay as they are. Each case runs the graph at opt level basic
 * (no fusions) and all on the same input and compares the outputs; it also counts the fused
 * and the original ops. The transformers-exported fixtures (test_session, test_model) check the
 * same fusions on real models.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/dtype.h"
#include "harness.h"
#include "model/onnx_writer.h"
#include "onyx/onyx.h"

#define C 24 /* hidden size */

typedef struct fused_case {
    const char *name;
    onyx_dtype dtype;   /* of x and y */
    const char *fused;  /* op expected at level all, NULL when nothing may fuse */
    size_t fused_count;
    const char *gone;   /* op of the chain that must be gone at level all (present at basic) */
    double atol;
} fused_case;

static onyx_session *open_level(const uint8_t *bytes, size_t size, onyx_opt_level level) {
    onyx_session_options o;
    onyx_session_options_init(&o);
    o.opt_level = level;
    onyx_session *s = NULL;
    ONYX_CHECK_OK(onyx_session_create_from_memory(bytes, size, &o, &s));
    return s;
}

static float input_value(int i) { return (float)sin(0.7 * i + 0.3) * 2.5f + 0.1f * (float)(i % 5); }

/* y of the graph (input x of dtype (2, 3, C)) as float32 values. */
static int run_graph(onyx_session *s, onyx_dtype dt, float *y) {
    int64_t dims[3] = {2, 3, C};
    onyx_tensor *x = NULL, *out = NULL;
    if (onyx_tensor_create(dt, dims, 3, &x) != ONYX_OK) return 0;
    for (int i = 0; i < 2 * 3 * C; i++) {
        float v = input_value(i);
        if (dt == ONYX_DTYPE_FLOAT16) ((uint16_t *)onyx_tensor_data(x))[i] = onyx_f32_to_f16(v);
        else ((float *)onyx_tensor_data(x))[i] = v;
    }
    const char *in_names[1] = {"x"}, *out_names[1] = {"y"};
    const onyx_tensor *ins[1] = {x};
    onyx_status st = onyx_session_run(s, in_names, ins, 1, out_names, 1, &out);
    ONYX_CHECK_OK(st);
    int ok = st == ONYX_OK && onyx_tensor_numel(out) == 2 * 3 * C;
    for (int i = 0; ok && i < 2 * 3 * C; i++)
        y[i] = dt == ONYX_DTYPE_FLOAT16 ? onyx_f16_to_f32(((const uint16_t *)onyx_tensor_data(out))[i])
                                        : ((const float *)onyx_tensor_data(out))[i];
    onyx_tensor_destroy(x);
    onyx_tensor_destroy(out);
    return ok;
}

/* Open w's graph at both levels, check the op counts and that both give the same y. */
static void check_case(onyx_graph_writer *w, const fused_case *c) {
    uint8_t *bytes = NULL;
    size_t size = 0;
    ONYX_CHECK_OK(onyx_graph_writer_finish(w, 17, &bytes, &size));
    onyx_graph_writer_release(w);
    if (!bytes) return;
    onyx_session *basic = open_level(bytes, size, ONYX_OPT_BASIC), *all = open_level(bytes, size, ONYX_OPT_ALL);
    onyx_free(bytes);
    if (basic && all) {
        fprintf(stderr, "  %s\n", c->name);
        if (c->fused) {
            ONYX_CHECK_INT(onyx_test_count_op(all, c->fused), c->fused_count);
            ONYX_CHECK_INT(onyx_test_count_op(basic, c->fused), 0);
        }
        if (c->gone) {
            ONYX_CHECK(onyx_test_count_op(basic, c->gone) > 0);
            if (c->fused) ONYX_CHECK_INT(onyx_test_count_op(all, c->gone), 0);
            else ONYX_CHECK_INT(onyx_test_count_op(all, c->gone), onyx_test_count_op(basic, c->gone));
        }
        float want[2 * 3 * C], got[2 * 3 * C];
        if (run_graph(basic, c->dtype, want) && run_graph(all, c->dtype, got))
            ONYX_CHECK_FLOATS(got, want, 2 * 3 * C, c->atol, c->atol);
    }
    onyx_session_destroy(basic);
    onyx_session_destroy(all);
}

static void scalar(onyx_graph_writer *w, const char *name, float v) { onyx_graph_writer_floats(w, name, &v, NULL, 0); }

static void weight(onyx_graph_writer *w, const char *name, float scale) {
    float v[C];
    for (int i = 0; i < C; i++) v[i] = scale * (0.5f + 0.05f * (float)i) * (i % 3 ? 1.0f : -1.0f);
    int64_t dims[1] = {C};
    onyx_graph_writer_floats(w, name, v, dims, 1);
}

/* ---- T5's RMS norm ---- */

/* y = w * (x * 1 / sqrt(mean(x^2) + eps)). half: x and y float16, the statistics in float32
 * (T5LayerNorm's hidden_states.to(float32)), Casts as the TorchScript exporter writes them. */
/* The start of both RMS-norm graphs: x and y of dtype dt, the constants two, eps, one and the
 * weight (float32) named weight_name. */
static void rms_graph_begin(onyx_graph_writer *w, const char *name, onyx_dtype dt, const char *weight_name) {
    onyx_graph_writer_init(w, name);
    onyx_graph_writer_input(w, "x", dt, 3);
    onyx_graph_writer_output(w, "y", dt, 3);
    scalar(w, "two", 2.0f);
    scalar(w, "eps", 1e-6f);
    scalar(w, "one", 1.0f);
    weight(w, weight_name, 1.0f);
}

static void rms_norm_graph(onyx_graph_writer *w, int half, int reciprocal, int mul_square, int shared_cast) {
    onyx_dtype dt = half ? ONYX_DTYPE_FLOAT16 : ONYX_DTYPE_FLOAT32;
    rms_graph_begin(w, "rms_norm", dt, "w32");
    onyx_node_attr_value to_f32 = ONYX_ATTR_INT("to", ONYX_DTYPE_FLOAT32), to_dt = ONYX_ATTR_INT("to", dt);
    int64_t last[1] = {-1};
    onyx_node_attr_value mean_attrs[2] = {{"axes", 0, 0.0f, 0, last, 1}, ONYX_ATTR_INT("keepdims", 1)};
    onyx_graph_writer_node(w, "Cast", "x", "xf", &to_f32, 1);
    if (mul_square) onyx_graph_writer_node(w, "Mul", "xf,xf", "sq", NULL, 0);
    else onyx_graph_writer_node(w, "Pow", "xf,two", "sq", NULL, 0);
    onyx_graph_writer_node(w, "ReduceMean", "sq", "var", mean_attrs, 2);
    onyx_graph_writer_node(w, "Add", "var,eps", "ve", NULL, 0);
    onyx_graph_writer_node(w, "Sqrt", "ve", "sd", NULL, 0);
    if (reciprocal) onyx_graph_writer_node(w, "Reciprocal", "sd", "inv", NULL, 0);
    else onyx_graph_writer_node(w, "Div", "one,sd", "inv", NULL, 0);
    if (!shared_cast) onyx_graph_writer_node(w, "Cast", "x", "xf2", &to_f32, 1);
    onyx_graph_writer_node(w, "Mul", shared_cast ? "xf,inv" : "inv,xf2", "normed", NULL, 0);
    onyx_graph_writer_node(w, "Cast", "normed", "nh", &to_dt, 1);
    onyx_graph_writer_node(w, "Cast", "w32", "wt", &to_dt, 1); /* folded: a constant of x's dtype */
    onyx_graph_writer_node(w, "Mul", "wt,nh", "y", NULL, 0);
}

static void test_rms_norm_fuses(void) {
    onyx_graph_writer w;
    for (int half = 0; half < 2; half++) {
        double atol = half ? 4e-3 : 1e-5;
        onyx_dtype dt = half ? ONYX_DTYPE_FLOAT16 : ONYX_DTYPE_FLOAT32;
        rms_norm_graph(&w, half, 0, 0, 1);
        check_case(&w, &(fused_case){"RMS norm, Div(1, Sqrt), one Cast", dt, "SimplifiedLayerNormalization", 1, "Sqrt", atol});
        rms_norm_graph(&w, half, 1, 0, 0);
        check_case(&w, &(fused_case){"RMS norm, Reciprocal, two Casts", dt, "SimplifiedLayerNormalization", 1, "Sqrt", atol});
        rms_norm_graph(&w, half, 0, 1, 1);
        check_case(&w, &(fused_case){"RMS norm, x * x", dt, "SimplifiedLayerNormalization", 1, "ReduceMean", atol});
    }
}

/* y = w * (x / sqrt(mean(x^2 over axis) + eps)) in float32; with read_outside, the variance is
 * also added to y (a reader outside the chain). */
static void plain_rms_graph(onyx_graph_writer *w, const char *name, int64_t axis, int read_outside) {
    rms_graph_begin(w, name, ONYX_DTYPE_FLOAT32, "w");
    int64_t axes[1] = {axis};
    onyx_node_attr_value mean_attrs[2] = {{"axes", 0, 0.0f, 0, axes, 1}, ONYX_ATTR_INT("keepdims", 1)};
    onyx_graph_writer_node(w, "Pow", "x,two", "sq", NULL, 0);
    onyx_graph_writer_node(w, "ReduceMean", "sq", "var", mean_attrs, 2);
    onyx_graph_writer_node(w, "Add", "var,eps", "ve", NULL, 0);
    onyx_graph_writer_node(w, "Sqrt", "ve", "sd", NULL, 0);
    onyx_graph_writer_node(w, "Div", "one,sd", "inv", NULL, 0);
    onyx_graph_writer_node(w, "Mul", "x,inv", "normed", NULL, 0);
    onyx_graph_writer_node(w, "Mul", "w,normed", read_outside ? "scaled" : "y", NULL, 0);
    if (read_outside) onyx_graph_writer_node(w, "Add", "scaled,var", "y", NULL, 0);
}

/* Chains that are not RMS norms stay: the mean over another axis, a variance read elsewhere. */
static void test_rms_norm_lookalikes_stay(void) {
    onyx_graph_writer w;
    plain_rms_graph(&w, "mean_over_axis_1", 1, 0);
    check_case(&w, &(fused_case){"mean over axis 1", ONYX_DTYPE_FLOAT32, NULL, 0, "Sqrt", 1e-6});
    plain_rms_graph(&w, "variance_read_twice", -1, 1);
    check_case(&w, &(fused_case){"variance read outside the chain", ONYX_DTYPE_FLOAT32, NULL, 0, "Sqrt", 1e-6});
    plain_rms_graph(&w, "rms_norm", -1, 0); /* and the same chain over the last axis fuses */
    check_case(&w, &(fused_case){"plain RMS norm", ONYX_DTYPE_FLOAT32, "SimplifiedLayerNormalization", 1, "Sqrt", 1e-5});
}

/* ---- tanh GELU ---- */

/* y = 0.5 h (1 + tanh(sqrt(2/pi) (h + 0.044715 h^3))), h = x + bias when biased (a Linear's
 * output), the 0.5 placed in one of the three ways exporters write it, h^3 as Pow or h * h * h. */
static void tanh_gelu_graph(onyx_graph_writer *w, int half_first, int cube_by_mul, int biased) {
    onyx_graph_writer_init(w, "tanh_gelu");
    onyx_graph_writer_input(w, "x", ONYX_DTYPE_FLOAT32, 3);
    onyx_graph_writer_output(w, "y", ONYX_DTYPE_FLOAT32, 3);
    scalar(w, "half", 0.5f);
    scalar(w, "three", 3.0f);
    scalar(w, "c", 0.044715f);
    scalar(w, "k", 0.7978845608f);
    scalar(w, "one", 1.0f);
    const char *h = "x";
    if (biased) {
        weight(w, "bias", 0.3f);
        onyx_graph_writer_node(w, "Add", "x,bias", "h", NULL, 0);
        h = "h";
    }
    char in[64];
    if (cube_by_mul) {
        snprintf(in, sizeof in, "%s,%s", h, h);
        onyx_graph_writer_node(w, "Mul", in, "sq", NULL, 0);
        snprintf(in, sizeof in, "%s,sq", h);
        onyx_graph_writer_node(w, "Mul", in, "cube", NULL, 0);
    } else {
        snprintf(in, sizeof in, "%s,three", h);
        onyx_graph_writer_node(w, "Pow", in, "cube", NULL, 0);
    }
    onyx_graph_writer_node(w, "Mul", "cube,c", "term", NULL, 0);
    snprintf(in, sizeof in, "%s,term", h);
    onyx_graph_writer_node(w, "Add", in, "sum", NULL, 0);
    onyx_graph_writer_node(w, "Mul", "k,sum", "inner", NULL, 0);
    onyx_graph_writer_node(w, "Tanh", "inner", "t", NULL, 0);
    onyx_graph_writer_node(w, "Add", "t,one", "a", NULL, 0);
    if (half_first == 0) { /* Mul(Mul(h, 0.5), a): TorchScript's gelu_new */
        snprintf(in, sizeof in, "%s,half", h);
        onyx_graph_writer_node(w, "Mul", in, "hh", NULL, 0);
        onyx_graph_writer_node(w, "Mul", "hh,a", "y", NULL, 0);
    } else if (half_first == 1) { /* Mul(Mul(h, a), 0.5) */
        snprintf(in, sizeof in, "a,%s", h);
        onyx_graph_writer_node(w, "Mul", in, "ha", NULL, 0);
        onyx_graph_writer_node(w, "Mul", "half,ha", "y", NULL, 0);
    } else { /* Mul(h, Mul(0.5, a)) */
        onyx_graph_writer_node(w, "Mul", "half,a", "ah", NULL, 0);
        snprintf(in, sizeof in, "%s,ah", h);
        onyx_graph_writer_node(w, "Mul", in, "y", NULL, 0);
    }
}

static void test_tanh_gelu_fuses(void) {
    onyx_graph_writer w;
    for (int form = 0; form < 3; form++)
        for (int cube = 0; cube < 2; cube++) {
            tanh_gelu_graph(&w, form, cube, 0);
            check_case(&w, &(fused_case){"tanh GELU", ONYX_DTYPE_FLOAT32, "FastGelu", 1, "Tanh", 1e-5});
        }
    /* the bias Add folds into FastGelu's second input: no Add is left */
    tanh_gelu_graph(&w, 0, 0, 1);
    check_case(&w, &(fused_case){"tanh GELU with a bias", ONYX_DTYPE_FLOAT32, "FastGelu", 1, "Add", 1e-5});
}

/* A chain whose constant is not GELU's (0.05 for 0.044715) stays. */
static void test_tanh_gelu_lookalike_stays(void) {
    onyx_graph_writer w;
    onyx_graph_writer_init(&w, "not_gelu");
    onyx_graph_writer_input(&w, "x", ONYX_DTYPE_FLOAT32, 3);
    onyx_graph_writer_output(&w, "y", ONYX_DTYPE_FLOAT32, 3);
    scalar(&w, "half", 0.5f);
    scalar(&w, "three", 3.0f);
    scalar(&w, "c", 0.05f);
    scalar(&w, "k", 0.7978845608f);
    scalar(&w, "one", 1.0f);
    onyx_graph_writer_node(&w, "Pow", "x,three", "cube", NULL, 0);
    onyx_graph_writer_node(&w, "Mul", "cube,c", "term", NULL, 0);
    onyx_graph_writer_node(&w, "Add", "x,term", "sum", NULL, 0);
    onyx_graph_writer_node(&w, "Mul", "k,sum", "inner", NULL, 0);
    onyx_graph_writer_node(&w, "Tanh", "inner", "t", NULL, 0);
    onyx_graph_writer_node(&w, "Add", "t,one", "a", NULL, 0);
    onyx_graph_writer_node(&w, "Mul", "x,half", "hh", NULL, 0);
    onyx_graph_writer_node(&w, "Mul", "hh,a", "y", NULL, 0);
    check_case(&w, &(fused_case){"0.05 in place of 0.044715", ONYX_DTYPE_FLOAT32, NULL, 0, "Tanh", 1e-6});
}

/* ---- no-op Casts ---- */

static void test_noop_cast_becomes_identity(void) {
    onyx_graph_writer w;
    onyx_graph_writer_init(&w, "casts");
    onyx_graph_writer_input(&w, "x", ONYX_DTYPE_FLOAT32, 3);
    onyx_graph_writer_output(&w, "y", ONYX_DTYPE_FLOAT32, 3);
    scalar(&w, "one", 1.0f);
    onyx_node_attr_value to_f32 = ONYX_ATTR_INT("to", ONYX_DTYPE_FLOAT32);
    onyx_graph_writer_node(&w, "Add", "x,one", "s", NULL, 0);
    onyx_graph_writer_node(&w, "Cast", "s", "c", &to_f32, 1);
    onyx_graph_writer_node(&w, "Softmax", "c", "y", NULL, 0);
    check_case(&w, &(fused_case){"Cast float32 to float32", ONYX_DTYPE_FLOAT32, "Identity", 1, "Cast", 1e-6});
    /* a real Cast stays */
    onyx_graph_writer_init(&w, "real_cast");
    onyx_graph_writer_input(&w, "x", ONYX_DTYPE_FLOAT32, 3);
    onyx_graph_writer_output(&w, "y", ONYX_DTYPE_FLOAT32, 3);
    onyx_node_attr_value to_f16 = ONYX_ATTR_INT("to", ONYX_DTYPE_FLOAT16);
    onyx_graph_writer_node(&w, "Cast", "x", "h", &to_f16, 1);
    onyx_graph_writer_node(&w, "Cast", "h", "y", &to_f32, 1);
    check_case(&w, &(fused_case){"Cast to float16 and back", ONYX_DTYPE_FLOAT32, NULL, 0, "Cast", 0});
}

/* ---- residual Add + LayerNormalization ---- */

/* r = x + x * 0.5 (or x + a 1-D constant: a broadcast skip); y = LayerNormalization(r), plus r
 * again when keep_sum (a pre-norm block's next residual reads the sum). */
static void skip_norm_graph(onyx_graph_writer *w, onyx_dtype dt, int broadcast, int keep_sum) {
    onyx_graph_writer_init(w, "skip_norm");
    onyx_graph_writer_input(w, "x", dt, 3);
    onyx_graph_writer_output(w, "y", dt, 3);
    onyx_node_attr_value to_dt = ONYX_ATTR_INT("to", dt), eps = ONYX_ATTR_FLOAT("epsilon", 1e-5f);
    weight(w, "g32", 1.0f);
    weight(w, "b32", 0.25f);
    scalar(w, "half32", 0.5f);
    onyx_graph_writer_node(w, "Cast", "g32", "g", &to_dt, 1);
    onyx_graph_writer_node(w, "Cast", "b32", "b", &to_dt, 1);
    onyx_graph_writer_node(w, "Cast", "half32", "half", &to_dt, 1);
    if (broadcast) onyx_graph_writer_node(w, "Add", "x,b", "r", NULL, 0);
    else {
        onyx_graph_writer_node(w, "Mul", "x,half", "h", NULL, 0);
        onyx_graph_writer_node(w, "Add", "x,h", "r", NULL, 0);
    }
    onyx_graph_writer_node(w, "LayerNormalization", "r,g,b", keep_sum ? "n" : "y", &eps, 1);
    if (keep_sum) onyx_graph_writer_node(w, "Add", "n,r", "y", NULL, 0);
}

static void test_skip_norm_fuses(void) {
    onyx_graph_writer w;
    for (int half = 0; half < 2; half++) {
        onyx_dtype dt = half ? ONYX_DTYPE_FLOAT16 : ONYX_DTYPE_FLOAT32;
        double atol = half ? 1e-2 : 1e-5;
        skip_norm_graph(&w, dt, 0, 1);
        check_case(&w, &(fused_case){half ? "Add + LayerNormalization, sum read again, float16"
                                          : "Add + LayerNormalization, sum read again",
                                     dt, "SkipLayerNormalization", 1, "LayerNormalization", atol});
        skip_norm_graph(&w, dt, 0, 0);
        check_case(&w, &(fused_case){"Add + LayerNormalization", dt, "SkipLayerNormalization", 1, "LayerNormalization", atol});
        skip_norm_graph(&w, dt, 1, 1);
        check_case(&w, &(fused_case){"a broadcast Add + LayerNormalization", dt, "SkipLayerNormalization", 1,
                                     "LayerNormalization", atol});
    }
}

/* ---- attention scores: scale, mask, Softmax ---- */

/* y = Softmax(x * 0.125 + m) over the last axis (scale 0: no Mul, x from a MatMul; mul_first:
 * the constant is Mul's first operand), m a broadcast mask (1, 1, C) or a full (2, 3, C) one. */
static void softmax_graph(onyx_graph_writer *w, onyx_dtype dt, int scaled, int mul_first, int full_mask) {
    onyx_graph_writer_init(w, "scale_add_softmax");
    onyx_graph_writer_input(w, "x", dt, 3);
    onyx_graph_writer_output(w, "y", dt, 3);
    onyx_node_attr_value to_dt = ONYX_ATTR_INT("to", dt);
    scalar(w, "scale32", 0.125f);
    onyx_graph_writer_node(w, "Cast", "scale32", "scale", &to_dt, 1);
    float mask[C], eye[C * C];
    for (int i = 0; i < C; i++) mask[i] = i % 4 == 3 ? -30000.0f : 0.05f * (float)i;
    for (int i = 0; i < C * C; i++) eye[i] = i % (C + 1) == 0 ? 1.0f : 0.0f;
    int64_t mask_dims[3] = {1, 1, C}, eye_dims[2] = {C, C};
    onyx_graph_writer_floats(w, "mask32", mask, mask_dims, 3);
    onyx_graph_writer_floats(w, "eye32", eye, eye_dims, 2);
    onyx_graph_writer_node(w, "Cast", "mask32", "mask", &to_dt, 1);
    onyx_graph_writer_node(w, "Cast", "eye32", "eye", &to_dt, 1);
    if (full_mask) onyx_graph_writer_node(w, "Mul", "x,mask", "m", NULL, 0); /* (2, 3, C) */
    onyx_graph_writer_node(w, "MatMul", "x,eye", "s", NULL, 0);            /* the scores */
    if (scaled) onyx_graph_writer_node(w, "Mul", mul_first ? "scale,s" : "s,scale", "ss", NULL, 0);
    onyx_graph_writer_node(w, "Add", full_mask ? "m,ss" : (scaled ? "ss,mask" : "s,mask"), "t", NULL, 0);
    onyx_graph_writer_node(w, "Softmax", "t", "y", NULL, 0);
}

static void test_scale_add_softmax_fuses(void) {
    onyx_graph_writer w;
    for (int half = 0; half < 2; half++) {
        onyx_dtype dt = half ? ONYX_DTYPE_FLOAT16 : ONYX_DTYPE_FLOAT32;
        double atol = half ? 2e-3 : 1e-6;
        softmax_graph(&w, dt, 1, 0, 0);
        check_case(&w, &(fused_case){"scores * scale + mask", dt, "ScaleAddSoftmax", 1, "Softmax", atol});
        softmax_graph(&w, dt, 1, 1, 0);
        check_case(&w, &(fused_case){"scale * scores + mask", dt, "ScaleAddSoftmax", 1, "Softmax", atol});
        softmax_graph(&w, dt, 0, 0, 0);
        check_case(&w, &(fused_case){"scores + position bias", dt, "ScaleAddSoftmax", 1, "Softmax", atol});
        softmax_graph(&w, dt, 1, 0, 1);
        check_case(&w, &(fused_case){"a full mask first", dt, "ScaleAddSoftmax", 1, "Softmax", atol});
    }
}

/* ---- attention over heads ---- */

typedef struct attention_variant {
    int mask;          /* ScaleAddSoftmax with a mask (1) or a plain Softmax (0) */
    int keys_two_steps; /* K^T as Transpose(0,2,1,3) then Transpose(0,1,3,2) instead of (0,2,3,1) */
    int leak;          /* the scores are also a graph output: nothing may fuse */
} attention_variant;

/* y (2, 3, C) = the attention of x over 2 heads of 12 as transformers' eager attention exports
 * it: Q = x, K = x * wk, V = x * wv reshaped to (2, 3, 2, 12), Transposes to (batch, heads, ...),
 * MatMul, scale 0.125, mask Add, Softmax, MatMul, Transpose back and Reshape to (2, 3, C). */
static void attention_graph(onyx_graph_writer *w, onyx_dtype dt, const attention_variant *v) {
    onyx_graph_writer_init(w, "attention");
    onyx_graph_writer_input(w, "x", dt, 3);
    onyx_graph_writer_output(w, "y", dt, 3);
    if (v->leak) onyx_graph_writer_output(w, "s", dt, 4);
    onyx_node_attr_value to_dt = ONYX_ATTR_INT("to", dt);
    weight(w, "wk32", 0.8f);
    weight(w, "wv32", 1.1f);
    scalar(w, "scale32", 0.125f);
    float mask[3] = {0.0f, 0.5f, -30000.0f};
    int64_t mask_dims[4] = {1, 1, 1, 3}, heads[4] = {2, 3, 2, 12}, back[3] = {2, 3, C}, four = 4, three = 3;
    onyx_graph_writer_floats(w, "mask32", mask, mask_dims, 4);
    onyx_graph_writer_int64s(w, "heads", heads, &four, 1);
    onyx_graph_writer_int64s(w, "back", back, &three, 1);
    onyx_graph_writer_node(w, "Cast", "wk32", "wk", &to_dt, 1);
    onyx_graph_writer_node(w, "Cast", "wv32", "wv", &to_dt, 1);
    onyx_graph_writer_node(w, "Cast", "scale32", "scale", &to_dt, 1);
    onyx_graph_writer_node(w, "Cast", "mask32", "mask", &to_dt, 1);
    onyx_graph_writer_node(w, "Mul", "x,wk", "k3", NULL, 0);
    onyx_graph_writer_node(w, "Mul", "x,wv", "v3", NULL, 0);
    onyx_graph_writer_node(w, "Reshape", "x,heads", "q4", NULL, 0);
    onyx_graph_writer_node(w, "Reshape", "k3,heads", "k4", NULL, 0);
    onyx_graph_writer_node(w, "Reshape", "v3,heads", "v4", NULL, 0);
    onyx_node_attr_value heads_first = {"perm", 0, 0.0f, 0, (const int64_t[]){0, 2, 1, 3}, 4};
    onyx_node_attr_value keys_last = {"perm", 0, 0.0f, 0, (const int64_t[]){0, 2, 3, 1}, 4};
    onyx_node_attr_value swap_last = {"perm", 0, 0.0f, 0, (const int64_t[]){0, 1, 3, 2}, 4};
    onyx_graph_writer_node(w, "Transpose", "q4", "qt", &heads_first, 1);
    if (v->keys_two_steps) {
        onyx_graph_writer_node(w, "Transpose", "k4", "kh", &heads_first, 1);
        onyx_graph_writer_node(w, "Transpose", "kh", "kt", &swap_last, 1);
    } else {
        onyx_graph_writer_node(w, "Transpose", "k4", "kt", &keys_last, 1);
    }
    onyx_graph_writer_node(w, "Transpose", "v4", "vt", &heads_first, 1);
    onyx_graph_writer_node(w, "MatMul", "qt,kt", "s", NULL, 0);
    if (v->mask) {
        onyx_graph_writer_node(w, "Mul", "s,scale", "ss", NULL, 0);
        onyx_graph_writer_node(w, "Add", "ss,mask", "t", NULL, 0);
        onyx_graph_writer_node(w, "Softmax", "t", "p", NULL, 0);
    } else {
        onyx_graph_writer_node(w, "Softmax", "s", "p", NULL, 0);
    }
    onyx_graph_writer_node(w, "MatMul", "p,vt", "o", NULL, 0);
    onyx_graph_writer_node(w, "Transpose", "o", "ot", &heads_first, 1);
    onyx_graph_writer_node(w, "Reshape", "ot,back", "y", NULL, 0);
}

static void test_attention_fuses(void) {
    static const attention_variant masked = {1, 0, 0}, plain = {0, 0, 0}, two_steps = {1, 1, 0}, leak = {1, 0, 1};
    onyx_graph_writer w;
    onyx_dtype f16 = ONYX_DTYPE_FLOAT16, f32 = ONYX_DTYPE_FLOAT32;
    /* float16 against the unfused graph, which rounds the scores and probabilities to float16 */
    attention_graph(&w, f16, &masked);
    check_case(&w, &(fused_case){"attention: scale, mask, softmax", f16, "Attention", 1, "Transpose", 1e-2});
    attention_graph(&w, f16, &plain);
    check_case(&w, &(fused_case){"attention: softmax only", f16, "Attention", 1, "Transpose", 1e-2});
    attention_graph(&w, f16, &two_steps);
    check_case(&w, &(fused_case){"attention: K^T in two Transposes", f16, "Attention", 1, "Transpose", 1e-2});
    /* float32 fuses where the CPU runs the graph (test_optimize: not for CUDA); a chain value
     * read outside stays unfused */
    attention_graph(&w, f32, &masked);
    check_case(&w, &(fused_case){"attention in float32 on the CPU", f32, "Attention", 1, "Transpose", 1e-5});
    attention_graph(&w, f16, &leak);
    check_case(&w, &(fused_case){"attention whose scores are an output stays", f16, NULL, 0, "Transpose", 1e-2});
}

/* ---- T5's fp16 overflow guard ---- */

typedef struct clamp_variant {
    const char *name;
    onyx_dtype dtype;  /* of x and y */
    int widen_to;      /* the Cast before IsInf: a dtype, or 0 for none */
    int64_t threshold; /* Greater(count, threshold): 0 is the guard */
} clamp_variant;

/* y = Clip(x, -b, b), b = Where(ReduceSum(Cast(IsInf(Cast(x)))) > threshold, 64504, 65504), in
 * the nodes transformers' T5 exports after every residual Add in float16. */
static void clamp_inf_graph(onyx_graph_writer *w, const clamp_variant *v) {
    onyx_graph_writer_init(w, v->name);
    onyx_graph_writer_input(w, "x", v->dtype, 3);
    onyx_graph_writer_output(w, "y", v->dtype, 3);
    onyx_node_attr_value to_wide = ONYX_ATTR_INT("to", v->widen_to), to_i64 = ONYX_ATTR_INT("to", ONYX_DTYPE_INT64),
                         to_dt = ONYX_ATTR_INT("to", v->dtype), keep0 = ONYX_ATTR_INT("keepdims", 0);
    onyx_graph_writer_int64s(w, "threshold", &v->threshold, NULL, 0);
    scalar(w, "if_inf", 64504.0f);
    scalar(w, "finite", 65504.0f);
    onyx_graph_writer_node(w, "Add", "x,x", "s", NULL, 0); /* the residual Add */
    if (v->widen_to) onyx_graph_writer_node(w, "Cast", "s", "wide", &to_wide, 1);
    onyx_graph_writer_node(w, "IsInf", v->widen_to ? "wide" : "s", "inf", NULL, 0);
    onyx_graph_writer_node(w, "Cast", "inf", "count", &to_i64, 1);
    onyx_graph_writer_node(w, "ReduceSum", "count", "total", &keep0, 1);
    onyx_graph_writer_node(w, "Greater", "total,threshold", "any", NULL, 0);
    onyx_graph_writer_node(w, "Where", "any,if_inf,finite", "b", NULL, 0);
    onyx_graph_writer_node(w, "Neg", "b", "nb", NULL, 0);
    onyx_graph_writer_node(w, "Cast", "nb", "lo", &to_dt, 1);
    onyx_graph_writer_node(w, "Cast", "b", "hi", &to_dt, 1);
    onyx_graph_writer_node(w, "Clip", "s,lo,hi", "y", NULL, 0);
}

/* Run s on x (n values of dtype dt given as float32, inf and NaN included) into y's raw bits. */
static int run_bits(onyx_session *s, onyx_dtype dt, const float *xv, int n, uint64_t *bits) {
    int64_t dims[3] = {1, 1, n};
    onyx_tensor *x = NULL, *out = NULL;
    if (onyx_tensor_create(dt, dims, 3, &x) != ONYX_OK) return 0;
    for (int i = 0; i < n; i++) {
        if (dt == ONYX_DTYPE_FLOAT16) ((uint16_t *)onyx_tensor_data(x))[i] = onyx_f32_to_f16(xv[i]);
        else if (dt == ONYX_DTYPE_FLOAT64) ((double *)onyx_tensor_data(x))[i] = xv[i] * 1e300; /* far beyond float32 */
        else ((float *)onyx_tensor_data(x))[i] = xv[i];
    }
    const char *in_names[1] = {"x"}, *out_names[1] = {"y"};
    const onyx_tensor *ins[1] = {x};
    onyx_status st = onyx_session_run(s, in_names, ins, 1, out_names, 1, &out);
    ONYX_CHECK_OK(st);
    int ok = st == ONYX_OK && onyx_tensor_numel(out) == n;
    for (int i = 0; ok && i < n; i++) {
        bits[i] = 0;
        size_t size = onyx_dtype_size(dt);
        memcpy(&bits[i], (const char *)onyx_tensor_data(out) + (size_t)i * size, size);
    }
    onyx_tensor_destroy(x);
    onyx_tensor_destroy(out);
    return ok;
}

static void check_clamp_variant(const clamp_variant *v, int fuses) {
    onyx_graph_writer w;
    clamp_inf_graph(&w, v);
    uint8_t *bytes = NULL;
    size_t size = 0;
    ONYX_CHECK_OK(onyx_graph_writer_finish(&w, 17, &bytes, &size));
    onyx_graph_writer_release(&w);
    if (!bytes) return;
    onyx_session *basic = open_level(bytes, size, ONYX_OPT_BASIC), *all = open_level(bytes, size, ONYX_OPT_ALL);
    onyx_free(bytes);
    if (basic && all) {
        fprintf(stderr, "  %s\n", v->name);
        ONYX_CHECK_INT(onyx_test_count_op(all, "ClampInf"), fuses ? 1 : 0);
        ONYX_CHECK_INT(onyx_test_count_op(all, "IsInf"), fuses ? 0 : 1);
        ONYX_CHECK_INT(onyx_test_count_op(basic, "IsInf"), 1);
        /* x + x: finite values, one overflowing to inf (so everything is clipped to 64504, which
         * float16 rounds to 64512), values between the two bounds, NaN, -0 */
        const float inputs[4][6] = {
            {1.5f, -2.25f, 30000.0f, -100.0f, 0.0f, 7.0f},
            {1.5f, 40000.0f, 32400.0f, -32300.0f, -0.0f, 7.0f},
            {-40000.0f, 32400.0f, 1.0f, NAN, 2.0f, -32600.0f},
            {NAN, 32700.0f, -32700.0f, 1.0f, 1e-3f, 32751.0f},
        };
        for (int k = 0; k < 4; k++) {
            uint64_t want[6], got[6];
            if (run_bits(basic, v->dtype, inputs[k], 6, want) && run_bits(all, v->dtype, inputs[k], 6, got))
                for (int i = 0; i < 6; i++) ONYX_CHECK_INT(got[i], want[i]);
        }
    }
    onyx_session_destroy(basic);
    onyx_session_destroy(all);
}

static void test_clamp_inf_fuses(void) {
    check_clamp_variant(&(clamp_variant){"guard in float16, counted in float64", ONYX_DTYPE_FLOAT16, ONYX_DTYPE_FLOAT64, 0}, 1);
    check_clamp_variant(&(clamp_variant){"guard in float16, counted in float32", ONYX_DTYPE_FLOAT16, ONYX_DTYPE_FLOAT32, 0}, 1);
    check_clamp_variant(&(clamp_variant){"guard in float64, no Cast", ONYX_DTYPE_FLOAT64, 0, 0}, 1);
    check_clamp_variant(&(clamp_variant){"guard in float32", ONYX_DTYPE_FLOAT32, ONYX_DTYPE_FLOAT64, 0}, 1);
}

static void test_clamp_inf_lookalikes_stay(void) {
    check_clamp_variant(&(clamp_variant){"more than one inf", ONYX_DTYPE_FLOAT16, ONYX_DTYPE_FLOAT64, 1}, 0);
    /* float64 x counted after a Cast to float32, which overflows to inf where x has none */
    check_clamp_variant(&(clamp_variant){"counted after a narrowing Cast", ONYX_DTYPE_FLOAT64, ONYX_DTYPE_FLOAT32, 0}, 0);
}

int main(void) {
    ONYX_TEST_RUN(test_rms_norm_fuses);
    ONYX_TEST_RUN(test_rms_norm_lookalikes_stay);
    ONYX_TEST_RUN(test_tanh_gelu_fuses);
    ONYX_TEST_RUN(test_tanh_gelu_lookalike_stays);
    ONYX_TEST_RUN(test_noop_cast_becomes_identity);
    ONYX_TEST_RUN(test_skip_norm_fuses);
    ONYX_TEST_RUN(test_scale_add_softmax_fuses);
    ONYX_TEST_RUN(test_attention_fuses);
    ONYX_TEST_RUN(test_clamp_inf_fuses);
    ONYX_TEST_RUN(test_clamp_inf_lookalikes_stay);
    return onyx_test_finish();
}
