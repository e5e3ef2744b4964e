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
