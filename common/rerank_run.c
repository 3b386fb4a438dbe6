/*
 * rerank_run.c - re-ranking with a slot-aware model: the Sequential Greedy
 * Algorithm, the exhaustive search, the baselines, and the stream that
 * runs them over requests in parallel (rerank.h).
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "nn_loss.h"
#include "pool.h"
#include "rec.h"
#include "rerank.h"
#include "rng.h"
#include "banned.h"

/* The objective of candidate i at slot k from its logits. */
static double rerank_slot_value(const rerank_model *m, const rerank_cfg *rc, const slot_req *q, const slot_ctx *c, int i,
                         const float *logit, float *p)
{
    double v = 0;
    for (int o = 0; o < m->O; o++) {
        double po = nn_sigmoid(logit[o]);
        if (p)
            p[o] = (float)po;
        v += rc->w[o] * po;
    }
    if (rc->l_div != 0)
        v += rc->l_div * (1 - slotctx_similarity(c, i));
    if (rc->l_fresh != 0)
        v += rc->l_fresh * exp(-q->age[i] / 24);
    return v;
}

/* Logits (n, O) of the candidates cand[0..n) at slot k below c. */
static void score_candidates(const rerank_model *m, const slot_req *q, const slot_ctx *c, const int *cand, int n,
                             int k, float *X, float *logits, arena *A)
{
    for (int r = 0; r < n; r++)
        rerank_row(m, c, q, cand[r], X + (size_t)r * m->D);
    rerank_logits(m, m->P.w, X, n, NULL, k, logits, A);
}

void rerank_sga(const rerank_model *m, const rerank_cfg *rc, const slot_req *q, slot_ctx *c, arena *A, int *list,
                float *p, double *value, uint64_t *evals)
{
    int n = q->n, O = m->O;
    int *rem = xmalloc((size_t)n * sizeof *rem);
    float *X = xmalloc((size_t)n * m->D * sizeof *X), *lg = xmalloc((size_t)n * O * sizeof *lg);
    for (int i = 0; i < n; i++)
        rem[i] = i;
    int nrem = n;
    double total = 0;
    slotctx_reset(c, q);
    for (int k = 1; k <= rc->K; k++) {
        score_candidates(m, q, c, rem, nrem, k, X, lg, A);
        *evals += (uint64_t)nrem;
        int best = 0;
        double bv = -INFINITY;
        for (int r = 0; r < nrem; r++) {
            double v = rerank_slot_value(m, rc, q, c, rem[r], lg + (size_t)r * O, NULL);
            if (v > bv) { /* strict: ties stay with the earliest */
                bv = v;
                best = r;
            }
        }
        int i = rem[best];
        rerank_slot_value(m, rc, q, c, i, lg + (size_t)best * O, p + (size_t)(k - 1) * O);
        list[k - 1] = i;
        total += bv;
        slotctx_add(c, q, i);
        memmove(rem + best, rem + best + 1, (size_t)(nrem - best - 1) * sizeof *rem);
        nrem--;
    }
    *value = total;
    free(rem);
    free(X);
    free(lg);
}

double rerank_list_value(const rerank_model *m, const rerank_cfg *rc, const slot_req *q, slot_ctx *c, arena *A,
                         const int *list, int k, float *p)
{
    int O = m->O;
    float *X = xmalloc((size_t)m->D * sizeof *X), *lg = xmalloc((size_t)O * sizeof *lg);
    double total = 0;
    slotctx_reset(c, q);
    for (int s = 0; s < k; s++) {
        score_candidates(m, q, c, list + s, 1, s + 1, X, lg, A);
        total += rerank_slot_value(m, rc, q, c, list[s], lg, p ? p + (size_t)s * O : NULL);
        slotctx_add(c, q, list[s]);
    }
    free(X);
    free(lg);
    return total;
}

/* ---- exhaustive search ---- */

typedef struct ex_state {
    const rerank_model *m;
    const rerank_cfg *rc;
    const slot_req *q;
    slot_ctx *ctx;       /* (K + 1) states, one per depth */
    arena *A;
    int *cur, *best;
    unsigned char *used;
    double best_value;
    float *X, *lg;       /* (n, D), (K, n, O) */
} ex_state;

static void ctx_copy(slot_ctx *dst, const slot_ctx *src, const slot_req *q)
{
    slotctx_reset(dst, q);
    dst->n_above = src->n_above;
    dst->logage_sum = src->logage_sum;
    memcpy(dst->cat_count, src->cat_count, (size_t)q->ncat * sizeof *dst->cat_count);
    memcpy(dst->score_sum, src->score_sum, (size_t)q->S * sizeof *dst->score_sum);
    memcpy(dst->score_max, src->score_max, (size_t)q->S * sizeof *dst->score_max);
    memcpy(dst->maxcos, src->maxcos, (size_t)q->n * sizeof *dst->maxcos);
}

static void ex_search(ex_state *s, int depth, double sofar)
{
    const slot_req *q = s->q;
    int n = q->n, O = s->m->O, K = s->rc->K;
    if (depth == K) {
        if (sofar > s->best_value) { /* strict: the first best list in search order */
            s->best_value = sofar;
            memcpy(s->best, s->cur, (size_t)K * sizeof *s->best);
        }
        return;
    }
    slot_ctx *c = &s->ctx[depth];
    int *cand = xmalloc((size_t)n * sizeof *cand), nc = 0;
    for (int i = 0; i < n; i++)
        if (!s->used[i])
            cand[nc++] = i;
    float *lg = s->lg + (size_t)depth * n * O;
    score_candidates(s->m, q, c, cand, nc, depth + 1, s->X, lg, s->A);
    for (int r = 0; r < nc; r++) {
        int i = cand[r];
        double v = rerank_slot_value(s->m, s->rc, q, c, i, lg + (size_t)r * O, NULL);
        s->cur[depth] = i;
        s->used[i] = 1;
        if (depth + 1 < K) {
            ctx_copy(&s->ctx[depth + 1], c, q);
            slotctx_add(&s->ctx[depth + 1], q, i);
        }
        ex_search(s, depth + 1, sofar + v);
        s->used[i] = 0;
    }
    free(cand);
}

int rerank_exhaustive(const rerank_model *m, const rerank_cfg *rc, const slot_req *q, slot_ctx *c, arena *A,
                      int *list, float *p, double *value)
{
    int n = q->n, K = rc->K;
    double lists = 1;
    for (int k = 0; k < K; k++)
        lists *= n - k;
    if (lists > (double)rc->max_lists)
        return -1;
    ex_state s;
    memset(&s, 0, sizeof s);
    s.m = m;
    s.rc = rc;
    s.q = q;
    s.A = A;
    s.ctx = xcalloc((size_t)K + 1, sizeof *s.ctx);
    for (int k = 0; k <= K; k++)
        slotctx_init(&s.ctx[k]);
    slotctx_reset(&s.ctx[0], q);
    s.cur = xmalloc((size_t)K * sizeof *s.cur);
    s.best = xmalloc((size_t)K * sizeof *s.best);
    s.used = xcalloc((size_t)n, 1);
    s.best_value = -INFINITY;
    s.X = xmalloc((size_t)n * m->D * sizeof *s.X);
    s.lg = xmalloc((size_t)K * n * m->O * sizeof *s.lg);
    ex_search(&s, 0, 0);
    memcpy(list, s.best, (size_t)K * sizeof *list);
    *value = rerank_list_value(m, rc, q, c, A, list, K, p);
    for (int k = 0; k <= K; k++)
        slotctx_free(&s.ctx[k]);
    free(s.ctx);
    free(s.cur);
    free(s.best);
    free(s.used);
    free(s.X);
    free(s.lg);
    return 0;
}

/* ---- the stream ---- */

/* A batch of requests re-ranked in parallel, written in input order. */
#define BATCH_REQ 1024
#define RUN_SHARDS 16 /* a shard re-ranks its requests in lockstep: one product per slot for all */

typedef struct req_out {
    int *list;      /* (K) */
    float *p;       /* (K, O) */
    double value, greedy_value;
    uint64_t evals;
    int failed;     /* exhaustive: too many lists */
} req_out;

typedef struct run_ctx {
    const rerank_model *m;
    const rerank_cfg *rc;
    slot_req *reqs;
    req_out *out;
    int n;
    slot_ctx *ctx;  /* one per request of the batch */
    int nshards;
    int bcol;       /* baseline: the score column's index among the reader's */
    const char *path; /* the input, for messages */
} run_ctx;

typedef struct base_item {
    float s;
    int i;
} base_item;

static int cmp_base(const void *a, const void *b)
{
    const base_item *x = a, *y = b;
    if (x->s != y->s)
        return x->s > y->s ? -1 : 1;
    return (x->i > y->i) - (x->i < y->i);
}

static void run_one(run_ctx *c, int j, int shard, arena *A)
{
    const rerank_cfg *rc = c->rc;
    slot_req *q = &c->reqs[j];
    req_out *o = &c->out[j];
    int K = rc->K, n = q->n;
    o->evals = 0;
    o->failed = 0;
    if (rc->method == RERANK_BASELINE || rc->method == RERANK_RANDOM) {
        base_item *it = xmalloc((size_t)n * sizeof *it);
        for (int i = 0; i < n; i++) {
            it[i].i = i;
            it[i].s = rc->method == RERANK_BASELINE ? q->score[(size_t)i * q->S + c->bcol] : 0;
        }
        if (rc->method == RERANK_RANDOM) {
            rng r;
            rng_init(&r, rc->seed, RERANK_STREAM_RANDOM + hash64(q->key, q->key_len, 0x72616e64));
            rng_shuffle(&r, it, (size_t)n, sizeof *it);
        } else {
            qsort(it, (size_t)n, sizeof *it, cmp_base);
        }
        for (int k = 0; k < K; k++) {
            o->list[k] = it[k].i;
            if (rc->method == RERANK_BASELINE)
                o->p[k] = it[k].s;
        }
        free(it);
        return;
    }
    (void)shard;
    rerank_sga(c->m, rc, q, &c->ctx[j], A, o->list, o->p, &o->value, &o->evals);
    if (rc->method == RERANK_EXHAUSTIVE) {
        o->greedy_value = o->value;
        if (rerank_exhaustive(c->m, rc, q, &c->ctx[j], A, o->list, o->p, &o->value) < 0)
            o->failed = 1;
    }
}

/* SGA on requests lo..hi-1 in lockstep: at each slot, every remaining
 * candidate of every request in one matrix product (the same rows, in the
 * same order per request, as rerank_sga one request at a time). */
static void sga_lockstep(run_ctx *c, int lo, int hi, arena *A)
{
    const rerank_model *m = c->m;
    const rerank_cfg *rc = c->rc;
    int O = m->O, D = m->D, nr = hi - lo;
    size_t total = 0;
    for (int j = lo; j < hi; j++)
        total += (size_t)c->reqs[j].n;
    float *X = xmalloc((total ? total : 1) * (size_t)D * sizeof *X), *lg = xmalloc((total ? total : 1) * (size_t)O * sizeof *lg);
    int **rem = xmalloc((size_t)nr * sizeof *rem), *nrem = xmalloc((size_t)nr * sizeof *nrem);
    for (int j = lo; j < hi; j++) {
        slot_req *q = &c->reqs[j];
        rem[j - lo] = xmalloc((size_t)q->n * sizeof **rem);
        for (int i = 0; i < q->n; i++)
            rem[j - lo][i] = i;
        nrem[j - lo] = q->n;
        slotctx_reset(&c->ctx[j], q);
        c->out[j].evals = 0;
        c->out[j].value = 0;
        c->out[j].failed = 0;
    }
    /* the item part of a row does not change from slot to slot: make it
     * (standardised) once per candidate */
    int I = slotctx_item_dim(m->F, m->S);
    float **item = xmalloc((size_t)nr * sizeof *item);
    for (int j = lo; j < hi; j++) {
        slot_req *q = &c->reqs[j];
        item[j - lo] = xmalloc((size_t)q->n * (size_t)I * sizeof **item);
        for (int i = 0; i < q->n; i++) {
            float *x = item[j - lo] + (size_t)i * I;
            slotctx_item_features(q, i, x);
            for (int f = 0; f < I; f++)
                x[f] = (x[f] - m->mean[f]) / m->std[f];
        }
    }
    for (int k = 1; k <= rc->K; k++) {
        size_t r = 0;
        for (int j = lo; j < hi; j++)
            for (int t = 0; t < nrem[j - lo]; t++, r++) {
                float *x = X + r * (size_t)D;
                int i = rem[j - lo][t];
                memcpy(x, item[j - lo] + (size_t)i * I, (size_t)I * sizeof *x);
                if (m->ctx) {
                    slotctx_features(&c->ctx[j], &c->reqs[j], i, x + I);
                    for (int f = I; f < D; f++)
                        x[f] = (x[f] - m->mean[f]) / m->std[f];
                }
            }
        rerank_logits_std(m, m->P.w, X, (int)r, NULL, k, lg, A);
        r = 0;
        for (int j = lo; j < hi; j++) {
            slot_req *q = &c->reqs[j];
            req_out *o = &c->out[j];
            int *rj = rem[j - lo], n = nrem[j - lo], best = 0;
            double bv = -INFINITY;
            for (int t = 0; t < n; t++) {
                double v = rerank_slot_value(m, rc, q, &c->ctx[j], rj[t], lg + (r + (size_t)t) * O, NULL);
                if (v > bv) { /* strict: ties stay with the earliest */
                    bv = v;
                    best = t;
                }
            }
            int i = rj[best];
            rerank_slot_value(m, rc, q, &c->ctx[j], i, lg + (r + (size_t)best) * O, o->p + (size_t)(k - 1) * O);
            o->list[k - 1] = i;
            o->value += bv;
            o->evals += (uint64_t)n;
            slotctx_add(&c->ctx[j], q, i);
            memmove(rj + best, rj + best + 1, (size_t)(n - best - 1) * sizeof *rj);
            nrem[j - lo]--;
            r += (size_t)n;
        }
    }
    for (int j = 0; j < nr; j++) {
        free(rem[j]);
        free(item[j]);
    }
    free(item);
    free(rem);
    free(nrem);
    free(X);
    free(lg);
}

static double run_shard(void *ctx, int shard, float *grad, pool_worker *wk)
{
    (void)grad;
    run_ctx *c = ctx;
    int lo = (int)((long long)c->n * shard / c->nshards), hi = (int)((long long)c->n * (shard + 1) / c->nshards);
    if (c->rc->method == RERANK_SGA) {
        if (hi > lo)
            sga_lockstep(c, lo, hi, &wk->arena);
        return 0;
    }
    for (int j = lo; j < hi; j++)
        run_one(c, j, shard, &wk->arena);
    return 0;
}

static int write_batch(run_ctx *c, rec_writer *w, rerank_stats *st, errctx *e)
{
    const rerank_cfg *rc = c->rc;
    int O = c->m && rc->method != RERANK_BASELINE ? c->m->O : (rc->method == RERANK_BASELINE ? 1 : 0);
    for (int j = 0; j < c->n; j++) {
        slot_req *q = &c->reqs[j];
        req_out *o = &c->out[j];
        if (o->failed)
            return err_set(e, "%s:%llu: request '%.*s': %d candidates and %d slots make more than %lld lists for "
                              "--exhaustive (--max-lists)",
                           c->path, (unsigned long long)q->line[0], (int)(q->key_len > 60 ? 60 : q->key_len), q->key,
                           q->n, rc->K, rc->max_lists);
        st->requests++;
        st->evals += o->evals;
        if (rc->method == RERANK_EXHAUSTIVE) {
            double gap = o->value - o->greedy_value;
            st->greedy_optimal += gap <= 1e-6 * (1 + fabs(o->value)); /* BLAS rounding */
            st->gap_sum += gap;
            st->value_sum += o->value;
        }
        for (int k = 0; k < rc->K; k++) {
            rec_put_str(w, 0, q->key, q->key_len);
            rec_put_i64(w, 1, k + 1);
            const char *item = slot_req_item(q, o->list[k]);
            rec_put_str(w, 2, item, strlen(item));
            for (int t = 0; t < O; t++)
                rec_put_f32(w, 3 + t, o->p[(size_t)k * O + t]);
            if (rec_end_row(w, e) < 0)
                return -1;
        }
    }
    return 0;
}

/* Reading overlaps re-ranking: a reader thread fills one batch of
 * requests while the pool re-ranks the other, so the parse of the input
 * (serial) hides behind the arithmetic (parallel). */
typedef struct req_batch {
    slot_req *reqs; /* (BATCH_REQ) */
    int n;
    int got;  /* the last rerank_reader_next: 1 more to come, 0 end, -1 error */
    errctx err;
    int full; /* 1: filled by the reader, 0: free for it */
} req_batch;

typedef struct batch_reader {
    rerank_reader *rr;
    int K;
    req_batch b[2];
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop; /* the consumer failed: stop reading */
} batch_reader;

/* Fill b from the reader: up to BATCH_REQ requests, each with K or more
 * candidates. */
static void fill_batch(batch_reader *br, req_batch *b)
{
    b->n = 0;
    b->got = 1;
    while (b->n < BATCH_REQ && (b->got = rerank_reader_next(br->rr, &b->reqs[b->n], &b->err)) == 1) {
        slot_req *q = &b->reqs[b->n];
        if (q->n < br->K) {
            err_set(&b->err, "%s:%llu: request '%.*s' has %d candidates, fewer than the %d slots to fill",
                    rerank_reader_path(br->rr), (unsigned long long)q->line[q->n - 1],
                    (int)(q->key_len > 60 ? 60 : q->key_len), q->key, q->n, br->K);
            b->got = -1;
            break;
        }
        b->n++;
    }
}

static void *batch_reader_main(void *arg)
{
    batch_reader *br = arg;
    for (int which = 0;; which ^= 1) {
        req_batch *b = &br->b[which];
        pthread_mutex_lock(&br->mu);
        while (b->full && !br->stop)
            pthread_cond_wait(&br->cv, &br->mu);
        int stop = br->stop;
        pthread_mutex_unlock(&br->mu);
        if (stop)
            break;
        fill_batch(br, b);
        pthread_mutex_lock(&br->mu);
        b->full = 1;
        pthread_cond_broadcast(&br->cv);
        pthread_mutex_unlock(&br->mu);
        if (b->got != 1)
            break;
    }
    return NULL;
}

int rerank_stream(const rerank_model *m, const rerank_cfg *rc, const rerank_cols *cols, const char *const *inputs,
                  int ninputs, const char *output, int binary, rerank_stats *st, errctx *e)
{
    memset(st, 0, sizeof *st);
    int O = m ? m->O : 0, K = rc->K, rcode = -1;
    run_ctx c;
    memset(&c, 0, sizeof c);
    c.m = m;
    c.rc = rc;
    batch_reader br;
    memset(&br, 0, sizeof br);
    br.K = K;
    for (int h = 0; h < 2; h++)
        br.b[h].reqs = xcalloc(BATCH_REQ, sizeof *br.b[h].reqs);
    pthread_mutex_init(&br.mu, NULL);
    pthread_cond_init(&br.cv, NULL);
    pthread_t reader;
    int reading = 0;
    c.out = xcalloc(BATCH_REQ, sizeof *c.out);
    int P = rc->method == RERANK_BASELINE ? 1 : O;
    for (int j = 0; j < BATCH_REQ; j++) {
        c.out[j].list = xmalloc((size_t)K * sizeof *c.out[j].list);
        c.out[j].p = xmalloc((size_t)K * (size_t)(P ? P : 1) * sizeof *c.out[j].p);
    }
    c.nshards = RUN_SHARDS;
    c.ctx = xcalloc(BATCH_REQ, sizeof *c.ctx);
    for (int j = 0; j < BATCH_REQ; j++)
        slotctx_init(&c.ctx[j]);
    int threads = rc->threads > 0 ? rc->threads : 1;
    size_t abytes = m ? rerank_logits_bytes(m) : 4096;
    pool *p = pool_new(threads, abytes, c.nshards, 0, e);
    rec_writer *w = NULL;
    rerank_reader *rr = NULL;
    if (!p)
        goto out;
    /* output columns */
    const char *names[3 + RERANK_MAX_OBJ];
    char pn[RERANK_MAX_OBJ][64];
    names[0] = "request_id";
    names[1] = "slot";
    names[2] = "item_id";
    int nout = 3;
    if (rc->method == RERANK_BASELINE) {
        names[nout++] = rc->baseline;
    } else if (m && rc->method != RERANK_RANDOM) {
        for (int o = 0; o < O; o++) {
            snprintf(pn[o], sizeof pn[o], "p_%s", m->obj_names[o]);
            names[nout++] = pn[o];
        }
    }
    if (rc->method == RERANK_RANDOM)
        nout = 3;
    int nin = ninputs ? ninputs : 1;
    for (int f = 0; f < nin; f++) {
        const char *path = ninputs ? inputs[f] : "-";
        static const char *const none[1] = {NULL};
        if (rc->method == RERANK_BASELINE) /* the score column alone */
            rr = rerank_reader_open(path, cols, none, 0, &rc->baseline, 1, NULL, 0, 0, e);
        else if (rc->method == RERANK_RANDOM) /* ids alone */
            rr = rerank_reader_open(path, cols, none, 0, none, 0, NULL, 0, 0, e);
        else
            rr = rerank_reader_open(path, cols, (const char *const *)m->feat_names, m->F,
                                    (const char *const *)m->score_names, m->S, NULL, 0, 0, e);
        if (!rr)
            goto out;
        c.bcol = 0;
        c.path = rerank_reader_path(rr);
        if (!w) {
            w = rec_writer_open(output, binary, e);
            if (!w || rec_writer_header(w, nout, names, e) < 0)
                goto out;
        }
        int F = rerank_reader_nfeat(rr), S = rerank_reader_nscore(rr);
        for (int h = 0; h < 2; h++)
            for (int j = 0; j < BATCH_REQ; j++) {
                slot_req_free(&br.b[h].reqs[j]);
                slot_req_init(&br.b[h].reqs[j], F, S, 0);
            }
        br.rr = rr;
        br.stop = 0;
        br.b[0].full = br.b[1].full = 0;
        if (pthread_create(&reader, NULL, batch_reader_main, &br) != 0) {
            err_set(e, "cannot start the reader thread");
            goto out;
        }
        reading = 1;
        cli_progress prog;
        cli_progress_start(&prog, "requests", 0);
        for (int which = 0;; which ^= 1) {
            req_batch *b = &br.b[which];
            pthread_mutex_lock(&br.mu);
            while (!b->full)
                pthread_cond_wait(&br.cv, &br.mu);
            pthread_mutex_unlock(&br.mu);
            int got = b->got;
            if (b->n > 0) {
                c.reqs = b->reqs;
                c.n = b->n;
                int ns = c.n < RUN_SHARDS ? c.n : RUN_SHARDS;
                c.nshards = ns;
                if (pool_run(p, ns, run_shard, &c, NULL, NULL, e) < 0)
                    goto out;
                if (write_batch(&c, w, st, e) < 0)
                    goto out;
                cli_progress_update(&prog, (double)st->requests);
            }
            if (got < 0) {
                *e = b->err;
                goto out;
            }
            /* the batch goes back to the reader */
            pthread_mutex_lock(&br.mu);
            b->full = 0;
            pthread_cond_broadcast(&br.cv);
            pthread_mutex_unlock(&br.mu);
            if (got == 0)
                break;
        }
        cli_progress_end(&prog);
        pthread_join(reader, NULL);
        reading = 0;
        rerank_reader_close(rr);
        rr = NULL;
    }
    if (rec_writer_close(w, e) < 0) {
        w = NULL;
        goto out;
    }
    w = NULL;
    rcode = 0;
out:
    if (reading) { /* stop the reader: it may wait for a batch to fill */
        pthread_mutex_lock(&br.mu);
        br.stop = 1;
        pthread_cond_broadcast(&br.cv);
        pthread_mutex_unlock(&br.mu);
        pthread_join(reader, NULL);
    }
    if (w)
        rec_writer_abort(w);
    rerank_reader_close(rr);
    pool_free(p);
    for (int h = 0; h < 2; h++) {
        for (int j = 0; j < BATCH_REQ; j++)
            slot_req_free(&br.b[h].reqs[j]);
        free(br.b[h].reqs);
    }
    pthread_mutex_destroy(&br.mu);
    pthread_cond_destroy(&br.cv);
    for (int j = 0; j < BATCH_REQ; j++) {
        free(c.out[j].list);
        free(c.out[j].p);
    }
    for (int j = 0; j < BATCH_REQ; j++)
        slotctx_free(&c.ctx[j]);
    free(c.ctx);
    free(c.out);
    return rcode;
}
