//! The run loop follows chains without looking at interrupts: they can only become
//! deliverable through a CSR write, a trap or xRET (which end their block with a
//! non-chain exit) or through the host between runs. These tests pin both paths.

mod common;

use common::{addi, bne, i_type, Machine, J_SELF, RAM_BASE, T0, T1, T2};
use ktranslator::csr::num::{MCAUSE, MEPC, MIE, MSTATUS, MTVEC};
use ktranslator::csr::{cause, MIP_MTIP};
use ktranslator::hart::Exit;

const MSTATUS_MIE: u64 = 8;
const MIE_MTIE: u64 = 1 << 7;
const HANDLER: u64 = RAM_BASE + 0x100;

/// `csrrsi x0, csr, uimm`.
fn csrsi(csr: u16, uimm: u32) -> u32 {
    i_type(0x73, 0, 6, uimm, i32::from(csr))
}
fn jal_back(off: i32) -> u32 {
    let o = off as u32;
    0x6f | (o & 0xff000) | ((o >> 11 & 1) << 20) | ((o >> 1 & 0x3ff) << 21) | ((o >> 20 & 1) << 31)
}

fn csr(m: &mut Machine, n: u16) -> u64 {
    m.hart().csr_read(&mut common::TestBus::default(), n).unwrap()
}

fn machine(code: &[u32]) -> Machine {
    let mut m = Machine::new(1 << 20, 1 << 16);
    m.write_words(RAM_BASE, code);
    m.write_words(HANDLER, &[J_SELF]);
    let h = m.hart();
    assert!(h.csr_write(MTVEC, HANDLER));
    assert!(h.csr_write(MIE, MIE_MTIE));
    h.set_pc(RAM_BASE);
    m
}

#[test]
fn pending_interrupt_is_taken_right_after_the_csr_write_that_enables_it() {
    // A chained loop runs with MTIP pending but MIE clear, then sets MIE.
    let mut m = machine(&[addi(T0, T0, 1), bne(T0, T1, -4), csrsi(MSTATUS, 8), addi(T2, 0, 1), J_SELF]);
    let h = m.hart();
    h.set_xreg(T1 as usize, 50);
    h.set_irq(MIP_MTIP, true);
    assert_eq!(m.run(1000), Exit::Budget);
    assert_eq!(m.hart().xreg(T0 as usize), 50);
    assert_eq!(csr(&mut m, MCAUSE), cause::INTERRUPT | 7);
    assert_eq!(csr(&mut m, MEPC), RAM_BASE + 12, "taken before the instruction after csrsi");
    assert_eq!(m.hart().xreg(T2 as usize), 0);
    assert_eq!(m.hart().pc(), HANDLER);
}

#[test]
fn interrupt_raised_between_runs_stops_a_chained_loop() {
    let mut m = machine(&[addi(T0, T0, 1), jal_back(-4)]);
    assert!(m.hart().csr_write(MSTATUS, MSTATUS_MIE));
    assert_eq!(m.run(100), Exit::Budget);
    let h = m.hart();
    assert!(h.xreg(T0 as usize) >= 50);
    assert!(h.stats.chained >= 40, "{:?}", h.stats);
    h.set_irq(MIP_MTIP, true);
    assert_eq!(m.run(10), Exit::Budget);
    assert_eq!(csr(&mut m, MCAUSE), cause::INTERRUPT | 7);
    assert_eq!(m.hart().pc(), HANDLER);
    assert_eq!(m.hart().stats.interrupts, 1);
}

#[test]
fn stop_request_ends_a_chained_loop() {
    // The loop stores to the test device, which asks the hart to stop: the run
    // returns Stop at the end of that block instead of following its chain.
    let sd_t1 = 0x23 | (3 << 12) | (T1 << 20) | (T2 << 15);
    let mut m = machine(&[addi(T0, T0, 1), sd_t1, jal_back(-8)]);
    let h = m.hart();
    h.set_xreg(T2 as usize, common::TESTDEV);
    h.set_xreg(T1 as usize, 0x1234);
    assert_eq!(m.run(1_000_000), Exit::Stop);
    assert_eq!(m.hart().xreg(T0 as usize), 1, "stopped after the first block");
    assert_eq!(m.bus.result, Some(0x1234));
}

#[test]
fn host_stop_flag_ends_an_endless_run() {
    // An endless loop whose back edge is an indirect jump (no chain: every iteration
    // returns to the run loop), run with no budget to speak of: only the host's stop
    // flag, set by another thread, can end the run, and it does.
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let jalr_t2 = i_type(0x67, 0, 0, T2, 0); // jalr x0, 0(t2)
    let mut m = machine(&[addi(T0, T0, 1), jalr_t2]);
    m.hart().set_xreg(T2 as usize, RAM_BASE);
    let flag = Arc::new(AtomicBool::new(false));
    // SAFETY: `flag` outlives every run of `m` (both live to the end of this test).
    unsafe { m.hart().set_stop_flag(Arc::as_ptr(&flag)) };
    let setter = {
        let flag = Arc::clone(&flag);
        std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(50));
            flag.store(true, Ordering::Relaxed);
        })
    };
    assert_eq!(m.run(u64::MAX), Exit::Stop);
    setter.join().unwrap();
    assert!(m.hart().xreg(T0 as usize) > 0, "the loop ran before the stop");
    // The flag stays set: the next run stops before its first block.
    let t0 = m.hart().xreg(T0 as usize);
    assert_eq!(m.run(u64::MAX), Exit::Stop);
    assert_eq!(m.hart().xreg(T0 as usize), t0);
    flag.store(false, Ordering::Relaxed);
    assert_eq!(m.run(1000), Exit::Budget);
}
