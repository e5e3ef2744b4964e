//! kemu's device models (CLINT, PLIC, UART, RTC, SiFive test, virtio-mmio with
//! virtio-blk) for the RISC-V `virt` machine: `no_std`, allocation-free, behind small
//! traits for the host's backends ([`host`]).
//!
//! Where to start: [`machine::Machine`] holds one of each device at its [`memmap`] place
//! and is what the host drives (MMIO accesses, `mip` bits, events);
//! [`virtio_mmio`] explains how virtio request processing runs off the vCPU thread.
//!
//! This file only carries the crate attributes. The code lives in the module tree rooted
//! at `kdevices.rs`, which kemu.ko includes as `#[path = "../kdevices/src/kdevices.rs"]`:
//! inside it, paths are written with `super::`/`self::`, never `crate::`.

#![no_std]

#[path = "kdevices.rs"]
mod kdevices;

pub use kdevices::*;
