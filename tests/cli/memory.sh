#!/bin/sh
# memory: under `ulimit -v`, a request for more memory than the limit ends
# in a clear "out of memory" message and exit 1, never a crash or a hang
# (no exit handler runs: OpenBLAS joining its threads could wait for
# memory forever); no output file is left.
. "$(dirname "$0")/../lib.sh"
S=$ROOT/data-samples
if [ "${SANITIZE:-}" = 1 ]; then
    # AddressSanitizer reserves terabytes of address space: ulimit -v
    # cannot work under it
    echo "memory: skipped under SANITIZE=1"
    t_done
    exit 0
fi

# with address space for the code and libraries, not for a 6.7 GB table
t_run sh -c "ulimit -v 300000; exec timeout 60 maml-train --quiet --epochs 1 --threads 1 --mode wide-deep --id-buckets 67108864 -o '$T/m.model' '$S/members.tsv'"
t_status "a 6.7 GB member table under ulimit -v: exit 1" 1
t_err_has "said so" "maml-train: out of memory allocating"
t_ok "no model file" test ! -e "$T/m.model"
t_ok "no temporary file" sh -c "! ls -A '$T' | grep -q '^\\.m\\.model'"

# a 200 MB line to read under a 150 MB limit
{ echo a; head -c 200000000 /dev/zero | tr '\0' x; echo; } > "$T/long.tsv"
t_run sh -c "ulimit -v 150000; exec timeout 60 rec-cat --binary -o '$T/long.rec' '$T/long.tsv'"
t_ok "a 200 MB field under a 150 MB limit: exit 1 (got $RC)" test "$RC" -eq 1
t_err_has "said so" "out of memory"
t_ok "no output file" test ! -e "$T/long.rec"

# the same work fits in a larger limit
t_run sh -c "ulimit -v 1500000; exec timeout 60 rec-cat --binary -o '$T/long.rec' '$T/long.tsv'"
t_status "the 200 MB field under a 1.5 GB limit: converted" 0
t_done
