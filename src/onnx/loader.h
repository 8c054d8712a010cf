/*
 * loader.h - reading ONNX files into onyx's IR (src/graph/ir.h) with our own protobuf wire
 * reader (wire.h): no protobuf runtime.
 *
 * The model file is memory-mapped and initializer bytes are referenced in place (copied only
 * when misaligned for their element type or stored in typed fields). External data
 * (`location`/`offset`/`length`) is resolved relative to the model's folder and must stay
 * inside it. Every malformed input yields an ONYX_ERR_INVALID_MODEL (or IO) error naming what
 * is wrong and where (message path and byte offset), never a crash.
 */
#ifndef ONYX_ONNX_LOADER_H
#define ONYX_ONNX_LOADER_H

#include <stddef.h>

#include "graph/ir.h"
#include "onyx/onyx.h"

/* Load and check the model at path; the caller owns *out (onyx_onnx_model_destroy). */
onyx_status onyx_onnx_load_file(const char *path, onyx_onnx_model **out);
/* Load a model held in memory (copied). display_name is used in messages (may be NULL).
 * External data is refused: there is no folder to resolve it against. */
onyx_status onyx_onnx_load_memory(const void *data, size_t size, const char *display_name,
                                  onyx_onnx_model **out);
/* Read one serialized TensorProto file (the backend-test layout's input_K.pb / output_K.pb)
 * into a new host tensor that owns its data. *name_out (may be NULL) receives the tensor's
 * name, onyx_malloc'd ("" when unnamed); free it with onyx_free. */
onyx_status onyx_onnx_read_tensor_file(const char *path, onyx_tensor **out, char **name_out);
/* The same from memory. */
onyx_status onyx_onnx_read_tensor_memory(const void *data, size_t size, onyx_tensor **out,
                                         char **name_out);

#endif
