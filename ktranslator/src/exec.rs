//! The micro-op executor: runs one translated block.
//!
//! Every op has one handler (`op_*` below, `#[inline(always)]`), listed once in
//! `op_table!`, which generates the dispatch: a `match` on the op byte inside the loop
//! over the block's micro-ops ([`Hart::exec_uop`]); the handlers are inlined into the
//! arms. With jump tables this is one indirect jump per op; without them (x86 kernels:
//! IBT builds Rust with `-Cjump-tables=n`) LLVM emits a compare tree of about 8 levels
//! instead, and feature `hot-dispatch` (on in kemu.ko) gives the 32 hottest ops a tree
//! of their own, 3 levels shallower.
//!
//! The op's index in its block (`Uop::idx`) gives the retired count at an exit, so
//! the loop keeps no counter; memory accesses inline only the TLB hit path. Every
//! block ends in an `End` op, so the loop has no end check either, and a chain exit
//! (branch, `jal`, `End`) whose block is chained goes straight on to the next block's
//! first op inside the same loop ([`Hart::exit_chain`]): the loop is left only at real
//! exits. With no exit from its middle, LLVM copies the dispatch (load op, jump
//! through the table) into the end of every handler, so each op costs one indirect
//! jump and no other taken branch. Tail merging, which would join the handlers'
//! identical endings again, is off for the workspace (`.cargo/config.toml`, Kbuild).
//!
//! The `match` is the only dispatch design: a table of handler function pointers and a
//! threaded design (each handler calling the next) were measured against it and
//! dropped, since neither was faster where kemu runs (see docs/journal-code.md).

// Sign-extension chains (`as i32 as i64 as u64`) read best as casts.
#![allow(clippy::cast_lossless)]

use super::bus::Bus;
use super::csr::{cause, CsrOp, MSTATUS_FS, MSTATUS_TVM, MSTATUS_TW};
#[cfg(feature = "hot-dispatch")]
use super::decode::{is_fp_compute, HOT_LAST};
use super::decode::{is_fp_csr, Op, Uop, X_SINK};
use super::exit::ExitKind;
use super::hart::{prv, Hart};
use super::mmu::Stop;
use super::tcache::END_UOP;

#[inline(always)]
fn sext32(v: u64) -> u64 {
    v as u32 as i32 as i64 as u64
}

type AmoFn = fn(u64, u64) -> u64;

fn amo_fn(op: Op) -> AmoFn {
    use Op::*;
    match op {
        AmoswapW | AmoswapD => |_, b| b,
        AmoaddW | AmoaddD => |a, b| a.wrapping_add(b),
        AmoxorW | AmoxorD => |a, b| a ^ b,
        AmoandW | AmoandD => |a, b| a & b,
        AmoorW | AmoorD => |a, b| a | b,
        AmominW => |a, b| if (a as i32) < (b as i32) { a } else { b },
        AmomaxW => |a, b| if (a as i32) > (b as i32) { a } else { b },
        AmominuW => |a, b| if (a as u32) < (b as u32) { a } else { b },
        AmomaxuW => |a, b| if (a as u32) > (b as u32) { a } else { b },
        AmominD => |a, b| if (a as i64) < (b as i64) { a } else { b },
        AmomaxD => |a, b| if (a as i64) > (b as i64) { a } else { b },
        AmominuD => |a, b| a.min(b),
        _ => |a, b| a.max(b),
    }
}

impl Hart {
    #[inline(always)]
    fn retire(&mut self, n: usize) {
        self.stats.insns = self.stats.insns.wrapping_add(n as u64);
    }

    /// Instructions retired since the last reset (basis of mcycle/minstret).
    #[inline]
    pub(super) fn retired(&self) -> u64 {
        self.stats.insns.wrapping_sub(self.insns_at_reset)
    }

    /// The instruction of op `u` raised the pending exception (the ones before it in
    /// its block retired).
    #[cold]
    fn exit_trap(&mut self, u: &Uop) -> ExitKind {
        self.retire(usize::from(u.idx));
        self.pc = self.tb_vpc.wrapping_add(u64::from(u.pc_off));
        let (c, t) = (self.exc_cause, self.exc_tval);
        self.take_trap(c, t);
        ExitKind::Trap
    }

    #[cold]
    pub(super) fn exit_illegal(&mut self, u: &Uop) -> ExitKind {
        self.exc_cause = cause::ILLEGAL;
        self.exc_tval = u.insn_bits();
        self.exit_trap(u)
    }

    /// Leaves the current block through chain exit `slot` ([`ExitKind::Chain0`]:
    /// taken/static, [`ExitKind::Chain1`]: fall-through), whose target pc is `target`:
    /// on to the chained block inside `exec_tb` ([`ExitKind::Chained`]) when it has one
    /// and the run loop would chain too (tier 1 only, budget left, no stop request),
    /// else back to the run loop.
    #[inline(always)]
    fn exit_chain(&mut self, slot: ExitKind, target: u64) -> ExitKind {
        if !self.t2_on && self.may_chain() {
            let next = self.tc.chain(self.cur_tb, slot as usize);
            if next != 0 {
                if let Some((vpc, p)) = self.tc.entry(next) {
                    self.stats.chained = self.stats.chained.wrapping_add(1);
                    self.stats.tbs_executed = self.stats.tbs_executed.wrapping_add(1);
                    self.cur_tb = next;
                    self.tb_vpc = vpc;
                    self.next_uop = p;
                    return ExitKind::Chained;
                }
            }
        }
        self.pc = target;
        slot
    }

    /// The instruction of op `u` completed; leave with pc at the next one.
    pub(super) fn exit_next(&mut self, u: &Uop, kind: ExitKind) -> ExitKind {
        self.retire(usize::from(u.idx) + 1);
        self.pc = self.tb_vpc.wrapping_add(u64::from(u.pc_off) + u64::from(u.len));
        kind
    }

    fn amo(&mut self, u: &Uop, size: usize) -> Result<(), Stop> {
        let va = self.x[(u.rs1 & 63) as usize];
        let off = self.amo_offset(va, size, false).map_err(|_| Stop::Trap)?;
        let old = self.ram.read(off, size).unwrap_or(0);
        let src = self.x[(u.rs2 & 63) as usize];
        let new = amo_fn(u.op)(old, src);
        self.ram.write(off, size, new);
        self.x[(u.rd & 63) as usize] = if size == 4 { sext32(old) } else { old };
        if self.smc_check_phys(self.ram.base().wrapping_add(off)) {
            return Err(Stop::Resync);
        }
        Ok(())
    }

    fn lr(&mut self, u: &Uop, size: usize) -> Result<(), ()> {
        let va = self.x[(u.rs1 & 63) as usize];
        let off = self.amo_offset(va, size, true)?;
        let v = self.ram.read(off, size).unwrap_or(0);
        self.x[(u.rd & 63) as usize] = if size == 4 { sext32(v) } else { v };
        self.resv_valid = true;
        self.resv_addr = off;
        Ok(())
    }

    fn sc(&mut self, u: &Uop, size: usize) -> Result<(), Stop> {
        let va = self.x[(u.rs1 & 63) as usize];
        let off = self.amo_offset(va, size, false).map_err(|_| Stop::Trap)?;
        let ok = self.resv_valid && self.resv_addr == off;
        self.resv_valid = false;
        if ok {
            let v = self.x[(u.rs2 & 63) as usize];
            self.ram.write(off, size, v);
        }
        self.x[(u.rd & 63) as usize] = u64::from(!ok);
        if ok && self.smc_check_phys(self.ram.base().wrapping_add(off)) {
            return Err(Stop::Resync);
        }
        Ok(())
    }

    fn csr_insn(&mut self, bus: &mut dyn Bus, u: &Uop) -> Result<(), ()> {
        use Op::*;
        let num = (u.aux() & 0xfff) as u16;
        let imm_form = matches!(u.op, Csrrwi | Csrrsi | Csrrci);
        let src = if imm_form { u64::from(u.rs1) } else { self.x[(u.rs1 & 63) as usize] };
        let op = match u.op {
            Csrrw | Csrrwi => CsrOp::Write,
            Csrrs | Csrrsi => CsrOp::Set,
            _ => CsrOp::Clear,
        };
        let do_read = op != CsrOp::Write || u.rd != X_SINK;
        let do_write = op == CsrOp::Write || u.rs1 != 0;
        let old = self.csr_access(bus, num, op, src, do_read, do_write)?;
        self.x[(u.rd & 63) as usize] = old;
        Ok(())
    }

    /// Executes translated block `tb`; returns how it ended (an [`ExitKind`] up to
    /// [`ExitKind::Wfi`]) with `pc`, the counters and (for traps) the trap state updated.
    #[inline(always)]
    pub(super) fn exec_tb(&mut self, mut bus: &mut dyn Bus, tb: u32) -> ExitKind {
        self.stats.tbs_executed = self.stats.tbs_executed.wrapping_add(1);
        self.cur_tb = tb;
        if self.t2_on {
            // Tier-2 code first (its helper gets each block's virtual pc from the
            // program).
            let entry = self.tc.t2_entry(tb);
            if entry != 0 {
                return self.exec_t2(&mut bus, tb, entry);
            }
        }
        let (vpc, mut p) = self.tc.entry(tb).unwrap_or((self.pc, &END_UOP));
        self.tb_vpc = vpc;
        if self.t2_on && self.tc.bump_hot(tb) == u64::from(self.t2.threshold) && self.t2_compile(bus, tb) {
            let entry = self.tc.t2_entry(tb);
            return self.exec_t2(&mut bus, tb, entry);
        }
        loop {
            // SAFETY: `p` points at a micro-op of the current block inside the arena
            // (or at the static `End` of `tcache.rs`), written by the translator as a
            // valid `Uop`: it starts at a block's first (from `Tc::entry`, here or in
            // `exit_chain`) and advances only past ops that returned `Next`, and a
            // block's micro-ops are followed by an `End`, whose handler never does.
            // Micro-ops are only written by `translate_tb`, which never runs during
            // `exec_tb` (invalidation and flushes write TB headers, the bitmap and the
            // bucket heads, never micro-ops), and the arena is not part of `self`, so
            // the shared reference is not aliased by a write while it lives.
            let u = unsafe { &*p };
            let r = self.exec_uop(&mut bus, u);
            if r != ExitKind::Next {
                if r == ExitKind::Chained {
                    // The next block's first micro-op, from `Tc::entry` (see
                    // `exit_chain`).
                    p = self.next_uop;
                    continue;
                }
                return r;
            }
            // SAFETY: `u` was not the `End` (see above), so its successor is in the
            // block.
            p = unsafe { p.add(1) };
        }
    }
}

/// Sign-extends the low `n` bytes of `v`.
#[inline(always)]
fn sext_bytes(v: u64, n: usize) -> u64 {
    // n is 1, 2, 4 (or 8: no shift); the masks keep any n free of overflow.
    let sh = (64 - 8 * (n as u32 & 7)) & 63;
    (((v << sh) as i64) >> sh) as u64
}

/// Register-register and register-immediate ALU handlers: `|a, b, imm| value of rd`.
macro_rules! alu_handlers {
    ($($name:ident: |$a:ident, $b:ident, $imm:ident| $e:expr;)*) => {
        impl Hart {
            $(
                #[inline(always)]
                #[allow(unused_variables)] // `b` or `imm`
                fn $name(&mut self, _: &mut &mut dyn Bus, u: &Uop) -> ExitKind {
                    let $a = self.x[usize::from(u.rs1)];
                    let $b = self.x[usize::from(u.rs2)];
                    let $imm = u.imm;
                    self.x[usize::from(u.rd)] = $e;
                    ExitKind::Next
                }
            )*
        }
    };
}

alu_handlers! {
    op_addi: |a, b, imm| a.wrapping_add(imm);
    op_add: |a, b, imm| a.wrapping_add(b);
    op_li: |a, b, imm| imm;
    op_slti: |a, b, imm| u64::from((a as i64) < (imm as i64));
    op_sltiu: |a, b, imm| u64::from(a < imm);
    op_xori: |a, b, imm| a ^ imm;
    op_ori: |a, b, imm| a | imm;
    op_andi: |a, b, imm| a & imm;
    op_slli: |a, b, imm| a << (imm & 63);
    op_srli: |a, b, imm| a >> (imm & 63);
    op_srai: |a, b, imm| ((a as i64) >> (imm & 63)) as u64;
    op_sub: |a, b, imm| a.wrapping_sub(b);
    op_sll: |a, b, imm| a << (b & 63);
    op_slt: |a, b, imm| u64::from((a as i64) < (b as i64));
    op_sltu: |a, b, imm| u64::from(a < b);
    op_xor: |a, b, imm| a ^ b;
    op_srl: |a, b, imm| a >> (b & 63);
    op_sra: |a, b, imm| ((a as i64) >> (b & 63)) as u64;
    op_or: |a, b, imm| a | b;
    op_and: |a, b, imm| a & b;
    op_addiw: |a, b, imm| sext32(a.wrapping_add(imm));
    op_slliw: |a, b, imm| sext32(a << (imm & 31));
    op_srliw: |a, b, imm| sext32(u64::from((a as u32) >> (imm & 31)));
    op_sraiw: |a, b, imm| ((a as i32) >> (imm & 31)) as i64 as u64;
    op_addw: |a, b, imm| sext32(a.wrapping_add(b));
    op_subw: |a, b, imm| sext32(a.wrapping_sub(b));
    op_sllw: |a, b, imm| sext32(a << (b & 31));
    op_srlw: |a, b, imm| sext32(u64::from((a as u32) >> (b & 31)));
    op_sraw: |a, b, imm| ((a as i32) >> (b & 31)) as i64 as u64;
    op_mul: |a, b, imm| a.wrapping_mul(b);
    op_mulh: |a, b, imm| ((a as i64 as i128).wrapping_mul(b as i64 as i128) >> 64) as u64;
    op_mulhsu: |a, b, imm| ((a as i64 as i128).wrapping_mul(b as i128) >> 64) as u64;
    op_mulhu: |a, b, imm| ((a as u128).wrapping_mul(b as u128) >> 64) as u64;
    op_div: |a, b, imm| if b == 0 { u64::MAX } else { (a as i64).wrapping_div(b as i64) as u64 };
    op_divu: |a, b, imm| a.checked_div(b).unwrap_or(u64::MAX);
    op_rem: |a, b, imm| if b == 0 { a } else { (a as i64).wrapping_rem(b as i64) as u64 };
    op_remu: |a, b, imm| a.checked_rem(b).unwrap_or(a);
    op_mulw: |a, b, imm| sext32(a.wrapping_mul(b));
    op_divw: |a, b, imm| if b as u32 == 0 { u64::MAX } else { (a as i32).wrapping_div(b as i32) as i64 as u64 };
    op_divuw: |a, b, imm| (a as u32).checked_div(b as u32).map_or(u64::MAX, |q| sext32(u64::from(q)));
    op_remw: |a, b, imm| if b as u32 == 0 { sext32(a) } else { (a as i32).wrapping_rem(b as i32) as i64 as u64 };
    op_remuw: |a, b, imm| if b as u32 == 0 { sext32(a) } else { sext32(u64::from(a as u32 % b as u32)) };
}

/// Branch conditions (const parameter of [`Hart::op_branch`]).
const BEQ: u8 = 0;
const BNE: u8 = 1;
const BLT: u8 = 2;
const BGE: u8 = 3;
const BLTU: u8 = 4;
const BGEU: u8 = 5;

impl Hart {
    #[inline(always)]
    fn op_load<const N: usize, const SIGNED: bool>(&mut self, bus: &mut &mut dyn Bus, u: &Uop) -> ExitKind {
        let va = self.x[usize::from(u.rs1)].wrapping_add(u.imm);
        match self.load(&mut **bus, va, N) {
            Ok(v) => {
                self.x[usize::from(u.rd)] = if SIGNED { sext_bytes(v, N) } else { v };
                ExitKind::Next
            }
            Err(()) => self.exit_trap(u),
        }
    }

    #[inline(always)]
    fn store_result(&mut self, r: Result<(), Stop>, u: &Uop) -> ExitKind {
        match r {
            Ok(()) => ExitKind::Next,
            Err(Stop::Trap) => self.exit_trap(u),
            Err(Stop::Resync) => self.exit_next(u, ExitKind::Sync),
        }
    }

    #[inline(always)]
    fn op_store<const N: usize>(&mut self, bus: &mut &mut dyn Bus, u: &Uop) -> ExitKind {
        let va = self.x[usize::from(u.rs1)].wrapping_add(u.imm);
        let v = self.x[usize::from(u.rs2)];
        let r = self.store(&mut **bus, va, N, v);
        self.store_result(r, u)
    }

    #[inline(always)]
    fn op_branch<const C: u8>(&mut self, _: &mut &mut dyn Bus, u: &Uop) -> ExitKind {
        let a = self.x[usize::from(u.rs1)];
        let b = self.x[usize::from(u.rs2)];
        let taken = match C {
            BEQ => a == b,
            BNE => a != b,
            BLT => (a as i64) < (b as i64),
            BGE => (a as i64) >= (b as i64),
            BLTU => a < b,
            _ => a >= b,
        };
        self.retire(usize::from(u.idx) + 1);
        let here = self.tb_vpc.wrapping_add(u64::from(u.pc_off));
        if taken {
            self.exit_chain(ExitKind::Chain0, here.wrapping_add(u.imm))
        } else {
            self.exit_chain(ExitKind::Chain1, here.wrapping_add(u64::from(u.len)))
        }
    }

    #[inline(always)]
    fn op_jal(&mut self, _: &mut &mut dyn Bus, u: &Uop) -> ExitKind {
        self.retire(usize::from(u.idx) + 1);
        let here = self.tb_vpc.wrapping_add(u64::from(u.pc_off));
        self.x[usize::from(u.rd)] = here.wrapping_add(u64::from(u.len));
        self.exit_chain(ExitKind::Chain0, here.wrapping_add(u.imm))
    }

    #[inline(always)]
    fn op_jalr(&mut self, _: &mut &mut dyn Bus, u: &Uop) -> ExitKind {
        let a = self.x[usize::from(u.rs1)];
        self.retire(usize::from(u.idx) + 1);
        let here = self.tb_vpc.wrapping_add(u64::from(u.pc_off));
        self.x[usize::from(u.rd)] = here.wrapping_add(u64::from(u.len));
        self.pc = a.wrapping_add(u.imm) & !1;
        ExitKind::Jump
    }

    #[inline(always)]
    fn op_nop(&mut self, _: &mut &mut dyn Bus, _: &Uop) -> ExitKind {
        ExitKind::Next
    }

    #[inline(always)]
    fn op_end(&mut self, _: &mut &mut dyn Bus, u: &Uop) -> ExitKind {
        self.retire(usize::from(u.idx));
        self.exit_chain(ExitKind::Chain1, self.tb_vpc.wrapping_add(u64::from(u.pc_off)))
    }

    #[inline(always)]
    fn op_illegal(&mut self, _: &mut &mut dyn Bus, u: &Uop) -> ExitKind {
        self.exit_illegal(u)
    }

    #[inline(always)]
    fn op_fence_i(&mut self, _: &mut &mut dyn Bus, u: &Uop) -> ExitKind {
        // Every write into translated code already dropped the TBs of its page when it
        // happened (tcache.rs): nothing is stale here.
        self.stats.fence_i += 1;
        self.exit_next(u, ExitKind::Sync)
    }

    #[inline(always)]
    fn op_ecall(&mut self, _: &mut &mut dyn Bus, u: &Uop) -> ExitKind {
        self.exc_cause = cause::ECALL_U + u64::from(self.prv);
        self.exc_tval = 0;
        self.exit_trap(u)
    }

    #[inline(always)]
    fn op_ebreak(&mut self, _: &mut &mut dyn Bus, u: &Uop) -> ExitKind {
        self.exc_cause = cause::BREAKPOINT;
        self.exc_tval = self.tb_vpc.wrapping_add(u64::from(u.pc_off));
        self.exit_trap(u)
    }

    #[inline(always)]
    fn op_xret(&mut self, _: &mut &mut dyn Bus, u: &Uop) -> ExitKind {
        let r = if u.op == Op::Mret { self.do_mret() } else { self.do_sret() };
        if r.is_err() {
            return self.exit_illegal(u);
        }
        self.retire(usize::from(u.idx) + 1);
        ExitKind::Sync
    }

    #[inline(always)]
    fn op_wfi(&mut self, _: &mut &mut dyn Bus, u: &Uop) -> ExitKind {
        if self.prv == prv::U || (self.prv == prv::S && self.csr.mstatus & MSTATUS_TW != 0) {
            return self.exit_illegal(u);
        }
        self.exit_next(u, ExitKind::Wfi)
    }

    #[inline(always)]
    fn op_sfence_vma(&mut self, _: &mut &mut dyn Bus, u: &Uop) -> ExitKind {
        if self.prv == prv::U || (self.prv == prv::S && self.csr.mstatus & MSTATUS_TVM != 0) {
            return self.exit_illegal(u);
        }
        // rs1 names one address, x0 all of them; rs2 (an ASID) narrows nothing here.
        if u.rs1 == 0 {
            self.tlb_flush();
        } else {
            self.tlb_flush_page(self.x[usize::from(u.rs1)]);
        }
        self.exit_next(u, ExitKind::Sync)
    }

    #[inline(always)]
    fn op_csr(&mut self, bus: &mut &mut dyn Bus, u: &Uop) -> ExitKind {
        if self.csr_insn(&mut **bus, u).is_err() {
            return self.exit_illegal(u);
        }
        if is_fp_csr(u) {
            // Inside a block (decode.rs): the block goes on.
            return ExitKind::Next;
        }
        self.exit_next(u, ExitKind::Sync)
    }

    #[inline(always)]
    fn op_lr<const N: usize>(&mut self, _: &mut &mut dyn Bus, u: &Uop) -> ExitKind {
        if self.lr(u, N).is_err() {
            return self.exit_trap(u);
        }
        ExitKind::Next
    }

    #[inline(always)]
    fn op_sc<const N: usize>(&mut self, _: &mut &mut dyn Bus, u: &Uop) -> ExitKind {
        let r = self.sc(u, N);
        self.store_result(r, u)
    }

    #[inline(always)]
    fn op_amo<const N: usize>(&mut self, _: &mut &mut dyn Bus, u: &Uop) -> ExitKind {
        let r = self.amo(u, N);
        self.store_result(r, u)
    }

    #[inline(always)]
    fn op_fload<const N: usize>(&mut self, bus: &mut &mut dyn Bus, u: &Uop) -> ExitKind {
        if self.csr.mstatus & MSTATUS_FS == 0 {
            return self.exit_illegal(u);
        }
        let va = self.x[usize::from(u.rs1)].wrapping_add(u.imm);
        match self.load(&mut **bus, va, N) {
            Ok(v) => {
                self.f[(u.rd & 31) as usize] = if N == 4 { v | 0xffff_ffff_0000_0000 } else { v };
                self.csr.mstatus |= MSTATUS_FS;
                ExitKind::Next
            }
            Err(()) => self.exit_trap(u),
        }
    }

    #[inline(always)]
    fn op_fstore<const N: usize>(&mut self, bus: &mut &mut dyn Bus, u: &Uop) -> ExitKind {
        if self.csr.mstatus & MSTATUS_FS == 0 {
            return self.exit_illegal(u);
        }
        let va = self.x[usize::from(u.rs1)].wrapping_add(u.imm);
        let v = self.f[(u.rs2 & 31) as usize];
        let r = self.store(&mut **bus, va, N, v);
        self.store_result(r, u)
    }
}

/// Lists the handler of every op once, and generates from it the dispatch
/// ([`Hart::exec_uop`]). The match must name every op (the compiler checks it), so it
/// needs no range check before its jump table.
macro_rules! op_table {
    ($($($op:ident)|+ => $h:expr,)*) => {
        impl Hart {
            /// Runs micro-op `u` of the current block with its handler; returns
            /// [`ExitKind::Next`] or the kind of exit that ends the block.
            #[inline(always)]
            pub(super) fn exec_uop(&mut self, bus: &mut &mut dyn Bus, u: &Uop) -> ExitKind {
                use Op::*;
                // Without jump tables, the hot ops' own compare tree (LLVM drops the
                // cases the range check rules out from each copy).
                #[cfg(feature = "hot-dispatch")]
                if u.op as u8 <= HOT_LAST as u8 {
                    return match u.op {
                        $($($op)|+ => $h(self, bus, u),)*
                    };
                }
                // And the F/D ops out of line: inlined into this compare tree, their
                // handlers made the dispatch of the others slower (kemu.ko's Debian
                // boot in the TCG test VM, one run each: 16.4 s before they had
                // handlers of their own, 19.4-20.4 s with them inline, 16.6 s out of
                // line).
                #[cfg(feature = "hot-dispatch")]
                if is_fp_compute(u.op) {
                    return self.exec_fp_uop(bus, u);
                }
                match u.op {
                    $($($op)|+ => $h(self, bus, u),)*
                }
            }

            /// [`Hart::exec_uop`] of an F/D computational op, out of line.
            #[cfg(feature = "hot-dispatch")]
            #[inline(never)]
            fn exec_fp_uop(&mut self, bus: &mut &mut dyn Bus, u: &Uop) -> ExitKind {
                use Op::*;
                match u.op {
                    $($($op)|+ => $h(self, bus, u),)*
                }
            }
        }
    };
}

op_table! {
    Addi => Hart::op_addi,
    Add => Hart::op_add,
    Li => Hart::op_li,
    Ld => Hart::op_load::<8, false>,
    Sd => Hart::op_store::<8>,
    Lw => Hart::op_load::<4, true>,
    Sw => Hart::op_store::<4>,
    Beq => Hart::op_branch::<BEQ>,
    Bne => Hart::op_branch::<BNE>,
    Blt => Hart::op_branch::<BLT>,
    Bge => Hart::op_branch::<BGE>,
    Bltu => Hart::op_branch::<BLTU>,
    Bgeu => Hart::op_branch::<BGEU>,
    Jal => Hart::op_jal,
    Jalr => Hart::op_jalr,
    Lb => Hart::op_load::<1, true>,
    Lh => Hart::op_load::<2, true>,
    Lbu => Hart::op_load::<1, false>,
    Lhu => Hart::op_load::<2, false>,
    Lwu => Hart::op_load::<4, false>,
    Sb => Hart::op_store::<1>,
    Sh => Hart::op_store::<2>,
    Slti => Hart::op_slti,
    Sltiu => Hart::op_sltiu,
    Xori => Hart::op_xori,
    Ori => Hart::op_ori,
    Andi => Hart::op_andi,
    Slli => Hart::op_slli,
    Srli => Hart::op_srli,
    Srai => Hart::op_srai,
    Sub => Hart::op_sub,
    Sll => Hart::op_sll,
    Slt => Hart::op_slt,
    Sltu => Hart::op_sltu,
    Xor => Hart::op_xor,
    Srl => Hart::op_srl,
    Sra => Hart::op_sra,
    Or => Hart::op_or,
    And => Hart::op_and,
    Addiw => Hart::op_addiw,
    Slliw => Hart::op_slliw,
    Srliw => Hart::op_srliw,
    Sraiw => Hart::op_sraiw,
    Addw => Hart::op_addw,
    Subw => Hart::op_subw,
    Sllw => Hart::op_sllw,
    Srlw => Hart::op_srlw,
    Sraw => Hart::op_sraw,
    Mul => Hart::op_mul,
    Mulh => Hart::op_mulh,
    Mulhsu => Hart::op_mulhsu,
    Mulhu => Hart::op_mulhu,
    Div => Hart::op_div,
    Divu => Hart::op_divu,
    Rem => Hart::op_rem,
    Remu => Hart::op_remu,
    Mulw => Hart::op_mulw,
    Divw => Hart::op_divw,
    Divuw => Hart::op_divuw,
    Remw => Hart::op_remw,
    Remuw => Hart::op_remuw,
    Nop => Hart::op_nop,
    End => Hart::op_end,
    Illegal => Hart::op_illegal,
    FenceI => Hart::op_fence_i,
    Ecall => Hart::op_ecall,
    Ebreak => Hart::op_ebreak,
    Mret | Sret => Hart::op_xret,
    Wfi => Hart::op_wfi,
    SfenceVma => Hart::op_sfence_vma,
    Csrrw | Csrrs | Csrrc | Csrrwi | Csrrsi | Csrrci => Hart::op_csr,
    LrW => Hart::op_lr::<4>,
    LrD => Hart::op_lr::<8>,
    ScW => Hart::op_sc::<4>,
    ScD => Hart::op_sc::<8>,
    AmoswapW | AmoaddW | AmoxorW | AmoandW | AmoorW | AmominW | AmomaxW | AmominuW | AmomaxuW => Hart::op_amo::<4>,
    AmoswapD | AmoaddD | AmoxorD | AmoandD | AmoorD | AmominD | AmomaxD | AmominuD | AmomaxuD => Hart::op_amo::<8>,
    Flw => Hart::op_fload::<4>,
    Fld => Hart::op_fload::<8>,
    Fsw => Hart::op_fstore::<4>,
    Fsd => Hart::op_fstore::<8>,
    FmaddS => Hart::op_fmadd_s,
    FmsubS => Hart::op_fmsub_s,
    FnmsubS => Hart::op_fnmsub_s,
    FnmaddS => Hart::op_fnmadd_s,
    FaddS => Hart::op_fadd_s,
    FsubS => Hart::op_fsub_s,
    FmulS => Hart::op_fmul_s,
    FdivS => Hart::op_fdiv_s,
    FsqrtS => Hart::op_fsqrt_s,
    FsgnjS => Hart::op_fsgnj_s,
    FsgnjnS => Hart::op_fsgnjn_s,
    FsgnjxS => Hart::op_fsgnjx_s,
    FminS => Hart::op_fmin_s,
    FmaxS => Hart::op_fmax_s,
    FcvtWS => Hart::op_fcvt_w_s,
    FcvtWuS => Hart::op_fcvt_wu_s,
    FcvtLS => Hart::op_fcvt_l_s,
    FcvtLuS => Hart::op_fcvt_lu_s,
    FmvXW => Hart::op_fmv_x_w,
    FeqS => Hart::op_feq_s,
    FltS => Hart::op_flt_s,
    FleS => Hart::op_fle_s,
    FclassS => Hart::op_fclass_s,
    FcvtSW => Hart::op_fcvt_s_w,
    FcvtSWu => Hart::op_fcvt_s_wu,
    FcvtSL => Hart::op_fcvt_s_l,
    FcvtSLu => Hart::op_fcvt_s_lu,
    FmvWX => Hart::op_fmv_w_x,
    FmaddD => Hart::op_fmadd_d,
    FmsubD => Hart::op_fmsub_d,
    FnmsubD => Hart::op_fnmsub_d,
    FnmaddD => Hart::op_fnmadd_d,
    FaddD => Hart::op_fadd_d,
    FsubD => Hart::op_fsub_d,
    FmulD => Hart::op_fmul_d,
    FdivD => Hart::op_fdiv_d,
    FsqrtD => Hart::op_fsqrt_d,
    FsgnjD => Hart::op_fsgnj_d,
    FsgnjnD => Hart::op_fsgnjn_d,
    FsgnjxD => Hart::op_fsgnjx_d,
    FminD => Hart::op_fmin_d,
    FmaxD => Hart::op_fmax_d,
    FcvtWD => Hart::op_fcvt_w_d,
    FcvtWuD => Hart::op_fcvt_wu_d,
    FcvtLD => Hart::op_fcvt_l_d,
    FcvtLuD => Hart::op_fcvt_lu_d,
    FmvXD => Hart::op_fmv_x_d,
    FeqD => Hart::op_feq_d,
    FltD => Hart::op_flt_d,
    FleD => Hart::op_fle_d,
    FclassD => Hart::op_fclass_d,
    FcvtDW => Hart::op_fcvt_d_w,
    FcvtDWu => Hart::op_fcvt_d_wu,
    FcvtDL => Hart::op_fcvt_d_l,
    FcvtDLu => Hart::op_fcvt_d_lu,
    FmvDX => Hart::op_fmv_d_x,
    FcvtSD => Hart::op_fcvt_s_d,
    FcvtDS => Hart::op_fcvt_d_s,
}
