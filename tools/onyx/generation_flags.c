/*
 * generation_flags.c - parsing of the generation flags every generating verb takes
 * (generation_flags.h): --max-new-tokens, --num-beams, --do-sample, ... each laid over the
 * model's generation config only when given.
 */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "generation_flags.h"

static int parse_float(const char *verb, const char *flag, const char *text, float *out) {
    char *end = NULL;
    errno = 0;
    double v = strtod(text, &end);
    if (end == text || *end || errno || !isfinite(v)) {
        cli_usage_error(verb, "%s wants a number, got '%s'", flag, text);
        return 0;
    }
    *out = (float)v;
    return 1;
}

/* The integer flags: name, minimum, where the value and its has_ go. */
typedef struct int_flag {
    const char *name;
    long long min;
    size_t value, has;
} int_flag;

typedef struct float_flag {
    const char *name;
    size_t value, has;
} float_flag;

#define FIELD(f) offsetof(cli_generation_flags, f)

static const int_flag int_flags[] = {
    {"--max-new-tokens", 0, FIELD(max_new), FIELD(has_max_new)},
    {"--min-new-tokens", 0, FIELD(min_new), FIELD(has_min_new)},
    {"--num-beams", 1, FIELD(beams), FIELD(has_beams)},
    {"--num-return-sequences", 1, FIELD(returns), FIELD(has_returns)},
    {"--seed", 0, FIELD(seed), FIELD(has_seed)},
    {"--top-k", 0, FIELD(top_k), FIELD(has_top_k)},
    {"--no-repeat-ngram-size", 0, FIELD(ngram), FIELD(has_ngram)},
};

static const float_flag float_flags[] = {
    {"--temperature", FIELD(temperature), FIELD(has_temperature)},
    {"--top-p", FIELD(top_p), FIELD(has_top_p)},
    {"--length-penalty", FIELD(length_penalty), FIELD(has_length_penalty)},
    {"--repetition-penalty", FIELD(repetition_penalty), FIELD(has_repetition_penalty)},
};

int cli_generation_flag(const char *verb, int argc, char **argv, int *i, cli_generation_flags *f) {
    char *base = (char *)f;
    const char *v = NULL;
    if (strcmp(argv[*i], "--do-sample") == 0) return f->do_sample = 1;
    if (strcmp(argv[*i], "--early-stopping") == 0) return f->early_stopping = 1;
    for (size_t k = 0; k < sizeof int_flags / sizeof int_flags[0]; k++) {
        int got = cli_flag_value(argc, argv, i, int_flags[k].name, &v);
        if (got == 0) continue;
        if (got < 0) return cli_usage_error(verb, "%s needs a value", int_flags[k].name), -1;
        if (!cli_parse_int(verb, int_flags[k].name, v, int_flags[k].min, (long long *)(base + int_flags[k].value))) return -1;
        *(int *)(base + int_flags[k].has) = 1;
        return 1;
    }
    for (size_t k = 0; k < sizeof float_flags / sizeof float_flags[0]; k++) {
        int got = cli_flag_value(argc, argv, i, float_flags[k].name, &v);
        if (got == 0) continue;
        if (got < 0) return cli_usage_error(verb, "%s needs a value", float_flags[k].name), -1;
        if (!parse_float(verb, float_flags[k].name, v, (float *)(base + float_flags[k].value))) return -1;
        *(int *)(base + float_flags[k].has) = 1;
        return 1;
    }
    return 0;
}

void cli_generation_apply(const cli_generation_flags *f, onyx_generation_config *g) {
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

void cli_generation_help(FILE *to) {
    fprintf(to, "generation (defaults: the folder's generation_config.json and config.json):\n"
                "  --max-new-tokens N     tokens to generate at most\n"
                "  --min-new-tokens N     eos is suppressed before N new tokens\n"
                "  --num-beams K          beam search with K beams (1: greedy or sampling)\n"
                "  --num-return-sequences N  sequences per input (<= K for beam search)\n"
                "  --length-penalty X     beam scores are divided by length^X\n"
                "  --early-stopping       beam search stops when K hypotheses are done\n"
                "  --do-sample            sample (with --seed S, --temperature T, --top-k K, --top-p P)\n"
                "  --repetition-penalty X penalize tokens already in the sequence\n"
                "  --no-repeat-ngram-size N  never repeat an n-gram of this size\n");
}
