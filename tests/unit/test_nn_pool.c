/*
 * test_nn_pool.c - the worker pool gives byte-identical gradients and
 * losses for 1, 2 and 3 threads (minibatch shards of an MLP large enough
 * that OpenBLAS would thread its products if allowed, and a MAML
 * meta-batch with one shard per task); the pool keeps OpenBLAS on one
 * thread; pool runs allocate nothing.
 */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "maml.h"
#include "nn.h"
#include "nn_loss.h"
#include "nn_optim.h"
#include "pool.h"
#include "rng.h"
#include "check.h"
#include "banned.h"

static void fill(rng *r, float *a, size_t n)
{
    for (size_t i = 0; i < n; i++)
        a[i] = (float)(2 * rng_uniform(r) - 1);
}

/* ---- minibatch shards of an MLP ----------------------------------------- */

/* 128-row shards through 256-wide layers: products OpenBLAS would split
 * over its threads, which changes the bits (see test_blas_threads). */
enum { IN = 64, OUT = 2, ROWS = 512, SHARDS = 4, SROWS = ROWS / SHARDS };

typedef struct mlp_job {
    const nn_mlp *net;
    const float *w;
    const float *x; /* (ROWS, IN) */
    const float *y; /* (ROWS, OUT) */
    nn_loss loss;
} mlp_job;

static double mlp_shard(void *ctx, int shard, float *grad, pool_worker *wk)
{
    const mlp_job *j = ctx;
    const float *x = j->x + (size_t)shard * SROWS * IN, *y = j->y + (size_t)shard * SROWS * OUT;
    nn_mlp_cache c;
    const float *out = nn_mlp_forward(j->net, j->w, x, SROWS, &c, &wk->arena);
    float *dy = arena_floats(&wk->arena, SROWS * OUT);
    double loss = nn_loss_batch(&j->loss, out, y, SROWS * OUT, 1.0 / ROWS, dy);
    nn_mlp_backward(j->net, j->w, &c, dy, NULL, grad, &wk->arena);
    return loss;
}

static void test_mlp_shards(void)
{
    errctx e;
    nn_params P;
    nn_params_init(&P);
    nn_mlp net;
    check(nn_mlp_init(&net, &P, "f", IN, "256,128", OUT, NN_RELU, &e) == 0, "mlp");
    nn_params_alloc(&P);
    rng r;
    rng_init(&r, 21, 0);
    nn_mlp_init_weights(&net, P.w, &r);
    float *x = malloc(ROWS * IN * sizeof(float)), y[ROWS * OUT];
    fill(&r, x, ROWS * IN);
    fill(&r, y, ROWS * OUT);
    mlp_job job = {&net, P.w, x, y, {NN_LOSS_MSE, 1}};
    size_t bytes = nn_mlp_cache_bytes(&net, SROWS, 0) + nn_mlp_backward_bytes(&net, SROWS, 0) +
                   arena_round(SROWS * OUT * sizeof(float));

    float *g[3];
    double loss[3];
    for (int t = 0; t < 3; t++) {
        openblas_set_num_threads(2);
        pool *p = pool_new(t + 1, bytes, SHARDS, net.count, &e);
        check(p != NULL && pool_threads(p) == t + 1, "pool of %d threads", t + 1);
        check(openblas_get_num_threads() == 1, "%d-thread pool keeps OpenBLAS on one thread",
              t + 1);
        g[t] = calloc(net.count, sizeof(float));
        /* two runs accumulate into g; the second must allocate nothing */
        pool_run(p, SHARDS, mlp_shard, &job, g[t], &loss[t], &e);
        unsigned long before = arena_heap_allocs();
        check(pool_run(p, SHARDS, mlp_shard, &job, g[t], &loss[t], &e) == 0, "run");
        check(arena_heap_allocs() == before, "%d threads: pool_run allocates nothing", t + 1);
        check(pool_run(p, SHARDS + 1, mlp_shard, &job, g[t], NULL, &e) < 0 &&
                  strstr(e.msg, "at most 4"),
              "too many shards refused: %s", e.msg);
        pool_free(p);
    }
    check(memcmp(g[0], g[1], net.count * sizeof(float)) == 0, "gradients: 1 and 2 threads bitwise");
    check(memcmp(g[0], g[2], net.count * sizeof(float)) == 0, "gradients: 1 and 3 threads bitwise");
    check(memcmp(&loss[0], &loss[1], sizeof(double)) == 0 &&
              memcmp(&loss[0], &loss[2], sizeof(double)) == 0,
          "loss: bitwise for 1, 2, 3 threads");

    /* and the sharded sum is the full-batch gradient (twice, from two runs) */
    arena A;
    arena_init(&A, nn_mlp_cache_bytes(&net, ROWS, 0) + nn_mlp_backward_bytes(&net, ROWS, 0) +
                       arena_round(ROWS * OUT * sizeof(float)));
    nn_mlp_cache c;
    const float *out = nn_mlp_forward(&net, P.w, x, ROWS, &c, &A);
    float *dy = arena_floats(&A, ROWS * OUT);
    double full = nn_loss_batch(&job.loss, out, y, ROWS * OUT, 1.0 / ROWS, dy);
    float *gfull = calloc(net.count, sizeof(float));
    nn_mlp_backward(&net, P.w, &c, dy, NULL, gfull, &A);
    double worst = 0, scale = 0;
    for (size_t i = 0; i < net.count; i++) {
        worst = fmax(worst, fabs(g[0][i] - 2 * gfull[i]));
        scale = fmax(scale, fabs(gfull[i]));
    }
    check(scale > 0 && worst <= 1e-5 * scale, "sharded gradient = full batch (diff %g)", worst);
    check_close(loss[0], full, 1e-9, 1e-9, "sharded loss = full batch loss");
    arena_free(&A);
    free(gfull);
    for (int t = 0; t < 3; t++)
        free(g[t]);
    free(x);
    nn_params_free(&P);
}

/* ---- a MAML meta-batch, one shard per task ------------------------------ */

enum { TASKS = 7, MD = 5, XD = 4, ED = 3, MAXR = 9 };

typedef struct maml_job {
    const maml_net *N;
    const nn_params *P;
    const maml_cfg *cfg;
    const maml_task *tasks;
} maml_job;

static double maml_shard(void *ctx, int shard, float *grad, pool_worker *wk)
{
    const maml_job *j = ctx;
    return maml_meta_grad(j->N, j->cfg, maml_phi(j->N, j->P), maml_theta(j->N, j->P),
                          &j->tasks[shard], grad + j->N->meta.offset, grad + j->N->global.offset,
                          &wk->arena);
}

static void test_maml_batch(void)
{
    errctx e;
    nn_params P;
    nn_params_init(&P);
    maml_net N;
    maml_net_cfg nc = {MD, XD, ED, 1, "8", "16,8", NN_TANH, NN_RELU, {NN_LOSS_BCE, 1}};
    check(maml_net_init(&N, &P, &nc, &e) == 0, "maml net");
    nn_params_alloc(&P);
    rng r;
    rng_init(&r, 22, 0);
    nn_mlp_init_weights(&N.meta, maml_phi(&N, &P), &r);
    nn_mlp_init_weights(&N.global, maml_theta(&N, &P), &r);
    /* tasks of varying sizes, one with an empty support set */
    float m[TASKS][2 * MAXR * MD], x[TASKS][2 * MAXR * XD], y[TASKS][2 * MAXR];
    maml_task tasks[TASKS];
    for (int t = 0; t < TASKS; t++) {
        int ns = t == 3 ? 0 : 1 + (int)rng_below(&r, MAXR), nq = 1 + (int)rng_below(&r, MAXR);
        fill(&r, m[t], (size_t)(ns + nq) * MD);
        fill(&r, x[t], (size_t)(ns + nq) * XD);
        for (int i = 0; i < ns + nq; i++)
            y[t][i] = (float)(rng_uniform(&r) < 0.3);
        maml_task T = {m[t], x[t], y[t], ns, m[t] + ns * MD, x[t] + ns * XD, y[t] + ns, nq};
        tasks[t] = T;
    }
    maml_cfg cfg = {3, 0.3, 2};
    maml_job job = {&N, &P, &cfg, tasks};
    /* one meta-batch gradient, then three Adam steps of training, on 1 and
     * 2 threads from the same start: gradients and parameter bytes must
     * match exactly */
    float *start = malloc(P.n * sizeof(float));
    memcpy(start, P.w, P.n * sizeof(float));
    float *g[2], *w_end[2];
    double loss[2];
    for (int t = 0; t < 2; t++) {
        pool *p = pool_new(t + 1, maml_workspace_bytes(&N, &cfg, MAXR), TASKS, P.n_dense, &e);
        g[t] = calloc(P.n_dense, sizeof(float));
        check(pool_run(p, TASKS, maml_shard, &job, g[t], &loss[t], &e) == 0, "maml run");
        memcpy(P.w, start, P.n * sizeof(float));
        nn_optim o;
        nn_optim_defaults(&o, NN_OPT_ADAM, 0.01);
        nn_optim_attach(&o, &P);
        for (int step = 0; step < 3; step++) {
            nn_params_zero_grad(&P);
            pool_run(p, TASKS, maml_shard, &job, P.g, NULL, &e);
            nn_grad_scale(&P, 1.0f / TASKS);
            nn_clip_grad_norm(&P, 1.0);
            nn_optim_step(&o, &P);
        }
        w_end[t] = malloc(P.n * sizeof(float));
        memcpy(w_end[t], P.w, P.n * sizeof(float));
        memcpy(P.w, start, P.n * sizeof(float));
        pool_free(p);
    }
    check(memcmp(g[0], g[1], P.n_dense * sizeof(float)) == 0,
          "maml meta-gradient: 1 and 2 threads bitwise");
    check(loss[0] == loss[1] && loss[0] > 0, "maml query loss equal: %.17g %.17g", loss[0],
          loss[1]);
    check(memcmp(w_end[0], start, P.n * sizeof(float)) != 0, "training moved the parameters");
    check(memcmp(w_end[0], w_end[1], P.n * sizeof(float)) == 0,
          "parameters after 3 Adam steps: 1 and 2 threads bitwise");
    free(start);
    free(w_end[0]);
    free(w_end[1]);
    /* against a serial loop over the tasks */
    arena A;
    arena_init(&A, maml_workspace_bytes(&N, &cfg, MAXR));
    float *gs = calloc(P.n_dense, sizeof(float));
    for (int t = 0; t < TASKS; t++)
        maml_meta_grad(&N, &cfg, maml_phi(&N, &P), maml_theta(&N, &P), &tasks[t],
                       gs + N.meta.offset, gs + N.global.offset, &A);
    double worst = 0, scale = 0;
    for (size_t i = 0; i < P.n_dense; i++) {
        worst = fmax(worst, fabs(gs[i] - g[0][i]));
        scale = fmax(scale, fabs(gs[i]));
    }
    check(scale > 0 && worst <= 1e-5 * scale, "pooled = serial meta-gradient (diff %g)", worst);
    arena_free(&A);
    free(gs);
    free(g[0]);
    free(g[1]);
    nn_params_free(&P);
}

/* ---- why the pool pins OpenBLAS to one thread --------------------------- */

/* A 1-thread pool must give the bits of a 2-thread pool, whose workers run
 * single-threaded BLAS.  Here: an MLP gradient computed with OpenBLAS
 * allowed 2 threads, then through a 1-thread pool; the pool's result must
 * equal the single-threaded one exactly (and reports whether OpenBLAS's
 * threaded result differed, which is why pool_new pins it). */
static void test_blas_threads(void)
{
    enum { M = 384, N = 320, K = 512 };
    float *a = malloc(M * K * sizeof(float)), *b = malloc(K * N * sizeof(float));
    float *c1 = malloc(M * N * sizeof(float)), *c2 = malloc(M * N * sizeof(float));
    rng r;
    rng_init(&r, 23, 0);
    fill(&r, a, M * K);
    fill(&r, b, K * N);
    openblas_set_num_threads(1);
    nn_gemm(0, 1, M, N, K, 1.0f, a, K, b, K, 0.0f, c1, N);
    openblas_set_num_threads(2);
    nn_gemm(0, 1, M, N, K, 1.0f, a, K, b, K, 0.0f, c2, N);
    int differ = memcmp(c1, c2, M * N * sizeof(float)) != 0;
    fprintf(stderr, "note: OpenBLAS sgemm on 1 and 2 threads %s bitwise\n",
            differ ? "differs" : "agrees");
    errctx e;
    pool *p = pool_new(1, 0, 1, 0, &e);
    check(openblas_get_num_threads() == 1, "a 1-thread pool pins OpenBLAS to one thread");
    nn_gemm(0, 1, M, N, K, 1.0f, a, K, b, K, 0.0f, c2, N);
    check(memcmp(c1, c2, M * N * sizeof(float)) == 0, "after pool_new sgemm gives the 1-thread bits");
    pool_free(p);
    free(a);
    free(b);
    free(c1);
    free(c2);
}

int main(void)
{
    test_blas_threads();
    test_mlp_shards();
    test_maml_batch();
    return check_done("test_nn_pool");
}
