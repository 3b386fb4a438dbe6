/*
 * nn.h - dense layers, activations and MLPs: forward, backward and
 * Pearlmutter's R-operator (exact Hessian-vector products).
 *
 * Parameters.  All trainable tensors of a model live in one nn_params
 * block: one allocation for the weights w, one for the gradients g and one
 * (made by nn_optim) for the optimizer state.  A tensor is a (offset,
 * count) range with a name and shape.  Dense tensors come first, sparse
 * ones (hashed embedding tables, updated row by row by nn_embed) last, so
 * the gradient block only covers the dense prefix.
 *
 * Layers.  A dense layer computes z = x W^T + b with W (out, in) row-major
 * and b (out), for a batch of rows x (batch, in).  Layers and MLPs hold
 * offsets, not pointers: every function takes the base of the parameter
 * vector explicitly.  That is what MAML needs: the same meta block is
 * evaluated at phi_0, phi_1, ..., phi_K (copies in scratch memory), and the
 * R-operator takes a direction vector with the same layout as the weights.
 * For an MLP, offsets are relative to the MLP's slice of the block
 * (P->w + net->offset).
 *
 * Matrix products all go through nn_gemm, one wrapper around cblas_sgemm
 * (row-major).  nn_gemm_naive is the plain-loop reference kernel (double
 * accumulators); nn_set_naive(1) makes nn_gemm use it, so tests run the
 * whole network on both kernels and compare.
 *
 * Backward (reverse mode) for one layer, a = act(z), z = x W^T + b, with
 * dA = dL/da given:
 *   dZ = dA .* act'(z);  gW += dZ^T x;  gb += sum_rows dZ;  dX = dZ W.
 *
 * R-operator (Pearlmutter 1994, "Fast exact multiplication by the
 * Hessian", Neural Computation 6(1), section 3).  R{.} is the directional
 * derivative along a parameter direction V = (V_W, V_b) (and, for a block
 * fed by another one, an input direction R{x}).  Forward:
 *   R{z} = R{x} W^T + x V_W^T + V_b,      R{a} = act'(z) .* R{z};
 * backward, from R{dA}:
 *   R{dZ} = R{dA} .* act'(z) + dA .* act''(z) .* R{z}
 *   R{gW} = R{dZ}^T x + dZ^T R{x}         R{gb} = sum_rows R{dZ}
 *   R{dX} = R{dZ} W + dZ V_W.
 * R{g} over all parameters is the Hessian-vector product H V exactly (up
 * to rounding), at the cost of about two extra forward/backward passes.
 * At the loss, R{dL/dy} = loss''(y) .* R{y} (nn_loss.h).
 *
 * Activations: identity, relu (act'' = 0 away from the kink), tanh
 * (act' = 1 - a^2, act'' = -2 a (1 - a^2)) and sigmoid (act' = a (1 - a),
 * act'' = a (1 - a)(1 - 2a)).
 *
 * Scratch comes from an arena (arena.h) sized with nn_mlp_*_bytes.
 */
#ifndef RECSTAGE_NN_H
#define RECSTAGE_NN_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "err.h"
#include "rng.h"

#define NN_MAX_TENSORS 64
#define NN_MAX_LAYERS 8
#define NN_NAME_MAX 96

/* ---- parameter block ---------------------------------------------------- */

enum {
    NN_TENSOR_DECAY = 1,  /* weight decay applies (weights, not biases) */
    NN_TENSOR_SPARSE = 2, /* updated by rows through nn_embed; no dense gradient */
};

typedef struct nn_tensor {
    char name[NN_NAME_MAX];
    int ndim;
    int64_t shape[4];
    size_t offset; /* into w (and g, state) */
    size_t count;  /* product of shape */
    int flags;     /* NN_TENSOR_* */
} nn_tensor;

typedef struct nn_params {
    nn_tensor t[NN_MAX_TENSORS];
    int ntensors;
    size_t n;       /* total parameters */
    size_t n_dense; /* parameters of the dense prefix (gradient block size) */
    float *w;       /* (n) weights, one allocation */
    float *g;       /* (n_dense) gradients, one allocation */
    float *state;   /* (nstate * n) optimizer state, one allocation (nn_optim) */
    int nstate;     /* state floats per parameter: 0 none, 1 momentum, 2 Adam */
} nn_params;

/* An empty block: add tensors, then nn_params_alloc. */
void nn_params_init(nn_params *P);
/* Declare a tensor (name unique, at most NN_NAME_MAX-1 bytes, 1..4 dims,
 * each > 0).  Dense tensors must all come before the first sparse one.
 * Stores the tensor's offset in *offset (may be NULL).  Must be called
 * before nn_params_alloc.  Returns 0, or -1 with a message. */
int nn_params_add(nn_params *P, const char *name, int ndim, const int64_t *shape, int flags,
                  size_t *offset, errctx *e);
/* Allocate w (n floats) and g (n_dense floats), both zeroed, one
 * allocation each. */
void nn_params_alloc(nn_params *P);
void nn_params_free(nn_params *P);
/* Index of the named tensor, or -1. */
int nn_params_find(const nn_params *P, const char *name);
/* g = 0 over the dense prefix. */
void nn_params_zero_grad(nn_params *P);

/* ---- kernels ------------------------------------------------------------ */

/* C (M, N) = alpha op(A) op(B) + beta C, row-major; op(A) is (M, K):
 * A is (M, K) with leading dimension lda, or (K, M) when trans_a.  Same for
 * B (K, N) / (N, K).  beta = 0 ignores C's previous contents.  Dispatches
 * to cblas_sgemm, or to nn_gemm_naive after nn_set_naive(1). */
void nn_gemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
             const float *B, int ldb, float beta, float *C, int ldc);
/* The reference: three plain loops, double accumulator, same contract. */
void nn_gemm_naive(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
                   int lda, const float *B, int ldb, float beta, float *C, int ldc);
/* Select the kernel for nn_gemm: 1 naive, 0 cblas (default).  Process-wide;
 * set it before starting worker threads. */
void nn_set_naive(int naive);
int nn_get_naive(void);

/* ---- activations -------------------------------------------------------- */

typedef enum { NN_IDENTITY = 0, NN_RELU, NN_TANH, NN_SIGMOID } nn_act;

/* "identity", "relu", "tanh", "sigmoid" <-> nn_act.  nn_act_parse returns
 * 0, or -1 with a message listing the names. */
int nn_act_parse(const char *s, nn_act *out, errctx *e);
const char *nn_act_name(nn_act act);

/* Scalar value, first and second derivative in double (relu: derivative
 * 0 at z <= 0, 1 above; second derivative 0). */
double nn_act_value(nn_act act, double z);
double nn_act_d1(nn_act act, double z);
double nn_act_d2(nn_act act, double z);

/* a[i] = act(z[i]), i < n (a may equal z). */
void nn_act_forward(nn_act act, const float *z, float *a, size_t n);

/* ---- dense layer -------------------------------------------------------- */

typedef struct nn_dense {
    int in, out;
    size_t w; /* offset of W (out, in) in the parameter vector */
    size_t b; /* offset of b (out) */
} nn_dense;

/* z (batch, out) = x (batch, in) W^T + b; w is the parameter vector base. */
void nn_dense_forward(const nn_dense *L, const float *w, const float *x, int batch, float *z);
/* Given dz (batch, out) = dL/dz and the layer input x (batch, in):
 * g[W] += dz^T x, g[b] += column sums of dz (double accumulators),
 * dx (batch, in) = dz W (overwritten; NULL skips it).  g is the gradient
 * vector base (same layout as w); NULL skips parameter gradients.
 * Uses (out) doubles of scratch from A. */
void nn_dense_backward(const nn_dense *L, const float *w, const float *x, const float *dz, int batch,
                       float *dx, float *g, arena *A);

/* ---- MLP ---------------------------------------------------------------- */

typedef struct nn_mlp {
    int nlayers;                    /* dense layers, >= 1 */
    int dims[NN_MAX_LAYERS + 1];    /* dims[0] = in, dims[nlayers] = out */
    nn_act act;                     /* hidden activation; the output is identity */
    nn_dense layer[NN_MAX_LAYERS];  /* offsets relative to the MLP's slice */
    size_t offset;                  /* slice start in the parameter block */
    size_t count;                   /* slice length (all weights and biases) */
} nn_mlp;

/* Parse a hidden-layer spec "64,64" (comma-separated positive widths, at
 * most NN_MAX_LAYERS-1; "" means no hidden layer).  Returns the number of
 * widths, or -1 with a message. */
int nn_parse_hidden(const char *spec, int *widths, int max, errctx *e);

/* Declare an MLP in = dims[0] -> hidden... -> out in P, tensors named
 * "<prefix>.<l>.w" (out_l, in_l) and "<prefix>.<l>.b" (out_l), contiguous.
 * Returns 0, or -1 with a message (bad spec, too many tensors, ...). */
int nn_mlp_init(nn_mlp *net, nn_params *P, const char *prefix, int in, const char *hidden, int out,
                nn_act act, errctx *e);
/* Initialise the slice w (net->count floats): He normal (sqrt(2/fan_in))
 * for layers feeding a relu, Xavier uniform otherwise; biases 0. */
void nn_mlp_init_weights(const nn_mlp *net, float *w, rng *r);
/* Largest layer width, including the input. */
int nn_mlp_max_width(const nn_mlp *net);

/* What forward (and the R-forward) keep for backward: per layer the
 * pre-activation z and activation a (batch, dims[l+1]); a[last] is the
 * output.  With the R-forward: rz, ra likewise, rx the input direction
 * (NULL means zero). */
typedef struct nn_mlp_cache {
    int batch;
    const float *x;                /* (batch, in), not copied */
    float *z[NN_MAX_LAYERS];
    float *a[NN_MAX_LAYERS];
    const float *rx;               /* (batch, in) or NULL */
    float *rz[NN_MAX_LAYERS];
    float *ra[NN_MAX_LAYERS];
} nn_mlp_cache;

/* Arena bytes used by nn_mlp_forward (+ nn_mlp_rforward when with_r) and by
 * one nn_mlp_backward (nn_mlp_rbackward when with_r) for `batch` rows. */
size_t nn_mlp_cache_bytes(const nn_mlp *net, int batch, int with_r);
size_t nn_mlp_backward_bytes(const nn_mlp *net, int batch, int with_r);

/* Forward: fill c from x (batch, in) with parameters w (slice base); the
 * cache's buffers come from A and live until the caller releases them.
 * Returns the output (batch, out). */
const float *nn_mlp_forward(const nn_mlp *net, const float *w, const float *x, int batch,
                            nn_mlp_cache *c, arena *A);
/* Backward from dy (batch, out) = dL/dy: g (slice base, may be NULL) +=
 * dL/dw; dx (batch, in) = dL/dx overwritten (NULL skips).  Scratch from A
 * is released before returning. */
void nn_mlp_backward(const nn_mlp *net, const float *w, const nn_mlp_cache *c, const float *dy,
                     float *dx, float *g, arena *A);

/* R-forward along parameter direction v (slice layout; NULL = 0) and input
 * direction rx (batch, in; NULL = 0), after nn_mlp_forward on c.  Fills
 * c->rz, c->ra from A.  Returns R{y} (batch, out). */
const float *nn_mlp_rforward(const nn_mlp *net, const float *w, const float *v, const float *rx,
                             nn_mlp_cache *c, arena *A);
/* Backward and R-backward together (R{dZ} needs dZ).  dy = dL/dy and
 * rdy = R{dL/dy} (batch, out).  Accumulates g += dL/dw (g may be NULL) and
 * rg += R{dL/dw} (rg may be NULL); overwrites dx = dL/dx and rdx = R{dL/dx}
 * (batch, in; either may be NULL).  v as given to nn_mlp_rforward. */
void nn_mlp_rbackward(const nn_mlp *net, const float *w, const float *v, const nn_mlp_cache *c,
                      const float *dy, const float *rdy, float *dx, float *rdx, float *g, float *rg,
                      arena *A);

/* ---- concatenation ------------------------------------------------------ */

/* out (n, da + db) = [a (n, da), b (n, db)] row by row.  a or b may be
 * NULL (that part set to 0). */
void nn_concat_rows(float *out, const float *a, int da, const float *b, int db, int n);
/* Split d (n, da + db) into its column blocks: da_out (n, da) and db_out
 * (n, db), overwritten; either may be NULL. */
void nn_split_rows(const float *d, int da, int db, int n, float *da_out, float *db_out);

#endif
