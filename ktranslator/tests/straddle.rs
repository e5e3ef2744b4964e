//! Instructions that straddle a page boundary: their one-instruction blocks are cached
//! (not translated again at every execution), and a write into the second page or a
//! new mapping of it is seen at the next execution.

mod common;

use common::{addi, bne, i_type, Machine, J_SELF, RAM_BASE, S0, S1, T0, T1, T2};
use ktranslator::hart::{prv, Exit};


const C_NOP: u16 = 0x0001;

fn sh(rs2: u32, rs1: u32) -> u32 {
    0x23 | (1 << 12) | (rs1 << 15) | (rs2 << 20)
}
fn jalr(rd: u32, rs1: u32) -> u32 {
    i_type(0x67, rd, 0, rs1, 0)
}

/// Writes the loop at (virtual = physical in M-mode) `first + 0xffc`: `c.nop`, then
/// `addi s1, s1, inc` straddling into the next page at `first + 0x1000`, then
/// `addi s0, s0, -1; bne s0, zero, loop; j .` there. `second` is where the bytes of the
/// second page go (the page mapped after `first`).
fn write_loop(m: &mut Machine, first: u64, second: u64, inc: i32) {
    let straddler = addi(S1, S1, inc).to_le_bytes();
    let mut a = C_NOP.to_le_bytes().to_vec();
    a.extend_from_slice(&straddler[..2]);
    m.write(first + 0xffc, &a);
    let mut b = straddler[2..].to_vec();
    for w in [addi(S0, S0, -1), bne(S0, 0, -10), J_SELF] {
        b.extend_from_slice(&w.to_le_bytes());
    }
    m.write(second, &b);
}

const LOOP: u64 = RAM_BASE + 0xffc;
const END: u64 = RAM_BASE + 0x100a;

fn run_loop(m: &mut Machine, pc: u64, iters: u64) {
    let h = m.hart();
    h.set_xreg(S0 as usize, iters);
    h.set_xreg(S1 as usize, 0);
    h.set_pc(pc);
    assert_eq!(m.run(10 + 4 * iters), Exit::Budget);
    assert_eq!(m.hart().pc(), END);
}

#[test]
fn straddling_instruction_is_translated_once() {
    let mut m = Machine::new(1 << 20, 1 << 16);
    write_loop(&mut m, RAM_BASE, RAM_BASE + 0x1000, 1);
    run_loop(&mut m, LOOP, 1000);
    let h = m.hart();
    assert_eq!(h.xreg(S1 as usize), 1000);
    // c.nop, the straddler, the rest of the loop, `j .`, and nothing per iteration.
    assert!(h.stats.tbs_translated <= 5, "{:?}", h.stats);
    assert_eq!(h.stats.tbs_straddle, 1, "{:?}", h.stats);
    assert!(h.stats.jc_hits + h.stats.chained >= 2000, "{:?}", h.stats);
}

#[test]
fn write_into_the_second_page_is_seen() {
    let mut m = Machine::new(1 << 20, 1 << 16);
    write_loop(&mut m, RAM_BASE, RAM_BASE + 0x1000, 1);
    run_loop(&mut m, LOOP, 10);
    assert_eq!(m.hart().xreg(S1 as usize), 10);

    // The host rewrites the second half (addi s1, s1, 2) and reports it as a DMA.
    let hi = (addi(S1, S1, 2) >> 16) as u16;
    m.write(RAM_BASE + 0x1000, &hi.to_le_bytes());
    m.hart().invalidate_code_range(RAM_BASE + 0x1000, 2);
    run_loop(&mut m, LOOP, 10);
    assert_eq!(m.hart().xreg(S1 as usize), 20);
    assert_eq!(m.hart().stats.straddle_drops, 1);

    // The guest rewrites it (addi s1, s1, 3) from another page, then jumps to the loop.
    let hi = (addi(S1, S1, 3) >> 16) as u16;
    m.write_words(RAM_BASE + 0x3000, &[sh(T0, T1), jalr(0, T2)]);
    let h = m.hart();
    h.set_xreg(T0 as usize, u64::from(hi));
    h.set_xreg(T1 as usize, RAM_BASE + 0x1000);
    h.set_xreg(T2 as usize, LOOP);
    run_loop(&mut m, RAM_BASE + 0x3000, 10);
    assert_eq!(m.hart().xreg(S1 as usize), 30);
    assert_eq!(m.hart().stats.straddle_drops, 2);
}

const PTE_V: u64 = 1;
const PTE_R: u64 = 2;
const PTE_W: u64 = 4;
const PTE_X: u64 = 8;
const PTE_A: u64 = 0x40;
const PTE_D: u64 = 0x80;

#[test]
fn new_mapping_of_the_second_page_is_seen() {
    // Sv39 in S-mode: virtual 0x1000_0000 + 0xffc holds the loop's first page
    // (physical RAM_BASE), the next virtual page maps physical page B, then page D
    // (a copy of B whose straddler half says `addi s1, s1, 5`).
    let mut m = Machine::new(1 << 20, 1 << 16);
    let (page_b, page_d) = (RAM_BASE + 0x1000, RAM_BASE + 0x4000);
    write_loop(&mut m, RAM_BASE, page_b, 1);
    write_loop(&mut m, RAM_BASE + 0x5000, page_d, 5); // only page D's half is used
    let (root, l1, l0) = (RAM_BASE + 0x10000, RAM_BASE + 0x11000, RAM_BASE + 0x12000);
    let va: u64 = 0x1000_0000;
    let leaf = |pa: u64| ((pa >> 12) << 10) | PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D;
    let table = |pa: u64| ((pa >> 12) << 10) | PTE_V;
    m.write(root + 8 * ((va >> 30) & 511), &table(l1).to_le_bytes());
    m.write(l1 + 8 * ((va >> 21) & 511), &table(l0).to_le_bytes());
    let pte1 = l0 + 8 * ((va >> 12) & 511);
    m.write(pte1, &leaf(RAM_BASE).to_le_bytes());
    m.write(pte1 + 8, &leaf(page_b).to_le_bytes());
    let satp = (8u64 << 60) | (root >> 12);
    let h = m.hart();
    assert!(h.csr_write(ktranslator::csr::num::SATP, satp));
    h.set_privilege(prv::S);

    let run = |m: &mut Machine, iters: u64| {
        let h = m.hart();
        h.set_xreg(S0 as usize, iters);
        h.set_xreg(S1 as usize, 0);
        h.set_pc(va + 0xffc);
        assert_eq!(m.run(10 + 4 * iters), Exit::Budget);
        assert_eq!(m.hart().pc(), va + 0x100a);
        m.hart().xreg(S1 as usize)
    };
    assert_eq!(run(&mut m, 10), 10);
    // Remap the second virtual page to page D; a satp write (like sfence.vma) makes
    // the hart see it.
    m.write(pte1 + 8, &leaf(page_d).to_le_bytes());
    assert!(m.hart().csr_write(ktranslator::csr::num::SATP, satp));
    assert_eq!(run(&mut m, 10), 50);
    assert_eq!(m.hart().stats.straddle_drops, 1);
    // Back to page B.
    m.write(pte1 + 8, &leaf(page_b).to_le_bytes());
    assert!(m.hart().csr_write(ktranslator::csr::num::SATP, satp));
    assert_eq!(run(&mut m, 10), 10);
}
