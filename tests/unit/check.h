/*
 * check.h - the unit-test harness: check(cond, fmt, ...) counts and
 * reports, check_close compares floats, check_done prints the summary line
 * "N passed, N failed" and returns the exit status.
 */
#ifndef RECSTAGE_CHECK_H
#define RECSTAGE_CHECK_H

#include <math.h>
#include <stdarg.h>
#include <stdio.h>

static int check_passed, check_failed;

static void check_report(int ok, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void check_report(int ok, const char *file, int line, const char *fmt, ...)
{
    if (ok) {
        check_passed++;
        return;
    }
    check_failed++;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "FAIL %s:%d: ", file, line);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

#define check(cond, ...) check_report(!!(cond), __FILE__, __LINE__, __VA_ARGS__)

/* |got - want| <= atol + rtol * |want| */
#define check_close(got, want, atol, rtol, what)                                                   \
    do {                                                                                           \
        double g_ = (double)(got), w_ = (double)(want);                                            \
        check(fabs(g_ - w_) <= (atol) + (rtol) * fabs(w_), "%s: got %.10g, want %.10g", what, g_, \
              w_);                                                                                 \
    } while (0)

static int check_done(const char *suite)
{
    printf("%s: %d passed, %d failed\n", suite, check_passed, check_failed);
    return check_failed ? 1 : 0;
}

#endif
