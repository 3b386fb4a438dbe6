#!/bin/sh
# sga-rerank: fitting (the AUC table, the model file, determinism across
# threads), re-ranking (lists well formed, model rows counted, threads,
# formats), the true value of SGA against the baselines (multislot-sim
# --judge), --exhaustive, the baselines, and bad input.
. "$(dirname "$0")/../lib.sh"
L=$T/log.tsv
multislot-sim --requests 8000 --diversity-effect 1.5 -o "$L"
M=$T/slot.model

t_run sga-rerank --help
t_status "--help exits 0" 0
t_out_has "--help usage" "Usage: sga-rerank --fit -o MODEL"
t_run sga-rerank --version
t_out_is "--version text" "sga-rerank (recstage) 0.1.0"
t_run sga-rerank "$L"
t_status "no mode is a usage error" 2
t_err_has "no mode: said so" "exactly one of -m MODEL, --baseline COL and --random"
t_run sga-rerank --fit "$L"
t_status "--fit without -o exits 2" 2
t_run sga-rerank --fit -o "$M" -m x "$L"
t_status "--fit with -m exits 2" 2
t_run sga-rerank --baseline score_click "$L"
t_status "--baseline without --slots exits 2" 2
t_run sga-rerank --random --exhaustive -k 3 "$L"
t_status "--exhaustive without a model exits 2" 2
t_run sga-rerank --fit -o "$M" --objectives click,click "$L"
t_status "an objective named twice exits 2" 2
t_run sga-rerank --fit -o "$M" --valid-frac 0.95 "$L"
t_status "--valid-frac above 0.9 exits 2" 2

# fitting
t_run sga-rerank --fit -o "$M" --epochs 4 --threads 1 "$L"
t_status "fit" 0
printf '%s\n' "$OUT" > "$T/auc.tsv"
t_ok "AUC table header" test "$(head -n 1 "$T/auc.tsv")" = "objective	slot	rows	positives	auc_model	auc_score	lift"
t_ok "AUC table: all, then slots 1..5, for click and save" test "$(cut -f1,2 "$T/auc.tsv" | tail -n +2 | tr '\t\n' ': ')" = "click:all click:1 click:2 click:3 click:4 click:5 save:all save:1 save:2 save:3 save:4 save:5 "
t_ok "AUCs in (0, 1); lift = model / score - 1" awk -F'\t' 'NR > 1 { if ($5 <= 0 || $5 >= 1 || $6 <= 0 || $6 >= 1) bad = 1; d = $7 - ($5 / $6 - 1); if (d > 0.001 || d < -0.001) bad = 1 } END { exit bad }' "$T/auc.tsv"
t_ok "a context effect of 1.5: the model beats score_click at slots 3 to 5" awk -F'\t' '$1 == "click" && $2 >= 3 && $2 <= 5 && $5 <= $6 { bad = 1 } END { exit bad }' "$T/auc.tsv"
t_err_has "epochs logged" "epoch 4/4: train loss"
t_err_has "summary" "8000 requests, 40000 shown slots"
t_run model-info "$M"
t_out_has "the model's kind" "recstage.slotnet"
t_out_has "slot offsets stored" "pos.bias"
sga-rerank --quiet --fit -o "$T/slot3.model" --epochs 4 --threads 3 "$L" > /dev/null
t_ok "fitting is byte-identical for any --threads" cmp -s "$M" "$T/slot3.model"

# re-ranking
t_run sga-rerank -m "$M" -w click=1,save=0.5 --threads 1 "$L"
t_status "re-rank" 0
printf '%s\n' "$OUT" > "$T/sga.tsv"
t_ok "lists header" test "$(head -n 1 "$T/sga.tsv")" = "request_id	slot	item_id	p_click	p_save"
t_ok "5 slots for each of the 8000 requests" test "$(wc -l < "$T/sga.tsv")" -eq 40001
t_ok "slots 1..5 in order" awk -F'\t' 'NR > 1 && $2 != (NR - 2) % 5 + 1 { bad = 1 } END { exit bad }' "$T/sga.tsv"
t_ok "no item twice in a request" sh -c "awk -F'\t' 'NR > 1 { print \$1 \"\t\" \$3 }' '$T/sga.tsv' | sort | uniq -d | grep -q . && exit 1 || exit 0"
t_ok "every item a candidate of its request" awk -F'\t' 'FNR == 1 { next } NR == FNR { c[$1 "\t" $2] = 1; next } !(($1 "\t" $3) in c) { bad = 1 } END { exit bad }' "$L" "$T/sga.tsv"
t_err_has "model rows: K N - K (K - 1) / 2 = 90 a request" "8000 requests, 5 slots, 720000 model rows"
t_run sga-rerank -m "$M" -w click=1,save=0.5 --threads 4 "$L"
t_ok "byte-identical for any --threads" test "$OUT" = "$(cat "$T/sga.tsv")"
t_run sga-rerank -m "$M" -w click=1,save=0.5 --binary "$L"
t_ok "--binary: the same lists" sh -c "sga-rerank --quiet -m '$M' -w click=1,save=0.5 --binary '$L' | rec-cat | cmp -s - '$T/sga.tsv'"
rec-cat --binary "$L" > "$T/log.bin"
t_run sga-rerank -m "$M" -w click=1,save=0.5 "$T/log.bin"
t_ok "binary input: the same lists" test "$OUT" = "$(cat "$T/sga.tsv")"
t_run sga-rerank -m "$M" -w click=1,save=0.5 -o "$T/out.tsv" "$L"
t_ok "-o writes the lists" cmp -s "$T/out.tsv" "$T/sga.tsv"
t_run sga-rerank -m "$M" -k 3 "$L"
t_ok "--slots 3" test "$(printf '%s\n' "$OUT" | wc -l)" -eq 24001
t_run sga-rerank -m "$M" -w nope=1 "$L"
t_status "--weights naming no objective exits 1" 1
t_err_has "--weights named" "--weights names 'nope', which is not an objective"

# baselines
t_run sga-rerank --baseline score_click -k 5 "$L"
t_status "baseline" 0
printf '%s\n' "$OUT" > "$T/base.tsv"
t_ok "baseline header" test "$(head -n 1 "$T/base.tsv")" = "request_id	slot	item_id	score_click"
t_ok "baseline: descending scores" awk -F'\t' 'NR > 2 && $1 == r && $4 > s { bad = 1 } { r = $1; s = $4 } END { exit bad }' "$T/base.tsv"
t_ok "baseline: the top 5 of each request" sh -c "awk -F'\t' 'NR > 1 { print \$1 \"\t\" \$5 }' '$L' | sort -t '	' -k1,1n -k2,2gr | awk -F'\t' '\$1 != r { r = \$1; n = 0 } n++ < 5 { print \$2 }' > '$T/top5'; cut -f4 '$T/base.tsv' | tail -n +2 | cmp -s - '$T/top5'"
printf 'request_id\titem_id\tcategory\tage\tscore_click\na\tx\t1\t1\t0.5\na\ty\t1\t1\t0.7\na\tz\t1\t1\t0.5\n' > "$T/tie.tsv"
t_run sga-rerank --baseline score_click -k 3 "$T/tie.tsv"
t_ok "baseline: ties keep the input order" test "$(printf '%s\n' "$OUT" | cut -f3 | tr '\n' ' ')" = "item_id y x z "
t_run sga-rerank --random -k 5 "$L"
printf '%s\n' "$OUT" > "$T/rand.tsv"
t_ok "random: same seed, same lists" sh -c "sga-rerank --quiet --random -k 5 '$L' | cmp -s - '$T/rand.tsv'"
t_ok "random: another seed, other lists" sh -c "! sga-rerank --quiet --random -k 5 --seed 2 '$L' | cmp -s - '$T/rand.tsv'"

# the true values: SGA beats sorting by score_click and a random order
for f in sga base rand; do
    multislot-sim --requests 8000 --diversity-effect 1.5 --judge "$T/$f.tsv" > "$T/$f.value"
done
clicks() { awk -F'\t' '$1 == "click" { print $2 }' "$T/$1.value"; }
t_ok "judge: SGA ($(clicks sga)) beats the score_click sort ($(clicks base))" awk -v a="$(clicks sga)" -v b="$(clicks base)" 'BEGIN { exit !(a > b + 0.02) }'
t_ok "judge: the score_click sort beats a random order ($(clicks rand))" awk -v a="$(clicks base)" -v b="$(clicks rand)" 'BEGIN { exit !(a > b) }'

# --exhaustive on small requests
multislot-sim --requests 200 --candidates 6 --slots 3 -o "$T/small.tsv"
sga-rerank --quiet --fit -o "$T/small.model" --epochs 2 "$T/small.tsv" > /dev/null
t_run sga-rerank -m "$T/small.model" --exhaustive "$T/small.tsv"
t_status "--exhaustive" 0
t_err_has "the greedy gap reported" "greedy gap: SGA's list is optimal under the model in"
t_ok "--exhaustive: 3 slots for 200 requests" test "$(printf '%s\n' "$OUT" | wc -l)" -eq 601
t_run sga-rerank -m "$T/small.model" --exhaustive --max-lists 100 "$T/small.tsv"
t_status "too many lists exits 1" 1
t_err_has "too many lists: said so" "make more than 100 lists for --exhaustive"

# bad input: the SPEC message, exit 1, nothing on stdout, no output file
bad() { # name, message, args...
    name=$1
    msg=$2
    shift 2
    t_run sga-rerank "$@" -o "$T/bad.out"
    t_status "$name exits 1" 1
    t_err_has "$name: message" "$msg"
    t_ok "$name: no output file" test ! -e "$T/bad.out"
}
awk -F'\t' -v OFS='\t' 'NR == 4 { $2 = "i_dup" } NR == 5 { $2 = "i_dup" } { print }' "$L" > "$T/dup.tsv"
bad "duplicate item in a request" "dup.tsv:5: column 'item_id': item 'i_dup' appears twice in request '0'" -m "$M" "$T/dup.tsv"
awk -F'\t' -v OFS='\t' 'NR > 1 && $1 == 0 && $(NF - 3) == 2 { $(NF - 3) = 7 } { print }' "$L" > "$T/gap.tsv"
bad "slot gap" "request '0' shows slot 3 but not slot 2" --fit "$T/gap.tsv"
awk -F'\t' -v OFS='\t' 'NR > 1 && $1 == 0 && $(NF - 3) == 2 { $(NF - 3) = 1 } { print }' "$L" > "$T/twice.tsv"
bad "slot shown twice" "slot 1 is shown twice in request '0'" --fit "$T/twice.tsv"
cut -f1-5,7- "$L" > "$T/noscore.tsv"
bad "missing score column" "no column 'score_save' (columns: request_id, item_id, category, age, score_click, f_0" -m "$M" "$T/noscore.tsv"
bad "fewer candidates than slots" "request '0' has 20 candidates, fewer than the 30 slots to fill" -m "$M" -k 30 "$L"
awk -F'\t' -v OFS='\t' 'NR > 1 && $1 == 3 && $(NF - 3) == 1 { $(NF - 2) = 2 } { print }' "$L" > "$T/label.tsv"
bad "a label that is not 0 or 1" "column 'click': a label must be 0 or 1, not '2'" --fit "$T/label.tsv"
{ head -n 1 "$L"; sed -n '2,3p' "$L"; sed -n '30,31p' "$L"; sed -n '4p' "$L"; } > "$T/split.tsv"
bad "request not contiguous" "key '0' appears again after other keys" -m "$M" -k 2 "$T/split.tsv"
awk -F'\t' -v OFS='\t' 'NR == 6 { $4 = -1 } { print }' "$L" > "$T/age.tsv"
bad "a negative age" "age.tsv:6: column 'age': an age must not be negative" -m "$M" "$T/age.tsv"
bad "a model that is not a slotnet" "expected a 'recstage.slotnet'" -m "$ROOT/data-samples/maml.model" "$L"
t_run sh -c "sga-rerank -m '$M' '$L' > /dev/full"
t_status "a full disk exits 1" 1
t_done
