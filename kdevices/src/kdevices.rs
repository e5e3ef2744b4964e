//! Module root of the device models (shared by the `kdevices` crate and kemu.ko).

pub mod memmap;
