/*
 * test_cuda_session_gpu.c - the CUDA provider through sessions: placement, IOBinding (the GPT2
 * fixture's prefill and 20 greedy decode steps with the KV cache kept on the GPU, every step's
 * logits checked against the CPU provider on the same inputs; again with the past given to each
 * run, graphs on and off), steady-state runs without
 * cudaMalloc, out-of-memory from fault injection and from a real gpu_mem_limit (the session
 * stays usable), returning cached memory, and DLPack exchange. Exits 77 without a GPU.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "harness.h"
#include "onnx/loader.h"
#include "runtime/session_internal.h"

#ifdef ONYX_HAVE_CUDA
#include <cuda_runtime_api.h>
#include <dlpack/dlpack.h>

#define GPT2_DIR ONYX_SOURCE_DIR "/tests/models/gpt2-ts17"
#define GPT2_LAYERS 3
#define N_PRESENT (2 * GPT2_LAYERS)

static onyx_session *open_session(const char *providers, const char *provider_options) {
    onyx_session_options o;
    onyx_session_options_init(&o);
    o.providers = providers;
    o.provider_options = provider_options;
    onyx_session *s = NULL;
    ONYX_CHECK_OK(onyx_session_create(GPT2_DIR "/model.onnx", &o, &s));
    return s;
}

/* A device copy of a host tensor; the returned tensor owns nothing, *dev_ptr is cudaMalloc'd. */
static onyx_tensor *to_device(const onyx_tensor *host, void **dev_ptr) {
    size_t bytes = onyx_tensor_nbytes(host);
    *dev_ptr = NULL;
    if (cudaMalloc(dev_ptr, bytes ? bytes : 1) != cudaSuccess) return NULL;
    cudaMemcpy(*dev_ptr, onyx_tensor_data((onyx_tensor *)host), bytes, cudaMemcpyHostToDevice);
    onyx_tensor *t = NULL;
    onyx_tensor_create_borrowed_on(onyx_tensor_dtype(host), onyx_tensor_dims(host), onyx_tensor_rank(host), *dev_ptr,
                                   bytes, ONYX_DEVICE_CUDA, 0, &t);
    return t;
}

static int64_t argmax_last_row(const onyx_tensor *logits) {
    const int64_t *d = onyx_tensor_dims(logits);
    int64_t vocab = d[2], t = d[1];
    const float *row = (const float *)onyx_tensor_data((onyx_tensor *)logits) + (t - 1) * vocab;
    int64_t best = 0;
    for (int64_t i = 1; i < vocab; i++)
        if (row[i] > row[best]) best = i;
    return best;
}

static void check_close(const onyx_tensor *got, const onyx_tensor *want, const char *what, int step) {
    ONYX_CHECK(got && want);
    if (!got || !want) return;
    ONYX_CHECK_INT(onyx_tensor_numel(got), onyx_tensor_numel(want));
    if (onyx_tensor_numel(got) != onyx_tensor_numel(want)) return;
    const float *g = onyx_tensor_data((onyx_tensor *)got), *w = onyx_tensor_data((onyx_tensor *)want);
    for (int64_t i = 0; i < onyx_tensor_numel(got); i++)
        if (!(fabsf(g[i] - w[i]) <= 1e-4f + 1e-3f * fabsf(w[i]))) {
            onyx_test_checks++;
            onyx_test_failures++;
            fprintf(stderr, "FAIL %s: %s at step %d differs at %lld: cuda %.7g, cpu %.7g\n", onyx_test_current, what, step,
                    (long long)i, g[i], w[i]);
            return;
        }
    onyx_test_checks++;
}

/* Placement: GPU nodes, CPU shape nodes, providers in use, copies counted. */
static void test_placement(void) {
    onyx_session *s = open_session("cuda", NULL);
    if (!s) return;
    ONYX_CHECK(strcmp(onyx_session_providers(s), "cuda,cpu") == 0);
    size_t on_cuda = 0, n = onyx_session_node_count(s);
    for (size_t i = 0; i < n; i++) {
        const char *op, *name, *provider;
        ONYX_CHECK_OK(onyx_session_node_info(s, i, &op, &name, &provider));
        if (!strcmp(provider, "cuda")) on_cuda++;
        if (!strcmp(op, "Shape")) ONYX_CHECK(strcmp(provider, "cpu") == 0);
        if (!strcmp(op, "MatMul") || !strcmp(op, "Softmax")) ONYX_CHECK(strcmp(provider, "cuda") == 0);
    }
    ONYX_CHECK(on_cuda > 0);
    onyx_session_destroy(s);
    onyx_session_options o;
    onyx_session_options_init(&o);
    o.providers = "cuda";
    o.provider_options = "cuda.no_such_option=1";
    ONYX_CHECK_ERROR(onyx_session_create(GPT2_DIR "/model.onnx", &o, &s), ONYX_ERR_INVALID_ARGUMENT,
                     "unknown cuda provider option 'no_such_option'");
    o.provider_options = "cuda.device_id=99";
    ONYX_CHECK_ERROR(onyx_session_create(GPT2_DIR "/model.onnx", &o, &s), ONYX_ERR_INVALID_ARGUMENT, "device_id=99");
}

typedef struct step_inputs {
    onyx_tensor *host[4 + N_PRESENT]; /* input_ids, attention_mask, position_ids, past... */
} step_inputs;

/* Prefill + 20 greedy decode steps through IOBinding on cuda (past bound to the previous
 * step's device presents, no copies) beside plain runs on cpu with the same inputs. */
/* give: each step's past tensors are given to the run (onyx_io_binding_give_input), which frees
 * them after their last reader (graphs off) or at its end (a recorded run). */
static void kv_cache_loop(const char *options, int give) {
    int graphs = !options || !strstr(options, "enable_cuda_graph=0");
    onyx_session *gpu = open_session("cuda", options), *cpu = open_session("cpu", NULL);
    onyx_io_binding *b = NULL;
    if (!gpu || !cpu) goto done;
    ONYX_CHECK_OK(onyx_io_binding_create(gpu, &b));
    if (!b) goto done;
    const char *past_names[N_PRESENT], *present_names[N_PRESENT];
    char past_buf[N_PRESENT][64], present_buf[N_PRESENT][64];
    for (int i = 0; i < N_PRESENT; i++) {
        snprintf(past_buf[i], 64, "past_key_values.%d.%s", i / 2, i % 2 ? "value" : "key");
        snprintf(present_buf[i], 64, "present.%d.%s", i / 2, i % 2 ? "value" : "key");
        past_names[i] = past_buf[i];
        present_names[i] = present_buf[i];
    }
    int64_t ids[64] = {17, 42, 5, 300, 7, 99};
    int64_t n_tokens = 6, past_len = 0;
    onyx_tensor *past_dev[N_PRESENT] = {0}, *past_host[N_PRESENT] = {0};
    for (int i = 0; i < N_PRESENT; i++) {
        int64_t dims[4] = {1, 4, 0, 8};
        onyx_tensor_create(ONYX_DTYPE_FLOAT32, dims, 4, &past_host[i]);
    }
    for (int step = 0; step <= 20; step++) {
        int64_t seq = step == 0 ? n_tokens : 1;
        int64_t mask[64], pos[64];
        for (int64_t i = 0; i < past_len + seq; i++) mask[i] = 1;
        for (int64_t i = 0; i < seq; i++) pos[i] = past_len + i;
        onyx_tensor *in_ids = onyx_test_int64_matrix(ids + (step == 0 ? 0 : past_len), 1, seq);
        onyx_tensor *in_mask = onyx_test_int64_matrix(mask, 1, past_len + seq);
        onyx_tensor *in_pos = onyx_test_int64_matrix(pos, 1, seq);
        /* CPU reference. */
        const char *names[3 + N_PRESENT] = {"input_ids", "attention_mask", "position_ids"};
        const onyx_tensor *inputs[3 + N_PRESENT] = {in_ids, in_mask, in_pos};
        const char *out_names[1 + N_PRESENT] = {"logits"};
        for (int i = 0; i < N_PRESENT; i++) {
            names[3 + i] = past_names[i];
            inputs[3 + i] = past_host[i];
            out_names[1 + i] = present_names[i];
        }
        onyx_tensor *cpu_out[1 + N_PRESENT] = {0};
        ONYX_CHECK_OK(onyx_session_run(cpu, names, inputs, 3 + N_PRESENT, out_names, 1 + N_PRESENT, cpu_out));
        /* GPU through the binding: small inputs uploaded, past from the last step's outputs. */
        void *d_ids, *d_mask, *d_pos;
        onyx_tensor *g_ids = to_device(in_ids, &d_ids), *g_mask = to_device(in_mask, &d_mask),
                    *g_pos = to_device(in_pos, &d_pos);
        ONYX_CHECK_OK(onyx_io_binding_bind_input(b, "input_ids", g_ids));
        ONYX_CHECK_OK(onyx_io_binding_bind_input(b, "attention_mask", g_mask));
        ONYX_CHECK_OK(onyx_io_binding_bind_input(b, "position_ids", g_pos));
        void *d_empty[N_PRESENT] = {0};
        for (int i = 0; i < N_PRESENT; i++) {
            if (!past_dev[i]) past_dev[i] = to_device(past_host[i], &d_empty[i]);
            if (give && past_dev[i]) {
                ONYX_CHECK_OK(onyx_io_binding_give_input(b, past_names[i], past_dev[i]));
                past_dev[i] = NULL; /* the run's now */
            } else {
                ONYX_CHECK_OK(onyx_io_binding_bind_input(b, past_names[i], past_dev[i]));
            }
            ONYX_CHECK_OK(onyx_io_binding_bind_output_to_device(b, present_names[i], ONYX_DEVICE_CUDA));
        }
        ONYX_CHECK_OK(onyx_io_binding_bind_output_to_device(b, "logits", ONYX_DEVICE_CUDA));
        ONYX_CHECK_OK(onyx_session_run_with_binding(gpu, b));
        onyx_run_stats stats;
        onyx_run_stats_init(&stats);
        ONYX_CHECK_OK(onyx_session_last_run_stats(gpu, &stats));
        /* Inputs, caches and outputs stay on the GPU. What crosses the bus is what the CPU computes
         * from shapes for the GPU (index tensors of a few int64s; every decode step has a new past
         * length, hence a new shape signature): far less than one cache row. */
        if (step > 0) ONYX_CHECK(stats.device_bytes_copied < 256);
        /* Runs after the first two go out as CUDA graphs (enable_cuda_graph, the default). */
        if (step >= 2) ONYX_CHECK_INT(stats.graph_launched, graphs);
        onyx_tensor *logits_dev = NULL, *logits = NULL;
        ONYX_CHECK_OK(onyx_io_binding_get_output(b, "logits", &logits_dev));
        ONYX_CHECK(logits_dev && onyx_tensor_device(logits_dev) == ONYX_DEVICE_CUDA);
        ONYX_CHECK_OK(onyx_tensor_to_host(logits_dev, &logits));
        check_close(logits, cpu_out[0], "logits", step);
        onyx_tensor *present_dev[N_PRESENT] = {0};
        for (int i = 0; i < N_PRESENT; i++) {
            ONYX_CHECK_OK(onyx_io_binding_get_output(b, present_names[i], &present_dev[i]));
            if (step == 20 && present_dev[i]) {
                onyx_tensor *h = NULL;
                ONYX_CHECK_OK(onyx_tensor_to_host(present_dev[i], &h));
                check_close(h, cpu_out[1 + i], present_names[i], step);
                onyx_tensor_destroy(h);
            }
        }
        /* Next token from the CPU's logits, so both sessions keep seeing the same inputs. */
        if (cpu_out[0]) ids[past_len + seq] = argmax_last_row(cpu_out[0]);
        for (int i = 0; i < N_PRESENT; i++) {
            onyx_tensor_destroy(past_dev[i]);
            if (d_empty[i]) cudaFree(d_empty[i]);
            past_dev[i] = present_dev[i];
            onyx_tensor_destroy(past_host[i]);
            past_host[i] = cpu_out[1 + i];
        }
        onyx_tensor_destroy(cpu_out[0]);
        onyx_tensor_destroy(logits);
        onyx_tensor_destroy(logits_dev);
        onyx_tensor_destroy(g_ids);
        onyx_tensor_destroy(g_mask);
        onyx_tensor_destroy(g_pos);
        cudaFree(d_ids);
        cudaFree(d_mask);
        cudaFree(d_pos);
        onyx_tensor_destroy(in_ids);
        onyx_tensor_destroy(in_mask);
        onyx_tensor_destroy(in_pos);
        past_len += seq;
        if (!past_dev[0]) break;
    }
    ONYX_CHECK_INT(past_len, 26);
    onyx_io_binding_destroy(b);
    b = NULL;
    for (int i = 0; i < N_PRESENT; i++) {
        onyx_tensor_destroy(past_dev[i]);
        onyx_tensor_destroy(past_host[i]);
    }
done:
    onyx_io_binding_destroy(b);
    onyx_session_destroy(gpu);
    onyx_session_destroy(cpu);
}

static void test_kv_cache_loop(void) { kv_cache_loop(NULL, 0); }

/* The same loop with the past given to each run, recorded as graphs and not. */
static void test_kv_cache_loop_given(void) {
    kv_cache_loop(NULL, 1);
    kv_cache_loop("cuda.enable_cuda_graph=0", 1);
}

/* One prefill run of the fixture's test set 0 with host tensors. */
static onyx_status run_set0(onyx_session *s, onyx_tensor **logits) {
    onyx_tensor *in[16] = {0};
    char *names[16] = {0};
    int n = 0;
    onyx_status st = ONYX_OK;
    for (; n < 9 && st == ONYX_OK; n++) {
        char path[512];
        snprintf(path, sizeof path, GPT2_DIR "/test_data_set_0/input_%d.pb", n);
        st = onyx_onnx_read_tensor_file(path, &in[n], &names[n]);
    }
    const char *out_names[1] = {"logits"};
    if (st == ONYX_OK)
        st = onyx_session_run(s, (const char *const *)names, (const onyx_tensor *const *)in, (size_t)n, out_names, 1, logits);
    for (int i = 0; i < 16; i++) {
        onyx_tensor_destroy(in[i]);
        onyx_free(names[i]);
    }
    return st;
}

/* The same input shapes twice: the second run reuses the plan and makes no cudaMalloc. */
static void test_steady_state(void) {
    onyx_session *s = open_session("cuda", NULL);
    if (!s) return;
    onyx_run_stats stats;
    onyx_run_stats_init(&stats);
    for (int round = 0; round < 3; round++) {
        onyx_tensor *logits = NULL;
        ONYX_CHECK_OK(run_set0(s, &logits));
        onyx_tensor_destroy(logits);
        ONYX_CHECK_OK(onyx_session_last_run_stats(s, &stats));
        if (round == 0) ONYX_CHECK(stats.device_copies > 0); /* weights and inputs went to the GPU */
        if (round == 2) {
            ONYX_CHECK_INT(stats.plan_reused, 1);
            ONYX_CHECK_INT(stats.device_allocations, 0);
            ONYX_CHECK_INT(stats.host_allocations, 0);
            ONYX_CHECK(stats.device_arena_bytes > 0);
        }
    }
    onyx_device_memory_stats mem;
    onyx_device_memory_stats_init(&mem);
    ONYX_CHECK_OK(onyx_session_device_memory(s, &mem));
    ONYX_CHECK(mem.reserved_bytes > 0 && mem.in_use_bytes <= mem.reserved_bytes);
    ONYX_CHECK_OK(onyx_session_release_cached_memory(s));
    onyx_device_memory_stats after;
    onyx_device_memory_stats_init(&after);
    ONYX_CHECK_OK(onyx_session_device_memory(s, &after));
    ONYX_CHECK(after.reserved_bytes == after.in_use_bytes);
    onyx_tensor *logits = NULL;
    ONYX_CHECK_OK(run_set0(s, &logits)); /* still works after giving memory back */
    onyx_tensor_destroy(logits);
    onyx_session_destroy(s);
}

/* Device allocation N fails (N = 1, 2, ...) during a recording run: each attempt returns
 * OUT_OF_MEMORY or succeeds, and the session then runs correctly. */
static void test_out_of_memory(void) {
    onyx_session *s = open_session("cuda", NULL), *cpu = open_session("cpu", NULL);
    if (!s || !cpu) goto done;
    onyx_tensor *want = NULL;
    ONYX_CHECK_OK(run_set0(cpu, &want));
    onyx_provider *p = s->providers[0];
    ONYX_CHECK(p->ops->fail_allocation != NULL);
    int failures = 0;
    for (uint64_t nth = 1; nth < 200 && p->ops->fail_allocation; nth++) {
        onyx_session_release_cached_memory(s); /* so runs must allocate again */
        p->ops->fail_allocation(p, nth);
        onyx_tensor *got = NULL;
        onyx_status st = run_set0(s, &got);
        p->ops->fail_allocation(p, 0);
        if (st != ONYX_OK) {
            ONYX_CHECK_INT(st, ONYX_ERR_OUT_OF_MEMORY);
            ONYX_CHECK(strstr(onyx_last_error(), "out of device memory") != NULL);
            ONYX_CHECK(got == NULL);
            failures++;
        }
        onyx_tensor_destroy(got);
        got = NULL;
        ONYX_CHECK_OK(run_set0(s, &got));
        check_close(got, want, "logits after an out-of-memory run", (int)nth);
        onyx_tensor_destroy(got);
        if (st == ONYX_OK) break;
    }
    ONYX_CHECK(failures > 0);
    onyx_tensor_destroy(want);
done:
    onyx_session_destroy(s);
    onyx_session_destroy(cpu);
    /* A real limit below what the weights need. */
    onyx_session *small = open_session("cuda", "cuda.gpu_mem_limit=4096");
    if (!small) return;
    for (int i = 0; i < 2; i++) {
        onyx_tensor *got = NULL;
        ONYX_CHECK_ERROR(run_set0(small, &got), ONYX_ERR_OUT_OF_MEMORY, "gpu_mem_limit 4096 bytes");
        ONYX_CHECK(got == NULL);
    }
    onyx_device_memory_stats mem;
    onyx_device_memory_stats_init(&mem);
    ONYX_CHECK_OK(onyx_session_device_memory(small, &mem));
    ONYX_CHECK(mem.peak_reserved_bytes <= 4096);
    onyx_session_destroy(small);
}

static int deleter_calls;
static void count_delete(DLManagedTensor *m) {
    deleter_calls++;
    cudaFree(m->dl_tensor.data);
    free(m->dl_tensor.shape);
    free(m);
}

static void test_dlpack(void) {
    DLManagedTensor *m = calloc(1, sizeof *m);
    int64_t *shape = malloc(2 * sizeof *shape);
    shape[0] = 2;
    shape[1] = 3;
    void *dev = NULL;
    cudaMalloc(&dev, 6 * sizeof(float));
    float host[6] = {1, 2, 3, 4, 5, 6}, back[6] = {0};
    cudaMemcpy(dev, host, sizeof host, cudaMemcpyHostToDevice);
    m->dl_tensor.data = dev;
    m->dl_tensor.device.device_type = kDLCUDA;
    m->dl_tensor.ndim = 2;
    m->dl_tensor.dtype.code = kDLFloat;
    m->dl_tensor.dtype.bits = 32;
    m->dl_tensor.dtype.lanes = 1;
    m->dl_tensor.shape = shape;
    m->deleter = count_delete;
    onyx_tensor *t = NULL;
    ONYX_CHECK_OK(onyx_tensor_from_dlpack(m, &t));
    ONYX_CHECK(t && onyx_tensor_device(t) == ONYX_DEVICE_CUDA && onyx_tensor_data(t) == dev);
    onyx_tensor *h = NULL;
    ONYX_CHECK_OK(onyx_tensor_to_host(t, &h));
    if (h) memcpy(back, onyx_tensor_data(h), sizeof back);
    ONYX_CHECK(memcmp(back, host, sizeof host) == 0);
    onyx_tensor_destroy(h);
    DLManagedTensor *out = NULL;
    ONYX_CHECK_OK(onyx_tensor_to_dlpack(&t, &out));
    ONYX_CHECK(t == NULL && out && out->dl_tensor.data == dev && out->dl_tensor.device.device_type == kDLCUDA);
    ONYX_CHECK_INT(deleter_calls, 0);
    if (out) out->deleter(out);
    ONYX_CHECK_INT(deleter_calls, 1);
}
#endif

int main(void) {
#ifdef ONYX_HAVE_CUDA
    if (onyx_test_cuda_missing()) return 77;
    ONYX_TEST_RUN(test_placement);
    ONYX_TEST_RUN(test_kv_cache_loop);
    ONYX_TEST_RUN(test_kv_cache_loop_given);
    ONYX_TEST_RUN(test_steady_state);
    ONYX_TEST_RUN(test_out_of_memory);
    ONYX_TEST_RUN(test_dlpack);
    return onyx_test_finish();
#else
    printf("skipping: onyx was built without CUDA\n");
    return 77;
#endif
}
