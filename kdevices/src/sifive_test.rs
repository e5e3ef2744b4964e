//! SiFive test device ("sifive,test1", the `syscon` of QEMU's `virt` board,
//! hw/misc/sifive_test.c): a write to offset 0 asks the machine to stop.
//!
//! | value written          | event                        |
//! |------------------------|------------------------------|
//! | `0x5555`               | power off, success (exit 0)  |
//! | `0x7777`               | reboot                       |
//! | `(code << 16) \| 0x3333` | power off, failure with `code` |
//!
//! Linux's syscon-poweroff/syscon-reboot and OpenSBI write these with 32-bit stores; 16-bit
//! stores are accepted too (as QEMU), other widths refused. Other values and offsets are
//! ignored, and reads return 0. The event waits in the device until the host takes it.

use super::mmio::{Env, Mmio, MmioError, Width};

/// What the guest asked the machine to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MachineEvent {
    /// Power off; the run succeeded.
    PowerOff,
    /// Reset the machine.
    Reboot,
    /// Power off; the run failed with this code.
    Fail(u16),
}

/// Value of a successful power-off.
pub const FINISHER_PASS: u32 = 0x5555;
/// Value of a reboot.
pub const FINISHER_RESET: u32 = 0x7777;
/// Low half of a failing power-off (the code goes in the high half).
pub const FINISHER_FAIL: u32 = 0x3333;

/// The SiFive test device.
#[derive(Clone, Debug, Default)]
pub struct SifiveTest {
    event: Option<MachineEvent>,
}

impl SifiveTest {
    /// A device with no event.
    pub fn new() -> Self {
        Self::default()
    }

    /// The last event the guest asked for, if the host has not taken it yet.
    pub fn take_event(&mut self) -> Option<MachineEvent> {
        self.event.take()
    }

    /// Whether an event waits.
    pub fn has_event(&self) -> bool {
        self.event.is_some()
    }
}

impl Mmio for SifiveTest {
    fn read(&mut self, _env: &mut Env<'_>, _offset: u64, width: Width) -> Result<u64, MmioError> {
        match width {
            Width::B2 | Width::B4 => Ok(0),
            Width::B1 | Width::B8 => Err(MmioError::Width),
        }
    }

    fn write(&mut self, _env: &mut Env<'_>, offset: u64, width: Width, value: u64) -> Result<(), MmioError> {
        if !matches!(width, Width::B2 | Width::B4) {
            return Err(MmioError::Width);
        }
        if offset != 0 {
            return Ok(());
        }
        let v = (value & width.mask()) as u32;
        let event = match v & 0xffff {
            FINISHER_PASS => MachineEvent::PowerOff,
            FINISHER_RESET => MachineEvent::Reboot,
            FINISHER_FAIL => MachineEvent::Fail((v >> 16) as u16),
            _ => return Ok(()),
        };
        self.event = Some(event);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{TestClock, TestConsole};
    use super::*;

    fn write(d: &mut SifiveTest, off: u64, w: Width, v: u64) -> Result<(), MmioError> {
        let clock = TestClock::default();
        let mut con = TestConsole::new();
        let mut e = Env { clock: &clock, wall: &clock, console: &mut con };
        d.write(&mut e, off, w, v)
    }

    #[test]
    fn events() {
        let mut d = SifiveTest::new();
        assert_eq!(d.take_event(), None);
        write(&mut d, 0, Width::B4, 0x5555).unwrap();
        assert_eq!(d.take_event(), Some(MachineEvent::PowerOff));
        assert_eq!(d.take_event(), None);
        write(&mut d, 0, Width::B4, 0x7777).unwrap();
        assert_eq!(d.take_event(), Some(MachineEvent::Reboot));
        write(&mut d, 0, Width::B4, (42 << 16) | 0x3333).unwrap();
        assert_eq!(d.take_event(), Some(MachineEvent::Fail(42)));
        write(&mut d, 0, Width::B4, 0x3333).unwrap();
        assert_eq!(d.take_event(), Some(MachineEvent::Fail(0)));
        write(&mut d, 0, Width::B2, 0x5555).unwrap();
        assert_eq!(d.take_event(), Some(MachineEvent::PowerOff));
    }

    #[test]
    fn ignored_and_refused() {
        let mut d = SifiveTest::new();
        write(&mut d, 0, Width::B4, 0x1234).unwrap();
        write(&mut d, 4, Width::B4, 0x5555).unwrap();
        assert!(!d.has_event());
        assert_eq!(write(&mut d, 0, Width::B1, 0x55), Err(MmioError::Width));
        assert_eq!(write(&mut d, 0, Width::B8, 0x5555), Err(MmioError::Width));
        assert!(!d.has_event());
        let clock = TestClock::default();
        let mut con = TestConsole::new();
        let mut e = Env { clock: &clock, wall: &clock, console: &mut con };
        assert_eq!(d.read(&mut e, 0, Width::B4), Ok(0));
    }
}
