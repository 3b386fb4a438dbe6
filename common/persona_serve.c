/*
 * persona_serve.c - meta-embed-export and maml-score (persona.h).
 *
 * Export streams members (grouped input) in chunks of at most
 * CHUNK_MEMBERS members, adapts each in its own pool shard and writes the
 * chunk in input order, so memory is bounded by two chunks and the output
 * is the same for any thread count; a reader thread parses the next chunk
 * while the pool adapts the current one.  Scoring streams rows in batches (or,
 * with a split, one member at a time, keeping its query rows), holding
 * each buffered row's fields as text until its score is known; the
 * embeddings are a hash table joined by member id.
 */
#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "persona.h"
#include "cli.h"
#include "hmap.h"
#include "nn_loss.h"
#include "pmap.h"
#include "pool.h"
#include "banned.h"

#define CHUNK_MEMBERS 256

static int is_maml(const persona_model *pm)
{
    return pm->hp.mode == PERSONA_MAML || pm->hp.mode == PERSONA_FINETUNE;
}

/* ---- export ---- */

typedef struct export_ctx {
    const persona_model *pm;
    persona_rows *rows; /* (CHUNK_MEMBERS) */
    const persona_export_opts *o;
    float *emb;         /* (CHUNK_MEMBERS, e_dim) */
    int *nrows;         /* (CHUNK_MEMBERS) */
} export_ctx;

static double export_shard(void *ctx, int shard, float *grad, pool_worker *w)
{
    (void)grad;
    const export_ctx *c = ctx;
    const persona_model *pm = c->pm;
    const persona_rows *rows = &c->rows[shard];
    int md = rows->m_dim, xd = rows->x_dim, n = rows->n;
    float *e = c->emb + (size_t)shard * pm->hp.e_dim;
    /* the window: rows with ts >= since (rows are ts-sorted) */
    int k = 0;
    while (k < n && rows->ts[k] < c->o->since)
        k++;
    int ns = n - k;
    if (c->o->use_split) {
        persona_rows win = *rows;
        win.n = n - k;
        win.ts = rows->ts + k;
        ns = persona_split_support(&c->o->split, &win);
    }
    c->nrows[shard] = ns;
    if (ns > 0)
        persona_member_embedding(pm, rows->m + (size_t)k * md, rows->x + (size_t)k * xd, rows->y + k, ns, e,
                                 &w->arena);
    else /* no rows to adapt on: the unadapted embedding of the latest features */
        maml_embed(&pm->net, maml_phi(&pm->net, &pm->P), rows->m + (size_t)(n - 1) * md, 1, e, &w->arena);
    return 0;
}

static int export_flush(const persona_model *pm, pool **p, size_t *arena_bytes, export_ctx *c, int nmembers,
                        rec_writer *w, const persona_export_opts *o, errctx *e)
{
    int max_rows = 1;
    for (int i = 0; i < nmembers; i++)
        if (c->rows[i].n > max_rows)
            max_rows = c->rows[i].n;
    size_t need = persona_score_bytes(pm, max_rows);
    if (!*p || need > *arena_bytes) {
        /* a member larger than any before: a pool with larger arenas */
        pool_free(*p);
        *arena_bytes = need > 2 * *arena_bytes ? need : 2 * *arena_bytes;
        *p = pool_new(o->threads, *arena_bytes, CHUNK_MEMBERS, 0, e);
        if (!*p)
            return -1;
    }
    if (pool_run(*p, nmembers, export_shard, c, NULL, NULL, e) < 0)
        return -1;
    int d = pm->hp.e_dim;
    for (int i = 0; i < nmembers; i++) {
        rec_put_str(w, 0, c->rows[i].key, c->rows[i].key_len);
        rec_put_i64(w, 1, c->nrows[i]);
        for (int j = 0; j < d; j++)
            rec_put_f32(w, 2 + j, c->emb[(size_t)i * d + j]);
        if (rec_end_row(w, e) < 0)
            return -1;
    }
    return 0;
}

/* Reading overlaps adapting: a reader thread fills one chunk of members
 * while the pool adapts the other, so the parse of the input (serial)
 * hides behind the arithmetic (parallel). */
typedef struct chunk {
    persona_rows rows[CHUNK_MEMBERS];
    int n;
    int full; /* 1: filled by the reader, 0: free for it */
    int last; /* the reader stopped after this chunk (end or error) */
} chunk;

typedef struct reader_ctx {
    const persona_model *pm;
    const persona_export_opts *o;
    chunk chunks[2];
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int failed;
    int stop; /* the consumer failed: stop reading */
    errctx err;
} reader_ctx;

static void *reader_main(void *arg)
{
    reader_ctx *rc = arg;
    const persona_export_opts *o = rc->o;
    int ninputs = o->ninputs ? o->ninputs : 1, f = 0, which = 0, open = 0, done = 0;
    persona_stream s;
    errctx e;
    while (!done) {
        chunk *c = &rc->chunks[which];
        pthread_mutex_lock(&rc->mu);
        while (c->full && !rc->stop)
            pthread_cond_wait(&rc->cv, &rc->mu);
        int stop = rc->stop;
        pthread_mutex_unlock(&rc->mu);
        if (stop)
            break;
        c->n = 0;
        int failed = 0;
        while (c->n < CHUNK_MEMBERS) {
            if (!open) {
                if (f == ninputs) {
                    done = 1;
                    break;
                }
                if (persona_stream_open_model(&s, o->ninputs ? o->inputs[f] : "-", rc->pm, 1, &e) < 0) {
                    failed = 1;
                    break;
                }
                open = 1;
            }
            int got = persona_stream_next(&s, &c->rows[c->n], &e);
            if (got < 0) {
                failed = 1;
                break;
            }
            if (got == 0) {
                persona_stream_close(&s);
                open = 0;
                f++;
                continue;
            }
            c->n++;
        }
        pthread_mutex_lock(&rc->mu);
        if (failed) {
            rc->failed = 1;
            rc->err = e;
            done = 1;
        }
        c->last = done;
        c->full = 1;
        pthread_cond_broadcast(&rc->cv);
        pthread_mutex_unlock(&rc->mu);
        which ^= 1;
    }
    if (open)
        persona_stream_close(&s);
    return NULL;
}

int persona_export(const persona_model *pm, const persona_export_opts *o, errctx *e)
{
    if (!is_maml(pm))
        return err_set(e, "a 'recstage.%s' model has no meta block to export (train with --mode maml or finetune)",
                       persona_kind(pm->hp.mode));
    int d = pm->hp.e_dim, rc = -1;
    rec_writer *w = rec_writer_open(o->output, o->binary, e);
    if (!w)
        return -1;
    char **names = xcalloc((size_t)d + 2, sizeof *names);
    names[0] = xstrdup(pm->member_col);
    names[1] = xstrdup("n_rows");
    for (int j = 0; j < d; j++) {
        names[2 + j] = xmalloc(24);
        snprintf(names[2 + j], 24, "e_%d", j);
    }
    reader_ctx *rd = xcalloc(1, sizeof *rd);
    rd->pm = pm;
    rd->o = o;
    pthread_mutex_init(&rd->mu, NULL);
    pthread_cond_init(&rd->cv, NULL);
    export_ctx c = {pm, NULL, o, xmalloc((size_t)CHUNK_MEMBERS * (size_t)d * sizeof(float)),
                    xmalloc(CHUNK_MEMBERS * sizeof(int))};
    pool *p = NULL;
    size_t arena_bytes = 0;
    uint64_t members = 0;
    pthread_t reader;
    int started = 0;
    cli_progress prog;
    cli_progress_start(&prog, "members", 0);
    if (rec_writer_header(w, d + 2, (const char *const *)names, e) < 0)
        goto out;
    if (pthread_create(&reader, NULL, reader_main, rd) != 0) {
        err_set(e, "cannot start the reader thread");
        goto out;
    }
    started = 1;
    for (int which = 0;; which ^= 1) {
        chunk *ch = &rd->chunks[which];
        pthread_mutex_lock(&rd->mu);
        while (!ch->full)
            pthread_cond_wait(&rd->cv, &rd->mu);
        pthread_mutex_unlock(&rd->mu);
        int last = ch->last, n = ch->n;
        if (rd->failed && last) {
            *e = rd->err;
            goto out;
        }
        c.rows = ch->rows;
        if (n && export_flush(pm, &p, &arena_bytes, &c, n, w, o, e) < 0)
            goto out;
        members += (uint64_t)n;
        cli_progress_update(&prog, (double)members);
        pthread_mutex_lock(&rd->mu);
        ch->full = 0;
        pthread_cond_broadcast(&rd->cv);
        pthread_mutex_unlock(&rd->mu);
        if (last)
            break;
    }
    cli_progress_end(&prog);
    rc = rec_writer_close(w, e);
    w = NULL;
out:
    if (started) {
        pthread_mutex_lock(&rd->mu);
        rd->stop = 1;
        pthread_cond_broadcast(&rd->cv);
        pthread_mutex_unlock(&rd->mu);
        pthread_join(reader, NULL);
    }
    if (w)
        rec_writer_abort(w);
    pool_free(p);
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < CHUNK_MEMBERS; i++)
            persona_rows_free(&rd->chunks[k].rows[i]);
    pthread_mutex_destroy(&rd->mu);
    pthread_cond_destroy(&rd->cv);
    free(rd);
    free(c.emb);
    free(c.nrows);
    for (int j = 0; j < d + 2; j++)
        free(names[j]);
    free(names);
    return rc;
}

/* ---- the embeddings table ---- */

typedef struct emb_table {
    hmap *index; /* member -> row */
    float *e;    /* (n, d) */
    int *nrows;
    size_t n, cap;
    int d;
} emb_table;

static int emb_load(emb_table *t, const persona_model *pm, const char *path, errctx *e)
{
    memset(t, 0, sizeof *t);
    t->d = pm->hp.e_dim;
    rec_reader *r = rec_open(path, e);
    if (!r)
        return -1;
    int rc = -1, mcol = rec_col(r, pm->member_col, e), ncol = mcol >= 0 ? rec_col(r, "n_rows", e) : -1;
    int *ecol = xmalloc((size_t)t->d * sizeof *ecol);
    if (ncol < 0)
        goto out;
    int have = 0;
    for (int j = 0; j < rec_ncols(r); j++)
        have += strncmp(rec_colname(r, j), "e_", 2) == 0;
    if (have != t->d) {
        err_set(e, "%s: %d embedding columns e_*, but the model's embeddings have %d", path, have, t->d);
        goto out;
    }
    for (int j = 0; j < t->d; j++) {
        char name[24];
        snprintf(name, sizeof name, "e_%d", j);
        if ((ecol[j] = rec_col(r, name, e)) < 0)
            goto out;
    }
    t->index = hmap_new(1024);
    int got;
    while ((got = rec_next(r, e)) == 1) {
        if (t->n == t->cap) {
            t->cap = t->cap ? 2 * t->cap : 1024;
            t->e = xrealloc(t->e, t->cap * (size_t)t->d * sizeof(float));
            t->nrows = xrealloc(t->nrows, t->cap * sizeof(int));
        }
        size_t len;
        const char *key = rec_str(r, mcol, &len);
        int added;
        hmap_put(t->index, key, len, (int64_t)t->n, &added);
        if (!added) {
            rec_error(r, mcol, e, "member '%.*s' appears twice", (int)(len > 60 ? 60 : len), key);
            goto out;
        }
        int64_t nr;
        if (rec_i64(r, ncol, &nr, e) < 0)
            goto out;
        if (nr < 0) {
            rec_error(r, ncol, e, "n_rows must not be negative");
            goto out;
        }
        t->nrows[t->n] = nr > INT32_MAX ? INT32_MAX : (int)nr;
        for (int j = 0; j < t->d; j++)
            if (rec_f32(r, ecol[j], &t->e[t->n * t->d + j], e) < 0)
                goto out;
        t->n++;
    }
    rc = got < 0 ? -1 : 0;
out:
    free(ecol);
    rec_close(r);
    return rc;
}

static void emb_free(emb_table *t)
{
    hmap_free(t->index);
    free(t->e);
    free(t->nrows);
}

/* A member's embedding, or NULL: absent, or exported from no rows (such
 * rows are scored like those of members without one, with each row's own
 * unadapted embedding, as maml-train evaluates them). */
static const float *emb_find(const emb_table *t, const char *key, size_t len)
{
    if (!t->index)
        return NULL;
    int64_t *v = hmap_get(t->index, key, len);
    if (!v || t->nrows[*v] == 0)
        return NULL;
    return t->e + (size_t)*v * t->d;
}

/* ---- scoring ---- */

typedef struct rowbuf {
    int n, cap, ncols, md, xd;
    float *m, *x;
    double *ts;
    rec_rowtext rows; /* the rows' fields, written back as they came */
} rowbuf;

static void rowbuf_reserve(rowbuf *b, int n)
{
    if (n <= b->cap)
        return;
    int cap = b->cap ? 2 * b->cap : 256;
    while (cap < n)
        cap *= 2;
    b->m = xrealloc(b->m, (size_t)cap * (size_t)(b->md ? b->md : 1) * sizeof(float));
    b->x = xrealloc(b->x, (size_t)cap * (size_t)(b->xd ? b->xd : 1) * sizeof(float));
    b->ts = xrealloc(b->ts, (size_t)cap * sizeof(double));
    b->cap = cap;
}

static void rowbuf_clear(rowbuf *b)
{
    b->n = 0;
    rec_rowtext_clear(&b->rows);
}

static void rowbuf_free(rowbuf *b)
{
    free(b->m);
    free(b->x);
    free(b->ts);
    rec_rowtext_free(&b->rows);
}

static const char *field(const rowbuf *b, int row, int col, size_t *len)
{
    return rec_rowtext_field(&b->rows, (size_t)row, col, len);
}

/* Append the reader's current row. */
static int rowbuf_add(rowbuf *b, rec_reader *r, const persona_bind *bind, errctx *e)
{
    rowbuf_reserve(b, b->n + 1);
    int i = b->n;
    for (int j = 0; j < bind->m_dim; j++)
        if (rec_f32(r, bind->m_idx[j], &b->m[(size_t)i * b->md + j], e) < 0)
            return -1;
    for (int j = 0; j < bind->x_dim; j++)
        if (rec_f32(r, bind->x_idx[j], &b->x[(size_t)i * b->xd + j], e) < 0)
            return -1;
    if (rec_f64(r, bind->time, &b->ts[i], e) < 0)
        return -1;
    rec_rowtext_add(&b->rows, r);
    b->n++;
    return 0;
}

typedef struct scorer {
    const persona_model *pm;
    const emb_table *emb;
    int member_col; /* in the input */
    arena A;
    int cap;
    float *logits;
    const float **embp;
    const char **keys;
    size_t *lens;
} scorer;

/* Score rows which[0..n) of b and write them.  The product runs on nb >=
 * first + n rows, these at positions first.., zeros (no member) at the
 * others: with nb and first fixed by the row's number in the stream, a
 * row's score does not depend on where the input was cut. */
static int score_rows(scorer *sc, const rowbuf *b, const int *which, int n, int first, int nb, rec_writer *w,
                      errctx *e)
{
    const persona_model *pm = sc->pm;
    arena_reset(&sc->A);
    float *m = arena_floats(&sc->A, (size_t)nb * (size_t)(b->md ? b->md : 1));
    float *x = arena_floats(&sc->A, (size_t)nb * (size_t)(b->xd ? b->xd : 1));
    memset(m, 0, (size_t)nb * (size_t)b->md * sizeof(float));
    memset(x, 0, (size_t)nb * (size_t)b->xd * sizeof(float));
    for (int i = 0; i < nb; i++) {
        sc->keys[i] = "";
        sc->lens[i] = 0;
        sc->embp[i] = NULL;
    }
    for (int i = 0; i < n; i++) {
        int r = which[i], k = first + i;
        memcpy(m + (size_t)k * b->md, b->m + (size_t)r * b->md, (size_t)b->md * sizeof(float));
        memcpy(x + (size_t)k * b->xd, b->x + (size_t)r * b->xd, (size_t)b->xd * sizeof(float));
        sc->keys[k] = field(b, r, sc->member_col, &sc->lens[k]);
        sc->embp[k] = emb_find(sc->emb, sc->keys[k], sc->lens[k]);
    }
    persona_logits(pm, nb, m, x, sc->embp, sc->keys, sc->lens, sc->logits, &sc->A);
    for (int i = 0; i < n; i++) {
        rec_rowtext_put(&b->rows, (size_t)which[i], w);
        rec_put_f64(w, b->ncols, nn_sigmoid(sc->logits[first + i]));
        if (rec_end_row(w, e) < 0)
            return -1;
    }
    return 0;
}

typedef struct ts_ix {
    double ts;
    int i;
} ts_ix;

static int cmp_ts_ix(const void *a, const void *b)
{
    const ts_ix *x = a, *y = b;
    if (x->ts != y->ts)
        return x->ts < y->ts ? -1 : 1;
    return x->i - y->i;
}

/* Split mode: the query rows of the member in b, in ts order. */
static int score_member(scorer *sc, rowbuf *b, const persona_split *sp, ts_ix *order, int *which, rec_writer *w,
                        errctx *e)
{
    for (int i = 0; i < b->n; i++)
        order[i] = (ts_ix){b->ts[i], i};
    qsort(order, (size_t)b->n, sizeof *order, cmp_ts_ix);
    persona_rows view;
    memset(&view, 0, sizeof view);
    view.n = b->n;
    double *ts = xmalloc((size_t)(b->n ? b->n : 1) * sizeof *ts);
    for (int i = 0; i < b->n; i++)
        ts[i] = order[i].ts;
    view.ts = ts;
    int ns = persona_split_support(sp, &view);
    free(ts);
    int nq = b->n - ns;
    for (int i = 0; i < nq; i++)
        which[i] = order[ns + i].i;
    for (int start = 0; start < nq; start += sc->cap) {
        int n = nq - start < sc->cap ? nq - start : sc->cap;
        if (score_rows(sc, b, which + start, n, 0, n, w, e) < 0)
            return -1;
    }
    rowbuf_clear(b);
    return 0;
}

typedef struct score_worker {
    scorer sc;
    rowbuf b;
    int *which; /* (cap) */
} score_worker;

typedef struct score_ctx {
    const persona_bind *bind;
    uint64_t row_base; /* rows of the inputs before this one */
    score_worker *wk;  /* per worker */
} score_ctx;

static int score_flush(score_worker *k, int first, rec_writer *w, errctx *e)
{
    for (int i = 0; i < k->b.n; i++)
        k->which[i] = i;
    int rc = score_rows(&k->sc, &k->b, k->which, k->b.n, first, k->sc.cap, w, e);
    rowbuf_clear(&k->b);
    return rc;
}

/* Without a split: the rows of a piece in batches aligned on their
 * number in the stream (pmap.h). */
static int score_piece(void *ctx, int worker, rec_reader *in, rec_writer *out, errctx *e)
{
    score_ctx *c = ctx;
    score_worker *k = &c->wk[worker];
    int cap = k->sc.cap;
    int first = (int)((c->row_base + rec_rows(in)) % (uint64_t)cap);
    rowbuf_clear(&k->b);
    int got;
    while ((got = rec_next(in, e)) == 1) {
        if (rowbuf_add(&k->b, in, c->bind, e) < 0)
            return -1;
        if (first + k->b.n == cap) {
            if (score_flush(k, first, out, e) < 0)
                return -1;
            first = 0;
        }
    }
    if (got < 0)
        return -1;
    return k->b.n ? score_flush(k, first, out, e) : 0;
}

int persona_score_stream(const persona_model *pm, const persona_score_opts *o, errctx *e)
{
    emb_table emb;
    memset(&emb, 0, sizeof emb);
    if (o->embeddings) {
        if (!is_maml(pm))
            return err_set(e, "embeddings go with a maml model; a 'recstage.%s' model scores without them",
                           persona_kind(pm->hp.mode));
        if (emb_load(&emb, pm, o->embeddings, e) < 0) {
            emb_free(&emb);
            return -1;
        }
    }
    int threads = o->use_split || o->threads < 1 ? 1 : o->threads;
    /* one BLAS thread per worker: the bits of a product do not depend on
     * the machine (a threaded sgemm splits it differently) */
    pool_blas_single();
    score_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.wk = xcalloc((size_t)threads, sizeof *ctx.wk);
    int cap = o->batch > 0 ? o->batch : 256;
    for (int t = 0; t < threads; t++) {
        scorer *sc = &ctx.wk[t].sc;
        sc->pm = pm;
        sc->emb = &emb;
        sc->cap = cap;
        arena_init(&sc->A, persona_score_bytes(pm, cap) +
                               2 * arena_round((size_t)cap * (size_t)(pm->m_dim + pm->x_dim + 2) * sizeof(float)));
        sc->logits = xmalloc((size_t)cap * sizeof(float));
        sc->embp = xmalloc((size_t)cap * sizeof *sc->embp);
        sc->keys = xmalloc((size_t)cap * sizeof *sc->keys);
        sc->lens = xmalloc((size_t)cap * sizeof *sc->lens);
        ctx.wk[t].which = xmalloc((size_t)cap * sizeof(int));
    }
    /* with a split: one member at a time, in the calling thread */
    scorer *sc0 = &ctx.wk[0].sc;
    rowbuf *b0 = &ctx.wk[0].b;
    ts_ix *order = NULL;
    int *which = ctx.wk[0].which, which_cap = cap;
    rec_writer *w = NULL;
    rec_reader *r = NULL;
    persona_bind bind;
    memset(&bind, 0, sizeof bind);
    ctx.bind = &bind;
    rec_group g;
    int have_group = 0, rc = -1, ncols = 0;
    char **names = NULL;
    cli_progress prog;
    cli_progress_start(&prog, "rows", 0);
    int ninputs = o->ninputs ? o->ninputs : 1;
    for (int f = 0; f < ninputs; f++) {
        r = rec_open(o->ninputs ? o->inputs[f] : "-", e);
        if (!r)
            goto out;
        if (persona_bind_names(&bind, r, pm->member_col, pm->time_col, NULL, pm->m_names, pm->m_dim, pm->x_names,
                               pm->x_dim, e) < 0)
            goto out;
        if (rec_find(r, "score") >= 0) {
            err_set(e, "%s: the input already has a column 'score'", rec_path(r));
            goto out;
        }
        if (f == 0) {
            ncols = rec_ncols(r);
            for (int t = 0; t < threads; t++) {
                ctx.wk[t].b.ncols = ncols;
                rec_rowtext_init(&ctx.wk[t].b.rows, ncols);
                ctx.wk[t].b.md = pm->m_dim;
                ctx.wk[t].b.xd = pm->x_dim;
                ctx.wk[t].sc.member_col = bind.member;
            }
            names = xcalloc((size_t)ncols + 1, sizeof *names);
            for (int c = 0; c < ncols; c++)
                names[c] = xstrdup(rec_colname(r, c));
            names[ncols] = xstrdup("score");
            w = rec_writer_open(o->output, o->binary, e);
            if (!w || rec_writer_header(w, ncols + 1, (const char *const *)names, e) < 0)
                goto out;
        } else {
            int same = rec_ncols(r) == ncols;
            for (int c = 0; same && c < ncols; c++)
                same = strcmp(rec_colname(r, c), names[c]) == 0;
            if (!same) {
                err_set(e, "%s: columns differ from those of the first input", rec_path(r));
                goto out;
            }
        }
        if (!o->use_split) {
            if (pmap_run(r, w, threads, pmap_piece_bytes(), score_piece, &ctx, &prog, e) < 0)
                goto out;
            ctx.row_base += rec_rows(r);
        } else {
            rec_group_init(&g, bind.member);
            have_group = 1;
            int got;
            while ((got = rec_next(r, e)) == 1) {
                int step = rec_group_step(&g, r, e);
                if (step < 0)
                    goto out;
                if (step == 1 && b0->n && score_member(sc0, b0, &o->split, order, which, w, e) < 0)
                    goto out;
                if (rowbuf_add(b0, r, &bind, e) < 0)
                    goto out;
                cli_progress_update(&prog, (double)(ctx.row_base + rec_rows(r)));
                if (b0->n > which_cap) {
                    which_cap = b0->cap;
                    which = ctx.wk[0].which = xrealloc(which, (size_t)which_cap * sizeof *which);
                }
                order = xrealloc(order, (size_t)b0->cap * sizeof *order);
            }
            if (got < 0)
                goto out;
            if (b0->n && score_member(sc0, b0, &o->split, order, which, w, e) < 0)
                goto out;
            ctx.row_base += rec_rows(r);
            rec_group_free(&g);
            have_group = 0;
        }
        persona_bind_free(&bind);
        rec_close(r);
        r = NULL;
    }
    rc = rec_writer_close(w, e);
    w = NULL;
    cli_progress_end(&prog);
out:
    if (have_group)
        rec_group_free(&g);
    persona_bind_free(&bind);
    rec_close(r);
    if (w)
        rec_writer_abort(w);
    for (int c = 0; names && c <= ncols; c++)
        free(names[c]);
    free(names);
    free(order);
    for (int t = 0; t < threads; t++) {
        score_worker *k = &ctx.wk[t];
        rowbuf_free(&k->b);
        free(k->which);
        arena_free(&k->sc.A);
        free(k->sc.logits);
        free(k->sc.embp);
        free(k->sc.keys);
        free(k->sc.lens);
    }
    free(ctx.wk);
    emb_free(&emb);
    return rc;
}
