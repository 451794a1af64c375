/* parallel.c — see parallel.h. The caller publishes a job by giving each of
 * its workers the call's number, runs its own share, and waits until the last
 * worker to finish publishes that number back; each side spins briefly, then
 * sleeps on a condition variable. */
#define _POSIX_C_SOURCE 200809L   /* clock_gettime under -std=c11 */
#include "common/parallel.h"
#include "common/reason.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if !defined(__EMSCRIPTEN__) || defined(__EMSCRIPTEN_PTHREADS__)
#define DL_HAVE_THREADS 1
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#ifdef __EMSCRIPTEN__
#include <emscripten.h>
#endif
#else
#define DL_HAVE_THREADS 0
#endif

typedef struct { void *p; size_t bytes; int fail_next; } scratch_buffer;
static scratch_buffer scratch_of[DL_MAX_THREADS];
static int n_threads = 1;

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

/* A node of DenseNet takes 10 us to a few ms, and waking a sleeping thread
 * (futex natively; Atomics.wait/notify in WebAssembly) costs tens of us. So
 * both sides spin on an atomic first, for up to SPIN_US microseconds (about
 * the gap between two parallel calls of one image), then sleep. */
#define SPIN_US 200

#if defined(__x86_64__) || defined(__i386__)
#define cpu_relax() __builtin_ia32_pause()      /* lets the other hyper-thread run, saves power */
#elif defined(__aarch64__)
#define cpu_relax() __asm__ __volatile__("yield")
#else
#define cpu_relax() ((void)0)                   /* WebAssembly has no pause hint */
#endif

static double now_us(void) {
#ifdef __EMSCRIPTEN__
    return emscripten_get_now() * 1e3;
#else
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + t.tv_nsec * 1e-3;
#endif
}

/* This thread's CPU time in seconds; -1 without a thread CPU clock. */
static double thread_cpu_seconds(void) {
#ifdef __EMSCRIPTEN__
    return -1;
#else
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + t.tv_nsec * 1e-9;
#endif
}

/* One side's wait: spin, then sleep on its own condition variable. The
 * publisher takes the mutex only when the waiter said it sleeps: both store
 * then load (sequentially consistent), so one of them sees the other's store. */
typedef struct { atomic_int sleeping; pthread_cond_t wake; } sleeper;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void wait_while_equal(atomic_ullong *v, unsigned long long old, sleeper *s) {
    double give_up = 0;
    for (unsigned spin = 0;; spin++) {
        if (atomic_load_explicit(v, memory_order_acquire) != old) return;
        if ((spin & 255) == 0) {               /* the clock costs more than an atomic load */
            double t = now_us();
            if (!give_up) give_up = t + SPIN_US;
            else if (t > give_up) break;
        }
        cpu_relax();
    }
    pthread_mutex_lock(&lock);
    atomic_store(&s->sleeping, 1);
    while (atomic_load(v) == old) pthread_cond_wait(&s->wake, &lock);
    atomic_store(&s->sleeping, 0);
    pthread_mutex_unlock(&lock);
}

static void publish(atomic_ullong *v, unsigned long long value, sleeper *s) {
    atomic_store(v, value);
    if (atomic_load(&s->sleeping)) {
        pthread_mutex_lock(&lock);
        pthread_cond_signal(&s->wake);
        pthread_mutex_unlock(&lock);
    }
}

/* Worker t runs call number go[t] (each worker spins on its own cache line);
 * only the threads of a call are told about it. The last one to finish
 * publishes the call's number in `finished`. */
typedef struct { _Alignas(64) atomic_ullong go; sleeper s; } worker_slot;
static worker_slot slots[DL_MAX_THREADS];
static _Alignas(64) atomic_ullong finished;
static atomic_int pending;              /* workers of the current call still running */
static sleeper caller = { 0, PTHREAD_COND_INITIALIZER };
static unsigned long long calls;       /* the caller's count of parallel calls (64-bit: never wraps) */
static int started = 1;                 /* threads that exist: the caller + workers 1..started-1 */
static struct { dl_range_fn fn; void *ctx; size_t items, chunk; int threads, balanced; } job;
static char reasons[DL_MAX_THREADS][512];
static int failed[DL_MAX_THREADS];

/* dl_parallel_measure_start: the caller's CPU time when it started, its CPU
 * time inside parallel calls, and the calls' slowest shares. */
static int measuring;
static double share_cpu[DL_MAX_THREADS], measure_start, caller_inside, slowest_shares;

/* Thread t's first item of `items` split over `threads`, without overflow. */
static size_t share_begin(size_t items, int t, int threads) {
    size_t q = items / (size_t)threads, r = items % (size_t)threads;
    return q * (size_t)t + r * (size_t)t / (size_t)threads;
}

/* dl_parallel_for_balanced: each thread's share as one atomic (first item left,
 * one past the last) of 32 bits each. The owner runs its first chunk itself (so
 * every thread of a call always does some of its own work), then takes chunks
 * from the front; a thread with nothing left takes chunks from the back of the
 * share with the most left. */
typedef struct { _Alignas(64) atomic_ullong items; } share_left;   /* one cache line each */
static share_left left[DL_MAX_THREADS];
static atomic_int stop_taking;          /* a range failed: nobody takes more */
static unsigned delay_next_us[DL_MAX_THREADS];   /* dl_parallel_delay_next_call (tests) */
#define CHUNKS_PER_THREAD 4

static unsigned long long pack(size_t lo, size_t hi) { return (unsigned long long)lo << 32 | hi; }

/* Up to `chunk` items from the front (owner) or the back (thief) of t's share. */
static int take(int t, int from_back, size_t chunk, size_t *begin, size_t *end) {
    unsigned long long r = atomic_load(&left[t].items);
    for (;;) {
        size_t lo = (size_t)(r >> 32), hi = (size_t)(r & 0xffffffffu);
        if (lo >= hi) return 0;
        size_t n = hi - lo < chunk ? hi - lo : chunk;
        unsigned long long next = from_back ? pack(lo, hi - n) : pack(lo + n, hi);
        if (atomic_compare_exchange_weak(&left[t].items, &r, next)) {
            *begin = from_back ? hi - n : lo;
            *end = from_back ? hi : lo + n;
            return 1;
        }
    }
}

/* The other thread whose share has the most items left; -1 when none has any. */
static int most_left(int self) {
    int best = -1;
    size_t most = 0;
    for (int t = 0; t < job.threads; t++) {
        unsigned long long r = atomic_load_explicit(&left[t].items, memory_order_relaxed);
        size_t lo = (size_t)(r >> 32), hi = (size_t)(r & 0xffffffffu);
        if (t != self && hi > lo && hi - lo > most) { most = hi - lo; best = t; }
    }
    return best;
}

/* Thread t's part of the call: its fixed share in one range, or (balanced) its
 * first chunk, the rest of its share a chunk at a time, then others' chunks. */
static const char *run_ranges(int t) {
    size_t begin = share_begin(job.items, t, job.threads), end = share_begin(job.items, t + 1, job.threads);
    if (!job.balanced) return begin == end ? NULL : job.fn(job.ctx, begin, end, t);
    if (begin == end) return NULL;
    if (delay_next_us[t]) {      /* a thread that wakes late (tests) */
        struct timespec d = { (time_t)(delay_next_us[t] / 1000000), (long)(delay_next_us[t] % 1000000) * 1000 };
        delay_next_us[t] = 0;
        nanosleep(&d, NULL);
    }
    size_t first_end = begin + job.chunk < end ? begin + job.chunk : end;
    const char *err = job.fn(job.ctx, begin, first_end, t);
    while (!err && !atomic_load_explicit(&stop_taking, memory_order_relaxed)) {
        if (!take(t, 0, job.chunk, &begin, &end)) {          /* own share done: help another */
            int victim = most_left(t);
            if (victim < 0) break;
            if (!take(victim, 1, job.chunk, &begin, &end)) continue;   /* taken meanwhile: look again */
        }
        err = job.fn(job.ctx, begin, end, t);
    }
    if (err) atomic_store(&stop_taking, 1);
    return err;
}

static void run_share(int t) {
    failed[t] = 0;
    share_cpu[t] = 0;
    double c0 = measuring ? thread_cpu_seconds() : 0;
    const char *err = run_ranges(t);
    if (measuring) share_cpu[t] = thread_cpu_seconds() - c0;
    if (err) {   /* the reason may live in this thread's dl_errorf buffer: copy it */
        strncpy(reasons[t], err, sizeof reasons[t] - 1);
        reasons[t][sizeof reasons[t] - 1] = 0;
        failed[t] = 1;
    }
}

static void *worker(void *arg) {
    int id = (int)(intptr_t)arg;
    worker_slot *me = &slots[id];
    for (unsigned long long seen = 0;;) {
        wait_while_equal(&me->go, seen, &me->s);
        seen = atomic_load(&me->go);
        run_share(id);
        if (atomic_fetch_sub(&pending, 1) == 1) publish(&finished, seen, &caller);
    }
    return NULL;
}

static void init_sleeper(sleeper *s) {
    atomic_init(&s->sleeping, 0);
    pthread_cond_init(&s->wake, NULL);
}

const char *dl_parallel_set_threads(int threads) {
    if (threads < 1 || threads > DL_MAX_THREADS)
        return dl_errorf("threads must be between 1 and %d; got %d", DL_MAX_THREADS, threads);
    while (started < threads) {
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        init_sleeper(&slots[started].s);
        atomic_store(&slots[started].go, 0);
        int rc = pthread_create(&t, &attr, worker, (void *)(intptr_t)started);
        pthread_attr_destroy(&attr);
        if (rc) return dl_errorf("could not start thread %d of %d (error %d); still %d thread%s",
                                 started + 1, threads, rc, n_threads, n_threads == 1 ? "" : "s");
        started++;
    }
    n_threads = threads;
    return NULL;
}

static const char *parallel_for(size_t items, dl_range_fn fn, void *ctx, int balanced) {
    int threads = n_threads;
    if (items < (size_t)threads) threads = (int)items;
    if (threads <= 1) return items ? fn(ctx, 0, items, 0) : NULL;
    job.fn = fn; job.ctx = ctx; job.items = items; job.threads = threads;
    job.balanced = balanced && items <= 0xffffffffu;      /* a share's ends fit in 32 bits */
    if (job.balanced) {
        size_t parts = (size_t)threads * CHUNKS_PER_THREAD;
        job.chunk = items / parts + (items % parts != 0);
        for (int t = 0; t < threads; t++) {
            size_t begin = share_begin(items, t, threads), end = share_begin(items, t + 1, threads);
            begin = begin + job.chunk < end ? begin + job.chunk : end;   /* the owner's first chunk */
            atomic_store(&left[t].items, pack(begin, end));
        }
        atomic_store(&stop_taking, 0);
    }
    double c0 = measuring ? thread_cpu_seconds() : 0;
    unsigned long long call = ++calls;
    atomic_store(&pending, threads - 1);
    for (int t = 1; t < threads; t++) publish(&slots[t].go, call, &slots[t].s);
    run_share(0);
    wait_while_equal(&finished, call - 1, &caller);
    if (measuring) {
        double slowest = 0;
        for (int t = 0; t < threads; t++) slowest = share_cpu[t] > slowest ? share_cpu[t] : slowest;
        slowest_shares += slowest;
        caller_inside += thread_cpu_seconds() - c0;
    }
    for (int t = 0; t < threads; t++)
        if (failed[t]) return dl_errorf("%s", reasons[t]);
    return NULL;
}

const char *dl_parallel_for(size_t items, dl_range_fn fn, void *ctx) { return parallel_for(items, fn, ctx, 0); }
const char *dl_parallel_for_balanced(size_t items, dl_range_fn fn, void *ctx) { return parallel_for(items, fn, ctx, 1); }

void dl_parallel_measure_start(void) {
    measuring = 1;
    measure_start = thread_cpu_seconds();
    caller_inside = slowest_shares = 0;
}

double dl_parallel_critical_seconds(void) {
    if (!measuring || measure_start < 0) return -1;
    return thread_cpu_seconds() - measure_start - caller_inside + slowest_shares;
}

void dl_parallel_delay_next_call(int thread, unsigned us) {
    if (thread >= 0 && thread < DL_MAX_THREADS) delay_next_us[thread] = us;
}

#else   /* no threads in this build: everything runs on the caller */

const char *dl_parallel_set_threads(int threads) {
    if (threads == 1) return NULL;
    return dl_errorf("this build runs one thread (asked for %d): use the threaded build", threads);
}

const char *dl_parallel_for(size_t items, dl_range_fn fn, void *ctx) {
    return items ? fn(ctx, 0, items, 0) : NULL;
}

const char *dl_parallel_for_balanced(size_t items, dl_range_fn fn, void *ctx) { return dl_parallel_for(items, fn, ctx); }

void dl_parallel_measure_start(void) {}
double dl_parallel_critical_seconds(void) { return -1; }
void dl_parallel_delay_next_call(int thread, unsigned us) { (void)thread; (void)us; }

#endif
