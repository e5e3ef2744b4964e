/* For the tier-2 budget guests: `t2_block` is one translated block of 14 RAM loads and
 * stores at s0 that counts itself in t0 (stored at 112(s0)) and ends with a jump, so
 * `.rept N; t2_block; .endr` makes N distinct blocks. Clobbers t1. */
.macro t2_block
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
.endm
