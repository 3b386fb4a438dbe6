#!/bin/sh
# shellcheck disable=SC2016 # awk programs in single quotes
# sharded: scripts/sharded.sh runs the four grouped stages (meta-embed-export,
# maml-score, policy-act, sga-rerank) over several shards with GNU parallel,
# and the sharded output equals the single-process output after sorting
# (header kept first), in input order too; --sshlogin : (this machine) and a
# fake remote host (a stand-in ssh that runs the command here) give the same
# bytes as the local shards; a failing shard leaves no output; binary, gzip
# and stdin inputs, gzip and binary outputs; an input that is not grouped
# (an error, or --sort); an input without rows; the usage errors.
. "$(dirname "$0")/../lib.sh"
P=$ROOT/scripts/sharded.sh
# the tools under test: bin/, or the sanitizer build under make check SANITIZE=1
RECSTAGE_BIN=$BIN
export RECSTAGE_BIN
# the script's work folders, to check that none is left behind
mkdir "$T/tmp"
TMPDIR=$T/tmp
export TMPDIR
TAB=$(printf '\t')

# ---- usage ----

t_run "$P" --help
t_status "--help exits 0" 0
t_out_has "--help prints usage to stdout" "Usage: sharded.sh [OPTION]... [--] TOOL [TOOL-ARG]..."
t_out_has "--help documents --sshlogin" "--sshlogin LOGINS"
t_ok "--help prints nothing on stderr" test -z "$ERR"
t_run "$P" --bogus -o "$T/bad.tsv" -- policy-act -m x
t_status "a bad option exits 2" 2
t_err_has "the bad option named" "unrecognized option '--bogus'"
t_err_has "the hint" "--help' for more information"
t_run "$P" --jobs 0 -o "$T/bad.tsv" -- policy-act -m x
t_status "--jobs 0 exits 2" 2
t_err_has "the bad value named" "invalid value '0' for --jobs"
t_run "$P" --jobs=x -o "$T/bad.tsv" -- policy-act -m x
t_status "--jobs=x exits 2" 2
t_run "$P" --block 10Q -o "$T/bad.tsv" -- policy-act -m x
t_status "a bad --block exits 2" 2
t_run "$P" -o "$T/bad.tsv"
t_status "no TOOL exits 2" 2
t_err_has "no TOOL named" "no TOOL to run"
t_run "$P" -o "$T/bad.tsv" -- rec-cat
t_status "a tool without a default group column needs --group-col" 2
t_err_has "--group-col asked for" "give --group-col"
t_run "$P" -- policy-act -m x -o "$T/bad.tsv"
t_status "-o in TOOL-ARGS exits 2" 2
t_run "$P" -- policy-act -m x --binary
t_status "--binary in TOOL-ARGS exits 2" 2
t_run "$P" -- sga-rerank --fit -o "$T/bad.tsv"
t_status "sga-rerank --fit exits 2" 2
t_run "$P" --sshlogin : --sshloginfile /dev/null -- policy-act -m x
t_status "--sshlogin and --sshloginfile together exit 2" 2
t_run "$P" --block
t_status "a missing option value exits 2" 2
t_ok "a usage error writes no output file" test ! -e "$T/bad.tsv"

# ---- data and models ----

D=$T/d
mkdir "$D"
member-sim --members 300 --seed 3 --quiet -o "$D/members.tsv"
maml-train --epochs 2 --threads 1 --seed 3 --quiet -o "$D/maml.model" "$D/members.tsv" >/dev/null
notif-sim --episodes 300 --seed 3 --quiet -o "$D/notif.tsv"
cql-ddqn-train --steps 200 --threads 1 --seed 3 --quiet -o "$D/q.model" "$D/notif.tsv"
multislot-sim --requests 500 --seed 3 --quiet -o "$D/ms.tsv"
sga-rerank --fit --epochs 1 --threads 1 --seed 3 --quiet -o "$D/slot.model" "$D/ms.tsv" >/dev/null

# ---- helpers ----

# sorted FILE: the header line, then the other lines sorted
sorted() { head -n 1 "$1" && tail -n +2 "$1" | sort; }

# same_sorted A B: the same lines after sorting, byte for byte
same_sorted() {
    sorted "$1" >"$T/sa" && sorted "$2" >"$T/sb" && cmp -s "$T/sa" "$T/sb"
}

# close_sorted A B: the same lines after sorting, up to the last bits of
# the numbers: fields that are not numbers are equal, numbers within
# 1e-6 + 1e-5 |x|.  Writes the number of fields that differ to $T/ndiff.
close_sorted() {
    sorted "$1" >"$T/sa" && sorted "$2" >"$T/sb" && awk -F'\t' -v ndiff="$T/ndiff" '
        function isnum(x) { return x ~ /^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$/ }
        NR == FNR { a[FNR] = $0; na = FNR; next }
        {
            if (!(FNR in a)) { bad = 1; exit }
            n = split(a[FNR], f, "\t")
            if (n != NF) { bad = 1; exit }
            for (i = 1; i <= NF; i++) {
                if (f[i] "" == $i "") continue # as strings: 1.0 is not 1
                d = f[i] - $i; if (d < 0) d = -d
                m = f[i] < 0 ? -f[i] : f[i]
                if (!isnum(f[i]) || !isnum($i) || d > 1e-6 + 1e-5 * m) {
                    printf "line %d field %d: %s vs %s\n", FNR, i, f[i], $i > "/dev/stderr"; bad = 1; exit
                }
                diff++
            }
        }
        END { print diff + 0 > ndiff; exit bad || FNR != na }' "$T/sa" "$T/sb"
}

# shards JOBLOG: the jobs GNU parallel ran
shards() { awk -F'\t' 'NR > 1 && $1 ~ /^[0-9]+$/ { n++ } END { print n + 0 }' "$1"; }

# header_once A B: A's first line is B's, and appears once in A
header_once() {
    test "$(head -n 1 "$1")" = "$(head -n 1 "$2")" && test "$(grep -cxF -- "$(head -n 1 "$1")" "$1")" -eq 1
}

# in_order A B COL: column COL of A and of B, in order, are the same
in_order() {
    c=$(head -n 1 "$1" | tr '\t' '\n' | grep -nxF -- "$3" | cut -d: -f1)
    [ -n "$c" ] && cut -f"$c" "$1" >"$T/ka" && cut -f"$c" "$2" >"$T/kb" && cmp -s "$T/ka" "$T/kb"
}

# stage NAME KEY BLOCK INPUT TOOL ARGS...: TOOL ARGS on INPUT in one process
# (D/NAME.single.tsv) and through the script with 3 jobs and shards of about
# BLOCK bytes (D/NAME.sharded.tsv), and the checks common to the stages:
# several shards, one header line, every row, the rows in input order.
stage() {
    name=$1 key=$2 block=$3 input=$4
    shift 4
    "$@" --quiet -o "$D/$name.single.tsv" "$input"
    t_run "$P" --jobs 3 --block "$block" --joblog "$D/$name.joblog" -i "$input" -o "$D/$name.sharded.tsv" -- "$@"
    t_status "$name: the sharded run exits 0" 0
    n=$(shards "$D/$name.joblog")
    t_ok "$name: several shards (got $n)" test "$n" -ge 3
    t_err_has "$name: the shards counted on stderr" "ran $name on $n shard(s)"
    t_ok "$name: nothing on stdout with -o" test -z "$OUT"
    t_ok "$name: one header line, the single process's" header_once "$D/$name.sharded.tsv" "$D/$name.single.tsv"
    t_ok "$name: every row" test "$(wc -l <"$D/$name.sharded.tsv")" -eq "$(wc -l <"$D/$name.single.tsv")"
    t_ok "$name: the rows in input order ($key)" in_order "$D/$name.single.tsv" "$D/$name.sharded.tsv" "$key"
}

# ---- the four stages: sharded = single process, after sorting ----

# meta-embed-export adapts each member alone (its output is the same bytes
# for any --threads): the sharded rows are the same bytes.
stage meta-embed-export member_id 100k "$D/members.tsv" meta-embed-export -m "$D/maml.model" -q 0.2
t_ok "meta-embed-export: sharded = single process after sorting, byte for byte" \
    same_sorted "$D/meta-embed-export.single.tsv" "$D/meta-embed-export.sharded.tsv"
E=$D/meta-embed-export.single.tsv

# maml-score, policy-act and sga-rerank run their networks on batches
# (maml-score and policy-act: --batch 256 rows; sga-rerank: the requests
# of a 1/16 slice of a read batch of up to 1024 requests, in lockstep, one
# product per slot), and a shard boundary changes which rows share a matrix
# product.  OpenBLAS picks its kernels by the matrix size, so a float can
# differ in its last bits (policy-act(1), --batch); on a near tie that
# could even change an argmax.  So these compare the numbers with a tight
# tolerance and every other field exactly, and print how many fields
# differ.  With these data maml-score comes out byte for byte the same,
# while policy-act and sga-rerank differ in the last digit or two of
# thousands of Q-values and p_*; no action, item or slot differs.
stage maml-score member_id 100k "$D/members.tsv" maml-score -m "$D/maml.model" -e "$E" -q 0.2
t_ok "maml-score: sharded = single process after sorting (numbers within 1e-5)" \
    close_sorted "$D/maml-score.single.tsv" "$D/maml-score.sharded.tsv"
echo "sharded: maml-score: $(cat "$T/ndiff") fields differ in their last bits" >&2

stage policy-act episode 50k "$D/notif.tsv" policy-act -m "$D/q.model" -a greedy
t_ok "policy-act: sharded = single process after sorting (numbers within 1e-5)" \
    close_sorted "$D/policy-act.single.tsv" "$D/policy-act.sharded.tsv"
echo "sharded: policy-act: $(cat "$T/ndiff") fields differ in their last bits" >&2

stage sga-rerank request_id 50k "$D/ms.tsv" sga-rerank -m "$D/slot.model"
t_ok "sga-rerank: sharded = single process after sorting (numbers within 1e-5)" \
    close_sorted "$D/sga-rerank.single.tsv" "$D/sga-rerank.sharded.tsv"
echo "sharded: sga-rerank: $(cat "$T/ndiff") fields differ in their last bits" >&2

# sga-rerank's --request-col names the default group column
sed '1s/^request_id/req/' "$D/ms.tsv" >"$D/ms.req.tsv"
sga-rerank -m "$D/slot.model" --request-col req --quiet -o "$D/req.single.tsv" "$D/ms.req.tsv"
t_run "$P" --jobs 3 --block 50k --input "$D/ms.req.tsv" -o "$D/req.sharded.tsv" sga-rerank -m "$D/slot.model" --request-col req
t_status "sga-rerank --request-col (and TOOL without --) exits 0" 0
t_err_has "grouped by the --request-col" "grouped by req"
t_ok "sga-rerank --request-col: sharded = single process after sorting" close_sorted "$D/req.single.tsv" "$D/req.sharded.tsv"

# ---- the same shards elsewhere: --sshlogin :, a remote host ----

# The same input and --block cut the same shards, so the outputs are the
# same bytes as the local run's, whatever their floats.
t_run "$P" --verbose --jobs 3 --block 50k --sshlogin : -i "$D/notif.tsv" -o "$D/pa.login.tsv" -- policy-act -m "$D/q.model" -a greedy
t_status "--sshlogin : exits 0" 0
t_ok "--sshlogin : gives the local run's bytes" cmp -s "$D/pa.login.tsv" "$D/policy-act.sharded.tsv"
t_err_has "--verbose prints the parallel command" "--sshlogin : --group-by 1 --block 50k"
t_err_has "--verbose prints the shards" "sharded: shard 1 on this machine:"

# A remote host: GNU parallel runs ssh (PARALLEL_SSH) for the jobs and for
# the rsync of --basefile; this stand-in runs the command here, without the
# script's SHARDED_HEADER, which must come with --env.  The model and the
# embeddings (absolute paths: copied to the same path) are transferred.
# It keeps the environment otherwise: a host whose OpenBLAS picks other
# kernels (another CPU, or no OPENBLAS_CORETYPE) could differ in the last
# bits of the floats.
{
    echo '#!/bin/sh'
    echo "echo \"\$*\" >>'$T/fakessh.log'"
    echo 'while [ $# -gt 0 ]; do'
    echo '    case $1 in'
    echo '    -o | -p | -l | -i | -F | -S) shift 2 ;;'
    echo '    -*) shift ;;'
    echo '    *) break ;;'
    echo '    esac'
    echo 'done'
    echo 'shift # the host'
    echo '[ "${1:-}" != -- ] || shift'
    # sshd sets SHELL to the login shell, and GNU parallel's worker on the
    # remote host runs the job with $SHELL: without it (cron, CI) the
    # worker cannot start the job
    echo 'SHELL=$(getent passwd "$(id -u)" | cut -d: -f7)'
    echo 'export SHELL=${SHELL:-/bin/sh}'
    echo 'exec env -u SHARDED_HEADER sh -c "$*"'
} >"$T/fakessh"
chmod +x "$T/fakessh"
PARALLEL_SSH=$T/fakessh
export PARALLEL_SSH
t_run "$P" --jobs 2 --block 100k --sshlogin remotehost,1/: --joblog "$D/remote.joblog" -i "$D/members.tsv" \
    -o "$D/score.remote.tsv" -- maml-score -m "$D/maml.model" -e "$E" -q 0.2
unset PARALLEL_SSH
t_status "a remote --sshlogin exits 0" 0
t_ok "the remote host ran shards" awk -F'\t' '$2 == "remotehost" { n++ } END { exit !(n > 0) }' "$D/remote.joblog"
t_ok "and this machine too" awk -F'\t' '$2 == ":" { n++ } END { exit !(n > 0) }' "$D/remote.joblog"
t_ok "the model files were copied over (--basefile, rsync)" grep -q 'rsync --server' "$T/fakessh.log"
t_ok "the remote run gives the local run's bytes" cmp -s "$D/score.remote.tsv" "$D/maml-score.sharded.tsv"

# a host where the job cannot start (no $SHELL): the shard fails, with a hint,
# and no output is left
sed 's/^export SHELL=.*/unset SHELL/' "$T/fakessh" >"$T/fakessh-noshell"
chmod +x "$T/fakessh-noshell"
PARALLEL_SSH=$T/fakessh-noshell
export PARALLEL_SSH
t_run "$P" --jobs 1 --block 100k --sshlogin remotehost -i "$D/members.tsv" \
    -o "$D/score.noshell.tsv" -- maml-score -m "$D/maml.model" -e "$E" -q 0.2
unset PARALLEL_SSH
t_status "a job that cannot start on the remote host exits 1" 1
t_err_has "and the message says where it did not start" "did it start on remotehost?"
t_ok "and no output is left" test ! -e "$D/score.noshell.tsv"

# ---- inputs and outputs ----

rec-cat --binary -o "$D/notif.rec" "$D/notif.tsv"
t_run "$P" --jobs 3 --block 50k -i "$D/notif.rec" -o "$D/pa.bin-in.tsv" -- policy-act -m "$D/q.model" -a greedy
t_status "a binary input exits 0" 0
t_ok "a binary input gives the TSV input's output" cmp -s "$D/pa.bin-in.tsv" "$D/policy-act.sharded.tsv"
gzip -c "$D/notif.tsv" >"$D/notif.tsv.gz"
t_run "$P" --jobs 3 --block 50k -i "$D/notif.tsv.gz" -o "$D/pa.out.gz" -- policy-act -m "$D/q.model" -a greedy
t_status "a gzip input and a .gz output exit 0" 0
t_ok "a .gz output is gzip of the same rows" sh -c "gzip -dc '$D/pa.out.gz' | cmp -s - '$D/policy-act.sharded.tsv'"
t_run sh -c "'$P' --jobs 3 --block 100k -b -- meta-embed-export -m '$D/maml.model' -q 0.2 <'$D/members.tsv' >'$D/emb.rec'"
t_status "stdin to a --binary stdout exits 0" 0
t_ok "the binary output is the same table" sh -c "rec-cat '$D/emb.rec' | cmp -s - '$D/meta-embed-export.sharded.tsv'"
t_run "$P" --quiet --jobs 3 --block 100k --input="$D/members.tsv" -- meta-embed-export -m "$D/maml.model" -q 0.2
t_status "output on stdout exits 0" 0
t_ok "--quiet: nothing on stderr" test -z "$ERR"
t_ok "stdout carries the output" cmp -s "$T/out" "$D/meta-embed-export.sharded.tsv"

# ---- an input that is not grouped ----

# episode 0's first two rows again at the end: a key after other keys
{ cat "$D/notif.tsv" && sed -n 2,3p "$D/notif.tsv"; } >"$D/notif.split.tsv"
t_run "$P" --jobs 3 --block 50k -i "$D/notif.split.tsv" -o "$D/split.tsv" -- policy-act -m "$D/q.model" -a greedy
t_status "an input that is not grouped exits 1" 1
t_err_has "the key named" "key '0' appears again after other keys"
t_err_has "--sort suggested" "use --sort"
t_ok "no output file" test ! -e "$D/split.tsv"
t_run "$P" --sort --jobs 3 --block 50k -i "$D/notif.split.tsv" -o "$D/split.tsv" -- policy-act -m "$D/q.model" -a greedy
t_status "--sort exits 0" 0
{ head -n 1 "$D/notif.tsv" && tail -n +2 "$D/notif.split.tsv" | sort -s -t "$TAB" -k1,1; } >"$D/notif.sorted.tsv"
policy-act -m "$D/q.model" -a greedy --quiet -o "$D/split.single.tsv" "$D/notif.sorted.tsv"
t_ok "--sort: the single-process output of the sorted input, after sorting" close_sorted "$D/split.single.tsv" "$D/split.tsv"

# ---- other errors, no rows ----

t_run "$P" -g no_such -i "$D/notif.tsv" -o "$D/nocol.tsv" -- policy-act -m "$D/q.model" -a greedy
t_status "a missing group column exits 1" 1
t_err_has "the columns listed" "no group column 'no_such' in the input (columns: episode, t,"
t_ok "no output file" test ! -e "$D/nocol.tsv"
head -n 1 "$D/notif.tsv" >"$D/header.tsv"
t_run "$P" --jobs 3 -i "$D/header.tsv" -- policy-act -m "$D/q.model" -a greedy
t_status "an input without rows exits 0" 0
t_out_is "an input without rows: the tool's output for the header alone" "$(policy-act -m "$D/q.model" -a greedy "$D/header.tsv")"
t_run "$P" -i "$D/missing.tsv" -o "$D/missing.out" -- policy-act -m "$D/q.model" -a greedy
t_status "a missing input exits 1" 1
t_ok "no output file" test ! -e "$D/missing.out"

# ---- a failing shard ----

# In a copy of the tools, policy-act fails on the shard that holds episode
# 150 (one of several; the others succeed): the run fails, and no output
# is written.
mkdir "$T/bin" "$T/fail"
cp "$BIN"/* "$T/bin/"
rm -f "$T/bin/policy-act"
{
    echo '#!/bin/sh'
    echo "in=\$(mktemp '$T/fakein.XXXXXX') || exit 1"
    echo 'cat >"$in"'
    echo "if grep -q '^150$TAB' \"\$in\"; then"
    echo '    rm -f "$in"'
    echo '    echo "policy-act: simulated failure" >&2'
    echo '    exit 1'
    echo 'fi'
    echo "'$BIN/policy-act' \"\$@\" \"\$in\""
    echo 'rc=$?'
    echo 'rm -f "$in"'
    echo 'exit $rc'
} >"$T/bin/policy-act"
chmod +x "$T/bin/policy-act"
cp "$D/policy-act.sharded.tsv" "$T/fail/before.tsv"
RECSTAGE_BIN=$T/bin
t_run "$P" --jobs 3 --block 50k --joblog "$T/fail.joblog" -i "$D/notif.tsv" -o "$T/fail/out.tsv" -- policy-act -m "$D/q.model" -a greedy
t_ok "a failing shard exits 1 (exit $RC)" test "$RC" -eq 1
t_err_has "the tool's message is shown" "policy-act: simulated failure"
t_err_has "the failed shard named" "failed on this machine: exit 1"
t_err_has "the run reported failed" "the sharded run of policy-act failed"
t_ok "no output file after a failure" test ! -e "$T/fail/out.tsv"
t_run "$P" --jobs 3 --block 50k -i "$D/notif.tsv" -o "$T/fail/before.tsv" -- policy-act -m "$D/q.model" -a greedy
t_ok "a failing run over an old output exits 1" test "$RC" -eq 1
t_ok "and leaves the old output in place" cmp -s "$T/fail/before.tsv" "$D/policy-act.sharded.tsv"
t_ok "and no temporary file beside it" test "$(ls -A "$T/fail")" = "before.tsv"
t_run "$P" --jobs 3 --block 50k -i "$D/notif.tsv" -- policy-act -m "$D/q.model" -a greedy
t_ok "a failing run to stdout exits 1" test "$RC" -eq 1
t_ok "and prints nothing on stdout" test ! -s "$T/out"
RECSTAGE_BIN=$BIN

t_ok "no work folder left in TMPDIR" test -z "$(ls -A "$T/tmp")"
t_done
