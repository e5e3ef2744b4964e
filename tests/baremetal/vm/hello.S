# Prints a line on the NS16550A UART (waiting for THR empty, LSR bit 5), then powers off.
    .globl _start
_start:
    li t0, 0x10000000
    la t2, msg
next:
    lbu t3, 0(t2)
    beqz t3, done
wait:
    lbu t4, 5(t0)
    andi t4, t4, 0x20
    beqz t4, wait
    sb t3, 0(t0)
    addi t2, t2, 1
    j next
done:
    li t0, 0x100000
    li t1, 0x5555
    sw t1, 0(t0)
1:  j 1b
    .section .rodata
msg:
    .string "hello from a RISC-V guest inside kemu.ko\n"
