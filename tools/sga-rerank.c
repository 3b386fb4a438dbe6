/*
 * sga-rerank - fit a slot-aware model on logged lists (--fit), or fill K
 * slots per request with the Sequential Greedy Algorithm; see
 * sga-rerank(1).
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "model.h"
#include "qlearn.h"
#include "rec.h"
#include "rerank.h"
#include "banned.h"

static const char usage_text[] =
    "Usage: sga-rerank --fit -o MODEL [OPTION]... [FILE]\n"
    "  or:  sga-rerank -m MODEL [OPTION]... [FILE]...\n"
    "  or:  sga-rerank --baseline COL | --random [OPTION]... [FILE]...\n"
    "Fit a slot-aware model (one logit per objective, from item features, second-pass\n"
    "scores, the slot and the items above) on logged lists, printing its AUC per slot\n"
    "beside the second-pass score's; or fill K slots of every request (request_id\n"
    "item_id category age score_* f_*, grouped by request) with the Sequential Greedy\n"
    "Algorithm, writing request_id slot item_id p_*.\n"
    "With no FILE, or when FILE is -, read standard input.\n"
    "\n"
    "Fitting (--fit):\n"
    "      --objectives LIST    label columns, one head each [click,save]\n"
    "      --hidden LIST        hidden layers [64,32]\n"
    "      --activation ACT     relu, tanh or sigmoid [relu]\n"
    "      --no-context         leave out the context features of the items above\n"
    "      --epochs N           passes over the shown slots [10]\n"
    "      --batch N            rows per step [256]\n"
    "      --lr RATE            Adam learning rate [0.001]\n"
    "      --clip NORM          clip the gradient's global norm, 0: off [10]\n"
    "      --valid-frac F       requests held out for the AUCs [0.2]\n"
    "Re-ranking:\n"
    "  -m, --model MODEL        a model from sga-rerank --fit\n"
    "  -w, --weights LIST       objective weights NAME=W,... [every objective 1]\n"
    "  -k, --slots K            slots to fill [the model's]\n"
    "      --diversity L        add L (1 - max similarity to the items above) [0]\n"
    "      --freshness L        add L exp(-age/24) [0]\n"
    "      --exhaustive         search every list (small N) for the best under the model\n"
    "      --max-lists N        --exhaustive: at most N lists per request [1000000]\n"
    "      --baseline COL       instead: sort by a score column (no model)\n"
    "      --random             instead: a random order (no model), seeded\n"
    "Both:\n"
    "  -s, --seed S             seed [1]\n"
    "  -j, --threads N          worker threads, 0: all cores [0]\n"
    "      --request-col NAME   [request_id]\n"
    "      --item-col NAME      [item_id]\n"
    "      --category-col NAME  [category]\n"
    "      --age-col NAME       [age] (hours)\n"
    "      --slot-col NAME      [slot] (--fit)\n"
    "      --features LIST      item features, names or globs [f_*] (--fit)\n"
    "      --scores LIST        second-pass scores, names or globs [score_*] (--fit)\n"
    "  -b, --binary             write the binary record stream\n"
    "  -o, --output FILE        --fit: the model; else the lists (atomically)\n"
    "      --progress           progress on stderr even when it is not a terminal\n"
    "      --quiet              print nothing but errors\n"
    "      --help               display this help and exit\n"
    "      --version            output version information and exit\n"
    "\n"
    "Examples:\n"
    "  multislot-sim --requests 20000 -o log.tsv\n"
    "  sga-rerank --fit -o slot.model log.tsv\n"
    "  sga-rerank -m slot.model -w click=1,save=0.5 log.tsv > lists.tsv\n";

static void print_auc(const rerank_model *m, const rerank_fit_result *res, errctx *e)
{
    static const char *const names[] = {"objective", "slot", "rows", "positives", "auc_model", "auc_score", "lift"};
    rec_writer *w = rec_writer_open(NULL, 0, e);
    if (!w || rec_writer_header(w, 7, names, e) < 0)
        cli_die("%s", e->msg);
    for (int a = 0; a < res->nauc; a++) {
        const rerank_auc *r = &res->auc[a];
        const char *obj = m->obj_names[r->obj];
        rec_put_str(w, 0, obj, strlen(obj));
        if (r->slot)
            rec_put_i64(w, 1, r->slot);
        else
            rec_put_str(w, 1, "all", 3);
        rec_put_i64(w, 2, (int64_t)r->rows);
        rec_put_i64(w, 3, (int64_t)r->positives);
        char buf[3][32];
        double v[3] = {r->auc_model, r->auc_score, r->auc_model / r->auc_score - 1};
        for (int k = 0; k < 3; k++) {
            int n = isfinite(v[k]) ? snprintf(buf[k], sizeof buf[k], "%.4f", v[k]) : 0;
            buf[k][n] = '\0';
            rec_put_text(w, 4 + k, buf[k], (size_t)n);
        }
        if (rec_end_row(w, e) < 0)
            cli_die("%s", e->msg);
    }
    if (rec_writer_close(w, e) < 0)
        cli_die("%s", e->msg);
}

int main(int argc, char **argv)
{
    cli_init_argv(argv);
    rerank_cols cols;
    rerank_cols_defaults(&cols);
    rerank_fit_cfg fc = {.hidden = "64,32", .act = NN_RELU, .ctx = 1, .epochs = 10, .batch = 256, .threads = 0,
                         .lr = 0.001, .clip = 10, .valid_frac = 0.2, .seed = 1};
    rerank_cfg rc;
    memset(&rc, 0, sizeof rc);
    rc.method = RERANK_SGA;
    rc.max_lists = 1000000;
    rc.seed = 1;
    const char *model_path = NULL, *output = NULL, *objectives = "click,save", *weights = NULL;
    int fit = 0, binary = 0, threads = cli_default_threads(), slots = 0, have_baseline = 0, have_random = 0,
        have_exhaustive = 0;
    enum {
        OPT_FIT = 256, OPT_OBJ, OPT_HIDDEN, OPT_ACT, OPT_NOCTX, OPT_EPOCHS, OPT_BATCH, OPT_LR, OPT_CLIP, OPT_VALID,
        OPT_DIV, OPT_FRESH, OPT_EXH, OPT_MAXLISTS, OPT_BASE, OPT_RANDOM, OPT_REQ, OPT_ITEM, OPT_CAT, OPT_AGE,
        OPT_SLOT, OPT_FEAT, OPT_SCORES, OPT_PROGRESS, OPT_QUIET, OPT_HELP, OPT_VERSION
    };
    static const struct option longopts[] = {
        {"fit", no_argument, NULL, OPT_FIT},
        {"objectives", required_argument, NULL, OPT_OBJ},
        {"hidden", required_argument, NULL, OPT_HIDDEN},
        {"activation", required_argument, NULL, OPT_ACT},
        {"no-context", no_argument, NULL, OPT_NOCTX},
        {"epochs", required_argument, NULL, OPT_EPOCHS},
        {"batch", required_argument, NULL, OPT_BATCH},
        {"lr", required_argument, NULL, OPT_LR},
        {"clip", required_argument, NULL, OPT_CLIP},
        {"valid-frac", required_argument, NULL, OPT_VALID},
        {"model", required_argument, NULL, 'm'},
        {"weights", required_argument, NULL, 'w'},
        {"slots", required_argument, NULL, 'k'},
        {"diversity", required_argument, NULL, OPT_DIV},
        {"freshness", required_argument, NULL, OPT_FRESH},
        {"exhaustive", no_argument, NULL, OPT_EXH},
        {"max-lists", required_argument, NULL, OPT_MAXLISTS},
        {"baseline", required_argument, NULL, OPT_BASE},
        {"random", no_argument, NULL, OPT_RANDOM},
        {"seed", required_argument, NULL, 's'},
        {"threads", required_argument, NULL, 'j'},
        {"request-col", required_argument, NULL, OPT_REQ},
        {"item-col", required_argument, NULL, OPT_ITEM},
        {"category-col", required_argument, NULL, OPT_CAT},
        {"age-col", required_argument, NULL, OPT_AGE},
        {"slot-col", required_argument, NULL, OPT_SLOT},
        {"features", required_argument, NULL, OPT_FEAT},
        {"scores", required_argument, NULL, OPT_SCORES},
        {"binary", no_argument, NULL, 'b'},
        {"output", required_argument, NULL, 'o'},
        {"progress", no_argument, NULL, OPT_PROGRESS},
        {"quiet", no_argument, NULL, OPT_QUIET},
        {"help", no_argument, NULL, OPT_HELP},
        {"version", no_argument, NULL, OPT_VERSION},
        {NULL, 0, NULL, 0},
    };
    errctx e;
    int opt;
    while ((opt = getopt_long(argc, argv, "m:w:k:s:j:bo:", longopts, NULL)) != -1) {
        switch (opt) {
        case OPT_FIT:
            fit = 1;
            break;
        case OPT_OBJ:
            objectives = optarg;
            break;
        case OPT_HIDDEN: {
            int widths[NN_MAX_LAYERS];
            if (nn_parse_hidden(optarg, widths, NN_MAX_LAYERS - 1, &e) < 0)
                cli_usage_error("invalid value '%s' for --hidden: %s", optarg, e.msg);
            fc.hidden = optarg;
            break;
        }
        case OPT_ACT:
            if (nn_act_parse(optarg, &fc.act, &e) < 0)
                cli_usage_error("--activation: %s", e.msg);
            break;
        case OPT_NOCTX:
            fc.ctx = 0;
            break;
        case OPT_EPOCHS:
            fc.epochs = (int)cli_parse_long(optarg, "--epochs", 1, 1000000);
            break;
        case OPT_BATCH:
            fc.batch = (int)cli_parse_long(optarg, "--batch", 1, 1 << 20);
            break;
        case OPT_LR:
            fc.lr = cli_parse_double(optarg, "--lr", 0, 10);
            if (!(fc.lr > 0))
                cli_usage_error("invalid value '%s' for --lr: must be above 0", optarg);
            break;
        case OPT_CLIP:
            fc.clip = cli_parse_double(optarg, "--clip", 0, 1e30);
            break;
        case OPT_VALID:
            fc.valid_frac = cli_parse_double(optarg, "--valid-frac", 0, 0.9);
            break;
        case 'm':
            model_path = optarg;
            break;
        case 'w':
            weights = optarg;
            break;
        case 'k':
            slots = (int)cli_parse_long(optarg, "--slots", 1, RERANK_MAX_SLOTS);
            break;
        case OPT_DIV:
            rc.l_div = cli_parse_double(optarg, "--diversity", -1e6, 1e6);
            break;
        case OPT_FRESH:
            rc.l_fresh = cli_parse_double(optarg, "--freshness", -1e6, 1e6);
            break;
        case OPT_EXH:
            have_exhaustive = 1;
            break;
        case OPT_MAXLISTS:
            rc.max_lists = cli_parse_long(optarg, "--max-lists", 1, 1LL << 40);
            break;
        case OPT_BASE:
            if (!*optarg)
                cli_usage_error("--baseline: the column name is empty");
            rc.baseline = optarg;
            have_baseline = 1;
            break;
        case OPT_RANDOM:
            have_random = 1;
            break;
        case 's':
            rc.seed = fc.seed = cli_parse_seed(optarg, "--seed");
            break;
        case 'j':
            threads = cli_parse_threads(optarg, "--threads");
            break;
        case OPT_REQ:
            cols.request = optarg;
            break;
        case OPT_ITEM:
            cols.item = optarg;
            break;
        case OPT_CAT:
            cols.category = optarg;
            break;
        case OPT_AGE:
            cols.age = optarg;
            break;
        case OPT_SLOT:
            cols.slot = optarg;
            break;
        case OPT_FEAT:
            cols.features = optarg;
            break;
        case OPT_SCORES:
            cols.scores = optarg;
            break;
        case 'b':
            binary = 1;
            break;
        case 'o':
            output = optarg;
            break;
        case OPT_PROGRESS:
            cli_verbosity = 1;
            break;
        case OPT_QUIET:
            cli_verbosity = -1;
            break;
        case OPT_HELP:
            fputs(usage_text, stdout);
            return CLI_OK;
        case OPT_VERSION:
            cli_print_version();
        default:
            cli_usage_hint();
        }
    }
    const char *const *inputs = (const char *const *)argv + optind;
    int ninputs = argc - optind;
    fc.threads = rc.threads = threads;

    if (fit) {
        if (model_path || have_baseline || have_random || have_exhaustive || weights)
            cli_usage_error("--fit trains a model: -m, --weights, --baseline, --random and --exhaustive re-rank");
        if (!output)
            cli_usage_error("--fit needs -o MODEL");
        if (ninputs > 1)
            cli_usage_error("--fit reads one input (%d given)", ninputs);
        int O;
        char **obj = cli_parse_names(objectives, "--objectives", &O);
        if (O > RERANK_MAX_OBJ)
            cli_usage_error("--objectives: %d names, at most %d", O, RERANK_MAX_OBJ);
        rerank_model m;
        rerank_fit_result res;
        if (rerank_fit(ninputs ? inputs[0] : NULL, &cols, (const char *const *)obj, O, &fc, &m, &res, &e) < 0)
            cli_die("%s", e.msg);
        model *f = rerank_model_to_file(&m, &fc, &e);
        if (!f || model_write(f, output, "sga-rerank " RECSTAGE_VERSION, &e) < 0)
            cli_die("%s", e.msg);
        model_free(f);
        cli_info("%llu requests, %llu shown slots (%llu for training, %llu held out), %d slots; %.0f rows/s, %.2f "
                 "GFLOP/s",
                 (unsigned long long)res.requests, (unsigned long long)(res.train_rows + res.valid_rows),
                 (unsigned long long)res.train_rows, (unsigned long long)res.valid_rows, m.K, res.rows_per_s,
                 res.gflops);
        if (!res.valid_rows)
            cli_warn("no request fell in the validation fraction (--valid-frac): the AUCs are on the training rows");
        print_auc(&m, &res, &e);
        rerank_fit_result_free(&res);
        rerank_model_free(&m);
        for (int j = 0; j < O; j++)
            free(obj[j]);
        free(obj);
        return CLI_OK;
    }

    if (have_baseline + have_random + (model_path != NULL) != 1)
        cli_usage_error("re-ranking needs exactly one of -m MODEL, --baseline COL and --random (or --fit)");
    if (have_exhaustive && !model_path)
        cli_usage_error("--exhaustive searches under a model: give -m MODEL");
    rerank_model m;
    memset(&m, 0, sizeof m);
    rerank_model *mp = NULL;
    if (model_path) {
        if (rerank_model_load(&m, model_path, &e) < 0)
            cli_die("%s", e.msg);
        mp = &m;
        rc.method = have_exhaustive ? RERANK_EXHAUSTIVE : RERANK_SGA;
        for (int o = 0; o < m.O; o++)
            rc.w[o] = 1;
        if (weights) {
            qlearn_weights qw;
            if (qlearn_weights_parse(weights, &qw, &e) < 0)
                cli_usage_error("invalid value '%s' for --weights: %s", weights, e.msg);
            for (int o = 0; o < m.O; o++)
                rc.w[o] = 0;
            for (int k = 0; k < qw.n; k++) {
                int o = 0;
                while (o < m.O && strcmp(m.obj_names[o], qw.names[k]) != 0)
                    o++;
                if (o == m.O)
                    cli_die("--weights names '%s', which is not an objective of %s", qw.names[k], model_path);
                rc.w[o] = qw.w[k];
            }
            qlearn_weights_free(&qw);
        }
        rc.K = slots ? slots : m.K;
    } else {
        if (weights || rc.l_div != 0 || rc.l_fresh != 0)
            cli_usage_error("--weights, --diversity and --freshness go with -m MODEL");
        if (!slots)
            cli_usage_error("--baseline and --random need --slots K (there is no model to take it from)");
        rc.K = slots;
        rc.method = have_baseline ? RERANK_BASELINE : RERANK_RANDOM;
    }
    rerank_stats st;
    double t0 = cli_now();
    if (rerank_stream(mp, &rc, &cols, inputs, ninputs, output, binary, &st, &e) < 0)
        cli_die("%s", e.msg);
    double secs = cli_now() - t0;
    if (rc.method == RERANK_SGA || rc.method == RERANK_EXHAUSTIVE) {
        /* useful work: 2 in out multiply-adds per layer and model row */
        double fl = 0;
        for (int l = 0; l < m.net.nlayers; l++)
            fl += 2.0 * m.net.dims[l] * m.net.dims[l + 1];
        cli_info("%llu requests, %d slots, %llu model rows (K N - K (K - 1) / 2 a request), %.0f requests/s, %.2f "
                 "GFLOP/s in the model",
                 (unsigned long long)st.requests, rc.K, (unsigned long long)st.evals,
                 secs > 0 ? (double)st.requests / secs : 0.0, secs > 0 ? fl * (double)st.evals / secs / 1e9 : 0.0);
    }
    else
        cli_info("%llu requests, %d slots", (unsigned long long)st.requests, rc.K);
    if (rc.method == RERANK_EXHAUSTIVE && st.requests)
        cli_info("greedy gap: SGA's list is optimal under the model in %llu of %llu requests; mean gap %.6g (%.4f%% "
                 "of the optimum)",
                 (unsigned long long)st.greedy_optimal, (unsigned long long)st.requests,
                 st.gap_sum / (double)st.requests, st.value_sum > 0 ? 100 * st.gap_sum / st.value_sum : 0.0);
    if (mp)
        rerank_model_free(&m);
    return CLI_OK;
}
