#!/bin/sh
# rec-cat: conversions, selection, inspection, validation, and every error
# path of SPEC section 3 (exit codes, messages with file and line, /dev/full,
# no partial output).
. "$(dirname "$0")/../lib.sh"
S=$ROOT/data-samples/interactions.tsv

t_run rec-cat --help
t_status "--help exits 0" 0
t_out_has "--help prints usage to stdout" "Usage: rec-cat"
t_run rec-cat --version
t_status "--version exits 0" 0
t_out_has "--version names the suite" "(recstage)"
t_run rec-cat --bogus
t_status "bad option exits 2" 2
t_err_has "bad option hint" "Try 'rec-cat --help'"
t_run rec-cat --head abc "$S"
t_status "bad option value exits 2" 2
t_err_has "bad value names the option" "invalid value 'abc' for --head"

# identity and round trips
t_run rec-cat "$S"
t_status "tsv to tsv" 0
t_ok "tsv to tsv is byte-identical" cmp -s "$T/out" "$S"
rec-cat --binary -o "$T/s.rec" "$S"
rec-cat -o "$T/back.tsv" "$T/s.rec"
t_ok "tsv -> binary -> tsv is byte-identical" cmp -s "$T/back.tsv" "$S"
rec-cat -o "$T/s.tsv.gz" "$S"
t_ok "gzip output is gzip" sh -c "gzip -dc '$T/s.tsv.gz' | cmp -s - '$S'"
t_run sh -c "cat '$T/s.tsv.gz' | rec-cat --binary | rec-cat"
t_ok "gzip -> binary through pipes -> tsv" cmp -s "$T/out" "$S"
gzip -c "$T/s.rec" > "$T/s.rec.gz"
t_run rec-cat "$T/s.rec.gz"
t_ok "gzip-compressed binary stream detected" cmp -s "$T/out" "$S"
tr '\t' ',' < "$S" > "$T/s.csv"
t_run rec-cat "$T/s.csv"
t_ok "csv input converts to the same tsv" cmp -s "$T/out" "$S"
printf 'a,b\r\n"x, y",2\r\n"say ""hi""",3' > "$T/q.csv"
t_run rec-cat "$T/q.csv"
t_out_is "quoted csv with CRLF and no final newline" "$(printf 'a\tb\nx, y\t2\nsay "hi"\t3')"

t_run sh -c "rec-cat --binary '$T/s.rec' | cmp - '$T/s.rec'"
t_status "binary -> binary (whole blocks) is byte-identical" 0
t_run sh -c "rec-cat --binary --columns 'x_1,member_id,label' '$T/s.rec' | rec-cat"
t_ok "binary block copy with a column selection" test "$OUT" = "$(rec-cat --columns 'x_1,member_id,label' "$S")"
cat "$T/s.rec" "$T/s.rec" > "$T/twice.rec"
t_run sh -c "rec-cat --binary '$T/twice.rec' | rec-cat | wc -l"
t_out_is "concatenated binary streams copy as one" "$((2 * $(wc -l < "$S") - 1))"

# text -> binary -> text is exact even for numbers in non-canonical forms
printf 'v\tw\tz\n007\t0.5\t9007199254740993\n+1\t1000000\t0.5\n0.50\t1e3\t.5\n1e+06\t0.100000009\t-0\n' > "$T/odd.tsv"
t_run sh -c "rec-cat --binary '$T/odd.tsv' | rec-cat"
t_ok "odd number forms survive the binary form unchanged" test "$OUT" = "$(cat "$T/odd.tsv")"
printf 'big\n9007199254740993\n0.5\n' > "$T/big.tsv"
t_run sh -c "rec-cat --binary '$T/big.tsv' | rec-cat"
t_out_is "an integer beyond 2^53 beside a fraction is not rounded" "$(cat "$T/big.tsv")"
printf '\357\273\277"a",b\n1,2\n' > "$T/bom.csv"
t_run rec-cat "$T/bom.csv"
t_out_is "byte order mark before a quoted CSV header" "$(printf 'a\tb\n1\t2')"
printf 'a\n1\n\n3\n' > "$T/one.tsv"
t_run rec-cat --check "$T/one.tsv"
t_err_has "a blank line in a one-column table is a missing value" "one.tsv:3: column 'a': missing value"
printf 'a\tb\nyes\t1\n2\t2\n3\t3\n' > "$T/first.tsv"
t_run rec-cat --check "$T/first.tsv"
t_status "a bad first value in a numeric column fails --check" 1
t_err_has "the first value is named" "first.tsv:2: column 'a': cannot parse 'yes' as a number (0 good rows before)"
t_run rec-cat --check -o "$T/x.tsv" "$S"
t_status "-o with --check is a usage error" 2
t_run rec-cat --columns label,label "$S"
t_status "duplicate output column exits 1" 1
t_err_has "duplicate output column named" "duplicate output column 'label'"
t_run rec-cat --no-such-option "$S"
t_err_has "getopt's message uses the short name" "rec-cat: unrecognized option"

# selection
t_run rec-cat --columns 'label,x_*' --head 2 "$S"
t_status "columns and head" 0
t_out_is "columns in list order, glob in file order" "$(printf 'label\tx_0\tx_1\tx_2\tx_3\n0\t-1.4974\t-0.2142\t-0.1368\t0.6053\n0\t0.4041\t0.4578\t1.3746\t-0.6778')"
t_run rec-cat -c nope "$S"
t_status "missing column exits 1" 1
t_err_has "missing column lists the columns" "no column 'nope' (columns: member_id, ts, label, m_0"
t_run rec-cat --head 0 "$S"
t_out_is "head 0 keeps the header" "$(head -n 1 "$S")"
t_run rec-cat "$S" "$T/s.rec"
t_status "two inputs" 0
t_ok "two inputs concatenate" test "$(printf '%s\n' "$OUT" | wc -l)" -eq $((2 * $(wc -l < "$S") - 1))
printf 'a\tb\n1\t2\n' > "$T/other.tsv"
t_run rec-cat "$S" "$T/other.tsv"
t_status "inputs with other columns exit 1" 1
t_err_has "other columns named" "other.tsv: columns differ"

# inspection
t_run rec-cat --schema "$S"
t_out_has "schema: member_id is text" "$(printf 'member_id\tstr\t0')"
t_out_has "schema: ts is i64" "$(printf 'ts\ti64\t0')"
t_out_has "schema: x_0 is f32" "$(printf 'x_0\tf32\t0')"
t_run rec-cat --check --group-check member_id "$S"
t_status "check passes on the sample" 0
t_out_is "check reports rows, columns, groups" "$(printf 'input\trows\tcolumns\tgroups\n%s\t318\t11\t40' "$S")"
t_run rec-cat --check --group-check member_id "$T/s.rec"
t_out_has "check on binary input" "$(printf '\t318\t11\t40')"

# bad data: exit 1, file:line: column, no output left behind
awk -F'\t' -v OFS='\t' 'NR==5{$3="yes"}1' "$S" > "$T/bad.tsv"
t_run rec-cat --check "$T/bad.tsv"
t_status "non-numeric label fails check" 1
t_err_has "message names file, line and column" "bad.tsv:5: column 'label': cannot parse 'yes' as a number"
t_err_has "message counts good rows" "3 good rows before"
sed '7s/\t-\{0,1\}[0-9.]*$/\tnan/' "$S" > "$T/nan.tsv"
t_run rec-cat --check "$T/nan.tsv"
t_err_has "nan rejected" "nan.tsv:7: column 'x_3': cannot parse 'nan' as a number: NaN and Inf are not accepted"
# rows 2-3 (u000), then u001's first row, then u000 again on line 5
{ head -n 3 "$S"; grep -m 1 '^u001' "$S"; sed -n 4p "$S"; } > "$T/nc.tsv"
t_run rec-cat --group-check member_id "$T/nc.tsv"
t_status "non-contiguous members exit 1" 1
t_err_has "reappearing key named with its line" "nc.tsv:5: column 'member_id': key 'u000' appears again"
t_err_has "sort suggested" "sort -s -t"
printf 'a\tb\n1\t2\n3\n' > "$T/short.tsv"
t_run rec-cat -o "$T/short-out.tsv" "$T/short.tsv"
t_status "short row exits 1" 1
t_err_has "short row named" "short.tsv:3: expected 2 fields, found 1"
t_ok "failed -o leaves no file" test ! -e "$T/short-out.tsv"
t_ok "failed -o leaves no temporary" sh -c "! ls -a '$T' | grep -q tmp"
echo "previous" > "$T/keep.tsv"
t_run rec-cat -o "$T/keep.tsv" "$T/short.tsv"
t_ok "failed -o keeps the previous file" test "$(cat "$T/keep.tsv")" = previous
: > "$T/empty.tsv"
t_run rec-cat "$T/empty.tsv"
t_status "empty input exits 1" 1
t_err_has "empty input named" "empty.tsv: empty input"
t_run rec-cat "$T/does-not-exist"
t_status "missing file exits 1" 1
t_err_has "missing file named" "does-not-exist: No such file or directory"
head -c 300 "$T/s.rec" > "$T/trunc.rec"
t_run rec-cat "$T/trunc.rec"
t_status "truncated binary exits 1" 1
t_err_has "truncation named" "trunc.rec: block 1 (from row 1): truncated binary stream"
head -c 200 "$T/s.tsv.gz" > "$T/trunc.gz"
t_run rec-cat "$T/trunc.gz"
t_status "truncated gzip exits 1" 1
t_err_has "truncated gzip named" "trunc.gz: truncated gzip stream"
printf 'a\tb\n1\t\000\n' > "$T/nul.tsv"
t_run rec-cat "$T/nul.tsv"
t_err_has "NUL byte named" "nul.tsv:2: NUL byte"
t_run sh -c "printf 'a,b\n1,x\"y\n' | rec-cat"
t_err_has "malformed csv from stdin names stdin" "stdin:2: malformed CSV"

# progress goes to stderr only, and --quiet silences it
t_run rec-cat --progress --binary "$S"
t_err_has "progress on stderr with --progress" "318 rows"
t_ok "progress leaves stdout as data" sh -c "rec-cat --progress --binary '$S' 2>/dev/null | cmp -s - '$T/s.rec'"
t_run rec-cat --progress --quiet "$S"
t_ok "--quiet after --progress silences stderr" test -z "$ERR"

# write errors
if [ -w /dev/full ]; then
    t_run sh -c "rec-cat '$S' > /dev/full"
    t_status "stdout to /dev/full exits 1" 1
    t_err_has "write error reported" "write error"
    t_ok "the write error is reported once" test "$(grep -c 'write error' "$T/err")" -eq 1
    t_run sh -c "rec-cat --binary '$S' > /dev/full"
    t_status "binary stdout to /dev/full exits 1" 1
fi
t_run rec-cat -o "$T/no/such/dir/out.tsv" "$S"
t_status "unwritable -o exits 1" 1
t_err_has "unwritable -o named" "cannot create"
t_done
