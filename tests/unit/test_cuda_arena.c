/*
 * test_cuda_arena.c - the CUDA provider's caching allocator (src/providers/cuda/arena.c) over a
 * pretend driver in host memory, so it runs without a GPU (in any build with the cuda provider;
 * skipped without it).
 *
 * A random sequence of allocations (class-rounded and exact) and frees in random order is checked
 * against a model written here from the arena's rules: a request takes a cached block of the
 * smallest size among those of at least the request (rounded to 256 bytes) and at most twice it
 * (an eighth more for exact requests); only when there is none does the driver see a call. The
 * byte counts, the driver's calls and its outstanding blocks are checked after every step, and
 * the driver must hold nothing after destroy. Then the limit (cached blocks given back before an
 * allocation fails, and the error naming the request) and an injected driver failure.
 */
#include <stdint.h>

#include "harness.h"

#ifdef ONYX_HAVE_CUDA
#include "providers/cuda/cuda_provider.h"

/* ---- the pretend driver ---- */

#define MAX_BLOCKS 16384

typedef struct fake_block {
    void *ptr;
    size_t bytes;
} fake_block;

static fake_block driver_blocks[MAX_BLOCKS];
static int driver_count;
static uint64_t driver_mallocs;
static uintptr_t driver_next = (uintptr_t)0x7f0000000000ull;

/* Device addresses are never dereferenced by the arena: the driver hands out distinct,
 * 256-byte aligned addresses laid out one after another, and no memory. */
static cudaError_t fake_malloc(void **ptr, size_t bytes) {
    if (driver_count == MAX_BLOCKS) return cudaErrorMemoryAllocation;
    driver_blocks[driver_count].ptr = (void *)driver_next;
    driver_blocks[driver_count].bytes = bytes;
    driver_next += (bytes + 255) / 256 * 256 + 256;
    *ptr = driver_blocks[driver_count].ptr;
    driver_count++;
    driver_mallocs++;
    return cudaSuccess;
}

static cudaError_t fake_free(void *ptr) {
    for (int i = 0; i < driver_count; i++)
        if (driver_blocks[i].ptr == ptr) {
            driver_blocks[i] = driver_blocks[--driver_count];
            return cudaSuccess;
        }
    fprintf(stderr, "FAIL %s: the arena freed a pointer the driver never gave\n", onyx_test_current);
    onyx_test_failures++;
    return cudaErrorInvalidValue;
}

static size_t driver_size(const void *ptr) {
    for (int i = 0; i < driver_count; i++)
        if (driver_blocks[i].ptr == ptr) return driver_blocks[i].bytes;
    return 0;
}

static void arena_start(onyx_cuda_arena *a, size_t limit, int same_as_requested) {
    onyx_cuda_arena_init(a, 0, limit, same_as_requested);
    a->driver_malloc = fake_malloc;
    a->driver_free = fake_free;
    driver_mallocs = 0;
}

/* ---- the model ---- */

typedef struct live_block {
    void *ptr;
    size_t bytes; /* the block's size (the driver's), not the request */
} live_block;

static uint64_t rng_state = 0x2545F4914F6CDD1Dull;
static uint64_t rng_next(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Request sizes over 256 B .. 8 MiB, most of them small, many repeated (a decoder's tensors). */
static size_t random_request(void) {
    static const size_t common[] = {2048, 3072, 65536, 65536 + 2048, 196608, 1 << 20, 3 << 19};
    if (rng_next() % 3 == 0) return common[rng_next() % (sizeof common / sizeof *common)];
    int lg = 8 + (int)(rng_next() % 16);
    return ((size_t)1 << lg) + rng_next() % ((size_t)1 << lg);
}

static void test_against_model(void) {
    enum { STEPS = 20000, MAX_LIVE = 600 };
    onyx_cuda_arena a;
    arena_start(&a, 0, 0);
    static live_block used[MAX_LIVE], cached[MAX_BLOCKS];
    int n_used = 0, n_cached = 0, mismatches = 0;
    size_t in_use = 0, reserved = 0;
    for (int step = 0; step < STEPS && mismatches < 5; step++) {
        int do_alloc = n_used == 0 || (n_used < MAX_LIVE && rng_next() % 100 < 52);
        if (do_alloc) {
            size_t bytes = random_request();
            int exact = rng_next() % 8 == 0;
            size_t want = (bytes + 255) / 256 * 256;
            size_t limit = exact ? want + want / 8 : 2 * want;
            size_t best = 0;
            for (int i = 0; i < n_cached; i++)
                if (cached[i].bytes >= want && cached[i].bytes <= limit && (!best || cached[i].bytes < best))
                    best = cached[i].bytes;
            uint64_t before = driver_mallocs;
            void *p = NULL;
            onyx_status st = exact ? onyx_cuda_arena_alloc_persistent(&a, bytes, &p) : onyx_cuda_arena_alloc(&a, bytes, &p);
            if (st != ONYX_OK || !p) {
                fprintf(stderr, "FAIL %s: step %d: allocating %zu bytes: %s\n", onyx_test_current, step, bytes,
                        onyx_last_error());
                onyx_test_failures++;
                mismatches++;
                continue;
            }
            onyx_test_checks++;
            int found = -1;
            for (int i = 0; i < n_cached && found < 0; i++)
                if (cached[i].ptr == p) found = i;
            if (best) {
                if (found < 0 || cached[found].bytes != best || driver_mallocs != before) {
                    fprintf(stderr, "FAIL %s: step %d: %zu bytes%s should reuse a cached block of %zu bytes, got %s\n",
                            onyx_test_current, step, bytes, exact ? " (exact)" : "", best,
                            found >= 0 ? "another cached block" : "a new block");
                    onyx_test_failures++;
                    mismatches++;
                    continue;
                }
                used[n_used++] = cached[found];
                cached[found] = cached[--n_cached];
            } else {
                size_t size = driver_size(p);
                if (found >= 0 || driver_mallocs != before + 1 || size < want || (exact && size != want) ||
                    (!exact && size > want + want / 8)) {
                    fprintf(stderr, "FAIL %s: step %d: %zu bytes%s with no cached fit: driver calls %llu -> %llu, "
                            "block of %zu bytes\n", onyx_test_current, step, bytes, exact ? " (exact)" : "",
                            (unsigned long long)before, (unsigned long long)driver_mallocs, size);
                    onyx_test_failures++;
                    mismatches++;
                    continue;
                }
                used[n_used].ptr = p;
                used[n_used].bytes = size;
                n_used++;
                reserved += size;
            }
            in_use += used[n_used - 1].bytes;
        } else {
            int i = (int)(rng_next() % (uint64_t)n_used);
            onyx_cuda_arena_free(&a, used[i].ptr);
            in_use -= used[i].bytes;
            cached[n_cached++] = used[i];
            used[i] = used[--n_used];
        }
        if (a.in_use_bytes != in_use || a.reserved_bytes != reserved || (int)a.n_used != n_used ||
            (int)a.n_cached != n_cached) {
            fprintf(stderr, "FAIL %s: step %d: arena in use %zu / reserved %zu / %zu used / %zu cached, model %zu / "
                    "%zu / %d / %d\n", onyx_test_current, step, a.in_use_bytes, a.reserved_bytes, a.n_used,
                    a.n_cached, in_use, reserved, n_used, n_cached);
            onyx_test_failures++;
            mismatches++;
        }
    }
    ONYX_CHECK(mismatches == 0);
    onyx_cuda_arena_free(&a, (void *)(uintptr_t)0x100); /* not the arena's: ignored */
    ONYX_CHECK_INT((long long)a.n_used, (long long)n_used);
    onyx_cuda_arena_release_cached(&a);
    ONYX_CHECK_INT(driver_count, n_used);
    ONYX_CHECK_INT((long long)a.reserved_bytes, (long long)in_use);
    onyx_cuda_arena_destroy(&a); /* blocks still in use go back too */
    ONYX_CHECK_INT(driver_count, 0);
    ONYX_CHECK_INT((long long)a.reserved_bytes, 0);
}

/* Many blocks in use freed in an order unrelated to their allocation: every free must find its
 * block in the table (deletions shift probe runs). */
static void test_many_in_use(void) {
    enum { N = 3000 };
    onyx_cuda_arena a;
    arena_start(&a, 0, 1); /* kSameAsRequested: exact sizes */
    static void *ptrs[N];
    for (int i = 0; i < N; i++) ONYX_CHECK_OK(onyx_cuda_arena_alloc(&a, 256 * (size_t)(1 + i % 7), &ptrs[i]));
    ONYX_CHECK_INT((long long)a.n_used, N);
    for (int i = N - 1; i > 0; i--) { /* shuffle */
        int j = (int)(rng_next() % (uint64_t)(i + 1));
        void *t = ptrs[i];
        ptrs[i] = ptrs[j];
        ptrs[j] = t;
    }
    for (int i = 0; i < N; i++) onyx_cuda_arena_free(&a, ptrs[i]);
    ONYX_CHECK_INT((long long)a.n_used, 0);
    ONYX_CHECK_INT((long long)a.in_use_bytes, 0);
    ONYX_CHECK_INT((long long)a.n_cached, N);
    /* all served again from the cache, without the driver */
    uint64_t before = driver_mallocs;
    for (int i = 0; i < N; i++) ONYX_CHECK_OK(onyx_cuda_arena_alloc(&a, 256 * (size_t)(1 + i % 7), &ptrs[i]));
    ONYX_CHECK(driver_mallocs == before);
    onyx_cuda_arena_destroy(&a);
    ONYX_CHECK_INT(driver_count, 0);
}

static void test_limit_and_failures(void) {
    onyx_cuda_arena a;
    arena_start(&a, 1 << 20, 0);
    void *p = NULL, *q = NULL;
    ONYX_CHECK_OK(onyx_cuda_arena_alloc(&a, 800 << 10, &p)); /* a block of 832 KiB (its class) */
    onyx_cuda_arena_free(&a, p);
    /* 300 KiB may not take the cached block (more than twice it), and its class (320 KiB) does
     * not fit beside it under the 1 MiB limit: the cached block goes back to the driver first */
    ONYX_CHECK_OK(onyx_cuda_arena_alloc(&a, 300 << 10, &q));
    ONYX_CHECK_INT((long long)a.n_cached, 0);
    ONYX_CHECK_INT(driver_count, 1);
    ONYX_CHECK_INT((long long)a.reserved_bytes, 320 << 10);
    /* 800 KiB fits neither rounded nor exact beside the 320 KiB in use */
    ONYX_CHECK_ERROR(onyx_cuda_arena_alloc(&a, 800 << 10, &p), ONYX_ERR_OUT_OF_MEMORY, "allocating 819200 bytes");
    ONYX_CHECK(p == NULL);
    ONYX_CHECK_INT(driver_count, 1);
    onyx_cuda_arena_destroy(&a);
    ONYX_CHECK_INT(driver_count, 0);

    /* An injected failure of the driver (a full device): an error, and the next call works. */
    arena_start(&a, 0, 0);
    a.fail_at = 1;
    ONYX_CHECK_ERROR(onyx_cuda_arena_alloc(&a, 1 << 20, &p), ONYX_ERR_OUT_OF_MEMORY, "out of device memory");
    ONYX_CHECK_INT(driver_count, 0);
    ONYX_CHECK_INT((long long)a.n_used, 0);
    ONYX_CHECK_OK(onyx_cuda_arena_alloc(&a, 1 << 20, &p));
    ONYX_CHECK_INT(driver_count, 1);
    onyx_cuda_arena_destroy(&a);
    ONYX_CHECK_INT(driver_count, 0);
}
#endif

int main(void) {
#ifdef ONYX_HAVE_CUDA
    ONYX_TEST_RUN(test_against_model);
    ONYX_TEST_RUN(test_many_in_use);
    ONYX_TEST_RUN(test_limit_and_failures);
    return onyx_test_finish();
#else
    fprintf(stderr, "test_cuda_arena: built without the cuda provider\n");
    return 77;
#endif
}
