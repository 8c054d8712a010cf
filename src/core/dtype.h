/*
 * dtype.h - element types: sizes, names, and float16/bfloat16 conversion.
 *
 * float16 and bfloat16 are stored as uint16_t bit patterns; kernels convert to float32 to compute
 * (fp16 paths accumulate in fp32) and round back with round-to-nearest-even.
 */
#ifndef ONYX_CORE_DTYPE_H
#define ONYX_CORE_DTYPE_H

#include <stdint.h>
#include <string.h>

#include "onyx/onyx.h"

/* One bit per dtype code, for kernel type constraints: ONYX_DT(FLOAT32) | ONYX_DT(INT64). */
#define ONYX_DT(name) (UINT64_C(1) << ONYX_DTYPE_##name)
#define ONYX_DT_FLOATS (ONYX_DT(FLOAT32) | ONYX_DT(FLOAT16) | ONYX_DT(BFLOAT16) | ONYX_DT(FLOAT64))
#define ONYX_DT_SIGNED_INTS (ONYX_DT(INT8) | ONYX_DT(INT16) | ONYX_DT(INT32) | ONYX_DT(INT64))
#define ONYX_DT_UNSIGNED_INTS (ONYX_DT(UINT8) | ONYX_DT(UINT16) | ONYX_DT(UINT32) | ONYX_DT(UINT64))
#define ONYX_DT_INTS (ONYX_DT_SIGNED_INTS | ONYX_DT_UNSIGNED_INTS)
#define ONYX_DT_NUMERIC (ONYX_DT_FLOATS | ONYX_DT_INTS)
#define ONYX_DT_ALL (ONYX_DT_NUMERIC | ONYX_DT(BOOL) | ONYX_DT(STRING))

int onyx_dtype_valid(int code);      /* a code onyx knows (0 excluded) */
int onyx_dtype_is_float(onyx_dtype dtype);
int onyx_dtype_is_signed_int(onyx_dtype dtype);
int onyx_dtype_is_unsigned_int(onyx_dtype dtype);

static inline float onyx_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t mant = h & 0x3ff;
    uint32_t bits;
    if (exp == 0) {
        if (mant == 0) {
            bits = sign;
        } else { /* subnormal: normalise */
            int e = -1;
            do { e++; mant <<= 1; } while (!(mant & 0x400));
            mant &= 0x3ff;
            bits = sign | ((uint32_t)(127 - 15 - e) << 23) | (mant << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (mant << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static inline uint16_t onyx_f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000;
    uint32_t absx = x & 0x7fffffffu;
    if (absx >= 0x7f800000u) /* inf or nan */
        return (uint16_t)(sign | 0x7c00 | (absx > 0x7f800000u ? 0x200 | ((absx >> 13) & 0x3ff) : 0));
    if (absx >= 0x477ff000u) return (uint16_t)(sign | 0x7c00); /* rounds to >= 65520: inf */
    if (absx < 0x38800000u) { /* below the smallest normal half: subnormal or zero */
        if (absx < 0x33000000u) return (uint16_t)sign; /* < 2^-25: rounds to zero */
        uint32_t e = absx >> 23;
        uint32_t m = (absx & 0x7fffff) | 0x800000;
        uint32_t shift = 126 - e; /* 14..24 */
        uint32_t half = m >> shift;
        uint32_t rem = m & ((1u << shift) - 1);
        uint32_t mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1))) half++;
        return (uint16_t)(sign | half);
    }
    uint32_t r = absx + 0xfff + ((absx >> 13) & 1); /* round to nearest even */
    return (uint16_t)(sign | ((r - 0x38000000u) >> 13));
}

static inline float onyx_bf16_to_f32(uint16_t b) {
    uint32_t bits = (uint32_t)b << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static inline uint16_t onyx_f32_to_bf16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40); /* quiet nan */
    x += 0x7fff + ((x >> 16) & 1);
    return (uint16_t)(x >> 16);
}

#endif
