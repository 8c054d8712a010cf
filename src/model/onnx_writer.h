/*
 * onnx_writer.h - a small writer of ONNX ModelProto bytes, for the helper graphs the model layer
 * opens as sessions on the decoder's providers (the KV-cache gather, the token chooser). The
 * graphs are written as protobuf by hand (field numbers from onnx.proto3) and opened with
 * onyx_session_create_from_memory, the path every ONNX file takes, so they are planned, placed and
 * run like any model.
 *
 * Usage: onyx_graph_writer_init, then nodes, inputs, outputs and initializers in any order, then
 * onyx_graph_writer_finish for the model bytes. Every call records failures (no memory) in the
 * writer; finish reports them once.
 */
#ifndef ONYX_MODEL_ONNX_WRITER_H
#define ONYX_MODEL_ONNX_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "onyx/onyx.h"

/* A growable protobuf message. */
typedef struct onyx_pb {
    uint8_t *bytes;
    size_t size, capacity;
    int failed;
} onyx_pb;

typedef struct onyx_graph_writer {
    onyx_pb graph; /* GraphProto fields */
} onyx_graph_writer;

/* A node attribute: INT (ints == NULL, n == 0), FLOAT (is_float), or INTS (ints, n). */
typedef struct onyx_node_attr_value {
    const char *name;
    int64_t i;
    float f;
    int is_float;
    const int64_t *ints;
    size_t n;
} onyx_node_attr_value;

#define ONYX_ATTR_INT(name, value) ((onyx_node_attr_value){(name), (value), 0.0f, 0, NULL, 0})
#define ONYX_ATTR_FLOAT(name, value) ((onyx_node_attr_value){(name), 0, (value), 1, NULL, 0})

void onyx_graph_writer_init(onyx_graph_writer *w, const char *graph_name);
void onyx_graph_writer_release(onyx_graph_writer *w);

/* A node op (default domain) from inputs to outputs, both comma-separated value names ("x,k";
 * an empty name between commas is an omitted optional input), with n_attrs attributes. */
void onyx_graph_writer_node(onyx_graph_writer *w, const char *op, const char *inputs, const char *outputs,
                            const onyx_node_attr_value *attrs, size_t n_attrs);
/* A graph input or output: a tensor of dtype with rank symbolic dims (rank < 0: no shape). */
void onyx_graph_writer_input(onyx_graph_writer *w, const char *name, onyx_dtype dtype, int rank);
void onyx_graph_writer_output(onyx_graph_writer *w, const char *name, onyx_dtype dtype, int rank);
/* Initializers: int64 or float32 values of shape dims (rank 0: a scalar holding values[0]). */
void onyx_graph_writer_int64s(onyx_graph_writer *w, const char *name, const int64_t *values, const int64_t *dims,
                              int rank);
void onyx_graph_writer_floats(onyx_graph_writer *w, const char *name, const float *values, const int64_t *dims,
                              int rank);

/* The ModelProto (ir_version 8, producer "onyx", default domain at opset) into *bytes and *size,
 * onyx_malloc'd (caller frees). ONYX_ERR_OUT_OF_MEMORY names what when a call above failed. */
onyx_status onyx_graph_writer_finish(onyx_graph_writer *w, int opset, uint8_t **bytes, size_t *size);

#endif
