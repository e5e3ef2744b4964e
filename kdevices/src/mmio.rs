//! The one interface every device model offers the bus: reads and writes of 1, 2, 4 or 8
//! bytes at an offset inside the device's region.
//!
//! Values travel as `u64`, little-endian, zero-extended on reads (the CPU sign-extends
//! where the instruction asks for it) and truncated to the access width on writes.
//! Offsets are checked by each device: reserved offsets read as zero and ignore writes
//! (as QEMU's models do); an access width the device's specification does not allow is
//! refused with [`MmioError::Width`], which the CPU turns into an access fault, as real
//! buses and QEMU do. No access panics.

use super::host::{ConsoleSink, MonotonicClock, WallClock};

/// Width of an MMIO access.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Width {
    /// 1 byte (`lb`/`sb`).
    B1,
    /// 2 bytes (`lh`/`sh`).
    B2,
    /// 4 bytes (`lw`/`sw`).
    B4,
    /// 8 bytes (`ld`/`sd`).
    B8,
}

impl Width {
    /// The width of an access of `bytes` bytes, if it is 1, 2, 4 or 8.
    pub const fn from_bytes(bytes: u64) -> Option<Self> {
        match bytes {
            1 => Some(Self::B1),
            2 => Some(Self::B2),
            4 => Some(Self::B4),
            8 => Some(Self::B8),
            _ => None,
        }
    }

    /// Number of bytes.
    pub const fn bytes(self) -> u64 {
        match self {
            Self::B1 => 1,
            Self::B2 => 2,
            Self::B4 => 4,
            Self::B8 => 8,
        }
    }

    /// Mask of the value bits an access of this width carries.
    pub const fn mask(self) -> u64 {
        match self {
            Self::B1 => 0xff,
            Self::B2 => 0xffff,
            Self::B4 => 0xffff_ffff,
            Self::B8 => u64::MAX,
        }
    }
}

/// Why an MMIO access failed; the CPU raises a load/store access fault for any of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MmioError {
    /// No device at this address (a hole in the memory map, or guest RAM).
    Unmapped,
    /// The address is not a multiple of the access width, or the access crosses the end
    /// of the device's region.
    Misaligned,
    /// The device does not accept accesses of this width.
    Width,
}

/// What a device may need from the host during one access. Devices that need nothing
/// ignore it; it is passed by the bus so that device state holds no host references.
pub struct Env<'a> {
    /// Monotonic time (CLINT's `mtime`).
    pub clock: &'a dyn MonotonicClock,
    /// Wall-clock time (the RTC).
    pub wall: &'a dyn WallClock,
    /// Console output (the UART's transmitter).
    pub console: &'a mut dyn ConsoleSink,
}

/// A memory-mapped device.
pub trait Mmio {
    /// Reads `width` bytes at `offset` inside the device's region. `offset` is a multiple
    /// of the width and the access lies inside the region (the bus checks both).
    fn read(&mut self, env: &mut Env<'_>, offset: u64, width: Width) -> Result<u64, MmioError>;
    /// Writes the low `width` bytes of `value` at `offset` (same guarantees as `read`).
    fn write(&mut self, env: &mut Env<'_>, offset: u64, width: Width, value: u64) -> Result<(), MmioError>;
}

/// The part of a 64-bit register that an access at byte `offset` inside it (0..8) sees.
pub(crate) const fn reg64_read(reg: u64, offset: u64, width: Width) -> u64 {
    (reg >> ((offset & 7) * 8)) & width.mask()
}

/// `reg` after an access of `width` at byte `offset` inside it (0..8) wrote `value`.
pub(crate) const fn reg64_write(reg: u64, offset: u64, width: Width, value: u64) -> u64 {
    let shift = (offset & 7) * 8;
    let mask = width.mask() << shift;
    (reg & !mask) | ((value << shift) & mask)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths() {
        assert_eq!(Width::from_bytes(4), Some(Width::B4));
        assert_eq!(Width::from_bytes(3), None);
        assert_eq!(Width::from_bytes(16), None);
        assert_eq!(Width::B2.mask(), 0xffff);
        assert_eq!(Width::B8.bytes(), 8);
    }

    #[test]
    fn halves_of_64bit_registers() {
        let r = 0x1122_3344_5566_7788;
        assert_eq!(reg64_read(r, 0, Width::B4), 0x5566_7788);
        assert_eq!(reg64_read(r, 4, Width::B4), 0x1122_3344);
        assert_eq!(reg64_read(r, 0, Width::B8), r);
        assert_eq!(reg64_read(r, 6, Width::B2), 0x1122);
        assert_eq!(reg64_write(r, 4, Width::B4, 0xdead_beef_0000_0001), 0x0000_0001_5566_7788);
        assert_eq!(reg64_write(r, 0, Width::B4, 0xffff_ffff), 0x1122_3344_ffff_ffff);
        assert_eq!(reg64_write(r, 0, Width::B8, 7), 7);
    }
}
