# Runs forever (a counting loop): only KEMU_STOP or closing the VM ends it.
    .globl _start
_start:
    li a0, 0
1:  addi a0, a0, 1
    j 1b
