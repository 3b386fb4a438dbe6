#!/bin/sh
# cql-ddqn-train: options, the model file, determinism for any thread
# count, the options that change the model, bad input with its messages,
# divergence, and no model left behind after a failure.
. "$(dirname "$0")/../lib.sh"
S=$ROOT/data-samples/transitions.tsv
FAST="--steps 200 --quiet"
W="-w r_visit=1,r_send=-0.05"

t_run cql-ddqn-train --help
t_status "--help exits 0" 0
t_out_has "--help usage" "Usage: cql-ddqn-train -o MODEL"
t_out_has "--help example" "Example:"
t_run cql-ddqn-train --version
t_status "--version exits 0" 0
t_out_is "--version text" "cql-ddqn-train (recstage) 0.1.0"
t_run cql-ddqn-train "$S"
t_status "no -o is a usage error" 2
t_err_has "no -o named" "-o MODEL is required"
t_err_has "usage hint" "Try 'cql-ddqn-train --help'"
t_run cql-ddqn-train -o "$T/m" --nope "$S"
t_status "unknown option exits 2" 2
t_run cql-ddqn-train -o "$T/m" --loss bce "$S"
t_status "bce is not a TD loss" 2
t_err_has "loss named" "unknown loss 'bce' (huber or mse)"
t_run cql-ddqn-train -o "$T/m" --gamma 1.5 "$S"
t_status "gamma above 1 exits 2" 2
t_run cql-ddqn-train -o "$T/m" --alpha -1 "$S"
t_status "negative alpha exits 2" 2
t_run cql-ddqn-train -o "$T/m" --tau 0 "$S"
t_status "tau 0 exits 2" 2
t_run cql-ddqn-train -o "$T/m" --tau 0.1 --target-every 5 "$S"
t_status "tau and target-every exclusive" 2
t_err_has "exclusive named" "--target-every and --tau are exclusive"
t_run cql-ddqn-train -o "$T/m" --weights r_visit "$S"
t_status "a weight without a value exits 2" 2
t_err_has "weights syntax named" "--weights: 'r_visit': want NAME=WEIGHT"
t_run cql-ddqn-train -o "$T/m" --weights r_visit=1,r_visit=2 "$S"
t_status "a reward weighted twice exits 2" 2
t_run cql-ddqn-train -o "$T/m" --hidden 64,x "$S"
t_status "bad hidden spec exits 2" 2
t_run cql-ddqn-train -o "$T/m" --actions 0 "$S"
t_status "zero actions exits 2" 2
t_run cql-ddqn-train -o "$T/m" "$S" "$S"
t_status "two inputs exit 2" 2
t_ok "no model after usage errors" test ! -e "$T/m"

t_run cql-ddqn-train -o "$T/q1.model" $W --steps 200 --threads 1 "$S"
t_status "trains" 0
t_ok "stdout is empty" test -z "$OUT"
t_err_has "progress line" "step 200/200: td loss "
t_err_has "cql gap and mean q" ", cql gap "
t_err_has "throughput line" "transitions/s"
t_run model-info "$T/q1.model"
t_status "model-info reads it" 0
t_out_has "model kind" "$(printf 'kind\trecstage.qnet')"
t_out_has "state columns" "$(printf 'meta.columns\t["s_0","s_1","s_2","s_3"]')"
t_out_has "weights recorded" "$(printf 'meta.weights\tr_visit=1,r_send=-0.05')"
t_out_has "rewards recorded" "$(printf 'meta.rewards\t["r_visit","r_send"]')"
t_out_has "actions recorded" "$(printf 'meta.actions\t2')"
t_out_has "gamma recorded" "$(printf 'meta.gamma\t0.90000000000000002')"
t_out_has "target update recorded" "$(printf 'meta.target_every\t100')"
t_out_has "standardisation tensors" "$(printf 'tensor\tnorm.std\t[4]\t4')"
t_out_has "network tensors" "$(printf 'tensor\tq.2.w\t[2, 64]\t128')"

# the same model bytes for any thread count, and from standard input
cql-ddqn-train -o "$T/q2.model" $W $FAST --threads 2 "$S"
cql-ddqn-train -o "$T/q3.model" $W $FAST --threads 3 "$S"
t_ok "byte-identical model for 1 and 2 threads" cmp -s "$T/q1.model" "$T/q2.model"
t_ok "byte-identical model for 1 and 3 threads" cmp -s "$T/q1.model" "$T/q3.model"
cql-ddqn-train -o "$T/stdin.model" $W $FAST < "$S"
t_ok "standard input gives the same model" cmp -s "$T/q1.model" "$T/stdin.model"
rec-cat --binary "$S" > "$T/s.rec"
cql-ddqn-train -o "$T/bin.model" $W $FAST "$T/s.rec"
t_ok "binary input gives the same model" cmp -s "$T/q1.model" "$T/bin.model"
# the options that matter change the model
for o in "--seed 2" "--alpha 0" "--gamma 0.5" "--loss mse" "--tau 0.05" "--batch 64" "--hidden 16" "-w r_visit=1"; do
    cql-ddqn-train -o "$T/o.model" $W $FAST $o "$S"
    t_ok "$o trains another model" sh -c "! cmp -s '$T/q1.model' '$T/o.model'"
done
t_run model-info "$T/o.model"
t_out_has "an unnamed reward weighs 0" "$(printf 'meta.weights\tr_visit=1,r_send=0')"
cql-ddqn-train -o "$T/p.model" $FAST --tau 0.05 "$S"
t_run model-info "$T/p.model"
t_out_has "Polyak recorded" "$(printf 'meta.target_update\tpolyak')"
t_out_has "default weights are 1" "$(printf 'meta.weights\tr_visit=1,r_send=1')"

# a dt column: gamma^dt; renamed columns
awk -F'\t' -v OFS='\t' '{ print $0, (NR == 1 ? "dt" : 1) }' "$S" > "$T/dt1.tsv"
cql-ddqn-train -o "$T/dt1.model" $W $FAST "$T/dt1.tsv"
t_run model-info "$T/dt1.model"
t_out_has "dt column recorded" "$(printf 'meta.dt_column\tdt')"
t_ok "dt = 1 everywhere is the same network as no dt column" sh -c "model-info '$T/dt1.model' | grep '^tensor' > '$T/a'; model-info '$T/q1.model' | grep '^tensor' > '$T/b'; cmp -s '$T/a' '$T/b'"
awk -F'\t' -v OFS='\t' '{ print $0, (NR == 1 ? "dt" : 2) }' "$S" > "$T/dt2.tsv"
cql-ddqn-train -o "$T/dt2.model" $W $FAST "$T/dt2.tsv"
t_ok "dt = 2 discounts more: another model" sh -c "! cmp -s '$T/dt1.model' '$T/dt2.model'"
sed '1s/episode/user/; 1s/\tt\t/\tstep\t/; 1s/action/act/; 1s/s_/x_/g' "$S" > "$T/renamed.tsv"
t_run cql-ddqn-train -o "$T/r.model" $W $FAST --episode-col user --time-col step --action-col act --states 'x_*' "$T/renamed.tsv"
t_status "renamed columns" 0
t_run cql-ddqn-train -o "$T/bad.model" $FAST --dt-col delta "$S"
t_status "a missing --dt-col exits 1" 1
t_err_has "missing dt column named" "transitions.tsv: no column 'delta' (columns: episode, t, s_0"

# bad input: exit 1, the place named, no model left behind
bad() { # name awk-program expected-message
    awk -F'\t' -v OFS='\t' "$2" "$S" > "$T/$1.tsv"
    t_run sh -c "cd '$T' && cql-ddqn-train -o bad.model $FAST $1.tsv"
    t_status "$1 exits 1" 1
    t_err_has "$1 named" "$3"
    t_ok "$1: no model left" test ! -e "$T/bad.model"
}
bad action 'NR == 5 { $7 = 2 } 1' "cql-ddqn-train: action.tsv:5: column 'action': action 2 is outside 0..1 (--actions 2)"
bad fraction 'NR == 5 { $7 = 0.5 } 1' "action.tsv:5: column 'action': cannot parse '0.5' as an integer"
bad prop0 'NR == 6 { $8 = 0 } 1' "prop0.tsv:6: column 'propensity': a propensity must be in (0, 1], not '0'"
bad prop2 'NR == 6 { $8 = 1.5 } 1' "prop2.tsv:6: column 'propensity': a propensity must be in (0, 1], not '1.5'"
bad nan 'NR == 7 { $9 = "nan" } 1' "nan.tsv:7: column 'r_visit': cannot parse 'nan' as a number: NaN and Inf are not accepted"
bad missing 'NR == 7 { $3 = "" } 1' "missing.tsv:7: column 's_0': missing value"
bad time 'NR == 4 { $2 = 0 } 1' "time.tsv:4: column 't': must increase within episode 'e0000': 0 follows 1"
bad order 'NR == 3 { $1 = "e0001" } 1' "order.tsv:4: column 'episode': key 'e0000' appears again after other keys; rows of one key must be contiguous"
t_run cql-ddqn-train -o "$T/bad.model" $FAST --actions 1 "$S"
t_status "action 1 with --actions 1 exits 1" 1
t_err_has "--actions named" "action 1 is outside 0..0 (--actions 1)"
t_run cql-ddqn-train -o "$T/bad.model" $FAST -w r_click=1 "$S"
t_status "a weight for no reward column exits 1" 1
t_err_has "unknown reward named" "transitions.tsv: --weights names 'r_click', which is not a reward column (reward columns: r_visit, r_send)"
t_run cql-ddqn-train -o "$T/bad.model" $FAST --states 'f_*' "$S"
t_status "missing state columns exit 1" 1
t_err_has "missing columns listed" "no column matches 'f_*' (columns: episode, t, s_0, s_1, s_2, s_3, action, propensity, r_visit, r_send)"
: > "$T/empty.tsv"
t_run cql-ddqn-train -o "$T/bad.model" $FAST "$T/empty.tsv"
t_status "empty input exits 1" 1
t_err_has "empty input named" "empty.tsv: empty input"
head -n 1 "$S" > "$T/header.tsv"
t_run cql-ddqn-train -o "$T/bad.model" $FAST "$T/header.tsv"
t_status "header only exits 1" 1
t_err_has "no transitions" "header.tsv: no transitions"
t_ok "no model after bad input" test ! -e "$T/bad.model"

# divergence: rewards near the float limit with a squared loss overflow
# the gradient on the first step; nothing is written
awk -F'\t' -v OFS='\t' 'NR > 1 { $9 = 1e38; $10 = 1e38 } 1' "$S" > "$T/huge.tsv"
t_run cql-ddqn-train -o "$T/bad.model" $FAST --loss mse "$T/huge.tsv"
t_status "divergence exits 1" 1
t_err_has "divergence named with its step" "training diverged: the gradient norm is inf at step 1; no model written"
t_ok "no model after divergence" test ! -e "$T/bad.model"
cp "$T/q1.model" "$T/keep.model"
t_run cql-ddqn-train -o "$T/keep.model" $FAST --loss mse "$T/huge.tsv"
t_ok "an existing model is left untouched" cmp -s "$T/q1.model" "$T/keep.model"

# an output folder that does not exist
t_run cql-ddqn-train -o "$T/nodir/q.model" $FAST "$S"
t_status "unwritable model path exits 1" 1
t_ok "no model in a missing folder" test ! -e "$T/nodir/q.model"
t_run cql-ddqn-train -o /dev/full/q.model $FAST "$S"
t_status "a model under /dev/full exits 1" 1
t_done
