#!/bin/sh
# notif-sim: options and their errors (SPEC section 3 exit codes), the
# logged transitions (header, grouping, 42 steps, propensities, rewards),
# binary output equal to TSV, determinism by seed, --evaluate output, atomic
# -o, /dev/full, progress on stderr only.  The dynamics are tested in
# tests/unit/test_notifsim.c.
. "$(dirname "$0")/../lib.sh"
TAB=$(printf '\t')

t_run notif-sim --help
t_status "--help exits 0" 0
t_out_has "--help prints usage to stdout" "Usage: notif-sim"
t_out_has "--help lists --evaluate" "--evaluate POLICY"
t_ok "--help prints nothing on stderr" test -z "$ERR"
t_run notif-sim --version
t_status "--version exits 0" 0
t_out_is "--version names the suite" "notif-sim (recstage) 0.1.0"
t_run notif-sim --bogus
t_status "bad option exits 2" 2
t_err_has "bad option hint" "Try 'notif-sim --help'"
t_err_has "bad option named by the tool" "notif-sim: unrecognized option"
t_run notif-sim --episodes 0
t_status "--episodes 0 exits 2" 2
t_err_has "bad value named" "invalid value '0' for --episodes"
t_ok "bad value writes nothing to stdout" test -z "$OUT"
t_run notif-sim --episodes 12x
t_status "--episodes 12x exits 2" 2
t_err_has "non-integer named" "invalid value '12x' for --episodes: not an integer"
t_run notif-sim --epsilon 1.5
t_status "--epsilon 1.5 exits 2" 2
t_err_has "--epsilon range" "invalid value '1.5' for --epsilon: must be in [0, 1]"
t_run notif-sim --threshold nan
t_status "--threshold nan exits 2" 2
t_run notif-sim --gamma 2 --evaluate never
t_status "--gamma 2 exits 2" 2
t_run notif-sim --seed -1
t_status "negative --seed exits 2" 2
t_run notif-sim --cap -1
t_status "negative --cap exits 2" 2
t_run notif-sim --episodes 5 extra
t_status "an operand exits 2" 2
t_err_has "operand named" "unexpected operand 'extra'"
t_run notif-sim --evaluate sometimes
t_status "unknown policy exits 2" 2
t_err_has "unknown policy named" "invalid value 'sometimes' for --evaluate: unknown policy (policies: always, never, behavior, threshold:X, threshold:X:C)"
t_run notif-sim --evaluate threshold:1.5
t_status "threshold above 1 exits 2" 2
t_err_has "threshold range explained" "the threshold must be in [0, 1]"
t_run notif-sim --evaluate threshold:0.5:x
t_status "bad cap exits 2" 2
t_run notif-sim --evaluate never --weights r_visit=1,r_clicks=2
t_status "unknown weight name exits 2" 2
t_err_has "unknown weight named, objectives listed" "unknown objective 'r_clicks' (objectives: r_visit, r_click, r_send, r_disable)"
t_ok "unknown weight writes nothing to stdout" test -z "$OUT"
t_run notif-sim --evaluate never --weights r_visit=x
t_status "bad weight value exits 2" 2
t_run notif-sim --evaluate never --weights r_visit=1,r_visit=2
t_status "repeated weight exits 2" 2
t_run notif-sim --evaluate never --weights r_visit
t_status "weight without a value exits 2" 2
t_run notif-sim --weights r_visit=1
t_status "--weights without --evaluate exits 2" 2
t_err_has "--weights without --evaluate explained" "--weights applies only with --evaluate"
t_run notif-sim --gamma 0.9
t_status "--gamma without --evaluate exits 2" 2

# a small run
notif-sim --episodes 50 > "$T/a.tsv"
t_ok "header" test "$(head -n 1 "$T/a.tsv")" = "$(printf 'episode\tt\ts_badge\ts_queue\ts_hour\ts_active\ts_sent24h\ts_top_rel\ts_hod\taction\tpropensity\tr_visit\tr_click\tr_send\tr_disable')"
t_run rec-cat --check --group-check episode "$T/a.tsv"
t_status "output passes rec-cat --check --group-check episode" 0
rows=$(($(wc -l < "$T/a.tsv") - 1))
t_out_is "50 episode groups" "$(printf 'input\trows\tcolumns\tgroups\n%s\t%s\t15\t50' "$T/a.tsv" "$rows")"
t_ok "episodes 0 to 49 in order" test "$(cut -f1 "$T/a.tsv" | sed 1d | uniq | tr '\n' ' ')" = "$(seq 0 49 | tr '\n' ' ')"
t_ok "t counts 0, 1, ... within each episode, at most 42 steps" \
    awk -F"$TAB" 'NR > 1 { if ($1 != ep) { ep = $1; n = 0 } if ($2 != n || n > 41) bad = 1; n++ } END { exit bad }' "$T/a.tsv"
t_ok "an episode ends at step 41 or at its disable" \
    awk -F"$TAB" 'NR > 1 { if ($1 != ep && NR > 2 && !(t == 41 || d == 1)) bad = 1; if ($1 == ep && d == 1) bad = 1; ep = $1; t = $2; d = $15 } END { exit bad || !(t == 41 || d == 1) }' "$T/a.tsv"
t_ok "propensities are 0.9 or 0.1, or 1 with an empty queue and action 0" \
    awk -F"$TAB" 'NR > 1 { if ($4 == 0) { if ($10 != 0 || $11 != 1) bad = 1 } else if ($11 != "0.9" && $11 != "0.1") bad = 1 } END { exit bad }' "$T/a.tsv"
t_ok "propensity 0.9 exactly when the action is the rule's" \
    awk -F"$TAB" 'NR > 1 && $4 > 0 { rule = ($8 > 0.5 && $7 < 4); if (($10 == rule) != ($11 == "0.9")) bad = 1 } END { exit bad }' "$T/a.tsv"
t_ok "r_send = action when the queue is not empty; clicks only on sends" \
    awk -F"$TAB" 'NR > 1 { if ($14 != ($4 > 0 && $10 == 1)) bad = 1; if ($13 == 1 && $14 != 1) bad = 1 } END { exit bad }' "$T/a.tsv"
t_ok "rewards are 0 or 1, and visits, clicks and sends occur" \
    awk -F"$TAB" 'NR > 1 { for (i = 12; i <= 15; i++) { if ($i != 0 && $i != 1) bad = 1; n[i] += $i } } END { exit bad || !n[12] || !n[13] || !n[14] }' "$T/a.tsv"
t_ok "s_hour = 4 t and s_hod = s_hour mod 24" \
    awk -F"$TAB" 'NR > 1 && ($5 != 4 * $2 || $9 != $5 % 24) { bad = 1 } END { exit bad }' "$T/a.tsv"
notif-sim --episodes 50 --epsilon 0 > "$T/e0.tsv"
t_ok "--epsilon 0: every propensity is 1" awk -F"$TAB" 'NR > 1 && $11 != 1 { bad = 1 } END { exit bad }' "$T/e0.tsv"
t_ok "--epsilon 0 --threshold 0.5: sends follow the rule" \
    awk -F"$TAB" 'NR > 1 { if ($10 != ($4 > 0 && $8 > 0.5 && $7 < 4)) bad = 1 } END { exit bad }' "$T/e0.tsv"
notif-sim --episodes 50 --epsilon 0 --threshold 0.8 --cap 2 > "$T/t8.tsv"
t_ok "--threshold 0.8 --cap 2 change the rule" \
    awk -F"$TAB" 'NR > 1 { if ($10 != ($4 > 0 && $8 > 0.8 && $7 < 2)) bad = 1 } END { exit bad }' "$T/t8.tsv"
notif-sim --episodes 5 --steps 10 > "$T/s10.tsv"
t_ok "--steps 10: at most 10 steps an episode" awk -F"$TAB" 'NR > 1 && $2 > 9 { bad = 1 } END { exit bad }' "$T/s10.tsv"

# determinism
notif-sim --episodes 50 > "$T/b.tsv"
t_ok "same seed: byte-identical" cmp -s "$T/a.tsv" "$T/b.tsv"
notif-sim --episodes 50 --seed 2 > "$T/c.tsv"
t_ok "other seed: different output" sh -c "! cmp -s '$T/a.tsv' '$T/c.tsv'"
notif-sim --episodes 80 > "$T/d.tsv"
t_ok "more episodes extend the same log" sh -c "head -n $((rows + 1)) '$T/d.tsv' | cmp -s - '$T/a.tsv'"

# binary, -o
notif-sim --episodes 50 --binary > "$T/a.rec"
t_run rec-cat "$T/a.rec"
t_ok "--binary through rec-cat equals the TSV output" cmp -s "$T/out" "$T/a.tsv"
t_ok "--binary is the binary stream" sh -c "head -c 4 '$T/a.rec' | od -An -tx1 | grep -q '89 52 45 43'"
t_run notif-sim --episodes 50 -o "$T/o.tsv"
t_status "-o exits 0" 0
t_ok "-o writes what stdout gets" cmp -s "$T/o.tsv" "$T/a.tsv"
t_ok "-o leaves no temporary" sh -c "! ls -a '$T' | grep -q '\\.tmp\\.'"
notif-sim --episodes 50 -o "$T/o.tsv.gz"
t_ok "-o FILE.gz writes gzip" sh -c "gzip -dc '$T/o.tsv.gz' | cmp -s - '$T/a.tsv'"

# --evaluate
t_run notif-sim --evaluate behavior --episodes 2000
t_status "--evaluate exits 0" 0
t_ok "--evaluate: header and one row per objective and weighted" \
    test "$(printf '%s\n' "$OUT" | cut -f1 | tr '\n' ' ')" = "objective r_visit r_click r_send r_disable weighted "
t_ok "--evaluate: header objective value stderr" test "$(printf '%s\n' "$OUT" | head -n 1)" = "$(printf 'objective\tvalue\tstderr')"
t_ok "--evaluate: values and positive standard errors" \
    sh -c "printf '%s\n' \"\$1\" | awk -F'$TAB' 'NR > 1 && !(NF == 3 && \$2 + 0 == \$2 && \$3 > 0 && \$3 < 1) { bad = 1 } END { exit bad }'" sh "$OUT"
t_ok "--evaluate: weighted = visits - 0.05 sends - 5 disables" \
    sh -c "printf '%s\n' \"\$1\" | awk -F'$TAB' '{ v[\$1] = \$2 } END { d = v[\"weighted\"] - (v[\"r_visit\"] - 0.05 * v[\"r_send\"] - 5 * v[\"r_disable\"]); exit !(d < 1e-6 && d > -1e-6) }'" sh "$OUT"
behavior=$OUT
t_run notif-sim --evaluate behavior --episodes 2000
t_ok "--evaluate: same seed, same values" test "$OUT" = "$behavior"
t_run notif-sim --evaluate never --episodes 500 --weights r_visit=2,r_disable=-1
t_ok "--evaluate never: no sends, clicks or disables" \
    sh -c "printf '%s\n' \"\$1\" | grep -q \"^r_send${TAB}0${TAB}0\$\" && printf '%s\n' \"\$1\" | grep -q \"^r_disable${TAB}0${TAB}0\$\" && printf '%s\n' \"\$1\" | grep -q \"^r_click${TAB}0${TAB}0\$\"" sh "$OUT"
t_ok "--weights r_visit=2: weighted is twice the visits" \
    sh -c "printf '%s\n' \"\$1\" | awk -F'$TAB' '{ v[\$1] = \$2; s[\$1] = \$3 } END { d = s[\"weighted\"] / s[\"r_visit\"] - 2; exit !(v[\"weighted\"] == 2 * v[\"r_visit\"] && d < 1e-8 && d > -1e-8) }'" sh "$OUT"
t_run notif-sim --evaluate always --episodes 2000
always=$OUT
t_ok "always disables more than behavior" \
    test "$(printf '%s\n' "$always" | awk -F"$TAB" '$1 == "r_disable" { print ($2 > 0.2) }')$(printf '%s\n' "$behavior" | awk -F"$TAB" '$1 == "r_disable" { print ($2 < 0.2) }')" = 11
t_run notif-sim --evaluate threshold:0.7:2 --episodes 300 --gamma 0.9
t_status "threshold:X:C with --gamma exits 0" 0
t_run notif-sim --evaluate never --episodes 1
t_ok "one episode: stderr NA" sh -c "printf '%s\n' \"\$1\" | grep -q \"^r_visit${TAB}[0-9]*${TAB}NA\$\"" sh "$OUT"
t_run notif-sim --evaluate never --episodes 100 --binary -o "$T/v.rec"
t_status "--evaluate --binary -o exits 0" 0
t_run rec-cat "$T/v.rec"
t_ok "--evaluate --binary reads back" test "$(printf '%s\n' "$OUT" | cut -f1 | tr '\n' ' ')" = "objective r_visit r_click r_send r_disable weighted "

# progress, quiet
t_run notif-sim --episodes 300 --progress
t_err_has "--progress reports episodes on stderr" "300 episodes"
t_ok "--progress leaves stdout as data" test "$(printf '%s\n' "$OUT" | head -n 1 | cut -f1)" = episode
t_run notif-sim --episodes 300 --progress --quiet
t_ok "--quiet silences stderr" test -z "$ERR"

# write errors leave nothing behind
t_run notif-sim --episodes 50 -o "$T/no/such/dir/out.tsv"
t_status "unwritable -o exits 1" 1
t_err_has "unwritable -o named" "cannot create"
t_ok "unwritable -o leaves nothing" test ! -e "$T/no"
mkdir "$T/ro"
chmod 555 "$T/ro"
if ! : 2>/dev/null > "$T/ro/probe"; then
    t_run notif-sim --episodes 50 -o "$T/ro/out.tsv"
    t_status "read-only folder exits 1" 1
    t_ok "read-only folder: nothing left" test -z "$(ls -A "$T/ro")"
    t_run notif-sim --evaluate never --episodes 50 -o "$T/ro/v.tsv"
    t_status "--evaluate to a read-only folder exits 1" 1
fi
chmod 755 "$T/ro"
if [ -w /dev/full ]; then
    t_run sh -c "notif-sim --episodes 50 > /dev/full"
    t_status "stdout to /dev/full exits 1" 1
    t_err_has "write error reported" "write error"
    t_run sh -c "notif-sim --episodes 50 --binary > /dev/full"
    t_status "binary stdout to /dev/full exits 1" 1
    t_run sh -c "notif-sim --evaluate never --episodes 50 > /dev/full"
    t_status "--evaluate to /dev/full exits 1" 1
fi
# a learned Q-network as the evaluated policy (-m)
notif-sim --episodes 400 --seed 3 -o "$T/log.tsv"
cql-ddqn-train -o "$T/q.model" --weights r_visit=1,r_send=-0.05,r_disable=-5 --steps 300 --quiet "$T/log.tsv"
t_run notif-sim --episodes 300 -m "$T/q.model"
t_status "evaluating a model policy" 0
t_out_has "model policy value rows" "weighted"
greedy=$(printf '%s\n' "$OUT" | awk -F'\t' '$1 == "weighted" { print $2 }')
t_run notif-sim --episodes 300 -m "$T/q.model" --epsilon 1
uniform=$(printf '%s\n' "$OUT" | awk -F'\t' '$1 == "weighted" { print $2 }')
t_ok "epsilon 1 changes the policy's value ($greedy vs $uniform)" test "$greedy" != "$uniform"
t_run notif-sim --episodes 300 -m "$T/q.model" --temperature 0.5
t_status "softmax policy" 0
t_run notif-sim -m "$T/q.model" --evaluate never
t_status "-m with --evaluate is a usage error" 2
t_run notif-sim -m "$T/q.model" --epsilon 0.1 --temperature 1
t_status "--epsilon with --temperature is a usage error" 2
t_run notif-sim --temperature 1 --evaluate never
t_status "--temperature without a model is a usage error" 2
t_run notif-sim -m "$ROOT/data-samples/maml.model"
t_status "a model of another kind exits 1" 1
t_err_has "another kind named" "recstage.maml"
t_done
