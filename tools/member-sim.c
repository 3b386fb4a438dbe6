/*
 * member-sim - simulate members, items and clicks for the personalization
 * pipeline: tastes only partly revealed by member features, mostly
 * infrequent members, drifting tastes, and known click probabilities
 * (the oracle p_true).  The model lives in common/membersim.c; see
 * member-sim(1).
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "membersim.h"
#include "rec.h"
#include "banned.h"

static const char usage_text[] =
    "Usage: member-sim [OPTION]...\n"
    "Simulate member interactions (member_id ts label m_* x_* [p_true]) with known click\n"
    "probabilities: clustered latent tastes that the member features m_* only partly reveal,\n"
    "log-normal activity (most members infrequent) and tastes drifting day by day.\n"
    "\n"
    "  -b, --binary            write the binary record stream instead of TSV\n"
    "      --click-rate R      mean click probability (default 0.15)\n"
    "      --clusters N        taste clusters (default 10)\n"
    "      --days N            length of the period in days (default 30)\n"
    "      --drift SIGMA       daily random-walk sd of each taste dimension; 0 disables (default 0.13)\n"
    "      --features N        item features x_* (default 16)\n"
    "      --global-sd S       sd of the global item term w.x of the logit (default 1)\n"
    "      --items N           items (default 2000)\n"
    "      --latent-dim N      taste dimensions (default 8)\n"
    "      --max-rows N        cap on rows per member (default 300)\n"
    "      --median-rows N     median rows per member (default 10)\n"
    "      --members N         members (default 20000)\n"
    "      --meta-features N   member features m_* (default 8)\n"
    "      --meta-r2 R         share of taste variance that m_* reveals linearly (default 0.5)\n"
    "  -o, --output FILE       write FILE atomically (gzip if it ends in .gz)\n"
    "      --p-true            append the column p_true, the true click probability\n"
    "      --personal-sd S     sd of the personal term p.q of the logit (default 1)\n"
    "      --popularity S      Zipf exponent of item impressions; 0 uniform (default 0.7)\n"
    "      --progress          show progress on stderr even when it is not a terminal\n"
    "  -q, --quiet             print nothing but errors\n"
    "      --rows-sigma S      sd of log rows per member (default 1.5)\n"
    "      --seed S            random seed (default 1)\n"
    "      --summary           print measured properties of the run on stderr\n"
    "      --within-sd S       sd of a member's taste around its cluster centre (default 0.7)\n"
    "      --help              display this help and exit\n"
    "      --version           output version information and exit\n"
    "\n"
    "Examples:\n"
    "  member-sim --progress -o members.tsv\n"
    "  member-sim --members 150 --seed 11 --p-true | rec-cat --columns member_id,ts,label,p_true --head 5\n"
    "  member-sim --binary --summary -o members.rec\n";

/* Median of the per-member row counts from their histogram. */
static double hist_median(const uint64_t *hist, int max, uint64_t n)
{
    uint64_t lo_rank = (n - 1) / 2, hi_rank = n / 2, seen = 0;
    int lo = -1, hi = -1;
    for (int k = 0; k <= max; k++) {
        seen += hist[k];
        if (lo < 0 && seen > lo_rank)
            lo = k;
        if (hi < 0 && seen > hi_rank) {
            hi = k;
            break;
        }
    }
    return 0.5 * (lo + hi);
}

static void print_summary(const membersim *s, const membersim_stats *st)
{
    double n = (double)st->rows;
    double var_logit = st->logit_sq / n - pow(st->logit_sum / n, 2);
    double var_pers = st->personal_sq / n - pow(st->personal_sum / n, 2);
    double var_hidden = st->hidden_sq / n - pow(st->hidden_sum / n, 2);
    cli_info("%llu members, %llu rows", (unsigned long long)st->members, (unsigned long long)st->rows);
    cli_info("rows per member: median %g, mean %.1f, max %d; %.1f%% of members have at most 5",
             hist_median(st->rows_hist, s->cfg.max_rows, st->members), n / (double)st->members,
             st->max_rows_seen, 100.0 * (double)st->members_le5 / (double)st->members);
    cli_info("click rate %.4f (mean p_true %.4f), bias b %.4f", (double)st->clicks / n, st->sum_p / n,
             s->bias);
    cli_info("m -> p(0) least-squares R^2 %.3f over the members (population %.3f), meta noise sd %.4f",
             membersim_stats_r2(st, s), s->meta_r2, s->meta_noise_sd);
    cli_info("logit variance %.3f: personal term p.q %.1f%%, part of it m does not reveal %.1f%%", var_logit,
             100 * var_pers / var_logit, 100 * var_hidden / var_logit);
}

int main(int argc, char **argv)
{
    cli_init(argv[0]);
    membersim_cfg cfg;
    membersim_defaults(&cfg);
    const char *output = NULL;
    int binary = 0, p_true = 0, summary = 0;
    enum {
        OPT_CLICK_RATE = 256,
        OPT_CLUSTERS,
        OPT_DAYS,
        OPT_DRIFT,
        OPT_FEATURES,
        OPT_GLOBAL_SD,
        OPT_ITEMS,
        OPT_LATENT,
        OPT_MAX_ROWS,
        OPT_MEDIAN_ROWS,
        OPT_MEMBERS,
        OPT_META_FEATURES,
        OPT_META_R2,
        OPT_P_TRUE,
        OPT_PERSONAL_SD,
        OPT_POPULARITY,
        OPT_PROGRESS,
        OPT_ROWS_SIGMA,
        OPT_SEED,
        OPT_SUMMARY,
        OPT_WITHIN_SD,
        OPT_HELP,
        OPT_VERSION
    };
    static const struct option longopts[] = {
        {"binary", no_argument, NULL, 'b'},
        {"click-rate", required_argument, NULL, OPT_CLICK_RATE},
        {"clusters", required_argument, NULL, OPT_CLUSTERS},
        {"days", required_argument, NULL, OPT_DAYS},
        {"drift", required_argument, NULL, OPT_DRIFT},
        {"features", required_argument, NULL, OPT_FEATURES},
        {"global-sd", required_argument, NULL, OPT_GLOBAL_SD},
        {"items", required_argument, NULL, OPT_ITEMS},
        {"latent-dim", required_argument, NULL, OPT_LATENT},
        {"max-rows", required_argument, NULL, OPT_MAX_ROWS},
        {"median-rows", required_argument, NULL, OPT_MEDIAN_ROWS},
        {"members", required_argument, NULL, OPT_MEMBERS},
        {"meta-features", required_argument, NULL, OPT_META_FEATURES},
        {"meta-r2", required_argument, NULL, OPT_META_R2},
        {"output", required_argument, NULL, 'o'},
        {"p-true", no_argument, NULL, OPT_P_TRUE},
        {"personal-sd", required_argument, NULL, OPT_PERSONAL_SD},
        {"popularity", required_argument, NULL, OPT_POPULARITY},
        {"progress", no_argument, NULL, OPT_PROGRESS},
        {"quiet", no_argument, NULL, 'q'},
        {"rows-sigma", required_argument, NULL, OPT_ROWS_SIGMA},
        {"seed", required_argument, NULL, OPT_SEED},
        {"summary", no_argument, NULL, OPT_SUMMARY},
        {"within-sd", required_argument, NULL, OPT_WITHIN_SD},
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
        case OPT_CLICK_RATE:
            cfg.click_rate = cli_parse_double(optarg, "--click-rate", 0.001, 0.999);
            break;
        case OPT_CLUSTERS:
            cfg.clusters = (int)cli_parse_long(optarg, "--clusters", 1, 10000);
            break;
        case OPT_DAYS:
            cfg.days = (int)cli_parse_long(optarg, "--days", 1, 3650);
            break;
        case OPT_DRIFT:
            cfg.drift = cli_parse_double(optarg, "--drift", 0, 10);
            break;
        case OPT_FEATURES:
            cfg.features = (int)cli_parse_long(optarg, "--features", 1, 1024);
            break;
        case OPT_GLOBAL_SD:
            cfg.global_sd = cli_parse_double(optarg, "--global-sd", 0, 10);
            break;
        case OPT_ITEMS:
            cfg.items = (int)cli_parse_long(optarg, "--items", 1, 10000000);
            break;
        case OPT_LATENT:
            cfg.latent_dim = (int)cli_parse_long(optarg, "--latent-dim", 1, 64);
            break;
        case OPT_MAX_ROWS:
            cfg.max_rows = (int)cli_parse_long(optarg, "--max-rows", 1, 1000000);
            break;
        case OPT_MEDIAN_ROWS:
            cfg.median_rows = cli_parse_double(optarg, "--median-rows", 1, 1000000);
            break;
        case OPT_MEMBERS:
            cfg.members = cli_parse_long(optarg, "--members", 1, 1000000000);
            break;
        case OPT_META_FEATURES:
            cfg.meta_features = (int)cli_parse_long(optarg, "--meta-features", 1, 256);
            break;
        case OPT_META_R2:
            cfg.meta_r2 = cli_parse_double(optarg, "--meta-r2", 0.01, 0.99);
            break;
        case 'o':
            output = optarg;
            break;
        case OPT_P_TRUE:
            p_true = 1;
            break;
        case OPT_PERSONAL_SD:
            cfg.personal_sd = cli_parse_double(optarg, "--personal-sd", 0, 10);
            break;
        case OPT_POPULARITY:
            cfg.popularity = cli_parse_double(optarg, "--popularity", 0, 5);
            break;
        case OPT_PROGRESS:
            cli_verbosity = 1;
            break;
        case 'q':
            cli_verbosity = -1;
            break;
        case OPT_ROWS_SIGMA:
            cfg.rows_sigma = cli_parse_double(optarg, "--rows-sigma", 0, 5);
            break;
        case OPT_SEED:
            cfg.seed = cli_parse_seed(optarg, "--seed");
            break;
        case OPT_SUMMARY:
            summary = 1;
            break;
        case OPT_WITHIN_SD:
            cfg.within_sd = cli_parse_double(optarg, "--within-sd", 0, 10);
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
    /* every failure of membersim_new is a bad combination of option values */
    membersim *s = membersim_new(&cfg, &e);
    if (!s)
        cli_usage_error("%s", e.msg);
    rec_writer *w = rec_writer_open(output, binary, &e);
    if (!w)
        cli_die("%s", e.msg);
    membersim_stats st;
    membersim_stats_init(&st, s, summary);
    cli_progress prog;
    cli_progress_start(&prog, "members", (double)cfg.members);
    if (membersim_write(s, w, p_true, &st, &prog, &e) < 0) {
        rec_writer_abort(w);
        cli_die("%s", e.msg);
    }
    if (rec_writer_close(w, &e) < 0)
        cli_die("%s", e.msg);
    cli_progress_end(&prog);
    if (summary)
        print_summary(s, &st);
    membersim_stats_free(&st);
    membersim_free(s);
    return CLI_OK;
}
