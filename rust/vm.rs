// SPDX-License-Identifier: GPL-2.0

//! A VM: guest RAM, the hart, the device models, and the kthreads that run them.
//!
//! Threads (the same structure as `kemuctl run`, with kthreads and kernel mutexes):
//! - `kemu-vcpu/<id>` owns the hart ([`Shared::core`], locked for as long as it runs)
//!   and runs it in slices; each guest access outside RAM takes the machine lock for
//!   that one access and applies kdevices' per-access decisions ([`HartLink`]);
//! - `kemu-dma/<id>` serves the virtio-blk queues: it takes the worker lock, gets the
//!   queue job under the machine lock, does the I/O on the VFS with only the worker lock
//!   held, and completes under the machine lock (see kdevices' `virtio_mmio`).
//!
//! Lock order: `worker` -> `machine` -> `console_out`; `core` is taken before any of them.
//! The vCPU never takes `worker` while holding `machine` (after a device reset it drops
//! `machine`, then takes `worker` once to wait for a request in flight).
//! Guest RAM is touched only through `GuestRam` (bounds-checked raw copies) once the VM
//! runs; the ioctls touch it only before START, with `core` locked.

use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use kernel::{
    bindings,
    iov::{IovIterDest, IovIterSource},
    new_condvar, new_mutex,
    prelude::*,
    sync::{Arc, CondVar, Mutex},
    time::msecs_to_jiffies,
    uaccess::{UserPtr, UserSlice},
};

use crate::clock::{KernelWallClock, VmClock};
use crate::console::Ring;
use crate::file_io::DiskFile;
use crate::kdevices::{
    host::{BlockError, BlockStorage, ConsoleSink, GuestMemory, MemError, WallClock},
    machine::Machine,
    memmap::RAM_BASE,
    mmio::{Env, Width},
    sifive_test::MachineEvent,
    vcpu::{self, HartLink, Htif},
    virtio_blk::{BlkConfig, BlkWorker},
    virtio_mmio::VirtioDevice,
};
use crate::kthread::KThread;
use crate::ktranslator::{
    bus::Bus,
    hart::{Exit, Hart},
    ram::GuestRam,
    tcache::{CodePages, TcArena},
};
use crate::uapi;

/// Instructions per slice of `Hart::run`: between slices the vCPU updates interrupt
/// lines and checks for stop requests.
const SLICE: u64 = 100_000;
/// Longest WFI sleep (nanoseconds); the host's own sources wake it earlier.
const WFI_MAX_SLEEP_NS: u64 = 100_000_000;
/// Disk slots (virtio-mmio slots).
const SLOTS: usize = uapi::KEMU_DISK_SLOTS as usize;
/// Bytes the DMA thread moves per storage call.
const SCRATCH: usize = 256 * 1024;
/// Guest-RAM ranges written by DMA, kept apart before they are merged into one.
const DMA_RANGES: usize = 64;

/// What the vCPU thread owns while it runs.
struct Core {
    /// Guest RAM (vmalloc, zeroed, charged to the creator's memory cgroup).
    ram: VVec<u8>,
    /// Translation-cache arena (its contents need no initialisation).
    _arena: VVec<u64>,
    /// The hart; it points into `ram` and `_arena`, which never move.
    hart: VBox<Hart>,
}

// SAFETY: the hart's raw pointers point into `ram` and `_arena`, which `Core` owns and
// which move with it; `GuestRam` accesses are plain copies that tolerate other threads
// touching guest RAM (DMA), and the arena is only used by the thread holding `Core`.
unsafe impl Send for Core {}

/// Device-side state under the machine lock.
struct Mach {
    machine: Machine,
    /// Virtio slots kicked since the DMA thread last looked (bit n: slot n).
    kicks: u8,
    /// The DMA thread must end.
    dma_exit: bool,
    /// Guest-RAM ranges the DMA thread wrote: the vCPU drops stale translations of them.
    dma: KVec<(u64, u64)>,
    /// Console input not yet taken by the UART.
    input: Ring,
}

impl Mach {
    /// Hands the UART as much pending input as it takes.
    fn feed_input(&mut self) {
        let mut chunk = [0u8; 64];
        loop {
            let n = self.input.peek(&mut chunk);
            if n == 0 {
                return;
            }
            let took = self.machine.console_input(&chunk[..n]);
            self.input.consume(took);
            if took < n {
                return;
            }
        }
    }

    /// Records DMA-written ranges, merging them when there are too many.
    fn note_dma(&mut self, written: &mut KVec<(u64, u64)>) {
        for r in written.drain_all() {
            if self.dma.len() >= DMA_RANGES || self.dma.push(r, GFP_KERNEL).is_err() {
                // Too many pieces (or no memory): keep one range covering them all.
                let (mut lo, mut hi) = (r.0, r.1.saturating_add(r.0));
                for &(a, l) in self.dma.iter() {
                    lo = lo.min(a);
                    hi = hi.max(a.saturating_add(l));
                }
                self.dma.clear();
                let _ = self.dma.push((lo, hi.saturating_sub(lo)), GFP_KERNEL);
            }
        }
    }
}

/// One attached disk and its request processor.
struct Disk {
    blk: BlkWorker,
    file: DiskFile,
}

/// The DMA side, under the worker lock.
struct Worker {
    disks: [Option<Disk>; SLOTS],
    scratch: KVVec<u8>,
}

/// State shared by the VM's file and its threads.
#[pin_data]
pub(crate) struct Shared {
    /// Given by the registry when the VM is listed ([`Vm::set_id`]); 0 before.
    id: AtomicU32,
    ram_size: u64,
    clock: VmClock,
    stop: AtomicBool,
    state: AtomicU32,
    exit_reason: AtomicU32,
    exit_code: AtomicU32,
    started_ns: AtomicU64,
    stopped_ns: AtomicU64,
    instructions: AtomicU64,
    tbs_translated: AtomicU64,
    tlb_misses: AtomicU64,
    traps: AtomicU64,
    disk_requests: AtomicU64,
    tbs_executed: AtomicU64,
    translate_ns: AtomicU64,
    chained: AtomicU64,
    t2_compiled: AtomicU64,
    t2_rejected: AtomicU64,
    t2_executed: AtomicU64,
    t2_compile_ns: AtomicU64,
    t2_refused: AtomicU64,
    /// Makes the hart leave `run` at its next unchained block (`Hart::set_stop_flag`):
    /// set by STOP and by the DMA thread when it wrote over translated code.
    attention: AtomicBool,
    /// HTIF `tohost`/`fromhost` of a bare-metal program (0: none), set at START.
    tohost: AtomicU64,
    fromhost: AtomicU64,
    /// The UART's transmitter found the console buffer full: retry after a read.
    tx_blocked: AtomicBool,
    #[pin]
    core: Mutex<Core>,
    #[pin]
    worker: Mutex<Worker>,
    #[pin]
    machine: Mutex<Mach>,
    /// Wakes the vCPU from a WFI sleep (stop, DMA completion, console traffic).
    #[pin]
    wake: CondVar,
    /// Wakes the DMA thread (a kick, or the end); waited on with `machine`.
    #[pin]
    dma_wake: CondVar,
    /// Tells the DMA thread that the vCPU dropped the code DMA wrote over (the machine's
    /// range log is empty again); waited on with `machine`.
    #[pin]
    dma_synced: CondVar,
    /// Wakes writers waiting for room in the console input ring; waited on with `machine`.
    #[pin]
    input_room: CondVar,
    #[pin]
    console_out: Mutex<Ring>,
    /// Wakes console readers; waited on with `console_out`.
    #[pin]
    console_wait: CondVar,
    /// Tier 2's JIT memory budget and settings (dropped after `core`, whose hart has
    /// released every program by then).
    jit: crate::jit::VmJit,
}

/// Lifecycle state guarded by the file's lock.
struct VmCtl {
    vcpu: Option<KThread>,
    dma: Option<KThread>,
}

/// A VM: owned by one open file, or detached (owned by the module's registry).
#[pin_data(PinnedDrop)]
pub(crate) struct Vm {
    shared: Arc<Shared>,
    /// Handed to the module with `KEMU_DETACH` and not stopped since.
    detached: AtomicBool,
    #[pin]
    ctl: Mutex<VmCtl>,
}

fn check_config(cfg: &uapi::KemuVmConfig) -> Result<u64> {
    if cfg.harts != 1 || cfg.flags != 0 || cfg.reserved != [0; 4] {
        return Err(EINVAL);
    }
    if cfg.ram_size < uapi::KEMU_RAM_MIN
        || cfg.ram_size > uapi::KEMU_RAM_MAX
        || cfg.ram_size % uapi::KEMU_RAM_ALIGN != 0
    {
        return Err(EINVAL);
    }
    let tb = if cfg.tb_cache_size == 0 { uapi::KEMU_TB_CACHE_DEFAULT } else { cfg.tb_cache_size };
    if !(uapi::KEMU_TB_CACHE_MIN..=uapi::KEMU_TB_CACHE_MAX).contains(&tb) || tb % 8 != 0 {
        return Err(EINVAL);
    }
    // Refuse what this machine cannot hold before trying (a huge vmalloc would otherwise
    // wake the OOM killer): at most half of its RAM for one VM.
    let mut info = bindings::sysinfo::default();
    // SAFETY: `info` is a valid, writable `struct sysinfo`.
    unsafe { bindings::si_meminfo(&mut info) };
    let total = u64::try_from(info.totalram).unwrap_or(u64::MAX).saturating_mul(u64::from(info.mem_unit));
    if cfg.ram_size.saturating_add(tb) > total / 2 {
        return Err(ENOMEM);
    }
    Ok(tb)
}

impl Vm {
    /// Creates a VM from a validated configuration: RAM, translation cache and hart. Its
    /// id is 0 until the registry lists it.
    pub(crate) fn create(cfg: &uapi::KemuVmConfig) -> Result<Arc<Vm>> {
        let tb_bytes = check_config(cfg)?;
        let flags = GFP_KERNEL_ACCOUNT | __GFP_NOWARN;
        let ram_len = usize::try_from(cfg.ram_size)?;
        let mut ram = VVec::<u8>::from_elem(0u8, ram_len, flags)?;
        let arena_words = usize::try_from(tb_bytes / 8)?;
        let mut arena = VVec::<u64>::with_capacity(arena_words, flags)?;
        // SAFETY: `ram` is `ram_len` bytes of vmalloc memory that stays put (it is never
        // resized) for as long as `Core` lives, which outlives every user of the hart and
        // of DMA (the threads hold the `Arc<Shared>` that owns it); once the VM runs,
        // nobody holds a reference into it (`core` is locked by the vCPU).
        let guest_ram = unsafe { GuestRam::new(ram.as_mut_ptr(), ram_len, RAM_BASE) };
        // SAFETY: the arena is `arena_words` 8-byte aligned words of allocated capacity,
        // used by this hart alone, and never resized.
        let tc = unsafe { TcArena::new(arena.as_mut_ptr(), arena_words) };
        let mut hart = VBox::<Hart>::new_uninit(flags)?;
        // SAFETY: `hart` is writable, aligned memory for one `Hart`, used by nothing else.
        unsafe { Hart::init_in_place(hart.as_mut_ptr(), guest_ram, tc, 0) };
        // SAFETY: `init_in_place` fully initialised it.
        let hart = unsafe { hart.assume_init() };
        let core = Core { ram, _arena: arena, hart };
        let worker = Worker { disks: [const { None }; SLOTS], scratch: KVVec::from_elem(0u8, SCRATCH, GFP_KERNEL)? };
        let clock = VmClock::new();
        let mach = Mach {
            machine: Machine::new(clock.ns()),
            kicks: 0,
            dma_exit: false,
            dma: KVec::with_capacity(DMA_RANGES, GFP_KERNEL)?,
            input: Ring::new()?,
        };
        // In the owner's context: its memory cgroup pays for the JIT's programs.
        let jit = crate::jit::VmJit::new()?;
        let shared = Arc::pin_init(
            try_pin_init!(Shared {
                id: AtomicU32::new(0),
                ram_size: cfg.ram_size,
                clock,
                stop: AtomicBool::new(false),
                state: AtomicU32::new(uapi::KEMU_STATE_CREATED),
                exit_reason: AtomicU32::new(uapi::KEMU_EXIT_NONE),
                exit_code: AtomicU32::new(0),
                started_ns: AtomicU64::new(0),
                stopped_ns: AtomicU64::new(0),
                instructions: AtomicU64::new(0),
                tbs_translated: AtomicU64::new(0),
                tlb_misses: AtomicU64::new(0),
                traps: AtomicU64::new(0),
                disk_requests: AtomicU64::new(0),
                tbs_executed: AtomicU64::new(0),
                translate_ns: AtomicU64::new(0),
                chained: AtomicU64::new(0),
                t2_compiled: AtomicU64::new(0),
                t2_rejected: AtomicU64::new(0),
                t2_executed: AtomicU64::new(0),
                t2_compile_ns: AtomicU64::new(0),
                t2_refused: AtomicU64::new(0),
                attention: AtomicBool::new(false),
                tohost: AtomicU64::new(0),
                fromhost: AtomicU64::new(0),
                tx_blocked: AtomicBool::new(false),
                core <- new_mutex!(core),
                worker <- new_mutex!(worker),
                machine <- new_mutex!(mach),
                wake <- new_condvar!(),
                dma_wake <- new_condvar!(),
                dma_synced <- new_condvar!(),
                input_room <- new_condvar!(),
                console_out <- new_mutex!(Ring::new()?),
                console_wait <- new_condvar!(),
                jit,
            }),
            GFP_KERNEL,
        )?;
        Arc::pin_init(
            try_pin_init!(Vm {
                shared,
                detached: AtomicBool::new(false),
                ctl <- new_mutex!(VmCtl { vcpu: None, dma: None }),
            }),
            GFP_KERNEL,
        )
    }

    fn state(&self) -> u32 {
        self.shared.state.load(Ordering::Acquire)
    }

    /// The VM's id.
    pub(crate) fn id(&self) -> u32 {
        self.shared.id.load(Ordering::Relaxed)
    }

    /// Sets the VM's id; only the registry does, under its lock, before anyone else can
    /// reach the VM (the creating ioctl holds the only other reference).
    pub(crate) fn set_id(&self, id: u32) {
        self.shared.id.store(id, Ordering::Relaxed);
    }

    /// `KEMU_DETACH`: marks the running VM as owned by the module.
    pub(crate) fn detach(&self) -> Result {
        let _ctl = self.ctl.lock();
        if self.state() != uapi::KEMU_STATE_RUNNING {
            return Err(EINVAL);
        }
        if self.detached.swap(true, Ordering::AcqRel) {
            return Err(EINVAL);
        }
        Ok(())
    }

    /// Whether the VM is detached (no file owns it).
    pub(crate) fn is_detached(&self) -> bool {
        self.detached.load(Ordering::Acquire)
    }

    /// Ends the detached state (the VM was stopped): true if it was detached.
    pub(crate) fn take_detached(&self) -> bool {
        self.detached.swap(false, Ordering::AcqRel)
    }

    /// `KEMU_LOAD`: copies user memory into guest RAM (only before START).
    pub(crate) fn load(&self, req: &uapi::KemuLoad) -> Result {
        let _ctl = self.ctl.lock();
        if self.state() != uapi::KEMU_STATE_CREATED {
            return Err(EBUSY);
        }
        if req.flags != 0 {
            return Err(EINVAL);
        }
        let off = req.guest_addr.checked_sub(RAM_BASE).ok_or(EINVAL)?;
        let end = off.checked_add(req.size).ok_or(EINVAL)?;
        if end > self.shared.ram_size {
            return Err(EINVAL);
        }
        let (off, end) = (usize::try_from(off)?, usize::try_from(end)?);
        let user = usize::try_from(req.user_addr)?;
        let mut core = self.shared.core.lock();
        let dst = core.ram.get_mut(off..end).ok_or(EINVAL)?;
        if let Err(e) = UserSlice::new(UserPtr::from_addr(user), dst.len()).reader().read_slice(dst) {
            // A fault part-way: leave no half-loaded image behind.
            dst.fill(0);
            return Err(e);
        }
        Ok(())
    }

    /// `KEMU_ATTACH_DISK`: puts a disk in a virtio slot (only before START).
    pub(crate) fn attach_disk(&self, req: &uapi::KemuDisk) -> Result {
        let _ctl = self.ctl.lock();
        if self.state() != uapi::KEMU_STATE_CREATED {
            return Err(EBUSY);
        }
        let slot = usize::try_from(req.slot)?;
        if slot >= SLOTS || req.flags & !uapi::KEMU_DISK_READONLY != 0 || req.reserved != [0; 2] {
            return Err(EINVAL);
        }
        let write_through = match req.cache_mode {
            uapi::KEMU_CACHE_WRITEBACK => false,
            uapi::KEMU_CACHE_WRITETHROUGH => true,
            _ => return Err(EINVAL),
        };
        let read_only = req.flags & uapi::KEMU_DISK_READONLY != 0;
        let file = DiskFile::from_fd(req.fd, read_only, write_through)?;
        let mut worker = self.shared.worker.lock();
        let entry = worker.disks.get_mut(slot).ok_or(EINVAL)?;
        if entry.is_some() {
            return Err(EEXIST);
        }
        let config = BlkConfig::for_storage(&file);
        let mut serial = *b"kemu-disk0";
        serial[9] = b'0' + (slot as u8 & 7);
        *entry = Some(Disk { blk: BlkWorker::new(&serial), file });
        self.shared.machine.lock().machine.set_virtio(slot, Some(VirtioDevice::Block(config)));
        Ok(())
    }

    /// `KEMU_START`: starts the hart on `kemu-vcpu/<id>` and DMA on `kemu-dma/<id>`.
    pub(crate) fn start(&self, req: &uapi::KemuStart) -> Result {
        let mut ctl = self.ctl.lock();
        match self.state() {
            uapi::KEMU_STATE_CREATED => {}
            uapi::KEMU_STATE_RUNNING => return Err(EBUSY),
            _ => return Err(EINVAL),
        }
        let threshold = (req.flags >> uapi::KEMU_START_T2_THRESHOLD_SHIFT) as u32;
        let low = req.flags & ((1 << uapi::KEMU_START_T2_THRESHOLD_SHIFT) - 1);
        let tier2 = low & uapi::KEMU_START_TIER2 != 0;
        if low & !uapi::KEMU_START_TIER2 != 0 || (threshold != 0 && !tier2) {
            return Err(EINVAL);
        }
        if tier2 && !crate::jit::available() {
            return Err(EOPNOTSUPP);
        }
        let (ram, code) = {
            let mut core = self.shared.core.lock();
            let hart = &mut core.hart;
            if tier2 {
                // SAFETY: `jit::host()`'s hooks compile with the kernel's BPF JIT and
                // work for the module's lifetime, with `shared.jit`, which lives as long
                // as the hart; the vCPU thread turns tier 2 off (releasing every image)
                // before it ends, and the module cannot be unloaded while a VM exists.
                unsafe { hart.set_tier2(crate::jit::host(threshold, &self.shared.jit)) };
            }
            hart.set_pc(req.pc);
            for (i, a) in req.args.iter().enumerate() {
                hart.set_xreg(10 + i, *a);
            }
            (*hart.ram(), hart.code_pages())
        };
        self.shared.tohost.store(req.tohost, Ordering::Relaxed);
        self.shared.fromhost.store(req.fromhost, Ordering::Relaxed);
        self.shared.started_ns.store(self.shared.clock.ns(), Ordering::Relaxed);
        self.shared.state.store(uapi::KEMU_STATE_RUNNING, Ordering::Release);
        let dma = KThread::spawn(c"dma", self.id(), (self.shared.clone(), DmaRam(ram, code)), dma_main);
        let vcpu = dma.as_ref().ok().map(|_| KThread::spawn(c"vcpu", self.id(), self.shared.clone(), vcpu_main));
        match (dma, vcpu) {
            (Ok(d), Some(Ok(v))) => {
                ctl.dma = Some(d);
                ctl.vcpu = Some(v);
                Ok(())
            }
            (dma, vcpu) => {
                let err = match (&dma, &vcpu) {
                    (Err(e), _) | (_, Some(Err(e))) => *e,
                    _ => ENOMEM,
                };
                ctl.dma = dma.ok();
                ctl.vcpu = vcpu.and_then(|v| v.ok());
                self.stop_locked(&mut ctl);
                Err(err)
            }
        }
    }

    /// `KEMU_STOP`: stops the vCPU and waits for it. A stopped VM stays stopped (no
    /// error); one that never started cannot be stopped (`EINVAL`).
    pub(crate) fn stop(&self) -> Result {
        let mut ctl = self.ctl.lock();
        if self.state() == uapi::KEMU_STATE_CREATED {
            return Err(EINVAL);
        }
        self.stop_locked(&mut ctl);
        Ok(())
    }

    /// Stops both threads (the vCPU first, then DMA once in-flight requests are done),
    /// then fsyncs and releases the disks.
    fn stop_locked(&self, ctl: &mut VmCtl) {
        let s = &*self.shared;
        s.stop.store(true, Ordering::Release);
        s.attention.store(true, Ordering::Release);
        s.wake.notify_all();
        if let Some(t) = ctl.vcpu.take() {
            t.stop();
        }
        s.machine.lock().dma_exit = true;
        s.dma_wake.notify_all();
        if let Some(t) = ctl.dma.take() {
            t.stop();
        }
        let mut worker = s.worker.lock();
        for d in worker.disks.iter_mut() {
            if let Some(disk) = d.take() {
                // The guest may not have flushed: what it wrote stays on the disk.
                let _ = disk.file.sync();
            }
        }
        drop(worker);
        if s.state.load(Ordering::Acquire) != uapi::KEMU_STATE_STOPPED {
            s.stopped_ns.store(s.clock.ns(), Ordering::Relaxed);
            s.exit_reason.store(uapi::KEMU_EXIT_STOPPED, Ordering::Relaxed);
            s.state.store(uapi::KEMU_STATE_STOPPED, Ordering::Release);
        }
        s.console_wait.notify_all();
        s.input_room.notify_all();
    }

    /// Stops the VM if it runs (the owner's file is closing).
    pub(crate) fn shutdown(&self) {
        let mut ctl = self.ctl.lock();
        if self.state() != uapi::KEMU_STATE_CREATED {
            self.stop_locked(&mut ctl);
        }
    }

    /// The state shared with the threads (for console I/O that must not hold the file's
    /// VM lock while it sleeps).
    pub(crate) fn shared(&self) -> Arc<Shared> {
        self.shared.clone()
    }

    /// `KEMU_STATUS`.
    pub(crate) fn status(&self) -> uapi::KemuStatus {
        let s = &*self.shared;
        let state = s.state.load(Ordering::Acquire);
        let started = s.started_ns.load(Ordering::Relaxed);
        let uptime_ns = match state {
            uapi::KEMU_STATE_RUNNING => s.clock.ns().saturating_sub(started),
            uapi::KEMU_STATE_STOPPED => s.stopped_ns.load(Ordering::Relaxed).saturating_sub(started),
            _ => 0,
        };
        uapi::KemuStatus {
            id: s.id.load(Ordering::Relaxed),
            state,
            exit_reason: s.exit_reason.load(Ordering::Relaxed),
            exit_code: s.exit_code.load(Ordering::Relaxed),
            ram_size: s.ram_size,
            uptime_ns,
            instructions: s.instructions.load(Ordering::Relaxed),
            tbs_translated: s.tbs_translated.load(Ordering::Relaxed),
            tlb_misses: s.tlb_misses.load(Ordering::Relaxed),
            traps: s.traps.load(Ordering::Relaxed),
            disk_requests: s.disk_requests.load(Ordering::Relaxed),
            tbs_executed: s.tbs_executed.load(Ordering::Relaxed),
            translate_ns: s.translate_ns.load(Ordering::Relaxed),
            chained: s.chained.load(Ordering::Relaxed),
            t2_compiled: s.t2_compiled.load(Ordering::Relaxed),
            t2_rejected: s.t2_rejected.load(Ordering::Relaxed),
            t2_executed: s.t2_executed.load(Ordering::Relaxed),
            t2_compile_ns: s.t2_compile_ns.load(Ordering::Relaxed),
            t2_jit_bytes: s.jit.bytes(),
            t2_refused: s.t2_refused.load(Ordering::Relaxed),
        }
    }
}

#[pinned_drop]
impl PinnedDrop for Vm {
    fn drop(self: Pin<&mut Self>) {
        // The last reference going (the owner's file closed, or a detached VM reaped)
        // stops the guest before its memory goes.
        self.shutdown();
    }
}

impl Shared {
    /// `read()` on the VM file: guest console output. Blocks until there is some unless
    /// `nonblock`; returns 0 (end of file) once the VM has stopped and all was read.
    pub(crate) fn console_read(&self, out: &mut IovIterDest<'_>, nonblock: bool) -> Result<usize> {
        let mut chunk = [0u8; 256];
        let mut ring = self.console_out.lock();
        while ring.len() == 0 {
            if self.state.load(Ordering::Acquire) == uapi::KEMU_STATE_STOPPED {
                return Ok(0);
            }
            if nonblock {
                return Err(EAGAIN);
            }
            if self.console_wait.wait_interruptible(&mut ring) {
                return Err(ERESTARTSYS);
            }
        }
        let want = out.len().min(chunk.len());
        let n = ring.pop(&mut chunk[..want]);
        drop(ring);
        if self.tx_blocked.load(Ordering::Relaxed) {
            // The UART was waiting for room: let the vCPU retry now.
            self.wake.notify_all();
        }
        let copied = out.copy_to_iter(&chunk[..n]);
        if copied == 0 && n > 0 {
            return Err(EFAULT);
        }
        Ok(copied)
    }

    /// `write()` on the VM file: guest console input. Blocks while the input buffer is
    /// full unless `nonblock`; `EPIPE` once the VM has stopped.
    ///
    /// The bytes are copied from userspace before the machine lock is taken (as
    /// [`Self::console_read`] copies out after dropping its lock): the copy can sleep in a
    /// page fault for as long as userspace likes (userfaultfd, FUSE), and the vCPU and
    /// STOP need that lock. At most one chunk per call; what the ring has no room for is
    /// handed back to the iterator (a short write).
    pub(crate) fn console_write(&self, input: &mut IovIterSource<'_>, nonblock: bool) -> Result<usize> {
        if self.state.load(Ordering::Acquire) == uapi::KEMU_STATE_STOPPED {
            return Err(EPIPE);
        }
        let mut chunk = [0u8; 256];
        let want = input.len().min(chunk.len());
        let n = input.copy_from_iter(&mut chunk[..want]);
        if n == 0 && want > 0 {
            return Err(EFAULT);
        }
        let mut m = self.machine.lock();
        loop {
            if self.state.load(Ordering::Acquire) == uapi::KEMU_STATE_STOPPED {
                return Err(EPIPE);
            }
            if m.input.room() > 0 {
                break;
            }
            if nonblock {
                return Err(EAGAIN);
            }
            if self.input_room.wait_interruptible(&mut m) {
                return Err(ERESTARTSYS);
            }
        }
        let sent = m.input.send(&chunk[..n]);
        m.feed_input();
        drop(m);
        self.wake.notify_all();
        if sent < n {
            // SAFETY: `copy_from_iter` advanced the iterator by exactly `n` bytes, so going
            // back `n - sent` of them stays after its beginning.
            unsafe { input.revert(n - sent) };
        }
        Ok(sent)
    }
}

/// Guest RAM and the hart's code-page bitmap as the DMA thread sees them.
struct DmaRam(GuestRam, CodePages);

// SAFETY: the memory behind the `GuestRam` and the bitmap (in the translation-cache
// arena) are owned by `Shared::core`, which the DMA thread keeps alive through its
// `Arc<Shared>`; `GuestRam` only makes bounds-checked raw copies, which may race with the
// hart as DMA does on real hardware, and the bitmap is read with atomics.
unsafe impl Send for DmaRam {}

/// What a DMA job writes into guest RAM, recorded, and the code it writes over dropped
/// before the guest can see the job complete (`before_publish`).
struct DmaMemory<'a> {
    ram: &'a GuestRam,
    code: CodePages,
    shared: &'a Shared,
    written: KVec<(u64, u64)>,
}

impl DmaMemory<'_> {
    /// Whether a range written since the last note may hold translated code.
    fn wrote_code(&self) -> bool {
        // Order the writes before the bitmap reads (the hart marks a page, fences, then
        // reads its code: see `CodePages`).
        core::sync::atomic::fence(Ordering::SeqCst);
        // SAFETY: the arena behind `code` lives in `Shared::core` (see `DmaRam`).
        self.written.iter().any(|&(a, l)| unsafe { self.code.may_hold_code(a, l) })
    }
}

impl GuestMemory for DmaMemory<'_> {
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), MemError> {
        if self.ram.read_bytes(addr, buf) { Ok(()) } else { Err(MemError) }
    }

    /// The guest may see the job complete next: if it wrote over translated code, hand
    /// the ranges to the vCPU and wait until it dropped that code (it leaves `run` at its
    /// next unchained block: bounded by a slice), so no stale translation of what the
    /// guest sees on disk can run after it sees the completion.
    fn before_publish(&mut self) {
        if self.written.is_empty() || !self.wrote_code() {
            return;
        }
        let s = self.shared;
        let mut m = s.machine.lock();
        m.note_dma(&mut self.written);
        s.attention.store(true, Ordering::Release);
        s.wake.notify_all();
        while !m.dma.is_empty() && !s.stop.load(Ordering::Acquire) && !KThread::should_stop() {
            let _ = s.dma_synced.wait_interruptible_timeout(&mut m, msecs_to_jiffies(10));
        }
    }

    fn write(&mut self, addr: u64, data: &[u8]) -> Result<(), MemError> {
        if !self.ram.write_bytes(addr, data) {
            return Err(MemError);
        }
        let len = data.len() as u64;
        match self.written.last_mut() {
            Some((a, l)) if a.wrapping_add(*l) == addr => *l = l.saturating_add(len),
            _ => {
                if self.written.push((addr, len), GFP_KERNEL).is_err() {
                    // No memory to remember the range: widen the last one to cover it.
                    if let Some((a, l)) = self.written.last_mut() {
                        let end = (*a).saturating_add(*l).max(addr.saturating_add(len));
                        *a = (*a).min(addr);
                        *l = end - *a;
                    }
                }
            }
        }
        Ok(())
    }
}

/// Body of the `kemu-dma/<id>` thread: serves the virtio-blk queues when kicked.
fn dma_main((shared, ram): (Arc<Shared>, DmaRam)) {
    let s = &*shared;
    let mut mem = DmaMemory { ram: &ram.0, code: ram.1, shared: s, written: KVec::new() };
    loop {
        let kicks = {
            let mut m = s.machine.lock();
            while m.kicks == 0 && !m.dma_exit && !KThread::should_stop() {
                let _ = s.dma_wake.wait_interruptible_timeout(&mut m, msecs_to_jiffies(100));
            }
            if m.dma_exit || KThread::should_stop() {
                // Requests already in the rings stay there: the VM is going away.
                return;
            }
            core::mem::take(&mut m.kicks)
        };
        let mut guard = s.worker.lock();
        let worker = &mut *guard;
        for (slot, entry) in worker.disks.iter_mut().enumerate() {
            let Some(disk) = entry.as_mut() else { continue };
            if kicks & (1 << slot) == 0 {
                continue;
            }
            loop {
                // STOP returns in bounded time whatever the guest queued: no new job
                // once it is asked for, and the job in progress fails its remaining
                // storage calls (`Stoppable`; the guest never sees the completion).
                if s.stop.load(Ordering::Acquire) {
                    break;
                }
                let Some(job) = s.machine.lock().machine.virtio_job(slot) else { break };
                let mut file = Stoppable { file: &mut disk.file, stop: &s.stop };
                let c = disk.blk.process(&job, &mut mem, &mut file, &mut worker.scratch);
                let mut m = s.machine.lock();
                m.note_dma(&mut mem.written);
                m.machine.virtio_complete(slot, &c);
                drop(m);
                s.disk_requests.store(disk.blk.served(), Ordering::Relaxed);
                s.wake.notify_all();
                if !c.more {
                    break;
                }
            }
        }
    }
}

/// Serves a bare-metal program's HTIF request in `tohost`, if it has one, as `kemuctl
/// run` does: an exit ends the VM (code 0: power-off, else failure with that code), a
/// character goes to the console (acknowledged in `fromhost`), anything else is
/// acknowledged and ignored.
fn poll_htif(s: &Shared, hart: &Hart) -> Option<(u32, u32)> {
    let tohost = s.tohost.load(Ordering::Relaxed);
    if tohost == 0 {
        return None;
    }
    let mut b = [0u8; 8];
    if !hart.ram().read_bytes(tohost, &mut b) {
        return None;
    }
    let req = Htif::decode(u64::from_le_bytes(b))?;
    hart.ram().write_bytes(tohost, &[0; 8]);
    match req {
        Htif::Exit(0) => Some((uapi::KEMU_EXIT_POWEROFF, 0)),
        Htif::Exit(code) => Some((uapi::KEMU_EXIT_FAIL, u32::try_from(code).unwrap_or(u32::MAX))),
        Htif::Putchar(c) => {
            s.console_out.lock().send(&[c]);
            s.console_wait.notify_all();
            let fromhost = s.fromhost.load(Ordering::Relaxed);
            if fromhost != 0 {
                hart.ram().write_bytes(fromhost, &1u64.to_le_bytes());
            }
            None
        }
        Htif::Unsupported(_) => None,
    }
}

/// A disk as the DMA thread uses it: every storage call fails once the VM is asked to
/// stop, so a guest's request of any size (up to the whole disk, repeated a queue's
/// worth of times) holds STOP for at most one scratch-sized call.
struct Stoppable<'a> {
    file: &'a mut DiskFile,
    stop: &'a AtomicBool,
}

impl Stoppable<'_> {
    fn check(&self) -> core::result::Result<(), BlockError> {
        if self.stop.load(Ordering::Relaxed) {
            Err(BlockError::Io)
        } else {
            Ok(())
        }
    }
}

impl BlockStorage for Stoppable<'_> {
    fn size_bytes(&self) -> u64 {
        self.file.size_bytes()
    }
    fn read_only(&self) -> bool {
        self.file.read_only()
    }
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> core::result::Result<(), BlockError> {
        self.check()?;
        self.file.read_at(offset, buf)
    }
    fn write_at(&mut self, offset: u64, data: &[u8]) -> core::result::Result<(), BlockError> {
        self.check()?;
        self.file.write_at(offset, data)
    }
    fn flush(&mut self) -> core::result::Result<(), BlockError> {
        // A flush is never skipped: what the guest wrote before it stays durable.
        self.file.flush()
    }
}

/// The vCPU's view of everything outside RAM: kdevices' machine, under its lock.
struct VcpuBus<'a> {
    shared: &'a Shared,
    link: HartLink,
    stop: bool,
    event: Option<MachineEvent>,
}

impl VcpuBus<'_> {
    /// Runs one device access with the machine and console locked, then applies what the
    /// access asked of the host.
    fn access<R>(&mut self, f: impl FnOnce(&mut Machine, &mut Env<'_>) -> R) -> R {
        let s = self.shared;
        let mut m = s.machine.lock();
        let now = s.clock.ns();
        let (r, out_changed) = {
            let mut out = s.console_out.lock();
            let before = out.len();
            let wall = KernelWallClock;
            let mut env = Env { clock: &s.clock, wall: &wall, console: &mut *out };
            let r = f(&mut m.machine, &mut env);
            (r, out.len() != before)
        };
        if out_changed {
            s.console_wait.notify_all();
        }
        let a = self.link.after_access(&mut m.machine, now);
        if a.kicks != 0 {
            m.kicks |= a.kicks;
            s.dma_wake.notify_all();
        }
        if a.console_feed {
            m.feed_input();
            s.input_room.notify_all();
        }
        if a.console_flush {
            s.tx_blocked.store(true, Ordering::Relaxed);
        }
        if self.event.is_none() {
            self.event = a.machine;
        }
        self.stop |= a.stop();
        drop(m);
        if a.resets != 0 {
            // Wait for a request that started before the reset (kdevices' virtio_mmio).
            drop(s.worker.lock());
        }
        r
    }
}

impl Bus for VcpuBus<'_> {
    fn mmio_read(&mut self, paddr: u64, size: u8) -> Option<u64> {
        let width = Width::from_bytes(u64::from(size))?;
        self.access(|m, env| m.read(env, paddr, width).ok())
    }

    fn mmio_write(&mut self, paddr: u64, size: u8, val: u64) -> bool {
        let Some(width) = Width::from_bytes(u64::from(size)) else { return false };
        self.access(|m, env| m.write(env, paddr, width, val).is_ok())
    }

    fn time(&mut self) -> u64 {
        self.shared.machine.lock().machine.mtime(self.shared.clock.ns())
    }

    fn stop_requested(&mut self) -> bool {
        core::mem::take(&mut self.stop) || self.shared.stop.load(Ordering::Relaxed)
    }

    fn host_ns(&mut self) -> u64 {
        self.shared.clock.ns()
    }
}

/// Hands the hart the interrupt lines the machine drives.
fn set_lines(hart: &mut Hart, lines: u64) {
    hart.set_irq(vcpu::MIP_LINES & !lines, false);
    hart.set_irq(vcpu::MIP_LINES & lines, true);
}

/// Between slices: drops translations of DMA-written code, updates interrupt lines,
/// retries blocked console output.
fn sync(s: &Shared, m: &mut Mach, hart: &mut Hart, link: &mut HartLink) {
    if !m.dma.is_empty() {
        for (a, l) in m.dma.drain_all() {
            hart.invalidate_code_range(a, l);
        }
        // A DMA job may be waiting for this before it completes (`before_publish`).
        s.dma_synced.notify_all();
    }
    let now = s.clock.ns();
    let lines = link.sync_lines(&mut m.machine, now, KernelWallClock.wall_ns());
    set_lines(hart, lines);
    if s.tx_blocked.swap(false, Ordering::Relaxed) {
        let mut out = s.console_out.lock();
        if !m.machine.console_drain(&mut *out as &mut dyn ConsoleSink) {
            s.tx_blocked.store(true, Ordering::Relaxed);
        }
    }
}

/// Body of the `kemu-vcpu/<id>` thread.
fn vcpu_main(shared: Arc<Shared>) {
    let s = &*shared;
    let mut core = s.core.lock();
    let mut bus = VcpuBus { shared: s, link: HartLink::new(0), stop: false, event: None };
    // SAFETY: `s.attention` lives in `shared`, which this thread holds until it returns;
    // the flag is removed before that.
    unsafe { core.hart.set_stop_flag(&s.attention) };
    let mut refusal_logged = false;
    let (reason, code) = loop {
        if s.stop.load(Ordering::Acquire) || KThread::should_stop() {
            break (uapi::KEMU_EXIT_STOPPED, 0);
        }
        // Whatever asked for attention (not STOP: checked above) is served by this sync;
        // a request made after the clear stays set for the next round.
        s.attention.store(false, Ordering::Relaxed);
        {
            let mut m = s.machine.lock();
            sync(s, &mut m, &mut core.hart, &mut bus.link);
        }
        let exit = core.hart.run(&mut bus, SLICE);

        let st = &core.hart.stats;
        s.instructions.store(st.insns, Ordering::Relaxed);
        s.tbs_translated.store(st.tbs_translated, Ordering::Relaxed);
        s.tlb_misses.store(st.tlb_misses, Ordering::Relaxed);
        s.traps.store(st.traps, Ordering::Relaxed);
        s.tbs_executed.store(st.tbs_executed, Ordering::Relaxed);
        s.translate_ns.store(st.translate_ns, Ordering::Relaxed);
        s.chained.store(st.chained, Ordering::Relaxed);
        s.t2_compiled.store(st.t2_compiled, Ordering::Relaxed);
        s.t2_rejected.store(st.t2_rejected, Ordering::Relaxed);
        s.t2_executed.store(st.t2_executed, Ordering::Relaxed);
        s.t2_compile_ns.store(st.t2_compile_ns, Ordering::Relaxed);
        s.t2_refused.store(core.hart.t2_refusals().0, Ordering::Relaxed);
        if let Some(end) = poll_htif(s, &core.hart) {
            break end;
        }
        if !refusal_logged {
            if let (n @ 1.., Some(r)) = core.hart.t2_refusals() {
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
        match bus.event.take() {
            Some(MachineEvent::PowerOff) => break (uapi::KEMU_EXIT_POWEROFF, 0),
            Some(MachineEvent::Reboot) => break (uapi::KEMU_EXIT_REBOOT, 0),
            Some(MachineEvent::Fail(c)) => break (uapi::KEMU_EXIT_FAIL, u32::from(c)),
            None => {}
        }
        if exit == Exit::Wfi {
            wfi_sleep(s, &mut core.hart, &mut bus.link);
        }
    };
    // Release the tier-2 images now rather than when the VM goes away.
    // SAFETY: `None` installs no hooks; a null flag is always valid.
    unsafe {
        core.hart.set_tier2(None);
        core.hart.set_stop_flag(core::ptr::null());
    }
    s.exit_code.store(code, Ordering::Relaxed);
    s.exit_reason.store(reason, Ordering::Relaxed);
    s.stopped_ns.store(s.clock.ns(), Ordering::Relaxed);
    s.state.store(uapi::KEMU_STATE_STOPPED, Ordering::Release);
    s.console_wait.notify_all();
    s.input_room.notify_all();
}

/// Sleeps after a WFI until an interrupt line rises, the next device deadline, a stop
/// request, a DMA completion or console traffic.
fn wfi_sleep(s: &Shared, hart: &mut Hart, link: &mut HartLink) {
    let mut m = s.machine.lock();
    loop {
        sync(s, &mut m, hart, link);
        if hart.wfi_wakeup() || s.stop.load(Ordering::Acquire) || KThread::should_stop() {
            return;
        }
        let now = s.clock.ns();
        let ns = vcpu::wfi_sleep_ns(&m.machine, now, KernelWallClock.wall_ns(), WFI_MAX_SLEEP_NS);
        let ms = u32::try_from(ns.div_ceil(1_000_000)).unwrap_or(u32::MAX).max(1);
        let _ = s.wake.wait_interruptible_timeout(&mut m, msecs_to_jiffies(ms));
    }
}
