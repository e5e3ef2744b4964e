//! Guest RAM: the only way the CPU touches guest memory.
//!
//! The host owns guest RAM (a vmalloc area in the kernel, an mmap in userspace) and may
//! let other threads (DMA) write it concurrently, so this module never hands out Rust
//! references into it: every access is a bounds-checked, unaligned-safe raw read or
//! write of a little-endian value.

use core::ptr;

/// A guest-physical RAM region `[base, base + len)` backed by host memory at `ptr`.
#[derive(Clone, Copy, Debug)]
pub struct GuestRam {
    ptr: *mut u8,
    len: usize,
    base: u64,
    /// Offsets below this have 8 bytes of RAM from them on (`len - 7`, or 0): the
    /// accessors' one-compare fast check.
    fast_end: usize,
}

impl GuestRam {
    /// An empty region (no RAM); every access misses.
    pub const EMPTY: GuestRam = GuestRam { ptr: ptr::null_mut(), len: 0, base: 0, fast_end: 0 };

    /// Describes host memory `ptr..ptr+len` as guest RAM at guest-physical `base`.
    ///
    /// # Safety
    /// `ptr` must be valid for reads and writes of `len` bytes for as long as any hart or
    /// copy of this value uses it. Other threads may access the memory concurrently (the
    /// accesses made here are plain byte/word copies, as for DMA), but nobody may hold a
    /// Rust reference into it while a hart runs. `base + len` must not overflow.
    pub unsafe fn new(ptr: *mut u8, len: usize, base: u64) -> GuestRam {
        GuestRam { ptr, len, base, fast_end: len.saturating_sub(7) }
    }

    /// Guest-physical base address.
    pub fn base(&self) -> u64 {
        self.base
    }

    /// The host address of RAM offset `off` (TLB entries hold these for their pages,
    /// which tier-2 programs access directly).
    pub(super) fn host_addr(&self, off: u64) -> u64 {
        (self.ptr as u64).wrapping_add(off)
    }

    /// The RAM offset of host address `addr` (the inverse of [`GuestRam::host_addr`]).
    pub(super) fn host_offset(&self, addr: u64) -> u64 {
        addr.wrapping_sub(self.ptr as u64)
    }

    /// Size in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True if the region has no bytes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Offset of guest-physical `paddr` into RAM if `size` bytes at it are all RAM.
    #[inline(always)]
    pub fn offset_of(&self, paddr: u64, size: u64) -> Option<u64> {
        let off = paddr.wrapping_sub(self.base);
        if off < self.len as u64 && size <= self.len as u64 - off {
            Some(off)
        } else {
            None
        }
    }

    /// `Some(off)` if `size` (at most 8) bytes at offset `off` are all RAM, else
    /// `None`, with one compare for all but the last 7 bytes. The check is made from a
    /// mask that also clamps the offset without a branch (the kernel's
    /// `array_index_nospec`): a CPU that speculates past it with an offset beyond RAM
    /// still reads inside it.
    #[inline(always)]
    fn checked(&self, off: usize, size: usize) -> Option<usize> {
        let fast = below_mask(off, self.fast_end);
        if fast != 0 {
            Some(off & fast)
        } else {
            self.checked_tail(off, size)
        }
    }

    /// `checked` for offsets at or past `fast_end`: the last 7 bytes of RAM, or none.
    #[cold]
    #[inline(never)]
    fn checked_tail(&self, off: usize, size: usize) -> Option<usize> {
        if off <= self.len && self.len - off >= size {
            Some(off & below_mask(off, self.len))
        } else {
            None
        }
    }

    /// Reads a little-endian value of `size` (1, 2, 4 or 8) bytes at RAM offset `off`.
    #[inline(always)]
    pub fn read(&self, off: u64, size: usize) -> Option<u64> {
        let off = self.checked(usize::try_from(off).ok()?, size)?;
        // SAFETY: `off + size <= len` was checked above and `GuestRam::new`'s contract
        // makes `ptr..ptr+len` valid for reads; unaligned reads are used throughout.
        unsafe {
            let p = self.ptr.add(off);
            Some(match size {
                1 => u64::from(ptr::read(p)),
                2 => u64::from(u16::from_le(ptr::read_unaligned(p.cast::<u16>()))),
                4 => u64::from(u32::from_le(ptr::read_unaligned(p.cast::<u32>()))),
                8 => u64::from_le(ptr::read_unaligned(p.cast::<u64>())),
                _ => return None,
            })
        }
    }

    /// Writes the low `size` (1, 2, 4 or 8) bytes of `val` little-endian at RAM offset
    /// `off`; false if out of bounds.
    #[inline(always)]
    pub fn write(&self, off: u64, size: usize, val: u64) -> bool {
        let Some(off) = usize::try_from(off).ok().and_then(|o| self.checked(o, size)) else { return false };
        // SAFETY: `off + size <= len` was checked above and `GuestRam::new`'s contract
        // makes `ptr..ptr+len` valid for writes; unaligned writes are used throughout.
        unsafe {
            let p = self.ptr.add(off);
            match size {
                1 => ptr::write(p, val as u8),
                2 => ptr::write_unaligned(p.cast::<u16>(), (val as u16).to_le()),
                4 => ptr::write_unaligned(p.cast::<u32>(), (val as u32).to_le()),
                8 => ptr::write_unaligned(p.cast::<u64>(), val.to_le()),
                _ => return false,
            }
        }
        true
    }

    /// Copies `data` into guest-physical memory at `paddr` (for loaders); false (and
    /// nothing written) if the range is not entirely RAM.
    pub fn write_bytes(&self, paddr: u64, data: &[u8]) -> bool {
        let Some(off) = self.offset_of(paddr, data.len() as u64) else { return false };
        // SAFETY: the whole range is inside RAM (checked by `offset_of`), which
        // `GuestRam::new`'s contract makes valid for writes; `data` is a distinct host
        // buffer, so the regions do not overlap.
        unsafe { ptr::copy_nonoverlapping(data.as_ptr(), self.ptr.add(off as usize), data.len()) };
        true
    }

    /// Copies guest-physical memory at `paddr` into `out`; false if not entirely RAM.
    pub fn read_bytes(&self, paddr: u64, out: &mut [u8]) -> bool {
        let Some(off) = self.offset_of(paddr, out.len() as u64) else { return false };
        // SAFETY: as in `write_bytes`, with RAM as the source.
        unsafe { ptr::copy_nonoverlapping(self.ptr.add(off as usize), out.as_mut_ptr(), out.len()) };
        true
    }
}

/// All ones if `off < end` (unsigned), else 0, without a branch the CPU could
/// speculate past: on x86-64 `cmp; sbb`, as the kernel's `array_index_mask_nospec`
/// (opaque to the compiler, which therefore cannot turn it back into a branch).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn below_mask(off: usize, end: usize) -> usize {
    let mask: usize;
    // SAFETY: two register-only instructions (a compare and a subtract with borrow);
    // they touch no memory and no stack, and only clobber the flags.
    unsafe {
        core::arch::asm!(
            "cmp {off}, {end}",
            "sbb {mask}, {mask}",
            off = in(reg) off,
            end = in(reg) end,
            mask = out(reg) mask,
            options(pure, nomem, nostack),
        );
    }
    mask
}

/// All ones if `off < end`, else 0, computed arithmetically (for `end` up to 2^63:
/// `off`'s own top bit and the borrow of `end - 1 - off` both say "not below").
#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn below_mask(off: usize, end: usize) -> usize {
    !((((end.wrapping_sub(1).wrapping_sub(off)) | off) as isize >> (isize::BITS - 1)) as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn little_endian_unaligned_and_bounds() {
        let mut buf = [0u8; 16];
        // SAFETY: `buf` outlives `ram` and is only accessed through it below.
        let ram = unsafe { GuestRam::new(buf.as_mut_ptr(), buf.len(), 0x8000_0000) };
        assert!(ram.write(1, 8, 0x0807_0605_0403_0201));
        assert_eq!(ram.read(1, 1), Some(1));
        assert_eq!(ram.read(2, 2), Some(0x0302));
        assert_eq!(ram.read(3, 4), Some(0x0605_0403));
        assert_eq!(ram.read(1, 8), Some(0x0807_0605_0403_0201));
        assert_eq!(ram.read(9, 8), None);
        assert!(!ram.write(15, 2, 0));
        assert_eq!(ram.offset_of(0x8000_000f, 1), Some(15));
        assert_eq!(ram.offset_of(0x8000_000f, 2), None);
        assert_eq!(ram.offset_of(0x7fff_ffff, 1), None);
        let mut out = [0u8; 3];
        assert!(ram.read_bytes(0x8000_0001, &mut out));
        assert_eq!(out, [1, 2, 3]);
    }
}

