#!/bin/sh
# shellcheck disable=SC2016 # awk programs in single quotes
# personalize: scripts/personalize.sh end to end on the small world: the
# results table (header, 4 methods x 6 buckets, AUCs in [0,1] inside their
# bootstrap intervals, the p_true oracle as the ceiling), the train/serve
# consistency line, the plot, no intermediates left without --keep, the
# same table from GNU parallel, and the usage errors.
. "$(dirname "$0")/../lib.sh"
P=$ROOT/scripts/personalize.sh
# the tools under test: bin/, or the sanitizer build under make check SANITIZE=1
RECSTAGE_BIN=$BIN
export RECSTAGE_BIN
TAB=$(printf '\t')

t_run "$P" --help
t_status "--help exits 0" 0
t_out_has "--help prints usage to stdout" "Usage: personalize.sh"
t_ok "--help prints nothing on stderr" test -z "$ERR"
t_run "$P" --bogus -o "$T/bad"
t_status "bad option exits 2" 2
t_err_has "bad option named" "unrecognized option '--bogus'"
t_err_has "bad option hint" "--help' for more information"
t_run "$P" --jobs 0 -o "$T/bad"
t_status "--jobs 0 exits 2" 2
t_err_has "bad value named" "invalid value '0' for --jobs"
t_run "$P" --query-frac 1 -o "$T/bad"
t_status "--query-frac 1 exits 2" 2
t_ok "a usage error creates no output folder" test ! -e "$T/bad"

t_run "$P" --small -o "$T/res"
t_status "--small exits 0" 0
R=$T/res/results.tsv
t_ok "results.tsv exists" test -s "$R"
t_ok "stdout is the results table" cmp -s "$T/out" "$R"
t_ok "header" test "$(head -n 1 "$R")" = "method${TAB}bucket${TAB}members${TAB}rows${TAB}auc${TAB}auc_lo${TAB}auc_hi${TAB}logloss"
t_ok "25 lines: 4 methods x 6 buckets" test "$(wc -l <"$R")" -eq 25
for m in maml global wide-deep oracle; do
    for b in 0 1-5 6-20 21-100 '>100' all; do
        t_ok "row $m $b" awk -F'\t' -v m="$m" -v b="$b" '$1 == m && $2 == b { n++ } END { exit n != 1 }' "$R"
    done
done
# NA is allowed in a bucket whose query rows hold one class only, never in 'all'
t_ok "every AUC in [0,1] with auc_lo <= auc <= auc_hi" awk -F'\t' '
    NR == 1 { next }
    $5 == "NA" && $6 == "NA" && $7 == "NA" && $2 != "all" { next }
    !($5 + 0 >= 0 && $5 + 0 <= 1 && $6 + 0 <= $5 + 0 && $5 + 0 <= $7 + 0 && $6 + 0 >= 0 && $7 + 0 <= 1) {
        print "bad row: " $0 > "/dev/stderr"; bad = 1 }
    END { exit bad }' "$R"
t_ok "members and rows of 'all' are positive and equal across methods" awk -F'\t' '
    NR > 1 && $2 == "all" { if ($3 < 1 || $4 < 1) bad = 1; k[$3 " " $4]++ }
    END { n = 0; for (x in k) n++; exit bad || n != 1 }' "$R"
t_ok "the bucket rows add up to 'all'" awk -F'\t' '
    NR == 1 { next }
    $2 == "all" { all[$1] = $4; next }
    { sum[$1] += $4 }
    END { for (m in all) if (sum[m] != all[m]) exit 1 }' "$R"
t_ok "the oracle's 'all' AUC is the ceiling (slack 0.02)" awk -F'\t' '
    $2 == "all" { auc[$1] = $5 }
    END { for (m in auc) if (auc[m] > auc["oracle"] + 0.02) exit 1; exit !("oracle" in auc) }' "$R"
t_err_has "the train/serve consistency line" "train/serve consistency: maml-train auc "
t_err_has "the consistency line says they agree" "agree within 0.0001"
t_err_has "progress with timings" "personalize: trained maml in "
if command -v gnuplot >/dev/null 2>&1; then
    t_ok "results.png is a PNG" sh -c "head -c 8 '$T/res/results.png' | od -An -c | grep -q 'P   N   G'"
else
    t_ok "no plot without gnuplot" test ! -e "$T/res/results.png"
    t_err_has "a warning without gnuplot" "gnuplot is not installed"
fi
t_ok "no intermediate files without --keep" sh -c "test -z \"\$(ls -A '$T/res' | grep -v '^results\\.\\(tsv\\|png\\)\$')\""

if command -v parallel >/dev/null 2>&1; then
    t_run "$P" --small --jobs 3 --keep -o "$T/par"
    t_status "--jobs 3 exits 0" 0
    t_err_has "trained with GNU parallel" "with GNU parallel, 3 jobs"
    t_ok "--jobs 3 gives the same table" cmp -s "$R" "$T/par/results.tsv"
    t_ok "--keep keeps the intermediates" test -s "$T/par/work/maml.model"
fi
t_done
