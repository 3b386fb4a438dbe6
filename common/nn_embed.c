/*
 * nn_embed.c - hashed embedding lookup, sparse gradients, lazy updates.
 * Design in nn_embed.h.
 */
#include <stdlib.h>
#include <string.h>

#include "nn_embed.h"
#include "banned.h"

int nn_embed_init(nn_embed *E, nn_params *P, const char *name, int buckets, int dim,
                  uint64_t seed, errctx *e)
{
    memset(E, 0, sizeof *E);
    if (buckets < 1 || dim < 1)
        return err_set(e, "embedding '%s': buckets and dim must be positive (got %d, %d)", name,
                       buckets, dim);
    int64_t shape[2] = {buckets, dim};
    if (nn_params_add(P, name, 2, shape, NN_TENSOR_SPARSE, &E->offset, e) < 0)
        return -1;
    E->buckets = buckets;
    E->dim = dim;
    E->seed = seed;
    E->tensor = P->ntensors - 1;
    return 0;
}

void nn_embed_init_weights(const nn_embed *E, float *table, double sd, rng *r)
{
    size_t n = (size_t)E->buckets * E->dim;
    for (size_t i = 0; i < n; i++)
        table[i] = (float)(sd * rng_normal(r));
}

int32_t nn_embed_bucket(const nn_embed *E, const void *id, size_t len)
{
    uint64_t h = hash64(id, len, E->seed);
    return (int32_t)(((unsigned __int128)h * (uint64_t)E->buckets) >> 64);
}

void nn_embed_lookup(const nn_embed *E, const float *table, const int32_t *rows, int n, float *out,
                     int ld)
{
    for (int i = 0; i < n; i++)
        memcpy(out + (size_t)i * ld, table + (size_t)rows[i] * E->dim,
               (size_t)E->dim * sizeof(float));
}

void nn_embed_grad_init(nn_embed_grad *G, const nn_embed *E, int cap)
{
    memset(G, 0, sizeof *G);
    if (cap < 1)
        cap = 1;
    size_t isize = 1;
    while (isize < 2 * (size_t)cap)
        isize <<= 1;
    size_t bytes = (size_t)cap * sizeof(int32_t) + (size_t)cap * E->dim * sizeof(float) +
                   isize * sizeof(int32_t);
    unsigned char *p = arena_heap_alloc(bytes);
    G->block = p;
    G->dim = E->dim;
    G->cap = cap;
    G->g = (float *)p;
    p += (size_t)cap * E->dim * sizeof(float);
    G->rows = (int32_t *)p;
    p += (size_t)cap * sizeof(int32_t);
    G->index = (int32_t *)p;
    G->index_mask = isize - 1;
    memset(G->index, 0xff, isize * sizeof(int32_t));
    G->n = 0;
}

void nn_embed_grad_free(nn_embed_grad *G)
{
    free(G->block);
    memset(G, 0, sizeof *G);
}

void nn_embed_grad_clear(nn_embed_grad *G)
{
    memset(G->index, 0xff, (G->index_mask + 1) * sizeof(int32_t));
    G->n = 0;
}

static size_t probe_start(const nn_embed_grad *G, int32_t row)
{
    return (size_t)mix64((uint64_t)(uint32_t)row) & G->index_mask;
}

/* Position of row in G->rows, or -1. */
static int find_pos(const nn_embed_grad *G, int32_t row)
{
    for (size_t h = probe_start(G, row);; h = (h + 1) & G->index_mask) {
        int32_t pos = G->index[h];
        if (pos < 0)
            return -1;
        if (G->rows[pos] == row)
            return pos;
    }
}

/* Position of row, adding a zero gradient row when new; -1 when full. */
static int find_or_add(nn_embed_grad *G, int32_t row)
{
    size_t h = probe_start(G, row);
    for (;; h = (h + 1) & G->index_mask) {
        int32_t pos = G->index[h];
        if (pos < 0)
            break;
        if (G->rows[pos] == row)
            return pos;
    }
    if (G->n >= G->cap)
        return -1;
    int pos = G->n++;
    G->index[h] = pos;
    G->rows[pos] = row;
    memset(G->g + (size_t)pos * G->dim, 0, (size_t)G->dim * sizeof(float));
    return pos;
}

static void add_row(nn_embed_grad *G, int pos, const float *d)
{
    float *g = G->g + (size_t)pos * G->dim;
    for (int j = 0; j < G->dim; j++)
        g[j] += d[j];
}

int nn_embed_backward(nn_embed_grad *G, const int32_t *rows, int n, const float *dout, int ld,
                      errctx *e)
{
    for (int i = 0; i < n; i++) {
        int pos = find_or_add(G, rows[i]);
        if (pos < 0)
            return err_set(e, "embedding gradient: more than %d distinct rows in one batch",
                           G->cap);
        add_row(G, pos, dout + (size_t)i * ld);
    }
    return 0;
}

int nn_embed_grad_merge(nn_embed_grad *dst, const nn_embed_grad *src, errctx *e)
{
    for (int k = 0; k < src->n; k++) {
        int pos = find_or_add(dst, src->rows[k]);
        if (pos < 0)
            return err_set(e, "embedding gradient: more than %d distinct rows in one batch",
                           dst->cap);
        add_row(dst, pos, src->g + (size_t)k * src->dim);
    }
    return 0;
}

const float *nn_embed_grad_row(const nn_embed_grad *G, int32_t row)
{
    int pos = find_pos(G, row);
    return pos < 0 ? NULL : G->g + (size_t)pos * G->dim;
}

double nn_embed_grad_norm2(const nn_embed_grad *G)
{
    double s = 0;
    size_t n = (size_t)G->n * G->dim;
    for (size_t i = 0; i < n; i++)
        s += (double)G->g[i] * G->g[i];
    return s;
}

void nn_embed_grad_scale(nn_embed_grad *G, float s)
{
    size_t n = (size_t)G->n * G->dim;
    for (size_t i = 0; i < n; i++)
        G->g[i] *= s;
}

void nn_embed_step(const nn_embed *E, const nn_optim *o, nn_params *P, const nn_embed_grad *G)
{
    nn_optim_update_rows(o, P, E->tensor, G->rows, G->n, G->g);
}
