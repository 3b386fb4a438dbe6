/*
 * nn_embed.h - hashed embedding tables for string IDs, with sparse
 * gradients and lazy sparse optimizer updates.
 *
 * An ID (member id, item id, ...) maps to a row of a (buckets, dim) table
 * by the hashing trick (Weinberger et al. 2009): row = hash64(id, seed)
 * scaled into [0, buckets) by a multiply-shift (Lemire 2019), so unseen
 * IDs need no dictionary and collisions share a row.  The table is a
 * sparse tensor of the parameter block (NN_TENSOR_SPARSE): it is saved
 * with the model but has no dense gradient.
 *
 * Gradients are sparse: an nn_embed_grad holds the rows touched in the
 * batch, in first-touch order, and one gradient row for each (a small
 * open-addressing index finds a row's slot).  Its capacity (distinct rows
 * per batch) is fixed at creation, so no memory is allocated in the loop.
 * Per-shard gradients are merged with nn_embed_grad_merge in shard order,
 * which keeps the result independent of the thread count.
 *
 * nn_embed_step applies the optimizer only to touched rows, with the lazy
 * semantics documented in nn_optim.h: untouched rows, and their Adam
 * moments, do not change; the bias correction uses the global step.
 * Embedding tables get no weight decay (a lazy decay would shrink rows in
 * proportion to how often their IDs occur).
 */
#ifndef RECSTAGE_NN_EMBED_H
#define RECSTAGE_NN_EMBED_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "nn.h"
#include "nn_optim.h"
#include "rng.h"

typedef struct nn_embed {
    int buckets, dim;
    uint64_t seed;  /* hash seed (stored with the model by the caller) */
    int tensor;     /* index of the table in P->t */
    size_t offset;  /* table (buckets, dim) at P->w + offset */
} nn_embed;

/* Declare a (buckets, dim) sparse table named `name` in P (after every
 * dense tensor).  Returns 0, or -1 with a message. */
int nn_embed_init(nn_embed *E, nn_params *P, const char *name, int buckets, int dim,
                  uint64_t seed, errctx *e);
/* table (buckets * dim floats, i.e. P->w + E->offset) ~ N(0, sd^2). */
void nn_embed_init_weights(const nn_embed *E, float *table, double sd, rng *r);
/* The row of an ID of len bytes. */
int32_t nn_embed_bucket(const nn_embed *E, const void *id, size_t len);
/* out row i (at out + i * ld, dim floats) = table row rows[i], i < n.
 * table = P->w + E->offset.  ld >= dim lets rows land inside a wider
 * concatenated input. */
void nn_embed_lookup(const nn_embed *E, const float *table, const int32_t *rows, int n, float *out,
                     int ld);

typedef struct nn_embed_grad {
    int dim;
    int cap;          /* most distinct rows per batch */
    int n;            /* rows touched so far */
    int32_t *rows;    /* (cap) touched rows, first-touch order */
    float *g;         /* (cap, dim) their gradients */
    int32_t *index;   /* (index_size) open addressing: position in rows, or -1 */
    size_t index_mask; /* index_size - 1 (a power of two >= 2 cap) */
    void *block;      /* the single allocation behind the arrays */
} nn_embed_grad;

/* Sparse gradient for E holding up to cap distinct rows (one allocation). */
void nn_embed_grad_init(nn_embed_grad *G, const nn_embed *E, int cap);
void nn_embed_grad_free(nn_embed_grad *G);
/* Forget every touched row (cost proportional to cap, not buckets). */
void nn_embed_grad_clear(nn_embed_grad *G);
/* Backward of nn_embed_lookup: gradient row of rows[i] += dout row i (at
 * dout + i * ld), i < n.  Returns 0, or -1 with a message if more than cap
 * distinct rows would be touched (G is then unchanged past the rows that
 * fit: a sizing error of the caller). */
int nn_embed_backward(nn_embed_grad *G, const int32_t *rows, int n, const float *dout, int ld,
                      errctx *e);
/* dst += src, visiting src's rows in order.  Returns 0, or -1 on
 * overflow of dst. */
int nn_embed_grad_merge(nn_embed_grad *dst, const nn_embed_grad *src, errctx *e);
/* Gradient of one row, or NULL when the row was not touched. */
const float *nn_embed_grad_row(const nn_embed_grad *G, int32_t row);
/* Squared norm (double) and scaling, for global-norm clipping. */
double nn_embed_grad_norm2(const nn_embed_grad *G);
void nn_embed_grad_scale(nn_embed_grad *G, float s);
/* Update the touched rows of E's table with o (after nn_optim_step of the
 * same batch, which advanced o->step). */
void nn_embed_step(const nn_embed *E, const nn_optim *o, nn_params *P, const nn_embed_grad *G);

#endif
