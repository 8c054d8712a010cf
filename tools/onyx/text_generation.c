/*
 * text_generation.c - the generative pipelines from the command line: `onyx pipeline
 * text-generation|text2text-generation|summarization|translation[_XX_to_YY]`, `onyx translate` and
 * `onyx generate` without --input-ids (include/onyx/pipeline.h).
 *
 * Inputs are the TEXT arguments, or else one per line from --input FILE or stdin, run in batches
 * of --batch-size. Output: by default the text of every returned sequence, one per line; --json
 * one line per input, the JSON transformers' pipeline returns for it ([{"generated_text": ...}],
 * [{"summary_text": ...}], [{"translation_text": ...}]). Generation flags are generation_flags.c's.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "generation_flags.h"
#include "onyx/pipeline.h"

typedef struct text_cli {
    const char *verb;
    const char *model_dir, *input_path;
    size_t batch_size;
    int json;
    onyx_pipeline_options options;
    cli_generation_flags generation;
} text_cli;

static void print_help(const char *verb) {
    if (strcmp(verb, "translate") == 0)
        printf("usage: onyx translate --model DIR [--src-lang XX --tgt-lang YY] [options] [TEXT...]\n\n"
               "Translation (transformers' translation pipeline) with a seq2seq model folder. M2M100\n"
               "needs both languages; T5 picks its \"translation_XX_to_YY\" task_specific_params.\n\n");
    else
        printf("usage: onyx pipeline text-generation|text2text-generation|summarization|translation[_XX_to_YY]\n"
               "                     --model DIR [options] [TEXT...]\n\n"
               "transformers' generative pipelines over a model folder (an Optimum export).\n\n");
    printf("Inputs: the TEXT arguments, else one per line from --input FILE or stdin.\n"
           "Output: the text of each returned sequence on its own line; --json: one line per input,\n"
           "shaped as transformers' output ([{\"generated_text\": ...}], summary_text, translation_text).\n\n"
           "  --model DIR            model folder (config.json + ONNX files)\n"
           "  --tokenizer PATH       tokenizer.json / SentencePiece model to use instead of the folder's\n"
           "  --provider P           providers, e.g. cpu or cuda,cpu (default cpu)\n"
           "  --input FILE           read inputs from FILE\n"
           "  --batch-size N         inputs per generate call (default 8)\n"
           "  --json                 JSON lines shaped as transformers' pipeline output\n"
           "  --return-tensors       JSON holds the token ids (\"generated_token_ids\", ...)\n"
           "  --src-lang XX          translation: source language (M2M100: __XX__)\n"
           "  --tgt-lang YY          translation: target language\n"
           "  --prefix TEXT          put before every input (default: task_specific_params' prefix)\n"
           "  --no-full-text         text-generation: only the generated text, not the prompt too\n"
           "  --keep-special-tokens  do not drop special tokens when decoding\n"
           "  --clean-up-spaces 0|1  decode's clean_up_tokenization_spaces (default: the task's)\n"
           "  --max-length N         truncate inputs to N tokens (default: no truncation)\n\n");
    cli_generation_help(stdout);
}

static int parse_args(text_cli *c, int argc, char **argv, int first, char **texts, size_t *n_texts) {
    static const char *const string_flags[] = {"--model", "--tokenizer", "--provider", "--input", "--src-lang",
                                               "--tgt-lang", "--prefix"};
    const char **string_values[] = {&c->model_dir, &c->options.tokenizer_path, &c->options.model.session.providers,
                                    &c->input_path, &c->options.src_lang, &c->options.tgt_lang, &c->options.prefix};
    *n_texts = 0;
    for (int i = first; i < argc; i++) {
        const char *v;
        long long n;
        int r = cli_generation_flag(c->verb, argc, argv, &i, &c->generation);
        if (r < 0) return CLI_EXIT_USAGE;
        if (r > 0) continue;
        size_t k = 0;
        for (; k < sizeof string_flags / sizeof string_flags[0]; k++)
            if ((r = cli_flag_value(argc, argv, &i, string_flags[k], &v)) != 0) break;
        if (r < 0) return cli_usage_error(c->verb, "%s needs a value", argv[i]);
        if (r > 0) {
            *string_values[k] = v;
        } else if ((r = cli_flag_value(argc, argv, &i, "--batch-size", &v))) {
            if (r < 0 || !cli_parse_int(c->verb, "--batch-size", v, 1, &n)) return CLI_EXIT_USAGE;
            c->batch_size = (size_t)n;
        } else if ((r = cli_flag_value(argc, argv, &i, "--max-length", &v))) {
            if (r < 0 || !cli_parse_int(c->verb, "--max-length", v, 1, &n)) return CLI_EXIT_USAGE;
            c->options.max_length = n;
        } else if ((r = cli_flag_value(argc, argv, &i, "--clean-up-spaces", &v))) {
            if (r < 0 || (strcmp(v, "0") != 0 && strcmp(v, "1") != 0))
                return cli_usage_error(c->verb, "--clean-up-spaces takes 0 or 1");
            c->options.clean_up_tokenization_spaces = v[0] == '1';
        } else if (strcmp(argv[i], "--json") == 0) {
            c->json = 1;
        } else if (strcmp(argv[i], "--return-tensors") == 0) {
            c->options.return_tensors = 1;
        } else if (strcmp(argv[i], "--no-full-text") == 0) {
            c->options.return_full_text = 0;
        } else if (strcmp(argv[i], "--keep-special-tokens") == 0) {
            c->options.skip_special_tokens = 0;
        } else if (strncmp(argv[i], "--", 2) == 0) {
            return cli_usage_error(c->verb, "unknown flag '%s'", argv[i]);
        } else {
            texts[(*n_texts)++] = argv[i];
        }
    }
    if (!c->model_dir) return cli_usage_error(c->verb, "--model DIR is required");
    return CLI_EXIT_OK;
}

static int print_result(const text_cli *c, const onyx_pipeline_result *r) {
    for (size_t i = 0; i < r->count; i++) {
        if (!c->json) {
            for (size_t k = 0; k < r->outputs[i].count; k++) printf("%s\n", r->outputs[i].items[k].text);
            continue;
        }
        char *json = NULL;
        onyx_status st = onyx_pipeline_result_json(r, i, 1, &json);
        if (st) {
            cli_report_error(c->verb, "rendering JSON", st);
            return CLI_EXIT_FAILED;
        }
        printf("%s\n", json);
        onyx_pipeline_free_text(json);
    }
    fflush(stdout);
    return CLI_EXIT_OK;
}

static int run_batches(const text_cli *c, onyx_pipeline *p, const onyx_generation_config *g, char **inputs, size_t n) {
    int rc = CLI_EXIT_OK;
    for (size_t at = 0; at < n && rc == CLI_EXIT_OK; at += c->batch_size) {
        size_t count = n - at < c->batch_size ? n - at : c->batch_size;
        onyx_pipeline_result *r = NULL;
        onyx_status st = onyx_pipeline_generate(p, (const char *const *)inputs + at, NULL, count, g, &r);
        if (st) {
            char what[64];
            snprintf(what, sizeof what, "inputs %zu-%zu", at + 1, at + count);
            cli_report_error(c->verb, what, st);
            rc = CLI_EXIT_FAILED;
        } else {
            rc = print_result(c, r);
        }
        onyx_pipeline_result_destroy(r);
    }
    return rc;
}

int cli_text_generation(const char *verb, onyx_task task, const char *task_name, int argc, char **argv, int first) {
    if (cli_wants_help(argc, argv)) {
        print_help(verb);
        return CLI_EXIT_OK;
    }
    text_cli c;
    memset(&c, 0, sizeof c);
    c.verb = verb;
    c.batch_size = 8;
    onyx_pipeline_options_init(&c.options);
    if (task_name && onyx_pipeline_task_from_name(task_name, &task, &c.options) != ONYX_OK)
        return cli_usage_error(verb, "%s", onyx_last_error());
    char **texts = calloc((size_t)argc + 1, sizeof *texts), **lines = NULL;
    size_t n_texts = 0, n_lines = 0;
    int rc = texts ? parse_args(&c, argc, argv, first, texts, &n_texts) : CLI_EXIT_FAILED;
    onyx_pipeline *p = NULL;
    onyx_model *model = NULL;
    if (rc == CLI_EXIT_OK) {
        onyx_status st = onyx_model_load(c.model_dir, ONYX_TASK_AUTO, &c.options.model, &model);
        if (!st && task == ONYX_TASK_AUTO) task = onyx_model_task(model);
        if (!st) st = onyx_pipeline_create_from_model(model, task, &c.options, &p);
        if (st) {
            cli_report_error(verb, c.model_dir, st);
            rc = st == ONYX_ERR_NO_PROVIDER ? CLI_EXIT_SKIPPED : CLI_EXIT_FAILED;
        }
    }
    onyx_generation_config g;
    if (rc == CLI_EXIT_OK) {
        onyx_status st = onyx_pipeline_generation_config(p, &g);
        if (st) {
            cli_report_error(verb, c.model_dir, st);
            rc = CLI_EXIT_FAILED;
        }
        cli_generation_apply(&c.generation, &g);
    }
    if (rc == CLI_EXIT_OK && n_texts == 0) {
        FILE *in = stdin;
        if (c.input_path && !(in = fopen(c.input_path, "r"))) {
            fprintf(stderr, "onyx %s: cannot open %s: %s\n", verb, c.input_path, strerror(errno));
            rc = CLI_EXIT_FAILED;
        } else {
            lines = cli_read_lines(in, &n_lines);
            if (in != stdin) fclose(in);
            if (!lines) rc = CLI_EXIT_FAILED;
        }
    }
    if (rc == CLI_EXIT_OK && (n_texts || n_lines))
        rc = run_batches(&c, p, &g, n_texts ? texts : lines, n_texts ? n_texts : n_lines);
    onyx_pipeline_destroy(p);
    onyx_model_destroy(model);
    for (size_t i = 0; i < n_lines; i++) free(lines[i]);
    free(lines);
    free(texts);
    return rc;
}

int cli_translate(int argc, char **argv) {
    return cli_text_generation("translate", ONYX_TASK_SEQ2SEQ_LM, "translation", argc, argv, 1);
}
