/*
 * pipeline.c - `onyx classify` and `onyx pipeline TASK`: transformers' encoder pipelines from the
 * command line (include/onyx/pipeline.h).
 *
 * Inputs are the TEXT arguments, or else one per line from --input FILE or stdin (question-
 * answering: JSON lines {"question": ..., "context": ...}). They run in batches of --batch-size.
 * Output is one line per input: --json writes the JSON transformers' pipeline would return for
 * it (scores rounded to 4 decimals, or full precision with --full-precision); the default is
 * tab-separated text, one line per result item.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "onyx/pipeline.h"

typedef struct pipe_cli {
    const char *verb;
    onyx_task task;
    const char *model_dir;
    const char *input_path;
    size_t batch_size;
    int json, full_precision;
    onyx_pipeline_options options;
    char *targets_copy;
    const char *targets[64];
} pipe_cli;

static void print_help(const char *verb) {
    printf("usage: onyx %s --model DIR [options] [TEXT...]\n\n", verb);
    if (strcmp(verb, "classify") == 0)
        printf("Text classification (transformers' text-classification pipeline).\n\n");
    else
        printf("TASK: text-classification, token-classification (ner), question-answering,\n"
               "fill-mask, feature-extraction; text-generation, text2text-generation, summarization\n"
               "and translation[_XX_to_YY] take other options (`onyx pipeline text-generation --help`).\n\n");
    printf("Inputs: the TEXT arguments, else one per line from --input FILE or stdin\n"
           "(question-answering: JSON lines {\"question\": ..., \"context\": ...}).\n\n"
           "  --model DIR            model folder (config.json + model.onnx)\n"
           "  --tokenizer PATH       tokenizer.json to use instead of the folder's\n"
           "  --provider P           providers, e.g. cpu or cuda,cpu (default cpu)\n"
           "  --input FILE           read inputs from FILE\n"
           "  --batch-size N         inputs per model run (default 8)\n"
           "  --json                 JSON lines shaped as transformers' pipeline output\n"
           "  --full-precision       JSON numbers at full precision (default: rounded to 4 decimals)\n"
           "  --top-k K              text-classification (default 1; 'all' = every label),\n"
           "                         question-answering (1), fill-mask (5)\n"
           "  --max-length N         truncate inputs to N tokens (default max_position_embeddings)\n");
    if (strcmp(verb, "classify") != 0)
        printf("  --function F           text-classification: sigmoid, softmax, none (default: by model)\n"
               "  --aggregation S        token-classification: none, simple, first, average, max\n"
               "  --ignore-labels L,...  token-classification: labels to drop (default O; '' = none)\n"
               "  --max-answer-len N     question-answering (default 15)\n"
               "  --handle-impossible-answer  question-answering: allow the empty answer\n"
               "  --doc-stride N         question-answering: overlap of context spans\n"
               "  --targets A,B,...      fill-mask: score only these tokens\n"
               "  --pooling P            feature-extraction (onyx option): none, mean, cls\n"
               "  --normalize            feature-extraction (onyx option): L2-normalize the vectors\n");
}

/* Split a comma-separated list into dst (at most cap entries) over a copy the caller frees. */
static size_t split_list(const char *list, char **copy, const char **dst, size_t cap) {
    *copy = strdup(list);
    size_t n = 0;
    if (!*copy) return 0;
    for (char *tok = strtok(*copy, ","); tok && n < cap; tok = strtok(NULL, ",")) dst[n++] = tok;
    return n;
}

static char *ignore_copy;
static const char *ignore_list[64];

static int parse_args(pipe_cli *c, int argc, char **argv, int first, char ***texts, size_t *n_texts) {
    const char *v;
    int r;
    *n_texts = 0;
    *texts = calloc((size_t)argc, sizeof **texts);
    if (!*texts) return CLI_EXIT_FAILED;
    for (int i = first; i < argc; i++) {
        long long n;
        if ((r = cli_flag_value(argc, argv, &i, "--model", &v))) {
            if (r < 0) return cli_usage_error(c->verb, "--model needs a folder");
            c->model_dir = v;
        } else if ((r = cli_flag_value(argc, argv, &i, "--tokenizer", &v))) {
            if (r < 0) return cli_usage_error(c->verb, "--tokenizer needs a path");
            c->options.tokenizer_path = v;
        } else if ((r = cli_flag_value(argc, argv, &i, "--provider", &v))) {
            if (r < 0) return cli_usage_error(c->verb, "--provider needs a name");
            c->options.model.session.providers = v;
        } else if ((r = cli_flag_value(argc, argv, &i, "--input", &v))) {
            if (r < 0) return cli_usage_error(c->verb, "--input needs a file");
            c->input_path = v;
        } else if ((r = cli_flag_value(argc, argv, &i, "--batch-size", &v))) {
            if (r < 0 || !cli_parse_int(c->verb, "--batch-size", v, 1, &n)) return CLI_EXIT_USAGE;
            c->batch_size = (size_t)n;
        } else if ((r = cli_flag_value(argc, argv, &i, "--top-k", &v))) {
            if (r < 0) return cli_usage_error(c->verb, "--top-k needs a number");
            if (strcmp(v, "all") == 0) c->options.top_k = ONYX_TOP_K_ALL;
            else if (!cli_parse_int(c->verb, "--top-k", v, 1, &n)) return CLI_EXIT_USAGE;
            else c->options.top_k = (int)n;
        } else if ((r = cli_flag_value(argc, argv, &i, "--max-length", &v))) {
            if (r < 0 || !cli_parse_int(c->verb, "--max-length", v, 1, &n)) return CLI_EXIT_USAGE;
            c->options.max_length = n;
        } else if ((r = cli_flag_value(argc, argv, &i, "--function", &v))) {
            if (r < 0) return cli_usage_error(c->verb, "--function needs a name");
            if (strcmp(v, "sigmoid") == 0) c->options.function_to_apply = ONYX_FUNCTION_SIGMOID;
            else if (strcmp(v, "softmax") == 0) c->options.function_to_apply = ONYX_FUNCTION_SOFTMAX;
            else if (strcmp(v, "none") == 0) c->options.function_to_apply = ONYX_FUNCTION_NONE;
            else return cli_usage_error(c->verb, "--function: sigmoid, softmax or none, not '%s'", v);
        } else if ((r = cli_flag_value(argc, argv, &i, "--aggregation", &v))) {
            static const char *const names[] = {"none", "simple", "first", "average", "max"};
            int found = -1;
            for (int k = 0; r > 0 && k < 5; k++)
                if (strcmp(v, names[k]) == 0) found = k;
            if (found < 0) return cli_usage_error(c->verb, "--aggregation: none, simple, first, average or max");
            c->options.aggregation = (onyx_aggregation)found;
        } else if ((r = cli_flag_value(argc, argv, &i, "--ignore-labels", &v))) {
            if (r < 0) return cli_usage_error(c->verb, "--ignore-labels needs a list");
            free(ignore_copy);
            c->options.ignore_label_count = split_list(v, &ignore_copy, ignore_list, 64);
            c->options.ignore_labels = ignore_list;
        } else if ((r = cli_flag_value(argc, argv, &i, "--max-answer-len", &v))) {
            if (r < 0 || !cli_parse_int(c->verb, "--max-answer-len", v, 1, &n)) return CLI_EXIT_USAGE;
            c->options.max_answer_len = n;
        } else if ((r = cli_flag_value(argc, argv, &i, "--doc-stride", &v))) {
            if (r < 0 || !cli_parse_int(c->verb, "--doc-stride", v, 1, &n)) return CLI_EXIT_USAGE;
            c->options.doc_stride = n;
        } else if (strcmp(argv[i], "--handle-impossible-answer") == 0) {
            c->options.handle_impossible_answer = 1;
        } else if ((r = cli_flag_value(argc, argv, &i, "--targets", &v))) {
            if (r < 0) return cli_usage_error(c->verb, "--targets needs a list");
            free(c->targets_copy);
            c->options.target_count = split_list(v, &c->targets_copy, c->targets, 64);
            c->options.targets = c->targets;
        } else if ((r = cli_flag_value(argc, argv, &i, "--pooling", &v))) {
            if (r < 0) return cli_usage_error(c->verb, "--pooling needs a name");
            if (strcmp(v, "none") == 0) c->options.pooling = ONYX_POOLING_NONE;
            else if (strcmp(v, "mean") == 0) c->options.pooling = ONYX_POOLING_MEAN;
            else if (strcmp(v, "cls") == 0) c->options.pooling = ONYX_POOLING_CLS;
            else return cli_usage_error(c->verb, "--pooling: none, mean or cls, not '%s'", v);
        } else if (strcmp(argv[i], "--normalize") == 0) {
            c->options.normalize = 1;
        } else if (strcmp(argv[i], "--json") == 0) {
            c->json = 1;
        } else if (strcmp(argv[i], "--full-precision") == 0) {
            c->full_precision = 1;
        } else if (strncmp(argv[i], "--", 2) == 0) {
            return cli_usage_error(c->verb, "unknown flag '%s'", argv[i]);
        } else {
            (*texts)[(*n_texts)++] = argv[i];
        }
    }
    if (!c->model_dir) return cli_usage_error(c->verb, "--model DIR is required");
    return CLI_EXIT_OK;
}

static void print_text(const onyx_pipeline_result *r, size_t index) {
    const onyx_pipeline_output *o = &r->outputs[index];
    if (r->task == ONYX_TASK_FEATURE_EXTRACTION) {
        for (size_t row = 0; row < o->rows; row++)
            for (size_t c = 0; c < o->cols; c++)
                printf("%.6g%c", o->features[row * o->cols + c], c + 1 < o->cols ? ' ' : '\n');
        return;
    }
    for (size_t k = 0; k < o->count; k++) {
        const onyx_pipeline_item *it = &o->items[k];
        if (r->task == ONYX_TASK_SEQUENCE_CLASSIFICATION)
            printf("%s\t%.4f\n", it->label, it->score);
        else if (r->task == ONYX_TASK_TOKEN_CLASSIFICATION)
            printf("%s\t%.4f\t%s\t%lld\t%lld\n", it->label, it->score, it->text, (long long)it->start,
                   (long long)it->end);
        else if (r->task == ONYX_TASK_QUESTION_ANSWERING)
            printf("%.4f\t%lld\t%lld\t%s\n", it->score, (long long)it->start, (long long)it->end, it->text);
        else
            printf("%.4f\t%s\t%s\n", it->score, it->label, it->text);
    }
    if (r->task != ONYX_TASK_SEQUENCE_CLASSIFICATION) printf("\n"); /* a blank line ends each input */
}

static int print_result(const pipe_cli *c, const onyx_pipeline_result *r) {
    for (size_t i = 0; i < r->count; i++) {
        if (!c->json) {
            print_text(r, i);
            continue;
        }
        char *json = NULL;
        onyx_status st = onyx_pipeline_result_json(r, i, !c->full_precision, &json);
        if (st) {
            cli_report_error(c->verb, "rendering JSON", st);
            return CLI_EXIT_FAILED;
        }
        printf("%s\n", json);
        onyx_pipeline_free_text(json);
    }
    return CLI_EXIT_OK;
}

static int run_batches(pipe_cli *c, onyx_pipeline *p, char **inputs, size_t n) {
    char **questions = NULL, **contexts = NULL;
    cJSON **docs = NULL;
    int rc = CLI_EXIT_OK;
    if (c->task == ONYX_TASK_QUESTION_ANSWERING) {
        questions = calloc(n ? n : 1, sizeof *questions);
        contexts = calloc(n ? n : 1, sizeof *contexts);
        docs = calloc(n ? n : 1, sizeof *docs);
        if (!questions || !contexts || !docs) rc = CLI_EXIT_FAILED;
        for (size_t i = 0; i < n && rc == CLI_EXIT_OK; i++) {
            docs[i] = cJSON_Parse(inputs[i]);
            const cJSON *q = cJSON_GetObjectItemCaseSensitive(docs[i], "question");
            const cJSON *ctx = cJSON_GetObjectItemCaseSensitive(docs[i], "context");
            if (!cJSON_IsString(q) || !cJSON_IsString(ctx)) {
                fprintf(stderr, "onyx %s: input %zu is not a JSON object with string \"question\" and \"context\"\n",
                        c->verb, i + 1);
                rc = CLI_EXIT_FAILED;
                break;
            }
            questions[i] = q->valuestring;
            contexts[i] = ctx->valuestring;
        }
    }
    for (size_t at = 0; at < n && rc == CLI_EXIT_OK; at += c->batch_size) {
        size_t count = n - at < c->batch_size ? n - at : c->batch_size;
        onyx_pipeline_result *r = NULL;
        onyx_status st;
        if (c->task == ONYX_TASK_QUESTION_ANSWERING)
            st = onyx_pipeline_answer(p, (const char *const *)questions + at, (const char *const *)contexts + at,
                                      count, &r);
        else
            st = onyx_pipeline_run(p, (const char *const *)inputs + at, NULL, NULL, NULL, count, &r);
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
    for (size_t i = 0; docs && i < n; i++) cJSON_Delete(docs[i]);
    free(docs);
    free(questions);
    free(contexts);
    return rc;
}

static int run_verb(const char *verb, onyx_task task, int argc, char **argv, int first) {
    pipe_cli c;
    memset(&c, 0, sizeof c);
    c.verb = verb;
    c.task = task;
    c.batch_size = 8;
    onyx_pipeline_options_init(&c.options);
    char **texts = NULL, **lines = NULL;
    size_t n_texts = 0, n_lines = 0;
    onyx_pipeline *p = NULL;
    int rc = parse_args(&c, argc, argv, first, &texts, &n_texts);
    if (rc == CLI_EXIT_OK) {
        onyx_status st = onyx_pipeline_create(c.model_dir, task, &c.options, &p);
        if (st) {
            cli_report_error(verb, c.model_dir, st);
            rc = CLI_EXIT_FAILED;
        }
    }
    if (rc == CLI_EXIT_OK && n_texts == 0) {
        FILE *in = stdin;
        if (c.input_path && !(in = fopen(c.input_path, "r"))) {
            fprintf(stderr, "onyx %s: cannot open %s: %s\n", verb, c.input_path, strerror(errno));
            rc = CLI_EXIT_FAILED;
        } else {
            lines = cli_read_lines(in, &n_lines);
            if (!lines) rc = CLI_EXIT_FAILED;
            if (in != stdin) fclose(in);
        }
    }
    if (rc == CLI_EXIT_OK) rc = n_texts ? run_batches(&c, p, texts, n_texts) : run_batches(&c, p, lines, n_lines);
    onyx_pipeline_destroy(p);
    for (size_t i = 0; i < n_lines; i++) free(lines[i]);
    free(lines);
    free(texts);
    free(c.targets_copy);
    free(ignore_copy);
    ignore_copy = NULL;
    return rc;
}

int cli_classify(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        print_help("classify");
        return CLI_EXIT_OK;
    }
    return run_verb("classify", ONYX_TASK_SEQUENCE_CLASSIFICATION, argc, argv, 1);
}

int cli_pipeline(int argc, char **argv) {
    onyx_task task;
    if (argc >= 2 && onyx_pipeline_task_from_name(argv[1], &task, NULL) == ONYX_OK &&
        (task == ONYX_TASK_CAUSAL_LM || task == ONYX_TASK_SEQ2SEQ_LM))
        return cli_text_generation("pipeline", task, argv[1], argc, argv, 2);
    if (cli_wants_help(argc, argv) || argc < 2) {
        print_help("pipeline TASK");
        return argc < 2 && !cli_wants_help(argc, argv) ? CLI_EXIT_USAGE : CLI_EXIT_OK;
    }
    if (onyx_pipeline_task_from_name(argv[1], &task, NULL) != ONYX_OK)
        return cli_usage_error("pipeline", "%s", onyx_last_error());
    return run_verb("pipeline", task, argc, argv, 2);
}
