#!/bin/sh
# maml-train: options, the evaluation table, the model file, determinism
# for any thread count, order 1 versus 2, the baselines, and bad input.
. "$(dirname "$0")/../lib.sh"
S=$ROOT/data-samples/members.tsv
FAST="--epochs 2 --quiet"

t_run maml-train --help
t_status "--help exits 0" 0
t_out_has "--help usage" "Usage: maml-train -o MODEL"
t_run maml-train --version
t_status "--version exits 0" 0
t_run maml-train "$S"
t_status "no -o is a usage error" 2
t_err_has "no -o named" "-o MODEL is required"
t_run maml-train -o "$T/m" --mode nope "$S"
t_status "bad mode exits 2" 2
t_err_has "bad mode named" "unknown mode 'nope'"
t_run maml-train -o "$T/m" --order 3 "$S"
t_status "bad order exits 2" 2
t_run maml-train -o "$T/m" --buckets 5,2 "$S"
t_status "bad buckets exit 2" 2

t_run maml-train -o "$T/m1.model" $FAST --threads 1 "$S"
t_status "maml trains" 0
t_ok "table header" test "$(printf '%s\n' "$OUT" | head -n 1)" = "$(printf 'mode\tbucket\tmembers\trows\tauc\tlogloss')"
t_ok "an all row" sh -c "printf '%s\n' \"\$1\" | grep -q '^maml	all	'" _ "$OUT"
t_ok "AUC in [0, 1]" sh -c "printf '%s\n' \"\$1\" | awk -F'\t' 'NR > 1 && \$5 != \"NA\" && (\$5 < 0 || \$5 > 1) { bad = 1 } END { exit bad }'" _ "$OUT"
t_run model-info "$T/m1.model"
t_out_has "model kind" "$(printf 'kind\trecstage.maml')"
t_out_has "model records the inner steps" "$(printf 'meta.inner_steps\t3')"
t_out_has "model records the columns" 'meta.columns	["member_id","ts","label","m_0"'

# the same model bytes for any thread count
maml-train -o "$T/m2.model" $FAST --threads 2 "$S" >/dev/null
t_ok "maml: byte-identical model for 1 and 2 threads" cmp -s "$T/m1.model" "$T/m2.model"
maml-train -o "$T/w1.model" --mode wide-deep $FAST --threads 1 "$S" >/dev/null
maml-train -o "$T/w2.model" --mode wide-deep $FAST --threads 2 "$S" >/dev/null
t_ok "wide-deep: byte-identical model for 1 and 2 threads" cmp -s "$T/w1.model" "$T/w2.model"
maml-train -o "$T/m3.model" $FAST --seed 2 "$S" >/dev/null
t_ok "another seed, another model" sh -c "! cmp -s '$T/m1.model' '$T/m3.model'"
maml-train -o "$T/o1.model" $FAST --order 1 "$S" >/dev/null
t_ok "first order trains another model than second order" sh -c "! cmp -s '$T/m1.model' '$T/o1.model'"

for mode in global wide-deep finetune; do
    t_run maml-train -o "$T/$mode.model" --mode "$mode" $FAST "$S"
    t_status "$mode trains" 0
    t_out_has "$mode table" "$(printf '%s\tall\t' "$mode")"
done
t_run model-info "$T/wide-deep.model"
t_out_has "wide-deep kind" "$(printf 'kind\trecstage.wide-deep')"

# train/serve consistency: the AUC printed = export + score + rec-metrics
awk -F'\t' 'NR == 1 || $1 ~ /[05]$/' "$S" > "$T/valid.tsv"
awk -F'\t' 'NR == 1 || $1 !~ /[05]$/' "$S" > "$T/train.tsv"
maml-train -o "$T/c.model" $FAST --valid "$T/valid.tsv" "$T/train.tsv" > "$T/table.tsv"
meta-embed-export -m "$T/c.model" -q 0.2 "$T/valid.tsv" > "$T/emb.tsv"
maml-score -m "$T/c.model" -e "$T/emb.tsv" -q 0.2 "$T/valid.tsv" > "$T/scored.tsv"
trained=$(awk -F'\t' '$2 == "all" { print $5 }' "$T/table.tsv")
served=$(rec-metrics "$T/scored.tsv" | awk -F'\t' '$1 == "all" { print $4 }')
t_ok "held-out AUC of training ($trained) = export + score + rec-metrics ($served)" \
    awk -v a="$trained" -v b="$served" 'BEGIN { d = a - b; exit !(d < 1e-4 && d > -1e-4 && a > 0) }'
rows_trained=$(awk -F'\t' '$2 == "all" { print $4 }' "$T/table.tsv")
t_ok "the same query rows ($rows_trained)" test "$(($(wc -l < "$T/scored.tsv") - 1))" -eq "$rows_trained"

# bad input: exit 1, the place named, no model left behind
awk -F'\t' -v OFS='\t' 'NR == 5 { $3 = 2 } 1' "$S" > "$T/label.tsv"
t_run maml-train -o "$T/bad.model" $FAST "$T/label.tsv"
t_status "label 2 exits 1" 1
t_err_has "label named" "label.tsv:5: column 'label': a label must be 0 or 1, not '2'"
t_ok "no model after a failure" test ! -e "$T/bad.model"
awk -F'\t' -v OFS='\t' 'NR == 7 { $6 = "nan" } 1' "$S" > "$T/nan.tsv"
t_run maml-train -o "$T/bad.model" $FAST "$T/nan.tsv"
t_status "NaN feature exits 1" 1
t_err_has "NaN named" "nan.tsv:7: column 'm_2': cannot parse 'nan' as a number: NaN and Inf are not accepted"
{ head -n 3 "$S"; grep -m 1 '^u000002' "$S"; sed -n 4p "$S"; } > "$T/order.tsv"
t_run maml-train -o "$T/bad.model" $FAST "$T/order.tsv"
t_status "non-contiguous members exit 1" 1
t_err_has "reappearing member named" "order.tsv:5: column 'member_id': key 'u000001' appears again"
t_run maml-train -o "$T/bad.model" $FAST --features 'f_*' "$S"
t_status "missing columns exit 1" 1
t_err_has "missing columns listed" "no column matches 'f_*' (columns: member_id, ts, label"
: > "$T/empty.tsv"
t_run maml-train -o "$T/bad.model" $FAST "$T/empty.tsv"
t_status "empty input exits 1" 1
t_err_has "empty input named" "empty.tsv: empty input"
head -n 1 "$S" > "$T/header.tsv"
t_run maml-train -o "$T/bad.model" $FAST "$T/header.tsv"
t_status "header only exits 1" 1
t_err_has "no members" "no training members"
t_run maml-train -o "$T/bad.model" $FAST --lr 10 --inner-lr 1000 --epochs 3 "$S"
t_ok "a diverging run fails or trains, never writes a NaN model" sh -c "[ $RC -eq 0 ] && model-info '$T/bad.model' >/dev/null || [ ! -e '$T/bad.model' ]"
t_done
