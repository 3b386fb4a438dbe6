/*
 * rerank_model.c - the slot-aware model of rerank.h: its parameters, its
 * rows, its logits, its file.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn_optim.h"
#include "rerank.h"
#include "banned.h"

static char **dup_names(const char *const *names, int n)
{
    char **out = xcalloc((size_t)n + 1, sizeof *out);
    for (int j = 0; j < n; j++)
        out[j] = xstrdup(names[j]);
    return out;
}

static void free_names(char **names, int n)
{
    for (int j = 0; names && j < n; j++)
        free(names[j]);
    free(names);
}

int rerank_model_init(rerank_model *m, int F, const char *const *feat, int S, const char *const *score, int O,
                      const char *const *obj, int K, int ctx, const char *hidden, nn_act act, errctx *e)
{
    memset(m, 0, sizeof *m);
    if (O < 1 || O > RERANK_MAX_OBJ)
        return err_set(e, "%d objectives (want 1 to %d)", O, RERANK_MAX_OBJ);
    if (K < 1 || K > RERANK_MAX_SLOTS)
        return err_set(e, "%d slots (want 1 to %d)", K, RERANK_MAX_SLOTS);
    if (strlen(hidden) >= sizeof m->hidden)
        return err_set(e, "hidden layers '%.40s...': spec too long", hidden);
    snprintf(m->hidden, sizeof m->hidden, "%s", hidden);
    m->F = F;
    m->S = S;
    m->O = O;
    m->K = K;
    m->ctx = ctx;
    m->act = act;
    m->D = slotctx_item_dim(F, S) + (ctx ? slotctx_ctx_dim(S) : 0);
    nn_params_init(&m->P);
    int64_t shape[2] = {K, O};
    if (nn_mlp_init(&m->net, &m->P, "mlp", m->D, hidden, O, act, e) < 0 ||
        nn_params_add(&m->P, "pos.bias", 2, shape, 0, &m->pos, e) < 0) {
        nn_params_free(&m->P);
        return -1;
    }
    nn_params_alloc(&m->P);
    m->feat_names = dup_names(feat, F);
    m->score_names = dup_names(score, S);
    m->obj_names = dup_names(obj, O);
    m->mean = xcalloc((size_t)m->D, sizeof *m->mean);
    m->std = xmalloc((size_t)m->D * sizeof *m->std);
    for (int j = 0; j < m->D; j++)
        m->std[j] = 1;
    return 0;
}

void rerank_model_free(rerank_model *m)
{
    nn_params_free(&m->P);
    free_names(m->feat_names, m->F);
    free_names(m->score_names, m->S);
    free_names(m->obj_names, m->O);
    free(m->mean);
    free(m->std);
    model_free(m->file);
    memset(m, 0, sizeof *m);
}

void rerank_row_raw(int ctx, const slot_ctx *c, const slot_req *q, int i, float *x)
{
    slotctx_item_features(q, i, x);
    if (ctx)
        slotctx_features(c, q, i, x + slotctx_item_dim(q->F, q->S));
}

void rerank_row(const rerank_model *m, const slot_ctx *c, const slot_req *q, int i, float *x)
{
    rerank_row_raw(m->ctx, c, q, i, x);
}

size_t rerank_logits_bytes(const rerank_model *m)
{
    return nn_mlp_cache_bytes(&m->net, RERANK_CHUNK, 0) + 4096;
}

void rerank_logits(const rerank_model *m, const float *w, float *X, int n, const int *slots, int k, float *logits,
                   arena *A)
{
    int D = m->D;
    for (int r = 0; r < n; r++) {
        float *x = X + (size_t)r * D;
        for (int j = 0; j < D; j++)
            x[j] = (x[j] - m->mean[j]) / m->std[j];
    }
    rerank_logits_std(m, w, X, n, slots, k, logits, A);
}

void rerank_logits_std(const rerank_model *m, const float *w, const float *X, int n, const int *slots, int k,
                       float *logits, arena *A)
{
    int D = m->D, O = m->O;
    const float *beta = w + m->pos;
    for (int lo = 0; lo < n; lo += RERANK_CHUNK) {
        int b = n - lo < RERANK_CHUNK ? n - lo : RERANK_CHUNK;
        size_t mark = arena_mark(A);
        nn_mlp_cache cache;
        const float *y = nn_mlp_forward(&m->net, w + m->net.offset, X + (size_t)lo * D, b, &cache, A);
        for (int r = 0; r < b; r++) {
            int s = slots ? slots[lo + r] : k;
            s = s > m->K ? m->K : s;
            for (int o = 0; o < O; o++)
                logits[(size_t)(lo + r) * O + o] = y[(size_t)r * O + o] + beta[(size_t)(s - 1) * O + o];
        }
        arena_release(A, mark);
    }
}

model *rerank_model_to_file(const rerank_model *m, const rerank_fit_cfg *cfg, errctx *e)
{
    model *f = model_new("slotnet", 1);
    if (nn_params_save(&m->P, f, e) < 0) {
        model_free(f);
        return NULL;
    }
    int64_t shape[1] = {m->D};
    model_add(f, "norm.mean", 1, shape, m->mean);
    model_add(f, "norm.std", 1, shape, m->std);
    model_meta_set_columns(f, "features", m->F, (const char *const *)m->feat_names);
    model_meta_set_columns(f, "scores", m->S, (const char *const *)m->score_names);
    model_meta_set_columns(f, "objectives", m->O, (const char *const *)m->obj_names);
    model_meta_set_int(f, "slots", m->K);
    model_meta_set_int(f, "context", m->ctx);
    model_meta_set(f, "hidden", m->hidden);
    model_meta_set(f, "activation", nn_act_name(m->act));
    if (cfg) {
        model_meta_set_int(f, "epochs", cfg->epochs);
        model_meta_set_int(f, "batch", cfg->batch);
        model_meta_set_double(f, "lr", cfg->lr);
        model_meta_set_double(f, "clip", cfg->clip);
        model_meta_set_double(f, "valid_frac", cfg->valid_frac);
        model_meta_set_int(f, "seed", (long long)cfg->seed);
    }
    return f;
}

int rerank_model_load(rerank_model *m, const char *path, errctx *e)
{
    memset(m, 0, sizeof *m);
    model *f = model_read(path, "slotnet", 1, e);
    if (!f)
        return -1;
    int F = 0, S = 0, O = 0;
    long long K = 0, ctx = 0;
    nn_act act;
    char **feat = model_meta_columns(f, "features", &F, e), **score = NULL, **obj = NULL;
    if (!feat || !(score = model_meta_columns(f, "scores", &S, e)) || !(obj = model_meta_columns(f, "objectives", &O, e)) ||
        model_meta_int(f, "slots", &K, e) < 0 || model_meta_int(f, "context", &ctx, e) < 0)
        goto fail;
    const char *hidden = model_meta_get(f, "hidden"), *acts = model_meta_get(f, "activation");
    if (!hidden || !acts || nn_act_parse(acts, &act, e) < 0) {
        err_set(e, "model metadata lacks a valid 'hidden' or 'activation'");
        goto fail;
    }
    if (K < 1 || K > RERANK_MAX_SLOTS) {
        err_set(e, "metadata 'slots': %lld (want 1 to %d)", K, RERANK_MAX_SLOTS);
        goto fail;
    }
    if (rerank_model_init(m, F, (const char *const *)feat, S, (const char *const *)score, O, (const char *const *)obj,
                          (int)K, ctx != 0, hidden, act, e) < 0 ||
        nn_params_load(&m->P, f, e) < 0)
        goto fail;
    model_tensor *mean = model_need(f, "norm.mean", (size_t)m->D, e);
    model_tensor *sd = mean ? model_need(f, "norm.std", (size_t)m->D, e) : NULL;
    if (!sd)
        goto fail;
    for (int j = 0; j < m->D; j++) {
        if (!(sd->data[j] > 0) || !isfinite(mean->data[j])) {
            err_set(e, "tensor 'norm.std' or 'norm.mean': entry %d is not valid", j);
            goto fail;
        }
        m->mean[j] = mean->data[j];
        m->std[j] = sd->data[j];
    }
    free_names(feat, F);
    free_names(score, S);
    free_names(obj, O);
    m->file = f;
    return 0;
fail:
    err_prefix(e, "%s", path);
    free_names(feat, F);
    free_names(score, S);
    free_names(obj, O);
    rerank_model_free(m);
    model_free(f);
    return -1;
}
