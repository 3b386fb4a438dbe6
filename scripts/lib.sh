# lib.sh - the helpers that notify-ope.sh, rerank.sh, personalize.sh and
# sharded.sh share.  Sourced (bash), never run; each script sets `prog` (its
# name in messages) first, and sources this file from the folder it is in:
#
#   . "$(dirname -- "$(readlink -f -- "$0")")/lib.sh"
#
# On sourcing it sets ROOT, the folder above the script's (from $0 as
# invoked), BINDIR, the tools' folder (RECSTAGE_BIN, else ROOT/bin), and puts
# BINDIR first in PATH.
#
# Messages, on stderr, "PROG: TEXT":
#   die TEXT...             print, exit 1
#   usage_error TEXT...     print, then "Try 'SCRIPT --help' ...", exit 2
#   note TEXT...            a progress message (sharded.sh redefines it to
#                           honour --quiet)
#   complain TEXT...        an error message that --quiet does not silence,
#                           for code that returns rather than exits
#
# Time:
#   now                     the time in seconds, with a fraction
#   since T                 the seconds since T (a value of now), one decimal
#
# Options and their values:
#   need_arg OPT N          usage error unless N (the words left, $#) >= 2
#   is_uint V               V is a non-negative integer (digits only)
#   is_num V                V is a plain non-negative decimal number
#   want_uint V OPT MIN     usage error "invalid value 'V' for OPT: want ..."
#                           unless V is an integer >= MIN (MIN 0, 1 or more)
#   check_sshlogin L F      usage error when both --sshlogin L and
#                           --sshloginfile F are given, or F is not readable
#   abs_path F              F with its folder made absolute
#   require_tools TOOL...   die unless every TOOL is in BINDIR, built
#   summarize_and_exit F    --summarize F: print summarize F (each script's
#                           own function) and exit 0, or die
#
# The experiment's folders (globals: outdir, keep, succeeded, WORK):
#   make_work_folder DIR    create DIR and WORK=DIR/work.XXXXXX in it
#   cleanup_work            at exit: remove WORK; with --keep, move it to
#                           OUTDIR/work after a success, else keep it
#   on_exit FUNCTION        run FUNCTION at exit, also after SIGINT (exit
#                           130) and SIGTERM (exit 143)
#
# GNU parallel:
#   detect_parallel HOSTS SERIAL
#                           use_parallel=1 when GNU parallel is installed;
#                           else die when HOSTS (--sshlogin or
#                           --sshloginfile) is set, or warn that the run is
#                           SERIAL ("evaluating ... one at a time")
#   run_parallel JOBS ARG...
#                           parallel ARG... with JOBS jobs, bash as the shell
#                           of the jobs (they run exported functions), a halt
#                           at the first failure and whole output lines
#   grid_run FUNCTION N [PARALLEL-OPTION]...
#                           FUNCTION COLUMN1..COLUMN-N in WORK for every line
#                           of WORK/grid.tsv (tab-separated): side by side
#                           with run_parallel $jobs (and the options, e.g.
#                           --sshlogin) when use_parallel is 1, else one at a
#                           time; non-zero when one fails
#
# The plot and the outputs (globals: plot, plot_tmp, outdir, WORK):
#   have_gnuplot            true when gnuplot is installed, else warns that
#                           there is no plot
#   png_terminal MODE       gnuplot's terminal for results.png: pngcairo MODE
#                           (enhanced or noenhanced) when it has it, else png
#   gnuplot_draw            run gnuplot in WORK on the script on stdin, which
#                           must draw $plot_tmp; die when it does not
#   publish TMP DEST        rename TMP to DEST, or die "cannot write 'DEST'"
#   publish_plot            publish $plot_tmp as OUTDIR/results.png when plot
#                           is 1, else remove a stale OUTDIR/results.png
#
# AWK_STATS, awk functions to put in front of an awk program: isnum(x);
# fail(msg), which prints "PROG: FILE: MSG", sets bad and exits (the program
# takes -v prog=... and its END starts with `if (bad) exit 1`); ranks(v, r,
# m), average ranks; pearson(a, b, m), the correlation to 4 places or NA.

# file-wide (before the first command): prog, outdir, keep, ... are the
# sourcing script's variables
# shellcheck shell=bash disable=SC2154

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BINDIR=${RECSTAGE_BIN:-$ROOT/bin}
PATH="$BINDIR:$PATH"
export PATH

# ---- messages ----

die() {
    printf '%s: %s\n' "$prog" "$*" >&2
    exit 1
}

usage_error() {
    printf '%s: %s\n' "$prog" "$*" >&2
    printf "Try '%s --help' for more information.\n" "$0" >&2
    exit 2
}

# note and complain are alike but separate: the scripts export note (and
# not complain) to GNU parallel's jobs
note() { printf '%s: %s\n' "$prog" "$*" >&2; }

complain() { printf '%s: %s\n' "$prog" "$*" >&2; }

# ---- time ----

now() { printf '%s\n' "${EPOCHREALTIME:-$(date +%s.%N)}"; }

# seconds since $1, one decimal
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# ---- options and their values ----

need_arg() {
    [ "$2" -ge 2 ] || usage_error "option '$1' requires an argument"
}

is_uint() { case $1 in '' | *[!0-9]*) return 1 ;; *) return 0 ;; esac; }

# a plain non-negative decimal number (1, 0.5, .5, 3e-4)
is_num() { awk -v x="$1" 'BEGIN { exit !(x ~ /^([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$/) }'; }

want_uint() {
    case $3 in
    0) is_uint "$1" || usage_error "invalid value '$1' for $2: want a non-negative integer" ;;
    1)
        if ! is_uint "$1" || [ "$1" -lt 1 ]; then
            usage_error "invalid value '$1' for $2: want a positive integer"
        fi
        ;;
    *)
        if ! is_uint "$1" || [ "$1" -lt "$3" ]; then
            usage_error "invalid value '$1' for $2: want an integer >= $3"
        fi
        ;;
    esac
}

check_sshlogin() {
    [ -z "$1" ] || [ -z "$2" ] || usage_error "give --sshlogin or --sshloginfile, not both"
    if [ -n "$2" ] && { [ ! -r "$2" ] || [ -d "$2" ]; }; then
        usage_error "cannot read the --sshloginfile '$2'"
    fi
}

abs_path() { printf '%s\n' "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"; }

require_tools() {
    local t
    for t in "$@"; do
        [ -x "$BINDIR/$t" ] || die "'$BINDIR/$t' is missing: run 'make' in '$ROOT' first"
    done
}

summarize_and_exit() {
    [ -n "$1" ] || usage_error "empty file name for --summarize"
    if [ ! -r "$1" ] || [ -d "$1" ]; then
        die "cannot read '$1'"
    fi
    summarize "$1" || die "cannot summarize '$1'"
    exit 0
}

# ---- the experiment's folders ----

# The results are written in the work folder, which is inside OUTDIR, and
# renamed into place at the end.
make_work_folder() {
    mkdir -p -- "$1" || die "cannot create output folder '$1'"
    WORK=$(mktemp -d "$1/work.XXXXXX") || die "cannot create a work folder in '$1'"
}

cleanup_work() {
    if [ "$keep" -eq 0 ]; then
        rm -rf -- "$WORK"
    elif [ "$succeeded" -eq 1 ]; then
        rm -rf -- "$outdir/work"
        mv -- "$WORK" "$outdir/work" && note "intermediate files kept in '$outdir/work'"
    else
        note "intermediate files kept in '$WORK'"
    fi
}

on_exit() {
    # shellcheck disable=SC2064 # the function's name, now
    trap "$1" EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

# ---- GNU parallel ----

detect_parallel() {
    use_parallel=0
    if command -v parallel >/dev/null 2>&1; then
        use_parallel=1
    elif [ -n "$1" ]; then
        die "--sshlogin and --sshloginfile need GNU parallel, which is not installed"
    else
        note "warning: GNU parallel is not installed: $2"
    fi
}

run_parallel() {
    local njobs=$1
    shift
    PARALLEL_SHELL=$BASH parallel --will-cite --jobs "$njobs" --halt now,fail=1 --line-buffer "$@"
}

grid_run() {
    local func=$1 ncols=$2 i cols columns=()
    shift 2
    if [ "$use_parallel" -eq 1 ]; then
        for ((i = 1; i <= ncols; i++)); do
            columns+=("{$i}")
        done
        (cd "$WORK" && run_parallel "$jobs" --colsep '\t' "$@" "$func" "${columns[@]}" :::: grid.tsv)
    else
        while IFS=$'\t' read -r -a cols; do
            (cd "$WORK" && "$func" "${cols[@]:0:ncols}") || return 1
        done <"$WORK/grid.tsv"
    fi
}

# ---- the plot and the outputs ----

have_gnuplot() {
    command -v gnuplot >/dev/null 2>&1 && return 0
    note "warning: gnuplot is not installed: no plot (install gnuplot-nox)"
    return 1
}

png_terminal() {
    if gnuplot -e 'set terminal' 2>&1 | grep -q '^ *pngcairo '; then
        printf '%s\n' "pngcairo $1 font \"sans,10\""
    else
        printf '%s\n' png
    fi
}

# in the work folder, so that no path is quoted inside the gnuplot script
gnuplot_draw() {
    (cd "$WORK" && gnuplot) || die "gnuplot failed to draw '$plot_tmp'"
    [ -s "$plot_tmp" ] || die "gnuplot wrote no image"
}

publish() { mv -f -- "$1" "$2" || die "cannot write '$2'"; }

publish_plot() {
    if [ "$plot" -eq 1 ]; then
        publish "$plot_tmp" "$outdir/results.png"
    else
        rm -f -- "$outdir/results.png" # a stale plot would not match the table
    fi
}

# ---- awk ----

# shellcheck disable=SC2034 # used by the sourcing scripts
AWK_STATS='
    function isnum(x) { return x ~ /^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$/ }
    function fail(msg) { printf "%s: %s: %s\n", prog, FILENAME, msg > "/dev/stderr"; bad = 1; exit 1 }
    # average ranks of v[1..m] into r[1..m]
    function ranks(v, r, m,   i, j, below, ties) {
        for (i = 1; i <= m; i++) {
            below = 0; ties = 0
            for (j = 1; j <= m; j++) { if (v[j] < v[i]) below++; else if (v[j] == v[i]) ties++ }
            r[i] = 1 + below + (ties - 1) / 2
        }
    }
    # Pearson correlation of a[1..m] and b[1..m]; "NA" when one is constant
    function pearson(a, b, m,   i, ma, mb, sab, saa, sbb) {
        if (m < 2) return "NA"
        for (i = 1; i <= m; i++) { ma += a[i]; mb += b[i] }
        ma /= m; mb /= m
        for (i = 1; i <= m; i++) {
            sab += (a[i] - ma) * (b[i] - mb); saa += (a[i] - ma) ^ 2; sbb += (b[i] - mb) ^ 2
        }
        if (saa == 0 || sbb == 0) return "NA"
        return sprintf("%.4f", sab / sqrt(saa * sbb))
    }
'
