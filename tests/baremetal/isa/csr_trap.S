/* Zicsr, counters, traps, privilege changes, delegation and interrupts (M/S/U). */
#include "test.h"
START
main:
  TEST(1)   /* csrrw/csrrs/csrrc and immediate forms */
  li a0, 0x1234
  csrw mscratch, a0
  csrr a1, mscratch
  CHECK(a1, 0x1234)
  csrrw a2, mscratch, zero
  CHECK(a2, 0x1234)
  csrr a1, mscratch
  CHECK(a1, 0)
  csrrsi a1, mscratch, 5
  CHECK(a1, 0)
  csrrci a1, mscratch, 1
  CHECK(a1, 5)
  csrr a1, mscratch
  CHECK(a1, 4)
  li a0, 0xf0
  csrrs a1, mscratch, a0
  csrrc a1, mscratch, a0
  CHECK(a1, 0xf4)
  csrr a1, mscratch
  CHECK(a1, 4)
  TEST(2)   /* identification */
  csrr a0, misa
  CHECK(a0, 0x800000000014112d)
  csrr a0, mhartid
  CHECK(a0, 0)
  csrr a0, mvendorid
  CHECK(a0, 0)
  TEST(3)   /* unknown, read-only and odd pmpcfg CSRs are illegal */
  csrr a0, 0x7c0
  EXPECT_TRAP(2)
  CHECK(s11, 0x7c002573)
  csrw mhartid, zero
  EXPECT_TRAP(2)
  csrr a0, 0x3a1
  EXPECT_TRAP(2)
  csrr a0, 0x7a0
  EXPECT_TRAP(2)
  csrr a0, pmpcfg2
  CHECK(s10, -1)
  TEST(4)   /* ecall, ebreak */
  ecall
  EXPECT_TRAP(11)
  ebreak
  EXPECT_TRAP(3)
  c.ebreak
  EXPECT_TRAP(3)
  TEST(5)   /* illegal encodings */
  .word 0xffffffff
  EXPECT_TRAP(2)
  CHECK(s11, 0xffffffff)
  .half 0
  EXPECT_TRAP(2)
  CHECK(s11, 0)
  TEST(6)   /* misaligned loads and stores are emulated */
  la a0, buf
  addi a0, a0, 1
  li a1, 0x1122334455667788
  sd a1, 0(a0)
  ld a2, 0(a0)
  CHECKR(a2, a1)
  lw a3, 2(a0)
  CHECK(a3, 0x33445566)
  lhu a3, 5(a0)
  CHECK(a3, 0x2233)
  sh a1, 6(a0)
  lbu a3, 6(a0)
  CHECK(a3, 0x88)
  lbu a3, 7(a0)
  CHECK(a3, 0x77)
  CHECK(s10, -1)
  TEST(7)   /* access faults outside RAM and devices */
  li a0, 0x2000
  lw a1, 0(a0)
  EXPECT_TRAP(5)
  CHECK(s11, 0x2000)
  sw a1, 8(a0)
  EXPECT_TRAP(7)
  CHECK(s11, 0x2008)
  la s9, 71f
  jr a0
71:
  EXPECT_TRAP(1)
  CHECK(s11, 0x2000)
  TEST(8)   /* counters */
  csrr a0, minstret
  nop
  nop
  nop
  csrr a1, minstret
  sub a1, a1, a0
  CHECK(a1, 4)
  li a0, 1000
  csrw minstret, a0
  csrr a1, minstret
  CHECK(a1, 1000)
  csrr a0, cycle
  csrr a1, cycle
  bgeu a0, a1, fail
  rdtime a0
  rdtime a1
  bgeu a0, a1, fail
  TEST(9)   /* U-mode: privileged CSRs, wfi and counters are gated */
  li a0, 0x1800
  csrc mstatus, a0        /* MPP = U */
  la a0, 91f
  csrw mepc, a0
  mret
91:
  csrr a0, mstatus
  EXPECT_TRAP(2)
  wfi
  EXPECT_TRAP(2)
  rdcycle a0
  EXPECT_TRAP(2)
  la s9, 92f
  ecall
92:
  EXPECT_TRAP(8)
  csrwi mcounteren, 7
  csrwi scounteren, 5
  li a0, 0x1800
  csrc mstatus, a0
  la a0, 93f
  csrw mepc, a0
  mret
93:
  rdcycle a0
  CHECK(s10, -1)
  rdtime a0
  EXPECT_TRAP(2)
  rdinstret a0
  CHECK(s10, -1)
  sret
  EXPECT_TRAP(2)
  la s9, 94f
  ecall
94:
  TEST(10)  /* delegation: ecall from U handled in S, then S calls M */
  li a0, 1 << 8
  csrw medeleg, a0
  la a0, s_trap
  csrw stvec, a0
  li a0, 0x1800
  csrc mstatus, a0
  la a0, 101f
  csrw mepc, a0
  li a7, 0
  mret
101:
  ecall                   /* to S; S ecalls to M, which resumes at s9 */
  j fail
102:
  CHECK(a7, 8)
  CHECK(s10, 9)           /* ecall from S */
  li s10, -1
  csrr a0, sepc
  la a1, 101b
  CHECKR(a0, a1)
  csrr a0, mstatus
  andi a0, a0, 0x100      /* SPP = U */
  CHECK(a0, 0)
  csrw medeleg, zero
  TEST(11)  /* interrupts: SSIP raised by software, taken in M */
  csrci mstatus, 8
  li a0, 2
  csrw mie, a0
  csrs mip, a0
  wfi                     /* pending and enabled in mie: no sleep */
  CHECK(s10, -1)
  la s9, 111f
  csrsi mstatus, 8        /* MIE: taken right after this instruction */
  j fail
111:
  CHECK(s10, 0x8000000000000001)
  li s10, -1
  csrci mstatus, 8
  csrc mip, a0
  TEST(12)  /* interrupt delegated to S, taken from U */
  li a0, 2
  csrw mideleg, a0
  csrw mie, a0
  la a0, s_trap
  csrw stvec, a0
  li a0, 0x1800
  csrc mstatus, a0
  la a0, 121f
  csrw mepc, a0
  li a7, 0
  csrsi mip, 2
  mret                    /* to U: the delegated interrupt is taken at once */
121:
  j fail
  /* s_trap ecalls to M with a7 = scause, resuming at 102b-like label via s9 */
122:
  CHECK(a7, 0x8000000000000001)
  csrci mip, 2
  csrw mideleg, zero
  TEST(13)  /* mstatus / sstatus WARL views */
  li a0, -1
  csrw mstatus, a0
  csrr a1, mstatus
  CHECK(a1, 0x8000000a007e79aa)
  csrr a1, sstatus
  CHECK(a1, 0x80000002000c6122)
  li a0, 0x1000           /* MPP = 2 (reserved) keeps M */
  csrw mstatus, a0
  csrr a1, mstatus
  CHECK(a1, 0xa00001800)
  TEST(14)  /* PMP, envcfg, counteren storage */
  li a0, -1
  csrw pmpaddr0, a0
  csrr a1, pmpaddr0
  CHECK(a1, 0x3fffffffffffff)
  csrw pmpaddr63, a0
  csrr a1, pmpaddr63
  CHECK(a1, 0x3fffffffffffff)
  li a0, 0x1f02
  csrw pmpcfg0, a0
  csrr a1, pmpcfg0
  CHECK(a1, 0x1f00)
  csrw pmpcfg14, a0
  csrr a1, pmpcfg14
  CHECK(a1, 0x1f00)
  li a0, -1
  csrw menvcfg, a0
  csrr a1, menvcfg
  CHECK(a1, 1)
  csrw senvcfg, a0
  csrr a1, senvcfg
  CHECK(a1, 1)
  csrw mcounteren, a0
  csrr a1, mcounteren
  CHECK(a1, 0xffffffff)
  csrw mcountinhibit, a0
  csrr a1, mhpmcounter3
  CHECK(a1, 0)
  j pass

  .balign 4
s_trap:
  csrr a7, scause
  bltz a7, 1f
  la s9, 102b
  ecall
1:
  la s9, 122b
  ecall

  .data
  .balign 8
buf: .dword 0, 0, 0
STACK
