//! The CPU-independent half of a host's vCPU loop, shared by `kemuctl run` and kemu.ko:
//! what to do after a guest access, which interrupt lines a hart must see, how long a
//! hart in WFI may sleep, and how a guest's requests to stop map to exit statuses.
//!
//! A host runs a hart in slices and, around them:
//!
//! ```text
//!  vCPU thread                                  host state under the machine lock
//!  ───────────                                  ─────────────────────────────────
//!  hart.run(bus, budget) ── every MMIO access ──▶ Machine::read/write, then
//!     ▲                                            HartLink::after_access → Actions:
//!     │  bus.stop_requested() = Actions::stop()      kicks → wake the worker
//!     │                                              resets → wait for the worker once
//!     │                                              machine → stop the VM
//!     │                                              console_flush/feed → console
//!  after every slice: HartLink::sync_lines → hart.set_irq(lines)  (MTIP follows time)
//!  Exit::Wfi: sleep until wfi_sleep_ns, or until a worker / console input wakes it
//! ```
//!
//! The hart itself (the CPU crate) is not named here: the host passes its interrupt
//! lines on, so the two crates stay independent.

use super::machine::{Machine, MIP_MEIP, MIP_MSIP, MIP_MTIP, MIP_SEIP};
use super::sifive_test::MachineEvent;

/// The `mip` bits the machine drives into a hart.
pub const MIP_LINES: u64 = MIP_MSIP | MIP_MTIP | MIP_SEIP | MIP_MEIP;

/// What the host has to do after a guest access.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Actions {
    /// Virtio slots whose worker must be woken (bit `n`: slot `n`).
    pub kicks: u8,
    /// Virtio slots the driver reset (bit `n`: slot `n`): before the guest runs on, the
    /// host waits until no request processing that started earlier is still running.
    pub resets: u8,
    /// The guest asked to power off, fail or reboot.
    pub machine: Option<MachineEvent>,
    /// The console sink refused output: write out what it holds, then call
    /// [`Machine::console_drain`].
    pub console_flush: bool,
    /// The UART has room for more input: feed what the host holds.
    pub console_feed: bool,
    /// The interrupt lines differ from those the hart was given: hand them over
    /// ([`HartLink::sync_lines`]) before the guest goes on.
    pub lines_changed: bool,
}

impl Actions {
    /// Whether the hart should end its slice so that the host can act before the guest
    /// executes further (a kick or console input can be served without stopping it).
    pub fn stop(&self) -> bool {
        self.resets != 0 || self.machine.is_some() || self.console_flush || self.lines_changed
    }
}

/// The interrupt lines a host last handed to one hart.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HartLink {
    hart: usize,
    lines: u64,
}

impl HartLink {
    /// The link of hart `hart`, which has no line raised yet.
    pub const fn new(hart: usize) -> Self {
        Self { hart, lines: 0 }
    }

    /// The lines (a subset of [`MIP_LINES`]) last returned by [`HartLink::sync_lines`].
    pub const fn lines(&self) -> u64 {
        self.lines
    }

    /// Collects what the host must do after a guest access at monotonic time `now_ns`:
    /// takes the machine's events and its power-off/reboot request, and compares the
    /// interrupt lines with those the hart has.
    pub fn after_access(&self, m: &mut Machine, now_ns: u64) -> Actions {
        let ev = m.take_events();
        let machine = if ev.machine() { m.take_machine_event() } else { None };
        Actions {
            kicks: ev.kicks(),
            resets: ev.resets(),
            machine,
            console_flush: ev.console_tx_blocked(),
            console_feed: ev.console_rx_room(),
            lines_changed: m.mip(self.hart, now_ns) != self.lines,
        }
    }

    /// Brings the machine up to date at monotonic time `now_ns` and wall time `wall_ns`
    /// (fires a due RTC alarm) and returns the lines the hart must now see: the host
    /// raises these bits of [`MIP_LINES`] and lowers the others.
    pub fn sync_lines(&mut self, m: &mut Machine, now_ns: u64, wall_ns: u64) -> u64 {
        m.poll(wall_ns);
        self.lines = m.mip(self.hart, now_ns) & MIP_LINES;
        self.lines
    }
}

/// How long a hart waiting in WFI at monotonic time `now_ns` (wall time `wall_ns`) may
/// sleep before a device interrupt rises on its own: until the machine's next deadline,
/// at most `max_ns` (also when nothing is due, so the host still looks at its own
/// sources now and then). A timer already due is no deadline: its line is already up,
/// which the host sees in [`HartLink::sync_lines`] before it decides to sleep.
pub fn wfi_sleep_ns(m: &Machine, now_ns: u64, wall_ns: u64, max_ns: u64) -> u64 {
    match m.next_deadline(now_ns, wall_ns) {
        Some(at) => at.saturating_sub(now_ns).min(max_ns),
        None => max_ns,
    }
}

/// The process exit status for the guest's request to stop, as QEMU's `virt` machine:
/// power-off 0, reboot 0 (the host does not restart the guest, like QEMU's
/// `-no-reboot`), failure with `code`: `code`, except that a code whose low 8 bits are
/// zero (including 0 itself) gives 1, so a failure never reads as success.
pub fn exit_status(ev: MachineEvent) -> u8 {
    match ev {
        MachineEvent::PowerOff | MachineEvent::Reboot => 0,
        MachineEvent::Fail(code) => match code as u8 {
            0 => 1,
            c => c,
        },
    }
}

/// A request a bare-metal program made through its HTIF `tohost` word (the Berkeley
/// host-target interface used by riscv-tests: bits 63..56 device, 55..48 command, 47..0
/// payload).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Htif {
    /// Device 0 (syscall proxy), command 0, odd payload `(code << 1) | 1`: the program
    /// ended with `code` (0 is a pass; riscv-tests report the failing test number).
    Exit(u64),
    /// Device 1 (console), command 1: print the byte.
    Putchar(u8),
    /// Anything else (e.g. a proxied syscall, device 0 with an even payload): not
    /// supported; the host acknowledges it and goes on.
    Unsupported(u64),
}

impl Htif {
    /// Decodes a nonzero `tohost` value (0 means "no request").
    pub fn decode(tohost: u64) -> Option<Self> {
        if tohost == 0 {
            return None;
        }
        let device = tohost >> 56;
        let cmd = (tohost >> 48) & 0xff;
        let payload = tohost & ((1 << 48) - 1);
        Some(match (device, cmd) {
            (0, 0) if payload & 1 == 1 => Htif::Exit(payload >> 1),
            (1, 1) => Htif::Putchar(payload as u8),
            _ => Htif::Unsupported(tohost),
        })
    }

    /// The process exit status of an [`Htif::Exit`] code: the code, except that codes
    /// whose low 8 bits are zero give 1 (as [`exit_status`]).
    pub fn exit_status(code: u64) -> u8 {
        match (code, code as u8) {
            (0, _) => 0,
            (_, 0) => 1,
            (_, c) => c,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::memmap::{CLINT_BASE, PLIC_BASE, TEST_BASE, UART_BASE, VIRTIO_BASE};
    use super::super::mmio::{Env, Width};
    use super::super::plic;
    use super::super::testutil::{TestClock, TestConsole};
    use super::super::virtio_blk::BlkConfig;
    use super::super::virtio_mmio::{reg as vreg, VirtioDevice};
    use super::*;

    fn wr(m: &mut Machine, con: &mut TestConsole, addr: u64, w: Width, v: u64) {
        let clock = TestClock::at(0, 0);
        let mut e = Env { clock: &clock, wall: &clock, console: con };
        m.write(&mut e, addr, w, v).unwrap();
    }

    #[test]
    fn htif_encoding() {
        // riscv-tests: RVTEST_PASS writes 1, RVTEST_FAIL writes (TESTNUM << 1) | 1.
        assert_eq!(Htif::decode(0), None);
        assert_eq!(Htif::decode(1), Some(Htif::Exit(0)));
        assert_eq!(Htif::decode((5 << 1) | 1), Some(Htif::Exit(5)));
        // Console putchar: device 1, command 1.
        assert_eq!(Htif::decode((1 << 56) | (1 << 48) | u64::from(b'A')), Some(Htif::Putchar(b'A')));
        // A syscall proxy request (pointer to a magic_mem block: even payload).
        assert_eq!(Htif::decode(0x8000_1000), Some(Htif::Unsupported(0x8000_1000)));
        assert_eq!(Htif::exit_status(0), 0);
        assert_eq!(Htif::exit_status(5), 5);
        assert_eq!(Htif::exit_status(256), 1);
    }

    #[test]
    fn exit_statuses() {
        assert_eq!(exit_status(MachineEvent::PowerOff), 0);
        assert_eq!(exit_status(MachineEvent::Reboot), 0);
        assert_eq!(exit_status(MachineEvent::Fail(3)), 3);
        assert_eq!(exit_status(MachineEvent::Fail(0)), 1);
        assert_eq!(exit_status(MachineEvent::Fail(0x100)), 1);
    }

    #[test]
    fn actions_after_accesses() {
        let mut m = Machine::new(0);
        let mut con = TestConsole::new();
        let mut link = HartLink::new(0);
        // A plain UART byte: nothing to do, no line changes.
        wr(&mut m, &mut con, UART_BASE, Width::B1, u64::from(b'x'));
        let a = link.after_access(&mut m, 0);
        assert_eq!(a, Actions::default());
        assert!(!a.stop());
        // mtimecmp = 0: MTIP rises at once (mtime >= mtimecmp), the hart must learn it.
        wr(&mut m, &mut con, CLINT_BASE + 0x4000, Width::B8, 0);
        let a = link.after_access(&mut m, 0);
        assert!(a.lines_changed && a.stop());
        assert_eq!(link.sync_lines(&mut m, 0, 0), MIP_MTIP);
        assert!(!link.after_access(&mut m, 0).lines_changed);
        // msip: MSIP rises.
        wr(&mut m, &mut con, CLINT_BASE, Width::B4, 1);
        assert!(link.after_access(&mut m, 0).lines_changed);
        assert_eq!(link.sync_lines(&mut m, 0, 0), MIP_MTIP | MIP_MSIP);
        // The test device: a failure with code 7.
        wr(&mut m, &mut con, TEST_BASE, Width::B4, (7 << 16) | 0x3333);
        let a = link.after_access(&mut m, 0);
        assert_eq!(a.machine, Some(MachineEvent::Fail(7)));
        assert!(a.stop());
        // A refused console byte asks for a flush.
        con.room = 0;
        wr(&mut m, &mut con, UART_BASE, Width::B1, u64::from(b'y'));
        let a = link.after_access(&mut m, 0);
        assert!(a.console_flush && a.stop());
    }

    #[test]
    fn virtio_kick_and_reset() {
        let mut m = Machine::new(0);
        let mut con = TestConsole::new();
        let link = HartLink::new(0);
        m.set_virtio(1, Some(VirtioDevice::Block(BlkConfig { capacity: 8, read_only: false, flush: true, blk_size: 512 })));
        let base = VIRTIO_BASE + 0x1000;
        wr(&mut m, &mut con, base + vreg::QUEUE_NOTIFY, Width::B4, 0);
        let a = link.after_access(&mut m, 0);
        assert_eq!(a.kicks, 1 << 1);
        assert!(!a.stop(), "a kick alone lets the guest go on");
        wr(&mut m, &mut con, base + vreg::STATUS, Width::B4, 0);
        let a = link.after_access(&mut m, 0);
        assert_eq!(a.resets, 1 << 1);
        assert!(a.stop());
    }

    #[test]
    fn external_interrupt_lines() {
        let mut m = Machine::new(0);
        let mut con = TestConsole::new();
        let mut link = HartLink::new(0);
        let irq = u64::from(super::super::memmap::UART_IRQ);
        wr(&mut m, &mut con, PLIC_BASE + 4 * irq, Width::B4, 1);
        wr(&mut m, &mut con, PLIC_BASE + plic::ENABLE + plic::ENABLE_STRIDE, Width::B4, 1 << irq);
        wr(&mut m, &mut con, UART_BASE + 1, Width::B1, 1);
        let _ = link.after_access(&mut m, 0);
        assert_eq!(m.console_input(b"a"), 1);
        assert_eq!(link.sync_lines(&mut m, 0, 0), MIP_SEIP);
    }

    #[test]
    fn wfi_sleep() {
        let mut m = Machine::new(0);
        let mut con = TestConsole::new();
        assert_eq!(wfi_sleep_ns(&m, 0, 0, 1_000_000), 1_000_000, "nothing due: the cap");
        // mtimecmp 100 ticks = 10 us at 10 MHz.
        wr(&mut m, &mut con, CLINT_BASE + 0x4000, Width::B8, 100);
        assert_eq!(wfi_sleep_ns(&m, 0, 0, 1_000_000), 10_000);
        assert_eq!(wfi_sleep_ns(&m, 4_000, 0, 1_000_000), 6_000);
        assert_eq!(wfi_sleep_ns(&m, 4_000, 0, 1_000), 1_000);
        assert_eq!(wfi_sleep_ns(&m, 20_000, 0, 1_000_000), 1_000_000, "already due: MTIP is up");
        assert_eq!(m.mip(0, 20_000), MIP_MTIP);
    }
}
