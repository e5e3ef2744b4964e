//! `kemuctl run`: the whole machine as a normal process.
//!
//! Threads and locks (the kernel host mirrors them with kthreads and mutexes):
//!
//! - the vCPU thread (the main thread) owns the [`Hart`] and runs it in slices of
//!   [`SLICE`] instructions; every guest access outside RAM goes through [`BusAdapter`],
//!   which takes the machine lock (`Vm::shared`) for that one access. Between slices it
//!   hands the hart its interrupt lines, writes console output, polls HTIF and sleeps in
//!   WFI on `Vm::vcpu_wake` until the machine's next deadline;
//! - the virtio-blk worker thread owns the disks (`Vm::worker`) and serves the queue of
//!   every slot the guest kicked, one slot after the other, as [`kdevices::virtio_mmio`]
//!   describes (job under the machine lock, `process` under the worker lock only,
//!   completion under the machine lock); like kemu.ko's one `kemu-dma` kthread per VM;
//! - the console thread reads stdin (see [`console`]).
//!
//! Lock order: worker lock, then machine lock; the vCPU never holds the machine lock
//! while it takes the worker lock (it does so once after a device reset, to wait for a
//! request in flight).
//!
//! The per-access decisions, the interrupt lines, the WFI deadline and the exit statuses
//! are kdevices' [`kdevices::vcpu`], shared with kemu.ko.

pub(crate) mod console;
mod disk;
mod jit;

use std::collections::VecDeque;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use kdevices::host::{ConsoleSink, GuestMemory, MemError, MonotonicClock, WallClock};
use kdevices::machine::Machine;
use kdevices::mmio::{Env, Width};
use kdevices::sifive_test::MachineEvent;
use kdevices::vcpu::{self, HartLink, Htif, MIP_LINES};
use kdevices::virtio_blk::{BlkConfig, BlkWorker};
use kdevices::virtio_mmio::VirtioDevice;
use ktranslator::bus::Bus;
use ktranslator::hart::{prv, Exit, Hart};
use ktranslator::ram::GuestRam;
use ktranslator::tcache::{CodePages, TcArena, DEFAULT_ARENA_BYTES};

use crate::machine_args::MachineArgs;
use crate::stats_json;

/// Instructions per slice of [`Hart::run`]. Interrupt lines that rise without an MMIO
/// access (the timer, a virtio completion, console input) reach the hart at the end of a
/// slice: at the 260-290 MIPS measured while booting Debian's kernel, a slice lasts
/// under 0.4 ms, so MTIP is late by at most that (Linux's tick is 4 ms), for a per-slice
/// cost of well under a microsecond (one lock, two clock reads).
const SLICE: u64 = 100_000;
/// Longest single sleep in WFI (the host's own sources wake it earlier).
const WFI_MAX_SLEEP_NS: u64 = 100_000_000;
/// Console output buffered before the UART sees a busy transmitter.
const OUT_CAP: usize = 64 << 10;
/// Console input held for the UART before the console thread waits.
const IN_CAP: usize = 64 << 10;
/// Bytes the worker moves per storage call.
const SCRATCH: usize = 256 << 10;
/// Guest-RAM ranges the worker wrote, kept separately before they are merged into one.
const DMA_RANGES: usize = 64;

/// Host clocks: monotonic from the start of the run, wall from the Unix epoch.
struct HostClock {
    origin: Instant,
}

impl MonotonicClock for HostClock {
    fn monotonic_ns(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }
}

impl WallClock for HostClock {
    fn wall_ns(&self) -> u64 {
        SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
    }
}

/// The UART's sink: a bounded buffer the vCPU thread writes to stdout between slices.
#[derive(Default)]
struct OutBuf {
    buf: Vec<u8>,
}

impl ConsoleSink for OutBuf {
    fn send(&mut self, bytes: &[u8]) -> usize {
        let n = bytes.len().min(OUT_CAP.saturating_sub(self.buf.len()));
        self.buf.extend_from_slice(&bytes[..n]);
        n
    }
}

/// How the run ends: the process exit status, with a message for stderr (if any).
struct End(u8, Option<String>);

/// State under the machine lock.
struct Shared {
    machine: Machine,
    out: OutBuf,
    /// Console input the UART has not taken yet.
    input: VecDeque<u8>,
    /// The user asked to quit (Ctrl-A x).
    quit: bool,
    /// Virtio slots whose queue was notified since the worker last looked (bit n: slot n).
    worker_kick: u8,
    /// The worker must end.
    worker_exit: bool,
    /// Guest-RAM ranges the worker wrote since the vCPU last looked.
    dma: Vec<(u64, u64)>,
    /// Translation-cache flushes caused by those writes.
    dma_flushes: u64,
}

impl Shared {
    /// Moves held console input into the UART as far as it has room.
    fn feed_input(&mut self) {
        while !self.input.is_empty() {
            let n = self.machine.console_input(self.input.as_slices().0);
            if n == 0 {
                break;
            }
            self.input.drain(..n);
        }
    }
}

/// One disk and its request processor.
struct SlotWorker {
    slot: usize,
    blk: BlkWorker,
    disk: disk::FileDisk,
}

/// The disks, owned by the worker.
struct WorkerState {
    disks: Vec<SlotWorker>,
}

impl WorkerState {
    /// Requests served and fdatasync calls made, over all disks.
    fn counts(&self) -> (u64, u64) {
        self.disks.iter().fold((0, 0), |(r, s), d| (r + d.blk.served(), s + d.disk.syncs()))
    }
}

/// Everything the threads share.
struct Vm {
    shared: Mutex<Shared>,
    /// Wakes the vCPU from WFI (worker completion, console input, quit).
    vcpu_wake: Condvar,
    /// Wakes the worker (a kick, or the end).
    worker_wake: Condvar,
    worker: Mutex<WorkerState>,
    clock: HostClock,
    /// Makes the hart leave `run` at its next unchained block (`Hart::set_stop_flag`):
    /// the worker wrote over translated code.
    attention: AtomicBool,
    /// Tells the worker that the vCPU dropped the code DMA wrote over (`Shared::dma` is
    /// empty again); waited on with `shared`.
    dma_synced: Condvar,
}

impl Vm {
    fn lock(&self) -> MutexGuard<'_, Shared> {
        // A panicking thread ends the process (see `cmd_run`), so poisoning only means
        // "another thread panicked": the state is still usable for shutting down.
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }
    fn now(&self) -> u64 {
        self.clock.monotonic_ns()
    }
}

/// Guest RAM, shareable with the worker thread.
#[derive(Clone, Copy)]
struct SharedRam(GuestRam);

// SAFETY: guest RAM is a heap block that lives until every thread has been joined
// (`cmd_run`); GuestRam only makes raw, bounds-checked copies, which may race with the
// hart as DMA does on real hardware (the guest orders them with the virtqueue protocol).
unsafe impl Send for SharedRam {}

/// Guest memory as the worker's DMA sees it; records what it writes, and has the code it
/// wrote over dropped before the guest can see the job complete (`before_publish`).
struct DmaMemory {
    ram: SharedRam,
    code: CodePages,
    vm: Arc<Vm>,
    written: Vec<(u64, u64)>,
}

// SAFETY: `CodePages` points into the hart's translation-cache arena, which lives until
// every thread has been joined (`cmd_run`), and is only read with atomics.
unsafe impl Send for DmaMemory {}

/// Moves the ranges a DMA job wrote into the log the vCPU drops code from.
fn note_dma(g: &mut Shared, written: &mut Vec<(u64, u64)>) {
    if g.dma.len() + written.len() > DMA_RANGES {
        // Too many pieces: keep one range covering them all.
        let all = g.dma.drain(..).chain(written.drain(..));
        let (lo, hi) = all.fold((u64::MAX, 0u64), |(lo, hi), (a, l)| (lo.min(a), hi.max(a.saturating_add(l))));
        g.dma.push((lo, hi.saturating_sub(lo)));
    } else {
        g.dma.append(written);
    }
}

impl GuestMemory for DmaMemory {
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), MemError> {
        if self.ram.0.read_bytes(addr, buf) {
            Ok(())
        } else {
            Err(MemError)
        }
    }
    fn write(&mut self, addr: u64, data: &[u8]) -> Result<(), MemError> {
        if !self.ram.0.write_bytes(addr, data) {
            return Err(MemError);
        }
        let len = data.len() as u64;
        match self.written.last_mut() {
            Some((a, l)) if a.wrapping_add(*l) == addr => *l += len,
            _ => self.written.push((addr, len)),
        }
        Ok(())
    }

    /// The guest may see the job complete next: if it wrote over translated code, hand
    /// the ranges to the vCPU and wait until it dropped that code (as kemu.ko does).
    fn before_publish(&mut self) {
        if self.written.is_empty() {
            return;
        }
        // Order the writes before the bitmap reads (see `CodePages`).
        std::sync::atomic::fence(Ordering::SeqCst);
        // SAFETY: the arena behind `code` lives until the threads are joined (`cmd_run`).
        if !self.written.iter().any(|&(a, l)| unsafe { self.code.may_hold_code(a, l) }) {
            return;
        }
        let vm = Arc::clone(&self.vm);
        let mut g = vm.lock();
        note_dma(&mut g, &mut self.written);
        vm.attention.store(true, Ordering::Release);
        vm.vcpu_wake.notify_one();
        while !g.dma.is_empty() && !g.worker_exit {
            g = vm.dma_synced.wait_timeout(g, Duration::from_millis(10)).unwrap_or_else(|e| e.into_inner()).0;
        }
    }
}

/// ktranslator's view of the machine: one locked [`Machine`] access per guest access.
struct BusAdapter<'a> {
    vm: &'a Vm,
    link: HartLink,
    stop: bool,
    event: Option<MachineEvent>,
}

impl BusAdapter<'_> {
    fn after_access(&mut self, mut g: MutexGuard<'_, Shared>, now: u64) {
        let a = self.link.after_access(&mut g.machine, now);
        if a.kicks != 0 {
            g.worker_kick |= a.kicks;
            self.vm.worker_wake.notify_one();
        }
        if a.console_feed {
            g.feed_input();
        }
        if self.event.is_none() {
            self.event = a.machine;
        }
        self.stop |= a.stop();
        if a.resets != 0 {
            drop(g);
            // Wait for a request that started before the reset (virtio_mmio.rs).
            drop(self.vm.worker.lock().unwrap_or_else(|e| e.into_inner()));
        }
    }
}

impl Bus for BusAdapter<'_> {
    fn mmio_read(&mut self, paddr: u64, size: u8) -> Option<u64> {
        let width = Width::from_bytes(u64::from(size))?;
        let mut g = self.vm.lock();
        let now = self.vm.now();
        let s = &mut *g;
        let mut env = Env { clock: &self.vm.clock, wall: &self.vm.clock, console: &mut s.out };
        let r = s.machine.read(&mut env, paddr, width).ok();
        self.after_access(g, now);
        r
    }

    fn mmio_write(&mut self, paddr: u64, size: u8, val: u64) -> bool {
        let Some(width) = Width::from_bytes(u64::from(size)) else { return false };
        let mut g = self.vm.lock();
        let now = self.vm.now();
        let s = &mut *g;
        let mut env = Env { clock: &self.vm.clock, wall: &self.vm.clock, console: &mut s.out };
        let r = s.machine.write(&mut env, paddr, width, val).is_ok();
        self.after_access(g, now);
        r
    }

    fn time(&mut self) -> u64 {
        let g = self.vm.lock();
        g.machine.mtime(self.vm.now())
    }

    fn stop_requested(&mut self) -> bool {
        std::mem::take(&mut self.stop)
    }

    /// The run's monotonic clock (vDSO `clock_gettime`, no lock), for the hart's
    /// `translate_ns`.
    fn host_ns(&mut self) -> u64 {
        self.vm.now()
    }
}

/// The hart, heap-allocated (about 300 KiB) and initialised in place.
fn new_hart(ram: GuestRam, arena: TcArena) -> Box<Hart> {
    let mut b = Box::<Hart>::new_uninit();
    // SAFETY: the box is valid and aligned for a Hart and used by nobody else;
    // init_in_place fully initialises it (zeroes it, then sets the fields).
    unsafe {
        Hart::init_in_place(b.as_mut_ptr(), ram, arena, 0);
        b.assume_init()
    }
}

fn set_lines(hart: &mut Hart, lines: u64) {
    hart.set_irq(lines, true);
    hart.set_irq(MIP_LINES & !lines, false);
}

/// Statistics for `--stats` (integer arithmetic: the workspace denies floats).
fn print_stats(hart: &Hart, wall: Duration, dma_flushes: u64) {
    let s = &hart.stats;
    let us = wall.as_micros().max(1);
    // Instructions per microsecond = MIPS, in tenths.
    let mips10 = u128::from(s.insns) * 10 / us;
    let ms = wall.as_millis();
    eprintln!(
        "kemuctl: stats: {} instructions in {}.{:03} s wall ({}.{} MIPS), {} TBs translated, {} TB flushes ({} by stores into code, {} by disk DMA), {} TLB misses, {} traps ({} interrupts), tier 2: {} blocks compiled, {} executions",
        s.insns,
        ms / 1000,
        ms % 1000,
        mips10 / 10,
        mips10 % 10,
        s.tbs_translated,
        s.tc_flushes,
        s.smc_flushes,
        dma_flushes,
        s.tlb_misses,
        s.traps,
        s.interrupts,
        s.t2_compiled,
        s.t2_executed
    );
}

/// `kemuctl run`: boots the machine and returns the process exit status; with
/// `stats_json`, writes the counters there once the guest has run.
pub(crate) fn cmd_run(
    args: &MachineArgs,
    stats: bool,
    stats_json: Option<&std::path::Path>,
) -> Result<u8, Box<dyn std::error::Error>> {
    let plan = args.plan()?;
    let mut disks = Vec::new();
    for d in args.slot_disks()? {
        let disk = disk::FileDisk::open(&d.spec.path, d.spec.read_only, d.spec.writethrough)?;
        disks.push((d.slot, disk));
    }
    let ram_len = usize::try_from(plan.ram_size).map_err(|_| "RAM size too large for this host")?;
    // Zeroed heap memory: the kernel maps pages lazily.
    let mut ram_buf = vec![0u8; ram_len];
    let mut arena_buf = vec![0u64; DEFAULT_ARENA_BYTES / 8];
    // SAFETY: both buffers outlive the hart and the worker (joined below before they
    // are dropped) and are never touched through their Vecs while the machine runs.
    let (ram, arena) = unsafe {
        (
            GuestRam::new(ram_buf.as_mut_ptr(), ram_buf.len(), kdevices::memmap::RAM_BASE),
            TcArena::new(arena_buf.as_mut_ptr(), arena_buf.len()),
        )
    };
    for l in &plan.loads {
        if !ram.write_bytes(l.addr, &l.data) {
            return Err(format!("{} at {:#x} does not fit in RAM", l.what, l.addr).into());
        }
    }
    let mut hart = new_hart(ram, arena);
    let tier2 = args.tier.resolve(jit::AVAILABLE, "kemuctl run's eBPF JIT only exists for x86-64 hosts")?;
    let mut user_jit = if tier2 { Some(jit::UserJit::attach(&mut hart, args.tier2_threshold)?) } else { None };
    hart.set_privilege(prv::M);
    hart.set_pc(plan.entry);
    for (i, a) in plan.args.iter().enumerate() {
        hart.set_xreg(10 + i, *a);
    }

    let clock = HostClock { origin: Instant::now() };
    let mut machine = Machine::new(clock.monotonic_ns());
    let have_disk = !disks.is_empty();
    let disks = disks
        .into_iter()
        .map(|(slot, disk)| {
            machine.set_virtio(slot, Some(VirtioDevice::Block(BlkConfig::for_storage(&disk))));
            SlotWorker { slot, blk: BlkWorker::new(format!("kemu-disk{slot}").as_bytes()), disk }
        })
        .collect();
    let vm = Arc::new(Vm {
        shared: Mutex::new(Shared {
            machine,
            out: OutBuf::default(),
            input: VecDeque::new(),
            quit: false,
            worker_kick: 0,
            worker_exit: false,
            dma: Vec::new(),
            dma_flushes: 0,
        }),
        vcpu_wake: Condvar::new(),
        worker_wake: Condvar::new(),
        worker: Mutex::new(WorkerState { disks }),
        clock,
        attention: AtomicBool::new(false),
        dma_synced: Condvar::new(),
    });
    // SAFETY: `vm` outlives every `run` of the hart (the flag is removed after
    // `vcpu_main`, below).
    unsafe { hart.set_stop_flag(&vm.attention) };

    let worker_thread = have_disk.then(|| {
        let vm = Arc::clone(&vm);
        let mem = DmaMemory { ram: SharedRam(ram), code: hart.code_pages(), vm: Arc::clone(&vm), written: Vec::new() };
        std::thread::Builder::new().name("kemu-blk".into()).spawn(move || worker_main(&vm, mem))
    });
    let worker_thread = worker_thread.transpose()?;
    let terminal = console::Console::start(Arc::clone(&vm) as Arc<dyn console::ConsoleTarget>)?;

    let started = Instant::now();
    let end = vcpu_main(&vm, &mut hart, user_jit.as_mut(), plan.tohost, plan.fromhost);
    let wall = started.elapsed();
    // SAFETY: a null flag is always valid.
    unsafe { hart.set_stop_flag(std::ptr::null()) };
    if let Some(j) = user_jit {
        j.detach(&mut hart);
    }
    drop(terminal);

    vm.lock().worker_exit = true;
    vm.worker_wake.notify_all();
    if let Some(t) = worker_thread {
        let _ = t.join();
    }
    let dma_flushes = vm.lock().dma_flushes;
    if stats {
        print_stats(&hart, wall, dma_flushes);
    }
    let stats_written = stats_json.map(|path| {
        let (disk_requests, disk_syncs) =
            vm.worker.lock().unwrap_or_else(|e| e.into_inner()).counts();
        let json = stats_json::run_stats(&hart.stats, wall, disk_requests, disk_syncs, dma_flushes);
        stats_json::write(path, &json)
    });
    drop(hart);
    drop(arena_buf);
    drop(ram_buf);
    let End(status, msg) = end;
    if let Some(m) = msg {
        eprintln!("kemuctl: {m}");
    }
    stats_written.transpose()?;
    Ok(status)
}

/// Writes console output to stdout, retrying the UART's held bytes until none is left.
fn flush_console<'a>(vm: &'a Vm, mut g: MutexGuard<'a, Shared>) {
    loop {
        let out = std::mem::take(&mut g.out.buf);
        let pending = g.machine.uart().tx_pending() > 0;
        drop(g);
        if !out.is_empty() {
            let mut so = std::io::stdout().lock();
            // A closed stdout loses the output but must not stop the guest.
            let _ = so.write_all(&out).and_then(|()| so.flush());
        }
        if !pending {
            return;
        }
        g = vm.lock();
        let s = &mut *g;
        if s.machine.console_drain(&mut s.out) && s.out.buf.is_empty() {
            return;
        }
    }
}

/// Handles an HTIF request in `tohost`, if any.
fn poll_htif(hart: &Hart, tohost: u64, fromhost: Option<u64>) -> Option<End> {
    let mut b = [0u8; 8];
    if !hart.ram().read_bytes(tohost, &mut b) {
        return None;
    }
    let req = Htif::decode(u64::from_le_bytes(b))?;
    hart.ram().write_bytes(tohost, &[0; 8]);
    match req {
        Htif::Exit(code) => {
            let msg = (code != 0).then(|| format!("the program failed with HTIF code {code}"));
            Some(End(Htif::exit_status(code), msg))
        }
        Htif::Putchar(c) => {
            let mut so = std::io::stdout().lock();
            let _ = so.write_all(&[c]).and_then(|()| so.flush());
            if let Some(f) = fromhost {
                hart.ram().write_bytes(f, &1u64.to_le_bytes());
            }
            None
        }
        Htif::Unsupported(v) => Some(End(1, Some(format!("unsupported HTIF request {v:#x} in tohost")))),
    }
}

fn machine_end(ev: MachineEvent) -> End {
    let msg = match ev {
        MachineEvent::PowerOff => None,
        MachineEvent::Reboot => Some("the guest asked to reboot: stopping (kemuctl run never restarts a guest)".into()),
        MachineEvent::Fail(code) => Some(format!("the guest powered off with failure code {code}")),
    };
    End(vcpu::exit_status(ev), msg)
}

/// Takes the DMA ranges the worker wrote and drops stale translations of them.
fn invalidate_dma(vm: &Vm, g: &mut Shared, hart: &mut Hart) {
    if g.dma.is_empty() {
        return;
    }
    for (a, l) in std::mem::take(&mut g.dma) {
        if hart.invalidate_code_range(a, l) {
            g.dma_flushes += 1;
        }
    }
    // The worker may be waiting for this before it completes a job (`before_publish`).
    vm.dma_synced.notify_all();
}

/// The vCPU loop: runs the hart until the guest or the user ends the run.
fn vcpu_main(vm: &Vm, hart: &mut Hart, mut jit: Option<&mut jit::UserJit>, tohost: Option<u64>, fromhost: Option<u64>) -> End {
    let mut bus = BusAdapter { vm, link: HartLink::new(0), stop: false, event: None };
    loop {
        let exit = hart.run(&mut bus, SLICE);
        // Whatever asked the hart to leave is served below (a request made after this
        // stays set for the next round).
        vm.attention.store(false, Ordering::Relaxed);
        if jit.as_mut().is_some_and(|j| j.take_flush_request()) {
            // The JIT's arena is full: dropping every block releases all programs.
            hart.invalidate_code();
        }
        let mut g = vm.lock();
        invalidate_dma(vm, &mut g, hart);
        let lines = bus.link.sync_lines(&mut g.machine, vm.now(), vm.clock.wall_ns());
        set_lines(hart, lines);
        let quit = g.quit;
        flush_console(vm, g);
        if let Some(ev) = bus.event.take() {
            return machine_end(ev);
        }
        if quit {
            return End(0, Some("terminated by Ctrl-A x".into()));
        }
        if let Some(t) = tohost {
            if let Some(end) = poll_htif(hart, t, fromhost) {
                return end;
            }
        }
        if exit == Exit::Wfi {
            wfi_wait(vm, hart, &mut bus.link);
        }
    }
}

/// Sleeps while the hart waits for an interrupt: until the machine's next deadline, or
/// until the worker, console input or a quit request wakes it.
fn wfi_wait(vm: &Vm, hart: &mut Hart, link: &mut HartLink) {
    let mut g = vm.lock();
    loop {
        invalidate_dma(vm, &mut g, hart);
        let (now, wall) = (vm.now(), vm.clock.wall_ns());
        let lines = link.sync_lines(&mut g.machine, now, wall);
        set_lines(hart, lines);
        if hart.wfi_wakeup() || g.quit {
            return;
        }
        let ns = vcpu::wfi_sleep_ns(&g.machine, now, wall, WFI_MAX_SLEEP_NS);
        g = vm.vcpu_wake.wait_timeout(g, Duration::from_nanos(ns)).unwrap_or_else(|e| e.into_inner()).0;
    }
}

/// The virtio-blk worker: serves the queue of each disk the guest kicks.
fn worker_main(vm: &Vm, mut mem: DmaMemory) {
    let mut scratch = vec![0u8; SCRATCH];
    loop {
        let kicked = {
            let mut g = vm.lock();
            while g.worker_kick == 0 && !g.worker_exit {
                g = vm.worker_wake.wait(g).unwrap_or_else(|e| e.into_inner());
            }
            if g.worker_exit {
                return;
            }
            std::mem::take(&mut g.worker_kick)
        };
        let mut w = vm.worker.lock().unwrap_or_else(|e| e.into_inner());
        for d in w.disks.iter_mut().filter(|d| kicked & (1 << d.slot) != 0) {
            serve_slot(vm, d, &mut mem, &mut scratch);
        }
    }
}

/// Serves one queue's worth of slot `d.slot`'s requests; if more are waiting, marks the
/// slot kicked again, so that the worker takes the disks in turn.
fn serve_slot(vm: &Vm, d: &mut SlotWorker, mem: &mut DmaMemory, scratch: &mut [u8]) {
    let Some(job) = vm.lock().machine.virtio_job(d.slot) else { return };
    let c = d.blk.process(&job, mem, &mut d.disk, scratch);
    let mut g = vm.lock();
    note_dma(&mut g, &mut mem.written);
    g.machine.virtio_complete(d.slot, &c);
    if c.more {
        g.worker_kick |= 1 << d.slot;
    }
    drop(g);
    vm.vcpu_wake.notify_one();
}

/// What the console thread may do with the machine.
impl console::ConsoleTarget for Vm {
    /// Queues console input for the UART and wakes the vCPU; false while the queue is
    /// full (the caller waits and retries).
    fn console_input(&self, bytes: &[u8]) -> bool {
        let mut g = self.lock();
        if g.input.len() >= IN_CAP {
            return false;
        }
        g.input.extend(bytes);
        g.feed_input();
        drop(g);
        self.vcpu_wake.notify_one();
        true
    }

    /// Asks the run to end (Ctrl-A x).
    fn request_quit(&self) {
        self.lock().quit = true;
        self.vcpu_wake.notify_one();
    }
}
