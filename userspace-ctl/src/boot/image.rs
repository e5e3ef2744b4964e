//! The RISC-V Linux `Image` header (Documentation/arch/riscv/boot-image-header.rst).

use super::BootError;

/// Size of the header at the start of every RISC-V `Image`.
pub(crate) const HEADER_LEN: usize = 64;
/// `magic2`, "RSC\x05" little endian: present in every header since version 0.2.
const MAGIC2: u32 = 0x0543_5352;

/// What the loader needs from an `Image` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ImageHeader {
    /// Load offset from the start of RAM.
    pub(crate) text_offset: u64,
    /// Memory the kernel occupies once loaded, including its bss.
    pub(crate) image_size: u64,
}

/// Parses the header of a kernel `Image`; `name` is used in errors.
pub(crate) fn parse(image: &[u8], name: &str) -> Result<ImageHeader, BootError> {
    let bad = |why: &str| BootError::BadKernel(format!("{name}: {why}"));
    let header = image.get(..HEADER_LEN).ok_or_else(|| bad("too short to be a RISC-V Image"))?;
    let u64_at = |off: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&header[off..off + 8]);
        u64::from_le_bytes(b)
    };
    let magic2 = u32::from_le_bytes([header[56], header[57], header[58], header[59]]);
    if magic2 != MAGIC2 {
        return Err(bad("not a RISC-V Linux Image (no RSC\\x05 magic in its header)"));
    }
    let text_offset = u64_at(8);
    let image_size = u64_at(16);
    if image_size < image.len() as u64 {
        return Err(bad("header's image_size is smaller than the file"));
    }
    Ok(ImageHeader { text_offset, image_size })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(text_offset: u64, image_size: u64, magic2: u32) -> Vec<u8> {
        let mut h = vec![0u8; 4096];
        h[0..2].copy_from_slice(b"MZ");
        h[8..16].copy_from_slice(&text_offset.to_le_bytes());
        h[16..24].copy_from_slice(&image_size.to_le_bytes());
        h[48..56].copy_from_slice(b"RISCV\0\0\0");
        h[56..60].copy_from_slice(&magic2.to_le_bytes());
        h
    }

    #[test]
    fn parses_a_linux_header() {
        let h = parse(&header(0x20_0000, 0x1e6_b000, MAGIC2), "Image").unwrap();
        assert_eq!(h, ImageHeader { text_offset: 0x20_0000, image_size: 0x1e6_b000 });
    }

    #[test]
    fn rejects_garbage_and_truncation() {
        assert!(matches!(parse(&header(0x20_0000, 0x10000, 0xdead), "x"), Err(BootError::BadKernel(_))));
        assert!(matches!(parse(&[0u8; 10], "x"), Err(BootError::BadKernel(_))));
        assert!(matches!(parse(&header(0, 10, MAGIC2), "x"), Err(BootError::BadKernel(_))));
    }
}
