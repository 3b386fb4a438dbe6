/*
 * ope_read.c - smis-ope's pass over the transitions: find the columns,
 * validate every row, gather each episode and hand it to the estimators
 * (ope.c).  Memory: one episode, except while the marginal edges are
 * being fitted (the first edge_rows rows' complete episodes).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "cli.h"
#include "ope.h"
#include "rec.h"
#include "banned.h"

/* Rows of complete episodes waiting to be added, and the one being read. */
typedef struct ep_store {
    int A, O, M, S;
    size_t n, cap;        /* rows */
    int *a;
    double *mu, *pi, *q, *r, *x;
    float *s;             /* (n, S) states for the model */
    size_t *start;        /* episode starts */
    size_t neps, eps_cap; /* complete episodes */
} ep_store;

static void store_reserve(ep_store *st, size_t need)
{
    if (need <= st->cap)
        return;
    size_t cap = st->cap ? st->cap : 256;
    while (cap < need)
        cap *= 2;
    st->a = xrealloc(st->a, cap * sizeof *st->a);
    st->mu = xrealloc(st->mu, cap * sizeof *st->mu);
    st->pi = xrealloc(st->pi, cap * (size_t)st->A * sizeof *st->pi);
    st->q = xrealloc(st->q, cap * (size_t)st->A * sizeof *st->q);
    st->r = xrealloc(st->r, cap * (size_t)st->O * sizeof *st->r);
    st->x = xrealloc(st->x, cap * (size_t)(st->M ? st->M : 1) * sizeof *st->x);
    st->s = xrealloc(st->s, cap * (size_t)(st->S ? st->S : 1) * sizeof *st->s);
    st->cap = cap;
}

static void store_free(ep_store *st)
{
    free(st->a);
    free(st->mu);
    free(st->pi);
    free(st->q);
    free(st->r);
    free(st->x);
    free(st->s);
    free(st->start);
}

/* Mark rows start..n as one complete episode. */
static void store_close_episode(ep_store *st, size_t start)
{
    if (st->neps + 2 > st->eps_cap) {
        st->eps_cap = st->eps_cap ? st->eps_cap * 2 : 64;
        st->start = xrealloc(st->start, st->eps_cap * sizeof *st->start);
    }
    st->start[st->neps++] = start;
    st->start[st->neps] = st->n;
}

typedef struct run_state {
    const ope_run_opts *o;
    ope_acc *acc;
    ep_store st;
    int have_q, fitting;
    arena ar;
    float *qf, *pif;
    size_t qf_cap;
} run_state;

/* A float as a double the way it reads back from text: the shortest
 * decimal that gives the float (0.95f is 0.95, not 0.949999988), so that
 * -m MODEL and policy-act's printed columns give the same estimates. */
static double as_printed(float v)
{
    return rec_f32_text_value(v);
}

/* The model's Q and policy for the rows of the episode at start. */
static void model_fill(run_state *rs, size_t start, size_t n)
{
    const qlearn_model *qm = rs->o->model;
    int A = qm->n_actions;
    if (n > rs->qf_cap) {
        rs->qf_cap = n * 2;
        rs->qf = xrealloc(rs->qf, rs->qf_cap * (size_t)A * sizeof *rs->qf);
        arena_free(&rs->ar);
        arena_init(&rs->ar, qlearn_q_bytes(qm, (int)rs->qf_cap));
    }
    arena_reset(&rs->ar);
    qlearn_q(qm, qm->P.w, rs->st.s + start * (size_t)qm->s_dim, (int)n, rs->qf, &rs->ar);
    for (size_t i = 0; i < n; i++) {
        const float *q = rs->qf + i * (size_t)A;
        qlearn_policy_probs(&rs->o->policy, q, A, rs->pif);
        for (int b = 0; b < A; b++) {
            rs->st.q[(start + i) * (size_t)A + (size_t)b] = as_printed(q[b]);
            rs->st.pi[(start + i) * (size_t)A + (size_t)b] = as_printed(rs->pif[b]);
        }
    }
}

static void add_episode(run_state *rs, size_t start, size_t end)
{
    ep_store *st = &rs->st;
    if (rs->o->model)
        model_fill(rs, start, end - start);
    ope_episode ep = {
        .n = (int)(end - start),
        .a = st->a + start,
        .mu = st->mu + start,
        .pi = st->pi + start * (size_t)st->A,
        .q = rs->have_q ? st->q + start * (size_t)st->A : NULL,
        .r = st->r + start * (size_t)st->O,
        .x = st->x + start * (size_t)st->M,
    };
    ope_acc_add(rs->acc, &ep);
}

/* Fit the edges on the stored episodes, then add them all. */
static int fit_and_flush(run_state *rs, errctx *e)
{
    ep_store *st = &rs->st;
    const ope_run_opts *o = rs->o;
    if (rs->fitting) {
        double *v = xmalloc((st->n ? st->n : 1) * sizeof *v);
        double *edges = xmalloc((size_t)o->bins * sizeof *edges);
        for (int j = 0; j < st->M; j++) {
            size_t m = 0;
            for (size_t i = 0; i < st->start[st->neps]; i++)
                v[m++] = st->x[i * (size_t)st->M + (size_t)j];
            int ne = ope_fit_edges(v, m, o->bins, o->binning, edges);
            if (ope_acc_set_edges(rs->acc, j, edges, ne, e) < 0) {
                free(v);
                free(edges);
                return -1;
            }
        }
        free(v);
        free(edges);
        rs->fitting = 0;
    }
    for (size_t k = 0; k < st->neps; k++)
        add_episode(rs, st->start[k], st->start[k + 1]);
    /* keep the rows of an episode in progress */
    size_t done = st->neps ? st->start[st->neps] : 0, left = st->n - done;
    if (left && done) {
        int A = st->A, O = st->O, M = st->M, S = st->S;
        memmove(st->a, st->a + done, left * sizeof *st->a);
        memmove(st->mu, st->mu + done, left * sizeof *st->mu);
        memmove(st->pi, st->pi + done * (size_t)A, left * (size_t)A * sizeof *st->pi);
        memmove(st->q, st->q + done * (size_t)A, left * (size_t)A * sizeof *st->q);
        memmove(st->r, st->r + done * (size_t)O, left * (size_t)O * sizeof *st->r);
        if (M)
            memmove(st->x, st->x + done * (size_t)M, left * (size_t)M * sizeof *st->x);
        if (S)
            memmove(st->s, st->s + done * (size_t)S, left * (size_t)S * sizeof *st->s);
    }
    st->n = left;
    st->neps = 0;
    return 0;
}

/* The columns name0..name{A-1} ("pi_0", ...): A from pi_0 on; -1 with the
 * reader's list of columns if pi_0 is missing. */
static int numbered_cols(rec_reader *r, const char *prefix, int **idx)
{
    int n = 0;
    *idx = NULL;
    for (;;) {
        char name[64];
        snprintf(name, sizeof name, "%s%d", prefix, n);
        int c = rec_find(r, name);
        if (c < 0)
            break;
        *idx = xrealloc(*idx, ((size_t)n + 1) * sizeof **idx);
        (*idx)[n++] = c;
        if (n >= QLEARN_MAX_ACTIONS)
            break;
    }
    return n;
}

/* Append text to the message. */
static void err_suffix(errctx *e, const char *text)
{
    char msg[sizeof e->msg];
    memcpy(msg, e->msg, sizeof msg);
    err_set(e, "%s%s", msg, text);
}

static int field_text(rec_reader *r, int col, const char **s)
{
    size_t len;
    *s = rec_str(r, col, &len);
    return (int)(len > 40 ? 40 : len);
}

int ope_run(const ope_run_opts *o, ope_report *rep, errctx *e)
{
    memset(rep, 0, sizeof *rep);
    run_state rs;
    memset(&rs, 0, sizeof rs);
    rs.o = o;
    int *ridx = NULL, *pidx = NULL, *qidx = NULL, *midx = NULL, *sidx = NULL, rc = -1, have_group = 0;
    double *wts = NULL;
    qlearn_weights qw = {0, NULL, NULL};
    rec_group g;
    cli_progress prog;
    memset(&prog, 0, sizeof prog);
    rec_reader *r = rec_open(o->input ? o->input : "-", e);
    if (!r)
        return -1;
    const char *path = rec_path(r);
    int ep, tcol, acol, pcol;
    if ((ep = rec_col(r, o->cols.episode, e)) < 0 || (tcol = rec_col(r, o->cols.time, e)) < 0 ||
        (acol = rec_col(r, o->cols.action, e)) < 0 || (pcol = rec_col(r, o->cols.propensity, e)) < 0)
        goto out;
    int R = rec_select(r, o->cols.rewards, &ridx, e);
    if (R < 0)
        goto out;
    for (int i = 0; i < R; i++)
        for (int j = 0; j < i; j++)
            if (ridx[i] == ridx[j]) {
                err_set(e, "%s: --rewards selects column '%s' twice", path, rec_colname(r, ridx[i]));
                goto out;
            }

    /* the target policy */
    int A, S = 0;
    if (o->model) {
        A = o->model->n_actions;
        S = o->model->s_dim;
        sidx = xmalloc((size_t)S * sizeof *sidx);
        for (int j = 0; j < S; j++)
            if ((sidx[j] = rec_col(r, o->model->state_names[j], e)) < 0) {
                err_suffix(e, " (a state column of the model)");
                goto out;
            }
        rs.have_q = 1;
    } else {
        A = numbered_cols(r, "pi_", &pidx);
        if (A == 0) {
            rec_col(r, "pi_0", e);
            err_suffix(e, "; the target policy's probabilities pi_0, pi_1, ... are needed: "
                          "add them with policy-act, or give -m MODEL");
            goto out;
        }
        if (A < 2) {
            err_set(e, "%s: only one action probability, pi_0 (need pi_0 .. pi_{A-1}, A >= 2)", path);
            goto out;
        }
        int nq = numbered_cols(r, "q_", &qidx);
        if (nq > 0 && nq != A) {
            err_set(e, "%s: %d value columns q_* for %d actions (pi_0..pi_%d)", path, nq, A, A - 1);
            goto out;
        }
        rs.have_q = nq == A;
    }

    /* objectives: the reward columns, then the weighted one */
    const char *wspec = o->weights;
    if (!wspec && o->model && o->model->file)
        wspec = model_meta_get(o->model->file, "weights");
    int O = R;
    if (wspec) {
        if (qlearn_weights_parse(wspec, &qw, e) < 0) {
            err_prefix(e, "--weights");
            goto out;
        }
        wts = xcalloc((size_t)R, sizeof *wts);
        for (int k = 0; k < qw.n; k++) {
            int j = 0;
            while (j < R && strcmp(rec_colname(r, ridx[j]), qw.names[k]) != 0)
                j++;
            if (j == R) {
                err_set(e, "%s: --weights names '%s', which is not a reward column", path, qw.names[k]);
                goto out;
            }
            wts[j] = qw.w[k];
        }
        O = R + 1;
    }
    if (O == 0) {
        err_set(e, "%s: no reward column", path);
        goto out;
    }

    ope_cfg cfg = o->cfg;
    cfg.n_actions = A;
    cfg.nobj = O;
    cfg.dr_obj = -1;
    if ((cfg.estimators >> OPE_DR) & 1) {
        if (!rs.have_q)
            rep->dr_skipped = "no value model (q_0, q_1, ... columns, or -m MODEL)";
        else if (!wspec)
            rep->dr_skipped = "no weighted objective for the value model (--weights)";
        else
            cfg.dr_obj = R;
        if (cfg.dr_obj < 0 && o->dr_required) {
            err_set(e, "%s: the dr estimator needs %s", path, rep->dr_skipped);
            goto out;
        }
        if (cfg.dr_obj < 0)
            cfg.estimators &= ~(1u << OPE_DR);
    }
    int M = 0;
    if ((cfg.estimators >> OPE_SMIS) & 1 && o->marginal && *o->marginal) {
        M = rec_select(r, o->marginal, &midx, e);
        if (M < 0) {
            err_suffix(e, "; smis needs its marginal state features: name them with --marginal "
                          "(or leave smis out with --estimators)");
            goto out;
        }
    }
    cfg.nmarg = M;
    rs.acc = ope_acc_new(&cfg, e);
    if (!rs.acc)
        goto out;
    rs.fitting = M > 0 && o->bins > 1;
    ep_store *st = &rs.st;
    st->A = A;
    st->O = O;
    st->M = M;
    st->S = S;
    rs.pif = xmalloc((size_t)A * sizeof *rs.pif);
    arena_init(&rs.ar, 0);

    rep->nobj = O;
    rep->obj_names = xcalloc((size_t)O + 1, sizeof *rep->obj_names);
    for (int j = 0; j < R; j++)
        rep->obj_names[j] = xstrdup(rec_colname(r, ridx[j]));
    if (O > R)
        rep->obj_names[R] = xstrdup("weighted");

    rec_group_init(&g, ep);
    have_group = 1;
    double prev_t = 0;
    size_t ep_start = 0;
    int got;
    uint64_t rows = 0;
    cli_progress_start(&prog, "rows read", 0);
    while ((got = rec_next(r, e)) == 1) {
        int step = rec_group_step(&g, r, e);
        if (step < 0)
            goto out;
        double t;
        if (rec_f64(r, tcol, &t, e) < 0)
            goto out;
        if (step == 1) {
            if (st->n > ep_start) {
                store_close_episode(st, ep_start);
                if (!rs.fitting || st->n >= (size_t)o->edge_rows)
                    if (fit_and_flush(&rs, e) < 0)
                        goto out;
            }
            ep_start = st->n;
        } else if (!(t > prev_t)) {
            const char *s;
            int len = field_text(r, tcol, &s);
            char prev[40];
            rec_format_f64(prev, sizeof prev, prev_t);
            size_t klen;
            const char *key = rec_group_key(&g, &klen);
            rec_error(r, tcol, e, "must increase within episode '%.*s': %.*s follows %s",
                      (int)(klen > 100 ? 100 : klen), key, len, s, prev);
            goto out;
        }
        prev_t = t;
        store_reserve(st, st->n + 1);
        size_t i = st->n;
        int64_t a;
        if (rec_i64(r, acol, &a, e) < 0)
            goto out;
        if (a < 0 || a >= A) {
            rec_error(r, acol, e, "action %lld is outside 0..%d (the policy has %d actions)", (long long)a, A - 1, A);
            goto out;
        }
        st->a[i] = (int)a;
        double mu;
        if (rec_f64(r, pcol, &mu, e) < 0)
            goto out;
        if (!(mu > 0 && mu <= 1)) {
            const char *txt;
            int len = field_text(r, pcol, &txt);
            rec_error(r, pcol, e, "a propensity must be in (0, 1], not '%.*s'", len, txt);
            goto out;
        }
        st->mu[i] = mu;
        double *pi = st->pi + i * (size_t)A;
        if (o->model) {
            for (int j = 0; j < S; j++)
                if (rec_f32(r, sidx[j], &st->s[i * (size_t)S + (size_t)j], e) < 0)
                    goto out;
        } else {
            double sum = 0;
            for (int b = 0; b < A; b++) {
                if (rec_f64(r, pidx[b], &pi[b], e) < 0)
                    goto out;
                if (!(pi[b] >= 0 && pi[b] <= 1)) {
                    const char *txt;
                    int len = field_text(r, pidx[b], &txt);
                    rec_error(r, pidx[b], e, "a probability must be in [0, 1], not '%.*s'", len, txt);
                    goto out;
                }
                sum += pi[b];
            }
            if (!(fabs(sum - 1) <= 1e-4)) {
                rec_error(r, -1, e, "the probabilities pi_0..pi_%d sum to %.9g, not 1", A - 1, sum);
                goto out;
            }
            if (rs.have_q)
                for (int b = 0; b < A; b++)
                    if (rec_f64(r, qidx[b], &st->q[i * (size_t)A + (size_t)b], e) < 0)
                        goto out;
        }
        double *rr = st->r + i * (size_t)O, wsum = 0;
        for (int j = 0; j < R; j++) {
            if (rec_f64(r, ridx[j], &rr[j], e) < 0)
                goto out;
            if (wts)
                wsum += wts[j] * rr[j];
        }
        if (O > R)
            rr[R] = wsum;
        for (int j = 0; j < M; j++)
            if (rec_f64(r, midx[j], &st->x[i * (size_t)M + (size_t)j], e) < 0)
                goto out;
        st->n++;
        if ((++rows & 4095) == 0)
            cli_progress_update(&prog, (double)rows);
    }
    if (got < 0)
        goto out;
    if (rows == 0) {
        err_set(e, "%s: no transitions", path);
        goto out;
    }
    store_close_episode(st, ep_start);
    if (fit_and_flush(&rs, e) < 0)
        goto out;
    cli_progress_end(&prog);
    if (ope_acc_finish(rs.acc, &rep->res, &rep->nres, e) < 0)
        goto out;
    rep->episodes = ope_acc_episodes(rs.acc);
    rep->rows = rows;
    rep->n_actions = A;
    rep->nmarg = M;
    rep->bytes = ope_acc_bytes(rs.acc);
    rep->nbins = ope_acc_nbins(rs.acc);
    rc = 0;
out:
    cli_progress_end(&prog);
    if (have_group)
        rec_group_free(&g);
    rec_close(r);
    ope_acc_free(rs.acc);
    store_free(&rs.st);
    arena_free(&rs.ar);
    free(rs.qf);
    free(rs.pif);
    free(ridx);
    free(pidx);
    free(qidx);
    free(midx);
    free(sidx);
    free(wts);
    qlearn_weights_free(&qw);
    if (rc < 0)
        ope_report_free(rep);
    return rc;
}

void ope_report_free(ope_report *rep)
{
    if (rep->obj_names)
        for (int j = 0; j < rep->nobj; j++)
            free(rep->obj_names[j]);
    free(rep->obj_names);
    free(rep->res);
    memset(rep, 0, sizeof *rep);
}
