// A tiny persistent thread pool for parallel loops. Workers spin briefly before sleeping, so
// back-to-back jobs of tens of microseconds (the matrix products of a recurrent step) start at
// once; libdispatch's workers often wake too late for those and the caller ends up doing all
// the work. One job runs at a time: a caller that finds the pool busy runs its loop alone,
// which keeps two models training on two threads independent.
#include "CKernels.h"
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>
#if defined(__x86_64__)
#include <immintrin.h>
#define AG_PAUSE() _mm_pause()
#else
#define AG_PAUSE() ((void)0)
#endif

#define AG_MAX_WORKERS 63
#define AG_SPIN_ROUNDS 20000  // ~50-100 µs of polling before a worker sleeps

// The ticket packs the job's generation (high 32 bits) with the next unclaimed index (low 32):
// indices are claimed by compare-and-swap against the generation a thread joined, so a worker
// still leaving an old job can neither claim nor lose an index of the next one.
static struct {
    pthread_mutex_t busy;           // held by the caller whose job is running
    pthread_mutex_t sleep_lock;
    pthread_cond_t wake;
    atomic_uint_fast64_t ticket;
    ag_task_fn function;
    void *context;
    int64_t count;
    int participants;               // workers allowed to join the current job
    atomic_int_fast64_t finished;
    int workers;
} pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER};

static pthread_once_t pool_once = PTHREAD_ONCE_INIT;
static _Thread_local int in_task;

int ag_in_parallel_task(void) { return in_task; }

static uint64_t generation_of(uint64_t ticket) { return ticket >> 32; }

static void run_indices(uint64_t generation) {
    uint64_t ticket = atomic_load(&pool.ticket);
    while (generation_of(ticket) == generation && (int64_t)(ticket & 0xFFFFFFFFu) < pool.count) {
        if (!atomic_compare_exchange_weak(&pool.ticket, &ticket, ticket + 1)) continue;
        pool.function(pool.context, (int64_t)(ticket & 0xFFFFFFFFu));
        atomic_fetch_add(&pool.finished, 1);
        ticket = atomic_load(&pool.ticket);
    }
}

static void *worker_main(void *argument) {
    const int rank = (int)(intptr_t)argument;
    uint64_t seen = 0;
    ag_prepare_thread();
    in_task = 1;
    for (;;) {
        int spins = 0;
        while (generation_of(atomic_load(&pool.ticket)) == seen) {
            if (++spins < AG_SPIN_ROUNDS) { AG_PAUSE(); continue; }
            pthread_mutex_lock(&pool.sleep_lock);
            while (generation_of(atomic_load(&pool.ticket)) == seen) pthread_cond_wait(&pool.wake, &pool.sleep_lock);
            pthread_mutex_unlock(&pool.sleep_lock);
        }
        seen = generation_of(atomic_load(&pool.ticket));
        if (rank < pool.participants) run_indices(seen);
    }
    return NULL;
}

static void start_pool(void) {
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    pool.workers = cores > 1 ? (int)(cores - 1 > AG_MAX_WORKERS ? AG_MAX_WORKERS : cores - 1) : 0;
    for (int rank = 0; rank < pool.workers; rank++) {
        pthread_t thread;
        if (pthread_create(&thread, NULL, worker_main, (void *)(intptr_t)rank) != 0) { pool.workers = rank; break; }
        pthread_detach(thread);
    }
}

/* The loop on the pool, whose busy lock the caller holds; the caller takes indices too. */
static void run_with_pool(int64_t count, int helpers, ag_task_fn function, void *context) {
    pool.function = function;
    pool.context = context;
    pool.count = count;
    pool.participants = helpers;
    atomic_store(&pool.finished, 0);
    const uint64_t generation = generation_of(atomic_load(&pool.ticket)) + 1;
    pthread_mutex_lock(&pool.sleep_lock);
    atomic_store(&pool.ticket, generation << 32);  // publishes the fields above
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.sleep_lock);
    run_indices(generation);
    while (atomic_load(&pool.finished) < count) AG_PAUSE();
}

void ag_parallel_for(int64_t count, int threads, ag_task_fn function, void *context) {
    pthread_once(&pool_once, start_pool);
    const int helpers = threads - 1 < pool.workers ? threads - 1 : pool.workers;
    const int several = count > 1, was_in_task = in_task;
    if (several) in_task = 1;
    if (several && count <= 0xFFFFFFFF && helpers > 0 && pthread_mutex_trylock(&pool.busy) == 0) {
        run_with_pool(count, helpers, function, context);
        pthread_mutex_unlock(&pool.busy);
    } else {
        for (int64_t index = 0; index < count; index++) function(context, index);
    }
    in_task = was_in_task;
}
