#ifndef AUTOGRAD_CKERNELS_H
#define AUTOGRAD_CKERNELS_H

#include <stdint.h>

/// C = alpha * op(A) * op(B) + beta * C + bias, row-major; op(X) = X or Xᵀ when transX != 0.
/// op(A) is M×K, op(B) is K×N, C is M×N; lda/ldb/ldc are row strides in elements; bias is N
/// values added to every row of C (a layer's bias, added as C is stored), or NULL.
/// beta == 0 overwrites C (even NaN). a_sums, if not NULL, receives op(A)'s M row sums
/// (sum over k of op(A)(i,k), added in k order, whatever alpha): with op(A) = dYᵀ, a layer's
/// bias gradient beside its weight gradient, summed while A is packed instead of in a pass
/// of its own. Single-threaded and reentrant: callers split rows of C across threads. Packed,
/// cache-blocked, with AVX-512 / AVX2 / baseline paths chosen at run time (gemm.c, gemm_impl.h).
void ag_sgemm(int transA, int transB, int64_t M, int64_t N, int64_t K,
              float alpha, const float *A, int64_t lda, const float *B, int64_t ldb,
              float beta, float *C, int64_t ldc, const float *bias, float *a_sums);
void ag_dgemm(int transA, int transB, int64_t M, int64_t N, int64_t K,
              double alpha, const double *A, int64_t lda, const double *B, int64_t ldb,
              double beta, double *C, int64_t ldc, const double *bias, double *a_sums);
/// Products with one right operand and many left ones (a recurrent weight, read at every
/// step) pack it once: ag_sgemm_pack_b writes op(B) (K×N) into `packed`, which must hold
/// ag_gemm_packed_size(K, N) elements (of either type); ag_sgemm_packed then computes columns
/// [column_begin, column_end) of C = alpha * op(A) * B + beta * C (+ bias, N values or NULL,
/// on every row) from it, where column_begin is a multiple of ag_sgemm_panel_width() (threads
/// share one packed B by column ranges). The bias is added before beta * C, so a product of
/// one K block accumulated onto an addend rounds as the product, then the sum, would.
/// The layout depends on the CPU's instruction set: a packed buffer stays in its process.
int64_t ag_sgemm_panel_width(void);
int64_t ag_gemm_packed_size(int64_t K, int64_t N);
void ag_sgemm_pack_b(int transB, int64_t K, int64_t N, const float *B, int64_t ldb, float *packed);
void ag_sgemm_packed(int transA, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
                     const float *packed, float beta, float *C, int64_t ldc, int64_t column_begin, int64_t column_end,
                     const float *bias);
int64_t ag_dgemm_panel_width(void);
void ag_dgemm_pack_b(int transB, int64_t K, int64_t N, const double *B, int64_t ldb, double *packed);
void ag_dgemm_packed(int transA, int64_t M, int64_t N, int64_t K, double alpha, const double *A, int64_t lda,
                     const double *packed, double beta, double *C, int64_t ldc, int64_t column_begin, int64_t column_end,
                     const double *bias);
/// The instruction-set path the GEMM uses on this CPU: "avx512", "avx2" or "generic".
const char *ag_gemm_isa(void);

/// y[i] = e^x[i] for float32, vectorized (runtime ISA dispatch); a few ulp of libm.
void ag_expf(const float *x, float *y, int64_t n);
/// y[i] = tanh(x[i]) for float32, vectorized; a few ulp of libm.
void ag_tanhf(const float *x, float *y, int64_t n);
/// y[i] = 1 / (1 + e^-x[i]) for float32, vectorized; a few ulp of libm.
void ag_sigmoidf(const float *x, float *y, int64_t n);

/// Binary float32 loops y[i] = f(a[i], b[i]), vectorized (binary.c); an operand whose flag is
/// set is a scalar read at index 0. Rounded as the Swift definitions: add a + b, sub a − b,
/// mul a·b, tanh_grad g·(1 − y·y), sigmoid_grad g·y·(1 − y) (a = g, b = y).
void ag_add_f32(const float *a, int scalar_a, const float *b, int scalar_b, float *y, int64_t n);
void ag_sub_f32(const float *a, int scalar_a, const float *b, int scalar_b, float *y, int64_t n);
void ag_mul_f32(const float *a, int scalar_a, const float *b, int scalar_b, float *y, int64_t n);
void ag_tanh_grad_f32(const float *a, int scalar_a, const float *b, int scalar_b, float *y, int64_t n);
void ag_sigmoid_grad_f32(const float *a, int scalar_a, const float *b, int scalar_b, float *y, int64_t n);
/// Comparisons: 1 where the relation holds, else 0.
void ag_less_f32(const float *a, int scalar_a, const float *b, int scalar_b, float *y, int64_t n);
void ag_less_equal_f32(const float *a, int scalar_a, const float *b, int scalar_b, float *y, int64_t n);
void ag_greater_f32(const float *a, int scalar_a, const float *b, int scalar_b, float *y, int64_t n);
void ag_greater_equal_f32(const float *a, int scalar_a, const float *b, int scalar_b, float *y, int64_t n);
void ag_equal_f32(const float *a, int scalar_a, const float *b, int scalar_b, float *y, int64_t n);
void ag_not_equal_f32(const float *a, int scalar_a, const float *b, int scalar_b, float *y, int64_t n);
/// y[i] = c[i] != 0 ? a[i] : b[i]; an operand whose flag is nonzero is a scalar read at index 0.
void ag_where_f32(const float *c, int scalar_c, const float *a, int scalar_a, const float *b, int scalar_b,
                  float *y, int64_t n);

/// A mask of n entries (masks.c): eight xoshiro256** streams, stream j seeded from seeds[j] as
/// RandomGenerator(seed:) seeds; entries 16c + 2j and 16c + 2j + 1 are the low and high 32 bits
/// k of stream j's draw c, each `hit` when k < threshold (at most 2³²), else `miss`.
void ag_draw_mask_f32(const uint64_t seeds[8], uint64_t threshold, float hit, float miss, float *out, int64_t n);
void ag_draw_mask_f64(const uint64_t seeds[8], uint64_t threshold, double hit, double miss, double *out, int64_t n);
/// Rows first_row ..< first_row + rows of a [·, columns] mask whose rows are drawn each on its
/// own (masks.c), so any range of rows can be drawn alone: row r is filled as ag_draw_mask
/// fills a mask, from streams whose state words are the splitmix64 outputs 32r + 1 … 32r + 32
/// of the stream seeded with `seed` (stream j's four: 32r + 4j + 1 … 32r + 4j + 4).
void ag_draw_row_masks_f32(uint64_t seed, int64_t first_row, int64_t rows, int64_t columns, uint64_t threshold,
                           float hit, float miss, float *out);
void ag_draw_row_masks_f64(uint64_t seed, int64_t first_row, int64_t rows, int64_t columns, uint64_t threshold,
                           double hit, double miss, double *out);

/// Adam's update with default options over n elements (Sources/CKernels/optimizer.c):
/// m += w1·(g − m); s = s·β2 + w2·g²; value += −step·m / (√s / c2 + ε).
void ag_adam_f32(float *value, const float *gradient, float *average, float *square_average, int64_t n,
                 float average_weight, float beta2, float square_weight, float step_size, float correction2_root,
                 float epsilon);
void ag_adam_f64(double *value, const double *gradient, double *average, double *square_average, int64_t n,
                 double average_weight, double beta2, double square_weight, double step_size,
                 double correction2_root, double epsilon);

/// A task of a parallel loop: called once per index with the loop's context.
typedef void (*ag_task_fn)(void *context, int64_t index);
/// Calls task(context, i) for every i in [0, count) on up to `threads` threads (the caller
/// included, from a persistent pool), returning when all are done. Runs on the caller alone
/// when the pool is busy with another caller's loop.
void ag_parallel_for(int64_t count, int threads, ag_task_fn task, void *context);
/// 1 while this thread runs a task of a parallel loop of several (a pool worker always does), else 0:
/// a loop started there runs on this thread alone, so work sized for splitting need not split.
int ag_in_parallel_task(void);

/// Whether operations on this thread record onto the tape (thread-local, default 1).
int ag_grad_mode(void);
/// Sets this thread's grad mode and returns the previous one.
int ag_set_grad_mode(int enabled);
/// Whether the backward pass running on this thread keeps the values saved for pullbacks
/// (thread-local; 1 outside a backward pass).
int ag_retains_graph(void);
/// Sets it and returns the previous value (the backward walk does, for its duration).
int ag_set_retains_graph(int retains);
/// Whether this thread is tracing a program: every op on a traced value is recorded, also
/// under no-grad (thread-local, default 0).
int ag_trace_mode(void);
/// Sets this thread's trace mode and returns the previous one.
int ag_set_trace_mode(int enabled);

/// Makes this thread flush subnormal floats to zero (FTZ and DAZ), unless disabled with
/// ag_set_flush_denormals(0). Cheap after the first call on a thread.
void ag_prepare_thread(void);
/// Raises glibc's mmap and trim thresholds (32 and 128 MiB) so tensors of up to 32 MiB reuse
/// the process's memory instead of fresh pages (Allocator.c); does nothing elsewhere, or when
/// GLIBC_TUNABLES sets malloc tunables, MALLOC_MMAP_THRESHOLD_ / MALLOC_TRIM_THRESHOLD_ or
/// AUTOGRAD_SYSTEM_MALLOC is set.
void ag_tune_allocator(void);
/// Sets or clears FTZ/DAZ on this thread now, and the default for threads not yet prepared.
void ag_set_flush_denormals(int enabled);
/// Whether this thread currently flushes subnormals to zero.
int ag_flushes_denormals(void);

/// This thread's innermost anomaly-detection scope (an opaque Swift object), or NULL when
/// anomaly mode is off.
void *ag_anomaly_scope(void);
/// Sets this thread's anomaly-detection scope and returns the previous one.
void *ag_set_anomaly_scope(void *scope);

#endif
