/* F and D: moves, NaN-boxing, sign injection, fcsr, loads/stores, and arithmetic
 * with IEEE 754 results and flags. */
#include "test.h"
START
main:
  la s0, fdata
  TEST(1)   /* fmv and NaN-boxing */
  li a0, 0x3f800000       /* 1.0f */
  fmv.w.x fa0, a0
  fmv.x.d a1, fa0
  CHECK(a1, 0xffffffff3f800000)
  fmv.x.w a1, fa0
  CHECK(a1, 0x3f800000)
  li a0, 0xbf800000
  fmv.w.x fa1, a0
  fmv.x.w a1, fa1
  CHECK(a1, 0xffffffffbf800000)
  li a0, 0x4000000000000000 /* 2.0 */
  fmv.d.x fa2, a0
  fmv.x.d a1, fa2
  CHECK(a1, 0x4000000000000000)
  fmv.x.w a1, fa2         /* raw low bits, no unboxing */
  CHECK(a1, 0)
  fsgnj.s fa3, fa2, fa2   /* improperly boxed input reads as canonical NaN */
  fmv.x.w a1, fa3
  CHECK(a1, 0x7fc00000)
  TEST(2)   /* sign injection */
  fsgnjn.s fa3, fa0, fa0
  fmv.x.w a1, fa3
  CHECK(a1, 0xffffffffbf800000)
  fsgnjx.s fa3, fa1, fa1
  fmv.x.w a1, fa3
  CHECK(a1, 0x3f800000)
  fneg.d fa3, fa2
  fmv.x.d a1, fa3
  CHECK(a1, 0xc000000000000000)
  fabs.d fa4, fa3
  fmv.x.d a1, fa4
  CHECK(a1, 0x4000000000000000)
  TEST(3)   /* loads and stores */
  fld fa5, 0(s0)
  fsd fa5, 16(s0)
  ld a1, 16(s0)
  CHECK(a1, 0x400921fb54442d18)
  flw fa6, 8(s0)
  fmv.x.d a1, fa6
  CHECK(a1, 0xffffffff40490fdb)
  fsw fa6, 24(s0)
  lwu a1, 24(s0)
  CHECK(a1, 0x40490fdb)
  TEST(4)   /* fcsr, frm, fflags */
  fscsr zero
  li a0, 0xff
  fscsr a1, a0
  CHECK(a1, 0)
  frcsr a1
  CHECK(a1, 0xff)
  frrm a1
  CHECK(a1, 7)
  frflags a1
  CHECK(a1, 0x1f)
  fsrmi 1
  frcsr a1
  CHECK(a1, 0x3f)
  fsflags zero
  fsrm zero
  TEST(5)   /* arithmetic */
  li a0, 0x3ff0000000000000 /* 1.0 */
  fmv.d.x ft0, a0
  li a0, 0x4008000000000000 /* 3.0 */
  fmv.d.x ft1, a0
  fdiv.d ft2, ft0, ft1     /* 1/3: inexact */
  fmv.x.d a1, ft2
  CHECK(a1, 0x3fd5555555555555)
  frflags a1
  CHECK(a1, 1)
  fsflags zero
  fadd.d ft3, ft0, ft1
  fmv.x.d a1, ft3
  CHECK(a1, 0x4010000000000000)
  fmul.d ft3, ft1, ft1
  fsqrt.d ft4, ft3
  feq.d a1, ft4, ft1
  CHECK(a1, 1)
  frflags a1
  CHECK(a1, 0)
  fmadd.d ft5, ft1, ft1, ft0 /* 3*3+1 = 10 */
  fmv.x.d a1, ft5
  CHECK(a1, 0x4024000000000000)
  fcvt.w.d a1, ft5
  CHECK(a1, 10)
  li a0, -7
  fcvt.s.l ft6, a0
  fmv.x.w a1, ft6
  CHECK(a1, 0xffffffffc0e00000)
  fcvt.d.s ft7, ft6
  fmv.x.d a1, ft7
  CHECK(a1, 0xc01c000000000000)
  fcvt.lu.d a1, ft7       /* negative to unsigned saturates to 0, invalid */
  CHECK(a1, 0)
  frflags a1
  CHECK(a1, 0x10)
  fsflags zero
  fdiv.s fa0, fa0, fa2    /* 1.0f / NaN-boxing failure -> canonical NaN */
  fmv.x.w a1, fa0
  CHECK(a1, 0x7fc00000)
  fclass.d a1, ft7
  CHECK(a1, 2)             /* negative normal */
  flt.d a1, ft7, ft0
  CHECK(a1, 1)
  fmin.d ft8, ft7, ft0
  fmv.x.d a1, ft8
  CHECK(a1, 0xc01c000000000000)
  TEST(6)   /* rounding: static rm and dynamic frm; a reserved frm is illegal */
  li a0, 0x3ff8000000000000 /* 1.5 */
  fmv.d.x ft0, a0
  fcvt.w.d a1, ft0, rne
  CHECK(a1, 2)
  fcvt.w.d a1, ft0, rtz
  CHECK(a1, 1)
  fsrmi 2                 /* rdn */
  fcvt.w.d a1, ft0
  CHECK(a1, 1)
  fsrmi 5                 /* reserved */
  fcvt.w.d a1, ft0
  EXPECT_TRAP(2)
  fsrmi 0
  TEST(7)   /* FS = Off makes F/D instructions and fcsr illegal; writes set Dirty */
  li a0, 0x6000
  csrc mstatus, a0
  fadd.d ft0, ft0, ft0
  EXPECT_TRAP(2)
  fld ft0, 0(s0)
  EXPECT_TRAP(2)
  frcsr a1
  EXPECT_TRAP(2)
  li a0, 0x2000
  csrs mstatus, a0        /* Initial */
  fmv.d.x ft0, zero
  csrr a1, mstatus
  srli a1, a1, 13
  andi a1, a1, 3
  CHECK(a1, 3)
  csrr a1, mstatus
  bgez a1, fail           /* SD */
  j pass

  .data
  .balign 8
fdata:
  .dword 0x400921fb54442d18  /* pi */
  .word 0x40490fdb, 0        /* pi (single) */
  .dword 0, 0
STACK
