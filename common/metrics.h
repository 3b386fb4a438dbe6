/*
 * metrics.h - evaluation metrics of a binary classifier's probability
 * scores: exact ROC AUC with ties, log loss, calibration, counts, and
 * bootstrap intervals of the AUC; plus the support-size buckets that
 * evaluations are grouped by.
 *
 * Definitions (the same in rec-metrics(1), which prints them):
 *
 *   AUC  = sum_{i pos, j neg} w_i w_j ([s_i > s_j] + 1/2 [s_i = s_j])
 *          / (W_pos W_neg)
 *        the Mann-Whitney U statistic with midranks for tied scores, the
 *        probability that a random positive outranks a random negative,
 *        ties counting one half.  Unweighted: every w is 1.  NaN when there
 *        is no positive or no negative (of positive weight).
 *   log loss    = sum_i w_i l_i / sum_i w_i, with
 *        l_i = -(y_i log p_i + (1 - y_i) log(1 - p_i)) and p_i the score
 *        clipped to [METRICS_CLIP, 1 - METRICS_CLIP], so a confident
 *        mistake costs at most -log(1e-7) = 16.1 instead of infinity.
 *   calibration = sum_i w_i s_i / sum_i w_i y_i   (mean score / mean label;
 *        1 is calibrated); NaN when there is no positive.
 *
 * AUC costs one sort of the scores, O(n log n), then one pass over tie
 * groups in ascending score order: each tie group adds
 * W_pos(group) * (W_neg(below) + W_neg(group) / 2).
 * Every sum accumulates in double.
 *
 * Scores must be finite (a NaN score makes the AUC NaN); labels are 0 or 1;
 * weights are finite and >= 0.  The functions do not print or exit.
 */
#ifndef RECSTAGE_METRICS_H
#define RECSTAGE_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* Scores are clipped to [METRICS_CLIP, 1 - METRICS_CLIP] in the log loss. */
#define METRICS_CLIP 1e-7
/* The bootstrap interval: these percentiles of the replicate AUCs. */
#define METRICS_CI_LO 0.025
#define METRICS_CI_HI 0.975

/* ---- metrics of arrays ---- */

/* ROC AUC of score (n) against label (n, each 0 or 1), with per-row
 * weights (n, >= 0), or unweighted when weight is NULL; see the definition
 * above.  NaN when W_pos or W_neg is 0 (n == 0 included), or a score is
 * NaN.  Allocates O(n) scratch (dies on out of memory). */
double metrics_auc(const double *score, const unsigned char *label, const double *weight, size_t n);

/* Mean binary cross-entropy of the clipped scores (see above), weighted
 * when weight is not NULL.  NaN when the total weight is 0. */
double metrics_logloss(const double *score, const unsigned char *label, const double *weight, size_t n);

/* Mean score / mean label (weighted when weight is not NULL).  NaN when
 * there is no positive of positive weight. */
double metrics_calibration(const double *score, const unsigned char *label, const double *weight,
                           size_t n);

/* ---- one group's rows ---- */

/* The rows of one group, kept in memory (9 bytes a row) because the AUC
 * needs them all.  Zero-initialised (or metrics_acc_init) is empty. */
typedef struct metrics_acc {
    double *score;        /* (n) */
    unsigned char *label; /* (n) 0 or 1 */
    size_t n, cap;
    uint64_t positives;
} metrics_acc;

typedef struct metrics_summary {
    uint64_t rows, positives;
    double auc;         /* NaN: one class only */
    double logloss;     /* NaN: no rows */
    double calibration; /* NaN: no positives */
} metrics_summary;

/* Make `a` empty (allocates nothing). */
void metrics_acc_init(metrics_acc *a);
/* Append a row: score finite (a probability for the log loss to mean
 * anything), label 0 or 1 (any non-zero counts as 1).  Amortised O(1);
 * dies on out of memory. */
void metrics_acc_add(metrics_acc *a, double score, int label);
/* Rows, positives, AUC, log loss and calibration of the rows so far. */
void metrics_acc_compute(const metrics_acc *a, metrics_summary *out);
/* Release the arrays of `a` and make it empty again (reusable). */
void metrics_acc_free(metrics_acc *a);

/* ---- bootstrap ---- */

typedef struct metrics_interval {
    double lo, hi; /* METRICS_CI_LO and _HI percentiles; NaN when used == 0 */
    int replicates; /* asked for */
    int used;       /* with a defined AUC; the others are skipped */
} metrics_interval;

/* Percentile bootstrap interval of the AUC of a's rows: `replicates`
 * replicates; replicate b weights row i (in the order added) by the i-th
 * draw of Poisson(1) from rng_init(seed, b), so the result depends only on
 * the rows, seed and replicate count (and any replicate can be computed
 * on its own, by any thread).  A replicate whose weights leave no positive
 * or no negative has no AUC and is skipped: out->used counts the others,
 * and the interval is of those (it is conditional on both classes being
 * drawn, which matters only for groups with a handful of one class).
 * Percentiles interpolate linearly between order statistics (Hyndman and
 * Fan type 7).  The scores are sorted once; each replicate is then O(n).
 * If replicate_auc is not NULL it receives (replicates) AUCs, NaN for the
 * skipped ones.  Returns 0, or -1 with a message if replicates < 1. */
int metrics_bootstrap(const metrics_acc *a, int replicates, uint64_t seed, double *replicate_auc,
                      metrics_interval *out, errctx *e);

/* ---- support-size buckets ---- */

/* Parse an edge list "1,6,21,101": strictly ascending non-negative
 * integers (decimal digits, at most 2^53), comma-separated, no spaces.  Returns the count
 * (>= 1) and a malloc'd array in *edges, or -1 with a message ("edge 'x'
 * is not a non-negative integer", "edges must ascend: 6 after 21", ...). */
int metrics_parse_edges(const char *list, double **edges, errctx *e);

/* The bucket of v given ascending lower edges e_0 < ... < e_{k-1}:
 * 0 when v < e_0 (or v is NaN), i when e_{i-1} <= v < e_i, k when
 * v >= e_{k-1}.  nedges >= 1. */
int metrics_bucket_index(double v, const double *edges, int nedges);

/* The label of bucket b (0..nedges) into buf (n bytes, 48 is enough):
 * bucket 0 is "<e_0", written "0" when e_0 is 1 (a count below 1 is 0);
 * bucket i is "e_{i-1}-(e_i - 1)", or "e_{i-1}" when that is one value;
 * the last is ">(e_{k-1} - 1)" (">=0" when e_{k-1} is 0).  Edges are
 * integers, so the labels name the integer values of each bucket; a
 * fractional v lies in the bucket of its floor.  Edges 1,6,21,101 give
 * "0", "1-5", "6-20", "21-100", ">100".  Returns snprintf's length. */
int metrics_bucket_name(int bucket, const double *edges, int nedges, char *buf, size_t n);

/* The label of the bucket of v: metrics_bucket_name of
 * metrics_bucket_index.  Returns the bucket index. */
int metrics_bucket_label(double v, const double *edges, int nedges, char *buf, size_t n);

#endif
