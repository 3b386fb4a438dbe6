/*
 * fuzz_binary.c - libFuzzer harness for the binary record stream (man 5
 * recstage-formats): header, blocks with row counts and CRC32s, end
 * block, concatenated streams.  The input is the stream.  It is read row
 * by row with every accessor and rec_group on column 0, twice (the second
 * time through short reads), then block by block with rec_next_block;
 * all readings must agree on the rows and on where the stream ends.
 *
 * Inputs that do not start with the magic (or a part of it, at the end)
 * are text, left to fuzz_text.
 *
 * The CRC32s make most mutations fail at the first check; so that the
 * fuzzer also reaches the decoding behind them, an input whose first byte
 * is 'F' (not the magic's 0x89) has it replaced by the magic and every
 * CRC32 recomputed before reading: the header's, and each block's that
 * the framing lets the harness find.
 */
#include "fuzz.h"

#include <zlib.h>

#include "rec_bin.h"
#include "banned.h"

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t crc(const uint8_t *p, size_t n)
{
    return (uint32_t)crc32(crc32(0L, Z_NULL, 0), p, (uInt)n);
}

/* Rewrite the CRC32s of a stream in place, as far as its framing goes. */
static void fix_crcs(uint8_t *d, size_t n)
{
    size_t pos = 0;
    while (pos + 16 <= n && memcmp(d + pos, RECBIN_MAGIC, RECBIN_MAGIC_LEN) == 0) {
        uint32_t ncols = le32(d + pos + 12);
        size_t off = pos + 16;
        for (uint32_t c = 0; c < ncols && off + 4 <= n; c++)
            off += 4 + (size_t)le32(d + off);
        if (off + 4 > n)
            return;
        put32(d + off, crc(d + pos, off - pos));
        pos = off + 4;
        while (pos + 12 <= n && memcmp(d + pos, RECBIN_BLOCK_TAG, 4) == 0) {
            uint32_t nrows = le32(d + pos + 4);
            size_t plen = le32(d + pos + 8);
            if (plen > n || pos + 12 + plen + 4 > n)
                return;
            put32(d + pos + 12 + plen, crc(d + pos + 4, 8 + plen));
            pos += 12 + plen + 4;
            if (nrows == 0)
                break;
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy = NULL;
    if (size >= 1 && data[0] == 'F') {
        copy = malloc(size + RECBIN_MAGIC_LEN - 1);
        if (!copy)
            return 0;
        memcpy(copy, RECBIN_MAGIC, RECBIN_MAGIC_LEN);
        memcpy(copy + RECBIN_MAGIC_LEN, data + 1, size - 1);
        size = size + RECBIN_MAGIC_LEN - 1;
        fix_crcs(copy, size);
        data = copy;
    } else if (size < 1 || memcmp(data, RECBIN_MAGIC, size < RECBIN_MAGIC_LEN ? size : RECBIN_MAGIC_LEN) != 0) {
        return 0; /* text: fuzz_text */
    }
    fuzz_file f;
    fuzz_file_open(&f, data, size);
    fuzz_result res;
    fuzz_read_rows_twice(f.path, &res);
    if (res.open_ok && size >= RECBIN_MAGIC_LEN && memcmp(data, RECBIN_MAGIC, RECBIN_MAGIC_LEN) == 0)
        FUZZ_CHECK(res.format == REC_BINARY, "binary input read as text");
    fuzz_check_blocks(f.path, &res);
    fuzz_result_free(&res);
    fuzz_file_close(&f);
    free(copy);
    return 0;
}
