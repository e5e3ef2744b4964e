//! The tier-2 program checker: an independent proof, before any JIT sees a program,
//! that it keeps the invariants tier 2's safety rests on.
//!
//! No verifier runs on tier 2's programs (the kernel's BPF verifier is for programs
//! from userspace; kemu.ko hands its programs straight to the JIT). ebpf.rs builds them
//! safe by construction; this file checks the result without trusting ebpf.rs: it
//! shares none of its code and derives the hart layout itself. A program is accepted
//! only if, on every path:
//!
//! - it uses only the instructions of our subset (64- and 32-bit ALU, `LDX`/`STX` of
//!   1-8 bytes, `LD_IMM64` of plain constants, conditional and unconditional jumps,
//!   `CALL` of the tier-2 helper, `EXIT`), registers r0-r9 only (no r10: programs have
//!   no stack), and reads no register before writing it (r1, the hart, excepted);
//! - every memory access is either hart-relative, at offsets inside the fields tier 2
//!   may read (writes: only the guest registers, `mstatus`, `pc`, the retired counter
//!   and `cur_tb`, the block a program leaves from), or a
//!   guest-RAM access through the page pattern: a TLB entry's host page address (loaded
//!   whole from the second word of an entry, at the hart plus a multiple of 16 inside
//!   the table) plus a value at most n < 4096, with an access of at most `4096 - n`
//!   bytes at it. Every entry's host page is a whole page of RAM (the hart's
//!   invariant, `TlbEntry`), so such an access is inside RAM;
//! - host pointers (the hart, host pages, micro-op addresses) never reach memory, the
//!   return value or arithmetic other than those patterns, nor become plain values:
//!   a read of part of a host page word is refused, and so is any read in the TLB from
//!   a base that does not fix which word of an entry it reads;
//! - every jump lands on an instruction boundary inside the program; jumps go forward
//!   except loop edges (any number: a region's program has one per backward block
//!   transition), each at the end of the bounded loop tail (retire at least one
//!   instruction, leave once the retired count reaches `chain_insn_limit`) that no
//!   other jump enters, and rejoins: out-of-line code (a memory access's slow path,
//!   placed after the blocks) entered by a conditional jump at `p` is checked right
//!   then along that jump (its entry a join point, like any jump target), up to its
//!   backward `ja`, which must land after `p`; the
//!   pass reaches that code with no state unless something else enters it, and then
//!   its backward `ja` is refused. So a run through it always moves on from `p`, and
//!   only loop edges make loops;
//! - the retired-instruction counter only grows (written only as load, add 1-511,
//!   store), so the loop above ends;
//! - division and remainder divide by a register tested nonzero on that path;
//! - the helper is called with r1 = the hart, r2 = a micro-op of one of the program's
//!   blocks and r3 a plain value (the block's pc, which becomes guest-visible);
//! - the last instruction does not fall off the end, and `EXIT` returns a plain value.
//!
//! The analysis is a forward pass over the instructions with one abstract value per
//! register; states meet at jump targets (a few pending at a time: programs branch
//! locally, but a region's jumps to later blocks stay pending longer), and the loop
//! edges are iterated to a fixed point (the states at their targets only get coarser).

use core::mem::{offset_of, size_of};

use super::csr::Csrs;
use super::decode::Uop;
use super::hart::{Hart, Stats, TlbEntry, JC_SIZE, TLB_SIZE};
use super::tier2::{call_imm, helpers, HELPERS};

/// Why a program was refused, with the index of the offending instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// Instruction index.
    pub at: u32,
    /// The rule it broke.
    pub rule: Rule,
}

impl Refusal {
    /// A nonzero number for the refusal (rule in bits 32-39, index below).
    pub fn code(self) -> u64 {
        u64::from(self.rule as u8) << 32 | u64::from(self.at)
    }

    /// The refusal `code` was made from (`None` for 0 or anything else).
    pub fn from_code(code: u64) -> Option<Refusal> {
        let rule = RULES.iter().copied().find(|&r| u64::from(r as u8) == code >> 32)?;
        Some(Refusal { at: code as u32, rule })
    }
}

const RULES: [Rule; 13] = [
    Rule::Size,
    Rule::Opcode,
    Rule::Register,
    Rule::Uninit,
    Rule::HartAccess,
    Rule::RamAccess,
    Rule::JumpTarget,
    Rule::Loop,
    Rule::Division,
    Rule::Call,
    Rule::Flow,
    Rule::Pointer,
    Rule::Counter,
];

/// The rules of the checker (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Rule {
    /// Empty, or longer than the checker handles.
    Size = 1,
    /// An instruction outside the subset (class, mode, op, pseudo source, JMP32...).
    Opcode,
    /// A register other than r0-r9, or r10.
    Register,
    /// A register read before it was written, or a pointer used where a plain value
    /// must be.
    Uninit,
    /// A hart access outside the readable/writable fields.
    HartAccess,
    /// A guest-RAM access not behind the bounds pattern.
    RamAccess,
    /// A jump out of the program or into the middle of `LD_IMM64`.
    JumpTarget,
    /// A backward jump that is not the one bounded loop edge.
    Loop,
    /// Division or remainder by a register not tested nonzero (or by 0, or signed).
    Division,
    /// A helper call to anything but the tier-2 helper, or with wrong arguments.
    Call,
    /// Falls off the end, or too many jumps pending at once.
    Flow,
    /// Pointer arithmetic outside the allowed patterns.
    Pointer,
    /// A write of the retired-instruction counter that is not `load; add 1..511; store`.
    Counter,
}

/// Most blocks one program may hold: a region's most (ebpf.rs). The two were once
/// apart (16 here, a region raised to 24 or 32 blocks): the blocks past the 16th had no
/// place here, so the checker refused every program of a region that large (its
/// helper calls for those blocks), which left the head on tier 1 for good.
pub const MAX_BLOCKS: usize = super::ebpf::MAX_REGION;

/// What the checker needs to know about the program's blocks and host.
#[derive(Clone, Copy, Debug)]
pub struct CheckEnv {
    /// The `BPF_CALL` immediate of the generic tier-2 helper.
    pub helper_imm: i32,
    /// Every `BPF_CALL` immediate allowed: the tier-2 helpers' (`tier2::helpers`), as
    /// this host's JIT resolves them (`tier2::call_imm`), 0 for those out of range.
    calls: [i32; HELPERS],
    /// The program's blocks: translation-cache index, host address of the first
    /// micro-op and their number; `nblocks` of them.
    blocks: [(u32, u64, usize); MAX_BLOCKS],
    nblocks: usize,
}

impl CheckEnv {
    /// No blocks yet, helper `helper_imm`.
    pub fn new(helper_imm: i32) -> CheckEnv {
        let mut calls = [0; HELPERS];
        for (c, f) in calls.iter_mut().zip(helpers()) {
            *c = call_imm(helper_imm, f).unwrap_or(0);
        }
        CheckEnv { helper_imm, calls, blocks: [(0, 0, 0); MAX_BLOCKS], nblocks: 0 }
    }

    /// Forgets the blocks added so far (the helpers stay).
    pub fn clear_blocks(&mut self) {
        self.nblocks = 0;
    }

    /// Adds a block of the program: translation-cache index `tb`, `nuops` micro-ops
    /// from host address `uops`. False if there is no room ([`MAX_BLOCKS`]): the helper
    /// may not be called on it, nor the program leave from it.
    pub fn add_block(&mut self, tb: u32, uops: u64, nuops: usize) -> bool {
        match self.blocks.get_mut(self.nblocks) {
            Some(b) => {
                *b = (tb, uops, nuops);
                self.nblocks += 1;
                true
            }
            None => false,
        }
    }

    /// The translation-cache indices of the blocks added.
    pub fn block_tbs(&self) -> impl Iterator<Item = u32> + '_ {
        self.blocks[..self.nblocks].iter().map(|b| b.0)
    }

    /// Whether `v` is the address of one of the blocks' micro-ops.
    fn is_uop(&self, v: u64) -> bool {
        const _: () = assert!(size_of::<Uop>().is_power_of_two());
        let size = size_of::<Uop>() as u64;
        self.blocks[..self.nblocks].iter().any(|&(_, lo, n)| {
            let end = (n as u64).saturating_mul(size).saturating_add(lo);
            v >= lo && v < end && (v - lo) & (size - 1) == 0
        })
    }
}

/// Abstract value of a register. (`repr(u8)`: the tag comes first and `Uninit` is 0,
/// so the all-zero [`CheckScratch`] of a zeroed hart is valid.)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum Val {
    /// Not written yet (or clobbered by a call): must not be read.
    Uninit,
    /// A plain value.
    Scalar,
    /// A plain value at most this (unsigned).
    Bounded(u32),
    /// A plain value at most this and a multiple of 16 (a TLB entry's place in its
    /// table).
    Aligned16(u32),
    /// A plain value that is not zero.
    NonZero,
    /// A TLB entry's host page address: the 4096 bytes at it are guest RAM (the hart's
    /// invariant, `TlbEntry`).
    RamPage,
    /// The hart pointer plus 0..=n (n = 0: the hart itself).
    Ctx(u32),
    /// The hart pointer plus a multiple of 16 at most n: a TLB entry's address, relative
    /// to the table.
    CtxEntry(u32),
    /// The hart pointer plus exactly n (a constant added to the hart itself): a field
    /// beyond the reach of a 16-bit offset, such as the jump cache.
    CtxAt(u32),
    /// `RamPage` plus a plain value at most n (n < 4096): `4096 - n` bytes at it are
    /// guest RAM.
    RamPtr(u32),
    /// The address of one of the block's micro-ops.
    UopPtr,
}

impl Val {
    fn plain(self) -> bool {
        matches!(self, Val::Scalar | Val::Bounded(_) | Val::Aligned16(_) | Val::NonZero)
    }

    /// The bound of a bounded plain value.
    fn bound(self) -> Option<u32> {
        match self {
            Val::Bounded(m) | Val::Aligned16(m) => Some(m),
            _ => None,
        }
    }

    fn join(self, o: Val) -> Val {
        use Val::*;
        match (self, o) {
            _ if self == o => self,
            (Aligned16(a), Aligned16(b)) => Aligned16(a.max(b)),
            (Bounded(a) | Aligned16(a), Bounded(b) | Aligned16(b)) => Bounded(a.max(b)),
            (CtxEntry(a), CtxEntry(b)) => CtxEntry(a.max(b)),
            (Ctx(a) | CtxEntry(a), Ctx(b) | CtxEntry(b)) => Ctx(a.max(b)),
            (RamPtr(a), RamPtr(b)) => RamPtr(a.max(b)),
            _ if self.plain() && o.plain() => Scalar,
            _ => Uninit,
        }
    }
}

type Regs = [Val; 10];

fn join_regs(a: &Regs, b: &Regs) -> Regs {
    let mut r = *a;
    for (x, y) in r.iter_mut().zip(b.iter()) {
        *x = x.join(*y);
    }
    r
}

/// Most forward jumps pending (not yet reached) at once: every exit and memory slow
/// path placed after the blocks stays pending to the end (as many as ebpf.rs may place
/// there), plus jumps to later blocks and local branches. (256, less than the stubs of
/// a 32-block region, made the checker refuse regions the lowering may build.)
const PENDING: usize = super::ebpf::MAX_STUBS + super::ebpf::MAX_COLD + 2 * MAX_BLOCKS + 64;
/// Most distinct targets of loop edges.
const LOOP_TARGETS: usize = 2 * MAX_BLOCKS;
/// The loop tail's length before its backward jump (ebpf.rs `transition`).
const TAIL: usize = 5;
/// The loop tail's last instruction: `jge retired, limit` (to the exit).
const BUDGET_JUMP: u8 = CLASS_JMP | SRC_X | 0x30;
/// Longest out-of-line code a rejoin ends (ebpf.rs `finish`: about 12 instructions).
const SNIPPET: usize = 32;

/// States at loop targets: (target, state), `n` of them.
#[derive(Clone, Copy)]
struct LoopStates {
    /// (target, state; `None`: none assumed yet).
    at: [(u32, Option<Regs>); LOOP_TARGETS],
    n: usize,
}

impl LoopStates {
    const EMPTY: LoopStates = LoopStates { at: [(0, None); LOOP_TARGETS], n: 0 };

    /// Sorts the entries by target (insertion sort: a few dozen at most; and core's
    /// sort, whose small-sort path objtool flags in a kernel module, stays out).
    fn sort(&mut self) {
        for i in 1..self.n {
            let mut j = i;
            while j > 0 && self.at[j - 1].0 > self.at[j].0 {
                self.at.swap(j - 1, j);
                j -= 1;
            }
        }
    }

    /// Adds target `t` with no state yet; false if there is no room.
    fn add(&mut self, t: usize) -> bool {
        if self.at[..self.n].iter().any(|e| e.0 as usize == t) {
            return true;
        }
        let Some(e) = self.at.get_mut(self.n) else { return false };
        *e = (t as u32, None);
        self.n += 1;
        true
    }

    /// Joins `r` into the state at `t`; whether that changed it, or `None` if there is
    /// no room for another target.
    fn join(&mut self, t: usize, r: &Regs) -> Option<bool> {
        if let Some(e) = self.at[..self.n].iter_mut().find(|e| e.0 as usize == t) {
            let j = e.1.map_or(*r, |s| join_regs(&s, r));
            let changed = e.1 != Some(j);
            e.1 = Some(j);
            return Some(changed);
        }
        let e = self.at.get_mut(self.n)?;
        *e = (t as u32, Some(*r));
        self.n += 1;
        Some(true)
    }
}
/// Longest program checked (the lowering buffer, tier2.rs, is shorter).
pub const MAX_INSNS: usize = 1 << 15;

// Hart fields, derived here independently of ebpf.rs: (offset, length, writable).
const OFF_X: usize = offset_of!(Hart, x);
const OFF_F: usize = offset_of!(Hart, f);
const OFF_INSNS: usize = offset_of!(Hart, stats) + offset_of!(Stats, insns);
const OFF_TLB: usize = offset_of!(Hart, tlb);
const OFF_CUR_TB: usize = offset_of!(Hart, cur_tb);
/// The load and store TLBs (interleaved; the fetch TLB is not for programs).
const TLB_BYTES: usize = 2 * TLB_SIZE * size_of::<TlbEntry>();
const OFF_JC: usize = offset_of!(Hart, jc);
const FIELDS: [(usize, usize, bool); 13] = [
    // x1..x31 and the x0 sink (x0 itself reads as 0 and is never written).
    (OFF_X + 8, 8 * 32, true),
    (OFF_X, 8, false),
    (OFF_F, 8 * 32, true),
    (offset_of!(Hart, csr) + offset_of!(Csrs, mstatus), 8, true),
    (offset_of!(Hart, csr) + offset_of!(Csrs, fflags), 8, true),
    (offset_of!(Hart, pc), 8, true),
    (OFF_INSNS, 8, true),
    (OFF_CUR_TB, 4, true),
    (offset_of!(Hart, tlb), TLB_BYTES, false),
    (offset_of!(Hart, tlb_key), 24, false),
    (offset_of!(Hart, chain_insn_limit), 8, false),
    // The jump cache and its epoch (checks of a jump into another page of the region).
    (OFF_JC, 8 * JC_SIZE, false),
    (offset_of!(Hart, jc_epoch), 4, false),
];

/// Whether bytes `[lo, hi)` of the hart lie inside one field tier 2 may read (or, with
/// `write`, write).
fn hart_ok(lo: usize, hi: usize, write: bool) -> bool {
    FIELDS.iter().any(|&(o, n, w)| (w || !write) && lo >= o && hi <= o + n)
}

// eBPF encoding (include/uapi/linux/bpf.h), spelled out again on purpose.
const CLASS_LD: u8 = 0x00;
const CLASS_LDX: u8 = 0x01;
const CLASS_STX: u8 = 0x03;
const CLASS_ALU: u8 = 0x04;
const CLASS_JMP: u8 = 0x05;
const CLASS_ALU64: u8 = 0x07;
const MODE_IMM: u8 = 0x00;
const MODE_MEM: u8 = 0x60;
const MODE_MEMSX: u8 = 0x80;
const SRC_X: u8 = 0x08;

struct Insn {
    code: u8,
    dst: u8,
    src: u8,
    off: i16,
    imm: i32,
}

fn decode(w: u64) -> Insn {
    Insn {
        code: w as u8,
        dst: (w >> 8) as u8 & 15,
        src: (w >> 12) as u8 & 15,
        off: (w >> 16) as u16 as i16,
        imm: (w >> 32) as u32 as i32,
    }
}

fn size_bytes(code: u8) -> usize {
    match code & 0x18 {
        0x00 => 4,
        0x08 => 2,
        0x10 => 1,
        _ => 8,
    }
}

/// The pass over a program.
struct Checker<'a> {
    prog: &'a [u64],
    env: &'a CheckEnv,
    /// Forward jumps not reached yet: (target, state on that edge).
    pending: &'a mut [(u32, Regs); PENDING],
    npending: usize,
    /// The lowest target in `pending` (`usize::MAX`: none).
    pending_min: usize,
    /// States assumed to arrive at loop targets over loop edges.
    loop_in: &'a mut LoopStates,
    /// The states this pass found on loop edges.
    loop_out: &'a mut LoopStates,
    /// Last instruction reached by a jump (a join point).
    last_join: usize,
    /// Inside `rejoin`'s walk (which does not nest).
    walking: bool,
}

fn refuse<T>(at: usize, rule: Rule) -> Result<T, Refusal> {
    Err(Refusal { at: at as u32, rule })
}

/// The checker's working state (about 16 KiB: more than a kernel stack should hold, so
/// the hart keeps one, `Hart::t2_check`).
pub struct CheckScratch {
    pending: [(u32, Regs); PENDING],
    loop_in: LoopStates,
    loop_out: LoopStates,
}

impl CheckScratch {
    /// Empty. (All zero bytes are a valid `CheckScratch` too: `check_with` sets up
    /// what it reads.)
    pub const NEW: CheckScratch =
        CheckScratch { pending: [(0, [Val::Uninit; 10]); PENDING], loop_in: LoopStates::EMPTY, loop_out: LoopStates::EMPTY };
}

/// Checks `prog` (eBPF instructions as ebpf.rs encodes them) against the rules in the
/// module docs, with its working state on the stack (for tests and userspace; the hart
/// uses [`check_with`]; kemu.ko, whose stacks are small, leaves it out).
#[cfg(not(feature = "bpf-prog-run"))]
pub fn check(prog: &[u64], env: &CheckEnv) -> Result<(), Refusal> {
    let mut scratch = CheckScratch::NEW;
    check_with(prog, env, &mut scratch)
}

/// [`check`] with the working state in `scratch`.
pub fn check_with(prog: &[u64], env: &CheckEnv, scratch: &mut CheckScratch) -> Result<(), Refusal> {
    if prog.is_empty() || prog.len() > MAX_INSNS {
        return refuse(0, Rule::Size);
    }
    let CheckScratch { pending, loop_in, loop_out } = scratch;
    loop_in.n = 0;
    // The loop targets, found first: the pass assumes at each the state arriving there
    // from before with only r6-r9 kept (the hart and the register cache
    // that every jump into a block fills: all the lowering relies on where a block
    // starts). If no loop edge brings less, the first pass already is the fixed point
    // (else the states get joined and it goes again).
    // (Only edges behind a budget jump can be loop edges, `loop_edge`; other backward
    // jumps are rejoins, `rejoin`, or refused.)
    for (i, &w) in prog.iter().enumerate() {
        let ins = decode(w);
        let t = i as i64 + 1 + i64::from(ins.off);
        let tail = i > 0 && decode(prog[i - 1]).code == BUDGET_JUMP;
        if ins.code == CLASS_JMP && tail && t >= 0 && (t as usize) < i && !loop_in.add(t as usize) {
            return refuse(i, Rule::Loop);
        }
    }
    loop_in.sort();
    // Each round can only lower the states assumed at loop targets (joins over a
    // lattice of small height), so a few rounds reach the fixed point.
    for _ in 0..16 {
        loop_out.n = 0;
        let mut c = Checker {
            prog,
            env,
            pending: &mut *pending,
            npending: 0,
            pending_min: usize::MAX,
            loop_in: &mut *loop_in,
            loop_out: &mut *loop_out,
            last_join: 0,
            walking: false,
        };
        c.pass()?;
        let mut changed = false;
        for &(t, r) in &loop_out.at[..loop_out.n] {
            let Some(r) = r else { continue };
            match loop_in.join(t as usize, &r) {
                Some(c) => changed |= c,
                None => return refuse(t as usize, Rule::Loop),
            }
        }
        if !changed {
            return Ok(());
        }
        // `pass` walks the targets in order.
        loop_in.sort();
    }
    refuse(0, Rule::Loop)
}

impl Checker<'_> {
    fn pass(&mut self) -> Result<(), Refusal> {
        let n = self.prog.len();
        // At entry only r1 (the hart) is defined; r2 is the kernel's instruction
        // pointer and r6-r9 are the caller's: none of them may be read.
        // The state before instruction `i`, if `live` (else `i` is not reached yet):
        // updated in place (a copy of it per instruction, after the field-wise writes
        // of the last, cost a store-forwarding stall each and made up most of the
        // checker's time).
        let mut cur = [Val::Uninit; 10];
        cur[1] = Val::Ctx(0);
        let mut live = true;
        // The next loop target (`loop_in` is sorted by target).
        let mut next_loop = 0;
        let mut i = 0;
        while i < n {
            let mut joined = false;
            if i == self.pending_min {
                let mut k = 0;
                let mut min = usize::MAX;
                while k < self.npending {
                    let t = self.pending[k].0 as usize;
                    if t == i {
                        let s = &self.pending[k].1;
                        cur = if live { join_regs(&cur, s) } else { *s };
                        live = true;
                        self.npending -= 1;
                        self.pending[k] = self.pending[self.npending];
                        joined = true;
                    } else {
                        min = min.min(t);
                        k += 1;
                    }
                }
                self.pending_min = min;
            }
            while next_loop < self.loop_in.n && (self.loop_in.at[next_loop].0 as usize) < i {
                next_loop += 1;
            }
            if next_loop < self.loop_in.n && self.loop_in.at[next_loop].0 as usize == i {
                let assumed = &mut self.loop_in.at[next_loop].1;
                if assumed.is_none() && live {
                    let mut s = [Val::Uninit; 10];
                    s[6..].copy_from_slice(&cur[6..]);
                    *assumed = Some(s);
                }
                if let Some(s) = assumed {
                    cur = if live { join_regs(&cur, s) } else { *s };
                    live = true;
                    joined = true;
                }
            }
            if joined {
                self.last_join = i;
            }
            let ins = decode(self.prog[i]);
            let wide = self.wide(i, &ins)?;
            if live {
                live = self.step(i, &ins, &mut cur)?;
            } else {
                // Unreachable code: only its encoding is checked.
                self.structural(i, &ins)?;
            }
            i += if wide { 2 } else { 1 };
        }
        if live {
            return refuse(n - 1, Rule::Flow);
        }
        if self.npending != 0 {
            return refuse(n - 1, Rule::JumpTarget);
        }
        Ok(())
    }

    /// Whether `ins` at `i` is an LD_IMM64, which spans two slots (the second must be
    /// all zero but the imm).
    fn wide(&self, i: usize, ins: &Insn) -> Result<bool, Refusal> {
        if ins.code != (CLASS_LD | MODE_IMM | 0x18) {
            return Ok(false);
        }
        let Some(&next) = self.prog.get(i + 1) else { return refuse(i, Rule::Opcode) };
        if next & 0xffff_ffff != 0 || ins.src != 0 {
            return refuse(i, Rule::Opcode);
        }
        Ok(true)
    }

    /// Whether the code at `s` is out-of-line code that rejoins: straight-line code (of
    /// at most [`SNIPPET`] slots; conditional jumps allowed) whose first unconditional
    /// jump or exit is a backward `ja` that is not a loop edge (behind the budget
    /// jump). A guess only: [`Checker::walk`] checks it.
    fn rejoins(&self, s: usize) -> bool {
        let mut k = s;
        let mut prev = 0;
        while k < s + SNIPPET {
            let Some(&w) = self.prog.get(k) else { return false };
            let ins = decode(w);
            match ins.code {
                0x05 => return ins.off < 0 && prev != BUDGET_JUMP,
                0x95 => return false,
                c if c == (CLASS_LD | MODE_IMM | 0x18) => k += 2,
                _ => k += 1,
            }
            prev = ins.code;
        }
        false
    }

    /// The taken edge of a conditional jump at `p` to `s` with state `r`: out-of-line
    /// code that rejoins ([`Checker::rejoins`]) is checked right away, along this edge
    /// ([`Checker::walk`]); any other target gets the state when the pass reaches it.
    fn branch_to(&mut self, p: usize, s: usize, r: Regs) -> Result<(), Refusal> {
        if self.walking || s <= p || !self.rejoins(s) {
            return self.push(p, s, r);
        }
        // The walk reaches `s` by a jump: a join point for the patterns that must not
        // be jumped into (`counter_update`, `cur_tb_update`), whose earlier
        // instructions did not run on this path.
        let join = core::mem::replace(&mut self.last_join, s);
        self.walking = true;
        let res = self.walk(p, s, r);
        self.walking = false;
        self.last_join = join;
        res
    }

    /// Checks the out-of-line code at `s`, entered by the jump at `p` with state `r`,
    /// up to its backward `ja`, which must go to a `t` after `p`: the state there joins
    /// those the pass meets at `t`. Why that cannot loop: this code comes after `p` and
    /// `t`, and the pass itself reaches it with no state unless something else jumps
    /// or falls into it, and then the backward `ja` is refused (it is no loop edge); so
    /// every run through it goes from `p` forward to `t`. Its conditional jumps must go
    /// forward (pending, as anywhere).
    fn walk(&mut self, p: usize, s: usize, mut r: Regs) -> Result<(), Refusal> {
        let mut i = s;
        loop {
            let Some(&w) = self.prog.get(i) else { return refuse(i - 1, Rule::Flow) };
            let ins = decode(w);
            if ins.code == CLASS_JMP && ins.off < 0 {
                // JA backward: the rejoin.
                if ins.src != 0 || ins.dst != 0 || ins.imm != 0 {
                    return refuse(i, Rule::Opcode);
                }
                let t = self.target(i, ins.off)?;
                if t <= p {
                    return refuse(i, Rule::Loop);
                }
                return self.push(p, t, r);
            }
            let wide = self.wide(i, &ins)?;
            if !self.step(i, &ins, &mut r)? {
                return Ok(());
            }
            i += if wide { 2 } else { 1 };
        }
    }

    /// Checks the encoding of an unreachable instruction (registers, jump targets).
    fn structural(&mut self, i: usize, ins: &Insn) -> Result<(), Refusal> {
        if ins.dst > 9 || ins.src > 9 {
            return refuse(i, Rule::Register);
        }
        if ins.code & 7 == CLASS_JMP && !matches!(ins.code, 0x85 | 0x95) {
            self.target(i, ins.off)?;
        }
        Ok(())
    }

    /// The index a jump at `i` with offset `off` goes to, if it is a valid target.
    fn target(&self, i: usize, off: i16) -> Result<usize, Refusal> {
        let t = i as i64 + 1 + i64::from(off);
        if t < 0 || t >= self.prog.len() as i64 {
            return refuse(i, Rule::JumpTarget);
        }
        let t = t as usize;
        // Not the second half of an LD_IMM64 (`pass` checks every second half has
        // code 0, so a slot with LD_IMM64's code is always a first half).
        if t > 0 && decode(self.prog[t - 1]).code == (CLASS_LD | MODE_IMM | 0x18) {
            return refuse(i, Rule::JumpTarget);
        }
        Ok(t)
    }

    /// Records a forward jump from `i` to `t` with state `r`.
    fn push(&mut self, i: usize, t: usize, r: Regs) -> Result<(), Refusal> {
        if t <= i {
            return refuse(i, Rule::Loop);
        }
        // (One entry a target: many jumps go to one place, e.g. the shared exit.)
        if let Some(e) = self.pending[..self.npending].iter_mut().find(|e| e.0 as usize == t) {
            e.1 = join_regs(&e.1, &r);
            return Ok(());
        }
        if self.npending == PENDING {
            return refuse(i, Rule::Flow);
        }
        self.pending[self.npending] = (t as u32, r);
        self.npending += 1;
        self.pending_min = self.pending_min.min(t);
        Ok(())
    }

    /// Reads register `x` as a plain value.
    fn plain(i: usize, r: &Regs, x: u8) -> Result<Val, Refusal> {
        let v = r[usize::from(x)];
        if v.plain() {
            Ok(v)
        } else {
            refuse(i, Rule::Uninit)
        }
    }

    /// One reachable instruction: checks it against state `r`, which becomes the state
    /// after it; returns whether it falls through.
    fn step(&mut self, i: usize, ins: &Insn, r: &mut Regs) -> Result<bool, Refusal> {
        if ins.dst > 9 || ins.src > 9 {
            return refuse(i, Rule::Register);
        }
        let (d, s) = (usize::from(ins.dst), usize::from(ins.src));
        let class = ins.code & 7;
        match class {
            CLASS_ALU | CLASS_ALU64 => self.alu(i, ins, r)?,
            CLASS_LD => {
                // LD_IMM64 of a constant (checked in `pass`); a micro-op address of
                // this block becomes `UopPtr`, for the helper's second argument.
                let lo = u64::from(ins.imm as u32);
                let hi = (self.prog[i + 1] >> 32) & 0xffff_ffff;
                let v = lo | hi << 32;
                r[d] = if self.env.is_uop(v) { Val::UopPtr } else { Val::Scalar };
            }
            CLASS_LDX => {
                let size = size_bytes(ins.code);
                match ins.code & 0xe0 {
                    MODE_MEM => r[d] = self.load(i, r[s], ins.off, size)?,
                    // Sign-extending loads of 1-4 bytes, from guest RAM only.
                    MODE_MEMSX if size < 8 => {
                        if !matches!(r[s], Val::RamPtr(_)) {
                            return refuse(i, Rule::RamAccess);
                        }
                        self.load(i, r[s], ins.off, size)?;
                        r[d] = Val::Scalar;
                    }
                    _ => return refuse(i, Rule::Opcode),
                }
            }
            CLASS_STX => {
                if ins.code & 0xe0 != MODE_MEM {
                    return refuse(i, Rule::Opcode);
                }
                let size = size_bytes(ins.code);
                Self::plain(i, r, ins.src).map_err(|e| self.pointer_or(e, r[s]))?;
                self.store(i, r[d], ins.off, size)?;
            }
            CLASS_JMP => {
                return Ok(match self.jump(i, ins, r)? {
                    Some(fall) => {
                        *r = fall;
                        true
                    }
                    None => false,
                })
            }
            _ => return refuse(i, Rule::Opcode),
        }
        Ok(true)
    }

    fn load(&self, i: usize, base: Val, off: i16, size: usize) -> Result<Val, Refusal> {
        // What a load of a plain value of `size` bytes gives (zero-extended).
        let plain = match size {
            1 => Val::Bounded(0xff),
            2 => Val::Bounded(0xffff),
            _ => Val::Scalar,
        };
        match base {
            Val::Ctx(extra) | Val::CtxEntry(extra) => {
                let Ok(lo) = usize::try_from(off) else { return refuse(i, Rule::HartAccess) };
                if !hart_ok(lo, lo + extra as usize + size, false) {
                    return refuse(i, Rule::HartAccess);
                }
                if lo + extra as usize + size <= OFF_TLB || lo >= OFF_TLB + TLB_BYTES {
                    return Ok(plain);
                }
                // In the TLB table (`hart_ok`: wholly; fields do not overlap). An entry
                // is a tag (plain) and a host page address, which must never become a
                // plain value: which word is read must be certain, so the base is the
                // hart itself or the hart plus a multiple of 16 (CtxEntry).
                if matches!(base, Val::Ctx(e) if e != 0) {
                    return refuse(i, Rule::HartAccess);
                }
                // (`hart_ok` puts `lo` inside the table; checked anyway: no panic here.)
                let Some(rel) = lo.checked_sub(OFF_TLB) else { return refuse(i, Rule::HartAccess) };
                let at = rel % size_of::<TlbEntry>();
                if at == offset_of!(TlbEntry, host) && size == 8 {
                    Ok(Val::RamPage)
                } else if at + size <= offset_of!(TlbEntry, host) {
                    Ok(plain)
                } else {
                    refuse(i, Rule::HartAccess)
                }
            }
            // A field at a constant offset, read whole-or-part as a plain value; the
            // TLB only through the patterns above (its host words are pointers).
            Val::CtxAt(at) => {
                let lo = i64::from(at) + i64::from(off);
                let Ok(lo) = usize::try_from(lo) else { return refuse(i, Rule::HartAccess) };
                let in_tlb = lo < OFF_TLB + TLB_BYTES && lo + size > OFF_TLB;
                if in_tlb || !hart_ok(lo, lo + size, false) {
                    return refuse(i, Rule::HartAccess);
                }
                Ok(plain)
            }
            Val::RamPtr(n) if off == 0 && n as usize + size <= 4096 => Ok(plain),
            // A plain value used as an address: a RAM access without the pattern.
            v if matches!(v, Val::RamPtr(_) | Val::RamPage) || v.plain() => refuse(i, Rule::RamAccess),
            Val::Uninit => refuse(i, Rule::Uninit),
            _ => refuse(i, Rule::Pointer),
        }
    }

    fn store(&self, i: usize, base: Val, off: i16, size: usize) -> Result<(), Refusal> {
        match base {
            Val::Ctx(0) => {
                let Ok(lo) = usize::try_from(off) else { return refuse(i, Rule::HartAccess) };
                if !hart_ok(lo, lo + size, true) {
                    return refuse(i, Rule::HartAccess);
                }
                if lo < OFF_INSNS + 8 && lo + size > OFF_INSNS && !self.counter_update(i) {
                    return refuse(i, Rule::Counter);
                }
                if lo < OFF_CUR_TB + 4 && lo + size > OFF_CUR_TB && !self.cur_tb_update(i) {
                    return refuse(i, Rule::HartAccess);
                }
                Ok(())
            }
            Val::RamPtr(n) if off == 0 && n as usize + size <= 4096 => Ok(()),
            // A plain value used as an address: a RAM access without the pattern.
            v if matches!(v, Val::RamPtr(_) | Val::RamPage) || v.plain() => refuse(i, Rule::RamAccess),
            Val::Ctx(_) | Val::CtxEntry(_) | Val::CtxAt(_) => refuse(i, Rule::HartAccess),
            Val::Uninit => refuse(i, Rule::Uninit),
            _ => refuse(i, Rule::Pointer),
        }
    }

    /// Whether the store at `i` is `rX = tb (32-bit move); cur_tb = rX` (4 bytes) with no
    /// jump to the store and `tb` one of the program's blocks: the run loop follows the
    /// chains of the block a program names there, so it must be a real block.
    fn cur_tb_update(&self, i: usize) -> bool {
        if i < 1 || self.last_join > i - 1 {
            return false;
        }
        let (mov, st) = (decode(self.prog[i - 1]), decode(self.prog[i]));
        mov.code == (CLASS_ALU | 0xb0)
            && mov.dst == st.src
            // (STX of 4 bytes: the size bits are 0.)
            && st.code == (CLASS_STX | MODE_MEM)
            && st.off as usize == OFF_CUR_TB
            && self.env.blocks[..self.env.nblocks].iter().any(|b| b.0 == mov.imm as u32)
    }

    /// Whether the store at `i` is the end of `rX = insns; rX += 1..511; insns = rX`
    /// with no jump into the middle.
    fn counter_update(&self, i: usize) -> bool {
        if i < 2 || self.last_join > i - 2 {
            return false;
        }
        let (ld, add, st) = (decode(self.prog[i - 2]), decode(self.prog[i - 1]), decode(self.prog[i]));
        let reg = st.src;
        ld.code == (CLASS_LDX | MODE_MEM | 0x18)
            && ld.src == 6
            && ld.off as usize == OFF_INSNS
            && ld.dst == reg
            && add.code == CLASS_ALU64 /* ADD, immediate */
            && add.dst == reg
            && (1..=511).contains(&add.imm)
            && st.code == (CLASS_STX | MODE_MEM | 0x18)
            && st.dst == 6
            && st.off as usize == OFF_INSNS
            && reg != 6
    }

    fn alu(&mut self, i: usize, ins: &Insn, r: &mut Regs) -> Result<(), Refusal> {
        let wide = ins.code & 7 == CLASS_ALU64;
        let x = ins.code & SRC_X != 0;
        let op = ins.code & 0xf0;
        let (d, s) = (usize::from(ins.dst), usize::from(ins.src));
        // The 64-bit sign-extending move of a register's low 32 bits (BPF_MOVSX): a
        // plain value from a plain value.
        if wide && x && op == 0xb0 && ins.off == 32 && ins.imm == 0 {
            Self::plain(i, r, ins.src).map_err(|e| self.pointer_or(e, r[s]))?;
            r[d] = Val::Scalar;
            return Ok(());
        }
        // No other sign-extending moves, signed division or byte swaps: off is 0, and
        // the unused source register field of immediate forms too.
        if ins.off != 0 {
            return refuse(i, if matches!(op, 0x30 | 0x90) { Rule::Division } else { Rule::Opcode });
        }
        if !x && ins.src != 0 || x && ins.imm != 0 {
            return refuse(i, Rule::Opcode);
        }
        let width: i32 = if wide { 64 } else { 32 };
        let src = if x { r[s] } else { Val::Scalar };
        let dst = r[d];
        let out = match op {
            // MOV
            0xb0 => {
                if !x {
                    if ins.imm >= 0 || !wide {
                        Val::Bounded(ins.imm as u32)
                    } else {
                        Val::Scalar
                    }
                } else if wide {
                    src
                } else {
                    Self::plain(i, r, ins.src).map_err(|e| self.pointer_or(e, src))?;
                    Val::Scalar
                }
            }
            // NEG
            0x80 => {
                if x {
                    return refuse(i, Rule::Opcode);
                }
                Self::plain(i, r, ins.dst)?;
                Val::Scalar
            }
            // ADD: the two pointer patterns, else plain values.
            // A host page address plus a bounded in-page offset.
            0x00 if x && wide && matches!((dst, src), (Val::RamPage, _) | (_, Val::RamPage)) => {
                let other = if dst == Val::RamPage { src } else { dst };
                match other.bound() {
                    Some(n) if n < 4096 => Val::RamPtr(n),
                    _ => return refuse(i, Rule::RamAccess),
                }
            }
            // The hart itself plus a constant inside it.
            0x00 if !x && wide && dst == Val::Ctx(0) => match u32::try_from(ins.imm) {
                Ok(k) if (k as usize) < size_of::<Hart>() => Val::CtxAt(k),
                _ => return refuse(i, Rule::Pointer),
            },
            0x00 if x && wide && !(dst.plain() && src.plain()) => match (dst, src) {
                (Val::Ctx(a) | Val::CtxEntry(a), v) | (v, Val::Ctx(a) | Val::CtxEntry(a)) if v.bound().is_some() => {
                    let b = v.bound().unwrap_or(u32::MAX);
                    let sum = a.saturating_add(b);
                    // The hart plus a multiple of 16: a TLB entry's address (if it
                    // points into the table, which reaches past the first 32 KiB;
                    // `load` checks the offset).
                    let entry = matches!((dst, src), (Val::Ctx(0), Val::Aligned16(_)) | (Val::Aligned16(_), Val::Ctx(0)));
                    if sum as usize > if entry { TLB_BYTES } else { 0x8000 } {
                        return refuse(i, Rule::Pointer);
                    }
                    if entry {
                        Val::CtxEntry(sum)
                    } else {
                        Val::Ctx(sum)
                    }
                }
                (Val::Uninit, _) | (_, Val::Uninit) => return refuse(i, Rule::Uninit),
                _ => return refuse(i, Rule::Pointer),
            },
            0x00 | 0x10 | 0x20 | 0x40 | 0x50 | 0x60 | 0x70 | 0x90 | 0x30 | 0xa0 | 0xc0 => {
                let dv = Self::plain(i, r, ins.dst).map_err(|e| self.pointer_or(e, dst))?;
                let sv = if x { Self::plain(i, r, ins.src).map_err(|e| self.pointer_or(e, src))? } else { Val::Scalar };
                match op {
                    // DIV, MOD: unsigned, 64-bit, by a nonzero immediate or a register
                    // tested nonzero (a 64-bit test says nothing of the low half).
                    0x30 | 0x90 => {
                        let ok = if x { wide && sv == Val::NonZero } else { ins.imm != 0 };
                        if !ok {
                            return refuse(i, Rule::Division);
                        }
                        Val::Scalar
                    }
                    // Shifts by an immediate must be below the width.
                    0x60 | 0x70 | 0xc0 if !x && !(0..width).contains(&ins.imm) => return refuse(i, Rule::Opcode),
                    0x60 if !x => match dv.bound() {
                        Some(m) => {
                            let v = u64::from(m) << ins.imm;
                            u32::try_from(v).map_or(Val::Scalar, Val::Bounded)
                        }
                        None => Val::Scalar,
                    },
                    0x70 if !x => match dv.bound() {
                        Some(m) => Val::Bounded(m >> ins.imm.min(31)),
                        None => Val::Scalar,
                    },
                    // AND never makes a value larger, nor an aligned one unaligned; a
                    // mask with the low 4 bits clear makes it a multiple of 16.
                    0x50 => {
                        let k = (!x && ins.imm >= 0).then_some(ins.imm as u32);
                        let other = if x { sv.bound() } else { k };
                        let b = match (dv.bound(), other) {
                            (Some(a), Some(b)) => Some(a.min(b)),
                            (a, b) => a.or(b),
                        };
                        let aligned = matches!(dv, Val::Aligned16(_))
                            || x && matches!(sv, Val::Aligned16(_))
                            || k.is_some_and(|k| k & 15 == 0);
                        match b {
                            Some(b) if aligned => Val::Aligned16(b),
                            Some(b) => Val::Bounded(b),
                            None => Val::Scalar,
                        }
                    }
                    _ => Val::Scalar,
                }
            }
            _ => return refuse(i, Rule::Opcode),
        };
        r[d] = out;
        Ok(())
    }

    /// A plain-value error turned into `Pointer` when the register holds a pointer.
    fn pointer_or(&self, e: Refusal, v: Val) -> Refusal {
        if v == Val::Uninit {
            e
        } else {
            Refusal { rule: Rule::Pointer, ..e }
        }
    }

    fn jump(&mut self, i: usize, ins: &Insn, r: &mut Regs) -> Result<Option<Regs>, Refusal> {
        let op = ins.code & 0xf0;
        let x = ins.code & SRC_X != 0;
        match ins.code {
            // CALL: a tier-2 helper only (all have one contract), on the hart and a
            // micro-op of this block.
            0x85 => {
                if ins.src != 0 || ins.dst != 0 || ins.off != 0 || ins.imm == 0 || !self.env.calls.contains(&ins.imm) {
                    return refuse(i, Rule::Call);
                }
                // r3: the block's virtual pc, which becomes guest-visible (a trap's pc):
                // a plain value, never a host pointer.
                if r[1] != Val::Ctx(0) || r[2] != Val::UopPtr || !r[3].plain() {
                    return refuse(i, Rule::Call);
                }
                r[0] = Val::Scalar;
                for v in &mut r[1..=5] {
                    *v = Val::Uninit;
                }
                return Ok(Some(*r));
            }
            // EXIT: a plain return value.
            0x95 => {
                if ins.src != 0 || ins.dst != 0 || ins.off != 0 || ins.imm != 0 {
                    return refuse(i, Rule::Opcode);
                }
                Self::plain(i, r, 0).map_err(|e| self.pointer_or(e, r[0]))?;
                return Ok(None);
            }
            // JA
            0x05 => {
                if ins.src != 0 || ins.dst != 0 || ins.imm != 0 {
                    return refuse(i, Rule::Opcode);
                }
                let t = self.target(i, ins.off)?;
                if t > i {
                    self.push(i, t, *r)?;
                } else {
                    self.loop_edge(i, t, r)?;
                }
                return Ok(None);
            }
            _ => {}
        }
        if !matches!(op, 0x10 | 0x20 | 0x30 | 0x40 | 0x50 | 0x60 | 0x70 | 0xa0 | 0xb0 | 0xc0 | 0xd0) {
            return refuse(i, Rule::Opcode);
        }
        if !x && ins.src != 0 || x && ins.imm != 0 {
            return refuse(i, Rule::Opcode);
        }
        let (d, s) = (usize::from(ins.dst), usize::from(ins.src));
        Self::plain(i, r, ins.dst).map_err(|e| self.pointer_or(e, r[d]))?;
        if x {
            Self::plain(i, r, ins.src).map_err(|e| self.pointer_or(e, r[s]))?;
        }
        let t = self.target(i, ins.off)?;
        let mut taken = *r;
        let mut fall = *r;
        match (op, x) {
            // jne r, 0 / jeq r, 0: r is nonzero on the taken / fall-through edge.
            (0x50, false) if ins.imm == 0 => taken[d] = Val::NonZero,
            (0x10, false) if ins.imm == 0 => fall[d] = Val::NonZero,
            _ => {}
        }
        self.branch_to(i, t, taken)?;
        Ok(Some(fall))
    }

    /// A backward jump: `ja` at `i` back to `t`, allowed only at the end of the
    /// bounded loop tail (see ebpf.rs `transition`), [`TAIL`] instructions that no
    /// jump enters: retire (`counter_update`), then exit if `insns >= chain_insn_limit`.
    fn loop_edge(&mut self, i: usize, t: usize, r: &Regs) -> Result<(), Refusal> {
        if i < TAIL || t == 0 || t > i - TAIL || self.last_join > i - TAIL {
            return refuse(i, Rule::Loop);
        }
        let at = |k: usize| decode(self.prog[i - TAIL + k]);
        let ldx_ctx = |ins: &Insn, size: u8, field: usize| {
            ins.code == (CLASS_LDX | MODE_MEM | size) && ins.src == 6 && ins.off as usize == field
        };
        let (retired, limit, budget) = (at(2), at(3), at(4));
        let tail_ok = self.counter_update(i - TAIL + 2)
            && ldx_ctx(&limit, 0x18, offset_of!(Hart, chain_insn_limit))
            && budget.code == (CLASS_JMP | SRC_X | 0x30)
            && budget.dst == retired.src
            && budget.src == limit.dst
            && limit.dst != retired.src
            // r6 is the hart in all of them: it is at the edge, and nothing in the
            // tail writes it.
            && r[6] == Val::Ctx(0)
            && (0..TAIL).all(|k| {
                let ins = at(k);
                ins.dst != 6 || matches!(ins.code & 7, CLASS_STX | CLASS_JMP)
            });
        if !tail_ok {
            return refuse(i, Rule::Loop);
        }
        if self.loop_out.join(t, r).is_none() {
            return refuse(i, Rule::Loop);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use super::super::bpf::insn;

    /// `r6 = hart; body; exit`, checked: the rule of its refusal, if any.
    fn run(body: &[u64]) -> Result<(), Rule> {
        let mut p = [0u64; 16];
        let n = body.len();
        p[0] = insn(0xbf, 6, 1, 0, 0);
        p[1..=n].copy_from_slice(body);
        p[n + 1] = insn(0x95, 0, 0, 0, 0);
        check(&p[..n + 2], &CheckEnv::new(1)).map_err(|e| e.rule)
    }

    /// `r0 = hart + k; r0 = *(size *)(r0 + off)` (the guard's jump-cache read), then
    /// r0 is returned.
    fn read_at(k: i32, size: u8, off: i16) -> [u64; 3] {
        [insn(0xbf, 0, 6, 0, 0), insn(0x07, 0, 0, 0, k), insn(0x61 | size, 0, 0, off, 0)]
    }

    /// The hart plus a constant (`CtxAt`) reads plain fields only, never the TLB (whose
    /// host words are pointers), never past the hart, never for a store; the pointer
    /// itself stays a pointer.
    #[test]
    fn constant_hart_offsets_read_plain_fields_only() {
        const W: u8 = 0x00;
        const DW: u8 = 0x18;
        const B: u8 = 0x10;
        let jc = OFF_JC as i32;
        let last = jc + 8 * (JC_SIZE as i32 - 1);
        // Controls: jump-cache entries, whole and in part, the epoch, a field in reach.
        assert_eq!(run(&read_at(jc, DW, 0)), Ok(()), "first jump-cache entry");
        assert_eq!(run(&read_at(last, DW, 0)), Ok(()), "last jump-cache entry");
        assert_eq!(run(&read_at(jc + 8, W, 4)), Ok(()), "high half of an entry");
        assert_eq!(run(&read_at(last - 8, DW, 8)), Ok(()), "entry through the offset");
        assert_eq!(run(&read_at(offset_of!(Hart, jc_epoch) as i32, W, 0)), Ok(()), "epoch");
        assert_eq!(run(&read_at(0, DW, OFF_X as i16 + 8)), Ok(()), "x1");
        // Outside the fields, across a field's end, past the hart.
        assert_eq!(run(&read_at(last, DW, 8)), Err(Rule::HartAccess), "past the jump cache");
        assert_eq!(run(&read_at(last + 4, DW, 0)), Err(Rule::HartAccess), "across its end");
        assert_eq!(run(&read_at(jc, DW, -8)), Err(Rule::HartAccess), "before it");
        assert_eq!(run(&read_at(offset_of!(Hart, hash) as i32, W, 0)), Err(Rule::HartAccess), "not a field for programs");
        assert_eq!(run(&read_at(size_of::<Hart>() as i32, B, 0)), Err(Rule::Pointer), "past the hart");
        assert_eq!(run(&read_at(-8, DW, 8)), Err(Rule::Pointer), "a negative constant");
        // The TLB, tag or host word: only through the TLB patterns.
        for at in [OFF_TLB, OFF_TLB + 8, OFF_TLB + 16 * 7 + 8, OFF_TLB + TLB_BYTES - 8] {
            assert_eq!(run(&read_at(at as i32, DW, 0)), Err(Rule::HartAccess), "TLB word at {at:#x}");
        }
        // Stores through it (a writable field, and the jump cache).
        for k in [OFF_X as i32 + 8, jc] {
            let st = [insn(0xbf, 0, 6, 0, 0), insn(0x07, 0, 0, 0, k), insn(0xb7, 2, 0, 0, 5), insn(0x7b, 0, 2, 0, 0), insn(0xb7, 0, 0, 0, 0)];
            assert_eq!(run(&st), Err(Rule::HartAccess), "store at {k:#x}");
        }
        // The pointer returned, moved to 32 bits, compared, added to.
        let (mov, add) = (insn(0xbf, 0, 6, 0, 0), insn(0x07, 0, 0, 0, jc));
        assert_eq!(run(&[mov, add]), Err(Rule::Pointer), "returned");
        assert_eq!(run(&[mov, add, insn(0xbc, 0, 0, 0, 0)]), Err(Rule::Pointer), "moved to 32 bits");
        assert_eq!(run(&[mov, add, insn(0x15, 0, 0, 0, 0), insn(0xb7, 0, 0, 0, 0)]), Err(Rule::Pointer), "compared");
        let again = [mov, add, insn(0x07, 0, 0, 0, 8), insn(0x79, 0, 0, 0, 0)];
        assert_eq!(run(&again), Err(Rule::Pointer), "a second constant added");
        let reg = [mov, add, insn(0xb7, 1, 0, 0, 8), insn(0x0f, 0, 1, 0, 0), insn(0x79, 0, 0, 0, 0)];
        assert_eq!(run(&reg), Err(Rule::Pointer), "a register added");
    }
}
