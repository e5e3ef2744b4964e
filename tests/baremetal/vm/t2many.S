# Thousands of distinct hot blocks (tier 2's JIT memory budget): 3000 blocks of 16 RAM
# loads and stores each, run once in order, each compiled at its first execution with
# --tier2-threshold 1 until the VM's budget is spent; the rest stays on tier 1. Powers
# off (code 0) if the data says every block ran, else fails with code 1.
#include "sifive-exit.h"
    .globl _start
_start:
    la s0, data
    li t0, 0
    .rept 3000
    ld t1, 0(s0)
    sd t1, 8(s0)
    ld t1, 16(s0)
    sd t1, 24(s0)
    ld t1, 32(s0)
    sd t1, 40(s0)
    ld t1, 48(s0)
    sd t1, 56(s0)
    ld t1, 64(s0)
    sd t1, 72(s0)
    ld t1, 80(s0)
    sd t1, 88(s0)
    ld t1, 96(s0)
    sd t1, 104(s0)
    addi t0, t0, 1
    sd t0, 112(s0)
    j 1f
1:
    .endr
    ld t1, 112(s0)
    li t2, 3000
    exit_if_equal t1, t2
    .data
    .balign 4096             # a page of its own: stores here must not hit code
data:
    .fill 16, 8, 0
