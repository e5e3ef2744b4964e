//! What kemuctl's end-to-end tests share.

use std::process::Command;

/// The riscv64 cross compiler that builds the bare-metal test programs.
pub(crate) const CROSS_CC: &str = "riscv64-linux-gnu-gcc";

/// Whether `tool` (run with `arg`, e.g. `--version`) is installed. A missing tool fails
/// the calling test (tests/vm/setup-host.sh installs them all), unless KEMU_ALLOW_SKIP=1
/// (for a developer's quick loop; `.ci/run` never sets it) lets it pass as skipped.
pub(crate) fn require_tool(tool: &str, arg: &str) -> bool {
    if Command::new(tool).arg(arg).output().is_ok_and(|o| o.status.success()) {
        return true;
    }
    assert!(
        std::env::var_os("KEMU_ALLOW_SKIP").is_some_and(|v| v == "1"),
        "{tool} is not installed: run tests/vm/setup-host.sh (KEMU_ALLOW_SKIP=1 skips what needs it)"
    );
    eprintln!("SKIPPED (KEMU_ALLOW_SKIP=1): {tool} not installed");
    false
}
