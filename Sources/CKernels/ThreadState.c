// Per-thread state: recording is per thread, so two models can train on two threads without
// sharing a tape; and flush-to-zero, because long backward passes through saturated tanh
// produce subnormals that make every float op ~100x slower on x86.
#include "CKernels.h"
#include <stdatomic.h>
#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#define AG_MXCSR_FTZ_DAZ 0x8040u
#endif

static _Thread_local int grad_mode = 1;
static _Thread_local int trace_mode = 0;
static _Thread_local int retains_graph = 1;
static _Thread_local int thread_prepared = 0;
static atomic_int flush_default = 1;

int ag_grad_mode(void) { return grad_mode; }

int ag_set_grad_mode(int enabled) {
    int previous = grad_mode;
    grad_mode = enabled;
    return previous;
}

int ag_retains_graph(void) { return retains_graph; }

int ag_set_retains_graph(int retains) {
    int previous = retains_graph;
    retains_graph = retains;
    return previous;
}

int ag_trace_mode(void) { return trace_mode; }

int ag_set_trace_mode(int enabled) {
    int previous = trace_mode;
    trace_mode = enabled;
    return previous;
}

static void apply_flush(int enabled) {
#if defined(__x86_64__) || defined(__i386__)
    unsigned int csr = _mm_getcsr();
    _mm_setcsr(enabled ? (csr | AG_MXCSR_FTZ_DAZ) : (csr & ~AG_MXCSR_FTZ_DAZ));
#elif defined(__aarch64__)
    uint64_t fpcr;
    __asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
    fpcr = enabled ? (fpcr | (1ull << 24)) : (fpcr & ~(1ull << 24));
    __asm__ volatile("msr fpcr, %0" : : "r"(fpcr));
#else
    (void)enabled;
#endif
}

void ag_prepare_thread(void) {
    if (thread_prepared) return;
    thread_prepared = 1;
    apply_flush(atomic_load(&flush_default));
}

void ag_set_flush_denormals(int enabled) {
    atomic_store(&flush_default, enabled);
    thread_prepared = 1;
    apply_flush(enabled);
}

int ag_flushes_denormals(void) {
#if defined(__x86_64__) || defined(__i386__)
    return (_mm_getcsr() & AG_MXCSR_FTZ_DAZ) == AG_MXCSR_FTZ_DAZ;
#elif defined(__aarch64__)
    uint64_t fpcr;
    __asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
    return (int)((fpcr >> 24) & 1);
#else
    return 0;
#endif
}
