//! The CPU's view of everything that is not guest RAM.

/// Devices behind physical addresses that are not RAM, plus the platform timer.
///
/// The hart calls this for every load or store to a physical address outside guest
/// RAM. Sizes are 1, 2, 4 or 8 bytes; accesses are naturally aligned (misaligned MMIO
/// accesses raise an access fault in the hart without reaching the bus).
pub trait Bus {
    /// Reads `size` bytes at physical address `paddr`; `None` if nothing is there
    /// (the hart raises a load access fault).
    fn mmio_read(&mut self, paddr: u64, size: u8) -> Option<u64>;
    /// Writes the low `size` bytes of `val` at `paddr`; false if nothing is there (the
    /// hart raises a store/AMO access fault).
    fn mmio_write(&mut self, paddr: u64, size: u8, val: u64) -> bool;
    /// Current value of `mtime`, for the `time` CSR.
    fn time(&mut self) -> u64;
    /// Polled after every MMIO access: true makes [`run`](super::hart::Hart::run) return
    /// [`Exit::Stop`](super::hart::Exit::Stop) at the next block boundary (for example
    /// to let the host update interrupt lines after a device write, or to power off).
    fn stop_requested(&mut self) -> bool {
        false
    }
    /// A host monotonic clock in nanoseconds, read around each block translation to
    /// count [`Stats::translate_ns`](super::hart::Stats::translate_ns). The default
    /// (0) leaves that counter at 0; implement it with a cheap clock (it is read twice
    /// per translated block, never on the execution fast path).
    fn host_ns(&mut self) -> u64 {
        0
    }
}
