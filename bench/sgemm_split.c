/*
 * sgemm_split - how a float32 product of few rows is best spread over the cores: OpenBLAS's
 * own threads (one cblas_sgemm call) against onyx's OpenMP team running one single-threaded
 * cblas_sgemm per tile of the output (tm x tn tiles; OpenBLAS's OpenMP build runs single-threaded
 * inside a parallel region). The shapes are the products of a batch-1, 128-token forward pass of
 * BERT-base and GPT2 (and the same at 512 rows); each line prints p50 milliseconds and GFLOP/s
 * per strategy, and the largest difference from the one-call result (the tiles must agree). The
 * one-row products of a decode step compare sgemv alone with one sgemv per column part (GB/s of
 * the weights read).
 *   sgemm_split [THREADS] [RUNS]     (THREADS default: all cores; RUNS default 30)
 * Run it with OPENBLAS_CORETYPE set as `onyx --version` suggests, and OpenBLAS's OpenMP build on
 * the library path (scripts/gpu-check does both).
 */
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* [lo, hi) of part p of n split into parts, chunk boundaries on multiples of align */
static void span(int n, int parts, int p, int align, int *lo, int *hi) {
    int units = (n + align - 1) / align;
    int a = (int)((long)units * p / parts), b = (int)((long)units * (p + 1) / parts);
    *lo = a * align < n ? a * align : n;
    *hi = b * align < n ? b * align : n;
}

/* C (M,N) = A (M,K) B (K,N), row-major: tm x tn tiles, one per thread */
static void split_gemm(int tm, int tn, int M, int N, int K, const float *A, const float *B, float *C) {
#pragma omp parallel for num_threads(tm * tn) schedule(static)
    for (int t = 0; t < tm * tn; t++) {
        int r0, r1, c0, c1;
        span(M, tm, t / tn, 16, &r0, &r1);
        span(N, tn, t % tn, 16, &c0, &c1);
        if (r1 > r0 && c1 > c0)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, r1 - r0, c1 - c0, K, 1.0f, A + (size_t)r0 * K, K,
                        B + c0, N, 0.0f, C + (size_t)r0 * N + c0, N);
    }
}

/* y (1,N) = x (1,K) B (K,N): n_parts single-threaded sgemv calls on column parts, side by side */
static void split_gemv(int n_parts, int N, int K, const float *x, const float *B, float *y) {
#pragma omp parallel for num_threads(n_parts) schedule(static)
    for (int t = 0; t < n_parts; t++) {
        int c0, c1;
        span(N, n_parts, t, 16, &c0, &c1);
        if (c1 > c0) cblas_sgemv(CblasRowMajor, CblasTrans, K, c1 - c0, 1.0f, B + c0, N, x, 1, 0.0f, y + c0, 1);
    }
}

typedef struct shape {
    const char *name;
    int M, N, K;
} shape;

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : omp_get_num_procs();
    int runs = argc > 2 ? atoi(argv[2]) : 30;
    if (threads < 1 || runs < 1) {
        fprintf(stderr, "usage: sgemm_split [THREADS] [RUNS]\n");
        return 2;
    }
    const shape shapes[] = {
        {"bert q/k/v/o 128x768x768", 128, 768, 768},   {"gpt2 qkv 128x2304x768", 128, 2304, 768},
        {"ffn up 128x3072x768", 128, 3072, 768},       {"ffn down 128x768x3072", 128, 768, 3072},
        {"gpt2 lm head 128x50257x768", 128, 50257, 768}, {"q/k/v/o 512x768x768", 512, 768, 768},
        {"ffn up 512x3072x768", 512, 3072, 768},       {"ffn down 512x768x3072", 512, 768, 3072},
        {"decode q/k/v/o 1x768x768", 1, 768, 768},     {"decode gpt2 qkv 1x2304x768", 1, 2304, 768},
        {"decode ffn up 1x3072x768", 1, 3072, 768},    {"decode ffn down 1x768x3072", 1, 768, 3072},
        {"decode lm head 1x50257x768", 1, 50257, 768},
    };
    printf("openblas: %s; %d threads; p50 of %d runs; ms (GFLOP/s)\n", openblas_get_config(), threads, runs);
    int grids[16][2], n_grids = 0;
    for (int tm = 1; tm <= threads && n_grids < 16; tm *= 2)
        if (threads % tm == 0) {
            grids[n_grids][0] = tm;
            grids[n_grids][1] = threads / tm;
            n_grids++;
        }
    double *times = malloc(sizeof(double) * (size_t)runs);
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        const shape *s = &shapes[si];
        float *A = malloc(sizeof(float) * (size_t)s->M * s->K), *B = malloc(sizeof(float) * (size_t)s->K * s->N);
        float *C0 = malloc(sizeof(float) * (size_t)s->M * s->N), *C = malloc(sizeof(float) * (size_t)s->M * s->N);
        if (!A || !B || !C0 || !C || !times) {
            fprintf(stderr, "out of memory\n");
            return 1;
        }
        srand(1);
        for (long i = 0; i < (long)s->M * s->K; i++) A[i] = (float)((double)rand() / RAND_MAX - 0.5);
        for (long i = 0; i < (long)s->K * s->N; i++) B[i] = (float)((double)rand() / RAND_MAX - 0.5);
        double flop = 2.0 * s->M * s->N * s->K;
        printf("%-28s", s->name);
        if (s->M == 1) { /* one row: sgemv, OpenBLAS's threads or one call per column part */
            omp_set_num_threads(threads);
            for (int mode = 0; mode < 2; mode++) {
                float *out = mode ? C : C0;
                for (int r = -3; r < runs; r++) {
                    double t0 = now_ms();
                    if (mode) split_gemv(threads, s->N, s->K, A, B, out);
                    else cblas_sgemv(CblasRowMajor, CblasTrans, s->K, s->N, 1.0f, B, s->N, A, 1, 0.0f, out, 1);
                    if (r >= 0) times[r] = now_ms() - t0;
                }
                qsort(times, (size_t)runs, sizeof(double), cmp_double);
                double p50 = times[runs / 2], diff = 0;
                for (long i = 0; mode && i < s->N; i++) diff = fmax(diff, fabs((double)C[i] - C0[i]));
                printf("  %s %.3f (%.1f GB/s)%s", mode ? "split" : "sgemv", p50, 4.0 * s->N * s->K / p50 / 1e6,
                       diff > 1e-3 ? " DIFFERS" : "");
            }
            printf("\n");
            free(A);
            free(B);
            free(C0);
            free(C);
            continue;
        }
        for (int g = -1; g < n_grids; g++) {
            float *out = g < 0 ? C0 : C;
            omp_set_num_threads(threads);
            for (int r = -3; r < runs; r++) {
                double t0 = now_ms();
                if (g < 0)
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s->M, s->N, s->K, 1.0f, A, s->K, B, s->N,
                                0.0f, out, s->N);
                else
                    split_gemm(grids[g][0], grids[g][1], s->M, s->N, s->K, A, B, out);
                if (r >= 0) times[r] = now_ms() - t0;
            }
            qsort(times, (size_t)runs, sizeof(double), cmp_double);
            double p50 = times[runs / 2], diff = 0;
            if (g >= 0)
                for (long i = 0; i < (long)s->M * s->N; i++) diff = fmax(diff, fabs((double)C[i] - C0[i]));
            if (g < 0) printf("  blas %.3f (%.0f)", p50, flop / p50 / 1e6);
            else printf("  %dx%d %.3f (%.0f)%s", grids[g][0], grids[g][1], p50, flop / p50 / 1e6, diff > 1e-3 ? " DIFFERS" : "");
        }
        printf("\n");
        fflush(stdout);
        free(A);
        free(B);
        free(C0);
        free(C);
    }
    free(times);
    return 0;
}
