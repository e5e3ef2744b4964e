//! Host-facing behaviour of the hart: WFI exits, interrupt lines, precise traps in the
//! middle of a block, budgets, MMIO, statistics and translation-cache flushes.

mod common;

use common::{addi, i_type, Machine, RAM_BASE};
use ktranslator::csr::{MIP_MTIP, MIP_SEIP};
use ktranslator::hart::{prv, Exit};

fn ld(rd: u32, rs1: u32, imm: i32) -> u32 {
    i_type(0x03, rd, 3, rs1, imm)
}
fn sb(rs2: u32, rs1: u32) -> u32 {
    0x23 | (rs1 << 15) | (rs2 << 20)
}
fn csrrs(rd: u32, csr: u32, rs1: u32) -> u32 {
    0x73 | (rd << 7) | (2 << 12) | (rs1 << 15) | (csr << 20)
}
const WFI: u32 = 0x1050_0073;
const J_SELF: u32 = 0x0000_006f;

#[test]
fn wfi_exits_and_interrupt_line_wakes() {
    let mut m = Machine::new(1 << 20, 1 << 16);
    m.write_words(RAM_BASE, &[WFI, J_SELF]);
    m.write_words(RAM_BASE + 0x100, &[J_SELF]);
    assert_eq!(m.run(1000), Exit::Wfi);
    assert_eq!(m.hart().pc(), RAM_BASE + 4);
    // Enable MTIE and MIE, trap vector at +0x100, then raise the timer line.
    let mut bus = common::TestBus::default();
    let h = m.hart();
    assert!(h.csr_write(ktranslator::csr::num::MTVEC, RAM_BASE + 0x100));
    assert!(h.csr_write(ktranslator::csr::num::MIE, MIP_MTIP));
    assert!(h.csr_write(ktranslator::csr::num::MSTATUS, 1 << 3));
    h.set_pc(RAM_BASE);
    assert!(!h.wfi_wakeup());
    h.set_irq(MIP_MTIP, true);
    assert!(h.wfi_wakeup());
    assert_eq!(m.run(10), Exit::Budget);
    let h = m.hart();
    assert_eq!(h.csr_read(&mut bus, ktranslator::csr::num::MCAUSE), Some((1 << 63) | 7));
    assert_eq!(h.csr_read(&mut bus, ktranslator::csr::num::MEPC), Some(RAM_BASE));
    assert_eq!(h.pc(), RAM_BASE + 0x100);
    assert_eq!(h.mip() & MIP_MTIP, MIP_MTIP);
    h.set_irq(MIP_MTIP, false);
    assert_eq!(h.mip() & MIP_MTIP, 0);
    // Only the external lines are host-driven.
    h.set_irq(u64::MAX, true);
    assert_eq!(h.mip(), 0x888 | MIP_SEIP);
}

#[test]
fn trap_in_the_middle_of_a_block_is_precise() {
    let mut m = Machine::new(1 << 20, 1 << 16);
    m.write_words(RAM_BASE, &[addi(1, 0, 1), addi(2, 0, 2), ld(3, 0, 8), addi(4, 0, 4), J_SELF]);
    m.write_words(RAM_BASE + 0x200, &[J_SELF]);
    let mut bus = common::TestBus::default();
    m.hart().csr_write(ktranslator::csr::num::MTVEC, RAM_BASE + 0x200);
    assert_eq!(m.run(3), Exit::Budget);
    let h = m.hart();
    assert_eq!((h.xreg(1), h.xreg(2), h.xreg(3), h.xreg(4)), (1, 2, 0, 0));
    assert_eq!(h.csr_read(&mut bus, ktranslator::csr::num::MCAUSE), Some(5)); // load access fault
    assert_eq!(h.csr_read(&mut bus, ktranslator::csr::num::MTVAL), Some(8));
    assert_eq!(h.csr_read(&mut bus, ktranslator::csr::num::MEPC), Some(RAM_BASE + 8));
    assert_eq!(h.csr_read(&mut bus, ktranslator::csr::num::MINSTRET), Some(2)); // two instructions retired
    assert_eq!(h.stats.traps, 1);
    assert_eq!(h.pc(), RAM_BASE + 0x200);
}

#[test]
fn budget_bounds_a_run_and_loops_are_chained() {
    let mut m = Machine::new(1 << 20, 1 << 16);
    // x1 counts down from 1000 in a two-block loop, then spins.
    m.write_words(
        RAM_BASE,
        &[
            addi(1, 0, 1000),
            addi(1, 1, -1),
            // bne x1, x0, -4 (B-type: imm[12|10:5] = 0x7f, imm[4:1|11] = 0x1d)
            0xfe00_9ee3,
            J_SELF,
        ],
    );
    assert_eq!(m.run(100_000), Exit::Budget);
    let h = m.hart();
    assert_eq!(h.xreg(1), 0);
    assert_eq!(h.pc(), RAM_BASE + 12);
    assert!(h.stats.insns >= 100_000 && h.stats.insns < 100_000 + 200, "{}", h.stats.insns);
    assert!(h.stats.chained > 90_000, "{:?}", h.stats);
    assert!(h.stats.tbs_translated <= 4, "{:?}", h.stats);
    // Budget zero returns at once.
    let before = m.hart().stats.insns;
    assert_eq!(m.run(0), Exit::Budget);
    assert_eq!(m.hart().stats.insns, before);
}

#[test]
fn trap_loops_still_end_on_budget() {
    let mut m = Machine::new(1 << 20, 1 << 16);
    // mtvec points to unmapped memory: every fetch faults again.
    m.hart().csr_write(ktranslator::csr::num::MTVEC, 0x1000);
    m.hart().set_pc(0x1000);
    assert_eq!(m.run(1000), Exit::Budget);
    assert!(m.hart().stats.traps >= 1000);
}

#[test]
fn mmio_and_stop_requests() {
    let mut m = Machine::new(1 << 20, 1 << 16);
    // lui x5, 0x10000 (UART); addi x6, x0, 'A'; sb x6, 0(x5); lui x7, 0x100; sw x0,0(x7)
    m.write_words(
        RAM_BASE,
        &[0x1000_02b7, addi(6, 0, 0x41), sb(6, 5), 0x0010_03b7, 0x0003_a023, J_SELF],
    );
    assert_eq!(m.run(1000), Exit::Stop);
    assert_eq!(m.bus.console, b"A");
    assert_eq!(m.bus.result, Some(0));
}

#[test]
fn small_arena_flushes_and_stays_correct() {
    // 2000 blocks of "addi x1, x1, 1; jal x0, +4" in a row: more than the arena holds.
    let mut m = Machine::new(1 << 20, 4096);
    let mut prog = Vec::new();
    for _ in 0..2000 {
        prog.push(addi(1, 1, 1));
        prog.push(0x0040_006f); // jal x0, +4
    }
    prog.push(J_SELF);
    m.write_words(RAM_BASE, &prog);
    m.run(4000);
    let h = m.hart();
    assert_eq!(h.xreg(1), 2000);
    assert!(h.stats.tc_flushes > 2, "{:?}", h.stats);
}

#[test]
fn registers_and_privilege_accessors() {
    let mut m = Machine::new(1 << 20, 1 << 16);
    let h = m.hart();
    h.set_xreg(0, 5);
    h.set_xreg(31, 7);
    h.set_xreg(40, 1);
    assert_eq!((h.xreg(0), h.xreg(31), h.xreg(40)), (0, 7, 0));
    h.set_freg(3, 0x1234);
    assert_eq!(h.freg(3), 0x1234);
    assert_eq!(h.privilege(), prv::M);
    h.set_privilege(prv::S);
    assert_eq!(h.privilege(), prv::S);
    h.set_privilege(2);
    assert_eq!(h.privilege(), prv::M);
    assert!(!h.csr_write(ktranslator::csr::num::MHARTID, 1)); // read-only
    assert!(!h.csr_write(0x7c0, 1)); // absent
    h.set_pc(RAM_BASE + 3);
    assert_eq!(h.pc(), RAM_BASE + 2);
}

#[test]
fn csr_read_of_mhartid_in_guest() {
    let mut m = Machine::new(1 << 20, 1 << 16);
    m.write_words(RAM_BASE, &[csrrs(10, 0xf14, 0), csrrs(11, 0x301, 0), J_SELF]);
    m.run(10);
    let h = m.hart();
    assert_eq!(h.xreg(10), 0);
    assert_eq!(h.xreg(11), ktranslator::isa::misa());
}

#[test]
fn dma_into_code_pages_invalidates_only_them() {
    let mut m = Machine::new(1 << 20, 1 << 16);
    // Code at RAM_BASE: x1 = 1, then spin. Data page at +0x10000 never executed.
    m.write_words(RAM_BASE, &[addi(1, 0, 1), J_SELF]);
    assert_eq!(m.run(10), Exit::Budget);
    assert_eq!(m.hart().xreg(1), 1);
    let flushes = m.hart().stats.tc_flushes;
    // A device writes a data page, and ranges outside RAM: nothing to drop.
    assert!(!m.hart().invalidate_code_range(RAM_BASE + 0x10000, 512));
    assert!(!m.hart().invalidate_code_range(0x1000, 0x1000));
    assert!(!m.hart().invalidate_code_range(RAM_BASE + 0x1000, 0));
    assert_eq!(m.hart().stats.code_page_flushes, 0);
    // Behind the hart's back, the code becomes x1 = 2 (as a DMA would write it).
    m.write_words(RAM_BASE, &[addi(1, 0, 2), J_SELF]);
    // A range starting below RAM and ending in the code page counts: that page only.
    assert!(m.hart().invalidate_code_range(RAM_BASE - 8, 16));
    assert_eq!(m.hart().stats.code_page_flushes, 1);
    assert_eq!(m.hart().stats.tc_flushes, flushes);
    m.hart().set_pc(RAM_BASE);
    assert_eq!(m.run(10), Exit::Budget);
    assert_eq!(m.hart().xreg(1), 2, "the new code runs, not the stale translation");
}

#[test]
fn csrs_mip_does_not_latch_the_external_seip_line() {
    // Privileged spec 3.1.9: the value CSRRS/CSRRC on mip modify contains only the
    // software-writable SEIP bit, not the interrupt controller's signal. OpenSBI does
    // `csrs mip, STIP` to pass a timer interrupt to S-mode, possibly while the PLIC's
    // S-mode line is up.
    let mut m = Machine::new(1 << 20, 1 << 16);
    let csrs_mip_t0 = csrrs(0, 0x344, 5);
    let csrc_mip_t0 = 0x73 | (3 << 12) | (5 << 15) | (0x344 << 20);
    m.write_words(RAM_BASE, &[addi(5, 0, 0x20), csrs_mip_t0, addi(6, 0, 1), J_SELF]);
    m.hart().set_irq(MIP_SEIP, true);
    assert_eq!(m.run(3), Exit::Budget);
    assert_eq!(m.hart().xreg(6), 1);
    assert_eq!(m.hart().mip() & 0x220, 0x220, "STIP set, SEIP still visible while the line is up");
    m.hart().set_irq(MIP_SEIP, false);
    assert_eq!(m.hart().mip() & 0x220, 0x20, "SEIP follows the line once it drops");
    // The software SEIP bit itself is writable, and csrc clears only it.
    let mut bus = common::TestBus::default();
    assert!(m.hart().csr_write(ktranslator::csr::num::MIP, MIP_SEIP));
    m.hart().set_irq(MIP_SEIP, true);
    m.write_words(RAM_BASE + 0x100, &[addi(5, 0, 0x200), csrc_mip_t0, J_SELF]);
    m.hart().set_pc(RAM_BASE + 0x100);
    assert_eq!(m.run(2), Exit::Budget);
    assert_eq!(m.hart().csr_read(&mut bus, ktranslator::csr::num::MIP).unwrap() & MIP_SEIP, MIP_SEIP, "line still up");
    m.hart().set_irq(MIP_SEIP, false);
    assert_eq!(m.hart().csr_read(&mut bus, ktranslator::csr::num::MIP).unwrap() & MIP_SEIP, 0, "software bit cleared");
}

#[test]
fn the_default_translation_cache_is_a_quarter_of_ram_within_16_to_128_mib() {
    use ktranslator::tcache::default_arena_bytes;
    const MIB: u64 = 1 << 20;
    assert_eq!(default_arena_bytes(16 * MIB), 16 << 20);
    assert_eq!(default_arena_bytes(64 * MIB), 16 << 20);
    assert_eq!(default_arena_bytes(256 * MIB), 64 << 20);
    assert_eq!(default_arena_bytes(512 * MIB), 128 << 20);
    assert_eq!(default_arena_bytes(4096 * MIB), 128 << 20);
    assert_eq!(default_arena_bytes(100 * MIB + 8), 25 << 20, "rounded down to whole words");
    assert_eq!(default_arena_bytes(u64::MAX), 128 << 20);
}
