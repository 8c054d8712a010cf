/*
 * host_cache.h - large host blocks kept for reuse while sessions exist.
 *
 * A session run hands its outputs to the caller in blocks of their own (onyx_session_run on a
 * host-only session, outputs bound to the host). A decode loop frees them a step later and the
 * next step asks for blocks of the same sizes: from the C library those are fresh pages each
 * time (glibc maps blocks this large anew, or trims them off its heap), and faulting them in cost
 * more than the copy the hand-over saved (a GPT2 decode step: 9.7 MB of cache, 2.1 ms of its 9.6
 * at 16 threads). Blocks released here wait, up to a budget, for the next allocation they fit.
 * The cpu provider's products take their packing buffers from here too (matmul.c).
 *
 * The cache lives while at least one user (a session) holds it: the last release frees every
 * block it keeps, and blocks released when no session exists are freed at once, so a process
 * without sessions holds nothing here. Thread-safe.
 */
#ifndef ONYX_CORE_HOST_CACHE_H
#define ONYX_CORE_HOST_CACHE_H

#include <stddef.h>

#include "core/tensor.h"

/* A user (a session) starts and stops holding the cache. */
void onyx_host_cache_hold(void);
void onyx_host_cache_drop(void);
/* A 64-byte aligned block of at least bytes: a kept one that fits (at most twice the size), or
 * onyx_malloc_aligned's. NULL with the thread's error set when out of memory. */
void *onyx_host_cache_alloc(size_t bytes);
/* Back to the cache (or freed: small blocks, no holder, the budget full). */
void onyx_host_cache_free(void *ptr);
/* An onyx_tensor release callback for owned data from onyx_host_cache_alloc. */
void onyx_host_cache_release_tensor(void *ctx, onyx_tensor *t);
/* Frees every kept block. */
void onyx_host_cache_trim(void);
/* Blocks and bytes kept now (for tests). */
size_t onyx_host_cache_blocks(void);

#endif
