/*
 * cli.c - program name, checked stdout, option parsing, exits, temp files
 * and progress.  See cli.h for the contracts.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <locale.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "err.h"
#include "rec.h"
#include "banned.h"

int cli_verbosity = 0;
static const char *progname = "recstage";

#define MAX_TEMPS 16
static char *temps[MAX_TEMPS];

static void remove_temps(void)
{
    for (int i = 0; i < MAX_TEMPS; i++)
        if (temps[i])
            unlink(temps[i]);
}

static void on_signal(int sig)
{
    remove_temps();
    signal(sig, SIG_DFL);
    raise(sig);
}

static int dying; /* cli_die ran: its message is the one to show */

static void close_stdout(void)
{
    if (dying) {
        fflush(stdout);
        return;
    }
    int failed = ferror(stdout) != 0;
    int err = errno;
    if (fflush(stdout) != 0) {
        failed = 1;
        err = errno;
    }
    if (fclose(stdout) != 0 && !failed) {
        failed = 1;
        err = errno;
    }
    if (failed) {
        fprintf(stderr, "%s: write error: %s\n", progname, err ? strerror(err) : "unknown error");
        remove_temps();
        _exit(CLI_EDATA);
    }
}

void cli_init(const char *argv0)
{
    if (argv0 && *argv0) {
        const char *slash = strrchr(argv0, '/');
        progname = slash ? slash + 1 : argv0;
    }
    setlocale(LC_ALL, "C");
    atexit(close_stdout);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGPIPE, &sa, NULL);
}

void cli_init_argv(char **argv)
{
    cli_init(argv[0]);
    argv[0] = (char *)progname;
}

const char *cli_progname(void)
{
    return progname;
}

static void vmsg(const char *prefix, const char *fmt, va_list ap)
{
    char buf[2048];
    vsnprintf(buf, sizeof buf, fmt, ap);
    fprintf(stderr, "%s: %s%s\n", progname, prefix, buf);
}

/* The message of a death, and the temporary files gone. */
static void dying_msg(const char *fmt, va_list ap)
{
    dying = 1;
    vmsg("", fmt, ap);
    remove_temps();
}

void cli_die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    dying_msg(fmt, ap);
    va_end(ap);
    exit(CLI_EDATA);
}

void cli_die_now(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    dying_msg(fmt, ap);
    va_end(ap);
    fflush(stderr);
    _exit(CLI_EDATA);
}

void cli_usage_error(const char *fmt, ...)
{
    dying = 1;
    va_list ap;
    va_start(ap, fmt);
    vmsg("", fmt, ap);
    va_end(ap);
    fprintf(stderr, "Try '%s --help' for more information.\n", progname);
    remove_temps();
    exit(CLI_EUSAGE);
}

void cli_usage_hint(void)
{
    fprintf(stderr, "Try '%s --help' for more information.\n", progname);
    remove_temps();
    exit(CLI_EUSAGE);
}

void cli_warn(const char *fmt, ...)
{
    if (cli_verbosity < 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vmsg("warning: ", fmt, ap);
    va_end(ap);
}

void cli_info(const char *fmt, ...)
{
    if (cli_verbosity < 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vmsg("", fmt, ap);
    va_end(ap);
}

void cli_print_version(void)
{
    printf("%s (recstage) %s\n", progname, RECSTAGE_VERSION);
    exit(CLI_OK);
}

double cli_parse_double(const char *s, const char *opt, double lo, double hi)
{
    /* the data's strict syntax: decimal only, no hex, inf, nan or spaces */
    double v;
    errctx why;
    if (rec_parse_f64(s, strlen(s), &v, &why) < 0)
        cli_usage_error("invalid value '%s' for %s: %s", s, opt, why.msg);
    if (v < lo || v > hi)
        cli_usage_error("invalid value '%s' for %s: must be in [%g, %g]", s, opt, lo, hi);
    return v;
}

long long cli_parse_long(const char *s, const char *opt, long long lo, long long hi)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end != '\0' || errno == ERANGE || !(s[0] == '-' || (s[0] >= '0' && s[0] <= '9')))
        cli_usage_error("invalid value '%s' for %s: not an integer", s, opt);
    if (v < lo || v > hi)
        cli_usage_error("invalid value '%s' for %s: must be in [%lld, %lld]", s, opt, lo, hi);
    return v;
}

uint64_t cli_parse_seed(const char *s, const char *opt)
{
    char *end;
    errno = 0;
    if (*s < '0' || *s > '9')
        cli_usage_error("invalid value '%s' for %s: not a non-negative integer", s, opt);
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s || *end != '\0' || errno == ERANGE)
        cli_usage_error("invalid value '%s' for %s: not a non-negative integer", s, opt);
    return (uint64_t)v;
}

char **cli_parse_names(const char *s, const char *opt, int *n)
{
    char **out = NULL;
    *n = 0;
    const char *p = s;
    for (;;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == 0)
            cli_usage_error("%s: an empty name in '%s'", opt, s);
        out = xrealloc(out, ((size_t)*n + 2) * sizeof *out);
        out[*n] = xmalloc(len + 1);
        memcpy(out[*n], p, len);
        out[*n][len] = '\0';
        for (int j = 0; j < *n; j++)
            if (strcmp(out[j], out[*n]) == 0)
                cli_usage_error("%s: '%s' is named twice", opt, out[*n]);
        (*n)++;
        if (!end)
            break;
        p = end + 1;
    }
    out[*n] = NULL;
    return out;
}

int cli_default_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 1024 ? 1024 : (int)n;
}

int cli_parse_threads(const char *s, const char *opt)
{
    long long n = cli_parse_long(s, opt, 0, 1024);
    return n == 0 ? cli_default_threads() : (int)n;
}

void cli_temp_add(const char *path)
{
    for (int i = 0; i < MAX_TEMPS; i++)
        if (!temps[i]) {
            temps[i] = xstrdup(path);
            return;
        }
    cli_die("too many temporary files open");
}

void cli_temp_remove(const char *path)
{
    for (int i = 0; i < MAX_TEMPS; i++)
        if (temps[i] && strcmp(temps[i], path) == 0) {
            free(temps[i]);
            temps[i] = NULL;
            return;
        }
}

double cli_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void cli_progress_start(cli_progress *p, const char *what, double total)
{
    p->what = what;
    p->total = total;
    p->done = 0;
    p->t0 = p->last = cli_now();
    p->active = cli_verbosity > 0 || (cli_verbosity == 0 && isatty(STDERR_FILENO));
}

static void human(char *buf, size_t n, double v)
{
    if (v >= 1e9)
        snprintf(buf, n, "%.2fG", v / 1e9);
    else if (v >= 1e6)
        snprintf(buf, n, "%.2fM", v / 1e6);
    else if (v >= 1e3)
        snprintf(buf, n, "%.1fk", v / 1e3);
    else
        snprintf(buf, n, "%.0f", v);
}

static void progress_draw(cli_progress *p, double now, int final)
{
    double el = now - p->t0;
    double rate = el > 0 ? p->done / el : 0;
    char d[32], r[32];
    human(d, sizeof d, p->done);
    human(r, sizeof r, rate);
    if (p->total > 0) {
        double frac = p->done / p->total;
        if (frac > 1)
            frac = 1;
        int width = 24, fill = (int)(frac * width);
        char bar[32];
        for (int i = 0; i < width; i++)
            bar[i] = i < fill ? '#' : '.';
        bar[width] = '\0';
        double eta = rate > 0 ? (p->total - p->done) / rate : 0;
        fprintf(stderr, "\r%s: [%s] %3.0f%% %s %s %s/s ETA %.0fs%s", progname, bar, 100 * frac, d,
                p->what, r, final ? 0 : eta, final ? "\n" : "   ");
    } else {
        fprintf(stderr, "\r%s: %s %s %s/s %.1fs%s", progname, d, p->what, r, el, final ? "\n" : "   ");
    }
    fflush(stderr);
}

void cli_progress_update(cli_progress *p, double done)
{
    p->done = done;
    if (!p->active)
        return;
    double now = cli_now();
    if (now - p->last < 0.25)
        return;
    p->last = now;
    progress_draw(p, now, 0);
}

void cli_progress_end(cli_progress *p)
{
    if (p->active)
        progress_draw(p, cli_now(), 1);
    p->active = 0;
}
