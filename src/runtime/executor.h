/*
 * executor.h - runs one placed graph (the main graph or an If branch) node by node.
 *
 * Memory plan. The first run for a given input signature (dtypes and shapes of the graph's
 * inputs and of the outer values a subgraph uses) is a recording run: every intermediate tensor
 * and kernel workspace is allocated on its own and its size and lifetime (producer node to last
 * consumer) are recorded. From those, a liveness-based planner gives each buffer an offset in
 * one arena, and the plan is cached under the signature. Later runs with the same signature put
 * every buffer at its planned offset: a steady-state run allocates nothing. A buffer that comes
 * out larger than planned (a data-dependent shape) is allocated on its own and counted.
 *
 * Shape folding. Values that depend only on the signature (Shape and Size of tensors whose
 * shapes the signature fixes, and anything computed only from those and constants: the
 * Shape->Gather->Unsqueeze->Concat chains of exports) are computed in the recording run and
 * kept with the plan; later runs skip their nodes.
 */
#ifndef ONYX_RUNTIME_EXECUTOR_H
#define ONYX_RUNTIME_EXECUTOR_H

#include <stdint.h>

#include "graph/ir.h"
#include "onyx/onyx.h"
#include "providers/provider.h"

typedef struct onyx_exec onyx_exec;

typedef struct onyx_exec_config {
    onyx_provider **providers; /* indexed by node->provider */
    int n_providers;
    int threads;
    onyx_log_level log_level;
    const char *model_name;
    int profile; /* time every node: ONYX_PROFILE_NODES waits for the device after each,
                    ONYX_PROFILE_HOST does not (onyx_exec_node_time) */
} onyx_exec_config;

/* An executor for g, whose nodes are placed. parent is the executor of the enclosing graph
 * (NULL for the main graph). */
onyx_status onyx_exec_create(const onyx_graph *g, const onyx_exec_config *config, onyx_exec *parent,
                             onyx_exec **out);
void onyx_exec_destroy(onyx_exec *e);

/* Bind graph input value id to a tensor on any device (borrowed until the run ends). */
void onyx_exec_bind(onyx_exec *e, int value_id, const onyx_tensor *t);
/* The tensor bound to graph input value_id is handed to e: the next run destroys it after its
 * last reader (a decode step's past key/values, read once by their Concat), and
 * onyx_exec_release_given destroys it if the run did not (an error, a value nobody reads, an
 * output that is the input itself, a run recorded as a CUDA graph, which may have to run again).
 * The caller must not touch it after the run. */
void onyx_exec_give(onyx_exec *e, int value_id);
/* Destroy every given tensor the last run left. */
void onyx_exec_release_given(onyx_exec *e);
/* Have the run write graph output value_id straight into dst when it has the produced dtype,
 * shape and device (otherwise onyx_exec_output_into copies it there); NULL unbinds. */
void onyx_exec_bind_output(onyx_exec *e, int value_id, onyx_tensor *dst);
/* Allocate value_id on its own (outside the arena) so onyx_exec_take_output can hand the
 * buffer over without a copy. */
void onyx_exec_set_detach(onyx_exec *e, int value_id, int detach);
/* Run all nodes. Afterwards the onyx_exec_output_* calls below give any graph output until
 * onyx_exec_finish or the next run. */
onyx_status onyx_exec_run(onyx_exec *e);
/* After a run: graph output value_id as a new host tensor (copied from its device); into the
 * caller's dst (a no-op when the run wrote there; an error naming name when dtype or shape
 * differ); or as a new tensor on device, handing over the buffer when the value was detached
 * and already there. The caller owns *out. */
onyx_status onyx_exec_output_to_host(onyx_exec *e, int value_id, onyx_tensor **out);
onyx_status onyx_exec_output_into(onyx_exec *e, int value_id, onyx_tensor *dst, const char *name);
onyx_status onyx_exec_take_output(onyx_exec *e, int value_id, onyx_device_type device, onyx_tensor **out);
/* Release the buffers of the last run that are not kept in the arena or a plan. */
void onyx_exec_finish(onyx_exec *e);
/* Counters of the last run. */
void onyx_exec_stats(const onyx_exec *e, onyx_run_stats *out);
/* With config.profile: nanoseconds spent in node i (prepare and run, and with
 * ONYX_PROFILE_NODES the wait for its device) over all runs so far, and how many runs executed
 * it. Subgraph nodes count inside their If. */
void onyx_exec_node_time(const onyx_exec *e, int node, uint64_t *ns, uint64_t *calls);
/* fn for every node of e and of the subgraph executors under it, with its profiled time over
 * all runs so far; a node holding subgraphs gets its own time, without its subgraphs' nodes. */
void onyx_exec_each_node_time(const onyx_exec *e, void (*fn)(void *ctx, const onyx_node *n, uint64_t ns, uint64_t calls),
                              void *ctx);
/* Profiled times back to zero, subgraph executors included. */
void onyx_exec_profile_reset(onyx_exec *e);
/* The monotonic clock in nanoseconds that node and run times are taken with. */
uint64_t onyx_clock_ns(void);

#endif
