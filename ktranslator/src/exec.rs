//! The micro-op executor: runs one translated block.
//!
//! Dispatch is a `match` on the op byte inside a loop over the block's micro-ops. In
//! userspace LLVM compiles it to a jump table (one indirect branch per op, predicted
//! per site); in the kernel (x86 builds Rust with `-Zno-jump-tables` and retpolines)
//! it becomes a balanced compare tree of about 8 levels, which is still cheaper than
//! a function-pointer threaded design there, because every indirect call through a
//! retpoline thunk costs a guaranteed mispredict. The handlers are inline in the
//! match, so the register file stays addressed off one pointer and there is no call
//! overhead; memory accesses inline only the TLB hit path. See the `bench` test for
//! MIPS numbers of both build styles.

// Sign-extension chains (`as i32 as i64 as u64`) read best as casts.
#![allow(clippy::cast_lossless)]

use super::bus::Bus;
use super::csr::{cause, CsrOp, MSTATUS_FS, MSTATUS_TVM, MSTATUS_TW};
use super::decode::{Op, Uop, X_SINK};
use super::hart::{prv, Hart};
use super::mmu::Stop;

/// Left through the taken/static exit (chain slot 0).
pub(super) const EXIT_CHAIN0: u8 = 0;
/// Left through the fall-through exit (chain slot 1).
pub(super) const EXIT_CHAIN1: u8 = 1;
/// Indirect jump: look the target up.
pub(super) const EXIT_JUMP: u8 = 2;
/// Static state changed (CSR, xRET, fences, invalidated code): look up again.
pub(super) const EXIT_SYNC: u8 = 3;
/// A trap was taken.
pub(super) const EXIT_TRAP: u8 = 4;
/// WFI retired.
pub(super) const EXIT_WFI: u8 = 5;

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
        self.retired = self.retired.wrapping_add(n as u64);
        self.stats.insns = self.stats.insns.wrapping_add(n as u64);
    }

    /// The instruction at index `i` (op `u`) raised the pending exception.
    #[cold]
    fn exit_trap(&mut self, vpc: u64, u: &Uop, i: usize) -> u8 {
        self.retire(i);
        self.pc = vpc.wrapping_add(u64::from(u.pc_off));
        let (c, t) = (self.exc_cause, self.exc_tval);
        self.take_trap(c, t);
        EXIT_TRAP
    }

    #[cold]
    fn exit_illegal(&mut self, vpc: u64, u: &Uop, i: usize) -> u8 {
        self.exc_cause = cause::ILLEGAL;
        self.exc_tval = u.insn_bits();
        self.exit_trap(vpc, u, i)
    }

    /// The instruction at index `i` completed; leave with pc at the next one.
    fn exit_next(&mut self, vpc: u64, u: &Uop, i: usize, kind: u8) -> u8 {
        self.retire(i + 1);
        self.pc = vpc.wrapping_add(u64::from(u.pc_off) + u64::from(u.len));
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

    /// Executes translated block `tb`; returns one of the `EXIT_*` kinds with `pc`,
    /// the counters and (for traps) the trap state updated.
    pub(super) fn exec_tb(&mut self, bus: &mut dyn Bus, tb: u32) -> u8 {
        use Op::*;
        let info = self.tc.info(tb);
        let vpc = info.vpc;
        self.stats.tbs_executed = self.stats.tbs_executed.wrapping_add(1);
        let mut i = 0;
        while i < info.ninsns {
            // SAFETY: `info.uops` points at `info.ninsns` micro-ops inside the arena
            // (checked by `Tc::info`), all written by the translator as valid `Uop`s.
            // Micro-ops are only written by `translate_tb`, which never runs during
            // `exec_tb` (invalidation and flushes write TB headers, the bitmap and the
            // bucket heads, never micro-ops), and the arena is not part of `self`, so
            // the shared reference is not aliased by a write while it lives. Fields are
            // read where they are needed (only op, registers and imm on the fast path).
            let u: &Uop = unsafe { &*info.uops.add(i) };
            let rd = usize::from(u.rd);
            let a = self.x[usize::from(u.rs1)];
            let b = self.x[usize::from(u.rs2)];
            let imm = u.imm;
            macro_rules! w {
                ($v:expr) => {{
                    let v = $v;
                    self.x[rd] = v;
                }};
            }
            macro_rules! load {
                ($size:expr, |$v:ident| $ext:expr) => {
                    match self.load(bus, a.wrapping_add(imm), $size) {
                        Ok($v) => self.x[rd] = $ext,
                        Err(()) => return self.exit_trap(vpc, u, i),
                    }
                };
            }
            macro_rules! store {
                ($size:expr, $val:expr) => {
                    match self.store(bus, a.wrapping_add(imm), $size, $val) {
                        Ok(()) => {}
                        Err(Stop::Trap) => return self.exit_trap(vpc, u, i),
                        Err(Stop::Resync) => return self.exit_next(vpc, u, i, EXIT_SYNC),
                    }
                };
            }
            macro_rules! branch {
                ($cond:expr) => {{
                    self.retire(i + 1);
                    let here = vpc.wrapping_add(u64::from(u.pc_off));
                    return if $cond {
                        self.pc = here.wrapping_add(imm);
                        EXIT_CHAIN0
                    } else {
                        self.pc = here.wrapping_add(u64::from(u.len));
                        EXIT_CHAIN1
                    };
                }};
            }
            macro_rules! fp_on {
                () => {
                    if self.csr.mstatus & MSTATUS_FS == 0 {
                        return self.exit_illegal(vpc, u, i);
                    }
                };
            }
            match u.op {
                Addi => w!(a.wrapping_add(imm)),
                Add => w!(a.wrapping_add(b)),
                Li => w!(imm),
                Ld => load!(8, |v| v),
                Sd => store!(8, b),
                Lw => load!(4, |v| sext32(v)),
                Sw => store!(4, b),
                Beq => branch!(a == b),
                Bne => branch!(a != b),
                Blt => branch!((a as i64) < (b as i64)),
                Bge => branch!((a as i64) >= (b as i64)),
                Bltu => branch!(a < b),
                Bgeu => branch!(a >= b),
                Jal => {
                    self.retire(i + 1);
                    let here = vpc.wrapping_add(u64::from(u.pc_off));
                    self.x[rd] = here.wrapping_add(u64::from(u.len));
                    self.pc = here.wrapping_add(imm);
                    return EXIT_CHAIN0;
                }
                Jalr => {
                    self.retire(i + 1);
                    let here = vpc.wrapping_add(u64::from(u.pc_off));
                    self.x[rd] = here.wrapping_add(u64::from(u.len));
                    self.pc = a.wrapping_add(imm) & !1;
                    return EXIT_JUMP;
                }
                Lb => load!(1, |v| v as u8 as i8 as i64 as u64),
                Lh => load!(2, |v| v as u16 as i16 as i64 as u64),
                Lbu => load!(1, |v| v),
                Lhu => load!(2, |v| v),
                Lwu => load!(4, |v| v),
                Sb => store!(1, b),
                Sh => store!(2, b),
                Slti => w!(u64::from((a as i64) < (imm as i64))),
                Sltiu => w!(u64::from(a < imm)),
                Xori => w!(a ^ imm),
                Ori => w!(a | imm),
                Andi => w!(a & imm),
                Slli => w!(a << (imm & 63)),
                Srli => w!(a >> (imm & 63)),
                Srai => w!(((a as i64) >> (imm & 63)) as u64),
                Sub => w!(a.wrapping_sub(b)),
                Sll => w!(a << (b & 63)),
                Slt => w!(u64::from((a as i64) < (b as i64))),
                Sltu => w!(u64::from(a < b)),
                Xor => w!(a ^ b),
                Srl => w!(a >> (b & 63)),
                Sra => w!(((a as i64) >> (b & 63)) as u64),
                Or => w!(a | b),
                And => w!(a & b),
                Addiw => w!(sext32(a.wrapping_add(imm))),
                Slliw => w!(sext32(a << (imm & 31))),
                Srliw => w!(sext32(u64::from((a as u32) >> (imm & 31)))),
                Sraiw => w!(((a as i32) >> (imm & 31)) as i64 as u64),
                Addw => w!(sext32(a.wrapping_add(b))),
                Subw => w!(sext32(a.wrapping_sub(b))),
                Sllw => w!(sext32(a << (b & 31))),
                Srlw => w!(sext32(u64::from((a as u32) >> (b & 31)))),
                Sraw => w!(((a as i32) >> (b & 31)) as i64 as u64),
                Mul => w!(a.wrapping_mul(b)),
                Mulh => w!(((a as i64 as i128).wrapping_mul(b as i64 as i128) >> 64) as u64),
                Mulhsu => w!(((a as i64 as i128).wrapping_mul(b as i128) >> 64) as u64),
                Mulhu => w!(((a as u128).wrapping_mul(b as u128) >> 64) as u64),
                Div => w!(if b == 0 { u64::MAX } else { (a as i64).wrapping_div(b as i64) as u64 }),
                Divu => w!(a.checked_div(b).unwrap_or(u64::MAX)),
                Rem => w!(if b == 0 { a } else { (a as i64).wrapping_rem(b as i64) as u64 }),
                Remu => w!(if b == 0 { a } else { a % b }),
                Mulw => w!(sext32(a.wrapping_mul(b))),
                Divw => w!(if b as u32 == 0 { u64::MAX } else { (a as i32).wrapping_div(b as i32) as i64 as u64 }),
                Divuw => w!((a as u32).checked_div(b as u32).map_or(u64::MAX, |q| sext32(u64::from(q)))),
                Remw => w!(if b as u32 == 0 { sext32(a) } else { (a as i32).wrapping_rem(b as i32) as i64 as u64 }),
                Remuw => w!(if b as u32 == 0 { sext32(a) } else { sext32(u64::from(a as u32 % b as u32)) }),
                Nop => {}
                Illegal => return self.exit_illegal(vpc, u, i),
                FenceI => {
                    // Every write into translated code already dropped the TBs of its
                    // page when it happened (tcache.rs): nothing is stale here.
                    self.stats.fence_i += 1;
                    return self.exit_next(vpc, u, i, EXIT_SYNC);
                }
                Ecall => {
                    self.exc_cause = cause::ECALL_U + u64::from(self.prv);
                    self.exc_tval = 0;
                    return self.exit_trap(vpc, u, i);
                }
                Ebreak => {
                    self.exc_cause = cause::BREAKPOINT;
                    self.exc_tval = vpc.wrapping_add(u64::from(u.pc_off));
                    return self.exit_trap(vpc, u, i);
                }
                Mret | Sret => {
                    let r = if u.op == Mret { self.do_mret() } else { self.do_sret() };
                    if r.is_err() {
                        return self.exit_illegal(vpc, u, i);
                    }
                    self.retire(i + 1);
                    return EXIT_SYNC;
                }
                Wfi => {
                    if self.prv == prv::U || (self.prv == prv::S && self.csr.mstatus & MSTATUS_TW != 0) {
                        return self.exit_illegal(vpc, u, i);
                    }
                    return self.exit_next(vpc, u, i, EXIT_WFI);
                }
                SfenceVma => {
                    if self.prv == prv::U || (self.prv == prv::S && self.csr.mstatus & MSTATUS_TVM != 0) {
                        return self.exit_illegal(vpc, u, i);
                    }
                    self.tlb_flush();
                    return self.exit_next(vpc, u, i, EXIT_SYNC);
                }
                Csrrw | Csrrs | Csrrc | Csrrwi | Csrrsi | Csrrci => {
                    if self.csr_insn(bus, u).is_err() {
                        return self.exit_illegal(vpc, u, i);
                    }
                    return self.exit_next(vpc, u, i, EXIT_SYNC);
                }
                LrW | LrD => {
                    if self.lr(u, if u.op == LrW { 4 } else { 8 }).is_err() {
                        return self.exit_trap(vpc, u, i);
                    }
                }
                ScW | ScD => match self.sc(u, if u.op == ScW { 4 } else { 8 }) {
                    Ok(()) => {}
                    Err(Stop::Trap) => return self.exit_trap(vpc, u, i),
                    Err(Stop::Resync) => return self.exit_next(vpc, u, i, EXIT_SYNC),
                },
                AmoswapW | AmoaddW | AmoxorW | AmoandW | AmoorW | AmominW | AmomaxW | AmominuW | AmomaxuW | AmoswapD
                | AmoaddD | AmoxorD | AmoandD | AmoorD | AmominD | AmomaxD | AmominuD | AmomaxuD => {
                    let size = if (u.op as u8) < (LrD as u8) { 4 } else { 8 };
                    match self.amo(u, size) {
                        Ok(()) => {}
                        Err(Stop::Trap) => return self.exit_trap(vpc, u, i),
                        Err(Stop::Resync) => return self.exit_next(vpc, u, i, EXIT_SYNC),
                    }
                }
                Flw | Fld => {
                    fp_on!();
                    let size = if u.op == Flw { 4 } else { 8 };
                    match self.load(bus, a.wrapping_add(imm), size) {
                        Ok(v) => {
                            self.f[(u.rd & 31) as usize] = if size == 4 { v | 0xffff_ffff_0000_0000 } else { v };
                            self.csr.mstatus |= MSTATUS_FS;
                        }
                        Err(()) => return self.exit_trap(vpc, u, i),
                    }
                }
                Fsw | Fsd => {
                    fp_on!();
                    let v = self.f[(u.rs2 & 31) as usize];
                    store!(if u.op == Fsw { 4 } else { 8 }, v);
                }
                FmaddS | FmsubS | FnmsubS | FnmaddS | FaddS | FsubS | FmulS | FdivS | FsqrtS | FsgnjS | FsgnjnS | FsgnjxS
                | FminS | FmaxS | FcvtWS | FcvtWuS | FcvtLS | FcvtLuS | FmvXW | FeqS | FltS | FleS | FclassS | FcvtSW
                | FcvtSWu | FcvtSL | FcvtSLu | FmvWX | FmaddD | FmsubD | FnmsubD | FnmaddD | FaddD | FsubD | FmulD
                | FdivD | FsqrtD | FsgnjD | FsgnjnD | FsgnjxD | FminD | FmaxD | FcvtWD | FcvtWuD | FcvtLD | FcvtLuD
                | FmvXD | FeqD | FltD | FleD | FclassD | FcvtDW | FcvtDWu | FcvtDL | FcvtDLu | FmvDX | FcvtSD | FcvtDS => {
                    // Listed (not `_`) so that the match covers every op and needs no
                    // range check before its jump table.
                    if self.exec_fp(u).is_err() {
                        return self.exit_illegal(vpc, u, i);
                    }
                }
            }
            i += 1;
        }
        self.retire(info.ninsns);
        self.pc = vpc.wrapping_add(info.size);
        EXIT_CHAIN1
    }
}
