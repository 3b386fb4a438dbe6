/*
 * recops.h - whole-stream operations on record streams, behind rec-cat:
 * conversion with column selection, schema inference, validation and the
 * grouping check.
 */
#ifndef RECSTAGE_RECOPS_H
#define RECSTAGE_RECOPS_H

#include <stdint.h>

#include "err.h"

typedef struct recops_cat_opts {
    const char *const *inputs; /* file operands; none means stdin */
    int ninputs;
    const char *output;  /* NULL: stdout */
    int binary;          /* write the binary stream */
    const char *columns; /* names and globs, or NULL for all */
    int64_t head;        /* at most this many rows; < 0 for all */
    int schema;          /* print column, type, missing */
    int check;           /* parse every value */
    const char *group_col;
} recops_cat_opts;

/* Run rec-cat: 0 on success, -1 with a message naming file, line and
 * column.  Several inputs must have the same columns; they are read in
 * order as one stream.  Any failure leaves no output file. */
int recops_cat(const recops_cat_opts *o, errctx *e);

#endif
