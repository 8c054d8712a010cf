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
 *
 * Bookkeeping. Cached blocks sit in buckets by size class (bucket_of: monotonic in the size, so
 * the smallest fit is the first block of at least the request in the first bucket that has
 * one); a request looks only through the buckets between its size and its limit (about nine).
 * Blocks in use are found by pointer in a hash table. Both were linked lists, searched from the
 * front at every allocation and free: with a decoder's weights in use and its cached blocks,
 * that was most of the host's own time in a decode step (GPT2: 0.25 ms of each step).
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

static cudaError_t driver_malloc_cuda(void **ptr, size_t bytes) { return cudaMalloc(ptr, bytes); }
static cudaError_t driver_free_cuda(void *ptr) { return cudaFree(ptr); }

void onyx_cuda_arena_init(onyx_cuda_arena *a, int device_id, size_t limit_bytes, int same_as_requested) {
    memset(a, 0, sizeof *a);
    a->device_id = device_id;
    a->limit_bytes = limit_bytes;
    a->extend_same_as_requested = same_as_requested;
    a->driver_malloc = driver_malloc_cuda;
    a->driver_free = driver_free_cuda;
}

#define ARENA_CLASS_MIN ((size_t)4096)
#define ARENA_CLASSES_PER_DOUBLING 8
#define ARENA_SMALL_BUCKETS (ARENA_CLASS_MIN / ARENA_ALIGN) /* 256-byte steps below 4 KiB */

/* log2 of the power of two at or below size (size > 0). */
static int floor_log2(size_t size) { return 63 - __builtin_clzll((unsigned long long)size); }

/* The size-class step of a size of at least ARENA_CLASS_MIN: an eighth of its power of two. */
static size_t class_step(size_t size) { return ((size_t)1 << floor_log2(size)) / ARENA_CLASSES_PER_DOUBLING; }

static size_t round_request(const onyx_cuda_arena *a, size_t bytes, int exact) {
    size_t size = (bytes + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    if (size == 0) size = ARENA_ALIGN;
    if (exact || a->extend_same_as_requested || size < ARENA_CLASS_MIN) return size;
    size_t step = class_step(size);
    size_t rounded = (size + step - 1) / step * step;
    return rounded < size ? size : rounded; /* overflow near SIZE_MAX: exact */
}

/* The bucket of a size: 256-byte steps below ARENA_CLASS_MIN, then one per size class (eight per
 * power of two). Monotonic in size. */
static int bucket_of(size_t size) {
    if (size < ARENA_CLASS_MIN) return (int)(size / ARENA_ALIGN);
    int lg = floor_log2(size);
    int sub = (int)((size - ((size_t)1 << lg)) / class_step(size));
    return (int)ARENA_SMALL_BUCKETS + (lg - floor_log2(ARENA_CLASS_MIN)) * ARENA_CLASSES_PER_DOUBLING + sub;
}

/* ---- blocks in use: open addressing by pointer, linear probing, deletion by backward shift ---- */

static size_t slot_of(const onyx_cuda_arena *a, const void *ptr) {
    uint64_t h = ((uint64_t)(uintptr_t)ptr >> 8) * 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 32) & (a->used_slots - 1);
}

static int used_grow(onyx_cuda_arena *a) {
    size_t slots = a->used_slots ? a->used_slots * 2 : 256;
    onyx_cuda_block **table = onyx_calloc(slots, sizeof *table);
    if (!table) return 0;
    onyx_cuda_block **old = a->used;
    size_t old_slots = a->used_slots;
    a->used = table;
    a->used_slots = slots;
    for (size_t i = 0; i < old_slots; i++) {
        if (!old[i]) continue;
        size_t j = slot_of(a, old[i]->ptr);
        while (table[j]) j = (j + 1) & (slots - 1);
        table[j] = old[i];
    }
    onyx_free(old);
    return 1;
}

/* Room for one more entry (the table at most half full); 0 when the host is out of memory. */
static int used_reserve(onyx_cuda_arena *a) { return (a->n_used + 1) * 2 <= a->used_slots || used_grow(a); }

static void used_insert(onyx_cuda_arena *a, onyx_cuda_block *b) {
    size_t j = slot_of(a, b->ptr);
    while (a->used[j]) j = (j + 1) & (a->used_slots - 1);
    a->used[j] = b;
    a->n_used++;
    a->in_use_bytes += b->bytes;
    if (a->in_use_bytes > a->peak_in_use_bytes) a->peak_in_use_bytes = a->in_use_bytes;
}

static onyx_cuda_block *used_remove(onyx_cuda_arena *a, const void *ptr) {
    if (!a->used_slots) return NULL;
    size_t mask = a->used_slots - 1, j = slot_of(a, ptr);
    while (a->used[j] && a->used[j]->ptr != ptr) j = (j + 1) & mask;
    onyx_cuda_block *b = a->used[j];
    if (!b) return NULL;
    /* Backward shift: move later entries of the probe run into the hole when their home slot
     * does not lie (cyclically) after the hole. */
    size_t hole = j;
    for (size_t k = (j + 1) & mask; a->used[k]; k = (k + 1) & mask) {
        size_t home = slot_of(a, a->used[k]->ptr);
        if (((k - home) & mask) >= ((k - hole) & mask)) {
            a->used[hole] = a->used[k];
            hole = k;
        }
    }
    a->used[hole] = NULL;
    a->n_used--;
    a->in_use_bytes -= b->bytes;
    return b;
}

/* ---- cached blocks ---- */

static void cached_insert(onyx_cuda_arena *a, onyx_cuda_block *b) {
    onyx_cuda_block **pos = &a->cached[bucket_of(b->bytes)];
    while (*pos && (*pos)->bytes < b->bytes) pos = &(*pos)->next;
    b->next = *pos;
    *pos = b;
    a->n_cached++;
}

/* The smallest cached block of at least want bytes and at most limit, taken off its list. */
static onyx_cuda_block *cached_take(onyx_cuda_arena *a, size_t want, size_t limit) {
    if (!a->n_cached) return NULL;
    int last = bucket_of(limit);
    for (int k = bucket_of(want); k <= last && k < ONYX_CUDA_ARENA_BUCKETS; k++) {
        onyx_cuda_block **link = &a->cached[k];
        while (*link && (*link)->bytes < want) link = &(*link)->next;
        if (!*link) continue;
        if ((*link)->bytes > limit) return NULL; /* every later block is larger still */
        onyx_cuda_block *b = *link;
        *link = b->next;
        a->n_cached--;
        return b;
    }
    return NULL;
}

static onyx_status driver_alloc(onyx_cuda_arena *a, size_t size, void **out) {
    *out = NULL;
    if (a->limit_bytes && a->reserved_bytes + size > a->limit_bytes) return ONYX_ERR_OUT_OF_MEMORY;
    if (a->fail_at) {
        if (--a->fail_at == 0) return ONYX_ERR_OUT_OF_MEMORY;
    }
    cudaError_t err = a->driver_malloc(out, size);
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

static void driver_release(onyx_cuda_arena *a, onyx_cuda_block *b) {
    a->driver_free(b->ptr);
    a->driver_frees++;
    a->reserved_bytes -= b->bytes;
    onyx_free(b);
}

static onyx_status arena_alloc(onyx_cuda_arena *a, size_t bytes, int exact, void **out) {
    *out = NULL;
    size_t want = (bytes + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    if (want == 0) want = ARENA_ALIGN;
    if (!used_reserve(a)) return ONYX_ERR_OUT_OF_MEMORY;
    /* Smallest cached block that fits, within a factor of two (an eighth for exact requests). */
    size_t limit = exact ? want + want / 8 : (want <= SIZE_MAX / 2 ? 2 * want : SIZE_MAX);
    onyx_cuda_block *b = cached_take(a, want, limit);
    if (b) {
        used_insert(a, b);
        *out = b->ptr;
        return ONYX_OK;
    }
    b = onyx_malloc(sizeof *b);
    if (!b) return ONYX_ERR_OUT_OF_MEMORY;
    size_t size = round_request(a, bytes, exact);
    void *ptr = NULL;
    onyx_status st = driver_alloc(a, size, &ptr);
    if (st == ONYX_ERR_OUT_OF_MEMORY && a->n_cached) {
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
        char limit_text[64] = "none";
        if (a->limit_bytes) snprintf(limit_text, sizeof limit_text, "%zu bytes", a->limit_bytes);
        return onyx_error(ONYX_ERR_OUT_OF_MEMORY,
                          "cuda: out of device memory allocating %zu bytes on device %d (gpu_mem_limit %s, "
                          "%zu bytes reserved, %zu in use)",
                          bytes, a->device_id, limit_text, a->reserved_bytes, a->in_use_bytes);
    }
    b->ptr = ptr;
    b->bytes = size;
    b->next = NULL;
    used_insert(a, b);
    *out = ptr;
    return ONYX_OK;
}

onyx_status onyx_cuda_arena_alloc(onyx_cuda_arena *a, size_t bytes, void **out) { return arena_alloc(a, bytes, 0, out); }

onyx_status onyx_cuda_arena_alloc_persistent(onyx_cuda_arena *a, size_t bytes, void **out) {
    return arena_alloc(a, bytes, 1, out);
}

void onyx_cuda_arena_free(onyx_cuda_arena *a, void *ptr) {
    if (!ptr) return;
    onyx_cuda_block *b = used_remove(a, ptr);
    if (!b) return; /* not ours: an invariant violation, ignored rather than corrupting the lists */
    cached_insert(a, b);
}

void onyx_cuda_arena_release_cached(onyx_cuda_arena *a) {
    if (!a->n_cached || a->keep_blocks) return;
    /* Work queued on the stream may still read freed blocks: cudaFree waits for the device. */
    for (int k = 0; k < ONYX_CUDA_ARENA_BUCKETS; k++) {
        while (a->cached[k]) {
            onyx_cuda_block *b = a->cached[k];
            a->cached[k] = b->next;
            driver_release(a, b);
        }
    }
    a->n_cached = 0;
}

void onyx_cuda_arena_destroy(onyx_cuda_arena *a) {
    a->keep_blocks = 0;
    onyx_cuda_arena_release_cached(a);
    for (size_t i = 0; i < a->used_slots; i++)
        if (a->used[i]) {
            a->in_use_bytes -= a->used[i]->bytes;
            driver_release(a, a->used[i]);
        }
    onyx_free(a->used);
    a->used = NULL;
    a->used_slots = a->n_used = 0;
}
