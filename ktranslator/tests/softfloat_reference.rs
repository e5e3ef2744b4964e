//! Differential tests of `ktranslator::softfloat` against Berkeley SoftFloat 3e (the
//! `softfloat-rs` crate, a dev-dependency only).
//!
//! Every rounding operation runs on `SOFTFLOAT_ITERS` (default 1,000,000) random operand
//! sets in each of the five rounding modes; result bits and exception flags must match
//! exactly. Operands mix uniform random bits with biased values: exponents near zero,
//! one and the maximum, subnormals, zeros, infinities, quiet and signalling NaNs,
//! significands with halfway and near-halfway tails, and correlated operands (near
//! cancellation for add and fma, exact quotients and squares for div and sqrt).
//!
//! The reference is built with SoftFloat's x86-SSE specialisation (the crate picks it by
//! target architecture). It differs from the RISC-V specialisation only in NaN payloads
//! and in the values returned by invalid float-to-integer conversions, so the harness
//! maps those two (every NaN result must be the canonical NaN; an invalid conversion
//! saturates as RISC-V specifies); flags, tininess after rounding and everything else
//! come from the reference as is.
//!
//! The seed is printed; rerun with `SOFTFLOAT_SEED=<seed>` to reproduce a failure.

use ktranslator::softfloat::{self as sf, RoundingMode};
use softfloat_rs as bsf;
use std::time::Instant;

/// Calls into the reference library.
macro_rules! ffi {
    ($e:expr) => {{
        // SAFETY: the reference functions take and return plain values and touch only
        // the library's own thread-local state.
        unsafe { $e }
    }};
}

// ---------------------------------------------------------------------------------------
// Harness

/// splitmix64: a small deterministic generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0; the modulo bias is irrelevant here).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn chance(&mut self, one_in: u64) -> bool {
        self.below(one_in) == 0
    }
}

fn env_u64(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok()?;
    let v = v.trim();
    match v.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => v.parse().ok(),
    }
}

fn iterations() -> u64 {
    env_u64("SOFTFLOAT_ITERS").unwrap_or(1_000_000)
}

/// Per-test seed: the base seed (default fixed, or `SOFTFLOAT_SEED`) mixed with the test name.
fn seed_for(name: &str) -> u64 {
    let base = env_u64("SOFTFLOAT_SEED").unwrap_or(0x6b65_6d75_5f73_6f66);
    name.bytes().fold(base, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Runs `f` on the reference with rounding mode `rm` and cleared flags; returns its result
/// and the flags it raised.
fn reference<T>(rm: RoundingMode, f: impl FnOnce() -> T) -> (T, u8) {
    // SAFETY: these helpers only read and write the reference library's thread-local
    // rounding mode, tininess mode and flags.
    unsafe {
        bsf::softfloat_roundingMode_write_helper(rm.bits());
        bsf::softfloat_detectTininess_write_helper(bsf::softfloat_tininess_afterRounding);
        bsf::softfloat_exceptionFlags_write_helper(0);
    }
    let r = f();
    let flags = ffi!(bsf::softfloat_exceptionFlags_read_helper());
    (r, flags)
}

/// A binary format, described for operand generation and NaN checks.
#[derive(Clone, Copy)]
struct Fmt {
    frac: u32,
    exp: u32,
}

const S: Fmt = Fmt { frac: 23, exp: 8 };
const D: Fmt = Fmt { frac: 52, exp: 11 };

impl Fmt {
    fn sign(self) -> u64 {
        1 << (self.frac + self.exp)
    }
    fn frac_mask(self) -> u64 {
        (1 << self.frac) - 1
    }
    fn emax(self) -> u64 {
        (1 << self.exp) - 1
    }
    fn bias(self) -> u64 {
        (1 << (self.exp - 1)) - 1
    }
    fn inf(self) -> u64 {
        self.emax() << self.frac
    }
    fn canonical_nan(self) -> u64 {
        self.inf() | (1 << (self.frac - 1))
    }
    fn is_nan(self, x: u64) -> bool {
        x & (self.sign() - 1) > self.inf()
    }
    fn pack(self, sign: bool, exp: u64, frac: u64) -> u64 {
        (u64::from(sign) << (self.frac + self.exp)) | (exp << self.frac) | (frac & self.frac_mask())
    }

    /// A significand field with a structured pattern.
    fn mantissa(self, rng: &mut Rng) -> u64 {
        let m = self.frac_mask();
        let f = u64::from(self.frac);
        match rng.below(10) {
            0 | 1 => rng.next() & m,
            2 => 0,
            3 => m,
            4 => 1 << rng.below(f),
            // Trailing zeros: short significands, exact products and sums.
            5 => rng.next() & m & !((1 << rng.below(f + 1)) - 1),
            // ...x1000 and ...x0111: halfway and just-below-halfway tails at any position.
            6 => {
                let k = rng.below(f);
                (rng.next() & m & !((2 << k) - 1)) | (1 << k)
            }
            7 => {
                let k = rng.below(f);
                (rng.next() & m & !((2 << k) - 1)) | ((1 << k) - 1)
            }
            8 => (rng.next() & rng.next()) & m,
            _ => (rng.next() | rng.next()) & m,
        }
    }

    /// A biased exponent field, often near the interesting ends.
    fn exponent(self, rng: &mut Rng) -> u64 {
        let emax = self.emax();
        let bias = self.bias();
        match rng.below(8) {
            0 | 1 => rng.below(emax + 1),
            2 => rng.below(3),
            3 => emax - rng.below(3),
            4 => bias - 4 + rng.below(9),
            // Integer conversion range, up to 2^70.
            5 => bias - 2 + rng.below(73),
            // Just inside the overflow and underflow thresholds.
            6 => emax - 1 - rng.below(self.frac.into()),
            _ => 1 + rng.below(u64::from(self.frac) + 2),
        }
    }

    /// A special value.
    fn special(self, rng: &mut Rng) -> u64 {
        let m = self.frac_mask();
        let emax = self.emax();
        let (exp, frac) = match rng.below(12) {
            0 => (0, 0),
            1 => (0, 1),
            2 => (0, m),
            3 => (1, 0),
            4 => (emax - 1, m),
            5 => (emax, 0),
            6 => (emax, 1 << (self.frac - 1)),
            7 => (emax, (1 << (self.frac - 1)) | (rng.next() & m)),
            8 => (emax, 1),
            9 => (emax, (rng.next() & (m >> 1)).max(1)),
            10 => (self.bias(), 0),
            _ => (self.bias() + rng.below(64), 0),
        };
        self.pack(rng.chance(2), exp, frac)
    }

    /// A random operand: a third uniform bits, the rest special or structured.
    fn operand(self, rng: &mut Rng) -> u64 {
        match rng.below(12) {
            0..=3 => rng.next() & (self.sign() | (self.sign() - 1)),
            4 => self.special(rng),
            _ => {
                let sign = rng.chance(2);
                let exp = self.exponent(rng);
                let frac = self.mantissa(rng);
                self.pack(sign, exp, frac)
            }
        }
    }

    /// An operand related to `a`: same or neighbouring exponent, similar bits.
    fn near(self, rng: &mut Rng, a: u64) -> u64 {
        let sign = if rng.chance(2) { self.sign() } else { 0 };
        let b = match rng.below(4) {
            0 => a ^ sign,
            1 => (a ^ sign) ^ (rng.next() & ((1 << rng.below(u64::from(self.frac) + 1)) - 1)),
            2 => {
                let delta = rng.below(5);
                if rng.chance(2) {
                    (a ^ sign).wrapping_add(delta << self.frac)
                } else {
                    (a ^ sign).wrapping_sub(delta << self.frac)
                }
            }
            _ => (a ^ sign).wrapping_add(rng.below(9)).wrapping_sub(4),
        };
        b & (self.sign() | (self.sign() - 1))
    }
}

/// An integer operand: random bit length, halfway patterns, extremes.
fn integer(rng: &mut Rng) -> u64 {
    match rng.below(8) {
        0 | 1 => rng.next(),
        2 => rng.next() >> rng.below(64),
        3 => {
            // ...1000 tail at a random position, the number at a random length.
            let k = rng.below(63);
            ((rng.next() & !((2 << k) - 1)) | (1 << k)) >> rng.below(40)
        }
        4 => {
            let k = rng.below(63);
            ((rng.next() & !((2 << k) - 1)) | ((1 << k) - 1)) >> rng.below(40)
        }
        5 => [
            0,
            1,
            2,
            3,
            u64::MAX,
            u64::MAX - 1,
            1 << 63,
            (1 << 63) - 1,
            1 << 31,
            (1 << 31) - 1,
            1 << 32,
            u64::from(u32::MAX),
        ][rng.below(12) as usize],
        6 => (1u64 << rng.below(64))
            .wrapping_add(rng.below(5))
            .wrapping_sub(2),
        _ => (rng.next() >> rng.below(64)).wrapping_neg(),
    }
}

/// Compares ours with the reference over `iterations()` operand sets in each of `modes`.
/// `ours` and `theirs` return (result bits, flags); `theirs` gets the mode to set itself.
fn check<const N: usize>(
    name: &str,
    modes: &[RoundingMode],
    mut gen: impl FnMut(&mut Rng) -> [u64; N],
    ours: impl Fn([u64; N], RoundingMode) -> (u64, u8),
    theirs: impl Fn([u64; N], RoundingMode) -> (u64, u8),
) {
    let seed = seed_for(name);
    let n = iterations();
    let start = Instant::now();
    let mut rng = Rng(seed);
    for &rm in modes {
        for i in 0..n {
            let ops = gen(&mut rng);
            let got = ours(ops, rm);
            let want = theirs(ops, rm);
            if got != want {
                panic!(
                    "{name} {rm:?} (seed {seed:#x}, iteration {i}): operands {:x?}: got {:#x} flags {:#04x}, reference {:#x} flags {:#04x}",
                    ops, got.0, got.1, want.0, want.1
                );
            }
        }
    }
    println!(
        "{name}: {} operand sets x {} modes, seed {seed:#x}, {:.2?}",
        n,
        modes.len(),
        start.elapsed()
    );
}

const ALL: &[RoundingMode] = &RoundingMode::ALL;
const NO_ROUNDING: &[RoundingMode] = &[RoundingMode::Rne];

/// The reference's float result with NaNs replaced by the canonical NaN.
fn canon(fmt: Fmt, (bits, flags): (u64, u8)) -> (u64, u8) {
    (
        if fmt.is_nan(bits) {
            fmt.canonical_nan()
        } else {
            bits
        },
        flags,
    )
}

fn ours<T: Into<u64>>(f: impl FnOnce(&mut u8) -> T) -> (u64, u8) {
    let mut flags = 0;
    let r = f(&mut flags);
    (r.into(), flags)
}

/// Low 32 bits (a single's bits in the harness's u64 lanes).
fn lo(bits: u64) -> u32 {
    bits as u32
}

/// Identity, the f64 counterpart of [`lo`].
fn id(bits: u64) -> u64 {
    bits
}

/// Integer result bits, sign-extended from the integer's own type.
fn ext<T: Into<i128>>(x: T) -> u64 {
    x.into() as u64
}

fn f32r(bits: u64) -> bsf::float32_t {
    bsf::float32_t { v: bits as u32 }
}

fn f64r(bits: u64) -> bsf::float64_t {
    bsf::float64_t { v: bits }
}

fn gen1(fmt: Fmt) -> impl FnMut(&mut Rng) -> [u64; 1] {
    move |rng| [fmt.operand(rng)]
}

/// A result exponent just inside or outside the finite range: around the smallest
/// normal (where tininess before and after rounding differ), deep in the subnormals, or
/// around the largest finite binade.
fn boundary_exp(fmt: Fmt, rng: &mut Rng) -> i64 {
    let emax = fmt.emax() as i64;
    match rng.below(4) {
        0 => rng.below(4) as i64 - 1,
        1 => -(rng.below(u64::from(fmt.frac) + 4) as i64),
        2 => emax - 3 + rng.below(4) as i64,
        _ => rng.below(3) as i64,
    }
}

/// Sets the exponent field of `b` to `exp`, clamped to the finite range.
fn with_exp(fmt: Fmt, b: u64, exp: i64) -> u64 {
    let exp = exp.clamp(0, fmt.emax() as i64 - 1) as u64;
    fmt.pack(b & fmt.sign() != 0, exp, b)
}

/// Operand pairs for mul (`product` true) and div: a quarter of them place the result
/// near the underflow or overflow threshold.
fn gen_boundary(fmt: Fmt, product: bool) -> impl FnMut(&mut Rng) -> [u64; 2] {
    move |rng| {
        let a = fmt.operand(rng);
        let b = fmt.operand(rng);
        if !rng.chance(4) || fmt.is_nan(a) {
            return [a, b];
        }
        let exp_a = ((a >> fmt.frac) & fmt.emax()) as i64;
        let target = boundary_exp(fmt, rng);
        let bias = fmt.bias() as i64;
        if product {
            [a, with_exp(fmt, b, target + bias - exp_a)]
        } else {
            [a, with_exp(fmt, b, exp_a - target + bias)]
        }
    }
}

fn gen2(fmt: Fmt) -> impl FnMut(&mut Rng) -> [u64; 2] {
    move |rng| {
        let a = fmt.operand(rng);
        let b = if rng.chance(4) {
            fmt.near(rng, a)
        } else {
            fmt.operand(rng)
        };
        if rng.chance(2) {
            [a, b]
        } else {
            [b, a]
        }
    }
}

// ---------------------------------------------------------------------------------------
// Arithmetic

macro_rules! binary_test {
    ($test:ident, $fmt:expr, $ours:path, $theirs:path, $wrap:ident, $conv:ident, $gen:expr) => {
        #[test]
        fn $test() {
            check(
                stringify!($test),
                ALL,
                $gen,
                |[a, b], rm| ours(|f| $ours($conv(a), $conv(b), rm, f)),
                |[a, b], rm| {
                    canon(
                        $fmt,
                        reference(rm, || u64::from(ffi!($theirs($wrap(a), $wrap(b))).v)),
                    )
                },
            );
        }
    };
}

binary_test!(f32_add, S, sf::f32_add, bsf::f32_add, f32r, lo, gen2(S));
binary_test!(f32_sub, S, sf::f32_sub, bsf::f32_sub, f32r, lo, gen2(S));
binary_test!(
    f32_mul,
    S,
    sf::f32_mul,
    bsf::f32_mul,
    f32r,
    lo,
    gen_boundary(S, true)
);
binary_test!(f32_div, S, sf::f32_div, bsf::f32_div, f32r, lo, gen_div(S));
binary_test!(f64_add, D, sf::f64_add, bsf::f64_add, f64r, id, gen2(D));
binary_test!(f64_sub, D, sf::f64_sub, bsf::f64_sub, f64r, id, gen2(D));
binary_test!(
    f64_mul,
    D,
    sf::f64_mul,
    bsf::f64_mul,
    f64r,
    id,
    gen_boundary(D, true)
);
binary_test!(f64_div, D, sf::f64_div, bsf::f64_div, f64r, id, gen_div(D));

/// Reference product of `a` and `b` (round to nearest), as bits.
fn ref_mul(fmt: Fmt, a: u64, b: u64, rm: RoundingMode) -> u64 {
    let (r, _) = reference(rm, || {
        if fmt.frac == 23 {
            u64::from(ffi!(bsf::f32_mul(f32r(a), f32r(b))).v)
        } else {
            ffi!(bsf::f64_mul(f64r(a), f64r(b))).v
        }
    });
    r
}

/// Division operands, a quarter of them with exact (short) quotients.
fn gen_div(fmt: Fmt) -> impl FnMut(&mut Rng) -> [u64; 2] {
    move |rng| {
        let b = fmt.operand(rng);
        if rng.chance(4) {
            // a = b * q with q short: the quotient is often exact or a tie.
            let q = fmt.pack(
                rng.chance(2),
                fmt.bias() - 20 + rng.below(40),
                rng.next() & fmt.frac_mask() & !((1 << (fmt.frac - rng.below(8) as u32)) - 1),
            );
            let q = if rng.chance(2) { q } else { q + rng.below(3) };
            [ref_mul(fmt, b, q, RoundingMode::Rne), b]
        } else if rng.chance(3) {
            // a = b * q with q near the underflow or overflow threshold and a significand
            // near a rounding boundary: quotients that round to or past the threshold.
            // The rounding of a alone moves a / b by up to an ulp of q, so a quotient
            // next to the smallest normal or the largest finite number often lands
            // within half an ulp of the threshold.
            let m = fmt.frac_mask();
            let q = match rng.below(4) {
                0 => fmt.pack(rng.chance(2), 1, 0),
                1 => fmt.pack(rng.chance(2), fmt.emax() - 1, m),
                2 => fmt.pack(rng.chance(2), rng.below(2), m * rng.below(2) + rng.below(3)),
                _ => with_exp(
                    fmt,
                    fmt.pack(rng.chance(2), 0, fmt.mantissa(rng)),
                    boundary_exp(fmt, rng),
                ),
            };
            // |b| above one for small quotients and below one for large ones, so that
            // a = b * q is normal and finite.
            let exp_b = if (q >> fmt.frac) & fmt.emax() <= 1 {
                fmt.bias() + 1 + rng.below(8)
            } else {
                fmt.bias() - 1 - rng.below(8)
            };
            let b = fmt.pack(rng.chance(2), exp_b, fmt.mantissa(rng));
            let rm = RoundingMode::ALL[rng.below(5) as usize];
            [ref_mul(fmt, b, q, rm), b]
        } else if rng.chance(2) {
            let a = fmt.operand(rng);
            let exp_a = ((a >> fmt.frac) & fmt.emax()) as i64;
            [
                a,
                with_exp(fmt, b, exp_a - boundary_exp(fmt, rng) + fmt.bias() as i64),
            ]
        } else {
            let a = if rng.chance(4) {
                fmt.near(rng, b)
            } else {
                fmt.operand(rng)
            };
            [a, b]
        }
    }
}

fn gen_sqrt(fmt: Fmt) -> impl FnMut(&mut Rng) -> [u64; 1] {
    move |rng| {
        if rng.chance(4) {
            // Squares of short significands: exact roots, and their neighbours.
            let x = fmt.pack(
                false,
                fmt.exponent(rng),
                rng.next() & fmt.frac_mask() & !((1 << (fmt.frac / 2 + 1)) - 1),
            );
            let sq = ref_mul(fmt, x, x, RoundingMode::Rne);
            [sq.wrapping_add(rng.below(3)).wrapping_sub(1) & (fmt.sign() | (fmt.sign() - 1))]
        } else {
            let a = fmt.operand(rng);
            // Mostly positive operands: negative ones all take the same path.
            [if rng.chance(8) { a } else { a & !fmt.sign() }]
        }
    }
}

#[test]
fn f32_sqrt() {
    check(
        "f32_sqrt",
        ALL,
        gen_sqrt(S),
        |[a], rm| ours(|f| sf::f32_sqrt(a as u32, rm, f)),
        |[a], rm| {
            canon(
                S,
                reference(rm, || u64::from(ffi!(bsf::f32_sqrt(f32r(a))).v)),
            )
        },
    );
}

#[test]
fn f64_sqrt() {
    check(
        "f64_sqrt",
        ALL,
        gen_sqrt(D),
        |[a], rm| ours(|f| sf::f64_sqrt(a, rm, f)),
        |[a], rm| canon(D, reference(rm, || ffi!(bsf::f64_sqrt(f64r(a))).v)),
    );
}

/// Fused multiply-add operands; a third of them have c close to -(a * b) (cancellation).
fn gen3(fmt: Fmt) -> impl FnMut(&mut Rng) -> [u64; 3] {
    move |rng| {
        let a = fmt.operand(rng);
        let mut b = fmt.operand(rng);
        if rng.chance(4) && !fmt.is_nan(a) {
            let exp_a = ((a >> fmt.frac) & fmt.emax()) as i64;
            b = with_exp(fmt, b, boundary_exp(fmt, rng) + fmt.bias() as i64 - exp_a);
        }
        let c = match rng.below(6) {
            0 | 1 => {
                let rm = RoundingMode::ALL[rng.below(5) as usize];
                let p = ref_mul(fmt, a, b, rm) ^ if rng.chance(2) { fmt.sign() } else { 0 };
                fmt.near(rng, p)
            }
            2 => fmt.near(rng, a),
            _ => fmt.operand(rng),
        };
        [a, b, c]
    }
}

macro_rules! fma_test {
    ($test:ident, $fmt:expr, $ours:path, $theirs:path, $wrap:ident, $conv:ident, $neg_a:expr, $neg_c:expr) => {
        #[test]
        fn $test() {
            let sign = $fmt.sign();
            check(
                stringify!($test),
                ALL,
                gen3($fmt),
                |[a, b, c], rm| ours(|f| $ours($conv(a), $conv(b), $conv(c), rm, f)),
                // The RISC-V reference (Spike) implements the negated forms by flipping
                // the sign of a and/or c before SoftFloat's mulAdd.
                |[a, b, c], rm| {
                    let a = if $neg_a { a ^ sign } else { a };
                    let c = if $neg_c { c ^ sign } else { c };
                    canon(
                        $fmt,
                        reference(rm, || {
                            u64::from(ffi!($theirs($wrap(a), $wrap(b), $wrap(c))).v)
                        }),
                    )
                },
            );
        }
    };
}

fma_test!(
    f32_madd,
    S,
    sf::f32_madd,
    bsf::f32_mulAdd,
    f32r,
    lo,
    false,
    false
);
fma_test!(
    f32_msub,
    S,
    sf::f32_msub,
    bsf::f32_mulAdd,
    f32r,
    lo,
    false,
    true
);
fma_test!(
    f32_nmsub,
    S,
    sf::f32_nmsub,
    bsf::f32_mulAdd,
    f32r,
    lo,
    true,
    false
);
fma_test!(
    f32_nmadd,
    S,
    sf::f32_nmadd,
    bsf::f32_mulAdd,
    f32r,
    lo,
    true,
    true
);
fma_test!(
    f64_madd,
    D,
    sf::f64_madd,
    bsf::f64_mulAdd,
    f64r,
    id,
    false,
    false
);
fma_test!(
    f64_msub,
    D,
    sf::f64_msub,
    bsf::f64_mulAdd,
    f64r,
    id,
    false,
    true
);
fma_test!(
    f64_nmsub,
    D,
    sf::f64_nmsub,
    bsf::f64_mulAdd,
    f64r,
    id,
    true,
    false
);
fma_test!(
    f64_nmadd,
    D,
    sf::f64_nmadd,
    bsf::f64_mulAdd,
    f64r,
    id,
    true,
    true
);

// ---------------------------------------------------------------------------------------
// Conversions

/// The RISC-V result of an invalid conversion of `a` to an integer in `[min, max]`
/// (as u64 bits of the sign-extended value).
fn saturate(fmt: Fmt, a: u64, min: u64, max: u64) -> u64 {
    if fmt.is_nan(a) || a & fmt.sign() == 0 {
        max
    } else {
        min
    }
}

macro_rules! to_int_test {
    ($test:ident, $fmt:expr, $ours:path, $theirs:path, $wrap:ident, $conv:ident, $ity:ty) => {
        #[test]
        fn $test() {
            check(
                stringify!($test),
                ALL,
                gen1($fmt),
                |[a], rm| {
                    let mut f = 0;
                    (ext($ours($conv(a), rm, &mut f)), f)
                },
                |[a], rm| {
                    let (r, flags) =
                        reference(rm, || ext(ffi!($theirs($wrap(a), rm.bits(), true))));
                    if flags & sf::flags::NV != 0 {
                        (saturate($fmt, a, ext(<$ity>::MIN), ext(<$ity>::MAX)), flags)
                    } else {
                        (r, flags)
                    }
                },
            );
        }
    };
}

to_int_test!(
    f32_to_i32,
    S,
    sf::f32_to_i32,
    bsf::f32_to_i32,
    f32r,
    lo,
    i32
);
to_int_test!(
    f32_to_u32,
    S,
    sf::f32_to_u32,
    bsf::f32_to_ui32,
    f32r,
    lo,
    u32
);
to_int_test!(
    f32_to_i64,
    S,
    sf::f32_to_i64,
    bsf::f32_to_i64,
    f32r,
    lo,
    i64
);
to_int_test!(
    f32_to_u64,
    S,
    sf::f32_to_u64,
    bsf::f32_to_ui64,
    f32r,
    lo,
    u64
);
to_int_test!(
    f64_to_i32,
    D,
    sf::f64_to_i32,
    bsf::f64_to_i32,
    f64r,
    id,
    i32
);
to_int_test!(
    f64_to_u32,
    D,
    sf::f64_to_u32,
    bsf::f64_to_ui32,
    f64r,
    id,
    u32
);
to_int_test!(
    f64_to_i64,
    D,
    sf::f64_to_i64,
    bsf::f64_to_i64,
    f64r,
    id,
    i64
);
to_int_test!(
    f64_to_u64,
    D,
    sf::f64_to_u64,
    bsf::f64_to_ui64,
    f64r,
    id,
    u64
);

macro_rules! from_int_test {
    ($test:ident, $ours:expr, $theirs:path, $ity:ty, $modes:expr) => {
        #[test]
        fn $test() {
            check(
                stringify!($test),
                $modes,
                |rng| [integer(rng)],
                |[a], rm| ours(|f| $ours(a as $ity, rm, f)),
                |[a], rm| reference(rm, || u64::from(ffi!($theirs(a as $ity)).v)),
            );
        }
    };
}

from_int_test!(i32_to_f32, sf::i32_to_f32, bsf::i32_to_f32, i32, ALL);
from_int_test!(u32_to_f32, sf::u32_to_f32, bsf::ui32_to_f32, u32, ALL);
from_int_test!(i64_to_f32, sf::i64_to_f32, bsf::i64_to_f32, i64, ALL);
from_int_test!(u64_to_f32, sf::u64_to_f32, bsf::ui64_to_f32, u64, ALL);
from_int_test!(i64_to_f64, sf::i64_to_f64, bsf::i64_to_f64, i64, ALL);
from_int_test!(u64_to_f64, sf::u64_to_f64, bsf::ui64_to_f64, u64, ALL);
from_int_test!(
    i32_to_f64,
    |a, _rm, _f: &mut u8| sf::i32_to_f64(a),
    bsf::i32_to_f64,
    i32,
    ALL
);
from_int_test!(
    u32_to_f64,
    |a, _rm, _f: &mut u8| sf::u32_to_f64(a),
    bsf::ui32_to_f64,
    u32,
    ALL
);

#[test]
fn f64_to_f32() {
    check(
        "f64_to_f32",
        ALL,
        move |rng| {
            // Doubles in and around the single range as well as anywhere.
            let a = D.operand(rng);
            if rng.chance(2) {
                let exp = D.bias() - S.bias() - 30 + rng.below(2 * S.bias() + 60);
                [D.pack(a & D.sign() != 0, exp, a)]
            } else {
                [a]
            }
        },
        |[a], rm| ours(|f| sf::f64_to_f32(a, rm, f)),
        |[a], rm| {
            canon(
                S,
                reference(rm, || u64::from(ffi!(bsf::f64_to_f32(f64r(a))).v)),
            )
        },
    );
}

#[test]
fn f32_to_f64() {
    check(
        "f32_to_f64",
        NO_ROUNDING,
        gen1(S),
        |[a], _| ours(|f| sf::f32_to_f64(a as u32, f)),
        |[a], rm| canon(D, reference(rm, || ffi!(bsf::f32_to_f64(f32r(a))).v)),
    );
}

// ---------------------------------------------------------------------------------------
// Comparisons, min/max, classification, sign injection

macro_rules! compare_test {
    ($test:ident, $fmt:expr, $ours:path, $theirs:path, $wrap:ident, $conv:ident) => {
        #[test]
        fn $test() {
            check(
                stringify!($test),
                NO_ROUNDING,
                gen2($fmt),
                |[a, b], _| ours(|f| u64::from($ours($conv(a), $conv(b), f))),
                |[a, b], rm| reference(rm, || u64::from(ffi!($theirs($wrap(a), $wrap(b))))),
            );
        }
    };
}

compare_test!(f32_eq, S, sf::f32_eq, bsf::f32_eq, f32r, lo);
compare_test!(f32_lt, S, sf::f32_lt, bsf::f32_lt, f32r, lo);
compare_test!(f32_le, S, sf::f32_le, bsf::f32_le, f32r, lo);
compare_test!(f64_eq, D, sf::f64_eq, bsf::f64_eq, f64r, id);
compare_test!(f64_lt, D, sf::f64_lt, bsf::f64_lt, f64r, id);
compare_test!(f64_le, D, sf::f64_le, bsf::f64_le, f64r, id);

/// minimumNumber/maximumNumber from the spec, on top of the reference's quiet comparisons.
macro_rules! min_max_test {
    ($test:ident, $fmt:expr, $ours:path, $wrap:ident, $conv:ident, $lt_quiet:path, $eq:path, $is_snan:path, $max:expr) => {
        #[test]
        fn $test() {
            let fmt = $fmt;
            check(
                stringify!($test),
                NO_ROUNDING,
                gen2(fmt),
                |[a, b], _| ours(|f| $ours($conv(a), $conv(b), f)),
                |[a, b], _| {
                    // SAFETY: plain reference calls.
                    let (snan, a_lt_b, equal) = unsafe {
                        let (x, y) = ($wrap(a), $wrap(b));
                        ($is_snan(x) || $is_snan(y), $lt_quiet(x, y), $eq(x, y))
                    };
                    let flags = if snan { sf::flags::NV } else { 0 };
                    let r = match (fmt.is_nan(a), fmt.is_nan(b)) {
                        (true, true) => fmt.canonical_nan(),
                        (true, false) => b,
                        (false, true) => a,
                        // Equal values differ at most in the sign of zero: -0 < +0.
                        _ if equal => {
                            if (a & fmt.sign() != 0) != $max {
                                a
                            } else {
                                b
                            }
                        }
                        _ => {
                            if a_lt_b != $max {
                                a
                            } else {
                                b
                            }
                        }
                    };
                    (r, flags)
                },
            );
        }
    };
}

min_max_test!(
    f32_min,
    S,
    sf::f32_min,
    f32r,
    lo,
    bsf::f32_lt_quiet,
    bsf::f32_eq,
    bsf::f32_isSignalingNaN,
    false
);
min_max_test!(
    f32_max,
    S,
    sf::f32_max,
    f32r,
    lo,
    bsf::f32_lt_quiet,
    bsf::f32_eq,
    bsf::f32_isSignalingNaN,
    true
);
min_max_test!(
    f64_min,
    D,
    sf::f64_min,
    f64r,
    id,
    bsf::f64_lt_quiet,
    bsf::f64_eq,
    bsf::f64_isSignalingNaN,
    false
);
min_max_test!(
    f64_max,
    D,
    sf::f64_max,
    f64r,
    id,
    bsf::f64_lt_quiet,
    bsf::f64_eq,
    bsf::f64_isSignalingNaN,
    true
);

/// fclass against the host's classification of the same bits (bit tests, no arithmetic)
/// and the reference's signalling-NaN test.
#[test]
fn classify() {
    use std::num::FpCategory::*;
    check(
        "classify",
        NO_ROUNDING,
        |rng| [S.operand(rng), D.operand(rng)],
        |[a, b], _| {
            (
                u64::from(sf::f32_classify(a as u32)) << 32 | u64::from(sf::f64_classify(b)),
                0,
            )
        },
        |[a, b], _| {
            let class = |cat, neg: bool, snan: bool| -> u64 {
                let bit = match (cat, neg) {
                    (Nan, _) => {
                        if snan {
                            8
                        } else {
                            9
                        }
                    }
                    (Infinite, true) => 0,
                    (Normal, true) => 1,
                    (Subnormal, true) => 2,
                    (Zero, true) => 3,
                    (Zero, false) => 4,
                    (Subnormal, false) => 5,
                    (Normal, false) => 6,
                    (Infinite, false) => 7,
                };
                1 << bit
            };
            let x = f32::from_bits(a as u32);
            let y = f64::from_bits(b);
            // SAFETY: plain reference calls.
            let (snan_x, snan_y) = unsafe {
                (
                    bsf::f32_isSignalingNaN(f32r(a)),
                    bsf::f64_isSignalingNaN(f64r(b)),
                )
            };
            (
                class(x.classify(), x.is_sign_negative(), snan_x) << 32
                    | class(y.classify(), y.is_sign_negative(), snan_y),
                0,
            )
        },
    );
}

/// Sign injection against the host's `copysign` (a bit operation on any value, NaNs included).
#[test]
fn sign_injection() {
    check(
        "sign_injection",
        NO_ROUNDING,
        |rng| {
            [
                S.operand(rng),
                S.operand(rng),
                D.operand(rng),
                D.operand(rng),
            ]
        },
        |[a, b, c, d], _| {
            let (a, b) = (a as u32, b as u32);
            let s = u64::from(sf::f32_sgnj(a, b)) | u64::from(sf::f32_sgnjn(a, b)) << 32;
            let t = sf::f64_sgnj(c, d)
                ^ sf::f64_sgnjn(c, d).rotate_left(17)
                ^ sf::f64_sgnjx(c, d).rotate_left(33);
            (s ^ t ^ u64::from(sf::f32_sgnjx(a, b)).rotate_left(7), 0)
        },
        |[a, b, c, d], _| {
            let (x, y) = (f32::from_bits(a as u32), f32::from_bits(b as u32));
            let (z, w) = (f64::from_bits(c), f64::from_bits(d));
            let neg32 = |v: f32| f32::from_bits(v.to_bits() ^ (1 << 31));
            let neg64 = |v: f64| f64::from_bits(v.to_bits() ^ (1 << 63));
            let s = u64::from(x.copysign(y).to_bits())
                | u64::from(x.copysign(neg32(y)).to_bits()) << 32;
            let xor64 = if w.is_sign_negative() { neg64(z) } else { z };
            let t = z.copysign(w).to_bits()
                ^ z.copysign(neg64(w)).to_bits().rotate_left(17)
                ^ xor64.to_bits().rotate_left(33);
            let xor32 = if y.is_sign_negative() { neg32(x) } else { x };
            (s ^ t ^ u64::from(xor32.to_bits()).rotate_left(7), 0)
        },
    );
}

/// NaN-boxing: valid boxes read back, anything else reads as the canonical NaN.
#[test]
fn nan_boxing() {
    check(
        "nan_boxing",
        NO_ROUNDING,
        |rng| {
            let v = rng.next();
            [if rng.chance(2) {
                v | 0xffff_ffff_0000_0000
            } else {
                v
            }]
        },
        |[v], _| {
            (
                u64::from(sf::unbox_f32(v)) | sf::box_f32(v as u32) ^ 0xffff_ffff_0000_0000,
                0,
            )
        },
        |[v], _| {
            let unboxed = if v >> 32 == 0xffff_ffff {
                v as u32
            } else {
                0x7fc0_0000
            };
            (u64::from(unboxed) | u64::from(v as u32), 0)
        },
    );
}
