/*
 * ope.h - off-policy evaluation of a target policy pi from transitions
 * logged under a behaviour policy mu (SPEC section 8; smis-ope(1)).
 *
 * Episodes i = 1..N, steps t = 0..L_i-1 (the row position in the
 * episode), logged action a, its logged propensity mu = mu(a|s), the
 * target's probabilities pi(.|s), objectives r_o and optionally a value
 * model Q(s,.).  The importance ratio of a step is
 *
 *   rho = pi(a|s) / mu(a|s),  except rho = 1 on a row with mu = 1
 *
 * (a step where the logging policy had no choice: notif-sim logs an empty
 * queue as action 0 with propensity 1, where every action does the same;
 * strict_ratio turns the exception off).  w_t = rho_0 ... rho_t is the
 * cumulative ratio (w_{-1} = 1), W_i = w_{L-1} the trajectory's.
 *
 * An episode that has ended stays in an absorbing state with reward 0
 * and rho = 1, so every step t < T (T the longest episode) has all N
 * episodes: the ended ones carry their final weight.  The estimators:
 *
 *   behavior  1/N sum_i sum_t g^t r_t            (the logs' own value)
 *   onestep   1/N sum_i sum_t g^t rho_t r_t      (each step a bandit:
 *             ignores that earlier actions changed the state)
 *   tis       1/N sum_i W_i sum_t g^t r_t        (trajectory IS)
 *   pdis      1/N sum_i sum_t g^t w_t r_t        (per-decision IS)
 *   wpdis     sum_t g^t (sum_i w_t r_t) / (sum_i w_t)
 *   smis      state-marginalized IS (below)
 *   dr        1/N sum_i sum_t g^t [w_t (r_t - Q(s_t,a_t)) + w_{t-1} V(s_t)],
 *             V(s) = sum_a pi(a|s) Q(s,a) (V = Q(s,a) on a no-choice
 *             row); only for the objective the value model is for.
 *
 * g is the discount gamma.  SMIS (Xie et al. 2019; Yuan et al. 2022):
 * the marginal features x (nmarg of them) are cut at fixed edges into
 * bins, the joint bin z of a row is their mixed-radix index, and ended
 * episodes sit in one more bin, "done".  With n_t(z) the rows of step t in
 * bin z,
 *
 *   R_0(z) = 1
 *   R_{t+1}(z') = sum_i 1[z_{t+1,i} = z'] R_t(z_{t,i}) rho_{t,i} / n_{t+1}(z')
 *   w_{t,i} = R_t(z_{t,i}) rho_{t,i}
 *   smis = sum_t g^t (sum_i w_{t,i} r_{t,i}) / (sum_i w_{t,i})
 *
 * (rho = 1 and r = 0 in the done bin, which absorbs).  R_t(z) estimates
 * d_pi,t(z) / d_mu,t(z), the ratio of the two policies' distributions of
 * z at step t.  Everything is computed from sums accumulated per step and
 * bin, never from the episodes themselves: for step t and bin z, n, sum
 * rho, sum rho^2, sum rho r_o; for steps t, t+1 and bins z, z', the
 * transition sum T_t(z, z') = sum_i 1[z_t = z, z_{t+1} = z'] rho_{t,i};
 * then R_{t+1}(z') = sum_z R_t(z) T_t(z, z') / n_{t+1}(z').  Memory grows
 * with steps x bin pairs seen (at most bins^2), not with episodes.
 *
 * Special cases: with one bin and no episode ending early, R_t cancels in
 * the self-normalisation and smis = sum_t g^t (sum_i rho_t r_t) /
 * (sum_i rho_t), the self-normalised one-step estimator; with one step,
 * smis = wpdis = sum rho r / sum rho (weighted IS) and tis = pdis =
 * onestep.
 *
 * Standard errors: for the estimators that are means over episodes
 * (behavior, onestep, tis, pdis, dr), the sample standard deviation of
 * the episode terms over sqrt(N); for wpdis and smis, the standard
 * deviation of the bootstrap replicates (NaN without a bootstrap).
 * Bootstrap: replicate b gives episode i the weight k_bi ~ Poisson(1),
 * drawn from the generator stream (seed, OPE_STREAM_BOOT + i), and every
 * sum above is accumulated for every replicate in the same pass; the
 * interval is the percentile interval of the replicates at the level
 * (linear interpolation); without a bootstrap, value +- z se for the
 * means, NaN for the others.
 *
 * Effective sample size: for tis (sum W)^2 / sum W^2 over episodes; for
 * behavior N; for the others the mean over steps of (sum_i w)^2 / sum_i
 * w^2, with w the weight the estimator gives row (t, i) (rho for onestep,
 * w_t for pdis, wpdis and dr, R_t rho for smis; ended episodes included).
 */
#ifndef RECSTAGE_OPE_H
#define RECSTAGE_OPE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "qlearn.h"

enum ope_est {
    OPE_BEHAVIOR,
    OPE_ONESTEP,
    OPE_TIS,
    OPE_PDIS,
    OPE_WPDIS,
    OPE_SMIS,
    OPE_DR,
    OPE_NEST
};

#define OPE_STREAM_BOOT 0x20000ULL
/* Most joint bins (the done bin excluded). */
#define OPE_MAX_BINS (1u << 24)
#define OPE_MAX_BOOTSTRAP 100000

const char *ope_est_name(int est);
/* "all" or a comma-separated list of estimator names: sets bit est of
 * *mask.  -1 with a message naming the unknown name. */
int ope_est_parse(const char *list, unsigned *mask, errctx *e);

typedef struct ope_cfg {
    int n_actions;
    int nobj;            /* objectives */
    int dr_obj;          /* the objective the value model is for; -1: no dr */
    int nmarg;           /* marginal features (0: smis has one bin) */
    double gamma;        /* in [0, 1] */
    unsigned estimators; /* bit est */
    int bootstrap;       /* replicates, 0 .. OPE_MAX_BOOTSTRAP */
    uint64_t seed;
    double level;        /* interval level, in (0, 1) */
    int strict_ratio;    /* 1: rho = pi/mu even where mu = 1 */
} ope_cfg;

/* One episode as the estimators see it (row-major arrays). */
typedef struct ope_episode {
    int n;               /* steps, >= 1 */
    const int *a;        /* (n) logged actions, 0..A-1 */
    const double *mu;    /* (n) logged propensities, in (0, 1] */
    const double *pi;    /* (n, A) target probabilities */
    const double *q;     /* (n, A) value model, or NULL */
    const double *r;     /* (n, nobj) objectives */
    const double *x;     /* (n, nmarg) marginal features */
} ope_episode;

typedef struct ope_acc ope_acc;

/* NULL with a message on a bad configuration. */
ope_acc *ope_acc_new(const ope_cfg *c, errctx *e);
void ope_acc_free(ope_acc *acc);
/* The edges of marginal feature j (strictly increasing): a value x falls
 * in bin #{k : x >= edges[k]}.  Before the first episode; every feature
 * without edges has one bin.  -1 if the joint bins exceed OPE_MAX_BINS. */
int ope_acc_set_edges(ope_acc *acc, int j, const double *edges, int nedges, errctx *e);
/* Fit edges to values (sorted in place): binning OPE_QUANTILE takes the
 * values at ranks floor(k n / bins), k = 1..bins-1, dropping those not
 * above the minimum or the previous edge (so a feature with few distinct
 * values gets fewer bins); OPE_UNIFORM cuts [min, max] into bins equal
 * parts.  Returns the number of edges written to edges (bins - 1 at most). */
enum { OPE_QUANTILE, OPE_UNIFORM };
int ope_fit_edges(double *values, size_t n, int bins, int binning, double *edges);
/* The joint bin of a row's marginal features. */
uint32_t ope_acc_bin(const ope_acc *acc, const double *x);
/* The number of joint bins (the done bin excluded). */
uint32_t ope_acc_nbins(const ope_acc *acc);

/* Accumulate one episode (the next in input order: its index picks its
 * bootstrap weights). */
void ope_acc_add(ope_acc *acc, const ope_episode *ep);
uint64_t ope_acc_episodes(const ope_acc *acc);
/* Bytes held by the accumulators (for reports and the memory bench). */
size_t ope_acc_bytes(const ope_acc *acc);

typedef struct ope_result {
    int est, obj;
    double value, se, lo, hi, ess; /* NaN where not defined */
} ope_result;

/* The estimates, estimator-major in enum order, objectives in order
 * (dr only for dr_obj).  *out is malloc'd.  -1 if there is no episode. */
int ope_acc_finish(ope_acc *acc, ope_result **out, int *nout, errctx *e);

/* ---- reading transitions (smis-ope) ---- */

typedef struct ope_run_opts {
    const char *input;          /* NULL or "-": standard input */
    qlearn_colspec cols;        /* episode, t, action, propensity, rewards */
    const char *marginal;       /* marginal features (names, globs); NULL: none */
    int bins, binning;          /* per marginal feature */
    long long edge_rows;        /* edges fitted on the first complete episodes
                                   holding at least this many rows */
    const char *weights;        /* "r_visit=1,..." for the weighted objective;
                                   NULL: the model's, or none */
    const qlearn_model *model;  /* NULL: read pi_* (and q_*) columns */
    qlearn_policy policy;       /* with model */
    ope_cfg cfg;                /* gamma, estimators, bootstrap, seed, level,
                                   strict_ratio; the rest is filled in */
    int dr_required;            /* dr asked for by name: no value model is an error */
} ope_run_opts;

typedef struct ope_report {
    int nobj;
    char **obj_names;           /* the reward columns, then "weighted" */
    ope_result *res;
    int nres;
    uint64_t episodes, rows;
    int n_actions, nmarg;
    uint32_t nbins;             /* joint bins of the marginal features */
    size_t bytes;               /* held by the accumulators */
    const char *dr_skipped;     /* why dr was left out, or NULL */
} ope_report;

/* Read the transitions of o->input with the target policy's
 * probabilities (pi_0..pi_{A-1} columns, A from the columns present, or
 * the model's policy on its state columns), validate every row, and
 * evaluate.  Errors name file, line and column: a missing column, a
 * propensity outside (0, 1], pi outside [0, 1] or not summing to 1
 * (within 1e-4), an action outside 0..A-1, episodes not contiguous, t
 * not increasing within an episode, no rows. */
int ope_run(const ope_run_opts *o, ope_report *rep, errctx *e);
void ope_report_free(ope_report *rep);

#endif
