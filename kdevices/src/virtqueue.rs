//! Split virtqueues (virtio 1.x section 2.7), device side, read through [`GuestMemory`].
//!
//! Everything the driver wrote is untrusted: ring indexes, descriptor indexes, addresses
//! and lengths are checked, every walk is bounded by the queue size (a loop in a chain
//! ends as [`ChainError::TooLong`]), and guest RAM is only touched through the
//! bounds-checked trait. Nothing here allocates: a chain is walked again when it must be
//! read twice, and each walk is checked again (the driver could change it in between).

use core::sync::atomic::{fence, Ordering};

use super::host::{GuestMemory, MemError};

/// Descriptor flag: the chain continues at `next`.
pub const DESC_F_NEXT: u16 = 1;
/// Descriptor flag: the buffer is device-writable.
pub const DESC_F_WRITE: u16 = 2;
/// Descriptor flag: the buffer is a table of indirect descriptors.
pub const DESC_F_INDIRECT: u16 = 4;
/// Available ring flag: the driver does not want used-buffer notifications.
pub const AVAIL_F_NO_INTERRUPT: u16 = 1;

/// Size of one descriptor in the table.
pub const DESC_SIZE: u64 = 16;

/// Where a driver placed one split virtqueue, and what it negotiated for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SplitQueue {
    /// Guest address of the descriptor table.
    pub desc: u64,
    /// Guest address of the available ring (driver area).
    pub avail: u64,
    /// Guest address of the used ring (device area).
    pub used: u64,
    /// Number of entries: a power of two, 1..=32768.
    pub size: u16,
    /// Whether `VIRTIO_F_INDIRECT_DESC` was negotiated.
    pub indirect: bool,
}

/// Why a descriptor chain cannot be used. Each means the driver broke the virtqueue
/// rules; the device then needs a reset (`DEVICE_NEEDS_RESET`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChainError {
    /// A descriptor (or indirect table entry) lies outside guest RAM.
    Memory,
    /// A descriptor index beyond the table.
    BadIndex,
    /// More descriptors than the queue (or indirect table) holds: a loop, or too long.
    TooLong,
    /// An indirect descriptor though `VIRTIO_F_INDIRECT_DESC` was not negotiated.
    IndirectNotNegotiated,
    /// An indirect descriptor inside an indirect table.
    NestedIndirect,
    /// An indirect descriptor with `NEXT` also set.
    IndirectWithNext,
    /// An indirect table whose length is zero, not a multiple of 16, or too large.
    BadIndirectSize,
    /// A device-readable descriptor after a device-writable one.
    ReadAfterWrite,
}

impl From<MemError> for ChainError {
    fn from(_: MemError) -> Self {
        Self::Memory
    }
}

/// One buffer of a chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    /// Guest address.
    pub addr: u64,
    /// Length in bytes.
    pub len: u32,
    /// Device-writable (`true`) or device-readable.
    pub writable: bool,
}

fn read_u16(mem: &(impl GuestMemory + ?Sized), addr: u64) -> Result<u16, MemError> {
    let mut b = [0; 2];
    mem.read(addr, &mut b)?;
    Ok(u16::from_le_bytes(b))
}

fn at(base: u64, offset: u64) -> Result<u64, MemError> {
    base.checked_add(offset).ok_or(MemError)
}

impl SplitQueue {
    /// The driver's `avail.idx`, with an acquire fence so that ring entries and
    /// descriptors read afterwards are at least as new.
    pub fn avail_idx(&self, mem: &(impl GuestMemory + ?Sized)) -> Result<u16, MemError> {
        let idx = read_u16(mem, at(self.avail, 2)?)?;
        fence(Ordering::Acquire);
        Ok(idx)
    }

    /// The driver's `avail.flags`.
    pub fn avail_flags(&self, mem: &(impl GuestMemory + ?Sized)) -> Result<u16, MemError> {
        read_u16(mem, self.avail)
    }

    /// The head descriptor index in available-ring slot `idx` (taken modulo the size).
    pub fn avail_entry(&self, mem: &(impl GuestMemory + ?Sized), idx: u16) -> Result<u16, MemError> {
        let slot = u64::from(idx % self.size.max(1));
        read_u16(mem, at(self.avail, 4 + 2 * slot)?)
    }

    /// Writes used-ring element number `used_idx` (`head`, `len`), then publishes
    /// `used.idx = used_idx + 1` behind a release fence.
    pub fn push_used(
        &self,
        mem: &mut (impl GuestMemory + ?Sized),
        used_idx: u16,
        head: u16,
        len: u32,
    ) -> Result<(), MemError> {
        let slot = u64::from(used_idx % self.size.max(1));
        let mut elem = [0u8; 8];
        elem[..4].copy_from_slice(&u32::from(head).to_le_bytes());
        elem[4..].copy_from_slice(&len.to_le_bytes());
        mem.write(at(self.used, 4 + 8 * slot)?, &elem)?;
        mem.before_publish();
        fence(Ordering::Release);
        mem.write(at(self.used, 2)?, &used_idx.wrapping_add(1).to_le_bytes())
    }

    /// Whether the driver wants a used-buffer notification now (no `VIRTIO_F_EVENT_IDX`:
    /// the `NO_INTERRUPT` flag decides). Call after [`SplitQueue::push_used`]; a full fence
    /// orders the used index write before the flag read. An unreadable flag counts as
    /// "notify".
    pub fn wants_interrupt(&self, mem: &(impl GuestMemory + ?Sized)) -> bool {
        fence(Ordering::SeqCst);
        self.avail_flags(mem).map_or(true, |f| f & AVAIL_F_NO_INTERRUPT == 0)
    }

    /// A walker over the chain starting at descriptor `head`.
    pub fn chain(&self, head: u16) -> Chain {
        Chain {
            table: self.desc,
            table_len: u32::from(self.size),
            next: Some(u32::from(head)),
            in_indirect: false,
            indirect_allowed: self.indirect,
            count: 0,
            limit: u32::from(self.size),
            seen_writable: false,
            failed: None,
        }
    }
}

/// A walk over one descriptor chain; see [`Chain::next_segment`].
#[derive(Clone, Debug)]
pub struct Chain {
    table: u64,
    table_len: u32,
    next: Option<u32>,
    in_indirect: bool,
    indirect_allowed: bool,
    count: u32,
    limit: u32,
    seen_writable: bool,
    failed: Option<ChainError>,
}

impl Chain {
    /// The next buffer of the chain, `None` at its end. After an error the walk is over:
    /// later calls return the same error.
    pub fn next_segment(&mut self, mem: &(impl GuestMemory + ?Sized)) -> Result<Option<Segment>, ChainError> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        let r = self.step(mem);
        if let Err(e) = r {
            self.failed = Some(e);
        }
        r
    }

    fn step(&mut self, mem: &(impl GuestMemory + ?Sized)) -> Result<Option<Segment>, ChainError> {
        // At most one switch to an indirect table, so at most two rounds.
        loop {
            let Some(i) = self.next else { return Ok(None) };
            if i >= self.table_len {
                return Err(ChainError::BadIndex);
            }
            if self.count >= self.limit {
                return Err(ChainError::TooLong);
            }
            self.count += 1;
            let mut raw = [0u8; 16];
            mem.read(at(self.table, u64::from(i) * DESC_SIZE)?, &mut raw)?;
            let [a0, a1, a2, a3, a4, a5, a6, a7, l0, l1, l2, l3, f0, f1, n0, n1] = raw;
            let addr = u64::from_le_bytes([a0, a1, a2, a3, a4, a5, a6, a7]);
            let len = u32::from_le_bytes([l0, l1, l2, l3]);
            let flags = u16::from_le_bytes([f0, f1]);
            let next = u16::from_le_bytes([n0, n1]);

            if flags & DESC_F_INDIRECT != 0 {
                if self.in_indirect {
                    return Err(ChainError::NestedIndirect);
                }
                if !self.indirect_allowed {
                    return Err(ChainError::IndirectNotNegotiated);
                }
                if flags & DESC_F_NEXT != 0 {
                    return Err(ChainError::IndirectWithNext);
                }
                let entries = len / DESC_SIZE as u32;
                // A chain, indirect entries included, is no longer than the queue size
                // (virtio 1.x 2.7.5.3.1).
                if len == 0 || len % DESC_SIZE as u32 != 0 || entries > self.limit {
                    return Err(ChainError::BadIndirectSize);
                }
                self.in_indirect = true;
                self.table = addr;
                self.table_len = entries;
                self.count = 0;
                self.limit = entries;
                self.next = Some(0);
                continue;
            }

            self.next = (flags & DESC_F_NEXT != 0).then_some(u32::from(next));
            let writable = flags & DESC_F_WRITE != 0;
            if !writable && self.seen_writable {
                return Err(ChainError::ReadAfterWrite);
            }
            self.seen_writable |= writable;
            return Ok(Some(Segment { addr, len, writable }));
        }
    }
}

/// The bytes of one direction of a chain (device-readable or device-writable), seen as
/// one stream: yields guest ranges covering `len` bytes of it, starting `skip` bytes in.
#[derive(Clone, Debug)]
pub struct Stream {
    chain: Chain,
    writable: bool,
    skip: u64,
    remaining: u64,
    cur_addr: u64,
    cur_left: u64,
}

impl Stream {
    /// The `writable` bytes `[skip, skip + len)` of `chain`.
    pub fn new(chain: Chain, writable: bool, skip: u64, len: u64) -> Self {
        Self { chain, writable, skip, remaining: len, cur_addr: 0, cur_left: 0 }
    }

    /// Next guest range `(addr, len)` of at most `max` bytes (`max` > 0), or `None` when
    /// the `len` bytes are done or the chain ended early.
    pub fn next_range(
        &mut self,
        mem: &(impl GuestMemory + ?Sized),
        max: u64,
    ) -> Result<Option<(u64, u64)>, ChainError> {
        while self.remaining > 0 {
            if self.cur_left == 0 {
                let Some(seg) = self.chain.next_segment(mem)? else { return Ok(None) };
                if seg.writable != self.writable {
                    continue;
                }
                let len = u64::from(seg.len);
                let skipped = self.skip.min(len);
                self.skip -= skipped;
                self.cur_addr = seg.addr.checked_add(skipped).ok_or(ChainError::Memory)?;
                self.cur_left = len - skipped;
                continue;
            }
            let n = self.cur_left.min(self.remaining).min(max.max(1));
            let addr = self.cur_addr;
            self.cur_addr = self.cur_addr.checked_add(n).ok_or(ChainError::Memory)?;
            self.cur_left -= n;
            self.remaining -= n;
            return Ok(Some((addr, n)));
        }
        Ok(None)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    extern crate alloc;

    use alloc::vec::Vec;

    use super::super::testutil::VecMemory;
    use super::*;

    pub(crate) const RAM: u64 = 0x8000_0000;
    pub(crate) const DESC: u64 = RAM + 0x1000;
    pub(crate) const AVAIL: u64 = RAM + 0x2000;
    pub(crate) const USED: u64 = RAM + 0x3000;

    pub(crate) fn put_desc(mem: &mut VecMemory, table: u64, i: u16, addr: u64, len: u32, flags: u16, next: u16) {
        let d = table + u64::from(i) * 16;
        mem.put_u64(d, addr);
        mem.put_u32(d + 8, len);
        mem.put_u16(d + 12, flags);
        mem.put_u16(d + 14, next);
    }

    fn q(size: u16, indirect: bool) -> SplitQueue {
        SplitQueue { desc: DESC, avail: AVAIL, used: USED, size, indirect }
    }

    fn walk(q: &SplitQueue, mem: &VecMemory, head: u16) -> Result<Vec<Segment>, ChainError> {
        let mut c = q.chain(head);
        let mut v = Vec::new();
        while let Some(s) = c.next_segment(mem)? {
            v.push(s);
            assert!(v.len() <= 1 << 16, "walk must be bounded");
        }
        Ok(v)
    }

    #[test]
    fn plain_chain() {
        let mut m = VecMemory::new(RAM, 0x10000);
        put_desc(&mut m, DESC, 3, RAM + 0x8000, 16, DESC_F_NEXT, 5);
        put_desc(&mut m, DESC, 5, RAM + 0x9000, 512, DESC_F_NEXT | DESC_F_WRITE, 0);
        put_desc(&mut m, DESC, 0, RAM + 0xa000, 1, DESC_F_WRITE, 7);
        let v = walk(&q(8, false), &m, 3).unwrap();
        assert_eq!(
            v,
            [
                Segment { addr: RAM + 0x8000, len: 16, writable: false },
                Segment { addr: RAM + 0x9000, len: 512, writable: true },
                Segment { addr: RAM + 0xa000, len: 1, writable: true },
            ]
        );
    }

    #[test]
    fn loops_end_as_too_long() {
        let mut m = VecMemory::new(RAM, 0x10000);
        put_desc(&mut m, DESC, 0, RAM, 1, DESC_F_NEXT, 1);
        put_desc(&mut m, DESC, 1, RAM, 1, DESC_F_NEXT, 0);
        assert_eq!(walk(&q(8, false), &m, 0), Err(ChainError::TooLong));
        // Self-loop.
        put_desc(&mut m, DESC, 2, RAM, 1, DESC_F_NEXT, 2);
        assert_eq!(walk(&q(256, false), &m, 2), Err(ChainError::TooLong));
    }

    #[test]
    fn bad_indexes_and_addresses() {
        let mut m = VecMemory::new(RAM, 0x10000);
        assert_eq!(walk(&q(8, false), &m, 8), Err(ChainError::BadIndex));
        put_desc(&mut m, DESC, 0, RAM, 1, DESC_F_NEXT, 200);
        assert_eq!(walk(&q(8, false), &m, 0), Err(ChainError::BadIndex));
        // Descriptor table outside RAM, or at the very top of the address space.
        let mut bad = q(8, false);
        bad.desc = 0x1000;
        assert_eq!(walk(&bad, &m, 0), Err(ChainError::Memory));
        bad.desc = u64::MAX - 8;
        assert_eq!(walk(&bad, &m, 1), Err(ChainError::Memory));
        // Ring reads outside RAM are errors, not faults.
        bad.avail = u64::MAX;
        assert_eq!(bad.avail_idx(&m), Err(MemError));
        assert_eq!(bad.avail_entry(&m, 3), Err(MemError));
        bad.used = u64::MAX - 4;
        assert_eq!(bad.push_used(&mut m, 0, 0, 0), Err(MemError));
    }

    #[test]
    fn direction_order() {
        let mut m = VecMemory::new(RAM, 0x10000);
        put_desc(&mut m, DESC, 0, RAM, 1, DESC_F_NEXT | DESC_F_WRITE, 1);
        put_desc(&mut m, DESC, 1, RAM, 1, 0, 0);
        assert_eq!(walk(&q(8, false), &m, 0), Err(ChainError::ReadAfterWrite));
    }

    #[test]
    fn indirect_tables() {
        let mut m = VecMemory::new(RAM, 0x10000);
        let table = RAM + 0x4000;
        put_desc(&mut m, table, 0, RAM + 0x8000, 16, DESC_F_NEXT, 1);
        put_desc(&mut m, table, 1, RAM + 0x9000, 1, DESC_F_WRITE, 0);
        put_desc(&mut m, DESC, 2, table, 32, DESC_F_INDIRECT, 0);
        assert_eq!(walk(&q(8, false), &m, 2), Err(ChainError::IndirectNotNegotiated));
        let v = walk(&q(8, true), &m, 2).unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[1], Segment { addr: RAM + 0x9000, len: 1, writable: true });

        // A table as long as the queue is fine (Linux: seg_max + 2 = queue size).
        for i in 0..8 {
            put_desc(&mut m, table + 0x100, i, RAM, 1, if i < 7 { DESC_F_NEXT } else { DESC_F_WRITE }, i + 1);
        }
        put_desc(&mut m, DESC, 2, table + 0x100, 16 * 8, DESC_F_INDIRECT, 0);
        assert_eq!(walk(&q(8, true), &m, 2).unwrap().len(), 8);

        put_desc(&mut m, DESC, 2, table, 33, DESC_F_INDIRECT, 0);
        assert_eq!(walk(&q(8, true), &m, 2), Err(ChainError::BadIndirectSize));
        put_desc(&mut m, DESC, 2, table, 0, DESC_F_INDIRECT, 0);
        assert_eq!(walk(&q(8, true), &m, 2), Err(ChainError::BadIndirectSize));
        put_desc(&mut m, DESC, 2, table, 16 * 9, DESC_F_INDIRECT, 0);
        assert_eq!(walk(&q(8, true), &m, 2), Err(ChainError::BadIndirectSize), "longer than the queue");
        put_desc(&mut m, DESC, 2, table, 32, DESC_F_INDIRECT | DESC_F_NEXT, 3);
        assert_eq!(walk(&q(8, true), &m, 2), Err(ChainError::IndirectWithNext));
        // Nested indirect.
        put_desc(&mut m, DESC, 2, table, 32, DESC_F_INDIRECT, 0);
        put_desc(&mut m, table, 1, table, 32, DESC_F_INDIRECT, 0);
        assert_eq!(walk(&q(8, true), &m, 2), Err(ChainError::NestedIndirect));
        // Loop inside the table; index beyond the table.
        put_desc(&mut m, table, 1, RAM, 1, DESC_F_NEXT, 0);
        assert_eq!(walk(&q(8, true), &m, 2), Err(ChainError::TooLong));
        put_desc(&mut m, table, 1, RAM, 1, DESC_F_NEXT, 2);
        assert_eq!(walk(&q(8, true), &m, 2), Err(ChainError::BadIndex));
        // Table outside RAM.
        put_desc(&mut m, DESC, 2, 0x10, 32, DESC_F_INDIRECT, 0);
        assert_eq!(walk(&q(8, true), &m, 2), Err(ChainError::Memory));
    }

    #[test]
    fn errors_stick() {
        let mut m = VecMemory::new(RAM, 0x10000);
        put_desc(&mut m, DESC, 0, RAM, 1, DESC_F_NEXT, 9);
        let qq = q(8, false);
        let mut c = qq.chain(0);
        assert!(c.next_segment(&m).unwrap().is_some());
        assert_eq!(c.next_segment(&m), Err(ChainError::BadIndex));
        assert_eq!(c.next_segment(&m), Err(ChainError::BadIndex));
    }

    #[test]
    fn streams() {
        let mut m = VecMemory::new(RAM, 0x10000);
        put_desc(&mut m, DESC, 0, RAM + 0x100, 10, DESC_F_NEXT, 1);
        put_desc(&mut m, DESC, 1, RAM + 0x200, 20, DESC_F_NEXT, 2);
        put_desc(&mut m, DESC, 2, RAM + 0x300, 7, DESC_F_NEXT | DESC_F_WRITE, 3);
        put_desc(&mut m, DESC, 3, RAM + 0x400, 5, DESC_F_WRITE, 0);
        let qq = q(8, false);
        let mut s = Stream::new(qq.chain(0), false, 16, 100);
        let mut got = Vec::new();
        while let Some(r) = s.next_range(&m, 8).unwrap() {
            got.push(r);
        }
        assert_eq!(got, [(RAM + 0x206, 8), (RAM + 0x20e, 6)]);
        let mut s = Stream::new(qq.chain(0), true, 0, 11);
        let mut got = Vec::new();
        while let Some(r) = s.next_range(&m, 64).unwrap() {
            got.push(r);
        }
        assert_eq!(got, [(RAM + 0x300, 7), (RAM + 0x400, 4)]);
    }

    #[test]
    fn used_ring() {
        let mut m = VecMemory::new(RAM, 0x10000);
        let qq = q(4, false);
        qq.push_used(&mut m, 5, 3, 513).unwrap();
        // Element 5 % 4 = 1.
        assert_eq!(m.get_u32(USED + 4 + 8), 3);
        assert_eq!(m.get_u32(USED + 4 + 12), 513);
        assert_eq!(m.get_u16(USED + 2), 6);
        assert!(qq.wants_interrupt(&m));
        m.put_u16(AVAIL, AVAIL_F_NO_INTERRUPT);
        assert!(!qq.wants_interrupt(&m));
        m.put_u16(AVAIL + 4 + 2 * 2, 7);
        assert_eq!(qq.avail_entry(&m, 6), Ok(7));
    }
}
