# Entry of the C guests (diskio.c, dmastorm.c): a stack below the end of the first MiB of RAM, then main().
    .globl _start
_start:
    li sp, 0x80100000
    call main
1:  j 1b
