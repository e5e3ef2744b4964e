//! Throughput of the soft-float hot paths, next to Berkeley SoftFloat for scale.
//!
//! Ignored by default; run in a release build:
//! `cargo test --release -p ktranslator --test softfloat_bench -- --ignored --nocapture`

use ktranslator::softfloat::{self as sf, RoundingMode};
use softfloat_rs as bsf;
use std::hint::black_box;
use std::time::Instant;

/// Calls into the reference library.
macro_rules! ffi {
    ($e:expr) => {{
        // SAFETY: the reference functions take and return plain values and touch only
        // the library's own thread-local state.
        unsafe { $e }
    }};
}

const N: usize = 4096;
const ROUNDS: usize = 100;
const REPEAT: usize = 9;

/// Random normal doubles in [2^-20, 2^20) and [2^-20, 2^20) singles (xorshift64).
fn operands() -> (Vec<u64>, Vec<u32>) {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let d = (0..N)
        .map(|_| {
            let r = next();
            (r & 0x800f_ffff_ffff_ffff) | ((1023 - 20 + (r >> 52) % 40) << 52)
        })
        .collect();
    let s = (0..N)
        .map(|_| {
            let r = next();
            ((r as u32) & 0x807f_ffff) | ((127 - 20 + ((r >> 40) % 40) as u32) << 23)
        })
        .collect();
    (d, s)
}

/// Nanoseconds per call of `f` over the operand arrays (independent calls: throughput).
fn time<T: Copy>(name: &str, ops: &[T], f: impl Fn(T, T, T) -> u64) {
    // The best of several runs: the machine may be shared.
    let mut best = u64::MAX;
    for _ in 0..REPEAT {
        let start = Instant::now();
        let mut acc = 0u64;
        for _ in 0..ROUNDS {
            for i in 0..N {
                acc ^= f(black_box(ops[i]), ops[(i + 1) % N], ops[(i + 7) % N]);
            }
        }
        best = best.min(start.elapsed().as_nanos() as u64);
        black_box(acc);
    }
    let ns = best * 100 / (ROUNDS * N) as u64;
    println!("{name:<28} {}.{:02} ns/op", ns / 100, ns % 100);
}

fn set_reference_mode() {
    ffi!(bsf::softfloat_roundingMode_write_helper(
        RoundingMode::Rne.bits()
    ));
}

fn d(v: u64) -> bsf::float64_t {
    bsf::float64_t { v }
}

fn s(v: u32) -> bsf::float32_t {
    bsf::float32_t { v }
}

#[test]
#[ignore = "benchmark: run explicitly in a release build"]
fn throughput() {
    let (dv, sv) = operands();
    let rm = RoundingMode::Rne;
    set_reference_mode();

    time("f64 add", &dv, |a, b, _| sf::f64_add(a, b, rm, &mut 0));
    time("f64 mul", &dv, |a, b, _| sf::f64_mul(a, b, rm, &mut 0));
    time("f64 div", &dv, |a, b, _| sf::f64_div(a, b, rm, &mut 0));
    time("f64 sqrt", &dv, |a, _, _| {
        sf::f64_sqrt(a & !(1 << 63), rm, &mut 0)
    });
    time("f64 fmadd", &dv, |a, b, c| {
        sf::f64_madd(a, b, c, rm, &mut 0)
    });
    time("f64 fcvt.l.d", &dv, |a, _, _| {
        sf::f64_to_i64(a, rm, &mut 0) as u64
    });
    time("f64 fcvt.d.l", &dv, |a, _, _| {
        sf::i64_to_f64(a as i64, rm, &mut 0)
    });
    time("f64 flt", &dv, |a, b, _| {
        u64::from(sf::f64_lt(a, b, &mut 0))
    });
    time("f32 add", &sv, |a, b, _| {
        sf::f32_add(a, b, rm, &mut 0).into()
    });
    time("f32 mul", &sv, |a, b, _| {
        sf::f32_mul(a, b, rm, &mut 0).into()
    });
    time("f32 div", &sv, |a, b, _| {
        sf::f32_div(a, b, rm, &mut 0).into()
    });
    time("f32 sqrt", &sv, |a, _, _| {
        sf::f32_sqrt(a & !(1 << 31), rm, &mut 0).into()
    });
    time("f32 fmadd", &sv, |a, b, c| {
        sf::f32_madd(a, b, c, rm, &mut 0).into()
    });

    time("reference f64 add", &dv, |a, b, _| {
        ffi!(bsf::f64_add(d(a), d(b))).v
    });
    time("reference f64 mul", &dv, |a, b, _| {
        ffi!(bsf::f64_mul(d(a), d(b))).v
    });
    time("reference f64 div", &dv, |a, b, _| {
        ffi!(bsf::f64_div(d(a), d(b))).v
    });
    time("reference f64 sqrt", &dv, |a, _, _| {
        ffi!(bsf::f64_sqrt(d(a & !(1 << 63)))).v
    });
    time("reference f64 fmadd", &dv, |a, b, c| {
        ffi!(bsf::f64_mulAdd(d(a), d(b), d(c))).v
    });
    time("reference f32 div", &sv, |a, b, _| {
        ffi!(bsf::f32_div(s(a), s(b))).v.into()
    });
    time("reference f32 sqrt", &sv, |a, _, _| {
        ffi!(bsf::f32_sqrt(s(a & !(1 << 31)))).v.into()
    });
}

/// Nanoseconds per call of `f` when each call takes the previous result (a dependent
/// chain: latency, which bounds numeric code such as the `float` workload's n-body,
/// where most operations wait for the one before). `f(x, operand)` must keep `x` normal.
fn latency(name: &str, ops: &[u64], f: impl Fn(u64, u64) -> u64) {
    let mut best = u64::MAX;
    for _ in 0..REPEAT {
        let start = Instant::now();
        let mut x = 0x3ff0_0000_0000_0000u64;
        for _ in 0..ROUNDS {
            for &op in ops {
                x = f(x, black_box(op));
            }
        }
        best = best.min(start.elapsed().as_nanos() as u64);
        black_box(x);
    }
    let ns = best * 100 / (ROUNDS * ops.len()) as u64;
    println!("{name:<28} {}.{:02} ns/op (dependent)", ns / 100, ns % 100);
}

#[test]
#[ignore = "benchmark: run explicitly in a release build"]
fn dependent_chains() {
    let (dv, _) = operands();
    let rm = RoundingMode::Rne;
    // The exponent of x is put back to [1, 2) after each step (two ALU operations, the
    // same for every row), so that the chain never leaves the normal range.
    let renorm = |x: u64| (x & 0x800f_ffff_ffff_ffff) | 0x3ff0_0000_0000_0000;
    latency("f64 add", &dv, |x, b| renorm(sf::f64_add(x, b, rm, &mut 0)));
    latency("f64 sub", &dv, |x, b| renorm(sf::f64_sub(x, b, rm, &mut 0)));
    latency("f64 mul", &dv, |x, b| renorm(sf::f64_mul(x, b, rm, &mut 0)));
    latency("f64 div", &dv, |x, b| renorm(sf::f64_div(x, b, rm, &mut 0)));
    latency("f64 sqrt", &dv, |x, _| renorm(sf::f64_sqrt(x & !(1 << 63), rm, &mut 0)));
    latency("renormalising alone", &dv, |x, b| renorm(x ^ (b & 1)));
}
