/*
 * matmul.c - the CUDA provider's matrix products: MatMul, MatMulBias, Gemm, MatMulInteger and
 * Einsum.
 *
 * float32, float16, bfloat16 and float64 products go through cuBLASLt (cublasLtMatmul). onyx
 * tensors are row-major and cuBLASLt is column-major, so Y (M,N) = op(A) op(B) is computed as
 * Y^T (N,M) = op(B)^T op(A)^T: cuBLASLt's first operand is our B, its second our A, and no
 * data is transposed. Compute types: CUBLAS_COMPUTE_32F for float32 (CUBLAS_COMPUTE_32F_FAST_TF32
 * only with the provider option use_tf32), CUBLAS_COMPUTE_32F with float32 scales for
 * float16/bfloat16 (float32 accumulation, one rounding at the end), CUBLAS_COMPUTE_64F for
 * float64. Integer products (and float products for which cuBLASLt offers no algorithm) run the
 * tiled kernel of matmul.cu.
 *
 * Descriptor cache. Creating the matmul/layout descriptors is cheap, but the heuristic query
 * (cublasLtMatmulAlgoGetHeuristic) costs tens of microseconds, as much as a decode-step GEMM.
 * So descriptors and the chosen algorithm are kept in a per-process cache of LT_CACHE_ENTRIES
 * entries keyed by everything they depend on: the cuBLASLt handle and device, dtype, compute
 * type, transposes, dims, leading dims, batch count and strides, the bias epilogue, pointer
 * alignments and the workspace size (least recently used evicted). A miss that finds no
 * algorithm is cached too, so the fallback is decided once. The cache is not a field of
 * onyx_cuda_state (the provider core owns that struct); one mutex guards it and is held across
 * cublasLtMatmul, because the bias pointer is an attribute of the shared matmul descriptor.
 * Enqueueing a GEMM is a few microseconds, so sessions on several threads serialise only that.
 * Entries of a destroyed handle stay until evicted (descriptors do not reference the handle;
 * the key's handle and device keep them from being reused for another device).
 *
 * MatMulBias (domain "onyx", MatMul + Add(bias) fused by the graph optimizer; bias 1-D along Y's
 * last axis) is the same GEMMs; when they are one GEMM (a single matrix or a folded batch, the
 * Linear layer [B,T,K] x [K,N] + [N]) the bias rides on cuBLASLt's bias epilogue, otherwise it is
 * broadcast into Y and the GEMMs run with beta 1. Either way the bias is added in the compute type
 * before the one rounding. When cuBLASLt has no bias-epilogue algorithm, run_gemm broadcasts the
 * bias and retries cuBLASLt with beta 1 before the tiled kernel.
 *
 * MatMul batches (NumPy broadcasting of the leading dims) are collapsed first: size-1 dims are
 * dropped and adjacent dims merged while both operands step uniformly. When B is shared by the
 * whole batch and A is contiguous (activations (B,T,C) times a weight (C,OC)), the batch folds
 * into M: one GEMM. Otherwise the innermost collapsed dim is one strided-batched call (stride 0
 * for a broadcast operand) and any outer dims are a loop of such calls.
 *
 * Einsum: the equation is parsed on the host as the CPU kernel does. Two-operand equations
 * without repeated or broadcast labels, whose summed labels appear in both operands, become one
 * batched GEMM: labels fall into batch (both and output), m (A and output), n (B and output) and
 * k (both, summed). Each operand is used in place when its memory is [batch, m, k] (or
 * [batch, k, m], a transpose flag), else copied into that order in the workspace; the output is
 * written in place when it is [batch, m, n] (or [batch, n, m], computed as the transposed
 * product), else through the workspace and a strided copy. Everything else runs the generic
 * kernel (float64 accumulation, as the CPU).
 *
 * Legend: M = rows of op(A) and Y, K = inner dimension, N = columns of op(B) and Y.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "core/dtype.h"
#include "core/tensor.h"
#include "providers/cpu/math_kernels.h"
#include "providers/cuda/cuda_provider.h"
#include "providers/cuda/matmul_launch.h"

_Static_assert(ONYX_MAX_RANK <= ONYX_CUDA_MATMUL_MAX_RANK, "matmul_launch.h views must hold every rank");

#define F3 (ONYX_DT(FLOAT32) | ONYX_DT(FLOAT16) | ONYX_DT(FLOAT64))
#define F4 (F3 | ONYX_DT(BFLOAT16))
#define WIDE_INTS (ONYX_DT(INT32) | ONYX_DT(INT64) | ONYX_DT(UINT32) | ONYX_DT(UINT64))
#define BYTE_INTS (ONYX_DT(INT8) | ONYX_DT(UINT8))
#define MAX ONYX_OPSET_MAX

static onyx_cuda_elem elem_of(onyx_dtype dt) {
    switch (dt) {
    case ONYX_DTYPE_FLOAT16: return ONYX_CUDA_ELEM_F16;
    case ONYX_DTYPE_BFLOAT16: return ONYX_CUDA_ELEM_BF16;
    case ONYX_DTYPE_FLOAT64: return ONYX_CUDA_ELEM_F64;
    case ONYX_DTYPE_INT8: return ONYX_CUDA_ELEM_I8;
    case ONYX_DTYPE_UINT8: return ONYX_CUDA_ELEM_U8;
    case ONYX_DTYPE_INT16: return ONYX_CUDA_ELEM_I16;
    case ONYX_DTYPE_UINT16: return ONYX_CUDA_ELEM_U16;
    case ONYX_DTYPE_INT32: return ONYX_CUDA_ELEM_I32;
    case ONYX_DTYPE_UINT32: return ONYX_CUDA_ELEM_U32;
    case ONYX_DTYPE_INT64: return ONYX_CUDA_ELEM_I64;
    case ONYX_DTYPE_UINT64: return ONYX_CUDA_ELEM_U64;
    default: return ONYX_CUDA_ELEM_F32;
    }
}

static int is_lt_dtype(onyx_dtype dt) {
    return dt == ONYX_DTYPE_FLOAT32 || dt == ONYX_DTYPE_FLOAT16 || dt == ONYX_DTYPE_BFLOAT16 ||
           dt == ONYX_DTYPE_FLOAT64;
}

/* ---- one row-major GEMM: cuBLASLt, else the tiled kernel ---- */

/* y (batch, M, N), contiguous, = alpha * op(a) op(b) + beta * y (+ bias on every row).
 * a is (batch, M, K) with row pitch lda, or (batch, K, M) when trans_a; b is (batch, K, N) with
 * row pitch ldb, or (batch, N, K) when trans_b. */
typedef struct gemm_call {
    onyx_dtype dtype;
    int trans_a, trans_b;
    int64_t M, N, K;
    const void *a;
    int64_t lda, stride_a;
    const void *b;
    int64_t ldb, stride_b;
    void *y;
    int64_t stride_y;
    int64_t batch;
    double alpha, beta; /* beta != 0: y holds C on entry */
    const void *bias;   /* (N) added to every row, or NULL; only with batch 1 and beta 0 */
} gemm_call;

#define LT_CACHE_ENTRIES 256

typedef struct lt_key {
    const void *handle;
    int device_id;
    int dtype;
    int compute;
    int lt_trans_a, lt_trans_b; /* cuBLASLt's operands: our b first, then our a */
    int bias;
    int64_t m, n, k;            /* cuBLASLt's column-major dims: m = N, n = M */
    int64_t lda, ldb, ldd;
    int64_t stride_a, stride_b, stride_d;
    int64_t batch;
    uint32_t align_a, align_b, align_d, align_bias;
    uint64_t workspace_bytes;
} lt_key;

typedef struct lt_entry {
    lt_key key;
    uint64_t hash;
    uint64_t last_used; /* 0 = empty */
    int has_algo;       /* 0: cuBLASLt has no algorithm; the tiled kernel runs */
    int needs_tuning;   /* built, algorithm not yet measured (lt_entry_tune) */
    cublasLtMatmulDesc_t op;
    cublasLtMatrixLayout_t a_layout, b_layout, d_layout;
    cublasLtMatmulAlgo_t algo;
} lt_entry;

static pthread_mutex_t lt_cache_lock = PTHREAD_MUTEX_INITIALIZER;
static lt_entry lt_cache[LT_CACHE_ENTRIES];
static uint64_t lt_cache_clock;

static uint64_t lt_key_hash(const lt_key *key) {
    const unsigned char *p = (const unsigned char *)key;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < sizeof *key; i++) h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

/* Largest power of two (at most 256) dividing the address of every batch's matrix. */
static uint32_t lt_alignment(const void *p, int64_t stride_bytes, int64_t batch) {
    uintptr_t bits = (uintptr_t)p | 256u;
    if (batch > 1) bits |= (uintptr_t)stride_bytes;
    return (uint32_t)(bits & (~bits + 1));
}

static void lt_entry_release(lt_entry *e) {
    if (e->op) cublasLtMatmulDescDestroy(e->op);
    if (e->a_layout) cublasLtMatrixLayoutDestroy(e->a_layout);
    if (e->b_layout) cublasLtMatrixLayoutDestroy(e->b_layout);
    if (e->d_layout) cublasLtMatrixLayoutDestroy(e->d_layout);
    memset(e, 0, sizeof *e);
}

static cublasStatus_t lt_layout(cublasLtMatrixLayout_t *out, cudaDataType_t type, int64_t rows, int64_t cols,
                                int64_t ld, int64_t batch, int64_t stride) {
    cublasStatus_t st = cublasLtMatrixLayoutCreate(out, type, (uint64_t)rows, (uint64_t)cols, ld);
    if (st != CUBLAS_STATUS_SUCCESS || batch <= 1) return st;
    int32_t count = (int32_t)batch;
    st = cublasLtMatrixLayoutSetAttribute(*out, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &count, sizeof count);
    if (st != CUBLAS_STATUS_SUCCESS) return st;
    return cublasLtMatrixLayoutSetAttribute(*out, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &stride, sizeof stride);
}

/* The algorithm preferences of key: its workspace and operand alignments. */
static cublasStatus_t lt_preference(const lt_key *key, cublasLtMatmulPreference_t *out) {
    cublasStatus_t st = cublasLtMatmulPreferenceCreate(out);
    if (st != CUBLAS_STATUS_SUCCESS) return st;
    cublasLtMatmulPreference_t pref = *out;
    uint64_t workspace = key->workspace_bytes;
    uint32_t align_c = key->align_d;
    cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &workspace, sizeof workspace);
    cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &key->align_a, sizeof key->align_a);
    cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &key->align_b, sizeof key->align_b);
    cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &align_c, sizeof align_c);
    cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &key->align_d, sizeof key->align_d);
    return CUBLAS_STATUS_SUCCESS;
}

/* Descriptors and the heuristic's algorithm for key into e (has_algo 0 when none is offered). */
static cublasStatus_t lt_entry_build(const onyx_cuda_state *state, const lt_key *key, const void *bias, lt_entry *e) {
    cudaDataType_t type = key->dtype == ONYX_DTYPE_FLOAT16    ? CUDA_R_16F
                          : key->dtype == ONYX_DTYPE_BFLOAT16 ? CUDA_R_16BF
                          : key->dtype == ONYX_DTYPE_FLOAT64  ? CUDA_R_64F
                                                              : CUDA_R_32F;
    cudaDataType_t scale = key->dtype == ONYX_DTYPE_FLOAT64 ? CUDA_R_64F : CUDA_R_32F;
    cublasStatus_t st = cublasLtMatmulDescCreate(&e->op, (cublasComputeType_t)key->compute, scale);
    if (st != CUBLAS_STATUS_SUCCESS) return st;
    cublasOperation_t ta = key->lt_trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, tb = key->lt_trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
    if ((st = cublasLtMatmulDescSetAttribute(e->op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta)) != CUBLAS_STATUS_SUCCESS ||
        (st = cublasLtMatmulDescSetAttribute(e->op, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb)) != CUBLAS_STATUS_SUCCESS)
        return st;
    if (key->bias) {
        cublasLtEpilogue_t epilogue = CUBLASLT_EPILOGUE_BIAS;
        st = cublasLtMatmulDescSetAttribute(e->op, CUBLASLT_MATMUL_DESC_EPILOGUE, &epilogue, sizeof epilogue);
        if (st != CUBLAS_STATUS_SUCCESS) return st;
        /* The heuristic reads the bias pointer's value (not its data) for the alignment it may
         * assume; the key's align_bias keeps entries of differently aligned biases apart. The
         * bias data type is left at its default, D's type (float16/bfloat16/float32/float64),
         * which is the tensor's dtype. */
        st = cublasLtMatmulDescSetAttribute(e->op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias);
        if (st != CUBLAS_STATUS_SUCCESS) return st;
    }
    /* stored shapes: op(X) of a column-major X is (rows, cols) = (m, k) untransposed, (k, m) transposed */
    if ((st = lt_layout(&e->a_layout, type, key->lt_trans_a ? key->k : key->m, key->lt_trans_a ? key->m : key->k,
                        key->lda, key->batch, key->stride_a)) != CUBLAS_STATUS_SUCCESS ||
        (st = lt_layout(&e->b_layout, type, key->lt_trans_b ? key->n : key->k, key->lt_trans_b ? key->k : key->n,
                        key->ldb, key->batch, key->stride_b)) != CUBLAS_STATUS_SUCCESS ||
        (st = lt_layout(&e->d_layout, type, key->m, key->n, key->ldd, key->batch, key->stride_d)) != CUBLAS_STATUS_SUCCESS)
        return st;

    cublasLtMatmulPreference_t pref;
    if ((st = lt_preference(key, &pref)) != CUBLAS_STATUS_SUCCESS) return st;
    cublasLtMatmulHeuristicResult_t result;
    int found = 0;
    memset(&result, 0, sizeof result);
    st = cublasLtMatmulAlgoGetHeuristic(state->lt, e->op, e->a_layout, e->b_layout, e->d_layout, e->d_layout, pref, 1,
                                        &result, &found);
    cublasLtMatmulPreferenceDestroy(pref);
    e->has_algo = st == CUBLAS_STATUS_SUCCESS && found > 0 && result.state == CUBLAS_STATUS_SUCCESS;
    if (e->has_algo) e->algo = result.algo;
    /* no algorithm is an answer too (cached; the tiled kernel runs), not an error */
    return st == CUBLAS_STATUS_NOT_SUPPORTED || st == CUBLAS_STATUS_INVALID_VALUE ? CUBLAS_STATUS_SUCCESS : st;
}

/* GEMMs of at least this many multiply-adds have their algorithm measured once (below, the
 * heuristic's first choice is taken: decode steps, small attention products). */
#define LT_TUNE_MIN_MACS ((int64_t)1 << 27)
#define LT_TUNE_CANDIDATES 8

/* The heuristic's first answer is not always the fastest (on an H200 float32 BERT-base GEMMs ran
 * slower than PyTorch's cuBLAS calls). For a large GEMM seen for the first time, time the
 * heuristic's top candidates on the real operands and keep the fastest, as cuDNN's benchmark
 * mode does. It writes y, so it runs only when y is output alone (beta 0). Waits for the stream:
 * once per shape. Failures leave the heuristic's choice. */
static void lt_entry_tune(const onyx_cuda_state *state, lt_entry *e, const gemm_call *g, const void *alpha,
                          const void *beta) {
    if (g->beta != 0.0 || g->M * g->N * g->K * g->batch < LT_TUNE_MIN_MACS) return;
    cublasLtMatmulPreference_t pref;
    if (lt_preference(&e->key, &pref) != CUBLAS_STATUS_SUCCESS) return;
    cublasLtMatmulHeuristicResult_t results[LT_TUNE_CANDIDATES];
    int found = 0;
    cublasStatus_t st = cublasLtMatmulAlgoGetHeuristic(state->lt, e->op, e->a_layout, e->b_layout, e->d_layout, e->d_layout,
                                                       pref, LT_TUNE_CANDIDATES, results, &found);
    cublasLtMatmulPreferenceDestroy(pref);
    if (st != CUBLAS_STATUS_SUCCESS || found < 2) return;
    cudaEvent_t start, stop;
    if (cudaEventCreate(&start) != cudaSuccess) return;
    if (cudaEventCreate(&stop) != cudaSuccess) {
        cudaEventDestroy(start);
        return;
    }
    void *workspace = e->key.workspace_bytes ? state->lt_workspace : NULL;
    float best_ms = 0;
    int best = -1;
    for (int i = 0; i < found; i++) {
        if (results[i].state != CUBLAS_STATUS_SUCCESS || results[i].workspaceSize > e->key.workspace_bytes) continue;
        int ok = cublasLtMatmul(state->lt, e->op, alpha, g->b, e->a_layout, g->a, e->b_layout, beta, g->y, e->d_layout,
                                g->y, e->d_layout, &results[i].algo, workspace, (size_t)e->key.workspace_bytes,
                                state->stream) == CUBLAS_STATUS_SUCCESS;
        ok = ok && cudaEventRecord(start, state->stream) == cudaSuccess;
        for (int r = 0; r < 3 && ok; r++)
            ok = cublasLtMatmul(state->lt, e->op, alpha, g->b, e->a_layout, g->a, e->b_layout, beta, g->y, e->d_layout,
                                g->y, e->d_layout, &results[i].algo, workspace, (size_t)e->key.workspace_bytes,
                                state->stream) == CUBLAS_STATUS_SUCCESS;
        ok = ok && cudaEventRecord(stop, state->stream) == cudaSuccess && cudaEventSynchronize(stop) == cudaSuccess;
        float ms = 0;
        if (ok && cudaEventElapsedTime(&ms, start, stop) == cudaSuccess && (best < 0 || ms < best_ms)) {
            best_ms = ms;
            best = i;
        }
        (void)cudaGetLastError();
    }
    if (best >= 0) e->algo = results[best].algo;
    cudaEventDestroy(start);
    cudaEventDestroy(stop);
}

/* Runs g through cuBLASLt. *done = 0 when cuBLASLt has no algorithm for it (nothing was
 * launched). */
static onyx_status lt_gemm(onyx_cuda_state *state, const gemm_call *g, int *done) {
    *done = 0;
    if (g->batch > INT32_MAX) return ONYX_OK;
    size_t elem = onyx_dtype_size(g->dtype);
    lt_key key;
    memset(&key, 0, sizeof key); /* padding too: keys are compared bytewise */
    key.handle = (const void *)state->lt;
    key.device_id = state->device_id;
    key.dtype = (int)g->dtype;
    key.compute = g->dtype == ONYX_DTYPE_FLOAT64                    ? (int)CUBLAS_COMPUTE_64F
                  : g->dtype == ONYX_DTYPE_FLOAT32 && state->use_tf32 ? (int)CUBLAS_COMPUTE_32F_FAST_TF32
                                                                    : (int)CUBLAS_COMPUTE_32F;
    key.lt_trans_a = g->trans_b;
    key.lt_trans_b = g->trans_a;
    key.bias = g->bias != NULL;
    key.m = g->N;
    key.n = g->M;
    key.k = g->K;
    key.lda = g->ldb;
    key.ldb = g->lda;
    key.ldd = g->N;
    key.batch = g->batch;
    if (g->batch > 1) {
        key.stride_a = g->stride_b;
        key.stride_b = g->stride_a;
        key.stride_d = g->stride_y;
    }
    key.align_a = lt_alignment(g->b, g->stride_b * (int64_t)elem, g->batch);
    key.align_b = lt_alignment(g->a, g->stride_a * (int64_t)elem, g->batch);
    key.align_d = lt_alignment(g->y, g->stride_y * (int64_t)elem, g->batch);
    key.align_bias = g->bias ? lt_alignment(g->bias, 0, 1) : 0;
    key.workspace_bytes = state->lt_workspace ? state->lt_workspace_bytes : 0;
    uint64_t hash = lt_key_hash(&key);

    pthread_mutex_lock(&lt_cache_lock);
    lt_entry *entry = NULL, *victim = &lt_cache[0];
    for (int i = 0; i < LT_CACHE_ENTRIES; i++) {
        lt_entry *e = &lt_cache[i];
        if (e->last_used && e->hash == hash && memcmp(&e->key, &key, sizeof key) == 0) {
            entry = e;
            break;
        }
        if (e->last_used < victim->last_used) victim = e;
    }
    if (!entry) {
        lt_entry_release(victim);
        cublasStatus_t st = lt_entry_build(state, &key, g->bias, victim);
        if (st != CUBLAS_STATUS_SUCCESS) {
            lt_entry_release(victim);
            pthread_mutex_unlock(&lt_cache_lock);
            return onyx_cublas_status(st, "creating matmul descriptors");
        }
        victim->key = key;
        victim->hash = hash;
        entry = victim;
        victim->needs_tuning = victim->has_algo;
    }
    entry->last_used = ++lt_cache_clock;
    if (!entry->has_algo) {
        pthread_mutex_unlock(&lt_cache_lock);
        return ONYX_OK;
    }
    cublasStatus_t st = CUBLAS_STATUS_SUCCESS;
    if (g->bias)
        st = cublasLtMatmulDescSetAttribute(entry->op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &g->bias, sizeof g->bias);
    if (st == CUBLAS_STATUS_SUCCESS) {
        float alpha32 = (float)g->alpha, beta32 = (float)g->beta;
        int f64 = g->dtype == ONYX_DTYPE_FLOAT64;
        const void *alpha = f64 ? (const void *)&g->alpha : (const void *)&alpha32;
        const void *beta = f64 ? (const void *)&g->beta : (const void *)&beta32;
        if (entry->needs_tuning && state->graphs.capturing) {
            /* Timing waits for the stream, which a graph recording cannot: the run goes again
             * without one (executor.c), and tunes then. */
            pthread_mutex_unlock(&lt_cache_lock);
            return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "cuBLASLt: timing a new GEMM shape cannot be part of a graph");
        }
        if (entry->needs_tuning) {
            entry->needs_tuning = 0;
            lt_entry_tune(state, entry, g, alpha, beta);
        }
        st = cublasLtMatmul(state->lt, entry->op, alpha, g->b, entry->a_layout, g->a, entry->b_layout, beta, g->y,
                            entry->d_layout, g->y, entry->d_layout, &entry->algo, key.workspace_bytes ? state->lt_workspace : NULL,
                            (size_t)key.workspace_bytes, state->stream);
        if (st == CUBLAS_STATUS_SUCCESS) onyx_cuda_graph_note_library(state, &entry->algo, sizeof entry->algo);
    }
    if (st == CUBLAS_STATUS_NOT_SUPPORTED) entry->has_algo = 0; /* refused at launch: the tiled kernel from now on */
    pthread_mutex_unlock(&lt_cache_lock);
    if (st == CUBLAS_STATUS_NOT_SUPPORTED) return ONYX_OK;
    if (st != CUBLAS_STATUS_SUCCESS) return onyx_cublas_status(st, "cublasLtMatmul");
    *done = 1;
    return ONYX_OK;
}

/* Products of at most ONYX_CUDA_SKINNY_MAX_M rows with B untransposed and no C: the skinny
 * kernel (matmul.cu), which streams B once, instead of cuBLASLt. Decode steps are such products
 * (one row per sequence or beam): cuBLASLt ran them as a split-K GEMM plus its reduction, and the
 * attention products' shapes change with every step, each a heuristic query. */
static int is_skinny(const gemm_call *g) {
    return g->M <= ONYX_CUDA_SKINNY_MAX_M && !g->trans_a && !g->trans_b && g->beta == 0.0 && g->lda >= g->K &&
           (g->dtype == ONYX_DTYPE_FLOAT32 || g->dtype == ONYX_DTYPE_FLOAT16 || g->dtype == ONYX_DTYPE_BFLOAT16);
}

static onyx_status run_gemm(onyx_cuda_state *state, gemm_call g) {
    if (g.M == 0 || g.N == 0 || g.batch == 0) return ONYX_OK;
    if (is_skinny(&g)) {
        ONYX_CUDA_TRY(onyx_cuda_gemm_skinny(elem_of(g.dtype), g.M, g.N, g.K, (float)g.alpha, g.a, g.lda, g.stride_a, g.b,
                                            g.ldb, g.stride_b, g.bias, g.y, g.stride_y, g.batch, &state->skinny,
                                            state->stream),
                      "few-row matrix product kernel");
        return ONYX_OK;
    }
    if (is_lt_dtype(g.dtype) && g.K > 0) {
        int done = 0;
        ONYX_TRY(lt_gemm(state, &g, &done));
        if (done) return ONYX_OK;
        if (g.bias) {
            /* no bias-epilogue algorithm (cached as such): the bias broadcast into y, then a
             * plain cuBLASLt GEMM with beta 1 reading it as C */
            ONYX_CUDA_TRY(onyx_cuda_broadcast_matrix(onyx_dtype_size(g.dtype), g.y, g.M, g.N, g.bias, 0, 1, state->stream),
                          "broadcasting the bias");
            g.bias = NULL;
            g.beta = 1.0;
            ONYX_TRY(lt_gemm(state, &g, &done));
            if (done) return ONYX_OK;
        }
    }
    /* the tiled kernel: integers, K == 0, and what cuBLASLt has no algorithm for */
    if (g.bias) {
        ONYX_CUDA_TRY(onyx_cuda_broadcast_matrix(onyx_dtype_size(g.dtype), g.y, g.M, g.N, g.bias, 0, 1, state->stream),
                      "Gemm: broadcasting C");
        g.beta = 1.0;
    }
    ONYX_CUDA_TRY(onyx_cuda_gemm_tiled(elem_of(g.dtype), g.trans_a, g.trans_b, g.M, g.N, g.K, g.alpha, (int64_t)g.alpha,
                                       g.a, g.lda, g.stride_a, g.b, g.ldb, g.stride_b, g.beta, (int64_t)g.beta, g.y,
                                       g.N, g.stride_y, g.batch, state->stream),
                  "matrix product kernel");
    return ONYX_OK;
}

/* ---- MatMul's NumPy shapes and batch layout ---- */

/* The batch dims of a validated MatMul/MatMulInteger node, collapsed: size-1 dims dropped and
 * neighbours merged while A, B and Y all step uniformly across them. Strides in elements. */
typedef struct matmul_layout {
    int64_t M, K, N;
    int rank;
    int64_t dims[ONYX_MAX_RANK];
    int64_t a_strides[ONYX_MAX_RANK], b_strides[ONYX_MAX_RANK], y_strides[ONYX_MAX_RANK];
    int64_t batch;
} matmul_layout;

static void matmul_layout_of(const onyx_tensor *a, const onyx_tensor *b, matmul_layout *l) {
    memset(l, 0, sizeof *l);
    l->K = a->dims[a->rank - 1];
    l->M = a->rank == 1 ? 1 : a->dims[a->rank - 2];
    l->N = b->rank == 1 ? 1 : b->dims[b->rank - 1];
    int a_batch_rank = a->rank > 2 ? a->rank - 2 : 0, b_batch_rank = b->rank > 2 ? b->rank - 2 : 0;
    int64_t dims[ONYX_MAX_RANK], a_str[ONYX_MAX_RANK], b_str[ONYX_MAX_RANK], y_str[ONYX_MAX_RANK];
    int rank = 0;
    onyx_broadcast_shape(a->dims, a_batch_rank, b->dims, b_batch_rank, dims, &rank); /* prepare checked it */
    onyx_broadcast_strides(a->dims, a_batch_rank, dims, rank, a_str);
    onyx_broadcast_strides(b->dims, b_batch_rank, dims, rank, b_str);
    onyx_contiguous_strides(dims, rank, y_str);
    l->batch = 1;
    for (int d = 0; d < rank; d++) {
        l->batch *= dims[d];
        if (dims[d] == 1) continue;
        int64_t as = a_str[d] * l->M * l->K, bs = b_str[d] * l->K * l->N, ys = y_str[d] * l->M * l->N;
        int last = l->rank - 1;
        if (last >= 0 && l->a_strides[last] == as * dims[d] && l->b_strides[last] == bs * dims[d] &&
            l->y_strides[last] == ys * dims[d]) {
            l->dims[last] *= dims[d];
            l->a_strides[last] = as;
            l->b_strides[last] = bs;
            l->y_strides[last] = ys;
            continue;
        }
        l->dims[l->rank] = dims[d];
        l->a_strides[l->rank] = as;
        l->b_strides[l->rank] = bs;
        l->y_strides[l->rank++] = ys;
    }
}

/* Offsets (elements) of outer batch index flat over the collapsed dims before the innermost. */
static void matmul_outer_offsets(const matmul_layout *l, int64_t flat, int64_t *a_off, int64_t *b_off, int64_t *y_off) {
    *a_off = *b_off = *y_off = 0;
    for (int d = l->rank - 2; d >= 0; d--) {
        int64_t coord = flat % l->dims[d];
        flat /= l->dims[d];
        *a_off += coord * l->a_strides[d];
        *b_off += coord * l->b_strides[d];
        *y_off += coord * l->y_strides[d];
    }
}

/* ---- MatMul ---- */

static onyx_status cuda_matmul_prepare(onyx_kernel_ctx *ctx) {
    ONYX_TRY(math_matmul_prepare(ctx));
    ctx->workspace_bytes = 0; /* the CPU's float32 widening buffers; cuBLASLt takes half inputs */
    return ONYX_OK;
}

/* MatMul, and MatMulBias when bias (1-D, the length of Y's last axis) is given; b is B as MatMul
 * reads it, (..., K, N), and trans_b says each of its matrices is stored (N, K) (MatMulBias's
 * transB; the batch strides are the same either way, K * N per matrix). One GEMM (a
 * single matrix, or the batch folded into M) with B of rank >= 2 takes the bias as cuBLASLt's
 * bias epilogue: cuBLASLt computes Y^T (N, M) column-major, whose rows are Y's columns, and
 * CUBLASLT_EPILOGUE_BIAS adds bias[i] to row i of that D, i.e. bias[j] to column j of Y. Every
 * other layout (batched or looped GEMMs, 1-D B whose output's last axis is M) broadcasts the bias
 * into Y first and runs the GEMMs with beta 1. */
static onyx_status matmul_run_common(onyx_kernel_ctx *ctx, const onyx_tensor *b, int trans_b, const onyx_tensor *bias) {
    onyx_cuda_state *state = onyx_cuda_state_of(ctx);
    const onyx_tensor *a = ctx->inputs[0];
    onyx_tensor *y = ctx->outputs[0];
    matmul_layout l;
    matmul_layout_of(a, b, &l);
    if (l.batch == 0 || l.M == 0 || l.N == 0) return ONYX_OK;
    size_t elem = onyx_dtype_size(a->dtype);
    gemm_call g = {.dtype = a->dtype, .trans_b = trans_b, .M = l.M, .N = l.N, .K = l.K, .lda = l.K,
                   .ldb = trans_b ? l.K : l.N, .batch = 1, .alpha = 1.0};
    /* one matrix each (batch dims all 1), or B shared by a contiguous batch of A (folded into M) */
    int single = l.rank == 0, folded = l.rank == 1 && l.b_strides[0] == 0 && l.a_strides[0] == l.M * l.K;
    if (bias && b->rank >= 2 && (single || folded)) {
        g.bias = bias->data; /* along N: the epilogue (run_gemm falls back when cuBLASLt refuses) */
    } else if (bias) {
        int64_t L = y->dims[y->rank - 1], rows = onyx_shape_numel(y->dims, y->rank) / L;
        ONYX_CUDA_TRY(onyx_cuda_broadcast_matrix(elem, y->data, rows, L, bias->data, 0, 1, state->stream),
                      "MatMulBias: broadcasting the bias");
        g.beta = 1.0;
    }
    if (single || folded) {
        if (folded) g.M = l.M * l.dims[0];
        g.a = a->data;
        g.b = b->data;
        g.y = y->data;
        return run_gemm(state, g);
    }
    int inner = l.rank - 1;
    g.batch = l.dims[inner];
    g.stride_a = l.a_strides[inner];
    g.stride_b = l.b_strides[inner];
    g.stride_y = l.y_strides[inner];
    int64_t outer = l.batch / g.batch;
    for (int64_t o = 0; o < outer; o++) {
        int64_t a_off, b_off, y_off;
        matmul_outer_offsets(&l, o, &a_off, &b_off, &y_off);
        g.a = (const char *)a->data + (size_t)a_off * elem;
        g.b = (const char *)b->data + (size_t)b_off * elem;
        g.y = (char *)y->data + (size_t)y_off * elem;
        ONYX_TRY(run_gemm(state, g));
    }
    return ONYX_OK;
}

static onyx_status cuda_matmul_run(onyx_kernel_ctx *ctx) { return matmul_run_common(ctx, ctx->inputs[1], 0, NULL); }

/* ---- MatMulBias (domain "onyx"): MatMul + Add(bias) fused by the graph optimizer ---- */

static onyx_status cuda_matmul_bias_prepare(onyx_kernel_ctx *ctx) {
    ONYX_TRY(math_matmul_bias_prepare(ctx));
    ctx->workspace_bytes = 0; /* the CPU's float32 widening buffers */
    return ONYX_OK;
}

static onyx_status cuda_matmul_bias_run(onyx_kernel_ctx *ctx) {
    onyx_tensor b;
    int trans_b;
    ONYX_TRY(math_matmul_bias_b(ctx, &b, &trans_b));
    if (trans_b == MATMUL_B_PANELS) /* host-only sessions pack weights; this is a hand-made graph */
        return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "%s: a B packed in panels (packedN) is the cpu provider's layout",
                          ctx->node->op_type);
    return matmul_run_common(ctx, &b, trans_b, onyx_input(ctx, 2));
}

/* ---- Gemm ---- */

static onyx_status cuda_gemm_prepare(onyx_kernel_ctx *ctx) {
    ONYX_TRY(math_gemm_prepare(ctx));
    ctx->workspace_bytes = 0;
    return ONYX_OK;
}

static onyx_status cuda_gemm_run(onyx_kernel_ctx *ctx) {
    onyx_cuda_state *state = onyx_cuda_state_of(ctx);
    const onyx_tensor *a = ctx->inputs[0], *b = ctx->inputs[1], *c = onyx_input(ctx, 2);
    onyx_tensor *y = ctx->outputs[0];
    int trans_a = onyx_node_attr_int(ctx->node, "transA", 0) != 0;
    int trans_b = onyx_node_attr_int(ctx->node, "transB", 0) != 0;
    gemm_call g = {.dtype = a->dtype, .trans_a = trans_a, .trans_b = trans_b, .batch = 1, .y = y->data};
    g.M = trans_a ? a->dims[1] : a->dims[0];
    g.K = trans_a ? a->dims[0] : a->dims[1];
    g.N = trans_b ? b->dims[0] : b->dims[1];
    g.a = a->data;
    g.lda = a->dims[1];
    g.b = b->data;
    g.ldb = b->dims[1];
    g.alpha = onyx_node_attr_float(ctx->node, "alpha", 1.0f);
    g.beta = c ? onyx_node_attr_float(ctx->node, "beta", 1.0f) : 0.0f;
    if (g.M == 0 || g.N == 0) return ONYX_OK;
    if (g.beta != 0.0) {
        /* C read as (M, N) through broadcast strides, as the CPU kernel (prepare checked them) */
        int64_t rows = c->rank == 2 ? c->dims[0] : 1, cols = c->rank >= 1 ? c->dims[c->rank - 1] : 1;
        int64_t col_stride = cols == 1 ? 0 : 1, row_stride = rows == 1 ? 0 : cols;
        if (g.beta == 1.0 && row_stride == 0 && (col_stride == 1 || g.N == 1)) {
            g.bias = c->data; /* a row vector: cuBLASLt's bias epilogue */
            g.beta = 0.0;
        } else {
            ONYX_CUDA_TRY(onyx_cuda_broadcast_matrix(onyx_dtype_size(a->dtype), y->data, g.M, g.N, c->data, row_stride,
                                                     col_stride, state->stream),
                          "Gemm: broadcasting C");
        }
    }
    return run_gemm(state, g);
}

/* ---- MatMulInteger ---- */

static onyx_status cuda_matmul_integer_run(onyx_kernel_ctx *ctx) {
    onyx_cuda_state *state = onyx_cuda_state_of(ctx);
    const onyx_tensor *a = ctx->inputs[0], *b = ctx->inputs[1];
    const onyx_tensor *a_zp = onyx_input(ctx, 2), *b_zp = onyx_input(ctx, 3);
    int32_t *y = ctx->outputs[0]->data;
    matmul_layout l;
    matmul_layout_of(a, b, &l);
    if (l.batch == 0 || l.M == 0 || l.N == 0) return ONYX_OK;
    int64_t a_zp_n = a_zp ? onyx_shape_numel(a_zp->dims, a_zp->rank) : 0;
    int64_t b_zp_n = b_zp ? onyx_shape_numel(b_zp->dims, b_zp->rank) : 0;
    const void *a_zero = a_zp_n ? a_zp->data : NULL, *b_zero = b_zp_n ? b_zp->data : NULL;
    onyx_cuda_elem at = elem_of(a->dtype), bt = elem_of(b->dtype);
    int64_t M = l.M, batch = 1, sa = 0, sb = 0, sy = 0, outer = 1;
    if (l.rank == 1 && l.b_strides[0] == 0 && l.a_strides[0] == l.M * l.K && a_zp_n <= 1) {
        M = l.M * l.dims[0]; /* fold the batch into M (a per-row zero point would need the row within a matrix) */
    } else if (l.rank > 0) {
        batch = l.dims[l.rank - 1];
        sa = l.a_strides[l.rank - 1];
        sb = l.b_strides[l.rank - 1];
        sy = l.y_strides[l.rank - 1];
        outer = l.batch / batch;
    }
    for (int64_t o = 0; o < outer; o++) {
        int64_t a_off = 0, b_off = 0, y_off = 0;
        if (l.rank > 1) matmul_outer_offsets(&l, o, &a_off, &b_off, &y_off);
        ONYX_CUDA_TRY(onyx_cuda_matmul_integer(at, bt, M, l.N, l.K, (const char *)a->data + a_off * onyx_dtype_size(a->dtype),
                                               sa, a_zero, a_zp_n, (const char *)b->data + b_off * onyx_dtype_size(b->dtype),
                                               sb, b_zero, b_zp_n, y + y_off, sy, batch, state->stream),
                      "MatMulInteger kernel");
    }
    return ONYX_OK;
}

/* ---- Einsum ---- */

#define EINSUM_LETTERS 52 /* a-z then A-Z; ellipsis dims get label ids after them */
#define EINSUM_MAX_LABELS (EINSUM_LETTERS + ONYX_MAX_RANK)
#define EINSUM_ALIGN 256  /* workspace parts start at cuBLASLt's preferred alignment */

typedef struct einsum_plan {
    int n_operands;
    int64_t label_size[EINSUM_MAX_LABELS];
    int used[EINSUM_MAX_LABELS];
    int64_t strides[ONYX_CUDA_EINSUM_MAX_OPERANDS][EINSUM_MAX_LABELS]; /* repeated labels add up */
    int op_rank[ONYX_CUDA_EINSUM_MAX_OPERANDS];
    int op_labels[ONYX_CUDA_EINSUM_MAX_OPERANDS][ONYX_MAX_RANK];
    int op_irregular[ONYX_CUDA_EINSUM_MAX_OPERANDS]; /* a repeated label or a broadcast (size-1) dim */
    int out_rank;
    int out_labels[ONYX_MAX_RANK];
    int64_t out_dims[ONYX_MAX_RANK];
    int n_summed;
    int summed_labels[EINSUM_MAX_LABELS];
} einsum_plan;

static int einsum_letter_id(char c) {
    if (c >= 'a' && c <= 'z') return c - 'a';
    if (c >= 'A' && c <= 'Z') return 26 + c - 'A';
    return -1;
}

/* Label ids of one term; an ellipsis stands for ellipsis_rank dims, right-aligned against
 * max_ellipsis (ids EINSUM_LETTERS..). Returns the count. The equation was checked by the CPU
 * prepare. */
static int einsum_term_labels(const char *term, const char *end, int ellipsis_rank, int max_ellipsis, int *labels) {
    int n = 0;
    for (const char *c = term; c < end && n < ONYX_MAX_RANK; c++) {
        if (*c == '.') {
            for (int j = 0; j < ellipsis_rank && n < ONYX_MAX_RANK; j++)
                labels[n++] = EINSUM_LETTERS + (max_ellipsis - ellipsis_rank) + j;
            c += 2;
        } else {
            labels[n++] = einsum_letter_id(*c);
        }
    }
    return n;
}

static int einsum_term_letters(const char *term, const char *end, int *has_ellipsis) {
    int letters = 0;
    *has_ellipsis = 0;
    for (const char *c = term; c < end; c++) {
        if (*c == '.') {
            *has_ellipsis = 1;
            c += 2;
        } else {
            letters++;
        }
    }
    return letters;
}

/* The plan of a node that math_einsum_prepare accepted (same label rules as the CPU kernel). */
static onyx_status einsum_plan_build(const onyx_kernel_ctx *ctx, einsum_plan *p) {
    const char *raw = onyx_node_attr_string(ctx->node, "equation", "");
    char eq[512];
    size_t n = 0;
    for (const char *c = raw; *c && n + 1 < sizeof eq; c++)
        if (*c != ' ') eq[n++] = *c;
    eq[n] = 0;
    memset(p, 0, sizeof *p);
    p->n_operands = ctx->n_inputs;
    if (p->n_operands < 1 || p->n_operands > ONYX_CUDA_EINSUM_MAX_OPERANDS)
        return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "Einsum: %d inputs; supported are 1 to %d", p->n_operands,
                          ONYX_CUDA_EINSUM_MAX_OPERANDS);
    const char *arrow = strstr(eq, "->");
    const char *lhs_end = arrow ? arrow : eq + n;
    const char *starts[ONYX_CUDA_EINSUM_MAX_OPERANDS], *ends[ONYX_CUDA_EINSUM_MAX_OPERANDS];
    int ellipsis[ONYX_CUDA_EINSUM_MAX_OPERANDS], max_ellipsis = 0;
    const char *term = eq;
    for (int op = 0; op < p->n_operands; op++) {
        const char *comma = memchr(term, ',', (size_t)(lhs_end - term));
        starts[op] = term;
        ends[op] = op == p->n_operands - 1 || !comma ? lhs_end : comma;
        int has_ellipsis;
        int letters = einsum_term_letters(starts[op], ends[op], &has_ellipsis);
        ellipsis[op] = has_ellipsis ? ctx->inputs[op]->rank - letters : 0;
        if (ellipsis[op] > max_ellipsis) max_ellipsis = ellipsis[op];
        term = ends[op] + 1;
    }
    int counts[EINSUM_MAX_LABELS] = {0};
    for (int op = 0; op < p->n_operands; op++) {
        const onyx_tensor *t = ctx->inputs[op];
        p->op_rank[op] = einsum_term_labels(starts[op], ends[op], ellipsis[op], max_ellipsis, p->op_labels[op]);
        for (int d = 0; d < t->rank; d++) {
            int l = p->op_labels[op][d];
            if (!p->used[l] || p->label_size[l] == 1) p->label_size[l] = t->dims[d];
            p->used[l] = 1;
            counts[l]++;
        }
    }
    for (int op = 0; op < p->n_operands; op++) {
        const onyx_tensor *t = ctx->inputs[op];
        int64_t strides[ONYX_MAX_RANK];
        onyx_contiguous_strides(t->dims, t->rank, strides);
        for (int d = 0; d < t->rank; d++) {
            int l = p->op_labels[op][d];
            if (!(t->dims[d] == 1 && p->label_size[l] != 1)) p->strides[op][l] += strides[d];
            else p->op_irregular[op] = 1;
            for (int e = 0; e < d; e++)
                if (p->op_labels[op][e] == l) p->op_irregular[op] = 1;
        }
    }
    int in_output[EINSUM_MAX_LABELS] = {0};
    if (arrow) {
        p->out_rank = einsum_term_labels(arrow + 2, eq + n, max_ellipsis, max_ellipsis, p->out_labels);
    } else { /* implicit: ellipsis dims, then the labels seen once in ASCII order */
        for (int j = 0; j < max_ellipsis; j++) p->out_labels[p->out_rank++] = EINSUM_LETTERS + j;
        static const char order[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        for (const char *c = order; *c && p->out_rank < ONYX_MAX_RANK; c++) {
            int l = einsum_letter_id(*c);
            if (l >= 0 && counts[l] == 1) p->out_labels[p->out_rank++] = l;
        }
    }
    for (int i = 0; i < p->out_rank; i++) {
        in_output[p->out_labels[i]] = 1;
        p->out_dims[i] = p->label_size[p->out_labels[i]];
    }
    for (int l = 0; l < EINSUM_MAX_LABELS; l++)
        if (p->used[l] && !in_output[l]) p->summed_labels[p->n_summed++] = l;
    return ONYX_OK;
}

/* The batched-GEMM form (see the file comment). Groups keep the output's label order for
 * batch, m and n, and A's order for k. */
typedef struct einsum_gemm {
    int n_batch, n_m, n_n, n_k;
    int batch[ONYX_MAX_RANK], m[ONYX_MAX_RANK], n[ONYX_MAX_RANK], k[ONYX_MAX_RANK];
    int64_t B, M, N, K;
    int a_in_place, a_km;   /* A used in place; its memory is [batch, k, m] */
    int b_in_place, b_nk;   /* B used in place; its memory is [batch, n, k] */
    int out_mode;           /* 0: [batch, m, n] in place, 1: [batch, n, m] in place, 2: workspace + copy */
    size_t a_bytes, b_bytes, y_bytes; /* workspace parts (0 = unused), each rounded to EINSUM_ALIGN */
} einsum_gemm;

/* Whether the label groups (in this order) address operand op contiguously. */
static int einsum_is_contiguous(const einsum_plan *p, int op, const int *const *groups, const int *counts,
                                int n_groups) {
    int64_t expect = 1;
    for (int gi = n_groups - 1; gi >= 0; gi--)
        for (int i = counts[gi] - 1; i >= 0; i--) {
            int l = groups[gi][i];
            if (p->label_size[l] != 1 && p->strides[op][l] != expect) return 0;
            expect *= p->label_size[l];
        }
    return 1;
}

static int einsum_output_is(const einsum_plan *p, const int *const *groups, const int *counts) {
    int i = 0;
    for (int gi = 0; gi < 3; gi++)
        for (int j = 0; j < counts[gi]; j++, i++)
            if (p->out_labels[i] != groups[gi][j]) return 0;
    return i == p->out_rank;
}

static size_t einsum_round(size_t bytes) { return (bytes + EINSUM_ALIGN - 1) / EINSUM_ALIGN * EINSUM_ALIGN; }

static int einsum_gemm_plan(const einsum_plan *p, onyx_dtype dt, einsum_gemm *g) {
    memset(g, 0, sizeof *g);
    if (p->n_operands != 2 || p->op_irregular[0] || p->op_irregular[1] || !is_lt_dtype(dt)) return 0;
    int in_a[EINSUM_MAX_LABELS] = {0}, in_b[EINSUM_MAX_LABELS] = {0};
    for (int d = 0; d < p->op_rank[0]; d++) in_a[p->op_labels[0][d]] = 1;
    for (int d = 0; d < p->op_rank[1]; d++) in_b[p->op_labels[1][d]] = 1;
    g->B = g->M = g->N = g->K = 1;
    for (int i = 0; i < p->out_rank; i++) {
        int l = p->out_labels[i];
        if (in_a[l] && in_b[l]) {
            g->batch[g->n_batch++] = l;
            g->B *= p->label_size[l];
        } else if (in_a[l]) {
            g->m[g->n_m++] = l;
            g->M *= p->label_size[l];
        } else {
            g->n[g->n_n++] = l;
            g->N *= p->label_size[l];
        }
    }
    for (int s = 0; s < p->n_summed; s++)
        if (!in_a[p->summed_labels[s]] || !in_b[p->summed_labels[s]]) return 0; /* summed in one operand: generic */
    for (int d = 0; d < p->op_rank[0]; d++) {
        int l = p->op_labels[0][d];
        int is_batch = 0;
        for (int i = 0; i < g->n_batch; i++) is_batch |= g->batch[i] == l;
        if (in_b[l] && !is_batch) {
            g->k[g->n_k++] = l;
            g->K *= p->label_size[l];
        }
    }
    const int *a_order[3] = {g->batch, g->m, g->k}, *a_order_t[3] = {g->batch, g->k, g->m};
    const int a_counts[3] = {g->n_batch, g->n_m, g->n_k}, a_counts_t[3] = {g->n_batch, g->n_k, g->n_m};
    const int *b_order[3] = {g->batch, g->k, g->n}, *b_order_t[3] = {g->batch, g->n, g->k};
    const int b_counts[3] = {g->n_batch, g->n_k, g->n_n}, b_counts_t[3] = {g->n_batch, g->n_n, g->n_k};
    const int *y_order[3] = {g->batch, g->m, g->n}, *y_order_t[3] = {g->batch, g->n, g->m};
    const int y_counts[3] = {g->n_batch, g->n_m, g->n_n}, y_counts_t[3] = {g->n_batch, g->n_n, g->n_m};
    size_t elem = onyx_dtype_size(dt);
    if (einsum_is_contiguous(p, 0, a_order, a_counts, 3)) {
        g->a_in_place = 1;
    } else if (einsum_is_contiguous(p, 0, a_order_t, a_counts_t, 3)) {
        g->a_in_place = g->a_km = 1;
    } else {
        g->a_bytes = einsum_round((size_t)(g->B * g->M * g->K) * elem);
    }
    if (einsum_is_contiguous(p, 1, b_order, b_counts, 3)) {
        g->b_in_place = 1;
    } else if (einsum_is_contiguous(p, 1, b_order_t, b_counts_t, 3)) {
        g->b_in_place = g->b_nk = 1;
    } else {
        g->b_bytes = einsum_round((size_t)(g->B * g->K * g->N) * elem);
    }
    if (einsum_output_is(p, y_order, y_counts)) {
        g->out_mode = 0;
    } else if (einsum_output_is(p, y_order_t, y_counts_t)) {
        g->out_mode = 1;
    } else {
        g->out_mode = 2;
        g->y_bytes = einsum_round((size_t)(g->B * g->M * g->N) * elem);
    }
    return 1;
}

/* The view that reads operand op in the order of the label groups. */
static onyx_cuda_strided_view einsum_operand_view(const einsum_plan *p, int op, const int *const *groups,
                                                  const int *counts) {
    onyx_cuda_strided_view v;
    memset(&v, 0, sizeof v);
    for (int gi = 0; gi < 3; gi++)
        for (int i = 0; i < counts[gi]; i++) {
            int l = groups[gi][i];
            if (p->label_size[l] == 1) continue; /* size-1 dims add nothing */
            v.dims[v.rank] = p->label_size[l];
            v.strides[v.rank++] = p->strides[op][l];
        }
    return v;
}

static onyx_status einsum_gemm_run(onyx_kernel_ctx *ctx, const einsum_plan *p, const einsum_gemm *g) {
    onyx_cuda_state *state = onyx_cuda_state_of(ctx);
    const onyx_tensor *a = ctx->inputs[0], *b = ctx->inputs[1];
    onyx_tensor *y = ctx->outputs[0];
    onyx_dtype dt = a->dtype;
    size_t elem = onyx_dtype_size(dt);
    char *ws = ctx->workspace;
    const void *A = a->data, *B = b->data;
    void *Y = g->out_mode == 2 ? ws + g->a_bytes + g->b_bytes : y->data;
    if (!g->a_in_place) {
        const int *order[3] = {g->batch, g->m, g->k};
        const int counts[3] = {g->n_batch, g->n_m, g->n_k};
        ONYX_CUDA_TRY(onyx_cuda_strided_copy(elem, ws, a->data, einsum_operand_view(p, 0, order, counts), state->stream),
                      "Einsum: permuting input 0");
        A = ws;
    }
    if (!g->b_in_place) {
        const int *order[3] = {g->batch, g->k, g->n};
        const int counts[3] = {g->n_batch, g->n_k, g->n_n};
        ONYX_CUDA_TRY(onyx_cuda_strided_copy(elem, ws + g->a_bytes, b->data, einsum_operand_view(p, 1, order, counts),
                                             state->stream),
                      "Einsum: permuting input 1");
        B = ws + g->a_bytes;
    }
    gemm_call call = {.dtype = dt, .K = g->K, .batch = g->B, .alpha = 1.0, .y = Y, .stride_y = g->M * g->N};
    int64_t a_ld = g->a_km ? g->M : g->K, b_ld = g->b_nk ? g->K : g->N;
    if (g->out_mode == 1) { /* Y^T [batch, n, m] = B^T A^T */
        call.M = g->N;
        call.N = g->M;
        call.a = B;
        call.trans_a = !g->b_nk;
        call.lda = b_ld;
        call.stride_a = g->K * g->N;
        call.b = A;
        call.trans_b = !g->a_km;
        call.ldb = a_ld;
        call.stride_b = g->M * g->K;
    } else {
        call.M = g->M;
        call.N = g->N;
        call.a = A;
        call.trans_a = g->a_km;
        call.lda = a_ld;
        call.stride_a = g->M * g->K;
        call.b = B;
        call.trans_b = g->b_nk;
        call.ldb = b_ld;
        call.stride_b = g->K * g->N;
    }
    ONYX_TRY(run_gemm(state, call));
    if (g->out_mode != 2) return ONYX_OK;
    /* the output read from Y ([batch, m, n]) in its own label order */
    int64_t y_strides[EINSUM_MAX_LABELS] = {0}, stride = 1;
    const int *groups[3] = {g->batch, g->m, g->n};
    const int counts[3] = {g->n_batch, g->n_m, g->n_n};
    for (int gi = 2; gi >= 0; gi--)
        for (int i = counts[gi] - 1; i >= 0; i--) {
            y_strides[groups[gi][i]] = stride;
            stride *= p->label_size[groups[gi][i]];
        }
    onyx_cuda_strided_view v;
    memset(&v, 0, sizeof v);
    v.rank = p->out_rank;
    for (int i = 0; i < p->out_rank; i++) {
        v.dims[i] = p->out_dims[i];
        v.strides[i] = y_strides[p->out_labels[i]];
    }
    ONYX_CUDA_TRY(onyx_cuda_strided_copy(elem, y->data, Y, v, state->stream), "Einsum: permuting the output");
    return ONYX_OK;
}

static onyx_status cuda_einsum_prepare(onyx_kernel_ctx *ctx) {
    ONYX_TRY(math_einsum_prepare(ctx));
    einsum_plan p;
    ONYX_TRY(einsum_plan_build(ctx, &p));
    einsum_gemm g;
    if (einsum_gemm_plan(&p, ctx->inputs[0]->dtype, &g)) {
        ctx->workspace_bytes = g.a_bytes + g.b_bytes + g.y_bytes;
        return ONYX_OK;
    }
    ctx->workspace_bytes = 0;
    if (p.n_summed > ONYX_CUDA_EINSUM_MAX_SUMMED)
        return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "Einsum: %d summed labels; the CUDA kernel takes at most %d",
                          p.n_summed, ONYX_CUDA_EINSUM_MAX_SUMMED);
    return ONYX_OK;
}

static onyx_status cuda_einsum_run(onyx_kernel_ctx *ctx) {
    onyx_tensor *y = ctx->outputs[0];
    if (onyx_shape_numel(y->dims, y->rank) == 0) return ONYX_OK;
    einsum_plan p;
    ONYX_TRY(einsum_plan_build(ctx, &p));
    einsum_gemm g;
    if (einsum_gemm_plan(&p, y->dtype, &g)) return einsum_gemm_run(ctx, &p, &g);
    onyx_cuda_einsum_args args;
    memset(&args, 0, sizeof args);
    args.n_operands = p.n_operands;
    args.out_rank = p.out_rank;
    args.n_summed = p.n_summed;
    for (int op = 0; op < p.n_operands; op++) args.operands[op] = ctx->inputs[op]->data;
    for (int d = 0; d < p.out_rank; d++) {
        args.out_dims[d] = p.out_dims[d];
        for (int op = 0; op < p.n_operands; op++) args.out_strides[op][d] = p.strides[op][p.out_labels[d]];
    }
    for (int s = 0; s < p.n_summed; s++) {
        args.summed_dims[s] = p.label_size[p.summed_labels[s]];
        for (int op = 0; op < p.n_operands; op++) args.summed_strides[op][s] = p.strides[op][p.summed_labels[s]];
    }
    ONYX_CUDA_TRY(onyx_cuda_einsum_generic(elem_of(y->dtype), y->data, &args, onyx_cuda_state_of(ctx)->stream),
                  "Einsum kernel");
    return ONYX_OK;
}

/* Same ops, opset ranges and dtypes as the CPU rows (math_table.c). */
const onyx_kernel_def onyx_cuda_matmul_kernels[] = {
    {"MatMul", "", 1, 8, 0, F3, 0, cuda_matmul_prepare, cuda_matmul_run},
    {"MatMul", "", 9, 12, 0, F3 | WIDE_INTS, 0, cuda_matmul_prepare, cuda_matmul_run},
    {"MatMul", "", 13, MAX, 0, F4 | WIDE_INTS, 0, cuda_matmul_prepare, cuda_matmul_run},
    {"MatMulBias", "onyx", 1, MAX, 0, F4, 0, cuda_matmul_bias_prepare, cuda_matmul_bias_run},
    {"Gemm", "", 7, 8, 0, F3, 0, cuda_gemm_prepare, cuda_gemm_run},
    {"Gemm", "", 9, 12, 0, F3 | WIDE_INTS, 0, cuda_gemm_prepare, cuda_gemm_run},
    {"Gemm", "", 13, MAX, 0, F4 | WIDE_INTS, 0, cuda_gemm_prepare, cuda_gemm_run},
    {"MatMulInteger", "", 10, MAX, 0, BYTE_INTS, 0, math_matmul_integer_prepare, cuda_matmul_integer_run},
    {"Einsum", "", 12, MAX, 0, F3 | ONYX_DT_INTS, 0, cuda_einsum_prepare, cuda_einsum_run},
    {0},
};
