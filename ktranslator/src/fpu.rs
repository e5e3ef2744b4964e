//! F and D instructions other than loads and stores, on top of [`softfloat`](super::softfloat).

// Sign-extension chains (`as i32 as i64 as u64`) read best as casts.
#![allow(clippy::cast_lossless)]

use super::bus::Bus;
use super::csr::MSTATUS_FS;
use super::decode::{Op, Uop};
use super::exit::ExitKind;
use super::hart::Hart;
use super::tier2::{helper_body, HelperFn};
use super::softfloat::{self as sf, RoundingMode};

/// Generates one tier-1 handler per F/D computational op (exec.rs's op table names
/// them), each with the checks every such op makes: `mstatus.FS` on (else illegal
/// instruction), and for ops marked `rm`, a rounding mode that is not reserved (the
/// dynamic mode resolved from `frm`). The value of `$e` goes to `f[rd]` (`F`) or `x[rd]`
/// (`X`); the flags it raised accrue to `fflags`; `FS` becomes dirty.
///
/// The first line names the operands every expression may use: `f[rs1]`, `f[rs2]`,
/// `f[rs3]`, the same unboxed as singles, `x[rs1]`, the rounding mode and the flags
/// accumulator. Each handler is inlined into the dispatch, so the operands an op does
/// not use cost nothing.
macro_rules! fp_handlers {
    (
        |$f1:ident, $f2:ident, $f3:ident, $s1:ident, $s2:ident, $s3:ident, $x1:ident, $rm:ident, $fl:ident|
        $($op:ident $name:ident: $rmk:ident $dst:ident $e:expr;)*
    ) => {
        impl Hart {
            $(
                #[inline(always)]
                #[allow(unused_variables)]
                pub(super) fn $name(&mut self, _: &mut &mut dyn Bus, u: &Uop) -> ExitKind {
                    if self.csr.mstatus & MSTATUS_FS == 0 {
                        return self.exit_illegal(u);
                    }
                    let Some($rm) = fp_rm!($rmk, self, u) else {
                        return self.exit_illegal(u);
                    };
                    let $f1 = self.f[(u.rs1 & 31) as usize];
                    let $f2 = self.f[(u.rs2 & 31) as usize];
                    let $f3 = self.f[usize::from(u.rs3())];
                    let ($s1, $s2, $s3) = (sf::unbox_f32($f1), sf::unbox_f32($f2), sf::unbox_f32($f3));
                    let $x1 = self.x[(u.rs1 & 63) as usize];
                    let mut flags = 0u8;
                    let $fl = &mut flags;
                    let v = $e;
                    fp_write!($dst, self, u, v);
                    self.csr.fflags |= u64::from(flags & sf::flags::ALL);
                    self.csr.mstatus |= MSTATUS_FS;
                    ExitKind::Next
                }
            )*
        }

        /// The number of F/D computational ops.
        pub(super) const FP_OPS: usize = [$(Op::$op),*].len();

        /// The direct tier-2 helpers, one per F/D computational op in [`Op`] order
        /// (from `FmaddS`): each runs its op's handler without the generic helper's
        /// dispatch (see [`helper_body`]).
        pub(super) static FP_HELPERS: [(Op, HelperFn); FP_OPS] = [$(
            (Op::$op, {
                /// # Safety
                /// As for [`tier2_helper`](super::tier2::tier2_helper).
                unsafe extern "C" fn helper(ctx: u64, uop: u64, vpc: u64, _: u64, _: u64) -> u64 {
                    // SAFETY: this function's contract.
                    unsafe { helper_body(ctx, uop, vpc, Hart::$name) }
                }
                helper as HelperFn
            }),
        )*];
    };
}

/// The rounding mode of an op: `rm` ops need a valid one (`None`: illegal), `norm` ops
/// ignore the field.
macro_rules! fp_rm {
    (rm, $h:ident, $u:ident) => {
        $h.fp_rounding($u)
    };
    (norm, $h:ident, $u:ident) => {
        Some(RoundingMode::Rne)
    };
}

/// Where an op's result goes.
macro_rules! fp_write {
    (F, $h:ident, $u:ident, $v:ident) => {
        $h.f[($u.rd & 31) as usize] = $v
    };
    (X, $h:ident, $u:ident, $v:ident) => {
        $h.x[($u.rd & 63) as usize] = $v
    };
}

impl Hart {
    /// The rounding mode of FP op `u`: its `rm` field, or `frm` for the dynamic mode;
    /// `None` for reserved encodings.
    #[inline(always)]
    fn fp_rounding(&self, u: &Uop) -> Option<RoundingMode> {
        let bits = (u.aux() & 7) as u8;
        let bits = if bits == RoundingMode::DYN { self.csr.frm as u8 } else { bits };
        RoundingMode::from_bits(bits)
    }
}

/// A single as an `f` register value (NaN-boxed).
#[inline(always)]
fn bs(v: u32) -> u64 {
    sf::box_f32(v)
}

/// A 32-bit integer result, sign-extended to `x` register width.
#[inline(always)]
fn sx(v: u32) -> u64 {
    v as i32 as i64 as u64
}

// Every F/D computational op, in `Op` order (`FP_HELPERS` relies on it).
fp_handlers! {
    |f1, f2, f3, s1, s2, s3, x1, rm, fl|
    FmaddS op_fmadd_s: rm F bs(sf::f32_madd(s1, s2, s3, rm, fl));
    FmsubS op_fmsub_s: rm F bs(sf::f32_msub(s1, s2, s3, rm, fl));
    FnmsubS op_fnmsub_s: rm F bs(sf::f32_nmsub(s1, s2, s3, rm, fl));
    FnmaddS op_fnmadd_s: rm F bs(sf::f32_nmadd(s1, s2, s3, rm, fl));
    FaddS op_fadd_s: rm F bs(sf::f32_add(s1, s2, rm, fl));
    FsubS op_fsub_s: rm F bs(sf::f32_sub(s1, s2, rm, fl));
    FmulS op_fmul_s: rm F bs(sf::f32_mul(s1, s2, rm, fl));
    FdivS op_fdiv_s: rm F bs(sf::f32_div(s1, s2, rm, fl));
    FsqrtS op_fsqrt_s: rm F bs(sf::f32_sqrt(s1, rm, fl));
    FsgnjS op_fsgnj_s: norm F bs(sf::f32_sgnj(s1, s2));
    FsgnjnS op_fsgnjn_s: norm F bs(sf::f32_sgnjn(s1, s2));
    FsgnjxS op_fsgnjx_s: norm F bs(sf::f32_sgnjx(s1, s2));
    FminS op_fmin_s: norm F bs(sf::f32_min(s1, s2, fl));
    FmaxS op_fmax_s: norm F bs(sf::f32_max(s1, s2, fl));
    FcvtWS op_fcvt_w_s: rm X sf::f32_to_i32(s1, rm, fl) as i64 as u64;
    FcvtWuS op_fcvt_wu_s: rm X sx(sf::f32_to_u32(s1, rm, fl));
    FcvtLS op_fcvt_l_s: rm X sf::f32_to_i64(s1, rm, fl) as u64;
    FcvtLuS op_fcvt_lu_s: rm X sf::f32_to_u64(s1, rm, fl);
    FmvXW op_fmv_x_w: norm X sx(f1 as u32);
    FeqS op_feq_s: norm X u64::from(sf::f32_eq(s1, s2, fl));
    FltS op_flt_s: norm X u64::from(sf::f32_lt(s1, s2, fl));
    FleS op_fle_s: norm X u64::from(sf::f32_le(s1, s2, fl));
    FclassS op_fclass_s: norm X u64::from(sf::f32_classify(s1));
    FcvtSW op_fcvt_s_w: rm F bs(sf::i32_to_f32(x1 as i32, rm, fl));
    FcvtSWu op_fcvt_s_wu: rm F bs(sf::u32_to_f32(x1 as u32, rm, fl));
    FcvtSL op_fcvt_s_l: rm F bs(sf::i64_to_f32(x1 as i64, rm, fl));
    FcvtSLu op_fcvt_s_lu: rm F bs(sf::u64_to_f32(x1, rm, fl));
    FmvWX op_fmv_w_x: norm F bs(x1 as u32);
    FmaddD op_fmadd_d: rm F sf::f64_madd(f1, f2, f3, rm, fl);
    FmsubD op_fmsub_d: rm F sf::f64_msub(f1, f2, f3, rm, fl);
    FnmsubD op_fnmsub_d: rm F sf::f64_nmsub(f1, f2, f3, rm, fl);
    FnmaddD op_fnmadd_d: rm F sf::f64_nmadd(f1, f2, f3, rm, fl);
    FaddD op_fadd_d: rm F sf::f64_add(f1, f2, rm, fl);
    FsubD op_fsub_d: rm F sf::f64_sub(f1, f2, rm, fl);
    FmulD op_fmul_d: rm F sf::f64_mul(f1, f2, rm, fl);
    FdivD op_fdiv_d: rm F sf::f64_div(f1, f2, rm, fl);
    FsqrtD op_fsqrt_d: rm F sf::f64_sqrt(f1, rm, fl);
    FsgnjD op_fsgnj_d: norm F sf::f64_sgnj(f1, f2);
    FsgnjnD op_fsgnjn_d: norm F sf::f64_sgnjn(f1, f2);
    FsgnjxD op_fsgnjx_d: norm F sf::f64_sgnjx(f1, f2);
    FminD op_fmin_d: norm F sf::f64_min(f1, f2, fl);
    FmaxD op_fmax_d: norm F sf::f64_max(f1, f2, fl);
    FcvtWD op_fcvt_w_d: rm X sf::f64_to_i32(f1, rm, fl) as i64 as u64;
    FcvtWuD op_fcvt_wu_d: rm X sx(sf::f64_to_u32(f1, rm, fl));
    FcvtLD op_fcvt_l_d: rm X sf::f64_to_i64(f1, rm, fl) as u64;
    FcvtLuD op_fcvt_lu_d: rm X sf::f64_to_u64(f1, rm, fl);
    FmvXD op_fmv_x_d: norm X f1;
    FeqD op_feq_d: norm X u64::from(sf::f64_eq(f1, f2, fl));
    FltD op_flt_d: norm X u64::from(sf::f64_lt(f1, f2, fl));
    FleD op_fle_d: norm X u64::from(sf::f64_le(f1, f2, fl));
    FclassD op_fclass_d: norm X u64::from(sf::f64_classify(f1));
    FcvtDW op_fcvt_d_w: norm F sf::i32_to_f64(x1 as i32);
    FcvtDWu op_fcvt_d_wu: norm F sf::u32_to_f64(x1 as u32);
    FcvtDL op_fcvt_d_l: rm F sf::i64_to_f64(x1 as i64, rm, fl);
    FcvtDLu op_fcvt_d_lu: rm F sf::u64_to_f64(x1, rm, fl);
    FmvDX op_fmv_d_x: norm F x1;
    FcvtSD op_fcvt_s_d: rm F bs(sf::f64_to_f32(f1, rm, fl));
    FcvtDS op_fcvt_d_s: norm F sf::f32_to_f64(s1, fl);
}

/// The direct tier-2 helper of `op`, if it is an F/D computational op.
pub(super) fn fp_helper(op: Op) -> Option<HelperFn> {
    let i = usize::from((op as u8).wrapping_sub(Op::FmaddS as u8));
    FP_HELPERS.get(i).filter(|(o, _)| *o == op).map(|&(_, f)| f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ktranslator::decode::{is_fp_compute, ALL_OPS};

    #[test]
    fn every_fp_op_has_its_direct_helper() {
        let fp: usize = ALL_OPS.iter().filter(|&&op| is_fp_compute(op)).count();
        assert_eq!(fp, FP_HELPERS.len());
        for &op in ALL_OPS {
            assert_eq!(fp_helper(op).is_some(), is_fp_compute(op), "{op:?}");
        }
    }
}
