//! Control and status registers, traps and interrupts.
//!
//! CSRs are described by a table in the style of QEMU's `csr_ops`: each implemented CSR
//! (or range of CSRs) has a predicate (may the current mode access it, beyond the
//! generic privilege/read-only rules encoded in the CSR number), a read function and an
//! optional write function. Anything not in the table is an illegal instruction.

use super::bus::Bus;
use super::hart::{prv, Hart};
use super::isa;

/// CSR numbers (the privileged spec's table 2.2-2.6), by their names: the CSR table below
/// and every user of a CSR number say them by name.
pub mod num {
    /// `fflags`.
    pub const FFLAGS: u16 = 0x001;
    /// `frm`.
    pub const FRM: u16 = 0x002;
    /// `fcsr`.
    pub const FCSR: u16 = 0x003;
    /// `sstatus`.
    pub const SSTATUS: u16 = 0x100;
    /// `sie`.
    pub const SIE: u16 = 0x104;
    /// `stvec`.
    pub const STVEC: u16 = 0x105;
    /// `scounteren`.
    pub const SCOUNTEREN: u16 = 0x106;
    /// `senvcfg`.
    pub const SENVCFG: u16 = 0x10a;
    /// `sscratch`.
    pub const SSCRATCH: u16 = 0x140;
    /// `sepc`.
    pub const SEPC: u16 = 0x141;
    /// `scause`.
    pub const SCAUSE: u16 = 0x142;
    /// `stval`.
    pub const STVAL: u16 = 0x143;
    /// `sip`.
    pub const SIP: u16 = 0x144;
    /// `satp`.
    pub const SATP: u16 = 0x180;
    /// `mstatus`.
    pub const MSTATUS: u16 = 0x300;
    /// `misa`.
    pub const MISA: u16 = 0x301;
    /// `medeleg`.
    pub const MEDELEG: u16 = 0x302;
    /// `mideleg`.
    pub const MIDELEG: u16 = 0x303;
    /// `mie`.
    pub const MIE: u16 = 0x304;
    /// `mtvec`.
    pub const MTVEC: u16 = 0x305;
    /// `mcounteren`.
    pub const MCOUNTEREN: u16 = 0x306;
    /// `menvcfg`.
    pub const MENVCFG: u16 = 0x30a;
    /// `mcountinhibit`.
    pub const MCOUNTINHIBIT: u16 = 0x320;
    /// `mhpmevent3 (to mhpmevent31, 0x33f)`.
    pub const MHPMEVENT3: u16 = 0x323;
    /// `mhpmevent31`.
    pub const MHPMEVENT31: u16 = 0x33f;
    /// `mscratch`.
    pub const MSCRATCH: u16 = 0x340;
    /// `mepc`.
    pub const MEPC: u16 = 0x341;
    /// `mcause`.
    pub const MCAUSE: u16 = 0x342;
    /// `mtval`.
    pub const MTVAL: u16 = 0x343;
    /// `mip`.
    pub const MIP: u16 = 0x344;
    /// `pmpcfg0 (to pmpcfg15, 0x3af; odd ones do not exist on RV64)`.
    pub const PMPCFG0: u16 = 0x3a0;
    /// `pmpcfg15`.
    pub const PMPCFG15: u16 = 0x3af;
    /// `pmpaddr0 (to pmpaddr63, 0x3ef)`.
    pub const PMPADDR0: u16 = 0x3b0;
    /// `pmpaddr63`.
    pub const PMPADDR63: u16 = 0x3ef;
    /// `mcycle`.
    pub const MCYCLE: u16 = 0xb00;
    /// `minstret`.
    pub const MINSTRET: u16 = 0xb02;
    /// `mhpmcounter3 (to mhpmcounter31, 0xb1f)`.
    pub const MHPMCOUNTER3: u16 = 0xb03;
    /// `mhpmcounter31`.
    pub const MHPMCOUNTER31: u16 = 0xb1f;
    /// `cycle`.
    pub const CYCLE: u16 = 0xc00;
    /// `time`.
    pub const TIME: u16 = 0xc01;
    /// `instret`.
    pub const INSTRET: u16 = 0xc02;
    /// `hpmcounter3 (to hpmcounter31, 0xc1f)`.
    pub const HPMCOUNTER3: u16 = 0xc03;
    /// `hpmcounter31`.
    pub const HPMCOUNTER31: u16 = 0xc1f;
    /// `mvendorid`.
    pub const MVENDORID: u16 = 0xf11;
    /// `marchid`.
    pub const MARCHID: u16 = 0xf12;
    /// `mimpid`.
    pub const MIMPID: u16 = 0xf13;
    /// `mhartid`.
    pub const MHARTID: u16 = 0xf14;
    /// `mconfigptr`.
    pub const MCONFIGPTR: u16 = 0xf15;
}

/// `mstatus.SIE`.
pub const MSTATUS_SIE: u64 = 1 << 1;
/// `mstatus.MIE`.
pub const MSTATUS_MIE: u64 = 1 << 3;
/// `mstatus.SPIE`.
pub const MSTATUS_SPIE: u64 = 1 << 5;
/// `mstatus.MPIE`.
pub const MSTATUS_MPIE: u64 = 1 << 7;
/// `mstatus.SPP`.
pub const MSTATUS_SPP: u64 = 1 << 8;
/// `mstatus.MPP` (two bits).
pub const MSTATUS_MPP: u64 = 3 << 11;
/// `mstatus.FS` (two bits).
pub const MSTATUS_FS: u64 = 3 << 13;
/// `mstatus.MPRV`.
pub const MSTATUS_MPRV: u64 = 1 << 17;
/// `mstatus.SUM`.
pub const MSTATUS_SUM: u64 = 1 << 18;
/// `mstatus.MXR`.
pub const MSTATUS_MXR: u64 = 1 << 19;
/// `mstatus.TVM`.
pub const MSTATUS_TVM: u64 = 1 << 20;
/// `mstatus.TW`.
pub const MSTATUS_TW: u64 = 1 << 21;
/// `mstatus.TSR`.
pub const MSTATUS_TSR: u64 = 1 << 22;
/// `mstatus.UXL` and `SXL` fixed to 64 bits.
pub const MSTATUS_UXL_SXL: u64 = (2 << 32) | (2 << 34);
/// `mstatus.SD`.
pub const MSTATUS_SD: u64 = 1 << 63;

const MSTATUS_WMASK: u64 = MSTATUS_SIE
    | MSTATUS_MIE
    | MSTATUS_SPIE
    | MSTATUS_MPIE
    | MSTATUS_SPP
    | MSTATUS_MPP
    | MSTATUS_FS
    | MSTATUS_MPRV
    | MSTATUS_SUM
    | MSTATUS_MXR
    | MSTATUS_TVM
    | MSTATUS_TW
    | MSTATUS_TSR;
const SSTATUS_MASK: u64 = MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_SPP | MSTATUS_FS | MSTATUS_SUM | MSTATUS_MXR | (3 << 32) | MSTATUS_SD;
/// Bits whose change selects other data-TLB entries (see `Hart::tlb_update_keys`).
const MSTATUS_MMU: u64 = MSTATUS_MPRV | MSTATUS_SUM | MSTATUS_MXR | MSTATUS_MPP;

/// Supervisor software interrupt pending.
pub const MIP_SSIP: u64 = 1 << 1;
/// Machine software interrupt pending.
pub const MIP_MSIP: u64 = 1 << 3;
/// Supervisor timer interrupt pending.
pub const MIP_STIP: u64 = 1 << 5;
/// Machine timer interrupt pending.
pub const MIP_MTIP: u64 = 1 << 7;
/// Supervisor external interrupt pending.
pub const MIP_SEIP: u64 = 1 << 9;
/// Machine external interrupt pending.
pub const MIP_MEIP: u64 = 1 << 11;
/// Lines the host drives through [`Hart::set_irq`].
pub const MIP_EXT_MASK: u64 = MIP_MSIP | MIP_MTIP | MIP_MEIP | MIP_SEIP;
const S_INTS: u64 = MIP_SSIP | MIP_STIP | MIP_SEIP;
const ALL_INTS: u64 = S_INTS | MIP_MSIP | MIP_MTIP | MIP_MEIP;
/// Exceptions that may be delegated to S-mode (all but ecall from M).
const MEDELEG_MASK: u64 = 0xb3ff;

/// Exception cause codes (`mcause` without the interrupt bit).
pub mod cause {
    /// Instruction access fault.
    pub const FETCH_ACCESS: u64 = 1;
    /// Illegal instruction.
    pub const ILLEGAL: u64 = 2;
    /// Breakpoint.
    pub const BREAKPOINT: u64 = 3;
    /// Load address misaligned.
    pub const LOAD_MISALIGNED: u64 = 4;
    /// Load access fault.
    pub const LOAD_ACCESS: u64 = 5;
    /// Store/AMO address misaligned.
    pub const STORE_MISALIGNED: u64 = 6;
    /// Store/AMO access fault.
    pub const STORE_ACCESS: u64 = 7;
    /// Environment call from U-mode (+1 from S, +3 from M).
    pub const ECALL_U: u64 = 8;
    /// Instruction page fault.
    pub const FETCH_PAGE: u64 = 12;
    /// Load page fault.
    pub const LOAD_PAGE: u64 = 13;
    /// Store/AMO page fault.
    pub const STORE_PAGE: u64 = 15;
    /// Interrupt bit of `mcause`.
    pub const INTERRUPT: u64 = 1 << 63;
}

/// CSR storage (the registers that are not derived from other state).
#[derive(Clone, Copy, Debug)]
#[repr(C)]
pub(super) struct Csrs {
    pub(super) mstatus: u64,
    pub(super) medeleg: u64,
    pub(super) mideleg: u64,
    pub(super) mie: u64,
    /// Software-written bits of mip (SSIP, STIP, SEIP).
    pub(super) mip: u64,
    /// Host-driven interrupt lines.
    pub(super) mip_ext: u64,
    pub(super) mtvec: u64,
    pub(super) mscratch: u64,
    pub(super) mepc: u64,
    pub(super) mcause: u64,
    pub(super) mtval: u64,
    pub(super) mcounteren: u64,
    pub(super) menvcfg: u64,
    pub(super) mhartid: u64,
    pub(super) stvec: u64,
    pub(super) sscratch: u64,
    pub(super) sepc: u64,
    pub(super) scause: u64,
    pub(super) stval: u64,
    pub(super) scounteren: u64,
    pub(super) senvcfg: u64,
    pub(super) satp: u64,
    pub(super) fflags: u64,
    pub(super) frm: u64,
    /// mcycle = retired + cycle_off; minstret = retired + instret_off.
    pub(super) cycle_off: u64,
    pub(super) instret_off: u64,
    /// pmpcfg0, 2, ..., 14.
    pub(super) pmpcfg: [u64; 8],
    pub(super) pmpaddr: [u64; 64],
}

impl Csrs {
    const ZERO: Csrs = Csrs { mstatus: 0, medeleg: 0, mideleg: 0, mie: 0, mip: 0, mip_ext: 0, mtvec: 0, mscratch: 0, mepc: 0, mcause: 0, mtval: 0, mcounteren: 0, menvcfg: 0, mhartid: 0, stvec: 0, sscratch: 0, sepc: 0, scause: 0, stval: 0, scounteren: 0, senvcfg: 0, satp: 0, fflags: 0, frm: 0, cycle_off: 0, instret_off: 0, pmpcfg: [0; 8], pmpaddr: [0; 64] };

    pub(super) fn reset(&mut self) {
        let hartid = self.mhartid;
        *self = Csrs::ZERO;
        self.mhartid = hartid;
        self.mstatus = MSTATUS_UXL_SXL;
    }
}

type Pred = fn(&Hart, u16) -> bool;
type Read = fn(&mut Hart, &mut dyn Bus, u16) -> u64;
type Write = fn(&mut Hart, u16, u64);

/// One row of the CSR table: CSR numbers `lo..=hi` share these operations.
struct CsrOps {
    lo: u16,
    hi: u16,
    pred: Pred,
    read: Read,
    write: Option<Write>,
}

const fn ops(lo: u16, hi: u16, pred: Pred, read: Read, write: Option<Write>) -> CsrOps {
    CsrOps { lo, hi, pred, read, write }
}

fn any(_: &Hart, _: u16) -> bool {
    true
}
fn fp_on(h: &Hart, _: u16) -> bool {
    h.csr.mstatus & MSTATUS_FS != 0
}
/// Counter access from S/U is gated by mcounteren (and scounteren for U).
fn counter_ok(h: &Hart, n: u16) -> bool {
    let bit = 1u64 << (n & 31);
    match h.prv {
        prv::M => true,
        prv::S => h.csr.mcounteren & bit != 0,
        _ => h.csr.mcounteren & bit != 0 && h.csr.scounteren & bit != 0,
    }
}
fn satp_ok(h: &Hart, _: u16) -> bool {
    !(h.prv == prv::S && h.csr.mstatus & MSTATUS_TVM != 0)
}
/// pmpcfg registers are even-numbered on RV64.
fn pmpcfg_ok(_: &Hart, n: u16) -> bool {
    n & 1 == 0
}

fn r_zero(_: &mut Hart, _: &mut dyn Bus, _: u16) -> u64 {
    0
}
fn w_ignore(_: &mut Hart, _: u16, _: u64) {}

fn mark_fs_dirty(h: &mut Hart) {
    h.csr.mstatus |= MSTATUS_FS;
}
fn r_fflags(h: &mut Hart, _: &mut dyn Bus, _: u16) -> u64 {
    h.csr.fflags
}
fn w_fflags(h: &mut Hart, _: u16, v: u64) {
    h.csr.fflags = v & 0x1f;
    mark_fs_dirty(h);
}
fn r_frm(h: &mut Hart, _: &mut dyn Bus, _: u16) -> u64 {
    h.csr.frm
}
fn w_frm(h: &mut Hart, _: u16, v: u64) {
    h.csr.frm = v & 7;
    mark_fs_dirty(h);
}
fn r_fcsr(h: &mut Hart, _: &mut dyn Bus, _: u16) -> u64 {
    (h.csr.frm << 5) | h.csr.fflags
}
fn w_fcsr(h: &mut Hart, _: u16, v: u64) {
    h.csr.fflags = v & 0x1f;
    h.csr.frm = (v >> 5) & 7;
    mark_fs_dirty(h);
}
fn r_cycle(h: &mut Hart, _: &mut dyn Bus, _: u16) -> u64 {
    h.retired().wrapping_add(h.csr.cycle_off)
}
fn r_instret(h: &mut Hart, _: &mut dyn Bus, _: u16) -> u64 {
    h.retired().wrapping_add(h.csr.instret_off)
}
fn r_time(_: &mut Hart, bus: &mut dyn Bus, _: u16) -> u64 {
    bus.time()
}
// CSR instructions on counters are alone in their block (all but those on fflags, frm
// and fcsr, decode.rs's `own_block`) and retire after the write: the next instruction
// reads the written value.
fn w_mcycle(h: &mut Hart, _: u16, v: u64) {
    h.csr.cycle_off = v.wrapping_sub(h.retired().wrapping_add(1));
}
fn w_minstret(h: &mut Hart, _: u16, v: u64) {
    h.csr.instret_off = v.wrapping_sub(h.retired().wrapping_add(1));
}

fn r_mstatus(h: &mut Hart, _: &mut dyn Bus, _: u16) -> u64 {
    let s = h.csr.mstatus;
    if s & MSTATUS_FS == MSTATUS_FS {
        s | MSTATUS_SD
    } else {
        s
    }
}
fn set_mstatus(h: &mut Hart, new: u64) {
    let old = h.csr.mstatus;
    let mut new = (new & MSTATUS_WMASK) | MSTATUS_UXL_SXL;
    if (new >> 11) & 3 == 2 {
        // MPP is WARL: the reserved value 2 keeps the previous mode.
        new = (new & !MSTATUS_MPP) | (old & MSTATUS_MPP);
    }
    h.csr.mstatus = new;
    if (old ^ new) & MSTATUS_MMU != 0 {
        h.tlb_update_keys();
    }
}
fn w_mstatus(h: &mut Hart, _: u16, v: u64) {
    set_mstatus(h, v);
}
fn r_sstatus(h: &mut Hart, b: &mut dyn Bus, n: u16) -> u64 {
    r_mstatus(h, b, n) & SSTATUS_MASK
}
fn w_sstatus(h: &mut Hart, _: u16, v: u64) {
    let m = SSTATUS_MASK & MSTATUS_WMASK;
    set_mstatus(h, (h.csr.mstatus & !m) | (v & m));
}
fn r_misa(_: &mut Hart, _: &mut dyn Bus, _: u16) -> u64 {
    isa::misa()
}
fn r_medeleg(h: &mut Hart, _: &mut dyn Bus, _: u16) -> u64 {
    h.csr.medeleg
}
fn w_medeleg(h: &mut Hart, _: u16, v: u64) {
    h.csr.medeleg = v & MEDELEG_MASK;
}
fn r_mideleg(h: &mut Hart, _: &mut dyn Bus, _: u16) -> u64 {
    h.csr.mideleg
}
fn w_mideleg(h: &mut Hart, _: u16, v: u64) {
    h.csr.mideleg = v & S_INTS;
}
fn r_mie(h: &mut Hart, _: &mut dyn Bus, _: u16) -> u64 {
    h.csr.mie
}
fn w_mie(h: &mut Hart, _: u16, v: u64) {
    h.csr.mie = v & ALL_INTS;
}
fn r_mip(h: &mut Hart, _: &mut dyn Bus, _: u16) -> u64 {
    h.mip()
}
fn w_mip(h: &mut Hart, _: u16, v: u64) {
    h.csr.mip = v & S_INTS;
}
fn r_sie(h: &mut Hart, _: &mut dyn Bus, _: u16) -> u64 {
    h.csr.mie & h.csr.mideleg
}
fn w_sie(h: &mut Hart, _: u16, v: u64) {
    let m = h.csr.mideleg;
    h.csr.mie = (h.csr.mie & !m) | (v & m);
}
fn r_sip(h: &mut Hart, _: &mut dyn Bus, _: u16) -> u64 {
    h.mip() & h.csr.mideleg
}
fn w_sip(h: &mut Hart, _: u16, v: u64) {
    // Only SSIP is writable from S-mode, and only when delegated.
    let m = MIP_SSIP & h.csr.mideleg;
    h.csr.mip = (h.csr.mip & !m) | (v & m);
}
fn legal_tvec(v: u64) -> u64 {
    // MODE 0 (direct) or 1 (vectored); reserved modes read as direct.
    if v & 3 >= 2 {
        v & !3
    } else {
        v & !2
    }
}

macro_rules! plain_csr {
    ($r:ident, $w:ident, $field:ident, |$v:ident| $legal:expr) => {
        fn $r(h: &mut Hart, _: &mut dyn Bus, _: u16) -> u64 {
            h.csr.$field
        }
        fn $w(h: &mut Hart, _: u16, $v: u64) {
            h.csr.$field = $legal;
        }
    };
}
plain_csr!(r_mtvec, w_mtvec, mtvec, |v| legal_tvec(v));
plain_csr!(r_stvec, w_stvec, stvec, |v| legal_tvec(v));
plain_csr!(r_mscratch, w_mscratch, mscratch, |v| v);
plain_csr!(r_sscratch, w_sscratch, sscratch, |v| v);
plain_csr!(r_mepc, w_mepc, mepc, |v| v & !1);
plain_csr!(r_sepc, w_sepc, sepc, |v| v & !1);
plain_csr!(r_mcause, w_mcause, mcause, |v| v);
plain_csr!(r_scause, w_scause, scause, |v| v);
plain_csr!(r_mtval, w_mtval, mtval, |v| v);
plain_csr!(r_stval, w_stval, stval, |v| v);
plain_csr!(r_mcounteren, w_mcounteren, mcounteren, |v| v & 0xffff_ffff);
plain_csr!(r_scounteren, w_scounteren, scounteren, |v| v & 0xffff_ffff);
// Only FIOM is implemented (no Zicbo*, Svpbmt, Sstc).
plain_csr!(r_menvcfg, w_menvcfg, menvcfg, |v| v & 1);
plain_csr!(r_senvcfg, w_senvcfg, senvcfg, |v| v & 1);

fn r_mhartid(h: &mut Hart, _: &mut dyn Bus, _: u16) -> u64 {
    h.csr.mhartid
}
fn r_satp(h: &mut Hart, _: &mut dyn Bus, _: u16) -> u64 {
    h.csr.satp
}
fn w_satp(h: &mut Hart, _: u16, v: u64) {
    let mode = v >> 60;
    if mode != 0 && mode != 8 && mode != 9 {
        return; // unsupported MODE: the whole write has no effect
    }
    // ASID is 16 bits wide (ignored: TLBs are flushed on every satp write), PPN 44 bits.
    // (MODE 4 bits, ASID 16 bits and PPN 44 bits cover the whole register.)
    let v = if mode == 0 { 0 } else { v };
    h.csr.satp = v;
    h.tlb_flush();
}
fn r_pmpcfg(h: &mut Hart, _: &mut dyn Bus, n: u16) -> u64 {
    h.csr.pmpcfg.get(usize::from((n - num::PMPCFG0) / 2)).copied().unwrap_or(0)
}
fn w_pmpcfg(h: &mut Hart, n: u16, v: u64) {
    let i = usize::from((n - num::PMPCFG0) / 2);
    let Some(old) = h.csr.pmpcfg.get(i).copied() else { return };
    let mut out = 0;
    for b in 0..8 {
        let o = (old >> (b * 8)) & 0xff;
        let mut c = (v >> (b * 8)) & 0xff;
        if o & 0x80 != 0 {
            c = o; // locked entries ignore writes
        } else {
            c &= 0x9f; // bits 6:5 are reserved (zero)
            if c & 3 == 2 {
                c &= !3; // R=0, W=1 is reserved: clear W (and R)
            }
        }
        out |= c << (b * 8);
    }
    if let Some(r) = h.csr.pmpcfg.get_mut(i) {
        *r = out;
    }
}
fn r_pmpaddr(h: &mut Hart, _: &mut dyn Bus, n: u16) -> u64 {
    h.csr.pmpaddr.get(usize::from(n - num::PMPADDR0)).copied().unwrap_or(0)
}
fn w_pmpaddr(h: &mut Hart, n: u16, v: u64) {
    let i = usize::from(n - num::PMPADDR0);
    let cfg = h.csr.pmpcfg.get(i / 8).copied().unwrap_or(0) >> ((i % 8) * 8);
    if cfg & 0x80 != 0 {
        return;
    }
    if let Some(r) = h.csr.pmpaddr.get_mut(i) {
        *r = v & ((1 << 54) - 1);
    }
}

static CSR_TABLE: &[CsrOps] = &[
    ops(num::FFLAGS, num::FFLAGS, fp_on, r_fflags, Some(w_fflags)),
    ops(num::FRM, num::FRM, fp_on, r_frm, Some(w_frm)),
    ops(num::FCSR, num::FCSR, fp_on, r_fcsr, Some(w_fcsr)),
    ops(num::SSTATUS, num::SSTATUS, any, r_sstatus, Some(w_sstatus)),
    ops(num::SIE, num::SIE, any, r_sie, Some(w_sie)),
    ops(num::STVEC, num::STVEC, any, r_stvec, Some(w_stvec)),
    ops(num::SCOUNTEREN, num::SCOUNTEREN, any, r_scounteren, Some(w_scounteren)),
    ops(num::SENVCFG, num::SENVCFG, any, r_senvcfg, Some(w_senvcfg)),
    ops(num::SSCRATCH, num::SSCRATCH, any, r_sscratch, Some(w_sscratch)),
    ops(num::SEPC, num::SEPC, any, r_sepc, Some(w_sepc)),
    ops(num::SCAUSE, num::SCAUSE, any, r_scause, Some(w_scause)),
    ops(num::STVAL, num::STVAL, any, r_stval, Some(w_stval)),
    ops(num::SIP, num::SIP, any, r_sip, Some(w_sip)),
    ops(num::SATP, num::SATP, satp_ok, r_satp, Some(w_satp)),
    ops(num::MSTATUS, num::MSTATUS, any, r_mstatus, Some(w_mstatus)),
    ops(num::MISA, num::MISA, any, r_misa, Some(w_ignore)),
    ops(num::MEDELEG, num::MEDELEG, any, r_medeleg, Some(w_medeleg)),
    ops(num::MIDELEG, num::MIDELEG, any, r_mideleg, Some(w_mideleg)),
    ops(num::MIE, num::MIE, any, r_mie, Some(w_mie)),
    ops(num::MTVEC, num::MTVEC, any, r_mtvec, Some(w_mtvec)),
    ops(num::MCOUNTEREN, num::MCOUNTEREN, any, r_mcounteren, Some(w_mcounteren)),
    ops(num::MENVCFG, num::MENVCFG, any, r_menvcfg, Some(w_menvcfg)),
    ops(num::MCOUNTINHIBIT, num::MCOUNTINHIBIT, any, r_zero, Some(w_ignore)), // mcountinhibit: counters always run
    ops(num::MHPMEVENT3, num::MHPMEVENT31, any, r_zero, Some(w_ignore)), // mhpmevent3..31
    ops(num::MSCRATCH, num::MSCRATCH, any, r_mscratch, Some(w_mscratch)),
    ops(num::MEPC, num::MEPC, any, r_mepc, Some(w_mepc)),
    ops(num::MCAUSE, num::MCAUSE, any, r_mcause, Some(w_mcause)),
    ops(num::MTVAL, num::MTVAL, any, r_mtval, Some(w_mtval)),
    ops(num::MIP, num::MIP, any, r_mip, Some(w_mip)),
    ops(num::PMPCFG0, num::PMPCFG15, pmpcfg_ok, r_pmpcfg, Some(w_pmpcfg)),
    ops(num::PMPADDR0, num::PMPADDR63, any, r_pmpaddr, Some(w_pmpaddr)),
    ops(num::MCYCLE, num::MCYCLE, any, r_cycle, Some(w_mcycle)),
    ops(num::MINSTRET, num::MINSTRET, any, r_instret, Some(w_minstret)),
    ops(num::MHPMCOUNTER3, num::MHPMCOUNTER31, any, r_zero, Some(w_ignore)), // mhpmcounter3..31
    ops(num::CYCLE, num::CYCLE, counter_ok, r_cycle, None),
    ops(num::TIME, num::TIME, counter_ok, r_time, None),
    ops(num::INSTRET, num::INSTRET, counter_ok, r_instret, None),
    ops(num::HPMCOUNTER3, num::HPMCOUNTER31, counter_ok, r_zero, None), // hpmcounter3..31
    ops(num::MVENDORID, num::MIMPID, any, r_zero, None),        // mvendorid, marchid, mimpid
    ops(num::MHARTID, num::MHARTID, any, r_mhartid, None),
    ops(num::MCONFIGPTR, num::MCONFIGPTR, any, r_zero, None), // mconfigptr
];

fn find(num: u16) -> Option<&'static CsrOps> {
    let i = CSR_TABLE.partition_point(|o| o.hi < num);
    CSR_TABLE.get(i).filter(|o| o.lo <= num && num <= o.hi)
}

/// Host-side read (M-mode view, predicates ignored).
pub(super) fn read_any(h: &mut Hart, bus: &mut dyn Bus, num: u16) -> Option<u64> {
    let o = find(num)?;
    Some((o.read)(h, bus, num))
}

/// Host-side write (M-mode view, predicates ignored).
pub(super) fn write_any(h: &mut Hart, num: u16, val: u64) -> bool {
    match find(num).and_then(|o| o.write) {
        Some(w) => {
            w(h, num, val);
            true
        }
        None => false,
    }
}

/// The kind of a CSR instruction.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum CsrOp {
    Write,
    Set,
    Clear,
}

impl Hart {
    /// Executes a CSR instruction: `src` is the register value or immediate, `do_read`
    /// is false for csrrw/csrrwi with rd = x0, `do_write` false for csrrs/csrrc with
    /// rs1 = x0 (or a zero immediate). Returns the old value, or `Err` for an illegal
    /// access (the caller raises the exception).
    pub(super) fn csr_access(
        &mut self,
        bus: &mut dyn Bus,
        num: u16,
        op: CsrOp,
        src: u64,
        do_read: bool,
        do_write: bool,
    ) -> Result<u64, ()> {
        let o = find(num).ok_or(())?;
        if ((num >> 8) & 3) as u8 > self.prv || !(o.pred)(self, num) {
            return Err(());
        }
        let read_only = (num >> 10) & 3 == 3 || o.write.is_none();
        if do_write && read_only {
            return Err(());
        }
        let old = if do_read || op != CsrOp::Write { (o.read)(self, bus, num) } else { 0 };
        if do_write {
            // Privileged spec, mip.SEIP: software reads the OR of the writable bit and
            // the interrupt controller's signal, but the read-modify-write of CSRRS/CSRRC
            // uses only the writable bit (else `csrs mip, STIP` while the PLIC line is up
            // would latch SEIP forever).
            let base = if num == self::num::MIP { (old & !MIP_SEIP) | (self.csr.mip & MIP_SEIP) } else { old };
            let new = match op {
                CsrOp::Write => src,
                CsrOp::Set => base | src,
                CsrOp::Clear => base & !src,
            };
            if let Some(w) = o.write {
                w(self, num, new);
            }
        }
        Ok(old)
    }

    /// The highest-priority pending and enabled interrupt, as an `mcause` value.
    pub(super) fn pending_interrupt(&self) -> Option<u64> {
        let pend = self.mip() & self.csr.mie;
        if pend == 0 {
            return None;
        }
        let st = self.csr.mstatus;
        let m_en = self.prv < prv::M || st & MSTATUS_MIE != 0;
        let s_en = self.prv < prv::S || (self.prv == prv::S && st & MSTATUS_SIE != 0);
        let m_pend = if m_en { pend & !self.csr.mideleg } else { 0 };
        let s_pend = if s_en { pend & self.csr.mideleg } else { 0 };
        let p = if m_pend != 0 { m_pend } else { s_pend };
        // Priority: MEI, MSI, MTI, SEI, SSI, STI.
        [11u64, 3, 7, 9, 1, 5].into_iter().find(|&c| p & (1 << c) != 0).map(|c| c | cause::INTERRUPT)
    }

    /// Takes a trap with `cause` (interrupt bit included) at the current pc.
    pub(super) fn take_trap(&mut self, cause: u64, tval: u64) {
        self.stats.traps += 1;
        self.resv_valid = false;
        let is_int = cause & cause::INTERRUPT != 0;
        let code = cause & 63;
        let deleg = if is_int { self.csr.mideleg } else { self.csr.medeleg };
        let old_prv = self.prv;
        let st = self.csr.mstatus;
        if old_prv <= prv::S && (deleg >> code) & 1 != 0 {
            self.csr.scause = cause;
            self.csr.sepc = self.pc;
            self.csr.stval = tval;
            let mut s = st & !(MSTATUS_SPP | MSTATUS_SPIE | MSTATUS_SIE);
            if st & MSTATUS_SIE != 0 {
                s |= MSTATUS_SPIE;
            }
            if old_prv == prv::S {
                s |= MSTATUS_SPP;
            }
            self.csr.mstatus = s;
            self.pc = trap_target(self.csr.stvec, is_int, code);
            self.prv = prv::S;
        } else {
            self.csr.mcause = cause;
            self.csr.mepc = self.pc;
            self.csr.mtval = tval;
            let mut s = st & !(MSTATUS_MPP | MSTATUS_MPIE | MSTATUS_MIE);
            if st & MSTATUS_MIE != 0 {
                s |= MSTATUS_MPIE;
            }
            s |= u64::from(old_prv) << 11;
            self.csr.mstatus = s;
            self.pc = trap_target(self.csr.mtvec, is_int, code);
            self.prv = prv::M;
        }
        if self.prv != old_prv || (st ^ self.csr.mstatus) & MSTATUS_MMU != 0 {
            self.tlb_update_keys();
        }
    }

    /// mret: returns `Err` if not in M-mode.
    pub(super) fn do_mret(&mut self) -> Result<(), ()> {
        if self.prv != prv::M {
            return Err(());
        }
        let st = self.csr.mstatus;
        let mpp = ((st >> 11) & 3) as u8;
        let mut s = st & !(MSTATUS_MIE | MSTATUS_MPP);
        if st & MSTATUS_MPIE != 0 {
            s |= MSTATUS_MIE;
        }
        s |= MSTATUS_MPIE;
        if mpp != prv::M {
            s &= !MSTATUS_MPRV;
        }
        self.csr.mstatus = s;
        self.prv = mpp;
        self.pc = self.csr.mepc;
        self.resv_valid = false;
        self.tlb_update_keys();
        Ok(())
    }

    /// sret: returns `Err` if not allowed (U-mode, or S-mode with TSR).
    pub(super) fn do_sret(&mut self) -> Result<(), ()> {
        let st = self.csr.mstatus;
        if self.prv == prv::U || (self.prv == prv::S && st & MSTATUS_TSR != 0) {
            return Err(());
        }
        let spp = if st & MSTATUS_SPP != 0 { prv::S } else { prv::U };
        let mut s = st & !(MSTATUS_SIE | MSTATUS_SPP | MSTATUS_MPRV);
        if st & MSTATUS_SPIE != 0 {
            s |= MSTATUS_SIE;
        }
        s |= MSTATUS_SPIE;
        self.csr.mstatus = s;
        self.prv = spp;
        self.pc = self.csr.sepc;
        self.resv_valid = false;
        self.tlb_update_keys();
        Ok(())
    }
}

fn trap_target(tvec: u64, is_int: bool, code: u64) -> u64 {
    let base = tvec & !3;
    if is_int && tvec & 3 == 1 {
        base.wrapping_add(code.wrapping_mul(4))
    } else {
        base
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_and_disjoint() {
        for w in CSR_TABLE.windows(2) {
            assert!(w[0].lo <= w[0].hi && w[0].hi < w[1].lo);
        }
        assert!(find(num::MSTATUS).is_some());
        assert!(find(0x7a0).is_none()); // tselect: not implemented
        assert!(find(0x3a1).is_some()); // present, but the predicate rejects odd pmpcfg
    }

    #[test]
    fn tvec_warl() {
        assert_eq!(legal_tvec(0x8000_0001), 0x8000_0001);
        assert_eq!(legal_tvec(0x8000_0002), 0x8000_0000);
        assert_eq!(legal_tvec(0x8000_0003), 0x8000_0000);
    }
}
