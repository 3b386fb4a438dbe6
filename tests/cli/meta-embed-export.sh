#!/bin/sh
# meta-embed-export: output layout, the window and split options, thread
# count independence, sharding with real GNU parallel, and errors.
. "$(dirname "$0")/../lib.sh"
S=$ROOT/data-samples/members.tsv
M=$ROOT/data-samples/maml.model

t_run meta-embed-export --help
t_status "--help exits 0" 0
t_run meta-embed-export "$S"
t_status "no model is a usage error" 2
t_run meta-embed-export -m "$M" --threads x "$S"
t_status "bad --threads exits 2" 2

t_run meta-embed-export -m "$M" --threads 1 "$S"
t_status "export runs" 0
t_ok "header" test "$(printf '%s\n' "$OUT" | head -n 1 | cut -f1-3)" = "$(printf 'member_id\tn_rows\te_0')"
t_ok "16 embedding columns" test "$(printf '%s\n' "$OUT" | head -n 1 | tr '\t' '\n' | grep -c '^e_')" -eq 16
t_ok "one row per member" test "$(($(printf '%s\n' "$OUT" | wc -l) - 1))" -eq "$(cut -f1 "$S" | tail -n +2 | uniq | wc -l)"
t_ok "n_rows = the member's rows" test "$(printf '%s\n' "$OUT" | awk -F'\t' '$1 == "u000001" { print $2 }')" -eq 8
printf '%s\n' "$OUT" > "$T/one.tsv"
meta-embed-export -m "$M" --threads 2 "$S" > "$T/two.tsv"
t_ok "byte-identical for 1 and 2 threads" cmp -s "$T/one.tsv" "$T/two.tsv"

# the support part only: n_rows = n - ceil(0.2 n)
t_run meta-embed-export -m "$M" -q 0.2 "$S"
t_ok "-q leaves out the query rows" test "$(printf '%s\n' "$OUT" | awk -F'\t' '$1 == "u000001" { print $2 }')" -eq 6
t_ok "a one-row member adapts on nothing" test "$(printf '%s\n' "$OUT" | awk -F'\t' '$1 == "u000000" { print $2 }')" -eq 0
last=$(awk -F'\t' '$1 == "u000001" { t = $2 } END { print t }' "$S")
t_run meta-embed-export -m "$M" --since "$last" "$S"
t_ok "--since keeps the recent window" test "$(printf '%s\n' "$OUT" | awk -F'\t' '$1 == "u000001" { print $2 }')" -eq 1
t_ok "adapting changes the embedding" sh -c "! cmp -s '$T/one.tsv' - " <<EOF2
$OUT
EOF2

# sharded with GNU parallel: the same rows as one process
parallel --pipe --group-by member_id --header : -j 2 --block 50k \
    meta-embed-export -m "$M" --threads 1 < "$S" 2>/dev/null > "$T/sharded.tsv"
tail -n +2 "$T/one.tsv" | sort > "$T/sorted.tsv"
t_ok "sharded output equals single-process output after sorting" \
    sh -c "grep -v '^member_id' '$T/sharded.tsv' | sort | cmp -s - '$T/sorted.tsv'"
t_ok "parallel really made several shards" test "$(grep -c '^member_id' "$T/sharded.tsv")" -gt 1

# errors
maml-train -o "$T/g.model" --mode global --epochs 1 --quiet "$S" >/dev/null
t_run meta-embed-export -m "$T/g.model" "$S"
t_status "a global model exits 1" 1
t_err_has "global model named" "has no meta block"
t_run meta-embed-export -m "$ROOT/data-samples/tiny.model" "$S"
t_status "a model of another kind exits 1" 1
t_err_has "another kind named" "expected a personalization model"
cut -f1-10 "$S" > "$T/cut.tsv"
t_run meta-embed-export -m "$M" "$T/cut.tsv"
t_status "missing feature columns exit 1" 1
t_err_has "missing column named" "no column 'm_7'"
{ head -n 3 "$S"; grep -m 1 '^u000002' "$S"; sed -n 4p "$S"; } > "$T/order.tsv"
t_run meta-embed-export -m "$M" -o "$T/out.tsv" "$T/order.tsv"
t_status "non-contiguous members exit 1" 1
t_ok "no output file after a failure" test ! -e "$T/out.tsv"
if [ -w /dev/full ]; then
    t_run sh -c "meta-embed-export -m '$M' '$S' > /dev/full"
    t_status "stdout to /dev/full exits 1" 1
fi
t_done
