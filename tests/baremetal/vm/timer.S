# Sleeps in WFI until the CLINT timer fires 20 ms later (mtime runs at 10 MHz), then
# powers off from the interrupt handler. Exercises WFI sleeping and timer delivery.
    .globl _start
_start:
    la t0, trap
    csrw mtvec, t0
    li t0, 0x200bff8          # mtime
    ld t1, 0(t0)
    li t2, 200000             # 20 ms
    add t1, t1, t2
    li t0, 0x2004000          # mtimecmp (hart 0)
    sd t1, 0(t0)
    li t0, 0x80               # mie.MTIE
    csrs mie, t0
    csrsi mstatus, 0x8        # mstatus.MIE
1:  wfi
    j 1b
    .align 2
trap:
    csrr t0, mcause
    li t1, 0x8000000000000007 # machine timer interrupt
    bne t0, t1, bad
    li t0, 0x100000
    li t1, 0x5555
    sw t1, 0(t0)
2:  j 2b
bad:
    li t0, 0x100000
    li t1, (7 << 16) | 0x3333
    sw t1, 0(t0)
3:  j 3b
