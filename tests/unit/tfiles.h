/*
 * tfiles.h - scratch files for unit tests: a fresh folder under $TMPDIR
 * (removed at the end unless KEEP is set), paths in it, whole-file
 * reads and writes that stop the test (exit 2) when the system fails.
 */
#ifndef RECSTAGE_TFILES_H
#define RECSTAGE_TFILES_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tdir[256];

/* Make the folder: $TMPDIR/recstage-NAME.XXXXXX. */
static inline void tdir_make(const char *name)
{
    const char *base = getenv("TMPDIR");
    snprintf(tdir, sizeof tdir, "%s/recstage-%s.XXXXXX", base && *base ? base : "/tmp", name);
    if (!mkdtemp(tdir)) {
        perror("mkdtemp");
        exit(2);
    }
}

static inline void tdir_remove(void)
{
    if (getenv("KEEP")) {
        fprintf(stderr, "kept %s\n", tdir);
        return;
    }
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tdir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", tdir);
}

/* A path in the folder (valid for the next 15 calls). */
static inline const char *tpath(const char *name)
{
    static char buf[16][512];
    static int k;
    k = (k + 1) % 16;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tdir, name);
    return buf[k];
}

static inline void write_file(const char *path, const void *data, size_t n)
{
    FILE *fp = fopen(path, "wb");
    if (!fp || fwrite(data, 1, n, fp) != n || fclose(fp) != 0) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(2);
    }
}

static inline void write_text(const char *path, const char *text)
{
    write_file(path, text, strlen(text));
}

/* The whole file, NUL-terminated, its length in *n; NULL if it cannot be
 * opened. */
static inline char *read_all(const char *path, size_t *n)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        *n = 0;
        return NULL;
    }
    fseek(fp, 0, SEEK_END);
    long len = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *b = malloc((size_t)(len > 0 ? len : 0) + 1);
    *n = fread(b, 1, (size_t)(len > 0 ? len : 0), fp);
    b[*n] = '\0';
    fclose(fp);
    return b;
}

#endif
