/*
 * nn_loss.h - losses with their first and second derivatives, and a stable
 * logsumexp / softmax with gradient and R-operator.
 *
 * Elementwise losses l(z, y) of a prediction z against a target y:
 *
 *   bce    binary cross-entropy on the logit z, target y in [0, 1]:
 *          l = max(z, 0) - z y + log1p(exp(-|z|))
 *          (= -y log s(z) - (1-y) log(1 - s(z)) without overflow for any z)
 *          l' = s(z) - y,  l'' = s(z)(1 - s(z))
 *   mse    squared error l = (z - y)^2, l' = 2 (z - y), l'' = 2
 *          (its batch mean is the mean squared error)
 *   huber  r = z - y:  l = r^2 / 2 for |r| <= delta, delta (|r| - delta/2)
 *          beyond;  l' = clamp(r, -delta, delta);  l'' = 1 inside, 0 beyond
 *          (Huber 1964)
 *
 * The second derivative is what the R-operator needs at the output:
 * R{dl/dz} = l''(z) R{z} (Pearlmutter 1994).  Batch functions sum in
 * double and take a scale (usually 1/n for a mean), applied to the
 * derivatives they write.
 *
 * logsumexp(x) = m + log sum exp(x_i - m), m = max x_i; its gradient is
 * softmax(x) = p and its Hessian diag(p) - p p^T, so the R-operator of the
 * gradient along v is p .* (v - p.v).
 */
#ifndef RECSTAGE_NN_LOSS_H
#define RECSTAGE_NN_LOSS_H

#include <stddef.h>

#include "err.h"

typedef enum { NN_LOSS_BCE = 0, NN_LOSS_MSE, NN_LOSS_HUBER } nn_loss_kind;

typedef struct nn_loss {
    nn_loss_kind kind;
    double delta; /* huber threshold, > 0 */
} nn_loss;

/* "bce", "mse", "huber" -> kind (delta left to the caller, default 1).
 * Returns 0, or -1 with a message listing the names. */
int nn_loss_parse(const char *s, nn_loss *out, errctx *e);
const char *nn_loss_name(const nn_loss *L);

/* l(z, y), l'(z, y) = dl/dz and l''(z, y), in double. */
double nn_loss_value(const nn_loss *L, double z, double y);
double nn_loss_d1(const nn_loss *L, double z, double y);
double nn_loss_d2(const nn_loss *L, double z, double y);

/* The scalar losses, for callers that want one directly. */
double nn_bce_logits(double z, double y);
double nn_sigmoid(double z); /* 1 / (1 + exp(-z)) without overflow */

/* Over n elements: returns sum_i l(z_i, y_i) (double), and if dz is not
 * NULL writes dz_i = scale * l'(z_i, y_i). */
double nn_loss_batch(const nn_loss *L, const float *z, const float *y, size_t n, double scale,
                     float *dz);
/* R-operator of the scaled gradient: rdz_i = scale * l''(z_i, y_i) rz_i. */
void nn_loss_rgrad(const nn_loss *L, const float *z, const float *y, const float *rz, size_t n,
                   double scale, float *rdz);

/* Stable logsumexp of x (n > 0) in double. */
double nn_logsumexp(const float *x, size_t n);
/* p (n) = softmax(x), the gradient of logsumexp; returns logsumexp(x). */
double nn_softmax(const float *x, size_t n, float *p);
/* rp (n) = Hessian of logsumexp at x times v = p .* (v - p.v). */
void nn_logsumexp_rop(const float *x, const float *v, size_t n, float *rp);

#endif
