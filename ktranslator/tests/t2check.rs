//! The tier-2 program checker (t2check.rs) on real programs: every program the lowering
//! makes for a real guest loop passes, and each class of fault the checker exists for,
//! planted into such a program by mutating it, is refused with its rule.

mod common;

use std::ffi::c_void;
use std::cell::{Cell, RefCell};

use common::{addi, bne, i_type, s_type, Machine, J_SELF, RAM_BASE, S0, S1, T0, T1, T2};
use ktranslator::ebpf::insn;
use ktranslator::t2check::{check, CheckEnv, Rule};
use ktranslator::tier2::Tier2Host;

// Programs the capturing host was asked to compile (after the checker passed them), and
// the check environment of the program under test; per test thread: the hart calls the
// hooks on the thread that runs it, and the tests run in parallel.
thread_local! {
    static PROGRAMS: RefCell<Vec<Vec<u64>>> = const { RefCell::new(Vec::new()) };
    static ENV: Cell<Option<CheckEnv>> = const { Cell::new(None) };
}
const HELPER_IMM: i32 = 0x1234;

unsafe extern "C" fn capture(_: *mut c_void, insns: *const u64, n: usize, _entry: *mut u64) -> u64 {
    // SAFETY: ktranslator passes `n` valid instructions at `insns`.
    let p = unsafe { std::slice::from_raw_parts(insns, n) }.to_vec();
    PROGRAMS.with_borrow_mut(|v| v.push(p));
    0 // refused: the block stays on tier 1
}

fn r_type(f3: u32, f7: u32, rd: u32, rs1: u32, rs2: u32) -> u32 {
    0x33 | (rd << 7) | (f3 << 12) | (rs1 << 15) | (rs2 << 20) | (f7 << 25)
}

/// The program of a self-looping block with a RAM load and store, a division and a
/// helper op (mulh): `loop: ld; div; mulh; sd; addi; bne loop`.
fn loop_program() -> Vec<u64> {
    let mut m = Machine::new(1 << 20, 1 << 16);
    let code = [
        (1 << 12) | (S0 << 7) | 0x17, // auipc s0, 1
        addi(T0, 0, 100),
        i_type(0x03, T1, 3, S0, 0), // loop: ld t1, 0(s0)
        r_type(4, 1, T2, T1, T0),   // div t2, t1, t0
        r_type(1, 1, T1, T1, T0),   // mulh t1, t1, t0
        s_type(3, S0, T2, 8),       // sd t2, 8(s0)
        addi(T0, T0, -1),
        bne(T0, 0, -20),
        J_SELF,
    ];
    m.write_words(RAM_BASE, &code);
    let host = Tier2Host {
        compile: Some(capture),
        submit: None,
        free: None,
        opaque: std::ptr::null_mut(),
        helper_imm: HELPER_IMM,
        threshold: 1,
        max_blocks: 1024,
    };
    PROGRAMS.with_borrow_mut(|v| v.clear());
    // SAFETY: `capture` never returns a handle, so nothing is ever run or freed.
    unsafe { m.hart().set_tier2(Some(host)) };
    m.run(2000);
    assert_eq!(m.hart().t2_refusals().0, 0, "the checker refused a program of the lowering");
    let progs = PROGRAMS.take();
    // The loop block (at `loop`: the first block, from 0, runs into it): the one with
    // a helper call, a division and a loop edge.
    progs
        .iter()
        .find(|p| {
            p.iter().any(|&w| w == insn(0x85, 0, 0, 0, HELPER_IMM))
                && p.iter().any(|&w| w as u8 == 0x3f)
                && loop_edges(p).next().is_some()
        })
        .expect("the loop block was compiled")
        .clone()
}

/// The loop edges of a program: backward `ja`s behind the budget jump (`jge`, 0x3d).
fn loop_edges(p: &[u64]) -> impl Iterator<Item = usize> + '_ {
    (1..p.len()).filter(|&i| code(p[i]) == 0x05 && off(p[i]) < 0 && code(p[i - 1]) == 0x3d)
}

/// The rejoins of a program: the other backward `ja`s (the ends of out-of-line slow
/// paths).
fn rejoins(p: &[u64]) -> impl Iterator<Item = usize> + '_ {
    (1..p.len()).filter(|&i| code(p[i]) == 0x05 && off(p[i]) < 0 && code(p[i - 1]) != 0x3d)
}

/// [`loop_program`], passed by the checker, with its environment set for [`expect`].
fn checked_loop_program() -> Vec<u64> {
    let p = loop_program();
    let e = env(&p);
    ENV.set(Some(e));
    check(&p, &e).expect("the original program passes");
    p
}

/// The check environment for a captured program: its micro-op range from the
/// addresses it passes to the helper.
fn env(p: &[u64]) -> CheckEnv {
    // The LD_IMM64 of r2 right before each helper call.
    let uops: Vec<u64> = p
        .iter()
        .enumerate()
        .filter(|&(i, &w)| w == insn(0x85, 0, 0, 0, HELPER_IMM) && i >= 2)
        .map(|(i, _)| (p[i - 2] >> 32) | (p[i - 1] >> 32) << 32)
        .collect();
    let lo = *uops.iter().min().expect("a helper call");
    let hi = *uops.iter().max().unwrap();
    // The blocks a region's program leaves from: `mov32 r0, tb` right before a 4-byte
    // store through the hart (`cur_tb`).
    let mut tbs: Vec<u32> = (1..p.len())
        .filter(|&i| code(p[i - 1]) == 0xb4 && code(p[i]) == 0x63 && dst(p[i]) == 6)
        .map(|i| (p[i - 1] >> 32) as u32)
        .collect();
    tbs.sort_unstable();
    tbs.dedup();
    let mut e = CheckEnv::new(HELPER_IMM);
    assert!(e.add_block(tbs.first().copied().unwrap_or(0), lo, ((hi - lo) / 16 + 1) as usize));
    for &tb in tbs.iter().skip(1) {
        assert!(e.add_block(tb, 0, 0));
    }
    e
}

fn code(w: u64) -> u8 {
    w as u8
}
fn dst(w: u64) -> u8 {
    (w >> 8) as u8 & 15
}
fn src(w: u64) -> u8 {
    (w >> 12) as u8 & 15
}
fn off(w: u64) -> i16 {
    (w >> 16) as u16 as i16
}
fn with_off(w: u64, o: i16) -> u64 {
    (w & !(0xffff << 16)) | u64::from(o as u16) << 16
}
fn with_imm(w: u64, imm: i32) -> u64 {
    (w & 0xffff_ffff) | u64::from(imm as u32) << 32
}
fn with_regs(w: u64, d: u8, s: u8) -> u64 {
    (w & !0xff00) | u64::from(d | s << 4) << 8
}

/// A copy of `p` changed by `f`.
fn mutated(p: &[u64], f: &dyn Fn(&mut Vec<u64>)) -> Vec<u64> {
    let mut q = p.to_vec();
    f(&mut q);
    q
}

/// Index of the first instruction matching `f`.
#[track_caller]
fn find(p: &[u64], f: impl Fn(u64) -> bool) -> usize {
    p.iter().position(|&w| f(w)).expect("instruction present")
}

fn expect(p: &[u64], rule: Rule, what: &str) {
    match check(p, &env_of_original()) {
        Err(e) => assert_eq!(e.rule, rule, "{what}: refused at {} for {:?}", e.at, e.rule),
        Ok(()) => panic!("{what}: accepted"),
    }
}

fn env_of_original() -> CheckEnv {
    ENV.get().expect("set by the test")
}

#[test]
fn real_programs_pass_and_mutations_are_refused() {
    let p = checked_loop_program();
    let back = loop_edges(&p).next().expect("a loop edge");

    let m = |f: &dyn Fn(&mut Vec<u64>)| mutated(&p, f);
    // Hart accesses outside the fields tier 2 may use.
    let ld_ctx = find(&p, |w| code(w) == 0x79 && src(w) == 6 && off(w) > 0);
    expect(&m(&|q| q[ld_ctx] = with_off(q[ld_ctx], 8 * 40)), Rule::HartAccess, "read of a slot past x32");
    expect(&m(&|q| q[ld_ctx] = with_off(q[ld_ctx], -8)), Rule::HartAccess, "read below the hart");
    let st_x = find(&p, |w| code(w) == 0x7b && dst(w) == 6 && off(w) < 256 * 8 && off(w) > 8);
    expect(&m(&|q| q[st_x] = with_off(q[st_x], 0)), Rule::HartAccess, "write of x0");
    // Guest RAM: the host page from another word or half of it, an unaligned entry, an
    // unmasked or too wide in-page offset, an access past it.
    // (The entry's tag word is read first, its page word next.)
    let tag = find(&p, |w| code(w) == 0x79 && src(w) == 3);
    let page = tag + 1 + find(&p[tag + 1..], |w| code(w) == 0x79 && src(w) == 3);
    assert_eq!(off(p[page]), off(p[tag]) + 8);
    expect(&m(&|q| q[page] = with_off(q[page], off(q[page]) - 8)), Rule::RamAccess, "host page from the tag word");
    let half = (p[page] & !0xff) | 0x61;
    expect(&m(&|q| q[page] = half), Rule::HartAccess, "low half of the host page");
    expect(&m(&|q| q[page] = with_off(half, off(half) + 4)), Rule::HartAccess, "high half of the host page");
    // The index mask: 4096 entries of 32 bytes (a load and a store entry).
    let index = find(&p, |w| code(w) == 0x57 && dst(w) == 3 && (w >> 32) == 0x1_ffe0);
    expect(&m(&|q| q[index] = with_imm(q[index], 0xff8)), Rule::HartAccess, "TLB index not a multiple of 16");
    expect(&m(&|q| q[index] = with_imm(q[index], 0x3_ffe0)), Rule::Pointer, "TLB index past the table");
    // (The in-page offset is masked in r0, then added to the page.)
    let in_page = find(&p, |w| code(w) == 0x57 && dst(w) == 0 && (w >> 32) == 0xff8);
    expect(&m(&|q| q[in_page] = with_imm(q[in_page], 0x1ff8)), Rule::RamAccess, "in-page offset past the page");
    expect(&m(&|q| q[in_page] = insn(0xb7, 5, 0, 0, 0)), Rule::RamAccess, "in-page offset not masked");
    let add_page = page + 1;
    assert!(code(p[add_page]) == 0x0f && dst(p[add_page]) == 4 && src(p[add_page]) == 0, "the in-page offset added to the page");
    expect(&m(&|q| q[add_page] = insn(0x7b, 6, 4, 8, 0)), Rule::Pointer, "host page stored");
    let access = add_page + 1;
    assert!(matches!(code(p[access]), 0x61 | 0x69 | 0x71 | 0x79 | 0x63 | 0x6b | 0x73 | 0x7b), "the access");
    expect(&m(&|q| q[access] = with_off(q[access], 8)), Rule::RamAccess, "RAM access past the checked offset");
    // Jumps.
    let fwd = find(&p, |w| code(w) == 0x5d || code(w) == 0x55);
    expect(&m(&|q| q[fwd] = with_off(q[fwd], 0x4000)), Rule::JumpTarget, "jump past the end");
    let ld64 = find(&p, |w| code(w) == 0x18);
    expect(
        &m(&|q| q[fwd] = with_off(q[fwd], (ld64 as i64 + 1 - fwd as i64 - 1) as i16)),
        if ld64 > fwd { Rule::JumpTarget } else { Rule::Loop },
        "jump into LD_IMM64",
    );
    expect(&m(&|q| q[fwd] = with_off(q[fwd], -2)), Rule::Loop, "backward conditional jump");
    // The loop edge: only behind the bounded tail.
    let budget = find(&p, |w| code(w) == 0x3d);
    expect(&m(&|q| q[budget] = with_off(q[budget], 0) ), Rule::Loop, "jump into the loop tail");
    expect(&m(&|q| q[budget] = insn(0x07, 0, 0, 0, 0)), Rule::Loop, "loop without the budget check");
    expect(&m(&|q| q[back - 1] = q[back]), Rule::Loop, "a loop edge without its tail");
    // The retired-instruction counter only grows.
    let retire = back - 4;
    assert_eq!(code(p[retire]), 0x07, "retire's add");
    expect(&m(&|q| q[retire] = with_imm(q[retire], -1)), Rule::Counter, "counter decreased");
    // Division by a register not tested for zero.
    let zero_test = find(&p, |w| code(w) == 0x55 && dst(w) == 3 && (w >> 32) == 0);
    expect(&m(&|q| q[zero_test] = with_imm(q[zero_test], 1)), Rule::Division, "divisor tested against 1");
    let div = find(&p, |w| code(w) == 0x3f);
    expect(&m(&|q| q[div] = with_off(q[div], 1)), Rule::Division, "signed eBPF division");
    // Helper calls.
    let call = find(&p, |w| code(w) == 0x85);
    expect(&m(&|q| q[call] = with_imm(q[call], HELPER_IMM + 16)), Rule::Call, "call of another function");
    expect(&m(&|q| q[call - 2] += 1 << 32), Rule::Call, "helper on a misaligned micro-op");
    // The end.
    expect(&m(&|q| *q.last_mut().unwrap() = insn(0xb7, 0, 0, 0, 0)), Rule::Flow, "falls off the end");
    // Registers and values.
    expect(&m(&|q| q[0] = with_regs(q[0], 6, 10)), Rule::Register, "r10 (the frame pointer)");
    expect(&m(&|q| q[0] = with_regs(q[0], 6, 7)), Rule::Uninit, "caller's register read");
    expect(&m(&|q| q[st_x] = with_regs(q[st_x], 6, 6)), Rule::Pointer, "hart pointer stored");
    expect(&m(&|q| q[ld_ctx] = (q[ld_ctx] & !0xe0) | 0xc0), Rule::Opcode, "atomic instead of load");
}

/// The program of a region: a loop whose turn calls a function and holds an inner loop
/// (`head: addi; jal F; C: addi; inner: addi; bne inner; bne head; wfi`, `F: addi; ret`),
/// compiled when the head is hot (threshold 2): several blocks, several loop edges.
fn region_program() -> Vec<u64> {
    let mut m = Machine::new(1 << 20, 1 << 16);
    let jal = |rd: u32, off: i32| {
        let o = off as u32;
        0x6f | (rd << 7) | (o & 0xff000) | ((o >> 11) & 1) << 20 | ((o >> 1) & 0x3ff) << 21 | ((o >> 20) & 1) << 31
    };
    let code = [
        addi(T0, T0, 1),             // 0 head
        jal(1, 4 * 7),               // 1 call F (8)
        addi(T1, 0, 3),              // 2 C
        addi(T1, T1, -1),            // 3 inner
        bne(T1, 0, -4),              // 4 bne inner
        bne(T0, S1, -4 * 5),         // 5 bne head
        0x1050_0073,                 // 6 wfi
        J_SELF,                      // 7
        i_type(0x03, T2, 3, S0, 0),  // 8 F: ld t2, 0(s0)
        i_type(0x67, 0, 0, 1, 0),    // 9 ret
    ];
    m.write_words(RAM_BASE, &code);
    m.hart().set_xreg(S0 as usize, RAM_BASE + 0x1000);
    m.hart().set_xreg(S1 as usize, 50);
    let host = Tier2Host {
        compile: Some(capture),
        submit: None,
        free: None,
        opaque: std::ptr::null_mut(),
        helper_imm: HELPER_IMM,
        threshold: 2,
        max_blocks: 1024,
    };
    PROGRAMS.with_borrow_mut(|v| v.clear());
    // SAFETY: `capture` never returns a handle, so nothing is ever run or freed.
    unsafe { m.hart().set_tier2(Some(host)) };
    m.run(5000);
    assert_eq!(m.hart().t2_refusals().0, 0, "the checker refused a program of the lowering");
    let progs = PROGRAMS.take();
    // The head's region: the program with the most loop edges.
    let back = |p: &Vec<u64>| loop_edges(p).count();
    progs.iter().max_by_key(|p| back(p)).expect("programs were compiled").clone()
}

#[test]
fn region_programs_pass_and_every_loop_edge_needs_its_tail() {
    let p = region_program();
    let edges: Vec<usize> = loop_edges(&p).collect();
    assert!(edges.len() >= 2, "a region with the inner loop and the outer loop: {} loop edges", edges.len());
    let e = env(&p);
    ENV.set(Some(e));
    check(&p, &e).expect("the region's program passes");
    // The tail before each loop edge: retire (ld, add, st), the limit, the budget jump.
    for &back in &edges {
        let budget = back - 1;
        assert_eq!(code(p[budget]), 0x3d, "the budget check 4 before the loop edge at {back}");
        let m = |f: &dyn Fn(&mut Vec<u64>)| mutated(&p, f);
        expect(&m(&|q| q[budget] = insn(0x07, 0, 0, 0, 0)), Rule::Loop, "a loop edge without the budget check");
        expect(&m(&|q| q[back - 4] = with_imm(q[back - 4], 0)), Rule::Counter, "a loop edge retiring nothing");
        expect(&m(&|q| q[back - 2] = with_off(q[back - 2], off(q[back - 5]))), Rule::Loop, "the budget against another field");
    }
    // The block a program leaves from must be one of its blocks, set by the pattern.
    let leave = find(&p, |w| code(w) == 0xb4) + 1;
    assert!(code(p[leave]) == 0x63 && dst(p[leave]) == 6, "mov32 r0, tb; cur_tb = r0");
    let mut q = p.clone();
    q[leave - 1] = with_imm(q[leave - 1], 0x7fff_0000);
    expect(&q, Rule::HartAccess, "leaving from a block not in the program");
    let mut q = p.clone();
    q[leave - 1] = insn(0x07, 0, 0, 0, 1); // r0 += 1 instead of the move
    expect(&q, Rule::HartAccess, "cur_tb from a computed value");
    // The helper's third argument (the block's pc) must be a plain value.
    let call = find(&p, |w| code(w) == 0x85);
    let r3 = (0..call).rev().find(|&i| dst(p[i]) == 3 && code(p[i]) != 0).expect("r3 set before the call");
    let mut q = p.clone();
    q[r3] = insn(0xbf, 3, 6, 0, 0); // r3 = r6 (the hart pointer)
    if code(p[r3 + 1]) == 0 {
        q[r3 + 1] = insn(0xb7, 0, 0, 0, 0); // the LD_IMM64's second half: r0 = 0
    }
    expect(&q, Rule::Call, "a host pointer as the helper's pc");
}


/// The slow paths placed after the blocks: each is entered by its access's TLB-miss
/// jump and jumps back to right after the access. The checker follows each such jump
/// into the code at once; the jump back must land after the jump that entered, and code
/// entered any other way may not jump back at all.
#[test]
fn slow_paths_rejoin_only_after_the_jump_that_entered() {
    let p = checked_loop_program();
    let target = |i: usize, q: &[u64]| (i as i64 + 1 + i64::from(off(q[i]))) as usize;
    let ends: Vec<usize> = rejoins(&p).collect();
    assert!(!ends.is_empty(), "the loads and stores have out-of-line slow paths");
    for &end in &ends {
        // The slow path starts after the code before it ends (a `ja` or an `exit`).
        let start = (0..end).rev().find(|&i| matches!(code(p[i]), 0x05 | 0x95)).expect("code before") + 1;
        let miss = (0..start)
            .find(|&i| matches!(code(p[i]), 0x5d | 0x55 | 0x15 | 0x1d) && target(i, &p) == start)
            .expect("the TLB miss that enters the slow path");
        assert!(target(end, &p) > miss);
        let m = |f: &dyn Fn(&mut Vec<u64>)| mutated(&p, f);
        let back_to = |t: usize| with_off(p[end], (t as i64 - end as i64 - 1) as i16);
        expect(&m(&|q| q[end] = back_to(miss)), Rule::Loop, "back to the miss jump itself");
        expect(&m(&|q| q[end] = back_to(miss - 1)), Rule::Loop, "back to before the miss jump");
        expect(&m(&|q| q[miss] = insn(0x05, 0, 0, off(q[miss]), 0)), Rule::Loop, "entered by an unconditional jump");
        let r1 = start + find(&p[start..], |w| code(w) == 0xbf && dst(w) == 1);
        expect(&m(&|q| q[r1] = with_regs(q[r1], 1, 7)), Rule::Call, "helper on something else than the hart");
        let result = start + find(&p[start..], |w| code(w) == 0x55 && dst(w) == 0);
        expect(&m(&|q| q[result] = with_off(q[result], -2)), Rule::Loop, "a backward jump inside");
    }
}

/// Code entered by a jump and walked by the checker must not borrow the instructions
/// before it in the program: a counter store whose load and add sit just before the
/// jump's target, or a `cur_tb` store whose constant does, did not run on that path.
/// (A loop that stores 0 to the retired counter every turn would never end.)
#[test]
fn walked_code_cannot_borrow_the_instructions_before_it() {
    let real = checked_loop_program();
    let back = loop_edges(&real).next().expect("a loop edge");
    let (insns, limit) = (off(real[back - 5]), off(real[back - 2]));
    // A block and the `cur_tb` field from a region's program (which sets it).
    let region = region_program();
    let region_env = env(&region);
    let leave = find(&region, |w| code(w) == 0xb4) + 1;
    let (tb, cur_tb) = (region[leave - 1] >> 32, off(region[leave]));
    // 0: r6 = r1; 1: r3 = 0; 2: r0 = 0; 3: if r0 == 0 goto 14 (walked); 4-9: a bounded
    // loop tail back to 1; 10-11: exit; 12-13: the borrowed pattern (never run);
    // 14: the store; 15: back to 4 (after the jump at 3).
    let program = |borrowed: [u64; 2], store: u64| {
        vec![
            insn(0xbf, 6, 1, 0, 0),
            insn(0xb7, 3, 0, 0, 0),
            insn(0xb7, 0, 0, 0, 0),
            insn(0x15, 0, 0, 10, 0),
            insn(0x79, 4, 6, insns, 0),
            insn(0x07, 4, 0, 0, 1),
            insn(0x7b, 6, 4, insns, 0),
            insn(0x79, 5, 6, limit, 0),
            insn(0x3d, 4, 5, 1, 0),
            insn(0x05, 0, 0, -9, 0),
            insn(0xb7, 0, 0, 0, 0),
            insn(0x95, 0, 0, 0, 0),
            borrowed[0],
            borrowed[1],
            store,
            insn(0x05, 0, 0, -12, 0),
        ]
    };
    let counter = program([insn(0x79, 3, 6, insns, 0), insn(0x07, 3, 0, 0, 1)], insn(0x7b, 6, 3, insns, 0));
    expect(&counter, Rule::Counter, "a counter store after a load and add it did not run");
    let tb_store = program([insn(0xb7, 0, 0, 0, 0), insn(0xb4, 3, 0, 0, tb as i32)], insn(0x63, 6, 3, cur_tb, 0));
    match check(&tb_store, &region_env) {
        Err(e) => assert_eq!(e.rule, Rule::HartAccess, "refused at {}", e.at),
        Ok(()) => panic!("a cur_tb store after a move it did not run: accepted"),
    }
}

/// A TLB entry's host page never becomes a plain value: not returned, not moved into
/// 32 bits, not read in part, not through a base that leaves open which word of an
/// entry it reads; its tag word may be read whole or in part.
#[test]
fn host_pages_never_become_plain_values() {
    let p = checked_loop_program();
    // The load TLB's first entry, relative to the hart: where the real program's tag
    // load points with an index of 0.
    let tag = off(p[find(&p, |w| code(w) == 0x79 && src(w) == 3)]);
    let host = tag + 8;
    let env = CheckEnv::new(HELPER_IMM);
    let prog = |body: &[u64]| -> Result<(), Rule> {
        let mut q = vec![insn(0xbf, 6, 1, 0, 0)];
        q.extend_from_slice(body);
        q.push(insn(0x95, 0, 0, 0, 0));
        check(&q, &env).map_err(|e| e.rule)
    };
    // Controls: the tag word, whole and in part, is a plain value.
    assert_eq!(prog(&[insn(0x79, 0, 6, tag, 0)]), Ok(()), "tag word returned");
    assert_eq!(prog(&[insn(0x61, 0, 6, tag + 4, 0)]), Ok(()), "high half of the tag word returned");
    assert_eq!(prog(&[insn(0x79, 4, 6, host, 0), insn(0xb7, 0, 0, 0, 0)]), Ok(()), "host page loaded, not used");
    // The host word.
    assert_eq!(prog(&[insn(0x79, 0, 6, host, 0)]), Err(Rule::Pointer), "host page returned");
    assert_eq!(prog(&[insn(0x79, 4, 6, host, 0), insn(0xb7, 0, 0, 0, 0), insn(0xbc, 0, 4, 0, 0)]), Err(Rule::Pointer), "host page moved to 32 bits");
    assert_eq!(prog(&[insn(0x79, 4, 6, host, 0), insn(0x7b, 6, 4, 8, 0), insn(0xb7, 0, 0, 0, 0)]), Err(Rule::Pointer), "host page stored in x1");
    for (size, o) in [(0x61u8, 0i16), (0x61, 4), (0x69, 6), (0x71, 7), (0x79, 4)] {
        assert_eq!(prog(&[insn(size, 0, 6, host + o, 0)]), Err(Rule::HartAccess), "part of the host word: {size:#x} at +{o}");
    }
    // A base the hart plus an unknown amount below 8: either word.
    assert_eq!(
        prog(&[insn(0x79, 2, 6, 8, 0), insn(0x57, 2, 0, 0, 7), insn(0x0f, 2, 6, 0, 0), insn(0x71, 0, 2, tag + 1, 0)]),
        Err(Rule::HartAccess),
        "a byte of the tag or the host word"
    );
}
