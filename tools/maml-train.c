/*
 * maml-train - meta-learn a per-member meta block and a global block with
 * MAML (LiMAML), or train a baseline; see maml-train(1).
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt.h"
#include "cli.h"
#include "metrics.h"
#include "model.h"
#include "persona.h"
#include "banned.h"

static const char usage_text[] =
    "Usage: maml-train -o MODEL [OPTION]... [FILE]\n"
    "Meta-learn a meta block (member features -> embedding) and a global block\n"
    "(item features + embedding -> click) with MAML, or train a baseline, on\n"
    "interactions grouped by member.  Prints the held-out evaluation as TSV.\n"
    "With no FILE, or when FILE is -, read standard input.\n"
    "\n"
    "Model:\n"
    "  -M, --mode MODE          maml, finetune, global or wide-deep [maml]\n"
    "  -d, --embed-dim N        meta embedding size [16]\n"
    "      --meta-hidden LIST   meta block hidden layers [32]\n"
    "      --global-hidden LIST global block hidden layers [64,32]\n"
    "      --activation ACT     relu, tanh or sigmoid [relu]\n"
    "      --id-buckets N       wide-deep: hashed member table rows [65536]\n"
    "      --id-dim N           wide-deep: member embedding size [8]\n"
    "MAML:\n"
    "  -K, --inner-steps K      inner SGD steps on the support rows [3]\n"
    "  -a, --inner-lr ALPHA     inner learning rate [0.5]\n"
    "      --order 1|2          2: exact second order, 1: first-order MAML [2]\n"
    "  -B, --meta-batch N       members per outer step [32]\n"
    "Training:\n"
    "  -e, --epochs N           passes over the training members [5]\n"
    "      --lr RATE            Adam learning rate [0.002]\n"
    "      --batch N            rows per step for global and wide-deep [256]\n"
    "      --clip NORM          clip the gradient's global norm, 0: off [10]\n"
    "  -s, --seed S             seed of every random choice [1]\n"
    "  -j, --threads N          worker threads, 0: all cores [0]\n"
    "Data:\n"
    "      --member-col NAME    [member_id]\n"
    "      --time-col NAME      [ts]\n"
    "      --label-col NAME     [label]\n"
    "      --meta-features LIST member-side features, names or globs [m_*]\n"
    "      --features LIST      item and context features [x_*]\n"
    "  -q, --query-frac F       each member's newest fraction is the query set [0.2]\n"
    "      --query-since TS     instead: rows with ts >= TS are the query set\n"
    "      --valid FILE         held-out members (default: a hash of the member id)\n"
    "      --valid-frac F       share of members held out when no --valid [0.2]\n"
    "      --buckets LIST       support-size bucket edges of the report [1,6,21,101]\n"
    "Output:\n"
    "  -o, --output MODEL       the model file (required; written atomically)\n"
    "      --checkpoint FILE    on SIGINT or SIGTERM, write the training state to\n"
    "                           FILE (atomically) and exit 128+signal\n"
    "      --checkpoint-every N also write it every N optimizer steps\n"
    "      --resume FILE        continue from a checkpoint (same options and data)\n"
    "      --progress           progress on stderr even when it is not a terminal\n"
    "      --quiet              print nothing but errors and the final table\n"
    "      --help               display this help and exit\n"
    "      --version            output version information and exit\n"
    "\n"
    "Example:\n"
    "  maml-train -o /tmp/m.model --epochs 2 data-samples/members.tsv\n";

int main(int argc, char **argv)
{
    cli_init_argv(argv);
    persona_hparams hp = {
        .mode = PERSONA_MAML,
        .e_dim = 16,
        .meta_hidden = "32",
        .global_hidden = "64,32",
        .act = NN_RELU,
        .inner = {.steps = 3, .alpha = 0.5, .order = 2},
        .id_buckets = 65536,
        .id_dim = 8,
    };
    ckpt_cfg ck;
    memset(&ck, 0, sizeof ck);
    ck.of = "maml-train";
    const char *resume_path = NULL;
    persona_train_cfg tc = {.epochs = 5, .meta_batch = 32, .batch = 256, .lr = 0.002, .clip = 10, .threads = 0,
                            .seed = 1};
    persona_colspec cols = {"member_id", "ts", "label", "m_*", "x_*"};
    persona_split sp = {.query_frac = 0.2};
    const char *output = NULL, *valid_path = NULL, *buckets = "1,6,21,101";
    double valid_frac = 0.2;
    int threads = cli_default_threads();
    enum {
        OPT_META_HIDDEN = 256, OPT_GLOBAL_HIDDEN, OPT_ACT, OPT_ID_BUCKETS, OPT_ID_DIM, OPT_ORDER, OPT_LR,
        OPT_BATCH, OPT_CLIP, OPT_MEMBER, OPT_TIME, OPT_LABEL, OPT_META, OPT_FEATURES, OPT_SINCE, OPT_VALID,
        OPT_VALID_FRAC, OPT_BUCKETS, OPT_CKPT, OPT_CKPT_EVERY, OPT_RESUME, OPT_PROGRESS, OPT_QUIET, OPT_HELP,
        OPT_VERSION
    };
    static const struct option longopts[] = {
        {"mode", required_argument, NULL, 'M'},
        {"embed-dim", required_argument, NULL, 'd'},
        {"meta-hidden", required_argument, NULL, OPT_META_HIDDEN},
        {"global-hidden", required_argument, NULL, OPT_GLOBAL_HIDDEN},
        {"activation", required_argument, NULL, OPT_ACT},
        {"id-buckets", required_argument, NULL, OPT_ID_BUCKETS},
        {"id-dim", required_argument, NULL, OPT_ID_DIM},
        {"inner-steps", required_argument, NULL, 'K'},
        {"inner-lr", required_argument, NULL, 'a'},
        {"order", required_argument, NULL, OPT_ORDER},
        {"meta-batch", required_argument, NULL, 'B'},
        {"epochs", required_argument, NULL, 'e'},
        {"lr", required_argument, NULL, OPT_LR},
        {"batch", required_argument, NULL, OPT_BATCH},
        {"clip", required_argument, NULL, OPT_CLIP},
        {"seed", required_argument, NULL, 's'},
        {"threads", required_argument, NULL, 'j'},
        {"member-col", required_argument, NULL, OPT_MEMBER},
        {"time-col", required_argument, NULL, OPT_TIME},
        {"label-col", required_argument, NULL, OPT_LABEL},
        {"meta-features", required_argument, NULL, OPT_META},
        {"features", required_argument, NULL, OPT_FEATURES},
        {"query-frac", required_argument, NULL, 'q'},
        {"query-since", required_argument, NULL, OPT_SINCE},
        {"valid", required_argument, NULL, OPT_VALID},
        {"valid-frac", required_argument, NULL, OPT_VALID_FRAC},
        {"buckets", required_argument, NULL, OPT_BUCKETS},
        {"output", required_argument, NULL, 'o'},
        {"checkpoint", required_argument, NULL, OPT_CKPT},
        {"checkpoint-every", required_argument, NULL, OPT_CKPT_EVERY},
        {"resume", required_argument, NULL, OPT_RESUME},
        {"progress", no_argument, NULL, OPT_PROGRESS},
        {"quiet", no_argument, NULL, OPT_QUIET},
        {"help", no_argument, NULL, OPT_HELP},
        {"version", no_argument, NULL, OPT_VERSION},
        {NULL, 0, NULL, 0},
    };
    errctx e;
    int opt;
    while ((opt = getopt_long(argc, argv, "M:d:K:a:B:e:s:j:q:o:", longopts, NULL)) != -1) {
        switch (opt) {
        case 'M':
            if (persona_mode_parse(optarg, &hp.mode, &e) < 0)
                cli_usage_error("%s", e.msg);
            break;
        case 'd':
            hp.e_dim = (int)cli_parse_long(optarg, "--embed-dim", 1, 4096);
            break;
        case OPT_META_HIDDEN:
            hp.meta_hidden = optarg;
            break;
        case OPT_GLOBAL_HIDDEN:
            hp.global_hidden = optarg;
            break;
        case OPT_ACT:
            if (nn_act_parse(optarg, &hp.act, &e) < 0)
                cli_usage_error("--activation: %s", e.msg);
            break;
        case OPT_ID_BUCKETS:
            hp.id_buckets = (int)cli_parse_long(optarg, "--id-buckets", 1, 1 << 26);
            break;
        case OPT_ID_DIM:
            hp.id_dim = (int)cli_parse_long(optarg, "--id-dim", 1, 1024);
            break;
        case 'K':
            hp.inner.steps = (int)cli_parse_long(optarg, "--inner-steps", 0, 100);
            break;
        case 'a':
            hp.inner.alpha = cli_parse_double(optarg, "--inner-lr", 0, 1e3);
            break;
        case OPT_ORDER:
            hp.inner.order = (int)cli_parse_long(optarg, "--order", 1, 2);
            break;
        case 'B':
            tc.meta_batch = (int)cli_parse_long(optarg, "--meta-batch", 1, 4096);
            break;
        case 'e':
            tc.epochs = (int)cli_parse_long(optarg, "--epochs", 1, 100000);
            break;
        case OPT_LR:
            tc.lr = cli_parse_double(optarg, "--lr", 1e-12, 10);
            break;
        case OPT_BATCH:
            tc.batch = (int)cli_parse_long(optarg, "--batch", 1, 1 << 20);
            break;
        case OPT_CLIP:
            tc.clip = cli_parse_double(optarg, "--clip", 0, 1e12);
            break;
        case 's':
            tc.seed = cli_parse_seed(optarg, "--seed");
            break;
        case 'j':
            threads = cli_parse_threads(optarg, "--threads");
            break;
        case OPT_MEMBER:
            cols.member = optarg;
            break;
        case OPT_TIME:
            cols.time = optarg;
            break;
        case OPT_LABEL:
            cols.label = optarg;
            break;
        case OPT_META:
            cols.meta = optarg;
            break;
        case OPT_FEATURES:
            cols.features = optarg;
            break;
        case 'q':
            sp.query_frac = cli_parse_double(optarg, "--query-frac", 0, 1);
            break;
        case OPT_SINCE:
            sp.use_since = 1;
            sp.query_since = cli_parse_double(optarg, "--query-since", -1e300, 1e300);
            break;
        case OPT_VALID:
            valid_path = optarg;
            break;
        case OPT_VALID_FRAC:
            valid_frac = cli_parse_double(optarg, "--valid-frac", 0, 1);
            break;
        case OPT_BUCKETS:
            buckets = optarg;
            break;
        case 'o':
            output = optarg;
            break;
        case OPT_CKPT:
            ck.path = optarg;
            break;
        case OPT_CKPT_EVERY:
            ck.every = cli_parse_long(optarg, "--checkpoint-every", 1, 1LL << 50);
            break;
        case OPT_RESUME:
            resume_path = optarg;
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
    if (!output)
        cli_usage_error("no model file: -o MODEL is required");
    if (argc - optind > 1)
        cli_usage_error("one input file at most (held-out members go in --valid)");
    const char *input = optind < argc ? argv[optind] : "-";
    if (valid_path && strcmp(valid_path, "-") == 0 && strcmp(input, "-") == 0)
        cli_usage_error("the input and --valid cannot both be standard input");
    double *edges = NULL;
    int nedges = metrics_parse_edges(buckets, &edges, &e);
    if (nedges < 0)
        cli_usage_error("--buckets: %s", e.msg);
    tc.bucket_edges = edges;
    tc.nbuckets = nedges;
    tc.threads = threads;
    if (ck.every && !ck.path)
        cli_usage_error("--checkpoint-every needs --checkpoint FILE");
    /* from here a stop request is a request: training checks it after each
     * step (one during loading stops after the first) */
    if (ck.path)
        ckpt_catch_signals();

    int widths[16];
    if (nn_parse_hidden(hp.meta_hidden, widths, 16, &e) < 0)
        cli_usage_error("--meta-hidden: %s", e.msg);
    if (nn_parse_hidden(hp.global_hidden, widths, 16, &e) < 0)
        cli_usage_error("--global-hidden: %s", e.msg);

    persona_data train, valid;
    if (valid_path) {
        if (persona_data_load(&train, input, &cols, &sp, PERSONA_ALL, 0, &e) < 0)
            cli_die("%s", e.msg);
        /* the held-out file by the training input's exact column names */
        persona_colspec exact;
        persona_colspec_exact(&exact, &train);
        if (persona_data_load(&valid, valid_path, &exact, &sp, PERSONA_ALL, 0, &e) < 0)
            cli_die("%s", e.msg);
        persona_colspec_free(&exact);
    } else {
        /* one pass would need all rows in memory at once anyway; reading
         * twice keeps stdin out of it */
        if (strcmp(input, "-") == 0)
            cli_usage_error("with input on stdin, give the held-out members with --valid FILE");
        if (persona_data_load(&train, input, &cols, &sp, PERSONA_TRAIN_PART, valid_frac, &e) < 0 ||
            persona_data_load(&valid, input, &cols, &sp, PERSONA_VALID_PART, valid_frac, &e) < 0)
            cli_die("%s", e.msg);
    }
    if (train.nmembers == 0)
        cli_die("%s: no training members", input);
    cli_info("%d training members (%zu rows), %d held-out members (%zu rows), %d thread%s", train.nmembers,
             train.nrows, valid.nmembers, valid.nrows, threads, threads == 1 ? "" : "s");
    persona_model pm;
    if (persona_model_init_data(&pm, &hp, &train, &e) < 0)
        cli_usage_error("%s", e.msg);
    persona_model_init_weights(&pm, tc.seed);

    /* checkpoints: every option that shapes training, and the data */
    snprintf(ck.config, sizeof ck.config,
             "mode=%s embed=%d meta=%s global=%s activation=%s inner=%d/%.17g/%d ids=%d/%d epochs=%d meta_batch=%d "
             "batch=%d lr=%.17g clip=%.17g seed=%llu train=%016llx valid=%016llx",
             persona_mode_name(hp.mode), hp.e_dim, hp.meta_hidden, hp.global_hidden, nn_act_name(hp.act),
             hp.inner.steps, hp.inner.alpha, hp.inner.order, hp.id_buckets, hp.id_dim, tc.epochs, tc.meta_batch,
             tc.batch, tc.lr, tc.clip, (unsigned long long)tc.seed, (unsigned long long)persona_data_hash(&train),
             (unsigned long long)persona_data_hash(&valid));
    model *resume = NULL;
    if (resume_path && !(resume = ckpt_read(resume_path, &e)))
        cli_die("%s", e.msg);
    ck.resume = resume;
    if (ck.path || resume)
        tc.ckpt = &ck;
    persona_eval ev;
    double t0 = cli_now();
    int trc = persona_train(&pm, &train, &valid, &tc, &ev, &e);
    if (trc == CKPT_STOPPED) {
        model_free(resume);
        persona_model_free(&pm);
        persona_data_free(&train);
        persona_data_free(&valid);
        free(edges);
        return 128 + ckpt_stop_signal();
    }
    if (trc < 0) {
        if (resume)
            cli_die("%s: %s", resume_path, e.msg);
        cli_die("%s", e.msg);
    }
    model_free(resume);
    cli_info("trained in %.1f s", cli_now() - t0);

    model *m = persona_model_to_file(&pm, &e);
    if (!m)
        cli_die("%s", e.msg);
    model_meta_set_int(m, "seed", (long long)tc.seed);
    model_meta_set_int(m, "epochs", tc.epochs);
    model_meta_set_int(m, "meta_batch", tc.meta_batch);
    model_meta_set_int(m, "batch", tc.batch);
    model_meta_set_double(m, "lr", tc.lr);
    model_meta_set_double(m, "clip", tc.clip);
    if (sp.use_since)
        model_meta_set_double(m, "query_since", sp.query_since);
    else
        model_meta_set_double(m, "query_frac", sp.query_frac);
    model_meta_set(m, "valid", valid_path ? valid_path : "hash");
    if (!valid_path)
        model_meta_set_double(m, "valid_frac", valid_frac);
    char writer[64];
    snprintf(writer, sizeof writer, "maml-train %s", RECSTAGE_VERSION);
    if (model_write(m, output, writer, &e) < 0)
        cli_die("%s", e.msg);
    model_free(m);

    printf("mode\tbucket\tmembers\trows\tauc\tlogloss\n");
    for (int i = 0; i < ev.nrows; i++) {
        const persona_eval_row *r = &ev.row[i];
        char auc[40], ll[40];
        if (isnan(r->auc))
            snprintf(auc, sizeof auc, "NA");
        else
            snprintf(auc, sizeof auc, "%.6f", r->auc);
        snprintf(ll, sizeof ll, "%.6f", r->logloss);
        printf("%s\t%s\t%lld\t%lld\t%s\t%s\n", persona_mode_name(hp.mode), r->bucket, r->members, r->rows, auc, ll);
    }
    persona_model_free(&pm);
    persona_data_free(&train);
    persona_data_free(&valid);
    free(edges);
    return CLI_OK;
}
