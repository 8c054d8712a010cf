/*
 * generate.c - the `onyx generate` verb: onyx_model_generate on token ids from the command line.
 *
 * Each --input-ids is one prompt; several make a batch, padded with the model's pad token (on the
 * left for causal LMs, as generate() expects; on the right for seq2seq sources) and masked. The
 * generation settings start from the model's generation_config.json / config.json and the flags
 * override them. Output: one line per returned sequence, its ids comma-separated (causal LM: the
 * prompt and the new tokens; seq2seq: the decoder start token and the new tokens).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "onyx/model.h"

#define GENERATE_MAX_PROMPTS 64

static void generate_help(void) {
    printf("usage: onyx generate --model DIR --input-ids ID,ID,... [--input-ids ...]\n"
           "                     [--max-new-tokens N] [--min-new-tokens N] [--num-beams K]\n"
           "                     [--num-return-sequences N] [--length-penalty X] [--early-stopping]\n"
           "                     [--do-sample --seed S --temperature T --top-k K --top-p P]\n"
           "                     [--repetition-penalty X] [--no-repeat-ngram-size N]\n"
           "                     [--provider cuda,cpu] [--output ids]\n\n"
           "Generates from each prompt with the model folder's ONNX files (an Optimum export) and\n"
           "prints one line per sequence: its token ids, comma-separated. Defaults come from the\n"
           "folder's generation_config.json and config.json. Several --input-ids make a batch.\n");
}

/* ids "5,17,42" into out (capacity values); returns the count, or -1 when malformed. */
static int64_t parse_ids(const char *text, int64_t *out, int64_t capacity) {
    int64_t count = 0;
    const char *p = text;
    while (*p) {
        char *end = NULL;
        errno = 0;
        long long v = strtoll(p, &end, 10);
        if (end == p || errno || v < 0 || count == capacity) return -1;
        out[count++] = v;
        p = end;
        if (*p == ',') {
            p++;
            if (!*p) return -1;
        } else if (*p) {
            return -1;
        }
    }
    return count;
}

static int parse_int(const char *flag, const char *text, long long min, long long *out) {
    char *end = NULL;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (end == text || *end || errno || v < min) {
        cli_usage_error("generate", "%s wants an integer >= %lld, got '%s'", flag, min, text);
        return 0;
    }
    *out = v;
    return 1;
}

static int parse_float(const char *flag, const char *text, float *out) {
    char *end = NULL;
    errno = 0;
    double v = strtod(text, &end);
    if (end == text || *end || errno || !isfinite(v)) {
        cli_usage_error("generate", "%s wants a number, got '%s'", flag, text);
        return 0;
    }
    *out = (float)v;
    return 1;
}

/* The settings given on the command line; has_* says which. */
typedef struct generate_flags {
    const char *model_dir, *providers, *output;
    const char *prompts[GENERATE_MAX_PROMPTS];
    int n_prompts;
    long long max_new, min_new, beams, returns, seed, top_k, ngram;
    float temperature, top_p, length_penalty, repetition_penalty;
    int has_max_new, has_min_new, has_beams, has_returns, has_seed, has_top_k, has_ngram, has_temperature,
        has_top_p, has_length_penalty, has_repetition_penalty, do_sample, early_stopping;
} generate_flags;

static int parse_flags(int argc, char **argv, generate_flags *f) {
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        int got;
        if ((got = cli_flag_value(argc, argv, &i, "--model", &v)) != 0) {
            f->model_dir = v;
        } else if ((got = cli_flag_value(argc, argv, &i, "--input-ids", &v)) != 0) {
            if (got > 0 && f->n_prompts == GENERATE_MAX_PROMPTS)
                return cli_usage_error("generate", "at most %d --input-ids", GENERATE_MAX_PROMPTS), 0;
            if (got > 0) f->prompts[f->n_prompts++] = v;
        } else if ((got = cli_flag_value(argc, argv, &i, "--provider", &v)) != 0) {
            f->providers = v;
        } else if ((got = cli_flag_value(argc, argv, &i, "--output", &v)) != 0) {
            f->output = v;
        } else if ((got = cli_flag_value(argc, argv, &i, "--max-new-tokens", &v)) != 0) {
            if (got > 0 && !(f->has_max_new = parse_int("--max-new-tokens", v, 0, &f->max_new))) return 0;
        } else if ((got = cli_flag_value(argc, argv, &i, "--min-new-tokens", &v)) != 0) {
            if (got > 0 && !(f->has_min_new = parse_int("--min-new-tokens", v, 0, &f->min_new))) return 0;
        } else if ((got = cli_flag_value(argc, argv, &i, "--num-beams", &v)) != 0) {
            if (got > 0 && !(f->has_beams = parse_int("--num-beams", v, 1, &f->beams))) return 0;
        } else if ((got = cli_flag_value(argc, argv, &i, "--num-return-sequences", &v)) != 0) {
            if (got > 0 && !(f->has_returns = parse_int("--num-return-sequences", v, 1, &f->returns))) return 0;
        } else if ((got = cli_flag_value(argc, argv, &i, "--seed", &v)) != 0) {
            if (got > 0 && !(f->has_seed = parse_int("--seed", v, 0, &f->seed))) return 0;
        } else if ((got = cli_flag_value(argc, argv, &i, "--top-k", &v)) != 0) {
            if (got > 0 && !(f->has_top_k = parse_int("--top-k", v, 0, &f->top_k))) return 0;
        } else if ((got = cli_flag_value(argc, argv, &i, "--no-repeat-ngram-size", &v)) != 0) {
            if (got > 0 && !(f->has_ngram = parse_int("--no-repeat-ngram-size", v, 0, &f->ngram))) return 0;
        } else if ((got = cli_flag_value(argc, argv, &i, "--temperature", &v)) != 0) {
            if (got > 0 && !(f->has_temperature = parse_float("--temperature", v, &f->temperature))) return 0;
        } else if ((got = cli_flag_value(argc, argv, &i, "--top-p", &v)) != 0) {
            if (got > 0 && !(f->has_top_p = parse_float("--top-p", v, &f->top_p))) return 0;
        } else if ((got = cli_flag_value(argc, argv, &i, "--length-penalty", &v)) != 0) {
            if (got > 0 && !(f->has_length_penalty = parse_float("--length-penalty", v, &f->length_penalty))) return 0;
        } else if ((got = cli_flag_value(argc, argv, &i, "--repetition-penalty", &v)) != 0) {
            if (got > 0 && !(f->has_repetition_penalty = parse_float("--repetition-penalty", v, &f->repetition_penalty)))
                return 0;
        } else if (strcmp(argv[i], "--do-sample") == 0) {
            f->do_sample = 1;
        } else if (strcmp(argv[i], "--early-stopping") == 0) {
            f->early_stopping = 1;
        } else {
            return cli_usage_error("generate", "unknown argument '%s'", argv[i]), 0;
        }
        if (got < 0) return cli_usage_error("generate", "%s needs a value", argv[i]), 0;
    }
    if (!f->model_dir) return cli_usage_error("generate", "--model DIR is required"), 0;
    if (f->n_prompts == 0) return cli_usage_error("generate", "--input-ids is required"), 0;
    if (f->output && strcmp(f->output, "ids") != 0)
        return cli_usage_error("generate", "--output takes 'ids' (got '%s')", f->output), 0;
    return 1;
}

static void apply_flags(const generate_flags *f, onyx_generation_config *g) {
    if (f->has_max_new) g->max_new_tokens = f->max_new;
    if (f->has_min_new) g->min_new_tokens = f->min_new;
    if (f->has_beams) g->num_beams = (int)f->beams;
    if (f->has_returns) g->num_return_sequences = (int)f->returns;
    if (f->has_seed) g->seed = (uint64_t)f->seed;
    if (f->has_top_k) g->top_k = (int)f->top_k;
    if (f->has_ngram) g->no_repeat_ngram_size = (int)f->ngram;
    if (f->has_temperature) g->temperature = f->temperature;
    if (f->has_top_p) g->top_p = f->top_p;
    if (f->has_length_penalty) g->length_penalty = f->length_penalty;
    if (f->has_repetition_penalty) g->repetition_penalty = f->repetition_penalty;
    if (f->do_sample) g->do_sample = 1;
    if (f->early_stopping) g->early_stopping = 1;
}

int cli_generate(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        generate_help();
        return CLI_EXIT_OK;
    }
    generate_flags f;
    memset(&f, 0, sizeof f);
    if (!parse_flags(argc, argv, &f)) return CLI_EXIT_USAGE;
    onyx_model_options options;
    onyx_model_options_init(&options);
    if (f.providers) options.session.providers = f.providers;
    onyx_model *model = NULL;
    onyx_status st = onyx_model_load(f.model_dir, ONYX_TASK_AUTO, &options, &model);
    if (st != ONYX_OK) {
        cli_report_error("generate", f.model_dir, st);
        return st == ONYX_ERR_NO_PROVIDER ? CLI_EXIT_SKIPPED : CLI_EXIT_FAILED;
    }
    onyx_generation_config g;
    st = onyx_model_generation_config(model, &g);
    if (st != ONYX_OK) {
        cli_report_error("generate", f.model_dir, st);
        onyx_model_destroy(model);
        return CLI_EXIT_FAILED;
    }
    apply_flags(&f, &g);
    /* prompts (B, T) padded to the longest, mask (B, T) */
    enum { max_prompt = 4096 };
    int64_t lengths[GENERATE_MAX_PROMPTS], longest = 0;
    int64_t *parsed = calloc((size_t)f.n_prompts * max_prompt, sizeof(int64_t));
    int ok = parsed != NULL;
    for (int p = 0; ok && p < f.n_prompts; p++) {
        lengths[p] = parse_ids(f.prompts[p], parsed + (int64_t)p * max_prompt, max_prompt);
        if (lengths[p] <= 0) {
            cli_usage_error("generate", "--input-ids wants comma-separated token ids (at most %d), got '%s'",
                            max_prompt, f.prompts[p]);
            ok = 0;
        } else if (lengths[p] > longest) {
            longest = lengths[p];
        }
    }
    int64_t *ids = ok ? calloc((size_t)(f.n_prompts * longest), sizeof(int64_t)) : NULL;
    int64_t *mask = ok ? calloc((size_t)(f.n_prompts * longest), sizeof(int64_t)) : NULL;
    int left_pad = onyx_model_task(model) == ONYX_TASK_CAUSAL_LM;
    int64_t pad = g.pad_token_id >= 0 ? g.pad_token_id : g.n_eos > 0 ? g.eos_token_id[0] : 0;
    int status = ok ? CLI_EXIT_OK : CLI_EXIT_USAGE;
    if (ok && (!ids || !mask)) {
        fprintf(stderr, "onyx generate: out of memory\n");
        status = CLI_EXIT_FAILED;
    }
    for (int p = 0; status == CLI_EXIT_OK && p < f.n_prompts; p++) {
        int64_t offset = left_pad ? longest - lengths[p] : 0;
        for (int64_t t = 0; t < longest; t++) {
            int64_t at = t - offset, in_prompt = at >= 0 && at < lengths[p];
            ids[p * longest + t] = in_prompt ? parsed[(int64_t)p * max_prompt + at] : pad;
            mask[p * longest + t] = in_prompt;
        }
    }
    int64_t *sequences = NULL, rows = 0, length = 0;
    if (status == CLI_EXIT_OK) {
        st = onyx_model_generate(model, ids, mask, f.n_prompts, longest, &g, &sequences, &rows, &length);
        if (st != ONYX_OK) {
            cli_report_error("generate", f.model_dir, st);
            status = CLI_EXIT_FAILED;
        }
    }
    for (int64_t r = 0; status == CLI_EXIT_OK && r < rows; r++)
        for (int64_t t = 0; t < length; t++)
            printf("%lld%s", (long long)sequences[r * length + t], t + 1 < length ? "," : "\n");
    onyx_ids_free(sequences);
    free(parsed);
    free(ids);
    free(mask);
    onyx_model_destroy(model);
    return status;
}
