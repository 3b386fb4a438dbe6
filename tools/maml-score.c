/*
 * maml-score - score rows with a personalization model, joining exported
 * meta embeddings by member; see maml-score(1).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "persona.h"
#include "banned.h"

static const char usage_text[] =
    "Usage: maml-score -m MODEL [-e EMBEDDINGS] [OPTION]... [FILE]...\n"
    "Append `score`, the click probability, to every input row.  A maml model\n"
    "uses each member's exported meta embedding (meta-embed-export); a member\n"
    "without one, or exported from no rows, gets the unadapted embedding of its\n"
    "row's own member features.  global and wide-deep models need no embeddings.\n"
    "With no FILE, or when FILE is -, read standard input.\n"
    "\n"
    "  -m, --model MODEL        a model from maml-train (required)\n"
    "  -e, --embeddings FILE    member_id n_rows e_* rows from meta-embed-export\n"
    "  -q, --query-frac F       score only each member's newest fraction F (the\n"
    "                           query set of maml-train's split; grouped input)\n"
    "      --query-since TS     score only rows with ts >= TS (grouped input)\n"
    "      --batch N            rows per matrix product [256]\n"
    "  -j, --threads N          worker threads, 0: all cores [0]; with -q or\n"
    "                           --query-since, members go one at a time\n"
    "  -b, --binary             write the binary record stream\n"
    "  -o, --output FILE        write FILE atomically (gzip if it ends in .gz)\n"
    "      --progress           show progress on stderr even when it is not a terminal\n"
    "      --quiet              print nothing but errors\n"
    "      --help               display this help and exit\n"
    "      --version            output version information and exit\n"
    "\n"
    "Example:\n"
    "  maml-score -m data-samples/maml.model -e /tmp/emb.tsv data-samples/members.tsv\n";

int main(int argc, char **argv)
{
    cli_init_argv(argv);
    persona_score_opts o;
    memset(&o, 0, sizeof o);
    o.batch = 256;
    o.threads = cli_default_threads();
    const char *model_path = NULL;
    enum { OPT_QSINCE = 256, OPT_BATCH, OPT_PROGRESS, OPT_QUIET, OPT_HELP, OPT_VERSION };
    static const struct option longopts[] = {
        {"model", required_argument, NULL, 'm'},
        {"embeddings", required_argument, NULL, 'e'},
        {"query-frac", required_argument, NULL, 'q'},
        {"query-since", required_argument, NULL, OPT_QSINCE},
        {"batch", required_argument, NULL, OPT_BATCH},
        {"threads", required_argument, NULL, 'j'},
        {"binary", no_argument, NULL, 'b'},
        {"output", required_argument, NULL, 'o'},
        {"progress", no_argument, NULL, OPT_PROGRESS},
        {"quiet", no_argument, NULL, OPT_QUIET},
        {"help", no_argument, NULL, OPT_HELP},
        {"version", no_argument, NULL, OPT_VERSION},
        {NULL, 0, NULL, 0},
    };
    int opt;
    while ((opt = getopt_long(argc, argv, "m:e:q:j:bo:", longopts, NULL)) != -1) {
        switch (opt) {
        case 'm':
            model_path = optarg;
            break;
        case 'e':
            o.embeddings = optarg;
            break;
        case 'q':
            o.use_split = 1;
            o.split.query_frac = cli_parse_double(optarg, "--query-frac", 0, 1);
            break;
        case OPT_QSINCE:
            o.use_split = 1;
            o.split.use_since = 1;
            o.split.query_since = cli_parse_double(optarg, "--query-since", -1e300, 1e300);
            break;
        case OPT_BATCH:
            o.batch = (int)cli_parse_long(optarg, "--batch", 1, 1 << 20);
            break;
        case 'j':
            o.threads = cli_parse_threads(optarg, "--threads");
            break;
        case 'b':
            o.binary = 1;
            break;
        case 'o':
            o.output = optarg;
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
    if (!model_path)
        cli_usage_error("no model: -m MODEL is required");
    o.inputs = (const char *const *)argv + optind;
    o.ninputs = argc - optind;
    errctx e;
    persona_model pm;
    if (persona_model_load(&pm, model_path, &e) < 0)
        cli_die("%s", e.msg);
    if (persona_score_stream(&pm, &o, &e) < 0)
        cli_die("%s", e.msg);
    persona_model_free(&pm);
    return CLI_OK;
}
