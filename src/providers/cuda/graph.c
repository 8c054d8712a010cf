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
 * Except where a library's kernels changed. With the update alone, float16 T5-small and M2M100
 * decoders in parts of 64 nodes left PyTorch's tokens after five steps (H200, CUDA 13.0, driver
 * 580): cudaGraphExecUpdate accepted the new graphs, and they computed other values. Keyed also
 * on which kernel nodes the runtime cannot read back (those a library loads and launches
 * itself: cuBLASLt's), the tokens were PyTorch's. So cuBLASLt calls note their algorithm and
 * node (onyx_cuda_graph_note_library), and a part is updated only from a graph with the same
 * notes; the algorithm is in the key as a precaution. Our own kernels may change freely between
 * updates: keying on every kernel's function cost five times the instantiations and was not
 * needed for equal tokens.
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

#include "core/alloc.h"
#include "providers/cuda/cuda_provider.h"

#define STAGING_MIN_BYTES ((size_t)1 << 20)
/* Uploads beyond this (a weight copied on first use) are not staged, and the staging does not
 * grow for them: the run goes again unrecorded. */
#define STAGING_MAX_BYTES ((size_t)64 << 20)

static uint64_t mix(uint64_t h, uint64_t v) { return (h ^ v) * 0x100000001b3ull; }

void onyx_cuda_graph_note_library(onyx_cuda_state *cs, const void *what, size_t n) {
    onyx_cuda_graphs *gr = &cs->graphs;
    if (!gr->capturing) return;
    uint64_t h = mix(gr->part_sig ? gr->part_sig : 0xcbf29ce484222325ull, (uint64_t)gr->run_nodes + 1);
    const unsigned char *b = what;
    for (size_t i = 0; i < n; i++) h = mix(h, b[i]);
    gr->part_sig = h;
}

void onyx_cuda_graph_mark_unusable(onyx_cuda_state *cs, const char *why) {
    onyx_cuda_graphs *gr = &cs->graphs;
    if (gr->unusable) return;
    gr->unusable = 1;
    snprintf(gr->why, sizeof gr->why, "%s", why);
}

static onyx_status unusable_error(const onyx_cuda_graphs *gr) {
    return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "cuda: the run could not be recorded as a graph: %s", gr->why);
}

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
    ONYX_TRY(staging_reserve(gr, gr->staging_wanted));
    if (!gr->capture_stream)
        ONYX_CUDA_TRY(cudaStreamCreateWithFlags(&gr->capture_stream, cudaStreamNonBlocking), "creating the recording stream");
    int k = gr->staging_half ^ 1;
    ONYX_CUDA_TRY(cudaEventSynchronize(gr->staging_done[k]), "waiting for a graph's uploads");
    ONYX_CUDA_TRY(cudaStreamBeginCapture(gr->capture_stream, cudaStreamCaptureModeRelaxed), "starting a graph recording");
    gr->active = 1;
    gr->staging_half = k;
    gr->staging_used = 0;
    gr->unusable = 0;
    gr->why[0] = '\0';
    gr->part = 0;
    gr->run_nodes = 0;
    gr->part_sig = 0;
    gr->run_instantiations = 0;
    gr->real_stream = cs->stream;
    cs->stream = gr->capture_stream;
    gr->capturing = 1;
    cs->arena.keep_blocks = 1;
    return ONYX_OK;
}

/* The slot of part part for a graph of nodes nodes and library kernels sig: the one
 * instantiated from a graph of as many nodes and the same library kernels, else an empty or the
 * least recently launched one. NULL when out of memory. */
static onyx_cuda_graph_slot *slot_for(onyx_cuda_graphs *gr, int part, size_t nodes, uint64_t sig) {
    if (part >= gr->n_parts) {
        int n = part + 8;
        onyx_cuda_graph_part *grown = onyx_realloc(gr->parts, (size_t)n * sizeof *grown);
        if (!grown) return NULL;
        memset(grown + gr->n_parts, 0, (size_t)(n - gr->n_parts) * sizeof *grown);
        gr->parts = grown;
        gr->n_parts = n;
    }
    onyx_cuda_graph_slot *slots = gr->parts[part].slots, *pick = &slots[0];
    for (int i = 0; i < ONYX_CUDA_GRAPH_SLOTS; i++) {
        onyx_cuda_graph_slot *s = &slots[i];
        if (s->exec && s->nodes == nodes && s->sig == sig) return s;
        if (!s->exec ? pick->exec != NULL : (pick->exec && s->stamp < pick->stamp)) pick = s;
    }
    return pick;
}

/* Launch graph as part gr->part of the run on the real stream, updating the instantiated graph
 * of its slot when cudaGraphExecUpdate accepts it. */
static onyx_status launch(onyx_cuda_state *cs, cudaGraph_t graph) {
    onyx_cuda_graphs *gr = &cs->graphs;
    size_t nodes = 0;
    ONYX_CUDA_TRY(cudaGraphGetNodes(graph, NULL, &nodes), "counting a graph's nodes");
    if (nodes == 0) return ONYX_OK;
    onyx_cuda_graph_slot *s = slot_for(gr, gr->part++, nodes, gr->part_sig);
    if (!s) return ONYX_ERR_OUT_OF_MEMORY;
    int updated = 0;
    if (s->exec && s->nodes == nodes && s->sig == gr->part_sig) {
        cudaGraphExecUpdateResultInfo info;
        updated = cudaGraphExecUpdate(s->exec, graph, &info) == cudaSuccess;
        if (!updated) (void)cudaGetLastError();
    }
    if (!updated) {
        if (s->exec) cudaGraphExecDestroy(s->exec);
        s->exec = NULL;
        ONYX_CUDA_TRY(cudaGraphInstantiate(&s->exec, graph, 0), "instantiating a graph");
        s->nodes = nodes;
        s->sig = gr->part_sig;
        gr->run_instantiations++;
    }
    s->stamp = ++gr->clock;
    ONYX_CUDA_TRY(cudaGraphLaunch(s->exec, gr->real_stream), "launching a graph");
    ONYX_CUDA_TRY(cudaEventRecord(gr->staging_done[gr->staging_half], gr->real_stream), "recording an event");
    return ONYX_OK;
}

/* End the capture in progress; with run, launch what it recorded. */
static onyx_status part_finish(onyx_cuda_state *cs, int run) {
    onyx_cuda_graphs *gr = &cs->graphs;
    cudaGraph_t graph = NULL;
    cudaError_t err = cudaStreamEndCapture(gr->capture_stream, &graph);
    gr->active = 0;
    if (err != cudaSuccess) {
        (void)cudaGetLastError();
        char why[160];
        snprintf(why, sizeof why, "the recording was invalidated (%s)", cudaGetErrorName(err));
        onyx_cuda_graph_mark_unusable(cs, why);
    }
    onyx_status st = ONYX_OK;
    if (gr->unusable) st = unusable_error(gr);
    else if (run) st = launch(cs, graph);
    if (graph) cudaGraphDestroy(graph);
    gr->part_sig = 0;
    return st;
}

onyx_status onyx_cuda_graph_node(onyx_cuda_state *cs) {
    onyx_cuda_graphs *gr = &cs->graphs;
    if (!gr->capturing) return ONYX_OK;
    gr->run_nodes++;
    if (!gr->part_nodes_max || gr->run_nodes % (uint64_t)gr->part_nodes_max) return ONYX_OK;
    onyx_status st = gr->active ? part_finish(cs, 1) : ONYX_OK;
    if (st == ONYX_OK) {
        cudaError_t err = cudaStreamBeginCapture(gr->capture_stream, cudaStreamCaptureModeRelaxed);
        if (err == cudaSuccess) gr->active = 1;
        else st = onyx_cuda_status(err, "starting a graph recording");
    }
    return st;
}

onyx_status onyx_cuda_graph_end(onyx_cuda_state *cs, int run, uint64_t *instantiations) {
    onyx_cuda_graphs *gr = &cs->graphs;
    if (instantiations) *instantiations = 0;
    if (!gr->capturing) return onyx_error(ONYX_ERR_RUNTIME, "cuda: no graph is being recorded");
    onyx_status st = gr->active ? part_finish(cs, run) : ONYX_OK;
    if (st == ONYX_OK && gr->unusable) st = unusable_error(gr);
    cs->stream = gr->real_stream;
    gr->capturing = 0;
    cs->arena.keep_blocks = 0;
    if (instantiations) *instantiations = gr->run_instantiations;
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
        if (want > gr->staging_wanted && want <= STAGING_MAX_BYTES) gr->staging_wanted = want;
        onyx_cuda_graph_mark_unusable(cs, "the run's uploads exceed the staging memory");
        return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "cuda: %s: %zu bytes to upload while recording a graph exceed the staging",
                          what, bytes);
    }
    unsigned char *stage = gr->staging[gr->staging_half] + at;
    memcpy(stage, src, bytes);
    gr->staging_used = at + bytes;
    return onyx_cuda_status(cudaMemcpyAsync(dst, stage, bytes, cudaMemcpyHostToDevice, cs->stream), what);
}

void onyx_cuda_graphs_destroy(onyx_cuda_graphs *gr) {
    if (gr->active) {
        /* A provider destroyed mid-recording: end it so the stream is usable again. */
        cudaGraph_t graph = NULL;
        if (cudaStreamEndCapture(gr->capture_stream, &graph) == cudaSuccess && graph) cudaGraphDestroy(graph);
        (void)cudaGetLastError();
    }
    for (int p = 0; p < gr->n_parts; p++)
        for (int i = 0; i < ONYX_CUDA_GRAPH_SLOTS; i++)
            if (gr->parts[p].slots[i].exec) cudaGraphExecDestroy(gr->parts[p].slots[i].exec);
    onyx_free(gr->parts);
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
