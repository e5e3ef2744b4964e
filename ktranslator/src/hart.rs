//! Hart state, the host-facing API and the main run loop.

use core::ptr;

use super::bus::Bus;
use super::csr;
use super::ram::GuestRam;
use super::tcache::{Tc, TcArena};

/// Privilege levels (`mstatus.MPP` encoding).
pub mod prv {
    /// User mode.
    pub const U: u8 = 0;
    /// Supervisor mode.
    pub const S: u8 = 1;
    /// Machine mode.
    pub const M: u8 = 3;
}

/// Why [`Hart::run`] returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// The instruction budget is used up.
    Budget,
    /// The hart executed WFI with no enabled interrupt pending: the host may sleep
    /// until an interrupt line changes. `pc` already points after the WFI.
    Wfi,
    /// The bus asked to stop ([`Bus::stop_requested`]).
    Stop,
}

/// A counter's key: its field name, or the `as` name given in [`stats!`].
macro_rules! stat_key {
    ($name:ident) => {
        stringify!($name)
    };
    ($name:ident $key:literal) => {
        $key
    };
}

/// Declares [`Stats`] and the list of its counters' keys from one list (a field may
/// give its key with `as "key"`, where hosts know the counter by another name).
macro_rules! stats {
    ($($(#[$doc:meta])* $name:ident $(as $key:literal)?,)*) => {
        /// Counters the host can read (never reset by the hart).
        #[derive(Clone, Copy, Debug, Default)]
        pub struct Stats {
            $($(#[$doc])* pub $name: u64,)*
        }

        impl Stats {
            /// The counters' keys, in declaration order: kemuctl's JSON keys and the names
            /// of kemu.ko's `KEMU_STATUS` counters that come from the hart.
            pub const NAMES: [&'static str; [$(stringify!($name),)*].len()] = [$(stat_key!($name $($key)?),)*];

            /// The counters' values, in the order of [`Stats::NAMES`].
            pub fn values(&self) -> [u64; Self::NAMES.len()] {
                [$(self.$name,)*]
            }
        }
    };
}

stats! {
    /// Instructions retired.
    insns as "instructions",
    /// Traps taken (exceptions and interrupts).
    traps,
    /// Interrupts taken.
    interrupts,
    /// Translated blocks created.
    tbs_translated,
    /// Translated blocks executed.
    tbs_executed,
    /// The part of `tbs_translated` that holds one instruction straddling a page
    /// boundary (cached; checked against its second page at every lookup).
    tbs_straddle,
    /// Straddling blocks dropped at a lookup because their second page was remapped or
    /// written.
    straddle_drops,
    /// Block transitions through a direct chain (no lookup).
    chained,
    /// Whole translation-cache flushes (full arena, reset, [`Hart::invalidate_code`]).
    tc_flushes,
    /// Pages whose translated blocks were dropped because they were written (by the
    /// hart or, through [`Hart::invalidate_code_range`], by a device).
    code_page_flushes,
    /// Translated blocks an invalidation of a code page looked at: that page's own,
    /// plus at most 64 of other pages before it flushes everything instead (the cost of
    /// a store into code is bounded whatever else is cached).
    code_walk,
    /// The part of `code_page_flushes` caused by the hart's own writes (stores, AMOs,
    /// page-table A/D updates): self-modifying code.
    smc_flushes,
    /// `fence.i` instructions executed (they drop nothing: see `code_page_flushes`).
    fence_i,
    /// TLB misses (slow-path address translations).
    tlb_misses,
    /// Whole-TLB flushes (satp writes, `sfence.vma` of every address; privilege and
    /// mstatus changes select other TLB entries instead of flushing).
    tlb_flushes,
    /// One-page TLB flushes (`sfence.vma` of one address, which Linux issues after
    /// every page fault and per page of a small unmapped range).
    tlb_page_flushes,
    /// Block lookups answered by the jump cache (virtual pc -> block), i.e. block
    /// transitions that were not chained but needed no hash lookup.
    jc_hits,
    /// Block lookups the jump cache did not answer (each one is a `tb_lookups`, unless
    /// the fetch faults).
    jc_misses,
    /// Hash-table lookups of translated blocks (physical pc + privilege).
    tb_lookups,
    /// The part of `tb_lookups` that found a block (the rest translate one): the
    /// TB-cache hit rate is `tb_lookup_hits / tb_lookups`.
    tb_lookup_hits,
    /// Host nanoseconds spent translating blocks, as measured by
    /// [`Bus::host_ns`] (0 when the host does not implement it).
    translate_ns,
    /// Blocks compiled by tier 2 (lowered to eBPF and accepted by the host's JIT).
    t2_compiled,
    /// Hot blocks tier 2 did not compile (the lowering did not fit, the JIT refused
    /// the program, or the limit of live images was reached).
    t2_rejected,
    /// Tier-2 images released (their block was invalidated or the cache flushed).
    t2_freed,
    /// Tier-2 program entries (part of `tbs_executed`): a program runs a region of
    /// blocks, whose transitions inside it count nowhere, so `insns / t2_executed` is
    /// not far from the guest instructions per entry.
    t2_executed,
    /// Programs handed to a host's `submit` hook, to be compiled on another thread
    /// (their blocks run on tier 1 until [`Hart::t2_install`]).
    t2_queued,
    /// Hot blocks not submitted because the host's queue or the hart's
    /// [`T2_PENDING`](super::tier2::T2_PENDING) slots were full (tried again after
    /// another threshold of executions).
    t2_busy,
    /// Compiled programs the hart did not take because their block was killed or the
    /// cache flushed while they were being compiled (the host released them).
    t2_discarded,
    /// Regions compiled again because their programs kept leaving for blocks of their
    /// head's page (tier2.rs `t2_recompile`).
    t2_recompiled,
    /// Host nanoseconds the hart spent lowering, checking and JIT-compiling tier-2
    /// regions ([`Bus::host_ns`]); with a `submit` host, lowering and queueing (the
    /// host's thread checks and compiles; a recompiled region is checked here too).
    t2_compile_ns,
}

/// One direct-mapped TLB entry: `tag` is the guest virtual page with the key of the
/// translation regime in bits 3-11 (see mmu.rs; [`TLB_INVALID`] when empty) and `host`
/// the host address of the guest-RAM page it maps.
///
/// Invariant: `host` is the RAM's host address plus a page offset at most the RAM
/// length - 4096, in every entry, empty or not (only `Hart::tlb_fill` writes it, for
/// pages that lie entirely in RAM; `Hart::init_in_place` points every entry at RAM's
/// first page, and tier 2 runs only with at least 4 KiB of RAM). Tier-2 programs rely
/// on it: `host` plus an offset inside the page is inside RAM, whatever the tag
/// comparison did (t2check.rs). (No `Default`: a zero entry would point at address 0.)
#[derive(Clone, Copy, Debug)]
#[repr(C)]
pub(super) struct TlbEntry {
    pub(super) tag: u64,
    pub(super) host: u64,
}

/// Tag of an empty TLB entry: its key has the reserved privilege 2, which no lookup
/// uses.
pub(super) const TLB_INVALID: u64 = 2 << 3;
/// log2 of the number of entries per TLB. 4096 entries map 16 MiB: xz compressing in
/// a Debian guest missed 16.9 M times in a run with 256 entries, 2.9 M with 4096.
pub(super) const TLB_BITS: u32 = 12;
/// Entries per TLB.
pub(super) const TLB_SIZE: usize = 1 << TLB_BITS;
/// Jump-cache entries (virtual pc -> translated block): [`JC_SETS`] sets of
/// [`JC_WAYS`], a virtual page's pcs all in one set (`jc_index`), so that a one-page
/// `sfence.vma` empties one set. 32 sets of 128 (4,096 entries) missed 8.8 M times in
/// a Debian guest's xz, sqlite and gcc runs (xz alone: 4.0 M, 3.2 M of them on an
/// entry another block had taken); 64 sets of 512 missed 2.2 M times (`kemuctl bench
/// --configs user-t2 --workloads xz,sqlite,gcc`, counter `jc_misses`). A miss costs a
/// fetch translation and a hash walk, a one-page fence the clearing of one set (4 KiB).
pub(super) const JC_SIZE: usize = JC_SETS * JC_WAYS;
/// Jump-cache sets (chosen by the low bits of the virtual page number).
pub(super) const JC_SETS: usize = 64;
/// Jump-cache entries per set (chosen by the pc's offset in its page).
pub(super) const JC_WAYS: usize = 512;
// (`jc_set` and `jc_index` mask with these; a page has 2048 halfwords.)
const _: () = assert!(JC_SETS.is_power_of_two() && JC_WAYS.is_power_of_two() && JC_WAYS <= 2048);

/// The jump-cache entry of virtual pc `pc`: in [`jc_set`] of its page.
#[inline(always)]
pub(super) fn jc_index(pc: u64) -> usize {
    // The offset's halfword number (11 bits), folded to log2(JC_WAYS) bits.
    let off = (pc & 0xfff) as usize;
    jc_set(pc).start + (((off >> 1) ^ (off >> (1 + JC_WAYS.trailing_zeros()))) & (JC_WAYS - 1))
}

/// The jump-cache entries of the page of virtual address `va`.
#[inline(always)]
pub(super) fn jc_set(va: u64) -> core::ops::Range<usize> {
    let set = (va >> 12) as usize & (JC_SETS - 1);
    set * JC_WAYS..(set + 1) * JC_WAYS
}
/// Entries of the indirect-jump log (`Hart::jump_log`).
pub(super) const JUMP_LOG_SIZE: usize = 4096;
/// Translation-cache hash buckets (physical pc + privilege -> translated block).
/// A Linux guest keeps about 100,000 blocks alive (the arena is rarely flushed), and
/// every `satp` write (each context switch) empties the jump cache, so after a switch
/// every block is looked up here: with 4096 buckets (chains of about 24 blocks, one cache
/// miss each) the chain walks took 30% of the host's time in a pipe ping-pong between
/// two processes. 65,536 buckets (256 KiB of the hart) keep chains at one or two.
pub(super) const HASH_SIZE: usize = 1 << 16;

/// TLB index of instruction fetches.
pub(super) const ACC_FETCH: usize = 0;
/// TLB index of loads.
pub(super) const ACC_LOAD: usize = 1;
/// TLB index of stores and AMOs.
pub(super) const ACC_STORE: usize = 2;

/// One RV64GC hart with its translation cache and TLBs.
///
/// Every field is valid when all its bytes are zero, so the host can allocate it zeroed
/// (it is large: about 910 KiB, most of it the 65,536-bucket block hash table and the
/// jump cache, 256 KiB each, the TLBs, the tier-2 lowering buffer and the checker's
/// state) and initialise it in place with
/// [`Hart::init_in_place`]; never build one on a kernel stack. A zeroed hart is valid
/// Rust but not yet a hart: its TLB entries point at address 0, and `TlbEntry`'s
/// invariant, which tier-2 programs rely on, holds only once `init_in_place` ran (the
/// only constructor).
///
/// Tier-2 programs (ebpf.rs) address the fields up to `stats` with 16-bit offsets:
/// they come first, then the TLBs (whose start must be within reach), and the big
/// tables last.
#[repr(C)]
pub struct Hart {
    /// Integer registers; index 32 is the sink for writes to x0. 256 entries so that
    /// the executor indexes it with a micro-op's `u8` register fields without masking
    /// or bounds checks (entries above 32 are never used).
    pub(super) x: [u64; 256],
    /// Floating-point registers (raw bits, single values NaN-boxed).
    pub(super) f: [u64; 32],
    /// Key of the current translation regime, per TLB (see mmu.rs).
    pub(super) tlb_key: [u64; 3],
    /// TLB epoch (0..32), part of the keys.
    pub(super) tlb_epoch: u64,
    /// Epoch of the jump cache (`jc`): entries of an older epoch are empty.
    pub(super) jc_epoch: u32,
    pub(super) pc: u64,
    pub(super) prv: u8,
    /// Set when the bus asked to stop.
    pub(super) exit_req: bool,
    /// LR/SC reservation is valid.
    pub(super) resv_valid: bool,
    /// Tier 2 is on (the host set its hooks, tier2.rs).
    pub(super) t2_on: bool,
    /// The largest leaf level (0: 4 KiB pages, 1: 2 MiB, 2 and up: larger) page walks
    /// found since the last full TLB flush, for addresses with bit 63 clear (index 0:
    /// a Linux guest's user space, mapped in 4 KiB pages) and set (1: its kernel, with
    /// 2 MiB pages): how far a one-page `sfence.vma` must look (mmu.rs
    /// `tlb_flush_page`, with [`Hart::tlb_mega`]).
    pub(super) tlb_leaf_max: [u8; 2],
    /// Translated block whose tier-2 code is running (0: none).
    pub(super) t2_running: u32,
    pub(super) resv_addr: u64,
    /// Pending exception (set by the faulting operation, consumed by the executor).
    pub(super) exc_cause: u64,
    pub(super) exc_tval: u64,
    /// `stats.insns` at the last reset: instructions retired since then are the
    /// basis of mcycle/minstret (so that retiring updates one counter).
    pub(super) insns_at_reset: u64,
    /// Virtual pc of the block being executed (read by the executor's exits).
    pub(super) tb_vpc: u64,
    /// The block being executed (`exec_tb` follows chains from block to block).
    pub(super) cur_tb: u32,
    /// First micro-op of the block an exit chained to (see `ExitKind::Chained`).
    pub(super) next_uop: *const super::decode::Uop,
    /// `stats.insns` at which chaining stops: the run loop's, the executor's chain
    /// exits' (`Hart::may_chain`) and tier-2 loops'.
    pub(super) chain_insn_limit: u64,
    /// The bus of the running tier-2 block (a `*mut &mut dyn Bus`), for the helper.
    pub(super) t2_bus: *mut core::ffi::c_void,
    /// Handle of a block's code freed while it ran, released when it returns.
    pub(super) t2_deferred: u64,
    /// Live tier-2 images.
    pub(super) t2_live: u32,
    /// The host's tier-2 hooks.
    pub(super) t2: super::tier2::Tier2Host,
    /// Statistics.
    pub stats: Stats,
    pub(super) csr: csr::Csrs,
    /// The load and store TLBs, interleaved: `tlb[i][ACC_LOAD - 1]` and
    /// `tlb[i][ACC_STORE - 1]` ([`Hart::tlb_entry`]). Tier-2 programs reach an entry at
    /// the hart plus its index times 32 and a 16-bit offset, so only the table's start
    /// must lie in the hart's first 32 KiB, not its end.
    pub(super) tlb: [[TlbEntry; 2]; TLB_SIZE],
    /// The instruction-fetch TLB.
    pub(super) tlb_fetch: [TlbEntry; TLB_SIZE],
    pub(super) ram: GuestRam,
    pub(super) tc: Tc,
    /// Generation of the translation cache, bumped on every flush.
    pub(super) tc_gen: u64,
    pub(super) hash: [u32; HASH_SIZE],
    /// Jump cache: TB index | epoch << 32 (see `jc_epoch`). An entry of the current
    /// epoch names a live block (killing a block clears its entry) that a lookup found
    /// at that virtual pc since the last flush of the TLBs; `Hart::find_tb` returns it
    /// for that pc when the privilege is the block's. Tier-2 programs read it to check
    /// a jump into another page of their region (ebpf.rs `Emitter::guard`).
    pub(super) jc: [u64; JC_SIZE],
    /// The host's stop request, if it gave one ([`Hart::set_stop_flag`]).
    pub(super) host_stop: *const core::sync::atomic::AtomicBool,
    /// Tier-2 programs the checker refused (t2check.rs).
    pub(super) t2_refused: u64,
    /// The first refusal: `Refusal::code` (0: none yet).
    pub(super) t2_first_refusal: u64,
    /// Output of the tier-2 lowering of one block.
    pub(super) t2_buf: [u64; super::tier2::T2_BUF_INSNS],
    /// The tier-2 checker's working state (too big for a kernel stack).
    pub(super) t2_check: super::t2check::CheckScratch,
    /// The tier-2 lowering's tables of one region (kept off the kernel stack too).
    pub(super) t2_lower: super::ebpf::LowerScratch,
    /// Recent indirect jumps between blocks (with tier 2 on): `source << 32 | target`
    /// block indices, in a set picked by the source, at a way picked by the target (so
    /// a jump site keeps several targets);
    /// tier 2 reads it to predict a region's indirect jumps (`Hart::t2_region`). Only a
    /// hint: a predicted target is checked against the actual address every time.
    pub(super) jump_log: [u64; JUMP_LOG_SIZE],
    /// Programs queued with the host's `submit` hook: `(ticket, head block)`, ticket 0
    /// for a free slot. Emptied when the cache is flushed.
    pub(super) t2_pending: [(u64, u32); super::tier2::T2_PENDING],
    /// The blocks of each pending program's region (0: none), slot by slot with
    /// `t2_pending`.
    pub(super) t2_pending_blocks: [[u32; super::ebpf::MAX_REGION]; super::tier2::T2_PENDING],
    /// The last ticket given to a queued program (tickets are never reused).
    pub(super) t2_ticket: u64,
    /// The 2 MiB ranges in which page walks found 2 MiB leaves since the last full TLB
    /// flush, one bit per range hashed by [`mega_bit`] (a set bit may stand for another
    /// range too): a one-page `sfence.vma` elsewhere needs to drop only its own page
    /// (mmu.rs `tlb_flush_page`).
    pub(super) tlb_mega: [u64; MEGA_WORDS],
}

/// Words of [`Hart::tlb_mega`].
pub(super) const MEGA_WORDS: usize = 256;

/// The bit of [`Hart::tlb_mega`] for the 2 MiB range of virtual address `va`: the
/// range's number in its half of the address space (bit 63), modulo 8192, and the half.
/// A Linux guest's kernel maps its linear map and image with 2 MiB leaves and its
/// fixmap and vmalloc space with 4 KiB ones, which land on other bits (the linear map
/// of a 4 GiB guest takes 2048 of the half's 8192).
#[inline(always)]
pub(super) fn mega_bit(va: u64) -> usize {
    ((va >> 21) as usize & 8191) | ((va >> 63) as usize) << 13
}

impl Hart {
    /// Initialises a hart in place at `this`: zeroes the memory, attaches guest RAM and
    /// the translation-cache arena, and resets it (M-mode, pc = `ram.base()`).
    ///
    /// # Safety
    /// `this` must be valid for writes of `size_of::<Hart>()` bytes and suitably
    /// aligned, and not be used by anything else while the returned reference lives.
    pub unsafe fn init_in_place<'a>(this: *mut Hart, ram: GuestRam, arena: TcArena, hartid: u64) -> &'a mut Hart {
        // SAFETY: the caller guarantees `this` is valid and aligned; every field of
        // `Hart` is valid when zeroed (integers, arrays of integers, raw pointers).
        let h = unsafe {
            ptr::write_bytes(this, 0, 1);
            &mut *this
        };
        h.ram = ram;
        // (`TlbEntry`'s invariant: an empty entry points at RAM's first page.)
        for e in h.tlb.iter_mut().flatten().chain(h.tlb_fetch.iter_mut()) {
            e.host = ram.host_addr(0);
        }
        h.tc = Tc::new(arena, ram.len());
        h.csr.mhartid = hartid;
        h.reset();
        h
    }

    /// Architectural reset: M-mode, pc = RAM base, registers and CSRs cleared, caches
    /// flushed. Statistics are kept.
    pub fn reset(&mut self) {
        self.x = [0; 256];
        self.f = [0; 32];
        self.pc = self.ram.base();
        self.prv = prv::M;
        self.exit_req = false;
        self.resv_valid = false;
        self.insns_at_reset = self.stats.insns;
        self.csr.reset();
        self.tc_flush();
        self.tlb_clear_all();
        self.tlb_flush();
    }

    /// The guest RAM this hart uses.
    pub fn ram(&self) -> &GuestRam {
        &self.ram
    }

    /// Program counter.
    pub fn pc(&self) -> u64 {
        self.pc
    }
    /// Sets the program counter (bit 0 is cleared).
    pub fn set_pc(&mut self, pc: u64) {
        self.pc = pc & !1;
    }
    /// Integer register `i` (x0..x31); 0 for out-of-range indices.
    pub fn xreg(&self, i: usize) -> u64 {
        if i < 32 {
            self.x[i]
        } else {
            0
        }
    }
    /// Sets integer register `i` (writes to x0 and out-of-range indices are ignored).
    pub fn set_xreg(&mut self, i: usize, v: u64) {
        if (1..32).contains(&i) {
            self.x[i] = v;
        }
    }
    /// Floating-point register `i` as raw bits; 0 for out-of-range indices.
    pub fn freg(&self, i: usize) -> u64 {
        self.f.get(i).copied().unwrap_or(0)
    }
    /// Sets floating-point register `i` (raw bits).
    pub fn set_freg(&mut self, i: usize, v: u64) {
        if let Some(r) = self.f.get_mut(i) {
            *r = v;
        }
    }
    /// Current privilege level ([`prv`]).
    pub fn privilege(&self) -> u8 {
        self.prv
    }
    /// Sets the privilege level (invalid values select M).
    pub fn set_privilege(&mut self, p: u8) {
        let p = if p == prv::U || p == prv::S { p } else { prv::M };
        if p != self.prv {
            self.prv = p;
            self.tlb_update_keys();
        }
    }
    /// Reads CSR `num` as M-mode software would (no side effects on the guest apart
    /// from those of reading); `None` if the CSR does not exist.
    pub fn csr_read(&mut self, bus: &mut dyn Bus, num: u16) -> Option<u64> {
        csr::read_any(self, bus, num)
    }
    /// Writes CSR `num` as M-mode software would (WARL rules apply); false if the CSR
    /// does not exist or is read-only.
    pub fn csr_write(&mut self, num: u16, val: u64) -> bool {
        csr::write_any(self, num, val)
    }

    /// Raises (`level` true) or lowers the interrupt lines in `mask` (any of
    /// [`csr::MIP_MSIP`], [`csr::MIP_MTIP`], [`csr::MIP_MEIP`], [`csr::MIP_SEIP`]; other
    /// bits are ignored). The hart takes a pending enabled interrupt at the next block
    /// boundary of [`run`](Hart::run).
    pub fn set_irq(&mut self, mask: u64, level: bool) {
        let mask = mask & csr::MIP_EXT_MASK;
        if level {
            self.csr.mip_ext |= mask;
        } else {
            self.csr.mip_ext &= !mask;
        }
    }

    /// The effective `mip` value.
    pub fn mip(&self) -> u64 {
        self.csr.mip | self.csr.mip_ext
    }

    /// True if an interrupt is pending and enabled in `mie` (whatever the global
    /// enables): the condition that ends a WFI.
    pub fn wfi_wakeup(&self) -> bool {
        self.mip() & self.csr.mie != 0
    }

    /// Drops every translated block. The hart sees its own writes into translated code
    /// when they happen, but not the host's: a host that writes guest RAM behind the
    /// hart's back (DMA, loading an image into a hart that already ran) must call this
    /// or [`invalidate_code_range`](Hart::invalidate_code_range) before the hart runs
    /// again; `fence.i` in the guest does not re-read memory.
    pub fn invalidate_code(&mut self) {
        self.tc_flush();
    }

    /// Drops the translated blocks of the RAM pages that guest-physical
    /// `[paddr, paddr + len)` overlaps: a host whose device wrote that range calls
    /// this. Returns whether any translated code was dropped.
    pub fn invalidate_code_range(&mut self, paddr: u64, len: u64) -> bool {
        if len == 0 {
            return false;
        }
        let base = self.ram.base();
        let ram_end = self.ram.len() as u64;
        let start = paddr.wrapping_sub(base);
        // Clip the range to RAM (offsets relative to the RAM base).
        let (lo, hi) = if paddr < base {
            (0, len.saturating_sub(base - paddr))
        } else {
            (start, start.saturating_add(len))
        };
        let hi = hi.min(ram_end);
        if lo >= hi {
            return false;
        }
        let (first, last) = (lo >> 12, (hi - 1) >> 12);
        let mut any = false;
        for p in first..=last {
            any |= self.invalidate_code_page(p);
        }
        any
    }

    /// Gives the hart a flag the host sets to stop it: `run` looks at it before every
    /// block it reaches other than through a chain (and chains end within the run's
    /// budget), so a stop does not wait for the end of the run.
    ///
    /// # Safety
    /// `flag` must be null or stay valid for as long as the hart may run.
    pub unsafe fn set_stop_flag(&mut self, flag: *const core::sync::atomic::AtomicBool) {
        self.host_stop = flag;
    }

    #[inline(always)]
    fn host_stop_requested(&self) -> bool {
        // SAFETY: `set_stop_flag`'s contract keeps a non-null flag valid.
        !self.host_stop.is_null() && unsafe { (*self.host_stop).load(core::sync::atomic::Ordering::Relaxed) }
    }

    /// The bus asked to stop: the run loop returns [`Exit::Stop`] at the next block
    /// transition. The chain limit drops to 0 with it, so that tier-2 code, which
    /// checks only the limit between blocks, sees the request too.
    #[inline]
    pub(super) fn request_exit(&mut self) {
        self.exit_req = true;
        self.chain_insn_limit = 0;
    }

    /// Whether a block that left through a chain exit may go on to its successor:
    /// budget left in this `run` and no stop request.
    #[inline(always)]
    pub(super) fn may_chain(&self) -> bool {
        self.stats.insns < self.chain_insn_limit && !self.exit_req
    }

    /// Runs guest code until about `budget` instructions have retired (a block in
    /// progress is finished, so it may overshoot by up to one block; taken traps count
    /// as one step each so a trap loop still ends) or an event ends the run.
    ///
    /// Blocks that leave through a chain slot with a chained successor run back to
    /// back in the inner loop, which only checks the budget and a stop request: nothing
    /// else can change there (interrupt lines only change between runs; `mip`, `mie`,
    /// `mstatus` and the privilege only through CSR instructions, traps and xRET, which
    /// end their block with a non-chain exit; those on `fflags`, `frm` and `fcsr`, which
    /// stay inside blocks, change only FS in `mstatus`), so pending interrupts are only
    /// looked at after those exits.
    pub fn run(&mut self, bus: &mut dyn Bus, budget: u64) -> Exit {
        use super::exit::ExitKind;
        let start_insns = self.stats.insns;
        let start_traps = self.stats.traps;
        // Previous block and the chain slot it left through, for direct chaining.
        let mut prev: u32 = 0;
        let mut prev_slot: usize = 0;
        // The block that left through an indirect jump, for the jump log (tier 2).
        let mut jumped_from: u32 = 0;
        let mut check_irq = true;
        loop {
            let steps = self.stats.insns.wrapping_sub(start_insns).wrapping_add(self.stats.traps.wrapping_sub(start_traps));
            if steps >= budget {
                return Exit::Budget;
            }
            if self.exit_req || self.host_stop_requested() {
                self.exit_req = false;
                return Exit::Stop;
            }
            if check_irq {
                check_irq = false;
                if self.mip() & self.csr.mie != 0 {
                    if let Some(cause) = self.pending_interrupt() {
                        self.stats.interrupts += 1;
                        self.take_trap(cause, 0);
                        prev = 0;
                        jumped_from = 0;
                        check_irq = true;
                        continue;
                    }
                }
            }
            let gen = self.tc_gen;
            let chained = if prev != 0 { self.tc.chain(prev, prev_slot) } else { 0 };
            let mut tb = if chained != 0 {
                self.stats.chained = self.stats.chained.wrapping_add(1);
                chained
            } else {
                match self.find_tb(bus) {
                    Ok(tb) => {
                        if prev != 0 && self.tc_gen == gen {
                            self.tc.try_chain(prev, prev_slot, tb);
                        }
                        if jumped_from != 0 {
                            self.log_jump(jumped_from, tb);
                            jumped_from = 0;
                        }
                        tb
                    }
                    Err(()) => {
                        let (c, t) = (self.exc_cause, self.exc_tval);
                        self.take_trap(c, t);
                        prev = 0;
                        jumped_from = 0;
                        check_irq = true;
                        continue;
                    }
                }
            };
            // Run `tb` and the blocks its chains lead to.
            let room = budget - steps;
            let fast_start = self.stats.insns;
            // This loop, the executor's chain exits and tier-2 loops (ebpf.rs) go on
            // while `stats.insns` is below this.
            self.chain_insn_limit = fast_start.saturating_add(room);
            loop {
                let kind = self.exec_tb(bus, tb);
                // The block that ended: `tb` or one its chains led to (exec_tb follows
                // them too). It may have been killed while it ran, by a page-table A/D
                // update into its page: then its chain slots are cut, and a chain later
                // set on it is harmless, since nothing reaches a killed block. The
                // arena is never flushed while a block runs.
                let last = self.cur_tb;
                if let Some(slot) = kind.chain_slot() {
                    prev = last;
                    prev_slot = slot;
                    if !self.may_chain() {
                        break;
                    }
                    let next = self.tc.chain(last, prev_slot);
                    if next == 0 {
                        break;
                    }
                    self.stats.chained = self.stats.chained.wrapping_add(1);
                    tb = next;
                    continue;
                }
                prev = 0;
                match kind {
                    ExitKind::Wfi if !self.wfi_wakeup() => return Exit::Wfi,
                    ExitKind::Jump => {
                        if self.t2_on {
                            jumped_from = last;
                        }
                    }
                    _ => check_irq = true,
                }
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pages_jump_cache_entries_lie_in_its_set() {
        // (What a one-page sfence.vma empties, mmu.rs `tlb_flush_page`.)
        for page in [0u64, 0x3000, 0x7000, 0x1f000, 0x3f000, 0x7ff000, 0x4000_1000, 0xffff_ffc0_8765_4000] {
            let set = jc_set(page);
            assert!(set.end <= JC_SIZE && set.len() == JC_WAYS);
            for off in (0..4096).step_by(2) {
                assert!(set.contains(&jc_index(page + off)), "pc {:#x}", page + off);
            }
        }
    }

    #[test]
    fn tlb_invalid_tag_never_matches() {
        for size in [1u64, 2, 4, 8] {
            for va in [0u64, 0x800, 0xfff, 0x10, u64::MAX] {
                for p in [prv::U, prv::S, prv::M] {
                    for extra in [0u64, 1 << 5, 1 << 6, 31 << 7] {
                        let key = (u64::from(p) << 3) | extra;
                        assert_ne!((va & (!0xfff | (size - 1))) | key, TLB_INVALID);
                    }
                }
            }
        }
    }
}
