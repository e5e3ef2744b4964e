//! The DMA worker: serves the virtio-blk queues the guest kicked, off the vCPU thread.
//!
//! One policy for both hosts: each round serves one request of every kicked slot in slot
//! order and marks a slot kicked again while its queue holds more, so that one busy disk
//! cannot starve the others. A request's job is taken and completed under the machine
//! lock; its I/O runs with only the worker lock held. A stop request ends the loop before
//! the next request, and makes the storage calls of the one in progress fail
//! ([`Stoppable`]): STOP waits for at most one scratch-sized call, whatever the guest
//! queued. Before a completion becomes visible, code the request wrote over is dropped
//! ([`DmaMemory::before_publish`]).

use core::sync::atomic::Ordering;

use super::super::kdevices::host::{BlockError, BlockStorage, GuestMemory, MemError};
use super::super::ktranslator::ram::GuestRam;
use super::super::ktranslator::tcache::CodePages;
use super::host::{Queue, VmHost};
use super::ranges::RangeLog;
use super::state::Control;
use super::SLOTS;

/// How long the worker sleeps between looks at the stop flag when nothing is kicked.
const IDLE_NS: u64 = 100_000_000;
/// How long `before_publish` waits between looks at the stop flag.
const SYNC_POLL_NS: u64 = 10_000_000;

/// Guest memory as DMA sees it: writes are recorded, and code they overwrote is dropped
/// before the guest can see the request complete.
pub struct DmaMemory<'a, H: VmHost> {
    host: &'a H,
    ram: GuestRam,
    code: CodePages,
    written: RangeLog,
}

impl<'a, H: VmHost> DmaMemory<'a, H> {
    /// DMA into `ram`, whose translated code the hart marks in `code`.
    ///
    /// # Safety
    /// The memory behind `ram` and the bitmap behind `code` (the hart's arena) stay valid
    /// for as long as the returned value is used.
    pub unsafe fn new(host: &'a H, ram: GuestRam, code: CodePages) -> Self {
        Self { host, ram, code, written: RangeLog::new() }
    }

    fn wrote_code(&self) -> bool {
        // Order the writes before the bitmap reads (the hart marks a page, fences, then
        // reads its code: see `CodePages`).
        core::sync::atomic::fence(Ordering::SeqCst);
        // SAFETY: `new`'s contract keeps the bitmap valid.
        self.written.iter().any(|(a, l)| unsafe { self.code.may_hold_code(a, l) })
    }
}

impl<H: VmHost> GuestMemory for DmaMemory<'_, H> {
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), MemError> {
        if self.ram.read_bytes(addr, buf) {
            Ok(())
        } else {
            Err(MemError)
        }
    }

    fn write(&mut self, addr: u64, data: &[u8]) -> Result<(), MemError> {
        if !self.ram.write_bytes(addr, data) {
            return Err(MemError);
        }
        self.written.push(addr, data.len() as u64);
        Ok(())
    }

    /// If the request wrote over translated code, hands the ranges to the vCPU and waits
    /// until it dropped that code (it leaves `run` at its next unchained block: bounded
    /// by a slice), so that no stale translation of what the guest sees on disk runs
    /// after it sees the completion.
    fn before_publish(&mut self) {
        if self.written.is_empty() || !self.wrote_code() {
            return;
        }
        let h = self.host;
        let mut g = h.machine();
        g.dma.append(&mut self.written);
        h.control().attention.store(true, Ordering::Release);
        h.notify(Queue::Vcpu);
        while !g.dma.is_empty() && !h.control().stop_requested() {
            g = h.wait(Queue::DmaSynced, g, SYNC_POLL_NS);
        }
    }
}

/// A disk as the worker uses it: every storage call fails once the VM is asked to stop
/// (flushes excepted: what the guest wrote before one stays durable).
pub struct Stoppable<'a, D> {
    file: &'a mut D,
    control: &'a Control,
}

impl<D: BlockStorage> Stoppable<'_, D> {
    fn check(&self) -> Result<(), BlockError> {
        if self.control.stop_requested() {
            Err(BlockError::Io)
        } else {
            Ok(())
        }
    }
}

impl<D: BlockStorage> BlockStorage for Stoppable<'_, D> {
    fn size_bytes(&self) -> u64 {
        self.file.size_bytes()
    }
    fn read_only(&self) -> bool {
        self.file.read_only()
    }
    fn write_through(&self) -> bool {
        self.file.write_through()
    }
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), BlockError> {
        self.check()?;
        self.file.read_at(offset, buf)
    }
    fn write_at(&mut self, offset: u64, data: &[u8]) -> Result<(), BlockError> {
        self.check()?;
        self.file.write_at(offset, data)
    }
    fn flush(&mut self) -> Result<(), BlockError> {
        self.file.flush()
    }
}

/// The worker loop: serves kicked queues until the host asks the VM to stop. Requests
/// already in the rings then stay there (the VM is going away).
pub fn run_worker<H: VmHost>(host: &H, mem: &mut DmaMemory<'_, H>, scratch: &mut [u8]) {
    let ctl = host.control();
    loop {
        let kicks = {
            let mut g = host.machine();
            loop {
                if ctl.stop_requested() {
                    return;
                }
                if g.kicks != 0 {
                    break;
                }
                g = host.wait(Queue::Worker, g, IDLE_NS);
            }
            core::mem::take(&mut g.kicks)
        };
        let mut disks = host.worker();
        for slot in (0..SLOTS).filter(|s| kicks & (1 << s) != 0) {
            if ctl.stop_requested() {
                return;
            }
            let Some(disk) = disks.get_mut(slot) else { continue };
            let Some(job) = host.machine().machine.virtio_job(slot) else { continue };
            let mut file = Stoppable { file: &mut disk.file, control: ctl };
            let done = disk.blk.process(&job, mem, &mut file, scratch);
            let mut g = host.machine();
            g.dma.append(&mut mem.written);
            g.machine.virtio_complete(slot, &done);
            if done.more {
                g.kicks |= 1 << slot;
            }
            drop(g);
            ctl.disk_requests.store(disks.served(), Ordering::Relaxed);
            host.notify(Queue::Vcpu);
        }
    }
}
