/*
 * cuda_op_case.h - run one node through the CPU provider's kernel and the CUDA provider's
 * kernel for the same op, and compare every output (ggml's test-backend-ops idea): the CPU
 * kernels are the reference the GPU kernels are tested against.
 *
 *   opc_case c;
 *   opc_init(&c, "Softmax", 13, 1);                 op, opset, number of outputs
 *   opc_attr_int(&c, "axis", -1);
 *   opc_input(&c, 0, ONYX_DTYPE_FLOAT32, dims, 2, NULL);   NULL data = seeded random values
 *   opc_run(&c, 1e-6, 1e-5);                        compare (atol, rtol); frees the case
 *
 * Inputs the CUDA row reads on the host (host_inputs) stay on the host; the others are copied
 * to the GPU. Outputs and the workspace are cudaMalloc'd for the case. A mismatch reports the
 * op, opset, input shapes, output, first bad index and both values, and fails one check.
 * Without CUDA (or a GPU) opc_cuda_available() is 0 and the test should exit 77.
 */
#ifndef ONYX_TESTS_CUDA_OP_CASE_H
#define ONYX_TESTS_CUDA_OP_CASE_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/dtype.h"
#include "core/tensor.h"
#include "harness.h"
#include "providers/cpu/cpu_tables.h"
#include "providers/kernel.h"
#include "providers/provider.h"

#ifdef ONYX_HAVE_CUDA
#include <cuda_runtime_api.h>

#include "providers/cuda/cuda_provider.h"
#endif

#define OPC_MAX_IO 16
#define OPC_MAX_ATTRS 16
#define OPC_MAX_LIST 64

typedef struct opc_case {
    onyx_node node;
    onyx_attr attrs[OPC_MAX_ATTRS];
    int64_t attr_ints[OPC_MAX_ATTRS][OPC_MAX_LIST];
    float attr_floats[OPC_MAX_ATTRS][OPC_MAX_LIST];
    onyx_tensor attr_tensors[OPC_MAX_ATTRS];
    int n_inputs;
    onyx_tensor inputs[OPC_MAX_IO]; /* host data, owned */
    int present[OPC_MAX_IO];
    uint64_t seed;
} opc_case;

#ifdef ONYX_HAVE_CUDA
static onyx_provider *opc_cuda_provider; /* made once per test program */
#endif
static uint64_t opc_seed_counter = 0x9E3779B97F4A7C15ull;

static inline int opc_cuda_available(void) {
#ifdef ONYX_HAVE_CUDA
    if (opc_cuda_provider) return 1;
    if (onyx_provider_create("cuda", "", 1, &opc_cuda_provider) != ONYX_OK) {
        fprintf(stderr, "skipping: %s\n", onyx_last_error());
        opc_cuda_provider = NULL;
        return 0;
    }
    return 1;
#else
    fprintf(stderr, "skipping: onyx was built without CUDA\n");
    return 0;
#endif
}

static inline uint64_t opc_next(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static inline void opc_init(opc_case *c, const char *op_type, int opset, int n_outputs) {
    memset(c, 0, sizeof *c);
    c->node.name = "opc_node";
    c->node.op_type = op_type;
    c->node.domain = "";
    c->node.opset = opset;
    c->node.attrs = c->attrs;
    c->node.n_outputs = n_outputs;
    c->seed = (opc_seed_counter += 0x2545F4914F6CDD1Dull) | 1;
}

static inline onyx_attr *opc_attr(opc_case *c, const char *name, onyx_attr_type type) {
    onyx_attr *a = &c->attrs[c->node.n_attrs++];
    a->name = name;
    a->type = type;
    return a;
}
static inline void opc_attr_int(opc_case *c, const char *name, int64_t v) { opc_attr(c, name, ONYX_ATTR_INT)->i = v; }
static inline void opc_attr_float(opc_case *c, const char *name, float v) { opc_attr(c, name, ONYX_ATTR_FLOAT)->f = v; }
static inline void opc_attr_string(opc_case *c, const char *name, const char *v) {
    onyx_attr *a = opc_attr(c, name, ONYX_ATTR_STRING);
    a->s = v;
    a->s_len = strlen(v);
}
static inline void opc_attr_ints(opc_case *c, const char *name, const int64_t *v, int n) {
    int k = c->node.n_attrs;
    onyx_attr *a = opc_attr(c, name, ONYX_ATTR_INTS);
    memcpy(c->attr_ints[k], v, (size_t)n * sizeof *v);
    a->ints = c->attr_ints[k];
    a->count = (size_t)n;
}
static inline void opc_attr_floats(opc_case *c, const char *name, const float *v, int n) {
    int k = c->node.n_attrs;
    onyx_attr *a = opc_attr(c, name, ONYX_ATTR_FLOATS);
    memcpy(c->attr_floats[k], v, (size_t)n * sizeof *v);
    a->floats = c->attr_floats[k];
    a->count = (size_t)n;
}
static inline void opc_attr_tensor(opc_case *c, const char *name, onyx_dtype dtype, const int64_t *dims, int rank,
                                   const void *data) {
    int k = c->node.n_attrs;
    onyx_attr *a = opc_attr(c, name, ONYX_ATTR_TENSOR);
    onyx_tensor *t = &c->attr_tensors[k];
    onyx_tensor_init(t);
    if (onyx_tensor_set_shape(t, dtype, dims, rank, "attribute") == ONYX_OK && onyx_tensor_alloc_data(t) == ONYX_OK &&
        data)
        memcpy(t->data, data, t->nbytes);
    a->t = t;
}

static inline void opc_fill_random(opc_case *c, onyx_tensor *t, double lo, double hi, int integers) {
    int64_t n = onyx_shape_numel(t->dims, t->rank);
    for (int64_t i = 0; i < n; i++) {
        double u = (double)(opc_next(&c->seed) >> 11) / 9007199254740992.0;
        double v = lo + u * (hi - lo);
        if (integers || !onyx_dtype_is_float(t->dtype)) v = floor(lo + u * (hi - lo + 1));
        if (v > hi) v = hi;
        switch (t->dtype) {
        case ONYX_DTYPE_FLOAT32: ((float *)t->data)[i] = (float)v; break;
        case ONYX_DTYPE_FLOAT64: ((double *)t->data)[i] = v; break;
        case ONYX_DTYPE_FLOAT16: ((uint16_t *)t->data)[i] = onyx_f32_to_f16((float)v); break;
        case ONYX_DTYPE_BFLOAT16: ((uint16_t *)t->data)[i] = onyx_f32_to_bf16((float)v); break;
        case ONYX_DTYPE_INT8: ((int8_t *)t->data)[i] = (int8_t)v; break;
        case ONYX_DTYPE_UINT8: ((uint8_t *)t->data)[i] = (uint8_t)v; break;
        case ONYX_DTYPE_INT16: ((int16_t *)t->data)[i] = (int16_t)v; break;
        case ONYX_DTYPE_UINT16: ((uint16_t *)t->data)[i] = (uint16_t)v; break;
        case ONYX_DTYPE_INT32: ((int32_t *)t->data)[i] = (int32_t)v; break;
        case ONYX_DTYPE_UINT32: ((uint32_t *)t->data)[i] = (uint32_t)v; break;
        case ONYX_DTYPE_INT64: ((int64_t *)t->data)[i] = (int64_t)v; break;
        case ONYX_DTYPE_UINT64: ((uint64_t *)t->data)[i] = (uint64_t)v; break;
        case ONYX_DTYPE_BOOL: ((uint8_t *)t->data)[i] = (uint8_t)(v != 0); break;
        default: break;
        }
    }
}

static inline onyx_tensor *opc_input_slot(opc_case *c, int i, onyx_dtype dtype, const int64_t *dims, int rank) {
    onyx_tensor *t = &c->inputs[i];
    onyx_tensor_init(t);
    if (onyx_tensor_set_shape(t, dtype, dims, rank, "input") != ONYX_OK || onyx_tensor_alloc_data(t) != ONYX_OK) {
        fprintf(stderr, "opc: cannot make input %d: %s\n", i, onyx_last_error());
        return NULL;
    }
    c->present[i] = 1;
    if (i + 1 > c->n_inputs) c->n_inputs = i + 1;
    return t;
}

/* Input i with the given data (copied), or seeded random values when data is NULL: floats in
 * [-2, 2], integers in [-5, 5], bools 0/1. */
static inline void opc_input(opc_case *c, int i, onyx_dtype dtype, const int64_t *dims, int rank, const void *data) {
    onyx_tensor *t = opc_input_slot(c, i, dtype, dims, rank);
    if (!t) return;
    if (data) memcpy(t->data, data, t->nbytes);
    else if (dtype == ONYX_DTYPE_BOOL) opc_fill_random(c, t, 0, 1, 1);
    else if (onyx_dtype_is_float(dtype)) opc_fill_random(c, t, -2, 2, 0);
    else if (dtype == ONYX_DTYPE_UINT8 || dtype == ONYX_DTYPE_UINT16 || dtype == ONYX_DTYPE_UINT32 ||
             dtype == ONYX_DTYPE_UINT64)
        opc_fill_random(c, t, 0, 10, 1);
    else opc_fill_random(c, t, -5, 5, 1);
}

/* Input i of random integers (or integral floats) in [lo, hi]: indices, axes. */
static inline void opc_input_range(opc_case *c, int i, onyx_dtype dtype, const int64_t *dims, int rank, int64_t lo,
                                   int64_t hi) {
    onyx_tensor *t = opc_input_slot(c, i, dtype, dims, rank);
    if (t) opc_fill_random(c, t, (double)lo, (double)hi, 1);
}

static inline void opc_input_absent(opc_case *c, int i) {
    c->present[i] = 0;
    if (i + 1 > c->n_inputs) c->n_inputs = i + 1;
}

static inline const char *opc_describe(const opc_case *c, char *buf, size_t size) {
    size_t used = (size_t)snprintf(buf, size, "%s opset %d (", c->node.op_type, c->node.opset);
    for (int i = 0; i < c->n_inputs && used < size; i++) {
        char t[160];
        used += (size_t)snprintf(buf + used, size - used, "%s%s", i ? ", " : "",
                                 c->present[i] ? onyx_tensor_describe(&c->inputs[i], t, sizeof t) : "-");
    }
    if (used < size) snprintf(buf + used, size - used, ")");
    return buf;
}

static inline void opc_free(opc_case *c) {
    for (int i = 0; i < OPC_MAX_IO; i++)
        if (c->present[i]) onyx_tensor_release(&c->inputs[i]);
    for (int a = 0; a < c->node.n_attrs; a++)
        if (c->attrs[a].type == ONYX_ATTR_TENSOR) onyx_tensor_release(&c->attr_tensors[a]);
}

#ifdef ONYX_HAVE_CUDA
/* Find the row of tables serving the case (op, opset, dtype of the row's type input). */
static inline const onyx_kernel_def *opc_lookup(const onyx_kernel_def *const *tables, const opc_case *c, char *why,
                                                size_t why_size) {
    const onyx_kernel_def *row =
        onyx_kernel_lookup(tables, c->node.op_type, c->node.domain, c->node.opset, ONYX_DTYPE_UNDEFINED, why, why_size);
    if (row && row->type_input >= 0 && row->type_input < c->n_inputs && c->present[row->type_input])
        row = onyx_kernel_lookup(tables, c->node.op_type, c->node.domain, c->node.opset,
                                 c->inputs[row->type_input].dtype, why, why_size);
    return row;
}

/* Run the case on one provider. Device runs copy inputs over (except host inputs) and bring
 * outputs back to the host; outs[] receive host tensors the caller releases. */
static inline onyx_status opc_exec(opc_case *c, const onyx_kernel_def *row, onyx_provider *prov, int on_gpu,
                                   onyx_tensor *outs) {
    onyx_tensor dev_in[OPC_MAX_IO], dev_out[OPC_MAX_IO];
    const onyx_tensor *in_ptrs[OPC_MAX_IO];
    onyx_tensor *out_ptrs[OPC_MAX_IO];
    int inputs[OPC_MAX_IO], outputs[OPC_MAX_IO];
    void *workspace = NULL;
    onyx_status st = ONYX_OK;
    for (int i = 0; i < OPC_MAX_IO; i++) {
        onyx_tensor_init(&dev_in[i]);
        onyx_tensor_init(&dev_out[i]);
        onyx_tensor_init(&outs[i]);
        inputs[i] = i;
        outputs[i] = i;
    }
    for (int i = 0; i < c->n_inputs; i++) {
        in_ptrs[i] = NULL;
        if (!c->present[i]) {
            inputs[i] = -1;
            continue;
        }
        if (!on_gpu || (i < 32 && (row->host_inputs & (1u << i)))) {
            in_ptrs[i] = &c->inputs[i];
            continue;
        }
        dev_in[i] = c->inputs[i];
        dev_in[i].owns_data = 0;
        dev_in[i].device = ONYX_DEVICE_CUDA;
        dev_in[i].data = NULL;
        if (cudaMalloc(&dev_in[i].data, c->inputs[i].nbytes ? c->inputs[i].nbytes : 1) != cudaSuccess ||
            cudaMemcpy(dev_in[i].data, c->inputs[i].data, c->inputs[i].nbytes, cudaMemcpyHostToDevice) != cudaSuccess) {
            st = onyx_error(ONYX_ERR_RUNTIME, "opc: copying input %d to the GPU failed", i);
            goto done;
        }
        in_ptrs[i] = &dev_in[i];
    }
    /* cudaMemcpy from pageable memory may return before the data reach the device, queued on
     * the legacy default stream, which the provider's non-blocking stream does not wait for. */
    if (on_gpu && cudaDeviceSynchronize() != cudaSuccess) {
        st = onyx_error(ONYX_ERR_RUNTIME, "opc: uploading the inputs failed");
        goto done;
    }
    for (int o = 0; o < c->node.n_outputs; o++) out_ptrs[o] = on_gpu ? &dev_out[o] : &outs[o];
    c->node.inputs = inputs;
    c->node.n_inputs = c->n_inputs;
    c->node.outputs = outputs;
    onyx_kernel_ctx ctx = {
        .graph = NULL, .node = &c->node, .n_inputs = c->n_inputs, .inputs = in_ptrs, .n_outputs = c->node.n_outputs,
        .outputs = out_ptrs, .threads = 1, .provider = prov,
    };
    st = row->prepare(&ctx);
    if (st != ONYX_OK) goto done;
    for (int o = 0; o < c->node.n_outputs; o++) {
        onyx_tensor *t = out_ptrs[o];
        if (on_gpu) {
            t->device = ONYX_DEVICE_CUDA;
            if (cudaMalloc(&t->data, t->nbytes ? t->nbytes : 1) != cudaSuccess) {
                st = onyx_error(ONYX_ERR_RUNTIME, "opc: cudaMalloc of output %d failed", o);
                goto done;
            }
        } else if ((st = onyx_tensor_alloc_data(t)) != ONYX_OK) {
            goto done;
        }
    }
    if (ctx.workspace_bytes) {
        if (on_gpu) {
            if (cudaMalloc(&workspace, ctx.workspace_bytes) != cudaSuccess) {
                st = onyx_error(ONYX_ERR_RUNTIME, "opc: cudaMalloc of the workspace failed");
                goto done;
            }
        } else {
            workspace = onyx_malloc_aligned(ctx.workspace_bytes);
        }
    }
    ctx.workspace = workspace;
    st = row->run(&ctx);
    if (st == ONYX_OK && on_gpu) {
        onyx_cuda_state *cs = prov->state;
        cudaError_t err = cudaStreamSynchronize(cs->stream);
        if (err != cudaSuccess) st = onyx_error(ONYX_ERR_RUNTIME, "opc: kernel failed: %s", cudaGetErrorString(err));
        for (int o = 0; o < c->node.n_outputs && st == ONYX_OK; o++) {
            outs[o] = dev_out[o];
            outs[o].device = ONYX_DEVICE_CPU;
            outs[o].data = NULL;
            if ((st = onyx_tensor_alloc_data(&outs[o])) == ONYX_OK &&
                cudaMemcpy(outs[o].data, dev_out[o].data, dev_out[o].nbytes, cudaMemcpyDeviceToHost) != cudaSuccess)
                st = onyx_error(ONYX_ERR_RUNTIME, "opc: copying output %d back failed", o);
        }
    }
done:
    if (on_gpu) {
        for (int i = 0; i < OPC_MAX_IO; i++) {
            if (dev_in[i].data) cudaFree(dev_in[i].data);
            if (dev_out[i].data) cudaFree(dev_out[i].data);
        }
        if (workspace) cudaFree(workspace);
    } else if (workspace) {
        onyx_free_aligned(workspace);
    }
    return st;
}
#endif

static inline double opc_value(const onyx_tensor *t, int64_t i) { return onyx_tensor_get_f64(t, i); }

/* Compare outputs; returns 1 when they agree. */
static inline int opc_compare(const opc_case *c, const onyx_tensor *ref, const onyx_tensor *got, double atol,
                              double rtol) {
    char desc[1024], a[160], b[160];
    for (int o = 0; o < c->node.n_outputs; o++) {
        const onyx_tensor *r = &ref[o], *g = &got[o];
        if (r->dtype != g->dtype || r->rank != g->rank || memcmp(r->dims, g->dims, (size_t)r->rank * sizeof *r->dims)) {
            fprintf(stderr, "FAIL %s: %s: output %d is %s on cuda, %s on cpu\n", onyx_test_current,
                    opc_describe(c, desc, sizeof desc), o, onyx_tensor_describe(g, a, sizeof a),
                    onyx_tensor_describe(r, b, sizeof b));
            return 0;
        }
        int64_t n = onyx_shape_numel(r->dims, r->rank);
        int is_float = onyx_dtype_is_float(r->dtype);
        double max_diff = 0;
        int64_t bad = -1;
        for (int64_t i = 0; i < n; i++) {
            double x = opc_value(r, i), y = opc_value(g, i);
            int ok;
            if (!is_float && r->dtype == ONYX_DTYPE_INT64) ok = onyx_tensor_get_i64(r, i) == onyx_tensor_get_i64(g, i);
            else if (!is_float) ok = x == y;
            else if (isnan(x) || isnan(y)) ok = isnan(x) && isnan(y);
            else if (isinf(x) || isinf(y)) ok = x == y;
            else ok = fabs(x - y) <= atol + rtol * fabs(x);
            if (is_float && !isnan(x) && !isnan(y) && !isinf(x) && !isinf(y) && fabs(x - y) > max_diff)
                max_diff = fabs(x - y);
            if (!ok && bad < 0) bad = i;
        }
        if (bad >= 0) {
            fprintf(stderr, "FAIL %s: %s: output %d (%s) differs at index %lld: cpu %.9g, cuda %.9g (max |diff| %.3g, atol %g, rtol %g)\n",
                    onyx_test_current, opc_describe(c, desc, sizeof desc), o, onyx_tensor_describe(r, a, sizeof a),
                    (long long)bad, opc_value(r, bad), opc_value(g, bad), max_diff, atol, rtol);
            return 0;
        }
    }
    return 1;
}

/* Run on both providers and compare; frees the case. */
static inline void opc_run(opc_case *c, double atol, double rtol) {
#ifdef ONYX_HAVE_CUDA
    char why[160], desc[1024];
    onyx_test_checks++;
    onyx_provider *cpu = NULL;
    onyx_tensor ref[OPC_MAX_IO], got[OPC_MAX_IO];
    for (int i = 0; i < OPC_MAX_IO; i++) {
        onyx_tensor_init(&ref[i]);
        onyx_tensor_init(&got[i]);
    }
    const onyx_kernel_def *cpu_row = opc_lookup(onyx_cpu_kernel_tables, c, why, sizeof why);
    const onyx_kernel_def *gpu_row = opc_lookup(onyx_cuda_kernel_tables, c, why, sizeof why);
    int ok = 1;
    if (!cpu_row || !gpu_row) {
        fprintf(stderr, "FAIL %s: %s: no %s kernel: %s\n", onyx_test_current, opc_describe(c, desc, sizeof desc),
                cpu_row ? "cuda" : "cpu", why);
        ok = 0;
    } else if (onyx_provider_create("cpu", "", 1, &cpu) != ONYX_OK) {
        ok = 0;
    } else {
        onyx_status st = opc_exec(c, cpu_row, cpu, 0, ref);
        if (st != ONYX_OK) {
            fprintf(stderr, "FAIL %s: %s: cpu: %s\n", onyx_test_current, opc_describe(c, desc, sizeof desc), onyx_last_error());
            ok = 0;
        } else if ((st = opc_exec(c, gpu_row, opc_cuda_provider, 1, got)) != ONYX_OK) {
            fprintf(stderr, "FAIL %s: %s: cuda: %s\n", onyx_test_current, opc_describe(c, desc, sizeof desc), onyx_last_error());
            ok = 0;
        } else {
            ok = opc_compare(c, ref, got, atol, rtol);
        }
    }
    if (!ok) onyx_test_failures++;
    for (int i = 0; i < OPC_MAX_IO; i++) {
        onyx_tensor_release(&ref[i]);
        onyx_tensor_release(&got[i]);
    }
    onyx_provider_destroy(cpu);
#else
    (void)atol;
    (void)rtol;
#endif
    opc_free(c);
}

/* Both providers must reject the case in prepare (or run); frees the case. */
static inline void opc_run_expect_error(opc_case *c) {
#ifdef ONYX_HAVE_CUDA
    char why[160], desc[1024];
    onyx_test_checks++;
    onyx_provider *cpu = NULL;
    onyx_tensor outs[OPC_MAX_IO];
    int ok = 1;
    const onyx_kernel_def *cpu_row = opc_lookup(onyx_cpu_kernel_tables, c, why, sizeof why);
    const onyx_kernel_def *gpu_row = opc_lookup(onyx_cuda_kernel_tables, c, why, sizeof why);
    if (cpu_row && onyx_provider_create("cpu", "", 1, &cpu) == ONYX_OK) {
        if (opc_exec(c, cpu_row, cpu, 0, outs) == ONYX_OK) ok = 0;
        for (int i = 0; i < OPC_MAX_IO; i++) onyx_tensor_release(&outs[i]);
    }
    if (gpu_row) {
        if (opc_exec(c, gpu_row, opc_cuda_provider, 1, outs) == ONYX_OK) ok = 0;
        for (int i = 0; i < OPC_MAX_IO; i++) onyx_tensor_release(&outs[i]);
    }
    if (!ok) {
        onyx_test_failures++;
        fprintf(stderr, "FAIL %s: %s: expected an error, but a provider accepted the case\n", onyx_test_current,
                opc_describe(c, desc, sizeof desc));
    }
    onyx_provider_destroy(cpu);
#endif
    opc_free(c);
}

#endif
