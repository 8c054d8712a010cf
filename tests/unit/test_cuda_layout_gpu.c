/*
 * test_cuda_layout_gpu.c - the CUDA layout family against the CPU kernels on seeded random
 * inputs, through cuda_op_case.h: Reshape, Flatten, Squeeze, Unsqueeze, Identity, Dropout,
 * Transpose (tiled and strided paths, attention permutations), Expand, Tile, Concat (KV-cache
 * appends, more inputs than one launch takes), Split (every opset form), Slice (negative
 * steps), Trilu, Gather (embedding rows, inner size 1), GatherElements, GatherND (batch_dims),
 * ScatterND (reductions), Constant, ConstantOfShape and Range, over odd sizes (1, 7, 33, 1000),
 * zero sizes and element sizes 1, 2, 4 and 8. Exits 77 without a GPU.
 *
 * Layout ops move bytes, so outputs must match exactly; only ScatterND's float reductions over
 * duplicate indices may round differently (the GPU combines them in any order).
 */
#include <stdint.h>

#include "cuda_op_case.h"

#define EXACT 0, 0

static const onyx_dtype byte_types[] = {ONYX_DTYPE_FLOAT32, ONYX_DTYPE_FLOAT16, ONYX_DTYPE_BFLOAT16,
                                        ONYX_DTYPE_FLOAT64, ONYX_DTYPE_INT64,   ONYX_DTYPE_INT32,
                                        ONYX_DTYPE_INT8,    ONYX_DTYPE_UINT8,   ONYX_DTYPE_BOOL};
#define N_BYTE_TYPES ((int)(sizeof byte_types / sizeof byte_types[0]))

/* One dtype per element size, for the cases that run every size. */
static const onyx_dtype size_types[] = {ONYX_DTYPE_UINT8, ONYX_DTYPE_FLOAT16, ONYX_DTYPE_FLOAT32, ONYX_DTYPE_INT64};
#define N_SIZE_TYPES 4

static const int64_t no_dims[1] = {0}; /* the dims of a scalar (rank 0) */

static void ints_input(opc_case *c, int i, const int64_t *values, int n) {
    int64_t dims[1] = {n};
    opc_input(c, i, ONYX_DTYPE_INT64, dims, 1, values);
}

/* ---- reshape-like copies ---- */

static void test_reshape_family(void) {
    for (int t = 0; t < N_BYTE_TYPES; t++) {
        opc_case c;
        opc_init(&c, "Reshape", 14, 1);
        opc_input(&c, 0, byte_types[t], (int64_t[]){2, 3, 4}, 3, NULL);
        ints_input(&c, 1, (int64_t[]){4, -1, 2}, 3);
        opc_run(&c, EXACT);
    }
    opc_case c;
    opc_init(&c, "Reshape", 14, 1);
    opc_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){0, 7}, 2, NULL);
    ints_input(&c, 1, (int64_t[]){7, 0}, 2);
    opc_attr_int(&c, "allowzero", 1);
    opc_run(&c, EXACT);

    opc_init(&c, "Reshape", 14, 1);
    opc_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){2, 3}, 2, NULL);
    ints_input(&c, 1, (int64_t[]){4, -1}, 2);
    opc_run_expect_error(&c);

    int64_t flatten_axes[] = {0, 1, -1, 3};
    for (int a = 0; a < 4; a++) {
        opc_init(&c, "Flatten", 13, 1);
        opc_attr_int(&c, "axis", flatten_axes[a]);
        opc_input(&c, 0, ONYX_DTYPE_FLOAT16, (int64_t[]){2, 3, 33}, 3, NULL);
        opc_run(&c, EXACT);
    }
    opc_init(&c, "Squeeze", 13, 1);
    opc_input(&c, 0, ONYX_DTYPE_INT64, (int64_t[]){1, 7, 1, 33}, 4, NULL);
    ints_input(&c, 1, (int64_t[]){0, -2}, 2);
    opc_run(&c, EXACT);

    opc_init(&c, "Squeeze", 11, 1);
    opc_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){1, 7, 1}, 3, NULL);
    opc_run(&c, EXACT);

    opc_init(&c, "Unsqueeze", 13, 1);
    opc_input(&c, 0, ONYX_DTYPE_BOOL, (int64_t[]){7, 33}, 2, NULL);
    ints_input(&c, 1, (int64_t[]){0, 3}, 2);
    opc_run(&c, EXACT);

    opc_init(&c, "Unsqueeze", 11, 1); /* axes as an attribute; bfloat16 only from opset 13 */
    opc_attr_ints(&c, "axes", (int64_t[]){-1}, 1);
    opc_input(&c, 0, ONYX_DTYPE_FLOAT16, (int64_t[]){1000}, 1, NULL);
    opc_run(&c, EXACT);

    opc_init(&c, "Unsqueeze", 13, 1);
    opc_input(&c, 0, ONYX_DTYPE_BFLOAT16, (int64_t[]){1000}, 1, NULL);
    ints_input(&c, 1, (int64_t[]){-1}, 1);
    opc_run(&c, EXACT);

    for (int t = 0; t < N_BYTE_TYPES; t++) {
        opc_init(&c, "Identity", 16, 1);
        opc_input(&c, 0, byte_types[t], (int64_t[]){33, 7}, 2, NULL);
        opc_run(&c, EXACT);
    }
    opc_init(&c, "Identity", 16, 1);
    opc_input(&c, 0, ONYX_DTYPE_FLOAT32, no_dims, 0, NULL);
    opc_run(&c, EXACT);
}

static void test_dropout(void) {
    onyx_dtype types[] = {ONYX_DTYPE_FLOAT32, ONYX_DTYPE_FLOAT16, ONYX_DTYPE_BFLOAT16, ONYX_DTYPE_FLOAT64};
    for (int t = 0; t < 4; t++) {
        opc_case c;
        opc_init(&c, "Dropout", 13, 2);
        opc_input(&c, 0, types[t], (int64_t[]){7, 33}, 2, NULL);
        opc_run(&c, EXACT);
    }
    /* opset 7: the mask has the input's dtype */
    onyx_dtype old_types[] = {ONYX_DTYPE_FLOAT32, ONYX_DTYPE_FLOAT16, ONYX_DTYPE_FLOAT64};
    for (int t = 0; t < 3; t++) {
        opc_case c;
        opc_init(&c, "Dropout", 7, 2);
        opc_input(&c, 0, old_types[t], (int64_t[]){1000}, 1, NULL);
        opc_run(&c, EXACT);
    }
    opc_case c;
    opc_init(&c, "Dropout", 12, 1);
    opc_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){0, 3}, 2, NULL);
    opc_run(&c, EXACT);
}

/* ---- Transpose ---- */

typedef struct transpose_case {
    int64_t dims[6];
    int rank;
    int64_t perm[6]; /* perm[0] < 0: no perm attribute (reverse) */
} transpose_case;

static void test_transpose(void) {
    static const transpose_case cases[] = {
        {{33, 1000}, 2, {1, 0}},                       /* tiled */
        {{1000, 33}, 2, {1, 0}},                       /* tiled */
        {{7, 33}, 2, {1, 0}},                          /* narrow plane: strided */
        {{2, 7, 12, 64}, 4, {0, 2, 1, 3}},             /* (B,T,H,D) -> (B,H,T,D) */
        {{2, 12, 7, 64}, 4, {0, 2, 1, 3}},             /* and back */
        {{2, 12, 33, 64}, 4, {0, 1, 3, 2}},            /* K^T: tiled with outer dims */
        {{3, 5, 7}, 3, {0, 2, 1}},
        {{2, 3, 4}, 3, {1, 2, 0}},
        {{2, 3, 4}, 3, {2, 0, 1}},
        {{2, 3, 4}, 3, {-1}},
        {{4, 5, 6, 7, 3}, 5, {4, 0, 3, 1, 2}},
        {{17, 1, 40, 3}, 4, {2, 1, 0, 3}},             /* run of 3 elements */
        {{64, 48, 2}, 3, {1, 0, 2}},                   /* run of 2: vector units */
        {{1, 1}, 2, {1, 0}},
        {{0, 3}, 2, {1, 0}},
        {{5}, 1, {0}},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
        for (int t = 0; t < N_SIZE_TYPES; t++) {
            const transpose_case *tc = &cases[k];
            opc_case c;
            opc_init(&c, "Transpose", 13, 1);
            if (tc->perm[0] >= 0) opc_attr_ints(&c, "perm", tc->perm, tc->rank);
            opc_input(&c, 0, size_types[t], tc->dims, tc->rank, NULL);
            opc_run(&c, EXACT);
        }
    opc_case c;
    opc_init(&c, "Transpose", 13, 1);
    opc_attr_ints(&c, "perm", (int64_t[]){0, 0}, 2);
    opc_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){2, 3}, 2, NULL);
    opc_run_expect_error(&c);
}

/* ---- Expand and Tile ---- */

static void test_expand_tile(void) {
    struct {
        int64_t in[4];
        int in_rank;
        int64_t shape[4];
        int shape_n;
    } expand_cases[] = {
        {{3, 1}, 2, {2, 3, 4}, 3},    {{1}, 1, {7}, 1},          {{2, 1, 1, 33}, 4, {2, 1, 33, 33}, 4},
        {{7}, 1, {33, 1}, 2},         {{1, 5}, 2, {0, 5}, 2},    {{3, 1, 5}, 3, {1, 1000, 1}, 3},
    };
    for (size_t k = 0; k < sizeof expand_cases / sizeof expand_cases[0]; k++)
        for (int t = 0; t < N_SIZE_TYPES; t++) {
            opc_case c;
            opc_init(&c, "Expand", 13, 1);
            opc_input(&c, 0, size_types[t], expand_cases[k].in, expand_cases[k].in_rank, NULL);
            ints_input(&c, 1, expand_cases[k].shape, expand_cases[k].shape_n);
            opc_run(&c, EXACT);
        }
    struct {
        int64_t in[3];
        int rank;
        int64_t repeats[3];
    } tile_cases[] = {
        {{2, 3}, 2, {2, 3}}, {{1, 7}, 2, {33, 1}}, {{0, 3}, 2, {2, 2}}, {{2, 3}, 2, {0, 2}}, {{3, 1, 5}, 3, {1, 7, 2}},
    };
    for (size_t k = 0; k < sizeof tile_cases / sizeof tile_cases[0]; k++)
        for (int t = 0; t < N_SIZE_TYPES; t++) {
            opc_case c;
            opc_init(&c, "Tile", 13, 1);
            opc_input(&c, 0, size_types[t], tile_cases[k].in, tile_cases[k].rank, NULL);
            ints_input(&c, 1, tile_cases[k].repeats, tile_cases[k].rank);
            opc_run(&c, EXACT);
        }
}

/* ---- Concat and Split ---- */

static void test_concat(void) {
    onyx_dtype kv_types[] = {ONYX_DTYPE_FLOAT16, ONYX_DTYPE_FLOAT32, ONYX_DTYPE_BFLOAT16};
    int64_t past_lengths[] = {0, 1, 7, 33};
    for (int t = 0; t < 3; t++)
        for (int p = 0; p < 4; p++) { /* KV cache append: [B,H,past,D] + [B,H,1,D] on axis 2 */
            opc_case c;
            opc_init(&c, "Concat", 13, 1);
            opc_attr_int(&c, "axis", 2);
            opc_input(&c, 0, kv_types[t], (int64_t[]){2, 4, past_lengths[p], 64}, 4, NULL);
            opc_input(&c, 1, kv_types[t], (int64_t[]){2, 4, 1, 64}, 4, NULL);
            opc_run(&c, EXACT);
        }
    for (int t = 0; t < N_SIZE_TYPES; t++) {
        opc_case c; /* odd widths: byte rows that allow no vector unit */
        opc_init(&c, "Concat", 13, 1);
        opc_attr_int(&c, "axis", -1);
        opc_input(&c, 0, size_types[t], (int64_t[]){7, 3}, 2, NULL);
        opc_input(&c, 1, size_types[t], (int64_t[]){7, 1}, 2, NULL);
        opc_input(&c, 2, size_types[t], (int64_t[]){7, 0}, 2, NULL);
        opc_input(&c, 3, size_types[t], (int64_t[]){7, 33}, 2, NULL);
        opc_run(&c, EXACT);
    }
    opc_case c; /* more inputs than one launch batches (8) */
    opc_init(&c, "Concat", 13, 1);
    opc_attr_int(&c, "axis", 0);
    for (int i = 0; i < 16 && i < OPC_MAX_IO; i++)
        opc_input(&c, i, ONYX_DTYPE_INT64, (int64_t[]){1 + i % 3, 5}, 2, NULL);
    opc_run(&c, EXACT);

    opc_init(&c, "Concat", 4, 1);
    opc_attr_int(&c, "axis", 1);
    opc_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){0, 3}, 2, NULL);
    opc_input(&c, 1, ONYX_DTYPE_FLOAT32, (int64_t[]){0, 4}, 2, NULL);
    opc_run(&c, EXACT);

    opc_init(&c, "Concat", 13, 1);
    opc_attr_int(&c, "axis", 0);
    opc_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){2, 3}, 2, NULL);
    opc_input(&c, 1, ONYX_DTYPE_FLOAT32, (int64_t[]){2, 4}, 2, NULL);
    opc_run_expect_error(&c);
}

static void test_split(void) {
    for (int t = 0; t < N_SIZE_TYPES; t++) {
        opc_case c;
        opc_init(&c, "Split", 13, 2); /* sizes as input 1 */
        opc_attr_int(&c, "axis", 1);
        opc_input(&c, 0, size_types[t], (int64_t[]){3, 7}, 2, NULL);
        ints_input(&c, 1, (int64_t[]){2, 5}, 2);
        opc_run(&c, EXACT);

        opc_init(&c, "Split", 18, 3); /* num_outputs: 4, 4, 2 */
        opc_attr_int(&c, "num_outputs", 3);
        opc_input(&c, 0, size_types[t], (int64_t[]){10, 33}, 2, NULL);
        opc_run(&c, EXACT);

        opc_init(&c, "Split", 11, 3); /* sizes as attribute, a zero-size part */
        opc_attr_int(&c, "axis", -1);
        opc_attr_ints(&c, "split", (int64_t[]){1, 0, 32}, 3);
        opc_input(&c, 0, size_types[t], (int64_t[]){2, 7, 33}, 3, NULL);
        opc_run(&c, EXACT);

        opc_init(&c, "Split", 2, 3); /* even parts: q, k, v of a fused projection */
        opc_attr_int(&c, "axis", 2);
        opc_input(&c, 0, size_types[t], (int64_t[]){2, 7, 3 * 64}, 3, NULL);
        opc_run(&c, EXACT);
    }
    opc_case c;
    opc_init(&c, "Split", 13, 2);
    opc_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){0, 4}, 2, NULL);
    opc_attr_int(&c, "axis", 1);
    opc_run(&c, EXACT);

    opc_init(&c, "Split", 13, 2);
    opc_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){7}, 1, NULL);
    opc_run_expect_error(&c);
}

/* ---- Slice ---- */

typedef struct slice_case {
    int64_t dims[4];
    int rank;
    int64_t starts[4], ends[4], axes[4], steps[4];
    int n; /* entries of starts/ends; axes/steps absent when their first entry is INT64_MIN */
} slice_case;

#define NONE_ INT64_MIN

static void test_slice(void) {
    static const slice_case cases[] = {
        {{7, 33}, 2, {1, 0}, {5, 33}, {NONE_}, {NONE_}, 2},
        {{7, 33}, 2, {-1, 0}, {-1000, 33}, {0, 1}, {-2, 3}, 2},
        {{1000}, 1, {INT64_MAX}, {INT64_MIN}, {0}, {-1}, 1},
        {{2, 7, 33}, 3, {0}, {-1}, {-1}, {2}, 1},
        {{2, 12, 33, 64}, 4, {0, 32}, {1, 64}, {0, 3}, {NONE_}, 2}, /* half of the head dim */
        {{7, 33}, 2, {5}, {2}, {0}, {NONE_}, 1},                   /* empty */
        {{3, 4, 5}, 3, {2, 3, 4}, {0, 0, 0}, {0, 1, 2}, {-1, -2, -3}, 3},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
        for (int t = 0; t < N_SIZE_TYPES; t++) {
            const slice_case *sc = &cases[k];
            opc_case c;
            opc_init(&c, "Slice", 13, 1);
            opc_input(&c, 0, size_types[t], sc->dims, sc->rank, NULL);
            ints_input(&c, 1, sc->starts, sc->n);
            ints_input(&c, 2, sc->ends, sc->n);
            if (sc->axes[0] != NONE_) ints_input(&c, 3, sc->axes, sc->n);
            else opc_input_absent(&c, 3);
            if (sc->steps[0] != NONE_) ints_input(&c, 4, sc->steps, sc->n);
            opc_run(&c, EXACT);
        }
    opc_case c;
    opc_init(&c, "Slice", 1, 1); /* opset 1: attributes */
    opc_attr_ints(&c, "starts", (int64_t[]){1, -3}, 2);
    opc_attr_ints(&c, "ends", (int64_t[]){1000, -1}, 2);
    opc_attr_ints(&c, "axes", (int64_t[]){0, 2}, 2);
    opc_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){7, 3, 33}, 3, NULL);
    opc_run(&c, EXACT);

    opc_init(&c, "Slice", 13, 1);
    opc_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){7}, 1, NULL);
    ints_input(&c, 1, (int64_t[]){0}, 1);
    ints_input(&c, 2, (int64_t[]){7}, 1);
    opc_input_absent(&c, 3);
    ints_input(&c, 4, (int64_t[]){0}, 1);
    opc_run_expect_error(&c);
}

/* ---- Trilu ---- */

static void test_trilu(void) {
    int64_t ks[] = {0, 3, -2, 100};
    onyx_dtype types[] = {ONYX_DTYPE_FLOAT32, ONYX_DTYPE_FLOAT16, ONYX_DTYPE_INT64, ONYX_DTYPE_BOOL};
    for (int t = 0; t < 4; t++)
        for (int upper = 0; upper < 2; upper++)
            for (int k = 0; k < 5; k++) {
                opc_case c;
                opc_init(&c, "Trilu", 14, 1);
                opc_attr_int(&c, "upper", upper);
                opc_input(&c, 0, types[t], (int64_t[]){2, 7, 33}, 3, NULL);
                if (k < 4) ints_input(&c, 1, &ks[k], 1);
                opc_run(&c, EXACT);
            }
    opc_case c;
    opc_init(&c, "Trilu", 14, 1);
    opc_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){0, 7, 7}, 3, NULL);
    opc_run(&c, EXACT);
    opc_init(&c, "Trilu", 14, 1);
    opc_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){1000, 1}, 2, NULL);
    opc_run(&c, EXACT);
}

/* ---- Gather family ---- */

static void test_gather(void) {
    onyx_dtype embedding_types[] = {ONYX_DTYPE_FLOAT32, ONYX_DTYPE_FLOAT16, ONYX_DTYPE_BFLOAT16};
    int64_t hidden[] = {64, 768, 33};
    for (int t = 0; t < 3; t++)
        for (int h = 0; h < 3; h++) { /* embedding lookup: [vocab, hidden] by int64 ids, negative ids too */
            opc_case c;
            opc_init(&c, "Gather", 13, 1);
            opc_input(&c, 0, embedding_types[t], (int64_t[]){1000, hidden[h]}, 2, NULL);
            opc_input_range(&c, 1, ONYX_DTYPE_INT64, (int64_t[]){2, 7}, 2, -1000, 999);
            opc_run(&c, EXACT);
        }
    for (int t = 0; t < N_SIZE_TYPES; t++) {
        opc_case c;
        opc_init(&c, "Gather", 13, 1); /* middle axis, int32 indices */
        opc_attr_int(&c, "axis", 1);
        opc_input(&c, 0, size_types[t], (int64_t[]){3, 33, 5}, 3, NULL);
        opc_input_range(&c, 1, ONYX_DTYPE_INT32, (int64_t[]){4, 2}, 2, -33, 32);
        opc_run(&c, EXACT);

        opc_init(&c, "Gather", 13, 1); /* last axis: rows of one element */
        opc_attr_int(&c, "axis", -1);
        opc_input(&c, 0, size_types[t], (int64_t[]){7, 33}, 2, NULL);
        opc_input_range(&c, 1, ONYX_DTYPE_INT64, (int64_t[]){1000}, 1, -33, 32);
        opc_run(&c, EXACT);

        opc_init(&c, "Gather", 11, 1); /* scalar index */
        opc_input(&c, 0, size_types[t], (int64_t[]){7, 33}, 2, NULL);
        opc_input(&c, 1, ONYX_DTYPE_INT64, no_dims, 0, (int64_t[]){-1});
        opc_run(&c, EXACT);
    }
    opc_case c;
    opc_init(&c, "Gather", 13, 1); /* no indices */
    opc_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){7, 3}, 2, NULL);
    opc_input(&c, 1, ONYX_DTYPE_INT64, (int64_t[]){0}, 1, NULL);
    opc_run(&c, EXACT);

    opc_init(&c, "Gather", 13, 1); /* indices into an empty axis */
    opc_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){0, 3}, 2, NULL);
    opc_input(&c, 1, ONYX_DTYPE_INT64, (int64_t[]){2}, 1, (int64_t[]){0, 0});
    opc_run_expect_error(&c);
}

static void test_gather_elements(void) {
    for (int t = 0; t < N_SIZE_TYPES; t++) {
        opc_case c;
        opc_init(&c, "GatherElements", 13, 1);
        opc_attr_int(&c, "axis", 1);
        opc_input(&c, 0, size_types[t], (int64_t[]){3, 33}, 2, NULL);
        opc_input_range(&c, 1, ONYX_DTYPE_INT64, (int64_t[]){3, 7}, 2, -33, 32);
        opc_run(&c, EXACT);

        opc_init(&c, "GatherElements", 13, 1);
        opc_attr_int(&c, "axis", 0);
        opc_input(&c, 0, size_types[t], (int64_t[]){4, 5, 6}, 3, NULL);
        opc_input_range(&c, 1, ONYX_DTYPE_INT32, (int64_t[]){7, 5, 3}, 3, -4, 3);
        opc_run(&c, EXACT);

        opc_init(&c, "GatherElements", 11, 1);
        opc_attr_int(&c, "axis", -1);
        opc_input(&c, 0, size_types[t], (int64_t[]){2, 3, 1000}, 3, NULL);
        opc_input_range(&c, 1, ONYX_DTYPE_INT64, (int64_t[]){2, 3, 5}, 3, 0, 999);
        opc_run(&c, EXACT);
    }
    opc_case c;
    opc_init(&c, "GatherElements", 13, 1);
    opc_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){3, 4}, 2, NULL);
    opc_input(&c, 1, ONYX_DTYPE_INT64, (int64_t[]){0, 4}, 2, NULL);
    opc_run(&c, EXACT);
}

static void test_gather_nd(void) {
    for (int t = 0; t < N_SIZE_TYPES; t++) {
        opc_case c;
        opc_init(&c, "GatherND", 13, 1); /* pairs into [2,3,4]: rows of 4 */
        opc_input(&c, 0, size_types[t], (int64_t[]){2, 3, 4}, 3, NULL);
        opc_input(&c, 1, ONYX_DTYPE_INT64, (int64_t[]){5, 2}, 2, (int64_t[]){0, 0, 1, 2, -1, -3, 0, 1, 1, 1});
        opc_run(&c, EXACT);

        opc_init(&c, "GatherND", 13, 1); /* full tuples: single elements */
        opc_input(&c, 0, size_types[t], (int64_t[]){7, 33}, 2, NULL);
        opc_input_range(&c, 1, ONYX_DTYPE_INT64, (int64_t[]){3, 4, 2}, 3, 0, 6);
        opc_run(&c, EXACT);

        opc_init(&c, "GatherND", 12, 1); /* batch_dims 1 */
        opc_attr_int(&c, "batch_dims", 1);
        opc_input(&c, 0, size_types[t], (int64_t[]){2, 3, 64}, 3, NULL);
        opc_input_range(&c, 1, ONYX_DTYPE_INT64, (int64_t[]){2, 5, 1}, 3, -3, 2);
        opc_run(&c, EXACT);
    }
}

static void test_scatter_nd(void) {
    for (int t = 0; t < N_BYTE_TYPES; t++) {
        opc_case c; /* reduction none, distinct tuples */
        opc_init(&c, "ScatterND", 13, 1);
        opc_input(&c, 0, byte_types[t], (int64_t[]){4, 4, 33}, 3, NULL);
        opc_input(&c, 1, ONYX_DTYPE_INT64, (int64_t[]){3, 2}, 2, (int64_t[]){0, 1, 3, -1, 2, 2});
        opc_input(&c, 2, byte_types[t], (int64_t[]){3, 33}, 2, NULL);
        opc_run(&c, EXACT);

        /* full tuples; the opset 11 row has no bfloat16 (added in opset 13) */
        opc_init(&c, "ScatterND", byte_types[t] == ONYX_DTYPE_BFLOAT16 ? 13 : 11, 1);
        opc_input(&c, 0, byte_types[t], (int64_t[]){1000}, 1, NULL);
        opc_input(&c, 1, ONYX_DTYPE_INT64, (int64_t[]){3, 1}, 2, (int64_t[]){999, 0, -500});
        opc_input(&c, 2, byte_types[t], (int64_t[]){3}, 1, NULL);
        opc_run(&c, EXACT);
    }
    const char *reductions[] = {"add", "mul", "max", "min"};
    onyx_dtype types[] = {ONYX_DTYPE_FLOAT32, ONYX_DTYPE_FLOAT16, ONYX_DTYPE_BFLOAT16, ONYX_DTYPE_FLOAT64,
                          ONYX_DTYPE_INT32,   ONYX_DTYPE_INT64,   ONYX_DTYPE_INT8,     ONYX_DTYPE_UINT8};
    for (int r = 0; r < 4; r++)
        for (int t = 0; t < 8; t++) { /* duplicate tuples combine */
            opc_case c;
            opc_init(&c, "ScatterND", 18, 1);
            opc_attr_string(&c, "reduction", reductions[r]);
            opc_input(&c, 0, types[t], (int64_t[]){4, 7}, 2, NULL);
            opc_input(&c, 1, ONYX_DTYPE_INT64, (int64_t[]){4, 1}, 2, (int64_t[]){1, 1, -1, 0});
            opc_input(&c, 2, types[t], (int64_t[]){4, 7}, 2, NULL);
            int is_float = onyx_dtype_is_float(types[t]);
            opc_run(&c, is_float ? 1e-6 : 0, is_float ? (types[t] == ONYX_DTYPE_FLOAT32 ? 1e-6 : 1e-2) : 0);
        }
    opc_case c;
    opc_init(&c, "ScatterND", 16, 1);
    opc_attr_string(&c, "reduction", "max");
    opc_input(&c, 0, ONYX_DTYPE_FLOAT32, (int64_t[]){4}, 1, NULL);
    opc_input(&c, 1, ONYX_DTYPE_INT64, (int64_t[]){1, 1}, 2, (int64_t[]){0});
    opc_input(&c, 2, ONYX_DTYPE_FLOAT32, (int64_t[]){1}, 1, NULL);
    opc_run_expect_error(&c);
}

/* ---- Constant, ConstantOfShape, Range ---- */

static void test_generators(void) {
    opc_case c;
    float values[6] = {1.5f, -2, 0, 3.25f, 1e30f, -0.0f};
    opc_init(&c, "Constant", 13, 1);
    opc_attr_tensor(&c, "value", ONYX_DTYPE_FLOAT32, (int64_t[]){2, 3}, 2, values);
    opc_run(&c, EXACT);

    opc_init(&c, "Constant", 13, 1);
    opc_attr_ints(&c, "value_ints", (int64_t[]){7, -1, INT64_MAX}, 3);
    opc_run(&c, EXACT);

    opc_init(&c, "Constant", 13, 1);
    opc_attr_float(&c, "value_float", 0.25f);
    opc_run(&c, EXACT);

    struct {
        onyx_dtype dtype;
        uint64_t bits;
    } fills[] = {{ONYX_DTYPE_FLOAT32, 0x3fc00000u}, {ONYX_DTYPE_INT64, 7}, {ONYX_DTYPE_FLOAT16, 0x3c00},
                 {ONYX_DTYPE_BOOL, 1},             {ONYX_DTYPE_INT32, 0}, {ONYX_DTYPE_FLOAT64, UINT64_C(0xbff8000000000000)},
                 {ONYX_DTYPE_INT8, 0xfe}};
    for (size_t f = 0; f < sizeof fills / sizeof fills[0]; f++) {
        opc_init(&c, "ConstantOfShape", 9, 1);
        opc_attr_tensor(&c, "value", fills[f].dtype, (int64_t[]){1}, 1, &fills[f].bits);
        ints_input(&c, 0, (int64_t[]){7, 33}, 2);
        opc_run(&c, EXACT);
    }
    opc_init(&c, "ConstantOfShape", 9, 1); /* no value: float32 zeros */
    ints_input(&c, 0, (int64_t[]){1000}, 1);
    opc_run(&c, EXACT);
    opc_init(&c, "ConstantOfShape", 9, 1);
    ints_input(&c, 0, (int64_t[]){3, 0}, 2);
    opc_run(&c, EXACT);

    float f32[3][3] = {{0.5f, 10, 0.3f}, {10, -3, -0.7f}, {1, 1, 1}};
    for (int k = 0; k < 3; k++) {
        opc_init(&c, "Range", 11, 1);
        for (int i = 0; i < 3; i++) opc_input(&c, i, ONYX_DTYPE_FLOAT32, no_dims, 0, &f32[k][i]);
        opc_run(&c, EXACT);
    }
    double f64[3] = {-1, 1000, 0.1};
    opc_init(&c, "Range", 11, 1);
    for (int i = 0; i < 3; i++) opc_input(&c, i, ONYX_DTYPE_FLOAT64, no_dims, 0, &f64[i]);
    opc_run(&c, EXACT);
    int64_t i64[3] = {1000, -7, -3};
    opc_init(&c, "Range", 11, 1);
    for (int i = 0; i < 3; i++) opc_input(&c, i, ONYX_DTYPE_INT64, no_dims, 0, &i64[i]);
    opc_run(&c, EXACT);
    int32_t i32[3] = {0, 33, 1};
    opc_init(&c, "Range", 11, 1);
    for (int i = 0; i < 3; i++) opc_input(&c, i, ONYX_DTYPE_INT32, no_dims, 0, &i32[i]);
    opc_run(&c, EXACT);
    int16_t i16[3] = {30000, -30000, -7};
    opc_init(&c, "Range", 11, 1);
    for (int i = 0; i < 3; i++) opc_input(&c, i, ONYX_DTYPE_INT16, no_dims, 0, &i16[i]);
    opc_run(&c, EXACT);
}

int main(void) {
    if (!opc_cuda_available()) return 77;
    ONYX_TEST_RUN(test_reshape_family);
    ONYX_TEST_RUN(test_dropout);
    ONYX_TEST_RUN(test_transpose);
    ONYX_TEST_RUN(test_expand_tile);
    ONYX_TEST_RUN(test_concat);
    ONYX_TEST_RUN(test_split);
    ONYX_TEST_RUN(test_slice);
    ONYX_TEST_RUN(test_trilu);
    ONYX_TEST_RUN(test_gather);
    ONYX_TEST_RUN(test_gather_elements);
    ONYX_TEST_RUN(test_gather_nd);
    ONYX_TEST_RUN(test_scatter_nd);
    ONYX_TEST_RUN(test_generators);
    return onyx_test_finish();
}
