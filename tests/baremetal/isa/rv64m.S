/* RV64M: multiplication and division, including the spec's division-by-zero and
 * overflow results (unprivileged spec, table "Semantics for division by zero and
 * division overflow"). */
#include "test.h"
START
main:
  TEST(1)
  li a0, -3
  li a1, 7
  mul a2, a0, a1
  CHECK(a2, -21)
  mulh a2, a0, a1
  CHECK(a2, -1)
  mulhu a2, a0, a1      /* (2^64-3)*7 >> 64 = 6 */
  CHECK(a2, 6)
  mulhsu a2, a0, a1     /* -21 >> 64 = -1 */
  CHECK(a2, -1)
  mulhsu a2, a1, a0     /* 7 * (2^64-3) >> 64 = 6 */
  CHECK(a2, 6)
  li a3, 0x8000000000000000
  mulh a2, a3, a3       /* 2^126 >> 64 = 2^62 */
  CHECK(a2, 0x4000000000000000)
  mulw a2, a3, a3
  CHECK(a2, 0)
  li a4, 0x10000
  mulw a2, a4, a4       /* 2^32 truncates to 0 */
  CHECK(a2, 0)
  li a4, 0xffff
  mulw a2, a4, a4       /* 0xfffe0001 sign-extended */
  CHECK(a2, 0xfffffffffffe0001)
  TEST(2)
  li a0, -7
  li a1, 2
  div a2, a0, a1
  CHECK(a2, -3)
  rem a2, a0, a1
  CHECK(a2, -1)
  divu a2, a0, a1
  CHECK(a2, 0x7ffffffffffffffc)
  remu a2, a0, a1
  CHECK(a2, 1)
  TEST(3)   /* division by zero */
  div a2, a0, zero
  CHECK(a2, -1)
  divu a2, a0, zero
  CHECK(a2, -1)
  rem a2, a0, zero
  CHECK(a2, -7)
  remu a2, a0, zero
  CHECK(a2, -7)
  divw a2, a0, zero
  CHECK(a2, -1)
  divuw a2, a0, zero
  CHECK(a2, -1)
  remw a2, a0, zero
  CHECK(a2, -7)
  li a5, 0x1fffffff9    /* low word -7 */
  remuw a2, a5, zero
  CHECK(a2, -7)
  TEST(4)   /* overflow */
  li a3, 0x8000000000000000
  li a4, -1
  div a2, a3, a4
  CHECKR(a2, a3)
  rem a2, a3, a4
  CHECK(a2, 0)
  li a3, 0xffffffff80000000
  divw a2, a3, a4
  CHECK(a2, 0xffffffff80000000)
  remw a2, a3, a4
  CHECK(a2, 0)
  TEST(5)   /* word ops ignore the upper halves */
  li a0, 0x123456789
  li a1, 0xf00000003
  divw a2, a0, a1       /* 0x23456789 / 3 */
  CHECK(a2, 0xbc1cd2d)
  divuw a2, a3, a1      /* 0x80000000 / 3 */
  CHECK(a2, 0x2aaaaaaa)
  remuw a2, a3, a1
  CHECK(a2, 2)
  remw a2, a3, a1       /* -2^31 rem 3 = -2 */
  CHECK(a2, -2)
  j pass
STACK
