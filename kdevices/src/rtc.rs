//! Goldfish real-time clock (Android emulator's goldfish RTC, as QEMU's
//! hw/rtc/goldfish_rtc.c models it; Linux's drivers/rtc/rtc-goldfish.c drives it).
//!
//! | offset | register          | access | meaning                                         |
//! |--------|-------------------|--------|-------------------------------------------------|
//! | 0x00   | `TIME_LOW`        | RW     | time in ns, low 32 bits; a read latches the high half |
//! | 0x04   | `TIME_HIGH`       | RW     | the high half latched by the last `TIME_LOW` read |
//! | 0x08   | `ALARM_LOW`       | RW     | a write sets the low half and arms the alarm    |
//! | 0x0c   | `ALARM_HIGH`      | RW     | high half of the alarm time (set before the low half) |
//! | 0x10   | `IRQ_ENABLED`     | RW     | bit 0: the alarm interrupt reaches the line     |
//! | 0x14   | `CLEAR_ALARM`     | W      | disarms the alarm                               |
//! | 0x18   | `ALARM_STATUS`    | R      | 1 while the alarm is armed                      |
//! | 0x1c   | `CLEAR_INTERRUPT` | W      | acknowledges the alarm interrupt                |
//!
//! Time is the host's wall clock (ns since the Unix epoch) plus an offset that writes to
//! `TIME_LOW`/`TIME_HIGH` move (the guest setting the clock does not touch the host's).
//! An alarm set in the past fires at once; otherwise it fires when the host calls
//! [`GoldfishRtc::poll`] at or after [`GoldfishRtc::next_alarm`]. The interrupt line is
//! high while an alarm has fired, is not yet cleared, and `IRQ_ENABLED` is set.
//! Registers are 32 bits wide (other widths refused, as QEMU); other offsets read as
//! zero and ignore writes.

use super::mmio::{Env, Mmio, MmioError, Width};

/// `TIME_LOW` offset.
pub const TIME_LOW: u64 = 0x00;
/// `TIME_HIGH` offset.
pub const TIME_HIGH: u64 = 0x04;
/// `ALARM_LOW` offset.
pub const ALARM_LOW: u64 = 0x08;
/// `ALARM_HIGH` offset.
pub const ALARM_HIGH: u64 = 0x0c;
/// `IRQ_ENABLED` offset.
pub const IRQ_ENABLED: u64 = 0x10;
/// `CLEAR_ALARM` offset.
pub const CLEAR_ALARM: u64 = 0x14;
/// `ALARM_STATUS` offset.
pub const ALARM_STATUS: u64 = 0x18;
/// `CLEAR_INTERRUPT` offset.
pub const CLEAR_INTERRUPT: u64 = 0x1c;

/// A goldfish RTC.
#[derive(Clone, Debug, Default)]
pub struct GoldfishRtc {
    /// Added (wrapping) to the host's wall clock.
    offset: u64,
    time_high: u32,
    alarm: u64,
    alarm_armed: bool,
    irq_enabled: bool,
    irq_pending: bool,
}

impl GoldfishRtc {
    /// An RTC showing the host's wall-clock time, alarm disarmed.
    pub fn new() -> Self {
        Self::default()
    }

    /// The guest's time at host wall time `wall_ns`.
    pub const fn time(&self, wall_ns: u64) -> u64 {
        wall_ns.wrapping_add(self.offset)
    }

    fn set_time(&mut self, wall_ns: u64, t: u64) {
        self.offset = t.wrapping_sub(wall_ns);
    }

    /// Fires the alarm if it is armed and due at host wall time `wall_ns`.
    pub fn poll(&mut self, wall_ns: u64) {
        if self.alarm_armed && self.time(wall_ns) >= self.alarm {
            self.alarm_armed = false;
            self.irq_pending = true;
        }
    }

    /// Host wall time (ns) at which the armed alarm fires, if one is armed.
    pub fn next_alarm(&self, wall_ns: u64) -> Option<u64> {
        self.alarm_armed.then(|| wall_ns.saturating_add(self.alarm.saturating_sub(self.time(wall_ns))))
    }

    /// Level of the interrupt line.
    pub fn irq(&self) -> bool {
        self.irq_pending && self.irq_enabled
    }
}

impl Mmio for GoldfishRtc {
    fn read(&mut self, env: &mut Env<'_>, offset: u64, width: Width) -> Result<u64, MmioError> {
        if width != Width::B4 {
            return Err(MmioError::Width);
        }
        let v = match offset {
            TIME_LOW => {
                let t = self.time(env.wall.wall_ns());
                self.time_high = (t >> 32) as u32;
                t as u32
            }
            TIME_HIGH => self.time_high,
            ALARM_LOW => self.alarm as u32,
            ALARM_HIGH => (self.alarm >> 32) as u32,
            IRQ_ENABLED => u32::from(self.irq_enabled),
            ALARM_STATUS => u32::from(self.alarm_armed),
            _ => 0,
        };
        Ok(u64::from(v))
    }

    fn write(&mut self, env: &mut Env<'_>, offset: u64, width: Width, value: u64) -> Result<(), MmioError> {
        if width != Width::B4 {
            return Err(MmioError::Width);
        }
        let v = value & 0xffff_ffff;
        match offset {
            TIME_LOW => {
                let now = env.wall.wall_ns();
                let t = (self.time(now) & !0xffff_ffff) | v;
                self.set_time(now, t);
            }
            TIME_HIGH => {
                let now = env.wall.wall_ns();
                let t = (self.time(now) & 0xffff_ffff) | (v << 32);
                self.set_time(now, t);
            }
            ALARM_LOW => {
                self.alarm = (self.alarm & !0xffff_ffff) | v;
                self.alarm_armed = true;
                self.poll(env.wall.wall_ns());
            }
            ALARM_HIGH => self.alarm = (self.alarm & 0xffff_ffff) | (v << 32),
            IRQ_ENABLED => self.irq_enabled = v & 1 != 0,
            CLEAR_ALARM => self.alarm_armed = false,
            CLEAR_INTERRUPT => self.irq_pending = false,
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{TestClock, TestConsole};
    use super::*;

    struct T {
        rtc: GoldfishRtc,
        clock: TestClock,
        con: TestConsole,
    }

    impl T {
        fn new(wall: u64) -> Self {
            Self { rtc: GoldfishRtc::new(), clock: TestClock::at(0, wall), con: TestConsole::new() }
        }
        fn rd(&mut self, off: u64) -> u32 {
            let mut e = Env { clock: &self.clock, wall: &self.clock, console: &mut self.con };
            self.rtc.read(&mut e, off, Width::B4).unwrap() as u32
        }
        fn wr(&mut self, off: u64, v: u32) {
            let mut e = Env { clock: &self.clock, wall: &self.clock, console: &mut self.con };
            self.rtc.write(&mut e, off, Width::B4, u64::from(v)).unwrap();
        }
    }

    const T0: u64 = 1_700_000_000_123_456_789;

    #[test]
    fn time_low_latches_high() {
        let mut t = T::new(T0);
        assert_eq!(t.rd(TIME_LOW), T0 as u32);
        // Time moves past a 2^32 ns boundary between the two reads: the pair stays coherent.
        t.clock.advance(1 << 32);
        assert_eq!(t.rd(TIME_HIGH), (T0 >> 32) as u32);
        assert_eq!(t.rd(TIME_LOW), (T0 + (1 << 32)) as u32);
        assert_eq!(t.rd(TIME_HIGH), ((T0 + (1 << 32)) >> 32) as u32);
    }

    #[test]
    fn setting_time_as_linux_does() {
        let mut t = T::new(T0);
        let want: u64 = 946_684_800_000_000_000; // 2000-01-01
                                                 // rtc-goldfish set_time: TIME_HIGH first, then TIME_LOW.
        t.wr(TIME_HIGH, (want >> 32) as u32);
        t.wr(TIME_LOW, want as u32);
        let low = t.rd(TIME_LOW);
        let got = (u64::from(t.rd(TIME_HIGH)) << 32) | u64::from(low);
        assert_eq!(got, want);
        t.clock.advance(1_000);
        assert_eq!(t.rtc.time(t.clock.wall.get()), want + 1_000);
    }

    #[test]
    fn alarm_fires_and_interrupts() {
        let mut t = T::new(T0);
        let at = T0 + 5_000;
        t.wr(IRQ_ENABLED, 1);
        t.wr(ALARM_HIGH, (at >> 32) as u32);
        t.wr(ALARM_LOW, at as u32);
        assert_eq!(t.rd(ALARM_STATUS), 1);
        assert_eq!(t.rd(ALARM_LOW), at as u32);
        assert_eq!(t.rtc.next_alarm(T0), Some(at));
        t.rtc.poll(T0 + 4_999);
        assert!(!t.rtc.irq());
        t.rtc.poll(T0 + 5_000);
        assert!(t.rtc.irq());
        assert_eq!(t.rd(ALARM_STATUS), 0);
        assert_eq!(t.rtc.next_alarm(T0), None);
        // Masked, then cleared.
        t.wr(IRQ_ENABLED, 0);
        assert!(!t.rtc.irq());
        t.wr(IRQ_ENABLED, 1);
        assert!(t.rtc.irq());
        t.wr(CLEAR_INTERRUPT, 1);
        assert!(!t.rtc.irq());
    }

    #[test]
    fn alarm_in_the_past_fires_at_once_and_clear_alarm_disarms() {
        let mut t = T::new(T0);
        t.wr(IRQ_ENABLED, 1);
        t.wr(ALARM_HIGH, (T0 >> 32) as u32);
        t.wr(ALARM_LOW, (T0 - 1) as u32);
        assert!(t.rtc.irq());
        assert_eq!(t.rd(ALARM_STATUS), 0);
        t.wr(CLEAR_INTERRUPT, 1);
        t.wr(ALARM_LOW, (T0 + 10) as u32);
        t.wr(CLEAR_ALARM, 1);
        t.rtc.poll(T0 + 100);
        assert!(!t.rtc.irq());
    }

    #[test]
    fn widths_and_reserved() {
        let mut t = T::new(T0);
        let mut e = Env { clock: &t.clock, wall: &t.clock, console: &mut t.con };
        assert_eq!(t.rtc.read(&mut e, TIME_LOW, Width::B8), Err(MmioError::Width));
        assert_eq!(t.rtc.write(&mut e, TIME_LOW, Width::B1, 0), Err(MmioError::Width));
        assert_eq!(t.rd(0x20), 0);
        t.wr(0xffc, 1);
    }
}
