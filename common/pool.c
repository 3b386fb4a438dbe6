/*
 * pool.c - persistent worker threads, dynamic shard scheduling, fixed
 * order reduction.  Design in pool.h.
 *
 * A run has two phases, each a "job" of numbered items that threads claim
 * with an atomic counter: the map phase (item = shard: reset the arena,
 * zero the slot, call fn), then the reduce phase (item = a chunk of
 * gradient coordinates; each coordinate is summed over shards 0, 1, ...
 * in that order, so who sums it does not matter).  Threads sleep on a
 * condition variable between jobs; the caller works as worker 0 and waits
 * until every thread has left the job.
 */
#include <cblas.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "pool.h"
#include "banned.h"

#define REDUCE_CHUNK 8192

enum { JOB_MAP, JOB_REDUCE };

struct pool {
    int nthreads;
    pool_worker *workers; /* (nthreads) */
    pthread_t *threads;   /* (nthreads - 1) */
    int started;          /* threads actually running */
    int max_shards;
    size_t grad_n;
    float *slots;   /* (max_shards, grad_n), one allocation */
    double *values; /* (max_shards) */

    pthread_mutex_t mu;
    pthread_cond_t wake, done;
    unsigned long generation; /* bumped for every job */
    int busy;                 /* threads still inside the current job */
    int stop;

    /* the current job */
    int kind, nitems, nshards;
    atomic_int next;
    pool_fn fn;
    void *ctx;
    float *grad_out;
};

/* OpenBLAS's own worker threads: started when the library loads, they
 * spin (sched_yield) for a while before they sleep, taking about 0.1 s of
 * a core from a process's first moments; on two cores that is a tenth of
 * a second-long run.  Its fork handler's shutdown stops them (a later
 * threaded call starts them again); weak, so another BLAS links too. */
extern int blas_thread_shutdown_(void) __attribute__((weak));

void pool_blas_single(void)
{
    openblas_set_num_threads(1);
    if (blas_thread_shutdown_)
        blas_thread_shutdown_();
}

static void run_item(pool *p, int item, pool_worker *w)
{
    if (p->kind == JOB_MAP) {
        float *slot = p->grad_n ? p->slots + (size_t)item * p->grad_n : NULL;
        if (slot)
            memset(slot, 0, p->grad_n * sizeof(float));
        arena_reset(&w->arena);
        p->values[item] = p->fn(p->ctx, item, slot, w);
    } else {
        size_t lo = (size_t)item * REDUCE_CHUNK, hi = lo + REDUCE_CHUNK;
        if (hi > p->grad_n)
            hi = p->grad_n;
        for (size_t j = lo; j < hi; j++) {
            double acc = 0;
            for (int s = 0; s < p->nshards; s++)
                acc += p->slots[(size_t)s * p->grad_n + j];
            p->grad_out[j] = (float)(p->grad_out[j] + acc);
        }
    }
}

static void drain(pool *p, pool_worker *w)
{
    for (;;) {
        int item = atomic_fetch_add(&p->next, 1);
        if (item >= p->nitems)
            break;
        run_item(p, item, w);
    }
}

typedef struct thread_arg {
    pool *p;
    int id;
} thread_arg;

static void *thread_main(void *arg)
{
    pool *p = ((thread_arg *)arg)->p;
    pool_worker *w = &p->workers[((thread_arg *)arg)->id];
    free(arg);
    unsigned long seen = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->stop && p->generation == seen)
            pthread_cond_wait(&p->wake, &p->mu);
        if (p->stop)
            break;
        seen = p->generation;
        pthread_mutex_unlock(&p->mu);
        drain(p, w);
        pthread_mutex_lock(&p->mu);
        if (--p->busy == 0)
            pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* Run the current job on every thread; returns when all are done. */
static void run_job(pool *p, int kind, int nitems)
{
    p->kind = kind;
    p->nitems = nitems;
    atomic_store(&p->next, 0);
    if (p->started > 0) {
        pthread_mutex_lock(&p->mu);
        p->busy = p->started;
        p->generation++;
        pthread_cond_broadcast(&p->wake);
        pthread_mutex_unlock(&p->mu);
    }
    drain(p, &p->workers[0]);
    if (p->started > 0) {
        pthread_mutex_lock(&p->mu);
        while (p->busy > 0)
            pthread_cond_wait(&p->done, &p->mu);
        pthread_mutex_unlock(&p->mu);
    }
}

pool *pool_new(int nthreads, size_t arena_bytes, int max_shards, size_t grad_n, errctx *e)
{
    if (nthreads < 1)
        nthreads = 1;
    if (max_shards < 1)
        max_shards = 1;
    pool *p = arena_heap_calloc(1, sizeof *p);
    p->nthreads = nthreads;
    p->max_shards = max_shards;
    p->grad_n = grad_n;
    p->workers = arena_heap_calloc((size_t)nthreads, sizeof *p->workers);
    for (int i = 0; i < nthreads; i++) {
        p->workers[i].id = i;
        arena_init(&p->workers[i].arena, arena_bytes);
    }
    p->slots = grad_n ? arena_heap_alloc((size_t)max_shards * grad_n * sizeof(float)) : NULL;
    p->values = arena_heap_calloc((size_t)max_shards, sizeof(double));
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
    /* One BLAS thread per worker, whatever the worker count: see pool.h. */
    pool_blas_single();
    if (nthreads > 1) {
        p->threads = arena_heap_calloc((size_t)nthreads - 1, sizeof(pthread_t));
        for (int i = 1; i < nthreads; i++) {
            thread_arg *a = arena_heap_alloc(sizeof *a);
            a->p = p;
            a->id = i;
            int rc = pthread_create(&p->threads[i - 1], NULL, thread_main, a);
            if (rc != 0) {
                free(a);
                err_set(e, "cannot start worker thread %d of %d: %s", i, nthreads - 1,
                        strerror(rc));
                pool_free(p);
                return NULL;
            }
            p->started++;
        }
    }
    return p;
}

void pool_free(pool *p)
{
    if (!p)
        return;
    if (p->started > 0) {
        pthread_mutex_lock(&p->mu);
        p->stop = 1;
        pthread_cond_broadcast(&p->wake);
        pthread_mutex_unlock(&p->mu);
        for (int i = 0; i < p->started; i++)
            pthread_join(p->threads[i], NULL);
    }
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->wake);
    pthread_cond_destroy(&p->done);
    for (int i = 0; i < p->nthreads; i++)
        arena_free(&p->workers[i].arena);
    free(p->workers);
    free(p->threads);
    free(p->slots);
    free(p->values);
    free(p);
}

int pool_threads(const pool *p)
{
    return p->nthreads;
}

int pool_run(pool *p, int nshards, pool_fn fn, void *ctx, float *grad_out, double *value,
             errctx *e)
{
    if (nshards < 0 || nshards > p->max_shards)
        return err_set(e, "pool: %d shards (this pool holds at most %d)", nshards, p->max_shards);
    p->fn = fn;
    p->ctx = ctx;
    p->nshards = nshards;
    p->grad_out = grad_out;
    run_job(p, JOB_MAP, nshards);
    if (grad_out && p->grad_n > 0 && nshards > 0)
        run_job(p, JOB_REDUCE, (int)((p->grad_n + REDUCE_CHUNK - 1) / REDUCE_CHUNK));
    if (value) {
        double v = 0;
        for (int s = 0; s < nshards; s++)
            v += p->values[s];
        *value = v;
    }
    return 0;
}
