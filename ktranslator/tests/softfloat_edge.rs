//! Edge cases of `ktranslator::softfloat`, with expectations worked out from IEEE 754 and
//! the RISC-V unprivileged spec (chapters F and D) rather than from a reference library.

use ktranslator::softfloat::{
    self as sf, class,
    flags::{DZ, NV, NX, OF, UF},
    RoundingMode::{self, Rdn, Rmm, Rne, Rtz, Rup},
    F32_CANONICAL_NAN, F64_CANONICAL_NAN,
};

/// Runs `f` with a fresh flag accumulator; returns its result and the flags raised.
fn run<T>(f: impl FnOnce(&mut u8) -> T) -> (T, u8) {
    let mut flags = 0;
    let r = f(&mut flags);
    (r, flags)
}

/// Runs `f` in all five modes and checks the expected (result, flags) for each, given in
/// the order RNE, RTZ, RDN, RUP, RMM.
fn per_mode<T: PartialEq + std::fmt::Debug>(
    what: &str,
    f: impl Fn(RoundingMode, &mut u8) -> T,
    want: [(T, u8); 5],
) {
    for (rm, want) in RoundingMode::ALL.into_iter().zip(want) {
        assert_eq!(run(|fl| f(rm, fl)), want, "{what} in {rm:?}");
    }
}

// Singles.
const S_P0: u32 = 0x0000_0000;
const S_N0: u32 = 0x8000_0000;
const S_ONE: u32 = 0x3f80_0000;
const S_NEG_ONE: u32 = 0xbf80_0000;
const S_TWO: u32 = 0x4000_0000;
const S_THREE: u32 = 0x4040_0000;
const S_HALF: u32 = 0x3f00_0000;
const S_INF: u32 = 0x7f80_0000;
const S_NINF: u32 = 0xff80_0000;
const S_QNAN: u32 = 0x7fc0_0000;
const S_QNAN_PAYLOAD: u32 = 0xffc1_2345;
const S_SNAN: u32 = 0x7f80_0001;
const S_MIN_SUB: u32 = 0x0000_0001;
const S_MAX_SUB: u32 = 0x007f_ffff;
const S_MIN_NORM: u32 = 0x0080_0000;
const S_MAX: u32 = 0x7f7f_ffff;
/// 2^-24: half an ulp of 1.0.
const S_HALF_ULP_1: u32 = 0x3380_0000;

// Doubles.
const D_P0: u64 = 0;
const D_N0: u64 = 0x8000_0000_0000_0000;
const D_ONE: u64 = 0x3ff0_0000_0000_0000;
const D_NEG_ONE: u64 = 0xbff0_0000_0000_0000;
const D_TWO: u64 = 0x4000_0000_0000_0000;
const D_THREE: u64 = 0x4008_0000_0000_0000;
const D_FOUR: u64 = 0x4010_0000_0000_0000;
const D_HALF: u64 = 0x3fe0_0000_0000_0000;
const D_INF: u64 = 0x7ff0_0000_0000_0000;
const D_NINF: u64 = 0xfff0_0000_0000_0000;
const D_QNAN: u64 = 0x7ff8_0000_0000_0000;
const D_QNAN_PAYLOAD: u64 = 0xfff8_dead_beef_0001;
const D_SNAN: u64 = 0x7ff0_0000_0000_0001;
const D_MIN_SUB: u64 = 1;
const D_MAX_SUB: u64 = 0x000f_ffff_ffff_ffff;
const D_MIN_NORM: u64 = 0x0010_0000_0000_0000;
const D_MAX: u64 = 0x7fef_ffff_ffff_ffff;
/// 1 + 2^-52 and 1 - 2^-52.
const D_ONE_PLUS: u64 = 0x3ff0_0000_0000_0001;
const D_ONE_MINUS: u64 = 0x3fef_ffff_ffff_fffe;

/// A double holding an integer or half-integer value (exact in f64).
fn d(x: f64) -> u64 {
    x.to_bits()
}

#[test]
fn rounding_mode_encoding() {
    for (bits, rm) in [(0, Rne), (1, Rtz), (2, Rdn), (3, Rup), (4, Rmm)] {
        assert_eq!(RoundingMode::from_bits(bits), Some(rm));
        assert_eq!(rm.bits(), bits);
    }
    for bits in [5, 6, RoundingMode::DYN, 8, 0xff] {
        assert_eq!(RoundingMode::from_bits(bits), None, "rm {bits}");
    }
}

#[test]
fn flag_bits_match_fflags() {
    assert_eq!([NX, UF, OF, DZ, NV], [1, 2, 4, 8, 16]);
    assert_eq!(sf::flags::ALL, 0x1f);
}

#[test]
fn flags_accumulate() {
    let mut flags = NV | DZ;
    assert_eq!(sf::f64_add(D_ONE, D_ONE, Rne, &mut flags), D_TWO);
    assert_eq!(
        flags,
        NV | DZ,
        "an exact operation leaves the accumulator alone"
    );
    sf::f32_div(S_ONE, S_THREE, Rne, &mut flags);
    assert_eq!(flags, NV | DZ | NX);
}

#[test]
fn nan_boxing() {
    assert_eq!(sf::box_f32(S_ONE), 0xffff_ffff_3f80_0000);
    assert_eq!(sf::unbox_f32(0xffff_ffff_3f80_0000), S_ONE);
    // A boxed NaN keeps its payload when read; improper boxes read as the canonical NaN.
    assert_eq!(sf::unbox_f32(0xffff_ffff_7f80_0001), S_SNAN);
    assert_eq!(sf::unbox_f32(0x0000_0000_3f80_0000), F32_CANONICAL_NAN);
    assert_eq!(sf::unbox_f32(0xfffe_ffff_3f80_0000), F32_CANONICAL_NAN);
    assert_eq!(sf::unbox_f32(0x7fff_ffff_0000_0000), F32_CANONICAL_NAN);
    assert_eq!(sf::unbox_f32(D_ONE), F32_CANONICAL_NAN);
    assert_eq!(F32_CANONICAL_NAN, 0x7fc0_0000);
    assert_eq!(F64_CANONICAL_NAN, 0x7ff8_0000_0000_0000);
}

#[test]
fn add_exact_and_zero_signs() {
    assert_eq!(run(|f| sf::f32_add(S_ONE, S_ONE, Rne, f)), (S_TWO, 0));
    assert_eq!(run(|f| sf::f64_add(D_ONE, D_TWO, Rne, f)), (D_THREE, 0));
    // x + (-x) is +0 in every mode but RDN, where it is -0.
    per_mode(
        "1 - 1",
        |rm, f| sf::f64_sub(D_ONE, D_ONE, rm, f),
        [(D_P0, 0), (D_P0, 0), (D_N0, 0), (D_P0, 0), (D_P0, 0)],
    );
    per_mode(
        "1 + -1",
        |rm, f| sf::f32_add(S_ONE, S_NEG_ONE, rm, f),
        [(S_P0, 0), (S_P0, 0), (S_N0, 0), (S_P0, 0), (S_P0, 0)],
    );
    per_mode(
        "+0 + -0",
        |rm, f| sf::f32_add(S_P0, S_N0, rm, f),
        [(S_P0, 0), (S_P0, 0), (S_N0, 0), (S_P0, 0), (S_P0, 0)],
    );
    per_mode(
        "-0 + -0",
        |rm, f| sf::f64_add(D_N0, D_N0, rm, f),
        [(D_N0, 0); 5],
    );
    per_mode(
        "-0 - +0",
        |rm, f| sf::f64_sub(D_N0, D_P0, rm, f),
        [(D_N0, 0); 5],
    );
    per_mode(
        "+0 - +0",
        |rm, f| sf::f64_sub(D_P0, D_P0, rm, f),
        [(D_P0, 0), (D_P0, 0), (D_N0, 0), (D_P0, 0), (D_P0, 0)],
    );
    // Subnormal sums are exact and raise nothing, even when they reach the normal range.
    assert_eq!(run(|f| sf::f32_add(S_MIN_SUB, S_MIN_SUB, Rne, f)), (2, 0));
    assert_eq!(
        run(|f| sf::f32_add(S_MAX_SUB, S_MIN_SUB, Rne, f)),
        (S_MIN_NORM, 0)
    );
    assert_eq!(
        run(|f| sf::f64_sub(D_MIN_NORM, D_MIN_SUB, Rne, f)),
        (D_MAX_SUB, 0)
    );
    // x + 0 is x, also for subnormals.
    assert_eq!(
        run(|f| sf::f64_add(D_MAX_SUB, D_N0, Rdn, f)),
        (D_MAX_SUB, 0)
    );
}

#[test]
fn add_halfway_cases() {
    // 1 + 2^-24 in single is exactly halfway between 1 and 1 + 2^-23.
    let up = S_ONE + 1;
    per_mode(
        "1 + 2^-24",
        |rm, f| sf::f32_add(S_ONE, S_HALF_ULP_1, rm, f),
        [(S_ONE, NX), (S_ONE, NX), (S_ONE, NX), (up, NX), (up, NX)],
    );
    let neg_up = S_NEG_ONE + 1;
    per_mode(
        "-1 - 2^-24",
        |rm, f| sf::f32_sub(S_NEG_ONE, S_HALF_ULP_1, rm, f),
        [
            (S_NEG_ONE, NX),
            (S_NEG_ONE, NX),
            (neg_up, NX),
            (S_NEG_ONE, NX),
            (neg_up, NX),
        ],
    );
    // (1 + 2^-23) + 2^-24: halfway again, the even neighbour is now above.
    per_mode(
        "1.0000001 + 2^-24",
        |rm, f| sf::f32_add(S_ONE + 1, S_HALF_ULP_1, rm, f),
        [
            (S_ONE + 2, NX),
            (S_ONE + 1, NX),
            (S_ONE + 1, NX),
            (S_ONE + 2, NX),
            (S_ONE + 2, NX),
        ],
    );
    // Doubles: 1 + 2^-53 (halfway) and 1 + 3 * 2^-54 (above halfway).
    let half_ulp = 0x3ca0_0000_0000_0000;
    per_mode(
        "1 + 2^-53",
        |rm, f| sf::f64_add(D_ONE, half_ulp, rm, f),
        [
            (D_ONE, NX),
            (D_ONE, NX),
            (D_ONE, NX),
            (D_ONE_PLUS, NX),
            (D_ONE_PLUS, NX),
        ],
    );
    let three_quarter_ulp = 0x3ca8_0000_0000_0000;
    per_mode(
        "1 + 3*2^-54",
        |rm, f| sf::f64_add(D_ONE, three_quarter_ulp, rm, f),
        [
            (D_ONE_PLUS, NX),
            (D_ONE, NX),
            (D_ONE, NX),
            (D_ONE_PLUS, NX),
            (D_ONE_PLUS, NX),
        ],
    );
    // A far smaller addend only sets sticky.
    per_mode(
        "1 + min_sub",
        |rm, f| sf::f64_add(D_ONE, D_MIN_SUB, rm, f),
        [
            (D_ONE, NX),
            (D_ONE, NX),
            (D_ONE, NX),
            (D_ONE_PLUS, NX),
            (D_ONE, NX),
        ],
    );
    per_mode(
        "1 - min_sub",
        |rm, f| sf::f64_sub(D_ONE, D_MIN_SUB, rm, f),
        [
            (D_ONE, NX),
            (D_ONE - 1, NX),
            (D_ONE - 1, NX),
            (D_ONE, NX),
            (D_ONE, NX),
        ],
    );
}

#[test]
fn overflow_by_mode() {
    // Positive overflow: infinity when rounding up or to nearest, else the largest finite.
    per_mode(
        "max + max",
        |rm, f| sf::f32_add(S_MAX, S_MAX, rm, f),
        [
            (S_INF, OF | NX),
            (S_MAX, OF | NX),
            (S_MAX, OF | NX),
            (S_INF, OF | NX),
            (S_INF, OF | NX),
        ],
    );
    let neg_max = S_MAX | 0x8000_0000;
    per_mode(
        "-max - max",
        |rm, f| sf::f32_sub(neg_max, S_MAX, rm, f),
        [
            (S_NINF, OF | NX),
            (neg_max, OF | NX),
            (S_NINF, OF | NX),
            (neg_max, OF | NX),
            (S_NINF, OF | NX),
        ],
    );
    per_mode(
        "max * 2",
        |rm, f| sf::f64_mul(D_MAX, D_TWO, rm, f),
        [
            (D_INF, OF | NX),
            (D_MAX, OF | NX),
            (D_MAX, OF | NX),
            (D_INF, OF | NX),
            (D_INF, OF | NX),
        ],
    );
    // max + half an ulp of max rounds (to nearest) to 2^1024: overflow, not max.
    let half_ulp_of_max = 0x7c90_0000_0000_0000;
    per_mode(
        "max + ulp/2",
        |rm, f| sf::f64_add(D_MAX, half_ulp_of_max, rm, f),
        [
            (D_INF, OF | NX),
            (D_MAX, NX),
            (D_MAX, NX),
            (D_INF, OF | NX),
            (D_INF, OF | NX),
        ],
    );
    // Infinity itself is exact.
    assert_eq!(run(|f| sf::f64_add(D_INF, D_MAX, Rne, f)), (D_INF, 0));
    assert_eq!(run(|f| sf::f64_mul(D_NINF, D_TWO, Rtz, f)), (D_NINF, 0));
}

#[test]
fn underflow_and_tininess_after_rounding() {
    // Exact subnormal results raise nothing.
    assert_eq!(
        run(|f| sf::f32_mul(S_MIN_NORM, S_HALF, Rne, f)),
        (0x0040_0000, 0)
    );
    assert_eq!(
        run(|f| sf::f64_mul(D_MIN_NORM, D_HALF, Rne, f)),
        (0x0008_0000_0000_0000, 0)
    );
    // 2^-126 * (1 - 2^-24) is tiny and inexact: halfway between max_sub and min_norm.
    per_mode(
        "min_norm * (1 - 2^-24)",
        |rm, f| sf::f32_mul(S_MIN_NORM, 0x3f7f_ffff, rm, f),
        [
            (S_MIN_NORM, UF | NX),
            (S_MAX_SUB, UF | NX),
            (S_MAX_SUB, UF | NX),
            (S_MIN_NORM, UF | NX),
            (S_MIN_NORM, UF | NX),
        ],
    );
    // max_sub * (1 + 2^-23) = 2^-126 - 2^-172: below the smallest normal before rounding,
    // but rounding to 24 bits with an unbounded exponent gives 2^-126, so it is not tiny
    // in the modes that round up (RISC-V detects tininess after rounding).
    per_mode(
        "max_sub * (1 + 2^-23)",
        |rm, f| sf::f32_mul(S_MAX_SUB, S_ONE + 1, rm, f),
        [
            (S_MIN_NORM, NX),
            (S_MAX_SUB, UF | NX),
            (S_MAX_SUB, UF | NX),
            (S_MIN_NORM, NX),
            (S_MIN_NORM, NX),
        ],
    );
    // The same in double via conversion: 2^-126 * (1 - 2^-26) to single.
    let just_below = 0x380f_ffff_f800_0000;
    per_mode(
        "2^-126 (1 - 2^-26) to single",
        |rm, f| sf::f64_to_f32(just_below, rm, f),
        [
            (S_MIN_NORM, NX),
            (S_MAX_SUB, UF | NX),
            (S_MAX_SUB, UF | NX),
            (S_MIN_NORM, NX),
            (S_MIN_NORM, NX),
        ],
    );
    // Total underflow.
    per_mode(
        "min_sub * 0.5",
        |rm, f| sf::f64_mul(D_MIN_SUB, D_HALF, rm, f),
        [
            (D_P0, UF | NX),
            (D_P0, UF | NX),
            (D_P0, UF | NX),
            (D_MIN_SUB, UF | NX),
            (D_MIN_SUB, UF | NX),
        ],
    );
    per_mode(
        "-min_sub * 0.25",
        |rm, f| sf::f64_mul(D_MIN_SUB | D_N0, 0x3fd0_0000_0000_0000, rm, f),
        [
            (D_N0, UF | NX),
            (D_N0, UF | NX),
            (D_N0 | 1, UF | NX),
            (D_N0, UF | NX),
            (D_N0, UF | NX),
        ],
    );
}

#[test]
fn nan_results_are_canonical() {
    // Quiet NaN operands: canonical NaN, no flags (payloads are never propagated).
    assert_eq!(
        run(|f| sf::f32_add(S_QNAN_PAYLOAD, S_ONE, Rne, f)),
        (F32_CANONICAL_NAN, 0)
    );
    assert_eq!(
        run(|f| sf::f64_mul(D_ONE, D_QNAN_PAYLOAD, Rne, f)),
        (F64_CANONICAL_NAN, 0)
    );
    assert_eq!(
        run(|f| sf::f64_div(D_QNAN, D_P0, Rne, f)),
        (F64_CANONICAL_NAN, 0)
    );
    // Signalling NaN operands: canonical NaN and NV.
    assert_eq!(
        run(|f| sf::f32_sub(S_ONE, S_SNAN, Rne, f)),
        (F32_CANONICAL_NAN, NV)
    );
    assert_eq!(
        run(|f| sf::f64_add(D_SNAN, D_QNAN, Rne, f)),
        (F64_CANONICAL_NAN, NV)
    );
    assert_eq!(
        run(|f| sf::f64_madd(D_ONE, D_ONE, D_SNAN, Rne, f)),
        (F64_CANONICAL_NAN, NV)
    );
    // Invalid operations.
    assert_eq!(
        run(|f| sf::f64_add(D_INF, D_NINF, Rne, f)),
        (F64_CANONICAL_NAN, NV)
    );
    assert_eq!(
        run(|f| sf::f32_sub(S_INF, S_INF, Rne, f)),
        (F32_CANONICAL_NAN, NV)
    );
    assert_eq!(
        run(|f| sf::f32_mul(S_INF, S_N0, Rne, f)),
        (F32_CANONICAL_NAN, NV)
    );
    assert_eq!(
        run(|f| sf::f64_mul(D_P0, D_NINF, Rne, f)),
        (F64_CANONICAL_NAN, NV)
    );
}

#[test]
fn division() {
    // x / 0 raises DZ for finite nonzero x; 0 / 0 and inf / inf are invalid.
    assert_eq!(run(|f| sf::f64_div(D_ONE, D_P0, Rne, f)), (D_INF, DZ));
    assert_eq!(run(|f| sf::f64_div(D_NEG_ONE, D_P0, Rne, f)), (D_NINF, DZ));
    assert_eq!(run(|f| sf::f32_div(S_ONE, S_N0, Rne, f)), (S_NINF, DZ));
    assert_eq!(run(|f| sf::f32_div(S_MIN_SUB, S_P0, Rne, f)), (S_INF, DZ));
    assert_eq!(
        run(|f| sf::f64_div(D_P0, D_N0, Rne, f)),
        (F64_CANONICAL_NAN, NV)
    );
    assert_eq!(
        run(|f| sf::f32_div(S_INF, S_NINF, Rne, f)),
        (F32_CANONICAL_NAN, NV)
    );
    // inf / 0 is an exact infinity (no DZ); x / inf is zero.
    assert_eq!(run(|f| sf::f64_div(D_INF, D_P0, Rne, f)), (D_INF, 0));
    assert_eq!(run(|f| sf::f64_div(D_NEG_ONE, D_INF, Rne, f)), (D_N0, 0));
    assert_eq!(run(|f| sf::f64_div(D_P0, D_NEG_ONE, Rne, f)), (D_N0, 0));
    // 1/3 in each mode.
    per_mode(
        "1/3 single",
        |rm, f| sf::f32_div(S_ONE, S_THREE, rm, f),
        [
            (0x3eaa_aaab, NX),
            (0x3eaa_aaaa, NX),
            (0x3eaa_aaaa, NX),
            (0x3eaa_aaab, NX),
            (0x3eaa_aaab, NX),
        ],
    );
    per_mode(
        "-1/3 double",
        |rm, f| sf::f64_div(D_NEG_ONE, D_THREE, rm, f),
        [
            (0xbfd5_5555_5555_5555, NX),
            (0xbfd5_5555_5555_5555, NX),
            (0xbfd5_5555_5555_5556, NX),
            (0xbfd5_5555_5555_5555, NX),
            (0xbfd5_5555_5555_5555, NX),
        ],
    );
    // Exact quotients, including ones with subnormal results.
    assert_eq!(run(|f| sf::f64_div(D_THREE, D_HALF, Rne, f)), (d(6.0), 0));
    assert_eq!(
        run(|f| sf::f64_div(D_MIN_NORM, D_FOUR, Rne, f)),
        (0x0004_0000_0000_0000, 0)
    );
    assert_eq!(
        run(|f| sf::f64_div(D_MAX_SUB, D_MAX_SUB, Rne, f)),
        (D_ONE, 0)
    );
    // Largest over smallest overflows; smallest over largest underflows.
    assert_eq!(
        run(|f| sf::f64_div(D_MAX, D_MIN_SUB, Rne, f)),
        (D_INF, OF | NX)
    );
    assert_eq!(
        run(|f| sf::f64_div(D_MIN_SUB, D_MAX, Rne, f)),
        (D_P0, UF | NX)
    );
    assert_eq!(
        run(|f| sf::f64_div(D_MIN_SUB, D_MAX, Rup, f)),
        (D_MIN_SUB, UF | NX)
    );
    // Largest significand over smallest (and back), in both formats.
    assert_eq!(
        run(|f| sf::f64_div(0x3fff_ffff_ffff_ffff, D_ONE, Rne, f)),
        (0x3fff_ffff_ffff_ffff, 0)
    );
    assert_eq!(
        run(|f| sf::f64_div(D_ONE, 0x3fff_ffff_ffff_ffff, Rne, f)),
        (0x3fe0_0000_0000_0001, NX)
    );
    assert_eq!(
        run(|f| sf::f32_div(S_ONE, 0x3fff_ffff, Rne, f)),
        (0x3f00_0001, NX)
    );
}

#[test]
fn square_root() {
    assert_eq!(run(|f| sf::f64_sqrt(D_FOUR, Rne, f)), (D_TWO, 0));
    assert_eq!(run(|f| sf::f32_sqrt(0x4080_0000, Rne, f)), (S_TWO, 0));
    // sqrt(-0) = -0, sqrt(+inf) = +inf, negative numbers are invalid.
    assert_eq!(run(|f| sf::f64_sqrt(D_N0, Rdn, f)), (D_N0, 0));
    assert_eq!(run(|f| sf::f32_sqrt(S_INF, Rne, f)), (S_INF, 0));
    assert_eq!(
        run(|f| sf::f64_sqrt(D_NEG_ONE, Rne, f)),
        (F64_CANONICAL_NAN, NV)
    );
    assert_eq!(
        run(|f| sf::f64_sqrt(D_NINF, Rne, f)),
        (F64_CANONICAL_NAN, NV)
    );
    assert_eq!(
        run(|f| sf::f32_sqrt(S_MIN_SUB | S_N0, Rne, f)),
        (F32_CANONICAL_NAN, NV)
    );
    // NaNs: quiet ones (even negative) pass quietly, signalling ones are invalid.
    assert_eq!(
        run(|f| sf::f64_sqrt(D_QNAN_PAYLOAD, Rne, f)),
        (F64_CANONICAL_NAN, 0)
    );
    assert_eq!(
        run(|f| sf::f32_sqrt(S_SNAN, Rne, f)),
        (F32_CANONICAL_NAN, NV)
    );
    // sqrt(2) = 1.41421356237309504880..., between 0x3ff6a09e667f3bcc and ...bcd.
    per_mode(
        "sqrt(2)",
        |rm, f| sf::f64_sqrt(D_TWO, rm, f),
        [
            (0x3ff6_a09e_667f_3bcd, NX),
            (0x3ff6_a09e_667f_3bcc, NX),
            (0x3ff6_a09e_667f_3bcc, NX),
            (0x3ff6_a09e_667f_3bcd, NX),
            (0x3ff6_a09e_667f_3bcd, NX),
        ],
    );
    // sqrt(2) single = 1.41421354 (0x3fb504f3) rounded to nearest; the exact root is above.
    per_mode(
        "sqrt(2) single",
        |rm, f| sf::f32_sqrt(S_TWO, rm, f),
        [
            (0x3fb5_04f3, NX),
            (0x3fb5_04f3, NX),
            (0x3fb5_04f3, NX),
            (0x3fb5_04f4, NX),
            (0x3fb5_04f3, NX),
        ],
    );
    // Subnormal operands: sqrt(2^-1074) = 2^-537 and sqrt(2^-149) = 2^-74.5.
    assert_eq!(
        run(|f| sf::f64_sqrt(D_MIN_SUB, Rne, f)),
        (0x1e60_0000_0000_0000, 0)
    );
    assert_eq!(run(|f| sf::f32_sqrt(S_MIN_SUB, Rne, f)), (0x1a35_04f3, NX));
    // The largest finite: root of (2 - 2^-52) * 2^1023.
    assert_eq!(
        run(|f| sf::f64_sqrt(D_MAX, Rne, f)),
        (0x5fef_ffff_ffff_ffff, NX)
    );
    // In binary, sqrt(RN(x * x)) = x for round to nearest, even when the square rounded.
    let x = 0x3ff0_0000_0400_0001u64;
    assert_eq!(
        run(|f| sf::f64_sqrt(sf::f64_mul(x, x, Rne, &mut 0), Rne, f)).0,
        x
    );
    assert_eq!(run(|f| sf::f64_sqrt(d(9.0), Rne, f)), (D_THREE, 0));
    assert_eq!(run(|f| sf::f64_sqrt(d(0.25), Rne, f)), (D_HALF, 0));
}

#[test]
fn fused_multiply_add() {
    // RISC-V: inf * 0 + qNaN raises invalid.
    assert_eq!(
        run(|f| sf::f64_madd(D_INF, D_P0, D_QNAN, Rne, f)),
        (F64_CANONICAL_NAN, NV)
    );
    assert_eq!(
        run(|f| sf::f32_madd(S_P0, S_NINF, S_QNAN, Rne, f)),
        (F32_CANONICAL_NAN, NV)
    );
    assert_eq!(
        run(|f| sf::f32_nmadd(S_INF, S_N0, S_ONE, Rne, f)),
        (F32_CANONICAL_NAN, NV)
    );
    // Other quiet NaNs are quiet; inf - inf is invalid.
    assert_eq!(
        run(|f| sf::f64_madd(D_QNAN, D_P0, D_ONE, Rne, f)),
        (F64_CANONICAL_NAN, 0)
    );
    assert_eq!(
        run(|f| sf::f64_madd(D_INF, D_ONE, D_QNAN, Rne, f)),
        (F64_CANONICAL_NAN, 0)
    );
    assert_eq!(
        run(|f| sf::f64_madd(D_INF, D_ONE, D_NINF, Rne, f)),
        (F64_CANONICAL_NAN, NV)
    );
    assert_eq!(
        run(|f| sf::f64_msub(D_INF, D_ONE, D_INF, Rne, f)),
        (F64_CANONICAL_NAN, NV)
    );
    assert_eq!(
        run(|f| sf::f64_madd(D_INF, D_ONE, D_INF, Rne, f)),
        (D_INF, 0)
    );
    assert_eq!(
        run(|f| sf::f64_madd(D_ONE, D_ONE, D_NINF, Rne, f)),
        (D_NINF, 0)
    );
    // The four forms.
    assert_eq!(
        run(|f| sf::f64_madd(D_ONE, D_TWO, D_THREE, Rne, f)),
        (d(5.0), 0)
    );
    assert_eq!(
        run(|f| sf::f64_msub(D_ONE, D_TWO, D_THREE, Rne, f)),
        (D_NEG_ONE, 0)
    );
    assert_eq!(
        run(|f| sf::f64_nmsub(D_ONE, D_TWO, D_THREE, Rne, f)),
        (D_ONE, 0)
    );
    assert_eq!(
        run(|f| sf::f64_nmadd(D_ONE, D_TWO, D_THREE, Rne, f)),
        (d(-5.0), 0)
    );
    assert_eq!(
        run(|f| sf::f32_nmadd(S_ONE, S_TWO, S_THREE, Rne, f)),
        (0xc0a0_0000, 0)
    );
    // A single rounding: (1 + 2^-52)(1 - 2^-52) - 1 = -2^-104 exactly (a separate
    // multiply would round the product to 1 and give 0).
    assert_eq!(
        run(|f| sf::f64_madd(D_ONE_PLUS, D_ONE_MINUS, D_NEG_ONE, Rne, f)),
        (0xb970_0000_0000_0000, 0)
    );
    assert_eq!(
        run(|f| sf::f32_madd(S_ONE + 1, 0x3f7f_fffe, S_NEG_ONE, Rne, f)),
        (0xa880_0000, 0)
    );
    // Sticky from a tiny addend.
    per_mode(
        "1 * 1 + min_sub",
        |rm, f| sf::f64_madd(D_ONE, D_ONE, D_MIN_SUB, rm, f),
        [
            (D_ONE, NX),
            (D_ONE, NX),
            (D_ONE, NX),
            (D_ONE_PLUS, NX),
            (D_ONE, NX),
        ],
    );
    per_mode(
        "1 * 1 - min_sub",
        |rm, f| sf::f64_msub(D_ONE, D_ONE, D_MIN_SUB, rm, f),
        [
            (D_ONE, NX),
            (D_ONE - 1, NX),
            (D_ONE - 1, NX),
            (D_ONE, NX),
            (D_ONE, NX),
        ],
    );
    // Exact zero sums: +0 except in RDN; two zeros of one sign keep it.
    per_mode(
        "1 * 1 - 1",
        |rm, f| sf::f64_madd(D_ONE, D_ONE, D_NEG_ONE, rm, f),
        [(D_P0, 0), (D_P0, 0), (D_N0, 0), (D_P0, 0), (D_P0, 0)],
    );
    per_mode(
        "+0 * 1 + -0",
        |rm, f| sf::f64_madd(D_P0, D_ONE, D_N0, rm, f),
        [(D_P0, 0), (D_P0, 0), (D_N0, 0), (D_P0, 0), (D_P0, 0)],
    );
    per_mode(
        "-(+0 * 1) - +0",
        |rm, f| sf::f64_nmadd(D_P0, D_ONE, D_P0, rm, f),
        [(D_N0, 0); 5],
    );
    per_mode(
        "-(+0 * 1) + +0",
        |rm, f| sf::f32_nmsub(S_P0, S_ONE, S_P0, rm, f),
        [(S_P0, 0), (S_P0, 0), (S_N0, 0), (S_P0, 0), (S_P0, 0)],
    );
    per_mode(
        "+0 * 1 - +0",
        |rm, f| sf::f32_msub(S_P0, S_ONE, S_P0, rm, f),
        [(S_P0, 0), (S_P0, 0), (S_N0, 0), (S_P0, 0), (S_P0, 0)],
    );
    // A zero product leaves c untouched, even subnormal.
    assert_eq!(
        run(|f| sf::f64_madd(D_N0, D_MAX, D_MAX_SUB, Rne, f)),
        (D_MAX_SUB, 0)
    );
    // Overflow of the product alone, rescued by nothing.
    assert_eq!(
        run(|f| sf::f64_madd(D_MAX, D_TWO, D_NEG_ONE, Rtz, f)),
        (D_MAX, OF | NX)
    );
    // Underflow of the sum with tininess after rounding.
    assert_eq!(
        run(|f| sf::f32_madd(S_MAX_SUB, S_ONE + 1, S_P0, Rne, f)),
        (S_MIN_NORM, NX)
    );
}

#[test]
fn min_max() {
    // -0 < +0, in both operand orders.
    assert_eq!(run(|f| sf::f32_min(S_P0, S_N0, f)), (S_N0, 0));
    assert_eq!(run(|f| sf::f32_min(S_N0, S_P0, f)), (S_N0, 0));
    assert_eq!(run(|f| sf::f64_max(D_N0, D_P0, f)), (D_P0, 0));
    assert_eq!(run(|f| sf::f64_max(D_P0, D_N0, f)), (D_P0, 0));
    // One NaN: the other operand; NV only for a signalling NaN.
    assert_eq!(run(|f| sf::f64_min(D_QNAN, D_ONE, f)), (D_ONE, 0));
    assert_eq!(run(|f| sf::f64_max(D_NINF, D_QNAN_PAYLOAD, f)), (D_NINF, 0));
    assert_eq!(run(|f| sf::f32_min(S_ONE, S_SNAN, f)), (S_ONE, NV));
    assert_eq!(run(|f| sf::f32_max(S_SNAN, S_NEG_ONE, f)), (S_NEG_ONE, NV));
    // Two NaNs: the canonical NaN.
    assert_eq!(
        run(|f| sf::f64_min(D_QNAN_PAYLOAD, D_QNAN_PAYLOAD, f)),
        (F64_CANONICAL_NAN, 0)
    );
    assert_eq!(
        run(|f| sf::f32_max(S_QNAN_PAYLOAD, S_SNAN, f)),
        (F32_CANONICAL_NAN, NV)
    );
    // Ordinary ordering, negatives and infinities included.
    assert_eq!(run(|f| sf::f64_min(d(-2.0), D_NEG_ONE, f)), (d(-2.0), 0));
    assert_eq!(run(|f| sf::f64_max(d(-2.0), D_NEG_ONE, f)), (D_NEG_ONE, 0));
    assert_eq!(run(|f| sf::f32_max(S_INF, S_MAX, f)), (S_INF, 0));
    assert_eq!(run(|f| sf::f32_min(S_MIN_SUB, S_P0, f)), (S_P0, 0));
}

#[test]
fn comparisons() {
    // feq is quiet: NV only for signalling NaNs.
    assert_eq!(run(|f| sf::f32_eq(S_QNAN, S_QNAN, f)), (false, 0));
    assert_eq!(run(|f| sf::f32_eq(S_SNAN, S_ONE, f)), (false, NV));
    assert_eq!(run(|f| sf::f64_eq(D_N0, D_P0, f)), (true, 0));
    assert_eq!(run(|f| sf::f64_eq(D_ONE, D_ONE_PLUS, f)), (false, 0));
    // flt and fle signal on any NaN.
    assert_eq!(run(|f| sf::f64_lt(D_QNAN, D_ONE, f)), (false, NV));
    assert_eq!(run(|f| sf::f64_le(D_ONE, D_QNAN, f)), (false, NV));
    assert_eq!(run(|f| sf::f32_le(S_SNAN, S_SNAN, f)), (false, NV));
    // Zeros are equal.
    assert_eq!(run(|f| sf::f64_lt(D_N0, D_P0, f)), (false, 0));
    assert_eq!(run(|f| sf::f64_le(D_P0, D_N0, f)), (true, 0));
    // Sign-magnitude ordering.
    assert_eq!(run(|f| sf::f64_lt(d(-2.0), D_NEG_ONE, f)), (true, 0));
    assert_eq!(run(|f| sf::f64_lt(D_NEG_ONE, d(-2.0), f)), (false, 0));
    assert_eq!(run(|f| sf::f32_lt(S_NEG_ONE, S_MIN_SUB, f)), (true, 0));
    assert_eq!(run(|f| sf::f32_lt(S_NINF, S_MAX | S_N0, f)), (true, 0));
    assert_eq!(run(|f| sf::f32_le(S_INF, S_INF, f)), (true, 0));
    assert_eq!(run(|f| sf::f32_lt(S_INF, S_INF, f)), (false, 0));
}

#[test]
fn classification() {
    let s_cases = [
        (S_NINF, class::NEG_INF),
        (S_NEG_ONE, class::NEG_NORMAL),
        (S_MAX_SUB | S_N0, class::NEG_SUBNORMAL),
        (S_N0, class::NEG_ZERO),
        (S_P0, class::POS_ZERO),
        (S_MIN_SUB, class::POS_SUBNORMAL),
        (S_MIN_NORM, class::POS_NORMAL),
        (S_INF, class::POS_INF),
        (S_SNAN, class::SNAN),
        (S_QNAN_PAYLOAD, class::QNAN),
    ];
    for (i, (x, want)) in s_cases.into_iter().enumerate() {
        assert_eq!(want, 1 << i);
        assert_eq!(sf::f32_classify(x), want, "{x:#x}");
    }
    let d_cases = [
        (D_NINF, class::NEG_INF),
        (D_MAX | D_N0, class::NEG_NORMAL),
        (D_MIN_SUB | D_N0, class::NEG_SUBNORMAL),
        (D_N0, class::NEG_ZERO),
        (D_P0, class::POS_ZERO),
        (D_MAX_SUB, class::POS_SUBNORMAL),
        (D_ONE, class::POS_NORMAL),
        (D_INF, class::POS_INF),
        (0xfff7_ffff_ffff_ffff, class::SNAN),
        (D_QNAN, class::QNAN),
    ];
    for (x, want) in d_cases {
        assert_eq!(sf::f64_classify(x), want, "{x:#x}");
    }
}

#[test]
fn sign_injection() {
    assert_eq!(sf::f32_sgnj(S_ONE, S_NINF), S_NEG_ONE);
    assert_eq!(sf::f32_sgnjn(S_ONE, S_NINF), S_ONE);
    assert_eq!(sf::f32_sgnjx(S_NEG_ONE, S_NINF), S_ONE);
    assert_eq!(sf::f64_sgnj(D_NEG_ONE, D_P0), D_ONE);
    assert_eq!(sf::f64_sgnjn(D_ONE, D_ONE), D_NEG_ONE);
    assert_eq!(sf::f64_sgnjx(D_NEG_ONE, D_ONE), D_NEG_ONE);
    // NaNs are bit-manipulated like anything else (fneg/fabs of a NaN keep its payload).
    assert_eq!(sf::f64_sgnjn(D_SNAN, D_SNAN), D_SNAN | D_N0);
    assert_eq!(
        sf::f32_sgnjx(S_QNAN_PAYLOAD, S_QNAN_PAYLOAD),
        S_QNAN_PAYLOAD & !S_N0
    );
}

#[test]
fn float_to_int_rounding() {
    per_mode(
        "2.5 to i32",
        |rm, f| sf::f64_to_i32(d(2.5), rm, f),
        [(2, NX), (2, NX), (2, NX), (3, NX), (3, NX)],
    );
    per_mode(
        "-2.5 to i32",
        |rm, f| sf::f64_to_i32(d(-2.5), rm, f),
        [(-2, NX), (-2, NX), (-3, NX), (-2, NX), (-3, NX)],
    );
    per_mode(
        "1.5 to i64",
        |rm, f| sf::f32_to_i64(0x3fc0_0000, rm, f),
        [(2, NX), (1, NX), (1, NX), (2, NX), (2, NX)],
    );
    per_mode(
        "0.5 to u64",
        |rm, f| sf::f64_to_u64(D_HALF, rm, f),
        [(0, NX), (0, NX), (0, NX), (1, NX), (1, NX)],
    );
    per_mode(
        "min_sub to i32",
        |rm, f| sf::f64_to_i32(D_MIN_SUB, rm, f),
        [(0, NX), (0, NX), (0, NX), (1, NX), (0, NX)],
    );
    per_mode(
        "-min_sub to i32",
        |rm, f| sf::f32_to_i32(S_MIN_SUB | S_N0, rm, f),
        [(0, NX), (0, NX), (-1, NX), (0, NX), (0, NX)],
    );
    assert_eq!(run(|f| sf::f64_to_i64(D_N0, Rdn, f)), (0, 0));
    assert_eq!(run(|f| sf::f32_to_u32(S_N0, Rne, f)), (0, 0));
    assert_eq!(
        run(|f| sf::f64_to_i64(d(-123456789.0), Rne, f)),
        (-123_456_789, 0)
    );
}

#[test]
fn float_to_int_saturation() {
    // 2^31 - 0.5: rounds to 2^31 (out of range) except towards zero or down.
    let x = d(2147483647.5);
    per_mode(
        "2^31 - 0.5 to i32",
        |rm, f| sf::f64_to_i32(x, rm, f),
        [
            (i32::MAX, NV),
            (i32::MAX, NX),
            (i32::MAX, NX),
            (i32::MAX, NV),
            (i32::MAX, NV),
        ],
    );
    // -2^31 - 0.5: -2^31 fits, -2^31 - 1 does not.
    let x = d(-2147483648.5);
    per_mode(
        "-2^31 - 0.5 to i32",
        |rm, f| sf::f64_to_i32(x, rm, f),
        [
            (i32::MIN, NX),
            (i32::MIN, NX),
            (i32::MIN, NV),
            (i32::MIN, NX),
            (i32::MIN, NV),
        ],
    );
    per_mode(
        "-2^31 - 1 to i32",
        |rm, f| sf::f64_to_i32(d(-2147483649.0), rm, f),
        [(i32::MIN, NV); 5],
    );
    assert_eq!(
        run(|f| sf::f64_to_i32(d(-2147483648.0), Rne, f)),
        (i32::MIN, 0)
    );
    assert_eq!(
        run(|f| sf::f64_to_i32(d(2147483647.0), Rne, f)),
        (i32::MAX, 0)
    );
    assert_eq!(run(|f| sf::f32_to_i32(0x4f00_0000, Rne, f)), (i32::MAX, NV)); // 2^31
    assert_eq!(run(|f| sf::f32_to_i32(0xcf00_0000, Rne, f)), (i32::MIN, 0)); // -2^31
                                                                             // 2^63 and -2^63.
    assert_eq!(
        run(|f| sf::f64_to_i64(0x43e0_0000_0000_0000, Rne, f)),
        (i64::MAX, NV)
    );
    assert_eq!(
        run(|f| sf::f64_to_i64(0xc3e0_0000_0000_0000, Rne, f)),
        (i64::MIN, 0)
    );
    assert_eq!(run(|f| sf::f32_to_i64(0xdf00_0001, Rne, f)), (i64::MIN, NV));
    assert_eq!(
        run(|f| sf::f64_to_u64(0x43e0_0000_0000_0000, Rne, f)),
        (1 << 63, 0)
    );
    // The largest double below 2^64 fits u64; 2^64 does not.
    assert_eq!(
        run(|f| sf::f64_to_u64(0x43ef_ffff_ffff_ffff, Rne, f)),
        (0xffff_ffff_ffff_f800, 0)
    );
    assert_eq!(
        run(|f| sf::f64_to_u64(0x43f0_0000_0000_0000, Rne, f)),
        (u64::MAX, NV)
    );
    // Unsigned: negatives that round to zero only raise NX; -1 and below are invalid.
    per_mode(
        "-0.5 to u32",
        |rm, f| sf::f64_to_u32(d(-0.5), rm, f),
        [(0, NX), (0, NX), (0, NV), (0, NX), (0, NV)],
    );
    assert_eq!(run(|f| sf::f64_to_u32(D_NEG_ONE, Rne, f)), (0, NV));
    assert_eq!(run(|f| sf::f32_to_u64(S_NEG_ONE, Rtz, f)), (0, NV));
    per_mode(
        "2^32 - 0.5 to u32",
        |rm, f| sf::f64_to_u32(d(4294967295.5), rm, f),
        [
            (u32::MAX, NV),
            (u32::MAX, NX),
            (u32::MAX, NX),
            (u32::MAX, NV),
            (u32::MAX, NV),
        ],
    );
    assert_eq!(
        run(|f| sf::f64_to_u32(d(4294967296.0), Rtz, f)),
        (u32::MAX, NV)
    );
    // NaNs convert to the largest value whatever their sign; infinities saturate.
    assert_eq!(
        run(|f| sf::f32_to_i32(S_QNAN_PAYLOAD, Rne, f)),
        (i32::MAX, NV)
    );
    assert_eq!(
        run(|f| sf::f64_to_i64(D_QNAN_PAYLOAD, Rne, f)),
        (i64::MAX, NV)
    );
    assert_eq!(run(|f| sf::f64_to_u32(D_SNAN, Rne, f)), (u32::MAX, NV));
    assert_eq!(
        run(|f| sf::f32_to_u64(S_QNAN_PAYLOAD, Rne, f)),
        (u64::MAX, NV)
    );
    assert_eq!(run(|f| sf::f64_to_i32(D_NINF, Rne, f)), (i32::MIN, NV));
    assert_eq!(run(|f| sf::f64_to_u64(D_NINF, Rne, f)), (0, NV));
    assert_eq!(run(|f| sf::f32_to_u32(S_INF, Rne, f)), (u32::MAX, NV));
    assert_eq!(run(|f| sf::f32_to_i64(S_INF, Rne, f)), (i64::MAX, NV));
}

#[test]
fn int_to_float() {
    assert_eq!(run(|f| sf::i32_to_f32(0, Rdn, f)), (S_P0, 0));
    assert_eq!(run(|f| sf::i64_to_f64(-1, Rne, f)), (D_NEG_ONE, 0));
    assert_eq!(run(|f| sf::i32_to_f32(i32::MIN, Rne, f)), (0xcf00_0000, 0));
    assert_eq!(
        run(|f| sf::i64_to_f64(i64::MIN, Rne, f)),
        (0xc3e0_0000_0000_0000, 0)
    );
    // 2^24 + 1 is halfway between two singles; 2^24 + 3 too (ties go to even).
    per_mode(
        "2^24 + 1",
        |rm, f| sf::i32_to_f32(16_777_217, rm, f),
        [
            (0x4b80_0000, NX),
            (0x4b80_0000, NX),
            (0x4b80_0000, NX),
            (0x4b80_0001, NX),
            (0x4b80_0001, NX),
        ],
    );
    per_mode(
        "2^24 + 3",
        |rm, f| sf::u32_to_f32(16_777_219, rm, f),
        [
            (0x4b80_0002, NX),
            (0x4b80_0001, NX),
            (0x4b80_0001, NX),
            (0x4b80_0002, NX),
            (0x4b80_0002, NX),
        ],
    );
    per_mode(
        "-(2^24 + 1)",
        |rm, f| sf::i64_to_f32(-16_777_217, rm, f),
        [
            (0xcb80_0000, NX),
            (0xcb80_0000, NX),
            (0xcb80_0001, NX),
            (0xcb80_0000, NX),
            (0xcb80_0001, NX),
        ],
    );
    // i64::MAX and u64::MAX round to 2^63 and 2^64 to nearest.
    per_mode(
        "i64::MAX",
        |rm, f| sf::i64_to_f64(i64::MAX, rm, f),
        [
            (0x43e0_0000_0000_0000, NX),
            (0x43df_ffff_ffff_ffff, NX),
            (0x43df_ffff_ffff_ffff, NX),
            (0x43e0_0000_0000_0000, NX),
            (0x43e0_0000_0000_0000, NX),
        ],
    );
    per_mode(
        "u64::MAX",
        |rm, f| sf::u64_to_f64(u64::MAX, rm, f),
        [
            (0x43f0_0000_0000_0000, NX),
            (0x43ef_ffff_ffff_ffff, NX),
            (0x43ef_ffff_ffff_ffff, NX),
            (0x43f0_0000_0000_0000, NX),
            (0x43f0_0000_0000_0000, NX),
        ],
    );
    per_mode(
        "u64::MAX single",
        |rm, f| sf::u64_to_f32(u64::MAX, rm, f),
        [
            (0x5f80_0000, NX),
            (0x5f7f_ffff, NX),
            (0x5f7f_ffff, NX),
            (0x5f80_0000, NX),
            (0x5f80_0000, NX),
        ],
    );
    // 32-bit integers are exact in double.
    assert_eq!(sf::i32_to_f64(i32::MIN), 0xc1e0_0000_0000_0000);
    assert_eq!(sf::i32_to_f64(-3), d(-3.0));
    assert_eq!(sf::u32_to_f64(u32::MAX), 0x41ef_ffff_ffe0_0000);
    assert_eq!(sf::u32_to_f64(0), D_P0);
    assert_eq!(
        run(|f| sf::u64_to_f64(1 << 53, Rne, f)),
        (0x4340_0000_0000_0000, 0)
    );
    assert_eq!(
        run(|f| sf::u64_to_f64((1 << 53) + 1, Rne, f)),
        (0x4340_0000_0000_0000, NX)
    );
}

#[test]
fn float_to_float() {
    // Widening is exact; NaNs become canonical (NV for signalling ones).
    assert_eq!(run(|f| sf::f32_to_f64(S_ONE, f)), (D_ONE, 0));
    assert_eq!(run(|f| sf::f32_to_f64(S_N0, f)), (D_N0, 0));
    assert_eq!(run(|f| sf::f32_to_f64(S_NINF, f)), (D_NINF, 0));
    assert_eq!(
        run(|f| sf::f32_to_f64(S_MIN_SUB, f)),
        (0x36a0_0000_0000_0000, 0)
    );
    assert_eq!(
        run(|f| sf::f32_to_f64(S_MAX, f)),
        (0x47ef_ffff_e000_0000, 0)
    );
    assert_eq!(
        run(|f| sf::f32_to_f64(S_QNAN_PAYLOAD, f)),
        (F64_CANONICAL_NAN, 0)
    );
    assert_eq!(run(|f| sf::f32_to_f64(S_SNAN, f)), (F64_CANONICAL_NAN, NV));
    // Narrowing rounds.
    assert_eq!(run(|f| sf::f64_to_f32(D_ONE, Rne, f)), (S_ONE, 0));
    assert_eq!(
        run(|f| sf::f64_to_f32(D_QNAN_PAYLOAD, Rne, f)),
        (F32_CANONICAL_NAN, 0)
    );
    assert_eq!(
        run(|f| sf::f64_to_f32(D_SNAN, Rne, f)),
        (F32_CANONICAL_NAN, NV)
    );
    assert_eq!(run(|f| sf::f64_to_f32(D_N0, Rne, f)), (S_N0, 0));
    per_mode(
        "double max to single",
        |rm, f| sf::f64_to_f32(D_MAX, rm, f),
        [
            (S_INF, OF | NX),
            (S_MAX, OF | NX),
            (S_MAX, OF | NX),
            (S_INF, OF | NX),
            (S_INF, OF | NX),
        ],
    );
    per_mode(
        "double min_sub to single",
        |rm, f| sf::f64_to_f32(D_MIN_SUB, rm, f),
        [
            (S_P0, UF | NX),
            (S_P0, UF | NX),
            (S_P0, UF | NX),
            (S_MIN_SUB, UF | NX),
            (S_P0, UF | NX),
        ],
    );
    // 1 + 2^-24 (exactly halfway) and 1 + 2^-24 + 2^-52 (just above).
    per_mode(
        "1 + 2^-24",
        |rm, f| sf::f64_to_f32(0x3ff0_0000_1000_0000, rm, f),
        [
            (S_ONE, NX),
            (S_ONE, NX),
            (S_ONE, NX),
            (S_ONE + 1, NX),
            (S_ONE + 1, NX),
        ],
    );
    per_mode(
        "1 + 2^-24 + 2^-52",
        |rm, f| sf::f64_to_f32(0x3ff0_0000_1000_0001, rm, f),
        [
            (S_ONE + 1, NX),
            (S_ONE, NX),
            (S_ONE, NX),
            (S_ONE + 1, NX),
            (S_ONE + 1, NX),
        ],
    );
}
