// The loop shape of the vectorized elementwise kernels (binary.c, elementwise.c).
#pragma once

// y[i] = value for i < n, computed a chunk at a time into a local array and then stored: the
// compute loop then vectorizes with no run-time overlap check between y and the operands,
// which fails — and falls back to scalar code — whenever y is one of the operands, as when a
// fused kernel's result takes the buffer of an operand it no longer needs.
#define AG_CHUNK 64
#define CHUNKED(value)                                                                           \
    for (int64_t start = 0; start < n; start += AG_CHUNK) {                                     \
        const int64_t m = n - start < AG_CHUNK ? n - start : AG_CHUNK;                          \
        float chunk[AG_CHUNK];                                                                  \
        for (int64_t k = 0; k < m; k++) { const int64_t i = start + k; chunk[k] = (value); }    \
        for (int64_t k = 0; k < m; k++) y[start + k] = chunk[k];                                \
    }
