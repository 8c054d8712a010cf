/*
 * check.c - `onyx check`: run folders in the ONNX backend-test layout and compare outputs.
 *
 * A case is a folder holding model.onnx and test_data_set_N/{input_K.pb, output_K.pb}. Before
 * running, every node (subgraphs included) is looked up in the CPU kernel tables; a case using
 * an op without a kernel for its opset is skipped, naming the ops; so is one with sequence, map or
 * optional graph values, and one whose session or run answers NOT_IMPLEMENTED (valid ONNX that
 * onyx cannot run). Otherwise each data set is run and each output compared (compare.h). One line per case, then a summary line
 * "N passed, N failed, N skipped"; exit 1 when any case failed.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "compare.h"
#include "core/alloc.h"
#include "core/status.h"
#include "core/tensor.h"
#include "graph/ir.h"
#include "onnx/loader.h"
#include "providers/cpu/cpu_tables.h"
#include "providers/kernel.h"

#define CHECK_MAX_IO 64 /* inputs/outputs per data set */

/* A growable list of strings the list owns. */
typedef struct str_list {
    char **items;
    size_t count, cap;
} str_list;

/* One line of --tolerances FILE: a tolerance override, or (skip_reason set) a case whose test
 * data are known to be wrong, skipped with that reason. */
typedef struct tolerance_override {
    char *case_name;
    double atol, rtol;
    char *skip_reason;
} tolerance_override;

typedef struct check_options {
    const char *provider;
    int has_atol, has_rtol;
    double atol, rtol;
    int verbose;
    int skip_unavailable;
    tolerance_override *overrides;
    size_t n_overrides;
    str_list dirs; /* cases to run, in order */
} check_options;

/* How often each missing op made a case skip. */
typedef struct skip_tally {
    str_list ops;
    size_t *counts;
} skip_tally;

typedef enum case_outcome { CASE_PASSED, CASE_FAILED, CASE_SKIPPED, CASE_NO_PROVIDER } case_outcome;

static const char check_usage[] =
    "usage: onyx check [options] DIR...\n"
    "       onyx check [options] --all PARENT\n"
    "\n"
    "Runs ONNX backend-test folders (DIR/model.onnx, DIR/test_data_set_N/{input_K,output_K}.pb)\n"
    "and compares every output with the expected one. Prints one line per case, then\n"
    "'N passed, N failed, N skipped'. Exit status 1 when any case failed.\n"
    "\n"
    "options:\n"
    "  --all PARENT         check every subfolder of PARENT (may be repeated)\n"
    "  --provider P         providers to run with, e.g. cpu or cuda,cpu (default cpu)\n"
    "  --atol A, --rtol R   tolerance for float outputs: |got-expected| <= A + R*|expected|\n"
    "                       (default atol 1e-7 rtol 1e-3; float16/bfloat16 atol 1e-3 rtol 1e-2)\n"
    "  --tolerances FILE    per-case lines 'case_name atol rtol' (tolerance override) or\n"
    "                       'case_name skip reason' (test data known to be wrong); '#' comments\n"
    "  --skip-unavailable   exit 77 (skipped) when the provider cannot be created here\n"
    "  --verbose            verbose library log (placement, folding)\n";

/* ---- small containers ---- */

static int str_list_add(str_list *list, const char *s) {
    if (list->count == list->cap) {
        size_t cap = list->cap ? list->cap * 2 : 16;
        char **items = onyx_realloc(list->items, cap * sizeof *items);
        if (!items) return 0;
        list->items = items;
        list->cap = cap;
    }
    if (!(list->items[list->count] = onyx_strdup(s))) return 0;
    list->count++;
    return 1;
}

static void str_list_free(str_list *list) {
    for (size_t i = 0; i < list->count; i++) onyx_free(list->items[i]);
    onyx_free(list->items);
    memset(list, 0, sizeof *list);
}

static int str_list_contains(const str_list *list, const char *s) {
    for (size_t i = 0; i < list->count; i++)
        if (strcmp(list->items[i], s) == 0) return 1;
    return 0;
}

static int compare_strings_qsort(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void tally_add(skip_tally *tally, const char *op) {
    for (size_t i = 0; i < tally->ops.count; i++)
        if (strcmp(tally->ops.items[i], op) == 0) {
            tally->counts[i]++;
            return;
        }
    size_t *counts = onyx_realloc(tally->counts, (tally->ops.count + 1) * sizeof *counts);
    if (!counts) return;
    tally->counts = counts;
    if (str_list_add(&tally->ops, op)) tally->counts[tally->ops.count - 1] = 1;
}

/* "skipped ops: Conv (12), LSTM (3)": by count, then name. */
static void tally_print(skip_tally *tally) {
    size_t n = tally->ops.count;
    if (n == 0) return;
    for (size_t i = 1; i < n; i++) /* insertion sort: few distinct ops */
        for (size_t j = i; j > 0; j--) {
            size_t a = j - 1, b = j;
            int later = tally->counts[a] < tally->counts[b] ||
                        (tally->counts[a] == tally->counts[b] && strcmp(tally->ops.items[a], tally->ops.items[b]) > 0);
            if (!later) break;
            size_t c = tally->counts[a];
            tally->counts[a] = tally->counts[b];
            tally->counts[b] = c;
            char *s = tally->ops.items[a];
            tally->ops.items[a] = tally->ops.items[b];
            tally->ops.items[b] = s;
        }
    printf("skipped ops:");
    for (size_t i = 0; i < n; i++) printf("%s %s (%zu)", i ? "," : "", tally->ops.items[i], tally->counts[i]);
    printf("\n");
}

/* ---- options ---- */

static int is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Every subfolder of parent, sorted by name, appended to dirs. */
static int add_subfolders(const char *parent, str_list *dirs) {
    DIR *d = opendir(parent);
    if (!d) {
        fprintf(stderr, "onyx check: cannot open folder '%s'\n", parent);
        return 0;
    }
    str_list found = {0};
    struct dirent *e;
    char path[4096];
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        snprintf(path, sizeof path, "%s/%s", parent, e->d_name);
        if (is_dir(path) && !str_list_add(&found, path)) break;
    }
    closedir(d);
    qsort(found.items, found.count, sizeof *found.items, compare_strings_qsort);
    int ok = 1;
    for (size_t i = 0; i < found.count && ok; i++) ok = str_list_add(dirs, found.items[i]);
    str_list_free(&found);
    return ok;
}

/* Append one override; 0 when out of memory. */
static int add_override(check_options *opts, const char *name, double atol, double rtol, const char *skip_reason) {
    tolerance_override *grown = onyx_realloc(opts->overrides, (opts->n_overrides + 1) * sizeof *grown);
    if (!grown) return 0;
    opts->overrides = grown;
    tolerance_override *o = &grown[opts->n_overrides];
    *o = (tolerance_override){onyx_strdup(name), atol, rtol, skip_reason ? onyx_strdup(skip_reason) : NULL};
    if (!o->case_name || (skip_reason && !o->skip_reason)) {
        onyx_free(o->case_name);
        onyx_free(o->skip_reason);
        return 0;
    }
    opts->n_overrides++;
    return 1;
}

/* One line: "case_name atol rtol" or "case_name skip reason words". 0 when malformed. */
static int parse_tolerance_line(check_options *opts, char *line) {
    char name[512], word[32];
    int used = 0;
    line[strcspn(line, "#\r\n")] = '\0';
    if (sscanf(line, "%511s", name) != 1) return 1;
    if (sscanf(line, "%*s %31s %n", word, &used) == 1 && strcmp(word, "skip") == 0)
        return line[used] != '\0' && add_override(opts, name, 0, 0, line + used);
    double atol, rtol;
    char extra;
    if (sscanf(line, "%*s %lf %lf %c", &atol, &rtol, &extra) != 2 || atol < 0 || rtol < 0) return 0;
    return add_override(opts, name, atol, rtol, NULL);
}

/* Read --tolerances FILE. */
static int read_tolerances(const char *path, check_options *opts) {
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "onyx check: cannot open tolerances file '%s'\n", path);
        return 0;
    }
    char line[1024];
    int line_no = 0, ok = 1;
    while (ok && fgets(line, sizeof line, f)) {
        line_no++;
        if (!(ok = parse_tolerance_line(opts, line)))
            fprintf(stderr, "onyx check: %s:%d: expected 'case_name atol rtol' or 'case_name skip reason'\n", path,
                    line_no);
    }
    fclose(f);
    return ok;
}

static void free_options(check_options *opts) {
    for (size_t i = 0; i < opts->n_overrides; i++) {
        onyx_free(opts->overrides[i].case_name);
        onyx_free(opts->overrides[i].skip_reason);
    }
    onyx_free(opts->overrides);
    str_list_free(&opts->dirs);
}

/* Returns CLI_EXIT_OK or the exit status to stop with. */
static int parse_options(int argc, char **argv, check_options *opts) {
    opts->provider = "cpu";
    for (int i = 1; i < argc; i++) {
        const char *value = NULL;
        int got;
        if ((got = cli_flag_value(argc, argv, &i, "--provider", &value))) {
            if (got < 0) return cli_usage_error("check", "--provider needs a value");
            opts->provider = value;
        } else if ((got = cli_flag_value(argc, argv, &i, "--atol", &value))) {
            if (got < 0) return cli_usage_error("check", "--atol needs a value");
            if (!cli_parse_tolerance("check", "--atol", value, &opts->atol)) return CLI_EXIT_USAGE;
            opts->has_atol = 1;
        } else if ((got = cli_flag_value(argc, argv, &i, "--rtol", &value))) {
            if (got < 0) return cli_usage_error("check", "--rtol needs a value");
            if (!cli_parse_tolerance("check", "--rtol", value, &opts->rtol)) return CLI_EXIT_USAGE;
            opts->has_rtol = 1;
        } else if ((got = cli_flag_value(argc, argv, &i, "--tolerances", &value))) {
            if (got < 0) return cli_usage_error("check", "--tolerances needs a file");
            if (!read_tolerances(value, opts)) return CLI_EXIT_USAGE;
        } else if ((got = cli_flag_value(argc, argv, &i, "--all", &value))) {
            if (got < 0) return cli_usage_error("check", "--all needs a folder");
            if (!add_subfolders(value, &opts->dirs)) return CLI_EXIT_USAGE;
        } else if (strcmp(argv[i], "--verbose") == 0) {
            opts->verbose = 1;
        } else if (strcmp(argv[i], "--skip-unavailable") == 0) {
            opts->skip_unavailable = 1;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            return cli_usage_error("check", "unknown option '%s'", argv[i]);
        } else if (!str_list_add(&opts->dirs, argv[i])) {
            return CLI_EXIT_FAILED;
        }
    }
    if (opts->dirs.count == 0) return cli_usage_error("check", "no test folders given (DIR... or --all PARENT)");
    return CLI_EXIT_OK;
}

/* ---- one case ---- */

/* The folder's last path component, the case's name, into name. */
static const char *case_name_of(const char *dir, char *name, size_t size) {
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/') n--;
    const char *end = dir + n;
    const char *start = end;
    while (start > dir && start[-1] != '/') start--;
    snprintf(name, size, "%.*s", (int)(end - start), start);
    return name;
}

/* Add to missing the ops of g (and its subgraphs) that have no CPU kernel at their opset. */
static void collect_missing_ops(const onyx_graph *g, str_list *missing) {
    char why[256];
    for (int n = 0; n < g->n_nodes; n++) {
        const onyx_node *node = &g->nodes[n];
        if (!onyx_kernel_lookup(onyx_cpu_kernel_tables, node->op_type, node->domain, node->opset,
                                ONYX_DTYPE_UNDEFINED, why, sizeof why) &&
            !str_list_contains(missing, node->op_type))
            str_list_add(missing, node->op_type);
        for (int a = 0; a < node->n_attrs; a++) {
            const onyx_attr *attr = &node->attrs[a];
            if (attr->type == ONYX_ATTR_GRAPH && attr->g) collect_missing_ops(attr->g, missing);
            for (size_t k = 0; attr->type == ONYX_ATTR_GRAPHS && k < attr->count; k++)
                if (attr->graphs[k]) collect_missing_ops(attr->graphs[k], missing);
        }
    }
}

static int parse_data_set_number(const char *name) {
    const char *prefix = "test_data_set_";
    size_t n = strlen(prefix);
    if (strncmp(name, prefix, n) != 0 || name[n] == '\0') return -1;
    char *end;
    long v = strtol(name + n, &end, 10);
    return *end == '\0' && v >= 0 && v < 1000000 ? (int)v : -1;
}

static int compare_ints_qsort(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* The numbers N of dir's test_data_set_N folders, sorted; at most cap. */
static int list_data_sets(const char *dir, int *numbers, int cap) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    int count = 0;
    struct dirent *e;
    while ((e = readdir(d)) && count < cap) {
        int v = parse_data_set_number(e->d_name);
        if (v >= 0) numbers[count++] = v;
    }
    closedir(d);
    qsort(numbers, (size_t)count, sizeof *numbers, compare_ints_qsort);
    return count;
}

/* Tensors of one data set: input_K.pb or output_K.pb for K = 0.. until a file is missing. */
typedef struct tensor_files {
    int count;
    onyx_tensor *tensors[CHECK_MAX_IO];
    char *names[CHECK_MAX_IO];
} tensor_files;

static void tensor_files_free(tensor_files *files) {
    for (int k = 0; k < files->count; k++) {
        onyx_tensor_destroy(files->tensors[k]);
        onyx_free(files->names[k]);
    }
    files->count = 0;
}

static onyx_status read_tensor_files(const char *set_dir, const char *stem, tensor_files *files,
                                     char *why, size_t why_size) {
    char path[4096];
    files->count = 0;
    for (int k = 0; k < CHECK_MAX_IO; k++) {
        snprintf(path, sizeof path, "%s/%s_%d.pb", set_dir, stem, k);
        struct stat st;
        if (stat(path, &st) != 0) break;
        onyx_status st_read = onyx_onnx_read_tensor_file(path, &files->tensors[k], &files->names[k]);
        if (st_read != ONYX_OK) {
            snprintf(why, why_size, "%s_%d.pb: %s: %s", stem, k, onyx_status_name(st_read), onyx_last_error());
            return st_read;
        }
        files->count = k + 1;
    }
    return ONYX_OK;
}

/* ONNX's backend data store bfloat16 tensors as uint16 (numpy has no bfloat16): when the model
 * declares bfloat16 where the file says uint16, the bits are read as bfloat16. */
static void retag_bfloat16(onyx_tensor *t, onyx_dtype declared) {
    if (t->dtype == ONYX_DTYPE_UINT16 && declared == ONYX_DTYPE_BFLOAT16) t->dtype = ONYX_DTYPE_BFLOAT16;
}

static onyx_dtype input_dtype(const onyx_session *session, const char *name) {
    onyx_value_info info;
    for (size_t i = 0; i < onyx_session_input_count(session); i++)
        if (onyx_session_input_info(session, i, &info) == ONYX_OK && strcmp(info.name, name) == 0) return info.dtype;
    return ONYX_DTYPE_UNDEFINED;
}

/* The session input that file tensor k binds to: its name if it names an input, else position k. */
static const char *bind_input_name(const onyx_session *session, const char *file_name, int k) {
    onyx_value_info info;
    size_t n = onyx_session_input_count(session);
    if (file_name && file_name[0])
        for (size_t i = 0; i < n; i++)
            if (onyx_session_input_info(session, i, &info) == ONYX_OK && strcmp(info.name, file_name) == 0)
                return info.name;
    if ((size_t)k < n && onyx_session_input_info(session, (size_t)k, &info) == ONYX_OK) return info.name;
    return NULL;
}

/* Index of the session output that expected tensor k is compared with. */
static int bind_output_index(const onyx_session *session, const char *file_name, int k) {
    onyx_value_info info;
    size_t n = onyx_session_output_count(session);
    if (file_name && file_name[0])
        for (size_t i = 0; i < n; i++)
            if (onyx_session_output_info(session, i, &info) == ONYX_OK && strcmp(info.name, file_name) == 0)
                return (int)i;
    return (size_t)k < n ? k : -1;
}

static void tolerance_for(const check_options *opts, const char *case_name, onyx_dtype dtype,
                          double *atol, double *rtol) {
    cli_compare_default_tolerance(dtype, atol, rtol);
    if (opts->has_atol) *atol = opts->atol;
    if (opts->has_rtol) *rtol = opts->rtol;
    for (size_t i = 0; i < opts->n_overrides; i++)
        if (!opts->overrides[i].skip_reason && strcmp(opts->overrides[i].case_name, case_name) == 0) {
            *atol = opts->overrides[i].atol;
            *rtol = opts->overrides[i].rtol;
        }
}

/* Compare the run's outputs with the expected files; writes the first mismatch into why. */
static int compare_outputs(const check_options *opts, const char *case_name, onyx_session *session,
                           onyx_tensor **outputs, const tensor_files *expected, char *why, size_t why_size) {
    size_t n_outputs = onyx_session_output_count(session);
    if ((size_t)expected->count > n_outputs) {
        snprintf(why, why_size, "%d expected outputs but the model has %zu", expected->count, n_outputs);
        return 0;
    }
    for (int k = 0; k < expected->count; k++) {
        int index = bind_output_index(session, expected->names[k], k);
        onyx_value_info info;
        onyx_session_output_info(session, (size_t)index, &info);
        retag_bfloat16(expected->tensors[k], info.dtype);
        double atol, rtol;
        tolerance_for(opts, case_name, onyx_tensor_dtype(expected->tensors[k]), &atol, &rtol);
        cli_compare_result result;
        if (!cli_compare_tensors(outputs[index], expected->tensors[k], atol, rtol, &result)) {
            snprintf(why, why_size, "output %d '%s' %s", index, info.name, result.message);
            return 0;
        }
    }
    return 1;
}

/* Run data set dir/test_data_set_<number>; 1 when it passed, else why says what went wrong and
 * *run_status is the status of a failed run (ONYX_OK when the outputs differed). */
static int run_data_set(const check_options *opts, const char *dir, const char *case_name, int number,
                        onyx_session *session, onyx_status *run_status, char *why, size_t why_size) {
    char set_dir[4096];
    snprintf(set_dir, sizeof set_dir, "%s/test_data_set_%d", dir, number);
    tensor_files inputs = {0}, expected = {0};
    onyx_tensor *outputs[CHECK_MAX_IO] = {0};
    const char *input_names[CHECK_MAX_IO], *output_names[CHECK_MAX_IO];
    size_t n_outputs = onyx_session_output_count(session);
    int passed = 0;
    if (n_outputs > CHECK_MAX_IO) {
        snprintf(why, why_size, "the model has %zu outputs, more than %d", n_outputs, CHECK_MAX_IO);
        return 0;
    }
    if (read_tensor_files(set_dir, "input", &inputs, why, why_size) != ONYX_OK ||
        read_tensor_files(set_dir, "output", &expected, why, why_size) != ONYX_OK)
        goto done;
    for (int k = 0; k < inputs.count; k++)
        if (!(input_names[k] = bind_input_name(session, inputs.names[k], k))) {
            snprintf(why, why_size, "input_%d.pb ('%s') matches no model input (the model has %zu)", k,
                     inputs.names[k], onyx_session_input_count(session));
            goto done;
        } else {
            retag_bfloat16(inputs.tensors[k], input_dtype(session, input_names[k]));
        }
    for (size_t i = 0; i < n_outputs; i++) {
        onyx_value_info info;
        onyx_session_output_info(session, i, &info);
        output_names[i] = info.name;
    }
    onyx_status st = onyx_session_run(session, input_names, (const onyx_tensor *const *)inputs.tensors,
                                      (size_t)inputs.count, output_names, n_outputs, outputs);
    if (st != ONYX_OK) {
        *run_status = st;
        snprintf(why, why_size, "run: %s: %s", onyx_status_name(st), onyx_last_error());
        goto done;
    }
    passed = compare_outputs(opts, case_name, session, outputs, &expected, why, why_size);
done:
    for (size_t i = 0; i < n_outputs; i++) onyx_tensor_destroy(outputs[i]);
    tensor_files_free(&inputs);
    tensor_files_free(&expected);
    return passed;
}

/* Run every data set of a case whose model loaded with all ops available. */
static case_outcome run_case(const check_options *opts, const char *dir, const char *case_name,
                             const char *model_path, skip_tally *tally) {
    onyx_session_options so;
    onyx_session_options_init(&so);
    so.providers = opts->provider;
    so.model_name = case_name;
    onyx_session *session = NULL;
    onyx_status st = onyx_session_create(model_path, &so, &session);
    if (st == ONYX_ERR_NO_PROVIDER && opts->skip_unavailable) return CASE_NO_PROVIDER;
    if (st == ONYX_ERR_NOT_IMPLEMENTED) {
        printf("skip %s: not implemented: %s\n", case_name, onyx_last_error());
        tally_add(tally, "(NOT_IMPLEMENTED by a kernel)");
        return CASE_SKIPPED;
    }
    if (st != ONYX_OK) {
        printf("FAIL %s: session: %s: %s\n", case_name, onyx_status_name(st), onyx_last_error());
        return CASE_FAILED;
    }
    int numbers[256];
    int n_sets = list_data_sets(dir, numbers, 256);
    char why[2048] = "";
    case_outcome outcome = CASE_PASSED;
    for (int s = 0; s < n_sets && outcome == CASE_PASSED; s++) {
        onyx_status run_status = ONYX_OK;
        if (run_data_set(opts, dir, case_name, numbers[s], session, &run_status, why, sizeof why)) continue;
        if (run_status == ONYX_ERR_NOT_IMPLEMENTED) {
            printf("skip %s: %s\n", case_name, why);
            tally_add(tally, "(NOT_IMPLEMENTED by a kernel)");
            outcome = CASE_SKIPPED;
        } else {
            if (n_sets > 1)
                printf("FAIL %s: test_data_set_%d: %s\n", case_name, numbers[s], why);
            else
                printf("FAIL %s: %s\n", case_name, why);
            outcome = CASE_FAILED;
        }
    }
    if (outcome == CASE_PASSED && n_sets == 0) {
        printf("FAIL %s: no test_data_set_N folders in %s\n", case_name, dir);
        outcome = CASE_FAILED;
    }
    if (outcome == CASE_PASSED) printf("ok   %s (%d data set%s)\n", case_name, n_sets, n_sets == 1 ? "" : "s");
    onyx_session_destroy(session);
    return outcome;
}

/* The name of the first graph input or output whose type is not a tensor (sequence, map,
 * optional: the loader leaves their dtype undefined), or NULL. */
static const char *non_tensor_value(const onyx_graph *g) {
    for (int i = 0; i < g->n_inputs; i++)
        if (g->values[g->inputs[i]].dtype == ONYX_DTYPE_UNDEFINED) return g->values[g->inputs[i]].name;
    for (int i = 0; i < g->n_outputs; i++)
        if (g->values[g->outputs[i]].dtype == ONYX_DTYPE_UNDEFINED) return g->values[g->outputs[i]].name;
    return NULL;
}

/* The reason the tolerances file gives for skipping this case, or NULL. */
static const char *known_bad_reason(const check_options *opts, const char *case_name) {
    for (size_t i = 0; i < opts->n_overrides; i++)
        if (opts->overrides[i].skip_reason && strcmp(opts->overrides[i].case_name, case_name) == 0)
            return opts->overrides[i].skip_reason;
    return NULL;
}

/* Load, look up ops, then run: one case folder. */
static case_outcome check_case(const check_options *opts, const char *dir, skip_tally *tally) {
    char name_buf[512];
    const char *case_name = case_name_of(dir, name_buf, sizeof name_buf);
    const char *reason = known_bad_reason(opts, case_name);
    if (reason) {
        printf("skip %s: %s\n", case_name, reason);
        tally_add(tally, "(known bad test data)");
        return CASE_SKIPPED;
    }
    char model_path[4096];
    snprintf(model_path, sizeof model_path, "%s/model.onnx", dir);
    onyx_onnx_model *model = NULL;
    onyx_status st = onyx_onnx_load_file(model_path, &model);
    if (st != ONYX_OK) {
        printf("FAIL %s: load: %s: %s\n", case_name, onyx_status_name(st), onyx_last_error());
        return CASE_FAILED;
    }
    str_list missing = {0};
    collect_missing_ops(model->graph, &missing);
    if (missing.count) {
        onyx_onnx_model_destroy(model);
        printf("skip %s: not implemented:", case_name);
        for (size_t i = 0; i < missing.count; i++) {
            printf("%s %s", i ? "," : "", missing.items[i]);
            tally_add(tally, missing.items[i]);
        }
        printf("\n");
        str_list_free(&missing);
        return CASE_SKIPPED;
    }
    const char *non_tensor = non_tensor_value(model->graph);
    if (non_tensor) {
        printf("skip %s: not implemented: '%s' is not a tensor (sequence, map and optional values are not supported)\n",
               case_name, non_tensor);
        tally_add(tally, "(non-tensor values)");
        onyx_onnx_model_destroy(model);
        return CASE_SKIPPED;
    }
    onyx_onnx_model_destroy(model);
    return run_case(opts, dir, case_name, model_path, tally);
}

int cli_check(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        fputs(check_usage, stdout);
        return CLI_EXIT_OK;
    }
    check_options opts = {0};
    int status = parse_options(argc, argv, &opts);
    if (status != CLI_EXIT_OK) {
        free_options(&opts);
        return status;
    }
    if (opts.verbose) onyx_log_set_level(ONYX_LOG_VERBOSE);
    skip_tally tally = {0};
    size_t passed = 0, failed = 0, skipped = 0;
    for (size_t i = 0; i < opts.dirs.count; i++) {
        case_outcome outcome = check_case(&opts, opts.dirs.items[i], &tally);
        if (outcome == CASE_NO_PROVIDER) {
            fprintf(stderr, "onyx check: provider '%s' is not available here: %s\n", opts.provider, onyx_last_error());
            status = CLI_EXIT_SKIPPED;
            break;
        }
        passed += outcome == CASE_PASSED;
        failed += outcome == CASE_FAILED;
        skipped += outcome == CASE_SKIPPED;
        fflush(stdout);
    }
    if (status != CLI_EXIT_SKIPPED) {
        tally_print(&tally);
        printf("%zu passed, %zu failed, %zu skipped\n", passed, failed, skipped);
        status = failed ? CLI_EXIT_FAILED : CLI_EXIT_OK;
    }
    str_list_free(&tally.ops);
    onyx_free(tally.counts);
    free_options(&opts);
    return status;
}
