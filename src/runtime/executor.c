/*
 * executor.c - node-by-node execution with per-signature memory plans and shape folding
 * (see executor.h for the scheme).
 *
 * Buffers are indexed 0..n_values-1 for value data, n_values..n_values+n_nodes-1 for node
 * workspaces, and then n_values more for mirrors: the copy of a value on the other device, made
 * when a node placed there reads it. A plan gives each planned buffer a device, an offset and a
 * size in that device's arena.
 *
 * Devices. A node's outputs live on its provider's device; its inputs are brought there (a
 * mirror, counted in device_copies), except host inputs (always on the host) and shape inputs
 * (never copied). Constants read on a device get a mirror that lives as long as the executor, so
 * weights cross the bus once. Outer values of a subgraph are mirrored by the executor that owns
 * them, so If branches share the weights of the enclosing graph.
 */
#include "runtime/executor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "core/host_cache.h"
#include "core/log.h"
#include "core/status.h"

#define EXEC_MAX_PLANS 16
#define EXEC_SIGHTINGS 256  /* signatures remembered for the plan policy (plan_wanted) */
#define EXEC_WASTE_LIMIT 4  /* plans evicted unused before planning turns selective */
#define EXEC_ALIGN 64
#define NOT_PLANNED SIZE_MAX

#define N_DEVICES 2 /* ONYX_DEVICE_CPU, ONYX_DEVICE_CUDA */
#define EXEC_RECORD_TRIES 3 /* unusable graph recordings in a row before runs stop being recorded */

typedef struct exec_plan {
    int64_t *signature;
    size_t arena_bytes[N_DEVICES];
    size_t *offset;       /* per buffer; NOT_PLANNED when not in the arena */
    size_t *size;         /* per buffer: planned bytes */
    unsigned char *device; /* per buffer: the arena it is planned in */
    onyx_tensor *statics; /* per value: data of signature-static values (owned), else empty */
    onyx_tensor *static_mirrors; /* per value: device copies of statics, made on first use (owned) */
    uint64_t stamp;       /* last use, for eviction */
    uint64_t uses;        /* runs that reused it */
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
    unsigned char *given;       /* per value: the bound tensor is e's to destroy (onyx_exec_give) */
    unsigned char *owned;       /* per buffer: allocated on its own this run */
    int *acquired;              /* buffers given memory of their own this run, in order (finish
                                   releases these instead of looking at every buffer) */
    int n_acquired, acquired_overflow;
    void **workspace;           /* per node: this run's workspace */
    int *last_use;              /* per value: last node reading it; n_nodes for graph outputs */
    int *release_start;         /* node i's entries in release_vals are [release_start[i], [i + 1]) */
    int *release_vals;          /* the values each node is the last use of, node by node: its
                                   inputs, and what views it reads and subgraphs it runs keep */
    unsigned char *sig_static;  /* per value: determined by the signature alone */
    unsigned char *node_static; /* per node: all outputs signature-static */
    int *outer_id;              /* per value: for OUTER values, the id in outer_exec */
    onyx_exec **outer_exec;
    int *bind_values;           /* values each run binds before the nodes: inputs, constants,
                                   outer values (node outputs are set by their nodes) */
    int n_bind_values;
    int *sig_values;            /* values whose dtype and shape make up the signature */
    int n_sig_values;
    int64_t *sig_scratch;       /* n_sig_values * (2 + ONYX_MAX_RANK) */
    const onyx_tensor **in_buf; /* scratch for kernel inputs/outputs */
    onyx_tensor **out_buf;
    int max_io;
    exec_plan plans[EXEC_MAX_PLANS];
    int n_plans;
    uint64_t clock;
    /* The plan policy (plan_wanted): plans evicted unused since the last reuse, runs so far,
     * and the run each recently seen signature (by hash) last came in. */
    int plan_waste;
    uint64_t runs;
    uint64_t sight_hash[EXEC_SIGHTINGS];
    uint64_t sight_run[EXEC_SIGHTINGS];
    int sight_next;
    size_t *rec_size;           /* per buffer: recorded bytes (recording runs) */
    unsigned char *rec_device;  /* per buffer: its device (recording runs) */
    unsigned char *buf_device;  /* per buffer: device of an owned buffer */
    void *arena[N_DEVICES];
    size_t arena_bytes[N_DEVICES];
    onyx_provider *device_provider[N_DEVICES]; /* NULL for the host: host memory is ours */
    onyx_tensor *mirror;        /* per value: its copy on the other device this run */
    unsigned char *mirror_live;
    onyx_tensor *const_mirror;  /* per value: constants copied to the device once */
    unsigned char *const_mirror_ready;
    onyx_tensor **out_dst;      /* per value: caller's preallocated output, or NULL */
    unsigned char *detach;      /* per value: allocate on its own, to hand to the caller */
    exec_plan *cur_plan;        /* the plan of the run in progress (NULL when recording) */
    exec_child *children;
    int n_children;
    uint64_t run_gen;           /* incremented per node executed, for subgraph result reuse */
    uint64_t child_gen;         /* run_gen of the parent node this exec last ran for */
    onyx_tensor **results;      /* per graph output: pointer into vals (for run_subgraph) */
    onyx_run_stats stats;
    uint64_t *prof_ns;          /* per node, with cfg.profile */
    uint64_t *prof_calls;
    /* Static memo (recording runs): a copy of each signature-static value a host node computed,
     * and the run its content last changed in. A static node whose inputs did not change this
     * run is not run again; its outputs are views of the copies. */
    unsigned char *memo_node;   /* per node: 1 may be skipped this way, 2 a Shape/Size tracked by its
                                   input's shape, 0 neither */
    int64_t *memo_in_shape;     /* per node (1 + ONYX_MAX_RANK): for memo_node 2, the rank and dims of
                                   input 0 when it last ran (rank -1: none) */
    uint64_t *memo_ran;         /* per node: the run it last ran in (0: never) */
    onyx_tensor *memo_val;      /* per value: the copy (its buffer owned, memo_cap bytes), or empty */
    size_t *memo_cap;
    uint64_t *memo_run;         /* per value: the run its copy's content last changed in (0: no valid copy) */
    /* Graph recording (onyx_exec_run): recordings refused or unusable in a row, and recording
     * given up (after EXEC_RECORD_TRIES of them). */
    int record_fails;
    int record_off;
    onyx_provider *recorder;    /* the provider recording this main-graph executor's run, or NULL */
    onyx_exec *root;            /* the main graph's executor */
};

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

/* Whether OUTER value v of e is a constant of an enclosing graph (not an overridable one), or
 * an OUTER value the enclosing executor found constant. Needs exec_resolve_outer. */
static int outer_is_constant(const onyx_exec *e, int v) {
    const onyx_exec *p = e->outer_exec[v];
    int id = e->outer_id[v];
    if (!p || id < 0) return 0;
    const onyx_value *pv = &p->g->values[id];
    if (pv->kind == ONYX_VALUE_CONSTANT) return !value_is_overridable(p->g, id);
    return pv->kind == ONYX_VALUE_OUTER && p->sig_static[id];
}

static onyx_status exec_analyse(onyx_exec *e) {
    const onyx_graph *g = e->g;
    int nv = g->n_values, nn = g->n_nodes;
    unsigned char *shape_known = onyx_calloc((size_t)nv + 1, 1); /* shape fixed by the signature */
    if (!shape_known) return ONYX_ERR_OUT_OF_MEMORY;
    for (int v = 0; v < nv; v++) {
        e->last_use[v] = -1;
        onyx_value_kind kind = g->values[v].kind;
        if (kind != ONYX_VALUE_INTERMEDIATE) e->bind_values[e->n_bind_values++] = v;
        int over = value_is_overridable(g, v);
        if (kind == ONYX_VALUE_OUTER && outer_is_constant(e, v)) {
            /* an enclosing graph's weight (Optimum's merged decoders keep the branches' weights
             * outside them): as fixed as a constant of this graph */
            shape_known[v] = 1;
            e->sig_static[v] = 1;
        } else if (kind == ONYX_VALUE_INPUT || kind == ONYX_VALUE_OUTER || over) {
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
        int sub = onyx_node_has_subgraph(n);
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
    /* A node that may alias output 0 to input 0 (a view) keeps input 0 alive as long as output 0
     * is read; backwards, so chains of views (Reshape -> Unsqueeze) carry the last use through. */
    for (int i = nn - 1; i >= 0; i--) {
        const onyx_node *n = &g->nodes[i];
        if (!n->kernel || !(n->kernel->flags & (ONYX_KERNEL_ALIAS_OUTPUT | ONYX_KERNEL_MAY_ALIAS_OUTPUT)) ||
            n->n_inputs < 1 || n->n_outputs < 1 ||
            n->inputs[0] < 0 || n->outputs[0] < 0)
            continue;
        if (e->last_use[n->outputs[0]] > e->last_use[n->inputs[0]]) e->last_use[n->inputs[0]] = e->last_use[n->outputs[0]];
    }
    onyx_free(shape_known);
    /* What to release after each node: every value whose last use it is. Not only its inputs:
     * a view's source (Softmax -> Identity -> MatMul) is last used by the view's reader, and an
     * outer value by the node whose subgraph reads it. */
    e->release_start = onyx_calloc((size_t)nn + 2, sizeof *e->release_start);
    e->release_vals = onyx_calloc((size_t)nv + 1, sizeof *e->release_vals);
    if (!e->release_start || !e->release_vals) return ONYX_ERR_OUT_OF_MEMORY;
    for (int v = 0; v < nv; v++)
        if (e->last_use[v] >= 0 && e->last_use[v] < nn) e->release_start[e->last_use[v] + 2]++;
    for (int i = 0; i < nn; i++) e->release_start[i + 2] += e->release_start[i + 1];
    for (int v = 0; v < nv; v++)
        if (e->last_use[v] >= 0 && e->last_use[v] < nn) e->release_vals[e->release_start[e->last_use[v] + 1]++] = v;
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

static void memo_analyse(onyx_exec *e);
static void memo_reset(onyx_exec *e);

onyx_status onyx_exec_create(const onyx_graph *g, const onyx_exec_config *config, onyx_exec *parent, onyx_exec **out) {
    *out = NULL;
    onyx_exec *e = onyx_calloc(1, sizeof *e);
    if (!e) return ONYX_ERR_OUT_OF_MEMORY;
    e->g = g;
    e->cfg = *config;
    e->parent = parent;
    e->root = parent ? parent->root : e;
    for (int p = 0; p < config->n_providers; p++) {
        onyx_provider *prov = config->providers[p];
        if (prov->ops->device != ONYX_DEVICE_CPU && !e->device_provider[prov->ops->device])
            e->device_provider[prov->ops->device] = prov;
    }
    int nv = g->n_values, nn = g->n_nodes;
    e->n_buffers = nv + nn + nv;
    size_t nb = (size_t)e->n_buffers + 1;
    e->vals = onyx_calloc((size_t)nv + 1, sizeof *e->vals);
    e->bound = onyx_calloc((size_t)nv + 1, sizeof *e->bound);
    e->given = onyx_calloc((size_t)nv + 1, 1);
    e->owned = onyx_calloc(nb, 1);
    e->acquired = onyx_calloc(nb, sizeof *e->acquired);
    e->workspace = onyx_calloc((size_t)nn + 1, sizeof *e->workspace);
    e->last_use = onyx_calloc((size_t)nv + 1, sizeof *e->last_use);
    e->sig_static = onyx_calloc((size_t)nv + 1, 1);
    e->node_static = onyx_calloc((size_t)nn + 1, 1);
    e->outer_id = onyx_calloc((size_t)nv + 1, sizeof *e->outer_id);
    e->outer_exec = onyx_calloc((size_t)nv + 1, sizeof *e->outer_exec);
    e->sig_values = onyx_calloc((size_t)nv + 1, sizeof *e->sig_values);
    e->bind_values = onyx_calloc((size_t)nv + 1, sizeof *e->bind_values);
    e->rec_size = onyx_calloc(nb, sizeof *e->rec_size);
    e->rec_device = onyx_calloc(nb, 1);
    e->buf_device = onyx_calloc(nb, 1);
    e->mirror = onyx_calloc((size_t)nv + 1, sizeof *e->mirror);
    e->mirror_live = onyx_calloc((size_t)nv + 1, 1);
    e->const_mirror = onyx_calloc((size_t)nv + 1, sizeof *e->const_mirror);
    e->const_mirror_ready = onyx_calloc((size_t)nv + 1, 1);
    e->out_dst = onyx_calloc((size_t)nv + 1, sizeof *e->out_dst);
    e->detach = onyx_calloc((size_t)nv + 1, 1);
    e->results = onyx_calloc((size_t)g->n_outputs + 1, sizeof *e->results);
    e->prof_ns = onyx_calloc((size_t)nn + 1, sizeof *e->prof_ns);
    e->prof_calls = onyx_calloc((size_t)nn + 1, sizeof *e->prof_calls);
    e->memo_node = onyx_calloc((size_t)nn + 1, 1);
    e->memo_in_shape = onyx_calloc(((size_t)nn + 1) * (1 + ONYX_MAX_RANK), sizeof *e->memo_in_shape);
    e->memo_ran = onyx_calloc((size_t)nn + 1, sizeof *e->memo_ran);
    e->memo_val = onyx_calloc((size_t)nv + 1, sizeof *e->memo_val);
    e->memo_cap = onyx_calloc((size_t)nv + 1, sizeof *e->memo_cap);
    e->memo_run = onyx_calloc((size_t)nv + 1, sizeof *e->memo_run);
    onyx_status st = ONYX_OK;
    if (!e->vals || !e->bound || !e->given || !e->owned || !e->acquired || !e->workspace || !e->last_use || !e->sig_static || !e->node_static ||
        !e->outer_id || !e->outer_exec || !e->sig_values || !e->bind_values || !e->rec_size || !e->rec_device || !e->buf_device ||
        !e->mirror || !e->mirror_live || !e->const_mirror || !e->const_mirror_ready || !e->out_dst || !e->detach ||
        !e->results || !e->prof_ns || !e->prof_calls || !e->memo_node || !e->memo_in_shape || !e->memo_ran || !e->memo_val || !e->memo_cap ||
        !e->memo_run)
        st = ONYX_ERR_OUT_OF_MEMORY;
    if (st == ONYX_OK) st = exec_resolve_outer(e);
    if (st == ONYX_OK) st = exec_analyse(e);
    if (st == ONYX_OK) memo_analyse(e);
    if (st == ONYX_OK) {
        e->sig_scratch = onyx_calloc((size_t)e->n_sig_values * (2 + ONYX_MAX_RANK) + 1, sizeof(int64_t));
        e->in_buf = onyx_calloc((size_t)e->max_io + 1, sizeof *e->in_buf);
        e->out_buf = onyx_calloc((size_t)e->max_io + 1, sizeof *e->out_buf);
        if (!e->sig_scratch || !e->in_buf || !e->out_buf) st = ONYX_ERR_OUT_OF_MEMORY;
    }
    for (int v = 0; v < nv && e->vals; v++) onyx_tensor_init(&e->vals[v]);
    for (int v = 0; v < nv && e->memo_val; v++) onyx_tensor_init(&e->memo_val[v]);
    for (int v = 0; v < nv && e->mirror && e->const_mirror; v++) {
        onyx_tensor_init(&e->mirror[v]);
        onyx_tensor_init(&e->const_mirror[v]);
    }
    if (st != ONYX_OK) {
        onyx_exec_destroy(e);
        return st;
    }
    *out = e;
    return ONYX_OK;
}

/* ---- device memory ---- */

static void *device_alloc(onyx_exec *e, onyx_device_type dev, size_t bytes) {
    if (dev == ONYX_DEVICE_CPU) return onyx_malloc_aligned(bytes);
    onyx_provider *p = e->device_provider[dev];
    void *ptr = NULL;
    if (!p || p->ops->alloc(p, bytes, &ptr) != ONYX_OK) return NULL;
    return ptr;
}

/* Memory for the executor's lifetime (weight mirrors): exactly sized where the provider can. */
static void *device_alloc_persistent(onyx_exec *e, onyx_device_type dev, size_t bytes) {
    onyx_provider *p = dev == ONYX_DEVICE_CPU ? NULL : e->device_provider[dev];
    if (!p || !p->ops->alloc_persistent) return device_alloc(e, dev, bytes);
    void *ptr = NULL;
    if (p->ops->alloc_persistent(p, bytes, &ptr) != ONYX_OK) return NULL;
    return ptr;
}

static void device_free(onyx_exec *e, onyx_device_type dev, void *ptr) {
    if (!ptr) return;
    if (dev == ONYX_DEVICE_CPU) onyx_free_aligned(ptr);
    else if (e->device_provider[dev]) e->device_provider[dev]->ops->free(e->device_provider[dev], ptr);
}

/* Copy bytes between any two devices through the device provider involved; copies between
 * devices are counted in the run's stats (zero-byte ones too: a mirror of an empty tensor). */
static onyx_status device_copy(onyx_exec *e, void *dst, onyx_device_type dst_dev, const void *src,
                               onyx_device_type src_dev, size_t bytes) {
    if (dst_dev != src_dev) {
        e->stats.device_copies++;
        e->stats.device_bytes_copied += bytes;
    }
    if (!bytes) return ONYX_OK;
    if (dst_dev == ONYX_DEVICE_CPU && src_dev == ONYX_DEVICE_CPU) {
        memmove(dst, src, bytes);
        return ONYX_OK;
    }
    onyx_provider *p = e->device_provider[dst_dev != ONYX_DEVICE_CPU ? dst_dev : src_dev];
    if (!p)
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "%s: a tensor is on the %s, but the session has no provider for it",
                          e->cfg.model_name, (dst_dev != ONYX_DEVICE_CPU ? dst_dev : src_dev) == ONYX_DEVICE_CUDA ? "GPU" : "device");
    return p->ops->copy(p, dst, dst_dev, src, src_dev, bytes);
}

static void plan_free(const onyx_exec *e, exec_plan *p) {
    if (p->statics)
        for (int v = 0; v < e->g->n_values; v++) {
            onyx_tensor *t = &p->statics[v];
            if (t->device != ONYX_DEVICE_CPU && t->owns_data) {
                device_free((onyx_exec *)e, t->device, t->data);
                onyx_tensor_init(t);
            }
            onyx_tensor_release(t);
        }
    if (p->static_mirrors)
        for (int v = 0; v < e->g->n_values; v++)
            if (p->static_mirrors[v].data) device_free((onyx_exec *)e, p->static_mirrors[v].device, p->static_mirrors[v].data);
    onyx_free(p->static_mirrors);
    onyx_free(p->statics);
    onyx_free(p->signature);
    onyx_free(p->offset);
    onyx_free(p->size);
    onyx_free(p->device);
    memset(p, 0, sizeof *p);
}

void onyx_exec_destroy(onyx_exec *e) {
    if (!e) return;
    if (e->bound && e->given && e->vals) onyx_exec_release_given(e);
    if (e->vals && e->owned && e->workspace && e->mirror && e->mirror_live && e->buf_device)
        onyx_exec_finish(e); /* partial creation: nothing owned yet */
    for (int i = 0; i < e->n_plans; i++) plan_free(e, &e->plans[i]);
    if (e->memo_val && e->memo_run && e->memo_cap) memo_reset(e);
    for (int i = 0; i < e->n_children; i++) onyx_exec_destroy(e->children[i].exec);
    if (e->const_mirror && e->const_mirror_ready)
        for (int v = 0; v < e->g->n_values; v++)
            if (e->const_mirror_ready[v]) device_free(e, e->const_mirror[v].device, e->const_mirror[v].data);
    onyx_free(e->children);
    for (int d = 0; d < N_DEVICES; d++) device_free(e, (onyx_device_type)d, e->arena[d]);
    onyx_free(e->vals);
    onyx_free(e->bound);
    onyx_free(e->given);
    onyx_free(e->owned);
    onyx_free(e->acquired);
    onyx_free(e->workspace);
    onyx_free(e->last_use);
    onyx_free(e->release_start);
    onyx_free(e->release_vals);
    onyx_free(e->sig_static);
    onyx_free(e->node_static);
    onyx_free(e->outer_id);
    onyx_free(e->outer_exec);
    onyx_free(e->sig_values);
    onyx_free(e->bind_values);
    onyx_free(e->sig_scratch);
    onyx_free(e->in_buf);
    onyx_free(e->out_buf);
    onyx_free(e->rec_size);
    onyx_free(e->rec_device);
    onyx_free(e->buf_device);
    onyx_free(e->mirror);
    onyx_free(e->mirror_live);
    onyx_free(e->const_mirror);
    onyx_free(e->const_mirror_ready);
    onyx_free(e->memo_node);
    onyx_free(e->memo_in_shape);
    onyx_free(e->memo_ran);
    onyx_free(e->memo_val);
    onyx_free(e->memo_cap);
    onyx_free(e->memo_run);
    onyx_free(e->out_dst);
    onyx_free(e->detach);
    onyx_free(e->results);
    onyx_free(e->prof_ns);
    onyx_free(e->prof_calls);
    onyx_free(e);
}

void onyx_exec_node_time(const onyx_exec *e, int node, uint64_t *ns, uint64_t *calls) {
    *ns = e->prof_ns[node];
    *calls = e->prof_calls[node];
}

static int node_owns_graph(const onyx_node *n, const onyx_graph *sub) {
    for (int a = 0; a < n->n_attrs; a++) {
        const onyx_attr *attr = &n->attrs[a];
        if (attr->type == ONYX_ATTR_GRAPH && attr->g == sub) return 1;
        for (size_t k = 0; attr->type == ONYX_ATTR_GRAPHS && k < attr->count; k++)
            if (attr->graphs[k] == sub) return 1;
    }
    return 0;
}

static uint64_t exec_total_ns(const onyx_exec *e) {
    uint64_t sum = 0;
    for (int i = 0; i < e->g->n_nodes; i++) sum += e->prof_ns[i];
    return sum;
}

void onyx_exec_each_node_time(const onyx_exec *e, void (*fn)(void *ctx, const onyx_node *n, uint64_t ns, uint64_t calls),
                              void *ctx) {
    for (int i = 0; i < e->g->n_nodes; i++) {
        const onyx_node *n = &e->g->nodes[i];
        uint64_t ns = e->prof_ns[i], inner = 0;
        for (int c = 0; c < e->n_children; c++)
            if (node_owns_graph(n, e->children[c].graph)) inner += exec_total_ns(e->children[c].exec);
        fn(ctx, n, ns > inner ? ns - inner : 0, e->prof_calls[i]);
    }
    for (int c = 0; c < e->n_children; c++) onyx_exec_each_node_time(e->children[c].exec, fn, ctx);
}

void onyx_exec_profile_reset(onyx_exec *e) {
    if (!e) return;
    memset(e->prof_ns, 0, (size_t)e->g->n_nodes * sizeof *e->prof_ns);
    memset(e->prof_calls, 0, (size_t)e->g->n_nodes * sizeof *e->prof_calls);
    for (int c = 0; c < e->n_children; c++) onyx_exec_profile_reset(e->children[c].exec);
}

uint64_t onyx_clock_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void onyx_exec_bind(onyx_exec *e, int value_id, const onyx_tensor *t) { e->bound[value_id] = t; }

void onyx_exec_give(onyx_exec *e, int value_id) {
    if (e->bound[value_id]) e->given[value_id] = 1;
}

/* Destroy given input v's tensor: its last reader is done (or the run is). */
static void given_destroy(onyx_exec *e, int v) {
    onyx_tensor_destroy((onyx_tensor *)e->bound[v]);
    e->bound[v] = NULL;
    e->given[v] = 0;
    e->vals[v].data = NULL; /* the run's view of it */
}

void onyx_exec_release_given(onyx_exec *e) {
    for (int k = 0; k < e->n_bind_values; k++) /* given values are bound inputs */
        if (e->given[e->bind_values[k]]) given_destroy(e, e->bind_values[k]);
}

void onyx_exec_bind_output(onyx_exec *e, int value_id, onyx_tensor *dst) { e->out_dst[value_id] = dst; }

void onyx_exec_set_detach(onyx_exec *e, int value_id, int detach) { e->detach[value_id] = (unsigned char)(detach != 0); }

void onyx_exec_stats(const onyx_exec *e, onyx_run_stats *out) {
    size_t size = out->struct_size;
    *out = e->stats;
    out->struct_size = size;
}

/* A view: same dtype, shape and data; never owns. */
static void tensor_view(onyx_tensor *dst, const onyx_tensor *src) {
    *dst = *src;
    dst->owns_data = 0;
    dst->release = NULL;
    dst->release_ctx = NULL;
}

/* ---- the static memo ----
 * A decode loop runs the decoder at a new past length every step, so every step is a recording
 * run, and a recording run computes every signature-static value again: the shape arithmetic
 * of the graph (Shape, Gather, Unsqueeze, Concat, ... on the host), about 900 nodes in GPT2.
 * Most of it does not depend on the past length (the Reshape targets of each layer), so the
 * host nodes that compute static values keep a copy of their outputs, and a node none of whose
 * inputs changed since it last ran takes its copies instead of running. Shape and Size of
 * non-static values read this run's shapes: they take their copies when their input has the
 * shape it had when they last ran, and run otherwise; a value's change is found by comparing it
 * with its copy. Runs are numbered: a node is skipped only when every input's
 * content last changed no later than the run the node last ran in, so a run that failed half
 * way leaves nothing stale (its later nodes run next time). A copy's buffer is reused while it
 * fits and is freed with the executor; when a larger one cannot be had, the copy is marked
 * invalid and its readers run. */

static void memo_reset(onyx_exec *e) {
    for (int v = 0; v < e->g->n_values; v++) {
        if (e->memo_val[v].data) onyx_free_aligned(e->memo_val[v].data);
        onyx_tensor_init(&e->memo_val[v]);
        e->memo_cap[v] = 0;
        e->memo_run[v] = 0;
    }
}

static int is_random_op(const onyx_node *n) {
    return !strcmp(n->domain, "") && (!strncmp(n->op_type, "Random", 6) || !strcmp(n->op_type, "Multinomial") ||
                                       !strcmp(n->op_type, "Bernoulli"));
}

/* memo_node[i]: 1 for static host nodes that may be skipped, 2 for Shape/Size of non-static
 * values (skipped by their input's shape), 0 for the rest (device nodes, random ops, subgraphs,
 * nodes writing graph outputs or strings). */
static void memo_analyse(onyx_exec *e) {
    const onyx_graph *g = e->g;
    for (int i = 0; i < g->n_nodes; i++) {
        const onyx_node *n = &g->nodes[i];
        e->memo_node[i] = 0;
        e->memo_in_shape[(size_t)i * (1 + ONYX_MAX_RANK)] = -1; /* no input shape recorded yet */
        if (!e->node_static[i] || n->provider < 0 || n->provider >= e->cfg.n_providers ||
            e->cfg.providers[n->provider]->ops->device != ONYX_DEVICE_CPU || is_random_op(n) ||
            onyx_node_has_subgraph(n))
            continue;
        int ok = 1, inputs_static = 1;
        for (int o = 0; o < n->n_outputs && ok; o++) {
            int v = n->outputs[o];
            if (v < 0) continue;
            if (e->last_use[v] >= g->n_nodes || g->values[v].is_graph_output || g->values[v].dtype == ONYX_DTYPE_STRING ||
                g->values[v].dtype == ONYX_DTYPE_UNDEFINED)
                ok = 0;
        }
        for (int k = 0; k < n->n_inputs; k++)
            if (n->inputs[k] >= 0 && !e->sig_static[n->inputs[k]]) inputs_static = 0;
        if (ok) e->memo_node[i] = inputs_static ? 1 : 2;
    }
}

/* Whether Shape/Size node i (memo_node 2) may take its copies: it ran before, its outputs have
 * valid copies, and input 0 has the shape it had then. */
static int memo_shape_reusable(const onyx_exec *e, int i) {
    const onyx_node *n = &e->g->nodes[i];
    const int64_t *rec = e->memo_in_shape + (size_t)i * (1 + ONYX_MAX_RANK);
    if (!e->memo_ran[i] || n->n_inputs < 1 || n->inputs[0] < 0 || rec[0] < 0) return 0;
    for (int o = 0; o < n->n_outputs; o++)
        if (n->outputs[o] >= 0 && !e->memo_run[n->outputs[o]]) return 0;
    const onyx_tensor *t = &e->vals[n->inputs[0]];
    return t->rank == rec[0] && !memcmp(t->dims, rec + 1, (size_t)t->rank * sizeof *t->dims);
}

/* Whether node i (memo_node 1) may take its copies in this run: it ran before, each output has
 * a valid copy, and no input changed since (constants never do; an untracked input always may). */
static int memo_reusable(const onyx_exec *e, int i) {
    const onyx_node *n = &e->g->nodes[i];
    uint64_t ran = e->memo_ran[i];
    if (!ran) return 0;
    for (int o = 0; o < n->n_outputs; o++)
        if (n->outputs[o] >= 0 && !e->memo_run[n->outputs[o]]) return 0;
    for (int k = 0; k < n->n_inputs; k++) {
        int v = n->inputs[k];
        if (v < 0) continue;
        onyx_value_kind kind = e->g->values[v].kind;
        if (!e->bound[v] && (kind == ONYX_VALUE_CONSTANT || (kind == ONYX_VALUE_OUTER && e->sig_static[v]))) continue;
        if (!e->memo_run[v] || e->memo_run[v] > ran) return 0;
    }
    return 1;
}

static int same_tensor(const onyx_tensor *a, const onyx_tensor *b) {
    return a->dtype == b->dtype && a->rank == b->rank && a->nbytes == b->nbytes &&
           !memcmp(a->dims, b->dims, (size_t)a->rank * sizeof *a->dims) &&
           (!a->nbytes || (a->data && b->data && !memcmp(a->data, b->data, a->nbytes)));
}

/* After node i ran: copy each output whose content changed, and mark the run it changed in. */
static void memo_record(onyx_exec *e, int i) {
    const onyx_node *n = &e->g->nodes[i];
    e->memo_ran[i] = e->runs;
    if (e->memo_node[i] == 2 && n->n_inputs >= 1 && n->inputs[0] >= 0) {
        const onyx_tensor *t = &e->vals[n->inputs[0]];
        int64_t *rec = e->memo_in_shape + (size_t)i * (1 + ONYX_MAX_RANK);
        rec[0] = t->rank;
        memcpy(rec + 1, t->dims, (size_t)t->rank * sizeof *t->dims);
    }
    for (int o = 0; o < n->n_outputs; o++) {
        int v = n->outputs[o];
        if (v < 0) continue;
        const onyx_tensor *t = &e->vals[v];
        onyx_tensor *m = &e->memo_val[v];
        if (e->memo_run[v] && t->device == ONYX_DEVICE_CPU && same_tensor(t, m)) continue;
        e->memo_run[v] = 0;
        if (t->device != ONYX_DEVICE_CPU || (t->nbytes && !t->data)) continue;
        void *buf = m->data;
        if (!buf || t->nbytes > e->memo_cap[v]) {
            buf = onyx_malloc_aligned(t->nbytes);
            if (!buf) continue; /* the old buffer stays for a later, smaller copy */
            if (m->data) onyx_free_aligned(m->data);
            e->memo_cap[v] = t->nbytes;
        }
        if (t->nbytes) memcpy(buf, t->data, t->nbytes);
        tensor_view(m, t);
        m->data = buf;
        e->memo_run[v] = e->runs;
    }
}

#define MIRROR_BUFFER(e, v) ((e)->g->n_values + (e)->g->n_nodes + (v))

static void buffer_release(onyx_exec *e, int b) {
    if (!e->owned[b]) return;
    e->owned[b] = 0;
    int nv = e->g->n_values, nn = e->g->n_nodes;
    onyx_device_type dev = (onyx_device_type)e->buf_device[b];
    if (b < nv) {
        onyx_tensor *t = &e->vals[b];
        if (t->dtype == ONYX_DTYPE_STRING && t->data) {
            onyx_string *s = t->data;
            int64_t n = onyx_shape_numel(t->dims, t->rank);
            for (int64_t i = 0; i < n; i++) onyx_free((void *)s[i].data);
        }
        device_free(e, dev, t->data);
        t->data = NULL;
    } else if (b < nv + nn) {
        device_free(e, dev, e->workspace[b - nv]);
        e->workspace[b - nv] = NULL;
    } else {
        int v = b - nv - nn;
        device_free(e, dev, e->mirror[v].data);
        onyx_tensor_init(&e->mirror[v]);
        e->mirror_live[v] = 0;
    }
}

void onyx_exec_finish(onyx_exec *e) {
    if (e->acquired_overflow) {
        for (int b = 0; b < e->n_buffers; b++) buffer_release(e, b);
    } else {
        for (int i = 0; i < e->n_acquired; i++) buffer_release(e, e->acquired[i]);
    }
    e->n_acquired = 0;
    e->acquired_overflow = 0;
    memset(e->mirror_live, 0, (size_t)e->g->n_values);
    for (int i = 0; i < e->n_children; i++) onyx_exec_finish(e->children[i].exec);
}

/* Buffer b holds memory of its own on dev, for finish (or its last reader) to release. */
static void mark_owned(onyx_exec *e, int b, onyx_device_type dev) {
    e->owned[b] = 1;
    if (e->n_acquired < e->n_buffers) e->acquired[e->n_acquired++] = b;
    else e->acquired_overflow = 1; /* a buffer acquired again (a mirror moved): finish looks at all */
    e->buf_device[b] = (unsigned char)dev;
}

/* Give buffer b (bytes on dev) memory: the caller's preallocated output, its planned place, or
 * an allocation of its own. */
static onyx_status buffer_acquire(onyx_exec *e, const exec_plan *plan, int b, size_t bytes, onyx_device_type dev,
                                  void **out) {
    int nv = e->g->n_values;
    if (b < nv && e->out_dst[b]) {
        const onyx_tensor *dst = e->out_dst[b];
        const onyx_tensor *t = &e->vals[b];
        if (dst->device == dev && dst->dtype == t->dtype && dst->nbytes == bytes && dst->rank == t->rank &&
            !memcmp(dst->dims, t->dims, (size_t)t->rank * sizeof *t->dims) && (dst->data || !bytes)) {
            *out = dst->data;
            if (!plan) e->rec_size[b] = NOT_PLANNED;
            return ONYX_OK;
        }
    }
    int detached = b < nv && e->detach[b];
    if (!detached && plan && plan->offset[b] != NOT_PLANNED && plan->device[b] == dev && bytes <= plan->size[b]) {
        *out = (char *)e->arena[dev] + plan->offset[b];
        return ONYX_OK;
    }
    /* an output to hand over on the host: a block the caller's earlier outputs gave back, when one fits */
    void *p = detached && dev == ONYX_DEVICE_CPU ? onyx_host_cache_alloc(bytes) : device_alloc(e, dev, bytes);
    if (!p) return onyx_error_prefix(ONYX_ERR_OUT_OF_MEMORY, "%s: ", e->cfg.model_name);
    /* Strings need their element slots zeroed so release can free them. */
    if (b < nv && e->vals[b].dtype == ONYX_DTYPE_STRING) memset(p, 0, bytes);
    mark_owned(e, b, dev);
    if (dev == ONYX_DEVICE_CPU && !detached) e->stats.host_allocations++; /* outputs handed over are not counted */
    if (!plan) {
        e->rec_size[b] = detached ? NOT_PLANNED : bytes;
        e->rec_device[b] = (unsigned char)dev;
    }
    *out = p;
    return ONYX_OK;
}

/* A copy of t on dev in memory of its own (not the arena), for mirrors that outlive a run. Not
 * while the run is recorded as a graph: a recording that is then dropped would leave the mirror
 * marked made but never copied, so the run goes again without a recording (onyx_exec_run). */
static onyx_status persistent_mirror(onyx_exec *e, const onyx_tensor *t, onyx_device_type dev, const char *name,
                                     onyx_tensor *m) {
    if (e->root->recorder)
        return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "%s: the first copy of '%s' to the device is not recorded in a graph",
                          e->cfg.model_name, name);
    tensor_view(m, t);
    m->device = dev;
    m->data = device_alloc_persistent(e, dev, t->nbytes);
    if (!m->data) {
        onyx_tensor_init(m);
        return onyx_error_prefix(ONYX_ERR_OUT_OF_MEMORY, "%s: copying '%s' to the device: ", e->cfg.model_name, name);
    }
    onyx_status st = device_copy(e, m->data, dev, t->data, t->device, t->nbytes);
    if (st != ONYX_OK) {
        device_free(e, dev, m->data);
        onyx_tensor_init(m);
        return st;
    }
    return ONYX_OK;
}

/* Value v of e, readable on device dev: the value itself, or its mirror there (made now and
 * counted when it does not exist yet). */
static onyx_status exec_input_on(onyx_exec *e, int v, onyx_device_type dev, const onyx_tensor **out) {
    const onyx_tensor *t = &e->vals[v];
    if (t->device == dev) {
        *out = t;
        return ONYX_OK;
    }
    const onyx_value *val = &e->g->values[v];
    if (val->kind == ONYX_VALUE_OUTER && !e->bound[v])
        return exec_input_on(e->outer_exec[v], e->outer_id[v], dev, out);
    if (val->kind == ONYX_VALUE_CONSTANT && !e->bound[v] && dev != ONYX_DEVICE_CPU) {
        /* A weight: copied to the device once, for the executor's lifetime. */
        if (!e->const_mirror_ready[v]) {
            ONYX_TRY(persistent_mirror(e, t, dev, val->name, &e->const_mirror[v]));
            e->const_mirror_ready[v] = 1;
        }
        *out = &e->const_mirror[v];
        return ONYX_OK;
    }
    exec_plan *plan = e->cur_plan;
    if (plan && e->sig_static[v] && plan->statics[v].data && t->data == plan->statics[v].data && dev != ONYX_DEVICE_CPU) {
        /* A value fixed by the input shapes (a causal mask, position ranges): copied to the
         * device once per plan, like a weight. */
        if (!plan->static_mirrors[v].data) ONYX_TRY(persistent_mirror(e, t, dev, val->name, &plan->static_mirrors[v]));
        *out = &plan->static_mirrors[v];
        return ONYX_OK;
    }
    onyx_tensor *m = &e->mirror[v];
    if (!e->mirror_live[v] || m->device != dev) {
        if (e->mirror_live[v]) buffer_release(e, MIRROR_BUFFER(e, v));
        tensor_view(m, t);
        m->device = dev;
        m->data = NULL;
        ONYX_TRY(buffer_acquire(e, e->cur_plan, MIRROR_BUFFER(e, v), t->nbytes, dev, &m->data));
        e->mirror_live[v] = 1;
        ONYX_TRY(device_copy(e, m->data, dev, t->data, t->device, t->nbytes));
    }
    *out = m;
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

/* Whether the recording run of the signature in sig_scratch should leave a plan. A plan costs a
 * planning pass (quadratic in the buffers) and memory, and pays off only if the signature comes
 * back while the plan is cached (EXEC_MAX_PLANS, least recently used evicted). The distance
 * since a signature was last seen predicts the next one: a signature seen before is planned
 * when that distance is within the cache's reach. A signature not seen before is planned unless
 * EXEC_WASTE_LIMIT plans in a row were evicted unused (decoding: every step has a new past
 * length, and comes back, if at all, a whole generation later). */
static int plan_wanted(onyx_exec *e, int len) {
    uint64_t hash = 1469598103934665603ull; /* FNV-1a over the signature's words */
    for (int i = 0; i < len; i++) hash = (hash ^ (uint64_t)e->sig_scratch[i]) * 1099511628211ull;
    int found = -1;
    for (int i = 0; i < EXEC_SIGHTINGS && found < 0; i++)
        if (e->sight_run[i] && e->sight_hash[i] == hash) found = i;
    uint64_t last = found >= 0 ? e->sight_run[found] : 0;
    if (found < 0) {
        found = e->sight_next;
        e->sight_next = (e->sight_next + 1) % EXEC_SIGHTINGS;
        e->sight_hash[found] = hash;
    }
    e->sight_run[found] = e->runs;
    if (last) return e->runs - last <= EXEC_MAX_PLANS;
    return e->plan_waste < EXEC_WASTE_LIMIT;
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
    int device;
    int start, end; /* node interval during which the buffer is live */
    size_t size;
    size_t offset;
} plan_item;

static int plan_item_by_size(const void *a, const void *b) {
    const plan_item *x = a, *y = b;
    if (x->device != y->device) return x->device - y->device;
    if (x->size != y->size) return x->size < y->size ? 1 : -1;
    return x->buffer - y->buffer;
}

static int plan_item_by_offset(const void *a, const void *b) {
    const plan_item *x = *(const plan_item *const *)a, *y = *(const plan_item *const *)b;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* Greedy best-known heuristic, per device: largest buffers first, each at the lowest offset
 * where it does not overlap any placed buffer of the same device whose lifetime intersects its
 * own. */
static onyx_status plan_offsets(plan_item *items, int n, size_t *arena_bytes) {
    plan_item **live = onyx_malloc((size_t)(n ? n : 1) * sizeof *live);
    if (!live) return ONYX_ERR_OUT_OF_MEMORY;
    qsort(items, (size_t)n, sizeof *items, plan_item_by_size);
    size_t total[N_DEVICES] = {0};
    for (int i = 0; i < n; i++) {
        int n_live = 0;
        for (int j = 0; j < i; j++)
            if (items[j].device == items[i].device && items[j].start <= items[i].end && items[i].start <= items[j].end)
                live[n_live++] = &items[j];
        qsort(live, (size_t)n_live, sizeof *live, plan_item_by_offset);
        size_t offset = 0;
        for (int j = 0; j < n_live; j++) {
            if (live[j]->offset >= offset + items[i].size) break;
            size_t end = live[j]->offset + live[j]->size;
            end = (end + EXEC_ALIGN - 1) & ~(size_t)(EXEC_ALIGN - 1);
            if (end > offset) offset = end;
        }
        items[i].offset = offset;
        if (offset + items[i].size > total[items[i].device]) total[items[i].device] = offset + items[i].size;
    }
    onyx_free(live);
    for (int d = 0; d < N_DEVICES; d++) arena_bytes[d] = (total[d] + EXEC_ALIGN - 1) & ~(size_t)(EXEC_ALIGN - 1);
    return ONYX_OK;
}

/* Make the arena of device d hold at least bytes. */
static onyx_status arena_reserve(onyx_exec *e, int d, size_t bytes) {
    if (e->arena[d] && e->arena_bytes[d] >= bytes) return ONYX_OK;
    if (bytes == 0) return ONYX_OK;
    void *arena = device_alloc(e, (onyx_device_type)d, bytes);
    if (!arena) return onyx_error_prefix(ONYX_ERR_OUT_OF_MEMORY, "%s: arena of %zu bytes: ", e->cfg.model_name, bytes);
    device_free(e, (onyx_device_type)d, e->arena[d]);
    e->arena[d] = arena;
    e->arena_bytes[d] = bytes;
    if (d == ONYX_DEVICE_CPU) e->stats.host_allocations++;
    return ONYX_OK;
}

/* After a recording run: plan the arenas and keep the signature-static values. */
static onyx_status plan_store(onyx_exec *e, int sig_len) {
    const onyx_graph *g = e->g;
    int nv = g->n_values, nn = g->n_nodes, nb = e->n_buffers;
    exec_plan p;
    memset(&p, 0, sizeof p);
    p.signature = onyx_malloc(((size_t)sig_len + 1) * sizeof(int64_t));
    p.offset = onyx_malloc((size_t)(nb ? nb : 1) * sizeof(size_t));
    p.size = onyx_calloc((size_t)(nb ? nb : 1), sizeof(size_t));
    p.device = onyx_calloc((size_t)(nb ? nb : 1), 1);
    p.statics = onyx_calloc((size_t)(nv ? nv : 1), sizeof(onyx_tensor));
    p.static_mirrors = onyx_calloc((size_t)(nv ? nv : 1), sizeof(onyx_tensor));
    plan_item *items = onyx_malloc((size_t)(nb ? nb : 1) * sizeof *items);
    onyx_status st =
        (p.signature && p.offset && p.size && p.device && p.statics && p.static_mirrors && items) ? ONYX_OK : ONYX_ERR_OUT_OF_MEMORY;
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
            it.device = e->rec_device[b];
            if (b < nv || b >= nv + nn) {
                int v = b < nv ? b : b - nv - nn;
                int producer = g->values[v].producer;
                it.start = producer;
                it.end = e->last_use[v] > producer ? e->last_use[v] : producer;
            } else {
                it.start = it.end = b - nv;
            }
            it.offset = 0;
            items[n_items++] = it;
        }
        st = plan_offsets(items, n_items, p.arena_bytes);
    }
    if (st == ONYX_OK) {
        for (int i = 0; i < n_items; i++) {
            p.offset[items[i].buffer] = items[i].offset;
            p.size[items[i].buffer] = items[i].size;
            p.device[items[i].buffer] = (unsigned char)items[i].device;
        }
        /* Move signature-static results into the plan. */
        size_t static_bytes[N_DEVICES] = {0};
        for (int v = 0; v < nv && st == ONYX_OK; v++) {
            if (!e->sig_static[v] || g->values[v].kind == ONYX_VALUE_CONSTANT || g->values[v].producer < 0) continue;
            if (!e->owned[v]) {
                /* a view of the static memo's copy: the plan gets its own copy */
                const onyx_tensor *m = &e->memo_val[v];
                if (!e->memo_run[v] || e->vals[v].data != m->data) continue;
                tensor_view(&p.statics[v], m);
                st = onyx_tensor_alloc_data(&p.statics[v]);
                if (st == ONYX_OK) st = onyx_tensor_copy_data(&p.statics[v], m);
                static_bytes[ONYX_DEVICE_CPU] += m->nbytes;
                continue;
            }
            p.statics[v] = e->vals[v];
            static_bytes[p.statics[v].device == ONYX_DEVICE_CPU ? ONYX_DEVICE_CPU : ONYX_DEVICE_CUDA] += p.statics[v].nbytes;
            p.statics[v].owns_data = 1;
            p.statics[v].release = NULL;
            e->owned[v] = 0;
        }
        if (e->n_plans == EXEC_MAX_PLANS) {
            int oldest = 0;
            for (int i = 1; i < e->n_plans; i++)
                if (e->plans[i].stamp < e->plans[oldest].stamp) oldest = i;
            if (e->plans[oldest].uses == 0 && e->plan_waste < EXEC_WASTE_LIMIT) e->plan_waste++;
            plan_free(e, &e->plans[oldest]);
            e->plans[oldest] = e->plans[--e->n_plans];
        }
        p.stamp = ++e->clock;
        e->plans[e->n_plans++] = p;
        /* Size the arenas now, so the first run that reuses this plan allocates nothing. If
         * this fails, the reusing run tries again and reports the error there. */
        for (int d = 0; d < N_DEVICES; d++)
            if (arena_reserve(e, d, p.arena_bytes[d]) != ONYX_OK) onyx_error_clear();
        onyx_log(e->cfg.log_level, ONYX_LOG_VERBOSE,
                 "%s: planned %d buffers of graph '%s' into arenas of %zu host bytes and %zu device bytes; "
                 "signature-static values kept: %zu host bytes, %zu device bytes",
                 e->cfg.model_name, n_items, g->name, p.arena_bytes[ONYX_DEVICE_CPU], p.arena_bytes[ONYX_DEVICE_CUDA],
                 static_bytes[ONYX_DEVICE_CPU], static_bytes[ONYX_DEVICE_CUDA]);
    } else {
        plan_free(e, &p);
    }
    onyx_free(items);
    return st;
}

static onyx_status run_subgraph(onyx_kernel_ctx *ctx, const onyx_graph *sub, onyx_tensor *const **results);

/* Whether t's data is that of one of e's inputs the caller bound (memory that outlives e's run).
 * Only the graph inputs are looked at, not the weights: this runs for every pass-through result
 * of every If run, and a decode step's are its cross-attention caches. */
static int is_bound_input(const onyx_exec *e, const onyx_tensor *t) {
    for (int k = 0; k < e->g->n_inputs; k++) {
        int p = e->g->inputs[k];
        const onyx_tensor *b = &e->vals[p];
        if (e->bound[p] && b->data == t->data && b->device == t->device && b->nbytes == t->nbytes) return 1;
    }
    return 0;
}

/* Node n (ONYX_KERNEL_SUBGRAPH_OUTPUTS) ran a subgraph in prepare: hand each result buffer the
 * child owns (its own allocation, on dev, of the output's size) to the output instead of a
 * copy. The child forgets it, so its finish keeps it. A result that is one of e's bound inputs
 * passed through (a with-past branch's cross-attention presents) becomes a view of it.
 * Results in the child's plan arena, other views and outputs the caller preallocated are left to
 * the kernel's copy. */
static void take_subgraph_results(onyx_exec *e, const onyx_node *n, onyx_device_type dev) {
    onyx_exec *c = NULL;
    for (int k = 0; k < e->n_children && !c; k++)
        if (e->children[k].exec->child_gen == e->run_gen && node_owns_graph(n, e->children[k].graph)) c = e->children[k].exec;
    if (!c || c->g->n_outputs != n->n_outputs) return;
    for (int o = 0; o < n->n_outputs; o++) {
        int v = n->outputs[o], cv = c->g->outputs[o];
        if (v < 0 || cv < 0 || e->out_dst[v] || e->vals[v].dtype == ONYX_DTYPE_STRING) continue;
        const onyx_tensor *r = &c->vals[cv];
        if (r->device != dev || !r->data || r->nbytes != e->vals[v].nbytes) continue;
        if (!c->owned[cv]) {
            if (!is_bound_input(e, r)) continue;
            e->vals[v].device = dev;
            e->vals[v].data = r->data; /* a view: e's input lives past this run */
            if (!e->cur_plan) e->rec_size[v] = NOT_PLANNED;
            continue;
        }
        if (c->buf_device[cv] != dev) continue;
        c->owned[cv] = 0;
        e->vals[v].device = dev;
        e->vals[v].data = r->data;
        mark_owned(e, v, dev);
        if (!e->cur_plan) e->rec_size[v] = NOT_PLANNED;
    }
}

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

/* The device an input of a node must be on, or -1 when its data are not read. */
static int input_device(const onyx_node *n, int k, onyx_device_type provider_device) {
    if (k < 32 && (n->kernel->shape_inputs & (1u << k))) return -1;
    if (k < 32 && (n->kernel->host_inputs & (1u << k))) return ONYX_DEVICE_CPU;
    return provider_device;
}

/* After node i, run or skipped: free what it was the last use of, and the copies of those on
 * another device, unless a recording run keeps it for the plan (signature-static). */
static void release_after(onyx_exec *e, int i) {
    for (int k = e->release_start[i]; k < e->release_start[i + 1]; k++) {
        int v = e->release_vals[k];
        buffer_release(e, MIRROR_BUFFER(e, v));
        if (!(!e->cur_plan && e->sig_static[v])) buffer_release(e, v);
        /* A run recorded as a CUDA graph may have to go again without a recording (onyx_exec_run),
         * and that run reads the inputs again: given ones wait for its end then. */
        if (e->given[v] && !e->root->recorder) given_destroy(e, v);
    }
}

static onyx_status exec_run_nodes(onyx_exec *e) {
    const onyx_graph *g = e->g;
    size_t stats_size = e->stats.struct_size;
    memset(&e->stats, 0, sizeof e->stats);
    e->stats.struct_size = stats_size;
    onyx_exec_finish(e);
    /* Bind inputs, constants and outer values; every other value is set by its node. */
    for (int k = 0; k < e->n_bind_values; k++) {
        int v = e->bind_values[k];
        const onyx_value *val = &g->values[v];
        onyx_tensor *t = &e->vals[v];
        if (e->bound[v]) tensor_view(t, e->bound[v]);
        else if (val->kind == ONYX_VALUE_CONSTANT) tensor_view(t, val->constant);
        else if (val->kind == ONYX_VALUE_OUTER) tensor_view(t, &e->outer_exec[v]->vals[e->outer_id[v]]);
        else return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "%s: input '%s' is not bound", e->cfg.model_name, val->name);
    }
    int sig_len = signature_build(e);
    exec_plan *plan = plan_find(e, sig_len);
    e->runs++;
    if (plan) {
        plan->stamp = ++e->clock;
        plan->uses++;
        e->plan_waste = 0;
        for (int d = 0; d < N_DEVICES; d++) ONYX_TRY(arena_reserve(e, d, plan->arena_bytes[d]));
        e->stats.plan_reused = 1;
        e->stats.arena_bytes = plan->arena_bytes[ONYX_DEVICE_CPU];
        e->stats.device_arena_bytes = plan->arena_bytes[ONYX_DEVICE_CUDA];
    } else {
        for (int b = 0; b < e->n_buffers; b++) e->rec_size[b] = NOT_PLANNED;
    }
    e->cur_plan = plan;
    onyx_status st = ONYX_OK;
    for (int i = 0; i < g->n_nodes && st == ONYX_OK; i++) {
        const onyx_node *n = &g->nodes[i];
        if (plan && e->node_static[i]) {
            for (int o = 0; o < n->n_outputs; o++)
                if (n->outputs[o] >= 0) tensor_view(&e->vals[n->outputs[o]], &plan->statics[n->outputs[o]]);
            release_after(e, i);
            continue;
        }
        int memo = !plan && ((e->memo_node[i] == 1 && memo_reusable(e, i)) ||
                             (e->memo_node[i] == 2 && memo_shape_reusable(e, i)));
        if (memo) {
            for (int o = 0; o < n->n_outputs; o++)
                if (n->outputs[o] >= 0) tensor_view(&e->vals[n->outputs[o]], &e->memo_val[n->outputs[o]]);
            release_after(e, i);
            continue;
        }
        e->run_gen++;
        uint64_t t0 = e->cfg.profile ? onyx_clock_ns() : 0;
        onyx_provider *prov = e->cfg.providers[n->provider];
        onyx_device_type dev = prov->ops->device;
        for (int k = 0; k < n->n_inputs && st == ONYX_OK; k++) {
            int v = n->inputs[k];
            e->in_buf[k] = v >= 0 ? &e->vals[v] : NULL;
            int need = v >= 0 ? input_device(n, k, dev) : -1;
            if (need >= 0) st = exec_input_on(e, v, (onyx_device_type)need, &e->in_buf[k]);
        }
        if (st != ONYX_OK) {
            st = kernel_failure(e, n, st);
            break;
        }
        for (int o = 0; o < n->n_outputs; o++) {
            int v = n->outputs[o];
            e->out_buf[o] = v >= 0 ? &e->vals[v] : NULL;
            if (v >= 0) onyx_tensor_init(&e->vals[v]);
        }
        onyx_kernel_ctx ctx = {
            .graph = g, .node = n, .n_inputs = n->n_inputs, .inputs = e->in_buf, .n_outputs = n->n_outputs,
            .outputs = e->out_buf, .threads = e->cfg.threads, .provider = prov, .run_subgraph = run_subgraph,
            .runtime = e,
        };
        st = n->kernel->prepare(&ctx);
        /* A view: output 0 takes input 0's memory and the kernel does not run. Not for outputs
         * the plan keeps (signature-static), which must own their data. */
        int view = (n->kernel->flags & ONYX_KERNEL_ALIAS_OUTPUT) ||
                   ((n->kernel->flags & ONYX_KERNEL_MAY_ALIAS_OUTPUT) && ctx.view_output);
        int aliased = st == ONYX_OK && view && n->n_outputs >= 1 &&
                      n->outputs[0] >= 0 && e->in_buf[0] && e->in_buf[0]->device == dev && !e->node_static[i] &&
                      !e->out_dst[n->outputs[0]] && e->vals[n->outputs[0]].nbytes == e->in_buf[0]->nbytes;
        if (aliased) {
            e->vals[n->outputs[0]].device = dev;
            e->vals[n->outputs[0]].data = e->in_buf[0]->data;
        }
        if (st == ONYX_OK && (n->kernel->flags & ONYX_KERNEL_SUBGRAPH_OUTPUTS)) take_subgraph_results(e, n, dev);
        for (int o = aliased ? 1 : 0; o < n->n_outputs && st == ONYX_OK; o++) {
            int v = n->outputs[o];
            if (v < 0 || e->vals[v].data) continue; /* a subgraph's result handed over, or viewed */
            e->vals[v].device = dev;
            st = buffer_acquire(e, plan, v, e->vals[v].nbytes, dev, &e->vals[v].data);
        }
        if (st == ONYX_OK && ctx.workspace_bytes)
            st = buffer_acquire(e, plan, g->n_values + i, ctx.workspace_bytes, dev, &e->workspace[i]);
        ctx.workspace = e->workspace[i];
        if (st == ONYX_OK && !aliased) st = n->kernel->run(&ctx);
        if (st == ONYX_OK && prov == e->root->recorder) st = prov->ops->capture_node(prov);
        if (st != ONYX_OK) {
            st = kernel_failure(e, n, st);
            break;
        }
        e->stats.nodes_run++;
        if (!plan && e->memo_node[i]) memo_record(e, i);
        if (e->cfg.profile) {
            if (e->cfg.profile == ONYX_PROFILE_NODES && prov->ops->sync) st = prov->ops->sync(prov);
            e->prof_ns[i] += onyx_clock_ns() - t0;
            e->prof_calls[i]++;
        }
        buffer_release(e, g->n_values + i);
        for (int c = 0; c < e->n_children; c++)
            if (e->children[c].exec->child_gen == e->run_gen) onyx_exec_finish(e->children[c].exec);
        release_after(e, i);
        for (int o = 0; o < n->n_outputs; o++) {
            int v = n->outputs[o];
            if (v >= 0 && e->last_use[v] < i && !(!plan && e->sig_static[v])) buffer_release(e, v);
        }
    }
    e->cur_plan = NULL;
    if (st == ONYX_OK && !plan && plan_wanted(e, sig_len)) {
        st = plan_store(e, sig_len);
        e->stats.plan_made = st == ONYX_OK;
    }
    if (st != ONYX_OK) onyx_exec_finish(e);
    return st;
}

/* The provider that records the runs of main-graph executor e as CUDA graphs, or NULL: none
 * when profiling (node times would time the recording), on the first run (it uploads the
 * weights), once recording is off, or when two providers could record. */
static onyx_provider *record_provider(const onyx_exec *e) {
    if (e->parent || e->record_off || e->cfg.profile || e->runs == 0) return NULL;
    onyx_provider *found = NULL;
    for (int p = 0; p < e->cfg.n_providers; p++) {
        onyx_provider *prov = e->cfg.providers[p];
        if (!prov->ops->capture_begin || prov == found) continue;
        if (found) return NULL;
        found = prov;
    }
    return found;
}

/* A run of the main graph is recorded and launched as CUDA graphs where its provider can do so
 * (cuda: enable_cuda_graph). The nodes run as always, and their work is recorded instead of
 * queued; the provider launches it in parts as it goes (capture_node), and kernels' shapes may
 * differ from the last run's. When the recording is unusable (the run copied a value to the
 * host, or failed), the rest of it never runs, and the run goes again without a recording: its
 * host work is done twice, and its result and error are those of an unrecorded run. (Parts
 * already launched wrote only the run's own buffers and outputs, which the rerun writes again.
 * A random op would draw other numbers in the rerun; no provider has kernels for them yet.) */
onyx_status onyx_exec_run(onyx_exec *e) {
    onyx_provider *rec = record_provider(e);
    if (rec && rec->ops->capture_begin(rec) != ONYX_OK) {
        /* Refused (graphs off, fault injection armed): asked again up to EXEC_RECORD_TRIES times. */
        onyx_error_clear();
        if (++e->record_fails >= EXEC_RECORD_TRIES) e->record_off = 1;
    } else if (rec) {
        e->recorder = rec;
        onyx_status st = exec_run_nodes(e);
        e->recorder = NULL;
        uint64_t instantiations = 0;
        onyx_status end = rec->ops->capture_end(rec, st == ONYX_OK, &instantiations);
        if (st == ONYX_OK && end == ONYX_OK) {
            e->record_fails = 0;
            e->stats.graph_launched = 1;
            e->stats.graph_instantiations = instantiations;
            return ONYX_OK;
        }
        if (++e->record_fails >= EXEC_RECORD_TRIES) e->record_off = 1;
        onyx_log(e->cfg.log_level, ONYX_LOG_VERBOSE, "%s: a run could not go out as a graph, it runs again without one%s: %s",
                 e->cfg.model_name, e->record_off ? " (and so will later runs)" : "", onyx_last_error());
        onyx_error_clear();
    }
    return exec_run_nodes(e);
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
        e->stats.device_copies += child->stats.device_copies;
        e->stats.device_bytes_copied += child->stats.device_bytes_copied;
        for (int o = 0; o < sub->n_outputs; o++) child->results[o] = &child->vals[sub->outputs[o]];
    }
    *results = child->results;
    return ONYX_OK;
}

/* ---- outputs ---- */

onyx_status onyx_exec_output_to_host(onyx_exec *e, int value_id, onyx_tensor **out) {
    *out = NULL;
    const onyx_tensor *t = &e->vals[value_id];
    if (t->device == ONYX_DEVICE_CPU) return onyx_tensor_clone(t, out);
    ONYX_TRY(onyx_tensor_new(t->dtype, t->dims, t->rank, out));
    onyx_status st = device_copy(e, (*out)->data, ONYX_DEVICE_CPU, t->data, t->device, t->nbytes);
    if (st != ONYX_OK) {
        onyx_tensor_destroy(*out);
        *out = NULL;
    }
    return st;
}

onyx_status onyx_exec_output_into(onyx_exec *e, int value_id, onyx_tensor *dst, const char *name) {
    const onyx_tensor *t = &e->vals[value_id];
    if (t->data == dst->data && t->device == dst->device) return ONYX_OK;
    char got[200], want[200];
    if (dst->dtype != t->dtype || dst->rank != t->rank || memcmp(dst->dims, t->dims, (size_t)t->rank * sizeof *t->dims))
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "%s: output '%s' is bound to a %s tensor, but the run produced %s",
                          e->cfg.model_name, name, onyx_tensor_describe(dst, want, sizeof want),
                          onyx_tensor_describe(t, got, sizeof got));
    if (t->dtype == ONYX_DTYPE_STRING) return onyx_tensor_copy_data(dst, t);
    return device_copy(e, dst->data, dst->device, t->data, t->device, t->nbytes);
}

onyx_status onyx_exec_take_output(onyx_exec *e, int value_id, onyx_device_type device, onyx_tensor **out) {
    *out = NULL;
    onyx_tensor *t = &e->vals[value_id];
    if (device == ONYX_DEVICE_CPU && t->device != ONYX_DEVICE_CPU) return onyx_exec_output_to_host(e, value_id, out);
    int hand_over = e->owned[value_id] && t->device == device && t->dtype != ONYX_DTYPE_STRING;
    if (!hand_over && device == ONYX_DEVICE_CPU) return onyx_tensor_clone(t, out);
    onyx_provider *p = e->device_provider[device]; /* NULL for the host, whose memory is ours */
    if (!p && device != ONYX_DEVICE_CPU)
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "%s: no provider of the session runs on that device", e->cfg.model_name);
    if (!hand_over) {
        /* A view (an input, a constant, a planned value): a copy in memory of its own. */
        ONYX_TRY(onyx_provider_tensor_copy(p, t, out));
        if (t->device != device) {
            e->stats.device_copies++;
            e->stats.device_bytes_copied += t->nbytes;
        }
        return ONYX_OK;
    }
    /* The buffer was allocated on its own for this (detach): hand it over, no copy. */
    onyx_tensor *r = onyx_malloc(sizeof *r);
    if (!r) return ONYX_ERR_OUT_OF_MEMORY;
    *r = *t;
    r->owns_data = 1;
    r->release = p ? onyx_provider_release_tensor : onyx_host_cache_release_tensor;
    r->release_ctx = p;
    e->owned[value_id] = 0;
    *out = r;
    return ONYX_OK;
}
