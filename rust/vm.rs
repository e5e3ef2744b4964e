// SPDX-License-Identifier: GPL-2.0

//! A VM: guest RAM, the hart, the device models, and its lifecycle (the ioctls).
//!
//! The machine loop is kvmm's, shared with `kemuctl run`: [`threads`] hosts it on two
//! kthreads with kernel mutexes and condition variables (`kemu-vcpu/<id>` owns the hart,
//! `kemu-dma/<id>` serves the virtio-blk queues); [`crate::console`] serves the VM file's
//! `read()` and `write()`.
//!
//! Lock order: `core` first (the vCPU holds it while it runs; the ioctls take it only
//! before START), then kvmm's: `worker` -> `machine` -> `console_out`.
//! Guest RAM is touched only through `GuestRam` (bounds-checked raw copies) once the VM
//! runs; the ioctls touch it only before START, with `core` locked.

mod threads;

use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use kernel::{
    bindings, new_condvar, new_mutex,
    prelude::*,
    sync::{Arc, CondVar, Mutex},
    uaccess::{UserPtr, UserSlice},
};

use crate::clock::VmClock;
use crate::file_io::DiskFile;
use crate::kdevices::{
    machine::Machine,
    memmap::RAM_BASE,
    virtio_blk::{BlkConfig, BlkWorker},
    virtio_mmio::VirtioDevice,
};
use crate::kthread::KThread;
use crate::ktranslator::{hart::Hart, ram::GuestRam, tcache::TcArena};
use crate::kvmm::{
    host::request_stop,
    ring::Ring,
    state::{Control, Disk, Disks, MachineState},
    CONSOLE_BUFFER, SCRATCH, SLOTS,
};
use crate::uapi;

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

/// A console ring's storage.
fn ring() -> Result<Ring<KVec<u8>>> {
    Ring::new(KVec::from_elem(0u8, CONSOLE_BUFFER, GFP_KERNEL)?).ok_or(EINVAL)
}

/// State shared by the VM's file and its threads.
#[pin_data]
pub(crate) struct Shared {
    /// Given by the registry when the VM is listed ([`Vm::set_id`]); 0 before.
    id: AtomicU32,
    ram_size: u64,
    clock: VmClock,
    pub(crate) state: AtomicU32,
    exit_reason: AtomicU32,
    exit_code: AtomicU32,
    started_ns: AtomicU64,
    stopped_ns: AtomicU64,
    /// `KEMU_STATUS`'s counters, in the order of `uapi::STATUS_COUNTERS` (published by
    /// the vCPU after every slice; `disk_requests` and `t2_jit_bytes` are read live).
    counters: [AtomicU64; uapi::STATUS_COUNTERS.len()],
    /// kvmm's lock-free signals (stop, attention, disk requests served).
    control: Control,
    /// HTIF `tohost`/`fromhost` of a bare-metal program (0: none), set at START.
    tohost: AtomicU64,
    fromhost: AtomicU64,
    #[pin]
    core: Mutex<Core>,
    #[pin]
    worker: Mutex<Disks<DiskFile>>,
    #[pin]
    pub(crate) machine: Mutex<MachineState<KVec<u8>>>,
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
    pub(crate) input_room: CondVar,
    #[pin]
    pub(crate) console_out: Mutex<Ring<KVec<u8>>>,
    /// Wakes console readers; waited on with `console_out`.
    #[pin]
    pub(crate) console_wait: CondVar,
    /// Tier 2's compiler: the JIT memory budget and settings, the queues of the
    /// `kemu-jit/<id>` thread (dropped after `core`, whose hart has released every
    /// program by then).
    jit: Pin<KBox<crate::jit::Compiler>>,
}

/// Lifecycle state guarded by the file's lock.
struct VmCtl {
    vcpu: Option<KThread>,
    dma: Option<KThread>,
    /// Tier 2's compile thread (started with tier 2 only).
    jit: Option<KThread>,
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
    // Refuse what this machine cannot hold before trying (a huge vmalloc would otherwise
    // wake the OOM killer): at most half of its RAM for one VM.
    let mut info = bindings::sysinfo::default();
    // SAFETY: `info` is a valid, writable `struct sysinfo`.
    unsafe { bindings::si_meminfo(&mut info) };
    let total = u64::try_from(info.totalram).unwrap_or(u64::MAX).saturating_mul(u64::from(info.mem_unit));
    let tb = match cfg.tb_cache_size {
        // The default shrinks to what the machine has room for (down to the smallest
        // default), so that a VM the previous, smaller default fitted still fits.
        0 => {
            let room = (total / 2).saturating_sub(cfg.ram_size) & !7;
            (crate::ktranslator::tcache::default_arena_bytes(cfg.ram_size) as u64)
                .min(room)
                .max(uapi::KEMU_TB_CACHE_DEFAULT)
        }
        n => n,
    };
    if !(uapi::KEMU_TB_CACHE_MIN..=uapi::KEMU_TB_CACHE_MAX).contains(&tb) || tb % 8 != 0 {
        return Err(EINVAL);
    }
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
        // In the owner's context: its memory cgroup pays for the JIT's programs.
        let jit = crate::jit::Compiler::new()?;
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
        let clock = VmClock::new();
        let now = clock.ns();
        let shared = Arc::pin_init(
            try_pin_init!(Shared {
                jit,
                id: AtomicU32::new(0),
                ram_size: cfg.ram_size,
                clock,
                state: AtomicU32::new(uapi::KEMU_STATE_CREATED),
                exit_reason: AtomicU32::new(uapi::KEMU_EXIT_NONE),
                exit_code: AtomicU32::new(0),
                started_ns: AtomicU64::new(0),
                stopped_ns: AtomicU64::new(0),
                counters: [const { AtomicU64::new(0) }; uapi::STATUS_COUNTERS.len()],
                control: Control::new(),
                tohost: AtomicU64::new(0),
                fromhost: AtomicU64::new(0),
                core <- new_mutex!(core),
                worker <- new_mutex!(Disks::default()),
                machine <- new_mutex!(MachineState::new(Machine::new(now), ring()?)),
                wake <- new_condvar!(),
                dma_wake <- new_condvar!(),
                dma_synced <- new_condvar!(),
                input_room <- new_condvar!(),
                console_out <- new_mutex!(ring()?),
                console_wait <- new_condvar!(),
            }),
            GFP_KERNEL,
        )?;
        Arc::pin_init(
            try_pin_init!(Vm {
                shared,
                detached: AtomicBool::new(false),
                ctl <- new_mutex!(VmCtl { vcpu: None, dma: None, jit: None }),
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

    /// `KEMU_DETACH`: marks the started VM as owned by the module. One that already
    /// ended (a short guest can end between START and DETACH) is detached too: its console
    /// output and exit status wait for `KEMU_ATTACH_VM`.
    pub(crate) fn detach(&self) -> Result {
        let _ctl = self.ctl.lock();
        if self.state() == uapi::KEMU_STATE_CREATED {
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
        let config = BlkConfig::for_storage(&file);
        let mut serial = *b"kemu-disk0";
        serial[9] = b'0' + (slot as u8 & 7);
        let disk = Disk { blk: BlkWorker::new(&serial), file };
        self.shared.worker.lock().attach(slot, disk).map_err(|_| EEXIST)?;
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
                // SAFETY: `jit::host()`'s hooks queue programs for `shared.jit`, whose
                // thread (started below, before the vCPU) compiles them with the kernel's
                // BPF JIT, and free them; they work for the module's lifetime, with
                // `shared.jit`, which lives as long as the hart; the vCPU thread turns
                // tier 2 off (releasing every image) before it ends, and the module cannot
                // be unloaded while a VM exists.
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
        let scratch = KVVec::from_elem(0u8, SCRATCH, GFP_KERNEL)?;
        self.shared.state.store(uapi::KEMU_STATE_RUNNING, Ordering::Release);
        let dma_arg = (self.shared.clone(), threads::DmaRam { ram, code, scratch });
        let spawned = self.spawn_threads(&mut ctl, tier2, dma_arg);
        if spawned.is_err() {
            self.stop_locked(&mut ctl);
        }
        spawned
    }

    /// Starts the VM's threads: tier 2's compile thread first (the hart's hooks queue
    /// programs for it), DMA, then the vCPU.
    fn spawn_threads(&self, ctl: &mut VmCtl, tier2: bool, dma_arg: (Arc<Shared>, threads::DmaRam)) -> Result {
        let id = self.id();
        if tier2 {
            ctl.jit = Some(KThread::spawn(c"jit", id, self.shared.clone(), threads::jit_main)?);
        }
        ctl.dma = Some(KThread::spawn(c"dma", id, dma_arg, threads::dma_main)?);
        ctl.vcpu = Some(KThread::spawn(c"vcpu", id, self.shared.clone(), threads::vcpu_main)?);
        Ok(())
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

    /// Stops both threads (kvmm's stop request: the vCPU leaves at its next unchained
    /// block, DMA fails its storage calls in progress), waits for them, then fsyncs and
    /// releases the disks.
    fn stop_locked(&self, ctl: &mut VmCtl) {
        let s = &*self.shared;
        request_stop(s);
        if let Some(t) = ctl.vcpu.take() {
            t.stop();
        }
        if let Some(t) = ctl.dma.take() {
            t.stop();
        }
        // The vCPU closed the compiler when it ended (unless it never ran).
        s.jit.close();
        if let Some(t) = ctl.jit.take() {
            t.stop();
        }
        for disk in s.worker.lock().take_all() {
            // The guest may not have flushed: what it wrote stays on the disk.
            let _ = disk.file.sync();
        }
        if s.state.load(Ordering::Acquire) != uapi::KEMU_STATE_STOPPED {
            s.stopped_ns.store(s.clock.ns(), Ordering::Relaxed);
            s.exit_reason.store(uapi::KEMU_EXIT_STOPPED, Ordering::Relaxed);
            s.state.store(uapi::KEMU_STATE_STOPPED, Ordering::Release);
        }
        s.wake_state_waiters();
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
        let mut st = uapi::KemuStatus {
            id: s.id.load(Ordering::Relaxed),
            state,
            exit_reason: s.exit_reason.load(Ordering::Relaxed),
            exit_code: s.exit_code.load(Ordering::Relaxed),
            ram_size: s.ram_size,
            uptime_ns,
            ..Default::default()
        };
        st.set_counters(core::array::from_fn(|i| s.counters.get(i).map_or(0, |c| c.load(Ordering::Relaxed))));
        st.disk_requests = s.control.disk_requests();
        st.t2_jit_bytes = s.jit.bytes();
        st
    }
}

impl Shared {
    /// Wakes the VM file's readers and writers after the state changed to stopped. They
    /// check the state with their lock held (readers `console_out`, writers `machine`)
    /// and then sleep: taking each lock once before the notification makes sure that
    /// none is between its check and its sleep, which would miss it and sleep forever.
    fn wake_state_waiters(&self) {
        drop(self.console_out.lock());
        self.console_wait.notify_all();
        drop(self.machine.lock());
        self.input_room.notify_all();
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

