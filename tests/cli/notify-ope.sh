#!/bin/sh
# shellcheck disable=SC2016 # awk programs in single quotes
# notify-ope: scripts/notify-ope.sh end to end on the small experiment with
# GNU parallel: the results table (header, one row per estimator, 16
# policies, numbers that parse, rmse >= |bias|, spearman in [-1, 1]), the
# per-estimator tables, the plot, no intermediates left without --keep, the
# same table from a second run (one job, --keep), a failing step (no
# results, the previous ones kept), the usage errors, and the statistics of
# --summarize on a hand-made estimates file.
. "$(dirname "$0")/../lib.sh"
P=$ROOT/scripts/notify-ope.sh
# the tools under test: bin/, or the sanitizer build under make check SANITIZE=1
RECSTAGE_BIN=$BIN
export RECSTAGE_BIN
TAB=$(printf '\t')
ESTIMATORS="behavior onestep tis pdis wpdis smis dr"

# ---- usage ----

t_run "$P" --help
t_status "--help exits 0" 0
t_out_has "--help prints usage to stdout" "Usage: notify-ope.sh"
t_out_has "--help documents --summarize" "--summarize FILE"
t_ok "--help prints nothing on stderr" test -z "$ERR"
t_run "$P" --bogus -o "$T/bad"
t_status "bad option exits 2" 2
t_err_has "bad option named" "unrecognized option '--bogus'"
t_err_has "bad option hint" "--help' for more information"
t_run "$P" --jobs 0 -o "$T/bad"
t_status "--jobs 0 exits 2" 2
t_err_has "bad value named" "invalid value '0' for --jobs"
t_run "$P" --target-epsilon 1.5 -o "$T/bad"
t_status "--target-epsilon 1.5 exits 2" 2
t_run "$P" --weights r_clicks=1 -o "$T/bad"
t_status "an unknown objective in --weights exits 2" 2
t_err_has "the unknown objective named" "unknown objective 'r_clicks'"
t_run "$P" --hiddens "32 64,,64" -o "$T/bad"
t_status "a bad --hiddens list exits 2" 2
t_run "$P" --alphas "0 0" -o "$T/bad"
t_status "a repeated grid value exits 2" 2
t_run "$P" stray -o "$T/bad"
t_status "an operand exits 2" 2
t_ok "a usage error creates no output folder" test ! -e "$T/bad"

# ---- --summarize on a hand case ----

# Four policies with truths 1, 2, 3, 4 and three estimators:
#   A estimates 1.5 2.5 2.5 5: errors .5 .5 -.5 1, bias 1.5/4 = 0.375,
#     rmse sqrt((.25+.25+.25+1)/4) = sqrt(0.4375) = 0.661438;
#     ranks (1, 2.5, 2.5, 4) against (1, 2, 3, 4), both with mean 2.5:
#     sum dx dy = 2.25 + 0 + 0 + 2.25 = 4.5, sum dx^2 = 4.5, sum dy^2 = 5,
#     spearman 4.5 / sqrt(4.5 * 5) = 0.948683;
#     intervals [1,2] [2.2,2.8] [2,3] [4.5,5.5]: 1 and 3 are inside (the
#     ends count), 2 and 4 are not: coverage 0.5.
#   B estimates 2 for all: errors 1 0 -1 -2, bias -0.5, rmse sqrt(6/4) =
#     1.224745; a constant has no ranking: spearman NA; [0,5] holds every
#     truth: coverage 1.
#   C estimates 4 3 2 1: bias 0, rmse sqrt((9+1+1+9)/4) = sqrt(5) = 2.236068,
#     spearman -1; intervals NA: coverage NA.
{
    printf 'policy\testimator\testimate\tstderr\tci_low\tci_high\tess\ttruth\ttruth_stderr\n'
    printf 'p1\tA\t1.5\t0.1\t1\t2\t10\t1\t0.1\n'
    printf 'p1\tB\t2\t0.1\t0\t5\t10\t1\t0.1\n'
    printf 'p1\tC\t4\t0.1\tNA\tNA\t10\t1\t0.1\n'
    printf 'p2\tA\t2.5\t0.1\t2.2\t2.8\t10\t2\t0.1\n'
    printf 'p2\tB\t2\t0.1\t0\t5\t10\t2\t0.1\n'
    printf 'p2\tC\t3\t0.1\tNA\tNA\t10\t2\t0.1\n'
    printf 'p3\tA\t2.5\t0.1\t2\t3\t10\t3\t0.1\n'
    printf 'p3\tB\t2\t0.1\t0\t5\t10\t3\t0.1\n'
    printf 'p3\tC\t2\t0.1\tNA\tNA\t10\t3\t0.1\n'
    printf 'p4\tA\t5\t0.1\t4.5\t5.5\t10\t4\t0.1\n'
    printf 'p4\tB\t2\t0.1\t0\t5\t10\t4\t0.1\n'
    printf 'p4\tC\t1\t0.1\tNA\tNA\t10\t4\t0.1\n'
} >"$T/hand.tsv"
t_run "$P" --summarize "$T/hand.tsv"
t_status "--summarize exits 0" 0
t_out_is "--summarize: bias, rmse, spearman (average ranks) and coverage of the hand case" "$(printf '%s\n' \
    "estimator${TAB}policies${TAB}bias${TAB}rmse${TAB}spearman${TAB}coverage" \
    "A${TAB}4${TAB}0.375000${TAB}0.661438${TAB}0.9487${TAB}0.5000" \
    "B${TAB}4${TAB}-0.500000${TAB}1.224745${TAB}NA${TAB}1.0000" \
    "C${TAB}4${TAB}0.000000${TAB}2.236068${TAB}-1.0000${TAB}NA")"
cut -f1-4,8 "$T/hand.tsv" >"$T/hand-noci.tsv"
t_run "$P" --summarize "$T/hand-noci.tsv"
t_ok "--summarize without intervals: coverage NA" test "$(printf '%s\n' "$OUT" | awk -F'\t' 'NR > 1 { printf "%s ", $6 }')" = "NA NA NA "
cut -f1-3 "$T/hand.tsv" >"$T/hand-notruth.tsv"
t_run "$P" --summarize "$T/hand-notruth.tsv"
t_status "--summarize without a truth column exits 1" 1
t_err_has "the missing column named" "no column 'truth'"
t_run "$P" --summarize "$T/missing.tsv"
t_status "--summarize of a missing file exits 1" 1

# ---- the small experiment with GNU parallel ----

if ! command -v parallel >/dev/null 2>&1; then
    echo "notify-ope: GNU parallel is not installed: the experiment runs one model at a time" >&2
fi
t_run "$P" --small --jobs 2 -o "$T/res"
t_status "--small --jobs 2 exits 0" 0
R=$T/res/results.tsv
t_ok "results.tsv exists" test -s "$R"
t_ok "stdout is the results table" cmp -s "$T/out" "$R"
t_ok "header" test "$(head -n 1 "$R")" = "estimator${TAB}policies${TAB}bias${TAB}rmse${TAB}spearman${TAB}coverage"
t_ok "one row per estimator, in order" test "$(awk -F'\t' 'NR > 1 { printf "%s ", $1 }' "$R")" = "$ESTIMATORS "
t_ok "16 policies for every estimator" awk -F'\t' 'NR > 1 && $2 != 16 { bad = 1 } END { exit bad || NR != 8 }' "$R"
t_ok "every number parses (spearman NA only for the constant behavior estimate)" awk -F'\t' '
    function isnum(x) { return x ~ /^-?[0-9]+\.[0-9]+$/ }
    NR == 1 { next }
    !isnum($3) || !isnum($4) || !isnum($6) || !(isnum($5) || ($5 == "NA" && $1 == "behavior")) {
        print "bad row: " $0 > "/dev/stderr"; bad = 1 }
    END { exit bad }' "$R"
t_ok "rmse >= |bias|" awk -F'\t' 'NR > 1 { b = $3 < 0 ? -$3 : $3; if ($4 + 0 < b) bad = 1 } END { exit bad }' "$R"
t_ok "spearman in [-1, 1], coverage in [0, 1]" awk -F'\t' '
    NR > 1 && ($5 != "NA" && ($5 + 0 < -1 || $5 + 0 > 1) || $6 + 0 < 0 || $6 + 0 > 1) { bad = 1 }
    END { exit bad }' "$R"
for e in $ESTIMATORS; do
    t_ok "estimator-$e.tsv: a header and 16 policies" test "$(wc -l <"$T/res/estimator-$e.tsv")" -eq 17
done
S=$T/res/estimator-smis.tsv
t_ok "estimator-smis.tsv header" test "$(head -n 1 "$S" | cut -f1-4)" = "policy${TAB}estimate${TAB}truth${TAB}error"
t_ok "estimator-smis.tsv: 16 distinct policies named after their models" awk -F'\t' '
    NR > 1 { if ($1 !~ /^a[0-9.]+_lr[0-9.]+_h[0-9x]+_n[0-9]+$/ || seen[$1]++) bad = 1; n++ }
    END { exit bad || n != 16 }' "$S"
t_ok "estimator-smis.tsv: error = estimate - truth" awk -F'\t' '
    NR > 1 { d = $2 - $3 - $4; if (d < -1e-6 || d > 1e-6) bad = 1 }
    END { exit bad }' "$S"
smis_bias=$(awk -F'\t' '$1 == "smis" { print $3 }' "$R")
t_ok "the smis bias is the mean error of estimator-smis.tsv" awk -F'\t' -v b="$smis_bias" '
    NR > 1 { s += $4; n++ }
    END { d = s / n - b; exit !(n == 16 && d > -1e-5 && d < 1e-5) }' "$S"
t_err_has "progress on stderr" "notify-ope: training 16 policies with 2 job(s)"
if command -v gnuplot >/dev/null 2>&1; then
    t_ok "results.png starts with the PNG magic" test "$(head -c 8 "$T/res/results.png" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a"
else
    t_ok "no plot without gnuplot" test ! -e "$T/res/results.png"
    t_err_has "a warning without gnuplot" "gnuplot is not installed"
fi
t_ok "no intermediate files without --keep" sh -c "test -z \"\$(ls -A '$T/res' | grep -v '^results\\.\\(tsv\\|png\\)\$' | grep -v '^estimator-[a-z]*\\.tsv\$')\""

# ---- the same seed again, one job, --keep ----

t_run "$P" --small --jobs 1 --keep -o "$T/again"
t_status "a second run exits 0" 0
t_ok "the same seed gives the same results.tsv, byte for byte" cmp -s "$R" "$T/again/results.tsv"
t_ok "--keep keeps the estimates" test -s "$T/again/work/estimates.tsv"
t_run "$P" --summarize "$T/again/work/estimates.tsv"
t_ok "--summarize of the kept estimates gives results.tsv" cmp -s "$T/out" "$R"

# ---- a failing step ----

mkdir "$T/bin"
cp "$BIN"/* "$T/bin/"
rm -f "$T/bin/cql-ddqn-train"
printf '#!/bin/sh\necho "cql-ddqn-train: simulated failure" >&2\nexit 1\n' >"$T/bin/cql-ddqn-train"
chmod +x "$T/bin/cql-ddqn-train"
RECSTAGE_BIN=$T/bin
t_run "$P" --small --jobs 2 -o "$T/fail"
RECSTAGE_BIN=$BIN
t_ok "a failing training exits non-zero (exit $RC)" test "$RC" -ne 0
t_err_has "the failure is reported" "training failed"
t_err_has "the tool's message is shown" "simulated failure"
t_ok "no results.tsv after a failure" test ! -e "$T/fail/results.tsv"
t_ok "nothing left in a fresh output folder" test -z "$(ls -A "$T/fail")"
cp "$R" "$T/before.tsv"
RECSTAGE_BIN=$T/bin
t_run "$P" --small --jobs 2 -o "$T/res"
RECSTAGE_BIN=$BIN
t_ok "a failing run over old results exits non-zero" test "$RC" -ne 0
t_ok "a failing run leaves the previous results.tsv in place" cmp -s "$T/before.tsv" "$R"
# --sshloginfile: ':' is GNU parallel's local login, so the same results
echo : > "$T/hosts"
t_run "$P" --small --jobs 2 --sshloginfile "$T/hosts" -o "$T/hosts-out"
t_status "--sshloginfile (the local login)" 0
t_ok "--sshloginfile: the same results as a local run" cmp -s "$T/hosts-out/results.tsv" "$R"
t_run "$P" --small --sshlogin : --sshloginfile "$T/hosts"
t_status "--sshlogin and --sshloginfile together exit 2" 2
t_done
