//! kemu's guest CPU: a `no_std`, allocation-free RISC-V RV64GC translator.
//!
//! This file only carries the crate attributes. The code lives in [`ktranslator`]'s
//! module tree, which kemu.ko includes as `#[path = "../ktranslator/src/ktranslator.rs"]`:
//! inside it, paths are written with `super::`/`self::`, never `crate::`.

#![no_std]

#[path = "ktranslator.rs"]
mod ktranslator;

pub use ktranslator::*;
