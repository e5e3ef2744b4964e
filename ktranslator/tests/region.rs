//! Tier-2 regions (several blocks in one program, ebpf.rs `lower_region`) against tier
//! 1, on loops whose turn spans several blocks linked by a direct jump, a call and a
//! return: a fault at every load of the region, code rewritten in the middle of a live
//! region, and the budget, a stop request and an interrupt while a region loops. Each
//! program runs on a tier-1 machine and a tier-2 one (threshold 2: the loop's head is
//! compiled on its second turn, when the other blocks exist), which must end in the
//! same state; the tier-2 machine must have run blocks inside regions.

mod common;

use common::{addi, b_type, i_type, jal, s_type, Machine, RAM_BASE, TESTDEV};
use ktranslator::csr::{num, MIP_MTIP, MSTATUS_MIE};
use ktranslator::hart::Exit;

const CODE: u64 = RAM_BASE;
const HANDLER: u64 = RAM_BASE + 0x8000;
const DATA: u64 = RAM_BASE + 0x1_0000;
/// An address with neither RAM nor a device behind it.
const BAD: u64 = 0xc001_0000;

const RA: u32 = 1;
const WFI: u32 = 0x1050_0073;
const J_SELF: u32 = common::J_SELF;

/// `jalr x0, 0(rs1)` (a return).
fn ret(rs1: u32) -> u32 {
    i_type(0x67, 0, 0, rs1, 0)
}
/// `ld rd, off(rs1)`.
fn ld(rd: u32, rs1: u32, off: i32) -> u32 {
    i_type(0x03, rd, 3, rs1, off)
}
/// An R-type ALU op.
fn r_type(f3: u32, f7: u32, rd: u32, rs1: u32, rs2: u32) -> u32 {
    0x33 | (rd << 7) | (f3 << 12) | (rs1 << 15) | (rs2 << 20) | (f7 << 25)
}
fn blt(rs1: u32, rs2: u32, off: i32) -> u32 {
    b_type(4, rs1, rs2, off)
}

/// The state compared across tiers.
#[derive(Debug, PartialEq, Eq)]
struct State {
    exit: Exit,
    pc: u64,
    x: Vec<u64>,
    insns: u64,
    mepc: u64,
    mcause: u64,
    mtval: u64,
    code: Vec<u8>,
}

fn state(m: &mut Machine, exit: Exit) -> State {
    let mut bus = common::TestBus::default();
    let mut code = vec![0u8; 256];
    let h = m.hart();
    assert!(h.ram().read_bytes(CODE, &mut code));
    State {
        exit,
        pc: h.pc(),
        x: (0..32).map(|r| h.xreg(r)).collect(),
        insns: h.stats.insns,
        mepc: h.csr_read(&mut bus, num::MEPC).unwrap(),
        mcause: h.csr_read(&mut bus, num::MCAUSE).unwrap(),
        mtval: h.csr_read(&mut bus, num::MTVAL).unwrap(),
        code,
    }
}

/// Tier 1 and tier 2 (threshold 2), or `None` where tier 2 does not exist.
fn machines() -> Option<[Machine; 2]> {
    if !cfg!(target_arch = "x86_64") {
        return None;
    }
    let mut m = [Machine::new(1 << 20, 1 << 16), Machine::new(1 << 20, 1 << 16)];
    assert!(m[1].enable_tier2(2));
    Some(m)
}

/// Loads `code` and `handler` and the data page, sets registers `regs` ((index, value))
/// and pc = CODE, on both machines.
fn setup(ms: &mut [Machine; 2], code: &[u32], handler: &[u32], regs: &[(usize, u64)]) {
    for m in ms.iter_mut() {
        m.write_words(CODE, code);
        m.write_words(HANDLER, handler);
        let data: Vec<u8> = (0..4096u32).map(|i| (i * 7 + 1) as u8).collect();
        m.write(DATA, &data);
        let h = m.hart();
        h.reset();
        for &(r, v) in regs {
            h.set_xreg(r, v);
        }
        h.csr_write(num::MTVEC, HANDLER);
        h.set_pc(CODE);
    }
}

/// Runs both machines with `budget`; checks they agree and returns the state.
#[track_caller]
fn run_both(ms: &mut [Machine; 2], budget: u64, what: &str) -> State {
    let e0 = ms[0].run(budget);
    let s0 = state(&mut ms[0], e0);
    let e1 = ms[1].run(budget);
    let s1 = state(&mut ms[1], e1);
    assert_eq!(s0, s1, "{what}: tier 2 differs from tier 1");
    s0
}

/// Blocks the tier-2 machine ran inside programs so far (region transitions): the
/// blocks tier 1 ran less those the tier-2 machine's dispatcher ran (programs count
/// once per entry), the machines having run the same code.
fn in_region(ms: &mut [Machine; 2]) -> u64 {
    let t1 = ms[0].hart().stats.tbs_executed;
    t1.saturating_sub(ms[1].hart().stats.tbs_executed)
}

/// A fault at each load of a four-block region (head, a block reached by a direct
/// jump, a function reached by a call, the block after the call reached by the
/// return) on the loop's last turn: precise mepc, mtval, retired count and the results
/// of exactly the loads before it.
#[test]
fn fault_at_every_load_of_a_region() {
    let Some(mut ms) = machines() else {
        eprintln!("SKIPPED: tier 2's userspace JIT is x86-64 only");
        return;
    };
    const TURNS: u64 = 6;
    // Word index of each of the seven loads, and its destination register.
    let loads: [(usize, u32); 7] = [(5, 10), (6, 11), (9, 12), (16, 15), (17, 16), (11, 13), (12, 14)];
    for (k, &(fault_at, _)) in loads.iter().enumerate() {
        let base = |at: usize| if at == fault_at { 5 } else { 29 };
        let ldk = |at: usize, rd: u32| ld(rd, base(at), 8 * (rd as i32 - 10));
        let code = [
            addi(20, 20, 1),                 // 0 head: turn += 1
            r_type(0, 0x20, 6, 20, 21),      // 1 x6 = turn - TURNS
            i_type(0x13, 6, 3, 6, 1),        // 2 x6 = (x6 == 0)   (sltiu)
            i_type(0x13, 6, 1, 6, 30),       // 3 x6 <<= 30
            r_type(0, 0, 5, 29, 6),          // 4 x5 = data + x6: BAD on the last turn
            ldk(5, 10),                      // 5
            ldk(6, 11),                      // 6
            jal(0, 8),                       // 7 j B
            0x0000_0013,                     // 8 (nop, skipped)
            ldk(9, 12),                      // 9 B:
            jal(RA, 4 * 6),                  // 10 call F
            ldk(11, 13),                     // 11 C: (the return lands here)
            ldk(12, 14),                     // 12
            blt(20, 21, -4 * 13),            // 13 loop while turn < TURNS
            WFI,                             // 14
            J_SELF,                          // 15
            ldk(16, 15),                     // 16 F:
            ldk(17, 16),                     // 17
            ret(RA),                         // 18
        ];
        setup(&mut ms, &code, &[WFI, J_SELF], &[(21, TURNS), (29, DATA)]);
        let start = ms[0].hart().stats.insns;
        let s = run_both(&mut ms, 100_000, &format!("fault at load {k}"));
        assert_eq!(s.exit, Exit::Wfi);
        let pc = CODE + 4 * fault_at as u64;
        let rd = loads[k].1;
        assert_eq!((s.mepc, s.mcause, s.mtval), (pc, 5, BAD + 8 * (u64::from(rd) - 10)), "fault at load {k}");
        // A whole turn: 5 + 2 + 1 (jal) + 1 + 1 (call) + 2 (F) + 1 (ret) + 2 + 1 (blt).
        let per_turn = 16;
        let before_fault = match fault_at {
            5 | 6 => fault_at,
            9 => 8,
            16 | 17 => 10 + (fault_at - 16),
            _ => 13 + (fault_at - 11),
        } as u64;
        assert_eq!(s.insns - start, (TURNS - 1) * per_turn + before_fault + 1, "retired before the fault at load {k} (+ wfi)");
        let mut data = |rd: u32| ms[0].read_u64(DATA + 8 * (u64::from(rd) - 10));
        // Loads in program order on the last turn; the ones before the fault hold data.
        let order = [10, 11, 12, 15, 16, 13, 14];
        let pos = order.iter().position(|&r| r == rd).unwrap();
        for (i, &r) in order.iter().enumerate() {
            if i < pos {
                assert_eq!(s.x[r as usize], data(r), "x{r} loaded before the fault at load {k}");
            }
        }
    }
    assert!(in_region(&mut ms) > 0, "no block ran inside a region");
}

/// Stores into code of a live region: into a function the region called earlier in the
/// turn, and into the next instruction of the storing block itself. The new code runs
/// from the next execution on (for the block itself: at once), as in tier 1.
#[test]
fn code_rewritten_inside_a_live_region() {
    let Some(mut ms) = machines() else {
        eprintln!("SKIPPED: tier 2's userspace JIT is x86-64 only");
        return;
    };
    const TURNS: u64 = 40;
    const PATCH_TURN: u64 = 15;
    // addi x8, x0, 2 and addi x17, x17, 100: the replacements.
    let new_f = addi(8, 0, 2);
    let new_c = addi(17, 17, 100);
    let code = [
        addi(20, 20, 1),            // 0 head
        jal(RA, 4 * 10),            // 1 call F (11)
        r_type(0, 0, 7, 7, 8),      // 2 C: x7 += x8
        b_type(1, 20, 22, 4 * 4),   // 3 bne turn, PATCH_TURN -> 7
        s_type(2, 30, 9, 4 * 11),   // 4 sw x9, F(x30): F's first instruction
        s_type(2, 30, 18, 4 * 6),   // 5 sw x18, 6*4(x30): the instruction after this one
        addi(17, 17, 1),            // 6 rewritten to add 100 at once
        blt(20, 21, -4 * 7),        // 7 loop while turn < TURNS
        WFI,                        // 8
        J_SELF,                     // 9
        0x0000_0013,                // 10
        addi(8, 0, 1),              // 11 F: x8 = 1 (rewritten to 2)
        ret(RA),                    // 12
    ];
    setup(
        &mut ms,
        &code,
        &[WFI, J_SELF],
        &[(21, TURNS), (22, PATCH_TURN), (30, CODE), (9, u64::from(new_f)), (18, u64::from(new_c))],
    );
    let s = run_both(&mut ms, 100_000, "code rewritten in a region");
    assert_eq!(s.exit, Exit::Wfi);
    assert_eq!(s.x[7], PATCH_TURN + 2 * (TURNS - PATCH_TURN), "x7: F's new code from the turn after the store");
    assert_eq!(s.x[17], 100, "x17: the rewritten instruction ran right after the store");
    let st = ms[1].hart().stats;
    assert!(st.smc_flushes >= 2, "both stores hit translated code");
    assert!(in_region(&mut ms) > 0, "no block ran inside a region");
}

/// A region that loops for long: every run ends at the budget exactly where tier 1's
/// does; an interrupt raised between runs is taken at the next run's start; a stop
/// request from the bus (a device write inside the loop) ends the run at the next
/// block transition, as in tier 1.
#[test]
fn budget_interrupt_and_stop_in_a_looping_region() {
    let Some(mut ms) = machines() else {
        eprintln!("SKIPPED: tier 2's userspace JIT is x86-64 only");
        return;
    };
    let code = [
        addi(20, 20, 1),            // 0 head
        jal(RA, 4 * 8),             // 1 call F (9)
        addi(7, 7, 3),              // 2 C
        b_type(1, 20, 23, -4 * 3),  // 3 bne turn, x23 -> head
        s_type(2, 24, 0, 0),        // 4 sw x0, 0(x24): the test device asks to stop
        jal(0, -4 * 5),             // 5 j head (on for ever)
        0x0000_0013,                // 6
        0x0000_0013,                // 7
        0x0000_0013,                // 8
        addi(8, 8, 1),              // 9 F
        ret(RA),                    // 10
    ];
    // Handler: x25 = mepc; mie = 0 (the line stays raised); park.
    let handler = [i_type(0x73, 25, 2, 0, 0x341), i_type(0x73, 0, 1, 0, 0x304), WFI, J_SELF];
    setup(&mut ms, &code, &handler, &[(23, 1 << 40), (24, TESTDEV)]);
    for (i, budget) in [5_000u64, 777, 1, 12_345, 3].into_iter().enumerate() {
        let s = run_both(&mut ms, budget, &format!("budget run {i}"));
        assert_eq!(s.exit, Exit::Budget, "budget run {i}");
    }
    assert!(in_region(&mut ms) > 1000, "the loop did not run inside a region");
    // An interrupt between runs: taken before any block of the next run.
    let stopped_at = ms[0].hart().pc();
    for m in ms.iter_mut() {
        let h = m.hart();
        h.csr_write(num::MIE, MIP_MTIP);
        let st = h.csr_read(&mut common::TestBus::default(), num::MSTATUS).unwrap();
        h.csr_write(num::MSTATUS, st | MSTATUS_MIE);
        h.set_irq(MIP_MTIP, true);
    }
    let s = run_both(&mut ms, 10_000, "interrupt");
    assert_eq!(s.exit, Exit::Wfi);
    assert_eq!((s.mepc, s.x[25], s.mcause), (stopped_at, stopped_at, (1 << 63) | 7), "the interrupt's mepc");
    // A stop request from a device write inside the loop, on turn 700.
    setup(&mut ms, &code, &handler, &[(23, 700), (24, TESTDEV)]);
    let s = run_both(&mut ms, 1 << 40, "stop request");
    assert_eq!(s.exit, Exit::Stop);
    assert_eq!(s.x[20], 700, "stopped on the turn of the device write");
    assert_eq!(s.pc, CODE, "stopped at the next block (the loop's head)");
}

/// A loop whose turn calls a function in the next page: the function joins the loop's
/// region (a jump into another page, checked against the jump cache each time,
/// ebpf.rs `Emitter::guard`), so the whole loop runs in one program entry. Then the
/// same loop with a store into that function on one turn: the other page's blocks die
/// with it, the check fails, and the new code runs from the next turn on, as in tier 1.
#[test]
fn a_loop_across_two_pages() {
    let Some(mut ms) = machines() else {
        eprintln!("SKIPPED: tier 2's userspace JIT is x86-64 only");
        return;
    };
    const TURNS: u64 = 300;
    const F: u64 = CODE + 0x1000;
    let code = [
        addi(20, 20, 1),            // 0 head
        jal(RA, (F - CODE) as i32 - 4), // 1 call F (next page)
        r_type(0, 0, 7, 7, 8),      // 2 C: x7 += x8
        b_type(1, 20, 22, 4 * 3),   // 3 bne turn, x22 -> 6
        s_type(2, 31, 9, 0),        // 4 sw x9, 0(x31): F's first instruction
        0x0000_0013,                // 5
        blt(20, 21, -4 * 6),        // 6 loop while turn < TURNS
        WFI,                        // 7
        J_SELF,                     // 8
    ];
    // F: x8 = 1 (rewritten to 2); return.
    let f = [addi(8, 0, 1), ret(RA)];
    let new_f = u64::from(addi(8, 0, 2));
    for (patch_turn, what) in [(u64::MAX, "no store"), (100, "store into F")] {
        setup(&mut ms, &code, &[WFI, J_SELF], &[(21, TURNS), (22, patch_turn), (31, F), (9, new_f)]);
        for m in ms.iter_mut() {
            m.write_words(F, &f);
        }
        let entries = ms[1].hart().stats.tbs_executed;
        let s = run_both(&mut ms, 100_000, what);
        assert_eq!(s.exit, Exit::Wfi, "{what}");
        let twice = TURNS.saturating_sub(patch_turn);
        assert_eq!(s.x[7], TURNS + twice, "{what}: x7");
        // Tier 1 enters four blocks a turn; the tier-2 machine's loop, compiled on its
        // second turn, runs in one program until it ends (or until the store).
        let entries = ms[1].hart().stats.tbs_executed - entries;
        if patch_turn == u64::MAX {
            assert!(entries < 20, "{what}: {entries} block or program entries for {TURNS} turns");
        } else {
            assert!(ms[1].hart().stats.smc_flushes >= 1, "{what}: the store hit F's code");
        }
    }
}

/// A loop of 25 blocks, more than a first region holds (16): its turn runs through the
/// programs of several heads (each region the 16 blocks from its head on), which hand
/// over to each other until those exits have them compiled again, larger (tier2.rs
/// `t2_recompile`); then a turn runs in one program.
#[test]
fn a_loop_larger_than_a_first_region() {
    let Some(mut ms) = machines() else {
        eprintln!("SKIPPED: tier 2's userspace JIT is x86-64 only");
        return;
    };
    const TURNS: u64 = 11_000;
    const STEPS: usize = 24;
    let mut code = vec![addi(20, 20, 1)];
    for _ in 0..STEPS {
        // x7 += 1, then a branch that always goes on to the next instruction (each
        // step ends a block).
        code.extend([addi(7, 7, 1), b_type(0, 0, 0, 4)]);
    }
    let back = -4 * code.len() as i32;
    code.extend([blt(20, 21, back), WFI, J_SELF]);
    setup(&mut ms, &code, &[WFI, J_SELF], &[(21, TURNS)]);
    let turn = 2 * STEPS as u64 + 2;
    let s = run_both(&mut ms, 10_000 * turn, "first 10,000 turns");
    assert_eq!((s.exit, s.x[20]), (Exit::Budget, 10_000));
    assert!(ms[1].hart().stats.t2_recompiled >= 1, "a region was compiled again");
    let entries = ms[1].hart().stats.tbs_executed;
    let s = run_both(&mut ms, 1_000_000, "the rest");
    assert_eq!(s.exit, Exit::Wfi);
    assert_eq!((s.x[20], s.x[7]), (TURNS, TURNS * STEPS as u64));
    let entries = ms[1].hart().stats.tbs_executed - entries;
    assert!(entries < 20, "{entries} block or program entries for the last 1,000 turns");
}

/// A loop calling through a pointer (`jalr ra, 0(t3)`, as a PLT entry or a function
/// pointer does) into another page: the call's targets from the jump log are predicted
/// like a return's, so a turn runs inside one program; when the pointer changes to
/// another function the call leaves for it (the prediction is checked every time).
#[test]
fn a_loop_calling_through_a_pointer() {
    let Some(mut ms) = machines() else {
        eprintln!("SKIPPED: tier 2's userspace JIT is x86-64 only");
        return;
    };
    const TURNS: u64 = 400;
    const F1: u64 = CODE + 0x1000;
    const F2: u64 = CODE + 0x1800;
    let code = [
        addi(20, 20, 1),           // 0 head
        i_type(0x67, RA, 0, 28, 0), // 1 jalr ra, 0(x28)
        r_type(0, 0, 7, 7, 8),     // 2 x7 += x8
        b_type(1, 20, 22, 8),      // 3 bne turn, x22 -> 5
        addi(28, 29, 0),           // 4 x28 = x29 (the other function)
        blt(20, 21, -4 * 5),       // 5 loop while turn < TURNS
        WFI,                       // 6
        J_SELF,                    // 7
    ];
    for (switch_turn, what) in [(u64::MAX, "one target"), (300, "the pointer changes")] {
        setup(&mut ms, &code, &[WFI, J_SELF], &[(21, TURNS), (22, switch_turn), (28, F1), (29, F2)]);
        for m in ms.iter_mut() {
            m.write_words(F1, &[addi(8, 0, 1), ret(RA)]);
            m.write_words(F2, &[addi(8, 0, 100), ret(RA)]);
        }
        let entries = ms[1].hart().stats.tbs_executed;
        let s = run_both(&mut ms, 100_000, what);
        assert_eq!(s.exit, Exit::Wfi, "{what}");
        let after = TURNS.saturating_sub(switch_turn);
        assert_eq!(s.x[7], (TURNS - after) + 100 * after, "{what}: x7");
        let entries = ms[1].hart().stats.tbs_executed - entries;
        if switch_turn == u64::MAX {
            assert!(entries < 20, "{what}: {entries} block or program entries for {TURNS} turns");
        }
    }
}


fn jalr(rd: u32, rs1: u32, off: i32) -> u32 {
    i_type(0x67, rd, 0, rs1, off)
}

/// A block that calls itself through a pointer (`jalr ra, 0(x28)` with x28 = its own
/// address) N times, then the block after it (a predicted call as a loop edge); with
/// small budgets every run ends where tier 1's does.
#[test]
fn a_call_to_its_own_block() {
    let Some(mut ms) = machines() else {
        eprintln!("SKIPPED: tier 2's userspace JIT is x86-64 only");
        return;
    };
    const TURNS: u64 = 300;
    const S: u64 = CODE + 12;
    const E: u64 = CODE + 32;
    let code = [
        addi(20, 20, 1),           // 0 head
        addi(7, 0, 0),             // 1 x7 = 0
        jal(0, 4),                 // 2 j S
        addi(7, 7, 1),             // 3 S: x7 += 1
        r_type(3, 0, 5, 7, 22),    // 4 x5 = x7 < N
        r_type(0, 1, 6, 5, 23),    // 5 x6 = x5 * (S - E)
        r_type(0, 0, 28, 6, 24),   // 6 x28 = x6 + E
        jalr(RA, 28, 0),           // 7 call S or E
        blt(20, 21, -4 * 8),       // 8 E: loop
        WFI,                       // 9
        J_SELF,                    // 10
    ];
    let regs = [(21, TURNS), (22, 5), (23, S.wrapping_sub(E)), (24, E)];
    setup(&mut ms, &code, &[WFI, J_SELF], &regs);
    let s = run_both(&mut ms, 1_000_000, "self call");
    assert_eq!(s.exit, Exit::Wfi);
    assert_eq!((s.x[20], s.x[1]), (TURNS, E));
    let r = in_region(&mut ms);
    assert!(r > 100, "{r} blocks inside programs");
    setup(&mut ms, &code, &[WFI, J_SELF], &regs);
    for (i, budget) in [50u64, 777, 1, 2, 3, 5, 7, 11, 13, 1234, 3].into_iter().cycle().take(200).enumerate() {
        let s = run_both(&mut ms, budget, &format!("self call budget run {i}"));
        if s.exit == Exit::Wfi {
            break;
        }
    }
}

/// A call whose target is the region's head (an earlier block: a backward transition
/// made by a call), also with small budgets.
#[test]
fn a_call_to_the_head_of_its_region() {
    let Some(mut ms) = machines() else {
        eprintln!("SKIPPED: tier 2's userspace JIT is x86-64 only");
        return;
    };
    let code = [
        addi(20, 20, 1),           // 0 head
        b_type(5, 20, 21, 16),     // 1 bge x20, x21 -> 5
        addi(7, 7, 3),             // 2 C
        jalr(RA, 28, 0),           // 3 call head
        0x0000_0013,               // 4
        WFI,                       // 5
        J_SELF,                    // 6
    ];
    setup(&mut ms, &code, &[WFI, J_SELF], &[(21, 500), (28, CODE)]);
    let s = run_both(&mut ms, 1_000_000, "call to head");
    assert_eq!(s.exit, Exit::Wfi);
    assert_eq!((s.x[20], s.x[7], s.x[1]), (500, 3 * 499, CODE + 16));
    let r = in_region(&mut ms);
    assert!(r > 100, "{r} blocks inside programs");
    setup(&mut ms, &code, &[WFI, J_SELF], &[(21, 500), (28, CODE)]);
    for (i, budget) in [1u64, 2, 3, 5, 7, 11, 13, 97].into_iter().cycle().take(300).enumerate() {
        let s = run_both(&mut ms, budget, &format!("call to head budget run {i}"));
        if s.exit == Exit::Wfi {
            break;
        }
    }
}

/// A predicted call into another page whose callee faults on the last turn: precise
/// mepc, mtval, retired count and link.
#[test]
fn a_fault_in_a_predicted_callee() {
    let Some(mut ms) = machines() else {
        eprintln!("SKIPPED: tier 2's userspace JIT is x86-64 only");
        return;
    };
    const TURNS: u64 = 50;
    const F: u64 = CODE + 0x1000;
    let code = [
        addi(20, 20, 1),              // 0 head
        r_type(0, 0x20, 6, 20, 21),   // 1 x6 = turn - TURNS
        i_type(0x13, 6, 3, 6, 1),     // 2 x6 = (x6 == 0)
        i_type(0x13, 6, 1, 6, 30),    // 3 x6 <<= 30
        r_type(0, 0, 5, 29, 6),       // 4 x5 = data + x6
        jalr(RA, 28, 0),              // 5 call F
        r_type(0, 0, 7, 7, 8),        // 6 C: x7 += x8
        blt(20, 21, -4 * 7),          // 7
        WFI,                          // 8
        J_SELF,                       // 9
    ];
    setup(&mut ms, &code, &[WFI, J_SELF], &[(21, TURNS), (28, F), (29, DATA)]);
    for m in ms.iter_mut() {
        m.write_words(F, &[addi(9, 9, 1), ld(8, 5, 0), ret(RA)]);
    }
    let s = run_both(&mut ms, 1_000_000, "fault in callee");
    assert_eq!(s.exit, Exit::Wfi);
    assert_eq!((s.mepc, s.mcause, s.mtval, s.x[1]), (F + 4, 5, BAD, CODE + 24));
    assert!(in_region(&mut ms) > 20, "in region: {}", in_region(&mut ms));
}

/// A recompiled region (32 blocks) of calls into and returns from other pages: every
/// return-like jump compares with about 10 return landings in other pages (two stubs
/// each), so the program has as many stubs as ebpf.rs places (256), all pending at once
/// in the checker, which must still accept it (with 256 pending jumps it refused it).
#[test]
fn a_recompiled_region_with_many_compares_into_other_pages() {
    let Some(mut ms) = machines() else {
        eprintln!("SKIPPED: tier 2's userspace JIT is x86-64 only");
        return;
    };
    const TURNS: u64 = 1200;
    const UNITS: u64 = 10;
    let c = |i: u64| CODE + 0x2_0000 + i * 0x1000;
    let f = |j: u64| CODE + 0x3_0000 + j * 0x100;
    const B: u64 = CODE + 48;
    let code = [
        addi(20, 20, 1),                          // 0 head
        i_type(0x13, 6, 7, 20, 1),                // 1 andi x6, x20, 1
        b_type(0, 6, 0, 24),                      // 2 beq x6, x0 -> T (8)
        ld(11, 29, 0),                            // 3 J: a load
        addi(28, 25, 0),                          // 4 x28 = C_1
        jal(0, (c(1) - (CODE + 20)) as i32),      // 5 j C_1
        0x0000_0013,                              // 6
        0x0000_0013,                              // 7
        i_type(0x73, 10, 2, 0, 0x340),            // 8 T: csrr x10, mscratch
        i_type(0x73, 10, 2, 0, 0x340),            // 9
        jal(0, 8),                                // 10 j B
        0x0000_0013,                              // 11
        blt(20, 21, -48),                         // 12 B: loop
        WFI,                                      // 13
        J_SELF,                                   // 14
    ];
    setup(&mut ms, &code, &[WFI, J_SELF], &[(21, TURNS), (25, c(1)), (26, B), (27, 0x1000), (29, DATA)]);
    for m in ms.iter_mut() {
        for i in 1..=UNITS {
            let callee = f(i % 2);
            let call = jal(RA, (callee.wrapping_sub(c(i))) as i32);
            let unit = if i < UNITS {
                vec![call, r_type(0, 0, 28, 28, 27), i_type(0x67, 0, 0, 28, 0)]
            } else {
                vec![call, i_type(0x67, 0, 0, 26, 0)]
            };
            m.write_words(c(i), &unit);
        }
        for j in 0..2 {
            m.write_words(f(j), &[addi(9, 9, 1), ret(RA)]);
        }
    }
    let s = run_both(&mut ms, 10_000_000, "many foreign compares");
    assert_eq!(s.exit, Exit::Wfi);
    let st = ms[1].hart().stats;
    let refusals = ms[1].hart().t2_refusals();
    assert!(st.t2_recompiled >= 1, "no recompile");
    assert_eq!(refusals.0, 0, "the checker refused a program of the lowering: {refusals:?}");
}
