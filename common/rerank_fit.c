/*
 * rerank_fit.c - sga-rerank --fit: training rows from the logged lists,
 * the standardisation, Adam through the worker pool, and the validation
 * AUCs of the model against the second-pass scores (rerank.h).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "metrics.h"
#include "nn_loss.h"
#include "nn_optim.h"
#include "pool.h"
#include "rerank.h"
#include "rng.h"
#include "banned.h"

/* The training and validation rows: one per shown slot. */
typedef struct rows {
    int D, O;
    size_t n, cap;
    float *x;        /* (n, D) */
    int *slot;       /* (n) */
    float *y;        /* (n, O) */
    float *score;    /* (n, O) the objective's second-pass score, NaN if none */
    uint8_t *valid;  /* (n) */
} rows;

static void rows_reserve(rows *R, size_t need)
{
    if (need <= R->cap)
        return;
    size_t cap = R->cap ? R->cap : 4096;
    while (cap < need)
        cap *= 2;
    R->x = xrealloc(R->x, cap * (size_t)R->D * sizeof *R->x);
    R->slot = xrealloc(R->slot, cap * sizeof *R->slot);
    R->y = xrealloc(R->y, cap * (size_t)R->O * sizeof *R->y);
    R->score = xrealloc(R->score, cap * (size_t)R->O * sizeof *R->score);
    R->valid = xrealloc(R->valid, cap * sizeof *R->valid);
    R->cap = cap;
}

static void rows_free(rows *R)
{
    free(R->x);
    free(R->slot);
    free(R->y);
    free(R->score);
    free(R->valid);
}

void rerank_fit_result_free(rerank_fit_result *res)
{
    free(res->auc);
    memset(res, 0, sizeof *res);
}

/* ---- the loss of a slice ---- */

typedef struct fit_ctx {
    const rerank_model *m;
    const rows *R;
    const size_t *idx; /* the minibatch */
    int batch;
} fit_ctx;

double rerank_batch_loss(const rerank_model *m, const float *w, const float *X, const int *slots, const float *Y,
                         int n, double scale, float *g, arena *A)
{
    int O = m->O;
    size_t mark = arena_mark(A);
    nn_mlp_cache cache;
    const float *y = nn_mlp_forward(&m->net, w + m->net.offset, X, n, &cache, A);
    float *dy = arena_floats(A, (size_t)n * O);
    const float *beta = w + m->pos;
    double loss = 0;
    for (int r = 0; r < n; r++) {
        int s = slots[r] > m->K ? m->K : slots[r];
        for (int o = 0; o < O; o++) {
            double z = (double)y[(size_t)r * O + o] + beta[(size_t)(s - 1) * O + o];
            double t = Y[(size_t)r * O + o];
            loss += nn_bce_logits(z, t);
            float d = (float)(scale * (nn_sigmoid(z) - t));
            dy[(size_t)r * O + o] = d;
            if (g)
                g[m->pos + (size_t)(s - 1) * O + o] += d;
        }
    }
    if (g)
        nn_mlp_backward(&m->net, w + m->net.offset, &cache, dy, NULL, g + m->net.offset, A);
    arena_release(A, mark);
    return loss * scale;
}

/* The rows idx[0..n) of R gathered, then rerank_batch_loss. */
static double slice_loss(const rerank_model *m, const float *w, const rows *R, const size_t *idx, int n, double scale,
                         float *g, arena *A)
{
    int D = m->D, O = m->O;
    size_t mark = arena_mark(A);
    float *X = arena_floats(A, (size_t)n * D), *Y = arena_floats(A, (size_t)n * O);
    int *sl = arena_alloc(A, (size_t)n * sizeof *sl);
    for (int r = 0; r < n; r++) {
        memcpy(X + (size_t)r * D, R->x + idx[r] * (size_t)D, (size_t)D * sizeof *X);
        memcpy(Y + (size_t)r * O, R->y + idx[r] * (size_t)O, (size_t)O * sizeof *Y);
        sl[r] = R->slot[idx[r]];
    }
    double loss = rerank_batch_loss(m, w, X, sl, Y, n, scale, g, A);
    arena_release(A, mark);
    return loss;
}

static double fit_shard(void *ctx, int shard, float *grad, pool_worker *wk)
{
    fit_ctx *c = ctx;
    int lo = (int)((long long)c->batch * shard / RERANK_SHARDS);
    int hi = (int)((long long)c->batch * (shard + 1) / RERANK_SHARDS);
    if (hi <= lo)
        return 0;
    return slice_loss(c->m, c->m->P.w, c->R, c->idx + lo, hi - lo, 1.0 / c->batch, grad, &wk->arena);
}

size_t rerank_loss_bytes(const rerank_model *m, int n)
{
    return nn_mlp_cache_bytes(&m->net, n, 0) + nn_mlp_backward_bytes(&m->net, n, 0) +
           (size_t)n * (size_t)m->O * sizeof(float) + 8192;
}

static size_t slice_bytes(const rerank_model *m, int n)
{
    return (size_t)n * (size_t)(m->D + 2 * m->O + 1) * sizeof(float) + nn_mlp_cache_bytes(&m->net, n, 0) +
           nn_mlp_backward_bytes(&m->net, n, 0) + 16384;
}

/* ---- reading ---- */

static int read_rows(const char *path, const rerank_cols *cols, const char *const *obj, int O,
                     const rerank_fit_cfg *cfg, rows *R, char ***feat, int *F, char ***score, int *S, int *K,
                     uint64_t *requests, errctx *e)
{
    rerank_reader *rr = rerank_reader_open(path, cols, NULL, 0, NULL, 0, obj, O, 1, e);
    if (!rr)
        return -1;
    *F = rerank_reader_nfeat(rr);
    *S = rerank_reader_nscore(rr);
    *feat = xcalloc((size_t)*F + 1, sizeof **feat);
    *score = xcalloc((size_t)*S + 1, sizeof **score);
    for (int j = 0; j < *F; j++)
        (*feat)[j] = xstrdup(rerank_reader_colname(rr, 0, j));
    for (int j = 0; j < *S; j++)
        (*score)[j] = xstrdup(rerank_reader_colname(rr, 1, j));
    /* the score column of each objective: score_<objective> */
    int sc[RERANK_MAX_OBJ];
    for (int o = 0; o < O; o++) {
        sc[o] = -1;
        char name[256];
        snprintf(name, sizeof name, "score_%s", obj[o]);
        for (int j = 0; j < *S; j++)
            if (strcmp((*score)[j], name) == 0)
                sc[o] = j;
    }
    R->D = slotctx_item_dim(*F, *S) + (cfg->ctx ? slotctx_ctx_dim(*S) : 0);
    R->O = O;
    slot_req q;
    slot_req_init(&q, *F, *S, O);
    slot_ctx c;
    slotctx_init(&c);
    int got, rc = -1;
    cli_progress prog;
    cli_progress_start(&prog, "requests read", 0);
    *K = 0;
    uint64_t cut = (uint64_t)(cfg->valid_frac * 18446744073709551615.0);
    while ((got = rerank_reader_next(rr, &q, e)) == 1) {
        (*requests)++;
        int valid = cfg->valid_frac > 0 && hash64(q.key, q.key_len, 0x76616c6964) <= cut;
        slotctx_reset(&c, &q);
        rows_reserve(R, R->n + (size_t)q.k);
        for (int s = 0; s < q.k; s++) {
            int i = q.list[s];
            size_t r = R->n++;
            rerank_row_raw(cfg->ctx, &c, &q, i, R->x + r * (size_t)R->D);
            R->slot[r] = s + 1;
            R->valid[r] = (uint8_t)valid;
            for (int o = 0; o < O; o++) {
                R->y[r * (size_t)O + o] = q.label[(size_t)i * O + o];
                R->score[r * (size_t)O + o] = sc[o] >= 0 ? q.score[(size_t)i * *S + sc[o]] : NAN;
            }
            slotctx_add(&c, &q, i);
        }
        *K = q.k > *K ? q.k : *K;
        if ((*requests & 1023) == 0)
            cli_progress_update(&prog, (double)*requests);
    }
    cli_progress_end(&prog);
    if (got == 0) {
        if (R->n == 0)
            err_set(e, "%s: no shown slot (slot > 0) to learn from", rerank_reader_path(rr));
        else
            rc = 0;
    }
    slot_req_free(&q);
    slotctx_free(&c);
    rerank_reader_close(rr);
    return rc;
}

/* ---- the AUCs ---- */

static void report_auc(const rerank_model *m, const rows *R, int on_valid, rerank_fit_result *res, arena *A)
{
    int O = m->O, K = m->K, D = m->D;
    size_t n = 0;
    for (size_t r = 0; r < R->n; r++)
        n += R->valid[r] == on_valid;
    double *p = xmalloc((n ? n : 1) * (size_t)O * sizeof *p);
    int *slot = xmalloc((n ? n : 1) * sizeof *slot);
    size_t *idx = xmalloc((n ? n : 1) * sizeof *idx);
    size_t k = 0;
    for (size_t r = 0; r < R->n; r++)
        if (R->valid[r] == on_valid)
            idx[k++] = r;
    float *X = xmalloc((size_t)RERANK_CHUNK * D * sizeof *X), *lg = xmalloc((size_t)RERANK_CHUNK * O * sizeof *lg);
    int *sl = xmalloc((size_t)RERANK_CHUNK * sizeof *sl);
    for (size_t lo = 0; lo < n; lo += RERANK_CHUNK) {
        int b = (int)(n - lo < RERANK_CHUNK ? n - lo : RERANK_CHUNK);
        for (int r = 0; r < b; r++) {
            memcpy(X + (size_t)r * D, R->x + idx[lo + r] * (size_t)D, (size_t)D * sizeof *X);
            sl[r] = R->slot[idx[lo + r]];
            slot[lo + r] = sl[r];
        }
        /* rows are standardised already: undo the model's step by passing
         * them through an identity standardisation */
        size_t mark = arena_mark(A);
        nn_mlp_cache cache;
        const float *y = nn_mlp_forward(&m->net, m->P.w + m->net.offset, X, b, &cache, A);
        for (int r = 0; r < b; r++)
            for (int o = 0; o < O; o++) {
                int s = sl[r] > K ? K : sl[r];
                lg[(size_t)r * O + o] = y[(size_t)r * O + o] + m->P.w[m->pos + (size_t)(s - 1) * O + o];
                p[(lo + (size_t)r) * O + o] = nn_sigmoid(lg[(size_t)r * O + o]);
            }
        arena_release(A, mark);
    }
    res->nauc = O * (K + 1);
    res->auc = xcalloc((size_t)res->nauc, sizeof *res->auc);
    double *ps = xmalloc((n ? n : 1) * sizeof *ps), *ss = xmalloc((n ? n : 1) * sizeof *ss);
    unsigned char *lab = xmalloc(n ? n : 1);
    for (int o = 0; o < O; o++)
        for (int s = 0; s <= K; s++) {
            rerank_auc *a = &res->auc[o * (K + 1) + s];
            a->obj = o;
            a->slot = s;
            size_t c = 0;
            int have_score = 1;
            for (size_t r = 0; r < n; r++) {
                if (s && slot[r] != s)
                    continue;
                ps[c] = p[r * O + o];
                float sv = R->score[idx[r] * (size_t)O + o];
                have_score &= !isnan(sv);
                ss[c] = sv;
                lab[c] = R->y[idx[r] * (size_t)O + o] > 0.5f;
                a->positives += lab[c];
                c++;
            }
            a->rows = c;
            int both = a->positives > 0 && a->positives < c;
            a->auc_model = both ? metrics_auc(ps, lab, NULL, c) : NAN;
            a->auc_score = both && have_score ? metrics_auc(ss, lab, NULL, c) : NAN;
        }
    free(ps);
    free(ss);
    free(lab);
    free(p);
    free(slot);
    free(idx);
    free(X);
    free(lg);
    free(sl);
}

/* ---- fitting ---- */

int rerank_fit(const char *path, const rerank_cols *cols, const char *const *obj, int O, const rerank_fit_cfg *cfg,
               rerank_model *m, rerank_fit_result *res, errctx *e)
{
    memset(res, 0, sizeof *res);
    memset(m, 0, sizeof *m);
    rows R;
    memset(&R, 0, sizeof R);
    char **feat = NULL, **score = NULL;
    int F = 0, S = 0, K = 0, rc = -1;
    pool *p = NULL;
    size_t *train = NULL;
    arena A;
    arena_init(&A, 0);
    if (O < 1 || O > RERANK_MAX_OBJ) {
        err_set(e, "%d objectives (want 1 to %d)", O, RERANK_MAX_OBJ);
        goto out;
    }
    if (read_rows(path, cols, obj, O, cfg, &R, &feat, &F, &score, &S, &K, &res->requests, e) < 0)
        goto out;
    if (rerank_model_init(m, F, (const char *const *)feat, S, (const char *const *)score, O, obj, K, cfg->ctx,
                          cfg->hidden, cfg->act, e) < 0)
        goto out;
    int D = m->D;
    /* the split and the standardisation, fitted on the training rows */
    size_t ntrain = 0;
    for (size_t r = 0; r < R.n; r++)
        ntrain += !R.valid[r];
    res->train_rows = ntrain;
    res->valid_rows = R.n - ntrain;
    if (ntrain == 0) {
        err_set(e, "%s: every request fell in the validation fraction: no training row", path ? path : "stdin");
        goto out;
    }
    double *mu = xcalloc((size_t)D, sizeof *mu), *sq = xcalloc((size_t)D, sizeof *sq);
    for (size_t r = 0; r < R.n; r++)
        if (!R.valid[r])
            for (int j = 0; j < D; j++)
                mu[j] += R.x[r * (size_t)D + j];
    for (int j = 0; j < D; j++)
        mu[j] /= (double)ntrain;
    for (size_t r = 0; r < R.n; r++)
        if (!R.valid[r])
            for (int j = 0; j < D; j++) {
                double d = R.x[r * (size_t)D + j] - mu[j];
                sq[j] += d * d;
            }
    for (int j = 0; j < D; j++) {
        double sd = sqrt(sq[j] / (double)ntrain);
        m->mean[j] = (float)mu[j];
        m->std[j] = sd > 1e-12 && isfinite(sd) ? (float)sd : 1.0f;
    }
    free(mu);
    free(sq);
    for (size_t r = 0; r < R.n; r++)
        for (int j = 0; j < D; j++)
            R.x[r * (size_t)D + j] = (R.x[r * (size_t)D + j] - m->mean[j]) / m->std[j];

    rng ir;
    rng_init(&ir, cfg->seed, 0);
    nn_mlp_init_weights(&m->net, m->P.w + m->net.offset, &ir);
    /* the slot offsets start at the logit of each objective's base rate */
    for (int o = 0; o < O; o++) {
        double pos = 0;
        for (size_t r = 0; r < R.n; r++)
            if (!R.valid[r])
                pos += R.y[r * (size_t)O + o];
        double rate = (pos + 0.5) / ((double)ntrain + 1);
        for (int s = 0; s < K; s++)
            m->P.w[m->pos + (size_t)s * O + o] = (float)log(rate / (1 - rate));
    }

    train = xmalloc(ntrain * sizeof *train);
    size_t t = 0;
    for (size_t r = 0; r < R.n; r++)
        if (!R.valid[r])
            train[t++] = r;
    int B = cfg->batch < (int)ntrain ? cfg->batch : (int)ntrain;
    int per = (B + RERANK_SHARDS - 1) / RERANK_SHARDS;
    int threads = cfg->threads < RERANK_SHARDS ? cfg->threads : RERANK_SHARDS;
    p = pool_new(threads > 0 ? threads : 1, slice_bytes(m, per), RERANK_SHARDS, m->P.n_dense, e);
    if (!p)
        goto out;
    nn_optim o;
    nn_optim_defaults(&o, NN_OPT_ADAM, cfg->lr);
    nn_optim_attach(&o, &m->P);
    fit_ctx fc = {m, &R, NULL, 0};
    double Fl = 0;
    for (int l = 0; l < m->net.nlayers; l++)
        Fl += 2.0 * m->net.dims[l] * m->net.dims[l + 1];
    double t0 = cli_now();
    uint64_t seen = 0;
    for (int ep = 1; ep <= cfg->epochs; ep++) {
        rng sr;
        rng_init(&sr, cfg->seed, RERANK_STREAM_SHUFFLE + (uint64_t)ep);
        rng_shuffle(&sr, train, ntrain, sizeof *train);
        double eloss = 0;
        cli_progress prog;
        cli_progress_start(&prog, "rows", (double)ntrain);
        for (size_t lo = 0; lo < ntrain; lo += (size_t)B) {
            int b = (int)(ntrain - lo < (size_t)B ? ntrain - lo : (size_t)B);
            fc.idx = train + lo;
            fc.batch = b;
            nn_params_zero_grad(&m->P);
            double loss = 0;
            if (pool_run(p, RERANK_SHARDS, fit_shard, &fc, m->P.g, &loss, e) < 0)
                goto out;
            if (!isfinite(loss)) {
                err_set(e, "training diverged: the loss is %g in epoch %d; no model written", loss, ep);
                goto out;
            }
            eloss += loss * b;
            if (cfg->clip > 0)
                nn_clip_grad_norm(&m->P, cfg->clip);
            nn_optim_step(&o, &m->P);
            seen += (uint64_t)b;
            cli_progress_update(&prog, (double)(lo + (size_t)b));
        }
        cli_progress_end(&prog);
        /* validation loss */
        double vloss = 0;
        size_t nv = 0;
        if (res->valid_rows) {
            size_t *vi = xmalloc(res->valid_rows * sizeof *vi);
            for (size_t r = 0; r < R.n; r++)
                if (R.valid[r])
                    vi[nv++] = r;
            arena_free(&A);
            arena_init(&A, slice_bytes(m, RERANK_CHUNK));
            for (size_t lo = 0; lo < nv; lo += RERANK_CHUNK) {
                int b = (int)(nv - lo < RERANK_CHUNK ? nv - lo : RERANK_CHUNK);
                vloss += slice_loss(m, m->P.w, &R, vi + lo, b, 1.0, NULL, &A);
            }
            free(vi);
        }
        if (nv)
            cli_info("epoch %d/%d: train loss %.6g, validation loss %.6g (per row, summed over objectives)", ep,
                     cfg->epochs, eloss / (double)ntrain, vloss / (double)nv);
        else
            cli_info("epoch %d/%d: train loss %.6g (per row, summed over objectives)", ep, cfg->epochs,
                     eloss / (double)ntrain);
    }
    for (size_t k = 0; k < m->P.n; k++)
        if (!isfinite(m->P.w[k])) {
            err_set(e, "training diverged: weight %zu is not finite; no model written", k);
            goto out;
        }
    res->seconds = cli_now() - t0;
    if (res->seconds > 0) {
        res->rows_per_s = (double)seen / res->seconds;
        res->gflops = 3 * Fl * (double)seen / res->seconds / 1e9;
    }
    arena_free(&A);
    arena_init(&A, slice_bytes(m, RERANK_CHUNK));
    report_auc(m, &R, res->valid_rows > 0, res, &A);
    rc = 0;
out:
    pool_free(p);
    free(train);
    arena_free(&A);
    rows_free(&R);
    for (int j = 0; feat && j < F; j++)
        free(feat[j]);
    for (int j = 0; score && j < S; j++)
        free(score[j]);
    free(feat);
    free(score);
    if (rc < 0)
        rerank_model_free(m);
    return rc;
}
