#!/bin/sh
# shellcheck disable=SC2016 # bash -c programs in single quotes
# install: `make install DESTDIR=... PREFIX=/usr` puts exactly the tools,
# the manual pages and the bash completion in place, without building or
# writing anything in the tree; the installed tools run and print their
# version, the pages render with man, the completion completes; and
# `make uninstall` removes every file again.
#
# It installs the build under test: BUILD (as tests/run gets it from make;
# when unset, BIN/.. if that holds the library, else build) and BIN, the
# tools' folder tests/run exports, passed to make as BINDIR_BUILD.  So
# `make check SANITIZE=1` installs build-san/bin.  The build must be up to
# date (make check builds first); if it is not, the test fails rather than
# build into the tree.
. "$(dirname "$0")/../lib.sh"
cd "$ROOT"
# a make of our own, not a sub-make of `make check`: its flags
# (DEVELOPER=1, SANITIZE=1, -j) do not apply
unset MAKEFLAGS MFLAGS MAKELEVEL GNUMAKEFLAGS

if [ -z "${BUILD:-}" ]; then
    BUILD=build
    case $BIN in */bin) [ ! -f "${BIN%/bin}/librecstage.a" ] || BUILD=${BIN%/bin} ;; esac
fi
case $BUILD in "$ROOT"/*) BUILD=${BUILD#"$ROOT"/} ;; esac
is_exec() { [ -f "$1" ] && [ -x "$1" ] && [ ! -L "$1" ]; }
mk() { make -C "$ROOT" --no-print-directory BUILD="$BUILD" BINDIR_BUILD="$BIN" "$@"; }

tools=$(for f in tools/*.c; do basename "$f" .c; done)
version=$(sed -n 's/^#define RECSTAGE_VERSION "\(.*\)"$/\1/p' common/cli.h)
DEST=$T/root
COMP=$DEST/usr/share/bash-completion/completions

t_run mk -q all
t_status "the build is up to date (BUILD=$BUILD BIN=$BIN): install builds nothing" 0
if [ "$RC" -ne 0 ]; then
    t_done
    exit 1
fi

touch "$T/stamp"
t_run mk install DESTDIR="$DEST" PREFIX=/usr
t_status "make install DESTDIR=\$T/root PREFIX=/usr" 0
t_run find "$ROOT" -path "$T" -prune -o -newer "$T/stamp" -print
t_out_is "make install writes nothing in the tree" ""

# exactly these files
for t in $tools; do
    echo "usr/bin/$t"
    echo "usr/share/bash-completion/completions/$t"
done >"$T/want"
echo usr/share/bash-completion/completions/recstage >>"$T/want"
for page in man/man*/*.[1-9]; do
    [ -f "$page" ] || continue
    echo "usr/share/$page" >>"$T/want"
done
sort -o "$T/want" "$T/want"
(cd "$DEST" && find . ! -type d | sed 's|^\./||' | sort) >"$T/got"
ERR=$(diff "$T/want" "$T/got" || true)
t_ok "installs exactly the tools, man pages and completion (-want +got above)" cmp -s "$T/want" "$T/got"

# the tools: the binaries under test, executable, reporting their version
t_ok "RECSTAGE_VERSION read from common/cli.h" test -n "$version"
for t in $tools; do
    f=$DEST/usr/bin/$t
    ERR=
    t_ok "$t installed executable" is_exec "$f"
    t_ok "$t installed from $BIN" cmp -s "$BIN/$t" "$f"
    t_run "$f" --version
    t_status "$t --version" 0
    t_out_is "$t --version prints '$t (recstage) $version'" "$t (recstage) $version"
done

# the manual: every page, rendered by man (man-db) or else groff
export MANWIDTH=80 MAN_DISABLE_SECCOMP=1
if command -v man >/dev/null 2>&1; then
    render() { man -l "$1"; }
elif command -v groff >/dev/null 2>&1; then
    render() { groff -man -Tutf8 "$1"; }
else
    render() { echo "neither man nor groff is installed" >&2; return 1; }
fi
layout="^(troff: )?warning: file '[^']*', around line [0-9]+:\$|^ *table wider than line width\$|warning: page [0-9]+: table text block will not fit on one page\$"
pages=0
for page in man/man*/*.[1-9]; do
    [ -f "$page" ] || continue
    pages=$((pages + 1))
    f=$DEST/usr/share/$page
    ERR=
    t_ok "$page installed in /usr/share/$(dirname "$page")" cmp -s "$page" "$f"
    t_run render "$f"
    t_status "man -l on the installed $page" 0
    # man exits 0 whatever tbl and troff say, so any message is an error,
    # but for the layout warnings of a table too wide for 80 columns or a
    # text block too long for a page: those are noted in the log
    grep -E "$layout" "$T/err" | sed "s|^|note: $page: |" || true
    ERR=$(grep -vE "$layout" "$T/err" || true)
    t_ok "man -l on the installed $page reports no error" test -z "$ERR"
    t_ok "$page renders to text" test -n "$OUT"
done
ERR=
t_ok "manual pages found under man/" test "$pages" -gt 0

# the completion: one file, and a symlink to it per tool, since
# bash-completion loads a completion from the file named after the command
ERR=
t_ok "completion installed as completions/recstage" cmp -s "$BUILD/completion/recstage" "$COMP/recstage"
for t in $tools; do
    ERR=
    t_ok "completions/$t links to recstage" test "$(readlink "$COMP/$t" || true)" = recstage
    t_run bash -c '. "$1" && complete -p "$2"' sh "$COMP/$t" "$t"
    t_status "sourcing completions/$t registers $t" 0
    t_out_has "$t completes with a function" "-F "
done

# complete CWORD WORD...: the completions of WORDS[CWORD] on a line of
# WORDS (split as bash does, with "=" a word of its own), one a line
cat >"$T/complete.bash" <<'EOF'
. "$COMPFILE" || exit 1
cword=$1
shift
COMP_WORDS=("$@")
COMP_CWORD=$cword
COMP_LINE="$*"
COMP_POINT=${#COMP_LINE}
spec=$(complete -p "$1") || exit 1
fn=${spec#*-F }
fn=${fn%% *}
"$fn" "$1" "${COMP_WORDS[cword]}" "${COMP_WORDS[cword - 1]}" || exit 1
printf '%s\n' "${COMPREPLY[@]}" | sort
EOF
# comp CWORD WORD...: completions in $OUT, one a line, sorted
comp() { t_run env COMPFILE="$COMP/recstage" bash "$T/complete.bash" "$@"; }
nl='
'
comp 1 smis-ope --bi
t_out_is "smis-ope --bi<TAB> offers --binary --binning --bins" "--binary$nl--binning$nl--bins"
comp 1 smis-ope -
t_out_has "smis-ope -<TAB> offers the short options" "-o"
t_out_has "smis-ope -<TAB> offers the long options" "--output"
comp 2 smis-ope --binning ""
t_out_is "smis-ope --binning <TAB> offers its values" "quantile${nl}uniform"
comp 3 smis-ope --binning = q
t_out_is "smis-ope --binning=q<TAB> offers quantile" "quantile"
comp 2 smis-ope -E smis,w
t_out_is "smis-ope -E smis,w<TAB> completes the list's last word" "smis,wpdis"
comp 2 replay-eval --match ""
t_out_is "replay-eval --match <TAB> (values with asides)" "list${nl}prefix${nl}slot"
comp 2 multislot-sim --click-model ""
t_out_is "multislot-sim --click-model <TAB>" "cascade${nl}position"
comp 2 cql-ddqn-train --loss ""
t_out_is "cql-ddqn-train --loss <TAB>" "huber${nl}mse"
comp 2 maml-train -M ""
t_out_is "maml-train -M <TAB> (short option, four values)" "finetune${nl}global${nl}maml${nl}wide-deep"
comp 1 rec-cat --sch
t_out_is "rec-cat --sch<TAB>" "--schema"
mkdir "$T/cwd" "$T/cwd/sub"
: >"$T/cwd/log.tsv"
: >"$T/cwd/q.model"
cd "$T/cwd"
comp 1 rec-cat ""
t_out_is "rec-cat <TAB> offers files" "log.tsv${nl}q.model${nl}sub"
comp 2 smis-ope -m q
t_out_is "smis-ope -m q<TAB> completes a file" "q.model"
comp 2 smis-ope --bins ""
t_out_is "a value without fixed words completes files" "log.tsv${nl}q.model${nl}sub"
comp 2 rec-cat -- -
t_out_is "rec-cat -- -<TAB> offers no options" ""
cd "$ROOT"
# every long option of the help text and of the getopt table
for t in $tools; do
    comp 1 "$t" --
    printf '%s\n' "$OUT" >"$T/offered"
    "$BIN/$t" --help | grep -oE '^ {1,8}(-[A-Za-z0-9], )?--[A-Za-z0-9-]+' |
        grep -oE -- '--[A-Za-z0-9-]+' | sort -u >"$T/help-opts"
    grep -oE '\{"[A-Za-z0-9-]+", *(no|required|optional)_argument' "tools/$t.c" |
        sed 's/{"\([^"]*\)".*/--\1/' | sort -u >"$T/src-opts"
    ERR=$(comm -23 "$T/help-opts" "$T/offered" | tr '\n' ' ')
    t_ok "$t --<TAB> offers every long option of its --help" test -z "$ERR"
    ERR=$(comm -23 "$T/src-opts" "$T/offered" | tr '\n' ' ')
    t_ok "$t --<TAB> offers every long option of tools/$t.c" test -z "$ERR"
    t_ok "$t: options found in --help and tools/$t.c" test -s "$T/help-opts" -a -s "$T/src-opts"
done

# bash-completion's own loader, when it is installed, finds the completion
# by command name
bc=/usr/share/bash-completion/bash_completion
if [ -f "$bc" ]; then
    t_run bash -c '. "$1"; XDG_DATA_DIRS=$2
        if declare -F _comp_load >/dev/null; then _comp_load smis-ope; else __load_completion smis-ope; fi &&
        complete -p smis-ope' sh "$bc" "$DEST/usr/share"
    t_status "bash-completion loads the completion of smis-ope" 0
    t_out_has "bash-completion loads the completion of smis-ope" "-F "
fi

t_run mk uninstall DESTDIR="$DEST" PREFIX=/usr
t_status "make uninstall DESTDIR=\$T/root PREFIX=/usr" 0
t_run find "$DEST" ! -type d
t_out_is "make uninstall leaves only empty folders" ""
t_run find "$ROOT" -path "$T" -prune -o -newer "$T/stamp" -print
t_out_is "install and uninstall wrote nothing in the tree" ""
t_done
