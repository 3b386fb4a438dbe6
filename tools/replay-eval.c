/*
 * replay-eval - estimate the value of new ranked lists from logged lists
 * by replay, or mark the Pareto-optimal rows of a table; see
 * replay-eval(1).
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "rec.h"
#include "replay.h"
#include "banned.h"

static const char usage_text[] =
    "Usage: replay-eval [OPTION]... LOGGED NEW\n"
    "  or:  replay-eval --pareto [--maximize LIST] [--minimize LIST] [FILE]\n"
    "Estimate what new lists (request_id slot item_id [pi]) would earn from logged\n"
    "lists (every candidate of each request, the shown ones with slot, labels and\n"
    "propensity), both grouped by request in the same order: per objective the\n"
    "value per request, its interval and the requests matched; then the diversity\n"
    "and freshness of the new lists.  NEW may be - for standard input.\n"
    "With --pareto, append to a table a column pareto: 1 for its non-dominated rows.\n"
    "\n"
    "Replay:\n"
    "      --match HOW          prefix (slot k counts when slots 1..k agree), slot\n"
    "                           (the item at slot k alone) or list [prefix]\n"
    "      --self-normalize     divide by the sum of the weights, slot by slot\n"
    "      --objectives LIST    label columns [click,save]\n"
    "  -B, --bootstrap N        Poisson bootstrap replicates, 0: none [200]\n"
    "      --level L            interval level [0.95]\n"
    "  -s, --seed S             seed of the bootstrap [1]\n"
    "      --request-col NAME   [request_id]\n"
    "      --item-col NAME      [item_id]\n"
    "      --slot-col NAME      [slot]\n"
    "      --category-col NAME  [category]\n"
    "      --age-col NAME       [age]\n"
    "      --propensity-col NAME [propensity]\n"
    "      --pi-col NAME        the new lists' probabilities, if present [pi]\n"
    "      --features LIST      item features for the similarity; '' for none [f_*]\n"
    "Pareto:\n"
    "      --pareto             mark the non-dominated rows of a table\n"
    "      --maximize LIST      columns to maximize, names or globs\n"
    "      --minimize LIST      columns to minimize, names or globs\n"
    "Output:\n"
    "  -b, --binary             write the binary record stream\n"
    "  -o, --output FILE        write FILE atomically (gzip if it ends in .gz)\n"
    "      --progress           progress on stderr even when it is not a terminal\n"
    "      --quiet              print nothing but errors\n"
    "      --help               display this help and exit\n"
    "      --version            output version information and exit\n"
    "\n"
    "Examples:\n"
    "  multislot-sim --logging uniform -o log.tsv\n"
    "  sga-rerank --baseline score_click -k 5 log.tsv > new.tsv\n"
    "  replay-eval log.tsv new.tsv\n";

static void put_num(rec_writer *w, int col, double v)
{
    char buf[40];
    int n = isnan(v) ? 0 : rec_format_f64(buf, sizeof buf, v);
    rec_put_text(w, col, buf, (size_t)n);
}

int main(int argc, char **argv)
{
    cli_init_argv(argv);
    replay_cfg c;
    memset(&c, 0, sizeof c);
    rerank_cols_defaults(&c.cols);
    c.match = REPLAY_PREFIX;
    c.bootstrap = 200;
    c.seed = 1;
    c.level = 0.95;
    c.propensity = "propensity";
    c.pi = "pi";
    const char *objectives = "click,save", *output = NULL, *maximize = NULL, *minimize = NULL;
    int binary = 0, pareto = 0;
    enum {
        OPT_MATCH = 256, OPT_SN, OPT_OBJ, OPT_LEVEL, OPT_REQ, OPT_ITEM, OPT_SLOT, OPT_CAT, OPT_AGE, OPT_PROP, OPT_PI,
        OPT_FEAT, OPT_PARETO, OPT_MAX, OPT_MIN, OPT_PROGRESS, OPT_QUIET, OPT_HELP, OPT_VERSION
    };
    static const struct option longopts[] = {
        {"match", required_argument, NULL, OPT_MATCH},
        {"self-normalize", no_argument, NULL, OPT_SN},
        {"objectives", required_argument, NULL, OPT_OBJ},
        {"bootstrap", required_argument, NULL, 'B'},
        {"level", required_argument, NULL, OPT_LEVEL},
        {"seed", required_argument, NULL, 's'},
        {"request-col", required_argument, NULL, OPT_REQ},
        {"item-col", required_argument, NULL, OPT_ITEM},
        {"slot-col", required_argument, NULL, OPT_SLOT},
        {"category-col", required_argument, NULL, OPT_CAT},
        {"age-col", required_argument, NULL, OPT_AGE},
        {"propensity-col", required_argument, NULL, OPT_PROP},
        {"pi-col", required_argument, NULL, OPT_PI},
        {"features", required_argument, NULL, OPT_FEAT},
        {"pareto", no_argument, NULL, OPT_PARETO},
        {"maximize", required_argument, NULL, OPT_MAX},
        {"minimize", required_argument, NULL, OPT_MIN},
        {"binary", no_argument, NULL, 'b'},
        {"output", required_argument, NULL, 'o'},
        {"progress", no_argument, NULL, OPT_PROGRESS},
        {"quiet", no_argument, NULL, OPT_QUIET},
        {"help", no_argument, NULL, OPT_HELP},
        {"version", no_argument, NULL, OPT_VERSION},
        {NULL, 0, NULL, 0},
    };
    int opt;
    while ((opt = getopt_long(argc, argv, "B:s:bo:", longopts, NULL)) != -1) {
        switch (opt) {
        case OPT_MATCH:
            if (strcmp(optarg, "prefix") == 0)
                c.match = REPLAY_PREFIX;
            else if (strcmp(optarg, "slot") == 0)
                c.match = REPLAY_SLOT;
            else if (strcmp(optarg, "list") == 0)
                c.match = REPLAY_LIST;
            else
                cli_usage_error("invalid value '%s' for --match: prefix, slot or list", optarg);
            break;
        case OPT_SN:
            c.self_norm = 1;
            break;
        case OPT_OBJ:
            objectives = optarg;
            break;
        case 'B':
            c.bootstrap = (int)cli_parse_long(optarg, "--bootstrap", 0, 100000);
            break;
        case OPT_LEVEL:
            c.level = cli_parse_double(optarg, "--level", 0, 1);
            if (!(c.level > 0 && c.level < 1))
                cli_usage_error("invalid value '%s' for --level: must be between 0 and 1", optarg);
            break;
        case 's':
            c.seed = cli_parse_seed(optarg, "--seed");
            break;
        case OPT_REQ:
            c.cols.request = optarg;
            break;
        case OPT_ITEM:
            c.cols.item = optarg;
            break;
        case OPT_SLOT:
            c.cols.slot = optarg;
            break;
        case OPT_CAT:
            c.cols.category = optarg;
            break;
        case OPT_AGE:
            c.cols.age = optarg;
            break;
        case OPT_PROP:
            c.propensity = optarg;
            break;
        case OPT_PI:
            c.pi = optarg;
            break;
        case OPT_FEAT:
            c.cols.features = optarg;
            break;
        case OPT_PARETO:
            pareto = 1;
            break;
        case OPT_MAX:
            maximize = optarg;
            break;
        case OPT_MIN:
            minimize = optarg;
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
    errctx e;
    if (pareto) {
        if (!maximize && !minimize)
            cli_usage_error("--pareto needs --maximize or --minimize");
        if (argc - optind > 1)
            cli_usage_error("--pareto reads one table (%d given)", argc - optind);
        if (pareto_table(optind < argc ? argv[optind] : NULL, maximize, minimize, output, binary, &e) < 0)
            cli_die("%s", e.msg);
        return CLI_OK;
    }
    if (maximize || minimize)
        cli_usage_error("--maximize and --minimize go with --pareto");
    if (argc - optind != 2)
        cli_usage_error("two inputs are needed, the logged lists and the new lists (%d given)", argc - optind);
    const char *log_path = argv[optind], *new_path = argv[optind + 1];
    if (strcmp(log_path, "-") == 0)
        cli_usage_error("the logged lists must be a file (the new lists may come from standard input)");
    int O;
    char **obj = cli_parse_names(objectives, "--objectives", &O);
    if (O > RERANK_MAX_OBJ)
        cli_usage_error("--objectives: %d names, at most %d", O, RERANK_MAX_OBJ);
    c.obj = (const char *const *)obj;
    c.O = O;
    replay_row *rows;
    int n;
    if (replay_run(log_path, new_path, &c, &rows, &n, &e) < 0)
        cli_die("%s", e.msg);
    static const char *const names[] = {"objective", "value", "stderr", "ci_low", "ci_high", "matched", "requests"};
    rec_writer *w = rec_writer_open(output, binary, &e);
    if (!w || rec_writer_header(w, 7, names, &e) < 0)
        cli_die("%s", e.msg);
    for (int i = 0; i < n; i++) {
        rec_put_str(w, 0, rows[i].name, strlen(rows[i].name));
        put_num(w, 1, rows[i].value);
        put_num(w, 2, rows[i].se);
        put_num(w, 3, rows[i].lo);
        put_num(w, 4, rows[i].hi);
        rec_put_i64(w, 5, (int64_t)rows[i].matched);
        rec_put_i64(w, 6, (int64_t)rows[i].requests);
        if (rec_end_row(w, &e) < 0) {
            rec_writer_abort(w);
            cli_die("%s", e.msg);
        }
    }
    if (rec_writer_close(w, &e) < 0)
        cli_die("%s", e.msg);
    if (n > 0 && rows[0].matched == 0)
        cli_warn("no request matched: the values are 0 for want of evidence, not estimates (use fewer slots, "
                 "more requests, or prefix matching)");
    if (n > 0)
        cli_info("%llu requests replayed, %llu matched (%s matching%s)", (unsigned long long)rows[0].requests,
                 (unsigned long long)rows[0].matched,
                 c.match == REPLAY_PREFIX ? "prefix" : c.match == REPLAY_SLOT ? "slot" : "list",
                 c.self_norm ? ", self-normalised" : "");
    free(rows);
    for (int j = 0; j < O; j++)
        free(obj[j]);
    free(obj);
    return CLI_OK;
}
