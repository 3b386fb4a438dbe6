/*
 * slotctx.h - one re-ranking request's candidates, and the features a
 * slot-aware model sees of a candidate placed below a set of items: the
 * one function shared by fitting (sga-rerank --fit, on logged lists) and
 * re-ranking (the Sequential Greedy Algorithm), so both compute the very
 * same numbers for the same list (SPEC section 9).
 *
 * Candidate i of a request has a category (text, compared by a 64-bit
 * hash: a collision would take 2^32 categories in one request), an
 * age in hours, S second-pass scores s_i1..s_iS (in (0, 1), one per
 * objective) and F item features f_i.  Its item features are
 *
 *   f_i1 .. f_iF, s_i1 .. s_iS, logit(s_i1) .. logit(s_iS), log1p(age_i)
 *
 * (logit of a score clamped to [1e-6, 1 - 1e-6]), ITEM_DIM = F + 2S + 1
 * numbers; its context features below the items above, A (in slot order),
 *
 *   same      #{j in A : category_j = category_i}
 *   mean_j    mean of s_jm over A, for each score m       (0 when A is empty)
 *   max_j     max of s_jm over A, for each score m        (0 when A is empty)
 *   maxcos    max over A of cos(f_i, f_j)                  (0 when A is empty;
 *             a zero feature vector has cosine 0 with anything)
 *   rel_age   log1p(age_i) - mean over A of log1p(age_j)  (0 when A is empty)
 *
 * CTX_DIM = 2S + 3 numbers.  The context is a state updated item by item
 * (slotctx_add): per category the count above, per score the sum and max,
 * per candidate the running max cosine, the sum of log1p(age); so the
 * features of every remaining candidate at slot k cost O(S) each and
 * adding an item O(n F).
 */
#ifndef RECSTAGE_SLOTCTX_H
#define RECSTAGE_SLOTCTX_H

#include <stddef.h>
#include <stdint.h>

typedef struct slot_req {
    int n, cap;          /* candidates */
    int F, S, O;         /* features, scores, objective labels */
    char *key;           /* request id (text) */
    size_t key_len, key_cap;
    /* per candidate */
    size_t *item_off;    /* (n) item id: text + item_off[i] (slot_req_item) */
    int *cat;            /* (n) category, as a local index 0 .. ncat-1 */
    int ncat;
    double *age;         /* (n) */
    float *score;        /* (n, S) */
    float *feat;         /* (n, F) */
    float *unit;         /* (n, F) f_i / |f_i| (0 for a zero vector) */
    uint64_t *line;      /* (n) input line of the row (for messages) */
    /* logged lists (fitting and evaluation) */
    int *slot;           /* (n) 0: not shown, else 1 .. */
    float *label;        /* (n, O) */
    double *prop;        /* (n) logged propensity of a shown candidate (when read) */
    int k;               /* shown items */
    int *list;           /* (k) candidates in slot order */
    /* text storage for item ids and categories */
    char *text;
    size_t tlen, tcap;
    uint64_t *cat_hash;  /* (ncat) */
} slot_req;

void slot_req_init(slot_req *q, int F, int S, int O);
void slot_req_free(slot_req *q);
/* Forget the candidates (keep the buffers). */
void slot_req_clear(slot_req *q);
/* Append a candidate; returns its index.  The unit vector is computed. */
int slot_req_add(slot_req *q, const char *item, size_t item_len, const char *cat, size_t cat_len, double age,
                 const float *score, const float *feat, uint64_t line);

/* Candidate i's item id, NUL-terminated (valid until the next add). */
const char *slot_req_item(const slot_req *q, int i);

int slotctx_item_dim(int F, int S);
int slotctx_ctx_dim(int S);
/* The item features of candidate i into out (slotctx_item_dim numbers). */
void slotctx_item_features(const slot_req *q, int i, float *out);

typedef struct slot_ctx {
    int n_above;
    int *cat_count;      /* (ncat) */
    double *score_sum;   /* (S) */
    float *score_max;    /* (S) */
    float *maxcos;       /* (n) running max cosine to the items above */
    double logage_sum;
    int cap_n, cap_cat, cap_s;
} slot_ctx;

void slotctx_init(slot_ctx *c);
void slotctx_free(slot_ctx *c);
/* Start a request: no item above. */
void slotctx_reset(slot_ctx *c, const slot_req *q);
/* Context features of candidate i below the items added so far
 * (slotctx_ctx_dim numbers). */
void slotctx_features(const slot_ctx *c, const slot_req *q, int i, float *out);
/* Place candidate i in the next slot. */
void slotctx_add(slot_ctx *c, const slot_req *q, int i);
/* max(0, running max cosine) of candidate i: 0 with nothing above. */
double slotctx_similarity(const slot_ctx *c, int i);

#endif
