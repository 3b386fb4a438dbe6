/*
 * rec_read.c - the record stream reader (see rec.h for the contract and
 * rec_bin.h for the binary layout).
 *
 * Layers: a byte source (the file descriptor, through zlib's inflate when
 * the input starts with the gzip magic) fills a buffer of plain bytes;
 * the first bytes of that buffer decide between the binary stream and
 * text.  Text goes line by line into libcsv, whose callbacks append
 * fields to a small row store; rec_next pops rows from it, so memory is
 * bounded by the chunk size (plus the longest line).  Feeding libcsv one
 * physical line at a time lets every row carry its true line number.
 */
#define _GNU_SOURCE
#include <csv.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "rec.h"
#include "rec_bin.h"
#include "rng.h"
#include "banned.h"

#define CHUNK (256u << 10)

typedef struct colbuf { /* a decoded binary column of the current block */
    rec_type type;
    const unsigned char *data;   /* values, or string bytes */
    const unsigned char *offs;   /* str: nrows u32 end offsets */
    uint32_t last_bits;          /* f32: the last value rec_f64 converted */
    double last_d;               /*      and what it read as */
    int has_last;
} colbuf;

struct rec_reader {
    char *path;
    int fd, own_fd;
    /* raw input */
    unsigned char *raw;
    size_t raw_len, raw_pos;
    int raw_eof;
    uint64_t raw_total;
    /* gzip */
    int gz;
    z_stream zs;
    int z_end; /* current member ended */
    /* plain bytes */
    unsigned char *buf;
    size_t buf_len, buf_pos, buf_cap;
    int src_eof;
    uint64_t consumed; /* plain bytes consumed before buf_pos */

    int format;
    char delim;
    int ncols;
    char **names;

    /* text */
    struct csv_parser csv;
    int csv_ready, csv_done;
    uint64_t phys_line; /* line being fed to libcsv, 1-based */
    char *fbuf;         /* field bytes, each NUL-terminated */
    size_t flen, fcap;
    size_t *foff, *fl; /* per field: offset and length */
    size_t nf, nfcap;
    size_t *row_first; /* per completed row: first field index */
    uint64_t *row_line;
    size_t nrq, rqcap, rq_pos;
    size_t building_first; /* first field of the row in progress */
    uint64_t building_line;
    int building;
    int cb_error;
    int header_done;
    size_t cur_first; /* current row's first field */
    /* TSV: the current row's fields point into buf, NUL-terminated in place */
    char **tf;
    size_t *tl;
    size_t tsv_scan; /* bytes after buf_pos already searched for '\n' */

    /* binary */
    uint32_t block_rows, block_row;
    uint64_t block_index;
    colbuf *cols;
    rec_type *btypes;              /* rec_block views of cols */
    const unsigned char **bdata, **boffs;
    int bin_end;
    char **scratch; /* per column text rendering of binary values */

    uint64_t rows;
    uint64_t cur_line;
    int at_eof;
    int csv_pending;  /* csv_err waits until the rows before it are read */
    errctx csv_err;
    int cr_at_end;    /* the last byte given to libcsv was a CR ending a line */
    int take_pending; /* rec_take met take_err after the piece it returned */
    errctx take_err;
    int is_piece; /* cut off another reader by rec_take: its bytes end with it */
};

/* ---- byte source ---- */

static int raw_fill(rec_reader *r, errctx *e)
{
    if (r->raw_pos < r->raw_len || r->raw_eof)
        return 0;
    r->raw_pos = r->raw_len = 0;
    for (;;) {
        ssize_t n = read(r->fd, r->raw, CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return err_set(e, "%s: read error: %s", r->path, strerror(errno));
        if (n == 0)
            r->raw_eof = 1;
        r->raw_len = (size_t)n;
        r->raw_total += (uint64_t)n;
        return 0;
    }
}

/* Read up to n plain bytes into dst; returns count, 0 at end, -1 error. */
static ssize_t src_read(rec_reader *r, unsigned char *dst, size_t n, errctx *e)
{
    if (!r->gz && r->raw_pos == r->raw_len && !r->raw_eof) {
        for (;;) {
            ssize_t got = read(r->fd, dst, n);
            if (got < 0 && errno == EINTR)
                continue;
            if (got < 0)
                return err_set(e, "%s: read error: %s", r->path, strerror(errno));
            if (got == 0)
                r->raw_eof = 1;
            r->raw_total += (uint64_t)got;
            return got;
        }
    }
    if (!r->gz) {
        if (raw_fill(r, e) < 0)
            return -1;
        size_t k = r->raw_len - r->raw_pos;
        if (k > n)
            k = n;
        memcpy(dst, r->raw + r->raw_pos, k);
        r->raw_pos += k;
        return (ssize_t)k;
    }
    for (;;) {
        if (r->z_end) {
            /* After a member: another member may follow (gzip -c a b). */
            if (raw_fill(r, e) < 0)
                return -1;
            if (r->raw_pos == r->raw_len)
                return 0;
            if (r->raw[r->raw_pos] != 0x1f)
                return err_set(e, "%s: trailing garbage after gzip data", r->path);
            inflateReset(&r->zs);
            r->z_end = 0;
        }
        if (raw_fill(r, e) < 0)
            return -1;
        if (r->raw_pos == r->raw_len && r->raw_eof)
            return err_set(e, "%s: truncated gzip stream (input ended inside compressed data)", r->path);
        r->zs.next_in = r->raw + r->raw_pos;
        r->zs.avail_in = (uInt)(r->raw_len - r->raw_pos);
        r->zs.next_out = dst;
        r->zs.avail_out = (uInt)(n > (1u << 30) ? (1u << 30) : n);
        uInt before = r->zs.avail_out;
        int zr = inflate(&r->zs, Z_NO_FLUSH);
        r->raw_pos = r->raw_len - r->zs.avail_in;
        size_t got = before - r->zs.avail_out;
        if (zr == Z_STREAM_END)
            r->z_end = 1;
        else if (zr == Z_DATA_ERROR || zr == Z_NEED_DICT)
            return err_set(e, "%s: corrupt gzip data: %s", r->path, r->zs.msg ? r->zs.msg : "invalid data");
        else if (zr == Z_MEM_ERROR)
            return err_set(e, "%s: out of memory decompressing", r->path);
        else if (zr != Z_OK && zr != Z_BUF_ERROR)
            return err_set(e, "%s: gzip error %d", r->path, zr);
        if (got)
            return (ssize_t)got;
    }
}

/* Make at least want plain bytes available at buf + buf_pos (fewer only
 * at end of input).  Returns available count or -1. */
static ssize_t buf_need(rec_reader *r, size_t want, errctx *e)
{
    while (r->buf_len - r->buf_pos < want && !r->src_eof) {
        if (r->buf_pos > 0) {
            memmove(r->buf, r->buf + r->buf_pos, r->buf_len - r->buf_pos);
            r->consumed += r->buf_pos;
            r->buf_len -= r->buf_pos;
            r->buf_pos = 0;
        }
        if (r->buf_cap - r->buf_len < CHUNK + 1) {
            size_t ncap = r->buf_cap * 2;
            while (ncap - r->buf_len < CHUNK + 1)
                ncap *= 2;
            r->buf = xrealloc(r->buf, ncap);
            r->buf_cap = ncap;
        }
        size_t room = r->buf_cap - r->buf_len - 1; /* one spare byte for a final NUL */
        ssize_t got = src_read(r, r->buf + r->buf_len, room, e);
        if (got < 0)
            return -1;
        if (got == 0)
            r->src_eof = 1;
        r->buf_len += (size_t)got;
    }
    return (ssize_t)(r->buf_len - r->buf_pos);
}

/* ---- errors ---- */

int rec_where(const rec_reader *r, int col, char *buf, size_t n)
{
    if (col >= 0 && col < r->ncols)
        return snprintf(buf, n, "%s:%llu: column '%s'", r->path, (unsigned long long)r->cur_line,
                        r->names[col]);
    return snprintf(buf, n, "%s:%llu", r->path, (unsigned long long)r->cur_line);
}

int rec_error(const rec_reader *r, int col, errctx *e, const char *fmt, ...)
{
    if (!e)
        return -1;
    char where[512], what[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    rec_where(r, col, where, sizeof where);
    return err_set(e, "%s: %s", where, what);
}

/* ---- text ---- */

static void field_cb(void *s, size_t len, void *data)
{
    rec_reader *r = data;
    if (!r->building) {
        /* the row starts where its first field does: that field ends on
         * this line, less the line ends inside it (a quoted field) */
        uint64_t inside = 0;
        const unsigned char *f = s;
        for (size_t k = 0; k < len; k++)
            inside += f[k] == '\n' || (f[k] == '\r' && (k + 1 == len || f[k + 1] != '\n'));
        r->building = 1;
        r->building_first = r->nf;
        r->building_line = r->phys_line - inside;
    }
    if (r->flen + len + 1 > r->fcap) {
        while (r->flen + len + 1 > r->fcap)
            r->fcap *= 2;
        r->fbuf = xrealloc(r->fbuf, r->fcap);
    }
    if (len)
        memcpy(r->fbuf + r->flen, s, len);
    r->fbuf[r->flen + len] = '\0';
    if (r->nf == r->nfcap) {
        r->nfcap *= 2;
        r->foff = xrealloc(r->foff, r->nfcap * sizeof *r->foff);
        r->fl = xrealloc(r->fl, r->nfcap * sizeof *r->fl);
    }
    r->foff[r->nf] = r->flen;
    r->fl[r->nf] = len;
    r->nf++;
    r->flen += len + 1;
}

static void row_cb(int c, void *data)
{
    (void)c;
    rec_reader *r = data;
    if (!r->building) /* a row with no fields cannot happen: libcsv calls cb1 first */
        return;
    if (r->nrq == r->rqcap) {
        r->rqcap *= 2;
        r->row_first = xrealloc(r->row_first, r->rqcap * sizeof *r->row_first);
        r->row_line = xrealloc(r->row_line, r->rqcap * sizeof *r->row_line);
    }
    r->row_first[r->nrq] = r->building_first;
    r->row_line[r->nrq] = r->building_line;
    r->nrq++;
    r->building = 0;
}

static int never_space(unsigned char c)
{
    (void)c;
    return 0;
}

static int is_term(unsigned char c)
{
    return c == '\n' || c == '\r';
}

/* Drop consumed rows, keeping the fields of a row in progress. */
static void store_compact(rec_reader *r)
{
    size_t keep_f = r->building ? r->building_first : r->nf;
    size_t keep_off = keep_f < r->nf ? r->foff[keep_f] : r->flen;
    size_t nkeep = r->nf - keep_f;
    memmove(r->fbuf, r->fbuf + keep_off, r->flen - keep_off);
    r->flen -= keep_off;
    for (size_t i = 0; i < nkeep; i++) {
        r->foff[i] = r->foff[keep_f + i] - keep_off;
        r->fl[i] = r->fl[keep_f + i];
    }
    r->nf = nkeep;
    if (r->building)
        r->building_first = 0;
    r->nrq = r->rq_pos = 0;
}

static int csv_fail(rec_reader *r, errctx *e)
{
    r->cur_line = r->phys_line;
    int code = csv_error(&r->csv);
    if (code == CSV_EPARSE)
        return rec_error(r, -1, e, "malformed CSV: a quote inside an unquoted field, text after a closing "
                                   "quote, or an unterminated quoted field");
    return rec_error(r, -1, e, "CSV parser: %s", csv_strerror(code));
}

/* Parse the next bytes of input (at least one, or the end) into the row
 * store. */
/* An error found while parsing ahead: rows completed before it are read
 * first (as reading one row at a time would find them), then it is
 * reported. */
static int csv_defer(rec_reader *r, errctx *e, const errctx *err)
{
    r->csv_done = 1;
    if (r->rq_pos < r->nrq) {
        r->csv_pending = 1;
        r->csv_err = *err;
        return 0;
    }
    *e = *err;
    return -1;
}

/* The next line end at or after p, the CR of a CR LF or a lone CR (where
 * libcsv ends a row too) or an LF; NULL if none before end. */
static const unsigned char *csv_eol(const unsigned char *p, const unsigned char *end)
{
    for (const unsigned char *q = p; q < end; q++)
        if (*q == '\n' || *q == '\r')
            return q;
    return NULL;
}

static int csv_step(rec_reader *r, errctx *e)
{
    errctx err;
    ssize_t avail = buf_need(r, 1, e);
    if (avail < 0)
        return -1;
    if (avail == 0) {
        if (csv_fini(&r->csv, field_cb, row_cb, r) != 0)
            return csv_defer(r, e, (csv_fail(r, &err), &err));
        r->csv_done = 1;
        return 0;
    }
    unsigned char *p = r->buf + r->buf_pos, *end = p + avail;
    unsigned char *nul = memchr(p, 0, (size_t)avail);
    if (nul)
        end = nul; /* parse the rows before it */
    while (p < end) {
        const unsigned char *eol = csv_eol(p, end);
        size_t len = eol ? (size_t)(eol - p + 1) : (size_t)(end - p);
        int crlf = eol && *eol == '\r' && eol + 1 < end && eol[1] == '\n';
        if (crlf)
            len++;
        if (p == r->buf + r->buf_pos && r->cr_at_end && *p == '\n') {
            /* the LF of a CR LF cut between two reads: its line was counted */
            len = 1;
            eol = NULL;
        }
        r->cr_at_end = 0;
        if (csv_parse(&r->csv, p, len, field_cb, row_cb, r) != len)
            return csv_defer(r, e, (csv_fail(r, &err), &err));
        p += len;
        if (eol) {
            r->phys_line++;
            r->cr_at_end = *eol == '\r' && !crlf && p == r->buf + r->buf_len;
        }
    }
    r->buf_pos = (size_t)(p - r->buf);
    if (nul) {
        r->cur_line = r->phys_line;
        rec_error(r, -1, &err, "NUL byte in text input (binary file?)");
        return csv_defer(r, e, &err);
    }
    return 0;
}

/* Parse more input until at least one row is queued or input ends. */
static int text_fill(rec_reader *r, errctx *e)
{
    while (r->rq_pos == r->nrq && !r->csv_done) {
        store_compact(r);
        if (csv_step(r, e) < 0)
            return -1;
    }
    if (r->rq_pos == r->nrq && r->csv_pending) {
        r->csv_pending = 0;
        *e = r->csv_err;
        return -1;
    }
    return 0;
}

static int check_names(rec_reader *r, errctx *e)
{
    hmap *seen = hmap_new((size_t)r->ncols);
    for (int i = 0; i < r->ncols; i++) {
        if (!*r->names[i]) {
            hmap_free(seen);
            return err_set(e, "%s:1: column %d has an empty name", r->path, i + 1);
        }
        int added;
        hmap_put(seen, r->names[i], strlen(r->names[i]), i, &added);
        if (!added) {
            hmap_free(seen);
            return err_set(e, "%s:1: duplicate column '%s'", r->path, r->names[i]);
        }
    }
    hmap_free(seen);
    return 0;
}


/* TSV has no quoting (IANA text/tab-separated-values), so a row is a line
 * split at tabs: no parser is involved.  Fields are NUL-terminated in place
 * in buf and stay valid until the next call, which may move buf. */
static int tsv_line(rec_reader *r, char **line, size_t *len, errctx *e)
{
    for (;;) {
        size_t avail = r->buf_len - r->buf_pos;
        unsigned char *p = r->buf + r->buf_pos;
        unsigned char *nl = avail > r->tsv_scan ? memchr(p + r->tsv_scan, '\n', avail - r->tsv_scan) : NULL;
        if (!nl && !r->src_eof) {
            r->tsv_scan = avail;
            if (buf_need(r, avail + 1, e) < 0)
                return -1;
            continue;
        }
        if (!nl && avail == 0)
            return 0;
        size_t n = nl ? (size_t)(nl - p) : avail;
        r->buf_pos += nl ? n + 1 : n;
        r->tsv_scan = 0;
        r->phys_line++;
        if (n && p[n - 1] == '\r')
            n--;
        p[n] = '\0'; /* over the '\n' or '\r'; at end of input buf has room */
        if (memchr(p, 0, n)) {
            r->cur_line = r->phys_line;
            return rec_error(r, -1, e, "NUL byte in text input (binary file?)");
        }
        if (n == 0 && r->ncols != 1)
            continue; /* blank lines are skipped, as in CSV, unless a row has one field */
        *line = (char *)p;
        *len = n;
        return 1;
    }
}

/* Split a TSV line into at most max fields; returns the field count.
 * A plain loop: fields are short, and a memchr call per field costs more
 * than the bytes it scans. */
static size_t tsv_split(char *line, size_t len, char **f, size_t *fl, size_t max)
{
    size_t k = 0;
    char *start = line, *end = line + len;
    for (char *p = line;; p++) {
        if (p == end || *p == '\t') {
            if (k < max) {
                f[k] = start;
                fl[k] = (size_t)(p - start);
            }
            k++;
            if (p == end) {
                *p = '\0';
                return k;
            }
            *p = '\0';
            start = p + 1;
        }
    }
}

static int tsv_next(rec_reader *r, errctx *e)
{
    char *line;
    size_t len;
    int rc = tsv_line(r, &line, &len, e);
    if (rc <= 0)
        return rc;
    r->cur_line = r->phys_line;
    size_t n = tsv_split(line, len, r->tf, r->tl, (size_t)r->ncols);
    if (n != (size_t)r->ncols)
        return rec_error(r, -1, e, "expected %d fields, found %zu", r->ncols, n);
    return 1;
}

/* Remove the UTF-8 byte order mark at buf + buf_pos + at, if there is
 * one; 1 if it was there. */
static int drop_bom(rec_reader *r, size_t at)
{
    unsigned char *p = r->buf + r->buf_pos + at;
    size_t avail = r->buf_len - r->buf_pos - at;
    if (avail < 3 || memcmp(p, "\xef\xbb\xbf", 3) != 0)
        return 0;
    memmove(p, p + 3, avail - 3);
    r->buf_len -= 3;
    return 1;
}

static int text_open(rec_reader *r, errctx *e)
{
    /* The header is the first line that is not blank (empty, or a lone
     * CR).  The delimiter comes from it: tab if it has one, else comma if
     * it has one.  A UTF-8 byte order mark at the start of the input or
     * of the header line is no part of a name. */
    size_t h = 0, hl = 0; /* the header line: offset from buf_pos, length */
    int found = 0;
    for (int first = 1;; first = 0) {
        size_t scanned = h;
        unsigned char *nl = NULL;
        for (;;) {
            ssize_t avail = buf_need(r, scanned + 1, e);
            if (avail < 0)
                return -1;
            if ((size_t)avail <= scanned)
                break;
            nl = memchr(r->buf + r->buf_pos + scanned, '\n', (size_t)avail - scanned);
            if (nl)
                break;
            scanned = (size_t)avail;
        }
        if (first || h > 0)
            if (drop_bom(r, h) && nl)
                nl -= 3;
        unsigned char *p = r->buf + r->buf_pos;
        size_t avail = r->buf_len - r->buf_pos;
        if (h >= avail)
            return err_set(e, "%s: empty input (a header line is required)", r->path);
        found = nl != NULL;
        hl = (found ? (size_t)(nl - p) : avail) - h;
        size_t content = hl && p[h + hl - 1] == '\r' ? hl - 1 : hl;
        if (content > 0 || !found)
            break;
        h += hl + 1; /* a blank line before the header */
    }
    unsigned char *p = r->buf + r->buf_pos + h;
    r->delim = memchr(p, '\t', hl) ? '\t' : memchr(p, ',', hl) ? ',' : '\t';
    if (r->delim == '\t') {
        char *line;
        size_t len;
        int rc = tsv_line(r, &line, &len, e);
        if (rc < 0)
            return -1;
        if (rc == 0)
            return err_set(e, "%s: empty input (a header line is required)", r->path);
        size_t n = 1;
        for (size_t k = 0; k < len; k++)
            n += line[k] == '\t';
        r->ncols = (int)n;
        r->names = xcalloc(n + 1, sizeof *r->names);
        r->tf = xcalloc(n, sizeof *r->tf);
        r->tl = xcalloc(n, sizeof *r->tl);
        tsv_split(line, len, r->tf, r->tl, n);
        for (size_t i = 0; i < n; i++)
            r->names[i] = xstrndup(r->tf[i], r->tl[i]);
        r->cur_line = 1;
        return check_names(r, e);
    }

    if (csv_init(&r->csv, CSV_STRICT | CSV_STRICT_FINI) != 0)
        return err_set(e, "%s: cannot initialise the CSV parser", r->path);
    r->csv_ready = 1;
    csv_set_delim(&r->csv, (unsigned char)r->delim);
    csv_set_quote(&r->csv, r->delim == '\t' ? '\0' : '"');
    csv_set_space_func(&r->csv, never_space);
    csv_set_term_func(&r->csv, is_term);
    r->phys_line = 1;
    if (text_fill(r, e) < 0)
        return -1;
    if (r->rq_pos == r->nrq)
        return err_set(e, "%s: empty input (a header line is required)", r->path);
    size_t first = r->row_first[0];
    size_t last = r->nrq > 1 ? r->row_first[1] : (r->building ? r->building_first : r->nf);
    r->ncols = (int)(last - first);
    r->names = xcalloc((size_t)r->ncols + 1, sizeof *r->names);
    for (int i = 0; i < r->ncols; i++)
        r->names[i] = xstrndup(r->fbuf + r->foff[first + (size_t)i], r->fl[first + (size_t)i]);
    r->rq_pos = 1;
    r->cur_line = 1;
    return check_names(r, e);
}

static int text_next(rec_reader *r, errctx *e)
{
    if (r->delim == '\t')
        return tsv_next(r, e);
    if (text_fill(r, e) < 0)
        return -1;
    if (r->rq_pos == r->nrq)
        return 0;
    size_t i = r->rq_pos++;
    r->cur_first = r->row_first[i];
    r->cur_line = r->row_line[i];
    size_t end = i + 1 < r->nrq ? r->row_first[i + 1] : (r->building ? r->building_first : r->nf);
    size_t nfields = end - r->cur_first;
    if (nfields != (size_t)r->ncols)
        return rec_error(r, -1, e, "expected %d fields, found %zu", r->ncols, nfields);
    return 1;
}

/* ---- binary ---- */

static uint32_t rd32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int bin_read_header(rec_reader *r, int again, errctx *e)
{
    ssize_t got = buf_need(r, RECBIN_MAGIC_LEN + 8, e);
    if (got < 0)
        return -1;
    if (got < RECBIN_MAGIC_LEN + 8)
        return err_set(e, "%s: truncated binary stream header", r->path);
    const unsigned char *h = r->buf + r->buf_pos;
    uint32_t version = rd32(h + 8), ncols = rd32(h + 12);
    if (version > RECBIN_VERSION)
        return err_set(e, "%s: binary stream version %u is newer than this tool reads (%d)", r->path,
                       version, RECBIN_VERSION);
    if (version == 0 || ncols == 0 || ncols > RECBIN_MAX_COLS)
        return err_set(e, "%s: corrupt binary stream header (version %u, %u columns)", r->path, version,
                       ncols);
    size_t off = RECBIN_MAGIC_LEN + 8;
    char **names = xcalloc((size_t)ncols + 1, sizeof *names);
    int rc = -1;
    uint32_t i;
    for (i = 0; i < ncols; i++) {
        got = buf_need(r, off + 4, e);
        if (got < 0)
            goto out;
        if ((size_t)got < off + 4)
            break;
        uint32_t len = rd32(r->buf + r->buf_pos + off);
        if (len > RECBIN_MAX_NAME) {
            err_set(e, "%s: corrupt binary stream header (column name of %u bytes)", r->path, len);
            goto out;
        }
        got = buf_need(r, off + 4 + len, e);
        if (got < 0)
            goto out;
        if ((size_t)got < off + 4 + len)
            break;
        names[i] = xstrndup((const char *)r->buf + r->buf_pos + off + 4, len);
        if (strlen(names[i]) != len) {
            err_set(e, "%s: corrupt binary stream header (NUL in a column name)", r->path);
            goto out;
        }
        off += 4 + len;
    }
    got = i < ncols ? 0 : buf_need(r, off + 4, e);
    if (got < 0)
        goto out;
    if ((size_t)got < off + 4) {
        err_set(e, "%s: truncated binary stream header", r->path);
        goto out;
    }
    uint32_t crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), r->buf + r->buf_pos, (uInt)off);
    if (crc != rd32(r->buf + r->buf_pos + off)) {
        err_set(e, "%s: binary stream header checksum mismatch (corrupt input)", r->path);
        goto out;
    }
    r->buf_pos += off + 4;
    if (again) {
        /* a concatenated stream must have the same columns */
        int same = (int)ncols == r->ncols;
        for (uint32_t k = 0; same && k < ncols; k++)
            same = strcmp(names[k], r->names[k]) == 0;
        if (!same) {
            err_set(e, "%s: concatenated binary streams have different columns", r->path);
            goto out;
        }
        rc = 0;
        goto out;
    }
    r->ncols = (int)ncols;
    r->names = names;
    names = NULL;
    rc = 0;
out:
    if (names) {
        for (uint32_t k = 0; k < ncols; k++)
            free(names[k]);
        free(names);
    }
    return rc;
}

static int bin_corrupt(rec_reader *r, errctx *e, const char *what)
{
    return err_set(e, "%s: block %llu (from row %llu): %s", r->path, (unsigned long long)r->block_index + 1,
                   (unsigned long long)r->rows + 1, what);
}

/* Find the next data block at buf + buf_pos, past end blocks and the
 * headers of concatenated streams: 1 with its frame (12-byte head,
 * payload, CRC) wholly in buf, *nrows and *plen set; 0 at the end of
 * input; -1 on an error.  Checks sizes, not the checksum. */
static int bin_frame(rec_reader *r, uint32_t *nrows_out, uint32_t *plen_out, errctx *e)
{
    for (;;) {
        if (r->is_piece && r->buf_pos == r->buf_len)
            return 0;
        if (r->bin_end) {
            /* after an end block: nothing, or another whole stream */
            ssize_t got = buf_need(r, RECBIN_MAGIC_LEN, e);
            if (got < 0)
                return -1;
            if (got == 0)
                return 0;
            if ((size_t)got < RECBIN_MAGIC_LEN ||
                memcmp(r->buf + r->buf_pos, RECBIN_MAGIC, RECBIN_MAGIC_LEN) != 0)
                return err_set(e, "%s: data after the end of the binary stream", r->path);
            if (bin_read_header(r, 1, e) < 0)
                return -1;
            r->bin_end = 0;
        }
        ssize_t got = buf_need(r, 12, e);
        if (got < 0)
            return -1;
        if (got < 12)
            return err_set(e, "%s: truncated binary stream: input ends after %llu rows without an end block",
                           r->path, (unsigned long long)r->rows);
        const unsigned char *h = r->buf + r->buf_pos;
        if (memcmp(h, RECBIN_BLOCK_TAG, 4) != 0)
            return bin_corrupt(r, e, "corrupt binary stream: no block tag");
        uint32_t nrows = rd32(h + 4), plen = rd32(h + 8);
        if (nrows > RECBIN_MAX_ROWS || plen > RECBIN_MAX_PAYLOAD || (nrows == 0 && plen != 0))
            return bin_corrupt(r, e, "corrupt binary stream: impossible block size");
        /* each column needs at least its type byte plus 4 bytes a row */
        if (nrows && (uint64_t)plen < (uint64_t)r->ncols * (1 + 4ull * nrows))
            return bin_corrupt(r, e, "corrupt binary stream: block too short for its rows");
        got = buf_need(r, 12 + (size_t)plen + 4, e);
        if (got < 0)
            return -1;
        if ((size_t)got < 12 + (size_t)plen + 4)
            return bin_corrupt(r, e, "truncated binary stream: block ends early");
        if (nrows == 0) {
            h = r->buf + r->buf_pos;
            if ((uint32_t)crc32(crc32(0L, Z_NULL, 0), h + 4, 8) != rd32(h + 12))
                return bin_corrupt(r, e, "checksum mismatch (corrupt input)");
            r->buf_pos += 12 + (size_t)plen + 4;
            r->bin_end = 1;
            continue;
        }
        *nrows_out = nrows;
        *plen_out = plen;
        return 1;
    }
}

/* Read and decode the next block; 1 block, 0 end, -1 error. */
static int bin_block(rec_reader *r, errctx *e)
{
    {
        uint32_t nrows = 0, plen = 0;
        int fr = bin_frame(r, &nrows, &plen, e);
        if (fr <= 0)
            return fr;
        const unsigned char *h = r->buf + r->buf_pos;
        uint32_t crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), h + 4, (uInt)(8 + plen));
        if (crc != rd32(h + 12 + plen))
            return bin_corrupt(r, e, "checksum mismatch (corrupt input)");
        r->buf_pos += 12 + (size_t)plen + 4;
        /* decoded in place: buf moves only when the next block is read */
        const unsigned char *p = h + 12, *end = h + 12 + plen;
        for (int c = 0; c < r->ncols; c++) {
            if (p >= end)
                return bin_corrupt(r, e, "corrupt binary stream: payload too short");
            rec_type t = (rec_type)*p++;
            size_t need;
            colbuf *cb = &r->cols[c];
            cb->type = t;
            if (t == REC_I64 || t == REC_F64)
                need = 8ull * nrows;
            else if (t == REC_F32)
                need = 4ull * nrows;
            else if (t == REC_STR) {
                if (end - p < 4)
                    return bin_corrupt(r, e, "corrupt binary stream: payload too short");
                uint32_t bytes = rd32(p);
                p += 4;
                if ((size_t)(end - p) < 4ull * nrows + bytes)
                    return bin_corrupt(r, e, "corrupt binary stream: string column overruns the block");
                cb->offs = p;
                uint32_t prev = 0;
                for (uint32_t k = 0; k < nrows; k++) {
                    uint32_t o = rd32(p + 4ull * k);
                    if (o < prev || o > bytes)
                        return bin_corrupt(r, e, "corrupt binary stream: bad string offsets");
                    prev = o;
                }
                if (prev != bytes)
                    return bin_corrupt(r, e, "corrupt binary stream: bad string offsets");
                p += 4ull * nrows;
                cb->data = p;
                p += bytes;
                continue;
            } else
                return bin_corrupt(r, e, "corrupt binary stream: unknown column type");
            if ((size_t)(end - p) < need)
                return bin_corrupt(r, e, "corrupt binary stream: column overruns the block");
            cb->data = p;
            p += need;
        }
        if (p != end)
            return bin_corrupt(r, e, "corrupt binary stream: payload size does not match its columns");
        r->block_rows = nrows;
        r->block_row = 0;
        r->block_index++;
        return 1;
    }
}

static int bin_next(rec_reader *r, errctx *e)
{
    if (r->block_row + 1 < r->block_rows && r->rows > 0) {
        r->block_row++;
        return 1;
    }
    int rc = bin_block(r, e);
    return rc;
}

int rec_next_block(rec_reader *r, rec_block *b, errctx *e)
{
    if (r->format != REC_BINARY)
        return err_set(e, "%s: whole-block reads need binary input", r->path);
    if (r->rows > 0 && r->block_row + 1 < r->block_rows)
        return err_set(e, "%s: internal error: block read in the middle of a block", r->path);
    if (r->at_eof)
        return 0;
    int rc = bin_block(r, e);
    if (rc <= 0) {
        r->at_eof = rc == 0;
        return rc;
    }
    for (int c = 0; c < r->ncols; c++) {
        r->btypes[c] = r->cols[c].type;
        r->bdata[c] = r->cols[c].data;
        r->boffs[c] = r->cols[c].type == REC_STR ? r->cols[c].offs : NULL;
    }
    b->nrows = r->block_rows;
    b->ncols = r->ncols;
    b->types = r->btypes;
    b->data = r->bdata;
    b->offs = r->boffs;
    r->rows += r->block_rows;
    r->block_row = r->block_rows - 1;
    r->cur_line = r->rows + 1;
    return 1;
}

/* ---- pieces for other threads ---- */

/* A reader of r's columns over bytes that will be given to it. */
static rec_reader *piece_new(const rec_reader *r)
{
    rec_reader *p = xcalloc(1, sizeof *p);
    p->path = xstrdup(r->path);
    p->fd = -1;
    p->raw_eof = p->src_eof = 1;
    p->is_piece = 1;
    p->format = r->format;
    p->delim = r->delim;
    p->ncols = r->ncols;
    p->names = xcalloc((size_t)r->ncols + 1, sizeof *p->names);
    for (int i = 0; i < r->ncols; i++)
        p->names[i] = xstrdup(r->names[i]);
    p->rows = r->rows;
    p->cur_line = r->cur_line;
    p->phys_line = r->phys_line;
    p->header_done = 1;
    if (r->format == REC_BINARY) {
        p->cols = xcalloc((size_t)r->ncols, sizeof *p->cols);
        p->btypes = xcalloc((size_t)r->ncols, sizeof *p->btypes);
        p->bdata = xcalloc((size_t)r->ncols, sizeof *p->bdata);
        p->boffs = xcalloc((size_t)r->ncols, sizeof *p->boffs);
        p->scratch = xcalloc((size_t)r->ncols, sizeof *p->scratch);
        p->block_index = r->block_index;
    } else if (r->delim == '\t') {
        p->tf = xcalloc((size_t)r->ncols, sizeof *p->tf);
        p->tl = xcalloc((size_t)r->ncols, sizeof *p->tl);
    } else {
        p->csv_done = 1;
    }
    return p;
}

/* Give p the n bytes at s (and a spare byte for a final NUL). */
static void piece_bytes(rec_reader *p, const unsigned char *s, size_t n)
{
    p->buf_cap = n + 1;
    p->buf = xmalloc(p->buf_cap);
    memcpy(p->buf, s, n);
    p->buf_len = n;
}

/* TSV: whole lines, at least `bytes` of them unless the input ends. */
/* A read error while cutting a piece: the whole lines (or blocks, or
 * rows) before it are still a piece, as reading row by row would return
 * them first; the error waits for the next rec_take.  0 when there is
 * nothing to return (the caller reports the error now). */
static int take_defer(rec_reader *r, size_t have, const errctx *e)
{
    if (!have)
        return 0;
    r->take_pending = 1;
    r->take_err = *e;
    return 1;
}

static int take_tsv(rec_reader *r, rec_reader *p, size_t bytes, errctx *e)
{
    int failed = 0;
    ssize_t avail = buf_need(r, bytes, e);
    if (avail < 0) {
        failed = 1;
        avail = (ssize_t)(r->buf_len - r->buf_pos);
    }
    unsigned char *s = r->buf + r->buf_pos;
    size_t cut = (size_t)avail;
    /* up to the end of the line holding byte `bytes` */
    size_t from = (size_t)avail < bytes ? (size_t)avail : bytes - 1;
    unsigned char *nl = memchr(s + from, '\n', (size_t)avail - from);
    while (!nl && !r->src_eof && !failed) { /* a line longer than the piece */
        from = (size_t)avail;
        if ((avail = buf_need(r, from + CHUNK, e)) < 0) {
            failed = 1;
            avail = (ssize_t)(r->buf_len - r->buf_pos);
        }
        s = r->buf + r->buf_pos;
        nl = memchr(s + from, '\n', (size_t)avail - from);
    }
    if (failed) { /* the whole lines read before the error */
        nl = avail ? memrchr(s, '\n', (size_t)avail) : NULL;
        if (!take_defer(r, nl ? 1 : 0, e))
            return -1;
    }
    if (nl)
        cut = (size_t)(nl - s) + 1;
    /* count its lines and rows as tsv_line will: a blank line (or a lone
     * CR) is no row unless rows have one field */
    uint64_t lines = 0, rows = 0;
    for (size_t i = 0; i < cut;) {
        unsigned char *eol = memchr(s + i, '\n', cut - i);
        size_t end = eol ? (size_t)(eol - s) : cut, len = end - i;
        if (len && s[end - 1] == '\r')
            len--;
        lines++;
        rows += len > 0 || r->ncols == 1;
        i = end + 1;
    }
    piece_bytes(p, s, cut);
    r->buf_pos += cut;
    r->phys_line += lines;
    r->rows += rows;
    return cut > 0;
}

/* CSV: the rows libcsv has completed, at least `bytes` of fields unless
 * the input ends (parsing stays here: quotes decide where rows end). */
static int take_csv(rec_reader *r, rec_reader *p, size_t bytes, errctx *e)
{
    if (r->rq_pos == r->nrq)
        store_compact(r);
    while (!r->csv_done && (r->rq_pos == r->nrq || r->flen < bytes))
        if (csv_step(r, e) < 0) {
            if (!take_defer(r, r->nrq - r->rq_pos, e))
                return -1;
            break;
        }
    size_t nrows = r->nrq - r->rq_pos;
    if (!nrows && r->csv_pending) {
        r->csv_pending = 0;
        *e = r->csv_err;
        return -1;
    }
    if (!nrows)
        return 0;
    size_t f0 = r->row_first[r->rq_pos], f1 = r->building ? r->building_first : r->nf;
    size_t o0 = r->foff[f0], o1 = f1 < r->nf ? r->foff[f1] : r->flen;
    piece_bytes(p, (const unsigned char *)r->fbuf + o0, o1 - o0);
    /* the piece's field store is its buffer */
    p->fbuf = (char *)p->buf;
    p->buf = NULL;
    p->buf_len = p->buf_cap = 0;
    p->flen = p->fcap = o1 - o0;
    p->nf = p->nfcap = f1 - f0;
    p->foff = xmalloc((p->nf ? p->nf : 1) * sizeof *p->foff);
    p->fl = xmalloc((p->nf ? p->nf : 1) * sizeof *p->fl);
    for (size_t i = 0; i < p->nf; i++) {
        p->foff[i] = r->foff[f0 + i] - o0;
        p->fl[i] = r->fl[f0 + i];
    }
    p->nrq = p->rqcap = nrows;
    p->row_first = xmalloc(nrows * sizeof *p->row_first);
    p->row_line = xmalloc(nrows * sizeof *p->row_line);
    for (size_t i = 0; i < nrows; i++) {
        p->row_first[i] = r->row_first[r->rq_pos + i] - f0;
        p->row_line[i] = r->row_line[r->rq_pos + i];
    }
    r->rq_pos = r->nrq;
    r->rows += nrows;
    store_compact(r);
    return 1;
}

/* Binary: whole blocks, at least `bytes` of them unless the input ends. */
static int take_bin(rec_reader *r, rec_reader *p, size_t bytes, errctx *e)
{
    unsigned char *acc = NULL;
    size_t len = 0, cap = 0;
    while (len < bytes) {
        uint32_t nrows = 0, plen = 0;
        int fr = bin_frame(r, &nrows, &plen, e);
        if (fr < 0) {
            if (take_defer(r, len, e))
                break;
            free(acc);
            return -1;
        }
        if (fr == 0)
            break;
        size_t n = 12 + (size_t)plen + 4;
        if (len + n > cap) {
            cap = cap ? 2 * cap : bytes + n;
            while (len + n > cap)
                cap *= 2;
            acc = xrealloc(acc, cap);
        }
        memcpy(acc + len, r->buf + r->buf_pos, n);
        len += n;
        r->buf_pos += n;
        r->rows += nrows;
        r->block_index++;
    }
    if (!len)
        return 0;
    p->buf = acc;
    p->buf_len = len;
    p->buf_cap = cap;
    return 1;
}

int rec_take(rec_reader *r, size_t bytes, rec_reader **out, errctx *e)
{
    *out = NULL;
    if (r->is_piece)
        return err_set(e, "%s: internal error: a piece of input cut again", r->path);
    if (r->format == REC_BINARY && r->block_row + 1 < r->block_rows)
        return err_set(e, "%s: internal error: input cut in the middle of a block", r->path);
    if (r->take_pending) {
        r->take_pending = 0;
        r->at_eof = 1;
        *e = r->take_err;
        return -1;
    }
    if (r->at_eof)
        return 0;
    if (bytes < 1)
        bytes = 1;
    rec_reader *p = piece_new(r);
    int rc = r->format == REC_BINARY ? take_bin(r, p, bytes, e)
             : r->delim == '\t'      ? take_tsv(r, p, bytes, e)
                                     : take_csv(r, p, bytes, e);
    if (rc <= 0) {
        rec_close(p);
        if (rc == 0)
            r->at_eof = 1;
        return rc;
    }
    *out = p;
    return 1;
}

/* ---- public ---- */

rec_reader *rec_open(const char *path, errctx *e)
{
    rec_reader *r = xcalloc(1, sizeof *r);
    if (!path || strcmp(path, "-") == 0) {
        r->path = xstrdup("stdin");
        r->fd = STDIN_FILENO;
    } else {
        r->path = xstrdup(path);
        r->fd = open(path, O_RDONLY | O_CLOEXEC);
        if (r->fd < 0) {
            err_set(e, "%s: %s", path, strerror(errno));
            free(r->path);
            free(r);
            return NULL;
        }
        r->own_fd = 1;
    }
    r->raw = xmalloc(CHUNK);
    r->buf_cap = 2 * CHUNK;
    r->buf = xmalloc(r->buf_cap);
    r->fcap = 4096;
    r->fbuf = xmalloc(r->fcap);
    r->nfcap = 256;
    r->foff = xmalloc(r->nfcap * sizeof *r->foff);
    r->fl = xmalloc(r->nfcap * sizeof *r->fl);
    r->rqcap = 64;
    r->row_first = xmalloc(r->rqcap * sizeof *r->row_first);
    r->row_line = xmalloc(r->rqcap * sizeof *r->row_line);

    /* gzip? look at the first two raw bytes */
    while (r->raw_len - r->raw_pos < 2 && !r->raw_eof) {
        size_t have = r->raw_len - r->raw_pos;
        memmove(r->raw, r->raw + r->raw_pos, have);
        r->raw_pos = 0;
        ssize_t n = read(r->fd, r->raw + have, CHUNK - have);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            err_set(e, "%s: read error: %s", r->path, strerror(errno));
            goto fail;
        }
        if (n == 0)
            r->raw_eof = 1;
        r->raw_len = have + (size_t)n;
    }
    if (r->raw_len - r->raw_pos >= 2 && r->raw[r->raw_pos] == 0x1f && r->raw[r->raw_pos + 1] == 0x8b) {
        r->gz = 1;
        if (inflateInit2(&r->zs, 16 + MAX_WBITS) != Z_OK) {
            err_set(e, "%s: cannot initialise zlib", r->path);
            r->gz = 0;
            goto fail;
        }
    }
    ssize_t got = buf_need(r, RECBIN_MAGIC_LEN, e);
    if (got < 0)
        goto fail;
    if (got >= RECBIN_MAGIC_LEN && memcmp(r->buf + r->buf_pos, RECBIN_MAGIC, RECBIN_MAGIC_LEN) == 0) {
        r->format = REC_BINARY;
        if (bin_read_header(r, 0, e) < 0)
            goto fail;
        if (check_names(r, e) < 0)
            goto fail;
        r->cols = xcalloc((size_t)r->ncols, sizeof *r->cols);
        r->btypes = xcalloc((size_t)r->ncols, sizeof *r->btypes);
        r->bdata = xcalloc((size_t)r->ncols, sizeof *r->bdata);
        r->boffs = xcalloc((size_t)r->ncols, sizeof *r->boffs);
        r->scratch = xcalloc((size_t)r->ncols, sizeof *r->scratch);
        r->cur_line = 1;
    } else if (got > 0 && got < RECBIN_MAGIC_LEN && memcmp(r->buf + r->buf_pos, RECBIN_MAGIC, (size_t)got) == 0) {
        err_set(e, "%s: truncated binary stream header", r->path);
        goto fail;
    } else {
        r->format = REC_TEXT;
        if (text_open(r, e) < 0)
            goto fail;
    }
    return r;
fail:
    rec_close(r);
    return NULL;
}

void rec_close(rec_reader *r)
{
    if (!r)
        return;
    if (r->own_fd)
        close(r->fd);
    if (r->gz)
        inflateEnd(&r->zs);
    if (r->csv_ready)
        csv_free(&r->csv);
    for (int i = 0; i < r->ncols; i++) {
        free(r->names ? r->names[i] : NULL);
        free(r->scratch ? r->scratch[i] : NULL);
    }
    free(r->names);
    free(r->scratch);
    free(r->cols);
    free(r->btypes);
    free(r->bdata);
    free(r->boffs);
    free(r->raw);
    free(r->buf);
    free(r->fbuf);
    free(r->foff);
    free(r->fl);
    free(r->row_first);
    free(r->row_line);
    free(r->tf);
    free(r->tl);
    free(r->path);
    free(r);
}

const char *rec_path(const rec_reader *r) { return r->path; }
int rec_format(const rec_reader *r) { return r->format; }
int rec_is_gzip(const rec_reader *r) { return r->gz; }
char rec_delimiter(const rec_reader *r) { return r->format == REC_TEXT ? r->delim : 0; }
int rec_ncols(const rec_reader *r) { return r->ncols; }
const char *rec_colname(const rec_reader *r, int col) { return r->names[col]; }
const char *const *rec_colnames(const rec_reader *r) { return (const char *const *)r->names; }
uint64_t rec_line(const rec_reader *r) { return r->cur_line; }
uint64_t rec_rows(const rec_reader *r) { return r->rows; }

int rec_find(const rec_reader *r, const char *name)
{
    for (int i = 0; i < r->ncols; i++)
        if (strcmp(r->names[i], name) == 0)
            return i;
    return -1;
}

static void list_columns(const rec_reader *r, char *buf, size_t n)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < r->ncols && used + 8 < n; i++) {
        int k = snprintf(buf + used, n - used, "%s%s", i ? ", " : "", r->names[i]);
        if (k < 0 || (size_t)k >= n - used) {
            memcpy(buf + n - 6, ", ...", 6);
            break;
        }
        used += (size_t)k;
    }
}

int rec_col(const rec_reader *r, const char *name, errctx *e)
{
    int i = rec_find(r, name);
    if (i < 0) {
        char cols[600];
        list_columns(r, cols, sizeof cols);
        return err_set(e, "%s: no column '%s' (columns: %s)", r->path, name, cols);
    }
    return i;
}

int rec_select(const rec_reader *r, const char *list, int **idx, errctx *e)
{
    int n = 0, cap = 16;
    int *out = xmalloc((size_t)cap * sizeof *out);
    char *copy = xstrdup(list), *save = NULL;
    for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        int matched = 0;
        int glob = strpbrk(item, "*?[") != NULL;
        for (int i = 0; i < r->ncols; i++) {
            if (glob ? fnmatch(item, r->names[i], 0) == 0 : strcmp(item, r->names[i]) == 0) {
                if (n == cap) {
                    cap *= 2;
                    out = xrealloc(out, (size_t)cap * sizeof *out);
                }
                out[n++] = i;
                matched = 1;
                if (!glob)
                    break;
            }
        }
        if (!matched) {
            char cols[600];
            list_columns(r, cols, sizeof cols);
            if (glob)
                err_set(e, "%s: no column matches '%s' (columns: %s)", r->path, item, cols);
            else
                err_set(e, "%s: no column '%s' (columns: %s)", r->path, item, cols);
            free(copy);
            free(out);
            return -1;
        }
    }
    free(copy);
    if (n == 0) {
        free(out);
        return err_set(e, "%s: empty column list", r->path);
    }
    *idx = out;
    return n;
}

int rec_next(rec_reader *r, errctx *e)
{
    if (r->at_eof)
        return 0;
    int rc = r->format == REC_TEXT ? text_next(r, e) : bin_next(r, e);
    if (rc == 1) {
        r->rows++;
        if (r->format == REC_BINARY)
            r->cur_line = r->rows + 1;
    } else if (rc == 0) {
        r->at_eof = 1;
    }
    return rc;
}

rec_type rec_field_type(const rec_reader *r, int col)
{
    return r->format == REC_TEXT ? REC_STR : r->cols[col].type;
}

static uint64_t rd64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

const char *rec_str(rec_reader *r, int col, size_t *len)
{
    if (r->format == REC_TEXT && r->delim == '\t') {
        if (len)
            *len = r->tl[col];
        return r->tf[col];
    }
    if (r->format == REC_TEXT) {
        size_t f = r->cur_first + (size_t)col;
        if (len)
            *len = r->fl[f];
        return r->fbuf + r->foff[f];
    }
    colbuf *cb = &r->cols[col];
    uint32_t i = r->block_row;
    if (!r->scratch[col])
        r->scratch[col] = xmalloc(64);
    char *s = r->scratch[col];
    int n = 0;
    switch (cb->type) {
    case REC_I64: {
        int64_t v = (int64_t)rd64(cb->data + 8ull * i);
        n = rec_format_i64(s, 64, v);
        break;
    }
    case REC_F64: {
        double v;
        memcpy(&v, cb->data + 8ull * i, 8);
        n = rec_format_f64(s, 64, v);
        break;
    }
    case REC_F32: {
        float v;
        memcpy(&v, cb->data + 4ull * i, 4);
        n = rec_format_f32(s, 64, v);
        break;
    }
    case REC_STR: {
        uint32_t b = i ? rd32(cb->offs + 4ull * (i - 1)) : 0, end = rd32(cb->offs + 4ull * i);
        free(r->scratch[col]);
        r->scratch[col] = s = xstrndup((const char *)cb->data + b, end - b);
        n = (int)(end - b);
        break;
    }
    }
    if (len)
        *len = (size_t)n;
    return s;
}

int rec_raw_f32(const rec_reader *r, int col, float *out)
{
    if (r->format != REC_BINARY || r->cols[col].type != REC_F32)
        return -1;
    memcpy(out, r->cols[col].data + 4ull * r->block_row, 4);
    return 0;
}

int rec_raw_f64(const rec_reader *r, int col, double *out)
{
    if (r->format != REC_BINARY || r->cols[col].type != REC_F64)
        return -1;
    memcpy(out, r->cols[col].data + 8ull * r->block_row, 8);
    return 0;
}

static int field_error(rec_reader *r, int col, errctx *e, errctx *why)
{
    return rec_error(r, col, e, "%s", why->msg);
}

int rec_f64(rec_reader *r, int col, double *out, errctx *e)
{
    errctx why;
    if (r->format == REC_BINARY) {
        colbuf *cb = &r->cols[col];
        uint32_t i = r->block_row;
        if (cb->type == REC_F64) {
            memcpy(out, cb->data + 8ull * i, 8);
            if (!isfinite(*out))
                return rec_error(r, col, e, "value is not finite: NaN and Inf are not accepted");
            return 0;
        }
        if (cb->type == REC_F32) {
            /* the double its text form reads as (0.9, not 0.899999976), so
             * that a file and its binary copy give the same numbers */
            float f;
            uint32_t bits;
            memcpy(&f, cb->data + 4ull * i, 4);
            memcpy(&bits, &f, 4);
            if (cb->has_last && bits == cb->last_bits) { /* repeated values are common */
                *out = cb->last_d;
                return 0;
            }
            if (!isfinite(f))
                return rec_error(r, col, e, "value is not finite: NaN and Inf are not accepted");
            *out = rec_f32_text_value(f);
            cb->last_bits = bits;
            cb->last_d = *out;
            cb->has_last = 1;
            return 0;
        }
        if (cb->type == REC_I64) {
            *out = (double)(int64_t)rd64(cb->data + 8ull * i);
            return 0;
        }
    }
    size_t len;
    const char *s = rec_str(r, col, &len);
    if (rec_parse_f64(s, len, out, &why) < 0)
        return field_error(r, col, e, &why);
    return 0;
}

int rec_f32(rec_reader *r, int col, float *out, errctx *e)
{
    errctx why;
    if (r->format == REC_BINARY) {
        colbuf *cb = &r->cols[col];
        uint32_t i = r->block_row;
        if (cb->type == REC_F32) {
            memcpy(out, cb->data + 4ull * i, 4);
            if (!isfinite(*out))
                return rec_error(r, col, e, "value is not finite: NaN and Inf are not accepted");
            return 0;
        }
        if (cb->type == REC_F64) {
            double d;
            memcpy(&d, cb->data + 8ull * i, 8);
            if (!isfinite(d) || fabs(d) > 3.4028234663852886e38)
                return rec_error(r, col, e, "value %g is not a finite float32", d);
            *out = (float)d;
            return 0;
        }
        if (cb->type == REC_I64) {
            *out = (float)(int64_t)rd64(cb->data + 8ull * i);
            return 0;
        }
    }
    size_t len;
    const char *s = rec_str(r, col, &len);
    if (rec_parse_f32(s, len, out, &why) < 0)
        return field_error(r, col, e, &why);
    return 0;
}

int rec_i64(rec_reader *r, int col, int64_t *out, errctx *e)
{
    errctx why;
    if (r->format == REC_BINARY && r->cols[col].type == REC_I64) {
        *out = (int64_t)rd64(r->cols[col].data + 8ull * r->block_row);
        return 0;
    }
    if (r->format == REC_BINARY && r->cols[col].type != REC_STR) {
        double d;
        if (rec_f64(r, col, &d, e) < 0)
            return -1;
        if (d != floor(d) || fabs(d) > 9.2e18)
            return rec_error(r, col, e, "value %.17g is not an integer", d);
        *out = (int64_t)d;
        return 0;
    }
    size_t len;
    const char *s = rec_str(r, col, &len);
    if (rec_parse_i64(s, len, out, &why) < 0)
        return field_error(r, col, e, &why);
    return 0;
}

/* ---- groups ---- */

void rec_group_init(rec_group *g, int col)
{
    memset(g, 0, sizeof *g);
    g->col = col;
    hset64_init(&g->seen);
}

void rec_group_free(rec_group *g)
{
    free(g->key);
    hset64_free(&g->seen);
}

static uint64_t group_hash(const char *k, size_t len)
{
    return hash64(k, len, 0x67726f7570);
}

static uint64_t group_hash_int(int64_t v)
{
    char buf[24];
    int n = snprintf(buf, sizeof buf, "%lld", (long long)v);
    return group_hash(buf, (size_t)n);
}

/* Whether key k (integer value v if is_int) was seen in an earlier group;
 * if not, remember it. */
static int group_seen(rec_group *g, const char *k, size_t len, int is_int, int64_t v)
{
    if (!is_int)
        return !hset64_add(&g->seen, group_hash(k, len));
    if (g->have_run && v >= g->run_lo && v <= g->run_hi)
        return 1;
    if (hset64_has(&g->seen, group_hash(k, len)))
        return 1;
    if (g->have_run && g->run_hi < INT64_MAX && v == g->run_hi + 1) {
        g->run_hi = v;
        return 0;
    }
    if (g->have_run) /* the run ends: its keys go to the table */
        for (int64_t x = g->run_lo;; x++) {
            hset64_add(&g->seen, group_hash_int(x));
            if (x == g->run_hi)
                break;
        }
    g->run_lo = g->run_hi = v;
    g->have_run = 1;
    return 0;
}

int rec_group_step(rec_group *g, rec_reader *r, errctx *e)
{
    size_t len;
    const char *k = rec_str(r, g->col, &len);
    if (g->started && len == g->key_len && memcmp(k, g->key, len) == 0)
        return 0;
    int64_t v = 0;
    float f;
    double d;
    int is_int = (rec_classify(k, len, &v, &f, &d) & REC_CAN_I64) != 0;
    if (group_seen(g, k, len, is_int, v)) {
        if (r->format == REC_TEXT && r->delim == ',')
            return rec_error(r, g->col, e,
                             "key '%.*s' appears again after other keys; rows of one key must be "
                             "contiguous (group them first, keeping the header line first, e.g. "
                             "sort -s -t , -k%d,%d)",
                             (int)(len > 100 ? 100 : len), k, g->col + 1, g->col + 1);
        return rec_error(r, g->col, e,
                         "key '%.*s' appears again after other keys; rows of one key must be contiguous "
                         "(group them first, keeping the header line first, e.g. "
                         "sort -s -t \"$(printf '\\t')\" -k%d,%d)",
                         (int)(len > 100 ? 100 : len), k, g->col + 1, g->col + 1);
    }
    if (len + 1 > g->key_cap) {
        g->key_cap = len + 64;
        g->key = xrealloc(g->key, g->key_cap);
    }
    memcpy(g->key, k, len);
    g->key[len] = '\0';
    g->key_len = len;
    g->started = 1;
    g->groups++;
    return 1;
}

const char *rec_group_key(const rec_group *g, size_t *len)
{
    if (len)
        *len = g->key_len;
    return g->key;
}
