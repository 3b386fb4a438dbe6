/*
 * pmap.h - run a row-by-row stage over pieces of an input on several
 * threads, its output in input order.
 *
 * The calling thread cuts the input into pieces (rec_take: about
 * piece_bytes of whole rows each) and writes results; worker threads each
 * take the next piece, read its rows (parsing numbers there, in parallel)
 * and build output rows with their own piece writer (rec_writer_piece).
 * Results are written to w in the order of the pieces, so the output is
 * the same for any thread count as long as fn's output for a row does not
 * depend on how the input was cut: rec_rows(in) tells fn where in the
 * input its piece starts (see rec_take).
 *
 * Memory: at most threads + 2 pieces in flight, each about
 * piece_bytes of input plus its output.
 *
 * Errors: the first error in input order is reported, as a reading
 * thread would have met it: an error of piece k (from fn) comes before a
 * reading error found while cutting piece k + 1; the rows of the pieces
 * before it have been written to w.
 */
#ifndef RECSTAGE_PMAP_H
#define RECSTAGE_PMAP_H

#include <stddef.h>

#include "cli.h"
#include "err.h"
#include "rec.h"

/* Read every row of `in` and put output rows to `out`; `worker` is
 * 0..threads-1 (for per-thread scratch), never two calls at once for one
 * worker.  0 or -1 with a message. */
typedef int (*pmap_fn)(void *ctx, int worker, rec_reader *in, rec_writer *out, errctx *e);

/* Piece size: the RECSTAGE_PIECE_BYTES environment variable (a tuning
 * and testing knob: 1 to 2^30) or 1 MiB. */
size_t pmap_piece_bytes(void);

/* Run fn over r to its end on `threads` workers (threads 1: all in the
 * calling thread), writing to w, whose header is written.  prog, when not
 * NULL, counts the rows written (from its current count on). */
int pmap_run(rec_reader *r, rec_writer *w, int threads, size_t piece_bytes, pmap_fn fn, void *ctx,
             cli_progress *prog, errctx *e);

#endif
