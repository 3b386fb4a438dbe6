/*
 * test_replay.c - replay evaluation (replay.h) against the simulator's
 * exact values (multislot.h): a hand case; prefix replay of fixed lists
 * under uniform logging covers the truth at about its level over many
 * seeds; slot matching is unbiased without a context effect and biased
 * with one; inverse propensity weighting under Plackett-Luce logging is
 * unbiased; the self-normalised estimate under uniform logging is the
 * mean over matched requests; Pareto marking with ties and duplicates.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "multislot.h"
#include "rec.h"
#include "replay.h"
#include "check.h"
#include "tfiles.h"
#include "banned.h"




static replay_cfg cfg(int match, int self_norm)
{
    static const char *const obj[2] = {"click", "save"};
    replay_cfg c;
    memset(&c, 0, sizeof c);
    rerank_cols_defaults(&c.cols);
    c.match = match;
    c.self_norm = self_norm;
    c.bootstrap = 0;
    c.seed = 1;
    c.level = 0.95;
    c.obj = obj;
    c.O = 2;
    c.propensity = "propensity";
    c.pi = "pi";
    return c;
}

/* ---- by hand ---- */

static void test_hand(void)
{
    /* two requests of 3 candidates, 2 slots logged uniformly (1/3, 1/2) */
    write_text(tpath("log.tsv"), "request_id\titem_id\tcategory\tage\tf_0\tslot\tclick\tsave\tpropensity\n"
                                 "r1\ta\t1\t10\t1\t1\t1\t0\t0.3333333333333333\n"
                                 "r1\tb\t2\t20\t1\t2\t1\t1\t0.5\n"
                                 "r1\tc\t1\t30\t-1\t0\t0\t0\t0\n"
                                 "r2\ta\t1\t10\t1\t2\t0\t0\t0.5\n"
                                 "r2\tb\t2\t20\t1\t1\t1\t0\t0.3333333333333333\n"
                                 "r2\tc\t1\t30\t-1\t0\t0\t0\t0\n");
    /* the new lists: a, b for both */
    write_text(tpath("new.tsv"), "request_id\tslot\titem_id\nr1\t1\ta\nr1\t2\tb\nr2\t1\ta\nr2\t2\tc\n");
    replay_cfg c = cfg(REPLAY_PREFIX, 0);
    replay_row *rows;
    int n;
    errctx e;
    check(replay_run(tpath("log.tsv"), tpath("new.tsv"), &c, &rows, &n, &e) == 0, "hand: %s", e.msg);
    /* r1 matches both slots: click 1 * 3 + 1 * 6 = 9, save 1 * 6;
     * r2 matches nothing: click = 9 / 2 = 4.5, save 3; stderr of clicks
     * (9, 0): sd 6.364, se 4.5 */
    check(n == 5, "two objectives and three descriptive rows");
    check_close(rows[0].value, 4.5, 1e-9, 0, "prefix click");
    check_close(rows[1].value, 3.0, 1e-9, 0, "prefix save");
    check_close(rows[0].se, 4.5, 1e-9, 0, "prefix click se");
    check(rows[0].matched == 1 && rows[0].requests == 2, "matched 1 of 2");
    /* r1: 2 categories; r2 (a, c): 1 category -> 1.5; similarity: r1
     * cos(a, b) = 1, r2 cos(a, c) = -1 -> 0; ages (15 + 20) / 2 */
    check(strcmp(rows[2].name, "distinct_categories") == 0 && rows[2].value == 1.5, "distinct categories");
    check_close(rows[3].value, 0.0, 1e-9, 0, "intra-list similarity");
    check_close(rows[4].value, 17.5, 1e-9, 0, "mean age");
    free(rows);
    /* slot matching: weight n = 3 for a matched slot (an item is at a slot
     * with probability 1/3): r1 slots 1 and 2 (click 3 + 3, save 3); r2
     * slot 1: b vs a no, slot 2: a vs c no -> click 6 / 2, save 1.5 */
    c = cfg(REPLAY_SLOT, 0);
    check(replay_run(tpath("log.tsv"), tpath("new.tsv"), &c, &rows, &n, &e) == 0, "slot: %s", e.msg);
    check_close(rows[0].value, 3.0, 1e-9, 0, "slot click");
    check_close(rows[1].value, 1.5, 1e-9, 0, "slot save");
    free(rows);
    /* self-normalised prefix: slot 1 matched by r1 alone (click 1), slot 2
     * by r1 (click 1): 2; save 0 + 1 */
    c = cfg(REPLAY_PREFIX, 1);
    replay_run(tpath("log.tsv"), tpath("new.tsv"), &c, &rows, &n, &e);
    check_close(rows[0].value, 2.0, 1e-9, 0, "self-normalised click");
    check_close(rows[1].value, 1.0, 1e-9, 0, "self-normalised save");
    free(rows);
    /* a stochastic list: r1 slot 1 a 0.5 / c 0.5, slot 2 b 1; r2 slot 1 b 1, slot 2 a 1 */
    write_text(tpath("pi.tsv"), "request_id\tslot\titem_id\tpi\nr1\t1\ta\t0.5\nr1\t1\tc\t0.5\nr1\t2\tb\t1\n"
                                "r2\t1\tb\t1\nr2\t2\ta\t1\n");
    c = cfg(REPLAY_PREFIX, 0);
    check(replay_run(tpath("log.tsv"), tpath("pi.tsv"), &c, &rows, &n, &e) == 0, "pi lists: %s", e.msg);
    /* r1: rho1 = 1.5, rho2 = 2: click 1.5 + 3 = 4.5, save 3; r2: rho 3, 2:
     * click 3 + 0 = 3; mean click 3.75, save 1.5; no descriptive rows */
    check(n == 2, "stochastic lists: no descriptive rows");
    check_close(rows[0].value, 3.75, 1e-9, 0, "stochastic click");
    check_close(rows[1].value, 1.5, 1e-9, 0, "stochastic save");
    free(rows);

    /* errors */
    struct {
        const char *text, *want;
    } bad[] = {
        {"request_id\tslot\titem_id\nr1\t1\ta\nr1\t2\tz\n", "new.tsv:3: column 'item_id': item 'z' is not a candidate"},
        {"request_id\tslot\titem_id\nr1\t1\ta\nr1\t1\tb\n", "new.tsv:3: column 'slot': request 'r1' gives slot 1 twice"},
        {"request_id\tslot\titem_id\nr1\t2\ta\n", "new.tsv:2: column 'slot': request 'r1' gives slot 2 but not slot 1"},
        {"request_id\tslot\titem_id\nr2\t1\ta\nr1\t1\ta\n", "new.tsv:3: column 'request_id': request 'r1' is not in"},
        {"request_id\tslot\titem_id\nr1\t1\ta\nr1\t2\tb\nr1\t3\tc\n", "fills slot 3, but the logged list has 2 slots"},
        {"request_id\tslot\titem_id\nr1\t1\ta\nr1\t2\ta\n", "item 'a' is listed twice in request 'r1'"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        write_text(tpath("new.tsv"), bad[k].text);
        c = cfg(REPLAY_PREFIX, 0);
        int rc = replay_run(tpath("log.tsv"), tpath("new.tsv"), &c, &rows, &n, &e);
        check(rc < 0 && strstr(e.msg, bad[k].want), "bad new lists %zu: %s", k, rc < 0 ? e.msg : "accepted");
    }
    write_text(tpath("log0.tsv"), "request_id\titem_id\tcategory\tage\tf_0\tslot\tclick\tsave\tpropensity\n"
                                  "r1\ta\t1\t10\t1\t1\t1\t0\t0\n");
    write_text(tpath("new.tsv"), "request_id\tslot\titem_id\nr1\t1\ta\n");
    /* slot matching refuses a log that is not uniform */
    write_text(tpath("logpl.tsv"), "request_id\titem_id\tcategory\tage\tf_0\tslot\tclick\tsave\tpropensity\n"
                                   "r1\ta\t1\t10\t1\t1\t1\t0\t0.6\nr1\tb\t1\t10\t1\t0\t0\t0\t0\n");
    c = cfg(REPLAY_SLOT, 0);
    check(replay_run(tpath("logpl.tsv"), tpath("new.tsv"), &c, &rows, &n, &e) < 0 &&
              strstr(e.msg, "slot matching needs uniform logging"),
          "slot matching on a non-uniform log: %s", e.msg);
    c = cfg(REPLAY_PREFIX, 0);
    check(replay_run(tpath("log0.tsv"), tpath("new.tsv"), &c, &rows, &n, &e) < 0 &&
              strstr(e.msg, "log0.tsv:2: column 'propensity': a propensity must be in (0, 1], not '0'"),
          "propensity 0: %s", e.msg);
}

/* ---- against the simulator ---- */

/* Log `requests` requests of c to log.tsv, write the score_click order
 * (deterministic lists) to new.tsv, and return the judged truth of
 * new.tsv per objective. */
static int alternate; /* lists that alternate categories: slot k + 1 not of slot k's */

static int before(const multislot_req *q, int a, int b)
{
    return q->score_click[a] > q->score_click[b];
}

static void simulate(const multislot_cfg *c, const multislot_catalog *cat, uint64_t requests, double *truth)
{
    errctx e;
    rec_writer *w = rec_writer_open(tpath("log.tsv"), 0, &e);
    check(w && multislot_write(c, cat, requests, w, NULL, &e) == 0 && rec_writer_close(w, &e) == 0, "log: %s", e.msg);
    FILE *f = fopen(tpath("new.tsv"), "w");
    fputs("request_id\tslot\titem_id\n", f);
    multislot_req q;
    multislot_req_init(&q, c->candidates, c->dim);
    for (uint64_t r = 0; r < requests; r++) {
        multislot_request(c, cat, r, &q);
        int order[64];
        for (int i = 0; i < q.n; i++)
            order[i] = i;
        for (int a = 1; a < q.n; a++)
            for (int b = a; b > 0 && before(&q, order[b], order[b - 1]); b--) {
                int t = order[b];
                order[b] = order[b - 1];
                order[b - 1] = t;
            }
        if (alternate) /* the best remaining of another category than the slot above */
            for (int k = 1; k < c->slots; k++)
                for (int j = k; j < q.n; j++)
                    if (q.category[order[j]] != q.category[order[k - 1]]) {
                        int t = order[j];
                        memmove(order + k + 1, order + k, (size_t)(j - k) * sizeof *order);
                        order[k] = t;
                        break;
                    }
        for (int k = 0; k < c->slots; k++)
            fprintf(f, "%llu\t%d\t%s\n", (unsigned long long)r, k + 1,
                    cat->names + (size_t)q.item[order[k]] * MULTISLOT_NAME_LEN);
    }
    fclose(f);
    multislot_req_free(&q);
    multislot_value v;
    check(multislot_judge(c, cat, requests, tpath("new.tsv"), NULL, &v, NULL, &e) == 0, "judge: %s", e.msg);
    truth[0] = v.mean[0];
    truth[1] = v.mean[1];
}

typedef struct sweep {
    int sets, cover;
    double z_sum, z_sq;
} sweep;

static void run_sweep(multislot_cfg *mc, int sets, uint64_t requests, int match, sweep *s)
{
    memset(s, 0, sizeof *s);
    for (int k = 0; k < sets; k++) {
        mc->seed = 1000 + (uint64_t)k;
        multislot_catalog cat;
        multislot_catalog_build(&cat, mc);
        double truth[2];
        simulate(mc, &cat, requests, truth);
        replay_cfg c = cfg(match, 0);
        replay_row *rows;
        int n;
        errctx e;
        if (replay_run(tpath("log.tsv"), tpath("new.tsv"), &c, &rows, &n, &e) < 0) {
            check(0, "replay: %s", e.msg);
            multislot_catalog_free(&cat);
            return;
        }
        double z = (rows[0].value - truth[0]) / rows[0].se;
        s->cover += rows[0].lo <= truth[0] && truth[0] <= rows[0].hi;
        s->z_sum += z;
        s->z_sq += z * z;
        s->sets++;
        free(rows);
        multislot_catalog_free(&cat);
    }
}

static void test_simulated(void)
{
    multislot_cfg mc;
    multislot_defaults(&mc);
    mc.candidates = 5;
    mc.slots = 3;
    mc.items = 200;
    mc.logging = MULTISLOT_LOG_UNIFORM;
    sweep s;
    /* prefix replay under uniform logging: covers at about 95% */
    run_sweep(&mc, 120, 1500, REPLAY_PREFIX, &s);
    double rate = (double)s.cover / s.sets, mz = s.z_sum / s.sets;
    printf("test_replay: prefix, uniform logging: coverage %.3f, mean z %.3f over %d seeds\n", rate, mz, s.sets);
    check(rate >= 0.89 && rate <= 0.99, "prefix replay covers the truth in %.3f of %d seeds", rate, s.sets);
    check(fabs(mz) < 0.3, "prefix replay: mean standardised error %.3f", mz);

    /* slot matching: unbiased without context, biased with it */
    mc.diversity = 0;
    run_sweep(&mc, 120, 1500, REPLAY_SLOT, &s);
    rate = (double)s.cover / s.sets;
    mz = s.z_sum / s.sets;
    printf("test_replay: slot, no context effect: coverage %.3f, mean z %.3f\n", rate, mz);
    check(rate >= 0.89 && fabs(mz) < 0.3, "slot matching without context: coverage %.3f, mean z %.3f", rate, mz);
    /* with context: lists that alternate two categories avoid the penalty
     * of a same-category item above; slot matching sees the logged
     * (random) items above instead, and underestimates them */
    mc.diversity = 2;
    mc.categories = 2;
    alternate = 1;
    run_sweep(&mc, 40, 6000, REPLAY_SLOT, &s);
    rate = (double)s.cover / s.sets;
    mz = s.z_sum / s.sets;
    printf("test_replay: slot, context effect 2, alternating lists: coverage %.3f, mean z %.3f\n", rate, mz);
    /* the mean of 40 standardised errors would be within 0.5 of 0 (3 sd)
     * if unbiased */
    check(mz < -0.6, "slot matching with context is biased (downwards here): mean z %.3f", mz);
    run_sweep(&mc, 60, 3000, REPLAY_PREFIX, &s);
    rate = (double)s.cover / s.sets;
    mz = s.z_sum / s.sets;
    printf("test_replay: prefix, context effect 2, alternating lists: coverage %.3f, mean z %.3f\n", rate, mz);
    check(rate >= 0.85 && fabs(mz) < 0.4, "prefix replay with context stays unbiased: coverage %.3f, mean z %.3f",
          rate, mz);

    /* Plackett-Luce logging: inverse propensity weights keep it unbiased */
    alternate = 0;
    mc.categories = 8;
    mc.diversity = 0.5;
    mc.logging = MULTISLOT_LOG_PL;
    mc.log_param = 1;
    run_sweep(&mc, 120, 1500, REPLAY_PREFIX, &s);
    rate = (double)s.cover / s.sets;
    mz = s.z_sum / s.sets;
    printf("test_replay: prefix, Plackett-Luce logging: coverage %.3f, mean z %.3f\n", rate, mz);
    check(rate >= 0.85 && fabs(mz) < 0.4, "IPS under Plackett-Luce: coverage %.3f, mean z %.3f", rate, mz);
}

/* ---- Pareto ---- */

static void test_pareto(void)
{
    /* maximize a, minimize b */
    double v[] = {
        1, 1,  /* 0: dominated by 2 */
        2, 1,  /* 1: ties with 2 on both: neither dominates */
        2, 1,  /* 2 */
        3, 5,  /* 3: best a */
        0, 0,  /* 4: best b */
        2, 2,  /* 5: dominated by 1 */
        3, 5,  /* 6: duplicate of 3 */
    };
    int sense[2] = {1, -1};
    unsigned char out[7];
    pareto_mark(v, 7, 2, sense, out);
    unsigned char want[7] = {0, 1, 1, 1, 1, 0, 1};
    check(memcmp(out, want, 7) == 0, "pareto marks: %d%d%d%d%d%d%d", out[0], out[1], out[2], out[3], out[4], out[5],
          out[6]);
    double one[] = {5};
    int up = 1;
    pareto_mark(one, 1, 1, &up, out);
    check(out[0] == 1, "a single row is non-dominated");
    errctx e;
    write_text(tpath("t.tsv"), "config\tclick\tage\nA\t1\t5\nB\t2\t5\nC\t2\t4\nD\t0.5\t1\n");
    check(pareto_table(tpath("t.tsv"), "click", "age", tpath("p.tsv"), 0, &e) == 0, "pareto table: %s", e.msg);
    FILE *f = fopen(tpath("p.tsv"), "r");
    char buf[256] = {0};
    size_t got = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    check(got > 0 && strcmp(buf, "config\tclick\tage\tpareto\nA\t1\t5\t0\nB\t2\t5\t0\nC\t2\t4\t1\nD\t0.5\t1\t1\n") == 0,
          "pareto table written: %s", buf);
    check(pareto_table(tpath("t.tsv"), "nope", NULL, tpath("p2.tsv"), 0, &e) < 0 && strstr(e.msg, "nope"),
          "a missing column is named");
}

int main(int argc, char **argv)
{
    (void)argc;
    cli_init(argv[0]);
    tdir_make("replay");
    test_hand();
    test_pareto();
    test_simulated();
    tdir_remove();
    return check_done("test_replay");
}
