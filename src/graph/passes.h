/*
 * passes.h - graph analyses and rewrites that need no kernels: dtype inference and dead-node
 * removal. Constant folding runs kernels, so it lives in the runtime (runtime/optimize.c).
 */
#ifndef ONYX_GRAPH_PASSES_H
#define ONYX_GRAPH_PASSES_H

#include "graph/ir.h"

/* Fill the dtype of every value that the model did not declare, from op rules (outputs follow
 * their inputs, comparisons give bool, Shape gives int64, Cast follows 'to', ...). Values whose
 * dtype cannot be known stay UNDEFINED. Recurses into subgraphs. */
onyx_status onyx_graph_infer_dtypes(onyx_graph *g);

/* Remove nodes none of whose outputs reach a graph output (directly, or through a subgraph
 * that uses them by name). Returns the number removed in *removed. Keeps topological order. */
onyx_status onyx_graph_remove_dead_nodes(onyx_graph *g, int *removed);

/* Opt level ALL fusions (fusion.c): erf GELU chains become com.microsoft Gelu, and BiasGelu
 * when a bias Add feeds them only; MatMul + bias Add becomes onyx MatMulBias; and the rest that
 * fusion.c lists. Recurses into subgraphs. *fused counts the fusions. flags (ONYX_FUSE_*) turn on
 * fusions that pay on one provider only. */
#define ONYX_FUSE_F32_ATTENTION 1u /* float32 attention into onyx Attention too: the CPU's kernel is
                                      two sgemm calls without the transposes, CUDA's FFMA tiles keep
                                      the scores on chip (sessions set it on both providers) */
#define ONYX_FUSE_TRANSPOSED_B 2u /* MatMul(A, Transpose(X) over the last two axes) into onyx
                                      MatMulBias(A, X) with transB = 1: the CPU's products read X's
                                      rows; CUDA's few-row kernel reads B untransposed, so sessions
                                      with a GPU provider leave it off */
onyx_status onyx_graph_fuse(onyx_graph *g, unsigned flags, int *fused);

/* Weights stored transposed (weight_layout.c): each MatMul and onyx MatMulBias placed on provider
 * whose B is a 2-D float constant of g of a dtype in dtypes (an ONYX_DT mask of float32, float16,
 * bfloat16) read by that node alone becomes onyx MatMulBias with transB = 1, and B's data become
 * (N, K). *count counts them. Subgraphs are left alone. */
onyx_status onyx_graph_transpose_weights(onyx_graph *g, int provider, uint64_t dtypes, int *count);

/* Weights packed in panels (weight_layout.c) for the cpu provider's panel product: the same
 * nodes, float32 only, become onyx MatMulBias with attribute packedN = N, and B's (K, N) data
 * become (ceil(N / ONYX_WEIGHT_PANEL), K, ONYX_WEIGHT_PANEL), each panel's K rows of
 * ONYX_WEIGHT_PANEL columns side by side, the columns past N zero. */
#define ONYX_WEIGHT_PANEL 32
onyx_status onyx_graph_pack_weights(onyx_graph *g, int provider, int *count);
/* Panel q of b (K, N) row-major into dst: K rows of ONYX_WEIGHT_PANEL floats, the columns past N
 * zero (the pass packs every panel once; the cpu provider packs a B that is no constant per call). */
void onyx_pack_panel(const float *b, int64_t K, int64_t N, int64_t q, float *dst);

/* Output output of g is wanted at the last position of its axis 1 only (last_position.c): when
 * it is declared with rank >= 3 and is a MatMul of a 2-D constant (through Identity, Cast,
 * elementwise ops with scalar or 1-D constants and If branches), a Slice of the last row goes in
 * front of the MatMul and *done is 1; otherwise the graph is unchanged and *done 0.
 * ONYX_ERR_INVALID_ARGUMENT when g has no such output. */
onyx_status onyx_graph_keep_last_position(onyx_graph *g, const char *output, int *done);

/* Readers of each value of g into readers[] (n_values): one per node input reading it, and 2
 * more for being a graph output or read by a subgraph (from outside any chain a pass rewrites:
 * a value with readers[v] == 1 has one node reading it and nothing else). */
onyx_status onyx_graph_count_readers(const onyx_graph *g, int *readers);

/* Mark in live[] (one per value of g) the values of g that subgraph sub (at any depth) uses
 * from enclosing scopes. */
void onyx_graph_mark_outer_uses(const onyx_graph *g, const onyx_graph *sub, unsigned char *live);

#endif
