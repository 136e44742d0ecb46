/* Correctness tests and benchmarks for ag_sgemm / ag_dgemm.
 * Build: clang -O2 -I Sources/CKernels/include Tests/CKernelsTests/gemm_harness.c Sources/CKernels/gemm.c -o harness -lm -pthread
 * Run:   ./harness          (tests, then benchmarks)
 *        ./harness test     (tests only)      ./harness bench   (benchmarks only)
 * Exit status is non-zero if any test fails. */
#include "CKernels.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rng(void)  /* splitmix64 */
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static double urand(void) { return (rng() >> 11) * (2.0 / 9007199254740992.0) - 1.0; }  /* [-1,1) */
static int64_t irand(int64_t n) { return (int64_t)(rng() % (uint64_t)n); }

static int passed, failed;
#define C_SENTINEL 12345.0

/* One test case: random op(A) (M x K), op(B) (K x N), C (M x N) with padded strides.
 * Padding of A/B holds NaN (reading it would poison the result); padding of C holds a
 * sentinel that must survive. With beta == 0, C starts as NaN, which must be ignored. */
/* The packed-B path runs on the same case (into Cp): B packed once, C's columns computed in
 * two ranges split at a panel boundary, as two threads would. Half the cases add a bias row. */
#define DEFINE_CHECK(T, NAME, GEMM, PACKED, TOL)                                               \
static int NAME(int ta, int tb, int64_t M, int64_t N, int64_t K, T alpha, T beta,             \
                int64_t pa, int64_t pb, int64_t pc)                                          \
{                                                                                            \
    const int64_t ar = ta ? K : M, ac = ta ? M : K, lda = ac + pa;                           \
    const int64_t br = tb ? N : K, bc = tb ? K : N, ldb = bc + pb, ldc = N + pc;             \
    T *A = malloc(sizeof(T) * (size_t)(ar * lda + 1));                                       \
    T *B = malloc(sizeof(T) * (size_t)(br * ldb + 1));                                       \
    T *C = malloc(sizeof(T) * (size_t)(M * ldc + 1)), *C0 = malloc(sizeof(T) * (size_t)(M * ldc + 1)); \
    for (int64_t i = 0; i < ar * lda; i++) A[i] = i % lda < ac ? (T)urand() : (T)NAN;        \
    for (int64_t i = 0; i < br * ldb; i++) B[i] = i % ldb < bc ? (T)urand() : (T)NAN;        \
    for (int64_t i = 0; i < M * ldc; i++)                                                    \
        C[i] = i % ldc >= N ? (T)C_SENTINEL : beta == 0 ? (T)NAN : (T)urand();              \
    memcpy(C0, C, sizeof(T) * (size_t)(M * ldc));                                            \
    T *bias = irand(2) ? malloc(sizeof(T) * (size_t)N) : NULL;                               \
    for (int64_t j = 0; bias && j < N; j++) bias[j] = (T)urand();                            \
    T *sums = irand(2) ? malloc(sizeof(T) * (size_t)(M + 1)) : NULL;                         \
    for (int64_t i = 0; sums && i <= M; i++) sums[i] = (T)NAN;                               \
    if (sums) sums[M] = (T)C_SENTINEL;                                                       \
    GEMM(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, bias, sums);                  \
    T *Cp = malloc(sizeof(T) * (size_t)(M * ldc + 1));                                       \
    T *packed = malloc(sizeof(T) * (size_t)(ag_gemm_packed_size(K, N) + 1));                \
    memcpy(Cp, C0, sizeof(T) * (size_t)(M * ldc));                                           \
    PACKED##_pack_b(tb, K, N, B, ldb, packed);                                               \
    const int64_t panel = PACKED##_panel_width(), split = N < panel ? N : panel * (1 + irand((N + panel - 1) / panel)); \
    PACKED##_packed(ta, M, N, K, alpha, A, lda, packed, beta, Cp, ldc, 0, split < N ? split : N, bias); \
    PACKED##_packed(ta, M, N, K, alpha, A, lda, packed, beta, Cp, ldc, split < N ? split : N, N, bias); \
    int bad = 0;                                                                             \
    for (int64_t i = 0; i < 2 * M && !bad; i++)                                              \
        for (int64_t j = 0; j < ldc && !bad; j++) {                                          \
            const T got = i < M ? C[i * ldc + j] : Cp[(i - M) * ldc + j];                    \
            if (j >= N) { bad = got != (T)C_SENTINEL; continue; }                           \
            const int64_t r = i % M;                                                         \
            double s = 0, mag = 0;                                                           \
            for (int64_t k = 0; k < K && alpha != 0; k++) {                                  \
                const double a = ta ? A[k * lda + r] : A[r * lda + k];                       \
                const double b = tb ? B[j * ldb + k] : B[k * ldb + j];                       \
                s += a * b, mag += fabs(a * b);                                              \
            }                                                                                \
            const double c0 = beta == 0 ? 0 : (double)beta * C0[r * ldc + j];                \
            const double b0 = bias ? (double)bias[j] : 0;                                    \
            const double ref = (double)alpha * s + c0 + b0;                                  \
            const double tol = TOL * (double)(K > 0 ? K : 1) * (fabs((double)alpha) * mag + fabs(c0) + fabs(b0)) + 1e-300; \
            bad = !(fabs((double)got - ref) <= tol);                                         \
        }                                                                                    \
    /* op(A)'s row sums, when asked for, whatever alpha and N: exactly the sums in k order   \
     * (a reduction over rows gives the same bits); the element past them intact. */         \
    for (int64_t i = 0; sums && i < M && !bad; i++) {                                        \
        T s = 0;                                                                             \
        for (int64_t k = 0; k < K; k++) s += ta ? A[k * lda + i] : A[i * lda + k];           \
        bad = sums[i] != s;                                                                  \
    }                                                                                        \
    if (sums && sums[M] != (T)C_SENTINEL) bad = 1;                                           \
    if (bad) {                                                                               \
        failed++;                                                                            \
        if (failed <= 20)                                                                    \
            printf("FAIL %s (its packed-B path or row sums) ta=%d tb=%d M=%lld N=%lld K=%lld alpha=%g beta=%g pads=%lld,%lld,%lld\n", \
                   #GEMM, ta, tb, (long long)M, (long long)N, (long long)K, (double)alpha,   \
                   (double)beta, (long long)pa, (long long)pb, (long long)pc);               \
    } else {                                                                                 \
        passed++;                                                                            \
    }                                                                                        \
    free(A), free(B), free(C), free(C0), free(Cp), free(packed), free(bias), free(sums);     \
    return !bad;                                                                             \
}
DEFINE_CHECK(float, check_s, ag_sgemm, ag_sgemm, 1e-5)
DEFINE_CHECK(double, check_d, ag_dgemm, ag_dgemm, 1e-12)

static double pick_scalar(int allow_zero)
{
    switch (irand(4)) {
    case 0: return allow_zero ? 0.0 : 1.0;
    case 1: return 1.0;
    default: return urand() * 2;
    }
}

static void check_both(int ta, int tb, int64_t M, int64_t N, int64_t K, double alpha, double beta,
                       int64_t pa, int64_t pb, int64_t pc)
{
    check_s(ta, tb, M, N, K, (float)alpha, (float)beta, pa, pb, pc);
    check_d(ta, tb, M, N, K, alpha, beta, pa, pb, pc);
}

/* Two threads each compute half of C's rows; the result must equal one call over all rows. */
struct job { int64_t row0, rows, n; const float *A, *B; float *C; };
static void *run_job(void *p)
{
    const struct job *j = p;
    ag_sgemm(0, 0, j->rows, j->n, j->n, 1.0f, j->A + j->row0 * j->n, j->n, j->B, j->n, 0.0f,
             j->C + j->row0 * j->n, j->n, NULL, NULL);
    return NULL;
}
static void check_threads(void)
{
    const int64_t n = 400;
    float *A = malloc(sizeof(float) * n * n), *B = malloc(sizeof(float) * n * n);
    float *C1 = malloc(sizeof(float) * n * n), *C2 = malloc(sizeof(float) * n * n);
    for (int64_t i = 0; i < n * n; i++) A[i] = (float)urand(), B[i] = (float)urand();
    ag_sgemm(0, 0, n, n, n, 1.0f, A, n, B, n, 0.0f, C1, n, NULL, NULL);
    for (int rep = 0; rep < 20; rep++) {
        struct job jobs[2] = {{0, n / 2, n, A, B, C2}, {n / 2, n - n / 2, n, A, B, C2}};
        pthread_t t[2];
        for (int i = 0; i < 2; i++) pthread_create(&t[i], NULL, run_job, &jobs[i]);
        for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
        if (memcmp(C1, C2, sizeof(float) * n * n) != 0) { failed++; printf("FAIL threads\n"); break; }
        passed++;
    }
    free(A), free(B), free(C1), free(C2);
}

static void run_tests(void)
{
    /* Exhaustive over sizes around the micro-tile and vector widths, all trans combinations. */
    static const int64_t sz[] = {0, 1, 2, 3, 5, 7, 8, 13, 14, 15, 16, 17, 29, 31, 32, 33, 65};
    const int nsz = sizeof sz / sizeof sz[0];
    for (int t = 0; t < 4; t++)
        for (int a = 0; a < nsz; a++)
            for (int b = 0; b < nsz; b++)
                for (int c = 0; c < nsz; c += 3)
                    check_both(t & 1, t >> 1, sz[a], sz[b], sz[(c + a + b) % nsz], pick_scalar(1),
                               pick_scalar(1), irand(3), irand(3), irand(3));
    /* Random shapes crossing the KC / MC blocks, strides wider than the matrices. */
    for (int i = 0; i < 300; i++)
        check_both(irand(2), irand(2), 1 + irand(400), 1 + irand(400), 1 + irand(700),
                   pick_scalar(1), pick_scalar(1), irand(2) * irand(50), irand(2) * irand(50),
                   irand(2) * irand(50));
    /* Shapes crossing NC (float 4096, double 2048) and mostly-fringe shapes. */
    for (int t = 0; t < 4; t++) {
        check_both(t & 1, t >> 1, 37, 4100, 45, 0.5, 2.0, 1, 3, 5);
        check_both(t & 1, t >> 1, 15, 2100, 300, -1.0, 0.0, 0, 0, 0);
        check_both(t & 1, t >> 1, 300, 1, 300, 1.0, 1.0, 0, 0, 0);
        check_both(t & 1, t >> 1, 1, 300, 520, 1.0, 0.0, 2, 0, 0);
        check_both(t & 1, t >> 1, 513, 511, 517, 1.5, -0.5, 7, 0, 9);
    }
    /* alpha == 0: A and B must not be read (NaN-filled), C = beta * C. */
    {
        float A[4] = {NAN, NAN, NAN, NAN}, B[4] = {NAN, NAN, NAN, NAN}, C[4] = {1, 2, 3, 4};
        ag_sgemm(0, 0, 2, 2, 2, 0.0f, A, 2, B, 2, 3.0f, C, 2, NULL, NULL);
        if (C[0] == 3 && C[1] == 6 && C[2] == 9 && C[3] == 12) passed++;
        else failed++, printf("FAIL alpha=0\n");
    }
    /* Denormal inputs must not trap or produce NaN, and the caller's MXCSR must be restored. */
    {
        float A[256], B[256], C[256];
        for (int i = 0; i < 256; i++) A[i] = 1e-39f, B[i] = 1e-3f;
        ag_sgemm(0, 0, 16, 16, 16, 1.0f, A, 16, B, 16, 0.0f, C, 16, NULL, NULL);
        volatile float tiny = 1e-38f;
        if (tiny * 0.5f != 0.0f && C[0] < 1e-30f) passed++;
        else failed++, printf("FAIL denormals / MXCSR\n");
    }
    check_threads();
    printf("tests: %d PASS, %d FAIL\n", passed, failed);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Median over 9 samples of seconds per call; each sample repeats the call for >= 20 ms. */
#define DEFINE_BENCH(T, NAME, GEMM)                                                            \
static double NAME(int ta, int tb, int64_t M, int64_t N, int64_t K)                          \
{                                                                                            \
    T *A = malloc(sizeof(T) * M * K), *B = malloc(sizeof(T) * K * N), *C = malloc(sizeof(T) * M * N); \
    for (int64_t i = 0; i < M * K; i++) A[i] = (T)urand();                                   \
    for (int64_t i = 0; i < K * N; i++) B[i] = (T)urand();                                   \
    const int64_t lda = ta ? M : K, ldb = tb ? K : N;                                        \
    int reps = 1;                                                                            \
    for (double t0 = now(); now() - t0 < 0.02; reps *= 2)                                    \
        for (int r = 0; r < reps; r++) GEMM(ta, tb, M, N, K, 1, A, lda, B, ldb, 0, C, N, NULL, NULL);\
    double s[9];                                                                             \
    for (int i = 0; i < 9; i++) {                                                            \
        const double t0 = now();                                                             \
        for (int r = 0; r < reps; r++) GEMM(ta, tb, M, N, K, 1, A, lda, B, ldb, 0, C, N, NULL, NULL);\
        s[i] = (now() - t0) / reps;                                                          \
        for (int j = i; j > 0 && s[j] < s[j - 1]; j--) { double x = s[j]; s[j] = s[j - 1]; s[j - 1] = x; } \
    }                                                                                        \
    free(A), free(B), free(C);                                                               \
    return s[4];                                                                             \
}
DEFINE_BENCH(float, bench_s, ag_sgemm)
DEFINE_BENCH(double, bench_d, ag_dgemm)

static void run_bench(void)
{
    printf("ISA path dispatched: %s\n", ag_gemm_isa());
    static const char *const tn[] = {"NN", "TN", "NT", "TT"};
    for (int d = 0; d < 2; d++) {
        for (int n = 256; n <= 1024; n *= 2) {
            const double t = d ? bench_d(0, 0, n, n, n) : bench_s(0, 0, n, n, n);
            printf("%s n=%5d NN %7.1f GFLOP/s\n", d ? "dgemm" : "sgemm", n, 2.0 * n * n * n / t * 1e-9);
        }
        for (int t = 1; t < 4; t++) {
            const double s = d ? bench_d(t & 1, t >> 1, 512, 512, 512) : bench_s(t & 1, t >> 1, 512, 512, 512);
            printf("%s n=  512 %s %7.1f GFLOP/s\n", d ? "dgemm" : "sgemm", tn[t], 2.0 * 512 * 512 * 512 / s * 1e-9);
        }
    }
    /* Tiny and GEMV-like shapes: {M, N, K, transB}. */
    static const int64_t small[][4] = {{1, 1, 1, 0}, {3, 5, 2, 0}, {16, 16, 16, 0}, {32, 32, 32, 0},
                                       {64, 64, 64, 0}, {1, 1024, 1024, 0}, {1, 1024, 1024, 1},
                                       {1024, 1, 1024, 0}, {8, 1024, 1024, 0}, {1024, 1024, 1, 0}};
    for (size_t i = 0; i < sizeof small / sizeof small[0]; i++) {
        const int64_t M = small[i][0], N = small[i][1], K = small[i][2];
        const double t = bench_s(0, (int)small[i][3], M, N, K);
        printf("sgemm %4lldx%4lldx%4lld %s %10.3f us/call %7.2f GFLOP/s\n", (long long)M, (long long)N,
               (long long)K, small[i][3] ? "NT" : "NN", t * 1e6, 2.0 * M * N * K / t * 1e-9);
    }
}

int main(int argc, char **argv)
{
    const int test = argc < 2 || !strcmp(argv[1], "test"), bench = argc < 2 || !strcmp(argv[1], "bench");
    if (test) run_tests();
    if (bench) run_bench();
    return failed ? 1 : 0;
}
