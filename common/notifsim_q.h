/*
 * notifsim_q.h - a Q-network from cql-ddqn-train as a notif-sim policy,
 * so that notif-sim --evaluate -m MODEL gives the learned policy's true
 * value.  The model's state columns are matched by name to notif-sim's
 * state vector; actions are notif-sim's (0 drop, 1 send).
 */
#ifndef RECSTAGE_NOTIFSIM_Q_H
#define RECSTAGE_NOTIFSIM_Q_H

#include "arena.h"
#include "err.h"
#include "notifsim.h"
#include "qlearn.h"

typedef struct notifsim_qpolicy {
    const qlearn_model *qm;
    qlearn_policy pol;
    int map[64]; /* model state j <- notif-sim state map[j] */
    arena A;
    float *s, *q, *pi;
} notifsim_qpolicy;

/* Bind qm's state columns to notif-sim's; -1 with a message when a
 * column is not a notif-sim state or the model has other than 2 actions. */
int notifsim_qpolicy_init(notifsim_qpolicy *qp, const qlearn_model *qm, const qlearn_policy *pol, errctx *e);
void notifsim_qpolicy_free(notifsim_qpolicy *qp);
/* notifsim_policy_fn: pi(. | state) of the Q-network (ctx: a notifsim_qpolicy). */
void notifsim_qpolicy_probs(void *ctx, const double *state, double *probs);

#endif
