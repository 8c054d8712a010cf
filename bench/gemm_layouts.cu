/*
 * gemm_layouts.cu - does the weight's layout change what cuBLASLt runs for a Linear layer?
 *
 * An ONNX MatMul stores a Linear layer's weight as B[K, N] (Y = X B + b), PyTorch as W[N, K]
 * (Y = X W^T + b). In cuBLAS's column-major terms the first is an "nn" product and the second a
 * "tn" one, and cuBLASLt offers different kernels for the two (under Nsight Compute, BERT-base at
 * batch 128 in float32: onyx ran 64x64 and 128x64 tiles, PyTorch 128x128 "tn" ones). For each of
 * BERT-base's GEMM shapes at batch 128 x sequence 128 (M = 16384), and a decode step's at 8 rows
 * (GPT2's sizes), float32 and float16, with the bias in the epilogue as onyx's MatMulBias, and
 * both layouts, this prints:
 *   - the heuristic's first choice: its tile and its time;
 *   - the fastest of the heuristic's first CANDIDATES offers (onyx times 8) and its tile;
 *   - the same fastest run for SUSTAIN calls back to back (clocks under load).
 * Times are the mean of REPS calls after 3 warm-up calls, from CUDA events. Both layouts are fed
 * the same numbers (the weight transposed on the device), and their outputs are compared.
 *   gemm_layouts [CANDIDATES] [REPS] [SUSTAIN]   (defaults 32, 20, 200)
 */
#include <cublasLt.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>

#define CHECK_CUDA(x)                                                                         \
    do {                                                                                      \
        cudaError_t e_ = (x);                                                                 \
        if (e_ != cudaSuccess) {                                                              \
            std::fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #x, cudaGetErrorString(e_)); \
            std::exit(1);                                                                     \
        }                                                                                     \
    } while (0)
#define CHECK_LT(x)                                                                           \
    do {                                                                                      \
        cublasStatus_t s_ = (x);                                                              \
        if (s_ != CUBLAS_STATUS_SUCCESS) {                                                    \
            std::fprintf(stderr, "%s:%d: %s: cuBLAS status %d\n", __FILE__, __LINE__, #x, (int)s_); \
            std::exit(1);                                                                     \
        }                                                                                     \
    } while (0)

static const char *tile_name(int id) {
    static const char *names[] = {"?",       "8x8",     "8x16",    "16x8",    "8x32",    "16x16",   "32x8",
                                  "8x64",    "16x32",   "32x16",   "64x8",    "32x32",   "32x64",   "64x32",
                                  "32x128",  "64x64",   "128x32",  "64x128",  "128x64",  "64x256",  "128x128",
                                  "256x64",  "64x512",  "128x256", "256x128", "512x64",  "64x96",   "96x64",
                                  "96x128",  "128x160", "160x128", "192x128", "128x192", "128x96"};
    return id >= 0 && id < (int)(sizeof names / sizeof names[0]) ? names[id] : "other";
}

static int algo_tile(const cublasLtMatmulAlgo_t *algo) {
    int tile = 0;
    size_t written = 0;
    cublasLtMatmulAlgoConfigGetAttribute(algo, CUBLASLT_ALGO_CONFIG_TILE_ID, &tile, sizeof tile, &written);
    return tile;
}

__global__ void transpose_kernel(const void *src, void *dst, int rows, int cols, int elem) {
    int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (int64_t)rows * cols) return;
    int r = (int)(i / cols), c = (int)(i % cols);
    if (elem == 4)
        ((float *)dst)[(int64_t)c * rows + r] = ((const float *)src)[i];
    else
        ((__half *)dst)[(int64_t)c * rows + r] = ((const __half *)src)[i];
}

struct problem {
    cublasLtHandle_t lt;
    cudaStream_t stream;
    cudaDataType_t type;
    int elem;
    int M, N, K;
    void *x, *w_kn, *w_nk, *bias, *y, *workspace;
    size_t workspace_bytes;
};

struct layout_op {
    cublasLtMatmulDesc_t op;
    cublasLtMatrixLayout_t a, b, d;
    const void *w;
};

/* Y[M,N] (row-major) = X[M,K] W + bias: column-major D[N,M] = op(A) B with A the weight. */
static layout_op make_op(const problem &p, bool weight_nk) {
    layout_op o{};
    CHECK_LT(cublasLtMatmulDescCreate(&o.op, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    cublasOperation_t ta = weight_nk ? CUBLAS_OP_T : CUBLAS_OP_N, tb = CUBLAS_OP_N;
    CHECK_LT(cublasLtMatmulDescSetAttribute(o.op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta));
    CHECK_LT(cublasLtMatmulDescSetAttribute(o.op, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb));
    cublasLtEpilogue_t epilogue = CUBLASLT_EPILOGUE_BIAS;
    CHECK_LT(cublasLtMatmulDescSetAttribute(o.op, CUBLASLT_MATMUL_DESC_EPILOGUE, &epilogue, sizeof epilogue));
    CHECK_LT(cublasLtMatmulDescSetAttribute(o.op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &p.bias, sizeof p.bias));
    if (weight_nk)  /* W[N,K] row-major is column-major K x N, ld K */
        CHECK_LT(cublasLtMatrixLayoutCreate(&o.a, p.type, p.K, p.N, p.K));
    else            /* B[K,N] row-major is column-major N x K, ld N */
        CHECK_LT(cublasLtMatrixLayoutCreate(&o.a, p.type, p.N, p.K, p.N));
    CHECK_LT(cublasLtMatrixLayoutCreate(&o.b, p.type, p.K, p.M, p.K));
    CHECK_LT(cublasLtMatrixLayoutCreate(&o.d, p.type, p.N, p.M, p.N));
    o.w = weight_nk ? p.w_nk : p.w_kn;
    return o;
}

static void free_op(layout_op &o) {
    cublasLtMatmulDescDestroy(o.op);
    cublasLtMatrixLayoutDestroy(o.a);
    cublasLtMatrixLayoutDestroy(o.b);
    cublasLtMatrixLayoutDestroy(o.d);
}

static bool run(const problem &p, const layout_op &o, const cublasLtMatmulAlgo_t *algo) {
    const float alpha = 1.0f, beta = 0.0f;
    return cublasLtMatmul(p.lt, o.op, &alpha, o.w, o.a, p.x, o.b, &beta, p.y, o.d, p.y, o.d, algo, p.workspace,
                          p.workspace_bytes, p.stream) == CUBLAS_STATUS_SUCCESS;
}

/* Mean ms per call of `calls` calls after 3 warm-up calls; negative when a call fails. */
static float time_calls(const problem &p, const layout_op &o, const cublasLtMatmulAlgo_t *algo, int calls) {
    cudaEvent_t start, stop;
    CHECK_CUDA(cudaEventCreate(&start));
    CHECK_CUDA(cudaEventCreate(&stop));
    bool ok = true;
    for (int i = 0; i < 3 && ok; i++) ok = run(p, o, algo);
    CHECK_CUDA(cudaEventRecord(start, p.stream));
    for (int i = 0; i < calls && ok; i++) ok = run(p, o, algo);
    CHECK_CUDA(cudaEventRecord(stop, p.stream));
    CHECK_CUDA(cudaEventSynchronize(stop));
    float ms = 0;
    CHECK_CUDA(cudaEventElapsedTime(&ms, start, stop));
    cudaEventDestroy(start);
    cudaEventDestroy(stop);
    (void)cudaGetLastError();
    return ok ? ms / calls : -1.0f;
}

static std::vector<float> read_y(const problem &p) {
    size_t n = (size_t)p.M * p.N;
    std::vector<float> out(n);
    if (p.elem == 4) {
        CHECK_CUDA(cudaMemcpy(out.data(), p.y, n * 4, cudaMemcpyDeviceToHost));
    } else {
        std::vector<__half> h(n);
        CHECK_CUDA(cudaMemcpy(h.data(), p.y, n * 2, cudaMemcpyDeviceToHost));
        for (size_t i = 0; i < n; i++) out[i] = __half2float(h[i]);
    }
    return out;
}

int main(int argc, char **argv) {
    int candidates = argc > 1 ? std::atoi(argv[1]) : 32, reps = argc > 2 ? std::atoi(argv[2]) : 20,
        sustain = argc > 3 ? std::atoi(argv[3]) : 200;
    if (candidates < 1 || candidates > 128 || reps < 1 || sustain < 1) {
        std::fprintf(stderr, "usage: gemm_layouts [CANDIDATES 1-128] [REPS] [SUSTAIN]\n");
        return 2;
    }
    int version = 0;
    cudaDeviceProp prop;
    CHECK_CUDA(cudaGetDeviceProperties(&prop, 0));
    size_t lt_version = cublasLtGetVersion();
    cudaRuntimeGetVersion(&version);
    std::printf("%s, CUDA runtime %d, cuBLASLt %zu; mean of %d calls, %d sustained, first %d offers\n", prop.name,
                version, lt_version, reps, sustain, candidates);
    /* BERT-base at batch 128 x sequence 128, and the same layers in a batch-8 decode step */
    struct shape { const char *what; int M, N, K; } shapes[] = {
        {"Q/K/V/O projection", 16384, 768, 768}, {"FFN up", 16384, 3072, 768}, {"FFN down", 16384, 768, 3072},
        {"fused QKV", 16384, 2304, 768},         {"step Q/K/V/O", 8, 768, 768},  {"step FFN up", 8, 3072, 768},
        {"step FFN down", 8, 768, 3072},         {"step LM head", 8, 50257, 768}};
    problem p{};
    CHECK_LT(cublasLtCreate(&p.lt));
    CHECK_CUDA(cudaStreamCreate(&p.stream));
    p.workspace_bytes = 32u << 20;
    CHECK_CUDA(cudaMalloc(&p.workspace, p.workspace_bytes));
    for (int dt = 0; dt < 2; dt++) {
        p.type = dt == 0 ? CUDA_R_32F : CUDA_R_16F;
        p.elem = dt == 0 ? 4 : 2;
        for (const shape &s : shapes) {
            const int M = s.M;
            p.M = M;
            p.N = s.N;
            p.K = s.K;
            size_t nx = (size_t)M * s.K, nw = (size_t)s.K * s.N, ny = (size_t)M * s.N;
            std::vector<float> hx(nx), hw(nw), hb(s.N);
            srand(7);
            for (auto &v : hx) v = (float)rand() / RAND_MAX - 0.5f;
            for (auto &v : hw) v = ((float)rand() / RAND_MAX - 0.5f) * 0.1f;
            for (auto &v : hb) v = (float)rand() / RAND_MAX - 0.5f;
            CHECK_CUDA(cudaMalloc(&p.x, nx * p.elem));
            CHECK_CUDA(cudaMalloc(&p.w_kn, nw * p.elem));
            CHECK_CUDA(cudaMalloc(&p.w_nk, nw * p.elem));
            CHECK_CUDA(cudaMalloc(&p.bias, (size_t)s.N * p.elem));
            CHECK_CUDA(cudaMalloc(&p.y, ny * p.elem));
            auto upload = [&](void *dst, const std::vector<float> &src) {
                if (p.elem == 4) {
                    CHECK_CUDA(cudaMemcpy(dst, src.data(), src.size() * 4, cudaMemcpyHostToDevice));
                } else {
                    std::vector<__half> h(src.size());
                    for (size_t i = 0; i < src.size(); i++) h[i] = __float2half(src[i]);
                    CHECK_CUDA(cudaMemcpy(dst, h.data(), h.size() * 2, cudaMemcpyHostToDevice));
                }
            };
            upload(p.x, hx);
            upload(p.w_kn, hw);
            upload(p.bias, hb);
            transpose_kernel<<<(unsigned)((nw + 255) / 256), 256>>>(p.w_kn, p.w_nk, s.K, s.N, p.elem);
            CHECK_CUDA(cudaDeviceSynchronize());
            std::vector<float> first_y;
            for (int nk = 0; nk < 2; nk++) {
                layout_op o = make_op(p, nk == 1);
                cublasLtMatmulPreference_t pref;
                CHECK_LT(cublasLtMatmulPreferenceCreate(&pref));
                CHECK_LT(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                                              &p.workspace_bytes, sizeof p.workspace_bytes));
                std::vector<cublasLtMatmulHeuristicResult_t> res(candidates);
                int found = 0;
                CHECK_LT(cublasLtMatmulAlgoGetHeuristic(p.lt, o.op, o.a, o.b, o.d, o.d, pref, candidates, res.data(),
                                                        &found));
                cublasLtMatmulPreferenceDestroy(pref);
                float first_ms = -1, best_ms = -1;
                int best = -1;
                for (int i = 0; i < found; i++) {
                    if (res[i].state != CUBLAS_STATUS_SUCCESS) continue;
                    float ms = time_calls(p, o, &res[i].algo, reps);
                    if (i == 0) first_ms = ms;
                    if (ms > 0 && (best < 0 || ms < best_ms)) {
                        best_ms = ms;
                        best = i;
                    }
                }
                double flops = 2.0 * M * s.N * s.K;
                if (best < 0) {
                    std::printf("%-5s %-13s M=%-5d W[%s]: no algorithm ran (%d offers)\n", dt ? "fp16" : "fp32", s.what,
                                M, nk ? "N,K] tn" : "K,N] nn", found);
                } else {
                    float sus = time_calls(p, o, &res[best].algo, sustain);
                    std::vector<float> y = read_y(p);
                    double diff = 0;
                    if (nk == 0) {
                        first_y = y;
                    } else {
                        for (size_t i = 0; i < y.size(); i++) diff = std::fmax(diff, std::fabs(y[i] - first_y[i]));
                    }
                    std::printf("%-5s %-13s M=%-5d W[%s]: first %-7s %7.3f ms | best of %2d: #%-2d %-7s %7.3f ms (%5.1f TFLOP/s)"
                                " | sustained %7.3f ms%s",
                                dt ? "fp16" : "fp32", s.what, M, nk ? "N,K] tn" : "K,N] nn", tile_name(algo_tile(&res[0].algo)),
                                first_ms, found, best, tile_name(algo_tile(&res[best].algo)), best_ms,
                                flops / best_ms / 1e9, sus, nk ? "" : "\n");
                    if (nk) std::printf(" | max |tn - nn| %.2g\n", diff);
                }
                free_op(o);
            }
            cudaFree(p.x);
            cudaFree(p.w_kn);
            cudaFree(p.w_nk);
            cudaFree(p.bias);
            cudaFree(p.y);
        }
    }
    cudaFree(p.workspace);
    cudaStreamDestroy(p.stream);
    cublasLtDestroy(p.lt);
    return 0;
}
