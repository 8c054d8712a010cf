/*
 * npy.h - NumPy .npy files (format versions 1.0, 2.0, 3.0; little-endian, C order) to and from
 * host tensors. Used by `onyx run` and the tests.
 */
#ifndef ONYX_CORE_NPY_H
#define ONYX_CORE_NPY_H

#include <stddef.h>

#include "onyx/onyx.h"

/* A new tensor owning its data; errors name the file and what is wrong in the header. */
onyx_status onyx_npy_read_file(const char *path, onyx_tensor **out);
onyx_status onyx_npy_read_memory(const void *data, size_t size, const char *display_name,
                                 onyx_tensor **out);
/* Write t (host, any dtype but STRING) as a version 1.0 .npy file. */
onyx_status onyx_npy_write_file(const char *path, const onyx_tensor *t);

#endif
