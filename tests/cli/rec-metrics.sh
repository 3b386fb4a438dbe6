#!/bin/sh
# rec-metrics: metrics of hand-worked inputs, grouping, buckets, the
# bootstrap's reproducibility, and every error path of SPEC section 3
# (exit codes, file:line: column messages, /dev/full, no partial output).
. "$(dirname "$0")/../lib.sh"
S=$ROOT/data-samples/scores.tsv
TAB=$(printf '\t')

t_run rec-metrics --help
t_status "--help exits 0" 0
t_out_has "--help prints usage to stdout" "Usage: rec-metrics"
t_out_has "--help has examples" "rec-metrics --by bucket_rows --bucket-edges 1,6,21,101"
t_run rec-metrics --version
t_status "--version exits 0" 0
t_out_is "--version names the suite" "rec-metrics (recstage) 0.1.0"
t_run rec-metrics --bogus "$S"
t_status "bad option exits 2" 2
t_err_has "bad option hint" "Try 'rec-metrics --help'"
t_run rec-metrics --bootstrap x "$S"
t_status "bad --bootstrap exits 2" 2
t_err_has "bad value names the option" "invalid value 'x' for --bootstrap"
t_run rec-metrics --seed -1 "$S"
t_status "negative --seed exits 2" 2
t_run rec-metrics --by bucket_rows --bucket-edges 1,6,6 "$S"
t_status "non-ascending edges exit 2" 2
t_err_has "edges error" "invalid value '1,6,6' for --bucket-edges: edges must ascend: 6 after 6"
t_run rec-metrics --by bucket_rows --bucket-edges 1,2.5 "$S"
t_status "non-integer edge exits 2" 2
t_err_has "non-integer edge named" "edge '2.5' is not a non-negative integer"
t_run rec-metrics --bucket-edges 1,6 "$S"
t_status "--bucket-edges without --by exits 2" 2
t_err_has "--bucket-edges needs --by" "--bucket-edges needs --by"

# A hand-worked case.  Positives score 0.9 0.8 0.6, negatives 0.8 0.3 0.1.
# AUC over the 9 positive/negative pairs: 0.9 beats all 3 (3), 0.8 ties
# one and beats two (2.5), 0.6 beats two (2): 7.5/9 = 5/6.
# Log loss: positives cost -ln s, negatives -ln(1 - s):
#   -(ln .9 + ln .8 + ln .6) - (ln .2 + ln .7 + ln .9)
#   = 0.10536 + 0.22314 + 0.51083 + 1.60944 + 0.35667 + 0.10536
#   = 2.91080; / 6 = 0.48513.
# Calibration: mean score 3.5/6, mean label 1/2: 7/6 = 1.16667.
printf 'label\tscore\tg\n1\t0.9\tb\n0\t0.8\ta\n1\t0.8\tb\n0\t0.3\ta\n1\t0.6\ta\n0\t0.1\tb\n' > "$T/t.tsv"
HEAD="group${TAB}rows${TAB}positives${TAB}auc${TAB}logloss${TAB}calibration"
ALL="all${TAB}6${TAB}3${TAB}0.8333333333333334${TAB}0.48513384379478103${TAB}1.1666666666666667"
t_run rec-metrics "$T/t.tsv"
t_status "hand case exits 0" 0
t_out_is "hand case: AUC 5/6, log loss, calibration 7/6" "$HEAD
$ALL"
t_ok "log loss is the hand sum" awk -v v="$(printf '%s\n' "$OUT" | awk -F'\t' 'NR==2{print $5}')" \
    'BEGIN { w = -(log(.9) + log(.8) + log(.6) + log(.2) + log(.7) + log(.9)) / 6; exit !(v - w < 1e-12 && w - v < 1e-12) }'
t_run sh -c "rec-metrics < '$T/t.tsv'"
t_out_is "stdin gives the same" "$HEAD
$ALL"
tr '\t' ',' < "$T/t.tsv" > "$T/t.csv"
t_run rec-metrics "$T/t.csv"
t_out_is "csv gives the same" "$HEAD
$ALL"
rec-cat --binary -o "$T/t.rec" "$T/t.tsv"
t_run rec-metrics "$T/t.rec"
t_out_is "binary stream gives the same" "$HEAD
$ALL"
printf 'g\tscore\tlabel\n' > "$T/h.tsv"
t_run rec-metrics "$T/h.tsv" "$T/t.tsv" "$T/h.tsv"
t_out_is "several inputs, columns looked up by name in each" "$HEAD
$ALL"

# --by: groups in order of first appearance, not contiguous.
# b: positives 0.9 0.8, negative 0.1: AUC 1.  a: positive 0.6, negatives
# 0.8 0.3: AUC 1/2.
t_run rec-metrics --by g "$T/t.tsv"
t_status "--by exits 0" 0
t_ok "--by: b first (first appearance), then a, then all" \
    test "$(printf '%s\n' "$OUT" | cut -f 1,2,3,4 | tr '\t\n' '  ')" = \
    "group rows positives auc b 3 2 1 a 3 1 0.5 all 6 3 0.8333333333333334 "
t_run rec-metrics -b label -l label -s score "$T/t.tsv"
t_out_has "a group of one class has AUC NA" "1${TAB}3${TAB}3${TAB}NA${TAB}"
t_out_has "no positives: AUC and calibration NA" "0${TAB}3${TAB}0${TAB}NA${TAB}0.6904911240102197${TAB}NA"
printf 'y\tp\tm\n1\t0.7\tu\n0\t0.2\t\n' > "$T/miss.tsv"
t_run rec-metrics --by m -l y -s p "$T/miss.tsv"
t_status "empty group key exits 1" 1
t_err_has "empty group key named" "miss.tsv:3: column 'm': missing value"

# --bucket-edges on the sample: buckets in edge order
t_run rec-metrics --by bucket_rows --bucket-edges 1,6,21,101 "$S"
t_status "--bucket-edges exits 0" 0
t_ok "bucket labels in edge order" \
    test "$(printf '%s\n' "$OUT" | cut -f 1,2 | tr '\t\n' '  ')" = "group rows 0 5 1-5 15 6-20 15 21-100 15 >100 10 all 60 "
t_run rec-metrics --by bucket_rows --bucket-edges 50 "$S"
t_ok "one edge: two buckets" test "$(printf '%s\n' "$OUT" | cut -f 1,2 | tr '\t\n' '  ')" = "group rows <50 45 >49 15 all 60 "
t_run rec-metrics --by member_id --bucket-edges 1 "$S"
t_status "non-numeric bucket column exits 1" 1
t_err_has "non-numeric bucket value named" "scores.tsv:2: column 'member_id': cannot parse 'm01' as a number"

# --bootstrap: reproducible, seed-dependent, interval around the AUC
t_run rec-metrics --bootstrap 200 --seed 7 "$S"
t_status "--bootstrap exits 0" 0
B1=$OUT
t_ok "bootstrap adds auc_lo and auc_hi" test "$(printf '%s\n' "$B1" | head -n 1)" = "$HEAD${TAB}auc_lo${TAB}auc_hi"
t_ok "interval contains the AUC" sh -c "printf '%s\n' '$B1' | awk -F'\t' 'NR==2 { exit !(\$7 <= \$4 && \$4 <= \$8 && \$7 < \$8) }'"
t_run rec-metrics -B 200 --seed 7 "$S"
t_ok "same seed: same output" test "$OUT" = "$B1"
t_run rec-metrics -B 200 --seed 8 "$S"
t_ok "another seed: another interval" test "$OUT" != "$B1"
t_ok "the seed does not change the point estimates" \
    test "$(printf '%s\n' "$OUT" | cut -f 1-6)" = "$(printf '%s\n' "$B1" | cut -f 1-6)"
t_run rec-metrics -B 200 --seed 7 --by bucket_rows --bucket-edges 1,6,21,101 "$S"
t_ok "a group's interval does not depend on the other groups" \
    test "$(printf '%s\n' "$OUT" | tail -n 1)" = "$(printf '%s\n' "$B1" | tail -n 1)"
t_out_has "a group of one class has interval NA" ">100${TAB}10${TAB}0${TAB}NA${TAB}"
t_run rec-metrics -B 100 --by g "$T/t.tsv"
t_err_has "skipped replicates reported" "bootstrap replicates drew one class only and were skipped"
t_run rec-metrics -q -B 100 --by g "$T/t.tsv"
t_ok "--quiet silences the warning" test -z "$ERR"
t_run rec-metrics -B 0 "$T/t.tsv"
t_out_is "--bootstrap 0: no interval" "$HEAD
$ALL"

# bad data: exit 1, file:line: column, nothing on stdout
printf 'label\tscore\n1\t0.5\n2\t0.5\n' > "$T/l2.tsv"
t_run rec-metrics "$T/l2.tsv"
t_status "label 2 exits 1" 1
t_err_has "label 2 named" "rec-metrics: $T/l2.tsv:3: column 'label': label '2' is not 0 or 1"
t_ok "no output on failure" test -z "$OUT"
printf 'label\tscore\n1\t0.5\nyes\t0.5\n' > "$T/ly.tsv"
t_run rec-metrics "$T/ly.tsv"
t_status "label yes exits 1" 1
t_err_has "label yes named" "ly.tsv:3: column 'label': cannot parse 'yes' as a number"
printf 'label\tscore\n1\t0.5\n0\t1.5\n' > "$T/s15.tsv"
t_run rec-metrics "$T/s15.tsv"
t_status "score 1.5 exits 1" 1
t_err_has "score 1.5 named" "s15.tsv:3: column 'score': score '1.5' is not a probability in [0, 1]"
printf 'label\tscore\n1\t-0.01\n' > "$T/sneg.tsv"
t_run rec-metrics "$T/sneg.tsv"
t_err_has "negative score named" "sneg.tsv:2: column 'score': score '-0.01' is not a probability in [0, 1]"
printf 'label\tscore\n1\t0.5\n0\t0.2\n1\tnan\n' > "$T/snan.tsv"
t_run rec-metrics "$T/snan.tsv"
t_status "NaN score exits 1" 1
t_err_has "NaN score named" "snan.tsv:4: column 'score': cannot parse 'nan' as a number: NaN and Inf are not accepted"
printf 'label\tscore\n1\t\n' > "$T/sempty.tsv"
t_run rec-metrics "$T/sempty.tsv"
t_err_has "missing score named" "sempty.tsv:2: column 'score': missing value"
t_run rec-metrics -s p "$T/t.tsv"
t_status "missing column exits 1" 1
t_err_has "missing column lists the columns" "t.tsv: no column 'p' (columns: label, score, g)"
t_run rec-metrics --by nope "$T/t.tsv"
t_err_has "missing --by column" "no column 'nope'"
printf 'label\tscore\n' > "$T/hdr.tsv"
t_run rec-metrics "$T/hdr.tsv"
t_status "header only exits 1" 1
t_err_has "header only: no rows" "rec-metrics: $T/hdr.tsv: no rows"
t_run sh -c "printf 'label\tscore\n' | rec-metrics"
t_err_has "stdin with no rows" "rec-metrics: stdin: no rows"
: > "$T/empty.tsv"
t_run rec-metrics "$T/empty.tsv"
t_status "empty file exits 1" 1
t_err_has "empty file named" "empty.tsv: empty input"
t_run rec-metrics "$T/does-not-exist"
t_status "missing file exits 1" 1

# -o: atomic
t_run rec-metrics -o "$T/m.tsv" "$T/t.tsv"
t_status "-o exits 0" 0
t_ok "-o writes the table" test "$(cat "$T/m.tsv")" = "$HEAD
$ALL"
t_ok "-o leaves stdout empty" test -z "$OUT"
t_run rec-metrics -o "$T/fail.tsv" "$T/l2.tsv"
t_status "-o with bad data exits 1" 1
t_ok "failed -o leaves no file" test ! -e "$T/fail.tsv"
t_ok "failed -o leaves no temporary" sh -c "! ls -a '$T' | grep -q '\.tmp\.'"
t_run rec-metrics -o "$T/m.tsv" "$T/hdr.tsv"
t_ok "failed -o keeps the previous file" test "$(cat "$T/m.tsv")" = "$HEAD
$ALL"
t_run rec-metrics -o "$T/no/such/dir/m.tsv" "$T/t.tsv"
t_status "unwritable -o exits 1" 1
t_err_has "unwritable -o named" "cannot create"

# progress on stderr only
t_run rec-metrics --progress "$T/t.tsv"
t_err_has "progress with --progress" "6 rows"
t_out_is "progress leaves stdout as data" "$HEAD
$ALL"

if [ -w /dev/full ]; then
    t_run sh -c "rec-metrics '$S' > /dev/full"
    t_status "stdout to /dev/full exits 1" 1
    t_err_has "write error reported" "write error"
fi
t_done
