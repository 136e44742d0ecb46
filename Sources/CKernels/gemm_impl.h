/* One instantiation of the blocked GEMM for one element type and one instruction set.
 * gemm.c includes this file once per (type, ISA) after defining:
 *   T            element type (float or double)
 *   SUF          suffix appended to every generated name
 *   TARGET       function attribute selecting the ISA (empty for the baseline build)
 *   VBYTES       SIMD vector width in bytes
 *   MR, NV       micro-tile of MR rows x NV vectors (NR = NV * VBYTES / sizeof(T) columns)
 *   KC, MC, NC   cache blocks: the packed A block (MC x KC) and the B micro-panel (KC x NR) in
 *                use stay in L1/L2, the packed B panel (KC x NC) in L2/L3.
 *   PKC          the K block of a B packed once (pack_b, gemm_packed): those products have few
 *                rows (a recurrent step's batch), so each B micro-panel serves only a few row
 *                tiles and must stay in L1 (PKC x NR elements of at most 32 KB), where a large
 *                product rather saves passes over C with a larger KC.
 * Structure (GotoBLAS/BLIS): driver -> pack B panel -> pack A block -> macro-kernel -> micro-kernel.
 */
#define CAT2(a, b) a##_##b
#define CAT(a, b) CAT2(a, b)
#define FN(name) CAT(name, SUF)
#define VL (VBYTES / (int)sizeof(T))
#define NR (NV * VL)
/* How many source rows ahead a row-by-row pack prefetches (see pack). */
#define PACK_PREFETCH_ROWS 16
_Static_assert(MC % MR == 0 && NC % NR == 0, "blocks must hold whole micro-panels");

/* Vector of VL elements via GCC/clang vector extensions, so the same source compiles to
 * zmm, ymm, xmm (or NEON) code depending on TARGET. Unaligned and may alias T, so it can be
 * loaded straight from C and from the packed buffers. */
typedef T FN(vec) __attribute__((vector_size(VBYTES), aligned(sizeof(T)), may_alias));

/* sum_k x[k*incx] * y[k*incy]; several vector accumulators when both are contiguous. */
static inline TARGET T FN(dot)(const T *x, int64_t incx, const T *y, int64_t incy, int64_t n)
{
    typedef FN(vec) vec;
    vec acc[4] = {{0}};
    int64_t k = 0;
    if (incx == 1 && incy == 1)
        for (; k + 4 * VL <= n; k += 4 * VL)
            for (int u = 0; u < 4; u++)
                acc[u] += *(const vec *)(x + k + u * VL) * *(const vec *)(y + k + u * VL);
    acc[0] += acc[1] + acc[2] + acc[3];
    T s = 0;
    for (int l = 0; l < VL; l++) s += acc[0][l];
    for (; k < n; k++) s += x[k * incx] * y[k * incy];
    return s;
}

/* Unpacked loops for tiny problems and GEMV-like shapes (M <= 2 or N == 1), where packing
 * would cost more than the multiply, and the fallback if malloc fails.
 * op(A)(i,k) = A[i*ars + k*acs], op(B)(k,j) = B[k*brs + j*bcs]; bias (N values, or NULL) is
 * added to every row. */
static TARGET void FN(small)(int64_t M, int64_t N, int64_t K, T alpha,
                             const T *A, int64_t ars, int64_t acs,
                             const T *B, int64_t brs, int64_t bcs, T beta, T *C, int64_t ldc, const T *bias)
{
    for (int64_t i = 0; i < M; i++) {
        T *c = C + i * ldc;
        if (bcs == 1 && N > 1) {  /* rows of op(B) contiguous: c += op(A)(i,k) * op(B)(k,:) */
            for (int64_t j = 0; j < N; j++) c[j] = (beta == 0 ? 0 : beta * c[j]) + (bias ? bias[j] : 0);
            for (int64_t k = 0; k < K; k++) {
                const T t = alpha * A[i * ars + k * acs], *b = B + k * brs;
                for (int64_t j = 0; j < N; j++) c[j] += t * b[j];
            }
        } else {                  /* columns of op(B) contiguous (or N == 1): dot products */
            for (int64_t j = 0; j < N; j++) {
                const T d = alpha * FN(dot)(A + i * ars, acs, B + j * bcs, brs, K);
                c[j] = (beta == 0 ? d : d + beta * c[j]) + (bias ? bias[j] : 0);
            }
        }
    }
}

#ifdef TRANSPOSE16
/* dst[i * dstride + j] = src[j * ld + i] for a 16 x 16 block of floats: 16 row loads, four
 * stages of 16 shuffles (pairs of elements, of pairs, of 128-bit lanes, of pairs of lanes),
 * 16 stores. A recurrent weight read transposed (its rows are k-runs of a B panel's lines)
 * packs this way instead of one element at a time. */
static inline __attribute__((always_inline)) TARGET void FN(transpose16)(const T *src, int64_t ld, T *dst, int64_t dstride)
{
    typedef FN(vec) vec;
    vec r[16], t[16];
    for (int i = 0; i < 16; i++) r[i] = *(const vec *)(src + i * ld);
    for (int i = 0; i < 16; i += 2) {
        t[i] = __builtin_shufflevector(r[i], r[i + 1], 0, 16, 1, 17, 4, 20, 5, 21, 8, 24, 9, 25, 12, 28, 13, 29);
        t[i + 1] = __builtin_shufflevector(r[i], r[i + 1], 2, 18, 3, 19, 6, 22, 7, 23, 10, 26, 11, 27, 14, 30, 15, 31);
    }
    for (int i = 0; i < 16; i += 4)
        for (int h = 0; h < 2; h++) {
            r[i + 2 * h] = __builtin_shufflevector(t[i + h], t[i + h + 2], 0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28, 29);
            r[i + 2 * h + 1] = __builtin_shufflevector(t[i + h], t[i + h + 2], 2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26, 27, 14, 15, 30, 31);
        }
    for (int i = 0; i < 16; i += 8)
        for (int h = 0; h < 4; h++) {
            t[i + h] = __builtin_shufflevector(r[i + h], r[i + h + 4], 0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27);
            t[i + h + 4] = __builtin_shufflevector(r[i + h], r[i + h + 4], 4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31);
        }
    for (int h = 0; h < 8; h++) {
        r[h] = __builtin_shufflevector(t[h], t[h + 8], 0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27);
        r[h + 8] = __builtin_shufflevector(t[h], t[h + 8], 4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31);
    }
    for (int i = 0; i < 16; i++) *(vec *)(dst + i * dstride) = r[i];
}
#endif

/* Pack a w x kc slice of op(X) into panels of P lines (rows of op(A) / columns of op(B)):
 * for each k, a panel stores its P values contiguously, the order the micro-kernel reads.
 * Element (line r, k) is src[k*ld + r] if lines are contiguous in memory (contig), else
 * src[r*ld + k]; transposition is thus only a choice of loop, so every trans combination packs
 * at similar speed. Lines past w are zero-filled so the micro-kernel always computes a full
 * MR x NR tile (the extra rows/columns are discarded when storing). With `sums` (w values, or
 * NULL), each line's kc values are also added to its sum, in k order. Always inlined: each
 * call site's P (MR or NR) is then a constant, and the copies compile to whole vectors. */
static inline __attribute__((always_inline)) TARGET void FN(pack)(int P, const T *src, int64_t ld, int contig,
                                                                    int64_t w, int64_t kc, T *dst, T *sums)
{
    if (contig) {
        /* Row by row of the source, each read once and in order, its P-line pieces copied to
         * the panels. Walked panel by panel instead, a narrow panel (A's MR lines) read a cache
         * line of every row for a few values, one element at a time: config B's weight
         * gradients (op(A) = A^T, 1024 x 64 and 1024 x 256 over K = 1600) ran at 100 and 135
         * GFLOP/s on one Emerald Rapids core, now 133 and 157 (MKL: 121 and 154). */
        const int64_t full = w / P * P;
        for (int64_t k = 0; k < kc; k++) {
            const T *s = src + k * ld;
            T *d = dst + k * P;
            /* A block of A is a strip of w columns down rows far apart (a weight gradient's:
             * 96 of config B's 1024 gate columns, rows 4 KiB apart), a pattern the hardware
             * prefetchers do not follow from page to page: the copy waited on every row.
             * Fetched rows ahead, B's input-weight gradient (1024 x 64 over K = 1600) ran in
             * 2.1 ms instead of 2.8 on a Zen 4 core. */
            if (k + PACK_PREFETCH_ROWS < kc)
                for (int64_t c = 0; c < w; c += 64 / (int64_t)sizeof(T)) __builtin_prefetch(s + PACK_PREFETCH_ROWS * ld + c);
            for (int64_t p0 = 0; p0 < full; p0 += P) memcpy(d + p0 * kc, s + p0, (size_t)P * sizeof(T));
            if (full < w)
                for (int r = 0; r < P; r++) d[full * kc + r] = full + r < w ? s[full + r] : 0;
            if (sums)
                for (int64_t r = 0; r < w; r++) sums[r] += s[r];
        }
        return;
    }
    for (int64_t p0 = 0; p0 < w; p0 += P, dst += P * kc) {
        const int64_t pw = w - p0 < P ? w - p0 : P;
        /* A transpose. With 16-float vectors, 16 x 16 blocks go through registers: a
         * recurrent weight read transposed packed 2.4-5x faster on a Zen 4 EPYC core (a
         * char-LM's 128 x 512 in 7.7 us instead of 18, config B's 256 x 1024 in 40 instead of
         * 215, C's 1024 x 4096 in 2.2-2.8 ms instead of 12; a 32 x 1024 x 256 product with B
         * read transposed, 361 -> 182 us). Otherwise, wide panels walk k in runs of 8 so each
         * line is read a cache line at a time while few lines are live (P lines at a
         * power-of-two ld alias in L1); within a run, k by k, so each k's P values are stored
         * as one contiguous piece (B's weight in 120 us instead of 141 on an Emerald Rapids
         * core, before the register transpose). */
        const T *s = src + p0 * ld;
        const int kb = P >= 16 ? 8 : 1;
        int64_t k = 0;
#ifdef TRANSPOSE16
        if (pw == P && P % 16 == 0)
            for (; k + 16 <= kc; k += 16)
                for (int r0 = 0; r0 < P; r0 += 16) FN(transpose16)(s + r0 * ld + k, ld, dst + k * P + r0, P);
#endif
        if (pw == P)
            for (; k + kb <= kc; k += kb)
                for (int i = 0; i < kb; i++)
                    for (int r = 0; r < P; r++) dst[(k + i) * P + r] = s[r * ld + k + i];
        for (; k < kc; k++)
            for (int r = 0; r < P; r++) dst[k * P + r] = r < pw ? s[r * ld + k] : 0;
        if (sums)  /* each line is a contiguous run here: summed in k order, as packed */
            for (int r = 0; r < pw; r++)
                for (int64_t i = 0; i < kc; i++) sums[p0 + r] += s[r * ld + i];
    }
}

/* C (m x n, m <= ROWS, n <= NR) = alpha * a * b + beta * C, where a is a packed A panel
 * (MR rows per k, of which the first ROWS are read) and b a kc x NR packed B panel. The
 * ROWS x NR accumulator lives entirely in registers (ROWS * NV vectors); each k step is NV
 * vector loads and ROWS * NV FMAs whose A operand is a scalar broadcast. Kernels of fewer rows
 * than MR serve the last rows of A, so a product of 32 rows does not compute 36. With SETS > 1,
 * k steps take turns adding into SETS accumulators, summed at the end: a one-row tile has only
 * NV accumulators, too few chains to hide the FMA's latency (a batch-1 recurrent step's
 * product with a packed 128 x 512 weight took 4.7 us with one set, 3.9 with two and 3.65 with
 * four, on an Emerald Rapids Xeon; the unpacked GEMV loops take 5.8). A bias (the tile's NR
 * values, or NULL) is added as the tile is stored, so a layer's bias costs no pass over C. The
 * store reads each accumulator by constant index (a fringe tile's partial vector lane by lane):
 * a spill of the whole tile to memory would make the compiler keep the accumulator in memory,
 * zeroed by memset and copied out by memcpy at every call. */
#define DEFINE_KERNEL(NAME, ROWS, SETS)                                                        \
static TARGET void FN(NAME)(int64_t kc, const T *restrict a, const T *restrict b,             \
                            T alpha, T beta, T *c, int64_t ldc, int64_t m, int64_t n,         \
                            const T *bias)                                                    \
{                                                                                             \
    typedef FN(vec) vec;                                                                      \
    vec acc[SETS][ROWS][NV] = {{{{0}}}};                                                      \
    int64_t k = 0;                                                                            \
    for (; k + SETS <= kc; k += SETS, a += SETS * MR, b += SETS * NR)                         \
        _Pragma("GCC unroll 4")                                                               \
        for (int s = 0; s < SETS; s++) {                                                      \
            vec bv[NV];                                                                       \
            _Pragma("GCC unroll 16")                                                          \
            for (int j = 0; j < NV; j++) bv[j] = *(const vec *)(b + s * NR + j * VL);         \
            _Pragma("GCC unroll 32")                                                          \
            for (int i = 0; i < ROWS; i++)                                                    \
                _Pragma("GCC unroll 16")                                                      \
                for (int j = 0; j < NV; j++) acc[s][i][j] += a[s * MR + i] * bv[j];           \
        }                                                                                     \
    for (; k < kc; k++, a += MR, b += NR)  /* the k left over */                              \
        _Pragma("GCC unroll 32")                                                              \
        for (int i = 0; i < ROWS; i++)                                                        \
            _Pragma("GCC unroll 16")                                                          \
            for (int j = 0; j < NV; j++) acc[0][i][j] += a[i] * *(const vec *)(b + j * VL);   \
    _Pragma("GCC unroll 32")                                                                  \
    for (int i = 0; i < ROWS; i++) {                                                          \
        if (i >= m) break;                                                                    \
        _Pragma("GCC unroll 16")                                                              \
        for (int j = 0; j < NV; j++) {                                                        \
            T *cij = c + i * ldc + j * VL;                                                    \
            vec sum = acc[0][i][j];                                                           \
            _Pragma("GCC unroll 4")                                                           \
            for (int s = 1; s < SETS; s++) sum += acc[s][i][j];                               \
            const vec v = alpha * sum;                                                        \
            if ((j + 1) * VL <= n) {                                                          \
                vec *cv = (vec *)cij;                                                         \
                const vec biased = bias ? v + *(const vec *)(bias + j * VL) : v;              \
                *cv = beta == 0 ? biased : biased + beta * *cv;                               \
            } else {  /* the fringe: the valid lanes of the last vector */                    \
                for (int64_t l = 0; l < n - j * VL; l++) {                                    \
                    const T biased = v[l] + (bias ? bias[j * VL + l] : 0);                    \
                    cij[l] = beta == 0 ? biased : biased + beta * cij[l];                     \
                }                                                                             \
            }                                                                                 \
        }                                                                                     \
    }                                                                                         \
}
DEFINE_KERNEL(kernel, MR, 1)
DEFINE_KERNEL(kernel_one, 1, 4)
DEFINE_KERNEL(kernel_two, 2, 1)
#if MR > 4
DEFINE_KERNEL(kernel_four, 4, 1)
#endif
#undef DEFINE_KERNEL

/* The micro-kernel for a tile of m <= MR rows: the smallest that covers them. */
static inline TARGET void FN(tile)(int64_t kc, const T *restrict a, const T *restrict b,
                                   T alpha, T beta, T *c, int64_t ldc, int64_t m, int64_t n, const T *bias)
{
    if (m == 1) FN(kernel_one)(kc, a, b, alpha, beta, c, ldc, m, n, bias);
    else if (m <= 2 && MR > 2) FN(kernel_two)(kc, a, b, alpha, beta, c, ldc, m, n, bias);
#if MR > 4
    else if (m <= 4) FN(kernel_four)(kc, a, b, alpha, beta, c, ldc, m, n, bias);
#endif
    else FN(kernel)(kc, a, b, alpha, beta, c, ldc, m, n, bias);
}

/* sums[i] = the sum over k of op(A)(i,k), in k order (as the packing sums). */
static TARGET void FN(row_sums)(int64_t M, int64_t K, const T *A, int64_t ars, int64_t acs, T *sums)
{
    for (int64_t i = 0; i < M; i++) {
        T s = 0;
        for (int64_t k = 0; k < K; k++) s += A[i * ars + k * acs];
        sums[i] = s;
    }
}

/* Blocked driver; expects M, N > 0. The bias (N values, or NULL) is added by the first K
 * block's stores; `sums` (M values, or NULL) receives op(A)'s row sums, formed while the
 * first column block packs A. */
static TARGET void FN(gemm)(int transA, int transB, int64_t M, int64_t N, int64_t K,
                            T alpha, const T *A, int64_t lda, const T *B, int64_t ldb,
                            T beta, T *C, int64_t ldc, const T *bias, T *sums)
{
    const int64_t ars = transA ? 1 : lda, acs = transA ? lda : 1;
    const int64_t brs = transB ? 1 : ldb, bcs = transB ? ldb : 1;
    if (K == 0 || alpha == 0 || M <= 2 || N == 1 || (double)M * N * K <= SMALL_WORK) {
        FN(small)(M, N, alpha == 0 ? 0 : K, alpha, A, ars, acs, B, brs, bcs, beta, C, ldc, bias);
        if (sums) FN(row_sums)(M, K, A, ars, acs, sums);
        return;
    }
    /* Equal-sized K blocks avoid a short, inefficient last block (e.g. K = KC + 1). */
    const int64_t kblocks = (K + KC - 1) / KC, kcmax = (K + kblocks - 1) / kblocks;
    const int64_t mcmax = (M < MC ? (M + MR - 1) / MR * MR : MC);
    const int64_t ncmax = (N < NC ? (N + NR - 1) / NR * NR : NC);
    /* Per-call buffers keep concurrent calls independent; 64-byte aligned for the vectors. */
    char *raw = malloc((size_t)(mcmax + ncmax) * kcmax * sizeof(T) + 64);
    if (!raw) {
        FN(small)(M, N, K, alpha, A, ars, acs, B, brs, bcs, beta, C, ldc, bias);
        if (sums) FN(row_sums)(M, K, A, ars, acs, sums);
        return;
    }
    T *Ap = (T *)(((uintptr_t)raw + 63) & ~(uintptr_t)63), *Bp = Ap + mcmax * kcmax;
    if (sums) memset(sums, 0, (size_t)M * sizeof(T));

    for (int64_t jc = 0; jc < N; jc += NC) {
        const int64_t nc = N - jc < NC ? N - jc : NC;
        for (int64_t pc = 0; pc < K; pc += kcmax) {
            const int64_t kc = K - pc < kcmax ? K - pc : kcmax;
            const T bk = pc == 0 ? beta : 1;  /* later K blocks accumulate onto C */
            const T *bk_bias = pc == 0 && bias ? bias + jc : NULL;
            FN(pack)(NR, B + pc * brs + jc * bcs, ldb, !transB, nc, kc, Bp, NULL);
            for (int64_t ic = 0; ic < M; ic += MC) {
                const int64_t mc = M - ic < MC ? M - ic : MC;
                FN(pack)(MR, A + ic * ars + pc * acs, lda, transA, mc, kc, Ap, jc == 0 && sums ? sums + ic : NULL);
                /* Macro-kernel: the B micro-panel is reused across the whole A block. */
                for (int64_t jr = 0; jr < nc; jr += NR)
                    for (int64_t ir = 0; ir < mc; ir += MR)
                        FN(tile)(kc, Ap + ir * kc, Bp + jr * kc, alpha, bk,
                                   C + (ic + ir) * ldc + jc + jr, ldc,
                                   mc - ir < MR ? mc - ir : MR, nc - jr < NR ? nc - jr : NR,
                                   bk_bias ? bk_bias + jr : NULL);
            }
        }
    }
    free(raw);
}

/* Packed op(B) for products with many A and one B (a recurrent step's weight, read at every
 * step): the K x N matrix is cut into equal K blocks of at most PKC, and each block into
 * NR-column micro-panels, stored one after another, so a product reads them as the driver
 * reads its own packed panels. Block pc starts at pc * npad, its panel of columns jr at jr * kc. */
static TARGET void FN(pack_b)(int transB, int64_t K, int64_t N, const T *B, int64_t ldb, T *packed)
{
    const int64_t brs = transB ? 1 : ldb, npad = (N + NR - 1) / NR * NR;
    const int64_t kblocks = (K + PKC - 1) / PKC, kcmax = K == 0 ? 0 : (K + kblocks - 1) / kblocks;
    for (int64_t pc = 0; pc < K; pc += kcmax) {
        const int64_t kc = K - pc < kcmax ? K - pc : kcmax;
        FN(pack)(NR, B + pc * brs, ldb, !transB, N, kc, packed + pc * npad, NULL);
    }
}

/* Columns [j0, j1) of C = alpha * op(A) * B + beta * C (+ bias, N values, on every row) with
 * B packed by pack_b; j0 is a multiple of NR, so threads can share one packed B by taking
 * column ranges. */
static TARGET void FN(gemm_packed)(int transA, int64_t M, int64_t N, int64_t K, T alpha,
                                   const T *A, int64_t lda, const T *packed, T beta, T *C, int64_t ldc,
                                   int64_t j0, int64_t j1, const T *bias)
{
    const int64_t ars = transA ? 1 : lda, acs = transA ? lda : 1, npad = (N + NR - 1) / NR * NR;
    if (K == 0 || alpha == 0) {
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = j0; j < j1; j++)
                C[i * ldc + j] = (bias ? bias[j] : 0) + (beta == 0 ? 0 : beta * C[i * ldc + j]);
        return;
    }
    const int64_t kblocks = (K + PKC - 1) / PKC, kcmax = (K + kblocks - 1) / kblocks;
    const int64_t mcmax = (M < MC ? (M + MR - 1) / MR * MR : MC);
    /* A few rows' pack (a recurrent step's product) lives on the stack: a malloc per call was
     * one in twenty-five of a char-LM training step's allocations. */
    char small[16384];
    const size_t bytes = (size_t)mcmax * kcmax * sizeof(T) + 64;
    char *raw = bytes <= sizeof small ? small : malloc(bytes);
    if (!raw) {  /* unpack nothing: multiply panel by panel from the packed layout, unblocked */
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = j0; j < j1; j++) {
                T s = 0;
                for (int64_t pc = 0; pc < K; pc += kcmax) {
                    const int64_t kc = K - pc < kcmax ? K - pc : kcmax;
                    const T *panel = packed + pc * npad + (j / NR * NR) * kc + j % NR;
                    for (int64_t k = 0; k < kc; k++) s += A[i * ars + (pc + k) * acs] * panel[k * NR];
                }
                const T biased = alpha * s + (bias ? bias[j] : 0);
                C[i * ldc + j] = beta == 0 ? biased : biased + beta * C[i * ldc + j];
            }
        return;
    }
    T *Ap = (T *)(((uintptr_t)raw + 63) & ~(uintptr_t)63);
    for (int64_t pc = 0; pc < K; pc += kcmax) {
        const int64_t kc = K - pc < kcmax ? K - pc : kcmax;
        const T bk = pc == 0 ? beta : 1;
        const T *bk_bias = pc == 0 ? bias : NULL;
        const T *Bp = packed + pc * npad;
        for (int64_t ic = 0; ic < M; ic += MC) {
            const int64_t mc = M - ic < MC ? M - ic : MC;
            FN(pack)(MR, A + ic * ars + pc * acs, lda, transA, mc, kc, Ap, NULL);
            for (int64_t jr = j0; jr < j1; jr += NR)
                for (int64_t ir = 0; ir < mc; ir += MR)
                    FN(tile)(kc, Ap + ir * kc, Bp + jr * kc, alpha, bk, C + (ic + ir) * ldc + jr, ldc,
                               mc - ir < MR ? mc - ir : MR, j1 - jr < NR ? j1 - jr : NR,
                               bk_bias ? bk_bias + jr : NULL);
        }
    }
    if (raw != small) free(raw);
}

static TARGET int64_t FN(panel_width)(void) { return NR; }

#undef TRANSPOSE16
#undef T
#undef SUF
#undef TARGET
#undef VBYTES
#undef MR
#undef NV
#undef KC
#undef PKC
#undef MC
#undef NC
#undef VL
#undef NR
#undef FN
#undef CAT
#undef CAT2
