#!/bin/sh
# smis-ope: exact values on a hand case, pi = mu, the model shortcut,
# formats, determinism, the truth of a simulated policy inside the
# intervals, and every kind of bad input.
. "$(dirname "$0")/../lib.sh"
S=$ROOT/data-samples/notif.tsv
W=r_visit=1,r_click=0,r_send=-0.05,r_disable=-5
M=$T/q.model
cql-ddqn-train -o "$M" -w $W -g 0.95 --steps 300 --threads 1 --quiet "$S"

t_run smis-ope --help
t_status "--help exits 0" 0
t_out_has "--help usage" "Usage: smis-ope [OPTION]... [FILE]"
t_run smis-ope --version
t_out_is "--version text" "smis-ope (recstage) 0.1.0"
t_run smis-ope -E smis,foo "$S"
t_status "unknown estimator exits 2" 2
t_err_has "unknown estimator named" "unknown estimator 'foo'"
t_run smis-ope --epsilon 0.1 "$S"
t_status "--epsilon without -m exits 2" 2
t_run smis-ope --bins 0 "$S"
t_status "--bins 0 exits 2" 2
t_run smis-ope --level 1 "$S"
t_status "--level 1 exits 2" 2
t_run smis-ope --binning median "$S"
t_status "bad --binning exits 2" 2
t_run smis-ope "$S" "$S"
t_status "two inputs exit 2" 2

# The hand case of test_ope.c: episode A (a=1, mu=0.5, pi_1=0.8, r=1),
# (a=0, mu=0.25, pi_0=0.5, r=2); episode B (a=0, mu=0.5, pi_0=0.2, r=4);
# gamma 0.5; Q = (1, 3) everywhere; x is the marginal feature.
printf 'episode\tt\tx\taction\tpropensity\tr_a\tpi_0\tpi_1\tq_0\tq_1\n' > "$T/hand.tsv"
printf 'A\t0\t0\t1\t0.5\t1\t0.2\t0.8\t1\t3\nA\t1\t1\t0\t0.25\t2\t0.5\t0.5\t1\t3\nB\t0\t1\t0\t0.5\t4\t0.2\t0.8\t1\t3\n' >> "$T/hand.tsv"
t_run smis-ope -g 0.5 -B 0 -w r_a=1 --marginal x --bins 2 --binning uniform "$T/hand.tsv"
t_status "hand case" 0
printf '%s\n' "$OUT" > "$T/hand.out"
val() { awk -F'\t' -v e="$1" -v o="$2" '$1 == e && $2 == o { print $3 }' "$T/hand.out"; }
close_to() { awk -v a="$1" -v b="$2" 'BEGIN { d = a - b; exit !(a != "" && d < 1e-12 && d > -1e-12) }'; }
t_ok "header" test "$(head -n 1 "$T/hand.out")" = "estimator	objective	value	stderr	ci_low	ci_high	ess"
t_ok "behavior 3" close_to "$(val behavior r_a)" 3
t_ok "onestep 2.6" close_to "$(val onestep r_a)" 2.6
t_ok "tis 4" close_to "$(val tis r_a)" 4
t_ok "pdis 3.2" close_to "$(val pdis r_a)" 3.2
t_ok "wpdis 1.6 + 3.2/3.6" close_to "$(val wpdis r_a)" 2.4888888888888888
t_ok "smis 1.6 + 3.2/3.6" close_to "$(val smis r_a)" 2.4888888888888888
t_ok "dr 3.2 for the weighted objective" close_to "$(val dr weighted)" 3.2
t_ok "dr only for the weighted objective" test "$(grep -c '^dr' "$T/hand.out")" -eq 1
t_ok "behavior stderr 1" close_to "$(awk -F'\t' '$1 == "behavior" && $2 == "r_a" { print $4 }' "$T/hand.out")" 1
t_ok "no bootstrap: smis stderr and interval empty" test "$(awk -F'\t' '$1 == "smis" && $2 == "r_a" { print $4 $5 $6 }' "$T/hand.out")" = ""
t_ok "objectives: the reward columns, then weighted" test "$(awk -F'\t' '$1 == "pdis" { printf "%s ", $2 }' "$T/hand.out")" = "r_a weighted "
t_run smis-ope -B 0 -E dr "$T/hand.tsv"
t_status "dr asked for without --weights exits 1" 1
t_err_has "dr needs a weighted objective" "the dr estimator needs no weighted objective"
t_run smis-ope -B 0 -E tis,behavior --marginal x "$T/hand.tsv"
t_ok "only the estimators asked for, in order" test "$(cut -f1 "$T/out" | tr '\n' ' ')" = "estimator behavior tis "

# pi = mu: every weight is 1, the IS estimates are the behaviour value
awk -F'\t' -v OFS='\t' 'NR == 1 { print $0, "pi_0", "pi_1"; next }
    { p = $11; if ($10 == 1) print $0, 1 - p, p; else print $0, p, 1 - p }' "$S" > "$T/onpol.tsv"
t_run smis-ope -B 20 "$T/onpol.tsv"
t_status "pi = mu" 0
printf '%s\n' "$OUT" > "$T/onpol.out"
t_ok "pi = mu: onestep, tis and pdis equal behavior exactly" awk -F'\t' '
    $1 == "behavior" { b[$2] = $3 } $1 ~ /^(onestep|tis|pdis)$/ && $3 != b[$2] { bad = 1 } END { exit bad }' "$T/onpol.out"
t_ok "pi = mu: wpdis and smis equal behavior" awk -F'\t' '
    $1 == "behavior" { b[$2] = $3 } $1 ~ /^(wpdis|smis)$/ { d = $3 - b[$2]; if (d > 1e-9 || d < -1e-9) bad = 1 } END { exit bad }' "$T/onpol.out"
t_ok "pi = mu: effective sample size is every episode" awk -F'\t' 'NR > 1 && $7 != 300 { bad = 1 } END { exit bad }' "$T/onpol.out"
t_ok "the sample has 300 episodes" test "$(awk -F'\t' 'NR > 1 { print $1 }' "$S" | sort -u | wc -l)" -eq 300

# the model shortcut equals policy-act | smis-ope
policy-act -m "$M" -a greedy --epsilon 0.1 "$S" > "$T/act.tsv"
t_run smis-ope -w $W "$T/act.tsv"
t_status "policy-act output" 0
printf '%s\n' "$OUT" > "$T/act.out"
# (Q is computed in batches of another size: dr may differ in the last bits)
t_run smis-ope -m "$M" --epsilon 0.1 -w $W "$S"
t_ok "-m MODEL --epsilon = policy-act | smis-ope" test "$(printf '%s\n' "$OUT" | grep -v '^dr')" = "$(grep -v '^dr' "$T/act.out")"
t_ok "-m MODEL: dr within 1e-6" sh -c "printf '%s\n' \"\$1\" | grep '^dr' | paste - '$T/act.out' | awk -F'\t' '\$9 == \"dr\" { d = \$3 - \$10; exit !(d < 1e-6 && d > -1e-6) }'" _ "$OUT"
t_run smis-ope -m "$M" --epsilon 0.1 "$S"
t_ok "-m takes the model's weights" test "$(printf '%s\n' "$OUT" | grep -v '^dr')" = "$(grep -v '^dr' "$T/act.out")"
t_ok "dr with the q columns" grep -q '^dr	weighted' "$T/act.out"
t_ok "every estimator and objective" test "$(wc -l < "$T/act.out")" -eq 32
# softmax probabilities move with Q's last bits: equal to 1e-6
policy-act -m "$M" -a greedy --temperature 0.5 "$S" | smis-ope -w $W -B 0 --quiet > "$T/soft1.out"
smis-ope -m "$M" --temperature 0.5 -w $W -B 0 --quiet "$S" > "$T/soft2.out"
t_ok "-m MODEL --temperature = policy-act | smis-ope" sh -c "paste '$T/soft1.out' '$T/soft2.out' | awk -F'\t' 'NR > 1 { d = \$3 - \$10; if (d > 1e-6 * (1 + (\$3 < 0 ? -\$3 : \$3)) || -d > 1e-6 * (1 + (\$3 < 0 ? -\$3 : \$3))) bad = 1; n++ } END { exit bad || n != 31 }'"

# formats and determinism
rec-cat --binary "$T/act.tsv" > "$T/act.bin"
gzip -c "$T/act.tsv" > "$T/act.tsv.gz"
t_run smis-ope -w $W "$T/act.bin"
t_ok "binary input: the same estimates" test "$OUT" = "$(cat "$T/act.out")"
t_run smis-ope -w $W < "$T/act.tsv.gz"
t_ok "gzip on stdin: the same estimates" test "$OUT" = "$(cat "$T/act.out")"
t_run smis-ope -w $W --seed 2 "$T/act.tsv"
t_ok "another seed: other intervals" test "$OUT" != "$(cat "$T/act.out")"
t_ok "another seed: the same values" test "$(printf '%s\n' "$OUT" | cut -f1-3)" = "$(cut -f1-3 "$T/act.out")"
t_run smis-ope -w $W -o "$T/res.tsv" "$T/act.tsv"
t_ok "-o writes the file" cmp -s "$T/res.tsv" "$T/act.out"
t_run smis-ope -w $W --binary "$T/act.tsv"
t_ok "--binary writes the record stream" sh -c "smis-ope -w $W --binary '$T/act.tsv' | rec-cat | cmp -s - '$T/act.out'"
t_run smis-ope -w $W --quiet "$T/act.tsv"
t_ok "--quiet: nothing on stderr" test ! -s "$T/err"
t_run smis-ope -w $W "$T/act.tsv"
t_err_has "a summary on stderr" "300 episodes, 11814 rows, 2 actions"

# the truth of a target policy (notif-sim runs it online) inside the intervals
notif-sim --episodes 3000 --seed 4 -o "$T/log.tsv"
cql-ddqn-train -o "$T/q4.model" -w $W -g 0.95 --steps 300 --threads 1 --quiet "$T/log.tsv"
smis-ope -m "$T/q4.model" --epsilon 0.1 --quiet "$T/log.tsv" > "$T/est4.tsv"
notif-sim -m "$T/q4.model" --epsilon 0.1 --episodes 20000 > "$T/truth.tsv"
truth=$(awk -F'\t' '$1 == "weighted" { print $2 }' "$T/truth.tsv")
for e in tis pdis wpdis smis dr; do
    t_ok "$e interval covers the true value $truth" awk -F'\t' -v e=$e -v v="$truth" '
        $1 == e && $2 == "weighted" { found = 1; ok = $5 <= v && v <= $6 } END { exit !(found && ok) }' "$T/est4.tsv"
done

# bad input: SPEC section 3 errors, exit 1, nothing on stdout, no output file
bad() { # name, file, message
    t_run smis-ope -w $W -o "$T/bad.out" "$2"
    t_status "$1 exits 1" 1
    t_err_has "$1: message" "$3"
    t_ok "$1: no output file" test ! -e "$T/bad.out"
    t_ok "$1: nothing on stdout" test -z "$OUT"
}
bad "no pi columns" "$S" "no column 'pi_0'"
t_err_has "no pi: the columns listed" "columns: episode, t, s_badge"
t_err_has "no pi: the way out" "add them with policy-act, or give -m MODEL"
awk -F'\t' -v OFS='\t' 'NR == 40 { $(NF) = 0.7 } { print }' "$T/act.tsv" > "$T/sum.tsv"
bad "pi not summing to 1" "$T/sum.tsv" "sum.tsv:40: the probabilities pi_0..pi_1 sum to 1.65"
awk -F'\t' -v OFS='\t' 'NR == 7 { $11 = 0 } { print }' "$T/act.tsv" > "$T/prop0.tsv"
bad "propensity 0" "$T/prop0.tsv" "prop0.tsv:7: column 'propensity': a propensity must be in (0, 1], not '0'"
awk -F'\t' -v OFS='\t' 'NR == 7 { $11 = 1.5 } { print }' "$T/act.tsv" > "$T/prop2.tsv"
bad "propensity above 1" "$T/prop2.tsv" "a propensity must be in (0, 1], not '1.5'"
{ head -n 1 "$T/act.tsv"; sed -n '2,3p' "$T/act.tsv"; sed -n '50,51p' "$T/act.tsv"; sed -n '4p' "$T/act.tsv"; } > "$T/split.tsv"
bad "episode not contiguous" "$T/split.tsv" "split.tsv:6"
t_err_has "episode not contiguous: said so" "episode"
{ head -n 1 "$T/act.tsv"; sed -n '2,3p' "$T/act.tsv"; sed -n '2p' "$T/act.tsv"; } > "$T/time.tsv"
bad "t not increasing" "$T/time.tsv" "time.tsv:4: column 't': must increase within episode '0'"
awk -F'\t' -v OFS='\t' 'NR == 9 { $10 = 2 } { print }' "$T/act.tsv" > "$T/act2.tsv"
bad "action outside 0..A-1" "$T/act2.tsv" "act2.tsv:9: column 'action': action 2 is outside 0..1"
awk -F'\t' -v OFS='\t' 'NR == 9 { $12 = "x" } { print }' "$T/act.tsv" > "$T/nan.tsv"
bad "a reward that is no number" "$T/nan.tsv" "nan.tsv:9: column 'r_visit': cannot parse 'x'"
awk -F'\t' -v OFS='\t' 'NR == 9 { $(NF - 1) = -0.1 } { print }' "$T/act.tsv" > "$T/neg.tsv"
bad "a negative probability" "$T/neg.tsv" "neg.tsv:9: column 'pi_0': a probability must be in [0, 1]"
cut -f1-16,18- "$T/act.tsv" > "$T/noq1.tsv"
bad "q columns not matching the actions" "$T/noq1.tsv" "1 value columns q_* for 2 actions"
head -n 1 "$T/act.tsv" > "$T/empty.tsv"
bad "no rows" "$T/empty.tsv" "no transitions"
t_run smis-ope -w r_nope=1 "$T/act.tsv"
t_status "--weights naming no reward column exits 1" 1
t_err_has "--weights named" "--weights names 'r_nope', which is not a reward column"
t_run smis-ope --marginal s_nope "$T/act.tsv"
t_status "--marginal naming no column exits 1" 1
t_err_has "--marginal named" "smis needs its marginal state features"
t_run sh -c "smis-ope -w $W '$T/act.tsv' > /dev/full"
t_status "a full disk exits 1" 1
t_done
