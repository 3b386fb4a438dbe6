/*
 * afile.c - temp, fsync, rename.  See afile.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "afile.h"
#include "cli.h"
#include "banned.h"

int afile_open(afile *a, const char *path, errctx *e)
{
    memset(a, 0, sizeof *a);
    const char *slash = strrchr(path, '/');
    size_t dirlen = slash ? (size_t)(slash - path + 1) : 0;
    const char *base = slash ? slash + 1 : path;
    if (!*base)
        return err_set(e, "%s: not a file name", path);
    size_t n = strlen(path) + 32;
    a->tmp = xmalloc(n);
    snprintf(a->tmp, n, "%.*s.%s.tmp.XXXXXX", (int)dirlen, path, base);
    int fd = mkstemp(a->tmp);
    if (fd < 0) {
        int err = errno;
        free(a->tmp);
        a->tmp = NULL;
        return err_set(e, "%s: cannot create: %s", path, strerror(err));
    }
    {
        mode_t mask = umask(0);
        umask(mask);
        fchmod(fd, 0666 & ~mask);
    }
    cli_temp_add(a->tmp);
    a->fp = fdopen(fd, "wb");
    if (!a->fp) {
        int err = errno;
        close(fd);
        afile_abort(a);
        return err_set(e, "%s: %s", path, strerror(err));
    }
    a->path = xstrdup(path);
    return 0;
}

int afile_write(afile *a, const void *buf, size_t n, errctx *e)
{
    if (n && fwrite(buf, 1, n, a->fp) != n)
        return err_set(e, "%s: write error: %s", a->path, strerror(errno));
    return 0;
}

static void fsync_dir(const char *path)
{
    char *copy = xstrdup(path);
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY);
    free(copy);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

int afile_commit(afile *a, errctx *e)
{
    int err = 0;
    if (fflush(a->fp) != 0 || ferror(a->fp))
        err = errno ? errno : EIO;
    if (!err && fsync(fileno(a->fp)) != 0 && errno != EINVAL && errno != EROFS)
        err = errno;
    if (fclose(a->fp) != 0 && !err)
        err = errno;
    a->fp = NULL;
    if (!err && rename(a->tmp, a->path) != 0)
        err = errno;
    if (err) {
        afile_abort(a);
        return err_set(e, "%s: write error: %s", a->path, strerror(err));
    }
    fsync_dir(a->path);
    cli_temp_remove(a->tmp);
    free(a->tmp);
    free(a->path);
    a->tmp = a->path = NULL;
    return 0;
}

void afile_abort(afile *a)
{
    if (a->fp)
        fclose(a->fp);
    a->fp = NULL;
    if (a->tmp) {
        unlink(a->tmp);
        cli_temp_remove(a->tmp);
        free(a->tmp);
    }
    free(a->path);
    a->tmp = a->path = NULL;
}
