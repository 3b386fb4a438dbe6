#!/bin/sh
# replay-eval: the output table, matching modes, formats and determinism,
# replay against the simulator's truth, --pareto, and bad input.
. "$(dirname "$0")/../lib.sh"
O="--logging uniform --requests 6000 --candidates 5 --slots 2"
L=$T/log.tsv
multislot-sim $O -o "$L"
sga-rerank --quiet --baseline score_click -k 2 "$L" > "$T/new.tsv"

t_run replay-eval --help
t_status "--help exits 0" 0
t_out_has "--help usage" "Usage: replay-eval [OPTION]... LOGGED NEW"
t_run replay-eval --version
t_out_is "--version text" "replay-eval (recstage) 0.1.0"
t_run replay-eval "$L"
t_status "one input exits 2" 2
t_run replay-eval --match nope "$L" "$T/new.tsv"
t_status "bad --match exits 2" 2
t_run replay-eval - "$T/new.tsv"
t_status "the log from stdin exits 2" 2
t_run replay-eval --maximize click "$L" "$T/new.tsv"
t_status "--maximize without --pareto exits 2" 2
t_run replay-eval --pareto "$L"
t_status "--pareto without columns exits 2" 2

t_run replay-eval -B 0 "$L" "$T/new.tsv"
t_status "replay" 0
printf '%s\n' "$OUT" > "$T/r.tsv"
head -n 3 "$T/r.tsv" > "$T/r.tsv.head"
t_ok "header" test "$(head -n 1 "$T/r.tsv")" = "objective	value	stderr	ci_low	ci_high	matched	requests"
t_ok "rows" test "$(cut -f1 "$T/r.tsv" | tail -n +2 | tr '\n' ' ')" = "click save distinct_categories intra_list_similarity mean_age "
t_ok "6000 requests" awk -F'\t' 'NR > 1 && $7 != 6000 { bad = 1 } END { exit bad }' "$T/r.tsv"
t_ok "about a fifth match slot 1" awk -F'\t' '$1 == "click" { exit !($6 > 1000 && $6 < 1400) }' "$T/r.tsv"
t_err_has "summary" "6000 requests replayed"
# the truth of the same lists
multislot-sim $O --judge "$T/new.tsv" > "$T/truth.tsv"
for obj in click save; do
    v=$(awk -F'\t' -v o=$obj '$1 == o { print $2 }' "$T/truth.tsv")
    t_ok "prefix replay: the true $obj ($v) inside the interval" awk -F'\t' -v o=$obj -v v="$v" '$1 == o { exit !($4 <= v && v <= $5) }' "$T/r.tsv"
done
# the same by hand: IPS prefix = sum over matched requests of 5 click_1 + 20 click_2, over 6000
t_ok "prefix IPS by hand (awk)" sh -c "awk -F'\t' 'FNR == 1 { next } NR == FNR { n[\$1 \"\t\" \$2] = \$3; next } \$(NF - 3) == 1 { a[\$1] = \$2; c1[\$1] = \$(NF - 2) } \$(NF - 3) == 2 { b[\$1] = \$2; c2[\$1] = \$(NF - 2) } END { for (r in a) if (a[r] == n[r \"\t1\"]) { s += 5 * c1[r]; if (b[r] == n[r \"\t2\"]) s += 20 * c2[r] } printf \"%.9f\n\", s / 6000 }' '$T/new.tsv' '$L' > '$T/hand'; awk -F'\t' '\$1 == \"click\" { printf \"%.9f\n\", \$2 }' '$T/r.tsv' | cmp -s - '$T/hand'"
t_run replay-eval -B 0 --self-normalize "$L" "$T/new.tsv"
t_status "self-normalised" 0
t_ok "self-normalised: no stderr without a bootstrap" sh -c "printf '%s\n' \"\$1\" | awk -F'\t' '\$1 == \"click\" { exit \$3 != \"\" }'" _ "$OUT"
t_run replay-eval -B 0 --match slot "$L" "$T/new.tsv"
t_status "slot matching" 0
t_run replay-eval -B 0 --match list "$L" "$T/new.tsv"
t_status "list matching" 0
t_ok "list matching: matches only whole lists (fewer)" sh -c "printf '%s\n' \"\$1\" | awk -F'\t' '\$1 == \"click\" { exit !(\$6 < 400) }'" _ "$OUT"
t_run replay-eval "$L" "$T/new.tsv"
printf '%s\n' "$OUT" > "$T/b1.tsv"
t_ok "bootstrap: same seed, same output" sh -c "replay-eval --quiet '$L' '$T/new.tsv' | cmp -s - '$T/b1.tsv'"
t_ok "bootstrap: the point estimates do not change" test "$(cut -f1,2 "$T/b1.tsv")" = "$(cut -f1,2 "$T/r.tsv")"
rec-cat --binary "$L" > "$T/log.rec"
t_run replay-eval -B 0 "$T/log.rec" - < "$T/new.tsv"
t_ok "binary log, new lists on stdin: the same table" test "$OUT" = "$(cat "$T/r.tsv")"
t_run replay-eval -B 0 -o "$T/out.tsv" "$L" "$T/new.tsv"
t_ok "-o writes the table" cmp -s "$T/out.tsv" "$T/r.tsv"
# a subset of the requests: the join skips the others
awk -F'\t' 'NR == 1 || $1 % 3 == 0' "$T/new.tsv" > "$T/sub.tsv"
t_run replay-eval -B 0 "$L" "$T/sub.tsv"
t_ok "a subsequence of the requests: 2000 replayed" sh -c "printf '%s\n' \"\$1\" | awk -F'\t' '\$1 == \"click\" { exit \$7 != 2000 }'" _ "$OUT"
# slot matching needs uniform logging
multislot-sim --requests 500 --candidates 5 --slots 2 -o "$T/pl.tsv"
sga-rerank --quiet --baseline score_click -k 2 "$T/pl.tsv" > "$T/plnew.tsv"
t_run replay-eval --match slot "$T/pl.tsv" "$T/plnew.tsv"
t_status "slot matching on a Plackett-Luce log exits 1" 1
t_err_has "slot matching: why" "slot matching needs uniform logging"
t_run replay-eval -B 0 "$T/pl.tsv" "$T/plnew.tsv"
t_status "prefix matching on a Plackett-Luce log" 0
awk -F'\t' -v OFS='\t' 'NR == 1 { print $0, "pi"; next } { print $0, 1 }' "$T/new.tsv" > "$T/pinew.tsv"
t_run replay-eval -B 0 --match slot "$L" "$T/pinew.tsv"
t_status "slot matching with a pi column exits 1" 1
t_err_has "slot matching with pi: why" "slot matching needs deterministic new lists"
t_run replay-eval -B 0 "$L" "$T/pinew.tsv"
t_ok "pi = 1 on the listed items: the deterministic estimate" sh -c "printf '%s\n' \"\$1\" | head -n 3 | cmp -s - '$T/r.tsv.head'" _ "$OUT"

# --pareto: ties and duplicates
printf 'config\tclick\tsave\tage\nA\t1\t1\t5\nB\t2\t1\t5\nC\t2\t1\t5\nD\t1\t2\t9\nE\t0.5\t0.5\t1\nF\t2\t0.5\t5\n' > "$T/t.tsv"
t_run replay-eval --pareto --maximize click,save --minimize age "$T/t.tsv"
t_status "--pareto" 0
t_ok "--pareto: A dominated by B; B and C tie; D, E on the frontier; F dominated" test "$(printf '%s\n' "$OUT" | cut -f1,5 | tr '\t\n' ': ')" = "config:pareto A:0 B:1 C:1 D:1 E:1 F:0 "
t_run replay-eval --pareto --maximize 'cl*' "$T/t.tsv"
t_ok "--pareto with a glob: click only" test "$(printf '%s\n' "$OUT" | cut -f5 | tr '\n' ' ')" = "pareto 0 1 1 0 0 1 "
t_run replay-eval --pareto --maximize nope "$T/t.tsv"
t_status "--pareto: a missing column exits 1" 1
t_err_has "--pareto: the columns listed" "no column 'nope' (columns: config, click, save, age)"

# bad input: exit 1, the place named, no output file
bad() { # name, message, new-lists text
    printf "$3" > "$T/bad.tsv"
    t_run replay-eval -o "$T/bad.out" "$L" "$T/bad.tsv"
    t_status "$1 exits 1" 1
    t_err_has "$1: message" "$2"
    t_ok "$1: no output file" test ! -e "$T/bad.out"
}
item0=$(awk -F'\t' 'NR == 2 { print $2 }' "$L")
item1=$(awk -F'\t' 'NR == 3 { print $2 }' "$L")
item_r1=$(awk -F'\t' '$1 == 1 { print $2; exit }' "$L")
bad "item not a candidate" "bad.tsv:2: column 'item_id': item 'i_nope' is not a candidate of request '0'" 'request_id\tslot\titem_id\n0\t1\ti_nope\n'
bad "duplicate slot" "bad.tsv:3: column 'slot': request '0' gives slot 1 twice" "request_id\tslot\titem_id\n0\t1\t$item0\n0\t1\t$item1\n"
bad "slot gap" "request '0' gives slot 2 but not slot 1" "request_id\tslot\titem_id\n0\t2\t$item0\n"
bad "requests out of order" "bad.tsv:3: column 'request_id': request '0' is not in" "request_id\tslot\titem_id\n1\t1\t$item_r1\n0\t1\t$item0\n"
bad "a list longer than the logged one" "fills slot 3, but the logged list has 2 slots" "request_id\tslot\titem_id\n0\t1\t$item0\n0\t2\t$item1\n0\t3\tx\n"
bad "pi above 1 at a slot" "sum to 1.5, above 1" "request_id\tslot\titem_id\tpi\n0\t1\t$item0\t0.7\n0\t1\t$item1\t0.8\n"
awk -F'\t' -v OFS='\t' 'NR > 1 && $1 == 2 && $(NF - 3) == 1 { $NF = 0 } { print }' "$L" > "$T/prop0.tsv"
t_run replay-eval "$T/prop0.tsv" "$T/new.tsv"
t_status "propensity 0 exits 1" 1
t_err_has "propensity 0: the place" "column 'propensity': a propensity must be in (0, 1], not '0'"
t_run sh -c "replay-eval '$L' '$T/new.tsv' > /dev/full"
t_status "a full disk exits 1" 1
t_done
