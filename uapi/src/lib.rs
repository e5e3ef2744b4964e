//! kemu's userspace ABI: ioctl numbers and `#[repr(C)]` structures of `/dev/kemu`.
//!
//! The definitions live in [`abi`]'s file, which kemu.ko also includes with
//! `#[path = "../uapi/src/abi.rs"]`, so the module and `kemuctl` cannot disagree.
//! `uapi/kemu.h` is the same ABI for C users; a test checks that both agree.

#![no_std]

#[path = "abi.rs"]
pub mod abi;

pub use abi::*;
