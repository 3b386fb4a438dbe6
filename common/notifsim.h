/*
 * notifsim.h - the notification environment behind notif-sim(1): one user
 * per episode, one send/drop decision every 4 hours over a week, with
 * delayed effects (SPEC section 8, Appendix A "notif-sim"; after the
 * simulation of Yuan et al., "Offline reinforcement learning for mobile
 * notifications", CIKM 2022).
 *
 * The phenomenon it exists for: a send has delayed costs (fatigue lowers
 * the user's activeness for days; sends bunched within 24 hours raise the
 * disable probability, and a disable ends the channel) and delayed
 * benefits (a notification raises the badge count, which raises the visit
 * probability until the next visit clears it), so a rule that looks only
 * at the candidate's relevance is beatable.
 *
 * One step t (0 .. steps-1, 4 hours each, t = 0 Monday 00:00); hod =
 * 4 (t mod 6) the hour of day, day = (t / 6) mod 7; every equation is
 * restated in notif-sim(1):
 *
 *   1. exogenous events (stream "exo" of the user):
 *        n ~ Poisson(arrival_rate f_hour[hod] f_weekday[day]) candidates
 *          join the queue, each with relevance round4(U(0,1)) and a time
 *          to live U{1..ttl_max} steps (available in steps t .. t+ttl-1);
 *        badge += Poisson(badge_rate f_hour[hod])  (other sources)
 *   2. the state is observed (notifsim_observe): s_badge s_queue s_hour
 *      s_active s_sent24h s_top_rel s_hod
 *   3. the action: 1 sends the most relevant candidate, 0 drops it; either
 *      way it leaves the queue (each candidate gets one decision), so the
 *      queue does not depend on the decisions.  With an empty queue there
 *      is nothing to decide: the action is 0 (propensity 1).
 *   4. responses (stream "resp": three uniforms every step, used or not):
 *        n24 = s_sent24h + sent       (sends in the 24 h ending now)
 *        sent: badge += 1; click ~ Bernoulli(click_scale rel active)
 *        visit = click or Bernoulli(sigmoid(visit_bias + visit_active active
 *                + visit_badge log(1 + badge) + b_hour[hod]))
 *        a visit clears the badge
 *        sent: disable ~ Bernoulli(sigmoid(disable_bias + disable_slope n24))
 *   5. dynamics for the next step:
 *        sent and n24 > fatigue_free:
 *            active *= 1 - fatigue_decay (n24 - fatigue_free)
 *        active += recovery (active0 - active)
 *        queue times to live count down; expired candidates leave
 *   The episode ends after `steps` steps or at the disable step (terminal).
 *
 * User u: active0 ~ Beta(active_a, active_b) is the first draw of its exo
 * stream; the episode starts with an empty queue, badge 0 and no sends.
 *
 * Determinism and common random numbers: user u draws from three streams
 * of the seed, u (exogenous), NOTIFSIM_STREAM_RESP + u (responses) and
 * NOTIFSIM_STREAM_POLICY + u (one uniform per step to sample the action),
 * and each step draws the same number of values from the last two
 * whatever happens, so every policy meets the same candidates, badge
 * increments and response uniforms: the output depends only on the
 * configuration, the seed and the user, never on the order or the thread
 * that ran an episode.  Logged episodes are users 0, 1, ...; evaluation
 * runs fresh users NOTIFSIM_EVAL_BASE + 0, 1, ....
 *
 * Policies see only the observed state (the values as written), as a
 * vector in the order of notifsim_state_names, and return action
 * probabilities; the environment samples the action.  A Q-network policy
 * plugs in as one more notifsim_policy_fn.
 */
#ifndef RECSTAGE_NOTIFSIM_H
#define RECSTAGE_NOTIFSIM_H

#include <stdint.h>

#include "cli.h"
#include "err.h"
#include "rec.h"
#include "rng.h"

enum {
    NOTIFSIM_NACTIONS = 2, /* 0 drop, 1 send */
    NOTIFSIM_NSTATE = 7,
    NOTIFSIM_NREWARDS = 4,
    NOTIFSIM_QUEUE_MAX = 64, /* candidates held; see notifsim_user */
    NOTIFSIM_WINDOW = 6      /* steps in 24 hours */
};

/* State vector indices (column order of the output). */
enum {
    NOTIFSIM_S_BADGE,
    NOTIFSIM_S_QUEUE,
    NOTIFSIM_S_HOUR,
    NOTIFSIM_S_ACTIVE,
    NOTIFSIM_S_SENT24H,
    NOTIFSIM_S_TOP_REL,
    NOTIFSIM_S_HOD
};
/* Reward indices. */
enum { NOTIFSIM_R_VISIT, NOTIFSIM_R_CLICK, NOTIFSIM_R_SEND, NOTIFSIM_R_DISABLE };

extern const char *const notifsim_state_names[NOTIFSIM_NSTATE];    /* "s_badge", ... */
extern const char *const notifsim_reward_names[NOTIFSIM_NREWARDS]; /* "r_visit", ... */

/* Stream offsets of a user's response and policy draws, and the first
 * user of an evaluation. */
#define NOTIFSIM_STREAM_RESP UINT64_C(0x4000000000000000)
#define NOTIFSIM_STREAM_POLICY UINT64_C(0x8000000000000000)
#define NOTIFSIM_EVAL_BASE UINT64_C(0x10000000000)

typedef struct notifsim_cfg {
    uint64_t seed;         /* 1 */
    int steps;             /* 42: a week of 4-hour steps */
    double arrival_rate;   /* 0.6 candidates a step, times f_hour f_weekday */
    int ttl_max;           /* 12 steps */
    double badge_rate;     /* 0.3 badge increments a step from other sources, times f_hour */
    double f_hour[6];      /* 0.25 0.75 1.25 1.25 1.5 1.0 (mean 1), by 4-hour slot of the day */
    double f_weekday[7];   /* 1.1 x5 (Mon-Fri), 0.75 x2 (mean 1) */
    double b_hour[6];      /* -1.2 -0.4 0.3 0.3 0.5 0.5 (mean 0): visit logit by slot */
    double visit_bias;     /* -2.5 */
    double visit_active;   /* 3 */
    double visit_badge;    /* 0.8 */
    double click_scale;    /* 0.5: click probability = click_scale rel active */
    double active_a;       /* 2: active0 ~ Beta(active_a, active_b) */
    double active_b;       /* 3 */
    int fatigue_free;      /* 2 sends in 24 h cost no activeness */
    double fatigue_decay;  /* 0.05: lost share of activeness per send above fatigue_free */
    double recovery;       /* 0.03: share of the gap to active0 recovered a step */
    double disable_bias;   /* -6 */
    double disable_slope;  /* 0.5 per send in the 24 h window */
    /* the logging policy: epsilon-greedy around "send when s_top_rel >
     * threshold and s_sent24h < cap" */
    double epsilon;        /* 0.2 */
    double threshold;      /* 0.5 */
    int cap;               /* 4 */
} notifsim_cfg;

/* Fill c with the defaults above. */
void notifsim_defaults(notifsim_cfg *c);
/* 0, or -1 with a message naming the option (as --name) out of range. */
int notifsim_check(const notifsim_cfg *c, errctx *e);

/* One candidate notification in the queue. */
typedef struct notifsim_cand {
    double rel; /* relevance, 4 decimals */
    int ttl;    /* steps left, including the current one */
    uint32_t seq; /* arrival order (ties) */
} notifsim_cand;

/* One user's episode in progress.  Fields are readable (tests look at
 * them); change them only through the functions below. */
typedef struct notifsim_user {
    const notifsim_cfg *cfg;
    uint64_t user;
    rng exo, resp, pol;
    int t;                  /* current step */
    int done;               /* the episode has ended */
    int badge;
    double active, active0;
    int sent[NOTIFSIM_WINDOW]; /* sent[t mod 6]: 1 if step t sent */
    int nq;
    notifsim_cand q[NOTIFSIM_QUEUE_MAX];
    uint32_t seq;
    /* last step's response probabilities (for tests) */
    double p_click, p_visit, p_disable;
} notifsim_user;

/* Start the episode of user `user`: draw active0 and the step-0 events.
 * c must stay valid while u is used. */
void notifsim_user_start(notifsim_user *u, const notifsim_cfg *c, uint64_t user);
/* The state at the start of the current step, before the action. */
void notifsim_observe(const notifsim_user *u, double *state /* NOTIFSIM_NSTATE */);
/* Apply the action (1 with an empty queue counts as 0), fill the rewards
 * of the step, advance.  Returns 1 when this step ended the episode
 * (the last step, or a disable), else 0. */
int notifsim_step(notifsim_user *u, int action, double *reward /* NOTIFSIM_NREWARDS */);

/* ---- policies ---- */

/* Action probabilities given the observed state: probs[a] >= 0, summing
 * to 1.  Called only when the queue is not empty.  Must be a function of
 * the state alone (randomness is the environment's), so results stay
 * reproducible. */
typedef void (*notifsim_policy_fn)(void *ctx, const double *state /* NOTIFSIM_NSTATE */,
                                   double *probs /* NOTIFSIM_NACTIONS */);

typedef struct notifsim_policy {
    notifsim_policy_fn probs;
    void *ctx;
} notifsim_policy;

/* The built-in rules.  kind: always, never, or the threshold rule "send
 * when s_top_rel > threshold and s_sent24h < cap", epsilon-greedy (with
 * probability epsilon a uniformly random action: 1 - epsilon/2 for the
 * rule's action, epsilon/2 for the other). */
enum { NOTIFSIM_ALWAYS, NOTIFSIM_NEVER, NOTIFSIM_RULE };
typedef struct notifsim_rule {
    int kind;
    double threshold;
    int cap;
    double epsilon;
} notifsim_rule;

/* The rule's action for a state with a non-empty queue (no exploration). */
int notifsim_rule_action(const notifsim_rule *r, const double *state);
/* notifsim_policy_fn of a notifsim_rule (ctx). */
void notifsim_rule_probs(void *ctx, const double *state, double *probs);
/* The logging policy of c. */
void notifsim_behavior(const notifsim_cfg *c, notifsim_rule *r);
/* Parse a built-in policy name: always, never, behavior (the logging
 * policy of c), threshold:X (the rule with threshold X, cap c->cap, no
 * exploration), threshold:X:C (and cap C).  0, or -1 with a message. */
int notifsim_rule_parse(const char *spec, const notifsim_cfg *c, notifsim_rule *r, errctx *e);

/* Sample an action from policy p in state s of user u with one uniform of
 * the user's policy stream (drawn whether or not it is needed): with an
 * empty queue action 0 with propensity 1.  Stores mu(a | s) in *prop. */
int notifsim_act(notifsim_user *u, const notifsim_policy *p, const double *state, double *prop);

/* ---- episodes, logging, evaluation ---- */

/* One step of an episode as logged. */
typedef struct notifsim_row {
    uint64_t episode;
    int t;
    double state[NOTIFSIM_NSTATE];
    int action;
    double propensity;
    double reward[NOTIFSIM_NREWARDS];
    int terminal;
} notifsim_row;

/* Called for each step; non-zero stops the episode with that status. */
typedef int (*notifsim_row_fn)(void *ctx, const notifsim_row *row, errctx *e);

/* Run user `user`'s episode under p.  ret[j] (NOTIFSIM_NREWARDS) receives
 * sum_t gamma^t r_j(t).  Returns the number of steps, or -1 when row_fn
 * (may be NULL) failed. */
int notifsim_episode(const notifsim_cfg *c, uint64_t user, const notifsim_policy *p, double gamma,
                     double *ret, notifsim_row_fn row_fn, void *ctx, errctx *e);

/* Column names of the logged transitions: episode t s_* action propensity
 * r_*.  NULL-terminated, static. */
const char *const *notifsim_columns(int *ncols);

/* Log `episodes` users (0 ..) under the logging policy of c to w (header
 * included; w is not closed).  prog may be NULL.  0, or -1 with a message
 * on a write error. */
int notifsim_write(const notifsim_cfg *c, uint64_t episodes, rec_writer *w, cli_progress *prog,
                   errctx *e);

/* Weights of the objectives (NOTIFSIM_NREWARDS): the defaults, and
 * "r_visit=1,r_send=-0.05" parsed (objectives not named weigh 0; an
 * unknown or repeated name, a malformed value or an empty item is an
 * error). */
void notifsim_default_weights(double *w);
int notifsim_parse_weights(const char *s, double *w, errctx *e);

/* The true value of a policy: for each objective and for the weighted sum
 * (index NOTIFSIM_NREWARDS), the mean over episodes of the discounted
 * return and its standard error (NaN for one episode). */
typedef struct notifsim_value {
    uint64_t episodes;
    double mean[NOTIFSIM_NREWARDS + 1];
    double se[NOTIFSIM_NREWARDS + 1];
    double steps; /* mean episode length */
} notifsim_value;

/* Run `episodes` fresh users (NOTIFSIM_EVAL_BASE + i) under p. */
void notifsim_evaluate(const notifsim_cfg *c, const notifsim_policy *p, uint64_t episodes, double gamma,
                       const double *weights, notifsim_value *out, cli_progress *prog);
/* Write "objective value stderr", one row per objective and "weighted". */
int notifsim_write_value(rec_writer *w, const notifsim_value *v, errctx *e);

/* Running mean and variance (Welford), in double. */
typedef struct notifsim_moments {
    uint64_t n;
    double mean, m2;
} notifsim_moments;
void notifsim_moments_add(notifsim_moments *m, double x);
/* Standard error of the mean: sqrt(var / n), NaN below two values. */
double notifsim_moments_se(const notifsim_moments *m);

#endif
