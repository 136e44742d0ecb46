// Vectorized float32 exp, tanh and sigmoid. libm's scalar tanhf costs ~10 ns per element, which
// would dominate recurrent training; these loops vectorize in every clone (AVX-512, AVX2,
// baseline SSE2). Accuracy: a few ulp (tested against double-precision libm).
#include "CKernels.h"
#include "elementwise_loop.h"
#include <math.h>
#include <string.h>

#if defined(__x86_64__)
#define AG_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define AG_CLONES
#endif

// e^x: x = n·ln2 + r with |r| ≤ ln2/2 (Cody–Waite, ln2 split in two so n·ln2_hi is exact),
// e^r by its Taylor polynomial to r⁷ (truncation < 1e-8 relative), 2^n from exponent bits.
// Results below 2^-125 flush to zero, as the package flushes subnormals anyway.
static inline float exp_core(float x) {
    const float log2e = 1.44269504088896341f, ln2_hi = 0.693359375f, ln2_lo = -2.12194440e-4f;
    const float round_magic = 12582912.0f;  // 1.5·2^23: adding it rounds to an integer, SSE2-friendly
    float clamped = x < -87.0f ? -87.0f : (x > 88.72283f ? 88.72283f : x);
    float n = (clamped * log2e + round_magic) - round_magic;
    float r = clamped - n * ln2_hi - n * ln2_lo;
    float p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    // 2^(n-1) then ×2, so n = 128 (e^88.72 is still finite) stays representable.
    int bits = ((int)n + 126) << 23;
    float half_scale;
    memcpy(&half_scale, &bits, sizeof bits);
    float result = p * half_scale * 2.0f;
    result = x > 88.72283f ? INFINITY : result;
    result = x < -87.0f ? 0.0f : result;
    return x != x ? x : result;
}

// tanh: near 0 the odd Taylor series to x¹⁷ (truncation < 1e-9 relative for |x| < 0.5), where
// 1 − 2/(e^{2|x|} + 1) would cancel; elsewhere that formula, which saturates cleanly.
static inline float tanh_core(float x) {
    float a = fabsf(x), z = a * a;
    float p = 0.000590027440945586f;
    p = p * z - 0.0014558343870513183f;
    p = p * z + 0.003592128036572481f;
    p = p * z - 0.008863235529902197f;
    p = p * z + 0.021869488536155203f;
    p = p * z - 0.05396825396825397f;
    p = p * z + 0.13333333333333333f;
    p = p * z - 0.3333333333333333f;
    float small = a + a * z * p;
    float large = 1.0f - 2.0f / (exp_core(2.0f * a) + 1.0f);
    float result = copysignf(a < 0.5f ? small : large, x);
    return x != x ? x : result;
}

AG_CLONES void ag_expf(const float *x, float *y, int64_t n) {
    FOR_EACH_ELEMENT(exp_core(x[i]))
}

AG_CLONES void ag_tanhf(const float *x, float *y, int64_t n) {
    FOR_EACH_ELEMENT(tanh_core(x[i]))
}

AG_CLONES void ag_sigmoidf(const float *x, float *y, int64_t n) {
    FOR_EACH_ELEMENT(1.0f / (1.0f + exp_core(-x[i])))
}
