//! Module root of the translator (shared by the `ktranslator` crate and kemu.ko).

pub mod isa;
pub mod softfloat;
