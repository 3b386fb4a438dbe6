#!/bin/sh
# maml-score: the score column, the embedding join, the query split, the
# baselines, and errors.
. "$(dirname "$0")/../lib.sh"
S=$ROOT/data-samples/members.tsv
M=$ROOT/data-samples/maml.model

t_run maml-score --help
t_status "--help exits 0" 0
t_run maml-score "$S"
t_status "no model is a usage error" 2

meta-embed-export -m "$M" "$S" > "$T/emb.tsv"
t_run maml-score -m "$M" -e "$T/emb.tsv" "$S"
t_status "scoring runs" 0
t_ok "score appended to the input columns" test "$(printf '%s\n' "$OUT" | head -n 1)" = "$(head -n 1 "$S")	score"
t_ok "every row scored" test "$(printf '%s\n' "$OUT" | wc -l)" -eq "$(wc -l < "$S")"
t_ok "input columns unchanged" sh -c "cut -f1-28 '$T/out' | cmp -s - '$S'"
t_ok "scores are probabilities" awk -F'\t' 'NR > 1 && ($NF <= 0 || $NF >= 1) { bad = 1 } END { exit bad }' "$T/out"
printf '%s\n' "$OUT" > "$T/with.tsv"
maml-score -m "$M" "$S" > "$T/without.tsv"
t_ok "embeddings change the scores" sh -c "! cmp -s '$T/with.tsv' '$T/without.tsv'"
# a member whose embedding has n_rows 0 is scored like one without any
awk -F'\t' -v OFS='\t' '$1 == "u000001" { $2 = 0 } 1' "$T/emb.tsv" > "$T/emb0.tsv"
maml-score -m "$M" -e "$T/emb0.tsv" "$S" > "$T/zero.tsv"
t_ok "n_rows 0 means the unadapted embedding" test "$(grep '^u000001' "$T/zero.tsv")" = "$(grep '^u000001' "$T/without.tsv")"
t_ok "other members keep theirs" test "$(grep '^u000002' "$T/zero.tsv")" = "$(grep '^u000002' "$T/with.tsv")"
t_run maml-score -m "$M" -e "$T/emb.tsv" --batch 7 "$S"
t_ok "batch size does not change scores beyond float rounding" sh -c "paste '$T/out' '$T/with.tsv' | awk -F'\t' 'NR > 1 { d = \$29 - \$58; if (d > 1e-6 || d < -1e-6) bad = 1 } END { exit bad }'"

# the query split: the newest ceil(0.2 n) rows of each member, in ts order
t_run maml-score -m "$M" -e "$T/emb.tsv" -q 0.2 "$S"
t_ok "query rows of u000001 (8 rows -> 2)" test "$(printf '%s\n' "$OUT" | grep -c '^u000001')" -eq 2
t_ok "the newest rows" test "$(printf '%s\n' "$OUT" | grep '^u000001' | cut -f2 | tr '\n' ' ')" = "$(grep '^u000001' "$S" | cut -f2 | tail -n 2 | tr '\n' ' ')"

# baselines
maml-train -o "$T/g.model" --mode global --epochs 1 --quiet "$S" >/dev/null
t_run maml-score -m "$T/g.model" "$S"
t_status "a global model scores without embeddings" 0
t_run maml-score -m "$T/g.model" -e "$T/emb.tsv" "$S"
t_status "embeddings with a global model exit 1" 1
t_err_has "embeddings with a global model named" "embeddings go with a maml model"
maml-train -o "$T/w.model" --mode wide-deep --epochs 1 --quiet "$S" >/dev/null
t_run maml-score -m "$T/w.model" --binary "$S"
t_status "a wide-deep model scores, binary output" 0
t_ok "binary output is a record stream" sh -c "maml-score -m '$T/w.model' --binary '$S' | rec-cat --check >/dev/null"

# errors
cut -f1-6 "$T/emb.tsv" > "$T/short.tsv"
t_run maml-score -m "$M" -e "$T/short.tsv" "$S"
t_status "an embeddings file of another shape exits 1" 1
t_err_has "embedding columns named" "embedding columns e_*, but the model's embeddings have 16"
t_run maml-score -m "$M" "$T/with.tsv"
t_status "an input with a score column exits 1" 1
t_err_has "score column named" "already has a column 'score'"
{ head -n 2 "$T/emb.tsv"; sed -n 2p "$T/emb.tsv"; } > "$T/dup.tsv"
t_run maml-score -m "$M" -e "$T/dup.tsv" "$S"
t_status "a member twice in the embeddings exits 1" 1
t_err_has "duplicate member named" "dup.tsv:3: column 'member_id': member 'u000000' appears twice"
awk -F'\t' -v OFS='\t' 'NR == 9 { $20 = "x" } 1' "$S" > "$T/bad.tsv"
t_run maml-score -m "$M" -o "$T/out.tsv" "$T/bad.tsv"
t_status "a bad feature exits 1" 1
t_err_has "bad feature named" "bad.tsv:9: column 'x_8': cannot parse 'x' as a number"
t_ok "no output file after a failure" test ! -e "$T/out.tsv"
# ---- threads: pieces of the input scored on worker threads ----
# the same bytes for any thread count and any cut of the input into pieces
# (batches are aligned on the row's number in the stream), text or binary
maml-score -m "$M" -e "$T/emb.tsv" -j 1 "$S" > "$T/j1.tsv"
for j in 2 3; do
    t_ok "-j $j: the same bytes as -j 1" sh -c "maml-score -m '$M' -e '$T/emb.tsv' -j $j '$S' | cmp -s - '$T/j1.tsv'"
    t_ok "-j $j, pieces of 5000 bytes: the same bytes" sh -c "RECSTAGE_PIECE_BYTES=5000 maml-score -m '$M' -e '$T/emb.tsv' -j $j '$S' | cmp -s - '$T/j1.tsv'"
done
rec-cat --binary -o "$T/members.rec" "$S"
t_ok "binary input in pieces: the same bytes" sh -c "RECSTAGE_PIECE_BYTES=5000 maml-score -m '$M' -e '$T/emb.tsv' -j 2 '$T/members.rec' | cmp -s - '$T/j1.tsv'"
head -n 3001 "$S" > "$T/p1.tsv"
{ head -n 1 "$S"; tail -n +3002 "$S"; } > "$T/p2.tsv"
t_ok "two inputs in pieces: the bytes of their concatenation" sh -c "RECSTAGE_PIECE_BYTES=7000 maml-score -m '$M' -e '$T/emb.tsv' -j 2 '$T/p1.tsv' '$T/p2.tsv' | cmp -s - '$T/j1.tsv'"
t_ok "--batch 7 in pieces: the bytes of one piece" sh -c "maml-score -m '$M' --batch 7 -j 1 '$S' > '$T/b7.tsv' && RECSTAGE_PIECE_BYTES=3000 maml-score -m '$M' --batch 7 -j 3 '$S' | cmp -s - '$T/b7.tsv'"
awk -F'\t' -v OFS='\t' 'NR == 4321 { $20 = "1e" } NR == 5000 { $3 = "" } 1' "$S" > "$T/bad2.tsv"
t_run env RECSTAGE_PIECE_BYTES=2000 maml-score -m "$M" -j 3 -o "$T/out.tsv" "$T/bad2.tsv"
t_status "a bad feature in a late piece exits 1" 1
t_err_has "the first error in the input, by line" "bad2.tsv:4321: column 'x_8': cannot parse '1e' as a number"
t_ok "no output file after a failure on threads" test ! -e "$T/out.tsv"
t_run maml-score --progress -m "$M" "$S"
t_status "--progress exits 0" 0
t_err_has "--progress counts the rows written" "4.7k rows"
t_run maml-score --progress --quiet -m "$M" "$S"
t_ok "--quiet after --progress prints nothing" test -z "$ERR"
t_done
