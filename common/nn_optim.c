/*
 * nn_optim.c - SGD with momentum, Adam, AdamW, clipping, initialisation,
 * save/restore.  The update equations are in nn_optim.h; one function,
 * update_range, applies them to a contiguous range, so the dense step and
 * the lazy sparse row updates share the exact same arithmetic.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn_optim.h"
#include "banned.h"

void nn_optim_defaults(nn_optim *o, nn_optim_kind kind, double lr)
{
    memset(o, 0, sizeof *o);
    o->kind = kind;
    o->lr = lr;
    o->beta1 = 0.9;
    o->beta2 = 0.999;
    o->eps = 1e-8;
}

static const char *const optim_names[] = {"sgd", "adam", "adamw"};

int nn_optim_parse(const char *s, nn_optim_kind *out, errctx *e)
{
    for (int i = 0; i < 3; i++) {
        if (strcmp(s, optim_names[i]) == 0) {
            *out = (nn_optim_kind)i;
            return 0;
        }
    }
    return err_set(e, "unknown optimizer '%s' (want sgd, adam or adamw)", s);
}

const char *nn_optim_name(nn_optim_kind kind)
{
    return (unsigned)kind < 3 ? optim_names[kind] : "?";
}

int nn_optim_nstate(const nn_optim *o)
{
    if (o->kind == NN_OPT_SGD)
        return o->momentum != 0 ? 1 : 0;
    return 2;
}

void nn_optim_attach(nn_optim *o, nn_params *P)
{
    free(P->state);
    P->nstate = nn_optim_nstate(o);
    P->state = P->nstate ? arena_heap_calloc((size_t)P->nstate * P->n, sizeof(float)) : NULL;
    o->step = 0;
}

/* Bias corrections and decay for step t. */
typedef struct step_consts {
    double bc1, bc2; /* 1 - beta1^t, 1 - beta2^t */
} step_consts;

static step_consts consts_for(const nn_optim *o)
{
    step_consts c = {1, 1};
    if (o->kind != NN_OPT_SGD && o->step > 0) {
        c.bc1 = 1 - pow(o->beta1, (double)o->step);
        c.bc2 = 1 - pow(o->beta2, (double)o->step);
    }
    return c;
}

/* Update w[0..n) from g[0..n) with state slots m (and v); lambda is the
 * decay for this tensor (0 when it is not flagged). */
static void update_range(const nn_optim *o, const step_consts *c, float *w, const float *g, float *m,
                         float *v, size_t n, double lambda)
{
    double lr = o->lr;
    switch (o->kind) {
    case NN_OPT_SGD:
        for (size_t i = 0; i < n; i++) {
            double gi = (double)g[i] + lambda * w[i];
            if (m) {
                double mi = o->momentum * m[i] + gi;
                m[i] = (float)mi;
                gi = mi;
            }
            w[i] = (float)(w[i] - lr * gi);
        }
        break;
    case NN_OPT_ADAM:
    case NN_OPT_ADAMW: {
        int decoupled = o->kind == NN_OPT_ADAMW;
        double b1 = o->beta1, b2 = o->beta2;
        for (size_t i = 0; i < n; i++) {
            double wi = w[i];
            double gi = decoupled ? g[i] : g[i] + lambda * wi;
            double mi = b1 * m[i] + (1 - b1) * gi;
            double vi = b2 * v[i] + (1 - b2) * gi * gi;
            m[i] = (float)mi;
            v[i] = (float)vi;
            double upd = (mi / c->bc1) / (sqrt(vi / c->bc2) + o->eps);
            if (decoupled)
                upd += lambda * wi;
            w[i] = (float)(wi - lr * upd);
        }
        break;
    }
    }
}

static float *slot(const nn_params *P, int k, size_t off)
{
    return P->nstate > k ? P->state + (size_t)k * P->n + off : NULL;
}

void nn_optim_step(nn_optim *o, nn_params *P)
{
    o->step++;
    step_consts c = consts_for(o);
    for (int i = 0; i < P->ntensors; i++) {
        const nn_tensor *t = &P->t[i];
        if (t->flags & NN_TENSOR_SPARSE)
            continue;
        double lambda = (t->flags & NN_TENSOR_DECAY) ? o->weight_decay : 0;
        update_range(o, &c, P->w + t->offset, P->g + t->offset, slot(P, 0, t->offset),
                     slot(P, 1, t->offset), t->count, lambda);
    }
}

void nn_optim_update_rows(const nn_optim *o, nn_params *P, int tensor, const int32_t *rows,
                          int nrows, const float *grows)
{
    const nn_tensor *t = &P->t[tensor];
    size_t len = t->count / (size_t)t->shape[0];
    double lambda = (t->flags & NN_TENSOR_DECAY) ? o->weight_decay : 0;
    step_consts c = consts_for(o);
    for (int k = 0; k < nrows; k++) {
        size_t off = t->offset + (size_t)rows[k] * len;
        update_range(o, &c, P->w + off, grows + (size_t)k * len, slot(P, 0, off), slot(P, 1, off),
                     len, lambda);
    }
}

double nn_grad_norm2(const nn_params *P)
{
    double s = 0;
    for (size_t i = 0; i < P->n_dense; i++)
        s += (double)P->g[i] * P->g[i];
    return s;
}

void nn_grad_scale(nn_params *P, float s)
{
    for (size_t i = 0; i < P->n_dense; i++)
        P->g[i] *= s;
}

double nn_clip_factor(double norm2, double max_norm)
{
    double norm = sqrt(norm2);
    if (max_norm <= 0 || !(norm > max_norm))
        return 1;
    return max_norm / norm;
}

double nn_clip_grad_norm(nn_params *P, double max_norm)
{
    double n2 = nn_grad_norm2(P);
    double f = nn_clip_factor(n2, max_norm);
    if (f != 1)
        nn_grad_scale(P, (float)f);
    return sqrt(n2);
}

void nn_init_he(float *w, size_t n, int fan_in, rng *r)
{
    double sd = sqrt(2.0 / fan_in);
    for (size_t i = 0; i < n; i++)
        w[i] = (float)(sd * rng_normal(r));
}

void nn_init_xavier(float *w, size_t n, int fan_in, int fan_out, rng *r)
{
    double lim = sqrt(6.0 / (fan_in + fan_out));
    for (size_t i = 0; i < n; i++)
        w[i] = (float)(lim * (2 * rng_uniform(r) - 1));
}

/* ---- save / restore ----------------------------------------------------- */

static int load_tensor(const model *m, const char *name, const nn_tensor *t, float *dst, errctx *e)
{
    model_tensor *mt = model_need(m, name, t->count, e);
    if (!mt)
        return -1;
    int same = mt->ndim == t->ndim;
    for (int d = 0; same && d < t->ndim; d++)
        same = mt->shape[d] == t->shape[d];
    if (!same)
        return err_set(e, "tensor '%s': shape differs from the model's configuration", name);
    memcpy(dst, mt->data, t->count * sizeof(float));
    return 0;
}

int nn_params_save(const nn_params *P, model *m, errctx *e)
{
    for (int i = 0; i < P->ntensors; i++) {
        const nn_tensor *t = &P->t[i];
        if (!model_add(m, t->name, t->ndim, t->shape, P->w + t->offset))
            return err_set(e, "tensor '%s': cannot add to the model", t->name);
    }
    return 0;
}

int nn_params_load(nn_params *P, const model *m, errctx *e)
{
    for (int i = 0; i < P->ntensors; i++)
        if (load_tensor(m, P->t[i].name, &P->t[i], P->w + P->t[i].offset, e) < 0)
            return -1;
    return 0;
}

static const char *const slot_prefix[] = {"opt.m.", "opt.v."};

int nn_optim_save(const nn_optim *o, const nn_params *P, model *m, errctx *e)
{
    if (P->nstate != nn_optim_nstate(o))
        return err_set(e, "optimizer state not attached");
    model_meta_set(m, "opt.kind", nn_optim_name(o->kind));
    model_meta_set_int(m, "opt.step", o->step);
    for (int k = 0; k < P->nstate; k++) {
        for (int i = 0; i < P->ntensors; i++) {
            const nn_tensor *t = &P->t[i];
            char name[NN_NAME_MAX + 8];
            snprintf(name, sizeof name, "%s%s", slot_prefix[k], t->name);
            if (!model_add(m, name, t->ndim, t->shape, slot(P, k, t->offset)))
                return err_set(e, "tensor '%s': cannot add to the model", name);
        }
    }
    return 0;
}

int nn_optim_load(nn_optim *o, nn_params *P, const model *m, errctx *e)
{
    if (P->nstate != nn_optim_nstate(o))
        return err_set(e, "optimizer state not attached");
    const char *kind = model_meta_get(m, "opt.kind");
    if (!kind)
        return err_set(e, "metadata 'opt.kind': missing, the model holds no optimizer state");
    if (strcmp(kind, nn_optim_name(o->kind)) != 0)
        return err_set(e, "metadata 'opt.kind': state is for '%s', not '%s'", kind,
                       nn_optim_name(o->kind));
    long long step;
    if (model_meta_int(m, "opt.step", &step, e) < 0)
        return -1;
    if (step < 0)
        return err_set(e, "metadata 'opt.step': negative (%lld)", step);
    for (int k = 0; k < P->nstate; k++) {
        for (int i = 0; i < P->ntensors; i++) {
            const nn_tensor *t = &P->t[i];
            char name[NN_NAME_MAX + 8];
            snprintf(name, sizeof name, "%s%s", slot_prefix[k], t->name);
            if (load_tensor(m, name, t, slot(P, k, t->offset), e) < 0)
                return -1;
        }
    }
    o->step = step;
    return 0;
}
