// Reference GEMM: correct for every shape and stride; replaced by the packed, blocked kernel.
#include "CKernels.h"

#define AG_DEFINE_GEMM(NAME, T)                                                               \
void NAME(int transA, int transB, int64_t M, int64_t N, int64_t K, T alpha, const T *A,      \
          int64_t lda, const T *B, int64_t ldb, T beta, T *C, int64_t ldc) {                 \
    for (int64_t i = 0; i < M; i++) {                                                         \
        for (int64_t j = 0; j < N; j++) C[i * ldc + j] = beta == 0 ? 0 : beta * C[i * ldc + j]; \
        for (int64_t p = 0; p < K; p++) {                                                     \
            T a = alpha * (transA ? A[p * lda + i] : A[i * lda + p]);                         \
            for (int64_t j = 0; j < N; j++)                                                   \
                C[i * ldc + j] += a * (transB ? B[j * ldb + p] : B[p * ldb + j]);             \
        }                                                                                     \
    }                                                                                         \
}
AG_DEFINE_GEMM(ag_sgemm, float)
AG_DEFINE_GEMM(ag_dgemm, double)
