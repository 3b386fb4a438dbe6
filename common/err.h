/*
 * err.h - error context passed down through the library.
 *
 * Library functions never print or exit: on failure they fill an errctx
 * with a message in the house format (lowercase, no full stop, the place
 * first: "train.tsv:12: column 'label': cannot parse 'yes' as a number")
 * and return a failure value.  Only a tool's main (through cli_die) turns
 * the message into "tool: message" on stderr and an exit status.
 */
#ifndef RECSTAGE_ERR_H
#define RECSTAGE_ERR_H

#include <stddef.h>

typedef struct errctx {
    char msg[1024];
} errctx;

/* Format a message into e (if e is not NULL).  Always returns -1, so a
 * library function can say `return err_set(e, "...", ...);`. */
int err_set(errctx *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prefix the current message with "prefix: " (used to add a file name). */
int err_prefix(errctx *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Out of memory is not recoverable: report the size and exit 1. */
void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

#endif
