#!/bin/sh
# shellcheck disable=SC2016 # awk programs in single quotes
# rerank: scripts/rerank.sh end to end on the small experiment with GNU
# parallel: the results table (exact header, 20 SGA configurations and the 3
# baselines, numbers that parse, intervals in order), both Pareto columns
# (0/1, checked against the table by brute force both ways), the summary
# (spearman in [-1, 1], the same as --summarize of the table), the plot, no
# intermediates left without --keep, the held-out split of a kept run, the
# same table from a second run (one job), a failing step (no results, the
# previous ones kept), the usage errors, and the statistics of --summarize
# on a hand-made table.
. "$(dirname "$0")/../lib.sh"
P=$ROOT/scripts/rerank.sh
# the tools under test: bin/, or the sanitizer build under make check SANITIZE=1
RECSTAGE_BIN=$BIN
export RECSTAGE_BIN
TAB=$(printf '\t')
HEADER="config click_replay click_lo click_hi save_replay save_lo save_hi click_true save_true distinct_categories intra_list_similarity mean_age pareto_replay pareto_true"

# ---- usage ----

t_run "$P" --help
t_status "--help exits 0" 0
t_out_has "--help prints usage to stdout" "Usage: rerank.sh"
t_out_has "--help documents --summarize" "--summarize FILE"
t_out_has "--help documents --sshloginfile" "--sshloginfile FILE"
t_ok "--help prints nothing on stderr" test -z "$ERR"
t_run "$P" --bogus -o "$T/bad"
t_status "bad option exits 2" 2
t_err_has "bad option named" "unrecognized option '--bogus'"
t_err_has "bad option hint" "--help' for more information"
t_run "$P" --jobs 0 -o "$T/bad"
t_status "--jobs 0 exits 2" 2
t_err_has "bad value named" "invalid value '0' for --jobs"
t_run "$P" --jobs=two -o "$T/bad"
t_status "--jobs=two exits 2" 2
t_run "$P" --requests 5 -o "$T/bad"
t_status "--requests 5 exits 2" 2
t_run "$P" --slots 9 -o "$T/bad"
t_status "more slots than candidates exits 2" 2
t_run "$P" --diversity-effect 200 -o "$T/bad"
t_status "an out-of-range --diversity-effect exits 2" 2
t_err_has "multislot-sim's range named" "--diversity-effect"
t_run "$P" --weight-grid "1,0 1" -o "$T/bad"
t_status "a bad --weight-grid pair exits 2" 2
t_run "$P" --diversities "0 0" -o "$T/bad"
t_status "a repeated grid value exits 2" 2
t_run "$P" --sshlogin : --sshloginfile "$T/none" -o "$T/bad"
t_status "--sshlogin with --sshloginfile exits 2" 2
t_run "$P" --sshloginfile "$T/none" -o "$T/bad"
t_status "an unreadable --sshloginfile exits 2" 2
t_run "$P" stray -o "$T/bad"
t_status "an operand exits 2" 2
t_run "$P" -o
t_status "-o without a folder exits 2" 2
t_ok "a usage error creates no output folder" test ! -e "$T/bad"

# ---- --summarize on a hand case ----

# Five configurations, truths and replays (r = replay, t = truth):
#          click r  [lo, hi]      t     save r  [lo, hi]      t     pareto r t
#   A      1.0      [0.9, 1.1]    0.90  0.30    [0.20, 0.40]  0.35  1 1
#   B      0.8      [0.7, 0.85]   0.95  0.40    [0.35, 0.45]  0.30  1 1
#   C      0.7      [0.6, 0.8]    0.93  0.25    [0.20, 0.30]  0.40  0 1
#   sort_score_click 0.9 [0.8, 1.0] 0.92 0.20   [0.10, 0.30]  0.30  0 0
#   random 0.5      [0.4, 0.6]    0.50  0.13    [0.12, 0.15]  0.10  0 0
# click ranks r (A5 B3 C2 S4 R1), t (A2 B5 C4 S3 R1): deviations from 3
#   (2 0 -1 1 -2) and (-1 2 1 0 -2), sum of products 1, squares 10 and 10:
#   spearman 0.1.
# save ranks r (A4 B5 C3 S2 R1), t with B and S tied (A4 B2.5 C5 S2.5 R1):
#   deviations (1 2 0 -1 -2) and (1 -.5 2 -.5 -2), products 4.5, squares 10
#   and 9.5: spearman 4.5 / sqrt(95) = 0.4617.
# click errors .1 -.15 -.23 -.02 0: mae .5 / 5 = 0.1, bias -.3 / 5 = -0.06;
#   save errors -.05 .1 -.15 -.1 .03: mae .43 / 5 = 0.086, bias -.17 / 5 =
#   -0.034.  Coverage (the ends count): click A S R = 0.6, save A S = 0.4.
# Frontiers as marked; on (click, save) alone the replay keeps A (most
#   clicks) and B (most saves), the truth B and C (A is below C, sort below B).
# Dominating sort_score_click (0.92, 0.30) on the truth: B (more clicks, the
#   same saves) and C; the best is C (1.33 against 1.25).
{
    printf '%s\n' "$HEADER" | tr ' ' '\t'
    printf 'A\t1.0\t0.9\t1.1\t0.30\t0.20\t0.40\t0.90\t0.35\t2.5\t0.1\t40\t1\t1\n'
    printf 'B\t0.8\t0.7\t0.85\t0.40\t0.35\t0.45\t0.95\t0.30\t2.6\t0.1\t41\t1\t1\n'
    printf 'C\t0.7\t0.6\t0.8\t0.25\t0.20\t0.30\t0.93\t0.40\t2.4\t0.1\t42\t0\t1\n'
    printf 'sort_score_click\t0.9\t0.8\t1.0\t0.20\t0.10\t0.30\t0.92\t0.30\t2.3\t0.1\t43\t0\t0\n'
    printf 'random\t0.5\t0.4\t0.6\t0.13\t0.12\t0.15\t0.50\t0.10\t2.2\t0.1\t44\t0\t0\n'
} >"$T/hand.tsv"
t_run "$P" --summarize "$T/hand.tsv"
t_status "--summarize exits 0" 0
t_out_is "--summarize: the statistics of the hand case" "$(printf '%s\n' \
    "measure${TAB}value" \
    "configurations${TAB}5" \
    "spearman_click${TAB}0.1000" \
    "spearman_save${TAB}0.4617" \
    "mae_click${TAB}0.100000" \
    "mae_save${TAB}0.086000" \
    "bias_click${TAB}-0.060000" \
    "bias_save${TAB}-0.034000" \
    "coverage_click${TAB}0.6000" \
    "coverage_save${TAB}0.4000" \
    "frontier_replay${TAB}A,B" \
    "frontier_true${TAB}A,B,C" \
    "frontier_both${TAB}A,B" \
    "frontier_replay_only${TAB}none" \
    "frontier_true_only${TAB}C" \
    "frontier_click_save_replay${TAB}A,B" \
    "frontier_click_save_true${TAB}B,C" \
    "dominating_sort_score_click${TAB}B,C" \
    "best_dominating_sort_score_click${TAB}C")"
grep -v '^C' "$T/hand.tsv" | grep -v '^B' >"$T/hand-nodom.tsv"
t_run "$P" --summarize "$T/hand-nodom.tsv"
t_ok "--summarize: none dominates when no SGA configuration beats the sort" \
    test "$(printf '%s\n' "$OUT" | awk -F'\t' '$1 ~ /dominating/ { printf "%s ", $2 }')" = "none none "
grep -v '^sort_score_click' "$T/hand.tsv" >"$T/hand-nosort.tsv"
t_run "$P" --summarize "$T/hand-nosort.tsv"
t_ok "--summarize without sort_score_click: NA" \
    test "$(printf '%s\n' "$OUT" | awk -F'\t' '$1 ~ /dominating/ { printf "%s ", $2 }')" = "NA NA "
cut -f1-8,10- "$T/hand.tsv" >"$T/hand-nosave.tsv"
t_run "$P" --summarize "$T/hand-nosave.tsv"
t_status "--summarize without save_true exits 1" 1
t_err_has "the missing column named" "no column 'save_true'"
t_run "$P" --summarize "$T/missing.tsv"
t_status "--summarize of a missing file exits 1" 1

# ---- the small experiment with GNU parallel ----

if ! command -v parallel >/dev/null 2>&1; then
    echo "rerank: GNU parallel is not installed: the experiment runs one configuration at a time" >&2
fi
t_run "$P" --small --jobs 2 -o "$T/res"
t_status "--small --jobs 2 exits 0" 0
R=$T/res/results.tsv
t_err_has "progress on stderr" "rerank: re-ranking and evaluating 23 configurations with 2 job(s)"
t_ok "results.tsv exists" test -s "$R"
t_ok "stdout is the results table" cmp -s "$T/out" "$R"
t_ok "header" test "$(head -n 1 "$R")" = "$(printf '%s\n' "$HEADER" | tr ' ' '\t')"
t_ok "at least 23 distinct configurations, 14 columns each" awk -F'\t' '
    NF != 14 || seen[$1]++ { bad = 1 }
    END { exit bad || NR - 1 < 23 }' "$R"
t_ok "the 20 SGA configurations of the default grid, named after their values" awk -F'\t' '
    $1 ~ /^w[0-9.]+-[0-9.]+_d[0-9.]+_f[0-9.]+$/ { n++ }
    END { exit n != 20 }' "$R"
t_ok "the baselines sort_score_click, sort_score_save and random" awk -F'\t' '
    $1 == "sort_score_click" || $1 == "sort_score_save" || $1 == "random" { n++ }
    END { exit n != 3 }' "$R"
t_ok "every number parses, every interval is in order" awk -F'\t' '
    function isnum(x) { return x ~ /^-?[0-9]+\.[0-9]+$/ }
    NR == 1 { next }
    { for (i = 2; i <= 12; i++) if (!isnum($i)) { print "bad field " i ": " $0 > "/dev/stderr"; bad = 1 } }
    $3 + 0 > $4 + 0 || $6 + 0 > $7 + 0 { print "interval out of order: " $0 > "/dev/stderr"; bad = 1 }
    $8 < 0 || $8 > 3 || $9 < 0 || $9 > 3 || $10 < 1 || $10 > 3 { print "out of range: " $0 > "/dev/stderr"; bad = 1 }
    END { exit bad }' "$R"
t_ok "pareto columns are 0 or 1, with at least one 1 each" awk -F'\t' '
    NR == 1 { next }
    $13 !~ /^[01]$/ || $14 !~ /^[01]$/ { bad = 1 }
    { r += $13; t += $14 }
    END { exit bad || !r || !t }' "$R"
# Brute force: a row is marked 1 exactly when no other row is at least as
# good on every objective and better on one (clicks, saves and
# distinct_categories up, mean_age down).
for which in true replay; do
    t_ok "pareto_$which: every marked row is non-dominated, every other row dominated" awk -F'\t' -v w="$which" '
        NR == 1 { next }
        {
            n++; name[n] = $1
            c[n] = w == "true" ? $8 : $2; s[n] = w == "true" ? $9 : $5
            d[n] = $10; a[n] = $12; m[n] = w == "true" ? $14 : $13
        }
        END {
            for (i = 1; i <= n; i++) {
                dom = 0
                for (j = 1; j <= n; j++) {
                    if (j == i) continue
                    ge = c[j] >= c[i] && s[j] >= s[i] && d[j] >= d[i] && a[j] <= a[i]
                    gt = c[j] > c[i] || s[j] > s[i] || d[j] > d[i] || a[j] < a[i]
                    if (ge && gt) { dom = 1; by = name[j] }
                }
                if (dom && m[i] == 1) { print name[i] " is marked but dominated by " by > "/dev/stderr"; bad = 1 }
                if (!dom && m[i] == 0) { print name[i] " is not marked but non-dominated" > "/dev/stderr"; bad = 1 }
            }
            exit bad
        }' "$R"
done
t_ok "every SGA configuration has more true clicks than random" awk -F'\t' '
    NR > 1 { c[$1] = $8 }
    END { for (k in c) if (k ~ /^w/ && c[k] <= c["random"]) bad = 1; exit bad || !("random" in c) }' "$R"
S=$T/res/summary.tsv
t_ok "summary.tsv exists" test -s "$S"
t_ok "summary.tsv: spearman_click and spearman_save in [-1, 1]" awk -F'\t' '
    $1 == "spearman_click" || $1 == "spearman_save" {
        n++; if ($2 !~ /^-?[0-9]+\.[0-9]+$/ || $2 + 0 < -1 || $2 + 0 > 1) bad = 1 }
    END { exit bad || n != 2 }' "$S"
t_ok "summary.tsv: 23 configurations, coverage in [0, 1], a named best or none" awk -F'\t' '
    $1 == "configurations" && $2 == 23 { ok++ }
    $1 ~ /^coverage_/ && $2 >= 0 && $2 <= 1 { ok++ }
    $1 == "best_dominating_sort_score_click" && ($2 == "none" || $2 ~ /^w/) { ok++ }
    END { exit ok != 4 }' "$S"
t_run "$P" --summarize "$R"
t_ok "summary.tsv is --summarize of results.tsv" cmp -s "$T/out" "$S"
if command -v gnuplot >/dev/null 2>&1; then
    t_ok "results.png starts with the PNG magic" test "$(head -c 8 "$T/res/results.png" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a"
else
    t_ok "no plot without gnuplot" test ! -e "$T/res/results.png"
fi
t_ok "no intermediate files without --keep" sh -c "test -z \"\$(ls -A '$T/res' | grep -v '^results\\.\\(tsv\\|png\\)\$' | grep -v '^summary\\.tsv\$')\""

# ---- the same seed again, one job, --keep ----

t_run "$P" --small --jobs 1 --keep -o "$T/again"
t_status "a second run exits 0" 0
t_ok "the same seed gives the same results.tsv, byte for byte" cmp -s "$R" "$T/again/results.tsv"
t_ok "and the same summary.tsv" cmp -s "$S" "$T/again/summary.tsv"
W=$T/again/work
t_ok "--keep keeps the split and the lists" test -s "$W/heldout.tsv" -a -s "$W/train.tsv" -a -s "$W/random.lists.tsv"
t_ok "held out: the requests whose id is a multiple of 5, in order, with the header" awk -F'\t' '
    FNR == 1 { if ($1 != "request_id") bad = 1; next }
    FILENAME ~ /heldout/ && $1 % 5 != 0 { bad = 1 }
    FILENAME ~ /train/ && $1 % 5 == 0 { bad = 1 }
    $1 + 0 < last[FILENAME] { bad = 1 }
    { last[FILENAME] = $1 + 0 }
    END { exit bad }' "$W/heldout.tsv" "$W/train.tsv"
t_ok "the split keeps every logged row" test \
    "$(($(wc -l <"$W/heldout.tsv") + $(wc -l <"$W/train.tsv") - 1))" -eq "$(wc -l <"$W/log.tsv")"

# ---- a failing step ----

mkdir "$T/bin"
cp "$BIN"/* "$T/bin/"
rm -f "$T/bin/sga-rerank"
printf '#!/bin/sh\necho "sga-rerank: simulated failure" >&2\nexit 1\n' >"$T/bin/sga-rerank"
chmod +x "$T/bin/sga-rerank"
RECSTAGE_BIN=$T/bin
t_run "$P" --small --jobs 2 -o "$T/fail"
RECSTAGE_BIN=$BIN
t_ok "a failing sga-rerank exits non-zero (exit $RC)" test "$RC" -ne 0
t_err_has "the tool's message is shown" "simulated failure"
t_ok "nothing on stdout after a failure" test ! -s "$T/out"
t_ok "no results.tsv after a failure" test ! -e "$T/fail/results.tsv"
t_ok "nothing left in a fresh output folder" test -z "$(ls -A "$T/fail")"
cp "$R" "$T/before.tsv"
cp "$S" "$T/before-summary.tsv"
RECSTAGE_BIN=$T/bin
t_run "$P" --small --jobs 2 -o "$T/res"
RECSTAGE_BIN=$BIN
t_ok "a failing run over old results exits non-zero" test "$RC" -ne 0
t_ok "a failing run leaves the previous results.tsv in place" cmp -s "$T/before.tsv" "$R"
t_ok "and the previous summary.tsv" cmp -s "$T/before-summary.tsv" "$S"
# a step that fails inside the GNU parallel sweep: replay-eval
cp "$BIN/sga-rerank" "$T/bin/sga-rerank"
rm -f "$T/bin/replay-eval"
printf '#!/bin/sh\necho "replay-eval: simulated failure" >&2\nexit 1\n' >"$T/bin/replay-eval"
chmod +x "$T/bin/replay-eval"
RECSTAGE_BIN=$T/bin
t_run "$P" --small --jobs 2 -o "$T/fail2"
RECSTAGE_BIN=$BIN
t_ok "a failing job of the sweep exits non-zero (exit $RC)" test "$RC" -ne 0
t_err_has "the failing configuration is named" "failed (exit 1)"
t_ok "no results.tsv after a failing sweep" test ! -e "$T/fail2/results.tsv"
t_ok "nothing left after a failing sweep" test -z "$(ls -A "$T/fail2")"
t_done
