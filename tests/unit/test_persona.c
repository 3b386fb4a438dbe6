/*
 * test_persona.c - the personalization module: the support/query split by
 * hand, the held-out hash, the ts sort, scoring against the network, and
 * the model file round trip of every kind.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "cli.h"
#include "persona.h"
#include "rng.h"
#include "banned.h"

static void test_split(void)
{
    double ts[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    persona_rows r;
    memset(&r, 0, sizeof r);
    r.ts = ts;
    persona_split q = {.query_frac = 0.2};
    int want_frac[11] = {0, 0, 1, 2, 3, 4, 4, 5, 6, 7, 8}; /* n - ceil(0.2 n) */
    for (int n = 0; n <= 10; n++) {
        r.n = n;
        check(persona_split_support(&q, &r) == want_frac[n], "n=%d: support %d, want %d", n,
              persona_split_support(&q, &r), want_frac[n]);
    }
    q.query_frac = 0;
    r.n = 10;
    check(persona_split_support(&q, &r) == 10, "query fraction 0: all support");
    q.query_frac = 1;
    check(persona_split_support(&q, &r) == 0, "query fraction 1: no support");
    persona_split since = {.use_since = 1, .query_since = 7};
    check(persona_split_support(&since, &r) == 6, "ts < 7 are support");
    since.query_since = 0;
    check(persona_split_support(&since, &r) == 0, "cut before every row");
}

static void test_member_unit(void)
{
    int held = 0, n = 20000, outside = 0;
    char key[32];
    for (int i = 0; i < n; i++) {
        int len = snprintf(key, sizeof key, "u%06d", i);
        double u = persona_member_unit(key, (size_t)len);
        outside += !(u >= 0 && u < 1);
        held += u < 0.2;
    }
    check(outside == 0, "every unit in [0, 1) (%d outside)", outside);
    check_close(held / (double)n, 0.2, 0.015, 0, "hash holds out about 20%");
    check(persona_member_unit("u1", 2) == persona_member_unit("u1", 2), "hash is a function of the key");
}

static void test_sort(void)
{
    persona_rows r;
    memset(&r, 0, sizeof r);
    r.m_dim = 1;
    r.x_dim = 1;
    r.n = r.cap = 5;
    double ts[5] = {3, 1, 2, 1, 0};
    float m[5] = {30, 10, 20, 11, 0}, x[5] = {3, 1, 2, 1, 0}, y[5] = {1, 0, 1, 1, 0};
    uint64_t line[5] = {2, 3, 4, 5, 6};
    r.ts = malloc(sizeof ts);
    r.m = malloc(sizeof m);
    r.x = malloc(sizeof x);
    r.y = malloc(sizeof y);
    r.line = malloc(sizeof line);
    memcpy(r.ts, ts, sizeof ts);
    memcpy(r.m, m, sizeof m);
    memcpy(r.x, x, sizeof x);
    memcpy(r.y, y, sizeof y);
    memcpy(r.line, line, sizeof line);
    persona_rows_sort(&r);
    check(r.ts[0] == 0 && r.ts[1] == 1 && r.ts[2] == 1 && r.ts[4] == 3, "sorted by ts");
    check(r.m[1] == 10 && r.m[2] == 11, "ties keep the input order (stable)");
    check(r.line[0] == 6 && r.y[4] == 1, "every column moves with its row");
    persona_rows_free(&r);
}

static char dir[256];

static void test_models(void)
{
    const char *mn[] = {"m_0", "m_1", "m_2"};
    const char *xn[] = {"x_0", "x_1"};
    persona_mode modes[] = {PERSONA_MAML, PERSONA_FINETUNE, PERSONA_GLOBAL, PERSONA_WIDEDEEP};
    rng r;
    rng_init(&r, 3, 0);
    int n = 5;
    float m[15], x[10], y[5];
    for (int i = 0; i < 15; i++)
        m[i] = (float)rng_normal(&r);
    for (int i = 0; i < 10; i++)
        x[i] = (float)rng_normal(&r);
    for (int i = 0; i < 5; i++)
        y[i] = (float)(i % 2);
    const char *keys[5] = {"a", "b", "a", "c", "b"};
    size_t lens[5] = {1, 1, 1, 1, 1};
    for (int k = 0; k < 4; k++) {
        persona_hparams hp = {.mode = modes[k], .e_dim = 4, .meta_hidden = "5", .global_hidden = "6",
                              .act = NN_TANH, .inner = {2, 0.3, 2}, .id_buckets = 17, .id_dim = 3};
        persona_model pm, back;
        errctx e;
        check(persona_model_init(&pm, &hp, "member_id", "ts", "label", mn, 3, xn, 2, &e) == 0, "init %s: %s",
              persona_mode_name(modes[k]), e.msg);
        persona_model_init_weights(&pm, 7);
        if (modes[k] == PERSONA_WIDEDEEP) /* give the wide part weights too */
            for (size_t i = pm.deep.count; i < pm.P.n; i++)
                pm.P.w[i] = (float)(0.01 * (double)(i % 13));
        char path[512];
        snprintf(path, sizeof path, "%s/%s.model", dir, persona_mode_name(modes[k]));
        model *f = persona_model_to_file(&pm, &e);
        check(f && model_write(f, path, "test", &e) == 0, "write %s", persona_mode_name(modes[k]));
        model_free(f);
        check(persona_model_load(&back, path, &e) == 0, "load %s: %s", persona_mode_name(modes[k]), e.msg);
        check(back.hp.mode == modes[k] && back.P.n == pm.P.n && memcmp(back.P.w, pm.P.w, pm.P.n * sizeof(float)) == 0,
              "%s: parameters round-trip", persona_mode_name(modes[k]));
        check(back.m_dim == 3 && back.x_dim == 2 && strcmp(back.x_names[1], "x_1") == 0, "columns round-trip");
        arena A;
        arena_init(&A, persona_score_bytes(&pm, n) * 2);
        float z1[5], z2[5];
        persona_logits(&pm, n, m, x, NULL, keys, lens, z1, &A);
        arena_reset(&A);
        persona_logits(&back, n, m, x, NULL, keys, lens, z2, &A);
        check(memcmp(z1, z2, sizeof z1) == 0, "%s: same logits after loading", persona_mode_name(modes[k]));
        if (modes[k] == PERSONA_MAML) {
            /* no embeddings given = maml_forward with the unadapted phi */
            float z3[5];
            arena_reset(&A);
            maml_forward(&pm.net, maml_phi(&pm.net, &pm.P), maml_theta(&pm.net, &pm.P), m, x, n, z3, &A);
            check(memcmp(z1, z3, sizeof z1) == 0, "unadapted scoring = the network's forward pass");
            /* an embedding from 3 support rows changes the scores of its rows */
            float emb[4];
            arena_reset(&A);
            check(persona_member_embedding(&pm, m, x, y, 3, emb, &A) == 0, "embedding from support rows");
            const float *embp[5] = {emb, emb, emb, emb, emb};
            float z4[5];
            arena_reset(&A);
            persona_logits(&pm, n, m, x, embp, keys, lens, z4, &A);
            check(z4[0] != z1[0], "adapted embedding changes the logit");
            arena_reset(&A);
            check(persona_member_embedding(&pm, m, x, y, 0, emb, &A) == 1, "no support: no embedding");
        }
        if (modes[k] == PERSONA_WIDEDEEP)
            check(z1[0] != z1[2] || memcmp(x, x + 4, 8) != 0, "member tables in play");
        arena_free(&A);
        persona_model_free(&pm);
        persona_model_free(&back);
    }
    errctx e;
    persona_model pm;
    check(persona_model_load(&pm, "/nonexistent.model", &e) < 0 && strstr(e.msg, "No such file"), "missing model");
}

int main(int argc, char **argv)
{
    (void)argc;
    cli_init(argv[0]);
    snprintf(dir, sizeof dir, "%s/recstage-persona.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(dir))
        return 2;
    test_split();
    test_member_unit();
    test_sort();
    test_models();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", dir);
    return check_done("test_persona");
}
