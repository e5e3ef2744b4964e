//! Self-checking guest programs (tests/baremetal/isa/*.S), built with the riscv64 cross
//! compiler at test time and run on the hart; each reports pass or its failing case
//! through the SiFive test device.

mod common;

macro_rules! guest_tests {
    ($($name:ident => $file:literal $(, warm $warm:literal)?);* $(;)?) => {
        $(
            mod $name {
                use super::common;

                /// Tier 1 only.
                #[test]
                fn tier1() {
                    if !common::require_cross_cc() {
                        return;
                    }
                    let mut m = common::run_guest($file);
                    assert!(m.hart().stats.insns > 0);
                    assert_eq!(m.hart().stats.t2_executed, 0);
                }

                /// Every block compiled by tier 2 at its first execution.
                #[test]
                fn tier2() {
                    super::tier2_run($file, 1);
                }

                $(
                /// Blocks move to tier 2 after `$warm` executions: loops switch tiers midway.
                #[test]
                fn tier2_warm() {
                    super::tier2_run($file, $warm);
                }
                )?
            }
        )*
    };
}

/// Runs `file` with tier 2 at `threshold`: tier 2 must have compiled and run blocks, and
/// release them all when turned off.
fn tier2_run(file: &str, threshold: u32) {
    if !common::require_cross_cc() {
        return;
    }
    if !cfg!(target_arch = "x86_64") {
        eprintln!("SKIPPED: tier 2's userspace JIT is x86-64 only");
        return;
    }
    let mut m = common::run_guest_tier(file, Some(threshold));
    let st = m.hart().stats;
    assert!(st.t2_compiled > 0 && st.t2_executed > 0, "{file}: tier 2 did not run at threshold {threshold}: {st:?}");
    assert_eq!(m.disable_tier2(), 0, "{file}: programs left alive after tier 2 was turned off");
    let st = m.hart().stats;
    assert_eq!(st.t2_freed, st.t2_compiled, "{file}: every compiled block is released");
}

// `warm N`: the program has blocks that run N times or more (rv64m and smc run every
// block at most once: they have no warm case).
guest_tests! {
    rv64i => "rv64i.S", warm 3;
    rv64m => "rv64m.S";
    rv64a => "rv64a.S", warm 3;
    csr_trap => "csr_trap.S", warm 3;
    smc => "smc.S";
    fp => "fp.S", warm 3;
    vm => "vm.S", warm 3;
}

/// `tests/baremetal/isa/branchy.c` (the branchy benchmark) with a few rounds: the checksum it
/// prints through the UART must be the one its native build (`-DHOST`, the host's `gcc`)
/// prints, and the program itself checks it too (`-DEXPECT`), on each tier.
mod branchy {
    use super::common;
    use std::path::{Path, PathBuf};
    use std::process::Command;

    const ROUNDS: u32 = 30;

    /// The line the native build prints: "branchy N=<rounds> checksum=0x<hex>\n". Built
    /// and run once per test process (the tests run in parallel: a second build writing
    /// the same executable while the first runs it fails with ETXTBSY).
    fn native_line() -> String {
        static LINE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        LINE.get_or_init(build_and_run_native).clone()
    }

    fn build_and_run_native() -> String {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/baremetal/isa/branchy.c");
        let exe = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("branchy-host.{}", std::process::id()));
        let n = format!("-DN={ROUNDS}");
        let o = Command::new("gcc").args(["-O2", "-DHOST", &n, "-o"]).arg(&exe).arg(&src).output().expect("running gcc");
        assert!(o.status.success(), "native build of branchy.c failed:\n{}", String::from_utf8_lossy(&o.stderr));
        let o = Command::new(&exe).output().expect("running the native branchy");
        let _ = std::fs::remove_file(&exe);
        assert!(o.status.success(), "native branchy failed: {o:?}");
        String::from_utf8(o.stdout).unwrap()
    }

    /// Runs the RISC-V build (tier 2 at `threshold` if given) and checks its line and result.
    fn run(threshold: Option<u32>) -> common::Machine {
        let line = native_line();
        let sum = line.trim_end().rsplit("checksum=").next().unwrap().to_string();
        assert!(line.starts_with(&format!("branchy N={ROUNDS} checksum=0x")) && sum.len() == 10, "{line:?}");
        let elf = common::build_guest("branchy.c", &["-O2", &format!("-DN={ROUNDS}"), &format!("-DEXPECT={sum}")]);
        let mut m = common::Machine::new(8 << 20, 1 << 19);
        if let Some(t) = threshold {
            assert!(m.enable_tier2(t));
        }
        m.load_elf(&elf);
        let r = m.run_to_result(200_000_000);
        let console = String::from_utf8_lossy(&m.bus.console).into_owned();
        assert_eq!(console, line, "the RISC-V build's checksum differs from the native one");
        assert_eq!(r, Some(0x5555), "branchy: result {r:?}, console {console:?}");
        m
    }

    #[test]
    fn tier1() {
        if !common::require_cross_cc() {
            return;
        }
        let mut m = run(None);
        assert_eq!(m.hart().stats.t2_executed, 0);
    }

    /// At threshold 1 (every block compiled at once) and 64 (loops switch tiers midway).
    #[test]
    fn tier2() {
        if !common::require_cross_cc() {
            return;
        }
        if !cfg!(target_arch = "x86_64") {
            eprintln!("SKIPPED: tier 2's userspace JIT is x86-64 only");
            return;
        }
        for threshold in [1, 64] {
            let mut m = run(Some(threshold));
            let st = m.hart().stats;
            assert!(st.t2_compiled > 0 && st.t2_executed > 0, "tier 2 did not run at threshold {threshold}: {st:?}");
            if threshold > 1 {
                // Regions: a loop's blocks exist when its head turns hot, and run in one
                // program: many guest instructions per program entry (189 at N=30000;
                // blocks average 4).
                assert!(st.insns > 16 * st.t2_executed, "instructions per tier-2 entry at threshold {threshold}: {st:?}");
            }
            assert_eq!(m.disable_tier2(), 0, "programs left alive after tier 2 was turned off");
        }
    }
}
