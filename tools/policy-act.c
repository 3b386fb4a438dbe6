/*
 * policy-act - apply a Q model to states: Q-values, the greedy action and
 * the probabilities of an epsilon-greedy or softmax policy; see
 * policy-act(1).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "qlearn.h"
#include "banned.h"

static const char usage_text[] =
    "Usage: policy-act -m MODEL [OPTION]... [FILE]...\n"
    "Append to every input row the Q-values q_0..q_{A-1} of its state, the\n"
    "greedy action and the probabilities pi_0..pi_{A-1} of the policy:\n"
    "epsilon-greedy (the default, greedy with epsilon 0) or softmax of Q/T.\n"
    "With no FILE, or when FILE is -, read standard input.\n"
    "\n"
    "  -m, --model MODEL        a model from cql-ddqn-train (required)\n"
    "  -e, --epsilon E          epsilon-greedy: E/A on every action, plus 1-E\n"
    "                           on the greedy one [0]\n"
    "  -T, --temperature T      instead: softmax of Q/T\n"
    "  -a, --action-name NAME   the greedy action's column [action]; transitions\n"
    "                           have their own 'action': use e.g. greedy\n"
    "      --batch N            rows per matrix product [256]\n"
    "  -j, --threads N          worker threads, 0: all cores [0]\n"
    "  -b, --binary             write the binary record stream\n"
    "  -o, --output FILE        write FILE atomically (gzip if it ends in .gz)\n"
    "      --progress           show progress on stderr even when it is not a terminal\n"
    "      --quiet              print nothing but errors\n"
    "      --help               display this help and exit\n"
    "      --version            output version information and exit\n"
    "\n"
    "Example:\n"
    "  policy-act -m /tmp/q.model -a greedy --epsilon 0.1 data-samples/transitions.tsv\n";

int main(int argc, char **argv)
{
    cli_init_argv(argv);
    qlearn_act_opts o;
    memset(&o, 0, sizeof o);
    o.batch = 256;
    o.threads = cli_default_threads();
    const char *model_path = NULL;
    int have_eps = 0, have_temp = 0;
    enum { OPT_BATCH = 256, OPT_PROGRESS, OPT_QUIET, OPT_HELP, OPT_VERSION };
    static const struct option longopts[] = {
        {"model", required_argument, NULL, 'm'},
        {"epsilon", required_argument, NULL, 'e'},
        {"temperature", required_argument, NULL, 'T'},
        {"action-name", required_argument, NULL, 'a'},
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
    while ((opt = getopt_long(argc, argv, "m:e:T:a:j:bo:", longopts, NULL)) != -1) {
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
        case 'a':
            if (!*optarg)
                cli_usage_error("--action-name: the name is empty");
            o.action_name = optarg;
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
    if (have_eps && have_temp)
        cli_usage_error("--epsilon and --temperature are exclusive (epsilon-greedy or softmax)");
    o.inputs = (const char *const *)argv + optind;
    o.ninputs = argc - optind;
    errctx e;
    qlearn_model qm;
    if (qlearn_model_load(&qm, model_path, &e) < 0)
        cli_die("%s", e.msg);
    if (qlearn_act_stream(&qm, &o, &e) < 0)
        cli_die("%s", e.msg);
    qlearn_model_free(&qm);
    return CLI_OK;
}
