/* RV64I + C: ALU, shifts, word ops, lui/auipc, branches, jumps, loads and stores. */
#include "test.h"
START
main:
  TEST(1)   /* addi/add/sub wrap around */
  li a0, -1
  addi a1, a0, 1
  CHECK(a1, 0)
  li a2, 0x7fffffffffffffff
  addi a3, a2, 1
  CHECK(a3, 0x8000000000000000)
  sub a4, a1, a0
  CHECK(a4, 1)
  TEST(2)   /* logic */
  li a0, 0xff00ff00ff00ff00
  li a1, 0x0ff00ff00ff00ff0
  and a2, a0, a1
  CHECK(a2, 0x0f000f000f000f00)
  or a2, a0, a1
  CHECK(a2, 0xfff0fff0fff0fff0)
  xor a2, a0, a1
  CHECK(a2, 0xf0f0f0f0f0f0f0f0)
  xori a2, a0, -1
  CHECK(a2, 0x00ff00ff00ff00ff)
  andi a2, a0, 0x7f0
  CHECK(a2, 0x700)
  ori a2, zero, -2048
  CHECK(a2, -2048)
  TEST(3)   /* compares */
  li a0, -5
  li a1, 3
  slt a2, a0, a1
  CHECK(a2, 1)
  sltu a2, a0, a1
  CHECK(a2, 0)
  slti a2, a0, -4
  CHECK(a2, 1)
  sltiu a2, a1, -1   /* 3 < 0xffff...ffff */
  CHECK(a2, 1)
  TEST(4)   /* shifts: amounts use the low 6 (5 for W) bits */
  li a0, 0x8000000000000001
  slli a1, a0, 1
  CHECK(a1, 2)
  srli a1, a0, 63
  CHECK(a1, 1)
  srai a1, a0, 63
  CHECK(a1, -1)
  li a2, 65
  sll a1, a0, a2
  CHECK(a1, 2)
  srl a1, a0, a2
  CHECK(a1, 0x4000000000000000)
  sra a1, a0, a2
  CHECK(a1, 0xc000000000000000)
  TEST(5)   /* word ops sign-extend their 32-bit results */
  li a0, 0x7fffffff
  addiw a1, a0, 1
  CHECK(a1, 0xffffffff80000000)
  addw a1, a0, a0
  CHECK(a1, -2)
  li a2, 0x100000000
  subw a1, a2, a0     /* 0 - 0x7fffffff */
  CHECK(a1, 0xffffffff80000001)
  slliw a1, a0, 1
  CHECK(a1, -2)
  li a3, 0xffffffff80000000
  srliw a1, a3, 31
  CHECK(a1, 1)
  sraiw a1, a3, 31
  CHECK(a1, -1)
  li a4, 33
  sllw a1, a0, a4     /* shift by 1 */
  CHECK(a1, -2)
  srlw a1, a3, a4
  CHECK(a1, 0x40000000)
  sraw a1, a3, a4
  CHECK(a1, 0xffffffffc0000000)
  addiw a1, a2, 0     /* sext.w of 0x100000000 */
  CHECK(a1, 0)
  TEST(6)   /* lui / auipc */
  lui a0, 0x80000
  CHECK(a0, 0xffffffff80000000)
1:
  auipc a1, 0
  la a2, 1b
  CHECKR(a1, a2)
61:
  auipc a1, 0x1
  la a2, 61b
  sub a1, a1, a2
  CHECK(a1, 0x1000)
  TEST(7)   /* branches, both directions and signedness */
  li a0, -1
  li a1, 1
  blt a1, a0, fail
  bge a0, a1, fail
  bltu a0, a1, fail
  bgeu a1, a0, fail
  beq a0, a1, fail
  bne a0, a0, fail
  blt a0, a1, 2f
  j fail
2:
  bltu a1, a0, 3f
  j fail
3:
  bge a1, a1, 4f
  j fail
4:
  TEST(8)   /* jal / jalr link values, jalr clears bit 0 */
  jal ra, 5f
6:
  j 7f
5:
  la a0, 6b
  CHECKR(ra, a0)
  la a1, 8f
  addi a1, a1, 1
  jalr a2, 0(a1)
81:
  j fail
8:
  la a3, 81b
  CHECKR(a2, a3)
  jr ra
7:
  TEST(9)   /* loads and stores of every width, sign/zero extension */
  la a0, buf
  li a1, 0x8877665544332211
  sd a1, 0(a0)
  lb a2, 7(a0)
  CHECK(a2, 0xffffffffffffff88)
  lbu a2, 7(a0)
  CHECK(a2, 0x88)
  lh a2, 6(a0)
  CHECK(a2, 0xffffffffffff8877)
  lhu a2, 6(a0)
  CHECK(a2, 0x8877)
  lw a2, 4(a0)
  CHECK(a2, 0xffffffff88776655)
  lwu a2, 4(a0)
  CHECK(a2, 0x88776655)
  ld a2, 0(a0)
  CHECKR(a2, a1)
  sb zero, 0(a0)
  sh zero, 2(a0)
  ld a2, 0(a0)
  CHECK(a2, 0x8877665500000000 | 0x2200)
  sw a1, 4(a0)
  ld a2, 0(a0)
  CHECK(a2, 0x4433221100002200)
  TEST(10)  /* x0 ignores writes */
  li t0, 5
  add zero, t0, t0
  addi x0, x0, 1
  lw zero, 0(a0)
  CHECK(zero, 0)
  TEST(11)  /* compressed forms (explicit) */
  c.li a0, -3
  CHECK(a0, -3)
  c.addi a0, 5
  CHECK(a0, 2)
  c.slli a0, 62
  CHECK(a0, 0x8000000000000000)
  c.srai a0, 1
  CHECK(a0, 0xc000000000000000)
  c.li s0, 7
  c.li s1, 12
  c.and s0, s1
  CHECK(s0, 4)
  c.addiw s0, -5
  CHECK(s0, -1)
  c.lui a3, 0x1f
  CHECK(a3, 0x1f000)
  addi sp, sp, -32
  c.sdsp a3, 8(sp)
  c.ldsp a4, 8(sp)
  CHECKR(a4, a3)
  c.swsp s0, 16(sp)
  c.lwsp a5, 16(sp)
  CHECK(a5, -1)
  c.mv a2, sp
  c.addi4spn a1, sp, 8
  c.ld a4, 0(a1)
  CHECKR(a4, a3)
  c.sd s1, 8(a1)
  c.lw a5, 8(a1)
  CHECK(a5, 12)
  addi sp, sp, 32
  c.li a0, 0
  c.beqz a0, 9f
  j fail
9:
  c.bnez a0, 92f
  j 93f
92:
  j fail
93:
  la a1, 10f
  c.jalr a1
  j 11f
10:
  c.jr ra
11:
  c.addi16sp sp, 64
  c.addi16sp sp, -64
  la a0, stack_top
  CHECKR(sp, a0)
  TEST(12)  /* a long loop crossing many block boundaries */
  li a0, 0
  li a1, 1000
12:
  add a0, a0, a1
  addi a1, a1, -1
  bnez a1, 12b
  CHECK(a0, 500500)
  j pass

  .data
  .balign 8
buf: .dword 0, 0
STACK
