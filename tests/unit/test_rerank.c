/*
 * test_rerank.c - the slot-aware model and the Sequential Greedy
 * Algorithm (slotctx.h, rerank.h): context features by hand and against a
 * from-scratch recomputation at every slot; fitting and re-ranking compute
 * the same rows for the same list; central finite differences of the
 * fitting loss; K N - K (K - 1) / 2 model rows per request; without
 * context and with one objective SGA is the sort by the model's
 * probability; SGA equals the exhaustive search where greedy is provably
 * optimal, and is never above it elsewhere; ties go to the input order;
 * the model file round trip.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arena.h"
#include "cli.h"
#include "model.h"
#include "nn.h"
#include "rerank.h"
#include "rng.h"
#include "slotctx.h"
#include "check.h"
#include "banned.h"

/* A request of n candidates with F features and S scores, random. */
static void random_req(slot_req *q, int n, int F, int S, int ncat, rng *r)
{
    slot_req_init(q, F, S, 0);
    q->key = xmalloc(8);
    memcpy(q->key, "r0", 3);
    q->key_len = 2;
    q->key_cap = 8;
    float feat[16], score[4];
    for (int i = 0; i < n; i++) {
        char item[16], cat[8];
        snprintf(item, sizeof item, "i%d", i);
        snprintf(cat, sizeof cat, "c%d", (int)rng_below(r, (uint64_t)ncat));
        for (int j = 0; j < F; j++)
            feat[j] = (float)rng_normal(r);
        for (int j = 0; j < S; j++)
            score[j] = (float)(0.05 + 0.9 * rng_uniform(r));
        slot_req_add(q, item, strlen(item), cat, strlen(cat), 100 * rng_uniform(r), score, feat, (uint64_t)i + 2);
    }
}

/* ---- context features ---- */

/* The context features of i below above[0..na), from scratch. */
static void ctx_scratch(const slot_req *q, const int *above, int na, int i, double *out)
{
    int S = q->S, F = q->F;
    int same = 0;
    double maxcos = -INFINITY, la = 0;
    for (int j = 0; j < 1 + 2 * S + 2; j++)
        out[j] = 0;
    for (int a = 0; a < na; a++) {
        int j = above[a];
        same += q->cat[j] == q->cat[i];
        double d = 0, ni = 0, nj = 0;
        for (int f = 0; f < F; f++) {
            d += (double)q->feat[(size_t)i * F + f] * q->feat[(size_t)j * F + f];
            ni += (double)q->feat[(size_t)i * F + f] * q->feat[(size_t)i * F + f];
            nj += (double)q->feat[(size_t)j * F + f] * q->feat[(size_t)j * F + f];
        }
        double c = ni > 0 && nj > 0 ? d / sqrt(ni * nj) : 0;
        maxcos = c > maxcos ? c : maxcos;
        la += log1p(q->age[j]);
        for (int m = 0; m < S; m++) {
            double s = q->score[(size_t)j * S + m];
            out[1 + m] += s / na;
            if (a == 0 || s > out[1 + S + m])
                out[1 + S + m] = s;
        }
    }
    out[0] = same;
    out[1 + 2 * S] = na ? maxcos : 0;
    out[2 + 2 * S] = na ? log1p(q->age[i]) - la / na : 0;
}

static void test_ctx(void)
{
    /* by hand: three candidates, F = 2, S = 1 */
    slot_req q;
    slot_req_init(&q, 2, 1, 0);
    float f0[2] = {1, 0}, f1[2] = {1, 1}, f2[2] = {0, 2};
    float s0[1] = {0.5f}, s1[1] = {0.25f}, s2[1] = {0.75f};
    slot_req_add(&q, "a", 1, "x", 1, 0, s0, f0, 2);
    slot_req_add(&q, "b", 1, "y", 1, exp(1) - 1, s1, f1, 3);
    slot_req_add(&q, "c", 1, "x", 1, exp(2) - 1, s2, f2, 4);
    check(q.ncat == 2 && q.cat[0] == q.cat[2] && q.cat[0] != q.cat[1], "categories by text");
    check(strcmp(slot_req_item(&q, 1), "b") == 0, "item ids kept");
    slot_ctx c;
    slotctx_init(&c);
    slotctx_reset(&c, &q);
    float out[5], item[5];
    slotctx_features(&c, &q, 2, out);
    check(out[0] == 0 && out[1] == 0 && out[2] == 0 && out[3] == 0 && out[4] == 0, "nothing above: zeros");
    slotctx_item_features(&q, 1, item);
    check(item[0] == 1 && item[1] == 1 && item[2] == 0.25f, "item features: f, then the score");
    check_close(item[3], log(0.25 / 0.75), 1e-6, 0, "item features: the score's logit");
    check_close(item[4], 1.0, 1e-6, 0, "item features: log1p(age)");
    slotctx_add(&c, &q, 0); /* a above */
    slotctx_add(&c, &q, 1); /* b above */
    slotctx_features(&c, &q, 2, out);
    /* c below a, b: one of its category; scores mean 0.375, max 0.5;
     * cos(c, a) = 0, cos(c, b) = 1/sqrt(2); log1p ages 0, 1 -> 2 - 0.5 */
    check(out[0] == 1, "same category above: %g", out[0]);
    check_close(out[1], 0.375, 1e-7, 0, "mean score above");
    check_close(out[2], 0.5, 1e-7, 0, "max score above");
    check_close(out[3], 1 / sqrt(2), 1e-6, 0, "max cosine above");
    check_close(out[4], 1.5, 1e-6, 0, "relative age");
    check_close(slotctx_similarity(&c, 2), 1 / sqrt(2), 1e-6, 0, "similarity");
    slotctx_free(&c);
    slot_req_free(&q);

    /* incremental = from scratch, at every slot of random lists */
    rng r;
    rng_init(&r, 3, 0);
    int bad = 0, total = 0;
    for (int t = 0; t < 50; t++) {
        slot_req qq;
        random_req(&qq, 12, 5, 2, 3, &r);
        slotctx_init(&c);
        slotctx_reset(&c, &qq);
        int order[12];
        for (int i = 0; i < 12; i++)
            order[i] = i;
        rng_shuffle(&r, order, 12, sizeof *order);
        for (int k = 0; k < 6; k++) {
            for (int i = 0; i < 12; i++) {
                float got[7];
                double want[7];
                slotctx_features(&c, &qq, i, got);
                ctx_scratch(&qq, order, k, i, want);
                for (int j = 0; j < 7; j++, total++)
                    bad += fabs(got[j] - want[j]) > 1e-5 * (1 + fabs(want[j]));
            }
            slotctx_add(&c, &qq, order[k]);
        }
        slotctx_free(&c);
        slot_req_free(&qq);
    }
    check(bad == 0, "incremental context = from scratch: %d of %d values differ", bad, total);
}

/* ---- a model with random weights ---- */

static void make_model(rerank_model *m, int F, int S, int O, int K, int ctx, uint64_t seed, int zero_pos)
{
    errctx e;
    const char *feat[8] = {"f_0", "f_1", "f_2", "f_3", "f_4", "f_5", "f_6", "f_7"};
    const char *score[4] = {"score_click", "score_save", "score_x", "score_y"};
    const char *obj[4] = {"click", "save", "x", "y"};
    check(rerank_model_init(m, F, feat, S, score, O, obj, K, ctx, "8,4", NN_TANH, &e) == 0, "model init");
    rng r;
    rng_init(&r, seed, 0);
    nn_mlp_init_weights(&m->net, m->P.w + m->net.offset, &r);
    for (size_t k = 0; k < (size_t)K * O; k++)
        m->P.w[m->pos + k] = zero_pos ? 0 : (float)(-0.3 * (double)(k / O) + 0.1 * rng_normal(&r));
    for (int j = 0; j < m->D; j++) {
        m->mean[j] = (float)(0.1 * rng_normal(&r));
        m->std[j] = (float)(0.5 + rng_uniform(&r));
    }
}

/* ---- finite differences of the fitting loss ---- */

static void test_fd(void)
{
    nn_set_naive(1);
    rerank_model m;
    make_model(&m, 3, 2, 2, 3, 1, 5, 0);
    int n = 24;
    rng r;
    rng_init(&r, 9, 0);
    float *X = xmalloc((size_t)n * m.D * sizeof *X), *Y = xmalloc((size_t)n * 2 * sizeof *Y);
    int *sl = xmalloc((size_t)n * sizeof *sl);
    for (int i = 0; i < n * m.D; i++)
        X[i] = (float)rng_normal(&r);
    for (int i = 0; i < n; i++) {
        sl[i] = 1 + (int)rng_below(&r, 3);
        Y[2 * i] = (float)(rng_uniform(&r) < 0.4);
        Y[2 * i + 1] = (float)(rng_uniform(&r) < 0.2);
    }
    arena A;
    arena_init(&A, rerank_loss_bytes(&m, n));
    float *g = xcalloc(m.P.n_dense, sizeof *g);
    rerank_batch_loss(&m, m.P.w, X, sl, Y, n, 1.0 / n, g, &A);
    int bad = 0;
    double worst = 0;
    for (size_t k = 0; k < m.P.n_dense; k++) {
        float w0 = m.P.w[k];
        double h = 1e-2;
        m.P.w[k] = (float)(w0 + h);
        double lp = rerank_batch_loss(&m, m.P.w, X, sl, Y, n, 1.0 / n, NULL, &A);
        m.P.w[k] = (float)(w0 - h);
        double lm = rerank_batch_loss(&m, m.P.w, X, sl, Y, n, 1.0 / n, NULL, &A);
        m.P.w[k] = w0;
        double hp = (double)(float)(w0 + h) - (double)(float)(w0 - h);
        double fd = (lp - lm) / hp, err = fabs(fd - g[k]) / (1e-3 + fabs(fd));
        worst = err > worst ? err : worst;
        bad += err > 2e-3;
    }
    check(bad == 0, "fitting loss: central differences match the gradient on all %zu weights (worst rel. err %.2g)",
          m.P.n_dense, worst);
    nn_set_naive(0);
    free(X);
    free(Y);
    free(sl);
    free(g);
    arena_free(&A);
    rerank_model_free(&m);
}

/* ---- SGA ---- */

static rerank_cfg cfg_of(const rerank_model *m, int K)
{
    rerank_cfg rc;
    memset(&rc, 0, sizeof rc);
    rc.method = RERANK_SGA;
    rc.K = K;
    for (int o = 0; o < m->O; o++)
        rc.w[o] = 1;
    rc.max_lists = 10000000;
    return rc;
}

static void test_sga(void)
{
    rng r;
    rng_init(&r, 17, 0);
    arena A;
    slot_ctx c;
    slotctx_init(&c);

    /* model rows: K N - K (K - 1) / 2 */
    rerank_model m;
    make_model(&m, 4, 2, 2, 5, 1, 1, 0);
    arena_init(&A, rerank_logits_bytes(&m));
    slot_req q;
    random_req(&q, 20, 4, 2, 4, &r);
    rerank_cfg rc = cfg_of(&m, 5);
    int list[8], list2[8];
    float p[16], p2[16];
    double v, v2;
    uint64_t evals = 0;
    rerank_sga(&m, &rc, &q, &c, &A, list, p, &v, &evals);
    check(evals == 5 * 20 - 5 * 4 / 2, "model rows per request: %llu, want K N - K (K - 1) / 2 = 90",
          (unsigned long long)evals);
    /* the list's value recomputed along the list (the fitting path) */
    /* (a product of one row runs another BLAS kernel: equal to rounding) */
    v2 = rerank_list_value(&m, &rc, &q, &c, &A, list, 5, p2);
    check(fabs(v - v2) <= 1e-6 * (1 + fabs(v)), "SGA's value = the list's, recomputed slot by slot");
    /* fitting and re-ranking see the same rows for the same list: the
     * fitting walk (only the listed item's row at each slot) against the
     * SGA walk (every remaining candidate's row, then the chosen one) */
    {
        slot_ctx c1, c2;
        slotctx_init(&c1);
        slotctx_init(&c2);
        slotctx_reset(&c1, &q);
        slotctx_reset(&c2, &q);
        float *x1 = xmalloc((size_t)m.D * sizeof *x1), *x2 = xmalloc((size_t)q.n * m.D * sizeof *x2);
        int same = 1;
        unsigned char used[32] = {0};
        for (int k = 0; k < 5; k++) {
            rerank_row_raw(1, &c1, &q, list[k], x1);
            for (int i = 0; i < q.n; i++)
                if (!used[i])
                    rerank_row(&m, &c2, &q, i, x2 + (size_t)i * m.D);
            same &= memcmp(x1, x2 + (size_t)list[k] * m.D, (size_t)m.D * sizeof *x1) == 0;
            used[list[k]] = 1;
            slotctx_add(&c1, &q, list[k]);
            slotctx_add(&c2, &q, list[k]);
        }
        check(same, "fitting and re-ranking compute identical rows (bit for bit) for the same list");
        free(x1);
        free(x2);
        slotctx_free(&c1);
        slotctx_free(&c2);
    }
    int distinct = 1;
    for (int a = 0; a < 5; a++)
        for (int b = 0; b < a; b++)
            distinct &= list[a] != list[b];
    check(distinct, "SGA fills K distinct candidates");
    slot_req_free(&q);
    rerank_model_free(&m);
    arena_free(&A);

    /* without context, one objective: SGA is the sort by p (ties: input order) */
    int agree = 0;
    for (int t = 0; t < 30; t++) {
        make_model(&m, 4, 1, 1, 4, 0, 100 + (uint64_t)t, 0);
        arena_init(&A, rerank_logits_bytes(&m));
        random_req(&q, 15, 4, 1, 3, &r);
        if (t == 0) /* a tie: candidate 7 is a copy of candidate 3 */
            slot_req_add(&q, "copy", 4, "c0", 2, q.age[3], q.score + 3, q.feat + 3 * 4, 99);
        rc = cfg_of(&m, 4);
        evals = 0;
        rerank_sga(&m, &rc, &q, &c, &A, list, p, &v, &evals);
        float *X = xmalloc((size_t)q.n * m.D * sizeof *X), *lg = xmalloc((size_t)q.n * sizeof *lg);
        slotctx_reset(&c, &q);
        for (int i = 0; i < q.n; i++)
            rerank_row(&m, &c, &q, i, X + (size_t)i * m.D);
        rerank_logits(&m, m.P.w, X, q.n, NULL, 1, lg, &A);
        int order[32];
        for (int i = 0; i < q.n; i++)
            order[i] = i;
        for (int a = 1; a < q.n; a++) /* stable insertion sort, descending */
            for (int b = a; b > 0 && lg[order[b]] > lg[order[b - 1]]; b--) {
                int tmp = order[b];
                order[b] = order[b - 1];
                order[b - 1] = tmp;
            }
        agree += memcmp(list, order, 4 * sizeof *list) == 0;
        free(X);
        free(lg);
        slot_req_free(&q);
        rerank_model_free(&m);
        arena_free(&A);
    }
    check(agree == 30, "no context, one objective: SGA = sort by the model's probability in %d of 30", agree);

    /* greedy provably optimal: no context, equal slot offsets -> the value
     * is a sum of one function of the item: SGA = exhaustive */
    int equal = 0;
    for (int t = 0; t < 20; t++) {
        make_model(&m, 3, 2, 2, 3, 0, 200 + (uint64_t)t, 1);
        arena_init(&A, rerank_logits_bytes(&m));
        random_req(&q, 7, 3, 2, 3, &r);
        rc = cfg_of(&m, 3);
        rc.w[1] = 0.5;
        rc.l_fresh = 0.2;
        rerank_sga(&m, &rc, &q, &c, &A, list, p, &v, &evals);
        check(rerank_exhaustive(&m, &rc, &q, &c, &A, list2, p2, &v2) == 0, "exhaustive ran");
        /* the order within the set does not change the value: the two may
         * pick different orders of the same set on float rounding */
        int same_set = 1;
        for (int a = 0; a < 3; a++)
            same_set &= list[a] == list2[0] || list[a] == list2[1] || list[a] == list2[2];
        equal += fabs(v - v2) <= 1e-6 * (1 + fabs(v2)) && same_set;
        slot_req_free(&q);
        rerank_model_free(&m);
        arena_free(&A);
    }
    check(equal == 20, "provably optimal cases: SGA = exhaustive (set and value) in %d of 20", equal);
    /* one slot: greedy is the search */
    make_model(&m, 3, 2, 2, 3, 1, 300, 0);
    arena_init(&A, rerank_logits_bytes(&m));
    random_req(&q, 9, 3, 2, 3, &r);
    rc = cfg_of(&m, 1);
    rerank_sga(&m, &rc, &q, &c, &A, list, p, &v, &evals);
    rerank_exhaustive(&m, &rc, &q, &c, &A, list2, p2, &v2);
    check(list[0] == list2[0] && v == v2, "one slot: SGA = exhaustive");
    slot_req_free(&q);
    rerank_model_free(&m);
    arena_free(&A);

    /* with context and diversity: exhaustive is never below SGA; count the gaps */
    int never_below = 1, gaps = 0;
    for (int t = 0; t < 30; t++) {
        make_model(&m, 3, 2, 2, 3, 1, 400 + (uint64_t)t, 0);
        arena_init(&A, rerank_logits_bytes(&m));
        random_req(&q, 7, 3, 2, 2, &r);
        rc = cfg_of(&m, 3);
        rc.l_div = 0.5;
        rerank_sga(&m, &rc, &q, &c, &A, list, p, &v, &evals);
        rerank_exhaustive(&m, &rc, &q, &c, &A, list2, p2, &v2);
        never_below &= v2 >= v - 1e-6 * (1 + fabs(v));
        gaps += v2 > v + 1e-6 * (1 + fabs(v));
        slot_req_free(&q);
        rerank_model_free(&m);
        arena_free(&A);
    }
    check(never_below, "exhaustive >= SGA");
    printf("test_rerank: SGA below the exhaustive optimum in %d of 30 random context-aware cases\n", gaps);
    /* too many lists */
    make_model(&m, 3, 2, 2, 3, 1, 500, 0);
    arena_init(&A, rerank_logits_bytes(&m));
    random_req(&q, 30, 3, 2, 2, &r);
    rc = cfg_of(&m, 3);
    rc.max_lists = 1000;
    check(rerank_exhaustive(&m, &rc, &q, &c, &A, list2, p2, &v2) < 0, "30 x 29 x 28 lists exceed --max-lists 1000");
    slot_req_free(&q);
    rerank_model_free(&m);
    arena_free(&A);
    slotctx_free(&c);
}

/* ---- the model file ---- */

static void test_file(void)
{
    rerank_model m, back;
    make_model(&m, 3, 2, 2, 4, 1, 7, 0);
    errctx e;
    char path[256];
    snprintf(path, sizeof path, "%s/recstage-rerank-%d.model", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp",
             (int)getpid());
    rerank_fit_cfg fc = {.hidden = "8,4", .act = NN_TANH, .ctx = 1, .epochs = 1, .batch = 8, .lr = 0.01, .seed = 1};
    model *f = rerank_model_to_file(&m, &fc, &e);
    check(f && model_write(f, path, "test", &e) == 0, "write");
    model_free(f);
    check(rerank_model_load(&back, path, &e) == 0, "load: %s", e.msg);
    check(back.D == m.D && back.K == 4 && back.O == 2 && back.ctx == 1 && strcmp(back.obj_names[1], "save") == 0,
          "shape and names");
    check(memcmp(back.P.w, m.P.w, m.P.n * sizeof(float)) == 0, "weights");
    check(memcmp(back.mean, m.mean, (size_t)m.D * sizeof(float)) == 0 &&
              memcmp(back.std, m.std, (size_t)m.D * sizeof(float)) == 0,
          "standardisation");
    rerank_model_free(&back);
    check(rerank_model_load(&back, "/nonexistent/x.model", &e) < 0 && strstr(e.msg, "/nonexistent/x.model"),
          "a missing file is named");
    unlink(path);
    rerank_model_free(&m);
}

int main(int argc, char **argv)
{
    (void)argc;
    cli_init(argv[0]);
    test_ctx();
    test_fd();
    test_sga();
    test_file();
    return check_done("test_rerank");
}
