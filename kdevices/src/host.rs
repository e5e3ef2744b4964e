//! What the devices need from their host: small traits that kemu.ko (kernel backends) and
//! kemuctl (userspace backends) implement. Nothing here allocates or blocks by contract;
//! a backend that can block (a disk) is only ever called from the host's worker side
//! (see [`super::virtio_blk`]), never from an MMIO access.

/// Why a block storage operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockError {
    /// The range lies (partly) beyond the end of the storage.
    OutOfRange,
    /// A write to read-only storage.
    ReadOnly,
    /// The backend's I/O failed (the kernel's -EIO and friends).
    Io,
}

/// A disk image: the backend of a virtio-blk device.
///
/// Offsets and lengths are in bytes. The device only issues whole 512-byte sectors
/// inside [`BlockStorage::size_bytes`], but implementations must still check ranges and
/// return [`BlockError::OutOfRange`] instead of faulting.
///
/// The host serialises calls per disk (one request at a time): the device relies on it to
/// apply a multi-segment write as one request.
pub trait BlockStorage {
    /// Size of the storage in bytes.
    fn size_bytes(&self) -> u64;
    /// Whether the storage refuses writes (the device then offers `VIRTIO_BLK_F_RO`).
    fn read_only(&self) -> bool;
    /// Whether writes must be durable when they complete (write-through, like QEMU's
    /// `cache=writethrough`). The device then calls [`flush`](Self::flush) after the
    /// writes of each batch of requests it serves, before it completes any of them (one
    /// sync for all the requests the guest queued at once), and offers no
    /// `VIRTIO_BLK_F_FLUSH`: the guest sees a disk without a volatile cache and sends no
    /// flushes (each would cost a sync for nothing). `write_at` itself need not sync.
    fn write_through(&self) -> bool {
        false
    }
    /// Fills `buf` from byte offset `offset`.
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), BlockError>;
    /// Writes `data` at byte offset `offset`.
    fn write_at(&mut self, offset: u64, data: &[u8]) -> Result<(), BlockError>;
    /// Makes every write that returned before this call durable (fsync).
    fn flush(&mut self) -> Result<(), BlockError>;
}

/// A monotonic clock: nanoseconds from an arbitrary origin, never going backwards.
pub trait MonotonicClock {
    /// Current time in nanoseconds.
    fn monotonic_ns(&self) -> u64;
}

/// The host's wall clock: nanoseconds since the Unix epoch (UTC).
pub trait WallClock {
    /// Current time in nanoseconds since 1970-01-01T00:00:00Z.
    fn wall_ns(&self) -> u64;
}

/// Where the UART's output goes (a terminal, a ring buffer behind `read()`...).
pub trait ConsoleSink {
    /// Takes as many leading bytes of `bytes` as it can right now and returns how many
    /// it took (0 when full). Bytes it did not take stay with the device, which shows the
    /// guest a busy transmitter until the host retries.
    fn send(&mut self, bytes: &[u8]) -> usize;
}

/// Where the UART's input comes from.
pub trait ConsoleSource {
    /// Moves up to `buf.len()` pending input bytes into `buf`; returns how many (0: none).
    fn recv(&mut self, buf: &mut [u8]) -> usize;
}

/// A guest-physical access that does not fall entirely inside guest RAM.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemError;

/// Guest RAM as seen by DMA-capable devices (virtio).
///
/// The CPU crate owns guest RAM; the host implements this trait for it. Addresses are
/// guest-physical. Both calls must check that the whole range `[addr, addr + len)` lies in
/// RAM (with overflow-checked arithmetic) and return [`MemError`] otherwise, copying
/// nothing or part of the range, but never touching host memory outside guest RAM.
///
/// Guest RAM may change under the device's feet (vCPUs run concurrently): implementations
/// copy bytes (no Rust references into guest RAM are handed out), and the device never
/// trusts a value it read twice to be the same.
pub trait GuestMemory {
    /// Copies guest memory at `addr` into `buf`.
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), MemError>;
    /// Copies `data` into guest memory at `addr`.
    fn write(&mut self, addr: u64, data: &[u8]) -> Result<(), MemError>;
    /// Called before a device makes a completed request visible to the driver (the used
    /// ring's index): what the device wrote must be in effect by then. A host whose CPU
    /// caches translated code drops any it wrote over here; the default does nothing.
    fn before_publish(&mut self) {}
}

impl<T: BlockStorage + ?Sized> BlockStorage for &mut T {
    fn size_bytes(&self) -> u64 {
        (**self).size_bytes()
    }
    fn read_only(&self) -> bool {
        (**self).read_only()
    }
    fn write_through(&self) -> bool {
        (**self).write_through()
    }
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), BlockError> {
        (**self).read_at(offset, buf)
    }
    fn write_at(&mut self, offset: u64, data: &[u8]) -> Result<(), BlockError> {
        (**self).write_at(offset, data)
    }
    fn flush(&mut self) -> Result<(), BlockError> {
        (**self).flush()
    }
}

impl<T: GuestMemory + ?Sized> GuestMemory for &mut T {
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), MemError> {
        (**self).read(addr, buf)
    }
    fn write(&mut self, addr: u64, data: &[u8]) -> Result<(), MemError> {
        (**self).write(addr, data)
    }
    fn before_publish(&mut self) {
        (**self).before_publish();
    }
}
