//! Conversions between the formats and to and from integers.

use super::flags::{NV, NX};
use super::format::{
    exp_of, frac_of, inf, is_nan, is_snan, pack, round_pack, sign_of, unpack_finite, zero, Format,
    F32, F64,
};
use super::RoundingMode;

/// A float rounded to an integer, before the range check of the target type.
enum Rounded {
    /// The operand was a NaN.
    NaN,
    /// The magnitude is at least 2^64 (including infinities), with the sign.
    Huge(bool),
    /// Sign, rounded magnitude and whether rounding was inexact.
    Int(bool, u64, bool),
}

/// Rounds `a` to an integer magnitude in rounding mode `rm`.
#[inline(always)]
fn round_to_int<F: Format>(a: u64, rm: RoundingMode) -> Rounded {
    let sign = sign_of::<F>(a);
    let exp = exp_of::<F>(a);
    if exp == F::EXP_MAX {
        return if frac_of::<F>(a) != 0 {
            Rounded::NaN
        } else {
            Rounded::Huge(sign)
        };
    }
    if a & F::ABS_MASK == 0 {
        return Rounded::Int(sign, 0, false);
    }
    // The value is sig * 2^k.
    let sig = if exp == 0 {
        frac_of::<F>(a)
    } else {
        frac_of::<F>(a) | F::IMPLICIT
    };
    let k = exp.max(1) - F::BIAS - F::FRAC_BITS as i32;
    if k >= 0 {
        if k >= 64 - F::FRAC_BITS as i32 {
            // sig >= 2^FRAC_BITS, so the value is at least 2^64.
            return Rounded::Huge(sign);
        }
        return Rounded::Int(sign, sig << k, false);
    }
    // Integer part and 64 bits of fraction (a nonzero value below 2^-64 only matters
    // as "nonzero, below one half").
    let (int, frac) = if k >= -64 {
        let x = u128::from(sig) << (64 + k);
        ((x >> 64) as u64, x as u64)
    } else {
        (0, 1)
    };
    const HALF: u64 = 1 << 63;
    let up = match rm {
        RoundingMode::Rne => frac > HALF || (frac == HALF && int & 1 != 0),
        RoundingMode::Rmm => frac >= HALF,
        RoundingMode::Rtz => false,
        RoundingMode::Rdn => sign && frac != 0,
        RoundingMode::Rup => !sign && frac != 0,
    };
    // int < 2^FRAC_BITS here, so the increment cannot overflow.
    Rounded::Int(sign, int + u64::from(up), frac != 0)
}

/// Converts to a signed integer of `bits` bits (32 or 64), saturating.
#[inline(always)]
fn to_signed<F: Format>(a: u64, rm: RoundingMode, bits: u32, fflags: &mut u8) -> i64 {
    let max = (1u64 << (bits - 1)) - 1;
    match round_to_int::<F>(a, rm) {
        Rounded::NaN => {
            *fflags |= NV;
            max as i64
        }
        Rounded::Huge(sign) => {
            *fflags |= NV;
            if sign {
                !(max as i64)
            } else {
                max as i64
            }
        }
        Rounded::Int(sign, mag, inexact) => {
            let limit = max + u64::from(sign);
            if mag > limit {
                *fflags |= NV;
                return if sign { !(max as i64) } else { max as i64 };
            }
            if inexact {
                *fflags |= NX;
            }
            if sign {
                (mag as i64).wrapping_neg()
            } else {
                mag as i64
            }
        }
    }
}

/// Converts to an unsigned integer of `bits` bits (32 or 64), saturating.
#[inline(always)]
fn to_unsigned<F: Format>(a: u64, rm: RoundingMode, bits: u32, fflags: &mut u8) -> u64 {
    let max = u64::MAX >> (64 - bits);
    match round_to_int::<F>(a, rm) {
        Rounded::NaN => {
            *fflags |= NV;
            max
        }
        Rounded::Huge(sign) => {
            *fflags |= NV;
            if sign {
                0
            } else {
                max
            }
        }
        Rounded::Int(sign, mag, inexact) => {
            // A negative value is only valid if it rounds to zero.
            if (sign && mag != 0) || mag > max {
                *fflags |= NV;
                return if sign { 0 } else { max };
            }
            if inexact {
                *fflags |= NX;
            }
            mag
        }
    }
}

/// Float to `i32`.
#[inline]
pub(super) fn to_i32<F: Format>(a: u64, rm: RoundingMode, fflags: &mut u8) -> i32 {
    to_signed::<F>(a, rm, 32, fflags) as i32
}

/// Float to `u32`.
#[inline]
pub(super) fn to_u32<F: Format>(a: u64, rm: RoundingMode, fflags: &mut u8) -> u32 {
    to_unsigned::<F>(a, rm, 32, fflags) as u32
}

/// Float to `i64`.
#[inline]
pub(super) fn to_i64<F: Format>(a: u64, rm: RoundingMode, fflags: &mut u8) -> i64 {
    to_signed::<F>(a, rm, 64, fflags)
}

/// Float to `u64`.
#[inline]
pub(super) fn to_u64<F: Format>(a: u64, rm: RoundingMode, fflags: &mut u8) -> u64 {
    to_unsigned::<F>(a, rm, 64, fflags)
}

/// The integer `(-1)^sign * mag`, rounded.
#[inline]
pub(super) fn from_int<F: Format>(sign: bool, mag: u64, rm: RoundingMode, fflags: &mut u8) -> u64 {
    if mag == 0 {
        return 0;
    }
    let lz = mag.leading_zeros();
    // Leading one to bit 62, jamming the bit shifted out of a 64-bit magnitude.
    let sig = if lz == 0 {
        (mag >> 1) | (mag & 1)
    } else {
        mag << (lz - 1)
    };
    round_pack::<F>(sign, 62 - lz as i32 + F::BIAS, sig, rm, fflags)
}

/// The integer `(-1)^sign * mag`, which must fit the significand exactly.
#[inline]
pub(super) fn from_int_exact<F: Format>(sign: bool, mag: u64) -> u64 {
    if mag == 0 {
        return 0;
    }
    debug_assert!(mag >> (F::FRAC_BITS + 1) == 0);
    let lz = mag.leading_zeros();
    // Leading one at bit 63 - lz, moved to the implicit position.
    let sig = mag << (lz - (63 - F::FRAC_BITS));
    pack::<F>(sign, 62 - lz as i32 + F::BIAS, sig)
}

/// Single to double: exact.
#[inline]
pub(super) fn f32_to_f64(a: u32, fflags: &mut u8) -> u64 {
    let a = u64::from(a);
    let sign = sign_of::<F32>(a);
    if exp_of::<F32>(a) == F32::EXP_MAX {
        if is_nan::<F32>(a) {
            if is_snan::<F32>(a) {
                *fflags |= NV;
            }
            return F64::DEFAULT_NAN;
        }
        return inf::<F64>(sign);
    }
    if a & F32::ABS_MASK == 0 {
        return zero::<F64>(sign);
    }
    let (exp, sig) = unpack_finite::<F32>(a);
    pack::<F64>(
        sign,
        exp + (F64::BIAS - F32::BIAS),
        (sig & F32::FRAC_MASK) << (F64::FRAC_BITS - F32::FRAC_BITS),
    )
}

/// Double to single, rounded.
#[inline]
pub(super) fn f64_to_f32(a: u64, rm: RoundingMode, fflags: &mut u8) -> u32 {
    let sign = sign_of::<F64>(a);
    let z = if exp_of::<F64>(a) == F64::EXP_MAX {
        if is_nan::<F64>(a) {
            if is_snan::<F64>(a) {
                *fflags |= NV;
            }
            F32::DEFAULT_NAN
        } else {
            inf::<F32>(sign)
        }
    } else if a & F64::ABS_MASK == 0 {
        zero::<F32>(sign)
    } else {
        let (exp, sig) = unpack_finite::<F64>(a);
        round_pack::<F32>(
            sign,
            exp - F64::BIAS + F32::BIAS - 1,
            sig << (62 - F64::FRAC_BITS),
            rm,
            fflags,
        )
    };
    z as u32
}
