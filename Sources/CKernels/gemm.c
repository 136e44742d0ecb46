/* Single-threaded float32/float64 GEMM with runtime ISA dispatch (AVX-512, AVX2+FMA, baseline).
 *
 * The package is built without -m flags, so every ISA-specific copy of the code is compiled
 * through __attribute__((target(...))) and chosen per call with __builtin_cpu_supports.
 * gemm_impl.h holds the algorithm; it is instantiated below once per (type, ISA). */
#include "CKernels.h"

#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__)
#include <xmmintrin.h>
#endif

/* Below this many multiply-adds, packing costs more than it saves. */
#define SMALL_WORK (8 * 8 * 8)

/* Per-ISA configurations (sizes tuned on Zen 5: 48 KB L1d, 1 MB L2 per core; PKC, the packed
 * products' K block, on an Emerald Rapids Xeon: 128 against 512 took the products of config
 * B's recurrent steps, 32 x 1024 x 256 and 32 x 256 x 1024, from 136 to 151 GFLOP/s). The micro-tile
 * is MR rows x NV vectors; it takes 24 of 32 zmm (AVX-512) or 12 of 16 ymm (AVX2) registers
 * as accumulators, leaving room for the NV B vectors and the A broadcast. The baseline uses
 * a smaller tile because SSE2's two-operand multiply + add needs temporaries. */
#if defined(__x86_64__)
#define T float
#define SUF s_avx512
#define TARGET __attribute__((target("avx512f,avx2,fma")))
#define VBYTES 64
#define TRANSPOSE16 /* 16 x 16 blocks transposed in registers when packing */
#define MR 6
#define NV 4
#define KC 512
#define PKC 128
#define MC 96
#define NC 4096
#include "gemm_impl.h"

#define T double
#define SUF d_avx512
#define TARGET __attribute__((target("avx512f,avx2,fma")))
#define VBYTES 64
#define MR 6
#define NV 4
#define KC 512
#define PKC 128
#define MC 96
#define NC 2048
#include "gemm_impl.h"

#define T float
#define SUF s_avx2
#define TARGET __attribute__((target("avx2,fma")))
#define VBYTES 32
#define MR 6
#define NV 2
#define KC 256
#define PKC 256
#define MC 72
#define NC 4096
#include "gemm_impl.h"

#define T double
#define SUF d_avx2
#define TARGET __attribute__((target("avx2,fma")))
#define VBYTES 32
#define MR 6
#define NV 2
#define KC 256
#define PKC 256
#define MC 72
#define NC 2048
#include "gemm_impl.h"
#endif

/* Baseline: 16-byte vectors (SSE2 on x86-64, NEON on arm64, scalarized elsewhere). */
#define T float
#define SUF s_generic
#define TARGET
#define VBYTES 16
#define MR 4
#define NV 2
#define KC 256
#define PKC 256
#define MC 72
#define NC 4096
#include "gemm_impl.h"

#define T double
#define SUF d_generic
#define TARGET
#define VBYTES 16
#define MR 4
#define NV 2
#define KC 256
#define PKC 256
#define MC 72
#define NC 2048
#include "gemm_impl.h"

enum { ISA_GENERIC, ISA_AVX2, ISA_AVX512 };

/* __builtin_cpu_supports only reads flags the runtime filled in at startup, so this is cheap
 * enough to evaluate per call and leaves no mutable global state of our own. */
static int pick_isa(void)
{
#if defined(AG_GEMM_FORCE_ISA)  /* testing hook: -DAG_GEMM_FORCE_ISA=0/1/2 exercises lower paths */
    return AG_GEMM_FORCE_ISA;
#elif defined(__x86_64__)
    if (__builtin_cpu_supports("avx512f")) return ISA_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return ISA_AVX2;
#endif
    return ISA_GENERIC;
}

const char *ag_gemm_isa(void)
{
    static const char *const names[] = {"generic", "avx2", "avx512"};
    return names[pick_isa()];
}

/* Denormal operands or results can slow FP instructions by ~100x on x86; run with
 * flush-to-zero (bit 15) and denormals-are-zero (bit 6), restoring the caller's MXCSR. */
static unsigned fpu_enter(void)
{
#if defined(__x86_64__)
    const unsigned old = _mm_getcsr();
    _mm_setcsr(old | 0x8040);
    return old;
#else
    return 0;
#endif
}

static void fpu_leave(unsigned old)
{
#if defined(__x86_64__)
    _mm_setcsr(old);
#else
    (void)old;
#endif
}

void ag_sgemm(int transA, int transB, int64_t M, int64_t N, int64_t K,
              float alpha, const float *A, int64_t lda, const float *B, int64_t ldb,
              float beta, float *C, int64_t ldc, const float *bias, float *a_sums)
{
    if (M <= 0) return;
    const unsigned csr = fpu_enter();
    if (N <= 0) {  /* no product, but op(A)'s row sums all the same */
        if (a_sums) row_sums_s_generic(M, K, A, transA ? 1 : lda, transA ? lda : 1, a_sums);
    } else switch (pick_isa()) {
#if defined(__x86_64__)
    case ISA_AVX512: gemm_s_avx512(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, bias, a_sums); break;
    case ISA_AVX2:   gemm_s_avx2(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, bias, a_sums); break;
#endif
    default:         gemm_s_generic(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, bias, a_sums);
    }
    fpu_leave(csr);
}

void ag_dgemm(int transA, int transB, int64_t M, int64_t N, int64_t K,
              double alpha, const double *A, int64_t lda, const double *B, int64_t ldb,
              double beta, double *C, int64_t ldc, const double *bias, double *a_sums)
{
    if (M <= 0) return;
    const unsigned csr = fpu_enter();
    if (N <= 0) {  /* no product, but op(A)'s row sums all the same */
        if (a_sums) row_sums_d_generic(M, K, A, transA ? 1 : lda, transA ? lda : 1, a_sums);
    } else switch (pick_isa()) {
#if defined(__x86_64__)
    case ISA_AVX512: gemm_d_avx512(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, bias, a_sums); break;
    case ISA_AVX2:   gemm_d_avx2(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, bias, a_sums); break;
#endif
    default:         gemm_d_generic(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, bias, a_sums);
    }
    fpu_leave(csr);
}

/* The packed-B entry points, one set per element type, dispatched like the GEMM above. The
 * packed layout depends on the instruction set, so a buffer is only valid in this process. */
#if defined(__x86_64__)
#define DISPATCH(ty, call, ...)                                                               \
    switch (pick_isa()) {                                                                     \
    case ISA_AVX512: call##_##ty##_avx512(__VA_ARGS__); break;                                \
    case ISA_AVX2:   call##_##ty##_avx2(__VA_ARGS__); break;                                  \
    default:         call##_##ty##_generic(__VA_ARGS__);                                      \
    }
#define DISPATCH_VALUE(ty, call, ...)                                                         \
    switch (pick_isa()) {                                                                     \
    case ISA_AVX512: return call##_##ty##_avx512(__VA_ARGS__);                                \
    case ISA_AVX2:   return call##_##ty##_avx2(__VA_ARGS__);                                  \
    default:         return call##_##ty##_generic(__VA_ARGS__);                               \
    }
#else
#define DISPATCH(ty, call, ...) call##_##ty##_generic(__VA_ARGS__);
#define DISPATCH_VALUE(ty, call, ...) return call##_##ty##_generic(__VA_ARGS__);
#endif

#define PACKED_ENTRY_POINTS(T, ty, prefix)                                                    \
int64_t prefix##_panel_width(void) { DISPATCH_VALUE(ty, panel_width) }                       \
void prefix##_pack_b(int transB, int64_t K, int64_t N, const T *B, int64_t ldb, T *packed)    \
{                                                                                             \
    DISPATCH(ty, pack_b, transB, K, N, B, ldb, packed)                                        \
}                                                                                             \
void prefix##_packed(int transA, int64_t M, int64_t N, int64_t K, T alpha, const T *A,       \
                     int64_t lda, const T *packed, T beta, T *C, int64_t ldc,                 \
                     int64_t column_begin, int64_t column_end, const T *bias)                 \
{                                                                                             \
    if (M <= 0 || column_begin >= column_end) return;                                        \
    const unsigned csr = fpu_enter();                                                         \
    DISPATCH(ty, gemm_packed, transA, M, N, K, alpha, A, lda, packed, beta, C, ldc,           \
             column_begin, column_end, bias)                                                  \
    fpu_leave(csr);                                                                           \
}

PACKED_ENTRY_POINTS(float, s, ag_sgemm)
PACKED_ENTRY_POINTS(double, d, ag_dgemm)

/* Float panels are the widest on every path (a multiple of the double ones), so one size
 * holds either type's packing. */
int64_t ag_gemm_packed_size(int64_t K, int64_t N)
{
    const int64_t panel = ag_sgemm_panel_width();
    return K * ((N + panel - 1) / panel * panel);
}
