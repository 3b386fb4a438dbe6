/*
 * test_nn_optim.c - optimizer steps against numbers worked out by hand,
 * gradient clipping, initialisation statistics, hashed embeddings with
 * sparse gradients and lazy updates, and the save/restore round trip of
 * parameters and optimizer state through a model file.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arena.h"
#include "model.h"
#include "nn.h"
#include "nn_embed.h"
#include "nn_optim.h"
#include "rng.h"
#include "check.h"
#include "banned.h"

/* A block with one decayed weight "w" (1 element) and one bias "b". */
static void tiny_block(nn_params *P)
{
    errctx e;
    int64_t one[1] = {1};
    nn_params_init(P);
    nn_params_add(P, "w", 1, one, NN_TENSOR_DECAY, NULL, &e);
    nn_params_add(P, "b", 1, one, 0, NULL, &e);
    nn_params_alloc(P);
    P->w[0] = 1;
    P->w[1] = 1;
}

static void test_sgd(void)
{
    nn_params P;
    nn_optim o;
    /* Momentum mu = 0.9, lr = 0.1, w = 1, g = 0.5 twice:
     *   step 1: m = 0.5,              w = 1 - 0.1 * 0.5     = 0.95
     *   step 2: m = 0.9*0.5 + 0.5 = 0.95, w = 0.95 - 0.1*0.95 = 0.855 */
    tiny_block(&P);
    nn_optim_defaults(&o, NN_OPT_SGD, 0.1);
    o.momentum = 0.9;
    nn_optim_attach(&o, &P);
    check(P.nstate == 1, "momentum keeps one state slot");
    P.g[0] = P.g[1] = 0.5f;
    nn_optim_step(&o, &P);
    check_close(P.w[0], 0.95, 1e-7, 0, "sgd momentum step 1");
    check_close(P.state[0], 0.5, 1e-7, 0, "sgd momentum buffer step 1");
    nn_optim_step(&o, &P);
    check_close(P.w[0], 0.855, 1e-7, 0, "sgd momentum step 2");
    check_close(P.state[0], 0.95, 1e-7, 0, "sgd momentum buffer step 2");
    check(o.step == 2, "step counter");
    nn_params_free(&P);

    /* Weight decay lambda = 0.1 through the gradient (weights only):
     *   weight: g' = 0.5 + 0.1 * 1 = 0.6, w = 1 - 0.1 * 0.6 = 0.94
     *   bias:   g' = 0.5,                w = 1 - 0.05      = 0.95
     * plain SGD (mu = 0) keeps no state */
    tiny_block(&P);
    nn_optim_defaults(&o, NN_OPT_SGD, 0.1);
    o.weight_decay = 0.1;
    nn_optim_attach(&o, &P);
    check(P.nstate == 0 && P.state == NULL, "plain sgd keeps no state");
    P.g[0] = P.g[1] = 0.5f;
    nn_optim_step(&o, &P);
    check_close(P.w[0], 0.94, 1e-7, 0, "sgd with decay on a weight");
    check_close(P.w[1], 0.95, 1e-7, 0, "sgd leaves biases undecayed");
    nn_params_free(&P);
}

static void test_adam(void)
{
    nn_params P;
    nn_optim o;
    /* Adam lr 0.1, b1 0.9, b2 0.999, eps 1e-8, w = 1; g = 0.5 then -1.
     * step 1: m = 0.1*0.5 = 0.05, v = 0.001*0.25 = 0.00025
     *         m^ = 0.05/0.1 = 0.5, v^ = 0.00025/0.001 = 0.25, sqrt = 0.5
     *         w = 1 - 0.1 * 0.5/(0.5 + 1e-8) = 0.900000002 (0.9 in float)
     * step 2: m = 0.9*0.05 - 0.1 = -0.055
     *         v = 0.999*0.00025 + 0.001*1 = 0.00124975
     *         m^ = -0.055/(1 - 0.81) = -0.2894736842
     *         v^ = 0.00124975/(1 - 0.998001) = 0.6251875938, sqrt = 0.7906880509
     *         w = 0.9 + 0.1 * 0.2894736842/0.7906880509 = 0.9 + 0.0366103540
     *           = 0.9366103540 */
    tiny_block(&P);
    nn_optim_defaults(&o, NN_OPT_ADAM, 0.1);
    nn_optim_attach(&o, &P);
    check(P.nstate == 2, "adam keeps two state slots");
    P.g[0] = 0.5f;
    nn_optim_step(&o, &P);
    check_close(P.w[0], 0.9, 1e-7, 0, "adam step 1");
    check_close(P.state[0], 0.05, 1e-8, 0, "adam m after step 1");
    check_close(P.state[P.n], 0.00025, 1e-10, 0, "adam v after step 1");
    P.g[0] = -1.0f;
    nn_optim_step(&o, &P);
    check_close(P.state[0], -0.055, 1e-8, 0, "adam m after step 2");
    check_close(P.state[P.n], 0.00124975, 1e-10, 0, "adam v after step 2");
    check_close(P.w[0], 0.9366103540, 1e-6, 0, "adam step 2");
    nn_params_free(&P);

    /* AdamW lambda = 0.01, lr 0.1, w = 1, g = 0.5, step 1:
     *   adam part 0.1 * 0.5/(0.5 + 1e-8) = 0.1, decay 0.1 * 0.01 * 1 = 0.001
     *   weight: w = 1 - 0.1 - 0.001 = 0.899;  bias (no decay): 0.9
     * Adam with L2 lambda = 0.01 instead: g' = 0.51, m^ = 0.51, sqrt(v^) =
     *   0.51, so the step is again 0.1: w = 0.9 (L2 is normalised away on
     *   the first step, decoupled decay is not) */
    tiny_block(&P);
    nn_optim_defaults(&o, NN_OPT_ADAMW, 0.1);
    o.weight_decay = 0.01;
    nn_optim_attach(&o, &P);
    P.g[0] = P.g[1] = 0.5f;
    nn_optim_step(&o, &P);
    check_close(P.w[0], 0.899, 1e-7, 0, "adamw decays the weight");
    check_close(P.w[1], 0.9, 1e-7, 0, "adamw leaves the bias");
    nn_params_free(&P);
    tiny_block(&P);
    nn_optim_defaults(&o, NN_OPT_ADAM, 0.1);
    o.weight_decay = 0.01;
    nn_optim_attach(&o, &P);
    P.g[0] = 0.5f;
    nn_optim_step(&o, &P);
    check_close(P.w[0], 0.9, 1e-7, 0, "adam with L2: first step normalised");
    check_close(P.state[0], 0.051, 1e-8, 0, "adam with L2: m holds g + lambda w");
    nn_params_free(&P);

    nn_optim_kind k;
    errctx e;
    check(nn_optim_parse("adamw", &k, &e) == 0 && k == NN_OPT_ADAMW, "parse adamw");
    check(nn_optim_parse("rmsprop", &k, &e) < 0 && strstr(e.msg, "'rmsprop'"), "reject rmsprop");
}

static void test_clip_and_init(void)
{
    nn_params P;
    tiny_block(&P);
    /* g = (3, 4): norm 5; clip to 1 gives (0.6, 0.8) */
    P.g[0] = 3;
    P.g[1] = 4;
    check_close(nn_clip_grad_norm(&P, 10), 5, 1e-12, 0, "norm reported");
    check(P.g[0] == 3 && P.g[1] == 4, "under the limit: unchanged");
    check_close(nn_clip_grad_norm(&P, 0), 5, 1e-12, 0, "limit 0 disables clipping");
    check(P.g[0] == 3, "limit 0: unchanged");
    check_close(nn_clip_grad_norm(&P, 1), 5, 1e-12, 0, "norm before clipping");
    check_close(P.g[0], 0.6, 1e-7, 0, "clipped g0");
    check_close(P.g[1], 0.8, 1e-7, 0, "clipped g1");
    check_close(sqrt(nn_grad_norm2(&P)), 1, 1e-7, 0, "clipped norm");
    check_close(nn_clip_factor(25, 1), 0.2, 1e-15, 0, "clip factor");
    nn_params_free(&P);

    /* He: variance 2/fan_in; Xavier: uniform on +-sqrt(6/(in+out)), variance
     * 2/(in+out).  20000 draws: standard error of a variance ~1% */
    enum { N = 20000 };
    float *w = malloc(N * sizeof(float));
    rng r;
    rng_init(&r, 9, 0);
    nn_init_he(w, N, 50, &r);
    double s2 = 0, mx = 0;
    for (int i = 0; i < N; i++)
        s2 += (double)w[i] * w[i];
    check_close(s2 / N, 2.0 / 50, 0, 0.05, "he variance");
    nn_init_xavier(w, N, 30, 70, &r);
    s2 = 0;
    for (int i = 0; i < N; i++) {
        s2 += (double)w[i] * w[i];
        mx = fmax(mx, fabs(w[i]));
    }
    check_close(s2 / N, 2.0 / 100, 0, 0.05, "xavier variance");
    check(mx <= sqrt(6.0 / 100) && mx > 0.95 * sqrt(6.0 / 100), "xavier range: max %g", mx);
    free(w);
}

static void test_embed(void)
{
    errctx e;
    nn_params P;
    nn_params_init(&P);
    int64_t s1[1] = {2};
    check(nn_params_add(&P, "dense", 1, s1, 0, NULL, &e) == 0, "dense tensor");
    nn_embed E;
    check(nn_embed_init(&E, &P, "member_emb", 64, 3, 77, &e) == 0, "embedding: %s", e.msg);
    nn_params_alloc(&P);
    check(P.n_dense == 2 && P.n == 2 + 64 * 3, "embedding is a sparse tensor after the dense");
    rng r;
    rng_init(&r, 10, 0);
    float *table = P.w + E.offset;
    nn_embed_init_weights(&E, table, 0.1, &r);

    /* hashing: deterministic, in range, spread out */
    int used[64] = {0}, distinct = 0, in_range = 1;
    for (int i = 0; i < 1000; i++) {
        char id[32];
        int len = snprintf(id, sizeof id, "member-%d", i);
        int32_t b = nn_embed_bucket(&E, id, (size_t)len);
        in_range &= b >= 0 && b < 64;
        if (in_range && !used[b]++)
            distinct++;
    }
    check(in_range, "buckets in range");
    check(distinct >= 60, "1000 ids spread over %d of 64 buckets", distinct);
    check(nn_embed_bucket(&E, "abc", 3) == nn_embed_bucket(&E, "abc", 3), "bucket deterministic");
    nn_embed E2 = E;
    E2.seed = 78;
    int same = 0;
    for (int i = 0; i < 100; i++) {
        char id[16];
        int len = snprintf(id, sizeof id, "%d", i);
        same += nn_embed_bucket(&E, id, (size_t)len) == nn_embed_bucket(&E2, id, (size_t)len);
    }
    check(same < 10, "the seed changes the hashing (%d of 100 equal)", same);

    /* lookup into a wider row (ld 5) */
    int32_t rows[3] = {3, 5, 3};
    float out[15] = {0};
    nn_embed_lookup(&E, table, rows, 3, out, 5);
    check(memcmp(out, table + 9, 3 * sizeof(float)) == 0 &&
              memcmp(out + 5, table + 15, 3 * sizeof(float)) == 0 && out[3] == 0,
          "lookup with a leading dimension");

    /* sparse gradient: rows 3, 5, 3 -> row 3 gets d0 + d2, row 5 gets d1 */
    nn_embed_grad G;
    nn_embed_grad_init(&G, &E, 4);
    float d[9] = {1, 2, 3, 10, 20, 30, 0.5f, 0.25f, -1};
    check(nn_embed_backward(&G, rows, 3, d, 3, &e) == 0, "backward");
    check(G.n == 2 && G.rows[0] == 3 && G.rows[1] == 5, "touched rows in first-touch order");
    const float *g3 = nn_embed_grad_row(&G, 3), *g5 = nn_embed_grad_row(&G, 5);
    check(g3 && g3[0] == 1.5f && g3[1] == 2.25f && g3[2] == 2, "row 3 accumulates two lookups");
    check(g5 && g5[2] == 30, "row 5 gradient");
    check(nn_embed_grad_row(&G, 7) == NULL, "untouched row has no gradient");
    check_close(nn_embed_grad_norm2(&G), 1.5 * 1.5 + 2.25 * 2.25 + 4 + 100 + 400 + 900, 1e-9, 0,
                "sparse gradient norm");

    /* capacity is a hard limit, reported */
    nn_embed_grad small;
    nn_embed_grad_init(&small, &E, 2);
    int32_t three[3] = {1, 2, 4};
    check(nn_embed_backward(&small, three, 3, d, 3, &e) < 0 && strstr(e.msg, "more than 2"),
          "overflow reported: %s", e.msg);
    /* merge in order: [3, 5] + [5, 9] -> [3, 5, 9] */
    nn_embed_grad H, M;
    nn_embed_grad_init(&H, &E, 4);
    nn_embed_grad_init(&M, &E, 8);
    int32_t r2[2] = {5, 9};
    nn_embed_backward(&H, r2, 2, d, 3, &e);
    check(nn_embed_grad_merge(&M, &G, &e) == 0 && nn_embed_grad_merge(&M, &H, &e) == 0, "merge");
    check(M.n == 3 && M.rows[2] == 9 && nn_embed_grad_row(&M, 5)[0] == 11, "merged rows and sums");
    nn_embed_grad_clear(&M);
    check(M.n == 0 && nn_embed_grad_row(&M, 3) == NULL, "clear forgets rows");

    /* lazy Adam: step 1 touches rows 3 and 5; step 2 touches row 5 only */
    nn_optim o;
    nn_optim_defaults(&o, NN_OPT_ADAM, 0.1);
    nn_optim_attach(&o, &P);
    float *before = malloc(64 * 3 * sizeof(float));
    memcpy(before, table, 64 * 3 * sizeof(float));
    P.g[0] = P.g[1] = 1;
    nn_optim_step(&o, &P);
    nn_embed_step(&E, &o, &P, &G);
    int untouched_same = 1;
    for (int row = 0; row < 64; row++)
        if (row != 3 && row != 5)
            untouched_same &= memcmp(table + row * 3, before + row * 3, 3 * sizeof(float)) == 0;
    check(untouched_same, "rows without gradient are untouched");
    /* first Adam step moves each touched coordinate by lr * sign(g) */
    check_close(table[9] - before[9], -0.1, 1e-6, 0, "row 3 moved by lr");
    check_close(table[17] - before[17], -0.1, 1e-6, 0, "row 5 moved by lr");
    float *m_tab = P.state + E.offset, *v_tab = P.state + P.n + E.offset;
    check(m_tab[0] == 0 && v_tab[0] == 0 && m_tab[9] != 0, "moments only on touched rows");

    float row3[3], m3[3], v3[3];
    memcpy(row3, table + 9, sizeof row3);
    memcpy(m3, m_tab + 9, sizeof m3);
    memcpy(v3, v_tab + 9, sizeof v3);
    double w5 = table[15], m5 = m_tab[15], v5 = v_tab[15];
    nn_embed_grad_clear(&G);
    int32_t only5[1] = {5};
    float d5[3] = {-2, 0, 0};
    nn_embed_backward(&G, only5, 1, d5, 3, &e);
    nn_optim_step(&o, &P);
    nn_embed_step(&E, &o, &P, &G);
    check(memcmp(row3, table + 9, sizeof row3) == 0 && memcmp(m3, m_tab + 9, sizeof m3) == 0 &&
              memcmp(v3, v_tab + 9, sizeof v3) == 0,
          "lazy: a row skipped at step 2 keeps its weights and moments");
    /* row 5, coordinate 0 at t = 2: m = 0.9 m + 0.1 (-2), v = 0.999 v + 0.001 * 4 */
    double m = 0.9 * m5 - 0.2, v = 0.999 * v5 + 0.004;
    double want = w5 - 0.1 * (m / (1 - 0.81)) / (sqrt(v / (1 - 0.998001)) + 1e-8);
    check_close(table[15], want, 1e-6, 0, "lazy: row 5 uses the global step t = 2");

    free(before);
    nn_embed_grad_free(&G);
    nn_embed_grad_free(&small);
    nn_embed_grad_free(&H);
    nn_embed_grad_free(&M);
    nn_params_free(&P);
}

/* A small model: an MLP and an embedding, Adam state after two steps. */
static void build(nn_params *P, nn_mlp *net, nn_embed *E, int hidden)
{
    errctx e;
    nn_params_init(P);
    char spec[16];
    snprintf(spec, sizeof spec, "%d", hidden);
    nn_mlp_init(net, P, "f", 3, spec, 2, NN_TANH, &e);
    nn_embed_init(E, P, "emb", 16, 2, 5, &e);
    nn_params_alloc(P);
}

static void fake_grads(nn_params *P, nn_embed_grad *G, rng *r)
{
    errctx e;
    for (size_t i = 0; i < P->n_dense; i++)
        P->g[i] = (float)(rng_uniform(r) - 0.5);
    int32_t rows[2] = {(int32_t)rng_below(r, 16), 11};
    float d[4] = {(float)rng_uniform(r), -1, 0.5f, 2};
    nn_embed_grad_clear(G);
    nn_embed_backward(G, rows, 2, d, 2, &e);
}

static void test_save_restore(void)
{
    errctx e;
    nn_params P, Q;
    nn_mlp net, net2;
    nn_embed E, E2;
    nn_optim o, o2;
    rng r, r1, r2;
    rng_init(&r, 12, 0);
    build(&P, &net, &E, 4);
    nn_mlp_init_weights(&net, P.w + net.offset, &r);
    nn_embed_init_weights(&E, P.w + E.offset, 0.1, &r);
    nn_optim_defaults(&o, NN_OPT_ADAMW, 0.01);
    o.weight_decay = 0.1;
    nn_optim_attach(&o, &P);
    nn_embed_grad G;
    nn_embed_grad_init(&G, &E, 4);
    for (int it = 0; it < 2; it++) {
        fake_grads(&P, &G, &r);
        nn_optim_step(&o, &P);
        nn_embed_step(&E, &o, &P, &G);
    }
    model *m = model_new("nntest", 1);
    check(nn_params_save(&P, m, &e) == 0 && nn_optim_save(&o, &P, m, &e) == 0, "save: %s", e.msg);
    char path[] = "/tmp/test_nn_optim_XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    int wrote = model_write(m, path, "test_nn_optim", &e) == 0;
    check(wrote, "model_write: %s", e.msg);
    model_free(m);
    model *in = wrote ? model_read(path, "nntest", 1, &e) : NULL;
    check(in != NULL, "model_read: %s", e.msg);
    unlink(path);
    if (!in) {
        nn_embed_grad_free(&G);
        nn_params_free(&P);
        return;
    }

    build(&Q, &net2, &E2, 4);
    nn_optim_defaults(&o2, NN_OPT_ADAMW, 0.01);
    o2.weight_decay = 0.1;
    nn_optim_attach(&o2, &Q);
    check(nn_params_load(&Q, in, &e) == 0, "load params: %s", e.msg);
    check(nn_optim_load(&o2, &Q, in, &e) == 0, "load optimizer: %s", e.msg);
    check(o2.step == 2, "step restored: %lld", o2.step);
    check(memcmp(P.w, Q.w, P.n * sizeof(float)) == 0, "parameters round trip");
    check(memcmp(P.state, Q.state, 2 * P.n * sizeof(float)) == 0, "optimizer state round trip");

    /* resuming: the same next step from both gives the same bits */
    rng_init(&r1, 99, 0);
    r2 = r1;
    fake_grads(&P, &G, &r1);
    nn_optim_step(&o, &P);
    nn_embed_step(&E, &o, &P, &G);
    fake_grads(&Q, &G, &r2);
    nn_optim_step(&o2, &Q);
    nn_embed_step(&E2, &o2, &Q, &G);
    check(memcmp(P.w, Q.w, P.n * sizeof(float)) == 0 &&
              memcmp(P.state, Q.state, 2 * P.n * sizeof(float)) == 0,
          "a resumed run continues bit for bit");

    /* refusals */
    nn_optim sgd;
    nn_optim_defaults(&sgd, NN_OPT_SGD, 0.1);
    sgd.momentum = 0.9;
    nn_params S;
    nn_mlp net3;
    nn_embed E3;
    build(&S, &net3, &E3, 4);
    nn_optim_attach(&sgd, &S);
    check(nn_optim_load(&sgd, &S, in, &e) < 0 && strstr(e.msg, "'adamw'"),
          "state of another optimizer refused: %s", e.msg);
    nn_params_free(&S);
    build(&S, &net3, &E3, 5);
    check(nn_params_load(&S, in, &e) < 0 && strstr(e.msg, "f.0.w"),
          "another architecture refused: %s", e.msg);
    nn_params_free(&S);

    model_free(in);
    nn_embed_grad_free(&G);
    nn_params_free(&P);
    nn_params_free(&Q);
}

int main(void)
{
    test_sgd();
    test_adam();
    test_clip_and_init();
    test_embed();
    test_save_restore();
    return check_done("test_nn_optim");
}
