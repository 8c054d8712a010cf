/*
 * test_tokenizer.c - the tokenizer engine on small hand-written tokenizer.json files. Expected
 * ids and offsets are worked out by hand from the HF `tokenizers` algorithms; each case says how.
 * Real vocabularies and the 5,000-string parity corpus live in test_tokenizer_parity*.c.
 */
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "core/alloc.h"
#include "harness.h"
#include "onyx/tokenizer.h"

/* vocab ids: [PAD]0 [UNK]1 [CLS]2 [SEP]3 hello4 world5 ##s6 ,7 un8 ##aff9 ##able10; [MASK]11
 * is an added special token. */
static const char BERT_JSON[] =
    "{\"version\":\"1.0\",\"truncation\":null,\"padding\":null,"
    "\"added_tokens\":[{\"id\":0,\"content\":\"[PAD]\",\"special\":true,\"normalized\":false},"
    "{\"id\":1,\"content\":\"[UNK]\",\"special\":true,\"normalized\":false},"
    "{\"id\":2,\"content\":\"[CLS]\",\"special\":true,\"normalized\":false},"
    "{\"id\":3,\"content\":\"[SEP]\",\"special\":true,\"normalized\":false},"
    "{\"id\":11,\"content\":\"[MASK]\",\"special\":true,\"normalized\":false,\"lstrip\":false,\"rstrip\":false,\"single_word\":false}],"
    "\"normalizer\":{\"type\":\"BertNormalizer\",\"clean_text\":true,\"handle_chinese_chars\":true,\"strip_accents\":null,\"lowercase\":true},"
    "\"pre_tokenizer\":{\"type\":\"BertPreTokenizer\"},"
    "\"post_processor\":{\"type\":\"BertProcessing\",\"sep\":[\"[SEP]\",3],\"cls\":[\"[CLS]\",2]},"
    "\"decoder\":{\"type\":\"WordPiece\",\"prefix\":\"##\",\"cleanup\":true},"
    "\"model\":{\"type\":\"WordPiece\",\"unk_token\":\"[UNK]\",\"continuing_subword_prefix\":\"##\",\"max_input_chars_per_word\":100,"
    "\"vocab\":{\"[PAD]\":0,\"[UNK]\":1,\"[CLS]\":2,\"[SEP]\":3,\"hello\":4,\"world\":5,\"##s\":6,\",\":7,\"un\":8,\"##aff\":9,\"##able\":10}}}";

/* Byte-level BPE: vocab a0 b1 Ġ2 ab3 Ġab4 Ġa5; merges (a,b) rank 0, (Ġ,a) rank 1, (Ġa,b) rank 2. */
static const char BPE_JSON[] =
    "{\"added_tokens\":[],\"normalizer\":null,"
    "\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"trim_offsets\":true,\"use_regex\":true},"
    "\"post_processor\":{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"trim_offsets\":false,\"use_regex\":true},"
    "\"decoder\":{\"type\":\"ByteLevel\",\"add_prefix_space\":true,\"trim_offsets\":true,\"use_regex\":true},"
    "\"model\":{\"type\":\"BPE\",\"dropout\":null,\"unk_token\":null,\"continuing_subword_prefix\":\"\",\"end_of_word_suffix\":\"\","
    "\"fuse_unk\":false,\"byte_fallback\":false,"
    "\"vocab\":{\"a\":0,\"b\":1,\"\\u0120\":2,\"ab\":3,\"\\u0120ab\":4,\"\\u0120a\":5},"
    "\"merges\":[\"a b\",[\"\\u0120\",\"a\"],\"\\u0120a b\"]}}";

/* Unigram with Metaspace: <unk>0 ▁1 a2 b3 ab4 ▁ab5 ▁a6, log-probabilities as given. */
static const char UNIGRAM_JSON[] =
    "{\"added_tokens\":[],\"normalizer\":null,"
    "\"pre_tokenizer\":{\"type\":\"Metaspace\",\"replacement\":\"\\u2581\",\"prepend_scheme\":\"always\",\"split\":true},"
    "\"post_processor\":null,"
    "\"decoder\":{\"type\":\"Metaspace\",\"replacement\":\"\\u2581\",\"prepend_scheme\":\"always\",\"split\":true},"
    "\"model\":{\"type\":\"Unigram\",\"unk_id\":0,\"byte_fallback\":false,\"vocab\":[[\"<unk>\",0.0],[\"\\u2581\",-2.0],"
    "[\"a\",-3.0],[\"b\",-3.0],[\"ab\",-4.0],[\"\\u2581ab\",-4.5],[\"\\u2581a\",-3.5]]}}";

static onyx_tokenizer *load(const char *json) {
    onyx_tokenizer *t = NULL;
    ONYX_CHECK_OK(onyx_tokenizer_load_json(json, strlen(json), &t));
    return t;
}

static void check_ids(const onyx_encoding *e, const int64_t *want, size_t n) {
    ONYX_CHECK_INT(e->length, n);
    for (size_t i = 0; i < n && i < e->length; i++) {
        if (e->ids[i] != want[i]) fprintf(stderr, "  token %zu (%s): id %lld, expected %lld\n", i, e->tokens[i], (long long)e->ids[i], (long long)want[i]);
        ONYX_CHECK_INT(e->ids[i], want[i]);
    }
}

static void check_offsets(const onyx_encoding *e, const int64_t *want, size_t n) {
    for (size_t i = 0; i < 2 * n && i < 2 * e->length; i++) {
        if (e->offsets[i] != want[i]) fprintf(stderr, "  token %zu offset %zu\n", i / 2, i % 2);
        ONYX_CHECK_INT(e->offsets[i], want[i]);
    }
}

/* "Hello, worlds! unaffable": BertNormalizer lowercases; BertPreTokenizer splits on spaces and
 * isolates punctuation: hello(0,5) ,(5,6) worlds(7,13) !(13,14) unaffable(15,24). WordPiece:
 * "worlds" -> world + ##s; "!" is not in the vocab -> [UNK]; unaffable -> un ##aff ##able.
 * BertProcessing wraps in [CLS] ... [SEP] with offsets (0,0). */
static void test_bert_single(void) {
    onyx_tokenizer *t = load(BERT_JSON);
    if (!t) return;
    const char *text = "Hello, worlds! unaffable";
    onyx_encoding *e = NULL;
    ONYX_CHECK_OK(onyx_tokenizer_encode(t, text, strlen(text), NULL, 0, NULL, &e));
    if (e) {
        int64_t ids[] = {2, 4, 7, 5, 6, 1, 8, 9, 10, 3};
        int64_t offs[] = {0, 0, 0, 5, 5, 6, 7, 12, 12, 13, 13, 14, 15, 17, 17, 20, 20, 24, 0, 0};
        int64_t words[] = {-1, 0, 1, 2, 2, 3, 4, 4, 4, -1};
        int64_t special[] = {1, 0, 0, 0, 0, 0, 0, 0, 0, 1};
        check_ids(e, ids, 10);
        check_offsets(e, offs, 10);
        for (size_t i = 0; i < 10 && i < e->length; i++) {
            ONYX_CHECK_INT(e->word_ids[i], words[i]);
            ONYX_CHECK_INT(e->special_tokens_mask[i], special[i]);
            ONYX_CHECK_INT(e->type_ids[i], 0);
            ONYX_CHECK_INT(e->attention_mask[i], 1);
        }
        if (e->length == 10) ONYX_CHECK(strcmp(e->tokens[4], "##s") == 0);
    }
    onyx_encoding_destroy(e);
    /* Decoding: WordPiece joins with spaces and glues ##s; cleanup turns " ," into ",". [UNK]
     * is special and skipped. */
    int64_t ids[] = {2, 4, 7, 5, 6, 1, 3};
    char *out = NULL;
    size_t len = 0;
    ONYX_CHECK_OK(onyx_tokenizer_decode(t, ids, 7, 1, 0, &out, &len));
    if (out) ONYX_CHECK(strcmp(out, "hello, worlds") == 0);
    onyx_tokenizer_free_text(out);
    ONYX_CHECK_OK(onyx_tokenizer_decode(t, ids, 7, 0, 0, &out, &len));
    if (out) ONYX_CHECK(strcmp(out, "[CLS] hello, worlds [UNK] [SEP]") == 0);
    onyx_tokenizer_free_text(out);
    onyx_tokenizer_destroy(t);
}

/* Pair: [CLS] A [SEP] B [SEP], B and its [SEP] with type id 1; offsets of B are into B. The
 * added token [MASK] is matched before normalization (normalized=false), so "[MASK]" in the
 * text gives id 11 even though lowercasing would change it. */
static void test_bert_pair_and_added(void) {
    onyx_tokenizer *t = load(BERT_JSON);
    if (!t) return;
    onyx_encoding *e = NULL;
    ONYX_CHECK_OK(onyx_tokenizer_encode(t, "hello [MASK]", 12, "world", 5, NULL, &e));
    if (e) {
        int64_t ids[] = {2, 4, 11, 3, 5, 3};
        int64_t types[] = {0, 0, 0, 0, 1, 1};
        int64_t seqs[] = {-1, 0, 0, -1, 1, -1};
        int64_t offs[] = {0, 0, 0, 5, 6, 12, 0, 0, 0, 5, 0, 0};
        check_ids(e, ids, 6);
        check_offsets(e, offs, 6);
        for (size_t i = 0; i < 6 && i < e->length; i++) {
            ONYX_CHECK_INT(e->type_ids[i], types[i]);
            ONYX_CHECK_INT(e->sequence_ids[i], seqs[i]);
        }
    }
    onyx_encoding_destroy(e);
    ONYX_CHECK_INT(onyx_tokenizer_token_to_id(t, "[MASK]", 6), 11);
    ONYX_CHECK_INT(onyx_tokenizer_token_to_id(t, "##aff", 5), 9);
    ONYX_CHECK_INT(onyx_tokenizer_token_to_id(t, "nope", 4), -1);
    ONYX_CHECK(onyx_tokenizer_id_to_token(t, 4) && strcmp(onyx_tokenizer_id_to_token(t, 4), "hello") == 0);
    ONYX_CHECK(onyx_tokenizer_id_to_token(t, 99) == NULL);
    ONYX_CHECK_INT(onyx_tokenizer_vocab_size(t), 12);
    onyx_tokenizer_destroy(t);
}

/* Truncation to 4 with [CLS]/[SEP] keeps 2 tokens of "hello world hello world"; the other two
 * come back in overflowing, wrapped the same way. Padding to 6 on the right adds two [PAD] (id 0)
 * with attention 0; on the left they come first. */
static void test_truncation_padding(void) {
    onyx_tokenizer *t = load(BERT_JSON);
    if (!t) return;
    const char *text = "hello world hello world";
    onyx_encode_options o;
    onyx_encode_options_init(&o);
    o.truncation = ONYX_TRUNCATE_LONGEST_FIRST;
    o.max_length = 4;
    o.return_overflowing = 1;
    onyx_encoding *e = NULL;
    ONYX_CHECK_OK(onyx_tokenizer_encode(t, text, strlen(text), NULL, 0, &o, &e));
    if (e) {
        int64_t ids[] = {2, 4, 5, 3};
        check_ids(e, ids, 4);
        ONYX_CHECK_INT(e->overflowing_count, 1);
        if (e->overflowing_count == 1) {
            check_ids(&e->overflowing[0], ids, 4);
            int64_t offs[] = {0, 0, 12, 17, 18, 23, 0, 0};
            check_offsets(&e->overflowing[0], offs, 4);
        }
    }
    onyx_encoding_destroy(e);

    onyx_encode_options_init(&o);
    o.padding = ONYX_PAD_MAX_LENGTH;
    o.padding_length = 6;
    ONYX_CHECK_OK(onyx_tokenizer_encode(t, "hello world", 11, NULL, 0, &o, &e));
    if (e) {
        int64_t ids[] = {2, 4, 5, 3, 0, 0};
        check_ids(e, ids, 6);
        if (e->length == 6) {
            ONYX_CHECK_INT(e->attention_mask[4], 0);
            ONYX_CHECK_INT(e->attention_mask[3], 1);
            ONYX_CHECK(strcmp(e->tokens[5], "[PAD]") == 0);
        }
    }
    onyx_encoding_destroy(e);
    o.padding_side = ONYX_SIDE_LEFT;
    o.pad_to_multiple_of = 4; /* 6 rounds up to 8 */
    ONYX_CHECK_OK(onyx_tokenizer_encode(t, "hello world", 11, NULL, 0, &o, &e));
    if (e) {
        int64_t ids[] = {0, 0, 0, 0, 2, 4, 5, 3};
        check_ids(e, ids, 8);
    }
    onyx_encoding_destroy(e);

    /* A batch padded to its longest member: "hello" (3 with specials) grows to 4. */
    const char *texts[] = {"hello", "hello world"};
    size_t lens[] = {5, 11};
    onyx_encode_options_init(&o);
    o.padding = ONYX_PAD_LONGEST;
    onyx_encoding *batch = NULL;
    ONYX_CHECK_OK(onyx_tokenizer_encode_batch(t, texts, lens, NULL, NULL, 2, &o, &batch));
    if (batch) {
        int64_t ids0[] = {2, 4, 3, 0}, ids1[] = {2, 4, 5, 3};
        check_ids(&batch[0], ids0, 4);
        check_ids(&batch[1], ids1, 4);
    }
    onyx_encoding_batch_destroy(batch, 2);

    /* only_second with nothing to cut from the second sequence is an error, as in HF. */
    onyx_encode_options_init(&o);
    o.truncation = ONYX_TRUNCATE_ONLY_SECOND;
    o.max_length = 5;
    ONYX_CHECK_ERROR(onyx_tokenizer_encode(t, "hello world hello", 17, "world", 5, &o, &e), ONYX_ERR_INVALID_ARGUMENT, "too short");
    onyx_tokenizer_destroy(t);
}

/* "ab ab": the GPT-2 regex gives "ab" and " ab"; bytes map to "ab" and "Ġab". BPE on Ġ,a,b:
 * (a,b) has rank 0 < rank 1 of (Ġ,a), so it merges first, and (Ġ,ab) is no merge: Ġ + ab. */
static void test_bpe_byte_level(void) {
    onyx_tokenizer *t = load(BPE_JSON);
    if (!t) return;
    onyx_encoding *e = NULL;
    ONYX_CHECK_OK(onyx_tokenizer_encode(t, "ab ab", 5, NULL, 0, NULL, &e));
    if (e) {
        int64_t ids[] = {3, 2, 3};
        int64_t offs[] = {0, 2, 2, 3, 3, 5};
        check_ids(e, ids, 3);
        check_offsets(e, offs, 3);
        int64_t words[] = {0, 1, 1};
        for (size_t i = 0; i < 3 && i < e->length; i++) ONYX_CHECK_INT(e->word_ids[i], words[i]);
    }
    onyx_encoding_destroy(e);
    /* " a": Ġ,a merge by rank 1 into Ġa (5). */
    ONYX_CHECK_OK(onyx_tokenizer_encode(t, " a", 2, NULL, 0, NULL, &e));
    if (e) {
        int64_t ids[] = {5};
        check_ids(e, ids, 1);
    }
    onyx_encoding_destroy(e);
    int64_t ids[] = {3, 2, 3, 5};
    char *out = NULL;
    ONYX_CHECK_OK(onyx_tokenizer_decode(t, ids, 4, 1, 0, &out, NULL));
    if (out) ONYX_CHECK(strcmp(out, "ab ab a") == 0);
    onyx_tokenizer_free_text(out);
    onyx_tokenizer_destroy(t);
}

/* Metaspace makes "ab" into "▁ab" (the ▁ aligned with 'a'). Viterbi: ▁ab = -4.5 beats
 * ▁+ab = -6, ▁a+b = -6.5, ▁+a+b = -8. In "abc", c has no piece: it becomes <unk> with score
 * min_score - 10 = -14.5. In "cc" both unknown chars fuse into one <unk>. */
static void test_unigram(void) {
    onyx_tokenizer *t = load(UNIGRAM_JSON);
    if (!t) return;
    onyx_encoding *e = NULL;
    ONYX_CHECK_OK(onyx_tokenizer_encode(t, "ab", 2, NULL, 0, NULL, &e));
    if (e) {
        int64_t ids[] = {5}, offs[] = {0, 2};
        check_ids(e, ids, 1);
        check_offsets(e, offs, 1);
    }
    onyx_encoding_destroy(e);
    ONYX_CHECK_OK(onyx_tokenizer_encode(t, "abc", 3, NULL, 0, NULL, &e));
    if (e) {
        int64_t ids[] = {5, 0}, offs[] = {0, 2, 2, 3};
        check_ids(e, ids, 2);
        check_offsets(e, offs, 2);
    }
    onyx_encoding_destroy(e);
    ONYX_CHECK_OK(onyx_tokenizer_encode(t, "cc", 2, NULL, 0, NULL, &e));
    if (e) {
        int64_t ids[] = {1, 0}, offs[] = {0, 1, 0, 2};
        check_ids(e, ids, 2);
        check_offsets(e, offs, 2);
    }
    onyx_encoding_destroy(e);
    /* "ab b": words "▁ab" and "▁b"; ▁b is ▁ + b = -5. Decode: ▁ -> space, leading one dropped. */
    ONYX_CHECK_OK(onyx_tokenizer_encode(t, "ab b", 4, NULL, 0, NULL, &e));
    if (e) {
        int64_t ids[] = {5, 1, 3}, offs[] = {0, 2, 2, 3, 3, 4};
        check_ids(e, ids, 3);
        check_offsets(e, offs, 3);
        char *out = NULL;
        ONYX_CHECK_OK(onyx_tokenizer_decode(t, e->ids, e->length, 1, 0, &out, NULL));
        if (out) ONYX_CHECK(strcmp(out, "ab b") == 0);
        onyx_tokenizer_free_text(out);
    }
    onyx_encoding_destroy(e);
    onyx_tokenizer_destroy(t);
}

/* Char offsets: "é" is 2 bytes and 1 code point. */
static void test_char_offsets(void) {
    onyx_tokenizer *t = load(UNIGRAM_JSON);
    if (!t) return;
    const char *text = "\xC3\xA9 ab"; /* é ab */
    onyx_encoding *e = NULL;
    ONYX_CHECK_OK(onyx_tokenizer_encode(t, text, strlen(text), NULL, 0, NULL, &e));
    if (e) {
        /* The space becomes the ▁ of "▁ab" and keeps its own offsets, so: ▁ (0,2 bytes, the
         * prepended ▁ takes é's), <unk> é (0,2), ▁ab (2,5) -> chars (0,1) (0,1) (1,4). */
        int64_t byte_offs[] = {0, 2, 0, 2, 2, 5};
        check_offsets(e, byte_offs, 3);
        int64_t chars[6] = {0};
        if (e->length == 3) {
            ONYX_CHECK_OK(onyx_encoding_char_offsets(e, text, strlen(text), NULL, 0, chars));
            int64_t want[] = {0, 1, 0, 1, 1, 4};
            for (int i = 0; i < 6; i++) ONYX_CHECK_INT(chars[i], want[i]);
        }
    }
    onyx_encoding_destroy(e);
    onyx_tokenizer_destroy(t);
}

static void test_invalid_input(void) {
    onyx_tokenizer *t = load(BERT_JSON);
    if (!t) return;
    onyx_encoding *e = NULL;
    ONYX_CHECK_ERROR(onyx_tokenizer_encode(t, "ab\xFF" "cd", 5, NULL, 0, NULL, &e), ONYX_ERR_INVALID_ARGUMENT, "not valid UTF-8 at byte 2");
    ONYX_CHECK(e == NULL);
    /* an overlong encoding of '/' and a lone surrogate */
    ONYX_CHECK_ERROR(onyx_tokenizer_encode(t, "x\xC0\xAF", 3, NULL, 0, NULL, &e), ONYX_ERR_INVALID_ARGUMENT, "at byte 1");
    ONYX_CHECK_ERROR(onyx_tokenizer_encode(t, "ok", 2, "\xED\xA0\x80", 3, NULL, &e), ONYX_ERR_INVALID_ARGUMENT, "pair is not valid UTF-8 at byte 0");
    ONYX_CHECK_ERROR(onyx_tokenizer_encode(t, "ab\xE2\x82", 4, NULL, 0, NULL, &e), ONYX_ERR_INVALID_ARGUMENT, "at byte 2");
    /* empty text: only the specials */
    ONYX_CHECK_OK(onyx_tokenizer_encode(t, "", 0, NULL, 0, NULL, &e));
    if (e) ONYX_CHECK_INT(e->length, 2);
    onyx_encoding_destroy(e);
    onyx_tokenizer_destroy(t);

    onyx_tokenizer *bad = NULL;
    ONYX_CHECK_ERROR(onyx_tokenizer_load_json("{", 1, &bad), ONYX_ERR_INVALID_MODEL, "not valid JSON");
    const char *dropout = "{\"model\":{\"type\":\"BPE\",\"dropout\":0.1,\"vocab\":{},\"merges\":[]}}";
    ONYX_CHECK_ERROR(onyx_tokenizer_load_json(dropout, strlen(dropout), &bad), ONYX_ERR_NOT_IMPLEMENTED, "dropout");
    const char *unknown = "{\"model\":{\"type\":\"WordLevel2\",\"vocab\":{}}}";
    ONYX_CHECK_ERROR(onyx_tokenizer_load_json(unknown, strlen(unknown), &bad), ONYX_ERR_NOT_IMPLEMENTED, "WordLevel2");
    ONYX_CHECK(bad == NULL);
    ONYX_CHECK_ERROR(onyx_tokenizer_load("/nonexistent/tokenizer.json", &bad), ONYX_ERR_IO, "nonexistent");
}

/* User CPU seconds (getrusage) to encode the first n bytes of text with t, checking the token
 * count. User time only: the kernel's time to fault in the encoding's memory (about 600 MB for
 * 5 MB) depends on the machine's memory state, not on the algorithm, and was half the total. */
static double encode_seconds(const onyx_tokenizer *t, const char *text, size_t n, size_t want_len) {
    struct rusage a, b;
    getrusage(RUSAGE_SELF, &a);
    onyx_encoding *e = NULL;
    ONYX_CHECK_OK(onyx_tokenizer_encode(t, text, n, NULL, 0, NULL, &e));
    getrusage(RUSAGE_SELF, &b);
    if (e) ONYX_CHECK_INT(e->length, want_len);
    onyx_encoding_destroy(e);
    return (double)(b.ru_utime.tv_sec - a.ru_utime.tv_sec) + 1e-6 * (double)(b.ru_utime.tv_usec - a.ru_utime.tv_usec);
}

/* 5 MB without spaces must be linear: BPE with a heap, WordPiece capped by
 * max_input_chars_per_word (one [UNK]), Unigram Viterbi O(n * longest piece). Checked as a
 * ratio of user CPU times, so that neither the machine's speed, a sanitizer's slowdown nor the
 * kernel's page faults decide it (process CPU time with system time, against an absolute 4 s,
 * failed in fresh-clone CI runs: 4.5-5.0 s, half of it faulting in memory): 5 MB may take at most
 * 15 times the user time of 1 MB. Linear is 5, quadratic 25. Times under 50 ms count as 50 ms. */
static void test_huge_input(void) {
    size_t n = 5u << 20, small = 1u << 20;
    char *text = malloc(n);
    if (!text) return;
    for (size_t i = 0; i < n; i++) text[i] = (i % 2) ? 'b' : 'a';
    const char *jsons[] = {BPE_JSON, BERT_JSON, UNIGRAM_JSON};
    for (int k = 0; k < 3; k++) {
        onyx_tokenizer *t = load(jsons[k]);
        if (!t) continue;
        double s_small = encode_seconds(t, text, small, k == 1 ? 3 : small / 2);
        double s = encode_seconds(t, text, n, k == 1 ? 3 : n / 2);
        double floor = s_small > 0.05 ? s_small : 0.05;
        if (s > 15 * floor)
            fprintf(stderr, "  tokenizer %d took %.2f user CPU s on 5 MB, %.2f on 1 MB (limit 15x)\n", k, s, s_small);
        ONYX_CHECK(s < 15 * floor);
        onyx_tokenizer_destroy(t);
    }
    free(text);
}

/* Normalizer and pre-tokenizer components through a WordPiece model over single chars. */
static void test_components(void) {
    /* NFD + StripAccents + Lowercase, Whitespace pre-tokenizer ("\w+|[^\w\s]+"): "Café!!" ->
     * "cafe" and "!!"; the e keeps the offsets of é (3,5). Replace "!" -> "?" keeps offsets. */
    const char *json =
        "{\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"NFD\"},{\"type\":\"StripAccents\"},"
        "{\"type\":\"Lowercase\"},{\"type\":\"Replace\",\"pattern\":{\"String\":\"!\"},\"content\":\"?\"}]},"
        "\"pre_tokenizer\":{\"type\":\"Whitespace\"},"
        "\"model\":{\"type\":\"WordPiece\",\"unk_token\":\"[UNK]\",\"continuing_subword_prefix\":\"##\",\"max_input_chars_per_word\":100,"
        "\"vocab\":{\"[UNK]\":0,\"caf\":1,\"##e\":2,\"?\":3,\"##?\":4}}}";
    onyx_tokenizer *t = load(json);
    if (!t) return;
    const char *text = "Caf\xC3\xA9!!";
    onyx_encoding *e = NULL;
    ONYX_CHECK_OK(onyx_tokenizer_encode(t, text, strlen(text), NULL, 0, NULL, &e));
    if (e) {
        int64_t ids[] = {1, 2, 3, 4}, offs[] = {0, 3, 3, 5, 5, 6, 6, 7};
        check_ids(e, ids, 4);
        check_offsets(e, offs, 4);
    }
    onyx_encoding_destroy(e);
    onyx_tokenizer_destroy(t);

    /* Split on digits (individual) and Punctuation isolated, as a Sequence: "a1,2" -> a 1 , 2 */
    const char *json2 =
        "{\"pre_tokenizer\":{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Digits\",\"individual_digits\":true},"
        "{\"type\":\"Punctuation\",\"behavior\":\"Isolated\"}]},"
        "\"model\":{\"type\":\"WordPiece\",\"unk_token\":\"[UNK]\",\"vocab\":{\"[UNK]\":0,\"a\":1,\"1\":2,\",\":3,\"2\":4}}}";
    t = load(json2);
    if (!t) return;
    ONYX_CHECK_OK(onyx_tokenizer_encode(t, "a1,2", 4, NULL, 0, NULL, &e));
    if (e) {
        int64_t ids[] = {1, 2, 3, 4}, words[] = {0, 1, 2, 3};
        check_ids(e, ids, 4);
        for (size_t i = 0; i < 4 && i < e->length; i++) ONYX_CHECK_INT(e->word_ids[i], words[i]);
    }
    onyx_encoding_destroy(e);
    onyx_tokenizer_destroy(t);

    /* Split with a regex, MergedWithPrevious on "-": "x-y-" -> "x-", "y-" */
    const char *json3 =
        "{\"pre_tokenizer\":{\"type\":\"Split\",\"pattern\":{\"Regex\":\"-\"},\"behavior\":\"MergedWithPrevious\",\"invert\":false},"
        "\"model\":{\"type\":\"WordPiece\",\"unk_token\":\"[UNK]\",\"vocab\":{\"[UNK]\":0,\"x-\":1,\"y-\":2}}}";
    t = load(json3);
    if (!t) return;
    ONYX_CHECK_OK(onyx_tokenizer_encode(t, "x-y-", 4, NULL, 0, NULL, &e));
    if (e) {
        int64_t ids[] = {1, 2};
        check_ids(e, ids, 2);
    }
    onyx_encoding_destroy(e);
    onyx_tokenizer_destroy(t);
}

/* BPE with byte_fallback: "a\xE2\x82\xAC" (a€): € is not in the vocab, so its three bytes become
 * <0xE2> <0x82> <0xAC>, each with the offsets of the whole char; ByteFallback + Fuse decode
 * them back. */
static void test_byte_fallback(void) {
    const char *json =
        "{\"model\":{\"type\":\"BPE\",\"unk_token\":\"<unk>\",\"byte_fallback\":true,\"fuse_unk\":true,"
        "\"vocab\":{\"<unk>\":0,\"a\":1,\"<0xE2>\":2,\"<0x82>\":3,\"<0xAC>\":4},\"merges\":[]},"
        "\"decoder\":{\"type\":\"Sequence\",\"decoders\":[{\"type\":\"ByteFallback\"},{\"type\":\"Fuse\"}]}}";
    onyx_tokenizer *t = load(json);
    if (!t) return;
    onyx_encoding *e = NULL;
    ONYX_CHECK_OK(onyx_tokenizer_encode(t, "a\xE2\x82\xAC", 4, NULL, 0, NULL, &e));
    if (e) {
        int64_t ids[] = {1, 2, 3, 4}, offs[] = {0, 1, 1, 4, 1, 4, 1, 4};
        check_ids(e, ids, 4);
        check_offsets(e, offs, 4);
        char *out = NULL;
        ONYX_CHECK_OK(onyx_tokenizer_decode(t, e->ids, e->length, 1, 0, &out, NULL));
        if (out) ONYX_CHECK(strcmp(out, "a\xE2\x82\xAC") == 0);
        onyx_tokenizer_free_text(out);
    }
    onyx_encoding_destroy(e);
    /* Decoding reads byte tokens as HF (Rust's from_str_radix): "<0x+A>" is byte 0x0A, while
     * "<0x-A>" and "<0x A>" are not byte tokens and stay as they are. */
    const char *byte_json =
        "{\"model\":{\"type\":\"BPE\",\"unk_token\":\"<unk>\",\"byte_fallback\":true,"
        "\"vocab\":{\"<unk>\":0,\"<0x+A>\":1,\"<0x-A>\":2,\"<0x A>\":3,\"<0x41>\":4},\"merges\":[]},"
        "\"decoder\":{\"type\":\"ByteFallback\"}}";
    onyx_tokenizer *bt = load(byte_json);
    if (bt) {
        int64_t ids[] = {4, 1, 2, 3};
        char *out = NULL;
        ONYX_CHECK_OK(onyx_tokenizer_decode(bt, ids, 4, 0, 0, &out, NULL));
        if (out && strcmp(out, "A\n<0x-A><0x A>")) fprintf(stderr, "  byte tokens decoded as \"%s\"\n", out);
        if (out) ONYX_CHECK(strcmp(out, "A\n<0x-A><0x A>") == 0);
        onyx_tokenizer_free_text(out);
        onyx_tokenizer_destroy(bt);
    }
    /* "é" (2 bytes) has no byte tokens: <unk>; two of them fuse into one. */
    ONYX_CHECK_OK(onyx_tokenizer_encode(t, "\xC3\xA9\xC3\xA9" "a", 5, NULL, 0, NULL, &e));
    if (e) {
        int64_t ids[] = {0, 1}, offs[] = {0, 4, 4, 5};
        check_ids(e, ids, 2);
        check_offsets(e, offs, 2);
    }
    onyx_encoding_destroy(e);
    onyx_tokenizer_destroy(t);
}

/* Added tokens as HF's AddedVocabulary: "<m>" strips the spaces on both sides into itself;
 * "ab" is single_word, so it matches alone at the start but not inside "abc" or "xab" (those
 * matches are dropped and their text goes to the model). */
static void test_added_tokens(void) {
    const char *json =
        "{\"added_tokens\":[{\"id\":10,\"content\":\"<m>\",\"special\":true,\"lstrip\":true,\"rstrip\":true,\"normalized\":false},"
        "{\"id\":11,\"content\":\"ab\",\"special\":false,\"single_word\":true,\"normalized\":false}],"
        "\"pre_tokenizer\":{\"type\":\"WhitespaceSplit\"},"
        "\"model\":{\"type\":\"WordPiece\",\"unk_token\":\"[UNK]\",\"vocab\":{\"[UNK]\":0,\"x\":1,\"y\":2,\"abc\":4,\"##ab\":5}}}";
    onyx_tokenizer *t = load(json);
    if (!t) return;
    onyx_encoding *e = NULL;
    ONYX_CHECK_OK(onyx_tokenizer_encode(t, "x <m> y", 7, NULL, 0, NULL, &e));
    if (e) {
        int64_t ids[] = {1, 10, 2}, offs[] = {0, 1, 1, 6, 6, 7};
        check_ids(e, ids, 3);
        check_offsets(e, offs, 3);
    }
    onyx_encoding_destroy(e);
    ONYX_CHECK_OK(onyx_tokenizer_encode(t, "ab abc xab", 10, NULL, 0, NULL, &e));
    if (e) {
        int64_t ids[] = {11, 4, 1, 5}, offs[] = {0, 2, 3, 6, 7, 8, 8, 10}, words[] = {0, 1, 2, 2};
        check_ids(e, ids, 4);
        check_offsets(e, offs, 4);
        for (size_t i = 0; i < 4 && i < e->length; i++) ONYX_CHECK_INT(e->word_ids[i], words[i]);
    }
    onyx_encoding_destroy(e);
    /* decode: <m> is special and skipped on request; ab is not special */
    int64_t ids[] = {1, 10, 11};
    char *out = NULL;
    ONYX_CHECK_OK(onyx_tokenizer_decode(t, ids, 3, 1, 0, &out, NULL));
    if (out) ONYX_CHECK(strcmp(out, "x ab") == 0);
    onyx_tokenizer_free_text(out);
    onyx_tokenizer_destroy(t);
}

/* HF's early exit under truncation (tokenizers 0.23, PreTokenizedString::tokenize_with_limit):
 * words are tokenized from the kept side until max_length tokens exist; the others never reach
 * the model, so overflowing pieces only hold what was tokenized, and with left truncation the
 * word ids count from the first kept word. Vocab: one token per letter word. */
static void test_truncation_early_exit(void) {
    const char *json =
        "{\"pre_tokenizer\":{\"type\":\"WhitespaceSplit\"},"
        "\"model\":{\"type\":\"WordPiece\",\"unk_token\":\"[UNK]\",\"vocab\":{\"[UNK]\":0,\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"e\":5,\"##x\":6}}}";
    onyx_tokenizer *t = load(json);
    if (!t) return;
    onyx_encode_options o;
    onyx_encode_options_init(&o);
    o.truncation = ONYX_TRUNCATE_LONGEST_FIRST;
    o.max_length = 2;
    o.return_overflowing = 1;
    onyx_encoding *e = NULL;
    /* words a, b, c, d, e: only a and b are tokenized, so no overflowing piece */
    ONYX_CHECK_OK(onyx_tokenizer_encode(t, "a b c d e", 9, NULL, 0, &o, &e));
    if (e) {
        int64_t ids[] = {1, 2};
        check_ids(e, ids, 2);
        ONYX_CHECK_INT(e->overflowing_count, 0);
    }
    onyx_encoding_destroy(e);
    /* "a bx c": a (1 token), bx (b ##x: total 3 >= 2, stop): keep a b, overflow ##x */
    ONYX_CHECK_OK(onyx_tokenizer_encode(t, "a bx c", 6, NULL, 0, &o, &e));
    if (e) {
        int64_t ids[] = {1, 2}, over[] = {6};
        check_ids(e, ids, 2);
        ONYX_CHECK_INT(e->overflowing_count, 1);
        if (e->overflowing_count == 1) check_ids(&e->overflowing[0], over, 1);
    }
    onyx_encoding_destroy(e);
    /* left: words tokenized from the end: e, d -> kept d e with word ids 0 and 1 */
    o.truncation_side = ONYX_SIDE_LEFT;
    ONYX_CHECK_OK(onyx_tokenizer_encode(t, "a b c d e", 9, NULL, 0, &o, &e));
    if (e) {
        int64_t ids[] = {4, 5}, offs[] = {6, 7, 8, 9};
        check_ids(e, ids, 2);
        check_offsets(e, offs, 2);
        if (e->length == 2) {
            ONYX_CHECK_INT(e->word_ids[0], 0);
            ONYX_CHECK_INT(e->word_ids[1], 1);
        }
        ONYX_CHECK_INT(e->overflowing_count, 0);
    }
    onyx_encoding_destroy(e);
    onyx_tokenizer_destroy(t);
}

/* RobertaProcessing over byte-level BPE ("ab ab" -> ab, Ġ, ab as in test_bpe_byte_level):
 * trim_offsets moves the lone "Ġ" token past its space: (2,3) -> (3,3). Roberta wraps
 * <s> A </s> and <s> A </s> </s> B </s>, and every type id is 0. */
static void test_roberta(void) {
    const char *json =
        "{\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"trim_offsets\":true,\"use_regex\":true},"
        "\"post_processor\":{\"type\":\"RobertaProcessing\",\"sep\":[\"</s>\",7],\"cls\":[\"<s>\",6],\"trim_offsets\":true,\"add_prefix_space\":false},"
        "\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1,\"\\u0120\":2,\"ab\":3,\"\\u0120ab\":4,\"\\u0120a\":5,\"<s>\":6,\"</s>\":7},"
        "\"merges\":[\"a b\",\"\\u0120 a\",\"\\u0120a b\"]}}";
    onyx_tokenizer *t = load(json);
    if (!t) return;
    onyx_encoding *e = NULL;
    ONYX_CHECK_OK(onyx_tokenizer_encode(t, "ab ab", 5, NULL, 0, NULL, &e));
    if (e) {
        int64_t ids[] = {6, 3, 2, 3, 7}, offs[] = {0, 0, 0, 2, 3, 3, 3, 5, 0, 0};
        check_ids(e, ids, 5);
        check_offsets(e, offs, 5);
    }
    onyx_encoding_destroy(e);
    ONYX_CHECK_OK(onyx_tokenizer_encode(t, "ab", 2, "ab", 2, NULL, &e));
    if (e) {
        int64_t ids[] = {6, 3, 7, 7, 3, 7}, seqs[] = {-1, 0, -1, -1, 1, -1};
        check_ids(e, ids, 6);
        for (size_t i = 0; i < 6 && i < e->length; i++) {
            ONYX_CHECK_INT(e->type_ids[i], 0);
            ONYX_CHECK_INT(e->sequence_ids[i], seqs[i]);
        }
    }
    onyx_encoding_destroy(e);
    onyx_tokenizer_destroy(t);
}

/* BPE with end_of_word_suffix: "ab" -> a + b</w> merge to ab</w>; "b" -> b</w>. BPEDecoder turns
 * the suffix into a space except on the last token. */
static void test_bpe_suffix_decoder(void) {
    const char *json =
        "{\"pre_tokenizer\":{\"type\":\"WhitespaceSplit\"},\"decoder\":{\"type\":\"BPEDecoder\",\"suffix\":\"</w>\"},"
        "\"model\":{\"type\":\"BPE\",\"end_of_word_suffix\":\"</w>\",\"vocab\":{\"a\":4,\"b</w>\":2,\"ab</w>\":3},\"merges\":[\"a b</w>\"]}}";
    onyx_tokenizer *t = load(json);
    if (!t) return;
    onyx_encoding *e = NULL;
    ONYX_CHECK_OK(onyx_tokenizer_encode(t, "ab b", 4, NULL, 0, NULL, &e));
    if (e) {
        int64_t ids[] = {3, 2}, offs[] = {0, 2, 3, 4};
        check_ids(e, ids, 2);
        check_offsets(e, offs, 2);
        char *out = NULL;
        ONYX_CHECK_OK(onyx_tokenizer_decode(t, e->ids, e->length, 1, 0, &out, NULL));
        if (out) ONYX_CHECK(strcmp(out, "ab b") == 0);
        onyx_tokenizer_free_text(out);
    }
    onyx_encoding_destroy(e);
    onyx_tokenizer_destroy(t);
}

/* encode_batch gives the same encodings on 1, 2, 3 and OpenMP's default number of threads as
 * one encode call per text (the texts vary in length so that threads finish out of order). */
static void test_batch_threads(void) {
    onyx_tokenizer *t = load(BPE_JSON);
    if (!t) return;
    enum { N = 200 };
    char storage[N][64];
    const char *texts[N];
    size_t lens[N];
    for (size_t i = 0; i < N; i++) {
        size_t len = 0;
        for (size_t w = 0; w < 1 + i % 9 && len + 4 < sizeof storage[i]; w++) len += (size_t)snprintf(storage[i] + len, sizeof storage[i] - len, "%s ", (i + w) % 3 ? "ab" : "a");
        texts[i] = storage[i];
        lens[i] = len;
    }
    const int thread_counts[] = {1, 2, 3, 0};
    for (size_t c = 0; c < sizeof thread_counts / sizeof thread_counts[0]; c++) {
        onyx_encode_options o;
        onyx_encode_options_init(&o);
        o.num_threads = thread_counts[c];
        onyx_encoding *batch = NULL;
        ONYX_CHECK_OK(onyx_tokenizer_encode_batch(t, texts, lens, NULL, NULL, N, &o, &batch));
        for (size_t i = 0; batch && i < N; i++) {
            onyx_encoding *one = NULL;
            ONYX_CHECK_OK(onyx_tokenizer_encode(t, texts[i], lens[i], NULL, 0, &o, &one));
            if (!one) continue;
            int same = one->length == batch[i].length;
            for (size_t k = 0; same && k < one->length; k++)
                same = one->ids[k] == batch[i].ids[k] && !strcmp(one->tokens[k], batch[i].tokens[k]) &&
                       one->offsets[2 * k] == batch[i].offsets[2 * k] && one->offsets[2 * k + 1] == batch[i].offsets[2 * k + 1];
            if (!same) fprintf(stderr, "  num_threads %d: batch item %zu differs from its own encode\n", thread_counts[c], i);
            ONYX_CHECK(same);
            onyx_encoding_destroy(one);
        }
        onyx_encoding_batch_destroy(batch, N);
    }
    onyx_tokenizer_destroy(t);
}

/* SQLite's loop: fail allocation N for N = 1, 2, ... while encoding a pair with truncation,
 * overflowing pieces and padding, until the encode succeeds. Every failure must be
 * ONYX_ERR_OUT_OF_MEMORY with nothing leaked, and the success must equal the run without
 * failures. */
static void test_encode_allocation_failures(void) {
    onyx_tokenizer *t = load(BERT_JSON);
    if (!t) return;
    const char *text = "hello world hello world", *pair = "hello hello";
    onyx_encode_options o;
    onyx_encode_options_init(&o);
    o.truncation = ONYX_TRUNCATE_LONGEST_FIRST;
    o.max_length = 8;
    o.stride = 1;
    o.return_overflowing = 1;
    o.padding = ONYX_PAD_MAX_LENGTH;
    o.padding_length = 10;
    onyx_encoding *want = NULL;
    ONYX_CHECK_OK(onyx_tokenizer_encode(t, text, strlen(text), pair, strlen(pair), &o, &want));
    int done = 0;
    for (uint64_t n = 1; n < 10000 && want && !done; n++) {
        int64_t live = onyx_alloc_live();
        onyx_encoding *e = NULL;
        onyx_alloc_fail_at(n, 0);
        onyx_status st = onyx_tokenizer_encode(t, text, strlen(text), pair, strlen(pair), &o, &e);
        onyx_alloc_fail_at(0, 0);
        if (st == ONYX_OK) {
            done = 1;
            int same = e->length == want->length && e->overflowing_count == want->overflowing_count;
            for (size_t k = 0; same && k < e->length; k++) same = e->ids[k] == want->ids[k] && !strcmp(e->tokens[k], want->tokens[k]);
            if (!same) fprintf(stderr, "  after %llu failed allocations the encoding differs\n", (unsigned long long)n - 1);
            ONYX_CHECK(same);
            onyx_encoding_destroy(e);
        } else {
            if (st != ONYX_ERR_OUT_OF_MEMORY) fprintf(stderr, "  allocation %llu failing gave %s\n", (unsigned long long)n, onyx_status_name(st));
            ONYX_CHECK(st == ONYX_ERR_OUT_OF_MEMORY);
            ONYX_CHECK(e == NULL);
        }
        if (onyx_alloc_live() != live) fprintf(stderr, "  allocation %llu failing leaked %lld blocks\n", (unsigned long long)n, (long long)(onyx_alloc_live() - live));
        ONYX_CHECK_INT(onyx_alloc_live(), live);
    }
    ONYX_CHECK(done);
    onyx_encoding_destroy(want);
    onyx_tokenizer_destroy(t);
}

int main(void) {
    ONYX_TEST_RUN(test_bert_single);
    ONYX_TEST_RUN(test_bert_pair_and_added);
    ONYX_TEST_RUN(test_truncation_padding);
    ONYX_TEST_RUN(test_bpe_byte_level);
    ONYX_TEST_RUN(test_unigram);
    ONYX_TEST_RUN(test_char_offsets);
    ONYX_TEST_RUN(test_invalid_input);
    ONYX_TEST_RUN(test_huge_input);
    ONYX_TEST_RUN(test_components);
    ONYX_TEST_RUN(test_byte_fallback);
    ONYX_TEST_RUN(test_added_tokens);
    ONYX_TEST_RUN(test_truncation_early_exit);
    ONYX_TEST_RUN(test_roberta);
    ONYX_TEST_RUN(test_bpe_suffix_decoder);
    ONYX_TEST_RUN(test_batch_threads);
    ONYX_TEST_RUN(test_encode_allocation_failures);
    return onyx_test_finish();
}
