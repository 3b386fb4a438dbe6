#!/bin/sh
# man-examples: run the EXAMPLES of every manual page, and lint every page,
# so that a stale manual fails the tests.
#
# Convention for EXAMPLES (man/man1/*.1 must have some; man5 and man7 pages
# may, and theirs are run too):
#
#   - In the EXAMPLES section (from ".SH EXAMPLES" to the next .SH), each
#     example is an .EX ... .EE block.  Prose, tables and requests such as
#     .ta or .DT go outside the blocks; a block holds only commands and
#     their output, and must start with a command, so no example escapes
#     the test.  .EX blocks in other sections are not run.
#   - A line starting with "$ " is a command, on one line.  It runs with
#     sh -c from the repository root, standard input /dev/null, $BIN first
#     in PATH, LC_ALL=C, and TMPDIR set to a fresh scratch folder for the
#     page (removed at exit; commands of one page run in order and share
#     it, so one may read what an earlier one wrote there).  Examples write
#     to standard output or under "$TMPDIR", never into the tree.
#   - The lines after a command, up to the next "$ " line or .EE, are its
#     expected standard output, compared exactly (standard error is not
#     compared) after un-escaping the roff the page needs:
#         \e -> \    \- -> -    \(aq -> '    \& at the start of a line
#     is removed ("\&" alone is an empty line; "\&." a line starting with a
#     dot).  Any other backslash sequence is kept, and so will not match.
#   - Every command must exit 0.  A command with no lines after it only
#     has to exit 0.  An example meant to fail shows its status with
#     `cmd; echo "exit $?"` (and `2>&1` to show the message), so that the
#     expected output carries both.
#
# Each command is one check; so is the lint of each page under man/, which
# must make `groff -t -man -ww -z` (or, without groff, `mandoc -Tlint -W
# warning`) print nothing and exit 0; so is "this man1 page has examples".
# Run as: ROOT=$PWD BIN=$PWD/bin sh tests/cli/man-examples.sh
set -eu
export LC_ALL=C
. "$(dirname "$0")/../lib.sh"
export BIN PATH
cd "$ROOT"

# Extract the examples of one page into folder $2: for the k-th command,
# $2/k.cmd (the command) and, when it has expected lines, $2/k.out; on
# stdout, one manifest line "k<TAB>line" per command (line: where it is in
# the page) or "error<TAB>line<TAB>message" for a malformed block.
cat >"$T/extract.awk" <<'EOF'
function unroff(s,    out, i, c, n) {
    out = ""
    if (substr(s, 1, 2) == "\\&")
        s = substr(s, 3)
    n = length(s)
    for (i = 1; i <= n; i++) {
        c = substr(s, i, 1)
        if (c == "\\") {
            if (substr(s, i + 1, 1) == "e") { out = out "\\"; i++; continue }
            if (substr(s, i + 1, 1) == "-") { out = out "-"; i++; continue }
            if (substr(s, i + 1, 3) == "(aq") { out = out "\047"; i += 3; continue }
        }
        out = out c
    }
    return out
}
function finish() {
    if (k > 0 && open_cmd) {
        close(dir "/" k ".out")
        printf "%d\t%d\n", k, cmd_line
    }
    open_cmd = 0
}
BEGIN { k = 0; insec = 0; inex = 0; open_cmd = 0 }
/^\.SH/ {
    if (inex) { printf "error\t%d\t.SH inside an example block\n", NR; inex = 0 }
    insec = ($0 ~ /^\.SH[ \t]+"?EXAMPLES"?[ \t]*$/)
    next
}
!insec { next }
/^\.EX/ && !inex { inex = 1; bad_block = 0; block_line = NR; next }
!inex { next }
/^\.EE/ { finish(); inex = 0; next }
/^\$ / {
    finish()
    k++
    cmd_line = NR
    open_cmd = 1
    printf "%s\n", unroff(substr($0, 3)) > (dir "/" k ".cmd")
    close(dir "/" k ".cmd")
    next
}
/^[.\047]/ {
    printf "error\t%d\troff request inside an example block\n", NR
    next
}
{
    if (!open_cmd) {
        if (!bad_block)
            printf "error\t%d\texample block does not start with a command\n", block_line
        bad_block = 1
        next
    }
    printf "%s\n", unroff($0) >> (dir "/" k ".out")
}
END {
    if (inex) { finish(); printf "error\t%d\tunterminated .EX block\n", block_line }
}
EOF

# Compare the last t_run with the expectations of example $1 in folder $2;
# say why not in $T/why.
example_ok() {
    : >"$T/why"
    if [ "$RC" -ne 0 ]; then
        echo "exit status $RC" >"$T/why"
        return 1
    fi
    [ -f "$2/$1.out" ] || return 0
    cmp -s "$2/$1.out" "$T/out" && return 0
    echo "stdout differs (-expected +actual):" >"$T/why"
    diff -u "$2/$1.out" "$T/out" | sed -n '3,42p' >>"$T/why" || true
    return 1
}

if command -v groff >/dev/null 2>&1; then
    lint() { groff -t -man -ww -z "$1" 2>&1; }
elif command -v mandoc >/dev/null 2>&1; then
    lint() { mandoc -Tlint -W warning "$1" 2>&1; }
else
    lint() { echo "neither groff nor mandoc is installed"; }
fi
lint_ok() {
    set +e
    lint "$1" >"$T/why"
    rc=$?
    set -e
    [ "$rc" -eq 0 ] && [ ! -s "$T/why" ]
}

pages=0
for page in man/man*/*.[1-9]; do
    [ -f "$page" ] || continue
    pages=$((pages + 1))
    ERR=
    ok=0
    lint_ok "$page" || ok=1
    t_ok "$page: lint" test "$ok" -eq 0
    [ "$ok" -eq 0 ] || sed 's/^/  /' "$T/why" | head -n 20 >&2

    name=$(basename "$page")
    dir=$T/ex.$name
    mkdir "$dir" "$dir/tmp"
    TMPDIR=$dir/tmp
    export TMPDIR
    awk -v dir="$dir" -f "$T/extract.awk" "$page" >"$dir/manifest"
    ERR=
    case $page in
    man/man1/*) t_ok "$page: has examples" grep -q '^[0-9]' "$dir/manifest" ;;
    esac
    while IFS='	' read -r k line msg; do
        if [ "$k" = error ]; then
            ERR=
            t_ok "$page:$line: $msg" false
            continue
        fi
        cmd=$(cat "$dir/$k.cmd")
        t_run sh -c "$cmd" </dev/null
        ok=0
        example_ok "$k" "$dir" || ok=1
        # lib.sh prints the label with echo, which would expand backslashes
        label=$(printf '%s' "$cmd" | sed 's/\\/\\\\/g')
        t_ok "$page:$line: \$ $label" test "$ok" -eq 0
        [ "$ok" -eq 0 ] || sed 's/^/  /' "$T/why" >&2
    done <"$dir/manifest"
done
t_ok "manual pages found under man/" test "$pages" -gt 0
t_done
