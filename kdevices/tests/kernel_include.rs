//! Includes the device module tree by `#[path]`, as kemu.ko does, into another crate:
//! any `crate::` path inside it would fail to compile here.

// Only part of the tree is used here: unused items are expected.
#[allow(dead_code, unreachable_pub)]
#[path = "../src/kdevices.rs"]
mod kdevices;

#[test]
fn module_tree_compiles_when_included_by_path() {
    assert!(kdevices::memmap::lookup(kdevices::memmap::RAM_BASE).is_some());
}
