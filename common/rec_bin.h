/*
 * rec_bin.h - constants of the binary record stream, shared by the reader
 * and the writer.  The layout, byte by byte, is in man 5 recstage-formats:
 *
 *   stream  = header block* end
 *   header  = magic[8] "\x89REC\r\n\x1a\n"  u32 version (1)  u32 ncols
 *             (u32 name_len, name bytes)*ncols   u32 crc32(all before)
 *   block   = "RBLK"  u32 nrows (1..65536)  u32 payload_len  payload
 *             u32 crc32(nrows, payload_len, payload)
 *   end     = "RBLK"  u32 0  u32 0  u32 crc32(0, 0)
 *   payload = for each column: u8 type, then
 *             i64/f64: nrows * 8 bytes; f32: nrows * 4 bytes;
 *             str: u32 bytes, nrows * u32 end offsets, bytes
 *
 * All integers little-endian.  The magic's CR LF and ^Z catch text-mode
 * mangling, as in PNG.
 */
#ifndef RECSTAGE_REC_BIN_H
#define RECSTAGE_REC_BIN_H

#define RECBIN_MAGIC "\x89REC\r\n\x1a\n"
#define RECBIN_MAGIC_LEN 8
#define RECBIN_VERSION 1
#define RECBIN_BLOCK_TAG "RBLK"
#define RECBIN_MAX_ROWS 65536u
#define RECBIN_MAX_COLS 100000u
#define RECBIN_MAX_NAME 65536u
/* A block payload larger than this is refused as corrupt. */
#define RECBIN_MAX_PAYLOAD (1u << 30)

#endif
