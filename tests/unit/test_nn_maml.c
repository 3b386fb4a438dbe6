/*
 * test_nn_maml.c - the composed meta/global network: gradient and exact
 * HVP against finite differences in double; the MAML meta-gradient for
 * K = 1, 2, 3 against finite differences of the whole K-step objective
 * (phi and theta); first order vs second order; K = 0 and empty support;
 * no heap allocation in a meta-batch loop.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "maml.h"
#include "nn.h"
#include "nn_loss.h"
#include "rng.h"
#include "check.h"
#include "nn_ref.h"
#include "banned.h"

enum { MD = 4, XD = 3, ED = 3, NS = 6, NQ = 5 };

typedef struct setup {
    const char *name;
    nn_act meta_act, global_act;
    nn_loss loss;
    double alpha;
} setup;

typedef struct fixture {
    nn_params P;
    maml_net N;
    float sm[NS * MD], sx[NS * XD], sy[NS], qm[NQ * MD], qx[NQ * XD], qy[NQ];
    maml_task T;
    arena A;
    size_t np, nt;
} fixture;

static void fixture_init(fixture *f, const setup *s, uint64_t seed)
{
    errctx e;
    memset(f, 0, sizeof *f);
    nn_params_init(&f->P);
    maml_net_cfg cfg = {MD, XD, ED, 1, "5", "6", s->meta_act, s->global_act, s->loss};
    check(maml_net_init(&f->N, &f->P, &cfg, &e) == 0, "%s: net init: %s", s->name, e.msg);
    nn_params_alloc(&f->P);
    rng r;
    rng_init(&r, seed, 0);
    nn_mlp_init_weights(&f->N.meta, maml_phi(&f->N, &f->P), &r);
    nn_mlp_init_weights(&f->N.global, maml_theta(&f->N, &f->P), &r);
    /* nonzero biases */
    for (int l = 0; l < f->N.meta.nlayers; l++)
        ref_fill(&r, maml_phi(&f->N, &f->P) + f->N.meta.layer[l].b, f->N.meta.layer[l].out, -0.3,
                 0.3);
    for (int l = 0; l < f->N.global.nlayers; l++)
        ref_fill(&r, maml_theta(&f->N, &f->P) + f->N.global.layer[l].b,
                 f->N.global.layer[l].out, -0.3, 0.3);
    ref_fill(&r, f->sm, NS * MD, -1.5, 1.5);
    ref_fill(&r, f->sx, NS * XD, -1.5, 1.5);
    ref_fill(&r, f->qm, NQ * MD, -1.5, 1.5);
    ref_fill(&r, f->qx, NQ * XD, -1.5, 1.5);
    for (int i = 0; i < NS; i++)
        f->sy[i] = s->loss.kind == NN_LOSS_BCE ? (float)(rng_uniform(&r) < 0.5)
                                               : (float)(2 * rng_uniform(&r) - 1);
    for (int i = 0; i < NQ; i++)
        f->qy[i] = s->loss.kind == NN_LOSS_BCE ? (float)(rng_uniform(&r) < 0.5)
                                               : (float)(2 * rng_uniform(&r) - 1);
    maml_task T = {f->sm, f->sx, f->sy, NS, f->qm, f->qx, f->qy, NQ};
    f->T = T;
    f->np = f->N.nphi;
    f->nt = f->N.ntheta;
    maml_cfg big = {3, s->alpha, 2};
    arena_init(&f->A, maml_workspace_bytes(&f->N, &big, NS > NQ ? NS : NQ));
}

static void fixture_free(fixture *f)
{
    arena_free(&f->A);
    nn_params_free(&f->P);
}

/* [phi, theta] in double */
static double *params_d(const fixture *f)
{
    double *p = malloc((f->np + f->nt) * sizeof(double));
    const float *phi = maml_phi(&f->N, &f->P), *theta = maml_theta(&f->N, &f->P);
    for (size_t i = 0; i < f->np; i++)
        p[i] = phi[i];
    for (size_t i = 0; i < f->nt; i++)
        p[f->np + i] = theta[i];
    return p;
}

typedef struct obj_ctx {
    const fixture *f;
    ref_task R;
    int K;
    double alpha;
} obj_ctx;

/* Query loss of the composed network (no adaptation). */
static double query_loss(void *vctx, const double *p)
{
    obj_ctx *c = vctx;
    return ref_comp(&c->f->N, p, p + c->f->np, c->R.qm, c->R.qx, c->R.qy, c->R.nq, NULL, NULL);
}

/* The K-step MAML objective. */
static double maml_J(void *vctx, const double *p)
{
    obj_ctx *c = vctx;
    return ref_maml_J(&c->f->N, c->K, c->alpha, p, p + c->f->np, &c->R);
}

static void test_composed(const setup *s, uint64_t seed)
{
    fixture f;
    fixture_init(&f, s, seed);
    const float *phi = maml_phi(&f.N, &f.P), *theta = maml_theta(&f.N, &f.P);
    size_t n = f.np + f.nt;
    double *p = params_d(&f);
    obj_ctx c = {&f, {0}, 0, 0};
    ref_task_from(&f.N, &f.T, &c.R);
    char what[128];

    /* forward */
    float logits[NQ];
    maml_forward(&f.N, phi, theta, f.qm, f.qx, NQ, logits, &f.A);
    check(f.A.used == 0, "%s: maml_forward releases its scratch", s->name);
    float e_rows[NQ * ED];
    maml_embed(&f.N, phi, f.qm, NQ, e_rows, &f.A);
    ref_cache rc;
    const double *er = ref_mlp_forward(&f.N.meta, p, c.R.qm, NQ, &rc);
    double worst = 0;
    for (int i = 0; i < NQ * ED; i++)
        worst = fmax(worst, fabs(e_rows[i] - er[i]));
    ref_cache_free(&f.N.meta, &rc);
    check(worst < 1e-5, "%s: meta embedding vs reference: error %g", s->name, worst);

    /* gradient of the mean loss */
    float *g = calloc(n, sizeof(float));
    double loss = maml_loss_grad(&f.N, phi, theta, f.qm, f.qx, f.qy, NQ, g, g + f.np, &f.A);
    check_close(loss, query_loss(&c, p), 1e-6, 1e-5, "composed loss vs reference");
    fd_report rg = ref_fd_check(query_loss, &c, p, g, n, 1e-5, 1e-6, 1e-4);
    snprintf(what, sizeof what, "%s: composed gradient (phi and theta)", s->name);
    check_fd(rg, what);

    /* HVP along a random (v_phi, v_theta) vs FD of the reference gradient */
    rng r;
    rng_init(&r, seed, 1);
    float *v = malloc(n * sizeof(float)), *h = calloc(n, sizeof(float));
    ref_fill(&r, v, n, -1, 1);
    maml_hvp(&f.N, phi, theta, f.qm, f.qx, f.qy, NQ, v, v + f.np, h, h + f.np, &f.A);
    double *pp = calloc(n, sizeof(double)), *pm = calloc(n, sizeof(double));
    double *gp = calloc(n, sizeof(double)), *gm = calloc(n, sizeof(double)), eps = 1e-5;
    for (size_t i = 0; i < n; i++) {
        pp[i] = p[i] + eps * v[i];
        pm[i] = p[i] - eps * v[i];
    }
    ref_sig = 0;
    ref_comp(&f.N, pp, pp + f.np, c.R.qm, c.R.qx, c.R.qy, NQ, gp, gp + f.np);
    uint64_t sp = ref_sig;
    ref_sig = 0;
    ref_comp(&f.N, pm, pm + f.np, c.R.qm, c.R.qx, c.R.qy, NQ, gm, gm + f.np);
    fd_report rh;
    memset(&rh, 0, sizeof rh);
    for (size_t i = 0; i < n; i++)
        fd_report_add(&rh, i, h[i], (gp[i] - gm[i]) / (2 * eps), 2e-6, 2e-4);
    if (sp != ref_sig)
        rh.skipped = rh.compared + 1;
    snprintf(what, sizeof what, "%s: composed HVP (phi and theta)", s->name);
    check_fd(rh, what);

    /* HVP blocks: direction on phi only gives (H_phiphi v, H_thetaphi v),
     * and by symmetry v_theta . (H_thetaphi v_phi) = v_phi . (H_phitheta v_theta) */
    float *h1 = calloc(n, sizeof(float)), *h2 = calloc(n, sizeof(float));
    maml_hvp(&f.N, phi, theta, f.qm, f.qx, f.qy, NQ, v, NULL, h1, h1 + f.np, &f.A);
    maml_hvp(&f.N, phi, theta, f.qm, f.qx, f.qy, NQ, NULL, v + f.np, h2, h2 + f.np, &f.A);
    double a = 0, b = 0, sum_err = 0;
    for (size_t i = 0; i < f.nt; i++)
        a += (double)v[f.np + i] * h1[f.np + i];
    for (size_t i = 0; i < f.np; i++)
        b += (double)v[i] * h2[i];
    for (size_t i = 0; i < n; i++)
        sum_err = fmax(sum_err, fabs(h1[i] + h2[i] - h[i]));
    check(fabs(a) > 1e-4 && fabs(a - b) <= 1e-5 + 1e-4 * fabs(a),
          "%s: cross blocks symmetric: %.9g vs %.9g", s->name, a, b);
    check(sum_err < 1e-5, "%s: HVP is linear in the direction: error %g", s->name, sum_err);

    free(h1);
    free(h2);
    free(pp);
    free(pm);
    free(gp);
    free(gm);
    free(v);
    free(h);
    free(g);
    free(p);
    ref_task_free(&c.R);
    fixture_free(&f);
}

static void test_meta_grad(const setup *s, uint64_t seed)
{
    fixture f;
    fixture_init(&f, s, seed);
    const float *phi = maml_phi(&f.N, &f.P), *theta = maml_theta(&f.N, &f.P);
    size_t n = f.np + f.nt;
    double *p = params_d(&f);
    obj_ctx c = {&f, {0}, 0, s->alpha};
    ref_task_from(&f.N, &f.T, &c.R);
    float *g2 = malloc(n * sizeof(float)), *g1 = malloc(n * sizeof(float));
    char what[160];

    for (int K = 1; K <= 3; K++) {
        maml_cfg c2 = {K, s->alpha, 2}, c1 = {K, s->alpha, 1};
        memset(g2, 0, n * sizeof(float));
        memset(g1, 0, n * sizeof(float));
        double J2 = maml_meta_grad(&f.N, &c2, phi, theta, &f.T, g2, g2 + f.np, &f.A);
        double J1 = maml_meta_grad(&f.N, &c1, phi, theta, &f.T, g1, g1 + f.np, &f.A);
        check(f.A.used == 0, "%s K=%d: meta-gradient releases its scratch", s->name, K);
        c.K = K;
        double Jref = maml_J(&c, p);
        check_close(J2, Jref, 1e-6, 1e-5, "meta objective vs reference");
        check(J1 == J2, "%s K=%d: both orders adapt the same way", s->name, K);

        fd_report rphi = ref_fd_check(maml_J, &c, p, g2, f.np, 1e-5, 2e-6, 2e-4);
        snprintf(what, sizeof what, "%s K=%d: second-order meta-gradient, phi", s->name, K);
        check_fd(rphi, what);
        fd_report rth;
        memset(&rth, 0, sizeof rth);
        for (size_t i = 0; i < f.nt; i++) {
            int kink;
            double fd = ref_fd(maml_J, &c, p, f.np + i, 1e-5, &kink);
            if (kink)
                rth.skipped++;
            else
                fd_report_add(&rth, i, g2[f.np + i], fd, 2e-6, 2e-4);
        }
        snprintf(what, sizeof what, "%s K=%d: second-order meta-gradient, theta", s->name, K);
        check_fd(rth, what);

        /* first order must differ, visibly, on both blocks: it misses the
         * Hessian terms the finite differences see */
        fd_report r1 = ref_fd_check(maml_J, &c, p, g1, f.np, 1e-5, 2e-6, 2e-4);
        double dphi = 0, dth = 0, scale = 0;
        for (size_t i = 0; i < f.np; i++)
            dphi = fmax(dphi, fabs(g1[i] - g2[i]));
        for (size_t i = f.np; i < n; i++)
            dth = fmax(dth, fabs(g1[i] - g2[i]));
        for (size_t i = 0; i < n; i++)
            scale = fmax(scale, fabs(g2[i]));
        check(r1.worst_excess > 0, "%s K=%d: first order fails the finite-difference check",
              s->name, K);
        check(dphi > 1e-3 * scale && dth > 1e-3 * scale,
              "%s K=%d: first and second order differ (phi %g, theta %g, scale %g)", s->name, K,
              dphi, dth, scale);
        /* first order is exactly the query gradient at phi_K */
        float *phiK = malloc(f.np * sizeof(float)), *gq = calloc(n, sizeof(float));
        maml_adapt(&f.N, &c2, phi, theta, f.sm, f.sx, f.sy, NS, phiK, &f.A);
        maml_loss_grad(&f.N, phiK, theta, f.qm, f.qx, f.qy, NQ, gq, gq + f.np, &f.A);
        check(memcmp(gq, g1, n * sizeof(float)) == 0,
              "%s K=%d: first order = gradient of the query loss at phi_K", s->name, K);
        free(phiK);
        free(gq);
    }

    /* K = 0 and empty support: no adaptation, both orders agree exactly and
     * equal the plain query gradient */
    float *g0 = calloc(n, sizeof(float)), *ga = calloc(n, sizeof(float)),
          *gb = calloc(n, sizeof(float));
    maml_loss_grad(&f.N, phi, theta, f.qm, f.qx, f.qy, NQ, g0, g0 + f.np, &f.A);
    maml_cfg k0_2 = {0, s->alpha, 2}, k0_1 = {0, s->alpha, 1}, k3 = {3, s->alpha, 2};
    maml_meta_grad(&f.N, &k0_2, phi, theta, &f.T, ga, ga + f.np, &f.A);
    maml_meta_grad(&f.N, &k0_1, phi, theta, &f.T, gb, gb + f.np, &f.A);
    check(memcmp(ga, gb, n * sizeof(float)) == 0 && memcmp(ga, g0, n * sizeof(float)) == 0,
          "%s K=0: orders agree and equal the query gradient", s->name);
    maml_task empty = f.T;
    empty.n_support = 0;
    memset(ga, 0, n * sizeof(float));
    maml_meta_grad(&f.N, &k3, phi, theta, &empty, ga, ga + f.np, &f.A);
    check(memcmp(ga, g0, n * sizeof(float)) == 0, "%s: empty support means no adaptation",
          s->name);
    maml_task noq = f.T;
    noq.n_query = 0;
    memset(ga, 0, n * sizeof(float));
    double J = maml_meta_grad(&f.N, &k3, phi, theta, &noq, ga, ga + f.np, &f.A);
    int zero = J == 0;
    for (size_t i = 0; i < n; i++)
        zero &= ga[i] == 0;
    check(zero, "%s: no query rows: zero objective, nothing added", s->name);

    /* the meta-gradient accumulates */
    memset(ga, 0, n * sizeof(float));
    maml_meta_grad(&f.N, &k3, phi, theta, &f.T, ga, ga + f.np, &f.A);
    memcpy(gb, ga, n * sizeof(float));
    maml_meta_grad(&f.N, &k3, phi, theta, &f.T, gb, gb + f.np, &f.A);
    check_close(gb[2], 2 * ga[2], 1e-6, 1e-5, "meta-gradient accumulates");

    free(g0);
    free(ga);
    free(gb);
    free(g1);
    free(g2);
    free(p);
    ref_task_free(&c.R);
    fixture_free(&f);
}

static void test_no_malloc(void)
{
    setup s = {"loop", NN_RELU, NN_RELU, {NN_LOSS_BCE, 1}, 0.1};
    fixture f;
    fixture_init(&f, &s, 11);
    float *g = calloc(f.np + f.nt, sizeof(float));
    maml_cfg cfg = {3, 0.1, 2};
    unsigned long before = arena_heap_allocs();
    double sum = 0;
    for (int it = 0; it < 50; it++) {
        arena_reset(&f.A);
        sum += maml_meta_grad(&f.N, &cfg, maml_phi(&f.N, &f.P), maml_theta(&f.N, &f.P), &f.T, g,
                              g + f.np, &f.A);
    }
    check(arena_heap_allocs() == before, "meta-batch loop allocates nothing (%lu)",
          arena_heap_allocs() - before);
    check(isfinite(sum) && sum > 0, "loop computed something: %g", sum);
    check(f.A.peak <= f.A.cap && f.A.peak * 2 > f.A.cap,
          "workspace size is tight: peak %zu of %zu", f.A.peak, f.A.cap);
    free(g);
    fixture_free(&f);
}

int main(void)
{
    const setup setups[] = {
        {"tanh/tanh/bce", NN_TANH, NN_TANH, {NN_LOSS_BCE, 1}, 0.5},
        {"relu/sigmoid/mse", NN_RELU, NN_SIGMOID, {NN_LOSS_MSE, 1}, 0.25},
        {"sigmoid/relu/huber", NN_SIGMOID, NN_RELU, {NN_LOSS_HUBER, 0.5}, 0.5},
        {"identity/tanh/bce", NN_IDENTITY, NN_TANH, {NN_LOSS_BCE, 1}, 0.5},
    };
    for (size_t i = 0; i < sizeof setups / sizeof *setups; i++) {
        test_composed(&setups[i], 100 + i);
        test_meta_grad(&setups[i], 200 + i);
    }
    test_no_malloc();
    return check_done("test_nn_maml");
}
