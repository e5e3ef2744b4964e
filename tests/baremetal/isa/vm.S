/* Virtual memory: Sv39 and Sv48 page tables built here, S-mode and U-mode code,
 * delegated page faults, A/D updates, SUM, MXR, MPRV, sfence.vma. */
#include "test.h"

#define V 0x01
#define R 0x02
#define W 0x04
#define X 0x08
#define U 0x10
#define A 0x40
#define D 0x80
/* reg = PTE pointing at the page of label `l` with flags f */
#define PTE(reg, l, f) la reg, l; srli reg, reg, 12; slli reg, reg, 10; ori reg, reg, f
#define UVA(off) (0x400000 + (off))
/* Run the U-mode snippet `l` (in the ucode page) from S-mode; resume at the next
 * instruction (in S) when it traps. */
#define UADDR(reg, l) la reg, l; la t6, ucode; sub reg, reg, t6; li t6, 0x400000; add reg, reg, t6
#define RUN_U(l) la s9, 1f; UADDR(t0, l); csrw sepc, t0; li t0, 0x100; csrc sstatus, t0; sret; 1:
#define EXPECT_S(c, tv) li t6, c; bne s10, t6, fail; li t6, tv; bne s11, t6, fail; li s10, -1

START
main:
  TEST(1)   /* build the tables: gigapage identity map of RAM, 4 KiB user pages */
  la s0, root
  la s1, l1
  la s2, l0
  li t0, (0x80000 << 10) | V | R | W | X | A | D
  sd t0, 16(s0)            /* VPN2 = 2: 0x80000000, 1 GiB, supervisor RWX */
  PTE(t0, l1, V)
  sd t0, 0(s0)             /* VPN2 = 0 -> l1 */
  PTE(t0, l0, V)
  sd t0, 16(s1)            /* VPN1 = 2 (0x400000) -> l0 */
  li t0, V | R | W | A | D
  sd t0, 0(s1)             /* 0..2 MiB: supervisor devices (test device) */
  PTE(t0, ucode, V | R | X | U | A)
  sd t0, 0(s2)             /* 0x400000: user code */
  PTE(t0, udata, V | R | W | U)
  sd t0, 8(s2)             /* 0x401000: user data, A and D clear */
  PTE(t0, udata, V | R | U | A)
  sd t0, 16(s2)            /* 0x402000: user read-only */
  PTE(t0, udata, V | X | U | A)
  sd t0, 24(s2)            /* 0x403000: user execute-only */
  PTE(t0, udata, V | R | W | A | D)
  sd t0, 40(s2)            /* 0x405000: supervisor data */
  la t0, udata
  li t1, 0x1122334455667788
  sd t1, 0(t0)
  li t0, (1 << 8) | (1 << 2) | (1 << 12) | (1 << 13) | (1 << 15)
  csrw medeleg, t0         /* U ecall, illegal, page faults -> S */
  la t0, s_trap
  csrw stvec, t0
  srli t0, s0, 12
  li t1, 8 << 60
  or t0, t0, t1
  csrw satp, t0
  sfence.vma
  li t0, 0x1800
  csrc mstatus, t0
  li t0, 0x0800            /* MPP = S */
  csrs mstatus, t0
  la t0, s_main
  csrw mepc, t0
  mret

s_main:
  TEST(2)   /* S-mode runs through the gigapage */
  la t0, udata
  ld t1, 0(t0)
  CHECK(t1, 0x1122334455667788)
  TEST(3)   /* S access to a U page faults without SUM */
  li a0, 0x401000
  la s9, 31f
  ld a1, 0(a0)
31:
  EXPECT_S(13, 0x401000)
  TEST(4)   /* with SUM it works and sets A, then D */
  li t0, 1 << 18
  csrs sstatus, t0
  ld a1, 0(a0)
  CHECK(a1, 0x1122334455667788)
  ld t1, 8(s2)
  andi t2, t1, A | D
  CHECK(t2, A)
  li a2, 42
  sd a2, 8(a0)
  ld t1, 8(s2)
  andi t2, t1, A | D
  CHECK(t2, A | D)
  TEST(5)   /* S cannot execute a U page, even with SUM */
  la s9, 51f
  li t0, 0x400000
  jr t0
51:
  EXPECT_S(12, 0x400000)
  li t0, 1 << 18
  csrc sstatus, t0
  TEST(6)   /* U-mode: load + ecall */
  li a1, 0
  RUN_U(u_load)
  EXPECT_S(8, 0)
  CHECK(a1, 0x1122334455667788)
  CHECK(a2, 42)
  UADDR(t1, u_load_ecall)
  CHECKR(s8, t1)
  TEST(7)   /* U store to a read-only page */
  RUN_U(u_store_ro)
  EXPECT_S(15, 0x402010)
  TEST(8)   /* U load from an execute-only page: fault, then fine with MXR */
  RUN_U(u_load_xo)
  EXPECT_S(13, 0x403000)
  li t0, 1 << 19
  csrs sstatus, t0
  RUN_U(u_load_xo)
  EXPECT_S(8, 0)
  CHECK(a1, 0x1122334455667788)
  li t0, 1 << 19
  csrc sstatus, t0
  TEST(9)   /* U access to a supervisor page, to an unmapped page, non-canonical */
  RUN_U(u_load_s)
  EXPECT_S(13, 0x405000)
  RUN_U(u_load_unmapped)
  EXPECT_S(13, 0x404008)
  RUN_U(u_load_noncanon)
  EXPECT_S(13, 0x8000000000)
  TEST(10)  /* U privileged instruction -> illegal, handled by S */
  RUN_U(u_priv)
  EXPECT_S(2, 0x10002573)
  TEST(11)  /* U jumps to a supervisor page */
  RUN_U(u_jump_s)
  EXPECT_S(12, 0x80000000)
  TEST(12)  /* make the read-only page writable: after sfence.vma the store works */
  PTE(t0, udata, V | R | W | U | A | D)
  sd t0, 16(s2)
  sfence.vma
  RUN_U(u_store_ro)
  EXPECT_S(8, 0)
  la t0, udata
  ld t1, 16(t0)
  CHECK(t1, 0x77)
  TEST(13)  /* misaligned U access across two pages (0x401ffc..0x402003) */
  RUN_U(u_cross)
  EXPECT_S(8, 0)
  CHECK(a1, 0x8877665544332211)
  la t0, udata
  lwu t1, 0(t0)
  CHECK(t1, 0x88776655)
  li t2, 0xffc
  add t0, t0, t2
  lwu t1, 0(t0)
  CHECK(t1, 0x44332211)
  TEST(14)  /* back to M via ecall from S */
  la s9, m_part
  ecall
  j fail

m_part:
  EXPECT_TRAP(9)
  TEST(15)  /* MPRV: M-mode loads translated with MPP = S */
  li t0, 0x1800
  csrc mstatus, t0
  li t0, 0x0800 | (1 << 17)
  csrs mstatus, t0
  li a0, 0x405000
  ld a1, 0(a0)
  CHECK(a1, 0x1122334488776655)   /* low half rewritten by case 13 */
  li t0, 1 << 17
  csrc mstatus, t0
  TEST(16)  /* Sv48: one more level above the Sv39 root */
  la s3, root4
  PTE(t0, root, V)
  sd t0, 0(s3)
  srli t0, s3, 12
  li t1, 9 << 60
  or t0, t0, t1
  csrw satp, t0
  csrr t1, satp
  CHECKR(t1, t0)
  li t0, 0x1800
  csrc mstatus, t0
  li t0, 0x0800
  csrs mstatus, t0
  la t0, s_main48
  csrw mepc, t0
  mret
s_main48:
  li a1, 0
  RUN_U(u_load)
  EXPECT_S(8, 0)
  CHECK(a1, 0x1122334488776655)
  RUN_U(u_load_noncanon)     /* 0x8000000000 is canonical in Sv48, but unmapped */
  EXPECT_S(13, 0x8000000000)
  TEST(17)  /* an unsupported satp mode leaves satp unchanged */
  la s9, 171f
  ecall
171:
  csrr t0, satp
  li t1, 10 << 60
  csrw satp, t1
  csrr t1, satp
  CHECKR(t1, t0)
  csrw satp, zero
  j pass

  .balign 4
s_trap:                     /* record (s8 = sepc), resume at s9 in S-mode */
  csrr s8, sepc
  csrr s10, scause
  csrr s11, stval
  csrw sepc, s9
  li t6, 0x100
  csrs sstatus, t6
  sret

  /* User code: one page, mapped at 0x400000. */
  .balign 4096
ucode:
u_load:
  li t0, 0x401000
  ld a1, 0(t0)
  ld a2, 8(t0)
u_load_ecall:
  ecall
u_store_ro:
  li t0, 0x402000
  li t1, 0x77
  sd t1, 16(t0)
  ecall
u_load_xo:
  li t0, 0x403000
  ld a1, 0(t0)
  ecall
u_load_s:
  li t0, 0x405000
  ld a1, 0(t0)
  ecall
u_load_unmapped:
  li t0, 0x404000
  ld a1, 8(t0)
  ecall
u_load_noncanon:
  li t0, 0x8000000000
  ld a1, 0(t0)
  ecall
u_priv:
  csrr a0, sstatus
  ecall
u_jump_s:
  li t0, 0x80000000
  jr t0
u_cross:
  li t0, 0x401ffc
  li t1, 0x8877665544332211
  sd t1, 0(t0)
  ld a1, 0(t0)
  ecall

  .data
  .balign 4096
udata: .dword 0, 0, 0, 0
  .balign 4096

  .section .bss
  .balign 4096
root: .space 4096
l1: .space 4096
l0: .space 4096
root4: .space 4096
STACK
