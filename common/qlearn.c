/*
 * qlearn.c - transitions, the Q-network, the Double DQN + CQL(H) loss and
 * its gradient, training, model files and policies.  See qlearn.h for the
 * design and the equations; policy-act's streaming is in qlearn_act.c.
 *
 * Implementation notes:
 * - States are kept raw and standardised per minibatch, in the same
 *   function (standardize) that policy-act uses, so training and serving
 *   compute the same network input bit for bit.
 * - A minibatch slice first forms the targets (online and target forward
 *   passes over the next states of its non-terminal rows only, scratch
 *   released), then the forward pass over its states, the loss and the
 *   gradient with respect to Q(s, .), and one backward pass.
 * - Targets, losses, the logsumexp and softmax are computed in double;
 *   dL/dQ is rounded to float once per entry.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qlearn.h"
#include "cli.h"
#include "nn_optim.h"
#include "pool.h"
#include "rec.h"
#include "rng.h"
#include "ckpt.h"
#include "banned.h"

/* ---- reward weights ---- */

void qlearn_weights_free(qlearn_weights *w)
{
    for (int i = 0; w->names && i < w->n; i++)
        free(w->names[i]);
    free(w->names);
    free(w->w);
    memset(w, 0, sizeof *w);
}

int qlearn_weights_parse(const char *spec, qlearn_weights *out, errctx *e)
{
    memset(out, 0, sizeof *out);
    if (*spec == '\0')
        return err_set(e, "empty weight list (want NAME=WEIGHT,...)");
    int cap = 0;
    const char *p = spec;
    for (;;) {
        const char *end = strchr(p, ',');
        if (!end)
            end = p + strlen(p);
        const char *eq = memchr(p, '=', (size_t)(end - p));
        if (!eq || eq == p) {
            err_set(e, "'%.*s': want NAME=WEIGHT", (int)(end - p > 100 ? 100 : end - p), p);
            goto fail;
        }
        char *name = xstrndup(p, (size_t)(eq - p));
        char *num = xstrndup(eq + 1, (size_t)(end - eq - 1));
        double v;
        errctx why;
        int bad = rec_parse_f64(num, strlen(num), &v, &why) < 0;
        free(num);
        if (bad) {
            err_set(e, "weight of '%s': %s", name, why.msg);
            free(name);
            goto fail;
        }
        for (int i = 0; i < out->n; i++)
            if (strcmp(out->names[i], name) == 0) {
                err_set(e, "'%s' is weighted twice", name);
                free(name);
                goto fail;
            }
        if (out->n == cap) {
            cap = cap ? 2 * cap : 8;
            out->names = xrealloc(out->names, (size_t)cap * sizeof *out->names);
            out->w = xrealloc(out->w, (size_t)cap * sizeof *out->w);
        }
        out->names[out->n] = name;
        out->w[out->n++] = v;
        if (*end == '\0')
            return 0;
        p = end + 1;
    }
fail:
    qlearn_weights_free(out);
    return -1;
}

/* ---- transitions ---- */

void qlearn_colspec_defaults(qlearn_colspec *spec)
{
    spec->episode = "episode";
    spec->time = "t";
    spec->action = "action";
    spec->propensity = "propensity";
    spec->states = "s_*";
    spec->rewards = "r_*";
    spec->dt = "dt";
    spec->dt_required = 0;
}

static void data_reserve(qlearn_data *d, size_t n)
{
    if (n <= d->cap)
        return;
    size_t cap = d->cap ? 2 * d->cap : 4096;
    while (cap < n)
        cap *= 2;
    d->s = xrealloc(d->s, cap * (size_t)d->s_dim * sizeof(float));
    d->a = xrealloc(d->a, cap * sizeof(int32_t));
    d->r = xrealloc(d->r, cap * sizeof(float));
    d->dt = xrealloc(d->dt, cap * sizeof(float));
    d->done = xrealloc(d->done, cap);
    d->cap = cap;
}

void qlearn_data_free(qlearn_data *d)
{
    for (int i = 0; d->state_names && i < d->s_dim; i++)
        free(d->state_names[i]);
    for (int i = 0; d->reward_names && i < d->n_rewards; i++)
        free(d->reward_names[i]);
    free(d->state_names);
    free(d->reward_names);
    free(d->weights);
    free(d->episode_col);
    free(d->time_col);
    free(d->action_col);
    free(d->propensity_col);
    free(d->dt_col);
    free(d->s);
    free(d->a);
    free(d->r);
    free(d->dt);
    free(d->done);
    memset(d, 0, sizeof *d);
}

/* "a, b, c" of the names of columns idx[0..n), cut to fit buf. */
static void list_names(const rec_reader *r, const int *idx, int n, char *buf, size_t len)
{
    size_t at = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && at + 1 < len; i++) {
        int k = snprintf(buf + at, len - at, "%s%s", i ? ", " : "", rec_colname(r, idx[i]));
        if (k < 0 || (size_t)k >= len - at) {
            snprintf(buf + (len > 4 ? len - 4 : 0), len > 4 ? 4 : len, "...");
            return;
        }
        at += (size_t)k;
    }
}

/* A column selected twice (by a name and a glob, say) would count twice. */
static int check_distinct(const rec_reader *r, const int *idx, int n, const char *opt, errctx *e)
{
    for (int i = 0; i < n; i++)
        for (int j = 0; j < i; j++)
            if (idx[i] == idx[j])
                return err_set(e, "%s: %s selects column '%s' twice", rec_path(r), opt, rec_colname(r, idx[i]));
    return 0;
}

static char **names_of(const rec_reader *r, const int *idx, int n)
{
    char **out = xcalloc((size_t)n + 1, sizeof *out);
    for (int i = 0; i < n; i++)
        out[i] = xstrdup(rec_colname(r, idx[i]));
    return out;
}

/* The text of a field for a message, at most 40 bytes. */
static int field_text(rec_reader *r, int col, const char **s)
{
    size_t len;
    *s = rec_str(r, col, &len);
    return (int)(len > 40 ? 40 : len);
}

uint64_t qlearn_data_hash(const qlearn_data *d)
{
    uint64_t h = ckpt_hash(&d->n, sizeof d->n, 1);
    h = ckpt_hash(d->s, d->n * (size_t)d->s_dim * sizeof *d->s, h);
    h = ckpt_hash(d->a, d->n * sizeof *d->a, h);
    h = ckpt_hash(d->r, d->n * sizeof *d->r, h);
    h = ckpt_hash(d->dt, d->n * sizeof *d->dt, h);
    return ckpt_hash(d->done, d->n * sizeof *d->done, h);
}

/* The checkpoint of qlearn_train after `step` steps: with the target
 * network. */
static int write_checkpoint(const ckpt_cfg *ck, const nn_params *P, const nn_optim *o, const float *wt, long long step,
                            errctx *e)
{
    return ckpt_save_params(ck, P, o, 0, step, "target.", wt, e);
}

/* Restore a checkpoint into P, o and wt; *first = the next step. */
static int read_checkpoint(const ckpt_cfg *ck, nn_params *P, nn_optim *o, float *wt, long long steps, long long *first,
                           errctx *e)
{
    long long epoch, pos;
    if (ckpt_load_params(ck, P, o, "target.", wt, &epoch, &pos, e) < 0)
        return -1;
    if (pos < 0 || pos >= steps)
        return err_set(e, "metadata 'checkpoint.pos': %lld is outside 0 .. %lld", pos, steps - 1);
    *first = pos + 1;
    return 0;
}

int qlearn_data_load(qlearn_data *d, const char *path, const qlearn_colspec *spec,
                     const qlearn_weights *weights, int n_actions, errctx *e)
{
    memset(d, 0, sizeof *d);
    d->n_actions = n_actions;
    int *sidx = NULL, *ridx = NULL, have_group = 0, rc = -1;
    rec_group g;
    cli_progress prog;
    memset(&prog, 0, sizeof prog);
    rec_reader *r = rec_open(path, e);
    if (!r)
        return -1;
    int ep, tcol, acol, pcol, dtcol;
    if ((ep = rec_col(r, spec->episode, e)) < 0 || (tcol = rec_col(r, spec->time, e)) < 0 ||
        (acol = rec_col(r, spec->action, e)) < 0 || (pcol = rec_col(r, spec->propensity, e)) < 0)
        goto out;
    dtcol = spec->dt ? rec_find(r, spec->dt) : -1;
    if (dtcol < 0 && spec->dt_required) {
        rec_col(r, spec->dt, e);
        goto out;
    }
    int S = rec_select(r, spec->states, &sidx, e);
    if (S < 0 || check_distinct(r, sidx, S, "--states", e) < 0)
        goto out;
    int R = rec_select(r, spec->rewards, &ridx, e);
    if (R < 0 || check_distinct(r, ridx, R, "--rewards", e) < 0)
        goto out;
    d->s_dim = S;
    d->n_rewards = R;
    d->state_names = names_of(r, sidx, S);
    d->reward_names = names_of(r, ridx, R);
    d->weights = xcalloc((size_t)R, sizeof *d->weights);
    if (weights && weights->n > 0) {
        for (int k = 0; k < weights->n; k++) {
            int j = 0;
            while (j < R && strcmp(d->reward_names[j], weights->names[k]) != 0)
                j++;
            if (j == R) {
                char cols[600];
                list_names(r, ridx, R, cols, sizeof cols);
                err_set(e, "%s: --weights names '%s', which is not a reward column (reward columns: %s)",
                        rec_path(r), weights->names[k], cols);
                goto out;
            }
            d->weights[j] = weights->w[k];
        }
    } else {
        for (int j = 0; j < R; j++)
            d->weights[j] = 1;
    }
    d->episode_col = xstrdup(rec_colname(r, ep));
    d->time_col = xstrdup(rec_colname(r, tcol));
    d->action_col = xstrdup(rec_colname(r, acol));
    d->propensity_col = xstrdup(rec_colname(r, pcol));
    d->dt_col = dtcol >= 0 ? xstrdup(rec_colname(r, dtcol)) : NULL;

    rec_group_init(&g, ep);
    have_group = 1;
    double prev_t = 0;
    int got;
    cli_progress_start(&prog, "rows read", 0);
    while ((got = rec_next(r, e)) == 1) {
        int step = rec_group_step(&g, r, e);
        if (step < 0)
            goto out;
        double t;
        if (rec_f64(r, tcol, &t, e) < 0)
            goto out;
        if (step == 1) {
            if (d->n)
                d->done[d->n - 1] = 1;
            d->nepisodes++;
        } else if (!(t > prev_t)) {
            const char *s;
            int len = field_text(r, tcol, &s);
            char prev[40];
            rec_format_f64(prev, sizeof prev, prev_t);
            size_t klen;
            const char *key = rec_group_key(&g, &klen);
            rec_error(r, tcol, e, "must increase within episode '%.*s': %.*s follows %s", (int)(klen > 100 ? 100 : klen),
                      key, len, s, prev);
            goto out;
        }
        prev_t = t;
        data_reserve(d, d->n + 1);
        size_t i = d->n;
        float *s = d->s + i * (size_t)S;
        for (int j = 0; j < S; j++)
            if (rec_f32(r, sidx[j], &s[j], e) < 0)
                goto out;
        int64_t a;
        if (rec_i64(r, acol, &a, e) < 0)
            goto out;
        if (a < 0 || a >= n_actions) {
            rec_error(r, acol, e, "action %lld is outside 0..%d (--actions %d)", (long long)a, n_actions - 1,
                      n_actions);
            goto out;
        }
        double prop;
        if (rec_f64(r, pcol, &prop, e) < 0)
            goto out;
        if (!(prop > 0 && prop <= 1)) {
            const char *txt;
            int len = field_text(r, pcol, &txt);
            rec_error(r, pcol, e, "a propensity must be in (0, 1], not '%.*s'", len, txt);
            goto out;
        }
        double rw = 0;
        for (int j = 0; j < R; j++) {
            double v;
            if (rec_f64(r, ridx[j], &v, e) < 0)
                goto out;
            rw += d->weights[j] * v;
        }
        if (!(fabs(rw) <= FLT_MAX)) {
            rec_error(r, -1, e, "the weighted reward %g is beyond the range of a 32-bit float", rw);
            goto out;
        }
        float dt = 1;
        if (dtcol >= 0) {
            double v;
            if (rec_f64(r, dtcol, &v, e) < 0)
                goto out;
            dt = (float)v;
            if (!(dt > 0) || isinf(dt)) {
                const char *txt;
                int len = field_text(r, dtcol, &txt);
                rec_error(r, dtcol, e, "dt must be a positive 32-bit float, not '%.*s'", len, txt);
                goto out;
            }
        }
        d->a[i] = (int32_t)a;
        d->r[i] = (float)rw;
        d->dt[i] = dt;
        d->done[i] = 0;
        d->n++;
        if ((d->n & 4095) == 0)
            cli_progress_update(&prog, (double)d->n);
    }
    if (got < 0)
        goto out;
    if (d->n == 0) {
        err_set(e, "%s: no transitions", rec_path(r));
        goto out;
    }
    d->done[d->n - 1] = 1;
    rc = 0;
out:
    cli_progress_end(&prog);
    if (have_group)
        rec_group_free(&g);
    free(sidx);
    free(ridx);
    rec_close(r);
    if (rc < 0)
        qlearn_data_free(d);
    return rc;
}

/* ---- the model ---- */

int qlearn_model_init(qlearn_model *qm, int s_dim, const char *const *state_names, int n_actions,
                      const char *hidden, nn_act act, errctx *e)
{
    memset(qm, 0, sizeof *qm);
    if (s_dim < 1)
        return err_set(e, "no state features");
    if (n_actions < 1 || n_actions > QLEARN_MAX_ACTIONS)
        return err_set(e, "%d actions (want 1 to %d)", n_actions, QLEARN_MAX_ACTIONS);
    if (strlen(hidden) >= sizeof qm->hidden)
        return err_set(e, "hidden layers '%.40s...': spec too long", hidden);
    snprintf(qm->hidden, sizeof qm->hidden, "%s", hidden);
    qm->s_dim = s_dim;
    qm->n_actions = n_actions;
    qm->act = act;
    nn_params_init(&qm->P);
    if (nn_mlp_init(&qm->net, &qm->P, "q", s_dim, hidden, n_actions, act, e) < 0) {
        nn_params_free(&qm->P);
        return -1;
    }
    nn_params_alloc(&qm->P);
    qm->state_names = xcalloc((size_t)s_dim + 1, sizeof *qm->state_names);
    for (int i = 0; i < s_dim; i++)
        qm->state_names[i] = xstrdup(state_names[i]);
    qm->norm_mean = xcalloc((size_t)s_dim, sizeof(float));
    qm->norm_std = xmalloc((size_t)s_dim * sizeof(float));
    for (int i = 0; i < s_dim; i++)
        qm->norm_std[i] = 1;
    return 0;
}

void qlearn_model_init_weights(qlearn_model *qm, uint64_t seed)
{
    rng r;
    rng_init(&r, seed, 0);
    nn_mlp_init_weights(&qm->net, qm->P.w + qm->net.offset, &r);
}

void qlearn_model_free(qlearn_model *qm)
{
    nn_params_free(&qm->P);
    for (int i = 0; qm->state_names && i < qm->s_dim; i++)
        free(qm->state_names[i]);
    free(qm->state_names);
    free(qm->norm_mean);
    free(qm->norm_std);
    model_free(qm->file);
    memset(qm, 0, sizeof *qm);
}

void qlearn_fit_norm(qlearn_model *qm, const qlearn_data *d)
{
    int S = qm->s_dim;
    for (int j = 0; j < S; j++) {
        double sum = 0;
        for (size_t i = 0; i < d->n; i++)
            sum += d->s[i * (size_t)S + (size_t)j];
        double mean = d->n ? sum / (double)d->n : 0, ss = 0;
        for (size_t i = 0; i < d->n; i++) {
            double dev = d->s[i * (size_t)S + (size_t)j] - mean;
            ss += dev * dev;
        }
        double sd = d->n ? sqrt(ss / (double)d->n) : 0;
        qm->norm_mean[j] = (float)mean;
        qm->norm_std[j] = sd > 0 && (float)sd > 0 ? (float)sd : 1.0f;
    }
}

/* x (1, S) = (s - mean) / std: the network input, in training and serving. */
static void standardize(const qlearn_model *qm, const float *s, float *x)
{
    for (int j = 0; j < qm->s_dim; j++)
        x[j] = (s[j] - qm->norm_mean[j]) / qm->norm_std[j];
}

int qlearn_argmax(const float *q, int n)
{
    int best = 0;
    for (int a = 1; a < n; a++)
        if (q[a] > q[best])
            best = a;
    return best;
}

size_t qlearn_q_bytes(const qlearn_model *qm, int n)
{
    size_t rows = (size_t)(n > 0 ? n : 1);
    return arena_round(rows * (size_t)qm->s_dim * sizeof(float)) + nn_mlp_cache_bytes(&qm->net, (int)rows, 0) +
           ARENA_ALIGN;
}

void qlearn_q(const qlearn_model *qm, const float *w, const float *s, int n, float *q, arena *A)
{
    if (n <= 0)
        return;
    size_t mark = arena_mark(A);
    int S = qm->s_dim;
    float *x = arena_floats(A, (size_t)n * (size_t)S);
    for (int i = 0; i < n; i++)
        standardize(qm, s + (size_t)i * S, x + (size_t)i * S);
    nn_mlp_cache c;
    const float *out = nn_mlp_forward(&qm->net, w + qm->net.offset, x, n, &c, A);
    memcpy(q, out, (size_t)n * (size_t)qm->n_actions * sizeof(float));
    arena_release(A, mark);
}

/* ---- the loss of a minibatch ---- */

size_t qlearn_loss_bytes(const qlearn_model *qm, int n)
{
    size_t rows = (size_t)(n > 0 ? n : 1), S = (size_t)qm->s_dim, na = (size_t)qm->n_actions;
    return arena_round(rows * sizeof(double)) +       /* y */
           arena_round(rows * S * sizeof(float)) +    /* next states */
           arena_round(rows * sizeof(int)) +          /* a* */
           nn_mlp_cache_bytes(&qm->net, (int)rows, 0) + /* one next-state pass at a time */
           arena_round(rows * S * sizeof(float)) +    /* states */
           nn_mlp_cache_bytes(&qm->net, (int)rows, 0) + /* kept for backward */
           arena_round(rows * na * sizeof(float)) +   /* dL/dQ */
           nn_mlp_backward_bytes(&qm->net, (int)rows, 0) + 4 * ARENA_ALIGN;
}

double qlearn_loss(const qlearn_model *qm, const qlearn_loss_cfg *lc, const float *w, const float *wt,
                   const qlearn_data *d, const size_t *idx, int n, double scale, float *g,
                   qlearn_stats *st, arena *A)
{
    qlearn_stats sums;
    memset(&sums, 0, sizeof sums);
    if (n <= 0) {
        if (st)
            *st = sums;
        return 0;
    }
    size_t mark = arena_mark(A);
    int S = qm->s_dim, na = qm->n_actions;
    const nn_mlp *net = &qm->net;
    const float *wn = w + net->offset, *wtn = wt + net->offset;

    /* targets y_i = r_i + gamma^dt_i (1 - done_i) Q(s'_i, a*_i; theta') */
    double *y = arena_doubles(A, (size_t)n);
    float *xn = arena_floats(A, (size_t)n * (size_t)S); /* (m, S) */
    int m = 0;
    for (int i = 0; i < n; i++) {
        size_t k = idx[i];
        y[i] = d->r[k];
        if (!d->done[k])
            standardize(qm, d->s + (k + 1) * (size_t)S, xn + (size_t)m++ * S);
    }
    if (m > 0) {
        int *astar = arena_alloc(A, (size_t)m * sizeof(int));
        size_t pass = arena_mark(A);
        nn_mlp_cache c;
        const float *qn = nn_mlp_forward(net, wn, xn, m, &c, A); /* (m, A) online */
        for (int j = 0; j < m; j++)
            astar[j] = qlearn_argmax(qn + (size_t)j * na, na);
        arena_release(A, pass);
        const float *qt = nn_mlp_forward(net, wtn, xn, m, &c, A); /* (m, A) target */
        int j = 0;
        double last_dt = 1, disc = lc->gamma; /* gamma^dt: dt repeats (mostly 1) */
        for (int i = 0; i < n; i++) {
            size_t k = idx[i];
            if (d->done[k])
                continue;
            if (d->dt[k] != last_dt) {
                last_dt = d->dt[k];
                disc = pow(lc->gamma, last_dt);
            }
            y[i] += disc * qt[(size_t)j * na + astar[j]];
            j++;
        }
        arena_release(A, pass);
    }

    /* Q(s, .) and dL/dQ */
    float *x = arena_floats(A, (size_t)n * (size_t)S);
    for (int i = 0; i < n; i++)
        standardize(qm, d->s + idx[i] * (size_t)S, x + (size_t)i * S);
    nn_mlp_cache c;
    const float *q = nn_mlp_forward(net, wn, x, n, &c, A); /* (n, A) */
    float *dq = g ? arena_floats(A, (size_t)n * (size_t)na) : NULL;
    double total = 0;
    for (int i = 0; i < n; i++) {
        const float *qi = q + (size_t)i * na;
        int a = d->a[idx[i]];
        double z = qi[a];
        double td = nn_loss_value(&lc->loss, z, y[i]);
        double lse = nn_logsumexp(qi, (size_t)na);
        double gap = lse - z;
        total += td + lc->alpha * gap;
        sums.td += td;
        sums.gap += gap;
        sums.q += z;
        if (dq) {
            double d1 = nn_loss_d1(&lc->loss, z, y[i]);
            for (int b = 0; b < na; b++) {
                double v = lc->alpha > 0 ? lc->alpha * (exp(qi[b] - lse) - (b == a)) : 0;
                if (b == a)
                    v += d1;
                dq[(size_t)i * na + b] = (float)(scale * v);
            }
        }
    }
    sums.rows = n;
    sums.next_rows = m;
    if (g)
        nn_mlp_backward(net, wn, &c, dq, NULL, g + net->offset, A);
    arena_release(A, mark);
    if (st)
        *st = sums;
    return scale * total;
}

/* ---- training ---- */

typedef struct train_ctx {
    const qlearn_model *qm;
    const qlearn_loss_cfg *lc;
    const float *w, *wt;
    const qlearn_data *d;
    const size_t *idx; /* (batch) */
    int batch;
    qlearn_stats st[QLEARN_SHARDS];
} train_ctx;

static double train_shard(void *ctx, int shard, float *grad, pool_worker *wk)
{
    train_ctx *c = ctx;
    int lo = (int)((long long)c->batch * shard / QLEARN_SHARDS);
    int hi = (int)((long long)c->batch * (shard + 1) / QLEARN_SHARDS);
    return qlearn_loss(c->qm, c->lc, c->w, c->wt, c->d, c->idx + lo, hi - lo, 1.0 / c->batch, grad, &c->st[shard],
                       &wk->arena);
}

int qlearn_train(qlearn_model *qm, const qlearn_data *d, const qlearn_train_cfg *tc,
                 qlearn_train_result *res, errctx *e)
{
    memset(res, 0, sizeof *res);
    if (d->n == 0)
        return err_set(e, "no transitions");
    if (d->s_dim != qm->s_dim)
        return err_set(e, "the data have %d state features, the model %d", d->s_dim, qm->s_dim);
    if (tc->batch < 1 || tc->steps < 1)
        return err_set(e, "batch and steps must be positive");
    qlearn_fit_norm(qm, d);
    int B = tc->batch, per = (B + QLEARN_SHARDS - 1) / QLEARN_SHARDS;
    nn_params *P = &qm->P;
    /* more threads than slices would idle */
    int threads = tc->threads < QLEARN_SHARDS ? tc->threads : QLEARN_SHARDS;
    pool *p = pool_new(threads, qlearn_loss_bytes(qm, per), QLEARN_SHARDS, P->n_dense, e);
    if (!p)
        return -1;
    nn_optim o;
    nn_optim_defaults(&o, NN_OPT_ADAM, tc->lr);
    nn_optim_attach(&o, P);
    float *wt = xmalloc(P->n * sizeof(float));
    memcpy(wt, P->w, P->n * sizeof(float));
    size_t *idx = xmalloc((size_t)B * sizeof *idx);
    train_ctx c;
    memset(&c, 0, sizeof c);
    c.qm = qm;
    c.lc = &tc->lc;
    c.w = P->w;
    c.wt = wt;
    c.d = d;
    c.idx = idx;
    c.batch = B;
    /* useful FLOPs: a forward pass costs F a row; Q(s) with its gradient
     * 3F, the online and target passes over s' 2F */
    double F = 0, flops = 0;
    for (int l = 0; l < qm->net.nlayers; l++)
        F += 2.0 * qm->net.dims[l] * qm->net.dims[l + 1];
    long long log_every = tc->log_every > 0 ? tc->log_every : (tc->steps >= 10 ? tc->steps / 10 : 1);
    double tau = tc->tau;
    qlearn_stats win;
    memset(&win, 0, sizeof win);
    int rc = -1;
    double t0 = cli_now(), t_last = t0;
    /* one progress bar per log period, ended before its report line */
    long long period_start = 0;
    cli_progress prog;
    memset(&prog, 0, sizeof prog);
    long long first = 1;
    const ckpt_cfg *ck = tc->ckpt;
    if (ck && ck->resume) {
        if (read_checkpoint(ck, P, &o, wt, tc->steps, &first, e) < 0)
            goto out;
        cli_info("resuming at step %lld of %lld", first, tc->steps);
        period_start = (first - 1) / log_every * log_every;
    }
    cli_progress_start(&prog, "steps", (double)(log_every < tc->steps ? log_every : tc->steps));
    for (long long step = first; step <= tc->steps; step++) {
        rng r;
        rng_init(&r, tc->seed, QLEARN_STREAM_BATCH + (uint64_t)step);
        for (int i = 0; i < B; i++)
            idx[i] = (size_t)rng_below(&r, d->n);
        nn_params_zero_grad(P);
        double loss = 0;
        if (pool_run(p, QLEARN_SHARDS, train_shard, &c, P->g, &loss, e) < 0)
            goto out;
        for (int s = 0; s < QLEARN_SHARDS; s++) {
            win.td += c.st[s].td;
            win.gap += c.st[s].gap;
            win.q += c.st[s].q;
            win.rows += c.st[s].rows;
            win.next_rows += c.st[s].next_rows;
            flops += 3 * F * (double)c.st[s].rows + 2 * F * (double)c.st[s].next_rows;
        }
        if (!isfinite(loss)) {
            err_set(e, "training diverged: the loss is %g at step %lld; no model written", loss, step);
            goto out;
        }
        double norm = nn_clip_grad_norm(P, tc->clip);
        if (!isfinite(norm)) {
            err_set(e, "training diverged: the gradient norm is %g at step %lld; no model written", norm, step);
            goto out;
        }
        nn_optim_step(&o, P);
        if (tau > 0) {
            for (size_t k = 0; k < P->n; k++)
                wt[k] = (float)(tau * P->w[k] + (1 - tau) * wt[k]);
        } else if (step % tc->target_every == 0) {
            memcpy(wt, P->w, P->n * sizeof(float));
        }
        if (ck && ck->path && step < tc->steps &&
            (ckpt_stop_signal() || (ck->every > 0 && step % ck->every == 0))) {
            if (write_checkpoint(ck, P, &o, wt, step, e) < 0)
                goto out;
            if (ckpt_stop_signal()) {
                cli_progress_end(&prog);
                cli_info("stopped by signal %d after step %lld of %lld: checkpoint written to %s (continue with "
                         "--resume %s)",
                         ckpt_stop_signal(), step, tc->steps, ck->path, ck->path);
                rc = CKPT_STOPPED;
                goto out;
            }
        }
        cli_progress_update(&prog, (double)(step - period_start));
        if (step % log_every == 0 || step == tc->steps) {
            double nr = win.rows ? (double)win.rows : 1, now = cli_now();
            res->td = win.td / nr;
            res->gap = win.gap / nr;
            res->q = win.q / nr;
            cli_progress_end(&prog);
            cli_info("step %lld/%lld: td loss %.6g, cql gap %.6g, mean q %.6g (%.1f s)", step, tc->steps, res->td,
                     res->gap, res->q, now - t_last);
            t_last = now;
            memset(&win, 0, sizeof win);
            period_start = step;
            if (step < tc->steps) {
                long long left = tc->steps - step;
                cli_progress_start(&prog, "steps", (double)(log_every < left ? log_every : left));
            }
        }
    }
    for (size_t k = 0; k < P->n; k++)
        if (!isfinite(P->w[k])) {
            err_set(e, "training diverged: weight %zu is not finite after step %lld; no model written", k,
                    tc->steps);
            goto out;
        }
    res->seconds = cli_now() - t0;
    if (res->seconds > 0) {
        res->transitions_per_s = (double)tc->steps * B / res->seconds;
        res->gflops = flops / res->seconds / 1e9;
        cli_info("throughput: %.0f transitions/s, %.2f GFLOP/s of useful work (estimated: 3F for Q(s) and its "
                 "gradient, 2F for Q(s') online and target, F = %.0f a row)",
                 res->transitions_per_s, res->gflops, F);
    }
    rc = 0;
out:
    cli_progress_end(&prog); /* a no-op unless a failure left it drawn */
    free(wt);
    free(idx);
    pool_free(p);
    return rc;
}

/* ---- model files ---- */

/* "r_visit=1,r_send=-0.05" for every reward column. */
static char *weights_string(const qlearn_data *d)
{
    size_t len = 1;
    for (int j = 0; j < d->n_rewards; j++)
        len += strlen(d->reward_names[j]) + 40;
    char *out = xmalloc(len), *p = out;
    *p = '\0';
    for (int j = 0; j < d->n_rewards; j++) {
        char num[40];
        rec_format_f64(num, sizeof num, d->weights[j]);
        p += snprintf(p, len - (size_t)(p - out), "%s%s=%s", j ? "," : "", d->reward_names[j], num);
    }
    return out;
}

model *qlearn_model_to_file(const qlearn_model *qm, const qlearn_data *d, const qlearn_train_cfg *tc,
                            errctx *e)
{
    model *m = model_new("qnet", 1);
    model_meta_set_columns(m, "columns", qm->s_dim, (const char *const *)qm->state_names);
    model_meta_set_int(m, "actions", qm->n_actions);
    model_meta_set(m, "hidden", qm->hidden);
    model_meta_set(m, "activation", nn_act_name(qm->act));
    if (d) {
        model_meta_set(m, "episode_column", d->episode_col);
        model_meta_set(m, "time_column", d->time_col);
        model_meta_set(m, "action_column", d->action_col);
        model_meta_set(m, "propensity_column", d->propensity_col);
        if (d->dt_col)
            model_meta_set(m, "dt_column", d->dt_col);
        model_meta_set_columns(m, "rewards", d->n_rewards, (const char *const *)d->reward_names);
        char *ws = weights_string(d);
        model_meta_set(m, "weights", ws);
        free(ws);
        model_meta_set_int(m, "transitions", (long long)d->n);
        model_meta_set_int(m, "episodes", (long long)d->nepisodes);
    }
    if (tc) {
        model_meta_set_double(m, "gamma", tc->lc.gamma);
        model_meta_set(m, "loss", nn_loss_name(&tc->lc.loss));
        if (tc->lc.loss.kind == NN_LOSS_HUBER)
            model_meta_set_double(m, "huber_delta", tc->lc.loss.delta);
        model_meta_set_double(m, "alpha", tc->lc.alpha);
        model_meta_set_double(m, "lr", tc->lr);
        model_meta_set_double(m, "clip", tc->clip);
        model_meta_set_int(m, "steps", tc->steps);
        model_meta_set_int(m, "batch", tc->batch);
        if (tc->tau > 0) {
            model_meta_set(m, "target_update", "polyak");
            model_meta_set_double(m, "tau", tc->tau);
        } else {
            model_meta_set(m, "target_update", "copy");
            model_meta_set_int(m, "target_every", tc->target_every);
        }
        model_meta_set_int(m, "seed", (long long)tc->seed);
    }
    if (nn_params_save(&qm->P, m, e) < 0) {
        model_free(m);
        return NULL;
    }
    int64_t shape[1] = {qm->s_dim};
    if (!model_add(m, "norm.mean", 1, shape, qm->norm_mean) || !model_add(m, "norm.std", 1, shape, qm->norm_std)) {
        model_free(m);
        err_set(e, "cannot add the standardisation tensors to the model");
        return NULL;
    }
    return m;
}

int qlearn_model_load(qlearn_model *qm, const char *path, errctx *e)
{
    memset(qm, 0, sizeof *qm);
    model *m = model_read(path, "qnet", 1, e);
    if (!m)
        return -1;
    int S = 0;
    char **names = model_meta_columns(m, "columns", &S, e);
    long long A;
    nn_act act;
    const char *hidden = model_meta_get(m, "hidden"), *acts = model_meta_get(m, "activation");
    if (!names || model_meta_int(m, "actions", &A, e) < 0)
        goto prefix_fail;
    if (!hidden || !acts || nn_act_parse(acts, &act, e) < 0) {
        err_set(e, "model metadata lacks a valid 'hidden' or 'activation'");
        goto prefix_fail;
    }
    if (A < 1 || A > QLEARN_MAX_ACTIONS) {
        err_set(e, "metadata 'actions': %lld (want 1 to %d)", A, QLEARN_MAX_ACTIONS);
        goto prefix_fail;
    }
    if (qlearn_model_init(qm, S, (const char *const *)names, (int)A, hidden, act, e) < 0 ||
        nn_params_load(&qm->P, m, e) < 0)
        goto prefix_fail;
    model_tensor *mean = model_need(m, "norm.mean", (size_t)S, e), *sd = mean ? model_need(m, "norm.std", (size_t)S, e) : NULL;
    if (!sd)
        goto prefix_fail;
    for (int j = 0; j < S; j++) {
        if (!(sd->data[j] > 0)) {
            err_set(e, "tensor 'norm.std': entry %d is %g, not positive", j, sd->data[j]);
            goto prefix_fail;
        }
        qm->norm_mean[j] = mean->data[j];
        qm->norm_std[j] = sd->data[j];
    }
    for (int j = 0; j < S; j++)
        free(names[j]);
    free(names);
    qm->file = m;
    return 0;
prefix_fail:
    err_prefix(e, "%s", path);
    for (int j = 0; names && j < S; j++)
        free(names[j]);
    free(names);
    qlearn_model_free(qm);
    model_free(m);
    return -1;
}

/* ---- policies ---- */

int qlearn_policy_probs(const qlearn_policy *pol, const float *q, int n_actions, float *pi)
{
    int greedy = qlearn_argmax(q, n_actions);
    if (pol->softmax) {
        /* softmax((q - max q) / T): the shift makes every exponent <= 0, so
         * no T > 0 overflows; nn_softmax works in place */
        for (int a = 0; a < n_actions; a++)
            pi[a] = (float)(((double)q[a] - q[greedy]) / pol->temperature);
        nn_softmax(pi, (size_t)n_actions, pi);
    } else {
        double base = pol->epsilon / n_actions;
        for (int a = 0; a < n_actions; a++)
            pi[a] = (float)(base + (a == greedy ? 1 - pol->epsilon : 0));
    }
    return greedy;
}
