/*
 * replay.c - replay-eval's merge join of logged and new lists and its
 * estimators (replay.h).
 */
#include "replay.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boot.h"
#include "cli.h"
#include "rec.h"
#include "rng.h"
#include "banned.h"

/* ---- the new lists ---- */

typedef struct new_row {
    int slot, cand;  /* cand: index among the logged request's candidates */
    double pi;
    uint64_t line;
} new_row;

typedef struct new_reader {
    rec_reader *r;
    rec_group g;
    int req, slot, item, pi;
    int pending, done;
    /* the current request */
    char *key;
    size_t key_len, key_cap;
    uint64_t first_line;
    int n, cap;
    char **items;        /* (n) item ids, owned */
    int *slots;          /* (n) */
    double *pis;         /* (n) */
    uint64_t *lines;     /* (n) */
} new_reader;

static void new_close(new_reader *nr)
{
    if (!nr)
        return;
    rec_group_free(&nr->g);
    rec_close(nr->r);
    for (int j = 0; j < nr->cap; j++)
        free(nr->items[j]);
    free(nr->items);
    free(nr->slots);
    free(nr->pis);
    free(nr->lines);
    free(nr->key);
    free(nr);
}

static new_reader *new_open(const char *path, const replay_cfg *c, errctx *e)
{
    new_reader *nr = xcalloc(1, sizeof *nr);
    nr->r = rec_open(path, e);
    if (!nr->r) {
        free(nr);
        return NULL;
    }
    rec_group_init(&nr->g, 0);
    if ((nr->req = rec_col(nr->r, c->cols.request, e)) < 0 || (nr->slot = rec_col(nr->r, c->cols.slot, e)) < 0 ||
        (nr->item = rec_col(nr->r, c->cols.item, e)) < 0) {
        new_close(nr);
        return NULL;
    }
    nr->g.col = nr->req;
    nr->pi = c->pi ? rec_find(nr->r, c->pi) : -1;
    return nr;
}

static int new_add(new_reader *nr, errctx *e)
{
    rec_reader *r = nr->r;
    if (nr->n == nr->cap) {
        int cap = nr->cap ? nr->cap * 2 : 32;
        nr->items = xrealloc(nr->items, (size_t)cap * sizeof *nr->items);
        for (int j = nr->cap; j < cap; j++)
            nr->items[j] = NULL;
        nr->slots = xrealloc(nr->slots, (size_t)cap * sizeof *nr->slots);
        nr->pis = xrealloc(nr->pis, (size_t)cap * sizeof *nr->pis);
        nr->lines = xrealloc(nr->lines, (size_t)cap * sizeof *nr->lines);
        nr->cap = cap;
    }
    int64_t s;
    if (rec_i64(r, nr->slot, &s, e) < 0)
        return -1;
    if (s < 1 || s > RERANK_MAX_SLOTS)
        return rec_error(r, nr->slot, e, "a slot must be 1 .. %d, not %lld", RERANK_MAX_SLOTS, (long long)s);
    double pi = 1;
    if (nr->pi >= 0) {
        if (rec_f64(r, nr->pi, &pi, e) < 0)
            return -1;
        if (!(pi >= 0 && pi <= 1))
            return rec_error(r, nr->pi, e, "a probability must be in [0, 1], not %g", pi);
    }
    size_t len;
    const char *item = rec_str(r, nr->item, &len);
    free(nr->items[nr->n]);
    nr->items[nr->n] = xmalloc(len + 1);
    memcpy(nr->items[nr->n], item, len);
    nr->items[nr->n][len] = '\0';
    nr->slots[nr->n] = (int)s;
    nr->pis[nr->n] = pi;
    nr->lines[nr->n] = rec_line(r);
    nr->n++;
    return 0;
}

static void new_start(new_reader *nr)
{
    size_t len;
    const char *k = rec_str(nr->r, nr->req, &len);
    if (len + 1 > nr->key_cap) {
        nr->key_cap = len + 64;
        nr->key = xrealloc(nr->key, nr->key_cap);
    }
    memcpy(nr->key, k, len);
    nr->key[len] = '\0';
    nr->key_len = len;
    nr->first_line = rec_line(nr->r);
    nr->n = 0;
}

/* The next request's rows: 1, 0 at the end, -1 on error. */
static int new_next(new_reader *nr, errctx *e)
{
    if (nr->done)
        return 0;
    if (nr->pending) {
        nr->pending = 0;
        new_start(nr);
        if (new_add(nr, e) < 0)
            return -1;
    } else {
        nr->n = 0;
    }
    int got;
    while ((got = rec_next(nr->r, e)) == 1) {
        int step = rec_group_step(&nr->g, nr->r, e);
        if (step < 0)
            return -1;
        if (step == 1 && nr->n > 0) {
            nr->pending = 1;
            return 1;
        }
        if (step == 1)
            new_start(nr);
        if (new_add(nr, e) < 0)
            return -1;
    }
    if (got < 0)
        return -1;
    nr->done = 1;
    return nr->n > 0;
}

/* ---- accumulators ---- */

typedef struct acc {
    int O, RR, K;           /* objectives, 1 + bootstrap, slots allocated */
    double *ksum;           /* (RR) */
    double *ips;            /* (O, RR) sum k X */
    double *ips_sq;         /* (O) sum X^2 */
    double *num;            /* (K, RR, O) sum k w r */
    double *den;            /* (K, RR) sum k w */
    uint64_t n, matched;
    /* descriptive measures: sums and squares over requests */
    double d_sum[3], d_sq[3];
    int descriptive;
    float *kw;              /* (RR) the request's weights */
} acc;

static void acc_slots(acc *a, int K)
{
    if (K <= a->K)
        return;
    size_t rr = (size_t)a->RR, o = (size_t)a->O;
    a->num = xrealloc(a->num, (size_t)K * rr * o * sizeof *a->num);
    a->den = xrealloc(a->den, (size_t)K * rr * sizeof *a->den);
    memset(a->num + (size_t)a->K * rr * o, 0, (size_t)(K - a->K) * rr * o * sizeof *a->num);
    memset(a->den + (size_t)a->K * rr, 0, (size_t)(K - a->K) * rr * sizeof *a->den);
    a->K = K;
}

static void acc_free(acc *a)
{
    free(a->ksum);
    free(a->ips);
    free(a->ips_sq);
    free(a->num);
    free(a->den);
    free(a->kw);
}

/* ---- one request ---- */

static const char *key_of(const new_reader *nr, int *len)
{
    *len = (int)(nr->key_len > 60 ? 60 : nr->key_len);
    return nr->key;
}

/* Match the new rows to the logged request q; evaluate into a. */
static int evaluate(const replay_cfg *c, const char *new_path, const char *log_name, new_reader *nr,
                    const slot_req *q, acc *a, double *pi_at, int *new_item, errctx *e)
{
    int kl;
    const char *key = key_of(nr, &kl);
    int Kn = 0;
    for (int j = 0; j < nr->n; j++)
        Kn = nr->slots[j] > Kn ? nr->slots[j] : Kn;
    if (Kn > q->k) {
        int j = 0;
        while (nr->slots[j] != Kn)
            j++;
        return err_set(e, "%s:%llu: column '%s': the new list of request '%.*s' fills slot %d, but the logged list "
                          "has %d slots: replay cannot evaluate it",
                       new_path, (unsigned long long)nr->lines[j], c->cols.slot, kl, key, Kn, q->k);
    }
    /* pi of the logged item at each slot; deterministic lists: one item a slot */
    for (int k = 0; k < Kn; k++) {
        pi_at[k] = 0;
        new_item[k] = -1;
    }
    double *slot_sum = pi_at + Kn;
    for (int k = 0; k < Kn; k++)
        slot_sum[k] = 0;
    for (int j = 0; j < nr->n; j++) {
        int cand = -1;
        for (int i = 0; i < q->n && cand < 0; i++)
            if (strcmp(slot_req_item(q, i), nr->items[j]) == 0)
                cand = i;
        if (cand < 0)
            return err_set(e, "%s:%llu: column '%s': item '%.60s' is not a candidate of request '%.*s' in the log",
                           new_path, (unsigned long long)nr->lines[j], c->cols.item, nr->items[j], kl, key);
        int k = nr->slots[j] - 1;
        if (nr->pi < 0) {
            if (new_item[k] >= 0)
                return err_set(e, "%s:%llu: column '%s': request '%.*s' gives slot %d twice", new_path,
                               (unsigned long long)nr->lines[j], c->cols.slot, kl, key, k + 1);
            for (int t = 0; t < Kn; t++)
                if (new_item[t] == cand)
                    return err_set(e, "%s:%llu: column '%s': item '%.60s' is listed twice in request '%.*s'",
                                   new_path, (unsigned long long)nr->lines[j], c->cols.item, nr->items[j], kl, key);
            new_item[k] = cand;
        }
        slot_sum[k] += nr->pis[j];
        if (slot_sum[k] > 1 + 1e-6)
            return err_set(e, "%s:%llu: the probabilities of slot %d of request '%.*s' sum to %.9g, above 1", new_path,
                           (unsigned long long)nr->lines[j], k + 1, kl, key, slot_sum[k]);
        if (cand == q->list[k])
            pi_at[k] += nr->pis[j];
    }
    if (nr->pi < 0)
        for (int k = 0; k < Kn; k++)
            if (new_item[k] < 0) {
                int j = 0;
                while (nr->slots[j] <= k + 1)
                    j++;
                return err_set(e, "%s:%llu: column '%s': request '%.*s' gives slot %d but not slot %d (slots must "
                                  "be 1, 2, ... without a gap)",
                               new_path, (unsigned long long)nr->lines[j], c->cols.slot, kl, key, nr->slots[j], k + 1);
            }

    /* the weights */
    int O = a->O, RR = a->RR;
    acc_slots(a, Kn);
    if (RR > 1) {
        rng g;
        rng_init(&g, c->seed, REPLAY_STREAM_BOOT + a->n);
        for (int b = 1; b < RR; b++)
            a->kw[b] = (float)rng_poisson(&g, 1.0);
    }
    a->kw[0] = 1;
    for (int b = 0; b < RR; b++)
        a->ksum[b] += a->kw[b];
    double w = 1, whole = 1;
    for (int k = 0; k < Kn; k++)
        whole *= pi_at[k] / q->prop[q->list[k]];
    if (c->match == REPLAY_SLOT && nr->pi >= 0)
        return err_set(e, "%s: slot matching needs deterministic new lists: the pi column gives probabilities "
                          "given the logged items above, not an item's probability of being at a slot",
                       new_path);
    if (c->match == REPLAY_SLOT)
        for (int k = 0; k < q->k; k++)
            if (fabs(q->prop[q->list[k]] * (q->n - k) - 1) > 1e-6)
                return err_set(e, "%s: request '%.*s': slot %d was logged with propensity %.9g, not 1/%d: slot "
                                  "matching needs uniform logging (the log holds each item's probability given "
                                  "the slots above, not its marginal probability at a slot)",
                               log_name, kl, key, k + 1, q->prop[q->list[k]], q->n - k);
    double X[RERANK_MAX_OBJ] = {0};
    int any = 0;
    for (int k = 0; k < Kn; k++) {
        int l = q->list[k];
        double rho = pi_at[k] / q->prop[l];
        /* slot: under uniform logging an item is at slot k with probability 1/n */
        w = c->match == REPLAY_PREFIX ? w * rho : c->match == REPLAY_SLOT ? pi_at[k] * q->n : whole;
        any |= w > 0;
        if (w == 0)
            continue;
        double *den = a->den + (size_t)k * RR, *num = a->num + (size_t)k * RR * O;
        for (int b = 0; b < RR; b++)
            den[b] += a->kw[b] * w;
        for (int o = 0; o < O; o++) {
            double r = q->label[(size_t)l * O + o];
            X[o] += w * r;
            if (r != 0)
                for (int b = 0; b < RR; b++)
                    num[(size_t)b * O + o] += a->kw[b] * w * r;
        }
    }
    a->matched += any;
    for (int o = 0; o < O; o++) {
        for (int b = 0; b < RR; b++)
            a->ips[(size_t)o * RR + b] += a->kw[b] * X[o];
        a->ips_sq[o] += X[o] * X[o];
    }
    /* descriptive measures of deterministic lists */
    if (a->descriptive) {
        double d[3] = {0, 0, 0};
        int ncat = 0;
        for (int k = 0; k < Kn; k++) {
            int seen = 0;
            for (int t = 0; t < k; t++)
                seen |= q->cat[new_item[t]] == q->cat[new_item[k]];
            ncat += !seen;
            d[2] += q->age[new_item[k]] / Kn;
        }
        d[0] = ncat;
        int pairs = 0;
        for (int s = 0; s < Kn; s++)
            for (int t = 0; t < s; t++) {
                const float *u = q->unit + (size_t)new_item[s] * q->F, *v = q->unit + (size_t)new_item[t] * q->F;
                double dot = 0;
                for (int f = 0; f < q->F; f++)
                    dot += (double)u[f] * v[f];
                d[1] += dot;
                pairs++;
            }
        d[1] = pairs ? d[1] / pairs : 0;
        for (int j = 0; j < 3; j++) {
            a->d_sum[j] += d[j];
            a->d_sq[j] += d[j] * d[j];
        }
    }
    a->n++;
    return 0;
}

/* ---- the join ---- */

static void mean_row(replay_row *row, const char *name, double sum, double sq, double n, double z)
{
    snprintf(row->name, sizeof row->name, "%s", name);
    row->value = sum / n;
    double var = n > 1 ? (sq - n * row->value * row->value) / (n - 1) : NAN;
    row->se = n > 1 ? sqrt(var > 0 ? var : 0) / sqrt(n) : NAN;
    row->lo = row->value - z * row->se;
    row->hi = row->value + z * row->se;
}

int replay_run(const char *log_path, const char *new_path, const replay_cfg *c, replay_row **rows, int *nrows,
               errctx *e)
{
    int rc = -1, O = c->O, RR = 1 + c->bootstrap;
    new_reader *nr = NULL;
    rerank_reader *lr = NULL;
    slot_req q;
    static const char *const none[1] = {NULL};
    slot_req_init(&q, 0, 0, O);
    acc a;
    memset(&a, 0, sizeof a);
    double *pi_at = NULL, *rep = NULL;
    int *new_item = NULL;
    if (O < 1 || O > RERANK_MAX_OBJ) {
        err_set(e, "%d objectives (want 1 to %d)", O, RERANK_MAX_OBJ);
        goto out;
    }
    lr = rerank_reader_open(log_path, &c->cols, NULL, 0, none, 0, c->obj, O, 1, e);
    if (!lr || rerank_reader_propensity(lr, c->propensity, e) < 0)
        goto out;
    nr = new_open(new_path ? new_path : "-", c, e);
    if (!nr)
        goto out;
    const char *npath = rec_path(nr->r);
    slot_req_free(&q);
    slot_req_init(&q, rerank_reader_nfeat(lr), 0, O);
    a.O = O;
    a.RR = RR;
    a.ksum = xcalloc((size_t)RR, sizeof *a.ksum);
    a.ips = xcalloc((size_t)O * RR, sizeof *a.ips);
    a.ips_sq = xcalloc((size_t)O, sizeof *a.ips_sq);
    a.kw = xcalloc((size_t)RR, sizeof *a.kw);
    a.descriptive = nr->pi < 0;
    pi_at = xmalloc(2 * RERANK_MAX_SLOTS * sizeof *pi_at);
    new_item = xmalloc(RERANK_MAX_SLOTS * sizeof *new_item);
    int got, have_log = 0;
    cli_progress prog;
    cli_progress_start(&prog, "requests", 0);
    while ((got = new_next(nr, e)) == 1) {
        /* advance the log to this request */
        for (;;) {
            if (have_log && q.key_len == nr->key_len && memcmp(q.key, nr->key, q.key_len) == 0)
                break;
            int lg = rerank_reader_next(lr, &q, e);
            if (lg < 0)
                goto out;
            if (lg == 0) {
                int kl;
                const char *key = key_of(nr, &kl);
                err_set(e, "%s:%llu: column '%s': request '%.*s' is not in %s after the requests before it: the new "
                           "lists must be a subsequence of the log's requests, in the same order",
                        npath, (unsigned long long)nr->first_line, c->cols.request, kl, key, rerank_reader_path(lr));
                goto out;
            }
            have_log = 1;
        }
        if (evaluate(c, npath, rerank_reader_path(lr), nr, &q, &a, pi_at, new_item, e) < 0)
            goto out;
        have_log = 0; /* each logged request serves one new list */
        if ((a.n & 1023) == 0)
            cli_progress_update(&prog, (double)a.n);
    }
    cli_progress_end(&prog);
    if (got < 0)
        goto out;
    if (a.n == 0) {
        err_set(e, "%s: no new list", npath);
        goto out;
    }

    /* the estimates */
    double n = (double)a.n, z = boot_norm_quantile((1 + c->level) / 2);
    int nout = O + (a.descriptive ? 3 : 0);
    replay_row *out = xcalloc((size_t)nout, sizeof *out);
    rep = xmalloc(((size_t)RR + 1) * sizeof *rep);
    for (int o = 0; o < O; o++) {
        replay_row *row = &out[o];
        snprintf(row->name, sizeof row->name, "%s", c->obj[o]);
        row->matched = a.matched;
        row->requests = a.n;
        for (int b = 0; b < RR; b++) {
            double v = 0;
            if (c->self_norm) {
                for (int k = 0; k < a.K; k++) {
                    double den = a.den[(size_t)k * RR + b];
                    if (den > 0)
                        v += a.num[((size_t)k * RR + b) * O + o] / den;
                }
            } else {
                v = a.ksum[b] > 0 ? a.ips[(size_t)o * RR + b] / a.ksum[b] : NAN;
            }
            if (b == 0)
                row->value = v;
            else
                rep[b - 1] = v;
        }
        row->se = row->lo = row->hi = NAN;
        if (!c->self_norm) {
            double var = n > 1 ? (a.ips_sq[o] - n * row->value * row->value) / (n - 1) : NAN;
            row->se = n > 1 ? sqrt(var > 0 ? var : 0) / sqrt(n) : NAN;
            row->lo = row->value - z * row->se;
            row->hi = row->value + z * row->se;
        }
        if (RR > 1) {
            double sd;
            boot_summary(rep, RR - 1, c->level, &sd, &row->lo, &row->hi);
            if (c->self_norm)
                row->se = sd;
        }
    }
    if (a.descriptive) {
        static const char *const dn[3] = {"distinct_categories", "intra_list_similarity", "mean_age"};
        for (int j = 0; j < 3; j++) {
            mean_row(&out[O + j], dn[j], a.d_sum[j], a.d_sq[j], n, z);
            out[O + j].matched = a.n;
            out[O + j].requests = a.n;
        }
    }
    *rows = out;
    *nrows = nout;
    rc = 0;
out:
    new_close(nr);
    rerank_reader_close(lr);
    slot_req_free(&q);
    acc_free(&a);
    free(pi_at);
    free(new_item);
    free(rep);
    return rc;
}

/* ---- Pareto ---- */

void pareto_mark(const double *vals, int n, int m, const int *sense, unsigned char *out)
{
    for (int r = 0; r < n; r++) {
        out[r] = 1;
        for (int s = 0; s < n && out[r]; s++) {
            if (s == r)
                continue;
            int ge = 1, gt = 0;
            for (int j = 0; j < m; j++) {
                double a = sense[j] * vals[(size_t)s * m + j], b = sense[j] * vals[(size_t)r * m + j];
                ge &= a >= b;
                gt |= a > b;
            }
            if (ge && gt)
                out[r] = 0;
        }
    }
}
