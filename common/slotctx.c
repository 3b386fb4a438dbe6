/*
 * slotctx.c - a request's candidates and the item and context features of
 * slotctx.h.
 */
#include "slotctx.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "rng.h"
#include "banned.h"

void slot_req_init(slot_req *q, int F, int S, int O)
{
    memset(q, 0, sizeof *q);
    q->F = F;
    q->S = S;
    q->O = O;
}

void slot_req_free(slot_req *q)
{
    free(q->key);
    free(q->item_off);
    free(q->cat);
    free(q->age);
    free(q->score);
    free(q->feat);
    free(q->unit);
    free(q->line);
    free(q->slot);
    free(q->label);
    free(q->prop);
    free(q->list);
    free(q->text);
    free(q->cat_hash);
    memset(q, 0, sizeof *q);
}

void slot_req_clear(slot_req *q)
{
    q->n = 0;
    q->ncat = 0;
    q->k = 0;
    q->tlen = 0;
}

static size_t text_put(slot_req *q, const char *s, size_t len)
{
    if (q->tlen + len + 1 > q->tcap) {
        size_t cap = q->tcap ? q->tcap : 1024;
        while (q->tlen + len + 1 > cap)
            cap *= 2;
        q->text = xrealloc(q->text, cap);
        q->tcap = cap;
    }
    size_t at = q->tlen;
    memcpy(q->text + at, s, len);
    q->text[at + len] = '\0';
    q->tlen += len + 1;
    return at;
}

int slot_req_add(slot_req *q, const char *item, size_t item_len, const char *cat, size_t cat_len, double age,
                 const float *score, const float *feat, uint64_t line)
{
    if (q->n == q->cap) {
        int cap = q->cap ? q->cap * 2 : 64;
        size_t c = (size_t)cap;
        q->item_off = xrealloc(q->item_off, c * sizeof *q->item_off);
        q->cat = xrealloc(q->cat, c * sizeof *q->cat);
        q->age = xrealloc(q->age, c * sizeof *q->age);
        q->score = xrealloc(q->score, c * (size_t)(q->S ? q->S : 1) * sizeof *q->score);
        q->feat = xrealloc(q->feat, c * (size_t)(q->F ? q->F : 1) * sizeof *q->feat);
        q->unit = xrealloc(q->unit, c * (size_t)(q->F ? q->F : 1) * sizeof *q->unit);
        q->line = xrealloc(q->line, c * sizeof *q->line);
        q->slot = xrealloc(q->slot, c * sizeof *q->slot);
        q->label = xrealloc(q->label, c * (size_t)(q->O ? q->O : 1) * sizeof *q->label);
        q->list = xrealloc(q->list, c * sizeof *q->list);
        q->prop = xrealloc(q->prop, c * sizeof *q->prop);
        q->cat_hash = xrealloc(q->cat_hash, c * sizeof *q->cat_hash);
        q->cap = cap;
    }
    int i = q->n++;
    q->item_off[i] = text_put(q, item, item_len);
    uint64_t h = hash64(cat, cat_len, 0x636174);
    int c = 0;
    while (c < q->ncat && q->cat_hash[c] != h)
        c++;
    if (c == q->ncat)
        q->cat_hash[q->ncat++] = h;
    q->cat[i] = c;
    q->age[i] = age;
    memcpy(q->score + (size_t)i * q->S, score, (size_t)q->S * sizeof *score);
    memcpy(q->feat + (size_t)i * q->F, feat, (size_t)q->F * sizeof *feat);
    double nrm = 0;
    for (int j = 0; j < q->F; j++)
        nrm += (double)feat[j] * feat[j];
    nrm = sqrt(nrm);
    for (int j = 0; j < q->F; j++)
        q->unit[(size_t)i * q->F + j] = nrm > 0 ? (float)(feat[j] / nrm) : 0.0f;
    q->line[i] = line;
    q->slot[i] = 0;
    q->prop[i] = 0;
    return i;
}

const char *slot_req_item(const slot_req *q, int i)
{
    return q->text + q->item_off[i];
}

int slotctx_item_dim(int F, int S)
{
    return F + 2 * S + 1;
}

int slotctx_ctx_dim(int S)
{
    return 2 * S + 3;
}

static float logit_clamped(float s)
{
    double p = s < 1e-6f ? 1e-6 : s > 1 - 1e-6 ? 1 - 1e-6 : (double)s;
    return (float)log(p / (1 - p));
}

void slotctx_item_features(const slot_req *q, int i, float *out)
{
    int F = q->F, S = q->S;
    memcpy(out, q->feat + (size_t)i * F, (size_t)F * sizeof *out);
    const float *s = q->score + (size_t)i * S;
    for (int m = 0; m < S; m++) {
        out[F + m] = s[m];
        out[F + S + m] = logit_clamped(s[m]);
    }
    out[F + 2 * S] = (float)log1p(q->age[i]);
}

void slotctx_init(slot_ctx *c)
{
    memset(c, 0, sizeof *c);
}

void slotctx_free(slot_ctx *c)
{
    free(c->cat_count);
    free(c->score_sum);
    free(c->score_max);
    free(c->maxcos);
    memset(c, 0, sizeof *c);
}

void slotctx_reset(slot_ctx *c, const slot_req *q)
{
    if (q->n > c->cap_n) {
        c->cap_n = q->n;
        c->maxcos = xrealloc(c->maxcos, (size_t)c->cap_n * sizeof *c->maxcos);
    }
    if (q->ncat > c->cap_cat) {
        c->cap_cat = q->ncat;
        c->cat_count = xrealloc(c->cat_count, (size_t)c->cap_cat * sizeof *c->cat_count);
    }
    if (q->S > c->cap_s) {
        c->cap_s = q->S;
        c->score_sum = xrealloc(c->score_sum, (size_t)c->cap_s * sizeof *c->score_sum);
        c->score_max = xrealloc(c->score_max, (size_t)c->cap_s * sizeof *c->score_max);
    }
    c->n_above = 0;
    c->logage_sum = 0;
    for (int j = 0; j < q->ncat; j++)
        c->cat_count[j] = 0;
    for (int m = 0; m < q->S; m++) {
        c->score_sum[m] = 0;
        c->score_max[m] = 0;
    }
    for (int i = 0; i < q->n; i++)
        c->maxcos[i] = -INFINITY;
}

void slotctx_features(const slot_ctx *c, const slot_req *q, int i, float *out)
{
    int S = q->S;
    out[0] = (float)c->cat_count[q->cat[i]];
    for (int m = 0; m < S; m++) {
        out[1 + m] = c->n_above ? (float)(c->score_sum[m] / c->n_above) : 0.0f;
        out[1 + S + m] = c->n_above ? c->score_max[m] : 0.0f;
    }
    out[1 + 2 * S] = c->n_above ? c->maxcos[i] : 0.0f;
    out[2 + 2 * S] = c->n_above ? (float)(log1p(q->age[i]) - c->logage_sum / c->n_above) : 0.0f;
}

void slotctx_add(slot_ctx *c, const slot_req *q, int i)
{
    int F = q->F, S = q->S;
    c->cat_count[q->cat[i]]++;
    const float *s = q->score + (size_t)i * S;
    for (int m = 0; m < S; m++) {
        c->score_sum[m] += s[m];
        if (c->n_above == 0 || s[m] > c->score_max[m])
            c->score_max[m] = s[m];
    }
    c->logage_sum += log1p(q->age[i]);
    const float *ui = q->unit + (size_t)i * F;
    for (int j = 0; j < q->n; j++) {
        const float *uj = q->unit + (size_t)j * F;
        double d = 0;
        for (int f = 0; f < F; f++)
            d += (double)ui[f] * uj[f];
        if ((float)d > c->maxcos[j])
            c->maxcos[j] = (float)d;
    }
    c->n_above++;
}

double slotctx_similarity(const slot_ctx *c, int i)
{
    return c->n_above && c->maxcos[i] > 0 ? c->maxcos[i] : 0.0;
}
