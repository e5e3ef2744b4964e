//! The translation cache: an arena of translated blocks (TBs) handed in by the host,
//! the hash table that finds them by physical pc + privilege, direct chaining, and
//! the translator that fills them.
//!
//! Arena layout (in 64-bit words): `[0]` unused (TB index 0 means "none"), then the
//! code-page bitmap (one bit per 4 KiB page of guest RAM), then the page-bucket heads
//! (lists of the TBs of the RAM pages `p` with `p % buckets == i`), then TBs allocated
//! linearly. A TB is a header of [`HDR_WORDS`] words ([`TbHeader`]) followed by its
//! micro-ops (two words each). When the arena is full everything is flushed at once.
//!
//! A 32-bit instruction that straddles a page boundary gets a TB of its own (the block
//! before it ends at the boundary), marked straddling ([`TbMeta::straddle`]), with two
//! more words after its op: the RAM offset its second half was fetched from and that
//! halfword. It is cached like any TB (hash, jump cache, its first page's bucket), but
//! every lookup that finds it translates the second virtual page again (a fetch-TLB
//! hit, usually) and compares the offset and the halfword; on a mismatch it is dropped
//! and translated again. So neither a new mapping of the second page nor a write into
//! it can run stale code, without linking the TB to the second page. Nothing chains
//! into such a TB (a chain would skip the check).
//!
//! Every TB belongs to one RAM page (a straddling one to its first page), so code is
//! invalidated per page: a write into a page whose bit is set in the code-page bitmap
//! (a store by the hart, an AMO, a page-table A/D update, or a device write the host
//! reports with [`Hart::invalidate_code_range`]) kills the TBs of that page only
//! (unlinked from the hash table and their bucket, their virtual pc made odd so that
//! the jump cache never matches them, their chains cut) and clears the page's bit.
//! Chains only link TBs of the same physical page, so no live TB ever chains into a
//! dead one. Because every write into translated code is seen when it happens,
//! `fence.i` has nothing left to drop.

use core::mem::{offset_of, size_of};
use core::ptr;
use core::sync::atomic::{fence, AtomicU64, Ordering};

use super::bus::Bus;
use super::decode::{decode_at, ends_block, own_block, Op, Uop, X_SINK};
use super::hart::{jc_index, Hart, HASH_SIZE, JUMP_LOG_SIZE};

/// Maximum guest instructions per TB.
pub(super) const MAX_TB_INSNS: usize = 128;
const _: () = assert!(MAX_TB_INSNS < 256, "Uop::idx is a u8, also for the `End` op");
/// Header words of a TB ([`TbHeader`]).
pub(super) const HDR_WORDS: usize = 9;
/// Extra words of a straddling TB after its op: RAM offset of the second half, and
/// the second halfword.
const STRADDLE_WORDS: usize = 2;
const UOP_WORDS: usize = 2;
/// Most targets of one indirect jump a region takes from the jump log.
const MAX_JUMP_TARGETS: usize = 12;
/// Entries of one set of the jump log (`Hart::log_jump`).
const JUMP_LOG_WAYS: usize = 16;
/// A block joins a region through a direct exit if tier 1 ran it at least 1/this of
/// the threshold times.
const REGION_HEAT: u64 = 8;
/// The same for a block in another page than the head's.
const FOREIGN_HEAT: u64 = 2;
/// The prediction site of return landings (`Hart::t2_region`): any indirect jump.
pub(super) const ANY_SITE: usize = usize::MAX;

/// The header of a translated block: the first [`HDR_WORDS`] words of the TB in the
/// arena, one `u64` each, at these word offsets from the TB's index (fixed: asserted
/// below):
///
/// | word | field | contents |
/// |---|---|---|
/// | 0 | `vpc` | virtual pc of the first instruction; [`DEAD_VPC`] once the TB is killed |
/// | 1 | `ppc` | physical pc of the first instruction |
/// | 2 | `meta` | [`TbMeta`]: privilege, instruction count, size in bytes, flags |
/// | 3 | `chains` | [`TbPair`]: the TB chained to exit slot 0 (low half) and slot 1 (high half); 0: none |
/// | 4 | `hash_links` | [`TbPair`]: next TB of the hash chain (low; 0: none) and previous one (high; 0: this TB is the head), so a TB leaves its chain in constant time |
/// | 5 | `bucket_next` | next TB of its page bucket's list (0: none) |
/// | 6 | `t2_entry` | tier 2: the host's callable entry of the block's compiled code (0: none) |
/// | 7 | `t2_handle` | tier 2: the host's handle of that code, for releasing it |
/// | 8 | `hot` | tier 2: tier-1 executions so far (`u64::MAX`: not to be compiled) |
///
/// The arena is only accessed a word at a time (bounds-checked, [`Tc`]'s accessors by
/// field); a whole header is written once, when its block is translated
/// ([`Tc::write_header`]).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub(super) struct TbHeader {
    vpc: u64,
    ppc: u64,
    meta: TbMeta,
    chains: TbPair,
    hash_links: TbPair,
    bucket_next: u64,
    t2_entry: u64,
    t2_handle: u64,
    hot: u64,
}

// Arena word offsets of the header fields.
const H_VPC: usize = offset_of!(TbHeader, vpc) / 8;
const H_PPC: usize = offset_of!(TbHeader, ppc) / 8;
const H_META: usize = offset_of!(TbHeader, meta) / 8;
const H_CHAINS: usize = offset_of!(TbHeader, chains) / 8;
const H_HASH_LINKS: usize = offset_of!(TbHeader, hash_links) / 8;
const H_BUCKET_NEXT: usize = offset_of!(TbHeader, bucket_next) / 8;
const H_T2_ENTRY: usize = offset_of!(TbHeader, t2_entry) / 8;
const H_T2_HANDLE: usize = offset_of!(TbHeader, t2_handle) / 8;
const H_HOT: usize = offset_of!(TbHeader, hot) / 8;
// The layout is fixed: every field a whole word, at the offsets documented above.
const _: () = {
    assert!(size_of::<TbHeader>() == HDR_WORDS * 8);
    assert!(size_of::<TbMeta>() == 8 && size_of::<TbPair>() == 8);
    assert!(H_VPC == 0 && H_PPC == 1 && H_META == 2 && H_CHAINS == 3 && H_HASH_LINKS == 4);
    assert!(H_BUCKET_NEXT == 5 && H_T2_ENTRY == 6 && H_T2_HANDLE == 7 && H_HOT == 8);
};

/// Word 2 of a [`TbHeader`]: bits 0-7 the privilege the block was translated for,
/// bits 8-23 its instruction count, bits 24-39 its size in bytes of guest code, bit
/// 40 set for a single instruction that straddles into the next page; the other bits
/// are 0.
#[repr(transparent)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct TbMeta(u64);

const META_NINSNS_SHIFT: u32 = 8;
const META_SIZE_SHIFT: u32 = 24;
const META_STRADDLE: u64 = 1 << 40;
// Instruction counts and sizes (at most a page) fit their 16 bits.
const _: () = assert!(MAX_TB_INSNS <= 0xffff && 4096 <= 0xffff);

impl TbMeta {
    /// The meta word of a block translated at privilege `prv`: `ninsns` instructions,
    /// `size` bytes (both below 2^16), straddling a page end if `straddle`.
    #[inline]
    fn new(prv: u8, ninsns: usize, size: u64, straddle: bool) -> TbMeta {
        let mut w = u64::from(prv) | ((ninsns as u64 & 0xffff) << META_NINSNS_SHIFT) | ((size & 0xffff) << META_SIZE_SHIFT);
        if straddle {
            w |= META_STRADDLE;
        }
        TbMeta(w)
    }

    /// The privilege the block was translated for.
    #[inline(always)]
    fn prv(self) -> u8 {
        self.0 as u8
    }

    /// The block's guest instructions (its micro-ops before the `End`).
    #[inline(always)]
    fn ninsns(self) -> usize {
        ((self.0 >> META_NINSNS_SHIFT) & 0xffff) as usize
    }

    /// Bytes of guest code.
    #[inline(always)]
    fn size(self) -> u64 {
        (self.0 >> META_SIZE_SHIFT) & 0xffff
    }

    /// A single instruction straddling a page boundary (two more words follow its
    /// micro-ops, see the module documentation).
    #[inline(always)]
    fn straddle(self) -> bool {
        self.0 & META_STRADDLE != 0
    }

    /// Words the TB takes in the arena: header, micro-ops with their `End`, straddle
    /// words.
    #[inline]
    fn tb_words(self) -> usize {
        let extra = if self.straddle() { STRADDLE_WORDS } else { 0 };
        HDR_WORDS + (self.ninsns() + 1) * UOP_WORDS + extra
    }
}

/// Words 3 and 4 of a [`TbHeader`]: two TB indices (0: none), slot 0 in the low 32 bits
/// and slot 1 in the high 32 bits (chains: the two exit slots; hash links: next and
/// previous).
#[repr(transparent)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct TbPair(u64);

impl TbPair {
    /// Neither slot set.
    const NONE: TbPair = TbPair(0);

    /// The TB in slot `slot` (0 or 1; higher values wrap).
    #[inline(always)]
    fn get(self, slot: usize) -> u32 {
        (self.0 >> (32 * (slot & 1))) as u32
    }

    /// This pair with slot `slot` (0 or 1; higher values wrap) set to `tb`.
    #[inline]
    fn with(self, slot: usize, tb: u32) -> TbPair {
        let sh = 32 * (slot & 1);
        TbPair((self.0 & !(0xffff_ffff << sh)) | (u64::from(tb) << sh))
    }
}

/// Hash-link slots ([`TbPair`]): the next TB of the chain, the previous one.
const LINK_NEXT: usize = 0;
const LINK_PREV: usize = 1;
/// Virtual pc of a killed TB: odd, so it never equals a pc.
const DEAD_VPC: u64 = u64::MAX;
/// Most page buckets (a power of two): one per page of up to 512 MiB of RAM, so that
/// invalidating a page walks only its own TBs.
const MAX_PAGE_BUCKETS: usize = 1 << 17;
/// TBs of other pages an invalidation may pass over in a shared bucket (RAM larger
/// than the buckets cover) before it flushes the whole cache instead: a guest could
/// otherwise make every store into code walk a long list.
const MAX_BUCKET_SKIP: usize = 64;
/// A TB: header, micro-ops, the `End` micro-op, straddle words.
const TB_MAX_WORDS: usize = HDR_WORDS + UOP_WORDS * (MAX_TB_INSNS + 1) + STRADDLE_WORDS;

/// The micro-ops of a TB whose header is out of the arena's bounds (never written by
/// the translator): an empty block.
pub(super) static END_UOP: Uop = Uop { op: Op::End, rd: 0, rs1: 0, rs2: 0, idx: 0, len: 0, pc_off: 0, imm: 0 };

/// Smallest default arena size: 16 MiB.
pub const DEFAULT_ARENA_BYTES: usize = 16 << 20;
/// Largest default arena size: 128 MiB.
pub const DEFAULT_ARENA_MAX_BYTES: usize = 128 << 20;

/// The arena size hosts use for a guest of `ram_bytes` unless told otherwise: a quarter
/// of its RAM, at least [`DEFAULT_ARENA_BYTES`] and at most [`DEFAULT_ARENA_MAX_BYTES`]
/// (a multiple of 8). A Debian guest of 512 MiB filled 16 MiB every 50-125 s of its
/// benchmarks (2026-12-07); each flush drops every translation and tier-2 program, which
/// kemu.ko then frees and compiles again at a cost of seconds in a TCG VM. With an
/// eighth (64 MiB) `make bench`'s guest still filled it once in its run of every
/// workload (547,000 blocks translated, 33,700 regions compiled); with a quarter it did
/// not (417,000 and 30,800; gcc 4% faster, 2026-12-07).
pub const fn default_arena_bytes(ram_bytes: u64) -> usize {
    let quarter = (ram_bytes / 4) & !7;
    if quarter < DEFAULT_ARENA_BYTES as u64 {
        DEFAULT_ARENA_BYTES
    } else if quarter > DEFAULT_ARENA_MAX_BYTES as u64 {
        DEFAULT_ARENA_MAX_BYTES
    } else {
        quarter as usize
    }
}

/// Memory handed to a hart for its translation cache.
#[derive(Clone, Copy, Debug)]
pub struct TcArena {
    ptr: *mut u64,
    words: usize,
}

impl TcArena {
    /// Describes `words` 64-bit words at `ptr` as a translation-cache arena.
    ///
    /// # Safety
    /// `ptr` must be 8-byte aligned and valid for reads and writes of `words * 8` bytes
    /// for as long as a hart uses the arena, and nothing else may access that memory
    /// meanwhile. Its contents need not be initialised to anything in particular.
    pub unsafe fn new(ptr: *mut u64, words: usize) -> TcArena {
        TcArena { ptr, words }
    }
}

/// Translation-cache bookkeeping (lives in the hart; the data lives in the arena).
#[derive(Clone, Copy, Debug)]
#[repr(C)]
pub(super) struct Tc {
    arena: TcArena,
    bitmap_words: usize,
    /// Arena index of the first page-bucket head.
    buckets: usize,
    /// Number of page buckets (a power of two).
    nbuckets: usize,
    first: usize,
    next: usize,
    usable: bool,
}

/// A view of a hart's code-page bitmap for another thread (the host's DMA thread): which
/// RAM pages hold translated code. A page the hart starts translating is marked before
/// its code is read (with a full fence); so a writer that writes guest RAM, then issues a
/// full fence, then finds no mark on the pages it wrote, knows no translation of them can
/// hold the old contents (see [`Hart::code_pages`]).
///
/// # Invariants
/// `bitmap` points at `words` atomic words inside the hart's translation-cache arena.
#[derive(Clone, Copy, Debug)]
pub struct CodePages {
    bitmap: *const AtomicU64,
    words: usize,
    ram_base: u64,
}

// SAFETY: the view only reads atomics, which any thread may do.
unsafe impl Send for CodePages {}
// SAFETY: as for `Send`.
unsafe impl Sync for CodePages {}

impl CodePages {
    /// An empty view: no page holds code.
    pub const NONE: CodePages = CodePages { bitmap: ptr::null(), words: 0, ram_base: 0 };

    /// Whether any page of guest-physical `[paddr, paddr + len)` may hold translated
    /// code (ranges outside RAM: no).
    ///
    /// # Safety
    /// The arena of the hart the view came from must still be alive.
    pub unsafe fn may_hold_code(&self, paddr: u64, len: u64) -> bool {
        if len == 0 || self.words == 0 {
            return false;
        }
        let start = paddr.wrapping_sub(self.ram_base);
        let pages = (self.words as u64).saturating_mul(64);
        let first = start >> 12;
        let last = (start.saturating_add(len - 1) >> 12).min(pages.saturating_sub(1));
        if paddr < self.ram_base || first >= pages {
            return false;
        }
        (first..=last).any(|p| {
            // SAFETY: `p / 64 < words` (p < pages), inside the bitmap (type invariant),
            // alive per the caller.
            let w = unsafe { (*self.bitmap.add((p / 64) as usize)).load(Ordering::Relaxed) };
            w >> (p % 64) & 1 != 0
        })
    }
}

/// Decoded TB header.
#[derive(Clone, Copy, Debug)]
pub(super) struct TbInfo {
    pub(super) vpc: u64,
    pub(super) ninsns: usize,
    /// Bytes of guest code.
    pub(super) size: u64,
    pub(super) uops: *const Uop,
    /// A single instruction straddling a page boundary ([`TbMeta::straddle`]).
    pub(super) straddle: bool,
}

impl Tc {
    pub(super) fn new(arena: TcArena, ram_len: usize) -> Tc {
        let pages = ram_len.div_ceil(4096);
        let bitmap_words = pages.div_ceil(64);
        let buckets = 1 + bitmap_words;
        // One bucket per page up to MAX_PAGE_BUCKETS, and at most 1/16 of the arena.
        let mut nbuckets = pages.clamp(1, MAX_PAGE_BUCKETS).next_power_of_two();
        while nbuckets > 1 && nbuckets * 16 > arena.words {
            nbuckets /= 2;
        }
        let first = buckets + nbuckets;
        // Room for at least a few full-size TBs, else the hart cannot run code.
        let usable = !arena.ptr.is_null() && arena.words >= first + 4 * TB_MAX_WORDS;
        Tc { arena, bitmap_words, buckets, nbuckets, first, next: first, usable }
    }

    #[inline(always)]
    fn rd(&self, i: usize) -> u64 {
        if i < self.arena.words {
            // SAFETY: `i` is in bounds of the arena, which `TcArena::new`'s contract
            // makes valid for reads by this hart alone.
            unsafe { ptr::read(self.arena.ptr.add(i)) }
        } else {
            0
        }
    }

    #[inline(always)]
    fn wr(&mut self, i: usize, v: u64) {
        if i < self.arena.words {
            // SAFETY: as in `rd`, for writes.
            unsafe { ptr::write(self.arena.ptr.add(i), v) }
        }
    }

    /// Bitmap word `w` (below `bitmap_words`), as an atomic: the host's DMA thread reads
    /// the bitmap while this hart runs ([`CodePages`]).
    #[inline(always)]
    fn bitmap_word(&self, w: usize) -> &AtomicU64 {
        // SAFETY: `1 + w` is inside the arena (`w < bitmap_words`, and the arena holds
        // the bitmap after word 0, `Tc::new`), which `TcArena::new`'s contract keeps
        // valid and 8-byte aligned for the arena's life; all accesses to bitmap words go
        // through atomics.
        unsafe { AtomicU64::from_ptr(self.arena.ptr.add(1 + w)) }
    }

    /// Whether RAM page `page` (index from the RAM base) holds translated code.
    #[inline]
    pub(super) fn is_code_page(&self, page: u64) -> bool {
        let Ok(p) = usize::try_from(page) else { return false };
        if p / 64 >= self.bitmap_words {
            return false;
        }
        self.bitmap_word(p / 64).load(Ordering::Relaxed) >> (p % 64) & 1 != 0
    }

    /// Marks RAM page `page` as holding code; true if it was not marked before. The mark
    /// is ordered before every later read of guest RAM (a full fence), so a DMA writer
    /// that checks the bitmap after writing ([`CodePages`]) either sees the mark or wrote
    /// before the code was read.
    fn mark_code_page(&mut self, page: u64) -> bool {
        let Ok(p) = usize::try_from(page) else { return false };
        if p / 64 >= self.bitmap_words {
            return false;
        }
        let old = self.bitmap_word(p / 64).fetch_or(1 << (p % 64), Ordering::Relaxed);
        fence(Ordering::SeqCst);
        old >> (p % 64) & 1 == 0
    }

    /// Clears RAM page `page`'s code bit.
    fn unmark_code_page(&mut self, page: usize) {
        if page / 64 < self.bitmap_words {
            self.bitmap_word(page / 64).fetch_and(!(1 << (page % 64)), Ordering::Relaxed);
        }
    }

    /// The code-page bitmap, for readers on other threads.
    pub(super) fn code_pages(&self, ram_base: u64) -> CodePages {
        let words = if self.usable { self.bitmap_words } else { 0 };
        CodePages { bitmap: self.arena.ptr.wrapping_add(1).cast::<AtomicU64>(), words, ram_base }
    }

    /// Arena index of the head of the bucket of RAM page `page`.
    fn bucket_of(&self, page: usize) -> usize {
        self.buckets + (page & (self.nbuckets - 1))
    }

    fn clear(&mut self) {
        for w in 0..self.bitmap_words {
            self.bitmap_word(w).store(0, Ordering::Relaxed);
        }
        for i in 0..self.nbuckets {
            self.wr(self.buckets + i, 0);
        }
        self.next = self.first;
    }

    pub(super) fn info(&self, tb: u32) -> TbInfo {
        let t = tb as usize;
        let meta = self.meta(tb);
        let ninsns = meta.ninsns();
        // The micro-ops and their `End` lie in the arena (always true of a TB written
        // by `translate_tb`; checked so that a bad header cannot lead outside it).
        let inside = t + HDR_WORDS + (ninsns + 1) * UOP_WORDS <= self.arena.words;
        TbInfo {
            vpc: self.vpc_of(tb),
            ninsns: if inside { ninsns } else { 0 },
            size: meta.size(),
            uops: if inside {
                // SAFETY: only forms a pointer, to micro-ops inside the arena (checked).
                unsafe { self.arena.ptr.add(t + HDR_WORDS).cast::<Uop>().cast_const() }
            } else {
                &END_UOP
            },
            straddle: meta.straddle(),
        }
    }

    /// Block `tb` and its micro-ops (none for an index that cannot be a TB).
    pub(super) fn block(&self, tb: u32) -> (TbInfo, &[Uop]) {
        let info = self.info(tb);
        // SAFETY: `info` checked that its `ninsns` micro-ops lie in the arena (or points
        // at `END_UOP` with `ninsns` 0), which holds valid micro-ops written by the
        // translator and is only written through `&mut self`, which this borrow rules
        // out for the slice's life.
        let uops = unsafe { core::slice::from_raw_parts(info.uops, info.ninsns) };
        (info, uops)
    }

    /// What running TB `tb` needs: its virtual pc and its first micro-op, or `None`
    /// for an index that cannot be a TB (never the case for the indices the hash
    /// table and the chains hold).
    #[inline(always)]
    pub(super) fn entry(&self, tb: u32) -> Option<(u64, *const Uop)> {
        let t = tb as usize;
        // `translate_tb` starts a TB only where TB_MAX_WORDS words are left, enough
        // for the header and the most micro-ops (with their `End`) a TB has.
        if t.checked_add(TB_MAX_WORDS)? > self.arena.words {
            return None;
        }
        // SAFETY: `t + H_VPC` and `t + HDR_WORDS` are inside the arena (checked);
        // `TcArena::new`'s contract makes it valid for reads by this hart alone.
        unsafe {
            let vpc = ptr::read(self.arena.ptr.add(t + H_VPC));
            Some((vpc, self.arena.ptr.add(t + HDR_WORDS).cast::<Uop>().cast_const()))
        }
    }

    /// Writes the whole header of the TB at arena index `t`.
    fn write_header(&mut self, t: usize, h: &TbHeader) {
        self.wr(t + H_VPC, h.vpc);
        self.wr(t + H_PPC, h.ppc);
        self.wr(t + H_META, h.meta.0);
        self.wr(t + H_CHAINS, h.chains.0);
        self.wr(t + H_HASH_LINKS, h.hash_links.0);
        self.wr(t + H_BUCKET_NEXT, h.bucket_next);
        self.wr(t + H_T2_ENTRY, h.t2_entry);
        self.wr(t + H_T2_HANDLE, h.t2_handle);
        self.wr(t + H_HOT, h.hot);
    }

    /// The meta word of `tb`.
    #[inline(always)]
    fn meta(&self, tb: u32) -> TbMeta {
        TbMeta(self.rd(tb as usize + H_META))
    }

    /// The privilege `tb` was translated for.
    #[inline(always)]
    fn prv_of(&self, tb: u32) -> u8 {
        self.meta(tb).prv()
    }

    /// Whether `tb` is a single instruction straddling a page boundary.
    #[inline(always)]
    fn is_straddle(&self, tb: u32) -> bool {
        self.meta(tb).straddle()
    }

    /// The chain slots of `tb`.
    #[inline(always)]
    fn chains(&self, tb: u32) -> TbPair {
        TbPair(self.rd(tb as usize + H_CHAINS))
    }

    fn set_chains(&mut self, tb: u32, c: TbPair) {
        self.wr(tb as usize + H_CHAINS, c.0);
    }

    /// The chained successor of `tb` through exit `slot` (0 or 1), or 0.
    #[inline]
    pub(super) fn chain(&self, tb: u32, slot: usize) -> u32 {
        self.chains(tb).get(slot)
    }

    /// The hash-chain links of `tb` ([`LINK_NEXT`], [`LINK_PREV`]).
    #[inline(always)]
    fn hash_links(&self, tb: u32) -> TbPair {
        TbPair(self.rd(tb as usize + H_HASH_LINKS))
    }

    fn set_hash_links(&mut self, tb: u32, l: TbPair) {
        self.wr(tb as usize + H_HASH_LINKS, l.0);
    }

    /// The virtual pc of `tb`.
    #[inline(always)]
    pub(super) fn vpc_of(&self, tb: u32) -> u64 {
        self.rd(tb as usize + H_VPC)
    }

    fn set_vpc(&mut self, tb: u32, vpc: u64) {
        self.wr(tb as usize + H_VPC, vpc);
    }

    /// The physical pc of `tb`.
    #[inline(always)]
    pub(super) fn ppc_of(&self, tb: u32) -> u64 {
        self.rd(tb as usize + H_PPC)
    }

    /// The tier-2 entry of `tb` (0: none).
    #[inline(always)]
    pub(super) fn t2_entry(&self, tb: u32) -> u64 {
        self.rd(tb as usize + H_T2_ENTRY)
    }

    /// Tier-1 executions of `tb` counted so far (`u64::MAX`: never to be compiled).
    pub(super) fn hot(&self, tb: u32) -> u64 {
        self.rd(tb as usize + H_HOT)
    }

    /// Counts one tier-1 execution of `tb`; returns the new count (`u64::MAX` stays).
    #[inline(always)]
    pub(super) fn bump_hot(&mut self, tb: u32) -> u64 {
        let t = tb as usize + H_HOT;
        let n = self.rd(t).saturating_add(1);
        self.wr(t, n);
        n
    }

    /// Whether `tb` was killed (its page was written or its second page changed).
    pub(super) fn is_dead(&self, tb: u32) -> bool {
        self.vpc_of(tb) == DEAD_VPC
    }

    /// Sets the tier-1 execution count of `tb`.
    pub(super) fn set_hot(&mut self, tb: u32, n: u64) {
        self.wr(tb as usize + H_HOT, n);
    }

    /// Records the tier-2 code of `tb` (entry 0: never compile it).
    pub(super) fn set_t2(&mut self, tb: u32, entry: u64, handle: u64) {
        self.wr(tb as usize + H_T2_ENTRY, entry);
        self.wr(tb as usize + H_T2_HANDLE, handle);
        if entry == 0 {
            self.wr(tb as usize + H_HOT, u64::MAX);
        }
    }

    /// Takes the tier-2 handle of `tb` (0: none), leaving the block without tier-2
    /// code.
    pub(super) fn take_t2(&mut self, tb: u32) -> u64 {
        let h = self.rd(tb as usize + H_T2_HANDLE);
        self.wr(tb as usize + H_T2_ENTRY, 0);
        self.wr(tb as usize + H_T2_HANDLE, 0);
        h
    }

    /// Every TB in the arena (live or killed), in allocation order. Reads only the
    /// headers' sizes, which nothing rewrites while a TB exists.
    pub(super) fn tbs(&self) -> impl Iterator<Item = u32> + '_ {
        let mut t = self.first;
        core::iter::from_fn(move || {
            if t >= self.next || t + HDR_WORDS > self.arena.words {
                return None;
            }
            let tb = t as u32;
            t += self.meta(tb).tb_words();
            Some(tb)
        })
    }

    /// Chains `prev`'s exit `slot` to `next` if both are in the same virtual page (so
    /// the chain stays valid whatever the page tables do: the TBs of one page are only
    /// reached through a translation of that page) and the same physical page (so
    /// invalidating a page kills every chain into its TBs), and `next` does not
    /// straddle a page boundary (its second page is checked at every lookup).
    pub(super) fn try_chain(&mut self, prev: u32, slot: usize, next: u32) {
        if self.is_straddle(next) {
            return;
        }
        if (self.vpc_of(prev) ^ self.vpc_of(next)) >> 12 != 0 || (self.ppc_of(prev) ^ self.ppc_of(next)) >> 12 != 0 {
            return;
        }
        let c = self.chains(prev).with(slot, next);
        self.set_chains(prev, c);
    }
}

/// Whether block `uops` ends in an indirect jump: a return, a `switch`, a call through
/// a pointer or a PLT entry (`jalr t1, t3`): the jumps whose targets the jump log
/// predicts.
fn ends_in_indirect_jump(uops: &[Uop]) -> bool {
    matches!(uops.last(), Some(u) if u.op == Op::Jalr)
}

/// Whether block `uops` ends in an indirect jump without a link (a return, a
/// `switch`): the jumps that may go to a call's return landing.
fn ends_in_return(uops: &[Uop]) -> bool {
    matches!(uops.last(), Some(u) if u.op == Op::Jalr && u.rd == X_SINK)
}

fn hash(ppc: u64, prv: u8) -> usize {
    ((ppc >> 1) ^ (ppc >> 13) ^ u64::from(prv)) as usize & (HASH_SIZE - 1)
}

impl Hart {
    /// The code-page bitmap as another thread may read it: a host whose DMA writes guest
    /// RAM while this hart runs asks it whether a write needs the hart to drop code
    /// before the guest can see the write completed. Valid while the hart's arena lives.
    pub fn code_pages(&self) -> CodePages {
        self.tc.code_pages(self.ram.base())
    }

    /// Kills the TBs of RAM page `page` (offset from the RAM base >> 12) if it holds
    /// translated code; returns whether it did. The caller must end the running block
    /// if the page may be its own (its remaining micro-ops are stale).
    pub(super) fn invalidate_code_page(&mut self, page: u64) -> bool {
        if !self.tc.is_code_page(page) {
            return false;
        }
        // is_code_page checked that the page index fits the bitmap (and usize).
        let page = page as usize;
        self.stats.code_page_flushes += 1;
        self.tc_gen = self.tc_gen.wrapping_add(1);
        let base = self.ram.base();
        let mut link = self.tc.bucket_of(page);
        let mut t = self.tc.rd(link) as usize;
        // Every TB is in one bucket list once, and the lists only shrink here, so the
        // walk ends; the bound only guards against a corrupted arena.
        let mut left = self.tc.arena.words;
        let mut skipped = 0;
        while t != 0 && left > 0 {
            left -= 1;
            self.stats.code_walk = self.stats.code_walk.wrapping_add(1);
            let next = self.tc.rd(t + H_BUCKET_NEXT) as usize;
            let ppc = self.tc.ppc_of(t as u32);
            if (ppc.wrapping_sub(base) >> 12) as usize == page {
                self.tc.wr(link, next as u64);
                self.kill_tb(t as u32, ppc);
                self.tc.wr(t + H_BUCKET_NEXT, 0);
            } else {
                skipped += 1;
                if skipped > MAX_BUCKET_SKIP {
                    // Bounded work per invalidation: drop everything (the TBs passed
                    // over so far cost a translation each to make again). A block may
                    // be running: its micro-ops stay in place until the next
                    // translation, and cutting its chains makes the run loop look up
                    // whatever comes next (no other TB is reachable after a flush).
                    self.tc_flush();
                    if self.cur_tb != 0 {
                        self.tc.set_chains(self.cur_tb, TbPair::NONE);
                    }
                    return true;
                }
                link = t + H_BUCKET_NEXT;
            }
            t = next;
        }
        self.tc.unmark_code_page(page);
        true
    }

    /// Removes `tb` (at physical pc `ppc`) from its hash chain and makes it unreachable
    /// (it stays in its page-bucket list: the caller unlinks it from there if needed).
    fn kill_tb(&mut self, tb: u32, ppc: u64) {
        let links = self.tc.hash_links(tb);
        let (next, prev) = (links.get(LINK_NEXT), links.get(LINK_PREV));
        if prev == 0 {
            let h = hash(ppc, self.tc.prv_of(tb));
            if self.hash[h] == tb {
                self.hash[h] = next;
            }
        } else {
            let l = self.tc.hash_links(prev).with(LINK_NEXT, next);
            self.tc.set_hash_links(prev, l);
        }
        if next != 0 {
            let l = self.tc.hash_links(next).with(LINK_PREV, prev);
            self.tc.set_hash_links(next, l);
        }
        self.t2_release(tb);
        // Out of the jump cache too, where only its own pc's entry can name it: an
        // entry of the current epoch names a live block (programs rely on it, ebpf.rs
        // `Emitter::guard`).
        if let Some(e) = self.jc.get_mut(jc_index(self.tc.vpc_of(tb))) {
            if *e as u32 == tb {
                *e = 0;
            }
        }
        self.tc.set_vpc(tb, DEAD_VPC);
        self.tc.set_chains(tb, TbPair::NONE);
        self.tc.set_hash_links(tb, TbPair::NONE);
    }

    /// Drops all translated blocks.
    pub(super) fn tc_flush(&mut self) {
        self.t2_release_all();
        // Programs still being compiled were made of blocks that are gone.
        self.t2_pending = [(0, 0); super::tier2::T2_PENDING];
        for blocks in self.t2_pending_blocks.iter_mut() {
            blocks.fill(0);
        }
        self.stats.tc_flushes += 1;
        self.tc_gen = self.tc_gen.wrapping_add(1);
        self.tc.clear();
        // In place (256 KiB each: never through a temporary on the stack).
        self.hash.fill(0);
        self.jc.fill(0);
    }

    /// The block the jump cache names for virtual pc `pc`, if the entry is of the
    /// current epoch (an older one, from before a TLB flush, is empty) and the block
    /// lives at `pc`, translated for privilege `prv` (0: none). [`Hart::find_tb`] runs
    /// it (a straddling one after checking its second page).
    #[inline(always)]
    fn jc_block(&self, pc: u64, prv: u8) -> u32 {
        let e = self.jc.get(jc_index(pc)).copied().unwrap_or(0);
        let t = if e >> 32 == u64::from(self.jc_epoch) { e as u32 } else { 0 };
        if t != 0 && self.tc.vpc_of(t) == pc && self.tc.prv_of(t) == prv {
            t
        } else {
            0
        }
    }

    /// Finds (or translates) the block at the current pc. On failure the fetch
    /// exception is pending in `exc_cause`/`exc_tval`.
    pub(super) fn find_tb(&mut self, bus: &mut dyn Bus) -> Result<u32, ()> {
        let pc = self.pc;
        let jci = jc_index(pc);
        let t = self.jc_block(pc, self.prv);
        if t != 0 {
            if !self.tc.is_straddle(t) {
                self.stats.jc_hits = self.stats.jc_hits.wrapping_add(1);
                return Ok(t);
            }
            if self.straddle_valid(t, pc)? {
                self.stats.jc_hits = self.stats.jc_hits.wrapping_add(1);
                return Ok(t);
            }
        }
        self.stats.jc_misses = self.stats.jc_misses.wrapping_add(1);
        let off = self.fetch_offset(pc)?;
        let ppc = self.ram.base().wrapping_add(off);
        let h = hash(ppc, self.prv);
        self.stats.tb_lookups = self.stats.tb_lookups.wrapping_add(1);
        loop {
            let t = self.hash_find(ppc, pc, self.prv);
            if t == 0 {
                break;
            }
            if !self.tc.is_straddle(t) || self.straddle_valid(t, pc)? {
                self.stats.tb_lookup_hits = self.stats.tb_lookup_hits.wrapping_add(1);
                self.jc[jci] = self.jc_entry(t);
                return Ok(t);
            }
            // Dropped by `straddle_valid`: look again (this key has at most one live
            // TB, so the second search finds none).
        }
        let t0 = bus.host_ns();
        let r = self.translate_tb(pc, off);
        self.stats.translate_ns = self.stats.translate_ns.wrapping_add(bus.host_ns().wrapping_sub(t0));
        let t = r?;
        let head = self.hash[h];
        self.tc.set_hash_links(t, TbPair::NONE.with(LINK_NEXT, head));
        if head != 0 {
            let l = self.tc.hash_links(head).with(LINK_PREV, t);
            self.tc.set_hash_links(head, l);
        }
        self.hash[h] = t;
        self.jc[jci] = self.jc_entry(t);
        Ok(t)
    }

    /// The live block at virtual `vpc` that the run loop would find whenever block
    /// `tb` runs: in `tb`'s virtual and physical page, translated for its privilege,
    /// not straddling a page boundary (0: none such is translated).
    fn peer_at(&self, tb: u32, vpc: u64) -> u32 {
        let (vpc0, ppc0, prv) = (self.tc.vpc_of(tb), self.tc.ppc_of(tb), self.tc.prv_of(tb));
        if (vpc ^ vpc0) >> 12 != 0 || vpc & 1 != 0 {
            return 0;
        }
        let t = self.hash_find((ppc0 & !0xfff) | (vpc & 0xfff), vpc, prv);
        if t != 0 && self.tc.is_straddle(t) {
            0
        } else {
            t
        }
    }

    /// The block at virtual `vpc` that a region holding block `site` (of head `head`)
    /// may go on to inside its program: in `site`'s page, its peer ([`Hart::peer_at`]);
    /// in another page, the block the jump cache names for `vpc` now, if it was
    /// translated for the head's privilege and does not straddle (0: none). A program
    /// checks the jump cache again whenever it enters that page (ebpf.rs
    /// `Emitter::guard`), so the choice made here is only a guess.
    fn region_peer(&self, head: u32, site: u32, vpc: u64) -> u32 {
        if (vpc ^ self.tc.vpc_of(site)) >> 12 == 0 {
            return self.peer_at(site, vpc);
        }
        let t = self.jc_block(vpc, self.tc.prv_of(head));
        if t == 0 || vpc & 1 != 0 || self.tc.is_straddle(t) {
            return 0;
        }
        t
    }

    /// The live TB at physical `ppc`, virtual `pc`, privilege `prv` in the hash table
    /// (0: none; a key has at most one live TB).
    #[inline(always)]
    fn hash_find(&self, ppc: u64, pc: u64, prv: u8) -> u32 {
        let mut t = self.hash[hash(ppc, prv)];
        while t != 0 {
            if self.tc.ppc_of(t) == ppc && self.tc.vpc_of(t) == pc && self.tc.prv_of(t) == prv {
                return t;
            }
            t = self.tc.hash_links(t).get(LINK_NEXT);
        }
        0
    }

    /// Picks the region of tier-2 head `tb` (ebpf.rs `lower_region`): `tb` first, then,
    /// breadth first, the translated blocks its blocks' exits lead to, in any page, as
    /// far as [`Hart::region_peer`] finds them: direct exits (branch targets,
    /// fall-throughs, jump targets), the blocks after calls (return landings) and, for
    /// an indirect jump (a return, a `switch`, a call through a pointer or a PLT
    /// entry), the targets the jump log saw it take; less what [`Hart::region_prune`]
    /// drops. At most `tbs.len()` blocks; returns how many it put in `tbs`, and how many
    /// predictions it put in `predicted`: (site, target) pairs of region indices, an
    /// indirect jump in block `site` comparing its target with block `target`'s address
    /// ([`ANY_SITE`] for return landings: every jump without a link compares with
    /// them). A straddling head stays alone.
    pub(super) fn t2_region(&self, tb: u32, tbs: &mut [u32], predicted: &mut [(usize, usize)]) -> (usize, usize) {
        let Some(first) = tbs.first_mut() else { return (0, 0) };
        *first = tb;
        if self.tc.is_straddle(tb) {
            return (1, 0);
        }
        let (mut count, mut npred) = (1, 0);
        // Region edges, for `region_prune`: the blocks each block's exits may lead to.
        let mut succ = [0u64; 64];
        let mut k = 0;
        while k < count {
            let site = tbs[k];
            let (info, uops) = self.tc.block(site);
            // (address, prediction site of a jump there)
            let mut next = [(0u64, None); 2];
            let n = match uops.last() {
                Some(u) => {
                    let here = info.vpc.wrapping_add(u64::from(u.pc_off));
                    let after = here.wrapping_add(u64::from(u.len));
                    let call = u.rd != X_SINK;
                    match u.op {
                        Op::Beq | Op::Bne | Op::Blt | Op::Bge | Op::Bltu | Op::Bgeu => {
                            next = [(here.wrapping_add(u.imm), None), (after, None)];
                            2
                        }
                        Op::Jal => {
                            next = [(here.wrapping_add(u.imm), None), (after, Some(ANY_SITE))];
                            1 + usize::from(call)
                        }
                        Op::Jalr if call => {
                            next[0] = (after, Some(ANY_SITE));
                            1
                        }
                        Op::Jalr => 0,
                        _ => {
                            next[0] = (info.vpc.wrapping_add(info.size), None);
                            1
                        }
                    }
                }
                None => 0,
            };
            let mut add = |t: u32, pred: Option<usize>, tbs: &mut [u32], count: &mut usize| {
                // Blocks tier 1 runs faster than tier 2 would (mostly generic-helper ops,
                // such as CSRs) stay out: an exit to them returns to the dispatcher.
                if !super::ebpf::worth_lowering(self.tc.block(t).1) {
                    return;
                }
                // A block reached only through a prediction that has no room left
                // would never be jumped to.
                if pred.is_some() && npred >= predicted.len() && !tbs[..*count].contains(&t) {
                    return;
                }
                let Some(i) = Self::region_add(tbs, count, t) else { return };
                if let Some(m) = succ.get_mut(k) {
                    *m |= 1u64.checked_shl(i as u32).unwrap_or(0);
                }
                if let Some(site) = pred {
                    if npred < predicted.len() && !predicted[..npred].contains(&(site, i)) {
                        predicted[npred] = (site, i);
                        npred += 1;
                    }
                }
            };
            for &(vpc, pred) in &next[..n] {
                let t = self.region_peer(tb, site, vpc);
                // Only blocks that ran often enough to matter: cold paths (error
                // handling, a loop's rare exit) cost compile time and code size.
                let heat = if (vpc ^ self.tc.vpc_of(tb)) >> 12 == 0 { REGION_HEAT } else { FOREIGN_HEAT };
                if t != 0 && self.tc.hot(t).saturating_mul(heat) >= u64::from(self.t2.threshold) {
                    add(t, pred, tbs, &mut count);
                }
            }
            if ends_in_indirect_jump(uops) {
                let mut found = 0;
                for &e in self.jump_log.get(Self::jump_log_set(site)).unwrap_or(&[]) {
                    if e >> 32 != u64::from(site) || found == MAX_JUMP_TARGETS {
                        continue;
                    }
                    let t = e as u32;
                    // Still a block the run loop would find at its address.
                    if t != 0 && self.region_peer(tb, site, self.tc.vpc_of(t)) == t {
                        found += 1;
                        add(t, Some(k), tbs, &mut count);
                    }
                }
            }
            k += 1;
        }
        self.region_prune(tbs, count, predicted, npred, &succ)
    }

    /// Drops from region `tbs[..count]` (predictions `predicted[..npred]`, edges
    /// `succ`) the blocks of other pages than the head's from which no path inside the
    /// region leads back to the head's page or into a loop: each would save one exit
    /// at most per program run, for its compile time. Kept: loops across a page
    /// boundary or in another page, calls into another page and their returns.
    /// Returns the new counts.
    fn region_prune(&self, tbs: &mut [u32], count: usize, predicted: &mut [(usize, usize)], npred: usize, succ: &[u64; 64]) -> (usize, usize) {
        if count > 64 {
            return (count, npred);
        }
        let head_page = self.tc.vpc_of(tbs[0]) >> 12;
        // A return (an indirect jump without a link) may reach every return landing.
        let landings = predicted[..npred].iter().filter(|p| p.0 == ANY_SITE).fold(0u64, |m, p| m | 1u64.checked_shl(p.1 as u32).unwrap_or(0));
        let returns = |k: usize| ends_in_return(self.tc.block(tbs[k]).1);
        // reach[k]: the blocks a path of one or more region edges leads to from k.
        let mut reach = [0u64; 64];
        for k in 0..count {
            reach[k] = succ[k] | if returns(k) { landings } else { 0 };
        }
        loop {
            let mut changed = false;
            for k in 0..count {
                let mut r = reach[k];
                for (j, &rj) in reach[..count].iter().enumerate() {
                    if r & 1 << j != 0 {
                        r |= rj;
                    }
                }
                changed |= r != reach[k];
                reach[k] = r;
            }
            if !changed {
                break;
            }
        }
        // Kept: the head's page, and every block that leads to it or to a loop.
        let (mut home, mut goal) = (0u64, 0u64);
        for k in 0..count {
            if self.tc.vpc_of(tbs[k]) >> 12 == head_page {
                home |= 1 << k;
            }
            if reach[k] & 1 << k != 0 {
                goal |= 1 << k;
            }
        }
        goal |= home;
        let mut keep = home;
        for (k, &r) in reach[..count].iter().enumerate() {
            if r & goal != 0 {
                keep |= 1 << k;
            }
        }
        // Compact, renumbering the predictions.
        let mut index = [usize::MAX; 64];
        let mut n = 0;
        for k in 0..count {
            if keep & 1 << k != 0 {
                index[k] = n;
                tbs[n] = tbs[k];
                n += 1;
            }
        }
        let renumber = |i: usize| if i == ANY_SITE { Some(ANY_SITE) } else { index.get(i).copied().filter(|&j| j != usize::MAX) };
        let mut m = 0;
        for p in 0..npred {
            let (site, target) = predicted[p];
            if let (Some(site), Some(target)) = (renumber(site), renumber(target)) {
                predicted[m] = (site, target);
                m += 1;
            }
        }
        (n, m)
    }

    /// The index of `t` in `tbs[..*count]`, added at the end if missing and there is
    /// room.
    fn region_add(tbs: &mut [u32], count: &mut usize, t: u32) -> Option<usize> {
        if let Some(i) = tbs[..*count].iter().position(|&x| x == t) {
            return Some(i);
        }
        let slot = tbs.get_mut(*count)?;
        *slot = t;
        *count += 1;
        Some(*count - 1)
    }

    /// The jump log's entries for jumps from block `from`: one set of
    /// [`JUMP_LOG_WAYS`], picked by a hash of `from` (a region reads a site's targets
    /// from its set, not from the whole log).
    fn jump_log_set(from: u32) -> core::ops::Range<usize> {
        const _: () = assert!(JUMP_LOG_SIZE == 1 << 12 && JUMP_LOG_WAYS == 16);
        // The top 8 bits of a multiplicative hash.
        let set = (u64::from(from).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 56) as usize;
        set * JUMP_LOG_WAYS..(set + 1) * JUMP_LOG_WAYS
    }

    /// Notes an indirect jump from block `from` to block `to` in the jump log: in
    /// `from`'s set, at a way picked by `to` (so a jump site keeps several targets).
    pub(super) fn log_jump(&mut self, from: u32, to: u32) {
        let key = u64::from(from) << 32 | u64::from(to);
        let way = (u64::from(to).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 60) as usize;
        if let Some(e) = self.jump_log.get_mut(Self::jump_log_set(from).start + way) {
            *e = key;
        }
    }

    fn jc_entry(&self, tb: u32) -> u64 {
        u64::from(tb) | (u64::from(self.jc_epoch) << 32)
    }

    /// Whether straddling TB `tb` (live, at virtual `pc`) still matches memory: the
    /// second page translates to the same RAM page and holds the same halfword. If not,
    /// drops the TB (out of the hash table, never matched again) and returns false. A
    /// fault fetching the second page is returned as `Err` (pending exception).
    fn straddle_valid(&mut self, tb: u32, pc: u64) -> Result<bool, ()> {
        // After the straddling op and its `End`.
        let x = tb as usize + HDR_WORDS + 2 * UOP_WORDS;
        let next_page = (pc | 0xfff).wrapping_add(1);
        let off2 = self.fetch_offset(next_page)?;
        // The fetch-TLB fill may have updated an A bit in a page of code: check that
        // the TB is still live.
        let live = self.tc.vpc_of(tb) == pc;
        let same = off2 == self.tc.rd(x) && self.ram.read(off2, 2) == Some(self.tc.rd(x + 1));
        if live && same {
            return Ok(true);
        }
        if live {
            self.stats.straddle_drops = self.stats.straddle_drops.wrapping_add(1);
            self.tc_gen = self.tc_gen.wrapping_add(1);
            let ppc = self.tc.ppc_of(tb);
            self.kill_tb(tb, ppc);
        }
        Ok(false)
    }

    /// Translates the block at virtual `pc` (RAM offset `off`).
    fn translate_tb(&mut self, pc: u64, off: u64) -> Result<u32, ()> {
        if !self.tc.usable {
            // No arena: behave like a machine whose fetches all fail.
            self.exc_cause = super::csr::cause::FETCH_ACCESS;
            self.exc_tval = pc;
            return Err(());
        }
        if self.tc.next + TB_MAX_WORDS > self.tc.arena.words {
            self.tc_flush();
        }
        // The page is marked as code before its code is read (see `CodePages`).
        let page = off >> 12;
        if self.tc.mark_code_page(page) {
            self.tlb_flush_store();
        }
        let page_left = 4096 - (pc & 0xfff);
        let t = self.tc.next;
        let mut pos: u64 = 0;
        let mut n = 0usize;
        // RAM offset and halfword of the second half of a straddling instruction.
        let mut straddle = None;
        loop {
            if pos + 2 > page_left {
                break;
            }
            let lo = self.ram.read(off + pos, 2).unwrap_or(0) as u32;
            let raw = if lo & 3 != 3 {
                lo
            } else if pos + 4 <= page_left {
                self.ram.read(off + pos, 4).unwrap_or(0) as u32
            } else {
                // A 32-bit instruction across a page boundary: alone in its TB.
                if n > 0 {
                    break;
                }
                let off2 = self.fetch_offset(pc.wrapping_add(page_left))?;
                let hi = self.ram.read(off2, 2).unwrap_or(0);
                straddle = Some((off2, hi));
                lo | ((hi as u32) << 16)
            };
            let mut u = decode_at(raw, pc.wrapping_add(pos));
            if own_block(&u) && n > 0 {
                break;
            }
            u.pc_off = pos as u16;
            u.idx = n as u8; // n < MAX_TB_INSNS < 256
            let w = t + HDR_WORDS + n * UOP_WORDS;
            let [a, b] = uop_words(&u);
            self.tc.wr(w, a);
            self.tc.wr(w + 1, b);
            n += 1;
            pos += u64::from(u.len);
            if straddle.is_some() || ends_block(&u) || n == MAX_TB_INSNS {
                break;
            }
        }
        let end_op = Uop { op: Op::End, idx: n as u8, pc_off: pos as u16, ..Uop::default() };
        let [a, b] = uop_words(&end_op);
        self.tc.wr(t + HDR_WORDS + n * UOP_WORDS, a);
        self.tc.wr(t + HDR_WORDS + n * UOP_WORDS + 1, b);
        let meta = TbMeta::new(self.prv, n, pos, straddle.is_some());
        if let Some((off2, hi)) = straddle {
            let x = t + HDR_WORDS + (n + 1) * UOP_WORDS;
            self.tc.wr(x, off2);
            self.tc.wr(x + 1, hi);
            self.stats.tbs_straddle = self.stats.tbs_straddle.wrapping_add(1);
        }
        // The page fits the bitmap (else `off` would not be a RAM offset); the TB goes
        // first in its bucket's list.
        let b = self.tc.bucket_of(page as usize);
        let header = TbHeader {
            vpc: pc,
            ppc: self.ram.base().wrapping_add(off),
            meta,
            chains: TbPair::NONE,
            hash_links: TbPair::NONE,
            bucket_next: self.tc.rd(b),
            t2_entry: 0,
            t2_handle: 0,
            hot: 0,
        };
        self.tc.write_header(t, &header);
        self.stats.tbs_translated += 1;
        self.tc.next = t + meta.tb_words();
        self.tc.wr(b, t as u64);
        Ok(t as u32)
    }
}

/// The two arena words of a micro-op, laid out exactly as `Uop` (repr(C), 16 bytes).
fn uop_words(u: &Uop) -> [u64; 2] {
    let a = u64::from(u.op as u8)
        | (u64::from(u.rd) << 8)
        | (u64::from(u.rs1) << 16)
        | (u64::from(u.rs2) << 24)
        | (u64::from(u.idx) << 32)
        | (u64::from(u.len) << 40)
        | (u64::from(u.pc_off) << 48);
    let a = if cfg!(target_endian = "little") { a } else { a.swap_bytes() };
    [a, u.imm]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uop_word_layout_matches_struct() {
        let u = Uop { op: Op::Addi, rd: 1, rs1: 2, rs2: 3, idx: 4, len: 4, pc_off: 0x1234, imm: 0xdead_beef };
        let w = uop_words(&u);
        // SAFETY: `[u64; 2]` and `Uop` have the same size and `w` holds a valid `Op`.
        let back: Uop = unsafe { core::mem::transmute(w) };
        assert_eq!(back, u);
    }

    #[test]
    fn tb_meta_fields() {
        let m = TbMeta::new(3, 128, 4096, true);
        assert_eq!(m.0, 3 | 128 << 8 | 4096 << 24 | 1 << 40);
        assert_eq!((m.prv(), m.ninsns(), m.size(), m.straddle()), (3, 128, 4096, true));
        assert_eq!(m.tb_words(), HDR_WORDS + 129 * UOP_WORDS + STRADDLE_WORDS);
        let m = TbMeta::new(0, 1, 2, false);
        assert_eq!((m.prv(), m.ninsns(), m.size(), m.straddle()), (0, 1, 2, false));
        assert_eq!(m.tb_words(), HDR_WORDS + 2 * UOP_WORDS);
    }

    #[test]
    fn tb_pair_slots() {
        let p = TbPair::NONE.with(0, 7).with(1, 0xffff_fff0);
        assert_eq!(p.0, 7 | 0xffff_fff0 << 32);
        assert_eq!((p.get(0), p.get(1)), (7, 0xffff_fff0));
        let p = p.with(0, 9);
        assert_eq!((p.get(LINK_NEXT), p.get(LINK_PREV)), (9, 0xffff_fff0));
        assert_eq!(p.with(1, 0).0, 9);
    }
}
