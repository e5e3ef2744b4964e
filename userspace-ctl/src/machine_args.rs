//! The machine options shared by `kemuctl run`, `start` and `plan`, and turning them
//! into a boot plan (reading files, finding the kernel in the image).

use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};

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
    /// Attach the disk image read-only.
    #[arg(long)]
    pub(crate) ro: bool,
    /// Write-through for the disk image: every guest write reaches the disk (fsync)
    /// before the guest sees it complete (default: writeback, where a guest FLUSH
    /// fsyncs).
    #[arg(long)]
    pub(crate) writethrough: bool,
    /// One more disk (repeatable), attached in virtio slots 1, 2, ... in the order
    /// given (the image is slot 0, the guest's /dev/vda): a raw image file or block
    /// device, with `,ro` for read-only and `,writethrough` for write-through.
    #[arg(long = "disk", value_name = "PATH[,ro][,writethrough]", value_parser = parse_disk_spec)]
    pub(crate) disks: Vec<DiskSpec>,
    /// Execution tier: `1` runs translated blocks as threaded micro-ops only; `2` also
    /// compiles hot blocks to native code through eBPF (the kernel's BPF JIT in kemu.ko,
    /// kemuctl's own eBPF JIT for `run`; x86-64 hosts); `auto` is 2 where available.
    #[arg(long, value_enum, default_value = "auto")]
    pub(crate) tier: Tier,
    /// With tier 2: how many times tier 1 runs a block before it is compiled (default:
    /// 4096 in kemu.ko, whose BPF JIT is slower to compile, 512 in `run`; 1 compiles
    /// every block at its first execution, as the tier-2 tests do).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) tier2_threshold: Option<u32>,
}

/// `--tier`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Tier {
    /// Tier 2 where available, else tier 1.
    Auto,
    /// Tier 1 only.
    #[value(name = "1")]
    One,
    /// Tier 2 (an error where unavailable).
    #[value(name = "2")]
    Two,
}

impl Tier {
    /// Whether to run tier 2, given whether it is `available`; an error when it was
    /// asked for and is not.
    pub(crate) fn resolve(self, available: bool, why_not: &str) -> Result<bool, String> {
        match self {
            Tier::One => Ok(false),
            Tier::Auto => Ok(available),
            Tier::Two if available => Ok(true),
            Tier::Two => Err(format!("--tier 2: {why_not}")),
        }
    }
}

/// One disk of the machine: a file or block device, and how it is attached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DiskSpec {
    /// The image file or block device.
    pub(crate) path: PathBuf,
    /// The guest sees a read-only disk.
    pub(crate) read_only: bool,
    /// Every write is made durable before it completes.
    pub(crate) writethrough: bool,
}

/// A disk and the virtio slot it goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SlotDisk {
    /// virtio-mmio slot (0 is the image).
    pub(crate) slot: usize,
    /// The disk.
    pub(crate) spec: DiskSpec,
}

/// Parses a `--disk` value, `PATH[,ro][,writethrough]`: the path, then options after
/// commas, each at most once (so a path cannot contain a comma).
pub(crate) fn parse_disk_spec(s: &str) -> Result<DiskSpec, String> {
    const FORM: &str = "expected PATH[,ro][,writethrough]";
    let mut parts = s.split(',');
    let path = parts.next().unwrap_or_default();
    if path.is_empty() {
        return Err(format!("no path ({FORM})"));
    }
    let mut spec = DiskSpec { path: PathBuf::from(path), read_only: false, writethrough: false };
    for opt in parts {
        let flag = match opt {
            "ro" => &mut spec.read_only,
            "writethrough" => &mut spec.writethrough,
            "" => return Err(format!("empty option ({FORM})")),
            other => return Err(format!("unknown option '{other}' ({FORM})")),
        };
        if std::mem::replace(flag, true) {
            return Err(format!("'{opt}' given twice ({FORM})"));
        }
    }
    Ok(spec)
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
    /// Every disk with its virtio slot: the image in slot 0 (if any), then each `--disk`
    /// in slots 1, 2, ... (also without an image, so a disk's slot never depends on it).
    pub(crate) fn slot_disks(&self) -> Result<Vec<SlotDisk>, String> {
        let slots = uapi::KEMU_DISK_SLOTS as usize;
        if self.disks.len() >= slots {
            return Err(format!(
                "too many disks: {} --disk given, at most {} fit (the machine has {slots} virtio slots, slot 0 is the image)",
                self.disks.len(),
                slots - 1
            ));
        }
        let image = self.image.iter().map(|p| SlotDisk {
            slot: 0,
            spec: DiskSpec { path: p.clone(), read_only: self.ro, writethrough: self.writethrough },
        });
        let extra = self.disks.iter().enumerate().map(|(i, d)| SlotDisk { slot: i + 1, spec: d.clone() });
        Ok(image.chain(extra).collect())
    }

    /// Reads everything and lays the guest out.
    pub(crate) fn plan(&self) -> Result<BootPlan, BootError> {
        let bare = self.bios.is_some();
        for d in self.slot_disks().map_err(BootError::DoesNotFit)? {
            if !d.spec.path.exists() {
                return Err(BootError::Io(d.spec.path.display().to_string(), std::io::ErrorKind::NotFound.into()));
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
    use super::*;
    use clap::Parser;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("512M"), Ok(512 << 20));
        assert_eq!(parse_size("2G"), Ok(2 << 30));
        assert_eq!(parse_size("1024"), Ok(1 << 30));
        assert_eq!(parse_size("64k"), Ok(64 << 10));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("99999999999999G").is_err());
    }

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        m: MachineArgs,
    }

    fn spec(p: &str, read_only: bool, writethrough: bool) -> DiskSpec {
        DiskSpec { path: PathBuf::from(p), read_only, writethrough }
    }

    #[test]
    fn disk_specs() {
        assert_eq!(parse_disk_spec("a.img"), Ok(spec("a.img", false, false)));
        assert_eq!(parse_disk_spec("/d/b.img,ro"), Ok(spec("/d/b.img", true, false)));
        assert_eq!(parse_disk_spec("c,writethrough"), Ok(spec("c", false, true)));
        assert_eq!(parse_disk_spec("c,writethrough,ro"), Ok(spec("c", true, true)));
        assert_eq!(parse_disk_spec("/dev/sdb,ro,writethrough"), Ok(spec("/dev/sdb", true, true)));
        for (bad, why) in [
            ("", "no path"),
            (",ro", "no path"),
            ("a,", "empty option"),
            ("a,,ro", "empty option"),
            ("a,RO", "unknown option 'RO'"),
            ("a,wt", "unknown option 'wt'"),
            ("a,ro=1", "unknown option 'ro=1'"),
            ("a,ro,ro", "'ro' given twice"),
            ("a,writethrough,writethrough", "'writethrough' given twice"),
        ] {
            let e = parse_disk_spec(bad).unwrap_err();
            assert!(e.starts_with(why) && e.ends_with("(expected PATH[,ro][,writethrough])"), "{bad:?}: {e}");
            assert!(!e.contains('\n'));
        }
    }

    #[test]
    fn slots_in_order() {
        let c = Cli::parse_from(["t", "--ro", "--disk", "b.img", "img", "--disk", "c.img,writethrough", "--writethrough"]);
        let d = c.m.slot_disks().unwrap();
        assert_eq!(
            d,
            vec![
                SlotDisk { slot: 0, spec: spec("img", true, true) },
                SlotDisk { slot: 1, spec: spec("b.img", false, false) },
                SlotDisk { slot: 2, spec: spec("c.img", false, true) },
            ]
        );
        // Without an image the extra disks keep their slots.
        let c = Cli::parse_from(["t", "--disk", "b.img"]);
        assert_eq!(c.m.slot_disks().unwrap(), vec![SlotDisk { slot: 1, spec: spec("b.img", false, false) }]);
        // Seven extra disks fill the machine; an eighth does not fit.
        let mut args = vec!["t".to_string(), "img".to_string()];
        for i in 0..7 {
            args.extend(["--disk".to_string(), format!("d{i}")]);
        }
        assert_eq!(Cli::parse_from(&args).m.slot_disks().unwrap().len(), 8);
        args.extend(["--disk".to_string(), "d7".to_string()]);
        let e = Cli::parse_from(&args).m.slot_disks().unwrap_err();
        assert!(e.starts_with("too many disks: 8 --disk given, at most 7 fit"), "{e}");
        assert!(Cli::try_parse_from(["t", "--disk", "x,bogus"]).is_err());
    }
}
