/*
 * executor.c - node-by-node execution with per-signature memory plans and shape folding
 * (see executor.h for the scheme).
 *
 * Buffers are indexed 0..n_values-1 for value data and n_values..n_values+n_nodes-1 for node
 * workspaces. A plan gives each planned buffer an offset and a size in the arena.
 */
#include "runtime/executor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/log.h"
#include "core/status.h"

#define EXEC_MAX_PLANS 16
#define EXEC_ALIGN 64
#define NOT_PLANNED SIZE_MAX

typedef struct exec_plan {
    int64_t *signature;
    size_t arena_bytes;
    size_t *offset;       /* per buffer; NOT_PLANNED when not in the arena */
    size_t *size;         /* per buffer: planned bytes */
    onyx_tensor *statics; /* per value: data of signature-static values (owned), else empty */
    uint64_t stamp;       /* last use, for eviction */
} exec_plan;

typedef struct exec_child {
    const onyx_graph *graph;
    onyx_exec *exec;
} exec_child;

struct onyx_exec {
    const onyx_graph *g;
    onyx_exec_config cfg;
    onyx_exec *parent;
    int n_buffers;              /* n_values + n_nodes */
    onyx_tensor *vals;          /* per value: the tensor of the current run */
    const onyx_tensor **bound;  /* per value: caller-bound input, or NULL */
    unsigned char *owned;       /* per buffer: allocated on its own this run */
    void **workspace;           /* per node: this run's workspace */
    int *last_use;              /* per value: last node reading it; n_nodes for graph outputs */
    unsigned char *sig_static;  /* per value: determined by the signature alone */
    unsigned char *node_static; /* per node: all outputs signature-static */
    int *outer_id;              /* per value: for OUTER values, the id in outer_exec */
    onyx_exec **outer_exec;
    int *sig_values;            /* values whose dtype and shape make up the signature */
    int n_sig_values;
    int64_t *sig_scratch;       /* n_sig_values * (2 + ONYX_MAX_RANK) */
    const onyx_tensor **in_buf; /* scratch for kernel inputs/outputs */
    onyx_tensor **out_buf;
    int max_io;
    exec_plan plans[EXEC_MAX_PLANS];
    int n_plans;
    uint64_t clock;
    size_t *rec_size;           /* per buffer: recorded bytes (recording runs) */
    void *arena;
    size_t arena_bytes;
    exec_child *children;
    int n_children;
    uint64_t run_gen;           /* incremented per node executed, for subgraph result reuse */
    uint64_t child_gen;         /* run_gen of the parent node this exec last ran for */
    onyx_tensor **results;      /* per graph output: pointer into vals (for run_subgraph) */
    onyx_run_stats stats;
};

static int node_has_subgraph(const onyx_node *n) {
    for (int a = 0; a < n->n_attrs; a++)
        if (n->attrs[a].type == ONYX_ATTR_GRAPH || n->attrs[a].type == ONYX_ATTR_GRAPHS) return 1;
    return 0;
}

/* Values of g that subgraph sub (at any depth) reads from enclosing scopes get last use i. */
static void mark_subgraph_uses(const onyx_graph *g, const onyx_graph *sub, int i, int *last_use) {
    for (int v = 0; v < sub->n_values; v++) {
        if (sub->values[v].kind != ONYX_VALUE_OUTER) continue;
        int id = onyx_graph_find_value(g, sub->values[v].name);
        if (id >= 0 && last_use[id] < i) last_use[id] = i;
    }
    for (int k = 0; k < sub->n_nodes; k++)
        for (int a = 0; a < sub->nodes[k].n_attrs; a++)
            if (sub->nodes[k].attrs[a].type == ONYX_ATTR_GRAPH && sub->nodes[k].attrs[a].g)
                mark_subgraph_uses(g, sub->nodes[k].attrs[a].g, i, last_use);
}

/* A constant the caller may override (an initializer listed among the graph inputs). */
static int value_is_overridable(const onyx_graph *g, int v) {
    if (g->values[v].kind != ONYX_VALUE_CONSTANT) return 0;
    for (int i = 0; i < g->n_inputs; i++)
        if (g->inputs[i] == v) return 1;
    return 0;
}

static onyx_status exec_analyse(onyx_exec *e) {
    const onyx_graph *g = e->g;
    int nv = g->n_values, nn = g->n_nodes;
    unsigned char *shape_known = onyx_calloc((size_t)nv + 1, 1); /* shape fixed by the signature */
    if (!shape_known) return ONYX_ERR_OUT_OF_MEMORY;
    for (int v = 0; v < nv; v++) {
        e->last_use[v] = -1;
        onyx_value_kind kind = g->values[v].kind;
        int over = value_is_overridable(g, v);
        if (kind == ONYX_VALUE_INPUT || kind == ONYX_VALUE_OUTER || over) {
            e->sig_values[e->n_sig_values++] = v;
            shape_known[v] = 1;
        } else if (kind == ONYX_VALUE_CONSTANT) {
            shape_known[v] = 1;
            e->sig_static[v] = 1;
        }
    }
    for (int i = 0; i < nn; i++) {
        const onyx_node *n = &g->nodes[i];
        for (int k = 0; k < n->n_inputs; k++)
            if (n->inputs[k] >= 0 && e->last_use[n->inputs[k]] < i) e->last_use[n->inputs[k]] = i;
        for (int a = 0; a < n->n_attrs; a++)
            if (n->attrs[a].type == ONYX_ATTR_GRAPH && n->attrs[a].g) mark_subgraph_uses(g, n->attrs[a].g, i, e->last_use);
        if (n->n_inputs > e->max_io) e->max_io = n->n_inputs;
        if (n->n_outputs > e->max_io) e->max_io = n->n_outputs;
        /* Signature analysis. */
        int sub = node_has_subgraph(n);
        int all_static = !sub, all_known = !sub;
        uint32_t host = n->kernel ? n->kernel->host_inputs : 0;
        for (int k = 0; k < n->n_inputs; k++) {
            int v = n->inputs[k];
            if (v < 0) continue;
            if (!e->sig_static[v]) all_static = 0;
            if (!shape_known[v]) all_known = 0;
            if ((host & (1u << k)) && !e->sig_static[v]) all_known = 0;
        }
        int is_shape_op = !strcmp(n->domain, "") && (!strcmp(n->op_type, "Shape") || !strcmp(n->op_type, "Size"));
        int inputs_shape_known = n->n_inputs > 0 && n->inputs[0] >= 0 && shape_known[n->inputs[0]];
        int node_static = (all_static && n->n_inputs > 0) || (is_shape_op && inputs_shape_known);
        e->node_static[i] = (unsigned char)node_static;
        for (int o = 0; o < n->n_outputs; o++) {
            int v = n->outputs[o];
            if (v < 0) continue;
            if (node_static) e->sig_static[v] = 1;
            if (node_static || all_known) shape_known[v] = 1;
        }
    }
    for (int o = 0; o < g->n_outputs; o++) e->last_use[g->outputs[o]] = nn;
    onyx_free(shape_known);
    return ONYX_OK;
}

static onyx_status exec_resolve_outer(onyx_exec *e) {
    for (int v = 0; v < e->g->n_values; v++) {
        e->outer_id[v] = -1;
        if (e->g->values[v].kind != ONYX_VALUE_OUTER) continue;
        onyx_exec *p = e->parent;
        while (p && (e->outer_id[v] = onyx_graph_find_value(p->g, e->g->values[v].name)) < 0) p = p->parent;
        if (!p)
            return onyx_error(ONYX_ERR_INVALID_MODEL, "%s: subgraph '%s' uses '%s', which no enclosing graph defines",
                              e->cfg.model_name, e->g->name, e->g->values[v].name);
        e->outer_exec[v] = p;
    }
    return ONYX_OK;
}

onyx_status onyx_exec_create(const onyx_graph *g, const onyx_exec_config *config, onyx_exec *parent, onyx_exec **out) {
    *out = NULL;
    onyx_exec *e = onyx_calloc(1, sizeof *e);
    if (!e) return ONYX_ERR_OUT_OF_MEMORY;
    e->g = g;
    e->cfg = *config;
    e->parent = parent;
    int nv = g->n_values, nn = g->n_nodes;
    e->n_buffers = nv + nn;
    size_t nb = (size_t)e->n_buffers + 1;
    e->vals = onyx_calloc((size_t)nv + 1, sizeof *e->vals);
    e->bound = onyx_calloc((size_t)nv + 1, sizeof *e->bound);
    e->owned = onyx_calloc(nb, 1);
    e->workspace = onyx_calloc((size_t)nn + 1, sizeof *e->workspace);
    e->last_use = onyx_calloc((size_t)nv + 1, sizeof *e->last_use);
    e->sig_static = onyx_calloc((size_t)nv + 1, 1);
    e->node_static = onyx_calloc((size_t)nn + 1, 1);
    e->outer_id = onyx_calloc((size_t)nv + 1, sizeof *e->outer_id);
    e->outer_exec = onyx_calloc((size_t)nv + 1, sizeof *e->outer_exec);
    e->sig_values = onyx_calloc((size_t)nv + 1, sizeof *e->sig_values);
    e->rec_size = onyx_calloc(nb, sizeof *e->rec_size);
    e->results = onyx_calloc((size_t)g->n_outputs + 1, sizeof *e->results);
    onyx_status st = ONYX_OK;
    if (!e->vals || !e->bound || !e->owned || !e->workspace || !e->last_use || !e->sig_static || !e->node_static ||
        !e->outer_id || !e->outer_exec || !e->sig_values || !e->rec_size || !e->results)
        st = ONYX_ERR_OUT_OF_MEMORY;
    if (st == ONYX_OK) st = exec_analyse(e);
    if (st == ONYX_OK) st = exec_resolve_outer(e);
    if (st == ONYX_OK) {
        e->sig_scratch = onyx_calloc((size_t)e->n_sig_values * (2 + ONYX_MAX_RANK) + 1, sizeof(int64_t));
        e->in_buf = onyx_calloc((size_t)e->max_io + 1, sizeof *e->in_buf);
        e->out_buf = onyx_calloc((size_t)e->max_io + 1, sizeof *e->out_buf);
        if (!e->sig_scratch || !e->in_buf || !e->out_buf) st = ONYX_ERR_OUT_OF_MEMORY;
    }
    for (int v = 0; v < nv && e->vals; v++) onyx_tensor_init(&e->vals[v]);
    if (st != ONYX_OK) {
        onyx_exec_destroy(e);
        return st;
    }
    *out = e;
    return ONYX_OK;
}

static void plan_free(const onyx_exec *e, exec_plan *p) {
    if (p->statics)
        for (int v = 0; v < e->g->n_values; v++) onyx_tensor_release(&p->statics[v]);
    onyx_free(p->statics);
    onyx_free(p->signature);
    onyx_free(p->offset);
    onyx_free(p->size);
    memset(p, 0, sizeof *p);
}

void onyx_exec_destroy(onyx_exec *e) {
    if (!e) return;
    if (e->vals && e->owned && e->workspace) onyx_exec_finish(e); /* partial creation: nothing owned yet */
    for (int i = 0; i < e->n_plans; i++) plan_free(e, &e->plans[i]);
    for (int i = 0; i < e->n_children; i++) onyx_exec_destroy(e->children[i].exec);
    onyx_free(e->children);
    onyx_free_aligned(e->arena);
    onyx_free(e->vals);
    onyx_free(e->bound);
    onyx_free(e->owned);
    onyx_free(e->workspace);
    onyx_free(e->last_use);
    onyx_free(e->sig_static);
    onyx_free(e->node_static);
    onyx_free(e->outer_id);
    onyx_free(e->outer_exec);
    onyx_free(e->sig_values);
    onyx_free(e->sig_scratch);
    onyx_free(e->in_buf);
    onyx_free(e->out_buf);
    onyx_free(e->rec_size);
    onyx_free(e->results);
    onyx_free(e);
}

void onyx_exec_bind(onyx_exec *e, int value_id, const onyx_tensor *t) { e->bound[value_id] = t; }

const onyx_tensor *onyx_exec_value(const onyx_exec *e, int value_id) { return &e->vals[value_id]; }

void onyx_exec_stats(const onyx_exec *e, onyx_run_stats *out) {
    size_t size = out->struct_size;
    *out = e->stats;
    out->struct_size = size;
}

/* A view: same dtype, shape and data; never owns. */
static void tensor_view(onyx_tensor *dst, const onyx_tensor *src) {
    *dst = *src;
    dst->owns_data = 0;
}

static void buffer_release(onyx_exec *e, int b) {
    if (!e->owned[b]) return;
    e->owned[b] = 0;
    if (b < e->g->n_values) {
        onyx_tensor *t = &e->vals[b];
        if (t->dtype == ONYX_DTYPE_STRING && t->data) {
            onyx_string *s = t->data;
            int64_t n = onyx_shape_numel(t->dims, t->rank);
            for (int64_t i = 0; i < n; i++) onyx_free((void *)s[i].data);
        }
        onyx_free_aligned(t->data);
        t->data = NULL;
    } else {
        onyx_free_aligned(e->workspace[b - e->g->n_values]);
        e->workspace[b - e->g->n_values] = NULL;
    }
}

void onyx_exec_finish(onyx_exec *e) {
    for (int b = 0; b < e->n_buffers; b++) buffer_release(e, b);
    for (int i = 0; i < e->n_children; i++) onyx_exec_finish(e->children[i].exec);
}

/* Give buffer b (bytes) memory: its planned place, or an allocation of its own. */
static onyx_status buffer_acquire(onyx_exec *e, const exec_plan *plan, int b, size_t bytes, void **out) {
    if (plan && plan->offset[b] != NOT_PLANNED && bytes <= plan->size[b]) {
        *out = (char *)e->arena + plan->offset[b];
        return ONYX_OK;
    }
    void *p = onyx_malloc_aligned(bytes);
    if (!p) return onyx_error_prefix(ONYX_ERR_OUT_OF_MEMORY, "%s: ", e->cfg.model_name);
    /* Strings need their element slots zeroed so release can free them. */
    if (b < e->g->n_values && e->vals[b].dtype == ONYX_DTYPE_STRING) memset(p, 0, bytes);
    e->owned[b] = 1;
    e->stats.host_allocations++;
    if (!plan) e->rec_size[b] = bytes;
    *out = p;
    return ONYX_OK;
}

static int signature_build(onyx_exec *e) {
    int len = 0;
    for (int k = 0; k < e->n_sig_values; k++) {
        const onyx_tensor *t = &e->vals[e->sig_values[k]];
        e->sig_scratch[len++] = t->dtype;
        e->sig_scratch[len++] = t->rank;
        for (int d = 0; d < t->rank; d++) e->sig_scratch[len++] = t->dims[d];
    }
    return len;
}

static exec_plan *plan_find(onyx_exec *e, int len) {
    for (int i = 0; i < e->n_plans; i++) {
        exec_plan *p = &e->plans[i];
        if (p->signature[0] == len && memcmp(p->signature + 1, e->sig_scratch, (size_t)len * sizeof(int64_t)) == 0)
            return p;
    }
    return NULL;
}

typedef struct plan_item {
    int buffer;
    int start, end; /* node interval during which the buffer is live */
    size_t size;
    size_t offset;
} plan_item;

static int plan_item_by_size(const void *a, const void *b) {
    const plan_item *x = a, *y = b;
    if (x->size != y->size) return x->size < y->size ? 1 : -1;
    return x->buffer - y->buffer;
}

static int plan_item_by_offset(const void *a, const void *b) {
    const plan_item *x = *(const plan_item *const *)a, *y = *(const plan_item *const *)b;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* Greedy best-known heuristic: largest buffers first, each at the lowest offset where it does
 * not overlap any placed buffer whose lifetime intersects its own. */
static onyx_status plan_offsets(plan_item *items, int n, size_t *arena_bytes) {
    plan_item **live = onyx_malloc((size_t)(n ? n : 1) * sizeof *live);
    if (!live) return ONYX_ERR_OUT_OF_MEMORY;
    qsort(items, (size_t)n, sizeof *items, plan_item_by_size);
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        int n_live = 0;
        for (int j = 0; j < i; j++)
            if (items[j].start <= items[i].end && items[i].start <= items[j].end) live[n_live++] = &items[j];
        qsort(live, (size_t)n_live, sizeof *live, plan_item_by_offset);
        size_t offset = 0;
        for (int j = 0; j < n_live; j++) {
            if (live[j]->offset >= offset + items[i].size) break;
            size_t end = live[j]->offset + live[j]->size;
            end = (end + EXEC_ALIGN - 1) & ~(size_t)(EXEC_ALIGN - 1);
            if (end > offset) offset = end;
        }
        items[i].offset = offset;
        if (offset + items[i].size > total) total = offset + items[i].size;
    }
    onyx_free(live);
    *arena_bytes = (total + EXEC_ALIGN - 1) & ~(size_t)(EXEC_ALIGN - 1);
    return ONYX_OK;
}

/* After a recording run: plan the arena and keep the signature-static values. */
static onyx_status plan_store(onyx_exec *e, int sig_len) {
    const onyx_graph *g = e->g;
    int nv = g->n_values, nb = e->n_buffers;
    exec_plan p;
    memset(&p, 0, sizeof p);
    p.signature = onyx_malloc(((size_t)sig_len + 1) * sizeof(int64_t));
    p.offset = onyx_malloc((size_t)(nb ? nb : 1) * sizeof(size_t));
    p.size = onyx_calloc((size_t)(nb ? nb : 1), sizeof(size_t));
    p.statics = onyx_calloc((size_t)(nv ? nv : 1), sizeof(onyx_tensor));
    plan_item *items = onyx_malloc((size_t)(nb ? nb : 1) * sizeof *items);
    onyx_status st = (p.signature && p.offset && p.size && p.statics && items) ? ONYX_OK : ONYX_ERR_OUT_OF_MEMORY;
    int n_items = 0;
    if (st == ONYX_OK) {
        p.signature[0] = sig_len;
        memcpy(p.signature + 1, e->sig_scratch, (size_t)sig_len * sizeof(int64_t));
        for (int b = 0; b < nb; b++) {
            p.offset[b] = NOT_PLANNED;
            if (e->rec_size[b] == NOT_PLANNED) continue;
            if (b < nv && e->sig_static[b]) continue;
            plan_item it;
            it.buffer = b;
            it.size = e->rec_size[b];
            if (b < nv) {
                int producer = g->values[b].producer;
                it.start = producer;
                it.end = e->last_use[b] > producer ? e->last_use[b] : producer;
            } else {
                it.start = it.end = b - nv;
            }
            it.offset = 0;
            items[n_items++] = it;
        }
        st = plan_offsets(items, n_items, &p.arena_bytes);
    }
    if (st == ONYX_OK) {
        for (int i = 0; i < n_items; i++) {
            p.offset[items[i].buffer] = items[i].offset;
            p.size[items[i].buffer] = items[i].size;
        }
        /* Move signature-static results into the plan. */
        for (int v = 0; v < nv; v++) {
            if (!e->sig_static[v] || g->values[v].kind == ONYX_VALUE_CONSTANT || g->values[v].producer < 0) continue;
            if (!e->owned[v]) continue;
            p.statics[v] = e->vals[v];
            p.statics[v].owns_data = 1;
            e->owned[v] = 0;
        }
        if (e->n_plans == EXEC_MAX_PLANS) {
            int oldest = 0;
            for (int i = 1; i < e->n_plans; i++)
                if (e->plans[i].stamp < e->plans[oldest].stamp) oldest = i;
            plan_free(e, &e->plans[oldest]);
            e->plans[oldest] = e->plans[--e->n_plans];
        }
        p.stamp = ++e->clock;
        e->plans[e->n_plans++] = p;
        /* Size the arena now, so the first run that reuses this plan allocates nothing. If
         * this fails, the reusing run tries again and reports the error there. */
        if (e->arena_bytes < p.arena_bytes) {
            void *arena = onyx_malloc_aligned(p.arena_bytes);
            if (arena) {
                onyx_free_aligned(e->arena);
                e->arena = arena;
                e->arena_bytes = p.arena_bytes;
            } else {
                onyx_error_clear();
            }
        }
        onyx_log(e->cfg.log_level, ONYX_LOG_VERBOSE, "%s: planned %d buffers of graph '%s' into an arena of %zu bytes",
                 e->cfg.model_name, n_items, g->name, p.arena_bytes);
    } else {
        plan_free(e, &p);
    }
    onyx_free(items);
    return st;
}

static onyx_status run_subgraph(onyx_kernel_ctx *ctx, const onyx_graph *sub, onyx_tensor *const **results);

static onyx_status kernel_failure(onyx_exec *e, const onyx_node *n, onyx_status st) {
    char desc[300], shapes[600] = "";
    size_t used = 0;
    for (int k = 0; k < n->n_inputs && used < sizeof shapes - 64; k++) {
        const char *sep = k ? ", " : "";
        if (n->inputs[k] < 0) {
            used += (size_t)snprintf(shapes + used, sizeof shapes - used, "%s-", sep);
        } else {
            char t[200];
            used += (size_t)snprintf(shapes + used, sizeof shapes - used, "%s%s", sep,
                                     onyx_tensor_describe(&e->vals[n->inputs[k]], t, sizeof t));
        }
    }
    return onyx_error_prefix(st, "%s: %s with inputs (%s): ", e->cfg.model_name,
                             onyx_node_describe(e->g, n, desc, sizeof desc), shapes);
}

onyx_status onyx_exec_run(onyx_exec *e) {
    const onyx_graph *g = e->g;
    size_t stats_size = e->stats.struct_size;
    memset(&e->stats, 0, sizeof e->stats);
    e->stats.struct_size = stats_size;
    onyx_exec_finish(e);
    /* Bind inputs, constants and outer values. */
    for (int v = 0; v < g->n_values; v++) {
        const onyx_value *val = &g->values[v];
        onyx_tensor *t = &e->vals[v];
        if (e->bound[v]) tensor_view(t, e->bound[v]);
        else if (val->kind == ONYX_VALUE_CONSTANT) tensor_view(t, val->constant);
        else if (val->kind == ONYX_VALUE_OUTER) tensor_view(t, &e->outer_exec[v]->vals[e->outer_id[v]]);
        else if (val->kind == ONYX_VALUE_INPUT)
            return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "%s: input '%s' is not bound", e->cfg.model_name, val->name);
        else onyx_tensor_init(t);
    }
    int sig_len = signature_build(e);
    exec_plan *plan = plan_find(e, sig_len);
    if (plan) {
        plan->stamp = ++e->clock;
        if (e->arena_bytes < plan->arena_bytes || !e->arena) {
            size_t bytes = plan->arena_bytes > EXEC_ALIGN ? plan->arena_bytes : EXEC_ALIGN;
            void *arena = onyx_malloc_aligned(bytes);
            if (!arena) return onyx_error_prefix(ONYX_ERR_OUT_OF_MEMORY, "%s: arena: ", e->cfg.model_name);
            onyx_free_aligned(e->arena);
            e->arena = arena;
            e->arena_bytes = bytes;
            e->stats.host_allocations++;
        }
        e->stats.plan_reused = 1;
        e->stats.arena_bytes = plan->arena_bytes;
    } else {
        for (int b = 0; b < e->n_buffers; b++) e->rec_size[b] = NOT_PLANNED;
    }
    onyx_status st = ONYX_OK;
    for (int i = 0; i < g->n_nodes && st == ONYX_OK; i++) {
        const onyx_node *n = &g->nodes[i];
        if (plan && e->node_static[i]) {
            for (int o = 0; o < n->n_outputs; o++)
                if (n->outputs[o] >= 0) tensor_view(&e->vals[n->outputs[o]], &plan->statics[n->outputs[o]]);
            continue;
        }
        e->run_gen++;
        for (int k = 0; k < n->n_inputs; k++) e->in_buf[k] = n->inputs[k] >= 0 ? &e->vals[n->inputs[k]] : NULL;
        for (int o = 0; o < n->n_outputs; o++) {
            int v = n->outputs[o];
            e->out_buf[o] = v >= 0 ? &e->vals[v] : NULL;
            if (v >= 0) onyx_tensor_init(&e->vals[v]);
        }
        onyx_provider *prov = e->cfg.providers[n->provider];
        onyx_kernel_ctx ctx = {
            .graph = g, .node = n, .n_inputs = n->n_inputs, .inputs = e->in_buf, .n_outputs = n->n_outputs,
            .outputs = e->out_buf, .threads = e->cfg.threads, .provider = prov, .run_subgraph = run_subgraph,
            .runtime = e,
        };
        st = n->kernel->prepare(&ctx);
        for (int o = 0; o < n->n_outputs && st == ONYX_OK; o++) {
            int v = n->outputs[o];
            if (v < 0) continue;
            st = buffer_acquire(e, plan, v, e->vals[v].nbytes, &e->vals[v].data);
        }
        if (st == ONYX_OK && ctx.workspace_bytes)
            st = buffer_acquire(e, plan, g->n_values + i, ctx.workspace_bytes, &e->workspace[i]);
        ctx.workspace = e->workspace[i];
        if (st == ONYX_OK) st = n->kernel->run(&ctx);
        if (st != ONYX_OK) {
            st = kernel_failure(e, n, st);
            break;
        }
        e->stats.nodes_run++;
        buffer_release(e, g->n_values + i);
        for (int c = 0; c < e->n_children; c++)
            if (e->children[c].exec->child_gen == e->run_gen) onyx_exec_finish(e->children[c].exec);
        /* Free what this node was the last to read, unless the plan keeps it. */
        for (int k = 0; k < n->n_inputs; k++) {
            int v = n->inputs[k];
            if (v >= 0 && e->last_use[v] == i && !(!plan && e->sig_static[v])) buffer_release(e, v);
        }
        for (int o = 0; o < n->n_outputs; o++) {
            int v = n->outputs[o];
            if (v >= 0 && e->last_use[v] < i && !(!plan && e->sig_static[v])) buffer_release(e, v);
        }
    }
    if (st == ONYX_OK && !plan) st = plan_store(e, sig_len);
    if (st != ONYX_OK) onyx_exec_finish(e);
    return st;
}

static onyx_status run_subgraph(onyx_kernel_ctx *ctx, const onyx_graph *sub, onyx_tensor *const **results) {
    onyx_exec *e = ctx->runtime;
    onyx_exec *child = NULL;
    for (int c = 0; c < e->n_children; c++)
        if (e->children[c].graph == sub) child = e->children[c].exec;
    if (!child) {
        exec_child *grown = onyx_realloc(e->children, (size_t)(e->n_children + 1) * sizeof *grown);
        if (!grown) return ONYX_ERR_OUT_OF_MEMORY;
        e->children = grown;
        ONYX_TRY(onyx_exec_create(sub, &e->cfg, e, &child));
        e->children[e->n_children].graph = sub;
        e->children[e->n_children].exec = child;
        e->n_children++;
    }
    if (child->child_gen != e->run_gen) {
        ONYX_TRY(onyx_exec_run(child));
        child->child_gen = e->run_gen;
        e->stats.host_allocations += child->stats.host_allocations;
        e->stats.nodes_run += child->stats.nodes_run;
        for (int o = 0; o < sub->n_outputs; o++) child->results[o] = &child->vals[sub->outputs[o]];
    }
    *results = child->results;
    return ONYX_OK;
}
