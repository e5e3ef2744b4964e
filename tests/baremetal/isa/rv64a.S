/* RV64A: LR/SC with a reservation and every AMO, word and doubleword. */
#include "test.h"
START
main:
  la s0, data
  TEST(1)   /* lr/sc success and failure */
  li a0, 5
  sd a0, 0(s0)
  lr.d a1, (s0)
  CHECK(a1, 5)
  li a2, 9
  sc.d a3, a2, (s0)
  CHECK(a3, 0)
  ld a1, 0(s0)
  CHECK(a1, 9)
  sc.d a3, a0, (s0)       /* no reservation any more */
  CHECK(a3, 1)
  ld a1, 0(s0)
  CHECK(a1, 9)
  lr.w a1, (s0)
  addi a4, s0, 8
  sc.w a3, a0, (a4)       /* different address */
  CHECK(a3, 1)
  lr.w a1, (s0)
  ecall                   /* a trap clears the reservation */
  EXPECT_TRAP(11)
  sc.w a3, a0, (s0)
  CHECK(a3, 1)
  TEST(2)   /* lr.w sign-extends */
  li a0, 0x80000000
  sw a0, 0(s0)
  lr.w a1, (s0)
  CHECK(a1, 0xffffffff80000000)
  TEST(3)   /* word AMOs: old value sign-extended into rd */
  li a0, 0xfffffffe
  sw a0, 0(s0)
  li a1, 3
  amoadd.w a2, a1, (s0)
  CHECK(a2, -2)
  lw a3, 0(s0)
  CHECK(a3, 1)
  amoswap.w a2, a0, (s0)
  CHECK(a2, 1)
  amoxor.w a2, a1, (s0)   /* -2 ^ 3 = -3 */
  lw a3, 0(s0)
  CHECK(a3, -3)
  amoand.w a2, a1, (s0)   /* -3 & 3 = 1 */
  lw a3, 0(s0)
  CHECK(a3, 1)
  amoor.w a2, a0, (s0)    /* 1 | -2 = -1 */
  lw a3, 0(s0)
  CHECK(a3, -1)
  amomin.w a2, a1, (s0)   /* min(-1, 3) = -1 */
  lw a3, 0(s0)
  CHECK(a3, -1)
  amomax.w a2, a1, (s0)
  lw a3, 0(s0)
  CHECK(a3, 3)
  amominu.w a2, a0, (s0)  /* minu(3, 0xfffffffe) = 3 */
  lw a3, 0(s0)
  CHECK(a3, 3)
  amomaxu.w a2, a0, (s0)
  lw a3, 0(s0)
  CHECK(a3, -2)
  lw a3, 4(s0)            /* upper word untouched */
  CHECK(a3, 0)
  TEST(4)   /* doubleword AMOs */
  li a0, -10
  sd a0, 0(s0)
  li a1, 4
  amoadd.d a2, a1, (s0)
  CHECK(a2, -10)
  ld a3, 0(s0)
  CHECK(a3, -6)
  amomin.d a2, a1, (s0)
  ld a3, 0(s0)
  CHECK(a3, -6)
  amominu.d a2, a1, (s0)
  ld a3, 0(s0)
  CHECK(a3, 4)
  amomaxu.d a2, a0, (s0)
  ld a3, 0(s0)
  CHECK(a3, -10)
  amomax.d a2, a1, (s0)
  ld a3, 0(s0)
  CHECK(a3, 4)
  amoswap.d a2, a0, (s0)
  CHECK(a2, 4)
  amoxor.d a2, a0, (s0)
  ld a3, 0(s0)
  CHECK(a3, 0)
  amoor.d a2, a1, (s0)
  amoand.d a2, a0, (s0)   /* 4 & -10 = 4 */
  ld a3, 0(s0)
  CHECK(a3, 4)
  amoadd.d zero, a1, (s0) /* rd = x0 still stores */
  ld a3, 0(s0)
  CHECK(a3, 8)
  TEST(5)   /* misaligned AMO and LR fault; AMO to non-RAM faults */
  addi a4, s0, 4
  amoadd.d a2, a1, (a4)
  EXPECT_TRAP(6)
  lr.d a2, (a4)
  EXPECT_TRAP(4)
  li a4, 0x10000000
  amoadd.w a2, a1, (a4)
  EXPECT_TRAP(7)
  j pass

  .data
  .balign 8
data: .dword 0, 0
STACK
