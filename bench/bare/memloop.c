/* A guest memory-bandwidth loop without an OS: REPS passes over a 1 MiB array, each
 * 8-byte word loaded (or, with -DWRITE, stored) by a three-instruction loop
 * (ld/sd, addi, bltu), as a compiler emits for a plain copy loop. Measures the tier-2
 * load/store path and a loop's back edge (docs/performance.md, 2026-12-06 evening).
 *   tests/baremetal/cc -O2 [-DWRITE] [-DREPS=4000] -o memloop.elf bench/bare/memloop.c
 *   kemuctl bench --configs user-t2,qemu --bare memloop.elf --mem 64M ...
 * Exits through the test device like the ISA tests (0x5555: pass). */
#ifndef REPS
#define REPS 4000
#endif

#include "start.h"

#define WORDS (1 << 17)
static unsigned long words[WORDS];

int main(void) {
    unsigned long sum = 0;
    for (int r = 0; r < REPS; r++) {
        unsigned long *p = words, *end = words + WORDS, v = (unsigned long)r;
#ifdef WRITE
        __asm__ volatile("1: sd %2, 0(%0)\n addi %0, %0, 8\n bltu %0, %1, 1b"
                         : "+r"(p) : "r"(end), "r"(v) : "memory");
        sum += words[r % WORDS] != v;
#else
        __asm__ volatile("1: ld %1, 0(%0)\n addi %0, %0, 8\n bltu %0, %2, 1b"
                         : "+r"(p), "+r"(v) : "r"(end) : "memory");
        sum += v;
#endif
    }
    /* Writes: every pass leaves its value; reads: the array stays zero. */
    return sum != 0;
}
