# A riscv-tests style program that reports only through HTIF: prints "htif ok" with
# console requests (device 1, command 1; each acknowledged in fromhost), then exits
# with code 7 (device 0, payload 7 << 1 | 1). `kemuctl start` and `kemuctl run` must
# agree on both.
    .globl _start
_start:
    la s0, tohost
    la s1, fromhost
    la s2, msg
    li s3, 0x0101000000000000   # device 1, command 1
next:
    lbu t0, 0(s2)
    beqz t0, done
    or t1, s3, t0
    sd t1, 0(s0)
1:  ld t2, 0(s1)                # wait for the host's acknowledgement
    beqz t2, 1b
    sd zero, 0(s1)
    addi s2, s2, 1
    j next
done:
    li t1, (7 << 1) | 1
    sd t1, 0(s0)
2:  j 2b
    .section .rodata
msg:
    .asciz "htif ok\n"
    .data
    .balign 4096                # a page of its own: stores here must not hit code
    .globl tohost
    .globl fromhost
tohost:
    .dword 0
fromhost:
    .dword 0
