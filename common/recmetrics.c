/*
 * recmetrics.c - rec-metrics's operation (see recmetrics.h).
 *
 * Rows are read into one metrics_acc per group, and into a second one for
 * "all" when grouping: the AUC needs every score of a group at once, and
 * groups need not be contiguous (a shuffled or merged scoring output is
 * fine), so memory grows with the rows (9 or 18 bytes a row) rather than
 * staying constant as a grouped-stream tool's would (SPEC section 4).
 * Only after the last row are the metrics computed and the table written,
 * so a bad value anywhere leaves no output at all.
 *
 * Groups by text are found through a hash table of their keys and written
 * in order of first appearance; bucket groups are indexed by bucket and
 * written in edge order, empty buckets left out.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "recmetrics.h"
#include "cli.h"
#include "hmap.h"
#include "metrics.h"
#include "rec.h"
#include "rng.h"
#include "banned.h"

typedef struct group {
    char *name;
    size_t name_len;
    metrics_acc acc;
} group;

typedef struct groups {
    group *items;
    size_t n, cap;
    hmap *index; /* name -> position, for text keys */
} groups;

static group *groups_append(groups *g, const char *name, size_t len)
{
    if (g->n == g->cap) {
        g->cap = g->cap ? 2 * g->cap : 16;
        g->items = xrealloc(g->items, g->cap * sizeof *g->items);
    }
    group *it = &g->items[g->n++];
    it->name = xstrndup(name, len);
    it->name_len = len;
    metrics_acc_init(&it->acc);
    return it;
}

static group *groups_find(groups *g, const char *key, size_t len)
{
    int added;
    int64_t *pos = hmap_put(g->index, key, len, (int64_t)g->n, &added);
    if (added)
        return groups_append(g, key, len);
    return &g->items[*pos];
}

static void groups_free(groups *g)
{
    for (size_t i = 0; i < g->n; i++) {
        free(g->items[i].name);
        metrics_acc_free(&g->items[i].acc);
    }
    free(g->items);
    if (g->index)
        hmap_free(g->index);
    memset(g, 0, sizeof *g);
}

uint64_t recmetrics_group_seed(const char *name, size_t len, uint64_t seed)
{
    return hash64(name, len, seed);
}

/* A number, or NA when undefined. */
static void put_metric(rec_writer *w, int col, double v)
{
    if (isnan(v))
        rec_put_str(w, col, "NA", 2);
    else
        rec_put_f64(w, col, v);
}

static int write_group(rec_writer *w, const group *g, const recmetrics_opts *o, errctx *e)
{
    metrics_summary s;
    metrics_acc_compute(&g->acc, &s);
    rec_put_str(w, 0, g->name, g->name_len);
    rec_put_i64(w, 1, (int64_t)s.rows);
    rec_put_i64(w, 2, (int64_t)s.positives);
    put_metric(w, 3, s.auc);
    put_metric(w, 4, s.logloss);
    put_metric(w, 5, s.calibration);
    if (o->bootstrap > 0) {
        metrics_interval ci;
        uint64_t seed = recmetrics_group_seed(g->name, g->name_len, o->seed);
        if (metrics_bootstrap(&g->acc, o->bootstrap, seed, NULL, &ci, e) < 0)
            return -1;
        /* a group with one class has no AUC and so no replicates to skip
         * worth a warning; the others may lose a few to unlucky draws */
        if (ci.used < ci.replicates && !isnan(s.auc))
            cli_warn("group '%s': %d of %d bootstrap replicates drew one class only and were skipped",
                     g->name, ci.replicates - ci.used, ci.replicates);
        put_metric(w, 6, ci.lo);
        put_metric(w, 7, ci.hi);
    }
    if (rec_end_row(w, e) < 0)
        return -1;
    return 0;
}

/* A number from field col.  A binary f32 value is read as the decimal it
 * stands for (its text form: the binary writer stores a decimal as f32 only
 * when the float prints back to the same digits), not as the float's exact
 * binary value, so a stream and its binary copy give the same output. */
static int field_f64(rec_reader *r, int col, double *out, errctx *e)
{
    if (rec_format(r) != REC_BINARY || rec_field_type(r, col) != REC_F32)
        return rec_f64(r, col, out, e);
    float f;
    if (rec_f32(r, col, &f, e) < 0) /* rejects NaN and Inf */
        return -1;
    size_t len;
    const char *s = rec_str(r, col, &len);
    errctx why;
    if (rec_parse_f64(s, len, out, &why) < 0)
        return rec_error(r, col, e, "%s", why.msg);
    return 0;
}

/* Read and check one row's label and score. */
static int read_row(rec_reader *r, int label_col, int score_col, int *label, double *score, errctx *e)
{
    double y;
    if (field_f64(r, label_col, &y, e) < 0)
        return -1;
    if (y != 0 && y != 1)
        return rec_error(r, label_col, e, "label '%s' is not 0 or 1", rec_str(r, label_col, NULL));
    if (field_f64(r, score_col, score, e) < 0)
        return -1;
    if (*score < 0 || *score > 1)
        return rec_error(r, score_col, e, "score '%s' is not a probability in [0, 1]",
                         rec_str(r, score_col, NULL));
    *label = y == 1;
    return 0;
}

int recmetrics_run(const recmetrics_opts *o, errctx *e)
{
    int ninputs = o->ninputs ? o->ninputs : 1;
    int rc = -1;
    groups g;
    memset(&g, 0, sizeof g);
    group all;
    all.name = xstrdup("all");
    all.name_len = 3;
    metrics_acc_init(&all.acc);
    int bucketing = o->by_col && o->edges;
    if (bucketing) {
        for (int b = 0; b <= o->nedges; b++) {
            char name[64];
            int len = metrics_bucket_name(b, o->edges, o->nedges, name, sizeof name);
            groups_append(&g, name, (size_t)len);
        }
    } else if (o->by_col) {
        g.index = hmap_new(64);
    }
    rec_reader *r = NULL;
    rec_writer *w = rec_writer_open(o->output, 0, e);
    if (!w)
        goto done;
    cli_progress prog;
    cli_progress_start(&prog, "rows", 0);
    for (int k = 0; k < ninputs; k++) {
        r = rec_open(o->ninputs ? o->inputs[k] : "-", e);
        if (!r)
            goto done;
        int label_col = rec_col(r, o->label_col, e);
        if (label_col < 0)
            goto done;
        int score_col = rec_col(r, o->score_col, e);
        if (score_col < 0)
            goto done;
        int by_col = -1;
        if (o->by_col && (by_col = rec_col(r, o->by_col, e)) < 0)
            goto done;
        int got;
        while ((got = rec_next(r, e)) > 0) {
            int label = 0;
            double score = 0;
            if (read_row(r, label_col, score_col, &label, &score, e) < 0)
                goto done;
            metrics_acc_add(&all.acc, score, label);
            if (bucketing) {
                double v;
                if (field_f64(r, by_col, &v, e) < 0)
                    goto done;
                int b = metrics_bucket_index(v, o->edges, o->nedges);
                metrics_acc_add(&g.items[b].acc, score, label);
            } else if (by_col >= 0) {
                size_t len;
                const char *key = rec_str(r, by_col, &len);
                if (len == 0) {
                    rec_error(r, by_col, e, "missing value (the group key)");
                    goto done;
                }
                metrics_acc_add(&groups_find(&g, key, len)->acc, score, label);
            }
            if ((all.acc.n & 0xffff) == 0)
                cli_progress_update(&prog, (double)all.acc.n);
        }
        if (got < 0)
            goto done;
        rec_close(r);
        r = NULL;
    }
    cli_progress_update(&prog, (double)all.acc.n);
    cli_progress_end(&prog);
    if (all.acc.n == 0) {
        if (ninputs == 1)
            err_set(e, "%s: no rows", o->ninputs ? o->inputs[0] : "stdin");
        else
            err_set(e, "no rows in any of the %d inputs", ninputs);
        goto done;
    }

    static const char *const names[] = {"group", "rows", "positives", "auc", "logloss", "calibration",
                                         "auc_lo", "auc_hi"};
    if (rec_writer_header(w, o->bootstrap > 0 ? 8 : 6, names, e) < 0)
        goto done;
    for (size_t i = 0; i < g.n; i++)
        if (g.items[i].acc.n > 0 && write_group(w, &g.items[i], o, e) < 0)
            goto done;
    if (write_group(w, &all, o, e) < 0)
        goto done;
    rec_writer *tmp = w;
    w = NULL;
    if (rec_writer_close(tmp, e) < 0)
        goto done;
    rc = 0;
done:
    if (w)
        rec_writer_abort(w);
    if (r)
        rec_close(r);
    groups_free(&g);
    free(all.name);
    metrics_acc_free(&all.acc);
    return rc;
}
