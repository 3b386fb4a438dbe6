#!/usr/bin/env bash
# personalize.sh - the LiMAML experiment end to end (SPEC sections 7 and 10).
#
#   member-sim --p-true                      interactions with the true click probability
#   split on member_id                       ids ending in 0 or 5 are held out (20%)
#   maml-train --valid HELDOUT               modes maml, global, wide-deep (GNU parallel)
#   meta-embed-export -q Q HELDOUT           maml: adapt on each held-out member's support rows
#   maml-score [-e EMB] -q Q HELDOUT         score the query rows (the newest fraction Q)
#   join support = n_rows of the export      the same support count for every method
#   rec-metrics --by support --bootstrap N   AUC by support-size bucket, plus the p_true oracle
#   OUTDIR/results.tsv and OUTDIR/results.png
#
# The split is a rule on the id, not maml-train's internal hash, so the
# script knows the held-out members and can score them with the serving
# tools.  The train/serve check compares the held-out AUC maml-train prints
# for maml with the AUC of export + score: the two paths must agree.
#
# Outputs are written to temporary names in OUTDIR and renamed at the end;
# a failed run leaves the previous results in place and no partial files.
set -euo pipefail
export LC_ALL=C

prog=personalize
# the shared helpers (die, note, ...), beside this file (through a symlink
# too); they set ROOT, BINDIR (RECSTAGE_BIN or ROOT/bin) and PATH
# shellcheck source=scripts/lib.sh
. "$(dirname -- "$(readlink -f -- "$0")")/lib.sh"

METHODS="maml global wide-deep"
BUCKET_EDGES=1,6,21,101
BUCKETS="0 1-5 6-20 21-100 >100 all"
AUC_TOLERANCE=0.0001

usage() {
    cat <<'EOF'
Usage: personalize.sh [OPTION]...
Run the LiMAML experiment end to end: simulate members (member-sim), hold out
the members whose id ends in 0 or 5, train maml, global and wide-deep models
(maml-train), export meta embeddings and score the held-out query rows
(meta-embed-export, maml-score), and compare the methods and the p_true oracle
by support-size bucket (rec-metrics).  Writes OUTDIR/results.tsv (also printed
on stdout) and OUTDIR/results.png (when gnuplot is installed).

      --small            a tiny world for tests and demos (600 members,
                         3 epochs, 50 bootstrap replicates)
      --members N        simulated members (default: member-sim's, 20000)
      --epochs N         training epochs (default: maml-train's, 5)
  -q, --query-frac F     each member's newest fraction F is the query set (default 0.2)
      --seed S           seed of the simulation, training and bootstrap (default 1)
      --jobs N           models trained side by side with GNU parallel (default 1)
      --bootstrap N      bootstrap replicates of the AUC intervals (default 200)
  -o, --output DIR       output folder (default ./personalize-out)
      --keep             keep the intermediate files in OUTDIR/work
      --help             display this help and exit

Output: results.tsv with columns method bucket members rows auc auc_lo auc_hi
logloss; methods maml, global, wide-deep and oracle (the true probability
p_true); buckets 0, 1-5, 6-20, 21-100, >100 (support rows) and all.  Exit
status: 0 success, 1 a step failed or train/serve results differ, 2 usage.

Environment: RECSTAGE_BIN, the folder of the tools (default: the repository's
bin/; `make check SANITIZE=1` points it at the sanitizer build).

Examples:
  scripts/personalize.sh --small -o /tmp/p
  scripts/personalize.sh --jobs 3 --bootstrap 1000 -o runs/limaml
EOF
}

# ---- options ----

small=0
members=
epochs=
query_frac=0.2
seed=1
jobs=1
bootstrap=
outdir=./personalize-out
keep=0

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
    --members) need_arg "$opt" $#; members=$2; shift ;;
    --epochs) need_arg "$opt" $#; epochs=$2; shift ;;
    -q | --query-frac) need_arg "$opt" $#; query_frac=$2; shift ;;
    --seed) need_arg "$opt" $#; seed=$2; shift ;;
    --jobs) need_arg "$opt" $#; jobs=$2; shift ;;
    --bootstrap) need_arg "$opt" $#; bootstrap=$2; shift ;;
    -o | --output) need_arg "$opt" $#; outdir=$2; shift ;;
    -o?*) outdir=${opt#-o} ;;
    --keep) keep=1 ;;
    --help) usage; exit 0 ;;
    --) shift; break ;;
    -*) usage_error "unrecognized option '$opt'" ;;
    *) usage_error "unexpected operand '$opt'" ;;
    esac
    shift
done
[ $# -eq 0 ] || usage_error "unexpected operand '$1'"

if [ "$small" -eq 1 ]; then
    members=${members:-600}
    epochs=${epochs:-3}
    bootstrap=${bootstrap:-50}
fi
bootstrap=${bootstrap:-200}

[ -z "$members" ] || want_uint "$members" --members 10
[ -z "$epochs" ] || want_uint "$epochs" --epochs 1
want_uint "$seed" --seed 0
want_uint "$jobs" --jobs 1
want_uint "$bootstrap" --bootstrap 1
if ! awk -v f="$query_frac" 'BEGIN { exit !(f ~ /^(0?\.[0-9]+|0|1|1\.0*)$/ && f + 0 > 0 && f + 0 < 1) }'; then
    usage_error "invalid value '$query_frac' for --query-frac: want a number between 0 and 1"
fi
[ -n "$outdir" ] || usage_error "empty output folder"

require_tools member-sim maml-train meta-embed-export maml-score rec-metrics

# Threads per training job: the cores shared among the jobs that run at
# once (results do not depend on the thread count, only the wall time does).
ncores=$(nproc 2>/dev/null || echo 1)
# shellcheck disable=SC2086 # METHODS is a list of words
set -- $METHODS
threads=$((ncores / (jobs < $# ? jobs : $#)))
[ "$threads" -ge 1 ] || threads=1

# ---- folders and cleanup ----

make_work_folder "$outdir"
# The results are written in the work folder, which is inside OUTDIR, and
# renamed into place at the end.
results_tmp="$WORK/results.tsv"
plot_tmp="$WORK/results.png"
succeeded=0
on_exit cleanup_work

started=$(now)

# ---- simulate ----

t=$(now)
note "simulating ${members:-the default number of} members (seed $seed) ..."
member-sim --p-true --seed "$seed" ${members:+--members "$members"} --quiet -o "$WORK/members.tsv" ||
    die "member-sim failed"
note "simulated $(($(wc -l <"$WORK/members.tsv") - 1)) rows in $(since "$t") s"

# ---- split ----

# Held out: members whose id ends in the digit 0 or 5 (20% of ids that end
# in a digit).  Both files keep the header; the rows stay grouped by member.
t=$(now)
note "splitting members: ids ending in 0 or 5 are held out ..."
awk -F'\t' -v train="$WORK/train.tsv" -v held="$WORK/heldout.tsv" '
    NR == 1 {
        for (i = 1; i <= NF; i++) if ($i == "member_id") col = i
        if (!col) { print "personalize: no column member_id" > "/dev/stderr"; exit 1 }
        print > train; print > held; next
    }
    $col ~ /[05]$/ { print > held; if ($col != last) nh++; last = $col; next }
    { print > train; if ($col != last) nt++; last = $col }
    END { if (!col) exit 1; printf "%d %d\n", nt, nh }
' "$WORK/members.tsv" >"$WORK/split.counts" || die "split of '$WORK/members.tsv' failed"
read -r n_train n_held <"$WORK/split.counts"
[ "$n_train" -gt 0 ] || die "no training members: simulate more members"
[ "$n_held" -gt 0 ] || die "no held-out members (ids ending in 0 or 5): simulate more members"
note "split: $n_train training members, $n_held held-out members ($(since "$t") s)"

# ---- train ----

# One model per mode; stdout is the held-out table, stderr the epoch log.
train_one() {
    local mode=$1 t0 rc
    t0=$(now)
    note "training $mode ..."
    rc=0
    maml-train --mode "$mode" --seed "$seed" --threads "$threads" \
        ${epochs:+--epochs "$epochs"} --query-frac "$query_frac" \
        --valid "$WORK/heldout.tsv" -o "$WORK/$mode.model" "$WORK/train.tsv" \
        >"$WORK/$mode.eval" 2>"$WORK/$mode.log" || rc=$?
    if [ "$rc" -ne 0 ]; then
        note "training $mode failed (exit $rc):"
        tail -n 5 "$WORK/$mode.log" >&2
        return 1
    fi
    note "trained $mode in $(since "$t0") s: held-out auc $(awk -F'\t' '$2 == "all" { print $5 }' "$WORK/$mode.eval")"
}

t=$(now)
# shellcheck disable=SC2086 # METHODS is a list of words
if [ "$jobs" -gt 1 ] && command -v parallel >/dev/null 2>&1; then
    note "training $METHODS with GNU parallel, $jobs jobs of $threads thread(s) each ..."
    export -f train_one note now since
    export WORK seed threads epochs query_frac prog
    run_parallel "$jobs" train_one ::: $METHODS || die "training failed"
else
    [ "$jobs" -eq 1 ] || note "warning: GNU parallel is not installed: training one model at a time"
    for mode in $METHODS; do
        train_one "$mode" || die "training failed"
    done
fi
note "trained all models in $(since "$t") s"

# ---- export, score, support ----

# Appends `support`, the member's support rows (n_rows of the export), to
# every scored row; a scored member missing from the export is an error.
add_support() {
    awk -F'\t' -v OFS='\t' '
        NR == FNR {
            if (FNR == 1) {
                for (i = 1; i <= NF; i++) { if ($i == "n_rows") nc = i; if ($i == "member_id") ec = i }
                next
            }
            n[$ec] = $nc; next
        }
        FNR == 1 {
            if (!nc || !ec) { print "personalize: embeddings lack column member_id or n_rows" > "/dev/stderr"; exit 1 }
            for (i = 1; i <= NF; i++) {
                if ($i == "member_id") mc = i
                if ($i == "support") { print "personalize: the scores have a column support already" > "/dev/stderr"; exit 1 }
            }
            if (!mc) { print "personalize: the scores lack column member_id" > "/dev/stderr"; exit 1 }
            print $0, "support"; next
        }
        {
            if (!($mc in n)) { printf "personalize: member '%s' has no embedding row\n", $mc > "/dev/stderr"; exit 1 }
            print $0, n[$mc]
        }
    ' "$1" "$2" >"$3"
}

t=$(now)
note "exporting meta embeddings of the held-out members (query fraction $query_frac) ..."
meta-embed-export -m "$WORK/maml.model" -q "$query_frac" --threads "$ncores" --quiet \
    -o "$WORK/embeddings.tsv" "$WORK/heldout.tsv" || die "meta-embed-export failed"
note "exported $(($(wc -l <"$WORK/embeddings.tsv") - 1)) embeddings in $(since "$t") s"

for mode in $METHODS; do
    t=$(now)
    note "scoring the held-out query rows with $mode ..."
    if [ "$mode" = maml ]; then
        maml-score -m "$WORK/maml.model" -e "$WORK/embeddings.tsv" -q "$query_frac" --quiet \
            -o "$WORK/$mode.scored.tsv" "$WORK/heldout.tsv" || die "maml-score ($mode) failed"
    else
        maml-score -m "$WORK/$mode.model" -q "$query_frac" --quiet \
            -o "$WORK/$mode.scored.tsv" "$WORK/heldout.tsv" || die "maml-score ($mode) failed"
    fi
    add_support "$WORK/embeddings.tsv" "$WORK/$mode.scored.tsv" "$WORK/$mode.support.tsv" ||
        die "joining the support counts to the $mode scores failed"
    note "scored $(($(wc -l <"$WORK/$mode.scored.tsv") - 1)) rows with $mode in $(since "$t") s"
done

# ---- metrics ----

t=$(now)
note "computing metrics by support bucket ($bootstrap bootstrap replicates) ..."
for mode in $METHODS; do
    rec-metrics --by support --bucket-edges "$BUCKET_EDGES" --bootstrap "$bootstrap" --seed "$seed" \
        -o "$WORK/$mode.metrics.tsv" "$WORK/$mode.support.tsv" || die "rec-metrics ($mode) failed"
done
# The oracle: the true probability on the same query rows.
rec-metrics --by support --bucket-edges "$BUCKET_EDGES" --bootstrap "$bootstrap" --seed "$seed" \
    --score-col p_true -o "$WORK/oracle.metrics.tsv" "$WORK/maml.support.tsv" || die "rec-metrics (oracle) failed"

# Members and rows per bucket, counted from the scored rows with
# rec-metrics' bucket names (metrics_bucket_name in common/metrics.c).
awk -F'\t' -v OFS='\t' -v edges="$BUCKET_EDGES" '
    function bucket(v,   i) {
        for (i = 1; i <= ne && e[i] <= v; i++) ;
        i--
        if (i == 0) return e[1] == 1 ? "0" : "<" e[1]
        if (i == ne) return e[ne] >= 1 ? ">" (e[ne] - 1) : ">=" e[ne]
        return e[i] == e[i + 1] - 1 ? e[i] : e[i] "-" (e[i + 1] - 1)
    }
    BEGIN { ne = split(edges, e, ","); for (i = 1; i <= ne; i++) e[i] += 0 }
    NR == 1 {
        for (i = 1; i <= NF; i++) { if ($i == "member_id") mc = i; if ($i == "support") sc = i }
        next
    }
    {
        b = bucket($sc + 0)
        rows[b]++; rows["all"]++
        if (!(($mc, b) in seen)) { seen[$mc, b] = 1; members[b]++ }
        if (!($mc in seen_all)) { seen_all[$mc] = 1; members["all"]++ }
    }
    END {
        print "bucket", "members", "rows"
        for (b in rows) print b, members[b], rows[b]
    }
' "$WORK/maml.support.tsv" >"$WORK/members.counts" || die "counting members per bucket failed"
note "computed metrics in $(since "$t") s"

# ---- train/serve consistency ----

train_auc=$(awk -F'\t' 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "auc") c = i; next }
    $2 == "all" && c { print $c }' "$WORK/maml.eval")
serve_auc=$(awk -F'\t' 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "auc") c = i; next }
    $1 == "all" && c { print $c }' "$WORK/maml.metrics.tsv")
[ -n "$train_auc" ] || die "maml-train printed no 'all' row with an auc column ('$WORK/maml.eval')"
[ -n "$serve_auc" ] || die "rec-metrics printed no 'all' auc for maml"
if awk -v a="$train_auc" -v b="$serve_auc" -v tol="$AUC_TOLERANCE" \
    'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a == a + 0 && b == b + 0 && d <= tol) }'; then
    note "train/serve consistency: maml-train auc $train_auc, export+score auc $serve_auc: agree within $AUC_TOLERANCE"
else
    note "train/serve consistency: maml-train auc $train_auc, export+score auc $serve_auc"
    die "train/serve mismatch: the maml held-out auc of maml-train ($train_auc) and of meta-embed-export + maml-score ($serve_auc) differ by more than $AUC_TOLERANCE"
fi

# The per-bucket members and rows of maml-train's table should be those of
# the export's support counts; a difference means the two split the query
# and support sets differently.
if ! awk -F'\t' '
    NR == FNR { if (FNR > 1) { m[$1] = $2; r[$1] = $3 }; next }
    FNR == 1 { next }
    { if (($2 in m) ? (m[$2] != $3 || r[$2] != $4) : ($3 + 0 != 0)) { bad = 1; printf "bucket %s: maml-train %s members %s rows, export %s members %s rows\n", $2, $3, $4, m[$2] + 0, r[$2] + 0 > "/dev/stderr" } }
    END { exit bad }
' "$WORK/members.counts" "$WORK/maml.eval"; then
    note "warning: maml-train's bucket counts differ from the export's support counts (above)"
fi

# ---- results table ----

{
    printf 'method\tbucket\tmembers\trows\tauc\tauc_lo\tauc_hi\tlogloss\n'
    for method in $METHODS oracle; do
        awk -F'\t' -v OFS='\t' -v method="$method" -v buckets="$BUCKETS" '
            FILENAME == ARGV[1] { if (FNR > 1) members[$1] = $2; next }
            FNR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
            { row[$c["group"]] = $c["rows"] OFS $c["auc"] OFS $c["auc_lo"] OFS $c["auc_hi"] OFS $c["logloss"] }
            END {
                n = split(buckets, b, " ")
                for (i = 1; i <= n; i++) {
                    if (b[i] in row) {
                        split(row[b[i]], v, OFS)
                        print method, b[i], members[b[i]] + 0, v[1], v[2], v[3], v[4], v[5]
                    } else
                        print method, b[i], 0, 0, "NA", "NA", "NA", "NA"
                }
            }
        ' "$WORK/members.counts" "$WORK/$method.metrics.tsv"
    done
} >"$results_tmp" || die "writing the results table failed"
[ "$(wc -l <"$results_tmp")" -eq 25 ] || die "the results table has $(wc -l <"$results_tmp") lines, want 25"

# ---- plot ----

plot=0
if have_gnuplot; then
    t=$(now)
    note "plotting AUC by support bucket ..."
    terminal=$(png_terminal enhanced)
    # One line per bucket: label, then auc auc_lo auc_hi of each method.
    awk -F'\t' -v OFS='\t' -v buckets="$BUCKETS" -v methods="$METHODS oracle" '
        NR == 1 { next }
        { v[$1, $2] = $5 OFS $6 OFS $7; if ($1 == "maml") m[$2] = $3 }
        END {
            nb = split(buckets, b, " "); nm = split(methods, mm, " ")
            for (i = 1; i <= nb; i++) {
                line = "\"" b[i] "\\n" m[b[i]] " members\""
                for (j = 1; j <= nm; j++) line = line OFS v[mm[j], b[i]]
                print line
            }
        }
    ' "$results_tmp" >"$WORK/plot.dat" || die "writing the plot data failed"
    plot_cmd=
    xtic=':xtic(1)'
    col=2
    for method in $METHODS oracle; do
        plot_cmd="${plot_cmd:+$plot_cmd, }'plot.dat' using $col:$((col + 1)):$((col + 2))$xtic title '$method'"
        xtic=
        col=$((col + 3))
    done
    gnuplot_draw <<EOF
set terminal $terminal size 960,540
set output 'results.png'
set datafile separator '\t'
set datafile missing 'NA'
set title 'Held-out query AUC by support size (95% bootstrap intervals, $bootstrap replicates)'
set xlabel 'support rows the member was adapted on' offset 0,-1
set bmargin 5
set ylabel 'AUC'
set yrange [0:1]
set grid ytics
set key outside top center horizontal
set style data histograms
set style histogram errorbars gap 2 lw 1
set style fill solid 0.75 border -1
set arrow from graph 0, first 0.5 to graph 1, first 0.5 nohead dashtype 2 back
plot $plot_cmd
EOF
    plot=1
    note "plotted in $(since "$t") s"
fi

# ---- publish ----

publish "$results_tmp" "$outdir/results.tsv"
publish_plot
cat "$outdir/results.tsv"
succeeded=1
note "done in $(since "$started") s: '$outdir/results.tsv'$([ "$plot" -eq 1 ] && echo " and '$outdir/results.png'")"
