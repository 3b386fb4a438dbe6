/*
 * fuzz_text.c - libFuzzer harness for the text record reader: TSV (split
 * at tabs, no quoting) and CSV (libcsv, strict RFC 4180).  The input is
 * the file.  Every row and every field is read with rec_next, rec_str and
 * the number accessors, column 0 goes through rec_group, and the whole
 * reading is repeated through short reads and must come out the same
 * (see fuzz.h for the checks).
 *
 * Inputs that start like gzip or the binary stream are left to
 * fuzz_gzip and fuzz_binary.
 */
#include "fuzz.h"
#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size >= 2 && data[0] == 0x1f && data[1] == 0x8b)
        return 0;
    if (size >= 1 && data[0] == 0x89)
        return 0;
    fuzz_file f;
    fuzz_file_open(&f, data, size);
    fuzz_result res;
    fuzz_read_rows_twice(f.path, &res);
    if (res.open_ok)
        FUZZ_CHECK(res.format == REC_TEXT, "text input read as binary");
    fuzz_result_free(&res);
    fuzz_file_close(&f);
    return 0;
}
