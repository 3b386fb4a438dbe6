/*
 * test_notifsim.c - the notification environment against the properties
 * it is meant to have (notifsim.h, notif-sim(1)): determinism and common
 * random numbers across policies; the order of events within a step
 * (a visit clears the badge, a send adds one, the state is seen before
 * the action); the response probabilities against their formulas and the
 * drawn outcomes against the probabilities; arrivals and activeness
 * against their distributions; episode ends (at most 42 steps, the
 * disable step terminal); the logging policy's propensities against its
 * definition and its action frequencies; delayed effects (fatigue and
 * disables under always, none under never); evaluation (the behaviour
 * value against the logged returns, the standard error against
 * 1/sqrt(n), the discount); option parsing; the written table read back.
 *
 * Statistical checks use tolerances of 4 standard errors or a stated
 * slack, so they fail when the model is wrong, not by chance (and every
 * draw is seeded, so they cannot flicker).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "notifsim.h"
#include "rec.h"
#include "banned.h"

static double sigmoid(double z)
{
    return 1 / (1 + exp(-z));
}

/* A logged episode kept in memory. */
typedef struct episode_log {
    int n;
    notifsim_row rows[1000];
} episode_log;

static int keep_row(void *ctx, const notifsim_row *row, errctx *e)
{
    (void)e;
    episode_log *l = ctx;
    if (l->n < 1000)
        l->rows[l->n++] = *row;
    return 0;
}

static void run(const notifsim_cfg *c, uint64_t user, notifsim_rule *rule, episode_log *l, double *ret)
{
    notifsim_policy p = {notifsim_rule_probs, rule};
    double scratch[NOTIFSIM_NREWARDS];
    l->n = 0;
    notifsim_episode(c, user, &p, 1, ret ? ret : scratch, keep_row, l, NULL);
}

static notifsim_rule rule_of(int kind)
{
    notifsim_rule r = {kind, 0.5, 4, 0};
    return r;
}

static void test_determinism(void)
{
    notifsim_cfg c;
    notifsim_defaults(&c);
    notifsim_rule beh;
    notifsim_behavior(&c, &beh);
    static episode_log a, b;
    run(&c, 17, &beh, &a, NULL);
    run(&c, 3, &beh, &b, NULL);
    run(&c, 17, &beh, &b, NULL);
    check(a.n == b.n && memcmp(a.rows, b.rows, (size_t)a.n * sizeof *a.rows) == 0,
          "episode 17 is the same whatever ran before");
    notifsim_cfg c2 = c;
    c2.seed = 2;
    run(&c2, 17, &beh, &b, NULL);
    check(a.n != b.n || memcmp(a.rows, b.rows, (size_t)a.n * sizeof *a.rows) != 0, "other seed: other episode");

    /* common random numbers: the queue and the other badge sources do not
     * depend on the policy, so always and never see the same queue */
    notifsim_rule always = rule_of(NOTIFSIM_ALWAYS), never = rule_of(NOTIFSIM_NEVER);
    int same_queue = 1, compared = 0, never_full = 1;
    for (uint64_t user = 0; user < 300; user++) {
        run(&c, user, &always, &a, NULL);
        run(&c, user, &never, &b, NULL);
        for (int i = 0; i < a.n && i < b.n; i++) {
            same_queue &= a.rows[i].state[NOTIFSIM_S_QUEUE] == b.rows[i].state[NOTIFSIM_S_QUEUE] &&
                          a.rows[i].state[NOTIFSIM_S_TOP_REL] == b.rows[i].state[NOTIFSIM_S_TOP_REL];
            compared++;
        }
        never_full &= b.n == 42;
    }
    check(never_full, "never: every episode has 42 steps");
    check(same_queue && compared > 5000, "always and never meet the same candidates (%d steps)", compared);
}

/* The order of events, with no other badge sources so the badge is
 * determined by the sends and visits: a send adds one, a visit clears
 * it, and the state is observed before the action. */
static void test_step_order(void)
{
    notifsim_cfg c;
    notifsim_defaults(&c);
    c.badge_rate = 0;
    notifsim_rule beh;
    notifsim_behavior(&c, &beh);
    static episode_log l;
    int badge_ok = 1, visits = 0, sends_nonempty = 1, empty_ok = 1, window_ok = 1, hour_ok = 1;
    for (uint64_t user = 0; user < 500; user++) {
        run(&c, user, &beh, &l, NULL);
        for (int i = 0; i < l.n; i++) {
            const notifsim_row *r = &l.rows[i];
            hour_ok &= r->t == i && r->state[NOTIFSIM_S_HOUR] == 4 * i && r->state[NOTIFSIM_S_HOD] == 4 * (i % 6);
            if (r->reward[NOTIFSIM_R_SEND] == 1)
                sends_nonempty &= r->state[NOTIFSIM_S_QUEUE] >= 1 && r->action == 1;
            if (r->state[NOTIFSIM_S_QUEUE] == 0)
                empty_ok &= r->action == 0 && r->propensity == 1 && r->state[NOTIFSIM_S_TOP_REL] == 0;
            /* s_sent24h = sends in the 5 steps before */
            int n = 0;
            for (int k = 1; k <= 5 && k <= i; k++)
                n += (int)l.rows[i - k].reward[NOTIFSIM_R_SEND];
            window_ok &= r->state[NOTIFSIM_S_SENT24H] == n;
            if (i + 1 < l.n) {
                double want = r->reward[NOTIFSIM_R_VISIT] ? 0 : r->state[NOTIFSIM_S_BADGE] + r->reward[NOTIFSIM_R_SEND];
                badge_ok &= l.rows[i + 1].state[NOTIFSIM_S_BADGE] == want;
                visits += r->reward[NOTIFSIM_R_VISIT] == 1;
            }
        }
    }
    check(badge_ok && visits > 1000, "a visit clears the badge, a send adds one (%d visits)", visits);
    check(sends_nonempty, "a send is logged only with a candidate and action 1");
    check(empty_ok, "an empty queue: action 0, propensity 1, s_top_rel 0");
    check(window_ok, "s_sent24h counts the sends of the 5 steps before");
    check(hour_ok, "t, s_hour and s_hod follow the step");

    /* a send with an empty queue is no send */
    notifsim_user u;
    double s[NOTIFSIM_NSTATE], rw[NOTIFSIM_NREWARDS];
    notifsim_user_start(&u, &c, 0);
    int found = 0;
    while (!found) {
        notifsim_observe(&u, s);
        if (s[NOTIFSIM_S_QUEUE] == 0) {
            found = 1;
            int badge = u.badge;
            notifsim_step(&u, 1, rw);
            check(rw[NOTIFSIM_R_SEND] == 0 && rw[NOTIFSIM_R_CLICK] == 0 &&
                      (rw[NOTIFSIM_R_VISIT] == 1 || u.badge == badge),
                  "action 1 with an empty queue sends nothing");
        } else if (notifsim_step(&u, 0, rw)) {
            break;
        }
    }
    check(found, "an empty queue occurs");
}

/* The response probabilities follow their formulas and the outcomes
 * follow the probabilities; arrivals and activeness their laws. */
static void test_responses(void)
{
    notifsim_cfg c;
    notifsim_defaults(&c);
    notifsim_rule beh;
    notifsim_behavior(&c, &beh);
    notifsim_policy p = {notifsim_rule_probs, &beh};
    double sum_pc = 0, var_pc = 0, clicks = 0, sum_pv = 0, var_pv = 0, visits = 0, sum_pd = 0, var_pd = 0,
           disables = 0;
    int formula_ok = 1, click_implies_visit = 1;
    double a0_sum = 0, arrivals = 0, arrivals_want = 0;
    int users = 20000;
    for (int user = 0; user < users; user++) {
        notifsim_user u;
        double s[NOTIFSIM_NSTATE], r[NOTIFSIM_NREWARDS], prop;
        notifsim_user_start(&u, &c, (uint64_t)user);
        a0_sum += u.active0;
        int done = 0;
        while (!done) {
            notifsim_observe(&u, s);
            int a = notifsim_act(&u, &p, s, &prop);
            double active = u.active, rel = s[NOTIFSIM_S_TOP_REL];
            int badge = u.badge, slot = u.t % 6, n24 = (int)s[NOTIFSIM_S_SENT24H];
            arrivals_want += c.arrival_rate * c.f_hour[slot] * c.f_weekday[(u.t / 6) % 7];
            done = notifsim_step(&u, a, r);
            int sent = (int)r[NOTIFSIM_R_SEND];
            double pv = sigmoid(c.visit_bias + c.visit_active * active + c.visit_badge * log1p(badge + sent) +
                                c.b_hour[slot]);
            formula_ok &= fabs(u.p_visit - pv) < 1e-12;
            if (sent) {
                double pc = c.click_scale * rel * active, pd = sigmoid(c.disable_bias + c.disable_slope * (n24 + 1));
                formula_ok &= fabs(u.p_click - pc) < 1e-12 && fabs(u.p_disable - pd) < 1e-12;
                sum_pc += pc;
                var_pc += pc * (1 - pc);
                clicks += r[NOTIFSIM_R_CLICK];
                sum_pd += pd;
                var_pd += pd * (1 - pd);
                disables += r[NOTIFSIM_R_DISABLE];
            } else {
                formula_ok &= r[NOTIFSIM_R_CLICK] == 0 && r[NOTIFSIM_R_DISABLE] == 0;
            }
            if (r[NOTIFSIM_R_CLICK])
                click_implies_visit &= r[NOTIFSIM_R_VISIT] == 1;
            else {
                /* without a click the visit is the organic draw */
                sum_pv += u.p_visit;
                var_pv += u.p_visit * (1 - u.p_visit);
                visits += r[NOTIFSIM_R_VISIT];
            }
        }
        arrivals += u.seq;
    }
    check(formula_ok, "click, visit and disable probabilities follow their formulas");
    check(click_implies_visit, "a click is a visit");
    check(fabs(clicks - sum_pc) < 4 * sqrt(var_pc), "clicks %.0f vs expected %.1f (sd %.1f)", clicks, sum_pc,
          sqrt(var_pc));
    check(fabs(visits - sum_pv) < 4 * sqrt(var_pv), "organic visits %.0f vs expected %.1f (sd %.1f)", visits,
          sum_pv, sqrt(var_pv));
    check(fabs(disables - sum_pd) < 4 * sqrt(var_pd), "disables %.0f vs expected %.1f (sd %.1f)", disables,
          sum_pd, sqrt(var_pd));
    /* Beta(2, 3): mean 0.4, variance 0.04 */
    check(fabs(a0_sum / users - 0.4) < 4 * 0.2 / sqrt(users), "mean activeness %.4f, Beta(2,3) mean 0.4",
          a0_sum / users);
    /* Poisson arrivals: variance = mean */
    check(fabs(arrivals - arrivals_want) < 4 * sqrt(arrivals_want), "arrivals %.0f vs expected %.1f", arrivals,
          arrivals_want);
}

/* Episodes end after 42 steps or at the disable step. */
static void test_episode_end(void)
{
    notifsim_cfg c;
    notifsim_defaults(&c);
    notifsim_rule always = rule_of(NOTIFSIM_ALWAYS);
    static episode_log l;
    int ok = 1, short_eps = 0, disabled = 0;
    for (uint64_t user = 0; user < 2000; user++) {
        run(&c, user, &always, &l, NULL);
        ok &= l.n >= 1 && l.n <= 42;
        for (int i = 0; i < l.n; i++) {
            const notifsim_row *r = &l.rows[i];
            int last = i == l.n - 1;
            ok &= r->terminal == last;
            if (r->reward[NOTIFSIM_R_DISABLE])
                ok &= last;
            if (last)
                ok &= r->reward[NOTIFSIM_R_DISABLE] == 1 || r->t == 41;
        }
        short_eps += l.n < 42;
        disabled += l.rows[l.n - 1].reward[NOTIFSIM_R_DISABLE] == 1;
    }
    check(ok, "at most 42 steps; the last step is terminal; a disable ends the episode");
    check(short_eps > 100 && short_eps <= disabled, "always: %d of 2000 episodes end early, %d disable", short_eps,
          disabled);
    c.steps = 10;
    run(&c, 5, &always, &l, NULL);
    check(l.n <= 10 && l.rows[l.n - 1].terminal, "--steps 10: at most 10 steps (%d)", l.n);
}

/* The logging policy: propensities by definition, and the actions at the
 * frequencies the propensities say. */
static void test_logging_policy(void)
{
    notifsim_cfg c;
    notifsim_defaults(&c);
    notifsim_rule beh;
    notifsim_behavior(&c, &beh);
    static episode_log l;
    double decided = 0, follow = 0;
    int prop_ok = 1;
    for (uint64_t user = 0; user < 3000; user++) {
        run(&c, user, &beh, &l, NULL);
        for (int i = 0; i < l.n; i++) {
            const notifsim_row *r = &l.rows[i];
            if (r->state[NOTIFSIM_S_QUEUE] == 0)
                continue;
            int rule = notifsim_rule_action(&beh, r->state);
            int want_rule = r->state[NOTIFSIM_S_TOP_REL] > 0.5 && r->state[NOTIFSIM_S_SENT24H] < 4;
            prop_ok &= rule == want_rule;
            prop_ok &= r->action == rule ? r->propensity == 1 - 0.2 / 2 : r->propensity == 0.2 / 2;
            decided++;
            follow += r->action == rule;
        }
    }
    check(prop_ok, "propensity 1 - eps/2 for the rule's action, eps/2 for the other");
    double se = sqrt(0.9 * 0.1 / decided);
    check(fabs(follow / decided - 0.9) < 4 * se, "the rule's action is taken %.4f of the time (want 0.9, se %.4f)",
          follow / decided, se);

    /* epsilon 0: the rule exactly; epsilon 1: a fair coin */
    c.epsilon = 0;
    notifsim_behavior(&c, &beh);
    int exact = 1;
    for (uint64_t user = 0; user < 1000; user++) {
        run(&c, user, &beh, &l, NULL);
        for (int i = 0; i < l.n; i++) {
            const notifsim_row *r = &l.rows[i];
            int want = r->state[NOTIFSIM_S_QUEUE] > 0 && notifsim_rule_action(&beh, r->state);
            exact &= r->action == want && r->propensity == 1;
        }
    }
    check(exact, "epsilon 0: the logged actions follow the rule, propensity 1");
    c.epsilon = 1;
    notifsim_behavior(&c, &beh);
    decided = follow = 0;
    for (uint64_t user = 0; user < 1000; user++) {
        run(&c, user, &beh, &l, NULL);
        for (int i = 0; i < l.n; i++)
            if (l.rows[i].state[NOTIFSIM_S_QUEUE] > 0) {
                decided++;
                follow += l.rows[i].action;
                prop_ok &= l.rows[i].propensity == 0.5;
            }
    }
    check(fabs(follow / decided - 0.5) < 4 * sqrt(0.25 / decided), "epsilon 1: sends %.4f of the time",
          follow / decided);
    check(prop_ok, "epsilon 1: propensity 0.5");

    /* zero-probability actions are never sampled */
    notifsim_rule always = rule_of(NOTIFSIM_ALWAYS), never = rule_of(NOTIFSIM_NEVER);
    int det_ok = 1;
    for (uint64_t user = 0; user < 200; user++) {
        run(&c, user, &always, &l, NULL);
        for (int i = 0; i < l.n; i++)
            det_ok &= l.rows[i].action == (l.rows[i].state[NOTIFSIM_S_QUEUE] > 0) && l.rows[i].propensity == 1;
        run(&c, user, &never, &l, NULL);
        for (int i = 0; i < l.n; i++)
            det_ok &= l.rows[i].action == 0 && l.rows[i].propensity == 1;
    }
    check(det_ok, "always sends whenever it can, never never sends, with propensity 1");
}

/* Sending has delayed effects: fatigue lowers later activeness, bunched
 * sends raise disables; never sending leaves activeness alone. */
static void test_delayed_effects(void)
{
    notifsim_cfg c;
    notifsim_defaults(&c);
    double w[NOTIFSIM_NREWARDS];
    notifsim_default_weights(w);
    notifsim_rule always = rule_of(NOTIFSIM_ALWAYS), never = rule_of(NOTIFSIM_NEVER), thr;
    notifsim_rule_parse("threshold:0.5", &c, &thr, NULL);
    notifsim_policy pa = {notifsim_rule_probs, &always}, pn = {notifsim_rule_probs, &never},
                    pt = {notifsim_rule_probs, &thr};
    notifsim_value va, vn, vt;
    notifsim_evaluate(&c, &pa, 5000, 1, w, &va, NULL);
    notifsim_evaluate(&c, &pn, 5000, 1, w, &vn, NULL);
    notifsim_evaluate(&c, &pt, 5000, 1, w, &vt, NULL);
    check(vn.mean[NOTIFSIM_R_DISABLE] == 0 && vn.mean[NOTIFSIM_R_CLICK] == 0 && vn.mean[NOTIFSIM_R_SEND] == 0,
          "never: no sends, clicks or disables");
    check(va.mean[NOTIFSIM_R_DISABLE] > 3 * vt.mean[NOTIFSIM_R_DISABLE] && vt.mean[NOTIFSIM_R_DISABLE] > 0.02,
          "disables: always %.4f > 3 x threshold:0.5 %.4f > 0 = never", va.mean[NOTIFSIM_R_DISABLE],
          vt.mean[NOTIFSIM_R_DISABLE]);
    check(va.mean[NOTIFSIM_R_SEND] > vt.mean[NOTIFSIM_R_SEND] + 4 * va.se[NOTIFSIM_R_SEND],
          "always sends more than threshold:0.5");
    check(vt.mean[NOTIFSIM_R_CLICK] > 4 * vt.se[NOTIFSIM_R_CLICK], "threshold:0.5 gets clicks, never none");
    /* more sends, fewer visits: fatigue and the visits lost after a
     * disable (the episode ends) outweigh the badge */
    check(va.mean[NOTIFSIM_R_VISIT] + 4 * va.se[NOTIFSIM_R_VISIT] < vn.mean[NOTIFSIM_R_VISIT],
          "always visits %.3f below never %.3f", va.mean[NOTIFSIM_R_VISIT], vn.mean[NOTIFSIM_R_VISIT]);
    /* some sending helps: the badge raises visits */
    check(vt.mean[NOTIFSIM_R_VISIT] > vn.mean[NOTIFSIM_R_VISIT] + 4 * vt.se[NOTIFSIM_R_VISIT],
          "threshold:0.5 visits %.3f above never %.3f", vt.mean[NOTIFSIM_R_VISIT], vn.mean[NOTIFSIM_R_VISIT]);
    check(va.steps < vn.steps && vn.steps == 42, "disables shorten always's episodes (%.2f steps)", va.steps);

    /* activeness: exactly active0 under never; lowered by always, user by
     * user (same users, same candidates) */
    static episode_log la, ln;
    int never_flat = 1, never_lower = 1, compared = 0;
    double late_a = 0, late_n = 0;
    for (uint64_t user = 0; user < 2000; user++) {
        notifsim_user u;
        notifsim_user_start(&u, &c, user);
        double a0 = u.active0;
        run(&c, user, &always, &la, NULL);
        run(&c, user, &never, &ln, NULL);
        for (int i = 0; i < ln.n; i++)
            never_flat &= ln.rows[i].state[NOTIFSIM_S_ACTIVE] == floor(a0 * 1e4 + 0.5) / 1e4;
        for (int i = 0; i < la.n; i++)
            never_lower &= la.rows[i].state[NOTIFSIM_S_ACTIVE] <= ln.rows[i].state[NOTIFSIM_S_ACTIVE];
        if (la.n > 30) {
            late_a += la.rows[30].state[NOTIFSIM_S_ACTIVE];
            late_n += ln.rows[30].state[NOTIFSIM_S_ACTIVE];
            compared++;
        }
    }
    check(never_flat, "never: activeness stays at the user's own level");
    check(never_lower, "always: activeness never above never's");
    check(compared > 500 && late_a < 0.6 * late_n, "always: activeness at step 30 %.3f vs never %.3f (%d users)",
          late_a / compared, late_n / compared, compared);

    /* recovery: after a burst, activeness climbs back toward active0 */
    notifsim_user u;
    double s[NOTIFSIM_NSTATE], r[NOTIFSIM_NREWARDS];
    notifsim_cfg cr = c;
    cr.disable_bias = -100; /* no disables: watch fatigue alone */
    notifsim_user_start(&u, &cr, 7);
    for (int t = 0; t < 12; t++)
        notifsim_step(&u, 1, r);
    double tired = u.active;
    for (int t = 12; t < 30; t++)
        notifsim_step(&u, 0, r);
    notifsim_observe(&u, s);
    check(tired < u.active && u.active < u.active0, "activeness recovers slowly (%.4f -> %.4f, own %.4f)", tired,
          u.active, u.active0);
    double want = u.active0 - (u.active0 - tired) * pow(1 - cr.recovery, 18);
    check_close(u.active, want, 1e-12, 0, "recovery: the gap shrinks by 3% a step");
}

/* Evaluation: behaviour's true value against the logged returns; the
 * standard error against 1/sqrt(n); the discount. */
static int sum_row(void *ctx, const notifsim_row *row, errctx *e)
{
    (void)e;
    double *acc = ctx;
    for (int j = 0; j < NOTIFSIM_NREWARDS; j++)
        acc[j] += row->reward[j];
    return 0;
}

static void test_evaluate(void)
{
    notifsim_cfg c;
    notifsim_defaults(&c);
    double w[NOTIFSIM_NREWARDS];
    notifsim_default_weights(w);
    notifsim_rule beh;
    notifsim_behavior(&c, &beh);
    notifsim_policy p = {notifsim_rule_probs, &beh};
    /* logged users 0.. against fresh users */
    int n = 8000;
    notifsim_moments m[NOTIFSIM_NREWARDS];
    memset(m, 0, sizeof m);
    int ret_ok = 1;
    for (int i = 0; i < n; i++) {
        double acc[NOTIFSIM_NREWARDS] = {0}, ret[NOTIFSIM_NREWARDS];
        notifsim_episode(&c, (uint64_t)i, &p, 1, ret, sum_row, acc, NULL);
        for (int j = 0; j < NOTIFSIM_NREWARDS; j++) {
            ret_ok &= ret[j] == acc[j];
            notifsim_moments_add(&m[j], acc[j]);
        }
    }
    check(ret_ok, "an episode's return is the sum of its logged rewards");
    notifsim_value v;
    notifsim_evaluate(&c, &p, (uint64_t)n, 1, w, &v, NULL);
    for (int j = 0; j < NOTIFSIM_NREWARDS; j++) {
        double se = sqrt(pow(notifsim_moments_se(&m[j]), 2) + pow(v.se[j], 2));
        check(fabs(v.mean[j] - m[j].mean) < 4 * se, "%s: evaluate(behavior) %.4f vs logged %.4f (se %.4f)",
              notifsim_reward_names[j], v.mean[j], m[j].mean, se);
    }
    check(v.mean[0] != m[0].mean, "evaluation runs fresh users, not the logged ones");
    double wsum = 0;
    for (int j = 0; j < NOTIFSIM_NREWARDS; j++)
        wsum += w[j] * v.mean[j];
    check_close(v.mean[NOTIFSIM_NREWARDS], wsum, 1e-9, 1e-12, "weighted = sum of weights times values");

    /* se ~ 1/sqrt(n): 16 times the episodes, a quarter of the error */
    notifsim_value small, large;
    notifsim_evaluate(&c, &p, 1000, 1, w, &small, NULL);
    notifsim_evaluate(&c, &p, 16000, 1, w, &large, NULL);
    for (int j = 0; j <= NOTIFSIM_NREWARDS; j++) {
        double ratio = large.se[j] / small.se[j];
        check(ratio > 0.2 && ratio < 0.3, "objective %d: se ratio %.3f for 16x the episodes (want 0.25)", j, ratio);
    }
    /* a direct check of the standard error of one objective */
    double sum = 0, sq = 0;
    for (int i = 0; i < 1000; i++) {
        double ret[NOTIFSIM_NREWARDS];
        notifsim_episode(&c, NOTIFSIM_EVAL_BASE + (uint64_t)i, &p, 1, ret, NULL, NULL, NULL);
        sum += ret[0];
        sq += ret[0] * ret[0];
    }
    double var = (sq - sum * sum / 1000) / 999;
    check_close(small.se[0], sqrt(var / 1000), 1e-12, 1e-9, "se = sample sd / sqrt(n)");
    check_close(small.mean[0], sum / 1000, 1e-12, 1e-12, "value = mean return");

    /* discount: gamma 0 keeps step 0 only; gamma 1 is undiscounted */
    notifsim_value g0, g1;
    notifsim_evaluate(&c, &p, 500, 0, w, &g0, NULL);
    notifsim_evaluate(&c, &p, 500, 1, w, &g1, NULL);
    double step0 = 0;
    for (int i = 0; i < 500; i++) {
        static episode_log l;
        run(&c, NOTIFSIM_EVAL_BASE + (uint64_t)i, &beh, &l, NULL);
        step0 += l.rows[0].reward[NOTIFSIM_R_VISIT];
    }
    check_close(g0.mean[NOTIFSIM_R_VISIT], step0 / 500, 1e-12, 0, "gamma 0: the first step's reward");
    notifsim_value gh;
    notifsim_evaluate(&c, &p, 500, 0.9, w, &gh, NULL);
    check(g0.mean[0] < gh.mean[0] && gh.mean[0] < g1.mean[0], "gamma 0.9 between 0 and 1");
    notifsim_value one;
    notifsim_evaluate(&c, &p, 1, 1, w, &one, NULL);
    check(isnan(one.se[0]), "one episode: no standard error");
}

static void test_parsing(void)
{
    notifsim_cfg c;
    notifsim_defaults(&c);
    errctx e;
    double w[NOTIFSIM_NREWARDS];
    notifsim_default_weights(w);
    check(w[0] == 1 && w[1] == 0 && w[2] == -0.05 && w[3] == -5, "default weights");
    check(notifsim_parse_weights("r_visit=2,r_disable=-10", w, &e) == 0 && w[0] == 2 && w[1] == 0 && w[2] == 0 &&
              w[3] == -10,
          "weights: named objectives set, others 0");
    check(notifsim_parse_weights("r_foo=1", w, &e) < 0 && strstr(e.msg, "unknown objective 'r_foo'"),
          "unknown objective: %s", e.msg);
    check(notifsim_parse_weights("r_visit=1,r_visit=2", w, &e) < 0 && strstr(e.msg, "given twice"),
          "repeated objective: %s", e.msg);
    check(notifsim_parse_weights("r_visit=x", w, &e) < 0 && strstr(e.msg, "cannot parse"), "bad value: %s", e.msg);
    check(notifsim_parse_weights("r_visit=1,", w, &e) < 0 && strstr(e.msg, "empty item"), "empty item: %s", e.msg);
    check(notifsim_parse_weights("r_visit", w, &e) < 0 && strstr(e.msg, "NAME=VALUE"), "no '=': %s", e.msg);
    check(notifsim_parse_weights("r_visit=nan", w, &e) < 0, "NaN weight rejected");

    notifsim_rule r;
    check(notifsim_rule_parse("always", &c, &r, &e) == 0 && r.kind == NOTIFSIM_ALWAYS, "always");
    check(notifsim_rule_parse("never", &c, &r, &e) == 0 && r.kind == NOTIFSIM_NEVER, "never");
    check(notifsim_rule_parse("behavior", &c, &r, &e) == 0 && r.kind == NOTIFSIM_RULE && r.epsilon == 0.2 &&
              r.threshold == 0.5 && r.cap == 4,
          "behavior is the logging policy");
    check(notifsim_rule_parse("threshold:0.7", &c, &r, &e) == 0 && r.threshold == 0.7 && r.cap == 4 &&
              r.epsilon == 0,
          "threshold:0.7");
    check(notifsim_rule_parse("threshold:0.7:2", &c, &r, &e) == 0 && r.threshold == 0.7 && r.cap == 2,
          "threshold:0.7:2");
    check(notifsim_rule_parse("threshold:1.5", &c, &r, &e) < 0, "threshold above 1 rejected");
    check(notifsim_rule_parse("threshold:x", &c, &r, &e) < 0, "threshold not a number rejected");
    check(notifsim_rule_parse("threshold:0.5:-1", &c, &r, &e) < 0, "negative cap rejected");
    check(notifsim_rule_parse("threshold:", &c, &r, &e) < 0, "empty threshold rejected");
    check(notifsim_rule_parse("sometimes", &c, &r, &e) < 0 && strstr(e.msg, "unknown policy"),
          "unknown policy: %s", e.msg);

    c.epsilon = 1.5;
    check(notifsim_check(&c, &e) < 0 && strstr(e.msg, "--epsilon"), "epsilon out of range: %s", e.msg);
}

/* The written table read back. */
static void test_write(void)
{
    char dir[256], path[512];
    snprintf(dir, sizeof dir, "%s/recstage-notifsim.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        exit(2);
    }
    notifsim_cfg c;
    notifsim_defaults(&c);
    for (int binary = 0; binary <= 1; binary++) {
        snprintf(path, sizeof path, "%s/n.%s", dir, binary ? "rec" : "tsv");
        errctx e;
        rec_writer *w = rec_writer_open(path, binary, &e);
        check(w && notifsim_write(&c, 40, w, NULL, &e) == 0 && rec_writer_close(w, &e) == 0, "write 40 episodes");
        rec_reader *r = rec_open(path, &e);
        check(r != NULL, "read back");
        if (!r)
            continue;
        int ncols;
        const char *const *names = notifsim_columns(&ncols);
        int cols_ok = rec_ncols(r) == 15 && ncols == 15;
        for (int i = 0; cols_ok && i < ncols; i++)
            cols_ok = strcmp(rec_colname(r, i), names[i]) == 0;
        check(cols_ok, "columns episode t s_* action propensity r_*");
        notifsim_rule beh;
        notifsim_behavior(&c, &beh);
        static episode_log l;
        int same = 1;
        uint64_t total = 0;
        for (uint64_t ep = 0; ep < 40 && same; ep++) {
            run(&c, ep, &beh, &l, NULL);
            total += (uint64_t)l.n;
            for (int i = 0; i < l.n && same; i++) {
                const notifsim_row *row = &l.rows[i];
                int64_t v;
                double d;
                same = rec_next(r, &e) == 1 && rec_i64(r, 0, &v, &e) == 0 && v == (int64_t)ep &&
                       rec_i64(r, 1, &v, &e) == 0 && v == row->t;
                for (int j = 0; j < NOTIFSIM_NSTATE && same; j++)
                    same = rec_f64(r, 2 + j, &d, &e) == 0 && d == row->state[j];
                same = same && rec_i64(r, 9, &v, &e) == 0 && v == row->action;
                same = same && rec_f64(r, 10, &d, &e) == 0 && fabs(d - row->propensity) < 1e-7;
                for (int j = 0; j < NOTIFSIM_NREWARDS && same; j++)
                    same = rec_f64(r, 11 + j, &d, &e) == 0 && d == row->reward[j];
            }
        }
        check(same, "%s: every row reads back as the state the policy saw", binary ? "binary" : "TSV");
        check(rec_next(r, &e) == 0 && rec_rows(r) == total, "%s: %llu rows", binary ? "binary" : "TSV",
              (unsigned long long)total);
        rec_close(r);
        unlink(path);
    }
    rmdir(dir);
}

int main(void)
{
    test_determinism();
    test_step_order();
    test_responses();
    test_episode_end();
    test_logging_policy();
    test_delayed_effects();
    test_evaluate();
    test_parsing();
    test_write();
    return check_done("test_notifsim");
}
