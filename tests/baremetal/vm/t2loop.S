# Tier 2's self-looping blocks: a loop of a RAM load, an add and a store, which tier 2
# compiles into one program that branches back to its own start (ebpf.rs `loop_back`).
# Powers off (code 0) if the counter in RAM reached the iteration count, else fails
# with code 1 through the SiFive test device.
#include "sifive-exit.h"
    .globl _start
_start:
    li t0, 200000
    la s0, counter
    sd zero, 0(s0)
loop:
    ld t1, 0(s0)
    addi t1, t1, 1
    sd t1, 0(s0)
    addi t0, t0, -1
    bnez t0, loop
    ld t1, 0(s0)
    li t2, 200000
    exit_if_equal t1, t2
    .data
    .balign 4096             # a page of its own: stores here must not hit code
counter:
    .dword 0
