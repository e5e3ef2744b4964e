//! Self-checking guest programs (tests/guest/*.S), built with the riscv64 cross
//! compiler at test time and run on the hart; each reports pass or its failing case
//! through the SiFive test device.

mod common;

macro_rules! guest_tests {
    ($($name:ident => $file:literal),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                if !common::have_cross_cc() {
                    eprintln!("SKIPPED: {} not installed", common::CROSS_CC);
                    return;
                }
                let mut m = common::run_guest($file);
                assert!(m.hart().stats.insns > 0);
            }
        )*
    };
}

guest_tests! {
    rv64i => "rv64i.S",
    rv64m => "rv64m.S",
    rv64a => "rv64a.S",
    csr_trap => "csr_trap.S",
    smc => "smc.S",
    fp => "fp.S",
    vm => "vm.S",
}
