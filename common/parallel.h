/* parallel.h — a deterministic parallel-for over one process-wide pool of
 * threads (pthreads natively and in the -pthread WASM build; a serial
 * fallback in the single-threaded WASM build).
 *
 *   dl_parallel_set_threads(4);                  // once, or whenever it changes
 *   err = dl_parallel_for(items, fn, ctx);       // fn(ctx, begin, end, thread)
 *
 * The partition is fixed: with T threads, thread t gets items
 * [items*t/T, items*(t+1)/T) — thread 0 is the caller. Nothing depends on
 * timing, so a computation whose items are independent gives the same bits
 * for every thread count. One barrier per call (the caller waits for all).
 * A range that fails returns a reason; dl_parallel_for returns the reason of
 * the lowest failing thread (copied to the caller's dl_errorf buffer), after
 * every thread has finished, and the pool stays usable.
 * dl_parallel_for_balanced (below) starts from the same shares and lets a
 * thread that is done take chunks of a slower thread's share.
 * Not reentrant: call it from one thread at a time, not from inside fn. */
#ifndef DENSELAB_PARALLEL_H
#define DENSELAB_PARALLEL_H
#include <stddef.h>

#define DL_MAX_THREADS 64

typedef const char *(*dl_range_fn)(void *ctx, size_t begin, size_t end, int thread);

/* 1..DL_MAX_THREADS; more threads than this build can start is a reason
 * (a build without threads accepts only 1). Workers are started once and
 * kept; lowering the count leaves the extra ones asleep. */
const char *dl_parallel_set_threads(int threads);
int dl_parallel_threads(void);
/* 1 when this build can run more than one thread. */
int dl_parallel_available(void);

const char *dl_parallel_for(size_t items, dl_range_fn fn, void *ctx);

/* The same fixed shares, but a thread that has finished its own takes the rest
 * of the share with the most items left, a chunk (a quarter of a share) at a
 * time from its end: a thread that the OS deschedules mid-call (other processes,
 * the browser's own threads) no longer holds up the call by its whole share.
 * Each thread runs the first chunk of its own share itself. fn is called on
 * several ranges per thread, and which thread runs an item depends on timing:
 * for items whose results depend neither on the range they are computed in nor
 * on the thread (then every thread count and every run gives the same bits). */
const char *dl_parallel_for_balanced(size_t items, dl_range_fn fn, void *ctx);

/* A scratch buffer of at least `bytes` owned by thread `thread` (grown on
 * demand, kept between calls; allocated by that thread). NULL when out of
 * memory. Call only from inside fn, for the thread fn was given. */
void *dl_parallel_scratch(int thread, size_t bytes);

/* Scaling that a loaded machine cannot hide (benchmarks): from
 * dl_parallel_measure_start() on, the caller's CPU time outside parallel calls
 * plus, for each call, the CPU time of its slowest thread's share — the wall
 * time on idle cores, without the waiting. Thread CPU clocks: natively only;
 * dl_parallel_critical_seconds() is -1 where there are none. */
void dl_parallel_measure_start(void);
double dl_parallel_critical_seconds(void);

/* For tests: in the next dl_parallel_for_balanced, `thread` sleeps `us`
 * microseconds before its first chunk, as if the OS had descheduled it. */
void dl_parallel_delay_next_call(int thread, unsigned us);

/* For tests: the next dl_parallel_scratch of `thread` fails as if out of memory. */
void dl_parallel_fail_next_scratch(int thread);

#endif
