// The loop shape of the vectorized elementwise kernels (binary.c, elementwise.c).
#pragma once

// y[i] = value for i < n, where value reads the operands' element i only. A fused kernel may
// write a result into the buffer of an operand it no longer needs, so y can be an operand —
// the same elements, never shifted ones. Left to itself the vectorizer would check for
// overlap at run time and run those calls as scalar code; `assume_safety` drops the check,
// which is sound because element i is read before it is written. (These loops once computed
// 64-element chunks into a stack array and copied them out: reading back a just-stored
// 512-bit vector misses store forwarding on AMD Zen 4, and an add took 0.8 cycles per element
// instead of 0.14.)
#define FOR_EACH_ELEMENT(value)                                                                  \
    _Pragma("clang loop vectorize(assume_safety)")                                              \
    for (int64_t i = 0; i < n; i++) y[i] = (value);
