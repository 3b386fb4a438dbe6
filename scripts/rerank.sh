#!/usr/bin/env bash
# rerank.sh - the MultiSlot re-ranking experiment end to end (SPEC sections
# 9 and 10).
#
#   multislot-sim --logging uniform             the log: uniformly random lists, so that
#                                               prefix replay is unbiased
#   awk on request_id                           ids that are multiples of 5 are held out (20%)
#   sga-rerank --fit TRAIN                      the slot-aware model
#   sga-rerank (GNU parallel sweep) HELDOUT     the lists of each configuration: SGA over the
#                                               grid weights x diversity x freshness (20 by
#                                               default), sort by score_click, by score_save,
#                                               and a random order
#   replay-eval -B N HELDOUT LISTS              replayed clicks and saves (prefix matching,
#                                               inverse propensity), diversity and freshness
#   multislot-sim --judge LISTS                 the exact expected clicks and saves
#   replay-eval --pareto (twice)                the frontiers by the replayed and the true values
#   awk                                         rank correlation, error and coverage of the
#                                               replay against the truth
#   OUTDIR/results.tsv, OUTDIR/summary.tsv and OUTDIR/results.png
#
# The held-out split is a rule on the id, not sga-rerank's internal hash, so
# the script knows the held-out requests; both files keep the log's order
# (grouped by request), which replay-eval's merge join needs.  The truth is
# computed by regenerating the held-out requests from the same simulation
# options and seed, so it is the exact value on the very requests replayed.
#
# Outputs are written to temporary names in OUTDIR and renamed at the end;
# a failed run leaves the previous results in place and no partial files.
set -euo pipefail
set -f # no globbing: the grid lists are split on spaces
export LC_ALL=C

prog=rerank
# the shared helpers (die, note, ...), beside this file (through a symlink
# too); they set ROOT, BINDIR (RECSTAGE_BIN or ROOT/bin) and PATH
# shellcheck source=scripts/lib.sh
. "$(dirname -- "$(readlink -f -- "$0")")/lib.sh"

HEADER="config click_replay click_lo click_hi save_replay save_lo save_hi click_true save_true distinct_categories intra_list_similarity mean_age pareto_replay pareto_true"

usage() {
    cat <<'EOF'
Usage: rerank.sh [OPTION]...
  or:  rerank.sh --summarize FILE
Run the multi-slot re-ranking experiment end to end: log requests under
uniformly random lists (multislot-sim --logging uniform), hold out the requests
whose id is a multiple of 5, fit the slot-aware model on the others
(sga-rerank --fit), re-rank the held-out requests with a grid of SGA
configurations and three baselines side by side with GNU parallel
(sga-rerank), estimate the clicks and saves of each configuration's lists from
the log by prefix replay (replay-eval), compute their exact expectation
(multislot-sim --judge), and mark the Pareto frontiers by the replayed and by
the true values.  Writes OUTDIR/results.tsv (also printed on stdout),
OUTDIR/summary.tsv and OUTDIR/results.png (when gnuplot is installed).

      --small            a small experiment for tests and demos (15000
                         requests, 20 bootstrap replicates; the same grid)
      --requests N       logged requests (default 100000)
      --candidates N     candidates per request (default 8)
      --slots K          slots per request (default 3); a whole list of K
                         slots matches the uniform log once in
                         N (N-1) ... (N-K+1) requests
      --diversity-effect D
                         multislot-sim's context effect (default: its own, 0.5)
      --bootstrap N      bootstrap replicates of the replay intervals
                         (default 200)
      --seed S           seed of the simulation, the fit, the random order and
                         the bootstrap (default 1)
      --jobs N           configurations re-ranked and evaluated side by side
                         with GNU parallel (default 1)
      --sshlogin LOGINS  run them on these GNU parallel --sshlogin hosts (the
                         tools must be installed there on the same path)
      --sshloginfile FILE
                         the same, the hosts read from FILE
  -o, --output DIR       output folder (default ./rerank-out)
      --keep             keep the intermediate files in OUTDIR/work
      --summarize FILE   print the summary of a results table, such as
                         OUTDIR/results.tsv, and exit
      --help             display this help and exit

The grid of SGA configurations (every combination; 5 x 2 x 2 = 20 by
default), each re-ranking with sga-rerank -m MODEL -k K --threads 1
-w click=A,save=B --diversity L --freshness F:
      --weight-grid LIST weight pairs A,B (default '1,0 1,0.5 1,1 0.5,1 0,1')
      --diversities LIST values of L (default '0 0.2')
      --freshnesses LIST values of F (default '0 0.2')
The lists are separated by spaces.  A configuration is named after its
values, e.g. w1-0.5_d0.2_f0; the baselines are sort_score_click and
sort_score_save (sga-rerank --baseline COL) and random (sga-rerank --random).

Output: results.tsv with columns config click_replay click_lo click_hi
save_replay save_lo save_hi click_true save_true distinct_categories
intra_list_similarity mean_age pareto_replay pareto_true, one row per
configuration (the grid in order, then the baselines): the replayed clicks
and saves per request with their bootstrap interval, the true expected ones
(on the same held-out requests), the lists' mean number of distinct
categories, mean pairwise cosine of the features and mean age in hours, and
1 for the rows that no other row dominates when maximizing clicks, saves and
distinct_categories and minimizing mean_age, by the replayed (pareto_replay)
or the true (pareto_true) clicks and saves.
summary.tsv, two columns measure value: configurations; spearman_click and
spearman_save, the rank correlation of the replayed and the true values over
the configurations (average ranks for ties; NA when either is constant);
mae_click, mae_save, bias_click, bias_save (mean |replay - truth| and mean
replay - truth); coverage_click, coverage_save (the fraction of intervals
that hold the truth); frontier_replay, frontier_true, frontier_both,
frontier_replay_only, frontier_true_only (configurations, comma-separated,
or none); frontier_click_save_replay and frontier_click_save_true (the
configurations that no other one dominates on clicks and saves alone, the
frontier of the plot); dominating_sort_score_click (the SGA configurations
whose true clicks and saves are both at least those of sort_score_click, one
of them higher) and best_dominating_sort_score_click (the one of highest
click_true + save_true), or none.
results.png: clicks against saves per request, the replayed values with their
intervals beside the true ones; ringed the rows of each frontier, joined the
frontier on clicks and saves alone, the baselines labelled.
Exit status: 0 success, 1 a step failed, 2 usage.

Environment: RECSTAGE_BIN, the folder of the tools (default: the repository's
bin/).

Examples:
  scripts/rerank.sh --small --jobs 2 -o /tmp/rerank
  scripts/rerank.sh --jobs 4 --keep -o runs/rerank
  scripts/rerank.sh --summarize runs/rerank/results.tsv
EOF
}

# ---- the statistics ----

# summarize FILE: the summary table of a results table (header naming at
# least config, click_replay, click_lo, click_hi, save_replay, save_lo,
# save_hi, click_true, save_true, pareto_replay and pareto_true; other
# columns are ignored).  The baselines are the configurations named sort_*
# and random; every other one is an SGA configuration.  Ranks are average
# ranks: 1 + (values below) + (ties - 1) / 2.
summarize() {
    # isnum, fail, ranks, pearson: AWK_STATS of lib.sh
    awk -F'\t' -v OFS='\t' -v prog="$prog" "$AWK_STATS"'
        function spearman(o,   k, xv, yv, rx, ry) {
            for (k = 1; k <= n; k++) { xv[k] = rep[o, k]; yv[k] = tru[o, k] }
            ranks(xv, rx, n); ranks(yv, ry, n)
            return pearson(rx, ry, n)
        }
        function names(col,   k, s) {
            s = ""
            for (k = 1; k <= n; k++) if (mark[col, k]) s = s (s == "" ? "" : ",") cfg[k]
            return s == "" ? "none" : s
        }
        function both(want_r, want_t,   k, s) {
            s = ""
            for (k = 1; k <= n; k++)
                if (mark["pareto_replay", k] == want_r && mark["pareto_true", k] == want_t)
                    s = s (s == "" ? "" : ",") cfg[k]
            return s == "" ? "none" : s
        }
        # the configurations that no other one dominates on (click, save) alone,
        # by the replayed (w = "rep") or the true (w = "tru") values
        function front2(w,   k, j, s, dom) {
            s = ""
            for (k = 1; k <= n; k++) {
                dom = 0
                for (j = 1; j <= n && !dom; j++) {
                    if (j == k) continue
                    if (val(w, "click", j) >= val(w, "click", k) && val(w, "save", j) >= val(w, "save", k) &&
                        (val(w, "click", j) > val(w, "click", k) || val(w, "save", j) > val(w, "save", k))) dom = 1
                }
                if (!dom) s = s (s == "" ? "" : ",") cfg[k]
            }
            return s == "" ? "none" : s
        }
        function val(w, o, k) { return w == "rep" ? rep[o, k] : tru[o, k] }
        function is_baseline(c) { return c ~ /^sort_/ || c == "random" }
        NR == 1 {
            for (i = 1; i <= NF; i++) col[$i] = i
            nneed = split("config click_replay click_lo click_hi save_replay save_lo save_hi click_true save_true pareto_replay pareto_true", need, " ")
            for (i = 1; i <= nneed; i++) if (!(need[i] in col)) fail("no column \047" need[i] "\047 in the header")
            nobj = split("click save", obj, " ")
            next
        }
        {
            c = $col["config"]
            if (c == "") fail("line " FNR ": empty config")
            if (c in seen) fail("line " FNR ": a second row for configuration \047" c "\047")
            seen[c] = ++n
            cfg[n] = c
            for (j = 1; j <= nobj; j++) {
                o = obj[j]
                split(o "_replay " o "_lo " o "_hi " o "_true", f, " ")
                for (i = 1; i <= 4; i++)
                    if (!isnum($col[f[i]])) fail("line " FNR ": " f[i] " \047" $col[f[i]] "\047 is not a number")
                rep[o, n] = $col[o "_replay"] + 0; tru[o, n] = $col[o "_true"] + 0
                lo[o, n] = $col[o "_lo"] + 0; hi[o, n] = $col[o "_hi"] + 0
            }
            for (i = 1; i <= 2; i++) {
                p = i == 1 ? "pareto_replay" : "pareto_true"
                if ($col[p] != "0" && $col[p] != "1") fail("line " FNR ": " p " \047" $col[p] "\047 is not 0 or 1")
                mark[p, n] = $col[p] + 0
            }
        }
        END {
            if (bad) exit 1
            if (NR == 0) { printf "%s: %s: empty file\n", prog, FILENAME > "/dev/stderr"; exit 1 }
            if (n == 0) { printf "%s: %s: no configurations\n", prog, FILENAME > "/dev/stderr"; exit 1 }
            print "measure", "value"
            print "configurations", n
            for (j = 1; j <= nobj; j++) print "spearman_" obj[j], spearman(obj[j])
            for (j = 1; j <= nobj; j++) {
                o = obj[j]; s = 0; a = 0; cv = 0
                for (k = 1; k <= n; k++) {
                    d = rep[o, k] - tru[o, k]; s += d; a += d < 0 ? -d : d
                    cv += lo[o, k] <= tru[o, k] && tru[o, k] <= hi[o, k]
                }
                mae[o] = sprintf("%.6f", a / n); bias[o] = sprintf("%.6f", s / n); cov[o] = sprintf("%.4f", cv / n)
            }
            for (j = 1; j <= nobj; j++) print "mae_" obj[j], mae[obj[j]]
            for (j = 1; j <= nobj; j++) print "bias_" obj[j], bias[obj[j]]
            for (j = 1; j <= nobj; j++) print "coverage_" obj[j], cov[obj[j]]
            print "frontier_replay", names("pareto_replay")
            print "frontier_true", names("pareto_true")
            print "frontier_both", both(1, 1)
            print "frontier_replay_only", both(1, 0)
            print "frontier_true_only", both(0, 1)
            print "frontier_click_save_replay", front2("rep")
            print "frontier_click_save_true", front2("tru")
            dom = ""; best = "none"
            if ("sort_score_click" in seen) {
                b = seen["sort_score_click"]
                for (k = 1; k <= n; k++) {
                    if (is_baseline(cfg[k])) continue
                    ge = tru["click", k] >= tru["click", b] && tru["save", k] >= tru["save", b]
                    gt = tru["click", k] > tru["click", b] || tru["save", k] > tru["save", b]
                    if (!(ge && gt)) continue
                    dom = dom (dom == "" ? "" : ",") cfg[k]
                    v = tru["click", k] + tru["save", k]
                    if (best == "none" || v > bestv) { best = cfg[k]; bestv = v }
                }
                print "dominating_sort_score_click", dom == "" ? "none" : dom
                print "best_dominating_sort_score_click", best
            } else {
                print "dominating_sort_score_click", "NA"
                print "best_dominating_sort_score_click", "NA"
            }
        }
    ' "$1"
}

# ---- options ----

small=0
requests=
candidates=8
slots=3
diversity_effect=
bootstrap=
seed=1
jobs=1
sshlogin=
sshloginfile=
outdir=./rerank-out
keep=0
summarize_file=
summarize_set=0
weight_grid="1,0 1,0.5 1,1 0.5,1 0,1"
diversities="0 0.2"
freshnesses="0 0.2"

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
    --requests) need_arg "$opt" $#; requests=$2; shift ;;
    --candidates) need_arg "$opt" $#; candidates=$2; shift ;;
    --slots) need_arg "$opt" $#; slots=$2; shift ;;
    --diversity-effect) need_arg "$opt" $#; diversity_effect=$2; shift ;;
    --bootstrap) need_arg "$opt" $#; bootstrap=$2; shift ;;
    --seed) need_arg "$opt" $#; seed=$2; shift ;;
    --jobs) need_arg "$opt" $#; jobs=$2; shift ;;
    --sshlogin) need_arg "$opt" $#; sshlogin=$2; shift ;;
    --sshloginfile) need_arg "$opt" $#; sshloginfile=$2; shift ;;
    -o | --output) need_arg "$opt" $#; outdir=$2; shift ;;
    -o?*) outdir=${opt#-o} ;;
    --keep) keep=1 ;;
    --summarize) need_arg "$opt" $#; summarize_file=$2; summarize_set=1; shift ;;
    --weight-grid) need_arg "$opt" $#; weight_grid=$2; shift ;;
    --diversities) need_arg "$opt" $#; diversities=$2; shift ;;
    --freshnesses) need_arg "$opt" $#; freshnesses=$2; shift ;;
    --help) usage; exit 0 ;;
    --) shift; break ;;
    -*) usage_error "unrecognized option '$opt'" ;;
    *) usage_error "unexpected operand '$opt'" ;;
    esac
    shift
done
[ $# -eq 0 ] || usage_error "unexpected operand '$1'"

[ "$summarize_set" -eq 0 ] || summarize_and_exit "$summarize_file"

if [ "$small" -eq 1 ]; then
    requests=${requests:-15000}
    bootstrap=${bootstrap:-20}
fi
requests=${requests:-100000}
bootstrap=${bootstrap:-200}

want_uint "$requests" --requests 10
want_uint "$candidates" --candidates 1
want_uint "$slots" --slots 1
[ "$slots" -le "$candidates" ] || usage_error "--slots $slots exceeds --candidates $candidates"
if [ -n "$diversity_effect" ] && ! is_num "$diversity_effect"; then
    usage_error "invalid value '$diversity_effect' for --diversity-effect: want a non-negative number"
fi
want_uint "$bootstrap" --bootstrap 1
want_uint "$seed" --seed 0
want_uint "$jobs" --jobs 1
check_sshlogin "$sshlogin" "$sshloginfile"
[ -z "$sshloginfile" ] || sshloginfile=$(abs_path "$sshloginfile")
[ -n "$outdir" ] || usage_error "empty output folder"

# the grid: one line per configuration, name method click_weight save_weight diversity freshness
grid=
for w in $weight_grid; do
    case $w in
    *,*,*) usage_error "invalid value '$w' in --weight-grid: want a pair A,B" ;;
    *,*) ;;
    *) usage_error "invalid value '$w' in --weight-grid: want a pair A,B" ;;
    esac
    if ! is_num "${w%,*}" || ! is_num "${w#*,}"; then
        usage_error "invalid value '$w' in --weight-grid: want two non-negative numbers A,B"
    fi
done
for l in $diversities; do
    is_num "$l" || usage_error "invalid value '$l' in --diversities: want a non-negative number"
done
for f in $freshnesses; do
    is_num "$f" || usage_error "invalid value '$f' in --freshnesses: want a non-negative number"
done
for w in $weight_grid; do
    for l in $diversities; do
        for f in $freshnesses; do
            a=${w%,*}
            b=${w#*,}
            grid="$grid$(printf 'w%s-%s_d%s_f%s\tsga\t%s\t%s\t%s\t%s' "$a" "$b" "$l" "$f" "$a" "$b" "$l" "$f")
"
        done
    done
done
[ -n "$grid" ] || usage_error "empty grid: --weight-grid, --diversities and --freshnesses need a value each"
dup=$(printf '%s' "$grid" | cut -f1 | sort | uniq -d | head -n 1)
[ -z "$dup" ] || usage_error "the grid has configuration '$dup' twice: repeated values in --weight-grid, --diversities or --freshnesses"
grid="${grid}sort_score_click	baseline	score_click	-	-	-
sort_score_save	baseline	score_save	-	-	-
random	random	-	-	-	-
"
nconfigs=$(printf '%s' "$grid" | wc -l)

require_tools multislot-sim sga-rerank replay-eval

# The simulation options, the same for the log and for --judge (all are
# numbers or words without spaces).
SIM_OPTS="--requests $requests --candidates $candidates --slots $slots --seed $seed --logging uniform"
[ -z "$diversity_effect" ] || SIM_OPTS="$SIM_OPTS --diversity-effect $diversity_effect"
# the ranges are checked by multislot-sim itself
read -ra sim_opts <<<"$SIM_OPTS"
if ! msg=$(multislot-sim "${sim_opts[@]}" --requests 1 --quiet 2>&1 >/dev/null); then
    usage_error "${msg%%$'\n'*}"
fi

detect_parallel "$sshlogin$sshloginfile" "evaluating one configuration at a time"

# ---- folders and cleanup ----

make_work_folder "$outdir"
WORK=$(cd "$WORK" && pwd)
# The results are written in the work folder, which is inside OUTDIR, and
# renamed into place at the end.
results_tmp="$WORK/results.tsv"
summary_tmp="$WORK/summary.tsv"
plot_tmp="$WORK/results.png"
succeeded=0
on_exit cleanup_work

started=$(now)
printf '%s' "$grid" >"$WORK/grid.tsv"

# ---- log and split ----

t=$(now)
note "logging $requests requests of $candidates candidates and $slots slots under uniform lists (seed $seed) ..."
multislot-sim "${sim_opts[@]}" --quiet -o "$WORK/log.tsv" || die "multislot-sim failed"
note "logged $(($(wc -l <"$WORK/log.tsv") - 1)) candidates in $(since "$t") s"

t=$(now)
# in WORK: awk writes train.tsv and heldout.tsv there
(cd "$WORK" && awk -F'\t' -v prog="$prog" '
    NR == 1 {
        for (i = 1; i <= NF; i++) if ($i == "request_id") c = i
        if (!c) { printf "%s: log.tsv: no column request_id\n", prog > "/dev/stderr"; exit 1 }
        print > "train.tsv"; print > "heldout.tsv"; next
    }
    $c !~ /^[0-9]+$/ { printf "%s: log.tsv:%d: request_id \047%s\047 is not an integer\n", prog, NR, $c > "/dev/stderr"; exit 1 }
    {
        if ($c % 5 == 0) { print > "heldout.tsv"; if (NR == 2 || $c != last) held++ }
        else { print > "train.tsv"; if (NR == 2 || $c != last) trained++ }
        last = $c
    }
    END { if (!held || !trained) { printf "%s: log.tsv: an empty split\n", prog > "/dev/stderr"; exit 1 } }
' log.tsv) || die "splitting the log failed"
nheld=$(awk -F'\t' 'NR == 2 || NR > 2 && $1 != last { n++ } { last = $1 } END { print n + 0 }' "$WORK/heldout.tsv")
note "held out $nheld requests (ids that are multiples of 5) in $(since "$t") s"

# ---- fit ----

t=$(now)
note "fitting the slot-aware model on the other $((requests - nheld)) requests ..."
sga-rerank --fit -o "$WORK/slot.model" --seed "$seed" --quiet "$WORK/train.tsv" >"$WORK/fit.tsv" 2>"$WORK/fit.log" || {
    tail -n 5 "$WORK/fit.log" >&2
    die "fitting the model failed"
}
note "fitted in $(since "$t") s; per-slot click AUC model/score: $(awk -F'\t' '$1 == "click" && $2 != "all" { printf "%s%s %s/%s", sep, $2, $5, $6; sep = ", " }' "$WORK/fit.tsv")"

# ---- the jobs ----

# Runs in WORK, with names relative to it (so that a remote --sshlogin host
# can run it in its own folder), and prints its own failure: the lists of one
# configuration, their replayed value and their true value.
eval_one() {
    local name=$1 method=$2 a=$3 b=$4 l=$5 f=$6 t0 rc=0 sim
    t0=$(now)
    case $method in
    sga)
        "$BINDIR/sga-rerank" -m slot.model -k "$SLOTS" --threads 1 -w "click=$a,save=$b" \
            --diversity "$l" --freshness "$f" --quiet -o "$name.lists.tsv" heldout.tsv 2>"$name.log" || rc=$?
        ;;
    baseline)
        "$BINDIR/sga-rerank" --baseline "$a" -k "$SLOTS" --threads 1 --quiet -o "$name.lists.tsv" \
            heldout.tsv 2>"$name.log" || rc=$?
        ;;
    random)
        "$BINDIR/sga-rerank" --random -k "$SLOTS" --seed "$SEED" --threads 1 --quiet -o "$name.lists.tsv" \
            heldout.tsv 2>"$name.log" || rc=$?
        ;;
    *) note "$name: unknown method '$method'"; return 1 ;;
    esac
    if [ "$rc" -ne 0 ]; then
        note "re-ranking $name failed (exit $rc):"
        tail -n 5 "$name.log" >&2
        return 1
    fi
    "$BINDIR/replay-eval" -B "$BOOTSTRAP" --seed "$SEED" --quiet -o "$name.replay.tsv" \
        heldout.tsv "$name.lists.tsv" 2>>"$name.log" || rc=$?
    if [ "$rc" -ne 0 ]; then
        note "replaying $name failed (exit $rc):"
        tail -n 5 "$name.log" >&2
        return 1
    fi
    read -ra sim <<<"$SIM_OPTS"
    "$BINDIR/multislot-sim" "${sim[@]}" --quiet --judge "$name.lists.tsv" -o "$name.truth.tsv" \
        2>>"$name.log" || rc=$?
    if [ "$rc" -ne 0 ]; then
        note "judging $name failed (exit $rc):"
        tail -n 5 "$name.log" >&2
        return 1
    fi
    note "evaluated $name in $(since "$t0") s: $(awk -F'\t' '
        FILENAME == ARGV[1] && FNR > 1 { v[$1] = $2; m[$1] = $6 }
        FILENAME == ARGV[2] && FNR > 1 { tr[$1] = $2 }
        END { printf "clicks %.4f replayed (%d matched), %.4f true; saves %.4f replayed, %.4f true",
                     v["click"], m["click"], tr["click"], v["save"], tr["save"] }
    ' "$name.replay.tsv" "$name.truth.tsv")"
}

SLOTS=$slots
SEED=$seed
BOOTSTRAP=$bootstrap
export -f eval_one note now since
export prog BINDIR SLOTS SEED BOOTSTRAP SIM_OPTS

t=$(now)
remote=()
if [ "$use_parallel" -eq 1 ]; then
    hosts=
    if [ -n "$sshlogin" ]; then
        hosts=$sshlogin
        remote=(--sshlogin "$sshlogin")
    elif [ -n "$sshloginfile" ]; then
        hosts="the hosts of $sshloginfile"
        remote=(--sshloginfile "$sshloginfile")
    fi
    if [ -n "$hosts" ]; then
        remote+=(--basefile heldout.tsv --basefile slot.model
            --return '{1}.lists.tsv' --return '{1}.replay.tsv' --return '{1}.truth.tsv' --return '{1}.log' --cleanup
            --env eval_one --env note --env now --env since
            --env prog --env BINDIR --env SLOTS --env SEED --env BOOTSTRAP --env SIM_OPTS)
    fi
    note "re-ranking and evaluating $nconfigs configurations with $jobs job(s) (GNU parallel${hosts:+, on $hosts}; $bootstrap bootstrap replicates) ..."
else
    note "re-ranking and evaluating $nconfigs configurations one at a time ($bootstrap bootstrap replicates) ..."
fi
grid_run eval_one 6 "${remote[@]}" || die "evaluating the configurations failed"
note "evaluated $nconfigs configurations in $(since "$t") s"

# ---- tables ----

# base.tsv: the results without the pareto columns, configurations in grid
# order.  Every replay must cover all the held-out requests.
printf '%s\n' "$HEADER" | awk '{ for (i = 1; i <= NF - 2; i++) printf "%s%s", $i, i < NF - 2 ? "\t" : "\n" }' >"$WORK/base.tsv"
while IFS=$'\t' read -r name _; do
    awk -F'\t' -v OFS='\t' -v name="$name" -v prog="$prog" -v nheld="$nheld" '
        function fail(msg) { printf "%s: %s: %s\n", prog, name, msg > "/dev/stderr"; bad = 1; exit 1 }
        function need(a, k, what) { if (!(k in a)) fail("no " k " row in the " what) ; return a[k] }
        FILENAME == ARGV[1] {
            if (FNR == 1) { for (i = 1; i <= NF; i++) rc[$i] = i; next }
            v[$rc["objective"]] = $rc["value"]; lo[$rc["objective"]] = $rc["ci_low"]; hi[$rc["objective"]] = $rc["ci_high"]
            req[$rc["objective"]] = $rc["requests"]
            next
        }
        FNR == 1 { for (i = 1; i <= NF; i++) tc[$i] = i; next }
        { tr[$tc["objective"]] = $tc["value"] }
        END {
            if (bad) exit 1
            split("click save distinct_categories intra_list_similarity mean_age", o, " ")
            for (i = 1; i <= 5; i++) {
                need(v, o[i], "replay")
                if (req[o[i]] != nheld) fail(o[i] ": " req[o[i]] " requests replayed, want " nheld)
            }
            need(tr, "click", "true values"); need(tr, "save", "true values")
            print name,
                sprintf("%.6f", v["click"]), sprintf("%.6f", lo["click"]), sprintf("%.6f", hi["click"]),
                sprintf("%.6f", v["save"]), sprintf("%.6f", lo["save"]), sprintf("%.6f", hi["save"]),
                sprintf("%.6f", tr["click"]), sprintf("%.6f", tr["save"]),
                sprintf("%.6f", v["distinct_categories"]), sprintf("%.6f", v["intra_list_similarity"]),
                sprintf("%.6f", v["mean_age"])
        }
    ' "$WORK/$name.replay.tsv" "$WORK/$name.truth.tsv" >>"$WORK/base.tsv" ||
        die "collecting the values of $name failed"
done <"$WORK/grid.tsv"

# the two frontiers, joined back by row (and checked by name)
replay-eval --pareto --maximize click_replay,save_replay,distinct_categories --minimize mean_age \
    --quiet -o "$WORK/pareto-replay.tsv" "$WORK/base.tsv" || die "marking the replayed frontier failed"
replay-eval --pareto --maximize click_true,save_true,distinct_categories --minimize mean_age \
    --quiet -o "$WORK/pareto-true.tsv" "$WORK/base.tsv" || die "marking the true frontier failed"
awk -F'\t' -v OFS='\t' -v prog="$prog" '
    function fail(msg) { printf "%s: %s\n", prog, msg > "/dev/stderr"; bad = 1; exit 1 }
    FILENAME == ARGV[1] { if (FNR > 1) { pr[FNR] = $NF; nr[FNR] = $1 }; next }
    FILENAME == ARGV[2] { if (FNR > 1) { pt[FNR] = $NF; nt[FNR] = $1 }; next }
    FNR == 1 { print $0, "pareto_replay", "pareto_true"; next }
    {
        if (nr[FNR] != $1 || nt[FNR] != $1) fail("the frontier tables do not match the results at row " FNR)
        if (pr[FNR] !~ /^[01]$/ || pt[FNR] !~ /^[01]$/) fail("a pareto mark of " $1 " is not 0 or 1")
        print $0, pr[FNR], pt[FNR]
    }
    END { if (bad) exit 1 }
' "$WORK/pareto-replay.tsv" "$WORK/pareto-true.tsv" "$WORK/base.tsv" >"$results_tmp" ||
    die "joining the frontiers failed"
got=$(($(wc -l <"$results_tmp") - 1))
[ "$got" -eq "$nconfigs" ] || die "results.tsv has $got configurations, want $nconfigs"

summarize "$results_tmp" >"$summary_tmp" || die "summarizing the results failed"

# ---- plot ----

plot=0
if have_gnuplot; then
    t=$(now)
    note "plotting clicks against saves ..."
    terminal=$(png_terminal noenhanced)
    # one data file per layer; the frontier points in order of clicks
    (cd "$WORK" && awk -F'\t' -v OFS='\t' '
        NR == 1 { next }
        { base = $1 ~ /^sort_/ || $1 == "random" }
        base { print $1, $2, $5, $8, $9 > "plot-baselines.tsv" }
        { n++; c[n] = $2; s[n] = $5; ct[n] = $8; st[n] = $9 }
        $13 == 1 { print $2, $5 > "plot-pareto-replay.tsv" }
        $14 == 1 { print $8, $9 > "plot-pareto-true.tsv" }
        # the (click, save) frontier, joined in order of clicks
        function front(x, y, out,   k, j, dom) {
            for (k = 1; k <= n; k++) {
                dom = 0
                for (j = 1; j <= n && !dom; j++)
                    if (j != k && x[j] >= x[k] && y[j] >= y[k] && (x[j] > x[k] || y[j] > y[k])) dom = 1
                if (!dom) print x[k], y[k] | ("sort -g -k1,1 > " out)
            }
            close("sort -g -k1,1 > " out)
        }
        END { front(c, s, "plot-front-replay.tsv"); front(ct, st, "plot-front-true.tsv") }
    ' results.tsv) || die "preparing the plot data failed"
    # both panels over the range of every value and interval (5% margin)
    ranges=$(awk -F'\t' '
        NR == 1 { next }
        { for (i = 2; i <= 4; i++) cx[++nx] = $i; cx[++nx] = $8
          for (i = 5; i <= 7; i++) cy[++ny] = $i; cy[++ny] = $9 }
        function rng(a, m,   i, lo, hi, d) {
            lo = hi = a[1]
            for (i = 2; i <= m; i++) { if (a[i] < lo) lo = a[i]; if (a[i] > hi) hi = a[i] }
            d = (hi - lo) * 0.05; if (d == 0) d = 0.05
            return sprintf("[%.6g:%.6g]", lo - d, hi + d)
        }
        END { print rng(cx, nx), rng(cy, ny) }
    ' "$results_tmp")
    xrange=${ranges% *}
    yrange=${ranges#* }
    for f in plot-pareto-replay plot-pareto-true plot-front-replay plot-front-true; do
        [ -s "$WORK/$f.tsv" ] || printf 'NaN\tNaN\n' >"$WORK/$f.tsv"
    done
    [ -s "$WORK/plot-baselines.tsv" ] || printf 'none\tNaN\tNaN\tNaN\tNaN\n' >"$WORK/plot-baselines.tsv"
    gnuplot_draw <<EOF
set terminal $terminal size 1600,700
set output 'results.png'
set termoption noenhanced
set datafile separator '\t'
set datafile missing 'NA'
set grid
set key top left
set xrange $xrange
set yrange $yrange
set xlabel 'clicks per request'
set ylabel 'saves per request'
set multiplot layout 1,2 title 'Re-ranking $nheld held-out requests ($candidates candidates, $slots slots), $nconfigs configurations; ringed: not dominated on clicks, saves, distinct categories and mean age'
set title 'replayed from the uniform log (prefix matching, 95% intervals)'
plot 'results.tsv' every ::1 using 2:5:3:4:6:7 with xyerrorbars pointtype 7 pointsize 0.6 linecolor rgb '#1f77b4' title 'replayed', \
     'results.tsv' every ::1 using 8:9 with points pointtype 2 pointsize 0.8 linecolor rgb '#aaaaaa' title 'true', \
     'plot-pareto-replay.tsv' using 1:2 with points pointtype 6 pointsize 2 linewidth 1.5 linecolor rgb '#d62728' title 'frontier (4 objectives)', \
     'plot-front-replay.tsv' using 1:2 with lines linewidth 1.5 linecolor rgb '#d62728' title 'frontier (clicks, saves)', \
     'plot-baselines.tsv' using 2:3:1 with labels offset char 1,1 left font ',9' textcolor rgb '#333333' notitle
set title 'true (multislot-sim --judge, exact expectation)'
plot 'results.tsv' every ::1 using 8:9 with points pointtype 7 pointsize 0.8 linecolor rgb '#2ca02c' title 'true', \
     'plot-pareto-true.tsv' using 1:2 with points pointtype 6 pointsize 2 linewidth 1.5 linecolor rgb '#d62728' title 'frontier (4 objectives)', \
     'plot-front-true.tsv' using 1:2 with lines linewidth 1.5 linecolor rgb '#d62728' title 'frontier (clicks, saves)', \
     'plot-baselines.tsv' using 4:5:1 with labels offset char 1,1 left font ',9' textcolor rgb '#333333' notitle
unset multiplot
EOF
    plot=1
    note "plotted in $(since "$t") s"
fi

# ---- publish ----

# results.tsv last: its presence means that the other files are of this run
publish "$summary_tmp" "$outdir/summary.tsv"
publish_plot
publish "$results_tmp" "$outdir/results.tsv"
cat "$outdir/results.tsv"
succeeded=1
note "done in $(since "$started") s: '$outdir/results.tsv', summary.tsv$([ "$plot" -eq 1 ] && echo " and results.png")"
