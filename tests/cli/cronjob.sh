#!/bin/sh
# shellcheck disable=SC2016 # the -c scripts are for the job's bash, quoted on purpose
# cronjob: scripts/cronjob, the cron wrapper.  A successful run publishes
# the staging folder as the output folder and logs every line with a UTC
# timestamp between start and end lines; a run whose pipeline fails halfway
# (a stage of a pipeline, pipefail) exits non-zero, leaves the previous
# output byte-identical, no staging folder and the lock released; a start
# while another run holds the lock exits 75 and touches nothing; SIGTERM
# stops the command, keeps the previous output and releases the lock; the
# logs are rotated per job; a swap interrupted by a crash is repaired; a
# real pipeline (notif-sim, rec-cat --check) runs; and the usage errors.
. "$(dirname "$0")/../lib.sh"
C=$ROOT/scripts/cronjob
# the tools under test: bin/, or the sanitizer build under make check SANITIZE=1
RECSTAGE_BIN=$BIN
export RECSTAGE_BIN
D=$T/data # the output folders and their locks
L=$T/logs
mkdir "$D"
OUTDIR=$D/out
LOCK=$D/out.lock
TAB=$(printf '\t')
TS='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z'

# the checksums of every file under $1, by relative name
sums() { (cd "$1" && find . -type f -exec cksum {} + | sort -k3); }
# the number of existing files among the arguments (an unmatched glob is not)
count() {
    n=0
    for f in "$@"; do
        [ ! -e "$f" ] || n=$((n + 1))
    done
    echo "$n"
}
# the staging folders left next to the output folder
staging_left() { count "$D"/.out.staging.*; }
# the newest log of job $1 (by time: NAME-STAMP.log sorts after NAME-STAMP-2.log)
# shellcheck disable=SC2012 # the log names are plain
newest_log() { ls -t "$L/$1"-*.log | head -n 1; }
# waits up to 5 s for a log to contain $1
# (a line the command printed: "<timestamp>Z <text>", not the logged
# command line that contains the text too)
wait_for() {
    i=0
    while ! grep -qs -- "Z $1\$" "$L"/*.log; do
        i=$((i + 1))
        [ "$i" -lt 100 ] || return 1
        sleep 0.05
    done
}
lock_free() { flock -n "$LOCK" true; }
# process $1 is gone: no such process, or a zombie (which an init that does
# not reap, as in some containers, leaves behind)
gone() {
    if [ -r "/proc/$1/stat" ]; then
        if grep -q '^[0-9]* (.*) [^Z]' "/proc/$1/stat" 2>/dev/null; then return 1; fi
    elif kill -0 "$1" 2>/dev/null; then
        return 1
    fi
    return 0
}

# ---- usage ----

t_run "$C" --help
t_status "--help exits 0" 0
t_out_has "--help prints usage to stdout" "Usage: cronjob [OPTION]... [--] COMMAND [ARG]..."
t_out_has "--help has an example crontab line" "30 2 * * * cd /srv/recstage && scripts/cronjob"
t_out_has "--help has an example pipeline" 'rec-cat --check "$CRONJOB_OUT/notif.tsv"'
t_out_has "--help documents the busy status" "75 (EX_TEMPFAIL)"
t_ok "--help prints nothing on stderr" test -z "$ERR"
t_run "$C" -o "$T/bad/out" --log-dir "$T/bad/logs"
t_status "no command exits 2" 2
t_err_has "no command named" "no command"
t_run "$C" --bogus -o "$T/bad/out" -- true
t_status "bad option exits 2" 2
t_err_has "bad option named" "unrecognized option '--bogus'"
t_err_has "bad option hint" "--help' for more information"
t_run "$C" --keep-logs x -o "$T/bad/out" -- true
t_status "--keep-logs x exits 2" 2
t_err_has "bad value named" "invalid value 'x' for --keep-logs"
t_run "$C" --name '../x' -o "$T/bad/out" -- true
t_status "a name with a slash exits 2" 2
t_run "$C" -c 'true' -o "$T/bad/out" -- true
t_status "both -c and a COMMAND exit 2" 2
t_run "$C" -o / -- true
t_status "-o / exits 2" 2
t_ok "a usage error creates nothing" test ! -e "$T/bad"

# ---- a successful run ----

t_run "$C" -n job -o "$OUTDIR" --log-dir "$L" -c '
    printf "a\tb\n1\t2\n" >"$CRONJOB_OUT/results.tsv"
    mkdir "$CRONJOB_OUT/sub"
    echo deep >"$CRONJOB_OUT/sub/file.txt"
    echo "a line on stdout"
    echo "a line on stderr" >&2
    printf "a last line without newline"'
t_status "a successful run exits 0" 0
t_ok "a successful run prints nothing" test -z "$OUT$ERR"
t_ok "the output folder has the command's files" test "$(cat "$OUTDIR/results.tsv")" = "$(printf 'a\tb\n1\t2')"
t_ok "the output folder has the command's subfolders" test "$(cat "$OUTDIR/sub/file.txt")" = deep
t_ok "the output folder has the usual mode (umask), not mktemp's 0700" \
    test "$(stat -c %a "$OUTDIR")" = "$(printf '%o' $((0777 & ~0$(umask))))"
t_ok "no staging folder left" test "$(staging_left)" -eq 0
t_ok "one log" test "$(count "$L"/job-*.log)" -eq 1
G=$(newest_log job)
t_ok "the log is named NAME-YYYYmmddTHHMMSSZ.log" sh -c "basename '$G' | grep -qE '^job-[0-9]{8}T[0-9]{6}Z\\.log\$'"
t_ok "every log line starts with an ISO-8601 UTC time" sh -c "! grep -vE '^$TS ' '$G'"
t_ok "the log's date is today's (UTC)" grep -q "^$(date -u +%Y-%m-%d)T" "$G"
t_ok "the log's first line is the start line" sh -c "head -n 1 '$G' | grep -qE '^$TS cronjob: start job: pid [0-9]+'"
t_ok "the log names the command" grep -qF "cronjob: command: bash -euo pipefail -c" "$G"
t_ok "the log has the command's stdout" grep -qE "^$TS a line on stdout\$" "$G"
t_ok "the log has the command's stderr" grep -qE "^$TS a line on stderr\$" "$G"
t_ok "the log has a last line without newline, on a line of its own" grep -qE "^$TS a last line without newline\$" "$G"
t_ok "the log's last line is the end line: status 0, the duration, published" \
    sh -c "tail -n 1 '$G' | grep -qE '^$TS cronjob: end status=0 duration=[0-9]+\\.[0-9]s: published '"
t_ok "the lock is free after a run" lock_free
sums "$OUTDIR" >"$T/sums.1"

# ---- a pipeline that fails halfway ----

t_run "$C" -n job -o "$OUTDIR" --log-dir "$L" -c '
    echo partial >"$CRONJOB_OUT/results.tsv"
    echo "stage 1 done"
    false | cat
    echo never >"$CRONJOB_OUT/never.txt"
    echo "stage 3 done"'
t_status "a pipeline whose first command fails fails the job (pipefail)" 1
t_err_has "the failure is printed for cron's mail" "cronjob: job: the command failed with status 1; the previous output was kept"
t_err_has "the end of the log is printed" "stage 1 done"
sums "$OUTDIR" >"$T/sums.2"
t_ok "the previous output is byte-identical" cmp -s "$T/sums.1" "$T/sums.2"
t_ok "no staging folder left" test "$(staging_left)" -eq 0
t_ok "no DIR.prev left" test ! -e "$D/out.prev"
t_ok "the lock is released" lock_free
G=$(newest_log job)
t_ok "the failed run has a log of its own" test "$(count "$L"/job-*.log)" -eq 2
t_ok "its log stops at the failing stage" sh -c "grep -qE '^$TS stage 1 done\$' '$G' && ! grep -qE '^$TS stage 3 done\$' '$G'"
t_ok "its log ends with the status and why" \
    sh -c "tail -n 1 '$G' | grep -qE '^$TS cronjob: end status=1 duration=[0-9.]+s: the command failed with status 1; the previous output was kept\$'"

# a real stage: rec-cat --check on a bad file, in a pipeline
printf 'a\tb\n1\n' >"$T/bad.tsv"
t_run "$C" -n job -o "$OUTDIR" --log-dir "$L" -c "
    echo partial >\"\$CRONJOB_OUT/results.tsv\"
    rec-cat --check '$T/bad.tsv' | tee \"\$CRONJOB_OUT/check.txt\"
    echo never"
t_status "a failing rec-cat --check stage fails the job" 1
t_ok "its error is in the log" grep -qE "^$TS rec-cat: .*bad\\.tsv:2: expected 2 fields" "$(newest_log job)"
t_ok "the previous output is still byte-identical" sh -c "sums() { (cd \"\$1\" && find . -type f -exec cksum {} + | sort -k3); }; sums '$OUTDIR' | cmp -s - '$T/sums.1'"
t_ok "no staging folder left" test "$(staging_left)" -eq 0

# a plain command that fails, and one that does not exist
t_run "$C" -n job -o "$OUTDIR" --log-dir "$L" -- false
t_status "a failing COMMAND exits 1" 1
t_run "$C" -n job -o "$OUTDIR" --log-dir "$L" -- "$T/no-such-tool"
t_status "a missing COMMAND exits 1" 1
t_err_has "a missing command is named" "the command was not found (status 127)"
t_ok "the previous output is still byte-identical" sh -c "(cd '$OUTDIR' && find . -type f -exec cksum {} + | sort -k3) | cmp -s - '$T/sums.1'"

# the third run succeeds at once
t_run "$C" -n job -o "$OUTDIR" --log-dir "$L" -c 'echo third >"$CRONJOB_OUT/results.tsv"'
t_status "the next run succeeds" 0
t_ok "it replaces the output folder as a whole" sh -c "test \"\$(cat '$OUTDIR/results.tsv')\" = third && test ! -e '$OUTDIR/sub'"
sums "$OUTDIR" >"$T/sums.3"

# ---- a concurrent start ----

"$C" -n job -o "$OUTDIR" --log-dir "$L" -c 'echo holder started; sleep 3; echo holder >"$CRONJOB_OUT/results.tsv"' \
    >"$T/holder.out" 2>"$T/holder.err" &
holder=$!
wait_for "holder started" || true
HL=$(newest_log job)
t_ok "the holder started" grep -q "holder started" "$HL"
t_ok "flock -n on the lock fails while a run holds it" sh -c "! flock -n '$LOCK' true"
ls -A "$D" >"$T/ls.before"
nlogs=$(count "$L"/*)
t_run "$C" -n job -o "$OUTDIR" --log-dir "$L" -c 'echo intruder >"$CRONJOB_OUT/results.tsv"'
t_status "a concurrent start exits 75 (EX_TEMPFAIL)" 75
t_err_has "a concurrent start says why" "cronjob: job: another run holds the lock '$LOCK' (pid $holder since "
t_err_has "a concurrent start says it did nothing" "not started"
t_ok "a concurrent start touches no output" sh -c "(cd '$OUTDIR' && find . -type f -exec cksum {} + | sort -k3) | cmp -s - '$T/sums.3'"
t_ok "a concurrent start creates and removes no folder" sh -c "ls -A '$D' | cmp -s - '$T/ls.before'"
t_ok "a concurrent start writes no log" test "$(count "$L"/*)" -eq "$nlogs"
set +e
wait "$holder"
# shellcheck disable=SC2034 # RC is read by t_status
RC=$?
set -e
t_status "the holder finishes normally" 0
t_ok "the holder's output is published" test "$(cat "$OUTDIR/results.tsv")" = holder
t_ok "the lock is free after the holder" lock_free
sums "$OUTDIR" >"$T/sums.4"

# ---- SIGTERM during a run ----

# (on a loaded machine the holder's last processes may still be exiting)
i=0
while ! lock_free && [ "$i" -lt 200 ]; do
    i=$((i + 1))
    sleep 0.05
done

"$C" -n job -o "$OUTDIR" --log-dir "$L" -c "
    echo partial >\"\$CRONJOB_OUT/results.tsv\"
    echo \$\$ >'$T/cmd.pid'
    echo victim started
    exec sleep 20" >"$T/victim.out" 2>"$T/victim.err" &
victim=$!
wait_for "victim started" || true
VL=$(newest_log job)
t_ok "the victim started" grep -q "victim started" "$VL"
t_ok "its staging folder exists while it runs" test "$(staging_left)" -eq 1
start=$(date +%s)
kill -TERM "$victim"
set +e
wait "$victim"
# shellcheck disable=SC2034 # RC is read by t_status
RC=$?
set -e
t_status "SIGTERM: the wrapper exits 143" 143
t_ok "SIGTERM: it stops at once, not after the command's 20 s" test $(($(date +%s) - start)) -lt 10
t_ok "SIGTERM: the command's process is gone" gone "$(cat "$T/cmd.pid")"
t_ok "SIGTERM: the previous output is byte-identical" sh -c "(cd '$OUTDIR' && find . -type f -exec cksum {} + | sort -k3) | cmp -s - '$T/sums.4'"
t_ok "SIGTERM: no staging folder left" test "$(staging_left)" -eq 0
t_ok "SIGTERM: the lock is released" lock_free
t_ok "SIGTERM: the log records the signal" grep -qE "^$TS cronjob: received SIGTERM: stopping the command" "$VL"
t_ok "SIGTERM: the log ends with status 143 and why" \
    sh -c "tail -n 1 '$VL' | grep -qE '^$TS cronjob: end status=143 duration=[0-9.]+s: stopped by SIGTERM'"
t_ok "SIGTERM: the reason is printed" grep -qF "cronjob: job: stopped by SIGTERM; the previous output was kept" "$T/victim.err"
t_run "$C" -n job -o "$OUTDIR" --log-dir "$L" -c 'echo after >"$CRONJOB_OUT/results.tsv"'
t_status "the run after SIGTERM succeeds" 0

# ---- log rotation ----

njob=$(count "$L"/job-*.log)
for i in 1 2 3 4 5; do
    t_run "$C" -n rot --keep-logs 2 --log-dir "$L" -c "echo rotation run $i"
    t_status "rotation run $i exits 0" 0
done
t_ok "--keep-logs 2 keeps 2 logs" test "$(count "$L"/rot-*.log)" -eq 2
t_ok "the kept logs are the newest two" sh -c "cat '$L'/rot-*.log | grep -c 'rotation run [45]\$' | grep -qx 2"
t_ok "the newest log records the removal" grep -q "removed the old log 'rot-" "$(newest_log rot)"
t_ok "the other job's logs are kept" test "$(count "$L"/job-*.log)" -eq "$njob"
t_ok "without -o the lock is LOGDIR/NAME.lock" test -f "$L/rot.lock"

# ---- a swap interrupted by a crash, --keep-prev ----

mv "$OUTDIR" "$D/out.prev"
mkdir "$D/.out.staging.crashed"
t_run "$C" -n job -o "$OUTDIR" --log-dir "$L" --keep-prev -c 'cat "$CRONJOB_OUT/../out/results.tsv"; echo repaired >"$CRONJOB_OUT/results.tsv"'
t_status "a run after a crash during the swap succeeds" 0
G=$(newest_log job)
t_ok "the output folder was restored from DIR.prev before the command" grep -qE "^$TS after\$" "$G"
t_ok "the restoration is logged" grep -q "restored '$OUTDIR' from '$D/out.prev'" "$G"
t_ok "the stale staging folder is removed" test "$(staging_left)" -eq 0
t_ok "--keep-prev keeps the replaced folder as DIR.prev" test "$(cat "$D/out.prev/results.tsv")" = after
t_ok "the new output is published" test "$(cat "$OUTDIR/results.tsv")" = repaired
t_run "$C" -n job -o "$OUTDIR" --log-dir "$L" -c 'echo next >"$CRONJOB_OUT/results.tsv"'
t_ok "without --keep-prev DIR.prev is removed" test ! -e "$D/out.prev"
printf 'x\n' >"$D/afile"
t_run "$C" -o "$D/afile" --log-dir "$L" -- true
t_status "an output that is a file exits 1" 1
t_err_has "it is not replaced" "exists and is not a folder"
t_ok "the file is untouched" test "$(cat "$D/afile")" = x

# ---- leftover processes ----

# A background process of the command is terminated when the command exits;
# one that left the command's session cannot hold the lock.
start=$(date +%s)
t_run "$C" -n job -o "$OUTDIR" --log-dir "$L" -c "
    sleep 30 &
    echo \$! >'$T/leftover.pid'
    setsid sleep 30 </dev/null >/dev/null 2>&1 &
    echo \$! >'$T/escaped.pid'
    for i in 1 2 3 4 5 6 7 8 9 10; do # until it is sleep, in its own session
        [ \"\$(cat /proc/\$!/comm 2>/dev/null)\" != sleep ] || break
        sleep 0.1
    done
    echo >\"\$CRONJOB_OUT/results.tsv\""
t_status "a command that leaves processes behind succeeds" 0
t_ok "the wrapper does not wait for its leftover processes" test $(($(date +%s) - start)) -lt 10
t_ok "the leftover process is terminated" gone "$(cat "$T/leftover.pid")"
t_ok "the termination is logged" grep -q "terminating the leftover processes of the command" "$(newest_log job)"
t_ok "a process that left the session does not hold the lock" lock_free
kill "$(cat "$T/escaped.pid")" 2>/dev/null || true

# ---- a real pipeline ----

t_run "$C" -n notif -o "$D/notif" --log-dir "$L" -c '
    notif-sim --episodes 200 -o "$CRONJOB_OUT/notif.tsv"
    rec-cat --check "$CRONJOB_OUT/notif.tsv"'
t_status "notif-sim then rec-cat --check exits 0" 0
t_ok "notif.tsv is published" sh -c "head -n 1 '$D/notif/notif.tsv' | grep -q '^episode${TAB}t${TAB}'"
t_ok "rec-cat's check is in the log" grep -qE "^$TS .*/notif\\.tsv${TAB}[0-9]+${TAB}15\$" "$(newest_log notif)"
t_ok "the lock of the real pipeline is free" flock -n "$D/notif.lock" true
t_done
