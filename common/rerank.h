/*
 * rerank.h - the slot-aware model and the Sequential Greedy Algorithm of
 * sga-rerank(1) (SPEC section 9).
 *
 * Model.  For candidate i placed at slot k below the items A above it,
 * with x = [item features of i, context features of i below A]
 * (slotctx.h; the context part left out with ctx = 0), standardised with a
 * mean and standard deviation fitted on the training rows and stored in
 * the model,
 *
 *   logit_o(i | k, A) = MLP((x - mean) / std)_o + beta_{k,o}
 *   p_o(i | k, A)     = sigmoid(logit_o)
 *
 * one head per objective o (click, save, ...), and beta (K, O) a learned
 * offset per slot and objective (slots beyond K use beta_K): the position
 * enters additively, so without context features the order of the
 * candidates by p_o is the same at every slot.
 *
 * Fitting.  Every shown slot of the logged lists is a training row with
 * the objectives' labels (0/1); the loss is the mean binary cross-entropy
 * summed over objectives; Adam on minibatches drawn without replacement
 * (a seeded shuffle per epoch), each computed in RERANK_SHARDS fixed
 * slices through the worker pool (pool.h) and reduced in slice order, so
 * the model is byte-identical for any thread count.  Requests whose id
 * hashes into the validation fraction are held out; on them the AUC of
 * p_o is reported per slot and overall beside the AUC of the second-pass
 * score of that objective (the column score_<o>) alone.
 *
 * Re-ranking.  The Sequential Greedy Algorithm: for k = 1 .. K, score
 * every remaining candidate as one matrix product,
 *
 *   v(i) = sum_o w_o p_o(i | k, A) + l_div (1 - sim_i(A)) + l_fresh exp(-age_i / 24)
 *
 * with sim_i(A) = max(0, max cosine of i's features to A) (0 for A
 * empty), take the largest (ties: the earliest in input order), add it to
 * A and update the context incrementally.  K N - K (K - 1) / 2 model rows
 * per request.  --exhaustive instead searches every ordered list of K of
 * the N candidates for the largest sum over slots of the same v, with the
 * context of each list (N! / (N - K)! lists).
 */
#ifndef RECSTAGE_RERANK_H
#define RECSTAGE_RERANK_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "err.h"
#include "model.h"
#include "nn.h"
#include "slotctx.h"

#define RERANK_SHARDS 8
#define RERANK_CHUNK 1024       /* rows per forward pass */
#define RERANK_MAX_OBJ 16
#define RERANK_MAX_SLOTS 1000
#define RERANK_STREAM_SHUFFLE 0x30000ULL
#define RERANK_STREAM_RANDOM 0x40000ULL

/* ---- reading requests ---- */

typedef struct rerank_cols {
    const char *request, *item, *category, *age, *slot; /* names */
    const char *features;   /* names and globs: f_* */
    const char *scores;     /* names and globs: score_* */
} rerank_cols;

void rerank_cols_defaults(rerank_cols *c);

typedef struct rerank_reader rerank_reader;

/* Open a candidate stream.  feat/score: the columns the model needs by
 * name (NULL: select them with cols->features and cols->scores);
 * labels: objective label columns to read (NULL or nobj 0: none);
 * need_slot: read the slot column and check the logged lists.  NULL with
 * a message (a missing column lists those that exist). */
rerank_reader *rerank_reader_open(const char *path, const rerank_cols *cols, const char *const *feat, int F,
                                  const char *const *score, int S, const char *const *labels, int O,
                                  int need_slot, errctx *e);
void rerank_reader_close(rerank_reader *rr);
/* Also read the logged propensity of every shown candidate (column name;
 * a value in (0, 1]) into q->prop.  -1 if the column is missing. */
int rerank_reader_propensity(rerank_reader *rr, const char *name, errctx *e);
int rerank_reader_nfeat(const rerank_reader *rr);
int rerank_reader_nscore(const rerank_reader *rr);
const char *rerank_reader_colname(const rerank_reader *rr, int which, int j); /* which: 0 feat, 1 score */
const char *rerank_reader_path(const rerank_reader *rr);
/* The next request into q (initialised with the reader's F, S, O): 1, 0
 * at the end, -1 with a message naming file, line and column: a value
 * that does not parse, a negative age, a duplicate item in a request,
 * rows of a request not contiguous; with need_slot a slot that is not an
 * integer in 0 .. RERANK_MAX_SLOTS, a slot shown twice, slots with a gap,
 * a label that is not 0 or 1. */
int rerank_reader_next(rerank_reader *rr, slot_req *q, errctx *e);
/* Rows read so far. */
uint64_t rerank_reader_rows(const rerank_reader *rr);

/* ---- the model ---- */

typedef struct rerank_model {
    int F, S, O, K, ctx, D;
    char **feat_names, **score_names, **obj_names;
    char hidden[128];
    nn_act act;
    nn_params P;          /* mlp.<l>.w, mlp.<l>.b, pos.bias (K, O) */
    nn_mlp net;
    size_t pos;           /* offset of pos.bias in P */
    float *mean, *std;    /* (D) standardisation */
    model *file;          /* metadata of the file read, or NULL */
} rerank_model;

int rerank_model_init(rerank_model *m, int F, const char *const *feat, int S, const char *const *score, int O,
                      const char *const *obj, int K, int ctx, const char *hidden, nn_act act, errctx *e);
void rerank_model_free(rerank_model *m);
/* x (D) of candidate i below the context c (raw, not standardised): the
 * one function fitting and re-ranking both use. */
void rerank_row(const rerank_model *m, const slot_ctx *c, const slot_req *q, int i, float *x);
/* The same before a model exists (fitting): item features, then the
 * context features when ctx. */
void rerank_row_raw(int ctx, const slot_ctx *c, const slot_req *q, int i, float *x);
/* Arena bytes of rerank_logits on up to RERANK_CHUNK rows. */
size_t rerank_logits_bytes(const rerank_model *m);
/* logits (n, O) of raw rows X (n, D) (standardised here, in place), each at
 * slot slots[r] (1-based), or all at slot k when slots is NULL; weights w
 * in the layout of m->P. */
void rerank_logits(const rerank_model *m, const float *w, float *X, int n, const int *slots, int k, float *logits,
                   arena *A);
/* The same for rows already standardised. */
void rerank_logits_std(const rerank_model *m, const float *w, const float *X, int n, const int *slots, int k,
                       float *logits, arena *A);
/* Read a recstage.slotnet model (version <= 1). */
int rerank_model_load(rerank_model *m, const char *path, errctx *e);

/* ---- fitting ---- */

typedef struct rerank_fit_cfg {
    const char *hidden;
    nn_act act;
    int ctx;              /* context features on */
    int epochs, batch, threads;
    double lr, clip, valid_frac;
    uint64_t seed;
} rerank_fit_cfg;

typedef struct rerank_auc {
    int obj, slot;        /* slot 0: all slots */
    uint64_t rows, positives;
    double auc_model, auc_score; /* NaN where undefined (one class, no score column) */
} rerank_auc;

typedef struct rerank_fit_result {
    uint64_t requests, train_rows, valid_rows;
    rerank_auc *auc;      /* (O (K + 1)): per objective, all slots, then slots 1..K */
    int nauc;
    double seconds, rows_per_s, gflops;
} rerank_fit_result;

/* Arena bytes of rerank_batch_loss on n rows. */
size_t rerank_loss_bytes(const rerank_model *m, int n);
/* The loss of n standardised rows X (n, D) at slots (1-based) with labels
 * Y (n, O): scale * sum over rows and objectives of the binary
 * cross-entropy of logit_o; if g is not NULL, adds scale * its gradient
 * with respect to w (layout of m->P: the MLP and pos.bias) to g. */
double rerank_batch_loss(const rerank_model *m, const float *w, const float *X, const int *slots, const float *Y,
                         int n, double scale, float *g, arena *A);

/* Read the logged lists of path, fit the model (objectives = the label
 * columns obj[0..O)), report the validation AUCs.  m is initialised here. */
int rerank_fit(const char *path, const rerank_cols *cols, const char *const *obj, int O, const rerank_fit_cfg *cfg,
               rerank_model *m, rerank_fit_result *res, errctx *e);
void rerank_fit_result_free(rerank_fit_result *res);
/* The model file: tensors, norm.mean, norm.std, metadata. */
model *rerank_model_to_file(const rerank_model *m, const rerank_fit_cfg *cfg, errctx *e);

/* ---- re-ranking ---- */

enum { RERANK_SGA, RERANK_EXHAUSTIVE, RERANK_BASELINE, RERANK_RANDOM };

typedef struct rerank_cfg {
    int method;
    int K;                     /* slots */
    double w[RERANK_MAX_OBJ];  /* objective weights */
    double l_div, l_fresh;
    const char *baseline;      /* score column for RERANK_BASELINE */
    uint64_t seed;             /* RERANK_RANDOM */
    int threads;
    long long max_lists;       /* --exhaustive limit per request */
} rerank_cfg;

typedef struct rerank_stats {
    uint64_t requests, evals;
    /* --exhaustive: the SGA list's objective against the best */
    uint64_t greedy_optimal;
    double gap_sum, value_sum;
} rerank_stats;

/* SGA (or the exhaustive search) on one request: list (K) of candidate
 * indices, p (K, O) their probabilities, *value the sum over slots of v;
 * evals counts model rows.  Needs q->n >= K.  c is scratch. */
void rerank_sga(const rerank_model *m, const rerank_cfg *rc, const slot_req *q, slot_ctx *c, arena *A, int *list,
                float *p, double *value, uint64_t *evals);
/* The best list by exhaustive search (same objective); -1 if the number of
 * lists exceeds rc->max_lists. */
int rerank_exhaustive(const rerank_model *m, const rerank_cfg *rc, const slot_req *q, slot_ctx *c, arena *A,
                      int *list, float *p, double *value);
/* The objective of a given list (sum over slots of v) and p (k, O). */
double rerank_list_value(const rerank_model *m, const rerank_cfg *rc, const slot_req *q, slot_ctx *c, arena *A,
                         const int *list, int k, float *p);

/* Stream: read candidates (inputs; none: stdin), re-rank every request,
 * write request_id slot item_id p_<o>... (baseline: request_id slot
 * item_id and the score column; random: request_id slot item_id) to
 * output (NULL: stdout; binary).  m may be NULL for baseline and random. */
int rerank_stream(const rerank_model *m, const rerank_cfg *rc, const rerank_cols *cols, const char *const *inputs,
                  int ninputs, const char *output, int binary, rerank_stats *st, errctx *e);

#endif
