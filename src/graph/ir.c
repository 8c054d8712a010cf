/*
 * ir.c - construction, lookup and topological sorting of onyx's graph IR (see ir.h).
 */
#include "graph/ir.h"

#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"

/* Defined in src/onnx/mapping.c: unmaps a file the model registered. */
void onyx_mapping_destroy(struct onyx_mapping *mapping);

/* Grow an onyx_malloc'd array to hold at least need elements. */
static onyx_status grow_array(void **items, int *cap, int need, size_t elem) {
    if (need <= *cap) return ONYX_OK;
    int new_cap = *cap ? *cap : 16;
    while (new_cap < need) {
        if (new_cap > (1 << 29)) return onyx_error(ONYX_ERR_OUT_OF_MEMORY, "out of memory: graph too large");
        new_cap *= 2;
    }
    size_t bytes;
    if (onyx_mul_size((size_t)new_cap, elem, &bytes)) return onyx_error(ONYX_ERR_OUT_OF_MEMORY, "out of memory");
    void *p = onyx_realloc(*items, bytes);
    if (!p) return ONYX_ERR_OUT_OF_MEMORY;
    *items = p;
    *cap = new_cap;
    return ONYX_OK;
}

onyx_status onyx_onnx_model_new(const char *path, onyx_onnx_model **out) {
    *out = NULL;
    onyx_onnx_model *m = onyx_calloc(1, sizeof *m);
    if (!m) return ONYX_ERR_OUT_OF_MEMORY;
    onyx_region_init(&m->region);
    m->path = onyx_region_strdup(&m->region, path ? path : "<memory>");
    if (!m->path) {
        onyx_free(m);
        return ONYX_ERR_OUT_OF_MEMORY;
    }
    m->display_name = m->path;
    m->producer_name = m->producer_version = m->domain = m->doc_string = "";
    *out = m;
    return ONYX_OK;
}

static void graph_free(onyx_graph *g) {
    onyx_free(g->values);
    onyx_free(g->nodes);
    onyx_free(g->inputs);
    onyx_free(g->outputs);
    onyx_strmap_free(&g->value_index);
    onyx_free(g);
}

void onyx_onnx_model_destroy(onyx_onnx_model *m) {
    if (!m) return;
    for (int i = 0; i < m->n_graphs; i++) graph_free(m->graphs[i]);
    onyx_free(m->graphs);
    for (int i = 0; i < m->n_tensors; i++) onyx_tensor_destroy(m->tensors[i]);
    onyx_free(m->tensors);
    for (int i = 0; i < m->n_mappings; i++) onyx_mapping_destroy(m->mappings[i]);
    onyx_free(m->mappings);
    onyx_region_free(&m->region);
    onyx_free(m);
}

onyx_status onyx_graph_new(onyx_onnx_model *m, onyx_graph *parent, const char *name, onyx_graph **out) {
    *out = NULL;
    ONYX_TRY(grow_array((void **)&m->graphs, &m->cap_graphs, m->n_graphs + 1, sizeof *m->graphs));
    onyx_graph *g = onyx_calloc(1, sizeof *g);
    if (!g) return ONYX_ERR_OUT_OF_MEMORY;
    g->model = m;
    g->parent = parent;
    g->name = onyx_region_strdup(&m->region, name ? name : "");
    if (!g->name) {
        onyx_free(g);
        return ONYX_ERR_OUT_OF_MEMORY;
    }
    onyx_strmap_init(&g->value_index);
    m->graphs[m->n_graphs++] = g;
    *out = g;
    return ONYX_OK;
}

onyx_status onyx_onnx_model_new_tensor(onyx_onnx_model *m, onyx_tensor **out) {
    *out = NULL;
    ONYX_TRY(grow_array((void **)&m->tensors, &m->cap_tensors, m->n_tensors + 1, sizeof *m->tensors));
    onyx_tensor *t = onyx_malloc(sizeof *t);
    if (!t) return ONYX_ERR_OUT_OF_MEMORY;
    onyx_tensor_init(t);
    m->tensors[m->n_tensors++] = t;
    *out = t;
    return ONYX_OK;
}

onyx_status onyx_onnx_model_add_mapping(onyx_onnx_model *m, struct onyx_mapping *mapping) {
    onyx_status st = grow_array((void **)&m->mappings, &m->cap_mappings, m->n_mappings + 1, sizeof *m->mappings);
    if (st != ONYX_OK) {
        onyx_mapping_destroy(mapping);
        return st;
    }
    m->mappings[m->n_mappings++] = mapping;
    return ONYX_OK;
}

int64_t onyx_onnx_model_opset(const onyx_onnx_model *m, const char *domain) {
    if (!domain || strcmp(domain, "ai.onnx") == 0) domain = "";
    for (int i = 0; i < m->n_opsets; i++) {
        const char *d = m->opsets[i].domain;
        if (strcmp(d, "ai.onnx") == 0) d = "";
        if (strcmp(d, domain) == 0) return m->opsets[i].version;
    }
    return -1;
}

int onyx_graph_find_value(const onyx_graph *g, const char *name) {
    return onyx_strmap_get(&g->value_index, name);
}

int onyx_graph_is_input(const onyx_graph *g, int v) {
    for (int i = 0; i < g->n_inputs; i++)
        if (g->inputs[i] == v) return 1;
    return 0;
}

const onyx_tensor *onyx_graph_constant(const onyx_graph *g, int v) {
    while (g && v >= 0) {
        const onyx_value *val = &g->values[v];
        if (val->kind == ONYX_VALUE_CONSTANT) return val->constant;
        if (val->kind != ONYX_VALUE_OUTER || !g->parent) return NULL;
        v = onyx_graph_find_value(g->parent, val->name);
        g = g->parent;
    }
    return NULL;
}

static onyx_status graph_append_value(onyx_graph *g, const char *copied_name, int *out_id) {
    ONYX_TRY(grow_array((void **)&g->values, &g->cap_values, g->n_values + 1, sizeof *g->values));
    int id = g->n_values;
    onyx_value *v = &g->values[id];
    memset(v, 0, sizeof *v);
    v->name = copied_name;
    v->kind = ONYX_VALUE_INTERMEDIATE;
    v->rank = -1;
    v->producer = -1;
    ONYX_TRY(onyx_strmap_put(&g->value_index, copied_name, id));
    g->n_values++;
    *out_id = id;
    return ONYX_OK;
}

onyx_status onyx_graph_value(onyx_graph *g, const char *name, int *out_id) {
    int id = onyx_graph_find_value(g, name);
    if (id >= 0) {
        *out_id = id;
        return ONYX_OK;
    }
    char *copy = onyx_region_strdup(&g->model->region, name);
    if (!copy) return ONYX_ERR_OUT_OF_MEMORY;
    return graph_append_value(g, copy, out_id);
}

onyx_status onyx_graph_new_value(onyx_graph *g, const char *hint, int *out_id) {
    char name[256];
    for (int n = g->n_values;; n++) {
        snprintf(name, sizeof name, "%.200s_onyx_%d", hint ? hint : "v", n);
        if (onyx_graph_find_value(g, name) < 0) break;
    }
    char *copy = onyx_region_strdup(&g->model->region, name);
    if (!copy) return ONYX_ERR_OUT_OF_MEMORY;
    return graph_append_value(g, copy, out_id);
}

onyx_status onyx_graph_add_node(onyx_graph *g, const char *op_type, const char *domain, const char *name,
                                int n_inputs, int n_outputs, int n_attrs, int *out_index) {
    onyx_region *r = &g->model->region;
    ONYX_TRY(grow_array((void **)&g->nodes, &g->cap_nodes, g->n_nodes + 1, sizeof *g->nodes));
    onyx_node n;
    memset(&n, 0, sizeof n);
    n.op_type = onyx_region_strdup(r, op_type);
    n.domain = onyx_region_strdup(r, domain ? domain : "");
    n.name = onyx_region_strdup(r, name ? name : "");
    n.inputs = onyx_region_array(r, (size_t)(n_inputs ? n_inputs : 1), sizeof(int));
    n.outputs = onyx_region_array(r, (size_t)(n_outputs ? n_outputs : 1), sizeof(int));
    n.attrs = onyx_region_array(r, (size_t)(n_attrs ? n_attrs : 1), sizeof(onyx_attr));
    if (!n.op_type || !n.domain || !n.name || !n.inputs || !n.outputs || !n.attrs) return ONYX_ERR_OUT_OF_MEMORY;
    for (int i = 0; i < n_inputs; i++) n.inputs[i] = -1;
    for (int i = 0; i < n_outputs; i++) n.outputs[i] = -1;
    n.n_inputs = n_inputs;
    n.n_outputs = n_outputs;
    n.n_attrs = n_attrs;
    n.provider = -1;
    int64_t opset = onyx_onnx_model_opset(g->model, n.domain);
    n.opset = opset > 0 && opset < (1 << 30) ? (int)opset : 0;
    *out_index = g->n_nodes;
    g->nodes[g->n_nodes++] = n;
    return ONYX_OK;
}

/* ---- attributes ---- */

const onyx_attr *onyx_node_attr(const onyx_node *node, const char *name) {
    for (int i = 0; i < node->n_attrs; i++)
        if (node->attrs[i].name && strcmp(node->attrs[i].name, name) == 0) return &node->attrs[i];
    return NULL;
}

int64_t onyx_node_attr_int(const onyx_node *node, const char *name, int64_t fallback) {
    const onyx_attr *a = onyx_node_attr(node, name);
    return a && a->type == ONYX_ATTR_INT ? a->i : fallback;
}

float onyx_node_attr_float(const onyx_node *node, const char *name, float fallback) {
    const onyx_attr *a = onyx_node_attr(node, name);
    return a && a->type == ONYX_ATTR_FLOAT ? a->f : fallback;
}

const char *onyx_node_attr_string(const onyx_node *node, const char *name, const char *fallback) {
    const onyx_attr *a = onyx_node_attr(node, name);
    return a && a->type == ONYX_ATTR_STRING ? a->s : fallback;
}

const int64_t *onyx_node_attr_ints(const onyx_node *node, const char *name, size_t *count) {
    const onyx_attr *a = onyx_node_attr(node, name);
    if (!a || a->type != ONYX_ATTR_INTS) {
        *count = 0;
        return NULL;
    }
    *count = a->count;
    return a->ints ? a->ints : (const int64_t *)"";
}

const float *onyx_node_attr_floats(const onyx_node *node, const char *name, size_t *count) {
    const onyx_attr *a = onyx_node_attr(node, name);
    if (!a || a->type != ONYX_ATTR_FLOATS) {
        *count = 0;
        return NULL;
    }
    *count = a->count;
    static const float empty[1];
    return a->floats ? a->floats : empty;
}

const onyx_tensor *onyx_node_attr_tensor(const onyx_node *node, const char *name) {
    const onyx_attr *a = onyx_node_attr(node, name);
    return a && a->type == ONYX_ATTR_TENSOR ? a->t : NULL;
}

const onyx_graph *onyx_node_attr_graph(const onyx_node *node, const char *name) {
    const onyx_attr *a = onyx_node_attr(node, name);
    return a && a->type == ONYX_ATTR_GRAPH ? a->g : NULL;
}

int onyx_node_has_subgraph(const onyx_node *n) {
    for (int a = 0; a < n->n_attrs; a++)
        if (n->attrs[a].type == ONYX_ATTR_GRAPH || n->attrs[a].type == ONYX_ATTR_GRAPHS) return 1;
    return 0;
}

onyx_status onyx_graph_each_subgraph(onyx_graph *g, onyx_status (*fn)(onyx_graph *sub, void *ctx), void *ctx) {
    for (int i = 0; i < g->n_nodes; i++)
        for (int a = 0; a < g->nodes[i].n_attrs; a++) {
            onyx_attr *attr = &g->nodes[i].attrs[a];
            if (attr->type == ONYX_ATTR_GRAPH && attr->g) ONYX_TRY(fn(attr->g, ctx));
            for (size_t k = 0; attr->type == ONYX_ATTR_GRAPHS && k < attr->count; k++)
                if (attr->graphs[k]) ONYX_TRY(fn(attr->graphs[k], ctx));
        }
    return ONYX_OK;
}

const char *onyx_node_describe(const onyx_graph *g, const onyx_node *node, char *buf, size_t size) {
    if (node->name && node->name[0])
        snprintf(buf, size, "node '%s' (%s)", node->name, node->op_type);
    else
        snprintf(buf, size, "node #%d (%s)", (int)(node - g->nodes), node->op_type);
    return buf;
}

/* ---- topological sort ---- */

/* A value id is available to a node when it is an input, a constant, an outer value, or has
 * been produced by an already-placed node. */
static onyx_status sort_subgraph(onyx_graph *sub, void *ctx) {
    (void)ctx;
    return onyx_graph_sort(sub);
}

onyx_status onyx_graph_sort(onyx_graph *g) {
    int n = g->n_nodes;
    const char *model_name = g->model->display_name;
    for (int v = 0; v < g->n_values; v++) g->values[v].producer = -1;
    for (int i = 0; i < n; i++) {
        onyx_node *node = &g->nodes[i];
        for (int o = 0; o < node->n_outputs; o++) {
            int v = node->outputs[o];
            if (v < 0) continue;
            onyx_value *val = &g->values[v];
            char desc[300];
            if (val->producer >= 0)
                return onyx_error(ONYX_ERR_INVALID_MODEL, "%s: value '%s' is produced twice (by %s and another node)",
                                  model_name, val->name, onyx_node_describe(g, &g->nodes[val->producer], desc, sizeof desc));
            if (val->kind != ONYX_VALUE_INTERMEDIATE)
                return onyx_error(ONYX_ERR_INVALID_MODEL, "%s: %s writes '%s', which is already a graph input or initializer",
                                  model_name, onyx_node_describe(g, node, desc, sizeof desc), val->name);
            val->producer = i;
        }
    }
    /* Kahn's algorithm, stable: repeatedly take the first ready node in original order. */
    int *pending = onyx_calloc((size_t)(n ? n : 1), sizeof(int));  /* unresolved producer inputs per node */
    int *order = onyx_malloc((size_t)(n ? n : 1) * sizeof(int));
    char *done = onyx_calloc((size_t)(n ? n : 1), 1);
    if (!pending || !order || !done) {
        onyx_free(pending);
        onyx_free(order);
        onyx_free(done);
        return ONYX_ERR_OUT_OF_MEMORY;
    }
    onyx_status st = ONYX_OK;
    for (int i = 0; i < n && st == ONYX_OK; i++) {
        onyx_node *node = &g->nodes[i];
        for (int k = 0; k < node->n_inputs; k++) {
            int v = node->inputs[k];
            if (v < 0) continue;
            onyx_value *val = &g->values[v];
            if (val->producer >= 0) pending[i]++;
            else if (val->kind == ONYX_VALUE_INTERMEDIATE) {
                char desc[300];
                st = onyx_error(ONYX_ERR_INVALID_MODEL, "%s: %s uses '%s', which no node, graph input or initializer defines",
                                model_name, onyx_node_describe(g, node, desc, sizeof desc), val->name);
                break;
            }
        }
    }
    for (int o = 0; o < g->n_outputs && st == ONYX_OK; o++) {
        onyx_value *val = &g->values[g->outputs[o]];
        if (val->producer < 0 && val->kind == ONYX_VALUE_INTERMEDIATE)
            st = onyx_error(ONYX_ERR_INVALID_MODEL, "%s: graph output '%s' is not produced by any node or input", model_name, val->name);
    }
    int placed = 0;
    /* Simple O(n * passes) readiness scan; passes are few for exported graphs, which are
     * nearly always sorted already. A ready queue in original order keeps it stable. */
    int *queue = NULL;
    if (st == ONYX_OK) {
        queue = onyx_malloc((size_t)(n ? n : 1) * sizeof(int));
        if (!queue) st = ONYX_ERR_OUT_OF_MEMORY;
    }
    /* consumers lists: for each value, nodes consuming it (CSR). */
    int *cons_start = NULL, *cons = NULL;
    if (st == ONYX_OK) {
        cons_start = onyx_calloc((size_t)g->n_values + 1, sizeof(int));
        int total = 0;
        for (int i = 0; i < n; i++) total += g->nodes[i].n_inputs;
        cons = onyx_malloc((size_t)(total ? total : 1) * sizeof(int));
        if (!cons_start || !cons) st = ONYX_ERR_OUT_OF_MEMORY;
        else {
            for (int i = 0; i < n; i++)
                for (int k = 0; k < g->nodes[i].n_inputs; k++) {
                    int v = g->nodes[i].inputs[k];
                    if (v >= 0 && g->values[v].producer >= 0) cons_start[v + 1]++;
                }
            for (int v = 0; v < g->n_values; v++) cons_start[v + 1] += cons_start[v];
            int *fill = onyx_calloc((size_t)g->n_values + 1, sizeof(int));
            if (!fill) st = ONYX_ERR_OUT_OF_MEMORY;
            else {
                for (int i = 0; i < n; i++)
                    for (int k = 0; k < g->nodes[i].n_inputs; k++) {
                        int v = g->nodes[i].inputs[k];
                        if (v >= 0 && g->values[v].producer >= 0) cons[cons_start[v] + fill[v]++] = i;
                    }
                onyx_free(fill);
            }
        }
    }
    if (st == ONYX_OK) {
        /* min-heap by original index keeps the order stable */
        int heap_n = 0;
#define HEAP_PUSH(x)                                                                              \
    do {                                                                                          \
        int c_ = heap_n++;                                                                        \
        queue[c_] = (x);                                                                          \
        while (c_ > 0 && queue[(c_ - 1) / 2] > queue[c_]) {                                       \
            int t_ = queue[c_]; queue[c_] = queue[(c_ - 1) / 2]; queue[(c_ - 1) / 2] = t_;        \
            c_ = (c_ - 1) / 2;                                                                    \
        }                                                                                         \
    } while (0)
        for (int i = 0; i < n; i++)
            if (pending[i] == 0) HEAP_PUSH(i);
        while (heap_n > 0) {
            int top = queue[0];
            queue[0] = queue[--heap_n];
            for (int c = 0;;) {
                int l = 2 * c + 1, r = l + 1, m = c;
                if (l < heap_n && queue[l] < queue[m]) m = l;
                if (r < heap_n && queue[r] < queue[m]) m = r;
                if (m == c) break;
                int t = queue[c]; queue[c] = queue[m]; queue[m] = t;
                c = m;
            }
            order[placed++] = top;
            done[top] = 1;
            onyx_node *node = &g->nodes[top];
            for (int o = 0; o < node->n_outputs; o++) {
                int v = node->outputs[o];
                if (v < 0) continue;
                for (int c = cons_start[v]; c < cons_start[v + 1]; c++)
                    if (--pending[cons[c]] == 0) HEAP_PUSH(cons[c]);
            }
        }
#undef HEAP_PUSH
        if (placed < n) {
            int stuck = 0;
            while (stuck < n && done[stuck]) stuck++;
            char desc[300];
            st = onyx_error(ONYX_ERR_INVALID_MODEL, "%s: the graph has a cycle: %s (and %d other nodes) can never run",
                            model_name, onyx_node_describe(g, &g->nodes[stuck], desc, sizeof desc), n - placed - 1);
        }
    }
    if (st == ONYX_OK) {
        onyx_node *sorted = onyx_malloc((size_t)(n ? n : 1) * sizeof *sorted);
        if (!sorted) st = ONYX_ERR_OUT_OF_MEMORY;
        else {
            for (int i = 0; i < n; i++) sorted[i] = g->nodes[order[i]];
            if (n) memcpy(g->nodes, sorted, (size_t)n * sizeof *sorted);
            onyx_free(sorted);
            for (int i = 0; i < n; i++)
                for (int o = 0; o < g->nodes[i].n_outputs; o++)
                    if (g->nodes[i].outputs[o] >= 0) g->values[g->nodes[i].outputs[o]].producer = i;
        }
    }
    onyx_free(pending);
    onyx_free(order);
    onyx_free(done);
    onyx_free(queue);
    onyx_free(cons_start);
    onyx_free(cons);
    if (st != ONYX_OK) return st;
    return onyx_graph_each_subgraph(g, sort_subgraph, NULL);
}
