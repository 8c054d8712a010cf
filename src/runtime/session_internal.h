/*
 * session_internal.h - the session struct, shared by session.c (create, run, metadata) and
 * iobinding.c (runs with inputs and outputs bound on devices).
 */
#ifndef ONYX_RUNTIME_SESSION_INTERNAL_H
#define ONYX_RUNTIME_SESSION_INTERNAL_H

#include "onnx/loader.h"
#include "onyx/onyx.h"
#include "providers/provider.h"
#include "runtime/executor.h"

#define SESSION_MAX_PROVIDERS 8

typedef struct session_io {
    onyx_value_info info;
    int value_id;
    int64_t dims[ONYX_MAX_RANK];
    const char *dim_params[ONYX_MAX_RANK];
} session_io;

struct onyx_session {
    onyx_onnx_model *model;
    onyx_graph *graph;
    onyx_provider *providers[SESSION_MAX_PROVIDERS];
    int n_providers;
    char providers_used[128];
    onyx_session_options options;
    int threads;
    onyx_exec *exec;
    session_io *inputs; /* graph inputs the caller must or may bind */
    size_t n_inputs;
    session_io *outputs;
    size_t n_outputs;
    onyx_run_stats last_stats;
    onyx_run_totals totals;
};

/* Index of the graph input / output called name, or -1. */
int session_find_input(const onyx_session *s, const char *name);
int session_find_output(const onyx_session *s, const char *name);
/* Check a tensor given for input io (dtype, rank, fixed dims, device). */
onyx_status session_check_input(const onyx_session *s, const session_io *io, const onyx_tensor *t);
/* "'a', 'b'" for error messages. */
const char *session_list_names(const session_io *ios, size_t n, char *buf, size_t size);
/* Wait for the queued work of every provider: runs return when the work is done, as ONNX
 * Runtime's Run does, so callers may read device outputs on any stream. */
onyx_status session_sync(onyx_session *s);
/* onyx_session_run_with_binding; with sync == 0 the run returns once its work is queued (outputs
 * copied to the host excepted): its device outputs may be read by work queued later on the
 * session's queue (session_queue), or on the host after session_sync or a readback. */
onyx_status session_run_binding(onyx_session *s, onyx_io_binding *b, int sync);
/* The queue of the session's GPU provider as user_compute_stream takes it; 0 without one. */
uintptr_t session_queue(const onyx_session *s);
/* Read device tensor t back to dst (t->nbytes) without waiting for work queued after begin:
 * the provider's readback (provider.h). A host tensor is read at wait. The time wait blocks is
 * added to the session's wait_ns (last run and totals). */
onyx_status session_readback_begin(onyx_session *s, const onyx_tensor *t);
onyx_status session_readback_wait(onyx_session *s, const onyx_tensor *t, void *dst);
/* Device arena counters before a run, and the run's stats after it (host_ns and wait_ns as
 * onyx_run_stats defines them), added to the session's totals. */
void session_memory_snapshot(const onyx_session *s, onyx_device_memory_stats *out);
void session_record_stats(onyx_session *s, const onyx_device_memory_stats *before, uint64_t host_ns, uint64_t wait_ns);

#endif
