//! Tier 2 for `kemuctl run`: the translator's eBPF programs compiled by kemuctl's own
//! x86-64 eBPF JIT (crate `kemu-ebpf-jit`), so that `run` and kemu.ko (the kernel's BPF
//! JIT) execute the same programs and the kernel-vs-user comparison stays fair.

use ktranslator::hart::Hart;
use ktranslator::tier2::{Tier2Host, QUEUE_FROM_THRESHOLD};

use ebpf_jit::hooks::{self, HookJit};

use super::jit_thread::JitThread;

/// Code space for compiled blocks (virtual: pages are only used once written). A Linux
/// boot compiles about 20,000 blocks of typically 300 bytes to a few KiB.
const ARENA_BYTES: usize = 256 << 20;
/// Tier-1 executions of a block before it is compiled. kemuctl's JIT compiles a block
/// quickly (kemu.ko's takes far longer, see `uapi::KEMU_TIER2_THRESHOLD_DEFAULT`), so
/// a lower threshold pays off: 512 booted Debian about as fast as any and most steadily
/// (see docs/journal-code.md).
pub(crate) const THRESHOLD_DEFAULT: u32 = 512;
/// Most compiled blocks alive at once.
const MAX_BLOCKS: u32 = 1 << 20;

/// Whether this host can run tier 2 (the JIT emits x86-64 code).
pub(crate) const AVAILABLE: bool = cfg!(target_arch = "x86_64");

/// The JIT behind a hart's tier-2 hooks: on the vCPU's thread, or on one of its own.
pub(crate) enum UserJit {
    /// Compiles on the vCPU. Only reached through a raw pointer (the hart holds it as
    /// `opaque`), so holding this never aliases the hooks' access.
    Inline(*mut HookJit),
    Thread(JitThread),
}

impl UserJit {
    /// A JIT, with `hart`'s tier 2 turned on over it; blocks are compiled after
    /// `threshold` tier-1 executions (None: [`THRESHOLD_DEFAULT`]).
    pub(crate) fn attach(hart: &mut Hart, threshold: Option<u32>) -> Result<UserJit, String> {
        let threshold = threshold.unwrap_or(THRESHOLD_DEFAULT);
        if threshold >= QUEUE_FROM_THRESHOLD {
            if let Some(t) = JitThread::start(ARENA_BYTES)? {
                // SAFETY: the hooks reach the thread's shared state, which `t` keeps
                // alive until `detach` turned tier 2 off (releasing every program).
                unsafe { hart.set_tier2(Some(t.host(threshold, MAX_BLOCKS))) };
                return Ok(UserJit::Thread(t));
            }
        }
        let jit = HookJit::new(ARENA_BYTES).map_err(|e| format!("tier 2: {e}"))?;
        let jit = Box::into_raw(Box::new(jit));
        let host = Tier2Host {
            compile: Some(hooks::compile),
            submit: None,
            free: Some(hooks::free),
            opaque: jit.cast(),
            helper_imm: hooks::HELPER_IMM,
            threshold,
            max_blocks: MAX_BLOCKS,
        };
        // SAFETY: the hooks compile into the arena of `jit`, which stays allocated until
        // `detach` turned tier 2 off (releasing every program).
        unsafe { hart.set_tier2(Some(host)) };
        Ok(UserJit::Inline(jit))
    }

    /// Between slices: hands compiled programs to `hart`, and if the JIT's arena
    /// filled up, drops all translated code (which releases every program, so the
    /// arena is free for new ones).
    pub(crate) fn after_slice(&mut self, hart: &mut Hart) {
        let flush = match self {
            // SAFETY: `jit` is live (freed only by `detach`) and no hook runs now (they
            // only run inside `Hart::run`, and this is called between runs).
            UserJit::Inline(jit) => unsafe { std::mem::replace(&mut (**jit).flush_wanted, false) },
            UserJit::Thread(t) => {
                t.deliver(hart);
                t.take_flush_request()
            }
        };
        if flush {
            hart.invalidate_code();
        }
    }

    /// Turns `hart`'s tier 2 off and frees the JIT.
    pub(crate) fn detach(self, hart: &mut Hart) {
        // SAFETY: `None` installs no hooks; afterwards the hart holds no program and
        // no pointer to the JIT.
        unsafe { hart.set_tier2(None) };
        match self {
            // SAFETY: allocated by `Box::into_raw` in `attach`, freed once, no longer
            // used.
            UserJit::Inline(jit) => drop(unsafe { Box::from_raw(jit) }),
            UserJit::Thread(t) => t.stop(),
        }
    }
}
