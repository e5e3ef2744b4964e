//! Addition, subtraction, multiplication and fused multiply-add.

use super::format::{
    exp_of, frac_of, inf, invalid, is_nan, is_snan, nan2, norm_round_pack, norm_subnormal, pack,
    round_pack, shift_right_jam128, shift_right_jam64, sign_of, unpack_finite, zero, Format,
};
use super::RoundingMode;

/// `a + b`, or `a - b` if `negate_b`: the common case inline, the rest out of line.
#[inline(always)]
pub(super) fn add<F: Format>(
    a: u64,
    b: u64,
    negate_b: bool,
    rm: RoundingMode,
    fflags: &mut u8,
) -> u64 {
    let b = if negate_b { b ^ F::SIGN } else { b };
    if rm == RoundingMode::Rne {
        if let Some(z) = add_rne_normal::<F>(a, b, fflags) {
            return z;
        }
    }
    add_general::<F>(a, b, rm, fflags)
}

/// `a + b`, any operands and rounding mode.
#[inline(never)]
fn add_general<F: Format>(a: u64, b: u64, rm: RoundingMode, fflags: &mut u8) -> u64 {
    let sign_a = sign_of::<F>(a);
    if sign_a == sign_of::<F>(b) {
        add_mags::<F>(a, b, sign_a, rm, fflags)
    } else {
        sub_mags::<F>(a, b, sign_a, rm, fflags)
    }
}

/// Whether `e` is the exponent field of a normal number (not zero, subnormal, infinite or
/// NaN).
#[inline(always)]
fn normal_exp<F: Format>(e: i32) -> bool {
    (e - 1) as u32 <= (F::EXP_MAX - 2) as u32
}

/// Round to nearest even of `2^(exp + 1 - BIAS) * sig / 2^62` for a `sig` with its
/// leading one at bit 62 and an `exp` that leaves the result normal (`round_pack`'s
/// common case, without its overflow and underflow handling); `None` if `exp` is
/// outside that range.
#[inline(always)]
fn round_rne_normal<F: Format>(sign: u64, exp: i32, sig: u64, fflags: &mut u8) -> Option<u64> {
    // At most EXP_MAX - 3: rounding up can carry into the exponent once and still give
    // a finite number.
    if exp as u32 > (F::EXP_MAX - 3) as u32 {
        return None;
    }
    let half: u64 = 1 << (F::ROUND_BITS - 1);
    let round_bits = sig & ((1 << F::ROUND_BITS) - 1);
    let mut z = (sig + half) >> F::ROUND_BITS;
    // A tie rounds to even.
    z &= !u64::from(round_bits == half);
    *fflags |= super::flags::NX * u8::from(round_bits != 0);
    Some(sign.wrapping_add((exp as u64) << F::FRAC_BITS).wrapping_add(z))
}

/// `a + b` rounded to nearest even when both are normal and so is the (nonzero) result:
/// the common case, without branches on the operands' signs or order (they are random
/// in numeric code, which made the general path's branches mispredict). `None` for
/// everything else, which the general code handles.
#[inline(always)]
fn add_rne_normal<F: Format>(a: u64, b: u64, fflags: &mut u8) -> Option<u64> {
    if !normal_exp::<F>(exp_of::<F>(a)) || !normal_exp::<F>(exp_of::<F>(b)) {
        return None;
    }
    // x: the operand of larger magnitude, which gives the result its sign and exponent.
    let (x, y) = if a & F::ABS_MASK >= b & F::ABS_MASK { (a, b) } else { (b, a) };
    let (exp_x, exp_y) = (exp_of::<F>(x), exp_of::<F>(y));
    // Significands with their leading one at bit 61, leaving room for a carry.
    let shift = 61 - F::FRAC_BITS;
    let sig_x = (frac_of::<F>(x) | F::IMPLICIT) << shift;
    // Aligned with the shifted-out bits jammed into bit 0. A distance of 63 or more
    // leaves only the sticky bit (sig_y < 2^62), so it is clamped to 63.
    let sig_y = (frac_of::<F>(y) | F::IMPLICIT) << shift;
    let dist = (exp_x - exp_y).min(63) as u32;
    let sig_y = (sig_y >> dist) | u64::from((sig_y << (63 - dist)) << 1 != 0);
    // Subtract by adding the two's complement (all ones in `neg` for opposite signs).
    // An exponent difference of 2 or more leaves at most two bits to cancel, so the
    // sticky bit stays below the rounding position; below that the alignment is exact.
    let neg = 0u64.wrapping_sub(((x ^ y) >> F::SIGN_SHIFT) & 1);
    let sig = sig_x.wrapping_add((sig_y ^ neg).wrapping_sub(neg));
    // sig < 2^63; an exact zero (whose sign depends on the rounding mode) is left to
    // the general code.
    if sig == 0 {
        return None;
    }
    let lz = sig.leading_zeros() as i32;
    let exp = exp_x + 1 - lz;
    round_rne_normal::<F>(x & F::SIGN, exp, sig << ((lz - 1) & 63), fflags)
}

/// `a * b` rounded to nearest even when both are normal and so is the result; `None`
/// otherwise.
#[inline(always)]
fn mul_rne_normal<F: Format>(a: u64, b: u64, fflags: &mut u8) -> Option<u64> {
    let (exp_a, exp_b) = (exp_of::<F>(a), exp_of::<F>(b));
    if !normal_exp::<F>(exp_a) || !normal_exp::<F>(exp_b) {
        return None;
    }
    // Leading ones at bits 62 and 63: the high half of the product has its leading one
    // at bit 61 or 62; the low half is jammed into bit 0.
    let product = u128::from((frac_of::<F>(a) | F::IMPLICIT) << (62 - F::FRAC_BITS))
        * u128::from((frac_of::<F>(b) | F::IMPLICIT) << (63 - F::FRAC_BITS));
    let sig = (product >> 64) as u64 | u64::from(product as u64 != 0);
    // The leading zeros, 1 or 2, without a bit scan: numeric code mostly waits for the
    // previous result, and the scan made up a fifth of this path's latency (measured
    // by the `dependent_chains` benchmark, softfloat_bench.rs).
    let lz = 2 - (sig >> 62) as i32;
    let exp = exp_a + exp_b - F::BIAS + 1 - lz;
    round_rne_normal::<F>((a ^ b) & F::SIGN, exp, sig << ((lz - 1) & 63), fflags)
}

/// Sum of two operands of the same sign `sign`.
#[inline(always)]
fn add_mags<F: Format>(a: u64, b: u64, sign: bool, rm: RoundingMode, fflags: &mut u8) -> u64 {
    let (exp_a, exp_b) = (exp_of::<F>(a), exp_of::<F>(b));
    let (frac_a, frac_b) = (frac_of::<F>(a), frac_of::<F>(b));
    let exp_diff = exp_a - exp_b;
    // Significands with their leading one at bit 61, leaving room for the carry.
    let shift = 61 - F::FRAC_BITS;
    let one = F::IMPLICIT << shift;
    if exp_diff == 0 {
        if exp_a == 0 {
            // Two subnormals (or zeros): the fraction sum is exact and may carry into
            // the exponent field, giving the smallest normal.
            return a + frac_b;
        }
        if exp_a == F::EXP_MAX {
            if frac_a | frac_b != 0 {
                return nan2::<F>(a, b, fflags);
            }
            return a;
        }
        let sig = (2 * F::IMPLICIT + frac_a + frac_b) << shift;
        return round_pack::<F>(sign, exp_a, sig, rm, fflags);
    }
    let (exp_z, big, small) = if exp_diff < 0 {
        if exp_b == F::EXP_MAX {
            if frac_b != 0 {
                return nan2::<F>(a, b, fflags);
            }
            return inf::<F>(sign);
        }
        // A subnormal has exponent 1 but no implicit bit: doubling it aligns it.
        let small = if exp_a != 0 {
            (frac_a << shift) + one
        } else {
            frac_a << (shift + 1)
        };
        (
            exp_b,
            frac_b << shift,
            shift_right_jam64(small, exp_diff.unsigned_abs()),
        )
    } else {
        if exp_a == F::EXP_MAX {
            if frac_a != 0 {
                return nan2::<F>(a, b, fflags);
            }
            return a;
        }
        let small = if exp_b != 0 {
            (frac_b << shift) + one
        } else {
            frac_b << (shift + 1)
        };
        (
            exp_a,
            frac_a << shift,
            shift_right_jam64(small, exp_diff.unsigned_abs()),
        )
    };
    let mut sig = one + big + small;
    let mut exp_z = exp_z;
    if sig < 1 << 62 {
        exp_z -= 1;
        sig <<= 1;
    }
    round_pack::<F>(sign, exp_z, sig, rm, fflags)
}

/// `a - |b|` for operands of opposite signs, `sign` being the sign of `a`.
#[inline(always)]
fn sub_mags<F: Format>(a: u64, b: u64, sign: bool, rm: RoundingMode, fflags: &mut u8) -> u64 {
    let (exp_a, exp_b) = (exp_of::<F>(a), exp_of::<F>(b));
    let (frac_a, frac_b) = (frac_of::<F>(a), frac_of::<F>(b));
    let exp_diff = exp_a - exp_b;
    if exp_diff == 0 {
        if exp_a == F::EXP_MAX {
            if frac_a | frac_b != 0 {
                return nan2::<F>(a, b, fflags);
            }
            // inf - inf
            return invalid::<F>(fflags);
        }
        // Same exponent: the implicit bits cancel and the difference is exact.
        let (sign, diff) = if frac_a >= frac_b {
            (sign, frac_a - frac_b)
        } else {
            (!sign, frac_b - frac_a)
        };
        if diff == 0 {
            // Exact zero: +0, except -0 when rounding down.
            return zero::<F>(rm == RoundingMode::Rdn);
        }
        let exp_a = if exp_a != 0 { exp_a - 1 } else { 0 };
        let shift = diff.leading_zeros() as i32 - (63 - F::FRAC_BITS) as i32;
        let exp_z = exp_a - shift;
        if exp_z < 0 {
            // Subnormal result: shift only as far as the minimum exponent allows.
            return pack::<F>(sign, 0, diff << exp_a);
        }
        return pack::<F>(sign, exp_z, diff << shift);
    }
    // Significands with their leading one at bit 62.
    let shift = 62 - F::FRAC_BITS;
    let one: u64 = 1 << 62;
    let (sign, exp_z, big, small) = if exp_diff < 0 {
        if exp_b == F::EXP_MAX {
            if frac_b != 0 {
                return nan2::<F>(a, b, fflags);
            }
            return inf::<F>(!sign);
        }
        let small = frac_a << shift;
        let small = if exp_a != 0 { small + one } else { small << 1 };
        (
            !sign,
            exp_b,
            (frac_b << shift) | one,
            shift_right_jam64(small, exp_diff.unsigned_abs()),
        )
    } else {
        if exp_a == F::EXP_MAX {
            if frac_a != 0 {
                return nan2::<F>(a, b, fflags);
            }
            return a;
        }
        let small = frac_b << shift;
        let small = if exp_b != 0 { small + one } else { small << 1 };
        (
            sign,
            exp_a,
            (frac_a << shift) | one,
            shift_right_jam64(small, exp_diff.unsigned_abs()),
        )
    };
    norm_round_pack::<F>(sign, exp_z - 1, big - small, rm, fflags)
}

/// `a * b`: the common case inline, the rest out of line.
#[inline(always)]
pub(super) fn mul<F: Format>(a: u64, b: u64, rm: RoundingMode, fflags: &mut u8) -> u64 {
    if rm == RoundingMode::Rne {
        if let Some(z) = mul_rne_normal::<F>(a, b, fflags) {
            return z;
        }
    }
    mul_general::<F>(a, b, rm, fflags)
}

/// `a * b`, any operands and rounding mode.
#[inline(never)]
fn mul_general<F: Format>(a: u64, b: u64, rm: RoundingMode, fflags: &mut u8) -> u64 {
    let sign = sign_of::<F>(a) ^ sign_of::<F>(b);
    let (exp_a, exp_b) = (exp_of::<F>(a), exp_of::<F>(b));
    let (frac_a, frac_b) = (frac_of::<F>(a), frac_of::<F>(b));
    if exp_a == F::EXP_MAX || exp_b == F::EXP_MAX {
        if is_nan::<F>(a) || is_nan::<F>(b) {
            return nan2::<F>(a, b, fflags);
        }
        // inf * 0 is invalid, inf * anything else is inf.
        if (exp_a == 0 && frac_a == 0) || (exp_b == 0 && frac_b == 0) {
            return invalid::<F>(fflags);
        }
        return inf::<F>(sign);
    }
    if (exp_a == 0 && frac_a == 0) || (exp_b == 0 && frac_b == 0) {
        return zero::<F>(sign);
    }
    let (exp_a, sig_a) = if exp_a == 0 {
        norm_subnormal::<F>(frac_a)
    } else {
        (exp_a, frac_a | F::IMPLICIT)
    };
    let (exp_b, sig_b) = if exp_b == 0 {
        norm_subnormal::<F>(frac_b)
    } else {
        (exp_b, frac_b | F::IMPLICIT)
    };
    let mut exp_z = exp_a + exp_b - F::BIAS;
    // Leading ones at bits 62 and 63: the high half of the product has its leading one
    // at bit 61 or 62.
    let product =
        u128::from(sig_a << (62 - F::FRAC_BITS)) * u128::from(sig_b << (63 - F::FRAC_BITS));
    let mut sig = (product >> 64) as u64 | u64::from(product as u64 != 0);
    if sig < 1 << 62 {
        exp_z -= 1;
        sig <<= 1;
    }
    round_pack::<F>(sign, exp_z, sig, rm, fflags)
}

/// `(a * b) + c` with a single rounding, the product negated if `negate_product` and
/// `c` negated if `negate_c` (this gives fmadd, fmsub, fnmsub and fnmadd).
#[inline]
pub(super) fn mul_add<F: Format>(
    a: u64,
    b: u64,
    c: u64,
    negate_product: bool,
    negate_c: bool,
    rm: RoundingMode,
    fflags: &mut u8,
) -> u64 {
    let sign_p = sign_of::<F>(a) ^ sign_of::<F>(b) ^ negate_product;
    let c = if negate_c { c ^ F::SIGN } else { c };
    let sign_c = sign_of::<F>(c);
    let (exp_a, exp_b, exp_c) = (exp_of::<F>(a), exp_of::<F>(b), exp_of::<F>(c));
    let a_zero = a & F::ABS_MASK == 0;
    let b_zero = b & F::ABS_MASK == 0;
    let c_zero = c & F::ABS_MASK == 0;

    if exp_a == F::EXP_MAX || exp_b == F::EXP_MAX || exp_c == F::EXP_MAX {
        let a_inf = a & F::ABS_MASK == F::INF;
        let b_inf = b & F::ABS_MASK == F::INF;
        // RISC-V: inf * 0 is invalid even when c is a quiet NaN (IEEE 754 leaves this
        // case to the implementation).
        if (a_inf && b_zero) || (b_inf && a_zero) {
            return invalid::<F>(fflags);
        }
        if is_nan::<F>(a) || is_nan::<F>(b) || is_nan::<F>(c) {
            if is_snan::<F>(c) {
                *fflags |= super::flags::NV;
            }
            return nan2::<F>(a, b, fflags);
        }
        if a_inf || b_inf {
            if exp_c == F::EXP_MAX && sign_c != sign_p {
                // inf - inf
                return invalid::<F>(fflags);
            }
            return inf::<F>(sign_p);
        }
        // Only c is infinite.
        return c;
    }

    if a_zero || b_zero {
        // The product is an exact zero with sign sign_p.
        if c_zero {
            return zero::<F>(if sign_p == sign_c {
                sign_p
            } else {
                rm == RoundingMode::Rdn
            });
        }
        return c;
    }

    // Exact product in a u128 with its leading one at bit 125 (the value being
    // 2^(exp_p - BIAS) * p / 2^125).
    let (exp_a, sig_a) = unpack_finite::<F>(a);
    let (exp_b, sig_b) = unpack_finite::<F>(b);
    let mut exp_p = exp_a + exp_b - F::BIAS + 1;
    let mut p = (u128::from(sig_a) * u128::from(sig_b)) << (124 - 2 * F::FRAC_BITS);
    if p < 1 << 125 {
        p <<= 1;
        exp_p -= 1;
    }

    let (sign, exp, x) = if c_zero {
        // A nonzero product plus a zero is the product.
        (sign_p, exp_p, p)
    } else {
        let (exp_c, sig_c) = unpack_finite::<F>(c);
        let cc = u128::from(sig_c) << (125 - F::FRAC_BITS);
        let p_bigger = exp_p > exp_c || (exp_p == exp_c && p >= cc);
        let (sign, exp, big, small) = if p_bigger {
            (
                sign_p,
                exp_p,
                p,
                shift_right_jam128(cc, exp_p.abs_diff(exp_c)),
            )
        } else {
            (
                sign_c,
                exp_c,
                cc,
                shift_right_jam128(p, exp_p.abs_diff(exp_c)),
            )
        };
        // Both below 2^126, so the sum cannot overflow. A jammed (sticky) low bit is far
        // below the rounding position, and cancellation of more than one bit only
        // happens with exponents at most one apart, where the shift is exact.
        let x = if sign_p == sign_c {
            big + small
        } else {
            big - small
        };
        if x == 0 {
            return zero::<F>(rm == RoundingMode::Rdn);
        }
        (sign, exp, x)
    };

    // Move the leading one to bit 127, then keep 63 bits with the rest jammed into bit 0.
    let lz = x.leading_zeros();
    let xn = x << lz;
    let sig = (xn >> 65) as u64 | u64::from(xn << 63 != 0);
    round_pack::<F>(sign, exp + 1 - lz as i32, sig, rm, fflags)
}
