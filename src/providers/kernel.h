/*
 * kernel.h - the kernel contract shared by every per-node provider (cpu, cuda).
 *
 * Each provider keeps ONE table of onyx_kernel_def rows: {op, domain, opset range, dtypes,
 * host inputs, prepare, run}. Claiming (which nodes a provider can run), dispatch and the
 * generated docs/ops.md all read that table, so they cannot disagree.
 *
 * prepare(ctx): called before each run of the node with the concrete inputs. It checks input
 *   dtypes, ranks and attributes, and sets every present output's dtype and shape with
 *   onyx_tensor_set_shape(ctx->outputs[i], ...). It may read the data of inputs listed in
 *   host_inputs (shape-steering inputs such as Reshape's shape), and of no others. It sets
 *   ctx->workspace_bytes if run needs scratch memory. It allocates nothing.
 * run(ctx): computes. Outputs have data of the size prepare declared; ctx->workspace points to
 *   workspace_bytes of scratch. It allocates nothing.
 * Both return ONYX_OK or an onyx_error(...) status whose message says what is wrong in the
 *   node's terms ("input 1 (B) has shape [3,4], expected a matrix with 5 rows"); the runtime
 *   prefixes the model and node names.
 *
 * Tensor conventions: inputs[i] is NULL when optional input i is absent or beyond the node's
 * inputs; outputs[i] is NULL when output i is absent. Data are contiguous row-major.
 *
 * Devices: the runtime hands a kernel its inputs and outputs on the device of the kernel's
 * provider (ctx->provider), copying at device boundaries, except inputs flagged in host_inputs
 * (always on the host) and shape_inputs (left where they are, data not to be touched). The
 * workspace is on the provider's device too.
 */
#ifndef ONYX_PROVIDERS_KERNEL_H
#define ONYX_PROVIDERS_KERNEL_H

#include <stddef.h>
#include <stdint.h>

#include "core/dtype.h"
#include "core/status.h"
#include "core/tensor.h"
#include "graph/ir.h"

#define ONYX_OPSET_MAX 1000 /* until_version of rows that are current */

typedef struct onyx_kernel_ctx onyx_kernel_ctx;
typedef onyx_status (*onyx_kernel_fn)(onyx_kernel_ctx *ctx);

struct onyx_kernel_ctx {
    const onyx_graph *graph;
    const onyx_node *node;
    int n_inputs;
    const onyx_tensor *const *inputs;
    int n_outputs;
    onyx_tensor *const *outputs;
    size_t workspace_bytes; /* set by prepare */
    void *workspace;        /* given to run */
    int threads;            /* intra-op threads to use (>= 1) */
    void *provider;         /* the provider's context (struct onyx_provider *) */
    /* Run a subgraph attribute of this node (If's branches) with the enclosing scope's values
     * visible. *results receives subgraph->n_outputs tensors that the runtime owns and keeps
     * valid until this node's run returns. Set by the runtime. */
    onyx_status (*run_subgraph)(onyx_kernel_ctx *ctx, const onyx_graph *subgraph,
                                onyx_tensor *const **results);
    void *runtime; /* the runtime's state for run_subgraph */
    int view_output; /* set by prepare of ONYX_KERNEL_MAY_ALIAS_OUTPUT kernels: output 0 is a view */
};

typedef struct onyx_kernel_def {
    const char *op_type;
    const char *domain;   /* "" = ai.onnx, "com.microsoft" for contrib ops */
    int since_version;    /* first opset version this row serves */
    int until_version;    /* last one (inclusive); ONYX_OPSET_MAX when current */
    int type_input;       /* input whose dtype must be in dtypes; -1 = no constraint checked here */
    uint64_t dtypes;      /* ONYX_DT(...) mask for that input */
    uint32_t host_inputs; /* bit i set: prepare (and run) read input i's data on the host */
    onyx_kernel_fn prepare;
    onyx_kernel_fn run;
    uint32_t shape_inputs; /* bit i set: only input i's dtype and shape are read, never its data
                              (Shape, Size): the runtime copies it to no device */
    uint32_t flags;        /* ONYX_KERNEL_* below */
} onyx_kernel_def;

/* Output 0 holds input 0's bytes unchanged (Reshape, Flatten, Squeeze, Unsqueeze, Identity): the
 * runtime may give output 0 input 0's memory and skip run (a view; input 0 then lives as long
 * as output 0 is read). run must still work when it is called (it copies). */
#define ONYX_KERNEL_ALIAS_OUTPUT 1u
/* Output 0 holds input 0's bytes unchanged for some shapes only, which prepare tells by setting
 * ctx->view_output (Transpose moving only dims of size 1, as a decode step's attention heads
 * do): the runtime keeps input 0 alive as for ONYX_KERNEL_ALIAS_OUTPUT, and makes the view only
 * when prepare said so. run must still work when it is called. */
#define ONYX_KERNEL_MAY_ALIAS_OUTPUT 2u
/* The outputs are the results of the subgraph prepare ran (If): the runtime may hand the branch's
 * result buffers to the outputs instead of having run copy them. run then finds an output's data
 * already at its result's address, and must leave it as it is. */
#define ONYX_KERNEL_SUBGRAPH_OUTPUTS 4u

/* Helpers for kernels. */
static inline const onyx_tensor *onyx_input(const onyx_kernel_ctx *ctx, int i) {
    return i < ctx->n_inputs ? ctx->inputs[i] : NULL;
}
static inline onyx_tensor *onyx_output(const onyx_kernel_ctx *ctx, int i) {
    return i < ctx->n_outputs ? ctx->outputs[i] : NULL;
}
/* A context for running another op's kernel (node) on ctx's provider, threads and runtime, with
 * its own inputs and outputs and no workspace: composed kernels call rows of their table. */
static inline onyx_kernel_ctx onyx_kernel_sub_ctx(const onyx_kernel_ctx *ctx, const onyx_node *node,
                                                  const onyx_tensor **inputs, int n_inputs, onyx_tensor **outputs,
                                                  int n_outputs) {
    onyx_kernel_ctx sub = *ctx;
    sub.node = node;
    sub.inputs = inputs;
    sub.n_inputs = n_inputs;
    sub.outputs = outputs;
    sub.n_outputs = n_outputs;
    sub.workspace = NULL;
    sub.workspace_bytes = 0;
    sub.view_output = 0;
    return sub;
}
/* Checks that input i is present; the message names the input by position and op. */
onyx_status onyx_kernel_require(const onyx_kernel_ctx *ctx, int i);
/* Checks input i's dtype is in mask; the message lists what was expected. */
onyx_status onyx_kernel_check_dtype(const onyx_kernel_ctx *ctx, int i, uint64_t mask);
/* Normalise a possibly negative axis against rank; error names the attribute/input. */
onyx_status onyx_kernel_axis(const onyx_kernel_ctx *ctx, int64_t axis, int rank, const char *what,
                             int *out);

/* Find the row of a table (terminated by a row with op_type NULL) for op/domain/opset/dtype.
 * On failure returns NULL and writes the reason ("no kernel for Foo", "Add at opset 6: rows
 * cover 7-18", "dtype string not supported") into why. */
const onyx_kernel_def *onyx_kernel_lookup(const onyx_kernel_def *const *tables, const char *op_type,
                                          const char *domain, int opset, onyx_dtype dtype,
                                          char *why, size_t why_size);
/* "float32, float16, int64" for a mask, into buf. */
const char *onyx_dtype_mask_describe(uint64_t mask, char *buf, size_t size);

#endif
