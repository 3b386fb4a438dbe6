/*
 * nn_optim.h - optimizers on a parameter block, gradient clipping,
 * initialisation, and saving/restoring parameters and optimizer state in
 * a model file.
 *
 * The optimizer state is one allocation hung on the block (P->state):
 * nstate floats per parameter, slot k of parameter i at state[k*n + i],
 * so a tensor's state has the tensor's offset in every slot.
 *
 * Updates, per parameter, with g the gradient, t the step after
 * incrementing, lambda the weight decay (only tensors flagged
 * NN_TENSOR_DECAY, i.e. weights, not biases), computed in double:
 *
 *   sgd    g' = g + lambda w;  m = mu m + g';  w -= lr m
 *          (heavy-ball momentum, PyTorch convention; mu = 0 is plain SGD
 *          and keeps no state)
 *   adam   g' = g + lambda w (L2 through the gradient);
 *          m = b1 m + (1-b1) g';  v = b2 v + (1-b2) g'^2;
 *          w -= lr (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps)
 *          (Kingma and Ba 2015, Algorithm 1)
 *   adamw  as adam on g (no L2 term), then decoupled decay:
 *          w -= lr lambda w_old  (Loshchilov and Hutter 2019, Algorithm 2
 *          with schedule multiplier 1)
 *
 * Sparse tensors (hashed embeddings) are skipped by nn_optim_step and
 * updated row by row by nn_optim_update_rows, lazily: a row's m and v move
 * only on steps where the row has a gradient, and the bias correction uses
 * the global step t (the LazyAdam / SparseAdam semantics of TensorFlow
 * Addons and PyTorch).  Rows not touched are left exactly as they were,
 * weight decay included.
 *
 * Clipping by global norm (Pascanu et al. 2013): if ||g|| > c, g *= c/||g||,
 * with the norm over every gradient (dense block plus any sparse rows; the
 * caller combines them with nn_clip_factor).
 *
 * Save/restore: parameters as model tensors under their own names; the
 * optimizer as tensors "opt.m.<name>" (first moment or momentum) and
 * "opt.v.<name>" (Adam second moment), with metadata "opt.kind" and
 * "opt.step", so a run resumes exactly where it stopped.
 */
#ifndef RECSTAGE_NN_OPTIM_H
#define RECSTAGE_NN_OPTIM_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "model.h"
#include "nn.h"
#include "rng.h"

typedef enum { NN_OPT_SGD = 0, NN_OPT_ADAM, NN_OPT_ADAMW } nn_optim_kind;

typedef struct nn_optim {
    nn_optim_kind kind;
    double lr;
    double momentum;     /* sgd: mu */
    double beta1, beta2; /* adam, adamw */
    double eps;          /* adam, adamw */
    double weight_decay; /* lambda */
    long long step;      /* updates made so far */
} nn_optim;

/* Defaults: momentum 0, beta1 0.9, beta2 0.999, eps 1e-8, decay 0, step 0. */
void nn_optim_defaults(nn_optim *o, nn_optim_kind kind, double lr);
/* "sgd", "adam", "adamw".  Returns 0, or -1 with a message. */
int nn_optim_parse(const char *s, nn_optim_kind *out, errctx *e);
const char *nn_optim_name(nn_optim_kind kind);
/* State floats per parameter for o (0, 1 or 2). */
int nn_optim_nstate(const nn_optim *o);

/* Allocate P->state (one allocation, zeroed) for o; P must be allocated.
 * Replaces any previous state. */
void nn_optim_attach(nn_optim *o, nn_params *P);
/* One update of every dense tensor from P->g: increments o->step first.
 * Does not clear the gradients. */
void nn_optim_step(nn_optim *o, nn_params *P);
/* Lazy update of rows of sparse tensor `tensor` (index in P->t, whose
 * shape is (rows, row_len)): for each k < nrows, row rows[k] with gradient
 * grows[k*row_len ...].  Uses o->step as t: call it after nn_optim_step of
 * the same batch.  Rows must be distinct and in range (unchecked). */
void nn_optim_update_rows(const nn_optim *o, nn_params *P, int tensor, const int32_t *rows,
                          int nrows, const float *grows);

/* Squared L2 norm of the dense gradients, in double. */
double nn_grad_norm2(const nn_params *P);
/* g *= s over the dense gradients. */
void nn_grad_scale(nn_params *P, float s);
/* The factor min(1, max_norm / sqrt(norm2)); 1 when max_norm <= 0. */
double nn_clip_factor(double norm2, double max_norm);
/* Clip the dense gradients to global norm max_norm (<= 0: no clipping);
 * returns the norm before clipping. */
double nn_clip_grad_norm(nn_params *P, double max_norm);

/* He (Kaiming) normal: N(0, 2/fan_in), for layers feeding a relu. */
void nn_init_he(float *w, size_t n, int fan_in, rng *r);
/* Xavier (Glorot) uniform: U(-a, a), a = sqrt(6 / (fan_in + fan_out)). */
void nn_init_xavier(float *w, size_t n, int fan_in, int fan_out, rng *r);

/* Add every tensor of P to m under its name and shape. */
int nn_params_save(const nn_params *P, model *m, errctx *e);
/* Copy every tensor of P from m; a missing tensor or another shape is an
 * error naming the tensor. */
int nn_params_load(nn_params *P, const model *m, errctx *e);
/* Add the optimizer state (tensors opt.m.*, opt.v.* and metadata opt.kind,
 * opt.step).  P->state must be attached. */
int nn_optim_save(const nn_optim *o, const nn_params *P, model *m, errctx *e);
/* Restore state and step saved by nn_optim_save into an attached P; the
 * kind must match o->kind.  Hyper-parameters stay as the caller set them. */
int nn_optim_load(nn_optim *o, nn_params *P, const model *m, errctx *e);

#endif
