/*
 * rec.h - record streams: read and write tables of named columns.
 *
 * Input formats are detected, never declared (SPEC section 4):
 *   - gzip by its magic bytes (1f 8b), decompressed on the fly with zlib,
 *     including concatenated members; truncation and corruption are errors;
 *   - the binary record stream by its magic (man 5 recstage-formats):
 *     self-describing blocks of at most 65,536 rows, each with a row count
 *     and a CRC32, ended by an end block, so truncation is detected;
 *   - otherwise text with a header line: tab-separated if the header has a
 *     tab, else comma-separated; CSV quoting ("a,b", "" for a quote, CRLF)
 *     is handled by libcsv; TSV has no quoting (IANA text/tab-separated).
 *
 * Rows are read one at a time (rec_next) and fields fetched by column index
 * (rec_col finds an index by name, rec_select by names and globs).  Numbers
 * parse strictly: the whole field must be a decimal number; nan, inf, hex
 * and surrounding spaces are rejected; an empty field is a missing value.
 * Errors name the place: "train.tsv:1234: column 'label': cannot parse
 * 'yes' as a number" (for binary input the number is the line the row
 * would have in the text form: row index + 2).
 *
 * The writer produces TSV (floats with the fewest digits that read back to
 * the same value: at most 9 for f32, 17 for f64) or the binary stream, with
 * gzip when the file name ends in ".gz", atomically when given a path.
 * The binary writer infers each block's column types from the values put
 * (see rec_put_text), narrowest first: i64, f32, f64, str.
 */
#ifndef RECSTAGE_REC_H
#define RECSTAGE_REC_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "hmap.h"

typedef enum rec_type { REC_I64 = 1, REC_F32 = 2, REC_F64 = 3, REC_STR = 4 } rec_type;

const char *rec_type_name(rec_type t); /* "i64", "f32", "f64", "str" */

/* ---- reading ---- */

typedef struct rec_reader rec_reader;

enum { REC_TEXT = 0, REC_BINARY = 1 };

/* Open path ("-" or NULL: standard input) and read its header.  NULL on
 * failure with a message naming the file. */
rec_reader *rec_open(const char *path, errctx *e);
void rec_close(rec_reader *r);

const char *rec_path(const rec_reader *r); /* display name: the path, or "stdin" */
int rec_format(const rec_reader *r);       /* REC_TEXT or REC_BINARY */
int rec_is_gzip(const rec_reader *r);
char rec_delimiter(const rec_reader *r);   /* '\t' or ',' for text, 0 for binary */

int rec_ncols(const rec_reader *r);
const char *rec_colname(const rec_reader *r, int col);
const char *const *rec_colnames(const rec_reader *r);
/* Index of a column, or -1. */
int rec_find(const rec_reader *r, const char *name);
/* Index of a column, or -1 with "file: no column 'x' (columns: a, b, ...)". */
int rec_col(const rec_reader *r, const char *name, errctx *e);
/* Columns matching a comma-separated list of names and globs ('x_*'), in
 * list order (a glob expands in file order).  Returns the count and a
 * malloc'd index array in *idx; -1 with a message if an item matches
 * nothing.  Duplicates are kept as listed. */
int rec_select(const rec_reader *r, const char *list, int **idx, errctx *e);

/* Advance to the next row: 1 a row, 0 end of input, -1 error. */
int rec_next(rec_reader *r, errctx *e);
/* Line number of the current row (header is line 1). */
uint64_t rec_line(const rec_reader *r);
/* Rows returned so far. */
uint64_t rec_rows(const rec_reader *r);

/* Type of a field of the current row: for text input always REC_STR. */
rec_type rec_field_type(const rec_reader *r, int col);
/* The field as text: the raw bytes for text input, the TSV rendering of a
 * binary value.  Valid until the next rec_next.  NUL-terminated. */
const char *rec_str(rec_reader *r, int col, size_t *len);
/* The field as a number, strictly parsed; -1 with a message naming file,
 * line and column on a missing, malformed or non-finite value. */
int rec_f32(rec_reader *r, int col, float *out, errctx *e);
int rec_f64(rec_reader *r, int col, double *out, errctx *e);
int rec_i64(rec_reader *r, int col, int64_t *out, errctx *e);
/* Binary input: the stored value of a f32 or f64 field, finite or not
 * (for copying); -1 for other types or text input. */
int rec_raw_f32(const rec_reader *r, int col, float *out);
int rec_raw_f64(const rec_reader *r, int col, double *out);
/* Format "file:line: column 'name'" (or "file:line" when col < 0). */
int rec_where(const rec_reader *r, int col, char *buf, size_t n);
/* Set e to "file:line: column 'c': <fmt>" and return -1. */
int rec_error(const rec_reader *r, int col, errctx *e, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Binary input, whole blocks at a time (for copying streams at memory
 * speed).  A block's columns keep the types they have in the input. */
typedef struct rec_block {
    uint32_t nrows;
    int ncols;
    const rec_type *types;            /* per column */
    const unsigned char *const *data; /* per column: values (LE), or string bytes */
    const unsigned char *const *offs; /* per column: str end offsets (LE u32), else NULL */
} rec_block;

/* Take the next whole block of a binary input: 1 a block, 0 end of input,
 * -1 error.  Only between blocks: after rec_open, or after a previous
 * rec_next_block (not in the middle of rows read with rec_next).  The
 * block stays valid until the next read. */
int rec_next_block(rec_reader *r, rec_block *b, errctx *e);

/* ---- pieces, for reading on several threads ----
 *
 * rec_take cuts the next piece of input off r as a reader of its own,
 * which another thread reads like any reader (rec_next, rec_str, rec_f32,
 * ...): about `bytes` bytes of whole text lines, or of whole binary
 * blocks, or (CSV) of rows libcsv has completed.  Only the cutting is
 * sequential; splitting lines into fields, parsing numbers and checking
 * block checksums happen when the piece is read.  A piece has r's
 * columns and name, and its rows their place in the input: rec_line
 * gives a row's line in the whole input, and rec_rows counts from the
 * start of the input (before the piece's first rec_next, it is the number
 * of rows before the piece).  Checks that need the whole stream (gzip
 * framing, the end block, binary stream headers) stay with r and fail
 * rec_take.
 *
 * Returns 1 with the piece in *out (to close with rec_close), 0 at the
 * end of input, -1 on an error.  Use one way of reading per reader: not
 * rec_take after rec_next. */
int rec_take(rec_reader *r, size_t bytes, rec_reader **out, errctx *e);

/* ---- strict number parsing (exposed for option values and tests) ---- */

/* 0 on success; -1 with a reason ("missing value", "cannot parse 'x' as a
 * number", "NaN and Inf are not accepted", "out of range") in e.
 * s is NUL-terminated and len its length. */
int rec_parse_f64(const char *s, size_t len, double *out, errctx *e);
int rec_parse_f32(const char *s, size_t len, float *out, errctx *e);
int rec_parse_i64(const char *s, size_t len, int64_t *out, errctx *e);

/* Which binary types hold a text field so that it prints back to the very
 * same text (the exact text/binary round trip of SPEC section 4):
 *   REC_CAN_I64  canonical integers: "0", "-12" (not "007", "+1", "-0")
 *                within int64;
 *   REC_CAN_F32  the text is exactly what rec_format_f32 prints for its
 *                float32 value (integers below 10^6 included);
 *   REC_CAN_F64  likewise for rec_format_f64 and float64 (integers below
 *                10^15 included).
 * 0 means only a string holds it ("0.50", "1e3", ".5", "nan", "abc").
 * The parsed values are stored in *i, *f, *d as applicable. */
enum { REC_CAN_I64 = 1, REC_CAN_F32 = 2, REC_CAN_F64 = 4 };
unsigned rec_classify(const char *s, size_t len, int64_t *i, float *f, double *d);
/* The narrowest type of a set of REC_CAN_* bits. */
rec_type rec_caps_type(unsigned caps);

/* Shortest text that reads back to the same value ("%.Ng" with the least N
 * that round-trips).  Returns the length written (buf of >= 32 bytes). */
int rec_format_f32(char *buf, size_t n, float v);
/* The double that rec_format_f32's text of v reads back as (0.9f gives
 * 0.9, not 0.899999976), computed without the text when it can be. */
double rec_f32_text_value(float v);
/* "%lld" of v, without printf.  Returns the length (buf of >= 24 bytes). */
int rec_format_i64(char *buf, size_t n, int64_t v);
int rec_format_f64(char *buf, size_t n, double v);

/* ---- grouped streams ---- */

/* Tracks the key column of a grouped stream: rows of one key must be
 * contiguous.  Remembers every key seen, so a key that reappears after
 * another is detected exactly (up to a 2^-64 hash collision): a run of
 * consecutive integer keys (canonical text, "0", "1", "2", ... as
 * simulators write them) as its two ends, in constant memory however
 * long; every other key as a 64-bit hash of its text (16-32 bytes a key,
 * in a table kept at most half full). */
typedef struct rec_group {
    int col;
    char *key;
    size_t key_len, key_cap;
    hset64 seen;
    int64_t run_lo, run_hi; /* the current run of consecutive integer keys */
    int have_run;
    uint64_t groups;
    int started;
} rec_group;

void rec_group_init(rec_group *g, int col);
void rec_group_free(rec_group *g);
/* Call after each rec_next returned a row: 1 if this row starts a new
 * group, 0 if it continues the current one, -1 (with the SPEC message
 * naming key and line and suggesting sort) if the key reappears. */
int rec_group_step(rec_group *g, rec_reader *r, errctx *e);
/* The current group's key (valid until the next new group). */
const char *rec_group_key(const rec_group *g, size_t *len);

/* ---- writing ---- */

typedef struct rec_writer rec_writer;

/* Open an output: path NULL or "-" is standard output; a path is written
 * atomically (temp, fsync, rename on close); a name ending in ".gz" is
 * gzip-compressed; binary selects the binary stream instead of TSV. */
rec_writer *rec_writer_open(const char *path, int binary, errctx *e);
/* Column names; fails on an empty or duplicate name. */
int rec_writer_header(rec_writer *w, int ncols, const char *const *names, errctx *e);

/* Set a field of the row being built (every column once per row). */
void rec_put_str(rec_writer *w, int col, const char *s, size_t len);
/* A field that came from text: the binary writer stores it with the type
 * rec_classify gives; the text writer copies it verbatim. */
void rec_put_text(rec_writer *w, int col, const char *s, size_t len);
void rec_put_f32(rec_writer *w, int col, float v);
void rec_put_f64(rec_writer *w, int col, double v);
void rec_put_i64(rec_writer *w, int col, int64_t v);
/* Copy field rcol of r's current row to column wcol, keeping its type. */
void rec_put_field(rec_writer *w, int wcol, rec_reader *r, int rcol);

/* Binary output: write the columns sel[0..ncols) of a block read with
 * rec_next_block as one block (rows put before it are flushed first). */
int rec_put_block(rec_writer *w, const rec_block *b, const int *sel, errctx *e);

/* Finish the row; -1 on a write error or an unset column. */
int rec_end_row(rec_writer *w, errctx *e);
/* Flush and commit (rename for a path).  Frees w. */
int rec_writer_close(rec_writer *w, errctx *e);
/* Discard: remove the temporary file.  Frees w. */
void rec_writer_abort(rec_writer *w);

/* ---- rows kept as text ----
 *
 * Tools that append columns to their input keep each row's fields as the
 * text they came as (rec_str) until the new values are known, then write
 * them back with rec_put_text: the output copies the input exactly.  Memory
 * grows with the rows added since the last clear. */
typedef struct rec_rowtext {
    int ncols;
    size_t nrows, cap;
    size_t *foff; /* (cap * ncols + 1): field c of row i is text[foff[i*ncols+c] .. foff[..+1]) */
    char *text;
    size_t tlen, tcap;
} rec_rowtext;

void rec_rowtext_init(rec_rowtext *t, int ncols);
void rec_rowtext_clear(rec_rowtext *t); /* no rows, memory kept */
/* Add r's current row (its ncols first columns). */
void rec_rowtext_add(rec_rowtext *t, rec_reader *r);
const char *rec_rowtext_field(const rec_rowtext *t, size_t row, int col, size_t *len);
/* Put the row's fields to columns 0..ncols-1 of w (rec_put_text). */
void rec_rowtext_put(const rec_rowtext *t, size_t row, rec_writer *w);
void rec_rowtext_free(rec_rowtext *t);

/* ---- pieces of output, formatted on other threads ----
 *
 * A piece writer has the columns and format of w and collects rows
 * (rec_put_*, rec_end_row) in memory: TSV lines, or whole binary blocks
 * of its own (a binary stream may cut blocks anywhere).  Its bytes move
 * to a rec_bytes, which rec_writer_put_bytes writes to w, so rows built
 * on several threads go out in the order chosen by the caller.  Free a
 * piece writer with rec_writer_abort. */
typedef struct rec_bytes {
    unsigned char *p;
    size_t len, cap;
} rec_bytes;

rec_writer *rec_writer_piece(const rec_writer *w);
/* Move the rows collected so far to b (its old buffer is reused). */
int rec_writer_piece_bytes(rec_writer *piece, rec_bytes *b, errctx *e);
int rec_writer_put_bytes(rec_writer *w, const rec_bytes *b, errctx *e);
void rec_bytes_free(rec_bytes *b);

#endif
