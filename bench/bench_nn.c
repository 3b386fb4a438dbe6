/*
 * bench_nn.c - throughput of the neural-network core, as TSV lines
 * "name<TAB>value<TAB>unit" on stdout.
 *
 *   sgemm_2048_*        cblas_sgemm on 2048x2048x2048 (2 n^3 FLOPs), OpenBLAS
 *                       on 1 and on 2 threads: the machine's ceiling
 *   mlp_fwd_bwd_*       MLP 256 -> 256 -> 256 -> 1 (relu), batch 256: forward
 *                       and backward, including the input gradient; useful
 *                       FLOPs 2 b in out per product, forward 1x, backward 2x
 *   hvp_*               the same MLP: forward, R-forward and R-backward
 *                       (Pearlmutter), parameter direction; FLOPs of every
 *                       product it runs
 *   *_1t                one thread, OpenBLAS single-threaded, direct calls
 *   *_2t                two threads through the pool, the batch cut into two
 *                       shards of 128 rows, gradients reduced in shard order
 *   mlp_2t_over_sgemm   mlp_fwd_bwd_2t / sgemm_2048_2t (target >= 0.40)
 *   hvp_2t_over_sgemm   hvp_2t / sgemm_2048_2t
 *   maml_tasks_2t       second-order MAML meta-gradients per second (K = 3,
 *                       20 support and 10 query rows, meta 16->32->16,
 *                       global 32->64->64->1), 2 threads, one shard per task
 *
 * Each figure is the best of several timed repetitions of at least 0.2 s.
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arena.h"
#include "maml.h"
#include "nn.h"
#include "nn_loss.h"
#include "pool.h"
#include "rng.h"
#include "banned.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void fill(rng *r, float *a, size_t n)
{
    for (size_t i = 0; i < n; i++)
        a[i] = (float)(2 * rng_uniform(r) - 1);
}

typedef void (*bench_fn)(void *ctx);

/* Best seconds per call over `reps` repetitions of >= min_s each. */
static double time_best(bench_fn fn, void *ctx, int reps, double min_s)
{
    fn(ctx); /* warm up */
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        long calls = 0;
        double t0 = now(), t;
        do {
            fn(ctx);
            calls++;
            t = now() - t0;
        } while (t < min_s);
        if (t / calls < best)
            best = t / calls;
    }
    return best;
}

static void row(const char *name, double value, const char *unit)
{
    printf("%s\t%.4g\t%s\n", name, value, unit);
}

/* ---- sgemm -------------------------------------------------------------- */

typedef struct gemm_ctx {
    int n;
    float *a, *b, *c;
} gemm_ctx;

static void run_gemm(void *v)
{
    gemm_ctx *g = v;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, g->n, g->n, g->n, 1.0f, g->a, g->n,
                g->b, g->n, 0.0f, g->c, g->n);
}

/* ---- MLP ---------------------------------------------------------------- */

enum { BATCH = 256, WIDTH = 256, SHARD_ROWS = BATCH / 2 };

typedef struct mlp_ctx {
    nn_mlp net;
    nn_params P;
    float *x, *y, *v, *dx, *rdx;
    nn_loss loss;
    arena A;
    pool *pool;
    int hvp;
} mlp_ctx;

/* One shard (or the whole batch): gradient, or HVP, into g. */
static double mlp_rows(mlp_ctx *m, const float *x, const float *y, int rows, float *g, arena *A)
{
    nn_mlp_cache c;
    const float *out = nn_mlp_forward(&m->net, m->P.w, x, rows, &c, A);
    float *dy = arena_floats(A, (size_t)rows);
    double loss = nn_loss_batch(&m->loss, out, y, (size_t)rows, 1.0 / BATCH, dy);
    float *dx = arena_floats(A, (size_t)rows * WIDTH);
    if (!m->hvp) {
        nn_mlp_backward(&m->net, m->P.w, &c, dy, dx, g, A);
    } else {
        const float *rout = nn_mlp_rforward(&m->net, m->P.w, m->v, NULL, &c, A);
        float *rdy = arena_floats(A, (size_t)rows);
        nn_loss_rgrad(&m->loss, out, y, rout, (size_t)rows, 1.0 / BATCH, rdy);
        nn_mlp_rbackward(&m->net, m->P.w, m->v, &c, dy, rdy, NULL, NULL, NULL, g, A);
    }
    return loss;
}

static void run_mlp_1t(void *v)
{
    mlp_ctx *m = v;
    arena_reset(&m->A);
    nn_params_zero_grad(&m->P);
    mlp_rows(m, m->x, m->y, BATCH, m->P.g, &m->A);
}

static double mlp_shard(void *ctx, int shard, float *grad, pool_worker *w)
{
    mlp_ctx *m = ctx;
    size_t r0 = (size_t)shard * SHARD_ROWS;
    return mlp_rows(m, m->x + r0 * WIDTH, m->y + r0, SHARD_ROWS, grad, &w->arena);
}

static void run_mlp_2t(void *v)
{
    mlp_ctx *m = v;
    errctx e;
    nn_params_zero_grad(&m->P);
    if (pool_run(m->pool, 2, mlp_shard, m, m->P.g, NULL, &e) < 0) {
        fprintf(stderr, "bench_nn: %s\n", e.msg);
        exit(1);
    }
}

static size_t mlp_bytes(const nn_mlp *net, int rows)
{
    return nn_mlp_cache_bytes(net, rows, 1) + nn_mlp_backward_bytes(net, rows, 1) +
           3 * arena_round((size_t)rows * WIDTH * sizeof(float));
}

/* FLOPs of one forward+backward (with input gradient) and of one HVP. */
static double mlp_flops(const nn_mlp *net, int rows, int hvp)
{
    double s = 0;
    for (int l = 0; l < net->nlayers; l++) {
        double f = 2.0 * rows * net->layer[l].in * net->layer[l].out;
        if (!hvp)
            s += 3 * f; /* z = x W^T; gW = dZ^T x; dX = dZ W */
        else
            /* forward f; R-forward x V^T (+ R{x} W^T past layer 0);
             * R-backward R{gW} = R{dZ}^T x (+ dZ^T R{x} past layer 0);
             * past layer 0 also dX = dZ W and R{dX} = R{dZ} W + dZ V */
            s += f + f + f + (l > 0 ? f + f + f + 2 * f : 0);
    }
    return s;
}

/* ---- MAML --------------------------------------------------------------- */

enum { TASKS = 64, NS = 20, NQ = 10, MDIM = 16, XDIM = 16 };

typedef struct maml_ctx {
    maml_net N;
    nn_params P;
    maml_cfg cfg;
    maml_task tasks[TASKS];
    float *data;
    pool *pool;
} maml_ctx;

static double maml_shard(void *ctx, int shard, float *grad, pool_worker *w)
{
    maml_ctx *m = ctx;
    return maml_meta_grad(&m->N, &m->cfg, maml_phi(&m->N, &m->P), maml_theta(&m->N, &m->P),
                          &m->tasks[shard], grad + m->N.meta.offset, grad + m->N.global.offset,
                          &w->arena);
}

static void run_maml(void *v)
{
    maml_ctx *m = v;
    errctx e;
    nn_params_zero_grad(&m->P);
    if (pool_run(m->pool, TASKS, maml_shard, m, m->P.g, NULL, &e) < 0) {
        fprintf(stderr, "bench_nn: %s\n", e.msg);
        exit(1);
    }
}

int main(void)
{
    errctx e;
    rng r;
    rng_init(&r, 1, 0);

    /* sgemm ceiling */
    gemm_ctx g = {2048, NULL, NULL, NULL};
    size_t nn = (size_t)g.n * g.n;
    g.a = malloc(nn * sizeof(float));
    g.b = malloc(nn * sizeof(float));
    g.c = malloc(nn * sizeof(float));
    fill(&r, g.a, nn);
    fill(&r, g.b, nn);
    double gemm_flops = 2.0 * g.n * g.n * g.n;
    openblas_set_num_threads(1);
    double sgemm_1t = gemm_flops / time_best(run_gemm, &g, 3, 0.2) / 1e9;
    openblas_set_num_threads(2);
    double sgemm_2t = gemm_flops / time_best(run_gemm, &g, 3, 0.2) / 1e9;
    free(g.a);
    free(g.b);
    free(g.c);
    row("sgemm_2048_1t", sgemm_1t, "GFLOP/s");
    row("sgemm_2048_2t", sgemm_2t, "GFLOP/s");

    /* MLP forward+backward and HVP */
    mlp_ctx m;
    memset(&m, 0, sizeof m);
    nn_params_init(&m.P);
    if (nn_mlp_init(&m.net, &m.P, "f", WIDTH, "256,256", 1, NN_RELU, &e) < 0) {
        fprintf(stderr, "bench_nn: %s\n", e.msg);
        return 1;
    }
    nn_params_alloc(&m.P);
    nn_mlp_init_weights(&m.net, m.P.w, &r);
    m.loss.kind = NN_LOSS_BCE;
    m.x = malloc((size_t)BATCH * WIDTH * sizeof(float));
    m.y = malloc((size_t)BATCH * sizeof(float));
    m.v = malloc(m.net.count * sizeof(float));
    fill(&r, m.x, (size_t)BATCH * WIDTH);
    fill(&r, m.v, m.net.count);
    for (int i = 0; i < BATCH; i++)
        m.y[i] = (float)(rng_uniform(&r) < 0.5);
    arena_init(&m.A, mlp_bytes(&m.net, BATCH));
    openblas_set_num_threads(1);
    double mlp_1t = mlp_flops(&m.net, BATCH, 0) / time_best(run_mlp_1t, &m, 5, 0.2) / 1e9;
    m.hvp = 1;
    double hvp_1t = mlp_flops(&m.net, BATCH, 1) / time_best(run_mlp_1t, &m, 5, 0.2) / 1e9;
    m.hvp = 0;
    m.pool = pool_new(2, mlp_bytes(&m.net, SHARD_ROWS), 2, m.net.count, &e);
    if (!m.pool) {
        fprintf(stderr, "bench_nn: %s\n", e.msg);
        return 1;
    }
    double mlp_2t = mlp_flops(&m.net, BATCH, 0) / time_best(run_mlp_2t, &m, 5, 0.2) / 1e9;
    m.hvp = 1;
    double hvp_2t = mlp_flops(&m.net, BATCH, 1) / time_best(run_mlp_2t, &m, 5, 0.2) / 1e9;
    pool_free(m.pool);
    arena_free(&m.A);
    free(m.x);
    free(m.y);
    free(m.v);
    nn_params_free(&m.P);
    row("mlp_fwd_bwd_1t", mlp_1t, "GFLOP/s");
    row("mlp_fwd_bwd_2t", mlp_2t, "GFLOP/s");
    row("hvp_1t", hvp_1t, "GFLOP/s");
    row("hvp_2t", hvp_2t, "GFLOP/s");
    row("mlp_2t_over_sgemm", mlp_2t / sgemm_2t, "ratio");
    row("hvp_2t_over_sgemm", hvp_2t / sgemm_2t, "ratio");

    /* MAML meta-gradients */
    maml_ctx *mc = calloc(1, sizeof *mc);
    nn_params_init(&mc->P);
    maml_net_cfg nc = {MDIM, XDIM, 16, 1, "32", "64,64", NN_RELU, NN_RELU, {NN_LOSS_BCE, 1}};
    if (maml_net_init(&mc->N, &mc->P, &nc, &e) < 0) {
        fprintf(stderr, "bench_nn: %s\n", e.msg);
        return 1;
    }
    nn_params_alloc(&mc->P);
    nn_mlp_init_weights(&mc->N.meta, maml_phi(&mc->N, &mc->P), &r);
    nn_mlp_init_weights(&mc->N.global, maml_theta(&mc->N, &mc->P), &r);
    maml_cfg cfg = {3, 0.1, 2};
    mc->cfg = cfg;
    size_t per_task = (size_t)(NS + NQ) * (MDIM + XDIM + 1);
    mc->data = malloc(TASKS * per_task * sizeof(float));
    fill(&r, mc->data, TASKS * per_task);
    for (int t = 0; t < TASKS; t++) {
        float *d = mc->data + t * per_task, *m_rows = d, *x_rows = d + (NS + NQ) * MDIM,
              *y_rows = x_rows + (NS + NQ) * XDIM;
        for (int i = 0; i < NS + NQ; i++)
            y_rows[i] = y_rows[i] > 0.4f;
        maml_task T = {m_rows, x_rows, y_rows, NS,
                       m_rows + NS * MDIM, x_rows + NS * XDIM, y_rows + NS, NQ};
        mc->tasks[t] = T;
    }
    mc->pool = pool_new(2, maml_workspace_bytes(&mc->N, &cfg, NS), TASKS, mc->P.n_dense, &e);
    if (!mc->pool) {
        fprintf(stderr, "bench_nn: %s\n", e.msg);
        return 1;
    }
    double maml_rate = TASKS / time_best(run_maml, mc, 3, 0.2);
    row("maml_tasks_2t", maml_rate, "tasks/s");
    pool_free(mc->pool);
    free(mc->data);
    nn_params_free(&mc->P);
    free(mc);
    return 0;
}
