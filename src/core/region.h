/*
 * region.h - a bump allocator: many small allocations freed together (model IR, names).
 */
#ifndef ONYX_CORE_REGION_H
#define ONYX_CORE_REGION_H

#include <stddef.h>

typedef struct onyx_region_chunk onyx_region_chunk;

typedef struct onyx_region {
    onyx_region_chunk *head;
    size_t used; /* bytes used in head */
    size_t capacity; /* bytes in head */
} onyx_region;

void onyx_region_init(onyx_region *r);
/* 16-byte aligned, zero-filled memory valid until onyx_region_free; NULL on out-of-memory
 * (message set). */
void *onyx_region_alloc(onyx_region *r, size_t bytes);
/* Array of count elements of size bytes, overflow-checked. */
void *onyx_region_array(onyx_region *r, size_t count, size_t size);
/* NUL-terminated copy of n bytes. */
char *onyx_region_strndup(onyx_region *r, const char *s, size_t n);
char *onyx_region_strdup(onyx_region *r, const char *s);
void onyx_region_free(onyx_region *r);

#endif
