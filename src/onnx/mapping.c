/*
 * mapping.c - mapped model files, in-memory copies and external-data files (see mapping.h).
 *
 * External data paths are checked twice: by their text (not absolute, no '..' component) and
 * by where they really lead (realpath of the file must lie inside realpath of the model's
 * folder), so a symlink inside the folder cannot reach files outside it.
 */
#include "onnx/mapping.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/status.h"

onyx_status onyx_mapping_open_file(const char *path, struct onyx_mapping **out) {
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return onyx_error(ONYX_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int err = errno;
        close(fd);
        return onyx_error(ONYX_ERR_IO, "cannot stat '%s': %s", path, strerror(err));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return onyx_error(ONYX_ERR_IO, "'%s' is not a regular file", path);
    }
    if (st.st_size == 0) {
        close(fd);
        return onyx_error(ONYX_ERR_IO, "'%s' is empty (0 bytes)", path);
    }
    if ((uint64_t)st.st_size > SIZE_MAX) {
        close(fd);
        return onyx_error(ONYX_ERR_IO, "'%s' is too large to map", path);
    }
    size_t size = (size_t)st.st_size;
    void *base = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    int err = errno;
    close(fd);
    if (base == MAP_FAILED)
        return onyx_error(ONYX_ERR_IO, "cannot map '%s' (%zu bytes): %s", path, size, strerror(err));
    struct onyx_mapping *m = onyx_calloc(1, sizeof *m);
    if (!m) {
        munmap(base, size);
        return ONYX_ERR_OUT_OF_MEMORY;
    }
    m->mmap_base = base;
    m->data = base;
    m->size = size;
    *out = m;
    return ONYX_OK;
}

onyx_status onyx_mapping_from_memory(const void *data, size_t size, struct onyx_mapping **out) {
    *out = NULL;
    if (!data && size)
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "model bytes are NULL but size is %zu", size);
    struct onyx_mapping *m = onyx_calloc(1, sizeof *m);
    if (!m) return ONYX_ERR_OUT_OF_MEMORY;
    m->copy = onyx_malloc_aligned(size);
    if (!m->copy) {
        onyx_free(m);
        return ONYX_ERR_OUT_OF_MEMORY;
    }
    if (size) memcpy(m->copy, data, size);
    m->data = m->copy;
    m->size = size;
    *out = m;
    return ONYX_OK;
}

void onyx_mapping_destroy(struct onyx_mapping *m) {
    if (!m) return;
    if (m->mmap_base) munmap(m->mmap_base, m->size);
    if (m->copy) onyx_free_aligned(m->copy);
    onyx_free(m->location);
    onyx_free(m->real_path);
    onyx_free(m);
}

/* Reject locations that name anything outside the folder by their text alone. */
static onyx_status check_location_text(const char *location, const char *what) {
    if (!location[0])
        return onyx_error(ONYX_ERR_INVALID_MODEL, "%s: external data location is empty", what);
    if (location[0] == '/' || location[0] == '\\' ||
        (location[0] && location[1] == ':' && (location[2] == '/' || location[2] == '\\')))
        return onyx_error(ONYX_ERR_INVALID_MODEL,
                          "%s: external data location '%s' is an absolute path; it must be "
                          "relative to the model's folder",
                          what, location);
    const char *p = location;
    while (*p) {
        const char *sep = p;
        while (*sep && *sep != '/' && *sep != '\\') sep++;
        if (sep - p == 2 && p[0] == '.' && p[1] == '.')
            return onyx_error(ONYX_ERR_INVALID_MODEL,
                              "%s: external data location '%s' has a '..' component; it must stay "
                              "inside the model's folder",
                              what, location);
        p = *sep ? sep + 1 : sep;
    }
    return ONYX_OK;
}

/* Map location inside model->dir, or return the mapping already made for it. */
static onyx_status external_mapping(onyx_onnx_model *model, const char *location, const char *what,
                                    struct onyx_mapping **out) {
    for (int i = 0; i < model->n_mappings; i++) {
        struct onyx_mapping *m = model->mappings[i];
        if (m->location && strcmp(m->location, location) == 0) {
            *out = m;
            return ONYX_OK;
        }
    }
    ONYX_TRY(check_location_text(location, what));
    const char *dir = model->dir && model->dir[0] ? model->dir : ".";
    size_t dlen = strlen(dir), llen = strlen(location);
    char *joined = onyx_malloc(dlen + llen + 2);
    if (!joined) return ONYX_ERR_OUT_OF_MEMORY;
    memcpy(joined, dir, dlen);
    joined[dlen] = '/';
    memcpy(joined + dlen + 1, location, llen + 1);

    onyx_status st = ONYX_OK;
    char *real_dir = realpath(dir, NULL);
    char *real_file = real_dir ? realpath(joined, NULL) : NULL;
    if (!real_dir) {
        st = onyx_error(ONYX_ERR_IO, "%s: cannot resolve the model folder '%s': %s", what, dir,
                        strerror(errno));
    } else if (!real_file) {
        st = onyx_error(ONYX_ERR_IO, "%s: cannot open external data file '%s': %s", what, joined,
                        strerror(errno));
    } else {
        size_t rlen = strlen(real_dir);
        int inside = strncmp(real_file, real_dir, rlen) == 0 &&
                     (real_file[rlen] == '/' || (rlen == 1 && real_dir[0] == '/'));
        if (!inside)
            st = onyx_error(ONYX_ERR_INVALID_MODEL,
                            "%s: external data location '%s' resolves to '%s', outside the model's "
                            "folder '%s' (symlink escape)",
                            what, location, real_file, real_dir);
    }
    struct onyx_mapping *m = NULL;
    for (int i = 0; st == ONYX_OK && i < model->n_mappings && !m; i++) {
        struct onyx_mapping *cached = model->mappings[i];
        if (cached->real_path && strcmp(cached->real_path, real_file) == 0) m = cached;
    }
    if (m) { /* the same file under another spelling */
        free(real_dir);
        free(real_file);
        onyx_free(joined);
        *out = m;
        return ONYX_OK;
    }
    if (st == ONYX_OK) {
        st = onyx_mapping_open_file(real_file, &m);
        if (st != ONYX_OK) onyx_error_prefix(st, "%s: external data: ", what);
    }
    if (st == ONYX_OK) {
        m->location = onyx_strdup(location);
        m->real_path = onyx_strdup(real_file);
        if (!m->location || !m->real_path) {
            onyx_mapping_destroy(m);
            st = ONYX_ERR_OUT_OF_MEMORY;
        }
    }
    free(real_dir);
    free(real_file);
    onyx_free(joined);
    if (st != ONYX_OK) return st;
    ONYX_TRY(onyx_onnx_model_add_mapping(model, m)); /* destroys m itself on failure */
    *out = m;
    return ONYX_OK;
}

onyx_status onyx_mapping_external(onyx_onnx_model *model, const char *location, uint64_t offset,
                                  uint64_t length, int has_length, const char *what,
                                  const uint8_t **out_data, size_t *out_size) {
    *out_data = NULL;
    *out_size = 0;
    if (!model->dir)
        return onyx_error(ONYX_ERR_INVALID_MODEL,
                          "%s uses external data ('%s') but the model was loaded from memory, so "
                          "there is no folder to read it from",
                          what, location);
    struct onyx_mapping *m;
    ONYX_TRY(external_mapping(model, location, what, &m));
    if (offset > m->size)
        return onyx_error(ONYX_ERR_INVALID_MODEL,
                          "%s: external data offset %llu is past the end of '%s' (%zu bytes)", what,
                          (unsigned long long)offset, location, m->size);
    if (!has_length) length = m->size - offset;
    if (length > UINT64_MAX - offset)
        return onyx_error(ONYX_ERR_INVALID_MODEL,
                          "%s: external data offset %llu + length %llu overflows", what,
                          (unsigned long long)offset, (unsigned long long)length);
    if (offset + length > m->size)
        return onyx_error(ONYX_ERR_INVALID_MODEL,
                          "%s: external data range [%llu, %llu) is past the end of '%s' (%zu bytes)",
                          what, (unsigned long long)offset, (unsigned long long)(offset + length),
                          location, m->size);
    *out_data = m->data + offset;
    *out_size = (size_t)length;
    return ONYX_OK;
}
