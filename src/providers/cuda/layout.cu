/*
 * layout.cu - CUDA kernels of the layout family (layout.c calls the launchers declared in
 * layout_launch.h): strided copies (Transpose, Slice, Expand, Tile), block copies (Concat,
 * Split), Gather, GatherElements, GatherND, ScatterND, Trilu, fills and Range.
 *
 * Layout ops move bytes: kernels copy elements of 1, 2, 4 or 8 bytes as unsigned integers and,
 * where every pointer, row and stride allows it, whole vectors of up to 16 bytes (a copy of
 * float16 rows of 64 elements moves 8 uint4 per row). Each thread computes the source offset
 * of its output element by dividing its flat index by the dims, innermost first; when every
 * index and offset fits in 31 bits the division is a multiply-high by a precomputed magic
 * number (div32) and offsets are 32-bit, otherwise plain int64 division (div64).
 *
 * Transposes whose unit-stride source dim is not the innermost output dim go through 32x32
 * shared-memory tiles, so both the reads and the writes are coalesced. The attention
 * permutations ((B,T,H,D) <-> (B,H,T,D)) keep D contiguous and run as vectorised strided
 * copies of D-element runs.
 *
 * Out-of-range indices cannot be reported from a kernel without a synchronisation: they are
 * clamped to their axis after the negative-index rule (the CPU provider reports them).
 *
 * Legend: es = element size in bytes; "vec" = the unit a kernel moves (an element or a vector).
 */
#include <stdint.h>
#include <type_traits>

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "providers/cuda/layout_launch.h"

// ----------------------------------------------------------------------------
// helpers shared by the kernels

/* Everything but the extern "C" launchers has internal linkage: template kernels of the same
 * name in another .cu file must not be merged with these at link time. */
namespace {

#define THREADS 256
#define MAX_BLOCKS 65536
#define TILE 32
#define TILE_ROWS 8
#define INDEX_MAX_DIMS 12 /* onyx's maximum rank */

/* The unsigned type a kernel moves for a unit of N bytes. */
template <int N> struct unit_of;
template <> struct unit_of<1> { typedef uint8_t type; };
template <> struct unit_of<2> { typedef uint16_t type; };
template <> struct unit_of<4> { typedef uint32_t type; };
template <> struct unit_of<8> { typedef unsigned long long type; };
template <> struct unit_of<16> { typedef uint4 type; };

/* Division by a fixed divisor d in [1, 2^31) of numbers n < 2^31: q = (umulhi(n, m) + n) >> s
 * with s = ceil(log2 d) and m = floor(2^32 (2^s - d) / d) + 1 (the round-up method of Granlund
 * and Montgomery). */
struct div32 {
    typedef uint32_t index;
    typedef int32_t offset;
    uint32_t divisor, multiplier, shift;
    static div32 make(int64_t d) {
        div32 r;
        r.divisor = (uint32_t)d;
        r.shift = 0;
        while ((UINT64_C(1) << r.shift) < (uint64_t)d) r.shift++;
        r.multiplier = (uint32_t)(((UINT64_C(1) << 32) * ((UINT64_C(1) << r.shift) - (uint64_t)d)) / (uint64_t)d + 1);
        return r;
    }
    __device__ __forceinline__ void divmod(uint32_t n, uint32_t &q, uint32_t &r) const {
        q = (__umulhi(n, multiplier) + n) >> shift;
        r = n - q * divisor;
    }
};

struct div64 {
    typedef int64_t index;
    typedef int64_t offset;
    int64_t divisor;
    static div64 make(int64_t d) {
        div64 r;
        r.divisor = d;
        return r;
    }
    __device__ __forceinline__ void divmod(int64_t n, int64_t &q, int64_t &r) const {
        q = n / divisor;
        r = n - q * divisor;
    }
};

/* Numbers below this fit the 32-bit path (div32 needs n < 2^31). */
static const int64_t FITS32 = INT64_C(1) << 31;

static unsigned grid_for(int64_t n, int threads) {
    int64_t blocks = (n + threads - 1) / threads;
    return (unsigned)(blocks < 1 ? 1 : blocks > MAX_BLOCKS ? MAX_BLOCKS : blocks);
}

/* The widest unit (16, 8, 4, 2 or 1 bytes, at least es) that divides every address and byte
 * count OR-ed into bits. Negative multiples of a power of two have the same low zero bits. */
static int unit_bytes_for(uint64_t bits, int64_t es) {
    int v = 16;
    while (v > es && (bits & (uint64_t)(v - 1))) v >>= 1;
    return v;
}

/* An index from the data normalised as ONNX says (negative counts from the end) and clamped
 * to [0, dim); dim >= 1 (callers refuse indexing into an empty axis on the host). */
__device__ __forceinline__ int64_t clamp_index(int64_t v, int64_t dim) {
    if (v < 0) v += dim;
    return v < 0 ? 0 : v >= dim ? dim - 1 : v;
}

// ----------------------------------------------------------------------------
// CUDA kernels

/* Strided gather into contiguous dst: unit i of the output reads src[sum_d i_d * strides[d]]. */
template <typename Div> struct strided_params {
    int rank;
    Div dims[ONYX_CUDA_COPY_MAX_DIMS];
    typename Div::offset strides[ONYX_CUDA_COPY_MAX_DIMS];
    typename Div::index total;
};

template <typename T, typename Div>
__global__ void copy_strided_kernel(T *__restrict__ dst, const T *__restrict__ src,
                                    const __grid_constant__ strided_params<Div> p) {
    typedef typename Div::index I;
    typedef typename Div::offset O;
    for (I i = (I)blockIdx.x * blockDim.x + threadIdx.x; i < p.total; i += (I)gridDim.x * blockDim.x) {
        I rest = i;
        O off = 0;
        for (int d = p.rank - 1; d > 0; d--) {
            I q, r;
            p.dims[d].divmod(rest, q, r);
            off += (O)r * p.strides[d];
            rest = q;
        }
        off += (O)rest * p.strides[0];
        dst[i] = src[off];
    }
}

/* Transpose of (A, B) planes: in src, element (a, b) of a plane is at a + b * src_stride_b (a is
 * the unit-stride dim); in dst at a * dst_stride_a + b. Planes are indexed by the outer dims,
 * each with a src and a dst stride. One block moves one 32x32 tile through shared memory:
 * threadIdx.x runs along a when reading and along b when writing. */
struct transpose_params {
    int64_t A, B, src_stride_b, dst_stride_a;
    int64_t tiles_a, tiles_b, tiles;
    int n_outer;
    int64_t outer_dims[ONYX_CUDA_COPY_MAX_DIMS];
    int64_t outer_src[ONYX_CUDA_COPY_MAX_DIMS];
    int64_t outer_dst[ONYX_CUDA_COPY_MAX_DIMS];
};

template <typename T>
__global__ void transpose_tiled_kernel(T *__restrict__ dst, const T *__restrict__ src,
                                       const __grid_constant__ transpose_params p) {
    __shared__ T tile[TILE][TILE + 1];
    for (int64_t t = blockIdx.x; t < p.tiles; t += gridDim.x) {
        int64_t rest = t / p.tiles_b, tb = t - rest * p.tiles_b;
        int64_t unit = rest / p.tiles_a, ta = rest - unit * p.tiles_a;
        int64_t src_off = 0, dst_off = 0;
        for (int d = p.n_outer - 1; d >= 0; d--) {
            int64_t q = unit / p.outer_dims[d], i = unit - q * p.outer_dims[d];
            src_off += i * p.outer_src[d];
            dst_off += i * p.outer_dst[d];
            unit = q;
        }
        int64_t a0 = ta * TILE, b0 = tb * TILE;
        int64_t a = a0 + threadIdx.x;
        for (int j = threadIdx.y; j < TILE; j += TILE_ROWS) {
            int64_t b = b0 + j;
            if (a < p.A && b < p.B) tile[j][threadIdx.x] = src[src_off + a + b * p.src_stride_b];
        }
        __syncthreads();
        int64_t b = b0 + threadIdx.x;
        for (int j = threadIdx.y; j < TILE; j += TILE_ROWS) {
            int64_t aj = a0 + j;
            if (aj < p.A && b < p.B) dst[dst_off + aj * p.dst_stride_a + b] = tile[threadIdx.x][j];
        }
        __syncthreads();
    }
}

/* Block copies: blockIdx.y picks the segment; rows of row.divisor units, pitches in units. */
#define BLOCK_BATCH 8
template <typename Div> struct block_segment {
    const void *src;
    void *dst;
    Div row;
    typename Div::offset src_pitch, dst_pitch;
    typename Div::index total;
};
template <typename Div> struct block_batch {
    block_segment<Div> seg[BLOCK_BATCH];
};

template <typename T, typename Div>
__global__ void copy_blocks_kernel(const __grid_constant__ block_batch<Div> batch) {
    typedef typename Div::index I;
    typedef typename Div::offset O;
    const block_segment<Div> &s = batch.seg[blockIdx.y];
    const T *__restrict__ src = (const T *)s.src;
    T *__restrict__ dst = (T *)s.dst;
    for (I i = (I)blockIdx.x * blockDim.x + threadIdx.x; i < s.total; i += (I)gridDim.x * blockDim.x) {
        I r, c;
        s.row.divmod(i, r, c);
        dst[(O)r * s.dst_pitch + c] = src[(O)r * s.src_pitch + c];
    }
}

/* Gather, one thread per output unit: data is (outer, axis_dim, row) units, out is
 * (outer, n_idx, row). */
template <typename T, typename IndexT, typename Div>
__global__ void gather_kernel(T *__restrict__ out, const T *__restrict__ data, const IndexT *__restrict__ indices,
                              Div row, Div n_idx, int64_t axis_dim, typename Div::index total) {
    typedef typename Div::index I;
    typedef typename Div::offset O;
    for (I i = (I)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (I)gridDim.x * blockDim.x) {
        I r, c, o, j;
        row.divmod(i, r, c);
        n_idx.divmod(r, o, j);
        O v = (O)clamp_index((int64_t)indices[j], axis_dim);
        out[i] = data[((O)o * (O)axis_dim + v) * (O)row.divisor + c];
    }
}

/* Gather of long rows (embedding lookups): one block per output row. */
template <typename T, typename IndexT>
__global__ void gather_rows_kernel(T *__restrict__ out, const T *__restrict__ data,
                                   const IndexT *__restrict__ indices, int64_t n_idx, int64_t axis_dim, int64_t rows,
                                   int64_t row_units) {
    for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
        int64_t o = r / n_idx, j = r - o * n_idx;
        int64_t v = clamp_index((int64_t)indices[j], axis_dim);
        const T *src = data + (o * axis_dim + v) * row_units;
        T *dst = out + r * row_units;
        for (int64_t c = threadIdx.x; c < row_units; c += blockDim.x) dst[c] = src[c];
    }
}

/* GatherElements: out[i] (i over indices' dims) = data at i with the axis coordinate replaced. */
template <typename Div> struct gather_elements_params {
    int rank, axis;
    Div dims[INDEX_MAX_DIMS];
    typename Div::offset strides[INDEX_MAX_DIMS];
    int64_t axis_dim;
    typename Div::index total;
};

template <typename T, typename IndexT, typename Div>
__global__ void gather_elements_kernel(T *__restrict__ out, const T *__restrict__ data,
                                       const IndexT *__restrict__ indices,
                                       const __grid_constant__ gather_elements_params<Div> p) {
    typedef typename Div::index I;
    typedef typename Div::offset O;
    for (I i = (I)blockIdx.x * blockDim.x + threadIdx.x; i < p.total; i += (I)gridDim.x * blockDim.x) {
        I rest = i;
        O off = 0;
        for (int d = p.rank - 1; d > 0; d--) {
            I q, r;
            p.dims[d].divmod(rest, q, r);
            if (d != p.axis) off += (O)r * p.strides[d];
            rest = q;
        }
        if (p.axis != 0) off += (O)rest * p.strides[0];
        off += (O)clamp_index((int64_t)indices[i], p.axis_dim) * p.strides[p.axis];
        out[i] = data[off];
    }
}

/* GatherND and ScatterND: unit i is element c of the slice of tuple bt = (batch, t); the tuple's
 * k indices select the slice through axis_strides (in units). */
template <typename Div> struct nd_params {
    int k;
    Div slice, tuples;
    int64_t axis_dims[INDEX_MAX_DIMS];
    typename Div::offset axis_strides[INDEX_MAX_DIMS];
    typename Div::offset batch_stride;
    typename Div::index total;
};

template <typename Div>
__device__ __forceinline__ typename Div::offset nd_offset(const nd_params<Div> &p, const int64_t *tuple) {
    typedef typename Div::offset O;
    O off = 0;
    for (int j = 0; j < p.k; j++) off += (O)clamp_index(tuple[j], p.axis_dims[j]) * p.axis_strides[j];
    return off;
}

template <typename T, typename Div>
__global__ void gather_nd_kernel(T *__restrict__ out, const T *__restrict__ data, const int64_t *__restrict__ indices,
                                 const __grid_constant__ nd_params<Div> p) {
    typedef typename Div::index I;
    typedef typename Div::offset O;
    for (I i = (I)blockIdx.x * blockDim.x + threadIdx.x; i < p.total; i += (I)gridDim.x * blockDim.x) {
        I bt, c, b, t;
        p.slice.divmod(i, bt, c);
        p.tuples.divmod(bt, b, t);
        O off = (O)b * p.batch_stride + nd_offset(p, indices + (int64_t)bt * p.k);
        out[i] = data[off + (O)c];
    }
}

template <typename T, typename Div>
__global__ void scatter_nd_kernel(T *__restrict__ out, const int64_t *__restrict__ indices,
                                  const T *__restrict__ updates, const __grid_constant__ nd_params<Div> p) {
    typedef typename Div::index I;
    for (I i = (I)blockIdx.x * blockDim.x + threadIdx.x; i < p.total; i += (I)gridDim.x * blockDim.x) {
        I t, c;
        p.slice.divmod(i, t, c);
        out[nd_offset(p, indices + (int64_t)t * p.k) + (typename Div::offset)c] = updates[i];
    }
}

/* Element codecs for ScatterND's reductions: the stored bits and the type the CPU kernel
 * computes in (float for float32/float16/bfloat16, whose results round the same as the CPU's
 * double arithmetic rounded to the element type; double for float64; the integer itself). */
struct codec_f32 {
    typedef uint32_t bits;
    typedef float value;
    static __device__ float load(uint32_t b) { return __uint_as_float(b); }
    static __device__ uint32_t store(float v) { return __float_as_uint(v); }
};
struct codec_f64 {
    typedef unsigned long long bits;
    typedef double value;
    static __device__ double load(unsigned long long b) { return __longlong_as_double((long long)b); }
    static __device__ unsigned long long store(double v) { return (unsigned long long)__double_as_longlong(v); }
};
struct codec_f16 {
    typedef uint16_t bits;
    typedef float value;
    static __device__ float load(uint16_t b) { return __half2float(__ushort_as_half(b)); }
    static __device__ uint16_t store(float v) { return __half_as_ushort(__float2half_rn(v)); }
};
struct codec_bf16 {
    typedef uint16_t bits;
    typedef float value;
    static __device__ float load(uint16_t b) { return __bfloat162float(__ushort_as_bfloat16(b)); }
    static __device__ uint16_t store(float v) { return __bfloat16_as_ushort(__float2bfloat16_rn(v)); }
};
template <typename Int, typename Bits> struct codec_int {
    typedef Bits bits;
    typedef Int value;
    static __device__ Int load(Bits b) { return (Int)b; }
    static __device__ Bits store(Int v) { return (Bits)v; }
};

/* x (op) u as the CPU kernel writes it: integers wrap (computed in uint64, truncated). */
template <typename V> __device__ __forceinline__ V combine(V x, V u, int reduction) {
    switch (reduction) {
    case ONYX_CUDA_SCATTER_ADD:
        if constexpr (std::is_integral<V>::value) return (V)((unsigned long long)x + (unsigned long long)u);
        else return x + u;
    case ONYX_CUDA_SCATTER_MUL:
        if constexpr (std::is_integral<V>::value) return (V)((unsigned long long)x * (unsigned long long)u);
        else return x * u;
    case ONYX_CUDA_SCATTER_MAX: return u > x ? u : x;
    default: return u < x ? u : x;
    }
}

/* *addr = combine(*addr, u) atomically. Elements of 1 or 2 bytes are updated through a
 * compare-and-swap of the aligned 32-bit word around them (the word's other bytes are written
 * back unchanged, atomically). */
template <typename Codec>
__device__ void atomic_combine(typename Codec::bits *addr, typename Codec::value u, int reduction) {
    typedef typename Codec::bits B;
    if constexpr (sizeof(B) == 8) {
        unsigned long long *word = (unsigned long long *)addr, old = *word, assumed;
        do {
            assumed = old;
            B next = Codec::store(combine(Codec::load((B)assumed), u, reduction));
            old = atomicCAS(word, assumed, (unsigned long long)next);
        } while (assumed != old);
    } else if constexpr (sizeof(B) == 4) {
        unsigned int *word = (unsigned int *)addr, old = *word, assumed;
        do {
            assumed = old;
            B next = Codec::store(combine(Codec::load((B)assumed), u, reduction));
            old = atomicCAS(word, assumed, (unsigned int)next);
        } while (assumed != old);
    } else {
        uintptr_t at = (uintptr_t)addr;
        unsigned int *word = (unsigned int *)(at & ~(uintptr_t)3);
        unsigned int shift = (unsigned int)(at & 3) * 8;
        unsigned int mask = ((1u << (8 * sizeof(B))) - 1u) << shift;
        unsigned int old = *word, assumed;
        do {
            assumed = old;
            B cur = (B)((assumed & mask) >> shift);
            B next = Codec::store(combine(Codec::load(cur), u, reduction));
            old = atomicCAS(word, assumed, (assumed & ~mask) | (((unsigned int)next << shift) & mask));
        } while (assumed != old);
    }
}

typedef codec_int<int8_t, uint8_t> codec_i8;
typedef codec_int<int16_t, uint16_t> codec_i16;
typedef codec_int<int32_t, uint32_t> codec_i32;
typedef codec_int<long long, unsigned long long> codec_i64;
typedef codec_int<uint8_t, uint8_t> codec_u8;
typedef codec_int<uint16_t, uint16_t> codec_u16;
typedef codec_int<uint32_t, uint32_t> codec_u32;
typedef codec_int<unsigned long long, unsigned long long> codec_u64;

template <typename Codec, typename Div>
__global__ void scatter_nd_reduce_kernel(typename Codec::bits *out, const int64_t *__restrict__ indices,
                                         const typename Codec::bits *__restrict__ updates, int reduction,
                                         const __grid_constant__ nd_params<Div> p) {
    typedef typename Div::index I;
    for (I i = (I)blockIdx.x * blockDim.x + threadIdx.x; i < p.total; i += (I)gridDim.x * blockDim.x) {
        I t, c;
        p.slice.divmod(i, t, c);
        typename Div::offset off = nd_offset(p, indices + (int64_t)t * p.k) + (typename Div::offset)c;
        atomic_combine<Codec>(out + off, Codec::load(updates[i]), reduction);
    }
}

/* Trilu on (batch, rows, cols): element (i, j) of a matrix is kept when j >= i + k (upper) or
 * j <= i + k (lower). */
template <typename T, typename Div>
__global__ void trilu_kernel(T *__restrict__ out, const T *__restrict__ in, Div cols, Div rows, int64_t k, int upper,
                             typename Div::index total) {
    typedef typename Div::index I;
    for (I e = (I)blockIdx.x * blockDim.x + threadIdx.x; e < total; e += (I)gridDim.x * blockDim.x) {
        I rc, j, b, i;
        cols.divmod(e, rc, j);
        rows.divmod(rc, b, i);
        int64_t diag = (int64_t)i + k;
        bool keep = upper ? (int64_t)j >= diag : (int64_t)j <= diag;
        out[e] = keep ? in[e] : (T)0;
    }
}

template <typename T> __global__ void fill_kernel(T *__restrict__ out, int64_t n, T value) {
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        out[i] = value;
}

/* start + (float)i * delta with each operation rounded on its own, as the CPU computes it. */
__global__ void range_f32_kernel(float *__restrict__ out, int64_t n, float start, float delta) {
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        out[i] = __fadd_rn(start, __fmul_rn(__ll2float_rn(i), delta));
}

__global__ void range_f64_kernel(double *__restrict__ out, int64_t n, double start, double delta) {
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        out[i] = __dadd_rn(start, __dmul_rn(__ll2double_rn(i), delta));
}

template <typename T> __global__ void range_int_kernel(T *__restrict__ out, int64_t n, int64_t start, int64_t delta) {
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        out[i] = (T)((unsigned long long)start + (unsigned long long)i * (unsigned long long)delta);
}

} // namespace

// ----------------------------------------------------------------------------
// kernel launchers

/* Run F<T>() with T the unit type of `bytes` bytes. */
#define DISPATCH_UNIT(bytes, F)                                                                    \
    switch (bytes) {                                                                               \
    case 1: F(uint8_t); break;                                                                     \
    case 2: F(uint16_t); break;                                                                    \
    case 4: F(uint32_t); break;                                                                    \
    case 8: F(unsigned long long); break;                                                          \
    case 16: F(uint4); break;                                                                      \
    default: return cudaErrorInvalidValue;                                                         \
    }

template <typename Div>
static void launch_copy_strided(void *dst, const void *src, int rank, const int64_t *dims, const int64_t *strides,
                                int64_t total, int unit, cudaStream_t stream) {
    strided_params<Div> p;
    p.rank = rank;
    for (int d = 0; d < rank; d++) {
        p.dims[d] = Div::make(dims[d]);
        p.strides[d] = (typename Div::offset)strides[d];
    }
    p.total = (typename Div::index)total;
    unsigned grid = grid_for(total, THREADS);
#define LAUNCH(T) copy_strided_kernel<T, Div><<<grid, THREADS, 0, stream>>>((T *)dst, (const T *)src, p)
    switch (unit) {
    case 1: LAUNCH(uint8_t); break;
    case 2: LAUNCH(uint16_t); break;
    case 4: LAUNCH(uint32_t); break;
    case 8: LAUNCH(unsigned long long); break;
    default: LAUNCH(uint4); break;
    }
#undef LAUNCH
}

/* The tiled path: plan dim p has src stride 1, the innermost dim is strided in src. */
static cudaError_t launch_transpose_tiled(void *dst, const void *src, const onyx_cuda_copy_plan *plan, int p_dim,
                                          cudaStream_t stream) {
    int last = plan->rank - 1;
    int64_t dst_strides[ONYX_CUDA_COPY_MAX_DIMS], acc = 1;
    for (int d = last; d >= 0; d--) {
        dst_strides[d] = acc;
        acc *= plan->dims[d];
    }
    transpose_params p;
    p.A = plan->dims[p_dim];
    p.B = plan->dims[last];
    p.src_stride_b = plan->src_strides[last];
    p.dst_stride_a = dst_strides[p_dim];
    p.tiles_a = (p.A + TILE - 1) / TILE;
    p.tiles_b = (p.B + TILE - 1) / TILE;
    p.n_outer = 0;
    int64_t units = 1;
    for (int d = 0; d < last; d++) {
        if (d == p_dim) continue;
        p.outer_dims[p.n_outer] = plan->dims[d];
        p.outer_src[p.n_outer] = plan->src_strides[d];
        p.outer_dst[p.n_outer] = dst_strides[d];
        p.n_outer++;
        units *= plan->dims[d];
    }
    p.tiles = p.tiles_a * p.tiles_b * units;
    dim3 block(TILE, TILE_ROWS);
    unsigned grid = (unsigned)(p.tiles < MAX_BLOCKS ? p.tiles : MAX_BLOCKS);
    const char *base = (const char *)src + plan->src_offset * (int64_t)plan->elem_size;
#define LAUNCH(T) transpose_tiled_kernel<T><<<grid, block, 0, stream>>>((T *)dst, (const T *)base, p)
    switch (plan->elem_size) {
    case 1: LAUNCH(uint8_t); break;
    case 2: LAUNCH(uint16_t); break;
    case 4: LAUNCH(uint32_t); break;
    case 8: LAUNCH(unsigned long long); break;
    default: return cudaErrorInvalidValue;
    }
#undef LAUNCH
    return cudaGetLastError();
}

extern "C" cudaError_t onyx_cuda_copy_strided(void *dst, const void *src, const onyx_cuda_copy_plan *plan,
                                              cudaStream_t stream) {
    int64_t es = (int64_t)plan->elem_size;
    if (plan->run <= 0) return cudaSuccess;
    for (int d = 0; d < plan->rank; d++)
        if (plan->dims[d] <= 0) return cudaSuccess;
    const char *base = (const char *)src + plan->src_offset * es;
    if (plan->rank == 0)
        return cudaMemcpyAsync(dst, base, (size_t)(plan->run * es), cudaMemcpyDeviceToDevice, stream);
    if (plan->run == 1 && plan->rank >= 2 && es <= 8) {
        int last = plan->rank - 1;
        for (int p = 0; p < last; p++)
            if (plan->src_strides[p] == 1 && plan->dims[p] >= TILE / 2 && plan->dims[last] >= TILE / 2)
                return launch_transpose_tiled(dst, src, plan, p, stream);
    }
    /* move units of up to 16 bytes: the run becomes an innermost dim of unit stride */
    uint64_t bits = (uint64_t)(uintptr_t)dst | (uint64_t)(uintptr_t)base | (uint64_t)(plan->run * es);
    for (int d = 0; d < plan->rank; d++) bits |= (uint64_t)(plan->src_strides[d] * es);
    int unit = unit_bytes_for(bits, es);
    int64_t dims[ONYX_CUDA_COPY_MAX_DIMS + 1], strides[ONYX_CUDA_COPY_MAX_DIMS + 1], total = 1, extent = 0;
    int rank = 0;
    for (int d = 0; d < plan->rank; d++) {
        dims[rank] = plan->dims[d];
        strides[rank] = plan->src_strides[d] * es / unit;
        rank++;
    }
    int64_t run_units = plan->run * es / unit;
    if (run_units > 1) {
        dims[rank] = run_units;
        strides[rank] = 1;
        rank++;
    }
    if (rank > ONYX_CUDA_COPY_MAX_DIMS) return cudaErrorInvalidValue;
    for (int d = 0; d < rank; d++) {
        total *= dims[d];
        extent += (dims[d] - 1) * (strides[d] < 0 ? -strides[d] : strides[d]);
    }
    if (total < FITS32 && extent < FITS32)
        launch_copy_strided<div32>(dst, base, rank, dims, strides, total, unit, stream);
    else
        launch_copy_strided<div64>(dst, base, rank, dims, strides, total, unit, stream);
    return cudaGetLastError();
}

template <typename Div>
static cudaError_t launch_copy_blocks(const onyx_cuda_block_copy *blocks, int n, int unit, cudaStream_t stream) {
    block_batch<Div> batch;
    int count = 0;
    int64_t max_total = 0;
    for (int i = 0; i < n; i++) {
        const onyx_cuda_block_copy *b = &blocks[i];
        if (b->rows <= 0 || b->row_bytes <= 0) continue;
        block_segment<Div> &s = batch.seg[count++];
        s.src = b->src;
        s.dst = b->dst;
        s.row = Div::make(b->row_bytes / unit);
        s.src_pitch = (typename Div::offset)(b->src_pitch / unit);
        s.dst_pitch = (typename Div::offset)(b->dst_pitch / unit);
        int64_t total = b->rows * (b->row_bytes / unit);
        s.total = (typename Div::index)total;
        if (total > max_total) max_total = total;
    }
    if (count == 0) return cudaSuccess;
    dim3 grid(grid_for(max_total, THREADS), (unsigned)count);
#define LAUNCH(T) copy_blocks_kernel<T, Div><<<grid, THREADS, 0, stream>>>(batch)
    DISPATCH_UNIT(unit, LAUNCH)
#undef LAUNCH
    return cudaGetLastError();
}

extern "C" cudaError_t onyx_cuda_copy_blocks(const onyx_cuda_block_copy *blocks, int n, cudaStream_t stream) {
    for (int first = 0; first < n; first += BLOCK_BATCH) {
        int count = n - first < BLOCK_BATCH ? n - first : BLOCK_BATCH;
        const onyx_cuda_block_copy *group = blocks + first;
        uint64_t bits = 0;
        int fits32 = 1;
        for (int i = 0; i < count; i++) {
            const onyx_cuda_block_copy *b = &group[i];
            if (b->rows <= 0 || b->row_bytes <= 0) continue;
            bits |= (uint64_t)(uintptr_t)b->src | (uint64_t)(uintptr_t)b->dst | (uint64_t)b->row_bytes |
                    (uint64_t)b->src_pitch | (uint64_t)b->dst_pitch;
            int64_t pitch = b->src_pitch > b->dst_pitch ? b->src_pitch : b->dst_pitch;
            if (b->rows * b->row_bytes >= FITS32 || b->rows * pitch >= FITS32) fits32 = 0;
        }
        int unit = unit_bytes_for(bits, 1);
        cudaError_t err = fits32 ? launch_copy_blocks<div32>(group, count, unit, stream)
                                 : launch_copy_blocks<div64>(group, count, unit, stream);
        if (err != cudaSuccess) return err;
    }
    return cudaGetLastError();
}

template <typename IndexT>
static cudaError_t launch_gather(void *out, const void *data, const IndexT *indices, int64_t outer, int64_t axis_dim,
                                 int64_t n_idx, int64_t row_bytes, int unit, cudaStream_t stream) {
    int64_t rows = outer * n_idx, row_units = row_bytes / unit;
    if (row_units >= 64) {
        int threads = row_units >= THREADS ? THREADS : (int)((row_units + 31) / 32 * 32);
        unsigned grid = (unsigned)(rows < MAX_BLOCKS ? rows : MAX_BLOCKS);
#define LAUNCH(T)                                                                                  \
    gather_rows_kernel<T, IndexT><<<grid, threads, 0, stream>>>((T *)out, (const T *)data, indices, n_idx, axis_dim, \
                                                                 rows, row_units)
        DISPATCH_UNIT(unit, LAUNCH)
#undef LAUNCH
        return cudaGetLastError();
    }
    int64_t total = rows * row_units;
    unsigned grid = grid_for(total, THREADS);
    if (total < FITS32 && outer * axis_dim * row_units < FITS32) {
        div32 row = div32::make(row_units), idx = div32::make(n_idx);
#define LAUNCH(T)                                                                                  \
    gather_kernel<T, IndexT, div32><<<grid, THREADS, 0, stream>>>((T *)out, (const T *)data, indices, row, idx, \
                                                                   axis_dim, (uint32_t)total)
        DISPATCH_UNIT(unit, LAUNCH)
#undef LAUNCH
    } else {
        div64 row = div64::make(row_units), idx = div64::make(n_idx);
#define LAUNCH(T)                                                                                  \
    gather_kernel<T, IndexT, div64><<<grid, THREADS, 0, stream>>>((T *)out, (const T *)data, indices, row, idx, \
                                                                   axis_dim, total)
        DISPATCH_UNIT(unit, LAUNCH)
#undef LAUNCH
    }
    return cudaGetLastError();
}

extern "C" cudaError_t onyx_cuda_gather(void *out, const void *data, const void *indices, int index_is_int64,
                                        int64_t outer, int64_t axis_dim, int64_t n_idx, int64_t inner,
                                        size_t elem_size, cudaStream_t stream) {
    int64_t es = (int64_t)elem_size, row_bytes = inner * es;
    if (outer <= 0 || n_idx <= 0 || row_bytes <= 0) return cudaSuccess;
    int unit = unit_bytes_for((uint64_t)(uintptr_t)out | (uint64_t)(uintptr_t)data | (uint64_t)row_bytes, es);
    if (index_is_int64)
        return launch_gather(out, data, (const int64_t *)indices, outer, axis_dim, n_idx, row_bytes, unit, stream);
    return launch_gather(out, data, (const int32_t *)indices, outer, axis_dim, n_idx, row_bytes, unit, stream);
}

template <typename Div, typename IndexT>
static cudaError_t launch_gather_elements(void *out, const void *data, const IndexT *indices, int rank,
                                          const int64_t *idx_dims, const int64_t *data_strides, int axis,
                                          int64_t axis_dim, int64_t total, size_t elem_size, cudaStream_t stream) {
    gather_elements_params<Div> p;
    p.rank = rank;
    p.axis = axis;
    for (int d = 0; d < rank; d++) {
        p.dims[d] = Div::make(idx_dims[d]);
        p.strides[d] = (typename Div::offset)data_strides[d];
    }
    p.axis_dim = axis_dim;
    p.total = (typename Div::index)total;
    unsigned grid = grid_for(total, THREADS);
#define LAUNCH(T)                                                                                  \
    gather_elements_kernel<T, IndexT, Div><<<grid, THREADS, 0, stream>>>((T *)out, (const T *)data, indices, p)
    switch (elem_size) {
    case 1: LAUNCH(uint8_t); break;
    case 2: LAUNCH(uint16_t); break;
    case 4: LAUNCH(uint32_t); break;
    case 8: LAUNCH(unsigned long long); break;
    default: return cudaErrorInvalidValue;
    }
#undef LAUNCH
    return cudaGetLastError();
}

extern "C" cudaError_t onyx_cuda_gather_elements(void *out, const void *data, const void *indices,
                                                 int index_is_int64, int rank, const int64_t *idx_dims,
                                                 const int64_t *data_strides, int axis, int64_t axis_dim,
                                                 size_t elem_size, cudaStream_t stream) {
    if (rank < 1 || rank > INDEX_MAX_DIMS) return cudaErrorInvalidValue;
    int64_t total = 1, extent = (axis_dim - 1) * data_strides[axis];
    for (int d = 0; d < rank; d++) {
        total *= idx_dims[d];
        if (d != axis) extent += (idx_dims[d] - 1) * data_strides[d];
    }
    if (total <= 0) return cudaSuccess;
    int fits32 = total < FITS32 && extent < FITS32;
    if (index_is_int64) {
        const int64_t *idx = (const int64_t *)indices;
        return fits32 ? launch_gather_elements<div32>(out, data, idx, rank, idx_dims, data_strides, axis, axis_dim,
                                                      total, elem_size, stream)
                      : launch_gather_elements<div64>(out, data, idx, rank, idx_dims, data_strides, axis, axis_dim,
                                                      total, elem_size, stream);
    }
    const int32_t *idx = (const int32_t *)indices;
    return fits32 ? launch_gather_elements<div32>(out, data, idx, rank, idx_dims, data_strides, axis, axis_dim, total,
                                                  elem_size, stream)
                  : launch_gather_elements<div64>(out, data, idx, rank, idx_dims, data_strides, axis, axis_dim, total,
                                                  elem_size, stream);
}

/* nd_params for units of `unit` bytes: slice, strides and batch_stride are in elements of es
 * bytes and divisible into units (the caller picked unit so). */
template <typename Div>
static nd_params<Div> make_nd_params(int64_t tuples, int k, int64_t slice_units, int64_t batch_stride,
                                     const int64_t *axis_dims, const int64_t *axis_strides, int64_t es, int unit,
                                     int64_t total) {
    nd_params<Div> p;
    p.k = k;
    p.slice = Div::make(slice_units);
    p.tuples = Div::make(tuples);
    for (int j = 0; j < k; j++) {
        p.axis_dims[j] = axis_dims[j];
        p.axis_strides[j] = (typename Div::offset)(axis_strides[j] * es / unit);
    }
    p.batch_stride = (typename Div::offset)(batch_stride * es / unit);
    p.total = (typename Div::index)total;
    return p;
}

extern "C" cudaError_t onyx_cuda_gather_nd(void *out, const void *data, const int64_t *indices, int64_t batches,
                                           int64_t tuples, int k, int64_t slice, int64_t batch_stride,
                                           const int64_t *axis_dims, const int64_t *axis_strides, size_t elem_size,
                                           cudaStream_t stream) {
    if (k < 1 || k > INDEX_MAX_DIMS) return cudaErrorInvalidValue;
    int64_t es = (int64_t)elem_size;
    if (batches <= 0 || tuples <= 0 || slice <= 0) return cudaSuccess;
    uint64_t bits = (uint64_t)(uintptr_t)out | (uint64_t)(uintptr_t)data | (uint64_t)(slice * es) |
                    (uint64_t)(batch_stride * es);
    for (int j = 0; j < k; j++) bits |= (uint64_t)(axis_strides[j] * es);
    int unit = unit_bytes_for(bits, es);
    int64_t slice_units = slice * es / unit, total = batches * tuples * slice_units;
    unsigned grid = grid_for(total, THREADS);
    if (total < FITS32 && batches * batch_stride * es / unit < FITS32) {
        nd_params<div32> p =
            make_nd_params<div32>(tuples, k, slice_units, batch_stride, axis_dims, axis_strides, es, unit, total);
#define LAUNCH(T) gather_nd_kernel<T, div32><<<grid, THREADS, 0, stream>>>((T *)out, (const T *)data, indices, p)
        DISPATCH_UNIT(unit, LAUNCH)
#undef LAUNCH
    } else {
        nd_params<div64> p =
            make_nd_params<div64>(tuples, k, slice_units, batch_stride, axis_dims, axis_strides, es, unit, total);
#define LAUNCH(T) gather_nd_kernel<T, div64><<<grid, THREADS, 0, stream>>>((T *)out, (const T *)data, indices, p)
        DISPATCH_UNIT(unit, LAUNCH)
#undef LAUNCH
    }
    return cudaGetLastError();
}

template <typename Div>
static cudaError_t launch_scatter_nd_reduce(void *out, const int64_t *indices, const void *updates,
                                            const nd_params<Div> &p, int type, int reduction, cudaStream_t stream) {
    unsigned grid = grid_for((int64_t)p.total, THREADS);
#define LAUNCH(C)                                                                                  \
    scatter_nd_reduce_kernel<C, Div><<<grid, THREADS, 0, stream>>>(                                \
        (C::bits *)out, indices, (const C::bits *)updates, reduction, p)
    switch (type) {
    case ONYX_CUDA_TYPE_FLOAT32: LAUNCH(codec_f32); break;
    case ONYX_CUDA_TYPE_FLOAT64: LAUNCH(codec_f64); break;
    case ONYX_CUDA_TYPE_FLOAT16: LAUNCH(codec_f16); break;
    case ONYX_CUDA_TYPE_BFLOAT16: LAUNCH(codec_bf16); break;
    case ONYX_CUDA_TYPE_INT8: LAUNCH(codec_i8); break;
    case ONYX_CUDA_TYPE_INT16: LAUNCH(codec_i16); break;
    case ONYX_CUDA_TYPE_INT32: LAUNCH(codec_i32); break;
    case ONYX_CUDA_TYPE_INT64: LAUNCH(codec_i64); break;
    case ONYX_CUDA_TYPE_UINT8: LAUNCH(codec_u8); break;
    case ONYX_CUDA_TYPE_UINT16: LAUNCH(codec_u16); break;
    case ONYX_CUDA_TYPE_UINT32: LAUNCH(codec_u32); break;
    case ONYX_CUDA_TYPE_UINT64: LAUNCH(codec_u64); break;
    default: return cudaErrorInvalidValue;
    }
#undef LAUNCH
    return cudaGetLastError();
}

static int64_t type_size(int type) {
    switch (type) {
    case ONYX_CUDA_TYPE_UINT8:
    case ONYX_CUDA_TYPE_INT8:
    case ONYX_CUDA_TYPE_BOOL: return 1;
    case ONYX_CUDA_TYPE_UINT16:
    case ONYX_CUDA_TYPE_INT16:
    case ONYX_CUDA_TYPE_FLOAT16:
    case ONYX_CUDA_TYPE_BFLOAT16: return 2;
    case ONYX_CUDA_TYPE_FLOAT32:
    case ONYX_CUDA_TYPE_INT32:
    case ONYX_CUDA_TYPE_UINT32: return 4;
    case ONYX_CUDA_TYPE_FLOAT64:
    case ONYX_CUDA_TYPE_INT64:
    case ONYX_CUDA_TYPE_UINT64: return 8;
    default: return 0;
    }
}

extern "C" cudaError_t onyx_cuda_scatter_nd(void *out, const int64_t *indices, const void *updates, int64_t tuples,
                                            int k, int64_t slice, const int64_t *axis_dims,
                                            const int64_t *axis_strides, int type, int reduction,
                                            cudaStream_t stream) {
    int64_t es = type_size(type);
    if (es == 0 || k < 1 || k > INDEX_MAX_DIMS) return cudaErrorInvalidValue;
    if (tuples <= 0 || slice <= 0) return cudaSuccess;
    int unit = (int)es;
    if (reduction == ONYX_CUDA_SCATTER_NONE) {
        uint64_t bits = (uint64_t)(uintptr_t)out | (uint64_t)(uintptr_t)updates | (uint64_t)(slice * es);
        for (int j = 0; j < k; j++) bits |= (uint64_t)(axis_strides[j] * es);
        unit = unit_bytes_for(bits, es);
    }
    int64_t slice_units = slice * es / unit, total = tuples * slice_units;
    int64_t extent = slice_units;
    for (int j = 0; j < k; j++) extent += (axis_dims[j] - 1) * (axis_strides[j] * es / unit);
    int fits32 = total < FITS32 && extent < FITS32;
    if (reduction != ONYX_CUDA_SCATTER_NONE) {
        if (fits32)
            return launch_scatter_nd_reduce(
                out, indices, updates,
                make_nd_params<div32>(tuples, k, slice_units, 0, axis_dims, axis_strides, es, unit, total), type,
                reduction, stream);
        return launch_scatter_nd_reduce(
            out, indices, updates,
            make_nd_params<div64>(tuples, k, slice_units, 0, axis_dims, axis_strides, es, unit, total), type,
            reduction, stream);
    }
    unsigned grid = grid_for(total, THREADS);
    if (fits32) {
        nd_params<div32> p = make_nd_params<div32>(tuples, k, slice_units, 0, axis_dims, axis_strides, es, unit, total);
#define LAUNCH(T) scatter_nd_kernel<T, div32><<<grid, THREADS, 0, stream>>>((T *)out, indices, (const T *)updates, p)
        DISPATCH_UNIT(unit, LAUNCH)
#undef LAUNCH
    } else {
        nd_params<div64> p = make_nd_params<div64>(tuples, k, slice_units, 0, axis_dims, axis_strides, es, unit, total);
#define LAUNCH(T) scatter_nd_kernel<T, div64><<<grid, THREADS, 0, stream>>>((T *)out, indices, (const T *)updates, p)
        DISPATCH_UNIT(unit, LAUNCH)
#undef LAUNCH
    }
    return cudaGetLastError();
}

template <typename Div>
static cudaError_t launch_trilu(void *out, const void *in, int64_t rows, int64_t cols, int64_t k, int upper,
                                int64_t total, size_t elem_size, cudaStream_t stream) {
    Div cols_div = Div::make(cols), rows_div = Div::make(rows);
    typename Div::index n = (typename Div::index)total;
    unsigned grid = grid_for(total, THREADS);
#define LAUNCH(T)                                                                                  \
    trilu_kernel<T, Div><<<grid, THREADS, 0, stream>>>((T *)out, (const T *)in, cols_div, rows_div, k, upper, n)
    switch (elem_size) {
    case 1: LAUNCH(uint8_t); break;
    case 2: LAUNCH(uint16_t); break;
    case 4: LAUNCH(uint32_t); break;
    case 8: LAUNCH(unsigned long long); break;
    default: return cudaErrorInvalidValue;
    }
#undef LAUNCH
    return cudaGetLastError();
}

extern "C" cudaError_t onyx_cuda_trilu(void *out, const void *in, int64_t batch, int64_t rows, int64_t cols,
                                       int64_t k, int upper, size_t elem_size, cudaStream_t stream) {
    int64_t total = batch * rows * cols;
    if (total <= 0) return cudaSuccess;
    if (total < FITS32) return launch_trilu<div32>(out, in, rows, cols, k, upper, total, elem_size, stream);
    return launch_trilu<div64>(out, in, rows, cols, k, upper, total, elem_size, stream);
}

extern "C" cudaError_t onyx_cuda_fill(void *out, int64_t n, uint64_t value_bits, size_t elem_size,
                                      cudaStream_t stream) {
    if (n <= 0) return cudaSuccess;
    /* a value whose bytes are all equal (0, all-ones, a 1-byte element) is a memset */
    uint8_t byte = (uint8_t)value_bits;
    int same = 1;
    for (size_t b = 1; b < elem_size; b++) same = same && (uint8_t)(value_bits >> (8 * b)) == byte;
    if (same) return cudaMemsetAsync(out, byte, (size_t)n * elem_size, stream);
    unsigned grid = grid_for(n, THREADS);
    switch (elem_size) {
    case 2: fill_kernel<uint16_t><<<grid, THREADS, 0, stream>>>((uint16_t *)out, n, (uint16_t)value_bits); break;
    case 4: fill_kernel<uint32_t><<<grid, THREADS, 0, stream>>>((uint32_t *)out, n, (uint32_t)value_bits); break;
    case 8:
        fill_kernel<unsigned long long>
            <<<grid, THREADS, 0, stream>>>((unsigned long long *)out, n, (unsigned long long)value_bits);
        break;
    default: return cudaErrorInvalidValue;
    }
    return cudaGetLastError();
}

extern "C" cudaError_t onyx_cuda_range_f32(float *out, int64_t n, float start, float delta, cudaStream_t stream) {
    if (n <= 0) return cudaSuccess;
    range_f32_kernel<<<grid_for(n, THREADS), THREADS, 0, stream>>>(out, n, start, delta);
    return cudaGetLastError();
}

extern "C" cudaError_t onyx_cuda_range_f64(double *out, int64_t n, double start, double delta,
                                           cudaStream_t stream) {
    if (n <= 0) return cudaSuccess;
    range_f64_kernel<<<grid_for(n, THREADS), THREADS, 0, stream>>>(out, n, start, delta);
    return cudaGetLastError();
}

extern "C" cudaError_t onyx_cuda_range_int(void *out, int64_t n, int64_t start, int64_t delta, size_t elem_size,
                                           cudaStream_t stream) {
    if (n <= 0) return cudaSuccess;
    unsigned grid = grid_for(n, THREADS);
    switch (elem_size) {
    case 2: range_int_kernel<int16_t><<<grid, THREADS, 0, stream>>>((int16_t *)out, n, start, delta); break;
    case 4: range_int_kernel<int32_t><<<grid, THREADS, 0, stream>>>((int32_t *)out, n, start, delta); break;
    case 8: range_int_kernel<int64_t><<<grid, THREADS, 0, stream>>>((int64_t *)out, n, start, delta); break;
    default: return cudaErrorInvalidValue;
    }
    return cudaGetLastError();
}
