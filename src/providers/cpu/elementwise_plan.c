/*
 * elementwise_plan.c - broadcast plans and the parallel row driver for the CPU elementwise
 * kernels (see elementwise_plan.h for the idea).
 */
#include "providers/cpu/elementwise_plan.h"

#include <string.h>

#include "core/status.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#include <immintrin.h>
#include <stdatomic.h>
#define EW_HAVE_F16C_PATH 1
#endif

void ew_plan_init(ew_plan *plan, const onyx_tensor *out, const onyx_tensor *const *inputs,
                  int n_inputs) {
    int64_t full[EW_MAX_INPUTS][ONYX_MAX_RANK];
    for (int k = 0; k < n_inputs; k++)
        onyx_broadcast_strides(inputs[k]->dims, inputs[k]->rank, out->dims, out->rank, full[k]);
    memset(plan, 0, sizeof *plan);
    plan->n_inputs = n_inputs;
    plan->out_size = onyx_dtype_size(out->dtype);
    for (int k = 0; k < n_inputs; k++) plan->in_size[k] = onyx_dtype_size(inputs[k]->dtype);
    plan->numel = onyx_shape_numel(out->dims, out->rank);
    int rank = 0;
    for (int d = 0; d < out->rank; d++) {
        if (out->dims[d] == 1) continue; /* size-1 dims never move any index */
        int mergeable = rank > 0;
        for (int k = 0; k < n_inputs && mergeable; k++)
            mergeable = plan->strides[k][rank - 1] == full[k][d] * out->dims[d];
        if (mergeable) {
            plan->dims[rank - 1] *= out->dims[d];
            for (int k = 0; k < n_inputs; k++) plan->strides[k][rank - 1] = full[k][d];
        } else {
            plan->dims[rank] = out->dims[d];
            for (int k = 0; k < n_inputs; k++) plan->strides[k][rank] = full[k][d];
            rank++;
        }
    }
    if (rank == 0) { /* a single element: one row of 1 */
        plan->dims[0] = 1;
        rank = 1;
    }
    plan->rank = rank;
}

/* Output elements [begin, end) of the plan: the tail of one row, whole rows, the head of
 * another (a row is the innermost collapsed dim). */
static void ew_run_range(const ew_plan *plan, ew_row_fn row, void *out, const void *const *in,
                         const ew_params *params, const int *step, int64_t begin, int64_t end) {
    int outer = plan->rank - 1;
    int64_t inner = plan->dims[outer];
    int64_t index[ONYX_MAX_RANK];
    int64_t offset[EW_MAX_INPUTS] = {0};
    int64_t rest = begin / inner, col = begin % inner;
    for (int d = outer - 1; d >= 0; d--) {
        index[d] = rest % plan->dims[d];
        rest /= plan->dims[d];
        for (int k = 0; k < plan->n_inputs; k++) offset[k] += index[d] * plan->strides[k][d];
    }
    const void *ptrs[EW_MAX_INPUTS];
    while (begin < end) {
        int64_t len = inner - col < end - begin ? inner - col : end - begin;
        for (int k = 0; k < plan->n_inputs; k++)
            ptrs[k] = (const char *)in[k] + (offset[k] + (step[k] ? col : 0)) * (int64_t)plan->in_size[k];
        row((char *)out + begin * (int64_t)plan->out_size, ptrs, step, len, params);
        begin += len;
        col = 0;
        for (int d = outer - 1; d >= 0; d--) { /* advance the index counter to the next row */
            for (int k = 0; k < plan->n_inputs; k++) offset[k] += plan->strides[k][d];
            if (++index[d] < plan->dims[d]) break;
            for (int k = 0; k < plan->n_inputs; k++) offset[k] -= index[d] * plan->strides[k][d];
            index[d] = 0;
        }
    }
}

void ew_plan_run(const ew_plan *plan, ew_row_fn row, void *out, const void *const *in,
                 const ew_params *params, int threads) {
    if (plan->numel <= 0) return;
    int step[EW_MAX_INPUTS] = {0};
    for (int k = 0; k < plan->n_inputs; k++) step[k] = plan->strides[k][plan->rank - 1] != 0;
    /* Equal slices of the flat output, one per thread, so a few long rows split as well as
     * many short ones. */
    int64_t numel = plan->numel;
    int chunks = 1;
    if (threads > 1 && numel >= EW_PARALLEL_MIN) {
        int64_t most = numel / EW_PARALLEL_GRAIN; /* keep each thread's slice worth the wake-up */
        chunks = most < threads ? (int)most : threads;
    }
    if (chunks == 1) { /* small tensors (shape arithmetic) skip the OpenMP runtime entirely */
        ew_run_range(plan, row, out, in, params, step, 0, numel);
        return;
    }
    #pragma omp parallel for num_threads(chunks)
    for (int c = 0; c < chunks; c++) {
        int64_t begin = numel / chunks * c + (c < numel % chunks ? c : numel % chunks);
        int64_t len = numel / chunks + (c < numel % chunks);
        ew_run_range(plan, row, out, in, params, step, begin, begin + len);
    }
}

onyx_status ew_broadcast_inputs(const onyx_kernel_ctx *ctx, const onyx_tensor *const *inputs,
                                int n_inputs, const char *const *names, int64_t *dims, int *rank) {
    *rank = 0;
    int first = -1;
    for (int k = 0; k < n_inputs; k++) {
        const onyx_tensor *t = inputs[k];
        if (!t) continue;
        if (first < 0) {
            first = k;
            memcpy(dims, t->dims, (size_t)t->rank * sizeof(int64_t));
            *rank = t->rank;
            continue;
        }
        int64_t merged[ONYX_MAX_RANK];
        int merged_rank;
        if (onyx_broadcast_shape(dims, *rank, t->dims, t->rank, merged, &merged_rank) != 0) {
            char a[256], b[256];
            const char *op = ctx->node ? ctx->node->op_type : "elementwise op";
            if (k == first + 1 || n_inputs == 2)
                return onyx_error(ONYX_ERR_INVALID_ARGUMENT,
                                  "%s: input %d (%s) has shape %s, which does not broadcast with "
                                  "input %d (%s) of shape %s",
                                  op, k, names[k], onyx_shape_describe(t->dims, t->rank, b, sizeof b),
                                  first, names[first],
                                  onyx_shape_describe(inputs[first]->dims, inputs[first]->rank, a, sizeof a));
            return onyx_error(ONYX_ERR_INVALID_ARGUMENT,
                              "%s: input %d (%s) has shape %s, which does not broadcast with the "
                              "shape %s of inputs 0..%d",
                              op, k, names[k], onyx_shape_describe(t->dims, t->rank, b, sizeof b),
                              onyx_shape_describe(dims, *rank, a, sizeof a), k - 1);
        }
        memcpy(dims, merged, (size_t)merged_rank * sizeof(int64_t));
        *rank = merged_rank;
    }
    return ONYX_OK;
}

int64_t ew_f64_to_i64(double value) {
    if (value != value) return 0;
    if (value >= 9223372036854775807.0) return INT64_MAX;
    if (value <= -9223372036854775808.0) return INT64_MIN;
    return (int64_t)value;
}

uint64_t ew_f64_to_u64(double value) {
    if (value != value) return 0;
    if (value < 0) return (uint64_t)ew_f64_to_i64(value); /* wraps like numpy on x86 */
    if (value >= 18446744073709551615.0) return UINT64_MAX;
    return (uint64_t)value;
}

double ew_load_f64(const void *data, int64_t i, onyx_dtype dtype) {
    switch (dtype) {
    case ONYX_DTYPE_FLOAT32: return ((const float *)data)[i];
    case ONYX_DTYPE_FLOAT64: return ((const double *)data)[i];
    case ONYX_DTYPE_FLOAT16: return onyx_f16_to_f32(((const uint16_t *)data)[i]);
    case ONYX_DTYPE_BFLOAT16: return onyx_bf16_to_f32(((const uint16_t *)data)[i]);
    case ONYX_DTYPE_UINT64: return (double)((const uint64_t *)data)[i];
    default: return (double)ew_load_i64(data, i, dtype);
    }
}

int64_t ew_load_i64(const void *data, int64_t i, onyx_dtype dtype) {
    switch (dtype) {
    case ONYX_DTYPE_INT8: return ((const int8_t *)data)[i];
    case ONYX_DTYPE_INT16: return ((const int16_t *)data)[i];
    case ONYX_DTYPE_INT32: return ((const int32_t *)data)[i];
    case ONYX_DTYPE_INT64: return ((const int64_t *)data)[i];
    case ONYX_DTYPE_UINT8: return ((const uint8_t *)data)[i];
    case ONYX_DTYPE_BOOL: return ((const uint8_t *)data)[i] != 0;
    case ONYX_DTYPE_UINT16: return ((const uint16_t *)data)[i];
    case ONYX_DTYPE_UINT32: return ((const uint32_t *)data)[i];
    case ONYX_DTYPE_UINT64: return (int64_t)((const uint64_t *)data)[i];
    default: return ew_f64_to_i64(ew_load_f64(data, i, dtype));
    }
}

void ew_store_i64(void *data, int64_t i, onyx_dtype dtype, int64_t value) {
    switch (dtype) {
    case ONYX_DTYPE_INT8: ((int8_t *)data)[i] = (int8_t)value; break;
    case ONYX_DTYPE_INT16: ((int16_t *)data)[i] = (int16_t)value; break;
    case ONYX_DTYPE_INT32: ((int32_t *)data)[i] = (int32_t)value; break;
    case ONYX_DTYPE_INT64: ((int64_t *)data)[i] = value; break;
    case ONYX_DTYPE_UINT8: ((uint8_t *)data)[i] = (uint8_t)value; break;
    case ONYX_DTYPE_BOOL: ((uint8_t *)data)[i] = value != 0; break;
    case ONYX_DTYPE_UINT16: ((uint16_t *)data)[i] = (uint16_t)value; break;
    case ONYX_DTYPE_UINT32: ((uint32_t *)data)[i] = (uint32_t)value; break;
    case ONYX_DTYPE_UINT64: ((uint64_t *)data)[i] = (uint64_t)value; break;
    default: ew_store_f64(data, i, dtype, (double)value); break;
    }
}

void ew_store_f64(void *data, int64_t i, onyx_dtype dtype, double value) {
    switch (dtype) {
    case ONYX_DTYPE_FLOAT32: ((float *)data)[i] = (float)value; break;
    case ONYX_DTYPE_FLOAT64: ((double *)data)[i] = value; break;
    case ONYX_DTYPE_FLOAT16: ((uint16_t *)data)[i] = onyx_f32_to_f16((float)value); break;
    case ONYX_DTYPE_BFLOAT16: ((uint16_t *)data)[i] = onyx_f32_to_bf16((float)value); break;
    case ONYX_DTYPE_BOOL: ((uint8_t *)data)[i] = value != 0; break;
    case ONYX_DTYPE_UINT64: ((uint64_t *)data)[i] = ew_f64_to_u64(value); break;
    default: ew_store_i64(data, i, dtype, ew_f64_to_i64(value)); break;
    }
}

/* ---- float16 bulk conversion ---- */

#ifdef EW_HAVE_F16C_PATH
__attribute__((target("avx,f16c"))) static void ew_f16_to_f32_f16c(float *dst, const uint16_t *src, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + i))));
    for (; i < n; i++) dst[i] = onyx_f16_to_f32(src[i]);
}
__attribute__((target("avx,f16c"))) static void ew_f32_to_f16_f16c(uint16_t *dst, const float *src, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(dst + i), _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < n; i++) dst[i] = onyx_f32_to_f16(src[i]);
}
/* cpuid traps to the hypervisor in VMs (microseconds), so the answer is kept in an atomic:
 * -1 until first asked; racing first callers store the same value. */
static _Atomic int ew_f16c_known = -1;
static int ew_cpu_has_f16c(void) {
    int known = atomic_load_explicit(&ew_f16c_known, memory_order_relaxed);
    if (known < 0) {
        unsigned eax, ebx, ecx, edx;
        known = __get_cpuid(1, &eax, &ebx, &ecx, &edx) && (ecx & bit_F16C) && __builtin_cpu_supports("avx");
        atomic_store_explicit(&ew_f16c_known, known, memory_order_relaxed);
    }
    return known;
}
#endif

void ew_f16_to_f32_n(float *dst, const uint16_t *src, int64_t n) {
#ifdef EW_HAVE_F16C_PATH
    if (ew_cpu_has_f16c()) {
        ew_f16_to_f32_f16c(dst, src, n);
        return;
    }
#endif
    for (int64_t i = 0; i < n; i++) dst[i] = onyx_f16_to_f32(src[i]);
}

void ew_f32_to_f16_n(uint16_t *dst, const float *src, int64_t n) {
#ifdef EW_HAVE_F16C_PATH
    if (ew_cpu_has_f16c()) {
        ew_f32_to_f16_f16c(dst, src, n);
        return;
    }
#endif
    for (int64_t i = 0; i < n; i++) dst[i] = onyx_f32_to_f16(src[i]);
}

#define EW_STAGE 256 /* elements per staged block: (inputs + 1) * 1 KiB of stack */

void ew_f16_staged(ew_row_fn row32, int n_inputs, void *out, const void *const *in,
                   const int *step, int64_t n, const ew_params *params) {
    float widened[EW_MAX_INPUTS][EW_STAGE], result[EW_STAGE];
    const void *ptrs[EW_MAX_INPUTS];
    for (int64_t done = 0; done < n; done += EW_STAGE) {
        int64_t len = n - done < EW_STAGE ? n - done : EW_STAGE;
        for (int k = 0; k < n_inputs; k++) {
            const uint16_t *src = in[k];
            if (step[k]) ew_f16_to_f32_n(widened[k], src + done, len);
            else widened[k][0] = onyx_f16_to_f32(src[0]);
            ptrs[k] = widened[k];
        }
        row32(result, ptrs, step, len, params);
        ew_f32_to_f16_n((uint16_t *)out + done, result, len);
    }
}
