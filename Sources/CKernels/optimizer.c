// Adam's update with the default options (no weight decay, no amsgrad, not maximizing), one
// pass over parameter, gradient and both moments. In Swift the loop stays scalar (the four
// buffers may alias as far as the compiler knows, and Swift builds for baseline x86-64); here
// it vectorizes in every clone, the square root taken without errno handling (which would keep
// it scalar). Contraction into FMAs is off, so every ISA rounds operation by operation as
// torch's CPU loop does.
#include "CKernels.h"
#include <math.h>

#if defined(__x86_64__)
#define AG_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define AG_CLONES
#endif

#pragma STDC FP_CONTRACT OFF
#pragma clang fp contract(off)

#define ADAM(NAME, T, SQRT)                                                                              \
    AG_CLONES void NAME(T *restrict value, const T *restrict gradient, T *restrict average,              \
                        T *restrict square_average, int64_t n, T average_weight, T beta2,                \
                        T square_weight, T step_size, T correction2_root, T epsilon) {                   \
        for (int64_t i = 0; i < n; i++) {                                                                \
            const T g = gradient[i];                                                                     \
            const T m = average[i] + average_weight * (g - average[i]);                                  \
            const T s = square_average[i] * beta2 + square_weight * g * g;                               \
            average[i] = m;                                                                              \
            square_average[i] = s;                                                                       \
            value[i] = value[i] + (-step_size) * m / (SQRT(s) / correction2_root + epsilon);             \
        }                                                                                                \
    }

ADAM(ag_adam_f32, float, __builtin_elementwise_sqrt)
ADAM(ag_adam_f64, double, __builtin_elementwise_sqrt)
