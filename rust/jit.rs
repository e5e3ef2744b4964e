// SPDX-License-Identifier: GPL-2.0

//! Tier 2 in the kernel: ktranslator's eBPF programs compiled by the kernel's BPF JIT.
//!
//! The C side (`bpf_jit.c`: allocate, copy, `bpf_prog_select_runtime`, run, free) is
//! the only code that sees `struct bpf_prog`; this file gives ktranslator its
//! [`Tier2Host`] hooks on top of it. The JIT takes milliseconds per program (more while
//! the kernel frees a flushed cache's programs: their images are released from a
//! workqueue under the same locks), so a VM's programs are compiled on a thread of its
//! own, `kemu-jit/<id>` ([`Compiler`]): the vCPU queues a hot block's program and runs
//! the block on tier 1 until the program comes back, between two slices.
//!
//! At module load a small looping program is compiled and run to find out whether the
//! JIT is on and keeps the calling convention; if not (`net.core.bpf_jit_enable` is 0,
//! no JIT for this architecture, a wrong result), the module logs it once and every VM
//! runs on tier 1.

use core::{
    ffi::{c_int, c_void},
    sync::atomic::{AtomicBool, AtomicU64, Ordering},
};

use kernel::{
    alloc::flags::__GFP_ZERO,
    new_condvar, new_mutex,
    prelude::*,
    sync::{CondVar, Mutex},
    time::msecs_to_jiffies,
};

use crate::ktranslator::{
    ebpf,
    hart::Hart,
    t2check::{check_with, CheckEnv, CheckScratch, Refusal},
    tier2::{tier2_helper, Tier2Host, QUEUE_FROM_THRESHOLD},
};

extern "C" {
    fn kemu_jit_vm_new() -> *mut c_void;
    fn kemu_jit_vm_free(vm: *mut c_void);
    fn kemu_jit_vm_bytes(vm: *const c_void) -> u64;
    fn kemu_bpf_compile(vm: *mut c_void, insns: *const u64, n: u32, over_budget: *mut c_int) -> *mut c_void;
    fn kemu_bpf_run(prog: *const c_void, ctx: *mut c_void) -> u64;
    fn kemu_bpf_run_checked(prog: *const c_void, ctx: *mut c_void, clobbered: *mut u64) -> u64;
    fn kemu_jit_vm_freeing_over_budget(vm: *const c_void) -> bool;
    fn kemu_bpf_release(vm: *mut c_void, prog: *mut c_void);
    fn kemu_bpf_free_released(vm: *mut c_void, prog: *mut c_void);
    fn kemu_bpf_free(vm: *mut c_void, prog: *mut c_void);
    fn kemu_bpf_call_imm(f: *const c_void) -> i32;
}

/// Most compiled blocks per VM (each holds a `bpf_prog` of at least one page plus its
/// image): about 100 MiB at most.
const MAX_BLOCKS: u32 = 16384;

/// Most programs waiting for a VM's JIT thread (beyond it the hart tries again later):
/// at most this many copies of at most `T2_BUF_INSNS` instructions, 96 KiB each.
const MAX_QUEUED: usize = 32;

/// Released programs the JIT thread frees after each compile.
const FREES_PER_COMPILE: usize = 2;

/// Released programs the JIT thread frees at a time when nothing waits to be compiled,
/// pausing [`FREE_PAUSE_MS`] between two such batches.
const FREE_BATCH: usize = 8;
const FREE_PAUSE_MS: u32 = 20;
// The thread's batch array holds either count.
const _: () = assert!(FREES_PER_COMPILE <= FREE_BATCH);

/// Whether the probe at module load got a JIT-compiled program that ran correctly.
static AVAILABLE: AtomicBool = AtomicBool::new(false);
/// Whether a refused program was logged already (once per module load).
static REFUSAL_LOGGED: AtomicBool = AtomicBool::new(false);

/// Probes the kernel's BPF JIT once (module load): compiles a small looping program
/// that uses every callee-saved register, runs it the way tier 2 runs blocks
/// (`kemu_bpf_run`) and once more with the callee-saved registers checked, and logs
/// the outcome. Tier 2 stays off unless all of it worked.
pub(crate) fn probe() {
    let Ok(vm) = VmJit::new() else {
        pr_info!("tier 2 off: out of memory at load; guests run on tier 1\n");
        return;
    };
    let prog = ebpf::PROBE_PROGRAM;
    let mut over_budget = 0;
    // SAFETY: `vm.ptr` is live; `prog` holds `prog.len()` instructions, which the C
    // side copies.
    let handle = unsafe { kemu_bpf_compile(vm.ptr, prog.as_ptr(), prog.len() as u32, &mut over_budget) };
    if handle.is_null() {
        pr_info!("tier 2 off: the kernel did not JIT-compile a BPF program (is net.core.bpf_jit_enable 0?); guests run on tier 1\n");
        return;
    }
    let mut out = [0u64; 2];
    let mut clobbered = 0u64;
    // SAFETY: `handle` is a live program from `kemu_bpf_compile`; the probe program
    // writes only the first `u64` at its context pointer, which `out` provides.
    let (plain, checked) = unsafe {
        let plain = kemu_bpf_run(handle, out.as_mut_ptr().cast());
        let first = out[0];
        out[0] = 0;
        let checked = kemu_bpf_run_checked(handle, out.as_mut_ptr().cast(), &mut clobbered);
        ((plain, first), (checked, out[0]))
    };
    // SAFETY: `handle` came from `kemu_bpf_compile` for `vm` and is released once.
    unsafe { kemu_bpf_free(vm.ptr, handle) };
    let want = ebpf::PROBE_RESULT;
    if plain != (want, want) || checked != (want, want) || out[1] != 0 {
        pr_warn!(
            "tier 2 off: the kernel's BPF JIT ran the probe program wrongly (returned {}/{}, stored {}/{}, expected {})\n",
            plain.0, checked.0, plain.1, checked.1, want
        );
        return;
    }
    if clobbered != 0 {
        pr_warn!("tier 2 off: the probe program did not keep the callee-saved registers ({:#x})\n", clobbered);
        return;
    }
    if helper_imm() == 0 {
        pr_info!("tier 2 off: the helper is out of BPF_CALL range; guests run on tier 1\n");
        return;
    }
    AVAILABLE.store(true, Ordering::Relaxed);
    pr_info!("tier 2 on: hot guest blocks go to the kernel's BPF JIT\n");
}

/// Whether tier 2 can be used.
pub(crate) fn available() -> bool {
    AVAILABLE.load(Ordering::Relaxed)
}

fn helper_imm() -> i32 {
    // SAFETY: only computes a distance between two addresses.
    unsafe { kemu_bpf_call_imm(tier2_helper as *const c_void) }
}

/// A VM's JIT state (`struct kemu_jit_vm` in bpf_jit.c): its share of the JIT memory
/// budget, whether its programs are blinded, the memory cgroup they are charged to.
///
/// # Invariants
/// `ptr` came from `kemu_jit_vm_new`, is not null, and is freed only by `drop`.
pub(crate) struct VmJit {
    ptr: *mut c_void,
}

// SAFETY: the C object is only read after creation, except its byte counts, atomics.
unsafe impl Send for VmJit {}
// SAFETY: as for `Send`: shared use goes through atomics.
unsafe impl Sync for VmJit {}

impl VmJit {
    /// The JIT state of a new VM; call it in the VM owner's context (its memory cgroup
    /// is charged, and blinding follows `net.core.bpf_jit_harden` for that task).
    pub(crate) fn new() -> Result<VmJit> {
        // SAFETY: no preconditions; sleeps, as callers may.
        let ptr = unsafe { kemu_jit_vm_new() };
        if ptr.is_null() {
            return Err(ENOMEM);
        }
        // INVARIANT: `ptr` is a fresh, non-null object from `kemu_jit_vm_new`.
        Ok(VmJit { ptr })
    }

    /// Bytes of tier-2 programs this VM holds against its budget.
    pub(crate) fn bytes(&self) -> u64 {
        // SAFETY: `ptr` is live (type invariant).
        unsafe { kemu_jit_vm_bytes(self.ptr) }
    }

    /// Whether the programs released and not yet freed hold more than the VM's budget.
    fn freeing_over_budget(&self) -> bool {
        // SAFETY: `ptr` is live (type invariant).
        unsafe { kemu_jit_vm_freeing_over_budget(self.ptr) }
    }
}

impl Drop for VmJit {
    fn drop(&mut self) {
        // SAFETY: `ptr` is live and freed once (type invariant); its VM released every
        // program before (the vCPU thread turns tier 2 off when it ends).
        unsafe { kemu_jit_vm_free(self.ptr) };
    }
}

/// `kemu_bpf_compile`'s answer when the VM's own budget is spent (bpf_jit.c).
const OVER_VM_BUDGET: c_int = 1;

/// Compiles `insns` for `vm` with the kernel's JIT: the `struct bpf_prog`, or null if a
/// budget is spent or the JIT refused it (the first refusal is logged); and whether the
/// VM's own budget was spent.
fn compile(vm: &VmJit, insns: &[u64]) -> (*mut c_void, bool) {
    let Ok(n) = u32::try_from(insns.len()) else { return (core::ptr::null_mut(), false) };
    let mut over_budget = 0;
    // SAFETY: `vm.ptr` is live (type invariant); `insns` holds `n` instructions, which
    // the C side copies.
    let prog = unsafe { kemu_bpf_compile(vm.ptr, insns.as_ptr(), n, &mut over_budget) };
    // A spent budget is expected (t2_over_budget counts it); a refusal by the JIT is not.
    if prog.is_null() && over_budget == 0 && !REFUSAL_LOGGED.swap(true, Ordering::Relaxed) {
        pr_warn!(
            "the BPF JIT refused a tier-2 program of {} instructions: that block stays on tier 1 (further refusals are only counted: t2_rejected in KEMU_STATUS)\n",
            n
        );
    }
    (prog, over_budget == OVER_VM_BUDGET)
}

/// A program waiting for the JIT thread, with what the checker needs to know about it.
struct Job {
    ticket: u64,
    insns: KVVec<u64>,
    env: KBox<CheckEnv>,
}

/// What a VM's JIT thread and its vCPU pass each other.
struct Work {
    /// Programs to compile, oldest first.
    jobs: KVec<Job>,
    /// Compiled programs for the vCPU: `(ticket, struct bpf_prog *)`, null if the JIT
    /// refused it, or the checker's refusal.
    done: KVec<(u64, Result<usize, Refusal>)>,
    /// Programs the hart released (`kemu_bpf_release`: their bytes are back in the
    /// budget), for the thread to free. The kernel frees a program from a workqueue of
    /// the freeing CPU, rewriting its image under locks the JIT takes too, and a cache
    /// flush releases thousands at once: work kept off the vCPU's CPU, and done a few
    /// programs at a time between compiles so that the hot code compiles again soon.
    released: KVVec<usize>,
    /// The vCPU is done with tier 2: nothing more is compiled or handed over.
    closed: bool,
}

/// A VM's tier-2 compiler: its JIT state and the queues of its `kemu-jit/<id>` thread.
///
/// # Invariants
/// Every program in `work.done` and `work.released` came from `compile` for `jit` and
/// is owned by the queue: until the vCPU takes it ([`Compiler::deliver`]), the thread
/// frees it, or [`Compiler::close`] does. Those in `work.released` went through
/// `kemu_bpf_release`, those in `work.done` did not.
#[pin_data(PinnedDrop)]
pub(crate) struct Compiler {
    jit: VmJit,
    #[pin]
    work: Mutex<Work>,
    /// The checker's working state (about 16 KiB: not for a kernel stack), used by the
    /// JIT thread only.
    #[pin]
    scratch: Mutex<KVBox<CheckScratch>>,
    /// Wakes the JIT thread (a job, or the end); waited on with `work`.
    #[pin]
    wake: CondVar,
    /// Set when `work.done` has something (read by the vCPU after every slice without
    /// taking the lock).
    ready: AtomicBool,
    /// The VM's own JIT budget was found spent by a compile that started after flush
    /// number `full - 1` (0: not spent). If no flush came since, the vCPU flushes the
    /// translation cache (which releases every program and gives its bytes back), as
    /// `kemuctl run` does when its JIT arena is full and QEMU when its code buffer is.
    full: AtomicU64,
    /// Budget flushes so far (written by the vCPU after each flush's releases): a
    /// compile that began before the last flush and found the budget spent asks for no
    /// second one.
    flushes: AtomicU64,
}

impl Compiler {
    /// A compiler for a new VM; call it in the VM owner's context (see [`VmJit::new`]).
    pub(crate) fn new() -> Result<Pin<KBox<Self>>> {
        let jit = VmJit::new()?;
        let jobs = KVec::with_capacity(MAX_QUEUED, GFP_KERNEL)?;
        // Room for every job's result and for those of jobs the hart forgot (a
        // flush), so the thread's push never allocates.
        let done = KVec::with_capacity(2 * MAX_QUEUED, GFP_KERNEL)?;
        let released = KVVec::with_capacity(MAX_BLOCKS as usize, GFP_KERNEL)?;
        // SAFETY: all zero bytes are a valid `CheckScratch` (t2check.rs: `check_with`
        // sets up what it reads).
        let scratch = unsafe { KVBox::<CheckScratch>::new_uninit(GFP_KERNEL | __GFP_ZERO)?.assume_init() };
        KBox::try_pin_init(
            try_pin_init!(Compiler {
                jit,
                work <- new_mutex!(Work { jobs, done, released, closed: false }),
                scratch <- new_mutex!(scratch),
                wake <- new_condvar!(),
                ready: AtomicBool::new(false),
                full: AtomicU64::new(0),
                flushes: AtomicU64::new(0),
            }? Error),
            GFP_KERNEL,
        )
    }

    /// Bytes of tier-2 programs this VM holds.
    pub(crate) fn bytes(&self) -> u64 {
        self.jit.bytes()
    }

    /// Queues a program and its checker environment (vCPU thread); false if the queue
    /// is full or closed.
    fn submit(&self, ticket: u64, prog: &[u64], env: &CheckEnv) -> bool {
        let mut insns = KVVec::new();
        if insns.extend_from_slice(prog, GFP_KERNEL).is_err() {
            return false;
        }
        // (Copied straight into the box: a `CheckEnv` is about 1 KiB, a kernel stack
        // 16 KiB.)
        let Ok(mut boxed) = KBox::<CheckEnv>::new_uninit(GFP_KERNEL) else { return false };
        // SAFETY: `env` is a valid `CheckEnv` (plain data, `Copy`) and the box is a
        // fresh allocation of one, so the two do not overlap; after the copy it holds
        // a valid value.
        let env = unsafe {
            core::ptr::copy_nonoverlapping(env, boxed.as_mut_ptr(), 1);
            boxed.assume_init()
        };
        let mut w = self.work.lock();
        if w.closed || w.jobs.len() >= MAX_QUEUED || w.jobs.push(Job { ticket, insns, env }, GFP_KERNEL).is_err() {
            return false;
        }
        drop(w);
        self.wake.notify_one();
        true
    }

    /// Takes a program the hart released (vCPU thread): its bytes go back to the budget
    /// now, and the JIT thread frees it later, or this call if the compiler is closed.
    fn release(&self, prog: *mut c_void) {
        let mut w = self.work.lock();
        if w.closed {
            drop(w);
            // SAFETY: a program of `self.jit` that nothing else holds.
            unsafe { kemu_bpf_free(self.jit.ptr, prog) };
            return;
        }
        // SAFETY: a program of `self.jit` that the hart gave up, released once.
        unsafe { kemu_bpf_release(self.jit.ptr, prog) };
        // Only an empty list needs the thread woken: otherwise it is freeing at its own
        // pace (a flush releases thousands here in a row).
        let wake = w.released.is_empty();
        // INVARIANT: released just above.
        if w.released.push(prog as usize, GFP_KERNEL).is_ok() {
            drop(w);
            if wake {
                self.wake.notify_one();
            }
            return;
        }
        drop(w);
        // SAFETY: released above and kept nowhere.
        unsafe { kemu_bpf_free_released(self.jit.ptr, prog) };
    }

    /// Body of the `kemu-jit/<id>` thread until [`Compiler::close`]: compiles queued
    /// programs, oldest first, and frees released ones, [`FREES_PER_COMPILE`] after
    /// each compile and [`FREE_BATCH`] at a time when nothing waits to be compiled.
    /// While the released programs hold more than the VM's budget, freeing comes first
    /// (`kemu_bpf_compile` refuses a program that would take what the VM has allocated,
    /// in use and being freed, past twice its budget).
    pub(crate) fn run(&self) {
        // The last round only freed: pause before the next, unless a job comes.
        let mut pause = false;
        loop {
            let mut batch = [0usize; FREE_BATCH];
            let mut freed = 0;
            let job = {
                let mut w = self.work.lock();
                loop {
                    if w.closed {
                        return;
                    }
                    let catch_up = !w.released.is_empty() && self.jit.freeing_over_budget();
                    let job = if catch_up || w.jobs.is_empty() { None } else { w.jobs.remove(0).ok() };
                    if job.is_none() && pause && !catch_up {
                        pause = false;
                        let _ = self.wake.wait_interruptible_timeout(&mut w, msecs_to_jiffies(FREE_PAUSE_MS));
                        continue;
                    }
                    let limit = if job.is_some() { FREES_PER_COMPILE } else { FREE_BATCH };
                    while freed < limit {
                        let Some(p) = w.released.pop() else { break };
                        batch[freed] = p;
                        freed += 1;
                    }
                    if job.is_some() || freed > 0 {
                        pause = job.is_none();
                        break job;
                    }
                    let _ = self.wake.wait_interruptible_timeout(&mut w, msecs_to_jiffies(1000));
                }
            };
            if let Some(job) = job {
                self.compile_job(job);
            }
            for &p in &batch[..freed] {
                // SAFETY: taken out of `released`, so owned here and released already
                // (the `Work` invariant).
                unsafe { kemu_bpf_free_released(self.jit.ptr, p as *mut c_void) };
            }
        }
    }

    /// Checks `job`, compiles it if the checker accepts it, and queues the result for
    /// the vCPU (JIT thread).
    fn compile_job(&self, job: Job) {
        // The checker proves the program safe before the JIT sees it (t2check.rs).
        let checked = check_with(&job.insns, &job.env, &mut self.scratch.lock());
        let epoch = self.flushes.load(Ordering::Acquire);
        let (prog, full) = match checked {
            Ok(()) => compile(&self.jit, &job.insns),
            Err(_) => (core::ptr::null_mut(), false),
        };
        drop(job.insns);
        if full {
            // The latest epoch wins: a late report from before a flush cannot hide a
            // newer one.
            self.full.fetch_max(epoch.wrapping_add(1), Ordering::Relaxed);
        }
        let result = checked.map(|()| prog as usize);
        let mut w = self.work.lock();
        // INVARIANT: `prog` came from `compile` for `self.jit` (or is null).
        if !w.closed && w.done.push((job.ticket, result), GFP_KERNEL).is_ok() {
            self.ready.store(true, Ordering::Release);
            return;
        }
        drop(w);
        if !prog.is_null() {
            // SAFETY: `prog` came from `kemu_bpf_compile` for `self.jit` and went
            // nowhere else.
            unsafe { kemu_bpf_free(self.jit.ptr, prog) };
        }
    }

    /// Hands the compiled programs to `hart` (vCPU thread, between slices); those it
    /// does not take (their block went away meanwhile) are freed.
    pub(crate) fn deliver(&self, hart: &mut Hart) {
        if !self.ready.load(Ordering::Acquire) {
            return;
        }
        // The budget is spent: start again from an empty cache (after the programs
        // below are handed over, which are then released with the rest).
        let spent = self.full.swap(0, Ordering::Relaxed);
        let flushes = self.flushes.load(Ordering::Relaxed);
        let flush = spent != 0 && spent == flushes.wrapping_add(1);
        let mut w = self.work.lock();
        self.ready.store(false, Ordering::Relaxed);
        for (ticket, result) in w.done.drain_all() {
            let prog = match result {
                Ok(prog) => prog,
                Err(refusal) => {
                    // Counted and logged as the hart's own refusals are.
                    hart.t2_refuse(ticket, refusal);
                    continue;
                }
            };
            let handle = prog as u64;
            // SAFETY: `prog` is the JIT's compilation of the program submitted with
            // `ticket`, which the checker accepted against the environment submitted
            // with it (`compile_job`; the `Work` invariant), handed over once
            // (drained); the entry ktranslator runs is the `struct bpf_prog` itself
            // (`bpf-prog-run`).
            // A refused program (null: the JIT refused it, or the budget is spent) is
            // handed over too: the hart frees its ticket and keeps the block on tier 1.
            if !unsafe { hart.t2_install(ticket, handle, handle) } && prog != 0 {
                // SAFETY: a program of `self.jit` the hart did not take.
                unsafe { kemu_bpf_free(self.jit.ptr, prog as *mut c_void) };
            }
        }
        drop(w);
        if flush {
            hart.invalidate_code();
            // After the releases: a compile that reads this sees their bytes back.
            self.flushes.store(flushes.wrapping_add(1), Ordering::Release);
        }
    }

    /// Ends tier 2 for the VM (the vCPU's end, or a start that failed): drops the
    /// jobs, frees the programs nobody took, and lets the thread leave.
    pub(crate) fn close(&self) {
        let mut w = self.work.lock();
        w.closed = true;
        w.jobs.clear();
        let w = &mut *w;
        for (_, result) in w.done.drain_all() {
            if let Ok(prog @ 1..) = result {
                // SAFETY: a program of `self.jit` nobody took (the `Work` invariant).
                unsafe { kemu_bpf_free(self.jit.ptr, prog as *mut c_void) };
            }
        }
        for prog in w.released.drain_all() {
            // SAFETY: a released program of `self.jit` nobody took (the `Work` invariant).
            unsafe { kemu_bpf_free_released(self.jit.ptr, prog as *mut c_void) };
        }
        self.ready.store(false, Ordering::Relaxed);
        self.wake.notify_all();
    }
}

#[pinned_drop]
impl PinnedDrop for Compiler {
    fn drop(self: Pin<&mut Self>) {
        // Programs of a VM whose vCPU never ran to its end (the `VmJit` must be empty
        // when it goes).
        self.close();
    }
}

/// The `compile` hook (`opaque`: the VM's [`Compiler`]), for low thresholds: compiles
/// on the vCPU. The entry ktranslator stores is the `struct bpf_prog` itself, which it
/// runs with `kemu_bpf_run` (feature `bpf-prog-run`).
unsafe extern "C" fn compile_now(opaque: *mut c_void, insns: *const u64, n: usize, entry: *mut u64) -> u64 {
    // SAFETY: `opaque` is the VM's live `Compiler` (`host`); ktranslator passes `n`
    // instructions at `insns` and a valid out-pointer (`Tier2Host` contract).
    let (c, prog) = unsafe { (&*opaque.cast::<Compiler>(), core::slice::from_raw_parts(insns, n)) };
    // A spent budget leaves the block on tier 1 (low thresholds are for tests, which
    // count the refusals).
    let handle = compile(&c.jit, prog).0 as u64;
    // SAFETY: as above.
    unsafe { *entry = handle };
    handle
}

/// The `submit` hook (`opaque`: the VM's [`Compiler`]).
unsafe extern "C" fn submit(opaque: *mut c_void, insns: *const u64, n: usize, env: *const CheckEnv, ticket: u64) -> bool {
    // SAFETY: `opaque` is the VM's live `Compiler` (`host`); ktranslator passes `n`
    // instructions at `insns` and its checker environment at `env` (`SubmitFn`).
    let (c, prog, env) = unsafe { (&*opaque.cast::<Compiler>(), core::slice::from_raw_parts(insns, n), &*env) };
    c.submit(ticket, prog, env)
}

unsafe extern "C" fn free(opaque: *mut c_void, handle: u64) {
    // SAFETY: `opaque` is the VM's live `Compiler`; ktranslator releases each handle it
    // took exactly once, and never runs it again.
    unsafe { (*opaque.cast::<Compiler>()).release(handle as *mut c_void) };
}

/// The hooks for a hart of the VM whose compiler is `c` (which must outlive the hart's
/// use of them, and have a thread running [`Compiler::run`]), if tier 2 is available;
/// blocks are compiled after `threshold` tier-1 executions (0:
/// `KEMU_TIER2_THRESHOLD_DEFAULT`: compiling costs about as much as a few thousand block
/// executions, the JIT's passes and then making the image read-only and executable, so
/// only blocks that stay hot are worth it).
pub(crate) fn host(threshold: u32, c: &Compiler) -> Option<Tier2Host> {
    if !available() {
        return None;
    }
    let threshold = if threshold == 0 { crate::uapi::KEMU_TIER2_THRESHOLD_DEFAULT } else { threshold };
    let queue = threshold >= QUEUE_FROM_THRESHOLD;
    Some(Tier2Host {
        compile: if queue { None } else { Some(compile_now) },
        submit: if queue { Some(submit) } else { None },
        free: Some(free),
        opaque: core::ptr::from_ref(c).cast_mut().cast(),
        helper_imm: helper_imm(),
        threshold,
        max_blocks: MAX_BLOCKS,
    })
}
