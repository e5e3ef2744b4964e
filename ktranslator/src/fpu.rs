//! F and D instructions other than loads and stores, on top of [`softfloat`](super::softfloat).

// Sign-extension chains (`as i32 as i64 as u64`) read best as casts.
#![allow(clippy::cast_lossless)]

use super::csr::MSTATUS_FS;
use super::decode::{Op, Uop};
use super::hart::Hart;
use super::softfloat::{self as sf, RoundingMode};

impl Hart {
    /// Executes an F/D computational op; `Err` means illegal instruction (FP off, a
    /// reserved dynamic rounding mode, or not an FP op).
    pub(super) fn exec_fp(&mut self, u: &Uop) -> Result<(), ()> {
        use Op::*;
        if self.csr.mstatus & MSTATUS_FS == 0 {
            return Err(());
        }
        let rm_bits = (u.aux() & 7) as u8;
        let rm_bits = if rm_bits == RoundingMode::DYN { self.csr.frm as u8 } else { rm_bits };
        let rm = RoundingMode::from_bits(rm_bits);
        let needs_rm = matches!(
            u.op,
            FmaddS
                | FmsubS
                | FnmsubS
                | FnmaddS
                | FaddS
                | FsubS
                | FmulS
                | FdivS
                | FsqrtS
                | FcvtWS
                | FcvtWuS
                | FcvtLS
                | FcvtLuS
                | FcvtSW
                | FcvtSWu
                | FcvtSL
                | FcvtSLu
                | FmaddD
                | FmsubD
                | FnmsubD
                | FnmaddD
                | FaddD
                | FsubD
                | FmulD
                | FdivD
                | FsqrtD
                | FcvtWD
                | FcvtWuD
                | FcvtLD
                | FcvtLuD
                | FcvtDL
                | FcvtDLu
                | FcvtSD
        );
        let rm = match rm {
            Some(r) => r,
            None if needs_rm => return Err(()),
            None => RoundingMode::Rne,
        };
        let f1 = self.f[(u.rs1 & 31) as usize];
        let f2 = self.f[(u.rs2 & 31) as usize];
        let f3 = self.f[usize::from(u.rs3())];
        let (s1, s2, s3) = (sf::unbox_f32(f1), sf::unbox_f32(f2), sf::unbox_f32(f3));
        let x1 = self.x[(u.rs1 & 63) as usize];
        let mut fl = self.csr.fflags as u8;
        let fl_ref = &mut fl;
        // Result: Some(f register value) or an integer register value.
        enum R {
            F(u64),
            X(u64),
        }
        let bs = |v: u32| R::F(sf::box_f32(v));
        let sx = |v: u32| R::X(v as i32 as i64 as u64);
        let r = match u.op {
            FmaddS => bs(sf::f32_madd(s1, s2, s3, rm, fl_ref)),
            FmsubS => bs(sf::f32_msub(s1, s2, s3, rm, fl_ref)),
            FnmsubS => bs(sf::f32_nmsub(s1, s2, s3, rm, fl_ref)),
            FnmaddS => bs(sf::f32_nmadd(s1, s2, s3, rm, fl_ref)),
            FaddS => bs(sf::f32_add(s1, s2, rm, fl_ref)),
            FsubS => bs(sf::f32_sub(s1, s2, rm, fl_ref)),
            FmulS => bs(sf::f32_mul(s1, s2, rm, fl_ref)),
            FdivS => bs(sf::f32_div(s1, s2, rm, fl_ref)),
            FsqrtS => bs(sf::f32_sqrt(s1, rm, fl_ref)),
            FsgnjS => bs(sf::f32_sgnj(s1, s2)),
            FsgnjnS => bs(sf::f32_sgnjn(s1, s2)),
            FsgnjxS => bs(sf::f32_sgnjx(s1, s2)),
            FminS => bs(sf::f32_min(s1, s2, fl_ref)),
            FmaxS => bs(sf::f32_max(s1, s2, fl_ref)),
            FcvtWS => R::X(sf::f32_to_i32(s1, rm, fl_ref) as i64 as u64),
            FcvtWuS => sx(sf::f32_to_u32(s1, rm, fl_ref)),
            FcvtLS => R::X(sf::f32_to_i64(s1, rm, fl_ref) as u64),
            FcvtLuS => R::X(sf::f32_to_u64(s1, rm, fl_ref)),
            FmvXW => sx(f1 as u32),
            FeqS => R::X(u64::from(sf::f32_eq(s1, s2, fl_ref))),
            FltS => R::X(u64::from(sf::f32_lt(s1, s2, fl_ref))),
            FleS => R::X(u64::from(sf::f32_le(s1, s2, fl_ref))),
            FclassS => R::X(u64::from(sf::f32_classify(s1))),
            FcvtSW => bs(sf::i32_to_f32(x1 as i32, rm, fl_ref)),
            FcvtSWu => bs(sf::u32_to_f32(x1 as u32, rm, fl_ref)),
            FcvtSL => bs(sf::i64_to_f32(x1 as i64, rm, fl_ref)),
            FcvtSLu => bs(sf::u64_to_f32(x1, rm, fl_ref)),
            FmvWX => bs(x1 as u32),
            FmaddD => R::F(sf::f64_madd(f1, f2, f3, rm, fl_ref)),
            FmsubD => R::F(sf::f64_msub(f1, f2, f3, rm, fl_ref)),
            FnmsubD => R::F(sf::f64_nmsub(f1, f2, f3, rm, fl_ref)),
            FnmaddD => R::F(sf::f64_nmadd(f1, f2, f3, rm, fl_ref)),
            FaddD => R::F(sf::f64_add(f1, f2, rm, fl_ref)),
            FsubD => R::F(sf::f64_sub(f1, f2, rm, fl_ref)),
            FmulD => R::F(sf::f64_mul(f1, f2, rm, fl_ref)),
            FdivD => R::F(sf::f64_div(f1, f2, rm, fl_ref)),
            FsqrtD => R::F(sf::f64_sqrt(f1, rm, fl_ref)),
            FsgnjD => R::F(sf::f64_sgnj(f1, f2)),
            FsgnjnD => R::F(sf::f64_sgnjn(f1, f2)),
            FsgnjxD => R::F(sf::f64_sgnjx(f1, f2)),
            FminD => R::F(sf::f64_min(f1, f2, fl_ref)),
            FmaxD => R::F(sf::f64_max(f1, f2, fl_ref)),
            FcvtWD => R::X(sf::f64_to_i32(f1, rm, fl_ref) as i64 as u64),
            FcvtWuD => sx(sf::f64_to_u32(f1, rm, fl_ref)),
            FcvtLD => R::X(sf::f64_to_i64(f1, rm, fl_ref) as u64),
            FcvtLuD => R::X(sf::f64_to_u64(f1, rm, fl_ref)),
            FmvXD => R::X(f1),
            FeqD => R::X(u64::from(sf::f64_eq(f1, f2, fl_ref))),
            FltD => R::X(u64::from(sf::f64_lt(f1, f2, fl_ref))),
            FleD => R::X(u64::from(sf::f64_le(f1, f2, fl_ref))),
            FclassD => R::X(u64::from(sf::f64_classify(f1))),
            FcvtDW => R::F(sf::i32_to_f64(x1 as i32)),
            FcvtDWu => R::F(sf::u32_to_f64(x1 as u32)),
            FcvtDL => R::F(sf::i64_to_f64(x1 as i64, rm, fl_ref)),
            FcvtDLu => R::F(sf::u64_to_f64(x1, rm, fl_ref)),
            FmvDX => R::F(x1),
            FcvtSD => bs(sf::f64_to_f32(f1, rm, fl_ref)),
            FcvtDS => R::F(sf::f32_to_f64(s1, fl_ref)),
            _ => return Err(()),
        };
        match r {
            R::F(v) => self.f[(u.rd & 31) as usize] = v,
            R::X(v) => self.x[(u.rd & 63) as usize] = v,
        }
        self.csr.fflags = u64::from(fl & 0x1f);
        self.csr.mstatus |= MSTATUS_FS;
        Ok(())
    }
}
