// Dropout and zoneout masks: a regularised recurrent run draws a fresh mask per unit and step,
// and one xoshiro256** stream is a chain of dependent operations (~1.3 ns a draw). Eight
// streams run side by side instead, each seeded with splitmix64 outputs (as RandomGenerator
// seeds), so the loop vectorizes: AVX-512 takes the eight at once. An entry is a 32-bit word of
// the draws in memory order (entry 16c + 2j the low half of stream j's draw c, 16c + 2j + 1
// its high half), so one unsigned comparison of sixteen words makes sixteen entries. The
// multiplications by 5 and 9 are written as shifts and adds, which every vector width has.
#include "CKernels.h"
#include <string.h>

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "mask entries are the draws' 32-bit halves in little-endian order");

#if defined(__x86_64__)
#define AG_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define AG_CLONES
#endif

#define LANES 8
#define GAMMA 0x9E3779B97F4A7C15ull

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

/// splitmix64's output function.
static inline uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

// Stream j's four state words: the splitmix64 outputs of the stream seeded with bases[j].
static inline __attribute__((always_inline)) void seed_lanes(const uint64_t bases[LANES], uint64_t s[4][LANES]) {
    for (int j = 0; j < LANES; j++) {
        for (int w = 0; w < 4; w++) s[w][j] = mix64(bases[j] + GAMMA * (uint64_t)(w + 1));
    }
}

// One draw of each stream into r.
static inline __attribute__((always_inline)) void next_lanes(uint64_t s[4][LANES], uint64_t r[LANES]) {
    for (int j = 0; j < LANES; j++) {
        const uint64_t five = s[1][j] + (s[1][j] << 2);
        const uint64_t rotated = rotl(five, 7);
        r[j] = rotated + (rotated << 3);
        const uint64_t t = s[1][j] << 17;
        s[2][j] ^= s[0][j];
        s[3][j] ^= s[1][j];
        s[1][j] ^= s[2][j];
        s[0][j] ^= s[3][j];
        s[2][j] ^= t;
        s[3][j] = rotl(s[3][j], 45);
    }
}

// out[0..<n) from the streams in s: entry i is `hit` when word i is below `threshold` (at most
// 2³²), else `miss`.
#define FILL(T)                                                                                     \
    static inline __attribute__((always_inline)) void fill_##T(uint64_t s[4][LANES], uint64_t threshold, T hit, \
                                                               T miss, T *out, int64_t n) {         \
        if (threshold == 0) {                                                                       \
            for (int64_t i = 0; i < n; i++) out[i] = miss;                                          \
            return;                                                                                 \
        }                                                                                           \
        const uint32_t highest = (uint32_t)(threshold - 1);                                        \
        for (int64_t e = 0; e < n; e += 2 * LANES) {                                                \
            uint64_t r[LANES];                                                                      \
            uint32_t words[2 * LANES];                                                              \
            next_lanes(s, r);                                                                       \
            /* Little-endian: the draws' bytes are the words in entry order (a copy the compiler */ \
            /* keeps in a register; splitting the halves out one by one cost a permutation). */    \
            memcpy(words, r, sizeof words);                                                         \
            if (n - e >= 2 * LANES) {                                                               \
                for (int i = 0; i < 2 * LANES; i++) out[e + i] = words[i] <= highest ? hit : miss;  \
            } else {                                                                                \
                for (int64_t i = 0; i < n - e; i++) out[e + i] = words[i] <= highest ? hit : miss;  \
            }                                                                                       \
        }                                                                                           \
    }
FILL(float)
FILL(double)

#define MASK_KERNELS(T, SUF)                                                                        \
    AG_CLONES void ag_draw_mask_##SUF(const uint64_t seeds[LANES], uint64_t threshold, T hit, T miss, T *out, \
                                      int64_t n) {                                                  \
        uint64_t s[4][LANES];                                                                       \
        seed_lanes(seeds, s);                                                                       \
        fill_##T(s, threshold, hit, miss, out, n);                                                  \
    }                                                                                               \
    AG_CLONES void ag_draw_row_masks_##SUF(uint64_t seed, int64_t first_row, int64_t rows, int64_t columns, \
                                           uint64_t threshold, T hit, T miss, T *out) {             \
        for (int64_t row = 0; row < rows; row++) {                                                  \
            uint64_t bases[LANES], s[4][LANES];                                                     \
            for (int j = 0; j < LANES; j++) bases[j] = seed + GAMMA * (uint64_t)(32 * (first_row + row) + 4 * j); \
            seed_lanes(bases, s);                                                                   \
            fill_##T(s, threshold, hit, miss, out + row * columns, columns);                        \
        }                                                                                           \
    }

MASK_KERNELS(float, f32)
MASK_KERNELS(double, f64)
