//! The tier-2 lowering of translated blocks to eBPF.
//!
//! A hot translated block (tier 1: micro-ops run by the executor, exec.rs) is lowered
//! here, with the hot blocks its exits lead to (a region, see [`lower_region`]), to one
//! eBPF program, which the host JIT-compiles (the kernel's BPF
//! JIT in kemu.ko, a userspace eBPF JIT in `kemuctl run`; see tier2.rs). Only the data
//! format is eBPF's: no verifier ever sees these programs, so they are safe by
//! construction:
//!
//! - r1 on entry (kept in r6) is the [`Hart`]; the program reads and writes only hart
//!   fields at offsets fixed here (inside the first 32 KiB of the hart, checked at
//!   compile time; the jump cache, read only, at the hart plus a 32-bit constant) and
//!   guest RAM.
//! - The programs use no stack: r10 is never touched (the kernel's JIT reserves no frame
//!   without the verifier's `stack_depth`, and r10-8 would be the caller's saved rbx).
//! - A guest memory access goes to RAM only through a TLB hit (the entry was filled by
//!   mmu.rs for a page that lies entirely in RAM), at the entry's host page address
//!   plus the address's offset in the page masked to the access's alignment: since
//!   every entry's host page is a whole page of RAM (`TlbEntry`'s invariant), that is
//!   inside RAM without a bounds check, even for a CPU speculating past the tag
//!   comparison. Anything else, including misaligned accesses, MMIO, stores into code
//!   pages and faults, calls the helper, which runs the tier-1 handler of that micro-op
//!   ([`tier2_helper`]).
//! - Division and remainder are lowered natively; the divisor is tested for zero right
//!   before the DIV/MOD, which then never sees zero (RISC-V's results for a zero divisor
//!   and signed overflow are produced by the surrounding code, see `divrem`).
//! - Micro-ops without a native lowering (multiply-high, CSRs, AMOs, system
//!   instructions) call the generic helper; the F/D arithmetic calls its own direct
//!   helper (the op's tier-1 handler without the generic helper's dispatch, `fpu.rs`),
//!   with the same contract. The F/D ops that are bit operations (sign injection,
//!   moves, comparisons, classification) are native ([`fp`]), with the generic helper
//!   for FS off, NaN comparisons and singles that are not NaN-boxed. A helper that
//!   ends the block (a trap, an exit of the op, translated code dropped) returns its
//!   exit kind, which the program returns at once.
//! - Control flow: a block's direct exit to another block of the region (and an
//!   indirect jump whose target is one of the region's predicted blocks) is a jump inside
//!   the program ([`Emitter::transition`]): retire the block's instructions and go on
//!   only while the run loop would chain (the retired count below
//!   `chain_insn_limit`, which a stop request zeroes); every other exit returns to the
//!   dispatcher (hart.rs) with pc set, naming the block it leaves from in
//!   `Hart::cur_tb` so that the run loop chains on from there as in tier 1. Jumps
//!   backward are exactly those transitions, so every loop retires instructions and
//!   ends within the run's budget.
//! - An independent checker (t2check.rs, its own decoder) proves these rules for every
//!   program before any JIT sees it; a program it refuses stays on tier 1.
//!
//! Precise state: native ops retire nothing until their block exits (as in tier 1, the
//! count comes from the op's index), so a helper that traps in the middle of a block
//! sets pc (from the block's virtual pc, which the program passes it) and the retired
//! count from its micro-op exactly as tier 1 would.
//!
//! [`Hart`]: super::hart::Hart
//! [`tier2_helper`]: super::tier2::tier2_helper

use core::mem::offset_of;

mod fp;

use super::csr::{num as csr_num, MSTATUS_FS};
use super::decode::{is_fp_compute, Op, Uop, X_SINK};
use super::fpu::fp_helper;
use super::tier2::call_imm;
use super::exit::ExitKind;
use super::hart::{jc_index, Hart, Stats, TlbEntry, ACC_LOAD, ACC_STORE, JC_SIZE, TLB_SIZE};
use super::tcache::{Tc, TbInfo};

// The eBPF encoding: one definition, shared with kemuctl's JIT.
use super::bpf::*;
pub use super::bpf::insn;

// Hart fields the programs use (byte offsets from r6). eBPF memory offsets are signed
// 16-bit: all of them must be below 32 KiB (hart.rs puts them first).
const OFF_X: usize = offset_of!(Hart, x);
const OFF_F: usize = offset_of!(Hart, f);
const OFF_MSTATUS: usize = offset_of!(Hart, csr) + offset_of!(super::csr::Csrs, mstatus);
const OFF_FFLAGS: usize = offset_of!(Hart, csr) + offset_of!(super::csr::Csrs, fflags);
const OFF_PC: usize = offset_of!(Hart, pc);
const OFF_INSNS: usize = offset_of!(Hart, stats) + offset_of!(Stats, insns);
const OFF_TLB: usize = offset_of!(Hart, tlb);
const OFF_TLB_KEY: usize = offset_of!(Hart, tlb_key);
const OFF_INSN_LIMIT: usize = offset_of!(Hart, chain_insn_limit);
const OFF_CUR_TB: usize = offset_of!(Hart, cur_tb);
const OFF_JC_EPOCH: usize = offset_of!(Hart, jc_epoch);
/// The jump cache, beyond 16-bit reach: an entry's address is the hart plus a 32-bit
/// constant.
const OFF_JC: usize = offset_of!(Hart, jc);
/// Bytes from one index of the (interleaved load and store) TLB to the next.
const TLB_STRIDE: usize = 2 * core::mem::size_of::<TlbEntry>();
const _: () = {
    let ends = [
        OFF_X + 8 * 33,
        OFF_F + 8 * 32,
        OFF_MSTATUS,
        OFF_FFLAGS,
        OFF_PC,
        OFF_INSNS,
        // Entries are reached at the hart plus index * TLB_STRIDE plus this offset.
        OFF_TLB + TLB_STRIDE,
        OFF_TLB_KEY + 24,
        OFF_INSN_LIMIT,
        OFF_CUR_TB,
        OFF_JC_EPOCH,
    ];
    let mut i = 0;
    while i < ends.len() {
        assert!(ends[i] < 0x7ff0, "tier-2 hart fields must lie in the first 32 KiB");
        i += 1;
    }
    assert!(core::mem::size_of::<TlbEntry>() == 16 && offset_of!(TlbEntry, host) == 8);
    assert!(TLB_STRIDE == 32 && ACC_LOAD == 1 && ACC_STORE == 2);
    assert!(OFF_JC + 8 * JC_SIZE < i32::MAX as usize);
};

/// Value a helper returns to go on with the block ([`ExitKind::Next`]).
pub(super) const HELPER_NEXT: i32 = ExitKind::Next as i32;

// Register use: r6 = hart, r7-r9 = a cache of three guest registers (all callee-saved:
// they survive helper calls). r0-r5 are scratch. (No register holds the RAM base: TLB
// entries hold host page addresses.)
//
// The register cache is write-back (`Cache`): a guest register written in it reaches
// the hart when its slot is taken for another, before any helper call (helpers, and the
// trap a helper may raise, read the architectural state from the hart) and before the
// program returns. A cached register saves more than its load: the load would sit on
// the dependency chain of whatever computes with it (pi's inner loop), and a load of a
// value the previous turn of a loop stored waits for the guest's stores before it (a
// store loop ran at 4.05 ns a turn with its pointer reloaded, 1.65 ns with it kept in a
// register, on this project's AMD EPYC host; docs/performance.md).
//
// Which registers the cache holds: each block starts with the first three registers it
// reads in it (`LowerScratch::entry`, put there by every jump into the block, so a
// loop's back edge usually has nothing to move), and a register read or written takes
// the slot whose register is read latest in the rest of the block (never, or written
// first: at once), if that is later than its own next read (`Emitter::next_read`); one
// written and read only by the next op, from r2, takes none
// (`Emitter::read_once_from_r2`).
const R0: u8 = 0;
const R1: u8 = 1;
const R2: u8 = 2;
const R3: u8 = 3;
const R4: u8 = 4;
const R5: u8 = 5;
const CTX: u8 = 6;
/// The register-cache registers.
const CACHE: [u8; NCACHE] = [7, 8, 9];
/// Guest registers the cache holds.
const NCACHE: usize = 3;

/// Most blocks in one region (one program): a region compiled again because its
/// program kept handing over to blocks of its own page (tier2.rs `t2_recompile`).
pub(super) const MAX_REGION: usize = 32;
/// Most blocks in a region compiled the first time. Compile time grows with the blocks
/// (16, 24, 32 blocks for every region: 1.09, 1.45, 1.76 s compiling in a Debian
/// guest's xz, sqlite and gcc runs, gcc slower), while the handovers that larger
/// regions save come from a few loops (xz: the five heads of one loop of about 20
/// blocks handed over to each other 6 M times, each region full at 16).
pub(super) const FIRST_REGION: usize = 16;
/// Most predictions of a region ((jump site, target) pairs, see [`lower_region`]).
pub(super) const MAX_PREDICTED: usize = 32;
/// Most targets one indirect jump compares with inline.
const MAX_COMPARES: usize = 12;
/// Most jumps to region blocks not emitted yet.
const MAX_FIXUPS: usize = 8 * MAX_REGION;
/// Most exits placed out of line, after the blocks ([`Emitter::stub`]).
pub(super) const MAX_STUBS: usize = 8 * MAX_REGION;

/// An exit placed after the blocks: the jump to it, the block it leaves from, the
/// instructions to retire first, the pc and the exit kind.
#[derive(Clone, Copy)]
struct Stub {
    at: u32,
    block: u32,
    retire: u32,
    pc: u64,
    kind: ExitKind,
    /// The register cache at the jump (its dirty registers are stored first).
    cache: Cache,
}

/// Most memory accesses whose slow path is placed out of line ([`Emitter::finish`]); the
/// rest keep theirs inline.
pub(super) const MAX_COLD: usize = 192;

/// The slow path of a memory access, placed after the blocks: the jump to it (the TLB
/// miss), where it returns to, the block and micro-op it runs the helper on, and the
/// register cache before the access and after its fast path.
#[derive(Clone, Copy)]
struct Cold {
    at: u32,
    back: u32,
    vpc: u64,
    uop_addr: u64,
    before: Cache,
    after: Cache,
    /// The guest register the helper writes (0: none), reloaded after it.
    written: u8,
}

/// What the register cache registers ([`CACHE`]) hold: the guest register in each (0:
/// none; x0 is never cached) and whether the hart's copy of it may be older (a write
/// not stored yet).
#[derive(Clone, Copy, Default, PartialEq, Eq)]
struct Cache {
    reg: [u8; NCACHE],
    dirty: [bool; NCACHE],
}

/// The lowering's tables of one region, kept in the hart (`Hart::t2_lower`): a kernel
/// stack is small. All zero is a valid (empty) value.
pub(super) struct LowerScratch {
    /// The region's blocks: virtual pc, physical pc (as a host address, for the page)
    /// and translation-cache index.
    vpcs: [u64; MAX_REGION],
    ppcs: [u64; MAX_REGION],
    tbs: [u32; MAX_REGION],
    /// Where each block's code starts (`u32::MAX`: not emitted yet).
    labels: [u32; MAX_REGION],
    /// Jumps to blocks not emitted yet: (instruction, block).
    fixups: [(u32, u32); MAX_FIXUPS],
    /// The region's predictions: (jump site, target) block indices (site `u32::MAX`:
    /// any indirect jump), in the order they are compared.
    predicted: [(u32, u32); MAX_PREDICTED],
    /// Exits to emit after the blocks.
    stubs: [Stub; MAX_STUBS],
    /// Slow paths to emit after the blocks.
    colds: [Cold; MAX_COLD],
    /// The guest registers each block expects in the register cache when it starts (0:
    /// nothing): its first three registers read before written. Every jump into a block
    /// puts them there.
    entry: [[u8; NCACHE]; MAX_REGION],
}

/// Writes eBPF instructions into a fixed buffer; `full` once it overflowed (the
/// program is then not compiled).
pub(super) struct Emitter<'a> {
    buf: &'a mut [u64],
    n: usize,
    full: bool,
    helper_imm: i32,
    /// Micro-ops that had no native lowering (run by the helper).
    fallbacks: usize,
    /// The register cache.
    c: Cache,
    /// The micro-ops of the block being lowered and the index of the one being lowered
    /// (what the register cache looks ahead at).
    uops: &'a [Uop],
    pos: usize,
    /// The guest register whose current value r2 holds (0: none): an op that reads the
    /// result of the one before it (the usual chain) takes it from there. Any write of
    /// r2, a call and every jump target forget it.
    r2: u8,
    /// The region's tables (see [`lower_region`]): `nblocks` blocks (none if jumps
    /// between blocks are off), `npredicted` predicted, `nfixups` jumps to patch.
    s: &'a mut LowerScratch,
    nblocks: usize,
    npredicted: usize,
    nfixups: usize,
    nstubs: usize,
    ncolds: usize,
    /// The block being lowered: its index in the region and its virtual pc.
    cur: usize,
    cur_vpc: u64,
}

fn xoff(r: u8) -> i16 {
    // r <= 63 (micro-op register fields of integer ops are < 33): no overflow.
    (OFF_X + 8 * usize::from(r & 63)) as i16
}

fn foff(r: u8) -> i16 {
    (OFF_F + 8 * usize::from(r & 31)) as i16
}

/// [`Emitter::next_read`]: the block does not read the register again.
const LATER: usize = usize::MAX - 1;
/// [`Emitter::next_read`]: the block writes the register before it reads it.
const DEAD: usize = usize::MAX;

/// The integer registers micro-op `u` reads natively (0: none) and the one it writes
/// (0: none), for the register cache's choices; ops run by a helper count as neither.
fn x_uses(u: &Uop) -> ([u8; 2], u8) {
    use Op::*;
    let rd = if u.rd == X_SINK { 0 } else { u.rd };
    match u.op {
        Lb | Lh | Lw | Ld | Lbu | Lhu | Lwu | Jalr => ([u.rs1, 0], rd),
        Addi | Xori | Ori | Andi | Slli | Srli | Srai | Addiw | Slliw | Srliw | Sraiw | Slti | Sltiu => {
            ([u.rs1, 0], rd)
        }
        Flw | Fld | Fsw | Fsd => ([u.rs1, 0], 0),
        Sb | Sh | Sw | Sd | Beq | Bne | Blt | Bge | Bltu | Bgeu => ([u.rs1, u.rs2], 0),
        Add | Sub | Xor | Or | And | Sll | Srl | Sra | Mul | Addw | Subw | Mulw | Sllw | Srlw | Sraw | Div
        | Divu | Rem | Remu | Divw | Divuw | Remw | Remuw | Slt | Sltu => ([u.rs1, u.rs2], rd),
        Jal | Li => ([0, 0], rd),
        // The F/D ops lowered natively (ebpf/fp.rs) that read or write an x register.
        FmvDX | FmvWX => ([u.rs1, 0], 0),
        FmvXD | FmvXW | FeqD | FltD | FleD | FeqS | FltS | FleS | FclassD | FclassS => ([0, 0], rd),
        _ => ([0, 0], 0),
    }
}

/// Whether `u`, `v` are `slli rd, rs, 32; srli (or srai) rd, rd, 32`: the low word of
/// rs zero- (sign-) extended into rd (RV64 without Zba writes `zext.w` so).
fn extension_pair(u: &Uop, v: &Uop) -> bool {
    u.op == Op::Slli
        && u.imm == 32
        && matches!(v.op, Op::Srli | Op::Srai)
        && v.imm == 32
        && v.rs1 == u.rd
        && v.rd == u.rd
        && u.rd != X_SINK
        && u.rd != 0
}

/// A block's entry registers (`LowerScratch::entry`): the first three it reads before
/// writing them.
fn entry_regs(uops: &[Uop]) -> [u8; NCACHE] {
    let mut entry = [0u8; NCACHE];
    let mut n = 0;
    let mut written = 0u64;
    for u in uops {
        let (reads, writes) = x_uses(u);
        for r in reads {
            if r != 0 && r < 32 && written & (1 << r) == 0 && !entry[..n].contains(&r) {
                entry[n] = r;
                n += 1;
                if n == NCACHE {
                    return entry;
                }
            }
        }
        if writes < 32 {
            written |= 1 << writes;
        }
    }
    entry
}

/// The conditional jump taken exactly when `op` is not.
fn invert(op: u8) -> u8 {
    match op {
        JEQ => JNE,
        JNE => JEQ,
        JLT => JGE,
        JGE => JLT,
        JSLT => JSGE,
        // JSGE (`branch` passes only these six).
        _ => JSLT,
    }
}

fn fits_i32(v: u64) -> bool {
    v as i64 == i64::from(v as i32)
}

impl<'a> Emitter<'a> {
    pub(super) fn new(buf: &'a mut [u64], helper_imm: i32, s: &'a mut LowerScratch) -> Emitter<'a> {
        s.labels = [u32::MAX; MAX_REGION];
        Emitter {
            buf,
            n: 0,
            full: false,
            helper_imm,
            fallbacks: 0,
            c: Cache::default(),
            uops: &[],
            pos: 0,
            r2: 0,
            s,
            nblocks: 0,
            npredicted: 0,
            nfixups: 0,
            nstubs: 0,
            ncolds: 0,
            cur: 0,
            cur_vpc: 0,
        }
    }

    /// Instructions emitted, or `None` if the buffer overflowed or more than half of
    /// the region's `nuops` micro-ops went to the helper (see [`lower_region`]).
    pub(super) fn finish(mut self, nuops: usize) -> Option<usize> {
        // The exits placed out of line: forward jumps from the blocks.
        self.r2 = 0;
        for k in 0..self.nstubs {
            let st = self.s.stubs[k];
            self.patch(st.at as usize);
            self.cur = st.block as usize;
            self.c = st.cache;
            self.leave(u64::from(st.retire), st.pc, None, st.kind);
        }
        // The slow paths placed out of line: each is entered from its access's TLB
        // miss only and returns right after the access (the checker's rejoin rule);
        // a helper result that ends the program goes to one shared `exit`.
        for k in 0..self.ncolds {
            let cd = self.s.colds[k];
            self.patch(cd.at as usize);
            self.cur_vpc = cd.vpc;
            self.c = cd.before;
            self.flush();
            self.alu64_x(MOV, R1, CTX);
            self.mov_imm(R3, cd.vpc);
            self.ld_imm64(R2, cd.uop_addr);
            self.emit(insn(JMP | CALL, 0, 0, 0, self.helper_imm));
            // (Patched to the shared exit below; `at` is done with.)
            let end = self.jmp_k(JNE, R0, HELPER_NEXT) as u32;
            if let Some(c) = self.s.colds.get_mut(k) {
                c.at = end;
            }
            self.reload(cd.before, cd.after, cd.written);
            // Back to the instruction after the access (backward: this code follows
            // the blocks).
            let back = i64::from(cd.back) - self.n as i64 - 1;
            self.emit(insn(JMP | JA, 0, 0, back as i16, 0));
        }
        if self.ncolds > 0 {
            // The shared exit: r0 is the helper's exit kind.
            for k in 0..self.ncolds {
                self.patch(self.s.colds[k].at as usize);
            }
            self.exit();
        }
        for k in 0..self.nfixups {
            let (at, block) = self.s.fixups[k];
            let (at, block) = (at as usize, block as usize);
            match self.s.labels.get(block) {
                Some(&l) if l != u32::MAX && l as usize > at => {
                    let off = l as usize - at - 1;
                    if let Some(slot) = self.buf.get_mut(at) {
                        *slot = (*slot & !(0xffff << 16)) | ((off as u64 & 0xffff) << 16);
                    }
                }
                _ => self.full = true,
            }
        }
        if self.full || self.fallbacks * 2 > nuops {
            None
        } else {
            Some(self.n)
        }
    }

    fn emit(&mut self, i: u64) {
        let (code, dst) = (i as u8, (i >> 8) as u8 & 0xf);
        let writes_r2 = matches!(code & 7, LD | LDX | ALU | ALU64) && dst == R2;
        if writes_r2 || code == JMP | CALL {
            self.r2 = 0;
        }
        match self.buf.get_mut(self.n) {
            Some(slot) => {
                *slot = i;
                self.n += 1;
            }
            None => self.full = true,
        }
    }

    fn alu64_k(&mut self, op: u8, dst: u8, imm: i32) {
        self.emit(insn(ALU64 | K | op, dst, 0, 0, imm));
    }
    fn alu64_x(&mut self, op: u8, dst: u8, src: u8) {
        self.emit(insn(ALU64 | X | op, dst, src, 0, 0));
    }
    fn alu32_x(&mut self, op: u8, dst: u8, src: u8) {
        self.emit(insn(ALU | X | op, dst, src, 0, 0));
    }
    /// `dst op= imm` in 64 (`wide`) or 32 bits.
    fn alu_k(&mut self, wide: bool, op: u8, dst: u8, imm: i32) {
        self.emit(insn(if wide { ALU64 } else { ALU } | K | op, dst, 0, 0, imm));
    }
    /// `dst op= src` in 64 (`wide`) or 32 bits.
    fn alu_x(&mut self, wide: bool, op: u8, dst: u8, src: u8) {
        self.emit(insn(if wide { ALU64 } else { ALU } | X | op, dst, src, 0, 0));
    }
    fn ldx(&mut self, size: u8, dst: u8, base: u8, off: i16) {
        self.emit(insn(LDX | MEM | size, dst, base, off, 0));
    }
    fn stx(&mut self, size: u8, base: u8, off: i16, src: u8) {
        self.emit(insn(STX | MEM | size, base, src, off, 0));
    }
    fn ld_imm64(&mut self, dst: u8, v: u64) {
        self.emit(insn(LD | IMM | DW, dst, 0, 0, v as u32 as i32));
        self.emit(insn(0, 0, 0, 0, (v >> 32) as u32 as i32));
    }
    /// `dst = v`, in one instruction when `v` is a sign-extended 32-bit value.
    fn mov_imm(&mut self, dst: u8, v: u64) {
        if fits_i32(v) {
            self.alu64_k(MOV, dst, v as i32);
        } else {
            self.ld_imm64(dst, v);
        }
    }
    /// A conditional jump with a placeholder offset; returns its position for `patch`.
    fn jmp_x(&mut self, op: u8, a: u8, b: u8) -> usize {
        self.emit(insn(JMP | X | op, a, b, 0, 0));
        self.n - 1
    }
    fn jmp_k(&mut self, op: u8, a: u8, imm: i32) -> usize {
        self.emit(insn(JMP | K | op, a, 0, 0, imm));
        self.n - 1
    }
    /// Points the jump at `at` to the next instruction emitted.
    fn patch(&mut self, at: usize) {
        // A jump lands here: what r2 holds depends on the path.
        self.r2 = 0;
        // Offsets are relative to the instruction after the jump; blocks are far
        // shorter than 32K instructions (the buffer is), so the offset fits.
        let off = self.n.wrapping_sub(at).wrapping_sub(1) as u16;
        if let Some(slot) = self.buf.get_mut(at) {
            *slot = (*slot & !(0xffff << 16)) | (u64::from(off) << 16);
        }
    }
    fn exit(&mut self) {
        self.emit(insn(JMP | EXIT, 0, 0, 0, 0));
    }

    /// `dst = x[r]` (x0 reads as 0: it is never written, writes go to the sink), from
    /// the register cache when it holds `r`; a loaded register goes into the cache too
    /// if it is read again before a cached one ([`Emitter::slot_for`]).
    fn get_x(&mut self, dst: u8, r: u8) {
        if dst == R2 && r != 0 && self.r2 == r {
            return;
        }
        if self.read_x(dst, r) {
            if let Some(i) = self.claim(r) {
                self.alu64_x(MOV, CACHE[i], dst);
            }
        }
    }

    /// `dst = x[r]` without changing the register cache (for code on one path only);
    /// true if it came from the hart.
    fn read_x(&mut self, dst: u8, r: u8) -> bool {
        if r == 0 {
            self.alu64_k(MOV, dst, 0);
        } else if let Some(i) = self.slot_of(r) {
            self.alu64_x(MOV, dst, CACHE[i]);
        } else {
            self.ldx(DW, dst, CTX, xoff(r));
            return true;
        }
        false
    }

    /// A host register holding x[r] for one read: its cache register if cached (or
    /// r2 if it holds the previous op's result), else `scratch`, read as
    /// [`Emitter::get_x`] does (which may give `r` a slot) if `may_cache`, else with the
    /// register cache unchanged (for a second operand, whose slot could be the first
    /// one's register).
    fn operand(&mut self, scratch: u8, r: u8, may_cache: bool) -> u8 {
        if let Some(i) = self.slot_of(r) {
            return CACHE[i];
        }
        if r != 0 && self.r2 == r {
            return R2;
        }
        if may_cache {
            self.get_x(scratch, r);
        } else {
            self.read_x(scratch, r);
        }
        scratch
    }

    /// The cache register that is to receive a new value of guest register `r`
    /// (cached already, or given a slot), marked dirty; `None` if `r` stays in the
    /// hart (the caller stores it with [`Emitter::set_x`]).
    fn dest_x(&mut self, r: u8) -> Option<u8> {
        if r == X_SINK {
            return None;
        }
        let i = match self.slot_of(r) {
            Some(i) => i,
            None => self.claim(r)?,
        };
        self.c.dirty[i] = true;
        if self.r2 == r {
            self.r2 = 0;
        }
        Some(CACHE[i])
    }

    /// Gives guest register `r` (not cached) the slot [`Emitter::slot_for`] picks, if
    /// any, after storing what that slot held if it was dirty; the caller fills it.
    fn claim(&mut self, r: u8) -> Option<usize> {
        let i = self.slot_for(r)?;
        self.evict(i);
        self.c.reg[i] = r;
        Some(i)
    }

    /// The cache slot holding guest register `r`, if any.
    fn slot_of(&self, r: u8) -> Option<usize> {
        if r == 0 {
            return None;
        }
        self.c.reg.iter().position(|&c| c == r)
    }

    /// How far ahead of the current micro-op the block reads guest register `r` next:
    /// [`LATER`] if it does not (a later block may), [`DEAD`] if it writes `r` first.
    /// Only speed depends on it.
    fn next_read(&self, r: u8) -> usize {
        self.next_read_after(r, self.pos + 1)
    }

    /// [`Emitter::next_read`] counted from micro-op `from` of the block.
    fn next_read_after(&self, r: u8, from: usize) -> usize {
        for (d, u) in self.uops.iter().skip(from).enumerate() {
            let (reads, writes) = x_uses(u);
            if reads.contains(&r) {
                return d;
            }
            if writes == r {
                return DEAD;
            }
        }
        LATER
    }

    /// The cache slot guest register `r` (not cached) should take: the one whose
    /// register is read latest (an empty one first), if that is later than `r`'s own
    /// next read; `None` leaves the cache as it is.
    fn slot_for(&self, r: u8) -> Option<usize> {
        if r == 0 || r == X_SINK {
            return None;
        }
        let rank = |c: u8| if c == 0 { usize::MAX } else { self.next_read(c) };
        let mut best = (0, rank(self.c.reg[0]));
        for (i, &c) in self.c.reg.iter().enumerate().skip(1) {
            let far = rank(c);
            if far > best.1 {
                best = (i, far);
            }
        }
        (best.1 > self.next_read(r)).then_some(best.0)
    }

    /// Empties cache slot `i`, storing its register first if the hart's copy is older.
    fn evict(&mut self, i: usize) {
        if self.c.dirty[i] {
            self.stx(DW, CTX, xoff(self.c.reg[i]), CACHE[i]);
        }
        self.c.reg[i] = 0;
        self.c.dirty[i] = false;
    }

    /// Stores the dirty cached registers into the hart, which then holds the whole
    /// architectural state (before a helper or an exit). The cache keeps them; only
    /// the caller knows whether every path did this (then it marks them clean).
    fn flush(&mut self) {
        let c = self.c;
        for (&host, (&r, &dirty)) in CACHE.iter().zip(c.reg.iter().zip(&c.dirty)) {
            if dirty {
                self.stx(DW, CTX, xoff(r), host);
            }
        }
    }

    /// Puts guest registers `want` (0: nothing) into the cache registers, from the
    /// other cache registers or the hart, storing dirty ones it drops: the state a
    /// block expects at its start, where every cached register counts as dirty (so no
    /// jump into a block has to store one). Clobbers r0.
    fn enter(&mut self, want: [u8; NCACHE]) {
        // Dirty registers that stay nowhere go to the hart first.
        for i in 0..NCACHE {
            if self.c.dirty[i] && !want.contains(&self.c.reg[i]) {
                self.evict(i);
            }
        }
        // The moves between cache registers, as (destination slot, source register):
        // done in an order that reads every source before overwriting it, a cycle
        // broken through r0.
        let mut moves = [(0usize, 0u8); NCACHE];
        let mut n = 0;
        for (i, &r) in want.iter().enumerate() {
            if r != 0 && self.c.reg[i] != r {
                if let Some(j) = self.slot_of(r) {
                    moves[n] = (i, CACHE[j]);
                    n += 1;
                }
            }
        }
        while n > 0 {
            let free = (0..n).find(|&k| !moves[..n].iter().any(|&(_, src)| src == CACHE[moves[k].0]));
            match free {
                Some(k) => {
                    let (i, src) = moves[k];
                    self.alu64_x(MOV, CACHE[i], src);
                    moves[k] = moves[n - 1];
                    n -= 1;
                }
                None => {
                    // Every destination is still to be read: save the first one's.
                    let held = CACHE[moves[0].0];
                    self.alu64_x(MOV, R0, held);
                    for m in moves[..n].iter_mut().filter(|m| m.1 == held) {
                        m.1 = R0;
                    }
                }
            }
        }
        // The rest from the hart.
        let moved = self.c.reg;
        for (i, &r) in want.iter().enumerate() {
            if r != 0 && moved[i] != r && !moved.contains(&r) {
                self.ldx(DW, CACHE[i], CTX, xoff(r));
            }
        }
        self.c = Cache::entry(want);
    }

    /// Forgets a cached copy of guest register `r` (a helper wrote it, after a flush).
    fn uncache(&mut self, r: u8) {
        if let Some(i) = self.slot_of(r) {
            self.c.reg[i] = 0;
            self.c.dirty[i] = false;
        }
    }

    /// `x[r] = src`: into the register cache (stored at the next flush or eviction) if
    /// it holds `r` or `r` earns a slot, else into the hart.
    fn set_x(&mut self, r: u8, src: u8) {
        if r == X_SINK {
            return;
        }
        let slot = match self.slot_of(r) {
            Some(i) => Some(i),
            None if src == R2 && self.read_once_from_r2(r) => None,
            None => self.claim(r),
        };
        match slot {
            Some(i) => {
                self.alu64_x(MOV, CACHE[i], src);
                self.c.dirty[i] = true;
            }
            None => self.stx(DW, CTX, xoff(r), src),
        }
        if src == R2 {
            self.r2 = r;
        } else if self.r2 == r {
            self.r2 = 0;
        }
    }
    /// Whether guest register `r`, about to be written from r2, is read only by the next
    /// micro-op, as its first source (which takes it from r2: ALU ops, the address of a
    /// load or store, a branch's first operand, a dividend), before the block writes it
    /// again or ends: then a cache slot would only cost a move and evict a register read
    /// more often (sysbench's unrolled read loop, `addi tN, a5, 8k; ld a3, 0(tN)`, gave
    /// every `tN` a slot and evicted the one before).
    fn read_once_from_r2(&self, r: u8) -> bool {
        let Some(next) = self.uops.get(self.pos + 1) else { return false };
        let (reads, _) = x_uses(next);
        reads[0] == r && reads[1] != r && next.op != Op::Jalr && self.next_read_after(r, self.pos + 2) >= LATER
    }

    /// `r = sign-extended low 32 bits of r` (one BPF_MOVSX).
    fn sext32(&mut self, r: u8) {
        self.emit(insn(ALU64 | X | MOV, r, r, 32, 0));
    }

    /// The block prologue: r6 = hart; the register cache is empty.
    fn prologue(&mut self) {
        self.alu64_x(MOV, CTX, R1);
    }

    /// Leaves the program: retires `n` instructions, sets pc (from `pc_reg` if given,
    /// else the constant `pc`) and returns `kind`.
    fn leave(&mut self, n: u64, pc: u64, pc_reg: Option<u8>, kind: ExitKind) {
        if n != 0 {
            self.retire(n);
        }
        self.set_pc_return(pc, pc_reg, kind);
    }

    /// Makes the jump at `at` leave the program as [`Emitter::leave`] with a constant pc,
    /// from code placed after the blocks (exits are cold: the blocks' code stays
    /// dense); false, with nothing recorded, if there is no room for another.
    fn stub(&mut self, at: usize, n: u64, pc: u64, kind: ExitKind) -> bool {
        let Some(slot) = self.s.stubs.get_mut(self.nstubs) else { return false };
        *slot = Stub { at: at as u32, block: self.cur as u32, retire: n as u32, pc, kind, cache: self.c };
        self.nstubs += 1;
        true
    }

    /// The region block at virtual pc `vpc`, if the region has one: a direct jump
    /// there goes on inside the program.
    fn block_at(&self, vpc: u64) -> Option<usize> {
        self.s.vpcs[..self.nblocks].iter().position(|&v| v == vpc)
    }

    /// Leaves the current block through a direct exit to `target` (`kind`: its chain
    /// slot): on to the region block there, if any, else out of the program.
    fn exit_to(&mut self, n: u64, target: u64, kind: ExitKind) {
        match self.block_at(target) {
            Some(b) => self.transition(n, b, target, kind),
            None if self.nstubs < MAX_STUBS => {
                self.emit(insn(JMP | JA, 0, 0, 0, 0));
                let at = self.n - 1;
                self.stub(at, n, target, kind);
            }
            None => self.leave(n, target, None, kind),
        }
    }

    /// A block transition inside the program, to region block `to`: retires the `n`
    /// instructions of the current block and jumps to `to`'s code (no statistics: the
    /// counters count program entries), unless the run loop would not go on here (the
    /// retired count reached
    /// `chain_insn_limit`: the budget, or a stop request, which zeroes the limit); then
    /// it leaves with pc `target` and `kind`, as the block alone would. These are the
    /// only backward jumps of a program, so every loop retires at least one
    /// instruction per turn and ends within the run's budget (the checker,
    /// t2check.rs, accepts a backward jump only behind exactly this sequence).
    fn transition(&mut self, n: u64, to: usize, target: u64, kind: ExitKind) {
        // The target's entry registers (before the loop tail the checker matches);
        // the code after this edge goes on with the cache as it was.
        let cache = self.c;
        self.enter(self.s.entry.get(to).copied().unwrap_or([0; NCACHE]));
        if self.foreign(to) {
            self.guard(n, to, target, kind);
        }
        self.ldx(DW, R0, CTX, OFF_INSNS as i16);
        self.alu64_k(ADD, R0, (n & 0x1ff) as i32);
        self.stx(DW, CTX, OFF_INSNS as i16, R0);
        self.ldx(DW, R1, CTX, OFF_INSN_LIMIT as i16);
        let budget = self.jmp_x(JGE, R0, R1);
        let stubbed = self.stub(budget, 0, target, kind);
        match self.s.labels.get(to) {
            Some(&l) if l != u32::MAX => {
                // Programs are far shorter than 32K instructions (the buffer is).
                let back = i64::from(l) - self.n as i64 - 1;
                self.emit(insn(JMP | JA, 0, 0, back as i16, 0));
            }
            _ => {
                match self.s.fixups.get_mut(self.nfixups) {
                    Some(f) => {
                        *f = (self.n as u32, to as u32);
                        self.nfixups += 1;
                    }
                    None => self.full = true,
                }
                self.emit(insn(JMP | JA, 0, 0, 0, 0));
            }
        }
        if !stubbed {
            self.patch(budget);
            self.set_pc_return(target, None, kind);
        }
        self.c = cache;
    }

    /// Whether a jump from the current block to region block `to` needs
    /// [`Emitter::guard`]: unless `to` lies in the virtual and the physical page of the
    /// current block or of the head. Those two pages were translated as the region
    /// expects when the program entered them (the head's by the run loop's lookup, the
    /// current block's by a guard or by one of these two rules), and nothing that runs
    /// inside a program changes translations or kills code without ending it (`satp`
    /// writes, `sfence.vma` and stores into code return through the helper with an
    /// exit); so, as for tier 1's chains, a jump inside such a page needs no check. A region's blocks of one virtual page may come from
    /// different physical pages (the jump cache may name a block translated before a
    /// mapping changed without a fence), hence the physical page too.
    fn foreign(&self, to: usize) -> bool {
        let page = |k: usize| {
            let v = self.s.vpcs.get(k).map_or(0, |v| v >> 12);
            let p = self.s.ppcs.get(k).map_or(0, |p| p >> 12);
            (v, p)
        };
        page(to) != page(self.cur) && page(to) != page(0)
    }

    /// Leaves the program (retiring `n` instructions, pc `target`, `kind`) unless the
    /// jump cache names region block `to` for `target`: then the run loop's own lookup
    /// (`Hart::find_tb`, which answers from the jump cache) would run that very block
    /// there now (the block's privilege is the head's, and a privilege change ends the
    /// program). Entries go with every TLB flush (the epoch, or the page's set for a
    /// one-page `sfence.vma`) and when their block is killed, and block numbers are
    /// reused only after a flush of all blocks, which drops every program. So another
    /// page's blocks run inside a program only as the run loop would run them. A
    /// failed check leaves as the exit would have without the region; the run loop's
    /// lookup fills the jump cache, and the next time the check passes (unless the
    /// page now holds other code: then it fails on every run of the program).
    fn guard(&mut self, n: u64, to: usize, target: u64, kind: ExitKind) {
        let tb = self.s.tbs.get(to).copied().unwrap_or(0);
        // r1 = jc_epoch << 32 | tb (a 32-bit move: zero-extended); r0 = jc[jc_index(target)].
        self.ldx(W, R1, CTX, OFF_JC_EPOCH as i16);
        self.alu64_k(LSH, R1, 32);
        self.emit(insn(ALU | K | MOV, R0, 0, 0, tb as i32));
        self.alu64_x(OR, R1, R0);
        self.alu64_x(MOV, R0, CTX);
        self.alu64_k(ADD, R0, (OFF_JC + 8 * jc_index(target)) as i32);
        self.ldx(DW, R0, R0, 0);
        let miss = self.jmp_x(JNE, R0, R1);
        if !self.stub(miss, n, target, kind) {
            // No room for a stub: leave right here, the cache as it was after.
            let cache = self.c;
            self.emit(insn(JMP | JA, 0, 0, 0, 0));
            let over = self.n - 1;
            self.patch(miss);
            self.leave(n, target, None, kind);
            self.patch(over);
            self.c = cache;
        }
    }

    /// Starts the code of region block `k` at virtual pc `vpc`: every jump here (and
    /// the prologue, for the head) has put the block's entry registers into the cache.
    fn start_block(&mut self, k: usize, vpc: u64) {
        if let Some(l) = self.s.labels.get_mut(k) {
            *l = self.n as u32;
        }
        self.cur = k;
        self.cur_vpc = vpc;
        self.r2 = 0;
        self.c = Cache::entry(self.s.entry.get(k).copied().unwrap_or([0; NCACHE]));
    }

    /// Adds `n` to the retired-instruction counter.
    fn retire(&mut self, n: u64) {
        self.add_mem(OFF_INSNS, (n & 0x1ff) as i32);
    }

    /// `*(u64 *)(hart + off) += n`.
    fn add_mem(&mut self, off: usize, n: i32) {
        self.ldx(DW, R0, CTX, off as i16);
        self.alu64_k(ADD, R0, n);
        self.stx(DW, CTX, off as i16, R0);
    }

    fn set_pc_return(&mut self, pc: u64, pc_reg: Option<u8>, kind: ExitKind) {
        // The hart holds the whole state when the program returns.
        self.flush();
        if self.nblocks > 1 && (kind.chain_slot().is_some() || kind == ExitKind::Jump) {
            // The block that leaves: the run loop follows its chain slot next, or logs
            // its indirect jump's target.
            // (A 32-bit move of the index right before the store: the checker's pattern.)
            let tb = self.s.tbs.get(self.cur).copied().unwrap_or(0);
            self.emit(insn(ALU | K | MOV, R0, 0, 0, tb as i32));
            self.stx(W, CTX, OFF_CUR_TB as i16, R0);
        }
        match pc_reg {
            Some(r) => self.stx(DW, CTX, OFF_PC as i16, r),
            None => {
                self.mov_imm(R0, pc);
                self.stx(DW, CTX, OFF_PC as i16, R0);
            }
        }
        // Programs return the kind's number (`ExitKind::from_t2` reads it back).
        self.alu64_k(MOV, R0, i32::from(kind as u8));
        self.exit();
    }

    /// Runs micro-op `u` (at host address `uop_addr`) of the current block through the
    /// helper, which also gets the block's virtual pc (for the pc of a trap); returns
    /// from the program with the helper's exit kind unless it says to go on.
    fn helper(&mut self, uop_addr: u64) {
        self.call(uop_addr, self.helper_imm);
    }

    /// Calls helper `imm` (the generic one or a direct one, same contract) on the
    /// micro-op at `uop_addr`; an exit kind other than `Next` ends the program.
    fn call(&mut self, uop_addr: u64, imm: i32) {
        // Helpers read the state from the hart (and a trap ends the program there).
        self.flush();
        self.c.dirty = [false; NCACHE];
        self.alu64_x(MOV, R1, CTX);
        self.mov_imm(R3, self.cur_vpc);
        self.ld_imm64(R2, uop_addr);
        self.emit(insn(JMP | CALL, 0, 0, 0, imm));
        let next = self.jmp_k(JEQ, R0, HELPER_NEXT);
        self.exit();
        self.patch(next);
    }

    /// A guest load or store of `size` bytes through the TLB fast path, with the helper
    /// for everything else. Loads leave the value in r2 (zero-extended) and store it to
    /// x[rd], sign-extending if `signed`. With `fp`, the data register is f[rd] / f[rs2]
    /// (flw/fld/fsw/fsd: mstatus.FS must be on, else the helper raises illegal; loads
    /// NaN-box singles and mark FS dirty, as tier 1 does).
    fn mem_access(&mut self, u: &Uop, uop_addr: u64, size: u8, store: bool, signed: bool, fp: bool) {
        let nbytes: u32 = match size {
            B => 1,
            H => 2,
            W => 4,
            _ => 8,
        };
        let acc = if store { ACC_STORE } else { ACC_LOAD };
        // The registers first: whatever the register cache does happens on every path.
        // The address: rs1's register if no immediate is added, else r2.
        let mut addr = self.operand(R2, u.rs1, true);
        let fs_off = fp.then(|| self.fs_off());
        // The value to store: its cache register, else r1 (read without taking a
        // slot: that could be the address's).
        let value = match self.slot_of(u.rs2) {
            Some(i) if store && !fp => CACHE[i],
            _ => {
                if store && !fp {
                    self.read_x(R1, u.rs2);
                }
                R1
            }
        };
        if u.imm != 0 {
            // Load/store immediates are 12-bit.
            if addr != R2 {
                self.alu64_x(MOV, R2, addr);
                addr = R2;
            }
            self.alu64_k(ADD, R2, u.imm as i32);
        }
        // r3 = &tlb[index] - OFF_TLB (relative to the hart): the page number's low
        // bits times the stride (32: a load and a store entry), in one shift and one
        // mask.
        self.alu64_x(MOV, R3, addr);
        self.alu64_k(RSH, R3, 12 - 5);
        self.alu64_k(AND, R3, ((TLB_SIZE - 1) * TLB_STRIDE) as i32);
        self.alu64_x(ADD, R3, CTX);
        let entry = (OFF_TLB + (acc - 1) * core::mem::size_of::<TlbEntry>()) as i16;
        self.ldx(DW, R4, R3, entry);
        // Tag: the page, the low bits an aligned access has clear, and the key.
        self.alu64_x(MOV, R5, addr);
        self.alu64_k(AND, R5, !0xfff | (nbytes as i32 - 1));
        // (The key cannot change inside a block: privilege and mstatus only change
        // through ops that end it.)
        self.ldx(DW, R0, CTX, (OFF_TLB_KEY + 8 * acc) as i16);
        self.alu64_x(OR, R5, R0);
        let miss = self.jmp_x(JNE, R4, R5);
        // The register cache where the slow path starts.
        let before = self.c;
        // The host address: the entry's host page plus the offset in the page, masked
        // to the access's alignment (a no-op on a hit, which is aligned). The entry's
        // page lies in RAM whatever entry this is (`TlbEntry`'s invariant), so the
        // access does without a bounds check, also for a CPU that speculates past the
        // tag comparison. (A store loads the page first, a load masks the offset
        // first: each ran faster so on the bare-metal memory loop.)
        if store {
            self.ldx(DW, R4, R3, entry + 8);
        }
        self.alu64_x(MOV, R0, addr);
        self.alu64_k(AND, R0, 0xfff & !(nbytes as i32 - 1));
        if !store {
            self.ldx(DW, R4, R3, entry + 8);
        }
        self.alu64_x(ADD, R4, R0);
        if store {
            if fp {
                self.ldx(DW, R5, CTX, foff(u.rs2));
                self.stx(size, R4, 0, R5);
            } else {
                self.stx(size, R4, 0, value);
            }
        } else if !fp && u.rd != X_SINK && self.slot_of(u.rd).is_some() {
            // Straight into rd's cache register.
            let d = self.dest_x(u.rd).unwrap_or(R2);
            let mode = if signed && nbytes < 8 { MEMSX } else { MEM };
            self.emit(insn(LDX | mode | size, d, R4, 0, 0));
        } else if signed && nbytes < 8 && !fp {
            // One sign-extending load (BPF_MEMSX).
            self.emit(insn(LDX | MEMSX | size, R2, R4, 0, 0));
            if u.rd != X_SINK {
                self.set_x(u.rd, R2);
            }
        } else {
            self.ldx(size, R2, R4, 0);
            if fp {
                if nbytes == 4 {
                    self.ld_imm64(R3, 0xffff_ffff_0000_0000);
                    self.alu64_x(OR, R2, R3);
                }
                self.stx(DW, CTX, foff(u.rd), R2);
                self.fs_dirty();
            } else if u.rd != X_SINK {
                self.set_x(u.rd, R2);
            }
        }
        let written = if store || fp { 0 } else { u.rd };
        if let (None, Some(slot)) = (fs_off, self.s.colds.get_mut(self.ncolds)) {
            // The slow path after the blocks ([`Emitter::finish`]); it comes back here.
            *slot = Cold { at: miss as u32, back: self.n as u32, vpc: self.cur_vpc, uop_addr, before, after: self.c, written };
            self.ncolds += 1;
            // (A join: what r2 holds depends on the path.)
            self.r2 = 0;
            return;
        }
        self.emit(insn(JMP | JA, 0, 0, 0, 0));
        let done = self.n - 1;
        self.patch(miss);
        if let Some(j) = fs_off {
            self.patch(j);
        }
        self.slow_path(before, uop_addr, written);
        self.patch(done);
    }

    /// Loads mstatus into r1 (kept for [`Emitter::fs_dirty`]) and jumps if its FS field
    /// is off (where the helper raises illegal instruction); returns the jump to patch.
    fn fs_off(&mut self) -> usize {
        self.ldx(DW, R1, CTX, OFF_MSTATUS as i16);
        self.alu64_x(MOV, R0, R1);
        self.alu64_k(AND, R0, MSTATUS_FS as i32);
        self.jmp_k(JEQ, R0, 0)
    }

    /// Marks FS dirty in mstatus, which r1 holds ([`Emitter::fs_off`]).
    fn fs_dirty(&mut self) {
        self.alu64_k(OR, R1, MSTATUS_FS as i32);
        self.stx(DW, CTX, OFF_MSTATUS as i16, R1);
    }

    /// The slow path of an op whose fast path may have changed the register cache from
    /// `before`: the helper on micro-op `uop_addr` (after a flush of the cache as it was
    /// before the fast path), then the cache registers as the fast path left them, from
    /// the hart, which now holds everything: a register the fast path brought in (an
    /// eviction's store happened on that path only, but this one flushed it), and
    /// `written` (0 for none), the guest register the helper wrote.
    fn slow_path(&mut self, before: Cache, uop_addr: u64, written: u8) {
        let after = self.c;
        self.c = before;
        self.helper(uop_addr);
        self.reload(before, after, written);
    }

    /// After a slow path's helper (cache `before` flushed to the hart): loads the cache
    /// registers of `after` that the fast path brought in or `written` changed, and
    /// leaves the cache as `after`.
    fn reload(&mut self, before: Cache, after: Cache, written: u8) {
        for (&host, (&r, &was)) in CACHE.iter().zip(after.reg.iter().zip(&before.reg)) {
            if r != 0 && (r != was || r == written) {
                self.ldx(DW, host, CTX, xoff(r));
            }
        }
        // (Dirty as on the fast path: on this one the stores are merely redundant.)
        self.c = after;
    }

    /// `frflags rd` (`csrrs rd, fflags, zero`) and `fsflags rd, rs1` (`csrrw rd,
    /// fflags, rs1`), which glibc puts around every quiet comparison: native with
    /// mstatus.FS on (a write masks the flags to 5 bits and marks FS dirty, as tier 1's
    /// `w_fflags`), the generic helper with FS off (it raises illegal instruction).
    /// False for every other CSR access (the caller calls the helper).
    fn fflags(&mut self, u: &Uop, uop_addr: u64) -> bool {
        let write = match u.op {
            Op::Csrrs | Op::Csrrc if u.rs1 == 0 => false,
            Op::Csrrw => true,
            _ => return false,
        };
        if u.aux() & 0xfff != u32::from(csr_num::FFLAGS) {
            return false;
        }
        // The register cache where the slow path starts.
        let before = self.c;
        let fs_off = self.fs_off();
        if write {
            self.get_x(R3, u.rs1);
            self.alu64_k(AND, R3, 0x1f);
            self.fs_dirty();
        }
        if u.rd != X_SINK {
            self.ldx(DW, R2, CTX, OFF_FFLAGS as i16);
        }
        if write {
            self.stx(DW, CTX, OFF_FFLAGS as i16, R3);
        }
        self.set_x(u.rd, R2);
        self.emit(insn(JMP | JA, 0, 0, 0, 0));
        let done = self.n - 1;
        self.patch(fs_off);
        self.slow_path(before, uop_addr, u.rd);
        self.patch(done);
        true
    }

    /// Integer ALU op `u`; false if it has no native lowering (exactly the ops
    /// [`native`] says no to, among those [`Emitter::block`] passes here).
    fn alu(&mut self, u: &Uop) -> bool {
        use Op::*;
        // (op, 64-bit?, immediate form?, sign-extend the 32-bit result?)
        let (op, wide, imm_form, w32): (u8, bool, bool, bool) = match u.op {
            Addi => (ADD, true, true, false),
            Add => (ADD, true, false, false),
            Sub => (SUB, true, false, false),
            Xori => (XOR, true, true, false),
            Ori => (OR, true, true, false),
            Andi => (AND, true, true, false),
            Xor => (XOR, true, false, false),
            Or => (OR, true, false, false),
            And => (AND, true, false, false),
            Slli => (LSH, true, true, false),
            Srli => (RSH, true, true, false),
            Srai => (ARSH, true, true, false),
            Sll => (LSH, true, false, false),
            Srl => (RSH, true, false, false),
            Sra => (ARSH, true, false, false),
            Mul => (MUL, true, false, false),
            Addiw => (ADD, false, true, true),
            Addw => (ADD, false, false, true),
            Subw => (SUB, false, false, true),
            Mulw => (MUL, false, false, true),
            Slliw => (LSH, false, true, true),
            Srliw => (RSH, false, true, true),
            Sraiw => (ARSH, false, true, true),
            Sllw => (LSH, false, false, true),
            Srlw => (RSH, false, false, true),
            Sraw => (ARSH, false, false, true),
            Div | Divu | Rem | Remu | Divw | Divuw | Remw | Remuw => {
                if u.rd != X_SINK {
                    self.divrem(u);
                }
                return true;
            }
            Li => {
                if u.rd != X_SINK {
                    self.mov_imm(R2, u.imm);
                    self.set_x(u.rd, R2);
                }
                return true;
            }
            Slt | Slti | Sltu | Sltiu => {
                if u.rd == X_SINK {
                    return true;
                }
                let jop = if matches!(u.op, Slt | Slti) { JSLT } else { JLT };
                self.get_x(R2, u.rs1);
                self.alu64_k(MOV, R0, 1);
                let j = if matches!(u.op, Slt | Sltu) {
                    self.get_x(R3, u.rs2);
                    self.jmp_x(jop, R2, R3)
                } else if fits_i32(u.imm) {
                    self.jmp_k(jop, R2, u.imm as i32)
                } else {
                    self.mov_imm(R3, u.imm);
                    self.jmp_x(jop, R2, R3)
                };
                self.alu64_k(MOV, R0, 0);
                self.patch(j);
                self.set_x(u.rd, R0);
                return true;
            }
            _ => return false,
        };
        if u.rd == X_SINK {
            return true;
        }
        let shift = matches!(op, LSH | RSH | ARSH);
        let mask: i32 = if wide { 63 } else { 31 };
        if let Some(d) = self.slot_of(u.rd).map(|i| CACHE[i]) {
            // A cached destination computes in its own register (`rd op= ...` in one
            // instruction when rd is rs1), unless rs2 is rd or needs r3 for a mask.
            if imm_form && (shift || fits_i32(u.imm)) || !imm_form && !shift && u.rs2 != u.rd {
                if u.rs1 != u.rd {
                    let a = self.operand(R2, u.rs1, false);
                    self.alu64_x(MOV, d, a);
                }
                if imm_form {
                    self.alu_k(wide, op, d, if shift { (u.imm as i32) & mask } else { u.imm as i32 });
                } else {
                    let b = self.operand(R3, u.rs2, false);
                    self.alu_x(wide, op, d, b);
                }
                if w32 {
                    self.sext32(d);
                }
                self.dest_x(u.rd);
                return true;
            }
        }
        self.get_x(R2, u.rs1);
        if imm_form {
            let imm = if shift { (u.imm as i32) & mask } else { u.imm as i32 };
            if shift || fits_i32(u.imm) {
                self.alu_k(wide, op, R2, imm);
            } else {
                self.mov_imm(R3, u.imm);
                self.alu_x(wide, op, R2, R3);
            }
        } else if let (Some(i), false) = (self.slot_of(u.rs2), shift) {
            self.alu_x(wide, op, R2, CACHE[i]);
        } else {
            self.get_x(R3, u.rs2);
            if shift {
                self.alu64_k(AND, R3, mask);
            }
            self.alu_x(wide, op, R2, R3);
        }
        if w32 {
            self.sext32(R2);
        }
        self.set_x(u.rd, R2);
        true
    }

    /// `r = |r|` as an unsigned value (r2..r5 only; clobbers r0).
    fn abs(&mut self, r: u8) {
        self.alu64_x(MOV, R0, r);
        self.alu64_k(ARSH, R0, 63);
        self.alu64_x(XOR, r, R0);
        self.alu64_x(SUB, r, R0);
    }

    /// `r = x[rs]` as a division operand: the 32-bit forms take the sign- (`signed`)
    /// or zero-extended low half.
    fn div_operand(&mut self, r: u8, rs: u8, w32: bool, signed: bool) {
        self.get_x(r, rs);
        self.extend_operand(r, w32, signed);
    }

    /// The 32-bit forms' extension of division operand `r`.
    fn extend_operand(&mut self, r: u8, w32: bool, signed: bool) {
        if w32 {
            if signed {
                self.sext32(r);
            } else {
                // ALU32 moves zero-extend.
                self.alu32_x(MOV, r, r);
            }
        }
    }

    /// Division and remainder (RISC-V M semantics: no trap; x / 0 = all ones, x % 0 = x,
    /// signed overflow gives the dividend / 0). eBPF only has unsigned DIV/MOD, and no
    /// divisor of zero may reach them (the kernel's JIT emits a bare `div`, which would
    /// fault): signed ops take magnitudes first (|b| is 0 only if b is), the divisor is
    /// tested for zero right before the division (the pattern the checker, t2check.rs,
    /// accepts), and the sign is fixed afterwards. The 32-bit forms sign-extend the
    /// result.
    fn divrem(&mut self, u: &Uop) {
        use Op::*;
        let rem = matches!(u.op, Rem | Remu | Remw | Remuw);
        let signed = matches!(u.op, Div | Rem | Divw | Remw);
        let w32 = matches!(u.op, Divw | Divuw | Remw | Remuw);
        self.div_operand(R2, u.rs1, w32, signed);
        self.div_operand(R3, u.rs2, w32, signed);
        if signed {
            // r5 = the sign of the result: a's for rem, a ^ b for div.
            self.alu64_x(MOV, R5, R2);
            if !rem {
                self.alu64_x(XOR, R5, R3);
            }
            self.abs(R2);
            self.abs(R3);
        }
        let nonzero = self.jmp_k(JNE, R3, 0);
        if !rem {
            self.alu64_k(MOV, R2, -1);
        } else if signed {
            // x % 0 = x: the dividend again (r2 holds its magnitude), from where the
            // first read left it (this path must not change the register cache).
            self.read_x(R2, u.rs1);
            self.extend_operand(R2, w32, signed);
        }
        self.emit(insn(JMP | JA, 0, 0, 0, 0));
        let zero_done = self.n - 1;
        self.patch(nonzero);
        self.alu64_x(if rem { MOD } else { DIV }, R2, R3);
        if signed {
            let positive = self.jmp_k(JSGE, R5, 0);
            self.alu64_k(NEG, R2, 0);
            self.patch(positive);
        }
        self.patch(zero_done);
        if w32 {
            self.sext32(R2);
        }
        self.set_x(u.rd, R2);
    }

    /// A conditional branch: both exits of the block.
    fn branch(&mut self, u: &Uop, here: u64) {
        use Op::*;
        let jop = match u.op {
            Beq => JEQ,
            Bne => JNE,
            Blt => JSLT,
            Bge => JSGE,
            Bltu => JLT,
            _ => JGE,
        };
        let n = u64::from(u.idx) + 1;
        let (taken, fall) = (here.wrapping_add(u.imm), here.wrapping_add(u64::from(u.len)));
        // The conditional jump goes to the exit that leaves the program, straight to
        // its stub, and the other exit follows without a jump over it; if both stay
        // in the region, a backward branch (a loop's) has its taken exit follow. So a
        // loop's back edge costs one taken jump a turn.
        let leaves = |e: &Self, t| e.block_at(t).is_none() && e.nstubs < MAX_STUBS;
        let fall_out = match (leaves(self, fall), leaves(self, taken)) {
            (true, false) => true,
            (false, false) => (u.imm as i64) < 0,
            _ => false,
        };
        let (jop, to, kind, other, other_kind) = if fall_out {
            (invert(jop), fall, ExitKind::Chain1, taken, ExitKind::Chain0)
        } else {
            (jop, taken, ExitKind::Chain0, fall, ExitKind::Chain1)
        };
        let a = self.operand(R2, u.rs1, true);
        let j = if u.rs2 == 0 {
            self.jmp_k(jop, a, 0)
        } else {
            let b = self.operand(R3, u.rs2, false);
            self.jmp_x(jop, a, b)
        };
        if leaves(self, to) {
            self.stub(j, n, to, kind);
            self.exit_to(n, other, other_kind);
        } else {
            self.exit_to(n, other, other_kind);
            self.patch(j);
            self.exit_to(n, to, kind);
        }
    }

    /// An indirect jump to the address in r3 (bit 0 clear), `n` instructions into the
    /// block (its link, if any, already written): one whose target is one of the
    /// blocks predicted for it (the targets the jump log saw; for a jump without a link,
    /// a return, a tail call or a `switch`, also the region's return landings) goes on
    /// there inside the program; anything else leaves for the run loop's lookup. The compares, per page of the predicted blocks: the target's
    /// page against it, then its offset in the page against each of its blocks'.
    fn indirect(&mut self, n: u64, link: bool) {
        let cur = self.cur as u32;
        // A call's targets are its own; a return may also go to any return landing.
        let mine = |&(site, target): &(u32, u32)| site == cur || !link && site == u32::MAX && target != cur;
        // The predicted blocks, at most MAX_COMPARES.
        let mut blocks = [0usize; MAX_COMPARES];
        let mut count = 0;
        for p in self.s.predicted[..self.npredicted].iter().filter(|p| mine(p)) {
            if count < MAX_COMPARES && !blocks[..count].contains(&(p.1 as usize)) {
                blocks[count] = p.1 as usize;
                count += 1;
            }
        }
        if count > 0 {
            // r5 = the target's page, r4 = its offset in the page.
            self.alu64_x(MOV, R5, R3);
            self.alu64_k(ARSH, R5, 12);
            self.alu64_x(MOV, R4, R3);
            self.alu64_k(AND, R4, 0xfff);
            let pages = blocks.map(|b| self.s.vpcs.get(b).map_or(0, |&v| v as i64 >> 12));
            for i in 0..count {
                let p = pages[i];
                if pages[..i].contains(&p) {
                    continue;
                }
                let other_page = if p == i64::from(p as i32) {
                    self.jmp_k(JNE, R5, p as i32)
                } else {
                    self.ld_imm64(R0, p as u64);
                    self.jmp_x(JNE, R5, R0)
                };
                for j in (i..count).filter(|&j| pages[j] == p) {
                    let b = blocks[j];
                    let vpc = self.s.vpcs[b];
                    let miss = self.jmp_k(JNE, R4, (vpc & 0xfff) as i32);
                    self.transition(n, b, vpc, ExitKind::Jump);
                    self.patch(miss);
                }
                self.patch(other_page);
            }
        }
        self.leave(n, 0, Some(R3), ExitKind::Jump);
    }

    /// Lowers the micro-ops of one block; its exits go to other region blocks
    /// ([`Emitter::exit_to`]) or out of the program.
    fn block(&mut self, info: &TbInfo, uops: &'a [Uop]) {
        self.uops = uops;
        let mut fused = false;
        for (pos, u) in uops.iter().enumerate() {
            self.pos = pos;
            if core::mem::take(&mut fused) {
                continue;
            }
            if let Some(next) = uops.get(pos + 1).filter(|v| extension_pair(u, v)) {
                // `slli rd, rs, 32; srli/srai rd, rd, 32`: zero- or sign-extend the low
                // word, in one op (nothing can trap between the two).
                self.pos = pos + 1;
                self.get_x(R2, u.rs1);
                if next.op == Op::Srli {
                    self.alu32_x(MOV, R2, R2);
                } else {
                    self.sext32(R2);
                }
                self.set_x(u.rd, R2);
                fused = true;
                continue;
            }
            let uop_addr = u as *const Uop as u64;
            let here = info.vpc.wrapping_add(u64::from(u.pc_off));
            let n = u64::from(u.idx) + 1;
            use Op::*;
            match u.op {
                Nop => {}
                Lb => self.mem_access(u, uop_addr, B, false, true, false),
                Lh => self.mem_access(u, uop_addr, H, false, true, false),
                Lw => self.mem_access(u, uop_addr, W, false, true, false),
                Ld => self.mem_access(u, uop_addr, DW, false, false, false),
                Lbu => self.mem_access(u, uop_addr, B, false, false, false),
                Lhu => self.mem_access(u, uop_addr, H, false, false, false),
                Lwu => self.mem_access(u, uop_addr, W, false, false, false),
                Sb => self.mem_access(u, uop_addr, B, true, false, false),
                Sh => self.mem_access(u, uop_addr, H, true, false, false),
                Sw => self.mem_access(u, uop_addr, W, true, false, false),
                Sd => self.mem_access(u, uop_addr, DW, true, false, false),
                Flw => self.mem_access(u, uop_addr, W, false, false, true),
                Fld => self.mem_access(u, uop_addr, DW, false, false, true),
                Fsw => self.mem_access(u, uop_addr, W, true, false, true),
                Fsd => self.mem_access(u, uop_addr, DW, true, false, true),
                Beq | Bne | Blt | Bge | Bltu | Bgeu => return self.branch(u, here),
                Jal => {
                    let link = here.wrapping_add(u64::from(u.len));
                    if u.rd != X_SINK {
                        self.mov_imm(R2, link);
                        self.set_x(u.rd, R2);
                    }
                    return self.exit_to(n, here.wrapping_add(u.imm), ExitKind::Chain0);
                }
                Jalr => {
                    // Target first: rd may be rs1.
                    self.get_x(R3, u.rs1);
                    if u.imm != 0 {
                        self.alu64_k(ADD, R3, u.imm as i32);
                    }
                    self.alu64_k(AND, R3, -2);
                    if u.rd != X_SINK {
                        self.mov_imm(R2, here.wrapping_add(u64::from(u.len)));
                        self.set_x(u.rd, R2);
                    }
                    return self.indirect(n, u.rd != X_SINK);
                }
                op if is_fp_compute(op) && self.fp_bits(u, uop_addr) => {}
                op if is_fp_compute(op) => {
                    // Its own handler through its direct helper; the generic one if
                    // that is out of the host's call range.
                    match fp_helper(op).and_then(|f| call_imm(self.helper_imm, f)) {
                        Some(imm) => self.call(uop_addr, imm),
                        None => {
                            self.fallbacks += 1;
                            self.helper(uop_addr);
                        }
                    }
                    self.uncache(u.rd);
                }
                Csrrw | Csrrs | Csrrc if self.fflags(u, uop_addr) => {}
                _ => {
                    if !self.alu(u) {
                        self.fallbacks += 1;
                        self.helper(uop_addr);
                        self.uncache(u.rd);
                    }
                }
            }
        }
        self.exit_to(uops.len() as u64, info.vpc.wrapping_add(info.size), ExitKind::Chain1);
    }
}

impl Cache {
    /// The state at a block's start: registers `regs`, all counted as dirty.
    fn entry(regs: [u8; NCACHE]) -> Cache {
        Cache { reg: regs, dirty: regs.map(|r| r != 0) }
    }
}

impl LowerScratch {
    /// Empty tables (as a zeroed hart holds them).
    #[cfg(test)]
    const EMPTY: LowerScratch = LowerScratch {
        vpcs: [0; MAX_REGION],
        ppcs: [0; MAX_REGION],
        tbs: [0; MAX_REGION],
        labels: [0; MAX_REGION],
        fixups: [(0, 0); MAX_FIXUPS],
        predicted: [(0, 0); MAX_PREDICTED],
        stubs: [Stub { at: 0, block: 0, retire: 0, pc: 0, kind: ExitKind::Chain0, cache: Cache { reg: [0; NCACHE], dirty: [false; NCACHE] } };
            MAX_STUBS],
        colds: [Cold {
            at: 0,
            back: 0,
            vpc: 0,
            uop_addr: 0,
            before: Cache { reg: [0; NCACHE], dirty: [false; NCACHE] },
            after: Cache { reg: [0; NCACHE], dirty: [false; NCACHE] },
            written: 0,
        }; MAX_COLD],
        entry: [[0; NCACHE]; MAX_REGION],
    };
}

/// Whether op `op` has a native lowering (else the program calls the helper for it).
fn native(op: Op) -> bool {
    use Op::*;
    matches!(
        op,
        Nop | Lb | Lh | Lw | Ld | Lbu | Lhu | Lwu | Sb | Sh | Sw | Sd | Flw | Fld | Fsw | Fsd
            | Beq | Bne | Blt | Bge | Bltu | Bgeu | Jal | Jalr
            | Addi | Add | Sub | Xori | Ori | Andi | Xor | Or | And | Slli | Srli | Srai | Sll | Srl | Sra
            | Mul | Addiw | Addw | Subw | Mulw | Slliw | Srliw | Sraiw | Sllw | Srlw | Sraw
            | Div | Divu | Rem | Remu | Divw | Divuw | Remw | Remuw | Li | Slt | Slti | Sltu | Sltiu
    )
}

/// Whether op `op` runs without the generic helper in tier 2: natively, or (F/D
/// computational ops) through its own direct helper.
fn no_fallback(op: Op) -> bool {
    native(op) || is_fp_compute(op)
}

/// Whether block `uops` is worth tier 2: at most half of its micro-ops would call the
/// generic helper (CSRs, system instructions, AMOs run faster in tier 1 than through
/// it, and nothing else is gained). A region takes only such blocks
/// (`Hart::t2_region`).
pub(super) fn worth_lowering(uops: &[Uop]) -> bool {
    uops.iter().filter(|u| !no_fallback(u.op)).count() * 2 <= uops.len()
}

/// Lowers a region, the translated blocks `region` of `tc` (the first is the entry, the
/// head), to one eBPF program in `buf`; returns the number of instructions, or `None` if
/// the program does not fit `buf` or is not worth compiling. `predicted` lists (jump
/// site, target) pairs of indices into `region`: an indirect jump in block `site` (any
/// block for `usize::MAX`) compares its target with block `target`'s address, in this
/// order; `s` holds the lowering's tables.
///
/// The region's blocks were translated for the head's privilege (`Hart::t2_region`
/// picks them so), from the head's page and others. A direct exit to one of them (or an
/// indirect one whose target matches a predicted block) goes on inside the program
/// ([`Emitter::transition`]): at once if the block lies in the virtual and physical
/// page of the head or of the block that jumps, since the run loop would find exactly
/// that block there; otherwise only if the jump cache names it for its address when the
/// jump is made ([`Emitter::guard`]). Invalidating the head's page kills the head,
/// which releases the program; invalidating another page kills its blocks, whose
/// guards then fail. A straddling head (one instruction across a page boundary,
/// checked at every lookup) gets a program of its own without jumps to itself.
///
/// A region where most micro-ops would call the generic helper (CSRs, system
/// instructions, AMOs) stays in tier 1: each such call costs more than tier 1's
/// dispatch of that op (measured on Debian's float benchmark: 25 to 45% slower when
/// every floating-point op went through the generic helper), and nothing else is
/// gained. Floating-point ops call their direct helpers instead.
pub(super) fn lower_region(
    tc: &Tc,
    region: &[u32],
    predicted: &[(usize, usize)],
    buf: &mut [u64],
    helper_imm: i32,
    s: &mut LowerScratch,
) -> Option<usize> {
    let head = *region.first()?;
    if region.len() > MAX_REGION {
        return None;
    }
    let straddle = tc.block(head).0.straddle;
    let mut e = Emitter::new(buf, helper_imm, s);
    if !straddle {
        for (k, &tb) in region.iter().enumerate() {
            e.s.vpcs[k] = tc.block(tb).0.vpc;
            e.s.ppcs[k] = tc.ppc_of(tb);
            e.s.tbs[k] = tb;
        }
        e.nblocks = region.len();
        let inside = |&&(site, target): &&(usize, usize)| target < region.len() && (site < region.len() || site == usize::MAX);
        for &(site, target) in predicted.iter().filter(inside).take(MAX_PREDICTED) {
            e.s.predicted[e.npredicted] = (site as u32, target as u32);
            e.npredicted += 1;
        }
    }
    for (k, &tb) in region.iter().enumerate() {
        e.s.entry[k] = entry_regs(tc.block(tb).1);
    }
    e.prologue();
    e.enter(e.s.entry[0]);
    let mut nuops = 0;
    for (k, &tb) in region.iter().enumerate() {
        let (info, uops) = tc.block(tb);
        e.start_block(k, info.vpc);
        e.block(&info, uops);
        nuops += uops.len();
    }
    e.finish(nuops)
}

/// Result of [`PROBE_PROGRAM`].
pub const PROBE_RESULT: u64 = 55;

/// A small program the hosts run once before they trust their JIT: it loops (a backward
/// jump, as self-looping blocks do), uses every callee-saved eBPF register (r6-r9, as
/// the lowering does), stores its result through r1 (a pointer to one `u64`) and
/// returns it: [`PROBE_RESULT`] (1 + 2 + ... + 10).
pub const PROBE_PROGRAM: [u64; 11] = [
    insn(ALU64 | X | MOV, CTX, R1, 0, 0),
    insn(ALU64 | K | MOV, 7, 0, 0, 0),
    insn(ALU64 | K | MOV, 8, 0, 0, 10),
    insn(ALU64 | K | MOV, 9, 0, 0, 1),
    // loop: r7 += r8; r8 -= r9 (1); if r8 != 0 goto loop
    insn(ALU64 | X | ADD, 7, 8, 0, 0),
    insn(ALU64 | X | SUB, 8, 9, 0, 0),
    insn(JMP | K | JNE, 8, 0, -3, 0),
    insn(STX | MEM | DW, CTX, 7, 0, 0),
    insn(ALU64 | X | MOV, R0, 7, 0, 0),
    insn(ALU64 | K | AND, R0, 0, 0, 0xff),
    insn(JMP | EXIT, 0, 0, 0, 0),
];

#[cfg(test)]
mod tests {
    use super::*;

    /// `no_fallback` says which ops the lowering handles without the generic helper:
    /// the same ops as the lowering itself (a block of one op calls it iff it is not
    /// native and has no direct helper).
    #[test]
    fn native_matches_the_lowering() {
        use super::super::decode::ALL_OPS;
        let mut buf = [0u64; 256];
        for &op in ALL_OPS {
            if matches!(op, Op::End) {
                continue;
            }
            let u = Uop { op, rd: 5, rs1: 6, rs2: 7, ..Uop::default() };
            let mut scratch = LowerScratch::EMPTY;
            let mut e = Emitter::new(&mut buf, 0, &mut scratch);
            e.block(&TbInfo { vpc: 0x1000, ninsns: 1, size: 4, uops: &u, straddle: false }, core::slice::from_ref(&u));
            assert_eq!(e.fallbacks == 0, no_fallback(op), "{op:?}");
        }
    }

    /// `enter` leaves every wanted guest register in its cache register and the hart
    /// up to date for every dirty register it drops, from every cache state (each slot
    /// empty or holding one of four registers, clean or dirty) to every wanted
    /// assignment: the emitted moves and loads are run on a model of the registers.
    #[test]
    fn enter_moves_every_cache_state_to_every_wanted_one() {
        let regs = [0u8, 1, 2, 3, 4];
        let mut buf = [0u64; 64];
        let mut states = 0;
        let cases = regs.len().pow(NCACHE as u32);
        for from in 0..cases {
            for to in 0..cases {
                let pick = |mut k: usize| {
                    let mut a = [0u8; NCACHE];
                    for x in a.iter_mut() {
                        *x = regs[k % regs.len()];
                        k /= regs.len();
                    }
                    a
                };
                let (have, want) = (pick(from), pick(to));
                let distinct = |a: [u8; NCACHE]| (0..NCACHE).all(|i| a[i] == 0 || !a[..i].contains(&a[i]));
                if !distinct(have) || !distinct(want) {
                    continue;
                }
                for dirty_bits in 0..1u32 << NCACHE {
                    let dirty: [bool; NCACHE] = core::array::from_fn(|i| have[i] != 0 && dirty_bits & 1 << i != 0);
                    states += 1;
                    // The model: a guest register's current value is 100 + r if it is
                    // dirty in the cache, else 10 + r (what the hart holds).
                    let cur = |r: u8| if have.iter().zip(&dirty).any(|(&h, &d)| h == r && d) { 100 + u64::from(r) } else { 10 + u64::from(r) };
                    let mut hart = [0u64; 32];
                    for r in 1..32u8 {
                        hart[r as usize] = 10 + u64::from(r);
                    }
                    let mut host = [0u64; 11];
                    for (i, &r) in have.iter().enumerate() {
                        if r != 0 {
                            host[CACHE[i] as usize] = cur(r);
                        }
                    }
                    let mut scratch = LowerScratch::EMPTY;
                    let mut e = Emitter::new(&mut buf, 0, &mut scratch);
                    e.c = Cache { reg: have, dirty };
                    e.enter(want);
                    let n = e.n;
                    for &w in &buf[..n] {
                        let Insn { code, dst, src, off, .. } = Insn::decode(w);
                        let (dst, src) = (usize::from(dst), usize::from(src));
                        let slot = |o: i16| ((o as usize).wrapping_sub(OFF_X)) / 8;
                        match code {
                            c if c == ALU64 | X | MOV => host[dst] = host[src],
                            c if c == LDX | MEM | DW && src == usize::from(CTX) => host[dst] = hart[slot(off)],
                            c if c == STX | MEM | DW && dst == usize::from(CTX) => hart[slot(off)] = host[src],
                            _ => panic!("unexpected instruction {w:#x}"),
                        }
                    }
                    for (i, &r) in want.iter().enumerate() {
                        if r != 0 {
                            assert_eq!(host[CACHE[i] as usize], cur(r), "slot {i}: {have:?} (dirty {dirty:?}) -> {want:?}");
                        }
                    }
                    for r in 1..=4u8 {
                        if !want.contains(&r) {
                            assert_eq!(hart[r as usize], cur(r), "x{r} in the hart: {have:?} (dirty {dirty:?}) -> {want:?}");
                        }
                    }
                }
            }
        }
        assert!(states > 10_000, "{states} states");
    }

    /// A region of 16 blocks, each ending in a return-like `jalr x0, 0(x5)` that
    /// compares with 12 return landings in other pages (a budget stub and a guard stub
    /// each): as many stubs as the lowering places (MAX_STUBS), all pending at once in
    /// the checker, which must accept the program.
    #[test]
    fn the_most_stubs_pass_the_checker() {
        use super::super::t2check::{check, CheckEnv};
        const N: usize = 16;
        let jalr = [Uop { op: Op::Jalr, rd: X_SINK, rs1: 5, len: 4, ..Uop::default() }];
        let mut buf = [0u64; super::super::tier2::T2_BUF_INSNS];
        let mut scratch = LowerScratch::EMPTY;
        let mut e = Emitter::new(&mut buf, 0, &mut scratch);
        let vpc = |k: usize| 0x10_0000 + (k as u64) * 0x1000;
        for k in 0..N {
            e.s.vpcs[k] = vpc(k);
            e.s.ppcs[k] = vpc(k);
            e.s.tbs[k] = k as u32 + 1;
            e.s.entry[k] = entry_regs(&jalr);
        }
        e.nblocks = N;
        for t in 1..=12u32 {
            e.s.predicted[e.npredicted] = (u32::MAX, t);
            e.npredicted += 1;
        }
        e.prologue();
        e.enter(e.s.entry[0]);
        for k in 0..N {
            e.start_block(k, vpc(k));
            e.block(&TbInfo { vpc: vpc(k), ninsns: 1, size: 4, uops: jalr.as_ptr(), straddle: false }, &jalr);
        }
        let (nstubs, nfixups) = (e.nstubs, e.nfixups);
        let n = e.finish(N).unwrap_or_else(|| panic!("not lowered: {nstubs} stubs {nfixups} fixups"));
        let mut env = CheckEnv::new(0);
        for k in 0..N {
            assert!(env.add_block(k as u32 + 1, jalr.as_ptr() as u64, 1));
        }
        let r = check(&buf[..n], &env);
        assert!(r.is_ok(), "checker: {r:?}; {nstubs} stubs, {nfixups} fixups, {n} instructions");
    }

    #[test]
    fn encoding_matches_struct_bpf_insn() {
        // r2 = *(u64 *)(r6 - 8): code 0x79, regs 0x62, off 0xfff8, imm 0.
        assert_eq!(insn(LDX | MEM | DW, 2, 6, -8, 0).to_le_bytes(), [0x79, 0x62, 0xf8, 0xff, 0, 0, 0, 0]);
        // r0 = -1 (mov64 imm): code 0xb7.
        assert_eq!(insn(ALU64 | K | MOV, 0, 0, 0, -1).to_le_bytes(), [0xb7, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]);
        assert_eq!(insn(JMP | EXIT, 0, 0, 0, 0).to_le_bytes(), [0x95, 0, 0, 0, 0, 0, 0, 0]);
    }
}
