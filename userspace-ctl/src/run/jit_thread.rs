//! Tier 2 compiled on a thread of its own, `kemu-jit` (kemu.ko's way, `rust/jit.rs`):
//! the hart queues a hot region's program with the checker's environment and runs the
//! region's head on tier 1 meanwhile; this thread checks the program (t2check.rs) and,
//! if the checker accepts it, compiles it; the vCPU hands the results to the hart
//! between slices ([`JitThread::deliver`]). In a Debian boot under `kemuctl run`,
//! checking and compiling were two thirds of the compile time, a tenth of the run.
//!
//! The thread owns the code arena. Programs are bump-allocated; the arena starts again
//! from its beginning when no program is alive (every one the thread made was released
//! by the hart or refused by it). Code written over code that ran before is made
//! visible to the vCPU by `membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE)`
//! before it is handed over: every thread of the process executes a serializing
//! instruction before it runs user code again, as the architecture asks of code
//! modified by another processor.

use std::collections::VecDeque;
use std::ffi::c_void;
use std::mem::ManuallyDrop;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

use ebpf_jit::hooks::{self, HookJit};
use ktranslator::hart::Hart;
use ktranslator::t2check::{check_with, CheckEnv, CheckScratch, Refusal};
use ktranslator::tier2::Tier2Host;
use rustix::thread::{membarrier, MembarrierCommand};

/// Most programs waiting for the thread (beyond it the hart tries again later).
const MAX_QUEUED: usize = 32;

/// A program waiting for the thread, with what the checker needs to know about it.
struct Job {
    ticket: u64,
    insns: Vec<u64>,
    env: Box<CheckEnv>,
}

/// What the vCPU and the thread pass each other.
struct Work {
    /// Programs to check and compile, oldest first.
    jobs: VecDeque<Job>,
    /// Results for the vCPU: `(ticket, entry address or 0 if the JIT refused it, or
    /// the checker's refusal)`.
    done: Vec<(u64, Result<u64, Refusal>)>,
    /// The vCPU is done with tier 2.
    closed: bool,
}

/// The state the hooks reach through `opaque`.
struct Shared {
    work: Mutex<Work>,
    /// Wakes the thread (a job, or the end).
    wake: Condvar,
    /// Set when `work.done` has something (read after every slice without the lock).
    ready: AtomicBool,
    /// Programs the hart released or did not take, not yet counted by the thread.
    released: AtomicUsize,
    /// The arena filled up while programs were alive: drop all translated code.
    flush_wanted: AtomicBool,
}

impl Shared {
    fn work(&self) -> MutexGuard<'_, Work> {
        // (Nothing panics holding the lock; if it did, the queue would still be whole:
        // each holder makes one push, pop or take.)
        self.work.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A hart's tier-2 compiler thread.
pub(crate) struct JitThread {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl JitThread {
    /// A thread compiling into an arena of `bytes`, or `None` if this kernel cannot
    /// make code written on one thread safe to run on another (no `membarrier` sync-core
    /// command: then the caller compiles on the vCPU).
    pub(crate) fn start(bytes: usize) -> Result<Option<JitThread>, String> {
        if membarrier(MembarrierCommand::RegisterPrivateExpeditedSyncCore).is_err() {
            return Ok(None);
        }
        let jit = HookJit::new(bytes).map_err(|e| format!("tier 2: {e}"))?;
        let shared = Arc::new(Shared {
            work: Mutex::new(Work { jobs: VecDeque::new(), done: Vec::new(), closed: false }),
            wake: Condvar::new(),
            ready: AtomicBool::new(false),
            released: AtomicUsize::new(0),
            flush_wanted: AtomicBool::new(false),
        });
        let s = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("kemu-jit".into())
            .spawn(move || run(&s, jit))
            .map_err(|e| format!("tier 2: cannot start the JIT thread: {e}"))?;
        Ok(Some(JitThread { shared, thread: Some(thread) }))
    }

    /// The hooks for a hart whose blocks are compiled after `threshold` tier-1
    /// executions (`self` must outlive the hart's use of them).
    pub(crate) fn host(&self, threshold: u32, max_blocks: u32) -> Tier2Host {
        Tier2Host {
            compile: None,
            submit: Some(submit),
            free: Some(free),
            opaque: Arc::as_ptr(&self.shared).cast_mut().cast(),
            helper_imm: hooks::HELPER_IMM,
            threshold,
            max_blocks,
        }
    }

    /// Hands the results to `hart` (vCPU thread, between slices); the programs it does
    /// not take (their blocks went away meanwhile) count as released.
    pub(crate) fn deliver(&self, hart: &mut Hart) {
        if !self.shared.ready.load(Ordering::Acquire) {
            return;
        }
        let done = {
            let mut w = self.shared.work();
            self.shared.ready.store(false, Ordering::Relaxed);
            std::mem::take(&mut w.done)
        };
        for (ticket, result) in done {
            match result {
                Err(refusal) => hart.t2_refuse(ticket, refusal),
                Ok(entry) => {
                    // SAFETY: `entry` is the JIT's compilation of exactly the program
                    // submitted with `ticket` (checked first), handed over once (taken
                    // out of `done`); the handle is the entry address, as
                    // `hooks::compile`'s.
                    let taken = unsafe { hart.t2_install(ticket, entry, entry) };
                    if !taken && entry != 0 {
                        self.shared.released.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }
    }

    /// Whether the arena filled up while programs were alive (then the host drops all
    /// translated code between two slices, which releases every program); clears it.
    pub(crate) fn take_flush_request(&self) -> bool {
        self.shared.flush_wanted.swap(false, Ordering::Relaxed)
    }

    /// Stops the thread (after the hart's tier 2 was turned off: no program runs or
    /// will run again), which drops the arena.
    pub(crate) fn stop(mut self) {
        self.shared.work().closed = true;
        self.shared.wake.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The thread's body until the vCPU closes the queue. The arena goes only then: were
/// the thread to panic, the code the hart holds would stay mapped (the hart's blocks
/// with no program yet would stay on tier 1).
fn run(shared: &Shared, jit: HookJit) {
    let mut jit = ManuallyDrop::new(jit);
    serve(shared, &mut jit);
    drop(ManuallyDrop::into_inner(jit));
}

/// Checks and compiles queued programs until the vCPU closes the queue.
fn serve(shared: &Shared, jit: &mut HookJit) {
    let mut scratch = Box::new(CheckScratch::NEW);
    loop {
        let job = {
            let mut w = shared.work();
            loop {
                if w.closed {
                    return;
                }
                if let Some(job) = w.jobs.pop_front() {
                    break job;
                }
                w = shared.wake.wait(w).unwrap_or_else(|e| e.into_inner());
            }
        };
        // (The arena starts over only when every program went to the hart, which
        // released it, or was not taken: counted as released too.)
        jit.release(shared.released.swap(0, Ordering::Relaxed));
        // The checker proves the program safe before the JIT sees it (t2check.rs).
        let result = check_with(&job.insns, &job.env, &mut scratch).map(|()| {
            let (entry, modified) = jit.compile_prog(&job.insns);
            if std::mem::take(&mut jit.flush_wanted) {
                shared.flush_wanted.store(true, Ordering::Relaxed);
            }
            // Modified code (see the module docs): without the sync (registered in
            // `start`, it fails only for want of kernel memory) the program is not
            // handed over, and its bytes stay unused until the arena starts over.
            if modified && membarrier(MembarrierCommand::PrivateExpeditedSyncCore).is_err() {
                jit.release(1);
                return 0;
            }
            entry
        });
        let mut w = shared.work();
        if w.closed {
            return;
        }
        w.done.push((job.ticket, result));
        shared.ready.store(true, Ordering::Release);
    }
}

/// The `submit` hook: queues a copy of the program and its checker environment.
///
/// # Safety
/// `opaque` is a live `Shared` ([`JitThread::host`]); the hart passes `n` instructions
/// at `insns` and a valid environment (`SubmitFn`).
unsafe extern "C" fn submit(opaque: *mut c_void, insns: *const u64, n: usize, env: *const CheckEnv, ticket: u64) -> bool {
    // SAFETY: this function's contract.
    let (shared, prog, env) = unsafe { (&*opaque.cast::<Shared>(), std::slice::from_raw_parts(insns, n), &*env) };
    let mut w = shared.work();
    if w.closed || w.jobs.len() >= MAX_QUEUED {
        return false;
    }
    w.jobs.push_back(Job { ticket, insns: prog.to_vec(), env: Box::new(*env) });
    drop(w);
    shared.wake.notify_one();
    true
}

/// The `free` hook: counts the release (the thread reuses the arena once none is alive).
///
/// # Safety
/// `opaque` is a live `Shared` ([`JitThread::host`]).
unsafe extern "C" fn free(opaque: *mut c_void, _handle: u64) {
    // SAFETY: this function's contract.
    let shared = unsafe { &*opaque.cast::<Shared>() };
    shared.released.fetch_add(1, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::jit::UserJit;
    use ktranslator::bus::Bus;
    use ktranslator::ebpf::insn;
    use ktranslator::hart::Exit;
    use ktranslator::ram::GuestRam;
    use ktranslator::tcache::TcArena;
    use std::time::{Duration, Instant};

    const RAM_BASE: u64 = kdevices::memmap::RAM_BASE;

    struct NoDevices;
    impl Bus for NoDevices {
        fn mmio_read(&mut self, _: u64, _: u8) -> Option<u64> {
            None
        }
        fn mmio_write(&mut self, _: u64, _: u8, _: u64) -> bool {
            false
        }
        fn time(&mut self) -> u64 {
            0
        }
    }

    /// A hart over `ram` and `arena` (which must outlive it).
    fn hart(ram: &mut [u8], arena: &mut [u64]) -> Box<Hart> {
        // SAFETY: the caller keeps both buffers alive and untouched while the hart is.
        let (r, a) = unsafe { (GuestRam::new(ram.as_mut_ptr(), ram.len(), RAM_BASE), TcArena::new(arena.as_mut_ptr(), arena.len())) };
        crate::run::new_hart(r, a)
    }

    /// `loop: addi a0, a0, 1; addi t0, t0, -1; bne t0, zero, loop; wfi`, a million turns,
    /// queued at threshold 64: the thread compiles it while tier 1 runs it, and the
    /// vCPU installs it between slices.
    #[test]
    fn a_hot_loop_runs_compiled_by_the_thread() {
        let (mut ram, mut arena) = (vec![0u8; 1 << 20], vec![0u64; 1 << 16]);
        let mut h = hart(&mut ram, &mut arena);
        let code: [u32; 4] = [0x0015_0513, 0xfff2_8293, 0xfe02_9ce3, 0x1050_0073];
        let bytes: Vec<u8> = code.iter().flat_map(|w| w.to_le_bytes()).collect();
        assert!(h.ram().write_bytes(RAM_BASE, &bytes));
        h.set_xreg(5, 1_000_000);
        h.set_pc(RAM_BASE);
        let mut jit = UserJit::attach(&mut h, Some(64)).expect("tier 2");
        assert!(matches!(jit, UserJit::Thread(_)), "this host has membarrier's sync-core command");
        let mut exit = Exit::Budget;
        while exit == Exit::Budget {
            exit = h.run(&mut NoDevices, 10_000);
            jit.after_slice(&mut h);
        }
        assert_eq!(exit, Exit::Wfi);
        assert_eq!(h.xreg(10), 1_000_000);
        let s = h.stats;
        assert!(s.t2_queued >= 1 && s.t2_compiled >= 1 && s.t2_executed > 0, "{s:?}");
        jit.detach(&mut h);
        assert_eq!(h.stats.t2_freed, h.stats.t2_compiled);
    }

    /// The thread checks every program before its JIT sees it: one that stores outside
    /// the hart comes back as the checker's refusal, which the hart counts.
    #[test]
    fn the_thread_checks_before_it_compiles() {
        let (mut ram, mut arena) = (vec![0u8; 1 << 20], vec![0u64; 1 << 16]);
        let mut h = hart(&mut ram, &mut arena);
        let Ok(Some(t)) = JitThread::start(1 << 20) else { panic!("this host has membarrier's sync-core command") };
        // r2 = r1 + 1 MiB; *(u64 *)(r2 + 0) = r1; return 0.
        let prog = [
            insn(0xbf, 2, 1, 0, 0),
            insn(0x07, 2, 0, 0, 1 << 20),
            insn(0x7b, 2, 1, 0, 0),
            insn(0xb7, 0, 0, 0, 0),
            insn(0x95, 0, 0, 0, 0),
        ];
        let env = CheckEnv::new(hooks::HELPER_IMM);
        let host = t.host(64, 16);
        let submit = host.submit.expect("queued");
        // SAFETY: `opaque` is the thread's live state; `prog` and `env` are valid.
        assert!(unsafe { submit(host.opaque, prog.as_ptr(), prog.len(), &env, 77) });
        let until = Instant::now() + Duration::from_secs(30);
        while !t.shared.ready.load(Ordering::Acquire) {
            assert!(Instant::now() < until, "no result from the JIT thread");
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(matches!(t.shared.work().done.as_slice(), [(77, Err(_))]));
        t.deliver(&mut h);
        assert_eq!(h.t2_refusals().0, 1);
        // (A ticket the hart never issued: nothing to install.)
        assert_eq!(h.stats.t2_discarded, 1);
        t.stop();
    }
}
