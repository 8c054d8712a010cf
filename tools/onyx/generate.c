/*
 * generate.c - the `onyx generate` verb: onyx_model_generate on token ids from the command line,
 * or, without --input-ids, on texts (the model's text-generation / text2text-generation pipeline,
 * text_generation.c).
 *
 * Each --input-ids is one prompt; several make a batch, padded with the model's pad token (on the
 * left for causal LMs, as generate() expects; on the right for seq2seq sources) and masked. The
 * generation settings start from the model's generation_config.json / config.json and the flags
 * override them. Output: one line per returned sequence, its ids comma-separated (causal LM: the
 * prompt and the new tokens; seq2seq: the decoder start token and the new tokens).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "generation_flags.h"
#include "onyx/model.h"

#define GENERATE_MAX_PROMPTS 64

static void generate_help(void) {
    printf("usage: onyx generate --model DIR --input-ids ID,ID,... [--input-ids ...] [generation flags]\n"
           "                     [--provider cuda,cpu] [--output ids]\n"
           "       onyx generate --model DIR [text options] [generation flags] [TEXT...]\n\n"
           "With --input-ids: generates from each prompt with the model folder's ONNX files (an\n"
           "Optimum export) and prints one line per sequence: its token ids, comma-separated.\n"
           "Several --input-ids make a batch.\n\n"
           "Without: the folder's pipeline (text-generation for causal LMs, text2text-generation for\n"
           "seq2seq models) on the TEXT arguments, else one per line from --input FILE or stdin;\n"
           "prints the generated text of each sequence (see `onyx pipeline text-generation --help`\n"
           "for the text options).\n\n");
    cli_generation_help(stdout);
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

/* The settings given on the command line. */
typedef struct generate_flags {
    const char *model_dir, *providers, *output;
    const char *prompts[GENERATE_MAX_PROMPTS];
    int n_prompts;
    cli_generation_flags generation;
} generate_flags;

static int parse_flags(int argc, char **argv, generate_flags *f) {
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        int got = cli_generation_flag("generate", argc, argv, &i, &f->generation);
        if (got < 0) return 0;
        if (got > 0) continue;
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

/* Whether argv asks for the ids mode (any --input-ids). */
static int wants_ids(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--input-ids") == 0 || strncmp(argv[i], "--input-ids=", 12) == 0) return 1;
    return 0;
}

int cli_generate(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        generate_help();
        return CLI_EXIT_OK;
    }
    if (!wants_ids(argc, argv)) return cli_text_generation("generate", ONYX_TASK_AUTO, NULL, argc, argv, 1);
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
    cli_generation_apply(&f.generation, &g);
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
