//! SiFive-compatible CLINT (core-local interruptor), laid out as on QEMU's `virt` board
//! (hw/intc/riscv_aclint.c, SiFive FU540-C000 manual chapter 9):
//!
//! | offset               | register           | width                 |
//! |----------------------|--------------------|-----------------------|
//! | `0x0000 + 4 * hart`  | `msip` (bit 0)     | 4                     |
//! | `0x4000 + 8 * hart`  | `mtimecmp`         | 8, or 4 on each half  |
//! | `0xbff8`             | `mtime`            | 8, or 4 on each half  |
//!
//! `mtime` counts at [`MTIME_HZ`] (10 MHz, as QEMU `virt` and its device tree's
//! `timebase-frequency`), derived from the host's monotonic clock. Accesses of 1 or 2
//! bytes, and 8-byte accesses to `msip`, are refused (QEMU's access rules); reserved
//! offsets read as zero and ignore writes.
//!
//! Outputs: the `MSIP` and `MTIP` levels of each hart, and the monotonic time at which
//! the next `MTIP` rises ([`Clint::next_deadline`]), so a host can sleep in WFI until then.

use super::mmio::{reg64_read, reg64_write, Env, Mmio, MmioError, Width};

/// `mtime` frequency: 10 MHz.
pub const MTIME_HZ: u64 = 10_000_000;
/// Nanoseconds per `mtime` tick.
pub const NS_PER_TICK: u64 = 1_000_000_000 / MTIME_HZ;

/// Offset of hart 0's `msip`.
pub const MSIP: u64 = 0x0;
/// Offset of hart 0's `mtimecmp`.
pub const MTIMECMP: u64 = 0x4000;
/// Offset of `mtime`.
pub const MTIME: u64 = 0xbff8;
const MTIME_END: u64 = MTIME + 8;

/// The CLINT of a machine with `HARTS` harts.
#[derive(Clone, Debug)]
pub struct Clint<const HARTS: usize> {
    msip: [bool; HARTS],
    mtimecmp: [u64; HARTS],
    /// Monotonic time (ns) at which `mtime` had the value `base_ticks`.
    epoch_ns: u64,
    base_ticks: u64,
}

impl<const HARTS: usize> Clint<HARTS> {
    /// A CLINT whose `mtime` reads 0 at monotonic time `now_ns`. `mtimecmp` starts at its
    /// largest value, so no timer interrupt is pending until software programs one.
    pub const fn new(now_ns: u64) -> Self {
        Self { msip: [false; HARTS], mtimecmp: [u64::MAX; HARTS], epoch_ns: now_ns, base_ticks: 0 }
    }

    /// `mtime` at monotonic time `now_ns`.
    pub const fn mtime(&self, now_ns: u64) -> u64 {
        self.base_ticks.wrapping_add(now_ns.saturating_sub(self.epoch_ns) / NS_PER_TICK)
    }

    /// Sets `mtime` to `value` at monotonic time `now_ns`.
    pub fn set_mtime(&mut self, now_ns: u64, value: u64) {
        self.epoch_ns = now_ns;
        self.base_ticks = value;
    }

    /// `mtimecmp` of `hart` (0 for a hart that does not exist).
    pub fn mtimecmp(&self, hart: usize) -> u64 {
        self.mtimecmp.get(hart).copied().unwrap_or(0)
    }

    /// Level of `hart`'s machine software interrupt (`mip.MSIP`).
    pub fn msip(&self, hart: usize) -> bool {
        self.msip.get(hart).copied().unwrap_or(false)
    }

    /// Level of `hart`'s machine timer interrupt (`mip.MTIP`) at `now_ns`:
    /// `mtime >= mtimecmp`.
    pub fn mtip(&self, hart: usize, now_ns: u64) -> bool {
        self.mtimecmp.get(hart).is_some_and(|&cmp| self.mtime(now_ns) >= cmp)
    }

    /// The earliest monotonic time after `now_ns` at which some hart's `MTIP` rises, or
    /// `None` if none will (every `MTIP` already high, or its `mtimecmp` beyond the
    /// reach of a 64-bit nanosecond clock, as with the `u64::MAX` that OpenSBI and Linux
    /// write to disarm the timer).
    pub fn next_deadline(&self, now_ns: u64) -> Option<u64> {
        self.mtimecmp.iter().filter_map(|&cmp| self.deadline(cmp, now_ns)).min()
    }

    fn deadline(&self, cmp: u64, now_ns: u64) -> Option<u64> {
        let cur = self.mtime(now_ns);
        if cur >= cmp {
            return None;
        }
        // mtime == cmp after `cmp - cur` more ticks from the tick `now` is in.
        let ticks_now = now_ns.saturating_sub(self.epoch_ns) / NS_PER_TICK;
        let ticks = ticks_now.checked_add(cmp - cur)?;
        ticks.checked_mul(NS_PER_TICK)?.checked_add(self.epoch_ns)
    }
}

impl<const HARTS: usize> Mmio for Clint<HARTS> {
    fn read(&mut self, env: &mut Env<'_>, offset: u64, width: Width) -> Result<u64, MmioError> {
        match offset {
            MSIP..MTIMECMP => {
                if width != Width::B4 {
                    return Err(MmioError::Width);
                }
                Ok(hart_index(offset - MSIP, 2, HARTS).map_or(0, |h| u64::from(self.msip[h])))
            }
            MTIMECMP..MTIME => {
                check_width64(width)?;
                Ok(hart_index(offset - MTIMECMP, 3, HARTS).map_or(0, |h| reg64_read(self.mtimecmp[h], offset, width)))
            }
            MTIME..MTIME_END => {
                check_width64(width)?;
                Ok(reg64_read(self.mtime(env.clock.monotonic_ns()), offset, width))
            }
            _ => Ok(0),
        }
    }

    fn write(&mut self, env: &mut Env<'_>, offset: u64, width: Width, value: u64) -> Result<(), MmioError> {
        match offset {
            MSIP..MTIMECMP => {
                if width != Width::B4 {
                    return Err(MmioError::Width);
                }
                if let Some(h) = hart_index(offset - MSIP, 2, HARTS) {
                    self.msip[h] = value & 1 != 0;
                }
            }
            MTIMECMP..MTIME => {
                check_width64(width)?;
                if let Some(h) = hart_index(offset - MTIMECMP, 3, HARTS) {
                    self.mtimecmp[h] = reg64_write(self.mtimecmp[h], offset, width, value);
                }
            }
            MTIME..MTIME_END => {
                check_width64(width)?;
                let now = env.clock.monotonic_ns();
                let new = reg64_write(self.mtime(now), offset, width, value);
                self.set_mtime(now, new);
            }
            _ => {}
        }
        Ok(())
    }
}

fn check_width64(width: Width) -> Result<(), MmioError> {
    match width {
        Width::B4 | Width::B8 => Ok(()),
        Width::B1 | Width::B2 => Err(MmioError::Width),
    }
}

/// The hart whose `1 << shift`-byte register holds byte `rel`, if that hart exists.
fn hart_index(rel: u64, shift: u32, harts: usize) -> Option<usize> {
    usize::try_from(rel >> shift).ok().filter(|&h| h < harts)
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{TestClock, TestConsole};
    use super::*;

    fn env<'a>(clock: &'a TestClock, con: &'a mut TestConsole) -> Env<'a> {
        Env { clock, wall: clock, console: con }
    }

    #[test]
    fn mtime_counts_at_10mhz() {
        let clock = TestClock::at(5_000, 0);
        let mut con = TestConsole::new();
        let mut c = Clint::<1>::new(5_000);
        let mut e = env(&clock, &mut con);
        assert_eq!(c.read(&mut e, MTIME, Width::B8), Ok(0));
        clock.advance(1_000_000_000);
        assert_eq!(c.read(&mut e, MTIME, Width::B8), Ok(10_000_000));
        clock.advance(99);
        assert_eq!(c.read(&mut e, MTIME, Width::B8), Ok(10_000_000));
        clock.advance(1);
        assert_eq!(c.read(&mut e, MTIME, Width::B4), Ok(10_000_001));
        assert_eq!(c.read(&mut e, MTIME + 4, Width::B4), Ok(0));
    }

    #[test]
    fn mtime_is_writable_in_halves() {
        let clock = TestClock::at(0, 0);
        let mut con = TestConsole::new();
        let mut c = Clint::<1>::new(0);
        let mut e = env(&clock, &mut con);
        c.write(&mut e, MTIME + 4, Width::B4, 0x1234).unwrap();
        c.write(&mut e, MTIME, Width::B4, 0x10).unwrap();
        assert_eq!(c.read(&mut e, MTIME, Width::B8), Ok(0x1234_0000_0010));
        clock.advance(300);
        assert_eq!(c.read(&mut e, MTIME, Width::B8), Ok(0x1234_0000_0013));
        c.write(&mut e, MTIME, Width::B8, 7).unwrap();
        assert_eq!(c.read(&mut e, MTIME, Width::B8), Ok(7));
    }

    #[test]
    fn timer_interrupt_and_deadline() {
        let clock = TestClock::at(1_000, 0);
        let mut con = TestConsole::new();
        let mut c = Clint::<1>::new(1_000);
        let mut e = env(&clock, &mut con);
        // Reset value: disarmed.
        assert_eq!(c.read(&mut e, MTIMECMP, Width::B8), Ok(u64::MAX));
        assert!(!c.mtip(0, 1_000));
        assert_eq!(c.next_deadline(1_000), None);

        // RV32-style update: high half to all ones first, then low, then high.
        c.write(&mut e, MTIMECMP + 4, Width::B4, 0xffff_ffff).unwrap();
        c.write(&mut e, MTIMECMP, Width::B4, 50).unwrap();
        c.write(&mut e, MTIMECMP + 4, Width::B4, 0).unwrap();
        assert_eq!(c.mtimecmp(0), 50);
        assert!(!c.mtip(0, 1_000));
        // 50 ticks of 100 ns after the epoch.
        assert_eq!(c.next_deadline(1_000), Some(1_000 + 5_000));
        assert_eq!(c.next_deadline(1_050), Some(6_000));
        assert!(!c.mtip(0, 5_999));
        assert!(c.mtip(0, 6_000));
        assert_eq!(c.next_deadline(6_000), None);

        // Writing mtimecmp clears MTIP.
        c.write(&mut e, MTIMECMP, Width::B8, 100).unwrap();
        assert!(!c.mtip(0, 6_000));
        assert_eq!(c.next_deadline(6_000), Some(11_000));
        // mtimecmp <= mtime: pending at once.
        c.write(&mut e, MTIMECMP, Width::B8, 0).unwrap();
        assert!(c.mtip(0, 1_000));
    }

    #[test]
    fn deadline_overflow_is_none() {
        let c = {
            let mut c = Clint::<1>::new(0);
            c.mtimecmp[0] = u64::MAX - 1;
            c
        };
        assert_eq!(c.next_deadline(0), None);
        assert!(!c.mtip(0, u64::MAX));
    }

    #[test]
    fn msip() {
        let clock = TestClock::default();
        let mut con = TestConsole::new();
        let mut c = Clint::<1>::new(0);
        let mut e = env(&clock, &mut con);
        c.write(&mut e, MSIP, Width::B4, 0xffff_ffff).unwrap();
        assert!(c.msip(0));
        assert_eq!(c.read(&mut e, MSIP, Width::B4), Ok(1));
        c.write(&mut e, MSIP, Width::B4, 2).unwrap();
        assert!(!c.msip(0));
        // Harts that do not exist: read zero, writes ignored.
        c.write(&mut e, MSIP + 4, Width::B4, 1).unwrap();
        assert_eq!(c.read(&mut e, MSIP + 4, Width::B4), Ok(0));
        assert!(!c.msip(1));
    }

    #[test]
    fn refused_widths_and_reserved_offsets() {
        let clock = TestClock::default();
        let mut con = TestConsole::new();
        let mut c = Clint::<2>::new(0);
        let mut e = env(&clock, &mut con);
        assert_eq!(c.read(&mut e, MSIP, Width::B1), Err(MmioError::Width));
        assert_eq!(c.read(&mut e, MSIP, Width::B8), Err(MmioError::Width));
        assert_eq!(c.write(&mut e, MTIMECMP, Width::B2, 0), Err(MmioError::Width));
        assert_eq!(c.read(&mut e, MTIME, Width::B1), Err(MmioError::Width));
        // Second hart exists here; the third does not.
        c.write(&mut e, MTIMECMP + 8, Width::B8, 42).unwrap();
        assert_eq!(c.mtimecmp(1), 42);
        assert_eq!(c.read(&mut e, MTIMECMP + 16, Width::B8), Ok(0));
        c.write(&mut e, MSIP + 4, Width::B4, 1).unwrap();
        assert!(c.msip(1) && !c.msip(0));
        assert_eq!(c.read(&mut e, 0xbff0, Width::B8), Ok(0));
        assert_eq!(c.read(&mut e, 0xc000, Width::B8), Ok(0));
        c.write(&mut e, 0xfff8, Width::B8, 5).unwrap();
        assert_eq!(c.read(&mut e, MTIME, Width::B8), Ok(0));
    }
}
