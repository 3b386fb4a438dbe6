/*
 * meta-embed-export - adapt a meta-learned meta block on each member's
 * recent rows and write one meta embedding per member; see
 * meta-embed-export(1).
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "persona.h"
#include "banned.h"

static const char usage_text[] =
    "Usage: meta-embed-export -m MODEL [OPTION]... [FILE]...\n"
    "Adapt the model's meta block on each member's rows (K inner steps, as in\n"
    "training) and write member_id, n_rows, e_0 ... e_{d-1}: one row per member.\n"
    "Input is grouped by member.  With no FILE, or when FILE is -, read standard input.\n"
    "\n"
    "  -m, --model MODEL      a maml or finetune model from maml-train (required)\n"
    "      --since TS         adapt on rows with ts >= TS only (the recent window)\n"
    "  -q, --query-frac F     leave out each member's newest fraction F (the query\n"
    "                         set of maml-train's split): adapt on the support rows\n"
    "      --query-since TS   leave out rows with ts >= TS instead\n"
    "  -j, --threads N        worker threads, 0: all cores [0]\n"
    "  -b, --binary           write the binary record stream\n"
    "  -o, --output FILE      write FILE atomically (gzip if it ends in .gz)\n"
    "      --progress         progress on stderr even when it is not a terminal\n"
    "      --quiet            print nothing but errors\n"
    "      --help             display this help and exit\n"
    "      --version          output version information and exit\n"
    "\n"
    "Example:\n"
    "  meta-embed-export -m data-samples/maml.model data-samples/members.tsv\n";

int main(int argc, char **argv)
{
    cli_init_argv(argv);
    persona_export_opts o;
    memset(&o, 0, sizeof o);
    o.since = -INFINITY;
    o.threads = cli_default_threads();
    const char *model_path = NULL;
    enum { OPT_SINCE = 256, OPT_QSINCE, OPT_PROGRESS, OPT_QUIET, OPT_HELP, OPT_VERSION };
    static const struct option longopts[] = {
        {"model", required_argument, NULL, 'm'},
        {"since", required_argument, NULL, OPT_SINCE},
        {"query-frac", required_argument, NULL, 'q'},
        {"query-since", required_argument, NULL, OPT_QSINCE},
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
    while ((opt = getopt_long(argc, argv, "m:q:j:bo:", longopts, NULL)) != -1) {
        switch (opt) {
        case 'm':
            model_path = optarg;
            break;
        case OPT_SINCE:
            o.since = cli_parse_double(optarg, "--since", -1e300, 1e300);
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
    if (persona_export(&pm, &o, &e) < 0)
        cli_die("%s", e.msg);
    persona_model_free(&pm);
    return CLI_OK;
}
