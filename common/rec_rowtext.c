/*
 * rec_rowtext.c - rows kept as the text of their fields, to be written
 * back after something is computed for them (rec.h).
 */
#include <stdlib.h>
#include <string.h>

#include "rec.h"
#include "banned.h"

void rec_rowtext_init(rec_rowtext *t, int ncols)
{
    memset(t, 0, sizeof *t);
    t->ncols = ncols;
}

void rec_rowtext_clear(rec_rowtext *t)
{
    t->nrows = 0;
    t->tlen = 0;
}

void rec_rowtext_add(rec_rowtext *t, rec_reader *r)
{
    size_t nc = (size_t)t->ncols;
    if (t->nrows == t->cap) {
        t->cap = t->cap ? 2 * t->cap : 256;
        t->foff = xrealloc(t->foff, (t->cap * nc + 1) * sizeof *t->foff);
    }
    size_t base = t->nrows * nc;
    if (t->nrows == 0)
        t->foff[0] = t->tlen = 0;
    for (size_t c = 0; c < nc; c++) {
        size_t len;
        const char *s = rec_str(r, (int)c, &len);
        if (t->tlen + len > t->tcap) {
            t->tcap = t->tcap ? t->tcap : 4096;
            while (t->tlen + len > t->tcap)
                t->tcap *= 2;
            t->text = xrealloc(t->text, t->tcap);
        }
        memcpy(t->text + t->tlen, s, len);
        t->tlen += len;
        t->foff[base + c + 1] = t->tlen;
    }
    t->nrows++;
}

const char *rec_rowtext_field(const rec_rowtext *t, size_t row, int col, size_t *len)
{
    size_t k = row * (size_t)t->ncols + (size_t)col;
    *len = t->foff[k + 1] - t->foff[k];
    return t->text + t->foff[k];
}

void rec_rowtext_put(const rec_rowtext *t, size_t row, rec_writer *w)
{
    for (int c = 0; c < t->ncols; c++) {
        size_t len;
        const char *s = rec_rowtext_field(t, row, c, &len);
        rec_put_text(w, c, s, len);
    }
}

void rec_rowtext_free(rec_rowtext *t)
{
    free(t->foff);
    free(t->text);
    memset(t, 0, sizeof *t);
}
