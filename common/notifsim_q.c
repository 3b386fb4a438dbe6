/*
 * notifsim_q.c - a Q-network as a notif-sim policy (notifsim_q.h).  One
 * state at a time: the evaluation steps users one by one, so the network
 * runs on a batch of 1 (cheap next to the environment for small nets).
 */
#include <stdlib.h>
#include <string.h>

#include "notifsim_q.h"
#include "banned.h"

int notifsim_qpolicy_init(notifsim_qpolicy *qp, const qlearn_model *qm, const qlearn_policy *pol, errctx *e)
{
    memset(qp, 0, sizeof *qp);
    if (qm->n_actions != NOTIFSIM_NACTIONS)
        return err_set(e, "the model has %d actions; notif-sim has %d (drop, send)", qm->n_actions,
                       NOTIFSIM_NACTIONS);
    if (qm->s_dim > 64)
        return err_set(e, "the model has %d state columns; notif-sim has %d", qm->s_dim, NOTIFSIM_NSTATE);
    for (int j = 0; j < qm->s_dim; j++) {
        qp->map[j] = -1;
        for (int k = 0; k < NOTIFSIM_NSTATE; k++)
            if (strcmp(qm->state_names[j], notifsim_state_names[k]) == 0)
                qp->map[j] = k;
        if (qp->map[j] < 0)
            return err_set(e, "the model's state column '%s' is not a notif-sim state", qm->state_names[j]);
    }
    qp->qm = qm;
    qp->pol = *pol;
    arena_init(&qp->A, qlearn_q_bytes(qm, 1) + 4096);
    qp->s = xmalloc((size_t)qm->s_dim * sizeof(float));
    qp->q = xmalloc((size_t)qm->n_actions * sizeof(float));
    qp->pi = xmalloc((size_t)qm->n_actions * sizeof(float));
    return 0;
}

void notifsim_qpolicy_free(notifsim_qpolicy *qp)
{
    arena_free(&qp->A);
    free(qp->s);
    free(qp->q);
    free(qp->pi);
}

void notifsim_qpolicy_probs(void *ctx, const double *state, double *probs)
{
    notifsim_qpolicy *qp = ctx;
    for (int j = 0; j < qp->qm->s_dim; j++)
        qp->s[j] = (float)state[qp->map[j]];
    arena_reset(&qp->A);
    qlearn_q(qp->qm, qp->qm->P.w, qp->s, 1, qp->q, &qp->A);
    qlearn_policy_probs(&qp->pol, qp->q, qp->qm->n_actions, qp->pi);
    for (int a = 0; a < NOTIFSIM_NACTIONS; a++)
        probs[a] = qp->pi[a];
}
