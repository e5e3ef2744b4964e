//! Module root of the translator (shared by the `ktranslator` crate and kemu.ko).
//!
//! # Design: how guest code runs
//!
//! ```text
//!  host ──run(bus, budget)──▶ Hart::run loop (hart.rs)
//!     │ after a non-chain exit: budget, bus stop request, pending interrupts
//!     ▼
//!  previous block's chain slot ──hit──▶ next TB          (tcache.rs, direct chaining;
//!     │ miss                               chained blocks run back to back, checking
//!     │                                    only the budget and a stop request)
//!  jump cache [virtual pc] ──hit──▶ TB                    (indirect jumps, returns;
//!     │ miss                               epoch-tagged: satp and a full sfence.vma
//!     │                                    bump it; a page's pcs share one set, which
//!     │                                    a one-page sfence.vma empties)
//!  fetch TLB: virtual pc ─▶ RAM offset (mmu.rs) ─▶ hash[physical pc + mode] ─▶ TB
//!     │ miss
//!  translator: fetch from RAM, expand RVC, decode via one instruction table
//!  (decode.rs) into 16-byte micro-ops, up to a branch/jump/system op, a CSR op, the
//!  page end or 128 instructions; stored in the host-provided arena (flushed whole
//!  when full); the page is marked in the code-page bitmap and the TB linked into
//!  the list of its page's bucket. A 32-bit instruction across the page end gets a
//!  cached TB of its own, checked against its second page at every lookup.
//!     ▼
//!  executor (exec.rs): a `match` over the block's micro-ops; loads/stores inline
//!  the TLB hit path (compare + add into guest RAM; TLB entries are tagged with
//!  privilege, SUM, MXR and an epoch, so traps, xRET and SUM toggles flush nothing
//!  and satp writes and a full sfence.vma are an increment; a one-page sfence.vma
//!  drops that page's entries, or its 2 MiB range's after 2 MiB leaves),
//!  the slow path walks Sv39/Sv48 page tables, does MMIO through the Bus trait,
//!  emulates misaligned accesses, and on a store into a code page drops that page's
//!  TBs and ends the block (SMC); since every write into code is seen when it
//!  happens, fence.i drops nothing.
//!  A fault in the middle of a block sets pc and instret from the micro-op's index
//!  and offset, so traps are precise; csr.rs takes traps (medeleg/mideleg) and
//!  implements the CSR table; fpu.rs runs F/D on the integer-only softfloat module.
//!     ▼ (a block run `threshold` times, when the host gave tier-2 hooks)
//!  tier 2 (tier2.rs, ebpf.rs): the block's micro-ops lowered to one eBPF program
//!  (native integer ops, loads/stores with the TLB hit path inline, branches, loops to
//!  the block's own start; one helper runs any other micro-op's tier-1 handler), which
//!  the host JIT-compiles (kemu.ko: the kernel's BPF JIT; kemuctl: its own); the
//!  native entry is called instead of the micro-op loop, and released with the block.
//! ```
//!
//! Guest RAM is only touched through [`ram::GuestRam`] (bounds-checked raw copies);
//! the hart never allocates: the host provides the hart's memory (zeroed or not, see
//! [`hart::Hart::init_in_place`]), guest RAM and the translation-cache arena.

pub mod bpf;
pub mod bus;
pub mod csr;
pub mod decode;
pub mod ebpf;
pub mod exec;
mod exit;
pub mod fpu;
pub mod hart;
pub mod mmu;
pub mod ram;
pub mod t2check;
pub mod tcache;
pub mod tier2;

pub mod isa;
pub mod softfloat;
