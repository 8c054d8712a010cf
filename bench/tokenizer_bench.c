/*
 * tokenizer_bench.c - tokens per second of onyx's tokenizers over the parity corpus
 * (tests/data/tokenizers/corpus.jsonl), single-threaded (one encode call per string) and
 * batched (onyx_tokenizer_encode_batch over the whole corpus), printed beside the Hugging Face
 * `tokenizers` / `sentencepiece` numbers that tools/fixtures/tokenizers/make_fixtures.py measured
 * (tests/data/tokenizers/meta.json: machine and date are in that file; compare only numbers
 * taken on the same machine).
 * Usage: tokenizer_bench [DATA_DIR [NAME...]]   (default: the source tree's tests/data/tokenizers;
 * NAMEs pick tokenizers from the table, all when none). The batch column uses OpenMP's thread
 * count (OMP_NUM_THREADS, else one per core).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "onyx/tokenizer.h"
#include "text/tokenizer_internal.h"

#ifndef ONYX_SOURCE_DIR
#define ONYX_SOURCE_DIR "."
#endif

static char *read_all(const char *path, size_t *size) {
    size_t n = strlen(path);
    int gz = n > 3 && strcmp(path + n - 3, ".gz") == 0;
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "gzip -dc '%s'", path);
    FILE *f = gz ? popen(cmd, "r") : fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 20, len = 0, got;
    char *buf = malloc(cap);
    while ((got = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += got;
        if (cap - len < 65536) buf = realloc(buf, cap *= 2);
    }
    int rc = gz ? pclose(f) : fclose(f);
    buf[len] = 0;
    if (rc != 0 || len == 0) {
        free(buf);
        return NULL;
    }
    *size = len;
    return buf;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct bench_case {
    const char *name, *file, *hf_key, *spm_key;
} bench_case;

static const bench_case CASES[] = {
    {"gpt2", "gpt2/tokenizer.json.gz", "gpt2", NULL},
    {"bert_uncased", "bert_uncased/tokenizer.json.gz", "bert_uncased", NULL},
    {"wordpiece_trained", "wordpiece_trained/tokenizer.json.gz", "wordpiece_trained", NULL},
    {"unigram_trained", "unigram_trained/tokenizer.json.gz", "unigram_trained", NULL},
    {"bpe_trained", "bpe_trained/tokenizer.json.gz", "bpe_trained", NULL},
    {"t5_spiece", "t5_spiece/spiece.model", "t5_spiece", "t5_spiece (sentencepiece)"},
    {"spm_unigram", "spm_unigram/unigram.model", NULL, "spm_unigram (sentencepiece)"},
    {"m2m100_spm", "m2m100_spm/sentencepiece.bpe.model", NULL, "m2m100_spm (sentencepiece)"},
};

static double meta_number(const cJSON *bench, const char *key, const char *field) {
    if (!key) return 0;
    const cJSON *v = cJSON_GetObjectItem(cJSON_GetObjectItem(bench, key), field);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : ONYX_SOURCE_DIR "/tests/data/tokenizers";
    char path[4096];
    size_t size;
    snprintf(path, sizeof path, "%s/corpus.jsonl", dir);
    char *corpus_text = read_all(path, &size);
    if (!corpus_text) {
        fprintf(stderr, "tokenizer_bench: cannot read %s\n", path);
        return 1;
    }
    size_t n = 0, cap = 8192;
    const char **texts = malloc(cap * sizeof *texts);
    size_t *lens = malloc(cap * sizeof *lens);
    cJSON **keep = malloc(cap * sizeof *keep);
    for (char *p = strtok(corpus_text, "\n"); p; p = strtok(NULL, "\n")) {
        if (n == cap) {
            cap *= 2;
            texts = realloc(texts, cap * sizeof *texts);
            lens = realloc(lens, cap * sizeof *lens);
            keep = realloc(keep, cap * sizeof *keep);
        }
        keep[n] = cJSON_Parse(p);
        texts[n] = cJSON_GetStringValue(keep[n]);
        if (!texts[n]) texts[n] = "";
        lens[n] = strlen(texts[n]);
        n++;
    }
    snprintf(path, sizeof path, "%s/meta.json", dir);
    char *meta_text = read_all(path, &size);
    cJSON *meta = meta_text ? cJSON_Parse(meta_text) : NULL;
    const cJSON *hf = cJSON_GetObjectItem(meta, "bench");
    const char *date = cJSON_GetStringValue(cJSON_GetObjectItem(meta, "bench_date"));
    if (!date) date = cJSON_GetStringValue(cJSON_GetObjectItem(meta, "date"));
    const char *cpu = cJSON_GetStringValue(cJSON_GetObjectItem(meta, "cpu_model"));
    const char *hf_version = cJSON_GetStringValue(cJSON_GetObjectItem(meta, "tokenizers"));
    const cJSON *ncpu = cJSON_GetObjectItem(meta, "ncpu");
    printf("corpus: %zu strings; HF numbers from %s on %s (%d CPUs), tokenizers %s\n", n,
           date ? date : "?", cpu ? cpu : "?", cJSON_IsNumber(ncpu) ? ncpu->valueint : 0,
           hf_version ? hf_version : "?");
    printf("%-18s %9s | %14s %14s %14s | %14s %14s %14s\n", "tokenizer", "tokens", "onyx 1 thread",
           "HF 1 thread", "spm 1 thread", "onyx batch", "HF batch", "spm batch");
    int failed = 0;
    onyx_encode_options opt;
    onyx_encode_options_init(&opt);
    opt.add_special_tokens = 0;
    for (size_t c = 0; c < sizeof CASES / sizeof CASES[0]; c++) {
        const bench_case *bc = &CASES[c];
        int picked = argc <= 2;
        for (int a = 2; a < argc; a++) picked |= strcmp(argv[a], bc->name) == 0;
        if (!picked) continue;
        snprintf(path, sizeof path, "%s/%s", dir, bc->file);
        onyx_tokenizer *tok = NULL;
        onyx_status st;
        size_t plen = strlen(path);
        if (plen > 3 && strcmp(path + plen - 3, ".gz") == 0) {
            char *json = read_all(path, &size);
            st = json ? onyx_tokenizer_load_json(json, size, &tok) : ONYX_ERR_IO;
            free(json);
        } else {
            /* .model straight to the SentencePiece loader: the engine's weak reference to it is
             * not resolved in a static link. */
            st = onyx_sentencepiece_load(path, NULL, &tok);
        }
        if (st) {
            fprintf(stderr, "%s: cannot load %s: %s\n", bc->name, path, onyx_last_error());
            failed = 1;
            continue;
        }
        size_t tokens = 0;
        int rounds = 0;
        double t0 = now(), t1;
        do {
            tokens = 0;
            for (size_t i = 0; i < n; i++) {
                onyx_encoding *e = NULL;
                if (onyx_tokenizer_encode(tok, texts[i], lens[i], NULL, 0, &opt, &e) == ONYX_OK) tokens += e->length;
                onyx_encoding_destroy(e);
            }
            rounds++;
            t1 = now();
        } while (t1 - t0 < 1.0);
        double single = (double)tokens * rounds / (t1 - t0);
        rounds = 0;
        t0 = now();
        do {
            onyx_encoding *encs = NULL;
            if (onyx_tokenizer_encode_batch(tok, texts, lens, NULL, NULL, n, &opt, &encs) == ONYX_OK)
                onyx_encoding_batch_destroy(encs, n);
            rounds++;
            t1 = now();
        } while (t1 - t0 < 1.0);
        double batch = (double)tokens * rounds / (t1 - t0);
        printf("%-18s %9zu | %14.0f %14.0f %14.0f | %14.0f %14.0f %14.0f\n", bc->name, tokens, single,
               meta_number(hf, bc->hf_key, "single_tok_per_s"), meta_number(hf, bc->spm_key, "single_tok_per_s"),
               batch, meta_number(hf, bc->hf_key, "batch_tok_per_s"), meta_number(hf, bc->spm_key, "batch_tok_per_s"));
        fflush(stdout);
        onyx_tokenizer_destroy(tok);
    }
    printf("(tokens per second; 0 = not measured. HF batch = encode_batch with its rayon pool,\n"
           " spm batch = encode(list, num_threads=16), onyx batch = onyx_tokenizer_encode_batch)\n");
    for (size_t i = 0; i < n; i++) cJSON_Delete(keep[i]);
    free(keep), free(texts), free(lens), free(corpus_text), free(meta_text);
    cJSON_Delete(meta);
    return failed;
}
