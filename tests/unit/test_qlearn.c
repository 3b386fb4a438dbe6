/*
 * test_qlearn.c - offline Q-learning (qlearn.h): the Double DQN target and
 * the CQL(H) term of a minibatch worked out by hand; alpha = 0 is plain
 * Double DQN; central finite differences (in double, on an independent
 * reference) of the full loss with respect to the Q-network's weights;
 * a tabular MDP with full coverage whose learned Q matches value
 * iteration; the epsilon-greedy and softmax policies; loading and its
 * errors; divergence; byte-identical training for any thread count; the
 * model file round trip; and the committed sample data.
 *
 * The fatigue MDP below generates both the tabular test's data and
 * data-samples/transitions.tsv:
 *   test_qlearn --write-sample data-samples/transitions.tsv
 * rewrites the sample (60 episodes, seed 1), and a check here compares
 * the committed file with the generator.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arena.h"
#include "cli.h"
#include "nn_ref.h"
#include "qlearn.h"
#include "rng.h"
#include "check.h"
#include "tfiles.h"
#include "banned.h"

/* ---- the fatigue MDP ----------------------------------------------------
 *
 * State: fatigue f in 0..3, one-hot in s_0..s_3.  Action 1 sends a
 * notification, 0 drops it.  Each step the user visits with probability
 * VISIT[a][f] (r_visit = 1) and r_send = a; then the episode ends with
 * probability 0.1 (0.5 when sending at fatigue 3: the user disables
 * notifications); otherwise sending raises f by one (at most 3), and
 * dropping lowers it by one (at least 0) with probability 0.6.  Start
 * states are uniform; the logging policy is uniform (propensity 0.5). */
#define NS 4
static const double VISIT[2][NS] = {{0.30, 0.25, 0.20, 0.15}, {0.70, 0.55, 0.35, 0.15}};

static double end_prob(int f, int a)
{
    return a == 1 && f == NS - 1 ? 0.5 : 0.1;
}

/* P(f' | f, a), given that the episode continues. */
static void next_dist(int f, int a, double *p)
{
    memset(p, 0, NS * sizeof *p);
    if (a == 1) {
        p[f + 1 < NS ? f + 1 : NS - 1] = 1;
    } else {
        p[f > 0 ? f - 1 : 0] += 0.6;
        p[f] += 0.4;
    }
}

static void gen_mdp(FILE *out, uint64_t seed, int episodes)
{
    fputs("episode\tt\ts_0\ts_1\ts_2\ts_3\taction\tpropensity\tr_visit\tr_send\n", out);
    for (int ep = 0; ep < episodes; ep++) {
        rng r;
        rng_init(&r, seed, (uint64_t)ep);
        int f = (int)rng_below(&r, NS);
        for (int t = 0;; t++) {
            int a = (int)rng_below(&r, 2);
            int visit = rng_uniform(&r) < VISIT[a][f];
            fprintf(out, "e%04d\t%d\t%d\t%d\t%d\t%d\t%d\t0.5\t%d\t%d\n", ep, t, f == 0, f == 1, f == 2, f == 3, a, visit,
                    a);
            if (rng_uniform(&r) < end_prob(f, a))
                break;
            if (a == 1)
                f = f + 1 < NS ? f + 1 : NS - 1;
            else if (rng_uniform(&r) < 0.6)
                f = f > 0 ? f - 1 : 0;
        }
    }
}

/* Value iteration Q*(f, a) = R(f, a) + gamma sum_f' P(f', cont | f, a)
 * max_b Q*(f', b), from expected rewards R, continuation-weighted
 * transition probabilities P (NS x 2 x NS), to convergence. */
static void value_iteration(const double R[NS][2], const double P[NS][2][NS], double gamma, double Q[NS][2])
{
    memset(Q, 0, sizeof(double) * NS * 2);
    for (int it = 0; it < 10000; it++) {
        double V[NS], delta = 0;
        for (int f = 0; f < NS; f++)
            V[f] = fmax(Q[f][0], Q[f][1]);
        for (int f = 0; f < NS; f++)
            for (int a = 0; a < 2; a++) {
                double q = R[f][a];
                for (int g = 0; g < NS; g++)
                    q += gamma * P[f][a][g] * V[g];
                delta = fmax(delta, fabs(q - Q[f][a]));
                Q[f][a] = q;
            }
        if (delta < 1e-13)
            break;
    }
}

static void true_mdp(double w_visit, double w_send, double R[NS][2], double P[NS][2][NS])
{
    for (int f = 0; f < NS; f++)
        for (int a = 0; a < 2; a++) {
            R[f][a] = w_visit * VISIT[a][f] + w_send * a;
            double p[NS];
            next_dist(f, a, p);
            for (int g = 0; g < NS; g++)
                P[f][a][g] = (1 - end_prob(f, a)) * p[g];
        }
}

static int state_of(const qlearn_data *d, size_t i)
{
    for (int f = 0; f < NS; f++)
        if (d->s[i * NS + f] == 1)
            return f;
    return -1;
}

/* The MDP the data imply: mean rewards, next-state frequencies with
 * terminal rows counted as ending.  Q-learning with full coverage and a
 * squared loss converges to this MDP's Q*, sampling noise included. */
static void empirical_mdp(const qlearn_data *d, double R[NS][2], double P[NS][2][NS])
{
    double n[NS][2] = {{0}};
    memset(R, 0, sizeof(double) * NS * 2);
    memset(P, 0, sizeof(double) * NS * 2 * NS);
    for (size_t i = 0; i < d->n; i++) {
        int f = state_of(d, i), a = d->a[i];
        n[f][a]++;
        R[f][a] += d->r[i];
        if (!d->done[i])
            P[f][a][state_of(d, i + 1)]++;
    }
    for (int f = 0; f < NS; f++)
        for (int a = 0; a < 2; a++) {
            R[f][a] /= n[f][a];
            for (int g = 0; g < NS; g++)
                P[f][a][g] /= n[f][a];
        }
}

static void write_mdp_file(const char *path, uint64_t seed, int episodes)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        exit(2);
    }
    gen_mdp(f, seed, episodes);
    fclose(f);
}

static int load(qlearn_data *d, const char *path, const char *weights, int actions, errctx *e)
{
    qlearn_colspec spec;
    qlearn_colspec_defaults(&spec);
    qlearn_weights w;
    memset(&w, 0, sizeof w);
    if (weights && qlearn_weights_parse(weights, &w, e) < 0)
        return -1;
    int rc = qlearn_data_load(d, path, &spec, &w, actions, e);
    qlearn_weights_free(&w);
    return rc;
}

/* ---- the loss of a minibatch by hand ----------------------------------- */

/* Two features, two actions, no hidden layer: Q(s) = W s + b.
 *   online  W = [[1, 0], [0, 2]],      b = [0.5, -0.5]:  Q = [x0 + 0.5, 2 x1 - 0.5]
 *   target  W' = [[0.5, 0.5], [1, -1]], b' = [0, 0.1]:   Q' = [(x0 + x1)/2, x0 - x1 + 0.1]
 * Episode 1: rows 0, 1, 2 (row 2 terminal); episode 2: row 3 (terminal).
 *   row  s          a  r     dt
 *   0    (1, 2)     0  1     1
 *   1    (0.5, -1)  1  0     2
 *   2    (2, 0)     1  0.4   1
 *   3    (-1, 1)    0  -1    1
 * Targets, gamma 0.9:
 *   row 0: Q(s1) = [1, -2.5], online picks a* = 0; Q'(s1) = [-0.25, 1.6]
 *          (the target alone would pick 1: this is the Double DQN choice);
 *          y = 1 + 0.9 * -0.25 = 0.775
 *   row 1: Q(s2) = [2.5, -0.5], a* = 0; Q'(s2) = [1, 2.1]; dt = 2:
 *          y = 0 + 0.81 * 1 = 0.81
 *   row 2: terminal, y = 0.4;   row 3: terminal, y = -1
 * Q(s_i, a_i): 1.5, -2.5, -0.5, -0.5; residuals 0.725, -3.31, -0.9, 0.5;
 * Huber (delta 1): 0.5 r^2 inside, |r| - 0.5 beyond; derivative clamp(r). */
static void hand_model(qlearn_model *qm, float *wt)
{
    errctx e;
    const char *names[2] = {"s_a", "s_b"};
    check(qlearn_model_init(qm, 2, names, 2, "", NN_IDENTITY, &e) == 0, "linear model: %s", e.msg);
    check(qm->P.n == 6, "W (2, 2) and b (2)");
    const float w[6] = {1, 0, 0, 2, 0.5f, -0.5f}, t[6] = {0.5f, 0.5f, 1, -1, 0, 0.1f};
    memcpy(qm->P.w, w, sizeof w);
    memcpy(wt, t, sizeof t);
}

static void hand_data(qlearn_data *d)
{
    memset(d, 0, sizeof *d);
    static float s[8] = {1, 2, 0.5f, -1, 2, 0, -1, 1};
    static int32_t a[4] = {0, 1, 1, 0};
    static float r[4] = {1, 0, 0.4f, -1}, dt[4] = {1, 2, 1, 1};
    static uint8_t done[4] = {0, 0, 1, 1};
    d->s_dim = 2;
    d->n_actions = 2;
    d->n = 4;
    d->s = s;
    d->a = a;
    d->r = r;
    d->dt = dt;
    d->done = done;
}

static void test_hand(void)
{
    qlearn_model qm;
    float wt[6];
    hand_model(&qm, wt);
    qlearn_data d;
    hand_data(&d);
    arena A;
    arena_init(&A, qlearn_loss_bytes(&qm, 4));
    size_t idx[4] = {0, 1, 2, 3};
    const double y[4] = {0.775, 0.81, 0.4, -1};
    const double z[4] = {1.5, -2.5, -0.5, -0.5};
    const double qs[4][2] = {{1.5, 3.5}, {1, -2.5}, {2.5, -0.5}, {-0.5, 1.5}};
    const double xs[4][2] = {{1, 2}, {0.5, -1}, {2, 0}, {-1, 1}};
    double td[4], d1[4], gap[4], lse[4];
    for (int i = 0; i < 4; i++) {
        double res = z[i] - y[i];
        td[i] = fabs(res) <= 1 ? 0.5 * res * res : fabs(res) - 0.5;
        d1[i] = res > 1 ? 1 : res < -1 ? -1 : res;
        double m = fmax(qs[i][0], qs[i][1]);
        lse[i] = m + log(exp(qs[i][0] - m) + exp(qs[i][1] - m));
        gap[i] = lse[i] - z[i];
    }
    check_close(td[0], 0.2628125, 1e-12, 0, "row 0 Huber by hand");
    check_close(td[1], 2.81, 1e-12, 0, "row 1 beyond delta");
    check_close(gap[0], 2 + log1p(exp(-2)), 1e-12, 0, "row 0 CQL gap by hand");

    qlearn_loss_cfg lc = {.gamma = 0.9, .loss = {NN_LOSS_HUBER, 1.0}, .alpha = 0.5};
    float g[6] = {0};
    qlearn_stats st;
    double L = qlearn_loss(&qm, &lc, qm.P.w, wt, &d, idx, 4, 0.25, g, &st, &A);
    double want = 0, td_sum = 0, gap_sum = 0;
    for (int i = 0; i < 4; i++) {
        want += 0.25 * (td[i] + 0.5 * gap[i]);
        td_sum += td[i];
        gap_sum += gap[i];
    }
    check_close(L, want, 1e-6, 1e-6, "minibatch loss = mean of Huber + alpha gap");
    check_close(st.td, td_sum, 1e-6, 1e-6, "TD loss sum");
    check_close(st.gap, gap_sum, 1e-6, 1e-6, "CQL gap sum");
    check_close(st.q, -2.0, 1e-6, 0, "sum of Q(s, a_logged)");
    check(st.rows == 4 && st.next_rows == 2, "two rows bootstrap (%lld of %lld)", st.next_rows, st.rows);
    /* the gradient: dL/dQ_ib = 1/4 [d1_i [b = a_i] + alpha (p_ib - [b = a_i])],
     * dL/dW[b][k] = sum_i dQ_ib x_ik, dL/db_b = sum_i dQ_ib */
    const int acts[4] = {0, 1, 1, 0};
    double gw[6] = {0};
    for (int i = 0; i < 4; i++)
        for (int b = 0; b < 2; b++) {
            double p = exp(qs[i][b] - lse[i]);
            double dq = 0.25 * ((b == acts[i]) * d1[i] + 0.5 * (p - (b == acts[i])));
            gw[b * 2 + 0] += dq * xs[i][0];
            gw[b * 2 + 1] += dq * xs[i][1];
            gw[4 + b] += dq;
        }
    for (int k = 0; k < 6; k++)
        check_close(g[k], gw[k], 1e-6, 1e-5, "gradient by hand");

    /* the targets alone: with alpha 0 and MSE, dL/db_a = 1/4 sum 2 (z - y)
     * over the rows logging a; the bias of action 0 sees rows 0 and 3 */
    lc.alpha = 0;
    lc.loss.kind = NN_LOSS_MSE;
    memset(g, 0, sizeof g);
    L = qlearn_loss(&qm, &lc, qm.P.w, wt, &d, idx, 4, 0.25, g, NULL, &A);
    double mse = 0;
    for (int i = 0; i < 4; i++)
        mse += 0.25 * (z[i] - y[i]) * (z[i] - y[i]);
    check_close(L, mse, 1e-6, 1e-6, "MSE loss with the DDQN targets");
    check_close(g[4], 0.25 * 2 * ((1.5 - 0.775) + (-0.5 + 1)), 1e-6, 1e-6, "bias of action 0: targets 0.775 and -1");
    check_close(g[5], 0.25 * 2 * ((-2.5 - 0.81) + (-0.5 - 0.4)), 1e-6, 1e-6, "bias of action 1: targets 0.81 and 0.4");
    /* gamma 0: every target is the reward */
    lc.gamma = 0;
    memset(g, 0, sizeof g);
    qlearn_loss(&qm, &lc, qm.P.w, wt, &d, idx, 4, 0.25, g, NULL, &A);
    check_close(g[4], 0.25 * 2 * ((1.5 - 1) + (-0.5 + 1)), 1e-6, 1e-6, "gamma 0: y = r");
    /* a slice of the batch with scale 1/4 is that slice's share */
    lc.gamma = 0.9;
    double part = qlearn_loss(&qm, &lc, qm.P.w, wt, &d, idx + 1, 1, 0.25, NULL, NULL, &A);
    check_close(part, 0.25 * (z[1] - y[1]) * (z[1] - y[1]), 1e-6, 1e-6, "one row, dt 2: y = 0.81 * Q'(s2, 0)");
    check(A.used == 0, "scratch released");
    arena_free(&A);
    qlearn_model_free(&qm);
}

/* ---- alpha = 0 is plain Double DQN; the CQL term is alpha * gap ------- */

static void random_data(qlearn_data *d, int S, int A, int n, rng *r)
{
    memset(d, 0, sizeof *d);
    d->s_dim = S;
    d->n_actions = A;
    d->n = (size_t)n;
    d->s = malloc((size_t)n * S * sizeof(float));
    d->a = malloc((size_t)n * sizeof(int32_t));
    d->r = malloc((size_t)n * sizeof(float));
    d->dt = malloc((size_t)n * sizeof(float));
    d->done = malloc((size_t)n);
    ref_fill(r, d->s, (size_t)n * S, -2, 3);
    for (int i = 0; i < n; i++) {
        d->a[i] = (int32_t)rng_below(r, (uint64_t)A);
        d->r[i] = (float)(2 * rng_uniform(r) - 1);
        d->dt[i] = (float)(0.5 + rng_uniform(r) * 2);
        d->done[i] = i == n - 1 || rng_uniform(r) < 0.3;
    }
}

static void free_random_data(qlearn_data *d)
{
    free(d->s);
    free(d->a);
    free(d->r);
    free(d->dt);
    free(d->done);
}

/* Reference: the loss in double, written again from the equations, on the
 * double network of nn_ref.h.  The argmax of Q(s', .) is noted for kink
 * detection (a finite difference that changes it is skipped). */
typedef struct ref_ctx {
    const qlearn_model *qm;
    const qlearn_data *d;
    const double *wt;
    double gamma, alpha;
    nn_loss loss;
} ref_ctx;

/* The standardised inputs (n, S) of the states, or with next, (m, S) of
 * the next states of the m non-terminal rows (as the library, which never
 * evaluates a terminal row's successor). */
static double *ref_inputs(const qlearn_model *qm, const qlearn_data *d, int next, int *rows)
{
    int S = qm->s_dim, n = (int)d->n, m = 0;
    double *x = calloc((size_t)n * S, sizeof(double));
    for (int i = 0; i < n; i++) {
        if (next && d->done[i])
            continue;
        const float *s = d->s + (size_t)(i + next) * S;
        for (int j = 0; j < S; j++)
            x[(size_t)m * S + j] = ((double)s[j] - qm->norm_mean[j]) / qm->norm_std[j];
        m++;
    }
    *rows = m;
    return x;
}

static double ref_loss_fn(void *vctx, const double *w)
{
    const ref_ctx *c = vctx;
    const qlearn_model *qm = c->qm;
    const qlearn_data *d = c->d;
    int n = (int)d->n, A = qm->n_actions;
    int nnext;
    double *x = ref_inputs(qm, d, 0, &n), *xn = ref_inputs(qm, d, 1, &nnext);
    ref_cache c1, c2, c3;
    const double *q = ref_mlp_forward(&qm->net, w, x, n, &c1);
    const double *qn = ref_mlp_forward(&qm->net, w, xn, nnext, &c2);
    const double *qt = ref_mlp_forward(&qm->net, c->wt, xn, nnext, &c3);
    double total = 0;
    for (int i = 0, j = 0; i < n; i++) {
        double y = d->r[i];
        if (!d->done[i]) {
            int best = 0;
            for (int b = 1; b < A; b++)
                if (qn[(size_t)j * A + b] > qn[(size_t)j * A + best])
                    best = b;
            ref_note(best);
            y += pow(c->gamma, d->dt[i]) * qt[(size_t)j * A + best];
            j++;
        }
        double z = q[(size_t)i * A + d->a[i]], m = q[(size_t)i * A], s = 0;
        for (int b = 1; b < A; b++)
            m = fmax(m, q[(size_t)i * A + b]);
        for (int b = 0; b < A; b++)
            s += exp(q[(size_t)i * A + b] - m);
        total += ref_loss(&c->loss, z, y) + c->alpha * (m + log(s) - z);
    }
    ref_cache_free(&qm->net, &c1);
    ref_cache_free(&qm->net, &c2);
    ref_cache_free(&qm->net, &c3);
    free(x);
    free(xn);
    return total / n;
}

static void fd_case(nn_act act, nn_loss_kind kind, double alpha, const char *what)
{
    errctx e;
    enum { S = 3, NA = 3, N = 12 };
    const char *names[S] = {"s_0", "s_1", "s_2"};
    qlearn_model qm;
    check(qlearn_model_init(&qm, S, names, NA, "5,4", act, &e) == 0, "model: %s", e.msg);
    rng r;
    rng_init(&r, 77, (uint64_t)act * 10 + (uint64_t)kind);
    qlearn_data d;
    random_data(&d, S, NA, N, &r);
    size_t np = qm.P.n;
    float *wt = malloc(np * sizeof(float));
    /* biases too: zero biases put relu units exactly at their kink */
    ref_fill(&r, qm.P.w, np, -0.8, 0.8);
    ref_fill(&r, wt, np, -0.8, 0.8);
    /* a standardisation that does something */
    qlearn_fit_norm(&qm, &d);
    check(qm.norm_std[0] != 1 && qm.norm_mean[0] != 0, "fitted standardisation");
    size_t idx[N];
    for (int i = 0; i < N; i++)
        idx[i] = (size_t)i;
    arena A;
    arena_init(&A, qlearn_loss_bytes(&qm, N));
    qlearn_loss_cfg lc = {.gamma = 0.8, .loss = {kind, 1.0}, .alpha = alpha};
    float *g = calloc(np, sizeof(float));
    double L = qlearn_loss(&qm, &lc, qm.P.w, wt, &d, idx, N, 1.0 / N, g, NULL, &A);
    double *wd = ref_dup(qm.P.w, np), *wtd = ref_dup(wt, np);
    ref_ctx c = {&qm, &d, wtd, lc.gamma, alpha, lc.loss};
    double Lref = ref_loss_fn(&c, wd);
    char label[128];
    snprintf(label, sizeof label, "%s: loss against the double reference", what);
    check_close(L, Lref, 1e-6, 1e-5, label);
    fd_report rep = ref_fd_check(ref_loss_fn, &c, wd, g, np, 1e-5, 2e-6, 2e-4);
    snprintf(label, sizeof label, "%s: gradient against finite differences", what);
    check_fd(rep, label);
    free(wd);
    free(wtd);
    free(g);
    free(wt);
    arena_free(&A);
    free_random_data(&d);
    qlearn_model_free(&qm);
}

static void test_alpha_zero(void)
{
    /* alpha = 0: the loss and gradient are the TD part alone, computed by
     * the reference without its CQL term; and L(alpha) - L(0) = alpha *
     * mean gap, dL(alpha) - dL(0) = alpha * d(mean gap) */
    errctx e;
    enum { S = 3, NA = 3, N = 16 };
    const char *names[S] = {"s_0", "s_1", "s_2"};
    qlearn_model qm;
    check(qlearn_model_init(&qm, S, names, NA, "6", NN_TANH, &e) == 0, "model: %s", e.msg);
    rng r;
    rng_init(&r, 78, 0);
    qlearn_data d;
    random_data(&d, S, NA, N, &r);
    qlearn_model_init_weights(&qm, 6);
    size_t np = qm.P.n;
    float *wt = malloc(np * sizeof(float));
    ref_fill(&r, wt, np, -0.8, 0.8);
    size_t idx[N];
    for (int i = 0; i < N; i++)
        idx[i] = (size_t)i;
    arena A;
    arena_init(&A, qlearn_loss_bytes(&qm, N));
    float *g0 = calloc(np, sizeof(float)), *g2 = calloc(np, sizeof(float));
    qlearn_loss_cfg lc = {.gamma = 0.95, .loss = {NN_LOSS_HUBER, 1.0}, .alpha = 0};
    qlearn_stats st0, st2;
    double L0 = qlearn_loss(&qm, &lc, qm.P.w, wt, &d, idx, N, 1.0 / N, g0, &st0, &A);
    lc.alpha = 2;
    double L2 = qlearn_loss(&qm, &lc, qm.P.w, wt, &d, idx, N, 1.0 / N, g2, &st2, &A);
    double *wd = ref_dup(qm.P.w, np), *wtd = ref_dup(wt, np);
    ref_ctx c = {&qm, &d, wtd, 0.95, 0, {NN_LOSS_HUBER, 1.0}};
    check_close(L0, ref_loss_fn(&c, wd), 1e-6, 1e-5, "alpha 0: the plain Double DQN loss");
    check_close(L0, st0.td / N, 1e-9, 1e-9, "alpha 0: the loss is the TD loss");
    check_close(L2 - L0, 2 * st0.gap / N, 1e-6, 1e-5, "the CQL term is alpha times the mean gap");
    check(st0.td == st2.td && st0.gap == st2.gap, "alpha does not change the targets or the gap");
    fd_report rep = ref_fd_check(ref_loss_fn, &c, wd, g0, np, 1e-5, 2e-6, 2e-4);
    check_fd(rep, "alpha 0: gradient of plain Double DQN by finite differences");
    int differs = 0;
    for (size_t k = 0; k < np; k++)
        differs |= g0[k] != g2[k];
    check(differs, "alpha 2 changes the gradient");
    free(wd);
    free(wtd);
    free(g0);
    free(g2);
    free(wt);
    arena_free(&A);
    free_random_data(&d);
    qlearn_model_free(&qm);
}

static void test_fd(void)
{
    fd_case(NN_TANH, NN_LOSS_HUBER, 0.7, "tanh, Huber, alpha 0.7");
    fd_case(NN_RELU, NN_LOSS_MSE, 1.5, "relu, MSE, alpha 1.5");
    fd_case(NN_SIGMOID, NN_LOSS_HUBER, 0, "sigmoid, Huber, alpha 0");
}

/* ---- the tabular MDP -------------------------------------------------- */

static double max_err(const double Q[NS][2], const qlearn_model *qm, arena *A)
{
    float s[NS * NS] = {0}, q[NS * 2];
    for (int f = 0; f < NS; f++)
        s[f * NS + f] = 1;
    qlearn_q(qm, qm->P.w, s, NS, q, A);
    double worst = 0;
    for (int f = 0; f < NS; f++)
        for (int a = 0; a < 2; a++)
            worst = fmax(worst, fabs(q[f * 2 + a] - Q[f][a]));
    return worst;
}

static void train_cfg(qlearn_train_cfg *tc)
{
    memset(tc, 0, sizeof *tc);
    tc->lc.gamma = 0.9;
    tc->lc.loss.kind = NN_LOSS_MSE;
    tc->lc.loss.delta = 1;
    tc->lc.alpha = 0;
    tc->lr = 0.0005;
    tc->clip = 10;
    tc->steps = 5000;
    tc->batch = 2048;
    tc->target_every = 50;
    tc->seed = 3;
    tc->threads = 2;
}

/* 4000 episodes (about 30,000 transitions) of the fatigue MDP, every
 * (state, action) pair logged thousands of times; weights r_visit = 1,
 * r_send = -0.05, gamma 0.9, alpha 0, squared loss, a 32-unit relu layer
 * on the one-hot states; 5000 steps of 2048 transitions.  The learned Q
 * converges to the Q* of the MDP the data imply (the fixed point of the
 * sampled Bellman operator); what remains is optimisation noise, which
 * bootstrapping amplifies by about 1 / (1 - gamma (1 - 0.1)) = 5.3: over
 * training seeds the largest error over the 8 entries is 0.015 to 0.045,
 * hence the tolerance 0.05 (Q* ranges from 0.76 to 2.3).  Against the
 * true MDP the sampling error of the data adds about 0.04: tolerance 0.1. */
static void test_tabular(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s", tpath("mdp.tsv"));
    write_mdp_file(path, 11, 4000);
    errctx e;
    qlearn_data d;
    check(load(&d, path, "r_visit=1,r_send=-0.05", 2, &e) == 0, "load the MDP: %s", e.msg);
    check(d.nepisodes == 4000, "4000 episodes (%zu)", d.nepisodes);
    double Rt[NS][2], Pt[NS][2][NS], Re[NS][2], Pe[NS][2][NS], Qt[NS][2], Qe[NS][2];
    true_mdp(1, -0.05, Rt, Pt);
    empirical_mdp(&d, Re, Pe);
    value_iteration(Rt, Pt, 0.9, Qt);
    value_iteration(Re, Pe, 0.9, Qe);
    double gap_tv = 0;
    for (int f = 0; f < NS; f++)
        for (int a = 0; a < 2; a++)
            gap_tv = fmax(gap_tv, fabs(Qt[f][a] - Qe[f][a]));

    qlearn_model qm;
    check(qlearn_model_init(&qm, NS, (const char *const *)d.state_names, 2, "32", NN_RELU, &e) == 0, "model: %s",
          e.msg);
    qlearn_model_init_weights(&qm, 3);
    qlearn_train_cfg tc;
    train_cfg(&tc);
    cli_verbosity = -1;
    qlearn_train_result res;
    check(qlearn_train(&qm, &d, &tc, &res, &e) == 0, "train: %s", e.msg);
    arena A;
    arena_init(&A, qlearn_q_bytes(&qm, NS));
    double err_e = max_err(Qe, &qm, &A), err_t = max_err(Qt, &qm, &A);
    if (getenv("NN_TEST_VERBOSE")) {
        fprintf(stderr, "tabular MDP: max |Q - Q*| %.4g against the empirical MDP, %.4g against the true one "
                        "(the two Q* differ by %.4g)\n", err_e, err_t, gap_tv);
        for (int f = 0; f < NS; f++)
            fprintf(stderr, "  f=%d  Q*=(%.4f, %.4f)  Q*emp=(%.4f, %.4f)\n", f, Qt[f][0], Qt[f][1], Qe[f][0], Qe[f][1]);
    }
    check(err_e <= 0.05, "learned Q within 0.05 of value iteration on the empirical MDP (max error %.4g)", err_e);
    check(err_t <= 0.1, "learned Q within 0.1 of value iteration on the true MDP (max error %.4g)", err_t);
    /* the greedy policy is the optimal one */
    float s[NS] = {0}, q[2];
    int same = 1;
    for (int f = 0; f < NS; f++) {
        memset(s, 0, sizeof s);
        s[f] = 1;
        qlearn_q(&qm, qm.P.w, s, 1, q, &A);
        same &= qlearn_argmax(q, 2) == (Qt[f][1] > Qt[f][0]);
    }
    check(same, "the greedy action of every state is optimal");

    /* CQL is conservative: with alpha > 0 the learned values of the
     * logged data fall below those of plain DDQN, and the gap shrinks */
    qlearn_model qc;
    qlearn_model_init(&qc, NS, (const char *const *)d.state_names, 2, "32", NN_RELU, &e);
    qlearn_model_init_weights(&qc, 3);
    tc.lc.alpha = 1;
    qlearn_train_result rc;
    check(qlearn_train(&qc, &d, &tc, &rc, &e) == 0, "train with CQL: %s", e.msg);
    check(rc.gap < res.gap, "CQL shrinks the gap (%.4g < %.4g)", rc.gap, res.gap);
    check(rc.q < res.q, "CQL lowers the mean Q of logged actions (%.4g < %.4g)", rc.q, res.q);

    /* Polyak averaging also converges */
    qlearn_model qp;
    qlearn_model_init(&qp, NS, (const char *const *)d.state_names, 2, "32", NN_RELU, &e);
    qlearn_model_init_weights(&qp, 3);
    tc.lc.alpha = 0;
    tc.tau = 0.02;
    check(qlearn_train(&qp, &d, &tc, &rc, &e) == 0, "train with Polyak: %s", e.msg);
    double err_p = max_err(Qe, &qp, &A);
    check(err_p <= 0.05, "Polyak target: within 0.05 of the empirical Q* (max error %.4g)", err_p);
    cli_verbosity = 0;
    arena_free(&A);
    qlearn_model_free(&qm);
    qlearn_model_free(&qc);
    qlearn_model_free(&qp);
    qlearn_data_free(&d);
}

/* ---- determinism, divergence ------------------------------------------ */

static void test_threads(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s", tpath("small.tsv"));
    write_mdp_file(path, 12, 60);
    errctx e;
    qlearn_data d;
    check(load(&d, path, NULL, 2, &e) == 0, "load: %s", e.msg);
    float *w[3];
    for (int k = 0; k < 3; k++) {
        qlearn_model qm;
        qlearn_model_init(&qm, NS, (const char *const *)d.state_names, 2, "16,16", NN_TANH, &e);
        qlearn_model_init_weights(&qm, 9);
        qlearn_train_cfg tc;
        train_cfg(&tc);
        tc.steps = 60;
        tc.batch = 100; /* not a multiple of the 8 slices */
        tc.lc.alpha = 0.5;
        tc.lc.loss.kind = NN_LOSS_HUBER;
        tc.threads = k + 1;
        cli_verbosity = -1;
        qlearn_train_result res;
        check(qlearn_train(&qm, &d, &tc, &res, &e) == 0, "train: %s", e.msg);
        cli_verbosity = 0;
        w[k] = malloc(qm.P.n * sizeof(float));
        memcpy(w[k], qm.P.w, qm.P.n * sizeof(float));
        check(memcmp(w[k], w[0], qm.P.n * sizeof(float)) == 0, "%d threads: the same weights as 1", k + 1);
        qlearn_model_free(&qm);
    }
    for (int k = 0; k < 3; k++)
        free(w[k]);
    qlearn_data_free(&d);
}

static void test_diverge(void)
{
    /* rewards near the float limit with a squared loss: the gradient of
     * the output bias overflows on the first step */
    char path[512];
    snprintf(path, sizeof path, "%s", tpath("huge.tsv"));
    write_text(path, "episode\tt\ts_0\taction\tpropensity\tr_a\tr_b\n"
                     "e1\t0\t1\t0\t0.5\t1e38\t1e38\n"
                     "e1\t1\t2\t1\t0.5\t1e38\t1e38\n"
                     "e2\t0\t0\t1\t0.5\t1e38\t1e38\n");
    errctx e;
    qlearn_data d;
    check(load(&d, path, NULL, 2, &e) == 0, "load: %s", e.msg);
    qlearn_model qm;
    qlearn_model_init(&qm, 1, (const char *const *)d.state_names, 2, "4", NN_RELU, &e);
    qlearn_model_init_weights(&qm, 1);
    qlearn_train_cfg tc;
    train_cfg(&tc);
    tc.steps = 10;
    tc.batch = 64;
    cli_verbosity = -1;
    qlearn_train_result res;
    int rc = qlearn_train(&qm, &d, &tc, &res, &e);
    cli_verbosity = 0;
    check(rc < 0 && strstr(e.msg, "training diverged") && strstr(e.msg, "at step 1;"),
          "divergence is reported with its step: %s", e.msg);
    qlearn_model_free(&qm);
    qlearn_data_free(&d);
}

/* ---- loading ------------------------------------------------------------ */

#define HEAD "episode\tt\ts_0\ts_1\taction\tpropensity\tr_visit\tr_send\n"

static void expect_error(const char *name, const char *text, const char *weights, const char *want)
{
    char path[512];
    snprintf(path, sizeof path, "%s", tpath(name));
    write_text(path, text);
    errctx e;
    qlearn_data d;
    int rc = load(&d, path, weights, 2, &e);
    check(rc < 0 && strstr(e.msg, want), "%s: want '%s', got '%s'", name, want, rc < 0 ? e.msg : "success");
}

static void test_load(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s", tpath("ok.tsv"));
    write_text(path, "episode\tt\ts_0\ts_1\taction\tpropensity\tr_visit\tr_send\tdt\tother\n"
                     "a\t1\t0.5\t1\t1\t0.25\t1\t1\t2\tx\n"
                     "a\t3\t0.5\t2\t0\t1\t0\t0\t1.5\ty\n"
                     "b\t0\t1\t0\t1\t0.5\t1\t1\t1\tz\n");
    errctx e;
    qlearn_data d;
    check(load(&d, path, "r_send=-0.05,r_visit=1", 2, &e) == 0, "load: %s", e.msg);
    check(d.n == 3 && d.nepisodes == 2 && d.s_dim == 2 && d.n_rewards == 2, "3 transitions, 2 episodes");
    check(d.done[0] == 0 && d.done[1] == 1 && d.done[2] == 1, "the last row of each episode is terminal");
    check_close(d.r[0], 0.95, 1e-7, 0, "weighted reward 1 - 0.05");
    check(d.r[1] == 0 && d.a[0] == 1 && d.a[1] == 0, "actions and rewards");
    check(d.dt[0] == 2 && d.dt[1] == 1.5f && d.dt_col && strcmp(d.dt_col, "dt") == 0, "dt read");
    check(d.weights[0] == 1 && d.weights[1] == -0.05, "weights by reward column");
    qlearn_data_free(&d);
    /* no dt column: dt 1; no --weights: every reward weighs 1; a reward not
     * named weighs 0 */
    snprintf(path, sizeof path, "%s", tpath("nodt.tsv"));
    write_text(path, HEAD "a\t1\t0\t1\t1\t0.5\t1\t1\n");
    check(load(&d, path, NULL, 2, &e) == 0 && d.dt[0] == 1 && d.r[0] == 2 && !d.dt_col, "defaults: dt 1, weights 1");
    qlearn_data_free(&d);
    check(load(&d, path, "r_send=3", 2, &e) == 0 && d.r[0] == 3, "unnamed rewards weigh 0");
    qlearn_data_free(&d);

    expect_error("action.tsv", HEAD "a\t1\t0\t1\t1\t0.5\t1\t1\na\t2\t0\t1\t2\t0.5\t1\t1\n", NULL,
                 "action.tsv:3: column 'action': action 2 is outside 0..1 (--actions 2)");
    expect_error("negaction.tsv", HEAD "a\t1\t0\t1\t-1\t0.5\t1\t1\n", NULL, "negaction.tsv:2: column 'action': action -1 is outside 0..1");
    expect_error("fraction.tsv", HEAD "a\t1\t0\t1\t0.5\t0.5\t1\t1\n", NULL,
                 "fraction.tsv:2: column 'action': cannot parse '0.5' as an integer");
    expect_error("prop0.tsv", HEAD "a\t1\t0\t1\t1\t0\t1\t1\n", NULL,
                 "prop0.tsv:2: column 'propensity': a propensity must be in (0, 1], not '0'");
    expect_error("prop2.tsv", HEAD "a\t1\t0\t1\t1\t1.5\t1\t1\n", NULL, "a propensity must be in (0, 1], not '1.5'");
    expect_error("order.tsv", HEAD "a\t1\t0\t1\t1\t0.5\t1\t1\nb\t1\t0\t1\t1\t0.5\t1\t1\na\t2\t0\t1\t1\t0.5\t1\t1\n",
                 NULL, "order.tsv:4: column 'episode': key 'a' appears again after other keys");
    expect_error("time.tsv", HEAD "a\t1\t0\t1\t1\t0.5\t1\t1\na\t5\t0\t1\t1\t0.5\t1\t1\na\t5\t0\t1\t1\t0.5\t1\t1\n", NULL,
                 "time.tsv:4: column 't': must increase within episode 'a': 5 follows 5");
    expect_error("nan.tsv", HEAD "a\t1\t0\t1\t1\t0.5\tnan\t1\n", NULL,
                 "nan.tsv:2: column 'r_visit': cannot parse 'nan' as a number: NaN and Inf are not accepted");
    expect_error("state.tsv", HEAD "a\t1\t\t1\t1\t0.5\t1\t1\n", NULL, "state.tsv:2: column 's_0': missing value");
    expect_error("dt.tsv", "episode\tt\ts_0\taction\tpropensity\tr_x\tdt\na\t1\t0\t1\t0.5\t1\t0\n", NULL,
                 "dt.tsv:2: column 'dt': dt must be a positive 32-bit float, not '0'");
    expect_error("weights.tsv", HEAD "a\t1\t0\t1\t1\t0.5\t1\t1\n", "r_click=1",
                 "weights.tsv: --weights names 'r_click', which is not a reward column (reward columns: r_visit, r_send)");
    expect_error("noaction.tsv", "episode\tt\ts_0\tpropensity\tr_x\na\t1\t0\t0.5\t1\n", NULL,
                 "noaction.tsv: no column 'action' (columns: episode, t, s_0, propensity, r_x)");
    expect_error("header.tsv", HEAD, NULL, "header.tsv: no transitions");
    expect_error("hugereward.tsv", HEAD "a\t1\t0\t1\t1\t0.5\t1e300\t1\n", NULL,
                 "hugereward.tsv:2: the weighted reward 1e+300 is beyond the range of a 32-bit float");
    /* --dt-col given explicitly: the column must exist */
    snprintf(path, sizeof path, "%s", tpath("nodt2.tsv"));
    write_text(path, HEAD "a\t1\t0\t1\t1\t0.5\t1\t1\n");
    qlearn_colspec spec;
    qlearn_colspec_defaults(&spec);
    spec.dt = "delta";
    spec.dt_required = 1;
    check(qlearn_data_load(&d, path, &spec, NULL, 2, &e) < 0 && strstr(e.msg, "no column 'delta'"),
          "an explicit --dt-col must exist: %s", e.msg);
    spec.dt_required = 0;
    spec.states = "s_0,s_*";
    check(qlearn_data_load(&d, path, &spec, NULL, 2, &e) < 0 && strstr(e.msg, "--states selects column 's_0' twice"),
          "a state selected twice: %s", e.msg);

    qlearn_weights w;
    check(qlearn_weights_parse("a=1,b=-0.5", &w, &e) == 0 && w.n == 2 && w.w[1] == -0.5, "weights parse");
    qlearn_weights_free(&w);
    check(qlearn_weights_parse("a=1,a=2", &w, &e) < 0 && strstr(e.msg, "'a' is weighted twice"), "duplicate weight");
    check(qlearn_weights_parse("a", &w, &e) < 0 && strstr(e.msg, "want NAME=WEIGHT"), "no '='");
    check(qlearn_weights_parse("a=x", &w, &e) < 0 && strstr(e.msg, "weight of 'a': cannot parse 'x'"), "bad number");
    check(qlearn_weights_parse("a=nan", &w, &e) < 0, "NaN weight");
    check(qlearn_weights_parse("", &w, &e) < 0, "empty list");
}

/* ---- policies ----------------------------------------------------------- */

static void test_policy(void)
{
    float q[3] = {0.5f, 2, -1}, pi[3];
    qlearn_policy eg = {.softmax = 0, .epsilon = 0.3};
    int g = qlearn_policy_probs(&eg, q, 3, pi);
    check(g == 1, "greedy action");
    check_close(pi[0], 0.1, 1e-7, 0, "epsilon / A on a non-greedy action");
    check_close(pi[1], 0.8, 1e-7, 0, "1 - epsilon + epsilon / A on the greedy one");
    check_close(pi[0] + pi[1] + pi[2], 1, 1e-6, 0, "epsilon-greedy sums to 1");
    eg.epsilon = 0;
    qlearn_policy_probs(&eg, q, 3, pi);
    check(pi[0] == 0 && pi[1] == 1 && pi[2] == 0, "epsilon 0 is greedy");
    float tie[3] = {1, 3, 3};
    check(qlearn_policy_probs(&eg, tie, 3, pi) == 1 && pi[1] == 1, "ties go to the lowest index");

    qlearn_policy sm = {.softmax = 1, .temperature = 0.5};
    qlearn_policy_probs(&sm, q, 3, pi);
    double den = exp(0.5 / 0.5) + exp(2 / 0.5) + exp(-1 / 0.5);
    check_close(pi[0], exp(1.0) / den, 1e-7, 1e-6, "softmax(q/T) entry 0");
    check_close(pi[2], exp(-2.0) / den, 1e-7, 1e-6, "softmax(q/T) entry 2");
    check_close(pi[0] + pi[1] + pi[2], 1, 1e-6, 0, "softmax sums to 1");
    sm.temperature = 1e6;
    qlearn_policy_probs(&sm, q, 3, pi);
    check_close(pi[2], 1.0 / 3, 1e-5, 0, "a high temperature is uniform");
    sm.temperature = 1e-30;
    float big[3] = {1e30f, -1e30f, 1e30f};
    qlearn_policy_probs(&sm, big, 3, pi);
    check(pi[0] == 0.5f && pi[1] == 0 && pi[2] == 0.5f, "extreme Q / T: no overflow, ties share (%g %g %g)", pi[0], pi[1],
          pi[2]);
}

/* ---- model files -------------------------------------------------------- */

static void test_model_file(void)
{
    char path[512], mpath[512];
    snprintf(path, sizeof path, "%s", tpath("mf.tsv"));
    write_mdp_file(path, 13, 30);
    errctx e;
    qlearn_data d;
    check(load(&d, path, "r_visit=1,r_send=-0.05", 2, &e) == 0, "load: %s", e.msg);
    qlearn_model qm;
    qlearn_model_init(&qm, NS, (const char *const *)d.state_names, 2, "8", NN_TANH, &e);
    qlearn_model_init_weights(&qm, 4);
    qlearn_train_cfg tc;
    train_cfg(&tc);
    tc.steps = 20;
    tc.batch = 32;
    tc.tau = 0.1;
    cli_verbosity = -1;
    qlearn_train_result res;
    check(qlearn_train(&qm, &d, &tc, &res, &e) == 0, "train: %s", e.msg);
    cli_verbosity = 0;
    model *m = qlearn_model_to_file(&qm, &d, &tc, &e);
    snprintf(mpath, sizeof mpath, "%s", tpath("q.model"));
    check(m && model_write(m, mpath, "test", &e) == 0, "write: %s", e.msg);
    check(strcmp(model_meta_get(m, "weights"), "r_visit=1,r_send=-0.05") == 0, "weights as NAME=W: %s",
          model_meta_get(m, "weights"));
    check(strcmp(model_meta_get(m, "target_update"), "polyak") == 0 && model_meta_get(m, "tau"), "Polyak recorded");
    check(strcmp(model_meta_get(m, "columns"), "[\"s_0\",\"s_1\",\"s_2\",\"s_3\"]") == 0, "state columns: %s",
          model_meta_get(m, "columns"));
    model_free(m);
    qlearn_model back;
    check(qlearn_model_load(&back, mpath, &e) == 0, "read back: %s", e.msg);
    check(back.s_dim == NS && back.n_actions == 2 && strcmp(back.hidden, "8") == 0 && back.act == NN_TANH,
          "shape and activation");
    check(memcmp(back.norm_mean, qm.norm_mean, NS * sizeof(float)) == 0 &&
              memcmp(back.norm_std, qm.norm_std, NS * sizeof(float)) == 0,
          "standardisation kept");
    arena A;
    arena_init(&A, qlearn_q_bytes(&qm, (int)d.n));
    float *q1 = malloc(d.n * 2 * sizeof(float)), *q2 = malloc(d.n * 2 * sizeof(float));
    qlearn_q(&qm, qm.P.w, d.s, (int)d.n, q1, &A);
    qlearn_q(&back, back.P.w, d.s, (int)d.n, q2, &A);
    check(memcmp(q1, q2, d.n * 2 * sizeof(float)) == 0, "the same Q-values after a round trip");
    free(q1);
    free(q2);
    arena_free(&A);
    qlearn_model_free(&back);
    check(qlearn_model_load(&back, "data-samples/tiny.model", &e) < 0 && strstr(e.msg, "expected a 'recstage.qnet'"),
          "another kind is refused: %s", e.msg);
    qlearn_model_free(&qm);
    qlearn_data_free(&d);
}

/* ---- the committed sample ------------------------------------------------ */

static void test_sample(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s", tpath("sample.tsv"));
    write_mdp_file(path, 1, 60);
    FILE *a = fopen(path, "rb"), *b = fopen("data-samples/transitions.tsv", "rb");
    check(b != NULL, "data-samples/transitions.tsv exists (run from the repository root)");
    int same = a && b;
    while (same) {
        int ca = fgetc(a), cb = fgetc(b);
        same = ca == cb;
        if (ca == EOF)
            break;
    }
    check(same, "data-samples/transitions.tsv is what the generator writes "
                "(regenerate: test_qlearn --write-sample data-samples/transitions.tsv)");
    if (a)
        fclose(a);
    if (b)
        fclose(b);
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--write-sample") == 0) {
        write_mdp_file(argv[2], 1, 60);
        return 0;
    }
    tdir_make("qlearn");
    test_hand();
    test_alpha_zero();
    test_fd();
    test_policy();
    test_load();
    test_model_file();
    test_threads();
    test_diverge();
    test_tabular();
    test_sample();
    tdir_remove();
    return check_done("test_qlearn");
}
