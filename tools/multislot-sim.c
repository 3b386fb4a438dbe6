/*
 * multislot-sim - the multi-slot list environment: log the lists a
 * logging policy showed (with propensities, clicks and saves) for requests
 * of N candidates and K slots, or with --judge compute the exact expected
 * clicks and saves of given lists.  The model lives in common/multislot.c;
 * see multislot-sim(1).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "multislot.h"
#include "rec.h"
#include "banned.h"

static const char usage_text[] =
    "Usage: multislot-sim [OPTION]...\n"
    "  or:  multislot-sim --judge LISTS [--per-request FILE] [OPTION]...\n"
    "Simulate re-ranking requests of N candidates and K slots, in which an item's attraction\n"
    "falls with the items of its category and the similar items above it: log every candidate\n"
    "(request_id item_id category age score_click score_save f_* slot click save propensity)\n"
    "with the list a logging policy showed, or with --judge print the exact expected clicks\n"
    "and saves of the lists in LISTS (request_id slot item_id).\n"
    "\n"
    "  -b, --binary               write the binary record stream instead of TSV\n"
    "      --candidates N         candidates per request (default 20)\n"
    "      --categories N         item categories (default 8)\n"
    "      --click-model MODEL    position or cascade (default position)\n"
    "      --dim N                latent dimension of users and items (default 8)\n"
    "      --diversity-effect D   attraction logit falls by D per same-category item above\n"
    "                             and by D times the max similarity to them (default 0.5)\n"
    "      --eta X                position model: slot k is examined with (1/k)^X (default 1)\n"
    "      --features N           observed item features f_* (default 8)\n"
    "      --freshness-effect F   click logit gains F exp(-age/24) (default 0.3)\n"
    "      --items N              items in the catalogue (default 2000)\n"
    "      --judge LISTS          print the expected clicks and saves of the lists in LISTS\n"
    "      --logging POLICY       uniform, epsilon:E or plackett-luce:T (default plackett-luce:1)\n"
    "  -o, --output FILE          write FILE atomically (gzip if it ends in .gz)\n"
    "      --per-request FILE     with --judge: write request_id click save per request to FILE\n"
    "      --progress             show progress on stderr even when it is not a terminal\n"
    "  -q, --quiet                print nothing but errors\n"
    "      --requests N           requests to log; with --judge, request ids are below N\n"
    "                             (default 20000)\n"
    "      --score-noise S        sd of the log-normal noise of the second-pass scores (default 0.3)\n"
    "      --seed S               random seed (default 1)\n"
    "      --slots K              slots per request (default 5)\n"
    "      --help                 display this help and exit\n"
    "      --version              output version information and exit\n"
    "\n"
    "Examples:\n"
    "  multislot-sim --requests 5000 -o lists.tsv\n"
    "  awk -F'\\t' 'NR == 1 || $(NF-3) > 0' lists.tsv > shown.tsv\n"
    "  multislot-sim --requests 5000 --judge shown.tsv\n";

int main(int argc, char **argv)
{
    cli_init_argv(argv);
    multislot_cfg cfg;
    multislot_defaults(&cfg);
    const char *output = NULL, *judge = NULL, *per_request = NULL, *logging = NULL, *click_model = NULL;
    int binary = 0;
    long long requests = 20000;
    enum {
        OPT_CANDIDATES = 256,
        OPT_CATEGORIES,
        OPT_CLICK_MODEL,
        OPT_DIM,
        OPT_DIVERSITY,
        OPT_ETA,
        OPT_FEATURES,
        OPT_FRESHNESS,
        OPT_ITEMS,
        OPT_JUDGE,
        OPT_LOGGING,
        OPT_PER_REQUEST,
        OPT_PROGRESS,
        OPT_REQUESTS,
        OPT_SCORE_NOISE,
        OPT_SEED,
        OPT_SLOTS,
        OPT_HELP,
        OPT_VERSION
    };
    static const struct option longopts[] = {
        {"binary", no_argument, NULL, 'b'},
        {"candidates", required_argument, NULL, OPT_CANDIDATES},
        {"categories", required_argument, NULL, OPT_CATEGORIES},
        {"click-model", required_argument, NULL, OPT_CLICK_MODEL},
        {"dim", required_argument, NULL, OPT_DIM},
        {"diversity-effect", required_argument, NULL, OPT_DIVERSITY},
        {"eta", required_argument, NULL, OPT_ETA},
        {"features", required_argument, NULL, OPT_FEATURES},
        {"freshness-effect", required_argument, NULL, OPT_FRESHNESS},
        {"items", required_argument, NULL, OPT_ITEMS},
        {"judge", required_argument, NULL, OPT_JUDGE},
        {"logging", required_argument, NULL, OPT_LOGGING},
        {"output", required_argument, NULL, 'o'},
        {"per-request", required_argument, NULL, OPT_PER_REQUEST},
        {"progress", no_argument, NULL, OPT_PROGRESS},
        {"quiet", no_argument, NULL, 'q'},
        {"requests", required_argument, NULL, OPT_REQUESTS},
        {"score-noise", required_argument, NULL, OPT_SCORE_NOISE},
        {"seed", required_argument, NULL, OPT_SEED},
        {"slots", required_argument, NULL, OPT_SLOTS},
        {"help", no_argument, NULL, OPT_HELP},
        {"version", no_argument, NULL, OPT_VERSION},
        {NULL, 0, NULL, 0},
    };
    int opt;
    while ((opt = getopt_long(argc, argv, "bo:q", longopts, NULL)) != -1) {
        switch (opt) {
        case 'b':
            binary = 1;
            break;
        case OPT_CANDIDATES:
            cfg.candidates = (int)cli_parse_long(optarg, "--candidates", 1, MULTISLOT_MAX_CANDIDATES);
            break;
        case OPT_CATEGORIES:
            cfg.categories = (int)cli_parse_long(optarg, "--categories", 1, 1000000);
            break;
        case OPT_CLICK_MODEL:
            click_model = optarg;
            break;
        case OPT_DIM:
            cfg.dim = (int)cli_parse_long(optarg, "--dim", 1, 256);
            break;
        case OPT_DIVERSITY:
            cfg.diversity = cli_parse_double(optarg, "--diversity-effect", 0, 100);
            break;
        case OPT_ETA:
            cfg.eta = cli_parse_double(optarg, "--eta", 0, 10);
            break;
        case OPT_FEATURES:
            cfg.features = (int)cli_parse_long(optarg, "--features", 0, 1000);
            break;
        case OPT_FRESHNESS:
            cfg.freshness = cli_parse_double(optarg, "--freshness-effect", 0, 100);
            break;
        case OPT_ITEMS:
            cfg.items = (int)cli_parse_long(optarg, "--items", 1, 10000000);
            break;
        case OPT_JUDGE:
            judge = optarg;
            break;
        case OPT_LOGGING:
            logging = optarg;
            break;
        case 'o':
            output = optarg;
            break;
        case OPT_PER_REQUEST:
            per_request = optarg;
            break;
        case OPT_PROGRESS:
            cli_verbosity = 1;
            break;
        case 'q':
            cli_verbosity = -1;
            break;
        case OPT_REQUESTS:
            requests = cli_parse_long(optarg, "--requests", 1, 1000000000);
            break;
        case OPT_SCORE_NOISE:
            cfg.score_noise = cli_parse_double(optarg, "--score-noise", 0, 10);
            break;
        case OPT_SEED:
            cfg.seed = cli_parse_seed(optarg, "--seed");
            break;
        case OPT_SLOTS:
            cfg.slots = (int)cli_parse_long(optarg, "--slots", 1, MULTISLOT_MAX_SLOTS);
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
    if (optind < argc)
        cli_usage_error("unexpected operand '%s'", argv[optind]);

    errctx e;
    if (logging && multislot_parse_logging(logging, &cfg, &e) < 0)
        cli_usage_error("invalid value '%s' for --logging: %s", logging, e.msg);
    if (click_model && multislot_parse_click_model(click_model, &cfg, &e) < 0)
        cli_usage_error("invalid value '%s' for --click-model: %s", click_model, e.msg);
    if (multislot_check(&cfg, &e) < 0)
        cli_usage_error("%s", e.msg);
    if (per_request && !judge)
        cli_usage_error("--per-request applies only with --judge");
    if (per_request && strcmp(per_request, "-") == 0)
        cli_usage_error("--per-request needs a file name (standard output carries the table)");

    multislot_catalog cat;
    multislot_catalog_build(&cat, &cfg);
    rec_writer *w = rec_writer_open(output, binary, &e);
    if (!w)
        cli_die("%s", e.msg);
    rec_writer *pw = NULL;
    if (per_request && !(pw = rec_writer_open(per_request, binary, &e))) {
        rec_writer_abort(w);
        cli_die("%s", e.msg);
    }
    cli_progress prog;
    int rc;
    if (judge) {
        multislot_value v;
        cli_progress_start(&prog, "requests judged", 0);
        rc = multislot_judge(&cfg, &cat, (uint64_t)requests, judge, pw, &v, &prog, &e);
        if (rc == 0)
            rc = multislot_write_value(w, &v, &e);
    } else {
        cli_progress_start(&prog, "requests", (double)requests);
        rc = multislot_write(&cfg, &cat, (uint64_t)requests, w, &prog, &e);
    }
    if (rc < 0) {
        if (pw)
            rec_writer_abort(pw);
        rec_writer_abort(w);
        cli_die("%s", e.msg);
    }
    if (pw && rec_writer_close(pw, &e) < 0) {
        rec_writer_abort(w);
        cli_die("%s", e.msg);
    }
    if (rec_writer_close(w, &e) < 0)
        cli_die("%s", e.msg);
    cli_progress_end(&prog);
    multislot_catalog_free(&cat);
    return CLI_OK;
}
