// SPDX-License-Identifier: GPL-2.0

//! A VM: guest RAM, the hart, the device models and the vCPU kthread that runs them.
//!
//! Ownership and locking:
//! - [`Vm`] belongs to one open file of `/dev/kemu`; its `Mutex<VmCtl>` serialises the
//!   lifecycle ioctls (create, load, start, stop).
//! - [`Shared`] is reference-counted between the file and the vCPU thread. The thread
//!   holds `core` (RAM, translation cache, hart) locked for as long as it runs, so the
//!   ioctls only touch RAM before START or after the thread ended. Counters and the
//!   state are atomics, readable at any time.
//! - Lock order: `core` -> `machine` -> `console`. `read()` takes `console` alone.

use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use kernel::{
    bindings,
    new_condvar, new_mutex,
    prelude::*,
    sync::{Arc, CondVar, Mutex},
    time::msecs_to_jiffies,
    iov::IovIterDest,
    uaccess::{UserPtr, UserSlice},
};

use crate::clock::{KernelWallClock, VmClock};
use crate::console::Ring;
use crate::kdevices::{
    host::WallClock,
    machine::{Machine, MIP_MEIP, MIP_MSIP, MIP_MTIP, MIP_SEIP},
    memmap::RAM_BASE,
    mmio::{Env, Width},
    sifive_test::MachineEvent,
};
use crate::kthread::KThread;
use crate::ktranslator::{
    bus::Bus,
    hart::{Exit, Hart},
    ram::GuestRam,
    tcache::TcArena,
};
use crate::uapi;

/// Instructions per slice of `Hart::run`: between slices the vCPU updates interrupt
/// lines and checks for stop requests.
const SLICE: u64 = 200_000;
/// Longest WFI sleep when no device deadline is known (milliseconds).
const WFI_MAX_SLEEP_MS: u32 = 10;
/// The interrupt lines the devices drive.
const DEVICE_LINES: u64 = MIP_MSIP | MIP_MTIP | MIP_MEIP | MIP_SEIP;

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

/// State shared by the VM's file and its vCPU thread.
#[pin_data]
pub(crate) struct Shared {
    id: u32,
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
    /// The UART's transmitter found the console buffer full: retry after a read.
    tx_blocked: AtomicBool,
    #[pin]
    core: Mutex<Core>,
    #[pin]
    machine: Mutex<Machine>,
    /// Wakes the vCPU from a WFI sleep (stop, console drained).
    #[pin]
    wake: CondVar,
    #[pin]
    console: Mutex<Ring>,
    /// Wakes console readers.
    #[pin]
    console_wait: CondVar,
}

/// Lifecycle state guarded by the file's lock.
struct VmCtl {
    thread: Option<KThread>,
}

/// A VM, owned by one open file.
#[pin_data(PinnedDrop)]
pub(crate) struct Vm {
    shared: Arc<Shared>,
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
    /// Creates a VM from a validated configuration: RAM, translation cache and hart.
    pub(crate) fn create(id: u32, cfg: &uapi::KemuVmConfig) -> Result<Pin<KBox<Vm>>> {
        let tb_bytes = check_config(cfg)?;
        let flags = GFP_KERNEL_ACCOUNT | __GFP_NOWARN;
        let ram_len = usize::try_from(cfg.ram_size)?;
        let mut ram = VVec::<u8>::from_elem(0u8, ram_len, flags)?;
        let arena_words = usize::try_from(tb_bytes / 8)?;
        let mut arena = VVec::<u64>::with_capacity(arena_words, flags)?;
        // SAFETY: `ram` is `ram_len` bytes of vmalloc memory that stays put (it is never
        // resized) for as long as `Core` lives, which outlives the hart using it; nobody
        // holds a reference into it while the hart runs (`core` is locked by the vCPU).
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
        let shared = Arc::pin_init(
            try_pin_init!(Shared {
                id,
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
                tx_blocked: AtomicBool::new(false),
                core <- new_mutex!(core),
                machine <- new_mutex!(Machine::new(0)),
                wake <- new_condvar!(),
                console <- new_mutex!(Ring::new()?),
                console_wait <- new_condvar!(),
            }),
            GFP_KERNEL,
        )?;
        KBox::try_pin_init(
            try_pin_init!(Vm { shared, ctl <- new_mutex!(VmCtl { thread: None }) }),
            GFP_KERNEL,
        )
    }

    fn state(&self) -> u32 {
        self.shared.state.load(Ordering::Acquire)
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
        let len = end - off;
        let user = usize::try_from(req.user_addr)?;
        let mut core = self.shared.core.lock();
        let dst = &mut core.ram[off..end];
        if let Err(e) = UserSlice::new(UserPtr::from_addr(user), len).reader().read_slice(dst) {
            // A fault part-way: leave no half-loaded image behind.
            dst.fill(0);
            return Err(e);
        }
        Ok(())
    }

    /// `KEMU_START`: starts the hart on the `kemu-vcpu/<id>` kthread.
    pub(crate) fn start(&self, req: &uapi::KemuStart) -> Result {
        let mut ctl = self.ctl.lock();
        match self.state() {
            uapi::KEMU_STATE_CREATED => {}
            uapi::KEMU_STATE_RUNNING => return Err(EBUSY),
            _ => return Err(EINVAL),
        }
        if req.flags != 0 {
            return Err(EINVAL);
        }
        {
            let mut core = self.shared.core.lock();
            let hart = &mut core.hart;
            hart.set_pc(req.pc);
            for (i, a) in req.args.iter().enumerate() {
                hart.set_xreg(10 + i, *a);
            }
        }
        self.shared.started_ns.store(self.shared.clock.ns(), Ordering::Relaxed);
        self.shared.state.store(uapi::KEMU_STATE_RUNNING, Ordering::Release);
        match KThread::spawn(c"vcpu", self.shared.id, self.shared.clone(), vcpu_main) {
            Ok(t) => {
                ctl.thread = Some(t);
                Ok(())
            }
            Err(e) => {
                self.shared.state.store(uapi::KEMU_STATE_CREATED, Ordering::Release);
                Err(e)
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

    fn stop_locked(&self, ctl: &mut VmCtl) {
        if let Some(thread) = ctl.thread.take() {
            self.shared.stop.store(true, Ordering::Release);
            self.shared.wake.notify_all();
            thread.stop();
        }
    }

    /// The state shared with the vCPU (for console reads that must not hold the file's
    /// VM lock while they sleep).
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
            id: s.id,
            state,
            exit_reason: s.exit_reason.load(Ordering::Relaxed),
            exit_code: s.exit_code.load(Ordering::Relaxed),
            ram_size: s.ram_size,
            uptime_ns,
            instructions: s.instructions.load(Ordering::Relaxed),
            tbs_translated: s.tbs_translated.load(Ordering::Relaxed),
            tlb_misses: s.tlb_misses.load(Ordering::Relaxed),
            traps: s.traps.load(Ordering::Relaxed),
            reserved: [0; 4],
        }
    }
}

#[pinned_drop]
impl PinnedDrop for Vm {
    fn drop(self: Pin<&mut Self>) {
        // The last close (or the owner's death) stops the guest before its memory goes.
        let mut ctl = self.ctl.lock();
        self.stop_locked(&mut ctl);
    }
}

impl Shared {
    /// `read()` on the VM file: guest console output. Blocks until there is some unless
    /// `nonblock`; returns 0 (end of file) once the VM has stopped and all was read.
    pub(crate) fn console_read(&self, out: &mut IovIterDest<'_>, nonblock: bool) -> Result<usize> {
        let mut chunk = [0u8; 256];
        let mut ring = self.console.lock();
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
}

/// The vCPU's view of everything outside RAM: kdevices' machine, under its lock.
struct VcpuBus<'a> {
    shared: &'a Shared,
    event: Option<MachineEvent>,
}

impl VcpuBus<'_> {
    /// Runs one device access with the machine and console locked, then collects what
    /// the access asked of the host.
    fn access<R>(&mut self, f: impl FnOnce(&mut Machine, &mut Env<'_>) -> R) -> R {
        let shared = self.shared;
        let mut machine = shared.machine.lock();
        let mut console = shared.console.lock();
        let before = console.len();
        let wall = KernelWallClock;
        let mut env = Env { clock: &shared.clock, wall: &wall, console: &mut *console };
        let r = f(&mut machine, &mut env);
        if let Some(ev) = machine.take_machine_event() {
            self.event = Some(ev);
        }
        let events = machine.take_events();
        if events.console_tx_blocked() {
            shared.tx_blocked.store(true, Ordering::Relaxed);
        }
        if console.len() != before {
            shared.console_wait.notify_all();
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
        self.shared.machine.lock().mtime(self.shared.clock.ns())
    }

    fn stop_requested(&mut self) -> bool {
        self.event.is_some() || self.shared.stop.load(Ordering::Relaxed)
    }
}

/// Body of the `kemu-vcpu/<id>` thread.
fn vcpu_main(shared: Arc<Shared>) {
    let s = &*shared;
    let mut core = s.core.lock();
    let mut bus = VcpuBus { shared: s, event: None };
    let (reason, code) = loop {
        if s.stop.load(Ordering::Acquire) || KThread::should_stop() {
            break (uapi::KEMU_EXIT_STOPPED, 0);
        }
        if s.tx_blocked.swap(false, Ordering::Relaxed) {
            let mut machine = s.machine.lock();
            let mut console = s.console.lock();
            if !machine.console_drain(&mut *console) {
                s.tx_blocked.store(true, Ordering::Relaxed);
            }
        }
        let mip = s.machine.lock().mip(0, s.clock.ns());
        core.hart.set_irq(DEVICE_LINES & !mip, false);
        core.hart.set_irq(DEVICE_LINES & mip, true);

        let exit = core.hart.run(&mut bus, SLICE);

        let st = &core.hart.stats;
        s.instructions.store(st.insns, Ordering::Relaxed);
        s.tbs_translated.store(st.tbs_translated, Ordering::Relaxed);
        s.tlb_misses.store(st.tlb_misses, Ordering::Relaxed);
        s.traps.store(st.traps, Ordering::Relaxed);
        match bus.event.take() {
            Some(MachineEvent::PowerOff) => break (uapi::KEMU_EXIT_POWEROFF, 0),
            Some(MachineEvent::Reboot) => break (uapi::KEMU_EXIT_REBOOT, 0),
            Some(MachineEvent::Fail(c)) => break (uapi::KEMU_EXIT_FAIL, u32::from(c)),
            None => {}
        }
        if exit == Exit::Wfi {
            wfi_sleep(s, &mut core.hart);
        }
    };
    s.exit_code.store(code, Ordering::Relaxed);
    s.exit_reason.store(reason, Ordering::Relaxed);
    s.stopped_ns.store(s.clock.ns(), Ordering::Relaxed);
    s.state.store(uapi::KEMU_STATE_STOPPED, Ordering::Release);
    s.console_wait.notify_all();
}

/// Sleeps after a WFI until an interrupt line rises, the next device deadline, a stop
/// request or a wake-up from the file side.
fn wfi_sleep(s: &Shared, hart: &mut Hart) {
    let mut machine = s.machine.lock();
    let now = s.clock.ns();
    let mip = machine.mip(0, now);
    hart.set_irq(DEVICE_LINES & !mip, false);
    hart.set_irq(DEVICE_LINES & mip, true);
    if hart.wfi_wakeup() || s.stop.load(Ordering::Acquire) {
        return;
    }
    let wall = KernelWallClock.wall_ns();
    let max_ns = u64::from(WFI_MAX_SLEEP_MS) * 1_000_000;
    let sleep_ns = machine.next_deadline(now, wall).map_or(max_ns, |d| d.saturating_sub(now).min(max_ns));
    let ms = u32::try_from(sleep_ns.div_ceil(1_000_000)).unwrap_or(WFI_MAX_SLEEP_MS).max(1);
    let _ = s.wake.wait_interruptible_timeout(&mut machine, msecs_to_jiffies(ms));
}
