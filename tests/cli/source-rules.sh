#!/bin/sh
# source-rules: house rules that a compiler does not check.  Every C file
# includes banned.h (last), every tool has a man page and a test that
# mentions it, and no file in common/ or tools/ exits except through cli.
. "$(dirname "$0")/../lib.sh"
cd "$ROOT"
for f in common/*.c tools/*.c tests/unit/*.c tests/fuzz/*.c bench/*.c; do
    [ -f "$f" ] || continue
    t_ok "$f includes banned.h" grep -q '#include "banned.h"' "$f"
done
for f in common/*.c; do
    case $f in common/cli.c | common/err.c) continue ;; esac
    t_ok "$f does not call exit (library code returns errors)" sh -c "! grep -nE '(^|[^_a-z])exit\\(' '$f' | grep -v '^.*/\\*'"
done
for f in tools/*.c; do
    tool=$(basename "$f" .c)
    t_ok "$tool has a man page" test -f "man/man1/$tool.1"
    t_ok "$tool is tested" sh -c "grep -rlq -- '$tool' tests/cli"
done
t_done
