/*
 * notif-sim - the notification environment: log send/drop transitions of
 * an epsilon-greedy threshold policy (with its propensities), or run a
 * policy online on fresh users and print its true value per objective.
 * The model lives in common/notifsim.c; see notif-sim(1).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "notifsim.h"
#include "notifsim_q.h"
#include "rec.h"
#include "banned.h"

static const char usage_text[] =
    "Usage: notif-sim [OPTION]...\n"
    "  or:  notif-sim --evaluate POLICY [OPTION]...\n"
    "Simulate notification send/drop decisions, one user per episode, 42 steps of 4 hours:\n"
    "log the transitions (episode t s_* action propensity r_*) of an epsilon-greedy\n"
    "threshold policy, or with --evaluate print a policy's true value per objective.\n"
    "\n"
    "  -b, --binary            write the binary record stream instead of TSV\n"
    "      --cap N             the logging rule sends only when s_sent24h < N (default 4)\n"
    "      --episodes N        episodes (users) to log or evaluate (default 10000)\n"
    "      --epsilon E         exploration of the logging policy (default 0.2)\n"
    "      --evaluate POLICY   print the value of POLICY: always, never, behavior,\n"
    "                          threshold:X or threshold:X:C\n"
    "      --gamma G           with --evaluate: discount per step (default 1)\n"
    "  -m, --model MODEL       evaluate a cql-ddqn-train Q-network: greedy, or\n"
    "                          epsilon-greedy with --epsilon, or softmax with\n"
    "      --temperature T     (the model's Q-values over T)\n"
    "  -o, --output FILE       write FILE atomically (gzip if it ends in .gz)\n"
    "      --progress          show progress on stderr even when it is not a terminal\n"
    "  -q, --quiet             print nothing but errors\n"
    "      --seed S            random seed (default 1)\n"
    "      --steps N           steps per episode (default 42)\n"
    "      --threshold X       the logging rule sends when s_top_rel > X (default 0.5)\n"
    "      --weights LIST      with --evaluate: weights of the 'weighted' row\n"
    "                          (default r_visit=1,r_click=0,r_send=-0.05,r_disable=-5)\n"
    "      --help              display this help and exit\n"
    "      --version           output version information and exit\n"
    "\n"
    "Examples:\n"
    "  notif-sim --episodes 300 --seed 5 -o notif.tsv\n"
    "  notif-sim --evaluate threshold:0.7 --episodes 20000\n"
    "  notif-sim --evaluate never --weights r_visit=1,r_disable=-10\n";

int main(int argc, char **argv)
{
    cli_init_argv(argv);
    notifsim_cfg cfg;
    notifsim_defaults(&cfg);
    const char *output = NULL, *policy = NULL, *weights_arg = NULL;
    int binary = 0, gamma_set = 0;
    long long episodes = 10000;
    double gamma = 1;
    enum {
        OPT_CAP = 256,
        OPT_EPISODES,
        OPT_EPSILON,
        OPT_EVALUATE,
        OPT_GAMMA,
        OPT_PROGRESS,
        OPT_SEED,
        OPT_STEPS,
        OPT_THRESHOLD,
        OPT_WEIGHTS,
        OPT_TEMPERATURE,
        OPT_HELP,
        OPT_VERSION
    };
    static const struct option longopts[] = {
        {"binary", no_argument, NULL, 'b'},
        {"cap", required_argument, NULL, OPT_CAP},
        {"episodes", required_argument, NULL, OPT_EPISODES},
        {"epsilon", required_argument, NULL, OPT_EPSILON},
        {"evaluate", required_argument, NULL, OPT_EVALUATE},
        {"gamma", required_argument, NULL, OPT_GAMMA},
        {"output", required_argument, NULL, 'o'},
        {"progress", no_argument, NULL, OPT_PROGRESS},
        {"quiet", no_argument, NULL, 'q'},
        {"seed", required_argument, NULL, OPT_SEED},
        {"steps", required_argument, NULL, OPT_STEPS},
        {"threshold", required_argument, NULL, OPT_THRESHOLD},
        {"weights", required_argument, NULL, OPT_WEIGHTS},
        {"model", required_argument, NULL, 'm'},
        {"temperature", required_argument, NULL, OPT_TEMPERATURE},
        {"help", no_argument, NULL, OPT_HELP},
        {"version", no_argument, NULL, OPT_VERSION},
        {NULL, 0, NULL, 0},
    };
    int opt;
    const char *model_path = NULL;
    double temperature = 0;
    int epsilon_set = 0;
    while ((opt = getopt_long(argc, argv, "bm:o:q", longopts, NULL)) != -1) {
        switch (opt) {
        case 'b':
            binary = 1;
            break;
        case OPT_CAP:
            cfg.cap = (int)cli_parse_long(optarg, "--cap", 0, 1000);
            break;
        case OPT_EPISODES:
            episodes = cli_parse_long(optarg, "--episodes", 1, 1000000000);
            break;
        case OPT_EPSILON:
            cfg.epsilon = cli_parse_double(optarg, "--epsilon", 0, 1);
            epsilon_set = 1;
            break;
        case 'm':
            model_path = optarg;
            break;
        case OPT_TEMPERATURE:
            temperature = cli_parse_double(optarg, "--temperature", 1e-6, 1e6);
            break;
        case OPT_EVALUATE:
            policy = optarg;
            break;
        case OPT_GAMMA:
            gamma = cli_parse_double(optarg, "--gamma", 0, 1);
            gamma_set = 1;
            break;
        case 'o':
            output = optarg;
            break;
        case OPT_PROGRESS:
            cli_verbosity = 1;
            break;
        case 'q':
            cli_verbosity = -1;
            break;
        case OPT_SEED:
            cfg.seed = cli_parse_seed(optarg, "--seed");
            break;
        case OPT_STEPS:
            cfg.steps = (int)cli_parse_long(optarg, "--steps", 1, 100000);
            break;
        case OPT_THRESHOLD:
            cfg.threshold = cli_parse_double(optarg, "--threshold", 0, 1);
            break;
        case OPT_WEIGHTS:
            weights_arg = optarg;
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
    if (notifsim_check(&cfg, &e) < 0)
        cli_usage_error("%s", e.msg);
    double weights[NOTIFSIM_NREWARDS];
    notifsim_default_weights(weights);
    if (weights_arg && notifsim_parse_weights(weights_arg, weights, &e) < 0)
        cli_usage_error("%s", e.msg);
    if (model_path && policy)
        cli_usage_error("give either --evaluate POLICY or -m MODEL");
    if (temperature > 0 && !model_path)
        cli_usage_error("--temperature applies only with -m MODEL");
    if (temperature > 0 && epsilon_set)
        cli_usage_error("--epsilon and --temperature exclude each other");
    qlearn_model qm;
    notifsim_qpolicy qp;
    if (model_path) {
        if (qlearn_model_load(&qm, model_path, &e) < 0)
            cli_die("%s", e.msg);
        qlearn_policy pol = {.softmax = temperature > 0, .epsilon = epsilon_set ? cfg.epsilon : 0,
                             .temperature = temperature};
        if (notifsim_qpolicy_init(&qp, &qm, &pol, &e) < 0)
            cli_die("%s: %s", model_path, e.msg);
        cfg.epsilon = 0.2; /* the logging policy's own, unused here */
    }
    notifsim_rule rule;
    if (policy && notifsim_rule_parse(policy, &cfg, &rule, &e) < 0)
        cli_usage_error("invalid value '%s' for --evaluate: %s", policy, e.msg);
    if (!policy && !model_path && (weights_arg || gamma_set))
        cli_usage_error("%s applies only with --evaluate", weights_arg ? "--weights" : "--gamma");

    rec_writer *w = rec_writer_open(output, binary, &e);
    if (!w)
        cli_die("%s", e.msg);
    cli_progress prog;
    cli_progress_start(&prog, "episodes", (double)episodes);
    int rc;
    if (policy || model_path) {
        notifsim_policy p = {notifsim_rule_probs, &rule};
        if (model_path)
            p = (notifsim_policy){notifsim_qpolicy_probs, &qp};
        notifsim_value v;
        notifsim_evaluate(&cfg, &p, (uint64_t)episodes, gamma, weights, &v, &prog);
        rc = notifsim_write_value(w, &v, &e);
    } else {
        rc = notifsim_write(&cfg, (uint64_t)episodes, w, &prog, &e);
    }
    if (rc < 0) {
        rec_writer_abort(w);
        cli_die("%s", e.msg);
    }
    if (rec_writer_close(w, &e) < 0)
        cli_die("%s", e.msg);
    cli_progress_end(&prog);
    if (model_path) {
        notifsim_qpolicy_free(&qp);
        qlearn_model_free(&qm);
    }
    return CLI_OK;
}
