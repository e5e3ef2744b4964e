//! The `/dev/kemu` device: opening it with clear errors, and its ioctls.

use std::fmt;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{fcntl_getfl, open, Mode, OFlags};
use rustix::io::Errno;
use rustix::ioctl::{ioctl, Getter};

use uapi::{KemuDisk, KemuStart, KemuStatus, KemuVersion, KemuVmConfig};

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
    /// A message already phrased for the user.
    Message(String),
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
            Error::Message(m) => f.write_str(m),
            Error::Sys { what, errno } => write!(f, "{what}: {errno}"),
        }
    }
}

impl std::error::Error for Error {}

/// The clear form of a `KEMU_ATTACH_DISK` error for the disk `image`, open as `file`.
fn attach_error(image: &Path, file: BorrowedFd<'_>, e: Error) -> Error {
    match e {
        Error::Sys { errno: Errno::BADF, .. } => {
            Error::Message(format!("{}: not open for writing: attach it with --ro, or fix its permissions", image.display()))
        }
        // EINVAL is also kemu.ko's answer to an O_APPEND descriptor: tell which it was.
        Error::Sys { errno: Errno::INVAL, .. } if fcntl_getfl(file).is_ok_and(|f| f.contains(OFlags::APPEND)) => {
            Error::Message(format!(
                "{}: open with O_APPEND, which kemu.ko refuses for disks (writes would go to the end of the file)",
                image.display()
            ))
        }
        Error::Sys { errno: Errno::INVAL, .. } => {
            Error::Message(format!("{}: kemu.ko takes regular files and block devices as disks", image.display()))
        }
        e => e,
    }
}

/// A `KemuStatus` from the first bytes of `b` (at most its size; the rest zero).
fn status_from_bytes(b: &[u8]) -> KemuStatus {
    let mut st = KemuStatus::default();
    let n = b.len().min(std::mem::size_of::<KemuStatus>());
    // SAFETY: `KemuStatus` is repr(C) integers without padding (any bytes are a valid
    // value), and at most its size is copied from a distinct buffer.
    unsafe { std::ptr::copy_nonoverlapping(b.as_ptr(), std::ptr::from_mut(&mut st).cast::<u8>(), n) };
    st
}

/// An open `/dev/kemu`.
pub(crate) struct Device {
    fd: OwnedFd,
    /// The module's ABI minor version, asked once: argument sizes follow it (uapi's
    /// "Extensible structs").
    minor: std::sync::OnceLock<u32>,
}

impl Device {
    /// Opens the device node at `path`.
    pub(crate) fn open(path: &Path) -> Result<Self, Error> {
        match open(path, OFlags::RDWR | OFlags::CLOEXEC, Mode::empty()) {
            Ok(fd) => Ok(Self { fd, minor: std::sync::OnceLock::new() }),
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

    /// The module's ABI minor version (0 if it does not answer `KEMU_GET_VERSION`).
    fn minor(&self) -> u32 {
        *self.minor.get_or_init(|| self.version().map_or(0, |v| v.abi_minor))
    }

    /// Issues `cmd` with a pointer argument; the ioctl's non-negative result.
    fn ioctl_ptr<T>(&self, name: &str, cmd: u32, arg: *const T) -> Result<i32, Error> {
        // SAFETY: every caller passes the pointer to a live value of the type that the
        // ioctl number `cmd` encodes (uapi's repr(C) structs, checked against kemu.h), or
        // null for argument-less ioctls.
        let r = unsafe { libc::ioctl(self.fd.as_raw_fd(), libc::c_ulong::from(cmd), arg) };
        if r < 0 {
            Err(Error::Sys { what: name.into(), errno: Errno::from_raw_os_error(std::io::Error::last_os_error().raw_os_error().unwrap_or(0)) })
        } else {
            Ok(r)
        }
    }

    /// `KEMU_CREATE_VM`: returns the VM id.
    pub(crate) fn create_vm(&self, cfg: &KemuVmConfig) -> Result<u32, Error> {
        let id = self.ioctl_ptr("KEMU_CREATE_VM", uapi::KEMU_CREATE_VM, cfg).map_err(|e| match e {
            Error::Sys { errno: Errno::NOMEM, .. } => Error::Message(format!(
                "not enough memory for {} MiB of guest RAM (kemu.ko gives one VM at most half of the host's RAM): use --mem",
                cfg.ram_size >> 20
            )),
            Error::Sys { errno: Errno::INVAL, .. } => Error::Message(format!(
                "kemu.ko refuses {} MiB of guest RAM (it takes {}..{} MiB in steps of {} MiB)",
                cfg.ram_size >> 20,
                uapi::KEMU_RAM_MIN >> 20,
                uapi::KEMU_RAM_MAX >> 20,
                uapi::KEMU_RAM_ALIGN >> 20
            )),
            e => e,
        })?;
        Ok(u32::try_from(id).unwrap_or(0))
    }

    /// `KEMU_LOAD`.
    pub(crate) fn load(&self, what: &str, guest_addr: u64, data: &[u8]) -> Result<(), Error> {
        let req = uapi::KemuLoad { guest_addr, user_addr: data.as_ptr() as u64, size: data.len() as u64, flags: 0 };
        self.ioctl_ptr(&format!("loading the {what} at {guest_addr:#x}"), uapi::KEMU_LOAD, &req).map(drop)
    }

    /// `KEMU_ATTACH_DISK` of `file` (whose descriptor `disk.fd` is); `image` names the file
    /// in errors.
    pub(crate) fn attach_disk(&self, image: &Path, file: BorrowedFd<'_>, disk: &KemuDisk) -> Result<(), Error> {
        self.ioctl_ptr("KEMU_ATTACH_DISK", uapi::KEMU_ATTACH_DISK, disk).map(drop).map_err(|e| attach_error(image, file, e))
    }

    /// `KEMU_START`, with the struct size the module's ABI takes (HTIF needs ABI 1.6).
    pub(crate) fn start(&self, start: &KemuStart) -> Result<(), Error> {
        let size = uapi::start_size(self.minor());
        if size < std::mem::size_of::<KemuStart>() && (start.tohost != 0 || start.fromhost != 0) {
            return Err(Error::Message(
                "this program reports through HTIF (tohost), which kemu.ko before ABI 1.6 does not serve: load a newer kemu.ko".into(),
            ));
        }
        self.ioctl_ptr("KEMU_START", uapi::ioc_with_size(uapi::KEMU_START, size), start).map(drop)
    }

    /// `KEMU_STOP`.
    pub(crate) fn stop(&self) -> Result<(), Error> {
        self.ioctl_ptr("KEMU_STOP", uapi::KEMU_STOP, std::ptr::null::<u8>()).map(drop)
    }

    /// `KEMU_STATUS`, in the size the module's ABI writes (fields it lacks stay 0).
    pub(crate) fn status(&self) -> Result<KemuStatus, Error> {
        let mut st = KemuStatus::default();
        let cmd = uapi::ioc_with_size(uapi::KEMU_STATUS, uapi::status_size(self.minor()));
        // The kernel writes at most `size_of::<KemuStatus>()` bytes through this pointer.
        self.ioctl_ptr("KEMU_STATUS", cmd, std::ptr::from_mut(&mut st)).map(|_| st)
    }

    /// `KEMU_DETACH`: returns the VM id.
    pub(crate) fn detach(&self) -> Result<u32, Error> {
        let id = self.ioctl_ptr("KEMU_DETACH", uapi::KEMU_DETACH, std::ptr::null::<u8>())?;
        Ok(u32::try_from(id).unwrap_or(0))
    }

    /// `KEMU_LIST_VMS`: the status of every VM. Entries are as big as the module's
    /// `KemuStatus` (ABI 1.6: as big as ours, by `entry_size`); fields a module lacks
    /// stay 0.
    pub(crate) fn list_vms(&self) -> Result<Vec<KemuStatus>, Error> {
        let minor = self.minor();
        let (entry, entry_size) = if minor >= 6 {
            (std::mem::size_of::<KemuStatus>(), std::mem::size_of::<KemuStatus>() as u32)
        } else {
            (uapi::status_size(minor), 0)
        };
        let mut capacity = 8usize;
        loop {
            let mut buf = vec![0u8; capacity * entry];
            let req = uapi::KemuVmList {
                statuses: buf.as_mut_ptr() as u64,
                capacity: u32::try_from(capacity).unwrap_or(u32::MAX),
                entry_size,
            };
            let n = usize::try_from(self.ioctl_ptr("KEMU_LIST_VMS", uapi::KEMU_LIST_VMS, &req)?).unwrap_or(0);
            if n <= capacity {
                return Ok(buf.chunks_exact(entry).take(n).map(status_from_bytes).collect());
            }
            capacity = n + 4;
        }
    }

    /// `KEMU_ATTACH_VM`: this file becomes a window on the detached VM `id`.
    pub(crate) fn attach_vm(&self, id: u32) -> Result<(), Error> {
        self.ioctl_ptr("KEMU_ATTACH_VM", uapi::KEMU_ATTACH_VM, &id).map(drop).map_err(|e| match e {
            Error::Sys { errno: Errno::NOENT, .. } => Error::Message(format!("no VM {id} (kemuctl status lists them)")),
            Error::Sys { errno: Errno::BUSY, .. } => {
                Error::Message(format!("VM {id} belongs to the kemuctl that started it (not detached)"))
            }
            e => e,
        })
    }

    /// The VM file, for console reads and writes.
    pub(crate) fn file(&self) -> &OwnedFd {
        &self.fd
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
            uapi::KEMU_FEATURE_DISK => "disk".to_string(),
            uapi::KEMU_FEATURE_DETACH => "detach".to_string(),
            uapi::KEMU_FEATURE_TIER2 => "tier2".to_string(),
            _ => format!("bit{b}"),
        })
        .collect();
    names.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn attach_einval_names_o_append() {
        let path = std::env::temp_dir().join(format!("kemuctl-append-{}.img", std::process::id()));
        std::fs::write(&path, [0u8; 512]).unwrap();
        let plain = std::fs::OpenOptions::new().read(true).write(true).open(&path).unwrap();
        let append = std::fs::OpenOptions::new().read(true).append(true).open(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        let einval = || Error::Sys { what: "KEMU_ATTACH_DISK".into(), errno: Errno::INVAL };
        let msg = attach_error(Path::new("d.img"), append.as_fd(), einval()).to_string();
        assert_eq!(msg, "d.img: open with O_APPEND, which kemu.ko refuses for disks (writes would go to the end of the file)");
        assert!(!msg.contains('\n'));
        let msg = attach_error(Path::new("d.img"), plain.as_fd(), einval()).to_string();
        assert_eq!(msg, "d.img: kemu.ko takes regular files and block devices as disks");
    }
}
