// glibc's malloc gives each allocation above its mmap threshold (128 KiB at first, 32 MiB at
// most) pages of its own and returns freed memory at the top of the heap to the kernel past
// its trim threshold; a training step allocates and frees tensors of 0.1–100 MiB over and over,
// so each of them came back as fresh pages, zeroed by the kernel on first touch (page faults
// were up to a tenth of a regularised recurrent step, and config C's 105 MiB buffers, above
// any mmap threshold glibc accepts, cost it 6% of its CPU time). Every block now comes from
// the heap, and up to 1 GiB of free memory at its top stays in the process for the next step;
// measured, a step's peak resident memory does not grow (config C's fell). A thread other than
// the main one allocates from its own arena, whose heaps hold at most 64 MiB: larger blocks
// are still mapped there, as glibc falls back to mmap when a heap cannot hold them.
#include "CKernels.h"
#include <stdlib.h>
#include <string.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

void ag_tune_allocator(void) {
#if defined(__GLIBC__)
    // The user's own malloc settings, or a request to leave malloc alone, win.
    const char *tunables = getenv("GLIBC_TUNABLES");
    if ((tunables && strstr(tunables, "glibc.malloc.")) || getenv("MALLOC_MMAP_THRESHOLD_") || getenv("MALLOC_TRIM_THRESHOLD_")
        || getenv("MALLOC_MMAP_MAX_")
        || getenv("AUTOGRAD_SYSTEM_MALLOC")) {
        return;
    }
    mallopt(M_MMAP_MAX, 0);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
#endif
}
