/*
 * cuda_provider.c - the CUDA execution provider: options (ONNX Runtime's names), the stream,
 * the cuBLASLt handle, the caching device arena, copies, and the list of kernel tables.
 *
 * Options ("key=value" separated by ';'):
 *   device_id                   GPU ordinal (default 0)
 *   gpu_mem_limit               bytes the arena may obtain from the driver (default: no limit);
 *                               accepts integers and floats like 2e9
 *   arena_extend_strategy      kNextPowerOfTwo (0, default) or kSameAsRequested (1)
 *   use_tf32                    1: float32 GEMMs may use TF32 tensor cores (default 0)
 *   do_copy_in_default_stream   accepted for compatibility; every copy is ordered on the
 *                               session's stream, which is what the option guarantees
 *   user_compute_stream         a cudaStream_t (as an integer) to run on instead of our own
 *   enable_cuda_graph           1 (default): each run after the first is recorded and launched
 *                               as CUDA graphs (graph.c); unlike ONNX Runtime's option (off by
 *                               default there), shapes may change between runs. 0: kernels are
 *                               launched one by one
 *   cuda_graph_part_nodes       with graphs: launch the recording every this many nodes, so the
 *                               device starts while the host records the rest (default
 *                               CUDA_GRAPH_PART_NODES; 0: one graph per run)
 */
#include "providers/cuda/cuda_provider.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"

#define LT_WORKSPACE_BYTES ((size_t)32 << 20)
/* Nodes per launched part of a recorded run (graph.c, cuda_graph_part_nodes). */
#define CUDA_GRAPH_PART_NODES 64
/* The few-row kernel's split-K workspace (matmul.cu): it splits only products of fewer tiles than
 * 4 per SM, so their sums need well under a megabyte and the counters one per tile. */
#define SKINNY_PARTIAL_BYTES ((size_t)4 << 20)
#define SKINNY_COUNTERS 8192

const onyx_kernel_def *const onyx_cuda_kernel_tables[] = {
    onyx_cuda_elementwise_kernels,
    onyx_cuda_math_kernels,
    onyx_cuda_matmul_kernels,
    onyx_cuda_layout_kernels,
    onyx_cuda_control_kernels,
    NULL,
};

onyx_status onyx_cuda_status(cudaError_t err, const char *what) {
    if (err == cudaSuccess) return ONYX_OK;
    (void)cudaGetLastError();
    return onyx_error(err == cudaErrorMemoryAllocation ? ONYX_ERR_OUT_OF_MEMORY : ONYX_ERR_RUNTIME, "cuda: %s: %s (%s)",
                      what, cudaGetErrorString(err), cudaGetErrorName(err));
}

onyx_status onyx_cublas_status(cublasStatus_t st, const char *what) {
    if (st == CUBLAS_STATUS_SUCCESS) return ONYX_OK;
    return onyx_error(st == CUBLAS_STATUS_ALLOC_FAILED ? ONYX_ERR_OUT_OF_MEMORY : ONYX_ERR_RUNTIME,
                      "cuBLASLt: %s: status %d", what, (int)st);
}

/* ---- provider ops ---- */

static onyx_status cuda_alloc(onyx_provider *p, size_t bytes, void **out) {
    onyx_cuda_state *cs = p->state;
    return onyx_cuda_arena_alloc(&cs->arena, bytes, out);
}

static onyx_status cuda_alloc_persistent(onyx_provider *p, size_t bytes, void **out) {
    onyx_cuda_state *cs = p->state;
    return onyx_cuda_arena_alloc_persistent(&cs->arena, bytes, out);
}

static void cuda_free(onyx_provider *p, void *ptr) {
    onyx_cuda_state *cs = p->state;
    onyx_cuda_arena_free(&cs->arena, ptr);
}

static onyx_status cuda_copy(onyx_provider *p, void *dst, onyx_device_type dst_device, const void *src,
                             onyx_device_type src_device, size_t bytes) {
    onyx_cuda_state *cs = p->state;
    if (bytes == 0 || dst == src) return ONYX_OK;
    enum cudaMemcpyKind kind = dst_device == ONYX_DEVICE_CUDA
                                   ? (src_device == ONYX_DEVICE_CUDA ? cudaMemcpyDeviceToDevice : cudaMemcpyHostToDevice)
                                   : (src_device == ONYX_DEVICE_CUDA ? cudaMemcpyDeviceToHost : cudaMemcpyHostToHost);
    if (kind == cudaMemcpyHostToHost) {
        memmove(dst, src, bytes);
        return ONYX_OK;
    }
    if (kind == cudaMemcpyHostToDevice) return onyx_cuda_upload(cs, dst, src, bytes, "copy from host to device");
    if (kind == cudaMemcpyDeviceToHost && cs->graphs.capturing) {
        /* The host would read a value the recorded work has not computed. */
        onyx_cuda_graph_mark_unusable(cs, "the run copies a value to the host");
        return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "cuda: a copy to the host cannot be part of a graph");
    }
    ONYX_CUDA_TRY(cudaMemcpyAsync(dst, src, bytes, kind, cs->stream), "copy between host and device");
    /* The host reads what it asked for right away: wait for this stream (never the device). */
    if (kind == cudaMemcpyDeviceToHost) ONYX_CUDA_TRY(cudaStreamSynchronize(cs->stream), "waiting for a copy to the host");
    return ONYX_OK;
}

/* The few-row kernel's workspace; its counters start at zero (each launch leaves them so). */
static onyx_status skinny_workspace(onyx_cuda_state *cs) {
    ONYX_CUDA_TRY(cudaMalloc((void **)&cs->skinny.partial, SKINNY_PARTIAL_BYTES), "allocating the few-row product workspace");
    cs->skinny.partial_floats = SKINNY_PARTIAL_BYTES / sizeof(float);
    ONYX_CUDA_TRY(cudaMalloc((void **)&cs->skinny.counters, SKINNY_COUNTERS * sizeof(unsigned)),
                  "allocating the few-row product counters");
    cs->skinny.n_counters = SKINNY_COUNTERS;
    cs->skinny.sm_count = cs->sm_count;
    ONYX_CUDA_TRY(cudaMemsetAsync(cs->skinny.counters, 0, SKINNY_COUNTERS * sizeof(unsigned), cs->stream),
                  "clearing the few-row product counters");
    return ONYX_OK;
}

static onyx_status cuda_sync(onyx_provider *p) {
    onyx_cuda_state *cs = p->state;
    if (cs->graphs.capturing) {
        onyx_cuda_graph_mark_unusable(cs, "the run waits for the device");
        return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "cuda: a wait for the device cannot be part of a graph");
    }
    ONYX_CUDA_TRY(cudaStreamSynchronize(cs->stream), "stream synchronize");
    return ONYX_OK;
}

static void cuda_destroy(onyx_provider *p) {
    if (!p) return;
    onyx_cuda_state *cs = p->state;
    if (cs) {
        if (cs->graphs.capturing) cs->stream = cs->graphs.real_stream; /* destroyed mid-recording */
        onyx_cuda_graphs_destroy(&cs->graphs);
        if (cs->stream) cudaStreamSynchronize(cs->stream);
        if (cs->lt) cublasLtDestroy(cs->lt);
        if (cs->lt_workspace) cudaFree(cs->lt_workspace);
        if (cs->skinny.partial) cudaFree(cs->skinny.partial);
        if (cs->skinny.counters) cudaFree(cs->skinny.counters);
        if (cs->readback) cudaFreeHost(cs->readback);
        if (cs->readback_done) cudaEventDestroy(cs->readback_done);
        onyx_cuda_arena_destroy(&cs->arena);
        if (cs->own_stream && cs->stream) cudaStreamDestroy(cs->stream);
        onyx_free(cs);
    }
    onyx_free(p);
}

static onyx_status cuda_memory_stats(onyx_provider *p, onyx_device_memory_stats *out) {
    onyx_cuda_state *cs = p->state;
    out->limit_bytes = cs->arena.limit_bytes;
    out->reserved_bytes = cs->arena.reserved_bytes;
    out->in_use_bytes = cs->arena.in_use_bytes;
    out->peak_reserved_bytes = cs->arena.peak_reserved_bytes;
    out->peak_in_use_bytes = cs->arena.peak_in_use_bytes;
    out->driver_allocations = cs->arena.driver_allocations;
    out->driver_frees = cs->arena.driver_frees;
    return ONYX_OK;
}

static void cuda_release_cached(onyx_provider *p) {
    onyx_cuda_state *cs = p->state;
    onyx_cuda_arena_release_cached(&cs->arena);
}

static void cuda_fail_allocation(onyx_provider *p, uint64_t nth) {
    onyx_cuda_state *cs = p->state;
    cs->arena.fail_at = nth;
}

static onyx_status cuda_capture_begin(onyx_provider *p) { return onyx_cuda_graph_begin(p->state); }

static onyx_status cuda_capture_node(onyx_provider *p) { return onyx_cuda_graph_node(p->state); }

static onyx_status cuda_capture_end(onyx_provider *p, int run, uint64_t *instantiations) {
    return onyx_cuda_graph_end(p->state, run, instantiations);
}

static uintptr_t cuda_queue(onyx_provider *p) { return (uintptr_t)((onyx_cuda_state *)p->state)->stream; }

/* A copy to the host that the host waits for later: the device goes on with the work queued
 * after it (a decode loop queues the next step before it reads the token just chosen). */
static onyx_status cuda_readback_begin(onyx_provider *p, const void *src, size_t bytes) {
    onyx_cuda_state *cs = p->state;
    if (cs->graphs.capturing) return onyx_error(ONYX_ERR_RUNTIME, "cuda: a readback cannot be part of a graph");
    if (cs->readback_pending) return onyx_error(ONYX_ERR_RUNTIME, "cuda: a readback is pending already");
    if (bytes > cs->readback_capacity) {
        size_t capacity = bytes < 4096 ? 4096 : bytes;
        if (cs->readback) cudaFreeHost(cs->readback);
        cs->readback = NULL;
        cs->readback_capacity = 0;
        ONYX_CUDA_TRY(cudaMallocHost(&cs->readback, capacity), "allocating pinned memory for a readback");
        cs->readback_capacity = capacity;
    }
    if (!cs->readback_done)
        ONYX_CUDA_TRY(cudaEventCreateWithFlags(&cs->readback_done, cudaEventDisableTiming), "creating a readback event");
    ONYX_CUDA_TRY(cudaMemcpyAsync(cs->readback, src, bytes, cudaMemcpyDeviceToHost, cs->stream), "queueing a readback");
    ONYX_CUDA_TRY(cudaEventRecord(cs->readback_done, cs->stream), "recording a readback's event");
    cs->readback_bytes = bytes;
    cs->readback_pending = 1;
    return ONYX_OK;
}

static onyx_status cuda_readback_wait(onyx_provider *p, void *dst, size_t bytes) {
    onyx_cuda_state *cs = p->state;
    if (!cs->readback_pending) return onyx_error(ONYX_ERR_RUNTIME, "cuda: no readback is pending");
    cs->readback_pending = 0;
    if (bytes != cs->readback_bytes)
        return onyx_error(ONYX_ERR_RUNTIME, "cuda: a readback of %zu bytes was asked for %zu", cs->readback_bytes, bytes);
    ONYX_CUDA_TRY(cudaEventSynchronize(cs->readback_done), "waiting for a readback");
    memcpy(dst, cs->readback, bytes);
    return ONYX_OK;
}

static const onyx_provider_ops cuda_ops = {
    .name = "cuda",
    .ort_name = "CUDAExecutionProvider",
    .device = ONYX_DEVICE_CUDA,
    /* float32: cuBLASLt's 128x128 "tn" FFMA kernels (bench/gemm_layouts.cu, docs/cuda.md) */
    .transposed_weights = ONYX_DT(FLOAT32),
    .claim = onyx_provider_claim_by_table,
    .compile = NULL,
    .alloc = cuda_alloc,
    .alloc_persistent = cuda_alloc_persistent,
    .free = cuda_free,
    .copy = cuda_copy,
    .sync = cuda_sync,
    .destroy = cuda_destroy,
    .memory_stats = cuda_memory_stats,
    .release_cached = cuda_release_cached,
    .fail_allocation = cuda_fail_allocation,
    .capture_begin = cuda_capture_begin,
    .capture_node = cuda_capture_node,
    .capture_end = cuda_capture_end,
    .queue = cuda_queue,
    .readback_begin = cuda_readback_begin,
    .readback_wait = cuda_readback_wait,
};

/* ---- options ---- */

typedef struct cuda_options {
    int device_id;
    size_t gpu_mem_limit;
    int same_as_requested;
    int use_tf32;
    uintptr_t user_stream;
    int graphs;
    int graph_part_nodes;
} cuda_options;

static onyx_status parse_number(const char *key, const char *value, double lo, double hi, double *out) {
    char *end = NULL;
    errno = 0;
    double v = strtod(value, &end);
    while (end && (*end == ' ' || *end == '\t')) end++;
    if (end == value || !end || *end || errno || !(v >= lo && v <= hi))
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "cuda provider option %s=%s: expected a number in [%g, %g]", key,
                          value, lo, hi);
    *out = v;
    return ONYX_OK;
}

static onyx_status parse_options(const char *options, cuda_options *o) {
    memset(o, 0, sizeof *o);
    o->graphs = 1;
    o->graph_part_nodes = CUDA_GRAPH_PART_NODES;
    const char *p = options ? options : "";
    while (*p) {
        size_t len = strcspn(p, ";\n");
        char pair[256];
        while (len && (*p == ' ' || *p == '\t')) p++, len--;
        if (len >= sizeof pair) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "cuda provider option '%.*s' is too long", (int)len, p);
        if (len) {
            memcpy(pair, p, len);
            pair[len] = '\0';
            char *eq = strchr(pair, '=');
            if (!eq) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "cuda provider option '%s' must look like key=value", pair);
            *eq = '\0';
            const char *key = pair, *value = eq + 1;
            double v;
            if (!strcmp(key, "device_id")) {
                ONYX_TRY(parse_number(key, value, 0, 1024, &v));
                o->device_id = (int)v;
            } else if (!strcmp(key, "gpu_mem_limit")) {
                ONYX_TRY(parse_number(key, value, 0, 1.8e19, &v));
                o->gpu_mem_limit = (size_t)v;
            } else if (!strcmp(key, "arena_extend_strategy")) {
                if (!strcmp(value, "kNextPowerOfTwo") || !strcmp(value, "0")) o->same_as_requested = 0;
                else if (!strcmp(value, "kSameAsRequested") || !strcmp(value, "1")) o->same_as_requested = 1;
                else
                    return onyx_error(ONYX_ERR_INVALID_ARGUMENT,
                                      "cuda provider option arena_extend_strategy=%s: expected kNextPowerOfTwo or kSameAsRequested",
                                      value);
            } else if (!strcmp(key, "use_tf32")) {
                ONYX_TRY(parse_number(key, value, 0, 1, &v));
                o->use_tf32 = v != 0;
            } else if (!strcmp(key, "do_copy_in_default_stream")) {
                /* Validated only: every copy is already ordered on the session stream (file comment). */
                ONYX_TRY(parse_number(key, value, 0, 1, &v));
            } else if (!strcmp(key, "enable_cuda_graph")) {
                ONYX_TRY(parse_number(key, value, 0, 1, &v));
                o->graphs = v != 0;
            } else if (!strcmp(key, "cuda_graph_part_nodes")) {
                ONYX_TRY(parse_number(key, value, 0, 1e6, &v));
                o->graph_part_nodes = (int)v;
            } else if (!strcmp(key, "user_compute_stream")) {
                char *end = NULL;
                errno = 0;
                unsigned long long s = strtoull(value, &end, 0);
                if (end == value || *end || errno)
                    return onyx_error(ONYX_ERR_INVALID_ARGUMENT,
                                      "cuda provider option user_compute_stream=%s: expected a cudaStream_t as an integer", value);
                o->user_stream = (uintptr_t)s;
            } else {
                return onyx_error(ONYX_ERR_INVALID_ARGUMENT,
                                  "unknown cuda provider option '%s'; the options are device_id, gpu_mem_limit, "
                                  "arena_extend_strategy, use_tf32, do_copy_in_default_stream, user_compute_stream, "
                                  "enable_cuda_graph, cuda_graph_part_nodes",
                                  key);
            }
        }
        p += len;
        if (*p) p++;
    }
    return ONYX_OK;
}

onyx_status onyx_cuda_provider_create(const char *options, int threads, onyx_provider **out) {
    *out = NULL;
    cuda_options o;
    ONYX_TRY(parse_options(options, &o));
    int count = 0;
    ONYX_CUDA_TRY(cudaGetDeviceCount(&count), "counting devices");
    if (o.device_id >= count)
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "cuda provider option device_id=%d, but this machine has %d CUDA device%s",
                          o.device_id, count, count == 1 ? "" : "s");
    onyx_provider *p = onyx_calloc(1, sizeof *p);
    onyx_cuda_state *cs = onyx_calloc(1, sizeof *cs);
    if (!p || !cs) {
        onyx_free(p);
        onyx_free(cs);
        return ONYX_ERR_OUT_OF_MEMORY;
    }
    p->ops = &cuda_ops;
    p->kernel_tables = onyx_cuda_kernel_tables;
    p->threads = threads;
    p->state = cs;
    cs->device_id = o.device_id;
    cs->use_tf32 = o.use_tf32;
    cs->graphs.enabled = o.graphs;
    cs->graphs.part_nodes_max = o.graph_part_nodes;
    onyx_cuda_arena_init(&cs->arena, o.device_id, o.gpu_mem_limit, o.same_as_requested);
    onyx_status st = onyx_cuda_status(cudaSetDevice(o.device_id), "selecting the device");
    struct cudaDeviceProp props;
    if (st == ONYX_OK) st = onyx_cuda_status(cudaGetDeviceProperties(&props, o.device_id), "reading device properties");
    if (st == ONYX_OK) {
        cs->sm_count = props.multiProcessorCount;
        cs->cc_major = props.major;
        cs->cc_minor = props.minor;
        if (o.user_stream) {
            cs->stream = (cudaStream_t)o.user_stream;
        } else {
            /* A blocking stream: it waits for work queued on the legacy default stream, such as a
             * caller's cudaMemcpy into a buffer bound as an input (a pageable upload may return
             * before the data land). A non-blocking stream let kernels read inputs early. */
            st = onyx_cuda_status(cudaStreamCreateWithFlags(&cs->stream, cudaStreamDefault), "creating a stream");
            cs->own_stream = st == ONYX_OK;
        }
    }
    if (st == ONYX_OK) st = onyx_cublas_status(cublasLtCreate(&cs->lt), "creating the handle");
    if (st == ONYX_OK) {
        cs->lt_workspace_bytes = LT_WORKSPACE_BYTES;
        st = onyx_cuda_status(cudaMalloc(&cs->lt_workspace, cs->lt_workspace_bytes), "allocating the cuBLASLt workspace");
    }
    if (st == ONYX_OK) st = skinny_workspace(cs);
    if (st != ONYX_OK) {
        cuda_destroy(p);
        return st;
    }
    *out = p;
    return ONYX_OK;
}

