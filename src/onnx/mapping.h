/*
 * mapping.h - read-only views of model bytes: a memory-mapped file, or a private copy of a
 * caller's buffer; and the resolution of ONNX external data files against the model's folder.
 *
 * Initializer tensors point into these mappings (owns_data = 0), so a mapping lives as long as
 * its model: the model registers it (onyx_onnx_model_add_mapping) and onyx_onnx_model_destroy calls
 * onyx_mapping_destroy. External files are mapped once per model, cached by location.
 * Sizes and offsets are size_t/uint64_t throughout: files above 2 GB are normal.
 */
#ifndef ONYX_ONNX_MAPPING_H
#define ONYX_ONNX_MAPPING_H

#include <stddef.h>
#include <stdint.h>

#include "graph/ir.h"
#include "onyx/onyx.h"

struct onyx_mapping {
    const uint8_t *data; /* size bytes, read-only */
    size_t size;
    void *mmap_base;     /* non-NULL when data is an mmap of a file */
    void *copy;          /* non-NULL when data is an onyx_malloc'd copy */
    char *location;      /* external-data location this mapping was first opened for, or NULL */
    char *real_path;     /* its resolved path (the cache key: "a.bin" and "./a.bin" share one) */
};

/* Map the regular file at path read-only. Empty or unreadable files are ONYX_ERR_IO. */
onyx_status onyx_mapping_open_file(const char *path, struct onyx_mapping **out);
/* A mapping holding a copy of size bytes at data (size 0 allowed). */
onyx_status onyx_mapping_from_memory(const void *data, size_t size, struct onyx_mapping **out);
void onyx_mapping_destroy(struct onyx_mapping *m);

/* The bytes [offset, offset+length) of external file location (relative to model->dir), mapped
 * once per model. has_length 0 means "to the end of the file". Rejects absolute paths, '..'
 * components, symlinks leaving the folder, and ranges outside the file; what names the tensor. */
onyx_status onyx_mapping_external(onyx_onnx_model *model, const char *location, uint64_t offset,
                                  uint64_t length, int has_length, const char *what,
                                  const uint8_t **out_data, size_t *out_size);

#endif
