/*
 * rec-metrics - AUC, log loss, calibration and counts of scored rows,
 * overall and by group, with bootstrap intervals; see rec-metrics(1).
 *
 * The metrics are in common/metrics.c, the reading and the table in
 * common/recmetrics.c; this file parses the options.
 */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "metrics.h"
#include "recmetrics.h"
#include "banned.h"

static const char usage_text[] =
    "Usage: rec-metrics [OPTION]... [FILE]...\n"
    "AUC, log loss, calibration and counts of scored rows, overall and by group.\n"
    "With no FILE, or when FILE is -, read standard input.\n"
    "\n"
    "  -b, --by COL               one output row per value of COL, then 'all'\n"
    "  -B, --bootstrap N          add a 95% bootstrap interval of the AUC (auc_lo, auc_hi)\n"
    "                             from N replicates (default 0: none)\n"
    "  -e, --bucket-edges LIST    with --by: group by numeric COL in buckets with these\n"
    "                             ascending integer lower edges (e.g. 1,6,21,101)\n"
    "  -l, --label-col COL        the label column, values 0 or 1 (default label)\n"
    "  -o, --output FILE          write FILE atomically (gzip if it ends in .gz)\n"
    "      --progress             show progress on stderr even when it is not a terminal\n"
    "  -q, --quiet                print nothing but errors\n"
    "  -s, --score-col COL        the score column, probabilities in [0, 1] (default score)\n"
    "      --seed S               seed of the bootstrap (default 1)\n"
    "      --help                 display this help and exit\n"
    "      --version              output version information and exit\n"
    "\n"
    "Output: TSV with columns group rows positives auc logloss calibration\n"
    "[auc_lo auc_hi]; NA where a value is undefined (AUC of one class,\n"
    "calibration without positives).\n"
    "\n"
    "Examples:\n"
    "  rec-metrics data-samples/scores.tsv\n"
    "  rec-metrics --by member_id data-samples/scores.tsv\n"
    "  rec-metrics --by bucket_rows --bucket-edges 1,6,21,101 data-samples/scores.tsv\n"
    "  rec-metrics --bootstrap 1000 --seed 7 -o metrics.tsv data-samples/scores.tsv\n";

int main(int argc, char **argv)
{
    cli_init(argv[0]);
    recmetrics_opts o;
    memset(&o, 0, sizeof o);
    o.label_col = "label";
    o.score_col = "score";
    o.seed = 1;
    const char *edge_list = NULL;
    enum { OPT_PROGRESS = 256, OPT_SEED, OPT_HELP, OPT_VERSION };
    static const struct option longopts[] = {
        {"by", required_argument, NULL, 'b'},
        {"bootstrap", required_argument, NULL, 'B'},
        {"bucket-edges", required_argument, NULL, 'e'},
        {"label-col", required_argument, NULL, 'l'},
        {"output", required_argument, NULL, 'o'},
        {"progress", no_argument, NULL, OPT_PROGRESS},
        {"quiet", no_argument, NULL, 'q'},
        {"score-col", required_argument, NULL, 's'},
        {"seed", required_argument, NULL, OPT_SEED},
        {"help", no_argument, NULL, OPT_HELP},
        {"version", no_argument, NULL, OPT_VERSION},
        {NULL, 0, NULL, 0},
    };
    int opt;
    while ((opt = getopt_long(argc, argv, "b:B:e:l:o:qs:", longopts, NULL)) != -1) {
        switch (opt) {
        case 'b':
            o.by_col = optarg;
            break;
        case 'B':
            o.bootstrap = (int)cli_parse_long(optarg, "--bootstrap", 0, 10000000);
            break;
        case 'e':
            edge_list = optarg;
            break;
        case 'l':
            o.label_col = optarg;
            break;
        case 'o':
            o.output = optarg;
            break;
        case OPT_PROGRESS:
            cli_verbosity = 1;
            break;
        case 'q':
            cli_verbosity = -1;
            break;
        case 's':
            o.score_col = optarg;
            break;
        case OPT_SEED:
            o.seed = cli_parse_seed(optarg, "--seed");
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
    double *edges = NULL;
    if (edge_list) {
        if (!o.by_col)
            cli_usage_error("--bucket-edges needs --by COL (the column to bucket)");
        errctx pe;
        o.nedges = metrics_parse_edges(edge_list, &edges, &pe);
        if (o.nedges < 0)
            cli_usage_error("invalid value '%s' for --bucket-edges: %s", edge_list, pe.msg);
        o.edges = edges;
    }
    o.inputs = (const char *const *)argv + optind;
    o.ninputs = argc - optind;
    errctx e;
    int rc = recmetrics_run(&o, &e);
    free(edges);
    if (rc < 0)
        cli_die("%s", e.msg);
    return CLI_OK;
}
