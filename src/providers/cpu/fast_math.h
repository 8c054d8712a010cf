/*
 * fast_math.h - float32 math the compiler vectorizes, shared by the CPU kernels (elementwise.c's
 * Exp, Tanh and Gelu; normalize.c's Softmax rows). Straight-line code with selects instead of
 * branches: a file that wants the selects as vector blends compiles with no-trapping-math (see
 * elementwise.c).
 */
#ifndef ONYX_PROVIDERS_CPU_FAST_MATH_H
#define ONYX_PROVIDERS_CPU_FAST_MATH_H

#include <stdint.h>
#include <string.h>

/* exp for float32 as straight-line code the compiler vectorizes (Cephes' polynomial, within
 * 1e-7 relative of libm over the finite range, gradual underflow to 0 below -104, inf above
 * 88.72, NaN kept). The scale 2^n is applied as two factors so each stays a normal float. */
static inline float onyx_cpu_expf(float x) {
    float cx = x > -104.0f ? x : -104.0f;
    cx = cx < 88.8f ? cx : 88.8f;
    float t = cx * 1.44269504088896341f + 150.5f; /* round(cx * log2(e)) + 150, positive */
    int32_t n = (int32_t)t - 150;
    float fn = (float)n;
    float r = cx - fn * 0.693359375f + fn * 2.12194440e-4f; /* cx - n*ln2 in two parts */
    float p = 1.9875691500E-4f;
    p = p * r + 1.3981999507E-3f;
    p = p * r + 8.3334519073E-3f;
    p = p * r + 4.1665795894E-2f;
    p = p * r + 1.6666665459E-1f;
    p = p * r + 5.0000001201E-1f;
    float y = p * r * r + r + 1.0f;
    int32_t n1 = n >> 1, n2 = n - n1;
    int32_t bits1 = (n1 + 127) << 23, bits2 = (n2 + 127) << 23;
    float scale1, scale2;
    memcpy(&scale1, &bits1, sizeof scale1);
    memcpy(&scale2, &bits2, sizeof scale2);
    y = y * scale1 * scale2;
    return x != x ? x : y;
}
#endif
