/*
 * graph.c - CUDA graphs for the cuda provider (enable_cuda_graph): a run's work is recorded
 * instead of launched one kernel at a time, and goes out as one graph.
 *
 * Why. A decode step is a few hundred small kernels, and each launch costs the host about 4 us
 * (bench/launch_cost on an H200 machine: 400 launches one by one took 3.7-4.2 us each until
 * done, captured anew + cudaGraphExecUpdate + launched 0.8-1.4 us of host time and 1.3-1.9 us
 * until done). So every run is captured anew: the executor runs as usual, and the kernels it
 * queues are recorded. Shapes may change from run to run (a growing KV cache): the instantiated
 * graph of the same topology (same node count, then cudaGraphExecUpdate's own checks) is updated
 * with the new parameters, and a new one is instantiated only when the update is refused.
 *
 * The recording goes to a private non-blocking stream, swapped in as the provider's stream for
 * the run, and the graph is launched on the provider's real stream. So the caller's use of the
 * legacy default stream (a cudaMemcpy in another thread) neither breaks the recording nor is
 * broken by it, and the graph keeps every ordering the real stream gives.
 *
 * What cannot be recorded makes the recording unusable (capture_end reports it and the executor
 * runs again without one, see executor.c): a copy to the host (the host would read a value not
 * computed yet), any wait for the stream, cuBLASLt's timing of a new GEMM shape. Uploads from
 * the host are recorded from pinned staging memory: the host's bytes are copied there when the
 * run asks, and the graph copies them to the device when it runs. Two staging halves alternate;
 * an event after each launch tells when the half it read may be written again. An upload that
 * does not fit makes the recording unusable and the staging grows before the next one.
 *
 * While recording, the arena never gives memory back to the driver: the recorded work still
 * reads blocks that are free on the host's books.
 */
#include <stdio.h>
#include <string.h>

#include "providers/cuda/cuda_provider.h"

#define STAGING_MIN_BYTES ((size_t)1 << 20)
#define STAGING_MAX_BYTES ((size_t)1 << 30)

static void mark_unusable(onyx_cuda_graphs *gr, const char *why) {
    if (gr->unusable) return;
    gr->unusable = 1;
    snprintf(gr->why, sizeof gr->why, "%s", why);
}

void onyx_cuda_graph_mark_unusable(onyx_cuda_state *cs, const char *why) { mark_unusable(&cs->graphs, why); }

/* Both halves of at least bytes, once no launch still reads them. */
static onyx_status staging_reserve(onyx_cuda_graphs *gr, size_t bytes) {
    if (gr->staging[0] && gr->staging_bytes >= bytes) return ONYX_OK;
    size_t size = gr->staging_bytes ? gr->staging_bytes : STAGING_MIN_BYTES;
    while (size < bytes) size *= 2;
    for (int k = 0; k < 2; k++) {
        if (gr->staging_done[k]) ONYX_CUDA_TRY(cudaEventSynchronize(gr->staging_done[k]), "waiting for a graph's uploads");
        if (gr->staging[k]) cudaFreeHost(gr->staging[k]);
        gr->staging[k] = NULL;
    }
    gr->staging_bytes = 0;
    for (int k = 0; k < 2; k++) {
        ONYX_CUDA_TRY(cudaMallocHost((void **)&gr->staging[k], size), "allocating pinned staging for graph uploads");
        if (!gr->staging_done[k])
            ONYX_CUDA_TRY(cudaEventCreateWithFlags(&gr->staging_done[k], cudaEventDisableTiming), "creating an event");
    }
    gr->staging_bytes = size;
    return ONYX_OK;
}

onyx_status onyx_cuda_graph_begin(onyx_cuda_state *cs) {
    onyx_cuda_graphs *gr = &cs->graphs;
    if (!gr->enabled) return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "cuda: enable_cuda_graph=0");
    if (gr->capturing) return onyx_error(ONYX_ERR_RUNTIME, "cuda: a graph is being recorded already");
    /* Fault injection counts driver allocations: a failed recording and its rerun would count
     * them twice. */
    if (cs->arena.fail_at) return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "cuda: allocation fault injection is armed");
    if (gr->staging_wanted > STAGING_MAX_BYTES) return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "cuda: uploads too large to stage");
    ONYX_TRY(staging_reserve(gr, gr->staging_wanted));
    if (!gr->capture_stream)
        ONYX_CUDA_TRY(cudaStreamCreateWithFlags(&gr->capture_stream, cudaStreamNonBlocking), "creating the recording stream");
    int k = gr->staging_half ^ 1;
    ONYX_CUDA_TRY(cudaEventSynchronize(gr->staging_done[k]), "waiting for a graph's uploads");
    ONYX_CUDA_TRY(cudaStreamBeginCapture(gr->capture_stream, cudaStreamCaptureModeRelaxed), "starting a graph recording");
    gr->staging_half = k;
    gr->staging_used = 0;
    gr->unusable = 0;
    gr->why[0] = '\0';
    gr->real_stream = cs->stream;
    cs->stream = gr->capture_stream;
    gr->capturing = 1;
    cs->arena.keep_blocks = 1;
    return ONYX_OK;
}

/* The slot holding an instantiated graph of nodes nodes, else the empty or least recently used. */
static onyx_cuda_graph_slot *slot_for(onyx_cuda_graphs *gr, size_t nodes) {
    onyx_cuda_graph_slot *pick = &gr->slots[0];
    for (int i = 0; i < ONYX_CUDA_GRAPH_SLOTS; i++) {
        onyx_cuda_graph_slot *s = &gr->slots[i];
        if (s->exec && s->nodes == nodes) return s;
        if (!s->exec ? pick->exec != NULL : (pick->exec && s->stamp < pick->stamp)) pick = s;
    }
    return pick;
}

static onyx_status launch(onyx_cuda_state *cs, cudaGraph_t graph) {
    onyx_cuda_graphs *gr = &cs->graphs;
    size_t nodes = 0;
    ONYX_CUDA_TRY(cudaGraphGetNodes(graph, NULL, &nodes), "counting a graph's nodes");
    if (nodes == 0) return ONYX_OK;
    onyx_cuda_graph_slot *s = slot_for(gr, nodes);
    int updated = 0;
    if (s->exec && s->nodes == nodes) {
        cudaGraphExecUpdateResultInfo info;
        updated = cudaGraphExecUpdate(s->exec, graph, &info) == cudaSuccess;
        if (!updated) (void)cudaGetLastError();
    }
    if (!updated) {
        if (s->exec) cudaGraphExecDestroy(s->exec);
        s->exec = NULL;
        ONYX_CUDA_TRY(cudaGraphInstantiate(&s->exec, graph, 0), "instantiating a graph");
        s->nodes = nodes;
        gr->instantiations++;
    } else {
        gr->updates++;
    }
    s->stamp = ++gr->clock;
    ONYX_CUDA_TRY(cudaGraphLaunch(s->exec, cs->stream), "launching a graph");
    ONYX_CUDA_TRY(cudaEventRecord(gr->staging_done[gr->staging_half], cs->stream), "recording an event");
    gr->launches++;
    return ONYX_OK;
}

onyx_status onyx_cuda_graph_end(onyx_cuda_state *cs, int run) {
    onyx_cuda_graphs *gr = &cs->graphs;
    if (!gr->capturing) return onyx_error(ONYX_ERR_RUNTIME, "cuda: no graph is being recorded");
    cudaGraph_t graph = NULL;
    cudaError_t err = cudaStreamEndCapture(gr->capture_stream, &graph);
    cs->stream = gr->real_stream;
    gr->capturing = 0;
    cs->arena.keep_blocks = 0;
    if (err != cudaSuccess) {
        (void)cudaGetLastError();
        char why[160];
        snprintf(why, sizeof why, "the recording was invalidated (%s)", cudaGetErrorName(err));
        mark_unusable(gr, why);
    }
    onyx_status st = ONYX_OK;
    if (gr->unusable) st = onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "cuda: the run could not be recorded as a graph: %s", gr->why);
    else if (run) st = launch(cs, graph);
    if (graph) cudaGraphDestroy(graph);
    return st;
}

onyx_status onyx_cuda_upload(onyx_cuda_state *cs, void *dst, const void *src, size_t bytes, const char *what) {
    if (!bytes) return ONYX_OK;
    onyx_cuda_graphs *gr = &cs->graphs;
    if (!gr->capturing) return onyx_cuda_status(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, cs->stream), what);
    size_t at = (gr->staging_used + 255) & ~(size_t)255;
    if (at + bytes > gr->staging_bytes) {
        /* The next recording stages all of this run's uploads, this one included. */
        size_t want = at + bytes;
        if (want > gr->staging_wanted) gr->staging_wanted = want;
        mark_unusable(gr, "the run's uploads exceed the staging memory");
        return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "cuda: %s: %zu bytes to upload while recording a graph exceed the staging",
                          what, bytes);
    }
    unsigned char *stage = gr->staging[gr->staging_half] + at;
    memcpy(stage, src, bytes);
    gr->staging_used = at + bytes;
    return onyx_cuda_status(cudaMemcpyAsync(dst, stage, bytes, cudaMemcpyHostToDevice, cs->stream), what);
}

void onyx_cuda_graphs_destroy(onyx_cuda_graphs *gr) {
    if (gr->capturing) {
        /* A provider destroyed mid-recording: end it so the stream is usable again. */
        cudaGraph_t graph = NULL;
        if (cudaStreamEndCapture(gr->capture_stream, &graph) == cudaSuccess && graph) cudaGraphDestroy(graph);
        (void)cudaGetLastError();
        gr->capturing = 0;
    }
    for (int i = 0; i < ONYX_CUDA_GRAPH_SLOTS; i++)
        if (gr->slots[i].exec) cudaGraphExecDestroy(gr->slots[i].exec);
    for (int k = 0; k < 2; k++) {
        if (gr->staging_done[k]) {
            cudaEventSynchronize(gr->staging_done[k]);
            cudaEventDestroy(gr->staging_done[k]);
        }
        if (gr->staging[k]) cudaFreeHost(gr->staging[k]);
    }
    if (gr->capture_stream) cudaStreamDestroy(gr->capture_stream);
    memset(gr, 0, sizeof *gr);
}
