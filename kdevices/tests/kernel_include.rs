//! Includes the device module tree by `#[path]`, as kemu.ko does, into another crate:
//! any `crate::` path inside it would fail to compile here. (Its unit tests build and run
//! here a second time, which also checks them in the included form.)

// Only part of the tree is used here: unused items are expected.
#[allow(dead_code, unreachable_pub)]
#[path = "../src/kdevices.rs"]
mod kdevices;

#[test]
fn module_tree_compiles_when_included_by_path() {
    assert!(kdevices::memmap::lookup(kdevices::memmap::RAM_BASE).is_some());
    let m = kdevices::machine::Machine::new(0);
    assert_eq!(m.mip(0, 0), 0);
}
