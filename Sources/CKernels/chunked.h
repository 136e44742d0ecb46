// The loop shape of the vectorized elementwise kernels (binary.c, elementwise.c).
#pragma once

// y[i] = value for i < n, computed a chunk at a time into a local array and then stored: the
// compute loop then vectorizes with no run-time overlap check between y and the operands,
// which fails — and falls back to scalar code — whenever y is one of the operands, as when a
// fused kernel's result takes the buffer of an operand it no longer needs. A whole chunk is
// stored by a copy of constant size expanded inline: left to the optimizer, the store loop
// became a call to memcpy per chunk (a fifth of a recurrent step's memmove time).
#define AG_CHUNK 64
#if defined(__has_builtin)
#if __has_builtin(__builtin_memcpy_inline)
#define AG_STORE_CHUNK(destination, chunk) __builtin_memcpy_inline((destination), (chunk), sizeof(float) * AG_CHUNK)
#endif
#endif
#ifndef AG_STORE_CHUNK
#define AG_STORE_CHUNK(destination, chunk) for (int k = 0; k < AG_CHUNK; k++) (destination)[k] = (chunk)[k]
#endif
#define CHUNKED(value)                                                                           \
    for (int64_t start = 0; start < n; start += AG_CHUNK) {                                     \
        const int64_t m = n - start < AG_CHUNK ? n - start : AG_CHUNK;                          \
        float chunk[AG_CHUNK];                                                                  \
        for (int64_t k = 0; k < m; k++) { const int64_t i = start + k; chunk[k] = (value); }    \
        if (m == AG_CHUNK) {                                                                    \
            AG_STORE_CHUNK(y + start, chunk);                                                   \
        } else {                                                                                \
            for (int64_t k = 0; k < m; k++) y[start + k] = chunk[k];                            \
        }                                                                                       \
    }
