/* Checks ag_tune_allocator (glibc): a freed 96 MiB block's memory serves the next one, so its
 * pages are not faulted in (and zeroed by the kernel) again. With glibc's defaults, or the
 * 32 MiB mmap threshold used before, a block this large was mapped for itself and unmapped when
 * freed: all of the next one's pages (24,576 of 4 KiB) faulted again (config C's 105 MiB
 * buffers, at every training step). Runs on the main thread, whose arena is the heap (the
 * tuning's case); `untuned` runs the same without the tuning, which must fault (the check can
 * fail).
 * Build: clang -O2 -I Sources/CKernels/include Tests/CKernelsTests/allocator_check.c Sources/CKernels/Allocator.c -o check
 * Run:   ./check && ./check untuned        Exit status is non-zero if a check fails. */
#define _GNU_SOURCE /* RUSAGE_THREAD */
#include "CKernels.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

static long thread_page_faults(void)
{
    struct rusage usage;
    getrusage(RUSAGE_THREAD, &usage);
    return usage.ru_minflt;
}

/* Writes every byte, as a tensor's initialisation does (the barrier keeps the compiler from
 * dropping writes to memory that is only freed afterwards). Its whole pages are kept out of
 * transparent huge pages first, so a fresh block faults once per page whatever the system's
 * setting. */
static void touch(char *block, size_t bytes, int value, long page)
{
    const uintptr_t start = ((uintptr_t)block + (uintptr_t)page - 1) / (uintptr_t)page * (uintptr_t)page;
    const uintptr_t end = ((uintptr_t)block + bytes) / (uintptr_t)page * (uintptr_t)page;
    if (end > start) madvise((void *)start, end - start, MADV_NOHUGEPAGE);
    memset(block, value, bytes);
    __asm__ volatile("" : : "r"(block) : "memory");
}

int main(int argc, char **argv)
{
    const int tuned = !(argc > 1 && !strcmp(argv[1], "untuned"));
    if (tuned) ag_tune_allocator();
    const size_t bytes = (size_t)96 << 20;
    const long page = sysconf(_SC_PAGESIZE), pages = (long)bytes / page;
    char *first = malloc(bytes);
    if (!first) return 2;
    touch(first, bytes, 1, page);
    free(first);
    const long before = thread_page_faults();
    char *second = malloc(bytes);
    if (!second) return 2;
    touch(second, bytes, 2, page);
    const long faults = thread_page_faults() - before;
    free(second);
    /* Tuned, the reused block faults in (almost) nothing; untuned, (almost) every page. */
    const int passed = tuned ? faults < pages / 10 : faults > pages / 2;
    printf("allocator check (%s): %ld page faults for %ld pages of a reallocated block: %s\n",
           tuned ? "tuned" : "untuned", faults, pages, passed ? "passed" : "FAILED");
    return passed ? 0 : 1;
}
