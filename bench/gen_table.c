/*
 * gen_table - write a benchmark table to stdout: ROWS rows of COLS float
 * columns (TSV by default, --binary for the binary stream), values drawn
 * from the seeded generator so every run measures the same bytes.
 *
 *   gen_table ROWS [COLS] [--binary]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "rec.h"
#include "rng.h"
#include "banned.h"

int main(int argc, char **argv)
{
    cli_init(argv[0]);
    if (argc < 2)
        cli_usage_error("usage: gen_table ROWS [COLS] [--binary]");
    long long rows = cli_parse_long(argv[1], "ROWS", 0, 1000000000LL);
    int cols = argc > 2 && argv[2][0] != '-' ? (int)cli_parse_long(argv[2], "COLS", 1, 1000) : 20;
    int binary = strcmp(argv[argc - 1], "--binary") == 0;
    errctx e;
    rec_writer *w = rec_writer_open(NULL, binary, &e);
    char **names = malloc((size_t)cols * sizeof *names);
    for (int c = 0; c < cols; c++) {
        names[c] = malloc(16);
        snprintf(names[c], 16, "x_%d", c);
    }
    if (rec_writer_header(w, cols, (const char *const *)names, &e) < 0)
        cli_die("%s", e.msg);
    rng r;
    rng_init(&r, 1, 0);
    for (long long i = 0; i < rows; i++) {
        for (int c = 0; c < cols; c++)
            rec_put_f32(w, c, (float)((int)(rng_normal(&r) * 1e5) / 1e4)); /* 4 decimals, like features */
        if (rec_end_row(w, &e) < 0)
            cli_die("%s", e.msg);
    }
    if (rec_writer_close(w, &e) < 0)
        cli_die("%s", e.msg);
    return 0;
}
