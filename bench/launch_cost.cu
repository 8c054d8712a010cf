/*
 * launch_cost.cu - what the CUDA runtime costs the host per call on this machine, for reading
 * `onyx bench --generate --profile host`: a decode step is bound by the host when its few hundred
 * nodes each cost more to queue than the GPU takes to run them. Prints microseconds per call
 * (median of 7 rounds) for:
 *   - an empty kernel launch, and one with 256 bytes of parameters (onyx's elementwise kernels
 *     pass their shape and strides by value);
 *   - cudaMemcpyAsync of 8 bytes host to device from pageable and from pinned memory;
 *   - a device-to-host copy of 8 bytes and the stream synchronisation after it (a round trip);
 *   - cudaStreamSynchronize of an idle stream, cudaGetLastError, cudaEventRecord;
 *   - CUDA graphs of GRAPH_KERNELS kernels (a decode step's count), per kernel: stream capture,
 *     cudaGraphInstantiate, cudaGraphExecUpdate from a new capture of the same launches, and
 *     cudaGraphLaunch; these decide whether capturing a step anew each time can beat launching it;
 *   - one step of GRAPH_KERNELS launches as a decode step queues it, three ways: launched one by one,
 *     a graph launched again unchanged, and captured anew + cudaGraphExecUpdate + launched. For each,
 *     the host's time to queue it and the time until the stream is done, per kernel. The first
 *     sections queue CALLS launches, far more than the launch queue holds, so they can measure the
 *     GPU's pace instead of the host's; the step section cannot.
 * Launches are queued back to back without waiting, as onyx queues a run.
 *   launch_cost [CALLS]   (default 20000)
 */
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>

struct big_params {
    long long v[32];
};

__global__ void empty_kernel() {}

__global__ void params_kernel(big_params p, float *out) {
    if (threadIdx.x == 0 && blockIdx.x == 0 && p.v[31] == -1) out[0] = 1.0f;
}

static double now_us() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

#define CHECK(call)                                                                            \
    do {                                                                                       \
        cudaError_t err_ = (call);                                                             \
        if (err_ != cudaSuccess) {                                                             \
            fprintf(stderr, "launch_cost: %s: %s\n", #call, cudaGetErrorString(err_));          \
            exit(1);                                                                           \
        }                                                                                      \
    } while (0)

template <typename F> static double per_call(int calls, cudaStream_t s, F f) {
    double rounds[7];
    for (int r = 0; r < 7; r++) {
        CHECK(cudaStreamSynchronize(s));
        double t0 = now_us();
        for (int i = 0; i < calls; i++) f();
        double t1 = now_us();
        CHECK(cudaStreamSynchronize(s));
        rounds[r] = (t1 - t0) / calls;
    }
    std::sort(rounds, rounds + 7);
    return rounds[3];
}

#define GRAPH_KERNELS 400

/* GRAPH_KERNELS launches with 256 bytes of parameters each captured on s into a graph. */
static cudaGraph_t capture_step(cudaStream_t s, big_params p, float *dev) {
    cudaGraph_t g = nullptr;
    CHECK(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal));
    for (int k = 0; k < GRAPH_KERNELS; k++) {
        p.v[0] = k;
        params_kernel<<<4, 128, 0, s>>>(p, dev);
    }
    CHECK(cudaStreamEndCapture(s, &g));
    return g;
}

/* Microseconds per kernel of each graph stage, median of 7 rounds. */
static void graph_costs(cudaStream_t s, float *dev) {
    big_params p = {};
    double capture[7], instantiate[7], update[7], launch[7];
    for (int r = 0; r < 7; r++) {
        CHECK(cudaStreamSynchronize(s));
        double t0 = now_us();
        cudaGraph_t g = capture_step(s, p, dev);
        double t1 = now_us();
        cudaGraphExec_t exec = nullptr;
        CHECK(cudaGraphInstantiate(&exec, g, 0));
        double t2 = now_us();
        cudaGraph_t g2 = capture_step(s, p, dev);
        double t3 = now_us();
        cudaGraphExecUpdateResultInfo info;
        CHECK(cudaGraphExecUpdate(exec, g2, &info));
        double t4 = now_us();
        CHECK(cudaGraphLaunch(exec, s));
        double t5 = now_us();
        CHECK(cudaStreamSynchronize(s));
        capture[r] = (t1 - t0) / GRAPH_KERNELS;
        instantiate[r] = (t2 - t1) / GRAPH_KERNELS;
        update[r] = ((t3 - t2) + (t4 - t3)) / GRAPH_KERNELS; /* a new capture and the update */
        launch[r] = (t5 - t4) / GRAPH_KERNELS;
        CHECK(cudaGraphExecDestroy(exec));
        CHECK(cudaGraphDestroy(g));
        CHECK(cudaGraphDestroy(g2));
    }
    std::sort(capture, capture + 7);
    std::sort(instantiate, instantiate + 7);
    std::sort(update, update + 7);
    std::sort(launch, launch + 7);
    printf("graph of %d kernels, per kernel:\n", GRAPH_KERNELS);
    printf("%-48s %8.2f us\n", "  stream capture", capture[3]);
    printf("%-48s %8.2f us\n", "  cudaGraphInstantiate", instantiate[3]);
    printf("%-48s %8.2f us\n", "  capture again + cudaGraphExecUpdate", update[3]);
    printf("%-48s %8.2f us\n", "  cudaGraphLaunch (host side)", launch[3]);
}

/* One step's launches queued three ways; host time and time to completion, per kernel. */
static void step_costs(cudaStream_t s, float *dev) {
    big_params p = {};
    const int rounds = 15;
    double host[3][rounds], done[3][rounds];
    cudaGraph_t g = capture_step(s, p, dev);
    cudaGraphExec_t exec = nullptr;
    CHECK(cudaGraphInstantiate(&exec, g, 0));
    CHECK(cudaGraphLaunch(exec, s));
    for (int r = 0; r < rounds; r++) {
        for (int way = 0; way < 3; way++) {
            CHECK(cudaStreamSynchronize(s));
            double t0 = now_us();
            cudaGraph_t g2 = nullptr;
            if (way == 0) {
                for (int k = 0; k < GRAPH_KERNELS; k++) {
                    p.v[0] = k;
                    params_kernel<<<4, 128, 0, s>>>(p, dev);
                }
            } else if (way == 1) {
                CHECK(cudaGraphLaunch(exec, s));
            } else {
                p.v[1] = r; /* new parameters, as a new past length gives */
                g2 = capture_step(s, p, dev);
                cudaGraphExecUpdateResultInfo info;
                CHECK(cudaGraphExecUpdate(exec, g2, &info));
                CHECK(cudaGraphLaunch(exec, s));
            }
            double t1 = now_us();
            CHECK(cudaStreamSynchronize(s));
            double t2 = now_us();
            if (g2) CHECK(cudaGraphDestroy(g2));
            host[way][r] = (t1 - t0) / GRAPH_KERNELS;
            done[way][r] = (t2 - t0) / GRAPH_KERNELS;
        }
    }
    CHECK(cudaGraphExecDestroy(exec));
    CHECK(cudaGraphDestroy(g));
    const char *names[3] = {"launched one by one", "graph launched again", "captured + updated + launched"};
    printf("a step of %d kernels, per kernel: host queueing / until done\n", GRAPH_KERNELS);
    for (int way = 0; way < 3; way++) {
        std::sort(host[way], host[way] + rounds);
        std::sort(done[way], done[way] + rounds);
        printf("  %-46s %8.2f / %.2f us\n", names[way], host[way][rounds / 2], done[way][rounds / 2]);
    }
}

int main(int argc, char **argv) {
    int calls = argc > 1 ? atoi(argv[1]) : 20000;
    if (calls <= 0) {
        fprintf(stderr, "usage: launch_cost [CALLS]\n");
        return 2;
    }
    cudaStream_t s;
    CHECK(cudaStreamCreate(&s));
    float *dev = nullptr, *pinned = nullptr;
    CHECK(cudaMalloc(&dev, 4096));
    CHECK(cudaMallocHost(&pinned, 4096));
    static float pageable[1024];
    big_params p = {};
    cudaEvent_t ev;
    CHECK(cudaEventCreateWithFlags(&ev, cudaEventDisableTiming));
    empty_kernel<<<1, 32, 0, s>>>();
    CHECK(cudaStreamSynchronize(s));
    cudaDeviceProp prop;
    CHECK(cudaGetDeviceProperties(&prop, 0));
    int driver = 0, runtime = 0;
    cudaDriverGetVersion(&driver);
    cudaRuntimeGetVersion(&runtime);
    printf("device %s, driver API %d, runtime %d, %d calls per round\n", prop.name, driver, runtime, calls);
    printf("%-48s %8.2f us\n", "empty kernel launch",
           per_call(calls, s, [&] { empty_kernel<<<1, 32, 0, s>>>(); }));
    printf("%-48s %8.2f us\n", "kernel launch, 256 bytes of parameters",
           per_call(calls, s, [&] { params_kernel<<<4, 128, 0, s>>>(p, dev); }));
    printf("%-48s %8.2f us\n", "cudaMemcpyAsync 8 B host->device, pageable",
           per_call(calls / 10, s, [&] { cudaMemcpyAsync(dev, pageable, 8, cudaMemcpyHostToDevice, s); }));
    printf("%-48s %8.2f us\n", "cudaMemcpyAsync 8 B host->device, pinned",
           per_call(calls / 10, s, [&] { cudaMemcpyAsync(dev, pinned, 8, cudaMemcpyHostToDevice, s); }));
    printf("%-48s %8.2f us\n", "8 B device->host (pageable) + stream sync",
           per_call(calls / 10, s, [&] {
               cudaMemcpyAsync(pageable, dev, 8, cudaMemcpyDeviceToHost, s);
               cudaStreamSynchronize(s);
           }));
    printf("%-48s %8.2f us\n", "8 B device->host (pinned) + stream sync",
           per_call(calls / 10, s, [&] {
               cudaMemcpyAsync(pinned, dev, 8, cudaMemcpyDeviceToHost, s);
               cudaStreamSynchronize(s);
           }));
    printf("%-48s %8.2f us\n", "kernel launch + stream sync (round trip)",
           per_call(calls / 10, s, [&] {
               empty_kernel<<<1, 32, 0, s>>>();
               cudaStreamSynchronize(s);
           }));
    printf("%-48s %8.2f us\n", "cudaStreamSynchronize, idle stream",
           per_call(calls, s, [&] { cudaStreamSynchronize(s); }));
    printf("%-48s %8.2f us\n", "cudaGetLastError", per_call(calls, s, [&] { (void)cudaGetLastError(); }));
    printf("%-48s %8.2f us\n", "cudaEventRecord", per_call(calls, s, [&] { cudaEventRecord(ev, s); }));
    graph_costs(s, dev);
    step_costs(s, dev);
    CHECK(cudaEventDestroy(ev));
    CHECK(cudaFreeHost(pinned));
    CHECK(cudaFree(dev));
    CHECK(cudaStreamDestroy(s));
    return 0;
}
