/*
 * ope.c - the off-policy estimators of ope.h, from sums accumulated in one
 * pass, for the point estimate and every bootstrap replicate at once.
 *
 * Every accumulator has RR = 1 + bootstrap slots: slot 0 is the estimate
 * itself (episode weight 1), slot b the bootstrap replicate b (episode
 * weight k_bi ~ Poisson(1)).  An episode adds k times its terms to every
 * slot, so a replicate costs one multiply-add per sum and row.
 */
#include "ope.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "boot.h"
#include "hmap.h"
#include "rng.h"
#include "banned.h"

static const char *const est_names[OPE_NEST] = {"behavior", "onestep", "tis", "pdis",
                                                "wpdis",    "smis",    "dr"};

const char *ope_est_name(int est)
{
    return est >= 0 && est < OPE_NEST ? est_names[est] : "?";
}

int ope_est_parse(const char *list, unsigned *mask, errctx *e)
{
    *mask = 0;
    if (strcmp(list, "all") == 0) {
        *mask = (1u << OPE_NEST) - 1;
        return 0;
    }
    const char *p = list;
    for (;;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        int k = 0;
        while (k < OPE_NEST && !(strlen(est_names[k]) == len && memcmp(est_names[k], p, len) == 0))
            k++;
        if (k == OPE_NEST) {
            err_set(e, "unknown estimator '%.*s' (estimators: all, behavior, onestep, tis, pdis, "
                       "wpdis, smis, dr)",
                    (int)len, p);
            return -1;
        }
        *mask |= 1u << k;
        if (!end)
            break;
        p = end + 1;
    }
    return 0;
}

/* The estimators that are means over episodes of one term each. */
enum { LIN_BEHAVIOR, LIN_ONESTEP, LIN_TIS, LIN_PDIS, LIN_DR, NLIN };
static const int lin_est[NLIN] = {OPE_BEHAVIOR, OPE_ONESTEP, OPE_TIS, OPE_PDIS, OPE_DR};
/* Per-step effective sample sizes kept: onestep, pdis (wpdis and dr share it). */
enum { ESS_ONESTEP, ESS_PDIS, NESS };

#define NO_CELL UINT32_MAX

struct ope_acc {
    ope_cfg c;
    int A, O, RR;
    uint64_t n;        /* episodes */
    float *k;          /* (RR) this episode's weights */
    double *ksum;      /* (RR) sum of episode weights */
    double *lin;       /* (NLIN, O, RR) sum k X */
    double *lin_sq;    /* (NLIN, O) sum X^2 (slot 0) */
    double tis_w, tis_w2;

    /* per step t < tcap */
    size_t T, tcap;
    double *alive;     /* (t, RR) sum k over episodes with a row at t */
    double *wp_num;    /* (t, RR, O) sum k w_t r_t */
    double *wp_den;    /* (t, RR) sum k w_t */
    double *wp_end;    /* (t, RR) sum k W over episodes whose last row is t - 1 */
    double *ess_s, *ess_q;         /* (t, NESS) sum w, sum w^2 over rows at t */
    double *ess_end_s, *ess_end_q; /* (t, NESS) the same for final weights, by end */

    /* marginal bins */
    double **edges;
    int *nedges;
    uint32_t nbins;
    /* cells (t, z): n, sum rho, sum rho r_o for every slot; sum rho^2 */
    hmap *cell_map;
    size_t ncells, cell_cap;
    uint32_t *cell_t;
    double *cell;      /* (cell, RR, 2 + O) */
    double *cell_q;    /* (cell) */
    /* transitions (t, cell, cell' or NO_CELL for done): sum k rho */
    hmap *tr_map;
    size_t ntr, tr_cap;
    uint32_t *tr_from, *tr_to, *tr_t;
    double *tr;        /* (tr, RR) */

    /* scratch for one episode */
    int ep_cap;
    double *rho, *w;
    uint32_t *cells;
};

static void *growz(void *p, size_t old, size_t cap, size_t size)
{
    p = xrealloc(p, cap * size);
    memset((char *)p + old * size, 0, (cap - old) * size);
    return p;
}

ope_acc *ope_acc_new(const ope_cfg *c, errctx *e)
{
    if (c->n_actions < 1 || c->nobj < 1 || c->nmarg < 0 || c->bootstrap < 0 ||
        c->bootstrap > OPE_MAX_BOOTSTRAP || !(c->gamma >= 0 && c->gamma <= 1) ||
        !(c->level > 0 && c->level < 1) || c->dr_obj >= c->nobj) {
        err_set(e, "bad off-policy evaluation settings");
        return NULL;
    }
    ope_acc *acc = xcalloc(1, sizeof *acc);
    acc->c = *c;
    acc->A = c->n_actions;
    acc->O = c->nobj;
    acc->RR = 1 + c->bootstrap;
    acc->k = xcalloc((size_t)acc->RR, sizeof *acc->k);
    acc->ksum = xcalloc((size_t)acc->RR, sizeof *acc->ksum);
    acc->lin = xcalloc((size_t)NLIN * (size_t)acc->O * (size_t)acc->RR, sizeof *acc->lin);
    acc->lin_sq = xcalloc((size_t)NLIN * (size_t)acc->O, sizeof *acc->lin_sq);
    acc->edges = xcalloc((size_t)c->nmarg + 1, sizeof *acc->edges);
    acc->nedges = xcalloc((size_t)c->nmarg + 1, sizeof *acc->nedges);
    acc->nbins = 1;
    acc->cell_map = hmap_new(1024);
    acc->tr_map = hmap_new(1024);
    return acc;
}

void ope_acc_free(ope_acc *acc)
{
    if (!acc)
        return;
    for (int j = 0; j < acc->c.nmarg; j++)
        free(acc->edges[j]);
    free(acc->edges);
    free(acc->nedges);
    free(acc->k);
    free(acc->ksum);
    free(acc->lin);
    free(acc->lin_sq);
    free(acc->alive);
    free(acc->wp_num);
    free(acc->wp_den);
    free(acc->wp_end);
    free(acc->ess_s);
    free(acc->ess_q);
    free(acc->ess_end_s);
    free(acc->ess_end_q);
    hmap_free(acc->cell_map);
    hmap_free(acc->tr_map);
    free(acc->cell_t);
    free(acc->cell);
    free(acc->cell_q);
    free(acc->tr_from);
    free(acc->tr_to);
    free(acc->tr_t);
    free(acc->tr);
    free(acc->rho);
    free(acc->w);
    free(acc->cells);
    free(acc);
}

int ope_acc_set_edges(ope_acc *acc, int j, const double *edges, int nedges, errctx *e)
{
    if (j < 0 || j >= acc->c.nmarg || nedges < 0 || acc->n > 0) {
        err_set(e, "marginal edges set out of turn");
        return -1;
    }
    for (int k = 1; k < nedges; k++)
        if (!(edges[k] > edges[k - 1])) {
            err_set(e, "marginal edges must increase");
            return -1;
        }
    uint64_t total = 1;
    for (int f = 0; f < acc->c.nmarg; f++)
        total *= (uint64_t)(f == j ? nedges : acc->nedges[f]) + 1;
    if (total > OPE_MAX_BINS) {
        err_set(e, "%llu joint bins of the marginal features: more than %u (fewer features or bins)",
                (unsigned long long)total, OPE_MAX_BINS);
        return -1;
    }
    free(acc->edges[j]);
    acc->edges[j] = xmalloc(((size_t)nedges + 1) * sizeof(double));
    if (nedges)
        memcpy(acc->edges[j], edges, (size_t)nedges * sizeof(double));
    acc->nedges[j] = nedges;
    acc->nbins = (uint32_t)total;
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int ope_fit_edges(double *values, size_t n, int bins, int binning, double *edges)
{
    if (n == 0 || bins <= 1)
        return 0;
    int ne = 0;
    if (binning == OPE_UNIFORM) {
        double lo = values[0], hi = values[0];
        for (size_t i = 1; i < n; i++) {
            lo = values[i] < lo ? values[i] : lo;
            hi = values[i] > hi ? values[i] : hi;
        }
        for (int k = 1; k < bins; k++) {
            double v = lo + (hi - lo) * (double)k / bins;
            if (v > lo && (ne == 0 || v > edges[ne - 1]) && v <= hi)
                edges[ne++] = v;
        }
        return ne;
    }
    qsort(values, n, sizeof *values, cmp_double);
    for (int k = 1; k < bins; k++) {
        double v = values[(size_t)((double)k * (double)n / bins)];
        if (v > values[0] && (ne == 0 || v > edges[ne - 1]))
            edges[ne++] = v;
    }
    return ne;
}

uint32_t ope_acc_bin(const ope_acc *acc, const double *x)
{
    uint32_t z = 0;
    for (int j = 0; j < acc->c.nmarg; j++) {
        const double *ed = acc->edges[j];
        int lo = 0, hi = acc->nedges[j]; /* bin = #{k : x >= ed[k]} */
        while (lo < hi) {
            int mid = (lo + hi) / 2;
            if (x[j] >= ed[mid])
                lo = mid + 1;
            else
                hi = mid;
        }
        z = z * (uint32_t)(acc->nedges[j] + 1) + (uint32_t)lo;
    }
    return z;
}

uint32_t ope_acc_nbins(const ope_acc *acc)
{
    return acc->nbins;
}

/* Make room for steps 0..need-1. */
static void steps_reserve(ope_acc *a, size_t need)
{
    if (need <= a->tcap)
        return;
    size_t cap = a->tcap ? a->tcap : 64;
    while (cap < need)
        cap *= 2;
    size_t rr = (size_t)a->RR, o = (size_t)a->O, old = a->tcap;
    a->alive = growz(a->alive, old * rr, cap * rr, sizeof(double));
    a->wp_num = growz(a->wp_num, old * rr * o, cap * rr * o, sizeof(double));
    a->wp_den = growz(a->wp_den, old * rr, cap * rr, sizeof(double));
    a->wp_end = growz(a->wp_end, old ? (old + 1) * rr : 0, (cap + 1) * rr, sizeof(double));
    a->ess_s = growz(a->ess_s, old * NESS, cap * NESS, sizeof(double));
    a->ess_q = growz(a->ess_q, old * NESS, cap * NESS, sizeof(double));
    a->ess_end_s = growz(a->ess_end_s, old ? (old + 1) * NESS : 0, (cap + 1) * NESS, sizeof(double));
    a->ess_end_q = growz(a->ess_end_q, old ? (old + 1) * NESS : 0, (cap + 1) * NESS, sizeof(double));
    a->tcap = cap;
}

static uint32_t cell_get(ope_acc *a, uint32_t t, uint32_t z)
{
    uint32_t key[2] = {t, z};
    int added;
    int64_t *v = hmap_put(a->cell_map, (const char *)key, sizeof key, (int64_t)a->ncells, &added);
    if (!added)
        return (uint32_t)*v;
    size_t i = a->ncells, old = a->cell_cap, per = (size_t)a->RR * (size_t)(2 + a->O);
    if (i + 1 > a->cell_cap) {
        size_t cap = old ? old * 2 : 256;
        a->cell_t = xrealloc(a->cell_t, cap * sizeof *a->cell_t);
        a->cell = growz(a->cell, old * per, cap * per, sizeof(double));
        a->cell_q = growz(a->cell_q, old, cap, sizeof(double));
        a->cell_cap = cap;
    }
    a->cell_t[i] = t;
    a->ncells++;
    return (uint32_t)i;
}

static double *tr_get(ope_acc *a, uint32_t t, uint32_t from, uint32_t to)
{
    uint32_t key[2] = {from, to}; /* a cell belongs to one step */
    int added;
    int64_t *v = hmap_put(a->tr_map, (const char *)key, sizeof key, (int64_t)a->ntr, &added);
    size_t rr = (size_t)a->RR;
    if (!added)
        return a->tr + (size_t)*v * rr;
    size_t i = a->ntr, old = a->tr_cap;
    if (i + 1 > a->tr_cap) {
        size_t cap = old ? old * 2 : 256;
        a->tr_from = xrealloc(a->tr_from, cap * sizeof *a->tr_from);
        a->tr_to = xrealloc(a->tr_to, cap * sizeof *a->tr_to);
        a->tr_t = xrealloc(a->tr_t, cap * sizeof *a->tr_t);
        a->tr = growz(a->tr, old * rr, cap * rr, sizeof(double));
        a->tr_cap = cap;
    }
    a->tr_from[i] = from;
    a->tr_to[i] = to;
    a->tr_t[i] = t;
    a->ntr++;
    return a->tr + i * rr;
}

/* dst[b] += k[b] * v for every slot. */
static void kaxpy(double *restrict dst, const float *restrict k, double v, int rr)
{
    for (int b = 0; b < rr; b++)
        dst[b] += (double)k[b] * v;
}

static void draw_weights(ope_acc *a)
{
    a->k[0] = 1;
    if (a->RR == 1)
        return;
    rng g;
    rng_init(&g, a->c.seed, OPE_STREAM_BOOT + a->n);
    for (int b = 1; b < a->RR; b++)
        a->k[b] = (float)rng_poisson(&g, 1.0);
}

void ope_acc_add(ope_acc *a, const ope_episode *ep)
{
    int n = ep->n, A = a->A, O = a->O, RR = a->RR;
    const unsigned est = a->c.estimators;
    const int want_smis = (est >> OPE_SMIS) & 1, want_wp = (est >> OPE_WPDIS) & 1;
    if (n > a->ep_cap) {
        a->ep_cap = n * 2;
        a->rho = xrealloc(a->rho, (size_t)a->ep_cap * sizeof *a->rho);
        a->w = xrealloc(a->w, (size_t)a->ep_cap * sizeof *a->w);
        a->cells = xrealloc(a->cells, (size_t)a->ep_cap * sizeof *a->cells);
    }
    steps_reserve(a, (size_t)n);
    if ((size_t)n > a->T)
        a->T = (size_t)n;
    draw_weights(a);
    kaxpy(a->ksum, a->k, 1.0, RR);

    double wprev = 1;
    for (int t = 0; t < n; t++) {
        double mu = ep->mu[t], p = ep->pi[(size_t)t * A + ep->a[t]];
        a->rho[t] = (mu == 1 && !a->c.strict_ratio) ? 1.0 : p / mu;
        wprev *= a->rho[t];
        a->w[t] = wprev;
    }
    double W = a->w[n - 1];

    /* the means over episodes */
    for (int o = 0; o < O; o++) {
        double x[NLIN] = {0, 0, 0, 0, 0}, g = 1;
        for (int t = 0; t < n; t++, g *= a->c.gamma) {
            double r = ep->r[(size_t)t * O + o];
            x[LIN_BEHAVIOR] += g * r;
            x[LIN_ONESTEP] += g * a->rho[t] * r;
            x[LIN_PDIS] += g * a->w[t] * r;
            if (o == a->c.dr_obj && ep->q) {
                const double *q = ep->q + (size_t)t * A, *pi = ep->pi + (size_t)t * A;
                double qa = q[ep->a[t]], v = 0;
                if (ep->mu[t] == 1 && !a->c.strict_ratio)
                    v = qa;
                else
                    for (int b = 0; b < A; b++)
                        v += pi[b] * q[b];
                x[LIN_DR] += g * (a->w[t] * (r - qa) + (t ? a->w[t - 1] : 1.0) * v);
            }
        }
        x[LIN_TIS] = W * x[LIN_BEHAVIOR];
        for (int l = 0; l < NLIN; l++) {
            kaxpy(a->lin + ((size_t)l * O + o) * RR, a->k, x[l], RR);
            a->lin_sq[l * O + o] += x[l] * x[l];
        }
    }
    a->tis_w += W;
    a->tis_w2 += W * W;

    /* per step */
    for (int t = 0; t < n; t++) {
        kaxpy(a->alive + (size_t)t * RR, a->k, 1.0, RR);
        double *es = a->ess_s + (size_t)t * NESS, *eq = a->ess_q + (size_t)t * NESS;
        es[ESS_ONESTEP] += a->rho[t];
        eq[ESS_ONESTEP] += a->rho[t] * a->rho[t];
        es[ESS_PDIS] += a->w[t];
        eq[ESS_PDIS] += a->w[t] * a->w[t];
        if (want_wp) {
            kaxpy(a->wp_den + (size_t)t * RR, a->k, a->w[t], RR);
            double *num = a->wp_num + (size_t)t * RR * O;
            for (int o = 0; o < O; o++) {
                double v = a->w[t] * ep->r[(size_t)t * O + o];
                if (v != 0)
                    for (int b = 0; b < RR; b++)
                        num[(size_t)b * O + o] += (double)a->k[b] * v;
            }
        }
    }
    /* from step n on, the episode is over: final weights */
    kaxpy(a->wp_end + (size_t)n * RR, a->k, W, RR);
    a->ess_end_s[(size_t)n * NESS + ESS_ONESTEP] += 1;
    a->ess_end_q[(size_t)n * NESS + ESS_ONESTEP] += 1;
    a->ess_end_s[(size_t)n * NESS + ESS_PDIS] += W;
    a->ess_end_q[(size_t)n * NESS + ESS_PDIS] += W * W;

    if (want_smis) {
        size_t per = (size_t)RR * (size_t)(2 + O);
        for (int t = 0; t < n; t++) {
            uint32_t c = cell_get(a, (uint32_t)t, ope_acc_bin(a, ep->x + (size_t)t * a->c.nmarg));
            a->cells[t] = c;
            double *cs = a->cell + (size_t)c * per, rho = a->rho[t];
            a->cell_q[c] += rho * rho;
            for (int b = 0; b < RR; b++) {
                double kb = a->k[b];
                double *s = cs + (size_t)b * (2 + O);
                s[0] += kb;
                s[1] += kb * rho;
                for (int o = 0; o < O; o++)
                    s[2 + o] += kb * rho * ep->r[(size_t)t * O + o];
            }
            if (t > 0)
                kaxpy(tr_get(a, (uint32_t)(t - 1), a->cells[t - 1], c), a->k, a->rho[t - 1], RR);
        }
        kaxpy(tr_get(a, (uint32_t)(n - 1), a->cells[n - 1], NO_CELL), a->k, a->rho[n - 1], RR);
    }
    a->n++;
}

uint64_t ope_acc_episodes(const ope_acc *acc)
{
    return acc->n;
}

size_t ope_acc_bytes(const ope_acc *a)
{
    size_t rr = (size_t)a->RR, o = (size_t)a->O;
    size_t b = rr * (sizeof(float) + sizeof(double)) + (size_t)NLIN * o * (rr + 1) * sizeof(double);
    b += a->tcap * (rr * (3 + o) + 4 * NESS) * sizeof(double);
    b += a->cell_cap * (rr * (2 + o) + 1) * sizeof(double) + a->cell_cap * 4;
    b += a->tr_cap * (rr * sizeof(double) + 12);
    b += (hmap_size(a->cell_map) + hmap_size(a->tr_map)) * 48;
    return b;
}

/* ---- finishing ---- */

/* wpdis for slot b into v[0..O). */
static void wpdis_value(const ope_acc *a, int b, double *v)
{
    int O = a->O, RR = a->RR;
    double ended = 0, g = 1;
    for (int o = 0; o < O; o++)
        v[o] = 0;
    for (size_t t = 0; t < a->T; t++, g *= a->c.gamma) {
        ended += a->wp_end[t * RR + b];
        double den = a->wp_den[t * RR + b] + ended;
        if (!(den > 0))
            continue;
        for (int o = 0; o < O; o++)
            v[o] += g * a->wp_num[(t * RR + b) * O + o] / den;
    }
}

/* Cells and transitions ordered by step: first[t] .. first[t+1]. */
typedef struct by_step {
    size_t *cell_first, *cell_idx, *tr_first, *tr_idx;
} by_step;

static void bucket(const uint32_t *key, size_t n, size_t T, size_t **first, size_t **idx)
{
    size_t *f = xcalloc(T + 2, sizeof *f), *ix = xmalloc((n ? n : 1) * sizeof *ix);
    for (size_t i = 0; i < n; i++)
        f[key[i] + 1]++;
    for (size_t t = 0; t <= T; t++)
        f[t + 1] += f[t];
    size_t *pos = xmalloc((T + 1) * sizeof *pos);
    memcpy(pos, f, (T + 1) * sizeof *pos);
    for (size_t i = 0; i < n; i++)
        ix[pos[key[i]]++] = i;
    free(pos);
    *first = f;
    *idx = ix;
}

/* smis for slot b into v[0..O); the mean effective sample size over steps
 * into *ess when b is 0.  R (ncells) is scratch. */
static void smis_value(const ope_acc *a, const by_step *bs, int b, double *R, double *v, double *ess)
{
    int O = a->O, RR = a->RR;
    size_t per = (size_t)RR * (size_t)(2 + O);
    double N = a->ksum[b], g = 1, rdone = 0, ess_sum = 0;
    for (int o = 0; o < O; o++)
        v[o] = 0;
    for (size_t i = bs->cell_first[0]; i < bs->cell_first[1]; i++)
        R[bs->cell_idx[i]] = 1;
    for (size_t t = 0; t < a->T; t++, g *= a->c.gamma) {
        double ndone = N - a->alive[t * RR + b];
        double den = rdone * ndone, sq = rdone * rdone * ndone;
        for (size_t i = bs->cell_first[t]; i < bs->cell_first[t + 1]; i++) {
            size_t c = bs->cell_idx[i];
            const double *s = a->cell + c * per + (size_t)b * (2 + O);
            den += R[c] * s[1];
            sq += R[c] * R[c] * a->cell_q[c];
        }
        if (den > 0)
            for (size_t i = bs->cell_first[t]; i < bs->cell_first[t + 1]; i++) {
                size_t c = bs->cell_idx[i];
                const double *s = a->cell + c * per + (size_t)b * (2 + O);
                for (int o = 0; o < O; o++)
                    v[o] += g * R[c] * s[2 + o] / den;
            }
        if (b == 0 && sq > 0)
            ess_sum += den * den / sq;
        if (t + 1 == a->T)
            break;
        /* R_{t+1}: numerators first (cells of step t+1 start at 0) */
        for (size_t i = bs->cell_first[t + 1]; i < bs->cell_first[t + 2]; i++)
            R[bs->cell_idx[i]] = 0;
        double next_done = rdone * ndone;
        for (size_t i = bs->tr_first[t]; i < bs->tr_first[t + 1]; i++) {
            size_t j = bs->tr_idx[i];
            double m = R[a->tr_from[j]] * a->tr[j * RR + b];
            if (a->tr_to[j] == NO_CELL)
                next_done += m;
            else
                R[a->tr_to[j]] += m;
        }
        for (size_t i = bs->cell_first[t + 1]; i < bs->cell_first[t + 2]; i++) {
            size_t c = bs->cell_idx[i];
            double nz = a->cell[c * per + (size_t)b * (2 + O)];
            R[c] = nz > 0 ? R[c] / nz : 0;
        }
        double nd1 = N - a->alive[(t + 1) * RR + b];
        rdone = nd1 > 0 ? next_done / nd1 : 0;
    }
    if (ess)
        *ess = a->T ? ess_sum / (double)a->T : NAN;
}

/* Mean over steps of (sum w)^2 / sum w^2 for a per-step weight kind. */
static double step_ess(const ope_acc *a, int kind)
{
    double s_end = 0, q_end = 0, sum = 0;
    for (size_t t = 0; t < a->T; t++) {
        s_end += a->ess_end_s[t * NESS + kind];
        q_end += a->ess_end_q[t * NESS + kind];
        double s = a->ess_s[t * NESS + kind] + s_end, q = a->ess_q[t * NESS + kind] + q_end;
        sum += q > 0 ? s * s / q : 0;
    }
    return a->T ? sum / (double)a->T : NAN;
}

int ope_acc_finish(ope_acc *a, ope_result **out, int *nout, errctx *e)
{
    if (a->n == 0) {
        err_set(e, "no episodes");
        return -1;
    }
    int O = a->O, RR = a->RR, B = RR - 1;
    unsigned est = a->c.estimators;
    ope_result *res = xcalloc((size_t)OPE_NEST * (size_t)O, sizeof *res);
    int nr = 0;
    double *rep = xmalloc(((size_t)B + 1) * sizeof *rep);
    double N = (double)a->n, z = boot_norm_quantile((1 + a->c.level) / 2);
    double *vals = xmalloc((size_t)RR * (size_t)O * sizeof *vals);

    /* the ratio estimators for every slot first */
    by_step bs = {0, 0, 0, 0};
    double *R = NULL, ess_smis = NAN;
    for (int k = OPE_WPDIS; k <= OPE_SMIS; k++) {
        if (!((est >> k) & 1))
            continue;
        if (k == OPE_SMIS) {
            bucket(a->cell_t, a->ncells, a->T, &bs.cell_first, &bs.cell_idx);
            bucket(a->tr_t, a->ntr, a->T, &bs.tr_first, &bs.tr_idx);
            R = xmalloc((a->ncells ? a->ncells : 1) * sizeof *R);
        }
        for (int b = 0; b < RR; b++) {
            if (k == OPE_WPDIS)
                wpdis_value(a, b, vals + (size_t)b * O);
            else
                smis_value(a, &bs, b, R, vals + (size_t)b * O, b == 0 ? &ess_smis : NULL);
        }
        for (int o = 0; o < O; o++) {
            ope_result *r = &res[nr++];
            r->est = k;
            r->obj = o;
            r->value = vals[o];
            r->se = r->lo = r->hi = NAN;
            for (int b = 1; b < RR; b++)
                rep[b - 1] = vals[(size_t)b * O + o];
            if (B > 0)
                boot_summary(rep, B, a->c.level, &r->se, &r->lo, &r->hi);
            r->ess = k == OPE_WPDIS ? step_ess(a, ESS_PDIS) : ess_smis;
        }
    }
    free(R);
    free(bs.cell_first);
    free(bs.cell_idx);
    free(bs.tr_first);
    free(bs.tr_idx);

    /* the means */
    for (int l = 0; l < NLIN; l++) {
        int k = lin_est[l];
        if (!((est >> k) & 1) || (k == OPE_DR && a->c.dr_obj < 0))
            continue;
        for (int o = 0; o < O; o++) {
            if (k == OPE_DR && o != a->c.dr_obj)
                continue;
            const double *s = a->lin + ((size_t)l * O + o) * RR;
            ope_result *r = &res[nr++];
            r->est = k;
            r->obj = o;
            r->value = s[0] / N;
            double var = N > 1 ? (a->lin_sq[l * O + o] - N * r->value * r->value) / (N - 1) : NAN;
            r->se = N > 1 ? sqrt(var > 0 ? var : 0) / sqrt(N) : NAN;
            if (B > 0) {
                double sd;
                for (int b = 1; b < RR; b++)
                    rep[b - 1] = a->ksum[b] > 0 ? s[b] / a->ksum[b] : NAN;
                boot_summary(rep, B, a->c.level, &sd, &r->lo, &r->hi);
            } else {
                r->lo = r->value - z * r->se;
                r->hi = r->value + z * r->se;
            }
            r->ess = k == OPE_BEHAVIOR  ? N
                     : k == OPE_TIS     ? (a->tis_w2 > 0 ? a->tis_w * a->tis_w / a->tis_w2 : 0)
                     : k == OPE_ONESTEP ? step_ess(a, ESS_ONESTEP)
                                        : step_ess(a, ESS_PDIS);
        }
    }
    free(rep);
    free(vals);
    /* estimator-major, in enum order */
    ope_result *sorted = xmalloc(((size_t)nr + 1) * sizeof *sorted);
    int m = 0;
    for (int k = 0; k < OPE_NEST; k++)
        for (int i = 0; i < nr; i++)
            if (res[i].est == k)
                sorted[m++] = res[i];
    free(res);
    *out = sorted;
    *nout = m;
    return 0;
}
