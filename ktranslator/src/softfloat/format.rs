//! Binary interchange formats and the shared round-and-pack step.
//!
//! Both formats are handled in `u64` (a single sits in the low 32 bits). Intermediate
//! significands follow one convention everywhere: a `u64` whose leading one is at bit 62
//! (or lower for subnormal results), with every bit below the final rounding position
//! either exact or "jammed" (ORed) into bit 0 as a sticky bit. [`round_pack`] takes such a
//! significand with an exponent `exp` and means the value `2^(exp + 1 - BIAS) * sig / 2^62`:
//! packing adds the leading one into the exponent field, which is why `exp` is one less
//! than the biased exponent of a normal result.

use super::flags::{NX, OF, UF};
use super::RoundingMode;

/// Raw bit containers of the two formats, converted to and from the `u64` used inside.
pub(super) trait Bits: Copy {
    /// Zero-extends to `u64`.
    fn wide(self) -> u64;
    /// Truncates a `u64` holding a value of this format.
    fn narrow(bits: u64) -> Self;
}

impl Bits for u32 {
    #[inline(always)]
    fn wide(self) -> u64 {
        u64::from(self)
    }
    #[inline(always)]
    fn narrow(bits: u64) -> Self {
        bits as u32
    }
}

impl Bits for u64 {
    #[inline(always)]
    fn wide(self) -> u64 {
        self
    }
    #[inline(always)]
    fn narrow(bits: u64) -> Self {
        bits
    }
}

/// An IEEE 754 binary format. All constants are in terms of the `u64` representation.
pub(super) trait Format {
    /// Width of the trailing significand field.
    const FRAC_BITS: u32;
    /// Width of the exponent field.
    const EXP_BITS: u32;

    /// Exponent bias.
    const BIAS: i32 = (1 << (Self::EXP_BITS - 1)) - 1;
    /// The all-ones exponent of infinities and NaNs.
    const EXP_MAX: i32 = (1 << Self::EXP_BITS) - 1;
    /// Position of the sign bit.
    const SIGN_SHIFT: u32 = Self::FRAC_BITS + Self::EXP_BITS;
    /// The sign bit.
    const SIGN: u64 = 1 << Self::SIGN_SHIFT;
    /// Everything but the sign bit.
    const ABS_MASK: u64 = Self::SIGN - 1;
    /// The trailing significand field.
    const FRAC_MASK: u64 = (1 << Self::FRAC_BITS) - 1;
    /// The implicit leading one of normal numbers, at its place above the fraction.
    const IMPLICIT: u64 = 1 << Self::FRAC_BITS;
    /// The quiet bit of NaNs.
    const QUIET: u64 = 1 << (Self::FRAC_BITS - 1);
    /// Positive infinity.
    const INF: u64 = (Self::EXP_MAX as u64) << Self::FRAC_BITS;
    /// The canonical NaN.
    const DEFAULT_NAN: u64 = Self::INF | Self::QUIET;
    /// Bits below the last significand bit in the bit-62 convention of [`round_pack`].
    const ROUND_BITS: u32 = 62 - Self::FRAC_BITS;

    /// Significand for [`round_pack`] (leading one at bit 62) of the quotient
    /// `sig_a / sig_b` scaled into `[2^62, 2^63)`: by `2^62` if `sig_a >= sig_b`, by `2^63`
    /// if `a_lt_b`. Both inputs are normalized (implicit bit set). The result rounds
    /// exactly like the exact quotient: same bits above the rounding bits, and rounding
    /// bits that are zero, below, at or above one half exactly when the exact ones are.
    fn div_sig(sig_a: u64, sig_b: u64, a_lt_b: bool) -> u64;

    /// Like [`Format::div_sig`], for the square root of the normalized `sig` (implicit
    /// bit set) times 2 if `odd`, scaled into `[2^62, 2^63)`.
    fn sqrt_sig(sig: u64, odd: bool) -> u64;
}

/// IEEE 754 binary32.
pub(super) struct F32;
/// IEEE 754 binary64.
pub(super) struct F64;

impl Format for F32 {
    const FRAC_BITS: u32 = 23;
    const EXP_BITS: u32 = 8;

    #[inline(always)]
    fn div_sig(sig_a: u64, sig_b: u64, a_lt_b: bool) -> u64 {
        super::divsqrt::div_sig_f32(sig_a, sig_b, a_lt_b)
    }

    #[inline(always)]
    fn sqrt_sig(sig: u64, odd: bool) -> u64 {
        super::divsqrt::sqrt_sig_f32(sig, odd)
    }
}

impl Format for F64 {
    const FRAC_BITS: u32 = 52;
    const EXP_BITS: u32 = 11;

    #[inline(always)]
    fn div_sig(sig_a: u64, sig_b: u64, a_lt_b: bool) -> u64 {
        super::divsqrt::div_sig_f64(sig_a, sig_b, a_lt_b)
    }

    #[inline(always)]
    fn sqrt_sig(sig: u64, odd: bool) -> u64 {
        super::divsqrt::sqrt_sig_f64(sig, odd)
    }
}

/// The sign bit of `a`.
#[inline(always)]
pub(super) fn sign_of<F: Format>(a: u64) -> bool {
    a >> F::SIGN_SHIFT != 0
}

/// The biased exponent field of `a`.
#[inline(always)]
pub(super) fn exp_of<F: Format>(a: u64) -> i32 {
    ((a >> F::FRAC_BITS) as i32) & F::EXP_MAX
}

/// The trailing significand field of `a`.
#[inline(always)]
pub(super) fn frac_of<F: Format>(a: u64) -> u64 {
    a & F::FRAC_MASK
}

/// Whether `a` is a NaN.
#[inline(always)]
pub(super) fn is_nan<F: Format>(a: u64) -> bool {
    a & F::ABS_MASK > F::INF
}

/// Whether `a` is a signalling NaN.
#[inline(always)]
pub(super) fn is_snan<F: Format>(a: u64) -> bool {
    is_nan::<F>(a) && a & F::QUIET == 0
}

/// Assembles sign, exponent and significand by addition, so a significand carrying into
/// the implicit position bumps the exponent. `exp` must not be negative.
#[inline(always)]
pub(super) fn pack<F: Format>(sign: bool, exp: i32, sig: u64) -> u64 {
    debug_assert!(exp >= 0);
    (u64::from(sign) << F::SIGN_SHIFT)
        .wrapping_add((exp as u64) << F::FRAC_BITS)
        .wrapping_add(sig)
}

/// A zero with the given sign.
#[inline(always)]
pub(super) fn zero<F: Format>(sign: bool) -> u64 {
    u64::from(sign) << F::SIGN_SHIFT
}

/// An infinity with the given sign.
#[inline(always)]
pub(super) fn inf<F: Format>(sign: bool) -> u64 {
    zero::<F>(sign) | F::INF
}

/// The canonical NaN result of an operation with NaN operands `a` and `b`: invalid if
/// either is signalling (RISC-V never propagates payloads).
#[inline(always)]
pub(super) fn nan2<F: Format>(a: u64, b: u64, fflags: &mut u8) -> u64 {
    if is_snan::<F>(a) || is_snan::<F>(b) {
        *fflags |= super::flags::NV;
    }
    F::DEFAULT_NAN
}

/// The canonical NaN and the invalid flag.
#[inline(always)]
pub(super) fn invalid<F: Format>(fflags: &mut u8) -> u64 {
    *fflags |= super::flags::NV;
    F::DEFAULT_NAN
}

/// Normalizes a nonzero subnormal fraction: returns the exponent it would have as a
/// normal number (at most 0) and the significand with its leading one at the implicit
/// position.
#[inline(always)]
pub(super) fn norm_subnormal<F: Format>(frac: u64) -> (i32, u64) {
    debug_assert!(frac != 0 && frac < F::IMPLICIT);
    let shift = frac.leading_zeros() - (63 - F::FRAC_BITS);
    (1 - shift as i32, frac << shift)
}

/// Exponent and full significand (implicit bit included, leading one at `FRAC_BITS`) of
/// a finite nonzero value, subnormals normalized.
#[inline(always)]
pub(super) fn unpack_finite<F: Format>(a: u64) -> (i32, u64) {
    let exp = exp_of::<F>(a);
    let frac = frac_of::<F>(a);
    if exp == 0 {
        norm_subnormal::<F>(frac)
    } else {
        (exp, frac | F::IMPLICIT)
    }
}

/// `a >> dist` with every shifted-out one bit ORed into bit 0 (any `dist`).
#[inline(always)]
pub(super) fn shift_right_jam64(a: u64, dist: u32) -> u64 {
    if dist == 0 {
        a
    } else if dist < 64 {
        (a >> dist) | u64::from(a << (64 - dist) != 0)
    } else {
        u64::from(a != 0)
    }
}

/// `a >> dist` with every shifted-out one bit ORed into bit 0 (any `dist`).
#[inline(always)]
pub(super) fn shift_right_jam128(a: u128, dist: u32) -> u128 {
    if dist == 0 {
        a
    } else if dist < 128 {
        (a >> dist) | u128::from(a << (128 - dist) != 0)
    } else {
        u128::from(a != 0)
    }
}

/// Rounds and packs `2^(exp + 1 - BIAS) * sig / 2^62` (see the module docs), handling
/// overflow, subnormal results, tininess after rounding and the NX/UF/OF flags.
/// `sig` must be below `2^63`; its bit 0 may be a sticky bit.
#[inline(always)]
pub(super) fn round_pack<F: Format>(
    sign: bool,
    exp: i32,
    sig: u64,
    rm: RoundingMode,
    fflags: &mut u8,
) -> u64 {
    debug_assert!(sig < 1 << 63);
    let round_mask: u64 = (1 << F::ROUND_BITS) - 1;
    let half: u64 = 1 << (F::ROUND_BITS - 1);
    let increment = match rm {
        RoundingMode::Rne | RoundingMode::Rmm => half,
        RoundingMode::Rtz => 0,
        RoundingMode::Rdn => {
            if sign {
                round_mask
            } else {
                0
            }
        }
        RoundingMode::Rup => {
            if sign {
                0
            } else {
                round_mask
            }
        }
    };
    let mut exp = exp;
    let mut sig = sig;
    // One unsigned comparison catches both exp < 0 and exp >= EXP_MAX - 2.
    if exp as u32 >= (F::EXP_MAX - 2) as u32 {
        if exp < 0 {
            // Tiny after rounding unless rounding at the normal precision (unbounded
            // exponent) carries up to the smallest normal.
            let tiny = exp < -1 || sig + increment < 1 << 63;
            sig = shift_right_jam64(sig, exp.unsigned_abs());
            exp = 0;
            if tiny && sig & round_mask != 0 {
                *fflags |= UF;
            }
        } else if exp > F::EXP_MAX - 2 || sig + increment >= 1 << 63 {
            *fflags |= OF | NX;
            // Infinity, or the largest finite number when rounding towards zero.
            return inf::<F>(sign) - u64::from(increment == 0);
        }
    }
    let round_bits = sig & round_mask;
    if round_bits != 0 {
        *fflags |= NX;
    }
    let mut z = (sig + increment) >> F::ROUND_BITS;
    if rm == RoundingMode::Rne && round_bits == half {
        z &= !1;
    }
    if z == 0 {
        exp = 0;
    }
    pack::<F>(sign, exp, z)
}

/// [`round_pack`] for a nonzero `sig` whose leading one may be anywhere below bit 63.
#[inline(always)]
pub(super) fn norm_round_pack<F: Format>(
    sign: bool,
    exp: i32,
    sig: u64,
    rm: RoundingMode,
    fflags: &mut u8,
) -> u64 {
    debug_assert!(sig != 0 && sig < 1 << 63);
    let shift = sig.leading_zeros() - 1;
    let exp = exp - shift as i32;
    if shift >= F::ROUND_BITS && (exp as u32) < (F::EXP_MAX - 2) as u32 {
        // Exact: all significant bits fit and the exponent is in the normal range.
        pack::<F>(sign, exp, sig << (shift - F::ROUND_BITS))
    } else {
        round_pack::<F>(sign, exp, sig << shift, rm, fflags)
    }
}
