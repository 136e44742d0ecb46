// Vectorized float32 binary elementwise loops: the inner loops of fused kernels (gate math and
// its gradient at every recurrent step). Swift compiles for baseline x86-64, so its loops run
// 4 floats wide; these clones run 16 wide on AVX-512. Contraction is off, so each result is
// rounded exactly as the Swift definition of the op rounds it (bit-identical either way).
#include "CKernels.h"
#include "elementwise_loop.h"

#pragma STDC FP_CONTRACT OFF
#pragma clang fp contract(off)

#if defined(__x86_64__)
#define AG_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define AG_CLONES
#endif

// y[i] = f(x, z) for x = a[i], z = b[i]; an operand flagged as a scalar is read at index 0.
#define BINARY_KERNEL(name, expression)                                                          \
    AG_CLONES void name(const float *a, int scalar_a, const float *b, int scalar_b, float *y,     \
                        int64_t n) {                                                            \
        if (!scalar_a && !scalar_b) {                                                           \
            FOR_EACH_ELEMENT(({ const float x = a[i], z = b[i]; (expression); }))                 \
        } else if (!scalar_a) {                                                                 \
            const float z = b[0];                                                               \
            FOR_EACH_ELEMENT(({ const float x = a[i]; (expression); }))                           \
        } else if (!scalar_b) {                                                                 \
            const float x = a[0];                                                               \
            FOR_EACH_ELEMENT(({ const float z = b[i]; (expression); }))                           \
        } else {                                                                                \
            const float x = a[0], z = b[0], value = (expression);                               \
            for (int64_t i = 0; i < n; i++) y[i] = value;                                       \
        }                                                                                       \
    }

BINARY_KERNEL(ag_add_f32, x + z)
BINARY_KERNEL(ag_sub_f32, x - z)
BINARY_KERNEL(ag_mul_f32, x * z)
BINARY_KERNEL(ag_tanh_grad_f32, x * (1.0f - z * z))
BINARY_KERNEL(ag_sigmoid_grad_f32, x * z * (1.0f - z))

// Comparisons: 1 where the relation holds, else 0 (a mask's condition inside fused kernels).
BINARY_KERNEL(ag_less_f32, x < z ? 1.0f : 0.0f)
BINARY_KERNEL(ag_less_equal_f32, x <= z ? 1.0f : 0.0f)
BINARY_KERNEL(ag_greater_f32, x > z ? 1.0f : 0.0f)
BINARY_KERNEL(ag_greater_equal_f32, x >= z ? 1.0f : 0.0f)
BINARY_KERNEL(ag_equal_f32, x == z ? 1.0f : 0.0f)
BINARY_KERNEL(ag_not_equal_f32, x != z ? 1.0f : 0.0f)

// `where`: y[i] = a[i] where c[i] != 0, else b[i]. Both sides are read before choosing, so the
// choice is a blend: a random mask (zoneout's) would mispredict a branch half the time.
AG_CLONES void ag_where_f32(const float *c, int scalar_c, const float *a, int scalar_a, const float *b, int scalar_b,
                            float *y, int64_t n) {
    if (!scalar_c && !scalar_a && !scalar_b) {
        FOR_EACH_ELEMENT(({ const float x = a[i], z = b[i]; c[i] != 0.0f ? x : z; }))
    } else if (!scalar_c && !scalar_a) {
        const float z = b[0];
        FOR_EACH_ELEMENT(({ const float x = a[i]; c[i] != 0.0f ? x : z; }))
    } else if (!scalar_c && !scalar_b) {
        const float x = a[0];
        FOR_EACH_ELEMENT(({ const float z = b[i]; c[i] != 0.0f ? x : z; }))
    } else {
        for (int64_t i = 0; i < n; i++) {
            const float x = a[scalar_a ? 0 : i], z = b[scalar_b ? 0 : i];
            y[i] = c[scalar_c ? 0 : i] != 0.0f ? x : z;
        }
    }
}
