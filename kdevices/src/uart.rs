//! NS16550A UART (TI PC16550D datasheet; the behaviour Linux's 8250 driver and OpenSBI's
//! uart8250 rely on, as QEMU's hw/char/serial.c models it).
//!
//! | offset | read                   | write                  | DLAB=1   |
//! |--------|------------------------|------------------------|----------|
//! | 0      | RBR (receive buffer)   | THR (transmit holding) | DLL      |
//! | 1      | IER                    | IER                    | DLM      |
//! | 2      | IIR                    | FCR                    |          |
//! | 3      | LCR                    | LCR                    |          |
//! | 4      | MCR                    | MCR                    |          |
//! | 5      | LSR                    | (ignored)              |          |
//! | 6      | MSR                    | (ignored)              |          |
//! | 7      | SCR                    | SCR                    |          |
//!
//! Registers are one byte apart (`reg-shift = 0`). A wider access touches consecutive
//! registers, one per byte lane, in address order (as QEMU splits it); offsets 8 and up
//! read as zero and ignore writes.
//!
//! Receive: a [`FIFO_SIZE`]-byte FIFO (1 byte with FIFOs disabled) that the host fills
//! with [`Uart::receive`]; it takes only what fits, so console input is never lost: the
//! host keeps the rest and retries when the guest has read a byte
//! ([`Uart::take_rx_drained`]).
//!
//! Transmit: a THR write goes to the host's [`ConsoleSink`] at once when it takes it.
//! When the sink refuses, the byte waits in the transmit FIFO and LSR.THRE/TEMT read 0,
//! so a polling guest (OpenSBI, Linux's console) waits; the host calls
//! [`Uart::drain`] when the sink has room again. A guest that writes into a full FIFO
//! anyway, or discards it through FCR, loses those bytes; they are counted in
//! [`Uart::tx_dropped`], never dropped silently.
//!
//! Interrupts (IIR priority order): receiver line status (overrun), received data
//! (IIR 0x4 at or above the FIFO trigger level, 0xC "character timeout" below it: the
//! timeout is taken as already expired), THR empty, modem status. THR empty follows the
//! 16550 rules that Linux's 8250 driver probes (UART_BUG_THRE/TXEN): it rises when the
//! transmitter empties and when IER.ETBEI is set while it is empty, and is cleared by a
//! THR write or by reading IIR while IIR reports it. The interrupt output is the IIR's
//! "interrupt pending" state (MCR.OUT2 does not gate it, as on QEMU).

use super::host::{ConsoleSink, ConsoleSource};
use super::mmio::{Env, Mmio, MmioError, Width};

/// Depth of the receive and transmit FIFOs.
pub const FIFO_SIZE: usize = 16;

/// Register offsets.
pub mod reg {
    /// Receive buffer / transmit holding register (DLL when LCR.DLAB is set).
    pub const RBR_THR: u64 = 0;
    /// Interrupt enable register (DLM when LCR.DLAB is set).
    pub const IER: u64 = 1;
    /// Interrupt identification (read) / FIFO control (write).
    pub const IIR_FCR: u64 = 2;
    /// Line control register.
    pub const LCR: u64 = 3;
    /// Modem control register.
    pub const MCR: u64 = 4;
    /// Line status register.
    pub const LSR: u64 = 5;
    /// Modem status register.
    pub const MSR: u64 = 6;
    /// Scratch register.
    pub const SCR: u64 = 7;
}

/// IER: received data available.
pub const IER_RDI: u8 = 0x01;
/// IER: transmit holding register empty.
pub const IER_THRI: u8 = 0x02;
/// IER: receiver line status.
pub const IER_RLSI: u8 = 0x04;
/// IER: modem status.
pub const IER_MSI: u8 = 0x08;

/// IIR: no interrupt pending.
pub const IIR_NO_INT: u8 = 0x01;
/// IIR: modem status.
pub const IIR_MSI: u8 = 0x00;
/// IIR: transmit holding register empty.
pub const IIR_THRI: u8 = 0x02;
/// IIR: received data available.
pub const IIR_RDI: u8 = 0x04;
/// IIR: receiver line status.
pub const IIR_RLSI: u8 = 0x06;
/// IIR: character timeout.
pub const IIR_TIMEOUT: u8 = 0x0c;
/// IIR: FIFOs enabled (both bits).
pub const IIR_FIFOS: u8 = 0xc0;

/// FCR: enable FIFOs.
pub const FCR_ENABLE: u8 = 0x01;
/// FCR: clear the receive FIFO.
pub const FCR_CLEAR_RX: u8 = 0x02;
/// FCR: clear the transmit FIFO.
pub const FCR_CLEAR_TX: u8 = 0x04;

/// LCR: divisor latch access bit.
pub const LCR_DLAB: u8 = 0x80;
/// MCR: loopback mode.
pub const MCR_LOOP: u8 = 0x10;

/// LSR: data ready.
pub const LSR_DR: u8 = 0x01;
/// LSR: overrun error.
pub const LSR_OE: u8 = 0x02;
/// LSR: transmit holding register empty.
pub const LSR_THRE: u8 = 0x20;
/// LSR: transmitter empty.
pub const LSR_TEMT: u8 = 0x40;

/// MSR outside loopback: carrier detect, data set ready and clear to send asserted.
pub const MSR_IDLE: u8 = 0xb0;

/// A small byte ring.
#[derive(Clone, Debug, Default)]
struct Fifo {
    buf: [u8; FIFO_SIZE],
    head: usize,
    len: usize,
}

impl Fifo {
    fn push(&mut self, b: u8) {
        if self.len < FIFO_SIZE {
            self.buf[(self.head + self.len) % FIFO_SIZE] = b;
            self.len += 1;
        }
    }

    fn pop(&mut self) -> Option<u8> {
        if self.len == 0 {
            return None;
        }
        let b = self.buf[self.head];
        self.consume(1);
        Some(b)
    }

    /// The oldest bytes, as one contiguous slice (possibly not all of them).
    fn front(&self) -> &[u8] {
        let end = (self.head + self.len).min(FIFO_SIZE);
        &self.buf[self.head..end]
    }

    fn consume(&mut self, n: usize) {
        let n = n.min(self.len);
        self.head = (self.head + n) % FIFO_SIZE;
        self.len -= n;
    }

    fn clear(&mut self) {
        self.head = 0;
        self.len = 0;
    }
}

/// An NS16550A UART.
#[derive(Clone, Debug, Default)]
pub struct Uart {
    rx: Fifo,
    tx: Fifo,
    ier: u8,
    lcr: u8,
    mcr: u8,
    /// FIFO enable, DMA mode and trigger level bits of the last FCR write.
    fcr: u8,
    /// Latched line status errors (overrun), cleared by reading LSR.
    lsr_err: u8,
    /// MSR delta bits (3:0), cleared by reading MSR.
    msr_delta: u8,
    scr: u8,
    dll: u8,
    dlm: u8,
    thr_ipending: bool,
    rx_drained: bool,
    tx_dropped: u64,
}

impl Uart {
    /// A UART after reset: FIFOs off, interrupts disabled, transmitter empty.
    pub fn new() -> Self {
        Self::default()
    }

    fn fifo_enabled(&self) -> bool {
        self.fcr & FCR_ENABLE != 0
    }

    fn capacity(&self) -> usize {
        if self.fifo_enabled() {
            FIFO_SIZE
        } else {
            1
        }
    }

    fn rx_trigger(&self) -> usize {
        match self.fcr >> 6 {
            0 => 1,
            1 => 4,
            2 => 8,
            _ => 14,
        }
    }

    fn loopback(&self) -> bool {
        self.mcr & MCR_LOOP != 0
    }

    /// Takes as much of `bytes` as fits in the receive FIFO; returns how many it took.
    /// In loopback mode the UART is cut off from the outside and takes nothing.
    pub fn receive(&mut self, bytes: &[u8]) -> usize {
        if self.loopback() {
            return 0;
        }
        let n = bytes.len().min(self.rx_room());
        for &b in &bytes[..n] {
            self.rx.push(b);
        }
        n
    }

    /// Fills the receive FIFO from `source`; returns how many bytes it took.
    pub fn receive_from(&mut self, source: &mut dyn ConsoleSource) -> usize {
        let mut buf = [0u8; FIFO_SIZE];
        let room = self.rx_room();
        if room == 0 || self.loopback() {
            return 0;
        }
        let n = source.recv(&mut buf[..room]).min(room);
        self.receive(&buf[..n])
    }

    /// Free space in the receive FIFO.
    pub fn rx_room(&self) -> usize {
        if self.loopback() {
            return 0;
        }
        self.capacity().saturating_sub(self.rx.len)
    }

    /// Whether the guest has read a received byte since the last call: the host may
    /// have more input for it.
    pub fn take_rx_drained(&mut self) -> bool {
        core::mem::take(&mut self.rx_drained)
    }

    /// Bytes written by the guest that wait for the console sink.
    pub fn tx_pending(&self) -> usize {
        self.tx.len
    }

    /// Bytes the guest's writes lost: written while the transmit FIFO was full, or
    /// discarded by an FCR transmit-FIFO reset before the sink took them.
    pub fn tx_dropped(&self) -> u64 {
        self.tx_dropped
    }

    /// Hands waiting output to `sink`, as much as it takes; returns whether all went.
    pub fn drain(&mut self, sink: &mut dyn ConsoleSink) -> bool {
        if self.tx.len == 0 {
            return true;
        }
        while self.tx.len > 0 {
            let front = self.tx.front();
            let n = sink.send(front).min(front.len());
            if n == 0 {
                break;
            }
            self.tx.consume(n);
        }
        if self.tx.len == 0 {
            self.thr_ipending = true;
        }
        self.tx.len == 0
    }

    fn modem_status(&self) -> u8 {
        if self.loopback() {
            // DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD.
            let m = self.mcr;
            ((m & 0x01) << 5) | ((m & 0x02) << 3) | ((m & 0x04) << 4) | ((m & 0x08) << 4)
        } else {
            MSR_IDLE
        }
    }

    fn lsr(&self) -> u8 {
        let mut v = self.lsr_err;
        if self.rx.len > 0 {
            v |= LSR_DR;
        }
        if self.tx.len == 0 {
            v |= LSR_THRE | LSR_TEMT;
        }
        v
    }

    /// IIR bits 3:0 for the highest-priority pending interrupt.
    fn pending(&self) -> u8 {
        if self.ier & IER_RLSI != 0 && self.lsr_err != 0 {
            IIR_RLSI
        } else if self.ier & IER_RDI != 0 && self.rx.len > 0 {
            if self.fifo_enabled() && self.rx.len < self.rx_trigger() {
                IIR_TIMEOUT
            } else {
                IIR_RDI
            }
        } else if self.ier & IER_THRI != 0 && self.thr_ipending {
            IIR_THRI
        } else if self.ier & IER_MSI != 0 && self.msr_delta != 0 {
            IIR_MSI
        } else {
            IIR_NO_INT
        }
    }

    /// Level of the UART's interrupt line.
    pub fn irq(&self) -> bool {
        self.pending() != IIR_NO_INT
    }

    fn transmit(&mut self, b: u8, sink: &mut dyn ConsoleSink) {
        self.thr_ipending = false;
        if self.loopback() {
            if self.rx.len < self.capacity() {
                self.rx.push(b);
            } else {
                self.lsr_err |= LSR_OE;
            }
            self.thr_ipending = true;
            return;
        }
        if self.tx.len < self.capacity() {
            self.tx.push(b);
            self.drain(sink);
        } else {
            self.tx_dropped = self.tx_dropped.saturating_add(1);
        }
    }

    fn clear_tx(&mut self) {
        self.tx_dropped = self.tx_dropped.saturating_add(self.tx.len as u64);
        self.tx.clear();
        self.thr_ipending = true;
    }

    fn read_reg(&mut self, r: u64) -> u8 {
        let dlab = self.lcr & LCR_DLAB != 0;
        match r {
            reg::RBR_THR if dlab => self.dll,
            reg::RBR_THR => match self.rx.pop() {
                Some(b) => {
                    self.rx_drained = true;
                    b
                }
                None => 0,
            },
            reg::IER if dlab => self.dlm,
            reg::IER => self.ier,
            reg::IIR_FCR => {
                let p = self.pending();
                if p == IIR_THRI {
                    self.thr_ipending = false;
                }
                p | if self.fifo_enabled() { IIR_FIFOS } else { 0 }
            }
            reg::LCR => self.lcr,
            reg::MCR => self.mcr,
            reg::LSR => {
                let v = self.lsr();
                self.lsr_err = 0;
                v
            }
            reg::MSR => {
                let v = self.modem_status() | self.msr_delta;
                self.msr_delta = 0;
                v
            }
            reg::SCR => self.scr,
            _ => 0,
        }
    }

    fn write_reg(&mut self, r: u64, v: u8, sink: &mut dyn ConsoleSink) {
        let dlab = self.lcr & LCR_DLAB != 0;
        match r {
            reg::RBR_THR if dlab => self.dll = v,
            reg::RBR_THR => self.transmit(v, sink),
            reg::IER if dlab => self.dlm = v,
            reg::IER => {
                let old = self.ier;
                self.ier = v & 0x0f;
                if (old ^ self.ier) & IER_THRI != 0 {
                    self.thr_ipending = self.ier & IER_THRI != 0 && self.tx.len == 0;
                }
            }
            reg::IIR_FCR => {
                let mut v = v;
                if (v ^ self.fcr) & FCR_ENABLE != 0 {
                    v |= FCR_CLEAR_RX | FCR_CLEAR_TX;
                }
                if v & FCR_CLEAR_RX != 0 {
                    self.rx.clear();
                }
                if v & FCR_CLEAR_TX != 0 {
                    self.clear_tx();
                }
                self.fcr = v & 0xc9;
            }
            reg::LCR => self.lcr = v,
            reg::MCR => {
                let old = self.modem_status();
                self.mcr = v & 0x1f;
                let new = self.modem_status();
                let changed = old ^ new;
                let mut delta = 0;
                if changed & 0x10 != 0 {
                    delta |= 0x01; // DCTS
                }
                if changed & 0x20 != 0 {
                    delta |= 0x02; // DDSR
                }
                if old & 0x40 != 0 && new & 0x40 == 0 {
                    delta |= 0x04; // TERI: trailing edge of RI
                }
                if changed & 0x80 != 0 {
                    delta |= 0x08; // DDCD
                }
                self.msr_delta |= delta;
            }
            reg::SCR => self.scr = v,
            _ => {}
        }
    }
}

impl Mmio for Uart {
    fn read(&mut self, _env: &mut Env<'_>, offset: u64, width: Width) -> Result<u64, MmioError> {
        let mut v = 0u64;
        for i in 0..width.bytes() {
            v |= u64::from(self.read_reg(offset.saturating_add(i))) << (8 * i);
        }
        Ok(v)
    }

    fn write(&mut self, env: &mut Env<'_>, offset: u64, width: Width, value: u64) -> Result<(), MmioError> {
        for i in 0..width.bytes() {
            self.write_reg(offset.saturating_add(i), (value >> (8 * i)) as u8, &mut *env.console);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{TestClock, TestConsole};
    use super::reg::*;
    use super::*;

    struct T {
        u: Uart,
        clock: TestClock,
        con: TestConsole,
    }

    impl T {
        fn new() -> Self {
            Self { u: Uart::new(), clock: TestClock::default(), con: TestConsole::new() }
        }
        fn rd(&mut self, off: u64) -> u8 {
            let mut e = Env { clock: &self.clock, wall: &self.clock, console: &mut self.con };
            self.u.read(&mut e, off, Width::B1).unwrap() as u8
        }
        fn wr(&mut self, off: u64, v: u8) {
            let mut e = Env { clock: &self.clock, wall: &self.clock, console: &mut self.con };
            self.u.write(&mut e, off, Width::B1, u64::from(v)).unwrap();
        }
    }

    #[test]
    fn reset_state() {
        let mut t = T::new();
        assert_eq!(t.rd(LSR), LSR_THRE | LSR_TEMT);
        assert_eq!(t.rd(IIR_FCR), IIR_NO_INT);
        assert_eq!(t.rd(IER), 0);
        assert_eq!(t.rd(MSR), MSR_IDLE);
        assert!(!t.u.irq());
    }

    #[test]
    fn transmit_goes_to_sink() {
        let mut t = T::new();
        for &b in b"hi\n" {
            t.wr(RBR_THR, b);
        }
        assert_eq!(t.con.out, b"hi\n");
        assert_eq!(t.rd(LSR) & (LSR_THRE | LSR_TEMT), LSR_THRE | LSR_TEMT);
    }

    #[test]
    fn divisor_latch_and_scratch() {
        let mut t = T::new();
        t.wr(LCR, LCR_DLAB | 0x03);
        t.wr(RBR_THR, 0x12);
        t.wr(IER, 0x34);
        assert_eq!(t.rd(RBR_THR), 0x12);
        assert_eq!(t.rd(IER), 0x34);
        t.wr(LCR, 0x03);
        assert!(t.con.out.is_empty(), "DLL write is not output");
        assert_eq!(t.rd(IER), 0);
        assert_eq!(t.rd(LCR), 0x03);
        t.wr(SCR, 0xa5);
        assert_eq!(t.rd(SCR), 0xa5);
    }

    #[test]
    fn receive_fifo_and_interrupts() {
        let mut t = T::new();
        t.wr(IIR_FCR, FCR_ENABLE | 0x80); // trigger level 8
        t.wr(IER, IER_RDI);
        assert_eq!(t.u.receive(b"abc"), 3);
        assert!(t.u.irq());
        assert_eq!(t.rd(IIR_FCR), IIR_FIFOS | IIR_TIMEOUT, "below trigger: timeout");
        assert_eq!(t.u.receive(b"defghijklmnopqrstuvwxyz"), 13, "FIFO holds 16");
        assert_eq!(t.u.rx_room(), 0);
        assert_eq!(t.rd(IIR_FCR), IIR_FIFOS | IIR_RDI);
        assert_eq!(t.rd(LSR) & LSR_DR, LSR_DR);
        assert_eq!(t.rd(LSR) & LSR_OE, 0, "host input never overruns");
        let mut got = [0u8; 16];
        for g in &mut got {
            *g = t.rd(RBR_THR);
        }
        assert_eq!(&got, b"abcdefghijklmnop");
        assert!(t.u.take_rx_drained());
        assert!(!t.u.take_rx_drained());
        assert_eq!(t.rd(LSR) & LSR_DR, 0);
        assert!(!t.u.irq());
        assert_eq!(t.rd(IIR_FCR), IIR_FIFOS | IIR_NO_INT);
    }

    #[test]
    fn without_fifo_one_byte() {
        let mut t = T::new();
        assert_eq!(t.u.receive(b"xy"), 1);
        t.wr(IER, IER_RDI);
        assert_eq!(t.rd(IIR_FCR), IIR_RDI);
        assert_eq!(t.rd(RBR_THR), b'x');
        assert_eq!(t.u.receive(b"y"), 1);
    }

    #[test]
    fn receive_from_source() {
        let mut t = T::new();
        t.wr(IIR_FCR, FCR_ENABLE);
        let mut src = TestConsole::new();
        src.input = b"0123456789abcdefXYZ".to_vec();
        assert_eq!(t.u.receive_from(&mut src), 16);
        assert_eq!(src.input, b"XYZ");
        assert_eq!(t.u.receive_from(&mut src), 0);
    }

    #[test]
    fn clear_rx_fifo() {
        let mut t = T::new();
        t.wr(IIR_FCR, FCR_ENABLE);
        t.u.receive(b"abc");
        t.wr(IIR_FCR, FCR_ENABLE | FCR_CLEAR_RX);
        assert_eq!(t.rd(LSR) & LSR_DR, 0);
    }

    #[test]
    fn thre_interrupt_rules_linux_probes() {
        let mut t = T::new();
        t.wr(IIR_FCR, FCR_ENABLE);
        // UART_BUG_TXEN / UART_BUG_THRE probes: enabling THRI while the transmitter is
        // empty raises THRE; reading IIR clears it; re-enabling raises it again.
        t.wr(IER, IER_THRI);
        assert!(t.u.irq());
        assert_eq!(t.rd(IIR_FCR), IIR_FIFOS | IIR_THRI);
        assert_eq!(t.rd(IIR_FCR), IIR_FIFOS | IIR_NO_INT, "IIR read cleared THRE");
        assert!(!t.u.irq());
        t.wr(IER, 0);
        t.wr(IER, IER_THRI);
        assert_eq!(t.rd(IIR_FCR), IIR_FIFOS | IIR_THRI);
        // A THR write clears it; the transmitter emptying raises it again.
        t.wr(RBR_THR, b'a');
        assert!(t.u.irq());
        assert_eq!(t.rd(IIR_FCR), IIR_FIFOS | IIR_THRI);
        assert_eq!(t.con.out, b"a");
    }

    #[test]
    fn rx_beats_thre_in_priority() {
        let mut t = T::new();
        t.wr(IER, IER_THRI | IER_RDI);
        t.u.receive(b"z");
        assert_eq!(t.rd(IIR_FCR), IIR_RDI);
        assert_eq!(t.rd(RBR_THR), b'z');
        assert_eq!(t.rd(IIR_FCR), IIR_THRI, "THRE was not cleared by the RDI report");
    }

    #[test]
    fn blocked_sink_holds_output() {
        let mut t = T::new();
        t.wr(IIR_FCR, FCR_ENABLE);
        t.wr(IER, IER_THRI);
        assert_eq!(t.rd(IIR_FCR), IIR_FIFOS | IIR_THRI);
        t.con.room = 2;
        for &b in b"hello" {
            t.wr(RBR_THR, b);
        }
        assert_eq!(t.con.out, b"he");
        assert_eq!(t.u.tx_pending(), 3);
        assert_eq!(t.rd(LSR) & (LSR_THRE | LSR_TEMT), 0, "busy transmitter");
        assert!(!t.u.irq());
        // Fill the FIFO (16 bytes) and one more: counted, not silently dropped.
        for b in 0..13 {
            t.wr(RBR_THR, b);
        }
        assert_eq!(t.u.tx_pending(), 16);
        assert_eq!(t.u.tx_dropped(), 0);
        t.wr(RBR_THR, b'!');
        assert_eq!(t.u.tx_dropped(), 1);
        // The sink drains: everything arrives in order, THRE comes back with its interrupt.
        t.con.room = 4;
        assert!(!t.u.drain(&mut t.con));
        t.con.room = usize::MAX;
        assert!(t.u.drain(&mut t.con));
        let mut want = b"hello".to_vec();
        want.extend(0..13u8);
        assert_eq!(t.con.out, want);
        assert_eq!(t.rd(LSR) & LSR_THRE, LSR_THRE);
        assert!(t.u.irq());
        assert_eq!(t.rd(IIR_FCR), IIR_FIFOS | IIR_THRI);
    }

    #[test]
    fn discarding_tx_fifo_is_counted() {
        let mut t = T::new();
        t.wr(IIR_FCR, FCR_ENABLE);
        t.con.room = 0;
        t.wr(RBR_THR, b'a');
        t.wr(RBR_THR, b'b');
        t.wr(IIR_FCR, FCR_ENABLE | FCR_CLEAR_TX);
        assert_eq!(t.u.tx_dropped(), 2);
        assert_eq!(t.u.tx_pending(), 0);
        // Turning FIFOs off resets them too.
        t.wr(RBR_THR, b'c');
        t.wr(IIR_FCR, 0);
        assert_eq!(t.u.tx_dropped(), 3);
        assert_eq!(t.rd(IIR_FCR) & IIR_FIFOS, 0);
    }

    #[test]
    fn loopback() {
        let mut t = T::new();
        t.wr(IIR_FCR, FCR_ENABLE);
        t.wr(IER, IER_MSI);
        t.wr(MCR, MCR_LOOP | 0x0a); // RTS | OUT2
                                    // Linux autoconfig's loopback check: (MSR & 0xf0) == 0x90.
        assert_eq!(t.rd(MSR) & 0xf0, 0x90);
        t.wr(RBR_THR, b'q');
        assert!(t.con.out.is_empty(), "loopback output stays inside");
        assert_eq!(t.rd(LSR) & LSR_DR, LSR_DR);
        assert_eq!(t.rd(RBR_THR), b'q');
        assert_eq!(t.u.receive(b"x"), 0, "outside input is cut off");
        // Overrun in loopback: reported in LSR and as a line status interrupt.
        t.wr(IER, IER_RLSI);
        for b in 0..17 {
            t.wr(RBR_THR, b);
        }
        assert_eq!(t.rd(IIR_FCR), IIR_FIFOS | IIR_RLSI);
        assert_eq!(t.rd(LSR) & LSR_OE, LSR_OE);
        assert_eq!(t.rd(LSR) & LSR_OE, 0, "LSR read clears OE");
        t.wr(MCR, 0);
        assert_eq!(t.rd(MSR), MSR_IDLE | 0x02, "DSR changed (CTS and DCD did not)");
        assert_eq!(t.rd(MSR), MSR_IDLE);
    }

    #[test]
    fn modem_status_interrupt() {
        let mut t = T::new();
        t.wr(IER, IER_MSI);
        t.wr(MCR, MCR_LOOP | 0x04); // OUT1 -> RI
        assert_eq!(t.rd(IIR_FCR), IIR_MSI);
        assert_eq!(t.rd(MSR), 0x40 | 0x0b, "RI up; CTS, DSR, DCD dropped");
        assert_eq!(t.rd(IIR_FCR), IIR_NO_INT);
        t.wr(MCR, MCR_LOOP);
        assert_eq!(t.rd(MSR) & 0x0f, 0x04, "TERI on RI's trailing edge");
    }

    #[test]
    fn wide_accesses_touch_consecutive_registers() {
        let mut t = T::new();
        let mut e = Env { clock: &t.clock, wall: &t.clock, console: &mut t.con };
        t.u.write(&mut e, 4, Width::B4, 0x5a_00_00_03).unwrap(); // MCR=3, SCR=0x5a
        assert_eq!(t.u.read(&mut e, 4, Width::B4), Ok(0x5a_b0_60_03));
        assert_eq!(t.u.read(&mut e, 8, Width::B8), Ok(0));
        t.u.write(&mut e, 0x20, Width::B8, u64::MAX).unwrap();
        assert_eq!(t.rd(SCR), 0x5a);
    }
}
