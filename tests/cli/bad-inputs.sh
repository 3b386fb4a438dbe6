#!/bin/sh
# shellcheck disable=SC2016,SC2034 # $OUT is matched literally in cmd; ERR is read by t_ok
# bad-inputs: run the bad-input corpus of tests/bad-inputs/ (see its README):
# every case is a folder NNN-name holding
#
#   cmd         a shell command line run from the top of the tree, with
#               $CASE the case folder, $WORK a fresh scratch folder (where
#               make-input leaves its files), $OUT a fresh output path in an
#               empty folder of its own, $LIB tests/bad-inputs/lib, and the
#               tools under test first in PATH ($BIN); '#' lines are comments
#   status      the exit status it must end with
#   message     fragments that its stderr must contain, one a line
#   make-input  optional: a sh -e script run in $WORK before cmd, to generate
#               inputs that are huge, binary, or derived from data-samples/
#
# and checks, each a check of its own: make-input worked, the exit status,
# each message fragment, no crash or hang (status >= 124: timeout 60 ends a
# hang with 124), no sanitizer report on stderr, and, when cmd writes to
# $OUT, that nothing (no file, no temporary) is left in $OUT's folder.
#
#   sh tests/cli/bad-inputs.sh [PATTERN]...   only cases whose name matches
#   VERBOSE=1 ...                             one line per case, with its time
. "$(dirname "$0")/../lib.sh"
CORPUS=$ROOT/tests/bad-inputs
LIB=$CORPUS/lib
export ROOT BIN LIB

# stderr excerpt for the failure lines of t_ok, never a 100 MB value
excerpt() { head -c 600 "$T/err"; }

ncases=0
for dir in "$CORPUS"/[0-9]*/; do
    dir=${dir%/}
    name=$(basename "$dir")
    if [ $# -gt 0 ]; then
        hit=0
        for pat in "$@"; do
            case $name in *$pat*) hit=1 ;; esac
        done
        [ "$hit" -eq 1 ] || continue
    fi
    ncases=$((ncases + 1))
    if [ ! -f "$dir/cmd" ] || [ ! -f "$dir/status" ] || [ ! -f "$dir/message" ]; then
        ERR=""
        t_ok "$name: the case has cmd, status and message" false
        continue
    fi
    work=$T/$name/work
    outdir=$T/$name/out
    mkdir -p "$work" "$outdir"
    start=$(date +%s)

    if [ -f "$dir/make-input" ]; then
        set +e
        (cd "$work" && CASE=$dir WORK=$work timeout 300 sh -e "$dir/make-input") </dev/null >"$T/out" 2>"$T/err"
        mrc=$?
        set -e
        ERR=$(excerpt)
        t_ok "$name: make-input (exit $mrc)" test "$mrc" -eq 0
        [ "$mrc" -eq 0 ] || continue
    fi

    cmd=$(grep -v '^[[:space:]]*#' "$dir/cmd")
    want=$(tr -d ' \n' <"$dir/status")
    set +e
    (cd "$ROOT" && CASE=$dir WORK=$work OUT=$outdir/result timeout 60 sh -c "$cmd") </dev/null >"$T/out" 2>"$T/err"
    RC=$?
    set -e
    ERR=$(excerpt)

    t_ok "$name: exit status $RC, want $want" test "$RC" -eq "$want"
    while IFS= read -r frag || [ -n "$frag" ]; do
        [ -n "$frag" ] || continue
        t_ok "$name: stderr has '$frag'" grep -qF -- "$frag" "$T/err"
    done <"$dir/message"
    t_ok "$name: no crash or hang (exit $RC)" test "$RC" -lt 124
    t_ok "$name: no sanitizer report" sh -c "! grep -qE 'ERROR: [A-Za-z]*Sanitizer|runtime error:' '$T/err'"
    case $cmd in
    *'$OUT'* | *'${OUT'*)
        t_ok "$name: nothing left in the output folder ($(ls -A "$outdir" | head -n 3 | tr '\n' ' '))" \
            test -z "$(ls -A "$outdir")"
        ;;
    esac
    [ -z "${VERBOSE:-}" ] || echo "$name: exit $RC, $(($(date +%s) - start)) s"
    rm -rf "${T:?}/$name"
done
ERR=""
t_ok "at least one case ran" test "$ncases" -gt 0
t_done
