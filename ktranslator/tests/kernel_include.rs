//! kemu.ko includes the translator with `#[path]` as a module of its own crate, where
//! `crate::` means the kernel module. This test includes the module tree the same way
//! into a different crate, so a `crate::` path (or anything else that only resolves in
//! the standalone library) fails to compile here.

// Only part of the tree is used here: unused items are expected.
#[allow(dead_code, unreachable_pub)]
#[path = "../src/ktranslator.rs"]
mod ktranslator;

#[test]
fn module_tree_compiles_when_included_by_path() {
    assert_eq!(ktranslator::isa::misa() >> 62, ktranslator::isa::MXL_64);
}
