/* CPU-bound benchmark: N digits of pi with the Rabinowitz-Wagon spigot (integer
 * multiply/divide heavy). Checks the first 50 digits, then reports through the test
 * device like the assembly tests. Build with -DN=<digits>. */
#ifndef N
#define N 1000
#endif
#define LEN (N * 10 / 3 + 1)

#include "start.h"

/* GCC may turn loops into calls to these. */
void *memset(void *d, int c, unsigned long n) {
    volatile char *p = d;
    while (n--)
        *p++ = (char)c;
    return d;
}

static unsigned int a[LEN];
static char out[N + 2];
static const char want[] = "31415926535897932384626433832795028841971693993751";

int main(void) {
    int k = 0, nines = 0, predigit = 0;
    for (int i = 0; i < LEN; i++)
        a[i] = 2;
    for (int j = 1; j <= N; j++) {
        unsigned int q = 0;
        for (int i = LEN; i > 0; i--) {
            unsigned int x = 10 * a[i - 1] + q * i;
            a[i - 1] = x % (2 * i - 1);
            q = x / (2 * i - 1);
        }
        a[0] = q % 10;
        q /= 10;
        if (q == 9) {
            nines++;
        } else if (q == 10) {
            out[k++] = predigit + 1;
            for (; nines > 0; nines--)
                out[k++] = 0;
            predigit = 0;
        } else {
            if (j > 1)
                out[k++] = predigit;
            predigit = q;
            for (; nines > 0; nines--)
                out[k++] = 9;
        }
    }
    out[k++] = predigit;
    for (int i = 0; i < 50 && i < N; i++)
        if (out[i] != want[i] - '0')
            return i + 1;
    return 0;
}
