#!/bin/sh
# multislot-sim: options and their errors (SPEC section 3 exit codes), the
# logged table (header, one row per candidate, slots 1..K once a request,
# unshown rows zero, propensities of the uniform and greedy policies, the
# cascade's single click), binary output equal to TSV, determinism by seed,
# --judge against the simulated outcomes for both objectives and both click
# models, --per-request, every bad-input case of --judge, atomic -o and
# /dev/full.  The model itself is tested in tests/unit/test_multislot.c.
. "$(dirname "$0")/../lib.sh"
TAB=$(printf '\t')

t_run multislot-sim --help
t_status "--help exits 0" 0
t_out_has "--help prints usage to stdout" "Usage: multislot-sim"
t_out_has "--help lists --judge" "--judge LISTS"
t_ok "--help prints nothing on stderr" test -z "$ERR"
t_run multislot-sim --version
t_status "--version exits 0" 0
t_out_is "--version names the suite" "multislot-sim (recstage) 0.1.0"

# usage errors: exit 2, a message, nothing on stdout
usage() {
    what=$1
    want=$2
    shift 2
    t_run multislot-sim "$@"
    t_status "$what exits 2" 2
    t_err_has "$what explained" "$want"
    t_ok "$what writes nothing to stdout" test -z "$OUT"
}
usage "bad option" "multislot-sim: unrecognized option" --bogus
usage "bad option hint" "Try 'multislot-sim --help'" --bogus
usage "--requests 0" "invalid value '0' for --requests" --requests 0
usage "--requests 12x" "invalid value '12x' for --requests: not an integer" --requests 12x
usage "--candidates 0" "invalid value '0' for --candidates" --candidates 0
usage "fewer candidates than slots" "--slots 5 exceeds --candidates 3" --candidates 3
usage "--slots 0" "invalid value '0' for --slots" --slots 0
usage "--categories 0" "invalid value '0' for --categories" --categories 0
usage "fewer items than candidates" "--candidates 20 exceeds --items 10" --items 10
usage "--dim 0" "invalid value '0' for --dim" --dim 0
usage "--features -1" "invalid value '-1' for --features" --features -1
usage "--eta -1" "invalid value '-1' for --eta" --eta -1
usage "--diversity-effect nan" "invalid value 'nan' for --diversity-effect" --diversity-effect nan
usage "--freshness-effect x" "invalid value 'x' for --freshness-effect" --freshness-effect x
usage "--score-noise -0.1" "invalid value '-0.1' for --score-noise" --score-noise -0.1
usage "--seed -1" "invalid value '-1' for --seed" --seed -1
usage "unknown logging" "invalid value 'greedy' for --logging: unknown logging policy (policies: uniform, epsilon:E, plackett-luce:T)" --logging greedy
usage "epsilon above 1" "invalid value 'epsilon:1.5' for --logging: the epsilon must be in [0, 1]" --logging epsilon:1.5
usage "epsilon not a number" "invalid value 'epsilon:x' for --logging" --logging epsilon:x
usage "temperature 0" "invalid value 'plackett-luce:0' for --logging: the temperature must be in [0.01, 1000]" --logging plackett-luce:0
usage "unknown click model" "invalid value 'dbn' for --click-model: unknown click model (models: position, cascade)" --click-model dbn
usage "an operand" "unexpected operand 'extra'" --requests 5 extra
usage "--per-request without --judge" "--per-request applies only with --judge" --per-request "$T/p.tsv"

# a small run
multislot-sim --requests 200 > "$T/a.tsv"
t_ok "header columns exact" test "$(head -n 1 "$T/a.tsv")" = "$(printf 'request_id\titem_id\tcategory\tage\tscore_click\tscore_save\tf_0\tf_1\tf_2\tf_3\tf_4\tf_5\tf_6\tf_7\tslot\tclick\tsave\tpropensity')"
t_ok "--features 2: f_0 f_1" test "$(multislot-sim --requests 1 --features 2 | head -n 1)" = "$(printf 'request_id\titem_id\tcategory\tage\tscore_click\tscore_save\tf_0\tf_1\tslot\tclick\tsave\tpropensity')"
t_ok "--features 0: no f_*" test "$(multislot-sim --requests 1 --features 0 | head -n 1)" = "$(printf 'request_id\titem_id\tcategory\tage\tscore_click\tscore_save\tslot\tclick\tsave\tpropensity')"
t_run rec-cat --check --group-check request_id "$T/a.tsv"
t_status "output passes rec-cat --check --group-check request_id" 0
t_out_is "200 requests of 20 candidates" "$(printf 'input\trows\tcolumns\tgroups\n%s\t4000\t18\t200' "$T/a.tsv")"
t_ok "request ids 0..199 in order, 20 rows each" \
    test "$(cut -f1 "$T/a.tsv" | sed 1d | uniq -c | awk '$1 == 20 { printf "%s ", $2 }')" = "$(seq 0 199 | tr '\n' ' ')"
t_ok "slots 1..5 once per request" \
    awk -F"$TAB" 'NR > 1 && $15 > 0 { if ($15 > 5 || seen[$1, $15]++) bad = 1; n[$1]++ } END { for (r = 0; r < 200; r++) if (n[r] != 5) bad = 1; exit bad }' "$T/a.tsv"
t_ok "distinct items in a request, named i<n>" \
    awk -F"$TAB" 'NR > 1 { if ($2 !~ /^i(0|[1-9][0-9]*)$/ || ($1 SUBSEP $2) in seen) bad = 1; seen[$1, $2] = 1 } END { exit bad }' "$T/a.tsv"
t_ok "unshown rows: slot 0, click 0, save 0, propensity 0" \
    awk -F"$TAB" 'NR > 1 && $15 == 0 && ($16 != 0 || $17 != 0 || $18 != 0) { bad = 1 } END { exit bad }' "$T/a.tsv"
t_ok "shown rows: propensity in (0, 1], clicks and saves 0 or 1" \
    awk -F"$TAB" 'NR > 1 && $15 > 0 && !($18 > 0 && $18 <= 1 && ($16 == 0 || $16 == 1) && ($17 == 0 || $17 == 1)) { bad = 1 } END { exit bad }' "$T/a.tsv"
t_ok "clicks and saves occur" awk -F"$TAB" 'NR > 1 { c += $16; s += $17 } END { exit !(c > 50 && s > 10) }' "$T/a.tsv"
t_ok "categories 0..7, ages >= 0, scores in (0, 0.9999]" \
    awk -F"$TAB" 'NR > 1 && !($3 >= 0 && $3 < 8 && $4 >= 0 && $5 > 0 && $5 <= 0.9999 && $6 > 0 && $6 <= 0.9999) { bad = 1 } END { exit bad }' "$T/a.tsv"
t_ok "an item keeps its category and features across requests" \
    awk -F"$TAB" 'NR > 1 { v = $3; for (j = 7; j <= 14; j++) v = v " " $j; if (($2 in f) && f[$2] != v) bad = 1; f[$2] = v } END { exit bad }' "$T/a.tsv"

multislot-sim --requests 200 --logging uniform > "$T/u.tsv"
t_ok "uniform: propensity 1/(N-k+1) at slot k" \
    awk -F"$TAB" 'NR > 1 && $15 > 0 { d = $18 - 1 / (21 - $15); if (d > 1e-7 || d < -1e-7) bad = 1 } END { exit bad }' "$T/u.tsv"
multislot-sim --requests 200 --logging epsilon:0 > "$T/g.tsv"
t_ok "epsilon:0: propensity 1, the slots in score_click order over the top 5" \
    awk -F"$TAB" 'NR > 1 { if ($1 != r) { r = $1; n = 0 } n++; sc[n] = $5 + 0; sl[n] = $15 + 0; if ($15 > 0 && $18 != 1) bad = 1; if (n == 20) { for (i = 1; i <= 20; i++) { rank = 1; for (j = 1; j <= 20; j++) if (sc[j] > sc[i] || (sc[j] == sc[i] && j < i)) rank++; if ((rank <= 5 ? rank : 0) != sl[i]) bad = 1 } } } END { exit bad }' "$T/g.tsv"
multislot-sim --requests 200 --logging epsilon:0.5 > "$T/e.tsv"
t_ok "epsilon:0.5: propensities (1-E)[top] + E/(N-k+1)" \
    awk -F"$TAB" 'NR > 1 && $15 > 0 { m = 21 - $15; a = 0.5 / m; b = 0.5 + 0.5 / m; if (!(($18 - a) ^ 2 < 1e-14 || ($18 - b) ^ 2 < 1e-14)) bad = 1 } END { exit bad }' "$T/e.tsv"
multislot-sim --requests 300 --click-model cascade > "$T/c.tsv"
t_ok "cascade: at most one click a request, none below it" \
    awk -F"$TAB" 'NR > 1 { if ($1 != r) { r = $1; first = 99; n = 0 } if ($16 == 1) { n++; first = $15 } if (n > 1) bad = 1 } END { exit bad }' "$T/c.tsv"
t_ok "cascade: clicks occur" awk -F"$TAB" 'NR > 1 { c += $16 } END { exit !(c > 100) }' "$T/c.tsv"

# determinism
multislot-sim --requests 200 > "$T/b.tsv"
t_ok "same seed: byte-identical" cmp -s "$T/a.tsv" "$T/b.tsv"
multislot-sim --requests 200 --seed 2 > "$T/s2.tsv"
t_ok "other seed: different output" sh -c "! cmp -s '$T/a.tsv' '$T/s2.tsv'"
multislot-sim --requests 300 > "$T/d.tsv"
t_ok "more requests extend the same log" sh -c "head -n 4001 '$T/d.tsv' | cmp -s - '$T/a.tsv'"
t_ok "the candidates do not depend on the logging policy" \
    sh -c "cut -f1-14 '$T/a.tsv' > '$T/a14'; cut -f1-14 '$T/u.tsv' | cmp -s - '$T/a14'"

# binary, -o
multislot-sim --requests 200 --binary > "$T/a.rec"
t_run rec-cat "$T/a.rec"
t_ok "--binary through rec-cat equals the TSV output" cmp -s "$T/out" "$T/a.tsv"
t_ok "--binary is the binary stream" sh -c "head -c 4 '$T/a.rec' | od -An -tx1 | grep -q '89 52 45 43'"
t_run multislot-sim --requests 200 -o "$T/o.tsv"
t_status "-o exits 0" 0
t_ok "-o writes what stdout gets" cmp -s "$T/o.tsv" "$T/a.tsv"
t_ok "-o leaves no temporary" sh -c "! ls -a '$T' | grep -q '\\.tmp\\.'"
multislot-sim --requests 200 -o "$T/o.tsv.gz"
t_ok "-o FILE.gz writes gzip" sh -c "gzip -dc '$T/o.tsv.gz' | cmp -s - '$T/a.tsv'"

# --judge against the simulated outcomes: the mean exact value of the
# logged lists and the mean simulated count differ by less than 4 standard
# errors of the simulated mean (which bounds the error of the difference)
shown() { awk -F"$TAB" 'NR == 1 || $15 > 0' "$1"; }
sim_mean() { # file column -> "mean se" of the per-request sums
    awk -F"$TAB" -v c="$2" 'NR > 1 { s[$1] += $c } END { for (r in s) { n++; m += s[r]; q += s[r] ^ 2 } m /= n; printf "%.9f %.9f\n", m, sqrt((q / n - m * m) / (n - 1)) }' "$1"
}
for model in position cascade; do
    multislot-sim --requests 4000 --click-model "$model" -o "$T/log.$model.tsv"
    shown "$T/log.$model.tsv" > "$T/shown.$model.tsv"
    t_run multislot-sim --requests 4000 --click-model "$model" --judge "$T/shown.$model.tsv"
    t_status "--judge $model exits 0" 0
    judged=$OUT
    t_ok "--judge: header and a row per objective" \
        test "$(printf '%s\n' "$judged" | cut -f1 | tr '\n' ' ')" = "objective click save "
    t_ok "--judge: header objective value stderr" test "$(printf '%s\n' "$judged" | head -n 1)" = "$(printf 'objective\tvalue\tstderr')"
    for obj in click save; do
        col=16
        [ "$obj" = save ] && col=17
        set -- $(sim_mean "$T/log.$model.tsv" $col)
        v=$(printf '%s\n' "$judged" | awk -F"$TAB" -v o="$obj" '$1 == o { print $2 }')
        se=$(printf '%s\n' "$judged" | awk -F"$TAB" -v o="$obj" '$1 == o { print $3 }')
        t_ok "$model $obj: judged $v vs simulated $1 (se $2) within 4 se" \
            awk -v a="$v" -v b="$1" -v s="$2" -v js="$se" 'BEGIN { d = a - b; exit !(d < 4 * s && -d < 4 * s && s > 0 && js > 0 && js < s) }'
    done
done
t_run multislot-sim --requests 4000 --judge "$T/shown.position.tsv" --per-request "$T/per.tsv"
t_status "--per-request exits 0" 0
t_ok "--per-request: header and one row per request" \
    test "$(head -n 1 "$T/per.tsv")" = "$(printf 'request_id\tclick\tsave')" -a "$(wc -l < "$T/per.tsv")" -eq 4001
pm=$(awk -F"$TAB" 'NR > 1 { c += $2; s += $3; n++ } END { printf "%.9f %.9f", c / n, s / n }' "$T/per.tsv")
set -- $pm $(printf '%s\n' "$OUT" | awk -F"$TAB" 'NR > 1 { printf "%s ", $2 }')
t_ok "--per-request: its means ($1 $2) are the judged values ($3 $4)" \
    awk -v a="$1" -v b="$2" -v c="$3" -v d="$4" 'BEGIN { exit !((a - c) ^ 2 < 1e-14 && (b - d) ^ 2 < 1e-14) }'
awk -F"$TAB" 'NR == 1 { print; next } { print | "sort -t \"\t\" -k1,1n -k15,15nr" }' "$T/shown.position.tsv" > "$T/rev.tsv"
t_run multislot-sim --requests 4000 --judge "$T/rev.tsv"
t_ok "--judge: rows of a request in any order give the same value" test "$OUT" = "$(multislot-sim --requests 4000 --judge "$T/shown.position.tsv")"
multislot-sim --requests 4000 --judge "$T/shown.position.tsv" --binary -o "$T/j.rec"
t_ok "--judge --binary reads back" test "$(rec-cat "$T/j.rec")" = "$(multislot-sim --requests 4000 --judge "$T/shown.position.tsv")"
rec-cat --binary -o "$T/shown.rec" "$T/shown.position.tsv"
t_ok "--judge reads binary lists" test "$(multislot-sim --requests 4000 --judge "$T/shown.rec")" = "$(multislot-sim --requests 4000 --judge "$T/shown.position.tsv")"
t_ok "--judge reads lists on standard input" test "$(multislot-sim --requests 4000 --judge - < "$T/shown.position.tsv")" = "$(multislot-sim --requests 4000 --judge "$T/shown.position.tsv")"
# sorting by score_click beats the logging policy; uniform logging is worst
printf 'request_id\tslot\titem_id\n' > "$T/sorted.tsv"
awk -F"$TAB" 'NR > 1 { print $1 "\t" $5 "\t" $2 }' "$T/log.position.tsv" |
    sort -t "$TAB" -k1,1n -k2,2gr | awk -F"$TAB" '$1 != r { r = $1; k = 0 } ++k <= 5 { print $1 "\t" k "\t" $3 }' >> "$T/sorted.tsv"
sorted=$(multislot-sim --requests 4000 --judge "$T/sorted.tsv" | awk -F"$TAB" '$1 == "click" { print $2 }')
logged=$(multislot-sim --requests 4000 --judge "$T/shown.position.tsv" | awk -F"$TAB" '$1 == "click" { print $2 }')
t_ok "sorted by score_click ($sorted) beats the logging policy ($logged)" awk -v a="$sorted" -v b="$logged" 'BEGIN { exit !(a > b + 0.1) }'
t_run multislot-sim --requests 4000 --judge "$T/sorted.tsv" --diversity-effect 0
t_ok "the diversity effect costs the sorted lists clicks" \
    awk -v a="$(printf '%s\n' "$OUT" | awk -F"$TAB" '$1 == "click" { print $2 }')" -v b="$sorted" 'BEGIN { exit !(a > b + 0.03) }'

# --judge bad input: exit 1, "multislot-sim: FILE:LINE: column 'x': ...",
# nothing on stdout
multislot-sim --requests 3 > "$T/small.tsv"
in0=$(awk -F"$TAB" 'NR > 1 && $1 == 0' "$T/small.tsv" | cut -f2)
set -- $in0
i1=$1
i2=$2
other=$(awk -F"$TAB" 'NR > 1 && $1 == 0 { c[$2] = 1 } NR > 1 && $1 == 1 && !($2 in c) { print $2; exit }' "$T/small.tsv")
bad() {
    what=$1
    want=$2
    printf "$3" > "$T/l.tsv"
    t_run multislot-sim --requests 3 --judge "$T/l.tsv"
    t_status "$what exits 1" 1
    t_err_has "$what: message" "multislot-sim: $T/l.tsv:$want"
    t_ok "$what writes nothing to stdout" test -z "$OUT"
}
H='request_id\tslot\titem_id\n'
bad "duplicate item" "3: column 'item_id': item '$i1' appears twice in the list of request 0 (slots 1 and 2)" "${H}0\t1\t$i1\n0\t2\t$i1\n"
bad "slot gap" "4: column 'slot': request 0 has slot 4 but no slot 2 (slots must be 1..k without gaps)" "${H}0\t1\t$i1\n0\t3\t$i2\n0\t4\t$(echo $in0 | cut -d' ' -f3)\n"
bad "slot above K" "2: column 'slot': slot 6 is outside 1..5 (--slots 5)" "${H}0\t6\t$i1\n"
bad "slot 0" "2: column 'slot': slot 0 is outside 1..5 (--slots 5)" "${H}0\t0\t$i1\n"
bad "slot not an integer" "2: column 'slot': cannot parse '1.5' as an integer" "${H}0\t1.5\t$i1\n"
bad "slot twice" "3: column 'slot': slot 1 of request 0 given twice (first on line 2)" "${H}0\t1\t$i1\n0\t1\t$i2\n"
bad "item of another request" "2: column 'item_id': item '$other' is not a candidate of request 0" "${H}0\t1\t$other\n"
bad "no such item" "3: column 'item_id': item 'x7' is not a candidate of request 1" "${H}0\t1\t$i1\n1\t1\tx7\n"
bad "request id too large" "2: column 'request_id': request 3 is outside 0..2 (--requests 3)" "${H}3\t1\t$i1\n"
bad "negative request id" "2: column 'request_id': request -1 is outside 0..2 (--requests 3)" "${H}-1\t1\t$i1\n"
bad "request id not an integer" "2: column 'request_id': cannot parse 'r0' as an integer" "${H}r0\t1\t$i1\n"
bad "request rows not contiguous" "4: column 'request_id': key '0' appears again after other keys" "${H}0\t1\t$i1\n1\t1\t$other\n0\t2\t$i2\n"
bad "a request spelled twice" "3: column 'request_id': '00' names request 0, which has a list already" "${H}0\t1\t$i1\n00\t2\t$i2\n"
bad "missing slot value" "2: column 'slot': missing value" "${H}0\t\t$i1\n"
printf 'request_id\titem_id\n0\t%s\n' "$i1" > "$T/l.tsv"
t_run multislot-sim --requests 3 --judge "$T/l.tsv"
t_status "missing column exits 1" 1
t_err_has "missing column lists the columns" "multislot-sim: $T/l.tsv: no column 'slot' (columns: request_id, item_id)"
t_ok "missing column writes nothing to stdout" test -z "$OUT"
printf 'request_id\tslot\titem_id\n' > "$T/l.tsv"
t_run multislot-sim --requests 3 --judge "$T/l.tsv"
t_status "no lists exits 1" 1
t_err_has "no lists explained" "no lists"
t_run multislot-sim --judge "$T/does-not-exist.tsv"
t_status "missing lists file exits 1" 1
printf "${H}0\t1\t$i1\n0\t1\t$i1\n" > "$T/l.tsv"
t_run multislot-sim --requests 3 --judge "$T/l.tsv" -o "$T/jo.tsv" --per-request "$T/jp.tsv"
t_status "bad lists with -o and --per-request exit 1" 1
t_ok "bad lists leave no -o or --per-request file" test ! -e "$T/jo.tsv" -a ! -e "$T/jp.tsv"
printf "${H}0\t1\t$i1\n0\t2\t$i2\n" > "$T/l.tsv"
t_run multislot-sim --requests 3 --judge "$T/l.tsv"
t_ok "one request: stderr NA" sh -c "printf '%s\n' \"\$1\" | grep -q \"^click${TAB}[0-9.]*${TAB}NA\$\"" sh "$OUT"
usage "--per-request -" "--per-request needs a file name" --judge "$T/l.tsv" --per-request -

# progress, quiet
t_run multislot-sim --requests 300 --progress
t_err_has "--progress reports requests on stderr" "300 requests"
t_ok "--progress leaves stdout as data" test "$(printf '%s\n' "$OUT" | head -n 1 | cut -f1)" = request_id
t_run multislot-sim --requests 300 --progress --quiet
t_ok "--quiet silences stderr" test -z "$ERR"

# write errors leave nothing behind
t_run multislot-sim --requests 50 -o "$T/no/such/dir/out.tsv"
t_status "unwritable -o exits 1" 1
t_err_has "unwritable -o named" "cannot create"
t_ok "unwritable -o leaves nothing" test ! -e "$T/no"
mkdir "$T/ro"
chmod 555 "$T/ro"
if ! : 2>/dev/null > "$T/ro/probe"; then
    t_run multislot-sim --requests 50 -o "$T/ro/out.tsv"
    t_status "read-only folder exits 1" 1
    t_ok "read-only folder: nothing left" test -z "$(ls -A "$T/ro")"
fi
chmod 755 "$T/ro"
if [ -w /dev/full ]; then
    t_run sh -c "multislot-sim --requests 50 > /dev/full"
    t_status "stdout to /dev/full exits 1" 1
    t_err_has "write error reported" "write error"
    t_run sh -c "multislot-sim --requests 50 --binary > /dev/full"
    t_status "binary stdout to /dev/full exits 1" 1
    t_run sh -c "multislot-sim --requests 3 --judge '$T/l.tsv' > /dev/full"
    t_status "--judge to /dev/full exits 1" 1
fi
t_done
