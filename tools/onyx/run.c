/*
 * run.c - `onyx run MODEL --input NAME=FILE ...`: run a model once on inputs read from .npy or
 * TensorProto .pb files, write every output to DIR/<name>.npy and optionally print a summary.
 *
 * Output names are sanitised for file names (anything but letters, digits, '-', '_' and '.'
 * becomes '_'). STRING outputs cannot be stored as .npy; they are printed with --print and
 * reported otherwise.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "core/alloc.h"
#include "core/dtype.h"
#include "core/npy.h"
#include "core/tensor.h"

#define RUN_MAX_IO 256
#define RUN_PRINT_VALUES 8

static const char run_usage[] =
    "usage: onyx run MODEL [options] --input NAME=FILE ...\n"
    "\n"
    "Runs MODEL once. Inputs come from .npy files or serialized TensorProto (.pb) files; each\n"
    "output is written to DIR/<output name>.npy.\n"
    "\n"
    "options:\n"
    "  --input NAME=FILE   bind model input NAME to the tensor in FILE (repeat per input)\n"
    "  --provider P        providers, e.g. cpu or cuda,cpu (default cpu)\n"
    "  --output-dir DIR    where the .npy outputs go, made when missing (default: the current folder)\n"
    "  --print             print each output's dtype, shape and first values\n"
    "  --verbose           verbose library log (placement, folding)\n";

typedef struct run_options {
    const char *model_path;
    const char *provider;
    const char *output_dir;
    int print;
    int verbose;
    int n_inputs;
    const char *input_specs[RUN_MAX_IO]; /* "NAME=FILE" as given */
} run_options;

static int parse_options(int argc, char **argv, run_options *opts) {
    opts->provider = "cpu";
    opts->output_dir = ".";
    for (int i = 1; i < argc; i++) {
        const char *value = NULL;
        int got;
        if ((got = cli_flag_value(argc, argv, &i, "--provider", &value))) {
            if (got < 0) return cli_usage_error("run", "--provider needs a value");
            opts->provider = value;
        } else if ((got = cli_flag_value(argc, argv, &i, "--output-dir", &value))) {
            if (got < 0) return cli_usage_error("run", "--output-dir needs a folder");
            opts->output_dir = value;
        } else if ((got = cli_flag_value(argc, argv, &i, "--input", &value))) {
            if (got < 0) return cli_usage_error("run", "--input needs NAME=FILE");
            const char *eq = strchr(value, '=');
            if (!eq || eq == value || eq[1] == '\0')
                return cli_usage_error("run", "--input wants NAME=FILE, got '%s'", value);
            if (opts->n_inputs == RUN_MAX_IO) return cli_usage_error("run", "more than %d inputs", RUN_MAX_IO);
            opts->input_specs[opts->n_inputs++] = value;
        } else if (strcmp(argv[i], "--print") == 0) {
            opts->print = 1;
        } else if (strcmp(argv[i], "--verbose") == 0) {
            opts->verbose = 1;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            return cli_usage_error("run", "unknown option '%s'", argv[i]);
        } else if (opts->model_path) {
            return cli_usage_error("run", "one MODEL expected, got '%s' and '%s'", opts->model_path, argv[i]);
        } else {
            opts->model_path = argv[i];
        }
    }
    if (!opts->model_path) return cli_usage_error("run", "no MODEL given");
    return CLI_EXIT_OK;
}

/* Read the tensors named by --input; names[k] points into a copy the caller frees. */
static int read_inputs(const run_options *opts, const onyx_session *session, char **names,
                       onyx_tensor **tensors) {
    for (int k = 0; k < opts->n_inputs; k++) {
        const char *spec = opts->input_specs[k];
        const char *eq = strchr(spec, '=');
        if (!(names[k] = onyx_strndup(spec, (size_t)(eq - spec)))) return 0;
        int known = 0;
        onyx_value_info info;
        for (size_t i = 0; i < onyx_session_input_count(session) && !known; i++)
            known = onyx_session_input_info(session, i, &info) == ONYX_OK && strcmp(info.name, names[k]) == 0;
        if (!known) {
            fprintf(stderr, "onyx run: the model has no input '%s'; its inputs are:", names[k]);
            for (size_t i = 0; i < onyx_session_input_count(session); i++)
                if (onyx_session_input_info(session, i, &info) == ONYX_OK)
                    fprintf(stderr, "%s %s", i ? "," : "", info.name);
            fprintf(stderr, "\n");
            return 0;
        }
        onyx_status st = cli_read_tensor_file(eq + 1, &tensors[k], NULL);
        if (st != ONYX_OK) {
            cli_report_error("run", eq + 1, st);
            return 0;
        }
    }
    return 1;
}

/* "dir/name.npy" with name's odd characters replaced. */
static void output_path(const char *dir, const char *name, char *buf, size_t size) {
    char clean[256];
    size_t n = 0;
    for (; name[n] && n + 1 < sizeof clean; n++) {
        char c = name[n];
        int plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                    c == '_' || (c == '.' && n > 0);
        clean[n] = plain ? c : '_';
    }
    clean[n] = '\0';
    snprintf(buf, size, "%s/%s.npy", dir, n ? clean : "output");
}

static void print_output(const char *name, const onyx_tensor *t) {
    char desc[256];
    printf("%s: %s", name, onyx_tensor_describe(t, desc, sizeof desc));
    int64_t n = onyx_tensor_numel(t);
    int64_t shown = n < RUN_PRINT_VALUES ? n : RUN_PRINT_VALUES;
    printf(" = [");
    for (int64_t i = 0; i < shown; i++) {
        if (i) printf(", ");
        if (t->dtype == ONYX_DTYPE_STRING) {
            const onyx_string *s = &((const onyx_string *)t->data)[i];
            printf("\"%.*s\"", (int)(s->size < 40 ? s->size : 40), s->data);
        } else if (onyx_dtype_is_float(t->dtype)) {
            printf("%.6g", onyx_tensor_get_f64(t, i));
        } else if (t->dtype == ONYX_DTYPE_COMPLEX64 || t->dtype == ONYX_DTYPE_COMPLEX128) {
            printf("?");
        } else {
            printf("%lld", (long long)onyx_tensor_get_i64(t, i));
        }
    }
    printf("%s]\n", shown < n ? ", ..." : "");
}

/* Write (and print) every output; 1 when all were written. */
static int store_outputs(const run_options *opts, const char *const *names, onyx_tensor **outputs, size_t n) {
    int ok = 1;
    char path[4096];
    /* The output folder is made when missing (its parent must exist). */
    if (mkdir(opts->output_dir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "onyx run: cannot create the output folder '%s': %s\n", opts->output_dir, strerror(errno));
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (opts->print) print_output(names[i], outputs[i]);
        if (onyx_tensor_dtype(outputs[i]) == ONYX_DTYPE_STRING) {
            fprintf(stderr, "onyx run: output '%s' holds strings, which .npy files cannot; not written\n", names[i]);
            if (!opts->print) ok = 0;
            continue;
        }
        output_path(opts->output_dir, names[i], path, sizeof path);
        onyx_status st = onyx_npy_write_file(path, outputs[i]);
        if (st != ONYX_OK) {
            cli_report_error("run", path, st);
            ok = 0;
        }
    }
    return ok;
}

static int run_session(const run_options *opts, onyx_session *session) {
    char *input_names[RUN_MAX_IO] = {0};
    onyx_tensor *inputs[RUN_MAX_IO] = {0}, *outputs[RUN_MAX_IO] = {0};
    const char *output_names[RUN_MAX_IO];
    size_t n_outputs = onyx_session_output_count(session);
    int status = CLI_EXIT_FAILED;
    if (n_outputs > RUN_MAX_IO) {
        fprintf(stderr, "onyx run: the model has %zu outputs, more than %d\n", n_outputs, RUN_MAX_IO);
        return CLI_EXIT_FAILED;
    }
    for (size_t i = 0; i < n_outputs; i++) {
        onyx_value_info info;
        onyx_session_output_info(session, i, &info);
        output_names[i] = info.name;
    }
    if (read_inputs(opts, session, input_names, inputs)) {
        onyx_status st = onyx_session_run(session, (const char *const *)input_names,
                                          (const onyx_tensor *const *)inputs, (size_t)opts->n_inputs,
                                          output_names, n_outputs, outputs);
        if (st != ONYX_OK)
            cli_report_error("run", "running the model", st);
        else if (store_outputs(opts, output_names, outputs, n_outputs))
            status = CLI_EXIT_OK;
    }
    for (int k = 0; k < opts->n_inputs; k++) {
        onyx_free(input_names[k]);
        onyx_tensor_destroy(inputs[k]);
    }
    for (size_t i = 0; i < n_outputs; i++) onyx_tensor_destroy(outputs[i]);
    return status;
}

int cli_run(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        fputs(run_usage, stdout);
        return CLI_EXIT_OK;
    }
    run_options opts = {0};
    int status = parse_options(argc, argv, &opts);
    if (status != CLI_EXIT_OK) return status;
    if (opts.verbose) onyx_log_set_level(ONYX_LOG_VERBOSE);
    onyx_session_options so;
    onyx_session_options_init(&so);
    so.providers = opts.provider;
    onyx_session *session = NULL;
    onyx_status st = onyx_session_create(opts.model_path, &so, &session);
    if (st != ONYX_OK) {
        cli_report_error("run", "loading the model", st);
        return CLI_EXIT_FAILED;
    }
    status = run_session(&opts, session);
    onyx_session_destroy(session);
    return status;
}
