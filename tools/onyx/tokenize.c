/*
 * tokenize.c - the `onyx tokenize` and `onyx detokenize` verbs.
 *
 * tokenize reads one JSON string per input line (a JSON array of two strings with --pair),
 * encodes it with a tokenizer.json / SentencePiece model, and writes one JSON object per line:
 * {"ids": [...], "tokens": [...], "offsets": [[start, end], ...] (code points, as HF's Python
 * API returns them), "decoded": "..." (decode with skip_special_tokens)}. With --padding the
 * whole input is encoded as one batch. detokenize reads one JSON array of ids per line and
 * writes the decoded text as a JSON string.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "onyx/tokenizer.h"

typedef struct line_list {
    char **lines;
    size_t count, cap;
} line_list;

static int read_lines(FILE *in, line_list *out) {
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, in)) >= 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
        if (n == 0) continue;
        if (out->count == out->cap) {
            size_t ncap = out->cap ? out->cap * 2 : 64;
            char **grown = realloc(out->lines, ncap * sizeof *grown);
            if (!grown) return 0;
            out->lines = grown;
            out->cap = ncap;
        }
        out->lines[out->count++] = strdup(line);
    }
    free(line);
    return 1;
}

static void free_lines(line_list *l) {
    for (size_t i = 0; i < l->count; i++) free(l->lines[i]);
    free(l->lines);
}

static void tokenize_help(void) {
    printf("usage: onyx tokenize --tokenizer PATH [--pair] [--no-special-tokens]\n"
           "                     [--max-length N --truncation longest_first|only_first|only_second\n"
           "                      --stride N] [--padding longest|max_length] [--pad-to-multiple-of N]\n\n"
           "Reads one JSON string per line from stdin (with --pair: a JSON array of two strings) and\n"
           "writes one JSON object per line: ids, tokens, offsets (code points), decoded.\n"
           "PATH is a tokenizer.json, a SentencePiece .model, or a folder holding one.\n");
}

static int parse_size(const char *verb, const char *flag, const char *text, size_t *out) {
    char *end;
    long long v = strtoll(text, &end, 10);
    if (*text == 0 || *end != 0 || v < 0) {
        cli_usage_error(verb, "%s wants a non-negative integer, got '%s'", flag, text);
        return 0;
    }
    *out = (size_t)v;
    return 1;
}

/* A JSON object line for one encoding. */
static int print_encoding(const onyx_tokenizer *tok, const onyx_encoding *e, const char *text,
                          size_t text_len, const char *pair, size_t pair_len) {
    cJSON *o = cJSON_CreateObject();
    cJSON *ids = cJSON_AddArrayToObject(o, "ids");
    cJSON *tokens = cJSON_AddArrayToObject(o, "tokens");
    cJSON *offsets = cJSON_AddArrayToObject(o, "offsets");
    int64_t *chars = calloc(2 * e->length + 1, sizeof *chars);
    if (!chars || onyx_encoding_char_offsets(e, text, text_len, pair, pair_len, chars) != ONYX_OK) {
        free(chars);
        cJSON_Delete(o);
        cli_report_error("tokenize", "offsets", ONYX_ERR_INVALID_ARGUMENT);
        return 0;
    }
    for (size_t k = 0; k < e->length; k++) {
        cJSON_AddItemToArray(ids, cJSON_CreateNumber((double)e->ids[k]));
        cJSON_AddItemToArray(tokens, cJSON_CreateString(e->tokens[k]));
        cJSON *span = cJSON_CreateArray();
        cJSON_AddItemToArray(span, cJSON_CreateNumber((double)chars[2 * k]));
        cJSON_AddItemToArray(span, cJSON_CreateNumber((double)chars[2 * k + 1]));
        cJSON_AddItemToArray(offsets, span);
    }
    free(chars);
    char *decoded = NULL;
    size_t decoded_len = 0;
    onyx_status st = onyx_tokenizer_decode(tok, e->ids, e->length, 1, 0, &decoded, &decoded_len);
    if (st) {
        cJSON_Delete(o);
        cli_report_error("tokenize", "decode", st);
        return 0;
    }
    cJSON_AddStringToObject(o, "decoded", decoded);
    onyx_tokenizer_free_text(decoded);
    char *s = cJSON_PrintUnformatted(o);
    puts(s);
    free(s);
    cJSON_Delete(o);
    return 1;
}

int cli_tokenize(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        tokenize_help();
        return CLI_EXIT_OK;
    }
    const char *path = NULL;
    int pair_mode = 0;
    onyx_encode_options opt;
    onyx_encode_options_init(&opt);
    for (int i = 1; i < argc; i++) {
        const char *v;
        int r;
        if ((r = cli_flag_value(argc, argv, &i, "--tokenizer", &v))) {
            if (r < 0) return cli_usage_error("tokenize", "--tokenizer needs a PATH");
            path = v;
        } else if (strcmp(argv[i], "--pair") == 0) {
            pair_mode = 1;
        } else if (strcmp(argv[i], "--no-special-tokens") == 0) {
            opt.add_special_tokens = 0;
        } else if ((r = cli_flag_value(argc, argv, &i, "--max-length", &v))) {
            if (r < 0 || !parse_size("tokenize", "--max-length", v, &opt.max_length)) return CLI_EXIT_USAGE;
            opt.padding_length = opt.max_length;
            if (opt.truncation == ONYX_TRUNCATE_NONE) opt.truncation = ONYX_TRUNCATE_LONGEST_FIRST;
        } else if ((r = cli_flag_value(argc, argv, &i, "--stride", &v))) {
            if (r < 0 || !parse_size("tokenize", "--stride", v, &opt.stride)) return CLI_EXIT_USAGE;
        } else if ((r = cli_flag_value(argc, argv, &i, "--pad-to-multiple-of", &v))) {
            if (r < 0 || !parse_size("tokenize", "--pad-to-multiple-of", v, &opt.pad_to_multiple_of))
                return CLI_EXIT_USAGE;
        } else if ((r = cli_flag_value(argc, argv, &i, "--truncation", &v))) {
            if (r < 0) return cli_usage_error("tokenize", "--truncation needs a STRATEGY");
            if (strcmp(v, "longest_first") == 0) opt.truncation = ONYX_TRUNCATE_LONGEST_FIRST;
            else if (strcmp(v, "only_first") == 0) opt.truncation = ONYX_TRUNCATE_ONLY_FIRST;
            else if (strcmp(v, "only_second") == 0) opt.truncation = ONYX_TRUNCATE_ONLY_SECOND;
            else if (strcmp(v, "none") == 0 || strcmp(v, "do_not_truncate") == 0) opt.truncation = ONYX_TRUNCATE_NONE;
            else
                return cli_usage_error("tokenize",
                                       "--truncation is longest_first, only_first, only_second or none, got '%s'", v);
        } else if ((r = cli_flag_value(argc, argv, &i, "--padding", &v))) {
            if (r < 0) return cli_usage_error("tokenize", "--padding needs longest or max_length");
            if (strcmp(v, "longest") == 0) opt.padding = ONYX_PAD_LONGEST;
            else if (strcmp(v, "max_length") == 0) opt.padding = ONYX_PAD_MAX_LENGTH;
            else return cli_usage_error("tokenize", "--padding is longest or max_length, got '%s'", v);
        } else {
            return cli_usage_error("tokenize", "unknown argument '%s'", argv[i]);
        }
    }
    if (!path) return cli_usage_error("tokenize", "--tokenizer PATH is required");
    if (opt.padding == ONYX_PAD_MAX_LENGTH && opt.max_length == 0)
        return cli_usage_error("tokenize", "--padding max_length needs --max-length N");
    if (opt.truncation != ONYX_TRUNCATE_NONE && opt.max_length == 0)
        return cli_usage_error("tokenize", "--truncation needs --max-length N");
    opt.return_overflowing = 0;

    onyx_tokenizer *tok = NULL;
    onyx_status st = onyx_tokenizer_load(path, &tok);
    if (st) {
        cli_report_error("tokenize", path, st);
        return CLI_EXIT_FAILED;
    }
    line_list lines = {0};
    if (!read_lines(stdin, &lines)) {
        onyx_tokenizer_destroy(tok);
        fprintf(stderr, "onyx tokenize: out of memory reading stdin\n");
        return CLI_EXIT_FAILED;
    }
    size_t n = lines.count;
    cJSON **parsed = calloc(n + 1, sizeof *parsed);
    const char **texts = calloc(n + 1, sizeof *texts), **pairs = calloc(n + 1, sizeof *pairs);
    size_t *lens = calloc(n + 1, sizeof *lens), *pair_lens = calloc(n + 1, sizeof *pair_lens);
    int rc = CLI_EXIT_OK;
    for (size_t i = 0; i < n && rc == CLI_EXIT_OK; i++) {
        parsed[i] = cJSON_Parse(lines.lines[i]);
        const cJSON *a = parsed[i], *b = NULL;
        if (pair_mode) {
            if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != 2) a = NULL;
            else {
                b = cJSON_GetArrayItem(a, 1);
                a = cJSON_GetArrayItem(a, 0);
            }
        }
        if (!cJSON_IsString(a) || (pair_mode && !cJSON_IsString(b))) {
            fprintf(stderr, "onyx tokenize: input line %zu is not %s\n", i + 1,
                    pair_mode ? "a JSON array of two strings" : "a JSON string");
            rc = CLI_EXIT_FAILED;
            break;
        }
        texts[i] = a->valuestring;
        lens[i] = strlen(a->valuestring);
        if (b) {
            pairs[i] = b->valuestring;
            pair_lens[i] = strlen(b->valuestring);
        }
    }
    if (rc == CLI_EXIT_OK && n > 0) {
        onyx_encoding *encs = NULL;
        st = onyx_tokenizer_encode_batch(tok, texts, lens, pair_mode ? pairs : NULL,
                                         pair_mode ? pair_lens : NULL, n, &opt, &encs);
        if (st) {
            cli_report_error("tokenize", "encode", st);
            rc = CLI_EXIT_FAILED;
        } else {
            for (size_t i = 0; i < n && rc == CLI_EXIT_OK; i++)
                if (!print_encoding(tok, &encs[i], texts[i], lens[i], pairs[i], pair_lens[i]))
                    rc = CLI_EXIT_FAILED;
            onyx_encoding_batch_destroy(encs, n);
        }
    }
    for (size_t i = 0; i < n; i++) cJSON_Delete(parsed[i]);
    free(parsed), free(texts), free(pairs), free(lens), free(pair_lens);
    free_lines(&lines);
    onyx_tokenizer_destroy(tok);
    return rc;
}

int cli_detokenize(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        printf("usage: onyx detokenize --tokenizer PATH [--keep-special-tokens]\n\n"
               "Reads one JSON array of ids per line from stdin and writes the decoded text as a\n"
               "JSON string per line (special tokens skipped unless --keep-special-tokens).\n");
        return CLI_EXIT_OK;
    }
    const char *path = NULL;
    int skip_special = 1;
    for (int i = 1; i < argc; i++) {
        const char *v;
        int r;
        if ((r = cli_flag_value(argc, argv, &i, "--tokenizer", &v))) {
            if (r < 0) return cli_usage_error("detokenize", "--tokenizer needs a PATH");
            path = v;
        } else if (strcmp(argv[i], "--keep-special-tokens") == 0) {
            skip_special = 0;
        } else {
            return cli_usage_error("detokenize", "unknown argument '%s'", argv[i]);
        }
    }
    if (!path) return cli_usage_error("detokenize", "--tokenizer PATH is required");
    onyx_tokenizer *tok = NULL;
    onyx_status st = onyx_tokenizer_load(path, &tok);
    if (st) {
        cli_report_error("detokenize", path, st);
        return CLI_EXIT_FAILED;
    }
    line_list lines = {0};
    int rc = read_lines(stdin, &lines) ? CLI_EXIT_OK : CLI_EXIT_FAILED;
    for (size_t i = 0; i < lines.count && rc == CLI_EXIT_OK; i++) {
        cJSON *arr = cJSON_Parse(lines.lines[i]);
        size_t n = cJSON_IsArray(arr) ? (size_t)cJSON_GetArraySize(arr) : 0;
        int64_t *ids = calloc(n + 1, sizeof *ids);
        size_t k = 0;
        const cJSON *x;
        cJSON_ArrayForEach(x, arr) {
            if (!cJSON_IsNumber(x)) break;
            ids[k++] = (int64_t)x->valuedouble;
        }
        if (!cJSON_IsArray(arr) || k != n) {
            fprintf(stderr, "onyx detokenize: input line %zu is not a JSON array of ids\n", i + 1);
            rc = CLI_EXIT_FAILED;
        } else {
            char *text = NULL;
            size_t len = 0;
            st = onyx_tokenizer_decode(tok, ids, n, skip_special, 0, &text, &len);
            if (st) {
                cli_report_error("detokenize", "decode", st);
                rc = CLI_EXIT_FAILED;
            } else {
                cJSON *s = cJSON_CreateString(text);
                char *out = cJSON_PrintUnformatted(s);
                puts(out);
                free(out);
                cJSON_Delete(s);
                onyx_tokenizer_free_text(text);
            }
        }
        free(ids);
        cJSON_Delete(arr);
    }
    free_lines(&lines);
    onyx_tokenizer_destroy(tok);
    return rc;
}
