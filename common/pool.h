/*
 * pool.h - a small pthread worker pool with a fixed-order gradient
 * reduction, so results are byte-identical for any thread count.
 *
 * Work is cut into shards (tasks of a meta-batch, slices of a minibatch)
 * numbered 0..nshards-1.  Threads pick shards in any order, but:
 *
 *   - shard s writes only its own gradient slot s (zeroed before the call)
 *     and returns a value (a loss) stored in slot s;
 *   - after all shards finish, grad_out[j] += sum_s slot_s[j] and value =
 *     sum_s value_s, each summed in shard index order in double.
 *
 * So as long as a shard's computation depends only on its index (draw
 * random numbers from rng_init(seed, shard), not from a shared
 * generator), the output does not depend on how many threads ran or which
 * thread ran what.  The caller chooses the sharding: one shard per task,
 * or a fixed number of shards each covering a fixed range of items; never
 * "one shard per thread", which would tie the sums to the thread count.
 *
 * Each thread has its own arena (reset before every shard), sized at
 * creation; the slots are one allocation of max_shards * grad_n floats.
 * pool_run allocates nothing.
 *
 * BLAS: pool_new calls openblas_set_num_threads(1) (process-wide), for
 * any thread count.  With several workers, OpenBLAS threads inside each
 * one would oversubscribe the cores; the pool's own parallelism over
 * shards is what scales.  With one worker it is still needed: OpenBLAS's
 * multi-threaded sgemm does not return the same bits as its
 * single-threaded sgemm (it splits the product differently; see
 * test_nn_pool), so letting OpenBLAS thread when --threads is 1 would make
 * results depend on the thread count.  Code outside the pool that wants a
 * threaded BLAS must set it back itself.

 * The calling thread works as worker 0 during pool_run.  pool_run is not
 * reentrant: one run at a time per pool, and fn must not call pool_run.
 */
#ifndef RECSTAGE_POOL_H
#define RECSTAGE_POOL_H

#include <stddef.h>

#include "arena.h"
#include "err.h"

typedef struct pool pool;

/* One BLAS thread per calling thread from now on (what pool_new does),
 * and OpenBLAS's idle threads stopped: for code that calls BLAS from
 * threads of its own. */
void pool_blas_single(void);

typedef struct pool_worker {
    int id;       /* 0 .. threads-1 */
    arena arena;  /* this thread's scratch, reset before each shard */
} pool_worker;

/* One shard of work: grad (grad_n floats, zeroed; NULL when grad_n is 0)
 * receives the shard's gradient; the return value is summed over shards.
 * w->arena is the thread's scratch. */
typedef double (*pool_fn)(void *ctx, int shard, float *grad, pool_worker *w);

/* Start nthreads - 1 threads (nthreads >= 1), each thread with an arena of
 * arena_bytes, and max_shards gradient slots of grad_n floats.  Returns
 * NULL with a message if a thread cannot be started. */
pool *pool_new(int nthreads, size_t arena_bytes, int max_shards, size_t grad_n, errctx *e);
/* Stop and join the threads, free everything.  NULL is a no-op. */
void pool_free(pool *p);
int pool_threads(const pool *p);

/* Run fn on shards 0..nshards-1 (nshards <= max_shards).  If grad_out is
 * not NULL, grad_out (grad_n) += the shard gradients summed in shard
 * order; if value is not NULL, *value = the shard values summed in shard
 * order.  Returns 0, or -1 with a message when nshards is out of range. */
int pool_run(pool *p, int nshards, pool_fn fn, void *ctx, float *grad_out, double *value,
             errctx *e);

#endif
