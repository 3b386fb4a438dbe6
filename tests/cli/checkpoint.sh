#!/bin/sh
# checkpoint: SIGINT or SIGTERM during training writes an atomic checkpoint
# and exits 128 + signal; --resume finishes with a model byte-identical to
# an uninterrupted run (maml-train in maml and wide-deep modes,
# cql-ddqn-train); periodic checkpoints; a checkpoint of other options is
# refused; SIGKILL during a model write leaves the previous model whole.
. "$(dirname "$0")/../lib.sh"
member-sim --members 3000 --seed 2 -o "$T/m.tsv" 2>/dev/null
notif-sim --episodes 2000 --seed 3 -o "$T/n.tsv"

# run CMD... in the background; once it has said MARKER on stderr (it
# catches stop requests from before that line on), wait D seconds, send
# SIG; echo the status
interrupt() {
    sig=$1
    d=$2
    marker=$3
    shift 3
    : > "$T/int.err"
    "$@" 2>"$T/int.err" >/dev/null &
    pid=$!
    i=0
    while ! grep -q "$marker" "$T/int.err" && [ "$i" -lt 600 ]; do
        i=$((i + 1))
        sleep 0.05
    done
    sleep "$d"
    kill -"$sig" "$pid" 2>/dev/null || true
    st=0
    wait "$pid" || st=$?
    echo "$st"
}

# maml-train, both loops (meta-batches of members; minibatches of rows)
for mode in maml wide-deep; do
    MT="maml-train --quiet --mode $mode --epochs 4 --threads 2"
    MTV="maml-train --mode $mode --epochs 4 --threads 2"
    $MT -o "$T/full.model" "$T/m.tsv" > /dev/null
    $MT --checkpoint "$T/every.ckpt" --checkpoint-every 7 -o "$T/p.model" "$T/m.tsv" > /dev/null
    t_ok "$mode: periodic checkpoints do not change the model" cmp -s "$T/p.model" "$T/full.model"
    t_run model-info "$T/every.ckpt"
    t_out_has "$mode: its kind" "recstage.checkpoint"
    $MT --resume "$T/every.ckpt" -o "$T/r1.model" "$T/m.tsv" > /dev/null || true
    t_ok "$mode: resumed from the last periodic checkpoint: byte-identical" cmp -s "$T/r1.model" "$T/full.model"
    # a stop request: retried with a shorter delay if training ends first
    st=0
    for d in 0.05 0.02 0.01; do
        rm -f "$T/sig.ckpt" "$T/never.model"
        st=$(interrupt INT $d "training members" $MTV --checkpoint "$T/sig.ckpt" -o "$T/never.model" "$T/m.tsv")
        [ "$st" -eq 130 ] && break
    done
    t_ok "$mode: SIGINT exits 130 (got $st)" test "$st" -eq 130
    t_ok "$mode: SIGINT: said where" grep -q "checkpoint written to $T/sig.ckpt (continue with --resume" "$T/int.err"
    t_ok "$mode: SIGINT: no model written" test ! -e "$T/never.model"
    $MT --resume "$T/sig.ckpt" -o "$T/r2.model" "$T/m.tsv" > /dev/null || true
    t_ok "$mode: resumed after SIGINT: byte-identical" cmp -s "$T/r2.model" "$T/full.model"
    t_run maml-train --quiet --mode $mode --epochs 5 --threads 2 --resume "$T/sig.ckpt" -o "$T/x.model" "$T/m.tsv"
    t_status "$mode: resuming with other options exits 1" 1
    t_err_has "$mode: other options: said so" "the checkpoint was made with other options or data"
    t_ok "$mode: no model written" test ! -e "$T/x.model"
done
t_run maml-train --quiet --resume "$T/full.model" -o "$T/x.model" "$T/m.tsv"
t_status "a model is not a checkpoint: exits 1" 1
t_err_has "not a checkpoint: said so" "expected a 'recstage.checkpoint'"
t_run maml-train --checkpoint-every 5 -o "$T/x.model" "$T/m.tsv"
t_status "--checkpoint-every without --checkpoint exits 2" 2

# cql-ddqn-train
QT="cql-ddqn-train --quiet --steps 3000 --threads 1 -w r_visit=1,r_send=-0.05"
QTV="cql-ddqn-train --steps 3000 --threads 1 -w r_visit=1,r_send=-0.05"
$QT -o "$T/q.model" "$T/n.tsv"
$QT --checkpoint "$T/q.ckpt" --checkpoint-every 1000 -o "$T/qp.model" "$T/n.tsv"
t_ok "cql: periodic checkpoints do not change the model" cmp -s "$T/qp.model" "$T/q.model"
$QT --resume "$T/q.ckpt" -o "$T/qr.model" "$T/n.tsv" || true
t_ok "cql: resumed from step 2000: byte-identical" cmp -s "$T/qr.model" "$T/q.model"
st=0
for d in 0.05 0.02 0.01; do
    rm -f "$T/qs.ckpt" "$T/qnever.model"
    st=$(interrupt TERM $d "transitions in" $QTV --checkpoint "$T/qs.ckpt" -o "$T/qnever.model" "$T/n.tsv")
    [ "$st" -eq 143 ] && break
done
t_ok "cql: SIGTERM exits 143 (got $st)" test "$st" -eq 143
t_ok "cql: SIGTERM: no model written" test ! -e "$T/qnever.model"
$QT --resume "$T/qs.ckpt" -o "$T/qr2.model" "$T/n.tsv" || true
t_ok "cql: resumed after SIGTERM: byte-identical" cmp -s "$T/qr2.model" "$T/q.model"
t_run cql-ddqn-train --quiet --steps 3000 --threads 1 -w r_visit=1 --resume "$T/qs.ckpt" -o "$T/x.model" "$T/n.tsv"
t_status "cql: other weights exit 1" 1
t_err_has "cql: other options: said so" "the checkpoint was made with other options or data"
head -n 3000 "$T/n.tsv" > "$T/n2.tsv"
t_run cql-ddqn-train --quiet --steps 3000 --threads 1 -w r_visit=1,r_send=-0.05 --resume "$T/qs.ckpt" -o "$T/x.model" "$T/n2.tsv"
t_status "cql: other data exit 1" 1
t_run maml-train --quiet --resume "$T/qs.ckpt" -o "$T/x.model" "$T/m.tsv"
t_status "a checkpoint of another tool exits 1" 1
t_err_has "another tool: said so" "the checkpoint is one of 'cql-ddqn-train', not of maml-train"

# SIGKILL at random moments of a model write: the previous model stays
# whole.  A wide network trained one step makes the run mostly the write.
KT="cql-ddqn-train --quiet --steps 1 --threads 1 --hidden 1024,1024"
$KT --seed 1 -o "$T/k.model" "$T/n.tsv"
cp "$T/k.model" "$T/k.orig"
$KT --seed 2 -o "$T/k2.model" "$T/n.tsv"
intact=0
for i in $(seq 1 20); do
    $KT --seed 2 -o "$T/k.model" "$T/n.tsv" &
    pid=$!
    sleep "$(awk -v i=$i 'BEGIN { srand(i); printf "%.3f", rand() * 0.25 }')"
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    # either the previous model or the new one, whole
    if cmp -s "$T/k.model" "$T/k.orig" || cmp -s "$T/k.model" "$T/k2.model"; then
        intact=$((intact + 1))
    fi
    model-info "$T/k.model" > /dev/null 2>&1 || intact=-100
    cp "$T/k.orig" "$T/k.model"
done
t_ok "SIGKILL during 20 runs: the model file was always whole and loadable ($intact of 20)" test "$intact" -eq 20
t_done
