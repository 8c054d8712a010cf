/*
 * generation_flags.h - the generation flags of `onyx generate`, `onyx translate` and
 * `onyx pipeline text-generation|text2text-generation|summarization|translation`: one parser, so
 * every verb takes the same flags with the same checks (generation_flags.c).
 */
#ifndef ONYX_TOOLS_GENERATION_FLAGS_H
#define ONYX_TOOLS_GENERATION_FLAGS_H

#include <stdio.h>

#include "onyx/model.h"

/* The settings given on the command line; has_* says which. */
typedef struct cli_generation_flags {
    long long max_new, min_new, beams, returns, seed, top_k, ngram;
    float temperature, top_p, length_penalty, repetition_penalty;
    int has_max_new, has_min_new, has_beams, has_returns, has_seed, has_top_k, has_ngram, has_temperature,
        has_top_p, has_length_penalty, has_repetition_penalty, do_sample, early_stopping;
} cli_generation_flags;

/* Whether argv[*i] is a generation flag: 1 when it is (its value taken, *i advanced past it), 0
 * when it is another argument, -1 when its value is missing or bad (a usage error for verb has
 * been printed). */
int cli_generation_flag(const char *verb, int argc, char **argv, int *i, cli_generation_flags *flags);

/* Lay the given flags over config. */
void cli_generation_apply(const cli_generation_flags *flags, onyx_generation_config *config);

/* The flags' lines of a verb's --help. */
void cli_generation_help(FILE *to);

#endif
