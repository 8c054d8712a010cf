/*
 * strmap.h - a hash map from NUL-terminated strings to ints (value names to value ids).
 * Keys are borrowed: they must outlive the map (they live in the model's region).
 */
#ifndef ONYX_CORE_STRMAP_H
#define ONYX_CORE_STRMAP_H

#include <stddef.h>

#include "onyx/onyx.h"

typedef struct onyx_strmap {
    const char **keys;
    int *values;
    size_t capacity; /* power of two, or 0 */
    size_t count;
} onyx_strmap;

void onyx_strmap_init(onyx_strmap *m);
void onyx_strmap_free(onyx_strmap *m);
/* Insert or replace. */
onyx_status onyx_strmap_put(onyx_strmap *m, const char *key, int value);
/* The value, or -1 when absent. */
int onyx_strmap_get(const onyx_strmap *m, const char *key);

#endif
