/*
 * qlearn.h - offline Q-learning for notifications (SPEC section 8): logged
 * transitions, a Q-network trained with Double DQN and the CQL(H) penalty
 * (cql-ddqn-train), and the policy it implies (policy-act).
 *
 * Data.  Transitions `episode t s_* action propensity r_* [dt]`, grouped
 * by episode, t strictly increasing within an episode.  Row i of an
 * episode is the transition (s_i, a_i, r_i, s_{i+1}); the episode's last
 * row is terminal (done = 1, no next state).  The reward of a row is the
 * weighted sum r = sum_j w_j r_j of its objectives (--weights; reward
 * columns not named weigh 0, and without --weights every one weighs 1).
 * The whole data set is held in memory, as the rows were read, so the
 * next state of row i is row i + 1:
 *
 *   s (n, S) floats, a (n) int32, r (n) float, dt (n) float, done (n) byte
 *
 * i.e. 4 S + 13 bytes a transition (up to twice that while the arrays
 * grow).  The propensity is validated (in (0, 1]) but not kept: Q-learning
 * does not weight by it; smis-ope does.
 *
 * Model.  Q(s, .) = MLP((s - mean) / std), S -> hidden -> A, with the
 * standardisation (mean and population std of every state feature over
 * all transitions, std 0 replaced by 1) fitted before training and kept
 * fixed: it is part of the model (tensors norm.mean, norm.std), not a
 * trained parameter.  The network's tensors are q.<l>.w (out, in) and
 * q.<l>.b (out).
 *
 * Loss of a minibatch B of transitions (the batch mean), with theta the
 * online network and theta' the target network:
 *
 *   a*_i  = argmax_a Q(s'_i, a; theta)               (ties: lowest a)
 *   y_i   = r_i + gamma^dt_i (1 - done_i) Q(s'_i, a*_i; theta')
 *   L     = 1/|B| sum_i [ l(Q(s_i, a_i; theta) - y_i)
 *                        + alpha (logsumexp_a Q(s_i, a; theta) - Q(s_i, a_i; theta)) ]
 *
 * y is a constant (no gradient flows through it: the semi-gradient of
 * DQN); l is Huber with delta 1 or the squared error (nn_loss.h).  The
 * first term is Double DQN (van Hasselt, Guez and Silver 2016: the online
 * network selects the next action, the target network evaluates it); the
 * second is CQL(H) (Kumar et al. 2020, "Conservative Q-learning for
 * offline reinforcement learning", eq. 4 with the R = entropy regulariser,
 * the minimum over mu in closed form a logsumexp), which pushes Q down on
 * every action and up on the logged one.  alpha = 0 is plain Double DQN.
 * Its gradient with respect to Q(s_i, .) is
 *
 *   dL/dQ(s_i, a) = 1/|B| [ l'(Q(s_i, a_i) - y_i) [a = a_i]
 *                           + alpha (softmax(Q(s_i, .))_a - [a = a_i]) ]
 *
 * back-propagated through the MLP (nn.h).
 *
 * Training.  Adam on the online network; the target network is a copy
 * refreshed every --target-every steps, or a Polyak average
 * theta' <- tau theta + (1 - tau) theta' after every step.  Step k draws
 * its minibatch (uniformly, with replacement) from the generator stream
 * (seed, QLEARN_STREAM_BATCH + k), and computes it in QLEARN_SHARDS
 * fixed slices through the worker pool, reduced in slice order (pool.h):
 * the model is byte-identical for any thread count.
 */
#ifndef RECSTAGE_QLEARN_H
#define RECSTAGE_QLEARN_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "err.h"
#include "model.h"
#include "nn.h"
#include "nn_loss.h"

/* Minibatch slices: fixed, whatever --threads is (see above). */
#define QLEARN_SHARDS 8
/* Generator streams: 0 initial weights, STREAM_BATCH + k step k's batch. */
#define QLEARN_STREAM_BATCH 0x10000ULL
#define QLEARN_MAX_ACTIONS 1024

/* ---- reward weights ---- */

typedef struct qlearn_weights {
    int n;          /* 0: not given (every reward column weighs 1) */
    char **names;   /* (n) */
    double *w;      /* (n) */
} qlearn_weights;

/* Parse "r_visit=1,r_send=-0.05": names non-empty and distinct, numbers
 * finite.  Returns 0, or -1 with a message. */
int qlearn_weights_parse(const char *spec, qlearn_weights *out, errctx *e);
void qlearn_weights_free(qlearn_weights *w);

/* ---- transitions ---- */

typedef struct qlearn_colspec {
    const char *episode, *time, *action, *propensity; /* names */
    const char *states, *rewards;                      /* names and globs */
    const char *dt;                                    /* name; may be absent */
    int dt_required;                                   /* 1: dt must exist */
} qlearn_colspec;

/* The defaults: episode t action propensity s_* r_* dt (optional). */
void qlearn_colspec_defaults(qlearn_colspec *spec);

typedef struct qlearn_data {
    int s_dim, n_actions;
    size_t n, cap;       /* transitions */
    float *s;            /* (n, s_dim) states as read */
    int32_t *a;          /* (n) logged actions, 0..n_actions-1 */
    float *r;            /* (n) weighted rewards */
    float *dt;           /* (n) time to the next row, > 0 */
    uint8_t *done;       /* (n) 1 on the last row of an episode */
    size_t nepisodes;
    /* what was read, for the model file */
    char *episode_col, *time_col, *action_col, *propensity_col;
    char *dt_col;        /* NULL: no dt column, dt = 1 */
    char **state_names;  /* (s_dim) */
    int n_rewards;
    char **reward_names; /* (n_rewards) */
    double *weights;     /* (n_rewards) */
} qlearn_data;

/* Read and validate every transition of path ("-": stdin).  Errors name
 * file, line and column: a missing column (listing those that exist), a
 * --weights name that is not a reward column, an action that is not an
 * integer in 0..n_actions-1, a propensity outside (0, 1], dt <= 0, a
 * value that is missing, malformed, NaN or infinite, an episode whose
 * rows are not contiguous, t not strictly increasing within an episode,
 * no transition at all. */
int qlearn_data_load(qlearn_data *d, const char *path, const qlearn_colspec *spec,
                     const qlearn_weights *weights, int n_actions, errctx *e);
void qlearn_data_free(qlearn_data *d);
/* A fingerprint of the data, for a checkpoint's config (ckpt.h). */
uint64_t qlearn_data_hash(const qlearn_data *d);

/* ---- the model ---- */

typedef struct qlearn_model {
    int s_dim, n_actions;
    char **state_names;   /* (s_dim) */
    char hidden[128];     /* hidden layer spec, "64,64" */
    nn_act act;
    nn_params P;          /* the online network (tensors q.<l>.w, q.<l>.b) */
    nn_mlp net;           /* s_dim -> hidden -> n_actions */
    float *norm_mean;     /* (s_dim) */
    float *norm_std;      /* (s_dim), > 0 */
    model *file;          /* metadata of the file read, or NULL */
} qlearn_model;

/* Declare the network (weights zero, mean 0, std 1).  Returns 0, or -1
 * with a message (bad hidden spec, n_actions outside 1..QLEARN_MAX_ACTIONS). */
int qlearn_model_init(qlearn_model *qm, int s_dim, const char *const *state_names, int n_actions,
                      const char *hidden, nn_act act, errctx *e);
/* He/Xavier initial weights from the generator stream (seed, 0). */
void qlearn_model_init_weights(qlearn_model *qm, uint64_t seed);
void qlearn_model_free(qlearn_model *qm);
/* Fit the standardisation on every state of d (mean and population std
 * in double; std 0 becomes 1). */
void qlearn_fit_norm(qlearn_model *qm, const qlearn_data *d);

/* Arena bytes of qlearn_q on n rows. */
size_t qlearn_q_bytes(const qlearn_model *qm, int n);
/* q (n, A) = Q(s, .) for raw states s (n, s_dim), with weights w in the
 * layout of qm->P (qm->P.w, or a target copy).  Scratch from A, released. */
void qlearn_q(const qlearn_model *qm, const float *w, const float *s, int n, float *q, arena *A);
/* Index of the largest of q[0..n), the lowest on ties. */
int qlearn_argmax(const float *q, int n);

/* ---- the loss of a minibatch ---- */

typedef struct qlearn_loss_cfg {
    double gamma;  /* discount per unit of dt, in [0, 1] */
    nn_loss loss;  /* NN_LOSS_HUBER (delta) or NN_LOSS_MSE */
    double alpha;  /* CQL(H) weight, >= 0 */
} qlearn_loss_cfg;

/* Sums over the rows of a minibatch (unscaled), for reporting. */
typedef struct qlearn_stats {
    double td;     /* sum_i l(Q(s_i, a_i) - y_i) */
    double gap;    /* sum_i logsumexp_a Q(s_i, a) - Q(s_i, a_i) (the CQL gap) */
    double q;      /* sum_i Q(s_i, a_i) */
    long long rows, next_rows; /* rows; of them, non-terminal */
} qlearn_stats;

/* Arena bytes of qlearn_loss on n rows. */
size_t qlearn_loss_bytes(const qlearn_model *qm, int n);
/* The loss above over the transitions idx[0..n) of d, times scale (1/|B|
 * for a slice of a minibatch B): returns scale * sum_i [l_i + alpha gap_i]
 * and, if g is not NULL, adds scale * its gradient with respect to the
 * online weights w to g (layout of qm->P).  wt are the target weights.
 * st (may be NULL) receives the unscaled sums.  Scratch from A, released. */
double qlearn_loss(const qlearn_model *qm, const qlearn_loss_cfg *lc, const float *w, const float *wt,
                   const qlearn_data *d, const size_t *idx, int n, double scale, float *g,
                   qlearn_stats *st, arena *A);

/* ---- training ---- */

typedef struct qlearn_train_cfg {
    qlearn_loss_cfg lc;
    double lr;            /* Adam */
    double clip;          /* global gradient norm, 0: none */
    long long steps;
    int batch;
    long long target_every; /* hard copy period (when tau is 0) */
    double tau;           /* Polyak rate in (0, 1], 0: hard copies */
    uint64_t seed;
    int threads;
    long long log_every;  /* progress line period, 0: steps / 10 */
    const struct ckpt_cfg *ckpt; /* checkpoints and resuming (ckpt.h); NULL: none */
} qlearn_train_cfg;

/* What training reports at the end (means over the last log period). */
typedef struct qlearn_train_result {
    double td, gap, q;
    double seconds;
    double transitions_per_s, gflops;
} qlearn_train_result;

/* Fit the standardisation on d, then train qm's (initialised) weights.
 * Progress on stderr (cli_info).  Fails, leaving qm unusable, when the
 * loss, the gradient or a weight becomes NaN or infinite ("training
 * diverged ... at step k").  With tc->ckpt: resumes from its checkpoint
 * (the online and target weights, Adam's state, the step) and writes
 * checkpoints (ckpt.h; the target network as tensors target.*), returning
 * CKPT_STOPPED after writing one on a stop request. */
int qlearn_train(qlearn_model *qm, const qlearn_data *d, const qlearn_train_cfg *tc,
                 qlearn_train_result *res, errctx *e);

/* ---- model files ---- */

/* A recstage.qnet (version 1) model: the network, norm.mean, norm.std,
 * and metadata: the state columns ("columns"), the other columns read,
 * actions, gamma, weights ("r_visit=1,r_send=-0.05", every reward
 * column), rewards, and every training option.  The caller writes it. */
model *qlearn_model_to_file(const qlearn_model *qm, const qlearn_data *d, const qlearn_train_cfg *tc,
                            errctx *e);
/* Read a recstage.qnet model (version <= 1). */
int qlearn_model_load(qlearn_model *qm, const char *path, errctx *e);

/* ---- policies (policy-act) ---- */

typedef struct qlearn_policy {
    int softmax;        /* 0: epsilon-greedy, 1: softmax at temperature */
    double epsilon;     /* in [0, 1] */
    double temperature; /* > 0 */
} qlearn_policy;

/* pi (A) from q (A): epsilon-greedy, pi = epsilon / A everywhere plus
 * 1 - epsilon on the greedy action; or softmax(q / T).  Returns the
 * greedy action (argmax, lowest index on ties). */
int qlearn_policy_probs(const qlearn_policy *pol, const float *q, int n_actions, float *pi);

typedef struct qlearn_act_opts {
    const char *const *inputs; /* files; none means stdin */
    int ninputs;
    const char *output;        /* NULL: stdout */
    int binary;
    int batch;                 /* rows per matrix product */
    int threads;               /* worker threads (>= 1) */
    const char *action_name;   /* the greedy action's column; NULL: "action" */
    qlearn_policy policy;
} qlearn_act_opts;

/* policy-act: append q_0..q_{A-1}, action, pi_0..pi_{A-1} to every row,
 * the input columns kept; an input that already has one of these columns
 * is an error (transitions have their logged `action`: the greedy one then
 * needs another name).  Streams pieces of the input through o->threads
 * workers (pmap.h); the output is the same for any thread count. */
int qlearn_act_stream(const qlearn_model *qm, const qlearn_act_opts *o, errctx *e);

#endif
