/*
 * recops.c - rec-cat's operations (see recops.h).
 *
 * --check decides, for each column, whether it is numeric from the first
 * CHECK_SAMPLE rows (numeric when most of its values there are numbers);
 * every value of a numeric column must then parse strictly as a number,
 * so a stray "yes" or "nan" in a feature column is caught with its line
 * before a trainer meets it, even in the first row.  Within the sample the
 * first non-number of each column is remembered (line and text), so the
 * report still names the first bad value.  --schema widens each column's type over
 * all rows (i64 < f32 < f64 < str, i64 beyond 2^24 widening f32 to f64).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "recops.h"
#include "cli.h"
#include "rec.h"
#include "banned.h"

static rec_type widen(rec_type a, rec_type b, int big_int)
{
    if (a == 0)
        return b;
    if (a == REC_STR || b == REC_STR)
        return REC_STR;
    if (a == b)
        return a;
    rec_type hi = a > b ? a : b;
    if (hi == REC_F32 && big_int)
        return REC_F64;
    return hi;
}

#define CHECK_SAMPLE 1000

typedef struct colstat {
    rec_type type;
    int big_int;      /* an i64 of 10^6 or more was seen */
    uint64_t missing;
    /* --check */
    uint64_t numbers, others; /* in the sample */
    int numeric;              /* decided after the sample */
    char *bad_msg;            /* first non-number in the sample, as an error */
} colstat;

static void good_rows(char *buf, size_t n, uint64_t rows)
{
    snprintf(buf, n, " (%llu good row%s before)", (unsigned long long)rows, rows == 1 ? "" : "s");
}

static void append(errctx *e, const char *tail)
{
    size_t used = strlen(e->msg);
    snprintf(e->msg + used, sizeof e->msg - used, "%s", tail);
}

/* After the sample (or at the end of a short input): decide each column;
 * a numeric column with a non-number in the sample fails with it. */
static int check_decide(colstat *st, int ncols, uint64_t *decided_at, uint64_t rows, errctx *e)
{
    if (*decided_at)
        return 0;
    *decided_at = rows ? rows : 1;
    for (int c = 0; c < ncols; c++) {
        st[c].numeric = st[c].numbers > 0 && st[c].numbers >= st[c].others;
        if (st[c].numeric && st[c].bad_msg) {
            err_set(e, "%s", st[c].bad_msg);
            return -1;
        }
    }
    return 0;
}

/* The narrowest type of one value: text fields (and strings of a binary
 * input) classified as the binary writer would store them alone. */
static rec_type value_type(rec_reader *r, int c, int *big)
{
    rec_type t = rec_field_type(r, c);
    int64_t i = 0;
    float f;
    double d;
    size_t len;
    if (t == REC_STR) {
        const char *s = rec_str(r, c, &len);
        t = rec_caps_type(rec_classify(s, len, &i, &f, &d));
    } else if (t == REC_I64) {
        rec_i64(r, c, &i, NULL);
    }
    if (t == REC_I64 && (i >= 1000000 || i <= -1000000))
        *big = 1;
    return t;
}

static int open_next(const recops_cat_opts *o, int k, rec_reader **r, errctx *e)
{
    const char *path = o->ninputs ? o->inputs[k] : "-";
    *r = rec_open(path, e);
    return *r ? 0 : -1;
}

static int same_columns(rec_reader *a, rec_reader *b, errctx *e)
{
    int same = rec_ncols(a) == rec_ncols(b);
    for (int i = 0; same && i < rec_ncols(a); i++)
        same = strcmp(rec_colname(a, i), rec_colname(b, i)) == 0;
    if (!same)
        return err_set(e, "%s: columns differ from those of %s", rec_path(b), rec_path(a));
    return 0;
}

int recops_cat(const recops_cat_opts *o, errctx *e)
{
    int ninputs = o->ninputs ? o->ninputs : 1;
    rec_reader *first = NULL, *r = NULL;
    rec_writer *w = NULL;
    int *sel = NULL, nsel = 0, group_col = -1, rc = -1;
    colstat *st = NULL;
    rec_group g;
    int have_group = 0;
    uint64_t rows = 0, decided_at = 0;
    cli_progress prog;
    int writing = !o->schema && !o->check && !o->group_col;

    if (open_next(o, 0, &first, e) < 0)
        return -1;
    r = first;
    int ncols = rec_ncols(first);
    if (o->columns) {
        nsel = rec_select(first, o->columns, &sel, e);
        if (nsel < 0)
            goto done;
    } else {
        nsel = ncols;
        sel = xmalloc((size_t)ncols * sizeof *sel);
        for (int i = 0; i < ncols; i++)
            sel[i] = i;
    }
    if (o->group_col) {
        group_col = rec_col(first, o->group_col, e);
        if (group_col < 0)
            goto done;
        rec_group_init(&g, group_col);
        have_group = 1;
    }
    st = xcalloc((size_t)ncols, sizeof *st);
    if (writing) {
        w = rec_writer_open(o->output, o->binary, e);
        if (!w)
            goto done;
        const char **names = xmalloc((size_t)nsel * sizeof *names);
        for (int i = 0; i < nsel; i++)
            names[i] = rec_colname(first, sel[i]);
        int hr = rec_writer_header(w, nsel, names, e);
        free(names);
        if (hr < 0) {
            err_prefix(e, "%s", rec_path(first)); /* the input whose columns do not fit */
            goto done;
        }
    }
    cli_progress_start(&prog, "rows", 0);
    for (int k = 0; k < ninputs; k++) {
        if (k > 0) {
            if (r != first)
                rec_close(r);
            if (open_next(o, k, &r, e) < 0) {
                r = first;
                goto done;
            }
            if (same_columns(first, r, e) < 0)
                goto done;
        }
        /* binary to binary with nothing to inspect: whole blocks */
        while (writing && o->binary && o->head < 0 && rec_format(r) == REC_BINARY) {
            rec_block b;
            int got = rec_next_block(r, &b, e);
            if (got < 0)
                goto done;
            if (got == 0)
                break;
            if (rec_put_block(w, &b, sel, e) < 0)
                goto done;
            rows += b.nrows;
            cli_progress_update(&prog, (double)rows);
        }
        for (;;) {
            if (o->head >= 0 && rows >= (uint64_t)o->head)
                break;
            int got = rec_next(r, e);
            if (got < 0) {
                if (o->check) {
                    char tail[96];
                    good_rows(tail, sizeof tail, rows);
                    append(e, tail);
                }
                goto done;
            }
            if (got == 0)
                break;
            if (have_group && rec_group_step(&g, r, e) < 0)
                goto done;
            if (o->check && rows == CHECK_SAMPLE && check_decide(st, ncols, &decided_at, rows, e) < 0)
                goto done;
            if (o->schema || o->check) {
                for (int c = 0; c < ncols; c++) {
                    size_t len;
                    if (rec_field_type(r, c) == REC_STR) {
                        rec_str(r, c, &len);
                        if (len == 0) {
                            st[c].missing++;
                            if (o->check) {
                                char tail[96];
                                good_rows(tail, sizeof tail, rows);
                                rec_error(r, c, e, "missing value%s", tail);
                                goto done;
                            }
                            continue;
                        }
                    }
                    if (o->schema) {
                        rec_type t = value_type(r, c, &st[c].big_int);
                        st[c].type = widen(st[c].type, t, st[c].big_int);
                        continue;
                    }
                    /* --check */
                    double d;
                    errctx why;
                    if (!decided_at) {
                        if (rec_f64(r, c, &d, &why) == 0) {
                            st[c].numbers++;
                        } else {
                            if (!st[c].others++) {
                                char tail[96];
                                good_rows(tail, sizeof tail, rows);
                                append(&why, tail);
                                st[c].bad_msg = xstrdup(why.msg);
                            }
                        }
                        continue;
                    }
                    if (st[c].numeric && rec_f64(r, c, &d, e) < 0) {
                        char tail[96];
                        good_rows(tail, sizeof tail, rows);
                        append(e, tail);
                        goto done;
                    }
                }
            }
            if (writing) {
                for (int i = 0; i < nsel; i++)
                    rec_put_field(w, i, r, sel[i]);
                if (rec_end_row(w, e) < 0) {
                    char where[512];
                    rec_where(r, -1, where, sizeof where);
                    err_prefix(e, "%s", where);
                    goto done;
                }
            }
            rows++;
            if ((rows & 0xffff) == 0)
                cli_progress_update(&prog, (double)rows);
        }
        if (o->head >= 0 && rows >= (uint64_t)o->head)
            break;
    }
    if (o->check && check_decide(st, ncols, &decided_at, rows, e) < 0)
        goto done;
    cli_progress_update(&prog, (double)rows);
    cli_progress_end(&prog);
    if (writing) {
        rec_writer *tmp = w;
        w = NULL;
        if (rec_writer_close(tmp, e) < 0)
            goto done;
    } else if (o->schema) {
        printf("column\ttype\tmissing\n");
        for (int c = 0; c < ncols; c++)
            printf("%s\t%s\t%llu\n", rec_colname(first, c), st[c].type ? rec_type_name(st[c].type) : "str",
                   (unsigned long long)st[c].missing);
    } else {
        printf("input\trows\tcolumns%s\n", have_group ? "\tgroups" : "");
        printf("%s\t%llu\t%d", ninputs > 1 ? "all" : rec_path(first), (unsigned long long)rows, ncols);
        if (have_group)
            printf("\t%llu", (unsigned long long)g.groups);
        printf("\n");
    }
    rc = 0;
done:
    if (w)
        rec_writer_abort(w);
    if (have_group)
        rec_group_free(&g);
    if (r && r != first)
        rec_close(r);
    rec_close(first);
    free(sel);
    for (int c = 0; st && c < ncols; c++)
        free(st[c].bad_msg);
    free(st);
    return rc;
}
