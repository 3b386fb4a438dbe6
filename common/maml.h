/*
 * maml.h - the composed meta/global network and its MAML meta-gradient.
 *
 * Network (SPEC section 7).  The meta block g(m; phi) maps member features
 * m (m_dim) to a meta embedding e (e_dim); the global block f([x, e];
 * theta) maps the concatenation of item/context features x (x_dim) and e
 * to logits (out_dim); a loss l (nn_loss.h) compares them with labels y.
 * L(rows; phi, theta) is the mean over rows of the loss summed over
 * outputs.  phi and theta are the two MLP slices of one parameter block.
 *
 * Exact Hessian-vector products of L with respect to all of (phi, theta)
 * use Pearlmutter's R-operator (Neural Computation 6(1), 1994) through the
 * whole composition: R-forward through g along v_phi gives R{e}; R-forward
 * through f along v_theta with input direction [0, R{e}] gives R{logit};
 * R{dl/dlogit} = l'' R{logit}; R-backward through f gives (H v)_theta and
 * R{dL/de}; R-backward through g gives (H v)_phi.
 *
 * MAML (Finn, Abbeel and Levine 2017, "Model-agnostic meta-learning",
 * ICML, Algorithm 2) with the global block frozen in the inner loop: for a
 * task with support rows S and query rows Q,
 *
 *   phi_0 = phi,  phi_{k+1} = phi_k - alpha grad_phi L_S(phi_k, theta),
 *   k = 0..K-1, and the meta-objective J(phi, theta) = L_Q(phi_K, theta).
 *
 * Its exact gradient by reverse accumulation through the K steps, with
 * H(phi_k) the Hessian of L_S at (phi_k, theta):
 *
 *   v_K = grad_phi L_Q(phi_K, theta)
 *   v_k = v_{k+1} - alpha H_phiphi(phi_k) v_{k+1}            (k = K-1..0)
 *   dJ/dphi   = v_0
 *   dJ/dtheta = grad_theta L_Q(phi_K, theta)
 *               - alpha sum_k H_thetaphi(phi_k) v_{k+1}
 *
 * One HVP per inner step gives both blocks: the R-direction is (v_{k+1}
 * on phi, 0 on theta), whose product is (H_phiphi v, H_thetaphi v).  The
 * first-order variant (FOMAML, Finn et al. section 5.2) drops the Hessian
 * terms: dJ/dphi = v_K, dJ/dtheta = grad_theta L_Q(phi_K).  With K = 0 or
 * an empty support set there is no adaptation and both orders agree.
 *
 * Memory: every call takes an arena sized with the *_bytes helpers; the
 * adapted parameters phi_1..phi_K and all buffers live there, so a
 * meta-batch loop allocates nothing.  Calls release what they take.
 *
 * Use from a tool: maml_net_init on the block, nn_params_alloc, init both
 * slices; per worker an arena of maml_workspace_bytes(N, &cfg, max rows);
 * per task maml_meta_grad(..., g_phi, g_theta, A) (accumulating into the
 * worker's gradient slot, see pool.h), then scale by 1/B and step.
 */
#ifndef RECSTAGE_MAML_H
#define RECSTAGE_MAML_H

#include <stddef.h>

#include "arena.h"
#include "err.h"
#include "nn.h"
#include "nn_loss.h"

typedef struct maml_net_cfg {
    int m_dim;                 /* member features, >= 1 */
    int x_dim;                 /* item/context features, >= 0 */
    int e_dim;                 /* meta embedding, >= 1 */
    int out_dim;               /* logits, >= 1 */
    const char *meta_hidden;   /* e.g. "32" (nn_parse_hidden) */
    const char *global_hidden; /* e.g. "64,64" */
    nn_act meta_act, global_act;
    nn_loss loss;
} maml_net_cfg;

typedef struct maml_net {
    nn_mlp meta;   /* g(m; phi): m_dim -> e_dim, tensors "meta.*" */
    nn_mlp global; /* f([x, e]; theta): x_dim + e_dim -> out_dim, tensors "global.*" */
    nn_loss loss;
    int m_dim, x_dim, e_dim, out_dim;
    size_t nphi, ntheta; /* meta.count, global.count */
} maml_net;

typedef struct maml_cfg {
    int steps;    /* K >= 0 inner steps */
    double alpha; /* inner learning rate */
    int order;    /* 2: exact (HVPs), 1: first-order */
} maml_cfg;

/* One task: row-major (n, dim) arrays; n_support may be 0. */
typedef struct maml_task {
    const float *support_m; /* (n_support, m_dim) */
    const float *support_x; /* (n_support, x_dim) */
    const float *support_y; /* (n_support, out_dim) */
    int n_support;
    const float *query_m; /* (n_query, m_dim) */
    const float *query_x; /* (n_query, x_dim) */
    const float *query_y; /* (n_query, out_dim) */
    int n_query;
} maml_task;

/* Declare both blocks in P (meta first, then global, each contiguous).
 * Returns 0, or -1 with a message. */
int maml_net_init(maml_net *N, nn_params *P, const maml_net_cfg *cfg, errctx *e);
/* The slices of an allocated block. */
float *maml_phi(const maml_net *N, const nn_params *P);
float *maml_theta(const maml_net *N, const nn_params *P);

/* Arena bytes for one maml_embed / maml_forward / maml_loss_grad /
 * maml_hvp call on up to n rows. */
size_t maml_eval_bytes(const maml_net *N, int n);
/* Arena bytes for maml_adapt on up to n rows (any number of steps). */
size_t maml_adapt_bytes(const maml_net *N, int n);
/* Arena bytes for maml_meta_grad with up to max_rows support or query
 * rows. */
size_t maml_workspace_bytes(const maml_net *N, const maml_cfg *cfg, int max_rows);

/* e (n, e_dim) = g(m; phi). */
void maml_embed(const maml_net *N, const float *phi, const float *m, int n, float *e, arena *A);
/* logits (n, out_dim) = f([x, g(m; phi)]; theta). */
void maml_forward(const maml_net *N, const float *phi, const float *theta, const float *m,
                  const float *x, int n, float *logits, arena *A);
/* Returns L (mean over rows) and accumulates g_phi += dL/dphi, g_theta +=
 * dL/dtheta (either may be NULL).  n >= 1. */
double maml_loss_grad(const maml_net *N, const float *phi, const float *theta, const float *m,
                      const float *x, const float *y, int n, float *g_phi, float *g_theta,
                      arena *A);
/* Hessian-vector product of L at (phi, theta) along (v_phi, v_theta)
 * (NULL = 0): h_phi += (H v)_phi, h_theta += (H v)_theta (either may be
 * NULL).  Returns L.  n >= 1. */
double maml_hvp(const maml_net *N, const float *phi, const float *theta, const float *m,
                const float *x, const float *y, int n, const float *v_phi, const float *v_theta,
                float *h_phi, float *h_theta, arena *A);

/* phi_out (nphi) = phi_K after cfg->steps inner steps on the n rows (m,
 * x, y) with theta frozen; n = 0 or steps = 0 copies phi. */
void maml_adapt(const maml_net *N, const maml_cfg *cfg, const float *phi, const float *theta,
                const float *m, const float *x, const float *y, int n, float *phi_out, arena *A);

/* The meta-gradient of J = L_Q(phi_K, theta) for one task (equations
 * above), accumulated: g_phi += dJ/dphi, g_theta += dJ/dtheta.  Returns J
 * (0 when the task has no query rows, and then adds nothing).  The arena
 * must hold maml_workspace_bytes(N, cfg, max(n_support, n_query)). */
double maml_meta_grad(const maml_net *N, const maml_cfg *cfg, const float *phi, const float *theta,
                      const maml_task *T, float *g_phi, float *g_theta, arena *A);

#endif
