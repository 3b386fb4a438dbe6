#!/usr/bin/env bash
# notify-ope.sh - the CIKM 2022 off-policy evaluation experiment end to end
# (SPEC sections 8 and 10).
#
#   notif-sim --episodes N --seed S             the log, under the epsilon-greedy logging policy
#   cql-ddqn-train (GNU parallel sweep)         one Q-network per configuration of the grid
#                                               alpha x lr x hidden x steps (16 by default)
#   policy-act -a greedy --epsilon E | smis-ope every estimator's value of each target policy
#   notif-sim -m MODEL --epsilon E              the target policy's true value, online
#   awk                                         bias, RMSE, Spearman rank correlation and
#                                               interval coverage of each estimator
#   OUTDIR/results.tsv, OUTDIR/estimator-NAME.tsv and OUTDIR/results.png
#
# The target policy of a model is epsilon-greedy on its Q-values (epsilon
# --target-epsilon), so that every importance ratio pi/mu is finite and the
# same policy is estimated offline (policy-act) and run online (notif-sim -m).
# Only the 'weighted' objective (the reward weights of --weights) is compared.
#
# Outputs are written to temporary names in OUTDIR and renamed at the end;
# a failed run leaves the previous results in place and no partial files.
set -euo pipefail
set -f # no globbing: the grid lists are split on spaces
export LC_ALL=C

prog=notify-ope
# the shared helpers (die, note, ...), beside this file (through a symlink
# too); they set ROOT, BINDIR (RECSTAGE_BIN or ROOT/bin) and PATH
# shellcheck source=scripts/lib.sh
. "$(dirname -- "$(readlink -f -- "$0")")/lib.sh"

ESTIMATORS="behavior onestep tis pdis wpdis smis dr"
OBJECTIVE=weighted
GAMMA=0.95

usage() {
    cat <<'EOF'
Usage: notify-ope.sh [OPTION]...
  or:  notify-ope.sh --summarize FILE
Run the notification off-policy evaluation experiment end to end: log
transitions under the epsilon-greedy logging policy (notif-sim), train a grid
of Q-networks on the log with GNU parallel (cql-ddqn-train), estimate the value
of each model's epsilon-greedy policy offline with every estimator (policy-act,
smis-ope), measure its true value online (notif-sim -m), and score the
estimators against the truth.  Writes OUTDIR/results.tsv (also printed on
stdout), OUTDIR/estimator-NAME.tsv for each estimator and OUTDIR/results.png
(when gnuplot is installed).

      --small            a tiny experiment for tests and demos (1500 logged
                         episodes, 100 and 300 training steps, 2000 evaluation
                         episodes, 20 bootstrap replicates)
      --episodes N       logged episodes (default 20000)
      --eval-episodes N  episodes of the online evaluation of each policy
                         (default 20000)
      --bootstrap N      bootstrap replicates of the intervals (default 200)
      --seed S           seed of the log, the training, the evaluation and the
                         bootstrap (default 1)
      --target-epsilon E the target policies are epsilon-greedy on their
                         Q-values with this epsilon (default 0.1)
  -w, --weights LIST     reward weights NAME=W,... of the weighted objective
                         (default r_visit=1,r_click=0,r_send=-0.05,r_disable=-5)
      --jobs N           models trained and evaluated side by side with GNU
                         parallel (default 1)
      --sshlogin LOGINS  train on these GNU parallel --sshlogin hosts (the
                         tools must be installed there on the same path)
      --sshloginfile FILE
                         the same, the hosts read from FILE
  -o, --output DIR       output folder (default ./notify-ope-out)
      --keep             keep the intermediate files in OUTDIR/work
      --summarize FILE   print the results table of an estimates file, such
                         as a kept OUTDIR/work/estimates.tsv, and exit
      --help             display this help and exit

The grid of models (every combination; 2 x 2 x 2 x 2 = 16 by default), each
trained with gamma 0.95 and one thread:
      --alphas LIST      CQL penalties (default '0 0.1')
      --lrs LIST         Adam learning rates (default '0.001 0.0003')
      --hiddens LIST     hidden layer lists (default '32 64,64')
      --train-steps LIST optimizer steps (default '1000 4000'; --small: '100 300')
The lists are separated by spaces.  A policy is named after its model, e.g.
a0.1_lr0.001_h64x64_n4000.

Output: results.tsv with columns estimator policies bias rmse spearman
coverage, one row per estimator (behavior onestep tis pdis wpdis smis dr):
bias = mean(estimate - truth) and rmse = sqrt(mean((estimate - truth)^2))
over the policies, spearman the rank correlation of the estimates and the
truths (average ranks for ties; NA when either is constant, as the behavior
estimate always is), coverage the fraction of policies whose bootstrap
interval [ci_low, ci_high] holds the truth.  estimator-NAME.tsv: policy
estimate truth error stderr ci_low ci_high truth_stderr.  The estimates file
of --summarize has a header naming at least policy, estimator, estimate and
truth (ci_low and ci_high for the coverage), one row per policy and estimator.
Exit status: 0 success, 1 a step failed, 2 usage.

Environment: RECSTAGE_BIN, the folder of the tools (default: the repository's
bin/).

Examples:
  scripts/notify-ope.sh --small --jobs 2 -o /tmp/ope
  scripts/notify-ope.sh --jobs 4 --keep -o runs/ope
  scripts/notify-ope.sh --summarize runs/ope/work/estimates.tsv
EOF
}

# ---- the statistics ----

# summarize FILE: the results table of an estimates file (header with
# policy, estimator, estimate, truth and optionally ci_low, ci_high; any
# other columns are ignored), one row per estimator in order of first
# appearance.  Ranks are average ranks: 1 + (values below) + (ties - 1) / 2.
# An estimate that is not a number (nan, NA) makes that estimator's bias,
# rmse and spearman NA; a missing or non-numeric interval its coverage NA.
summarize() {
    # isnum, fail, ranks, pearson: AWK_STATS of lib.sh
    awk -F'\t' -v OFS='\t' -v prog="$prog" "$AWK_STATS"'
        NR == 1 {
            for (i = 1; i <= NF; i++) col[$i] = i
            split("policy estimator estimate truth", need, " ")
            for (i = 1; i <= 4; i++) if (!(need[i] in col)) fail("no column \047" need[i] "\047 in the header")
            hasci = ("ci_low" in col) && ("ci_high" in col)
            next
        }
        {
            e = $col["estimator"]; p = $col["policy"]; est = $col["estimate"]; tr = $col["truth"]
            if (e == "" || p == "") fail("line " FNR ": empty policy or estimator")
            if ((e, p) in seen) fail("line " FNR ": a second row for policy \047" p "\047 and estimator \047" e "\047")
            seen[e, p] = 1
            if (!isnum(tr)) fail("line " FNR ": truth \047" tr "\047 is not a number")
            if (!(e in n)) { order[++ne] = e; n[e] = 0 }
            k = ++n[e]
            y[e, k] = tr + 0
            if (isnum(est)) x[e, k] = est + 0
            else { nonum[e] = 1; if (!warned[e]++) printf "%s: warning: estimator %s: estimate \047%s\047 (policy %s) is not a number: its bias, rmse and spearman are NA\n", prog, e, est, p > "/dev/stderr" }
            if (hasci && isnum($col["ci_low"]) && isnum($col["ci_high"]))
                cov[e] += ($col["ci_low"] + 0 <= tr + 0 && tr + 0 <= $col["ci_high"] + 0)
            else
                nocov[e] = 1
        }
        END {
            if (bad) exit 1
            if (NR == 0) { printf "%s: %s: empty file\n", prog, FILENAME > "/dev/stderr"; exit 1 }
            if (ne == 0) { printf "%s: %s: no estimates\n", prog, FILENAME > "/dev/stderr"; exit 1 }
            print "estimator", "policies", "bias", "rmse", "spearman", "coverage"
            for (i = 1; i <= ne; i++) {
                e = order[i]; m = n[e]
                coverage = nocov[e] ? "NA" : sprintf("%.4f", cov[e] / m)
                if (nonum[e]) { print e, m, "NA", "NA", "NA", coverage; continue }
                s = 0; ss = 0
                for (k = 1; k <= m; k++) {
                    d = x[e, k] - y[e, k]; s += d; ss += d * d
                    xv[k] = x[e, k]; yv[k] = y[e, k]
                }
                ranks(xv, rx, m); ranks(yv, ry, m)
                print e, m, sprintf("%.6f", s / m), sprintf("%.6f", sqrt(ss / m)), pearson(rx, ry, m), coverage
            }
        }
    ' "$1"
}

# ---- options ----

small=0
episodes=
eval_episodes=
bootstrap=
seed=1
target_epsilon=0.1
weights=r_visit=1,r_click=0,r_send=-0.05,r_disable=-5
jobs=1
sshlogin=
sshloginfile=
outdir=./notify-ope-out
keep=0
summarize_file=
summarize_set=0
alphas="0 0.1"
lrs="0.001 0.0003"
hiddens="32 64,64"
train_steps=

while [ $# -gt 0 ]; do
    opt=$1
    case $opt in
    --*=*)
        # --name=value: split and reparse as two words
        name=${opt%%=*}
        shift
        set -- "$name" "${opt#*=}" "$@"
        continue
        ;;
    esac
    case $opt in
    --small) small=1 ;;
    --episodes) need_arg "$opt" $#; episodes=$2; shift ;;
    --eval-episodes) need_arg "$opt" $#; eval_episodes=$2; shift ;;
    --bootstrap) need_arg "$opt" $#; bootstrap=$2; shift ;;
    --seed) need_arg "$opt" $#; seed=$2; shift ;;
    --target-epsilon) need_arg "$opt" $#; target_epsilon=$2; shift ;;
    -w | --weights) need_arg "$opt" $#; weights=$2; shift ;;
    -w?*) weights=${opt#-w} ;;
    --jobs) need_arg "$opt" $#; jobs=$2; shift ;;
    --sshlogin) need_arg "$opt" $#; sshlogin=$2; shift ;;
    --sshloginfile) need_arg "$opt" $#; sshloginfile=$2; shift ;;
    -o | --output) need_arg "$opt" $#; outdir=$2; shift ;;
    -o?*) outdir=${opt#-o} ;;
    --keep) keep=1 ;;
    --summarize) need_arg "$opt" $#; summarize_file=$2; summarize_set=1; shift ;;
    --alphas) need_arg "$opt" $#; alphas=$2; shift ;;
    --lrs) need_arg "$opt" $#; lrs=$2; shift ;;
    --hiddens) need_arg "$opt" $#; hiddens=$2; shift ;;
    --train-steps) need_arg "$opt" $#; train_steps=$2; shift ;;
    --help) usage; exit 0 ;;
    --) shift; break ;;
    -*) usage_error "unrecognized option '$opt'" ;;
    *) usage_error "unexpected operand '$opt'" ;;
    esac
    shift
done
[ $# -eq 0 ] || usage_error "unexpected operand '$1'"
check_sshlogin "$sshlogin" "$sshloginfile"
[ -z "$sshloginfile" ] || sshloginfile=$(abs_path "$sshloginfile")

[ "$summarize_set" -eq 0 ] || summarize_and_exit "$summarize_file"

if [ "$small" -eq 1 ]; then
    episodes=${episodes:-1500}
    eval_episodes=${eval_episodes:-2000}
    bootstrap=${bootstrap:-20}
    train_steps=${train_steps:-100 300}
fi
episodes=${episodes:-20000}
eval_episodes=${eval_episodes:-20000}
bootstrap=${bootstrap:-200}
train_steps=${train_steps:-1000 4000}

want_uint "$episodes" --episodes 10
want_uint "$eval_episodes" --eval-episodes 2
want_uint "$bootstrap" --bootstrap 1
want_uint "$seed" --seed 0
want_uint "$jobs" --jobs 1
if ! is_num "$target_epsilon" || ! awk -v e="$target_epsilon" 'BEGIN { exit !(e + 0 <= 1) }'; then
    usage_error "invalid value '$target_epsilon' for --target-epsilon: want a number from 0 to 1"
fi
case $weights in
'' | *[!A-Za-z0-9_.,=+-]*) usage_error "invalid value '$weights' for --weights: want NAME=W,..." ;;
esac
[ -n "$outdir" ] || usage_error "empty output folder"

# the grid: one line per model, name alpha lr hidden steps
grid=
for a in $alphas; do
    is_num "$a" || usage_error "invalid value '$a' in --alphas: want a non-negative number"
done
for lr in $lrs; do
    if ! is_num "$lr" || ! awk -v x="$lr" 'BEGIN { exit !(x + 0 > 0) }'; then
        usage_error "invalid value '$lr' in --lrs: want a positive number"
    fi
done
for h in $hiddens; do
    case $h in
    *[!0-9,]* | ,* | *, | *,,*) usage_error "invalid value '$h' in --hiddens: want widths separated by commas, e.g. 64,64" ;;
    esac
done
for s in $train_steps; do
    if ! is_uint "$s" || [ "$s" -lt 1 ]; then
        usage_error "invalid value '$s' in --train-steps: want a positive integer"
    fi
done
for a in $alphas; do
    for lr in $lrs; do
        for h in $hiddens; do
            for s in $train_steps; do
                grid="$grid$(printf 'a%s_lr%s_h%s_n%s\t%s\t%s\t%s\t%s' "$a" "$lr" "${h//,/x}" "$s" "$a" "$lr" "$h" "$s")
"
            done
        done
    done
done
[ -n "$grid" ] || usage_error "empty grid: --alphas, --lrs, --hiddens and --train-steps need a value each"
dup=$(printf '%s' "$grid" | cut -f1 | sort | uniq -d | head -n 1)
[ -z "$dup" ] || usage_error "the grid has model '$dup' twice: repeated values in --alphas, --lrs, --hiddens or --train-steps"
npolicies=$(printf '%s' "$grid" | wc -l)

require_tools notif-sim cql-ddqn-train policy-act smis-ope

# the weights are checked by notif-sim itself (the known objectives)
if ! msg=$(notif-sim --evaluate never --episodes 2 --weights "$weights" 2>&1 >/dev/null); then
    usage_error "${msg%%$'\n'*}"
fi

detect_parallel "$sshlogin$sshloginfile" "training and evaluating one model at a time"

# ---- folders and cleanup ----

make_work_folder "$outdir"
WORK=$(cd "$WORK" && pwd)
# The results are written in the work folder, which is inside OUTDIR, and
# renamed into place at the end.
results_tmp="$WORK/results.tsv"
plot_tmp="$WORK/results.png"
succeeded=0
on_exit cleanup_work

started=$(now)
printf '%s' "$grid" >"$WORK/grid.tsv"

# ---- log ----

t=$(now)
note "logging $episodes episodes under the epsilon-greedy logging policy (seed $seed) ..."
notif-sim --episodes "$episodes" --seed "$seed" --quiet -o "$WORK/log.tsv" || die "notif-sim failed"
note "logged $(($(wc -l <"$WORK/log.tsv") - 1)) transitions in $(since "$t") s"

# ---- the jobs ----

# Both run in WORK, with names relative to it (so that a remote --sshlogin
# host can run train_one in its own folder), and print their own failure.
train_one() {
    local name=$1 alpha=$2 lr=$3 hidden=$4 steps=$5 t0 rc=0
    t0=$(now)
    "$BINDIR/cql-ddqn-train" --quiet -o "$name.model" -w "$weights" -g "$GAMMA" -a "$alpha" \
        --lr "$lr" --hidden "$hidden" -n "$steps" --seed "$seed" --threads 1 log.tsv \
        2>"$name.train.log" || rc=$?
    if [ "$rc" -ne 0 ]; then
        note "training $name failed (exit $rc):"
        tail -n 5 "$name.train.log" >&2
        return 1
    fi
    note "trained $name in $(since "$t0") s"
}

# The offline estimates (policy-act | smis-ope) and the true value (notif-sim
# running the same epsilon-greedy policy online) of one model.
eval_one() {
    local name=$1 t0 rc=0
    t0=$(now)
    set -o pipefail
    policy-act -m "$name.model" -a greedy --epsilon "$target_epsilon" -b --quiet log.tsv 2>"$name.act.log" |
        smis-ope -w "$weights" --bootstrap "$bootstrap" --seed "$seed" --quiet -o "$name.est.tsv" 2>"$name.ope.log" ||
        rc=$?
    if [ "$rc" -ne 0 ]; then
        note "estimating $name failed (exit $rc):"
        tail -n 5 "$name.act.log" "$name.ope.log" >&2
        return 1
    fi
    notif-sim -m "$name.model" --epsilon "$target_epsilon" --episodes "$eval_episodes" \
        --weights "$weights" --seed "$seed" --quiet -o "$name.truth.tsv" 2>"$name.truth.log" || rc=$?
    if [ "$rc" -ne 0 ]; then
        note "evaluating $name online failed (exit $rc):"
        tail -n 5 "$name.truth.log" >&2
        return 1
    fi
    note "evaluated $name in $(since "$t0") s: true value $(awk -F'\t' -v o="$OBJECTIVE" '$1 == o { print $2 }' "$name.truth.tsv")"
}

export -f train_one eval_one note now since
export prog BINDIR weights GAMMA seed target_epsilon bootstrap eval_episodes OBJECTIVE

# ---- train ----

t=$(now)
remote=()
if [ "$use_parallel" -eq 1 ]; then
    note "training $npolicies policies with $jobs job(s) (GNU parallel${sshlogin:+, on $sshlogin}${sshloginfile:+, on the hosts of $sshloginfile}) ..."
    if [ -n "$sshlogin$sshloginfile" ]; then
        if [ -n "$sshlogin" ]; then remote=(--sshlogin "$sshlogin"); else remote=(--sshloginfile "$sshloginfile"); fi
        remote+=(--basefile log.tsv --return '{1}.model' --return '{1}.train.log' --cleanup
            --env train_one --env note --env now --env since
            --env prog --env BINDIR --env weights --env GAMMA --env seed)
    fi
else
    note "training $npolicies policies one at a time ..."
fi
grid_run train_one 5 "${remote[@]}" || die "training failed"
note "trained $npolicies policies in $(since "$t") s"

# ---- estimate and evaluate ----

t=$(now)
note "estimating offline and evaluating online $npolicies epsilon-greedy policies (epsilon $target_epsilon, $bootstrap bootstrap replicates, $eval_episodes evaluation episodes) ..."
grid_run eval_one 1 || die "evaluation failed"
note "evaluated $npolicies policies in $(since "$t") s"

# ---- tables ----

# estimates.tsv: one row per policy and estimator, the objective's estimate
# (value stderr ci_low ci_high ess of smis-ope) and truth (value stderr of
# notif-sim), policies in grid order, estimators in smis-ope's order.
printf 'policy\testimator\testimate\tstderr\tci_low\tci_high\tess\ttruth\ttruth_stderr\n' >"$WORK/estimates.tsv"
while IFS=$'\t' read -r name _; do
    awk -F'\t' -v OFS='\t' -v o="$OBJECTIVE" -v name="$name" -v prog="$prog" '
        FILENAME == ARGV[1] {
            if (FNR == 1) { for (i = 1; i <= NF; i++) tc[$i] = i; next }
            if ($tc["objective"] == o) { truth = $tc["value"]; truth_se = $tc["stderr"]; found = 1 }
            next
        }
        FNR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
        $c["objective"] == o {
            print name, $c["estimator"], $c["value"], $c["stderr"], $c["ci_low"], $c["ci_high"], $c["ess"], truth, truth_se
            rows++
        }
        END {
            if (!found) { printf "%s: %s: no %s row in the true values\n", prog, name, o > "/dev/stderr"; exit 1 }
            if (!rows) { printf "%s: %s: no %s estimates\n", prog, name, o > "/dev/stderr"; exit 1 }
        }
    ' "$WORK/$name.truth.tsv" "$WORK/$name.est.tsv" >>"$WORK/estimates.tsv" ||
        die "collecting the estimates of $name failed"
done <"$WORK/grid.tsv"

summarize "$WORK/estimates.tsv" >"$results_tmp" || die "summarizing '$WORK/estimates.tsv' failed"
got=$(awk -F'\t' 'NR > 1 { printf "%s%s", sep, $1; sep = " " }' "$results_tmp")
[ "$got" = "$ESTIMATORS" ] || die "the estimators are '$got', want '$ESTIMATORS'"
awk -F'\t' -v n="$npolicies" 'NR > 1 && $2 != n { exit 1 }' "$results_tmp" ||
    die "an estimator lacks some of the $npolicies policies"

for e in $ESTIMATORS; do
    awk -F'\t' -v OFS='\t' -v e="$e" '
        function isnum(x) { return x ~ /^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$/ }
        BEGIN { print "policy", "estimate", "truth", "error", "stderr", "ci_low", "ci_high", "truth_stderr" }
        NR > 1 && $2 == e {
            print $1, $3, $8, isnum($3) ? sprintf("%.6f", $3 - $8) : "NA", $4, $5, $6, $9
        }
    ' "$WORK/estimates.tsv" >"$WORK/estimator-$e.tsv" || die "writing the table of $e failed"
done

# ---- plot ----

plot=0
if have_gnuplot; then
    t=$(now)
    note "plotting the estimates against the true values ..."
    terminal=$(png_terminal enhanced)
    # One panel per estimator, both axes over the range of its estimates
    # and truths (5% margin), so that y = x is the diagonal.
    panels=
    for e in $ESTIMATORS; do
        range=$(awk -F'\t' '
            function isnum(x) { return x ~ /^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$/ }
            NR == 1 { next }
            { for (i = 2; i <= 3; i++) if (isnum($i)) { v = $i + 0; if (!n++ || v < lo) lo = v; if (n == 1 || v > hi) hi = v } }
            END { d = (hi - lo) * 0.05; if (d == 0) d = 0.5; printf "[%.6g:%.6g]", lo - d, hi + d }
        ' "$WORK/estimator-$e.tsv")
        label=$(awk -F'\t' -v e="$e" '$1 == e { printf "%s: bias %.3g, rmse %.3g, rho %s", $1, $3, $4, $5 }' "$results_tmp")
        panels="${panels}set title '$label'
set xrange $range
set yrange $range
plot 'estimator-$e.tsv' every ::1 using 3:2:6:7 with yerrorbars pointtype 7 pointsize 0.6 linecolor rgb '#1f77b4' notitle, x with lines dashtype 2 linecolor rgb '#888888' notitle
"
    done
    gnuplot_draw <<EOF
set terminal $terminal size 1600,800
set output 'results.png'
set datafile separator '\t'
set datafile missing 'NA'
set grid
set xlabel 'true value (online)'
set ylabel 'estimate (offline, 95% interval)'
set multiplot layout 2,4 title 'Off-policy estimates of $npolicies epsilon-greedy policies (epsilon $target_epsilon), objective $OBJECTIVE; dashed: y = x'
$panels
unset multiplot
EOF
    plot=1
    note "plotted in $(since "$t") s"
fi

# ---- publish ----

# results.tsv last: its presence means that the other files are of this run
for e in $ESTIMATORS; do
    publish "$WORK/estimator-$e.tsv" "$outdir/estimator-$e.tsv"
done
publish_plot
publish "$results_tmp" "$outdir/results.tsv"
cat "$outdir/results.tsv"
succeeded=1
note "done in $(since "$started") s: '$outdir/results.tsv', estimator-NAME.tsv$([ "$plot" -eq 1 ] && echo " and results.png")"
