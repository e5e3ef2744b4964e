//! Finding the kernel (and its initrd) in a guest disk image's `/boot`, read with the
//! ext4-view crate: `vmlinux-VER`, `vmlinuz-VER` or `Image-VER`, the newest version
//! first, with `initrd.img-VER` (or `initrd-VER.img`) beside it.

use std::cmp::Ordering;
use std::path::Path;

use ext4_view::Ext4;

use super::BootError;

/// A kernel found in an image, with its initrd if there is one.
#[derive(Debug)]
pub(crate) struct FoundKernel {
    /// Path of the kernel inside the image, for messages.
    pub(crate) kernel_path: String,
    /// Kernel bytes.
    pub(crate) kernel: Vec<u8>,
    /// (path, bytes) of the matching initrd.
    pub(crate) initrd: Option<(String, Vec<u8>)>,
}

const KERNEL_PREFIXES: [&str; 3] = ["vmlinux-", "vmlinuz-", "Image-"];

/// Compares version strings the way people read them: digit runs numerically.
fn version_cmp(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    while !a.is_empty() && !b.is_empty() {
        if a[0].is_ascii_digit() && b[0].is_ascii_digit() {
            let na = a.iter().take_while(|c| c.is_ascii_digit()).count();
            let nb = b.iter().take_while(|c| c.is_ascii_digit()).count();
            let (da, db) = (trim_zeros(&a[..na]), trim_zeros(&b[..nb]));
            let ord = da.len().cmp(&db.len()).then_with(|| da.cmp(db));
            if ord != Ordering::Equal {
                return ord;
            }
            a = &a[na..];
            b = &b[nb..];
        } else {
            if a[0] != b[0] {
                return a[0].cmp(&b[0]);
            }
            a = &a[1..];
            b = &b[1..];
        }
    }
    a.len().cmp(&b.len())
}

fn trim_zeros(d: &[u8]) -> &[u8] {
    let n = d.iter().take_while(|&&c| c == b'0').count();
    &d[n.min(d.len().saturating_sub(1))..]
}

/// Picks the newest kernel among `/boot` entry names: (name, version).
pub(crate) fn pick_kernel(names: &[String]) -> Option<(String, String)> {
    names
        .iter()
        .filter_map(|n| KERNEL_PREFIXES.iter().find_map(|p| n.strip_prefix(p)).map(|v| (n.clone(), v.to_string())))
        .filter(|(_, v)| !v.is_empty() && !v.ends_with(".old"))
        .max_by(|a, b| version_cmp(&a.1, &b.1))
}

/// The initrd matching kernel version `version`, among `/boot` entry names.
pub(crate) fn pick_initrd(names: &[String], version: &str) -> Option<String> {
    [format!("initrd.img-{version}"), format!("initrd-{version}.img"), format!("initramfs-{version}.img")]
        .into_iter()
        .find(|c| names.contains(c))
}

/// Reads the newest kernel and its initrd out of the ext4 image at `image`.
pub(crate) fn find_kernel(image: &Path) -> Result<FoundKernel, BootError> {
    let shown = image.display().to_string();
    if !image.exists() {
        return Err(BootError::Io(shown, std::io::ErrorKind::NotFound.into()));
    }
    let fs = Ext4::load_from_path(image)
        .map_err(|e| BootError::KernelNotFound(format!("{shown}: not an ext2/3/4 image, so no kernel to find ({e}): use --kernel")))?;
    let names: Vec<String> = fs
        .read_dir("/boot")
        .map_err(|_| BootError::KernelNotFound(format!("{shown}: kernel not found in image (no /boot): use --kernel")))?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().as_str().unwrap_or_default().to_string())
        .collect();
    let (name, version) = pick_kernel(&names).ok_or_else(|| {
        BootError::KernelNotFound(format!("{shown}: kernel not found in image (no vmlinux-*, vmlinuz-* or Image-* in /boot): use --kernel"))
    })?;
    let kernel_path = format!("/boot/{name}");
    let kernel = fs.read(kernel_path.as_str()).map_err(|e| BootError::BadKernel(format!("{shown}:{kernel_path}: {e}")))?;
    let initrd = match pick_initrd(&names, &version) {
        Some(n) => {
            let p = format!("/boot/{n}");
            let data = fs.read(p.as_str()).map_err(|e| BootError::BadKernel(format!("{shown}:{p}: {e}")))?;
            Some((p, data))
        }
        None => None,
    };
    Ok(FoundKernel { kernel_path, kernel, initrd })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn newest_kernel_wins_numerically() {
        let n = names(&["config-6.12.9", "vmlinux-6.12.9-riscv64", "vmlinux-6.12.10-riscv64", "System.map-6.12.10", "initrd.img-6.12.10-riscv64"]);
        let (k, v) = pick_kernel(&n).unwrap();
        assert_eq!(k, "vmlinux-6.12.10-riscv64");
        assert_eq!(pick_initrd(&n, &v).as_deref(), Some("initrd.img-6.12.10-riscv64"));
    }

    #[test]
    fn no_kernel_no_pick() {
        assert_eq!(pick_kernel(&names(&["grub", "config-1"])), None);
        assert_eq!(pick_initrd(&names(&["initrd.img-2"]), "1"), None);
    }

    #[test]
    fn version_order() {
        assert_eq!(version_cmp("6.12.107+deb13", "6.12.99+deb13"), Ordering::Greater);
        assert_eq!(version_cmp("6.1", "6.1.0"), Ordering::Less);
        assert_eq!(version_cmp("6.01", "6.1"), Ordering::Equal);
    }
}
