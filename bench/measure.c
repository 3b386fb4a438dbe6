/*
 * measure - run a command and print "SECONDS MAXRSS_KB" of it on stderr
 * (wall time and peak resident set of the child), passing its exit status.
 *
 *   measure CMD [ARG]...
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "banned.h"

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: measure CMD [ARG]...\n");
        return 2;
    }
    double t0 = cli_now();
    pid_t pid = fork();
    if (pid == 0) {
        execvp(argv[1], argv + 1);
        perror(argv[1]);
        _exit(127);
    }
    int status;
    struct rusage ru;
    if (wait4(pid, &status, 0, &ru) < 0) {
        perror("wait4");
        return 1;
    }
    fprintf(stderr, "%.6f %ld\n", cli_now() - t0, ru.ru_maxrss);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
