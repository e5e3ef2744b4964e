//! `kemuctl run`: the whole machine as a normal process.
//!
//! The machine loop is kvmm's, shared with kemu.ko ([`kvmm::vcpu::run_vcpu`],
//! [`kvmm::worker::run_worker`]); this file is its std host: the vCPU runs on the main
//! thread, the virtio-blk worker on `kemu-blk`, the console reader on its own thread
//! (see [`console`]). The locks are std mutexes, the wait queues condition variables;
//! console output goes to stdout from the vCPU thread between slices.

pub(crate) mod console;
mod disk;
mod jit;
mod jit_thread;

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use kdevices::host::{MonotonicClock, WallClock};
use kdevices::machine::Machine;
use kdevices::sifive_test::MachineEvent;
use kdevices::virtio_blk::{BlkConfig, BlkWorker};
use kdevices::virtio_mmio::VirtioDevice;
use ktranslator::hart::{prv, Hart};
use ktranslator::ram::GuestRam;
use ktranslator::tcache::{default_arena_bytes, TcArena};
use kvmm::host::{request_stop, Queue, VmHost};
use kvmm::ring::Ring;
use kvmm::state::{Control, Disk, Disks, MachineState};
use kvmm::vcpu::{End, HtifPorts};
use kvmm::worker::DmaMemory;

use crate::machine_args::MachineArgs;
use crate::stats_json;

/// Everything the threads share: kvmm's state behind std locks.
struct Vm {
    machine: Mutex<MachineState<Vec<u8>>>,
    worker: Mutex<Disks<disk::FileDisk>>,
    out: Mutex<Ring<Vec<u8>>>,
    /// Wakes the vCPU from WFI.
    vcpu_wake: Condvar,
    /// Wakes the worker.
    worker_wake: Condvar,
    /// Tells the worker that the vCPU dropped the code DMA wrote over.
    dma_synced: Condvar,
    /// Zero of the run's monotonic clock.
    origin: Instant,
    control: Control,
    /// The user asked to quit (Ctrl-A x).
    quit: AtomicBool,
}

/// A poisoned lock only means that another thread panicked, which ends the process
/// (`cmd_run`): the state is still usable for shutting down.
fn relock<T>(r: std::sync::LockResult<MutexGuard<'_, T>>) -> MutexGuard<'_, T> {
    r.unwrap_or_else(|e| e.into_inner())
}

/// Monotonic time from the start of the run.
impl MonotonicClock for Vm {
    fn monotonic_ns(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }
}

/// Wall time from the Unix epoch.
impl WallClock for Vm {
    fn wall_ns(&self) -> u64 {
        SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
    }
}

impl VmHost for Vm {
    type Buf = Vec<u8>;
    type Disk = disk::FileDisk;
    type MachineGuard<'a> = MutexGuard<'a, MachineState<Vec<u8>>>;
    type WorkerGuard<'a> = MutexGuard<'a, Disks<disk::FileDisk>>;
    type ConsoleGuard<'a> = MutexGuard<'a, Ring<Vec<u8>>>;

    fn machine(&self) -> Self::MachineGuard<'_> {
        relock(self.machine.lock())
    }
    fn worker(&self) -> Self::WorkerGuard<'_> {
        relock(self.worker.lock())
    }
    fn console_out(&self) -> Self::ConsoleGuard<'_> {
        relock(self.out.lock())
    }
    fn wait<'a>(&'a self, queue: Queue, guard: Self::MachineGuard<'a>, timeout_ns: u64) -> Self::MachineGuard<'a> {
        let cv = match queue {
            Queue::Vcpu => &self.vcpu_wake,
            Queue::Worker => &self.worker_wake,
            Queue::DmaSynced => &self.dma_synced,
            // Nobody here waits on the console queues (the console thread retries).
            Queue::InputRoom | Queue::ConsoleOut => return guard,
        };
        cv.wait_timeout(guard, Duration::from_nanos(timeout_ns)).unwrap_or_else(|e| e.into_inner()).0
    }
    fn notify(&self, queue: Queue) {
        match queue {
            Queue::Vcpu => self.vcpu_wake.notify_one(),
            Queue::Worker => self.worker_wake.notify_one(),
            Queue::DmaSynced => self.dma_synced.notify_all(),
            Queue::InputRoom | Queue::ConsoleOut => {}
        }
    }
    fn control(&self) -> &Control {
        &self.control
    }
    /// Writes console output to stdout (a closed stdout loses it but does not stop the
    /// guest).
    fn flush_console(&self) {
        let mut buf = [0u8; 4096];
        let mut so = None;
        loop {
            let n = self.console_out().pop(&mut buf);
            if n == 0 {
                break;
            }
            let so = so.get_or_insert_with(|| std::io::stdout().lock());
            let _ = so.write_all(&buf[..n]);
        }
        if let Some(mut so) = so {
            let _ = so.flush();
        }
    }
}

/// Guest RAM and the code bitmap, handed to the worker thread.
struct DmaRam(GuestRam, ktranslator::tcache::CodePages);

// SAFETY: guest RAM is a heap block and the bitmap lives in the hart's arena; both live
// until every thread has been joined (`cmd_run`). GuestRam only makes raw,
// bounds-checked copies, which may race with the hart as DMA does on real hardware, and
// the bitmap is read with atomics.
unsafe impl Send for DmaRam {}

/// The hart, heap-allocated (about 300 KiB) and initialised in place.
pub(crate) fn new_hart(ram: GuestRam, arena: TcArena) -> Box<Hart> {
    let mut b = Box::<Hart>::new_uninit();
    // SAFETY: the box is valid and aligned for a Hart and used by nobody else;
    // init_in_place fully initialises it (zeroes it, then sets the fields).
    unsafe {
        Hart::init_in_place(b.as_mut_ptr(), ram, arena, 0);
        b.assume_init()
    }
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
    let mut arena_buf = vec![0u64; default_arena_bytes(ram_len as u64) / 8];
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

    // The run's monotonic clock starts now, at 0.
    let origin = Instant::now();
    let mut machine = Machine::new(0);
    let have_disk = !disks.is_empty();
    let mut slots = Disks::default();
    for (slot, disk) in disks {
        machine.set_virtio(slot, Some(VirtioDevice::Block(BlkConfig::for_storage(&disk))));
        let blk = BlkWorker::new(format!("kemu-disk{slot}").as_bytes());
        slots.attach(slot, Disk { blk, file: disk }).map_err(|_| format!("disk slot {slot} given twice"))?;
    }
    let ring = |what| Ring::new(vec![0u8; kvmm::CONSOLE_BUFFER]).ok_or(what);
    let vm = Arc::new(Vm {
        machine: Mutex::new(MachineState::new(machine, ring("console input")?)),
        worker: Mutex::new(slots),
        out: Mutex::new(ring("console output")?),
        vcpu_wake: Condvar::new(),
        worker_wake: Condvar::new(),
        dma_synced: Condvar::new(),
        origin,
        control: Control::new(),
        quit: AtomicBool::new(false),
    });

    let worker_thread = have_disk.then(|| {
        let vm = Arc::clone(&vm);
        let dma = DmaRam(ram, hart.code_pages());
        std::thread::Builder::new().name("kemu-blk".into()).spawn(move || {
            let dma = dma;
            // SAFETY: RAM and the arena outlive this thread (joined in `cmd_run` before
            // they are dropped).
            let mut mem = unsafe { DmaMemory::new(&*vm, dma.0, dma.1) };
            kvmm::worker::run_worker(&*vm, &mut mem, &mut vec![0u8; kvmm::SCRATCH]);
        })
    });
    let worker_thread = worker_thread.transpose()?;
    let terminal = console::Console::start(Arc::clone(&vm) as Arc<dyn console::ConsoleTarget>)?;

    let started = Instant::now();
    let htif = HtifPorts { tohost: plan.tohost.unwrap_or(0), fromhost: plan.fromhost.unwrap_or(0) };
    let end = kvmm::vcpu::run_vcpu(&*vm, &mut hart, htif, |hart| {
        if let Some(j) = user_jit.as_mut() {
            j.after_slice(hart);
        }
    });
    let wall = started.elapsed();
    vm.flush_console();
    if let Some(j) = user_jit {
        j.detach(&mut hart);
    }
    drop(terminal);

    request_stop(&*vm);
    if let Some(t) = worker_thread {
        let _ = t.join();
    }
    let dma_flushes = vm.machine().dma_flushes();
    if stats {
        print_stats(&hart, wall, dma_flushes);
    }
    let stats_written = stats_json.map(|path| {
        let disks = vm.worker();
        let disk_syncs = disks.iter().map(|d| d.file.syncs()).sum();
        let json = stats_json::run_stats(&hart.stats, wall, disks.served(), disk_syncs, dma_flushes);
        stats_json::write(path, &json)
    });
    drop(hart);
    drop(arena_buf);
    drop(ram_buf);
    let (status, msg) = run_end(end, vm.quit.load(Ordering::Relaxed));
    if let Some(m) = msg {
        eprintln!("kemuctl: {m}");
    }
    stats_written.transpose()?;
    Ok(status)
}

/// The exit status and the message for stderr of how the run ended.
fn run_end(end: End, quit: bool) -> (u8, Option<String>) {
    let msg = match end {
        End::Stopped if quit => Some("terminated by Ctrl-A x".into()),
        End::Stopped | End::Machine(MachineEvent::PowerOff) | End::HtifExit(0) => None,
        End::Machine(MachineEvent::Reboot) => {
            Some("the guest asked to reboot: stopping (kemuctl run never restarts a guest)".into())
        }
        End::Machine(MachineEvent::Fail(code)) => Some(format!("the guest powered off with failure code {code}")),
        End::HtifExit(code) => Some(format!("the program failed with HTIF code {code}")),
        End::HtifUnsupported(v) => Some(format!("unsupported HTIF request {v:#x} in tohost")),
    };
    (end.status(), msg)
}

/// What the console thread may do with the machine.
impl console::ConsoleTarget for Vm {
    /// Queues console input for the UART, waiting while the input ring is full (the
    /// guest reads it); input after the run ended has nowhere to go and is dropped.
    fn console_input(&self, mut bytes: &[u8]) -> bool {
        while !bytes.is_empty() && !self.control.stop_requested() {
            let n = self.machine().queue_input(bytes);
            self.vcpu_wake.notify_one();
            bytes = bytes.get(n..).unwrap_or(&[]);
            if n == 0 {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        true
    }

    /// Asks the run to end (Ctrl-A x).
    fn request_quit(&self) {
        self.quit.store(true, Ordering::Relaxed);
        request_stop(self);
    }
}
