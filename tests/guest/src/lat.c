// SPDX-License-Identifier: GPL-2.0
// lat: two operating-system latencies for kemu's guest benchmark, in the spirit of
// lmbench's lat_syscall and lat_ctx (written from scratch, not lmbench's code):
//
//   lat syscall [MS]  getppid() through syscall(2) in a loop, for at least MS
//                     milliseconds (default 1000): "KEMU-BENCH lat_syscall_ns N ns"
//   lat ctx [MS]      two processes pass a one-byte token back and forth through two
//                     pipes (lat_ctx with 2 processes and 0 KB of working set), for at
//                     least MS milliseconds: "KEMU-BENCH lat_ctx_us N us", where N is
//                     half the round-trip time (a round trip is two context switches)
//
// Both run in batches and stop at the first batch boundary after MS milliseconds of the
// guest's monotonic clock, so the iteration count calibrates itself to the machine's
// speed. Both processes of `ctx` are pinned to the CPU the parent starts on, so the token
// forces real switches on SMP guests too. Results are printed as fixed-point decimals
// with three fractional digits (integer arithmetic only).
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

// Prints "KEMU-BENCH <metric> <total/count/div, 3 decimals> <unit>".
static void report(const char *metric, long long total_ns, long long count, long long div,
		   const char *unit)
{
	// thousandths of the unit: total_ns * 1000 / (count * div), rounded
	long long den = count * div;
	long long milli = (total_ns * 1000 + den / 2) / den;
	printf("KEMU-BENCH %s %lld.%03lld %s\n", metric, milli / 1000, milli % 1000, unit);
}

static int lat_syscall(long long limit_ns)
{
	const long batch = 1000;
	long long calls = 0;
	// Warm-up: fault in the code and the libc wrapper.
	for (long i = 0; i < batch; i++)
		syscall(SYS_getppid);
	long long start = now_ns(), elapsed;
	do {
		for (long i = 0; i < batch; i++)
			syscall(SYS_getppid);
		calls += batch;
		elapsed = now_ns() - start;
	} while (elapsed < limit_ns);
	printf("lat: syscall: %lld getppid calls in %lld us\n", calls, elapsed / 1000);
	report("lat_syscall_ns", elapsed, calls, 1, "ns");
	return 0;
}

static int xread(int fd, char *c)
{
	return read(fd, c, 1) == 1 ? 0 : -1;
}

static int xwrite(int fd, char c)
{
	return write(fd, &c, 1) == 1 ? 0 : -1;
}

static int lat_ctx(long long limit_ns)
{
	const long batch = 100;
	int to_child[2], to_parent[2];
	char c;

	cpu_set_t set;
	CPU_ZERO(&set);
	int cpu = sched_getcpu();
	CPU_SET(cpu >= 0 ? cpu : 0, &set);
	if (sched_setaffinity(0, sizeof(set), &set) != 0)
		perror("lat: sched_setaffinity (continuing unpinned)");

	if (pipe(to_child) != 0 || pipe(to_parent) != 0) {
		perror("lat: pipe");
		return 1;
	}
	pid_t pid = fork();
	if (pid < 0) {
		perror("lat: fork");
		return 1;
	}
	if (pid == 0) {
		// Child: echo every token until told to stop ('q') or the pipe closes.
		close(to_child[1]);
		close(to_parent[0]);
		while (xread(to_child[0], &c) == 0 && c != 'q')
			if (xwrite(to_parent[1], c) != 0)
				_exit(1);
		_exit(0);
	}
	close(to_child[0]);
	close(to_parent[1]);

	int rc = 0;
	long long trips = 0, start = 0, elapsed = 0;
	// Warm-up round trips (both processes fault in their pages), then the timed ones.
	for (long i = 0; i < batch && rc == 0; i++)
		if (xwrite(to_child[1], 't') != 0 || xread(to_parent[0], &c) != 0)
			rc = 1;
	start = now_ns();
	while (rc == 0) {
		for (long i = 0; i < batch; i++) {
			if (xwrite(to_child[1], 't') != 0 || xread(to_parent[0], &c) != 0) {
				rc = 1;
				break;
			}
		}
		trips += batch;
		elapsed = now_ns() - start;
		if (elapsed >= limit_ns)
			break;
	}
	xwrite(to_child[1], 'q');
	int status = 0;
	waitpid(pid, &status, 0);
	if (rc != 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "lat: ctx: the token was lost (pipe error or child died)\n");
		return 1;
	}
	printf("lat: ctx: %lld round trips in %lld us (2 processes, 0 KB, on CPU %d)\n",
	       trips, elapsed / 1000, cpu);
	// Each round trip is two context switches; report microseconds per switch.
	report("lat_ctx_us", elapsed, trips, 2 * 1000, "us");
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: lat syscall|ctx [MS]\n");
		return 2;
	}
	long ms = argc > 2 ? atol(argv[2]) : 1000;
	if (ms < 1 || ms > 3600000) {
		fprintf(stderr, "lat: MS must be 1..3600000\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN); // a dead child shows up as a write error, not a kill
	if (strcmp(argv[1], "syscall") == 0)
		return lat_syscall(ms * 1000000LL);
	if (strcmp(argv[1], "ctx") == 0)
		return lat_ctx(ms * 1000000LL);
	fprintf(stderr, "lat: unknown test %s (syscall or ctx)\n", argv[1]);
	return 2;
}
