/* Self-modifying code: rewriting already-translated code, with fence.i, and stores
 * into the block being executed. */
#include "test.h"
START
main:
  TEST(1)   /* patch a function that has run, fence.i, run again */
  call patchme
  CHECK(a0, 1)
  la a1, patchme
  li a2, 0x00200513       /* addi a0, zero, 2 */
  sw a2, 0(a1)
  fence.i
  call patchme
  CHECK(a0, 2)
  TEST(2)   /* same without fence.i: stores into translated code are detected */
  li a2, 0x00300513       /* addi a0, zero, 3 */
  sw a2, 0(a1)
  call patchme
  CHECK(a0, 3)
  TEST(3)   /* a store into the next instruction of the running block */
  la a1, 31f
  li a2, 0x00700513       /* addi a0, zero, 7 */
  li a0, 0
  sw a2, 0(a1)
  .option push
  .option norvc
31:
  addi a0, zero, 5
  .option pop
  CHECK(a0, 7)
  TEST(4)   /* many patches in a loop (each invalidates the translations) */
  li s1, 0
  li s2, 50
  la a1, patchme
41:
  slli a2, s1, 20
  li a3, 0x00000513
  or a2, a2, a3           /* addi a0, zero, s1 */
  sw a2, 0(a1)
  fence.i
  call patchme
  CHECKR(a0, s1)
  addi s1, s1, 1
  bne s1, s2, 41b
  j pass

  .balign 4
patchme:
  .option push
  .option norvc
  addi a0, zero, 1
  ret
  .option pop
STACK
