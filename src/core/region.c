/*
 * region.c - bump allocator over chunks from onyx_malloc (see region.h).
 */
#include "core/region.h"

#include <string.h>

#include "core/alloc.h"
#include "core/status.h"

struct onyx_region_chunk {
    onyx_region_chunk *next;
    size_t capacity;
    _Alignas(16) unsigned char bytes[];
};

#define REGION_CHUNK_BYTES (64 * 1024)

void onyx_region_init(onyx_region *r) { memset(r, 0, sizeof *r); }

void *onyx_region_alloc(onyx_region *r, size_t bytes) {
    size_t need = (bytes + 15) & ~(size_t)15;
    if (need < bytes) {
        onyx_error(ONYX_ERR_OUT_OF_MEMORY, "out of memory: region allocation of %zu bytes", bytes);
        return NULL;
    }
    if (!r->head || r->capacity - r->used < need) {
        size_t cap = need > REGION_CHUNK_BYTES ? need : REGION_CHUNK_BYTES;
        if (cap > SIZE_MAX - sizeof(onyx_region_chunk)) {
            onyx_error(ONYX_ERR_OUT_OF_MEMORY, "out of memory: region allocation of %zu bytes", bytes);
            return NULL;
        }
        onyx_region_chunk *c = onyx_malloc(sizeof *c + cap);
        if (!c) return NULL;
        c->next = r->head;
        c->capacity = cap;
        r->head = c;
        r->used = 0;
        r->capacity = cap;
    }
    void *p = r->head->bytes + r->used;
    r->used += need;
    memset(p, 0, need);
    return p;
}

void *onyx_region_array(onyx_region *r, size_t count, size_t size) {
    size_t bytes;
    if (onyx_mul_size(count, size, &bytes)) {
        onyx_error(ONYX_ERR_OUT_OF_MEMORY, "out of memory: %zu x %zu bytes overflows", count, size);
        return NULL;
    }
    return onyx_region_alloc(r, bytes);
}

char *onyx_region_strndup(onyx_region *r, const char *s, size_t n) {
    if (n == SIZE_MAX) {
        onyx_error(ONYX_ERR_OUT_OF_MEMORY, "out of memory: string too long");
        return NULL;
    }
    char *p = onyx_region_alloc(r, n + 1);
    if (!p) return NULL;
    if (n) memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *onyx_region_strdup(onyx_region *r, const char *s) { return onyx_region_strndup(r, s, strlen(s)); }

void onyx_region_free(onyx_region *r) {
    onyx_region_chunk *c = r->head;
    while (c) {
        onyx_region_chunk *next = c->next;
        onyx_free(c);
        c = next;
    }
    onyx_region_init(r);
}
