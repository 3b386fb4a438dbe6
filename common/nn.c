/*
 * nn.c - parameter blocks, the gemm wrapper, activations, dense layers and
 * MLPs with forward, backward and Pearlmutter's R-operator.
 *
 * The equations are in nn.h.  Implementation notes:
 *
 * - A dense layer's forward fills z with the bias then runs one gemm with
 *   beta = 1, so bias and product take one pass over z.
 * - Backward ping-pongs between two scratch buffers of (batch, widest)
 *   floats: dZ is formed in place over dA (elementwise), dX goes into the
 *   other buffer.  The R-backward keeps a second pair for R{dA}; R{dZ} is
 *   computed before dZ in the same loop because it reads the unscaled dA.
 * - Bias gradients are column sums over the batch, accumulated in double.
 * - The identity activation (always the output layer) aliases a = z and
 *   skips the elementwise passes.
 */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn.h"
#include "nn_optim.h"
#include "banned.h"

/* ---- parameter block ---------------------------------------------------- */

void nn_params_init(nn_params *P)
{
    memset(P, 0, sizeof *P);
}

int nn_params_add(nn_params *P, const char *name, int ndim, const int64_t *shape, int flags,
                  size_t *offset, errctx *e)
{
    if (P->w)
        return err_set(e, "tensor '%s': parameter block already allocated", name);
    size_t len = strlen(name);
    if (len == 0 || len >= NN_NAME_MAX)
        return err_set(e, "tensor '%s': name must have 1 to %d bytes", name, NN_NAME_MAX - 1);
    if (P->ntensors >= NN_MAX_TENSORS)
        return err_set(e, "tensor '%s': more than %d tensors", name, NN_MAX_TENSORS);
    if (ndim < 1 || ndim > 4)
        return err_set(e, "tensor '%s': %d dimensions (want 1 to 4)", name, ndim);
    if (nn_params_find(P, name) >= 0)
        return err_set(e, "tensor '%s': defined twice", name);
    if (!(flags & NN_TENSOR_SPARSE) && P->ntensors > 0 &&
        (P->t[P->ntensors - 1].flags & NN_TENSOR_SPARSE))
        return err_set(e, "tensor '%s': dense tensors must be declared before sparse ones", name);
    size_t count = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] <= 0 || shape[i] > (int64_t)1 << 40)
            return err_set(e, "tensor '%s': dimension %d is %lld", name, i, (long long)shape[i]);
        if (count > ((size_t)1 << 40) / (size_t)shape[i])
            return err_set(e, "tensor '%s': too many elements", name);
        count *= (size_t)shape[i];
    }
    nn_tensor *t = &P->t[P->ntensors++];
    memset(t, 0, sizeof *t);
    memcpy(t->name, name, len + 1);
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++)
        t->shape[i] = shape[i];
    t->offset = P->n;
    t->count = count;
    t->flags = flags;
    P->n += count;
    if (!(flags & NN_TENSOR_SPARSE))
        P->n_dense = P->n;
    if (offset)
        *offset = t->offset;
    return 0;
}

void nn_params_alloc(nn_params *P)
{
    P->w = arena_heap_calloc(P->n, sizeof(float));
    P->g = arena_heap_calloc(P->n_dense, sizeof(float));
}

void nn_params_free(nn_params *P)
{
    free(P->w);
    free(P->g);
    free(P->state);
    nn_params_init(P);
}

int nn_params_find(const nn_params *P, const char *name)
{
    for (int i = 0; i < P->ntensors; i++)
        if (strcmp(P->t[i].name, name) == 0)
            return i;
    return -1;
}

void nn_params_zero_grad(nn_params *P)
{
    if (P->g)
        memset(P->g, 0, P->n_dense * sizeof(float));
}

/* ---- kernels ------------------------------------------------------------ */

static int use_naive;

void nn_set_naive(int naive)
{
    use_naive = naive != 0;
}

int nn_get_naive(void)
{
    return use_naive;
}

void nn_gemm_naive(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
                   int lda, const float *B, int ldb, float beta, float *C, int ldc)
{
    for (int i = 0; i < M; i++) {
        for (int j = 0; j < N; j++) {
            double s = 0;
            for (int k = 0; k < K; k++) {
                float a = trans_a ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k];
                float b = trans_b ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j];
                s += (double)a * b;
            }
            float *c = &C[(size_t)i * ldc + j];
            *c = beta == 0 ? (float)(alpha * s) : (float)(alpha * s + (double)beta * *c);
        }
    }
}

void nn_gemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
             const float *B, int ldb, float beta, float *C, int ldc)
{
    if (M <= 0 || N <= 0)
        return;
    if (K <= 0) {
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++)
                C[(size_t)i * ldc + j] = beta == 0 ? 0 : beta * C[(size_t)i * ldc + j];
        return;
    }
    if (use_naive) {
        nn_gemm_naive(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

/* ---- activations -------------------------------------------------------- */

static const char *const act_names[] = {"identity", "relu", "tanh", "sigmoid"};

int nn_act_parse(const char *s, nn_act *out, errctx *e)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, act_names[i]) == 0) {
            *out = (nn_act)i;
            return 0;
        }
    }
    return err_set(e, "unknown activation '%s' (want identity, relu, tanh or sigmoid)", s);
}

const char *nn_act_name(nn_act act)
{
    return (unsigned)act < 4 ? act_names[act] : "?";
}

static double sigmoid_d(double z)
{
    if (z >= 0)
        return 1 / (1 + exp(-z));
    double t = exp(z);
    return t / (1 + t);
}

static float sigmoid_f(float z)
{
    if (z >= 0)
        return 1 / (1 + expf(-z));
    float t = expf(z);
    return t / (1 + t);
}

double nn_act_value(nn_act act, double z)
{
    switch (act) {
    case NN_RELU:
        return z > 0 ? z : 0;
    case NN_TANH:
        return tanh(z);
    case NN_SIGMOID:
        return sigmoid_d(z);
    default:
        return z;
    }
}

double nn_act_d1(nn_act act, double z)
{
    switch (act) {
    case NN_RELU:
        return z > 0 ? 1 : 0;
    case NN_TANH: {
        double t = tanh(z);
        return 1 - t * t;
    }
    case NN_SIGMOID: {
        double s = sigmoid_d(z);
        return s * (1 - s);
    }
    default:
        return 1;
    }
}

double nn_act_d2(nn_act act, double z)
{
    switch (act) {
    case NN_TANH: {
        double t = tanh(z);
        return -2 * t * (1 - t * t);
    }
    case NN_SIGMOID: {
        double s = sigmoid_d(z);
        return s * (1 - s) * (1 - 2 * s);
    }
    default:
        return 0;
    }
}

/* v if keep, else +0, without a branch (relu signs are random, and a
 * mispredicted branch per element costs more than the arithmetic; GCC
 * keeps `c ? v : 0` on floats as a branch at -O2). */
static inline float keep_if(int keep, float v)
{
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    u &= -(uint32_t)(keep != 0);
    memcpy(&v, &u, sizeof v);
    return v;
}

void nn_act_forward(nn_act act, const float *z, float *a, size_t n)
{
    switch (act) {
    case NN_RELU:
        /* !(v <= 0) is true for NaN, so NaN passes through */
        for (size_t i = 0; i < n; i++) {
            float v = z[i];
            a[i] = keep_if(!(v <= 0.0f), v);
        }
        break;
    case NN_TANH:
        for (size_t i = 0; i < n; i++)
            a[i] = tanhf(z[i]);
        break;
    case NN_SIGMOID:
        for (size_t i = 0; i < n; i++)
            a[i] = sigmoid_f(z[i]);
        break;
    default:
        if (a != z)
            memcpy(a, z, n * sizeof(float));
        break;
    }
}

/* Elementwise passes of backward and the R-operator.  The switch is
 * outside the loops and relu uses keep_if, not a branch.  out may alias in
 * (same index only). */

/* out = in .* act'(z), with act' from the cached z (relu) or a = act(z). */
static void act_mul_d1(nn_act act, const float *z, const float *a, const float *in, float *out,
                       size_t n)
{
    switch (act) {
    case NN_RELU:
        for (size_t i = 0; i < n; i++)
            out[i] = keep_if(z[i] > 0.0f, in[i]);
        break;
    case NN_TANH:
        for (size_t i = 0; i < n; i++)
            out[i] = in[i] * (1 - a[i] * a[i]);
        break;
    case NN_SIGMOID:
        for (size_t i = 0; i < n; i++)
            out[i] = in[i] * (a[i] * (1 - a[i]));
        break;
    default:
        if (out != in)
            memcpy(out, in, n * sizeof(float));
        break;
    }
}

/* R{dZ} = R{dA} act'(z) + dA act''(z) R{z} into rdz, then dZ = dA act'(z)
 * into dz (each may alias its input: rdz reads dA before dz is written). */
static void act_rback(nn_act act, const float *z, const float *a, const float *rz, const float *da,
                      const float *rda, float *dz, float *rdz, size_t n)
{
    switch (act) {
    case NN_RELU: /* act'' = 0 */
        for (size_t i = 0; i < n; i++) {
            int on = z[i] > 0.0f;
            rdz[i] = keep_if(on, rda[i]);
            dz[i] = keep_if(on, da[i]);
        }
        break;
    case NN_TANH: /* act' = 1 - a^2, act'' = -2 a act' */
        for (size_t i = 0; i < n; i++) {
            float d1 = 1 - a[i] * a[i], d2 = -2 * a[i] * d1, dai = da[i];
            rdz[i] = rda[i] * d1 + dai * d2 * rz[i];
            dz[i] = dai * d1;
        }
        break;
    case NN_SIGMOID: /* act' = a (1 - a), act'' = act' (1 - 2a) */
        for (size_t i = 0; i < n; i++) {
            float d1 = a[i] * (1 - a[i]), d2 = d1 * (1 - 2 * a[i]), dai = da[i];
            rdz[i] = rda[i] * d1 + dai * d2 * rz[i];
            dz[i] = dai * d1;
        }
        break;
    default:
        if (rdz != rda)
            memcpy(rdz, rda, n * sizeof(float));
        if (dz != da)
            memcpy(dz, da, n * sizeof(float));
        break;
    }
}

/* ---- dense layer -------------------------------------------------------- */

void nn_dense_forward(const nn_dense *L, const float *w, const float *x, int batch, float *z)
{
    const float *b = w + L->b;
    for (int i = 0; i < batch; i++)
        memcpy(z + (size_t)i * L->out, b, (size_t)L->out * sizeof(float));
    nn_gemm(0, 1, batch, L->out, L->in, 1.0f, x, L->in, w + L->w, L->in, 1.0f, z, L->out);
}

/* gb (out) += column sums of dz (batch, out), in double. */
static void colsum_acc(const float *dz, int batch, int out, float *gb, double *acc)
{
    for (int j = 0; j < out; j++)
        acc[j] = 0;
    for (int i = 0; i < batch; i++) {
        const float *row = dz + (size_t)i * out;
        for (int j = 0; j < out; j++)
            acc[j] += row[j];
    }
    for (int j = 0; j < out; j++)
        gb[j] = (float)(gb[j] + acc[j]);
}

/* g[W] += dz^T x, g[b] += sum dz. */
static void dense_param_grad(const nn_dense *L, const float *x, const float *dz, int batch,
                             float *g, double *acc)
{
    nn_gemm(1, 0, L->out, L->in, batch, 1.0f, dz, L->out, x, L->in, 1.0f, g + L->w, L->in);
    colsum_acc(dz, batch, L->out, g + L->b, acc);
}

void nn_dense_backward(const nn_dense *L, const float *w, const float *x, const float *dz, int batch,
                       float *dx, float *g, arena *A)
{
    if (g) {
        size_t mark = arena_mark(A);
        double *acc = arena_doubles(A, (size_t)L->out);
        dense_param_grad(L, x, dz, batch, g, acc);
        arena_release(A, mark);
    }
    if (dx)
        nn_gemm(0, 0, batch, L->in, L->out, 1.0f, dz, L->out, w + L->w, L->in, 0.0f, dx, L->in);
}

/* ---- MLP ---------------------------------------------------------------- */

static nn_act layer_act(const nn_mlp *net, int l)
{
    return l == net->nlayers - 1 ? NN_IDENTITY : net->act;
}

int nn_parse_hidden(const char *spec, int *widths, int max, errctx *e)
{
    int n = 0;
    const char *p = spec;
    if (*p == '\0')
        return 0;
    for (;;) {
        if (*p < '0' || *p > '9')
            return err_set(e, "hidden layers '%s': expected a width at '%s'", spec, p);
        char *end;
        long v = strtol(p, &end, 10);
        if (v < 1 || v > 65536)
            return err_set(e, "hidden layers '%s': width %ld outside 1..65536", spec, v);
        if (n >= max)
            return err_set(e, "hidden layers '%s': more than %d layers", spec, max);
        widths[n++] = (int)v;
        p = end;
        if (*p == '\0')
            return n;
        if (*p != ',')
            return err_set(e, "hidden layers '%s': expected ',' at '%s'", spec, p);
        p++;
    }
}

int nn_mlp_init(nn_mlp *net, nn_params *P, const char *prefix, int in, const char *hidden, int out,
                nn_act act, errctx *e)
{
    memset(net, 0, sizeof *net);
    int widths[NN_MAX_LAYERS];
    int nh = nn_parse_hidden(hidden, widths, NN_MAX_LAYERS - 1, e);
    if (nh < 0)
        return -1;
    if (in < 1 || out < 1)
        return err_set(e, "mlp '%s': input and output widths must be positive (got %d, %d)",
                       prefix, in, out);
    net->nlayers = nh + 1;
    net->act = act;
    net->dims[0] = in;
    for (int l = 0; l < nh; l++)
        net->dims[l + 1] = widths[l];
    net->dims[nh + 1] = out;
    net->offset = P->n;
    for (int l = 0; l < net->nlayers; l++) {
        char name[NN_NAME_MAX];
        size_t off;
        nn_dense *L = &net->layer[l];
        L->in = net->dims[l];
        L->out = net->dims[l + 1];
        int64_t wshape[2] = {L->out, L->in}, bshape[1] = {L->out};
        if (snprintf(name, sizeof name, "%s.%d.w", prefix, l) >= (int)sizeof name)
            return err_set(e, "mlp '%s': name too long", prefix);
        if (nn_params_add(P, name, 2, wshape, NN_TENSOR_DECAY, &off, e) < 0)
            return -1;
        L->w = off - net->offset;
        snprintf(name, sizeof name, "%s.%d.b", prefix, l);
        if (nn_params_add(P, name, 1, bshape, 0, &off, e) < 0)
            return -1;
        L->b = off - net->offset;
    }
    net->count = P->n - net->offset;
    return 0;
}

void nn_mlp_init_weights(const nn_mlp *net, float *w, rng *r)
{
    for (int l = 0; l < net->nlayers; l++) {
        const nn_dense *L = &net->layer[l];
        size_t n = (size_t)L->in * L->out;
        if (layer_act(net, l) == NN_RELU)
            nn_init_he(w + L->w, n, L->in, r);
        else
            nn_init_xavier(w + L->w, n, L->in, L->out, r);
        memset(w + L->b, 0, (size_t)L->out * sizeof(float));
    }
}

int nn_mlp_max_width(const nn_mlp *net)
{
    int m = 0;
    for (int l = 0; l <= net->nlayers; l++)
        if (net->dims[l] > m)
            m = net->dims[l];
    return m;
}

size_t nn_mlp_cache_bytes(const nn_mlp *net, int batch, int with_r)
{
    size_t s = 0;
    for (int l = 0; l < net->nlayers; l++) {
        size_t one = arena_round((size_t)batch * net->dims[l + 1] * sizeof(float));
        s += layer_act(net, l) == NN_IDENTITY ? one : 2 * one;
    }
    return with_r ? 2 * s : s;
}

size_t nn_mlp_backward_bytes(const nn_mlp *net, int batch, int with_r)
{
    int mw = nn_mlp_max_width(net);
    size_t buf = arena_round((size_t)batch * mw * sizeof(float));
    return (with_r ? 4 : 2) * buf + arena_round((size_t)mw * sizeof(double));
}

const float *nn_mlp_forward(const nn_mlp *net, const float *w, const float *x, int batch,
                            nn_mlp_cache *c, arena *A)
{
    memset(c, 0, sizeof *c);
    c->batch = batch;
    c->x = x;
    const float *in = x;
    for (int l = 0; l < net->nlayers; l++) {
        const nn_dense *L = &net->layer[l];
        size_t n = (size_t)batch * L->out;
        nn_act act = layer_act(net, l);
        c->z[l] = arena_floats(A, n);
        nn_dense_forward(L, w, in, batch, c->z[l]);
        if (act == NN_IDENTITY) {
            c->a[l] = c->z[l];
        } else {
            c->a[l] = arena_floats(A, n);
            nn_act_forward(act, c->z[l], c->a[l], n);
        }
        in = c->a[l];
    }
    return c->a[net->nlayers - 1];
}

void nn_mlp_backward(const nn_mlp *net, const float *w, const nn_mlp_cache *c, const float *dy,
                     float *dx, float *g, arena *A)
{
    size_t mark = arena_mark(A);
    int batch = c->batch, mw = nn_mlp_max_width(net);
    float *buf[2];
    buf[0] = arena_floats(A, (size_t)batch * mw);
    buf[1] = arena_floats(A, (size_t)batch * mw);
    double *acc = arena_doubles(A, (size_t)mw);
    const float *da = dy; /* dL/da of the current layer */
    int cur = -1;         /* which buf holds da; -1: the caller's dy */
    for (int l = net->nlayers - 1; l >= 0; l--) {
        const nn_dense *L = &net->layer[l];
        nn_act act = layer_act(net, l);
        size_t n = (size_t)batch * L->out;
        const float *dz = da;
        if (act != NN_IDENTITY) {
            int t = cur < 0 ? 0 : cur;
            float *out = buf[t];
            act_mul_d1(act, c->z[l], c->a[l], da, out, n);
            dz = out;
            cur = t;
        }
        const float *xin = l == 0 ? c->x : c->a[l - 1];
        if (g)
            dense_param_grad(L, xin, dz, batch, g, acc);
        if (l > 0) {
            int t = cur == 0 ? 1 : 0;
            nn_gemm(0, 0, batch, L->in, L->out, 1.0f, dz, L->out, w + L->w, L->in, 0.0f, buf[t],
                    L->in);
            da = buf[t];
            cur = t;
        } else if (dx) {
            nn_gemm(0, 0, batch, L->in, L->out, 1.0f, dz, L->out, w + L->w, L->in, 0.0f, dx, L->in);
        }
    }
    arena_release(A, mark);
}

const float *nn_mlp_rforward(const nn_mlp *net, const float *w, const float *v, const float *rx,
                             nn_mlp_cache *c, arena *A)
{
    int batch = c->batch;
    c->rx = rx;
    const float *rin = rx;
    for (int l = 0; l < net->nlayers; l++) {
        const nn_dense *L = &net->layer[l];
        size_t n = (size_t)batch * L->out;
        nn_act act = layer_act(net, l);
        const float *xin = l == 0 ? c->x : c->a[l - 1];
        float *rz = arena_floats(A, n);
        /* R{z} = R{x} W^T + x V_W^T + V_b */
        if (v) {
            for (int i = 0; i < batch; i++)
                memcpy(rz + (size_t)i * L->out, v + L->b, (size_t)L->out * sizeof(float));
            nn_gemm(0, 1, batch, L->out, L->in, 1.0f, xin, L->in, v + L->w, L->in, 1.0f, rz,
                    L->out);
        } else {
            memset(rz, 0, n * sizeof(float));
        }
        if (rin)
            nn_gemm(0, 1, batch, L->out, L->in, 1.0f, rin, L->in, w + L->w, L->in, 1.0f, rz,
                    L->out);
        c->rz[l] = rz;
        if (act == NN_IDENTITY) {
            c->ra[l] = rz;
        } else {
            /* R{a} = act'(z) R{z} */
            float *ra = arena_floats(A, n);
            act_mul_d1(act, c->z[l], c->a[l], rz, ra, n);
            c->ra[l] = ra;
        }
        rin = c->ra[l];
    }
    return c->ra[net->nlayers - 1];
}

void nn_mlp_rbackward(const nn_mlp *net, const float *w, const float *v, const nn_mlp_cache *c,
                      const float *dy, const float *rdy, float *dx, float *rdx, float *g, float *rg,
                      arena *A)
{
    size_t mark = arena_mark(A);
    int batch = c->batch, mw = nn_mlp_max_width(net);
    float *buf[2], *rbuf[2];
    for (int i = 0; i < 2; i++) {
        buf[i] = arena_floats(A, (size_t)batch * mw);
        rbuf[i] = arena_floats(A, (size_t)batch * mw);
    }
    double *acc = arena_doubles(A, (size_t)mw);
    const float *da = dy, *rda = rdy;
    int cur = -1;
    for (int l = net->nlayers - 1; l >= 0; l--) {
        const nn_dense *L = &net->layer[l];
        nn_act act = layer_act(net, l);
        size_t n = (size_t)batch * L->out;
        const float *dz = da, *rdz = rda;
        if (act != NN_IDENTITY) {
            int t = cur < 0 ? 0 : cur;
            float *o = buf[t], *ro = rbuf[t];
            act_rback(act, c->z[l], c->a[l], c->rz[l], da, rda, o, ro, n);
            dz = o;
            rdz = ro;
            cur = t;
        }
        const float *xin = l == 0 ? c->x : c->a[l - 1];
        const float *rxin = l == 0 ? c->rx : c->ra[l - 1];
        if (g)
            dense_param_grad(L, xin, dz, batch, g, acc);
        if (rg) {
            /* R{gW} = R{dZ}^T x + dZ^T R{x};  R{gb} = sum R{dZ} */
            dense_param_grad(L, xin, rdz, batch, rg, acc);
            if (rxin)
                nn_gemm(1, 0, L->out, L->in, batch, 1.0f, dz, L->out, rxin, L->in, 1.0f, rg + L->w,
                        L->in);
        }
        float *ox, *orx;
        if (l > 0) {
            int t = cur == 0 ? 1 : 0;
            ox = buf[t];
            orx = rbuf[t];
            cur = t;
        } else {
            ox = dx;
            orx = rdx;
        }
        if (ox)
            nn_gemm(0, 0, batch, L->in, L->out, 1.0f, dz, L->out, w + L->w, L->in, 0.0f, ox, L->in);
        if (orx) {
            /* R{dX} = R{dZ} W + dZ V_W */
            nn_gemm(0, 0, batch, L->in, L->out, 1.0f, rdz, L->out, w + L->w, L->in, 0.0f, orx,
                    L->in);
            if (v)
                nn_gemm(0, 0, batch, L->in, L->out, 1.0f, dz, L->out, v + L->w, L->in, 1.0f, orx,
                        L->in);
        }
        da = ox;
        rda = orx;
    }
    arena_release(A, mark);
}

/* ---- concatenation ------------------------------------------------------ */

void nn_concat_rows(float *out, const float *a, int da, const float *b, int db, int n)
{
    size_t w = (size_t)da + db;
    for (int i = 0; i < n; i++) {
        float *row = out + (size_t)i * w;
        if (a)
            memcpy(row, a + (size_t)i * da, (size_t)da * sizeof(float));
        else
            memset(row, 0, (size_t)da * sizeof(float));
        if (b)
            memcpy(row + da, b + (size_t)i * db, (size_t)db * sizeof(float));
        else
            memset(row + da, 0, (size_t)db * sizeof(float));
    }
}

void nn_split_rows(const float *d, int da, int db, int n, float *da_out, float *db_out)
{
    size_t w = (size_t)da + db;
    for (int i = 0; i < n; i++) {
        const float *row = d + (size_t)i * w;
        if (da_out)
            memcpy(da_out + (size_t)i * da, row, (size_t)da * sizeof(float));
        if (db_out)
            memcpy(db_out + (size_t)i * db, row + da, (size_t)db * sizeof(float));
    }
}
