//! virtio-blk (virtio 1.x section 5.2): the device's configuration ([`BlkConfig`], part of
//! the transport) and its request processor ([`BlkWorker`], owned by the host's worker
//! thread; see [`super::virtio_mmio`] for the threading model).
//!
//! Offered features: `VIRTIO_F_VERSION_1`, `VIRTIO_F_INDIRECT_DESC`, `VIRTIO_BLK_F_SEG_MAX`,
//! `VIRTIO_BLK_F_BLK_SIZE`, `VIRTIO_BLK_F_FLUSH` for storage with a volatile write cache,
//! and `VIRTIO_BLK_F_RO` for read-only storage. Write-through storage gets no
//! `VIRTIO_BLK_F_FLUSH` (virtio 1.x says devices SHOULD always offer it): without it
//! Linux takes the disk's cache as write-through (`virtblk_get_cache_mode`) and sends no
//! flushes, each of which would cost a sync for nothing, as QEMU's `cache=writethrough`
//! without `config-wce` does. (Offering `VIRTIO_BLK_F_CONFIG_WCE` with the cache off
//! would say the same and follow the SHOULD, but obliges the device to switch to
//! writeback when the driver asks.) Requests: `T_IN`, `T_OUT`, `T_FLUSH`, `T_GET_ID`;
//! any other type gets `VIRTIO_BLK_S_UNSUPP`.
//!
//! A request is the chain's device-readable bytes (16-byte header, then data for `T_OUT`)
//! followed by its device-writable bytes (data for `T_IN`/`T_GET_ID`, then the status
//! byte, the very last one), however the driver split them into descriptors.
//!
//! Errors, all without a host fault or a panic:
//! - the chain itself is broken (index out of the table, loop or longer than the queue,
//!   descriptor table outside RAM, bad indirect table, readable after writable), or it
//!   has no device-writable byte for the status, or the status byte lies outside RAM, or
//!   the rings are unreadable: the device stops serving the queue and reports
//!   `DEVICE_NEEDS_RESET` (virtio 1.x 2.1.2): there is nowhere to put a status.
//! - the request is malformed (header shorter than 16 bytes, data in the wrong direction,
//!   data not a multiple of 512 bytes), reaches past the end of the disk, has a data
//!   buffer outside RAM, or the storage fails: `VIRTIO_BLK_S_IOERR`.
//! - `T_OUT` to read-only storage: `VIRTIO_BLK_S_IOERR`, and nothing is written
//!   (virtio 1.x 5.2.6.2).
//!
//! Durability: requests are served in ring order, one at a time; a multi-segment write is
//! issued to the storage as consecutive `write_at` calls within that one request. They
//! are completed (used entries, then the interrupt) in batches of up to [`BATCH`]: on
//! write-through storage, a batch that wrote anything is synced (the storage's `flush`)
//! before any of its requests completes, so a completed write is durable, at one sync per
//! batch (the journal blocks a guest file system writes together cost one sync, as
//! QEMU's merged requests do); if that sync fails, each write of the batch completes with
//! `VIRTIO_BLK_S_IOERR`. `T_FLUSH` calls the storage's `flush` before its status is
//! written, so every write the guest saw completed before the flush is durable once the
//! flush completes.

use super::host::{BlockStorage, GuestMemory};
use super::virtio_mmio::{Completion, QueueJob, QUEUE_SIZE_MAX, VIRTIO_F_INDIRECT_DESC, VIRTIO_F_VERSION_1};
use super::virtqueue::{SplitQueue, Stream};

/// Virtio device ID of a block device.
pub const DEVICE_ID: u32 = 2;

/// Feature: `seg_max` is valid.
pub const VIRTIO_BLK_F_SEG_MAX: u64 = 1 << 2;
/// Feature: the device is read-only.
pub const VIRTIO_BLK_F_RO: u64 = 1 << 5;
/// Feature: `blk_size` is valid.
pub const VIRTIO_BLK_F_BLK_SIZE: u64 = 1 << 6;
/// Feature: the device handles `T_FLUSH`.
pub const VIRTIO_BLK_F_FLUSH: u64 = 1 << 9;

/// Request type: read.
pub const VIRTIO_BLK_T_IN: u32 = 0;
/// Request type: write.
pub const VIRTIO_BLK_T_OUT: u32 = 1;
/// Request type: flush.
pub const VIRTIO_BLK_T_FLUSH: u32 = 4;
/// Request type: device ID string.
pub const VIRTIO_BLK_T_GET_ID: u32 = 8;

/// Status: success.
pub const VIRTIO_BLK_S_OK: u8 = 0;
/// Status: I/O error (or malformed request).
pub const VIRTIO_BLK_S_IOERR: u8 = 1;
/// Status: request type not supported.
pub const VIRTIO_BLK_S_UNSUPP: u8 = 2;

/// Sector size of the protocol (capacity and request offsets).
pub const SECTOR_SIZE: u64 = 512;
/// Length of the `T_GET_ID` string.
pub const ID_BYTES: usize = 20;
/// Size of the request header.
pub const HEADER_SIZE: u64 = 16;
/// `seg_max`: data segments per request; with the header and status, a chain as long
/// as the largest queue.
pub const SEG_MAX: u32 = QUEUE_SIZE_MAX as u32 - 2;

/// The device-visible description of a disk: feature bits and configuration space.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlkConfig {
    /// Capacity in 512-byte sectors.
    pub capacity: u64,
    /// Offer `VIRTIO_BLK_F_RO`.
    pub read_only: bool,
    /// Offer `VIRTIO_BLK_F_FLUSH`: the storage has a volatile write cache.
    pub flush: bool,
    /// Logical block size reported in `blk_size` (512 unless the backend wants larger).
    pub blk_size: u32,
}

impl BlkConfig {
    /// The configuration of `storage`: its whole 512-byte sectors, its read-only flag,
    /// whether it has a volatile write cache.
    pub fn for_storage(storage: &(impl BlockStorage + ?Sized)) -> Self {
        Self {
            capacity: storage.size_bytes() / SECTOR_SIZE,
            read_only: storage.read_only(),
            flush: !storage.write_through(),
            blk_size: 512,
        }
    }

    /// Offered feature bits.
    pub const fn features(&self) -> u64 {
        let ro = if self.read_only { VIRTIO_BLK_F_RO } else { 0 };
        let flush = if self.flush { VIRTIO_BLK_F_FLUSH } else { 0 };
        VIRTIO_F_VERSION_1 | VIRTIO_F_INDIRECT_DESC | VIRTIO_BLK_F_SEG_MAX | VIRTIO_BLK_F_BLK_SIZE | flush | ro
    }

    /// Byte `offset` of `struct virtio_blk_config`: capacity (le64 at 0), seg_max (le32
    /// at 0x0c), blk_size (le32 at 0x14); every other field (not offered) reads 0.
    pub fn config_byte(&self, offset: u64) -> u8 {
        let byte = |v: u64, base: u64| (v >> (8 * (offset - base))) as u8;
        match offset {
            0x00..=0x07 => byte(self.capacity, 0x00),
            0x0c..=0x0f => byte(u64::from(SEG_MAX), 0x0c),
            0x14..=0x17 => byte(u64::from(self.blk_size), 0x14),
            _ => 0,
        }
    }
}

/// The request processor of one virtio-blk queue: the device-side ring indexes and the
/// disk's ID string. Owned by the host's worker; see [`BlkWorker::process`].
#[derive(Clone, Debug)]
pub struct BlkWorker {
    generation: Option<u32>,
    last_avail: u16,
    used_idx: u16,
    serial: [u8; ID_BYTES],
    served: u64,
}

/// A request that cannot be completed: the device needs a reset.
struct Fatal;

/// Most requests served before they are completed together ([`BlkWorker::process`]).
pub const BATCH: usize = 16;

/// A request served but not completed yet: its head, used length and status byte's
/// address, and whether it wrote to the storage.
#[derive(Clone, Copy, Default)]
struct Served {
    head: u16,
    len: u32,
    status_addr: u64,
    wrote: bool,
}

impl BlkWorker {
    /// A worker whose disk answers `T_GET_ID` with `serial` (up to 20 bytes kept, NUL-
    /// padded when shorter).
    pub fn new(serial: &[u8]) -> Self {
        let mut s = [0u8; ID_BYTES];
        let n = serial.len().min(ID_BYTES);
        s[..n].copy_from_slice(&serial[..n]);
        Self { generation: None, last_avail: 0, used_idx: 0, serial: s, served: 0 }
    }

    /// Requests answered so far (whatever their status), for the host's statistics.
    pub fn served(&self) -> u64 {
        self.served
    }

    /// Serves the available ring of `job`'s queue: up to one queue's worth of requests
    /// (then [`Completion::more`] is set), each read from and answered in `mem`, its data
    /// moved to or from `disk` through `scratch` (any size; a larger one means fewer,
    /// larger storage calls, e.g. 64 KiB allocated once per worker; an empty one falls
    /// back to 256 bytes on the stack). Hand the result to the transport's `complete`.
    pub fn process<M, S>(&mut self, job: &QueueJob, mem: &mut M, disk: &mut S, scratch: &mut [u8]) -> Completion
    where
        M: GuestMemory + ?Sized,
        S: BlockStorage + ?Sized,
    {
        if self.generation != Some(job.generation) {
            self.generation = Some(job.generation);
            self.last_avail = 0;
            self.used_idx = 0;
        }
        let mut local = [0u8; 256];
        let buf: &mut [u8] = if scratch.is_empty() { &mut local } else { scratch };
        let q = &job.queue;
        let mut c = Completion { generation: job.generation, ..Completion::default() };
        let mut pushed = false;
        let mut budget = q.size;
        let mut batch = [Served::default(); BATCH];
        let mut n = 0;
        loop {
            let Ok(avail) = q.avail_idx(&*mem) else {
                c.needs_reset = true;
                break;
            };
            let pending = avail.wrapping_sub(self.last_avail);
            if pending == 0 {
                break;
            }
            if pending > q.size {
                // The driver claims more new buffers than the ring holds.
                c.needs_reset = true;
                break;
            }
            if budget == 0 {
                c.more = true;
                break;
            }
            budget -= 1;
            let Ok(head) = q.avail_entry(&*mem, self.last_avail) else {
                c.needs_reset = true;
                break;
            };
            let Ok(served) = self.request(job, head, mem, disk, buf) else {
                c.needs_reset = true;
                break;
            };
            self.last_avail = self.last_avail.wrapping_add(1);
            if let Some(slot) = batch.get_mut(n) {
                *slot = served;
                n += 1;
            }
            if n == BATCH {
                n = 0;
                if !self.complete(q, &batch, mem, disk, &mut c, &mut pushed) {
                    break;
                }
            }
        }
        if n > 0 {
            self.complete(q, &batch[..n], mem, disk, &mut c, &mut pushed);
        }
        c.notify = pushed && q.wants_interrupt(&*mem);
        c
    }

    /// Completes the requests `batch` (served, in ring order): syncs write-through
    /// storage first if one of them wrote (each write gets `VIRTIO_BLK_S_IOERR` if that
    /// fails), then puts them in the used ring. False if the used ring is unwritable (`c`
    /// then says the device needs a reset).
    fn complete<M, S>(&mut self, q: &SplitQueue, batch: &[Served], mem: &mut M, disk: &mut S, c: &mut Completion, pushed: &mut bool) -> bool
    where
        M: GuestMemory + ?Sized,
        S: BlockStorage + ?Sized,
    {
        if disk.write_through() && batch.iter().any(|r| r.wrote) && disk.flush().is_err() {
            for r in batch.iter().filter(|r| r.wrote) {
                if mem.write(r.status_addr, &[VIRTIO_BLK_S_IOERR]).is_err() {
                    c.needs_reset = true;
                    return false;
                }
            }
        }
        for r in batch {
            if q.push_used(mem, self.used_idx, r.head, r.len).is_err() {
                c.needs_reset = true;
                return false;
            }
            self.used_idx = self.used_idx.wrapping_add(1);
            self.served = self.served.wrapping_add(1);
            *pushed = true;
        }
        true
    }

    /// Serves one request: its used length (bytes written to the guest), where its status
    /// went and whether it wrote to the storage.
    fn request<M, S>(&self, job: &QueueJob, head: u16, mem: &mut M, disk: &mut S, buf: &mut [u8]) -> Result<Served, Fatal>
    where
        M: GuestMemory + ?Sized,
        S: BlockStorage + ?Sized,
    {
        let q = &job.queue;
        // Pass 1: check the whole chain, size both directions, find the status byte.
        let mut chain = q.chain(head);
        let (mut readable, mut writable) = (0u64, 0u64);
        let mut status_addr = None;
        while let Some(seg) = chain.next_segment(&*mem).map_err(|_| Fatal)? {
            let len = u64::from(seg.len);
            if seg.writable {
                writable += len;
                if len > 0 {
                    status_addr = seg.addr.checked_add(len - 1);
                }
            } else {
                readable += len;
            }
        }
        let status_addr = status_addr.ok_or(Fatal)?;
        let req = Request { q, head, readable, data_in: writable - 1, read_only: job.read_only };
        let (status, written, wrote) = self.execute(&req, mem, disk, buf);
        mem.write(status_addr, &[status]).map_err(|_| Fatal)?;
        let len = u32::try_from(written.saturating_add(1)).unwrap_or(u32::MAX);
        Ok(Served { head, len, status_addr, wrote: wrote && status == VIRTIO_BLK_S_OK })
    }

    /// Runs a request whose chain passed the checks; returns the status, the number of
    /// data bytes written to the guest and whether it wrote to the storage.
    fn execute<M, S>(&self, r: &Request<'_>, mem: &mut M, disk: &mut S, buf: &mut [u8]) -> (u8, u64, bool)
    where
        M: GuestMemory + ?Sized,
        S: BlockStorage + ?Sized,
    {
        if r.readable < HEADER_SIZE {
            return (VIRTIO_BLK_S_IOERR, 0, false);
        }
        let mut hdr = [0u8; HEADER_SIZE as usize];
        if r.copy_in(&*mem, 0, &mut hdr) != Ok(hdr.len() as u64) {
            return (VIRTIO_BLK_S_IOERR, 0, false);
        }
        let [t0, t1, t2, t3, _, _, _, _, s0, s1, s2, s3, s4, s5, s6, s7] = hdr;
        let kind = u32::from_le_bytes([t0, t1, t2, t3]);
        let sector = u64::from_le_bytes([s0, s1, s2, s3, s4, s5, s6, s7]);
        let data_out = r.readable - HEADER_SIZE;
        match kind {
            VIRTIO_BLK_T_IN => {
                if data_out != 0 {
                    return (VIRTIO_BLK_S_IOERR, 0, false);
                }
                match disk_range(disk, sector, r.data_in) {
                    Some(offset) => {
                        let (status, n) = r.read_disk(mem, disk, offset, buf);
                        (status, n, false)
                    }
                    None => (VIRTIO_BLK_S_IOERR, 0, false),
                }
            }
            VIRTIO_BLK_T_OUT => {
                if r.data_in != 0 || r.read_only || disk.read_only() {
                    return (VIRTIO_BLK_S_IOERR, 0, false);
                }
                match disk_range(disk, sector, data_out) {
                    Some(offset) => (r.write_disk(&*mem, disk, offset, data_out, buf), 0, true),
                    None => (VIRTIO_BLK_S_IOERR, 0, false),
                }
            }
            VIRTIO_BLK_T_FLUSH => match disk.flush() {
                Ok(()) => (VIRTIO_BLK_S_OK, 0, false),
                Err(_) => (VIRTIO_BLK_S_IOERR, 0, false),
            },
            VIRTIO_BLK_T_GET_ID => {
                let n = r.data_in.min(ID_BYTES as u64);
                match r.copy_out(mem, &self.serial[..n as usize]) {
                    Ok(()) => (VIRTIO_BLK_S_OK, n, false),
                    Err(()) => (VIRTIO_BLK_S_IOERR, 0, false),
                }
            }
            _ => (VIRTIO_BLK_S_UNSUPP, 0, false),
        }
    }
}

/// The byte offset of a `len`-byte transfer at `sector`, if it is whole sectors that lie
/// inside the disk.
fn disk_range(disk: &(impl BlockStorage + ?Sized), sector: u64, len: u64) -> Option<u64> {
    if len % SECTOR_SIZE != 0 {
        return None;
    }
    let offset = sector.checked_mul(SECTOR_SIZE)?;
    let end = offset.checked_add(len)?;
    let size = disk.size_bytes() / SECTOR_SIZE * SECTOR_SIZE;
    (end <= size).then_some(offset)
}

/// One request's chain, after pass 1.
struct Request<'q> {
    q: &'q SplitQueue,
    head: u16,
    /// Device-readable bytes (header and data out).
    readable: u64,
    /// Device-writable bytes before the status byte.
    data_in: u64,
    /// The device offered `VIRTIO_BLK_F_RO`.
    read_only: bool,
}

impl Request<'_> {
    /// Copies readable bytes from `skip` on into `out`; returns how many it found.
    fn copy_in<M: GuestMemory + ?Sized>(&self, mem: &M, skip: u64, out: &mut [u8]) -> Result<u64, ()> {
        let mut s = Stream::new(self.q.chain(self.head), false, skip, out.len() as u64);
        let mut done = 0usize;
        while let Some((addr, n)) = s.next_range(mem, (out.len() - done) as u64).map_err(|_| ())? {
            let dst = out.get_mut(done..done + n as usize).ok_or(())?;
            mem.read(addr, dst).map_err(|_| ())?;
            done += dst.len();
        }
        Ok(done as u64)
    }

    /// Writes `data` at the start of the writable bytes.
    fn copy_out<M: GuestMemory + ?Sized>(&self, mem: &mut M, data: &[u8]) -> Result<(), ()> {
        let mut s = Stream::new(self.q.chain(self.head), true, 0, data.len() as u64);
        let mut done = 0usize;
        while let Some((addr, n)) = s.next_range(&*mem, (data.len() - done) as u64).map_err(|_| ())? {
            let src = data.get(done..done + n as usize).ok_or(())?;
            mem.write(addr, src).map_err(|_| ())?;
            done += src.len();
        }
        if done == data.len() {
            Ok(())
        } else {
            Err(())
        }
    }

    /// `T_IN`: disk bytes from `offset` into the writable data; (status, bytes written).
    fn read_disk<M, S>(&self, mem: &mut M, disk: &mut S, offset: u64, buf: &mut [u8]) -> (u8, u64)
    where
        M: GuestMemory + ?Sized,
        S: BlockStorage + ?Sized,
    {
        let mut s = Stream::new(self.q.chain(self.head), true, 0, self.data_in);
        let mut done = 0u64;
        loop {
            let (addr, n) = match s.next_range(&*mem, buf.len() as u64) {
                Ok(Some(r)) => r,
                Ok(None) => break,
                Err(_) => return (VIRTIO_BLK_S_IOERR, done),
            };
            let chunk = &mut buf[..n as usize];
            let Some(pos) = offset.checked_add(done) else { return (VIRTIO_BLK_S_IOERR, done) };
            if disk.read_at(pos, chunk).is_err() || mem.write(addr, chunk).is_err() {
                return (VIRTIO_BLK_S_IOERR, done);
            }
            done += n;
        }
        // Fewer bytes than pass 1 counted: the driver changed the chain meanwhile.
        let status = if done == self.data_in { VIRTIO_BLK_S_OK } else { VIRTIO_BLK_S_IOERR };
        (status, done)
    }

    /// `T_OUT`: the readable data after the header to the disk at `offset`.
    fn write_disk<M, S>(&self, mem: &M, disk: &mut S, offset: u64, len: u64, buf: &mut [u8]) -> u8
    where
        M: GuestMemory + ?Sized,
        S: BlockStorage + ?Sized,
    {
        let mut s = Stream::new(self.q.chain(self.head), false, HEADER_SIZE, len);
        let mut done = 0u64;
        loop {
            let (addr, n) = match s.next_range(mem, buf.len() as u64) {
                Ok(Some(r)) => r,
                Ok(None) => break,
                Err(_) => return VIRTIO_BLK_S_IOERR,
            };
            let chunk = &mut buf[..n as usize];
            let Some(pos) = offset.checked_add(done) else { return VIRTIO_BLK_S_IOERR };
            if mem.read(addr, chunk).is_err() || disk.write_at(pos, chunk).is_err() {
                return VIRTIO_BLK_S_IOERR;
            }
            done += n;
        }
        if done == len {
            VIRTIO_BLK_S_OK
        } else {
            VIRTIO_BLK_S_IOERR
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate alloc;

    use alloc::vec;
    use alloc::vec::Vec;

    use super::super::testutil::{VecDisk, VecMemory};
    use super::super::virtqueue::tests::{put_desc, AVAIL, DESC, RAM, USED};
    use super::super::virtqueue::{AVAIL_F_NO_INTERRUPT, DESC_F_INDIRECT, DESC_F_NEXT, DESC_F_WRITE};
    use super::*;

    const HDR: u64 = RAM + 0x4000;
    const DATA: u64 = RAM + 0x10000;
    const STATUS: u64 = RAM + 0x5000;
    const TABLE: u64 = RAM + 0x6000;
    const R: u16 = 0;
    const W: u16 = DESC_F_WRITE;

    /// A driver-side view of one queue in test memory.
    struct Ring {
        mem: VecMemory,
        disk: VecDisk,
        worker: BlkWorker,
        job: QueueJob,
        avail: u16,
        next_desc: u16,
        scratch: Vec<u8>,
    }

    impl Ring {
        fn new(size: u16, indirect: bool) -> Self {
            let queue = SplitQueue { desc: DESC, avail: AVAIL, used: USED, size, indirect };
            Self {
                mem: VecMemory::new(RAM, 0x40000),
                disk: VecDisk::new(64 * 512),
                worker: BlkWorker::new(b"kemu-disk-0"),
                job: QueueJob { generation: 1, queue, features: VIRTIO_F_VERSION_1, read_only: false },
                avail: 0,
                next_desc: 0,
                scratch: vec![0; 4096],
            }
        }

        fn header(&mut self, kind: u32, sector: u64) {
            self.mem.put_u32(HDR, kind);
            self.mem.put_u32(HDR + 4, 0);
            self.mem.put_u64(HDR + 8, sector);
            self.mem.put(STATUS, &[0xff]);
        }

        /// Adds a chain of (addr, len, flags) to the descriptor table and the avail ring.
        fn chain(&mut self, segs: &[(u64, u32, u16)]) -> u16 {
            let size = self.job.queue.size;
            let head = self.next_desc;
            for (i, &(addr, len, flags)) in segs.iter().enumerate() {
                let idx = (head + i as u16) % size;
                let last = i + 1 == segs.len();
                let flags = if last { flags } else { flags | DESC_F_NEXT };
                put_desc(&mut self.mem, DESC, idx, addr, len, flags, (idx + 1) % size);
            }
            self.next_desc = (head + segs.len() as u16) % size;
            self.offer(head);
            head
        }

        fn offer(&mut self, head: u16) {
            let slot = u64::from(self.avail % self.job.queue.size);
            self.mem.put_u16(AVAIL + 4 + 2 * slot, head);
            self.avail = self.avail.wrapping_add(1);
            self.mem.put_u16(AVAIL + 2, self.avail);
        }

        fn process(&mut self) -> Completion {
            self.worker.process(&self.job, &mut self.mem, &mut self.disk, &mut self.scratch)
        }

        fn used_idx(&self) -> u16 {
            self.mem.get_u16(USED + 2)
        }

        /// Used element `n`: (id, len).
        fn used(&self, n: u16) -> (u32, u32) {
            let e = USED + 4 + 8 * u64::from(n % self.job.queue.size);
            (self.mem.get_u32(e), self.mem.get_u32(e + 4))
        }

        fn status(&self) -> u8 {
            self.mem.get(STATUS, 1)[0]
        }

        fn ok(&mut self) -> Completion {
            let c = self.process();
            assert!(!c.needs_reset, "{c:?}");
            c
        }
    }

    fn disk_bytes(d: &VecDisk, sector: u64, len: usize) -> Vec<u8> {
        let o = (sector * 512) as usize;
        d.data[o..o + len].to_vec()
    }

    #[test]
    fn config_space_and_features() {
        let mut d = VecDisk::new(10 * 512 + 100);
        let c = BlkConfig::for_storage(&d);
        assert_eq!(c.capacity, 10);
        assert_eq!(c.features() & VIRTIO_BLK_F_RO, 0);
        assert_ne!(c.features() & VIRTIO_BLK_F_FLUSH, 0);
        d.write_through = true;
        assert_eq!(BlkConfig::for_storage(&d).features() & VIRTIO_BLK_F_FLUSH, 0, "write-through: no flushes");
        d.read_only = true;
        let c = BlkConfig::for_storage(&d);
        assert_ne!(c.features() & VIRTIO_BLK_F_RO, 0);
        assert_ne!(c.features() & VIRTIO_F_VERSION_1, 0);
        let bytes: Vec<u8> = (0..0x20).map(|i| c.config_byte(i)).collect();
        assert_eq!(&bytes[0..8], &10u64.to_le_bytes());
        assert_eq!(&bytes[0x0c..0x10], &254u32.to_le_bytes());
        assert_eq!(&bytes[0x14..0x18], &512u32.to_le_bytes());
        assert!(bytes[0x08..0x0c].iter().chain(&bytes[0x10..0x14]).chain(&bytes[0x18..]).all(|&b| b == 0));
        assert_eq!(c.config_byte(u64::MAX), 0);
    }

    #[test]
    fn read_two_segments() {
        let mut r = Ring::new(8, false);
        r.header(VIRTIO_BLK_T_IN, 3);
        let head = r.chain(&[(HDR, 16, R), (DATA, 512, W), (DATA + 0x1000, 512, W), (STATUS, 1, W)]);
        let c = r.ok();
        assert!(c.notify && !c.more);
        assert_eq!(r.status(), VIRTIO_BLK_S_OK);
        assert_eq!(r.mem.get(DATA, 512), disk_bytes(&r.disk, 3, 512));
        assert_eq!(r.mem.get(DATA + 0x1000, 512), disk_bytes(&r.disk, 4, 512));
        assert_eq!(r.used_idx(), 1);
        assert_eq!(r.used(0), (u32::from(head), 1025));
        // Nothing new: nothing done, no interrupt.
        let c = r.ok();
        assert!(!c.notify);
        assert_eq!(r.used_idx(), 1);
    }

    #[test]
    fn write_multi_segment_then_flush() {
        let mut r = Ring::new(8, false);
        r.scratch = vec![0; 100]; // forces several storage calls per segment
        r.mem.put(DATA, &[0xaa; 512]);
        r.mem.put(DATA + 0x1000, &[0xbb; 1024]);
        r.header(VIRTIO_BLK_T_OUT, 10);
        r.chain(&[(HDR, 16, R), (DATA, 512, R), (DATA + 0x1000, 1024, R), (STATUS, 1, W)]);
        r.ok();
        assert_eq!(r.status(), VIRTIO_BLK_S_OK);
        assert_eq!(r.used(0).1, 1);
        assert_eq!(disk_bytes(&r.disk, 10, 512), vec![0xaa; 512]);
        assert_eq!(disk_bytes(&r.disk, 11, 1024), vec![0xbb; 1024]);
        assert_eq!(r.disk.unflushed, 1536);
        assert_eq!(r.disk.flushes, 0);
        r.header(VIRTIO_BLK_T_FLUSH, 0);
        r.chain(&[(HDR, 16, R), (STATUS, 1, W)]);
        r.ok();
        assert_eq!(r.status(), VIRTIO_BLK_S_OK);
        assert_eq!(r.disk.flushes, 1);
        assert_eq!(r.disk.unflushed, 0);
    }

    #[test]
    fn framing_is_free() {
        // Header split in two descriptors, data and status in one writable descriptor.
        let mut r = Ring::new(8, false);
        r.mem.put_u32(DATA + 0x2000, VIRTIO_BLK_T_IN);
        r.mem.put_u32(DATA + 0x2004, 0);
        r.mem.put_u64(DATA + 0x3000, 7);
        r.chain(&[(DATA + 0x2000, 8, R), (DATA + 0x3000, 8, R), (DATA, 513, W)]);
        r.ok();
        assert_eq!(r.mem.get(DATA, 512), disk_bytes(&r.disk, 7, 512));
        assert_eq!(r.mem.get(DATA + 512, 1), [VIRTIO_BLK_S_OK]);
        assert_eq!(r.used(0).1, 513);
    }

    #[test]
    fn get_id() {
        let mut r = Ring::new(8, false);
        r.header(VIRTIO_BLK_T_GET_ID, 0);
        r.mem.put(DATA, &[0xee; 32]);
        r.chain(&[(HDR, 16, R), (DATA, 20, W), (STATUS, 1, W)]);
        r.ok();
        assert_eq!(r.status(), VIRTIO_BLK_S_OK);
        let mut want = b"kemu-disk-0".to_vec();
        want.resize(20, 0);
        assert_eq!(r.mem.get(DATA, 20), want);
        assert_eq!(r.mem.get(DATA + 20, 1), [0xee]);
        assert_eq!(r.used(0).1, 21);
        // A shorter buffer gets the start of the string.
        r.mem.put(DATA, &[0xee; 32]);
        r.chain(&[(HDR, 16, R), (DATA, 4, W), (STATUS, 1, W)]);
        r.ok();
        assert_eq!(r.mem.get(DATA, 5), b"kemu\xee");
    }

    #[test]
    fn unsupported_type() {
        let mut r = Ring::new(8, false);
        for kind in [11, 13, 0x8000_0000] {
            r.header(kind, 0);
            r.chain(&[(HDR, 16, R), (STATUS, 1, W)]);
            r.ok();
            assert_eq!(r.status(), VIRTIO_BLK_S_UNSUPP);
        }
    }

    #[test]
    fn read_only_disk_refuses_writes() {
        let mut r = Ring::new(8, false);
        r.disk.read_only = true;
        let before = r.disk.data.clone();
        r.header(VIRTIO_BLK_T_OUT, 0);
        r.chain(&[(HDR, 16, R), (DATA, 512, R), (STATUS, 1, W)]);
        r.ok();
        assert_eq!(r.status(), VIRTIO_BLK_S_IOERR);
        assert_eq!(r.disk.writes, 0, "nothing reached the storage");
        assert_eq!(r.disk.data, before);
        // Offered RO over writable storage: writes fail just the same.
        r.disk.read_only = false;
        r.job.read_only = true;
        r.header(VIRTIO_BLK_T_OUT, 0);
        r.chain(&[(HDR, 16, R), (DATA, 512, R), (STATUS, 1, W)]);
        r.ok();
        assert_eq!(r.status(), VIRTIO_BLK_S_IOERR);
        assert_eq!(r.disk.writes, 0);
        // Reads still work.
        r.header(VIRTIO_BLK_T_IN, 0);
        r.chain(&[(HDR, 16, R), (DATA, 512, W), (STATUS, 1, W)]);
        r.ok();
        assert_eq!(r.status(), VIRTIO_BLK_S_OK);
    }

    #[test]
    fn malformed_requests_get_ioerr() {
        type Case = (&'static str, u32, u64, &'static [(u64, u32, u16)]);
        let cases: &[Case] = &[
            ("short header", VIRTIO_BLK_T_IN, 0, &[(HDR, 8, R), (DATA, 512, W), (STATUS, 1, W)]),
            ("no header", VIRTIO_BLK_T_FLUSH, 0, &[(STATUS, 1, W)]),
            ("read with readable data", VIRTIO_BLK_T_IN, 0, &[(HDR, 16, R), (DATA, 512, R), (STATUS, 1, W)]),
            ("write with writable data", VIRTIO_BLK_T_OUT, 0, &[(HDR, 16, R), (DATA, 512, W), (STATUS, 1, W)]),
            ("partial sector", VIRTIO_BLK_T_IN, 0, &[(HDR, 16, R), (DATA, 100, W), (STATUS, 1, W)]),
            ("past the end", VIRTIO_BLK_T_IN, 63, &[(HDR, 16, R), (DATA, 1024, W), (STATUS, 1, W)]),
            ("sector overflow", VIRTIO_BLK_T_OUT, u64::MAX / 256, &[(HDR, 16, R), (DATA, 512, R), (STATUS, 1, W)]),
            ("huge sector", VIRTIO_BLK_T_IN, u64::MAX, &[(HDR, 16, R), (DATA, 512, W), (STATUS, 1, W)]),
            ("data outside RAM", VIRTIO_BLK_T_IN, 0, &[(HDR, 16, R), (0x1000, 512, W), (STATUS, 1, W)]),
            ("data at top of memory", VIRTIO_BLK_T_OUT, 0, &[(HDR, 16, R), (u64::MAX - 100, 512, R), (STATUS, 1, W)]),
            ("header outside RAM", VIRTIO_BLK_T_IN, 0, &[(0x10, 16, R), (DATA, 512, W), (STATUS, 1, W)]),
        ];
        for &(what, kind, sector, segs) in cases {
            let mut r = Ring::new(8, false);
            let before = r.disk.data.clone();
            r.header(kind, sector);
            r.chain(segs);
            let c = r.process();
            assert!(!c.needs_reset && c.notify, "{what}: {c:?}");
            assert_eq!(r.status(), VIRTIO_BLK_S_IOERR, "{what}");
            assert_eq!(r.used_idx(), 1, "{what}");
            assert_eq!(r.disk.data, before, "{what}");
        }
    }

    #[test]
    fn storage_errors_get_ioerr() {
        for kind in [VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT, VIRTIO_BLK_T_FLUSH] {
            let mut r = Ring::new(8, false);
            r.disk.fail = true;
            r.header(kind, 0);
            let dir = if kind == VIRTIO_BLK_T_IN { W } else { R };
            if kind == VIRTIO_BLK_T_FLUSH {
                r.chain(&[(HDR, 16, R), (STATUS, 1, W)]);
            } else {
                r.chain(&[(HDR, 16, R), (DATA, 512, dir), (STATUS, 1, W)]);
            }
            r.ok();
            assert_eq!(r.status(), VIRTIO_BLK_S_IOERR, "type {kind}");
        }
    }

    #[test]
    fn broken_chains_need_reset() {
        type Setup = fn(&mut Ring);
        let cases: &[(&str, Setup)] = &[
            ("no status byte", |r| {
                r.header(VIRTIO_BLK_T_IN, 0);
                r.chain(&[(HDR, 16, R), (DATA, 512, R)]);
            }),
            ("zero-length writable only", |r| {
                r.header(VIRTIO_BLK_T_FLUSH, 0);
                r.chain(&[(HDR, 16, R), (STATUS, 0, W)]);
            }),
            ("status outside RAM", |r| {
                r.header(VIRTIO_BLK_T_FLUSH, 0);
                r.chain(&[(HDR, 16, R), (0x20, 1, W)]);
            }),
            ("loop", |r| {
                r.header(VIRTIO_BLK_T_IN, 0);
                put_desc(&mut r.mem, DESC, 0, HDR, 16, DESC_F_NEXT, 1);
                put_desc(&mut r.mem, DESC, 1, DATA, 512, DESC_F_NEXT | W, 0);
                r.offer(0);
            }),
            ("next out of table", |r| {
                r.header(VIRTIO_BLK_T_IN, 0);
                put_desc(&mut r.mem, DESC, 0, HDR, 16, DESC_F_NEXT, 9);
                r.offer(0);
            }),
            ("head out of table", |r| r.offer(8)),
            ("readable after writable", |r| {
                r.header(VIRTIO_BLK_T_IN, 0);
                r.chain(&[(HDR, 16, R), (STATUS, 1, W), (DATA, 512, R)]);
            }),
            ("indirect not negotiated", |r| {
                r.header(VIRTIO_BLK_T_FLUSH, 0);
                put_desc(&mut r.mem, TABLE, 0, HDR, 16, DESC_F_NEXT, 1);
                put_desc(&mut r.mem, TABLE, 1, STATUS, 1, W, 0);
                r.chain(&[(TABLE, 32, DESC_F_INDIRECT)]);
            }),
            ("avail index jumps", |r| r.mem.put_u16(AVAIL + 2, 9)),
            ("descriptor table outside RAM", |r| {
                r.job.queue.desc = 0x1000;
                r.chain(&[(HDR, 16, R), (STATUS, 1, W)]);
            }),
            ("avail ring outside RAM", |r| r.job.queue.avail = u64::MAX - 1),
            ("used ring outside RAM", |r| {
                r.job.queue.used = 0x100;
                r.header(VIRTIO_BLK_T_FLUSH, 0);
                r.chain(&[(HDR, 16, R), (STATUS, 1, W)]);
            }),
        ];
        for &(what, setup) in cases {
            let mut r = Ring::new(8, false);
            setup(&mut r);
            let c = r.process();
            assert!(c.needs_reset, "{what}: {c:?}");
        }
    }

    #[test]
    fn indirect_request() {
        let mut r = Ring::new(8, true);
        r.header(VIRTIO_BLK_T_IN, 5);
        put_desc(&mut r.mem, TABLE, 0, HDR, 16, DESC_F_NEXT, 1);
        put_desc(&mut r.mem, TABLE, 1, DATA, 512, DESC_F_NEXT | W, 2);
        put_desc(&mut r.mem, TABLE, 2, STATUS, 1, W, 0);
        // The indirect descriptor's own WRITE flag is ignored.
        r.chain(&[(TABLE, 48, DESC_F_INDIRECT | W)]);
        r.ok();
        assert_eq!(r.status(), VIRTIO_BLK_S_OK);
        assert_eq!(r.mem.get(DATA, 512), disk_bytes(&r.disk, 5, 512));
    }

    #[test]
    fn many_requests_wrap_the_rings() {
        let mut r = Ring::new(4, false);
        for round in 0..40u64 {
            r.header(VIRTIO_BLK_T_IN, round % 64);
            r.chain(&[(HDR, 16, R), (DATA, 512, W), (STATUS, 1, W)]);
            r.ok();
            assert_eq!(r.status(), VIRTIO_BLK_S_OK);
            assert_eq!(r.mem.get(DATA, 512), disk_bytes(&r.disk, round % 64, 512));
            assert_eq!(r.used_idx(), round as u16 + 1);
            assert_eq!(r.worker.served(), round + 1);
        }
        // Several at once, with 16-bit index wrap-around.
        let mut r = Ring::new(4, false);
        r.avail = 0xfffe;
        r.mem.put_u16(AVAIL + 2, 0xfffe);
        r.worker.last_avail = 0xfffe;
        r.worker.used_idx = 0xfffe;
        r.worker.generation = Some(r.job.generation);
        for _ in 0..4 {
            r.header(VIRTIO_BLK_T_FLUSH, 0);
            r.chain(&[(HDR, 16, R), (STATUS, 1, W)]);
        }
        r.ok();
        assert_eq!(r.used_idx(), 2);
        assert_eq!(r.disk.flushes, 4);
    }

    /// Write-through storage: one sync per batch of writes, before any of them is
    /// completed; a failed sync fails the batch's writes; reads and write-back storage
    /// cost no sync.
    #[test]
    fn write_through_syncs_once_per_batch() {
        // Requests that differ only in their status byte (and the sector's data).
        fn queue(r: &mut Ring, kind: u32, n: u16) {
            r.header(kind, 5);
            for i in 0..n {
                let dir = if kind == VIRTIO_BLK_T_IN { W } else { R };
                r.chain(&[(HDR, 16, R), (DATA, 512, dir), (STATUS + u64::from(i), 1, W)]);
                r.mem.put(STATUS + u64::from(i), &[0xff]);
            }
        }
        let statuses = |r: &Ring, n: u16| r.mem.get(STATUS, usize::from(n));
        let mut r = Ring::new(64, false);
        r.disk.write_through = true;
        r.mem.put(DATA, &[0x5a; 512]);
        queue(&mut r, VIRTIO_BLK_T_OUT, 20);
        assert!(r.ok().notify);
        assert_eq!(r.used_idx(), 20);
        assert_eq!(r.disk.writes, 20);
        assert_eq!(r.disk.flushes, 20_usize.div_ceil(BATCH), "one sync per batch");
        assert_eq!(r.disk.unflushed, 0, "every completed write is durable");
        assert_eq!(statuses(&r, 20), vec![VIRTIO_BLK_S_OK; 20]);
        assert_eq!(disk_bytes(&r.disk, 5, 512), vec![0x5a; 512]);
        // Reads alone sync nothing.
        queue(&mut r, VIRTIO_BLK_T_IN, 3);
        r.ok();
        assert_eq!(r.used_idx(), 23);
        assert_eq!(r.disk.flushes, 2);
        // A failed sync: the batch's writes fail, its reads do not.
        r.disk.fail_flush = true;
        queue(&mut r, VIRTIO_BLK_T_OUT, 3);
        r.header(VIRTIO_BLK_T_IN, 5);
        r.chain(&[(HDR, 16, R), (DATA, 512, W), (STATUS + 3, 1, W)]);
        r.ok();
        assert_eq!(r.used_idx(), 27);
        assert_eq!(statuses(&r, 4), vec![VIRTIO_BLK_S_IOERR, VIRTIO_BLK_S_IOERR, VIRTIO_BLK_S_IOERR, VIRTIO_BLK_S_OK]);
        // Write-back storage: no sync until the guest asks.
        let mut r = Ring::new(64, false);
        queue(&mut r, VIRTIO_BLK_T_OUT, 20);
        r.ok();
        assert_eq!((r.used_idx(), r.disk.flushes, r.disk.unflushed), (20, 0, 20 * 512));
    }

    #[test]
    fn no_interrupt_flag_and_new_generation() {
        let mut r = Ring::new(8, false);
        r.mem.put_u16(AVAIL, AVAIL_F_NO_INTERRUPT);
        r.header(VIRTIO_BLK_T_FLUSH, 0);
        r.chain(&[(HDR, 16, R), (STATUS, 1, W)]);
        let c = r.ok();
        assert!(!c.notify);
        assert_eq!(r.used_idx(), 1);
        // After a device reset the driver starts its rings at 0 again.
        r.job.generation = 2;
        r.mem.put(RAM, &[0; 0x4000]);
        r.avail = 0;
        r.next_desc = 0;
        r.header(VIRTIO_BLK_T_FLUSH, 0);
        r.chain(&[(HDR, 16, R), (STATUS, 1, W)]);
        let c = r.ok();
        assert!(c.notify);
        assert_eq!(r.used_idx(), 1);
        assert_eq!(c.generation, 2);
    }

    #[test]
    fn empty_scratch_still_works() {
        let mut r = Ring::new(8, false);
        r.scratch = Vec::new();
        r.header(VIRTIO_BLK_T_IN, 1);
        r.chain(&[(HDR, 16, R), (DATA, 4096, W), (STATUS, 1, W)]);
        r.ok();
        assert_eq!(r.mem.get(DATA, 4096), disk_bytes(&r.disk, 1, 4096));
    }

    /// Random descriptor tables and rings: the worker must return, without panicking,
    /// whatever the guest wrote.
    #[test]
    fn fuzz_random_rings() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut rnd = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for iter in 0..3000 {
            let size = 1u16 << (rnd() % 5);
            let mut r = Ring::new(size, iter % 2 == 0);
            r.scratch = vec![0; 1 + (rnd() % 700) as usize];
            // Descriptors: addresses mostly near the test buffers, sometimes wild.
            for i in 0..u64::from(size) {
                let addr = match rnd() % 8 {
                    0 => rnd(),
                    1 => TABLE + (rnd() % 4) * 16,
                    2 => HDR,
                    3 => STATUS,
                    _ => DATA + (rnd() % 0x8000),
                };
                let len = match rnd() % 6 {
                    0 => rnd() as u32,
                    1 => 16,
                    2 => 1,
                    _ => (rnd() % 2048) as u32,
                };
                let flags = (rnd() % 8) as u16;
                let next = (rnd() % (u64::from(size) + 2)) as u16;
                put_desc(&mut r.mem, DESC, i as u16, addr, len, flags, next);
                put_desc(&mut r.mem, TABLE, (rnd() % 4) as u16, addr, len, flags, next % 5);
            }
            r.mem.put_u32(HDR, (rnd() % 10) as u32);
            r.mem.put_u64(HDR + 8, rnd() % 80);
            for s in 0..u64::from(size) {
                r.mem.put_u16(AVAIL + 4 + 2 * s, (rnd() % (u64::from(size) + 1)) as u16);
            }
            r.mem.put_u16(AVAIL + 2, (rnd() % (u64::from(size) + 2)) as u16);
            let c = r.process();
            assert!(c.needs_reset || usize::from(r.used_idx()) <= usize::from(size), "{c:?}");
        }
    }
}
