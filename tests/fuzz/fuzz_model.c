/*
 * fuzz_model.c - libFuzzer harness for model files (safetensors with
 * recstage metadata, man 5 recstage-formats).  The input is the file.  It
 * is read with model_read (any kind; and as a 'recstage.demo' of version
 * 1, the kind of data-samples/tiny.model) and with model_read_lenient;
 * whatever loads is walked: every tensor found by name with model_need,
 * every weight touched, the metadata looked up (columns, seed, kind).
 * Checks beyond "no crash, no leak":
 *   - strict and lenient readings agree: strict succeeds exactly when
 *     lenient does with a matching CRC and no non-finite weight;
 *   - a model that loads writes back (model_write) and reads again with
 *     the same tensors, bit for bit.
 * The write goes to a folder made once under $FUZZ_TMPDIR, else /dev/shm
 * (no disk syncs), else $TMPDIR or /tmp, and removed at exit.
 */
#include "fuzz.h"

#include "model.h"
#include "banned.h"

/* Use every part of a model that loaded. */
static void walk(model *m, int strict)
{
    errctx e;
    const char *kind = model_kind(m);
    FUZZ_CHECK(kind && *kind, "model without a kind");
    FUZZ_CHECK(model_version(m) >= 1, "model version %d", model_version(m));
    const char *fmt = model_meta_get(m, "format");
    FUZZ_CHECK(fmt && strncmp(fmt, "recstage.", 9) == 0 && strcmp(fmt + 9, kind) == 0,
               "format '%s' for kind '%s'", fmt ? fmt : "(none)", kind);
    const char *json = model_header_json(m);
    FUZZ_CHECK(json && json[0] == '{', "no header JSON");

    int n = model_ntensors(m);
    FUZZ_CHECK(n >= 0, "%d tensors", n);
    FUZZ_CHECK(model_tensor_at(m, n) == NULL && model_tensor_at(m, -1) == NULL, "tensor beyond the end");
    volatile double sink = 0;
    for (int i = 0; i < n; i++) {
        model_tensor *t = model_tensor_at(m, i);
        FUZZ_CHECK(t && t->name, "tensor %d missing", i);
        FUZZ_CHECK(t->ndim >= 0 && t->ndim <= MODEL_MAX_DIMS, "tensor of %d dimensions", t->ndim);
        size_t count = 1;
        for (int d = 0; d < t->ndim; d++) {
            FUZZ_CHECK(t->shape[d] >= 0, "negative dimension");
            count *= (size_t)t->shape[d];
        }
        FUZZ_CHECK(count == t->count, "count %zu, shape product %zu", t->count, count);
        FUZZ_CHECK(model_find(m, t->name) == t, "model_find('%s') finds another tensor", t->name);
        FUZZ_CHECK(model_need(m, t->name, t->count, &e) == t, "model_need('%s'): %s", t->name, e.msg);
        e.msg[0] = '\0';
        FUZZ_CHECK(model_need(m, t->name, t->count + 1, &e) == NULL && e.msg[0],
                   "model_need accepts a wrong count");
        double s = 0;
        for (size_t k = 0; k < t->count; k++) {
            if (strict)
                FUZZ_CHECK(isfinite(t->data[k]), "tensor '%s' value %zu not finite", t->name, k);
            s += t->data[k];
        }
        sink += s;
    }
    (void)sink;
    /* the names the tools ask for */
    static const char *const names[] = {"weight", "bias", "w1", "b1", "embed", "", "__metadata__"};
    for (size_t k = 0; k < sizeof names / sizeof *names; k++) {
        e.msg[0] = '\0';
        model_tensor *t = model_need(m, names[k], 0, &e);
        FUZZ_CHECK(t || e.msg[0], "model_need('%s') failed without a message", names[k]);
        t = model_need(m, names[k], 1, &e);
        FUZZ_CHECK(!t || t->count == 1, "model_need('%s', 1) gave %zu values", names[k], t->count);
    }
    FUZZ_CHECK(model_need(m, "__metadata__", 0, &e) == NULL, "a tensor named __metadata__");

    int ncols = 0;
    e.msg[0] = '\0';
    char **cols = model_meta_columns(m, "columns", &ncols, &e);
    if (cols) {
        FUZZ_CHECK(ncols >= 0 && cols[ncols] == NULL, "columns not NULL-terminated");
        for (int i = 0; i < ncols; i++)
            free(cols[i]);
        free(cols);
    } else {
        FUZZ_CHECK(e.msg[0], "model_meta_columns failed without a message");
    }
    long long iv;
    double dv;
    static const char *const keys[] = {"seed", "format_version", "crc32", "hidden", "lr"};
    for (size_t k = 0; k < sizeof keys / sizeof *keys; k++) {
        e.msg[0] = '\0';
        if (model_meta_int(m, keys[k], &iv, &e) < 0)
            FUZZ_CHECK(e.msg[0], "model_meta_int failed without a message");
        e.msg[0] = '\0';
        if (model_meta_double(m, keys[k], &dv, &e) < 0)
            FUZZ_CHECK(e.msg[0], "model_meta_double failed without a message");
        else
            FUZZ_CHECK(isfinite(dv), "model_meta_double gave %g", dv);
    }
}

/* Write m and read it back: the same kind, version and tensors. */
static void round_trip(model *m)
{
    errctx e;
    char path[600];
    snprintf(path, sizeof path, "%s", fuzz_scratch("m.model"));
    e.msg[0] = '\0';
    int rc = model_write(m, path, "fuzz_model 0", &e);
    FUZZ_CHECK(rc == 0, "a model that loaded does not write: %s", e.msg);
    model *b = model_read(path, model_kind(m), model_version(m), &e);
    FUZZ_CHECK(b, "a written model does not read back: %s", e.msg);
    FUZZ_CHECK(model_ntensors(b) == model_ntensors(m), "%d tensors back, %d written", model_ntensors(b),
               model_ntensors(m));
    for (int i = 0; i < model_ntensors(m); i++) {
        model_tensor *t = model_tensor_at(m, i), *u = model_find(b, t->name);
        FUZZ_CHECK(u, "tensor '%s' lost", t->name);
        FUZZ_CHECK(u->ndim == t->ndim && memcmp(u->shape, t->shape, sizeof t->shape[0] * (size_t)t->ndim) == 0,
                   "tensor '%s' changed shape", t->name);
        FUZZ_CHECK(u->count == t->count &&
                       (t->count == 0 || memcmp(u->data, t->data, t->count * sizeof *t->data) == 0),
                   "tensor '%s' changed values", t->name);
    }
    model_free(b);
    remove(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_file f;
    fuzz_file_open(&f, data, size);
    errctx e;

    e.msg[0] = '\0';
    model *m = model_read(f.path, NULL, 1 << 30, &e);
    FUZZ_CHECK(m || e.msg[0], "model_read failed without a message");
    model_check chk;
    e.msg[0] = '\0';
    model *ml = model_read_lenient(f.path, &chk, &e);
    FUZZ_CHECK(ml || e.msg[0], "model_read_lenient failed without a message");
    if (fuzz_verbose)
        fprintf(stderr, "  strict: %s; lenient: %s%s\n", m ? "loads" : "fails",
                ml ? (chk.crc_ok == 1 ? "crc ok" : chk.crc_ok ? "no crc" : "crc mismatch") : "fails: ",
                ml ? (chk.nonfinite ? ", non-finite weights" : "") : e.msg);
    int clean = ml && chk.crc_ok == 1 && chk.nonfinite == 0;
    FUZZ_CHECK(!m == !clean, "strict %s, lenient %s (crc_ok %d, %zu non-finite)", m ? "loads" : "fails",
               ml ? "loads" : "fails", ml ? chk.crc_ok : 0, ml ? chk.nonfinite : 0);
    if (ml) {
        FUZZ_CHECK(chk.file_size == size && chk.header_len + 8 <= size, "model_check sizes %llu/%llu of %zu",
                   (unsigned long long)chk.header_len, (unsigned long long)chk.file_size, size);
        walk(ml, 0);
    }
    if (m) {
        walk(m, 1);
        FUZZ_CHECK(model_ntensors(m) == model_ntensors(ml), "strict and lenient tensor counts differ");
        round_trip(m);
    }

    /* as a tool that wants a particular kind and version reads it */
    e.msg[0] = '\0';
    model *d = model_read(f.path, "demo", 1, &e);
    int want = m && strcmp(model_kind(m), "demo") == 0 && model_version(m) <= 1;
    FUZZ_CHECK(!d == !want, "reading as recstage.demo 1 %s: %s", d ? "succeeds" : "fails", e.msg);
    if (d)
        walk(d, 1);

    model_free(d);
    model_free(m);
    model_free(ml);
    fuzz_file_close(&f);
    return 0;
}
