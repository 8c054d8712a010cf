/*
 * bench_generate.c - `onyx bench --generate --model DIR`: time onyx_model_generate on a model
 * folder (causal LM or seq2seq) and print per-token latency and tokens/s.
 *
 * Every run generates exactly --new-tokens tokens (min_new_tokens = max_new_tokens, so eos
 * cannot end it early), greedy or with --num-beams, from the prompts of --input-ids FILE.npy
 * (int64 (batch, length), no padding) or from random ids (--batch, --input-len, --max-id, a fixed
 * seed). The model's generation settings apply otherwise (forced BOS of M2M100, ...); sampling,
 * repetition penalty and no-repeat n-grams are switched off.
 *
 * Times: the whole generate call (p50, p90 over --runs after --warmup), and the first token alone
 * (the median of generate calls with one new token: the prompt's prefill, with the encoder for
 * seq2seq). per_token_ms = (p50 - first_token) / (new_tokens - 1): the steady decode step,
 * search included. tokens_per_s counts batch * new_tokens per whole call.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "core/alloc.h"
#include "core/npy.h"
#include "model/model_internal.h"
#include "onyx/model.h"

static const char bench_generate_usage[] =
    "usage: onyx bench --generate --model DIR [--provider P] [--provider-options OPTS]\n"
    "                  [--input-ids FILE.npy |\n"
    "                  --batch B --input-len N [--max-id N]] [--new-tokens N] [--num-beams K]\n"
    "                  [--warmup N] [--runs N] [--threads N] [--output-ids FILE.npy] [--csv]\n"
    "                  [--profile host|nodes]\n"
    "\n"
    "Time generation with the model folder DIR: exactly --new-tokens tokens per run (default 64),\n"
    "greedy or beam search. Prints whole-call p50/p90, the first token's time, the per-token\n"
    "time after it, tokens/s and peak device memory.\n"
    "\n"
    "  --provider-options OPTS  provider options as in sessions, e.g. cuda.enable_cuda_graph=0\n"
    "  --input-ids FILE   int64 .npy (batch, length) prompts (default: random ids)\n"
    "  --batch B          random prompts: how many (default 1)\n"
    "  --input-len N      random prompts: their length (default 8)\n"
    "  --max-id N         random prompts: ids in [0, N) (default 1000, at most vocab_size)\n"
    "  --output-ids FILE  write the last run's sequences as int64 .npy (rows, length)\n"
    "  --csv              one line: model,provider,batch,input_len,new_tokens,num_beams,runs,\n"
    "                     p50_ms,p90_ms,first_token_ms,per_token_ms,tokens_per_s,peak_device_bytes\n"
    "  --profile MODE     after the timed calls, per session of the model (encoder, decoders, token\n"
    "                     chooser, cache reorder): runs per call, the host's time per run and the wait\n"
    "                     for the device after it, plans reused, and time per op type. host: node\n"
    "                     times are the host's work (preparing and queueing), the device is not\n"
    "                     waited for and the loop keeps its speed; nodes: the device is waited for\n"
    "                     after every node (slower runs). The timed calls run with profiling on.\n";

/* The model's sessions with a name for each, for --profile. */
static int model_sessions(onyx_model *m, onyx_session **out, const char **names, int cap) {
    int n = 0;
    onyx_session *all[4] = {m->encoder, m->decoder, m->decoder_with_past, m->cache_gather};
    static const char *const all_names[4] = {"encoder", "decoder", "decoder with past", "cache reorder"};
    for (int i = 0; i < 4 && n < cap; i++)
        if (all[i]) out[n] = all[i], names[n++] = all_names[i];
    for (int i = 0; i < ONYX_MODEL_CHOOSERS && n < cap; i++)
        if (m->choosers[i].session) out[n] = m->choosers[i].session, names[n++] = "token chooser";
    return n;
}

static void print_generate_profile(onyx_model *m, long long calls, int mode) {
    onyx_session *sessions[4 + ONYX_MODEL_CHOOSERS];
    const char *names[4 + ONYX_MODEL_CHOOSERS];
    int n = model_sessions(m, sessions, names, 4 + ONYX_MODEL_CHOOSERS);
    printf("profile      %s times over the %lld timed calls (%s)\n", mode == ONYX_PROFILE_HOST ? "host" : "node",
           calls, mode == ONYX_PROFILE_HOST ? "the device not waited for per node" : "the device waited for after every node");
    for (int i = 0; i < n; i++) {
        onyx_run_totals t;
        onyx_run_totals_init(&t);
        if (onyx_session_run_totals(sessions[i], &t) != ONYX_OK || !t.runs) continue;
        double runs = (double)t.runs;
        printf("  %s: %.1f runs per call, %.0f%% planned; per run: host %.3f ms, then device wait %.3f ms, %.0f nodes run, "
               "%.1f copies between devices, %.1f host allocations\n",
               names[i], runs / (double)calls, 100.0 * (double)t.planned_runs / runs, t.host_ns / 1e6 / runs,
               t.wait_ns / 1e6 / runs, (double)t.nodes_run / runs, (double)t.device_copies / runs,
               (double)t.host_allocations / runs);
        cli_print_op_times(sessions[i], runs, 14);
    }
}

/* Per session of the timed calls (calls of them) into buf: runs per call, host time per run and
 * the wait after it, and with CUDA graphs the share of runs launched so and instantiations. */
static void session_summary(onyx_model *m, long long calls, char *buf, size_t size) {
    onyx_session *sessions[4 + ONYX_MODEL_CHOOSERS];
    const char *names[4 + ONYX_MODEL_CHOOSERS];
    int n = model_sessions(m, sessions, names, 4 + ONYX_MODEL_CHOOSERS);
    size_t used = 0;
    buf[0] = '\0';
    for (int k = 0; k < n && used < size; k++) {
        onyx_run_totals t;
        onyx_run_totals_init(&t);
        if (onyx_session_run_totals(sessions[k], &t) != ONYX_OK || !t.runs) continue;
        double r = (double)t.runs;
        char graphs[96] = "";
        if (t.graph_runs)
            snprintf(graphs, sizeof graphs, ", %.0f%% as CUDA graphs (%.2f instantiated per run)",
                     100.0 * (double)t.graph_runs / r, (double)t.graph_instantiations / r);
        int w = snprintf(buf + used, size - used, "%s %s: %.1f runs per call, host %.3f ms + wait %.3f ms per run%s\n",
                         used ? "            " : "sessions    ", names[k], r / (double)calls, t.host_ns / 1e6 / r,
                         t.wait_ns / 1e6 / r, graphs);
        if (w > 0) used += (size_t)w;
    }
}

/* Time runs calls of generate; times (runs) receives each in ms, *last the last call's output. */
static onyx_status time_generate(onyx_model *m, const int64_t *ids, int64_t batch, int64_t len,
                                 const onyx_generation_config *g, int warmup, int runs, double *times,
                                 int64_t **last, int64_t *rows, int64_t *length) {
    int64_t out_rows = 0, out_length = 0;
    for (int i = 0; i < warmup + runs; i++) {
        if (i == warmup) { /* the run totals and profiles count the timed calls only */
            onyx_session *sessions[4 + ONYX_MODEL_CHOOSERS];
            const char *names[4 + ONYX_MODEL_CHOOSERS];
            int n = model_sessions(m, sessions, names, 4 + ONYX_MODEL_CHOOSERS);
            for (int k = 0; k < n; k++) onyx_session_reset_run_totals(sessions[k]);
        }
        int64_t *out = NULL;
        double t0 = cli_now_ms();
        onyx_status st = onyx_model_generate(m, ids, NULL, batch, len, g, &out, &out_rows, &out_length);
        double t1 = cli_now_ms();
        if (st != ONYX_OK) return st;
        if (i >= warmup) times[i - warmup] = t1 - t0;
        if (last && i == warmup + runs - 1) {
            *last = out;
            *rows = out_rows;
            *length = out_length;
        } else {
            onyx_ids_free(out);
        }
    }
    return ONYX_OK;
}

int cli_bench_generate(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        fputs(bench_generate_usage, stdout);
        return CLI_EXIT_OK;
    }
    const char *dir = NULL, *providers = "cpu", *provider_options = NULL, *ids_path = NULL, *out_path = NULL, *value;
    long long batch = 1, input_len = 8, max_id = 1000, new_tokens = 64, beams = 1, warmup = 2, runs = 10, threads = 0;
    int csv = 0, profile = ONYX_PROFILE_OFF;
    for (int i = 1; i < argc; i++) {
        int got;
        if (!strcmp(argv[i], "--generate")) continue;
        if ((got = cli_flag_value(argc, argv, &i, "--profile", &value))) {
            if (got < 0 || (strcmp(value, "host") && strcmp(value, "nodes")))
                return cli_usage_error("bench", "--profile wants host or nodes");
            profile = !strcmp(value, "host") ? ONYX_PROFILE_HOST : ONYX_PROFILE_NODES;
            continue;
        }
        if (!strcmp(argv[i], "--csv")) {
            csv = 1;
        } else if ((got = cli_flag_value(argc, argv, &i, "--model", &value))) {
            if (got < 0) return cli_usage_error("bench", "--model needs a folder");
            dir = value;
        } else if ((got = cli_flag_value(argc, argv, &i, "--provider", &value))) {
            if (got < 0) return cli_usage_error("bench", "--provider needs a value");
            providers = value;
        } else if ((got = cli_flag_value(argc, argv, &i, "--provider-options", &value))) {
            if (got < 0) return cli_usage_error("bench", "--provider-options needs a value");
            provider_options = value;
        } else if ((got = cli_flag_value(argc, argv, &i, "--input-ids", &value))) {
            if (got < 0) return cli_usage_error("bench", "--input-ids needs a file");
            ids_path = value;
        } else if ((got = cli_flag_value(argc, argv, &i, "--output-ids", &value))) {
            if (got < 0) return cli_usage_error("bench", "--output-ids needs a file");
            out_path = value;
        } else {
            static const char *const flags[] = {"--batch", "--input-len", "--max-id", "--new-tokens", "--num-beams",
                                                "--runs", "--threads"};
            long long *targets[] = {&batch, &input_len, &max_id, &new_tokens, &beams, &runs, &threads};
            int matched = 0;
            for (size_t f = 0; f < sizeof flags / sizeof flags[0] && !matched; f++) {
                if (!(got = cli_flag_value(argc, argv, &i, flags[f], &value))) continue;
                if (got < 0) return cli_usage_error("bench", "%s needs a value", flags[f]);
                if (!cli_parse_int("bench", flags[f], value, 1, targets[f])) return CLI_EXIT_USAGE;
                matched = 1;
            }
            if (!matched && (got = cli_flag_value(argc, argv, &i, "--warmup", &value))) {
                char *end = NULL;
                warmup = got < 0 ? -1 : strtoll(value, &end, 10);
                if (got < 0 || end == value || *end || warmup < 0)
                    return cli_usage_error("bench", "--warmup wants an integer >= 0");
                matched = 1;
            }
            if (!matched) return cli_usage_error("bench", "unknown argument '%s' for --generate", argv[i]);
        }
    }
    if (!dir) return cli_usage_error("bench", "--generate needs --model DIR");

    onyx_tensor *prompt = NULL;
    int64_t *ids = NULL;
    if (ids_path) {
        onyx_status st = onyx_npy_read_file(ids_path, &prompt);
        if (st != ONYX_OK) {
            cli_report_error("bench", ids_path, st);
            return CLI_EXIT_FAILED;
        }
        if (onyx_tensor_dtype(prompt) != ONYX_DTYPE_INT64 || onyx_tensor_rank(prompt) != 2) {
            fprintf(stderr, "onyx bench: %s: want int64 (batch, length) ids, got %s of rank %zu\n", ids_path,
                    onyx_dtype_name(onyx_tensor_dtype(prompt)), onyx_tensor_rank(prompt));
            onyx_tensor_destroy(prompt);
            return CLI_EXIT_FAILED;
        }
        batch = onyx_tensor_dims(prompt)[0];
        input_len = onyx_tensor_dims(prompt)[1];
        ids = onyx_tensor_data(prompt);
    }

    onyx_model_options mo;
    onyx_model_options_init(&mo);
    mo.session.providers = providers;
    mo.session.provider_options = provider_options;
    mo.session.intra_op_threads = (int)threads;
    mo.session.enable_profiling = profile;
    onyx_model *m = NULL;
    int rc = CLI_EXIT_FAILED;
    double *times = onyx_malloc((size_t)runs * sizeof(double));
    int64_t *last = NULL, rows = 0, length = 0;
    onyx_status st = ONYX_OK;
    if (!times) {
        fprintf(stderr, "onyx bench: no memory for %lld run times\n", runs);
        goto done;
    }
    st = onyx_model_load(dir, ONYX_TASK_AUTO, &mo, &m);
    if (st != ONYX_OK) {
        cli_report_error("bench", dir, st);
        goto done;
    }
    if (!ids) {
        int64_t vocab = 0;
        if (onyx_model_config_int(m, "vocab_size", &vocab) == ONYX_OK && vocab < max_id) max_id = vocab;
        ids = onyx_malloc((size_t)(batch * input_len) * sizeof(int64_t));
        if (!ids) {
            fprintf(stderr, "onyx bench: no memory for %lld prompts\n", batch);
            goto done;
        }
        uint64_t state = 0x9e3779b97f4a7c15ull;
        for (long long k = 0; k < batch * input_len; k++) {
            state ^= state << 13, state ^= state >> 7, state ^= state << 17;
            ids[k] = (int64_t)(state % (uint64_t)max_id);
        }
    }
    onyx_generation_config g;
    if ((st = onyx_model_generation_config(m, &g)) != ONYX_OK) {
        cli_report_error("bench", dir, st);
        goto done;
    }
    g.max_new_tokens = g.min_new_tokens = new_tokens;
    g.num_beams = (int)beams;
    g.num_return_sequences = 1;
    g.do_sample = 0;
    g.repetition_penalty = 1.0f;
    g.no_repeat_ngram_size = 0;
    onyx_device_memory_stats before;
    onyx_device_memory_stats_init(&before);
    int have_before = onyx_model_device_memory(m, &before) == ONYX_OK;
    st = time_generate(m, ids, batch, input_len, &g, (int)warmup, (int)runs, times, &last, &rows, &length);
    if (st != ONYX_OK) {
        cli_report_error("bench", "generate", st);
        goto done;
    }
    if (profile && !csv) print_generate_profile(m, runs, profile);
    char sessions_text[1024];
    session_summary(m, runs, sessions_text, sizeof sessions_text);
    qsort(times, (size_t)runs, sizeof *times, cli_compare_doubles);
    double p50 = cli_quantile(times, (int)runs, 0.5), p90 = cli_quantile(times, (int)runs, 0.9);
    /* the first token alone */
    g.max_new_tokens = g.min_new_tokens = 1;
    st = time_generate(m, ids, batch, input_len, &g, 1, (int)runs, times, NULL, NULL, NULL);
    if (st != ONYX_OK) {
        cli_report_error("bench", "generate (first token)", st);
        goto done;
    }
    qsort(times, (size_t)runs, sizeof *times, cli_compare_doubles);
    double first = cli_quantile(times, (int)runs, 0.5);
    double per_token = new_tokens > 1 ? (p50 - first) / (double)(new_tokens - 1) : 0.0;
    double tokens_per_s = (double)(batch * new_tokens) / (p50 / 1e3);
    onyx_device_memory_stats mem;
    onyx_device_memory_stats_init(&mem);
    int have_mem = onyx_model_device_memory(m, &mem) == ONYX_OK;
    if (out_path) {
        int64_t dims[2] = {rows, length};
        onyx_tensor *t = NULL;
        st = onyx_tensor_create_borrowed(ONYX_DTYPE_INT64, dims, 2, last, (size_t)(rows * length) * sizeof(int64_t), &t);
        if (st == ONYX_OK) st = onyx_npy_write_file(out_path, t);
        onyx_tensor_destroy(t);
        if (st != ONYX_OK) {
            cli_report_error("bench", out_path, st);
            goto done;
        }
    }
    if (csv) {
        printf("%s,%s,%lld,%lld,%lld,%lld,%lld,%.4f,%.4f,%.4f,%.4f,%.2f,%llu\n", dir, providers, batch, input_len,
               new_tokens, beams, runs, p50, p90, first, per_token, tokens_per_s,
               have_mem ? (unsigned long long)mem.peak_in_use_bytes : 0ull);
    } else {
        printf("model        %s (%s)\n", dir, onyx_model_files(m));
        printf("providers    %s\n", providers);
        printf("generation   batch %lld, prompt %lld, %lld new tokens, %s\n", batch, input_len, new_tokens,
               beams > 1 ? "beam search" : "greedy");
        if (beams > 1) printf("beams        %lld\n", beams);
        printf("runs         %lld timed after %lld warm-up\n", runs, warmup);
        printf("whole call   p50 %.3f ms  p90 %.3f ms\n", p50, p90);
        printf("first token  %.3f ms (median of 1-token calls)\n", first);
        printf("per token    %.3f ms after the first\n", per_token);
        printf("throughput   %.1f tokens/s\n", tokens_per_s);
        if (have_mem)
            printf("device mem   peak in use %.1f MiB, peak reserved %.1f MiB (sum over the model's sessions)\n",
                   mem.peak_in_use_bytes / 1048576.0, mem.peak_reserved_bytes / 1048576.0);
        fputs(sessions_text, stdout);
        if (have_mem && have_before)
            printf("cudaMalloc   %llu calls during the %lld-token calls (warm-up included), %llu in all\n",
                   (unsigned long long)(mem.driver_allocations - before.driver_allocations), new_tokens,
                   (unsigned long long)mem.driver_allocations);
    }
    rc = CLI_EXIT_OK;
done:
    if (!prompt) onyx_free(ids);
    onyx_tensor_destroy(prompt);
    onyx_ids_free(last);
    onyx_free(times);
    onyx_model_destroy(m);
    return rc;
}
