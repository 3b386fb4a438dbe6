/*
 * cli.h - what every tool's main shares: program name, C locale, checked
 * stdout, typed option parsing, error exits, temporary-file cleanup and a
 * progress reporter.
 *
 * Exit statuses (SPEC section 3): 0 success, 1 bad data or runtime failure,
 * 2 usage error.  Messages go to stderr as "tool: message"; stdout carries
 * data only.
 */
#ifndef RECSTAGE_CLI_H
#define RECSTAGE_CLI_H

#include <stdint.h>
#include <stdio.h>

#define RECSTAGE_VERSION "0.1.0"

enum { CLI_OK = 0, CLI_EDATA = 1, CLI_EUSAGE = 2 };

/* Verbosity: -1 quiet (errors only), 0 normal, 1 progress forced on. */
extern int cli_verbosity;

/* Set the program name (basename of argv0), the C locale for numbers, and
 * register the stdout check run at exit: a failed write or close of stdout
 * (tool > /dev/full) prints "tool: write error: ..." and exits 1. */
void cli_init(const char *argv0);
/* cli_init(argv[0]), then point argv[0] at the short name, so that
 * getopt_long's own complaints say "tool:" like every other message. */
void cli_init_argv(char **argv);
const char *cli_progname(void);

/* "tool: message" on stderr, remove registered temporary files, exit 1. */
void cli_die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
/* The same without running exit handlers (_exit): for running out of
 * memory, when a library's exit handler (OpenBLAS joining its threads)
 * could itself wait for memory forever. */
void cli_die_now(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
/* "tool: message" on stderr, then "Try 'tool --help' ...", exit 2. */
void cli_usage_error(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
/* After getopt_long has printed its own complaint: the hint line, exit 2. */
void cli_usage_hint(void) __attribute__((noreturn));
/* "tool: warning: message" on stderr unless quiet. */
void cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "tool: message" on stderr unless quiet (logs, summaries). */
void cli_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* "tool (recstage) 0.1.0" on stdout, exit 0. */
void cli_print_version(void) __attribute__((noreturn));

/* Option values.  Each checks the whole string parses and lies in
 * [lo, hi]; on failure it reports "invalid value 'x' for --name: ..." and
 * exits 2. */
double cli_parse_double(const char *s, const char *opt, double lo, double hi);
long long cli_parse_long(const char *s, const char *opt, long long lo, long long hi);
uint64_t cli_parse_seed(const char *s, const char *opt);
/* A comma-separated list of distinct, non-empty names: a NULL-terminated
 * malloc'd array (free each name, then the array), the count in *n. */
char **cli_parse_names(const char *s, const char *opt, int *n);
/* Threads: 1..1024, or 0 meaning all online cores. */
int cli_parse_threads(const char *s, const char *opt);
int cli_default_threads(void);

/* Temporary files removed if the program dies (cli_die, SIGINT, SIGTERM,
 * SIGHUP, SIGPIPE) before they are committed. */
void cli_temp_add(const char *path);
void cli_temp_remove(const char *path);

/* Progress on stderr: shown when stderr is a terminal or verbosity is 1,
 * never when quiet.  total may be 0 (unknown): then rate only. */
typedef struct cli_progress {
    const char *what;
    double total, done, t0, last;
    int active;
} cli_progress;

void cli_progress_start(cli_progress *p, const char *what, double total);
void cli_progress_update(cli_progress *p, double done);
void cli_progress_end(cli_progress *p);

/* Monotonic seconds. */
double cli_now(void);

#endif
