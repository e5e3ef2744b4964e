//! The vCPU loop: runs a hart in slices until the guest or the host ends the run.
//!
//! Between slices (and in each round of a WFI sleep) the vCPU drops the translated code
//! DMA wrote over, hands the hart its interrupt lines, retries console output the UART
//! held back, and serves a bare-metal program's HTIF request.

use core::sync::atomic::Ordering;

use super::super::kdevices::host::ConsoleSink;
use super::super::kdevices::sifive_test::MachineEvent;
use super::super::kdevices::vcpu::{self as link, HartLink, Htif, MIP_LINES};
use super::super::ktranslator::hart::{Exit, Hart};
use super::bus::VcpuBus;
use super::host::{Queue, VmHost};
use super::state::MachineState;
use super::{SLICE, WFI_MAX_SLEEP_NS};

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// The host asked it to stop ([`super::host::request_stop`]).
    Stopped,
    /// The guest powered off, asked to reboot or failed (the SiFive test device).
    Machine(MachineEvent),
    /// A bare-metal program ended through HTIF with this code (0: pass).
    HtifExit(u64),
    /// A bare-metal program made an HTIF request no host serves (a proxied syscall):
    /// the run ends as a failure rather than leave the program waiting forever.
    HtifUnsupported(u64),
}

impl End {
    /// The process exit status `kemuctl` reports for it: 0 for power-off, reboot and
    /// HTIF pass; a failure's code, except that codes whose low 8 bits are zero give 1;
    /// 1 for an unsupported HTIF request; 0 for a stop.
    pub fn status(self) -> u8 {
        match self {
            End::Stopped => 0,
            End::Machine(ev) => link::exit_status(ev),
            End::HtifExit(code) => Htif::exit_status(code),
            End::HtifUnsupported(_) => 1,
        }
    }
}

/// A bare-metal program's HTIF words (guest-physical; 0: none).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HtifPorts {
    /// `tohost`: the program's requests.
    pub tohost: u64,
    /// `fromhost`: the host's acknowledgements.
    pub fromhost: u64,
}

/// Runs `hart` (hart 0 of `host`'s machine) until the run ends. `after_slice` runs on
/// this thread after every slice, with no lock held (counters, a JIT's requests).
pub fn run_vcpu<H: VmHost>(host: &H, hart: &mut Hart, htif: HtifPorts, mut after_slice: impl FnMut(&mut Hart)) -> End {
    let ctl = host.control();
    // SAFETY: `ctl` lives in `host`, which outlives this call; the flag is removed below
    // before returning.
    unsafe { hart.set_stop_flag(&ctl.attention) };
    let mut bus = VcpuBus::new(host, 0);
    let end = loop {
        if ctl.stop_requested() {
            break End::Stopped;
        }
        // Whatever asked for attention is served by this sync (a request made after the
        // clear stays set for the next round).
        ctl.attention.store(false, Ordering::Relaxed);
        sync(host, &mut host.machine(), hart, &mut bus.link);
        let exit = hart.run(&mut bus, SLICE);
        after_slice(hart);
        host.flush_console();
        if let Some(end) = poll_htif(host, hart, htif) {
            break end;
        }
        if let Some(ev) = bus.event.take() {
            break End::Machine(ev);
        }
        if exit == Exit::Wfi {
            wfi_sleep(host, hart, &mut bus.link);
        }
    };
    // SAFETY: a null flag is always valid.
    unsafe { hart.set_stop_flag(core::ptr::null()) };
    end
}

/// Hands the hart the interrupt lines the machine drives (lowered ones first).
fn set_lines(hart: &mut Hart, lines: u64) {
    hart.set_irq(MIP_LINES & !lines, false);
    hart.set_irq(MIP_LINES & lines, true);
}

/// Between slices: drops translations of code DMA wrote, updates the interrupt lines,
/// retries console output the UART held back.
fn sync<H: VmHost>(host: &H, m: &mut MachineState<H::Buf>, hart: &mut Hart, link: &mut HartLink) {
    if !m.dma.is_empty() {
        for (a, l) in m.dma.iter() {
            if hart.invalidate_code_range(a, l) {
                m.dma_flushes = m.dma_flushes.saturating_add(1);
            }
        }
        m.dma.clear();
        // The worker may be waiting for this before it completes a request.
        host.notify(Queue::DmaSynced);
    }
    let lines = link.sync_lines(&mut m.machine, host.monotonic_ns(), host.wall_ns());
    set_lines(hart, lines);
    if m.tx_blocked {
        let mut out = host.console_out();
        let before = out.len();
        m.tx_blocked = !m.machine.console_drain(&mut *out as &mut dyn ConsoleSink);
        if out.len() != before {
            host.notify(Queue::ConsoleOut);
        }
    }
}

/// Sleeps after a WFI until an interrupt line rises, the machine's next deadline, a stop
/// request, a DMA completion or console traffic.
fn wfi_sleep<H: VmHost>(host: &H, hart: &mut Hart, link: &mut HartLink) {
    loop {
        host.flush_console();
        let mut g = host.machine();
        sync(host, &mut g, hart, link);
        if hart.wfi_wakeup() || host.control().stop_requested() {
            return;
        }
        let ns = link::wfi_sleep_ns(&g.machine, host.monotonic_ns(), host.wall_ns(), WFI_MAX_SLEEP_NS);
        drop(host.wait(Queue::Vcpu, g, ns));
    }
}

/// Serves a bare-metal program's HTIF request in `tohost`, if it made one: an exit ends
/// the run, a character goes to the console (acknowledged in `fromhost`).
fn poll_htif<H: VmHost>(host: &H, hart: &Hart, htif: HtifPorts) -> Option<End> {
    if htif.tohost == 0 {
        return None;
    }
    let mut b = [0u8; 8];
    if !hart.ram().read_bytes(htif.tohost, &mut b) {
        return None;
    }
    let req = Htif::decode(u64::from_le_bytes(b))?;
    hart.ram().write_bytes(htif.tohost, &[0; 8]);
    match req {
        Htif::Exit(code) => Some(End::HtifExit(code)),
        Htif::Putchar(c) => {
            // A full console drops the byte: HTIF has no busy state to show.
            host.console_out().send(&[c]);
            host.notify(Queue::ConsoleOut);
            if htif.fromhost != 0 {
                hart.ram().write_bytes(htif.fromhost, &1u64.to_le_bytes());
            }
            None
        }
        Htif::Unsupported(v) => Some(End::HtifUnsupported(v)),
    }
}
