# Thousands of distinct hot blocks (tier 2's JIT memory budget): 3000 blocks of 16 RAM
# loads and stores each, run once in order, each compiled at its first execution with
# --tier2-threshold 1 until the VM's budget is spent; the rest stays on tier 1. Powers
# off (code 0) if the data says every block ran, else fails with code 1.
#include "sifive-exit.h"
#include "t2-block.h"
    .globl _start
_start:
    la s0, data
    li t0, 0
    .rept 3000
    t2_block
    .endr
    ld t1, 112(s0)
    li t2, 3000
    exit_if_equal t1, t2
    .data
    .balign 4096             # a page of its own: stores here must not hit code
data:
    .fill 16, 8, 0
