/* The entry of the bare-metal C programs (pi.c, bench/bare/memloop.c): M-mode, no
 * firmware; a 16 KiB stack, main, then main's result to the SiFive test device at
 * 0x100000 (0 -> 0x5555 pass; k -> (k << 16) | 0x3333, failure code k), and a spin. */
__asm__(
    ".section .text.init\n"
    ".globl _start\n"
    "_start:\n"
    "  la sp, stack_top\n"
    "  call main\n"
    "  li t0, 0x100000\n"
    "  li t1, 0x5555\n"
    "  slli a0, a0, 16\n"
    "  beqz a0, 1f\n"
    "  li t1, 0x3333\n"
    "  or t1, t1, a0\n"
    "1: sw t1, 0(t0)\n"
    "2: j 2b\n"
    ".section .bss\n"
    ".balign 16\n"
    ".space 16384\n"
    "stack_top:\n"
    ".text\n");
