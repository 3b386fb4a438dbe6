/*
 * maml.c - the composed network g -> [x, e] -> f -> loss, its gradient and
 * exact Hessian-vector product, and the MAML meta-gradient.
 *
 * Equations in maml.h.  One internal routine, eval(), runs forward, loss,
 * backward and (optionally) the R-forward/R-backward pair; the public
 * functions are thin wrappers, so the gradient used in the inner loop and
 * the one inside the HVP are the same code.
 */
#include <string.h>

#include "maml.h"
#include "banned.h"

int maml_net_init(maml_net *N, nn_params *P, const maml_net_cfg *cfg, errctx *e)
{
    memset(N, 0, sizeof *N);
    if (cfg->m_dim < 1 || cfg->e_dim < 1 || cfg->out_dim < 1 || cfg->x_dim < 0)
        return err_set(e, "maml network: need m_dim >= 1, e_dim >= 1, out_dim >= 1, x_dim >= 0 "
                          "(got %d, %d, %d, %d)",
                       cfg->m_dim, cfg->e_dim, cfg->out_dim, cfg->x_dim);
    if (nn_mlp_init(&N->meta, P, "meta", cfg->m_dim, cfg->meta_hidden, cfg->e_dim, cfg->meta_act,
                    e) < 0)
        return -1;
    if (nn_mlp_init(&N->global, P, "global", cfg->x_dim + cfg->e_dim, cfg->global_hidden,
                    cfg->out_dim, cfg->global_act, e) < 0)
        return -1;
    N->loss = cfg->loss;
    N->m_dim = cfg->m_dim;
    N->x_dim = cfg->x_dim;
    N->e_dim = cfg->e_dim;
    N->out_dim = cfg->out_dim;
    N->nphi = N->meta.count;
    N->ntheta = N->global.count;
    return 0;
}

float *maml_phi(const maml_net *N, const nn_params *P)
{
    return P->w + N->meta.offset;
}

float *maml_theta(const maml_net *N, const nn_params *P)
{
    return P->w + N->global.offset;
}

static size_t fbytes(size_t n)
{
    return arena_round(n * sizeof(float));
}

size_t maml_eval_bytes(const maml_net *N, int n)
{
    size_t xe = (size_t)N->x_dim + N->e_dim;
    size_t bw_meta = nn_mlp_backward_bytes(&N->meta, n, 1);
    size_t bw_global = nn_mlp_backward_bytes(&N->global, n, 1);
    return nn_mlp_cache_bytes(&N->meta, n, 1) + nn_mlp_cache_bytes(&N->global, n, 1) +
           4 * fbytes((size_t)n * xe) +                /* X, R{X}, dX, R{dX} */
           2 * fbytes((size_t)n * N->out_dim) +        /* dy, R{dy} */
           2 * fbytes((size_t)n * N->e_dim) +          /* de, R{de} */
           (bw_meta > bw_global ? bw_meta : bw_global); /* one backward at a time */
}

size_t maml_adapt_bytes(const maml_net *N, int n)
{
    return fbytes(N->nphi) + maml_eval_bytes(N, n);
}

size_t maml_workspace_bytes(const maml_net *N, const maml_cfg *cfg, int max_rows)
{
    int K = cfg->steps > 0 ? cfg->steps : 0;
    /* phi_1..phi_K, inner gradient, v, (H v)_phi, (H v)_theta */
    return fbytes((size_t)K * N->nphi) + 3 * fbytes(N->nphi) + fbytes(N->ntheta) +
           maml_eval_bytes(N, max_rows);
}

/* Forward through g and f; with want_r also the R-forward along
 * (v_phi, v_theta).  The caches and X live in A. */
typedef struct fwd {
    nn_mlp_cache cm, cg;
    float *X;            /* (n, x_dim + e_dim) */
    const float *logits; /* (n, out_dim) */
    const float *rlogits;
} fwd;

static void forward(const maml_net *N, const float *phi, const float *theta, const float *m,
                    const float *x, int n, fwd *F, arena *A)
{
    const float *e = nn_mlp_forward(&N->meta, phi, m, n, &F->cm, A);
    F->X = arena_floats(A, (size_t)n * (N->x_dim + N->e_dim));
    nn_concat_rows(F->X, x, N->x_dim, e, N->e_dim, n);
    F->logits = nn_mlp_forward(&N->global, theta, F->X, n, &F->cg, A);
}

static double eval(const maml_net *N, const float *phi, const float *theta, const float *m,
                   const float *x, const float *y, int n, int want_r, const float *v_phi,
                   const float *v_theta, float *g_phi, float *g_theta, float *h_phi,
                   float *h_theta, arena *A)
{
    size_t mark = arena_mark(A);
    size_t xe = (size_t)N->x_dim + N->e_dim, nout = (size_t)n * N->out_dim;
    double scale = 1.0 / n;
    fwd F;
    forward(N, phi, theta, m, x, n, &F, A);
    float *dy = arena_floats(A, nout);
    double loss = nn_loss_batch(&N->loss, F.logits, y, nout, scale, dy);
    int need_phi = g_phi || h_phi;
    if (!want_r) {
        float *dX = need_phi ? arena_floats(A, (size_t)n * xe) : NULL;
        nn_mlp_backward(&N->global, theta, &F.cg, dy, dX, g_theta, A);
        if (need_phi) {
            float *de = arena_floats(A, (size_t)n * N->e_dim);
            nn_split_rows(dX, N->x_dim, N->e_dim, n, NULL, de);
            nn_mlp_backward(&N->meta, phi, &F.cm, de, NULL, g_phi, A);
        }
    } else {
        /* R-forward: R{e} along v_phi, then f along v_theta with input
         * direction [0, R{e}]. */
        const float *re = nn_mlp_rforward(&N->meta, phi, v_phi, NULL, &F.cm, A);
        float *RX = arena_floats(A, (size_t)n * xe);
        nn_concat_rows(RX, NULL, N->x_dim, re, N->e_dim, n);
        const float *rlogits = nn_mlp_rforward(&N->global, theta, v_theta, RX, &F.cg, A);
        float *rdy = arena_floats(A, nout);
        nn_loss_rgrad(&N->loss, F.logits, y, rlogits, nout, scale, rdy);
        float *dX = need_phi ? arena_floats(A, (size_t)n * xe) : NULL;
        float *rdX = need_phi ? arena_floats(A, (size_t)n * xe) : NULL;
        nn_mlp_rbackward(&N->global, theta, v_theta, &F.cg, dy, rdy, dX, rdX, g_theta, h_theta, A);
        if (need_phi) {
            float *de = arena_floats(A, (size_t)n * N->e_dim);
            float *rde = arena_floats(A, (size_t)n * N->e_dim);
            nn_split_rows(dX, N->x_dim, N->e_dim, n, NULL, de);
            nn_split_rows(rdX, N->x_dim, N->e_dim, n, NULL, rde);
            nn_mlp_rbackward(&N->meta, phi, v_phi, &F.cm, de, rde, NULL, NULL, g_phi, h_phi, A);
        }
    }
    arena_release(A, mark);
    return loss * scale;
}

void maml_embed(const maml_net *N, const float *phi, const float *m, int n, float *e, arena *A)
{
    size_t mark = arena_mark(A);
    nn_mlp_cache c;
    const float *out = nn_mlp_forward(&N->meta, phi, m, n, &c, A);
    memcpy(e, out, (size_t)n * N->e_dim * sizeof(float));
    arena_release(A, mark);
}

void maml_forward(const maml_net *N, const float *phi, const float *theta, const float *m,
                  const float *x, int n, float *logits, arena *A)
{
    size_t mark = arena_mark(A);
    fwd F;
    forward(N, phi, theta, m, x, n, &F, A);
    memcpy(logits, F.logits, (size_t)n * N->out_dim * sizeof(float));
    arena_release(A, mark);
}

double maml_loss_grad(const maml_net *N, const float *phi, const float *theta, const float *m,
                      const float *x, const float *y, int n, float *g_phi, float *g_theta,
                      arena *A)
{
    return eval(N, phi, theta, m, x, y, n, 0, NULL, NULL, g_phi, g_theta, NULL, NULL, A);
}

double maml_hvp(const maml_net *N, const float *phi, const float *theta, const float *m,
                const float *x, const float *y, int n, const float *v_phi, const float *v_theta,
                float *h_phi, float *h_theta, arena *A)
{
    return eval(N, phi, theta, m, x, y, n, 1, v_phi, v_theta, NULL, NULL, h_phi, h_theta, A);
}

/* dst = src - alpha g */
static void sgd_into(float *dst, const float *src, const float *g, float alpha, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = src[i] - alpha * g[i];
}

void maml_adapt(const maml_net *N, const maml_cfg *cfg, const float *phi, const float *theta,
                const float *m, const float *x, const float *y, int n, float *phi_out, arena *A)
{
    memcpy(phi_out, phi, N->nphi * sizeof(float));
    if (n <= 0 || cfg->steps <= 0)
        return;
    size_t mark = arena_mark(A);
    float *g = arena_floats(A, N->nphi);
    for (int k = 0; k < cfg->steps; k++) {
        memset(g, 0, N->nphi * sizeof(float));
        maml_loss_grad(N, phi_out, theta, m, x, y, n, g, NULL, A);
        sgd_into(phi_out, phi_out, g, (float)cfg->alpha, N->nphi);
    }
    arena_release(A, mark);
}

double maml_meta_grad(const maml_net *N, const maml_cfg *cfg, const float *phi, const float *theta,
                      const maml_task *T, float *g_phi, float *g_theta, arena *A)
{
    if (T->n_query <= 0)
        return 0;
    size_t mark = arena_mark(A);
    size_t np = N->nphi, nt = N->ntheta;
    int K = T->n_support > 0 && cfg->steps > 0 ? cfg->steps : 0;
    float alpha = (float)cfg->alpha;

    /* Inner loop: phi_k for k >= 1 is adapted + (k-1) np; phi_0 is the
     * caller's. */
    float *adapted = arena_floats(A, (size_t)K * np);
    float *g = arena_floats(A, np);
#define PHI_K(k) ((k) == 0 ? phi : adapted + (size_t)((k) - 1) * np)
    for (int k = 0; k < K; k++) {
        memset(g, 0, np * sizeof(float));
        maml_loss_grad(N, PHI_K(k), theta, T->support_m, T->support_x, T->support_y,
                       T->n_support, g, NULL, A);
        sgd_into(adapted + (size_t)k * np, PHI_K(k), g, alpha, np);
    }

    /* Outer loss at phi_K: v = v_K, theta gradient straight into g_theta. */
    float *v = arena_zfloats(A, np);
    double loss = maml_loss_grad(N, PHI_K(K), theta, T->query_m, T->query_x, T->query_y,
                                 T->n_query, v, g_theta, A);

    /* Backward through the inner steps (second order only). */
    if (cfg->order >= 2 && K > 0) {
        float *h_phi = arena_floats(A, np);
        float *h_theta = arena_floats(A, nt);
        for (int k = K - 1; k >= 0; k--) {
            memset(h_phi, 0, np * sizeof(float));
            memset(h_theta, 0, nt * sizeof(float));
            maml_hvp(N, PHI_K(k), theta, T->support_m, T->support_x, T->support_y, T->n_support, v,
                     NULL, h_phi, g_theta ? h_theta : NULL, A);
            for (size_t i = 0; i < np; i++)
                v[i] -= alpha * h_phi[i];
            if (g_theta)
                for (size_t i = 0; i < nt; i++)
                    g_theta[i] -= alpha * h_theta[i];
        }
    }
    if (g_phi)
        for (size_t i = 0; i < np; i++)
            g_phi[i] += v[i];
#undef PHI_K
    arena_release(A, mark);
    return loss;
}
