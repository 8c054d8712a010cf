/*
 * provider.c - the provider registry (names, availability, options) and table-driven claiming.
 */
#include "providers/provider.h"

#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"

typedef struct provider_entry {
    const char *name;
    const char *ort_name;
    /* 1 when usable here; otherwise 0 with why filled. */
    int (*available)(char *why, size_t why_size);
    onyx_status (*create)(const char *options, int threads, onyx_provider **out);
} provider_entry;

static int cpu_available(char *why, size_t why_size) { return 1; }

static int cuda_available(char *why, size_t why_size) {
#ifdef ONYX_HAVE_CUDA
    return onyx_cuda_device_count(why, why_size) > 0;
#else
    snprintf(why, why_size, "onyx was built without CUDA");
    return 0;
#endif
}

static const provider_entry provider_registry[] = {
    {"cpu", "CPUExecutionProvider", cpu_available, onyx_cpu_provider_create},
#ifdef ONYX_HAVE_CUDA
    {"cuda", "CUDAExecutionProvider", cuda_available, onyx_cuda_provider_create},
#else
    {"cuda", "CUDAExecutionProvider", cuda_available, NULL},
#endif
};
#define N_PROVIDERS (sizeof provider_registry / sizeof provider_registry[0])

const char *onyx_providers_available(char *buf, size_t size) {
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < N_PROVIDERS; i++) {
        char why[200];
        if (!provider_registry[i].create || !provider_registry[i].available(why, sizeof why)) continue;
        int n = snprintf(buf + used, size - used, "%s%s", used ? ", " : "", provider_registry[i].name);
        if (n < 0 || (size_t)n >= size - used) break;
        used += (size_t)n;
    }
    return buf;
}

const char *onyx_runtime_info(char *buf, size_t size) {
    if (!buf || !size) return buf;
    char cpu[300], cuda[400];
    onyx_cpu_describe(cpu, sizeof cpu);
#ifdef ONYX_HAVE_CUDA
    onyx_cuda_describe(cuda, sizeof cuda);
#else
    snprintf(cuda, sizeof cuda, "not built (onyx was built without the CUDA toolkit)");
#endif
    snprintf(buf, size, "cpu: %s\ncuda: %s\n", cpu, cuda);
    return buf;
}

onyx_status onyx_provider_create(const char *name, const char *options, int threads, onyx_provider **out) {
    *out = NULL;
    for (size_t i = 0; i < N_PROVIDERS; i++) {
        const provider_entry *e = &provider_registry[i];
        if (strcmp(name, e->name) != 0 && strcmp(name, e->ort_name) != 0) continue;
        char why[200] = "", avail[200];
        if (!e->create || !e->available(why, sizeof why))
            return onyx_error(ONYX_ERR_NO_PROVIDER, "Asked to use the %s provider, but the available providers are [%s] (%s)",
                              e->name, onyx_providers_available(avail, sizeof avail), why);
        return e->create(options ? options : "", threads, out);
    }
    char avail[200];
    return onyx_error(ONYX_ERR_NO_PROVIDER, "unknown provider '%s'; the available providers are [%s]", name,
                      onyx_providers_available(avail, sizeof avail));
}

void onyx_provider_release_tensor(void *p, onyx_tensor *t) {
    onyx_provider *prov = p;
    if (t->data) prov->ops->free(prov, t->data);
}

onyx_status onyx_provider_tensor_copy(onyx_provider *p, const onyx_tensor *t, onyx_tensor **out) {
    *out = NULL;
    if (t->dtype == ONYX_DTYPE_STRING && p->ops->device != ONYX_DEVICE_CPU)
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "string tensors stay on the host");
    onyx_tensor *r = onyx_malloc(sizeof *r);
    if (!r) return ONYX_ERR_OUT_OF_MEMORY;
    *r = *t;
    r->device = p->ops->device;
    r->device_id = 0;
    r->data = NULL;
    r->owns_data = 1;
    r->release = onyx_provider_release_tensor;
    r->release_ctx = p;
    onyx_status st = p->ops->alloc(p, t->nbytes, &r->data);
    if (st == ONYX_OK) st = p->ops->copy(p, r->data, r->device, t->data, t->device, t->nbytes);
    if (st != ONYX_OK) {
        if (r->data) p->ops->free(p, r->data);
        onyx_free(r);
        return st;
    }
    *out = r;
    return ONYX_OK;
}

onyx_provider *onyx_provider_for_device(onyx_provider *const *providers, int n, onyx_device_type d) {
    for (int i = 0; i < n; i++)
        if (providers[i] && providers[i]->ops->device == d) return providers[i];
    return NULL;
}

void onyx_provider_destroy(onyx_provider *p) {
    if (p) p->ops->destroy(p);
}

onyx_status onyx_provider_claim_by_table(onyx_provider *p, const onyx_graph *g, const onyx_kernel_def **claimed,
                                         char (*why)[160]) {
    for (int i = 0; i < g->n_nodes; i++) {
        const onyx_node *node = &g->nodes[i];
        onyx_dtype dtype = ONYX_DTYPE_UNDEFINED;
        char reason[160] = "";
        /* First find any row for the op/opset, then check the dtype of that row's type input. */
        const onyx_kernel_def *row =
            onyx_kernel_lookup(p->kernel_tables, node->op_type, node->domain, node->opset, ONYX_DTYPE_UNDEFINED,
                               reason, sizeof reason);
        if (row && row->type_input >= 0 && row->type_input < node->n_inputs && node->inputs[row->type_input] >= 0) {
            dtype = g->values[node->inputs[row->type_input]].dtype;
            if (dtype != ONYX_DTYPE_UNDEFINED)
                row = onyx_kernel_lookup(p->kernel_tables, node->op_type, node->domain, node->opset, dtype, reason,
                                         sizeof reason);
        }
        /* Devices hold no strings: a node reading or making string tensors stays on the host
         * (Cast to STRING, string Constants), whatever its row's type input says. */
        if (row && p->ops->device != ONYX_DEVICE_CPU) {
            for (int k = 0; k < node->n_inputs && row; k++)
                if (node->inputs[k] >= 0 && g->values[node->inputs[k]].dtype == ONYX_DTYPE_STRING &&
                    !(k < 32 && (row->shape_inputs & (1u << k))))
                    row = NULL;
            for (int o = 0; o < node->n_outputs && row; o++)
                if (node->outputs[o] >= 0 && g->values[node->outputs[o]].dtype == ONYX_DTYPE_STRING) row = NULL;
            if (!row) snprintf(reason, sizeof reason, "string tensors stay on the host");
        }
        claimed[i] = row;
        if (!row && why) snprintf(why[i], sizeof why[i], "%s", reason);
    }
    return ONYX_OK;
}
