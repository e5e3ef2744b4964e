//! Tier 2 with a queueing host (kemu.ko's way: the kernel's JIT runs on a thread of its
//! own): hot blocks are submitted with a ticket, keep running on tier 1, and take their
//! program only if it was made from the blocks that are still there.

mod common;

use common::{b_type, Machine, RAM_BASE};
use ktranslator::hart::Exit;

const A0: u32 = 10;
const T0: u32 = 5;

fn addi(rd: u32, rs1: u32, imm: i32) -> u32 {
    ((imm as u32 & 0xfff) << 20) | (rs1 << 15) | (rd << 7) | 0x13
}

/// `loop: addi a0, a0, STEP; addi t0, t0, -1; bne t0, zero, loop; wfi`
fn counting_loop(step: i32) -> [u32; 4] {
    [addi(A0, A0, step), addi(T0, T0, -1), b_type(1, T0, 0, -8), 0x1050_0073]
}

/// A machine running `counting_loop(step)` for `iters` iterations, tier 2 queued after
/// `threshold` executions; None where tier 2 does not exist (non-x86_64 hosts).
fn machine(step: i32, iters: u64, threshold: u32) -> Option<Box<Machine>> {
    let mut m = Box::new(Machine::new(1 << 20, 1 << 16));
    if !m.enable_tier2_queued(threshold) {
        return None;
    }
    start(&mut m, step, iters);
    Some(m)
}

fn start(m: &mut Machine, step: i32, iters: u64) {
    m.write_words(RAM_BASE, &counting_loop(step));
    let h = m.hart();
    h.set_xreg(A0 as usize, 0);
    h.set_xreg(T0 as usize, iters);
    h.set_pc(RAM_BASE);
}

/// Runs until the loop ends (at its `wfi`) and returns a0.
fn finish(m: &mut Machine) -> u64 {
    let mut exit = Exit::Budget;
    while exit == Exit::Budget {
        exit = m.run(10_000);
    }
    assert_eq!(exit, Exit::Wfi);
    m.hart().xreg(A0 as usize)
}

/// Compiles the one queued program, runs the loop (100,000 iterations of step 1) to its
/// end with it, and turns tier 2 off with nothing leaked.
fn finish_on_tier_2(m: &mut Machine) {
    assert_eq!(m.compile_queued(), 1);
    assert_eq!(finish(m), 100_000);
    assert!(m.hart().stats.t2_executed > 0, "{:?}", m.hart().stats);
    assert_eq!(m.disable_tier2(), 0, "no program leaked");
}

#[test]
fn a_queued_program_runs_once_installed() {
    let Some(mut m) = machine(1, 100_000, 8) else { return };
    assert_eq!(m.run(100), Exit::Budget);
    assert_eq!(m.queue.len(), 1, "the loop is hot: one program queued");
    let s = m.hart().stats;
    assert_eq!((s.t2_queued, s.t2_compiled, s.t2_executed), (1, 0, 0), "{s:?}");
    // Until it is installed the block stays on tier 1, and is not queued again.
    assert_eq!(m.run(3_000), Exit::Budget);
    assert_eq!((m.queue.len(), m.hart().stats.t2_executed), (1, 0));
    assert_eq!(m.compile_queued(), 1);
    assert_eq!(finish(&mut m), 100_000);
    let s = m.hart().stats;
    assert_eq!((s.t2_compiled, s.t2_discarded), (1, 0), "{s:?}");
    assert!(s.t2_executed > 0, "{s:?}");
    assert_eq!(m.disable_tier2(), 0, "no program leaked");
}

#[test]
fn a_program_made_before_a_flush_never_runs() {
    // The same loop with another step, translated again after a reset (which flushes
    // the cache) lands in the same block slot: a program of the old code must not
    // be installed there.
    let Some(mut m) = machine(1, 100_000, 8) else { return };
    assert_eq!(m.run(100), Exit::Budget);
    assert_eq!(m.queue.len(), 1);
    let stale = m.queue.clone();
    m.queue.clear();
    m.hart().reset();
    start(&mut m, 3, 100_000);
    assert_eq!(m.run(100), Exit::Budget);
    assert_eq!(m.queue.len(), 1, "the new block is queued under a new ticket");
    assert_ne!(m.queue[0].0, stale[0].0);
    m.queue = stale;
    assert_eq!(m.compile_queued(), 0, "the old program is refused");
    assert_eq!(m.hart().stats.t2_discarded, 1);
    assert_eq!(finish(&mut m), 300_000, "the new code ran, on tier 1");
    assert_eq!(m.hart().stats.t2_executed, 0);
    assert_eq!(m.disable_tier2(), 0);
}

#[test]
fn a_killed_head_refuses_its_program_and_is_queued_again() {
    let Some(mut m) = machine(1, 100_000, 8) else { return };
    assert_eq!(m.run(100), Exit::Budget);
    assert_eq!(m.queue.len(), 1);
    // The page is written (here: DMA) while the program is being compiled.
    assert!(m.hart().invalidate_code_range(RAM_BASE, 4));
    assert_eq!(m.compile_queued(), 0, "the killed head does not take it");
    assert_eq!(m.hart().stats.t2_discarded, 1);
    // Translated again, hot again, queued again; this program is taken.
    assert_eq!(m.run(100), Exit::Budget);
    assert_eq!(m.queue.len(), 1);
    finish_on_tier_2(&mut m);
}

#[test]
fn a_busy_host_gets_the_block_again_after_another_threshold() {
    let Some(mut m) = machine(1, 100_000, 8) else { return };
    m.queue_full = true;
    assert_eq!(m.run(100), Exit::Budget);
    let s = m.hart().stats;
    assert!(m.queue.is_empty());
    assert!(s.t2_busy > 0 && s.t2_queued == 0, "{s:?}");
    m.queue_full = false;
    // 10 more executions of the 3-instruction loop: the count passes 8 once.
    assert_eq!(m.run(30), Exit::Budget);
    assert_eq!(m.hart().stats.t2_busy, s.t2_busy);
    assert_eq!(m.queue.len(), 1, "queued at the threshold again");
    finish_on_tier_2(&mut m);
}

#[test]
fn a_refused_program_leaves_its_block_on_tier_1() {
    let Some(mut m) = machine(1, 100_000, 8) else { return };
    assert_eq!(m.run(100), Exit::Budget);
    let (ticket, _, _) = m.queue.pop().expect("queued");
    // SAFETY: handle 0 is "the JIT refused it"; nothing runs.
    assert!(!unsafe { m.hart().t2_install(ticket, 0, 0) });
    // SAFETY: as above; a ticket is answered once.
    assert!(!unsafe { m.hart().t2_install(ticket, 0, 0) });
    let s = m.hart().stats;
    assert_eq!((s.t2_rejected, s.t2_discarded), (1, 1), "{s:?}");
    assert_eq!(finish(&mut m), 100_000);
    assert!(m.queue.is_empty(), "never queued again");
    assert_eq!(m.hart().stats.t2_executed, 0);
    assert_eq!(m.disable_tier2(), 0);
}

#[test]
fn at_most_t2_pending_programs_wait_at_once() {
    // T2_PENDING + 4 separate hot loops, one per page, none compiled: the ones beyond
    // the hart's slots wait (busy) instead of being queued.
    let Some(mut m) = machine(1, 1, 1) else { return };
    let n = ktranslator::tier2::T2_PENDING + 4;
    for i in 0..n as u64 {
        let base = RAM_BASE + 0x1000 * (i + 1);
        m.write_words(base, &counting_loop(1));
        let h = m.hart();
        h.set_xreg(T0 as usize, 3);
        h.set_pc(base);
        assert_eq!(m.run(9), Exit::Budget);
        assert_eq!(m.hart().pc(), base + 12, "loop {i} ran up to its wfi");
    }
    let s = m.hart().stats;
    assert_eq!(m.queue.len(), ktranslator::tier2::T2_PENDING);
    assert_eq!(s.t2_queued, ktranslator::tier2::T2_PENDING as u64, "{s:?}");
    assert!(s.t2_busy >= 4, "{s:?}");
    assert_eq!(m.compile_queued(), ktranslator::tier2::T2_PENDING);
    assert_eq!(m.disable_tier2(), 0);
}

/// The checker runs on the host's thread for a queued program (the hart hands it the
/// checker's environment and does not check it itself): a program the checker refuses
/// there goes to `t2_refuse`, is counted as the hart's own refusals are, and its block
/// stays on tier 1.
#[test]
fn a_queued_program_the_checker_refuses_stays_out() {
    let Some(mut m) = machine(1, 100_000, 8) else { return };
    assert_eq!(m.run(100), Exit::Budget);
    assert_eq!(m.queue.len(), 1);
    assert_eq!(m.hart().t2_refusals().0, 0, "not checked on the vCPU");
    // The same program with a store outside the hart right after the prologue:
    // r2 = r1 + 1 MiB; *(u64 *)(r2 + 0) = r1.
    use ktranslator::ebpf::insn;
    let prog = &mut m.queue[0].1;
    prog.splice(1..1, [insn(0xbf, 2, 1, 0, 0), insn(0x07, 2, 0, 0, 1 << 20), insn(0x7b, 2, 1, 0, 0)]);
    assert_eq!(m.compile_queued(), 0);
    let (refused, first) = m.hart().t2_refusals();
    assert_eq!(refused, 1);
    assert!(first.is_some());
    let s = m.hart().stats;
    assert_eq!(s.t2_rejected, 1, "{s:?}");
    assert_eq!(finish(&mut m), 100_000);
    assert!(m.queue.is_empty(), "never queued again");
    assert_eq!(m.hart().stats.t2_executed, 0);
    assert_eq!(m.disable_tier2(), 0);
}

/// A block of a queued region that gets hot before the region's program is installed
/// is not queued as a head of its own (as with a synchronous compile, the installed
/// program runs it): it asks again after half a threshold, by when the program runs it.
#[test]
fn a_block_of_a_queued_region_waits_for_that_program() {
    // loop: addi a0, a0, 1; beq a0, zero, skip (never: a block ends)
    //       addi a1, a1, 1
    // skip: addi t0, t0, -1; bne t0, zero, loop; wfi
    const A1: u32 = 11;
    let code = [
        addi(A0, A0, 1),
        b_type(0, A0, 0, 8),
        addi(A1, A1, 1),
        addi(T0, T0, -1),
        b_type(1, T0, 0, -16),
        0x1050_0073,
    ];
    let mut m = Box::new(Machine::new(1 << 20, 1 << 16));
    if !m.enable_tier2_queued(8) {
        return;
    }
    m.write_words(RAM_BASE, &code);
    let h = m.hart();
    h.set_xreg(T0 as usize, 100_000);
    h.set_pc(RAM_BASE);
    // 20 turns of 5 instructions: both blocks pass the threshold (8) on tier 1.
    assert_eq!(m.run(100), Exit::Budget);
    assert_eq!(m.queue.len(), 1, "one program, for the loop's head: {:?}", m.hart().stats);
    assert_eq!(m.compile_queued(), 1);
    assert_eq!(finish(&mut m), 100_000);
    assert_eq!(m.hart().xreg(A1 as usize), 100_000);
    let s = m.hart().stats;
    assert!(s.t2_executed > 0, "{s:?}");
    assert_eq!((s.t2_queued, m.queue.len()), (1, 0), "the second block was never queued: {s:?}");
    assert_eq!(m.disable_tier2(), 0);
}
