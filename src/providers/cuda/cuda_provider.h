/*
 * cuda_provider.h - the CUDA execution provider's state, shared by its C files.
 *
 * Split of the provider's code:
 *  - *.cu files hold CUDA kernels and their launchers. Launchers are extern "C" functions with
 *    plain arguments (device pointers, ints, a cudaStream_t) declared in cuda_launch.h, so the
 *    .cu files never include onyx's C headers and the host code stays C11 under -Werror.
 *  - *.c files hold the kernel tables (onyx_kernel_def rows) and the run functions that turn
 *    onyx tensors into launcher arguments. prepare functions are the CPU provider's: shape and
 *    attribute checks live in one place for every provider.
 *
 * All work of a session goes to one stream (state->stream). Kernels never synchronise; the
 * executor synchronises only when the host needs device data (a copy to the host).
 */
#ifndef ONYX_PROVIDERS_CUDA_PROVIDER_H
#define ONYX_PROVIDERS_CUDA_PROVIDER_H

#include <stddef.h>
#include <stdint.h>

#include <cublasLt.h>
#include <cuda_runtime_api.h>

#include "core/status.h"
#include "providers/cuda/matmul_launch.h"
#include "providers/kernel.h"
#include "providers/provider.h"

/* A caching allocator over cudaMalloc (arena.c). Freed blocks are kept in size classes and
 * reused; cudaMalloc is called only when no cached block fits. reserved_bytes (blocks obtained
 * from the driver) never exceeds limit_bytes (gpu_mem_limit; 0 = no limit): before failing, the
 * arena returns its cached blocks to the driver and tries once more. Allocation and free take
 * constant time in the number of blocks (a recording run of a decoder makes hundreds of each,
 * with hundreds of weights and cached blocks around). */
typedef struct onyx_cuda_block onyx_cuda_block;
#define ONYX_CUDA_ARENA_BUCKETS 432 /* 16 below 4 KiB, then 8 per power of two up to 2^63 */
typedef struct onyx_cuda_arena {
    int device_id;
    size_t limit_bytes;          /* gpu_mem_limit; 0 = unlimited */
    int extend_same_as_requested; /* arena_extend_strategy: 0 = kNextPowerOfTwo, 1 = kSameAsRequested */
    size_t reserved_bytes;       /* obtained from cudaMalloc and not yet returned */
    size_t in_use_bytes;         /* handed out and not yet freed */
    size_t peak_in_use_bytes;
    size_t peak_reserved_bytes;
    uint64_t driver_allocations; /* cudaMalloc calls that succeeded */
    uint64_t driver_frees;       /* cudaFree calls */
    /* Fault injection for tests: when > 0, the fail_at-th driver allocation from now fails as
     * if the device were out of memory (1 = the next one). */
    uint64_t fail_at;
    /* While a CUDA graph is being recorded (graph.c): cached blocks are not given back to the
     * driver, since the recorded work still reads blocks that are free on the host's books. */
    int keep_blocks;
    /* The driver: cudaMalloc and cudaFree, unless a test puts its own here after init. */
    cudaError_t (*driver_malloc)(void **ptr, size_t bytes);
    cudaError_t (*driver_free)(void *ptr);
    onyx_cuda_block *cached[ONYX_CUDA_ARENA_BUCKETS]; /* free blocks by size class, each list by size */
    size_t n_cached;
    onyx_cuda_block **used; /* blocks handed out: a hash table by pointer (open addressing) */
    size_t used_slots, n_used;
} onyx_cuda_arena;

void onyx_cuda_arena_init(onyx_cuda_arena *a, int device_id, size_t limit_bytes, int same_as_requested);
/* 256-byte aligned device memory of at least bytes. ONYX_ERR_OUT_OF_MEMORY with a message
 * naming the request, the limit and what is in use when it cannot be had. */
onyx_status onyx_cuda_arena_alloc(onyx_cuda_arena *a, size_t bytes, void **out);
/* The same for memory kept for the session's life (weights): sized exactly, not to a class. */
onyx_status onyx_cuda_arena_alloc_persistent(onyx_cuda_arena *a, size_t bytes, void **out);
void onyx_cuda_arena_free(onyx_cuda_arena *a, void *ptr);
/* Return every cached (free) block to the driver. */
void onyx_cuda_arena_release_cached(onyx_cuda_arena *a);
/* Free everything, cached and in use (provider teardown). */
void onyx_cuda_arena_destroy(onyx_cuda_arena *a);

/* CUDA graphs (graph.c; enable_cuda_graph): the recording of a run and the instantiated graphs
 * kept for updating. */
#define ONYX_CUDA_GRAPH_SLOTS 2 /* per part: a prefill's and a decode step's topology */
typedef struct onyx_cuda_graph_slot {
    cudaGraphExec_t exec;
    size_t nodes;   /* node count of the graph it was instantiated from */
    uint64_t sig;   /* and its library kernels (onyx_cuda_graph_note_library) */
    uint64_t stamp; /* last launch, for replacement */
} onyx_cuda_graph_slot;

typedef struct onyx_cuda_graph_part {
    onyx_cuda_graph_slot slots[ONYX_CUDA_GRAPH_SLOTS];
} onyx_cuda_graph_part;

typedef struct onyx_cuda_graphs {
    int enabled;                 /* enable_cuda_graph (default 1) */
    int part_nodes_max;          /* cuda_graph_part_nodes: nodes per launched part; 0: one per run */
    int capturing;               /* between onyx_cuda_graph_begin and _end */
    int active;                  /* a capture is in progress on capture_stream */
    int unusable;                /* the recording cannot be launched; why says what happened */
    char why[160];
    cudaStream_t capture_stream; /* private, non-blocking: the recording goes here */
    cudaStream_t real_stream;    /* the provider's stream, put back after the recording */
    unsigned char *staging[2];   /* pinned: uploads a graph copies to the device when it runs */
    size_t staging_bytes;        /* of each half */
    size_t staging_used;         /* of the half being recorded into */
    size_t staging_wanted;       /* what a recording found it needed */
    int staging_half;
    cudaEvent_t staging_done[2]; /* after the last launch that read each half */
    int part;                    /* the part being recorded */
    uint64_t run_nodes;          /* nodes of the run recorded so far (a part ends every part_nodes_max) */
    uint64_t part_sig;           /* the part's library kernels so far: at which node, which */
    onyx_cuda_graph_part *parts; /* instantiated graphs by part index */
    int n_parts;
    uint64_t clock;              /* launches so far, for the slots' stamps */
    uint64_t run_instantiations; /* graphs of this run instantiated rather than updated */
} onyx_cuda_graphs;

typedef struct onyx_cuda_state {
    int device_id;
    cudaStream_t stream;
    int own_stream;              /* 0 when the caller gave user_compute_stream */
    int use_tf32;                /* use_tf32=1: float32 GEMMs may use TF32 tensor cores */
    cublasLtHandle_t lt;
    void *lt_workspace;          /* cuBLASLt workspace (device) */
    size_t lt_workspace_bytes;
    onyx_cuda_skinny_ws skinny;  /* the few-row kernel's split-K sums and counters (device) */
    int sm_count;
    int cc_major, cc_minor;
    onyx_cuda_arena arena;
    onyx_cuda_graphs graphs;
    /* readback_begin/readback_wait: pinned host memory the copy lands in, and its event */
    void *readback;
    size_t readback_capacity, readback_bytes;
    cudaEvent_t readback_done;
    int readback_pending;
} onyx_cuda_state;

static inline onyx_cuda_state *onyx_cuda_state_of(const onyx_kernel_ctx *ctx) {
    return (onyx_cuda_state *)((onyx_provider *)ctx->provider)->state;
}

/* ONYX_OK for cudaSuccess; otherwise an error naming what failed and CUDA's message
 * (ONYX_ERR_OUT_OF_MEMORY for cudaErrorMemoryAllocation, ONYX_ERR_RUNTIME otherwise). */
onyx_status onyx_cuda_status(cudaError_t err, const char *what);
/* The same for cuBLASLt. */
onyx_status onyx_cublas_status(cublasStatus_t st, const char *what);

/* CUDA graphs (graph.c). begin: the provider's work is recorded from now on (an error, with
 * nothing changed, when graphs are off or cannot be recorded now). node: a node's work was
 * queued; every cuda_graph_part_nodes nodes the part recorded so far is launched. end: the
 * recording stops; with run, the last part is launched. An error, and that part not launched,
 * when the recording is unusable (onyx_cuda_graph_mark_unusable or an invalidated capture);
 * *instantiations gets how many parts of the run were instantiated instead of updated. */
onyx_status onyx_cuda_graph_begin(onyx_cuda_state *cs);
onyx_status onyx_cuda_graph_node(onyx_cuda_state *cs);
onyx_status onyx_cuda_graph_end(onyx_cuda_state *cs, int run, uint64_t *instantiations);
void onyx_cuda_graph_mark_unusable(onyx_cuda_state *cs, const char *why);
/* A kernel a library launched (cuBLASLt), described by the n bytes at what (its algorithm):
 * while recording, a part is only updated from a graph with the same library kernels at the
 * same nodes, else instantiated anew (graph.c says why). */
void onyx_cuda_graph_note_library(onyx_cuda_state *cs, const void *what, size_t n);
void onyx_cuda_graphs_destroy(onyx_cuda_graphs *gr);
/* Copy bytes from host memory to the device on the provider's stream; while recording, through
 * pinned staging, so the host's memory may change once this returns. what names the copy. */
onyx_status onyx_cuda_upload(onyx_cuda_state *cs, void *dst, const void *src, size_t bytes, const char *what);

#define ONYX_CUDA_TRY(call, what) ONYX_TRY(onyx_cuda_status((call), (what)))

/* Kernel tables of the provider, one per op family (cuda_tables.h lists them). */
extern const onyx_kernel_def onyx_cuda_elementwise_kernels[];
extern const onyx_kernel_def onyx_cuda_layout_kernels[];
extern const onyx_kernel_def onyx_cuda_math_kernels[];
extern const onyx_kernel_def onyx_cuda_matmul_kernels[];
extern const onyx_kernel_def onyx_cuda_control_kernels[];
extern const onyx_kernel_def *const onyx_cuda_kernel_tables[];

#endif
