/*
 * test_rec.c - record streams: strict numbers, shortest printing, text,
 * CSV, gzip and binary reading, the writer, the text/binary round trip,
 * truncation and corruption, groups.
 */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "check.h"
#include "tfiles.h"
#include "cli.h"
#include "rec.h"
#include "rng.h"
#include "banned.h"

static void test_numbers(void)
{
    errctx e;
    double d;
    float f;
    int64_t i;
    const char *good[] = {"0", "-0", "1", "-1.5", "+2.25", "1e3", "1E-3", ".5", "5.", "0.000123",
                          "123456789012345678901234567890", "1.7976931348623157e308", "4.9e-324",
                          "2.2250738585072014e-308", "0.1", "9007199254740993", "1e23", "8.98846567431158e307"};
    for (size_t k = 0; k < sizeof good / sizeof *good; k++) {
        int ok = rec_parse_f64(good[k], strlen(good[k]), &d, &e) == 0;
        check(ok && d == strtod(good[k], NULL), "f64 '%s' parses as strtod does", good[k]);
        ok = rec_parse_f32(good[k], strlen(good[k]), &f, &e) == 0;
        if (fabs(strtod(good[k], NULL)) <= FLT_MAX)
            check(ok && (f == strtof(good[k], NULL)), "f32 '%s' parses as strtof does", good[k]);
    }
    const char *bad[] = {"", " 1", "1 ", "nan", "NaN", "inf", "-Infinity", "0x10", "1e", "--1", ".", "1.2.3",
                         "e5", "1e+", "12a", "1,5"};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++)
        check(rec_parse_f64(bad[k], strlen(bad[k]), &d, &e) < 0, "f64 rejects '%s'", bad[k]);
    check(rec_parse_f64("nan", 3, &d, &e) < 0 && strstr(e.msg, "NaN and Inf"), "nan message: %s", e.msg);
    check(rec_parse_f64("", 0, &d, &e) < 0 && strcmp(e.msg, "missing value") == 0, "empty is missing");
    check(rec_parse_f64("1e400", 5, &d, &e) < 0 && strstr(e.msg, "out of range"), "1e400 out of range");
    check(rec_parse_f32("1e39", 4, &f, &e) < 0, "1e39 out of float range");
    check(rec_parse_i64("9223372036854775807", 19, &i, &e) == 0 && i == INT64_MAX, "i64 max");
    check(rec_parse_i64("-9223372036854775808", 20, &i, &e) == 0 && i == INT64_MIN, "i64 min");
    check(rec_parse_i64("9223372036854775808", 19, &i, &e) < 0, "i64 overflow");
    check(rec_parse_i64("1.0", 3, &i, &e) < 0, "i64 rejects 1.0");

    /* random decimals: the fast paths agree with strtod/strtof bit for bit */
    rng r;
    rng_init(&r, 7, 0);
    int mismatches = 0;
    for (int k = 0; k < 200000; k++) {
        char s[64];
        int digits = 1 + (int)rng_below(&r, 12);
        uint64_t m = rng_u64(&r) % 1000000000000ULL;
        int ex = (int)rng_below(&r, 60) - 30;
        snprintf(s, sizeof s, "%s%.*llue%d", rng_below(&r, 2) ? "-" : "", digits,
                 (unsigned long long)(m % (uint64_t)pow(10, digits)), ex);
        if (k % 3 == 0) /* also plain decimals */
            snprintf(s, sizeof s, "%llu.%0*llu", (unsigned long long)(m % 100000), digits % 8 + 1,
                     (unsigned long long)(m % (uint64_t)pow(10, digits % 8 + 1)));
        double dv;
        float fv;
        if (rec_parse_f64(s, strlen(s), &dv, &e) < 0 || dv != strtod(s, NULL))
            mismatches++;
        float want = strtof(s, NULL);
        if (!isfinite(want)) /* beyond float32: must be refused */
            mismatches += rec_parse_f32(s, strlen(s), &fv, &e) == 0;
        else if (rec_parse_f32(s, strlen(s), &fv, &e) < 0 || memcmp(&fv, &want, 4) != 0)
            mismatches++;
    }
    check(mismatches == 0, "fast number parsing matches strtod/strtof on 200000 random decimals (%d off)",
          mismatches);
    /* a float halfway case: 1 + 2^-24 is exactly between two floats;
     * the decimal just above must round up */
    const char *half_up = "1.00000005960464477539062500001";
    check(rec_parse_f32(half_up, strlen(half_up), &f, &e) == 0 && f == strtof(half_up, NULL),
          "halfway-plus decimal rounds like strtof");
}

static void test_format_and_classify(void)
{
    rng r;
    rng_init(&r, 11, 0);
    int bad = 0;
    for (int k = 0; k < 100000; k++) {
        uint32_t bits = (uint32_t)rng_u64(&r);
        float f;
        memcpy(&f, &bits, 4);
        if (!isfinite(f))
            continue;
        char buf[64];
        rec_format_f32(buf, sizeof buf, f);
        float back = strtof(buf, NULL);
        if (memcmp(&back, &f, 4) != 0)
            bad++;
        int64_t i;
        float cf;
        double cd;
        unsigned caps = rec_classify(buf, strlen(buf), &i, &cf, &cd);
        if (!(caps & REC_CAN_F32) || memcmp(&cf, &f, 4) != 0)
            bad++;
    }
    check(bad == 0, "100000 random floats print shortest, read back exactly and classify as f32 (%d bad)", bad);
    /* the fast printer gives exactly what "%.Pg" for the least P in 6..9
     * that reads back gives, on random bits, random magnitudes and
     * feature-like decimals */
    int differ = 0;
    int tdiffer = 0;
    for (int k = 0; k < 600000; k++) {
        float f;
        if (k % 3 == 0) {
            uint32_t bits = (uint32_t)rng_u64(&r);
            memcpy(&f, &bits, 4);
        } else if (k % 3 == 1) {
            f = (float)(rng_normal(&r) * pow(10, (double)rng_below(&r, 16) - 8));
        } else {
            f = (float)((int)(rng_normal(&r) * 1e5) / 1e4);
        }
        if (!isfinite(f))
            continue;
        char fast[64], slow[64];
        rec_format_f32(fast, sizeof fast, f);
        for (int prec = 6; prec <= 9; prec++) {
            snprintf(slow, sizeof slow, "%.*g", prec, (double)f);
            if (strtof(slow, NULL) == f)
                break;
        }
        differ += strcmp(fast, slow) != 0;
        /* the value the text reads as, computed without the text */
        double tv = rec_f32_text_value(f), want = strtod(slow, NULL);
        tdiffer += memcmp(&tv, &want, sizeof tv) != 0;
    }
    check(differ == 0, "fast float printing equals the printf loop on 600000 values (%d differ)", differ);
    check(tdiffer == 0, "rec_f32_text_value equals strtod of the printed float on 600000 values (%d differ)", tdiffer);
    static const float special[] = {0.0f, -0.0f, 1.0f, -3.0f, 16777216.0f, 16777218.0f, 1e-45f, -1e-40f, 3.4028235e38f,
                                    0.95f, 0.05f, 1e-30f};
    for (size_t k = 0; k < sizeof special / sizeof *special; k++) {
        char sb[64];
        rec_format_f32(sb, sizeof sb, special[k]);
        double tv = rec_f32_text_value(special[k]), want = strtod(sb, NULL);
        check(memcmp(&tv, &want, sizeof tv) == 0, "text value of %s", sb);
    }
    bad = 0;
    for (int k = 0; k < 100000; k++) {
        uint64_t bits = rng_u64(&r);
        double d;
        memcpy(&d, &bits, 8);
        if (!isfinite(d))
            continue;
        char buf[64];
        rec_format_f64(buf, sizeof buf, d);
        if (strtod(buf, NULL) != d)
            bad++;
    }
    check(bad == 0, "100000 random doubles print and read back exactly (%d bad)", bad);
    /* integers without printf */
    static const int64_t ints[] = {0, 1, -1, 9, 10, -10, 123456789, INT64_MAX, INT64_MIN, -9223372036854775807LL};
    for (size_t k = 0; k < sizeof ints / sizeof *ints; k++) {
        char a[32], b[32];
        int la = rec_format_i64(a, sizeof a, ints[k]), lb = snprintf(b, sizeof b, "%lld", (long long)ints[k]);
        check(la == lb && strcmp(a, b) == 0, "rec_format_i64: %s, want %s", a, b);
    }
    int idiffer = 0;
    for (int k = 0; k < 100000; k++) {
        int64_t v = (int64_t)rng_u64(&r) >> (rng_below(&r, 64));
        char a[32], b[32];
        rec_format_i64(a, sizeof a, v);
        snprintf(b, sizeof b, "%lld", (long long)v);
        idiffer += strcmp(a, b) != 0;
    }
    check(idiffer == 0, "rec_format_i64 = printf on 100000 values (%d differ)", idiffer);
    char buf[64];
    rec_format_f32(buf, sizeof buf, 0.1f);
    check(strcmp(buf, "0.1") == 0, "0.1f prints as 0.1, got %s", buf);
    rec_format_f32(buf, sizeof buf, 16777216.0f);
    check(strcmp(buf, "16777216") == 0, "2^24 prints exactly, got %s", buf);

    struct {
        const char *s;
        unsigned caps;
    } cases[] = {
        {"0", REC_CAN_I64 | REC_CAN_F32 | REC_CAN_F64},
        {"-12", REC_CAN_I64 | REC_CAN_F32 | REC_CAN_F64},
        {"1000000", REC_CAN_I64 | REC_CAN_F64}, /* %.6g would print 1e+06 */
        {"1000000000000000", REC_CAN_I64},      /* %.15g would print 1e+15 */
        {"-0", REC_CAN_F32 | REC_CAN_F64},
        {"007", 0},
        {"+1", 0},
        {"0.50", 0},
        {"1e3", 0},
        {".5", 0},
        {"5.", 0},
        {"1E+06", 0},
        {"1e+6", 0},
        {"0.1", REC_CAN_F32 | REC_CAN_F64},
        {"1e+06", REC_CAN_F32},                  /* %.15g would print 1000000 */
        {"1.5e-05", REC_CAN_F32 | REC_CAN_F64},
        {"0.0001", REC_CAN_F32 | REC_CAN_F64},
        {"0.100000001", REC_CAN_F64},            /* its float prints as 0.1 */
        {"0.100000009", REC_CAN_F64},            /* its float prints as 0.10000001 */
        {"0.10000001", REC_CAN_F32 | REC_CAN_F64},
        {"1.4e-45", REC_CAN_F64},                /* the smallest subnormal prints 1.4013e-45 */
        {"1.4013e-45", REC_CAN_F32 | REC_CAN_F64},
        {"0.12345678901", REC_CAN_F64},
        {"3.14159274", REC_CAN_F64},             /* pi as float prints 3.1415927 */
        {"3.1415927", REC_CAN_F32 | REC_CAN_F64},
        {"3.141592653589793", REC_CAN_F64},
        {"1e-45", REC_CAN_F64},                  /* as float it prints 1.4e-45 */
        {"12345678901234567890", 0},
        {"9223372036854775807", REC_CAN_I64},
        {"abc", 0},
        {"1e400", 0},
        {"", 0},
        {"nan", 0},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        int64_t i;
        float f;
        double d;
        unsigned caps = rec_classify(cases[k].s, strlen(cases[k].s), &i, &f, &d);
        check(caps == cases[k].caps, "classify '%s': caps %u, want %u", cases[k].s, caps, cases[k].caps);
    }
    /* the promise behind the caps: each type prints the text back */
    int broken = 0;
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        int64_t i;
        float f;
        double d;
        const char *s = cases[k].s;
        unsigned caps = rec_classify(s, strlen(s), &i, &f, &d);
        char b[64];
        if (caps & REC_CAN_I64)
            snprintf(b, sizeof b, "%lld", (long long)i), broken += strcmp(b, s) != 0;
        if (caps & REC_CAN_F32)
            rec_format_f32(b, sizeof b, f), broken += strcmp(b, s) != 0;
        if (caps & REC_CAN_F64)
            rec_format_f64(b, sizeof b, d), broken += strcmp(b, s) != 0;
    }
    check(broken == 0, "every type a field may take prints it back unchanged (%d broken)", broken);
}

/* The rows of a file, a line each, fields joined by '|' (each row led by
 * "LINE:" when with_lines), or NULL with the error in e. */
static char *rows_text(const char *path, int with_lines, errctx *e)
{
    rec_reader *r = rec_open(path, e);
    if (!r)
        return NULL;
    size_t cap = 1024, len = 0;
    char *out = malloc(cap);
    out[0] = '\0';
    int got;
    while ((got = rec_next(r, e)) == 1) {
        char num[32] = "";
        int k = with_lines ? snprintf(num, sizeof num, "%llu:", (unsigned long long)rec_line(r)) : 0;
        while (len + (size_t)k + 2 >= cap)
            out = realloc(out, cap *= 2);
        memcpy(out + len, num, (size_t)k + 1);
        len += (size_t)k;
        for (int c = 0; c < rec_ncols(r); c++) {
            size_t n;
            const char *s = rec_str(r, c, &n);
            while (len + n + 2 >= cap)
                out = realloc(out, cap *= 2);
            memcpy(out + len, s, n);
            len += n;
            out[len++] = c + 1 < rec_ncols(r) ? '|' : '\n';
            out[len] = '\0';
        }
    }
    rec_close(r);
    if (got < 0) {
        free(out);
        return NULL;
    }
    return out;
}

static char *slurp_rows(const char *path, errctx *e) { return rows_text(path, 0, e); }
static char *lines_of(const char *path, errctx *e) { return rows_text(path, 1, e); }

/* Headers after blank lines and byte order marks; CSV line ends and the
 * order of errors (fuzzer findings). */
static void test_header_and_lines(void)
{
    errctx e;
    struct {
        const char *what, *text, *names, *rows;
    } cases[] = {
        {"blank lines before a CSV header", "\n\r\na,b\n1,2\n", "a|b", "4:1|2\n"},
        {"blank lines before a TSV header", "\n\na\tb\n1\t2\n", "a|b", "4:1|2\n"},
        {"a BOM, then blank lines", "\xef\xbb\xbf\n\na,b\n1,2\n", "a|b", "4:1|2\n"},
        {"blank lines, then a BOM", "\n\xef\xbb\xbf" "a\tb\n1\t2\n", "a|b", "3:1|2\n"},
        {"a BOM before a CSV header", "\xef\xbb\xbf" "a,b\n1,2\n", "a|b", "2:1|2\n"},
        {"CSV: a lone CR ends a line", "a,b\r1,2\r3,4\r\n5,6\n", "a|b", "2:1|2\n3:3|4\n4:5|6\n"},
        {"CSV: a CR in quotes counts a line", "a,b\n\"x\ry\",2\n3,4\n", "a|b", "2:x\ry|2\n4:3|4\n"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        write_file(tpath("h.txt"), cases[k].text, strlen(cases[k].text));
        rec_reader *r = rec_open(tpath("h.txt"), &e);
        check(r != NULL, "%s: opens: %s", cases[k].what, r ? "" : e.msg);
        if (!r)
            continue;
        char names[256] = "";
        for (int c = 0; c < rec_ncols(r); c++)
            snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", c ? "|" : "", rec_colname(r, c));
        check(strcmp(names, cases[k].names) == 0, "%s: columns '%s', want '%s'", cases[k].what, names,
              cases[k].names);
        rec_close(r);
        char *rows = lines_of(tpath("h.txt"), &e);
        check(rows && strcmp(rows, cases[k].rows) == 0, "%s: rows '%s', want '%s'", cases[k].what,
              rows ? rows : e.msg, cases[k].rows);
        free(rows);
    }
    /* an error found while parsing ahead comes after the rows before it:
     * a short row on line 3, a stray quote on line 40, both in one read */
    char big[4096];
    size_t n = (size_t)snprintf(big, sizeof big, "a,b\n1,2\n3,4,5\n");
    for (int i = 4; i < 40; i++)
        n += (size_t)snprintf(big + n, sizeof big - n, "%d,%d\n", i, i);
    n += (size_t)snprintf(big + n, sizeof big - n, "x\"y,1\n");
    write_file(tpath("order.csv"), big, n);
    char *rows = lines_of(tpath("order.csv"), &e);
    check(!rows && strstr(e.msg, "order.csv:3: expected 2 fields, found 3"), "the short row first: %s",
          rows ? "no error" : e.msg);
    free(rows);
    big[10] = '6'; /* "3,4,5" -> "3,4,6": still short; now fix it */
    memcpy(big + 8, "3,456\n", 6);
    write_file(tpath("order.csv"), big, n);
    rows = lines_of(tpath("order.csv"), &e);
    check(!rows && strstr(e.msg, "order.csv:40: malformed CSV"), "then the stray quote, on its line: %s",
          rows ? "no error" : e.msg);
    free(rows);
    /* a NUL byte after good rows: the rows, then the error on its line */
    const char nul[] = "a,b\n1,2\n3,4\n5,\0\n";
    write_file(tpath("nul.csv"), nul, sizeof nul - 1);
    rec_reader *r = rec_open(tpath("nul.csv"), &e);
    int got = 0, rc;
    while (r && (rc = rec_next(r, &e)) == 1)
        got++;
    check(r && got == 2 && strstr(e.msg, "nul.csv:4: NUL byte"), "CSV: 2 rows before a NUL on line 4: %d, %s", got,
          e.msg);
    rec_close(r);

    /* TSV headers that would not read back are refused */
    const char *comma[] = {"a,b"};
    rec_writer *w = rec_writer_open(tpath("w.tsv"), 0, &e);
    check(rec_writer_header(w, 1, comma, &e) < 0 && strstr(e.msg, "reads back as CSV"),
          "one TSV column named 'a,b' refused: %s", e.msg);
    rec_writer_abort(w);
    const char *bom[] = {"\xef\xbb\xbfx", "y"};
    w = rec_writer_open(tpath("w.tsv"), 0, &e);
    check(rec_writer_header(w, 2, bom, &e) < 0 && strstr(e.msg, "byte order mark"), "a BOM-led name refused: %s",
          e.msg);
    rec_writer_abort(w);
    w = rec_writer_open(tpath("w.rec"), 1, &e);
    check(rec_writer_header(w, 1, comma, &e) == 0, "binary holds a one-column 'a,b': %s", e.msg);
    rec_writer_abort(w);
    /* underflow: not a float that prints back */
    int64_t ci;
    float cf;
    double cd;
    check(rec_classify("4.9e-3238", 9, &ci, &cf, &cd) == 0, "4.9e-3238 is kept as text");
    check(rec_classify("1e-50", 5, &ci, &cf, &cd) == REC_CAN_F64, "1e-50 is a double, not a float");
    check((rec_classify("0", 1, &ci, &cf, &cd) & REC_CAN_F32) != 0, "0 is still a float");
}

static void test_text(void)
{
    errctx e;
    const char *tsv = "a\tb\tc\n1\tx\t2.5\n\n3\ty z\t-1\n";
    write_file(tpath("t.tsv"), tsv, strlen(tsv));
    char *rows = slurp_rows(tpath("t.tsv"), &e);
    check(rows && strcmp(rows, "1|x|2.5\n3|y z|-1\n") == 0, "tsv rows (blank line skipped): %s", rows ? rows : e.msg);
    free(rows);

    /* CSV: quotes, doubled quotes, embedded comma and newline, CRLF, no final newline */
    const char *csv = "id,text,v\r\n1,\"a, b\",2\r\n2,\"say \"\"hi\"\"\",3\r\n3,\"two\nlines\",4";
    write_file(tpath("c.csv"), csv, strlen(csv));
    rec_reader *r = rec_open(tpath("c.csv"), &e);
    check(r && rec_delimiter(r) == ',', "csv detected");
    if (r) {
        check(rec_next(r, &e) == 1 && strcmp(rec_str(r, 1, NULL), "a, b") == 0, "quoted comma");
        check(rec_next(r, &e) == 1 && strcmp(rec_str(r, 1, NULL), "say \"hi\"") == 0, "doubled quotes");
        check(rec_next(r, &e) == 1 && strcmp(rec_str(r, 1, NULL), "two\nlines") == 0, "embedded newline");
        float v = 0;
        check(rec_f32(r, 2, &v, &e) == 0 && v == 4, "last field without newline");
        check(rec_next(r, &e) == 0, "end of csv");
        rec_close(r);
    }

    /* a line longer than any buffer */
    size_t big = 3u << 20;
    char *longf = malloc(big + 64);
    memcpy(longf, "k\tv\n1\t", 6);
    memset(longf + 6, 'x', big);
    memcpy(longf + 6 + big, "\n2\tshort\n", 9);
    write_file(tpath("long.tsv"), longf, big + 15);
    r = rec_open(tpath("long.tsv"), &e);
    size_t n = 0;
    check(r && rec_next(r, &e) == 1 && (rec_str(r, 1, &n), n == big), "3 MiB field read whole (%zu)", n);
    check(r && rec_next(r, &e) == 1 && strcmp(rec_str(r, 1, NULL), "short") == 0 && rec_line(r) == 3,
          "row after the long line, line 3");
    rec_close(r);
    free(longf);

    /* errors name file and line */
    const char *wrong = "a\tb\n1\t2\n3\n";
    write_file(tpath("w.tsv"), wrong, strlen(wrong));
    rows = slurp_rows(tpath("w.tsv"), &e);
    check(!rows && strstr(e.msg, "w.tsv:3: expected 2 fields, found 1"), "field count error: %s", e.msg);
    const char nul[] = "a\tb\n1\t2\n3\0\t4\n";
    write_file(tpath("nul.tsv"), nul, sizeof nul - 1);
    rows = slurp_rows(tpath("nul.tsv"), &e);
    check(!rows && strstr(e.msg, "nul.tsv:3: NUL byte"), "NUL byte error: %s", e.msg);
    write_file(tpath("empty.tsv"), "", 0);
    check(!rec_open(tpath("empty.tsv"), &e) && strstr(e.msg, "empty input"), "empty input: %s", e.msg);
    write_file(tpath("dup.tsv"), "a\tb\ta\n", 6);
    check(!rec_open(tpath("dup.tsv"), &e) && strstr(e.msg, "duplicate column 'a'"), "duplicate column: %s", e.msg);
    write_file(tpath("hdr.tsv"), "a\tb", 3);
    r = rec_open(tpath("hdr.tsv"), &e);
    check(r && rec_ncols(r) == 2 && rec_next(r, &e) == 0, "header only: 0 rows");
    rec_close(r);
    const char *badq = "a,b\n1,x\"y\n";
    write_file(tpath("q.csv"), badq, strlen(badq));
    rows = slurp_rows(tpath("q.csv"), &e);
    check(!rows && strstr(e.msg, "q.csv:2: malformed CSV"), "stray quote: %s", e.msg);
    const char *bom = "\xef\xbb\xbfid,v\n1,2\n";
    write_file(tpath("bom.csv"), bom, strlen(bom));
    r = rec_open(tpath("bom.csv"), &e);
    check(r && strcmp(rec_colname(r, 0), "id") == 0, "byte order mark stripped");
    rec_close(r);

    /* numbers: strict, with file, line and column */
    const char *nums = "id\tlabel\n1\t0\n2\tyes\n";
    write_file(tpath("n.tsv"), nums, strlen(nums));
    r = rec_open(tpath("n.tsv"), &e);
    float v;
    check(rec_next(r, &e) == 1 && rec_f32(r, 1, &v, &e) == 0 && v == 0, "label 0");
    check(rec_next(r, &e) == 1 && rec_f32(r, 1, &v, &e) < 0 &&
              strstr(e.msg, "n.tsv:3: column 'label': cannot parse 'yes' as a number"),
          "bad number message: %s", e.msg);
    check(rec_col(r, "nope", &e) < 0 && strstr(e.msg, "no column 'nope' (columns: id, label)"),
          "missing column lists columns: %s", e.msg);
    int *idx = NULL;
    check(rec_select(r, "label,i*", &idx, &e) == 2 && idx[0] == 1 && idx[1] == 0, "select name and glob");
    free(idx);
    check(rec_select(r, "x_*", &idx, &e) < 0 && strstr(e.msg, "no column matches 'x_*'"), "glob matching nothing");
    rec_close(r);
}

static void test_gzip(void)
{
    errctx e;
    const char *tsv = "a\tb\n1\t2\n3\t4\n";
    gzFile gz = gzopen(tpath("t.tsv.gz"), "wb");
    gzwrite(gz, tsv, (unsigned)strlen(tsv));
    gzclose(gz);
    char *rows = slurp_rows(tpath("t.tsv.gz"), &e);
    check(rows && strcmp(rows, "1|2\n3|4\n") == 0, "gzip text read: %s", rows ? rows : e.msg);
    free(rows);
    /* two concatenated members, as gzip -c a b > c makes */
    size_t n;
    unsigned char *one = (unsigned char *)read_all(tpath("t.tsv.gz"), &n);
    gz = gzopen(tpath("more.gz"), "wb");
    gzwrite(gz, "5\t6\n", 4);
    gzclose(gz);
    size_t m;
    unsigned char *two = (unsigned char *)read_all(tpath("more.gz"), &m);
    unsigned char *cat = malloc(n + m);
    memcpy(cat, one, n);
    memcpy(cat + n, two, m);
    write_file(tpath("cat.gz"), cat, n + m);
    rows = slurp_rows(tpath("cat.gz"), &e);
    check(rows && strcmp(rows, "1|2\n3|4\n5|6\n") == 0, "concatenated gzip members: %s", rows ? rows : e.msg);
    free(rows);
    write_file(tpath("trunc.gz"), one, n - 6);
    rows = slurp_rows(tpath("trunc.gz"), &e);
    check(!rows && strstr(e.msg, "truncated gzip"), "truncated gzip: %s", e.msg);
    one[n / 2] ^= 0x55;
    write_file(tpath("bad.gz"), one, n);
    rows = slurp_rows(tpath("bad.gz"), &e);
    check(!rows && (strstr(e.msg, "corrupt gzip") || strstr(e.msg, "truncated gzip")), "corrupt gzip: %s", e.msg);
    free(one);
    free(two);
    free(cat);
}

/* Copy a stream to another file, text or binary. */
static int convert(const char *in, const char *out, int binary, errctx *e)
{
    rec_reader *r = rec_open(in, e);
    if (!r)
        return -1;
    rec_writer *w = rec_writer_open(out, binary, e);
    if (!w || rec_writer_header(w, rec_ncols(r), rec_colnames(r), e) < 0) {
        rec_close(r);
        if (w)
            rec_writer_abort(w);
        return -1;
    }
    int got;
    while ((got = rec_next(r, e)) == 1) {
        for (int c = 0; c < rec_ncols(r); c++)
            rec_put_field(w, c, r, c);
        if (rec_end_row(w, e) < 0) {
            got = -1;
            break;
        }
    }
    rec_close(r);
    if (got < 0) {
        rec_writer_abort(w);
        return -1;
    }
    return rec_writer_close(w, e);
}

static int same_file(const char *a, const char *b)
{
    size_t n, m;
    unsigned char *x = (unsigned char *)read_all(a, &n), *y = (unsigned char *)read_all(b, &m);
    int same = x && y && n == m && memcmp(x, y, n) == 0;
    free(x);
    free(y);
    return same;
}

/* A random table with canonical column types (each block's values need
 * exactly the column's type), extreme values and odd strings. */
static void make_random_binary(const char *path, int rows, uint64_t seed, errctx *e)
{
    rng r;
    rng_init(&r, seed, 0);
    const char *names[] = {"id", "small", "f32", "f64", "text", "mixed"};
    rec_writer *w = rec_writer_open(path, 1, e);
    rec_writer_header(w, 6, names, e);
    static const float fx[] = {FLT_MAX, -FLT_MAX, FLT_MIN, 1e-45f, -0.0f, 0.5f, 3.4e38f, 1.17549421e-38f};
    static const double dx[] = {DBL_MAX, -DBL_MAX, DBL_MIN, 4.9e-324, 0.1, 1.0 / 3, 2.5e-300};
    static const char *sx[] = {"plain", "with space", "comma,inside", "\"quoted\"", "\xc3\xa9t\xc3\xa9",
                               "\xe2\x82\xac 5", "a'b", "x"};
    for (int k = 0; k < rows; k++) {
        int64_t id = (int64_t)rng_u64(&r);
        if (k % 97 == 0)
            id = k % 2 ? INT64_MIN : INT64_MAX;
        rec_put_i64(w, 0, id);
        rec_put_i64(w, 1, (int64_t)rng_below(&r, 100));
        float f = (float)(rng_normal(&r) * pow(10, (double)rng_below(&r, 20) - 10));
        if (k % 13 == 0)
            f = fx[rng_below(&r, 8)];
        if (k % 5000 == 1)
            f = 0.25f; /* keep every block non-integral */
        rec_put_f32(w, 2, f);
        double d = rng_normal(&r) * pow(10, (double)rng_below(&r, 200) - 100);
        if (k % 11 == 0)
            d = dx[rng_below(&r, 7)];
        if (k % 5000 == 2)
            d = 0.1;
        rec_put_f64(w, 3, d);
        char s[64];
        snprintf(s, sizeof s, "%s%d", sx[rng_below(&r, 8)], (int)rng_below(&r, 1000));
        rec_put_str(w, 4, s, strlen(s));
        /* a column that is text in some blocks and numbers in others */
        if ((k / 40000) % 2)
            rec_put_str(w, 5, "n/a", 3);
        else
            rec_put_f32(w, 5, (float)k + 0.5f);
        rec_end_row(w, e);
    }
    rec_writer_close(w, e);
}

static void test_binary_round_trip(void)
{
    errctx e;
    const char *b1 = tpath("r1.rec"), *t1 = tpath("r1.tsv"), *b2 = tpath("r2.rec"), *t2 = tpath("r2.tsv");
    make_random_binary(b1, 140000, 3, &e);
    check(convert(b1, t1, 0, &e) == 0, "binary -> text: %s", e.msg);
    check(convert(t1, b2, 1, &e) == 0, "text -> binary: %s", e.msg);
    check(same_file(b1, b2), "binary -> text -> binary is byte-identical (140000 rows, 3 blocks)");
    check(convert(b2, t2, 0, &e) == 0 && same_file(t1, t2), "text -> binary -> text is byte-identical");
    /* binary -> binary through gzip */
    const char *gz = tpath("r3.rec.gz"), *b3 = tpath("r3.rec");
    check(convert(b1, gz, 1, &e) == 0 && convert(gz, b3, 1, &e) == 0 && same_file(b1, b3),
          "binary through gzip is byte-identical");
    /* values are exact */
    rec_reader *r = rec_open(b1, &e), *t = rec_open(t1, &e);
    int exact = r && t;
    while (exact && rec_next(r, &e) == 1 && rec_next(t, &e) == 1) {
        float a, b;
        double c, d;
        int64_t i, j;
        exact = rec_f32(r, 2, &a, &e) == 0 && rec_f32(t, 2, &b, &e) == 0 && memcmp(&a, &b, 4) == 0 &&
                rec_f64(r, 3, &c, &e) == 0 && rec_f64(t, 3, &d, &e) == 0 && memcmp(&c, &d, 8) == 0 &&
                rec_i64(r, 0, &i, &e) == 0 && rec_i64(t, 0, &j, &e) == 0 && i == j;
    }
    check(exact && rec_rows(r) == 140000, "float32, float64 and int64 values are exact after the text form");
    rec_close(r);
    rec_close(t);

    /* truncation anywhere is detected, never a silent short read */
    size_t n;
    unsigned char *bytes = (unsigned char *)read_all(b1, &n);
    int undetected = 0, tried = 0;
    rng g;
    rng_init(&g, 5, 0);
    for (int k = 0; k < 60; k++) {
        size_t cut = k < 20 ? (size_t)k * 7 : (size_t)rng_below(&g, n);
        if (k == 59)
            cut = n - 1;
        write_file(tpath("cut.rec"), bytes, cut);
        char *rows = slurp_rows(tpath("cut.rec"), &e);
        tried++;
        if (rows)
            undetected++;
        free(rows);
    }
    check(undetected == 0, "truncated binary streams rejected (%d of %d undetected)", undetected, tried);
    write_file(tpath("cut.rec"), bytes, n - 16); /* drop exactly the end block */
    char *rows = slurp_rows(tpath("cut.rec"), &e);
    check(!rows && strstr(e.msg, "without an end block"), "missing end block named: %s", e.msg);
    free(rows);
    /* corruption: one flipped bit in a block */
    bytes[n / 2] ^= 0x10;
    write_file(tpath("flip.rec"), bytes, n);
    rows = slurp_rows(tpath("flip.rec"), &e);
    check(!rows && strstr(e.msg, "checksum mismatch"), "flipped bit detected: %s", e.msg);
    free(rows);
    bytes[n / 2] ^= 0x10;
    bytes[20] ^= 0x01; /* inside the header */
    write_file(tpath("flip.rec"), bytes, n);
    rows = slurp_rows(tpath("flip.rec"), &e);
    check(!rows && strstr(e.msg, "checksum mismatch"), "header corruption detected: %s", e.msg);
    free(rows);
    bytes[20] ^= 0x01;
    bytes[8] = 9; /* version 9 */
    write_file(tpath("ver.rec"), bytes, n);
    check(!rec_open(tpath("ver.rec"), &e) && strstr(e.msg, "version 9 is newer"), "newer version: %s", e.msg);
    free(bytes);

    /* two streams with the same columns concatenate */
    const char *names[] = {"k"};
    for (int part = 0; part < 2; part++) {
        rec_writer *w = rec_writer_open(tpath(part ? "p2.rec" : "p1.rec"), 1, &e);
        rec_writer_header(w, 1, names, &e);
        rec_put_i64(w, 0, part);
        rec_end_row(w, &e);
        rec_writer_close(w, &e);
    }
    size_t n1, n2;
    unsigned char *p1 = (unsigned char *)read_all(tpath("p1.rec"), &n1), *p2 = (unsigned char *)read_all(tpath("p2.rec"), &n2);
    unsigned char *both = malloc(n1 + n2);
    memcpy(both, p1, n1);
    memcpy(both + n1, p2, n2);
    write_file(tpath("both.rec"), both, n1 + n2);
    rows = slurp_rows(tpath("both.rec"), &e);
    check(rows && strcmp(rows, "0\n1\n") == 0, "concatenated binary streams read as one");
    free(rows);
    free(p1);
    free(p2);
    free(both);
}

static void test_writer(void)
{
    errctx e;
    const char *names[] = {"a", "b"};
    rec_writer *w = rec_writer_open(tpath("out.tsv"), 0, &e);
    rec_writer_header(w, 2, names, &e);
    rec_put_str(w, 0, "x", 1);
    rec_put_f32(w, 1, 0.1f);
    rec_end_row(w, &e);
    struct stat st;
    check(stat(tpath("out.tsv"), &st) != 0, "no output file before close");
    check(rec_writer_close(w, &e) == 0, "close");
    size_t n;
    char *text = (char *)read_all(tpath("out.tsv"), &n);
    check(text && n == 10 && memcmp(text, "a\tb\nx\t0.1\n", 10) == 0, "written text");
    free(text);
    w = rec_writer_open(tpath("gone.tsv"), 0, &e);
    rec_writer_header(w, 2, names, &e);
    rec_writer_abort(w);
    check(stat(tpath("gone.tsv"), &st) != 0, "aborted output leaves no file");
    check(!rec_writer_open(tpath("no/such/dir.tsv"), 0, &e) && strstr(e.msg, "cannot create"),
          "unwritable path: %s", e.msg);
    w = rec_writer_open(tpath("tab.tsv"), 0, &e);
    rec_writer_header(w, 2, names, &e);
    rec_put_str(w, 0, "a\tb", 3);
    rec_put_i64(w, 1, 1);
    check(rec_end_row(w, &e) < 0 && strstr(e.msg, "column 'a': value contains a tab"), "tab in TSV: %s", e.msg);
    rec_writer_abort(w);
    const char *dupnames[] = {"a", "a"};
    w = rec_writer_open(tpath("d.tsv"), 0, &e);
    check(rec_writer_header(w, 2, dupnames, &e) < 0 && strstr(e.msg, "duplicate output column 'a'"),
          "duplicate output column");
    rec_writer_abort(w);
    /* gzip output is real gzip */
    w = rec_writer_open(tpath("o.tsv.gz"), 0, &e);
    rec_writer_header(w, 2, names, &e);
    rec_put_i64(w, 0, 1);
    rec_put_i64(w, 1, 2);
    rec_end_row(w, &e);
    rec_writer_close(w, &e);
    gzFile gz = gzopen(tpath("o.tsv.gz"), "rb");
    char buf[64] = {0};
    int got = gzread(gz, buf, sizeof buf - 1);
    gzclose(gz);
    check(got == 8 && strcmp(buf, "a\tb\n1\t2\n") == 0, "gzip output readable by zlib");
}

static void test_groups(void)
{
    errctx e;
    const char *ok = "m\tv\na\t1\na\t2\nb\t3\nc\t4\nc\t5\n";
    write_file(tpath("g.tsv"), ok, strlen(ok));
    rec_reader *r = rec_open(tpath("g.tsv"), &e);
    rec_group g;
    rec_group_init(&g, 0);
    int starts = 0, rc;
    while ((rc = rec_next(r, &e)) == 1)
        starts += rec_group_step(&g, r, &e) == 1;
    check(rc == 0 && starts == 3 && g.groups == 3, "three contiguous groups");
    rec_group_free(&g);
    rec_close(r);
    const char *bad = "m\tv\na\t1\nb\t2\na\t3\n";
    write_file(tpath("g2.tsv"), bad, strlen(bad));
    r = rec_open(tpath("g2.tsv"), &e);
    rec_group_init(&g, 0);
    int err = 0;
    while (rec_next(r, &e) == 1)
        if (rec_group_step(&g, r, &e) < 0) {
            err = 1;
            break;
        }
    check(err && strstr(e.msg, "g2.tsv:4: column 'm': key 'a' appears again") && strstr(e.msg, "sort -s"),
          "reappearing key: %s", e.msg);
    rec_group_free(&g);
    rec_close(r);
}

/* Keys given as text, one row each: the line of the first reappearing key
 * (0: none), and the hashes the table holds at the end in *stored. */
static int group_keys(const char *const *keys, int n, size_t *stored)
{
    errctx e;
    FILE *f = fopen(tpath("gk.tsv"), "w");
    fputs("k\n", f);
    for (int i = 0; i < n; i++)
        fprintf(f, "%s\n", keys[i]);
    fclose(f);
    rec_reader *r = rec_open(tpath("gk.tsv"), &e);
    rec_group g;
    rec_group_init(&g, 0);
    int bad = 0;
    while (rec_next(r, &e) == 1)
        if (rec_group_step(&g, r, &e) < 0) {
            bad = (int)rec_line(r);
            break;
        }
    *stored = g.seen.size;
    rec_group_free(&g);
    rec_close(r);
    return bad;
}

static void test_group_runs(void)
{
    size_t stored = 0;
    int line;
    static const char *const a[] = {"0", "1", "2", "3"};
    line = group_keys(a, 4, &stored);
    check(line == 0 && stored == 0, "a run of integers is kept as its ends (%zu)", stored);
    static const char *const b[] = {"0", "1", "2", "1"};
    check(group_keys(b, 4, &stored) == 5, "a key inside the current run reappears");
    static const char *const c[] = {"5", "6", "9", "10", "6"};
    check(group_keys(c, 5, &stored) == 6, "a key of an ended run reappears");
    static const char *const d[] = {"0", "1", "2", "0", "1"};
    check(group_keys(d, 5, &stored) == 5, "a second file's 0 after 0..2");
    static const char *const h[] = {"7", "007", "+7", "8", "x", "7"};
    check(group_keys(h, 6, &stored) == 7, "'007' and '+7' are other keys than 7, which reappears");
    static const char *const m[] = {"3", "x", "4", "y", "x"};
    check(group_keys(m, 5, &stored) == 6, "text keys between runs");
    static const char *const u[] = {"3", "2", "1", "0", "4"};
    line = group_keys(u, 5, &stored);
    check(line == 0 && stored == 4, "descending keys: each run ends in the table (%zu stored)", stored);
    static const char *const v[] = {"9223372036854775807", "-9223372036854775808", "9223372036854775807"};
    check(group_keys(v, 3, &stored) == 4, "the ends of int64");
    /* a million consecutive episodes cost no memory */
    FILE *f = fopen(tpath("gk.tsv"), "w");
    fputs("k\n", f);
    for (int i = 0; i < 1000000; i++)
        fprintf(f, "%d\n%d\n", i, i);
    fclose(f);
    errctx e;
    rec_reader *r = rec_open(tpath("gk.tsv"), &e);
    rec_group g;
    rec_group_init(&g, 0);
    int rc, err = 0;
    while ((rc = rec_next(r, &e)) == 1)
        err |= rec_group_step(&g, r, &e) < 0;
    check(!err && g.groups == 1000000 && g.seen.cap == 0, "1e6 consecutive keys: no table (cap %zu)", g.seen.cap);
    rec_group_free(&g);
    rec_close(r);
}

int main(int argc, char **argv)
{
    (void)argc;
    cli_init(argv[0]);
    tdir_make("rec");
    test_numbers();
    test_format_and_classify();
    test_text();
    test_header_and_lines();
    test_gzip();
    test_binary_round_trip();
    test_writer();
    test_groups();
    test_group_runs();
    tdir_remove();
    return check_done("test_rec");
}
