// SPDX-License-Identifier: GPL-2.0

//! Tier 2 in the kernel: ktranslator's eBPF programs compiled by the kernel's BPF JIT.
//!
//! The C side (`bpf_jit.c`: allocate, copy, `bpf_prog_select_runtime`, run, free) is
//! the only code that sees `struct bpf_prog`; this file gives ktranslator its
//! [`Tier2Host`] hooks on top of it. At module load a small looping program is compiled
//! and run to find out whether the JIT is on and keeps the calling convention; if not
//! (`net.core.bpf_jit_enable` is 0, no JIT for this architecture, a wrong result), the
//! module logs it once and every VM runs on tier 1.

use core::{
    ffi::c_void,
    sync::atomic::{AtomicBool, Ordering},
};

use kernel::prelude::*;

use crate::ktranslator::{
    ebpf,
    tier2::{tier2_helper, Tier2Host},
};

extern "C" {
    fn kemu_jit_vm_new() -> *mut c_void;
    fn kemu_jit_vm_free(vm: *mut c_void);
    fn kemu_jit_vm_bytes(vm: *const c_void) -> u64;
    fn kemu_bpf_compile(vm: *mut c_void, insns: *const u64, n: u32, over_budget: *mut bool) -> *mut c_void;
    fn kemu_bpf_run(prog: *const c_void, ctx: *mut c_void) -> u64;
    fn kemu_bpf_run_checked(prog: *const c_void, ctx: *mut c_void, clobbered: *mut u64) -> u64;
    fn kemu_bpf_free(vm: *mut c_void, prog: *mut c_void);
    fn kemu_bpf_call_imm(f: *const c_void) -> i32;
}

/// Most compiled blocks per VM (each holds a `bpf_prog` of at least one page plus its
/// image): about 100 MiB at most.
const MAX_BLOCKS: u32 = 16384;

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
    let mut over_budget = false;
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

// SAFETY: the C object is only read after creation, except its byte count, an atomic.
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

    /// Bytes of tier-2 programs this VM holds.
    pub(crate) fn bytes(&self) -> u64 {
        // SAFETY: `ptr` is live (type invariant).
        unsafe { kemu_jit_vm_bytes(self.ptr) }
    }
}

impl Drop for VmJit {
    fn drop(&mut self) {
        // SAFETY: `ptr` is live and freed once (type invariant); its VM released every
        // program before (the vCPU thread turns tier 2 off when it ends).
        unsafe { kemu_jit_vm_free(self.ptr) };
    }
}

/// The `compile` hook (`opaque`: the VM's [`VmJit`] object): the entry ktranslator
/// stores is the `struct bpf_prog` itself, which it runs with `kemu_bpf_run` (feature
/// `bpf-prog-run`).
unsafe extern "C" fn compile(opaque: *mut c_void, insns: *const u64, n: usize, entry: *mut u64) -> u64 {
    let Ok(n) = u32::try_from(n) else { return 0 };
    let mut over_budget = false;
    // SAFETY: `opaque` is the VM's live `kemu_jit_vm` (`host`); ktranslator passes `n`
    // instructions at `insns` (`Tier2Host` contract).
    let prog = unsafe { kemu_bpf_compile(opaque, insns, n, &mut over_budget) };
    // A spent budget is expected (t2_over_budget counts it); a refusal by the JIT is not.
    if prog.is_null() && !over_budget && !REFUSAL_LOGGED.swap(true, Ordering::Relaxed) {
        pr_warn!(
            "the BPF JIT refused a tier-2 program of {} instructions: that block stays on tier 1 (further refusals are only counted: t2_rejected in KEMU_STATUS)\n",
            n
        );
    }
    // SAFETY: `entry` is ktranslator's valid out-pointer.
    unsafe { *entry = prog as u64 };
    prog as u64
}

unsafe extern "C" fn free(opaque: *mut c_void, handle: u64) {
    // SAFETY: ktranslator releases each handle from `compile` exactly once, with the
    // `opaque` it was compiled with.
    unsafe { kemu_bpf_free(opaque, handle as *mut c_void) };
}

/// The hooks for a hart of the VM whose JIT state is `jit` (which must outlive the
/// hart's use of them), if tier 2 is available; blocks are compiled after `threshold`
/// tier-1 executions (0: `KEMU_TIER2_THRESHOLD_DEFAULT`: compiling costs about as much
/// as a few thousand block executions, the JIT's passes and then making the image
/// read-only and executable, so only blocks that stay hot are worth it).
pub(crate) fn host(threshold: u32, jit: &VmJit) -> Option<Tier2Host> {
    if !available() {
        return None;
    }
    Some(Tier2Host {
        compile: Some(compile),
        free: Some(free),
        opaque: jit.ptr,
        helper_imm: helper_imm(),
        threshold: if threshold == 0 { crate::uapi::KEMU_TIER2_THRESHOLD_DEFAULT } else { threshold },
        max_blocks: MAX_BLOCKS,
    })
}
