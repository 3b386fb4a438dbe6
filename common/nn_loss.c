/*
 * nn_loss.c - BCE with logits, MSE, Huber; logsumexp and softmax.
 *
 * Everything is computed in double from float inputs: the losses are
 * cheap next to the matrix products, and double keeps the batch sums (an
 * estimate of the expected loss) and the stable forms exact enough for
 * the finite-difference tests.  Formulas in nn_loss.h.
 */
#include <math.h>
#include <string.h>

#include "nn_loss.h"
#include "banned.h"

int nn_loss_parse(const char *s, nn_loss *out, errctx *e)
{
    static const char *const names[] = {"bce", "mse", "huber"};
    for (int i = 0; i < 3; i++) {
        if (strcmp(s, names[i]) == 0) {
            out->kind = (nn_loss_kind)i;
            out->delta = 1.0;
            return 0;
        }
    }
    return err_set(e, "unknown loss '%s' (want bce, mse or huber)", s);
}

const char *nn_loss_name(const nn_loss *L)
{
    switch (L->kind) {
    case NN_LOSS_BCE:
        return "bce";
    case NN_LOSS_MSE:
        return "mse";
    case NN_LOSS_HUBER:
        return "huber";
    }
    return "?";
}

double nn_sigmoid(double z)
{
    if (z >= 0)
        return 1 / (1 + exp(-z));
    double t = exp(z);
    return t / (1 + t);
}

double nn_bce_logits(double z, double y)
{
    return (z > 0 ? z : 0) - z * y + log1p(exp(-fabs(z)));
}

double nn_loss_value(const nn_loss *L, double z, double y)
{
    double r = z - y;
    switch (L->kind) {
    case NN_LOSS_BCE:
        return nn_bce_logits(z, y);
    case NN_LOSS_MSE:
        return r * r;
    case NN_LOSS_HUBER:
        return fabs(r) <= L->delta ? 0.5 * r * r : L->delta * (fabs(r) - 0.5 * L->delta);
    }
    return 0;
}

double nn_loss_d1(const nn_loss *L, double z, double y)
{
    double r = z - y;
    switch (L->kind) {
    case NN_LOSS_BCE:
        return nn_sigmoid(z) - y;
    case NN_LOSS_MSE:
        return 2 * r;
    case NN_LOSS_HUBER:
        return r > L->delta ? L->delta : r < -L->delta ? -L->delta : r;
    }
    return 0;
}

double nn_loss_d2(const nn_loss *L, double z, double y)
{
    switch (L->kind) {
    case NN_LOSS_BCE: {
        double s = nn_sigmoid(z);
        return s * (1 - s);
    }
    case NN_LOSS_MSE:
        return 2;
    case NN_LOSS_HUBER:
        return fabs(z - y) <= L->delta ? 1 : 0;
    }
    return 0;
}

double nn_loss_batch(const nn_loss *L, const float *z, const float *y, size_t n, double scale,
                     float *dz)
{
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        sum += nn_loss_value(L, z[i], y[i]);
        if (dz)
            dz[i] = (float)(scale * nn_loss_d1(L, z[i], y[i]));
    }
    return sum;
}

void nn_loss_rgrad(const nn_loss *L, const float *z, const float *y, const float *rz, size_t n,
                   double scale, float *rdz)
{
    for (size_t i = 0; i < n; i++)
        rdz[i] = (float)(scale * nn_loss_d2(L, z[i], y[i]) * rz[i]);
}

double nn_logsumexp(const float *x, size_t n)
{
    double m = x[0];
    for (size_t i = 1; i < n; i++)
        if (x[i] > m)
            m = x[i];
    if (isinf(m))
        return m;
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += exp(x[i] - m);
    return m + log(s);
}

double nn_softmax(const float *x, size_t n, float *p)
{
    double lse = nn_logsumexp(x, n);
    for (size_t i = 0; i < n; i++)
        p[i] = (float)exp(x[i] - lse);
    return lse;
}

void nn_logsumexp_rop(const float *x, const float *v, size_t n, float *rp)
{
    double lse = nn_logsumexp(x, n), pv = 0;
    for (size_t i = 0; i < n; i++)
        pv += exp(x[i] - lse) * v[i];
    for (size_t i = 0; i < n; i++)
        rp[i] = (float)(exp(x[i] - lse) * (v[i] - pv));
}
