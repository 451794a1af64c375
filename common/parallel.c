/* parallel.c — see parallel.h. The caller publishes a job and bumps an atomic
 * generation counter, the workers run their fixed share, the last one to
 * finish counts `pending` down to 0; each side spins briefly, then sleeps on
 * a condition variable. */
#include "common/parallel.h"
#include "common/reason.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if !defined(__EMSCRIPTEN__) || defined(__EMSCRIPTEN_PTHREADS__)
#define DL_HAVE_THREADS 1
#include <pthread.h>
#include <stdatomic.h>
#else
#define DL_HAVE_THREADS 0
#endif

typedef struct { void *p; size_t bytes; int fail_next; } scratch_buffer;
static scratch_buffer scratch_of[DL_MAX_THREADS];
static int n_threads = 1;

/* Thread t's first item of `items` split over `threads`, without overflow. */
static size_t share_begin(size_t items, int t, int threads) {
    size_t q = items / (size_t)threads, r = items % (size_t)threads;
    return q * (size_t)t + r * (size_t)t / (size_t)threads;
}

int dl_parallel_threads(void) { return n_threads; }
int dl_parallel_available(void) { return DL_HAVE_THREADS; }

void *dl_parallel_scratch(int thread, size_t bytes) {
    if (thread < 0 || thread >= DL_MAX_THREADS) return NULL;
    scratch_buffer *s = &scratch_of[thread];
    if (s->fail_next) { s->fail_next = 0; return NULL; }
    if (bytes > s->bytes || !s->p) {
        free(s->p);
        s->bytes = 0;
        if (!(s->p = malloc(bytes ? bytes : 1))) return NULL;
        s->bytes = bytes;
    }
    return s->p;
}

void dl_parallel_fail_next_scratch(int thread) {
    if (thread >= 0 && thread < DL_MAX_THREADS) scratch_of[thread].fail_next = 1;
}

#if DL_HAVE_THREADS

/* A node of DenseNet takes 20 us to a few ms: waking a sleeping thread costs
 * about as much as the small ones, so both sides spin a little on the atomic
 * counters before they sleep on the condition variables. */
#define SPINS 20000

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t work_ready = PTHREAD_COND_INITIALIZER, work_done = PTHREAD_COND_INITIALIZER;
static int started = 1;                 /* threads that exist: the caller + workers 1..started-1 */
static atomic_ulong generation;         /* bumped once per parallel call, after the job is set */
static atomic_int pending;              /* workers that have not yet answered the current call */
static struct { dl_range_fn fn; void *ctx; size_t items; int threads; } job;
static unsigned long born[DL_MAX_THREADS];     /* the generation when each worker was created */
static char reasons[DL_MAX_THREADS][512];
static int failed[DL_MAX_THREADS];

static void run_share(int t) {
    size_t begin = share_begin(job.items, t, job.threads), end = share_begin(job.items, t + 1, job.threads);
    failed[t] = 0;
    if (begin == end) return;
    const char *err = job.fn(job.ctx, begin, end, t);
    if (err) {   /* the reason may live in this thread's dl_errorf buffer: copy it */
        strncpy(reasons[t], err, sizeof reasons[t] - 1);
        reasons[t][sizeof reasons[t] - 1] = 0;
        failed[t] = 1;
    }
}

static void *worker(void *arg) {
    int id = (int)(intptr_t)arg;
    unsigned long seen = born[id];   /* not a later value: a job published before this thread ran is its own */
    for (;;) {
        for (int spin = 0; spin < SPINS && atomic_load_explicit(&generation, memory_order_acquire) == seen; spin++) {}
        if (atomic_load(&generation) == seen) {
            pthread_mutex_lock(&lock);
            while (atomic_load(&generation) == seen) pthread_cond_wait(&work_ready, &lock);
            pthread_mutex_unlock(&lock);
        }
        seen = atomic_load(&generation);
        if (id < job.threads) run_share(id);  /* every worker answers every call, so none reads a job being written */
        if (atomic_fetch_sub(&pending, 1) == 1) {
            pthread_mutex_lock(&lock);
            pthread_cond_signal(&work_done);
            pthread_mutex_unlock(&lock);
        }
    }
    return NULL;
}

const char *dl_parallel_set_threads(int threads) {
    if (threads < 1 || threads > DL_MAX_THREADS)
        return dl_errorf("threads must be between 1 and %d; got %d", DL_MAX_THREADS, threads);
    while (started < threads) {
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        born[started] = atomic_load(&generation);
        int rc = pthread_create(&t, &attr, worker, (void *)(intptr_t)started);
        pthread_attr_destroy(&attr);
        if (rc) return dl_errorf("could not start thread %d of %d (error %d); still %d thread%s",
                                 started + 1, threads, rc, n_threads, n_threads == 1 ? "" : "s");
        started++;
    }
    n_threads = threads;
    return NULL;
}

const char *dl_parallel_for(size_t items, dl_range_fn fn, void *ctx) {
    int threads = n_threads;
    if (items < (size_t)threads) threads = (int)items;
    if (threads <= 1) return items ? fn(ctx, 0, items, 0) : NULL;
    job.fn = fn; job.ctx = ctx; job.items = items; job.threads = threads;
    atomic_store(&pending, started - 1);
    pthread_mutex_lock(&lock);
    atomic_fetch_add(&generation, 1);
    pthread_cond_broadcast(&work_ready);
    pthread_mutex_unlock(&lock);
    run_share(0);
    for (int spin = 0; spin < SPINS && atomic_load_explicit(&pending, memory_order_acquire); spin++) {}
    if (atomic_load(&pending)) {
        pthread_mutex_lock(&lock);
        while (atomic_load(&pending)) pthread_cond_wait(&work_done, &lock);
        pthread_mutex_unlock(&lock);
    }
    for (int t = 0; t < threads; t++)
        if (failed[t]) return dl_errorf("%s", reasons[t]);
    return NULL;
}

#else   /* no threads in this build: everything runs on the caller */

const char *dl_parallel_set_threads(int threads) {
    if (threads == 1) return NULL;
    return dl_errorf("this build runs one thread (asked for %d): use the threaded build", threads);
}

const char *dl_parallel_for(size_t items, dl_range_fn fn, void *ctx) {
    return items ? fn(ctx, 0, items, 0) : NULL;
}

#endif
