//! kemu's machine loop: the vCPU thread's slices, WFI sleeps and interrupt lines, the
//! DMA worker's queue service, the console rings and the HTIF port, written once for
//! both hosts (kemu.ko's kthreads and `kemuctl run`'s threads) over a small host trait.
//!
//! This file only carries the crate attributes. The code lives in the module tree rooted
//! at `kvmm.rs`, which kemu.ko includes as `#[path = "../kvmm/src/kvmm.rs"]`: inside it,
//! paths are written with `super::`, and the two crates it builds on are reached as
//! `super::super::kdevices` and `super::super::ktranslator` (the crate root here, kemu.ko's
//! root there).

#![no_std]

pub use kdevices;
pub use ktranslator;

#[path = "kvmm.rs"]
mod kvmm;

pub use kvmm::*;
