/*
 * notifsim.c - the notification environment (see notifsim.h for the model
 * and the determinism contract; notif-sim(1) for the defaults and the
 * reasons behind them).
 *
 * Layout: a user's episode is a small struct advanced step by step
 * (notifsim_user_start, notifsim_observe, notifsim_step); policies are
 * functions from the observed state to action probabilities
 * (notifsim_policy), sampled by notifsim_act; notifsim_episode runs one
 * episode under a policy and hands each step to a callback, which either
 * writes the logged transitions (notifsim_write) or is absent when only
 * the returns are wanted (notifsim_evaluate).  Nothing here allocates:
 * a user's queue is a fixed array.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "notifsim.h"
#include "banned.h"

const char *const notifsim_state_names[NOTIFSIM_NSTATE] = {
    "s_badge", "s_queue", "s_hour", "s_active", "s_sent24h", "s_top_rel", "s_hod",
};
const char *const notifsim_reward_names[NOTIFSIM_NREWARDS] = {"r_visit", "r_click", "r_send", "r_disable"};

void notifsim_defaults(notifsim_cfg *c)
{
    static const double f_hour[6] = {0.25, 0.75, 1.25, 1.25, 1.5, 1.0};
    static const double f_weekday[7] = {1.1, 1.1, 1.1, 1.1, 1.1, 0.75, 0.75};
    static const double b_hour[6] = {-1.2, -0.4, 0.3, 0.3, 0.5, 0.5};
    memset(c, 0, sizeof *c);
    c->seed = 1;
    c->steps = 42;
    c->arrival_rate = 0.6;
    c->ttl_max = 12;
    c->badge_rate = 0.3;
    memcpy(c->f_hour, f_hour, sizeof f_hour);
    memcpy(c->f_weekday, f_weekday, sizeof f_weekday);
    memcpy(c->b_hour, b_hour, sizeof b_hour);
    c->visit_bias = -2.5;
    c->visit_active = 3;
    c->visit_badge = 0.8;
    c->click_scale = 0.5;
    c->active_a = 2;
    c->active_b = 3;
    c->fatigue_free = 2;
    c->fatigue_decay = 0.05;
    c->recovery = 0.03;
    c->disable_bias = -6;
    c->disable_slope = 0.5;
    c->epsilon = 0.2;
    c->threshold = 0.5;
    c->cap = 4;
}

int notifsim_check(const notifsim_cfg *c, errctx *e)
{
#define RANGE(v, lo, hi, name)                                                                     \
    if (!((v) >= (lo) && (v) <= (hi)))                                                             \
        return err_set(e, "%s must be in [%g, %g]", name, (double)(lo), (double)(hi));
    RANGE(c->steps, 1, 100000, "--steps")
    RANGE(c->arrival_rate, 0, 100, "arrival rate")
    RANGE(c->ttl_max, 1, 10000, "time to live")
    RANGE(c->badge_rate, 0, 100, "badge rate")
    RANGE(c->click_scale, 0, 1, "click scale")
    RANGE(c->active_a, 0.01, 1000, "activeness Beta a")
    RANGE(c->active_b, 0.01, 1000, "activeness Beta b")
    RANGE(c->fatigue_free, 0, NOTIFSIM_WINDOW, "fatigue-free sends")
    /* at most NOTIFSIM_WINDOW - fatigue_free excess sends: keep the factor >= 0 */
    RANGE(c->fatigue_decay * (NOTIFSIM_WINDOW - c->fatigue_free), 0, 1, "fatigue decay times excess sends")
    RANGE(c->recovery, 0, 1, "recovery")
    RANGE(c->epsilon, 0, 1, "--epsilon")
    RANGE(c->threshold, 0, 1, "--threshold")
    RANGE(c->cap, 0, 1000, "--cap")
    for (int i = 0; i < 6; i++) {
        RANGE(c->f_hour[i], 0, 100, "f_hour")
        RANGE(c->b_hour[i], -100, 100, "b_hour")
    }
    for (int i = 0; i < 7; i++)
        RANGE(c->f_weekday[i], 0, 100, "f_weekday")
#undef RANGE
    return 0;
}

static double sigmoid(double z)
{
    return 1 / (1 + exp(-z));
}

/* Four decimals, as the nearest double to the decimal (k / 1e4 is
 * correctly rounded), so the value a policy sees is exactly what a reader
 * of the text output parses. */
static double round4(double v)
{
    return floor(v * 1e4 + 0.5) / 1e4;
}

static int slot_of(int t)
{
    return t % 6;
}

static int day_of(int t)
{
    return (t / 6) % 7;
}

/* Index of the top candidate: the most relevant, then the one expiring
 * first, then the earliest; -1 for an empty queue. */
static int top_index(const notifsim_user *u)
{
    int best = -1;
    for (int i = 0; i < u->nq; i++) {
        const notifsim_cand *a = &u->q[i];
        if (best < 0) {
            best = i;
            continue;
        }
        const notifsim_cand *b = &u->q[best];
        if (a->rel > b->rel || (a->rel == b->rel && (a->ttl < b->ttl || (a->ttl == b->ttl && a->seq < b->seq))))
            best = i;
    }
    return best;
}

static void queue_remove(notifsim_user *u, int i)
{
    u->q[i] = u->q[--u->nq];
}

/* Step 1 of notifsim.h: arrivals and other badge increments.  Every value
 * comes from the exo stream, which nothing else reads, so the exogenous
 * events of a user do not depend on the policy. */
static void arrive(notifsim_user *u)
{
    const notifsim_cfg *c = u->cfg;
    int s = slot_of(u->t), d = day_of(u->t);
    uint64_t n = rng_poisson(&u->exo, c->arrival_rate * c->f_hour[s] * c->f_weekday[d]);
    for (uint64_t k = 0; k < n; k++) {
        notifsim_cand cand;
        cand.rel = round4(rng_uniform(&u->exo));
        cand.ttl = 1 + (int)rng_below(&u->exo, (uint64_t)c->ttl_max);
        cand.seq = u->seq++;
        if (u->nq < NOTIFSIM_QUEUE_MAX) {
            u->q[u->nq++] = cand;
            continue;
        }
        /* full (far beyond the defaults): keep the most relevant */
        int low = 0;
        for (int i = 1; i < u->nq; i++)
            if (u->q[i].rel < u->q[low].rel)
                low = i;
        if (cand.rel > u->q[low].rel)
            u->q[low] = cand;
    }
    u->badge += (int)rng_poisson(&u->exo, c->badge_rate * c->f_hour[s]);
}

void notifsim_user_start(notifsim_user *u, const notifsim_cfg *c, uint64_t user)
{
    memset(u, 0, sizeof *u);
    u->cfg = c;
    u->user = user;
    rng_init(&u->exo, c->seed, user);
    rng_init(&u->resp, c->seed, NOTIFSIM_STREAM_RESP + user);
    rng_init(&u->pol, c->seed, NOTIFSIM_STREAM_POLICY + user);
    u->active0 = u->active = rng_beta(&u->exo, c->active_a, c->active_b);
    arrive(u);
}

/* Sends in the 5 steps before the current one: with the current step,
 * the 24 hours that end with it. */
static int sent_before(const notifsim_user *u)
{
    int n = 0;
    for (int k = 1; k < NOTIFSIM_WINDOW && k <= u->t; k++)
        n += u->sent[(u->t - k) % NOTIFSIM_WINDOW];
    return n;
}

void notifsim_observe(const notifsim_user *u, double *s)
{
    int top = top_index(u);
    s[NOTIFSIM_S_BADGE] = u->badge;
    s[NOTIFSIM_S_QUEUE] = u->nq;
    s[NOTIFSIM_S_HOUR] = 4 * (u->t % 42);
    s[NOTIFSIM_S_ACTIVE] = round4(u->active);
    s[NOTIFSIM_S_SENT24H] = sent_before(u);
    s[NOTIFSIM_S_TOP_REL] = top < 0 ? 0 : u->q[top].rel;
    s[NOTIFSIM_S_HOD] = 4 * slot_of(u->t);
}

int notifsim_step(notifsim_user *u, int action, double *r)
{
    const notifsim_cfg *c = u->cfg;
    /* three response uniforms every step, so responses stay aligned
     * across policies (common random numbers) */
    double u_click = rng_uniform(&u->resp), u_visit = rng_uniform(&u->resp),
           u_disable = rng_uniform(&u->resp);
    int slot = slot_of(u->t);
    int top = top_index(u);
    int sent = action == 1 && top >= 0;
    double rel = top >= 0 ? u->q[top].rel : 0;
    if (top >= 0)
        queue_remove(u, top); /* sent or dropped: decided once */
    int n24 = sent_before(u) + sent;

    int click = 0, disable = 0;
    u->p_click = u->p_disable = 0;
    if (sent) {
        u->badge++;
        u->p_click = c->click_scale * rel * u->active;
        click = u_click < u->p_click;
    }
    u->p_visit = sigmoid(c->visit_bias + c->visit_active * u->active + c->visit_badge * log1p((double)u->badge) +
                         c->b_hour[slot]);
    int visit = click || u_visit < u->p_visit;
    if (visit)
        u->badge = 0;
    if (sent) {
        u->p_disable = sigmoid(c->disable_bias + c->disable_slope * n24);
        disable = u_disable < u->p_disable;
    }
    r[NOTIFSIM_R_VISIT] = visit;
    r[NOTIFSIM_R_CLICK] = click;
    r[NOTIFSIM_R_SEND] = sent;
    r[NOTIFSIM_R_DISABLE] = disable;

    /* fatigue, then slow recovery toward the user's own level */
    if (sent && n24 > c->fatigue_free)
        u->active *= 1 - c->fatigue_decay * (n24 - c->fatigue_free);
    u->active += c->recovery * (u->active0 - u->active);
    u->sent[u->t % NOTIFSIM_WINDOW] = sent;
    for (int i = u->nq - 1; i >= 0; i--)
        if (--u->q[i].ttl <= 0)
            queue_remove(u, i);
    u->t++;
    if (disable || u->t >= c->steps) {
        u->done = 1;
        return 1;
    }
    arrive(u);
    return 0;
}

/* ---- policies ---- */

int notifsim_rule_action(const notifsim_rule *r, const double *s)
{
    switch (r->kind) {
    case NOTIFSIM_ALWAYS:
        return 1;
    case NOTIFSIM_NEVER:
        return 0;
    default:
        return s[NOTIFSIM_S_TOP_REL] > r->threshold && s[NOTIFSIM_S_SENT24H] < r->cap;
    }
}

void notifsim_rule_probs(void *ctx, const double *s, double *probs)
{
    const notifsim_rule *r = ctx;
    int a = notifsim_rule_action(r, s);
    probs[a] = 1 - r->epsilon / 2;
    probs[1 - a] = r->epsilon / 2;
}

void notifsim_behavior(const notifsim_cfg *c, notifsim_rule *r)
{
    r->kind = NOTIFSIM_RULE;
    r->threshold = c->threshold;
    r->cap = c->cap;
    r->epsilon = c->epsilon;
}

int notifsim_rule_parse(const char *spec, const notifsim_cfg *c, notifsim_rule *r, errctx *e)
{
    memset(r, 0, sizeof *r);
    if (strcmp(spec, "always") == 0) {
        r->kind = NOTIFSIM_ALWAYS;
        return 0;
    }
    if (strcmp(spec, "never") == 0) {
        r->kind = NOTIFSIM_NEVER;
        return 0;
    }
    if (strcmp(spec, "behavior") == 0) {
        notifsim_behavior(c, r);
        return 0;
    }
    if (strncmp(spec, "threshold:", 10) == 0) {
        const char *x = spec + 10, *colon = strchr(x, ':');
        size_t xlen = colon ? (size_t)(colon - x) : strlen(x);
        char num[64];
        errctx ne;
        r->kind = NOTIFSIM_RULE;
        r->cap = c->cap;
        if (xlen >= sizeof num)
            return err_set(e, "the threshold is too long");
        memcpy(num, x, xlen);
        num[xlen] = '\0';
        if (rec_parse_f64(num, xlen, &r->threshold, &ne) < 0)
            return err_set(e, "threshold: %s", ne.msg);
        if (r->threshold < 0 || r->threshold > 1)
            return err_set(e, "the threshold must be in [0, 1]");
        if (colon) {
            const char *cs = colon + 1;
            int64_t v;
            if (rec_parse_i64(cs, strlen(cs), &v, &ne) < 0)
                return err_set(e, "cap: %s", ne.msg);
            if (v < 0 || v > 1000)
                return err_set(e, "the cap must be in [0, 1000]");
            r->cap = (int)v;
        }
        return 0;
    }
    return err_set(e, "unknown policy (policies: always, never, behavior, threshold:X, threshold:X:C)");
}

int notifsim_act(notifsim_user *u, const notifsim_policy *p, const double *s, double *prop)
{
    double v = rng_uniform(&u->pol);
    if (s[NOTIFSIM_S_QUEUE] < 1) {
        *prop = 1;
        return 0;
    }
    double probs[NOTIFSIM_NACTIONS];
    p->probs(p->ctx, s, probs);
    /* inversion: the first a with v < probs[0] + ... + probs[a] */
    int a = 0;
    double acc = probs[0];
    while (v >= acc && a < NOTIFSIM_NACTIONS - 1) {
        a++;
        acc += probs[a];
    }
    /* probabilities summing to a little under 1 could leave v past the
     * end: never return an action of probability 0 */
    while (probs[a] <= 0 && a > 0)
        a--;
    *prop = probs[a];
    return a;
}

/* ---- episodes ---- */

int notifsim_episode(const notifsim_cfg *c, uint64_t user, const notifsim_policy *p, double gamma, double *ret,
                     notifsim_row_fn row_fn, void *ctx, errctx *e)
{
    notifsim_user u;
    notifsim_row row;
    notifsim_user_start(&u, c, user);
    for (int j = 0; j < NOTIFSIM_NREWARDS; j++)
        ret[j] = 0;
    double disc = 1;
    int steps = 0;
    row.episode = user;
    for (;;) {
        row.t = u.t;
        notifsim_observe(&u, row.state);
        row.action = notifsim_act(&u, p, row.state, &row.propensity);
        row.terminal = notifsim_step(&u, row.action, row.reward);
        for (int j = 0; j < NOTIFSIM_NREWARDS; j++)
            ret[j] += disc * row.reward[j];
        disc *= gamma;
        steps++;
        if (row_fn && row_fn(ctx, &row, e) != 0)
            return -1;
        if (row.terminal)
            return steps;
    }
}

static const char *const columns[] = {
    "episode", "t",         "s_badge", "s_queue", "s_hour",  "s_active", "s_sent24h", "s_top_rel", "s_hod",
    "action",  "propensity", "r_visit", "r_click", "r_send", "r_disable", NULL,
};

const char *const *notifsim_columns(int *ncols)
{
    *ncols = (int)(sizeof columns / sizeof *columns) - 1;
    return columns;
}

static int write_row(void *ctx, const notifsim_row *row, errctx *e)
{
    rec_writer *w = ctx;
    int col = 0;
    rec_put_i64(w, col++, (int64_t)row->episode);
    rec_put_i64(w, col++, row->t);
    for (int j = 0; j < NOTIFSIM_NSTATE; j++) {
        double v = row->state[j];
        if (j == NOTIFSIM_S_ACTIVE || j == NOTIFSIM_S_TOP_REL)
            /* 4 decimals: the float prints as that decimal, and readers
             * (rec_f64) take it back as the decimal's double, exactly
             * the value the policy saw */
            rec_put_f32(w, col++, (float)v);
        else
            rec_put_i64(w, col++, (int64_t)v);
    }
    rec_put_i64(w, col++, row->action);
    /* float32: 1 - epsilon/2 prints as the decimal it stands for */
    rec_put_f32(w, col++, (float)row->propensity);
    for (int j = 0; j < NOTIFSIM_NREWARDS; j++)
        rec_put_i64(w, col++, (int64_t)row->reward[j]);
    return rec_end_row(w, e);
}

int notifsim_write(const notifsim_cfg *c, uint64_t episodes, rec_writer *w, cli_progress *prog, errctx *e)
{
    int ncols;
    const char *const *names = notifsim_columns(&ncols);
    if (rec_writer_header(w, ncols, names, e) < 0)
        return -1;
    notifsim_rule rule;
    notifsim_behavior(c, &rule);
    notifsim_policy p = {notifsim_rule_probs, &rule};
    double ret[NOTIFSIM_NREWARDS];
    for (uint64_t i = 0; i < episodes; i++) {
        if (notifsim_episode(c, i, &p, 1, ret, write_row, w, e) < 0)
            return -1;
        if (prog && (i & 255) == 255)
            cli_progress_update(prog, (double)(i + 1));
    }
    if (prog)
        cli_progress_update(prog, (double)episodes);
    return 0;
}

/* ---- weights and values ---- */

void notifsim_default_weights(double *w)
{
    w[NOTIFSIM_R_VISIT] = 1;
    w[NOTIFSIM_R_CLICK] = 0;
    w[NOTIFSIM_R_SEND] = -0.05;
    w[NOTIFSIM_R_DISABLE] = -5;
}

int notifsim_parse_weights(const char *s, double *w, errctx *e)
{
    int seen[NOTIFSIM_NREWARDS] = {0};
    for (int j = 0; j < NOTIFSIM_NREWARDS; j++)
        w[j] = 0;
    const char *p = s;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        if (len == 0)
            return err_set(e, "invalid value '%s' for --weights: empty item", s);
        if (!eq)
            return err_set(e, "invalid value '%s' for --weights: '%.*s' is not NAME=VALUE", s, (int)len, p);
        size_t nlen = (size_t)(eq - p);
        int j = -1;
        for (int k = 0; k < NOTIFSIM_NREWARDS; k++)
            if (strlen(notifsim_reward_names[k]) == nlen && memcmp(notifsim_reward_names[k], p, nlen) == 0)
                j = k;
        if (j < 0)
            return err_set(e,
                           "invalid value '%s' for --weights: unknown objective '%.*s' (objectives: r_visit, "
                           "r_click, r_send, r_disable)",
                           s, (int)nlen, p);
        if (seen[j])
            return err_set(e, "invalid value '%s' for --weights: objective '%s' given twice", s,
                           notifsim_reward_names[j]);
        seen[j] = 1;
        char num[64];
        size_t vlen = len - nlen - 1;
        errctx ne;
        if (vlen >= sizeof num)
            return err_set(e, "invalid value '%s' for --weights: value of '%s' too long", s,
                           notifsim_reward_names[j]);
        memcpy(num, eq + 1, vlen);
        num[vlen] = '\0';
        if (rec_parse_f64(num, vlen, &w[j], &ne) < 0)
            return err_set(e, "invalid value '%s' for --weights: '%s': %s", s, notifsim_reward_names[j], ne.msg);
        if (!comma)
            return 0;
        p = comma + 1;
    }
}

void notifsim_moments_add(notifsim_moments *m, double x)
{
    m->n++;
    double d = x - m->mean;
    m->mean += d / (double)m->n;
    m->m2 += d * (x - m->mean);
}

double notifsim_moments_se(const notifsim_moments *m)
{
    if (m->n < 2)
        return NAN;
    return sqrt(m->m2 / (double)(m->n - 1) / (double)m->n);
}

void notifsim_evaluate(const notifsim_cfg *c, const notifsim_policy *p, uint64_t episodes, double gamma,
                       const double *weights, notifsim_value *out, cli_progress *prog)
{
    notifsim_moments mom[NOTIFSIM_NREWARDS + 1];
    memset(mom, 0, sizeof mom);
    /* the means from plain sums (exact for the undiscounted integer
     * returns); Welford only for the variances */
    double sum[NOTIFSIM_NREWARDS + 1] = {0};
    double ret[NOTIFSIM_NREWARDS], steps = 0;
    for (uint64_t i = 0; i < episodes; i++) {
        steps += notifsim_episode(c, NOTIFSIM_EVAL_BASE + i, p, gamma, ret, NULL, NULL, NULL);
        double wsum = 0;
        for (int j = 0; j < NOTIFSIM_NREWARDS; j++) {
            notifsim_moments_add(&mom[j], ret[j]);
            sum[j] += ret[j];
            wsum += weights[j] * ret[j];
        }
        notifsim_moments_add(&mom[NOTIFSIM_NREWARDS], wsum);
        sum[NOTIFSIM_NREWARDS] += wsum;
        if (prog && (i & 1023) == 1023)
            cli_progress_update(prog, (double)(i + 1));
    }
    if (prog)
        cli_progress_update(prog, (double)episodes);
    out->episodes = episodes;
    out->steps = episodes ? steps / (double)episodes : NAN;
    for (int j = 0; j <= NOTIFSIM_NREWARDS; j++) {
        out->mean[j] = episodes ? sum[j] / (double)episodes : NAN;
        out->se[j] = notifsim_moments_se(&mom[j]);
    }
}

/* v to 9 significant digits (SPEC section 3: %.9g), as the double the
 * decimal reads back to, so the writer prints at most 9 digits. */
static double sig9(double v)
{
    char buf[40];
    snprintf(buf, sizeof buf, "%.9g", v);
    return strtod(buf, NULL);
}

int notifsim_write_value(rec_writer *w, const notifsim_value *v, errctx *e)
{
    static const char *const names[] = {"objective", "value", "stderr"};
    if (rec_writer_header(w, 3, names, e) < 0)
        return -1;
    for (int j = 0; j <= NOTIFSIM_NREWARDS; j++) {
        const char *name = j < NOTIFSIM_NREWARDS ? notifsim_reward_names[j] : "weighted";
        rec_put_str(w, 0, name, strlen(name));
        rec_put_f64(w, 1, sig9(v->mean[j]));
        if (isnan(v->se[j]))
            rec_put_str(w, 2, "NA", 2);
        else
            rec_put_f64(w, 2, sig9(v->se[j]));
        if (rec_end_row(w, e) < 0)
            return -1;
    }
    return 0;
}
