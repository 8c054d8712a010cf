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
 * The view (shapes and strides) is shared with the CUDA provider. The CPU kernel works in tasks of
 * up to 64 query rows of one (batch, head) pair, OpenMP over the tasks: the scores by one sgemm
 * (Q and K read in place through their strides in float32, widened to float32 in the thread's
 * workspace otherwise), the bias and softmax of each row, the output by another sgemm.
 */
#include <math.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include <cblas.h>

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
    int64_t *strides[3] = {v->q_strides, v->k_strides, v->v_strides};
    for (int i = 0; i < 3; i++) { /* dense (batch, sequence, heads, size): strides of the first three */
        const int64_t *d = qkv[i]->dims;
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

/* Query rows per task: a task's scores are ATTENTION_ROWS x kv_len floats. */
#define ATTENTION_ROWS 64

/* Floats of one thread's workspace: the task's scores, and for float16/bfloat16 its (batch, head)
 * pair's K and V rows, its Q rows, its output rows and one bias row widened to float32. */
static size_t attention_thread_floats(const math_attention *v, onyx_dtype dt) {
    size_t n = (size_t)(ATTENTION_ROWS * v->kv_len);
    if (dt != ONYX_DTYPE_FLOAT32)
        n += (size_t)(v->kv_len * (v->head_dim + v->v_dim + 1) + ATTENTION_ROWS * (v->head_dim + v->v_dim));
    return n;
}

onyx_status math_attention_prepare(onyx_kernel_ctx *ctx) {
    math_attention v;
    ONYX_TRY(math_attention_view(ctx, &v));
    ONYX_TRY(onyx_tensor_set_shape(ctx->outputs[0], ctx->inputs[0]->dtype, v.out_dims, 4, "output 0 (O)"));
    ctx->workspace_bytes = (size_t)math_threads(ctx) * attention_thread_floats(&v, ctx->inputs[0]->dtype) * sizeof(float);
    return ONYX_OK;
}

/* Rows of one head from a (batch, sequence, heads, size) tensor, widened to float32: rows x size. */
static void gather_rows(onyx_dtype dt, const void *data, int64_t base, int64_t row_stride, int64_t rows, int64_t size,
                        float *dst) {
    for (int64_t r = 0; r < rows; r++) math_to_f32(dt, data, base + r * row_stride, size, dst + r * size);
}

/* Each row of s (rows x n): + its bias row, then softmax. The bias's last axis is dense (stride 1)
 * or broadcast (stride 0): a dense float32 row is added in place, other dtypes are widened once
 * per row into brow (n floats), a broadcast one is one value. */
static void bias_softmax_rows(const math_attention *v, onyx_dtype dt, const void *bias, int64_t bi, int64_t h,
                              int64_t i0, int64_t rows, float *s, float *brow) {
    const int64_t n = v->kv_len;
    for (int64_t r = 0; r < rows; r++) {
        float *row = s + r * n;
        if (bias) {
            int64_t base = bi * v->bias_strides[0] + h * v->bias_strides[1] + (i0 + r) * v->bias_strides[2];
            if (v->bias_strides[3] == 0) {
                float b = (float)math_load(dt, bias, base);
                for (int64_t j = 0; j < n; j++) row[j] += b;
            } else {
                const float *b = (const float *)bias + base;
                if (dt != ONYX_DTYPE_FLOAT32) {
                    math_to_f32(dt, bias, base, n, brow);
                    b = brow;
                }
                for (int64_t j = 0; j < n; j++) row[j] += b[j];
            }
        }
        math_softmax_row_f32(row, row, n, 0);
    }
}

/* One task: query rows i0 .. i0 + rows of pair (bi, h). S = scale Q K^T and O = softmax(S + B) V
 * are two sgemm calls; float32 operands are read and written in place through their row strides
 * (a head's rows are heads * size apart), others widened into the workspace first. */
static void attention_task(const math_attention *v, onyx_dtype dt, const void *q, const void *k, const void *val,
                           const void *bias, void *o, int64_t bi, int64_t h, int64_t i0, int64_t rows, float *ws) {
    const int64_t D = v->head_dim, DV = v->v_dim, T = v->kv_len;
    const int64_t qo = bi * v->q_strides[0] + i0 * v->q_strides[1] + h * v->q_strides[2];
    const int64_t ko = bi * v->k_strides[0] + h * v->k_strides[2], vo = bi * v->v_strides[0] + h * v->v_strides[2];
    const int64_t oo = bi * v->o_strides[0] + i0 * v->o_strides[1] + h * v->o_strides[2];
    float *s = ws, *brow = NULL;
    const float *Q, *K, *V;
    float *O;
    int64_t ldq, ldk, ldv, ldo;
    if (dt == ONYX_DTYPE_FLOAT32) {
        Q = (const float *)q + qo, K = (const float *)k + ko, V = (const float *)val + vo, O = (float *)o + oo;
        ldq = v->q_strides[1], ldk = v->k_strides[1], ldv = v->v_strides[1], ldo = v->o_strides[1];
    } else {
        float *kf = s + ATTENTION_ROWS * T, *vf = kf + T * D, *qf = vf + T * DV;
        O = qf + ATTENTION_ROWS * D;
        brow = O + ATTENTION_ROWS * DV;
        gather_rows(dt, k, ko, v->k_strides[1], T, D, kf);
        gather_rows(dt, val, vo, v->v_strides[1], T, DV, vf);
        gather_rows(dt, q, qo, v->q_strides[1], rows, D, qf);
        Q = qf, K = kf, V = vf;
        ldq = ldk = D, ldv = ldo = DV;
    }
    if (D > 0)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)rows, (blasint)T, (blasint)D, v->scale, Q,
                    (blasint)ldq, K, (blasint)ldk, 0.0f, s, (blasint)T);
    else
        memset(s, 0, (size_t)(rows * T) * sizeof(float));
    bias_softmax_rows(v, dt, bias, bi, h, i0, rows, s, brow);
    if (DV > 0)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (blasint)rows, (blasint)DV, (blasint)T, 1.0f, s,
                    (blasint)T, V, (blasint)ldv, 0.0f, O, (blasint)ldo);
    if (dt != ONYX_DTYPE_FLOAT32)
        for (int64_t r = 0; r < rows; r++) math_from_f32(dt, O + r * DV, DV, o, oo + r * v->o_strides[1]);
}

onyx_status math_attention_run(onyx_kernel_ctx *ctx) {
    math_attention v;
    ONYX_TRY(math_attention_view(ctx, &v));
    const onyx_tensor *q = ctx->inputs[0], *k = ctx->inputs[1], *val = ctx->inputs[2];
    const void *bias = v.has_bias ? ctx->inputs[3]->data : NULL;
    onyx_tensor *o = ctx->outputs[0];
    onyx_dtype dt = q->dtype;
    if (onyx_tensor_numel(o) == 0) return ONYX_OK;
    if (v.kv_len == 0) { /* no keys: the weighted sum of nothing (0), as the unfused MatMul gives */
        memset(o->data, 0, o->nbytes);
        return ONYX_OK;
    }
    int threads = math_threads(ctx);
    size_t per_thread = attention_thread_floats(&v, dt);
    float *ws = ctx->workspace;
    int64_t chunks = (v.q_len + ATTENTION_ROWS - 1) / ATTENTION_ROWS, tasks = v.batch * v.heads * chunks;
    int64_t work = v.batch * v.heads * v.q_len * v.kv_len * (v.head_dim + v.v_dim);
    /* BLAS runs single-threaded inside the region with OpenBLAS's OpenMP build (matmul.c) */
#pragma omp parallel for num_threads(threads) schedule(dynamic) if (tasks > 1 && work > (1 << 18))
    for (int64_t t = 0; t < tasks; t++) {
        int tid = 0;
#ifdef _OPENMP
        tid = omp_get_thread_num();
#endif
        int64_t c = t % chunks, p = t / chunks, i0 = c * ATTENTION_ROWS;
        int64_t rows = v.q_len - i0 < ATTENTION_ROWS ? v.q_len - i0 : ATTENTION_ROWS;
        attention_task(&v, dt, q->data, k->data, val->data, bias, o->data, p / v.heads, p % v.heads, i0, rows,
                       ws + (size_t)tid * per_thread);
    }
    return ONYX_OK;
}
