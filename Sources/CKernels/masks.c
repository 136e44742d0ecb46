// Dropout and zoneout masks: a regularised recurrent run draws a fresh mask per unit and step,
// and one xoshiro256** stream is a chain of dependent operations (~1.3 ns a draw). Eight
// streams run side by side instead, each seeded as RandomGenerator(seed:) seeds (splitmix64),
// so the loop vectorizes: AVX-512 takes the eight at once. The multiplications by 5 and 9 are
// written as shifts and adds, which every vector width has.
#include "CKernels.h"

#if defined(__x86_64__)
#define AG_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define AG_CLONES
#endif

#define LANES 8

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static void seed_lanes(const uint64_t seeds[LANES], uint64_t s[4][LANES]) {
    for (int j = 0; j < LANES; j++) {
        uint64_t mixer = seeds[j];
        for (int w = 0; w < 4; w++) {
            mixer += 0x9E3779B97F4A7C15ull;
            uint64_t z = mixer;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
            s[w][j] = z ^ (z >> 31);
        }
    }
}

// One draw of each lane into r.
static inline void next_lanes(uint64_t s[4][LANES], uint64_t r[LANES]) {
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

#define MASK_KERNEL(name, T)                                                                        \
    AG_CLONES void name(const uint64_t seeds[LANES], uint64_t threshold, T hit, T miss, T *out, int64_t n) { \
        uint64_t s[4][LANES], r[LANES];                                                             \
        seed_lanes(seeds, s);                                                                       \
        int64_t e = 0;                                                                              \
        for (; e + 2 * LANES <= n; e += 2 * LANES) {                                                \
            next_lanes(s, r);                                                                       \
            for (int j = 0; j < LANES; j++) {                                                       \
                out[e + 2 * j] = (r[j] >> 32) >= threshold ? miss : hit;                            \
                out[e + 2 * j + 1] = (r[j] & 0xFFFFFFFFull) >= threshold ? miss : hit;              \
            }                                                                                       \
        }                                                                                           \
        if (e < n) {                                                                                \
            next_lanes(s, r);                                                                       \
            for (int64_t i = 0; e + i < n; i++) {                                                   \
                const uint64_t bits = r[i / 2];                                                     \
                out[e + i] = ((i % 2 == 0) ? bits >> 32 : bits & 0xFFFFFFFFull) >= threshold ? miss : hit; \
            }                                                                                       \
        }                                                                                           \
    }

MASK_KERNEL(ag_draw_mask_f32, float)
MASK_KERNEL(ag_draw_mask_f64, double)
