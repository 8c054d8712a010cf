/*
 * alloc.h - the one door through which onyx allocates host memory.
 *
 * All library allocations go through onyx_malloc/onyx_calloc/onyx_realloc/onyx_free so that tests
 * can fail the Nth allocation (SQLite's habit) and count live blocks to find leaks. A failed
 * allocation sets the thread's error message itself, so callers just return
 * ONYX_ERR_OUT_OF_MEMORY. Large aligned buffers (tensor data) use onyx_malloc_aligned.
 */
#ifndef ONYX_CORE_ALLOC_H
#define ONYX_CORE_ALLOC_H

#include <stddef.h>
#include <stdint.h>

#include "onyx/onyx.h"

void *onyx_malloc(size_t bytes);
void *onyx_calloc(size_t count, size_t size);
void *onyx_realloc(void *ptr, size_t bytes);
void onyx_free(void *ptr);
/* 64-byte aligned; free with onyx_free_aligned. bytes == 0 returns a valid unique pointer. */
void *onyx_malloc_aligned(size_t bytes);
void onyx_free_aligned(void *ptr);
char *onyx_strdup(const char *s);
char *onyx_strndup(const char *s, size_t n);

/* Overflow-checked count*size; returns 0 and sets *out on success, -1 on overflow. */
int onyx_mul_size(size_t count, size_t size, size_t *out);

/* Test hooks. fail_at = N makes the Nth allocation from now fail (and, if sticky, every one after
 * it); 0 disables. The counters are process-wide and atomic. */
void onyx_alloc_fail_at(uint64_t n, int sticky);
uint64_t onyx_alloc_count(void);      /* allocations attempted since start */
int64_t onyx_alloc_live(void);        /* blocks allocated and not yet freed */
/* Bytes of onyx_malloc_aligned blocks (tensor data, the executor's host buffers) not yet freed,
 * as the C library sized them, and the most there were since the last reset (which sets the
 * peak to what is live now). */
uint64_t onyx_alloc_aligned_live_bytes(void);
uint64_t onyx_alloc_aligned_peak_bytes(void);
void onyx_alloc_aligned_peak_reset(void);

#endif
