/*
 * cpu_provider.c - the CPU execution provider: host memory, synchronous kernels, one kernel
 * table (cpu_tables.h). It accepts no options; intra-op threads come from the session.
 */
#include <stdio.h>
#include <string.h>

#include <cblas.h>
#include <omp.h>

#include "core/alloc.h"
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
    .claim = onyx_provider_claim_by_table,
    .compile = NULL,
    .alloc = cpu_alloc,
    .free = cpu_free,
    .copy = cpu_copy,
    .sync = NULL,
    .destroy = cpu_destroy,
};

void onyx_cpu_describe(char *buf, size_t size) {
    static const char *const threading[] = {"sequential", "pthreads", "OpenMP"};
    int parallel = openblas_get_parallel();
    /* The core name is the kernel set OpenBLAS picked for this CPU (a DYNAMIC_ARCH build picks at
     * load time, and falls back to older kernels on a CPU it does not know). */
    snprintf(buf, size, "%s; kernels for %s; %s threading, %d threads by default", openblas_get_config(),
             openblas_get_corename(), parallel >= 0 && parallel <= 2 ? threading[parallel] : "unknown",
             parallel == 2 ? omp_get_max_threads() : openblas_get_num_threads());
}

onyx_status onyx_cpu_provider_create(const char *options, int threads, onyx_provider **out) {
    *out = NULL;
    if (options && options[0])
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "the cpu provider takes no options, got '%s'", options);
    onyx_provider *p = onyx_calloc(1, sizeof *p);
    if (!p) return ONYX_ERR_OUT_OF_MEMORY;
    p->ops = &cpu_ops;
    p->kernel_tables = onyx_cpu_kernel_tables;
    p->threads = threads;
    *out = p;
    return ONYX_OK;
}
