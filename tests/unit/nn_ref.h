/*
 * nn_ref.h - double-precision reference network for the nn tests.
 *
 * An independent implementation (plain loops, double throughout) of the
 * MLP forward/backward, the composed meta/global network and the K-step
 * MAML objective, used as the ground truth: central finite differences
 * are taken on these functions, in double, and the float library is
 * compared with them.  Only layouts (layer offsets, dims) come from the
 * library structs; the arithmetic is written again here.
 *
 * Kinks: every relu evaluation and every Huber branch is folded into
 * ref_sig, so a finite-difference probe can tell when its +eps and -eps
 * evaluations took different branches and skip that coordinate.
 */
#ifndef RECSTAGE_NN_REF_H
#define RECSTAGE_NN_REF_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "maml.h"
#include "nn.h"
#include "nn_loss.h"
#include "rng.h"

static uint64_t ref_sig;

static inline void ref_note(int bit)
{
    ref_sig = ref_sig * 1000003u + (uint64_t)(bit + 1);
}

static inline double ref_act(nn_act act, double z)
{
    switch (act) {
    case NN_RELU:
        ref_note(z > 0);
        return z > 0 ? z : 0;
    case NN_TANH:
        return tanh(z);
    case NN_SIGMOID:
        return 1 / (1 + exp(-z));
    default:
        return z;
    }
}

static inline double ref_act_d1(nn_act act, double z)
{
    switch (act) {
    case NN_RELU:
        return z > 0;
    case NN_TANH:
        return 1 - tanh(z) * tanh(z);
    case NN_SIGMOID: {
        double s = 1 / (1 + exp(-z));
        return s * (1 - s);
    }
    default:
        return 1;
    }
}

/* The losses, written again from their textbook forms. */
static inline double ref_loss(const nn_loss *L, double z, double y)
{
    double r = z - y;
    switch (L->kind) {
    case NN_LOSS_BCE: {
        double s = 1 / (1 + exp(-z));
        return -y * log(s) - (1 - y) * log(1 - s);
    }
    case NN_LOSS_MSE:
        return r * r;
    case NN_LOSS_HUBER:
        ref_note(fabs(r) <= L->delta);
        return fabs(r) <= L->delta ? 0.5 * r * r : L->delta * (fabs(r) - 0.5 * L->delta);
    }
    return 0;
}

static inline double ref_loss_d1(const nn_loss *L, double z, double y)
{
    double r = z - y;
    switch (L->kind) {
    case NN_LOSS_BCE:
        return 1 / (1 + exp(-z)) - y;
    case NN_LOSS_MSE:
        return 2 * r;
    case NN_LOSS_HUBER:
        return fabs(r) <= L->delta ? r : (r > 0 ? L->delta : -L->delta);
    }
    return 0;
}

static inline double *ref_dup(const float *a, size_t n)
{
    double *d = malloc((n ? n : 1) * sizeof *d);
    for (size_t i = 0; i < n; i++)
        d[i] = a[i];
    return d;
}

static inline nn_act ref_layer_act(const nn_mlp *net, int l)
{
    return l == net->nlayers - 1 ? NN_IDENTITY : net->act;
}

typedef struct ref_cache {
    int n;
    const double *x;
    double *z[NN_MAX_LAYERS], *a[NN_MAX_LAYERS];
} ref_cache;

static inline const double *ref_mlp_forward(const nn_mlp *net, const double *w, const double *x, int n,
                                     ref_cache *c)
{
    memset(c, 0, sizeof *c);
    c->n = n;
    c->x = x;
    const double *in = x;
    for (int l = 0; l < net->nlayers; l++) {
        const nn_dense *L = &net->layer[l];
        nn_act act = ref_layer_act(net, l);
        c->z[l] = malloc((size_t)n * L->out * sizeof(double));
        c->a[l] = malloc((size_t)n * L->out * sizeof(double));
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < L->out; j++) {
                double s = w[L->b + j];
                for (int k = 0; k < L->in; k++)
                    s += in[(size_t)i * L->in + k] * w[L->w + (size_t)j * L->in + k];
                c->z[l][(size_t)i * L->out + j] = s;
                c->a[l][(size_t)i * L->out + j] = ref_act(act, s);
            }
        }
        in = c->a[l];
    }
    return c->a[net->nlayers - 1];
}

static inline void ref_cache_free(const nn_mlp *net, ref_cache *c)
{
    for (int l = 0; l < net->nlayers; l++) {
        free(c->z[l]);
        free(c->a[l]);
    }
}

/* g += dJ/dw (g may be NULL), dx = dJ/dx (may be NULL), from dy = dJ/dy. */
static inline void ref_mlp_backward(const nn_mlp *net, const double *w, const ref_cache *c,
                             const double *dy, double *dx, double *g)
{
    int n = c->n, L_ = net->nlayers;
    double *da = malloc((size_t)n * net->dims[L_] * sizeof(double));
    memcpy(da, dy, (size_t)n * net->dims[L_] * sizeof(double));
    for (int l = L_ - 1; l >= 0; l--) {
        const nn_dense *L = &net->layer[l];
        nn_act act = ref_layer_act(net, l);
        const double *xin = l == 0 ? c->x : c->a[l - 1];
        double *dz = malloc((size_t)n * L->out * sizeof(double));
        for (size_t i = 0; i < (size_t)n * L->out; i++)
            dz[i] = da[i] * ref_act_d1(act, c->z[l][i]);
        if (g) {
            for (int j = 0; j < L->out; j++) {
                for (int i = 0; i < n; i++) {
                    double d = dz[(size_t)i * L->out + j];
                    g[L->b + j] += d;
                    for (int k = 0; k < L->in; k++)
                        g[L->w + (size_t)j * L->in + k] += d * xin[(size_t)i * L->in + k];
                }
            }
        }
        double *dxin = calloc((size_t)n * L->in, sizeof(double));
        for (int i = 0; i < n; i++)
            for (int j = 0; j < L->out; j++)
                for (int k = 0; k < L->in; k++)
                    dxin[(size_t)i * L->in + k] +=
                        dz[(size_t)i * L->out + j] * w[L->w + (size_t)j * L->in + k];
        free(dz);
        free(da);
        da = dxin;
    }
    if (dx)
        memcpy(dx, da, (size_t)n * net->dims[0] * sizeof(double));
    free(da);
}

/* Mean loss of the composed network over n rows; gphi/gtheta += grads
 * (either may be NULL). */
static inline double ref_comp(const maml_net *N, const double *phi, const double *theta,
                       const double *m, const double *x, const double *y, int n, double *gphi,
                       double *gtheta)
{
    ref_cache cm, cg;
    int xe = N->x_dim + N->e_dim, no = N->out_dim;
    const double *e = ref_mlp_forward(&N->meta, phi, m, n, &cm);
    double *X = malloc((size_t)n * xe * sizeof(double));
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < N->x_dim; j++)
            X[(size_t)i * xe + j] = x[(size_t)i * N->x_dim + j];
        for (int j = 0; j < N->e_dim; j++)
            X[(size_t)i * xe + N->x_dim + j] = e[(size_t)i * N->e_dim + j];
    }
    const double *lg = ref_mlp_forward(&N->global, theta, X, n, &cg);
    double loss = 0;
    for (size_t i = 0; i < (size_t)n * no; i++)
        loss += ref_loss(&N->loss, lg[i], y[i]);
    if (gphi || gtheta) {
        double *dy = malloc((size_t)n * no * sizeof(double));
        double *dX = malloc((size_t)n * xe * sizeof(double));
        double *de = malloc((size_t)n * N->e_dim * sizeof(double));
        for (size_t i = 0; i < (size_t)n * no; i++)
            dy[i] = ref_loss_d1(&N->loss, lg[i], y[i]) / n;
        ref_mlp_backward(&N->global, theta, &cg, dy, dX, gtheta);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < N->e_dim; j++)
                de[(size_t)i * N->e_dim + j] = dX[(size_t)i * xe + N->x_dim + j];
        ref_mlp_backward(&N->meta, phi, &cm, de, NULL, gphi);
        free(dy);
        free(dX);
        free(de);
    }
    free(X);
    ref_cache_free(&N->meta, &cm);
    ref_cache_free(&N->global, &cg);
    return loss / n;
}

typedef struct ref_task {
    double *sm, *sx, *sy, *qm, *qx, *qy;
    int ns, nq;
} ref_task;

static inline void ref_task_from(const maml_net *N, const maml_task *T, ref_task *R)
{
    R->ns = T->n_support;
    R->nq = T->n_query;
    R->sm = ref_dup(T->support_m, (size_t)R->ns * N->m_dim);
    R->sx = ref_dup(T->support_x, (size_t)R->ns * N->x_dim);
    R->sy = ref_dup(T->support_y, (size_t)R->ns * N->out_dim);
    R->qm = ref_dup(T->query_m, (size_t)R->nq * N->m_dim);
    R->qx = ref_dup(T->query_x, (size_t)R->nq * N->x_dim);
    R->qy = ref_dup(T->query_y, (size_t)R->nq * N->out_dim);
}

static inline void ref_task_free(ref_task *R)
{
    free(R->sm);
    free(R->sx);
    free(R->sy);
    free(R->qm);
    free(R->qx);
    free(R->qy);
}

/* J(phi, theta) = L_Q(phi_K, theta) with K plain gradient steps of size
 * alpha on the support rows (theta frozen). */
static inline double ref_maml_J(const maml_net *N, int K, double alpha, const double *phi,
                         const double *theta, const ref_task *R)
{
    size_t np = N->nphi;
    double *p = malloc(np * sizeof(double)), *g = malloc(np * sizeof(double));
    memcpy(p, phi, np * sizeof(double));
    for (int k = 0; R->ns > 0 && k < K; k++) {
        memset(g, 0, np * sizeof(double));
        ref_comp(N, p, theta, R->sm, R->sx, R->sy, R->ns, g, NULL);
        for (size_t i = 0; i < np; i++)
            p[i] -= alpha * g[i];
    }
    double J = ref_comp(N, p, theta, R->qm, R->qx, R->qy, R->nq, NULL, NULL);
    free(p);
    free(g);
    return J;
}

/* ---- finite differences ------------------------------------------------- */

typedef double (*ref_fn)(void *ctx, const double *p);

/* Central difference of f along coordinate i; *kink set when the +eps and
 * -eps evaluations took different relu/Huber branches. */
static inline double ref_fd(ref_fn f, void *ctx, double *p, size_t i, double eps, int *kink)
{
    double old = p[i];
    p[i] = old + eps;
    ref_sig = 0;
    double fp = f(ctx, p);
    uint64_t sp = ref_sig;
    p[i] = old - eps;
    ref_sig = 0;
    double fm = f(ctx, p);
    uint64_t sm = ref_sig;
    p[i] = old;
    *kink = sp != sm;
    return (fp - fm) / (2 * eps);
}

/* Result of comparing an analytic vector with finite differences. */
typedef struct fd_report {
    size_t compared, skipped, worst;
    double max_ratio;    /* max of |g - fd| / (atol + rtol |fd|); <= 1 passes */
    double worst_excess; /* max of |g - fd| - (atol + rtol |fd|); <= 0 passes */
    double worst_got, worst_want;
} fd_report;

static inline void fd_report_add(fd_report *r, size_t i, double got, double want, double atol,
                                 double rtol)
{
    double excess = fabs(got - want) - (atol + rtol * fabs(want));
    double ratio = fabs(got - want) / (atol + rtol * fabs(want));
    if (r->compared == 0 || ratio > r->max_ratio)
        r->max_ratio = ratio;
    if (r->compared == 0 || excess > r->worst_excess) {
        r->worst_excess = excess;
        r->worst = i;
        r->worst_got = got;
        r->worst_want = want;
    }
    r->compared++;
}

/* Compare got[i] (i < n) with the central difference of f at p along i. */
static inline fd_report ref_fd_check(ref_fn f, void *ctx, double *p, const float *got, size_t n,
                              double eps, double atol, double rtol)
{
    fd_report r;
    memset(&r, 0, sizeof r);
    for (size_t i = 0; i < n; i++) {
        int kink;
        double fd = ref_fd(f, ctx, p, i, eps, &kink);
        if (kink) {
            r.skipped++;
            continue;
        }
        fd_report_add(&r, i, got[i], fd, atol, rtol);
    }
    return r;
}

/* NN_TEST_VERBOSE=1 prints how close each comparison came to its bound. */
#define check_fd(rep, what)                                                                        \
    do {                                                                                           \
        if (getenv("NN_TEST_VERBOSE"))                                                             \
            fprintf(stderr, "%-60s ratio %.3g (%zu compared, %zu skipped)\n", what,               \
                    (rep).max_ratio, (rep).compared, (rep).skipped);                               \
        check((rep).compared > 0 && (rep).skipped * 5 <= (rep).compared + (rep).skipped &&        \
                  (rep).worst_excess <= 0,                                                         \
              "%s: worst at %zu: got %.9g, finite difference %.9g (%zu compared, %zu kinks "      \
              "skipped)",                                                                          \
              what, (rep).worst, (rep).worst_got, (rep).worst_want, (rep).compared,               \
              (rep).skipped);                                                                      \
    } while (0)

static inline void ref_fill(rng *r, float *a, size_t n, double lo, double hi)
{
    for (size_t i = 0; i < n; i++)
        a[i] = (float)(lo + (hi - lo) * rng_uniform(r));
}

#endif
