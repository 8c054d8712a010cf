/*
 * bench.c - `onyx bench MODEL`: time a model's session runs on chosen providers and print
 * latency percentiles, throughput and peak memory. Inputs are made from the model's input
 * metadata: symbolic dims from --dim NAME=VALUE (batch_size, sequence_length,
 * past_sequence_length, ...), token ids random in [0, --max-id), attention masks all ones,
 * position ids counting from the past length, token type ids zero, floats (KV caches) zero.
 *
 * On a GPU provider the inputs are uploaded once and the outputs bound to the device
 * (IOBinding), so the timing is the model's work, as with ONNX Runtime's IOBinding; --io host
 * times onyx_session_run with host tensors instead (copies included). Every timed run ends
 * with the stream synchronised (the session run returns when the work is done).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "core/alloc.h"
#include "core/tensor.h"

#define BENCH_MAX_DIMS 16
#define BENCH_MAX_IO 256

static const char bench_usage[] =
    "usage: onyx bench MODEL [--provider P] [--provider-options OPTS] [--dim NAME=VALUE]...\n"
    "                  [--warmup N] [--runs N]\n"
    "                  [--max-id N] [--io device|host] [--opt-level 0|1|2] [--threads N] [--csv]\n"
    "\n"
    "Time session runs of MODEL with generated inputs; print p50/p90/p99 latency, runs/s,\n"
    "items/s (batch_size per second) and peak device memory. For generation with a model\n"
    "folder see `onyx bench --generate --help`.\n"
    "\n"
    "  --provider P       providers, e.g. cuda or cpu (default cpu)\n"
    "  --provider-options OPTS  provider options as in sessions, e.g. cuda.enable_cuda_graph=0\n"
    "  --dim NAME=VALUE   value of a symbolic input dim (default: batch_size=1, sequence_length=8,\n"
    "                     past_sequence_length=0, other symbolic dims 1)\n"
    "  --warmup N         untimed runs first (default 10)\n"
    "  --runs N           timed runs (default 100)\n"
    "  --max-id N         token ids are random in [0, N) (default 100)\n"
    "  --io device|host   device: inputs and outputs stay on the GPU (default with a GPU provider);\n"
    "                     host: host tensors in and out, copies timed\n"
    "  --csv              one CSV line instead of the table\n"
    "  --profile          time every node (the device is waited for after each: slower runs) and\n"
    "                     print the time per op type and provider\n";

typedef struct bench_dim {
    const char *name;
    int64_t value;
} bench_dim;

double cli_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

double cli_quantile(const double *sorted, int n, double q) {
    int at = (int)(n * q);
    return sorted[at < n ? at : n - 1];
}

int cli_compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* A named dim: its --dim value, else batch_size 1, past lengths 0, sequence lengths 8, others 1. */
static int64_t dim_named(const bench_dim *dims, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (!strcmp(dims[i].name, name)) return dims[i].value;
    if (strstr(name, "past")) return 0;
    if (strstr(name, "sequence_length")) return 8;
    return 1;
}

/* Evaluate a dim_param: a name, or a sum "a + b" of names and integers (Optimum writes
 * "past_sequence_length + sequence_length"). */
static int64_t dim_eval(const bench_dim *dims, int n, const char *param) {
    int64_t total = 0;
    const char *p = param;
    while (*p) {
        while (*p == ' ' || *p == '+') p++;
        size_t len = strcspn(p, " +");
        if (!len) break;
        char term[128], *end;
        snprintf(term, sizeof term, "%.*s", (int)len, p);
        long long v = strtoll(term, &end, 10);
        total += *end == '\0' ? v : dim_named(dims, n, term);
        p += len;
    }
    return total;
}

static uint64_t bench_rng = 0x853c49e6748fea9bull;
static uint64_t bench_next(void) {
    bench_rng ^= bench_rng << 13;
    bench_rng ^= bench_rng >> 7;
    bench_rng ^= bench_rng << 17;
    return bench_rng;
}

/* Fill an input by what its name says it is. */
static void fill_input(onyx_tensor *t, const char *name, int64_t max_id, int64_t past) {
    int64_t n = onyx_shape_numel(t->dims, t->rank);
    int64_t cols = t->rank >= 2 ? t->dims[t->rank - 1] : n;
    for (int64_t i = 0; i < n; i++) {
        double v = 0;
        if (strstr(name, "mask")) v = 1;
        else if (strstr(name, "position_ids")) v = (double)(past + (cols ? i % cols : 0));
        else if (strstr(name, "token_type")) v = 0;
        else if (strstr(name, "input_ids")) v = (double)(bench_next() % (uint64_t)(max_id > 0 ? max_id : 1));
        else if (t->dtype == ONYX_DTYPE_BOOL) v = 1; /* use_cache_branch */
        switch (t->dtype) {
        case ONYX_DTYPE_INT64: ((int64_t *)t->data)[i] = (int64_t)v; break;
        case ONYX_DTYPE_INT32: ((int32_t *)t->data)[i] = (int32_t)v; break;
        case ONYX_DTYPE_BOOL: ((uint8_t *)t->data)[i] = (uint8_t)(v != 0); break;
        case ONYX_DTYPE_FLOAT32: ((float *)t->data)[i] = (float)v; break;
        default: break; /* float16 zeros */
        }
    }
}

void cli_print_op_times(const onyx_session *s, double runs, size_t max_lines) {
    enum { MAX_OPS = 256 };
    onyx_op_time *ops = onyx_malloc(MAX_OPS * sizeof *ops);
    size_t count = 0;
    if (!ops || onyx_session_op_times(s, ops, MAX_OPS, &count) != ONYX_OK) {
        onyx_free(ops);
        return;
    }
    uint64_t total = 0, nodes = 0;
    for (size_t k = 0; k < count; k++) total += ops[k].total_ns, nodes += ops[k].nodes;
    for (size_t k = 0; k < count && k < max_lines; k++) {
        char key[96];
        snprintf(key, sizeof key, "%s (%s)", ops[k].op_type, ops[k].provider);
        printf("    %-40s %4llu nodes %7.1f calls/run %9.3f ms %5.1f%%\n", key, (unsigned long long)ops[k].nodes,
               (double)ops[k].calls / runs, ops[k].total_ns / 1e6 / runs, total ? 100.0 * ops[k].total_ns / total : 0.0);
    }
    printf("    %-40s %4llu nodes %17s %9.3f ms\n", "total", (unsigned long long)nodes, "", total / 1e6 / runs);
    onyx_free(ops);
}

/* Time per op type and provider over all runs, per run, largest first. */
static void print_profile(const onyx_session *s, int runs) {
    printf("profile (per run, every node waited for; If branches' nodes included, an If by its own time):\n");
    cli_print_op_times(s, runs, 30);
}

int cli_bench(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--generate")) return cli_bench_generate(argc, argv);
    if (cli_wants_help(argc, argv)) {
        fputs(bench_usage, stdout);
        return CLI_EXIT_OK;
    }
    const char *model = NULL, *providers = "cpu", *provider_options = NULL, *io = NULL, *value;
    bench_dim dims[BENCH_MAX_DIMS];
    int n_dims = 0, warmup = 10, runs = 100, threads = 0, csv = 0, opt = 2, profile = 0;
    int64_t max_id = 100;
    for (int i = 1; i < argc; i++) {
        int got;
        if ((got = cli_flag_value(argc, argv, &i, "--provider", &value))) {
            if (got < 0) return cli_usage_error("bench", "--provider needs a value");
            providers = value;
        } else if ((got = cli_flag_value(argc, argv, &i, "--provider-options", &value))) {
            if (got < 0) return cli_usage_error("bench", "--provider-options needs a value");
            provider_options = value;
        } else if ((got = cli_flag_value(argc, argv, &i, "--dim", &value))) {
            const char *eq = got > 0 ? strchr(value, '=') : NULL;
            if (!eq || n_dims == BENCH_MAX_DIMS) return cli_usage_error("bench", "--dim wants NAME=VALUE");
            char *name = onyx_strndup(value, (size_t)(eq - value));
            dims[n_dims].name = name;
            dims[n_dims].value = strtoll(eq + 1, NULL, 10);
            if (dims[n_dims].value < 0) return cli_usage_error("bench", "--dim %s: negative value", name);
            n_dims++;
        } else if ((got = cli_flag_value(argc, argv, &i, "--warmup", &value))) {
            if (got < 0) return cli_usage_error("bench", "--warmup needs a value");
            warmup = atoi(value);
        } else if ((got = cli_flag_value(argc, argv, &i, "--runs", &value))) {
            if (got < 0 || atoi(value) < 1) return cli_usage_error("bench", "--runs needs a positive value");
            runs = atoi(value);
        } else if ((got = cli_flag_value(argc, argv, &i, "--max-id", &value))) {
            if (got < 0) return cli_usage_error("bench", "--max-id needs a value");
            max_id = strtoll(value, NULL, 10);
        } else if ((got = cli_flag_value(argc, argv, &i, "--threads", &value))) {
            if (got < 0) return cli_usage_error("bench", "--threads needs a value");
            threads = atoi(value);
        } else if ((got = cli_flag_value(argc, argv, &i, "--opt-level", &value))) {
            if (got < 0) return cli_usage_error("bench", "--opt-level needs a value");
            opt = atoi(value);
        } else if ((got = cli_flag_value(argc, argv, &i, "--io", &value))) {
            if (got < 0 || (strcmp(value, "device") && strcmp(value, "host")))
                return cli_usage_error("bench", "--io wants device or host");
            io = value;
        } else if (!strcmp(argv[i], "--csv")) {
            csv = 1;
        } else if (!strcmp(argv[i], "--profile")) {
            profile = 1;
        } else if (argv[i][0] == '-') {
            return cli_usage_error("bench", "unknown option %s", argv[i]);
        } else if (!model) {
            model = argv[i];
        } else {
            return cli_usage_error("bench", "one model at a time");
        }
    }
    if (!model) return cli_usage_error("bench", "no MODEL given");
    onyx_session_options so;
    onyx_session_options_init(&so);
    so.providers = providers;
    so.provider_options = provider_options;
    so.intra_op_threads = threads;
    so.opt_level = (onyx_opt_level)opt;
    so.enable_profiling = profile;
    onyx_session *s = NULL;
    onyx_status st = onyx_session_create(model, &so, &s);
    if (st != ONYX_OK) {
        cli_report_error("bench", model, st);
        return CLI_EXIT_FAILED;
    }
    int on_device = strstr(onyx_session_providers(s), "cuda") != NULL;
    if (!io) io = on_device ? "device" : "host";
    int device_io = !strcmp(io, "device") && on_device;
    size_t n_in = onyx_session_input_count(s), n_out = onyx_session_output_count(s);
    if (n_in > BENCH_MAX_IO || n_out > BENCH_MAX_IO) {
        fprintf(stderr, "onyx bench: too many inputs or outputs\n");
        onyx_session_destroy(s);
        return CLI_EXIT_FAILED;
    }
    onyx_tensor *host_in[BENCH_MAX_IO] = {0}, *dev_in[BENCH_MAX_IO] = {0};
    const char *in_names[BENCH_MAX_IO], *out_names[BENCH_MAX_IO];
    int64_t past = dim_named(dims, n_dims, "past_sequence_length");
    int64_t batch = dim_named(dims, n_dims, "batch_size");
    char shape_text[2048] = "";
    size_t used = 0;
    for (size_t i = 0; i < n_in && st == ONYX_OK; i++) {
        onyx_value_info info;
        onyx_session_input_info(s, i, &info);
        in_names[i] = info.name;
        int64_t shape[ONYX_MAX_RANK];
        for (int d = 0; d < info.rank; d++) {
            if (info.dims[d] >= 0) shape[d] = info.dims[d];
            else if (info.dim_params[d]) shape[d] = dim_eval(dims, n_dims, info.dim_params[d]);
            else shape[d] = 1;
        }
        st = onyx_tensor_create(info.dtype, shape, (size_t)(info.rank > 0 ? info.rank : 0), &host_in[i]);
        if (st == ONYX_OK) fill_input(host_in[i], info.name, max_id, past);
        if (st == ONYX_OK && used < sizeof shape_text - 200) {
            char desc[160];
            used += (size_t)snprintf(shape_text + used, sizeof shape_text - used, "%s%s=%s", i ? " " : "", info.name,
                                     onyx_tensor_describe(host_in[i], desc, sizeof desc));
        }
    }
    for (size_t i = 0; i < n_out; i++) {
        onyx_value_info info;
        onyx_session_output_info(s, i, &info);
        out_names[i] = info.name;
    }
    onyx_io_binding *b = NULL;
    if (st == ONYX_OK && device_io) {
        st = onyx_io_binding_create(s, &b);
        for (size_t i = 0; i < n_in && st == ONYX_OK; i++) {
            st = onyx_session_tensor_to_device(s, host_in[i], ONYX_DEVICE_CUDA, &dev_in[i]);
            if (st == ONYX_OK) st = onyx_io_binding_bind_input(b, in_names[i], dev_in[i]);
        }
        for (size_t i = 0; i < n_out && st == ONYX_OK; i++) st = onyx_io_binding_bind_output_to_device(b, out_names[i], ONYX_DEVICE_CUDA);
    }
    double *times = onyx_calloc((size_t)runs, sizeof *times);
    onyx_tensor *outs[BENCH_MAX_IO] = {0};
    if (!times) st = ONYX_ERR_OUT_OF_MEMORY;
    for (int r = -warmup; r < runs && st == ONYX_OK; r++) {
        double t0 = cli_now_ms();
        if (b) {
            st = onyx_session_run_with_binding(s, b);
            for (size_t i = 0; i < n_out && st == ONYX_OK; i++) {
                st = onyx_io_binding_get_output(b, out_names[i], &outs[i]);
                onyx_tensor_destroy(outs[i]);
                outs[i] = NULL;
            }
        } else {
            st = onyx_session_run(s, in_names, (const onyx_tensor *const *)host_in, n_in, out_names, n_out, outs);
            for (size_t i = 0; i < n_out; i++) {
                onyx_tensor_destroy(outs[i]);
                outs[i] = NULL;
            }
        }
        double t1 = cli_now_ms();
        if (r >= 0) times[r] = t1 - t0;
    }
    int rc = CLI_EXIT_OK;
    if (st != ONYX_OK) {
        cli_report_error("bench", model, st);
        rc = CLI_EXIT_FAILED;
    } else {
        double total = 0;
        for (int r = 0; r < runs; r++) total += times[r];
        qsort(times, (size_t)runs, sizeof *times, cli_compare_doubles);
        double p50 = cli_quantile(times, runs, 0.5), p90 = cli_quantile(times, runs, 0.9),
               p99 = cli_quantile(times, runs, 0.99), mean = total / runs;
        onyx_device_memory_stats mem;
        onyx_device_memory_stats_init(&mem);
        int have_mem = onyx_session_device_memory(s, &mem) == ONYX_OK;
        onyx_run_stats rs;
        onyx_run_stats_init(&rs);
        onyx_session_last_run_stats(s, &rs);
        if (csv) {
            /* model,providers,io,batch,mean_ms,p50_ms,p90_ms,p99_ms,runs_per_s,items_per_s,peak_device_bytes
             * (providers joined with '+', so the line has eleven fields). */
            char joined[128];
            snprintf(joined, sizeof joined, "%s", onyx_session_providers(s));
            for (char *c = joined; *c; c++)
                if (*c == ',') *c = '+';
            printf("%s,%s,%s,%lld,%.4f,%.4f,%.4f,%.4f,%.2f,%.2f,%llu\n", model, joined, io,
                   (long long)batch, mean, p50, p90, p99, 1e3 / mean, 1e3 * (double)batch / mean,
                   have_mem ? (unsigned long long)mem.peak_in_use_bytes : 0ull);
        } else {
            printf("model      %s\n", model);
            printf("providers  %s (io %s)\n", onyx_session_providers(s), io);
            printf("inputs     %s\n", shape_text);
            printf("runs       %d timed after %d warm-up\n", runs, warmup);
            printf("latency    mean %.3f ms  p50 %.3f ms  p90 %.3f ms  p99 %.3f ms\n", mean, p50, p90, p99);
            printf("throughput %.1f runs/s  %.1f items/s (batch %lld)\n", 1e3 / mean, 1e3 * (double)batch / mean,
                   (long long)batch);
            printf("last run   %llu kernels%s, %llu device copies (%llu bytes), %llu cudaMalloc, %llu host allocations\n",
                   (unsigned long long)rs.nodes_run, rs.graph_launched ? " (as CUDA graphs)" : "",
                   (unsigned long long)rs.device_copies, (unsigned long long)rs.device_bytes_copied,
                   (unsigned long long)rs.device_allocations, (unsigned long long)rs.host_allocations);
            printf("           %.3f ms preparing and running nodes, %.3f ms waiting for devices and taking outputs\n",
                   rs.host_ns / 1e6, rs.wait_ns / 1e6);
            if (have_mem)
                printf("device mem peak in use %.1f MiB, peak reserved %.1f MiB\n", mem.peak_in_use_bytes / 1048576.0,
                       mem.peak_reserved_bytes / 1048576.0);
        }
    }
    if (rc == CLI_EXIT_OK && profile) print_profile(s, runs + warmup);
    onyx_free(times);
    onyx_io_binding_destroy(b);
    for (size_t i = 0; i < n_in; i++) {
        onyx_tensor_destroy(host_in[i]);
        onyx_tensor_destroy(dev_in[i]);
    }
    for (int i = 0; i < n_dims; i++) onyx_free((void *)dims[i].name);
    onyx_session_destroy(s);
    return rc;
}
