/*
 * model.h - model files: safetensors with recstage metadata.
 *
 * Layout (SPEC section 5, man 5 recstage-formats): an 8-byte little-endian
 * header length N, N bytes of JSON header (padded with spaces to a multiple
 * of 8), then the raw little-endian F32 tensor bytes.  The header maps each
 * tensor name to {"dtype":"F32","shape":[...],"data_offsets":[begin,end]}
 * and holds "__metadata__", a map of strings to strings:
 *
 *   format          "recstage.<kind>"          e.g. "recstage.maml"
 *   format_version  integer, as a string       readers refuse newer ones
 *   writer          "<tool> <version>"
 *   columns         JSON array of the input column names, as a string
 *   seed            the --seed used
 *   crc32           CRC32 of all tensor bytes, 8 hex digits
 *   ...             every hyper-parameter, one key each
 *
 * Values are strings because the safetensors format requires it; numbers
 * are written with %.17g (doubles) so they read back exactly.
 * A model reads in Python with `safetensors.numpy.load_file` or
 * `safetensors.safe_open(path, "np").metadata()`.
 */
#ifndef RECSTAGE_MODEL_H
#define RECSTAGE_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define MODEL_MAX_DIMS 4

typedef struct model_tensor {
    char *name;
    int ndim;
    int64_t shape[MODEL_MAX_DIMS];
    size_t count; /* product of shape */
    float *data;  /* owned by the model, count floats */
} model_tensor;

typedef struct model model;

/* A new empty model of the given kind ("maml", "qnet", ...) and version. */
model *model_new(const char *kind, int version);
void model_free(model *m);

/* Metadata: set a string, an integer or a double (exact %.17g). */
void model_meta_set(model *m, const char *key, const char *value);
void model_meta_set_int(model *m, const char *key, long long value);
void model_meta_set_double(model *m, const char *key, double value);
/* Set "columns" to the JSON array of names. */
void model_meta_set_columns(model *m, const char *key, int n, const char *const *names);

/* Lookups: NULL (or the default) when the key is absent. */
const char *model_meta_get(const model *m, const char *key);
/* Parse a numeric key; return -1 with a message naming the key if it is
 * missing or malformed. */
int model_meta_int(const model *m, const char *key, long long *out, errctx *e);
int model_meta_double(const model *m, const char *key, double *out, errctx *e);
/* Columns: a NULL-terminated array of names owned by the caller (free each
 * and the array), or NULL with a message. */
char **model_meta_columns(const model *m, const char *key, int *n, errctx *e);

const char *model_kind(const model *m);   /* "maml" from "recstage.maml" */
int model_version(const model *m);

/* Add a tensor (data copied; data may be NULL for zeros).  Returns the
 * tensor, whose data the caller may fill.  Names must be unique. */
model_tensor *model_add(model *m, const char *name, int ndim, const int64_t *shape, const float *data);
model_tensor *model_find(const model *m, const char *name);
/* Like model_find but fails with a message when missing or when the
 * element count differs from want_count (want_count 0: any). */
model_tensor *model_need(const model *m, const char *name, size_t want_count, errctx *e);
int model_ntensors(const model *m);
model_tensor *model_tensor_at(const model *m, int i);

/* Write atomically: temp file in the same folder, fsync, rename.  Sets
 * writer and crc32 metadata.  On failure nothing is left at path (and any
 * previous file there is untouched). */
int model_write(model *m, const char *path, const char *writer, errctx *e);

/* Read and validate.  kind NULL accepts any recstage kind; max_version is
 * the newest version the caller understands.  Every rejection has its own
 * message: not a safetensors file, header length beyond the file, bad
 * JSON, offsets outside the data, shape/byte mismatch, unsupported dtype,
 * another kind, a newer version, CRC mismatch, NaN or Inf weight. */
model *model_read(const char *path, const char *kind, int max_version, errctx *e);

/* As model_read but keep going past a CRC mismatch or NaN weights,
 * recording them (for model-info, which reports rather than refuses). */
typedef struct model_check {
    int crc_ok;          /* 1 ok, 0 mismatch, -1 no crc32 key */
    uint32_t crc_stored, crc_actual;
    size_t nonfinite;    /* NaN/Inf weights found */
    uint64_t header_len, file_size;
} model_check;
model *model_read_lenient(const char *path, model_check *chk, errctx *e);

/* The raw header JSON as read (for model-info --json), or NULL. */
const char *model_header_json(const model *m);

#endif
