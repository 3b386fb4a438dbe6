/*
 * recmetrics.h - rec-metrics's whole-stream operation: read label and
 * score columns from record streams, group the rows, and write one TSV
 * row of metrics (metrics.h) per group and a final "all" row.
 */
#ifndef RECSTAGE_RECMETRICS_H
#define RECSTAGE_RECMETRICS_H

#include <stdint.h>

#include "err.h"

typedef struct recmetrics_opts {
    const char *const *inputs; /* file operands; none means stdin */
    int ninputs;
    const char *output;    /* NULL: stdout; else written atomically */
    const char *label_col; /* values 0 or 1 */
    const char *score_col; /* probabilities in [0, 1] */
    const char *by_col;    /* NULL: only the "all" row */
    const double *edges;   /* with by_col: bucket its numeric values; else NULL */
    int nedges;
    int bootstrap;         /* replicates; 0 for no interval */
    uint64_t seed;
} recmetrics_opts;

/* Run rec-metrics: 0 on success, -1 with a message naming file, line and
 * column.  Every row is kept in memory (9 bytes a row, twice with
 * by_col: once in its group, once in "all") until the input ends; then
 * the table is computed and written.  Nothing is written on failure, and
 * an output file is left untouched.  Inputs are read in order as one
 * stream; each has its columns looked up by name. */
int recmetrics_run(const recmetrics_opts *o, errctx *e);

/* The bootstrap seed of a group: hash64 of its label (the "group" field)
 * with the --seed value, so groups draw independent weights and a group's
 * interval does not depend on which other groups exist. */
uint64_t recmetrics_group_seed(const char *name, size_t len, uint64_t seed);

#endif
