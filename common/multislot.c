/*
 * multislot.c - the multi-slot list environment (see multislot.h for the
 * model and the determinism contract; multislot-sim(1) for the defaults
 * and the reasons behind them).
 *
 * Layout: the catalogue is built once (multislot_catalog_build); a request
 * is regenerated from its own stream into a multislot_req
 * (multislot_request), which carries everything the list values need
 * (slot-1 logits, categories, unit latent vectors), so the attraction of
 * a candidate in a context (multislot_attraction) and the exact value of
 * a list (multislot_list_value) read nothing else.  The logging policy is
 * a probability vector over the remaining candidates
 * (multislot_policy_probs) sampled by inversion; the outcomes are drawn
 * from the very probabilities multislot_list_value sums.  The writer and
 * the judge loop over requests with one multislot_req each.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "multislot.h"
#include "banned.h"

const char *const multislot_objective_names[MULTISLOT_NOBJ] = {"click", "save"};

void multislot_defaults(multislot_cfg *c)
{
    memset(c, 0, sizeof *c);
    c->seed = 1;
    c->candidates = 20;
    c->slots = 5;
    c->dim = 8;
    c->categories = 8;
    c->items = 2000;
    c->features = 8;
    c->click_model = MULTISLOT_POSITION;
    c->eta = 1;
    c->diversity = 0.5;
    c->freshness = 0.3;
    c->score_noise = 0.3;
    c->logging = MULTISLOT_LOG_PL;
    c->log_param = 1;
    c->category_share = 0.5;
    c->bias_mean = -1;
    c->bias_sd = 0.5;
    c->save_mix = 0.6;
    c->save_offset = -1.5;
    c->age_mean = 48;
    c->feature_noise = 0.5;
}

int multislot_check(const multislot_cfg *c, errctx *e)
{
#define RANGE(v, lo, hi, name)                                                                     \
    if (!((v) >= (lo) && (v) <= (hi)))                                                             \
        return err_set(e, "%s must be in [%g, %g]", name, (double)(lo), (double)(hi));
    RANGE(c->candidates, 1, MULTISLOT_MAX_CANDIDATES, "--candidates")
    RANGE(c->slots, 1, MULTISLOT_MAX_SLOTS, "--slots")
    RANGE(c->dim, 1, 256, "--dim")
    RANGE(c->categories, 1, 1000000, "--categories")
    RANGE(c->items, 1, 10000000, "--items")
    RANGE(c->features, 0, 1000, "--features")
    RANGE(c->eta, 0, 10, "--eta")
    RANGE(c->diversity, 0, 100, "--diversity-effect")
    RANGE(c->freshness, 0, 100, "--freshness-effect")
    RANGE(c->score_noise, 0, 10, "--score-noise")
    RANGE(c->category_share, 0, 1, "category share")
    RANGE(c->bias_sd, 0, 100, "bias sd")
    RANGE(c->bias_mean, -100, 100, "bias mean")
    RANGE(c->save_mix, -1, 1, "save mix")
    RANGE(c->save_offset, -100, 100, "save offset")
    RANGE(c->age_mean, 0, 1e6, "age mean")
    RANGE(c->feature_noise, 0, 100, "feature noise")
#undef RANGE
    if (c->click_model != MULTISLOT_POSITION && c->click_model != MULTISLOT_CASCADE)
        return err_set(e, "unknown click model");
    if (c->logging == MULTISLOT_LOG_EPSILON && !(c->log_param >= 0 && c->log_param <= 1))
        return err_set(e, "the epsilon of --logging must be in [0, 1]");
    if (c->logging == MULTISLOT_LOG_PL && !(c->log_param >= 0.01 && c->log_param <= 1000))
        return err_set(e, "the temperature of --logging must be in [0.01, 1000]");
    if (c->slots > c->candidates)
        return err_set(e, "--slots %d exceeds --candidates %d: every slot needs a candidate", c->slots,
                       c->candidates);
    if (c->candidates > c->items)
        return err_set(e, "--candidates %d exceeds --items %d: a request's candidates are distinct items",
                       c->candidates, c->items);
    return 0;
}

/* The number after "name:" in spec, in [lo, hi]. */
static int parse_param(const char *num, const char *what, double lo, double hi, double *out, errctx *e)
{
    errctx ne;
    if (rec_parse_f64(num, strlen(num), out, &ne) < 0)
        return err_set(e, "%s: %s", what, ne.msg);
    if (!(*out >= lo && *out <= hi))
        return err_set(e, "%s must be in [%g, %g]", what, lo, hi);
    return 0;
}

int multislot_parse_logging(const char *spec, multislot_cfg *c, errctx *e)
{
    if (strcmp(spec, "uniform") == 0) {
        c->logging = MULTISLOT_LOG_UNIFORM;
        c->log_param = 0;
        return 0;
    }
    if (strncmp(spec, "epsilon:", 8) == 0) {
        c->logging = MULTISLOT_LOG_EPSILON;
        return parse_param(spec + 8, "the epsilon", 0, 1, &c->log_param, e);
    }
    if (strncmp(spec, "plackett-luce:", 14) == 0) {
        c->logging = MULTISLOT_LOG_PL;
        return parse_param(spec + 14, "the temperature", 0.01, 1000, &c->log_param, e);
    }
    return err_set(e, "unknown logging policy (policies: uniform, epsilon:E, plackett-luce:T)");
}

int multislot_parse_click_model(const char *spec, multislot_cfg *c, errctx *e)
{
    if (strcmp(spec, "position") == 0)
        c->click_model = MULTISLOT_POSITION;
    else if (strcmp(spec, "cascade") == 0)
        c->click_model = MULTISLOT_CASCADE;
    else
        return err_set(e, "unknown click model (models: position, cascade)");
    return 0;
}

static double sigmoid(double z)
{
    return 1 / (1 + exp(-z));
}

/* Four decimals (one for ages), as the nearest double to the decimal, so
 * a reader of the text output parses exactly the value the model used. */
static double round4(double v)
{
    return floor(v * 1e4 + 0.5) / 1e4;
}

static double round1(double v)
{
    return floor(v * 10 + 0.5) / 10;
}

static double dot(const double *a, const double *b, int n)
{
    double s = 0;
    for (int j = 0; j < n; j++)
        s += a[j] * b[j];
    return s;
}

/* ---- the catalogue ---- */

/* Item i from its own stream (multislot.h, "item i"). */
static void build_item(multislot_catalog *cat, const multislot_cfg *c, const double *centres, const double *load,
                       int i)
{
    int d = c->dim;
    rng r;
    rng_init(&r, c->seed, MULTISLOT_STREAM_ITEM + (uint64_t)i);
    double sd = 1 / sqrt((double)d), a = sqrt(c->category_share), b = sqrt(1 - c->category_share);
    double *e = cat->e + (size_t)i * d, *s = cat->s + (size_t)i * d, *unit = cat->unit + (size_t)i * d;
    int cat_i = (int)rng_below(&r, (uint64_t)c->categories);
    cat->category[i] = cat_i;
    for (int j = 0; j < d; j++)
        e[j] = a * centres[(size_t)cat_i * d + j] + b * sd * rng_normal(&r);
    double g_scale = sqrt(1 - c->save_mix * c->save_mix);
    for (int j = 0; j < d; j++)
        s[j] = c->save_mix * e[j] + g_scale * sd * rng_normal(&r);
    cat->bias[i] = c->bias_mean + c->bias_sd * rng_normal(&r);
    double norm = sqrt(dot(e, e, d));
    for (int j = 0; j < d; j++)
        unit[j] = norm > 0 ? e[j] / norm : 0;
    float *f = cat->feat + (size_t)i * c->features;
    for (int k = 0; k < c->features; k++)
        f[k] = (float)round4(dot(load + (size_t)k * d, e, d) + c->feature_noise * rng_normal(&r));
    snprintf(cat->names + (size_t)i * MULTISLOT_NAME_LEN, MULTISLOT_NAME_LEN, "i%d", i);
}

void multislot_catalog_build(multislot_catalog *cat, const multislot_cfg *c)
{
    size_t n = (size_t)c->items, d = (size_t)c->dim;
    cat->items = c->items;
    cat->dim = c->dim;
    cat->features = c->features;
    cat->category = xmalloc(n * sizeof *cat->category);
    cat->bias = xmalloc(n * sizeof *cat->bias);
    cat->e = xmalloc(n * d * sizeof *cat->e);
    cat->s = xmalloc(n * d * sizeof *cat->s);
    cat->unit = xmalloc(n * d * sizeof *cat->unit);
    cat->feat = xmalloc((n * (size_t)c->features + 1) * sizeof *cat->feat);
    cat->names = xmalloc(n * MULTISLOT_NAME_LEN);
    double *centres = xmalloc((size_t)c->categories * d * sizeof *centres);
    double *load = xmalloc(((size_t)c->features * d + 1) * sizeof *load);
    rng w;
    rng_init(&w, c->seed, MULTISLOT_STREAM_WORLD);
    double sd = 1 / sqrt((double)d);
    for (size_t j = 0; j < (size_t)c->categories * d; j++)
        centres[j] = sd * rng_normal(&w);
    for (size_t j = 0; j < (size_t)c->features * d; j++)
        load[j] = rng_normal(&w);
    for (int i = 0; i < c->items; i++)
        build_item(cat, c, centres, load, i);
    free(centres);
    free(load);
}

void multislot_catalog_free(multislot_catalog *cat)
{
    free(cat->category);
    free(cat->bias);
    free(cat->e);
    free(cat->s);
    free(cat->unit);
    free(cat->feat);
    free(cat->names);
    memset(cat, 0, sizeof *cat);
}

int multislot_item_index(const multislot_catalog *cat, const char *name, size_t len)
{
    if (len < 2 || len > 9 || name[0] != 'i' || (name[1] == '0' && len > 2))
        return -1;
    long v = 0;
    for (size_t k = 1; k < len; k++) {
        if (name[k] < '0' || name[k] > '9')
            return -1;
        v = v * 10 + (name[k] - '0');
    }
    return v < cat->items ? (int)v : -1;
}

/* ---- requests ---- */

void multislot_req_init(multislot_req *q, int n, int dim)
{
    memset(q, 0, sizeof *q);
    q->n = n;
    q->dim = dim;
    q->user = xmalloc((size_t)dim * sizeof *q->user);
    q->item = xmalloc((size_t)n * sizeof *q->item);
    q->category = xmalloc((size_t)n * sizeof *q->category);
    q->age = xmalloc((size_t)n * sizeof *q->age);
    q->click_logit = xmalloc((size_t)n * sizeof *q->click_logit);
    q->save_logit = xmalloc((size_t)n * sizeof *q->save_logit);
    q->unit = xmalloc((size_t)n * (size_t)dim * sizeof *q->unit);
    q->score_click = xmalloc((size_t)n * sizeof *q->score_click);
    q->score_save = xmalloc((size_t)n * sizeof *q->score_save);
}

void multislot_req_free(multislot_req *q)
{
    free(q->user);
    free(q->item);
    free(q->category);
    free(q->age);
    free(q->click_logit);
    free(q->save_logit);
    free(q->unit);
    free(q->score_click);
    free(q->score_save);
    memset(q, 0, sizeof *q);
}

/* n distinct items of 0 .. items-1, uniformly, in draw order: a
 * Fisher-Yates shuffle of the identity whose first n steps are run, the
 * displaced positions kept in a short list (pos -> value) instead of an
 * array of all items. */
static void draw_items(rng *r, int items, int n, int *out)
{
    int pos[MULTISLOT_MAX_CANDIDATES], val[MULTISLOT_MAX_CANDIDATES], m = 0; /* m <= k < n */
    for (int k = 0; k < n; k++) {
        int j = k + (int)rng_below(r, (uint64_t)(items - k));
        int vj = j, vk = k, ij = -1, ik = -1;
        for (int t = 0; t < m; t++) {
            if (pos[t] == j)
                ij = t;
            if (pos[t] == k)
                ik = t;
        }
        if (ij >= 0)
            vj = val[ij];
        if (ik >= 0)
            vk = val[ik];
        out[k] = vj;
        /* position j now holds what was at k; position k is never read again */
        if (j != k) {
            if (ij < 0) {
                pos[m] = j;
                ij = m++;
            }
            val[ij] = vk;
        }
    }
}

/* A second-pass score: p exp(noise), at most 0.9999 and at least 1e-30
 * (a floor that no default comes near, so that the Plackett-Luce weights
 * score^(1/T) are always defined), as float32. */
static float second_pass(double p, double noise)
{
    return (float)fmax(fmin(p * exp(noise), 0.9999), 1e-30);
}

void multislot_request(const multislot_cfg *c, const multislot_catalog *cat, uint64_t r, multislot_req *q)
{
    int d = c->dim, n = c->candidates;
    rng g;
    rng_init(&g, c->seed, r);
    q->id = r;
    for (int j = 0; j < d; j++)
        q->user[j] = rng_normal(&g);
    draw_items(&g, c->items, n, q->item);
    for (int i = 0; i < n; i++) {
        int it = q->item[i];
        const double *e = cat->e + (size_t)it * d, *s = cat->s + (size_t)it * d;
        q->category[i] = cat->category[it];
        memcpy(q->unit + (size_t)i * d, cat->unit + (size_t)it * d, (size_t)d * sizeof *q->unit);
        q->age[i] = round1(-c->age_mean * log(rng_uniform_pos(&g)));
        double zc = rng_normal(&g), zs = rng_normal(&g);
        q->click_logit[i] = dot(q->user, e, d) + cat->bias[it] + c->freshness * exp(-q->age[i] / 24);
        q->save_logit[i] = dot(q->user, s, d) + cat->bias[it] + c->save_offset;
        q->score_click[i] = second_pass(sigmoid(q->click_logit[i]), c->score_noise * zc);
        q->score_save[i] = second_pass(sigmoid(q->save_logit[i]), c->score_noise * zs);
    }
}

/* ---- attraction and list values ---- */

void multislot_attraction(const multislot_cfg *c, const multislot_req *q, const int *above, int n_above, int i,
                          double *att)
{
    int same = 0, d = q->dim;
    double sim = 0; /* max(0, max cos): context never raises attraction */
    const double *ui = q->unit + (size_t)i * d;
    for (int t = 0; t < n_above; t++) {
        int j = above[t];
        same += q->category[j] == q->category[i];
        double cs = dot(ui, q->unit + (size_t)j * d, d);
        if (cs > sim)
            sim = cs;
    }
    double context = c->diversity * (same + sim);
    att[MULTISLOT_CLICK] = sigmoid(q->click_logit[i] - context);
    att[MULTISLOT_SAVE] = sigmoid(q->save_logit[i] - context);
}

/* Examination probability of slot k + 1 under the position model. */
static double exam_position(const multislot_cfg *c, int k)
{
    return pow(1.0 / (k + 1), c->eta);
}

void multislot_list_value(const multislot_cfg *c, const multislot_req *q, const int *list, int k, double *value,
                          double *per_slot)
{
    double cascade_exam = 1; /* prod_{j<k} (1 - a_j) */
    value[MULTISLOT_CLICK] = value[MULTISLOT_SAVE] = 0;
    for (int s = 0; s < k; s++) {
        double att[MULTISLOT_NOBJ];
        multislot_attraction(c, q, list, s, list[s], att);
        double x = c->click_model == MULTISLOT_CASCADE ? cascade_exam : exam_position(c, s);
        for (int o = 0; o < MULTISLOT_NOBJ; o++) {
            value[o] += x * att[o];
            if (per_slot)
                per_slot[s * MULTISLOT_NOBJ + o] = x * att[o];
        }
        cascade_exam *= 1 - att[MULTISLOT_CLICK];
    }
}

void multislot_simulate(const multislot_cfg *c, const multislot_req *q, const int *list, int k, rng *resp, int *click,
                        int *save)
{
    int clicked = 0;
    for (int s = 0; s < k; s++) {
        /* three uniforms a slot, used or not (common random numbers) */
        double u_exam = rng_uniform(resp), u_click = rng_uniform(resp), u_save = rng_uniform(resp);
        double att[MULTISLOT_NOBJ];
        multislot_attraction(c, q, list, s, list[s], att);
        int examined = c->click_model == MULTISLOT_CASCADE ? !clicked : u_exam < exam_position(c, s);
        click[s] = examined && u_click < att[MULTISLOT_CLICK];
        save[s] = examined && u_save < att[MULTISLOT_SAVE];
        clicked |= click[s];
    }
}

/* ---- the logging policy ---- */

void multislot_policy_probs(const multislot_cfg *c, const multislot_req *q, const unsigned char *taken,
                            double *probs)
{
    int n = q->n, remaining = 0, top = -1;
    double top_score = 0;
    for (int i = 0; i < n; i++) {
        probs[i] = 0;
        if (taken[i])
            continue;
        remaining++;
        if (top < 0 || q->score_click[i] > top_score) {
            top = i;
            top_score = q->score_click[i];
        }
    }
    if (c->logging == MULTISLOT_LOG_PL) {
        /* w_i = s_i^(1/T) relative to the largest: no overflow, and the
         * top weight is 1 so the sum is at least 1 */
        double log_top = log(top_score), sum = 0;
        for (int i = 0; i < n; i++)
            if (!taken[i])
                sum += probs[i] = exp((log((double)q->score_click[i]) - log_top) / c->log_param);
        for (int i = 0; i < n; i++)
            probs[i] /= sum;
        return;
    }
    double eps = c->logging == MULTISLOT_LOG_EPSILON ? c->log_param : 1;
    for (int i = 0; i < n; i++)
        if (!taken[i])
            probs[i] = (i == top ? 1 - eps : 0) + eps / remaining;
}

void multislot_log_list(const multislot_cfg *c, const multislot_req *q, rng *pol, int *list, double *prop)
{
    unsigned char taken[MULTISLOT_MAX_CANDIDATES] = {0};
    double probs[MULTISLOT_MAX_CANDIDATES];
    for (int s = 0; s < c->slots; s++) {
        double v = rng_uniform(pol);
        multislot_policy_probs(c, q, taken, probs);
        /* inversion: the first remaining i with v < probs[0] + ... + probs[i] */
        int pick = -1, last = -1;
        double acc = 0;
        for (int i = 0; i < q->n && pick < 0; i++) {
            if (probs[i] <= 0)
                continue;
            last = i;
            acc += probs[i];
            if (v < acc)
                pick = i;
        }
        /* probabilities summing to a little under 1 could leave v past
         * the end: take the last candidate of positive probability */
        if (pick < 0)
            pick = last;
        list[s] = pick;
        prop[s] = probs[pick];
        taken[pick] = 1;
    }
}

void multislot_log_request(const multislot_cfg *c, const multislot_req *q, multislot_logged *out)
{
    rng pol, resp;
    rng_init(&pol, c->seed, MULTISLOT_STREAM_POLICY + q->id);
    rng_init(&resp, c->seed, MULTISLOT_STREAM_RESP + q->id);
    out->k = c->slots;
    multislot_log_list(c, q, &pol, out->list, out->prop);
    multislot_simulate(c, q, out->list, out->k, &resp, out->click, out->save);
}

/* ---- writing the log ---- */

static const char *const head_cols[] = {"request_id", "item_id", "category", "age", "score_click", "score_save"};
static const char *const tail_cols[] = {"slot", "click", "save", "propensity"};
enum { NHEAD = 6, NTAIL = 4 };

char **multislot_columns(const multislot_cfg *c, int *ncols)
{
    int n = NHEAD + c->features + NTAIL;
    char **names = xcalloc((size_t)n + 1, sizeof *names);
    for (int j = 0; j < NHEAD; j++)
        names[j] = xstrdup(head_cols[j]);
    for (int j = 0; j < c->features; j++) {
        char buf[32];
        snprintf(buf, sizeof buf, "f_%d", j);
        names[NHEAD + j] = xstrdup(buf);
    }
    for (int j = 0; j < NTAIL; j++)
        names[NHEAD + c->features + j] = xstrdup(tail_cols[j]);
    *ncols = n;
    return names;
}

void multislot_columns_free(char **names)
{
    for (char **p = names; p && *p; p++)
        free(*p);
    free(names);
}

static int write_request(const multislot_cfg *c, const multislot_catalog *cat, const multislot_req *q,
                         const multislot_logged *lg, rec_writer *w, errctx *e)
{
    int slot_of[MULTISLOT_MAX_CANDIDATES];
    for (int i = 0; i < q->n; i++)
        slot_of[i] = -1;
    for (int s = 0; s < lg->k; s++)
        slot_of[lg->list[s]] = s;
    for (int i = 0; i < q->n; i++) {
        int it = q->item[i], col = 0, s = slot_of[i];
        const char *name = cat->names + (size_t)it * MULTISLOT_NAME_LEN;
        rec_put_i64(w, col++, (int64_t)q->id);
        rec_put_str(w, col++, name, strlen(name));
        rec_put_i64(w, col++, q->category[i]);
        rec_put_f32(w, col++, (float)q->age[i]);
        rec_put_f32(w, col++, q->score_click[i]);
        rec_put_f32(w, col++, q->score_save[i]);
        const float *f = cat->feat + (size_t)it * c->features;
        for (int j = 0; j < c->features; j++)
            rec_put_f32(w, col++, f[j]);
        rec_put_i64(w, col++, s < 0 ? 0 : s + 1);
        rec_put_i64(w, col++, s < 0 ? 0 : lg->click[s]);
        rec_put_i64(w, col++, s < 0 ? 0 : lg->save[s]);
        rec_put_f32(w, col++, s < 0 ? 0.0f : (float)lg->prop[s]);
        if (rec_end_row(w, e) < 0)
            return -1;
    }
    return 0;
}

int multislot_write(const multislot_cfg *c, const multislot_catalog *cat, uint64_t requests, rec_writer *w,
                    cli_progress *prog, errctx *e)
{
    int ncols, rc = 0;
    char **names = multislot_columns(c, &ncols);
    if (rec_writer_header(w, ncols, (const char *const *)names, e) < 0)
        rc = -1;
    multislot_columns_free(names);
    if (rc < 0)
        return -1;
    multislot_req q;
    multislot_logged lg;
    multislot_req_init(&q, c->candidates, c->dim);
    for (uint64_t r = 0; r < requests && rc == 0; r++) {
        multislot_request(c, cat, r, &q);
        multislot_log_request(c, &q, &lg);
        rc = write_request(c, cat, &q, &lg, w, e);
        if (prog && (r & 1023) == 1023)
            cli_progress_update(prog, (double)(r + 1));
    }
    multislot_req_free(&q);
    if (rc == 0 && prog)
        cli_progress_update(prog, (double)requests);
    return rc;
}

/* ---- judging lists ---- */

/* Running mean and variance (Welford), in double. */
typedef struct moments {
    uint64_t n;
    double mean, m2;
} moments;

static void moments_add(moments *m, double x)
{
    m->n++;
    double d = x - m->mean;
    m->mean += d / (double)m->n;
    m->m2 += d * (x - m->mean);
}

static double moments_se(const moments *m)
{
    if (m->n < 2)
        return NAN;
    return sqrt(m->m2 / (double)(m->n - 1) / (double)m->n);
}

/* v to 9 significant digits (SPEC section 3: %.9g), as the double the
 * decimal reads back to, so the writer prints at most 9 digits. */
static double sig9(double v)
{
    char buf[40];
    snprintf(buf, sizeof buf, "%.9g", v);
    return strtod(buf, NULL);
}

/* The list of one request being read. */
typedef struct judge_state {
    const multislot_cfg *cfg;
    const multislot_catalog *cat;
    rec_reader *r;
    int rcol, scol, icol;
    multislot_req q;
    int k;                              /* highest slot seen */
    int list[MULTISLOT_MAX_SLOTS];      /* candidate at slot s + 1, -1 if none yet */
    uint64_t line[MULTISLOT_MAX_SLOTS]; /* its line */
    int slot_of[MULTISLOT_MAX_CANDIDATES];
    hset64 seen; /* request ids judged */
    moments mom[MULTISLOT_NOBJ];
    double sum[MULTISLOT_NOBJ];
    rec_writer *per_request;
} judge_state;

/* The text of field col, cut for messages. */
static int field_text(rec_reader *r, int col, const char **s)
{
    size_t len;
    *s = rec_str(r, col, &len);
    return (int)(len > 40 ? 40 : len);
}

/* A new request starts at the current row: parse and check its id,
 * regenerate it. */
static int start_request(judge_state *js, uint64_t requests, errctx *e)
{
    int64_t id;
    if (rec_i64(js->r, js->rcol, &id, e) < 0)
        return -1;
    if (id < 0 || (uint64_t)id >= requests)
        return rec_error(js->r, js->rcol, e, "request %lld is outside 0..%llu (--requests %llu)", (long long)id,
                         (unsigned long long)(requests - 1), (unsigned long long)requests);
    if (!hset64_add(&js->seen, mix64((uint64_t)id))) {
        const char *txt;
        int tl = field_text(js->r, js->rcol, &txt);
        return rec_error(js->r, js->rcol, e, "'%.*s' names request %lld, which has a list already", tl, txt,
                         (long long)id);
    }
    multislot_request(js->cfg, js->cat, (uint64_t)id, &js->q);
    js->k = 0;
    for (int s = 0; s < js->cfg->slots; s++)
        js->list[s] = -1;
    for (int i = 0; i < js->q.n; i++)
        js->slot_of[i] = -1;
    return 0;
}

/* One row of the current request: its slot and item. */
static int add_row(judge_state *js, errctx *e)
{
    rec_reader *r = js->r;
    int64_t slot;
    if (rec_i64(r, js->scol, &slot, e) < 0)
        return -1;
    if (slot < 1 || slot > js->cfg->slots)
        return rec_error(r, js->scol, e, "slot %lld is outside 1..%d (--slots %d)", (long long)slot, js->cfg->slots,
                         js->cfg->slots);
    int s = (int)slot - 1;
    if (js->list[s] >= 0)
        return rec_error(r, js->scol, e, "slot %d of request %llu given twice (first on line %llu)", s + 1,
                         (unsigned long long)js->q.id, (unsigned long long)js->line[s]);
    size_t len;
    const char *name = rec_str(r, js->icol, &len);
    int item = multislot_item_index(js->cat, name, len), cand = -1;
    for (int i = 0; i < js->q.n && item >= 0 && cand < 0; i++)
        if (js->q.item[i] == item)
            cand = i;
    if (cand < 0) {
        const char *txt;
        int tl = field_text(r, js->icol, &txt);
        return rec_error(r, js->icol, e, "item '%.*s' is not a candidate of request %llu", tl, txt,
                         (unsigned long long)js->q.id);
    }
    if (js->slot_of[cand] >= 0)
        return rec_error(r, js->icol, e, "item '%s' appears twice in the list of request %llu (slots %d and %d)",
                         js->cat->names + (size_t)item * MULTISLOT_NAME_LEN, (unsigned long long)js->q.id,
                         js->slot_of[cand] + 1, s + 1);
    js->list[s] = cand;
    js->slot_of[cand] = s;
    js->line[s] = rec_line(r);
    if (s + 1 > js->k)
        js->k = s + 1;
    return 0;
}

/* The current request is complete: check the slots, judge the list. */
static int finish_request(judge_state *js, errctx *e)
{
    for (int s = 0; s < js->k; s++)
        if (js->list[s] < 0)
            return err_set(e, "%s:%llu: column '%s': request %llu has slot %d but no slot %d (slots must be 1..k "
                              "without gaps)",
                           rec_path(js->r), (unsigned long long)js->line[js->k - 1], rec_colname(js->r, js->scol),
                           (unsigned long long)js->q.id, js->k, s + 1);
    double v[MULTISLOT_NOBJ];
    multislot_list_value(js->cfg, &js->q, js->list, js->k, v, NULL);
    for (int o = 0; o < MULTISLOT_NOBJ; o++) {
        moments_add(&js->mom[o], v[o]);
        js->sum[o] += v[o];
    }
    if (!js->per_request)
        return 0;
    rec_put_i64(js->per_request, 0, (int64_t)js->q.id);
    rec_put_f64(js->per_request, 1, sig9(v[MULTISLOT_CLICK]));
    rec_put_f64(js->per_request, 2, sig9(v[MULTISLOT_SAVE]));
    return rec_end_row(js->per_request, e);
}

static int judge_rows(judge_state *js, uint64_t requests, cli_progress *prog, errctx *e)
{
    rec_group g;
    rec_group_init(&g, js->rcol);
    int got = 0, rc = 0, open = 0;
    while (rc == 0 && (got = rec_next(js->r, e)) == 1) {
        int step = rec_group_step(&g, js->r, e);
        if (step < 0) {
            rc = -1;
            break;
        }
        if (step == 1) {
            if (open && finish_request(js, e) < 0) {
                rc = -1;
                break;
            }
            open = 1;
            if (start_request(js, requests, e) < 0) {
                rc = -1;
                break;
            }
            if (prog && (js->mom[0].n & 1023) == 1023)
                cli_progress_update(prog, (double)js->mom[0].n);
        }
        rc = add_row(js, e);
    }
    if (rc == 0 && got < 0)
        rc = -1;
    if (rc == 0 && open)
        rc = finish_request(js, e);
    rec_group_free(&g);
    return rc;
}

int multislot_judge(const multislot_cfg *c, const multislot_catalog *cat, uint64_t requests, const char *path,
                    rec_writer *per_request, multislot_value *out, cli_progress *prog, errctx *e)
{
    static const char *const pr_cols[] = {"request_id", "click", "save"};
    judge_state js;
    memset(&js, 0, sizeof js);
    js.cfg = c;
    js.cat = cat;
    js.per_request = per_request;
    js.r = rec_open(path, e);
    if (!js.r)
        return -1;
    int rc = -1;
    if ((js.rcol = rec_col(js.r, "request_id", e)) < 0 || (js.scol = rec_col(js.r, "slot", e)) < 0 ||
        (js.icol = rec_col(js.r, "item_id", e)) < 0) {
        rec_close(js.r);
        return -1;
    }
    if (per_request && rec_writer_header(per_request, 3, pr_cols, e) < 0) {
        rec_close(js.r);
        return -1;
    }
    multislot_req_init(&js.q, c->candidates, c->dim);
    hset64_init(&js.seen);
    rc = judge_rows(&js, requests, prog, e);
    if (rc == 0 && js.mom[0].n == 0)
        rc = err_set(e, "%s: no lists (a header line and no rows)", rec_path(js.r));
    if (rc == 0) {
        out->requests = js.mom[0].n;
        for (int o = 0; o < MULTISLOT_NOBJ; o++) {
            /* the mean from the plain sum; Welford only for the variance */
            out->mean[o] = js.sum[o] / (double)js.mom[o].n;
            out->se[o] = moments_se(&js.mom[o]);
        }
        if (prog)
            cli_progress_update(prog, (double)out->requests);
    }
    hset64_free(&js.seen);
    multislot_req_free(&js.q);
    rec_close(js.r);
    return rc;
}

int multislot_write_value(rec_writer *w, const multislot_value *v, errctx *e)
{
    static const char *const names[] = {"objective", "value", "stderr"};
    if (rec_writer_header(w, 3, names, e) < 0)
        return -1;
    for (int o = 0; o < MULTISLOT_NOBJ; o++) {
        const char *name = multislot_objective_names[o];
        rec_put_str(w, 0, name, strlen(name));
        rec_put_f64(w, 1, sig9(v->mean[o]));
        if (isnan(v->se[o]))
            rec_put_str(w, 2, "NA", 2);
        else
            rec_put_f64(w, 2, sig9(v->se[o]));
        if (rec_end_row(w, e) < 0)
            return -1;
    }
    return 0;
}
