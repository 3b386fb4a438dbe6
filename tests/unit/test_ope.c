/*
 * test_ope.c - the off-policy estimators (ope.h): a two-episode case
 * worked out by hand; pi = mu makes every weight 1 and every IS estimate
 * the behaviour value; on a small tabular MDP the SMIS recursion equals
 * the marginalized-IS estimate computed by propagating the estimated
 * state distribution explicitly; TIS, PDIS and DR are unbiased within
 * their intervals for a value known by dynamic programming; one bin and
 * one step reduce to the self-normalised one-step and weighted IS
 * estimators; the Poisson bootstrap interval covers the truth at about
 * its level over repeated data sets; the edges fitted by quantile and
 * uniform binning; the estimate does not depend on the bootstrap.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ope.h"
#include "rng.h"
#include "check.h"
#include "banned.h"

/* ---- a small tabular MDP ------------------------------------------------
 * States 0, 1, 2; actions 0, 1; horizon H; after a step the episode ends
 * with probability END[s][a]; rewards are deterministic: objective 0 is
 * RW[s][a], objective 1 is 1 for action 1 (a "send" count).  The state
 * is the one marginal feature. */
#define NS 3
#define H 5
static const double P[NS][2][NS] = {{{0.7, 0.2, 0.1}, {0.2, 0.5, 0.3}},
                                    {{0.5, 0.4, 0.1}, {0.1, 0.3, 0.6}},
                                    {{0.6, 0.3, 0.1}, {0.3, 0.3, 0.4}}};
static const double END[NS][2] = {{0.02, 0.05}, {0.02, 0.1}, {0.05, 0.3}};
static const double RW[NS][2] = {{0.0, 1.0}, {0.5, 2.0}, {3.0, 0.0}};
static const double D0[NS] = {0.6, 0.3, 0.1};
static const double MU[NS][2] = {{0.5, 0.5}, {0.6, 0.4}, {0.3, 0.7}};
static const double PI[NS][2] = {{0.3, 0.7}, {0.4, 0.6}, {0.6, 0.4}};

/* Episodes stored row by row, with the true state as marginal feature. */
typedef struct data {
    int n, cap, neps, eps_cap;
    int *a, *start;
    double *mu, *pi, *q, *r, *x;
    int *s;
} data;

static void data_free(data *d)
{
    free(d->a);
    free(d->start);
    free(d->mu);
    free(d->pi);
    free(d->q);
    free(d->r);
    free(d->x);
    free(d->s);
    memset(d, 0, sizeof *d);
}

static void data_row(data *d, int s, int a, double mu, const double *pi, const double *q, double r0, double r1)
{
    if (d->n == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 256;
        d->a = realloc(d->a, (size_t)d->cap * sizeof *d->a);
        d->s = realloc(d->s, (size_t)d->cap * sizeof *d->s);
        d->mu = realloc(d->mu, (size_t)d->cap * sizeof *d->mu);
        d->pi = realloc(d->pi, (size_t)d->cap * 2 * sizeof *d->pi);
        d->q = realloc(d->q, (size_t)d->cap * 2 * sizeof *d->q);
        d->r = realloc(d->r, (size_t)d->cap * 2 * sizeof *d->r);
        d->x = realloc(d->x, (size_t)d->cap * sizeof *d->x);
    }
    int i = d->n++;
    d->a[i] = a;
    d->s[i] = s;
    d->mu[i] = mu;
    d->pi[2 * i] = pi[0];
    d->pi[2 * i + 1] = pi[1];
    d->q[2 * i] = q ? q[0] : 0;
    d->q[2 * i + 1] = q ? q[1] : 0;
    d->r[2 * i] = r0;
    d->r[2 * i + 1] = r1;
    d->x[i] = s;
}

static void data_begin(data *d)
{
    if (d->neps + 2 > d->eps_cap) {
        d->eps_cap = d->eps_cap ? d->eps_cap * 2 : 64;
        d->start = realloc(d->start, (size_t)d->eps_cap * sizeof *d->start);
    }
    d->start[d->neps++] = d->n;
    d->start[d->neps] = d->n;
}

static int draw(rng *g, const double *p, int n)
{
    double u = rng_uniform(g), c = 0;
    for (int k = 0; k < n - 1; k++) {
        c += p[k];
        if (u < c)
            return k;
    }
    return n - 1;
}

/* Q of pi at step t (objective 0, undiscounted), for the DR value model. */
static double Qpi[H + 1][NS][2];

static void dp_values(const double (*pol)[2], int obj, double gamma, double V[H + 1][NS], double Q[H + 1][NS][2])
{
    for (int s = 0; s < NS; s++)
        V[H][s] = 0;
    for (int t = H - 1; t >= 0; t--)
        for (int s = 0; s < NS; s++) {
            V[t][s] = 0;
            for (int a = 0; a < 2; a++) {
                double r = obj == 0 ? RW[s][a] : (double)a, next = 0;
                for (int s2 = 0; s2 < NS; s2++)
                    next += P[s][a][s2] * V[t + 1][s2];
                Q[t][s][a] = r + gamma * (1 - END[s][a]) * next;
                V[t][s] += pol[s][a] * Q[t][s][a];
            }
        }
}

/* The true value of pol for objective obj. */
static double true_value(const double (*pol)[2], int obj, double gamma)
{
    double V[H + 1][NS], Q[H + 1][NS][2], v = 0;
    dp_values(pol, obj, gamma, V, Q);
    for (int s = 0; s < NS; s++)
        v += D0[s] * V[0][s];
    return v;
}

static void gen(data *d, uint64_t seed, int episodes, const double (*pi)[2], int with_q)
{
    memset(d, 0, sizeof *d);
    rng g;
    rng_init(&g, seed, 0);
    for (int i = 0; i < episodes; i++) {
        data_begin(d);
        int s = draw(&g, D0, NS);
        for (int t = 0; t < H; t++) {
            int a = draw(&g, MU[s], 2);
            data_row(d, s, a, MU[s][a], pi[s], with_q ? Qpi[t][s] : NULL, RW[s][a], a);
            d->start[d->neps] = d->n;
            if (rng_uniform(&g) < END[s][a])
                break;
            s = draw(&g, P[s][a], NS);
        }
    }
}

static ope_cfg base_cfg(int bootstrap)
{
    ope_cfg c = {
        .n_actions = 2,
        .nobj = 2,
        .dr_obj = 0,
        .nmarg = 1,
        .gamma = 1,
        .estimators = (1u << OPE_NEST) - 1,
        .bootstrap = bootstrap,
        .seed = 7,
        .level = 0.95,
    };
    return c;
}

/* Run the estimators on d; the state is binned exactly unless one_bin. */
static ope_result *run(const data *d, ope_cfg c, int one_bin, int with_q, int *nres)
{
    errctx e;
    ope_acc *acc = ope_acc_new(&c, &e);
    check(acc != NULL, "ope_acc_new: %s", acc ? "" : e.msg);
    if (!acc)
        exit(1);
    if (!one_bin && c.nmarg == 1) {
        double edges[2] = {0.5, 1.5};
        check(ope_acc_set_edges(acc, 0, edges, 2, &e) == 0, "edges");
    }
    for (int k = 0; k < d->neps; k++) {
        int s0 = d->start[k], n = d->start[k + 1] - s0;
        ope_episode ep = {n, d->a + s0, d->mu + s0, d->pi + 2 * s0, with_q ? d->q + 2 * s0 : NULL,
                          d->r + 2 * s0, d->x + s0};
        ope_acc_add(acc, &ep);
    }
    ope_result *res;
    check(ope_acc_finish(acc, &res, nres, &e) == 0, "finish");
    ope_acc_free(acc);
    return res;
}

static const ope_result *find(const ope_result *res, int n, int est, int obj)
{
    for (int i = 0; i < n; i++)
        if (res[i].est == est && res[i].obj == obj)
            return &res[i];
    return NULL;
}

static double val(const ope_result *res, int n, int est, int obj)
{
    const ope_result *r = find(res, n, est, obj);
    check(r != NULL, "no result for %s objective %d", ope_est_name(est), obj);
    return r ? r->value : NAN;
}

/* ---- by hand ---- */

/* Two episodes, one objective, no bootstrap, gamma 0.5:
 *   episode A: (a=1, mu=0.5, pi1=0.8, r=1), (a=0, mu=0.25, pi0=0.5, r=2)
 *   episode B: (a=0, mu=0.5, pi0=0.2, r=4)
 * rho: A 1.6, 2; B 0.4.  w: A 1.6, 3.2; B 0.4.  W: A 3.2, B 0.4.
 *   behavior = ((1 + 0.5*2) + 4) / 2                 = 3
 *   onestep  = ((1.6 + 0.5*2*2) + 0.4*4) / 2         = 2.6
 *   tis      = (3.2 * 2 + 0.4 * 4) / 2               = 4
 *   pdis     = ((1.6 + 0.5*3.2*2) + 0.4*4) / 2       = 3.2
 *   wpdis: step 0 (1.6*1 + 0.4*4) / (1.6 + 0.4)      = 1.6
 *          step 1: B has ended with weight 0.4:
 *                  0.5 * (3.2*2) / (3.2 + 0.4)       = 0.888...
 *          total 2.48888...
 *   smis with one marginal feature x, A at x = 0 then 1, B at x = 1:
 *          R_0 = 1 in bins {0}, {1};
 *          step 0: sum w r = 1.6*1 + 0.4*4 = 3.2, sum w = 2  -> 1.6
 *          R_1(1) = R_0(0) * 1.6 / n_1(1) = 1.6; R_1(done) = 0.4 / 1
 *          step 1: sum w r = 1.6*2*2 = 6.4, sum w = 1.6*2 + 0.4 = 3.6
 *                  -> 0.5 * 6.4/3.6 = 0.888...; total 2.48888...
 *   (with every state in one bin R cancels as well: same value here)
 *   dr with Q(s, .) = (1, 3) at every row, V = pi . Q:
 *     A: t0: w0 (r - Q(a=1)) + 1 * V = 1.6*(1-3) + (0.2*1 + 0.8*3) = -0.6
 *        t1: 0.5 * [3.2*(2-1) + 1.6*(0.5*1 + 0.5*3)] = 0.5 * 6.4 = 3.2
 *     B: t0: 0.4*(4-1) + (0.2*1 + 0.8*3) = 1.2 + 2.6 = 3.8
 *     dr = (2.6 + 3.8) / 2 = 3.2
 */
static void test_hand(void)
{
    int a[3] = {1, 0, 0};
    double mu[3] = {0.5, 0.25, 0.5}, pi[6] = {0.2, 0.8, 0.5, 0.5, 0.2, 0.8}, q[6] = {1, 3, 1, 3, 1, 3};
    double r[3] = {1, 2, 4}, x[3] = {0, 1, 1};
    ope_cfg c = {.n_actions = 2, .nobj = 1, .dr_obj = 0, .nmarg = 1, .gamma = 0.5,
                 .estimators = (1u << OPE_NEST) - 1, .bootstrap = 0, .seed = 1, .level = 0.95};
    errctx e;
    ope_acc *acc = ope_acc_new(&c, &e);
    double edges[1] = {0.5};
    check(ope_acc_set_edges(acc, 0, edges, 1, &e) == 0, "edges");
    ope_episode A = {2, a, mu, pi, q, r, x}, B = {1, a + 2, mu + 2, pi + 4, q + 4, r + 2, x + 2};
    ope_acc_add(acc, &A);
    ope_acc_add(acc, &B);
    ope_result *res;
    int n;
    check(ope_acc_finish(acc, &res, &n, &e) == 0, "finish");
    check(n == OPE_NEST, "%d results", n);
    for (int k = 0; k < n; k++)
        check(res[k].est == k, "result %d is %s", k, ope_est_name(res[k].est));
    check_close(val(res, n, OPE_BEHAVIOR, 0), 3.0, 1e-12, 0, "behavior");
    check_close(val(res, n, OPE_ONESTEP, 0), 2.6, 1e-12, 0, "onestep");
    check_close(val(res, n, OPE_TIS, 0), 4.0, 1e-12, 0, "tis");
    check_close(val(res, n, OPE_PDIS, 0), 3.2, 1e-12, 0, "pdis");
    check_close(val(res, n, OPE_WPDIS, 0), 1.6 + 3.2 / 3.6, 1e-12, 0, "wpdis");
    check_close(val(res, n, OPE_SMIS, 0), 1.6 + 3.2 / 3.6, 1e-12, 0, "smis");
    check_close(val(res, n, OPE_DR, 0), 3.2, 1e-12, 0, "dr");
    /* behavior: terms 2 and 4, sd sqrt(2), se 1; tis: W = 3.2, 0.4, ess 3.6^2 / 10.4 */
    check_close(find(res, n, OPE_BEHAVIOR, 0)->se, 1.0, 1e-12, 0, "behavior se");
    check_close(find(res, n, OPE_BEHAVIOR, 0)->ess, 2.0, 0, 0, "behavior ess");
    check_close(find(res, n, OPE_TIS, 0)->ess, 3.6 * 3.6 / 10.4, 1e-12, 0, "tis ess");
    /* onestep ess: step 0 rho 1.6, 0.4: 4/2.72; step 1: 2 and 1 (B ended): 9/5 */
    check_close(find(res, n, OPE_ONESTEP, 0)->ess, (4 / 2.72 + 9.0 / 5) / 2, 1e-12, 0, "onestep ess");
    /* the normal interval of a mean without bootstrap; none for the ratios */
    const ope_result *b = find(res, n, OPE_BEHAVIOR, 0);
    check_close(b->lo, 3 - 1.959963985, 1e-8, 0, "behavior ci_low");
    check_close(b->hi, 3 + 1.959963985, 1e-8, 0, "behavior ci_high");
    check(isnan(find(res, n, OPE_SMIS, 0)->se) && isnan(find(res, n, OPE_SMIS, 0)->lo), "smis has no se without bootstrap");
    free(res);
    ope_acc_free(acc);

    /* the no-choice rule: a row logged with propensity 1 weighs 1 */
    c.estimators = 1u << OPE_PDIS;
    c.dr_obj = -1;
    double mu1[1] = {1}, pi1[2] = {0.3, 0.7}, r1[1] = {5}, x1[1] = {0};
    int a1[1] = {0};
    ope_episode E1 = {1, a1, mu1, pi1, NULL, r1, x1};
    for (int strict = 0; strict < 2; strict++) {
        c.strict_ratio = strict;
        acc = ope_acc_new(&c, &e);
        ope_acc_add(acc, &E1);
        ope_acc_finish(acc, &res, &n, &e);
        check(n == 1 && res[0].est == OPE_PDIS, "pdis only");
        check_close(res[0].value, strict ? 1.5 : 5.0, 1e-12, 0, strict ? "strict ratio" : "no-choice row");
        free(res);
        ope_acc_free(acc);
    }
}

/* ---- pi = mu ---- */

static void test_on_policy(void)
{
    data d;
    gen(&d, 11, 3000, MU, 0);
    int n;
    ope_cfg c = base_cfg(50);
    c.dr_obj = -1;
    ope_result *res = run(&d, c, 0, 0, &n);
    for (int o = 0; o < 2; o++) {
        double beh = val(res, n, OPE_BEHAVIOR, o);
        /* every weight is exactly 1: the means are the same sums */
        check(val(res, n, OPE_ONESTEP, o) == beh, "onestep == behavior (obj %d)", o);
        check(val(res, n, OPE_TIS, o) == beh, "tis == behavior (obj %d)", o);
        check(val(res, n, OPE_PDIS, o) == beh, "pdis == behavior (obj %d)", o);
        /* the ratios sum by step rather than by episode */
        check_close(val(res, n, OPE_WPDIS, o), beh, 1e-12, 1e-12, "wpdis == behavior");
        check_close(val(res, n, OPE_SMIS, o), beh, 1e-12, 1e-12, "smis == behavior");
        for (int k = OPE_ONESTEP; k <= OPE_SMIS; k++)
            check(find(res, n, k, o)->ess == (double)d.neps, "%s ess is N exactly", ope_est_name(k));
    }
    free(res);
    data_free(&d);
}

/* ---- SMIS against the explicit marginalized-IS formula ---- */

/* d_{t+1} = d_t P_t with the estimated transition matrices of pi, the
 * done state (index NS) absorbing, value sum_t g^t (d_t . r_t) / (d_t . w_t). */
static double mis_brute(const data *d, int obj, double gamma)
{
    int T = 0;
    for (int k = 0; k < d->neps; k++)
        T = d->start[k + 1] - d->start[k] > T ? d->start[k + 1] - d->start[k] : T;
    double N = d->neps, dist[NS + 1] = {0}, v = 0, g = 1;
    for (int k = 0; k < d->neps; k++)
        dist[d->s[d->start[k]]] += 1 / N;
    for (int t = 0; t < T; t++, g *= gamma) {
        double cnt[NS + 1] = {0}, rsum[NS + 1] = {0}, wsum[NS + 1] = {0}, Pm[NS + 1][NS + 1] = {{0}};
        for (int k = 0; k < d->neps; k++) {
            int len = d->start[k + 1] - d->start[k], i = d->start[k] + t;
            if (t >= len) {
                cnt[NS] += 1;
                wsum[NS] += 1;
                Pm[NS][NS] += 1;
                continue;
            }
            int s = d->s[i];
            double rho = d->pi[2 * i + d->a[i]] / d->mu[i];
            cnt[s] += 1;
            wsum[s] += rho;
            rsum[s] += rho * d->r[2 * i + obj];
            Pm[s][t + 1 < len ? d->s[i + 1] : NS] += rho;
        }
        double num = 0, den = 0, next[NS + 1] = {0};
        for (int s = 0; s <= NS; s++) {
            if (cnt[s] == 0)
                continue;
            num += dist[s] * rsum[s] / cnt[s];
            den += dist[s] * wsum[s] / cnt[s];
            for (int s2 = 0; s2 <= NS; s2++)
                next[s2] += dist[s] * Pm[s][s2] / cnt[s];
        }
        v += g * num / den;
        memcpy(dist, next, sizeof dist);
    }
    return v;
}

static void test_smis_brute(void)
{
    for (int rep = 0; rep < 3; rep++) {
        data d;
        gen(&d, 100 + (uint64_t)rep, 400 + 300 * rep, PI, 0);
        int n;
        ope_cfg c = base_cfg(0);
        c.gamma = rep == 1 ? 0.9 : 1;
        c.dr_obj = -1;
        ope_result *res = run(&d, c, 0, 0, &n);
        for (int o = 0; o < 2; o++) {
            char what[64];
            snprintf(what, sizeof what, "smis recursion == explicit MIS (data %d, obj %d)", rep, o);
            check_close(val(res, n, OPE_SMIS, o), mis_brute(&d, o, c.gamma), 1e-12, 1e-10, what);
        }
        free(res);
        data_free(&d);
    }
}

/* ---- unbiasedness: the truth from dynamic programming ---- */

static void test_unbiased(void)
{
    double V[H + 1][NS];
    dp_values(PI, 0, 1, V, Qpi);
    data d;
    gen(&d, 5, 40000, PI, 1);
    int n;
    ope_result *res = run(&d, base_cfg(200), 0, 1, &n);
    static const int ests[] = {OPE_TIS, OPE_PDIS, OPE_WPDIS, OPE_SMIS, OPE_DR};
    for (int o = 0; o < 2; o++) {
        double truth = true_value(PI, o, 1);
        for (size_t k = 0; k < sizeof ests / sizeof *ests; k++) {
            const ope_result *r = find(res, n, ests[k], o);
            if (!r)
                continue; /* dr only for objective 0 */
            check(fabs(r->value - truth) < 4 * r->se, "%s objective %d: %.5f vs truth %.5f (se %.5f)",
                  ope_est_name(ests[k]), o, r->value, truth, r->se);
            check(r->lo < truth && truth < r->hi, "%s objective %d: interval [%.5f, %.5f] misses %.5f",
                  ope_est_name(ests[k]), o, r->lo, r->hi, truth);
        }
        /* one-step ignores the changed state distribution: visibly biased here */
        const ope_result *one = find(res, n, OPE_ONESTEP, o);
        check(fabs(one->value - truth) > 4 * one->se, "onestep objective %d should be biased: %.5f vs %.5f",
              o, one->value, truth);
    }
    /* the behaviour estimate is the logging policy's true value */
    const ope_result *b = find(res, n, OPE_BEHAVIOR, 0);
    check(fabs(b->value - true_value(MU, 0, 1)) < 4 * b->se, "behavior %.5f vs %.5f", b->value,
          true_value(MU, 0, 1));
    /* an exact value model makes DR's variance smaller than PDIS's */
    check(find(res, n, OPE_DR, 0)->se < 0.5 * find(res, n, OPE_PDIS, 0)->se, "dr se %.5f vs pdis se %.5f",
          find(res, n, OPE_DR, 0)->se, find(res, n, OPE_PDIS, 0)->se);
    free(res);
    /* a zero value model makes DR PDIS exactly */
    for (int i = 0; i < 2 * d.n; i++)
        d.q[i] = 0;
    res = run(&d, base_cfg(0), 0, 1, &n);
    check_close(val(res, n, OPE_DR, 0), val(res, n, OPE_PDIS, 0), 1e-12, 1e-12, "dr with Q = 0 is pdis");
    free(res);
    data_free(&d);
}

/* ---- special cases ---- */

static void test_special(void)
{
    /* one bin, no episode ending early: the self-normalised one-step */
    data d;
    memset(&d, 0, sizeof d);
    rng g;
    rng_init(&g, 3, 0);
    for (int i = 0; i < 500; i++) {
        data_begin(&d);
        int s = draw(&g, D0, NS);
        for (int t = 0; t < 4; t++) {
            int a = draw(&g, MU[s], 2);
            data_row(&d, s, a, MU[s][a], PI[s], NULL, RW[s][a], a);
            d.start[d.neps] = d.n;
            s = draw(&g, P[s][a], NS);
        }
    }
    int n;
    ope_cfg c = base_cfg(0);
    c.dr_obj = -1;
    c.gamma = 0.8;
    ope_result *res = run(&d, c, 1, 0, &n);
    for (int o = 0; o < 2; o++) {
        double v = 0, gt = 1;
        for (int t = 0; t < 4; t++, gt *= 0.8) {
            double num = 0, den = 0;
            for (int k = 0; k < d.neps; k++) {
                int i = d.start[k] + t;
                double rho = d.pi[2 * i + d.a[i]] / d.mu[i];
                num += rho * d.r[2 * i + o];
                den += rho;
            }
            v += gt * num / den;
        }
        check_close(val(res, n, OPE_SMIS, o), v, 1e-12, 1e-12, "smis with one bin = self-normalised one-step");
    }
    free(res);
    /* no marginal feature at all is one bin too */
    c.nmarg = 0;
    res = run(&d, c, 1, 0, &n);
    double one_bin = val(res, n, OPE_SMIS, 0);
    free(res);
    c.nmarg = 1;
    res = run(&d, c, 1, 0, &n);
    check(val(res, n, OPE_SMIS, 0) == one_bin, "nmarg 0 == one bin");
    free(res);
    data_free(&d);

    /* one step: smis = wpdis = weighted IS; tis = pdis = onestep */
    data one;
    memset(&one, 0, sizeof one);
    gen(&d, 9, 800, PI, 0);
    for (int k = 0; k < d.neps; k++) {
        int i = d.start[k];
        data_begin(&one);
        data_row(&one, d.s[i], d.a[i], d.mu[i], d.pi + 2 * i, NULL, d.r[2 * i], d.r[2 * i + 1]);
        one.start[one.neps] = one.n;
    }
    res = run(&one, c, 0, 0, &n);
    for (int o = 0; o < 2; o++) {
        double num = 0, den = 0;
        for (int i = 0; i < one.n; i++) {
            double rho = one.pi[2 * i + one.a[i]] / one.mu[i];
            num += rho * one.r[2 * i + o];
            den += rho;
        }
        check_close(val(res, n, OPE_SMIS, o), num / den, 1e-12, 1e-12, "one step: smis = weighted IS");
        check_close(val(res, n, OPE_WPDIS, o), num / den, 1e-12, 1e-12, "one step: wpdis = weighted IS");
        check(val(res, n, OPE_TIS, o) == val(res, n, OPE_PDIS, o), "one step: tis == pdis");
        check(val(res, n, OPE_ONESTEP, o) == val(res, n, OPE_PDIS, o), "one step: onestep == pdis");
    }
    free(res);
    data_free(&one);
    data_free(&d);
}

/* ---- bootstrap coverage ---- */

static void test_coverage(void)
{
    const int sets = 300;
    int cover[OPE_NEST] = {0}, total = 0;
    double truth = true_value(PI, 0, 1);
    for (int k = 0; k < sets; k++) {
        data d;
        gen(&d, 1000 + (uint64_t)k, 300, PI, 0);
        int n;
        ope_cfg c = base_cfg(200);
        c.dr_obj = -1;
        c.seed = 5000 + (uint64_t)k;
        ope_result *res = run(&d, c, 0, 0, &n);
        for (int e = OPE_TIS; e <= OPE_SMIS; e++) {
            const ope_result *r = find(res, n, e, 0);
            cover[e] += r->lo <= truth && truth <= r->hi;
        }
        total++;
        free(res);
        data_free(&d);
    }
    /* 95% nominal; 300 sets give a binomial sd of 1.3 points.  The
     * percentile interval of skewed IS weights undercovers a little. */
    for (int e = OPE_PDIS; e <= OPE_SMIS; e++) {
        double rate = (double)cover[e] / total;
        check(rate >= 0.90 && rate <= 0.99, "%s bootstrap interval covers the truth in %.3f of data sets",
              ope_est_name(e), rate);
    }
    printf("test_ope: bootstrap coverage at 95%% over %d data sets: tis %.3f pdis %.3f wpdis %.3f smis %.3f\n",
           total, (double)cover[OPE_TIS] / total, (double)cover[OPE_PDIS] / total,
           (double)cover[OPE_WPDIS] / total, (double)cover[OPE_SMIS] / total);
    double tis = (double)cover[OPE_TIS] / total;
    check(tis >= 0.85 && tis <= 0.99, "tis covers in %.3f", tis);
}

/* ---- the point estimate does not depend on the bootstrap ---- */

static void test_bootstrap_invariance(void)
{
    data d;
    gen(&d, 77, 1000, PI, 0);
    int n0, n1;
    ope_cfg c = base_cfg(0);
    c.dr_obj = -1;
    ope_result *a = run(&d, c, 0, 0, &n0);
    c.bootstrap = 37;
    ope_result *b = run(&d, c, 0, 0, &n1);
    check(n0 == n1, "same results");
    for (int i = 0; i < n0 && i < n1; i++) {
        check(a[i].value == b[i].value, "%s value changed with the bootstrap", ope_est_name(a[i].est));
        check(a[i].ess == b[i].ess, "%s ess changed with the bootstrap", ope_est_name(a[i].est));
        check(b[i].lo <= b[i].hi, "interval ordered");
    }
    free(a);
    free(b);
    data_free(&d);
}

/* ---- edges ---- */

static void test_edges(void)
{
    double v[10] = {5, 1, 2, 2, 2, 3, 9, 4, 2, 7}, edges[8];
    /* sorted 1 2 2 2 2 3 4 5 7 9; ranks 2, 5, 7 of 4 bins: 2, 3, 5 */
    int ne = ope_fit_edges(v, 10, 4, OPE_QUANTILE, edges);
    check(ne == 3 && edges[0] == 2 && edges[1] == 3 && edges[2] == 5, "quantile edges: %d", ne);
    /* ranks 2, 4, 6, 8 of 5 bins give 2, 2, 4, 7: the repeat is dropped */
    ne = ope_fit_edges(v, 10, 5, OPE_QUANTILE, edges);
    check(ne == 3 && edges[0] == 2 && edges[1] == 4 && edges[2] == 7, "quantile edges with ties: %d", ne);
    /* ranks 1..9 of 10 bins: the minimum (1) is no edge */
    double v1[10] = {1, 1, 1, 2, 2, 2, 2, 2, 3, 3};
    ne = ope_fit_edges(v1, 10, 10, OPE_QUANTILE, edges);
    check(ne == 2 && edges[0] == 2 && edges[1] == 3, "quantile edges of three values: %d", ne);
    double u[3] = {0, 10, 4};
    ne = ope_fit_edges(u, 3, 4, OPE_UNIFORM, edges);
    check(ne == 3 && edges[0] == 2.5 && edges[1] == 5 && edges[2] == 7.5, "uniform edges");
    double c0[3] = {1, 1, 1};
    check(ope_fit_edges(c0, 3, 4, OPE_QUANTILE, edges) == 0, "a constant has one bin");
    check(ope_fit_edges(c0, 3, 4, OPE_UNIFORM, edges) == 0, "a constant has one bin (uniform)");

    ope_cfg c = base_cfg(0);
    c.nmarg = 2;
    errctx e;
    ope_acc *acc = ope_acc_new(&c, &e);
    double e0[2] = {1, 2}, e1[1] = {0};
    ope_acc_set_edges(acc, 0, e0, 2, &e);
    ope_acc_set_edges(acc, 1, e1, 1, &e);
    check(ope_acc_nbins(acc) == 6, "3 x 2 bins");
    double x[2] = {1.5, -1}, y[2] = {2, 0}, z[2] = {0.9, 5};
    check(ope_acc_bin(acc, x) == 2, "bin of (1.5, -1)");
    check(ope_acc_bin(acc, y) == 5, "bin of (2, 0): an edge opens the bin above");
    check(ope_acc_bin(acc, z) == 1, "bin of (0.9, 5)");
    double bad[2] = {2, 1};
    check(ope_acc_set_edges(acc, 0, bad, 2, &e) < 0, "edges must increase");
    ope_acc_free(acc);

    unsigned mask;
    check(ope_est_parse("smis,tis", &mask, &e) == 0 && mask == ((1u << OPE_SMIS) | (1u << OPE_TIS)), "parse");
    check(ope_est_parse("smis,foo", &mask, &e) < 0 && strstr(e.msg, "'foo'"), "unknown estimator");
    check(ope_est_parse("all", &mask, &e) == 0 && mask == (1u << OPE_NEST) - 1, "all");
}

int main(void)
{
    test_hand();
    test_on_policy();
    test_smis_brute();
    test_unbiased();
    test_special();
    test_coverage();
    test_bootstrap_invariance();
    test_edges();
    return check_done("test_ope");
}
