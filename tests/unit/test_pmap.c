/*
 * test_pmap.c - pieces of input (rec_take) and the piece map (pmap_run):
 * for every format, piece size and thread count, the output, row numbers
 * and line numbers are those of reading the input row by row, and an
 * error is the one a row-by-row read meets first.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "check.h"
#include "tfiles.h"
#include "cli.h"
#include "pmap.h"
#include "rec.h"
#include "banned.h"

static const char *out_names[] = {"id", "x", "s", "row", "line", "x2"};

/* One row of output: the fields, the row's number and line, and x * 2
 * (x parsed strictly: a bad number is an error naming line and column). */
static int put_row(rec_reader *r, rec_writer *w, errctx *e)
{
    for (int c = 0; c < 3; c++) {
        size_t len;
        const char *s = rec_str(r, c, &len);
        char buf[256];
        if (len >= sizeof buf)
            len = sizeof buf - 1;
        memcpy(buf, s, len);
        for (size_t k = 0; k < len; k++)
            if (buf[k] == '\n')
                buf[k] = '|'; /* a CSV line break, which TSV cannot hold */
        rec_put_str(w, c, buf, len);
    }
    rec_put_i64(w, 3, (int64_t)rec_rows(r));
    rec_put_i64(w, 4, (int64_t)rec_line(r));
    float x;
    if (rec_f32(r, 1, &x, e) < 0)
        return -1;
    rec_put_f32(w, 5, x * 2);
    return rec_end_row(w, e);
}

static int copy_piece(void *ctx, int worker, rec_reader *in, rec_writer *out, errctx *e)
{
    (void)ctx;
    (void)worker;
    int got;
    while ((got = rec_next(in, e)) == 1)
        if (put_row(in, out, e) < 0)
            return -1;
    return got;
}

/* Read path row by row (threads 0) or through pmap; the output file's
 * bytes, or NULL with the error in e. */
static char *run(const char *path, int threads, size_t piece, errctx *e)
{
    const char *out = tpath("out.tsv");
    unlink(out);
    rec_reader *r = rec_open(path, e);
    if (!r)
        return NULL;
    rec_writer *w = rec_writer_open(out, 0, e);
    int rc = rec_writer_header(w, 6, out_names, e);
    if (rc == 0 && threads == 0) {
        int got;
        while ((got = rec_next(r, e)) == 1)
            if ((rc = put_row(r, w, e)) < 0)
                break;
        if (got < 0)
            rc = -1;
    } else if (rc == 0) {
        rc = pmap_run(r, w, threads, piece, copy_piece, NULL, NULL, e);
    }
    rec_close(r);
    if (rc < 0) {
        rec_writer_abort(w);
        return NULL;
    }
    if (rec_writer_close(w, e) < 0)
        return NULL;
    size_t n;
    return read_all(out, &n);
}

/* Every piece size and thread count gives the row-by-row result. */
static void same_as_serial(const char *what, const char *path, long want_rows)
{
    errctx e;
    char *ref = run(path, 0, 0, &e);
    check(ref != NULL, "%s: serial read: %s", what, ref ? "" : e.msg);
    if (!ref)
        return;
    long lines = 0;
    for (const char *p = ref; *p; p++)
        lines += *p == '\n';
    check(lines == want_rows + 1, "%s: %ld rows, want %ld", what, lines - 1, want_rows);
    static const size_t pieces[] = {1, 4096, 1 << 20};
    for (size_t k = 0; k < sizeof pieces / sizeof *pieces; k++)
        for (int t = 1; t <= 3; t++) {
            char *got = run(path, t, pieces[k], &e);
            check(got && strcmp(got, ref) == 0, "%s: pieces of %zu bytes, %d threads: %s", what, pieces[k], t,
                  got ? "output differs" : e.msg);
            free(got);
        }
    free(ref);
}

/* The error of every piece size and thread count is the serial one. */
static void same_error(const char *what, const char *path, const char *want)
{
    errctx e;
    char *ref = run(path, 0, 0, &e);
    check(ref == NULL && strstr(e.msg, want), "%s: serial: want an error with '%s', got '%s'", what, want,
          ref ? "no error" : e.msg);
    free(ref);
    if (ref)
        return;
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", e.msg);
    static const size_t pieces[] = {1, 4096, 1 << 20};
    for (size_t k = 0; k < sizeof pieces / sizeof *pieces; k++)
        for (int t = 1; t <= 3; t++) {
            char *got = run(path, t, pieces[k], &e);
            check(got == NULL && strcmp(e.msg, msg) == 0, "%s: pieces of %zu, %d threads: got '%s', want '%s'",
                  what, pieces[k], t, got ? "no error" : e.msg, msg);
            free(got);
        }
}

/* A table of n rows: id, x (a float), s (text with spaces); blank and
 * CRLF lines sprinkled in the TSV. */
static char *make_tsv(long n, int crlf_blank, size_t *len)
{
    size_t cap = 64 + (size_t)n * 64, k = 0;
    char *b = malloc(cap);
    k += (size_t)snprintf(b + k, cap - k, "id\tx\ts\n");
    for (long i = 0; i < n; i++) {
        if (crlf_blank && i % 997 == 5)
            k += (size_t)snprintf(b + k, cap - k, "\n");
        if (crlf_blank && i % 1009 == 7)
            k += (size_t)snprintf(b + k, cap - k, "\r\n");
        k += (size_t)snprintf(b + k, cap - k, "%ld\t%.6g\tw %ld%s\n", i, (double)i * 0.25 - 3, i % 13,
                             crlf_blank && i % 3 == 0 ? "\r" : "");
    }
    *len = k;
    return b;
}

static void test_text(void)
{
    size_t len;
    char *t = make_tsv(30000, 1, &len);
    write_file(tpath("a.tsv"), t, len);
    same_as_serial("TSV with blank and CRLF lines", tpath("a.tsv"), 30000);
    /* no final newline */
    write_file(tpath("b.tsv"), t, len - 1);
    same_as_serial("TSV without a final newline", tpath("b.tsv"), 30000);
    /* gzip */
    gzFile gz = gzopen(tpath("a.tsv.gz"), "wb");
    gzwrite(gz, t, (unsigned)len);
    gzclose(gz);
    same_as_serial("gzip TSV", tpath("a.tsv.gz"), 30000);
    size_t glen;
    char *g = read_all(tpath("a.tsv.gz"), &glen);
    write_file(tpath("cut.tsv.gz"), g, glen * 2 / 3);
    same_error("truncated gzip", tpath("cut.tsv.gz"), "truncated gzip stream");
    free(g);
    /* a bad number, a short row and a NUL late in the input */
    char *bad = malloc(len + 64);
    memcpy(bad, t, len);
    char *p = strstr(bad, "\n20000\t");
    char *q = strchr(p + 1, '\t') + 1;
    memcpy(q, "1.5x", 4);
    write_file(tpath("badnum.tsv"), bad, len);
    same_error("a bad number", tpath("badnum.tsv"), "cannot parse '1.5x");
    memcpy(bad, t, len);
    p = strstr(bad, "\n25000\t");
    *strchr(p + 1, '\t') = ' ';
    write_file(tpath("short.tsv"), bad, len);
    same_error("a short row", tpath("short.tsv"), "expected 3 fields, found 2");
    memcpy(bad, t, len);
    strstr(bad, "\n12345\t")[3] = '\0';
    write_file(tpath("nul.tsv"), bad, len);
    same_error("a NUL byte", tpath("nul.tsv"), "NUL byte");
    /* the first of two errors: a bad number before a short row */
    memcpy(bad, t, len);
    p = strstr(bad, "\n29000\t");
    *strchr(p + 1, '\t') = ' ';
    p = strstr(bad, "\n1000\t");
    q = strchr(p + 1, '\t') + 1;
    memcpy(q, "zz", 2);
    write_file(tpath("two.tsv"), bad, len);
    same_error("the first of two errors", tpath("two.tsv"), ":1004: column 'x'");
    free(bad);

    /* CSV: quoted fields across lines and commas */
    size_t cap = 64 + 20000 * 64, k = 0;
    char *c = malloc(cap);
    k += (size_t)snprintf(c + k, cap - k, "id,x,s\n");
    for (long i = 0; i < 20000; i++)
        k += (size_t)snprintf(c + k, cap - k, i % 7 == 0 ? "%ld,%.6g,\"two\nlines, %ld\"\n" : "%ld,%.6g,w%ld\n", i,
                             (double)i / 8, i % 11);
    write_file(tpath("a.csv"), c, k);
    same_as_serial("CSV with quoted line breaks", tpath("a.csv"), 20000);
    char *x = strstr(c, "\n15000,") + 7;
    x[0] = 'q';
    write_file(tpath("bad.csv"), c, k);
    same_error("CSV: a bad number", tpath("bad.csv"), "cannot parse 'q");
    free(c);
    free(t);
}

static void test_binary(void)
{
    errctx e;
    /* 150,000 rows: three blocks of the writer */
    rec_writer *w = rec_writer_open(tpath("a.rec"), 1, &e);
    const char *names[] = {"id", "x", "s"};
    rec_writer_header(w, 3, names, &e);
    for (long i = 0; i < 150000; i++) {
        rec_put_i64(w, 0, i);
        rec_put_f32(w, 1, (float)i / 4);
        char s[32];
        int n = snprintf(s, sizeof s, "w%ld", i % 17);
        rec_put_str(w, 2, s, (size_t)n);
        rec_end_row(w, &e);
    }
    check(rec_writer_close(w, &e) == 0, "binary write: %s", e.msg);
    same_as_serial("binary, three blocks", tpath("a.rec"), 150000);
    /* two concatenated streams */
    size_t n;
    char *b = read_all(tpath("a.rec"), &n);
    char *two = malloc(2 * n);
    memcpy(two, b, n);
    memcpy(two + n, b, n);
    write_file(tpath("two.rec"), two, 2 * n);
    same_as_serial("two concatenated binary streams", tpath("two.rec"), 300000);
    /* corruption in the second block, then truncation: the first wins */
    memcpy(two, b, n);
    two[n / 2] ^= 0x55;
    write_file(tpath("crc.rec"), two, n - 10);
    same_error("a checksum in block 2, then truncation", tpath("crc.rec"), "block 2 (from row 65537)");
    write_file(tpath("trunc.rec"), b, n - 10);
    same_error("a truncated binary stream", tpath("trunc.rec"), "truncated binary stream");
    free(two);
    free(b);
}

/* A fn that fails in one piece: the error is reported, once, and nothing
 * after it is written. */
static int fail_at(void *ctx, int worker, rec_reader *in, rec_writer *out, errctx *e)
{
    (void)worker;
    long at = *(long *)ctx;
    int got;
    while ((got = rec_next(in, e)) == 1) {
        if ((long)rec_rows(in) == at)
            return rec_error(in, -1, e, "stop here");
        if (put_row(in, out, e) < 0)
            return -1;
    }
    return got;
}

static void test_fn_error(void)
{
    errctx e;
    for (int t = 1; t <= 3; t++) {
        rec_reader *r = rec_open(tpath("a.tsv"), &e);
        rec_writer *w = rec_writer_open(tpath("f.tsv"), 0, &e);
        rec_writer_header(w, 6, out_names, &e);
        long at = 12345;
        int rc = pmap_run(r, w, t, 1000, fail_at, &at, NULL, &e);
        check(rc < 0 && strstr(e.msg, "stop here"), "%d threads: the fn's error: %s", t, rc < 0 ? e.msg : "none");
        rec_writer_abort(w);
        rec_close(r);
        check(access(tpath("f.tsv"), F_OK) != 0, "%d threads: no output left", t);
    }
}

int main(int argc, char **argv)
{
    (void)argc;
    cli_init(argv[0]);
    tdir_make("pmap");
    test_text();
    test_binary();
    test_fn_error();
    tdir_remove();
    return check_done("test_pmap");
}
