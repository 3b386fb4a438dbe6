#!/bin/sh
# member-sim: options and their errors (SPEC section 3 exit codes), the
# output table (header, grouping, ids, sorted times, 0/1 labels), --p-true,
# binary output equal to TSV, determinism by seed, atomic -o, /dev/full,
# progress and summary on stderr only.  The statistical properties of the
# simulation are tested in tests/unit/test_membersim.c.
. "$(dirname "$0")/../lib.sh"
TAB=$(printf '\t')

t_run member-sim --help
t_status "--help exits 0" 0
t_out_has "--help prints usage to stdout" "Usage: member-sim"
t_ok "--help prints nothing on stderr" test -z "$ERR"
t_run member-sim --version
t_status "--version exits 0" 0
t_out_is "--version names the suite" "member-sim (recstage) 0.1.0"
t_run member-sim --bogus
t_status "bad option exits 2" 2
t_err_has "bad option hint" "Try 'member-sim --help'"
t_run member-sim --members -1
t_status "--members -1 exits 2" 2
t_err_has "bad value named" "invalid value '-1' for --members"
t_ok "bad value writes nothing to stdout" test -z "$OUT"
t_run member-sim --members 12x
t_status "--members 12x exits 2" 2
t_err_has "non-integer named" "invalid value '12x' for --members: not an integer"
t_run member-sim --drift -0.1
t_status "negative --drift exits 2" 2
t_run member-sim --meta-r2 1
t_status "--meta-r2 1 exits 2" 2
t_run member-sim --seed -3
t_status "negative --seed exits 2" 2
t_run member-sim --members 5 extra
t_status "an operand exits 2" 2
t_err_has "operand named" "unexpected operand 'extra'"
t_run member-sim --median-rows 50 --max-rows 20
t_status "median above cap exits 2" 2
t_err_has "median above cap explained" "member-sim: --median-rows 50 is above --max-rows 20"
t_run member-sim --meta-features 2
t_status "unreachable --meta-r2 exits 2" 2
t_err_has "unreachable --meta-r2 explained" "--meta-r2 0.5 cannot be reached with 2 meta features"

# a small run
member-sim --members 200 > "$T/a.tsv"
t_ok "header" test "$(head -n 1 "$T/a.tsv")" = "$(printf 'member_id\tts\tlabel\tm_0\tm_1\tm_2\tm_3\tm_4\tm_5\tm_6\tm_7\tx_0\tx_1\tx_2\tx_3\tx_4\tx_5\tx_6\tx_7\tx_8\tx_9\tx_10\tx_11\tx_12\tx_13\tx_14\tx_15')"
t_run rec-cat --check --group-check member_id "$T/a.tsv"
t_status "output passes rec-cat --check --group-check member_id" 0
rows=$(($(wc -l < "$T/a.tsv") - 1))
t_out_is "200 member groups" "$(printf 'input\trows\tcolumns\tgroups\n%s\t%s\t27\t200' "$T/a.tsv" "$rows")"
t_ok "a few thousand rows for 200 members ($rows)" test "$rows" -gt 2000 -a "$rows" -lt 10000
t_ok "ids zero-padded from u000000 to u000199" test "$(cut -f1 "$T/a.tsv" | sed 1d | uniq | sed -n '1p;$p' | tr '\n' ' ')" = "u000000 u000199 "
t_ok "ids in lexicographic order" sh -c "cut -f1 '$T/a.tsv' | sed 1d | LC_ALL=C sort -c"
t_ok "times sorted within each member, from 1700000000, within 30 days" \
    awk -F"$TAB" 'NR > 1 { if (($1 == id && $2 < ts) || $2 < 1700000000 || $2 >= 1700000000 + 30 * 86400) bad = 1; id = $1; ts = $2 } END { exit bad }' "$T/a.tsv"
t_ok "labels are 0 or 1, and both occur" \
    awk -F"$TAB" 'NR > 1 { if ($3 != "0" && $3 != "1") bad = 1; n[$3]++ } END { exit bad || !n[0] || !n[1] }' "$T/a.tsv"
t_ok "member features constant within a member" \
    awk -F"$TAB" 'NR > 1 { m = $4; for (i = 5; i <= 11; i++) m = m " " $i; if ($1 == id && m != prev) bad = 1; id = $1; prev = m } END { exit bad }' "$T/a.tsv"

# determinism
member-sim --members 200 > "$T/b.tsv"
t_ok "same seed: byte-identical" cmp -s "$T/a.tsv" "$T/b.tsv"
member-sim --members 200 --seed 2 > "$T/c.tsv"
t_ok "other seed: different output" sh -c "! cmp -s '$T/a.tsv' '$T/c.tsv'"
member-sim --members 200 --drift 0 > "$T/d.tsv"
t_ok "--drift changes labels only: ids, times and features are shared" \
    test "$(cut -f1,2,4- "$T/a.tsv" | cksum)" = "$(cut -f1,2,4- "$T/d.tsv" | cksum)"
t_ok "--drift 0 changes some labels" sh -c "! cmp -s '$T/a.tsv' '$T/d.tsv'"

# --p-true, binary, -o
member-sim --members 200 --p-true > "$T/p.tsv"
t_ok "--p-true appends p_true" test "$(head -n 1 "$T/p.tsv" | cut -f28)" = p_true
t_ok "--p-true leaves the other columns as they were" test "$(cut -f1-27 "$T/p.tsv" | cksum)" = "$(cksum < "$T/a.tsv")"
t_ok "p_true in (0, 1)" awk -F"$TAB" 'NR > 1 && !($28 > 0 && $28 < 1) { bad = 1 } END { exit bad }' "$T/p.tsv"
member-sim --members 200 --p-true --binary > "$T/p.rec"
t_run rec-cat "$T/p.rec"
t_ok "--binary through rec-cat equals the TSV output" cmp -s "$T/out" "$T/p.tsv"
t_ok "--binary is the binary stream" sh -c "head -c 4 '$T/p.rec' | od -An -tx1 | grep -q '89 52 45 43'"
t_run rec-cat --schema "$T/p.rec"
t_out_has "binary types: ts is i64" "ts${TAB}i64"
t_out_has "binary types: x_0 is f32" "x_0${TAB}f32"
t_run member-sim --members 200 -o "$T/o.tsv"
t_status "-o exits 0" 0
t_ok "-o writes what stdout gets" cmp -s "$T/o.tsv" "$T/a.tsv"
t_ok "-o leaves no temporary" sh -c "! ls -a '$T' | grep -q '\\.tmp\\.'"
member-sim --members 200 -o "$T/o.tsv.gz"
t_ok "-o FILE.gz writes gzip" sh -c "gzip -dc '$T/o.tsv.gz' | cmp -s - '$T/a.tsv'"
t_run member-sim --members 20 --meta-features 3 --features 5 --p-true --days 7
t_ok "--meta-features 3 --features 5 header" test "$(printf '%s\n' "$OUT" | head -n 1)" = "$(printf 'member_id\tts\tlabel\tm_0\tm_1\tm_2\tx_0\tx_1\tx_2\tx_3\tx_4\tp_true')"
t_ok "--days 7 keeps times within 7 days" \
    sh -c "printf '%s\n' \"\$1\" | awk -F'$TAB' 'NR > 1 && \$2 >= 1700000000 + 7 * 86400 { bad = 1 } END { exit bad }'" sh "$OUT"
t_run member-sim --members 100 --max-rows 7 --median-rows 3
t_ok "--max-rows 7 caps rows per member" test "$(printf '%s\n' "$OUT" | sed 1d | cut -f1 | uniq -c | awk '$1 > m { m = $1 } END { print m }')" -le 7

# progress, summary, quiet
t_run member-sim --members 300 --progress
t_err_has "--progress reports members on stderr" "300 members"
t_ok "--progress leaves stdout as data" test "$(printf '%s\n' "$OUT" | head -n 1 | cut -f1)" = member_id
t_run member-sim --members 300 --summary
t_err_has "--summary reports the click rate" "click rate"
t_err_has "--summary reports the R^2" "least-squares R^2"
t_err_has "--summary reports the personal share" "personal term p.q"
t_run member-sim --members 300 --summary --progress --quiet
t_ok "--quiet silences stderr" test -z "$ERR"

# write errors leave nothing behind
t_run member-sim --members 50 -o "$T/no/such/dir/out.tsv"
t_status "unwritable -o exits 1" 1
t_err_has "unwritable -o named" "cannot create"
t_ok "unwritable -o leaves nothing" test ! -e "$T/no"
mkdir "$T/ro"
chmod 555 "$T/ro"
if ! : 2>/dev/null > "$T/ro/probe"; then
    t_run member-sim --members 50 -o "$T/ro/out.tsv"
    t_status "read-only folder exits 1" 1
    t_ok "read-only folder: nothing left" test -z "$(ls -A "$T/ro")"
fi
chmod 755 "$T/ro"
if [ -w /dev/full ]; then
    t_run sh -c "member-sim --members 50 > /dev/full"
    t_status "stdout to /dev/full exits 1" 1
    t_err_has "write error reported" "write error"
    t_run sh -c "member-sim --members 50 --binary > /dev/full"
    t_status "binary stdout to /dev/full exits 1" 1
fi
t_done
