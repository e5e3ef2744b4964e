//! kemu's device models (CLINT, PLIC, UART, virtio-mmio...) for the RISC-V `virt`
//! machine: `no_std`, allocation-free, behind small traits for the host's backends.
//!
//! This file only carries the crate attributes. The code lives in [`kdevices`]'s module
//! tree, which kemu.ko includes as `#[path = "../kdevices/src/kdevices.rs"]`: inside it,
//! paths are written with `super::`/`self::`, never `crate::`.

#![no_std]

#[path = "kdevices.rs"]
mod kdevices;

pub use kdevices::*;
