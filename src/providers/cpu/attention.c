/*
 * attention.c - onyx Attention: scaled dot-product attention over heads, fused by the graph
 * optimiser (src/graph/fusion.c) from an encoder's
 *     O = Transpose(MatMul(Softmax(MatMul(Transpose(Q), Transpose(K)) * scale + B), Transpose(V)))
 * Inputs Q (batch, q_len, heads, head_dim), K (batch or 1, kv_len, heads, head_dim), V (batch or 1,
 * kv_len, heads, v_dim) as the projections' Reshapes leave them, and an optional additive bias B
 * (the mask or position bias) broadcast to (batch, heads, q_len, kv_len); attribute scale (default
 * 1). Output (batch, q_len, heads, v_dim):
 *     O[b, i, h, :] = sum_j softmax_j(scale * Q[b, i, h, :] . K[b, j, h, :] + B[b, h, i, j]) V[b, j, h, :]
 * The transposes become strides and the (q_len, kv_len) scores never leave the kernel; the scores
 * and the softmax are float32 (the unfused float16 graph rounds them to float16 at each node).
 *
 * The view (shapes and strides) is shared with the CUDA provider. The CPU kernel works per
 * (batch, head) pair, OpenMP over the pairs: K's and V's rows of the pair widened to float32 in
 * the thread's workspace, then each query row's scores, softmax and weighted sum of V.
 */
#include <math.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "core/dtype.h"
#include "core/status.h"
#include "providers/cpu/math_kernels.h"

static const char *shape_of(const onyx_tensor *t, char *buf, size_t size) {
    return onyx_shape_describe(t->dims, t->rank, buf, size);
}

onyx_status math_attention_view(const onyx_kernel_ctx *ctx, math_attention *v) {
    memset(v, 0, sizeof *v);
    for (int i = 0; i < 3; i++) ONYX_TRY(onyx_kernel_require(ctx, i));
    const onyx_tensor *q = ctx->inputs[0], *k = ctx->inputs[1], *val = ctx->inputs[2];
    const onyx_tensor *b = ctx->n_inputs > 3 ? ctx->inputs[3] : NULL;
    char qs[96], ks[96], vs[96], bs[96];
    const char *names[3] = {"Q", "K", "V"};
    const onyx_tensor *qkv[3] = {q, k, val};
    for (int i = 0; i < 3; i++) {
        if (qkv[i]->rank != 4)
            return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "Attention: input %d (%s) is %s; expected rank 4 (batch, sequence, heads, head size)",
                              i, names[i], shape_of(qkv[i], qs, sizeof qs));
        if (qkv[i]->dtype != q->dtype)
            return onyx_error(ONYX_ERR_INVALID_MODEL, "Attention: input %d (%s) is %s but Q is %s", i, names[i],
                              onyx_dtype_name(qkv[i]->dtype), onyx_dtype_name(q->dtype));
    }
    if (b && b->dtype != q->dtype)
        return onyx_error(ONYX_ERR_INVALID_MODEL, "Attention: input 3 (B) is %s but Q is %s", onyx_dtype_name(b->dtype),
                          onyx_dtype_name(q->dtype));
    v->batch = q->dims[0];
    v->q_len = q->dims[1];
    v->heads = q->dims[2];
    v->head_dim = q->dims[3];
    v->kv_len = k->dims[1];
    v->v_dim = val->dims[3];
    int batch_ok = (k->dims[0] == v->batch || k->dims[0] == 1) && (val->dims[0] == v->batch || val->dims[0] == 1);
    if (!batch_ok || k->dims[2] != v->heads || val->dims[2] != v->heads || k->dims[3] != v->head_dim ||
        val->dims[1] != v->kv_len)
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT,
                          "Attention: Q %s, K %s and V %s do not agree: K and V need Q's batch (or 1) and heads, K "
                          "Q's head size, V K's length",
                          shape_of(q, qs, sizeof qs), shape_of(k, ks, sizeof ks), shape_of(val, vs, sizeof vs));
    const onyx_tensor *t4[4] = {q, k, val, NULL};
    int64_t *strides[3] = {v->q_strides, v->k_strides, v->v_strides};
    for (int i = 0; i < 3; i++) { /* dense (batch, sequence, heads, size): strides of the first three */
        const int64_t *d = t4[i]->dims;
        strides[i][2] = d[3];
        strides[i][1] = d[2] * d[3];
        strides[i][0] = d[0] == 1 ? 0 : d[1] * d[2] * d[3];
    }
    v->o_strides[2] = v->v_dim;
    v->o_strides[1] = v->heads * v->v_dim;
    v->o_strides[0] = v->q_len * v->heads * v->v_dim;
    v->out_dims[0] = v->batch;
    v->out_dims[1] = v->q_len;
    v->out_dims[2] = v->heads;
    v->out_dims[3] = v->v_dim;
    v->scale = onyx_node_attr_float(ctx->node, "scale", 1.0f);
    v->has_bias = b != NULL;
    if (b) {
        int64_t scores[4] = {v->batch, v->heads, v->q_len, v->kv_len}, merged[ONYX_MAX_RANK];
        int rank = 0;
        if (b->rank > 4 || onyx_broadcast_shape(scores, 4, b->dims, b->rank, merged, &rank) != 0 || rank != 4 ||
            memcmp(merged, scores, sizeof scores) != 0)
            return onyx_error(ONYX_ERR_INVALID_ARGUMENT,
                              "Attention: input 3 (B) %s does not broadcast to the scores (batch, heads, q_len, kv_len) %s",
                              shape_of(b, bs, sizeof bs), onyx_shape_describe(scores, 4, qs, sizeof qs));
        onyx_broadcast_strides(b->dims, b->rank, scores, 4, v->bias_strides);
    }
    return ONYX_OK;
}

onyx_status math_attention_prepare(onyx_kernel_ctx *ctx) {
    math_attention v;
    ONYX_TRY(math_attention_view(ctx, &v));
    ONYX_TRY(onyx_tensor_set_shape(ctx->outputs[0], ctx->inputs[0]->dtype, v.out_dims, 4, "output 0 (O)"));
    /* per thread: K's and V's rows of one (batch, head) pair, one query row, its scores */
    size_t per_thread = (size_t)(v.kv_len * (v.head_dim + v.v_dim + 1) + v.head_dim + v.v_dim) * sizeof(float);
    ctx->workspace_bytes = (size_t)math_threads(ctx) * per_thread;
    return ONYX_OK;
}

/* Rows of one head from a (batch, sequence, heads, size) tensor, widened to float32: rows x size. */
static void gather_rows(onyx_dtype dt, const void *data, int64_t base, int64_t row_stride, int64_t rows, int64_t size,
                        float *dst) {
    for (int64_t r = 0; r < rows; r++) math_to_f32(dt, data, base + r * row_stride, size, dst + r * size);
}

onyx_status math_attention_run(onyx_kernel_ctx *ctx) {
    math_attention v;
    ONYX_TRY(math_attention_view(ctx, &v));
    const onyx_tensor *q = ctx->inputs[0], *k = ctx->inputs[1], *val = ctx->inputs[2];
    const onyx_tensor *b = v.has_bias ? ctx->inputs[3] : NULL;
    onyx_tensor *o = ctx->outputs[0];
    onyx_dtype dt = q->dtype;
    const int64_t D = v.head_dim, DV = v.v_dim, T = v.kv_len;
    if (onyx_tensor_numel(o) == 0) return ONYX_OK;
    int threads = math_threads(ctx);
    size_t per_thread = (size_t)(T * (D + DV + 1) + D + DV);
    float *ws = ctx->workspace;
    int64_t pairs = v.batch * v.heads;
#pragma omp parallel for num_threads(threads) if (pairs > 1 && pairs * v.q_len * T * (D + DV) > (1 << 16))
    for (int64_t p = 0; p < pairs; p++) {
        int t = 0;
#ifdef _OPENMP
        t = omp_get_thread_num();
#endif
        float *kf = ws + (size_t)t * per_thread, *vf = kf + T * D, *s = vf + T * DV, *qf = s + T, *acc = qf + D;
        int64_t bi = p / v.heads, h = p % v.heads;
        gather_rows(dt, k->data, bi * v.k_strides[0] + h * v.k_strides[2], v.k_strides[1], T, D, kf);
        gather_rows(dt, val->data, bi * v.v_strides[0] + h * v.v_strides[2], v.v_strides[1], T, DV, vf);
        for (int64_t i = 0; i < v.q_len; i++) {
            math_to_f32(dt, q->data, bi * v.q_strides[0] + i * v.q_strides[1] + h * v.q_strides[2], D, qf);
            float m = -INFINITY;
            for (int64_t j = 0; j < T; j++) {
                const float *kr = kf + j * D;
                float dot = 0.0f;
                for (int64_t d = 0; d < D; d++) dot += qf[d] * kr[d];
                float x = dot * v.scale;
                if (b)
                    x += (float)math_load(dt, b->data, bi * v.bias_strides[0] + h * v.bias_strides[1] +
                                                           i * v.bias_strides[2] + j * v.bias_strides[3]);
                s[j] = x;
                if (x > m) m = x;
            }
            float sum = 0.0f;
            for (int64_t j = 0; j < T; j++) {
                s[j] = expf(s[j] - m);
                sum += s[j];
            }
            for (int64_t c = 0; c < DV; c++) acc[c] = 0.0f;
            for (int64_t j = 0; j < T; j++) {
                const float *vr = vf + j * DV;
                for (int64_t c = 0; c < DV; c++) acc[c] += s[j] * vr[c];
            }
            /* no keys: the weighted sum of nothing (0), as the unfused MatMul gives */
            float inv = T ? 1.0f / sum : 0.0f;
            for (int64_t c = 0; c < DV; c++) acc[c] *= inv;
            math_from_f32(dt, acc, DV, o->data, bi * v.o_strides[0] + i * v.o_strides[1] + h * v.o_strides[2]);
        }
    }
    return ONYX_OK;
}
