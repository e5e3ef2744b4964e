// SPDX-License-Identifier: GPL-2.0

//! kvmm's machine loop on kthreads: [`Shared`] is its host (kernel mutexes, condition
//! variables, the VM's clock), `kemu-vcpu/<id>` runs [`vcpu_main`] and `kemu-dma/<id>`
//! runs [`dma_main`].

use core::sync::atomic::Ordering;

use kernel::{
    prelude::*,
    sync::{Arc, MutexGuard},
    time::msecs_to_jiffies,
};

use super::Shared;
use crate::clock::KernelWallClock;
use crate::file_io::DiskFile;
use crate::kdevices::{
    host::{MonotonicClock, WallClock},
    sifive_test::MachineEvent,
};
use crate::ktranslator::{
    hart::{Hart, Stats},
    ram::GuestRam,
    tcache::CodePages,
};
use crate::kvmm::{
    host::{Queue, VmHost},
    ring::Ring,
    state::{Control, Disks, MachineState},
    vcpu::{run_vcpu, End, HtifPorts},
    worker::{run_worker, DmaMemory},
};
use crate::uapi;

impl MonotonicClock for Shared {
    fn monotonic_ns(&self) -> u64 {
        self.clock.ns()
    }
}

impl WallClock for Shared {
    fn wall_ns(&self) -> u64 {
        KernelWallClock.wall_ns()
    }
}

impl VmHost for Shared {
    type Buf = KVec<u8>;
    type Disk = DiskFile;
    type MachineGuard<'a> = MutexGuard<'a, MachineState<KVec<u8>>>;
    type WorkerGuard<'a> = MutexGuard<'a, Disks<DiskFile>>;
    type ConsoleGuard<'a> = MutexGuard<'a, Ring<KVec<u8>>>;

    fn machine(&self) -> Self::MachineGuard<'_> {
        self.machine.lock()
    }
    fn worker(&self) -> Self::WorkerGuard<'_> {
        self.worker.lock()
    }
    fn console_out(&self) -> Self::ConsoleGuard<'_> {
        self.console_out.lock()
    }
    fn wait<'a>(&'a self, queue: Queue, mut guard: Self::MachineGuard<'a>, timeout_ns: u64) -> Self::MachineGuard<'a> {
        let cv = match queue {
            Queue::Vcpu => &self.wake,
            Queue::Worker => &self.dma_wake,
            Queue::DmaSynced => &self.dma_synced,
            Queue::InputRoom => &self.input_room,
            // Console readers wait with `console_out`, not the machine lock.
            Queue::ConsoleOut => return guard,
        };
        let ms = u32::try_from(timeout_ns.div_ceil(1_000_000)).unwrap_or(u32::MAX).max(1);
        let _ = cv.wait_interruptible_timeout(&mut guard, msecs_to_jiffies(ms));
        guard
    }
    fn notify(&self, queue: Queue) {
        match queue {
            Queue::Vcpu => self.wake.notify_all(),
            Queue::Worker => self.dma_wake.notify_all(),
            Queue::DmaSynced => self.dma_synced.notify_all(),
            Queue::InputRoom => self.input_room.notify_all(),
            Queue::ConsoleOut => self.console_wait.notify_all(),
        }
    }
    fn control(&self) -> &Control {
        &self.control
    }
}

/// What the DMA thread takes along: guest RAM, the hart's code-page bitmap, its buffer.
pub(super) struct DmaRam {
    pub(super) ram: GuestRam,
    pub(super) code: CodePages,
    pub(super) scratch: KVVec<u8>,
}

// SAFETY: the memory behind the `GuestRam` and the bitmap (in the translation-cache
// arena) are owned by `Shared::core`, which the DMA thread keeps alive through its
// `Arc<Shared>`; `GuestRam` only makes bounds-checked raw copies, which may race with the
// hart as DMA does on real hardware, and the bitmap is read with atomics.
unsafe impl Send for DmaRam {}

/// Body of the `kemu-dma/<id>` thread.
pub(super) fn dma_main((shared, mut dma): (Arc<Shared>, DmaRam)) {
    let s = &*shared;
    // SAFETY: RAM and the arena live in `shared.core`, which this thread keeps alive.
    let mut mem = unsafe { DmaMemory::new(s, dma.ram, dma.code) };
    run_worker(s, &mut mem, &mut dma.scratch);
}

/// Body of the `kemu-jit/<id>` thread (VMs with tier 2): compiles the programs the vCPU
/// queues until it closes the compiler.
pub(super) fn jit_main(shared: Arc<Shared>) {
    shared.jit.run();
}

/// Body of the `kemu-vcpu/<id>` thread.
pub(super) fn vcpu_main(shared: Arc<Shared>) {
    let s = &*shared;
    let mut core = s.core.lock();
    let htif = HtifPorts { tohost: s.tohost.load(Ordering::Relaxed), fromhost: s.fromhost.load(Ordering::Relaxed) };
    let mut refusal_logged = false;
    let publisher = Publisher::new();
    let end = run_vcpu(s, &mut core.hart, htif, |hart| {
        publisher.publish(s, hart);
        s.jit.deliver(hart);
        if !refusal_logged {
            if let (n @ 1.., Some(r)) = hart.t2_refusals() {
                refusal_logged = true;
                pr_warn!(
                    "VM {}: the tier-2 checker refused a program ({:?} at instruction {}; {} so far): a lowering bug, that block stays on tier 1\n",
                    s.id.load(Ordering::Relaxed),
                    r.rule,
                    r.at,
                    n
                );
            }
        }
    });
    let (reason, code) = match end {
        End::Stopped => (uapi::KEMU_EXIT_STOPPED, 0),
        End::Machine(MachineEvent::PowerOff) | End::HtifExit(0) => (uapi::KEMU_EXIT_POWEROFF, 0),
        End::Machine(MachineEvent::Reboot) => (uapi::KEMU_EXIT_REBOOT, 0),
        End::Machine(MachineEvent::Fail(c)) => (uapi::KEMU_EXIT_FAIL, u32::from(c)),
        End::HtifExit(c) => (uapi::KEMU_EXIT_FAIL, u32::try_from(c).unwrap_or(u32::MAX)),
        End::HtifUnsupported(_) => (uapi::KEMU_EXIT_FAIL, 1),
    };
    // Release the tier-2 images now rather than when the VM goes away: first those
    // still queued or compiled but not taken, then the hart's.
    s.jit.close();
    // SAFETY: `None` installs no hooks.
    unsafe { core.hart.set_tier2(None) };
    s.exit_code.store(code, Ordering::Relaxed);
    s.exit_reason.store(reason, Ordering::Relaxed);
    s.stopped_ns.store(s.clock.ns(), Ordering::Relaxed);
    s.state.store(uapi::KEMU_STATE_STOPPED, Ordering::Release);
    s.wake_state_waiters();
}

/// Where each `KEMU_STATUS` counter comes from, worked out once per vCPU thread.
struct Publisher {
    /// For each counter, the index of the hart's counter of the same key in
    /// [`Stats::NAMES`]; `None` for the host's own.
    hart: [Option<usize>; uapi::STATUS_COUNTERS.len()],
    /// The counter of programs the tier-2 checker refused (the hart counts them apart
    /// from [`Stats`]).
    refused: Option<usize>,
}

impl Publisher {
    fn new() -> Self {
        let slot = |name: &str| uapi::STATUS_COUNTERS.iter().position(|c| c.0 == name);
        Self {
            hart: core::array::from_fn(|i| {
                let name = uapi::STATUS_COUNTERS.get(i).map_or("", |c| c.0);
                Stats::NAMES.iter().position(|n| *n == name)
            }),
            refused: slot("t2_refused"),
        }
    }

    /// Publishes the hart's counters for `KEMU_STATUS`.
    fn publish(&self, s: &Shared, hart: &Hart) {
        let values = hart.stats.values();
        for (counter, src) in s.counters.iter().zip(&self.hart) {
            if let Some(v) = src.and_then(|j| values.get(j)) {
                counter.store(*v, Ordering::Relaxed);
            }
        }
        if let Some(c) = self.refused.and_then(|i| s.counters.get(i)) {
            c.store(hart.t2_refusals().0, Ordering::Relaxed);
        }
    }
}
