#!/bin/sh
# fuzz-corpus: replay every input of tests/fuzz-corpus/HARNESS/ (seeds and
# the regression inputs of bugs the fuzzers found) through the replay
# driver of tests/fuzz/HARNESS.c, built by make check as
# $BUILD/fuzz-replay/HARNESS without libFuzzer.  Each must exit 0 within
# the time limit: the readers return errors on bad data, and the harness
# aborts when a checked property fails (see tests/fuzz/fuzz.h).  Run the
# fuzzers themselves with `make fuzz`.
. "$(dirname "$0")/../lib.sh"
cd "$ROOT"
BUILD=${BUILD:-build}
LIMIT=${FUZZ_REPLAY_TIMEOUT:-60}
for src in tests/fuzz/fuzz_*.c; do
    h=$(basename "$src" .c)
    t_ok "$h has a corpus in tests/fuzz-corpus/$h" test -d "tests/fuzz-corpus/$h"
    t_ok "$h replay driver is built" test -x "$BUILD/fuzz-replay/$h"
done
for dir in tests/fuzz-corpus/*/; do
    h=$(basename "$dir")
    drv=$BUILD/fuzz-replay/$h
    [ -x "$drv" ] || continue
    for f in "$dir"*; do
        [ -f "$f" ] || continue
        t_run timeout "$LIMIT" "$drv" "$f"
        t_ok "$h: $f (exit $RC)" test "$RC" -eq 0
    done
done
t_done
