//! Tier 2: hot translated blocks run as native code from the host's eBPF JIT.
//!
//! A block that tier 1 executed [`Tier2Host::threshold`] times becomes the head of a
//! region (the hot blocks its exits lead to, `Hart::t2_region`), which is
//! lowered to one eBPF program (ebpf.rs), proven safe by the checker (t2check.rs) and
//! handed to the host's `compile` hook: kemu.ko passes it to the kernel's BPF JIT
//! (`bpf_prog_select_runtime`, no verifier), `kemuctl run` to its userspace eBPF JIT. The
//! entry the host returns is stored in the head's header and called instead of the
//! micro-op loop from then on; the dispatcher (hart.rs) and the block chains are the same
//! for both tiers. A head the host refuses (no JIT, a program it cannot compile, too many
//! live images) stays in tier 1 for good.
//!
//! A host may give a `submit` hook instead: the program is queued for a thread of the
//! host's, the head keeps running on tier 1, and the host hands the result back between
//! slices ([`Hart::t2_install`]), which installs it only if its blocks are still the ones
//! it was made from (each queued program has a ticket; a flush forgets them all, a killed
//! head refuses its own). The checker then runs on that thread too, right before the
//! JIT (the program comes with the checker's [`CheckEnv`]), so that neither costs the
//! vCPU's time: kemu.ko's JIT takes milliseconds per program, and in `kemuctl run` the
//! checker and the JIT took two thirds of the compile time, which was a tenth of a
//! Debian boot's.
//!
//! A program lives as long as its head: invalidating the page (self-modifying code, a
//! device write), flushing the cache, reset and turning tier 2 off release it through
//! the host's `free` hook. A program whose head is killed while it runs (a store into
//! its page, through the helper) is released when it returns.

use core::ffi::c_void;
use core::ptr;

use super::bus::Bus;
use super::decode::Uop;
use super::exit::ExitKind;
use super::hart::Hart;
use super::ebpf::{lower_region, FIRST_REGION, MAX_PREDICTED, MAX_REGION};
use super::t2check::{check_with, CheckEnv, Refusal};

/// Capacity of the lowering buffer in eBPF instructions (a 128-instruction block of
/// loads and stores needs about 3,000).
pub const T2_BUF_INSNS: usize = 12288;

/// Exits of a program to blocks of its head's page, direct or indirect (beyond three
/// times the threshold), after which its region is picked and compiled again, once,
/// with room for [`MAX_REGION`] blocks.
const RECOMPILE_EXITS: u64 = 256;

/// The execution count of a head whose region was compiled again: far above the
/// recompile trigger, so a region is recompiled once.
const RECOMPILED: u64 = 1 << 62;

/// The lowest threshold at which a host with a JIT thread queues programs (`submit`):
/// lower ones are test and diagnostic settings (1: every block compiled at its first
/// execution), compiled on the vCPU so that a block runs compiled from its next
/// execution on. Both hosts follow it.
pub const QUEUE_FROM_THRESHOLD: u32 = 64;

/// Most programs a hart has queued with a `submit` host at once.
pub const T2_PENDING: usize = 16;

/// Compiles an eBPF program: `(opaque, insns, count, entry out)`. Returns a nonzero
/// handle and writes the callable entry point to `*entry`, or returns 0 if refused.
pub type CompileFn = unsafe extern "C" fn(*mut c_void, *const u64, usize, *mut u64) -> u64;
/// Queues an eBPF program for compiling on another thread: `(opaque, insns, count,
/// checker environment, ticket)`. Returns true if it was queued, false if the host is
/// busy. A host that queues it copies the instructions and the environment, and on its
/// thread first runs the checker ([`check_with`](super::t2check::check_with)) on them:
/// a program the checker refuses goes to [`Hart::t2_refuse`] and never to a JIT; one it
/// accepts is compiled, and the result goes to [`Hart::t2_install`] with `ticket`.
pub type SubmitFn = unsafe extern "C" fn(*mut c_void, *const u64, usize, *const CheckEnv, u64) -> bool;
/// Releases a handle returned by [`CompileFn`]: `(opaque, handle)`.
pub type FreeFn = unsafe extern "C" fn(*mut c_void, u64);
/// A compiled block, as tier 2 calls it: `(hart, unused) -> exit kind` (the kernel's
/// `bpf_func` signature; eBPF's r1 is the first argument).
#[cfg(not(feature = "bpf-prog-run"))]
type EntryFn = unsafe extern "C" fn(*mut c_void, *const c_void) -> u64;

#[cfg(feature = "bpf-prog-run")]
extern "C" {
    /// kemu.ko's runner (rust/bpf_jit.c): calls `prog->bpf_func` from C, where a kCFI
    /// kernel checks the type hash the BPF JIT gave the image.
    fn kemu_bpf_run(prog: *const c_void, ctx: *mut c_void) -> u64;
}

/// Runs the tier-2 code `entry` of a block on the hart `ctx`.
///
/// With feature `bpf-prog-run` (kemu.ko: Kbuild turns it on) `entry` is the kernel's
/// `struct bpf_prog`, run by a direct call to the C shim, so no JIT code is ever called
/// through a Rust function-pointer type (whose kCFI hash is not `bpf_func_t`'s);
/// otherwise it is the native entry point of the host's JIT.
#[inline(always)]
fn run_entry(entry: u64, ctx: *mut c_void) -> u64 {
    // SAFETY (both forms): `entry` came from the host's `compile` for the running
    // block and has not been released (releasing clears it from the header first);
    // `set_tier2`'s contract makes it runnable this way. `ctx` is the hart `exec_t2`
    // borrows mutably for the call. The program touches only the hart fields ebpf.rs
    // names and guest RAM, and calls `tier2_helper`, which uses `t2_bus` (valid until
    // this call returns).
    #[cfg(feature = "bpf-prog-run")]
    // SAFETY: see above; `entry` is a live `struct bpf_prog *` from `kemu_bpf_compile`.
    unsafe {
        kemu_bpf_run(entry as usize as *const c_void, ctx)
    }
    #[cfg(not(feature = "bpf-prog-run"))]
    // SAFETY: see above; `entry` is a native entry point with the `EntryFn` ABI.
    unsafe {
        let f: EntryFn = core::mem::transmute::<usize, EntryFn>(entry as usize);
        f(ctx, ptr::null())
    }
}

/// The host's JIT, as tier 2 uses it. All-zero (the hart's initial state) is "no
/// tier 2".
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Tier2Host {
    /// Compiles a program (see [`CompileFn`]); unused if there is a `submit` hook.
    pub compile: Option<CompileFn>,
    /// Queues a program for compiling on another thread (see [`SubmitFn`]).
    pub submit: Option<SubmitFn>,
    /// Releases compiled code.
    pub free: Option<FreeFn>,
    /// Passed to both hooks.
    pub opaque: *mut c_void,
    /// The `imm` of a `BPF_CALL` that calls [`tier2_helper`] under this host's JIT
    /// (the kernel: its address minus `__bpf_call_base`).
    pub helper_imm: i32,
    /// Tier-1 executions of a block before it is compiled (at least 1).
    pub threshold: u32,
    /// Most compiled blocks alive at once (further hot blocks stay in tier 1).
    pub max_blocks: u32,
}

impl Tier2Host {
    /// No tier 2.
    pub const NONE: Tier2Host =
        Tier2Host { compile: None, submit: None, free: None, opaque: ptr::null_mut(), helper_imm: 0, threshold: 0, max_blocks: 0 };
}

/// A function tier-2 programs call (`BPF_CALL`): `(hart, micro-op, virtual pc, _, _) ->
/// exit kind`, with [`tier2_helper`]'s contract.
pub type HelperFn = unsafe extern "C" fn(u64, u64, u64, u64, u64) -> u64;

/// The number of [`helpers`].
pub const HELPERS: usize = 1 + super::fpu::FP_OPS;

/// Every function a tier-2 program may call: [`tier2_helper`] first, then the direct
/// helpers of the F/D computational ops (which run one op's handler without the
/// generic helper's dispatch).
pub fn helpers() -> impl Iterator<Item = HelperFn> + Clone {
    core::iter::once(tier2_helper as HelperFn).chain(super::fpu::FP_HELPERS.iter().map(|&(_, f)| f))
}

/// The `BPF_CALL` immediate of helper `f` under a host whose immediate for
/// [`tier2_helper`] is `helper_imm`: immediates are addresses relative to a base (the
/// kernel's `__bpf_call_base`; kemuctl's JIT uses the same rule), so `f`'s is
/// `helper_imm` plus `f`'s distance from `tier2_helper`. `None` if out of range (the
/// program then calls the generic helper).
pub fn call_imm(helper_imm: i32, f: HelperFn) -> Option<i32> {
    let d = (f as usize).wrapping_sub((tier2_helper as HelperFn) as usize) as isize as i64;
    i32::try_from(i64::from(helper_imm).checked_add(d)?).ok()
}

/// The body of every tier-2 helper: runs handler `op` on micro-op `uop` of the running
/// program's block at virtual pc `vpc`, on the hart `ctx`, and returns its exit kind as
/// the program expects it. The direct helpers (`fpu.rs`) pass one op's handler, which
/// neither ends the block but by a trap nor changes translated code.
///
/// # Safety
/// As for [`tier2_helper`].
#[inline(always)]
pub(super) unsafe fn helper_body<H>(ctx: u64, uop: u64, vpc: u64, op: H) -> u64
where
    H: FnOnce(&mut Hart, &mut &mut dyn Bus, &Uop) -> ExitKind,
{
    // SAFETY: `ctx` is the hart that `exec_t2` passed to the running program, derived
    // from its `&mut self`, which is not used until the program returns; `t2_bus`
    // points at the `&mut dyn Bus` that `exec_t2` borrowed for the same time; `uop`
    // points at a micro-op of the running block in the arena, which is not written
    // while blocks run (tcache.rs) and holds a valid `Uop` (written by the translator).
    let (h, bus, u) = unsafe {
        let h = &mut *(ctx as *mut Hart);
        let bus = &mut *h.t2_bus.cast::<&mut dyn Bus>();
        (h, bus, &*(uop as *const Uop))
    };
    h.tb_vpc = vpc;
    u64::from(op(h, bus, u) as u8)
}

/// The generic helper of tier-2 programs: runs micro-op `uop` (the address of a `Uop` in
/// the translation cache) of the running program's block at virtual pc `vpc` with its
/// tier-1 handler, on the hart `ctx`. Returns the number of `ExitKind::Next` (0xff) to
/// go on with the program, or that of the exit kind that ends it.
///
/// An op that went on normally but dropped translated code (a page-table A/D update
/// into a page of code) ends the program after it ([`ExitKind::Sync`], pc at the next
/// instruction): the rest of the program may be stale, so a program never runs on
/// past a change of translated code.
///
/// # Safety
/// Only tier-2 code calls it, from [`Hart::exec_t2`], with the hart pointer it was
/// given and the address of a micro-op of one of its blocks.
pub unsafe extern "C" fn tier2_helper(ctx: u64, uop: u64, vpc: u64, _: u64, _: u64) -> u64 {
    // SAFETY: this function's contract is `helper_body`'s.
    unsafe {
        helper_body(ctx, uop, vpc, |h, bus, u| {
            let gen = h.tc_gen;
            let kind = h.exec_uop(bus, u);
            if kind == ExitKind::Next && h.tc_gen != gen {
                h.exit_next(u, ExitKind::Sync)
            } else {
                kind
            }
        })
    }
}

impl Hart {
    /// Installs the host's tier-2 hooks (`None`, or a host without `compile`: tier 1
    /// only). Every translated block is dropped, releasing the code of the previous
    /// hooks.
    ///
    /// # Safety
    /// `compile` must return 0 or a handle and an entry that runs the given eBPF program
    /// (with eBPF semantics, calling [`tier2_helper`] for `BPF_CALL` with
    /// `helper_imm`) when called as `entry(hart, null)` (with feature `bpf-prog-run`:
    /// when passed to kemu.ko's `kemu_bpf_run`), until the handle is passed to
    /// `free`; both hooks must be callable with `opaque` for as long as the hart has
    /// them (call `set_tier2(None)` before the host's JIT goes away: that releases all
    /// code).
    pub unsafe fn set_tier2(&mut self, host: Option<Tier2Host>) {
        self.tc_flush();
        let host = host.unwrap_or(Tier2Host::NONE);
        // Programs access RAM at a TLB entry's host page plus an offset inside the
        // page: that needs a whole page of RAM (`TlbEntry`'s invariant).
        self.t2_on = (host.compile.is_some() || host.submit.is_some()) && self.ram.len() >= 4096;
        self.t2 = Tier2Host { threshold: host.threshold.max(1), ..host };
    }


    /// Runs block `tb` through its tier-2 `entry`.
    #[inline(always)]
    pub(super) fn exec_t2(&mut self, bus: &mut &mut dyn Bus, tb: u32, entry: u64) -> ExitKind {
        self.stats.t2_executed = self.stats.t2_executed.wrapping_add(1);
        self.t2_bus = ptr::from_mut(bus).cast::<c_void>();
        self.t2_running = tb;
        let r = run_entry(entry, ptr::from_mut(self).cast::<c_void>());
        self.t2_running = 0;
        self.t2_bus = ptr::null_mut();
        if self.t2_deferred != 0 {
            let h = core::mem::replace(&mut self.t2_deferred, 0);
            self.t2_free(h);
        }
        // Programs only return exit kinds; anything else resynchronises.
        let kind = ExitKind::from_t2(r);
        // An exit to a block of the head's page: the region was picked before that
        // block was translated, hot, or (for an indirect jump) in the jump log, or it
        // was full. After enough of them the region is picked again, once, larger
        // (`t2_lower`). A loop that a first region could not hold hands over between
        // the programs of its heads on every turn (xz: 26 M of its 64 M program
        // entries went from one head to another of the same page).
        // (Not the exits at the end of the run's budget or for a stop: a loop that
        // fits its region leaves that way too.)
        if (kind == ExitKind::Jump || kind.chain_slot().is_some())
            && (self.pc ^ self.tc.vpc_of(tb)) >> 12 == 0
            && self.stats.insns < self.chain_insn_limit
        {
            let threshold = u64::from(self.t2.threshold);
            if self.tc.bump_hot(tb) == threshold.saturating_mul(3).saturating_add(RECOMPILE_EXITS) {
                self.t2_recompile(*bus, tb);
            }
        }
        kind
    }

    /// Compiles the region of head `tb` again (its program is not running).
    #[inline(never)]
    fn t2_recompile(&mut self, bus: &mut dyn Bus, tb: u32) {
        let h = self.tc.take_t2(tb);
        if h != 0 {
            self.t2_free(h);
        }
        self.stats.t2_recompiled += 1;
        self.tc.set_hot(tb, RECOMPILED);
        self.t2_compile(bus, tb);
    }

    /// Tries to compile the region of head `tb`; true if it now has tier-2 code (with a
    /// `submit` host, never: the program is queued, or the block waits for a free slot).
    #[inline(never)]
    pub(super) fn t2_compile(&mut self, bus: &mut dyn Bus, tb: u32) -> bool {
        let (compile, submit) = (self.t2.compile, self.t2.submit);
        if compile.is_none() && submit.is_none() {
            return false;
        }
        if submit.is_some() && self.tc.hot(tb) < RECOMPILED && self.t2_in_pending_region(tb) {
            // A block of a region on its way to the host's thread: once that program is
            // installed, it runs this block. Asked again after half a threshold, with a
            // count that still makes it a member of the regions that want it (a
            // synchronous compile would have installed the program before this block
            // got here; queued, 37% more programs were made without this).
            // (Rounded up: at least what a block of another page needs to join; below
            // the threshold, so that it is asked again.)
            let threshold = u64::from(self.t2.threshold);
            self.tc.set_hot(tb, (threshold - threshold / 2).min(threshold.saturating_sub(1)));
            return false;
        }
        let queued = self.t2_pending.iter().filter(|p| p.0 != 0).count() as u32;
        if self.t2_live.saturating_add(queued) >= self.t2.max_blocks {
            self.stats.t2_rejected += 1;
            self.tc.set_t2(tb, 0, 0);
            return false;
        }
        let free_slot = self.t2_pending.iter().position(|p| p.0 == 0);
        if submit.is_some() && free_slot.is_none() {
            self.t2_wait(tb);
            return false;
        }
        let t0 = bus.host_ns();
        let mut env = CheckEnv::new(self.t2.helper_imm);
        // A queued program is checked on the host's thread (see `SubmitFn`).
        let n = self.t2_lower(tb, &mut env, submit.is_none());
        let mut entry = 0u64;
        // The compiled handle, or None if the program was queued (or had to wait).
        let handle = match (n, submit, free_slot) {
            (Some(n), Some(submit), Some(slot)) => {
                self.t2_ticket += 1;
                let ticket = self.t2_ticket;
                // SAFETY: the buffer holds `n` instructions; `set_tier2`'s contract
                // covers the hook and `opaque`.
                if unsafe { submit(self.t2.opaque, self.t2_buf.as_ptr(), n, &env, ticket) } {
                    self.t2_pending[slot] = (ticket, tb);
                    if let Some(blocks) = self.t2_pending_blocks.get_mut(slot) {
                        blocks.fill(0);
                        for (b, t) in blocks.iter_mut().zip(env.block_tbs()) {
                            *b = t;
                        }
                    }
                    self.stats.t2_queued += 1;
                } else {
                    self.t2_wait(tb);
                }
                None
            }
            // SAFETY: as for `submit`.
            (Some(n), None, _) => Some(compile.map_or(0, |c| unsafe { c(self.t2.opaque, self.t2_buf.as_ptr(), n, &mut entry) })),
            _ => Some(0),
        };
        self.stats.t2_compile_ns = self.stats.t2_compile_ns.wrapping_add(bus.host_ns().wrapping_sub(t0));
        let Some(handle) = handle else { return false };
        let taken = self.t2_take(tb, handle, entry);
        if !taken && handle != 0 {
            self.t2_free(handle);
        }
        taken
    }

    /// Gives head `tb` the compiled program `handle`/`entry`; with either 0 (refused),
    /// leaves the block on tier 1 for good. Returns whether it took the handle.
    fn t2_take(&mut self, tb: u32, handle: u64, entry: u64) -> bool {
        if handle == 0 || entry == 0 {
            self.stats.t2_rejected += 1;
            self.tc.set_t2(tb, 0, 0);
            return false;
        }
        self.t2_live += 1;
        self.stats.t2_compiled += 1;
        self.tc.set_t2(tb, entry, handle);
        true
    }

    /// Whether block `tb` belongs to the region of a program queued with the host.
    fn t2_in_pending_region(&self, tb: u32) -> bool {
        self.t2_pending.iter().zip(&self.t2_pending_blocks).any(|(p, blocks)| p.0 != 0 && blocks.contains(&tb))
    }

    /// A hot block that could not be queued now: it is tried again after another
    /// threshold of tier-1 executions.
    fn t2_wait(&mut self, tb: u32) {
        self.stats.t2_busy += 1;
        self.tc.set_hot(tb, 0);
    }

    /// Lowers the region of head `tb` into `t2_buf`, with the checker's view of its
    /// blocks in `env`, and if `check` has the checker prove it; returns its length, or
    /// `None` if it did not fit or was refused. (A recompiled region is checked here
    /// whatever `check` says: if the checker refuses it, the head gets a program of the
    /// first size instead.)
    fn t2_lower(&mut self, tb: u32, env: &mut CheckEnv, check: bool) -> Option<usize> {
        // A region compiled again may be larger (see `exec_t2`).
        let cap = if self.tc.hot(tb) >= RECOMPILED { MAX_REGION } else { FIRST_REGION };
        let n = self.t2_lower_at_most(tb, cap, env, check || cap > FIRST_REGION);
        if n.is_none() && cap > FIRST_REGION {
            // A larger region the lowering or the checker refused: the head keeps a
            // program of the first size rather than none.
            return self.t2_lower_at_most(tb, FIRST_REGION, env, check);
        }
        n
    }

    /// [`Hart::t2_lower`] with at most `cap` blocks. (Not inlined: one frame of its
    /// tables on a kernel stack, not one per call.)
    #[inline(never)]
    fn t2_lower_at_most(&mut self, tb: u32, cap: usize, env: &mut CheckEnv, check: bool) -> Option<usize> {
        let mut region = [0u32; MAX_REGION];
        let mut predicted = [(0usize, 0usize); MAX_PREDICTED];
        let (found, npred) = self.t2_region(tb, region.get_mut(..cap).unwrap_or(&mut []), &mut predicted);
        // A region that does not fit is tried again with half its blocks. A first
        // compile gets half the buffer (its size before recompiled regions grew): its
        // program costs compile time and JIT budget before the region has shown it
        // needs more. (With the whole buffer for first compiles, the VM test that
        // spends a 1 MiB budget on 3,000 memory-bound blocks, t2budget.S, once ran
        // none of its programs under KASAN.)
        let room = if cap > FIRST_REGION { T2_BUF_INSNS } else { T2_BUF_INSNS / 2 };
        let mut count = found.max(1);
        let n = loop {
            let (tc, lower) = (&self.tc, &mut self.t2_lower);
            let buf = self.t2_buf.get_mut(..room).unwrap_or(&mut []);
            let n = lower_region(tc, &region[..count], &predicted[..npred], buf, self.t2.helper_imm, lower);
            if n.is_some() || count == 1 {
                break n;
            }
            count /= 2;
        };
        // The blocks the program holds, for the checker (and the pending region).
        env.clear_blocks();
        for &t in region.get(..count.min(found)).unwrap_or(&[]) {
            let uops = self.tc.block(t).1;
            // (Room for every block: MAX_BLOCKS is MAX_REGION.)
            let added = env.add_block(t, uops.as_ptr() as u64, uops.len());
            debug_assert!(added, "the checker's block table is smaller than a region");
        }
        // The checker proves the program safe before any JIT sees it (t2check.rs),
        // here or on a `submit` host's thread.
        if !check {
            return n;
        }
        n.and_then(|n| match check_with(&self.t2_buf[..n], env, &mut self.t2_check) {
            Ok(()) => Some(n),
            Err(e) => {
                self.t2_count_refusal(e);
                None
            }
        })
    }

    fn t2_count_refusal(&mut self, e: Refusal) {
        self.t2_refused += 1;
        if self.t2_first_refusal == 0 {
            self.t2_first_refusal = e.code();
        }
    }

    /// Records that the checker refused the program queued with `ticket` (on the
    /// `submit` host's thread, see [`SubmitFn`]): its head stays on tier 1 for good,
    /// as after a refusal on the vCPU. Call it between runs, on the hart's thread.
    pub fn t2_refuse(&mut self, ticket: u64, refusal: Refusal) {
        self.t2_count_refusal(refusal);
        // SAFETY: no handle (0) is handed over.
        unsafe { self.t2_install(ticket, 0, 0) };
    }

    /// Installs a program a `submit` host compiled: `handle` and `entry` as its
    /// [`CompileFn`] would have returned them for the program queued with `ticket`
    /// (handle 0: the JIT refused it, and the block stays on tier 1 for good). Call it
    /// between runs, on the hart's thread.
    ///
    /// Returns whether the hart took the handle. If not (the ticket is unknown: the
    /// block was killed or the cache flushed since the program was made, so its
    /// micro-op addresses are stale and it must never run), the caller releases it.
    ///
    /// # Safety
    /// A nonzero `handle` must be the host JIT's compilation of exactly the instructions
    /// submitted with `ticket`, which the checker accepted against the environment
    /// submitted with them ([`SubmitFn`]), with [`CompileFn`]'s contract, handed over
    /// once.
    pub unsafe fn t2_install(&mut self, ticket: u64, handle: u64, entry: u64) -> bool {
        let slot = self.t2_pending.iter().position(|p| ticket != 0 && p.0 == ticket);
        if let Some(blocks) = slot.and_then(|i| self.t2_pending_blocks.get_mut(i)) {
            blocks.fill(0);
        }
        let Some(tb) = slot.map(|i| core::mem::take(&mut self.t2_pending[i]).1) else {
            self.stats.t2_discarded += 1;
            return false;
        };
        // Killed heads keep their header until the next flush, which would have
        // forgotten the ticket.
        if !self.t2_on || self.tc.is_dead(tb) || self.tc.t2_entry(tb) != 0 {
            self.stats.t2_discarded += 1;
            return false;
        }
        if !self.t2_take(tb, handle, entry) {
            return false;
        }
        // Count indirect exits from where a synchronous compile would have (tier 1 kept
        // counting while the program was queued), unless this is the recompiled one:
        // see `exec_t2`.
        if self.tc.hot(tb) < RECOMPILED {
            self.tc.set_hot(tb, u64::from(self.t2.threshold));
        }
        true
    }

    /// Programs the checker refused (they stay on tier 1), and the first refusal, for
    /// the host to log.
    pub fn t2_refusals(&self) -> (u64, Option<Refusal>) {
        (self.t2_refused, Refusal::from_code(self.t2_first_refusal))
    }

    fn t2_free(&mut self, handle: u64) {
        self.t2_live = self.t2_live.saturating_sub(1);
        self.stats.t2_freed += 1;
        if let Some(free) = self.t2.free {
            // SAFETY: `handle` came from this host's `compile` and is released once
            // (it was taken out of its block's header).
            unsafe { free(self.t2.opaque, handle) };
        }
    }

    /// Releases the tier-2 code of block `tb`, if any (later, if it is running).
    pub(super) fn t2_release(&mut self, tb: u32) {
        let h = self.tc.take_t2(tb);
        if h == 0 {
            return;
        }
        if tb == self.t2_running {
            self.t2_deferred = h;
        } else {
            self.t2_free(h);
        }
    }

    /// Releases the tier-2 code of every block.
    pub(super) fn t2_release_all(&mut self) {
        if self.t2_live == 0 {
            return;
        }
        // Walk a copy of the bookkeeping: releasing rewrites only the tier-2 words of
        // the headers, never the sizes the walk reads.
        let tc = self.tc;
        for tb in tc.tbs() {
            self.t2_release(tb);
        }
    }
}
