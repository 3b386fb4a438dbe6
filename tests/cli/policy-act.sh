#!/bin/sh
# policy-act: the appended columns, greedy and epsilon-greedy and softmax
# probabilities, the input kept, batching, formats, and errors.
. "$(dirname "$0")/../lib.sh"
S=$ROOT/data-samples/transitions.tsv
M=$T/q.model
G="-a greedy"
cql-ddqn-train -o "$M" -w r_visit=1,r_send=-0.05 --steps 300 --quiet "$S"

t_run policy-act --help
t_status "--help exits 0" 0
t_out_has "--help usage" "Usage: policy-act -m MODEL"
t_run policy-act --version
t_status "--version exits 0" 0
t_out_is "--version text" "policy-act (recstage) 0.1.0"
t_run policy-act "$S"
t_status "no model is a usage error" 2
t_err_has "no model named" "-m MODEL is required"
t_run policy-act -m "$M" --epsilon 0.1 --temperature 1 "$S"
t_status "epsilon and temperature are exclusive" 2
t_err_has "exclusive named" "--epsilon and --temperature are exclusive"
t_run policy-act -m "$M" --epsilon 1.5 "$S"
t_status "epsilon above 1 exits 2" 2
t_run policy-act -m "$M" --temperature 0 "$S"
t_status "temperature 0 exits 2" 2
t_run policy-act -m "$M" --batch 0 "$S"
t_status "batch 0 exits 2" 2
t_run policy-act -m "$M" --bogus "$S"
t_status "unknown option exits 2" 2

t_run policy-act -m "$M" $G "$S"
t_status "greedy by default" 0
printf '%s\n' "$OUT" > "$T/greedy.tsv"
t_ok "columns appended" test "$(head -n 1 "$T/greedy.tsv")" = "$(head -n 1 "$S")	q_0	q_1	greedy	pi_0	pi_1"
t_ok "every row" test "$(wc -l < "$T/greedy.tsv")" -eq "$(wc -l < "$S")"
t_ok "input columns unchanged" sh -c "cut -f1-10 '$T/greedy.tsv' | cmp -s - '$S'"
t_ok "action is the argmax (ties: 0)" awk -F'\t' 'NR > 1 && $13 != ($12 > $11 ? 1 : 0) { bad = 1 } END { exit bad }' "$T/greedy.tsv"
t_ok "greedy: pi is one-hot on the action" awk -F'\t' 'NR > 1 && ($(14 + $13) != 1 || $(15 - $13) != 0) { bad = 1 } END { exit bad }' "$T/greedy.tsv"

t_run policy-act -m "$M" $G --epsilon 0.2 "$S"
t_status "epsilon-greedy" 0
printf '%s\n' "$OUT" > "$T/eps.tsv"
t_ok "epsilon-greedy: 0.9 on the greedy action, 0.1 on the other" awk -F'\t' 'NR > 1 && ($(14 + $13) != 0.9 || $(15 - $13) != 0.1) { bad = 1 } END { exit bad }' "$T/eps.tsv"
cut -f1-13 "$T/greedy.tsv" > "$T/g13"
t_ok "epsilon does not change q or the action" sh -c "cut -f1-13 '$T/eps.tsv' | cmp -s - '$T/g13'"
t_run policy-act -m "$M" $G --epsilon 1 "$S"
t_ok "epsilon 1 is uniform" sh -c "printf '%s\n' \"\$1\" | awk -F'\t' 'NR > 1 && (\$14 != 0.5 || \$15 != 0.5) { bad = 1 } END { exit bad }'" _ "$OUT"

t_run policy-act -m "$M" $G --temperature 0.5 "$S"
t_status "softmax" 0
printf '%s\n' "$OUT" > "$T/soft.tsv"
t_ok "softmax probabilities sum to 1" awk -F'\t' 'NR > 1 { d = $14 + $15 - 1; if (d > 1e-6 || d < -1e-6) bad = 1 } END { exit bad }' "$T/soft.tsv"
t_ok "softmax = 1 / (1 + exp(-(q_1 - q_0) / T))" awk -F'\t' 'NR > 1 { p = 1 / (1 + exp(-($12 - $11) / 0.5)); d = $15 - p; if (d > 1e-6 || d < -1e-6) bad = 1 } END { exit bad }' "$T/soft.tsv"
t_ok "softmax favours the greedy action" awk -F'\t' 'NR > 1 && $(14 + $13) < 0.5 { bad = 1 } END { exit bad }' "$T/soft.tsv"

# batching changes nothing; formats; several inputs; standard input
# the same Q-values whatever the batch size, up to float rounding
same_q() { paste "$1" "$2" | awk -F'\t' 'NR > 1 { for (k = 11; k <= 15; k++) { d = $k - $(k + 15); if (d > 1e-5 * (1 + ($k < 0 ? -$k : $k)) || -d > 1e-5 * (1 + ($k < 0 ? -$k : $k))) bad = 1 } } END { exit bad }'; }
policy-act -m "$M" $G --batch 7 "$S" > "$T/b7.tsv"
t_ok "batch size 7: the same output as 256" same_q "$T/b7.tsv" "$T/greedy.tsv"
policy-act -m "$M" $G --batch 1 "$S" > "$T/b1.tsv"
t_ok "batch size 1: the same output as 256" same_q "$T/b1.tsv" "$T/greedy.tsv"
t_ok "the same rows and columns" sh -c "cut -f1-10,13 '$T/b1.tsv' > '$T/c1'; cut -f1-10,13 '$T/greedy.tsv' | cmp -s - '$T/c1'"
policy-act -m "$M" $G < "$S" > "$T/stdin.tsv"
t_ok "standard input" cmp -s "$T/stdin.tsv" "$T/greedy.tsv"
policy-act -m "$M" $G --binary "$S" > "$T/out.rec"
t_ok "binary output reads back to the text output" sh -c "rec-cat '$T/out.rec' | cmp -s - '$T/greedy.tsv'"
rec-cat --binary "$S" > "$T/in.rec"
t_ok "binary input" sh -c "policy-act -m '$M' $G '$T/in.rec' | cmp -s - '$T/greedy.tsv'"
head -n 100 "$S" > "$T/part1.tsv"
{ head -n 1 "$S"; tail -n +101 "$S"; } > "$T/part2.tsv"
t_ok "several inputs are one stream" sh -c "policy-act -m '$M' $G '$T/part1.tsv' '$T/part2.tsv' | cmp -s - '$T/greedy.tsv'"
policy-act -m "$M" $G -o "$T/out.tsv.gz" "$S"
t_ok "-o FILE.gz writes gzip" sh -c "gzip -dc '$T/out.tsv.gz' | cmp -s - '$T/greedy.tsv'"
# only the state columns are needed, in any order, with other columns
printf 's_3\tid\ts_2\ts_1\ts_0\n0\tx\t0\t0\t1\n1\ty\t0\t0\t0\n' > "$T/states.tsv"
t_run policy-act -m "$M" "$T/states.tsv"
t_status "states only, columns in any order" 0
t_ok "the default name of the greedy action" test "$(printf '%s\n' "$OUT" | head -n 1)" = "$(printf 's_3\tid\ts_2\ts_1\ts_0\tq_0\tq_1\taction\tpi_0\tpi_1')"
t_ok "the same Q as in the transitions" test "$(printf '%s\n' "$OUT" | sed -n 2p | cut -f6-)" = "$(awk -F'\t' '$3 == 1' "$T/greedy.tsv" | head -n 1 | cut -f11-)"

# errors
t_run policy-act -m "$M" "$S"
t_status "the logged action column collides with the greedy one" 1
t_err_has "collision named, --action-name suggested" "transitions.tsv: the input already has a column 'action' (the logged action?); name the greedy action's column with --action-name, e.g. --action-name greedy"
t_run policy-act -m "$M" -a '' "$S"
t_status "an empty --action-name exits 2" 2
t_run policy-act -m "$M" -a q_1 "$S"
t_status "--action-name q_1 duplicates a column: exit 1" 1
t_run policy-act -m "$M" -a other "$T/greedy.tsv"
t_status "an input with q_0 exits 1" 1
t_err_has "existing column named" "greedy.tsv: the input already has a column 'q_0'"
cut -f1-3,5- "$S" > "$T/nos1.tsv"
t_run policy-act -m "$M" $G "$T/nos1.tsv"
t_status "a missing state column exits 1" 1
t_err_has "missing state column named" "nos1.tsv: no column 's_1' (columns: episode, t, s_0, s_2"
awk -F'\t' -v OFS='\t' 'NR == 9 { $4 = "x" } 1' "$S" > "$T/bad.tsv"
t_run sh -c "cd '$T' && policy-act -m q.model $G -o o.tsv bad.tsv"
t_status "a bad state exits 1" 1
t_err_has "bad state named" "policy-act: bad.tsv:9: column 's_1': cannot parse 'x' as a number"
t_ok "no output file after a failure" test ! -e "$T/o.tsv"
awk -F'\t' -v OFS='\t' 'NR == 9 { $4 = "inf" } 1' "$S" > "$T/inf.tsv"
t_run policy-act -m "$M" $G "$T/inf.tsv"
t_status "an infinite state exits 1" 1
t_err_has "infinite state named" "inf.tsv:9: column 's_1': cannot parse 'inf' as a number: NaN and Inf are not accepted"
t_run policy-act -m "$M" $G "$T/part1.tsv" "$T/nos1.tsv"
t_status "inputs with other columns exit 1" 1
t_run policy-act -m "$ROOT/data-samples/maml.model" "$S"
t_status "another kind of model exits 1" 1
t_err_has "kind named" "model is a 'recstage.maml', expected a 'recstage.qnet'"
t_run policy-act -m "$T/none.model" "$S"
t_status "a missing model exits 1" 1
t_run policy-act -m "$M" "$T/none.tsv"
t_status "a missing input exits 1" 1
t_run policy-act -m "$M" $G "$S"
if [ -w /dev/full ]; then
    t_run sh -c "policy-act -m '$M' $G '$S' > /dev/full"
    t_status "a write error on stdout exits 1" 1
    t_err_has "write error named" "write error"
fi
# ---- threads: pieces of the input on worker threads ----
# a model of the notif-sim sample (7 state features, hidden 64,64): the same
# bytes for any thread count and any cut into pieces, text or binary input
N=$ROOT/data-samples/notif.tsv
cql-ddqn-train -o "$T/n.model" --steps 50 --quiet "$N"
policy-act -m "$T/n.model" $G -j 1 "$N" > "$T/nj1.tsv"
for j in 2 3; do
    t_ok "-j $j: the same bytes as -j 1" sh -c "policy-act -m '$T/n.model' $G -j $j '$N' | cmp -s - '$T/nj1.tsv'"
    t_ok "-j $j, pieces of 3000 bytes: the same bytes" sh -c "RECSTAGE_PIECE_BYTES=3000 policy-act -m '$T/n.model' $G -j $j '$N' | cmp -s - '$T/nj1.tsv'"
done
rec-cat --binary -o "$T/n.rec" "$N"
t_ok "binary input on threads: the same bytes" sh -c "policy-act -m '$T/n.model' $G -j 2 '$T/n.rec' | cmp -s - '$T/nj1.tsv'"
t_ok "binary output on threads reads back to the same" sh -c "RECSTAGE_PIECE_BYTES=3000 policy-act -m '$T/n.model' $G -j 3 --binary '$N' | rec-cat | cmp -s - '$T/nj1.tsv'"
head -n 2001 "$N" > "$T/n1.tsv"
{ head -n 1 "$N"; tail -n +2002 "$N"; } > "$T/n2.tsv"
t_ok "two inputs in pieces: the bytes of their concatenation" sh -c "RECSTAGE_PIECE_BYTES=5000 policy-act -m '$T/n.model' $G -j 2 '$T/n1.tsv' '$T/n2.tsv' | cmp -s - '$T/nj1.tsv'"
t_ok "--batch 7 in pieces: the bytes of one piece" sh -c "policy-act -m '$T/n.model' $G --batch 7 -j 1 '$N' > '$T/nb7.tsv' && RECSTAGE_PIECE_BYTES=3000 policy-act -m '$T/n.model' $G --batch 7 -j 3 '$N' | cmp -s - '$T/nb7.tsv'"
awk -F'\t' -v OFS='\t' 'NR == 7001 { $5 = "-" } NR == 8000 { NF = 3 } 1' "$N" > "$T/nbad.tsv"
t_run env RECSTAGE_PIECE_BYTES=2000 policy-act -m "$T/n.model" $G -j 3 -o "$T/nout.tsv" "$T/nbad.tsv"
t_status "a bad state in a late piece exits 1" 1
t_err_has "the first error in the input, by line" "nbad.tsv:7001: column 's_hour': cannot parse '-' as a number"
t_ok "no output file after a failure on threads" test ! -e "$T/nout.tsv"
t_run policy-act --progress -m "$T/n.model" $G "$N"
t_status "--progress exits 0" 0
t_err_has "--progress counts the rows written" "11.8k rows"
t_run policy-act --progress --quiet -m "$T/n.model" $G "$N"
t_ok "--quiet after --progress prints nothing" test -z "$ERR"
t_done
