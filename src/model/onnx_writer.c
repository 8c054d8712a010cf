/*
 * onnx_writer.c - ONNX ModelProto bytes written by hand (see onnx_writer.h). Field numbers are
 * onnx.proto3's: ModelProto ir_version 1, producer_name 2, graph 7, opset_import 8; GraphProto
 * node 1, name 2, initializer 5, input 11, output 12; NodeProto input 1, output 2, name 3,
 * op_type 4, attribute 5; AttributeProto name 1, f 2, i 3, ints 8, type 20; TensorProto dims 1,
 * data_type 2, name 8, raw_data 9; ValueInfoProto name 1, type 2.
 */
#include "model/onnx_writer.h"

#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"

static void pb_raw(onyx_pb *b, const void *data, size_t n) {
    if (b->failed) return;
    if (b->size + n > b->capacity) {
        size_t capacity = b->capacity ? b->capacity : 256;
        while (capacity < b->size + n) capacity *= 2;
        uint8_t *grown = onyx_realloc(b->bytes, capacity);
        if (!grown) {
            b->failed = 1;
            return;
        }
        b->bytes = grown;
        b->capacity = capacity;
    }
    if (n) memcpy(b->bytes + b->size, data, n);
    b->size += n;
}

static void pb_release(onyx_pb *b) {
    onyx_free(b->bytes);
    memset(b, 0, sizeof *b);
}

static void pb_varint(onyx_pb *b, uint64_t v) {
    uint8_t encoded[10];
    size_t n = 0;
    do {
        encoded[n] = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v) encoded[n] |= 0x80;
        n++;
    } while (v);
    pb_raw(b, encoded, n);
}

static void pb_int(onyx_pb *b, int field, int64_t v) {
    pb_varint(b, (uint64_t)field << 3);
    pb_varint(b, (uint64_t)v);
}

static void pb_float(onyx_pb *b, int field, float f) {
    uint8_t le[4];
    uint32_t u;
    memcpy(&u, &f, 4);
    for (int i = 0; i < 4; i++) le[i] = (uint8_t)(u >> (8 * i));
    pb_varint(b, (uint64_t)field << 3 | 5);
    pb_raw(b, le, 4);
}

static void pb_bytes(onyx_pb *b, int field, const void *data, size_t n) {
    pb_varint(b, (uint64_t)field << 3 | 2);
    pb_varint(b, n);
    pb_raw(b, data, n);
}

static void pb_string(onyx_pb *b, int field, const char *s) { pb_bytes(b, field, s, strlen(s)); }

/* Append m as field of b and release m. */
static void pb_message(onyx_pb *b, int field, onyx_pb *m) {
    b->failed |= m->failed;
    pb_bytes(b, field, m->bytes, m->size);
    pb_release(m);
}

/* Each comma-separated name of list as a string field. */
static void pb_names(onyx_pb *b, int field, const char *list) {
    const char *p = list;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        pb_bytes(b, field, p, n);
        if (!comma) break;
        p = comma + 1;
    }
}

void onyx_graph_writer_init(onyx_graph_writer *w, const char *graph_name) {
    memset(w, 0, sizeof *w);
    pb_string(&w->graph, 2, graph_name);
}

void onyx_graph_writer_release(onyx_graph_writer *w) { pb_release(&w->graph); }

void onyx_graph_writer_node(onyx_graph_writer *w, const char *op, const char *inputs, const char *outputs,
                            const onyx_node_attr_value *attrs, size_t n_attrs) {
    onyx_pb node = {0};
    if (inputs && *inputs) pb_names(&node, 1, inputs);
    pb_names(&node, 2, outputs);
    pb_string(&node, 3, outputs); /* the node's name: its outputs */
    pb_string(&node, 4, op);
    for (size_t a = 0; a < n_attrs; a++) {
        onyx_pb attr = {0};
        pb_string(&attr, 1, attrs[a].name);
        if (attrs[a].is_float) {
            pb_float(&attr, 2, attrs[a].f);
            pb_int(&attr, 20, 1); /* AttributeProto.FLOAT */
        } else if (attrs[a].ints) {
            for (size_t k = 0; k < attrs[a].n; k++) pb_int(&attr, 8, attrs[a].ints[k]);
            pb_int(&attr, 20, 7); /* AttributeProto.INTS */
        } else {
            pb_int(&attr, 3, attrs[a].i);
            pb_int(&attr, 20, 2); /* AttributeProto.INT */
        }
        pb_message(&node, 5, &attr);
    }
    pb_message(&w->graph, 1, &node);
}

static void value_info(onyx_graph_writer *w, int field, const char *name, onyx_dtype dtype, int rank) {
    onyx_pb shape = {0}, tensor_type = {0}, type = {0}, info = {0};
    for (int d = 0; d < rank; d++) {
        onyx_pb dim = {0};
        char dim_param[96];
        snprintf(dim_param, sizeof dim_param, "%s_%d", name, d);
        pb_string(&dim, 2, dim_param);
        pb_message(&shape, 1, &dim);
    }
    pb_int(&tensor_type, 1, (int64_t)dtype);
    if (rank >= 0)
        pb_message(&tensor_type, 2, &shape);
    else
        pb_release(&shape);
    pb_message(&type, 1, &tensor_type);
    pb_string(&info, 1, name);
    pb_message(&info, 2, &type);
    pb_message(&w->graph, field, &info);
}

void onyx_graph_writer_input(onyx_graph_writer *w, const char *name, onyx_dtype dtype, int rank) {
    value_info(w, 11, name, dtype, rank);
}

void onyx_graph_writer_output(onyx_graph_writer *w, const char *name, onyx_dtype dtype, int rank) {
    value_info(w, 12, name, dtype, rank);
}

static void initializer(onyx_graph_writer *w, const char *name, onyx_dtype dtype, const void *values, size_t size,
                        const int64_t *dims, int rank) {
    onyx_pb tensor = {0};
    size_t count = 1;
    for (int d = 0; d < rank; d++) {
        pb_int(&tensor, 1, dims[d]);
        count *= (size_t)dims[d];
    }
    pb_int(&tensor, 2, (int64_t)dtype);
    pb_string(&tensor, 8, name);
    /* raw_data is little-endian, as the host is (onyx runs on little-endian machines only) */
    pb_bytes(&tensor, 9, values, count * size);
    pb_message(&w->graph, 5, &tensor);
}

void onyx_graph_writer_int64s(onyx_graph_writer *w, const char *name, const int64_t *values, const int64_t *dims,
                              int rank) {
    initializer(w, name, ONYX_DTYPE_INT64, values, sizeof(int64_t), dims, rank);
}

void onyx_graph_writer_floats(onyx_graph_writer *w, const char *name, const float *values, const int64_t *dims,
                              int rank) {
    initializer(w, name, ONYX_DTYPE_FLOAT32, values, sizeof(float), dims, rank);
}

onyx_status onyx_graph_writer_finish(onyx_graph_writer *w, int opset, uint8_t **bytes, size_t *size) {
    *bytes = NULL;
    *size = 0;
    onyx_pb model = {0}, opset_id = {0};
    pb_int(&model, 1, 8); /* ir_version */
    pb_string(&model, 2, "onyx");
    pb_message(&model, 7, &w->graph);
    pb_string(&opset_id, 1, "");
    pb_int(&opset_id, 2, opset);
    pb_message(&model, 8, &opset_id);
    if (model.failed) {
        pb_release(&model);
        return onyx_error(ONYX_ERR_OUT_OF_MEMORY, "no memory to write a helper ONNX graph");
    }
    *bytes = model.bytes;
    *size = model.size;
    return ONYX_OK;
}
