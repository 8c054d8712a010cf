/*
 * session.c - the public session API: load -> infer dtypes -> fold constants -> remove dead
 * nodes -> place nodes on providers -> run through the executor.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/host_cache.h"
#include "core/log.h"
#include "core/status.h"
#include "graph/passes.h"
#include "onnx/loader.h"
#include "providers/cpu/cpu_tables.h"
#include "providers/cpu/math_kernels.h"
#include "providers/provider.h"
#include "runtime/dim_expr.h"
#include "runtime/executor.h"
#include "runtime/optimize.h"
#include "runtime/session_internal.h"

const char *onyx_version(void) { return "0.1.0"; }

void onyx_session_options_init(onyx_session_options *o) {
    if (!o) return;
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->opt_level = ONYX_OPT_ALL;
    o->log_level = ONYX_LOG_WARNING;
}

void onyx_run_stats_init(onyx_run_stats *s) {
    if (!s) return;
    memset(s, 0, sizeof *s);
    s->struct_size = sizeof *s;
}

/* ---- providers ---- */

/* Copy into out the "key=value" pairs of provider_options addressed to provider name (short
 * or ONNX Runtime name prefix), ';'-separated, prefixes stripped. Pairs for providers not in
 * the list are errors. */
static onyx_status provider_options_for(const char *all, const char *name, const char *ort_name, char *out,
                                        size_t out_size) {
    out[0] = '\0';
    if (!all) return ONYX_OK;
    size_t used = 0;
    const char *p = all;
    while (*p) {
        size_t len = strcspn(p, ";\n");
        while (len && (*p == ' ' || *p == '\t')) p++, len--;
        if (len) {
            const char *dot = memchr(p, '.', len);
            const char *eq = memchr(p, '=', len);
            if (!dot || !eq || dot > eq)
                return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "provider option '%.*s' must look like provider.key=value",
                                  (int)len, p);
            size_t plen = (size_t)(dot - p);
            int mine = (strlen(name) == plen && !strncmp(p, name, plen)) ||
                       (strlen(ort_name) == plen && !strncmp(p, ort_name, plen));
            if (mine) {
                int n = snprintf(out + used, out_size - used, "%s%.*s", used ? ";" : "", (int)(len - plen - 1), dot + 1);
                if (n < 0 || (size_t)n >= out_size - used)
                    return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "provider options for %s are too long", name);
                used += (size_t)n;
            }
        }
        p += len;
        if (*p) p++;
    }
    return ONYX_OK;
}

static onyx_status check_option_providers(const char *all, const char *list) {
    if (!all) return ONYX_OK;
    const char *p = all;
    while (*p) {
        size_t len = strcspn(p, ";\n");
        const char *dot = memchr(p, '.', len);
        if (dot) {
            size_t plen = (size_t)(dot - p);
            int found = 0;
            const char *q = list;
            while (*q && !found) {
                size_t l = strcspn(q, ",");
                if (l == plen && !strncmp(q, p, plen)) found = 1;
                q += l;
                if (*q) q++;
            }
            if (!found)
                return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "provider option '%.*s' names provider '%.*s', which is not in the provider list '%s'",
                                  (int)len, p, (int)plen, p, list);
        }
        p += len;
        if (*p) p++;
    }
    return ONYX_OK;
}

/* The next item of the comma-separated list at *p, spaces around it trimmed: its start and length
 * (0 for an empty item); *p moves past it and the commas and spaces after it. Call while **p. */
static size_t list_item(const char **p, const char **start) {
    const char *q = *p;
    size_t len = strcspn(q, ",");
    while (len && *q == ' ') q++, len--;
    while (len && q[len - 1] == ' ') len--;
    *start = q;
    *p = q + len;
    while (**p == ',' || **p == ' ') (*p)++;
    return len;
}

static onyx_status session_create_providers(onyx_session *s) {
    const char *list = s->options.providers && s->options.providers[0] ? s->options.providers : "cpu";
    const char *p = list;
    while (*p) {
        const char *item;
        size_t len = list_item(&p, &item);
        char name[64];
        if (len == 0 || len >= sizeof name)
            return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "bad provider list '%s'", list);
        memcpy(name, item, len);
        name[len] = '\0';
        if (s->n_providers == SESSION_MAX_PROVIDERS)
            return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "too many providers in '%s'", list);
        const char *ort = !strcmp(name, "cpu") ? "CPUExecutionProvider" : !strcmp(name, "cuda") ? "CUDAExecutionProvider" : name;
        char opts[1024];
        ONYX_TRY(provider_options_for(s->options.provider_options, name, ort, opts, sizeof opts));
        ONYX_TRY(onyx_provider_create(name, opts, s->threads, &s->providers[s->n_providers]));
        for (int i = 0; i < s->n_providers; i++)
            if (s->providers[i]->ops == s->providers[s->n_providers]->ops) {
                onyx_provider_destroy(s->providers[s->n_providers]);
                s->providers[s->n_providers] = NULL;
                return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "provider '%s' is listed twice in '%s'", name, list);
            }
        s->n_providers++;
    }
    /* As in ONNX Runtime, the CPU provider always comes last: it runs what the others cannot
     * (shape computations, ops without a GPU kernel). */
    int have_cpu = 0;
    for (int i = 0; i < s->n_providers; i++) have_cpu |= s->providers[i]->ops->device == ONYX_DEVICE_CPU;
    if (!have_cpu) {
        if (s->n_providers == SESSION_MAX_PROVIDERS)
            return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "too many providers in '%s'", list);
        char opts[1024];
        ONYX_TRY(provider_options_for(s->options.provider_options, "cpu", "CPUExecutionProvider", opts, sizeof opts));
        ONYX_TRY(onyx_provider_create("cpu", opts, s->threads, &s->providers[s->n_providers]));
        s->n_providers++;
    }
    /* Option prefixes must name listed providers (short names or ORT names). */
    char short_list[256] = "";
    size_t used = 0;
    for (int i = 0; i < s->n_providers; i++)
        used += (size_t)snprintf(short_list + used, sizeof short_list - used, "%s%s,%s", i ? "," : "",
                                 s->providers[i]->ops->name, s->providers[i]->ops->ort_name);
    return check_option_providers(s->options.provider_options, short_list);
}

/* ---- placement ---- */

static int dtype_is_shape_like(onyx_dtype d) {
    return d == ONYX_DTYPE_INT64 || d == ONYX_DTYPE_INT32 || d == ONYX_DTYPE_BOOL;
}

/* Move the producer of value v to the CPU when it runs on a device and the CPU can run it
 * (with integer_only, only when it reads integer and bool tensors alone): its index, else -1. */
static int move_producer_to_cpu(onyx_graph *g, int v, int cpu, const onyx_kernel_def **cpu_rows, int integer_only) {
    int p = g->values[v].producer;
    if (p < 0 || g->nodes[p].provider == cpu || !cpu_rows[p] || onyx_node_has_subgraph(&g->nodes[p])) return -1;
    const onyx_node *q = &g->nodes[p];
    for (int j = 0; integer_only && j < q->n_inputs; j++)
        if (q->inputs[j] >= 0 && !dtype_is_shape_like(g->values[q->inputs[j]].dtype)) return -1;
    g->nodes[p].provider = cpu;
    g->nodes[p].kernel = cpu_rows[p];
    return p;
}

/* Shape computations stay on the CPU on purpose (ONNX Runtime's GetCpuPreferredNodes): a node
 * on a device whose output is read on the host as a host input (Reshape's shape, Slice's starts,
 * ConstantOfShape's shape, ...) moves to the CPU when the CPU can run it, and so do its
 * producers, backwards, while they compute only on integer or bool tensors. This keeps the
 * Shape->Gather->Unsqueeze->Concat chains of exports off the GPU and saves a device-to-host
 * copy (and a stream synchronisation) per chain. */
static onyx_status prefer_cpu_for_shapes(onyx_session *s, onyx_graph *g, int cpu, const onyx_kernel_def **cpu_rows) {
    int n = g->n_nodes;
    int *work = onyx_malloc(((size_t)n + 1) * sizeof *work); /* each node is queued at most once */
    if (!work) return ONYX_ERR_OUT_OF_MEMORY;
    int top = 0;
    for (int i = 0; i < n; i++) {
        const onyx_node *m = &g->nodes[i];
        if (m->provider == cpu) continue;
        for (int k = 0; k < m->n_inputs && k < 32; k++)
            if ((m->kernel->host_inputs & (1u << k)) && m->inputs[k] >= 0 &&
                (work[top] = move_producer_to_cpu(g, m->inputs[k], cpu, cpu_rows, 0)) >= 0)
                top++;
    }
    int moved = 0;
    while (top > 0) {
        const onyx_node *m = &g->nodes[work[--top]];
        moved++;
        for (int k = 0; k < m->n_inputs; k++)
            if (m->inputs[k] >= 0 && dtype_is_shape_like(g->values[m->inputs[k]].dtype) &&
                (work[top] = move_producer_to_cpu(g, m->inputs[k], cpu, cpu_rows, 1)) >= 0)
                top++;
    }
    onyx_free(work);
    if (moved)
        onyx_log(s->options.log_level, ONYX_LOG_VERBOSE, "%s: %d shape-computation nodes of graph '%s' kept on the cpu",
                 s->model->display_name, moved, g->name);
    return ONYX_OK;
}

static onyx_status place_graph(onyx_session *s, onyx_graph *g) {
    size_t n = (size_t)(g->n_nodes ? g->n_nodes : 1);
    const onyx_kernel_def **claimed = onyx_calloc(n, sizeof *claimed);
    const onyx_kernel_def **cpu_rows = onyx_calloc(n, sizeof *cpu_rows); /* the CPU provider's claims */
    char(*why)[160] = onyx_calloc(n, sizeof *why);
    if (!claimed || !cpu_rows || !why) {
        onyx_free(claimed);
        onyx_free(cpu_rows);
        onyx_free(why);
        return ONYX_ERR_OUT_OF_MEMORY;
    }
    int cpu = -1;
    for (int p = 0; p < s->n_providers; p++)
        if (s->providers[p]->ops->device == ONYX_DEVICE_CPU && cpu < 0) cpu = p;
    onyx_status st = ONYX_OK;
    int placed_on_device = 0;
    for (int i = 0; i < g->n_nodes; i++) g->nodes[i].provider = -1;
    for (int p = 0; p < s->n_providers && st == ONYX_OK; p++) {
        memset(claimed, 0, n * sizeof *claimed);
        st = s->providers[p]->ops->claim(s->providers[p], g, claimed, why);
        if (p == cpu) memcpy(cpu_rows, claimed, n * sizeof *claimed);
        for (int i = 0; i < g->n_nodes && st == ONYX_OK; i++) {
            if (g->nodes[i].provider >= 0 || !claimed[i]) continue;
            g->nodes[i].provider = p;
            g->nodes[i].kernel = claimed[i];
            placed_on_device |= p != cpu;
        }
    }
    if (st == ONYX_OK && cpu >= 0 && placed_on_device) st = prefer_cpu_for_shapes(s, g, cpu, cpu_rows);
    for (int i = 0; i < g->n_nodes && st == ONYX_OK; i++) {
        onyx_node *node = &g->nodes[i];
        if (node->provider < 0) {
            char desc[300];
            st = onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "%s: %s cannot be placed on any provider: %s",
                            s->model->display_name, onyx_node_describe(g, node, desc, sizeof desc), why[i]);
        }
        for (int a = 0; a < node->n_attrs && st == ONYX_OK; a++)
            if (node->attrs[a].type == ONYX_ATTR_GRAPH && node->attrs[a].g) st = place_graph(s, node->attrs[a].g);
    }
    onyx_free(claimed);
    onyx_free(cpu_rows);
    onyx_free(why);
    return st;
}

/* At verbose level, per provider the nodes it got, as ONNX Runtime prints them. */
static void log_placement(const onyx_session *s) {
    onyx_log_level lvl = s->options.log_level;
    if (!onyx_log_enabled(lvl, ONYX_LOG_VERBOSE)) return;
    for (int p = 0; p < s->n_providers; p++) {
        char line[4000];
        size_t used = (size_t)snprintf(line, sizeof line, "Provider: [%s]: [", s->providers[p]->ops->name);
        int count = 0;
        for (int i = 0; i < s->graph->n_nodes; i++) {
            const onyx_node *n = &s->graph->nodes[i];
            if (n->provider != p) continue;
            if (used < sizeof line - 200)
                used += (size_t)snprintf(line + used, sizeof line - used, "%s%s (%s)", count ? ", " : "", n->op_type, n->name);
            else if (used < sizeof line - 8)
                used += (size_t)snprintf(line + used, sizeof line - used, ", ...");
            count++;
        }
        if (used < sizeof line) snprintf(line + used, sizeof line - used, "] (%d nodes)", count);
        onyx_log(lvl, ONYX_LOG_VERBOSE, "%s: %s", s->model->display_name, line);
    }
}

/* ---- metadata ---- */

static void io_fill(session_io *io, const onyx_value *v, int id) {
    io->value_id = id;
    io->info.name = v->name;
    io->info.dtype = v->dtype;
    io->info.rank = v->rank;
    for (int d = 0; d < v->rank && d < ONYX_MAX_RANK; d++) {
        io->dims[d] = v->dims[d].value >= 0 ? v->dims[d].value : -1;
        io->dim_params[d] = v->dims[d].value >= 0 ? NULL : v->dims[d].param;
    }
    io->info.dims = io->dims;
    io->info.dim_params = io->dim_params;
}

static onyx_status session_collect_io(onyx_session *s) {
    const onyx_graph *g = s->graph;
    s->inputs = onyx_calloc((size_t)g->n_inputs + 1, sizeof *s->inputs);
    s->outputs = onyx_calloc((size_t)g->n_outputs + 1, sizeof *s->outputs);
    if (!s->inputs || !s->outputs) return ONYX_ERR_OUT_OF_MEMORY;
    for (int i = 0; i < g->n_inputs; i++) io_fill(&s->inputs[s->n_inputs++], &g->values[g->inputs[i]], g->inputs[i]);
    for (int i = 0; i < g->n_outputs; i++)
        io_fill(&s->outputs[s->n_outputs++], &g->values[g->outputs[i]], g->outputs[i]);
    return ONYX_OK;
}

/* ---- create / destroy ---- */

/* onyx_session_options.last_position_outputs: each named output through
 * onyx_graph_keep_last_position. */
static onyx_status keep_last_positions(onyx_session *s, onyx_graph *g) {
    const char *p = s->options.last_position_outputs;
    while (p && *p) {
        const char *item;
        size_t len = list_item(&p, &item);
        char name[256];
        if (len >= sizeof name)
            return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "%s: last_position_outputs: a name is too long", s->model->display_name);
        memcpy(name, item, len);
        name[len] = '\0';
        if (len) {
            int done = 0;
            onyx_status st = onyx_graph_keep_last_position(g, name, &done);
            if (st != ONYX_OK && st != ONYX_ERR_INVALID_ARGUMENT) return st; /* no memory */
            if (st != ONYX_OK) {
                char list[1024];
                size_t used = 0;
                list[0] = '\0';
                for (int i = 0; i < g->n_outputs && used < sizeof list; i++)
                    used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "", g->values[g->outputs[i]].name);
                return onyx_error(st, "%s: last_position_outputs names '%s', which is not an output; the outputs are [%s]",
                                  s->model->display_name, name, list);
            }
            onyx_log(s->options.log_level, ONYX_LOG_VERBOSE, "%s: output '%s' %s", s->model->display_name, name,
                     done ? "is computed at the last position only" : "is not a product of the sequence: left whole");
        }
    }
    return ONYX_OK;
}

static onyx_provider *session_device_provider(const onyx_session *s);

/* A key/value cache among g's inputs (Optimum's past_key_values.*): g runs decode steps, whose
 * products of a few rows the cuda provider's few-row kernel reads with B as (K, N). */
static int has_cache_inputs(const onyx_graph *g) {
    for (int i = 0; i < g->n_inputs; i++)
        if (!strncmp(g->values[g->inputs[i]].name, "past_key_values.", 16)) return 1;
    return 0;
}

/* Linear layers' weights laid out for their provider (weight_layout.c): packed in the cpu
 * provider's panels in host-only sessions on AVX-512, stored (N, K) for the providers that want
 * them so; the rewritten nodes are placed again for their new kernel rows. Graphs with a
 * key/value cache keep (K, N) for their decode steps. */
static onyx_status lay_out_weights(onyx_session *s, onyx_graph *g) {
    if (has_cache_inputs(g)) return ONYX_OK;
    int total = 0;
    if (!session_device_provider(s) && onyx_cpu_packs_weights()) { /* the panel product's layout */
        int packed = 0;
        for (int p = 0; p < s->n_providers; p++)
            if (!strcmp(s->providers[p]->ops->name, "cpu")) ONYX_TRY(onyx_graph_pack_weights(g, p, &packed));
        if (packed)
            onyx_log(s->options.log_level, ONYX_LOG_VERBOSE, "%s: %d MatMul weights packed in panels of %d columns",
                     s->model->display_name, packed, ONYX_WEIGHT_PANEL);
        total += packed;
    }
    for (int p = 0; p < s->n_providers; p++) {
        uint64_t dtypes = s->providers[p]->ops->transposed_weights;
        if (!dtypes) continue;
        int count = 0;
        ONYX_TRY(onyx_graph_transpose_weights(g, p, dtypes, &count));
        total += count;
    }
    if (!total) return ONYX_OK;
    onyx_log(s->options.log_level, ONYX_LOG_VERBOSE, "%s: %d MatMul weights stored transposed, (N, K)",
             s->model->display_name, total);
    return place_graph(s, g);
}

static onyx_status session_build(onyx_session *s) {
    onyx_graph *g = s->graph;
    onyx_log_level lvl = s->options.log_level;
    ONYX_TRY(onyx_graph_infer_dtypes(g));
    ONYX_TRY(keep_last_positions(s, g));
    if (s->options.opt_level >= ONYX_OPT_BASIC) {
        int folded = 0, removed = 0, before = g->n_nodes;
        ONYX_TRY(onyx_fold_constants(g, onyx_cpu_kernel_tables, s->threads, &folded));
        ONYX_TRY(onyx_graph_remove_dead_nodes(g, &removed));
        onyx_log(lvl, ONYX_LOG_VERBOSE, "%s: %d nodes; folded %d constant nodes, removed %d dead nodes, %d remain",
                 s->model->display_name, before, folded, removed, g->n_nodes);
    }
    if (s->options.opt_level >= ONYX_OPT_ALL) {
        int fused = 0;
        /* float32 attention fuses on both providers: the CPU's kernel is two sgemm calls without the
         * transposes, CUDA's FFMA tiles keep the scores on chip (docs/cuda.md) */
        unsigned flags = ONYX_FUSE_F32_ATTENTION;
        /* keys' Transposes into their MatMuls on the host only: CUDA's few-row kernel for decode
         * steps reads B untransposed (cuBLASLt ran them slower: is_skinny in cuda/matmul.c) */
        if (!session_device_provider(s)) flags |= ONYX_FUSE_TRANSPOSED_B;
        ONYX_TRY(onyx_graph_fuse(g, flags, &fused));
        if (fused) onyx_log(lvl, ONYX_LOG_VERBOSE, "%s: %d fusions (no-op Casts, GELU, FastGelu, RMS norm, bias GELU, attention, MatMul + bias, transposed B)", s->model->display_name, fused);
    }
    ONYX_TRY(place_graph(s, g));
    if (s->options.opt_level >= ONYX_OPT_ALL) ONYX_TRY(lay_out_weights(s, g));
    log_placement(s);
    size_t used = 0;
    s->providers_used[0] = '\0';
    for (int p = 0; p < s->n_providers; p++) {
        int any = 0;
        for (int i = 0; i < g->n_nodes && !any; i++) any = g->nodes[i].provider == p;
        if (!any && p > 0) continue;
        used += (size_t)snprintf(s->providers_used + used, sizeof s->providers_used - used, "%s%s", used ? "," : "",
                                 s->providers[p]->ops->name);
    }
    ONYX_TRY(session_collect_io(s));
    onyx_exec_config cfg = {.providers = s->providers, .n_providers = s->n_providers, .threads = s->threads,
                            .log_level = lvl, .model_name = s->model->display_name,
                            .profile = s->options.enable_profiling};
    return onyx_exec_create(g, &cfg, NULL, &s->exec);
}

static onyx_status session_start(const onyx_session_options *options, onyx_session **out, onyx_session **s_out) {
    if (!out) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "onyx_session_create: out is NULL");
    *out = NULL;
    if (options && options->struct_size != sizeof(onyx_session_options))
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT,
                          "onyx_session_options.struct_size is %zu, expected %zu: initialise options with onyx_session_options_init",
                          options->struct_size, sizeof(onyx_session_options));
    if (options && (options->enable_profiling < ONYX_PROFILE_OFF || options->enable_profiling > ONYX_PROFILE_HOST))
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT,
                          "onyx_session_options.enable_profiling is %d: expected 0 (off), 1 (ONYX_PROFILE_NODES) or 2 "
                          "(ONYX_PROFILE_HOST)",
                          options->enable_profiling);
    onyx_session *s = onyx_calloc(1, sizeof *s);
    if (!s) return ONYX_ERR_OUT_OF_MEMORY;
    onyx_host_cache_hold(); /* for the outputs it hands over; onyx_session_destroy drops it */
    if (options) s->options = *options;
    else onyx_session_options_init(&s->options);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    s->threads = s->options.intra_op_threads > 0 ? s->options.intra_op_threads : (cores > 0 ? (int)cores : 1);
    onyx_run_stats_init(&s->last_stats);
    onyx_run_totals_init(&s->totals);
    *s_out = s;
    return session_create_providers(s);
}

static onyx_status session_finish_create(onyx_session *s, onyx_status st, onyx_session **out) {
    if (st == ONYX_OK) {
        if (s->options.model_name) {
            const char *name = onyx_region_strdup(&s->model->region, s->options.model_name);
            if (!name) st = ONYX_ERR_OUT_OF_MEMORY;
            else s->model->display_name = name;
        }
    }
    if (st == ONYX_OK) {
        s->graph = s->model->graph;
        st = session_build(s);
    }
    if (st != ONYX_OK) {
        onyx_session_destroy(s);
        return st;
    }
    *out = s;
    return ONYX_OK;
}

onyx_status onyx_session_create(const char *path, const onyx_session_options *options, onyx_session **out) {
    onyx_error_clear();
    onyx_session *s = NULL;
    onyx_status st = session_start(options, out, &s);
    if (st == ONYX_OK && !path) st = onyx_error(ONYX_ERR_INVALID_ARGUMENT, "onyx_session_create: path is NULL");
    if (st == ONYX_OK) st = onyx_onnx_load_file(path, &s->model);
    if (!s) return st;
    return session_finish_create(s, st, out);
}

onyx_status onyx_session_create_from_memory(const void *data, size_t size, const onyx_session_options *options,
                                            onyx_session **out) {
    onyx_error_clear();
    onyx_session *s = NULL;
    onyx_status st = session_start(options, out, &s);
    if (st == ONYX_OK && !data) st = onyx_error(ONYX_ERR_INVALID_ARGUMENT, "onyx_session_create_from_memory: data is NULL");
    if (st == ONYX_OK)
        st = onyx_onnx_load_memory(data, size, options && options->model_name ? options->model_name : NULL, &s->model);
    if (!s) return st;
    return session_finish_create(s, st, out);
}

void onyx_session_destroy(onyx_session *s) {
    if (!s) return;
    onyx_host_cache_drop();
    onyx_exec_destroy(s->exec);
    onyx_onnx_model_destroy(s->model);
    for (int p = 0; p < s->n_providers; p++) onyx_provider_destroy(s->providers[p]);
    onyx_free(s->inputs);
    onyx_free(s->outputs);
    onyx_free(s);
}

/* ---- metadata API ---- */

size_t onyx_session_input_count(const onyx_session *s) { return s ? s->n_inputs : 0; }
size_t onyx_session_output_count(const onyx_session *s) { return s ? s->n_outputs : 0; }

onyx_status onyx_session_input_info(const onyx_session *s, size_t index, onyx_value_info *out) {
    onyx_error_clear();
    if (!s || !out) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "onyx_session_input_info: NULL argument");
    if (index >= s->n_inputs)
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "input index %zu out of range (the model has %zu inputs)", index, s->n_inputs);
    *out = s->inputs[index].info;
    return ONYX_OK;
}

onyx_status onyx_session_output_info(const onyx_session *s, size_t index, onyx_value_info *out) {
    onyx_error_clear();
    if (!s || !out) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "onyx_session_output_info: NULL argument");
    if (index >= s->n_outputs)
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "output index %zu out of range (the model has %zu outputs)", index, s->n_outputs);
    *out = s->outputs[index].info;
    return ONYX_OK;
}

const char *onyx_session_providers(const onyx_session *s) { return s ? s->providers_used : ""; }

size_t onyx_session_node_count(const onyx_session *s) { return s ? (size_t)s->graph->n_nodes : 0; }

onyx_status onyx_session_output_shape(const onyx_session *s, size_t index, const char *const *names,
                                     const int64_t *values, size_t n, int64_t *dims, int *rank) {
    onyx_error_clear();
    if (!s || !dims || !rank || (n && (!names || !values)))
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "onyx_session_output_shape: NULL argument");
    *rank = -1;
    if (index >= (size_t)s->n_outputs)
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "onyx_session_output_shape: output %zu is out of range (the model has %zu)",
                          index, (size_t)s->n_outputs);
    const session_io *io = &s->outputs[index];
    if (io->info.rank < 0)
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "%s: output '%s' has no shape in the graph", s->model->display_name,
                          io->info.name);
    for (int d = 0; d < io->info.rank; d++) {
        if (io->dims[d] >= 0) {
            dims[d] = io->dims[d];
            continue;
        }
        if (!io->dim_params[d])
            return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "%s: output '%s' dim %d is unknown in the graph (no name)",
                              s->model->display_name, io->info.name, d);
        onyx_status st = onyx_dim_expr_eval(io->dim_params[d], names, values, n, &dims[d]);
        if (st != ONYX_OK)
            return onyx_error_prefix(st, "%s: output '%s' dim %d: ", s->model->display_name, io->info.name, d);
    }
    *rank = io->info.rank;
    return ONYX_OK;
}

onyx_status onyx_session_node_info(const onyx_session *s, size_t index, const char **op_type, const char **name,
                                   const char **provider) {
    onyx_error_clear();
    if (!s || index >= (size_t)s->graph->n_nodes)
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "onyx_session_node_info: node index %zu out of range", index);
    const onyx_node *n = &s->graph->nodes[index];
    if (op_type) *op_type = n->op_type;
    if (name) *name = n->name;
    if (provider) *provider = s->providers[n->provider]->ops->name;
    return ONYX_OK;
}

onyx_status onyx_session_node_time(const onyx_session *s, size_t index, uint64_t *total_ns, uint64_t *calls) {
    onyx_error_clear();
    if (!s || !total_ns || !calls || index >= (size_t)s->graph->n_nodes)
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "onyx_session_node_time: NULL argument or node index %zu out of range", index);
    if (!s->options.enable_profiling)
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "%s: profiling is off (set enable_profiling in the session options)",
                          s->model->display_name);
    onyx_exec_node_time(s->exec, (int)index, total_ns, calls);
    return ONYX_OK;
}

typedef struct op_times_acc {
    const onyx_session *s;
    onyx_op_time *all; /* one entry per op type and provider seen, grown as needed */
    size_t used, cap;
    int failed;
} op_times_acc;

static void op_times_add(void *ctx, const onyx_node *n, uint64_t ns, uint64_t calls) {
    op_times_acc *a = ctx;
    const char *provider = a->s->providers[n->provider]->ops->name;
    size_t k = 0;
    while (k < a->used && (strcmp(a->all[k].op_type, n->op_type) || strcmp(a->all[k].provider, provider))) k++;
    if (k == a->used) {
        if (a->used == a->cap) {
            size_t cap = a->cap ? 2 * a->cap : 32;
            onyx_op_time *grown = onyx_realloc(a->all, cap * sizeof *grown);
            if (!grown) {
                a->failed = 1;
                return;
            }
            a->all = grown;
            a->cap = cap;
        }
        a->all[k] = (onyx_op_time){.op_type = n->op_type, .provider = provider};
        a->used++;
    }
    a->all[k].nodes++;
    a->all[k].calls += calls;
    a->all[k].total_ns += ns;
}

static int op_time_by_ns(const void *x, const void *y) {
    const onyx_op_time *a = x, *b = y;
    if (a->total_ns != b->total_ns) return a->total_ns < b->total_ns ? 1 : -1;
    int c = strcmp(a->op_type, b->op_type);
    return c ? c : strcmp(a->provider, b->provider);
}

onyx_status onyx_session_op_times(const onyx_session *s, onyx_op_time *out, size_t capacity, size_t *count) {
    onyx_error_clear();
    if (!s || !count || (!out && capacity))
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "onyx_session_op_times: NULL argument");
    *count = 0;
    if (!s->options.enable_profiling)
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "%s: profiling is off (set enable_profiling in the session options)",
                          s->model->display_name);
    op_times_acc acc = {.s = s};
    onyx_exec_each_node_time(s->exec, op_times_add, &acc);
    if (acc.failed) {
        onyx_free(acc.all);
        return ONYX_ERR_OUT_OF_MEMORY;
    }
    if (acc.used) qsort(acc.all, acc.used, sizeof *acc.all, op_time_by_ns);
    *count = acc.used < capacity ? acc.used : capacity; /* the largest that fit */
    if (*count) memcpy(out, acc.all, *count * sizeof *out);
    onyx_free(acc.all);
    return ONYX_OK;
}

onyx_status onyx_session_last_run_stats(const onyx_session *s, onyx_run_stats *out) {
    onyx_error_clear();
    if (!s || !out) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "onyx_session_last_run_stats: NULL argument");
    if (out->struct_size != sizeof *out)
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "onyx_run_stats.struct_size is %zu, expected %zu", out->struct_size, sizeof *out);
    *out = s->last_stats;
    return ONYX_OK;
}

/* ---- device memory ---- */

void onyx_device_memory_stats_init(onyx_device_memory_stats *m) {
    if (!m) return;
    memset(m, 0, sizeof *m);
    m->struct_size = sizeof *m;
}

static onyx_provider *session_device_provider(const onyx_session *s) {
    for (int p = 0; p < s->n_providers; p++)
        if (s->providers[p]->ops->memory_stats) return s->providers[p];
    return NULL;
}

void session_memory_snapshot(const onyx_session *s, onyx_device_memory_stats *out) {
    onyx_device_memory_stats_init(out);
    onyx_provider *p = session_device_provider(s);
    if (p) p->ops->memory_stats(p, out);
}

void session_record_stats(onyx_session *s, const onyx_device_memory_stats *before, uint64_t host_ns, uint64_t wait_ns) {
    onyx_run_stats *r = &s->last_stats;
    onyx_exec_stats(s->exec, r);
    onyx_device_memory_stats after;
    session_memory_snapshot(s, &after);
    r->device_allocations = after.driver_allocations - before->driver_allocations;
    r->host_ns = host_ns;
    r->wait_ns = wait_ns;
    onyx_run_totals *t = &s->totals;
    t->runs++;
    t->planned_runs += r->plan_reused != 0;
    t->nodes_run += r->nodes_run;
    t->device_copies += r->device_copies;
    t->host_allocations += r->host_allocations;
    t->device_allocations += r->device_allocations;
    t->host_ns += host_ns;
    t->wait_ns += wait_ns;
    t->graph_runs += r->graph_launched != 0;
    t->graph_instantiations += r->graph_instantiations;
}

void onyx_run_totals_init(onyx_run_totals *t) {
    if (!t) return;
    memset(t, 0, sizeof *t);
    t->struct_size = sizeof *t;
}

onyx_status onyx_session_run_totals(const onyx_session *s, onyx_run_totals *out) {
    onyx_error_clear();
    if (!s || !out) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "onyx_session_run_totals: NULL argument");
    if (out->struct_size != sizeof *out)
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "onyx_run_totals.struct_size is %zu, expected %zu", out->struct_size,
                          sizeof *out);
    *out = s->totals;
    return ONYX_OK;
}

void onyx_session_reset_run_totals(onyx_session *s) {
    if (!s) return;
    onyx_run_totals_init(&s->totals);
    onyx_exec_profile_reset(s->exec);
}

onyx_status onyx_session_device_memory(const onyx_session *s, onyx_device_memory_stats *out) {
    onyx_error_clear();
    if (!s || !out) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "onyx_session_device_memory: NULL argument");
    if (out->struct_size != sizeof *out)
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "onyx_device_memory_stats.struct_size is %zu, expected %zu",
                          out->struct_size, sizeof *out);
    onyx_provider *p = session_device_provider(s);
    if (!p)
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "%s: the session uses no GPU provider (providers: %s)",
                          s->model->display_name, s->providers_used);
    return p->ops->memory_stats(p, out);
}

onyx_status onyx_session_release_cached_memory(onyx_session *s) {
    onyx_error_clear();
    if (!s) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "onyx_session_release_cached_memory: session is NULL");
    onyx_provider *p = session_device_provider(s);
    if (p && p->ops->release_cached) p->ops->release_cached(p);
    onyx_host_cache_trim(); /* host blocks that earlier outputs gave back */
    return ONYX_OK;
}

/* ---- run ---- */

onyx_status session_sync(onyx_session *s) {
    for (int p = 0; p < s->n_providers; p++)
        if (s->providers[p]->ops->sync) ONYX_TRY(s->providers[p]->ops->sync(s->providers[p]));
    return ONYX_OK;
}

uintptr_t session_queue(const onyx_session *s) {
    for (int p = 0; p < s->n_providers; p++)
        if (s->providers[p]->ops->queue) return s->providers[p]->ops->queue(s->providers[p]);
    return 0;
}

static onyx_provider *readback_provider(onyx_session *s, const onyx_tensor *t) {
    onyx_provider *p = onyx_provider_for_device(s->providers, s->n_providers, t->device);
    return p && p->ops->readback_begin && p->ops->readback_wait ? p : NULL;
}

onyx_status session_readback_begin(onyx_session *s, const onyx_tensor *t) {
    if (t->device == ONYX_DEVICE_CPU) return ONYX_OK; /* read at wait */
    onyx_provider *p = readback_provider(s, t);
    if (!p) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "%s: no provider of the session reads that device back",
                              s->model->display_name);
    return p->ops->readback_begin(p, t->data, t->nbytes);
}

onyx_status session_readback_wait(onyx_session *s, const onyx_tensor *t, void *dst) {
    if (t->device == ONYX_DEVICE_CPU) {
        if (t->nbytes) memcpy(dst, t->data, t->nbytes);
        return ONYX_OK;
    }
    onyx_provider *p = readback_provider(s, t);
    if (!p) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "%s: no provider of the session reads that device back",
                              s->model->display_name);
    /* The wait counts as the session's wait for the device (its last run's and its totals'):
     * in a loop that queues ahead it is where the device's time shows. */
    uint64_t t0 = onyx_clock_ns();
    onyx_status st = p->ops->readback_wait(p, dst, t->nbytes);
    uint64_t waited = onyx_clock_ns() - t0;
    s->last_stats.wait_ns += waited;
    s->totals.wait_ns += waited;
    return st;
}

int session_find_input(const onyx_session *s, const char *name) {
    for (size_t i = 0; i < s->n_inputs; i++)
        if (!strcmp(s->inputs[i].info.name, name)) return (int)i;
    return -1;
}

int session_find_output(const onyx_session *s, const char *name) {
    for (size_t i = 0; i < s->n_outputs; i++)
        if (!strcmp(s->outputs[i].info.name, name)) return (int)i;
    return -1;
}

const char *session_list_names(const session_io *ios, size_t n, char *buf, size_t size) {
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        int n_written = snprintf(buf + used, size - used, "%s'%s'", used ? ", " : "", ios[i].info.name);
        if (n_written < 0 || (size_t)n_written >= size - used) break;
        used += (size_t)n_written;
    }
    return buf;
}

onyx_status session_check_input(const onyx_session *s, const session_io *io, const onyx_tensor *t) {
    const char *model = s->model->display_name;
    char got[256], want[256];
    if (t->device != ONYX_DEVICE_CPU && !onyx_provider_for_device(s->providers, s->n_providers, t->device))
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "%s: input '%s' is a GPU tensor, but the session's providers are [%s]",
                          model, io->info.name, s->providers_used);
    if (t->device != ONYX_DEVICE_CPU && t->dtype == ONYX_DTYPE_STRING)
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "%s: input '%s' is a string tensor on a device", model, io->info.name);
    if (io->info.dtype != ONYX_DTYPE_UNDEFINED && t->dtype != io->info.dtype)
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "%s: input '%s' has dtype %s, expected %s", model, io->info.name,
                          onyx_dtype_name(t->dtype), onyx_dtype_name(io->info.dtype));
    if (io->info.rank >= 0 && t->rank != io->info.rank) {
        size_t used = 0;
        for (int d = 0; d < io->info.rank; d++)
            used += (size_t)snprintf(want + used, sizeof want - used, "%s%s", d ? "," : "",
                                     io->dims[d] >= 0 ? (snprintf(got, sizeof got, "%lld", (long long)io->dims[d]), got)
                                                      : (io->dim_params[d] ? io->dim_params[d] : "?"));
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "%s: input '%s' has rank %d (shape %s), expected rank %d ([%s])", model,
                          io->info.name, t->rank, onyx_shape_describe(t->dims, t->rank, got, sizeof got), io->info.rank, want);
    }
    for (int d = 0; io->info.rank >= 0 && d < t->rank; d++)
        if (io->dims[d] >= 0 && t->dims[d] != io->dims[d])
            return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "%s: input '%s' has shape %s, but dim %d must be %lld", model,
                              io->info.name, onyx_shape_describe(t->dims, t->rank, got, sizeof got), d, (long long)io->dims[d]);
    return ONYX_OK;
}

onyx_status onyx_session_run(onyx_session *s, const char *const *input_names, const onyx_tensor *const *inputs,
                             size_t n_inputs, const char *const *output_names, size_t n_outputs, onyx_tensor **outputs) {
    onyx_error_clear();
    if (outputs)
        for (size_t i = 0; i < n_outputs; i++) outputs[i] = NULL;
    if (!s) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "onyx_session_run: session is NULL");
    if ((n_inputs && (!input_names || !inputs)) || !output_names || !outputs || n_outputs == 0)
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "onyx_session_run: NULL names or tensors, or no outputs requested");
    const char *model = s->model->display_name;
    char names[1024];
    for (size_t i = 0; i < s->n_inputs; i++) onyx_exec_bind(s->exec, s->inputs[i].value_id, NULL);
    /* Bind the given inputs by name. */
    for (size_t k = 0; k < n_inputs; k++) {
        if (!input_names[k] || !inputs[k])
            return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "onyx_session_run: input %zu has a NULL name or tensor", k);
        int i = session_find_input(s, input_names[k]);
        if (i < 0)
            return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "%s: '%s' is not an input of the model; the inputs are [%s]", model,
                              input_names[k], session_list_names(s->inputs, s->n_inputs, names, sizeof names));
        for (size_t j = 0; j < k; j++)
            if (!strcmp(input_names[j], input_names[k]))
                return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "%s: input '%s' is given twice", model, input_names[k]);
        ONYX_TRY(session_check_input(s, &s->inputs[i], inputs[k]));
        onyx_exec_bind(s->exec, s->inputs[i].value_id, inputs[k]);
    }
    for (size_t i = 0; i < s->n_inputs; i++) {
        int id = s->inputs[i].value_id;
        int given = 0;
        for (size_t k = 0; k < n_inputs && !given; k++) given = !strcmp(input_names[k], s->inputs[i].info.name);
        if (!given && s->graph->values[id].kind == ONYX_VALUE_INPUT)
            return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "%s: input '%s' is missing; the inputs are [%s]", model,
                              s->inputs[i].info.name, session_list_names(s->inputs, s->n_inputs, names, sizeof names));
    }
    /* Resolve requested outputs before running. */
    int out_ids_small[64];
    int *out_ids = n_outputs <= 64 ? out_ids_small : onyx_malloc(n_outputs * sizeof *out_ids);
    if (!out_ids) return ONYX_ERR_OUT_OF_MEMORY;
    onyx_status st = ONYX_OK;
    for (size_t k = 0; k < n_outputs && st == ONYX_OK; k++) {
        int i = output_names[k] ? session_find_output(s, output_names[k]) : -1;
        if (i < 0)
            st = onyx_error(ONYX_ERR_INVALID_ARGUMENT, "%s: '%s' is not an output of the model; the outputs are [%s]", model,
                            output_names[k] ? output_names[k] : "(null)",
                            session_list_names(s->outputs, s->n_outputs, names, sizeof names));
        else out_ids[k] = s->outputs[i].value_id;
    }
    /* A host-only session writes the requested outputs into buffers of their own and hands them
     * over: no copy out of the arena (a GPT2 decode step returns its whole key/value cache, 9.7 MB
     * a step). With a GPU provider they are copied to the host as before. */
    int hand_over = st == ONYX_OK && !session_device_provider(s);
    for (size_t k = 0; k < n_outputs && hand_over; k++) onyx_exec_set_detach(s->exec, out_ids[k], 1);
    onyx_device_memory_stats mem_before;
    session_memory_snapshot(s, &mem_before);
    uint64_t t0 = onyx_clock_ns();
    if (st == ONYX_OK) st = onyx_exec_run(s->exec);
    uint64_t t1 = onyx_clock_ns();
    if (st == ONYX_OK) st = session_sync(s);
    for (size_t k = 0; k < n_outputs && st == ONYX_OK; k++)
        st = hand_over ? onyx_exec_take_output(s->exec, out_ids[k], ONYX_DEVICE_CPU, &outputs[k])
                       : onyx_exec_output_to_host(s->exec, out_ids[k], &outputs[k]);
    session_record_stats(s, &mem_before, t1 - t0, onyx_clock_ns() - t1);
    onyx_exec_finish(s->exec);
    for (size_t k = 0; k < n_outputs && hand_over; k++) onyx_exec_set_detach(s->exec, out_ids[k], 0);
    for (size_t i = 0; i < s->n_inputs; i++) onyx_exec_bind(s->exec, s->inputs[i].value_id, NULL);
    if (out_ids != out_ids_small) onyx_free(out_ids);
    if (st != ONYX_OK)
        for (size_t k = 0; k < n_outputs; k++) {
            onyx_tensor_destroy(outputs[k]);
            outputs[k] = NULL;
        }
    return st;
}
