/*
 * arena.c - the CUDA provider's caching device allocator (see cuda_provider.h).
 *
 * Blocks come from cudaMalloc and go back to a free list when released; a request takes the
 * smallest cached block that fits and is at most twice its size (so a tiny tensor does not pin a
 * huge block). The executor plans one arena buffer per input shape, so in a steady state the same
 * few blocks cycle and cudaMalloc is not called. cudaFree runs only on release_cached, on
 * provider teardown, or when a new allocation would pass gpu_mem_limit.
 *
 * Size classes. New blocks of ARENA_CLASS_MIN bytes or more are rounded up to a multiple of an
 * eighth of the power of two below them (at most 12.5% over the request): a decode loop's
 * tensors grow by one position per step (the KV cache, attention scores), and with 256-byte
 * rounding every step asked the driver for new blocks, each cudaMalloc tens of microseconds,
 * while the previous step's blocks were a little too small to reuse. With classes, the blocks
 * two steps old fit for many steps. (Rounding to powers of two, as before, had the same effect
 * but pinned up to twice the memory.) Persistent allocations (weights, copied once for the
 * session's life) and arena_extend_strategy kSameAsRequested take exact 256-byte sizes, and
 * reuse a cached block only when it is at most 12.5% larger.
 */
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "providers/cuda/cuda_provider.h"

#define ARENA_ALIGN 256

struct onyx_cuda_block {
    void *ptr;
    size_t bytes;
    onyx_cuda_block *next;
};

void onyx_cuda_arena_init(onyx_cuda_arena *a, int device_id, size_t limit_bytes, int same_as_requested) {
    memset(a, 0, sizeof *a);
    a->device_id = device_id;
    a->limit_bytes = limit_bytes;
    a->extend_same_as_requested = same_as_requested;
}

#define ARENA_CLASS_MIN ((size_t)4096)
#define ARENA_CLASSES_PER_DOUBLING 8

static size_t round_request(const onyx_cuda_arena *a, size_t bytes, int exact) {
    size_t size = (bytes + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    if (size == 0) size = ARENA_ALIGN;
    if (exact || a->extend_same_as_requested || size < ARENA_CLASS_MIN) return size;
    size_t floor2 = ARENA_CLASS_MIN;
    while (floor2 <= size / 2) floor2 <<= 1;
    size_t step = floor2 / ARENA_CLASSES_PER_DOUBLING;
    size_t rounded = (size + step - 1) / step * step;
    return rounded < size ? size : rounded; /* overflow near SIZE_MAX: exact */
}

static onyx_status driver_alloc(onyx_cuda_arena *a, size_t size, void **out) {
    *out = NULL;
    if (a->limit_bytes && a->reserved_bytes + size > a->limit_bytes) return ONYX_ERR_OUT_OF_MEMORY;
    if (a->fail_at) {
        if (--a->fail_at == 0) return ONYX_ERR_OUT_OF_MEMORY;
    }
    cudaError_t err = cudaMalloc(out, size);
    if (err != cudaSuccess) {
        (void)cudaGetLastError(); /* clear the sticky-free error so later calls work */
        *out = NULL;
        return err == cudaErrorMemoryAllocation ? ONYX_ERR_OUT_OF_MEMORY : onyx_cuda_status(err, "cudaMalloc");
    }
    a->driver_allocations++;
    a->reserved_bytes += size;
    if (a->reserved_bytes > a->peak_reserved_bytes) a->peak_reserved_bytes = a->reserved_bytes;
    return ONYX_OK;
}

static onyx_status arena_alloc(onyx_cuda_arena *a, size_t bytes, int exact, void **out) {
    *out = NULL;
    size_t want = (bytes + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    if (want == 0) want = ARENA_ALIGN;
    /* Smallest cached block that fits, within a factor of two (an eighth for exact requests). */
    onyx_cuda_block **link = &a->free_blocks;
    while (*link && (*link)->bytes < want) link = &(*link)->next;
    if (*link && (*link)->bytes <= (exact ? want + want / 8 : 2 * want)) {
        onyx_cuda_block *b = *link;
        *link = b->next;
        b->next = a->used_blocks;
        a->used_blocks = b;
        a->in_use_bytes += b->bytes;
        if (a->in_use_bytes > a->peak_in_use_bytes) a->peak_in_use_bytes = a->in_use_bytes;
        *out = b->ptr;
        return ONYX_OK;
    }
    onyx_cuda_block *b = onyx_malloc(sizeof *b);
    if (!b) return ONYX_ERR_OUT_OF_MEMORY;
    size_t size = round_request(a, bytes, exact);
    void *ptr = NULL;
    onyx_status st = driver_alloc(a, size, &ptr);
    if (st == ONYX_ERR_OUT_OF_MEMORY && a->free_blocks) {
        onyx_cuda_arena_release_cached(a);
        st = driver_alloc(a, size, &ptr);
    }
    if (st == ONYX_ERR_OUT_OF_MEMORY && size != want) {
        size = want; /* the class rounding may be what does not fit */
        st = driver_alloc(a, size, &ptr);
    }
    if (st != ONYX_OK) {
        onyx_free(b);
        if (st != ONYX_ERR_OUT_OF_MEMORY) return st;
        char limit[64] = "none";
        if (a->limit_bytes) snprintf(limit, sizeof limit, "%zu bytes", a->limit_bytes);
        return onyx_error(ONYX_ERR_OUT_OF_MEMORY,
                          "cuda: out of device memory allocating %zu bytes on device %d (gpu_mem_limit %s, "
                          "%zu bytes reserved, %zu in use)",
                          bytes, a->device_id, limit, a->reserved_bytes, a->in_use_bytes);
    }
    b->ptr = ptr;
    b->bytes = size;
    b->next = a->used_blocks;
    a->used_blocks = b;
    a->in_use_bytes += size;
    if (a->in_use_bytes > a->peak_in_use_bytes) a->peak_in_use_bytes = a->in_use_bytes;
    *out = ptr;
    return ONYX_OK;
}

onyx_status onyx_cuda_arena_alloc(onyx_cuda_arena *a, size_t bytes, void **out) { return arena_alloc(a, bytes, 0, out); }

onyx_status onyx_cuda_arena_alloc_persistent(onyx_cuda_arena *a, size_t bytes, void **out) {
    return arena_alloc(a, bytes, 1, out);
}

void onyx_cuda_arena_free(onyx_cuda_arena *a, void *ptr) {
    if (!ptr) return;
    onyx_cuda_block **link = &a->used_blocks;
    while (*link && (*link)->ptr != ptr) link = &(*link)->next;
    if (!*link) return; /* not ours: an invariant violation, ignored rather than corrupting the lists */
    onyx_cuda_block *b = *link;
    *link = b->next;
    a->in_use_bytes -= b->bytes;
    /* Insert sorted by size. */
    onyx_cuda_block **pos = &a->free_blocks;
    while (*pos && (*pos)->bytes < b->bytes) pos = &(*pos)->next;
    b->next = *pos;
    *pos = b;
}

static void free_list(onyx_cuda_arena *a, onyx_cuda_block **list) {
    while (*list) {
        onyx_cuda_block *b = *list;
        *list = b->next;
        cudaFree(b->ptr);
        a->driver_frees++;
        a->reserved_bytes -= b->bytes;
        onyx_free(b);
    }
}

void onyx_cuda_arena_release_cached(onyx_cuda_arena *a) {
    if (!a->free_blocks) return;
    /* Work queued on the stream may still read freed blocks: cudaFree waits for the device. */
    free_list(a, &a->free_blocks);
}

void onyx_cuda_arena_destroy(onyx_cuda_arena *a) {
    free_list(a, &a->free_blocks);
    free_list(a, &a->used_blocks);
}
