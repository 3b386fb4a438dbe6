/*
 * fuzz_roundtrip.c - libFuzzer harness for the exact round trip of SPEC
 * section 4 through the writer: the input (text, gzip or binary, as
 * rec_open detects it) is read and copied field by field (rec_put_field)
 * to a binary stream, which is copied the same way to TSV; each copy must
 * write without error when the input read without error (or fail with a
 * message, for what the writer refuses: a tab or line break in a TSV
 * value, a name TSV cannot hold), and must read back with the same
 * columns and, field by field, the very same text (rec_str) as the input.
 *
 * The files go to a folder made once under $FUZZ_TMPDIR, else /dev/shm
 * (no disk syncs), else $TMPDIR or /tmp, and removed at exit.
 */
#include "fuzz.h"

#include "banned.h"

/* The fields of every row, as rec_str gives them. */
typedef struct table {
    int ncols;
    char **names;
    size_t nrows, cap;
    char **cells; /* nrows * ncols, each malloc'd */
    size_t *lens;
} table;

static void table_free(table *t)
{
    for (size_t k = 0; k < t->nrows * (size_t)t->ncols; k++)
        free(t->cells[k]);
    for (int c = 0; c < t->ncols; c++)
        free(t->names[c]);
    free(t->names);
    free(t->cells);
    free(t->lens);
    memset(t, 0, sizeof *t);
}

/* Read path into t while copying it to out (binary or TSV).  Returns 1
 * when both went through, 0 when the input or the writer refused it (with
 * a message), -1 when the input does not open. */
static int copy(const char *path, const char *out, int binary, table *t)
{
    errctx e;
    e.msg[0] = '\0';
    memset(t, 0, sizeof *t);
    rec_reader *r = rec_open(path, &e);
    if (!r)
        return -1;
    t->ncols = rec_ncols(r);
    t->names = calloc((size_t)t->ncols, sizeof *t->names);
    for (int c = 0; c < t->ncols; c++)
        t->names[c] = strdup(rec_colname(r, c));
    rec_writer *w = rec_writer_open(out, binary, &e);
    FUZZ_CHECK(w, "cannot open %s: %s", out, e.msg);
    if (rec_writer_header(w, t->ncols, rec_colnames(r), &e) < 0) {
        /* only headers TSV cannot hold are refused */
        FUZZ_CHECK(strstr(e.msg, "reads back as CSV") || strstr(e.msg, "byte order mark") ||
                       strstr(e.msg, "invalid column name") || strstr(e.msg, "binary record stream holds at most"),
                   "rec_writer_header refused: %s", e.msg);
        rec_writer_abort(w);
        rec_close(r);
        return 0;
    }
    int rc;
    int ok = 1;
    while ((rc = rec_next(r, &e)) == 1) {
        if (t->nrows == t->cap) {
            t->cap = t->cap ? 2 * t->cap : 16;
            t->cells = realloc(t->cells, t->cap * (size_t)t->ncols * sizeof *t->cells);
            t->lens = realloc(t->lens, t->cap * (size_t)t->ncols * sizeof *t->lens);
            FUZZ_CHECK(t->cells && t->lens, "out of memory");
        }
        for (int c = 0; c < t->ncols; c++)
            if (fuzz_field_f32exp(r, c))
                ok = 0;
        if (!ok)
            break;
        for (int c = 0; c < t->ncols; c++) {
            size_t len;
            const char *s = rec_str(r, c, &len);
            size_t k = t->nrows * (size_t)t->ncols + (size_t)c;
            t->cells[k] = malloc(len + 1);
            FUZZ_CHECK(t->cells[k], "out of memory");
            memcpy(t->cells[k], s, len + 1);
            t->lens[k] = len;
            int64_t iv;
            if (fuzz_ignored("i64cast") && rec_field_type(r, c) == REC_I64 && rec_i64(r, c, &iv, NULL) == 0 &&
                (iv > INT64_MAX - (1ll << 40) || iv < INT64_MIN + (1ll << 40)))
                rec_put_str(w, c, s, len);
            else
                rec_put_field(w, c, r, c);
        }
        t->nrows++;
        e.msg[0] = '\0';
        if (rec_end_row(w, &e) < 0) {
            FUZZ_CHECK(e.msg[0], "rec_end_row failed without a message");
            ok = 0;
            break;
        }
    }
    if (ok && rc < 0)
        ok = 0;
    if (ok) {
        e.msg[0] = '\0';
        int cr = rec_writer_close(w, &e);
        FUZZ_CHECK(cr == 0, "closing %s: %s", out, e.msg);
    } else {
        rec_writer_abort(w);
        struct stat st;
        FUZZ_CHECK(stat(out, &st) != 0, "a failed copy left %s behind", out);
    }
    rec_close(r);
    return ok;
}

/* The copy at path reads back as t, field for field. */
static void same(const char *path, const table *t, const char *what)
{
    errctx e;
    e.msg[0] = '\0';
    rec_reader *r = rec_open(path, &e);
    FUZZ_CHECK(r, "the %s copy does not open: %s", what, e.msg);
    FUZZ_CHECK(rec_ncols(r) == t->ncols, "the %s copy has %d columns, not %d", what, rec_ncols(r), t->ncols);
    for (int c = 0; c < t->ncols; c++)
        FUZZ_CHECK(strcmp(rec_colname(r, c), t->names[c]) == 0, "the %s copy names column %d '%s', not '%s'",
                   what, c, rec_colname(r, c), t->names[c]);
    size_t row = 0;
    int rc;
    while ((rc = rec_next(r, &e)) == 1) {
        FUZZ_CHECK(row < t->nrows, "the %s copy has more than %zu rows", what, t->nrows);
        for (int c = 0; c < t->ncols; c++) {
            size_t len, k = row * (size_t)t->ncols + (size_t)c;
            const char *s = rec_str(r, c, &len);
            FUZZ_CHECK(len == t->lens[k] && memcmp(s, t->cells[k], len) == 0,
                       "the %s copy changes row %zu column '%s': '%.*s' became '%.*s'", what, row + 1,
                       t->names[c], (int)(t->lens[k] > 80 ? 80 : t->lens[k]), t->cells[k],
                       (int)(len > 80 ? 80 : len), s);
        }
        row++;
    }
    FUZZ_CHECK(rc == 0, "the %s copy fails to read after %zu rows: %s", what, row, e.msg);
    FUZZ_CHECK(row == t->nrows, "the %s copy has %zu rows, not %zu", what, row, t->nrows);
    rec_close(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_file f;
    fuzz_file_open(&f, data, size);
    table in, bin, txt;
    const char *a = strdup(fuzz_scratch("a.rec")), *b = strdup(fuzz_scratch("b.tsv"));
    int rc = copy(f.path, a, 1, &in);
    if (rc == 1) {
        same(a, &in, "binary");
        int rc2 = copy(a, b, 0, &bin);
        FUZZ_CHECK(rc2 >= 0, "the binary copy does not open");
        if (rc2 == 1) {
            same(b, &in, "binary then TSV");
            /* and TSV back to binary, once more */
            int rc3 = copy(b, a, 1, &txt);
            FUZZ_CHECK(rc3 == 1, "the TSV copy does not copy to binary");
            same(a, &in, "binary, TSV, binary");
            table_free(&txt);
        }
        table_free(&bin);
    }
    if (rc >= 0)
        table_free(&in);
    remove(a);
    remove(b);
    free((void *)a);
    free((void *)b);
    fuzz_file_close(&f);
    return 0;
}
