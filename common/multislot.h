/*
 * multislot.h - the multi-slot list environment behind multislot-sim(1):
 * requests with N candidates and K slots, a logging policy that fills the
 * slots (with its propensities), clicks and saves from a known model in
 * which an item's attraction depends on the items placed above it, and
 * the exact expected clicks and saves of any list (SPEC section 9,
 * Appendix A "multislot-sim").
 *
 * The phenomenon it exists for: an item's value depends on what is placed
 * above it (a second item of the same category, or one much like an item
 * already shown, attracts less), which the second-pass scores, estimated
 * for each item alone, miss; so a re-ranker that looks at the context
 * (sga-rerank) can beat sorting by score.
 *
 * The model (d = dim, C = categories, F = features, N = candidates,
 * K = slots; every equation is restated in multislot-sim(1)):
 *
 *   catalogue (world stream MULTISLOT_STREAM_WORLD of the seed):
 *     m_c ~ N(0, I_d / d), c = 0 .. C-1          category centres (|m_c| ~ 1)
 *     A (F, d) ~ N(0, 1)                          feature loadings, row by row
 *   item i = 0 .. items-1 (stream MULTISLOT_STREAM_ITEM + i), in this order:
 *     c_i ~ U{0 .. C-1}                           category
 *     e_i = sqrt(rho) m_{c_i} + sqrt(1 - rho) z_i,  z_i ~ N(0, I_d / d)
 *                                                 click latent (rho = 0.5)
 *     g_i ~ N(0, I_d / d)                         second latent (save only)
 *     b_i ~ N(bias_mean, bias_sd^2)               click bias (-1, 0.5)
 *     s_i = save_mix e_i + sqrt(1 - save_mix^2) g_i   save latent (0.6)
 *     cs_i = b_i + save_offset                    save bias (offset -1.5)
 *     f_ij = round4((A e_i)_j + feature_noise n_ij),  n_ij ~ N(0, 1),
 *            j = 0 .. F-1                         observed features (0.5)
 *     named "i<i>" ("i0", "i417", ...)
 *   request r (stream r), in this order:
 *     u ~ N(0, I_d)                               the user
 *     N distinct items, uniformly without replacement, in draw order
 *       (sparse Fisher-Yates: draw k takes position k + U{0 .. items-1-k})
 *     per candidate i, in candidate order:
 *       age_i = round1(age_mean Exp(1)) hours     (age_mean 48)
 *       zc_i, zs_i ~ N(0, 1)                      second-pass noise
 *
 * Attraction of candidate i placed below the set A of items above it
 * (A empty in slot 1):
 *   same_i(A) = #{j in A : c_j = c_i}
 *   sim_i(A)  = max(0, max_{j in A} cos(e_i, e_j)), 0 for A empty
 *   fresh_i   = exp(-age_i / 24)
 *   click: a_i(A) = sigmoid(u.e_i + b_i - D same_i(A) - D sim_i(A) + Fr fresh_i)
 *   save:  v_i(A) = sigmoid(u.s_i + cs_i - D same_i(A) - D sim_i(A))
 * with D = --diversity-effect (0.5) and Fr = --freshness-effect (0.3).
 * Context only ever lowers attraction: the clamp at 0 keeps an item unlike
 * everything above from gaining over its slot-1 value.  Save has no
 * freshness term (an item saved is kept for later, whatever its age), its
 * own latent mix and a lower bias, so it correlates with click (the logit
 * correlation is about 0.7 at the defaults) without following it.
 *
 * Examination and outcomes of a list l_1 .. l_k (k <= K), with three
 * uniforms per slot from stream MULTISLOT_STREAM_RESP + r (drawn whether
 * used or not: common random numbers across lists):
 *   a_k = a_{l_k}({l_1 .. l_{k-1}}),  v_k likewise
 *   position model: x_k = (1/k)^eta,  examined_k = [u_exam < x_k]
 *   cascade model:  x_k = prod_{j<k} (1 - a_j); the user scans down and
 *                   stops after the first click: examined_k = no click above
 *   click_k = examined_k and [u_click < a_k]
 *   save_k  = examined_k and [u_save  < v_k]   (independent of the click
 *             given the examination; a save does not stop the scan)
 * so E[click_k] = x_k a_k and E[save_k] = x_k v_k under both models (in
 * the cascade, u_click and u_save of the slots above are independent of
 * slot k's), and the expected value of the list is
 *   E[clicks] = sum_k x_k a_k,  E[saves] = sum_k x_k v_k
 * (multislot_list_value).
 *
 * Second-pass scores: the context-free slot-1 probabilities times
 * log-normal noise (median 1), capped below 1, as float32:
 *   score_click_i = min(a_i({}) exp(score_noise zc_i), 0.9999)
 *   score_save_i  = min(v_i({}) exp(score_noise zs_i), 0.9999)
 * (and at least 1e-30, a floor no default comes near, so that the
 * Plackett-Luce weights below are defined).
 *
 * Logging policies fill slots 1 .. K one at a time from the remaining
 * candidates R_k (|R_k| = N - k + 1), with one uniform per slot from
 * stream MULTISLOT_STREAM_POLICY + r, by inversion over R_k in candidate
 * order; the propensity of the chosen item is its probability here:
 *   uniform          1 / |R_k|
 *   epsilon:E        (1 - E) [i = top_k] + E / |R_k|, top_k the remaining
 *                    candidate of highest score_click (ties: first in
 *                    candidate order)
 *   plackett-luce:T  w_i / sum_{j in R_k} w_j,  w_i = score_click_i^(1/T)
 *                    (computed as exp((ln s_i - ln max_R s) / T))
 * The product of the propensities of a list is the probability of the
 * list under the policy.
 *
 * Determinism and random access: the catalogue depends only on the
 * configuration and the seed; request r only on the catalogue and
 * (seed, r), its logged list on (seed, MULTISLOT_STREAM_POLICY + r) and
 * its outcomes on (seed, MULTISLOT_STREAM_RESP + r).  So any request can be
 * regenerated alone (what --judge does), requests could be simulated in
 * any order, and every list of a request meets the same user, candidates
 * and response uniforms.  More --features adds columns without changing
 * the first ones (the loadings and each item's feature noise are drawn
 * last); other size options change the draws that follow them.
 *
 * Memory: the catalogue (items x (3 d + F) numbers) and one request's
 * arrays; nothing grows with the number of requests.
 */
#ifndef RECSTAGE_MULTISLOT_H
#define RECSTAGE_MULTISLOT_H

#include <stdint.h>

#include "cli.h"
#include "err.h"
#include "rec.h"
#include "rng.h"

enum {
    MULTISLOT_MAX_CANDIDATES = 1000,
    MULTISLOT_MAX_SLOTS = 100,
    MULTISLOT_NOBJ = 2 /* click, save */
};
enum { MULTISLOT_CLICK, MULTISLOT_SAVE };
enum { MULTISLOT_POSITION, MULTISLOT_CASCADE };
enum { MULTISLOT_LOG_UNIFORM, MULTISLOT_LOG_EPSILON, MULTISLOT_LOG_PL };

extern const char *const multislot_objective_names[MULTISLOT_NOBJ]; /* "click", "save" */

/* Stream ids: request r uses stream r, its logging policy POLICY + r, its
 * outcomes RESP + r; item i ITEM + i; the catalogue tables WORLD. */
#define MULTISLOT_STREAM_POLICY UINT64_C(0x4000000000000000)
#define MULTISLOT_STREAM_RESP UINT64_C(0x8000000000000000)
#define MULTISLOT_STREAM_ITEM UINT64_C(0xc000000000000000)
#define MULTISLOT_STREAM_WORLD UINT64_C(0xffffffffffffff10)

typedef struct multislot_cfg {
    uint64_t seed;         /* 1 */
    int candidates;        /* N: 20 */
    int slots;             /* K: 5 */
    int dim;               /* d: 8 */
    int categories;        /* C: 8 */
    int items;             /* 2000 */
    int features;          /* F: 8 */
    int click_model;       /* MULTISLOT_POSITION */
    double eta;            /* 1: position examination (1/k)^eta */
    double diversity;      /* D: 0.5 */
    double freshness;      /* Fr: 0.3 */
    double score_noise;    /* 0.3: sd of the log of the second-pass noise */
    int logging;           /* MULTISLOT_LOG_PL */
    double log_param;      /* E of epsilon:E, T of plackett-luce:T (1); unused for uniform */
    /* fixed parts of the model (no options; stated in multislot-sim(1)) */
    double category_share; /* rho: 0.5 */
    double bias_mean;      /* -1 */
    double bias_sd;        /* 0.5 */
    double save_mix;       /* 0.6 */
    double save_offset;    /* -1.5 */
    double age_mean;       /* 48 hours */
    double feature_noise;  /* 0.5 */
} multislot_cfg;

/* Fill c with the defaults above. */
void multislot_defaults(multislot_cfg *c);
/* 0, or -1 with a message naming the option (as --name) out of range or
 * the options that contradict each other (--slots above --candidates,
 * --candidates above --items). */
int multislot_check(const multislot_cfg *c, errctx *e);
/* Parse --logging: uniform, epsilon:E (E in [0, 1]) or plackett-luce:T
 * (T in [0.01, 1000]) into c->logging and c->log_param.  0, or -1 with a
 * message. */
int multislot_parse_logging(const char *spec, multislot_cfg *c, errctx *e);
/* Parse --click-model: position or cascade.  0, or -1 with a message. */
int multislot_parse_click_model(const char *spec, multislot_cfg *c, errctx *e);

/* The item catalogue.  Arrays are row-major, one row per item. */
typedef struct multislot_catalog {
    int items, dim, features;
    int *category;   /* (items) */
    double *bias;    /* (items) b_i */
    double *e;       /* (items, dim) click latent e_i */
    double *s;       /* (items, dim) save latent s_i */
    double *unit;    /* (items, dim) e_i / |e_i| */
    float *feat;     /* (items, features) f_ij, 4 decimals */
    char *names;     /* (items, MULTISLOT_NAME_LEN) "i<i>", NUL-terminated */
} multislot_catalog;
enum { MULTISLOT_NAME_LEN = 12 };

/* Build the catalogue of c (which multislot_check accepted). */
void multislot_catalog_build(multislot_catalog *cat, const multislot_cfg *c);
void multislot_catalog_free(multislot_catalog *cat);
/* Catalogue index of an item name "i<digits>" (canonical: no sign, no
 * leading zero), or -1 if it names no item. */
int multislot_item_index(const multislot_catalog *cat, const char *name, size_t len);

/* One request: its candidates and their true parameters.  The arrays are
 * sized by multislot_req_init; multislot_request fills them, and a test
 * may fill them by hand (list values and attractions read nothing else). */
typedef struct multislot_req {
    uint64_t id;
    int n, dim;
    double *user;        /* (dim) u */
    int *item;           /* (n) catalogue index, in draw order */
    int *category;       /* (n) */
    double *age;         /* (n) hours, 1 decimal */
    double *click_logit; /* (n) u.e_i + b_i + Fr exp(-age_i / 24): the slot-1 logit */
    double *save_logit;  /* (n) u.s_i + cs_i */
    double *unit;        /* (n, dim) e_i / |e_i| */
    float *score_click;  /* (n) */
    float *score_save;   /* (n) */
} multislot_req;

void multislot_req_init(multislot_req *q, int n, int dim);
void multislot_req_free(multislot_req *q);
/* Generate request r (from stream r alone) into q, initialised with
 * n = c->candidates and dim = c->dim. */
void multislot_request(const multislot_cfg *c, const multislot_catalog *cat, uint64_t r, multislot_req *q);

/* Attraction of candidate i below the candidates above[0 .. n_above):
 * att[MULTISLOT_CLICK] = a_i(A), att[MULTISLOT_SAVE] = v_i(A). */
void multislot_attraction(const multislot_cfg *c, const multislot_req *q, const int *above, int n_above, int i,
                          double *att /* MULTISLOT_NOBJ */);
/* The exact expected clicks and saves of the list list[0 .. k) (candidate
 * indices in slot order, distinct, k <= K): value[MULTISLOT_CLICK] =
 * sum_k x_k a_k, value[MULTISLOT_SAVE] = sum_k x_k v_k.  per_slot (may be
 * NULL) receives (k, MULTISLOT_NOBJ) values x_k a_k, x_k v_k. */
void multislot_list_value(const multislot_cfg *c, const multislot_req *q, const int *list, int k,
                          double *value /* MULTISLOT_NOBJ */, double *per_slot /* (k, MULTISLOT_NOBJ) */);

/* The logging policy's probabilities over the candidates not yet taken
 * (taken[i] != 0), for the next slot: probs[i] (n) is 0 for a taken one,
 * and the others sum to 1.  At least one candidate must remain. */
void multislot_policy_probs(const multislot_cfg *c, const multislot_req *q, const unsigned char *taken,
                            double *probs /* (n) */);
/* Fill K slots with the logging policy, one uniform of pol per slot:
 * list[k] the candidate at slot k + 1, prop[k] its propensity. */
void multislot_log_list(const multislot_cfg *c, const multislot_req *q, rng *pol, int *list /* K */,
                        double *prop /* K */);
/* Draw the outcomes of the list list[0 .. k) with three uniforms of resp
 * per slot (see the model above): click[k], save[k] in {0, 1}. */
void multislot_simulate(const multislot_cfg *c, const multislot_req *q, const int *list, int k, rng *resp,
                        int *click, int *save);

/* A logged request: the list of the logging policy and its outcomes,
 * from streams MULTISLOT_STREAM_POLICY + r and MULTISLOT_STREAM_RESP + r. */
typedef struct multislot_logged {
    int k;
    int list[MULTISLOT_MAX_SLOTS];
    double prop[MULTISLOT_MAX_SLOTS];
    int click[MULTISLOT_MAX_SLOTS], save[MULTISLOT_MAX_SLOTS];
} multislot_logged;

void multislot_log_request(const multislot_cfg *c, const multislot_req *q, multislot_logged *out);

/* Column names of the log: request_id item_id category age score_click
 * score_save f_0 .. f_{F-1} slot click save propensity.  A NULL-terminated
 * malloc'd array of malloc'd names (free with multislot_columns_free). */
char **multislot_columns(const multislot_cfg *c, int *ncols);
void multislot_columns_free(char **names);

/* Log requests 0 .. requests-1 to w (header included; w is not closed):
 * every candidate of each request in draw order.  prog may be NULL.  0, or
 * -1 with a message on a write error. */
int multislot_write(const multislot_cfg *c, const multislot_catalog *cat, uint64_t requests, rec_writer *w,
                    cli_progress *prog, errctx *e);

/* The judged value of a set of lists: per objective the mean over the
 * requests of the expected count and its standard error (NaN below two
 * requests). */
typedef struct multislot_value {
    uint64_t requests;
    double mean[MULTISLOT_NOBJ];
    double se[MULTISLOT_NOBJ];
} multislot_value;

/* Read lists (columns request_id, slot, item_id; others ignored; the rows
 * of a request contiguous, in any order, slots 1 .. k without gaps and
 * k <= K) from path ("-" standard input), regenerate each request (ids
 * 0 .. requests-1) and judge its list.  per_request (may be NULL) gets
 * "request_id click save" per request, header included.  0, or -1 with a
 * message naming file, line and column. */
int multislot_judge(const multislot_cfg *c, const multislot_catalog *cat, uint64_t requests, const char *path,
                    rec_writer *per_request, multislot_value *out, cli_progress *prog, errctx *e);
/* Write "objective value stderr", one row per objective (NA for a
 * standard error of fewer than two requests). */
int multislot_write_value(rec_writer *w, const multislot_value *v, errctx *e);

#endif
