/*
 * cpu_provider.c - the CPU execution provider: host memory, synchronous kernels, one kernel
 * table (cpu_tables.h). It accepts no options; intra-op threads come from the session.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cblas.h>
#include <omp.h>

#include "core/alloc.h"
#include "core/log.h"
#include "core/status.h"
#include "providers/cpu/cpu_tables.h"
#include "providers/provider.h"

const onyx_kernel_def *const onyx_cpu_kernel_tables[] = {
    onyx_cpu_elementwise_kernels,
    onyx_cpu_math_kernels,
    onyx_cpu_layout_kernels,
    onyx_cpu_control_kernels,
    NULL,
};

static onyx_status cpu_alloc(onyx_provider *p, size_t bytes, void **out) {
    *out = onyx_malloc_aligned(bytes);
    return *out ? ONYX_OK : ONYX_ERR_OUT_OF_MEMORY;
}

static void cpu_free(onyx_provider *p, void *ptr) { onyx_free_aligned(ptr); }

static onyx_status cpu_copy(onyx_provider *p, void *dst, onyx_device_type dst_device, const void *src,
                            onyx_device_type src_device, size_t bytes) {
    if (dst_device != ONYX_DEVICE_CPU || src_device != ONYX_DEVICE_CPU)
        return onyx_error(ONYX_ERR_RUNTIME, "the cpu provider copies only host memory");
    if (bytes) memmove(dst, src, bytes);
    return ONYX_OK;
}

static void cpu_destroy(onyx_provider *p) { onyx_free(p); }

static const onyx_provider_ops cpu_ops = {
    .name = "cpu",
    .ort_name = "CPUExecutionProvider",
    .device = ONYX_DEVICE_CPU,
    /* none: the products of up to 256 rows pack B from the export's (K, N) in rows of a panel
     * (matmul.c); packing an (N, K) weight transposes it, and ran BERT-base 25-45% slower */
    .claim = onyx_provider_claim_by_table,
    .compile = NULL,
    .alloc = cpu_alloc,
    .free = cpu_free,
    .copy = cpu_copy,
    .sync = NULL,
    .destroy = cpu_destroy,
};

/* Whether an OpenBLAS kernel set uses AVX2 and FMA or wider (AVX-512): the x86 sets from Haswell
 * and Zen on. Older ones (Prescott, Core2, Nehalem, Sandybridge, Bulldozer, ...) and names not
 * listed do not. */
static int blas_core_has_avx2(const char *core) {
    static const char *const wide[] = {"Haswell", "Zen", "SkylakeX", "Cooperlake", "SapphireRapids"};
    for (size_t i = 0; i < sizeof wide / sizeof *wide; i++)
        if (!strcasecmp(core, wide[i])) return 1;
    return 0;
}

const char *onyx_cpu_blas_better_core(const char *core, int cpu_avx2_fma, int cpu_avx512) {
    if (!core || !cpu_avx2_fma || blas_core_has_avx2(core)) return NULL;
    return cpu_avx512 ? "SkylakeX" : "Haswell";
}

/* The kernel set this process's CPU could run where OpenBLAS chose a narrower one, or NULL (also
 * when OPENBLAS_CORETYPE chose it: that is the user's choice); *isa names the instructions it
 * uses. */
static const char *blas_suggested_core(const char **isa) {
#if defined(__x86_64__) || defined(__i386__)
    if (getenv("OPENBLAS_CORETYPE")) return NULL;
    __builtin_cpu_init();
    int avx2_fma = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    int avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                 __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
    const char *better = onyx_cpu_blas_better_core(openblas_get_corename(), avx2_fma, avx512);
    *isa = better && !strcmp(better, "SkylakeX") ? "AVX-512" : "AVX2";
    return better;
#else
    (void)isa;
    return NULL;
#endif
}

void onyx_cpu_describe(char *buf, size_t size) {
    static const char *const threading[] = {"sequential", "pthreads", "OpenMP"};
    int parallel = openblas_get_parallel();
    /* The core name is the kernel set OpenBLAS picked for this CPU (a DYNAMIC_ARCH build picks at
     * load time, and falls back to older kernels on a CPU it does not know). */
    const char *isa = NULL, *better = blas_suggested_core(&isa);
    char hint[160] = "";
    if (better)
        snprintf(hint, sizeof hint, " (this CPU has %s: OPENBLAS_CORETYPE=%s would choose faster kernels)", isa,
                 better);
    snprintf(buf, size, "%s; kernels for %s%s; %s threading, %d threads by default", openblas_get_config(),
             openblas_get_corename(), hint, parallel >= 0 && parallel <= 2 ? threading[parallel] : "unknown",
             parallel == 2 ? omp_get_max_threads() : openblas_get_num_threads());
}

/* Once per process, at the first cpu provider: a warning when OpenBLAS runs narrower kernels than
 * the CPU allows. OpenBLAS chooses by CPU model when it loads, so a model it does not know (a
 * virtual machine's generic "Intel(R) Xeon(R) Processor") gets SSE kernels from 2004, several
 * times slower on AVX-512 hardware. Only the environment, before the program starts, changes it. */
static void warn_blas_core_once(void) {
    static atomic_int warned;
    if (atomic_exchange(&warned, 1)) return;
    const char *isa = NULL, *better = blas_suggested_core(&isa);
    if (better)
        onyx_log(ONYX_LOG_FATAL + 1, ONYX_LOG_WARNING,
                 "cpu: OpenBLAS chose its %s kernels, but this CPU has %s; matrix products may run several times "
                 "slower than they could. Set OPENBLAS_CORETYPE=%s in the environment before the program starts "
                 "(docs/cpu.md)",
                 openblas_get_corename(), isa, better);
}

onyx_status onyx_cpu_provider_create(const char *options, int threads, onyx_provider **out) {
    *out = NULL;
    if (options && options[0])
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "the cpu provider takes no options, got '%s'", options);
    warn_blas_core_once();
    onyx_provider *p = onyx_calloc(1, sizeof *p);
    if (!p) return ONYX_ERR_OUT_OF_MEMORY;
    p->ops = &cpu_ops;
    p->kernel_tables = onyx_cpu_kernel_tables;
    p->threads = threads;
    *out = p;
    return ONYX_OK;
}
