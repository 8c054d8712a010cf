/*
 * pipeline.h - transformers' pipelines in C over a model folder (model.h): the encoder pipelines
 * text-classification, token-classification, question-answering, fill-mask and
 * feature-extraction, and the generative ones text-generation, text2text-generation,
 * summarization and translation.
 *
 * Defaults and results are those of transformers 5's pipelines (TextClassificationPipeline,
 * TokenClassificationPipeline, QuestionAnsweringPipeline, FillMaskPipeline,
 * FeatureExtractionPipeline, TextGenerationPipeline, Text2TextGenerationPipeline,
 * SummarizationPipeline, TranslationPipeline). Where onyx adds something transformers' pipeline
 * does not have, the field says "onyx option". Same conventions as onyx.h: fallible calls return onyx_status with a
 * message in onyx_last_error(); out-parameters are NULL on failure; _destroy(NULL) does nothing.
 *
 * Character offsets (start, end) count Unicode code points of the original text, as Python
 * string indices do. Scores are computed in double precision from the model's float logits.
 *
 * Threads: one pipeline runs one call at a time (it owns a model, whose sessions are not
 * re-entrant); results are plain memory and may be read from any thread.
 */
#ifndef ONYX_PIPELINE_H
#define ONYX_PIPELINE_H

#include "onyx/model.h"
#include "onyx/onyx.h"
#include "onyx/tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

/* text-classification's function_to_apply. DEFAULT: sigmoid when the model has one label or
 * config.json says problem_type "multi_label_classification", softmax otherwise. */
typedef enum onyx_function_to_apply {
    ONYX_FUNCTION_DEFAULT = 0,
    ONYX_FUNCTION_SIGMOID = 1,
    ONYX_FUNCTION_SOFTMAX = 2,
    ONYX_FUNCTION_NONE = 3
} onyx_function_to_apply;

/* token-classification's aggregation_strategy. */
typedef enum onyx_aggregation {
    ONYX_AGGREGATION_NONE = 0,
    ONYX_AGGREGATION_SIMPLE = 1,
    ONYX_AGGREGATION_FIRST = 2,
    ONYX_AGGREGATION_AVERAGE = 3,
    ONYX_AGGREGATION_MAX = 4
} onyx_aggregation;

/* feature-extraction pooling: onyx options (sentence-transformers' poolings), not transformers'. */
typedef enum onyx_pooling {
    ONYX_POOLING_NONE = 0, /* last_hidden_state of every token, as transformers returns it */
    ONYX_POOLING_MEAN = 1, /* mean over the tokens whose attention mask is 1 */
    ONYX_POOLING_CLS = 2   /* the first token's hidden state */
} onyx_pooling;

/* Which of transformers' seq2seq pipelines an ONYX_TASK_SEQ2SEQ_LM pipeline is: they differ in
 * the task_specific_params they read, the language handling, and the key of their results. */
typedef enum onyx_text2text_task {
    ONYX_TEXT2TEXT_GENERATION = 0, /* "text2text-generation": [{"generated_text": ...}] */
    ONYX_TEXT2TEXT_SUMMARIZATION = 1, /* "summarization": [{"summary_text": ...}] */
    ONYX_TEXT2TEXT_TRANSLATION = 2 /* "translation": [{"translation_text": ...}] */
} onyx_text2text_task;

/* top_k: 0 = the task's default (text-classification 1, question-answering 1, fill-mask 5);
 * ONYX_TOP_K_ALL = transformers' top_k=None (text-classification: every label). */
#define ONYX_TOP_K_ALL (-1)

typedef struct onyx_pipeline_options {
    size_t struct_size; /* set by onyx_pipeline_options_init */
    /* Used by onyx_pipeline_create to open the folder (providers, threads, ...). */
    onyx_model_options model;
    /* A tokenizer.json / SentencePiece path used instead of the folder's tokenizer (onyx
     * option, for folders that ship none). NULL = the model's tokenizer. */
    const char *tokenizer_path;
    /* Truncate every input to this many tokens (special tokens included). 0 = config.json's
     * max_position_embeddings when it has one (onyx: transformers' text-classification and
     * fill-mask do not truncate, and fail on texts longer than the model takes); for the
     * generative pipelines 0 = no truncation, as transformers. */
    int64_t max_length;
    int top_k; /* see ONYX_TOP_K_ALL */

    /* text-classification */
    onyx_function_to_apply function_to_apply;
    /* 1: multi-label, 0: not, -1 (default): config.json's problem_type
     * ("multi_label_classification"). */
    int multi_label;

    /* token-classification */
    onyx_aggregation aggregation;
    /* Labels dropped from the results; NULL (default) = {"O"}, transformers' default. */
    const char *const *ignore_labels;
    size_t ignore_label_count;

    /* question-answering */
    int64_t max_answer_len;       /* default 15 */
    int handle_impossible_answer; /* default 0 */
    int64_t max_seq_len;          /* default min(384, max_length) */
    int64_t doc_stride;           /* default min(128, max_seq_len / 2) */
    int64_t max_question_len;     /* default 64 */
    int align_to_words;           /* default 1 */

    /* fill-mask: only score these tokens (NULL = the whole vocabulary). A target that is not
     * one token is replaced by the first token it encodes to, as transformers does. */
    const char *const *targets;
    size_t target_count;
    /* decode's clean_up_tokenization_spaces: fill-mask's sequence and token_str, the generated
     * texts. -1 (default) = the pipeline's default: 1 for fill-mask and text-generation, 0 for
     * text2text-generation, summarization and translation (as transformers' postprocess). */
    int clean_up_tokenization_spaces;

    /* feature-extraction (onyx options) */
    onyx_pooling pooling;
    int normalize; /* 1: divide each output vector by its L2 norm; default 0 */

    /* text-generation (ONYX_TASK_CAUSAL_LM) and the seq2seq pipelines (ONYX_TASK_SEQ2SEQ_LM) */
    onyx_text2text_task text2text; /* which seq2seq pipeline; default ONYX_TEXT2TEXT_GENERATION */
    /* The generation settings (copied at create). NULL (default) = onyx_model_generation_config
     * with the model's config.json "task_specific_params" for the pipeline's task laid over
     * them, as transformers does ("summarization", "translation_<src>_to_<tgt>" or, without
     * src_lang/tgt_lang, the first "translation..." entry, "text2text-generation",
     * "text-generation"; onyx reads max_length/min_length there as the decoder length of
     * seq2seq models, max_new_tokens = max_length - 1, and ignores them for causal LMs, whose
     * max_length counts the prompt). A config given here is used as it is: start from
     * onyx_pipeline_generation_config to keep those defaults. */
    const onyx_generation_config *generation;
    /* Text put before every input before it is tokenized. NULL (default) = the task's:
     * task_specific_params' "prefix" (T5: "summarize: ", "translate English to German: "),
     * else none; M2M100 translation takes none (its tokenizer's translation inputs have no
     * prefix). text-generation leaves the prefix out of the returned text, as transformers.
     * Copied at create. */
    const char *prefix;
    /* text-generation: 1 (default) returns the input text followed by the generated text; 0
     * only the generated text (transformers' return_full_text). */
    int return_full_text;
    /* 1 (default): special tokens (eos, pad) are dropped from the decoded texts. */
    int skip_special_tokens;
    /* 1: the JSON of a result holds "<name>_token_ids" instead of "<name>_text"
     * (transformers' return_tensors=True); the items have both either way. Default 0. */
    int return_tensors;
    /* translation: language codes ("en", "fr"). M2M100 (a tokenizer with "__en__"-style language
     * tokens) needs both: the source token "__<src_lang>__" replaces the tokenizer's default
     * "__en__" as the first token, and generation is forced to start with "__<tgt_lang>__"
     * (forced_bos_token_id). A code without a token is ONYX_ERR_INVALID_ARGUMENT naming it. For
     * other models (T5) they pick task_specific_params' "translation_<src>_to_<tgt>". NULL =
     * none given. Read at create, not kept. */
    const char *src_lang;
    const char *tgt_lang;
} onyx_pipeline_options;

ONYX_API void onyx_pipeline_options_init(onyx_pipeline_options *options);

typedef struct onyx_pipeline onyx_pipeline;

/* A pipeline for task (one of FEATURE_EXTRACTION, SEQUENCE_CLASSIFICATION,
 * TOKEN_CLASSIFICATION, QUESTION_ANSWERING, MASKED_LM, CAUSAL_LM, SEQ2SEQ_LM; ONYX_TASK_AUTO:
 * the folder's task) over the folder dir. options may be NULL. A folder whose task is not the
 * one asked for (checked by the graph outputs) is ONYX_ERR_INVALID_ARGUMENT naming both. Caller
 * owns *out. */
ONYX_API onyx_status onyx_pipeline_create(const char *dir, onyx_task task,
                                          const onyx_pipeline_options *options,
                                          onyx_pipeline **out);
/* The same over a model the caller opened; the model is borrowed and must outlive the
 * pipeline. options->model is not used. */
ONYX_API onyx_status onyx_pipeline_create_from_model(onyx_model *model, onyx_task task,
                                                     const onyx_pipeline_options *options,
                                                     onyx_pipeline **out);
ONYX_API void onyx_pipeline_destroy(onyx_pipeline *pipeline);
/* transformers' pipeline task names: the encoder tasks' names (and "ner"), "text-generation",
 * "text2text-generation", "summarization", "translation" and "translation_<src>_to_<tgt>".
 * Sets *task and, where the name says, options->text2text, ->src_lang and ->tgt_lang (pointing
 * into name, which must outlive the options' use). An unknown name is ONYX_ERR_INVALID_ARGUMENT
 * naming it. */
ONYX_API onyx_status onyx_pipeline_task_from_name(const char *name, onyx_task *task,
                                                  onyx_pipeline_options *options);
ONYX_API onyx_task onyx_pipeline_task(const onyx_pipeline *pipeline);
/* The model the pipeline runs (owned by the pipeline, or the caller's). */
ONYX_API onyx_model *onyx_pipeline_model(onyx_pipeline *pipeline);
/* The tokenizer the pipeline encodes and decodes with (owned by the pipeline or its model). */
ONYX_API const onyx_tokenizer *onyx_pipeline_tokenizer(const onyx_pipeline *pipeline);
/* A generative pipeline's generation settings: options.generation, or the model's defaults
 * with the task's task_specific_params (see there). ONYX_ERR_INVALID_ARGUMENT for other tasks. */
ONYX_API onyx_status onyx_pipeline_generation_config(const onyx_pipeline *pipeline,
                                                     onyx_generation_config *out);

/* ---------------------------------------------------------------------------------------------
 * Results. One onyx_pipeline_output per input, holding items whose fields mean, per task:
 *
 *   task                  label           score   text       index          start, end
 *   text-classification   label           score   -          label id       -1
 *   token-classification  entity /        score   word       token index    chars of the text
 *                         entity_group                       (-1 grouped)
 *   question-answering    -               score   answer     -1             chars of the context
 *   fill-mask             token_str       score   sequence   token id       -1
 *   text-generation,      -               0       generated  input index    -1
 *   text2text, ...                                text
 *
 * Unused strings are NULL. fill-mask inputs with several masks have items for each mask in
 * turn: item i belongs to mask i / (count / mask_count). feature-extraction fills features
 * instead: rows x cols floats, row-major (tokens x hidden, or 1 x hidden when pooled). The
 * generative pipelines have one item per returned sequence (num_return_sequences, best first
 * for beam search), holding its token ids as well: the row onyx_model_generate returned, without
 * padding: the prompt (causal LM; the tokens of prefix + text) or the decoder start token
 * (seq2seq), then the new tokens up to and including the first eos.
 */
typedef struct onyx_pipeline_item {
    const char *label;
    double score;
    const char *text;
    int64_t index;
    int64_t start, end;
    const int64_t *token_ids; /* generative pipelines: token_count ids; NULL otherwise */
    size_t token_count;
} onyx_pipeline_item;

typedef struct onyx_pipeline_output {
    size_t count;
    onyx_pipeline_item *items;
    size_t mask_count; /* fill-mask: masks in the input */
    size_t rows, cols; /* feature-extraction */
    float *features;
} onyx_pipeline_output;

typedef struct onyx_pipeline_result {
    onyx_task task;
    /* How the JSON rendering shapes each output (what transformers returns): */
    int single_item;  /* 1: a dict, not a list (text-classification at the default top_k,
                         question-answering with one answer) */
    int grouped;      /* token-classification with aggregation: entity_group, no index */
    int pooled;       /* feature-extraction with pooling */
    onyx_text2text_task text2text; /* ONYX_TASK_SEQ2SEQ_LM: which pipeline (the JSON key) */
    int tensors;      /* generative: the JSON holds token ids (options.return_tensors) */
    size_t count;     /* inputs */
    onyx_pipeline_output *outputs;
} onyx_pipeline_result;

/* Free a result and everything in it (one call). */
ONYX_API void onyx_pipeline_result_destroy(onyx_pipeline_result *result);

/* ---------------------------------------------------------------------------------------------
 * Running. Each call runs the model on the n inputs as one batch (padded to the longest).
 * Texts are UTF-8 with byte lengths (lens NULL: NUL-terminated); invalid UTF-8 and n == 0 are
 * ONYX_ERR_INVALID_ARGUMENT. Caller owns *out (onyx_pipeline_result_destroy).
 */

/* text-classification (pairs may be NULL, or hold NULL for single texts), token-classification,
 * fill-mask (every text needs the mask token), feature-extraction, and the generative
 * pipelines (pairs NULL; see onyx_pipeline_generate). */
ONYX_API onyx_status onyx_pipeline_run(onyx_pipeline *pipeline, const char *const *texts,
                                       const size_t *lens, const char *const *pairs,
                                       const size_t *pair_lens, size_t n,
                                       onyx_pipeline_result **out);
/* The generative pipelines (onyx_pipeline_run calls this with config NULL): n texts, each
 * generated from on its own (the batch is padded on the left for causal LMs, with pad_token_id
 * or else eos, on the right for seq2seq sources, and masked, which gives the same tokens as runs
 * one by one). config NULL = the pipeline's settings (onyx_pipeline_generation_config); a
 * translation pipeline over M2M100 sets forced_bos_token_id to the target language either way.
 * A causal LM prompt that encodes to no tokens starts from bos_token_id, as transformers. */
ONYX_API onyx_status onyx_pipeline_generate(onyx_pipeline *pipeline, const char *const *texts,
                                            const size_t *lens, size_t n,
                                            const onyx_generation_config *config,
                                            onyx_pipeline_result **out);

/* question-answering: n (question, context) pairs, NUL-terminated. */
ONYX_API onyx_status onyx_pipeline_answer(onyx_pipeline *pipeline, const char *const *questions,
                                          const char *const *contexts, size_t n,
                                          onyx_pipeline_result **out);

/* The JSON text of output index of result, shaped and keyed as transformers' pipeline returns
 * the result of that input: text-classification {"label", "score"} (a list of them when top_k
 * was given), token-classification [{"entity", "score", "index", "word", "start", "end"}] or
 * [{"entity_group", "score", "word", "start", "end"}], question-answering {"score", "start",
 * "end", "answer"} (a list when more than one), fill-mask [{"score", "token", "token_str",
 * "sequence"}] (a list of such lists for several masks), feature-extraction [[[...]]] (1 x
 * tokens x hidden; pooled: a flat [hidden] list), text-generation and text2text-generation
 * [{"generated_text"}], summarization [{"summary_text"}], translation [{"translation_text"}]
 * (one dict per returned sequence; with return_tensors "generated_token_ids", ... instead). round4 = 1: scores and features rounded to 4
 * decimals, printed as Python prints round(x, 4); 0: full precision (%.17g of the double). One
 * line, no trailing newline. Caller frees *out_json with onyx_pipeline_free_text. */
ONYX_API onyx_status onyx_pipeline_result_json(const onyx_pipeline_result *result, size_t index,
                                               int round4, char **out_json);
ONYX_API void onyx_pipeline_free_text(char *text);

/* ---------------------------------------------------------------------------------------------
 * The scoring steps on given logits, callable on their own (tests, other runtimes).
 */

/* text-classification: scores (n_labels) from logits (n_labels) with function (not DEFAULT). */
ONYX_API onyx_status onyx_pipeline_classify_scores(const float *logits, int64_t n_labels,
                                                   onyx_function_to_apply function,
                                                   double *scores);

/* One token of token-classification's input, after special tokens are dropped. */
typedef struct onyx_token_entity {
    const char *word;    /* the token string (transformers: the original text for unknown tokens) */
    const double *scores; /* n_labels softmax scores */
    int64_t index;       /* token index in the encoding */
    int64_t start, end;  /* character offsets */
    int is_subword;
} onyx_token_entity;

/* transformers' TokenClassificationPipeline.aggregate + the ignore_labels filter: tokens
 * (n_tokens) to entities. labels[i] is id2label[i]. join_words(user, words, n, out) must
 * return the tokenizer's convert_tokens_to_string of n token strings in a new onyx_malloc'd
 * string. Caller owns *out (onyx_pipeline_result_destroy); it holds one output. */
typedef onyx_status (*onyx_join_words_fn)(void *user, const char *const *words, size_t n,
                                          char **out);
ONYX_API onyx_status onyx_pipeline_aggregate_tokens(const onyx_token_entity *tokens,
                                                    size_t n_tokens, const char *const *labels,
                                                    int64_t n_labels, onyx_aggregation strategy,
                                                    const char *const *ignore_labels,
                                                    size_t ignore_label_count,
                                                    onyx_join_words_fn join_words, void *user,
                                                    onyx_pipeline_result **out);

/* question-answering's span scoring for one span (transformers' select_starts_ends +
 * decode_spans): start_logits, end_logits, p_mask and attention_mask are (seq); p_mask is 1 for
 * tokens that cannot be in an answer (question, special tokens except CLS). Softmax over the
 * allowed tokens, the null score start[0]*end[0] folded into *min_null_score (when
 * handle_impossible_answer), index 0 then zeroed, and the top_k spans start <= end <
 * start + max_answer_len by start*end written to starts/ends/scores (top_k entries each);
 * *n_spans receives how many. */
ONYX_API onyx_status onyx_pipeline_qa_spans(const float *start_logits, const float *end_logits,
                                            const int64_t *p_mask, const int64_t *attention_mask,
                                            int64_t seq, int top_k, int64_t max_answer_len,
                                            int handle_impossible_answer, double *min_null_score,
                                            int64_t *starts, int64_t *ends, double *scores,
                                            size_t *n_spans);

#ifdef __cplusplus
}
#endif

#endif /* ONYX_PIPELINE_H */
