/*
 * membersim.h - the member simulator behind member-sim(1): members whose
 * tastes their features only partly reveal, mostly infrequent, drifting
 * over time, and clicks from a known logistic model (SPEC section 7,
 * Appendix A "member-sim").
 *
 * The phenomenon it exists for: a per-member model adapted on a member's
 * own recent rows (LiMAML's meta block) should beat models that only see
 * member features, because
 *   - taste p_u has a part that the observed features m_u do not reveal
 *     (m_u = W p_u + noise, calibrated so a linear fit recovers about half
 *     of p_u's variance),
 *   - most members have few rows (log-normal activity, median about 10),
 *     so an ID model has little to learn each member from, and
 *   - tastes drift (a daily random walk), so the most recent rows say the
 *     most about the next ones.
 *
 * Generative model (K latent dims, C clusters, M meta features, F item
 * features, D days; every equation is restated in member-sim(1)):
 *
 *   world (stream MEMBERSIM_STREAM_WORLD of the seed):
 *     pi ~ Dirichlet(2, ..., 2)                       cluster weights (C)
 *     mu_c ~ N(0, I_K), then centred: mu_c -= sum_c pi_c mu_c
 *     W (M, K) ~ N(0, 1/K), noise sd s_m: both solved for below
 *     x_i ~ N(0, I_F), rounded to 4 decimals          item features (I, F)
 *     A (K, F) ~ N(0, 1), scaled: Var_{u,i,t}(p_u(t) . A x_i) = personal_sd^2
 *     w (F) ~ N(0, 1), scaled: |w| = global_sd, so Var(w . x) = global_sd^2
 *     item popularity: weight (rank_i + 1)^(-popularity), ranks a random
 *     permutation (independent of the features)
 *     b: solved so that the mean click probability is click_rate
 *   member u (stream u of the seed):
 *     c_u ~ Categorical(pi)
 *     p_u(0) = mu_{c_u} + within_sd * N(0, I_K)
 *     m_u = W p_u(0) + s_m * N(0, I_M), rounded to 4 decimals
 *     p_u(d) = p_u(d-1) + drift * N(0, I_K),  d = 1 .. D-1
 *     n_u = clamp(round(median_rows * exp(rows_sigma * N(0,1))), 1, max_rows)
 *     ts ~ U{ts0, ..., ts0 + 86400 D - 1}, n_u of them, sorted
 *     per row: item i ~ popularity, d = (ts - ts0) / 86400,
 *       logit = b + w . x_i + p_u(d) . q_i,  q_i = A x_i,
 *       label ~ Bernoulli(sigmoid(logit))
 *
 * Calibrations (deterministic, from their own streams):
 *   s_m solves  R2(s_m) = meta_r2, where R2 is the share of tr Cov(p(0))
 *     explained by the best linear predictor of p(0) from m, computed
 *     exactly from the mixture moments:
 *       R2 = tr(S W' (W S W' + s_m^2 I)^-1 W S) / tr S,
 *       S = sum_c pi_c mu_c mu_c' + within_sd^2 I;
 *     then W and s_m are scaled together so the m_j have unit average
 *     variance (R2 does not change).
 *   A's scale uses E[p(t) p(t)'] = S + drift^2 (D-1)/2 I (t uniform over
 *     the period) and E[x x'] = I.
 *   b is found by bisection on a Monte Carlo estimate of the mean click
 *     probability over 50,000 (member, day, item) draws.
 *
 * Determinism: the world depends only on the configuration and seed;
 * member u depends only on the world and (seed, u), so members can be
 * generated in any order or in parallel with identical results.  The
 * drift innovations are drawn whatever drift is, so runs that differ only
 * in --drift share members, row counts, times, items and label uniforms.
 *
 * Memory: the item table (I x (F + K)), the cluster table, W and
 * per-member buffers of D x K and max_rows; nothing grows with the number
 * of members.
 */
#ifndef RECSTAGE_MEMBERSIM_H
#define RECSTAGE_MEMBERSIM_H

#include <stdint.h>

#include "cli.h"
#include "err.h"
#include "rec.h"

/* Stream ids of the world tables and the calibration draws (members use
 * stream = member index, far below these). */
#define MEMBERSIM_STREAM_WORLD UINT64_C(0xffffffffffffff00)
#define MEMBERSIM_STREAM_CALIB UINT64_C(0xffffffffffffff01)

typedef struct membersim_cfg {
    uint64_t seed;      /* 1 */
    int64_t members;    /* 20000 */
    int items;          /* I = 2000 */
    int days;           /* D = 30 */
    int latent_dim;     /* K = 8 */
    int clusters;       /* C = 10 */
    double within_sd;   /* 0.7: sd of p_u(0) around its cluster centre */
    int meta_features;  /* M = 8 */
    double meta_r2;     /* 0.5: linear R^2 of p_u(0) from m_u */
    int features;       /* F = 16 */
    double global_sd;   /* 1.0: sd of w . x */
    double personal_sd; /* 1.0: sd of p_u(t) . q_i */
    double drift;       /* 0.13: daily random-walk sd per latent dim */
    double click_rate;  /* 0.15: mean click probability */
    double popularity;  /* 0.7: Zipf exponent of item impressions; 0 uniform */
    double median_rows; /* 10 */
    double rows_sigma;  /* 1.5: sd of log rows per member */
    int max_rows;       /* 300 */
    int64_t ts0;        /* 1700000000: first second of day 0 */
} membersim_cfg;

/* Fill c with the defaults above. */
void membersim_defaults(membersim_cfg *c);

/* The simulated world.  Read-only for callers after membersim_new. */
typedef struct membersim {
    membersim_cfg cfg;
    double *cluster_weight; /* (C) pi */
    double *centre;         /* (C, K) mu_c, centred */
    double *W;              /* (M, K) */
    double meta_noise_sd;   /* s_m */
    double meta_r2;         /* the population R^2 reached (= cfg.meta_r2) */
    double *meta_pred;      /* (K, M) B: E[p(0) | m] ~ B m, the best linear predictor */
    float *x;               /* (I, F) item features, as written */
    double *q;              /* (I, K) A x_i */
    double *item_base;      /* (I) b + w . x_i */
    double *pop_cdf;        /* (I) cumulative impression probabilities */
    double *A;              /* (K, F) */
    double *w;              /* (F) */
    double bias;            /* b */
    int id_width;           /* digits of a member id after the 'u' */
    /* per-member buffers (see membersim_member) */
    double *path;           /* (D, K) */
    float *m;               /* (M) */
    int64_t *ts;            /* (max_rows) */
    int32_t *item;          /* (max_rows) */
    unsigned char *label;   /* (max_rows) */
    double *logit;          /* (max_rows) */
    double *personal;       /* (max_rows) p_u(d) . q_i */
} membersim;

/* One member, pointing into the simulator's buffers: valid until the
 * next membersim_member call on the same simulator. */
typedef struct membersim_member {
    uint64_t index;
    int cluster;
    int nrows;
    const double *p;            /* (D, K) p_u(d), row d */
    const float *m;             /* (M) */
    const int64_t *ts;          /* (nrows) ascending */
    const int32_t *item;        /* (nrows) */
    const unsigned char *label; /* (nrows) 0 or 1 */
    const double *logit;        /* (nrows) */
    const double *personal;     /* (nrows) p_u(d) . q_i */
} membersim_member;

/* Check c and build the world (tables and calibrations).  NULL with a
 * message naming the offending option (as --name) when the configuration
 * is out of range or inconsistent (median rows above max rows, a target
 * R^2 that M meta features cannot reach, no taste variance). */
membersim *membersim_new(const membersim_cfg *c, errctx *e);
void membersim_free(membersim *s);

/* Generate member `index` (0-based; any index, in any order) into *out. */
void membersim_member_gen(membersim *s, uint64_t index, membersim_member *out);

/* "u000123": the id of member index, NUL-terminated; buf >= 32 bytes.
 * Returns its length.  Zero-padded to s->id_width digits (at least 6), so
 * lexicographic order is numeric order. */
int membersim_member_id(const membersim *s, uint64_t index, char *buf, size_t n);

/* Summary of a run, accumulated by membersim_write or, member by member,
 * by membersim_stats_add (all sums in double). */
typedef struct membersim_stats {
    uint64_t members, rows, clicks;
    uint64_t members_le5;    /* members with at most 5 rows */
    int max_rows_seen;
    uint64_t *rows_hist;     /* (max_rows + 1) members by row count */
    double sum_p;            /* sum of p_true */
    double logit_sum, logit_sq;       /* logit - b */
    double personal_sum, personal_sq; /* p_u(d) . q_i */
    double hidden_sum, hidden_sq;     /* (p_u(d) - B m_u) . q_i */
    /* moments for the least-squares fit of p_u(0) from m_u (with an
     * intercept), if fit_r2 was set before the run */
    int fit_r2;
    double *mm;              /* (M + 1, M + 1) sums of [1 m][1 m]' */
    double *mp;              /* (M + 1, K) sums of [1 m] p' */
    double *pp;              /* (K) sums of p_k^2 */
    double *phat;            /* (K) scratch: B m_u */
} membersim_stats;

/* Zero st and allocate its histogram; fit_r2 also allocates the moment
 * arrays (the fit then costs O(M^2) per member). */
void membersim_stats_init(membersim_stats *st, const membersim *s, int fit_r2);
void membersim_stats_free(membersim_stats *st);
/* Add member u (just generated by s) to st. */
void membersim_stats_add(membersim_stats *st, const membersim *s, const membersim_member *u);
/* Pooled least-squares R^2 of p_u(0) from m_u over the members seen:
 * 1 - sum_k SSres_k / sum_k SStot_k.  NaN without fit_r2 or with fewer
 * than M + 2 members. */
double membersim_stats_r2(const membersim_stats *st, const membersim *s);

/* Write the header and every member's rows to w: member_id ts label
 * m_0..m_{M-1} x_0..x_{F-1} [p_true].  Updates st (may be NULL) and the
 * progress reporter prog (may be NULL; counts members).  Does not close
 * w.  0, or -1 with a message on a write error. */
int membersim_write(membersim *s, rec_writer *w, int p_true, membersim_stats *st,
                    cli_progress *prog, errctx *e);

#endif
