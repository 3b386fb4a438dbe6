/*
 * test_membersim.c - the member simulator against the properties it is
 * meant to have (membersim.h, member-sim(1)): determinism and order
 * independence; the row-count distribution (median, cap, share of
 * infrequent members against the log-normal it is drawn from); the click
 * rate; the linear R^2 of taste from member features, refitted here by
 * least squares; drift (the day-lag autocorrelation of taste against the
 * random-walk formula, exactly 1 without drift); calibration of p_true
 * against the labels; the personal share of the logit variance; item
 * popularity; configuration errors; and the written table read back.
 *
 * Statistical checks use tolerances of about 4 standard errors or the
 * stated slack, so they fail when the model is wrong, not by chance (and
 * every draw is seeded, so they cannot flicker).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "membersim.h"
#include "rec.h"
#include "banned.h"

static membersim *sim_new(const membersim_cfg *c)
{
    errctx e;
    membersim *s = membersim_new(c, &e);
    if (!s) {
        fprintf(stderr, "membersim_new: %s\n", e.msg);
        exit(2);
    }
    return s;
}

/* Phi, the standard normal CDF. */
static double norm_cdf(double z)
{
    return 0.5 * erfc(-z / sqrt(2));
}

static int same_member(const membersim *s, const membersim_member *a, const membersim_member *b)
{
    int K = s->cfg.latent_dim, D = s->cfg.days, M = s->cfg.meta_features;
    if (a->nrows != b->nrows || a->cluster != b->cluster)
        return 0;
    return memcmp(a->p, b->p, (size_t)D * K * sizeof *a->p) == 0 &&
           memcmp(a->m, b->m, (size_t)M * sizeof *a->m) == 0 &&
           memcmp(a->ts, b->ts, (size_t)a->nrows * sizeof *a->ts) == 0 &&
           memcmp(a->item, b->item, (size_t)a->nrows * sizeof *a->item) == 0 &&
           memcmp(a->label, b->label, (size_t)a->nrows) == 0 &&
           memcmp(a->logit, b->logit, (size_t)a->nrows * sizeof *a->logit) == 0;
}

/* A deep copy of a member (the generator reuses its buffers). */
typedef struct member_copy {
    membersim_member u;
    double *p, *logit, *personal;
    float *m;
    int64_t *ts;
    int32_t *item;
    unsigned char *label;
} member_copy;

static void copy_member(member_copy *c, const membersim *s, const membersim_member *u)
{
    size_t KD = (size_t)s->cfg.latent_dim * s->cfg.days, M = (size_t)s->cfg.meta_features,
           n = (size_t)u->nrows;
    c->u = *u;
    c->p = malloc(KD * sizeof *c->p);
    c->m = malloc(M * sizeof *c->m);
    c->ts = malloc(n * sizeof *c->ts);
    c->item = malloc(n * sizeof *c->item);
    c->label = malloc(n);
    c->logit = malloc(n * sizeof *c->logit);
    c->personal = malloc(n * sizeof *c->personal);
    memcpy(c->p, u->p, KD * sizeof *c->p);
    memcpy(c->m, u->m, M * sizeof *c->m);
    memcpy(c->ts, u->ts, n * sizeof *c->ts);
    memcpy(c->item, u->item, n * sizeof *c->item);
    memcpy(c->label, u->label, n);
    memcpy(c->logit, u->logit, n * sizeof *c->logit);
    memcpy(c->personal, u->personal, n * sizeof *c->personal);
    c->u.p = c->p;
    c->u.m = c->m;
    c->u.ts = c->ts;
    c->u.item = c->item;
    c->u.label = c->label;
    c->u.logit = c->logit;
    c->u.personal = c->personal;
}

static void free_copy(member_copy *c)
{
    free(c->p);
    free(c->m);
    free(c->ts);
    free(c->item);
    free(c->label);
    free(c->logit);
    free(c->personal);
}

static void test_determinism(void)
{
    membersim_cfg c;
    membersim_defaults(&c);
    c.members = 100;
    membersim *a = sim_new(&c), *b = sim_new(&c);
    size_t I = (size_t)c.items, F = (size_t)c.features;
    check(memcmp(a->x, b->x, I * F * sizeof *a->x) == 0, "same seed: same item features");
    check(a->bias == b->bias && a->meta_noise_sd == b->meta_noise_sd, "same seed: same calibrations");
    membersim_member u, v;
    member_copy first;
    membersim_member_gen(a, 17, &u);
    copy_member(&first, a, &u);
    /* member 17 again, after others, and from the other simulator */
    membersim_member_gen(a, 3, &u);
    membersim_member_gen(a, 99, &u);
    membersim_member_gen(a, 17, &u);
    check(same_member(a, &first.u, &u), "member 17 is the same whatever was generated before");
    membersim_member_gen(b, 17, &v);
    check(same_member(a, &first.u, &v), "member 17 is the same from a second simulator");
    free_copy(&first);

    membersim_cfg c2 = c;
    c2.seed = 2;
    membersim *d = sim_new(&c2);
    check(memcmp(a->x, d->x, I * F * sizeof *a->x) != 0, "other seed: other item features");
    membersim_member_gen(a, 17, &u);
    copy_member(&first, a, &u);
    membersim_member_gen(d, 17, &v);
    check(!same_member(a, &first.u, &v), "other seed: member 17 differs");
    check(memcmp(first.u.m, v.m, (size_t)c.meta_features * sizeof *v.m) != 0,
          "other seed: member 17's features differ");
    free_copy(&first);

    /* drift only scales the walk: members, times and items are shared */
    membersim_cfg c3 = c;
    c3.drift = 0.5;
    membersim *f = sim_new(&c3);
    int shared = 1;
    for (int k = 0; k < 50 && shared; k++) {
        membersim_member_gen(a, (uint64_t)k, &u);
        copy_member(&first, a, &u);
        membersim_member_gen(f, (uint64_t)k, &v);
        shared = first.u.nrows == v.nrows && memcmp(first.u.m, v.m, (size_t)c.meta_features * sizeof *v.m) == 0 &&
                 memcmp(first.u.ts, v.ts, (size_t)v.nrows * sizeof *v.ts) == 0 &&
                 memcmp(first.u.item, v.item, (size_t)v.nrows * sizeof *v.item) == 0 &&
                 memcmp(first.u.p, v.p, (size_t)c.latent_dim * sizeof *v.p) == 0;
        free_copy(&first);
    }
    check(shared, "runs differing only in --drift share p(0), m, row counts, times and items");
    membersim_free(a);
    membersim_free(b);
    membersim_free(d);
    membersim_free(f);
}

/* One pass over every member of the default world: activity, clicks,
 * calibration, R^2, logit decomposition, popularity. */
static void test_default_world(void)
{
    membersim_cfg c;
    membersim_defaults(&c);
    membersim *s = sim_new(&c);
    int K = c.latent_dim, M = c.meta_features, D = c.days, R = c.max_rows;
    uint64_t *hist = calloc((size_t)R + 1, sizeof *hist);
    uint64_t *item_count = calloc((size_t)c.items, sizeof *item_count);
    membersim_stats st;
    membersim_stats_init(&st, s, 1);
    /* least squares of p(0) on [1, m], normal equations in double */
    int M1 = M + 1;
    double *zz = calloc((size_t)M1 * M1, sizeof *zz), *zp = calloc((size_t)M1 * K, sizeof *zp);
    double *pp = calloc((size_t)K, sizeof *pp), *psum = calloc((size_t)K, sizeof *psum);
    /* calibration: by tenths of p_true */
    double bin_y[10] = {0}, bin_p[10] = {0}, bin_v[10] = {0};
    double sum_y = 0, sum_p = 0, sum_v = 0, rows = 0;
    double lsum = 0, lsq = 0, psum1 = 0, psq = 0;
    int labels_ok = 1, ts_ok = 1, items_ok = 1, m_rounded = 1;
    membersim_member u;
    for (int64_t idx = 0; idx < c.members; idx++) {
        membersim_member_gen(s, (uint64_t)idx, &u);
        hist[u.nrows]++;
        membersim_stats_add(&st, s, &u); /* the library's statistics, for a cross-check */
        for (int i = 0; i < u.nrows; i++) {
            double pt = 1 / (1 + exp(-u.logit[i]));
            int bin = (int)(pt * 10);
            bin = bin > 9 ? 9 : bin;
            labels_ok &= u.label[i] == 0 || u.label[i] == 1;
            ts_ok &= u.ts[i] >= c.ts0 && u.ts[i] < c.ts0 + (int64_t)D * 86400 && (i == 0 || u.ts[i] >= u.ts[i - 1]);
            items_ok &= u.item[i] >= 0 && u.item[i] < c.items;
            item_count[u.item[i]]++;
            sum_y += u.label[i];
            sum_p += pt;
            sum_v += pt * (1 - pt);
            bin_y[bin] += u.label[i];
            bin_p[bin] += pt;
            bin_v[bin] += pt * (1 - pt);
            double l = u.logit[i] - s->bias;
            lsum += l;
            lsq += l * l;
            psum1 += u.personal[i];
            psq += u.personal[i] * u.personal[i];
            rows++;
        }
        for (int j = 0; j < M; j++) {
            double scaled = (double)u.m[j] * 1e4;
            m_rounded &= fabs(scaled - round(scaled)) < 1e-3 * (1 + fabs(scaled) * 1e-3);
        }
        for (int a = 0; a < M1; a++) {
            double za = a ? (double)u.m[a - 1] : 1;
            for (int b = 0; b < M1; b++)
                zz[a * M1 + b] += za * (b ? (double)u.m[b - 1] : 1);
            for (int k = 0; k < K; k++)
                zp[a * K + k] += za * u.p[k];
        }
        for (int k = 0; k < K; k++) {
            pp[k] += u.p[k] * u.p[k];
            psum[k] += u.p[k];
        }
    }

    /* activity: log-normal(log 10, 1.5), rounded, clamped to [1, 300] */
    uint64_t n = (uint64_t)c.members, seen = 0, le5 = 0, le10 = 0, over100 = 0;
    int median = -1, maxr = 0;
    for (int k = 0; k <= R; k++) {
        if (median < 0 && seen + hist[k] > n / 2)
            median = k;
        seen += hist[k];
        if (k <= 5)
            le5 += hist[k];
        if (k <= 10)
            le10 += hist[k];
        if (k > 100)
            over100 += hist[k];
        if (hist[k])
            maxr = k;
    }
    check(hist[0] == 0, "every member has a row");
    check(median >= 9 && median <= 11, "median rows per member %d near the configured 10", median);
    check(maxr <= R, "cap respected");
    check(hist[R] > 0, "the cap is reached (heavy tail)");
    double p5 = norm_cdf((log(5.5) - log(c.median_rows)) / c.rows_sigma);
    double share5 = (double)le5 / (double)n, se5 = sqrt(p5 * (1 - p5) / (double)n);
    check(fabs(share5 - p5) < 4 * se5, "share of members with <= 5 rows %.4f, log-normal says %.4f", share5, p5);
    check(share5 > 0.25, "a third of members are very infrequent (%.3f with <= 5 rows)", share5);
    check((double)le10 / (double)n > 0.5, "most members have at most 10 rows");
    double p100 = 1 - norm_cdf((log(100.5) - log(c.median_rows)) / c.rows_sigma);
    check(fabs((double)over100 / (double)n - p100) < 4 * sqrt(p100 * (1 - p100) / (double)n),
          "share over 100 rows %.4f, log-normal says %.4f", (double)over100 / (double)n, p100);
    double pcap = 1 - norm_cdf((log(R - 0.5) - log(c.median_rows)) / c.rows_sigma);
    check(fabs((double)hist[R] / (double)n - pcap) < 4 * sqrt(pcap * (1 - pcap) / (double)n),
          "share at the cap %.4f, log-normal says %.4f", (double)hist[R] / (double)n, pcap);

    check(labels_ok, "labels are 0 or 1");
    check(ts_ok, "timestamps within the period and sorted within each member");
    check(items_ok, "items in range");
    check(m_rounded, "member features have 4 decimals");

    /* click rate */
    double rate = sum_y / rows;
    check(rate > 0.10 && rate < 0.20, "click rate %.4f in [0.10, 0.20]", rate);
    check(fabs(rate - c.click_rate) < 0.01, "click rate %.4f near the calibrated %.2f", rate, c.click_rate);

    /* p_true calibration: sum of labels vs sum of probabilities, overall
     * and within each tenth of p_true, to 4 standard errors */
    check(rows >= 1e5, "at least 1e5 rows for the calibration check (%.0f)", rows);
    check(fabs(sum_y - sum_p) < 4 * sqrt(sum_v), "labels %.0f vs sum of p_true %.1f (sd %.1f)", sum_y, sum_p,
          sqrt(sum_v));
    int bins_ok = 1;
    for (int b = 0; b < 10; b++)
        if (bin_v[b] > 0 && fabs(bin_y[b] - bin_p[b]) >= 4 * sqrt(bin_v[b]) + 1) {
            bins_ok = 0;
            fprintf(stderr, "  p_true bin %d: labels %.0f, expected %.1f\n", b, bin_y[b], bin_p[b]);
        }
    check(bins_ok, "p_true calibrated in every tenth");

    /* m -> p(0): pooled least-squares R^2, solved here by Gauss-Jordan */
    double res = 0, tot = 0;
    for (int k = 0; k < K; k++) {
        double *a = malloc((size_t)M1 * (M1 + 1) * sizeof *a);
        for (int i = 0; i < M1; i++) {
            for (int j = 0; j < M1; j++)
                a[i * (M1 + 1) + j] = zz[i * M1 + j];
            a[i * (M1 + 1) + M1] = zp[i * K + k];
        }
        for (int col = 0; col < M1; col++) {
            int piv = col;
            for (int i = col + 1; i < M1; i++)
                if (fabs(a[i * (M1 + 1) + col]) > fabs(a[piv * (M1 + 1) + col]))
                    piv = i;
            for (int j = 0; j <= M1; j++) {
                double t = a[col * (M1 + 1) + j];
                a[col * (M1 + 1) + j] = a[piv * (M1 + 1) + j];
                a[piv * (M1 + 1) + j] = t;
            }
            for (int i = 0; i < M1; i++) {
                if (i == col)
                    continue;
                double f = a[i * (M1 + 1) + col] / a[col * (M1 + 1) + col];
                for (int j = col; j <= M1; j++)
                    a[i * (M1 + 1) + j] -= f * a[col * (M1 + 1) + j];
            }
        }
        double fit = 0; /* beta' Z'p */
        for (int i = 0; i < M1; i++)
            fit += a[i * (M1 + 1) + M1] / a[i * (M1 + 1) + i] * zp[i * K + k];
        res += pp[k] - fit;
        tot += pp[k] - psum[k] * psum[k] / (double)n;
        free(a);
    }
    double r2 = 1 - res / tot;
    check(fabs(r2 - c.meta_r2) < 0.03, "least-squares R^2 of p(0) from m %.4f near the target %.2f", r2,
          c.meta_r2);
    check_close(membersim_stats_r2(&st, s), r2, 1e-9, 0, "membersim_stats_r2 agrees with the refit");
    check_close(s->meta_r2, c.meta_r2, 1e-6, 0, "population R^2 solved to the target");
    double mvar = 0; /* m has unit average variance */
    for (int j = 1; j < M1; j++)
        mvar += zz[j * M1 + j] / (double)n - pow(zz[j] / (double)n, 2);
    check(fabs(mvar / M - 1) < 0.05, "member features have unit average variance (%.3f)", mvar / M);

    /* logit decomposition: Var(p.q) / Var(logit - b), designed 1 / (1 + 1) */
    double vl = lsq / rows - pow(lsum / rows, 2), vp = psq / rows - pow(psum1 / rows, 2);
    check(fabs(vp / vl - 0.5) < 0.05, "personal share of the logit variance %.3f near 0.5", vp / vl);
    check(fabs(vl - 2.0) < 0.2, "logit variance %.3f near global_sd^2 + personal_sd^2 = 2", vl);
    check(st.rows == (uint64_t)rows && st.clicks == (uint64_t)sum_y, "library statistics count the same rows");
    double vh = st.hidden_sq / rows - pow(st.hidden_sum / rows, 2);
    check(vh < vp && vh > 0.3 * vp, "m reveals part, not all, of the personal term (hidden %.3f of %.3f)", vh,
          vp);

    /* popularity: the most popular item is drawn with its Zipf weight */
    size_t top = 0;
    for (size_t i = 1; i < (size_t)c.items; i++)
        if (s->pop_cdf[i] - s->pop_cdf[i - 1] > s->pop_cdf[top] - (top ? s->pop_cdf[top - 1] : 0))
            top = i;
    double ptop = s->pop_cdf[top] - (top ? s->pop_cdf[top - 1] : 0);
    double hz = 0;
    for (int k = 1; k <= c.items; k++)
        hz += pow(k, -c.popularity);
    check_close(ptop, 1 / hz, 1e-12, 1e-9, "top item weight is 1 / sum_k k^-0.7");
    check(fabs((double)item_count[top] / rows - ptop) < 4 * sqrt(ptop * (1 - ptop) / rows),
          "top item drawn %.5f of the time, weight %.5f", (double)item_count[top] / rows, ptop);

    membersim_stats_free(&st);
    free(hist);
    free(item_count);
    free(zz);
    free(zp);
    free(pp);
    free(psum);
    membersim_free(s);
}

/* Pooled correlation over members and dimensions of p(0) and p(lag). */
static double lag_corr(membersim *s, int nmembers, int lag)
{
    int K = s->cfg.latent_dim;
    double sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0, n = 0;
    membersim_member u;
    for (int idx = 0; idx < nmembers; idx++) {
        membersim_member_gen(s, (uint64_t)idx, &u);
        for (int k = 0; k < K; k++) {
            double a = u.p[k], b = u.p[(size_t)lag * K + k];
            sa += a;
            sb += b;
            saa += a * a;
            sbb += b * b;
            sab += a * b;
            n++;
        }
    }
    double cov = sab / n - sa / n * sb / n;
    return cov / sqrt((saa / n - pow(sa / n, 2)) * (sbb / n - pow(sb / n, 2)));
}

static void test_drift(void)
{
    membersim_cfg c;
    membersim_defaults(&c);
    c.members = 5000;
    membersim *s = sim_new(&c);
    int K = c.latent_dim, D = c.days;
    double c1 = lag_corr(s, 5000, 1), c10 = lag_corr(s, 5000, 10), c29 = lag_corr(s, 5000, D - 1);
    check(c1 > c10 && c10 > c29, "taste autocorrelation decays with the lag (%.4f, %.4f, %.4f)", c1, c10, c29);
    /* random walk: corr(p(0), p(L)) = sqrt(V / (V + L drift^2)), V the
     * average variance of a taste dimension at day 0 */
    double V = 0;
    for (int cl = 0; cl < c.clusters; cl++)
        for (int k = 0; k < K; k++)
            V += s->cluster_weight[cl] * s->centre[cl * K + k] * s->centre[cl * K + k];
    V = V / K + c.within_sd * c.within_sd;
    double want = sqrt(V / (V + (D - 1) * c.drift * c.drift));
    check(fabs(c29 - want) < 0.02, "30-day autocorrelation %.4f matches the random walk's %.4f", c29, want);
    check(c29 < 0.95, "tastes move noticeably over the period (%.4f)", c29);
    membersim_free(s);

    c.drift = 0;
    s = sim_new(&c);
    check(lag_corr(s, 2000, D - 1) == 1.0, "without drift the autocorrelation is exactly 1");
    int constant = 1;
    membersim_member u;
    for (int idx = 0; idx < 200; idx++) {
        membersim_member_gen(s, (uint64_t)idx, &u);
        for (int d = 1; d < D; d++)
            constant &= memcmp(u.p, u.p + (size_t)d * K, (size_t)K * sizeof *u.p) == 0;
    }
    check(constant, "without drift p_u(d) = p_u(0) exactly");
    membersim_free(s);
}

/* Non-default settings move what they claim to move. */
static void test_settings(void)
{
    membersim_cfg c;
    membersim_defaults(&c);
    c.members = 4000;
    c.click_rate = 0.3;
    c.median_rows = 4;
    c.max_rows = 20;
    c.meta_r2 = 0.3;
    c.personal_sd = 0;
    c.popularity = 0;
    membersim *s = sim_new(&c);
    double y = 0, rows = 0;
    int maxr = 0, le4 = 0, personal_zero = 1;
    membersim_member u;
    for (int idx = 0; idx < c.members; idx++) {
        membersim_member_gen(s, (uint64_t)idx, &u);
        maxr = u.nrows > maxr ? u.nrows : maxr;
        le4 += u.nrows <= 4;
        for (int i = 0; i < u.nrows; i++) {
            y += u.label[i];
            personal_zero &= u.personal[i] == 0;
            rows++;
        }
    }
    check(maxr == 20, "--max-rows 20 caps and is reached (max %d)", maxr);
    check(fabs((double)le4 / c.members - 0.5) < 0.05, "--median-rows 4: half the members have <= 4 (%.3f)",
          (double)le4 / c.members);
    check(fabs(y / rows - 0.3) < 4 * sqrt(0.3 * 0.7 / rows) + 0.005, "--click-rate 0.3 gives %.4f", y / rows);
    check(personal_zero, "--personal-sd 0 removes the personal term");
    check_close(s->meta_r2, 0.3, 1e-6, 0, "--meta-r2 0.3 is solved");
    check_close(s->pop_cdf[0], 1.0 / c.items, 1e-12, 1e-9, "--popularity 0 is uniform");
    membersim_free(s);

    char id[32];
    membersim_defaults(&c);
    c.members = 200;
    s = sim_new(&c);
    membersim_member_id(s, 123, id, sizeof id);
    check(strcmp(id, "u000123") == 0, "member id zero-padded to 6 digits (%s)", id);
    membersim_free(s);
    c.members = 12345678;
    s = sim_new(&c);
    membersim_member_id(s, 123, id, sizeof id);
    check(strcmp(id, "u00000123") == 0, "member id padded to the digits of the last index (%s)", id);
    membersim_free(s);
}

static void test_errors(void)
{
    membersim_cfg c;
    errctx e;
    membersim_defaults(&c);
    c.median_rows = 50;
    c.max_rows = 20;
    check(membersim_new(&c, &e) == NULL && strstr(e.msg, "--median-rows 50 is above --max-rows 20"),
          "median above cap is an error: %s", e.msg);
    membersim_defaults(&c);
    c.meta_features = 2;
    check(membersim_new(&c, &e) == NULL && strstr(e.msg, "--meta-r2 0.5 cannot be reached with 2 meta features"),
          "unreachable R^2 is an error: %s", e.msg);
    membersim_defaults(&c);
    c.clusters = 1;
    c.within_sd = 0;
    check(membersim_new(&c, &e) == NULL && strstr(e.msg, "members do not differ"),
          "no taste variance is an error: %s", e.msg);
    membersim_defaults(&c);
    c.members = 0;
    check(membersim_new(&c, &e) == NULL && strstr(e.msg, "--members must be in"), "no members is an error: %s",
          e.msg);
    membersim_defaults(&c);
    c.meta_features = 16; /* more features than latent dims is fine */
    membersim *s = membersim_new(&c, &e);
    check(s != NULL, "16 meta features for 8 latent dims");
    if (s)
        check_close(s->meta_r2, 0.5, 1e-6, 0, "R^2 solved with 16 meta features");
    membersim_free(s);
}

/* The written table, read back: header, rows, values of the first member. */
static void test_write(void)
{
    char dir[256], path[512];
    snprintf(dir, sizeof dir, "%s/recstage-membersim.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        exit(2);
    }
    snprintf(path, sizeof path, "%s/m.rec", dir);
    membersim_cfg c;
    membersim_defaults(&c);
    c.members = 50;
    c.meta_features = 3;
    c.features = 5;
    membersim *s = sim_new(&c);
    errctx e;
    rec_writer *w = rec_writer_open(path, 1, &e);
    check(w != NULL, "open writer");
    if (!w)
        return;
    check(membersim_write(s, w, 1, NULL, NULL, &e) == 0 && rec_writer_close(w, &e) == 0, "write 50 members");
    rec_reader *r = rec_open(path, &e);
    check(r != NULL, "read back");
    if (!r)
        return;
    static const char *want[] = {"member_id", "ts", "label", "m_0", "m_1", "m_2", "x_0",
                                 "x_1",       "x_2", "x_3",  "x_4", "p_true"};
    int cols_ok = rec_ncols(r) == 12;
    for (int i = 0; cols_ok && i < 12; i++)
        cols_ok = strcmp(rec_colname(r, i), want[i]) == 0;
    check(cols_ok, "columns member_id ts label m_0..m_2 x_0..x_4 p_true");
    membersim_member u;
    membersim_member_gen(s, 0, &u);
    int first_ok = 1;
    for (int i = 0; i < u.nrows && first_ok; i++) {
        first_ok = rec_next(r, &e) == 1;
        size_t len;
        int64_t ts, label;
        float v;
        first_ok = first_ok && strcmp(rec_str(r, 0, &len), "u000000") == 0 && rec_i64(r, 1, &ts, &e) == 0 &&
                   ts == u.ts[i] && rec_i64(r, 2, &label, &e) == 0 && label == u.label[i];
        for (int j = 0; j < 3 && first_ok; j++)
            first_ok = rec_f32(r, 3 + j, &v, &e) == 0 && v == u.m[j];
        for (int f = 0; f < 5 && first_ok; f++)
            first_ok = rec_f32(r, 6 + f, &v, &e) == 0 && v == s->x[(size_t)u.item[i] * 5 + f];
        first_ok = first_ok && rec_f32(r, 11, &v, &e) == 0 && v == (float)(1 / (1 + exp(-u.logit[i])));
    }
    check(first_ok, "member 0's rows read back exactly");
    uint64_t total = (uint64_t)u.nrows;
    for (int idx = 1; idx < c.members; idx++) {
        membersim_member_gen(s, (uint64_t)idx, &u);
        total += (uint64_t)u.nrows;
    }
    while (rec_next(r, &e) == 1)
        ;
    check(rec_rows(r) == total, "row count %llu = sum of members' rows %llu", (unsigned long long)rec_rows(r),
          (unsigned long long)total);
    rec_close(r);
    unlink(path);
    rmdir(dir);
    membersim_free(s);
}

int main(void)
{
    test_determinism();
    test_default_world();
    test_drift();
    test_settings();
    test_errors();
    test_write();
    return check_done("test_membersim");
}
