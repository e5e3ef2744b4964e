//! A one-address `sfence.vma` against 2 MiB leaves (mmu.rs `tlb_flush_page`, the bitmap
//! `Hart::tlb_mega` of the 2 MiB ranges walks found such leaves in): code in a megapage
//! (fetch TLB, jump cache, blocks straddling into and out of it, a tier-2 region calling
//! into it) runs the new mapping after a fence of another of its pages, in Sv39 and
//! Sv48, in both halves of the address space; a fence in another 2 MiB range leaves the
//! megapage's translations alone.

mod common;

use common::{addi, i_type, jal, bne, Machine, J_SELF, RAM_BASE, T0};
use ktranslator::csr::num::{MCAUSE, MSTATUS, MTVEC, SATP};
use ktranslator::csr::MSTATUS_MPRV;
use ktranslator::hart::{prv, Exit};

const A0: u32 = 10;
const A1: u32 = 11;
const A2: u32 = 12;
const RA: u32 = 1;
const PTE_V: u64 = 1;
const RWX: u64 = 2 | 4 | 8;
const AD: u64 = 0x40 | 0x80;
const MPP_S: u64 = 1 << 11;

const ROOT: u64 = RAM_BASE + 0x1_0000;
const L2: u64 = RAM_BASE + 0x1_1000;
const L1: u64 = RAM_BASE + 0x1_2000;
const L0: u64 = RAM_BASE + 0x1_3000;
const L0B: u64 = RAM_BASE + 0x1_4000;
const CODE: u64 = RAM_BASE + 0x3_0000;
const HANDLER: u64 = RAM_BASE + 0x3_1000;
const MEGA_A: u64 = RAM_BASE + 0x20_0000;
const MEGA_B: u64 = RAM_BASE + 0x40_0000;
const PG_C: u64 = RAM_BASE + 0x6_0000;
const PG_D: u64 = RAM_BASE + 0x6_1000;

fn pte(pa: u64, flags: u64) -> [u8; 8] {
    (((pa >> 12) << 10) | flags).to_le_bytes()
}

struct Mm {
    m: Machine,
    /// L1 table slot of the megapage at `va`.
    va: u64,
}

/// `va`: 2 MiB aligned with L1 index 1 (so va - 4 KiB and va + 2 MiB share its L1 table).
fn setup(va: u64, sv48: bool) -> Mm {
    assert_eq!((va >> 21) & 511, 1);
    let mut m = Machine::new(8 << 20, 1 << 18);
    if sv48 {
        m.write(ROOT + 8 * ((va >> 39) & 511), &pte(L2, PTE_V));
        m.write(L2 + 8 * ((va >> 30) & 511), &pte(L1, PTE_V));
    } else {
        m.write(ROOT + 8 * ((va >> 30) & 511), &pte(L1, PTE_V));
    }
    m.write(L1 + 8, &pte(MEGA_A, PTE_V | RWX | AD));
    // The 2 MiB range below: 4 KiB pages (L0), its last page -> PG_C.
    m.write(L1, &pte(L0, PTE_V));
    m.write(L0 + 8 * 511, &pte(PG_C, PTE_V | RWX | AD));
    // The 2 MiB range above: 4 KiB pages (L0B), its first page -> PG_C too.
    m.write(L1 + 16, &pte(L0B, PTE_V));
    m.write(L0B, &pte(PG_C, PTE_V | RWX | AD));
    m.write_words(CODE, &[0x1200_0073 | (A2 << 15), i_type(0x03, A0, 3, A1, 0), J_SELF]);
    m.write_words(HANDLER, &[J_SELF]);
    let h = m.hart();
    let mode = if sv48 { 9u64 } else { 8 };
    assert!(h.csr_write(SATP, (mode << 60) | (ROOT >> 12)));
    assert!(h.csr_write(MTVEC, HANDLER));
    Mm { m, va }
}

impl Mm {
    fn set_mega(&mut self, pa: u64) {
        self.m.write(L1 + 8, &pte(pa, PTE_V | RWX | AD));
    }
    /// sfence.vma `flush` (one address), from M-mode with MPRV (a load of `ld`).
    fn fence(&mut self, flush: u64, ld: u64) {
        let h = self.m.hart();
        h.set_privilege(prv::M);
        assert!(h.csr_write(MSTATUS, MSTATUS_MPRV | MPP_S));
        assert!(h.csr_write(MCAUSE, 0));
        h.set_xreg(A1 as usize, ld);
        h.set_xreg(A2 as usize, flush);
        h.set_pc(CODE);
        let f = h.stats.tlb_flushes;
        assert_eq!(self.m.run(3), Exit::Budget);
        let h = self.m.hart();
        assert_eq!(h.stats.tlb_flushes, f, "a one-page flush");
        assert!(h.csr_write(MSTATUS, 0));
    }
    fn run_s(&mut self, pc: u64) -> u64 {
        let h = self.m.hart();
        h.set_privilege(prv::S);
        h.set_xreg(A0 as usize, 0);
        h.set_pc(pc);
        assert_eq!(self.m.run(4), Exit::Budget);
        self.m.hart().xreg(A0 as usize)
    }
}

const VAS: [(u64, bool); 4] = [
    (0x0000_0000_4020_0000, false),
    (0xffff_ffc0_4020_0000, false),
    (0x0000_1000_4020_0000, true),
    (0xffff_8000_4020_0000, true),
];

#[test]
fn code_in_a_megapage_after_a_fence_of_another_of_its_pages() {
    for (va, sv48) in VAS {
        let mut mm = setup(va, sv48);
        mm.m.write_words(MEGA_A + 0x5000, &[addi(A0, 0, 1), J_SELF]);
        mm.m.write_words(MEGA_B + 0x5000, &[addi(A0, 0, 2), J_SELF]);
        assert_eq!(mm.run_s(va + 0x5000), 1);
        assert_eq!(mm.run_s(va + 0x5000), 1);
        mm.set_mega(MEGA_B);
        mm.fence(va + 0x1f_f000, va + 0x10);
        assert_eq!(mm.run_s(mm.va + 0x5000), 2, "va {va:#x} sv48 {sv48}");
    }
}

/// `addi a0, zero, imm`: lower halfword, upper halfword.
fn addi_halves(imm: u32) -> (u16, u16) {
    let w = addi(A0, 0, imm as i32);
    (w as u16, (w >> 16) as u16)
}

#[test]
fn straddle_from_a_4k_page_into_a_megapage() {
    for (va, sv48) in VAS {
        let mut mm = setup(va, sv48);
        let (lo, hi1) = addi_halves(7);
        let (_, hi2) = addi_halves(9);
        mm.m.write(PG_C + 0xffe, &lo.to_le_bytes());
        mm.m.write(MEGA_A, &hi1.to_le_bytes());
        mm.m.write(MEGA_A + 2, &(J_SELF).to_le_bytes());
        mm.m.write(MEGA_B, &hi2.to_le_bytes());
        mm.m.write(MEGA_B + 2, &(J_SELF).to_le_bytes());
        assert_eq!(mm.run_s(va - 2), 7);
        assert_eq!(mm.run_s(va - 2), 7);
        mm.set_mega(MEGA_B);
        mm.fence(va + 0x10_0000, va + 0x10);
        assert_eq!(mm.run_s(va - 2), 9, "va {va:#x} sv48 {sv48}");
    }
}

#[test]
fn straddle_from_a_megapage_into_a_4k_page() {
    for (va, sv48) in VAS {
        let mut mm = setup(va, sv48);
        let (lo, hi1) = addi_halves(7);
        let (_, hi2) = addi_halves(9);
        mm.m.write(MEGA_A + 0x1f_fffe, &lo.to_le_bytes());
        mm.m.write(PG_C, &hi1.to_le_bytes());
        mm.m.write(PG_C + 2, &(J_SELF).to_le_bytes());
        mm.m.write(PG_D, &hi2.to_le_bytes());
        mm.m.write(PG_D + 2, &(J_SELF).to_le_bytes());
        let pc = va + 0x1f_fffe;
        assert_eq!(mm.run_s(pc), 7);
        assert_eq!(mm.run_s(pc), 7);
        mm.m.write(L0B, &pte(PG_D, PTE_V | RWX | AD));
        mm.fence(va + 0x20_0000, va + 0x10);
        assert_eq!(mm.run_s(pc), 9, "va {va:#x} sv48 {sv48}");
    }
}

/// Tier 2: a loop in a 4 KiB page calls F in the megapage; the megapage is remapped
/// and another of its pages fenced: the program must run the new F.
#[test]
fn a_region_sees_its_megapage_remapped() {
    if !cfg!(target_arch = "x86_64") {
        eprintln!("SKIPPED: tier 2's userspace JIT is x86-64 only");
        return;
    }
    const TURNS: u64 = 200;
    for (va, sv48) in VAS {
        let mut mm = setup(va, sv48);
        assert!(mm.m.enable_tier2(2));
        let vloop = va - 0x1000;
        let vf = va + 0x3000;
        mm.m.write_words(PG_C, &[jal(RA, (vf - vloop) as i32), addi(T0, T0, -1), bne(T0, 0, -8), J_SELF]);
        let ret = i_type(0x67, 0, 0, RA, 0);
        mm.m.write_words(MEGA_A + 0x3000, &[addi(A0, A0, 1), ret]);
        mm.m.write_words(MEGA_B + 0x3000, &[addi(A0, A0, 100), ret]);
        let run_loop = |m: &mut Machine| common::run_call_loop(m, vloop, TURNS);
        assert_eq!(run_loop(&mut mm.m).0, TURNS);
        let (a0, entries) = run_loop(&mut mm.m);
        assert_eq!(a0, TURNS);
        assert!(entries <= 3, "{entries} entries: F not inside the program");
        mm.set_mega(MEGA_B);
        mm.fence(va + 0x1f_f000, va + 0x10);
        assert_eq!(run_loop(&mut mm.m).0, 100 * TURNS, "va {va:#x} sv48 {sv48}");
    }
}

/// A fence of a 4 KiB page in another 2 MiB range keeps the megapage's translations
/// (the ISA lets them stay; a fence of every 2 MiB range for each such page emptied the
/// jump cache 93,000 times in a Debian guest's xz run). It also shows that the tests
/// above can fail: without their fence the old code runs.
#[test]
fn a_fence_in_another_2_mib_range_keeps_the_megapage() {
    let (va, sv48) = VAS[0];
    let mut mm = setup(va, sv48);
    mm.m.write_words(MEGA_A + 0x5000, &[addi(A0, 0, 1), J_SELF]);
    mm.m.write_words(MEGA_B + 0x5000, &[addi(A0, 0, 2), J_SELF]);
    assert_eq!(mm.run_s(va + 0x5000), 1);
    mm.set_mega(MEGA_B);
    mm.fence(va + 0x20_0000, va - 0x1000);
    assert_eq!(mm.run_s(va + 0x5000), 1, "the old mapping, kept (allowed) after a fence of another range");
}
