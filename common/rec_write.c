/*
 * rec_write.c - the record stream writer (see rec.h).
 *
 * A row is built cell by cell (rec_put_*), then rec_end_row renders it: a
 * TSV line into the output buffer, or one row of the current binary block.
 * Binary blocks keep each cell's value with the narrowest kind it fits
 * and pick each column's type when the block is flushed (i64, f32, f64,
 * str, the first that holds every value of the column exactly), so text
 * converts to binary without a declared schema.  Output goes through a
 * sink: stdout or an atomic file (afile.h), optionally through zlib's
 * deflate with a gzip wrapper.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "rec.h"
#include "rec_bin.h"
#include "afile.h"
#include "hmap.h"
#include "banned.h"

#define OUTBUF (1u << 20)

enum { CELL_UNSET = 0, CELL_INT, CELL_F32, CELL_F64, CELL_STR };

typedef struct cell {
    int kind;      /* where the value is: CELL_INT (i), CELL_F32 (f), CELL_F64 (d), CELL_STR */
    unsigned caps; /* REC_CAN_*: the binary types that hold it exactly */
    int is_text; /* came from text: keep its bytes */
    int64_t i;
    float f;
    double d;
    size_t off, len; /* bytes in the row arena */
} cell;

typedef struct bcol {
    unsigned caps; /* AND of the caps of the block's cells */
    int64_t *i;
    float *f;
    double *d;
    unsigned char *kind;
    uint32_t *send; /* end offset of each row's text in sbuf */
    char *sbuf;
    size_t slen, scap;
} bcol;

struct rec_writer {
    int binary, gz, to_stdout;
    afile af;
    FILE *fp;
    char *name; /* for messages */
    z_stream zs;
    unsigned char *zout;
    unsigned char *out;
    size_t out_len, out_cap;
    int mem; /* a piece (rec_writer_piece): output collects in out */
    int ncols;
    char **names;
    cell *row;
    char *arena;
    size_t arena_len, arena_cap;
    /* binary */
    bcol *cols;
    uint32_t block_rows, block_max;
    unsigned char *payload;
    size_t payload_cap;
    int failed;
};

/* ---- sink ---- */

static int sink_raw(rec_writer *w, const void *p, size_t n, errctx *e)
{
    if (n && fwrite(p, 1, n, w->fp) != n)
        return err_set(e, "%s: write error: %s", w->name, strerror(errno));
    return 0;
}

static int sink_flush(rec_writer *w, int finish, errctx *e)
{
    if (!w->gz) {
        int rc = sink_raw(w, w->out, w->out_len, e);
        w->out_len = 0;
        return rc;
    }
    w->zs.next_in = w->out;
    w->zs.avail_in = (uInt)w->out_len;
    int zr;
    do {
        w->zs.next_out = w->zout;
        w->zs.avail_out = OUTBUF;
        zr = deflate(&w->zs, finish ? Z_FINISH : Z_NO_FLUSH);
        if (zr == Z_STREAM_ERROR)
            return err_set(e, "%s: gzip compression failed", w->name);
        if (sink_raw(w, w->zout, OUTBUF - w->zs.avail_out, e) < 0)
            return -1;
    } while (w->zs.avail_out == 0 || (finish && zr != Z_STREAM_END));
    w->out_len = 0;
    return 0;
}

static int emit(rec_writer *w, const void *p, size_t n, errctx *e)
{
    const unsigned char *b = p;
    if (w->mem) {
        if (w->out_len + n > w->out_cap) {
            while (w->out_len + n > w->out_cap)
                w->out_cap *= 2;
            w->out = xrealloc(w->out, w->out_cap);
        }
        memcpy(w->out + w->out_len, b, n);
        w->out_len += n;
        return 0;
    }
    if (!w->gz && n >= OUTBUF) { /* large blocks go straight out */
        if (sink_flush(w, 0, e) < 0)
            return -1;
        return sink_raw(w, p, n, e);
    }
    while (n) {
        size_t room = OUTBUF - w->out_len;
        size_t k = n < room ? n : room;
        memcpy(w->out + w->out_len, b, k);
        w->out_len += k;
        b += k;
        n -= k;
        if (w->out_len == OUTBUF && sink_flush(w, 0, e) < 0)
            return -1;
    }
    return 0;
}

static void wr32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

/* ---- open / header ---- */

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* The columns of the rows to build (names checked by the caller). */
static void setup_cols(rec_writer *w, int ncols, const char *const *names)
{
    w->ncols = ncols;
    w->names = xcalloc((size_t)ncols, sizeof *w->names);
    for (int i = 0; i < ncols; i++)
        w->names[i] = xstrdup(names[i]);
    w->row = xcalloc((size_t)ncols, sizeof *w->row);
    if (!w->binary)
        return;
    /* block size: at most 65,536 rows and about 4 MiB of values */
    size_t rows = (4u << 20) / (8u * (size_t)ncols);
    w->block_max = rows > RECBIN_MAX_ROWS ? RECBIN_MAX_ROWS : rows < 64 ? 64 : (uint32_t)rows;
    w->cols = xcalloc((size_t)ncols, sizeof *w->cols);
    for (int c = 0; c < ncols; c++) {
        bcol *b = &w->cols[c];
        b->i = xmalloc(w->block_max * sizeof *b->i);
        b->f = xmalloc(w->block_max * sizeof *b->f);
        b->d = xmalloc(w->block_max * sizeof *b->d);
        b->kind = xmalloc(w->block_max);
        b->send = xmalloc(w->block_max * sizeof *b->send);
        b->scap = 1024;
        b->sbuf = xmalloc(b->scap);
        b->caps = REC_CAN_I64 | REC_CAN_F32 | REC_CAN_F64;
    }
}

rec_writer *rec_writer_open(const char *path, int binary, errctx *e)
{
    rec_writer *w = xcalloc(1, sizeof *w);
    w->binary = binary;
    if (!path || strcmp(path, "-") == 0) {
        w->to_stdout = 1;
        w->fp = stdout;
        w->name = xstrdup("stdout");
    } else {
        if (afile_open(&w->af, path, e) < 0) {
            free(w);
            return NULL;
        }
        w->fp = w->af.fp;
        w->name = xstrdup(path);
        w->gz = ends_with(path, ".gz");
    }
    if (w->gz) {
        if (deflateInit2(&w->zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
            err_set(e, "%s: cannot initialise zlib", w->name);
            rec_writer_abort(w);
            return NULL;
        }
        w->zout = xmalloc(OUTBUF);
    }
    w->out = xmalloc(OUTBUF);
    w->out_cap = OUTBUF;
    w->arena_cap = 4096;
    w->arena = xmalloc(w->arena_cap);
    return w;
}

int rec_writer_header(rec_writer *w, int ncols, const char *const *names, errctx *e)
{
    if (ncols < 1)
        return err_set(e, "%s: no columns to write", w->name);
    if (w->binary && (unsigned)ncols > RECBIN_MAX_COLS)
        return err_set(e, "%s: %d columns: the binary record stream holds at most %u", w->name, ncols,
                       RECBIN_MAX_COLS);
    hmap *seen = hmap_new((size_t)ncols);
    for (int i = 0; i < ncols; i++) {
        int added;
        size_t len = strlen(names[i]);
        if (!len || strpbrk(names[i], "\t\n\r")) {
            hmap_free(seen);
            return err_set(e, "%s: invalid column name '%s'", w->name, names[i]);
        }
        if (w->binary && len > RECBIN_MAX_NAME) {
            hmap_free(seen);
            return err_set(e, "%s: column %d: a name of %zu bytes; the binary record stream holds at most %u", w->name,
                           i + 1, len, RECBIN_MAX_NAME);
        }
        hmap_put(seen, names[i], len, i, &added);
        if (!added) {
            hmap_free(seen);
            return err_set(e, "duplicate output column '%s'", names[i]);
        }
    }
    hmap_free(seen);
    /* a TSV header must read back as itself (rec_open decides the
     * delimiter from it, and drops a byte order mark) */
    int n0 = strlen(names[0]) > 60 ? 60 : (int)strlen(names[0]);
    if (!w->binary && ncols == 1 && strchr(names[0], ','))
        return err_set(e, "%s: column '%.*s%s': a TSV of one column whose name has a comma reads back as CSV; "
                          "rename it, or write the binary stream",
                       w->name, n0, names[0], n0 < (int)strlen(names[0]) ? "..." : "");
    if (!w->binary && strncmp(names[0], "\xef\xbb\xbf", 3) == 0)
        return err_set(e, "%s: column '%.*s%s' starts with a byte order mark, which TSV readers drop; rename it, "
                          "or write the binary stream",
                       w->name, n0, names[0], n0 < (int)strlen(names[0]) ? "..." : "");
    setup_cols(w, ncols, names);
    if (!w->binary) {
        for (int i = 0; i < ncols; i++)
            if (emit(w, names[i], strlen(names[i]), e) < 0 || emit(w, i + 1 < ncols ? "\t" : "\n", 1, e) < 0)
                return -1;
        return 0;
    }
    size_t hlen = RECBIN_MAGIC_LEN + 8;
    for (int i = 0; i < ncols; i++)
        hlen += 4 + strlen(names[i]);
    unsigned char *h = xmalloc(hlen + 4), *p = h;
    memcpy(p, RECBIN_MAGIC, RECBIN_MAGIC_LEN);
    p += RECBIN_MAGIC_LEN;
    wr32(p, RECBIN_VERSION);
    wr32(p + 4, (uint32_t)ncols);
    p += 8;
    for (int i = 0; i < ncols; i++) {
        size_t len = strlen(names[i]);
        wr32(p, (uint32_t)len);
        memcpy(p + 4, names[i], len);
        p += 4 + len;
    }
    wr32(p, (uint32_t)crc32(crc32(0L, Z_NULL, 0), h, (uInt)hlen));
    int rc = emit(w, h, hlen + 4, e);
    free(h);
    return rc;
}

/* ---- cells ---- */

static void arena_add(rec_writer *w, cell *c, const char *s, size_t len)
{
    if (w->arena_len + len > w->arena_cap) {
        while (w->arena_len + len > w->arena_cap)
            w->arena_cap *= 2;
        w->arena = xrealloc(w->arena, w->arena_cap);
    }
    memcpy(w->arena + w->arena_len, s, len);
    c->off = w->arena_len;
    c->len = len;
    w->arena_len += len;
}

void rec_put_str(rec_writer *w, int col, const char *s, size_t len)
{
    cell *c = &w->row[col];
    c->kind = CELL_STR;
    c->caps = 0;
    c->is_text = 1;
    arena_add(w, c, s, len);
}

void rec_put_text(rec_writer *w, int col, const char *s, size_t len)
{
    cell *c = &w->row[col];
    c->is_text = 1;
    arena_add(w, c, s, len);
    if (!w->binary) {
        c->kind = CELL_STR;
        c->caps = 0;
        return;
    }
    c->caps = rec_classify(s, len, &c->i, &c->f, &c->d);
    c->kind = c->caps & REC_CAN_I64 ? CELL_INT : c->caps & REC_CAN_F32 ? CELL_F32 : c->caps ? CELL_F64 : CELL_STR;
    if (c->kind == CELL_INT)
        c->d = (double)c->i;
}

void rec_put_f32(rec_writer *w, int col, float v)
{
    cell *c = &w->row[col];
    c->kind = CELL_F32;
    c->caps = REC_CAN_F32 | REC_CAN_F64;
    c->is_text = 0;
    c->f = v;
    c->d = v;
}

void rec_put_f64(rec_writer *w, int col, double v)
{
    cell *c = &w->row[col];
    c->is_text = 0;
    c->d = v;
    c->kind = CELL_F64;
    c->caps = REC_CAN_F64;
    if ((double)(float)v == v || v != v) {
        c->f = (float)v;
        c->caps |= REC_CAN_F32;
    }
}

void rec_put_i64(rec_writer *w, int col, int64_t v)
{
    cell *c = &w->row[col];
    c->kind = CELL_INT;
    c->is_text = 0;
    c->i = v;
    c->d = (double)v;
    c->f = (float)v;
    c->caps = REC_CAN_I64;
    /* range first: casting a float beyond int64 back is undefined */
    int in_range = v > -9000000000000000000LL && v < 9000000000000000000LL;
    if (in_range && (int64_t)c->f == v)
        c->caps |= REC_CAN_F32;
    if (in_range && (int64_t)c->d == v)
        c->caps |= REC_CAN_F64;
}

void rec_put_field(rec_writer *w, int wcol, rec_reader *r, int rcol)
{
    size_t len;
    if (rec_format(r) == REC_TEXT) {
        const char *s = rec_str(r, rcol, &len);
        rec_put_text(w, wcol, s, len);
        return;
    }
    switch (rec_field_type(r, rcol)) {
    case REC_I64: {
        int64_t v = 0;
        rec_i64(r, rcol, &v, NULL);
        rec_put_i64(w, wcol, v);
        return;
    }
    case REC_F32: {
        float v = 0;
        rec_raw_f32(r, rcol, &v);
        rec_put_f32(w, wcol, v);
        return;
    }
    case REC_F64: {
        double v = 0;
        rec_raw_f64(r, rcol, &v);
        rec_put_f64(w, wcol, v);
        w->row[wcol].caps = REC_CAN_F64; /* keep the input's type */
        return;
    }
    case REC_STR: {
        const char *s = rec_str(r, rcol, &len);
        rec_put_str(w, wcol, s, len);
        return;
    }
    }
}

static int cell_text(const rec_writer *w, const cell *c, char *tmp, size_t tmpn, const char **s)
{
    if (c->is_text) {
        *s = w->arena + c->off;
        return (int)c->len;
    }
    *s = tmp;
    switch (c->kind) {
    case CELL_INT:
        return rec_format_i64(tmp, tmpn, c->i);
    case CELL_F32:
        return rec_format_f32(tmp, tmpn, c->f);
    default:
        return rec_format_f64(tmp, tmpn, c->d);
    }
}

/* ---- binary blocks ---- */

static void bcol_text(bcol *b, const char *s, size_t len)
{
    if (b->slen + len > b->scap) {
        while (b->slen + len > b->scap)
            b->scap *= 2;
        b->sbuf = xrealloc(b->sbuf, b->scap);
    }
    memcpy(b->sbuf + b->slen, s, len);
    b->slen += len;
}

static int flush_block(rec_writer *w, errctx *e)
{
    uint32_t n = w->block_rows;
    if (!n)
        return 0;
    /* choose types and size the payload */
    rec_type *types = xmalloc((size_t)w->ncols * sizeof *types);
    size_t plen = 0;
    for (int c = 0; c < w->ncols; c++) {
        bcol *b = &w->cols[c];
        rec_type t = rec_caps_type(b->caps);
        types[c] = t;
        if (t == REC_STR) {
            size_t bytes = 0;
            for (uint32_t k = 0; k < n; k++) {
                if (b->kind[k] == CELL_STR || (k ? b->send[k] > b->send[k - 1] : b->send[0] > 0))
                    bytes += b->send[k] - (k ? b->send[k - 1] : 0);
                else
                    bytes += 32;
            }
            plen += 1 + 4 + 4ull * n + bytes;
        } else {
            plen += 1 + (t == REC_F32 ? 4ull : 8ull) * n;
        }
    }
    if (12 + plen + 4 > w->payload_cap) {
        free(w->payload);
        w->payload_cap = 12 + plen + 4;
        w->payload = xmalloc(w->payload_cap);
    }
    unsigned char *p = w->payload + 12;
    for (int c = 0; c < w->ncols; c++) {
        bcol *b = &w->cols[c];
        *p++ = (unsigned char)types[c];
        switch (types[c]) {
        case REC_I64:
            for (uint32_t k = 0; k < n; k++, p += 8)
                memcpy(p, &b->i[k], 8);
            break;
        case REC_F32:
            for (uint32_t k = 0; k < n; k++, p += 4) {
                float f = b->f[k];
                memcpy(p, &f, 4);
            }
            break;
        case REC_F64:
            for (uint32_t k = 0; k < n; k++, p += 8) {
                double d = b->d[k];
                memcpy(p, &d, 8);
            }
            break;
        case REC_STR: {
            unsigned char *bytes_at = p;
            unsigned char *offs = p + 4;
            unsigned char *data = offs + 4ull * n;
            uint32_t pos = 0;
            for (uint32_t k = 0; k < n; k++) {
                uint32_t b0 = k ? b->send[k - 1] : 0, b1 = b->send[k];
                if (b1 > b0 || b->kind[k] == CELL_STR) {
                    memcpy(data + pos, b->sbuf + b0, b1 - b0);
                    pos += b1 - b0;
                } else {
                    char tmp[40];
                    cell c1 = {.kind = b->kind[k], .i = b->i[k], .f = b->f[k], .d = b->d[k]};
                    const char *s;
                    int len = cell_text(w, &c1, tmp, sizeof tmp, &s);
                    memcpy(data + pos, s, (size_t)len);
                    pos += (uint32_t)len;
                }
                wr32(offs + 4ull * k, pos);
            }
            wr32(bytes_at, pos);
            p = data + pos;
            break;
        }
        }
    }
    free(types);
    size_t used = (size_t)(p - (w->payload + 12));
    memcpy(w->payload, RECBIN_BLOCK_TAG, 4);
    wr32(w->payload + 4, n);
    wr32(w->payload + 8, (uint32_t)used);
    wr32(p, (uint32_t)crc32(crc32(0L, Z_NULL, 0), w->payload + 4, (uInt)(8 + used)));
    for (int c = 0; c < w->ncols; c++) {
        bcol *b = &w->cols[c];
        b->caps = REC_CAN_I64 | REC_CAN_F32 | REC_CAN_F64;
        b->slen = 0;
    }
    w->block_rows = 0;
    return emit(w, w->payload, 12 + used + 4, e);
}

static uint32_t rd32le(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int rec_put_block(rec_writer *w, const rec_block *b, const int *sel, errctx *e)
{
    if (!w->binary)
        return err_set(e, "%s: internal error: block copy to text output", w->name);
    if (flush_block(w, e) < 0)
        return -1;
    uint32_t n = b->nrows;
    size_t plen = 0;
    for (int c = 0; c < w->ncols; c++) {
        int k = sel[c];
        rec_type t = b->types[k];
        if (t == REC_STR)
            plen += 1 + 4 + 4ull * n + (n ? rd32le(b->offs[k] + 4ull * (n - 1)) : 0);
        else
            plen += 1 + (t == REC_F32 ? 4ull : 8ull) * n;
    }
    if (12 + plen + 4 > w->payload_cap) {
        free(w->payload);
        w->payload_cap = 12 + plen + 4;
        w->payload = xmalloc(w->payload_cap);
    }
    unsigned char *p = w->payload + 12;
    for (int c = 0; c < w->ncols; c++) {
        int k = sel[c];
        rec_type t = b->types[k];
        *p++ = (unsigned char)t;
        if (t == REC_STR) {
            uint32_t bytes = n ? rd32le(b->offs[k] + 4ull * (n - 1)) : 0;
            wr32(p, bytes);
            memcpy(p + 4, b->offs[k], 4ull * n);
            memcpy(p + 4 + 4ull * n, b->data[k], bytes);
            p += 4 + 4ull * n + bytes;
        } else {
            size_t sz = (t == REC_F32 ? 4ull : 8ull) * n;
            memcpy(p, b->data[k], sz);
            p += sz;
        }
    }
    memcpy(w->payload, RECBIN_BLOCK_TAG, 4);
    wr32(w->payload + 4, n);
    wr32(w->payload + 8, (uint32_t)plen);
    wr32(p, (uint32_t)crc32(crc32(0L, Z_NULL, 0), w->payload + 4, (uInt)(8 + plen)));
    return emit(w, w->payload, 12 + plen + 4, e);
}

int rec_end_row(rec_writer *w, errctx *e)
{
    if (w->failed)
        return err_set(e, "%s: output already failed", w->name);
    for (int c = 0; c < w->ncols; c++)
        if (w->row[c].kind == CELL_UNSET) {
            w->failed = 1;
            return err_set(e, "internal error: output column '%s' was not set", w->names[c]);
        }
    int rc = 0;
    if (!w->binary) {
        char tmp[40];
        for (int c = 0; c < w->ncols && !rc; c++) {
            const char *s;
            int len = cell_text(w, &w->row[c], tmp, sizeof tmp, &s);
            if (w->row[c].is_text && memchr(s, '\t', (size_t)len ? (size_t)len : 0))
                rc = err_set(e, "column '%s': value contains a tab, which TSV cannot hold", w->names[c]);
            else if (w->row[c].is_text && (memchr(s, '\n', (size_t)len) || memchr(s, '\r', (size_t)len)))
                rc = err_set(e, "column '%s': value contains a line break, which TSV cannot hold", w->names[c]);
            else if (emit(w, s, (size_t)len, e) < 0 || emit(w, c + 1 < w->ncols ? "\t" : "\n", 1, e) < 0)
                rc = -1;
        }
    } else {
        uint32_t k = w->block_rows;
        for (int c = 0; c < w->ncols; c++) {
            cell *cl = &w->row[c];
            bcol *b = &w->cols[c];
            b->kind[k] = (unsigned char)cl->kind;
            b->caps &= cl->caps;
            b->i[k] = cl->i;
            b->f[k] = cl->f;
            b->d[k] = cl->d;
            if (cl->is_text)
                bcol_text(b, w->arena + cl->off, cl->len);
            if (b->slen > UINT32_MAX / 2) {
                w->failed = 1;
                return err_set(e, "%s: column '%s' holds more than 2 GiB of text in one block", w->name,
                               w->names[c]);
            }
            b->send[k] = (uint32_t)b->slen;
        }
        w->block_rows++;
        if (w->block_rows == w->block_max)
            rc = flush_block(w, e);
    }
    for (int c = 0; c < w->ncols; c++)
        w->row[c].kind = CELL_UNSET;
    w->arena_len = 0;
    if (rc)
        w->failed = 1;
    return rc;
}

static void writer_free(rec_writer *w)
{
    if (w->gz)
        deflateEnd(&w->zs);
    for (int c = 0; c < w->ncols; c++) {
        free(w->names[c]);
        if (w->cols) {
            bcol *b = &w->cols[c];
            free(b->i);
            free(b->f);
            free(b->d);
            free(b->kind);
            free(b->send);
            free(b->sbuf);
        }
    }
    free(w->cols);
    free(w->names);
    free(w->row);
    free(w->arena);
    free(w->out);
    free(w->zout);
    free(w->payload);
    free(w->name);
    free(w);
}

int rec_writer_close(rec_writer *w, errctx *e)
{
    int rc = w->failed ? err_set(e, "%s: output failed earlier", w->name) : 0;
    if (!rc && w->binary) {
        if (!w->names)
            rc = err_set(e, "%s: no header written", w->name);
        else if (flush_block(w, e) < 0)
            rc = -1;
        else {
            unsigned char end[16];
            memcpy(end, RECBIN_BLOCK_TAG, 4);
            wr32(end + 4, 0);
            wr32(end + 8, 0);
            wr32(end + 12, (uint32_t)crc32(crc32(0L, Z_NULL, 0), end + 4, 8));
            rc = emit(w, end, 16, e);
        }
    }
    if (!rc)
        rc = sink_flush(w, 1, e);
    if (w->to_stdout) {
        if (!rc && fflush(stdout) != 0)
            rc = err_set(e, "write error: %s", strerror(errno));
    } else if (rc) {
        afile_abort(&w->af);
    } else {
        rc = afile_commit(&w->af, e);
    }
    writer_free(w);
    return rc;
}

void rec_writer_abort(rec_writer *w)
{
    if (!w)
        return;
    if (w->mem)
        ;
    else if (!w->to_stdout)
        afile_abort(&w->af);
    else
        fflush(stdout);
    writer_free(w);
}

/* ---- pieces ---- */

rec_writer *rec_writer_piece(const rec_writer *w)
{
    rec_writer *p = xcalloc(1, sizeof *p);
    p->binary = w->binary;
    p->mem = 1;
    p->name = xstrdup(w->name);
    p->out_cap = OUTBUF;
    p->out = xmalloc(p->out_cap);
    p->arena_cap = 4096;
    p->arena = xmalloc(p->arena_cap);
    if (w->names)
        setup_cols(p, w->ncols, (const char *const *)w->names);
    return p;
}

int rec_writer_piece_bytes(rec_writer *p, rec_bytes *b, errctx *e)
{
    if (p->failed)
        return err_set(e, "%s: output failed earlier", p->name);
    if (p->binary && flush_block(p, e) < 0)
        return -1;
    unsigned char *out = p->out;
    size_t cap = p->out_cap;
    b->len = p->out_len;
    p->out = b->p;
    p->out_cap = b->cap;
    b->p = out;
    b->cap = cap;
    if (!p->out) {
        p->out_cap = OUTBUF;
        p->out = xmalloc(p->out_cap);
    }
    p->out_len = 0;
    return 0;
}

int rec_writer_put_bytes(rec_writer *w, const rec_bytes *b, errctx *e)
{
    if (w->failed)
        return err_set(e, "%s: output failed earlier", w->name);
    if (w->binary && flush_block(w, e) < 0)
        return -1;
    if (emit(w, b->p, b->len, e) < 0) {
        w->failed = 1;
        return -1;
    }
    return 0;
}

void rec_bytes_free(rec_bytes *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}
