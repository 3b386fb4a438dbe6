/*
 * membersim.c - the member simulator (see membersim.h for the model, the
 * calibrations and the determinism contract; member-sim(1) for the
 * defaults and the reasons behind them).
 *
 * Layout of the work: membersim_new draws the world from its own stream
 * and solves three scales (meta-feature noise for the target R^2, A for
 * the personal-term variance, b for the click rate); membersim_member_gen
 * draws one member from stream (seed, index); membersim_write streams
 * members through a rec_writer.  Small dense linear algebra (at most
 * M x M, M <= 256) is done in double with a Cholesky factorisation.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "membersim.h"
#include "rng.h"
#include "banned.h"

#define SECONDS_PER_DAY 86400
#define N_CALIB 50000 /* Monte Carlo draws for the click-rate bias */

void membersim_defaults(membersim_cfg *c)
{
    memset(c, 0, sizeof *c);
    c->seed = 1;
    c->members = 20000;
    c->items = 2000;
    c->days = 30;
    c->latent_dim = 8;
    c->clusters = 10;
    c->within_sd = 0.7;
    c->meta_features = 8;
    c->meta_r2 = 0.5;
    c->features = 16;
    c->global_sd = 1.0;
    c->personal_sd = 1.0;
    c->drift = 0.13;
    c->click_rate = 0.15;
    c->popularity = 0.7;
    c->median_rows = 10;
    c->rows_sigma = 1.5;
    c->max_rows = 300;
    c->ts0 = 1700000000;
}

static double sigmoid(double z)
{
    return 1 / (1 + exp(-z));
}

/* Features are written with 4 decimals: compact text, one snprintf per
 * value, and the click model uses exactly the written values. */
static float round4(double v)
{
    return (float)(round(v * 1e4) / 1e4);
}

static double dot(const double *a, const double *b, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

/* ---- small dense linear algebra ---- */

/* In-place lower Cholesky factor of the symmetric (n, n) a; -1 if a is
 * not positive definite. */
static int cholesky(double *a, int n)
{
    for (int j = 0; j < n; j++) {
        double d = a[j * n + j];
        for (int k = 0; k < j; k++)
            d -= a[j * n + k] * a[j * n + k];
        if (!(d > 0))
            return -1;
        d = sqrt(d);
        a[j * n + j] = d;
        for (int i = j + 1; i < n; i++) {
            double v = a[i * n + j];
            for (int k = 0; k < j; k++)
                v -= a[i * n + k] * a[j * n + k];
            a[i * n + j] = v / d;
        }
    }
    return 0;
}

/* Solve L L' y = b in place (L from cholesky). */
static void chol_solve(const double *L, int n, double *b)
{
    for (int i = 0; i < n; i++) {
        double v = b[i];
        for (int k = 0; k < i; k++)
            v -= L[i * n + k] * b[k];
        b[i] = v / L[i * n + i];
    }
    for (int i = n - 1; i >= 0; i--) {
        double v = b[i];
        for (int k = i + 1; k < n; k++)
            v -= L[k * n + i] * b[k];
        b[i] = v / L[i * n + i];
    }
}

/* The meta-feature geometry: S = Cov(p(0)) (K, K), G = W S (M, K),
 * WSW = W S W' (M, M). */
typedef struct meta_geom {
    int K, M;
    const double *S;
    double *G, *WSW, *C, *col; /* C (M, M) scratch, col (M) */
    double trS;
} meta_geom;

/* R^2 of the best linear predictor of p(0) from m = W p(0) + sd N(0, I):
 * tr(G' C^-1 G) / tr S with C = WSW + sd^2 I; -1 if C is singular.  With
 * B non-NULL also store B = G' C^-1 (K, M). */
static double meta_r2_at(meta_geom *g, double sd, double *B)
{
    int K = g->K, M = g->M;
    memcpy(g->C, g->WSW, (size_t)M * M * sizeof *g->C);
    for (int j = 0; j < M; j++)
        g->C[j * M + j] += sd * sd;
    if (cholesky(g->C, M) < 0)
        return -1;
    double explained = 0;
    for (int k = 0; k < K; k++) {
        for (int j = 0; j < M; j++)
            g->col[j] = g->G[j * K + k];
        chol_solve(g->C, M, g->col); /* C^-1 g_k */
        for (int j = 0; j < M; j++) {
            explained += g->G[j * K + k] * g->col[j];
            if (B)
                B[k * M + j] = g->col[j]; /* C symmetric: (G' C^-1)_kj = (C^-1 g_k)_j */
        }
    }
    return explained / g->trS;
}

/* Solve the meta-feature noise for the target R^2, then scale W and the
 * noise so the m_j have unit average variance; store B. */
static int calibrate_meta(membersim *s, const double *S, errctx *e)
{
    const membersim_cfg *c = &s->cfg;
    int K = c->latent_dim, M = c->meta_features;
    meta_geom g = {.K = K, .M = M, .S = S};
    g.G = xcalloc((size_t)M * K, sizeof *g.G);
    g.WSW = xcalloc((size_t)M * M, sizeof *g.WSW);
    g.C = xcalloc((size_t)M * M, sizeof *g.C);
    g.col = xcalloc((size_t)M, sizeof *g.col);
    int rc = -1;
    g.trS = 0;
    for (int k = 0; k < K; k++)
        g.trS += S[k * K + k];
    if (!(g.trS > 1e-12)) {
        err_set(e, "--within-sd 0 with one cluster: members do not differ, so there is no taste to reveal");
        goto done;
    }
    for (int j = 0; j < M; j++)
        for (int k = 0; k < K; k++)
            g.G[j * K + k] = dot(s->W + (size_t)j * K, S + (size_t)k * K, K); /* S symmetric */
    double tr_wsw = 0;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < M; j++) {
            double v = 0;
            for (int k = 0; k < K; k++)
                v += g.G[i * K + k] * s->W[j * K + k];
            g.WSW[i * M + j] = v;
            if (i == j)
                tr_wsw += v;
        }
    double scale = sqrt(tr_wsw / M);
    double lo = 1e-4 * scale, hi = 1e4 * scale;
    double r2_max = meta_r2_at(&g, lo, NULL);
    if (r2_max < c->meta_r2) {
        err_set(e, "--meta-r2 %g cannot be reached with %d meta features for %d latent dimensions "
                   "(at most %.3f): lower --meta-r2 or raise --meta-features",
                c->meta_r2, M, K, r2_max);
        goto done;
    }
    /* R^2 falls as the noise grows: bisect on log sd */
    for (int it = 0; it < 100; it++) {
        double mid = sqrt(lo * hi);
        if (meta_r2_at(&g, mid, NULL) > c->meta_r2)
            lo = mid;
        else
            hi = mid;
    }
    double sd = sqrt(lo * hi);
    /* unit average variance of m: tr(W S W' + sd^2 I) / M = 1 */
    double f = 1 / sqrt((tr_wsw + M * sd * sd) / M);
    for (size_t i = 0; i < (size_t)M * K; i++) {
        s->W[i] *= f;
        g.G[i] *= f;
    }
    for (size_t i = 0; i < (size_t)M * M; i++)
        g.WSW[i] *= f * f;
    s->meta_noise_sd = sd * f;
    s->meta_r2 = meta_r2_at(&g, s->meta_noise_sd, s->meta_pred);
    rc = 0;
done:
    free(g.G);
    free(g.WSW);
    free(g.C);
    free(g.col);
    return rc;
}

static size_t pick_item(const membersim *s, double u)
{
    /* smallest i with cdf[i] > u */
    size_t lo = 0, hi = (size_t)s->cfg.items - 1;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->pop_cdf[mid] > u)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* b such that the mean of sigmoid(b + w.x_i + p.q_i) over members, days
 * (uniform) and items (by popularity) is the target click rate. */
static void calibrate_bias(membersim *s)
{
    const membersim_cfg *c = &s->cfg;
    int K = c->latent_dim, F = c->features;
    double *score = xmalloc(N_CALIB * sizeof *score);
    double *p = xmalloc((size_t)K * sizeof *p);
    rng r;
    rng_init(&r, c->seed, MEMBERSIM_STREAM_CALIB);
    for (int n = 0; n < N_CALIB; n++) {
        size_t cl = rng_categorical(&r, s->cluster_weight, (size_t)c->clusters);
        /* p(d) = p(0) + drift * (sum of d innovations) */
        double walk = c->drift * sqrt((double)rng_below(&r, (uint64_t)c->days));
        for (int k = 0; k < K; k++)
            p[k] = s->centre[cl * K + k] + c->within_sd * rng_normal(&r) + walk * rng_normal(&r);
        size_t i = pick_item(s, rng_uniform(&r));
        double g = 0;
        for (int f = 0; f < F; f++)
            g += s->w[f] * (double)s->x[i * F + f];
        score[n] = g + dot(p, s->q + i * K, K);
    }
    double lo = -50, hi = 50;
    for (int it = 0; it < 80; it++) {
        double mid = 0.5 * (lo + hi), mean = 0;
        for (int n = 0; n < N_CALIB; n++)
            mean += sigmoid(mid + score[n]);
        if (mean / N_CALIB < c->click_rate)
            lo = mid;
        else
            hi = mid;
    }
    s->bias = 0.5 * (lo + hi);
    free(score);
    free(p);
}

static int check_cfg(const membersim_cfg *c, errctx *e)
{
#define RANGE(v, lo, hi, name)                                                                     \
    if (!((v) >= (lo) && (v) <= (hi)))                                                             \
        return err_set(e, "%s must be in [%g, %g]", name, (double)(lo), (double)(hi));
    RANGE(c->members, 1, 1e9, "--members")
    RANGE(c->items, 1, 1e7, "--items")
    RANGE(c->days, 1, 3650, "--days")
    RANGE(c->latent_dim, 1, 64, "--latent-dim")
    RANGE(c->clusters, 1, 10000, "--clusters")
    RANGE(c->within_sd, 0, 10, "--within-sd")
    RANGE(c->meta_features, 1, 256, "--meta-features")
    RANGE(c->meta_r2, 0.01, 0.99, "--meta-r2")
    RANGE(c->features, 1, 1024, "--features")
    RANGE(c->global_sd, 0, 10, "--global-sd")
    RANGE(c->personal_sd, 0, 10, "--personal-sd")
    RANGE(c->drift, 0, 10, "--drift")
    RANGE(c->click_rate, 0.001, 0.999, "--click-rate")
    RANGE(c->popularity, 0, 5, "--popularity")
    RANGE(c->median_rows, 1, 1e6, "--median-rows")
    RANGE(c->rows_sigma, 0, 5, "--rows-sigma")
    RANGE(c->max_rows, 1, 1e6, "--max-rows")
#undef RANGE
    if (c->median_rows > c->max_rows)
        return err_set(e, "--median-rows %g is above --max-rows %d", c->median_rows, c->max_rows);
    return 0;
}

membersim *membersim_new(const membersim_cfg *cfg, errctx *e)
{
    if (check_cfg(cfg, e) < 0)
        return NULL;
    membersim *s = xcalloc(1, sizeof *s);
    s->cfg = *cfg;
    const membersim_cfg *c = &s->cfg;
    int K = c->latent_dim, C = c->clusters, M = c->meta_features, F = c->features, D = c->days;
    size_t I = (size_t)c->items;
    rng r;
    rng_init(&r, c->seed, MEMBERSIM_STREAM_WORLD);

    /* clusters: pi ~ Dirichlet(2), centres N(0, I) centred on the mixture
     * mean, so the population-average taste is zero and p.q is purely the
     * member's deviation from it (the average is absorbed into w). */
    s->cluster_weight = xcalloc((size_t)C, sizeof *s->cluster_weight);
    s->centre = xcalloc((size_t)C * K, sizeof *s->centre);
    double wsum = 0;
    for (int k = 0; k < C; k++)
        wsum += s->cluster_weight[k] = rng_gamma(&r, 2.0);
    for (int k = 0; k < C; k++)
        s->cluster_weight[k] /= wsum;
    for (size_t i = 0; i < (size_t)C * K; i++)
        s->centre[i] = rng_normal(&r);
    for (int k = 0; k < K; k++) {
        double mean = 0;
        for (int cl = 0; cl < C; cl++)
            mean += s->cluster_weight[cl] * s->centre[cl * K + k];
        for (int cl = 0; cl < C; cl++)
            s->centre[cl * K + k] -= mean;
    }
    /* S = Cov(p(0)) = sum_c pi_c mu_c mu_c' + within_sd^2 I */
    double *S = xcalloc((size_t)K * K, sizeof *S);
    for (int cl = 0; cl < C; cl++)
        for (int a = 0; a < K; a++)
            for (int b = 0; b < K; b++)
                S[a * K + b] += s->cluster_weight[cl] * s->centre[cl * K + a] * s->centre[cl * K + b];
    for (int k = 0; k < K; k++)
        S[k * K + k] += c->within_sd * c->within_sd;

    /* observed member features */
    s->W = xcalloc((size_t)M * K, sizeof *s->W);
    for (size_t i = 0; i < (size_t)M * K; i++)
        s->W[i] = rng_normal(&r) / sqrt((double)K);
    s->meta_pred = xcalloc((size_t)K * M, sizeof *s->meta_pred);
    if (calibrate_meta(s, S, e) < 0) {
        free(S);
        membersim_free(s);
        return NULL;
    }

    /* items: features, popularity, latent q = A x, global weights */
    s->x = xcalloc(I * F, sizeof *s->x);
    for (size_t i = 0; i < I * F; i++)
        s->x[i] = round4(rng_normal(&r));
    size_t *rank = xcalloc(I, sizeof *rank);
    for (size_t i = 0; i < I; i++)
        rank[i] = i;
    rng_shuffle(&r, rank, I, sizeof *rank);
    s->pop_cdf = xcalloc(I, sizeof *s->pop_cdf);
    double acc = 0;
    for (size_t i = 0; i < I; i++)
        s->pop_cdf[i] = acc += pow((double)(rank[i] + 1), -c->popularity);
    for (size_t i = 0; i < I; i++)
        s->pop_cdf[i] /= acc;
    s->pop_cdf[I - 1] = 1.0;
    free(rank);

    s->A = xcalloc((size_t)K * F, sizeof *s->A);
    for (size_t i = 0; i < (size_t)K * F; i++)
        s->A[i] = rng_normal(&r);
    /* Var_{u,t,i}(p.A x) = sum_f a_f' S2 a_f, a_f the f-th column of A,
     * S2 = E[p(t) p(t)'] = S + drift^2 (D-1)/2 I (t uniform over days). */
    double var_pers = 0, walk_var = c->drift * c->drift * (D - 1) / 2.0;
    for (int f = 0; f < F; f++)
        for (int a = 0; a < K; a++)
            for (int b = 0; b < K; b++)
                var_pers += s->A[a * F + f] * (S[a * K + b] + (a == b ? walk_var : 0)) * s->A[b * F + f];
    double a_scale = var_pers > 0 ? c->personal_sd / sqrt(var_pers) : 0;
    for (size_t i = 0; i < (size_t)K * F; i++)
        s->A[i] *= a_scale;
    free(S);
    s->w = xcalloc((size_t)F, sizeof *s->w);
    double wnorm = 0;
    for (int f = 0; f < F; f++) {
        s->w[f] = rng_normal(&r);
        wnorm += s->w[f] * s->w[f];
    }
    for (int f = 0; f < F; f++)
        s->w[f] *= c->global_sd / sqrt(wnorm);
    s->q = xcalloc(I * K, sizeof *s->q);
    for (size_t i = 0; i < I; i++)
        for (int k = 0; k < K; k++) {
            double v = 0;
            for (int f = 0; f < F; f++)
                v += s->A[k * F + f] * (double)s->x[i * F + f];
            s->q[i * K + k] = v;
        }
    calibrate_bias(s);
    s->item_base = xcalloc(I, sizeof *s->item_base);
    for (size_t i = 0; i < I; i++) {
        double v = s->bias;
        for (int f = 0; f < F; f++)
            v += s->w[f] * (double)s->x[i * F + f];
        s->item_base[i] = v;
    }

    s->id_width = 6;
    for (int64_t n = 1000000; n < c->members; n *= 10)
        s->id_width++;
    s->path = xcalloc((size_t)D * K, sizeof *s->path);
    s->m = xcalloc((size_t)M, sizeof *s->m);
    size_t R = (size_t)c->max_rows;
    s->ts = xcalloc(R, sizeof *s->ts);
    s->item = xcalloc(R, sizeof *s->item);
    s->label = xcalloc(R, sizeof *s->label);
    s->logit = xcalloc(R, sizeof *s->logit);
    s->personal = xcalloc(R, sizeof *s->personal);
    return s;
}

void membersim_free(membersim *s)
{
    if (!s)
        return;
    free(s->cluster_weight);
    free(s->centre);
    free(s->W);
    free(s->meta_pred);
    free(s->x);
    free(s->q);
    free(s->item_base);
    free(s->pop_cdf);
    free(s->A);
    free(s->w);
    free(s->path);
    free(s->m);
    free(s->ts);
    free(s->item);
    free(s->label);
    free(s->logit);
    free(s->personal);
    free(s);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

void membersim_member_gen(membersim *s, uint64_t index, membersim_member *out)
{
    const membersim_cfg *c = &s->cfg;
    int K = c->latent_dim, M = c->meta_features, D = c->days;
    rng r;
    rng_init(&r, c->seed, index);

    /* taste at day 0 and the features that partly reveal it */
    size_t cl = rng_categorical(&r, s->cluster_weight, (size_t)c->clusters);
    double *p = s->path;
    for (int k = 0; k < K; k++)
        p[k] = s->centre[cl * K + k] + c->within_sd * rng_normal(&r);
    for (int j = 0; j < M; j++)
        s->m[j] = round4(dot(s->W + (size_t)j * K, p, K) + s->meta_noise_sd * rng_normal(&r));
    /* drift: a daily Gaussian random walk (innovations drawn even when
     * drift is 0, so the rest of the member does not depend on it) */
    for (int d = 1; d < D; d++)
        for (int k = 0; k < K; k++)
            p[d * K + k] = p[(d - 1) * K + k] + c->drift * rng_normal(&r);

    /* activity: log-normal row count, uniform times */
    double n = floor(c->median_rows * exp(c->rows_sigma * rng_normal(&r)) + 0.5);
    int nrows = n < 1 ? 1 : n > c->max_rows ? c->max_rows : (int)n;
    uint64_t span = (uint64_t)D * SECONDS_PER_DAY;
    for (int i = 0; i < nrows; i++)
        s->ts[i] = c->ts0 + (int64_t)rng_below(&r, span);
    qsort(s->ts, (size_t)nrows, sizeof *s->ts, cmp_i64);

    /* impressions and clicks */
    for (int i = 0; i < nrows; i++) {
        size_t it = pick_item(s, rng_uniform(&r));
        int d = (int)((s->ts[i] - c->ts0) / SECONDS_PER_DAY);
        double pers = dot(p + (size_t)d * K, s->q + it * K, K);
        double logit = s->item_base[it] + pers;
        s->item[i] = (int32_t)it;
        s->personal[i] = pers;
        s->logit[i] = logit;
        s->label[i] = rng_uniform(&r) < sigmoid(logit);
    }

    out->index = index;
    out->cluster = (int)cl;
    out->nrows = nrows;
    out->p = s->path;
    out->m = s->m;
    out->ts = s->ts;
    out->item = s->item;
    out->label = s->label;
    out->logit = s->logit;
    out->personal = s->personal;
}

int membersim_member_id(const membersim *s, uint64_t index, char *buf, size_t n)
{
    return snprintf(buf, n, "u%0*llu", s->id_width, (unsigned long long)index);
}

/* ---- statistics ---- */

void membersim_stats_init(membersim_stats *st, const membersim *s, int fit_r2)
{
    memset(st, 0, sizeof *st);
    st->rows_hist = xcalloc((size_t)s->cfg.max_rows + 1, sizeof *st->rows_hist);
    st->phat = xcalloc((size_t)s->cfg.latent_dim, sizeof *st->phat);
    st->fit_r2 = fit_r2;
    if (fit_r2) {
        size_t M1 = (size_t)s->cfg.meta_features + 1, K = (size_t)s->cfg.latent_dim;
        st->mm = xcalloc(M1 * M1, sizeof *st->mm);
        st->mp = xcalloc(M1 * K, sizeof *st->mp);
        st->pp = xcalloc(K, sizeof *st->pp);
    }
}

void membersim_stats_free(membersim_stats *st)
{
    free(st->rows_hist);
    free(st->phat);
    free(st->mm);
    free(st->mp);
    free(st->pp);
    memset(st, 0, sizeof *st);
}

void membersim_stats_add(membersim_stats *st, const membersim *s, const membersim_member *u)
{
    int K = s->cfg.latent_dim, M = s->cfg.meta_features;
    double *phat = st->phat;
    st->members++;
    st->rows += (uint64_t)u->nrows;
    st->rows_hist[u->nrows]++;
    if (u->nrows <= 5)
        st->members_le5++;
    if (u->nrows > st->max_rows_seen)
        st->max_rows_seen = u->nrows;
    for (int k = 0; k < K; k++) {
        double v = 0;
        for (int j = 0; j < M; j++)
            v += s->meta_pred[k * M + j] * (double)u->m[j];
        phat[k] = v;
    }
    for (int i = 0; i < u->nrows; i++) {
        double l = u->logit[i] - s->bias, pers = u->personal[i];
        double hidden = pers - dot(phat, s->q + (size_t)u->item[i] * K, K);
        st->clicks += u->label[i];
        st->sum_p += sigmoid(u->logit[i]);
        st->logit_sum += l;
        st->logit_sq += l * l;
        st->personal_sum += pers;
        st->personal_sq += pers * pers;
        st->hidden_sum += hidden;
        st->hidden_sq += hidden * hidden;
    }
    if (st->fit_r2) {
        int M1 = M + 1;
        for (int a = 0; a < M1; a++) {
            double za = a ? (double)u->m[a - 1] : 1;
            for (int b = 0; b < M1; b++)
                st->mm[a * M1 + b] += za * (b ? (double)u->m[b - 1] : 1);
            for (int k = 0; k < K; k++)
                st->mp[a * K + k] += za * u->p[k];
        }
        for (int k = 0; k < K; k++)
            st->pp[k] += u->p[k] * u->p[k];
    }
}

double membersim_stats_r2(const membersim_stats *st, const membersim *s)
{
    int K = s->cfg.latent_dim, M1 = s->cfg.meta_features + 1;
    if (!st->fit_r2 || st->members < (uint64_t)M1 + 1)
        return NAN;
    double *L = xmalloc((size_t)M1 * M1 * sizeof *L), *col = xmalloc((size_t)M1 * sizeof *col);
    memcpy(L, st->mm, (size_t)M1 * M1 * sizeof *L);
    double n = (double)st->members, res = 0, tot = 0;
    if (cholesky(L, M1) < 0) {
        free(L);
        free(col);
        return NAN;
    }
    for (int k = 0; k < K; k++) {
        /* SSres = sum p^2 - c' (Z'Z)^-1 c with c = Z'p; SStot = sum p^2 - n pbar^2 */
        for (int a = 0; a < M1; a++)
            col[a] = st->mp[a * K + k];
        chol_solve(L, M1, col);
        double fit = 0;
        for (int a = 0; a < M1; a++)
            fit += st->mp[a * K + k] * col[a];
        double sum = st->mp[k]; /* row 0 of Z'p: the plain sum */
        res += st->pp[k] - fit;
        tot += st->pp[k] - sum * sum / n;
    }
    free(L);
    free(col);
    return 1 - res / tot;
}

/* ---- output ---- */

int membersim_write(membersim *s, rec_writer *w, int p_true, membersim_stats *st,
                    cli_progress *prog, errctx *e)
{
    const membersim_cfg *c = &s->cfg;
    int M = c->meta_features, F = c->features;
    int ncols = 3 + M + F + (p_true ? 1 : 0);
    char **names = xcalloc((size_t)ncols, sizeof *names);
    char name[32];
    int col = 0;
    names[col++] = xstrdup("member_id");
    names[col++] = xstrdup("ts");
    names[col++] = xstrdup("label");
    for (int j = 0; j < M; j++) {
        snprintf(name, sizeof name, "m_%d", j);
        names[col++] = xstrdup(name);
    }
    for (int f = 0; f < F; f++) {
        snprintf(name, sizeof name, "x_%d", f);
        names[col++] = xstrdup(name);
    }
    if (p_true)
        names[col++] = xstrdup("p_true");
    int rc = rec_writer_header(w, ncols, (const char *const *)names, e);
    for (int i = 0; i < ncols; i++)
        free(names[i]);
    free(names);
    if (rc < 0)
        return -1;

    char id[32];
    membersim_member u;
    for (int64_t idx = 0; idx < c->members; idx++) {
        membersim_member_gen(s, (uint64_t)idx, &u);
        int idlen = membersim_member_id(s, (uint64_t)idx, id, sizeof id);
        for (int i = 0; i < u.nrows; i++) {
            const float *x = s->x + (size_t)u.item[i] * F;
            rec_put_str(w, 0, id, (size_t)idlen);
            rec_put_i64(w, 1, u.ts[i]);
            rec_put_i64(w, 2, u.label[i]);
            for (int j = 0; j < M; j++)
                rec_put_f32(w, 3 + j, u.m[j]);
            for (int f = 0; f < F; f++)
                rec_put_f32(w, 3 + M + f, x[f]);
            if (p_true)
                rec_put_f32(w, 3 + M + F, (float)sigmoid(u.logit[i]));
            if (rec_end_row(w, e) < 0)
                return -1;
        }
        if (st)
            membersim_stats_add(st, s, &u);
        if (prog && (idx & 255) == 255)
            cli_progress_update(prog, (double)(idx + 1));
    }
    if (prog)
        cli_progress_update(prog, (double)c->members);
    return 0;
}
