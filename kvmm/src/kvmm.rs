//! Module root of the machine loop (shared by the `kvmm` crate and kemu.ko).
//!
//! | module   | what                                                                  |
//! |----------|-----------------------------------------------------------------------|
//! | `host`   | what a host provides: locks, wait queues, clocks ([`VmHost`])         |
//! | `ids`    | which id a new VM gets (kemu.ko's registry)                           |
//! | `state`  | the state under the machine lock and the worker lock, the signals     |
//! | `ring`   | the console's byte rings over host-allocated storage                  |
//! | `ranges` | the log of guest-RAM ranges DMA wrote                                 |
//! | `bus`    | ktranslator's `Bus` for one hart: a device access, then its actions   |
//! | `vcpu`   | the vCPU loop: slices, lines, WFI, HTIF, how a run ends               |
//! | `worker` | the DMA worker: which queue is served when, and stopping it           |
//!
//! ```text
//!  vCPU thread (run_vcpu)                     DMA thread (run_worker)
//!  ──────────────────────                     ───────────────────────
//!  hart.run(bus, SLICE)                       wait on Queue::Worker for kicks
//!    MMIO → machine lock → Actions            worker lock: one job per kicked slot
//!      kicks ───────────── notify ──────────▶   (job and completion under the
//!      resets: take the worker lock once         machine lock, I/O without it)
//!  sync: drop code DMA wrote ◀── range log ──  before a completion: wait on
//!        interrupt lines, console retry        Queue::DmaSynced if it wrote code
//!  WFI: wait on Queue::Vcpu until a deadline
//! ```
//!
//! Lock order: worker, then machine, then console output. The vCPU never takes the
//! worker lock while it holds the machine lock.
//!
//! [`VmHost`]: host::VmHost

pub mod bus;
pub mod host;
pub mod ids;
pub mod ranges;
pub mod ring;
pub mod state;
pub mod vcpu;
pub mod worker;

/// Instructions per slice of `Hart::run`: between slices the vCPU updates interrupt
/// lines, publishes counters and looks at the host's requests.
pub const SLICE: u64 = 100_000;
/// Longest WFI sleep (nanoseconds): the host's own sources wake it earlier.
pub const WFI_MAX_SLEEP_NS: u64 = 100_000_000;
/// Bytes the DMA worker moves per storage call (its scratch buffer).
pub const SCRATCH: usize = 256 * 1024;
/// Guest-RAM ranges DMA wrote that are kept apart before they are merged into one.
pub const DMA_RANGES: usize = 64;
/// Disk slots (virtio-mmio slots).
pub const SLOTS: usize = super::kdevices::memmap::VIRTIO_SLOTS as usize;
/// Bytes of console output and of console input each host keeps (a power of two).
pub const CONSOLE_BUFFER: usize = 64 * 1024;
