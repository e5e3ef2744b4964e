# Tier 2's JIT budget at kemu.ko's queued thresholds: 3000 distinct blocks of 16 RAM
# loads and stores, run 2000 times over. At --tier2-threshold 64 they become hot together
# and are compiled on the VM's kemu-jit thread until the VM's budget is spent; then the
# vCPU flushes its cache and the blocks still hot are compiled again, round after round.
# Powers off (code 0) if the data says every block ran every time, else fails (code 1).
#include "sifive-exit.h"
#include "t2-block.h"
    .globl _start
_start:
    la s0, data
    li s1, 2000
    li t0, 0
outer:
    .rept 3000
    t2_block
    .endr
    addi s1, s1, -1
    beqz s1, done
    j outer
done:
    ld t1, 112(s0)
    li t2, 6000000
    exit_if_equal t1, t2
    .data
    .balign 4096             # a page of its own: stores here must not hit code
data:
    .fill 16, 8, 0
