//! The `/dev/kemu` ioctl ABI (shared verbatim by kemu.ko and userspace).
//!
//! Ioctl numbers use the generic Linux encoding of `asm-generic/ioctl.h` (x86, arm64,
//! riscv...): `dir << 30 | size << 16 | type << 8 | nr`.
//!
//! Versioning: [`KEMU_ABI_MAJOR`] changes on any incompatible change; [`KEMU_ABI_MINOR`]
//! grows when ioctls or fields are added compatibly. Userspace must refuse to drive a
//! module whose major version differs from its own.

/// Major ABI version: bumped on incompatible changes.
pub const KEMU_ABI_MAJOR: u32 = 1;
/// Minor ABI version: bumped on compatible additions.
pub const KEMU_ABI_MINOR: u32 = 0;

/// Ioctl type ("magic") byte of `/dev/kemu`, unused by in-tree drivers.
pub const KEMU_IOC_MAGIC: u32 = 0xBE;

const IOC_NRBITS: u32 = 8;
const IOC_TYPEBITS: u32 = 8;
const IOC_SIZEBITS: u32 = 14;
const IOC_NRSHIFT: u32 = 0;
const IOC_TYPESHIFT: u32 = IOC_NRSHIFT + IOC_NRBITS;
const IOC_SIZESHIFT: u32 = IOC_TYPESHIFT + IOC_TYPEBITS;
const IOC_DIRSHIFT: u32 = IOC_SIZESHIFT + IOC_SIZEBITS;

/// Ioctl direction: no data.
pub const IOC_NONE: u32 = 0;
/// Ioctl direction: userspace writes, the kernel reads.
pub const IOC_WRITE: u32 = 1;
/// Ioctl direction: the kernel writes, userspace reads.
pub const IOC_READ: u32 = 2;

/// Builds an ioctl number like the C `_IOC(dir, type, nr, size)` macro.
///
/// `size` must fit in 14 bits; a larger one fails constant evaluation.
pub const fn ioc(dir: u32, ty: u32, nr: u32, size: usize) -> u32 {
    assert!(size < (1 << IOC_SIZEBITS), "ioctl argument too large");
    assert!(ty < (1 << IOC_TYPEBITS) && nr < (1 << IOC_NRBITS));
    #[allow(clippy::cast_possible_truncation)] // Checked just above.
    let size = size as u32;
    (dir << IOC_DIRSHIFT) | (size << IOC_SIZESHIFT) | (ty << IOC_TYPESHIFT) | (nr << IOC_NRSHIFT)
}

/// Extracts the argument size from an ioctl number (C `_IOC_SIZE`).
pub const fn ioc_size(cmd: u32) -> usize {
    ((cmd >> IOC_SIZESHIFT) & ((1 << IOC_SIZEBITS) - 1)) as usize
}

/// Extracts the type byte from an ioctl number (C `_IOC_TYPE`).
pub const fn ioc_type(cmd: u32) -> u32 {
    (cmd >> IOC_TYPESHIFT) & ((1 << IOC_TYPEBITS) - 1)
}

/// Reply of [`KEMU_GET_VERSION`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KemuVersion {
    /// The module's [`KEMU_ABI_MAJOR`].
    pub abi_major: u32,
    /// The module's [`KEMU_ABI_MINOR`].
    pub abi_minor: u32,
    /// Bitmap of `KEMU_FEATURE_*` flags the module implements.
    pub features: u64,
}

/// Every feature flag this ABI version defines. None is defined yet: each later ABI
/// addition (VM creation, disks, console...) gets a bit here when it lands.
pub const KEMU_FEATURES_ALL: u64 = 0;

/// `_IOR(KEMU_IOC_MAGIC, 0x00, struct kemu_version)`: the module's ABI version and
/// features. Valid on any open `/dev/kemu`.
pub const KEMU_GET_VERSION: u32 =
    ioc(IOC_READ, KEMU_IOC_MAGIC, 0x00, core::mem::size_of::<KemuVersion>());

/// Every ioctl of this ABI by its C name, for the C-header agreement test and tools.
pub const KEMU_IOCTLS: &[(&str, u32)] = &[("KEMU_GET_VERSION", KEMU_GET_VERSION)];
