/*
 * persona_train.c - training and evaluation of the personalization models
 * (persona.h).
 *
 * maml and finetune train over meta-batches of members, one pool shard per
 * member, the gradients summed in member order (pool.h), then Adam on the
 * mean; maml uses the meta-gradient of the query loss after K inner steps
 * on the support rows (maml.h), finetune the plain gradient of the loss on
 * all of a member's rows.  global and wide-deep train over minibatches of
 * rows with Adam (lazy sparse updates for the hashed member tables); their
 * rows are every training row plus the support rows of the held-out
 * members, so the member tables have seen what maml adapts on.
 *
 * Evaluation scores each held-out member's query rows as persona.h says
 * (one shard per member, scores in row order) and reports AUC and log loss
 * overall and by support-size bucket (metrics.h).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "persona.h"
#include "cli.h"
#include "metrics.h"
#include "nn_loss.h"
#include "rng.h"
#include "ckpt.h"
#include "banned.h"

static int is_maml(const persona_model *pm)
{
    return pm->hp.mode == PERSONA_MAML || pm->hp.mode == PERSONA_FINETUNE;
}

/* ---- evaluation ---- */

typedef struct eval_ctx {
    const persona_model *pm;
    const persona_data *d;
    int first;      /* member of shard 0 */
    double *scores; /* (d->nrows): query rows filled */
} eval_ctx;

static double eval_shard(void *ctx, int shard, float *grad, pool_worker *w)
{
    (void)grad;
    const eval_ctx *c = ctx;
    const persona_model *pm = c->pm;
    const persona_data *d = c->d;
    int i = c->first + shard;
    int ns = d->n_support[i], nq = d->count[i] - ns;
    if (nq <= 0)
        return 0;
    arena *A = &w->arena;
    size_t r0 = d->start[i];
    const float *m = d->m + r0 * d->m_dim, *x = d->x + r0 * d->x_dim, *y = d->y + r0;
    const float **emb = arena_alloc(A, (size_t)nq * sizeof *emb);
    const char **keys = arena_alloc(A, (size_t)nq * sizeof *keys);
    size_t *lens = arena_alloc(A, (size_t)nq * sizeof *lens);
    float *e = NULL;
    if (is_maml(pm)) {
        e = arena_floats(A, (size_t)pm->hp.e_dim);
        if (persona_member_embedding(pm, m, x, y, ns, e, A) != 0)
            e = NULL;
    }
    size_t klen = strlen(d->keys[i]);
    for (int k = 0; k < nq; k++) {
        emb[k] = e;
        keys[k] = d->keys[i];
        lens[k] = klen;
    }
    float *logits = arena_floats(A, (size_t)nq);
    persona_logits(pm, nq, m + (size_t)ns * d->m_dim, x + (size_t)ns * d->x_dim, emb, keys, lens, logits, A);
    for (int k = 0; k < nq; k++)
        c->scores[r0 + (size_t)ns + (size_t)k] = nn_sigmoid(logits[k]);
    return 0;
}

size_t persona_eval_bytes(const persona_model *pm, int max_rows);
size_t persona_eval_bytes(const persona_model *pm, int max_rows)
{
    size_t n = (size_t)(max_rows > 0 ? max_rows : 1);
    return persona_score_bytes(pm, max_rows) + 3 * arena_round(n * sizeof(void *)) +
           arena_round(n * sizeof(float)) + arena_round((size_t)(pm->hp.e_dim + 1) * sizeof(float)) + 4096;
}

int persona_evaluate(const persona_model *pm, const persona_data *valid, pool *p,
                     const persona_train_cfg *tc, persona_eval *ev, errctx *e)
{
    memset(ev, 0, sizeof *ev);
    const persona_data *d = valid;
    double *scores = xcalloc(d->nrows ? d->nrows : 1, sizeof *scores);
    pool *own = NULL;
    int rc = -1;
    if (!p) {
        own = pool_new(1, persona_eval_bytes(pm, d->max_rows), 64, 0, e);
        if (!own)
            goto out;
        p = own;
    }
    eval_ctx c = {pm, d, 0, scores};
    int chunk = 64; /* the training pool has at least as many shards */
    for (int first = 0; first < d->nmembers; first += chunk) {
        c.first = first;
        int n = d->nmembers - first < chunk ? d->nmembers - first : chunk;
        if (pool_run(p, n, eval_shard, &c, NULL, NULL, e) < 0)
            goto out;
    }
    int nb = tc->nbuckets + 1;
    metrics_acc *acc = xcalloc((size_t)nb + 1, sizeof *acc);
    long long *members = xcalloc((size_t)nb + 1, sizeof *members);
    for (int i = 0; i < d->nmembers; i++) {
        int ns = d->n_support[i], nq = d->count[i] - ns;
        if (nq <= 0)
            continue;
        int b = tc->nbuckets ? metrics_bucket_index(ns, tc->bucket_edges, tc->nbuckets) : 0;
        members[b]++;
        members[nb]++;
        for (int k = 0; k < nq; k++) {
            size_t r = d->start[i] + (size_t)ns + (size_t)k;
            metrics_acc_add(&acc[b], scores[r], d->y[r] != 0);
            metrics_acc_add(&acc[nb], scores[r], d->y[r] != 0);
        }
    }
    if (!members[nb]) {
        err_set(e, "no held-out member has a query row to evaluate (is --query-frac 0?)");
        for (int b = 0; b <= nb; b++)
            metrics_acc_free(&acc[b]);
        free(acc);
        free(members);
        goto out;
    }
    for (int b = 0; b <= nb; b++) {
        if (b < nb && (!tc->nbuckets || !members[b]))
            continue;
        if (ev->nrows == (int)(sizeof ev->row / sizeof *ev->row))
            break;
        persona_eval_row *row = &ev->row[ev->nrows++];
        if (b == nb)
            snprintf(row->bucket, sizeof row->bucket, "all");
        else
            metrics_bucket_name(b, tc->bucket_edges, tc->nbuckets, row->bucket, sizeof row->bucket);
        metrics_summary s;
        metrics_acc_compute(&acc[b], &s);
        row->members = members[b];
        row->rows = (long long)s.rows;
        row->auc = s.auc;
        row->logloss = s.logloss;
    }
    for (int b = 0; b <= nb; b++)
        metrics_acc_free(&acc[b]);
    free(acc);
    free(members);
    rc = 0;
out:
    pool_free(own);
    free(scores);
    return rc;
}

/* ---- meta-learning (maml, finetune) ---- */

typedef struct task_ctx {
    const persona_model *pm;
    const persona_data *d;
    const int *members; /* of this batch */
    maml_cfg cfg;
    int finetune;
} task_ctx;

static double task_shard(void *ctx, int shard, float *grad, pool_worker *w)
{
    const task_ctx *c = ctx;
    const persona_data *d = c->d;
    const maml_net *N = &c->pm->net;
    int i = c->members[shard];
    size_t r0 = d->start[i];
    int n = d->count[i], ns = c->finetune ? 0 : d->n_support[i];
    const float *m = d->m + r0 * d->m_dim, *x = d->x + r0 * d->x_dim, *y = d->y + r0;
    maml_task T = {
        .support_m = m,
        .support_x = x,
        .support_y = y,
        .n_support = ns,
        .query_m = m + (size_t)ns * d->m_dim,
        .query_x = x + (size_t)ns * d->x_dim,
        .query_y = y + ns,
        .n_query = n - ns,
    };
    maml_cfg cfg = c->cfg;
    if (c->finetune)
        cfg.steps = 0;
    return maml_meta_grad(N, &cfg, maml_phi(N, &c->pm->P), maml_theta(N, &c->pm->P), &T, grad + N->meta.offset,
                          grad + N->global.offset, &w->arena);
}

/* ---- checkpoints ---- */

uint64_t persona_data_hash(const persona_data *d)
{
    uint64_t h = ckpt_hash(&d->nrows, sizeof d->nrows, 2);
    h = ckpt_hash(d->m, d->nrows * (size_t)d->m_dim * sizeof *d->m, h);
    h = ckpt_hash(d->x, d->nrows * (size_t)d->x_dim * sizeof *d->x, h);
    h = ckpt_hash(d->y, d->nrows * sizeof *d->y, h);
    h = ckpt_hash(d->count, (size_t)d->nmembers * sizeof *d->count, h);
    return ckpt_hash(d->n_support, (size_t)d->nmembers * sizeof *d->n_support, h);
}

static int write_checkpoint(const ckpt_cfg *ck, const nn_params *P, const nn_optim *o, int epoch, size_t pos,
                            errctx *e)
{
    return ckpt_save_params(ck, P, o, epoch, (long long)pos, NULL, NULL, e);
}

/* Restore parameters and optimizer state; the epoch and position. */
static int read_checkpoint(const ckpt_cfg *ck, nn_params *P, nn_optim *o, int epochs, size_t units, int *epoch,
                           size_t *pos, errctx *e)
{
    long long ep, ps;
    if (ckpt_load_params(ck, P, o, NULL, NULL, &ep, &ps, e) < 0)
        return -1;
    if (ep < 1 || ep > epochs)
        return err_set(e, "metadata 'checkpoint.epoch': %lld is outside 1 .. %d", ep, epochs);
    if (ps < 0 || (unsigned long long)ps > units)
        return err_set(e, "metadata 'checkpoint.pos': %lld is outside 0 .. %zu", ps, units);
    *epoch = (int)ep;
    *pos = (size_t)ps;
    return 0;
}

/* After an optimizer step that ends at (epoch, pos): a checkpoint when one
 * is due; CKPT_STOPPED on a stop request, 0 to go on, -1 on error. */
static int maybe_checkpoint(const persona_train_cfg *tc, const nn_params *P, const nn_optim *o, int epoch,
                            size_t pos, int last, errctx *e)
{
    const ckpt_cfg *ck = tc->ckpt;
    if (!ck || !ck->path || last)
        return 0;
    int stop = ckpt_stop_signal();
    if (!stop && !(ck->every > 0 && o->step % ck->every == 0))
        return 0;
    if (write_checkpoint(ck, P, o, epoch, pos, e) < 0)
        return -1;
    if (!stop)
        return 0;
    cli_info("stopped by signal %d at epoch %d, step %lld: checkpoint written to %s (continue with --resume %s)", stop,
             epoch, o->step, ck->path, ck->path);
    return CKPT_STOPPED;
}

static void report_epoch(int epoch, int epochs, double loss, const persona_eval *ev, double secs)
{
    const persona_eval_row *all = ev->nrows ? &ev->row[ev->nrows - 1] : NULL;
    if (all)
        cli_info("epoch %d/%d: train loss %.5f, held-out auc %.5f logloss %.5f (%.1f s)", epoch, epochs, loss,
                 all->auc, all->logloss, secs);
    else
        cli_info("epoch %d/%d: train loss %.5f (%.1f s)", epoch, epochs, loss, secs);
}

static int train_tasks(persona_model *pm, const persona_data *train, const persona_data *valid,
                       const persona_train_cfg *tc, persona_eval *final, errctx *e)
{
    const maml_net *N = &pm->net;
    int finetune = pm->hp.mode == PERSONA_FINETUNE;
    int max_rows = train->max_rows > valid->max_rows ? train->max_rows : valid->max_rows;
    size_t ws = maml_workspace_bytes(N, &pm->hp.inner, max_rows);
    size_t es = persona_eval_bytes(pm, max_rows);
    int shards = tc->meta_batch > 64 ? tc->meta_batch : 64;
    pool *p = pool_new(tc->threads, ws > es ? ws : es, shards, pm->P.n_dense, e);
    if (!p)
        return -1;
    nn_optim o;
    nn_optim_defaults(&o, NN_OPT_ADAM, tc->lr);
    nn_optim_attach(&o, &pm->P);
    /* members that have a query set to learn from */
    int *order = xmalloc((size_t)(train->nmembers ? train->nmembers : 1) * sizeof *order);
    int ntasks = 0;
    for (int i = 0; i < train->nmembers; i++)
        if (finetune || train->count[i] - train->n_support[i] > 0)
            order[ntasks++] = i;
    int rc = -1;
    if (ntasks == 0) {
        err_set(e, "no training member has a query row");
        goto out;
    }
    task_ctx c = {pm, train, NULL, pm->hp.inner, finetune};
    /* useful FLOPs, for the throughput report: a row's forward pass costs
     * F = 2 (weights of both blocks); a gradient 3F; an HVP (forward,
     * R-forward, backward, R-backward) 9F */
    double F = 0;
    for (int b = 0; b < 2; b++) {
        const nn_mlp *net = b ? &N->global : &N->meta;
        for (int l = 0; l < net->nlayers; l++)
            F += 2.0 * net->dims[l] * net->dims[l + 1];
    }
    double flops = 0, t_train = 0;
    long long tasks_done = 0;
    int first_epoch = 1;
    size_t first_pos = 0;
    if (tc->ckpt && tc->ckpt->resume) {
        if (read_checkpoint(tc->ckpt, &pm->P, &o, tc->epochs, (size_t)ntasks, &first_epoch, &first_pos, e) < 0)
            goto out;
        for (int ep = 1; ep < first_epoch; ep++) { /* the order is the product of every shuffle */
            rng r;
            rng_init(&r, tc->seed, 1000 + (uint64_t)ep);
            rng_shuffle(&r, order, (size_t)ntasks, sizeof *order);
        }
        cli_info("resuming at epoch %d, member %zu of %d", first_epoch, first_pos, ntasks);
    }
    for (int epoch = first_epoch; epoch <= tc->epochs; epoch++) {
        double t0 = cli_now();
        rng r;
        rng_init(&r, tc->seed, 1000 + (uint64_t)epoch);
        rng_shuffle(&r, order, (size_t)ntasks, sizeof *order);
        double loss_sum = 0;
        cli_progress prog;
        cli_progress_start(&prog, "members", ntasks);
        for (int start = epoch == first_epoch ? (int)first_pos : 0; start < ntasks; start += tc->meta_batch) {
            int nb = ntasks - start < tc->meta_batch ? ntasks - start : tc->meta_batch;
            c.members = order + start;
            double loss = 0;
            nn_params_zero_grad(&pm->P);
            if (pool_run(p, nb, task_shard, &c, pm->P.g, &loss, e) < 0)
                goto out;
            if (!isfinite(loss)) {
                err_set(e, "training diverged: the loss is %g at epoch %d, step %lld; no model written", loss,
                        epoch, o.step + 1);
                goto out;
            }
            loss_sum += loss;
            for (int t = 0; t < nb; t++) {
                int i = order[start + t], K = finetune ? 0 : pm->hp.inner.steps;
                double ns = finetune ? 0 : train->n_support[i], nq = train->count[i] - ns;
                if (ns == 0)
                    K = 0;
                flops += 3 * F * nq + K * 3 * F * ns + (pm->hp.inner.order >= 2 ? K * 9 * F * ns : 0);
            }
            tasks_done += nb;
            nn_grad_scale(&pm->P, 1.0f / (float)nb);
            if (tc->clip > 0)
                nn_clip_grad_norm(&pm->P, tc->clip);
            nn_optim_step(&o, &pm->P);
            cli_progress_update(&prog, start + nb);
            int ck = maybe_checkpoint(tc, &pm->P, &o, epoch, (size_t)(start + nb),
                                      epoch == tc->epochs && start + nb >= ntasks, e);
            if (ck != 0) {
                cli_progress_end(&prog);
                rc = ck;
                goto out;
            }
        }
        cli_progress_end(&prog);
        t_train += cli_now() - t0;
        persona_eval ev;
        if (persona_evaluate(pm, valid, p, tc, &ev, e) < 0)
            goto out;
        report_epoch(epoch, tc->epochs, loss_sum / ntasks, &ev, cli_now() - t0);
        *final = ev;
    }
    if (t_train > 0)
        cli_info("throughput: %.0f members/s, %.2f GFLOP/s of useful work (estimated: gradient 3F, HVP 9F a row)",
                 tasks_done / t_train, flops / t_train / 1e9);
    for (size_t k = 0; k < pm->P.n; k++)
        if (!isfinite(pm->P.w[k])) {
            err_set(e, "training diverged: parameter %zu is not finite; no model written", k);
            goto out;
        }
    rc = 0;
out:
    free(order);
    pool_free(p);
    return rc;
}

/* ---- row models (global, wide-deep) ---- */

typedef struct rowref {
    const persona_data *d;
    size_t row;
    int member;
} rowref;

static int train_rows(persona_model *pm, const persona_data *train, const persona_data *valid,
                      const persona_train_cfg *tc, persona_eval *final, errctx *e)
{
    int wide = pm->hp.mode == PERSONA_WIDEDEEP;
    int md = pm->m_dim, xd = pm->x_dim, B = tc->batch;
    int in = pm->deep.dims[0];
    size_t nref = train->nrows;
    for (int i = 0; i < valid->nmembers; i++)
        nref += (size_t)valid->n_support[i];
    rowref *refs = xmalloc((nref ? nref : 1) * sizeof *refs);
    size_t k = 0;
    for (int i = 0; i < train->nmembers; i++)
        for (int j = 0; j < train->count[i]; j++)
            refs[k++] = (rowref){train, train->start[i] + (size_t)j, i};
    for (int i = 0; i < valid->nmembers; i++)
        for (int j = 0; j < valid->n_support[i]; j++)
            refs[k++] = (rowref){valid, valid->start[i] + (size_t)j, i};

    nn_optim o;
    nn_optim_defaults(&o, NN_OPT_ADAM, tc->lr);
    nn_optim_attach(&o, &pm->P);
    nn_embed_grad gid, gb, gw;
    if (wide) {
        nn_embed_grad_init(&gid, &pm->id_emb, B);
        nn_embed_grad_init(&gb, &pm->wide_b, B);
        if (xd)
            nn_embed_grad_init(&gw, &pm->wide_w, B);
    }
    /* every buffer before the loop */
    float *bm = xmalloc((size_t)B * (size_t)(md ? md : 1) * sizeof(float));
    float *bx = xmalloc((size_t)B * (size_t)(xd ? xd : 1) * sizeof(float));
    float *by = xmalloc((size_t)B * sizeof(float));
    const char **keys = xmalloc((size_t)B * sizeof *keys);
    size_t *lens = xmalloc((size_t)B * sizeof *lens);
    float *dz = xmalloc((size_t)B * sizeof(float));
    float *z = xmalloc((size_t)B * sizeof(float));
    float *dX = xmalloc((size_t)B * (size_t)in * sizeof(float));
    float *dW = xmalloc((size_t)B * (size_t)(xd ? xd : 1) * sizeof(float));
    int32_t *buckets = xmalloc((size_t)B * sizeof *buckets);
    arena A;
    arena_init(&A, persona_score_bytes(pm, B) + nn_mlp_cache_bytes(&pm->deep, B, 0) +
                       nn_mlp_backward_bytes(&pm->deep, B, 0) + 2 * arena_round((size_t)B * (size_t)in * sizeof(float)));
    int shards = 64;
    pool *p = pool_new(tc->threads, persona_eval_bytes(pm, valid->max_rows), shards, 0, e);
    int rc = -1;
    if (!p)
        goto out;
    float *wdeep = pm->P.w + pm->deep.offset, *gdeep = pm->P.g + pm->deep.offset;
    int first_epoch = 1;
    size_t first_pos = 0;
    if (tc->ckpt && tc->ckpt->resume) {
        if (read_checkpoint(tc->ckpt, &pm->P, &o, tc->epochs, nref, &first_epoch, &first_pos, e) < 0)
            goto out;
        for (int ep = 1; ep < first_epoch; ep++) {
            rng r;
            rng_init(&r, tc->seed, 2000 + (uint64_t)ep);
            rng_shuffle(&r, refs, nref, sizeof *refs);
        }
        cli_info("resuming at epoch %d, row %zu of %zu", first_epoch, first_pos, nref);
    }
    for (int epoch = first_epoch; epoch <= tc->epochs; epoch++) {
        double t0 = cli_now();
        rng r;
        rng_init(&r, tc->seed, 2000 + (uint64_t)epoch);
        rng_shuffle(&r, refs, nref, sizeof *refs);
        double loss_sum = 0;
        cli_progress prog;
        cli_progress_start(&prog, "rows", (double)nref);
        for (size_t start = epoch == first_epoch ? first_pos : 0; start < nref; start += (size_t)B) {
            int n = nref - start < (size_t)B ? (int)(nref - start) : B;
            for (int i = 0; i < n; i++) {
                const rowref *rr = &refs[start + (size_t)i];
                memcpy(bm + (size_t)i * md, rr->d->m + rr->row * md, (size_t)md * sizeof(float));
                memcpy(bx + (size_t)i * xd, rr->d->x + rr->row * xd, (size_t)xd * sizeof(float));
                by[i] = rr->d->y[rr->row];
                keys[i] = rr->d->keys[rr->member];
                lens[i] = strlen(keys[i]);
            }
            arena_reset(&A);
            /* forward: the same input as scoring */
            float *X = arena_floats(&A, (size_t)n * (size_t)in);
            for (int i = 0; i < n; i++) {
                memcpy(X + (size_t)i * in, bx + (size_t)i * xd, (size_t)xd * sizeof(float));
                memcpy(X + (size_t)i * in + xd, bm + (size_t)i * md, (size_t)md * sizeof(float));
            }
            if (wide) {
                for (int i = 0; i < n; i++)
                    buckets[i] = nn_embed_bucket(&pm->id_emb, keys[i], lens[i]);
                nn_embed_lookup(&pm->id_emb, pm->P.w + pm->id_emb.offset, buckets, n, X + xd + md, in);
            }
            nn_mlp_cache cache;
            const float *out = nn_mlp_forward(&pm->deep, wdeep, X, n, &cache, &A);
            memcpy(z, out, (size_t)n * sizeof(float));
            if (wide) {
                const float *wb = pm->P.w + pm->wide_b.offset;
                const float *ww = xd ? pm->P.w + pm->wide_w.offset : NULL;
                for (int i = 0; i < n; i++) {
                    double s = wb[buckets[i]];
                    for (int j = 0; j < xd; j++)
                        s += (double)ww[(size_t)buckets[i] * xd + j] * bx[(size_t)i * xd + j];
                    z[i] += (float)s;
                }
            }
            nn_loss bce = {NN_LOSS_BCE, 1.0};
            double loss = nn_loss_batch(&bce, z, by, (size_t)n, 1.0 / n, dz);
            if (!isfinite(loss)) {
                err_set(e, "training diverged: the loss is %g at epoch %d, step %lld; no model written", loss, epoch,
                        o.step + 1);
                goto out;
            }
            loss_sum += loss;
            nn_params_zero_grad(&pm->P);
            nn_mlp_backward(&pm->deep, wdeep, &cache, dz, wide ? dX : NULL, gdeep, &A);
            if (tc->clip > 0) /* the dense part; the member tables move a row at a time */
                nn_clip_grad_norm(&pm->P, tc->clip);
            nn_optim_step(&o, &pm->P);
            if (wide) {
                nn_embed_grad_clear(&gid);
                nn_embed_grad_clear(&gb);
                if (nn_embed_backward(&gid, buckets, n, dX + xd + md, in, e) < 0 ||
                    nn_embed_backward(&gb, buckets, n, dz, 1, e) < 0)
                    goto out;
                nn_embed_step(&pm->id_emb, &o, &pm->P, &gid);
                nn_embed_step(&pm->wide_b, &o, &pm->P, &gb);
                if (xd) {
                    for (int i = 0; i < n; i++)
                        for (int j = 0; j < xd; j++)
                            dW[(size_t)i * xd + j] = dz[i] * bx[(size_t)i * xd + j];
                    nn_embed_grad_clear(&gw);
                    if (nn_embed_backward(&gw, buckets, n, dW, xd, e) < 0)
                        goto out;
                    nn_embed_step(&pm->wide_w, &o, &pm->P, &gw);
                }
            }
            if ((start / (size_t)B) % 64 == 0)
                cli_progress_update(&prog, (double)(start + (size_t)n));
            int ck = maybe_checkpoint(tc, &pm->P, &o, epoch, start + (size_t)n,
                                      epoch == tc->epochs && start + (size_t)n >= nref, e);
            if (ck != 0) {
                cli_progress_end(&prog);
                rc = ck;
                goto out;
            }
        }
        cli_progress_end(&prog);
        persona_eval ev;
        if (persona_evaluate(pm, valid, p, tc, &ev, e) < 0)
            goto out;
        report_epoch(epoch, tc->epochs, nref ? loss_sum / (double)nref : 0, &ev, cli_now() - t0);
        *final = ev;
    }
    for (size_t q = 0; q < pm->P.n; q++)
        if (!isfinite(pm->P.w[q])) {
            err_set(e, "training diverged: parameter %zu is not finite; no model written", q);
            goto out;
        }
    rc = 0;
out:
    pool_free(p);
    arena_free(&A);
    if (wide) {
        nn_embed_grad_free(&gid);
        nn_embed_grad_free(&gb);
        if (xd)
            nn_embed_grad_free(&gw);
    }
    free(refs);
    free(bm);
    free(bx);
    free(by);
    free(keys);
    free(lens);
    free(dz);
    free(z);
    free(dX);
    free(dW);
    free(buckets);
    return rc;
}

int persona_train(persona_model *pm, const persona_data *train, const persona_data *valid,
                  const persona_train_cfg *tc, persona_eval *final, errctx *e)
{
    memset(final, 0, sizeof *final);
    if (train->nmembers == 0)
        return err_set(e, "no training members");
    if (valid->nmembers == 0)
        return err_set(e, "no held-out members to evaluate (use --valid FILE or a larger --valid-frac)");
    return is_maml(pm) ? train_tasks(pm, train, valid, tc, final, e) : train_rows(pm, train, valid, tc, final, e);
}
