/*
 * test_multislot.c - the multi-slot list environment against the
 * properties it is meant to have (multislot.h, multislot-sim(1)): the
 * logging policies' propensities against independent brute-force
 * computations (uniform 1/(N-k+1) exactly; epsilon-greedy and
 * Plackett-Luce against their definitions, enumerated over every list of
 * a small request, and against the frequencies of drawn lists); the
 * propensities of all lists summing to 1; the list value on a case
 * computed by hand; the context effects (none at --diversity-effect 0,
 * the clamp of the similarity at 0); the drawn outcomes against the exact
 * expectations under both click models; candidates, ages, scores and
 * logits against their definitions; random access (request r alone
 * equals request r of a full run, read back from the written table);
 * option parsing.
 *
 * Statistical checks use tolerances of 4 standard errors, so they fail
 * when the model is wrong, not by chance (and every draw is seeded, so
 * they cannot flicker).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "multislot.h"
#include "rec.h"
#include "banned.h"

static double sigmoid(double z)
{
    return 1 / (1 + exp(-z));
}

/* A small configuration: N candidates, K slots, few items. */
static multislot_cfg small_cfg(int n, int k)
{
    multislot_cfg c;
    multislot_defaults(&c);
    c.candidates = n;
    c.slots = k;
    c.items = 50;
    return c;
}

/* ---- the logging policies ---- */

static void test_uniform_propensity(void)
{
    multislot_cfg c;
    multislot_defaults(&c);
    c.logging = MULTISLOT_LOG_UNIFORM;
    multislot_catalog cat;
    multislot_catalog_build(&cat, &c);
    multislot_req q;
    multislot_req_init(&q, c.candidates, c.dim);
    multislot_logged lg;
    int exact = 1, distinct = 1;
    for (uint64_t r = 0; r < 500; r++) {
        multislot_request(&c, &cat, r, &q);
        multislot_log_request(&c, &q, &lg);
        for (int k = 0; k < lg.k; k++) {
            exact &= lg.prop[k] == 1.0 / (c.candidates - k);
            for (int j = 0; j < k; j++)
                distinct &= lg.list[j] != lg.list[k];
        }
    }
    check(exact, "uniform: the propensity at slot k is exactly 1/(N-k+1)");
    check(distinct, "uniform: a list has distinct candidates");

    /* the first slot is uniform over the candidates */
    long first[20] = {0};
    int n = 20000;
    for (uint64_t r = 0; r < (uint64_t)n; r++) {
        multislot_request(&c, &cat, r, &q);
        multislot_log_request(&c, &q, &lg);
        first[lg.list[0]]++;
    }
    double sd = sqrt(n * (1.0 / 20) * (19.0 / 20)), worst = 0;
    for (int i = 0; i < 20; i++)
        worst = fmax(worst, fabs(first[i] - n / 20.0) / sd);
    check(worst < 4.5, "uniform: first slot frequencies within 4.5 sd of N/20 (worst %.2f sd)", worst);
    multislot_req_free(&q);
    multislot_catalog_free(&cat);
}

/* The probability of list[0..k) under epsilon-greedy, from its definition
 * alone: at each slot, with probability 1 - E the remaining candidate of
 * the highest score_click (the first one among equal scores), else one
 * drawn uniformly from the remaining. */
static double epsilon_list_prob(const multislot_req *q, double eps, const int *list, int k)
{
    int taken[MULTISLOT_MAX_CANDIDATES] = {0};
    double p = 1;
    for (int s = 0; s < k; s++) {
        int top = -1, remaining = 0;
        for (int i = 0; i < q->n; i++) {
            if (taken[i])
                continue;
            remaining++;
            if (top < 0 || q->score_click[i] > q->score_click[top])
                top = i;
        }
        p *= (list[s] == top ? 1 - eps : 0) + eps / remaining;
        taken[list[s]] = 1;
    }
    return p;
}

/* The probability of list[0..k) under Plackett-Luce: weights
 * score_click^(1/T), drawn without replacement. */
static double pl_list_prob(const multislot_req *q, double t, const int *list, int k)
{
    int taken[MULTISLOT_MAX_CANDIDATES] = {0};
    double p = 1;
    for (int s = 0; s < k; s++) {
        double sum = 0;
        for (int i = 0; i < q->n; i++)
            if (!taken[i])
                sum += pow(q->score_click[i], 1 / t);
        p *= pow(q->score_click[list[s]], 1 / t) / sum;
        taken[list[s]] = 1;
    }
    return p;
}

/* Every ordered list of k distinct candidates of n: the next in
 * lexicographic order of (list[0], ..., list[k-1]); 0 after the last. */
static int next_list(int *list, int n, int k)
{
    for (int s = k - 1; s >= 0; s--) {
        for (int v = list[s] + 1; v < n; v++) {
            int used = 0;
            for (int j = 0; j < s; j++)
                used |= list[j] == v;
            if (used)
                continue;
            list[s] = v;
            /* refill the slots after s with the smallest unused values */
            int ok = 1;
            for (int t = s + 1; t < k && ok; t++) {
                ok = 0;
                for (int w = 0; w < n && !ok; w++) {
                    int u = 0;
                    for (int j = 0; j < t; j++)
                        u |= list[j] == w;
                    if (!u) {
                        list[t] = w;
                        ok = 1;
                    }
                }
            }
            return 1;
        }
    }
    return 0;
}

static int list_index(const int *list, int k, int n)
{
    int idx = 0;
    for (int s = 0; s < k; s++)
        idx = idx * n + list[s];
    return idx;
}

/* The product of the library's per-slot probabilities along a list. */
static double policy_list_prob(const multislot_cfg *c, const multislot_req *q, const int *list, int k)
{
    unsigned char taken[MULTISLOT_MAX_CANDIDATES] = {0};
    double probs[MULTISLOT_MAX_CANDIDATES], p = 1;
    for (int s = 0; s < k; s++) {
        multislot_policy_probs(c, q, taken, probs);
        p *= probs[list[s]];
        taken[list[s]] = 1;
    }
    return p;
}

/* One policy on one small request (N = 4, K = 3): the library's
 * propensities and the frequencies of 200,000 drawn lists against the
 * independent probability of every one of the 24 lists. */
static void check_policy_brute(multislot_cfg *c, const char *what, double (*indep)(const multislot_req *, double,
                                                                                   const int *, int))
{
    multislot_catalog cat;
    multislot_catalog_build(&cat, c);
    multislot_req q;
    multislot_req_init(&q, c->candidates, c->dim);
    multislot_request(c, &cat, 3, &q);
    int n = c->candidates, k = c->slots;
    enum { DRAWS = 200000 };
    static long count[4 * 4 * 4];
    memset(count, 0, sizeof count);
    rng pol;
    rng_init(&pol, 99, 7);
    int list[MULTISLOT_MAX_SLOTS];
    double prop[MULTISLOT_MAX_SLOTS];
    int props_ok = 1;
    for (int d = 0; d < DRAWS; d++) {
        multislot_log_list(c, &q, &pol, list, prop);
        count[list_index(list, k, n)]++;
        /* each logged propensity is the independent probability of that
         * slot given the slots above */
        for (int s = 0; s < k; s++) {
            double want = indep(&q, c->log_param, list, s + 1) / indep(&q, c->log_param, list, s);
            props_ok &= fabs(prop[s] - want) <= 1e-12;
        }
    }
    check(props_ok, "%s: every logged propensity equals the probability of its slot given the slots above", what);
    int l[3] = {0, 1, 2}, lists = 0, freq_ok = 1, product_ok = 1;
    double total = 0, worst = 0;
    do {
        double p = indep(&q, c->log_param, l, k), lib = policy_list_prob(c, &q, l, k);
        total += p;
        product_ok &= fabs(lib - p) <= 1e-12;
        double sd = sqrt(DRAWS * p * (1 - p)) + 1e-9, z = fabs(count[list_index(l, k, n)] - DRAWS * p) / sd;
        worst = fmax(worst, z);
        freq_ok &= z < 4.5 || (p == 0 && count[list_index(l, k, n)] == 0);
        lists++;
    } while (next_list(l, n, k));
    check(lists == 24, "%s: 24 lists of 3 out of 4 (%d)", what, lists);
    check(fabs(total - 1) < 1e-12, "%s: the independent probabilities sum to 1 (%.15g)", what, total);
    check(product_ok, "%s: the product of the propensities is the probability of the list", what);
    check(freq_ok, "%s: list frequencies of %d draws within 4.5 sd (worst %.2f)", what, DRAWS, worst);
    multislot_req_free(&q);
    multislot_catalog_free(&cat);
}

static void test_epsilon_and_pl(void)
{
    multislot_cfg c = small_cfg(4, 3);
    c.logging = MULTISLOT_LOG_EPSILON;
    c.log_param = 0.3;
    check_policy_brute(&c, "epsilon:0.3", epsilon_list_prob);
    c.logging = MULTISLOT_LOG_PL;
    c.log_param = 0.5;
    check_policy_brute(&c, "plackett-luce:0.5", pl_list_prob);
    c.log_param = 2;
    check_policy_brute(&c, "plackett-luce:2", pl_list_prob);

    /* epsilon-greedy ties go to the first candidate in candidate order */
    multislot_req q;
    multislot_req_init(&q, 4, 2);
    const float sc[4] = {0.5f, 0.7f, 0.7f, 0.1f};
    memcpy(q.score_click, sc, sizeof sc);
    unsigned char taken[4] = {0};
    double probs[4];
    c.logging = MULTISLOT_LOG_EPSILON;
    c.log_param = 0.2;
    multislot_policy_probs(&c, &q, taken, probs);
    check(fabs(probs[1] - 0.85) < 1e-15 && fabs(probs[2] - 0.05) < 1e-15 && fabs(probs[0] - 0.05) < 1e-15,
          "epsilon: of two equal top scores the first is the top (%.3f %.3f)", probs[1], probs[2]);
    taken[1] = 1;
    multislot_policy_probs(&c, &q, taken, probs);
    check(probs[1] == 0 && fabs(probs[2] - (0.8 + 0.2 / 3)) < 1e-15, "epsilon: a taken candidate has probability 0");
    c.logging = MULTISLOT_LOG_PL;
    c.log_param = 1;
    multislot_policy_probs(&c, &q, taken, probs);
    check(fabs(probs[2] - 0.7f / (0.5f + 0.7f + 0.1f)) < 1e-7, "plackett-luce:1: probability proportional to score");
    multislot_req_free(&q);
}

/* For every policy, the products of the propensities over all ordered
 * lists of 3 out of 5 sum to 1: the propensities define a distribution
 * over lists. */
static void test_lists_sum_to_one(void)
{
    const int kinds[3] = {MULTISLOT_LOG_UNIFORM, MULTISLOT_LOG_EPSILON, MULTISLOT_LOG_PL};
    const double params[3] = {0, 0.25, 0.7};
    for (int t = 0; t < 3; t++) {
        multislot_cfg c = small_cfg(5, 3);
        c.logging = kinds[t];
        c.log_param = params[t];
        multislot_catalog cat;
        multislot_catalog_build(&cat, &c);
        multislot_req q;
        multislot_req_init(&q, c.candidates, c.dim);
        int ok = 1;
        for (uint64_t r = 0; r < 20; r++) {
            multislot_request(&c, &cat, r, &q);
            int l[3] = {0, 1, 2}, lists = 0;
            double total = 0;
            do {
                total += policy_list_prob(&c, &q, l, 3);
                lists++;
            } while (next_list(l, 5, 3));
            ok &= lists == 60 && fabs(total - 1) < 1e-12;
        }
        check(ok, "logging %d: the 60 list probabilities of each request sum to 1", t);
        multislot_req_free(&q);
        multislot_catalog_free(&cat);
    }
}

/* ---- list values and context ---- */

/* Three candidates in 2 dimensions, parameters set by hand (D = 0.5,
 * position examination (1/k)^1 unless cascade):
 *
 *   cand  category  unit        click logit  save logit
 *   0     0         (1, 0)      0            -1
 *   1     0         (0.6, 0.8)  ln 3         0
 *   2     1         (0, 1)      -ln 3        1
 *
 * List 0, 1, 2:
 *   slot 1, cand 0: nothing above: a = s(0) = 0.5, v = s(-1) = 0.268941421
 *   slot 2, cand 1: same category 1, max cos 0.6: context 0.5 (1 + 0.6)
 *     = 0.8: a = s(ln 3 - 0.8) = s(0.298612289) = 0.574103244,
 *     v = s(-0.8) = 0.310025519
 *   slot 3, cand 2: no same category, max(cos 0, cos 0.8) = 0.8: context
 *     0.4: a = s(-ln 3 - 0.4) = s(-1.498612289) = 0.182632587,
 *     v = s(0.6) = 0.645656306
 * Position: E[clicks] = 0.5 + 0.574103244/2 + 0.182632587/3 = 0.847929151
 *           E[saves]  = 0.268941421 + 0.310025519/2 + 0.645656306/3
 *                     = 0.639172950
 * Cascade: x = 1, 1 - 0.5 = 0.5, 0.5 (1 - 0.574103244) = 0.212948378:
 *           E[clicks] = 0.5 + 0.5 0.574103244 + 0.212948378 0.182632587
 *                     = 0.825942935
 *           E[saves]  = 0.268941421 + 0.5 0.310025519 + 0.212948378 0.645656306
 *                     = 0.561445644
 */
static void hand_request(multislot_req *q)
{
    multislot_req_init(q, 4, 2);
    const int cats[4] = {0, 0, 1, 1};
    const double unit[8] = {1, 0, 0.6, 0.8, 0, 1, -1, 0};
    const double cl[4] = {0, log(3), -log(3), 0.2}, sl[4] = {-1, 0, 1, -0.3};
    memcpy(q->category, cats, sizeof cats);
    memcpy(q->unit, unit, sizeof unit);
    memcpy(q->click_logit, cl, sizeof cl);
    memcpy(q->save_logit, sl, sizeof sl);
}

static void test_list_value_by_hand(void)
{
    multislot_cfg c;
    multislot_defaults(&c);
    c.candidates = 4;
    c.slots = 3;
    c.dim = 2;
    multislot_req q;
    hand_request(&q);
    const int list[3] = {0, 1, 2};
    double v[MULTISLOT_NOBJ], per[3 * MULTISLOT_NOBJ];
    multislot_list_value(&c, &q, list, 3, v, per);
    check_close(v[MULTISLOT_CLICK], 0.847929151, 1e-9, 0, "position: expected clicks of the hand case");
    check_close(v[MULTISLOT_SAVE], 0.639172950, 1e-9, 0, "position: expected saves of the hand case");
    check_close(per[1 * MULTISLOT_NOBJ + MULTISLOT_CLICK], 0.574103244 / 2, 1e-9, 0, "position: slot 2 clicks");
    check_close(per[2 * MULTISLOT_NOBJ + MULTISLOT_SAVE], 0.645656306 / 3, 1e-9, 0, "position: slot 3 saves");
    c.click_model = MULTISLOT_CASCADE;
    multislot_list_value(&c, &q, list, 3, v, NULL);
    check_close(v[MULTISLOT_CLICK], 0.825942935, 1e-9, 0, "cascade: expected clicks of the hand case");
    check_close(v[MULTISLOT_SAVE], 0.561445644, 1e-9, 0, "cascade: expected saves of the hand case");
    c.click_model = MULTISLOT_POSITION;
    c.eta = 2;
    multislot_list_value(&c, &q, list, 3, v, NULL);
    check_close(v[MULTISLOT_CLICK], 0.5 + 0.574103244 / 4 + 0.182632587 / 9, 1e-9, 0, "eta 2: (1/k)^2");
    c.eta = 1;

    /* the similarity is clamped at 0: cand 3 (category 1, unit (-1, 0))
     * below cand 0 (cos -1, other category) keeps its slot-1 attraction */
    double att[MULTISLOT_NOBJ];
    const int above0[1] = {0};
    multislot_attraction(&c, &q, above0, 1, 3, att);
    check(att[MULTISLOT_CLICK] == sigmoid(0.2) && att[MULTISLOT_SAVE] == sigmoid(-0.3),
          "a dissimilar item above does not raise the attraction (%.9f)", att[MULTISLOT_CLICK]);
    /* below cand 2 (same category, cos 0): context 0.5 */
    const int above2[1] = {2};
    multislot_attraction(&c, &q, above2, 1, 3, att);
    check_close(att[MULTISLOT_CLICK], sigmoid(0.2 - 0.5), 1e-15, 0, "same category above lowers the logit by D");
    /* a single slot: the context-free probability */
    multislot_list_value(&c, &q, list + 1, 1, v, NULL);
    check_close(v[MULTISLOT_CLICK], 0.75, 1e-15, 0, "slot 1 alone: sigmoid(ln 3) = 0.75");
    multislot_req_free(&q);
}

/* With --diversity-effect 0 (and --freshness-effect 0) the attraction of
 * a candidate is the same whatever is above it; with the default 0.5 it
 * is not. */
static void test_context_free(void)
{
    for (int pass = 0; pass < 2; pass++) {
        multislot_cfg c;
        multislot_defaults(&c);
        if (pass == 0)
            c.diversity = c.freshness = 0;
        multislot_catalog cat;
        multislot_catalog_build(&cat, &c);
        multislot_req q;
        multislot_req_init(&q, c.candidates, c.dim);
        rng g;
        rng_init(&g, 5, 5);
        int same = 1, lower = 1, pairs = 0;
        for (uint64_t r = 0; r < 200; r++) {
            multislot_request(&c, &cat, r, &q);
            for (int t = 0; t < 10; t++) {
                int above[4], i = (int)rng_below(&g, (uint64_t)q.n), na = 1 + (int)rng_below(&g, 4);
                for (int j = 0; j < na; j++)
                    above[j] = (i + 1 + (int)rng_below(&g, (uint64_t)q.n - 1)) % q.n;
                double a0[MULTISLOT_NOBJ], a1[MULTISLOT_NOBJ];
                multislot_attraction(&c, &q, above, 0, i, a0);
                multislot_attraction(&c, &q, above, na, i, a1);
                same &= a0[0] == a1[0] && a0[1] == a1[1];
                lower &= a1[0] <= a0[0] && a1[1] <= a0[1];
                pairs++;
                /* the slot-1 attraction is the context-free probability */
                same &= pass == 1 || a0[0] == sigmoid(q.click_logit[i]);
            }
        }
        if (pass == 0)
            check(same, "--diversity-effect 0: attraction independent of the items above (%d cases)", pairs);
        else {
            check(!same, "--diversity-effect 0.5: the items above change the attraction");
            check(lower, "context never raises the attraction");
        }
        multislot_req_free(&q);
        multislot_catalog_free(&cat);
    }
}

/* The drawn outcomes follow the exact expectations, slot by slot, under
 * both click models: one fixed list drawn many times, and the logged
 * lists of many requests. */
static void test_outcomes(void)
{
    for (int model = 0; model < 2; model++) {
        multislot_cfg c;
        multislot_defaults(&c);
        c.click_model = model;
        multislot_catalog cat;
        multislot_catalog_build(&cat, &c);
        multislot_req q;
        multislot_req_init(&q, c.candidates, c.dim);
        multislot_request(&c, &cat, 11, &q);
        const int list[5] = {3, 0, 7, 12, 5};
        double v[MULTISLOT_NOBJ], per[5 * MULTISLOT_NOBJ];
        multislot_list_value(&c, &q, list, 5, v, per);
        enum { DRAWS = 100000 };
        long n[5][2] = {{0}};
        rng resp;
        rng_init(&resp, 3, 3);
        int click[5], save[5], cascade_ok = 1;
        for (int d = 0; d < DRAWS; d++) {
            multislot_simulate(&c, &q, list, 5, &resp, click, save);
            int clicks = 0;
            for (int s = 0; s < 5; s++) {
                n[s][0] += click[s];
                n[s][1] += save[s];
                clicks += click[s];
            }
            cascade_ok &= model == MULTISLOT_POSITION || clicks <= 1;
        }
        int ok = 1;
        double worst = 0;
        for (int s = 0; s < 5; s++)
            for (int o = 0; o < 2; o++) {
                double p = per[s * MULTISLOT_NOBJ + o], z = fabs(n[s][o] - DRAWS * p) / sqrt(DRAWS * p * (1 - p));
                worst = fmax(worst, z);
                ok &= z < 4;
            }
        check(ok, "%s: slot click and save frequencies within 4 sd of x_k a_k, x_k v_k (worst %.2f)",
              model ? "cascade" : "position", worst);
        if (model == MULTISLOT_CASCADE)
            check(cascade_ok, "cascade: at most one click a list");

        /* the logged lists: total clicks and saves against the sum of
         * the exact values of the logged lists */
        multislot_logged lg;
        double want[2] = {0}, var[2] = {0}, got[2] = {0};
        for (uint64_t r = 0; r < 20000; r++) {
            multislot_request(&c, &cat, r, &q);
            multislot_log_request(&c, &q, &lg);
            multislot_list_value(&c, &q, lg.list, lg.k, v, per);
            for (int s = 0; s < lg.k; s++) {
                got[0] += lg.click[s];
                got[1] += lg.save[s];
                for (int o = 0; o < 2; o++) {
                    double p = per[s * MULTISLOT_NOBJ + o];
                    want[o] += p;
                    var[o] += p * (1 - p); /* an upper bound for the cascade's dependent slots */
                }
            }
        }
        for (int o = 0; o < 2; o++)
            check(fabs(got[o] - want[o]) < 4 * sqrt(var[o]), "%s: logged %ss %.0f vs expected %.1f",
                  model ? "cascade" : "position", multislot_objective_names[o], got[o], want[o]);
        multislot_req_free(&q);
        multislot_catalog_free(&cat);
    }
}

/* ---- requests ---- */

static void test_requests(void)
{
    multislot_cfg c;
    multislot_defaults(&c);
    c.freshness = 0;
    c.score_noise = 0;
    multislot_catalog cat;
    multislot_catalog_build(&cat, &c);
    multislot_req q;
    multislot_req_init(&q, c.candidates, c.dim);
    int distinct = 1, logits_ok = 1, scores_ok = 1, cats_ok = 1;
    long item0 = 0;
    double age_sum = 0, cov = 0, vc = 0, vs = 0, mc = 0, ms = 0;
    int R = 20000, m = 0;
    for (uint64_t r = 0; r < (uint64_t)R; r++) {
        multislot_request(&c, &cat, r, &q);
        for (int i = 0; i < q.n; i++) {
            int it = q.item[i];
            for (int j = 0; j < i; j++)
                distinct &= q.item[j] != it;
            item0 += it == 0;
            cats_ok &= q.category[i] == cat.category[it] && it >= 0 && it < c.items;
            double ue = 0, us = 0;
            for (int j = 0; j < c.dim; j++) {
                ue += q.user[j] * cat.e[(size_t)it * c.dim + j];
                us += q.user[j] * cat.s[(size_t)it * c.dim + j];
            }
            logits_ok &= fabs(q.click_logit[i] - (ue + cat.bias[it])) < 1e-12 &&
                         fabs(q.save_logit[i] - (us + cat.bias[it] + c.save_offset)) < 1e-12;
            double p = fmin(sigmoid(q.click_logit[i]), 0.9999);
            scores_ok &= q.score_click[i] == (float)p && q.score_click[i] > 0 && q.score_click[i] < 1;
            age_sum += q.age[i];
            /* logit correlation of click and save */
            m++;
            double dc = q.click_logit[i] - mc, ds = q.save_logit[i] - ms;
            mc += dc / m;
            ms += ds / m;
            cov += dc * (q.save_logit[i] - ms);
            vc += dc * (q.click_logit[i] - mc);
            vs += ds * (q.save_logit[i] - ms);
        }
    }
    check(distinct, "a request's candidates are distinct items");
    check(cats_ok, "candidates carry their catalogue category");
    check(logits_ok, "--freshness-effect 0: click logit u.e + b, save logit u.s + b + save_offset");
    check(scores_ok, "--score-noise 0: score_click is the slot-1 click probability as float32");
    double want0 = (double)R * c.candidates / c.items;
    check(fabs(item0 - want0) < 4 * sqrt(want0), "item 0 drawn %ld times, want %.0f: uniform items", item0, want0);
    double n = (double)R * c.candidates, mean_age = age_sum / n;
    check(fabs(mean_age - c.age_mean) < 4 * c.age_mean / sqrt(n), "mean age %.3f, Exp mean 48", mean_age);
    double corr = cov / sqrt(vc * vs);
    check(corr > 0.6 && corr < 0.8, "click and save logits correlate about 0.7 (%.3f)", corr);

    /* freshness: the click logit gains Fr exp(-age/24) */
    multislot_cfg c2 = c;
    c2.freshness = 0.3;
    multislot_req q2;
    multislot_req_init(&q2, c.candidates, c.dim);
    multislot_request(&c, &cat, 4, &q);
    multislot_request(&c2, &cat, 4, &q2);
    int fresh_ok = 1;
    for (int i = 0; i < q.n; i++)
        fresh_ok &= fabs(q2.click_logit[i] - q.click_logit[i] - 0.3 * exp(-q.age[i] / 24)) < 1e-12 &&
                    q2.save_logit[i] == q.save_logit[i] && q2.age[i] == q.age[i];
    check(fresh_ok, "freshness adds Fr exp(-age/24) to the click logit only");

    /* score noise: capped below 1, log-normal around the probability */
    c2.score_noise = 0.3;
    double lsum = 0, lsq = 0;
    int capped = 1, k = 0;
    for (uint64_t r = 0; r < 2000; r++) {
        multislot_request(&c2, &cat, r, &q2);
        for (int i = 0; i < q2.n; i++) {
            capped &= q2.score_click[i] <= 0.9999f && q2.score_save[i] <= 0.9999f && q2.score_save[i] > 0;
            double p = sigmoid(q2.click_logit[i]);
            if (q2.score_click[i] < 0.9999f) {
                double l = log(q2.score_click[i] / p);
                lsum += l;
                lsq += l * l;
                k++;
            }
        }
    }
    double lm = lsum / k, lsd = sqrt(lsq / k - lm * lm);
    check(capped, "scores in (0, 0.9999]");
    check(fabs(lm) < 0.02 && fabs(lsd - 0.3) < 0.02, "log(score / p) has mean %.4f, sd %.4f (0, 0.3)", lm, lsd);
    multislot_req_free(&q2);
    multislot_req_free(&q);
    multislot_catalog_free(&cat);
}

/* Request r regenerated alone equals request r of a full run, and the
 * written table reads back as the requests and their logged lists. */
static void test_random_access(void)
{
    multislot_cfg c;
    multislot_defaults(&c);
    multislot_catalog cat;
    multislot_catalog_build(&cat, &c);
    multislot_req a, b;
    multislot_req_init(&a, c.candidates, c.dim);
    multislot_req_init(&b, c.candidates, c.dim);
    multislot_request(&c, &cat, 7, &a);
    for (uint64_t r = 0; r < 7; r++)
        multislot_request(&c, &cat, r, &b);
    multislot_request(&c, &cat, 7, &b);
    size_t n = (size_t)c.candidates;
    check(memcmp(a.item, b.item, n * sizeof *a.item) == 0 && memcmp(a.age, b.age, n * sizeof *a.age) == 0 &&
              memcmp(a.click_logit, b.click_logit, n * sizeof(double)) == 0 &&
              memcmp(a.score_save, b.score_save, n * sizeof(float)) == 0,
          "request 7 alone equals request 7 after 0..6");
    multislot_cfg c2 = c;
    c2.seed = 2;
    multislot_catalog cat2;
    multislot_catalog_build(&cat2, &c2);
    multislot_request(&c2, &cat2, 7, &b);
    check(memcmp(a.item, b.item, n * sizeof *a.item) != 0, "another seed, another request 7");
    multislot_catalog_free(&cat2);

    char dir[256], path[512];
    snprintf(dir, sizeof dir, "%s/recstage-multislot.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        exit(2);
    }
    for (int binary = 0; binary <= 1; binary++) {
        snprintf(path, sizeof path, "%s/m.%s", dir, binary ? "rec" : "tsv");
        errctx e;
        rec_writer *w = rec_writer_open(path, binary, &e);
        check(w && multislot_write(&c, &cat, 30, w, NULL, &e) == 0 && rec_writer_close(w, &e) == 0,
              "write 30 requests");
        rec_reader *r = rec_open(path, &e);
        check(r != NULL, "read back");
        if (!r)
            continue;
        int ncols;
        char **names = multislot_columns(&c, &ncols);
        int cols_ok = rec_ncols(r) == 18 && ncols == 18;
        for (int i = 0; cols_ok && i < ncols; i++)
            cols_ok = strcmp(rec_colname(r, i), names[i]) == 0;
        multislot_columns_free(names);
        check(cols_ok, "18 columns: request_id item_id category age score_click score_save f_0..f_7 slot click save "
                       "propensity");
        int same = 1;
        multislot_logged lg;
        for (uint64_t req = 0; req < 30 && same; req++) {
            multislot_request(&c, &cat, req, &a);
            multislot_log_request(&c, &a, &lg);
            for (int i = 0; i < a.n && same; i++) {
                int64_t v;
                double d;
                size_t len;
                int s = -1;
                for (int k = 0; k < lg.k; k++)
                    if (lg.list[k] == i)
                        s = k;
                same = rec_next(r, &e) == 1 && rec_i64(r, 0, &v, &e) == 0 && v == (int64_t)req;
                same = same && strcmp(rec_str(r, 1, &len), cat.names + (size_t)a.item[i] * MULTISLOT_NAME_LEN) == 0;
                same = same && rec_i64(r, 2, &v, &e) == 0 && v == a.category[i];
                same = same && rec_f64(r, 3, &d, &e) == 0 && d == a.age[i];
                same = same && rec_f64(r, 4, &d, &e) == 0 && (float)d == a.score_click[i];
                same = same && rec_f64(r, 5, &d, &e) == 0 && (float)d == a.score_save[i];
                for (int j = 0; j < c.features && same; j++)
                    same = rec_f64(r, 6 + j, &d, &e) == 0 && (float)d == cat.feat[(size_t)a.item[i] * c.features + j];
                same = same && rec_i64(r, 14, &v, &e) == 0 && v == s + 1;
                same = same && rec_i64(r, 15, &v, &e) == 0 && v == (s < 0 ? 0 : lg.click[s]);
                same = same && rec_i64(r, 16, &v, &e) == 0 && v == (s < 0 ? 0 : lg.save[s]);
                same = same && rec_f64(r, 17, &d, &e) == 0 && (float)d == (s < 0 ? 0.0f : (float)lg.prop[s]);
            }
        }
        check(same, "%s: every row reads back as the request and its logged list", binary ? "binary" : "TSV");
        check(rec_next(r, &e) == 0 && rec_rows(r) == 30 * n, "%s: 600 rows", binary ? "binary" : "TSV");
        rec_close(r);
        unlink(path);
    }
    rmdir(dir);
    multislot_req_free(&a);
    multislot_req_free(&b);
    multislot_catalog_free(&cat);
}

static void test_parsing(void)
{
    multislot_cfg c;
    multislot_defaults(&c);
    errctx e;
    check(multislot_check(&c, &e) == 0, "defaults pass the check");
    check(c.logging == MULTISLOT_LOG_PL && c.log_param == 1, "default logging plackett-luce:1");
    check(multislot_parse_logging("uniform", &c, &e) == 0 && c.logging == MULTISLOT_LOG_UNIFORM, "uniform parsed");
    check(multislot_parse_logging("epsilon:0.1", &c, &e) == 0 && c.logging == MULTISLOT_LOG_EPSILON &&
              c.log_param == 0.1,
          "epsilon:0.1 parsed");
    check(multislot_parse_logging("plackett-luce:0.5", &c, &e) == 0 && c.logging == MULTISLOT_LOG_PL &&
              c.log_param == 0.5,
          "plackett-luce:0.5 parsed");
    check(multislot_parse_logging("epsilon:1.5", &c, &e) < 0 && strstr(e.msg, "[0, 1]"), "epsilon 1.5: %s", e.msg);
    check(multislot_parse_logging("epsilon:", &c, &e) < 0, "empty epsilon rejected");
    check(multislot_parse_logging("plackett-luce:0", &c, &e) < 0, "temperature 0 rejected");
    check(multislot_parse_logging("plackett-luce:x", &c, &e) < 0, "temperature x rejected");
    check(multislot_parse_logging("greedy", &c, &e) < 0 && strstr(e.msg, "unknown logging policy"),
          "unknown policy: %s", e.msg);
    check(multislot_parse_click_model("cascade", &c, &e) == 0 && c.click_model == MULTISLOT_CASCADE, "cascade");
    check(multislot_parse_click_model("dbn", &c, &e) < 0, "unknown click model rejected");
    multislot_defaults(&c);
    c.slots = 21;
    check(multislot_check(&c, &e) < 0 && strstr(e.msg, "--slots 21 exceeds --candidates 20"), "slots > N: %s",
          e.msg);
    multislot_defaults(&c);
    c.items = 10;
    check(multislot_check(&c, &e) < 0 && strstr(e.msg, "--candidates 20 exceeds --items 10"), "N > items: %s",
          e.msg);
    multislot_defaults(&c);
    c.categories = 0;
    check(multislot_check(&c, &e) < 0 && strstr(e.msg, "--categories"), "categories 0: %s", e.msg);

    multislot_catalog cat;
    c = small_cfg(4, 2);
    multislot_catalog_build(&cat, &c);
    check(multislot_item_index(&cat, "i49", 3) == 49 && multislot_item_index(&cat, "i0", 2) == 0,
          "item names parse");
    check(multislot_item_index(&cat, "i50", 3) < 0 && multislot_item_index(&cat, "i07", 3) < 0 &&
              multislot_item_index(&cat, "x1", 2) < 0 && multislot_item_index(&cat, "i", 1) < 0 &&
              multislot_item_index(&cat, "i-1", 3) < 0,
          "out-of-range and non-canonical item names are no items");
    multislot_catalog_free(&cat);
}

int main(void)
{
    test_uniform_propensity();
    test_epsilon_and_pl();
    test_lists_sum_to_one();
    test_list_value_by_hand();
    test_context_free();
    test_outcomes();
    test_requests();
    test_random_access();
    test_parsing();
    return check_done("test_multislot");
}
