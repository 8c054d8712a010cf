/*
 * cli.h - what the verbs of the `onyx` tool share: their entry points, exit codes, argument
 * helpers and tensor-file reading.
 *
 * Each verb is int cli_<verb>(argc, argv) with argv[0] the verb's name; it returns the process
 * exit status. Usage errors print to stderr and return CLI_EXIT_USAGE. Nothing here exits.
 */
#ifndef ONYX_TOOLS_CLI_H
#define ONYX_TOOLS_CLI_H

#include <stdio.h>

#include "onyx/model.h"
#include "onyx/onyx.h"

enum {
    CLI_EXIT_OK = 0,
    CLI_EXIT_FAILED = 1, /* a check failed, a model could not be loaded or run */
    CLI_EXIT_USAGE = 2,  /* unknown flag, missing argument */
    CLI_EXIT_SKIPPED = 77 /* CTest's "skipped": the asked-for provider is not available here */
};

int cli_check(int argc, char **argv);
int cli_generate(int argc, char **argv);
int cli_run(int argc, char **argv);
int cli_inspect(int argc, char **argv);
int cli_ops(int argc, char **argv);
int cli_bench(int argc, char **argv);
/* `onyx bench --generate`: generation timing (bench_generate.c); cli_bench hands over to it. */
int cli_bench_generate(int argc, char **argv);
int cli_classify(int argc, char **argv);
int cli_pipeline(int argc, char **argv);
int cli_translate(int argc, char **argv);

/* The generative pipelines from the command line (text_generation.c): `onyx pipeline TASK`
 * with a generative task name (task_name; NULL = the model folder's own task, as `onyx generate`
 * without --input-ids), `onyx translate`. argv[first..] are the verb's arguments. */
int cli_text_generation(const char *verb, onyx_task task, const char *task_name, int argc, char **argv, int first);

/* Print "onyx VERB: <message>" and a pointer to `onyx VERB --help` to stderr; returns
 * CLI_EXIT_USAGE. */
int cli_usage_error(const char *verb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Whether argv[*i] is flag, given as "FLAG VALUE" or "FLAG=VALUE". Returns 1 and sets *value
 * (advancing *i past a separate value) when it is; 0 when argv[*i] is another argument; -1 when
 * the flag is there but its value is missing. */
int cli_flag_value(int argc, char **argv, int *i, const char *flag, const char **value);

/* Parse a finite non-negative number for flag; prints a usage error and returns 0 if bad. */
int cli_parse_tolerance(const char *verb, const char *flag, const char *text, double *out);

/* Parse an integer >= min for flag; prints a usage error and returns 0 if bad. */
int cli_parse_int(const char *verb, const char *flag, const char *text, long long min, long long *out);

/* A monotonic clock in milliseconds, qsort's comparison of doubles, and the q-quantile of n
 * sorted times (element n * q, the last one past the end) (bench.c). */
double cli_now_ms(void);
/* With profiling on: session s's time per op type and provider (onyx_session_op_times), per run
 * over runs, largest first, at most max_lines, then the total; indented lines for a report. */
void cli_print_op_times(const onyx_session *s, double runs, size_t max_lines);
int cli_compare_doubles(const void *a, const void *b);
double cli_quantile(const double *sorted, int n, double q);

/* Whether argv has --help or -h (checked before any other parsing). */
int cli_wants_help(int argc, char **argv);

/* A tensor from a .npy file or a serialized TensorProto (.pb), picked by the file's extension.
 * *name_out (may be NULL) receives the TensorProto's name ("" for .npy), onyx_malloc'd. */
onyx_status cli_read_tensor_file(const char *path, onyx_tensor **out, char **name_out);

/* All lines of in without their line ends, in a malloc'd array of malloc'd strings (free each
 * and the array); *count receives how many. NULL when out of memory. */
char **cli_read_lines(FILE *in, size_t *count);

/* Print the status name and onyx_last_error() after "onyx VERB: what: " to stderr. */
void cli_report_error(const char *verb, const char *what, onyx_status status);

#endif
