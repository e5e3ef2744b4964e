// SPDX-License-Identifier: GPL-2.0

//! Tier 2 in the kernel: ktranslator's eBPF programs compiled by the kernel's BPF JIT.
//!
//! The C side (`bpf_jit.c`: allocate, copy, `bpf_prog_select_runtime`, free) is the
//! only code that sees `struct bpf_prog`; this file gives ktranslator its
//! [`Tier2Host`] hooks on top of it. At module load a one-instruction program is
//! compiled to find out whether the JIT is on; if it is not (`net.core.bpf_jit_enable`
//! is 0, or no JIT for this architecture), the module logs it once and every VM runs on
//! tier 1.

use core::{
    ffi::c_void,
    ptr,
    sync::atomic::{AtomicBool, Ordering},
};

use kernel::prelude::*;

use crate::ktranslator::{
    ebpf,
    tier2::{tier2_helper, Tier2Host},
};

extern "C" {
    fn kemu_bpf_compile(insns: *const u64, n: u32, entry: *mut *mut c_void) -> *mut c_void;
    fn kemu_bpf_free(prog: *mut c_void);
    fn kemu_bpf_call_imm(f: *const c_void) -> i32;
}

/// Most compiled blocks per VM (each holds a `bpf_prog` of at least one page plus its
/// image): about 100 MiB at most.
const MAX_BLOCKS: u32 = 16384;

/// Whether the probe at module load got a JIT-compiled program.
static AVAILABLE: AtomicBool = AtomicBool::new(false);
/// Whether a refused program was logged already (once per module load).
static REFUSAL_LOGGED: AtomicBool = AtomicBool::new(false);

/// Probes the kernel's BPF JIT once (module load) and logs the outcome.
pub(crate) fn probe() {
    let prog = [ebpf::insn(0xb7, 0, 0, 0, 0), ebpf::insn(0x95, 0, 0, 0, 0)];
    let mut entry = ptr::null_mut();
    // SAFETY: `prog` holds 2 instructions; the C side copies them and writes `entry`.
    let handle = unsafe { kemu_bpf_compile(prog.as_ptr(), 2, &mut entry) };
    if handle.is_null() {
        pr_info!("tier 2 off: the kernel did not JIT-compile a BPF program (is net.core.bpf_jit_enable 0?); guests run on tier 1\n");
        return;
    }
    // SAFETY: `handle` came from `kemu_bpf_compile` and is released once.
    unsafe { kemu_bpf_free(handle) };
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

unsafe extern "C" fn compile(_: *mut c_void, insns: *const u64, n: usize, entry: *mut u64) -> u64 {
    let Ok(n) = u32::try_from(n) else { return 0 };
    let mut e = ptr::null_mut();
    // SAFETY: ktranslator passes `n` instructions at `insns` (`Tier2Host` contract).
    let prog = unsafe { kemu_bpf_compile(insns, n, &mut e) };
    if prog.is_null() && !REFUSAL_LOGGED.swap(true, Ordering::Relaxed) {
        pr_warn!(
            "the BPF JIT refused a tier-2 program of {} instructions: that block stays on tier 1 (further refusals are only counted: t2_rejected in KEMU_STATUS)\n",
            n
        );
    }
    // SAFETY: `entry` is ktranslator's valid out-pointer.
    unsafe { *entry = e as u64 };
    prog as u64
}

unsafe extern "C" fn free(_: *mut c_void, handle: u64) {
    // SAFETY: ktranslator releases each handle from `compile` exactly once.
    unsafe { kemu_bpf_free(handle as *mut c_void) };
}

/// The hooks for a hart, if tier 2 is available; blocks are compiled after `threshold`
/// tier-1 executions (0: `KEMU_TIER2_THRESHOLD_DEFAULT`: compiling costs about as much
/// as a few thousand block executions, the JIT's passes and then making the image
/// read-only and executable, so only blocks that stay hot are worth it).
pub(crate) fn host(threshold: u32) -> Option<Tier2Host> {
    if !available() {
        return None;
    }
    Some(Tier2Host {
        compile: Some(compile),
        free: Some(free),
        opaque: ptr::null_mut(),
        helper_imm: helper_imm(),
        threshold: if threshold == 0 { crate::uapi::KEMU_TIER2_THRESHOLD_DEFAULT } else { threshold },
        max_blocks: MAX_BLOCKS,
    })
}
