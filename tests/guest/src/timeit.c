/* timeit OUT METRIC PROGRAM [ARG...]: runs PROGRAM with its standard output written to
 * the file OUT (created or truncated before the clock starts) and prints
 *   KEMU-BENCH METRIC <ms> ms
 * with the elapsed CLOCK_MONOTONIC time from just before fork to the child's exit, in
 * ms with three decimals, if the child exited with 0; otherwise says why on stderr and
 * exits with 1. The timer of the guest's tool workloads (tests/guest/init.sh: xz, 7z,
 * sqlite, gcc), which run real programs that print no time of their own. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: timeit OUT METRIC PROGRAM [ARG...]\n");
        return 2;
    }
    int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        perror(argv[1]);
        return 1;
    }
    fflush(stdout);
    long long t0 = now_ns();
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 1;
    }
    if (pid == 0) {
        dup2(fd, 1);
        close(fd);
        execv(argv[3], argv + 3);
        perror(argv[3]);
        _exit(127);
    }
    int status;
    if (waitpid(pid, &status, 0) != pid) {
        perror("waitpid");
        return 1;
    }
    long long ns = now_ns() - t0;
    close(fd);
    if (WIFSIGNALED(status)) {
        fprintf(stderr, "timeit: %s killed by signal %d\n", argv[3], WTERMSIG(status));
        return 1;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "timeit: %s exited with %d\n", argv[3], WEXITSTATUS(status));
        return 1;
    }
    printf("KEMU-BENCH %s %lld.%03lld ms\n", argv[2], ns / 1000000, ns / 1000 % 1000);
    return 0;
}
