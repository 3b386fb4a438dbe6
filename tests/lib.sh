# tests/lib.sh - shell test harness, sourced by tests/cli/*.sh.
#
#   t_run CMD...           run CMD, capturing stdout in $OUT, stderr in $ERR, status in $RC
#   t_ok WHAT COND...      a check: COND is a command; passes if it exits 0
#   t_status WHAT N        $RC == N
#   t_err_has WHAT TEXT    stderr contains TEXT
#   t_out_is WHAT TEXT     stdout equals TEXT
#   t_done                 prints "NAME: N passed, N failed", exits non-zero on failure
set -eu
export LC_ALL=C
ROOT=${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
BIN=${BIN:-$ROOT/bin}
PATH=$BIN:$PATH
T=$(mktemp -d "${TMPDIR:-/tmp}/recstage-test.XXXXXX")
trap 'rm -rf "$T"' EXIT
t_pass=0
t_fail=0
t_name=$(basename "$0" .sh)

t_run() {
    set +e
    "$@" >"$T/out" 2>"$T/err"
    RC=$?
    set -e
    OUT=$(cat "$T/out")
    ERR=$(cat "$T/err")
}

t_ok() {
    what=$1
    shift
    if "$@"; then
        t_pass=$((t_pass + 1))
    else
        t_fail=$((t_fail + 1))
        echo "FAIL $t_name: $what" >&2
        [ -z "${ERR:-}" ] || echo "  stderr: $(printf '%s' "$ERR" | head -c 600)" >&2
    fi
}

t_status() { t_ok "$1 (exit $RC, want $2)" test "$RC" -eq "$2"; }
t_err_has() { t_ok "$1 (stderr lacks '$2')" grep -qF -- "$2" "$T/err"; }
t_out_has() { t_ok "$1 (stdout lacks '$2')" grep -qF -- "$2" "$T/out"; }
t_out_is() { t_ok "$1 (stdout differs)" test "$OUT" = "$2"; }

t_done() {
    echo "$t_name: $t_pass passed, $t_fail failed"
    [ "$t_fail" -eq 0 ]
}
