/*
 * fuzz_gzip.c - libFuzzer harness for gzip-compressed record streams: the
 * input is the gzip bytes (one member or several concatenated, possibly
 * truncated, corrupt or followed by garbage), decompressed by the reader
 * through zlib; what comes out is read as text or binary, row by row,
 * twice (the second time through short reads, which split the compressed
 * bytes at every place), and block by block when it is binary.
 */
#include "fuzz.h"
#include "banned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2 || data[0] != 0x1f || data[1] != 0x8b)
        return 0;
    fuzz_file f;
    fuzz_file_open(&f, data, size);
    fuzz_result res;
    fuzz_read_rows_twice(f.path, &res);
    fuzz_check_blocks(f.path, &res);
    fuzz_result_free(&res);
    fuzz_file_close(&f);
    return 0;
}
