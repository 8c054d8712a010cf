/*
 * host_cache.c - large host blocks kept for reuse while sessions exist (see host_cache.h).
 */
#include "core/host_cache.h"

#include <malloc.h>
#include <pthread.h>

#include "core/alloc.h"

#define CACHE_MIN_BYTES ((size_t)16 << 10) /* smaller blocks: malloc's heap serves them without new pages */
#define CACHE_MAX_BLOCKS 64
#define CACHE_MAX_BYTES ((size_t)256 << 20)

typedef struct kept_block {
    void *ptr;
    size_t usable;
} kept_block;

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static kept_block kept[CACHE_MAX_BLOCKS];
static int n_kept;
static size_t kept_bytes;
static int holders;

void onyx_host_cache_hold(void) {
    pthread_mutex_lock(&cache_lock);
    holders++;
    pthread_mutex_unlock(&cache_lock);
}

/* Takes every kept block out of the cache (under the lock) into out; returns how many. */
static int take_all(void **out) {
    int n = n_kept;
    for (int i = 0; i < n; i++) out[i] = kept[i].ptr;
    n_kept = 0;
    kept_bytes = 0;
    return n;
}

void onyx_host_cache_drop(void) {
    void *freed[CACHE_MAX_BLOCKS];
    int n = 0;
    pthread_mutex_lock(&cache_lock);
    if (holders > 0) holders--;
    if (holders == 0) n = take_all(freed);
    pthread_mutex_unlock(&cache_lock);
    for (int i = 0; i < n; i++) onyx_free_aligned(freed[i]);
}

void onyx_host_cache_trim(void) {
    void *freed[CACHE_MAX_BLOCKS];
    pthread_mutex_lock(&cache_lock);
    int n = take_all(freed);
    pthread_mutex_unlock(&cache_lock);
    for (int i = 0; i < n; i++) onyx_free_aligned(freed[i]);
}

void *onyx_host_cache_alloc(size_t bytes) {
    if (bytes >= CACHE_MIN_BYTES) {
        void *found = NULL;
        pthread_mutex_lock(&cache_lock);
        int best = -1;
        for (int i = 0; i < n_kept; i++) /* the smallest block that fits, wasting at most half */
            if (kept[i].usable >= bytes && kept[i].usable / 2 <= bytes &&
                (best < 0 || kept[i].usable < kept[best].usable))
                best = i;
        if (best >= 0) {
            found = kept[best].ptr;
            kept_bytes -= kept[best].usable;
            kept[best] = kept[--n_kept];
        }
        pthread_mutex_unlock(&cache_lock);
        if (found) return found;
    }
    return onyx_malloc_aligned(bytes);
}

void onyx_host_cache_free(void *ptr) {
    if (!ptr) return;
    size_t usable = malloc_usable_size(ptr);
    int kept_it = 0;
    if (usable >= CACHE_MIN_BYTES) {
        pthread_mutex_lock(&cache_lock);
        if (holders > 0 && n_kept < CACHE_MAX_BLOCKS && kept_bytes + usable <= CACHE_MAX_BYTES) {
            kept[n_kept].ptr = ptr;
            kept[n_kept++].usable = usable;
            kept_bytes += usable;
            kept_it = 1;
        }
        pthread_mutex_unlock(&cache_lock);
    }
    if (!kept_it) onyx_free_aligned(ptr);
}

void onyx_host_cache_release_tensor(void *ctx, onyx_tensor *t) {
    (void)ctx;
    onyx_host_cache_free(t->data);
    t->data = NULL;
}

size_t onyx_host_cache_blocks(void) {
    pthread_mutex_lock(&cache_lock);
    size_t n = (size_t)n_kept;
    pthread_mutex_unlock(&cache_lock);
    return n;
}
