/*
 * qlearn_act.c - policy-act: stream rows, append the Q-values, the greedy
 * action and the policy's probabilities (qlearn.h).
 *
 * The input goes through pmap (pmap.h): pieces of it are parsed and
 * scored on worker threads and written in input order.  A worker reads
 * its rows into a batch buffer: their state features as floats, their
 * fields as text (copied to the output as they came); a batch is one
 * matrix product per layer (qlearn_q), always of --batch rows.  Batches
 * are aligned on the row's number in the whole stream (row i sits at
 * position i mod batch; positions without a row of this piece are zeros),
 * so a row meets the very same BLAS kernels wherever the input was cut
 * into pieces: the output is byte for byte the same for any thread count
 * and piece size, for text and binary input, and several inputs give what
 * their concatenation gives.  Another --batch may change the last bit of
 * a Q-value (BLAS kernels differ by matrix size).  BLAS runs on one
 * thread per worker, as in training.
 */
#include <cblas.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pmap.h"
#include "pool.h"
#include "qlearn.h"
#include "rec.h"
#include "banned.h"

typedef struct act_buf {
    int first, n, cap, S;
    float *s;          /* (cap, S): row i of the buffer at position first + i */
    rec_rowtext rows;  /* the rows' fields, written back as they came */
    float *q;  /* (cap, n_actions) */
    float *pi; /* (n_actions) */
    arena A;
} act_buf;

typedef struct act_ctx {
    const qlearn_model *qm;
    const qlearn_policy *pol;
    const int *sidx; /* state columns in the input */
    uint64_t row_base; /* rows of the inputs before this one */
    act_buf *bufs;     /* per worker */
} act_ctx;

/* Append the reader's current row. */
static int buf_add(act_buf *b, rec_reader *r, const int *sidx, errctx *e)
{
    int i = b->n;
    float *s = b->s + (size_t)(b->first + i) * b->S;
    for (int j = 0; j < b->S; j++)
        if (rec_f32(r, sidx[j], &s[j], e) < 0)
            return -1;
    rec_rowtext_add(&b->rows, r);
    b->n++;
    return 0;
}

/* Q, action and pi for the buffered rows; write them; empty the buffer. */
static int buf_flush(const qlearn_model *qm, const qlearn_policy *pol, act_buf *b, rec_writer *w, errctx *e)
{
    int na = qm->n_actions, nc = b->rows.ncols, S = b->S;
    /* the positions without a row are zeros: a full product every time */
    memset(b->s, 0, (size_t)b->first * (size_t)S * sizeof(float));
    memset(b->s + (size_t)(b->first + b->n) * S, 0, (size_t)(b->cap - b->first - b->n) * (size_t)S * sizeof(float));
    arena_reset(&b->A);
    qlearn_q(qm, qm->P.w, b->s, b->cap, b->q, &b->A);
    for (int i = 0; i < b->n; i++) {
        rec_rowtext_put(&b->rows, (size_t)i, w);
        const float *qi = b->q + (size_t)(b->first + i) * na;
        int greedy = qlearn_policy_probs(pol, qi, na, b->pi);
        for (int a = 0; a < na; a++) {
            rec_put_f32(w, nc + a, qi[a]);
            rec_put_f32(w, nc + na + 1 + a, b->pi[a]);
        }
        rec_put_i64(w, nc + na, greedy);
        if (rec_end_row(w, e) < 0)
            return -1;
    }
    b->first = b->n = 0;
    rec_rowtext_clear(&b->rows);
    return 0;
}

static int act_piece(void *ctx, int worker, rec_reader *in, rec_writer *out, errctx *e)
{
    act_ctx *c = ctx;
    act_buf *b = &c->bufs[worker];
    b->first = (int)((c->row_base + rec_rows(in)) % (uint64_t)b->cap);
    b->n = 0;
    rec_rowtext_clear(&b->rows);
    int got;
    while ((got = rec_next(in, e)) == 1) {
        if (buf_add(b, in, c->sidx, e) < 0)
            return -1;
        if (b->first + b->n == b->cap && buf_flush(c->qm, c->pol, b, out, e) < 0)
            return -1;
    }
    if (got < 0)
        return -1;
    return b->n ? buf_flush(c->qm, c->pol, b, out, e) : 0;
}

int qlearn_act_stream(const qlearn_model *qm, const qlearn_act_opts *o, errctx *e)
{
    int na = qm->n_actions, S = qm->s_dim, cap = o->batch > 0 ? o->batch : 256;
    int threads = o->threads > 0 ? o->threads : 1;
    act_ctx ctx = {.qm = qm, .pol = &o->policy};
    ctx.bufs = xcalloc((size_t)threads, sizeof *ctx.bufs);
    for (int t = 0; t < threads; t++) {
        act_buf *b = &ctx.bufs[t];
        b->cap = cap;
        b->S = S;
        b->s = xmalloc((size_t)cap * (size_t)S * sizeof(float));
        b->q = xmalloc((size_t)cap * (size_t)na * sizeof(float));
        b->pi = xmalloc((size_t)na * sizeof(float));
        arena_init(&b->A, qlearn_q_bytes(qm, cap));
    }
    pool_blas_single();
    /* output: the input's columns, then q_0.., action, pi_0.. */
    int nout = 2 * na + 1;
    char **extra = xcalloc((size_t)nout, sizeof *extra);
    for (int a = 0; a < na; a++) {
        char name[32];
        snprintf(name, sizeof name, "q_%d", a);
        extra[a] = xstrdup(name);
        snprintf(name, sizeof name, "pi_%d", a);
        extra[na + 1 + a] = xstrdup(name);
    }
    extra[na] = xstrdup(o->action_name ? o->action_name : "action");
    int *sidx = xmalloc((size_t)S * sizeof *sidx);
    ctx.sidx = sidx;
    const char **names = NULL;
    char **first = NULL; /* the first input's column names */
    int ncols = 0, rc = -1;
    rec_writer *w = NULL;
    rec_reader *r = NULL;
    cli_progress prog;
    cli_progress_start(&prog, "rows", 0);
    int ninputs = o->ninputs ? o->ninputs : 1;
    for (int f = 0; f < ninputs; f++) {
        r = rec_open(o->ninputs ? o->inputs[f] : "-", e);
        if (!r)
            goto out;
        for (int j = 0; j < S; j++)
            if ((sidx[j] = rec_col(r, qm->state_names[j], e)) < 0)
                goto out;
        for (int k = 0; k < nout; k++)
            if (rec_find(r, extra[k]) >= 0) {
                if (k == na)
                    err_set(e,
                            "%s: the input already has a column '%s' (the logged action?); name the greedy "
                            "action's column with --action-name, e.g. --action-name greedy",
                            rec_path(r), extra[k]);
                else
                    err_set(e, "%s: the input already has a column '%s'", rec_path(r), extra[k]);
                goto out;
            }
        if (f == 0) {
            ncols = rec_ncols(r);
            for (int t = 0; t < threads; t++)
                rec_rowtext_init(&ctx.bufs[t].rows, ncols);
            first = xcalloc((size_t)ncols + 1, sizeof *first);
            names = xcalloc((size_t)(ncols + nout), sizeof *names);
            for (int c = 0; c < ncols; c++)
                names[c] = first[c] = xstrdup(rec_colname(r, c));
            for (int k = 0; k < nout; k++)
                names[ncols + k] = extra[k];
            w = rec_writer_open(o->output, o->binary, e);
            if (!w || rec_writer_header(w, ncols + nout, names, e) < 0)
                goto out;
        } else {
            int same = rec_ncols(r) == ncols;
            for (int c = 0; same && c < ncols; c++)
                same = strcmp(rec_colname(r, c), first[c]) == 0;
            if (!same) {
                err_set(e, "%s: columns differ from those of the first input", rec_path(r));
                goto out;
            }
        }
        if (pmap_run(r, w, threads, pmap_piece_bytes(), act_piece, &ctx, &prog, e) < 0)
            goto out;
        ctx.row_base += rec_rows(r);
        rec_close(r);
        r = NULL;
    }
    rc = rec_writer_close(w, e);
    w = NULL;
    cli_progress_end(&prog);
out:
    rec_close(r);
    if (w)
        rec_writer_abort(w);
    for (int c = 0; first && c < ncols; c++)
        free(first[c]);
    free(first);
    free(names);
    for (int k = 0; k < nout; k++)
        free(extra[k]);
    free(extra);
    free(sidx);
    for (int t = 0; t < threads; t++) {
        act_buf *b = &ctx.bufs[t];
        free(b->s);
        rec_rowtext_free(&b->rows);
        free(b->q);
        free(b->pi);
        arena_free(&b->A);
    }
    free(ctx.bufs);
    return rc;
}
