/*
 * metrics.c - AUC, log loss, calibration, bootstrap intervals and
 * support-size buckets (see metrics.h for the definitions and contracts).
 *
 * AUC: the rows are sorted once by score (a copy of (score, row) pairs,
 * ties broken by row so the order, and every sum over it, is the same on
 * every run and platform), then walked in ascending order one tie group at
 * a time.  A group with positive weight P and negative weight N, above
 * negatives of total weight B, contributes P * (B + N/2) to the numerator:
 * each of its positives outranks every negative below it and ties with
 * the N in its group.  That is the Mann-Whitney U with midranks, O(n) after
 * the sort, and exactly the pairwise definition (tests check it against
 * the O(n^2) sum).
 *
 * Bootstrap: the sorted order is kept as (row, label, starts-a-tie-group)
 * so a replicate is one pass of weights drawn in row order and summed in
 * sorted order; no replicate sorts again.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "rng.h"
#include "banned.h"

/* ---- the sorted order ---- */

typedef struct scored_row {
    double score;
    size_t row;
} scored_row;

static int cmp_scored_row(const void *pa, const void *pb)
{
    const scored_row *a = pa, *b = pb;
    if (a->score < b->score)
        return -1;
    if (a->score > b->score)
        return 1;
    return (a->row > b->row) - (a->row < b->row);
}

/* The rows in ascending score order (ties by row), and a flag on the first
 * row of each tie group.  NULL order when a score is NaN. */
typedef struct ranked {
    size_t n;
    size_t *order;            /* (n) row indices */
    unsigned char *label;     /* (n) labels in sorted order */
    unsigned char *tie_start; /* (n) 1 where a new score begins */
} ranked;

static int ranked_build(ranked *rk, const double *score, const unsigned char *label, size_t n)
{
    memset(rk, 0, sizeof *rk);
    rk->n = n;
    for (size_t i = 0; i < n; i++)
        if (isnan(score[i]))
            return -1;
    scored_row *tmp = xmalloc((n ? n : 1) * sizeof *tmp);
    for (size_t i = 0; i < n; i++) {
        tmp[i].score = score[i];
        tmp[i].row = i;
    }
    qsort(tmp, n, sizeof *tmp, cmp_scored_row);
    rk->order = xmalloc((n ? n : 1) * sizeof *rk->order);
    rk->label = xmalloc(n ? n : 1);
    rk->tie_start = xmalloc(n ? n : 1);
    for (size_t k = 0; k < n; k++) {
        rk->order[k] = tmp[k].row;
        rk->label[k] = label[tmp[k].row] != 0;
        rk->tie_start[k] = k == 0 || tmp[k].score != tmp[k - 1].score;
    }
    free(tmp);
    return 0;
}

static void ranked_free(ranked *rk)
{
    free(rk->order);
    free(rk->label);
    free(rk->tie_start);
    memset(rk, 0, sizeof *rk);
}

/* The AUC over the sorted order with weight[row] (NULL: 1), O(n). */
static double ranked_auc(const ranked *rk, const double *weight)
{
    double neg_below = 0, pos_total = 0, numer = 0;
    double grp_pos = 0, grp_neg = 0;
    for (size_t k = 0; k < rk->n; k++) {
        if (rk->tie_start[k]) {
            numer += grp_pos * (neg_below + 0.5 * grp_neg);
            neg_below += grp_neg;
            pos_total += grp_pos;
            grp_pos = grp_neg = 0;
        }
        double w = weight ? weight[rk->order[k]] : 1.0;
        if (rk->label[k])
            grp_pos += w;
        else
            grp_neg += w;
    }
    numer += grp_pos * (neg_below + 0.5 * grp_neg);
    neg_below += grp_neg;
    pos_total += grp_pos;
    if (!(pos_total > 0) || !(neg_below > 0))
        return NAN;
    return numer / (pos_total * neg_below);
}

/* ---- metrics of arrays ---- */

double metrics_auc(const double *score, const unsigned char *label, const double *weight, size_t n)
{
    ranked rk;
    if (ranked_build(&rk, score, label, n) < 0)
        return NAN;
    double auc = ranked_auc(&rk, weight);
    ranked_free(&rk);
    return auc;
}

double metrics_logloss(const double *score, const unsigned char *label, const double *weight, size_t n)
{
    double loss = 0, total = 0;
    for (size_t i = 0; i < n; i++) {
        double w = weight ? weight[i] : 1.0;
        if (w == 0)
            continue;
        double p = score[i];
        if (p < METRICS_CLIP)
            p = METRICS_CLIP;
        else if (p > 1 - METRICS_CLIP)
            p = 1 - METRICS_CLIP;
        loss += w * -(label[i] ? log(p) : log1p(-p));
        total += w;
    }
    return total > 0 ? loss / total : NAN;
}

double metrics_calibration(const double *score, const unsigned char *label, const double *weight,
                           size_t n)
{
    double sum_score = 0, sum_label = 0;
    for (size_t i = 0; i < n; i++) {
        double w = weight ? weight[i] : 1.0;
        sum_score += w * score[i];
        if (label[i])
            sum_label += w;
    }
    return sum_label > 0 ? sum_score / sum_label : NAN;
}

/* ---- one group's rows ---- */

void metrics_acc_init(metrics_acc *a)
{
    memset(a, 0, sizeof *a);
}

void metrics_acc_add(metrics_acc *a, double score, int label)
{
    if (a->n == a->cap) {
        size_t cap = a->cap ? 2 * a->cap : 64;
        a->score = xrealloc(a->score, cap * sizeof *a->score);
        a->label = xrealloc(a->label, cap);
        a->cap = cap;
    }
    a->score[a->n] = score;
    a->label[a->n] = label != 0;
    a->positives += label != 0;
    a->n++;
}

void metrics_acc_compute(const metrics_acc *a, metrics_summary *out)
{
    out->rows = a->n;
    out->positives = a->positives;
    out->auc = metrics_auc(a->score, a->label, NULL, a->n);
    out->logloss = metrics_logloss(a->score, a->label, NULL, a->n);
    out->calibration = metrics_calibration(a->score, a->label, NULL, a->n);
}

void metrics_acc_free(metrics_acc *a)
{
    free(a->score);
    free(a->label);
    metrics_acc_init(a);
}

/* ---- bootstrap ---- */

static int cmp_double(const void *pa, const void *pb)
{
    double a = *(const double *)pa, b = *(const double *)pb;
    return (a > b) - (a < b);
}

/* Hyndman and Fan type 7: x sorted, m >= 1. */
static double percentile(const double *x, int m, double q)
{
    double pos = q * (double)(m - 1);
    int k = (int)floor(pos);
    if (k >= m - 1)
        return x[m - 1];
    double frac = pos - (double)k;
    return x[k] + frac * (x[k + 1] - x[k]);
}

/* Poisson(1) by inversion against a table of its CDF: the same draws as
 * rng_poisson(r, 1.0), which sums the same terms in the same order on
 * every call (test_metrics checks replicates against rng_poisson), at a
 * fraction of the cost since exp() is taken once.  The draws dominate a
 * replicate's time. */
#define POISSON1_MAX 1000

static void poisson1_table(double *cdf)
{
    double p = exp(-1.0), c = p;
    cdf[0] = c;
    for (int k = 1; k <= POISSON1_MAX; k++) {
        p *= 1.0 / (double)k;
        c += p;
        cdf[k] = c;
    }
}

static double poisson1(rng *r, const double *cdf)
{
    double u = rng_uniform(r);
    int k = 0;
    while (u > cdf[k] && k < POISSON1_MAX)
        k++;
    return (double)k;
}

int metrics_bootstrap(const metrics_acc *a, int replicates, uint64_t seed, double *replicate_auc,
                      metrics_interval *out, errctx *e)
{
    if (replicates < 1)
        return err_set(e, "bootstrap needs at least 1 replicate (got %d)", replicates);
    out->replicates = replicates;
    out->used = 0;
    out->lo = out->hi = NAN;
    ranked rk;
    if (ranked_build(&rk, a->score, a->label, a->n) < 0) {
        for (int b = 0; replicate_auc && b < replicates; b++)
            replicate_auc[b] = NAN;
        return 0;
    }
    double cdf[POISSON1_MAX + 1];
    poisson1_table(cdf);
    double *weight = xmalloc((a->n ? a->n : 1) * sizeof *weight);
    double *aucs = xmalloc((size_t)replicates * sizeof *aucs);
    for (int b = 0; b < replicates; b++) {
        rng r;
        rng_init(&r, seed, (uint64_t)b);
        for (size_t i = 0; i < a->n; i++)
            weight[i] = poisson1(&r, cdf);
        double auc = ranked_auc(&rk, weight);
        if (replicate_auc)
            replicate_auc[b] = auc;
        if (!isnan(auc))
            aucs[out->used++] = auc;
    }
    if (out->used > 0) {
        qsort(aucs, (size_t)out->used, sizeof *aucs, cmp_double);
        out->lo = percentile(aucs, out->used, METRICS_CI_LO);
        out->hi = percentile(aucs, out->used, METRICS_CI_HI);
    }
    free(aucs);
    free(weight);
    ranked_free(&rk);
    return 0;
}

/* ---- support-size buckets ---- */

/* Edges are integers up to 2^53, so they and their neighbours print
 * exactly with %.0f. */
#define EDGE_MAX 9007199254740992.0

int metrics_parse_edges(const char *list, double **edges, errctx *e)
{
    *edges = NULL;
    if (!*list)
        return err_set(e, "empty edge list");
    int count = 1;
    for (const char *p = list; *p; p++)
        count += *p == ',';
    double *out = xmalloc((size_t)count * sizeof *out);
    const char *p = list;
    for (int i = 0; i < count; i++) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char item[64];
        if (len == 0) {
            free(out);
            return err_set(e, "empty edge (item %d of '%s')", i + 1, list);
        }
        if (len >= sizeof item) {
            free(out);
            return err_set(e, "edge '%.*s...' is too long", 20, p);
        }
        memcpy(item, p, len);
        item[len] = '\0';
        /* digits only: no sign, point, exponent, hex or spaces */
        size_t digits = strspn(item, "0123456789");
        double v = digits == len ? strtod(item, NULL) : -1;
        if (v < 0 || !(v <= EDGE_MAX)) {
            free(out);
            return err_set(e, "edge '%s' is not a non-negative integer", item);
        }
        if (i > 0 && !(v > out[i - 1])) {
            err_set(e, "edges must ascend: %.0f after %.0f", v, out[i - 1]);
            free(out);
            return -1;
        }
        out[i] = v;
        p += len + 1;
    }
    *edges = out;
    return count;
}

int metrics_bucket_index(double v, const double *edges, int nedges)
{
    /* binary search for the number of edges <= v; NaN compares false
     * everywhere and lands in bucket 0 */
    int lo = 0, hi = nedges;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (edges[mid] <= v)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

int metrics_bucket_name(int bucket, const double *edges, int nedges, char *buf, size_t n)
{
    if (bucket <= 0) {
        if (edges[0] == 1)
            return snprintf(buf, n, "0");
        return snprintf(buf, n, "<%.0f", edges[0]);
    }
    if (bucket >= nedges) {
        double last = edges[nedges - 1];
        if (last >= 1)
            return snprintf(buf, n, ">%.0f", last - 1);
        return snprintf(buf, n, ">=%.0f", last);
    }
    double lo = edges[bucket - 1], hi = edges[bucket] - 1;
    if (hi == lo)
        return snprintf(buf, n, "%.0f", lo);
    return snprintf(buf, n, "%.0f-%.0f", lo, hi);
}

int metrics_bucket_label(double v, const double *edges, int nedges, char *buf, size_t n)
{
    int b = metrics_bucket_index(v, edges, nedges);
    metrics_bucket_name(b, edges, nedges, buf, n);
    return b;
}
