/*
 * test_onnx_loader.c - the ONNX reader against real files and hostile ones.
 *
 * Real models come from the ONNX backend node tests (/usr/share/libonnx-testdata; skipped when
 * absent). Expected names, types, shapes and values were read with python3-onnx 1.12 while
 * writing this test and are hard-coded here. Hostile and external-data models are built with a
 * tiny protobuf writer at the top of this file (pb_*), so every byte is known.
 */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/tensor.h"
#include "graph/ir.h"
#include "harness.h"
#include "onnx/loader.h"
#include "onnx/mapping.h"

#define NODE_DIR "/usr/share/libonnx-testdata/data/node/"

/* ---- a tiny protobuf writer ---- */

typedef struct pb {
    uint8_t *data;
    size_t size, cap;
} pb;

static void pb_raw(pb *b, const void *p, size_t n) {
    if (b->size + n > b->cap) {
        b->cap = (b->size + n) * 2 + 64;
        b->data = realloc(b->data, b->cap);
        if (!b->data) abort();
    }
    if (n) memcpy(b->data + b->size, p, n);
    b->size += n;
}

static void pb_varint(pb *b, uint64_t v) {
    uint8_t buf[10];
    int n = 0;
    do {
        buf[n] = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v) buf[n] |= 0x80;
        n++;
    } while (v);
    pb_raw(b, buf, (size_t)n);
}

static void pb_tag(pb *b, uint32_t field, int wire_type) {
    pb_varint(b, (uint64_t)field << 3 | (uint64_t)wire_type);
}
static void pb_int(pb *b, uint32_t field, uint64_t v) {
    pb_tag(b, field, 0);
    pb_varint(b, v);
}
static void pb_bytes(pb *b, uint32_t field, const void *p, size_t n) {
    pb_tag(b, field, 2);
    pb_varint(b, n);
    pb_raw(b, p, n);
}
static void pb_str(pb *b, uint32_t field, const char *s) { pb_bytes(b, field, s, strlen(s)); }
static void pb_float(pb *b, uint32_t field, float f) {
    uint32_t bits;
    memcpy(&bits, &f, 4);
    pb_tag(b, field, 5);
    uint8_t le[4] = {(uint8_t)bits, (uint8_t)(bits >> 8), (uint8_t)(bits >> 16), (uint8_t)(bits >> 24)};
    pb_raw(b, le, 4);
}
/* Append m as a sub-message and free m. */
static void pb_msg(pb *b, uint32_t field, pb *m) {
    pb_bytes(b, field, m->data, m->size);
    free(m->data);
    memset(m, 0, sizeof *m);
}

/* ValueInfoProto name: tensor(elem_type)[dims] (rank < 0: no shape). */
static void pb_value_info(pb *graph, uint32_t field, const char *name, int elem_type,
                          const int64_t *dims, int rank) {
    pb vi = {0}, type = {0}, tt = {0}, shape = {0};
    pb_str(&vi, 1, name);
    pb_int(&tt, 1, (uint64_t)elem_type);
    for (int i = 0; i < rank; i++) {
        pb dim = {0};
        pb_int(&dim, 1, (uint64_t)dims[i]);
        pb_msg(&shape, 1, &dim);
    }
    if (rank >= 0) pb_msg(&tt, 2, &shape);
    pb_msg(&type, 1, &tt);
    pb_msg(&vi, 2, &type);
    pb_msg(graph, field, &vi);
}

/* NodeProto with inputs/outputs given as NULL-terminated lists; attrs appended by caller. */
static void pb_node_begin(pb *node, const char *op, const char *name, const char *const *inputs,
                          const char *const *outputs) {
    for (; inputs && *inputs; inputs++) pb_str(node, 1, *inputs);
    for (; outputs && *outputs; outputs++) pb_str(node, 2, *outputs);
    if (name) pb_str(node, 3, name);
    pb_str(node, 4, op);
}

static void pb_simple_node(pb *graph, const char *op, const char *name, const char *in0,
                           const char *in1, const char *out) {
    const char *ins[3] = {in0, in1, NULL};
    const char *outs[2] = {out, NULL};
    pb node = {0};
    pb_node_begin(&node, op, name, ins, outs);
    pb_msg(graph, 1, &node);
}

/* ModelProto around graph (consumed) importing opset 13 of the default domain. */
static pb pb_model(pb *graph) {
    pb model = {0}, opset = {0};
    pb_int(&model, 1, 8);
    pb_str(&model, 2, "onyx-test");
    pb_msg(&model, 7, graph);
    pb_str(&opset, 1, "");
    pb_int(&opset, 2, 13);
    pb_msg(&model, 8, &opset);
    return model;
}

/* TensorProto header fields: name, data_type, dims. */
static void pb_tensor_head(pb *t, const char *name, int data_type, const int64_t *dims, int rank) {
    for (int i = 0; i < rank; i++) pb_int(t, 1, (uint64_t)dims[i]);
    pb_int(t, 2, (uint64_t)data_type);
    pb_str(t, 8, name);
}

static onyx_status load_pb(const pb *b, onyx_onnx_model **out) {
    return onyx_onnx_load_memory(b->data, b->size, "test.onnx", out);
}

static int have_node_tests(void) {
    if (access(NODE_DIR "test_add/model.onnx", R_OK) == 0) return 1;
    onyx_test_skip("libonnx-testdata is not installed");
    return 0;
}

static int write_file(const char *path, const void *data, size_t size) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t n = fwrite(data, 1, size, f);
    return fclose(f) == 0 && n == size ? 0 : -1;
}

static void *read_whole(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    void *p = malloc((size_t)n + 1);
    *size = fread(p, 1, (size_t)n, f);
    fclose(f);
    return p;
}

/* ---- real models ---- */

static void test_add_model(void) {
    if (!have_node_tests()) return;
    onyx_onnx_model *m;
    ONYX_CHECK_OK(onyx_onnx_load_file(NODE_DIR "test_add/model.onnx", &m));
    if (!m) return;
    ONYX_CHECK_INT(m->ir_version, 7);
    ONYX_CHECK(strcmp(m->producer_name, "backend-test") == 0);
    ONYX_CHECK_INT(onyx_onnx_model_opset(m, ""), 14);
    onyx_graph *g = m->graph;
    ONYX_CHECK(strcmp(g->name, "test_add") == 0);
    ONYX_CHECK_INT(g->n_inputs, 2);
    ONYX_CHECK_INT(g->n_outputs, 1);
    ONYX_CHECK_INT(g->n_nodes, 1);
    const char *names[2] = {"x", "y"};
    for (int i = 0; i < 2 && i < g->n_inputs; i++) {
        const onyx_value *v = &g->values[g->inputs[i]];
        ONYX_CHECK(strcmp(v->name, names[i]) == 0);
        ONYX_CHECK_INT(v->kind, ONYX_VALUE_INPUT);
        ONYX_CHECK_INT(v->dtype, ONYX_DTYPE_FLOAT32);
        ONYX_CHECK_INT(v->rank, 3);
        ONYX_CHECK(v->dims[0].value == 3 && v->dims[1].value == 4 && v->dims[2].value == 5);
    }
    const onyx_value *sum = &g->values[g->outputs[0]];
    ONYX_CHECK(strcmp(sum->name, "sum") == 0);
    ONYX_CHECK(sum->is_graph_output);
    ONYX_CHECK_INT(sum->producer, 0);
    const onyx_node *n = &g->nodes[0];
    ONYX_CHECK(strcmp(n->op_type, "Add") == 0);
    ONYX_CHECK_INT(n->opset, 14);
    ONYX_CHECK_INT(n->n_inputs, 2);
    ONYX_CHECK(n->inputs[0] == g->inputs[0] && n->inputs[1] == g->inputs[1]);
    onyx_onnx_model_destroy(m);
}

static void test_if_model(void) {
    if (!have_node_tests()) return;
    onyx_onnx_model *m;
    ONYX_CHECK_OK(onyx_onnx_load_file(NODE_DIR "test_if/model.onnx", &m));
    if (!m) return;
    onyx_graph *g = m->graph;
    ONYX_CHECK_INT(g->n_inputs, 1);
    const onyx_value *cond = &g->values[g->inputs[0]];
    ONYX_CHECK_INT(cond->dtype, ONYX_DTYPE_BOOL);
    ONYX_CHECK_INT(cond->rank, 0);
    const onyx_node *n = &g->nodes[0];
    ONYX_CHECK(strcmp(n->op_type, "If") == 0);
    ONYX_CHECK_INT(n->opset, 11);
    ONYX_CHECK_INT(n->n_attrs, 2);
    const onyx_graph *then_g = onyx_node_attr_graph(n, "then_branch");
    const onyx_graph *else_g = onyx_node_attr_graph(n, "else_branch");
    ONYX_CHECK(then_g && else_g);
    if (!then_g || !else_g) {
        onyx_onnx_model_destroy(m);
        return;
    }
    ONYX_CHECK(then_g->parent == g);
    ONYX_CHECK(strcmp(then_g->name, "then_body") == 0 && strcmp(else_g->name, "else_body") == 0);
    ONYX_CHECK_INT(then_g->n_outputs, 1);
    const onyx_value *out = &then_g->values[then_g->outputs[0]];
    ONYX_CHECK(strcmp(out->name, "then_out") == 0);
    ONYX_CHECK_INT(out->dtype, ONYX_DTYPE_FLOAT32);
    ONYX_CHECK_INT(out->rank, 1);
    ONYX_CHECK_INT(out->dims[0].value, 5);
    const onyx_tensor *then_t = onyx_node_attr_tensor(&then_g->nodes[0], "value");
    const onyx_tensor *else_t = onyx_node_attr_tensor(&else_g->nodes[0], "value");
    const float then_want[5] = {1, 2, 3, 4, 5}, else_want[5] = {5, 4, 3, 2, 1};
    ONYX_CHECK(then_t && else_t && then_t->nbytes == 20 && else_t->nbytes == 20);
    if (then_t && else_t) {
        ONYX_CHECK_FLOATS((const float *)then_t->data, then_want, 5, 0, 0);
        ONYX_CHECK_FLOATS((const float *)else_t->data, else_want, 5, 0, 0);
    }
    ONYX_CHECK_INT(m->n_graphs, 3);
    onyx_onnx_model_destroy(m);
}

static void test_constant_model(void) {
    if (!have_node_tests()) return;
    onyx_onnx_model *m;
    ONYX_CHECK_OK(onyx_onnx_load_file(NODE_DIR "test_constant/model.onnx", &m));
    if (!m) return;
    const onyx_node *n = &m->graph->nodes[0];
    const onyx_attr *a = onyx_node_attr(n, "value");
    ONYX_CHECK(a && a->type == ONYX_ATTR_TENSOR && a->t);
    if (a && a->t) {
        ONYX_CHECK_INT(a->t->dtype, ONYX_DTYPE_FLOAT32);
        ONYX_CHECK_INT(a->t->rank, 2);
        ONYX_CHECK(a->t->dims[0] == 5 && a->t->dims[1] == 5);
        const float want[5] = {1.7640524f, 0.4001572f, 0.978738f, 2.2408931f, 1.867558f};
        ONYX_CHECK_FLOATS((const float *)a->t->data, want, 5, 0, 1e-7);
    }
    ONYX_CHECK_INT(m->graph->n_inputs, 0);
    onyx_onnx_model_destroy(m);
}

static void test_string_model_and_tensor_file(void) {
    if (!have_node_tests()) return;
    const char *dir = NODE_DIR "test_strnormalizer_export_monday_casesensintive_lower/";
    char path[512];
    snprintf(path, sizeof path, "%smodel.onnx", dir);
    onyx_onnx_model *m;
    ONYX_CHECK_OK(onyx_onnx_load_file(path, &m));
    if (m) {
        const onyx_node *n = &m->graph->nodes[0];
        ONYX_CHECK(strcmp(onyx_node_attr_string(n, "case_change_action", ""), "LOWER") == 0);
        ONYX_CHECK_INT(onyx_node_attr_int(n, "is_case_sensitive", -1), 1);
        const onyx_attr *stop = onyx_node_attr(n, "stopwords");
        ONYX_CHECK(stop && stop->type == ONYX_ATTR_STRINGS && stop->count == 1);
        if (stop && stop->count == 1)
            ONYX_CHECK(stop->strings[0].size == 6 && memcmp(stop->strings[0].data, "monday", 6) == 0);
        const onyx_value *x = &m->graph->values[m->graph->inputs[0]];
        ONYX_CHECK_INT(x->dtype, ONYX_DTYPE_STRING);
        ONYX_CHECK(x->rank == 1 && x->dims[0].value == 4);
        onyx_onnx_model_destroy(m);
    }
    snprintf(path, sizeof path, "%stest_data_set_0/input_0.pb", dir);
    onyx_tensor *t;
    char *name;
    ONYX_CHECK_OK(onyx_onnx_read_tensor_file(path, &t, &name));
    if (t) {
        ONYX_CHECK(strcmp(name, "x") == 0);
        ONYX_CHECK_INT(t->dtype, ONYX_DTYPE_STRING);
        ONYX_CHECK(t->rank == 1 && t->dims[0] == 4);
        ONYX_CHECK(t->owns_data);
        const char *want[4] = {"monday", "tuesday", "wednesday", "thursday"};
        const onyx_string *s = t->data;
        for (int i = 0; i < 4; i++)
            ONYX_CHECK(s[i].size == strlen(want[i]) && memcmp(s[i].data, want[i], s[i].size) == 0);
        onyx_tensor_destroy(t);
        onyx_free(name);
    }
    /* a float input of test_add: 60 elements; x[0] read with python3-onnx */
    ONYX_CHECK_OK(onyx_onnx_read_tensor_file(NODE_DIR "test_add/test_data_set_0/input_0.pb", &t, NULL));
    if (t) {
        ONYX_CHECK_INT(t->dtype, ONYX_DTYPE_FLOAT32);
        ONYX_CHECK_INT(onyx_shape_numel(t->dims, t->rank), 60);
        ONYX_CHECK_CLOSE(((const float *)t->data)[0], 1.7640524f, 0, 1e-7);
        onyx_tensor_destroy(t);
    }
}

static void test_non_tensor_types_and_outer_values(void) {
    if (!have_node_tests()) return;
    onyx_onnx_model *m;
    ONYX_CHECK_OK(onyx_onnx_load_file(NODE_DIR "test_identity_sequence/model.onnx", &m));
    if (m) {
        const onyx_value *x = &m->graph->values[m->graph->inputs[0]];
        ONYX_CHECK_INT(x->kind, ONYX_VALUE_INPUT);
        ONYX_CHECK_INT(x->dtype, ONYX_DTYPE_UNDEFINED);
        onyx_onnx_model_destroy(m);
    }
    ONYX_CHECK_OK(onyx_onnx_load_file(NODE_DIR "test_range_float_type_positive_delta_expanded/model.onnx", &m));
    if (m) {
        const onyx_node *loop = NULL;
        for (int i = 0; i < m->graph->n_nodes; i++)
            if (!strcmp(m->graph->nodes[i].op_type, "Loop")) loop = &m->graph->nodes[i];
        const onyx_graph *body = loop ? onyx_node_attr_graph(loop, "body") : NULL;
        ONYX_CHECK(body != NULL);
        if (body) {
            int id = onyx_graph_find_value(body, "delta");
            ONYX_CHECK(id >= 0);
            if (id >= 0) ONYX_CHECK_INT(body->values[id].kind, ONYX_VALUE_OUTER);
            ONYX_CHECK_INT(body->n_inputs, 3);
            ONYX_CHECK_INT(body->values[body->inputs[0]].kind, ONYX_VALUE_INPUT);
        }
        onyx_onnx_model_destroy(m);
    }
    ONYX_CHECK_OK(onyx_onnx_load_file(NODE_DIR "test_adagrad/model.onnx", &m));
    if (m) {
        ONYX_CHECK(strcmp(m->graph->nodes[0].domain, "ai.onnx.preview.training") == 0);
        ONYX_CHECK_INT(m->graph->nodes[0].opset, 1);
        ONYX_CHECK_CLOSE(onyx_node_attr_float(&m->graph->nodes[0], "decay_factor", 0), 0.1, 0, 1e-7);
        onyx_onnx_model_destroy(m);
    }
}

static void test_truncations(void) {
    if (!have_node_tests()) return;
    const char *files[3] = {NODE_DIR "test_if/model.onnx", NODE_DIR "test_add/model.onnx",
                            NODE_DIR "test_constant/model.onnx"};
    for (int f = 0; f < 3; f++) {
        size_t size;
        uint8_t *bytes = read_whole(files[f], &size);
        ONYX_CHECK(bytes != NULL);
        if (!bytes) continue;
        int bad = 0;
        for (size_t n = 0; n < size; n++) {
            onyx_onnx_model *m;
            onyx_status st = onyx_onnx_load_memory(bytes, n, "cut.onnx", &m);
            if (st != ONYX_ERR_INVALID_MODEL || m) {
                if (!bad++)
                    fprintf(stderr, "  %s cut at %zu: %s %s\n", files[f], n, onyx_status_name(st),
                            onyx_last_error());
                onyx_onnx_model_destroy(m);
            }
        }
        ONYX_CHECK_INT(bad, 0);
        onyx_onnx_model *m;
        ONYX_CHECK_OK(onyx_onnx_load_memory(bytes, size, "whole.onnx", &m));
        onyx_onnx_model_destroy(m);
        free(bytes);
    }
}

/* Allocation failure at every step: OUT_OF_MEMORY, nothing leaked, then success. */
static void test_allocation_failures(void) {
    if (!have_node_tests()) return;
    size_t size;
    uint8_t *bytes = read_whole(NODE_DIR "test_if/model.onnx", &size);
    if (!bytes) return;
    int64_t live = onyx_alloc_live();
    int succeeded = 0;
    for (uint64_t n = 1; n < 2000 && !succeeded; n++) {
        onyx_onnx_model *m;
        onyx_alloc_fail_at(n, 1);
        onyx_status st = onyx_onnx_load_memory(bytes, size, "oom.onnx", &m);
        onyx_alloc_fail_at(0, 0);
        if (st == ONYX_OK) {
            succeeded = 1;
            onyx_onnx_model_destroy(m);
        } else if (st != ONYX_ERR_OUT_OF_MEMORY) {
            fprintf(stderr, "  failing allocation %llu gave %s: %s\n", (unsigned long long)n,
                    onyx_status_name(st), onyx_last_error());
            ONYX_CHECK(0);
            break;
        }
        ONYX_CHECK_INT(onyx_alloc_live(), live);
    }
    ONYX_CHECK(succeeded);
    free(bytes);
}

/* ---- handcrafted models ---- */

/* graph: Add(x, w) -> y with x float[2,2] and initializer w. */
static pb graph_add_with_initializer(pb *w_tensor, int declare_w_as_input) {
    pb graph = {0};
    int64_t dims[2] = {2, 2};
    pb_simple_node(&graph, "Add", "add0", "x", "w", "y");
    pb_str(&graph, 2, "g");
    pb_msg(&graph, 5, w_tensor);
    pb_value_info(&graph, 11, "x", 1, dims, 2);
    if (declare_w_as_input) pb_value_info(&graph, 11, "w", 1, dims, 2);
    pb_value_info(&graph, 12, "y", 1, dims, 2);
    return graph;
}

static void test_initializers(void) {
    const float w[4] = {1.5f, -2, 3.25f, 4};
    int64_t dims[2] = {2, 2};
    /* raw_data placed at each alignment: zero-copy when 4-aligned, else an owned copy */
    for (int pad = 0; pad < 4; pad++) {
        pb t = {0};
        char doc[8] = "abcdefg";
        pb_str(&t, 12, doc + pad); /* doc_string of 7 - pad bytes shifts raw_data */
        pb_tensor_head(&t, "w", 1, dims, 2);
        pb_bytes(&t, 9, w, sizeof w);
        pb graph = graph_add_with_initializer(&t, 1);
        pb model = pb_model(&graph);
        onyx_onnx_model *m;
        ONYX_CHECK_OK(load_pb(&model, &m));
        if (m) {
            onyx_graph *g = m->graph;
            int id = onyx_graph_find_value(g, "w");
            ONYX_CHECK(id >= 0);
            const onyx_value *v = &g->values[id];
            ONYX_CHECK_INT(v->kind, ONYX_VALUE_CONSTANT);
            ONYX_CHECK(v->constant != NULL);
            ONYX_CHECK_INT(g->n_inputs, 2);
            ONYX_CHECK(g->n_inputs == 2 && g->inputs[1] == id);
            ONYX_CHECK_INT(g->values[g->inputs[0]].kind, ONYX_VALUE_INPUT);
            if (v->constant) {
                ONYX_CHECK_FLOATS((const float *)v->constant->data, w, 4, 0, 0);
                int aligned = ((uintptr_t)v->constant->data % 4) == 0;
                ONYX_CHECK(aligned);
                const struct onyx_mapping *map = m->mappings[0];
                int inside = (const uint8_t *)v->constant->data >= map->data &&
                             (const uint8_t *)v->constant->data < map->data + map->size;
                ONYX_CHECK_INT(inside, !v->constant->owns_data);
            }
            onyx_onnx_model_destroy(m);
        }
        free(model.data);
    }
    /* typed fields: int64_data (packed), float16 bits in int32_data (unpacked), doubles */
    pb graph = {0};
    pb t = {0};
    int64_t d3[1] = {3};
    pb_tensor_head(&t, "i64", 7, d3, 1);
    pb packed = {0};
    pb_varint(&packed, (uint64_t)(int64_t)-7);
    pb_varint(&packed, 1ull << 40);
    pb_varint(&packed, 0);
    pb_msg(&t, 7, &packed);
    pb_msg(&graph, 5, &t);
    pb_tensor_head(&t, "h", 10, d3, 1);
    pb_int(&t, 5, 0x3c00); /* 1.0 */
    pb_int(&t, 5, 0xc000); /* -2.0 */
    pb_int(&t, 5, 0x7c00); /* inf */
    pb_msg(&graph, 5, &t);
    pb_tensor_head(&t, "d", 11, NULL, 0);
    pb_tag(&t, 10, 1);
    double half = 0.5;
    pb_raw(&t, &half, 8);
    pb_msg(&graph, 5, &t);
    pb_simple_node(&graph, "Identity", NULL, "i64", NULL, "out");
    pb_value_info(&graph, 12, "out", 7, d3, 1);
    pb model = pb_model(&graph);
    onyx_onnx_model *m;
    ONYX_CHECK_OK(load_pb(&model, &m));
    if (m) {
        onyx_graph *g = m->graph;
        const onyx_tensor *ti = g->values[onyx_graph_find_value(g, "i64")].constant;
        ONYX_CHECK(ti->owns_data && ti->dtype == ONYX_DTYPE_INT64);
        ONYX_CHECK_INT(((const int64_t *)ti->data)[0], -7);
        ONYX_CHECK_INT(((const int64_t *)ti->data)[1], 1ll << 40);
        const onyx_tensor *th = g->values[onyx_graph_find_value(g, "h")].constant;
        ONYX_CHECK_INT(((const uint16_t *)th->data)[1], 0xc000);
        ONYX_CHECK_INT(((const uint16_t *)th->data)[2], 0x7c00);
        const onyx_tensor *td = g->values[onyx_graph_find_value(g, "d")].constant;
        ONYX_CHECK(td->rank == 0 && ((const double *)td->data)[0] == 0.5);
        ONYX_CHECK_INT(g->n_inputs, 0);
        onyx_onnx_model_destroy(m);
    }
    free(model.data);
}

static void test_attributes(void) {
    pb graph = {0}, node = {0}, attr = {0};
    const char *ins[2] = {"x", NULL}, *outs[2] = {"y", NULL};
    pb_node_begin(&node, "Custom", "n0", ins, outs);
    /* no type field (old files): kinds are inferred from the field that is set */
    pb_str(&attr, 1, "axis");
    pb_int(&attr, 3, (uint64_t)(int64_t)-1);
    pb_msg(&node, 5, &attr);
    pb_str(&attr, 1, "alpha");
    pb_float(&attr, 2, 0.25f);
    pb_msg(&node, 5, &attr);
    /* ints packed then unpacked, with type */
    pb_str(&attr, 1, "perm");
    pb packed = {0};
    pb_varint(&packed, 2);
    pb_varint(&packed, 0);
    pb_msg(&attr, 8, &packed);
    pb_int(&attr, 8, 1);
    pb_int(&attr, 20, 7);
    pb_msg(&node, 5, &attr);
    /* floats unpacked */
    pb_str(&attr, 1, "scales");
    pb_float(&attr, 7, 1.0f);
    pb_float(&attr, 7, -3.5f);
    pb_msg(&node, 5, &attr);
    pb_str(&attr, 1, "mode");
    pb_str(&attr, 4, "linear");
    pb_int(&attr, 20, 3);
    pb_msg(&node, 5, &attr);
    pb_msg(&graph, 1, &node);
    int64_t d1[1] = {4};
    pb_value_info(&graph, 11, "x", 1, d1, 1);
    pb_value_info(&graph, 12, "y", 1, NULL, -1);
    pb model = pb_model(&graph);
    onyx_onnx_model *m;
    ONYX_CHECK_OK(load_pb(&model, &m));
    if (m) {
        const onyx_node *n = &m->graph->nodes[0];
        ONYX_CHECK_INT(onyx_node_attr(n, "axis")->type, ONYX_ATTR_INT);
        ONYX_CHECK_INT(onyx_node_attr_int(n, "axis", 0), -1);
        ONYX_CHECK_INT(onyx_node_attr(n, "alpha")->type, ONYX_ATTR_FLOAT);
        ONYX_CHECK_CLOSE(onyx_node_attr_float(n, "alpha", 0), 0.25, 0, 0);
        size_t count = 0;
        const int64_t *perm = onyx_node_attr_ints(n, "perm", &count);
        ONYX_CHECK_INT(count, 3);
        if (perm && count == 3) ONYX_CHECK(perm[0] == 2 && perm[1] == 0 && perm[2] == 1);
        const float *scales = onyx_node_attr_floats(n, "scales", &count);
        ONYX_CHECK_INT(count, 2);
        if (scales && count == 2) ONYX_CHECK(scales[0] == 1.0f && scales[1] == -3.5f);
        ONYX_CHECK(strcmp(onyx_node_attr_string(n, "mode", ""), "linear") == 0);
        const onyx_value *y = &m->graph->values[m->graph->outputs[0]];
        ONYX_CHECK_INT(y->rank, -1);
        onyx_onnx_model_destroy(m);
    }
    free(model.data);
}

/* A graph with no nodes whose output is its input is valid ONNX. */
static void test_empty_graph(void) {
    pb graph = {0};
    int64_t d1[1] = {3};
    pb_value_info(&graph, 11, "x", 1, d1, 1);
    pb_value_info(&graph, 12, "x", 1, d1, 1);
    pb model = pb_model(&graph);
    onyx_onnx_model *m;
    ONYX_CHECK_OK(load_pb(&model, &m));
    if (m) {
        ONYX_CHECK_INT(m->graph->n_nodes, 0);
        ONYX_CHECK(m->graph->n_inputs == 1 && m->graph->n_outputs == 1 &&
                   m->graph->inputs[0] == m->graph->outputs[0]);
        ONYX_CHECK(m->graph->values[m->graph->outputs[0]].is_graph_output);
        onyx_onnx_model_destroy(m);
    }
    free(model.data);
}

/* Load bytes and expect status with text in the message. */
#define CHECK_LOAD_FAILS(bytes_pb, status, text)                                                  \
    do {                                                                                          \
        onyx_onnx_model *m_ = NULL;                                                                    \
        ONYX_CHECK_ERROR(load_pb(&(bytes_pb), &m_), status, text);                                \
        ONYX_CHECK(m_ == NULL);                                                                   \
        onyx_onnx_model_destroy(m_);                                                                   \
        free((bytes_pb).data);                                                                    \
        memset(&(bytes_pb), 0, sizeof(bytes_pb));                                                 \
    } while (0)

static void test_hostile_bytes(void) {
    pb b = {0};
    /* bad varint: 11 continuation bytes */
    pb_tag(&b, 1, 0);
    for (int i = 0; i < 11; i++) pb_raw(&b, "\xff", 1);
    CHECK_LOAD_FAILS(b, ONYX_ERR_INVALID_MODEL, "varint at byte 1");
    /* length past the end */
    pb_tag(&b, 7, 2);
    pb_varint(&b, 100);
    pb_raw(&b, "abc", 3);
    CHECK_LOAD_FAILS(b, ONYX_ERR_INVALID_MODEL, "length 100 runs past the end");
    /* wrong wire type for a field */
    pb_str(&b, 1, "seven");
    CHECK_LOAD_FAILS(b, ONYX_ERR_INVALID_MODEL, "ModelProto.ir_version (field 1) at byte 0 has wire type length-delimited, expected varint");
    /* groups */
    pb_tag(&b, 20, 3);
    CHECK_LOAD_FAILS(b, ONYX_ERR_INVALID_MODEL, "groups are not supported");
    pb_tag(&b, 20, 7);
    CHECK_LOAD_FAILS(b, ONYX_ERR_INVALID_MODEL, "invalid wire type 7");
    /* no graph */
    pb_int(&b, 1, 8);
    CHECK_LOAD_FAILS(b, ONYX_ERR_INVALID_MODEL, "no graph");

    int64_t d2[2] = {2, 2};
    /* unknown dtype code in an initializer */
    pb t = {0};
    pb_tensor_head(&t, "w", 99, d2, 2);
    pb graph = graph_add_with_initializer(&t, 0);
    b = pb_model(&graph);
    CHECK_LOAD_FAILS(b, ONYX_ERR_INVALID_MODEL, "graph.initializer[0] (byte");
    pb_tensor_head(&t, "w", 99, d2, 2);
    graph = graph_add_with_initializer(&t, 0);
    b = pb_model(&graph);
    CHECK_LOAD_FAILS(b, ONYX_ERR_INVALID_MODEL, "tensor 'w' has unknown data_type code 99");
    /* element count != product of dims */
    pb_tensor_head(&t, "w", 1, d2, 2);
    pb_bytes(&t, 9, "\0\0\0\0\0\0\0\0", 8);
    graph = graph_add_with_initializer(&t, 0);
    b = pb_model(&graph);
    CHECK_LOAD_FAILS(b, ONYX_ERR_INVALID_MODEL, "tensor 'w' has 8 bytes of raw_data but float32[2,2] needs 16");
    pb_tensor_head(&t, "w", 7, d2, 2);
    pb_int(&t, 7, 1);
    graph = graph_add_with_initializer(&t, 0);
    b = pb_model(&graph);
    CHECK_LOAD_FAILS(b, ONYX_ERR_INVALID_MODEL, "tensor 'w' has 1 values in int64_data but its dims [2,2] need 4");
    /* wrong wire type deep inside: dims as a 32-bit field; the path names it */
    pb_tensor_head(&t, "w", 1, NULL, 0);
    pb_float(&t, 1, 2.0f);
    graph = graph_add_with_initializer(&t, 0);
    b = pb_model(&graph);
    CHECK_LOAD_FAILS(b, ONYX_ERR_INVALID_MODEL, "graph.initializer[0].dims");

    /* dangling name */
    graph = (pb){0};
    pb_simple_node(&graph, "Relu", "r", "nowhere", NULL, "y");
    pb_value_info(&graph, 12, "y", 1, NULL, -1);
    b = pb_model(&graph);
    CHECK_LOAD_FAILS(b, ONYX_ERR_INVALID_MODEL, "'nowhere'");
    /* a cycle between two nodes */
    graph = (pb){0};
    pb_simple_node(&graph, "Relu", "first", "b", NULL, "a");
    pb_simple_node(&graph, "Relu", "second", "a", NULL, "b");
    pb_value_info(&graph, 12, "a", 1, NULL, -1);
    b = pb_model(&graph);
    CHECK_LOAD_FAILS(b, ONYX_ERR_INVALID_MODEL, "cycle");
    /* duplicate output name */
    graph = (pb){0};
    pb_value_info(&graph, 11, "x", 1, NULL, -1);
    pb_simple_node(&graph, "Relu", "first", "x", NULL, "y");
    pb_simple_node(&graph, "Neg", "second", "x", NULL, "y");
    pb_value_info(&graph, 12, "y", 1, NULL, -1);
    b = pb_model(&graph);
    CHECK_LOAD_FAILS(b, ONYX_ERR_INVALID_MODEL, "'y' is defined twice: by node 'first' (Relu) and by node 'second' (Neg)");
    /* a node writing a graph input */
    graph = (pb){0};
    pb_value_info(&graph, 11, "x", 1, NULL, -1);
    pb_simple_node(&graph, "Relu", "r", "x", NULL, "x");
    b = pb_model(&graph);
    CHECK_LOAD_FAILS(b, ONYX_ERR_INVALID_MODEL, "already a graph input");
    /* an input declared twice, and an initializer declared as input twice */
    graph = (pb){0};
    pb_value_info(&graph, 11, "x", 1, NULL, -1);
    pb_value_info(&graph, 11, "x", 1, NULL, -1);
    pb_simple_node(&graph, "Relu", "r", "x", NULL, "y");
    b = pb_model(&graph);
    CHECK_LOAD_FAILS(b, ONYX_ERR_INVALID_MODEL, "graph.input[1] (byte");
    pb_tensor_head(&t, "w", 1, d2, 2);
    pb_bytes(&t, 9, "0123456789abcdef", 16);
    graph = graph_add_with_initializer(&t, 1);
    pb_value_info(&graph, 11, "w", 1, d2, 2);
    b = pb_model(&graph);
    CHECK_LOAD_FAILS(b, ONYX_ERR_INVALID_MODEL, "graph input 'w' is declared twice");
    /* a domain the model does not import */
    graph = (pb){0};
    pb_value_info(&graph, 11, "x", 1, NULL, -1);
    pb node = {0};
    const char *ins[2] = {"x", NULL}, *outs[2] = {"y", NULL};
    pb_node_begin(&node, "FusedGelu", "g0", ins, outs);
    pb_str(&node, 7, "com.microsoft");
    pb_msg(&graph, 1, &node);
    b = pb_model(&graph);
    CHECK_LOAD_FAILS(b, ONYX_ERR_INVALID_MODEL, "domain 'com.microsoft'");
    /* sparse initializers and functions are refused by name */
    graph = (pb){0};
    pb sparse = {0};
    pb_int(&sparse, 3, 1);
    pb_msg(&graph, 15, &sparse);
    b = pb_model(&graph);
    CHECK_LOAD_FAILS(b, ONYX_ERR_NOT_IMPLEMENTED, "sparse_initializer");
    graph = (pb){0};
    b = pb_model(&graph);
    pb fn = {0};
    pb_str(&fn, 1, "MyGelu");
    pb_msg(&b, 25, &fn);
    CHECK_LOAD_FAILS(b, ONYX_ERR_NOT_IMPLEMENTED, "'MyGelu'");
    /* a subgraph using a name nothing defines */
    pb sub = {0};
    pb_simple_node(&sub, "Identity", "inner", "ghost", NULL, "out");
    pb_value_info(&sub, 12, "out", 1, NULL, -1);
    pb attr = {0};
    pb_str(&attr, 1, "then_branch");
    pb_msg(&attr, 6, &sub);
    pb_int(&attr, 20, 5);
    graph = (pb){0};
    pb_value_info(&graph, 11, "c", 9, NULL, 0);
    const char *if_in[2] = {"c", NULL}, *if_out[2] = {"r", NULL};
    pb_node_begin(&node, "If", "if0", if_in, if_out);
    pb_msg(&node, 5, &attr);
    pb_msg(&graph, 1, &node);
    pb_value_info(&graph, 12, "r", 1, NULL, -1);
    b = pb_model(&graph);
    CHECK_LOAD_FAILS(b, ONYX_ERR_INVALID_MODEL, "node 'inner' (Identity) uses 'ghost' which no node, input or initializer defines");
    /* ... and the same subgraph is fine when the outer graph defines 'ghost' */
    sub = (pb){0};
    pb_simple_node(&sub, "Identity", "inner", "ghost", NULL, "out");
    pb_value_info(&sub, 12, "out", 1, NULL, -1);
    pb_str(&attr, 1, "then_branch");
    pb_msg(&attr, 6, &sub);
    graph = (pb){0};
    pb_value_info(&graph, 11, "c", 9, NULL, 0);
    pb_value_info(&graph, 11, "ghost", 1, NULL, -1);
    pb_node_begin(&node, "If", "if0", if_in, if_out);
    pb_msg(&node, 5, &attr);
    pb_msg(&graph, 1, &node);
    pb_value_info(&graph, 12, "r", 1, NULL, -1);
    b = pb_model(&graph);
    onyx_onnx_model *m;
    ONYX_CHECK_OK(load_pb(&b, &m));
    if (m) {
        const onyx_graph *then_g = onyx_node_attr_graph(&m->graph->nodes[0], "then_branch");
        ONYX_CHECK(then_g && then_g->values[onyx_graph_find_value(then_g, "ghost")].kind == ONYX_VALUE_OUTER);
        onyx_onnx_model_destroy(m);
    }
    free(b.data);
}

/* ---- external data ---- */

static pb external_model(const char *location, const char *offset, const char *length) {
    pb t = {0}, entry = {0};
    int64_t dims[1] = {4};
    pb_tensor_head(&t, "w", 1, dims, 1);
    pb_str(&entry, 1, "location");
    pb_str(&entry, 2, location);
    pb_msg(&t, 13, &entry);
    if (offset) {
        pb_str(&entry, 1, "offset");
        pb_str(&entry, 2, offset);
        pb_msg(&t, 13, &entry);
    }
    if (length) {
        pb_str(&entry, 1, "length");
        pb_str(&entry, 2, length);
        pb_msg(&t, 13, &entry);
    }
    pb_int(&t, 14, 1);
    pb graph = {0};
    int64_t d4[1] = {4};
    pb_value_info(&graph, 11, "x", 1, d4, 1);
    pb_simple_node(&graph, "Add", "add0", "x", "w", "y");
    pb_msg(&graph, 5, &t);
    pb_value_info(&graph, 12, "y", 1, d4, 1);
    return pb_model(&graph);
}

static onyx_status load_external(const char *dir, const char *location, const char *offset,
                                 const char *length, onyx_onnx_model **out) {
    pb b = external_model(location, offset, length);
    char path[512];
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    onyx_status st = write_file(path, b.data, b.size) ? ONYX_ERR_IO : onyx_onnx_load_file(path, out);
    free(b.data);
    return st;
}

static void test_external_data(void) {
    char dir[] = "/tmp/onyx_ext_XXXXXX", outside[] = "/tmp/onyx_out_XXXXXX";
    if (!mkdtemp(dir) || !mkdtemp(outside)) {
        ONYX_CHECK(0);
        return;
    }
    float weights[8] = {0, 1, 2, 3, 10.5f, -11, 12, 13};
    char path[512], secret[512], link[512];
    snprintf(path, sizeof path, "%s/weights.bin", dir);
    snprintf(secret, sizeof secret, "%s/secret.bin", outside);
    snprintf(link, sizeof link, "%s/link.bin", dir);
    ONYX_CHECK(write_file(path, weights, sizeof weights) == 0);
    ONYX_CHECK(write_file(secret, weights, sizeof weights) == 0);
    ONYX_CHECK(symlink(secret, link) == 0);

    onyx_onnx_model *m;
    ONYX_CHECK_OK(load_external(dir, "weights.bin", "16", "16", &m));
    if (m) {
        const onyx_value *w = &m->graph->values[onyx_graph_find_value(m->graph, "w")];
        ONYX_CHECK(w->constant && w->constant->nbytes == 16);
        if (w->constant) ONYX_CHECK_FLOATS((const float *)w->constant->data, weights + 4, 4, 0, 0);
        ONYX_CHECK_INT(m->n_mappings, 2);
        onyx_onnx_model_destroy(m);
    }
    /* no length: to the end of the file */
    ONYX_CHECK_OK(load_external(dir, "./weights.bin", "16", NULL, &m));
    onyx_onnx_model_destroy(m);
    /* two tensors in one file, spelled two ways: the file is mapped once */
    {
        pb graph = {0}, t = {0}, entry = {0};
        int64_t d4[1] = {4};
        const char *locations[2] = {"weights.bin", "./weights.bin"}, *names[2] = {"a", "b"};
        const char *offsets[2] = {"0", "16"};
        for (int i = 0; i < 2; i++) {
            pb_tensor_head(&t, names[i], 1, d4, 1);
            pb_str(&entry, 1, "location");
            pb_str(&entry, 2, locations[i]);
            pb_msg(&t, 13, &entry);
            pb_str(&entry, 1, "offset");
            pb_str(&entry, 2, offsets[i]);
            pb_msg(&t, 13, &entry);
            pb_str(&entry, 1, "length");
            pb_str(&entry, 2, "16");
            pb_msg(&t, 13, &entry);
            pb_int(&t, 14, 1);
            pb_msg(&graph, 5, &t);
        }
        pb_simple_node(&graph, "Add", "add0", "a", "b", "y");
        pb_value_info(&graph, 12, "y", 1, d4, 1);
        pb b = pb_model(&graph);
        char model_path[512];
        snprintf(model_path, sizeof model_path, "%s/model.onnx", dir);
        ONYX_CHECK(write_file(model_path, b.data, b.size) == 0);
        free(b.data);
        ONYX_CHECK_OK(onyx_onnx_load_file(model_path, &m));
        if (m) {
            ONYX_CHECK_INT(m->n_mappings, 2);
            const onyx_tensor *a = m->graph->values[onyx_graph_find_value(m->graph, "a")].constant;
            const onyx_tensor *bt = m->graph->values[onyx_graph_find_value(m->graph, "b")].constant;
            ONYX_CHECK_FLOATS((const float *)a->data, weights, 4, 0, 0);
            ONYX_CHECK_FLOATS((const float *)bt->data, weights + 4, 4, 0, 0);
            onyx_onnx_model_destroy(m);
        }
    }

    ONYX_CHECK_ERROR(load_external(dir, secret, NULL, NULL, &m), ONYX_ERR_INVALID_MODEL, "is an absolute path");
    ONYX_CHECK(m == NULL);
    ONYX_CHECK_ERROR(load_external(dir, "../weights.bin", NULL, NULL, &m), ONYX_ERR_INVALID_MODEL, "'..' component");
    ONYX_CHECK_ERROR(load_external(dir, "sub/../../x.bin", NULL, NULL, &m), ONYX_ERR_INVALID_MODEL, "'..' component");
    ONYX_CHECK_ERROR(load_external(dir, "link.bin", NULL, "16", &m), ONYX_ERR_INVALID_MODEL, "outside the model's folder");
    ONYX_CHECK_ERROR(load_external(dir, "weights.bin", "24", "16", &m), ONYX_ERR_INVALID_MODEL, "[24, 40) is past the end of 'weights.bin' (32 bytes)");
    ONYX_CHECK_ERROR(load_external(dir, "weights.bin", "64", "16", &m), ONYX_ERR_INVALID_MODEL, "offset 64 is past the end");
    ONYX_CHECK_ERROR(load_external(dir, "weights.bin", "8", "18446744073709551615", &m), ONYX_ERR_INVALID_MODEL, "overflows");
    ONYX_CHECK_ERROR(load_external(dir, "weights.bin", "99999999999999999999", "16", &m), ONYX_ERR_INVALID_MODEL, "fits in 64 bits");
    ONYX_CHECK_ERROR(load_external(dir, "weights.bin", "0", "12", &m), ONYX_ERR_INVALID_MODEL, "12 bytes of external data but float32[4] needs 16");
    ONYX_CHECK_ERROR(load_external(dir, "missing.bin", NULL, NULL, &m), ONYX_ERR_IO, "missing.bin");
    /* offsets past 2^31 and 2^32 (a sparse file of 5 GB): sizes are never ints */
    snprintf(path, sizeof path, "%s/big.bin", dir);
    int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0600);
    ONYX_CHECK(fd >= 0);
    if (fd >= 0) {
        int64_t where = 5000000000ll;
        int written = pwrite(fd, weights + 4, 16, (off_t)where) == 16;
        close(fd);
        ONYX_CHECK(written);
        if (written) {
            ONYX_CHECK_OK(load_external(dir, "big.bin", "5000000000", "16", &m));
            if (m) {
                const onyx_value *w = &m->graph->values[onyx_graph_find_value(m->graph, "w")];
                ONYX_CHECK_FLOATS((const float *)w->constant->data, weights + 4, 4, 0, 0);
                onyx_onnx_model_destroy(m);
            }
            ONYX_CHECK_ERROR(load_external(dir, "big.bin", "5000000008", "16", &m),
                             ONYX_ERR_INVALID_MODEL, "[5000000008, 5000000024) is past the end");
        }
        unlink(path);
    }
    /* in-memory models have no folder */
    pb b = external_model("weights.bin", NULL, NULL);
    ONYX_CHECK_ERROR(load_pb(&b, &m), ONYX_ERR_INVALID_MODEL, "loaded from memory");
    free(b.data);
    /* empty model file */
    ONYX_CHECK(write_file(path, "", 0) == 0);
    ONYX_CHECK_ERROR(onyx_onnx_load_file(path, &m), ONYX_ERR_IO, "is empty");
    unlink(path); /* else the folder is not empty and stays behind in /tmp */

    snprintf(path, sizeof path, "%s/model.onnx", dir);
    unlink(path);
    unlink(link);
    snprintf(path, sizeof path, "%s/weights.bin", dir);
    unlink(path);
    unlink(secret);
    rmdir(dir);
    rmdir(outside);
}

static void test_tensor_proto_errors(void) {
    onyx_tensor *t;
    pb b = {0};
    int64_t d2[2] = {2, 3};
    pb_tensor_head(&b, "s", 8, d2, 2);
    for (int i = 0; i < 6; i++) pb_str(&b, 6, i % 2 ? "odd" : "");
    char *name;
    ONYX_CHECK_OK(onyx_onnx_read_tensor_memory(b.data, b.size, &t, &name));
    if (t) {
        const onyx_string *s = t->data;
        ONYX_CHECK(s[1].size == 3 && memcmp(s[1].data, "odd", 3) == 0 && s[0].size == 0);
        ONYX_CHECK(strcmp(name, "s") == 0);
        onyx_tensor_destroy(t);
        onyx_free(name);
    }
    free(b.data);
    b = (pb){0};
    pb_tensor_head(&b, "seg", 1, NULL, 0);
    pb_bytes(&b, 3, "\x08\x01", 2);
    ONYX_CHECK_ERROR(onyx_onnx_read_tensor_memory(b.data, b.size, &t, NULL), ONYX_ERR_NOT_IMPLEMENTED, "segment");
    free(b.data);
    b = (pb){0};
    pb_tensor_head(&b, "neg", 1, NULL, 0);
    pb_int(&b, 1, (uint64_t)(int64_t)-2);
    ONYX_CHECK_ERROR(onyx_onnx_read_tensor_memory(b.data, b.size, &t, NULL), ONYX_ERR_INVALID_MODEL, "negative dim -2");
    free(b.data);
    ONYX_CHECK_ERROR(onyx_onnx_read_tensor_memory("", 0, &t, NULL), ONYX_ERR_INVALID_MODEL, "no data_type");
}

int main(void) {
    int64_t live = onyx_alloc_live();
    ONYX_TEST_RUN(test_add_model);
    ONYX_TEST_RUN(test_if_model);
    ONYX_TEST_RUN(test_constant_model);
    ONYX_TEST_RUN(test_string_model_and_tensor_file);
    ONYX_TEST_RUN(test_non_tensor_types_and_outer_values);
    ONYX_TEST_RUN(test_truncations);
    ONYX_TEST_RUN(test_allocation_failures);
    ONYX_TEST_RUN(test_initializers);
    ONYX_TEST_RUN(test_attributes);
    ONYX_TEST_RUN(test_empty_graph);
    ONYX_TEST_RUN(test_hostile_bytes);
    ONYX_TEST_RUN(test_external_data);
    ONYX_TEST_RUN(test_tensor_proto_errors);
    ONYX_CHECK_INT(onyx_alloc_live(), live);
    return onyx_test_finish();
}
