/*
 * models.c - HF tokenizer models: WordPiece (greedy longest match), BPE (merges applied by a
 * priority queue, so a long word costs O(n log n)), Unigram (Viterbi over a byte trie, O(n * L)
 * for L the longest piece). Each turns one pre-tokenized piece into tokens with byte offsets in
 * that piece. The algorithms follow HF's Rust code step by step, ties included.
 */
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "text/components.h"

static onyx_status tokens_grow(tk_tokens *t) {
    if (t->count < t->cap) return ONYX_OK;
    size_t c = t->cap ? t->cap * 2 : 16;
    tk_token *g = onyx_realloc(t->items, c * sizeof(tk_token));
    if (!g) return ONYX_ERR_OUT_OF_MEMORY;
    t->items = g;
    t->cap = c;
    return ONYX_OK;
}

onyx_status tk_tokens_push(tk_tokens *t, int64_t id, const char *value, size_t value_len,
                           size_t start, size_t end) {
    ONYX_TRY(tokens_grow(t));
    char *v = onyx_strndup(value, value_len);
    if (!v) return ONYX_ERR_OUT_OF_MEMORY;
    t->items[t->count++] = (tk_token){id, v, 1, start, end};
    return ONYX_OK;
}

onyx_status tk_tokens_push_vocab(tk_tokens *t, const tk_model *m, int64_t id, size_t start, size_t end) {
    if (id < 0 || (size_t)id >= m->vocab_size || !m->id_to_token[id])
        return onyx_error(ONYX_ERR_INVALID_MODEL, "model produced id %lld, which has no vocab entry", (long long)id);
    ONYX_TRY(tokens_grow(t));
    t->items[t->count++] = (tk_token){id, m->id_to_token[id], 0, start, end};
    return ONYX_OK;
}

static void token_release(tk_token *tok) {
    if (tok->owned) onyx_free((char *)tok->value);
    tok->value = NULL;
}

void tk_tokens_free(tk_tokens *t) {
    for (size_t i = 0; i < t->count; i++) token_release(&t->items[i]);
    onyx_free(t->items);
    memset(t, 0, sizeof(*t));
}

void tk_model_free(tk_model *m) {
    if (!m) return;
    tk_strmap_free(&m->vocab);
    for (size_t i = 0; i < m->vocab_size; i++) onyx_free(m->id_to_token[i]);
    onyx_free(m->id_to_token);
    onyx_free(m->prefix);
    onyx_free(m->suffix);
    tk_pairmap_free(&m->merges);
    onyx_free(m->scores);
    tk_pairmap_free(&m->trie_edges);
    onyx_free(m->trie_ids);
    onyx_free(m);
}

/* Ids index a dense table, so they may not run far past the number of entries. */
static onyx_status set_token(tk_model *m, int64_t id, const char *s, size_t entries) {
    if (id < 0 || id >= (int64_t)entries + (1 << 16))
        return onyx_error(ONYX_ERR_INVALID_MODEL, "model vocab token \"%.50s\" has id %lld, outside 0..%zu", s, (long long)id,
                          entries + (1 << 16) - 1);
    if ((size_t)id >= m->vocab_size) {
        size_t n = (size_t)id + 1, cap = m->vocab_size;
        char **g = onyx_realloc(m->id_to_token, n * sizeof(char *));
        if (!g) return ONYX_ERR_OUT_OF_MEMORY;
        for (size_t i = cap; i < n; i++) g[i] = NULL;
        m->id_to_token = g;
        m->vocab_size = n;
    }
    if (m->id_to_token[id]) return ONYX_OK; /* first wins */
    m->id_to_token[id] = onyx_strdup(s);
    if (!m->id_to_token[id]) return ONYX_ERR_OUT_OF_MEMORY;
    return tk_strmap_put(&m->vocab, s, strlen(s), id);
}

static const char *json_str(const cJSON *obj, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int json_bool(const cJSON *obj, const char *key, int dflt) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsBool(v) ? cJSON_IsTrue(v) : dflt;
}

static onyx_status parse_vocab_object(tk_model *m, const cJSON *vocab) {
    if (!cJSON_IsObject(vocab)) return onyx_error(ONYX_ERR_INVALID_MODEL, "model \"vocab\" must be an object of token: id");
    const cJSON *e;
    cJSON_ArrayForEach(e, vocab) {
        if (!cJSON_IsNumber(e)) return onyx_error(ONYX_ERR_INVALID_MODEL, "model vocab entry \"%.50s\" has no numeric id", e->string);
        int64_t id = tk_json_int(e, -1, -1, INT32_MAX);
        ONYX_TRY(set_token(m, id, e->string, (size_t)cJSON_GetArraySize(vocab)));
    }
    return ONYX_OK;
}

/* Unigram trie node for (node, byte), creating it when create is set; -1 if absent. */
static int64_t trie_step(tk_model *m, int64_t node, unsigned char b, int create, onyx_status *st) {
    int32_t child, unused;
    uint64_t key = ((uint64_t)node << 8) | b;
    if (tk_pairmap_get(&m->trie_edges, key, &child, &unused)) return child;
    if (!create) return -1;
    int64_t *g = onyx_realloc(m->trie_ids, (m->trie_nodes + 1) * sizeof(int64_t));
    if (!g) { *st = ONYX_ERR_OUT_OF_MEMORY; return -1; }
    m->trie_ids = g;
    m->trie_ids[m->trie_nodes] = -1;
    child = (int32_t)m->trie_nodes++;
    if ((*st = tk_pairmap_put(&m->trie_edges, key, child, 0))) return -1;
    return child;
}

onyx_status tk_model_parse(const cJSON *json, tk_model **out) {
    *out = NULL;
    const char *type = json_str(json, "type");
    tk_model *m = onyx_calloc(1, sizeof(*m));
    if (!m) return ONYX_ERR_OUT_OF_MEMORY;
    m->unk_id = -1;
    onyx_status st = ONYX_OK;
    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(json, "vocab");
    const char *unk = json_str(json, "unk_token");
    const char *prefix = json_str(json, "continuing_subword_prefix");
    if (!type) {
        /* Old files leave out the type: guess from the fields as HF does. */
        if (cJSON_GetObjectItemCaseSensitive(json, "merges")) type = "BPE";
        else if (cJSON_IsArray(vocab)) type = "Unigram";
        else if (cJSON_GetObjectItemCaseSensitive(json, "max_input_chars_per_word")) type = "WordPiece";
        else { st = onyx_error(ONYX_ERR_INVALID_MODEL, "model has no \"type\""); goto fail; }
    }
    if (prefix && !(m->prefix = onyx_strdup(prefix))) { st = ONYX_ERR_OUT_OF_MEMORY; goto fail; }
    if (!strcmp(type, "WordPiece")) {
        m->kind = TK_MODEL_WORDPIECE;
        if (!m->prefix && !(m->prefix = onyx_strdup("##"))) { st = ONYX_ERR_OUT_OF_MEMORY; goto fail; }
        const cJSON *mx = cJSON_GetObjectItemCaseSensitive(json, "max_input_chars_per_word");
        m->max_input_chars_per_word = (size_t)tk_json_int(mx, 100, 0, INT32_MAX);
        if ((st = parse_vocab_object(m, vocab))) goto fail;
        if (!unk) unk = "[UNK]";
        m->unk_id = tk_strmap_get(&m->vocab, unk, strlen(unk));
    } else if (!strcmp(type, "BPE")) {
        m->kind = TK_MODEL_BPE;
        const cJSON *dropout = cJSON_GetObjectItemCaseSensitive(json, "dropout");
        if (cJSON_IsNumber(dropout) && dropout->valuedouble != 0.0 && dropout->valuedouble != 1.0) {
            st = onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "BPE dropout %g is not supported (only null or 0)", dropout->valuedouble);
            goto fail;
        }
        const char *suffix = json_str(json, "end_of_word_suffix");
        if (suffix && !(m->suffix = onyx_strdup(suffix))) { st = ONYX_ERR_OUT_OF_MEMORY; goto fail; }
        m->fuse_unk = json_bool(json, "fuse_unk", 0);
        m->byte_fallback = json_bool(json, "byte_fallback", 0);
        m->ignore_merges = json_bool(json, "ignore_merges", 0);
        if ((st = parse_vocab_object(m, vocab))) goto fail;
        if (unk) {
            m->has_unk_token = 1;
            m->unk_id = tk_strmap_get(&m->vocab, unk, strlen(unk));
        }
        const cJSON *merges = cJSON_GetObjectItemCaseSensitive(json, "merges");
        size_t prefix_len = m->prefix ? strlen(m->prefix) : 0;
        int32_t rank = 0;
        const cJSON *e;
        tk_buf joined = {0};
        cJSON_ArrayForEach(e, merges) {
            const char *a, *b;
            size_t a_len, b_len;
            if (cJSON_IsString(e)) {
                const char *sp = strchr(e->valuestring, ' ');
                if (!sp || strchr(sp + 1, ' ')) { st = onyx_error(ONYX_ERR_INVALID_MODEL, "BPE merge %d \"%.80s\" is not two tokens separated by one space", rank, e->valuestring); break; }
                a = e->valuestring; a_len = (size_t)(sp - a);
                b = sp + 1; b_len = strlen(b);
            } else if (cJSON_IsArray(e) && cJSON_GetArraySize(e) == 2 && cJSON_IsString(cJSON_GetArrayItem(e, 0)) &&
                       cJSON_IsString(cJSON_GetArrayItem(e, 1))) {
                a = cJSON_GetArrayItem(e, 0)->valuestring; a_len = strlen(a);
                b = cJSON_GetArrayItem(e, 1)->valuestring; b_len = strlen(b);
            } else {
                st = onyx_error(ONYX_ERR_INVALID_MODEL, "BPE merge %d is neither \"a b\" nor [a, b]", rank);
                break;
            }
            int64_t ida = tk_strmap_get(&m->vocab, a, a_len), idb = tk_strmap_get(&m->vocab, b, b_len);
            joined.len = 0;
            size_t skip = prefix_len <= b_len ? prefix_len : b_len;
            if ((st = tk_buf_add(&joined, a, a_len)) || (st = tk_buf_add(&joined, b + skip, b_len - skip))) break;
            int64_t idn = tk_strmap_get(&m->vocab, joined.data, joined.len);
            if (ida < 0 || idb < 0 || idn < 0) {
                st = onyx_error(ONYX_ERR_INVALID_MODEL, "BPE merge %d (\"%.40s\" + \"%.40s\") uses a token not in the vocab", rank, a, b);
                break;
            }
            if ((st = tk_pairmap_put(&m->merges, ((uint64_t)ida << 32) | (uint64_t)idb, rank, (int32_t)idn))) break;
            rank++;
        }
        tk_buf_free(&joined);
        if (st) goto fail;
    } else if (!strcmp(type, "Unigram")) {
        m->kind = TK_MODEL_UNIGRAM;
        m->byte_fallback = json_bool(json, "byte_fallback", 0);
        m->fuse_unk = 1;
        int n = cJSON_GetArraySize(vocab);
        if (!cJSON_IsArray(vocab) || n == 0) { st = onyx_error(ONYX_ERR_INVALID_MODEL, "Unigram \"vocab\" must be a non-empty list of [piece, score]"); goto fail; }
        m->scores = onyx_calloc((size_t)n, sizeof(double));
        m->trie_ids = onyx_malloc(sizeof(int64_t));
        if (!m->scores || !m->trie_ids) { st = ONYX_ERR_OUT_OF_MEMORY; goto fail; }
        m->trie_ids[0] = -1;
        m->trie_nodes = 1;
        m->min_score = 1e300;
        int64_t id = 0;
        const cJSON *e;
        cJSON_ArrayForEach(e, vocab) {
            const cJSON *piece = cJSON_GetArrayItem(e, 0), *score = cJSON_GetArrayItem(e, 1);
            if (!cJSON_IsString(piece) || !cJSON_IsNumber(score)) { st = onyx_error(ONYX_ERR_INVALID_MODEL, "Unigram vocab entry %lld is not [piece, score]", (long long)id); goto fail; }
            if ((st = set_token(m, id, piece->valuestring, (size_t)n))) goto fail;
            m->scores[id] = score->valuedouble;
            if (score->valuedouble < m->min_score) m->min_score = score->valuedouble;
            size_t len = strlen(piece->valuestring);
            if (len > m->max_piece_len) m->max_piece_len = len;
            int64_t node = 0;
            for (size_t i = 0; i < len; i++) {
                node = trie_step(m, node, (unsigned char)piece->valuestring[i], 1, &st);
                if (st) goto fail;
            }
            if (m->trie_ids[node] < 0) m->trie_ids[node] = id;
            id++;
        }
        const cJSON *unk_id = cJSON_GetObjectItemCaseSensitive(json, "unk_id");
        if (cJSON_IsNumber(unk_id)) {
            m->unk_id = tk_json_int(unk_id, -1, -1, INT32_MAX);
            if (m->unk_id < 0 || m->unk_id >= (int64_t)n) { st = onyx_error(ONYX_ERR_INVALID_MODEL, "Unigram unk_id %lld is outside the %d-piece vocab", (long long)m->unk_id, n); goto fail; }
        }
    } else {
        st = onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "model type \"%.50s\" is not supported", type);
        goto fail;
    }
    *out = m;
    return ONYX_OK;
fail:
    tk_model_free(m);
    return st;
}

/* ---- WordPiece ---- */
static onyx_status wordpiece(const tk_model *m, const char *w, size_t len, tk_tokens *out) {
    size_t chars = 0;
    for (size_t i = 0; i < len; i += tk_utf8_len((unsigned char)w[i])) chars++;
    if (m->unk_id < 0) return onyx_error(ONYX_ERR_INVALID_MODEL, "WordPiece: the unk token is not in the vocab");
    if (chars > m->max_input_chars_per_word) return tk_tokens_push_vocab(out, m, m->unk_id, 0, len);
    size_t first = out->count, start = 0, prefix_len = strlen(m->prefix);
    tk_buf cand = {0};
    onyx_status st = ONYX_OK;
    while (start < len) {
        size_t end = len;
        int64_t found = -1;
        while (start < end) {
            cand.len = 0;
            if (start > 0 && (st = tk_buf_add(&cand, m->prefix, prefix_len))) goto done;
            if ((st = tk_buf_add(&cand, w + start, end - start))) goto done;
            found = tk_strmap_get(&m->vocab, cand.data, cand.len);
            if (found >= 0) break;
            end--;
            while (end > start && ((unsigned char)w[end] & 0xC0) == 0x80) end--;
        }
        if (found < 0) {
            for (size_t i = first; i < out->count; i++) token_release(&out->items[i]);
            out->count = first;
            st = tk_tokens_push_vocab(out, m, m->unk_id, 0, len);
            goto done;
        }
        if ((st = tk_tokens_push_vocab(out, m, found, start, end))) goto done;
        start = end;
    }
done:
    tk_buf_free(&cand);
    return st;
}

/* ---- BPE ---- */
typedef struct bpe_symbol {
    int64_t id;
    int64_t prev, next;
    size_t start, end; /* bytes in the word; end == start marks a merged-away symbol */
    int alive;
} bpe_symbol;

typedef struct bpe_merge {
    int32_t rank;
    int64_t pos;
    int32_t new_id;
} bpe_merge;

static int merge_less(bpe_merge a, bpe_merge b) {
    return a.rank < b.rank || (a.rank == b.rank && a.pos < b.pos);
}

typedef struct bpe_heap {
    bpe_merge *items;
    size_t count, cap;
} bpe_heap;

/* Grow a buffer that may start on the caller's stack (then it is copied, never freed). */
static void *grow_buffer(void *buf, const void *stack, size_t used_bytes, size_t new_bytes) {
    if (buf != stack) return onyx_realloc(buf, new_bytes);
    void *fresh = onyx_malloc(new_bytes);
    if (fresh && used_bytes) memcpy(fresh, buf, used_bytes);
    return fresh;
}

static onyx_status heap_push(bpe_heap *h, const bpe_merge *stack, bpe_merge m) {
    if (h->count == h->cap) {
        size_t c = h->cap ? h->cap * 2 : 64;
        bpe_merge *g = grow_buffer(h->items, stack, h->count * sizeof(bpe_merge), c * sizeof(bpe_merge));
        if (!g) return ONYX_ERR_OUT_OF_MEMORY;
        h->items = g;
        h->cap = c;
    }
    size_t i = h->count++;
    h->items[i] = m;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!merge_less(h->items[i], h->items[p])) break;
        bpe_merge t = h->items[i]; h->items[i] = h->items[p]; h->items[p] = t;
        i = p;
    }
    return ONYX_OK;
}

static bpe_merge heap_pop(bpe_heap *h) {
    bpe_merge top = h->items[0];
    h->items[0] = h->items[--h->count];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, s = i;
        if (l < h->count && merge_less(h->items[l], h->items[s])) s = l;
        if (r < h->count && merge_less(h->items[r], h->items[s])) s = r;
        if (s == i) break;
        bpe_merge t = h->items[i]; h->items[i] = h->items[s]; h->items[s] = t;
        i = s;
    }
    return top;
}

static onyx_status sym_push(bpe_symbol **syms, const bpe_symbol *stack, size_t *n, size_t *cap, int64_t id,
                            size_t s, size_t e) {
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 32;
        bpe_symbol *g = grow_buffer(*syms, stack, *n * sizeof(bpe_symbol), c * sizeof(bpe_symbol));
        if (!g) return ONYX_ERR_OUT_OF_MEMORY;
        *syms = g;
        *cap = c;
    }
    (*syms)[*n] = (bpe_symbol){id, (int64_t)*n - 1, (int64_t)*n + 1, s, e, 1};
    (*n)++;
    return ONYX_OK;
}

static int merge_lookup(const tk_model *m, int64_t a, int64_t b, int32_t *rank, int32_t *new_id) {
    return tk_pairmap_get(&m->merges, ((uint64_t)a << 32) | (uint64_t)b, rank, new_id);
}

static onyx_status bpe(const tk_model *m, const char *w, size_t len, tk_tokens *out) {
    if (m->ignore_merges) {
        int64_t id = tk_strmap_get(&m->vocab, w, len);
        if (id >= 0) return tk_tokens_push_vocab(out, m, id, 0, len);
    }
    /* Words of up to 64 symbols (nearly all) work on the stack. */
    bpe_symbol stack_syms[64];
    bpe_merge stack_heap[128];
    bpe_symbol *syms = stack_syms;
    size_t n = 0, cap = 64, prefix_len = m->prefix ? strlen(m->prefix) : 0, suffix_len = m->suffix ? strlen(m->suffix) : 0;
    tk_buf piece = {0};
    bpe_heap heap = {stack_heap, 0, 128};
    onyx_status st = ONYX_OK;
    /* Symbols get offsets from a running position, as HF's Word::add with byte lengths: a
     * byte-fallback token counts 1 byte, a pending unknown is added only when the next known
     * char (or the end) comes, and a char with neither is dropped. */
    size_t pos = 0, i = 0;
    int64_t pending_unk = -1;
    size_t pending_len = 0;
    while (i < len) {
        size_t k = tk_utf8_len((unsigned char)w[i]);
        if (i + k > len) k = len - i;
        piece.len = 0;
        if (i > 0 && prefix_len && (st = tk_buf_add(&piece, m->prefix, prefix_len))) goto done;
        if ((st = tk_buf_add(&piece, w + i, k))) goto done;
        if (i + k == len && suffix_len && (st = tk_buf_add(&piece, m->suffix, suffix_len))) goto done;
        i += k;
        int64_t id = tk_strmap_get(&m->vocab, piece.data, piece.len);
        if (id >= 0) {
            if (pending_unk >= 0) {
                if ((st = sym_push(&syms, stack_syms, &n, &cap, pending_unk, pos, pos + pending_len))) goto done;
                pos += pending_len;
                pending_unk = -1;
            }
            if ((st = sym_push(&syms, stack_syms, &n, &cap, id, pos, pos + k))) goto done;
            pos += k;
            continue;
        }
        if (m->byte_fallback) {
            int all = 1;
            for (size_t b = 0; b < piece.len && all; b++) {
                char name[8];
                snprintf(name, sizeof(name), "<0x%02X>", (unsigned char)piece.data[b]);
                if (tk_strmap_get(&m->vocab, name, 6) < 0) all = 0;
            }
            if (all) {
                for (size_t b = 0; b < piece.len; b++) {
                    char name[8];
                    snprintf(name, sizeof(name), "<0x%02X>", (unsigned char)piece.data[b]);
                    if ((st = sym_push(&syms, stack_syms, &n, &cap, tk_strmap_get(&m->vocab, name, 6), pos, pos + 1))) goto done;
                    pos += 1;
                }
                continue;
            }
        }
        if (m->has_unk_token) {
            if (m->unk_id < 0) { st = onyx_error(ONYX_ERR_INVALID_MODEL, "BPE: unk_token is not in the vocab"); goto done; }
            if (pending_unk >= 0 && m->fuse_unk) {
                pending_len += k;
            } else {
                if (pending_unk >= 0) {
                    if ((st = sym_push(&syms, stack_syms, &n, &cap, pending_unk, pos, pos + pending_len))) goto done;
                    pos += pending_len;
                }
                pending_unk = m->unk_id;
                pending_len = k;
            }
        }
    }
    if (pending_unk >= 0 && (st = sym_push(&syms, stack_syms, &n, &cap, pending_unk, pos, pos + pending_len))) goto done;
    if (n) syms[n - 1].next = -1;
    for (size_t s = 0; s + 1 < n; s++) {
        int32_t rank, nid;
        if (merge_lookup(m, syms[s].id, syms[s + 1].id, &rank, &nid) &&
            (st = heap_push(&heap, stack_heap, (bpe_merge){rank, (int64_t)s, nid})))
            goto done;
    }
    while (heap.count) {
        bpe_merge top = heap_pop(&heap);
        bpe_symbol *cur = &syms[top.pos];
        if (!cur->alive || cur->next < 0) continue;
        bpe_symbol *right = &syms[cur->next];
        int32_t rank, nid;
        if (!merge_lookup(m, cur->id, right->id, &rank, &nid) || nid != top.new_id) continue;
        cur->id = top.new_id;
        cur->end = right->end;
        right->alive = 0;
        cur->next = right->next;
        if (right->next >= 0) syms[right->next].prev = top.pos;
        if (cur->prev >= 0 && merge_lookup(m, syms[cur->prev].id, cur->id, &rank, &nid) &&
            (st = heap_push(&heap, stack_heap, (bpe_merge){rank, cur->prev, nid})))
            goto done;
        if (cur->next >= 0 && merge_lookup(m, cur->id, syms[cur->next].id, &rank, &nid) &&
            (st = heap_push(&heap, stack_heap, (bpe_merge){rank, top.pos, nid})))
            goto done;
    }
    for (size_t s = 0; s < n; s++) {
        if (!syms[s].alive) continue;
        if ((st = tk_tokens_push_vocab(out, m, syms[s].id, syms[s].start, syms[s].end))) goto done;
    }
done:
    if (syms != stack_syms) onyx_free(syms);
    if (heap.items != stack_heap) onyx_free(heap.items);
    tk_buf_free(&piece);
    return st;
}

/* ---- Unigram ---- */
typedef struct lattice_node {
    double score;
    int64_t id;
    int64_t starts_at; /* -1: not reached */
} lattice_node;

static onyx_status unigram_push_piece(const tk_model *m, const char *w, size_t s, size_t e, tk_tokens *out) {
    int64_t id = tk_strmap_get(&m->vocab, w + s, e - s);
    if (id >= 0) return tk_tokens_push_vocab(out, m, id, s, e);
    if (m->byte_fallback) {
        int all = 1;
        for (size_t b = s; b < e && all; b++) {
            char name[8];
            snprintf(name, sizeof(name), "<0x%02X>", (unsigned char)w[b]);
            if (tk_strmap_get(&m->vocab, name, 6) < 0) all = 0;
        }
        if (all) {
            for (size_t b = s; b < e; b++) {
                char name[8];
                snprintf(name, sizeof(name), "<0x%02X>", (unsigned char)w[b]);
                ONYX_TRY(tk_tokens_push_vocab(out, m, tk_strmap_get(&m->vocab, name, 6), s, e));
            }
            return ONYX_OK;
        }
    }
    if (m->unk_id < 0) return onyx_error(ONYX_ERR_INVALID_MODEL, "Unigram: text needs the unk token but the model has no unk_id");
    const char *unk = m->id_to_token[m->unk_id];
    return tk_tokens_push(out, m->unk_id, unk, strlen(unk), s, e);
}

static onyx_status unigram(const tk_model *m, const char *w, size_t len, tk_tokens *out) {
    /* Words of up to 127 bytes (nearly all) keep the lattice and the ranges on the stack. */
    lattice_node stack_best[128];
    size_t stack_ranges[256];
    lattice_node *best = len < 128 ? stack_best : onyx_malloc((len + 1) * sizeof(lattice_node));
    if (!best) return ONYX_ERR_OUT_OF_MEMORY;
    for (size_t i = 0; i <= len; i++) best[i] = (lattice_node){0.0, -1, -1};
    best[0].starts_at = 0;
    const double unk_score = m->min_score - 10.0;
    size_t starts_at = 0;
    while (starts_at < len) {
        double here = best[starts_at].score;
        size_t mblen = tk_utf8_len((unsigned char)w[starts_at]);
        if (starts_at + mblen > len) mblen = len - starts_at;
        int has_single = 0;
        int64_t node = 0;
        for (size_t k = starts_at; k < len && k - starts_at < m->max_piece_len; k++) {
            int32_t child, unused;
            if (!tk_pairmap_get(&m->trie_edges, ((uint64_t)node << 8) | (unsigned char)w[k], &child, &unused)) break;
            node = child;
            int64_t id = m->trie_ids[node];
            if (id < 0) continue;
            size_t key_pos = k + 1;
            double cand = m->scores[id] + here;
            lattice_node *t = &best[key_pos];
            if (t->starts_at < 0 || cand > t->score) *t = (lattice_node){cand, id, (int64_t)starts_at};
            if (key_pos - starts_at == mblen) has_single = 1;
        }
        if (!has_single) {
            lattice_node *t = &best[starts_at + mblen];
            double cand = unk_score + here;
            if (t->starts_at < 0 || cand > t->score) *t = (lattice_node){cand, m->unk_id, (int64_t)starts_at};
        }
        starts_at += mblen;
    }
    /* Backtrack into (start, end) ranges, fusing consecutive unknowns, then emit in order. */
    size_t *ranges = len < 128 ? stack_ranges : onyx_malloc((len + 1) * 2 * sizeof(size_t));
    onyx_status st = ONYX_OK;
    if (!ranges) {
        if (best != stack_best) onyx_free(best);
        return ONYX_ERR_OUT_OF_MEMORY;
    }
    size_t nr = 0, ends_at = len;
    int in_unk = 0;
    while (ends_at > 0) {
        lattice_node *node = &best[ends_at];
        size_t s = node->starts_at < 0 ? 0 : (size_t)node->starts_at;
        int is_unk = m->unk_id >= 0 && node->id == m->unk_id;
        if (is_unk && in_unk) {
            ranges[2 * (nr - 1)] = s;
        } else {
            ranges[2 * nr] = s;
            ranges[2 * nr + 1] = ends_at;
            nr++;
        }
        in_unk = is_unk;
        ends_at = s;
    }
    for (size_t r = nr; r-- > 0 && !st;) st = unigram_push_piece(m, w, ranges[2 * r], ranges[2 * r + 1], out);
    if (ranges != stack_ranges) onyx_free(ranges);
    if (best != stack_best) onyx_free(best);
    return st;
}

onyx_status tk_model_tokenize(const tk_model *m, const char *text, size_t len, tk_tokens *out) {
    if (len == 0) return ONYX_OK;
    switch (m->kind) {
    case TK_MODEL_WORDPIECE: return wordpiece(m, text, len, out);
    case TK_MODEL_BPE: return bpe(m, text, len, out);
    case TK_MODEL_UNIGRAM: return unigram(m, text, len, out);
    }
    return ONYX_OK;
}
