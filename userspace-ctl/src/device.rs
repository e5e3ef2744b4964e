//! The `/dev/kemu` device: opening it with clear errors, and its ioctls.

use std::fmt;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use rustix::fs::{open, Mode, OFlags};
use rustix::io::Errno;
use rustix::ioctl::{ioctl, Getter};

use uapi::KemuVersion;

/// Everything that can go wrong talking to kemu.ko, each rendered as one clear line.
#[derive(Debug)]
pub(crate) enum Error {
    /// The device node does not exist.
    NotLoaded(PathBuf),
    /// The device node exists but no driver is behind it.
    NoDriver(PathBuf),
    /// The caller may not open the device.
    PermissionDenied(PathBuf),
    /// The module speaks an incompatible ABI.
    AbiMismatch {
        /// The module's ABI major version.
        module: u32,
    },
    /// Any other system error.
    Sys {
        /// What was being done.
        what: String,
        /// The error.
        errno: Errno,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotLoaded(p) => write!(f, "{} not found: load the module with insmod kemu.ko", p.display()),
            Error::NoDriver(p) => {
                write!(f, "{} exists but no driver answers: load the module with insmod kemu.ko", p.display())
            }
            Error::PermissionDenied(p) => {
                write!(f, "{}: permission denied (kemu needs root or access to the device)", p.display())
            }
            Error::AbiMismatch { module } => write!(
                f,
                "ABI mismatch: kemu.ko speaks ABI {module}.x, this kemuctl speaks {}.x (use matching builds)",
                uapi::KEMU_ABI_MAJOR
            ),
            Error::Sys { what, errno } => write!(f, "{what}: {errno}"),
        }
    }
}

impl std::error::Error for Error {}

/// An open `/dev/kemu`.
pub(crate) struct Device {
    fd: OwnedFd,
}

impl Device {
    /// Opens the device node at `path`.
    pub(crate) fn open(path: &Path) -> Result<Self, Error> {
        match open(path, OFlags::RDWR | OFlags::CLOEXEC, Mode::empty()) {
            Ok(fd) => Ok(Self { fd }),
            Err(Errno::NOENT) => Err(Error::NotLoaded(path.into())),
            Err(Errno::NXIO | Errno::NODEV) => Err(Error::NoDriver(path.into())),
            Err(Errno::ACCESS | Errno::PERM) => Err(Error::PermissionDenied(path.into())),
            Err(errno) => Err(Error::Sys { what: format!("opening {}", path.display()), errno }),
        }
    }

    /// `KEMU_GET_VERSION`.
    pub(crate) fn version(&self) -> Result<KemuVersion, Error> {
        // SAFETY: KEMU_GET_VERSION is an _IOR ioctl whose argument is a `struct
        // kemu_version`, which `KemuVersion` is (repr(C), same layout, checked against
        // kemu.h by the uapi tests); `Getter` passes a pointer to one of those.
        unsafe { ioctl(&self.fd, Getter::<{ uapi::KEMU_GET_VERSION as rustix::ioctl::Opcode }, KemuVersion>::new()) }
            .map_err(|errno| Error::Sys { what: "KEMU_GET_VERSION".into(), errno })
    }

    /// `KEMU_GET_VERSION`, refusing a module of another ABI major version.
    pub(crate) fn checked_version(&self) -> Result<KemuVersion, Error> {
        let v = self.version()?;
        if v.abi_major != uapi::KEMU_ABI_MAJOR {
            return Err(Error::AbiMismatch { module: v.abi_major });
        }
        Ok(v)
    }
}

/// Renders a `KEMU_FEATURE_*` bitmap for people.
pub(crate) fn features_string(features: u64) -> String {
    if features == 0 {
        return "none".into();
    }
    let names: Vec<String> = (0..64)
        .filter(|b| features & (1 << b) != 0)
        .map(|b| match 1u64 << b {
            uapi::KEMU_FEATURE_VM => "vm".to_string(),
            _ => format!("bit{b}"),
        })
        .collect();
    names.join(",")
}
