//! Integer-only IEEE 754 binary32/binary64 arithmetic with RISC-V semantics (F and D).
//!
//! The guest's floating point runs here, in the kernel, where the host FPU is off limits:
//! every operation works on raw bit patterns (`u32` for singles, `u64` for doubles) with
//! integer instructions only. Results and flags are bit-exact with the RISC-V
//! unprivileged spec (chapters "F" and "D"), as implemented by Berkeley SoftFloat's
//! RISC-V specialisation (what Spike uses): `tests/softfloat_reference.rs` compares
//! against Berkeley SoftFloat, `tests/softfloat_edge.rs` checks cases from the spec.
//!
//! RISC-V specifics:
//! - every NaN result is the canonical NaN ([`F32_CANONICAL_NAN`], [`F64_CANONICAL_NAN`]),
//!   NaN payloads are never propagated; a signalling NaN operand raises [`flags::NV`];
//! - tininess is detected after rounding; underflow is raised when the result is tiny
//!   and inexact;
//! - `fmin`/`fmax` are IEEE 754-2019 minimumNumber/maximumNumber with -0 < +0;
//! - float to integer conversions saturate (NaN converts to the largest integer);
//! - `fma(inf, 0, qNaN)` raises invalid.
//!
//! API conventions: every operation that can raise exceptions takes `fflags: &mut u8` and
//! ORs the [`flags`] it raises into it (it never clears bits), so the CPU can pass its
//! `fflags` accumulator directly. Operations that round take a [`RoundingMode`]; the CPU
//! resolves the dynamic mode (`rm` = 7) from `frm` before calling, and raises an illegal
//! instruction for reserved encodings ([`RoundingMode::from_bits`] returns `None`).
//! Singles held in 64-bit `f` registers are NaN-boxed: see [`box_f32`] and [`unbox_f32`].
//!
//! Implementation: `format` holds the binary-format description and the shared
//! round-and-pack step; `arith` has add/sub/mul/fma, `divsqrt` division and square root
//! (built from 64x64->128 multiplications and one 64-bit division: no 128-bit division,
//! which the kernel lacks), `convert` the conversions and `compare` comparisons, min/max
//! and classification. Everything is branchy integer code on `u64`/`u128` with
//! `leading_zeros`; nothing loops over bits.

mod arith;
mod compare;
mod convert;
mod divsqrt;
mod format;

use self::format::{Bits, F32, F64};

/// IEEE rounding modes, numbered as in the `frm` CSR and the instructions' `rm` field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum RoundingMode {
    /// Round to nearest, ties to even (`RNE`, 0).
    Rne = 0,
    /// Round towards zero (`RTZ`, 1).
    Rtz = 1,
    /// Round down, towards negative infinity (`RDN`, 2).
    Rdn = 2,
    /// Round up, towards positive infinity (`RUP`, 3).
    Rup = 3,
    /// Round to nearest, ties to max magnitude (`RMM`, 4).
    Rmm = 4,
}

impl RoundingMode {
    /// The five rounding modes, in encoding order.
    pub const ALL: [RoundingMode; 5] = [Self::Rne, Self::Rtz, Self::Rdn, Self::Rup, Self::Rmm];

    /// The `rm` field value that selects the dynamic rounding mode held in `frm`.
    pub const DYN: u8 = 7;

    /// The rounding mode encoded as `bits`; `None` for the reserved encodings 5 and 6,
    /// for [`Self::DYN`] (the caller substitutes `frm`) and for anything wider than 3 bits.
    pub const fn from_bits(bits: u8) -> Option<Self> {
        match bits {
            0 => Some(Self::Rne),
            1 => Some(Self::Rtz),
            2 => Some(Self::Rdn),
            3 => Some(Self::Rup),
            4 => Some(Self::Rmm),
            _ => None,
        }
    }

    /// The 3-bit encoding of this mode.
    pub const fn bits(self) -> u8 {
        self as u8
    }
}

/// Exception flags as bits of `fflags` (unprivileged spec, "Accrued Exception Flags").
pub mod flags {
    /// Inexact.
    pub const NX: u8 = 1;
    /// Underflow.
    pub const UF: u8 = 2;
    /// Overflow.
    pub const OF: u8 = 4;
    /// Divide by zero.
    pub const DZ: u8 = 8;
    /// Invalid operation.
    pub const NV: u8 = 16;
    /// All five flags.
    pub const ALL: u8 = NX | UF | OF | DZ | NV;
}

/// The canonical NaN of single precision (positive, quiet, empty payload).
pub const F32_CANONICAL_NAN: u32 = 0x7fc0_0000;
/// The canonical NaN of double precision (positive, quiet, empty payload).
pub const F64_CANONICAL_NAN: u64 = 0x7ff8_0000_0000_0000;

/// Bits 63:32 of a properly NaN-boxed single.
const BOX_MASK: u64 = 0xffff_ffff_0000_0000;

/// NaN-boxes a single for a 64-bit `f` register: the upper 32 bits are set to ones.
#[inline]
pub const fn box_f32(a: u32) -> u64 {
    BOX_MASK | a as u64
}

/// Reads a single from a 64-bit `f` register: a properly boxed value gives its low 32
/// bits, anything else reads as the canonical NaN.
#[inline]
pub const fn unbox_f32(a: u64) -> u32 {
    if a & BOX_MASK == BOX_MASK {
        a as u32
    } else {
        F32_CANONICAL_NAN
    }
}

/// `fclass` result bits (unprivileged spec, "Single-Precision Floating-Point Classify").
pub mod class {
    /// Negative infinity.
    pub const NEG_INF: u32 = 1 << 0;
    /// Negative normal number.
    pub const NEG_NORMAL: u32 = 1 << 1;
    /// Negative subnormal number.
    pub const NEG_SUBNORMAL: u32 = 1 << 2;
    /// Negative zero.
    pub const NEG_ZERO: u32 = 1 << 3;
    /// Positive zero.
    pub const POS_ZERO: u32 = 1 << 4;
    /// Positive subnormal number.
    pub const POS_SUBNORMAL: u32 = 1 << 5;
    /// Positive normal number.
    pub const POS_NORMAL: u32 = 1 << 6;
    /// Positive infinity.
    pub const POS_INF: u32 = 1 << 7;
    /// Signalling NaN.
    pub const SNAN: u32 = 1 << 8;
    /// Quiet NaN.
    pub const QNAN: u32 = 1 << 9;
}

macro_rules! binary_format_api {
    (
        $bits:ty, $fmt:ty, $fmtname:literal,
        add: $add:ident, sub: $sub:ident, mul: $mul:ident, div: $div:ident, sqrt: $sqrt:ident,
        madd: $madd:ident, msub: $msub:ident, nmsub: $nmsub:ident, nmadd: $nmadd:ident,
        min: $min:ident, max: $max:ident, eq: $eq:ident, lt: $lt:ident, le: $le:ident,
        classify: $classify:ident, sgnj: $sgnj:ident, sgnjn: $sgnjn:ident, sgnjx: $sgnjx:ident,
        to_i32: $to_i32:ident, to_u32: $to_u32:ident, to_i64: $to_i64:ident, to_u64: $to_u64:ident,
        from_i64: $from_i64:ident, from_u64: $from_u64:ident,
    ) => {
        #[doc = concat!("`fadd.", $fmtname, "`: `a + b`.")]
        #[inline]
        pub fn $add(a: $bits, b: $bits, rm: RoundingMode, fflags: &mut u8) -> $bits {
            <$bits>::narrow(arith::add::<$fmt>(a.wide(), b.wide(), false, rm, fflags))
        }

        #[doc = concat!("`fsub.", $fmtname, "`: `a - b`.")]
        #[inline]
        pub fn $sub(a: $bits, b: $bits, rm: RoundingMode, fflags: &mut u8) -> $bits {
            <$bits>::narrow(arith::add::<$fmt>(a.wide(), b.wide(), true, rm, fflags))
        }

        #[doc = concat!("`fmul.", $fmtname, "`: `a * b`.")]
        #[inline]
        pub fn $mul(a: $bits, b: $bits, rm: RoundingMode, fflags: &mut u8) -> $bits {
            <$bits>::narrow(arith::mul::<$fmt>(a.wide(), b.wide(), rm, fflags))
        }

        #[doc = concat!("`fdiv.", $fmtname, "`: `a / b` (division by zero raises DZ).")]
        #[inline]
        pub fn $div(a: $bits, b: $bits, rm: RoundingMode, fflags: &mut u8) -> $bits {
            <$bits>::narrow(divsqrt::div::<$fmt>(a.wide(), b.wide(), rm, fflags))
        }

        #[doc = concat!("`fsqrt.", $fmtname, "`: square root (`sqrt(-0) = -0`, other negatives are invalid).")]
        #[inline]
        pub fn $sqrt(a: $bits, rm: RoundingMode, fflags: &mut u8) -> $bits {
            <$bits>::narrow(divsqrt::sqrt::<$fmt>(a.wide(), rm, fflags))
        }

        #[doc = concat!("`fmadd.", $fmtname, "`: `a * b + c` with a single rounding.")]
        #[inline]
        pub fn $madd(a: $bits, b: $bits, c: $bits, rm: RoundingMode, fflags: &mut u8) -> $bits {
            <$bits>::narrow(arith::mul_add::<$fmt>(a.wide(), b.wide(), c.wide(), false, false, rm, fflags))
        }

        #[doc = concat!("`fmsub.", $fmtname, "`: `a * b - c` with a single rounding.")]
        #[inline]
        pub fn $msub(a: $bits, b: $bits, c: $bits, rm: RoundingMode, fflags: &mut u8) -> $bits {
            <$bits>::narrow(arith::mul_add::<$fmt>(a.wide(), b.wide(), c.wide(), false, true, rm, fflags))
        }

        #[doc = concat!("`fnmsub.", $fmtname, "`: `-(a * b) + c` with a single rounding.")]
        #[inline]
        pub fn $nmsub(a: $bits, b: $bits, c: $bits, rm: RoundingMode, fflags: &mut u8) -> $bits {
            <$bits>::narrow(arith::mul_add::<$fmt>(a.wide(), b.wide(), c.wide(), true, false, rm, fflags))
        }

        #[doc = concat!("`fnmadd.", $fmtname, "`: `-(a * b) - c` with a single rounding.")]
        #[inline]
        pub fn $nmadd(a: $bits, b: $bits, c: $bits, rm: RoundingMode, fflags: &mut u8) -> $bits {
            <$bits>::narrow(arith::mul_add::<$fmt>(a.wide(), b.wide(), c.wide(), true, true, rm, fflags))
        }

        #[doc = concat!("`fmin.", $fmtname, "`: IEEE 754-2019 minimumNumber (-0 < +0; a NaN operand yields the other one).")]
        #[inline]
        pub fn $min(a: $bits, b: $bits, fflags: &mut u8) -> $bits {
            <$bits>::narrow(compare::min_max::<$fmt>(a.wide(), b.wide(), false, fflags))
        }

        #[doc = concat!("`fmax.", $fmtname, "`: IEEE 754-2019 maximumNumber (-0 < +0; a NaN operand yields the other one).")]
        #[inline]
        pub fn $max(a: $bits, b: $bits, fflags: &mut u8) -> $bits {
            <$bits>::narrow(compare::min_max::<$fmt>(a.wide(), b.wide(), true, fflags))
        }

        #[doc = concat!("`feq.", $fmtname, "`: quiet equality (invalid only for signalling NaNs).")]
        #[inline]
        pub fn $eq(a: $bits, b: $bits, fflags: &mut u8) -> bool {
            compare::eq::<$fmt>(a.wide(), b.wide(), fflags)
        }

        #[doc = concat!("`flt.", $fmtname, "`: signalling less-than (invalid for any NaN).")]
        #[inline]
        pub fn $lt(a: $bits, b: $bits, fflags: &mut u8) -> bool {
            compare::lt::<$fmt>(a.wide(), b.wide(), fflags)
        }

        #[doc = concat!("`fle.", $fmtname, "`: signalling less-or-equal (invalid for any NaN).")]
        #[inline]
        pub fn $le(a: $bits, b: $bits, fflags: &mut u8) -> bool {
            compare::le::<$fmt>(a.wide(), b.wide(), fflags)
        }

        #[doc = concat!("`fclass.", $fmtname, "`: the 10-bit [`class`] mask (exactly one bit set).")]
        #[inline]
        pub fn $classify(a: $bits) -> u32 {
            compare::classify::<$fmt>(a.wide())
        }

        #[doc = concat!("`fsgnj.", $fmtname, "`: `a` with the sign of `b`.")]
        #[inline]
        pub const fn $sgnj(a: $bits, b: $bits) -> $bits {
            const SIGN: $bits = 1 << (<$bits>::BITS - 1);
            (a & !SIGN) | (b & SIGN)
        }

        #[doc = concat!("`fsgnjn.", $fmtname, "`: `a` with the opposite of the sign of `b`.")]
        #[inline]
        pub const fn $sgnjn(a: $bits, b: $bits) -> $bits {
            const SIGN: $bits = 1 << (<$bits>::BITS - 1);
            (a & !SIGN) | (!b & SIGN)
        }

        #[doc = concat!("`fsgnjx.", $fmtname, "`: `a` with its sign xored with the sign of `b`.")]
        #[inline]
        pub const fn $sgnjx(a: $bits, b: $bits) -> $bits {
            const SIGN: $bits = 1 << (<$bits>::BITS - 1);
            a ^ (b & SIGN)
        }

        #[doc = concat!("`fcvt.w.", $fmtname, "`: to a signed 32-bit integer, saturating (NaN gives `i32::MAX`); the CPU sign-extends.")]
        #[inline]
        pub fn $to_i32(a: $bits, rm: RoundingMode, fflags: &mut u8) -> i32 {
            convert::to_i32::<$fmt>(a.wide(), rm, fflags)
        }

        #[doc = concat!("`fcvt.wu.", $fmtname, "`: to an unsigned 32-bit integer, saturating (NaN gives `u32::MAX`); the CPU sign-extends bit 31.")]
        #[inline]
        pub fn $to_u32(a: $bits, rm: RoundingMode, fflags: &mut u8) -> u32 {
            convert::to_u32::<$fmt>(a.wide(), rm, fflags)
        }

        #[doc = concat!("`fcvt.l.", $fmtname, "`: to a signed 64-bit integer, saturating (NaN gives `i64::MAX`).")]
        #[inline]
        pub fn $to_i64(a: $bits, rm: RoundingMode, fflags: &mut u8) -> i64 {
            convert::to_i64::<$fmt>(a.wide(), rm, fflags)
        }

        #[doc = concat!("`fcvt.lu.", $fmtname, "`: to an unsigned 64-bit integer, saturating (NaN gives `u64::MAX`).")]
        #[inline]
        pub fn $to_u64(a: $bits, rm: RoundingMode, fflags: &mut u8) -> u64 {
            convert::to_u64::<$fmt>(a.wide(), rm, fflags)
        }

        #[doc = concat!("`fcvt.", $fmtname, ".l`: from a signed 64-bit integer.")]
        #[inline]
        pub fn $from_i64(a: i64, rm: RoundingMode, fflags: &mut u8) -> $bits {
            <$bits>::narrow(convert::from_int::<$fmt>(a < 0, a.unsigned_abs(), rm, fflags))
        }

        #[doc = concat!("`fcvt.", $fmtname, ".lu`: from an unsigned 64-bit integer.")]
        #[inline]
        pub fn $from_u64(a: u64, rm: RoundingMode, fflags: &mut u8) -> $bits {
            <$bits>::narrow(convert::from_int::<$fmt>(false, a, rm, fflags))
        }
    };
}

binary_format_api! {
    u32, F32, "s",
    add: f32_add, sub: f32_sub, mul: f32_mul, div: f32_div, sqrt: f32_sqrt,
    madd: f32_madd, msub: f32_msub, nmsub: f32_nmsub, nmadd: f32_nmadd,
    min: f32_min, max: f32_max, eq: f32_eq, lt: f32_lt, le: f32_le,
    classify: f32_classify, sgnj: f32_sgnj, sgnjn: f32_sgnjn, sgnjx: f32_sgnjx,
    to_i32: f32_to_i32, to_u32: f32_to_u32, to_i64: f32_to_i64, to_u64: f32_to_u64,
    from_i64: i64_to_f32, from_u64: u64_to_f32,
}

binary_format_api! {
    u64, F64, "d",
    add: f64_add, sub: f64_sub, mul: f64_mul, div: f64_div, sqrt: f64_sqrt,
    madd: f64_madd, msub: f64_msub, nmsub: f64_nmsub, nmadd: f64_nmadd,
    min: f64_min, max: f64_max, eq: f64_eq, lt: f64_lt, le: f64_le,
    classify: f64_classify, sgnj: f64_sgnj, sgnjn: f64_sgnjn, sgnjx: f64_sgnjx,
    to_i32: f64_to_i32, to_u32: f64_to_u32, to_i64: f64_to_i64, to_u64: f64_to_u64,
    from_i64: i64_to_f64, from_u64: u64_to_f64,
}

/// `fcvt.s.w`: from a signed 32-bit integer (rounds when the value needs more than 24 bits).
#[inline]
pub fn i32_to_f32(a: i32, rm: RoundingMode, fflags: &mut u8) -> u32 {
    i64_to_f32(a.into(), rm, fflags)
}

/// `fcvt.s.wu`: from an unsigned 32-bit integer (rounds when the value needs more than 24 bits).
#[inline]
pub fn u32_to_f32(a: u32, rm: RoundingMode, fflags: &mut u8) -> u32 {
    u64_to_f32(a.into(), rm, fflags)
}

/// `fcvt.d.w`: from a signed 32-bit integer (always exact: no rounding mode, no flags).
#[inline]
pub fn i32_to_f64(a: i32) -> u64 {
    convert::from_int_exact::<F64>(a < 0, a.unsigned_abs().into())
}

/// `fcvt.d.wu`: from an unsigned 32-bit integer (always exact: no rounding mode, no flags).
#[inline]
pub fn u32_to_f64(a: u32) -> u64 {
    convert::from_int_exact::<F64>(false, a.wide())
}

/// `fcvt.d.s`: single to double (exact; a NaN gives the canonical NaN, invalid if signalling).
#[inline]
pub fn f32_to_f64(a: u32, fflags: &mut u8) -> u64 {
    convert::f32_to_f64(a, fflags)
}

/// `fcvt.s.d`: double to single, rounded (a NaN gives the canonical NaN, invalid if signalling).
#[inline]
pub fn f64_to_f32(a: u64, rm: RoundingMode, fflags: &mut u8) -> u32 {
    convert::f64_to_f32(a, rm, fflags)
}
