//! Tier 2 for `kemuctl run`: the translator's eBPF programs compiled by kemuctl's own
//! x86-64 eBPF JIT (crate `kemu-ebpf-jit`), so that `run` and kemu.ko (the kernel's BPF
//! JIT) execute the same programs and the kernel-vs-user comparison stays fair.

use ktranslator::hart::Hart;
use ktranslator::tier2::Tier2Host;

use ebpf_jit::hooks::{self, HookJit};

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

/// The JIT behind a hart's tier-2 hooks. Only reached through a raw pointer (the hart
/// holds it as `opaque`), so holding this never aliases the hooks' access.
pub(crate) struct UserJit {
    jit: *mut HookJit,
}

impl UserJit {
    /// A JIT, with `hart`'s tier 2 turned on over it; blocks are compiled after
    /// `threshold` tier-1 executions (None: [`THRESHOLD_DEFAULT`]).
    pub(crate) fn attach(hart: &mut Hart, threshold: Option<u32>) -> Result<UserJit, String> {
        let jit = HookJit::new(ARENA_BYTES).map_err(|e| format!("tier 2: {e}"))?;
        let jit = Box::into_raw(Box::new(jit));
        let host = Tier2Host {
            compile: Some(hooks::compile),
            submit: None,
            free: Some(hooks::free),
            opaque: jit.cast(),
            helper_imm: hooks::HELPER_IMM,
            threshold: threshold.unwrap_or(THRESHOLD_DEFAULT),
            max_blocks: MAX_BLOCKS,
        };
        // SAFETY: the hooks compile into the arena of `jit`, which stays allocated until
        // `detach` turned tier 2 off again (releasing every program).
        unsafe { hart.set_tier2(Some(host)) };
        Ok(UserJit { jit })
    }

    /// Whether the JIT's arena filled up (then the host drops all translated code
    /// between two runs, which frees the arena for new programs); clears the request.
    pub(crate) fn take_flush_request(&mut self) -> bool {
        // SAFETY: `jit` is live (freed only by `detach`) and no hook runs now (they only
        // run inside `Hart::run`, and this is called between runs).
        unsafe { std::mem::replace(&mut (*self.jit).flush_wanted, false) }
    }

    /// Turns `hart`'s tier 2 off and frees the JIT.
    pub(crate) fn detach(self, hart: &mut Hart) {
        // SAFETY: `None` installs no hooks; afterwards the hart holds no program and
        // no pointer to `jit`.
        unsafe { hart.set_tier2(None) };
        // SAFETY: allocated by `Box::into_raw` in `attach`, freed once, no longer used.
        drop(unsafe { Box::from_raw(self.jit) });
    }
}
