/*
 * sentencepiece.c - SentencePiece .model files (ModelProto) loaded into the tokenizer engine.
 *
 * A .model file is read with the protobuf wire reader (src/onnx/wire.h) and converted into a
 * tokenizer.json-shaped cJSON document, as Hugging Face's convert_slow_tokenizer does, then built
 * by onyx_tokenizer_from_cjson. Three layouts are recognised:
 *  - T5 (a file named spiece.model): Unigram over the pieces plus <extra_id_99> .. <extra_id_0>
 *    (score 0) as special added tokens, "$A </s>" template, as transformers 5's T5Tokenizer.
 *  - M2M100 (a BPE model with vocab.json beside it): the pieces are mapped to ids through
 *    vocab.json; the 100 language tokens __xx__ follow the vocabulary, then <madeupword0..7>
 *    (in the model's vocabulary, not added tokens, as transformers 5 has them); the template is
 *    "__en__ $A </s>" (M2M100Tokenizer's default source language).
 *  - any other model: the SentencePiece library's own behaviour (no added bos/eos).
 * Unigram and BPE model types are supported, with trainer_spec.byte_fallback and the
 * normalizer_spec fields precompiled_charsmap, add_dummy_prefix, remove_extra_whitespaces and
 * escape_whitespaces. BPE merges are derived from the pieces as HF's SentencePieceExtractor does:
 * every split of a piece into two pieces, ordered by the merged piece's score.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "onnx/wire.h"
#include "text/sentencepiece.h"
#include "text/text_util.h"
#include "text/tokenizer_internal.h"

enum {
    SP_NORMAL = 1,
    SP_UNKNOWN = 2,
    SP_CONTROL = 3,
    SP_USER_DEFINED = 4,
    SP_UNUSED = 5,
    SP_BYTE = 6
};
enum { SP_UNIGRAM = 1, SP_BPE = 2 };

typedef struct sp_piece {
    const char *text; /* points into the file bytes, len bytes, not NUL-terminated */
    size_t len;
    float score;
    int type;
} sp_piece;

typedef struct sp_model {
    sp_piece *pieces;
    size_t count;
    int model_type;
    int byte_fallback;
    int64_t unk_id;
    const uint8_t *charsmap;
    size_t charsmap_len;
    int add_dummy_prefix, remove_extra_whitespaces, escape_whitespaces;
} sp_model;

/* The 100 language codes of M2M100 (transformers' FAIRSEQ_LANGUAGE_CODES["m2m100"]). */
static const char *const M2M100_LANGS[100] = {
    "af", "am", "ar", "ast", "az", "ba", "be", "bg", "bn", "br", "bs", "ca", "ceb", "cs", "cy",
    "da", "de", "el", "en", "es", "et", "fa", "ff", "fi", "fr", "fy", "ga", "gd", "gl", "gu",
    "ha", "he", "hi", "hr", "ht", "hu", "hy", "id", "ig", "ilo", "is", "it", "ja", "jv", "ka",
    "kk", "km", "kn", "ko", "lb", "lg", "ln", "lo", "lt", "lv", "mg", "mk", "ml", "mn", "mr",
    "ms", "my", "ne", "nl", "no", "ns", "oc", "or", "pa", "pl", "ps", "pt", "ro", "ru", "sd",
    "si", "sk", "sl", "so", "sq", "sr", "ss", "su", "sv", "sw", "ta", "th", "tl", "tn", "tr",
    "uk", "ur", "uz", "vi", "wo", "xh", "yi", "yo", "zh", "zu"};

static onyx_status read_whole_file(const char *path, uint8_t **data, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return onyx_error(ONYX_ERR_IO, "cannot open SentencePiece model '%s'", path);
    if (fseek(f, 0, SEEK_END) != 0) {
        fclose(f);
        return onyx_error(ONYX_ERR_IO, "cannot seek in '%s'", path);
    }
    long n = ftell(f);
    rewind(f);
    if (n < 0) {
        fclose(f);
        return onyx_error(ONYX_ERR_IO, "cannot size '%s'", path);
    }
    uint8_t *buf = onyx_malloc((size_t)n + 1);
    if (!buf) {
        fclose(f);
        return onyx_error(ONYX_ERR_OUT_OF_MEMORY, "no memory for %ld bytes of '%s'", n, path);
    }
    size_t got = fread(buf, 1, (size_t)n, f);
    fclose(f);
    if (got != (size_t)n) {
        onyx_free(buf);
        return onyx_error(ONYX_ERR_IO, "read %zu of %ld bytes of '%s'", got, n, path);
    }
    buf[n] = 0;
    *data = buf;
    *size = (size_t)n;
    return ONYX_OK;
}

static onyx_status parse_piece(onyx_wire *w, const onyx_wire_field *f, sp_piece *p) {
    onyx_wire sub = onyx_wire_sub(w, f);
    p->text = "";
    p->len = 0;
    p->score = 0.0f;
    p->type = SP_NORMAL;
    while (!onyx_wire_done(&sub)) {
        onyx_wire_field g;
        onyx_status st = onyx_wire_next(&sub, &g);
        if (st) return st;
        if (g.number == 1) {
            if ((st = onyx_wire_expect(&g, ONYX_WIRE_LEN, "SentencePiece.piece"))) return st;
            p->text = (const char *)g.data;
            p->len = g.size;
        } else if (g.number == 2) {
            if ((st = onyx_wire_expect(&g, ONYX_WIRE_FIXED32, "SentencePiece.score"))) return st;
            uint32_t bits = (uint32_t)g.value;
            memcpy(&p->score, &bits, sizeof bits);
        } else if (g.number == 3) {
            if ((st = onyx_wire_expect(&g, ONYX_WIRE_VARINT, "SentencePiece.type"))) return st;
            p->type = (int)g.value;
        }
    }
    if (tk_utf8_invalid_at(p->text, p->len) != p->len)
        return onyx_error(ONYX_ERR_INVALID_MODEL, "SentencePiece piece at byte %zu is not UTF-8",
                          f->offset);
    return ONYX_OK;
}

static onyx_status parse_model(const uint8_t *data, size_t size, sp_model *m) {
    memset(m, 0, sizeof *m);
    m->model_type = SP_UNIGRAM;
    m->add_dummy_prefix = m->remove_extra_whitespaces = m->escape_whitespaces = 1;
    m->unk_id = 0;
    onyx_wire w;
    onyx_wire_init(&w, data, size);
    size_t count = 0;
    onyx_wire scan = w;
    while (!onyx_wire_done(&scan)) {
        onyx_wire_field f;
        onyx_status st = onyx_wire_next(&scan, &f);
        if (st) return st;
        if (f.number == 1) count++;
    }
    if (count == 0) return onyx_error(ONYX_ERR_INVALID_MODEL, "SentencePiece model has no pieces");
    m->pieces = onyx_calloc(count, sizeof *m->pieces);
    if (!m->pieces) return onyx_error(ONYX_ERR_OUT_OF_MEMORY, "no memory for %zu pieces", count);
    while (!onyx_wire_done(&w)) {
        onyx_wire_field f;
        onyx_status st = onyx_wire_next(&w, &f);
        if (st) return st;
        if (f.number == 1) {
            if ((st = onyx_wire_expect(&f, ONYX_WIRE_LEN, "ModelProto.pieces"))) return st;
            if ((st = parse_piece(&w, &f, &m->pieces[m->count++]))) return st;
        } else if (f.number == 2 || f.number == 3) {
            if ((st = onyx_wire_expect(&f, ONYX_WIRE_LEN,
                                       f.number == 2 ? "ModelProto.trainer_spec"
                                                     : "ModelProto.normalizer_spec")))
                return st;
            onyx_wire sub = onyx_wire_sub(&w, &f);
            while (!onyx_wire_done(&sub)) {
                onyx_wire_field g;
                if ((st = onyx_wire_next(&sub, &g))) return st;
                if (f.number == 2) {
                    if (g.number == 3 && g.wire_type == ONYX_WIRE_VARINT) m->model_type = (int)g.value;
                    if (g.number == 35 && g.wire_type == ONYX_WIRE_VARINT) m->byte_fallback = g.value != 0;
                    if (g.number == 40 && g.wire_type == ONYX_WIRE_VARINT) m->unk_id = (int32_t)g.value;
                } else {
                    if (g.number == 2 && g.wire_type == ONYX_WIRE_LEN) {
                        m->charsmap = g.data;
                        m->charsmap_len = g.size;
                    }
                    if (g.number == 3 && g.wire_type == ONYX_WIRE_VARINT) m->add_dummy_prefix = g.value != 0;
                    if (g.number == 4 && g.wire_type == ONYX_WIRE_VARINT)
                        m->remove_extra_whitespaces = g.value != 0;
                    if (g.number == 5 && g.wire_type == ONYX_WIRE_VARINT) m->escape_whitespaces = g.value != 0;
                }
            }
        }
    }
    if (m->model_type != SP_UNIGRAM && m->model_type != SP_BPE)
        return onyx_error(ONYX_ERR_NOT_IMPLEMENTED,
                          "SentencePiece model_type %d (WORD or CHAR) is not supported; "
                          "UNIGRAM (1) and BPE (2) are",
                          m->model_type);
    if (m->unk_id < 0 || (size_t)m->unk_id >= m->count)
        return onyx_error(ONYX_ERR_INVALID_MODEL, "SentencePiece unk_id %lld is outside the %zu pieces",
                          (long long)m->unk_id, m->count);
    return ONYX_OK;
}

static char *base64(const uint8_t *data, size_t n) {
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *out = onyx_malloc((n + 2) / 3 * 4 + 1);
    if (!out) return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)data[i] << 16;
        if (i + 1 < n) v |= (uint32_t)data[i + 1] << 8;
        if (i + 2 < n) v |= data[i + 2];
        out[o++] = tbl[(v >> 18) & 63];
        out[o++] = tbl[(v >> 12) & 63];
        out[o++] = i + 1 < n ? tbl[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? tbl[v & 63] : '=';
    }
    out[o] = 0;
    return out;
}

/* A NUL-terminated copy of a piece (cJSON needs C strings). */
static char *piece_str(const sp_piece *p) {
    char *s = onyx_malloc(p->len + 1);
    if (s) {
        memcpy(s, p->text, p->len);
        s[p->len] = 0;
    }
    return s;
}

static cJSON *added_token(int64_t id, const char *content, int special) {
    cJSON *t = cJSON_CreateObject();
    if (!t) return NULL;
    cJSON_AddNumberToObject(t, "id", (double)id);
    cJSON_AddStringToObject(t, "content", content);
    cJSON_AddBoolToObject(t, "single_word", 0);
    cJSON_AddBoolToObject(t, "lstrip", 0);
    cJSON_AddBoolToObject(t, "rstrip", 0);
    cJSON_AddBoolToObject(t, "normalized", 0);
    cJSON_AddBoolToObject(t, "special", special);
    return t;
}

static cJSON *metaspace(const char *type, int add_dummy_prefix) {
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "type", type);
    cJSON_AddStringToObject(m, "replacement", "\xe2\x96\x81");
    cJSON_AddStringToObject(m, "prepend_scheme", add_dummy_prefix ? "always" : "never");
    cJSON_AddBoolToObject(m, "split", 1);
    return m;
}

static cJSON *typed(const char *type) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", type);
    return o;
}

/* TemplateProcessing with an optional prefix token and a suffix token (type id 0). */
static cJSON *template_processing(const char *prefix, int64_t prefix_id, const char *suffix,
                                  int64_t suffix_id, int suffix_between_pair) {
    cJSON *pp = typed("TemplateProcessing");
    const char *names[2] = {"single", "pair"};
    for (int k = 0; k < 2; k++) {
        cJSON *arr = cJSON_AddArrayToObject(pp, names[k]);
        int seqs = k + 1;
        for (int s = 0; s < seqs; s++) {
            if (prefix && s == 0) {
                cJSON *e = cJSON_CreateObject(), *sp = cJSON_AddObjectToObject(e, "SpecialToken");
                cJSON_AddStringToObject(sp, "id", prefix);
                cJSON_AddNumberToObject(sp, "type_id", 0);
                cJSON_AddItemToArray(arr, e);
            }
            cJSON *e = cJSON_CreateObject(), *sq = cJSON_AddObjectToObject(e, "Sequence");
            cJSON_AddStringToObject(sq, "id", s == 0 ? "A" : "B");
            cJSON_AddNumberToObject(sq, "type_id", 0);
            cJSON_AddItemToArray(arr, e);
            if (s == seqs - 1 || suffix_between_pair) {
                cJSON *x = cJSON_CreateObject(), *sp = cJSON_AddObjectToObject(x, "SpecialToken");
                cJSON_AddStringToObject(sp, "id", suffix);
                cJSON_AddNumberToObject(sp, "type_id", 0);
                cJSON_AddItemToArray(arr, x);
            }
        }
    }
    cJSON *st = cJSON_AddObjectToObject(pp, "special_tokens");
    const char *toks[2] = {prefix, suffix};
    int64_t ids[2] = {prefix_id, suffix_id};
    for (int k = 0; k < 2; k++) {
        if (!toks[k]) continue;
        cJSON *o = cJSON_AddObjectToObject(st, toks[k]);
        cJSON_AddStringToObject(o, "id", toks[k]);
        cJSON *ia = cJSON_AddArrayToObject(o, "ids");
        cJSON_AddItemToArray(ia, cJSON_CreateNumber((double)ids[k]));
        cJSON *ta = cJSON_AddArrayToObject(o, "tokens");
        cJSON_AddItemToArray(ta, cJSON_CreateString(toks[k]));
    }
    return pp;
}

typedef struct sp_merge {
    float score;
    int32_t piece, left, right;
} sp_merge;

static int merge_order(const void *a, const void *b) {
    const sp_merge *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    if (x->piece != y->piece) return x->piece < y->piece ? -1 : 1;
    if (x->left != y->left) return x->left < y->left ? -1 : 1;
    return x->right < y->right ? -1 : x->right > y->right;
}

/* BPE merges from the pieces (HF's SentencePieceExtractor): every split of a normal piece into
 * two normal pieces, ordered by the merged piece's score (descending), then by ids. */
static onyx_status bpe_merges(const sp_model *m, cJSON *merges_out) {
    tk_strmap ids = {0};
    onyx_status st = ONYX_OK;
    for (size_t i = 0; i < m->count && !st; i++)
        if (m->pieces[i].type == SP_NORMAL)
            st = tk_strmap_put(&ids, m->pieces[i].text, m->pieces[i].len, (int64_t)i);
    size_t cap = 0, n = 0;
    sp_merge *merges = NULL;
    for (size_t i = 0; i < m->count && !st; i++) {
        const sp_piece *p = &m->pieces[i];
        if (p->type != SP_NORMAL) continue;
        for (size_t cut = tk_utf8_len((unsigned char)p->text[0]); cut < p->len;
             cut += tk_utf8_len((unsigned char)p->text[cut])) {
            int64_t l = tk_strmap_get(&ids, p->text, cut);
            int64_t r = tk_strmap_get(&ids, p->text + cut, p->len - cut);
            if (l < 0 || r < 0) continue;
            if (n == cap) {
                size_t ncap = cap ? cap * 2 : 1024;
                sp_merge *grown = onyx_malloc(ncap * sizeof *grown);
                if (!grown) {
                    st = onyx_error(ONYX_ERR_OUT_OF_MEMORY, "no memory for %zu BPE merges", ncap);
                    break;
                }
                if (merges) memcpy(grown, merges, n * sizeof *merges);
                onyx_free(merges);
                merges = grown;
                cap = ncap;
            }
            merges[n++] = (sp_merge){p->score, (int32_t)i, (int32_t)l, (int32_t)r};
        }
    }
    if (!st) {
        qsort(merges, n, sizeof *merges, merge_order);
        for (size_t k = 0; k < n && !st; k++) {
            char *a = piece_str(&m->pieces[merges[k].left]);
            char *b = piece_str(&m->pieces[merges[k].right]);
            cJSON *pair = cJSON_CreateArray();
            if (!a || !b || !pair) st = onyx_error(ONYX_ERR_OUT_OF_MEMORY, "no memory for BPE merges");
            else {
                cJSON_AddItemToArray(pair, cJSON_CreateString(a));
                cJSON_AddItemToArray(pair, cJSON_CreateString(b));
                cJSON_AddItemToArray(merges_out, pair);
                pair = NULL;
            }
            cJSON_Delete(pair);
            onyx_free(a);
            onyx_free(b);
        }
    }
    onyx_free(merges);
    tk_strmap_free(&ids);
    return st;
}

static int has_suffix(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* vocab.json beside the model (M2M100): a JSON object piece -> id. Caller frees with cJSON_Delete. */
static onyx_status load_vocab_json(const char *model_path, const char *folder, cJSON **out) {
    *out = NULL;
    char path[4096];
    if (folder) {
        snprintf(path, sizeof path, "%s/vocab.json", folder);
    } else {
        const char *slash = strrchr(model_path, '/');
        size_t dir = slash ? (size_t)(slash - model_path) : 0;
        if (dir) snprintf(path, sizeof path, "%.*s/vocab.json", (int)dir, model_path);
        else snprintf(path, sizeof path, "vocab.json");
    }
    uint8_t *data;
    size_t size;
    FILE *probe = fopen(path, "rb");
    if (!probe) return ONYX_OK;
    fclose(probe);
    onyx_status st = read_whole_file(path, &data, &size);
    if (st) return st;
    cJSON *root = cJSON_ParseWithLength((const char *)data, size);
    onyx_free(data);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return onyx_error(ONYX_ERR_INVALID_MODEL, "'%s' is not a JSON object of piece -> id", path);
    }
    *out = root;
    return ONYX_OK;
}

static onyx_status build_document(const sp_model *m, int t5, const cJSON *vocab_json, cJSON **out) {
    cJSON *doc = cJSON_CreateObject();
    if (!doc) return onyx_error(ONYX_ERR_OUT_OF_MEMORY, "no memory for the tokenizer document");
    onyx_status st = ONYX_OK;
    cJSON_AddStringToObject(doc, "version", "1.0");
    cJSON_AddNullToObject(doc, "truncation");
    cJSON_AddNullToObject(doc, "padding");
    cJSON *added = cJSON_AddArrayToObject(doc, "added_tokens");
    int m2m = vocab_json != NULL;
    int64_t next_id = (int64_t)m->count;

    /* Added tokens: unknown and control pieces are special, user-defined pieces are not. M2M100
     * takes its four specials from vocab.json, in id order, as M2M100Tokenizer does. */
    static const char *const m2m_specials[4] = {"<s>", "<pad>", "</s>", "<unk>"};
    for (int k = 0; m2m && k < 4; k++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(vocab_json, m2m_specials[k]);
        if (cJSON_IsNumber(v)) cJSON_AddItemToArray(added, added_token((int64_t)v->valuedouble, m2m_specials[k], 1));
    }
    for (size_t i = 0; i < m->count && !st && !m2m; i++) {
        const sp_piece *p = &m->pieces[i];
        if (p->type != SP_UNKNOWN && p->type != SP_CONTROL && p->type != SP_USER_DEFINED) continue;
        char *s = piece_str(p);
        if (!s) {
            cJSON_Delete(doc);
            return onyx_error(ONYX_ERR_OUT_OF_MEMORY, "no memory for a piece");
        }
        cJSON_AddItemToArray(added, added_token((int64_t)i, s, p->type != SP_USER_DEFINED));
        onyx_free(s);
    }

    cJSON *model = cJSON_AddObjectToObject(doc, "model");
    if (m->model_type == SP_UNIGRAM && !m2m) {
        cJSON_AddStringToObject(model, "type", "Unigram");
        cJSON_AddNumberToObject(model, "unk_id", (double)m->unk_id);
        cJSON *vocab = cJSON_AddArrayToObject(model, "vocab");
        for (size_t i = 0; i < m->count; i++) {
            char *s = piece_str(&m->pieces[i]);
            if (!s) {
            cJSON_Delete(doc);
            return onyx_error(ONYX_ERR_OUT_OF_MEMORY, "no memory for a piece");
        }
            cJSON *e = cJSON_CreateArray();
            cJSON_AddItemToArray(e, cJSON_CreateString(s));
            cJSON_AddItemToArray(e, cJSON_CreateNumber(m->pieces[i].score));
            cJSON_AddItemToArray(vocab, e);
            onyx_free(s);
        }
        if (t5) {
            char name[32];
            for (int k = 99; k >= 0; k--) {
                snprintf(name, sizeof name, "<extra_id_%d>", k);
                cJSON *e = cJSON_CreateArray();
                cJSON_AddItemToArray(e, cJSON_CreateString(name));
                cJSON_AddItemToArray(e, cJSON_CreateNumber(0.0));
                cJSON_AddItemToArray(vocab, e);
                cJSON_AddItemToArray(added, added_token(next_id++, name, 1));
            }
        }
        cJSON_AddBoolToObject(model, "byte_fallback", m->byte_fallback);
    } else if (m->model_type == SP_BPE) {
        cJSON_AddStringToObject(model, "type", "BPE");
        cJSON_AddNullToObject(model, "dropout");
        char *unk = piece_str(&m->pieces[m->unk_id]);
        if (!unk) {
            cJSON_Delete(doc);
            return onyx_error(ONYX_ERR_OUT_OF_MEMORY, "no memory for a piece");
        }
        cJSON_AddStringToObject(model, "unk_token", unk);
        onyx_free(unk);
        cJSON_AddNullToObject(model, "continuing_subword_prefix");
        cJSON_AddNullToObject(model, "end_of_word_suffix");
        cJSON_AddBoolToObject(model, "fuse_unk", 1);
        cJSON_AddBoolToObject(model, "byte_fallback", m->byte_fallback);
        cJSON_AddBoolToObject(model, "ignore_merges", 0);
        if (m2m) {
            cJSON_AddItemToObject(model, "vocab", cJSON_Duplicate(vocab_json, 1));
            int64_t max_id = -1;
            const cJSON *v;
            cJSON_ArrayForEach(v, vocab_json) if (cJSON_IsNumber(v) && v->valuedouble > max_id) max_id =
                (int64_t)v->valuedouble;
            next_id = max_id + 1;
        } else {
            cJSON *vocab = cJSON_AddObjectToObject(model, "vocab");
            for (size_t i = 0; i < m->count; i++) {
                char *s = piece_str(&m->pieces[i]);
                if (!s) {
            cJSON_Delete(doc);
            return onyx_error(ONYX_ERR_OUT_OF_MEMORY, "no memory for a piece");
        }
                if (!cJSON_GetObjectItemCaseSensitive(vocab, s)) cJSON_AddNumberToObject(vocab, s, (double)i);
                onyx_free(s);
            }
        }
        cJSON *merges = cJSON_AddArrayToObject(model, "merges");
        if ((st = bpe_merges(m, merges))) {
            cJSON_Delete(doc);
            return st;
        }
    } else {
        cJSON_Delete(doc);
        return onyx_error(ONYX_ERR_NOT_IMPLEMENTED,
                          "a Unigram SentencePiece model with a vocab.json (M2M100 layout) is not supported");
    }

    if (m2m) {
        /* transformers 5's M2M100Tokenizer keeps the language tokens out of its added tokens:
         * "__fr__" in a text is ordinary text, and decoding keeps "__en__" even when skipping
         * special tokens. So they extend the model's vocabulary instead. */
        cJSON *vocab = cJSON_GetObjectItemCaseSensitive(model, "vocab");
        char name[32];
        for (int k = 0; k < 100 + 8; k++) {
            if (k < 100) snprintf(name, sizeof name, "__%s__", M2M100_LANGS[k]);
            else snprintf(name, sizeof name, "<madeupword%d>", k - 100);
            if (!cJSON_GetObjectItemCaseSensitive(vocab, name)) cJSON_AddNumberToObject(vocab, name, (double)next_id);
            next_id++;
        }
    }

    /* T5 follows transformers' T5Tokenizer (Precompiled; WhitespaceSplit + Metaspace). Other
     * models follow the sentencepiece library, whose charsmap lookup takes the longest key at
     * each position (onyx's "longest_match": "e\u0301" is one key there, while HF's Precompiled
     * looks up grapheme clusters, then chars), and which removes only ' ' (after the charsmap):
     * runs of spaces collapse to one, a leading or trailing space goes, and nothing else
     * counts as whitespace (U+0085 stays a character), so Replace normalizers stand in for
     * WhitespaceSplit there. */
    cJSON *norms = cJSON_CreateArray();
    if (m->charsmap_len) {
        char *b64 = base64(m->charsmap, m->charsmap_len);
        if (!b64) {
            cJSON_Delete(norms);
            cJSON_Delete(doc);
            return onyx_error(ONYX_ERR_OUT_OF_MEMORY, "no memory for precompiled_charsmap");
        }
        cJSON *norm = typed("Precompiled");
        cJSON_AddStringToObject(norm, "precompiled_charsmap", b64);
        if (!t5) cJSON_AddBoolToObject(norm, "longest_match", 1);
        cJSON_AddItemToArray(norms, norm);
        onyx_free(b64);
    }
    int spm_spaces = !t5 && m->remove_extra_whitespaces;
    if (spm_spaces) {
        static const char *const rules[2][2] = {{" {2,}", " "}, {"^ | $", ""}};
        for (int k = 0; k < 2; k++) {
            cJSON *rep = typed("Replace");
            cJSON *pat = cJSON_AddObjectToObject(rep, "pattern");
            cJSON_AddStringToObject(pat, "Regex", rules[k][0]);
            cJSON_AddStringToObject(rep, "content", rules[k][1]);
            cJSON_AddItemToArray(norms, rep);
        }
    }
    int nnorm = cJSON_GetArraySize(norms);
    if (nnorm == 0) {
        cJSON_Delete(norms);
        cJSON_AddNullToObject(doc, "normalizer");
    } else if (nnorm == 1) {
        cJSON *only = cJSON_DetachItemFromArray(norms, 0);
        cJSON_Delete(norms);
        cJSON_AddItemToObject(doc, "normalizer", only);
    } else {
        cJSON *seq = typed("Sequence");
        cJSON_AddItemToObject(seq, "normalizers", norms);
        cJSON_AddItemToObject(doc, "normalizer", seq);
    }

    if (m->remove_extra_whitespaces && !spm_spaces) {
        cJSON *pre = typed("Sequence");
        cJSON *list = cJSON_AddArrayToObject(pre, "pretokenizers");
        cJSON_AddItemToArray(list, typed("WhitespaceSplit"));
        cJSON_AddItemToArray(list, metaspace("Metaspace", m->add_dummy_prefix));
        cJSON_AddItemToObject(doc, "pre_tokenizer", pre);
    } else {
        cJSON_AddItemToObject(doc, "pre_tokenizer", metaspace("Metaspace", m->add_dummy_prefix));
    }

    if (t5) {
        cJSON_AddItemToObject(doc, "post_processor", template_processing(NULL, 0, "</s>", 1, 1));
    } else if (m2m) {
        const cJSON *eos = cJSON_GetObjectItemCaseSensitive(vocab_json, "</s>");
        const cJSON *en = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(model, "vocab"), "__en__");
        int64_t en_id = cJSON_IsNumber(en) ? (int64_t)en->valuedouble : -1;
        cJSON_AddItemToObject(doc, "post_processor",
                              template_processing("__en__", en_id, "</s>",
                                                  cJSON_IsNumber(eos) ? (int64_t)eos->valuedouble : 2, 0));
    } else {
        cJSON_AddNullToObject(doc, "post_processor");
    }

    if (m->byte_fallback) {
        cJSON *dec = typed("Sequence");
        cJSON *list = cJSON_AddArrayToObject(dec, "decoders");
        cJSON *rep = typed("Replace");
        cJSON *pat = cJSON_AddObjectToObject(rep, "pattern");
        cJSON_AddStringToObject(pat, "String", "\xe2\x96\x81");
        cJSON_AddStringToObject(rep, "content", " ");
        cJSON_AddItemToArray(list, rep);
        cJSON_AddItemToArray(list, typed("ByteFallback"));
        cJSON_AddItemToArray(list, typed("Fuse"));
        cJSON *strip = typed("Strip");
        cJSON_AddStringToObject(strip, "content", " ");
        cJSON_AddNumberToObject(strip, "start", m->add_dummy_prefix ? 1 : 0);
        cJSON_AddNumberToObject(strip, "stop", 0);
        cJSON_AddItemToArray(list, strip);
        cJSON_AddItemToObject(doc, "decoder", dec);
    } else {
        cJSON_AddItemToObject(doc, "decoder", metaspace("Metaspace", m->add_dummy_prefix));
    }
    *out = doc;
    return ONYX_OK;
}

onyx_status onyx_sentencepiece_to_json(const char *path, const char *folder, cJSON **out) {
    if (!path || !out) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "path and out must not be NULL");
    *out = NULL;
    uint8_t *data = NULL;
    size_t size = 0;
    onyx_status st = read_whole_file(path, &data, &size);
    if (st) return st;
    sp_model m;
    st = parse_model(data, size, &m);
    cJSON *vocab_json = NULL;
    int t5 = has_suffix(path, "/spiece.model") || strcmp(path, "spiece.model") == 0;
    if (!st && !t5 && m.model_type == SP_BPE) st = load_vocab_json(path, folder, &vocab_json);
    if (!st) st = build_document(&m, t5, vocab_json, out);
    cJSON_Delete(vocab_json);
    onyx_free(m.pieces);
    onyx_free(data);
    return st;
}

onyx_status onyx_sentencepiece_load(const char *path, const char *folder, onyx_tokenizer **out) {
    if (!out) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "out must not be NULL");
    *out = NULL;
    cJSON *doc = NULL;
    onyx_status st = onyx_sentencepiece_to_json(path, folder, &doc);
    if (st) return st;
    st = onyx_tokenizer_from_cjson(doc, out);
    cJSON_Delete(doc);
    return st;
}
