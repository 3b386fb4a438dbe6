/*
 * test_metrics.c - AUC, log loss, calibration, bootstrap and buckets
 * (common/metrics.c).
 *
 * The AUC is checked against an independent O(n^2) reference that walks
 * every positive/negative pair (the definition, not the rank formula), on
 * random data with many ties, weighted and unweighted; tiny cases are
 * worked by hand in the comments.  The bootstrap is checked for
 * reproducibility, for its documented replicate weights (each replicate
 * against the weighted pairwise reference), for covering the estimate,
 * and for a width that shrinks like 1/sqrt(n).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "metrics.h"
#include "rng.h"
#include "banned.h"

/* sum over pos i, neg j of w_i w_j ([s_i > s_j] + 0.5 [s_i = s_j]) / (W_pos W_neg) */
static double auc_pairwise(const double *s, const unsigned char *y, const double *w, size_t n)
{
    double numer = 0, wpos = 0, wneg = 0;
    for (size_t i = 0; i < n; i++) {
        double wi = w ? w[i] : 1;
        if (y[i])
            wpos += wi;
        else
            wneg += wi;
    }
    for (size_t i = 0; i < n; i++) {
        if (!y[i])
            continue;
        for (size_t j = 0; j < n; j++) {
            if (y[j])
                continue;
            double wij = (w ? w[i] : 1) * (w ? w[j] : 1);
            if (s[i] > s[j])
                numer += wij;
            else if (s[i] == s[j])
                numer += 0.5 * wij;
        }
    }
    if (!(wpos > 0) || !(wneg > 0))
        return NAN;
    return numer / (wpos * wneg);
}

/* Scores on a grid of `levels` values (many ties when levels is small),
 * labels drawn with probability equal to the score (so AUC > 0.5). */
static void random_rows(rng *r, double *s, unsigned char *y, size_t n, int levels)
{
    for (size_t i = 0; i < n; i++) {
        s[i] = ((double)rng_below(r, (uint64_t)levels) + 0.5) / levels;
        y[i] = rng_uniform(r) < s[i];
    }
}

static void test_auc_random(void)
{
    rng r;
    rng_init(&r, 42, 0);
    enum { MAXN = 600 };
    double s[MAXN], w[MAXN];
    unsigned char y[MAXN];
    static const size_t sizes[] = {2, 3, 7, 50, 199, 600};
    static const int levels[] = {1, 2, 5, 20, 1000000};
    int worst_unweighted = 0, worst_weighted = 0, undefined_mismatch = 0, trials = 0;
    for (size_t a = 0; a < sizeof sizes / sizeof *sizes; a++)
        for (size_t b = 0; b < sizeof levels / sizeof *levels; b++)
            for (int rep = 0; rep < 4; rep++) {
                size_t n = sizes[a];
                random_rows(&r, s, y, n, levels[b]);
                for (size_t i = 0; i < n; i++) /* some zero weights, some large */
                    w[i] = rep == 0 ? (double)rng_poisson(&r, 1.0) : rng_uniform(&r) * 10;
                double want = auc_pairwise(s, y, NULL, n), got = metrics_auc(s, y, NULL, n);
                double wwant = auc_pairwise(s, y, w, n), wgot = metrics_auc(s, y, w, n);
                trials++;
                undefined_mismatch += isnan(want) != isnan(got) || isnan(wwant) != isnan(wgot);
                if (!isnan(want) && fabs(got - want) > 1e-12)
                    worst_unweighted++;
                if (!isnan(wwant) && fabs(wgot - wwant) > 1e-12 * (1 + fabs(wwant)))
                    worst_weighted++;
            }
    check(worst_unweighted == 0, "AUC equals the pairwise reference on %d random tied samples (%d differ)",
          trials, worst_unweighted);
    check(worst_weighted == 0, "weighted AUC equals the weighted pairwise reference (%d differ)",
          worst_weighted);
    check(undefined_mismatch == 0, "AUC undefined exactly when the reference is (%d differ)",
          undefined_mismatch);

    /* integer weights are repeated rows: weight 2 on a row = the row twice */
    double s2[8] = {0.2, 0.2, 0.7, 0.4, 0.4, 0.9, 0.2, 0.7};
    unsigned char y2[8] = {0, 1, 1, 0, 1, 0, 0, 1};
    double w2[8] = {2, 1, 3, 0, 1, 1, 2, 1};
    double rs[16];
    unsigned char ry[16];
    size_t m = 0;
    for (int i = 0; i < 8; i++)
        for (int k = 0; k < (int)w2[i]; k++) {
            rs[m] = s2[i];
            ry[m++] = y2[i];
        }
    check_close(metrics_auc(s2, y2, w2, 8), metrics_auc(rs, ry, NULL, m), 1e-15, 0,
                "integer weights act as repeated rows");
}

static void test_auc_by_hand(void)
{
    /* positives 0.9 0.8 0.6, negatives 0.8 0.3 0.1; 9 pairs:
     *   0.9 beats all three            3
     *   0.8 ties 0.8, beats 0.3, 0.1   2.5
     *   0.6 loses to 0.8, beats two    2
     * AUC = 7.5 / 9 = 5/6.  Midranks give the same: ranks of the sorted
     * scores 0.1 0.3 0.6 0.8 0.8 0.9 are 1 2 3 4.5 4.5 6; positives hold
     * 3 + 4.5 + 6 = 13.5; U = 13.5 - 3*4/2 = 7.5. */
    double s[6] = {0.9, 0.8, 0.8, 0.3, 0.6, 0.1};
    unsigned char y[6] = {1, 0, 1, 0, 1, 0};
    check_close(metrics_auc(s, y, NULL, 6), 5.0 / 6.0, 1e-15, 0, "hand case with a tie: 7.5/9");

    double sep[4] = {0.1, 0.2, 0.3, 0.4};
    unsigned char ysep[4] = {0, 0, 1, 1};
    check(metrics_auc(sep, ysep, NULL, 4) == 1, "perfect ranking: 1");
    unsigned char yinv[4] = {1, 1, 0, 0};
    check(metrics_auc(sep, yinv, NULL, 4) == 0, "inverted ranking: 0");
    double tied[4] = {0.5, 0.5, 0.5, 0.5};
    check(metrics_auc(tied, ysep, NULL, 4) == 0.5, "all scores tied: 1/2");

    /* weighted: positive 0.7 (w 2); negatives 0.5 (w 1) and 0.9 (w 3).
     * Pairs: 0.7 > 0.5 gives 2*1 = 2; 0.7 < 0.9 gives 0.  W_pos W_neg =
     * 2 * 4 = 8.  AUC = 2/8 = 0.25 (unweighted it would be 1/2). */
    double ws[3] = {0.7, 0.5, 0.9};
    unsigned char wy[3] = {1, 0, 0};
    double ww[3] = {2, 1, 3};
    check_close(metrics_auc(ws, wy, ww, 3), 0.25, 1e-15, 0, "weighted hand case: 2/8");
    check_close(metrics_auc(ws, wy, NULL, 3), 0.5, 1e-15, 0, "the same unweighted: 1/2");
    /* a tie with weights: positive 0.5 (w 3), negative 0.5 (w 2), negative
     * 0.1 (w 1): 3*2*0.5 + 3*1*1 = 6; W = 3 * 3 = 9; AUC = 2/3 */
    double ts[3] = {0.5, 0.5, 0.1};
    unsigned char ty[3] = {1, 0, 0};
    double tw[3] = {3, 2, 1};
    check_close(metrics_auc(ts, ty, tw, 3), 2.0 / 3.0, 1e-15, 0, "weighted tie counts half: 6/9");
}

static void test_auc_degenerate(void)
{
    double s[3] = {0.1, 0.5, 0.9};
    unsigned char pos[3] = {1, 1, 1}, neg[3] = {0, 0, 0}, mix[3] = {0, 1, 0};
    check(isnan(metrics_auc(s, pos, NULL, 3)), "no negatives: NaN");
    check(isnan(metrics_auc(s, neg, NULL, 3)), "no positives: NaN");
    check(isnan(metrics_auc(s, mix, NULL, 0)), "no rows: NaN");
    check(isnan(metrics_auc(s, mix, NULL, 1)), "one row: NaN");
    double w[3] = {1, 0, 1};
    check(isnan(metrics_auc(s, mix, w, 3)), "positives of zero weight only: NaN");
    double bad[3] = {0.1, NAN, 0.9};
    check(isnan(metrics_auc(bad, mix, NULL, 3)), "a NaN score: NaN");
}

static void test_logloss_calibration(void)
{
    /* rows (0.8, 1) and (0.4, 0): losses -ln 0.8 = 0.2231435513142098 and
     * -ln 0.6 = 0.5108256237659907; mean 0.36698458754010023 */
    double s[2] = {0.8, 0.4};
    unsigned char y[2] = {1, 0};
    check_close(metrics_logloss(s, y, NULL, 2), 0.36698458754010023, 1e-15, 1e-14, "log loss by hand");
    /* weights 3 and 1: (3 * 0.2231435513142098 + 0.5108256237659907) / 4
     * = 1.1802562777086201 / 4 = 0.29506406942715503 */
    double w[2] = {3, 1};
    check_close(metrics_logloss(s, y, w, 2), 0.29506406942715503, 1e-15, 1e-14, "weighted log loss by hand");
    /* clipping: a score of 0 on a positive costs -ln(1e-7) = 16.11809565095832,
     * a score of 1 on a negative the same (up to the rounding of 1 - 1e-7),
     * a score of 0 on a negative -ln(1 - 1e-7) = 1.00000005e-7 */
    double c[3] = {0, 1, 0};
    unsigned char cy[3] = {1, 0, 0};
    check_close(metrics_logloss(c, cy, NULL, 1), 16.11809565095832, 0, 1e-12, "score 0 clipped to 1e-7");
    check_close(metrics_logloss(c + 1, cy + 1, NULL, 1), 16.11809565095832, 0, 1e-8, "score 1 clipped to 1 - 1e-7");
    check_close(metrics_logloss(c + 2, cy + 2, NULL, 1), 1.00000005e-7, 0, 1e-6, "score 0 on a negative: 1e-7");
    check(isfinite(metrics_logloss(c, cy, NULL, 3)), "log loss of certain mistakes is finite");
    check(isnan(metrics_logloss(s, y, NULL, 0)), "log loss of no rows: NaN");

    /* scores 0.8 0.4 0.3, labels 1 0 0: mean score 0.5, mean label 1/3;
     * calibration 1.5 */
    double cs[3] = {0.8, 0.4, 0.3};
    unsigned char cl[3] = {1, 0, 0};
    check_close(metrics_calibration(cs, cl, NULL, 3), 1.5, 1e-15, 1e-14, "calibration by hand");
    /* weights 1 2 0: sum w s = 0.8 + 0.8 = 1.6, sum w y = 1: 1.6 */
    double cw[3] = {1, 2, 0};
    check_close(metrics_calibration(cs, cl, cw, 3), 1.6, 1e-15, 1e-14, "weighted calibration by hand");
    unsigned char none[3] = {0, 0, 0};
    check(isnan(metrics_calibration(cs, none, NULL, 3)), "calibration without positives: NaN");
}

static void test_acc(void)
{
    rng r;
    rng_init(&r, 7, 0);
    enum { N = 1000 };
    static double s[N];
    static unsigned char y[N];
    random_rows(&r, s, y, N, 10);
    metrics_acc a;
    metrics_acc_init(&a);
    uint64_t pos = 0;
    for (int i = 0; i < N; i++) {
        metrics_acc_add(&a, s[i], y[i]);
        pos += y[i];
    }
    metrics_summary m;
    metrics_acc_compute(&a, &m);
    check(m.rows == N && m.positives == pos, "accumulator counts rows and positives");
    check(m.auc == metrics_auc(s, y, NULL, N), "accumulator AUC is the array AUC");
    check(m.logloss == metrics_logloss(s, y, NULL, N), "accumulator log loss is the array log loss");
    check(m.calibration == metrics_calibration(s, y, NULL, N), "accumulator calibration");
    check(m.auc > 0.6 && m.auc < 0.95, "signal in the random rows (AUC %g)", m.auc);
    metrics_acc_free(&a);
    check(a.n == 0 && a.score == NULL, "free empties the accumulator");
    metrics_acc_compute(&a, &m);
    check(m.rows == 0 && isnan(m.auc) && isnan(m.logloss) && isnan(m.calibration),
          "empty accumulator: every metric NaN");
}

static void fill_acc(metrics_acc *a, uint64_t seed, size_t n, int levels)
{
    rng r;
    rng_init(&r, seed, 0);
    metrics_acc_init(a);
    for (size_t i = 0; i < n; i++) {
        double s = ((double)rng_below(&r, (uint64_t)levels) + 0.5) / levels;
        metrics_acc_add(a, s, rng_uniform(&r) < s);
    }
}

static void test_bootstrap(void)
{
    enum { B = 200 };
    metrics_acc a;
    fill_acc(&a, 3, 300, 8);
    double r1[B], r2[B], r3[B];
    metrics_interval c1, c2, c3;
    errctx e;
    check(metrics_bootstrap(&a, B, 11, r1, &c1, &e) == 0, "bootstrap runs");
    check(metrics_bootstrap(&a, B, 11, r2, &c2, &e) == 0, "bootstrap runs again");
    check(memcmp(r1, r2, sizeof r1) == 0 && c1.lo == c2.lo && c1.hi == c2.hi,
          "same seed: identical replicates and interval");
    metrics_bootstrap(&a, B, 12, r3, &c3, &e);
    check(memcmp(r1, r3, sizeof r1) != 0 && (c1.lo != c3.lo || c1.hi != c3.hi),
          "another seed: other replicates and interval");
    check(c1.replicates == B && c1.used == B, "300 rows: every replicate has both classes");

    /* the documented weights: replicate b weights row i by the i-th
     * Poisson(1) draw of rng_init(seed, b); check each replicate against
     * the weighted pairwise reference */
    int differ = 0;
    double *w = malloc(a.n * sizeof *w);
    for (int b = 0; b < B; b += 17) {
        rng r;
        rng_init(&r, 11, (uint64_t)b);
        for (size_t i = 0; i < a.n; i++)
            w[i] = (double)rng_poisson(&r, 1.0);
        differ += fabs(r1[b] - auc_pairwise(a.score, a.label, w, a.n)) > 1e-12;
    }
    free(w);
    check(differ == 0, "each replicate is the weighted AUC of its Poisson weights (%d differ)", differ);

    double auc = metrics_auc(a.score, a.label, NULL, a.n);
    check(c1.lo <= auc && auc <= c1.hi, "interval [%g, %g] contains the AUC %g", c1.lo, c1.hi, auc);
    check(c1.lo < c1.hi, "interval has width");
    /* percentiles are of the replicates: at most 2.5% + 1 below lo */
    int below = 0;
    for (int b = 0; b < B; b++)
        below += r1[b] < c1.lo;
    check(below <= B / 40 + 1 && below >= B / 40 - 1, "about 2.5%% of replicates below lo (%d)", below);
    metrics_acc_free(&a);

    /* width ~ 1/sqrt(n): 16 times the rows, about a quarter of the width */
    metrics_acc small, big;
    fill_acc(&small, 5, 500, 1000);
    fill_acc(&big, 6, 8000, 1000);
    metrics_interval cs, cb;
    metrics_bootstrap(&small, 400, 1, NULL, &cs, &e);
    metrics_bootstrap(&big, 400, 1, NULL, &cb, &e);
    double ratio = (cs.hi - cs.lo) / (cb.hi - cb.lo);
    check(ratio > 2.8 && ratio < 5.5, "width ratio for 16x the rows is about 4 (%g: %g vs %g)", ratio,
          cs.hi - cs.lo, cb.hi - cb.lo);
    double big_auc = metrics_auc(big.score, big.label, NULL, big.n);
    check(cb.lo <= big_auc && big_auc <= cb.hi, "8000 rows: interval contains the AUC");
    metrics_acc_free(&small);
    metrics_acc_free(&big);

    /* few positives: some replicates draw none, are NaN, and are skipped */
    metrics_acc few;
    metrics_acc_init(&few);
    for (int i = 0; i < 30; i++)
        metrics_acc_add(&few, i / 30.0, i == 20 || i == 25);
    double rf[B];
    metrics_interval cf;
    metrics_bootstrap(&few, B, 2, rf, &cf, &e);
    int nan_count = 0;
    for (int b = 0; b < B; b++)
        nan_count += isnan(rf[b]);
    /* P(both positives weigh 0) = e^-2 = 0.135: about 27 of 200 */
    check(nan_count > 10 && nan_count < 50, "replicates without a positive are NaN (%d of %d)", nan_count, B);
    check(cf.used == B - nan_count, "used counts the defined replicates (%d)", cf.used);
    check(!isnan(cf.lo) && !isnan(cf.hi) && cf.lo <= cf.hi, "interval from the defined replicates");
    metrics_acc_free(&few);

    /* one class: no replicate has an AUC */
    metrics_acc one;
    metrics_acc_init(&one);
    for (int i = 0; i < 10; i++)
        metrics_acc_add(&one, 0.1 * i, 1);
    metrics_bootstrap(&one, 50, 1, NULL, &cf, &e);
    check(cf.used == 0 && isnan(cf.lo) && isnan(cf.hi), "one class: no replicate used, NaN interval");
    check(metrics_bootstrap(&one, 0, 1, NULL, &cf, &e) < 0 && strstr(e.msg, "at least 1 replicate"),
          "zero replicates is an error");
    metrics_acc_free(&one);
}

static void test_buckets(void)
{
    const double edges[4] = {1, 6, 21, 101};
    static const struct {
        double v;
        int index;
        const char *label;
    } cases[] = {
        {0, 0, "0"},       {0.5, 0, "0"},      {-3, 0, "0"},     {1, 1, "1-5"},    {5, 1, "1-5"},
        {5.9, 1, "1-5"},   {6, 2, "6-20"},     {20, 2, "6-20"},  {21, 3, "21-100"}, {100, 3, "21-100"},
        {100.5, 3, "21-100"}, {101, 4, ">100"}, {1e12, 4, ">100"}, {NAN, 0, "0"},
    };
    int wrong = 0;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char buf[48];
        int b = metrics_bucket_label(cases[i].v, edges, 4, buf, sizeof buf);
        if (b != cases[i].index || strcmp(buf, cases[i].label) != 0) {
            wrong++;
            fprintf(stderr, "  v=%g: bucket %d '%s', want %d '%s'\n", cases[i].v, b, buf, cases[i].index,
                    cases[i].label);
        }
        if (metrics_bucket_index(cases[i].v, edges, 4) != cases[i].index)
            wrong++;
    }
    check(wrong == 0, "bucket labels and indices for edges 1,6,21,101 (%d wrong)", wrong);

    char buf[48];
    const double single[3] = {1, 2, 6};
    metrics_bucket_name(1, single, 3, buf, sizeof buf);
    check(strcmp(buf, "1") == 0, "one-value bucket named by its value (%s)", buf);
    const double five[2] = {5, 10};
    metrics_bucket_name(0, five, 2, buf, sizeof buf);
    check(strcmp(buf, "<5") == 0, "below a first edge other than 1: '<5' (%s)", buf);
    metrics_bucket_name(1, five, 2, buf, sizeof buf);
    check(strcmp(buf, "5-9") == 0, "middle bucket 5-9 (%s)", buf);
    metrics_bucket_name(2, five, 2, buf, sizeof buf);
    check(strcmp(buf, ">9") == 0, "last bucket >9 (%s)", buf);
    const double zero[1] = {0};
    metrics_bucket_name(0, zero, 1, buf, sizeof buf);
    check(strcmp(buf, "<0") == 0, "edge 0: first bucket '<0' (%s)", buf);
    metrics_bucket_name(1, zero, 1, buf, sizeof buf);
    check(strcmp(buf, ">=0") == 0, "edge 0: last bucket '>=0' (%s)", buf);
    const double big[2] = {1, 9007199254740992.0};
    metrics_bucket_name(2, big, 2, buf, sizeof buf);
    check(strcmp(buf, ">9007199254740991") == 0, "edge 2^53 prints exactly (%s)", buf);

    double *ed;
    errctx e;
    int n = metrics_parse_edges("1,6,21,101", &ed, &e);
    check(n == 4 && ed[0] == 1 && ed[1] == 6 && ed[2] == 21 && ed[3] == 101, "parse 1,6,21,101");
    free(ed);
    n = metrics_parse_edges("0", &ed, &e);
    check(n == 1 && ed[0] == 0, "parse a single edge 0");
    free(ed);
    static const struct {
        const char *list, *msg;
    } bad[] = {
        {"", "empty edge list"},
        {"1,,6", "empty edge (item 2 of '1,,6')"},
        {"1,6,", "empty edge (item 3 of '1,6,')"},
        {"1,6,5", "edges must ascend: 5 after 6"},
        {"1,1", "edges must ascend: 1 after 1"},
        {"1.5", "edge '1.5' is not a non-negative integer"},
        {"1,6.0", "edge '6.0' is not a non-negative integer"},
        {"-1,2", "edge '-1' is not a non-negative integer"},
        {"+1", "edge '+1' is not a non-negative integer"},
        {"a", "edge 'a' is not a non-negative integer"},
        {" 1", "edge ' 1' is not a non-negative integer"},
        {"0x10", "edge '0x10' is not a non-negative integer"},
        {"1e3", "edge '1e3' is not a non-negative integer"},
        {"99999999999999999999", "edge '99999999999999999999' is not a non-negative integer"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ed = (double *)&e; /* must be reset to NULL on failure */
        n = metrics_parse_edges(bad[i].list, &ed, &e);
        check(n == -1 && ed == NULL && strcmp(e.msg, bad[i].msg) == 0, "edges '%s' rejected: got '%s', want '%s'",
              bad[i].list, n == -1 ? e.msg : "(accepted)", bad[i].msg);
    }
}

int main(void)
{
    test_auc_random();
    test_auc_by_hand();
    test_auc_degenerate();
    test_logloss_calibration();
    test_acc();
    test_bootstrap();
    test_buckets();
    return check_done("test_metrics");
}
