/*
 * ir.h - onyx's graph IR: values (tensors flowing between nodes), nodes, attributes, graphs and
 * the model that owns them.
 *
 * The ONNX reader (src/onnx) builds this IR straight from the mapped file; passes
 * (src/graph/passes.c) rewrite it; the runtime (src/runtime) executes it. Values are addressed
 * by index (int id) inside their graph, never by pointer, so arrays can grow. A node input or
 * output of -1 is an absent optional one ("" in ONNX).
 *
 * Memory: names, attribute payloads and other load-time data come from the model's region (a
 * bump allocator freed all at once). Initializer tensors either view the mapped file (owns_data
 * = 0) or own an aligned copy when the bytes were misaligned or stored in typed fields.
 * Subgraphs (the branches of If) are graphs whose parent is the enclosing graph; a value used in
 * a subgraph but defined outside it has kind ONYX_VALUE_OUTER and is resolved by name at run time.
 */
#ifndef ONYX_GRAPH_IR_H
#define ONYX_GRAPH_IR_H

#include <stddef.h>
#include <stdint.h>

#include "core/region.h"
#include "core/strmap.h"
#include "core/tensor.h"
#include "onyx/onyx.h"

/* AttributeProto.AttributeType codes. */
typedef enum onyx_attr_type {
    ONYX_ATTR_UNDEFINED = 0,
    ONYX_ATTR_FLOAT = 1,
    ONYX_ATTR_INT = 2,
    ONYX_ATTR_STRING = 3,
    ONYX_ATTR_TENSOR = 4,
    ONYX_ATTR_GRAPH = 5,
    ONYX_ATTR_FLOATS = 6,
    ONYX_ATTR_INTS = 7,
    ONYX_ATTR_STRINGS = 8,
    ONYX_ATTR_TENSORS = 9,
    ONYX_ATTR_GRAPHS = 10,
    ONYX_ATTR_SPARSE_TENSOR = 11,
    ONYX_ATTR_SPARSE_TENSORS = 12,
    ONYX_ATTR_TYPE_PROTO = 13,
    ONYX_ATTR_TYPE_PROTOS = 14
} onyx_attr_type;

struct onyx_graph;

typedef struct onyx_attr {
    const char *name;
    onyx_attr_type type;
    float f;
    int64_t i;
    const char *s; /* NUL-terminated copy; s_len excludes the NUL (bytes may contain NUL) */
    size_t s_len;
    onyx_tensor *t;
    struct onyx_graph *g;
    size_t count; /* entries of the list kinds below */
    float *floats;
    int64_t *ints;
    onyx_string *strings;
    onyx_tensor **tensors;
    struct onyx_graph **graphs;
} onyx_attr;

typedef struct onyx_node {
    const char *name;    /* "" allowed in ONNX; messages then use the op type and index */
    const char *op_type;
    const char *domain;  /* "" for the default ai.onnx domain */
    int opset;           /* the model's opset version imported for this node's domain */
    int n_inputs;
    int *inputs;         /* value ids, -1 = absent optional input */
    int n_outputs;
    int *outputs;        /* value ids, -1 = absent optional output */
    int n_attrs;
    onyx_attr *attrs;
    /* Set by placement: */
    const struct onyx_kernel_def *kernel;
    int provider; /* index into the session's provider list, -1 until placed */
} onyx_node;

typedef enum onyx_value_kind {
    ONYX_VALUE_INTERMEDIATE = 0, /* produced by a node */
    ONYX_VALUE_INPUT = 1,        /* a graph input without initializer */
    ONYX_VALUE_CONSTANT = 2,     /* an initializer or a folded constant: data in 'constant' */
    ONYX_VALUE_OUTER = 3         /* defined in an enclosing graph (subgraphs only) */
} onyx_value_kind;

/* One dim of a declared or inferred shape: value >= 0 when known; else param names it or is NULL. */
typedef struct onyx_dim {
    int64_t value;
    const char *param;
} onyx_dim;

typedef struct onyx_value {
    const char *name;
    onyx_value_kind kind;
    onyx_dtype dtype; /* UNDEFINED when neither declared nor inferred */
    int rank;         /* -1 when unknown */
    onyx_dim dims[ONYX_MAX_RANK];
    onyx_tensor *constant; /* data of CONSTANT values (and of initializers that are also inputs) */
    int producer;          /* node index, -1 when not produced by a node */
    int is_graph_output;
} onyx_value;

typedef struct onyx_graph {
    const char *name;
    struct onyx_onnx_model *model;
    struct onyx_graph *parent;
    int n_values, cap_values;
    onyx_value *values; /* onyx_malloc'd, grows */
    int n_nodes, cap_nodes;
    onyx_node *nodes;   /* onyx_malloc'd, grows; topologically sorted after onyx_graph_sort */
    int n_inputs;
    int *inputs;        /* graph inputs in declared order (initializer-backed ones included) */
    int n_outputs;
    int *outputs;
    onyx_strmap value_index; /* name -> value id */
} onyx_graph;

typedef struct onyx_opset {
    const char *domain;
    int64_t version;
} onyx_opset;

typedef struct onyx_metadata {
    const char *key;
    const char *value;
} onyx_metadata;

struct onyx_mapping; /* a mapped file, see src/onnx/mapping.h */

typedef struct onyx_onnx_model {
    onyx_region region;     /* names, attributes, small arrays */
    const char *path;       /* file path or "<memory>" */
    const char *dir;        /* folder for external data; NULL for in-memory models */
    const char *display_name; /* used in error messages */
    int64_t ir_version;
    const char *producer_name;
    const char *producer_version;
    const char *domain;
    int64_t model_version;
    const char *doc_string;
    int n_opsets;
    onyx_opset *opsets;
    int n_metadata;
    onyx_metadata *metadata;
    onyx_graph *graph;
    /* Every graph (main and subgraphs) and every mapping, for destruction. */
    int n_graphs, cap_graphs;
    onyx_graph **graphs;
    int n_mappings, cap_mappings;
    struct onyx_mapping **mappings;
    /* Tensors allocated for the model (initializers, attribute tensors), destroyed with it. */
    int n_tensors, cap_tensors;
    onyx_tensor **tensors;
} onyx_onnx_model;

/* ---- model and graph construction ---- */
onyx_status onyx_onnx_model_new(const char *path, onyx_onnx_model **out);
void onyx_onnx_model_destroy(onyx_onnx_model *model);
/* A new empty graph owned by the model. */
onyx_status onyx_graph_new(onyx_onnx_model *model, onyx_graph *parent, const char *name, onyx_graph **out);
/* A tensor owned by the model (freed with it); shape set, no data. */
onyx_status onyx_onnx_model_new_tensor(onyx_onnx_model *model, onyx_tensor **out);
/* Register a mapping so the model unmaps it when destroyed. */
onyx_status onyx_onnx_model_add_mapping(onyx_onnx_model *model, struct onyx_mapping *mapping);
/* The opset version the model imports for domain ("" and "ai.onnx" are the same), or -1. */
int64_t onyx_onnx_model_opset(const onyx_onnx_model *model, const char *domain);

/* The id of the value named name in this graph, or -1 (outer graphs are not searched). */
int onyx_graph_find_value(const onyx_graph *g, const char *name);
/* 1 when value v is one of g's inputs (an initializer that is also an input may be fed by the
 * caller, so passes must not treat it as a constant they can rewrite). */
int onyx_graph_is_input(const onyx_graph *g, int v);
/* The data of value v of g when it is a constant: an initializer or folded constant of g, or for
 * an OUTER value of an If branch the constant of an enclosing graph it names (Optimum's merged
 * decoders keep both branches' weights in the main graph). NULL otherwise. */
const onyx_tensor *onyx_graph_constant(const onyx_graph *g, int v);
/* The id of the value named name, adding an INTERMEDIATE one if new. name is copied. */
onyx_status onyx_graph_value(onyx_graph *g, const char *name, int *out_id);
/* A new uniquely named value ("<hint>_onyx_<n>"). */
onyx_status onyx_graph_new_value(onyx_graph *g, const char *hint, int *out_id);
/* Append a node; inputs/outputs/attrs arrays are allocated from the region (n of each, zeroed,
 * inputs and outputs set to -1). Returns the node index. */
onyx_status onyx_graph_add_node(onyx_graph *g, const char *op_type, const char *domain,
                                const char *name, int n_inputs, int n_outputs, int n_attrs,
                                int *out_index);

/* ---- attribute access (NULL/default when absent) ---- */
const onyx_attr *onyx_node_attr(const onyx_node *node, const char *name);
int64_t onyx_node_attr_int(const onyx_node *node, const char *name, int64_t fallback);
float onyx_node_attr_float(const onyx_node *node, const char *name, float fallback);
const char *onyx_node_attr_string(const onyx_node *node, const char *name, const char *fallback);
/* Pointer to the list and its length in *count; NULL (count 0) when absent. */
const int64_t *onyx_node_attr_ints(const onyx_node *node, const char *name, size_t *count);
const float *onyx_node_attr_floats(const onyx_node *node, const char *name, size_t *count);
const onyx_tensor *onyx_node_attr_tensor(const onyx_node *node, const char *name);
const struct onyx_graph *onyx_node_attr_graph(const onyx_node *node, const char *name);

/* 1 when the node has a graph-valued attribute (If's branches, Loop's body). */
int onyx_node_has_subgraph(const onyx_node *node);
/* fn(sub, ctx) for every graph-valued attribute of g's nodes (GRAPH and each of GRAPHS), one
 * level down (fn recurses when it wants deeper), stopping at the first status that is not OK. */
onyx_status onyx_graph_each_subgraph(struct onyx_graph *g, onyx_status (*fn)(struct onyx_graph *sub, void *ctx),
                                     void *ctx);

/* "node 'name' (OpType)" or "node #index (OpType)" into buf, for messages. */
const char *onyx_node_describe(const onyx_graph *g, const onyx_node *node, char *buf, size_t size);

/* ---- structure ---- */
/* Sort nodes topologically (stable for already-sorted graphs); fills producer fields; errors on
 * cycles and on inputs that nothing defines (naming them). Recurses into subgraphs. */
onyx_status onyx_graph_sort(onyx_graph *g);

#endif
