/*
 * alloc.c - counted allocation with fault injection (see alloc.h).
 */
#include "core/alloc.h"

#include <malloc.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"

static atomic_uint_fast64_t alloc_attempts;
static atomic_int_fast64_t alloc_live_blocks;
static atomic_uint_fast64_t alloc_fail_target; /* attempt number that fails; 0 = never */
static atomic_int alloc_fail_sticky;
/* Bytes of aligned blocks (tensor data) live, as malloc_usable_size reports them, and their peak. */
static atomic_uint_fast64_t aligned_live_bytes;
static atomic_uint_fast64_t aligned_peak_bytes;

void onyx_alloc_fail_at(uint64_t n, int sticky) {
    atomic_store(&alloc_fail_sticky, sticky);
    atomic_store(&alloc_fail_target, n ? atomic_load(&alloc_attempts) + n : 0);
}

uint64_t onyx_alloc_count(void) { return atomic_load(&alloc_attempts); }
int64_t onyx_alloc_live(void) { return atomic_load(&alloc_live_blocks); }
uint64_t onyx_alloc_aligned_live_bytes(void) { return atomic_load(&aligned_live_bytes); }
uint64_t onyx_alloc_aligned_peak_bytes(void) { return atomic_load(&aligned_peak_bytes); }
void onyx_alloc_aligned_peak_reset(void) { atomic_store(&aligned_peak_bytes, atomic_load(&aligned_live_bytes)); }

/* Counts the attempt; returns 1 when this attempt must fail. */
static int alloc_should_fail(size_t bytes) {
    uint64_t attempt = atomic_fetch_add(&alloc_attempts, 1) + 1;
    uint64_t target = atomic_load(&alloc_fail_target);
    int fail = target != 0 && (attempt == target || (attempt > target && atomic_load(&alloc_fail_sticky)));
    if (fail) onyx_error(ONYX_ERR_OUT_OF_MEMORY, "out of memory: allocation of %zu bytes failed", bytes);
    return fail;
}

void *onyx_malloc(size_t bytes) {
    if (alloc_should_fail(bytes)) return NULL;
    void *p = malloc(bytes ? bytes : 1);
    if (!p) {
        onyx_error(ONYX_ERR_OUT_OF_MEMORY, "out of memory: allocation of %zu bytes failed", bytes);
        return NULL;
    }
    atomic_fetch_add(&alloc_live_blocks, 1);
    return p;
}

void *onyx_calloc(size_t count, size_t size) {
    size_t bytes;
    if (onyx_mul_size(count, size, &bytes)) {
        onyx_error(ONYX_ERR_OUT_OF_MEMORY, "out of memory: %zu x %zu bytes overflows", count, size);
        return NULL;
    }
    void *p = onyx_malloc(bytes);
    if (p) memset(p, 0, bytes ? bytes : 1);
    return p;
}

void *onyx_realloc(void *ptr, size_t bytes) {
    if (!ptr) return onyx_malloc(bytes);
    if (alloc_should_fail(bytes)) return NULL;
    void *p = realloc(ptr, bytes ? bytes : 1);
    if (!p) onyx_error(ONYX_ERR_OUT_OF_MEMORY, "out of memory: reallocation to %zu bytes failed", bytes);
    return p;
}

void onyx_free(void *ptr) {
    if (!ptr) return;
    atomic_fetch_sub(&alloc_live_blocks, 1);
    free(ptr);
}

void *onyx_malloc_aligned(size_t bytes) {
    if (alloc_should_fail(bytes)) return NULL;
    size_t rounded = (bytes + 63) & ~(size_t)63;
    if (rounded < bytes) {
        onyx_error(ONYX_ERR_OUT_OF_MEMORY, "out of memory: %zu bytes overflows", bytes);
        return NULL;
    }
    void *p = aligned_alloc(64, rounded ? rounded : 64);
    if (!p) {
        onyx_error(ONYX_ERR_OUT_OF_MEMORY, "out of memory: allocation of %zu bytes failed", bytes);
        return NULL;
    }
    atomic_fetch_add(&alloc_live_blocks, 1);
    uint64_t usable = malloc_usable_size(p);
    uint64_t live = atomic_fetch_add(&aligned_live_bytes, usable) + usable;
    uint64_t peak = atomic_load(&aligned_peak_bytes);
    while (live > peak && !atomic_compare_exchange_weak(&aligned_peak_bytes, &peak, live)) {
    }
    return p;
}

void onyx_free_aligned(void *ptr) {
    if (ptr) atomic_fetch_sub(&aligned_live_bytes, malloc_usable_size(ptr));
    onyx_free(ptr);
}

char *onyx_strndup(const char *s, size_t n) {
    char *p = onyx_malloc(n + 1);
    if (!p) return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *onyx_strdup(const char *s) { return onyx_strndup(s, strlen(s)); }

int onyx_mul_size(size_t count, size_t size, size_t *out) {
    if (size && count > SIZE_MAX / size) return -1;
    *out = count * size;
    return 0;
}
