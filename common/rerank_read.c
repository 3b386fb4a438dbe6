/*
 * rerank_read.c - candidate streams for sga-rerank: find the columns,
 * gather one request at a time, validate it.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rec.h"
#include "rerank.h"
#include "banned.h"

struct rerank_reader {
    rec_reader *r;
    rec_group g;
    int req, item, cat, age, slot, prop;
    int F, S, O;
    int *fidx, *sidx, *lidx;
    int need_slot;
    int pending;          /* the current row starts the next request */
    int done;
    uint64_t rows;
    hset64 items;
    float *fbuf, *sbuf;
    int *slot_line_seen;  /* per slot value: index of the candidate + 1 */
    int slot_cap;
};

void rerank_cols_defaults(rerank_cols *c)
{
    c->request = "request_id";
    c->item = "item_id";
    c->category = "category";
    c->age = "age";
    c->slot = "slot";
    c->features = "f_*";
    c->scores = "score_*";
}

const char *rerank_reader_path(const rerank_reader *rr)
{
    return rec_path(rr->r);
}

int rerank_reader_nfeat(const rerank_reader *rr)
{
    return rr->F;
}

int rerank_reader_nscore(const rerank_reader *rr)
{
    return rr->S;
}

const char *rerank_reader_colname(const rerank_reader *rr, int which, int j)
{
    return rec_colname(rr->r, which == 0 ? rr->fidx[j] : rr->sidx[j]);
}

uint64_t rerank_reader_rows(const rerank_reader *rr)
{
    return rr->rows;
}

int rerank_reader_propensity(rerank_reader *rr, const char *name, errctx *e)
{
    rr->prop = rec_col(rr->r, name, e);
    return rr->prop < 0 ? -1 : 0;
}

void rerank_reader_close(rerank_reader *rr)
{
    if (!rr)
        return;
    rec_group_free(&rr->g);
    rec_close(rr->r);
    hset64_free(&rr->items);
    free(rr->fidx);
    free(rr->sidx);
    free(rr->lidx);
    free(rr->fbuf);
    free(rr->sbuf);
    free(rr->slot_line_seen);
    free(rr);
}

/* Columns by exact names. */
static int *cols_by_name(rec_reader *r, const char *const *names, int n, errctx *e)
{
    int *idx = xmalloc(((size_t)n + 1) * sizeof *idx);
    for (int j = 0; j < n; j++)
        if ((idx[j] = rec_col(r, names[j], e)) < 0) {
            free(idx);
            return NULL;
        }
    return idx;
}

rerank_reader *rerank_reader_open(const char *path, const rerank_cols *cols, const char *const *feat, int F,
                                  const char *const *score, int S, const char *const *labels, int O,
                                  int need_slot, errctx *e)
{
    rerank_reader *rr = xcalloc(1, sizeof *rr);
    rr->r = rec_open(path ? path : "-", e);
    if (!rr->r) {
        free(rr);
        return NULL;
    }
    rec_reader *r = rr->r;
    rec_group_init(&rr->g, 0);
    hset64_init(&rr->items);
    if ((rr->req = rec_col(r, cols->request, e)) < 0 || (rr->item = rec_col(r, cols->item, e)) < 0 ||
        (rr->cat = rec_col(r, cols->category, e)) < 0 || (rr->age = rec_col(r, cols->age, e)) < 0)
        goto fail;
    rr->slot = -1;
    rr->prop = -1;
    if (need_slot && (rr->slot = rec_col(r, cols->slot, e)) < 0)
        goto fail;
    rr->g.col = rr->req;
    if (feat) {
        rr->F = F;
        if (F && !(rr->fidx = cols_by_name(r, feat, F, e)))
            goto fail;
    } else if (*cols->features && (rr->F = rec_select(r, cols->features, &rr->fidx, e)) < 0) {
        goto fail;
    }
    if (score) {
        rr->S = S;
        if (S && !(rr->sidx = cols_by_name(r, score, S, e)))
            goto fail;
    } else if (*cols->scores && (rr->S = rec_select(r, cols->scores, &rr->sidx, e)) < 0) {
        goto fail;
    }
    rr->O = labels ? O : 0;
    if (rr->O && !(rr->lidx = cols_by_name(r, labels, O, e)))
        goto fail;
    rr->need_slot = need_slot;
    rr->fbuf = xmalloc(((size_t)rr->F + 1) * sizeof *rr->fbuf);
    rr->sbuf = xmalloc(((size_t)rr->S + 1) * sizeof *rr->sbuf);
    return rr;
fail:
    rerank_reader_close(rr);
    return NULL;
}

static int field_text(rec_reader *r, int col, const char **s)
{
    size_t len;
    *s = rec_str(r, col, &len);
    return (int)(len > 60 ? 60 : len);
}

/* Add the reader's current row to q. */
static int add_row(rerank_reader *rr, slot_req *q, errctx *e)
{
    rec_reader *r = rr->r;
    size_t ilen, clen;
    const char *item = rec_str(r, rr->item, &ilen);
    if (!hset64_add(&rr->items, hash64(item, ilen, 0x6974656d)))
        return rec_error(r, rr->item, e, "item '%.*s' appears twice in request '%.*s'", (int)(ilen > 60 ? 60 : ilen),
                         item, (int)(q->key_len > 60 ? 60 : q->key_len), q->key);
    /* item is valid until the next rec_str of another column: copy it
     * before reading the category */
    char ibuf[256];
    char *icopy = ilen < sizeof ibuf ? ibuf : xmalloc(ilen + 1);
    memcpy(icopy, item, ilen);
    icopy[ilen] = '\0';
    int rc = -1;
    const char *cat = rec_str(r, rr->cat, &clen);
    char cbuf[256];
    char *ccopy = clen < sizeof cbuf ? cbuf : xmalloc(clen + 1);
    memcpy(ccopy, cat, clen);
    ccopy[clen] = '\0';
    double age;
    if (rec_f64(r, rr->age, &age, e) < 0)
        goto out;
    if (age < 0) {
        const char *t;
        int len = field_text(r, rr->age, &t);
        rec_error(r, rr->age, e, "an age must not be negative, not '%.*s'", len, t);
        goto out;
    }
    for (int j = 0; j < rr->F; j++)
        if (rec_f32(r, rr->fidx[j], &rr->fbuf[j], e) < 0)
            goto out;
    for (int j = 0; j < rr->S; j++)
        if (rec_f32(r, rr->sidx[j], &rr->sbuf[j], e) < 0)
            goto out;
    int slot = 0;
    if (rr->need_slot) {
        int64_t v;
        if (rec_i64(r, rr->slot, &v, e) < 0)
            goto out;
        if (v < 0 || v > RERANK_MAX_SLOTS) {
            rec_error(r, rr->slot, e, "a slot must be 0 (not shown) or 1 .. %d, not %lld", RERANK_MAX_SLOTS,
                      (long long)v);
            goto out;
        }
        slot = (int)v;
    }
    int i = slot_req_add(q, icopy, ilen, ccopy, clen, age, rr->sbuf, rr->fbuf, rec_line(r));
    q->slot[i] = slot;
    if (slot > 0) {
        if (slot > rr->slot_cap) {
            int cap = slot * 2 > 64 ? slot * 2 : 64;
            rr->slot_line_seen = xrealloc(rr->slot_line_seen, (size_t)cap * sizeof *rr->slot_line_seen);
            memset(rr->slot_line_seen + rr->slot_cap, 0, (size_t)(cap - rr->slot_cap) * sizeof *rr->slot_line_seen);
            rr->slot_cap = cap;
        }
        if (rr->slot_line_seen[slot - 1]) {
            rec_error(r, rr->slot, e, "slot %d is shown twice in request '%.*s' (also line %llu)", slot,
                      (int)(q->key_len > 60 ? 60 : q->key_len), q->key,
                      (unsigned long long)q->line[rr->slot_line_seen[slot - 1] - 1]);
            goto out;
        }
        rr->slot_line_seen[slot - 1] = i + 1;
        if (rr->prop >= 0) {
            double mu;
            if (rec_f64(r, rr->prop, &mu, e) < 0)
                goto out;
            if (!(mu > 0 && mu <= 1)) {
                const char *t;
                int len = field_text(r, rr->prop, &t);
                rec_error(r, rr->prop, e, "a propensity must be in (0, 1], not '%.*s'", len, t);
                goto out;
            }
            q->prop[i] = mu;
        }
        for (int o = 0; o < rr->O; o++) {
            double y;
            if (rec_f64(r, rr->lidx[o], &y, e) < 0)
                goto out;
            if (y != 0 && y != 1) {
                const char *t;
                int len = field_text(r, rr->lidx[o], &t);
                rec_error(r, rr->lidx[o], e, "a label must be 0 or 1, not '%.*s'", len, t);
                goto out;
            }
            q->label[(size_t)i * q->O + o] = (float)y;
        }
    }
    rr->rows++;
    rc = 0;
out:
    if (icopy != ibuf)
        free(icopy);
    if (ccopy != cbuf)
        free(ccopy);
    return rc;
}

/* The logged list of a complete request: slots 1..k without a gap. */
static int finish_list(rerank_reader *rr, slot_req *q, errctx *e)
{
    q->k = 0;
    if (!rr->need_slot)
        return 0;
    int kmax = 0;
    for (int i = 0; i < q->n; i++)
        kmax = q->slot[i] > kmax ? q->slot[i] : kmax;
    for (int s = 1; s <= kmax; s++) {
        int who = rr->slot_line_seen[s - 1];
        if (!who) {
            /* name the line of the slot after the gap */
            int next = s + 1;
            while (!rr->slot_line_seen[next - 1])
                next++;
            uint64_t line = q->line[rr->slot_line_seen[next - 1] - 1];
            return err_set(e, "%s:%llu: column '%s': request '%.*s' shows slot %d but not slot %d (slots must be 1, 2, ... "
                              "without a gap)",
                           rec_path(rr->r), (unsigned long long)line, rec_colname(rr->r, rr->slot),
                           (int)(q->key_len > 60 ? 60 : q->key_len), q->key, next, s);
        }
        q->list[q->k++] = who - 1;
    }
    for (int s = 1; s <= kmax; s++)
        rr->slot_line_seen[s - 1] = 0;
    return 0;
}

static void start_request(rerank_reader *rr, slot_req *q)
{
    slot_req_clear(q);
    size_t len;
    const char *k = rec_str(rr->r, rr->req, &len);
    if (len + 1 > q->key_cap) {
        q->key_cap = len + 64;
        q->key = xrealloc(q->key, q->key_cap);
    }
    memcpy(q->key, k, len);
    q->key[len] = '\0';
    q->key_len = len;
    hset64_free(&rr->items);
    hset64_init(&rr->items);
}

int rerank_reader_next(rerank_reader *rr, slot_req *q, errctx *e)
{
    if (rr->done)
        return 0;
    if (rr->pending) {
        rr->pending = 0;
        start_request(rr, q);
        if (add_row(rr, q, e) < 0)
            return -1;
    } else {
        slot_req_clear(q);
    }
    int got;
    while ((got = rec_next(rr->r, e)) == 1) {
        int step = rec_group_step(&rr->g, rr->r, e);
        if (step < 0)
            return -1;
        if (step == 1 && q->n > 0) {
            rr->pending = 1;
            return finish_list(rr, q, e) < 0 ? -1 : 1;
        }
        if (step == 1)
            start_request(rr, q);
        if (add_row(rr, q, e) < 0)
            return -1;
    }
    if (got < 0)
        return -1;
    rr->done = 1;
    if (q->n == 0)
        return 0;
    return finish_list(rr, q, e) < 0 ? -1 : 1;
}
