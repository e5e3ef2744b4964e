//! The machine options shared by `kemuctl run`, `start` and `plan`, and turning them
//! into a boot plan (reading files, finding the kernel in the image).

use std::path::{Path, PathBuf};

use clap::Args;

use crate::boot::{self, BootError, BootInputs, BootPlan};

/// Debian's OpenSBI build for the generic platform (package `opensbi`).
pub(crate) const DEFAULT_FIRMWARE: &str = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin";

/// How to build the guest machine.
#[derive(Args, Debug, Clone)]
pub(crate) struct MachineArgs {
    /// Raw disk image attached as virtio-blk; its /boot provides the kernel and initrd
    /// unless --kernel is given.
    pub(crate) image: Option<PathBuf>,
    /// Kernel Image (or, with --bios none, a bare-metal ELF program).
    #[arg(long)]
    pub(crate) kernel: Option<PathBuf>,
    /// Initial ramdisk.
    #[arg(long)]
    pub(crate) initrd: Option<PathBuf>,
    /// Kernel command line.
    #[arg(long, default_value = "console=ttyS0")]
    pub(crate) append: String,
    /// Guest RAM (a number of MiB, or with a K/M/G suffix).
    #[arg(long, default_value = "512M", value_parser = parse_size)]
    pub(crate) mem: u64,
    /// Firmware loaded at the start of RAM.
    #[arg(long, default_value = DEFAULT_FIRMWARE)]
    pub(crate) firmware: PathBuf,
    /// `none`: no firmware; the kernel is a bare-metal ELF entered in M-mode.
    #[arg(long, value_parser = ["none"])]
    pub(crate) bios: Option<String>,
    /// Attach the disk read-only.
    #[arg(long)]
    pub(crate) ro: bool,
}

/// Parses "512M", "1G", "65536K" or a plain number of MiB.
pub(crate) fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (num, shift) = match s.as_bytes().last() {
        Some(b'K' | b'k') => (&s[..s.len() - 1], 10),
        Some(b'M' | b'm') => (&s[..s.len() - 1], 20),
        Some(b'G' | b'g') => (&s[..s.len() - 1], 30),
        _ => (s, 20),
    };
    let n: u64 = num.parse().map_err(|_| format!("'{s}' is not a size (e.g. 512M, 2G)"))?;
    n.checked_mul(1 << shift).ok_or_else(|| format!("'{s}' is too large"))
}

fn read(path: &Path) -> Result<(String, Vec<u8>), BootError> {
    let name = path.display().to_string();
    std::fs::read(path).map(|d| (name.clone(), d)).map_err(|e| BootError::Io(name, e))
}

impl MachineArgs {
    /// Reads everything and lays the guest out.
    pub(crate) fn plan(&self) -> Result<BootPlan, BootError> {
        let bare = self.bios.is_some();
        if let Some(img) = &self.image {
            if !img.exists() {
                return Err(BootError::Io(img.display().to_string(), std::io::ErrorKind::NotFound.into()));
            }
        }
        let (kernel, mut initrd) = match (&self.kernel, &self.image) {
            (Some(k), _) => (read(k)?, None),
            (None, Some(img)) if !bare => {
                let found = boot::bootfs::find_kernel(img)?;
                (
                    (format!("{}:{}", img.display(), found.kernel_path), found.kernel),
                    found.initrd.map(|(p, d)| (format!("{}:{p}", img.display()), d)),
                )
            }
            _ => {
                return Err(BootError::KernelNotFound(
                    "no kernel: give a disk image with a kernel in /boot, or --kernel".into(),
                ))
            }
        };
        if let Some(i) = &self.initrd {
            initrd = Some(read(i)?);
        }
        let firmware = if bare { None } else { Some(read(&self.firmware)?) };
        boot::plan(&BootInputs { ram_size: self.mem, firmware, kernel, initrd, bootargs: self.append.clone() })
    }
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("512M"), Ok(512 << 20));
        assert_eq!(parse_size("2G"), Ok(2 << 30));
        assert_eq!(parse_size("1024"), Ok(1 << 30));
        assert_eq!(parse_size("64k"), Ok(64 << 10));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("99999999999999G").is_err());
    }
}
