//! Benchmark (not a timed test): MIPS of the hart on a CPU-bound guest program, the
//! pi spigot of `tests/baremetal/isa/pi.c` built with the cross compiler at -O2. Run with
//! `cargo test -p ktranslator --release --test bench -- --ignored --nocapture`;
//! `KEMU_PI_DIGITS` sets the number of digits (default 2000); `KEMU_TIER2=N` turns tier
//! 2 on with threshold N. The same ELF (printed path) runs on `qemu-system-riscv64 -M
//! virt -bios none -kernel <elf> -nographic`.

mod common;

use std::time::Instant;

#[test]
#[ignore]
fn pi_mips() {
    if !common::require_cross_cc() {
        return;
    }
    let digits: u32 = std::env::var("KEMU_PI_DIGITS").ok().and_then(|s| s.parse().ok()).unwrap_or(2000);
    let elf = common::build_guest("pi.c", &["-O2", &format!("-DN={digits}")]);
    let elf_path = format!("{}/guest/pi.c.elf", env!("CARGO_TARGET_TMPDIR"));
    std::fs::write(&elf_path, &elf).unwrap();
    let mut m = common::Machine::new(16 << 20, 2 << 20);
    if let Some(t) = std::env::var("KEMU_TIER2").ok().and_then(|s| s.parse().ok()) {
        assert!(m.enable_tier2(t), "tier 2 is not available here");
    }
    m.load_elf(&elf);
    let t = Instant::now();
    let r = m.run_to_result(u64::MAX);
    let secs = t.elapsed().as_secs_f64();
    assert_eq!(r, Some(0x5555), "pi program failed");
    let s = m.hart().stats;
    eprintln!(
        "pi {digits} digits: {} instructions in {:.3} s = {:.0} MIPS (TBs {}, executed {}, chained {}, TLB misses {}, tier 2: {} compiled, {} executed)",
        s.insns,
        secs,
        s.insns as f64 / secs / 1e6,
        s.tbs_translated,
        s.tbs_executed,
        s.chained,
        s.tlb_misses,
        s.t2_compiled,
        s.t2_executed
    );
    eprintln!("ELF: {elf_path}");
}

#[test]
fn pi_small_is_correct() {
    if !common::require_cross_cc() {
        return;
    }
    let elf = common::build_guest("pi.c", &["-O2", "-DN=60"]);
    let mut m = common::Machine::new(16 << 20, 1 << 18);
    m.load_elf(&elf);
    assert_eq!(m.run_to_result(100_000_000), Some(0x5555));
}
