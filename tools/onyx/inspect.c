/*
 * inspect.c - `onyx inspect MODEL`: what a model is (producer, IR version, opsets, metadata,
 * inputs and outputs with symbolic dims by name), which ops it uses (a histogram over every
 * graph, If branches included), and where a session places its nodes (per provider).
 *
 * Model facts come from the loader's IR; placement needs a session, so an error there is
 * reported after the facts, which still print.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "core/alloc.h"
#include "graph/ir.h"
#include "onnx/loader.h"

static const char inspect_usage[] =
    "usage: onyx inspect MODEL [--provider P] [--verbose]\n"
    "\n"
    "Prints the producer, IR version, opsets, metadata, inputs and outputs (dtype and dims,\n"
    "symbolic dims by name), a count of each op type, and how many nodes each provider runs.\n"
    "\n"
    "options:\n"
    "  --provider P   providers to place nodes on, e.g. cpu or cuda,cpu (default cpu)\n"
    "  --verbose      list the nodes each provider runs; verbose library log\n";

/* One op type and how many nodes use it. */
typedef struct op_count {
    const char *op_type;
    const char *domain;
    size_t count;
} op_count;

/* "int64[batch_size, sequence_length]" for a value. */
static void describe_value(const onyx_value *v, char *buf, size_t size) {
    size_t used = (size_t)snprintf(buf, size, "%s", v->dtype ? onyx_dtype_name(v->dtype) : "?");
    if (v->rank < 0) {
        snprintf(buf + used, size - used, "[?]");
        return;
    }
    for (int d = 0; d < v->rank && used < size; d++) {
        const char *sep = d ? ", " : "[";
        int n;
        if (v->dims[d].value >= 0)
            n = snprintf(buf + used, size - used, "%s%lld", sep, (long long)v->dims[d].value);
        else
            n = snprintf(buf + used, size - used, "%s%s", sep, v->dims[d].param ? v->dims[d].param : "?");
        if (n < 0) return;
        used += (size_t)n;
    }
    if (used < size) snprintf(buf + used, size - used, v->rank ? "]" : "[]");
}

static void print_values(const char *title, const onyx_graph *g, const int *ids, int n, int skip_constants) {
    char desc[512];
    int shown = 0;
    for (int i = 0; i < n; i++) shown += !(skip_constants && g->values[ids[i]].kind == ONYX_VALUE_CONSTANT);
    printf("%s (%d):\n", title, shown);
    for (int i = 0; i < n; i++) {
        const onyx_value *v = &g->values[ids[i]];
        if (skip_constants && v->kind == ONYX_VALUE_CONSTANT) continue;
        describe_value(v, desc, sizeof desc);
        printf("  %s: %s\n", v->name, desc);
    }
}

static void print_model_facts(const onyx_onnx_model *m) {
    printf("model: %s\n", m->path);
    const char *version = m->producer_version ? m->producer_version : "";
    printf("producer: %s%s%s\n", m->producer_name ? m->producer_name : "", version[0] ? " " : "", version);
    printf("ir version: %lld\n", (long long)m->ir_version);
    printf("opsets:");
    for (int i = 0; i < m->n_opsets; i++)
        printf("%s %s %lld", i ? "," : "", m->opsets[i].domain && m->opsets[i].domain[0] ? m->opsets[i].domain : "ai.onnx",
               (long long)m->opsets[i].version);
    printf("\n");
    if (m->n_metadata) {
        printf("metadata:\n");
        for (int i = 0; i < m->n_metadata; i++) printf("  %s = %s\n", m->metadata[i].key, m->metadata[i].value);
    }
    const onyx_graph *g = m->graph;
    print_values("inputs", g, g->inputs, g->n_inputs, 1);
    print_values("outputs", g, g->outputs, g->n_outputs, 0);
    int initializers = 0;
    for (int v = 0; v < g->n_values; v++) initializers += g->values[v].kind == ONYX_VALUE_CONSTANT;
    printf("initializers: %d\n", initializers);
}

static int compare_counts(const void *a, const void *b) {
    const op_count *x = a, *y = b;
    if (x->count != y->count) return x->count < y->count ? 1 : -1;
    return strcmp(x->op_type, y->op_type);
}

/* Op histogram over every graph of the model, most used first. */
static void print_op_histogram(const onyx_onnx_model *m) {
    size_t total = 0, distinct = 0, cap = 0;
    op_count *counts = NULL;
    for (int gi = 0; gi < m->n_graphs; gi++) {
        const onyx_graph *g = m->graphs[gi];
        for (int n = 0; n < g->n_nodes; n++) {
            const onyx_node *node = &g->nodes[n];
            size_t k = 0;
            while (k < distinct && !(strcmp(counts[k].op_type, node->op_type) == 0 &&
                                     strcmp(counts[k].domain, node->domain) == 0))
                k++;
            if (k == distinct) {
                if (distinct == cap) {
                    cap = cap ? cap * 2 : 32;
                    op_count *grown = onyx_realloc(counts, cap * sizeof *grown);
                    if (!grown) goto done;
                    counts = grown;
                }
                counts[distinct++] = (op_count){node->op_type, node->domain, 0};
            }
            counts[k].count++;
            total++;
        }
    }
    qsort(counts, distinct, sizeof *counts, compare_counts);
    printf("ops (%zu nodes, %zu types, subgraphs included):\n", total, distinct);
    for (size_t k = 0; k < distinct; k++)
        printf("  %6zu  %s%s%s\n", counts[k].count, counts[k].domain[0] ? counts[k].domain : "",
               counts[k].domain[0] ? "." : "", counts[k].op_type);
done:
    onyx_free(counts);
}

/* Node counts per provider of the session's optimised graph; node lists with verbose. */
static void print_placement(const onyx_session *session, int verbose) {
    size_t n = onyx_session_node_count(session);
    printf("placement (%zu nodes after optimisation, providers %s):\n", n, onyx_session_providers(session));
    const char *seen[16];
    size_t n_seen = 0;
    for (size_t i = 0; i < n; i++) {
        const char *op, *name, *provider;
        if (onyx_session_node_info(session, i, &op, &name, &provider) != ONYX_OK) continue;
        size_t p = 0;
        while (p < n_seen && strcmp(seen[p], provider) != 0) p++;
        if (p < n_seen || n_seen == 16) continue;
        seen[n_seen++] = provider;
        size_t count = 0;
        for (size_t j = i; j < n; j++)
            if (onyx_session_node_info(session, j, &op, &name, &provider) == ONYX_OK && strcmp(provider, seen[p]) == 0)
                count++;
        printf("  %s: %zu nodes\n", seen[p], count);
        if (!verbose) continue;
        printf("  Provider: [%s]: [", seen[p]);
        int first = 1;
        for (size_t j = i; j < n; j++)
            if (onyx_session_node_info(session, j, &op, &name, &provider) == ONYX_OK && strcmp(provider, seen[p]) == 0) {
                printf("%s%s (%s)", first ? "" : ", ", op, name && name[0] ? name : "-");
                first = 0;
            }
        printf("]\n");
    }
}

int cli_inspect(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        fputs(inspect_usage, stdout);
        return CLI_EXIT_OK;
    }
    const char *model_path = NULL, *provider = "cpu";
    int verbose = 0;
    for (int i = 1; i < argc; i++) {
        const char *value;
        int got;
        if ((got = cli_flag_value(argc, argv, &i, "--provider", &value))) {
            if (got < 0) return cli_usage_error("inspect", "--provider needs a value");
            provider = value;
        } else if (strcmp(argv[i], "--verbose") == 0) {
            verbose = 1;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            return cli_usage_error("inspect", "unknown option '%s'", argv[i]);
        } else if (model_path) {
            return cli_usage_error("inspect", "one MODEL expected, got '%s' and '%s'", model_path, argv[i]);
        } else {
            model_path = argv[i];
        }
    }
    if (!model_path) return cli_usage_error("inspect", "no MODEL given");
    if (verbose) onyx_log_set_level(ONYX_LOG_VERBOSE);
    onyx_onnx_model *model = NULL;
    onyx_status st = onyx_onnx_load_file(model_path, &model);
    if (st != ONYX_OK) {
        cli_report_error("inspect", model_path, st);
        return CLI_EXIT_FAILED;
    }
    print_model_facts(model);
    print_op_histogram(model);
    onyx_onnx_model_destroy(model);
    fflush(stdout);
    onyx_session_options so;
    onyx_session_options_init(&so);
    so.providers = provider;
    onyx_session *session = NULL;
    st = onyx_session_create(model_path, &so, &session);
    if (st != ONYX_OK) {
        cli_report_error("inspect", "placement", st);
        return CLI_EXIT_FAILED;
    }
    print_placement(session, verbose);
    onyx_session_destroy(session);
    return CLI_EXIT_OK;
}
