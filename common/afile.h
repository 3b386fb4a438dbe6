/*
 * afile.h - atomic output files.
 *
 * An output named PATH is written to a temporary file in the same folder
 * (".PATH.tmp.XXXXXX"), then flushed, fsynced and renamed over PATH, and
 * the folder fsynced: a reader or a crashed run never sees half a file,
 * and a failed run leaves any previous PATH untouched.  The temporary name
 * is registered with cli so that cli_die and fatal signals remove it.
 */
#ifndef RECSTAGE_AFILE_H
#define RECSTAGE_AFILE_H

#include <stdio.h>

#include "err.h"

typedef struct afile {
    FILE *fp;
    char *path; /* final name */
    char *tmp;  /* temporary name */
} afile;

/* Create the temporary file; fp is ready for writing. */
int afile_open(afile *a, const char *path, errctx *e);
/* Flush, fsync, close, rename; on failure the temporary is removed. */
int afile_commit(afile *a, errctx *e);
/* Close and remove the temporary. Safe to call on a committed afile. */
void afile_abort(afile *a);

/* Write all of buf to fd-backed fp with error naming path. */
int afile_write(afile *a, const void *buf, size_t n, errctx *e);

#endif
