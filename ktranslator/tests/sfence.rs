//! sfence.vma with an address (what Linux issues after a page fault) must drop every
//! translation of that address, including one the TLB holds for another 4 KiB page of
//! the same megapage or gigapage, where the leaf PTE that maps both is the one that
//! changed; and the translations it keeps must stay right.
//!
//! Each case fills a TLB entry through a load, changes the page tables, flushes with
//! sfence.vma naming an address (the same page, or another page of the same superpage)
//! and loads again: the load must see the new mapping. The code runs in M-mode with
//! MPRV (loads translated as S-mode), so it needs no mapping of its own.

mod common;

use common::{addi, bne, i_type, jal, Machine, J_SELF, RAM_BASE, T0};
use ktranslator::csr::cause::LOAD_PAGE;
use ktranslator::csr::num::{MCAUSE, MSTATUS, MTVEC, SATP};
use ktranslator::csr::MSTATUS_MPRV;
use ktranslator::hart::{prv, Exit};

const A0: u32 = 10;
const A1: u32 = 11;
const A2: u32 = 12;
const PTE_V: u64 = 1;
const PTE_RW: u64 = 2 | 4;
const PTE_AD: u64 = 0x40 | 0x80;
const MSTATUS_MPP_S: u64 = 1 << 11;

const ROOT: u64 = RAM_BASE + 0x1_0000;
const L1: u64 = RAM_BASE + 0x1_1000;
const L0: u64 = RAM_BASE + 0x1_2000;
/// The megapage's level-1 table.
const L1_MEGA: u64 = RAM_BASE + 0x1_3000;
const CODE: u64 = RAM_BASE + 0x3_0000;
const HANDLER: u64 = RAM_BASE + 0x3_1000;
/// Two physical pages holding different values.
const PAGE_A: u64 = RAM_BASE + 0x4_0000;
const PAGE_B: u64 = RAM_BASE + 0x4_1000;
const VALUE_A: u64 = 0xaaaa;
const VALUE_B: u64 = 0xbbbb;

/// A 4 KiB page (level-0 leaf), a megapage (level-1 leaf) and a gigapage (the root's
/// leaf), each in its own gigabyte of virtual space.
const VA_4K: u64 = 0x4000_0000;
const VA_2M: u64 = 0x8000_0000;
const VA_1G: u64 = 0xc000_0000;

fn pte(pa: u64, flags: u64) -> [u8; 8] {
    (((pa >> 12) << 10) | flags).to_le_bytes()
}

fn leaf(pa: u64) -> [u8; 8] {
    pte(pa, PTE_V | PTE_RW | PTE_AD)
}

fn machine() -> Machine {
    let mut m = Machine::new(1 << 20, 1 << 16);
    m.write(ROOT + 8 * ((VA_4K >> 30) & 511), &pte(L1, PTE_V));
    m.write(L1 + 8 * ((VA_4K >> 21) & 511), &pte(L0, PTE_V));
    m.write(L0 + 8 * ((VA_4K >> 12) & 511), &leaf(PAGE_A));
    // The megapage maps physical RAM_BASE (2 MiB aligned), the gigapage too.
    m.write(ROOT + 8 * ((VA_2M >> 30) & 511), &pte(L1_MEGA, PTE_V));
    m.write(L1_MEGA + 8 * ((VA_2M >> 21) & 511), &leaf(RAM_BASE));
    m.write(ROOT + 8 * ((VA_1G >> 30) & 511), &leaf(RAM_BASE));
    m.write(PAGE_A, &VALUE_A.to_le_bytes());
    m.write(PAGE_B, &VALUE_B.to_le_bytes());
    // sfence.vma a2, zero; ld a0, 0(a1); j .
    m.write_words(CODE, &[0x1200_0073 | (A2 << 15), i_type(0x03, A0, 3, A1, 0), J_SELF]);
    m.write_words(HANDLER, &[J_SELF]);
    let h = m.hart();
    assert!(h.csr_write(SATP, (8 << 60) | (ROOT >> 12)));
    assert!(h.csr_write(MTVEC, HANDLER));
    assert!(h.csr_write(MSTATUS, MSTATUS_MPRV | MSTATUS_MPP_S));
    m
}

/// Flushes `flush` (an address; 0 is x0's value, but the instruction names a2, so it
/// is the one-address form for 0 too) and loads from `va`: `Some(value)`, or `None`
/// after a load page fault.
fn load(m: &mut Machine, flush: u64, va: u64) -> Option<u64> {
    let h = m.hart();
    h.set_privilege(prv::M);
    assert!(h.csr_write(MCAUSE, 0));
    h.set_xreg(A1 as usize, va);
    h.set_xreg(A2 as usize, flush);
    h.set_pc(CODE);
    let traps = h.stats.traps;
    assert_eq!(m.run(3), Exit::Budget);
    let h = m.hart();
    if h.stats.traps == traps {
        Some(h.xreg(A0 as usize))
    } else {
        assert_eq!(h.csr_read(&mut common::TestBus::default(), MCAUSE), Some(LOAD_PAGE));
        None
    }
}

#[test]
fn remapped_page_after_its_flush() {
    let mut m = machine();
    assert_eq!(load(&mut m, 0, VA_4K), Some(VALUE_A));
    m.write(L0 + 8 * ((VA_4K >> 12) & 511), &leaf(PAGE_B));
    assert_eq!(load(&mut m, VA_4K + 0x123, VA_4K), Some(VALUE_B));
    m.write(L0 + 8 * ((VA_4K >> 12) & 511), &[0; 8]);
    assert_eq!(load(&mut m, VA_4K, VA_4K), None);
}

#[test]
fn megapage_dropped_by_a_flush_of_another_of_its_pages() {
    let mut m = machine();
    let va = VA_2M + (PAGE_A - RAM_BASE);
    assert_eq!(load(&mut m, 0, va), Some(VALUE_A));
    // Unmap the megapage, flush one of its other pages (another TLB slot).
    m.write(L1_MEGA + 8 * ((VA_2M >> 21) & 511), &[0; 8]);
    assert_eq!(load(&mut m, VA_2M + 0x1f_f000, va), None);
}

#[test]
fn gigapage_dropped_by_a_flush_of_another_of_its_pages() {
    let mut m = machine();
    let va = VA_1G + (PAGE_B - RAM_BASE);
    assert_eq!(load(&mut m, 0, va), Some(VALUE_B));
    m.write(ROOT + 8 * ((VA_1G >> 30) & 511), &[0; 8]);
    assert_eq!(load(&mut m, VA_1G + 0x3000_0000, va), None);
}

#[test]
fn other_pages_keep_working_after_a_flush() {
    // A flush of one address must not break the translations it keeps.
    let mut m = machine();
    let mega = VA_2M + (PAGE_B - RAM_BASE);
    assert_eq!(load(&mut m, 0, VA_4K), Some(VALUE_A));
    assert_eq!(load(&mut m, 0, mega), Some(VALUE_B));
    assert_eq!(load(&mut m, VA_1G, VA_4K), Some(VALUE_A));
    assert_eq!(load(&mut m, VA_4K, mega), Some(VALUE_B));
}

/// The code page: a second 4 KiB page of VA_4K's level-0 table, mapped executable.
const VA_CODE: u64 = VA_4K + 0x1000;
/// Two physical pages of code: `li a0, 1` and `li a0, 2`, each followed by `j .`.
const CODE_1: u64 = RAM_BASE + 0x4_2000;
const CODE_2: u64 = RAM_BASE + 0x4_3000;

fn map_code(m: &mut Machine, pa: u64) {
    m.write(L0 + 8 * ((VA_CODE >> 12) & 511), &pte(pa, PTE_V | 2 | 8 | PTE_AD));
}

/// Runs the code at VA_CODE in S-mode (fetches translated): its `a0`.
fn run_code(m: &mut Machine) -> u64 {
    let h = m.hart();
    h.set_privilege(prv::S);
    h.set_pc(VA_CODE);
    assert_eq!(m.run(4), Exit::Budget);
    m.hart().xreg(A0 as usize)
}

#[test]
fn remapped_code_page_runs_its_new_code_after_its_flush() {
    let mut m = machine();
    m.write_words(CODE_1, &[i_type(0x13, A0, 0, 0, 1), J_SELF]);
    m.write_words(CODE_2, &[i_type(0x13, A0, 0, 0, 2), J_SELF]);
    map_code(&mut m, CODE_1);
    assert_eq!(run_code(&mut m), 1);
    assert_eq!(run_code(&mut m), 1, "again, from the jump cache");
    // Remap the page to the other code and flush that address only: the block
    // translated from the old page must not be found again.
    map_code(&mut m, CODE_2);
    let flushes = m.hart().stats.tlb_flushes;
    load(&mut m, VA_CODE + 0x40, VA_4K);
    assert_eq!(m.hart().stats.tlb_flushes, flushes, "a one-page flush");
    assert_eq!(run_code(&mut m), 2);
}

#[test]
fn a_one_page_flush_keeps_the_other_pages() {
    // Only 4 KiB leaves walked so far: a flush of one page leaves the others' entries.
    let mut m = machine();
    assert_eq!(load(&mut m, 0, VA_4K), Some(VALUE_A));
    let (misses, page_flushes) = (m.hart().stats.tlb_misses, m.hart().stats.tlb_page_flushes);
    assert_eq!(load(&mut m, VA_4K + 0x5000, VA_4K), Some(VALUE_A));
    let st = m.hart().stats;
    assert_eq!(st.tlb_page_flushes, page_flushes + 1);
    assert_eq!(st.tlb_misses, misses, "the load of the page not flushed hit its TLB entry");
}

#[test]
fn a_one_page_flush_beside_a_megapage_keeps_the_other_pages() {
    // A 2 MiB leaf walked in the same half of the address space, in another 2 MiB
    // range (a Linux kernel's linear map beside its fixmap): a flush of one 4 KiB page
    // still leaves the other pages' entries.
    let mut m = machine();
    assert_eq!(load(&mut m, 0, VA_2M + 0x3000), Some(0));
    assert_eq!(load(&mut m, 0, VA_4K), Some(VALUE_A));
    let misses = m.hart().stats.tlb_misses;
    assert_eq!(load(&mut m, VA_4K + 0x5000, VA_4K), Some(VALUE_A));
    assert_eq!(m.hart().stats.tlb_misses, misses, "the load of the page not flushed hit its TLB entry");
    // A flush in the megapage's range still drops all of it.
    m.write(L1_MEGA + 8 * ((VA_2M >> 21) & 511), &[0; 8]);
    assert_eq!(load(&mut m, VA_2M + 0x7000, VA_2M + 0x3000), None);
}

/// A loop in one page calling a function in another: with tier 2 the function runs
/// inside the loop's program. After that page is remapped to other code and flushed,
/// the program must run the new code (its jump into the page checks the jump cache,
/// which the flush emptied), as the run loop would.
#[test]
fn a_region_sees_its_other_page_remapped() {
    const RA: u32 = 1;
    const VA_LOOP: u64 = VA_4K + 0x2000;
    const VA_F: u64 = VA_4K + 0x3000;
    const LOOP_PA: u64 = RAM_BASE + 0x4_4000;
    const F1_PA: u64 = RAM_BASE + 0x4_5000;
    const F2_PA: u64 = RAM_BASE + 0x4_6000;
    const TURNS: u64 = 200;
    if !cfg!(target_arch = "x86_64") {
        eprintln!("SKIPPED: tier 2's userspace JIT is x86-64 only");
        return;
    }
    let mut m = machine();
    assert!(m.enable_tier2(2));
    // loop: call F; t0 -= 1; bnez t0, loop; j .
    m.write_words(LOOP_PA, &[jal(RA, (VA_F - VA_LOOP) as i32), addi(T0, T0, -1), bne(T0, 0, -8), J_SELF]);
    // F: a0 += 1 (F1) or 100 (F2); ret.
    let ret = i_type(0x67, 0, 0, RA, 0);
    m.write_words(F1_PA, &[addi(A0, A0, 1), ret]);
    m.write_words(F2_PA, &[addi(A0, A0, 100), ret]);
    let x = PTE_V | 2 | 8 | PTE_AD;
    m.write(L0 + 8 * ((VA_LOOP >> 12) & 511), &pte(LOOP_PA, x));
    m.write(L0 + 8 * ((VA_F >> 12) & 511), &pte(F1_PA, x));
    let run_loop = |m: &mut Machine| common::run_call_loop(m, VA_LOOP, TURNS);
    let (a0, entries) = run_loop(&mut m);
    assert_eq!(a0, TURNS);
    assert!(entries < 20, "{entries} block or program entries for {TURNS} turns: F ran outside the loop's program");
    let (a0, entries) = run_loop(&mut m);
    assert_eq!(a0, TURNS);
    assert!(entries <= 3, "again: {entries} entries (the loop's program and the parking jump)");
    // Remap F's page to F2 and flush that address only.
    m.write(L0 + 8 * ((VA_F >> 12) & 511), &pte(F2_PA, x));
    load(&mut m, VA_F, VA_4K);
    assert_eq!(run_loop(&mut m).0, 100 * TURNS, "F2's code after the flush");
}

/// A region must not bake in a block of its head's virtual page that came from another
/// physical page. Here the jump cache names, for an address of the head's page, a
/// block translated under the page's previous mapping (changed without a fence, which
/// the ISA allows to be seen late), when the head's region is picked. After the fence
/// of that page, tier 2 must run the page's current code there, as tier 1 does.
#[test]
fn a_region_keeps_no_block_of_an_old_mapping_of_its_page() {
    /// The head's page; its fetch-TLB index is that of CODE (M-mode), whose run
    /// evicts its entry.
    const H: u64 = VA_4K + 0x3_0000;
    const F: u64 = H + 0x1000;
    const P: u64 = RAM_BASE + 0x5_0000;
    const P2: u64 = RAM_BASE + 0x5_1000;
    const Q: u64 = RAM_BASE + 0x5_2000;
    const WFI: u32 = 0x1050_0073;
    if !cfg!(target_arch = "x86_64") {
        eprintln!("SKIPPED: tier 2's userspace JIT is x86-64 only");
        return;
    }
    let x = PTE_V | 2 | 8 | PTE_AD;
    let scenario = |tier2: bool| {
        let mut m = machine();
        if tier2 {
            assert!(m.enable_tier2(2));
        }
        // H in P: t0 -= 1; bnez t0, F; wfi. H + 0x280: a0 += 1; j H.
        m.write_words(P, &[addi(T0, T0, -1), bne(T0, 0, 0xffc), WFI, J_SELF]);
        m.write_words(P + 0x280, &[addi(A0, A0, 1), jal(0, -0x284)]);
        // H + 0x280 in P2: a0 += 1000; wfi.
        m.write_words(P2 + 0x280, &[addi(A0, A0, 1000), WFI, J_SELF]);
        // F in Q: j H + 0x280.
        m.write_words(Q, &[jal(0, -0xd80)]);
        m.write(L0 + 8 * ((F >> 12) & 511), &pte(Q, x));
        let run = |m: &mut Machine, pc: u64| {
            let h = m.hart();
            h.set_privilege(prv::S);
            h.set_xreg(T0 as usize, 5);
            h.set_xreg(A0 as usize, 0);
            h.set_pc(pc);
            let e = m.run(1000);
            let h = m.hart();
            (e, h.xreg(A0 as usize), h.pc())
        };
        let mut out = Vec::new();
        // H's page mapped to P2: the jump cache names P2's block at H + 0x280.
        m.write(L0 + 8 * ((H >> 12) & 511), &pte(P2, x));
        out.push(run(&mut m, H + 0x280));
        // Mapped to P without a fence; M-mode code evicts H's fetch-TLB entry.
        m.write(L0 + 8 * ((H >> 12) & 511), &pte(P, x));
        load(&mut m, 0, VA_4K);
        // The loop from H twice (the second compiles its region), then the fence of
        // H's page and the loop again.
        out.push(run(&mut m, H));
        out.push(run(&mut m, H));
        load(&mut m, H, VA_4K);
        out.push(run(&mut m, H));
        out.push(run(&mut m, H));
        out
    };
    let (t1, t2) = (scenario(false), scenario(true));
    assert_eq!(t1[3], (Exit::Wfi, 4, H + 12), "tier 1 after the fence: P's loop");
    assert_eq!(t1, t2, "tier 2 differs from tier 1");
}
