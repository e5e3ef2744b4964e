// SPDX-License-Identifier: GPL-2.0
// pi: prints N decimal digits of pi (default 1000) with an integer-only spigot
// (Rabinowitz and Wagon's algorithm, with held predigits for carries), then how long
// it took on the guest's monotonic clock. kemu's benchmark and boot tests run it.
//
//   pi [N]    ->  "3.1415...\npi: N digits in M ms\n"
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static long long now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void put(char *out, int *pos, int digit)
{
	out[(*pos)++] = (char)('0' + digit);
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 1000;
	if (n < 1 || n > 100000) {
		fprintf(stderr, "pi: digits must be 1..100000\n");
		return 2;
	}
	long long start = now_us();
	// Guard digits: a run of held 9s at the end is only resolved by later digits.
	int total = n + 20;
	int len = total * 10 / 3 + 2;
	long *a = malloc(sizeof(long) * len);
	char *out = malloc(total + 2);
	if (!a || !out)
		return 1;
	for (int i = 0; i < len; i++)
		a[i] = 2;
	int pos = 0, nines = 0, predigit = -1;
	for (int j = 0; j <= total && pos < n; j++) {
		long q = 0;
		for (int i = len - 1; i >= 0; i--) {
			long x = 10 * a[i] + q * (i + 1);
			a[i] = x % (2 * i + 1);
			q = x / (2 * i + 1);
		}
		a[0] = q % 10;
		q /= 10;
		if (q == 9) {
			nines++;
		} else if (q == 10) {
			put(out, &pos, predigit + 1);
			for (; nines > 0; nines--)
				put(out, &pos, 0);
			predigit = 0;
		} else {
			if (predigit >= 0)
				put(out, &pos, predigit);
			predigit = (int)q;
			for (; nines > 0; nines--)
				put(out, &pos, 9);
		}
	}
	long long took = now_us() - start;
	printf("%c.%.*s\n", out[0], n - 1, out + 1);
	printf("pi: %d digits in %lld ms\n", n, took / 1000);
	free(a);
	free(out);
	return 0;
}
