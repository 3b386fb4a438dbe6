/*
 * cql-ddqn-train - train a Q-network offline on logged transitions with
 * Double DQN and the CQL(H) penalty; see cql-ddqn-train(1).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ckpt.h"
#include "cli.h"
#include "model.h"
#include "qlearn.h"
#include "banned.h"

static const char usage_text[] =
    "Usage: cql-ddqn-train -o MODEL [OPTION]... [FILE]\n"
    "Train a Q-network offline on logged transitions (episode t s_* action\n"
    "propensity r_* [dt], grouped by episode) with Double DQN and a Conservative\n"
    "Q-learning penalty; the reward is a weighted sum of the r_* objectives.\n"
    "With no FILE, or when FILE is -, read standard input.\n"
    "\n"
    "Model:\n"
    "  -A, --actions N          actions 0..N-1 [2]\n"
    "      --hidden LIST        hidden layers [64,64]\n"
    "      --activation ACT     relu, tanh or sigmoid [relu]\n"
    "Objective:\n"
    "  -w, --weights LIST       reward weights NAME=W,... (others weigh 0)\n"
    "                           [every reward column weighs 1]\n"
    "  -g, --gamma G            discount per unit of dt [0.9]\n"
    "      --loss LOSS          huber or mse [huber]\n"
    "  -a, --alpha A            CQL(H) penalty; 0: plain Double DQN [1]\n"
    "Training:\n"
    "  -n, --steps N            optimizer steps [5000]\n"
    "      --batch N            transitions per step [256]\n"
    "      --lr RATE            Adam learning rate [0.001]\n"
    "      --clip NORM          clip the gradient's global norm, 0: off [10]\n"
    "      --target-every N     copy the network to the target every N steps [100]\n"
    "      --tau T              instead: Polyak-average the target at rate T\n"
    "  -s, --seed S             seed of every random choice [1]\n"
    "  -j, --threads N          worker threads, 0: all cores [0]\n"
    "Data:\n"
    "      --episode-col NAME   [episode]\n"
    "      --time-col NAME      [t]\n"
    "      --states LIST        state features, names or globs [s_*]\n"
    "      --action-col NAME    [action]\n"
    "      --propensity-col NAME [propensity]\n"
    "      --rewards LIST       reward objectives, names or globs [r_*]\n"
    "      --dt-col NAME        time to the next row; 1 without the column [dt]\n"
    "Output:\n"
    "  -o, --output MODEL       the model file (required; written atomically)\n"
    "      --log-every N        a progress line every N steps [steps/10]\n"
    "      --checkpoint FILE    on SIGINT or SIGTERM, write the training state to\n"
    "                           FILE (atomically) and exit 128+signal\n"
    "      --checkpoint-every N also write it every N steps\n"
    "      --resume FILE        continue from a checkpoint (same options and data)\n"
    "      --progress           progress on stderr even when it is not a terminal\n"
    "      --quiet              print nothing but errors\n"
    "      --help               display this help and exit\n"
    "      --version            output version information and exit\n"
    "\n"
    "Example:\n"
    "  cql-ddqn-train -o /tmp/q.model -w r_visit=1,r_send=-0.05 data-samples/transitions.tsv\n";

int main(int argc, char **argv)
{
    cli_init_argv(argv);
    qlearn_train_cfg tc = {
        .lc = {.gamma = 0.9, .loss = {NN_LOSS_HUBER, 1.0}, .alpha = 1.0},
        .lr = 0.001,
        .clip = 10,
        .steps = 5000,
        .batch = 256,
        .target_every = 100,
        .tau = 0,
        .seed = 1,
    };
    qlearn_colspec cols;
    qlearn_colspec_defaults(&cols);
    const char *output = NULL, *hidden = "64,64", *weights_spec = NULL, *resume_path = NULL;
    ckpt_cfg ck;
    memset(&ck, 0, sizeof ck);
    ck.of = "cql-ddqn-train";
    nn_act act = NN_RELU;
    int actions = 2, threads = cli_default_threads(), have_every = 0, have_tau = 0;
    enum {
        OPT_HIDDEN = 256, OPT_ACT, OPT_LOSS, OPT_BATCH, OPT_LR, OPT_CLIP, OPT_EVERY, OPT_TAU, OPT_EPISODE, OPT_TIME,
        OPT_STATES, OPT_ACTION, OPT_PROP, OPT_REWARDS, OPT_DT, OPT_LOG, OPT_CKPT, OPT_CKPT_EVERY, OPT_RESUME, OPT_PROGRESS, OPT_QUIET, OPT_HELP,
        OPT_VERSION
    };
    static const struct option longopts[] = {
        {"actions", required_argument, NULL, 'A'},
        {"hidden", required_argument, NULL, OPT_HIDDEN},
        {"activation", required_argument, NULL, OPT_ACT},
        {"weights", required_argument, NULL, 'w'},
        {"gamma", required_argument, NULL, 'g'},
        {"loss", required_argument, NULL, OPT_LOSS},
        {"alpha", required_argument, NULL, 'a'},
        {"steps", required_argument, NULL, 'n'},
        {"batch", required_argument, NULL, OPT_BATCH},
        {"lr", required_argument, NULL, OPT_LR},
        {"clip", required_argument, NULL, OPT_CLIP},
        {"target-every", required_argument, NULL, OPT_EVERY},
        {"tau", required_argument, NULL, OPT_TAU},
        {"seed", required_argument, NULL, 's'},
        {"threads", required_argument, NULL, 'j'},
        {"episode-col", required_argument, NULL, OPT_EPISODE},
        {"time-col", required_argument, NULL, OPT_TIME},
        {"states", required_argument, NULL, OPT_STATES},
        {"action-col", required_argument, NULL, OPT_ACTION},
        {"propensity-col", required_argument, NULL, OPT_PROP},
        {"rewards", required_argument, NULL, OPT_REWARDS},
        {"dt-col", required_argument, NULL, OPT_DT},
        {"output", required_argument, NULL, 'o'},
        {"log-every", required_argument, NULL, OPT_LOG},
        {"checkpoint", required_argument, NULL, OPT_CKPT},
        {"checkpoint-every", required_argument, NULL, OPT_CKPT_EVERY},
        {"resume", required_argument, NULL, OPT_RESUME},
        {"progress", no_argument, NULL, OPT_PROGRESS},
        {"quiet", no_argument, NULL, OPT_QUIET},
        {"help", no_argument, NULL, OPT_HELP},
        {"version", no_argument, NULL, OPT_VERSION},
        {NULL, 0, NULL, 0},
    };
    errctx e;
    int opt;
    while ((opt = getopt_long(argc, argv, "A:w:g:a:n:s:j:o:", longopts, NULL)) != -1) {
        switch (opt) {
        case 'A':
            actions = (int)cli_parse_long(optarg, "--actions", 1, QLEARN_MAX_ACTIONS);
            break;
        case OPT_HIDDEN:
            hidden = optarg;
            break;
        case OPT_ACT:
            if (nn_act_parse(optarg, &act, &e) < 0)
                cli_usage_error("--activation: %s", e.msg);
            break;
        case 'w':
            weights_spec = optarg;
            break;
        case 'g':
            tc.lc.gamma = cli_parse_double(optarg, "--gamma", 0, 1);
            break;
        case OPT_LOSS:
            if (strcmp(optarg, "huber") && strcmp(optarg, "mse"))
                cli_usage_error("--loss: unknown loss '%s' (huber or mse)", optarg);
            if (nn_loss_parse(optarg, &tc.lc.loss, &e) < 0)
                cli_usage_error("--loss: %s", e.msg);
            break;
        case 'a':
            tc.lc.alpha = cli_parse_double(optarg, "--alpha", 0, 1e6);
            break;
        case 'n':
            tc.steps = cli_parse_long(optarg, "--steps", 1, 1000000000);
            break;
        case OPT_BATCH:
            tc.batch = (int)cli_parse_long(optarg, "--batch", 1, 1 << 20);
            break;
        case OPT_LR:
            tc.lr = cli_parse_double(optarg, "--lr", 1e-12, 10);
            break;
        case OPT_CLIP:
            tc.clip = cli_parse_double(optarg, "--clip", 0, 1e12);
            break;
        case OPT_EVERY:
            tc.target_every = cli_parse_long(optarg, "--target-every", 1, 1000000000);
            have_every = 1;
            break;
        case OPT_TAU:
            tc.tau = cli_parse_double(optarg, "--tau", 0, 1);
            if (tc.tau == 0)
                cli_usage_error("invalid value '%s' for --tau: must be above 0", optarg);
            have_tau = 1;
            break;
        case 's':
            tc.seed = cli_parse_seed(optarg, "--seed");
            break;
        case 'j':
            threads = cli_parse_threads(optarg, "--threads");
            break;
        case OPT_EPISODE:
            cols.episode = optarg;
            break;
        case OPT_TIME:
            cols.time = optarg;
            break;
        case OPT_STATES:
            cols.states = optarg;
            break;
        case OPT_ACTION:
            cols.action = optarg;
            break;
        case OPT_PROP:
            cols.propensity = optarg;
            break;
        case OPT_REWARDS:
            cols.rewards = optarg;
            break;
        case OPT_DT:
            cols.dt = optarg;
            cols.dt_required = 1;
            break;
        case 'o':
            output = optarg;
            break;
        case OPT_CKPT:
            ck.path = optarg;
            break;
        case OPT_CKPT_EVERY:
            ck.every = cli_parse_long(optarg, "--checkpoint-every", 1, 1LL << 50);
            break;
        case OPT_RESUME:
            resume_path = optarg;
            break;
        case OPT_LOG:
            tc.log_every = cli_parse_long(optarg, "--log-every", 1, 1000000000);
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
    if (!output)
        cli_usage_error("no model file: -o MODEL is required");
    if (argc - optind > 1)
        cli_usage_error("one input file at most");
    if (ck.every && !ck.path)
        cli_usage_error("--checkpoint-every needs --checkpoint FILE");
    if (have_every && have_tau)
        cli_usage_error("--target-every and --tau are exclusive (hard copies or Polyak averaging)");
    int widths[NN_MAX_LAYERS];
    if (nn_parse_hidden(hidden, widths, NN_MAX_LAYERS - 1, &e) < 0)
        cli_usage_error("--hidden: %s", e.msg);
    qlearn_weights weights;
    memset(&weights, 0, sizeof weights);
    if (weights_spec && qlearn_weights_parse(weights_spec, &weights, &e) < 0)
        cli_usage_error("--weights: %s", e.msg);
    tc.threads = threads;
    const char *input = optind < argc ? argv[optind] : "-";

    /* from here a stop request is a request: training checks it after each
     * step (one during loading stops after the first) */
    if (ck.path)
        ckpt_catch_signals();
    qlearn_data d;
    if (qlearn_data_load(&d, input, &cols, &weights, actions, &e) < 0)
        cli_die("%s", e.msg);
    cli_info("%zu transitions in %zu episodes, %d state features, %d reward columns, %d thread%s", d.n, d.nepisodes,
             d.s_dim, d.n_rewards, threads, threads == 1 ? "" : "s");
    qlearn_model qm;
    if (qlearn_model_init(&qm, d.s_dim, (const char *const *)d.state_names, actions, hidden, act, &e) < 0)
        cli_die("%s", e.msg);
    qlearn_model_init_weights(&qm, tc.seed);
    /* checkpoints: every option that shapes training, and the data */
    snprintf(ck.config, sizeof ck.config,
             "steps=%lld batch=%d lr=%.17g clip=%.17g gamma=%.17g alpha=%.17g loss=%s/%.17g target_every=%lld "
             "tau=%.17g seed=%llu hidden=%s activation=%s actions=%d data=%016llx",
             tc.steps, tc.batch, tc.lr, tc.clip, tc.lc.gamma, tc.lc.alpha, nn_loss_name(&tc.lc.loss), tc.lc.loss.delta,
             tc.target_every, tc.tau, (unsigned long long)tc.seed, hidden, nn_act_name(act), actions,
             (unsigned long long)qlearn_data_hash(&d));
    model *resume = NULL;
    if (resume_path && !(resume = ckpt_read(resume_path, &e)))
        cli_die("%s", e.msg);
    ck.resume = resume;
    if (ck.path || resume)
        tc.ckpt = &ck;
    qlearn_train_result res;
    int trc = qlearn_train(&qm, &d, &tc, &res, &e);
    if (trc == CKPT_STOPPED) {
        model_free(resume);
        qlearn_model_free(&qm);
        qlearn_data_free(&d);
        qlearn_weights_free(&weights);
        return 128 + ckpt_stop_signal();
    }
    if (trc < 0) {
        if (resume)
            cli_die("%s: %s", resume_path, e.msg);
        cli_die("%s", e.msg);
    }
    model_free(resume);
    cli_info("trained in %.1f s", res.seconds);

    model *m = qlearn_model_to_file(&qm, &d, &tc, &e);
    if (!m)
        cli_die("%s", e.msg);
    char writer[64];
    snprintf(writer, sizeof writer, "cql-ddqn-train %s", RECSTAGE_VERSION);
    if (model_write(m, output, writer, &e) < 0)
        cli_die("%s", e.msg);
    model_free(m);
    qlearn_model_free(&qm);
    qlearn_data_free(&d);
    qlearn_weights_free(&weights);
    return CLI_OK;
}
