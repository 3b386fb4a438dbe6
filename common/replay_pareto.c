/*
 * replay_pareto.c - replay-eval --pareto: mark the non-dominated rows of
 * a table of configurations (replay.h).
 */
#include <stdlib.h>
#include <string.h>

#include "rec.h"
#include "replay.h"
#include "banned.h"

int pareto_table(const char *path, const char *maximize, const char *minimize, const char *output, int binary,
                 errctx *e)
{
    int rc = -1, *maxi = NULL, *mini = NULL, nmax = 0, nmin = 0;
    char **text = NULL;
    size_t *len = NULL;
    double *vals = NULL;
    unsigned char *mark = NULL;
    size_t nrows = 0, cap = 0;
    rec_writer *w = NULL;
    rec_reader *r = rec_open(path ? path : "-", e);
    if (!r)
        return -1;
    if ((maximize && (nmax = rec_select(r, maximize, &maxi, e)) < 0) ||
        (minimize && (nmin = rec_select(r, minimize, &mini, e)) < 0))
        goto out;
    int m = nmax + nmin, nc = rec_ncols(r);
    if (m == 0) {
        err_set(e, "no objective column: name them with --maximize and --minimize");
        goto out;
    }
    if (rec_find(r, "pareto") >= 0) {
        err_set(e, "%s: the table already has a column 'pareto'", rec_path(r));
        goto out;
    }
    int *sense = xmalloc((size_t)m * sizeof *sense), *col = xmalloc((size_t)m * sizeof *col);
    for (int j = 0; j < nmax; j++) {
        col[j] = maxi[j];
        sense[j] = 1;
    }
    for (int j = 0; j < nmin; j++) {
        col[nmax + j] = mini[j];
        sense[nmax + j] = -1;
    }
    int got;
    while ((got = rec_next(r, e)) == 1) {
        if (nrows == cap) {
            cap = cap ? cap * 2 : 64;
            text = xrealloc(text, cap * (size_t)nc * sizeof *text);
            len = xrealloc(len, cap * (size_t)nc * sizeof *len);
            vals = xrealloc(vals, cap * (size_t)m * sizeof *vals);
        }
        for (int j = 0; j < m; j++)
            if (rec_f64(r, col[j], &vals[nrows * (size_t)m + (size_t)j], e) < 0) {
                got = -1;
                break;
            }
        if (got < 0)
            break;
        for (int c = 0; c < nc; c++) {
            size_t l;
            const char *s = rec_str(r, c, &l);
            text[nrows * (size_t)nc + (size_t)c] = xmalloc(l + 1);
            memcpy(text[nrows * (size_t)nc + (size_t)c], s, l + 1);
            len[nrows * (size_t)nc + (size_t)c] = l;
        }
        nrows++;
    }
    if (got < 0) {
        free(sense);
        free(col);
        goto out;
    }
    mark = xmalloc(nrows ? nrows : 1);
    pareto_mark(vals, (int)nrows, m, sense, mark);
    free(sense);
    free(col);
    const char **names = xmalloc(((size_t)nc + 1) * sizeof *names);
    for (int c = 0; c < nc; c++)
        names[c] = rec_colname(r, c);
    names[nc] = "pareto";
    w = rec_writer_open(output, binary, e);
    if (!w || rec_writer_header(w, nc + 1, names, e) < 0) {
        free(names);
        goto out;
    }
    free(names);
    for (size_t i = 0; i < nrows; i++) {
        for (int c = 0; c < nc; c++)
            rec_put_text(w, c, text[i * (size_t)nc + (size_t)c], len[i * (size_t)nc + (size_t)c]);
        rec_put_i64(w, nc, mark[i]);
        if (rec_end_row(w, e) < 0)
            goto out;
    }
    rc = rec_writer_close(w, e);
    w = NULL;
out:
    if (w)
        rec_writer_abort(w);
    for (size_t i = 0; text && i < nrows * (size_t)rec_ncols(r); i++)
        free(text[i]);
    free(text);
    free(len);
    free(vals);
    free(mark);
    free(maxi);
    free(mini);
    rec_close(r);
    return rc;
}
