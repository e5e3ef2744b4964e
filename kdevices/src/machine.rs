//! The device side of kemu's `virt` machine: one of each device at its [`memmap`] place,
//! the MMIO dispatcher, the wiring of device interrupt lines into the PLIC, and the
//! `mip` bits the host hands to the CPU.
//!
//! The host keeps one [`Machine`] per VM behind its machine lock and calls:
//! - [`Machine::read`]/[`Machine::write`] for every guest access outside RAM (an error
//!   becomes a load/store access fault);
//! - [`Machine::mip`] after each access and whenever time may have passed (MTIP follows
//!   `mtime`), and [`Machine::next_deadline`] to know how long a WFI may sleep;
//! - [`Machine::take_events`] after each access, to learn what needs the host's action
//!   (virtio kicks and resets, a power-off request, console flow);
//! - [`Machine::virtio_job`]/[`Machine::virtio_complete`] around its worker's `process`
//!   (threading model in [`super::virtio_mmio`]);
//! - [`Machine::console_input`]/[`Machine::console_drain`] for console traffic, and
//!   [`Machine::poll`] when the RTC alarm deadline has passed.
//!
//! Every mutating call recomputes the PLIC inputs from the devices' lines, so `mip` is
//! always current.
//!
//! [`memmap`]: super::memmap

use super::clint::Clint;
use super::host::{ConsoleSink, ConsoleSource};
use super::memmap::{self, Kind, RTC_IRQ, UART_IRQ, VIRTIO_IRQ, VIRTIO_SLOTS};
use super::mmio::{Env, Mmio, MmioError, Width};
use super::plic::Plic;
use super::rtc::GoldfishRtc;
use super::sifive_test::{MachineEvent, SifiveTest};
use super::uart::Uart;
use super::virtio_mmio::{Completion, QueueJob, VirtioDevice, VirtioMmio};

/// Harts of the machine.
pub const HARTS: usize = 1;
/// PLIC contexts: M-mode and S-mode of each hart.
pub const CONTEXTS: usize = 2 * HARTS;
/// Number of virtio-mmio slots.
pub const SLOTS: usize = VIRTIO_SLOTS as usize;

/// `mip.MSIP`: machine software interrupt (CLINT `msip`).
pub const MIP_MSIP: u64 = 1 << 3;
/// `mip.MTIP`: machine timer interrupt (CLINT `mtime >= mtimecmp`).
pub const MIP_MTIP: u64 = 1 << 7;
/// `mip.SEIP`: supervisor external interrupt (PLIC context `2 * hart + 1`).
pub const MIP_SEIP: u64 = 1 << 9;
/// `mip.MEIP`: machine external interrupt (PLIC context `2 * hart`).
pub const MIP_MEIP: u64 = 1 << 11;

/// What happened on the bus that needs the host, accumulated until
/// [`Machine::take_events`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Events(u32);

impl Events {
    const RESET_SHIFT: u32 = 8;
    const MACHINE: u32 = 1 << 16;
    const TX_BLOCKED: u32 = 1 << 17;
    const RX_ROOM: u32 = 1 << 18;

    /// No event.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Virtio slots whose queue the driver notified (bit `n`: slot `n`): the host wakes
    /// their workers.
    pub const fn kicks(self) -> u8 {
        self.0 as u8
    }

    /// Virtio slots the driver reset (bit `n`: slot `n`): the host lets the guest go on
    /// only once no `process` call that started before is still running.
    pub const fn resets(self) -> u8 {
        (self.0 >> Self::RESET_SHIFT) as u8
    }

    /// The guest asked to power off or reboot: see [`Machine::take_machine_event`].
    pub const fn machine(self) -> bool {
        self.0 & Self::MACHINE != 0
    }

    /// The console sink refused output: the UART holds it (and shows a busy transmitter)
    /// until the host calls [`Machine::console_drain`].
    pub const fn console_tx_blocked(self) -> bool {
        self.0 & Self::TX_BLOCKED != 0
    }

    /// The guest read from the UART's receive FIFO: there is room for more input.
    pub const fn console_rx_room(self) -> bool {
        self.0 & Self::RX_ROOM != 0
    }
}

/// The devices of one `virt` machine.
#[derive(Clone, Debug)]
pub struct Machine {
    clint: Clint<HARTS>,
    plic: Plic<CONTEXTS>,
    uart: Uart,
    rtc: GoldfishRtc,
    test: SifiveTest,
    virtio: [VirtioMmio; SLOTS],
    events: u32,
}

impl Machine {
    /// A machine after reset, `mtime` starting from 0 at monotonic time `now_ns`, with
    /// every virtio slot empty. (About 1 KiB: small enough to build on a kernel stack.)
    pub fn new(now_ns: u64) -> Self {
        Self {
            clint: Clint::new(now_ns),
            plic: Plic::new(),
            uart: Uart::new(),
            rtc: GoldfishRtc::new(),
            test: SifiveTest::new(),
            virtio: Default::default(),
            events: 0,
        }
    }

    /// Puts `device` in virtio slot `slot` (or empties it with `None`); the slot's
    /// transport is reset. Returns `false` if there is no such slot.
    pub fn set_virtio(&mut self, slot: usize, device: Option<VirtioDevice>) -> bool {
        let Some(v) = self.virtio.get_mut(slot) else { return false };
        v.set_device(device);
        self.sync_irqs();
        true
    }

    /// The CLINT.
    pub fn clint(&self) -> &Clint<HARTS> {
        &self.clint
    }

    /// The PLIC.
    pub fn plic(&self) -> &Plic<CONTEXTS> {
        &self.plic
    }

    /// The UART.
    pub fn uart(&self) -> &Uart {
        &self.uart
    }

    /// The RTC.
    pub fn rtc(&self) -> &GoldfishRtc {
        &self.rtc
    }

    /// Virtio slot `slot`.
    pub fn virtio(&self, slot: usize) -> Option<&VirtioMmio> {
        self.virtio.get(slot)
    }

    /// `mtime` at monotonic time `now_ns` (also the `time` CSR).
    pub fn mtime(&self, now_ns: u64) -> u64 {
        self.clint.mtime(now_ns)
    }

    /// The interrupt-pending bits that the devices drive for `hart` at monotonic time
    /// `now_ns`: [`MIP_MSIP`], [`MIP_MTIP`], [`MIP_MEIP`], [`MIP_SEIP`].
    pub fn mip(&self, hart: usize, now_ns: u64) -> u64 {
        let ctx = hart.saturating_mul(2);
        let mut mip = 0;
        if self.clint.msip(hart) {
            mip |= MIP_MSIP;
        }
        if self.clint.mtip(hart, now_ns) {
            mip |= MIP_MTIP;
        }
        if self.plic.irq(ctx) {
            mip |= MIP_MEIP;
        }
        if self.plic.irq(ctx.saturating_add(1)) {
            mip |= MIP_SEIP;
        }
        mip
    }

    /// The earliest monotonic time after `now_ns` at which a device interrupt will rise
    /// on its own (an `MTIP`, the RTC alarm; `wall_ns` is the wall clock at `now_ns`), if
    /// any: a WFI may sleep until then, or until the host's other sources (console input,
    /// a virtio completion) wake it. At the RTC's deadline, call [`Machine::poll`].
    pub fn next_deadline(&self, now_ns: u64, wall_ns: u64) -> Option<u64> {
        let timer = self.clint.next_deadline(now_ns);
        let alarm = self.rtc.next_alarm(wall_ns).map(|at| now_ns.saturating_add(at.saturating_sub(wall_ns)));
        match (timer, alarm) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Fires the RTC alarm if it is due at wall-clock time `wall_ns`.
    pub fn poll(&mut self, wall_ns: u64) {
        self.rtc.poll(wall_ns);
        self.sync_irqs();
    }

    /// Events since the last call.
    pub fn take_events(&mut self) -> Events {
        Events(core::mem::take(&mut self.events))
    }

    /// The power-off/reboot request the guest made, if the host has not taken it yet.
    pub fn take_machine_event(&mut self) -> Option<MachineEvent> {
        self.test.take_event()
    }

    /// Gives console input to the UART; returns how many bytes it took (the host keeps
    /// the rest until an [`Events::console_rx_room`]).
    pub fn console_input(&mut self, bytes: &[u8]) -> usize {
        let n = self.uart.receive(bytes);
        self.sync_irqs();
        n
    }

    /// Like [`Machine::console_input`], pulling from `source`.
    pub fn console_input_from(&mut self, source: &mut dyn ConsoleSource) -> usize {
        let n = self.uart.receive_from(source);
        self.sync_irqs();
        n
    }

    /// Retries output the console sink refused; returns whether none is left waiting.
    pub fn console_drain(&mut self, sink: &mut dyn ConsoleSink) -> bool {
        let done = self.uart.drain(sink);
        self.sync_irqs();
        done
    }

    /// The configuration of slot `slot`'s queue for the worker, if the device is live.
    pub fn virtio_job(&mut self, slot: usize) -> Option<QueueJob> {
        let job = self.virtio.get_mut(slot)?.job();
        // An invalid queue may just have set DEVICE_NEEDS_RESET and its interrupt.
        self.sync_irqs();
        job
    }

    /// Applies a worker's completion to slot `slot` and raises its interrupt as needed.
    pub fn virtio_complete(&mut self, slot: usize, completion: &Completion) {
        if let Some(v) = self.virtio.get_mut(slot) {
            v.complete(completion);
        }
        self.sync_irqs();
    }

    /// A guest read of `width` bytes at physical address `addr`.
    pub fn read(&mut self, env: &mut Env<'_>, addr: u64, width: Width) -> Result<u64, MmioError> {
        let (kind, index, offset) = route(addr, width)?;
        let v = self.device(kind, index)?.read(env, offset, width);
        self.after_access(kind, index);
        v
    }

    /// A guest write of the low `width` bytes of `value` at physical address `addr`.
    pub fn write(&mut self, env: &mut Env<'_>, addr: u64, width: Width, value: u64) -> Result<(), MmioError> {
        let (kind, index, offset) = route(addr, width)?;
        let r = self.device(kind, index)?.write(env, offset, width, value & width.mask());
        self.after_access(kind, index);
        r
    }

    fn device(&mut self, kind: Kind, index: u32) -> Result<&mut dyn Mmio, MmioError> {
        Ok(match kind {
            Kind::Test => &mut self.test,
            Kind::Rtc => &mut self.rtc,
            Kind::Clint => &mut self.clint,
            Kind::Plic => &mut self.plic,
            Kind::Uart => &mut self.uart,
            Kind::VirtioMmio => {
                let slot = usize::try_from(index).map_err(|_| MmioError::Unmapped)?;
                self.virtio.get_mut(slot).ok_or(MmioError::Unmapped)?
            }
            Kind::Ram => return Err(MmioError::Unmapped),
        })
    }

    fn after_access(&mut self, kind: Kind, index: u32) {
        match kind {
            Kind::VirtioMmio => {
                if let Some(v) = usize::try_from(index).ok().and_then(|i| self.virtio.get_mut(i)) {
                    let bit = 1u32 << (index % 8);
                    if v.take_kick() {
                        self.events |= bit;
                    }
                    if v.take_reset() {
                        self.events |= bit << Events::RESET_SHIFT;
                    }
                }
            }
            Kind::Test if self.test.has_event() => self.events |= Events::MACHINE,
            Kind::Uart => {
                if self.uart.take_rx_drained() {
                    self.events |= Events::RX_ROOM;
                }
                if self.uart.tx_pending() > 0 {
                    self.events |= Events::TX_BLOCKED;
                }
            }
            _ => {}
        }
        self.sync_irqs();
    }

    /// Drives the PLIC inputs from the devices' interrupt lines.
    fn sync_irqs(&mut self) {
        self.plic.set_level(UART_IRQ, self.uart.irq());
        self.plic.set_level(RTC_IRQ, self.rtc.irq());
        for (n, v) in (0u32..).zip(self.virtio.iter()) {
            self.plic.set_level(VIRTIO_IRQ + n, v.irq());
        }
    }
}

/// The device kind, index and offset that an access of `width` at `addr` reaches.
fn route(addr: u64, width: Width) -> Result<(Kind, u32, u64), MmioError> {
    let region = memmap::lookup(addr).ok_or(MmioError::Unmapped)?;
    if region.kind == Kind::Ram {
        return Err(MmioError::Unmapped);
    }
    let offset = addr - region.base;
    if addr % width.bytes() != 0 || region.size - offset < width.bytes() {
        return Err(MmioError::Misaligned);
    }
    Ok((region.kind, region.index, offset))
}

#[cfg(test)]
mod tests {
    use super::super::memmap::{
        CLINT_BASE, PLIC_BASE, RAM_BASE, RTC_BASE, TEST_BASE, UART_BASE, VIRTIO_BASE, VIRTIO_STRIDE,
    };
    use super::super::plic;
    use super::super::testutil::{TestClock, TestConsole};
    use super::super::virtio_blk::BlkConfig;
    use super::super::virtio_mmio::{self, reg as vreg};
    use super::*;

    struct T {
        m: Machine,
        clock: TestClock,
        con: TestConsole,
    }

    impl T {
        fn new() -> Self {
            Self { m: Machine::new(0), clock: TestClock::at(0, 1_000_000_000), con: TestConsole::new() }
        }
        fn rd(&mut self, addr: u64, w: Width) -> Result<u64, MmioError> {
            let mut e = Env { clock: &self.clock, wall: &self.clock, console: &mut self.con };
            self.m.read(&mut e, addr, w)
        }
        fn wr(&mut self, addr: u64, w: Width, v: u64) -> Result<(), MmioError> {
            let mut e = Env { clock: &self.clock, wall: &self.clock, console: &mut self.con };
            self.m.write(&mut e, addr, w, v)
        }
        fn rd32(&mut self, addr: u64) -> u32 {
            self.rd(addr, Width::B4).unwrap() as u32
        }
        fn wr32(&mut self, addr: u64, v: u32) {
            self.wr(addr, Width::B4, u64::from(v)).unwrap();
        }
    }

    #[test]
    fn stays_small() {
        // Built on the stack by the kernel side: keep it well under the 16 KiB stack.
        let size = core::mem::size_of::<Machine>();
        assert!(size <= 2048, "{size}");
    }

    #[test]
    fn unmapped_ram_misaligned() {
        let mut t = T::new();
        assert_eq!(t.rd(0, Width::B4), Err(MmioError::Unmapped));
        assert_eq!(t.rd(0x1000_9000, Width::B4), Err(MmioError::Unmapped));
        assert_eq!(t.wr(RAM_BASE, Width::B8, 0), Err(MmioError::Unmapped));
        assert_eq!(t.rd(u64::MAX, Width::B1), Err(MmioError::Unmapped));
        assert_eq!(t.rd(CLINT_BASE + 0x4002, Width::B4), Err(MmioError::Misaligned));
        // Crossing the end of the UART's 0x100 bytes.
        assert_eq!(t.rd(UART_BASE + 0xfc, Width::B8), Err(MmioError::Misaligned));
        assert_eq!(t.rd(UART_BASE + 0xf8, Width::B8), Ok(0));
    }

    #[test]
    fn routes_to_each_device() {
        let mut t = T::new();
        // UART scratch register.
        t.wr(UART_BASE + 7, Width::B1, 0x42).unwrap();
        assert_eq!(t.rd(UART_BASE + 7, Width::B1), Ok(0x42));
        // CLINT mtime at 10 MHz.
        t.clock.advance(1_000);
        assert_eq!(t.rd(CLINT_BASE + 0xbff8, Width::B8), Ok(10));
        assert_eq!(t.m.mtime(1_000), 10);
        // PLIC priority.
        t.wr32(PLIC_BASE + 4 * 10, 3);
        assert_eq!(t.rd32(PLIC_BASE + 4 * 10), 3);
        // RTC time.
        assert_eq!(t.rd32(RTC_BASE), 1_000_001_000);
        // Virtio slots: empty ones answer the probe with device ID 0.
        for n in 0..8 {
            let base = VIRTIO_BASE + n * VIRTIO_STRIDE;
            assert_eq!(t.rd32(base + vreg::MAGIC_VALUE), virtio_mmio::MAGIC);
            assert_eq!(t.rd32(base + vreg::VERSION), 2);
            assert_eq!(t.rd32(base + vreg::DEVICE_ID), 0);
        }
        assert!(t
            .m
            .set_virtio(3, Some(VirtioDevice::Block(BlkConfig { capacity: 8, read_only: false, flush: true, blk_size: 512 }))));
        assert!(!t.m.set_virtio(8, None));
        assert_eq!(t.rd32(VIRTIO_BASE + 3 * VIRTIO_STRIDE + vreg::DEVICE_ID), 2);
        assert_eq!(t.rd32(VIRTIO_BASE + 3 * VIRTIO_STRIDE + vreg::CONFIG), 8);
        // The test device.
        t.wr32(TEST_BASE, 0x5555);
        assert!(t.m.take_events().machine());
        assert_eq!(t.m.take_machine_event(), Some(MachineEvent::PowerOff));
        assert!(t.m.take_events().is_empty());
    }

    #[test]
    fn timer_and_software_interrupts() {
        let mut t = T::new();
        assert_eq!(t.m.mip(0, 0), 0);
        t.wr32(CLINT_BASE, 1);
        assert_eq!(t.m.mip(0, 0), MIP_MSIP);
        t.wr32(CLINT_BASE, 0);
        t.wr(CLINT_BASE + 0x4000, Width::B8, 100).unwrap();
        assert_eq!(t.m.next_deadline(0, 1_000_000_000), Some(10_000));
        assert_eq!(t.m.mip(0, 9_999), 0);
        assert_eq!(t.m.mip(0, 10_000), MIP_MTIP);
    }

    #[test]
    fn uart_interrupt_reaches_both_contexts() {
        let mut t = T::new();
        t.wr32(PLIC_BASE + 4 * u64::from(UART_IRQ), 1);
        t.wr32(PLIC_BASE + plic::ENABLE + plic::ENABLE_STRIDE, 1 << UART_IRQ); // S-mode
        t.wr(UART_BASE + 1, Width::B1, 1).unwrap(); // IER: received data
        assert_eq!(t.m.mip(0, 0), 0);
        assert_eq!(t.m.console_input(b"ok"), 1, "FIFOs are off: one byte");
        assert_eq!(t.m.mip(0, 0), MIP_SEIP);
        let claim = PLIC_BASE + plic::CONTEXT + plic::CONTEXT_STRIDE + 4;
        assert_eq!(t.rd32(claim), UART_IRQ);
        assert_eq!(t.m.mip(0, 0), 0);
        assert_eq!(t.rd(UART_BASE, Width::B1), Ok(u64::from(b'o')));
        assert!(t.m.take_events().console_rx_room());
        t.wr32(claim, UART_IRQ);
        assert_eq!(t.m.mip(0, 0), 0, "line went low before completion");
        assert_eq!(t.m.console_input(b"k"), 1);
        assert_eq!(t.m.mip(0, 0), MIP_SEIP);
        // The same source in the M-mode context drives MEIP.
        t.wr32(PLIC_BASE + plic::ENABLE, 1 << UART_IRQ);
        assert_eq!(t.m.mip(0, 0), MIP_SEIP | MIP_MEIP);
    }

    #[test]
    fn console_flow_control() {
        let mut t = T::new();
        t.con.room = 0;
        t.wr(UART_BASE, Width::B1, u64::from(b'x')).unwrap();
        assert!(t.m.take_events().console_tx_blocked());
        assert_eq!(t.rd(UART_BASE + 5, Width::B1).unwrap() & 0x20, 0, "THRE low while blocked");
        t.con.room = 10;
        assert!(t.m.console_drain(&mut t.con));
        assert_eq!(t.con.out, b"x");
        assert_eq!(t.rd(UART_BASE + 5, Width::B1).unwrap() & 0x20, 0x20);
        let mut src = TestConsole::new();
        src.input = b"ab".to_vec();
        assert_eq!(t.m.console_input_from(&mut src), 1);
        assert_eq!(src.input, b"b");
    }

    #[test]
    fn rtc_alarm_through_the_bus() {
        let mut t = T::new();
        t.wr32(PLIC_BASE + 4 * u64::from(RTC_IRQ), 1);
        t.wr32(PLIC_BASE + plic::ENABLE + plic::ENABLE_STRIDE, 1 << RTC_IRQ);
        let at = 1_000_000_000u64 + 50_000;
        t.wr32(RTC_BASE + 0x10, 1);
        t.wr32(RTC_BASE + 0x0c, (at >> 32) as u32);
        t.wr32(RTC_BASE + 0x08, at as u32);
        assert_eq!(t.m.next_deadline(0, 1_000_000_000), Some(50_000));
        t.wr(CLINT_BASE + 0x4000, Width::B8, 100).unwrap();
        assert_eq!(t.m.next_deadline(0, 1_000_000_000), Some(10_000), "the earlier of the two");
        t.m.poll(1_000_049_999);
        assert_eq!(t.m.mip(0, 0), 0);
        t.m.poll(1_000_050_000);
        assert_eq!(t.m.mip(0, 0), MIP_SEIP);
        t.wr32(RTC_BASE + 0x1c, 1);
        assert_eq!(t.m.mip(0, 0), 0);
    }
}
