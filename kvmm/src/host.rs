//! What the machine loop needs from its host: the VM's three locks, wait queues that
//! release the machine lock while they sleep, clocks, and where console output goes.
//! kemu.ko implements it with kernel mutexes, condition variables and kthreads;
//! `kemuctl run` with std's.

use core::ops::DerefMut;

use super::super::kdevices::host::{BlockStorage, MonotonicClock, WallClock};
use super::ring::Ring;
use super::state::{Control, Disks, MachineState};

/// The wait queues of a VM.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Queue {
    /// The vCPU sleeping in WFI: DMA completions, console input, stop requests.
    Vcpu,
    /// The DMA worker waiting for kicks (or a stop request).
    Worker,
    /// The worker waiting for the vCPU to drop code DMA wrote over.
    DmaSynced,
    /// Writers of console input waiting for room (host-side waiters).
    InputRoom,
    /// Readers of console output waiting for bytes (host-side waiters).
    ConsoleOut,
}

/// A host of the machine loop. The three locks are taken in the order worker, machine,
/// console output; the guards unlock when dropped.
pub trait VmHost: MonotonicClock + WallClock + Sync {
    /// Storage of the console rings.
    type Buf: DerefMut<Target = [u8]>;
    /// A disk's backing file.
    type Disk: BlockStorage;
    /// The machine lock's guard.
    type MachineGuard<'a>: DerefMut<Target = MachineState<Self::Buf>>
    where
        Self: 'a;
    /// The worker lock's guard.
    type WorkerGuard<'a>: DerefMut<Target = Disks<Self::Disk>>
    where
        Self: 'a;
    /// The console-output lock's guard.
    type ConsoleGuard<'a>: DerefMut<Target = Ring<Self::Buf>>
    where
        Self: 'a;

    /// Takes the machine lock.
    fn machine(&self) -> Self::MachineGuard<'_>;
    /// Takes the worker lock (held while a disk request is served).
    fn worker(&self) -> Self::WorkerGuard<'_>;
    /// Takes the console-output lock.
    fn console_out(&self) -> Self::ConsoleGuard<'_>;
    /// Sleeps on `queue` with the machine lock released, for at most `timeout_ns` or
    /// until [`VmHost::notify`] (spurious wake-ups are allowed).
    fn wait<'a>(&'a self, queue: Queue, guard: Self::MachineGuard<'a>, timeout_ns: u64) -> Self::MachineGuard<'a>;
    /// Wakes the waiters of `queue`.
    fn notify(&self, queue: Queue);
    /// The VM's lock-free signals.
    fn control(&self) -> &Control;
    /// Called on the vCPU thread with no lock held, after each slice and before each WFI
    /// sleep: a host that writes console output itself (a terminal) does it here.
    fn flush_console(&self) {}
}

/// Asks the VM to stop: the vCPU leaves `run` at its next unchained block and the loop
/// ends, the worker starts no new request and the one in progress fails its remaining
/// storage calls. Returns at once; the host then joins its threads.
pub fn request_stop<H: VmHost>(host: &H) {
    host.control().set_stop();
    // Under the machine lock, so that no waiter can miss it between its check and its sleep.
    drop(host.machine());
    for q in [Queue::Vcpu, Queue::Worker, Queue::DmaSynced, Queue::InputRoom, Queue::ConsoleOut] {
        host.notify(q);
    }
}
