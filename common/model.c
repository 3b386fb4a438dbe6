/*
 * model.c - safetensors model files with recstage metadata (see model.h
 * and man 5 recstage-formats for the layout, byte by byte).
 *
 * Reading validates everything before trusting it: the declared header
 * length against the file size, every tensor's offsets against the data
 * section and its shape against its byte count (with overflow checks, so
 * an absurd shape is refused before any allocation), then the CRC32 of the
 * tensor bytes and the finiteness of every weight.
 */
#include <cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "model.h"
#include "afile.h"
#include "cli.h"
#include "banned.h"

#define MODEL_MAX_HEADER (64u << 20)

struct model {
    char *kind;
    int version;
    cJSON *meta; /* object of string -> string */
    model_tensor *t;
    int n, cap;
    char *header_json;
};

model *model_new(const char *kind, int version)
{
    model *m = xcalloc(1, sizeof *m);
    m->kind = xstrdup(kind);
    m->version = version;
    m->meta = cJSON_CreateObject();
    char fmt[128];
    snprintf(fmt, sizeof fmt, "recstage.%s", kind);
    model_meta_set(m, "format", fmt);
    model_meta_set_int(m, "format_version", version);
    return m;
}

void model_free(model *m)
{
    if (!m)
        return;
    for (int i = 0; i < m->n; i++) {
        free(m->t[i].name);
        free(m->t[i].data);
    }
    free(m->t);
    cJSON_Delete(m->meta);
    free(m->kind);
    free(m->header_json);
    free(m);
}

void model_meta_set(model *m, const char *key, const char *value)
{
    cJSON *v = cJSON_CreateString(value);
    if (!v)
        cli_die("out of memory in model metadata");
    if (cJSON_GetObjectItemCaseSensitive(m->meta, key))
        cJSON_ReplaceItemInObjectCaseSensitive(m->meta, key, v);
    else
        cJSON_AddItemToObject(m->meta, key, v);
}

void model_meta_set_int(model *m, const char *key, long long value)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", value);
    model_meta_set(m, key, buf);
}

void model_meta_set_double(model *m, const char *key, double value)
{
    char buf[40];
    snprintf(buf, sizeof buf, "%.17g", value);
    model_meta_set(m, key, buf);
}

void model_meta_set_columns(model *m, const char *key, int n, const char *const *names)
{
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; i < n; i++)
        cJSON_AddItemToArray(arr, cJSON_CreateString(names[i]));
    char *s = cJSON_PrintUnformatted(arr);
    cJSON_Delete(arr);
    if (!s)
        cli_die("out of memory in model metadata");
    model_meta_set(m, key, s);
    free(s);
}

const char *model_meta_get(const model *m, const char *key)
{
    cJSON *v = cJSON_GetObjectItemCaseSensitive(m->meta, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

int model_meta_int(const model *m, const char *key, long long *out, errctx *e)
{
    const char *s = model_meta_get(m, key);
    if (!s)
        return err_set(e, "model metadata lacks '%s'", key);
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end || errno)
        return err_set(e, "model metadata '%s': cannot parse '%s' as an integer", key, s);
    *out = v;
    return 0;
}

int model_meta_double(const model *m, const char *key, double *out, errctx *e)
{
    const char *s = model_meta_get(m, key);
    if (!s)
        return err_set(e, "model metadata lacks '%s'", key);
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno || !isfinite(v))
        return err_set(e, "model metadata '%s': cannot parse '%s' as a number", key, s);
    *out = v;
    return 0;
}

char **model_meta_columns(const model *m, const char *key, int *n, errctx *e)
{
    const char *s = model_meta_get(m, key);
    if (!s) {
        err_set(e, "model metadata lacks '%s'", key);
        return NULL;
    }
    cJSON *arr = cJSON_Parse(s);
    if (!cJSON_IsArray(arr)) {
        cJSON_Delete(arr);
        err_set(e, "model metadata '%s' is not a JSON array of names", key);
        return NULL;
    }
    int count = cJSON_GetArraySize(arr);
    char **names = xcalloc((size_t)count + 1, sizeof *names);
    for (int i = 0; i < count; i++) {
        cJSON *it = cJSON_GetArrayItem(arr, i);
        if (!cJSON_IsString(it)) {
            for (int j = 0; j < i; j++)
                free(names[j]);
            free(names);
            cJSON_Delete(arr);
            err_set(e, "model metadata '%s' item %d is not a string", key, i);
            return NULL;
        }
        names[i] = xstrdup(it->valuestring);
    }
    cJSON_Delete(arr);
    *n = count;
    return names;
}

const char *model_kind(const model *m)
{
    return m->kind;
}

int model_version(const model *m)
{
    return m->version;
}

model_tensor *model_add(model *m, const char *name, int ndim, const int64_t *shape, const float *data)
{
    if (model_find(m, name))
        cli_die("internal error: duplicate tensor '%s'", name);
    if (ndim < 0 || ndim > MODEL_MAX_DIMS)
        cli_die("internal error: tensor '%s' has %d dimensions", name, ndim);
    if (m->n == m->cap) {
        m->cap = m->cap ? 2 * m->cap : 8;
        m->t = xrealloc(m->t, (size_t)m->cap * sizeof *m->t);
    }
    model_tensor *t = &m->t[m->n++];
    memset(t, 0, sizeof *t);
    t->name = xstrdup(name);
    t->ndim = ndim;
    t->count = 1;
    for (int i = 0; i < ndim; i++) {
        t->shape[i] = shape[i];
        t->count *= (size_t)shape[i];
    }
    t->data = xcalloc(t->count ? t->count : 1, sizeof(float));
    if (data && t->count)
        memcpy(t->data, data, t->count * sizeof(float));
    return t;
}

model_tensor *model_find(const model *m, const char *name)
{
    for (int i = 0; i < m->n; i++)
        if (strcmp(m->t[i].name, name) == 0)
            return &m->t[i];
    return NULL;
}

model_tensor *model_need(const model *m, const char *name, size_t want_count, errctx *e)
{
    model_tensor *t = model_find(m, name);
    if (!t) {
        err_set(e, "model has no tensor '%s'", name);
        return NULL;
    }
    if (want_count && t->count != want_count) {
        err_set(e, "tensor '%s' has %zu values, expected %zu", name, t->count, want_count);
        return NULL;
    }
    return t;
}

int model_ntensors(const model *m)
{
    return m->n;
}

model_tensor *model_tensor_at(const model *m, int i)
{
    return i >= 0 && i < m->n ? &m->t[i] : NULL;
}

const char *model_header_json(const model *m)
{
    return m->header_json;
}

/* Tensor bytes little-endian; this code assumes a little-endian host
 * (checked at compile time below). */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "recstage assumes a little-endian host");

static uint32_t tensors_crc(const model *m)
{
    uLong crc = crc32(0L, Z_NULL, 0);
    for (int i = 0; i < m->n; i++) {
        const unsigned char *p = (const unsigned char *)m->t[i].data;
        size_t left = m->t[i].count * sizeof(float);
        while (left) {
            uInt chunk = left > (1u << 30) ? (1u << 30) : (uInt)left;
            crc = crc32(crc, p, chunk);
            p += chunk;
            left -= chunk;
        }
    }
    return (uint32_t)crc;
}

int model_write(model *m, const char *path, const char *writer, errctx *e)
{
    for (int i = 0; i < m->n; i++)
        for (size_t j = 0; j < m->t[i].count; j++)
            if (!isfinite(m->t[i].data[j]))
                return err_set(e, "%s: refusing to write tensor '%s': value %zu is not finite", path,
                               m->t[i].name, j);
    if (writer)
        model_meta_set(m, "writer", writer);
    char crc[16];
    snprintf(crc, sizeof crc, "%08" PRIx32, tensors_crc(m));
    model_meta_set(m, "crc32", crc);

    cJSON *root = cJSON_CreateObject();
    cJSON_AddItemToObject(root, "__metadata__", cJSON_Duplicate(m->meta, 1));
    uint64_t off = 0;
    for (int i = 0; i < m->n; i++) {
        cJSON *t = cJSON_CreateObject();
        cJSON_AddStringToObject(t, "dtype", "F32");
        cJSON *shape = cJSON_CreateArray();
        for (int d = 0; d < m->t[i].ndim; d++)
            cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)m->t[i].shape[d]));
        cJSON_AddItemToObject(t, "shape", shape);
        cJSON *offs = cJSON_CreateArray();
        uint64_t len = (uint64_t)m->t[i].count * 4;
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)off));
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)(off + len)));
        cJSON_AddItemToObject(t, "data_offsets", offs);
        cJSON_AddItemToObject(root, m->t[i].name, t);
        off += len;
    }
    char *json = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!json)
        cli_die("out of memory printing a model header");
    size_t jlen = strlen(json);
    size_t padded = (jlen + 7) & ~(size_t)7;
    unsigned char lenbuf[8];
    for (int i = 0; i < 8; i++)
        lenbuf[i] = (unsigned char)((uint64_t)padded >> (8 * i));

    afile a;
    if (afile_open(&a, path, e) < 0) {
        free(json);
        return -1;
    }
    int rc = afile_write(&a, lenbuf, 8, e);
    if (!rc)
        rc = afile_write(&a, json, jlen, e);
    for (size_t i = jlen; !rc && i < padded; i++)
        rc = afile_write(&a, " ", 1, e);
    for (int i = 0; !rc && i < m->n; i++)
        rc = afile_write(&a, m->t[i].data, m->t[i].count * sizeof(float), e);
    free(json);
    if (rc) {
        afile_abort(&a);
        return -1;
    }
    return afile_commit(&a, e);
}

static unsigned char *slurp(const char *path, size_t *size, errctx *e)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        err_set(e, "%s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(fp);
        err_set(e, "%s: not a regular file", path);
        return NULL;
    }
    size_t n = (size_t)st.st_size;
    unsigned char *buf = xmalloc(n + 1);
    if (fread(buf, 1, n, fp) != n) {
        fclose(fp);
        free(buf);
        err_set(e, "%s: read error", path);
        return NULL;
    }
    fclose(fp);
    *size = n;
    return buf;
}

typedef struct pending {
    const char *name;
    int ndim;
    int64_t shape[MODEL_MAX_DIMS];
    uint64_t begin, end;
} pending;

static int cmp_begin(const void *a, const void *b)
{
    const pending *x = a, *y = b;
    return x->begin < y->begin ? -1 : x->begin > y->begin;
}

static int json_u64(const cJSON *v, uint64_t *out)
{
    if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble != floor(v->valuedouble))
        return -1;
    if (v->valuedouble > 9007199254740992.0)
        return -2;
    *out = (uint64_t)v->valuedouble;
    return 0;
}
/* Whether s[0..n) is well-formed UTF-8 (no overlongs, surrogates or
 * code points above U+10FFFF); *bad the offset of the first bad byte. */
static int utf8_valid(const char *s, size_t n, size_t *bad)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        unsigned c = u[i];
        size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (!len || i + len > n)
            break;
        unsigned cp = len == 1 ? c : len == 2 ? c & 0x1f : len == 3 ? c & 0x0f : c & 0x07;
        size_t k = 1;
        for (; k < len && (u[i + k] & 0xc0) == 0x80; k++)
            cp = (cp << 6) | (u[i + k] & 0x3f);
        if (k < len)
            break;
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff))
            break;
        i += len;
    }
    *bad = i;
    return i == n;
}


static model *parse(const char *path, const unsigned char *buf, size_t size, const char *want_kind,
                    int max_version, model_check *chk, errctx *e)
{
    if (size < 8) {
        err_set(e, "%s: not a model file: %zu bytes, too short for a safetensors header", path, size);
        return NULL;
    }
    uint64_t hlen = 0;
    for (int i = 0; i < 8; i++)
        hlen |= (uint64_t)buf[i] << (8 * i);
    if (chk) {
        chk->header_len = hlen;
        chk->file_size = size;
    }
    if (hlen > size - 8) {
        err_set(e, "%s: header length %" PRIu64 " is beyond the end of the file (%zu bytes)", path, hlen,
                size);
        return NULL;
    }
    if (hlen > MODEL_MAX_HEADER) {
        err_set(e, "%s: header length %" PRIu64 " exceeds the limit of %u bytes", path, hlen,
                MODEL_MAX_HEADER);
        return NULL;
    }
    if (hlen < 2 || buf[8] != '{') {
        err_set(e, "%s: not a model file: no safetensors JSON header", path);
        return NULL;
    }
    char *json = xstrndup((const char *)buf + 8, (size_t)hlen);
    if (strlen(json) != hlen) {
        free(json);
        err_set(e, "%s: model header contains a NUL byte", path);
        return NULL;
    }
    size_t bad_at;
    if (!utf8_valid(json, hlen, &bad_at)) {
        free(json);
        err_set(e, "%s: model header: byte %zu is not valid UTF-8 (safetensors headers are UTF-8 JSON)", path,
                (size_t)8 + bad_at);
        return NULL;
    }
    cJSON *root = cJSON_Parse(json);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        free(json);
        err_set(e, "%s: model header is not valid JSON", path);
        return NULL;
    }
    model *m = NULL;
    pending *pend = NULL;
    const unsigned char *data = buf + 8 + hlen;
    uint64_t data_size = size - 8 - hlen;

    cJSON *meta = cJSON_GetObjectItemCaseSensitive(root, "__metadata__");
    cJSON *fmt = cJSON_GetObjectItemCaseSensitive(meta, "format");
    if (!cJSON_IsObject(meta) || !cJSON_IsString(fmt) || strncmp(fmt->valuestring, "recstage.", 9) != 0) {
        err_set(e, "%s: not a recstage model: no \"format\": \"recstage.<kind>\" in __metadata__", path);
        goto fail;
    }
    for (cJSON *it = meta->child; it; it = it->next)
        if (!cJSON_IsString(it)) {
            err_set(e, "%s: metadata value '%s' is not a string", path, it->string);
            goto fail;
        }
    const char *kind = fmt->valuestring + 9;
    if (!*kind || strspn(kind, "abcdefghijklmnopqrstuvwxyz0123456789-_") != strlen(kind)) {
        err_set(e, "%s: model format '%s' has no valid kind", path, fmt->valuestring);
        goto fail;
    }
    if (want_kind && strcmp(kind, want_kind) != 0) {
        err_set(e, "%s: model is a 'recstage.%s', expected a 'recstage.%s'", path, kind, want_kind);
        goto fail;
    }
    cJSON *ver = cJSON_GetObjectItemCaseSensitive(meta, "format_version");
    char *vend = NULL;
    long version = cJSON_IsString(ver) ? strtol(ver->valuestring, &vend, 10) : -1;
    if (!cJSON_IsString(ver) || vend == ver->valuestring || *vend || version < 1) {
        err_set(e, "%s: model metadata lacks a valid 'format_version'", path);
        goto fail;
    }
    if (version > max_version) {
        err_set(e, "%s: model format 'recstage.%s' version %ld is newer than this tool reads (%d)", path,
                kind, version, max_version);
        goto fail;
    }
    m = xcalloc(1, sizeof *m);
    m->kind = xstrdup(kind);
    m->version = (int)version;
    m->meta = cJSON_Duplicate(meta, 1);
    m->header_json = json;
    json = NULL;

    int count = 0;
    for (cJSON *it = root->child; it; it = it->next)
        count++;
    pend = xcalloc((size_t)count + 1, sizeof *pend);
    int np = 0;
    for (cJSON *it = root->child; it; it = it->next) {
        if (strcmp(it->string, "__metadata__") == 0)
            continue;
        pending *p = &pend[np];
        p->name = it->string;
        cJSON *dtype = cJSON_GetObjectItemCaseSensitive(it, "dtype");
        cJSON *shape = cJSON_GetObjectItemCaseSensitive(it, "shape");
        cJSON *offs = cJSON_GetObjectItemCaseSensitive(it, "data_offsets");
        if (!cJSON_IsObject(it) || !cJSON_IsString(dtype) || !cJSON_IsArray(shape) || !cJSON_IsArray(offs) ||
            cJSON_GetArraySize(offs) != 2) {
            err_set(e, "%s: tensor '%s': entry needs dtype, shape and data_offsets", path, it->string);
            goto fail;
        }
        if (strcmp(dtype->valuestring, "F32") != 0) {
            err_set(e, "%s: tensor '%s': unsupported dtype '%s' (recstage reads F32)", path, it->string,
                    dtype->valuestring);
            goto fail;
        }
        p->ndim = cJSON_GetArraySize(shape);
        if (p->ndim > MODEL_MAX_DIMS) {
            err_set(e, "%s: tensor '%s': %d dimensions, at most %d supported", path, it->string, p->ndim,
                    MODEL_MAX_DIMS);
            goto fail;
        }
        uint64_t elems = 1;
        for (int d = 0; d < p->ndim; d++) {
            uint64_t dim;
            int jr = json_u64(cJSON_GetArrayItem(shape, d), &dim);
            /* beyond 2^40 a dimension is absurd, and cJSON would not print
             * it back exactly (it keeps 15 digits when they read back
             * within a relative 2^-52) */
            if (jr == -2 || (jr == 0 && dim > (1ull << 40))) {
                err_set(e, "%s: tensor '%s': absurd shape (dimension %d beyond 2^40)", path, it->string, d);
                goto fail;
            }
            if (jr < 0) {
                err_set(e, "%s: tensor '%s': shape entry %d is not a non-negative integer", path,
                        it->string, d);
                goto fail;
            }
            if (dim && elems > UINT64_MAX / 4 / dim) {
                err_set(e, "%s: tensor '%s': absurd shape (element count overflows)", path, it->string);
                goto fail;
            }
            elems *= dim;
            p->shape[d] = (int64_t)dim;
        }
        if (json_u64(cJSON_GetArrayItem(offs, 0), &p->begin) < 0 ||
            json_u64(cJSON_GetArrayItem(offs, 1), &p->end) < 0 || p->end < p->begin) {
            err_set(e, "%s: tensor '%s': malformed data_offsets", path, it->string);
            goto fail;
        }
        if (p->end > data_size) {
            err_set(e, "%s: tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64
                    "] lie outside the %" PRIu64 "-byte data section",
                    path, it->string, p->begin, p->end, data_size);
            goto fail;
        }
        if (p->end - p->begin != elems * 4) {
            err_set(e, "%s: tensor '%s': shape holds %" PRIu64 " bytes but data_offsets span %" PRIu64,
                    path, it->string, elems * 4, p->end - p->begin);
            goto fail;
        }
        np++;
    }
    /* safetensors requires the tensors to tile the data section exactly */
    qsort(pend, (size_t)np, sizeof *pend, cmp_begin);
    uint64_t expect = 0;
    for (int i = 0; i < np; i++) {
        if (pend[i].begin != expect) {
            err_set(e, "%s: tensor '%s': data_offsets overlap or leave a gap at byte %" PRIu64, path,
                    pend[i].name, expect);
            goto fail;
        }
        expect = pend[i].end;
    }
    if (expect != data_size) {
        err_set(e, "%s: %" PRIu64 " bytes after the last tensor (the data section has %" PRIu64
                " bytes, the tensors %" PRIu64 ")",
                path, data_size - expect, data_size, expect);
        goto fail;
    }
    /* tensors in file order; duplicate names are impossible in valid JSON
     * objects only by convention, so refuse them here */
    for (int i = 0; i < np; i++) {
        if (model_find(m, pend[i].name)) {
            err_set(e, "%s: duplicate tensor '%s'", path, pend[i].name);
            goto fail;
        }
        model_tensor *t = model_add(m, pend[i].name, pend[i].ndim, pend[i].shape, NULL);
        if (t->count)
            memcpy(t->data, data + pend[i].begin, t->count * 4);
    }
    free(pend);
    pend = NULL;
    cJSON_Delete(root);
    root = NULL;

    uint32_t actual = tensors_crc(m);
    const char *stored = model_meta_get(m, "crc32");
    unsigned long sv = 0;
    int well_formed = stored && strlen(stored) == 8 && strspn(stored, "0123456789abcdef") == 8;
    if (well_formed)
        sv = strtoul(stored, NULL, 16);
    int crc_ok = !stored ? -1 : (well_formed && (uint32_t)sv == actual);
    if (chk) {
        chk->crc_ok = crc_ok;
        chk->crc_stored = (uint32_t)sv;
        chk->crc_actual = actual;
    }
    size_t nonfinite = 0;
    const char *bad_tensor = NULL;
    size_t bad_index = 0;
    for (int i = 0; i < m->n; i++)
        for (size_t j = 0; j < m->t[i].count; j++)
            if (!isfinite(m->t[i].data[j])) {
                if (!nonfinite++) {
                    bad_tensor = m->t[i].name;
                    bad_index = j;
                }
            }
    if (chk) {
        chk->nonfinite = nonfinite;
        return m;
    }
    if (crc_ok == -1) {
        err_set(e, "%s: model metadata lacks 'crc32'", path);
        model_free(m);
        return NULL;
    }
    if (!crc_ok && !well_formed) {
        err_set(e, "%s: malformed crc32 '%.16s' in the metadata (8 lowercase hex digits expected)", path,
                stored);
        model_free(m);
        return NULL;
    }
    if (!crc_ok) {
        err_set(e, "%s: checksum mismatch: tensor bytes have CRC32 %08" PRIx32 ", header says %s (file corrupted?)",
                path, actual, stored);
        model_free(m);
        return NULL;
    }
    if (nonfinite) {
        err_set(e, "%s: tensor '%s' value %zu is %s (%zu non-finite weights)", path, bad_tensor, bad_index,
                isnan(model_find(m, bad_tensor)->data[bad_index]) ? "NaN" : "infinite", nonfinite);
        model_free(m);
        return NULL;
    }
    return m;

fail:
    free(pend);
    cJSON_Delete(root);
    free(json);
    model_free(m);
    return NULL;
}

model *model_read(const char *path, const char *kind, int max_version, errctx *e)
{
    size_t size;
    unsigned char *buf = slurp(path, &size, e);
    if (!buf)
        return NULL;
    model *m = parse(path, buf, size, kind, max_version, NULL, e);
    free(buf);
    return m;
}

model *model_read_lenient(const char *path, model_check *chk, errctx *e)
{
    size_t size;
    memset(chk, 0, sizeof *chk);
    unsigned char *buf = slurp(path, &size, e);
    if (!buf)
        return NULL;
    model *m = parse(path, buf, size, NULL, 1 << 30, chk, e);
    free(buf);
    return m;
}
