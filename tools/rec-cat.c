/*
 * rec-cat - convert, select, inspect and validate record streams.
 *
 * Reads text (TSV/CSV), gzip or the binary record stream from files or
 * stdin and writes TSV or (--binary) the binary stream; see rec-cat(1).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "rec.h"
#include "recops.h"
#include "banned.h"

static const char usage_text[] =
    "Usage: rec-cat [OPTION]... [FILE]...\n"
    "Convert, select, inspect and validate record streams (TSV, CSV, gzip, binary).\n"
    "With no FILE, or when FILE is -, read standard input.\n"
    "\n"
    "  -b, --binary           write the binary record stream instead of TSV\n"
    "      --check            parse every value; report the first error and the row count\n"
    "  -c, --columns LIST     output these columns (comma-separated names or globs, in order)\n"
    "      --group-check COL  check that the rows of each COL value are contiguous\n"
    "  -n, --head N           output at most N rows\n"
    "  -o, --output FILE      write FILE atomically (gzip if it ends in .gz)\n"
    "      --progress         show progress on stderr even when it is not a terminal\n"
    "  -q, --quiet            print nothing but errors\n"
    "      --schema           print each column's name, type and missing count\n"
    "      --help             display this help and exit\n"
    "      --version          output version information and exit\n"
    "\n"
    "Examples:\n"
    "  rec-cat --binary -o sample.rec data-samples/interactions.tsv\n"
    "  rec-cat --columns 'member_id,label,x_*' --head 5 sample.rec\n"
    "  rec-cat --schema data-samples/interactions.tsv\n"
    "  rec-cat --check --group-check member_id data-samples/interactions.tsv\n";

int main(int argc, char **argv)
{
    cli_init_argv(argv);
    recops_cat_opts o;
    memset(&o, 0, sizeof o);
    o.head = -1;
    enum { OPT_CHECK = 256, OPT_GROUP, OPT_SCHEMA, OPT_PROGRESS, OPT_HELP, OPT_VERSION };
    static const struct option longopts[] = {
        {"binary", no_argument, NULL, 'b'},
        {"check", no_argument, NULL, OPT_CHECK},
        {"columns", required_argument, NULL, 'c'},
        {"group-check", required_argument, NULL, OPT_GROUP},
        {"head", required_argument, NULL, 'n'},
        {"output", required_argument, NULL, 'o'},
        {"progress", no_argument, NULL, OPT_PROGRESS},
        {"quiet", no_argument, NULL, 'q'},
        {"schema", no_argument, NULL, OPT_SCHEMA},
        {"help", no_argument, NULL, OPT_HELP},
        {"version", no_argument, NULL, OPT_VERSION},
        {NULL, 0, NULL, 0},
    };
    int opt;
    while ((opt = getopt_long(argc, argv, "bc:n:o:q", longopts, NULL)) != -1) {
        switch (opt) {
        case 'b':
            o.binary = 1;
            break;
        case OPT_CHECK:
            o.check = 1;
            break;
        case 'c':
            o.columns = optarg;
            break;
        case OPT_GROUP:
            o.group_col = optarg;
            break;
        case 'n':
            o.head = cli_parse_long(optarg, "--head", 0, INT64_MAX);
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
        case OPT_SCHEMA:
            o.schema = 1;
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
    if (o.schema + (o.check || o.group_col) > 1)
        cli_usage_error("--schema cannot be combined with --check or --group-check");
    if ((o.schema || o.check || o.group_col) && (o.binary || o.columns || o.head >= 0 || o.output))
        cli_usage_error("--schema, --check and --group-check take none of --binary, --columns, --head, -o");
    o.inputs = (const char *const *)argv + optind;
    o.ninputs = argc - optind;
    errctx e;
    if (recops_cat(&o, &e) < 0)
        cli_die("%s", e.msg);
    return CLI_OK;
}
