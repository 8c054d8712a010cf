/*
 * provider.h - execution providers: a struct of function pointers plus a context.
 *
 * A per-node provider (cpu, cuda) claims nodes through its kernel table; a whole-graph compiler
 * (the engine builder) would implement compile instead. The session asks providers in priority
 * order and places each node on the first that claims it. Optional hooks may be NULL, as noted.
 */
#ifndef ONYX_PROVIDERS_PROVIDER_H
#define ONYX_PROVIDERS_PROVIDER_H

#include <stddef.h>
#include <stdint.h>

#include "graph/ir.h"
#include "providers/kernel.h"

typedef struct onyx_provider onyx_provider;

typedef struct onyx_provider_ops {
    const char *name;     /* short name: "cpu" */
    const char *ort_name; /* ONNX Runtime's name: "CPUExecutionProvider" */
    onyx_device_type device;
    /* ONYX_DT mask of the dtypes whose GEMMs run faster on this provider with Linear layers'
     * weights stored transposed, (N, K): sessions rewrite its MatMuls of those dtypes
     * (src/graph/weight_layout.c). 0: none. */
    uint64_t transposed_weights;
    /* For each node of g, set claimed[i] to the kernel row that runs it, or leave it NULL; why[i]
     * (may be NULL) gets the reason for nodes not claimed. Claimed rows must be in the
     * provider's kernel table. */
    onyx_status (*claim)(onyx_provider *p, const onyx_graph *g, const onyx_kernel_def **claimed,
                         char (*why)[160]);
    /* Optional (NULL for per-node providers): compile a claimed subgraph into one kernel. */
    onyx_status (*compile)(onyx_provider *p, const onyx_graph *subgraph, onyx_kernel_def *out);
    /* Memory on the provider's device, 64-byte aligned. */
    onyx_status (*alloc)(onyx_provider *p, size_t bytes, void **out);
    /* Optional: the same for memory kept for the session's life (weights copied once), which a
     * caching allocator sizes exactly instead of to a reusable size class; NULL: alloc. */
    onyx_status (*alloc_persistent)(onyx_provider *p, size_t bytes, void **out);
    void (*free)(onyx_provider *p, void *ptr);
    /* Copy between this provider's device and the host (either direction) or within it. */
    onyx_status (*copy)(onyx_provider *p, void *dst, onyx_device_type dst_device, const void *src,
                        onyx_device_type src_device, size_t bytes);
    /* Wait for queued work; NULL when work is synchronous. */
    onyx_status (*sync)(onyx_provider *p);
    void (*destroy)(onyx_provider *p);
    /* Optional (NULL for host providers): device memory counters, giving cached memory back to
     * the driver, and fault injection for tests (the nth device allocation from now fails as
     * out of memory; 0 turns it off). */
    onyx_status (*memory_stats)(onyx_provider *p, onyx_device_memory_stats *out);
    void (*release_cached)(onyx_provider *p);
    void (*fail_allocation)(onyx_provider *p, uint64_t nth);
    /* Optional (NULL: not supported): record the work queued from now on instead of running it
     * (CUDA graphs), for one run. capture_begin fails, changing nothing, when recording is off
     * or not possible now. capture_node is called after each node the provider ran while
     * recording; the provider may launch the part recorded so far there, so the device starts
     * while the host goes on. capture_end stops the recording and, with run != 0, launches the
     * rest; *instantiations gets how many graphs the run instantiated anew (not updated). Both
     * fail when the recording is unusable (the run needed something a recording cannot hold,
     * such as a copy to the host): then what is not launched yet never runs. */
    onyx_status (*capture_begin)(onyx_provider *p);
    onyx_status (*capture_node)(onyx_provider *p);
    onyx_status (*capture_end)(onyx_provider *p, int run, uint64_t *instantiations);
    /* Optional (NULL for host providers): the queue the provider's work goes on, as the integer
     * its user_compute_stream option takes, so that other sessions can share it (a model's
     * sessions do: a tensor one of them made is then read and freed in queue order). */
    uintptr_t (*queue)(onyx_provider *p);
    /* Optional (NULL for host providers): queue a copy of bytes at src (device memory) into
     * host memory the provider keeps, behind the work queued so far, and return; readback_wait
     * waits for that copy alone (not for work queued after it) and copies the bytes to dst. One
     * readback at a time; neither may be called while a run is recorded. */
    onyx_status (*readback_begin)(onyx_provider *p, const void *src, size_t bytes);
    onyx_status (*readback_wait)(onyx_provider *p, void *dst, size_t bytes);
} onyx_provider_ops;

struct onyx_provider {
    const onyx_provider_ops *ops;
    const onyx_kernel_def *const *kernel_tables; /* NULL for compiling providers */
    int threads;
    void *state; /* provider-specific */
};

/* Create the provider called name (short or ONNX Runtime name) with "key=value" options
 * (separated by ';' or newlines; keys already stripped of the "provider." prefix). Unknown
 * providers, unavailable ones and unknown option keys are errors; an unavailable provider's
 * error lists the available providers. */
onyx_status onyx_provider_create(const char *name, const char *options, int threads,
                                 onyx_provider **out);
void onyx_provider_destroy(onyx_provider *p);
/* Comma-separated short names of the providers that can be created on this machine. */
const char *onyx_providers_available(char *buf, size_t size);
/* One line (no newline) on what a provider runs on here (onyx_runtime_info). */
void onyx_cpu_describe(char *buf, size_t size);
/* The OpenBLAS kernel set (an OPENBLAS_CORETYPE value) to suggest where OpenBLAS chose core but
 * the CPU has AVX2 and FMA (and AVX-512): "Haswell" or "SkylakeX"; NULL when core is as wide as
 * AVX2 already. */
const char *onyx_cpu_blas_better_core(const char *core, int cpu_avx2_fma, int cpu_avx512);
#ifdef ONYX_HAVE_CUDA
void onyx_cuda_describe(char *buf, size_t size);
#endif

/* Per-node claiming through a kernel table, shared by cpu and cuda: a node is claimed when a
 * row matches its op, domain, opset and the dtype of the row's type_input (taken from the
 * value's inferred dtype; unknown dtypes match). */
onyx_status onyx_provider_claim_by_table(onyx_provider *p, const onyx_graph *g,
                                         const onyx_kernel_def **claimed, char (*why)[160]);

/* The CPU provider (cpu_provider.c). */
onyx_status onyx_cpu_provider_create(const char *options, int threads, onyx_provider **out);

/* Release function of tensors whose data came from p->ops->alloc (onyx_tensor.release, with
 * release_ctx = p). */
void onyx_provider_release_tensor(void *p, onyx_tensor *t);
/* A new tensor holding a copy of t (any device) in memory of p's device from p->ops->alloc,
 * released back to p: it must be destroyed before p. The copy is queued, not waited for. */
onyx_status onyx_provider_tensor_copy(onyx_provider *p, const onyx_tensor *t, onyx_tensor **out);

/* The provider serving device type d among providers[0..n-1], or NULL. */
onyx_provider *onyx_provider_for_device(onyx_provider *const *providers, int n, onyx_device_type d);

#ifdef ONYX_HAVE_CUDA
/* CUDA device probe (cuda/device.c): number of usable devices, 0 with why filled when none. */
int onyx_cuda_device_count(char *why, size_t why_size);
/* A synchronous copy of bytes from device memory to the host (cuda/device.c). */
onyx_status onyx_cuda_copy_to_host(void *dst, const void *src, size_t bytes);
/* The CUDA provider (cuda/cuda_provider.c). */
onyx_status onyx_cuda_provider_create(const char *options, int threads, onyx_provider **out);
#endif

#endif
