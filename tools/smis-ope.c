/*
 * smis-ope - evaluate a target policy offline on logged transitions:
 * state-marginalized importance sampling and the usual comparison
 * estimators, with bootstrap intervals, in one pass; see smis-ope(1).
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ope.h"
#include "qlearn.h"
#include "rec.h"
#include "banned.h"

static const char usage_text[] =
    "Usage: smis-ope [OPTION]... [FILE]\n"
    "Estimate the value of a target policy from transitions logged under another\n"
    "(episode t s_* action propensity r_*, grouped by episode) that carry the\n"
    "target's probabilities pi_0..pi_{A-1} (from policy-act), or of the policy of\n"
    "a Q model (-m).  Prints estimator, objective, value, stderr, ci_low, ci_high\n"
    "and ess for every estimator and objective.\n"
    "With no FILE, or when FILE is -, read standard input.\n"
    "\n"
    "Target policy:\n"
    "  -m, --model MODEL        instead of pi_* columns: the policy of a\n"
    "                           cql-ddqn-train model (greedy by default)\n"
    "  -e, --epsilon E          with -m: epsilon-greedy\n"
    "  -T, --temperature T      with -m: softmax of Q/T\n"
    "Estimates:\n"
    "  -E, --estimators LIST    behavior, onestep, tis, pdis, wpdis, smis, dr\n"
    "                           or all [all]\n"
    "  -g, --gamma G            discount per step [1]\n"
    "  -w, --weights LIST       the weighted objective NAME=W,... [with -m: the\n"
    "                           model's weights; else none]\n"
    "      --marginal LIST      smis: marginal state features, names or globs\n"
    "                           [s_badge,s_sent24h]\n"
    "      --bins N             smis: bins per marginal feature [10]\n"
    "      --binning HOW        quantile or uniform [quantile]\n"
    "      --edge-rows N        fit the bin edges on the first N rows [100000]\n"
    "      --strict-ratio       pi/mu also on rows logged with propensity 1\n"
    "Intervals:\n"
    "  -B, --bootstrap N        Poisson bootstrap replicates, 0: none [200]\n"
    "      --level L            interval level [0.95]\n"
    "  -s, --seed S             seed of the bootstrap [1]\n"
    "Data:\n"
    "      --episode-col NAME   [episode]\n"
    "      --time-col NAME      [t]\n"
    "      --action-col NAME    [action]\n"
    "      --propensity-col NAME [propensity]\n"
    "      --rewards LIST       reward objectives, names or globs [r_*]\n"
    "Output:\n"
    "  -b, --binary             write the binary record stream\n"
    "  -o, --output FILE        write FILE atomically (gzip if it ends in .gz)\n"
    "      --progress           progress on stderr even when it is not a terminal\n"
    "      --quiet              print nothing but errors\n"
    "      --help               display this help and exit\n"
    "      --version            output version information and exit\n"
    "\n"
    "Example:\n"
    "  policy-act -m q.model -a greedy data-samples/notif.tsv | smis-ope -w r_visit=1\n";

static void put_num(rec_writer *w, int col, double v)
{
    if (isnan(v)) {
        rec_put_text(w, col, "", 0);
        return;
    }
    char buf[40];
    int n = rec_format_f64(buf, sizeof buf, v);
    rec_put_text(w, col, buf, (size_t)n);
}

static int write_report(const ope_report *rep, const char *output, int binary, errctx *e)
{
    static const char *const names[] = {"estimator", "objective", "value", "stderr", "ci_low", "ci_high", "ess"};
    rec_writer *w = rec_writer_open(output, binary, e);
    if (!w)
        return -1;
    if (rec_writer_header(w, 7, names, e) < 0)
        goto fail;
    for (int i = 0; i < rep->nres; i++) {
        const ope_result *r = &rep->res[i];
        const char *est = ope_est_name(r->est), *obj = rep->obj_names[r->obj];
        rec_put_str(w, 0, est, strlen(est));
        rec_put_str(w, 1, obj, strlen(obj));
        put_num(w, 2, r->value);
        put_num(w, 3, r->se);
        put_num(w, 4, r->lo);
        put_num(w, 5, r->hi);
        put_num(w, 6, r->ess);
        if (rec_end_row(w, e) < 0)
            goto fail;
    }
    return rec_writer_close(w, e);
fail:
    rec_writer_abort(w);
    return -1;
}

int main(int argc, char **argv)
{
    cli_init_argv(argv);
    ope_run_opts o;
    memset(&o, 0, sizeof o);
    qlearn_colspec_defaults(&o.cols);
    o.marginal = "s_badge,s_sent24h";
    o.bins = 10;
    o.binning = OPE_QUANTILE;
    o.edge_rows = 100000;
    o.cfg.gamma = 1;
    o.cfg.estimators = (1u << OPE_NEST) - 1;
    o.cfg.bootstrap = 200;
    o.cfg.seed = 1;
    o.cfg.level = 0.95;
    const char *model_path = NULL, *output = NULL;
    int binary = 0, have_eps = 0, have_temp = 0;
    enum {
        OPT_MARGINAL = 256, OPT_BINS, OPT_BINNING, OPT_EDGE_ROWS, OPT_STRICT, OPT_LEVEL, OPT_EPISODE, OPT_TIME,
        OPT_ACTION, OPT_PROP, OPT_REWARDS, OPT_PROGRESS, OPT_QUIET, OPT_HELP, OPT_VERSION
    };
    static const struct option longopts[] = {
        {"model", required_argument, NULL, 'm'},
        {"epsilon", required_argument, NULL, 'e'},
        {"temperature", required_argument, NULL, 'T'},
        {"estimators", required_argument, NULL, 'E'},
        {"gamma", required_argument, NULL, 'g'},
        {"weights", required_argument, NULL, 'w'},
        {"marginal", required_argument, NULL, OPT_MARGINAL},
        {"bins", required_argument, NULL, OPT_BINS},
        {"binning", required_argument, NULL, OPT_BINNING},
        {"edge-rows", required_argument, NULL, OPT_EDGE_ROWS},
        {"strict-ratio", no_argument, NULL, OPT_STRICT},
        {"bootstrap", required_argument, NULL, 'B'},
        {"level", required_argument, NULL, OPT_LEVEL},
        {"seed", required_argument, NULL, 's'},
        {"episode-col", required_argument, NULL, OPT_EPISODE},
        {"time-col", required_argument, NULL, OPT_TIME},
        {"action-col", required_argument, NULL, OPT_ACTION},
        {"propensity-col", required_argument, NULL, OPT_PROP},
        {"rewards", required_argument, NULL, OPT_REWARDS},
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
    while ((opt = getopt_long(argc, argv, "m:e:T:E:g:w:B:s:bo:", longopts, NULL)) != -1) {
        switch (opt) {
        case 'm':
            model_path = optarg;
            break;
        case 'e':
            o.policy.epsilon = cli_parse_double(optarg, "--epsilon", 0, 1);
            have_eps = 1;
            break;
        case 'T':
            o.policy.temperature = cli_parse_double(optarg, "--temperature", 0, 1e30);
            if (!(o.policy.temperature > 0))
                cli_usage_error("invalid value '%s' for --temperature: must be above 0", optarg);
            o.policy.softmax = 1;
            have_temp = 1;
            break;
        case 'E':
            if (ope_est_parse(optarg, &o.cfg.estimators, &e) < 0)
                cli_usage_error("--estimators: %s", e.msg);
            o.dr_required = strcmp(optarg, "all") != 0 && ((o.cfg.estimators >> OPE_DR) & 1);
            break;
        case 'g':
            o.cfg.gamma = cli_parse_double(optarg, "--gamma", 0, 1);
            break;
        case 'w': {
            qlearn_weights qw;
            if (qlearn_weights_parse(optarg, &qw, &e) < 0)
                cli_usage_error("invalid value '%s' for --weights: %s", optarg, e.msg);
            qlearn_weights_free(&qw);
            o.weights = optarg;
            break;
        }
        case OPT_MARGINAL:
            if (!*optarg)
                cli_usage_error("--marginal: the list is empty");
            o.marginal = optarg;
            break;
        case OPT_BINS:
            o.bins = (int)cli_parse_long(optarg, "--bins", 1, 1 << 16);
            break;
        case OPT_BINNING:
            if (strcmp(optarg, "quantile") == 0)
                o.binning = OPE_QUANTILE;
            else if (strcmp(optarg, "uniform") == 0)
                o.binning = OPE_UNIFORM;
            else
                cli_usage_error("invalid value '%s' for --binning: quantile or uniform", optarg);
            break;
        case OPT_EDGE_ROWS:
            o.edge_rows = cli_parse_long(optarg, "--edge-rows", 1, 1LL << 40);
            break;
        case OPT_STRICT:
            o.cfg.strict_ratio = 1;
            break;
        case 'B':
            o.cfg.bootstrap = (int)cli_parse_long(optarg, "--bootstrap", 0, OPE_MAX_BOOTSTRAP);
            break;
        case OPT_LEVEL:
            o.cfg.level = cli_parse_double(optarg, "--level", 0, 1);
            if (!(o.cfg.level > 0 && o.cfg.level < 1))
                cli_usage_error("invalid value '%s' for --level: must be between 0 and 1", optarg);
            break;
        case 's':
            o.cfg.seed = cli_parse_seed(optarg, "--seed");
            break;
        case OPT_EPISODE:
            o.cols.episode = optarg;
            break;
        case OPT_TIME:
            o.cols.time = optarg;
            break;
        case OPT_ACTION:
            o.cols.action = optarg;
            break;
        case OPT_PROP:
            o.cols.propensity = optarg;
            break;
        case OPT_REWARDS:
            o.cols.rewards = optarg;
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
    if (argc - optind > 1)
        cli_usage_error("one input at most (%d given)", argc - optind);
    if ((have_eps || have_temp) && !model_path)
        cli_usage_error("--epsilon and --temperature go with -m MODEL (policy-act applies them otherwise)");
    if (have_eps && have_temp)
        cli_usage_error("--epsilon and --temperature are exclusive (epsilon-greedy or softmax)");
    o.input = optind < argc ? argv[optind] : NULL;

    qlearn_model qm;
    if (model_path) {
        if (qlearn_model_load(&qm, model_path, &e) < 0)
            cli_die("%s", e.msg);
        o.model = &qm;
    }
    ope_report rep;
    if (ope_run(&o, &rep, &e) < 0)
        cli_die("%s", e.msg);
    if (rep.dr_skipped)
        cli_info("dr left out: %s", rep.dr_skipped);
    cli_info("%llu episodes, %llu rows, %d actions; smis on %d marginal feature%s in %u joint bins; "
             "%d bootstrap replicates; %.1f MB of sums",
             (unsigned long long)rep.episodes, (unsigned long long)rep.rows, rep.n_actions, rep.nmarg,
             rep.nmarg == 1 ? "" : "s", rep.nbins, o.cfg.bootstrap, (double)rep.bytes / 1e6);
    if (write_report(&rep, output, binary, &e) < 0)
        cli_die("%s", e.msg);
    ope_report_free(&rep);
    if (model_path)
        qlearn_model_free(&qm);
    return CLI_OK;
}
