//! Comparisons, minimum/maximum and classification.

use super::class;
use super::flags::NV;
use super::format::{exp_of, frac_of, is_nan, is_snan, sign_of, Format};

/// Whether `a < b` for two non-NaN values (with -0 = +0).
#[inline(always)]
fn less<F: Format>(a: u64, b: u64) -> bool {
    let (sign_a, sign_b) = (sign_of::<F>(a), sign_of::<F>(b));
    if sign_a != sign_b {
        // Different signs: a < b iff a is negative and not both are zeros.
        sign_a && (a | b) & F::ABS_MASK != 0
    } else {
        a != b && (sign_a ^ (a < b))
    }
}

/// `feq`: quiet, invalid only for signalling NaNs.
#[inline]
pub(super) fn eq<F: Format>(a: u64, b: u64, fflags: &mut u8) -> bool {
    if is_nan::<F>(a) || is_nan::<F>(b) {
        if is_snan::<F>(a) || is_snan::<F>(b) {
            *fflags |= NV;
        }
        return false;
    }
    a == b || (a | b) & F::ABS_MASK == 0
}

/// `flt`: signalling, invalid for any NaN.
#[inline]
pub(super) fn lt<F: Format>(a: u64, b: u64, fflags: &mut u8) -> bool {
    if is_nan::<F>(a) || is_nan::<F>(b) {
        *fflags |= NV;
        return false;
    }
    less::<F>(a, b)
}

/// `fle`: signalling, invalid for any NaN.
#[inline]
pub(super) fn le<F: Format>(a: u64, b: u64, fflags: &mut u8) -> bool {
    if is_nan::<F>(a) || is_nan::<F>(b) {
        *fflags |= NV;
        return false;
    }
    !less::<F>(b, a)
}

/// `fmin` (`max` false) or `fmax` (`max` true): IEEE 754-2019 minimumNumber and
/// maximumNumber, ordering -0 below +0.
#[inline]
pub(super) fn min_max<F: Format>(a: u64, b: u64, max: bool, fflags: &mut u8) -> u64 {
    let (nan_a, nan_b) = (is_nan::<F>(a), is_nan::<F>(b));
    if nan_a || nan_b {
        if is_snan::<F>(a) || is_snan::<F>(b) {
            *fflags |= NV;
        }
        return match (nan_a, nan_b) {
            (true, true) => F::DEFAULT_NAN,
            (true, false) => b,
            _ => a,
        };
    }
    // Total order of non-NaN values, -0 < +0.
    let (sign_a, sign_b) = (sign_of::<F>(a), sign_of::<F>(b));
    let a_less = if sign_a != sign_b {
        sign_a
    } else {
        sign_a ^ (a < b)
    };
    if a_less ^ max {
        a
    } else {
        b
    }
}

/// `fclass`: exactly one [`class`] bit.
#[inline]
pub(super) fn classify<F: Format>(a: u64) -> u32 {
    let sign = sign_of::<F>(a);
    let exp = exp_of::<F>(a);
    let frac = frac_of::<F>(a);
    if exp == F::EXP_MAX {
        if frac == 0 {
            return if sign { class::NEG_INF } else { class::POS_INF };
        }
        return if frac & F::QUIET != 0 {
            class::QNAN
        } else {
            class::SNAN
        };
    }
    if exp == 0 {
        if frac == 0 {
            return if sign {
                class::NEG_ZERO
            } else {
                class::POS_ZERO
            };
        }
        return if sign {
            class::NEG_SUBNORMAL
        } else {
            class::POS_SUBNORMAL
        };
    }
    if sign {
        class::NEG_NORMAL
    } else {
        class::POS_NORMAL
    }
}
