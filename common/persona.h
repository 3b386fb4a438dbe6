/*
 * persona.h - personalization models (SPEC section 7): LiMAML and its
 * baselines, their data, training, evaluation, export and scoring.
 *
 * Data.  Interactions `member_id ts label m_* x_*`, grouped by member.
 * Each member is a task: its rows sorted by ts (stable), the most recent
 * ones the query set Q, the older ones the support set S.  The split is
 * either a fraction (the last ceil(q n) rows are Q) or a global time cut
 * (rows with ts >= T are Q); persona_split_support decides it, and every
 * tool that needs the split calls it, so maml-train's evaluation, export
 * and scoring see the same rows.
 *
 * Modes (persona_mode):
 *   maml      meta block g(m; phi) -> e (e_dim), global block f([x, e];
 *             theta) -> click logit; meta-learned (maml.h): K inner steps
 *             of SGD with rate alpha on S with theta frozen, Adam on the
 *             query loss over meta-batches of members.
 *   finetune  the same network trained jointly on all of a member's rows
 *             without adaptation (K = 0 in training), then adapted like
 *             maml at evaluation and export: what meta-learning adds.
 *   global    one MLP f([x, m]) on every row: no personalization beyond m.
 *   wide-deep f([x, m, u]) + b_u + w_u . x, with u a hashed member-ID
 *             embedding and b_u, w_u hashed per-member bias and feature
 *             weights (Cheng et al. 2016, "Wide & deep learning").
 *
 * The member embedding used for scoring.  A member with support rows gets
 * e_u = g(m_u; phi_K), phi_K adapted on the support rows and m_u the
 * member features of the latest support row; its rows are scored with
 * f([x, e_u]).  A member without support rows (or without an exported
 * embedding) is scored with the unadapted g(m; phi) of each row's own m.
 * maml-train evaluates held-out members exactly this way, which is what
 * meta-embed-export + maml-score compute, so the two agree.
 *
 * Determinism: every random draw comes from rng streams derived from the
 * seed (initialisation, member order per epoch), work is sharded by task
 * and reduced in task order (pool.h), so a model is byte-identical for
 * any --threads.
 */
#ifndef RECSTAGE_PERSONA_H
#define RECSTAGE_PERSONA_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "err.h"
#include "maml.h"
#include "model.h"
#include "nn.h"
#include "nn_embed.h"
#include "nn_optim.h"
#include "pool.h"
#include "rec.h"

typedef enum { PERSONA_MAML = 0, PERSONA_FINETUNE, PERSONA_GLOBAL, PERSONA_WIDEDEEP } persona_mode;

int persona_mode_parse(const char *s, persona_mode *out, errctx *e);
const char *persona_mode_name(persona_mode m);

/* ---- columns ---- */

typedef struct persona_colspec {
    const char *member, *time, *label; /* names */
    const char *meta, *features;       /* comma-separated names or globs */
} persona_colspec;

/* Column indices of a reader.  label is -1 when not required. */
typedef struct persona_bind {
    int member, time, label;
    int m_dim, x_dim;
    int *m_idx, *x_idx;
} persona_bind;

/* Resolve spec on r; need_label 0 allows a missing label column. */
int persona_bind_spec(persona_bind *b, const rec_reader *r, const persona_colspec *spec, int need_label,
                      errctx *e);
/* Resolve the exact names a model was trained with. */
int persona_bind_names(persona_bind *b, const rec_reader *r, const char *member, const char *time,
                       const char *label, char *const *m_names, int m_dim, char *const *x_names,
                       int x_dim, errctx *e);
void persona_bind_free(persona_bind *b);

/* ---- one member's rows, streamed from a grouped input ---- */

typedef struct persona_rows {
    int n, cap, m_dim, x_dim;
    float *m;    /* (n, m_dim) */
    float *x;    /* (n, x_dim) */
    float *y;    /* (n) labels 0/1 (0 when no label column) */
    double *ts;  /* (n) */
    uint64_t *line; /* (n) input line of each row, for messages */
    char *key;
    size_t key_len, key_cap;
} persona_rows;

void persona_rows_free(persona_rows *rows);
/* Sort rows by ts, stable (input order breaks ties). */
void persona_rows_sort(persona_rows *rows);

typedef struct persona_stream {
    rec_reader *r;
    persona_bind b;
    rec_group g;
    int pending, done;
    double since; /* keep rows with ts >= since (-inf: all; set after opening) */
} persona_stream;

/* Open path ("-": stdin) and bind columns. */
int persona_stream_open(persona_stream *s, const char *path, const persona_colspec *spec, int need_label,
                        errctx *e);
/* Open with the column names stored in a model. */
struct persona_model;
int persona_stream_open_model(persona_stream *s, const char *path, const struct persona_model *pm,
                              int need_label, errctx *e);
void persona_stream_close(persona_stream *s);
/* Next member's rows (sorted by ts): 1, 0 at end, -1 error (bad value
 * with file:line: column, non-contiguous member, label not 0/1). */
int persona_stream_next(persona_stream *s, persona_rows *out, errctx *e);

/* ---- the support/query split ---- */

typedef struct persona_split {
    double query_frac; /* last ceil(q n) rows are the query set, q in [0, 1] */
    int use_since;     /* instead: rows with ts >= query_since are the query set */
    double query_since;
} persona_split;

/* Number of support rows (the oldest) of a ts-sorted member. */
int persona_split_support(const persona_split *sp, const persona_rows *rows);

/* ---- datasets in memory (training) ---- */

typedef struct persona_data {
    int m_dim, x_dim;
    size_t nrows, rcap;
    float *m, *x, *y; /* all rows, member after member, each member ts-sorted */
    int nmembers, mcap;
    size_t *start;    /* first row of member i */
    int *count;       /* rows of member i */
    int *n_support;   /* support rows of member i (by the split) */
    char **keys;
    int max_rows;     /* largest member */
    char *member_col, *time_col, *label_col; /* the input's names */
    char **m_names, **x_names;               /* (m_dim), (x_dim) */
} persona_data;

/* Which members of an input go to this dataset. */
enum { PERSONA_ALL = 0, PERSONA_TRAIN_PART, PERSONA_VALID_PART };

/* The member hash used by maml-train's --valid-frac: a member is held out
 * when persona_member_unit(key) < frac (a uniform number in [0, 1) from
 * the key alone, so the split does not depend on the input's order). */
double persona_member_unit(const char *key, size_t len);

/* Load every member of path (or, with part and frac, those on one side of
 * the --valid-frac split), splitting each by sp. */
int persona_data_load(persona_data *d, const char *path, const persona_colspec *spec,
                      const persona_split *sp, int part, double valid_frac, errctx *e);
void persona_data_free(persona_data *d);

/* ---- models ---- */

typedef struct persona_hparams {
    persona_mode mode;
    int e_dim;                 /* meta embedding size */
    const char *meta_hidden;   /* meta block hidden layers, "32" */
    const char *global_hidden; /* global block hidden layers, "64,32" */
    nn_act act;                /* hidden activation */
    maml_cfg inner;            /* K, alpha, order */
    int id_buckets, id_dim;    /* wide-deep hashed member tables */
} persona_hparams;

typedef struct persona_model {
    persona_hparams hp;
    char meta_hidden[128], global_hidden[128];
    char *member_col, *time_col, *label_col;
    int m_dim, x_dim;
    char **m_names, **x_names;
    nn_params P;
    maml_net net;           /* maml, finetune */
    nn_mlp deep;            /* global, wide-deep */
    nn_embed id_emb, wide_b, wide_w; /* wide-deep */
    model *file;            /* metadata of the file read, or NULL */
} persona_model;

/* A column spec naming exactly d's columns, for reading a second input
 * (--valid) the same way; free the strings with persona_colspec_free. */
void persona_colspec_exact(persona_colspec *spec, const persona_data *d);
void persona_colspec_free(persona_colspec *spec);

/* Declare the parameters for hp, with the input column names (copied). */
int persona_model_init(persona_model *pm, const persona_hparams *hp, const char *member_col,
                       const char *time_col, const char *label_col, const char *const *m_names,
                       int m_dim, const char *const *x_names, int x_dim, errctx *e);
/* The same with the names a dataset was read with. */
int persona_model_init_data(persona_model *pm, const persona_hparams *hp, const persona_data *d, errctx *e);
void persona_model_init_weights(persona_model *pm, uint64_t seed);
void persona_model_free(persona_model *pm);
/* A model file holding the parameters, every hyper-parameter and the
 * columns; the caller adds training metadata and writes it. */
model *persona_model_to_file(const persona_model *pm, errctx *e);
/* Load any of the three kinds (recstage.maml, .global, .wide-deep). */
int persona_model_load(persona_model *pm, const char *path, errctx *e);
/* The model's kind name for its mode ("maml", "global", "wide-deep"). */
const char *persona_kind(persona_mode mode);

/* Arena bytes for persona_score / persona_member_embedding on n rows. */
size_t persona_score_bytes(const persona_model *pm, int n);

/* Click logits of n rows of possibly different members: m (n, m_dim),
 * x (n, x_dim); emb[i] is row i's member embedding (e_dim) or NULL for
 * the unadapted g(m_i; phi) (maml modes; ignored otherwise); keys/lens
 * are row i's member id (wide-deep; may be NULL otherwise). */
void persona_logits(const persona_model *pm, int n, const float *m, const float *x,
                    const float *const *emb, const char *const *keys, const size_t *lens,
                    float *logits, arena *A);

/* The member embedding after adapting on rows[0..n_support) (maml modes):
 * e (e_dim).  Returns 0, or 1 when there is no support (e untouched). */
int persona_member_embedding(const persona_model *pm, const float *m, const float *x, const float *y,
                             int n_support, float *e, arena *A);

/* ---- training and evaluation ---- */

typedef struct persona_train_cfg {
    int epochs;
    int meta_batch;   /* members per outer step (maml, finetune) */
    int batch;        /* rows per step (global, wide-deep) */
    double lr;
    double clip;      /* global-norm clip, 0: none */
    int threads;
    uint64_t seed;
    const double *bucket_edges; /* support-size buckets for the evaluation */
    int nbuckets;
    const struct ckpt_cfg *ckpt; /* checkpoints and resuming (ckpt.h); NULL: none */
} persona_train_cfg;

typedef struct persona_eval_row {
    char bucket[32];
    long long members, rows;
    double auc, logloss;
} persona_eval_row;

typedef struct persona_eval {
    int nrows;             /* buckets with members, then "all" */
    persona_eval_row row[16];
} persona_eval;

/* Score the query rows of every member of valid (adapting on its support
 * rows as described above); fill ev.  p may be NULL (one thread). */
int persona_evaluate(const persona_model *pm, const persona_data *valid, pool *p,
                     const persona_train_cfg *tc, persona_eval *ev, errctx *e);

/* Train on train (and, for the baselines, the support rows of valid, so
 * that their member tables know the held-out members), evaluating on
 * valid after each epoch (progress and figures on stderr). */
/* With tc->ckpt: resume from its checkpoint (parameters, Adam's state,
 * the epoch and the position in it; the epoch's shuffle is replayed from
 * the seed) and write checkpoints (ckpt.h), returning CKPT_STOPPED after
 * writing one on a stop request. */
int persona_train(persona_model *pm, const persona_data *train, const persona_data *valid,
                  const persona_train_cfg *tc, persona_eval *final, errctx *e);
/* A fingerprint of the data, for a checkpoint's config. */
uint64_t persona_data_hash(const persona_data *d);


/* ---- serving: export and scoring (persona_serve.c) ---- */

typedef struct persona_export_opts {
    const char *const *inputs; /* files; none means stdin */
    int ninputs;
    const char *output; /* NULL: stdout */
    int binary;
    double since;        /* rows with ts >= since are the window (-inf: all) */
    int use_split;       /* adapt only on the support part of the window */
    persona_split split;
    int threads;
} persona_export_opts;

/* meta-embed-export: for each member (grouped input), adapt on its window
 * and write member_id, n_rows, e_0..e_{d-1}. */
int persona_export(const persona_model *pm, const persona_export_opts *o, errctx *e);

typedef struct persona_score_opts {
    const char *const *inputs;
    int ninputs;
    const char *output;
    int binary;
    const char *embeddings; /* file of member_id n_rows e_*, or NULL */
    int use_split;          /* score only the query rows of each member (grouped input) */
    persona_split split;
    int batch;
    int threads;            /* worker threads without a split (>= 1) */
} persona_score_opts;

/* maml-score: append `score` to every row (or every query row).  Without
 * a split, pieces of the input are scored on o->threads workers (pmap.h),
 * in batches aligned on the row's number in the stream, so the output is
 * the same for any thread count; with one, members go one at a time. */
int persona_score_stream(const persona_model *pm, const persona_score_opts *o, errctx *e);

#endif
