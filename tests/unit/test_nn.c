/*
 * test_nn.c - gemm kernels, activations, losses, dense layers, MLPs and
 * their R-operator, checked against central finite differences in double
 * (nn_ref.h) and against the naive kernels; arena behaviour.
 */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "arena.h"
#include "nn.h"
#include "nn_loss.h"
#include "rng.h"
#include "check.h"
#include "nn_ref.h"
#include "banned.h"

static const nn_act all_acts[] = {NN_IDENTITY, NN_RELU, NN_TANH, NN_SIGMOID};

/* ---- gemm --------------------------------------------------------------- */

static void test_gemm(void)
{
    rng r;
    rng_init(&r, 1, 0);
    enum { M = 7, N = 5, K = 9, LD = 12 };
    float A[LD * LD], B[LD * LD], C0[M * LD], C1[M * LD], C2[M * LD];
    ref_fill(&r, A, LD * LD, -1, 1);
    ref_fill(&r, B, LD * LD, -1, 1);
    ref_fill(&r, C0, M * LD, -1, 1);
    for (int ta = 0; ta < 2; ta++) {
        for (int tb = 0; tb < 2; tb++) {
            for (int bi = 0; bi < 2; bi++) {
                float alpha = 0.75f, beta = bi ? 0.5f : 0.0f;
                memcpy(C1, C0, sizeof C1);
                memcpy(C2, C0, sizeof C2);
                nn_gemm(ta, tb, M, N, K, alpha, A, LD, B, LD, beta, C1, LD);
                nn_gemm_naive(ta, tb, M, N, K, alpha, A, LD, B, LD, beta, C2, LD);
                double worst = 0, worst_naive = 0;
                for (int i = 0; i < M; i++) {
                    for (int j = 0; j < N; j++) {
                        double s = 0;
                        for (int k = 0; k < K; k++)
                            s += (double)(ta ? A[k * LD + i] : A[i * LD + k]) *
                                 (tb ? B[j * LD + k] : B[k * LD + j]);
                        double want = alpha * s + beta * (double)C0[i * LD + j];
                        worst = fmax(worst, fabs(C1[i * LD + j] - want));
                        worst_naive = fmax(worst_naive, fabs(C2[i * LD + j] - want));
                    }
                    /* columns past N are untouched */
                    for (int j = N; j < LD; j++)
                        if (C1[i * LD + j] != C0[i * LD + j] || C2[i * LD + j] != C0[i * LD + j])
                            worst = 1;
                }
                check(worst < 1e-5, "cblas gemm ta=%d tb=%d beta=%g: max error %g", ta, tb, beta,
                      worst);
                check(worst_naive < 1e-6, "naive gemm ta=%d tb=%d beta=%g: max error %g", ta, tb,
                      beta, worst_naive);
            }
        }
    }
    /* K = 0: C = beta C */
    memcpy(C1, C0, sizeof C1);
    nn_gemm(0, 0, M, N, 0, 1.0f, A, LD, B, LD, 0.5f, C1, LD);
    check(C1[0] == 0.5f * C0[0] && C1[LD + 3] == 0.5f * C0[LD + 3], "gemm with K = 0 scales C");
}

/* ---- activations -------------------------------------------------------- */

static void test_activations(void)
{
    const double zs[] = {-3.1, -1.2, -0.4, 0.3, 0.9, 2.6};
    for (int a = 0; a < 4; a++) {
        nn_act act = all_acts[a];
        double worst1 = 0, worst2 = 0, worstv = 0;
        for (size_t i = 0; i < sizeof zs / sizeof *zs; i++) {
            double z = zs[i], h = 1e-5;
            double fd1 = (nn_act_value(act, z + h) - nn_act_value(act, z - h)) / (2 * h);
            double fd2 = (nn_act_d1(act, z + h) - nn_act_d1(act, z - h)) / (2 * h);
            worst1 = fmax(worst1, fabs(nn_act_d1(act, z) - fd1));
            worst2 = fmax(worst2, fabs(nn_act_d2(act, z) - fd2));
            double want = act == NN_RELU      ? fmax(z, 0)
                          : act == NN_TANH    ? (exp(2 * z) - 1) / (exp(2 * z) + 1)
                          : act == NN_SIGMOID ? 1 / (1 + exp(-z))
                                              : z;
            worstv = fmax(worstv, fabs(nn_act_value(act, z) - want));
            float zf = (float)z, af;
            nn_act_forward(act, &zf, &af, 1);
            worstv = fmax(worstv, fabs(af - want) > 1e-6 ? fabs(af - want) : 0);
        }
        check(worstv < 1e-12, "%s value: error %g", nn_act_name(act), worstv);
        check(worst1 < 1e-8, "%s first derivative vs finite difference: error %g",
              nn_act_name(act), worst1);
        check(worst2 < 1e-8, "%s second derivative vs finite difference: error %g",
              nn_act_name(act), worst2);
    }
    /* extremes stay finite */
    float big[4] = {-800, 800, -1e30f, 1e30f}, out[4];
    nn_act_forward(NN_SIGMOID, big, out, 4);
    check(out[0] == 0 && out[1] == 1 && out[2] == 0 && out[3] == 1, "sigmoid saturates cleanly");
    nn_act_forward(NN_TANH, big, out, 4);
    check(out[0] == -1 && out[1] == 1, "tanh saturates cleanly");
    float nan_in[2] = {NAN, -NAN}, nan_out[2];
    nn_act_forward(NN_RELU, nan_in, nan_out, 2);
    check(isnan(nan_out[0]) && isnan(nan_out[1]), "relu propagates NaN of either sign");
    float zeros[2] = {0.0f, -0.0f};
    nn_act_forward(NN_RELU, zeros, out, 2);
    check(out[0] == 0 && !signbit(out[0]) && !signbit(out[1]), "relu(-0) is +0");
    nn_act parsed;
    errctx e;
    check(nn_act_parse("tanh", &parsed, &e) == 0 && parsed == NN_TANH, "parse tanh");
    check(nn_act_parse("gelu", &parsed, &e) < 0 && strstr(e.msg, "'gelu'"), "reject gelu: %s",
          e.msg);
}

/* ---- losses ------------------------------------------------------------- */

static void test_losses(void)
{
    nn_loss L[3] = {{NN_LOSS_BCE, 1}, {NN_LOSS_MSE, 1}, {NN_LOSS_HUBER, 0.7}};
    const double zs[] = {-4.0, -1.3, -0.2, 0.45, 1.1, 3.7};
    const double ys[] = {0, 1, 0.3};
    for (int k = 0; k < 3; k++) {
        double worst1 = 0, worst2 = 0, worstv = 0;
        int compared = 0;
        for (size_t i = 0; i < sizeof zs / sizeof *zs; i++) {
            for (size_t j = 0; j < 3; j++) {
                double z = zs[i], y = ys[j], h = 1e-5;
                if (L[k].kind == NN_LOSS_HUBER && fabs(fabs(z - y) - L[k].delta) < 1e-3)
                    continue; /* kink */
                double fd1 = (nn_loss_value(&L[k], z + h, y) - nn_loss_value(&L[k], z - h, y)) /
                             (2 * h);
                double fd2 = (nn_loss_d1(&L[k], z + h, y) - nn_loss_d1(&L[k], z - h, y)) / (2 * h);
                worst1 = fmax(worst1, fabs(nn_loss_d1(&L[k], z, y) - fd1));
                worst2 = fmax(worst2, fabs(nn_loss_d2(&L[k], z, y) - fd2));
                worstv = fmax(worstv, fabs(nn_loss_value(&L[k], z, y) - ref_loss(&L[k], z, y)));
                compared++;
            }
        }
        check(compared >= 12, "%s: %d points compared", nn_loss_name(&L[k]), compared);
        check(worstv < 1e-12, "%s value vs textbook form: error %g", nn_loss_name(&L[k]), worstv);
        check(worst1 < 1e-8, "%s first derivative vs finite difference: error %g",
              nn_loss_name(&L[k]), worst1);
        check(worst2 < 1e-7, "%s second derivative vs finite difference: error %g",
              nn_loss_name(&L[k]), worst2);
    }
    /* hand values: mse (3 - 1)^2 = 4; huber delta 1: r = 3 -> 1 (3 - 0.5) =
     * 2.5, r = 0.5 -> 0.125; bce at z = 0 is log 2 for any y */
    check_close(nn_loss_value(&L[1], 3, 1), 4, 0, 0, "mse by hand");
    nn_loss hub1 = {NN_LOSS_HUBER, 1};
    check_close(nn_loss_value(&hub1, 3, 0), 2.5, 0, 0, "huber linear part by hand");
    check_close(nn_loss_value(&hub1, 0.5, 0), 0.125, 0, 0, "huber quadratic part by hand");
    check_close(nn_loss_d1(&hub1, -3, 0), -1, 0, 0, "huber gradient clipped");
    check_close(nn_bce_logits(0, 0.3), log(2), 1e-15, 0, "bce at z = 0");
    /* stability: bce(1000, 0) = 1000, bce(-1000, 1) = 1000, bce(1000, 1) =
     * log1p(exp(-1000)) = 0, all finite; d2 = 0 there, never NaN */
    check_close(nn_bce_logits(1000, 0), 1000, 0, 0, "bce(1000, 0)");
    check_close(nn_bce_logits(-1000, 1), 1000, 0, 0, "bce(-1000, 1)");
    check(nn_bce_logits(1000, 1) == 0 && nn_bce_logits(-1000, 0) == 0, "bce saturated and right");
    check(nn_loss_d2(&L[0], -1000, 1) == 0 && nn_loss_d1(&L[0], -1000, 1) == -1,
          "bce derivatives at -1000");
    check_close(nn_bce_logits(-40, 1), 40 + log1p(exp(-40)), 1e-12, 0, "bce(-40, 1)");

    /* batch reduction: sum in double, scaled gradients, R-op */
    float z[5] = {-2, -0.5, 0.25, 1, 3}, y[5] = {0, 1, 1, 0, 1}, dz[5], rz[5] = {1, -1, 2, 0.5, 3},
          rdz[5];
    double sum = nn_loss_batch(&L[0], z, y, 5, 0.2, dz);
    double want = 0;
    for (int i = 0; i < 5; i++)
        want += ref_loss(&L[0], z[i], y[i]);
    check_close(sum, want, 1e-12, 1e-12, "bce batch sum");
    check_close(dz[2], 0.2 * (1 / (1 + exp(-0.25)) - 1), 1e-7, 0, "bce batch gradient scaled");
    nn_loss_rgrad(&L[0], z, y, rz, 5, 0.2, rdz);
    double s3 = 1 / (1 + exp(-1.0));
    check_close(rdz[3], 0.2 * s3 * (1 - s3) * 0.5, 1e-8, 0, "bce R-operator");

    /* logsumexp and softmax */
    float big[2] = {1000, 1000}, p2[2];
    check_close(nn_logsumexp(big, 2), 1000 + log(2), 1e-9, 0, "logsumexp without overflow");
    float small[3] = {-1000, -1001, -1002};
    check_close(nn_logsumexp(small, 3), -1000 + log(1 + exp(-1) + exp(-2)), 1e-9, 0,
                "logsumexp without underflow");
    nn_softmax(big, 2, p2);
    check(p2[0] == 0.5f && p2[1] == 0.5f, "softmax of equal large values");
    float x[4] = {0.3f, -1.2f, 2.0f, 0.7f}, v[4] = {1, -0.5f, 0.25f, 2}, p[4], rp[4];
    nn_softmax(x, 4, p);
    double worst = 0, worstr = 0, h = 1e-3;
    for (int i = 0; i < 4; i++) {
        /* d lse / dx_i = p_i (step h in float is exact for these values) */
        float xp[4], xm[4];
        memcpy(xp, x, sizeof x);
        memcpy(xm, x, sizeof x);
        xp[i] += (float)h;
        xm[i] -= (float)h;
        double fd = (nn_logsumexp(xp, 4) - nn_logsumexp(xm, 4)) / ((double)xp[i] - xm[i]);
        worst = fmax(worst, fabs(p[i] - fd));
    }
    nn_logsumexp_rop(x, v, 4, rp);
    {
        /* R{p} = d/dt softmax(x + t v) at t = 0, in double */
        double pp[4], pm[4], t = 1e-6, sp = 0, sm = 0;
        for (int i = 0; i < 4; i++) {
            pp[i] = exp(x[i] + t * v[i]);
            pm[i] = exp(x[i] - t * v[i]);
            sp += pp[i];
            sm += pm[i];
        }
        for (int i = 0; i < 4; i++)
            worstr = fmax(worstr, fabs(rp[i] - (pp[i] / sp - pm[i] / sm) / (2 * t)));
    }
    check(worst < 1e-4, "softmax is the gradient of logsumexp: error %g", worst);
    check(worstr < 1e-6, "logsumexp R-operator vs finite difference: error %g", worstr);

    nn_loss parsed;
    errctx e;
    check(nn_loss_parse("huber", &parsed, &e) == 0 && parsed.kind == NN_LOSS_HUBER, "parse huber");
    check(nn_loss_parse("hinge", &parsed, &e) < 0, "reject hinge");
}

/* ---- dense layer -------------------------------------------------------- */

typedef struct dense_ctx {
    int in, out, batch;
    const double *c; /* (batch, out) */
} dense_ctx;

/* J = sum c .* (x W^T + b), p = [W, b, x] */
static double dense_J(void *vctx, const double *p)
{
    const dense_ctx *d = vctx;
    const double *W = p, *b = p + d->in * d->out, *x = b + d->out;
    double J = 0;
    for (int i = 0; i < d->batch; i++)
        for (int j = 0; j < d->out; j++) {
            double s = b[j];
            for (int k = 0; k < d->in; k++)
                s += x[i * d->in + k] * W[j * d->in + k];
            J += d->c[i * d->out + j] * s;
        }
    return J;
}

static void test_dense(void)
{
    rng r;
    rng_init(&r, 2, 0);
    enum { IN = 5, OUT = 4, B = 3 };
    nn_dense L = {IN, OUT, 0, IN * OUT};
    float w[IN * OUT + OUT], x[B * IN], c[B * OUT], z[B * OUT], g[IN * OUT + OUT], dx[B * IN];
    ref_fill(&r, w, IN * OUT + OUT, -1, 1);
    ref_fill(&r, x, B * IN, -1, 1);
    ref_fill(&r, c, B * OUT, -1, 1);
    arena A;
    arena_init(&A, 4096);
    nn_dense_forward(&L, w, x, B, z);
    memset(g, 0, sizeof g);
    nn_dense_backward(&L, w, x, c, B, dx, g, &A);
    check(A.used == 0, "dense backward releases its scratch");
    double p[IN * OUT + OUT + B * IN], cd[B * OUT];
    for (int i = 0; i < IN * OUT + OUT; i++)
        p[i] = w[i];
    for (int i = 0; i < B * IN; i++)
        p[IN * OUT + OUT + i] = x[i];
    for (int i = 0; i < B * OUT; i++)
        cd[i] = c[i];
    dense_ctx d = {IN, OUT, B, cd};
    fd_report rw = ref_fd_check(dense_J, &d, p, g, IN * OUT + OUT, 1e-5, 1e-6, 1e-4);
    /* input gradient: coordinates after the parameters */
    fd_report ri;
    memset(&ri, 0, sizeof ri);
    for (int i = 0; i < B * IN; i++) {
        int kink;
        double fd = ref_fd(dense_J, &d, p, IN * OUT + OUT + i, 1e-5, &kink);
        fd_report_add(&ri, i, dx[i], fd, 1e-6, 1e-4);
    }
    check_fd(rw, "dense parameter gradient");
    check_fd(ri, "dense input gradient");
    /* gradients accumulate */
    float g2[IN * OUT + OUT];
    memcpy(g2, g, sizeof g);
    nn_dense_backward(&L, w, x, c, B, NULL, g2, &A);
    check_close(g2[7], 2 * g[7], 1e-6, 1e-6, "dense backward accumulates weights");
    check_close(g2[IN * OUT + 1], 2 * g[IN * OUT + 1], 1e-6, 1e-6,
                "dense backward accumulates biases");
    arena_free(&A);
}

/* ---- MLP gradients and HVPs --------------------------------------------- */

typedef struct mlp_ctx {
    const nn_mlp *net;
    int batch;
    const double *c; /* (batch, out) weights of J = sum c .* y */
    const nn_loss *loss;
    const double *t; /* (batch, out) targets for the loss form */
} mlp_ctx;

/* p = [w (net->count), x (batch, in)] */
static double mlp_J(void *vctx, const double *p)
{
    const mlp_ctx *m = vctx;
    ref_cache c;
    const double *y = ref_mlp_forward(m->net, p, p + m->net->count, m->batch, &c);
    double J = 0;
    size_t n = (size_t)m->batch * m->net->dims[m->net->nlayers];
    for (size_t i = 0; i < n; i++)
        J += m->c[i] * y[i];
    ref_cache_free(m->net, &c);
    return J;
}

/* Gradient of the mean loss w.r.t. p = [w, x] in double. */
static void mlp_loss_grad(const mlp_ctx *m, const double *p, double *grad)
{
    ref_cache c;
    const nn_mlp *net = m->net;
    int no = net->dims[net->nlayers];
    size_t n = (size_t)m->batch * no;
    const double *y = ref_mlp_forward(net, p, p + net->count, m->batch, &c);
    double *dy = malloc(n * sizeof(double));
    for (size_t i = 0; i < n; i++) {
        ref_loss(m->loss, y[i], m->t[i]); /* records Huber branches */
        dy[i] = ref_loss_d1(m->loss, y[i], m->t[i]) / m->batch;
    }
    memset(grad, 0, net->count * sizeof(double));
    ref_mlp_backward(net, p, &c, dy, grad + net->count, grad);
    free(dy);
    ref_cache_free(net, &c);
}

static void set_mlp_params(nn_mlp *net, nn_params *P, rng *r)
{
    nn_mlp_init_weights(net, P->w + net->offset, r);
    /* nonzero biases so every term of the gradient is exercised */
    for (int l = 0; l < net->nlayers; l++)
        ref_fill(r, P->w + net->offset + net->layer[l].b, (size_t)net->layer[l].out, -0.3, 0.3);
}

static void test_mlp(nn_act act)
{
    rng r;
    rng_init(&r, 3, (uint64_t)act);
    errctx e;
    nn_params P;
    nn_params_init(&P);
    nn_mlp net;
    enum { IN = 4, OUT = 3, B = 5 };
    check(nn_mlp_init(&net, &P, "f", IN, "6,5", OUT, act, &e) == 0, "mlp init: %s", e.msg);
    nn_params_alloc(&P);
    set_mlp_params(&net, &P, &r);
    float *w = P.w + net.offset;
    float x[B * IN], c[B * OUT], dx[B * IN];
    ref_fill(&r, x, B * IN, -1.5, 1.5);
    ref_fill(&r, c, B * OUT, -1, 1);
    arena A;
    arena_init(&A, nn_mlp_cache_bytes(&net, B, 1) + nn_mlp_backward_bytes(&net, B, 1));

    /* forward vs the double reference */
    nn_mlp_cache cache;
    const float *y = nn_mlp_forward(&net, w, x, B, &cache, &A);
    size_t np = net.count;
    double *p = malloc((np + B * IN) * sizeof(double));
    for (size_t i = 0; i < np; i++)
        p[i] = w[i];
    for (int i = 0; i < B * IN; i++)
        p[np + i] = x[i];
    ref_cache rc;
    const double *yr = ref_mlp_forward(&net, p, p + np, B, &rc);
    double worst = 0;
    for (int i = 0; i < B * OUT; i++)
        worst = fmax(worst, fabs(y[i] - yr[i]));
    ref_cache_free(&net, &rc);
    check(worst < 1e-5, "mlp %s forward vs reference: error %g", nn_act_name(act), worst);

    /* gradients of J = sum c .* y */
    memset(P.g, 0, P.n_dense * sizeof(float));
    nn_mlp_backward(&net, w, &cache, c, dx, P.g + net.offset, &A);
    double cd[B * OUT];
    for (int i = 0; i < B * OUT; i++)
        cd[i] = c[i];
    mlp_ctx m = {&net, B, cd, NULL, NULL};
    char what[96];
    fd_report rw = ref_fd_check(mlp_J, &m, p, P.g + net.offset, np, 1e-5, 1e-6, 1e-4);
    snprintf(what, sizeof what, "mlp %s parameter gradient", nn_act_name(act));
    check_fd(rw, what);
    fd_report ri;
    memset(&ri, 0, sizeof ri);
    for (int i = 0; i < B * IN; i++) {
        int kink;
        double fd = ref_fd(mlp_J, &m, p, np + i, 1e-5, &kink);
        if (kink)
            ri.skipped++;
        else
            fd_report_add(&ri, i, dx[i], fd, 1e-6, 1e-4);
    }
    snprintf(what, sizeof what, "mlp %s input gradient", nn_act_name(act));
    check_fd(ri, what);

    /* HVP of the mean MSE loss w.r.t. (w, x) along (v_w, v_x) */
    nn_loss L = {NN_LOSS_MSE, 1};
    float t[B * OUT], vw[1024], vx[B * IN], dy[B * OUT], rdy[B * OUT], rg[1024], rdx[B * IN];
    ref_fill(&r, t, B * OUT, -1, 1);
    ref_fill(&r, vw, np, -1, 1);
    ref_fill(&r, vx, B * IN, -1, 1);
    arena_reset(&A);
    y = nn_mlp_forward(&net, w, x, B, &cache, &A);
    const float *ry = nn_mlp_rforward(&net, w, vw, vx, &cache, &A);
    nn_loss_batch(&L, y, t, B * OUT, 1.0 / B, dy);
    nn_loss_rgrad(&L, y, t, ry, B * OUT, 1.0 / B, rdy);
    memset(rg, 0, sizeof rg);
    memset(P.g, 0, P.n_dense * sizeof(float));
    nn_mlp_rbackward(&net, w, vw, &cache, dy, rdy, dx, rdx, P.g + net.offset, rg, &A);
    double td[B * OUT];
    for (int i = 0; i < B * OUT; i++)
        td[i] = t[i];
    mlp_ctx ml = {&net, B, NULL, &L, td};
    size_t ntot = np + B * IN;
    double *gp = malloc(ntot * sizeof(double)), *gm = malloc(ntot * sizeof(double));
    double *pp = malloc(ntot * sizeof(double)), *pm = malloc(ntot * sizeof(double));
    double eps = 1e-5;
    for (size_t i = 0; i < ntot; i++) {
        double vi = i < np ? vw[i] : vx[i - np];
        pp[i] = p[i] + eps * vi;
        pm[i] = p[i] - eps * vi;
    }
    ref_sig = 0;
    mlp_loss_grad(&ml, pp, gp);
    uint64_t sp = ref_sig;
    ref_sig = 0;
    mlp_loss_grad(&ml, pm, gm);
    int kink = sp != ref_sig;
    fd_report rh;
    memset(&rh, 0, sizeof rh);
    for (size_t i = 0; i < ntot; i++) {
        double fd = (gp[i] - gm[i]) / (2 * eps);
        fd_report_add(&rh, i, i < np ? rg[i] : rdx[i - np], fd, 2e-6, 2e-4);
    }
    snprintf(what, sizeof what, "mlp %s HVP (parameters and inputs)", nn_act_name(act));
    if (kink)
        rh.skipped = rh.compared + 1; /* direction crosses a kink: report it */
    check_fd(rh, what);
    /* the gradient from rbackward matches plain backward */
    float g_plain[1024], dx_plain[B * IN];
    memset(g_plain, 0, sizeof g_plain);
    nn_mlp_backward(&net, w, &cache, dy, dx_plain, g_plain, &A);
    worst = 0;
    for (size_t i = 0; i < np; i++)
        worst = fmax(worst, fabs(g_plain[i] - P.g[net.offset + i]));
    for (int i = 0; i < B * IN; i++)
        worst = fmax(worst, fabs(dx_plain[i] - dx[i]));
    check(worst == 0, "mlp %s rbackward gradient equals backward: diff %g", nn_act_name(act),
          worst);

    free(gp);
    free(gm);
    free(pp);
    free(pm);
    free(p);
    arena_free(&A);
    nn_params_free(&P);
}

/* ---- naive vs BLAS kernels ---------------------------------------------- */

static void run_mlp_all(const nn_mlp *net, const float *w, const float *x, const float *v, int B,
                        float *out /* y, g, rg, dx, rdx */, arena *A)
{
    nn_mlp_cache c;
    size_t no = (size_t)B * net->dims[net->nlayers], ni = (size_t)B * net->dims[0];
    arena_reset(A);
    const float *y = nn_mlp_forward(net, w, x, B, &c, A);
    const float *ry = nn_mlp_rforward(net, w, v, x, &c, A);
    memcpy(out, y, no * sizeof(float));
    float *g = out + no, *rg = g + net->count, *dx = rg + net->count, *rdx = dx + ni;
    memset(g, 0, 2 * net->count * sizeof(float));
    nn_mlp_rbackward(net, w, v, &c, y, ry, dx, rdx, g, rg, A);
}

static void test_naive_vs_blas(void)
{
    rng r;
    rng_init(&r, 4, 0);
    errctx e;
    nn_params P;
    nn_params_init(&P);
    nn_mlp net;
    enum { IN = 33, B = 17 };
    check(nn_mlp_init(&net, &P, "f", IN, "40,24", 3, NN_TANH, &e) == 0, "mlp init: %s", e.msg);
    nn_params_alloc(&P);
    set_mlp_params(&net, &P, &r);
    float x[B * IN], *v = malloc(net.count * sizeof(float));
    ref_fill(&r, x, B * IN, -1, 1);
    ref_fill(&r, v, net.count, -1, 1);
    size_t len = B * 3 + 2 * net.count + 2 * B * IN;
    float *o_blas = malloc(len * sizeof(float)), *o_naive = malloc(len * sizeof(float));
    arena A;
    arena_init(&A, nn_mlp_cache_bytes(&net, B, 1) + nn_mlp_backward_bytes(&net, B, 1));
    run_mlp_all(&net, P.w, x, v, B, o_blas, &A);
    nn_set_naive(1);
    check(nn_get_naive() == 1, "naive kernel selected");
    run_mlp_all(&net, P.w, x, v, B, o_naive, &A);
    nn_set_naive(0);
    double worst = 0, scale = 0;
    for (size_t i = 0; i < len; i++) {
        worst = fmax(worst, fabs(o_blas[i] - o_naive[i]));
        scale = fmax(scale, fabs(o_naive[i]));
    }
    check(scale > 0.1 && worst <= 2e-5 * scale,
          "naive vs cblas: forward, gradients and R-op agree (max diff %g, scale %g)", worst,
          scale);
    free(v);
    free(o_blas);
    free(o_naive);
    arena_free(&A);
    nn_params_free(&P);
}

/* ---- parameter block, specs, concatenation ------------------------------ */

static void test_params_and_specs(void)
{
    errctx e;
    int widths[8];
    check(nn_parse_hidden("64,32", widths, 7, &e) == 2 && widths[0] == 64 && widths[1] == 32,
          "parse '64,32'");
    check(nn_parse_hidden("", widths, 7, &e) == 0, "empty spec: no hidden layer");
    const char *bad[] = {"64,,2", "a", "0", "64,", " 64", "64x", "1,2,3,4,5,6,7,8", "-3"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        check(nn_parse_hidden(bad[i], widths, 7, &e) < 0 && strstr(e.msg, "hidden layers"),
              "reject spec '%s'", bad[i]);

    nn_params P;
    nn_params_init(&P);
    int64_t s2[2] = {3, 4}, s0[1] = {0};
    size_t off;
    check(nn_params_add(&P, "a", 2, s2, 0, &off, &e) == 0 && off == 0, "add a");
    check(nn_params_add(&P, "a", 2, s2, 0, &off, &e) < 0 && strstr(e.msg, "twice"),
          "duplicate name refused");
    check(nn_params_add(&P, "z", 1, s0, 0, &off, &e) < 0, "zero dimension refused");
    check(nn_params_add(&P, "emb", 2, s2, NN_TENSOR_SPARSE, &off, &e) == 0 && off == 12,
          "sparse after dense");
    check(nn_params_add(&P, "late", 2, s2, 0, &off, &e) < 0 && strstr(e.msg, "before sparse"),
          "dense after sparse refused");
    check(P.n == 24 && P.n_dense == 12, "block sizes: n %zu, dense %zu", P.n, P.n_dense);
    nn_params_alloc(&P);
    check(nn_params_add(&P, "b", 2, s2, 0, &off, &e) < 0, "no tensors after allocation");
    check(nn_params_find(&P, "emb") == 1 && nn_params_find(&P, "nope") == -1, "find");
    nn_params_free(&P);

    nn_mlp net;
    nn_params_init(&P);
    check(nn_mlp_init(&net, &P, "m", 3, "", 2, NN_RELU, &e) == 0 && net.nlayers == 1 &&
              net.count == 8,
          "linear mlp: one layer, 8 parameters");
    check(nn_mlp_init(&net, &P, "g", 3, "5,x", 2, NN_RELU, &e) < 0, "bad spec reported");
    nn_params_free(&P);

    float a[6] = {1, 2, 3, 4, 5, 6}, b[4] = {7, 8, 9, 10}, cat[10], da[6], db[4];
    nn_concat_rows(cat, a, 3, b, 2, 2);
    const float want[10] = {1, 2, 3, 7, 8, 4, 5, 6, 9, 10};
    check(memcmp(cat, want, sizeof want) == 0, "concat rows");
    nn_split_rows(cat, 3, 2, 2, da, db);
    check(memcmp(da, a, sizeof a) == 0 && memcmp(db, b, sizeof b) == 0, "split inverts concat");
    nn_concat_rows(cat, NULL, 3, b, 2, 2);
    check(cat[0] == 0 && cat[3] == 7 && cat[5] == 0, "concat with a zero block");
}

/* ---- arenas ------------------------------------------------------------- */

static void test_arena(void)
{
    arena A;
    arena_init(&A, 1000);
    check(A.cap == 1024, "capacity rounded to the alignment: %zu", A.cap);
    float *p = arena_floats(&A, 3);
    check(((uintptr_t)p % ARENA_ALIGN) == 0, "aligned");
    size_t mark = arena_mark(&A);
    double *d = arena_doubles(&A, 10);
    check(((uintptr_t)d % ARENA_ALIGN) == 0 && A.used == 64 + 128, "second block aligned: used %zu",
          A.used);
    arena_release(&A, mark);
    check(A.used == 64 && A.peak == 192, "release to mark keeps the peak");
    float *z = arena_zfloats(&A, 5);
    check(z[0] == 0 && z[4] == 0, "zeroed floats");
    arena_reset(&A);
    check(A.used == 0, "reset");

    /* overflow aborts: run it in a child */
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        if (!freopen("/dev/null", "w", stderr))
            _exit(3);
        arena_alloc(&A, 2000);
        _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    check(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT,
          "an allocation past the capacity aborts (status %d)", status);
    arena_free(&A);

    /* no heap allocation in a training loop: forward, backward, HVP */
    errctx e;
    nn_params P;
    nn_params_init(&P);
    nn_mlp net;
    check(nn_mlp_init(&net, &P, "f", 8, "16,16", 2, NN_RELU, &e) == 0, "mlp init");
    nn_params_alloc(&P);
    rng r;
    rng_init(&r, 5, 0);
    nn_mlp_init_weights(&net, P.w, &r);
    enum { B = 32 };
    float x[B * 8], dy[B * 2];
    ref_fill(&r, x, B * 8, -1, 1);
    ref_fill(&r, dy, B * 2, -1, 1);
    size_t need = nn_mlp_cache_bytes(&net, B, 1) + nn_mlp_backward_bytes(&net, B, 1);
    arena_init(&A, need);
    unsigned long before = arena_heap_allocs();
    for (int it = 0; it < 20; it++) {
        arena_reset(&A);
        nn_mlp_cache c;
        nn_mlp_forward(&net, P.w, x, B, &c, &A);
        nn_mlp_rforward(&net, P.w, P.w, x, &c, &A);
        nn_mlp_rbackward(&net, P.w, P.w, &c, dy, dy, NULL, NULL, P.g, P.g, &A);
        nn_mlp_backward(&net, P.w, &c, dy, NULL, P.g, &A);
    }
    check(arena_heap_allocs() == before, "no heap allocation in the loop (%lu)",
          arena_heap_allocs() - before);
    check(A.peak <= need && A.peak * 2 > need, "size helpers are tight: peak %zu of %zu", A.peak,
          need);
    arena_free(&A);
    nn_params_free(&P);
}

int main(void)
{
    test_gemm();
    test_activations();
    test_losses();
    test_dense();
    for (int a = 0; a < 4; a++)
        test_mlp(all_acts[a]);
    test_naive_vs_blas();
    test_params_and_specs();
    test_arena();
    return check_done("test_nn");
}
