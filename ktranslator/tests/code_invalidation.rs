//! Invalidation of translated code: a write into a page drops the translated blocks of
//! that page only, the new code runs after the write (with or without `fence.i`), and
//! blocks of the other pages survive (checked with the hart's counters).

mod common;

use common::{addi, b_type, bne, i_type, jal, s_type, Machine, RAM_BASE};
use ktranslator::hart::Exit;

fn jalr(rd: u32, rs1: u32, imm: i32) -> u32 {
    i_type(0x67, rd, 0, rs1, imm)
}
fn add(rd: u32, rs1: u32, rs2: u32) -> u32 {
    0x33 | (rd << 7) | (rs1 << 15) | (rs2 << 20)
}
fn sw(rs2: u32, rs1: u32, imm: i32) -> u32 {
    s_type(2, rs1, rs2, imm)
}
fn beq(rs1: u32, rs2: u32, off: i32) -> u32 {
    b_type(0, rs1, rs2, off)
}
const FENCE_I: u32 = 0x0000_100f;
const J_SELF: u32 = 0x0000_006f;
const RET: u32 = 0x0000_8067; // jalr x0, 0(ra)

const RA: u32 = 1;
const T0: u32 = 5;
const T1: u32 = 6;
const T2: u32 = 7;
const S0: u32 = 8;
const S1: u32 = 9;
const A0: u32 = 10;
const A1: u32 = 11;
const A2: u32 = 12;
const A3: u32 = 13;

const PAGE_A: u64 = RAM_BASE; // the loop
const PAGE_B: u64 = RAM_BASE + 0x1000; // the function that gets patched
const PAGE_C: u64 = RAM_BASE + 0x2000; // an unrelated function
const DATA: u64 = RAM_BASE + 0x8000; // a data page that is never executed

/// The loop of page A runs `iters` times: call f_b (page B: a0 = k, through a chained
/// branch inside page B), s1 += a0, call f_c (page C: a1 = 7), patch f_b's first
/// instruction to `addi a0, zero, k + 1` (with `fence.i` unless `no_fence`), store into
/// page B's data half and into the data page, then loop. Before the loop, page B is
/// written as data (so its page is in the store TLB before it becomes code).
fn patch_loop(iters: i32, no_fence: bool) -> Machine {
    let mut m = Machine::new(1 << 20, 1 << 16);
    let mut a = vec![
        // Setup: t0 = "addi a0, zero, 1"; t2 = 1 << 20 (+1 in the immediate field);
        // a2 = f_b, a3 = f_c, t1 = data page; s0 = iterations; s1 = 0.
        sw(T0, A2, 0), // f_b's first instruction written as data (same value)
        add(T0, T0, T2),
        addi(S0, 0, iters),
        addi(S1, 0, 0),
        // loop (index 4):
        jalr(RA, A2, 0),
        add(S1, S1, A0),
        jalr(RA, A3, 0),
        sw(T0, A2, 0),
        if no_fence { addi(0, 0, 0) } else { FENCE_I },
        sw(T0, A2, 0x700), // page B again, now as data
        sw(T0, T1, 0),     // the data page
        add(T0, T0, T2),
        addi(S0, S0, -1),
    ];
    let here = a.len() as i32;
    a.push(bne(S0, 0, (4 - here) * 4));
    a.push(J_SELF);
    m.write_words(PAGE_A, &a);
    // f_b: a0 = 1; a branch that always jumps (ends the block, chained in page B); ret.
    m.write_words(PAGE_B, &[addi(A0, 0, 1), beq(0, 0, 8), addi(A0, 0, 99), RET]);
    m.write_words(PAGE_C, &[addi(A1, 0, 7), jal(0, 8), addi(A1, 0, 99), RET]);
    let h = m.hart();
    h.set_xreg(T0 as usize, u64::from(addi(A0, 0, 1)));
    h.set_xreg(T2 as usize, 1 << 20);
    h.set_xreg(A2 as usize, PAGE_B);
    h.set_xreg(A3 as usize, PAGE_C);
    h.set_xreg(T1 as usize, DATA);
    h.set_pc(PAGE_A);
    // Run to the final `j .` (a generous budget; the loop is a few dozen steps).
    assert_eq!(m.run(100 + 40 * iters as u64), Exit::Budget);
    let end = PAGE_A + 4 * (a.len() as u64 - 1);
    assert_eq!(m.hart().pc(), end, "the loop did not finish");
    m
}

#[test]
fn patched_code_runs_after_fence_i_and_other_pages_keep_their_blocks() {
    for no_fence in [false, true] {
        let short = patch_loop(2, no_fence);
        let long = patch_loop(10, no_fence);
        for (m, n) in [(short, 2u64), (long, 10)] {
            let mut m = m;
            let h = m.hart();
            // f_b returned 1, 2, ..., n: never a stale value.
            assert_eq!(h.xreg(S1 as usize), n * (n + 1) / 2, "no_fence {no_fence}");
            assert_eq!(h.xreg(A1 as usize), 7);
            assert_eq!(h.stats.fence_i, if no_fence { 0 } else { n }, "{:?}", h.stats);
            // Every patch dropped page B only; nothing flushed everything after reset.
            assert_eq!(h.stats.code_page_flushes, n, "{:?}", h.stats);
            assert_eq!(h.stats.smc_flushes, n);
            assert_eq!(h.stats.tc_flushes, 1, "only the reset flush");
        }
        // Each extra iteration retranslates exactly f_b's two blocks (page B); the loop
        // (page A) and f_c (page C) keep theirs.
        let (mut short, mut long) = (patch_loop(2, no_fence), patch_loop(10, no_fence));
        let ts = short.hart().stats.tbs_translated;
        let tl = long.hart().stats.tbs_translated;
        assert_eq!(tl - ts, 8 * 2, "no_fence {no_fence}: {ts} vs {tl}");
    }
}

#[test]
fn chains_and_jump_cache_never_reach_dropped_blocks() {
    // A loop inside page B (chained to itself) counts a1 down and adds a0 each time;
    // between two runs the host patches the loop body and reports it like a DMA.
    let mut m = Machine::new(1 << 20, 1 << 16);
    let body = [addi(A0, 0, 3), add(S1, S1, A0), addi(A1, A1, -1), bne(A1, 0, -12), J_SELF];
    m.write_words(PAGE_B, &body);
    m.write_words(PAGE_C, &[addi(T0, 0, 5), J_SELF]);
    let h = m.hart();
    h.set_xreg(A1 as usize, 10);
    h.set_pc(PAGE_C);
    assert_eq!(m.run(10), Exit::Budget);
    let h = m.hart();
    h.set_pc(PAGE_B);
    assert_eq!(m.run(200), Exit::Budget);
    let h = m.hart();
    assert_eq!(h.xreg(S1 as usize), 30);
    assert!(h.stats.chained >= 8, "{:?}", h.stats);
    let before = h.stats;
    // New body: a0 = 4. The device write is reported; page C is untouched.
    m.write_words(PAGE_B, &[addi(A0, 0, 4)]);
    let h = m.hart();
    assert!(h.invalidate_code_range(PAGE_B, 4));
    assert!(!h.invalidate_code_range(DATA, 0x1000), "a data page holds no code");
    assert_eq!(h.stats.code_page_flushes, before.code_page_flushes + 1);
    assert_eq!(h.stats.tc_flushes, before.tc_flushes);
    h.set_xreg(A1 as usize, 10);
    h.set_xreg(S1 as usize, 0);
    h.set_pc(PAGE_B);
    assert_eq!(m.run(200), Exit::Budget);
    let h = m.hart();
    assert_eq!(h.xreg(S1 as usize), 40, "the stale body ran");
    // Page C's block is still cached: running it again translates nothing.
    let t = h.stats.tbs_translated;
    h.set_pc(PAGE_C);
    assert_eq!(m.run(5), Exit::Budget);
    let h = m.hart();
    assert_eq!(h.xreg(T0 as usize), 5);
    assert_eq!(h.stats.tbs_translated, t);
}

#[test]
fn store_into_the_running_block_sees_the_new_instruction() {
    // In one block: store "addi a0, zero, 9" over the instruction right after the
    // store, then execute it (no fence.i: kemu makes stores into code visible at once).
    let mut m = Machine::new(1 << 20, 1 << 16);
    m.write_words(PAGE_A, &[sw(T0, T1, 0), addi(A0, 0, 1), J_SELF]);
    let h = m.hart();
    h.set_xreg(T0 as usize, u64::from(addi(A0, 0, 9)));
    h.set_xreg(T1 as usize, PAGE_A + 4);
    assert_eq!(m.run(10), Exit::Budget);
    let h = m.hart();
    assert_eq!(h.xreg(A0 as usize), 9);
    assert_eq!(h.stats.smc_flushes, 1);
    assert_eq!(h.stats.tc_flushes, 1, "only the reset flush");
}

/// Calls `n` functions (`addi a0, a0, 1; ret`), the first at `first`, one every
/// `stride` bytes, then `k` times stores into the one at `target` (the same word again)
/// and calls it. Returns the machine at the final `j .`.
fn call_then_store_loop(ram: usize, arena: usize, first: u64, stride: u64, n: i32, target: u64, k: i32) -> Machine {
    let mut m = Machine::new(ram, arena);
    let prog = [
        jalr(RA, T1, 0),
        add(T1, T1, T2),
        addi(S0, S0, -1),
        bne(S0, 0, -12),
        sw(T0, A2, 0),
        jalr(RA, A2, 0),
        addi(S1, S1, -1),
        bne(S1, 0, -12),
        J_SELF,
    ];
    m.write_words(PAGE_A, &prog);
    let f = [addi(A0, A0, 1), RET];
    for i in 0..n as u64 {
        m.write_words(first + i * stride, &f);
    }
    let h = m.hart();
    h.set_xreg(T0 as usize, u64::from(f[0]));
    h.set_xreg(T1 as usize, first);
    h.set_xreg(T2 as usize, stride);
    h.set_xreg(A2 as usize, target);
    h.set_xreg(S0 as usize, n as u64);
    h.set_xreg(S1 as usize, k as u64);
    h.set_pc(PAGE_A);
    assert_eq!(m.run(20 * (n + k) as u64 + 100), Exit::Budget);
    let h = m.hart();
    assert_eq!(h.pc(), PAGE_A + 4 * (prog.len() as u64 - 1), "the program did not finish");
    assert_eq!(h.xreg(A0 as usize), (n + k) as u64, "a call ran stale code");
    m
}

#[test]
fn a_store_into_code_walks_only_the_blocks_of_its_page() {
    // 500 pages of code cached; 50 stores into one of them. Each invalidation looks at
    // that page's block only (a list per page), not at the 500 others.
    let (n, k) = (500, 50);
    let mut m = call_then_store_loop(4 << 20, 1 << 16, PAGE_B, 0x1000, n, PAGE_B + 0x1000 * 7, k);
    let h = m.hart();
    assert_eq!(h.stats.code_page_flushes, k as u64, "{:?}", h.stats);
    assert_eq!(h.stats.smc_flushes, k as u64);
    assert!(h.stats.code_walk <= 2 * k as u64, "{} blocks looked at for {k} invalidations", h.stats.code_walk);
    assert_eq!(h.stats.tc_flushes, 1, "only the reset flush");
}

#[test]
fn a_store_into_code_in_a_crowded_bucket_flushes_after_a_bounded_walk() {
    // RAM beyond what the buckets cover: a small arena gets 256 page buckets for 17,000
    // pages, and 66 code pages 256 pages apart all land in one bucket (with the main
    // program's). An invalidation there gives up after 64 other pages' blocks and
    // flushes the cache, which the program then refills.
    let stride = 256 * 0x1000;
    let (n, k) = (66, 3);
    let mut m = call_then_store_loop(17_000 * 4096, 1 << 12, PAGE_A + stride, stride, n, PAGE_A + stride * 5, k);
    let h = m.hart();
    assert_eq!(h.stats.code_page_flushes, k as u64, "{:?}", h.stats);
    assert!(h.stats.tc_flushes > 1, "no flush: {:?}", h.stats);
    assert!(h.stats.code_walk <= k as u64 * (64 + 2), "{} blocks looked at for {k} invalidations", h.stats.code_walk);
}
