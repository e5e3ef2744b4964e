/* Shared macros of the self-checking guest programs.
 * Result: a 32-bit write to the SiFive test device at 0x100000: 0x5555 = pass,
 * (case << 16) | 0x3333 = fail; the current case number lives in gp.
 * The M-mode trap handler records mcause in s10 and mtval in s11, then resumes at s9
 * in M-mode if it is nonzero (clearing s9), else after the trapping instruction in the
 * trapping mode; it clobbers t5 and t6, and masks mie on interrupts. */
#define TESTDEV 0x100000

#define TEST(n) li gp, n
/* Fail unless register r equals the constant v (clobbers t6). */
#define CHECK(r, v) li t6, v; bne r, t6, fail
#define CHECKR(r, s) bne r, s, fail
/* Expect the last trap to have had cause c (clobbers t6). */
#define EXPECT_TRAP(c) li t6, c; bne s10, t6, fail; li s10, -1

.macro START
  .section .text.init
  .globl _start
_start:
  la t0, m_trap
  csrw mtvec, t0
  li t0, (1 << 13)          /* mstatus.FS = Initial */
  csrs mstatus, t0
  la sp, stack_top
  li s9, 0
  li s10, -1
  li gp, 0
  j main

  .balign 4
m_trap:                     /* clobbers t5, t6 */
  csrr s10, mcause
  csrr s11, mtval
  bgez s10, 4f
  csrw mie, zero              /* interrupt: mask everything, resume at s9 */
4:
  bnez s9, 2f
  csrr t5, mepc
  lhu t6, 0(t5)
  andi t6, t6, 3
  addi t5, t5, 2
  addi t6, t6, -3
  bnez t6, 1f
  addi t5, t5, 2
1:
  csrw mepc, t5
  mret
2:
  csrw mepc, s9               /* resume at s9, in M-mode */
  li s9, 0
  li t6, 0x1800
  csrs mstatus, t6
  mret

pass:
  li t0, TESTDEV
  li t1, 0x5555
  sw t1, 0(t0)
1: j 1b

fail:
  li t0, TESTDEV
  slli t1, gp, 16
  li t2, 0x3333
  or t1, t1, t2
  sw t1, 0(t0)
1: j 1b
.endm

.macro STACK
  .section .bss
  .balign 16
  .space 4096
stack_top:
.endm
