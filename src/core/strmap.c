/*
 * strmap.c - open addressing with linear probing and FNV-1a hashes (see strmap.h).
 */
#include "core/strmap.h"

#include <stdint.h>
#include <string.h>

#include "core/alloc.h"

static uint64_t strmap_hash(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

void onyx_strmap_init(onyx_strmap *m) { memset(m, 0, sizeof *m); }

void onyx_strmap_free(onyx_strmap *m) {
    onyx_free(m->keys);
    onyx_free(m->values);
    onyx_strmap_init(m);
}

static onyx_status strmap_grow(onyx_strmap *m) {
    size_t cap = m->capacity ? m->capacity * 2 : 64;
    const char **keys = onyx_calloc(cap, sizeof *keys);
    int *values = onyx_calloc(cap, sizeof *values);
    if (!keys || !values) {
        onyx_free(keys);
        onyx_free(values);
        return ONYX_ERR_OUT_OF_MEMORY;
    }
    for (size_t i = 0; i < m->capacity; i++) {
        if (!m->keys[i]) continue;
        size_t j = strmap_hash(m->keys[i]) & (cap - 1);
        while (keys[j]) j = (j + 1) & (cap - 1);
        keys[j] = m->keys[i];
        values[j] = m->values[i];
    }
    onyx_free(m->keys);
    onyx_free(m->values);
    m->keys = keys;
    m->values = values;
    m->capacity = cap;
    return ONYX_OK;
}

onyx_status onyx_strmap_put(onyx_strmap *m, const char *key, int value) {
    if ((m->count + 1) * 2 > m->capacity) {
        onyx_status st = strmap_grow(m);
        if (st != ONYX_OK) return st;
    }
    size_t j = strmap_hash(key) & (m->capacity - 1);
    while (m->keys[j]) {
        if (strcmp(m->keys[j], key) == 0) {
            m->values[j] = value;
            return ONYX_OK;
        }
        j = (j + 1) & (m->capacity - 1);
    }
    m->keys[j] = key;
    m->values[j] = value;
    m->count++;
    return ONYX_OK;
}

int onyx_strmap_get(const onyx_strmap *m, const char *key) {
    if (!m->capacity) return -1;
    size_t j = strmap_hash(key) & (m->capacity - 1);
    while (m->keys[j]) {
        if (strcmp(m->keys[j], key) == 0) return m->values[j];
        j = (j + 1) & (m->capacity - 1);
    }
    return -1;
}
