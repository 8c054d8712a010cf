/*
 * main.c - the `onyx` command-line tool: verb dispatch, usage text and the helpers the verbs
 * share (cli.h).
 *
 *   onyx check    run ONNX backend-test folders and compare with their expected outputs
 *   onyx run      run a model on .npy/.pb inputs and write .npy outputs
 *   onyx inspect  describe a model: producer, opsets, inputs, outputs, ops, node placement
 *   onyx ops      list the CPU kernels (docs/ops.md is its --markdown output)
 *   onyx generate generate token ids (or text) with a causal LM or seq2seq model folder (model.h)
 *   onyx translate translation with a seq2seq model folder (pipeline.h)
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "core/alloc.h"
#include "core/npy.h"
#include "core/status.h"
#include "onnx/loader.h"

typedef struct cli_verb {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} cli_verb;

int cli_tokenize(int argc, char **argv);
int cli_detokenize(int argc, char **argv);

static const cli_verb cli_verbs[] = {
    {"check", cli_check, "run ONNX backend-test folders (model.onnx + test_data_set_N) and compare outputs"},
    {"run", cli_run, "run a model on .npy/.pb inputs and write each output as .npy"},
    {"generate", cli_generate, "generate token ids or text with a text-generation / text2text-generation model folder"},
    {"inspect", cli_inspect, "describe a model: producer, opsets, inputs, outputs, op counts, placement"},
    {"bench", cli_bench, "time a model's runs on a provider: latency percentiles, throughput, device memory"},
    {"ops", cli_ops, "list the CPU provider's kernels (--markdown writes docs/ops.md)"},
    {"tokenize", cli_tokenize, "encode JSON-string lines with a tokenizer.json / SentencePiece model"},
    {"detokenize", cli_detokenize, "decode JSON id-array lines back to text"},
    {"classify", cli_classify, "text classification of texts with a model folder (transformers' pipeline)"},
    {"pipeline", cli_pipeline, "run a transformers pipeline: classification, ner, QA, fill-mask, features, generation, summarization, translation"},
    {"translate", cli_translate, "translate texts with a seq2seq model folder (M2M100: --src-lang, --tgt-lang)"},
};

static void print_usage(FILE *to) {
    fprintf(to, "usage: onyx VERB [options] ...\n\nverbs:\n");
    for (size_t i = 0; i < sizeof cli_verbs / sizeof cli_verbs[0]; i++)
        fprintf(to, "  %-10s %s\n", cli_verbs[i].name, cli_verbs[i].summary);
    fprintf(to, "  %-10s %s\n", "help", "this text");
    fprintf(to, "\n`onyx VERB --help` describes a verb's options. `onyx --version` prints the version.\n");
}

int cli_usage_error(const char *verb, const char *fmt, ...) {
    va_list args;
    va_start(args, fmt);
    fprintf(stderr, "onyx %s: ", verb);
    vfprintf(stderr, fmt, args);
    fprintf(stderr, "\n(run `onyx %s --help` for usage)\n", verb);
    va_end(args);
    return CLI_EXIT_USAGE;
}

int cli_flag_value(int argc, char **argv, int *i, const char *flag, const char **value) {
    const char *arg = argv[*i];
    size_t len = strlen(flag);
    if (strncmp(arg, flag, len) != 0) return 0;
    if (arg[len] == '=') {
        *value = arg + len + 1;
        return 1;
    }
    if (arg[len] != '\0') return 0;
    if (*i + 1 >= argc) return -1;
    *i += 1;
    *value = argv[*i];
    return 1;
}

int cli_parse_tolerance(const char *verb, const char *flag, const char *text, double *out) {
    char *end = NULL;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || *end != '\0' || !isfinite(v) || v < 0) {
        cli_usage_error(verb, "%s wants a non-negative number, got '%s'", flag, text);
        return 0;
    }
    *out = v;
    return 1;
}

int cli_parse_int(const char *verb, const char *flag, const char *text, long long min, long long *out) {
    char *end = NULL;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || end == text || *end != '\0' || v < min) {
        cli_usage_error(verb, "%s wants an integer >= %lld, got '%s'", flag, min, text);
        return 0;
    }
    *out = v;
    return 1;
}

int cli_wants_help(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) return 1;
    return 0;
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

onyx_status cli_read_tensor_file(const char *path, onyx_tensor **out, char **name_out) {
    if (name_out) *name_out = NULL;
    if (ends_with(path, ".npy")) {
        ONYX_TRY(onyx_npy_read_file(path, out));
        if (name_out && !(*name_out = onyx_strdup(""))) {
            onyx_tensor_destroy(*out);
            *out = NULL;
            return ONYX_ERR_OUT_OF_MEMORY;
        }
        return ONYX_OK;
    }
    if (ends_with(path, ".pb")) return onyx_onnx_read_tensor_file(path, out, name_out);
    *out = NULL;
    return onyx_error(ONYX_ERR_INVALID_ARGUMENT,
                      "%s: unknown tensor file type, expected a .npy file or a TensorProto .pb file", path);
}

char **cli_read_lines(FILE *in, size_t *count) {
    char **lines = NULL, *line = NULL;
    size_t n = 0, cap = 0, line_cap = 0;
    ssize_t len;
    *count = 0;
    while ((len = getline(&line, &line_cap, in)) >= 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            char **grown = realloc(lines, cap * sizeof *lines);
            if (!grown) {
                free(line);
                for (size_t i = 0; i < n; i++) free(lines[i]);
                free(lines);
                return NULL;
            }
            lines = grown;
        }
        lines[n++] = line;
        line = NULL;
        line_cap = 0;
    }
    free(line);
    *count = n;
    return lines ? lines : calloc(1, sizeof *lines);
}

void cli_report_error(const char *verb, const char *what, onyx_status status) {
    fprintf(stderr, "onyx %s: %s: %s: %s\n", verb, what, onyx_status_name(status), onyx_last_error());
}

int main(int argc, char **argv) {
    if (argc < 2) {
        print_usage(stderr);
        return CLI_EXIT_USAGE;
    }
    const char *verb = argv[1];
    if (strcmp(verb, "--version") == 0 || strcmp(verb, "version") == 0) {
        char info[1024];
        printf("onyx %s\n%s", onyx_version(), onyx_runtime_info(info, sizeof info));
        return CLI_EXIT_OK;
    }
    if (strcmp(verb, "help") == 0 || strcmp(verb, "--help") == 0 || strcmp(verb, "-h") == 0) {
        if (argc >= 3) {
            char *help_argv[] = {argv[2], "--help", NULL};
            for (size_t i = 0; i < sizeof cli_verbs / sizeof cli_verbs[0]; i++)
                if (strcmp(argv[2], cli_verbs[i].name) == 0) return cli_verbs[i].fn(2, help_argv);
            fprintf(stderr, "onyx help: unknown verb '%s'\n\n", argv[2]);
            print_usage(stderr);
            return CLI_EXIT_USAGE;
        }
        print_usage(stdout);
        return CLI_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof cli_verbs / sizeof cli_verbs[0]; i++)
        if (strcmp(verb, cli_verbs[i].name) == 0) return cli_verbs[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "onyx: unknown verb '%s'\n\n", verb);
    print_usage(stderr);
    return CLI_EXIT_USAGE;
}
