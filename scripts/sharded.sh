#!/usr/bin/env bash
# sharded.sh - run one grouped stage of the pipeline (meta-embed-export,
# maml-score, policy-act, sga-rerank) over shards of its input with GNU
# parallel, on the local cores or across machines (SPEC sections 4 and 10).
#
#   rec-cat INPUT...                  any record stream (TSV, CSV, gzip, binary) as TSV
#     | tee FIFO                      rec-cat --group-check COL < FIFO: the keys are contiguous
#     | read the header line          the data rows go on alone
#     | parallel --pipe --group-by N  shards cut between keys, about --block bytes each;
#         --halt now,fail=1           each job runs  { header; shard; } | TOOL ARGS
#         --results WORK/res/{#}/     and its stdout and stderr are kept by job number
#   join in job order (= input order) the first output's header kept, the others checked
#                                     equal and dropped; the tools' stderr printed
#   -o OUT (atomic) or stdout (after the whole run succeeded)
#
# Why not `parallel --pipe --header 1 --group-by COL`: in GNU parallel
# 20221122 the two do not combine.  With a column number the header line
# runs through the --group-by filter and comes out with the random record
# separator glued to its front (every shard gets a corrupt header); with a
# column name parallel reads the header itself, but splits it keeping the
# newline, so the last column cannot be named ("Column 'v' not found in
# header"), and a name that is not an identifier (user-id, id.1) is taken for
# a perl expression.  So the script takes the header off the stream, groups
# the header-less rows by column number, and each job puts the header back
# in front of its shard (from SHARDED_HEADER, passed to remote hosts with
# --env).
#
# --group-by starts a new record wherever the key changes, and a chunk (a
# shard) is whole records, grown past --block when one group is larger (GNU
# parallel warns "A record was longer than ...").  So the rows of one key
# stay in one shard as long as they are contiguous in the input.  A key that
# comes back after other keys would be a second record, possibly in another
# shard, where the tool's own contiguity check cannot see it (two output
# rows for one member, silently): the whole stream is therefore checked with
# rec-cat --group-check beside the sharding, and such an input is an error
# (or is sorted first with --sort).
set -euo pipefail
export LC_ALL=C

prog=sharded
# the shared helpers (die, note, ...), beside this file (through a symlink
# too); they set ROOT, BINDIR (RECSTAGE_BIN or ROOT/bin) and PATH
# shellcheck source=scripts/lib.sh
. "$(dirname -- "$(readlink -f -- "$0")")/lib.sh"

DEFAULT_BLOCK=10M
TAB=$'\t'

usage() {
    cat <<'EOF'
Usage: sharded.sh [OPTION]... [--] TOOL [TOOL-ARG]...
Run a grouped stage of the pipeline over shards of its input with GNU
parallel, so that every row of a member, an episode or a request reaches the
same process.  The input is cut between keys of the group column into shards
of about --block bytes; each shard, with the header line, goes to one run of
TOOL TOOL-ARGS on its standard input; the outputs are joined in input order
with one header line.  The result is the single-process output: the same
rows, in the same order.  meta-embed-export gives the same bytes; maml-score,
policy-act and sga-rerank put rows (sga-rerank: requests) together in matrix
products, which a shard boundary regroups, and BLAS kernels differ with the
matrix size, so their floats may differ in the last bits (on a near tie,
even a greedy action or a chosen item could).  On other hosts, a CPU or an
OpenBLAS setting (OPENBLAS_CORETYPE) that selects other kernels does the
same to every tool's floats.

Stages and their default group columns:
  meta-embed-export -m MODEL [-q F] ...   member_id
  maml-score -m MODEL [-e EMB] [-q F] ... member_id
  policy-act -m MODEL -a greedy ...       episode
  sga-rerank -m MODEL [-w W] ...          request_id (or its --request-col)
Any other command reading a record stream on stdin and writing TSV with a
header line on stdout works with --group-col.

  -i, --input FILE       read FILE (TSV, CSV, gzip or binary record stream;
                         - for stdin); may be repeated: the files are one
                         stream with the same columns (default: stdin)
  -o, --output FILE      write FILE atomically (gzip if it ends in .gz);
                         default, or -: stdout, written once the run has
                         succeeded
  -b, --binary           write the binary record stream instead of TSV
  -g, --group-col COL    the key column (default: by TOOL, above)
  -j, --jobs N           shards run at once on each host (default: GNU
                         parallel's, one per core)
      --block SIZE       shard size, about SIZE bytes of TSV, suffix k, M or G
                         (default 10M); a larger group makes a larger shard
      --sort             sort the rows by the group column first (stable), for
                         an input whose groups are not contiguous; the output
                         then follows the sorted order
      --sshlogin LOGINS  run the shards on these GNU parallel --sshlogin hosts
                         (comma-separated; ':' is this machine)
      --sshloginfile FILE
                         the hosts listed in FILE, one login a line
      --basefile FILE    another file TOOL reads, to transfer to the hosts; may
                         be repeated (the -m/--model file, and maml-score's
                         -e/--embeddings file, are transferred without it)
      --joblog FILE      write GNU parallel's job log, one line per shard
  -v, --verbose          print the parallel command and a line per shard
  -q, --quiet            print nothing but errors (and pass --quiet to the
                         four stages above)
      --help             display this help and exit

TOOL-ARGS must name no input file (the shards arrive on stdin) and no -o or
-b: the script writes the output.  meta-embed-export and sga-rerank get
--threads 1 (cores/jobs with --jobs on this machine) unless TOOL-ARGS set
-j/--threads: the shards are the parallelism.  The other tools' options
pass through unchanged.

Input: the rows of each key must be contiguous (as for the tools
themselves); the whole stream is checked with rec-cat --group-check, and a
key that appears again after other keys is an error (use --sort, or group
the rows first, e.g. with sort -s).  An input without rows gives TOOL's
output for a header alone.

Across machines (--sshlogin, --sshloginfile): TOOL runs on each host from
that host's PATH (install recstage there; give TOOL as a bare name), in the
login's home folder, with a POSIX login shell.  The model files of TOOL-ARGS
and the --basefile files are copied there first with rsync (GNU parallel
--basefile), to the same path when it is absolute, else under the home
folder; they are left on the hosts (parallel's --cleanup would delete the
original of a host that is this machine).  The shards travel over ssh.

Exit status: 0 success; 1 a shard failed, the input is bad or not grouped,
or the output cannot be written (no output file is left behind, and nothing
is printed on stdout); 2 usage.

Environment: RECSTAGE_BIN, the folder of the tools (default: the
repository's bin/); TMPDIR, where the shards' outputs are kept until they
are joined (as much room as the output takes, twice when it goes to stdout,
to gzip or to the binary form), and where --sort sorts.

Examples:
  scripts/sharded.sh --jobs 8 --input members.tsv -o emb.tsv -- meta-embed-export -m maml.model
  scripts/sharded.sh -i heldout.tsv.gz -o scored.tsv -- maml-score -m maml.model -e emb.tsv -q 0.2
  notif-sim --binary | scripts/sharded.sh --block 50M -- policy-act -m q.model -a greedy > acts.tsv
  scripts/sharded.sh --sshloginfile hosts.txt -i log.rec -o lists.tsv -- sga-rerank -m slot.model
EOF
}

# lib.sh's note, silenced by --quiet (complain, of lib.sh, is not: it is for
# the errors of the pipeline's subshells, which return rather than exit)
note() { [ "$quiet" -eq 1 ] || printf '%s: %s\n' "$prog" "$*" >&2; }

# $1 quoted for a POSIX shell
shquote() { printf "'%s'" "${1//\'/\'\\\'\'}"; }

# $1 as a word of a POSIX shell command: as it is when it is safe so
shword() {
    case $1 in
    '' | *[!A-Za-z0-9_./:,=@%+-]*) shquote "$1" ;;
    *) printf '%s' "$1" ;;
    esac
}

# ---- options ----

inputs=()
output=
binary=0
group_col=
jobs=
block=$DEFAULT_BLOCK
sort_rows=0
sshlogin=
sshloginfile=
basefiles=()
joblog=
verbose=0
quiet=0

while [ $# -gt 0 ]; do
    opt=$1
    case $opt in
    --*=*)
        # --name=value: split and reparse as two words
        name=${opt%%=*}
        shift
        set -- "$name" "${opt#*=}" "$@"
        continue
        ;;
    esac
    case $opt in
    -i | --input) need_arg "$opt" $#; inputs+=("$2"); shift ;;
    -i?*) inputs+=("${opt#-i}") ;;
    -o | --output) need_arg "$opt" $#; output=$2; [ -n "$output" ] || usage_error "empty output file name"; shift ;;
    -o?*) output=${opt#-o} ;;
    -b | --binary) binary=1 ;;
    -g | --group-col) need_arg "$opt" $#; group_col=$2; [ -n "$group_col" ] || usage_error "empty --group-col"; shift ;;
    -g?*) group_col=${opt#-g} ;;
    -j | --jobs) need_arg "$opt" $#; jobs=$2; shift ;;
    -j?*) jobs=${opt#-j} ;;
    --block) need_arg "$opt" $#; block=$2; shift ;;
    --sort) sort_rows=1 ;;
    --sshlogin) need_arg "$opt" $#; sshlogin=$2; shift ;;
    --sshloginfile) need_arg "$opt" $#; sshloginfile=$2; shift ;;
    --basefile) need_arg "$opt" $#; basefiles+=("$2"); shift ;;
    --joblog) need_arg "$opt" $#; joblog=$2; shift ;;
    -v | --verbose) verbose=1 ;;
    -q | --quiet) quiet=1 ;;
    --help) usage; exit 0 ;;
    --) shift; break ;;
    -?*) usage_error "unrecognized option '$opt'" ;;
    *) break ;; # TOOL
    esac
    shift
done
[ $# -ge 1 ] || usage_error "no TOOL to run"
tool=$1
shift
tool_args=("$@")
[ -n "$tool" ] || usage_error "empty TOOL name"
tool_name=$(basename -- "$tool")

[ -z "$jobs" ] || want_uint "$jobs" --jobs 1
if ! awk -v b="$block" 'BEGIN { exit !(b ~ /^([0-9]+\.?[0-9]*|\.[0-9]+)[kKmMgG]?$/ && b + 0 > 0) }'; then
    usage_error "invalid value '$block' for --block: want a size in bytes, e.g. 500k or 10M"
fi
case $group_col in
*[$'\t\n\r']*) usage_error "invalid value for --group-col: a column name holds no tab or line break" ;;
esac
check_sshlogin "$sshlogin" "$sshloginfile"
[ "$output" != - ] || output= # stdout
[ "${#inputs[@]}" -gt 0 ] || inputs=(-)
for f in "${inputs[@]}"; do
    [ -n "$f" ] || usage_error "empty --input file name"
done

# The tool's own options: what the script owns, what it adds, what it transfers.
tool_threads=0     # -j/--threads given
tool_quiet=0       # --quiet given
tool_files=()      # -m/--model (and maml-score's -e/--embeddings) values
request_col=       # sga-rerank --request-col
n=${#tool_args[@]}
for ((i = 0; i < n; i++)); do
    a=${tool_args[i]}
    next=
    [ $((i + 1)) -lt "$n" ] && next=${tool_args[i + 1]}
    case $a in
    --) break ;;
    -o | -o?* | --output | --output=*)
        usage_error "TOOL-ARGS must not set the output ('$a'): use $prog's -o" ;;
    -b | --binary)
        usage_error "TOOL-ARGS must not set '$a': use $prog's --binary" ;;
    -j | --threads) tool_threads=1 ;;
    -j?* | --threads=*) tool_threads=1 ;;
    --quiet) tool_quiet=1 ;;
    -m | --model) [ -z "$next" ] || tool_files+=("$next") ;;
    -m?*) tool_files+=("${a#-m}") ;;
    --model=*) tool_files+=("${a#--model=}") ;;
    esac
    if [ "$tool_name" = maml-score ]; then
        case $a in
        -e | --embeddings) [ -z "$next" ] || tool_files+=("$next") ;;
        -e?*) tool_files+=("${a#-e}") ;;
        --embeddings=*) tool_files+=("${a#--embeddings=}") ;;
        esac
    fi
    if [ "$tool_name" = sga-rerank ]; then
        case $a in
        --fit) usage_error "sga-rerank --fit is not a sharded stage: it fits one model on all the rows" ;;
        --request-col) request_col=$next ;;
        --request-col=*) request_col=${a#--request-col=} ;;
        esac
    fi
done

known=0
case $tool_name in
meta-embed-export | maml-score) known=1; default_col=member_id ;;
policy-act) known=1; default_col=episode ;;
sga-rerank) known=1; default_col=${request_col:-request_id} ;;
*) default_col= ;;
esac
if [ -z "$group_col" ]; then
    [ -n "$default_col" ] || usage_error "no default group column for '$tool_name': give --group-col"
    group_col=$default_col
fi

# ---- hosts ----

# A login is remote unless it is ':' (this machine), with or without a
# "N/" job count in front.
have_local=0
have_remote=0
logins_of() {
    if [ -n "$sshlogin" ]; then
        printf '%s\n' "$sshlogin" | tr ',' '\n'
    elif [ -n "$sshloginfile" ]; then
        grep -v '^[[:space:]]*\(#\|$\)' -- "$sshloginfile" | tr ',' '\n'
    fi
}
if [ -z "$sshlogin$sshloginfile" ]; then
    have_local=1
else
    while IFS= read -r login; do
        login=${login#"${login%%[![:space:]]*}"}
        login=${login%"${login##*[![:space:]]}"}
        [ -n "$login" ] || continue
        case $login in
        : | [0-9]*/:) have_local=1 ;;
        *) have_remote=1 ;;
        esac
    done < <(logins_of)
    [ "$have_local" -eq 1 ] || [ "$have_remote" -eq 1 ] || usage_error "no login in '${sshlogin:-$sshloginfile}'"
fi

# ---- checks ----

command -v parallel >/dev/null 2>&1 || die "GNU parallel is not installed (the Debian package 'parallel')"
require_tools rec-cat
if [ "$have_local" -eq 1 ]; then
    command -v -- "$tool" >/dev/null 2>&1 || die "'$tool': no such command in '$BINDIR' or PATH"
fi
for f in "${tool_files[@]}" "${basefiles[@]}"; do
    if [ ! -r "$f" ] || [ -d "$f" ]; then
        die "cannot read '$f'"
    fi
done

# The command each job runs: the header, the shard, into TOOL.
# Options the script adds go first, before any '--' of TOOL-ARGS.
tool_cmd=$(shword "$tool")
if [ "$known" -eq 1 ]; then
    if [ "$tool_threads" -eq 0 ] && { [ "$tool_name" = meta-embed-export ] || [ "$tool_name" = sga-rerank ]; }; then
        threads=1
        if [ -n "$jobs" ] && [ "$have_remote" -eq 0 ]; then
            ncores=$(nproc 2>/dev/null || echo 1)
            threads=$((ncores / jobs))
            [ "$threads" -ge 1 ] || threads=1
        fi
        tool_cmd="$tool_cmd --threads $threads"
    fi
    [ "$quiet" -eq 0 ] || [ "$tool_quiet" -eq 1 ] || tool_cmd="$tool_cmd --quiet"
fi
for a in "${tool_args[@]}"; do
    tool_cmd="$tool_cmd $(shword "$a")"
done
job_cmd="{ printf '%s\\n' \"\$SHARDED_HEADER\" && cat; } | $tool_cmd"

# ---- folders and cleanup ----

WORK=$(mktemp -d "${TMPDIR:-/tmp}/sharded.XXXXXX") || die "cannot create a work folder in '${TMPDIR:-/tmp}'"
out_tmp=
check_pid=
cleanup() {
    if [ -n "$check_pid" ]; then
        kill "$check_pid" 2>/dev/null || true
        wait "$check_pid" 2>/dev/null || true
    fi
    [ -z "$out_tmp" ] || rm -f -- "$out_tmp"
    rm -rf -- "$WORK"
}
on_exit cleanup

# Plain TSV to a file is written next to it and renamed; gzip, binary and
# stdout go through a file in WORK first, so that a failed run leaves
# nothing behind and prints nothing.
case $output in
'' | *.gz) direct=0 ;;
*) direct=$((1 - binary)) ;;
esac
if [ "$direct" -eq 1 ]; then
    out_dir=$(dirname -- "$output")
    [ -d "$out_dir" ] || die "cannot write '$output': no folder '$out_dir'"
    out_tmp=$(mktemp "$out_dir/.$(basename -- "$output").XXXXXX") || die "cannot write in '$out_dir'"
    rows_file=$out_tmp
else
    rows_file=$WORK/output.tsv
fi
[ -n "$joblog" ] || joblog=$WORK/joblog

# ---- the parallel command ----

# Each job's stdout and stderr are kept in WORK/res/SEQ/ (--results) and
# joined here in job order, rather than printed with --keep-order: under
# --halt now, GNU parallel sometimes drops the buffered stderr of the job
# that failed, which is the message that says why.
par=(parallel --will-cite --pipe --halt 'now,fail=1' --tmpdir "$WORK" --joblog "$joblog"
    --results "$WORK/res/{#}/")
[ -z "$jobs" ] || par+=(--jobs "$jobs")
[ -z "$sshlogin" ] || par+=(--sshlogin "$sshlogin")
[ -z "$sshloginfile" ] || par+=(--sshloginfile "$sshloginfile")
if [ "$have_remote" -eq 1 ]; then
    par+=(--env SHARDED_HEADER)
    for f in "${tool_files[@]}" "${basefiles[@]}"; do
        par+=(--basefile "$f")
    done
fi

# words for a message, quoted where the shell needs it
show_cmd() {
    local w out=
    for w in "$@"; do
        out="$out $(shword "$w")"
    done
    printf '%s\n' "${out# }"
}

# shard: stdin the converted stream, header first; runs the shards and
# writes WORK/header.  Runs in a pipeline's subshell: it reports its own
# errors and returns non-zero.
shard() {
    local header col
    # no header line: rec-cat has said why
    IFS= read -r header || return 1
    printf '%s\n' "$header" >"$WORK/header"
    col=$(printf '%s\n' "$header" | awk -F'\t' -v c="$group_col" '{ for (i = 1; i <= NF; i++) if ($i == c) { print i; exit } }')
    if [ -z "$col" ]; then
        complain "no group column '$group_col' in the input (columns: ${header//$TAB/, })"
        return 1
    fi
    SHARDED_HEADER=$header
    export SHARDED_HEADER
    [ "$verbose" -eq 0 ] || note "running: $(show_cmd "${par[@]}" --group-by "$col" --block "$block" "$job_cmd")"
    if [ "$sort_rows" -eq 1 ]; then
        sort -s -t "$TAB" -k "$col,$col" -T "$WORK"
    else
        cat
    fi | "${par[@]}" --group-by "$col" --block "$block" "$job_cmd"
}

# the job numbers of the joblog, in order
logged_jobs() { awk -F'\t' 'NR > 1 && $1 ~ /^[0-9]+$/ { print $1 }' "$joblog" | sort -n; }

# the tools' messages, job by job, then which jobs failed
report_jobs() {
    local s
    if [ -d "$WORK/res" ]; then
        for s in $(find "$WORK/res" -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -n); do
            [ ! -s "$WORK/res/$s/stderr" ] || cat -- "$WORK/res/$s/stderr" >&2
        done
    fi
    [ -f "$joblog" ] || return 0
    tail -n +2 -- "$joblog" | sort -t "$TAB" -k1,1n | awk -F'\t' -v prog="$prog" -v verbose="$verbose" '
        $1 ~ /^[0-9]+$/ {
            host = $2 == ":" ? "this machine" : $2
            # signal 13 (SIGPIPE): the job stopped reading its shard; on a
            # remote host, most often because it never started (GNU
            # parallel runs it there with $SHELL, which ssh sets)
            if ($7 != 0 || $8 != 0)
                printf "%s: shard %d failed on %s: exit %d%s%s\n", prog, $1, host, $7, $8 != 0 ? ", signal " $8 : "",
                    $8 == 13 ? " (the job stopped reading its input" ($2 != ":" ? "; did it start on " $2 "? the tool, its files and $SHELL must be there)" : ")") : "" > "/dev/stderr"
            else if (verbose)
                printf "%s: shard %d on %s: %.2f s, %d bytes in, %d bytes out\n", prog, $1, host, $4, $5, $6 > "/dev/stderr"
        }' || true
}

started=$(now)
note "running $tool_name over shards of ~$block grouped by $group_col${jobs:+, $jobs jobs}${sshlogin:+ on $sshlogin}${sshloginfile:+ on the hosts of $sshloginfile} ..."

# The grouping check reads a copy of the stream from a fifo.
check=0
if [ "$sort_rows" -eq 0 ]; then
    check=1
    mkfifo "$WORK/check.fifo"
    rec-cat --quiet --group-check "$group_col" <"$WORK/check.fifo" >/dev/null 2>"$WORK/check.err" &
    check_pid=$!
fi

set +e
if [ "$check" -eq 1 ]; then
    rec-cat --quiet -- "${inputs[@]}" | tee -- "$WORK/check.fifo" | shard
    st=("${PIPESTATUS[@]}")
    conv_rc=${st[0]} shard_rc=${st[2]}
else
    rec-cat --quiet -- "${inputs[@]}" | shard
    st=("${PIPESTATUS[@]}")
    conv_rc=${st[0]} shard_rc=${st[1]}
fi
check_rc=0
if [ "$check" -eq 1 ]; then
    wait "$check_pid"
    check_rc=$?
    check_pid=
fi
set -e

# interrupted (SIGINT, SIGTERM to the process group): exit as the signal says
for rc in "${st[@]}"; do
    case $rc in 130 | 143) exit "$rc" ;; esac
done
report_jobs
if [ "$check_rc" -ne 0 ] && grep -q 'appears again' "$WORK/check.err"; then
    cat "$WORK/check.err" >&2
    die "the input is not grouped by '$group_col': group its rows first, or use --sort"
fi
# rec-cat killed by SIGPIPE (141): the shards stopped reading, for a reason
# of their own, reported above
if [ "$conv_rc" -ne 0 ] && [ "$conv_rc" -ne 141 ]; then
    die "cannot read the input"
fi
[ "$shard_rc" -eq 0 ] || die "the sharded run of $tool_name failed"
[ "$conv_rc" -eq 0 ] || die "reading the input failed (exit $conv_rc)"
if [ "$check_rc" -ne 0 ]; then
    cat "$WORK/check.err" >&2
    die "checking that the input is grouped by '$group_col' failed"
fi

shards=$(logged_jobs | wc -l)
if [ "$shards" -eq 0 ]; then
    # No rows, no shards: the tool's output for the header alone.
    rm -rf -- "$WORK/res"
    SHARDED_HEADER=$(cat "$WORK/header")
    export SHARDED_HEADER
    if ! "${par[@]}" "$tool_cmd" <"$WORK/header"; then
        report_jobs
        die "$tool_name failed on the header line alone"
    fi
    report_jobs
    [ "$(logged_jobs | wc -l)" -eq 1 ] || die "$tool_name did not run on the header line alone"
fi

# ---- join the outputs ----

# Job numbers are 1..shards; each output starts with the same header line.
: >"$rows_file"
first=
for ((s = 1; s <= (shards > 0 ? shards : 1); s++)); do
    f=$WORK/res/$s/stdout
    [ -s "$f" ] || die "shard $s wrote no output (not even a header line)"
    IFS= read -r line <"$f" || true
    if [ "$s" -eq 1 ]; then
        first=$line
        cat -- "$f" >>"$rows_file" || die "cannot write the output"
    else
        [ "$line" = "$first" ] || die "shard $s wrote another header line than shard 1: '$line'"
        tail -n +2 -- "$f" >>"$rows_file" || die "cannot write the output"
    fi
    rm -f -- "$f"
done
rows=$(($(wc -l <"$rows_file") - 1))

# ---- publish ----

if [ -z "$output" ]; then
    if [ "$binary" -eq 1 ]; then
        rec-cat --quiet --binary -- "$rows_file" || die "cannot write the output"
    else
        cat -- "$rows_file" || die "cannot write the output"
    fi
elif [ "$direct" -eq 1 ]; then
    chmod "$(printf '%o' $((0666 & ~$(umask))))" -- "$out_tmp" || die "cannot write '$output'"
    sync -- "$out_tmp" || die "cannot write '$output'"
    mv -f -- "$out_tmp" "$output" || die "cannot write '$output'"
    out_tmp=
else
    fmt=()
    [ "$binary" -eq 0 ] || fmt=(--binary)
    rec-cat --quiet "${fmt[@]}" -o "$output" -- "$rows_file" || die "cannot write '$output'"
fi
where=
[ -z "$output" ] || where=" into '$output'"
if [ "$shards" -eq 0 ]; then
    note "ran $tool_name on the header line alone: $rows output rows in $(since "$started") s$where"
else
    note "ran $tool_name on $shards shard(s): $rows output rows in $(since "$started") s$where"
fi
