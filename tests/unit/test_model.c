/*
 * test_model.c - model files: write/read round trip, a safetensors file
 * built byte by byte, and every rejection of SPEC section 5.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "check.h"
#include "tfiles.h"
#include "cli.h"
#include "model.h"
#include "banned.h"



/* Write a safetensors file by hand: header JSON, padding, float bytes. */
static void handmade(const char *path, const char *json, const float *data, size_t nfloats, int64_t fake_len)
{
    FILE *fp = fopen(path, "wb");
    size_t jl = strlen(json);
    uint64_t len = fake_len >= 0 ? (uint64_t)fake_len : (uint64_t)jl;
    unsigned char lb[8];
    for (int i = 0; i < 8; i++)
        lb[i] = (unsigned char)(len >> (8 * i));
    fwrite(lb, 1, 8, fp);
    fwrite(json, 1, jl, fp);
    for (size_t i = 0; i < nfloats; i++) {
        uint32_t bits;
        memcpy(&bits, &data[i], 4);
        unsigned char b[4] = {(unsigned char)bits, (unsigned char)(bits >> 8), (unsigned char)(bits >> 16),
                              (unsigned char)(bits >> 24)};
        fwrite(b, 1, 4, fp);
    }
    fclose(fp);
}

static void handmade_model(const char *path, const char *kind, const char *version, const float *w, size_t n,
                           const char *shape, const char *dtype, const char *offsets, int good_crc)
{
    uLong crc = crc32(0L, Z_NULL, 0);
    crc = crc32(crc, (const Bytef *)w, (uInt)(n * 4));
    char json[1024];
    snprintf(json, sizeof json,
             "{\"__metadata__\":{\"format\":\"recstage.%s\",\"format_version\":\"%s\",\"crc32\":\"%08lx\","
             "\"columns\":\"[\\\"a\\\",\\\"b\\\"]\"},"
             "\"w\":{\"dtype\":\"%s\",\"shape\":%s,\"data_offsets\":%s}}",
             kind, version, good_crc ? crc : crc ^ 1, dtype, shape, offsets);
    handmade(path, json, w, n, -1);
}

static void test_round_trip(void)
{
    errctx e;
    model *m = model_new("test", 2);
    const char *cols[] = {"x_0", "x_1", "label"};
    model_meta_set_columns(m, "columns", 3, cols);
    model_meta_set_double(m, "lr", 0.1);
    model_meta_set_int(m, "seed", 42);
    int64_t s2[2] = {2, 3}, s1[1] = {3};
    float w[6] = {1, -2, 3.5f, 1e-30f, -0.0f, 3.4e38f};
    model_add(m, "layer.w", 2, s2, w);
    model_add(m, "layer.b", 1, s1, NULL);
    check(model_write(m, tpath("m.st"), "test_model 1", &e) == 0, "write: %s", e.msg);
    model_free(m);

    m = model_read(tpath("m.st"), "test", 2, &e);
    check(m != NULL, "read back: %s", m ? "" : e.msg);
    if (!m)
        return;
    model_tensor *t = model_find(m, "layer.w");
    check(t && t->ndim == 2 && t->shape[0] == 2 && t->shape[1] == 3 && memcmp(t->data, w, sizeof w) == 0,
          "tensor bytes and shape exact");
    t = model_need(m, "layer.b", 3, &e);
    check(t && t->data[0] == 0 && t->data[2] == 0, "zero tensor");
    check(!model_need(m, "layer.b", 4, &e) && strstr(e.msg, "has 3 values, expected 4"), "count mismatch: %s",
          e.msg);
    check(!model_need(m, "nope", 0, &e) && strstr(e.msg, "no tensor 'nope'"), "missing tensor");
    double lr;
    long long seed;
    check(model_meta_double(m, "lr", &lr, &e) == 0 && lr == 0.1, "double metadata exact");
    check(model_meta_int(m, "seed", &seed, &e) == 0 && seed == 42, "int metadata");
    int n;
    char **names = model_meta_columns(m, "columns", &n, &e);
    check(names && n == 3 && strcmp(names[2], "label") == 0, "columns metadata");
    for (int i = 0; names && i < n; i++)
        free(names[i]);
    free(names);
    check(strcmp(model_meta_get(m, "writer"), "test_model 1") == 0, "writer");
    check(strcmp(model_kind(m), "test") == 0 && model_version(m) == 2, "kind and version");
    model_free(m);

    /* the header length is a multiple of 8 and the file size adds up */
    FILE *fp = fopen(tpath("m.st"), "rb");
    unsigned char lb[8];
    check(fread(lb, 1, 8, fp) == 8, "read length");
    uint64_t hl = 0;
    for (int i = 0; i < 8; i++)
        hl |= (uint64_t)lb[i] << (8 * i);
    fseek(fp, 0, SEEK_END);
    long size = ftell(fp);
    fclose(fp);
    check(hl % 8 == 0 && (uint64_t)size == 8 + hl + 9 * 4, "layout: header %llu, size %ld", (unsigned long long)hl, size);

    /* refusing to write NaN leaves the previous file intact */
    m = model_new("test", 2);
    float bad[1] = {NAN};
    int64_t one[1] = {1};
    model_add(m, "w", 1, one, bad);
    check(model_write(m, tpath("m.st"), "t", &e) < 0 && strstr(e.msg, "not finite"), "NaN not written");
    model_free(m);
    m = model_read(tpath("m.st"), "test", 2, &e);
    check(m != NULL, "previous model intact after a failed write");
    model_free(m);
    int leftovers = 0;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "ls -a '%s' | grep -c tmp", tdir);
    FILE *p = popen(cmd, "r");
    if (p) {
        if (fscanf(p, "%d", &leftovers) != 1)
            leftovers = -1;
        pclose(p);
    }
    check(leftovers == 0, "no temporary files left (%d)", leftovers);
}

static void test_handmade(void)
{
    errctx e;
    float w[3] = {0.5f, -1.25f, 2.0f};
    handmade_model(tpath("h.st"), "demo", "1", w, 3, "[3]", "F32", "[0,12]", 1);
    model *m = model_read(tpath("h.st"), "demo", 1, &e);
    check(m != NULL, "hand-built safetensors file reads: %s", m ? "" : e.msg);
    if (m) {
        model_tensor *t = model_find(m, "w");
        check(t && t->count == 3 && t->data[0] == 0.5f && t->data[1] == -1.25f && t->data[2] == 2.0f,
              "hand-built values");
        model_free(m);
    }
}

static void expect_reject(const char *path, const char *kind, int maxv, const char *fragment, const char *what)
{
    errctx e;
    e.msg[0] = 0;
    model *m = model_read(path, kind, maxv, &e);
    check(!m && strstr(e.msg, fragment), "%s: want '%s', got '%s'", what, fragment, m ? "(accepted)" : e.msg);
    model_free(m);
}

static void test_rejections(void)
{
    float w[3] = {0.5f, -1.25f, 2.0f};
    const char *p = tpath("r.st");
    handmade_model(p, "demo", "1", w, 3, "[3]", "F32", "[0,12]", 1);
    expect_reject(p, "maml", 1, "model is a 'recstage.demo', expected a 'recstage.maml'", "wrong kind");
    handmade_model(p, "demo", "3", w, 3, "[3]", "F32", "[0,12]", 1);
    expect_reject(p, "demo", 1, "version 3 is newer than this tool reads (1)", "newer version");
    handmade_model(p, "demo", "1", w, 3, "[3]", "F32", "[0,12]", 0);
    expect_reject(p, "demo", 1, "checksum mismatch", "crc mismatch");
    float nan3[3] = {0.5f, NAN, 2.0f};
    handmade_model(p, "demo", "1", nan3, 3, "[3]", "F32", "[0,12]", 1);
    expect_reject(p, "demo", 1, "tensor 'w' value 1 is NaN", "NaN weight");
    float inf3[3] = {INFINITY, 0, 0};
    handmade_model(p, "demo", "1", inf3, 3, "[3]", "F32", "[0,12]", 1);
    expect_reject(p, "demo", 1, "is infinite", "Inf weight");
    handmade_model(p, "demo", "1", w, 3, "[4]", "F32", "[0,12]", 1);
    expect_reject(p, "demo", 1, "shape holds 16 bytes but data_offsets span 12", "shape/byte mismatch");
    handmade_model(p, "demo", "1", w, 3, "[3]", "F32", "[4,16]", 1);
    expect_reject(p, "demo", 1, "lie outside the 12-byte data section", "offsets outside the file");
    handmade_model(p, "demo", "1", w, 3, "[3]", "F16", "[0,12]", 1);
    expect_reject(p, "demo", 1, "unsupported dtype 'F16'", "dtype");
    handmade_model(p, "demo", "1", w, 3, "[4611686018427387904,4]", "F32", "[0,12]", 1);
    expect_reject(p, "demo", 1, "absurd shape", "absurd shape");
    handmade(p, "{\"__metadata__\":{\"format\":\"recstage.demo\"", w, 3, -1);
    expect_reject(p, "demo", 1, "not valid JSON", "bad JSON");
    handmade(p, "{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]}}", w, 3, -1);
    expect_reject(p, "demo", 1, "not a recstage model", "no recstage format");
    handmade(p, "{\"__metadata__\":{\"format\":\"recstage.demo\",\"format_version\":\"1\"}}", w, 3, 1000000);
    expect_reject(p, "demo", 1, "header length 1000000 is beyond the end of the file", "header length beyond file");
    handmade(p, "", NULL, 0, 5);
    FILE *fp = fopen(p, "wb");
    fwrite("abc", 1, 3, fp);
    fclose(fp);
    expect_reject(p, "demo", 1, "too short", "tiny file");
    expect_reject(tpath("missing.st"), "demo", 1, "No such file", "missing file");

    /* a valid model truncated anywhere is refused */
    handmade_model(p, "demo", "1", w, 3, "[3]", "F32", "[0,12]", 1);
    struct stat st;
    stat(p, &st);
    FILE *in = fopen(p, "rb");
    unsigned char *all = malloc((size_t)st.st_size);
    if (fread(all, 1, (size_t)st.st_size, in) != (size_t)st.st_size)
        check(0, "read model bytes");
    fclose(in);
    int accepted = 0;
    for (off_t cut = 0; cut < st.st_size; cut += 7) {
        FILE *out = fopen(tpath("cut.st"), "wb");
        fwrite(all, 1, (size_t)cut, out);
        fclose(out);
        errctx e;
        model *m = model_read(tpath("cut.st"), "demo", 1, &e);
        accepted += m != NULL;
        model_free(m);
    }
    check(accepted == 0, "every truncation refused (%d accepted)", accepted);
    /* one flipped byte anywhere in the tensor data */
    int flips_missed = 0;
    for (off_t k = st.st_size - 12; k < st.st_size; k++) {
        all[k] ^= 0x04;
        FILE *out = fopen(tpath("flip.st"), "wb");
        fwrite(all, 1, (size_t)st.st_size, out);
        fclose(out);
        all[k] ^= 0x04;
        errctx e;
        model *m = model_read(tpath("flip.st"), "demo", 1, &e);
        flips_missed += m != NULL;
        model_free(m);
    }
    check(flips_missed == 0, "every flipped data byte refused (%d missed)", flips_missed);
    free(all);

    /* the lenient reader reports instead of refusing */
    handmade_model(p, "demo", "1", nan3, 3, "[3]", "F32", "[0,12]", 0);
    model_check chk;
    errctx e;
    model *m = model_read_lenient(p, &chk, &e);
    check(m && chk.crc_ok == 0 && chk.nonfinite == 1, "lenient read reports crc and NaN");
    model_free(m);
}

int main(int argc, char **argv)
{
    (void)argc;
    cli_init(argv[0]);
    tdir_make("model");
    test_round_trip();
    test_handmade();
    test_rejections();
    tdir_remove();
    return check_done("test_model");
}
