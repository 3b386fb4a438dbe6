/*
 * persona.c - personalization models: data, the support/query split,
 * model files, scoring.  Training and evaluation are in persona_train.c.
 * See persona.h for the design.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "persona.h"
#include "cli.h"
#include "rng.h"
#include "banned.h"

/* Hash seeds of the wide-deep member tables: part of the model format. */
#define SEED_ID 0x6d656d6265722d69ULL
#define SEED_WB 0x776964652d62ULL
#define SEED_WW 0x776964652d77ULL

int persona_mode_parse(const char *s, persona_mode *out, errctx *e)
{
    static const char *names[] = {"maml", "finetune", "global", "wide-deep"};
    for (int i = 0; i < 4; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = (persona_mode)i;
            return 0;
        }
    return err_set(e, "unknown mode '%s' (maml, finetune, global, wide-deep)", s);
}

const char *persona_mode_name(persona_mode m)
{
    static const char *names[] = {"maml", "finetune", "global", "wide-deep"};
    return names[m];
}

const char *persona_kind(persona_mode mode)
{
    return mode == PERSONA_GLOBAL ? "global" : mode == PERSONA_WIDEDEEP ? "wide-deep" : "maml";
}

/* ---- columns ---- */

int persona_bind_spec(persona_bind *b, const rec_reader *r, const persona_colspec *spec, int need_label,
                      errctx *e)
{
    memset(b, 0, sizeof *b);
    b->label = -1;
    if ((b->member = rec_col(r, spec->member, e)) < 0 || (b->time = rec_col(r, spec->time, e)) < 0)
        return -1;
    if (need_label) {
        if ((b->label = rec_col(r, spec->label, e)) < 0)
            return -1;
    } else {
        b->label = rec_find(r, spec->label);
    }
    b->m_dim = rec_select(r, spec->meta, &b->m_idx, e);
    if (b->m_dim < 0)
        return -1;
    b->x_dim = rec_select(r, spec->features, &b->x_idx, e);
    if (b->x_dim < 0) {
        persona_bind_free(b);
        return -1;
    }
    return 0;
}

int persona_bind_names(persona_bind *b, const rec_reader *r, const char *member, const char *time,
                       const char *label, char *const *m_names, int m_dim, char *const *x_names,
                       int x_dim, errctx *e)
{
    memset(b, 0, sizeof *b);
    b->label = -1;
    if ((b->member = rec_col(r, member, e)) < 0 || (b->time = rec_col(r, time, e)) < 0)
        return -1;
    b->label = label ? rec_find(r, label) : -1;
    b->m_dim = m_dim;
    b->x_dim = x_dim;
    b->m_idx = xmalloc(((size_t)m_dim + 1) * sizeof *b->m_idx);
    b->x_idx = xmalloc(((size_t)x_dim + 1) * sizeof *b->x_idx);
    for (int i = 0; i < m_dim; i++)
        if ((b->m_idx[i] = rec_col(r, m_names[i], e)) < 0)
            goto fail;
    for (int i = 0; i < x_dim; i++)
        if ((b->x_idx[i] = rec_col(r, x_names[i], e)) < 0)
            goto fail;
    return 0;
fail:
    persona_bind_free(b);
    return -1;
}

void persona_bind_free(persona_bind *b)
{
    free(b->m_idx);
    free(b->x_idx);
    b->m_idx = b->x_idx = NULL;
}

/* ---- rows ---- */

void persona_rows_free(persona_rows *rows)
{
    free(rows->m);
    free(rows->x);
    free(rows->y);
    free(rows->ts);
    free(rows->line);
    free(rows->key);
    memset(rows, 0, sizeof *rows);
}

static void rows_reserve(persona_rows *rows, int n)
{
    if (n <= rows->cap)
        return;
    int cap = rows->cap ? rows->cap : 64;
    while (cap < n)
        cap *= 2;
    rows->m = xrealloc(rows->m, (size_t)cap * (size_t)(rows->m_dim ? rows->m_dim : 1) * sizeof(float));
    rows->x = xrealloc(rows->x, (size_t)cap * (size_t)(rows->x_dim ? rows->x_dim : 1) * sizeof(float));
    rows->y = xrealloc(rows->y, (size_t)cap * sizeof(float));
    rows->ts = xrealloc(rows->ts, (size_t)cap * sizeof(double));
    rows->line = xrealloc(rows->line, (size_t)cap * sizeof(uint64_t));
    rows->cap = cap;
}

typedef struct ts_order {
    double ts;
    int index;
} ts_order;

static int cmp_ts(const void *a, const void *b)
{
    const ts_order *x = a, *y = b;
    if (x->ts != y->ts)
        return x->ts < y->ts ? -1 : 1;
    return x->index - y->index;
}

void persona_rows_sort(persona_rows *rows)
{
    int sorted = 1;
    for (int i = 1; i < rows->n && sorted; i++)
        sorted = rows->ts[i - 1] <= rows->ts[i];
    if (sorted)
        return;
    int n = rows->n, md = rows->m_dim, xd = rows->x_dim;
    ts_order *o = xmalloc((size_t)n * sizeof *o);
    for (int i = 0; i < n; i++)
        o[i] = (ts_order){rows->ts[i], i};
    qsort(o, (size_t)n, sizeof *o, cmp_ts);
    float *m = xmalloc((size_t)n * (size_t)(md ? md : 1) * sizeof(float));
    float *x = xmalloc((size_t)n * (size_t)(xd ? xd : 1) * sizeof(float));
    float *y = xmalloc((size_t)n * sizeof(float));
    double *ts = xmalloc((size_t)n * sizeof(double));
    uint64_t *line = xmalloc((size_t)n * sizeof(uint64_t));
    for (int i = 0; i < n; i++) {
        int k = o[i].index;
        memcpy(m + (size_t)i * md, rows->m + (size_t)k * md, (size_t)md * sizeof(float));
        memcpy(x + (size_t)i * xd, rows->x + (size_t)k * xd, (size_t)xd * sizeof(float));
        y[i] = rows->y[k];
        ts[i] = rows->ts[k];
        line[i] = rows->line[k];
    }
    free(o);
    free(rows->m);
    free(rows->x);
    free(rows->y);
    free(rows->ts);
    free(rows->line);
    rows->m = m;
    rows->x = x;
    rows->y = y;
    rows->ts = ts;
    rows->line = line;
    rows->cap = n;
}

/* ---- streams ---- */

static int stream_start(persona_stream *s, const char *path, errctx *e)
{
    memset(s, 0, sizeof *s);
    s->since = -INFINITY;
    s->r = rec_open(path, e);
    return s->r ? 0 : -1;
}

int persona_stream_open(persona_stream *s, const char *path, const persona_colspec *spec, int need_label,
                        errctx *e)
{
    if (stream_start(s, path, e) < 0)
        return -1;
    if (persona_bind_spec(&s->b, s->r, spec, need_label, e) < 0) {
        rec_close(s->r);
        s->r = NULL;
        return -1;
    }
    rec_group_init(&s->g, s->b.member);
    return 0;
}

int persona_stream_open_model(persona_stream *s, const char *path, const persona_model *pm, int need_label,
                              errctx *e)
{
    if (stream_start(s, path, e) < 0)
        return -1;
    if (persona_bind_names(&s->b, s->r, pm->member_col, pm->time_col, pm->label_col, pm->m_names, pm->m_dim,
                           pm->x_names, pm->x_dim, e) < 0) {
        rec_close(s->r);
        s->r = NULL;
        return -1;
    }
    if (need_label && s->b.label < 0) {
        rec_col(s->r, pm->label_col, e);
        persona_bind_free(&s->b);
        rec_close(s->r);
        s->r = NULL;
        return -1;
    }
    rec_group_init(&s->g, s->b.member);
    return 0;
}

void persona_stream_close(persona_stream *s)
{
    if (!s->r)
        return;
    rec_group_free(&s->g);
    persona_bind_free(&s->b);
    rec_close(s->r);
    s->r = NULL;
}

/* Parse the current row into out (if it is in the window). */
static int take_row(persona_stream *s, persona_rows *out, errctx *e)
{
    rec_reader *r = s->r;
    const persona_bind *b = &s->b;
    double ts;
    if (rec_f64(r, b->time, &ts, e) < 0)
        return -1;
    if (ts < s->since)
        return 0;
    rows_reserve(out, out->n + 1);
    int i = out->n;
    for (int j = 0; j < b->m_dim; j++)
        if (rec_f32(r, b->m_idx[j], &out->m[(size_t)i * b->m_dim + j], e) < 0)
            return -1;
    for (int j = 0; j < b->x_dim; j++)
        if (rec_f32(r, b->x_idx[j], &out->x[(size_t)i * b->x_dim + j], e) < 0)
            return -1;
    out->y[i] = 0;
    if (b->label >= 0) {
        float y;
        if (rec_f32(r, b->label, &y, e) < 0)
            return -1;
        if (y != 0 && y != 1) {
            size_t len;
            const char *txt = rec_str(r, b->label, &len);
            return rec_error(r, b->label, e, "a label must be 0 or 1, not '%.*s'", (int)(len > 40 ? 40 : len),
                             txt);
        }
        out->y[i] = y;
    }
    out->ts[i] = ts;
    out->line[i] = rec_line(r);
    out->n++;
    return 0;
}

int persona_stream_next(persona_stream *s, persona_rows *out, errctx *e)
{
    if (s->done)
        return 0;
    /* a buffer much larger than the member it held last goes: buffers
     * reused member after member then follow the members' sizes, not the
     * largest member ever read */
    if (out->cap > 64 && out->cap > 4 * out->n) {
        free(out->m);
        free(out->x);
        free(out->y);
        free(out->ts);
        free(out->line);
        out->m = out->x = out->y = NULL;
        out->ts = NULL;
        out->line = NULL;
        out->cap = 0;
    }
    out->n = 0;
    out->m_dim = s->b.m_dim;
    out->x_dim = s->b.x_dim;
    if (!s->pending) {
        int got = rec_next(s->r, e);
        if (got <= 0) {
            s->done = 1;
            return got;
        }
        if (rec_group_step(&s->g, s->r, e) < 0)
            return -1;
    }
    s->pending = 0;
    size_t klen;
    const char *key = rec_group_key(&s->g, &klen);
    if (klen + 1 > out->key_cap) {
        out->key_cap = klen + 64;
        out->key = xrealloc(out->key, out->key_cap);
    }
    memcpy(out->key, key, klen + 1);
    out->key_len = klen;
    for (;;) {
        if (take_row(s, out, e) < 0)
            return -1;
        int got = rec_next(s->r, e);
        if (got < 0)
            return -1;
        if (got == 0) {
            s->done = 1;
            break;
        }
        int step = rec_group_step(&s->g, s->r, e);
        if (step < 0)
            return -1;
        if (step == 1) {
            s->pending = 1;
            break;
        }
    }
    persona_rows_sort(out);
    return 1;
}

/* ---- split ---- */

int persona_split_support(const persona_split *sp, const persona_rows *rows)
{
    int n = rows->n;
    if (sp->use_since) {
        int k = 0;
        while (k < n && rows->ts[k] < sp->query_since)
            k++;
        return k;
    }
    if (n == 0)
        return 0;
    int q = (int)ceil(sp->query_frac * n - 1e-9);
    if (q < 0)
        q = 0;
    if (q > n)
        q = n;
    return n - q;
}

/* ---- datasets ---- */

double persona_member_unit(const char *key, size_t len)
{
    return (double)(hash64(key, len, 0x76616c6964) >> 11) * 0x1.0p-53;
}

static void data_append(persona_data *d, const persona_rows *rows, int n_support)
{
    if (d->nmembers == d->mcap) {
        d->mcap = d->mcap ? 2 * d->mcap : 1024;
        d->start = xrealloc(d->start, (size_t)d->mcap * sizeof *d->start);
        d->count = xrealloc(d->count, (size_t)d->mcap * sizeof *d->count);
        d->n_support = xrealloc(d->n_support, (size_t)d->mcap * sizeof *d->n_support);
        d->keys = xrealloc(d->keys, (size_t)d->mcap * sizeof *d->keys);
    }
    size_t need = d->nrows + (size_t)rows->n;
    if (need > d->rcap) {
        size_t cap = d->rcap ? d->rcap : 4096;
        while (cap < need)
            cap *= 2;
        d->m = xrealloc(d->m, cap * (size_t)(d->m_dim ? d->m_dim : 1) * sizeof(float));
        d->x = xrealloc(d->x, cap * (size_t)(d->x_dim ? d->x_dim : 1) * sizeof(float));
        d->y = xrealloc(d->y, cap * sizeof(float));
        d->rcap = cap;
    }
    memcpy(d->m + d->nrows * d->m_dim, rows->m, (size_t)rows->n * d->m_dim * sizeof(float));
    memcpy(d->x + d->nrows * d->x_dim, rows->x, (size_t)rows->n * d->x_dim * sizeof(float));
    memcpy(d->y + d->nrows, rows->y, (size_t)rows->n * sizeof(float));
    int i = d->nmembers++;
    d->start[i] = d->nrows;
    d->count[i] = rows->n;
    d->n_support[i] = n_support;
    d->keys[i] = xstrndup(rows->key, rows->key_len);
    d->nrows += (size_t)rows->n;
    if (rows->n > d->max_rows)
        d->max_rows = rows->n;
}

int persona_data_load(persona_data *d, const char *path, const persona_colspec *spec,
                      const persona_split *sp, int part, double valid_frac, errctx *e)
{
    memset(d, 0, sizeof *d);
    persona_stream s;
    if (persona_stream_open(&s, path, spec, 1, e) < 0)
        return -1;
    d->m_dim = s.b.m_dim;
    d->x_dim = s.b.x_dim;
    d->member_col = xstrdup(rec_colname(s.r, s.b.member));
    d->time_col = xstrdup(rec_colname(s.r, s.b.time));
    d->label_col = xstrdup(rec_colname(s.r, s.b.label));
    d->m_names = xcalloc((size_t)d->m_dim + 1, sizeof *d->m_names);
    d->x_names = xcalloc((size_t)d->x_dim + 1, sizeof *d->x_names);
    for (int i = 0; i < d->m_dim; i++)
        d->m_names[i] = xstrdup(rec_colname(s.r, s.b.m_idx[i]));
    for (int i = 0; i < d->x_dim; i++)
        d->x_names[i] = xstrdup(rec_colname(s.r, s.b.x_idx[i]));
    persona_rows rows;
    memset(&rows, 0, sizeof rows);
    int got;
    cli_progress prog;
    cli_progress_start(&prog, "rows read", 0);
    while ((got = persona_stream_next(&s, &rows, e)) == 1) {
        if (part != PERSONA_ALL) {
            int held_out = persona_member_unit(rows.key, rows.key_len) < valid_frac;
            if (held_out != (part == PERSONA_VALID_PART))
                continue;
        }
        if (rows.n == 0)
            continue;
        data_append(d, &rows, persona_split_support(sp, &rows));
        cli_progress_update(&prog, (double)rec_rows(s.r));
    }
    cli_progress_end(&prog);
    persona_rows_free(&rows);
    persona_stream_close(&s);
    if (got < 0) {
        persona_data_free(d);
        return -1;
    }
    return 0;
}

void persona_data_free(persona_data *d)
{
    for (int i = 0; i < d->nmembers; i++)
        free(d->keys[i]);
    for (int i = 0; d->m_names && i < d->m_dim; i++)
        free(d->m_names[i]);
    for (int i = 0; d->x_names && i < d->x_dim; i++)
        free(d->x_names[i]);
    free(d->m_names);
    free(d->x_names);
    free(d->member_col);
    free(d->time_col);
    free(d->label_col);
    free(d->keys);
    free(d->m);
    free(d->x);
    free(d->y);
    free(d->start);
    free(d->count);
    free(d->n_support);
    memset(d, 0, sizeof *d);
}

/* ---- models ---- */

static int model_declare(persona_model *pm, errctx *e)
{
    const persona_hparams *hp = &pm->hp;
    nn_params_init(&pm->P);
    if (hp->mode == PERSONA_MAML || hp->mode == PERSONA_FINETUNE) {
        if (pm->m_dim < 1)
            return err_set(e, "mode %s needs member features (--meta-features)", persona_mode_name(hp->mode));
        maml_net_cfg cfg = {
            .m_dim = pm->m_dim,
            .x_dim = pm->x_dim,
            .e_dim = hp->e_dim,
            .out_dim = 1,
            .meta_hidden = pm->meta_hidden,
            .global_hidden = pm->global_hidden,
            .meta_act = hp->act,
            .global_act = hp->act,
            .loss = {NN_LOSS_BCE, 1.0},
        };
        if (maml_net_init(&pm->net, &pm->P, &cfg, e) < 0)
            return -1;
    } else {
        int in = pm->x_dim + pm->m_dim + (hp->mode == PERSONA_WIDEDEEP ? hp->id_dim : 0);
        if (nn_mlp_init(&pm->deep, &pm->P, "deep", in, pm->global_hidden, 1, hp->act, e) < 0)
            return -1;
        if (hp->mode == PERSONA_WIDEDEEP) {
            if (hp->id_buckets < 1 || hp->id_dim < 1)
                return err_set(e, "wide-deep needs id buckets and an id dimension of at least 1");
            if (nn_embed_init(&pm->id_emb, &pm->P, "member_embedding", hp->id_buckets, hp->id_dim, SEED_ID, e) < 0 ||
                nn_embed_init(&pm->wide_b, &pm->P, "wide_bias", hp->id_buckets, 1, SEED_WB, e) < 0 ||
                (pm->x_dim > 0 &&
                 nn_embed_init(&pm->wide_w, &pm->P, "wide_weights", hp->id_buckets, pm->x_dim, SEED_WW, e) < 0))
                return -1;
        }
    }
    nn_params_alloc(&pm->P);
    return 0;
}

static char **copy_names(const char *const *names, int n)
{
    char **out = xcalloc((size_t)n + 1, sizeof *out);
    for (int i = 0; i < n; i++)
        out[i] = xstrdup(names[i]);
    return out;
}

int persona_model_init(persona_model *pm, const persona_hparams *hp, const char *member_col,
                       const char *time_col, const char *label_col, const char *const *m_names,
                       int m_dim, const char *const *x_names, int x_dim, errctx *e)
{
    memset(pm, 0, sizeof *pm);
    pm->hp = *hp;
    snprintf(pm->meta_hidden, sizeof pm->meta_hidden, "%s", hp->meta_hidden ? hp->meta_hidden : "");
    snprintf(pm->global_hidden, sizeof pm->global_hidden, "%s", hp->global_hidden ? hp->global_hidden : "");
    pm->hp.meta_hidden = pm->meta_hidden;
    pm->hp.global_hidden = pm->global_hidden;
    pm->member_col = xstrdup(member_col);
    pm->time_col = xstrdup(time_col);
    pm->label_col = xstrdup(label_col);
    pm->m_dim = m_dim;
    pm->x_dim = x_dim;
    pm->m_names = copy_names(m_names, m_dim);
    pm->x_names = copy_names(x_names, x_dim);
    if (model_declare(pm, e) < 0) {
        persona_model_free(pm);
        return -1;
    }
    return 0;
}

int persona_model_init_data(persona_model *pm, const persona_hparams *hp, const persona_data *d, errctx *e)
{
    return persona_model_init(pm, hp, d->member_col, d->time_col, d->label_col, (const char *const *)d->m_names,
                              d->m_dim, (const char *const *)d->x_names, d->x_dim, e);
}

static char *join_names(char *const *names, int n)
{
    size_t len = 1;
    for (int i = 0; i < n; i++)
        len += strlen(names[i]) + 1;
    char *out = xmalloc(len), *p = out;
    for (int i = 0; i < n; i++) {
        size_t k = strlen(names[i]);
        memcpy(p, names[i], k);
        p += k;
        *p++ = i + 1 < n ? ',' : '\0';
    }
    if (n == 0)
        *p = '\0';
    return out;
}

void persona_colspec_exact(persona_colspec *spec, const persona_data *d)
{
    spec->member = xstrdup(d->member_col);
    spec->time = xstrdup(d->time_col);
    spec->label = xstrdup(d->label_col);
    spec->meta = join_names(d->m_names, d->m_dim);
    spec->features = join_names(d->x_names, d->x_dim);
}

void persona_colspec_free(persona_colspec *spec)
{
    free((char *)spec->member);
    free((char *)spec->time);
    free((char *)spec->label);
    free((char *)spec->meta);
    free((char *)spec->features);
}

void persona_model_init_weights(persona_model *pm, uint64_t seed)
{
    rng r;
    rng_init(&r, seed, 0);
    if (pm->hp.mode == PERSONA_MAML || pm->hp.mode == PERSONA_FINETUNE) {
        nn_mlp_init_weights(&pm->net.meta, maml_phi(&pm->net, &pm->P), &r);
        nn_mlp_init_weights(&pm->net.global, maml_theta(&pm->net, &pm->P), &r);
        return;
    }
    nn_mlp_init_weights(&pm->deep, pm->P.w + pm->deep.offset, &r);
    if (pm->hp.mode == PERSONA_WIDEDEEP) {
        nn_embed_init_weights(&pm->id_emb, pm->P.w + pm->id_emb.offset, 0.01, &r);
        /* the wide part starts at zero: a member's own terms are learned */
    }
}

void persona_model_free(persona_model *pm)
{
    nn_params_free(&pm->P);
    for (int i = 0; pm->m_names && i < pm->m_dim; i++)
        free(pm->m_names[i]);
    for (int i = 0; pm->x_names && i < pm->x_dim; i++)
        free(pm->x_names[i]);
    free(pm->m_names);
    free(pm->x_names);
    free(pm->member_col);
    free(pm->time_col);
    free(pm->label_col);
    model_free(pm->file);
    memset(pm, 0, sizeof *pm);
}

model *persona_model_to_file(const persona_model *pm, errctx *e)
{
    model *m = model_new(persona_kind(pm->hp.mode), 1);
    const persona_hparams *hp = &pm->hp;
    model_meta_set(m, "mode", persona_mode_name(hp->mode));
    /* every input column, then each role */
    int ncols = 3 + pm->m_dim + pm->x_dim;
    const char **all = xmalloc((size_t)ncols * sizeof *all);
    all[0] = pm->member_col;
    all[1] = pm->time_col;
    all[2] = pm->label_col;
    for (int i = 0; i < pm->m_dim; i++)
        all[3 + i] = pm->m_names[i];
    for (int i = 0; i < pm->x_dim; i++)
        all[3 + pm->m_dim + i] = pm->x_names[i];
    model_meta_set_columns(m, "columns", ncols, all);
    free(all);
    model_meta_set(m, "member_column", pm->member_col);
    model_meta_set(m, "time_column", pm->time_col);
    model_meta_set(m, "label_column", pm->label_col);
    model_meta_set_columns(m, "meta_features", pm->m_dim, (const char *const *)pm->m_names);
    model_meta_set_columns(m, "features", pm->x_dim, (const char *const *)pm->x_names);
    model_meta_set(m, "activation", nn_act_name(hp->act));
    model_meta_set(m, "global_hidden", pm->global_hidden);
    if (hp->mode == PERSONA_MAML || hp->mode == PERSONA_FINETUNE) {
        model_meta_set_int(m, "embed_dim", hp->e_dim);
        model_meta_set(m, "meta_hidden", pm->meta_hidden);
        model_meta_set_int(m, "inner_steps", hp->inner.steps);
        model_meta_set_double(m, "inner_lr", hp->inner.alpha);
        model_meta_set_int(m, "order", hp->inner.order);
    }
    if (hp->mode == PERSONA_WIDEDEEP) {
        model_meta_set_int(m, "id_buckets", hp->id_buckets);
        model_meta_set_int(m, "id_dim", hp->id_dim);
    }
    if (nn_params_save(&pm->P, m, e) < 0) {
        model_free(m);
        return NULL;
    }
    return m;
}

/* An integer metadata value within the range maml-train accepts, so a
 * corrupted model cannot ask for absurd allocations or work. */
static int meta_int_range(const model *m, const char *key, long long lo, long long hi, long long *v, errctx *e)
{
    if (model_meta_int(m, key, v, e) < 0)
        return -1;
    if (*v < lo || *v > hi)
        return err_set(e, "metadata '%s': %lld is outside %lld .. %lld", key, *v, lo, hi);
    return 0;
}

int persona_model_load(persona_model *pm, const char *path, errctx *e)
{
    memset(pm, 0, sizeof *pm);
    model *m = model_read(path, NULL, 1, e);
    if (!m)
        return -1;
    const char *kind = model_kind(m);
    persona_hparams hp;
    memset(&hp, 0, sizeof hp);
    const char *mode = model_meta_get(m, "mode");
    char **mn = NULL, **xn = NULL;
    int m_dim = 0, x_dim = 0;
    long long v;
    if (strcmp(kind, "maml") && strcmp(kind, "global") && strcmp(kind, "wide-deep")) {
        err_set(e, "%s: model is a 'recstage.%s', expected a personalization model (maml, global or wide-deep)",
                path, kind);
        goto fail;
    }
    if (!mode || persona_mode_parse(mode, &hp.mode, e) < 0 || strcmp(persona_kind(hp.mode), kind)) {
        err_set(e, "%s: model metadata has no valid 'mode' for its kind", path);
        goto fail;
    }
    const char *act = model_meta_get(m, "activation");
    const char *member = model_meta_get(m, "member_column"), *time = model_meta_get(m, "time_column"),
               *label = model_meta_get(m, "label_column");
    if (!act || nn_act_parse(act, &hp.act, e) < 0 || !member || !time || !label) {
        err_set(e, "%s: model metadata lacks its activation or column roles", path);
        goto fail;
    }
    mn = model_meta_columns(m, "meta_features", &m_dim, e);
    xn = mn ? model_meta_columns(m, "features", &x_dim, e) : NULL;
    if (!mn || !xn) {
        err_prefix(e, "%s", path);
        goto fail;
    }
    hp.global_hidden = model_meta_get(m, "global_hidden");
    if (!hp.global_hidden) {
        err_set(e, "%s: model metadata lacks 'global_hidden'", path);
        goto fail;
    }
    if (hp.mode == PERSONA_MAML || hp.mode == PERSONA_FINETUNE) {
        hp.meta_hidden = model_meta_get(m, "meta_hidden");
        if (!hp.meta_hidden || meta_int_range(m, "embed_dim", 1, 4096, &v, e) < 0)
            goto meta_fail;
        hp.e_dim = (int)v;
        if (meta_int_range(m, "inner_steps", 0, 100, &v, e) < 0)
            goto meta_fail;
        hp.inner.steps = (int)v;
        if (meta_int_range(m, "order", 1, 2, &v, e) < 0)
            goto meta_fail;
        hp.inner.order = (int)v;
        if (model_meta_double(m, "inner_lr", &hp.inner.alpha, e) < 0)
            goto meta_fail;
        if (!(hp.inner.alpha >= 0 && hp.inner.alpha <= 1e3)) {
            err_set(e, "metadata 'inner_lr': %g is outside 0 .. 1000", hp.inner.alpha);
            goto meta_fail;
        }
    }
    if (hp.mode == PERSONA_WIDEDEEP) {
        if (meta_int_range(m, "id_buckets", 1, 1 << 26, &v, e) < 0)
            goto meta_fail;
        hp.id_buckets = (int)v;
        if (meta_int_range(m, "id_dim", 1, 1024, &v, e) < 0)
            goto meta_fail;
        hp.id_dim = (int)v;
    }
    if (persona_model_init(pm, &hp, member, time, label, (const char *const *)mn, m_dim, (const char *const *)xn,
                           x_dim, e) < 0 ||
        nn_params_load(&pm->P, m, e) < 0) {
        err_prefix(e, "%s", path);
        goto fail;
    }
    for (int i = 0; i < m_dim; i++)
        free(mn[i]);
    for (int i = 0; i < x_dim; i++)
        free(xn[i]);
    free(mn);
    free(xn);
    pm->file = m;
    return 0;
meta_fail:
    err_prefix(e, "%s", path);
fail:
    for (int i = 0; mn && i < m_dim; i++)
        free(mn[i]);
    for (int i = 0; xn && i < x_dim; i++)
        free(xn[i]);
    free(mn);
    free(xn);
    persona_model_free(pm);
    model_free(m);
    return -1;
}

/* ---- scoring ---- */

static int is_maml(const persona_model *pm)
{
    return pm->hp.mode == PERSONA_MAML || pm->hp.mode == PERSONA_FINETUNE;
}

static int deep_in(const persona_model *pm)
{
    return pm->x_dim + pm->m_dim + (pm->hp.mode == PERSONA_WIDEDEEP ? pm->hp.id_dim : 0);
}

size_t persona_score_bytes(const persona_model *pm, int n)
{
    size_t f = sizeof(float), rows = (size_t)(n > 0 ? n : 1);
    if (is_maml(pm)) {
        const maml_net *N = &pm->net;
        return maml_eval_bytes(N, n) + maml_adapt_bytes(N, n) +
               arena_round(rows * (size_t)(N->x_dim + N->e_dim) * f) + arena_round(rows * (size_t)N->e_dim * f) +
               arena_round((size_t)N->nphi * f) + 4096;
    }
    return nn_mlp_cache_bytes(&pm->deep, n, 0) + nn_mlp_backward_bytes(&pm->deep, n, 0) +
           2 * arena_round(rows * (size_t)deep_in(pm) * f) + arena_round(rows * sizeof(int32_t)) +
           arena_round(rows * (size_t)(pm->x_dim + 1) * f) + 4096;
}

/* Build the deep input [x, m, u] of the baselines and the member rows of
 * the hashed tables; returns the input (n, deep_in). */
static float *baseline_input(const persona_model *pm, int n, const float *m, const float *x,
                             const char *const *keys, const size_t *lens, int32_t *buckets, arena *A)
{
    int in = deep_in(pm), xd = pm->x_dim, md = pm->m_dim;
    float *X = arena_floats(A, (size_t)n * (size_t)in);
    for (int i = 0; i < n; i++) {
        memcpy(X + (size_t)i * in, x + (size_t)i * xd, (size_t)xd * sizeof(float));
        memcpy(X + (size_t)i * in + xd, m + (size_t)i * md, (size_t)md * sizeof(float));
    }
    if (pm->hp.mode == PERSONA_WIDEDEEP) {
        for (int i = 0; i < n; i++)
            buckets[i] = nn_embed_bucket(&pm->id_emb, keys[i], lens[i]);
        nn_embed_lookup(&pm->id_emb, pm->P.w + pm->id_emb.offset, buckets, n, X + xd + md, in);
    }
    return X;
}

/* The wide part of wide-deep: b_u + w_u . x, added to logits. */
static void wide_add(const persona_model *pm, int n, const float *x, const int32_t *buckets, float *logits)
{
    const float *wb = pm->P.w + pm->wide_b.offset;
    const float *ww = pm->x_dim ? pm->P.w + pm->wide_w.offset : NULL;
    int xd = pm->x_dim;
    for (int i = 0; i < n; i++) {
        double z = wb[buckets[i]];
        for (int j = 0; j < xd; j++)
            z += (double)ww[(size_t)buckets[i] * xd + j] * x[(size_t)i * xd + j];
        logits[i] += (float)z;
    }
}

void persona_logits(const persona_model *pm, int n, const float *m, const float *x,
                    const float *const *emb, const char *const *keys, const size_t *lens,
                    float *logits, arena *A)
{
    if (n <= 0)
        return;
    size_t mark = arena_mark(A);
    if (is_maml(pm)) {
        const maml_net *N = &pm->net;
        const float *phi = maml_phi(N, &pm->P), *theta = maml_theta(N, &pm->P);
        float *E = arena_floats(A, (size_t)n * N->e_dim);
        int need = 0;
        for (int i = 0; i < n && !need; i++)
            need = !emb || !emb[i];
        if (need)
            maml_embed(N, phi, m, n, E, A);
        for (int i = 0; emb && i < n; i++)
            if (emb[i])
                memcpy(E + (size_t)i * N->e_dim, emb[i], (size_t)N->e_dim * sizeof(float));
        float *XE = arena_floats(A, (size_t)n * (size_t)(N->x_dim + N->e_dim));
        nn_concat_rows(XE, x, N->x_dim, E, N->e_dim, n);
        nn_mlp_cache c;
        const float *out = nn_mlp_forward(&N->global, theta, XE, n, &c, A);
        memcpy(logits, out, (size_t)n * sizeof(float));
    } else {
        int32_t *buckets = arena_alloc(A, (size_t)n * sizeof(int32_t));
        float *X = baseline_input(pm, n, m, x, keys, lens, buckets, A);
        nn_mlp_cache c;
        const float *out = nn_mlp_forward(&pm->deep, pm->P.w + pm->deep.offset, X, n, &c, A);
        memcpy(logits, out, (size_t)n * sizeof(float));
        if (pm->hp.mode == PERSONA_WIDEDEEP)
            wide_add(pm, n, x, buckets, logits);
    }
    arena_release(A, mark);
}

int persona_member_embedding(const persona_model *pm, const float *m, const float *x, const float *y,
                             int n_support, float *e, arena *A)
{
    if (!is_maml(pm) || n_support <= 0)
        return 1;
    const maml_net *N = &pm->net;
    size_t mark = arena_mark(A);
    float *phi_k = arena_floats(A, N->nphi);
    maml_adapt(N, &pm->hp.inner, maml_phi(N, &pm->P), maml_theta(N, &pm->P), m, x, y, n_support, phi_k, A);
    maml_embed(N, phi_k, m + (size_t)(n_support - 1) * N->m_dim, 1, e, A);
    arena_release(A, mark);
    return 0;
}
