//! Includes the machine loop's module tree by `#[path]`, as kemu.ko does, next to the two
//! module trees it builds on: any `crate::` path inside it would fail to compile here, as
//! would a path that assumes the `kvmm` crate's own root.

// ktranslator's tree tests its own cargo features, which this crate does not declare.
#![allow(unexpected_cfgs)]

#[allow(dead_code, unreachable_pub, missing_docs)]
#[path = "../../kdevices/src/kdevices.rs"]
mod kdevices;

#[allow(dead_code, unreachable_pub, missing_docs)]
#[path = "../../ktranslator/src/ktranslator.rs"]
mod ktranslator;

#[allow(dead_code, unreachable_pub, missing_docs)]
#[path = "../src/kvmm.rs"]
mod kvmm;

#[test]
fn module_tree_compiles_when_included_by_path() {
    let mut log = kvmm::ranges::RangeLog::new();
    log.push(kdevices::memmap::RAM_BASE, 8);
    assert_eq!(log.iter().next(), Some((kdevices::memmap::RAM_BASE, 8)));
    assert_eq!(kvmm::SLOTS, 8);
}
