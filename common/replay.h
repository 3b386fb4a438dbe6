/*
 * replay.h - offline replay of new ranked lists against logged ones
 * (replay-eval(1); SPEC section 9), and Pareto marking.
 *
 * Data.  The logged stream (multislot-sim's): every candidate of each
 * request, the shown ones with their slot 1..K, their objective labels
 * (click, save, ...) and their propensity mu_k = the logging policy's
 * probability of that item at slot k given the items above.  The new
 * lists: request_id slot item_id, one item per slot (deterministic), or
 * with a pi column, rows giving the evaluation policy's probability
 * pi_k(i) of item i at slot k given the logged items above it (several
 * items per slot; stochastic).  Both grouped by request, the new lists'
 * requests a subsequence of the logged ones, in the same order: the two
 * are merge-joined in one pass.
 *
 * Estimators.  For request i with logged items l_1..l_K and rewards
 * r_k (the label of l_k), rho_k = pi_k(l_k) / mu_k(l_k) (for a
 * deterministic list pi_k(l_k) = 1 if the new list has l_k at slot k,
 * else 0), and weights
 *
 *   prefix  w_k = rho_1 ... rho_k           slot k counts when the lists
 *                                           agree on slots 1..k
 *   slot    w_k = pi_k(l_k) n               the item at slot k alone, under
 *                                           uniform logging (an item is at slot
 *                                           k with probability 1/n)
 *   list    w_k = rho_1 ... rho_K'          the whole new list (K' slots)
 *
 *   value = 1/n sum_i sum_k w_ik r_ik                     (inverse propensity)
 *   value = sum_k (sum_i w_ik r_ik) / (sum_i w_ik)        (--self-normalize)
 *
 * over the n requests of the new lists, k = 1..K' (the new list's
 * length; it may not exceed the logged one's).  The reward at slot k
 * depends on the items above it (context) and on the examination of slot
 * k; prefix matching fixes everything above, so its inverse-propensity
 * estimate is unbiased for any logging policy with propensities; slot
 * matching is unbiased only when an item's reward does not depend on the
 * items above (no context effect, position examination), and needs
 * uniform logging (the log holds each item's probability given the slots
 * above, not its marginal probability at a slot); list matching
 * is unbiased but matches rarely.  Under uniform logging every weight is
 * the same constant, and the self-normalised prefix estimate is the
 * classic replay: the mean reward over the requests that match.
 *
 * Intervals: the inverse-propensity value is a mean over requests (its
 * standard error the sample standard deviation over sqrt(n)); the
 * self-normalised one's standard error comes from the bootstrap.  The
 * Poisson bootstrap (request i weighs k ~ Poisson(1) in replicate b,
 * stream (seed, REPLAY_STREAM_BOOT + i)) accumulates every sum in the
 * same pass; intervals are bootstrap percentiles, or value +- z se
 * without a bootstrap.
 *
 * Descriptive rows for deterministic new lists, over all n requests:
 * distinct_categories (in the K' slots), intra_list_similarity (mean
 * cosine of the f_* features over pairs of listed items; 0 for one item)
 * and mean_age (hours).
 *
 * Memory: one request of each input and the sums (slots x replicates x
 * objectives); nothing grows with the number of requests.
 */
#ifndef RECSTAGE_REPLAY_H
#define RECSTAGE_REPLAY_H

#include <stdint.h>

#include "err.h"
#include "rerank.h"

enum { REPLAY_PREFIX, REPLAY_SLOT, REPLAY_LIST };
#define REPLAY_STREAM_BOOT 0x50000ULL

typedef struct replay_cfg {
    int match;              /* REPLAY_* */
    int self_norm;
    int bootstrap;          /* replicates */
    uint64_t seed;
    double level;
    const char *const *obj; /* objective label columns */
    int O;
    rerank_cols cols;       /* request, item, category, age, slot, features */
    const char *propensity; /* the logged propensity column */
    const char *pi;         /* the new lists' probability column, if present */
} replay_cfg;

typedef struct replay_row {
    char name[64];          /* an objective, or a descriptive measure */
    double value, se, lo, hi;
    uint64_t matched, requests;
} replay_row;

/* Join and estimate.  *rows (malloc'd): one per objective, then the
 * descriptive rows.  Errors name file, line and column: an item of a new
 * list that is not a candidate of its request, a slot of a new list
 * given twice or with a gap, a new list longer than the logged one, pi
 * outside [0, 1] or summing above 1 at a slot, a request of the new
 * lists missing from the log or out of order, a logged propensity
 * outside (0, 1], and every error of the logged stream (rerank.h). */
int replay_run(const char *log_path, const char *new_path, const replay_cfg *c, replay_row **rows, int *nrows,
               errctx *e);

/* Pareto marking: vals (n, m) row-major, sense[j] = +1 to maximize
 * column j, -1 to minimize.  out[r] = 1 when no row dominates row r (at
 * least as good on every column and better on one); equal rows do not
 * dominate each other. */
void pareto_mark(const double *vals, int n, int m, const int *sense, unsigned char *out);
/* replay-eval --pareto: read the table of path (NULL: stdin), mark its
 * rows by the columns of maximize and minimize (comma-separated names or
 * globs; either may be NULL), write the table with a pareto column
 * appended to output (NULL: stdout).  The table is held in memory. */
int pareto_table(const char *path, const char *maximize, const char *minimize, const char *output, int binary,
                 errctx *e);

#endif
