//! The state both hosts keep for a VM, and who locks what: [`MachineState`] under the
//! machine lock, [`Disks`] under the worker lock, [`Control`] lock-free.

use core::ops::DerefMut;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::super::kdevices::host::BlockStorage;
use super::super::kdevices::machine::Machine;
use super::super::kdevices::virtio_blk::BlkWorker;
use super::ranges::RangeLog;
use super::ring::Ring;
use super::SLOTS;

/// Everything under the machine lock: the devices and what the threads hand each other.
pub struct MachineState<B> {
    /// The device models.
    pub machine: Machine,
    /// Console input the UART has not taken yet.
    pub input: Ring<B>,
    /// Virtio slots kicked since the worker last looked (bit `n`: slot `n`).
    pub(super) kicks: u8,
    /// Guest-RAM ranges DMA wrote since the vCPU last looked.
    pub(super) dma: RangeLog,
    /// The UART's transmitter found the console output full: retry between slices.
    pub(super) tx_blocked: bool,
    /// Translation-cache flushes caused by DMA writes.
    pub(super) dma_flushes: u64,
}

impl<B: DerefMut<Target = [u8]>> MachineState<B> {
    /// The state of a machine that has not run yet.
    pub fn new(machine: Machine, input: Ring<B>) -> Self {
        Self { machine, input, kicks: 0, dma: RangeLog::new(), tx_blocked: false, dma_flushes: 0 }
    }

    /// Hands the UART as much pending input as it takes.
    pub fn feed_input(&mut self) {
        let mut chunk = [0u8; 64];
        loop {
            let n = self.input.peek(&mut chunk);
            let took = self.machine.console_input(chunk.get(..n).unwrap_or(&[]));
            self.input.consume(took);
            if n == 0 || took < n {
                return;
            }
        }
    }

    /// Queues console input (as much as the input ring has room for) and feeds the
    /// UART; returns how many bytes were taken.
    pub fn queue_input(&mut self, bytes: &[u8]) -> usize {
        use super::super::kdevices::host::ConsoleSink;
        let n = self.input.send(bytes);
        self.feed_input();
        n
    }

    /// Translation-cache flushes caused by DMA writes so far.
    pub fn dma_flushes(&self) -> u64 {
        self.dma_flushes
    }
}

/// One attached disk and its request processor.
pub struct Disk<D> {
    /// The virtio-blk request processor.
    pub blk: BlkWorker,
    /// The backing file.
    pub file: D,
}

/// The disks, under the worker lock (the worker holds it while it serves a request).
pub struct Disks<D> {
    slots: [Option<Disk<D>>; SLOTS],
}

impl<D: BlockStorage> Default for Disks<D> {
    fn default() -> Self {
        Self { slots: [const { None }; SLOTS] }
    }
}

impl<D: BlockStorage> Disks<D> {
    /// The disk in `slot`, if one is attached.
    pub fn get_mut(&mut self, slot: usize) -> Option<&mut Disk<D>> {
        self.slots.get_mut(slot).and_then(Option::as_mut)
    }

    /// Attaches `disk` to an empty `slot`; gives it back if the slot is taken or invalid.
    pub fn attach(&mut self, slot: usize, disk: Disk<D>) -> Result<(), Disk<D>> {
        match self.slots.get_mut(slot) {
            Some(s @ None) => {
                *s = Some(disk);
                Ok(())
            }
            _ => Err(disk),
        }
    }

    /// The attached disks, in slot order.
    pub fn iter(&self) -> impl Iterator<Item = &Disk<D>> + '_ {
        self.slots.iter().flatten()
    }

    /// Detaches every disk (the VM is going away), in slot order.
    pub fn take_all(&mut self) -> impl Iterator<Item = Disk<D>> + '_ {
        self.slots.iter_mut().filter_map(Option::take)
    }

    /// Requests served over all disks.
    pub fn served(&self) -> u64 {
        self.slots.iter().flatten().map(|d| d.blk.served()).fold(0, u64::saturating_add)
    }
}

/// What the threads and the host signal each other without a lock.
#[derive(Debug, Default)]
pub struct Control {
    /// Makes the hart leave `run` at its next unchained block (`Hart::set_stop_flag`):
    /// set by a stop request and by DMA that wrote over translated code.
    pub(super) attention: AtomicBool,
    /// The host asked the VM to stop: both loops end (the worker's storage calls in
    /// progress fail, see [`super::worker`]).
    stop: AtomicBool,
    /// Disk requests served (published by the worker after each one).
    pub(super) disk_requests: AtomicU64,
}

impl Control {
    /// No request yet.
    pub const fn new() -> Self {
        Self { attention: AtomicBool::new(false), stop: AtomicBool::new(false), disk_requests: AtomicU64::new(0) }
    }

    /// Whether the host asked the VM to stop.
    pub fn stop_requested(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }

    /// Disk requests served so far.
    pub fn disk_requests(&self) -> u64 {
        self.disk_requests.load(Ordering::Relaxed)
    }

    pub(super) fn set_stop(&self) {
        self.stop.store(true, Ordering::Release);
        self.attention.store(true, Ordering::Release);
    }
}
