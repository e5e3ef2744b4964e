//! C-ABI hooks that put a [`JitArena`] behind a translator's tier-2 interface
//! (ktranslator's `Tier2Host`: compile a program, release it). Programs call the
//! translator's tier-2 helpers, whose `BPF_CALL` immediates follow the kernel's rule
//! (`ktranslator::tier2::call_imm`, relative to [`HELPER_IMM`]).
//!
//! A handle is the program's entry address. Released programs are only counted: the
//! arena is bump-allocated, so its space comes back when no program is alive any more
//! (the next compile resets it). When it is full while programs are alive, compiles
//! fail and [`HookJit::flush_wanted`] asks the host to drop all translated code (which
//! releases every program) between two runs of the hart.

use core::ffi::c_void;

use ktranslator::tier2::{call_imm, helpers};

use crate::{JitArena, JitError};

/// The `BPF_CALL` immediate that calls the helper.
pub const HELPER_IMM: i32 = 1;

/// A JIT arena with its bookkeeping, reached through `opaque` by [`compile`] and
/// [`free`].
pub struct HookJit {
    arena: JitArena,
    live: usize,
    /// How far code that ran reached into the arena before it last started over:
    /// a program written below this is modified code.
    ran_below: usize,
    /// The arena filled up while programs were alive: drop all translated code.
    pub flush_wanted: bool,
    /// Programs compiled.
    pub compiled: u64,
    /// Programs the JIT refused (not counting a full arena).
    pub refused: u64,
}

impl HookJit {
    /// An arena of `bytes`, whose programs call the tier-2 helpers
    /// (`ktranslator::tier2::helpers`; `BPF_CALL` [`HELPER_IMM`] is the generic one).
    pub fn new(bytes: usize) -> Result<HookJit, JitError> {
        Ok(HookJit { arena: JitArena::new(bytes)?, live: 0, ran_below: 0, flush_wanted: false, compiled: 0, refused: 0 })
    }

    /// The `opaque` pointer for [`compile`] and [`free`].
    pub fn opaque(&mut self) -> *mut c_void {
        (self as *mut HookJit).cast()
    }

    /// Programs compiled and not yet released.
    pub fn live(&self) -> usize {
        self.live
    }

    /// Compiles `prog`, first starting the arena over if no program is alive. Returns
    /// the entry address (0 if the JIT refused it, or if the arena is full: then
    /// `flush_wanted`), and whether the program was written where code ran before
    /// (code another thread may run only after a serializing instruction).
    pub fn compile_prog(&mut self, prog: &[u64]) -> (u64, bool) {
        if self.live == 0 && self.arena.used() > 0 {
            self.ran_below = self.ran_below.max(self.arena.used());
            // SAFETY: no program is alive, so none runs or will be called again.
            unsafe { self.arena.reset() };
        }
        let start = self.arena.used();
        let e = match self.arena.compile(prog, &resolve) {
            Ok(f) => f as usize as u64,
            Err(JitError::Full) => {
                self.flush_wanted = true;
                0
            }
            Err(_) => {
                self.refused += 1;
                0
            }
        };
        if e != 0 {
            self.live += 1;
            self.compiled += 1;
        }
        (e, e != 0 && start < self.ran_below)
    }

    /// Counts `n` programs released (their code is not running and never runs again).
    pub fn release(&mut self, n: usize) {
        self.live = self.live.saturating_sub(n);
    }
}

/// The address of the tier-2 helper a `BPF_CALL` with immediate `imm` calls: the
/// helpers' immediates follow the kernel's rule (`tier2::call_imm`), from
/// [`HELPER_IMM`].
pub fn resolve(imm: i32) -> Option<usize> {
    helpers().find(|&f| call_imm(HELPER_IMM, f) == Some(imm)).map(|f| f as usize)
}

/// Compiles `n` instructions at `insns`; returns the handle (the entry address, also
/// written to `*entry`) or 0.
///
/// # Safety
/// `opaque` comes from [`HookJit::opaque`] of a live `HookJit` not otherwise borrowed;
/// `insns` points at `n` readable words; `entry` is writable.
pub unsafe extern "C" fn compile(opaque: *mut c_void, insns: *const u64, n: usize, entry: *mut u64) -> u64 {
    // SAFETY: the caller's contract (see above).
    let (j, prog) = unsafe { (&mut *opaque.cast::<HookJit>(), core::slice::from_raw_parts(insns, n)) };
    // (Run on the thread that compiled it: x86 keeps a processor's own modified code
    // coherent.)
    let (e, _) = j.compile_prog(prog);
    // SAFETY: `entry` is writable (contract).
    unsafe { *entry = e };
    e
}

/// Releases a handle from [`compile`].
///
/// # Safety
/// As for [`compile`]; `handle` is released once and its code is not running.
pub unsafe extern "C" fn free(opaque: *mut c_void, _handle: u64) {
    // SAFETY: the caller's contract.
    let j = unsafe { &mut *opaque.cast::<HookJit>() };
    j.release(1);
}
