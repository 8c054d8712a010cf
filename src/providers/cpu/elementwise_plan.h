/*
 * elementwise_plan.h - the loop machinery shared by the CPU elementwise kernels (elementwise.c,
 * elementwise_cast.c): a broadcast plan, one row-function signature, the parallel driver, and
 * the X-macro lists of element types that instantiate one loop template per dtype.
 *
 * A plan describes up to EW_MAX_INPUTS inputs read as the output's shape. Building it drops
 * dims of size 1 and merges neighbouring dims that every input walks contiguously (or not at
 * all), so the common cases collapse to one long row: same shapes -> 1 dim with steps (1,1),
 * a scalar operand -> 1 dim with steps (1,0), a last-dim vector -> rows of C with steps (1,1)
 * and an outer dim in which the vector's stride is 0. The innermost dim of every input then
 * has a step of 0 or 1, so row functions are tight loops over contiguous or repeated elements.
 * The driver walks the outer dims with an index counter on the stack (no allocation) and splits
 * the flat output into equal slices, one per OpenMP thread, when the output is large.
 */
#ifndef ONYX_PROVIDERS_CPU_ELEMENTWISE_PLAN_H
#define ONYX_PROVIDERS_CPU_ELEMENTWISE_PLAN_H

#include <stdint.h>

#include "core/dtype.h"
#include "core/tensor.h"
#include "providers/kernel.h"

#define EW_MAX_INPUTS 3
/* Below this many output elements the driver stays on one thread. */
#define EW_PARALLEL_MIN (1 << 15)
/* and gives each thread at least this many. */
#define EW_PARALLEL_GRAIN (1 << 13)

/* Per-call scalars some row functions read (Clip bounds, IsInf flags, Mean's scale, activation
 * attributes, mixed Pow dtypes).
 * lo/hi hold one element of the tensor's own dtype (the type's extremes when absent). */
typedef struct ew_params {
    union { double f64; float f32; int64_t i64; uint64_t u64; int32_t i32; uint32_t u32;
            int16_t i16; uint16_t u16; int8_t i8; uint8_t u8; } lo, hi;
    int detect_positive, detect_negative;
    double scale;
    float alpha, beta, gamma; /* activation attributes (LeakyRelu, Elu, Selu, HardSigmoid, ...) */
    int shift_left;           /* BitShift direction */
    onyx_dtype dtypes[EW_MAX_INPUTS]; /* the inputs' dtypes, for rows that mix types (Pow) */
} ew_params;

/* One row of n output elements. in[k] points at input k's first element of the row; step[k] is
 * 0 (the element repeats) or 1 (contiguous). out is always contiguous. */
typedef void (*ew_row_fn)(void *out, const void *const *in, const int *step, int64_t n,
                          const ew_params *params);

typedef struct ew_plan {
    int n_inputs;
    int rank;                                  /* collapsed rank, >= 1 */
    int64_t dims[ONYX_MAX_RANK];               /* collapsed output dims */
    int64_t strides[EW_MAX_INPUTS][ONYX_MAX_RANK]; /* element strides of each input per dim */
    size_t in_size[EW_MAX_INPUTS];             /* bytes per element of each input */
    size_t out_size;
    int64_t numel;
} ew_plan;

/* Plan for out (its dims already set) reading inputs[0..n) (all non-NULL, each broadcastable to
 * out's shape). */
void ew_plan_init(ew_plan *plan, const onyx_tensor *out, const onyx_tensor *const *inputs,
                  int n_inputs);
/* Run row over the whole plan; in[k] are the inputs' data pointers. */
void ew_plan_run(const ew_plan *plan, ew_row_fn row, void *out, const void *const *in,
                 const ew_params *params, int threads);

/* Broadcast the shapes of inputs[0..n) (NULL ones skipped) into dims/rank; on failure an error
 * naming the op and both offending shapes. names[k] names input k in messages. */
onyx_status ew_broadcast_inputs(const onyx_kernel_ctx *ctx, const onyx_tensor *const *inputs,
                                int n_inputs, const char *const *names, int64_t *dims, int *rank);

/* Element i of a numeric buffer of dtype dtype (bool included) as double / int64; storing a
 * double into an integer dtype truncates toward zero (NaN -> 0, saturating at the int64 range)
 * and wraps to narrower widths like a C cast from int64. */
double ew_load_f64(const void *data, int64_t i, onyx_dtype dtype);
int64_t ew_load_i64(const void *data, int64_t i, onyx_dtype dtype);
void ew_store_f64(void *data, int64_t i, onyx_dtype dtype, double value);
void ew_store_i64(void *data, int64_t i, onyx_dtype dtype, int64_t value);
int64_t ew_f64_to_i64(double value);
uint64_t ew_f64_to_u64(double value);

/* n float16 values to float32 and back (round to nearest even), with F16C when the CPU has it. */
void ew_f16_to_f32_n(float *dst, const uint16_t *src, int64_t n);
void ew_f32_to_f16_n(uint16_t *dst, const float *src, int64_t n);
/* A float16 row computed by the float32 row row32 of the same op: blocks of the n_inputs
 * inputs are widened into stack buffers, row32 runs, the result is rounded back. */
void ew_f16_staged(ew_row_fn row32, int n_inputs, void *out, const void *const *in,
                   const int *step, int64_t n, const ew_params *params);

/* Kernels of elementwise_cast.c (Cast, CastLike), listed in elementwise.c's table. */
onyx_status ew_cast_prepare(onyx_kernel_ctx *ctx);
onyx_status ew_castlike_prepare(onyx_kernel_ctx *ctx);
onyx_status ew_cast_run(onyx_kernel_ctx *ctx);

/* ---- element type lists ----
 * X(ARGS, DT, T, CT, LOAD, STORE): DT the onyx dtype suffix, T the stored C type, CT the type
 * computed in, LOAD/STORE converting between them (float16/bfloat16 compute in float32). */
#define EW_ID(x) (x)
#define EW_TYPES_FLOAT(X, ...)                                                                    \
    X(__VA_ARGS__, FLOAT32, float, float, EW_ID, EW_ID)                                           \
    X(__VA_ARGS__, FLOAT64, double, double, EW_ID, EW_ID)                                         \
    X(__VA_ARGS__, FLOAT16, uint16_t, float, onyx_f16_to_f32, onyx_f32_to_f16)                    \
    X(__VA_ARGS__, BFLOAT16, uint16_t, float, onyx_bf16_to_f32, onyx_f32_to_bf16)
#define EW_TYPES_SINT(X, ...)                                                                     \
    X(__VA_ARGS__, INT8, int8_t, int8_t, EW_ID, EW_ID)                                            \
    X(__VA_ARGS__, INT16, int16_t, int16_t, EW_ID, EW_ID)                                         \
    X(__VA_ARGS__, INT32, int32_t, int32_t, EW_ID, EW_ID)                                         \
    X(__VA_ARGS__, INT64, int64_t, int64_t, EW_ID, EW_ID)
#define EW_TYPES_UINT(X, ...)                                                                     \
    X(__VA_ARGS__, UINT8, uint8_t, uint8_t, EW_ID, EW_ID)                                         \
    X(__VA_ARGS__, UINT16, uint16_t, uint16_t, EW_ID, EW_ID)                                      \
    X(__VA_ARGS__, UINT32, uint32_t, uint32_t, EW_ID, EW_ID)                                      \
    X(__VA_ARGS__, UINT64, uint64_t, uint64_t, EW_ID, EW_ID)
#define EW_TYPES_INT(X, ...) EW_TYPES_SINT(X, __VA_ARGS__) EW_TYPES_UINT(X, __VA_ARGS__)
#define EW_TYPES_NUMERIC(X, ...) EW_TYPES_FLOAT(X, __VA_ARGS__) EW_TYPES_INT(X, __VA_ARGS__)
#define EW_TYPES_SIGNED(X, ...) EW_TYPES_FLOAT(X, __VA_ARGS__) EW_TYPES_SINT(X, __VA_ARGS__)
#define EW_TYPE_BOOL(X, ...) X(__VA_ARGS__, BOOL, uint8_t, uint8_t, EW_ID, EW_ID)

/* A dispatch table entry [ONYX_DTYPE_DT] = name_DT for a list expansion. */
#define EW_ENTRY(name, DT, T, CT, LOAD, STORE) [ONYX_DTYPE_##DT] = name##_##DT,
/* Size of dispatch tables indexed by dtype code. */
#define EW_DTYPE_COUNT (ONYX_DTYPE_BFLOAT16 + 1)

#endif
