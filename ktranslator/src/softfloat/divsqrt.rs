//! Division and square root.
//!
//! 128-bit division is not available in the kernel, so the double-precision quotient and
//! root come from reciprocal estimates refined with 64x64->128 multiplications, followed by
//! an exact remainder computation that corrects the last units. The result is the exactly
//! truncated quotient or root plus an exact sticky bit, so rounding and flags are exact.

use super::format::{
    exp_of, frac_of, inf, invalid, is_snan, nan2, round_pack, sign_of, unpack_finite, zero, Format,
};
use super::RoundingMode;

/// `a / b`.
#[inline]
pub(super) fn div<F: Format>(a: u64, b: u64, rm: RoundingMode, fflags: &mut u8) -> u64 {
    let sign = sign_of::<F>(a) ^ sign_of::<F>(b);
    let (exp_a, exp_b) = (exp_of::<F>(a), exp_of::<F>(b));
    let (frac_a, frac_b) = (frac_of::<F>(a), frac_of::<F>(b));
    if exp_a == F::EXP_MAX {
        if frac_a != 0 {
            return nan2::<F>(a, b, fflags);
        }
        if exp_b == F::EXP_MAX {
            if frac_b != 0 {
                return nan2::<F>(a, b, fflags);
            }
            // inf / inf
            return invalid::<F>(fflags);
        }
        return inf::<F>(sign);
    }
    if exp_b == F::EXP_MAX {
        if frac_b != 0 {
            return nan2::<F>(a, b, fflags);
        }
        return zero::<F>(sign);
    }
    if exp_b == 0 && frac_b == 0 {
        if exp_a == 0 && frac_a == 0 {
            // 0 / 0
            return invalid::<F>(fflags);
        }
        *fflags |= super::flags::DZ;
        return inf::<F>(sign);
    }
    if exp_a == 0 && frac_a == 0 {
        return zero::<F>(sign);
    }
    let (exp_a, sig_a) = unpack_finite::<F>(a);
    let (exp_b, sig_b) = unpack_finite::<F>(b);
    let a_lt_b = sig_a < sig_b;
    let exp_z = exp_a - exp_b + F::BIAS - 1 - i32::from(a_lt_b);
    round_pack::<F>(sign, exp_z, F::div_sig(sig_a, sig_b, a_lt_b), rm, fflags)
}

/// Square root of `a`.
#[inline]
pub(super) fn sqrt<F: Format>(a: u64, rm: RoundingMode, fflags: &mut u8) -> u64 {
    let exp_a = exp_of::<F>(a);
    let frac_a = frac_of::<F>(a);
    if exp_a == F::EXP_MAX {
        if frac_a != 0 {
            if is_snan::<F>(a) {
                *fflags |= super::flags::NV;
            }
            return F::DEFAULT_NAN;
        }
        if !sign_of::<F>(a) {
            return a;
        }
        return invalid::<F>(fflags);
    }
    if exp_a == 0 && frac_a == 0 {
        // sqrt(+-0) = +-0
        return a;
    }
    if sign_of::<F>(a) {
        return invalid::<F>(fflags);
    }
    let (exp_a, sig_a) = unpack_finite::<F>(a);
    let e = exp_a - F::BIAS;
    let exp_z = (e >> 1) + F::BIAS - 1;
    round_pack::<F>(false, exp_z, F::sqrt_sig(sig_a, e & 1 != 0), rm, fflags)
}

/// [`Format::div_sig`] for binary32: one 64-bit division gives 40 quotient bits.
#[inline(always)]
pub(super) fn div_sig_f32(sig_a: u64, sig_b: u64, a_lt_b: bool) -> u64 {
    // sig_a, sig_b in [2^23, 2^24): the quotient lands in [2^39, 2^40).
    let num = sig_a << if a_lt_b { 40 } else { 39 };
    let q = num / sig_b;
    let rem = num - q * sig_b;
    (q << 23) | u64::from(rem != 0)
}

/// [`Format::div_sig`] for binary64.
#[inline(always)]
pub(super) fn div_sig_f64(sig_a: u64, sig_b: u64, a_lt_b: bool) -> u64 {
    // sig_a, sig_b in [2^52, 2^53). Wanted: q = floor(sig_a * 2^s / sig_b) in [2^62, 2^63)
    // and whether the division is exact.
    let s = if a_lt_b { 63 } else { 62 };
    // Reciprocal of the normalized divisor d in [2^63, 2^64): y0 ~ 2^96 / d to about
    // 30 bits from one 64-bit division (an underestimate by at most 5), then one
    // Newton-Raphson step: y1 ~ 2^127 / d = 2^116 / sig_b, underestimated by less than 14.
    let d = sig_b << 11;
    let y0 = u64::MAX / ((d >> 32) + 1);
    // e = 2^96 - d * y0 is below 5 * 2^64: e / 16 fits 64 bits (losing nothing that
    // matters), so the correction is one 64x64 multiplication.
    let e = (1u128 << 96) - u128::from(d) * u128::from(y0);
    let y1 = (u128::from(y0) << 31) + ((u128::from((e >> 4) as u64) * u128::from(y0)) >> 61);
    let y1 = if y1 > u128::from(u64::MAX) {
        u64::MAX
    } else {
        y1 as u64
    };
    // Quotient estimate: at most 16 below the true quotient. Unless its low 10 bits (the
    // rounding bits) are within 17 of 0, one half or one, the true quotient has the same
    // upper bits, the same side of one half and a nonzero fraction: the rounding is
    // decided without the remainder (the common case).
    let mut q = ((u128::from(sig_a) * u128::from(y1)) >> (116 - s)) as u64;
    let low = q & 0x3ff;
    if low.wrapping_sub(2) < 0x1ed || low.wrapping_sub(0x202) < 0x1ed {
        return q | 1;
    }
    let num = u128::from(sig_a) << s;
    let mut rem = (num - u128::from(q) * u128::from(sig_b)) as u64;
    // rem < 17 * sig_b: one more estimate of rem / sig_b (never too large), then at most
    // a final unit.
    let c = ((u128::from(rem) * u128::from(y1)) >> 116) as u64;
    q += c;
    rem -= c * sig_b;
    while rem >= sig_b {
        q += 1;
        rem -= sig_b;
    }
    q | u64::from(rem != 0)
}

/// Reciprocal square root seeds: entry `i` is `2^35 / sqrt(2 * i + 65)`, that is
/// `2^32 / sqrt(m)` at the midpoint `m` of `[(i + 32) / 32, (i + 33) / 32)`.
static RSQRT_TABLE: [u32; 96] = {
    let mut table = [0u32; 96];
    let mut i = 0;
    while i < 96 {
        table[i] = isqrt_const((1u128 << 70) / (2 * i as u128 + 65)) as u32;
        i += 1;
    }
    table
};

/// Integer square root at compile time (bit by bit; only used to build the table).
const fn isqrt_const(n: u128) -> u128 {
    let mut root = 0u128;
    let mut bit = 1u128 << 63;
    while bit != 0 {
        let trial = root | bit;
        if trial * trial <= n {
            root = trial;
        }
        bit >>= 1;
    }
    root
}

/// For `m` in `[2^62, 2^64)` (the fixed-point value `m / 2^62` in `[1, 4)`), returns
/// `(r, s)` with `r ~ 2^32 / sqrt(m / 2^62)` and `s ~ 2^30 * sqrt(m / 2^62)`: a table seed
/// (relative error below 2^-7) and two Goldschmidt iterations. Only `m >> 32` matters;
/// checked exhaustively over all of its values, the relative errors are at most 2^-26.0
/// for `s` and 2^-26.3 for `r`.
#[inline(always)]
fn rsqrt_estimate(m: u64) -> (u64, u64) {
    const THREE: u64 = 3 << 30;
    let index = ((m >> 57) as usize).wrapping_sub(32) % RSQRT_TABLE.len();
    let mut r = u64::from(RSQRT_TABLE[index]);
    let m32 = m >> 32;
    // s ~ sqrt(m) (2.30), d ~ s * r ~ 1 (2.30), u = 3 - d, r *= u / 2, s *= u / 2.
    let mut s = (m32 * r) >> 32;
    let d = (s * r) >> 32;
    let u = THREE - d;
    r = ((r * u) >> 32) << 1;
    s = ((s * u) >> 32) << 1;
    let d = (s * r) >> 32;
    let u = THREE.wrapping_sub(d);
    // d is within 2^-12 of one, so u is positive; wrapping_sub only guards the type.
    r = ((r * u) >> 32) << 1;
    s = ((s * u) >> 32) << 1;
    (r, s)
}

/// Corrects a root estimate `z` of `m` (exact within a few units) to `floor(sqrt(m))`,
/// returning it with the exactness of the root.
#[inline(always)]
fn fix_root(m: u128, z: u64) -> (u64, bool) {
    let mut z = z;
    let mut rem = m as i128 - (u128::from(z) * u128::from(z)) as i128;
    while rem < 0 {
        rem += 2 * i128::from(z) - 1;
        z -= 1;
    }
    while rem > 2 * i128::from(z) {
        z += 1;
        rem -= 2 * i128::from(z) - 1;
    }
    (z, rem == 0)
}

/// [`Format::sqrt_sig`] for binary32.
#[inline(always)]
pub(super) fn sqrt_sig_f32(sig: u64, odd: bool) -> u64 {
    // sig in [2^23, 2^24): m in [2^48, 2^50), root z in [2^24, 2^25). Its 25 bits are the
    // significand and the rounding bit; the exact remainder gives the sticky bit.
    let m = sig << if odd { 26 } else { 25 };
    let (_, s) = rsqrt_estimate(m << 14);
    // s = 2^30 * sqrt(m / 2^48) within a relative 2^-26, so s / 2^6 is within a unit or
    // two of the root.
    let mut z = s >> 6;
    let mut rem = m as i64 - (z * z) as i64;
    while rem < 0 {
        rem += 2 * z as i64 - 1;
        z -= 1;
    }
    while rem > 2 * z as i64 {
        z += 1;
        rem -= 2 * z as i64 - 1;
    }
    (z << 38) | u64::from(rem != 0)
}

/// [`Format::sqrt_sig`] for binary64.
#[inline(always)]
pub(super) fn sqrt_sig_f64(sig: u64, odd: bool) -> u64 {
    // sig in [2^52, 2^53): m in [2^124, 2^126), root z in [2^62, 2^63).
    let m = u128::from(sig) << if odd { 73 } else { 72 };
    let (r, s) = rsqrt_estimate((m >> 62) as u64);
    // z0 = 2^62 * sqrt(m / 2^124) within 2^37. Two Newton steps z += (m - z^2) / (2 z)
    // with the reciprocal (1 / (2 z) = r / 2^95): the first leaves an error below 2^12
    // (2^37 times r's error, plus the quadratic term 2^74 / 2^64), the second a unit or
    // two, which fix_root removes. The remainders are below 2^101 and 2^76 in magnitude:
    // shifted to 64 bits (losing nothing that matters), each step is one signed 64x64
    // multiplication.
    let r = r as i64;
    let z0 = s << 32;
    let rem = m as i128 - (u128::from(z0) * u128::from(z0)) as i128;
    let z1 = (i128::from(z0) + ((i128::from((rem >> 40) as i64) * i128::from(r)) >> 55)) as u64;
    let rem = m as i128 - (u128::from(z1) * u128::from(z1)) as i128;
    let z2 = (i128::from(z1) + ((i128::from((rem >> 16) as i64) * i128::from(r)) >> 79)) as u64;
    // z2 is within 2 of floor(sqrt(m)). Unless its low 10 bits (the rounding bits) are
    // within 3 of 0, one half or one, the floor has the same upper bits, the same side of
    // one half and a nonzero fraction: the rounding is decided without the remainder.
    let low = z2 & 0x3ff;
    if low.wrapping_sub(4) < 0x1f8 || low.wrapping_sub(0x204) < 0x1f8 {
        return z2 | 1;
    }
    let (z, exact) = fix_root(m, z2);
    z | u64::from(!exact)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// splitmix64
    fn next(state: &mut u64) -> u64 {
        *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Significands with the implicit bit at `frac_bits`: the extremes, then random ones.
    fn significands(frac_bits: u32, count: usize) -> impl Iterator<Item = u64> {
        let one = 1u64 << frac_bits;
        let edges = [
            one,
            one + 1,
            one + 2,
            2 * one - 1,
            2 * one - 2,
            one + one / 2,
            one + one / 2 - 1,
        ];
        let mut state = u64::from(frac_bits);
        edges
            .into_iter()
            .chain((0..count).map(move |_| one | (next(&mut state) & (one - 1))))
    }

    /// The truncated quotient (or root) with a sticky bit, from the exact values.
    fn with_sticky(q: u128, exact: bool) -> u64 {
        q as u64 | u64::from(!exact)
    }

    /// What rounding a significand (leading one at bit 62) depends on: the bits above the
    /// 10 rounding bits of binary64, and whether those are zero, below, at or above one
    /// half.
    fn rounding_class(sig: u64) -> (u64, bool, core::cmp::Ordering) {
        (sig >> 10, sig & 0x3ff == 0, (sig & 0x3ff).cmp(&0x200))
    }

    #[test]
    fn f64_quotients_round_like_exact_ones() {
        for a in significands(52, 300) {
            for b in significands(52, 300) {
                let s = if a < b { 63 } else { 62 };
                let num = u128::from(a) << s;
                let want = with_sticky(num / u128::from(b), num % u128::from(b) == 0);
                let got = div_sig_f64(a, b, a < b);
                assert_eq!(rounding_class(got), rounding_class(want), "{a:#x} / {b:#x}");
            }
        }
    }

    #[test]
    fn f32_quotients_are_exact() {
        for a in significands(23, 300) {
            for b in significands(23, 300) {
                let num = u128::from(a) << if a < b { 63 } else { 62 };
                // div_sig_f32 keeps 40 quotient bits: compare after the same truncation.
                let q = num / u128::from(b);
                let want = (q >> 23 << 23) as u64
                    | u64::from(num % u128::from(b) != 0 || q & ((1 << 23) - 1) != 0);
                assert_eq!(div_sig_f32(a, b, a < b), want, "{a:#x} / {b:#x}");
            }
        }
    }

    #[test]
    fn roots_round_like_exact_ones() {
        for sig in significands(52, 100_000) {
            for odd in [false, true] {
                let m = u128::from(sig) << if odd { 73 } else { 72 };
                let z = isqrt_const(m);
                let want = with_sticky(z, z * z == m);
                let got = sqrt_sig_f64(sig, odd);
                assert_eq!(rounding_class(got), rounding_class(want), "{sig:#x} {odd}");
            }
        }
        for sig in significands(23, 100_000) {
            for odd in [false, true] {
                let m = u128::from(sig) << if odd { 26 } else { 25 };
                let z = isqrt_const(m);
                assert_eq!(
                    sqrt_sig_f32(sig, odd),
                    with_sticky(z << 38, z * z == m),
                    "{sig:#x} {odd}"
                );
            }
        }
    }

    #[test]
    fn rsqrt_table_is_monotonic_and_seeds_are_close() {
        assert!(RSQRT_TABLE.windows(2).all(|w| w[0] > w[1]));
        // Squares of exact roots: s * s ~ m and r * s ~ 1 within 2^-25.
        let mut state = 7;
        for _ in 0..100_000 {
            let m = (next(&mut state) >> 2) | 1 << 62;
            let m = if next(&mut state) & 1 == 0 { m } else { m << 1 };
            let (r, s) = rsqrt_estimate(m);
            // s = 2^30 * sqrt(m / 2^62), so 4 * s^2 ~ m.
            let s2 = (u128::from(s) * u128::from(s)) << 2;
            let m_scaled = u128::from(m >> 32) << 32;
            assert!(s2.abs_diff(m_scaled) < m_scaled >> 24, "s for {m:#x}");
            let rs = u128::from(r) * u128::from(s); // ~ 2^62
            assert!(rs.abs_diff(1 << 62) < 1 << 37, "r for {m:#x}");
        }
    }
}
