//! Platform-level interrupt controller, SiFive layout as on QEMU's `virt` board
//! (RISC-V PLIC specification 1.0.0; hw/intc/sifive_plic.c):
//!
//! | offset                             | register                              |
//! |------------------------------------|---------------------------------------|
//! | `0x000000 + 4 * source`            | priority (3 bits; 0 = never)          |
//! | `0x001000 + 4 * word`              | pending bits (read-only)              |
//! | `0x002000 + 0x80 * ctx + 4 * word` | enable bits of context `ctx`          |
//! | `0x200000 + 0x1000 * ctx`          | priority threshold of `ctx`           |
//! | `0x200004 + 0x1000 * ctx`          | claim (read) / complete (write)       |
//!
//! Sources 1..[`SOURCES`] (QEMU `virt`'s 95: `riscv,ndev`), source 0 meaning "none".
//! Contexts are numbered as on QEMU `virt`: context `2 * hart` is the hart's M-mode
//! (drives `mip.MEIP`), `2 * hart + 1` its S-mode (drives `mip.SEIP`).
//!
//! Every input is level-triggered (the devices' interrupt lines): a source is pending
//! while its line is high and it is not being serviced. A claim returns the highest-
//! priority pending source enabled for the context with priority above the context's
//! threshold (ties go to the lowest ID), clears its pending bit and marks it in service;
//! a completion of an ID enabled for the context ends the service, and the source is
//! pending again at once if its line is still high. As QEMU's model does, lowering a line
//! also withdraws a pending (unclaimed) request.
//!
//! Registers are 32 bits wide; other access widths are refused. Reserved offsets read as
//! zero and ignore writes.

use super::mmio::{Env, Mmio, MmioError, Width};

/// Number of source IDs including the reserved 0 (QEMU `virt`: 96).
pub const SOURCES: usize = 96;
/// The device tree's `riscv,ndev`: the highest source ID.
pub const NDEV: u32 = SOURCES as u32 - 1;
/// Largest priority (QEMU `virt`: 7 levels).
pub const MAX_PRIORITY: u32 = 7;

const WORDS: usize = SOURCES.div_ceil(32);

/// Offset of the priority registers.
pub const PRIORITY: u64 = 0x0;
/// Offset of the pending bits.
pub const PENDING: u64 = 0x1000;
/// Offset of context 0's enable bits.
pub const ENABLE: u64 = 0x2000;
/// Distance between two contexts' enable bits.
pub const ENABLE_STRIDE: u64 = 0x80;
/// Offset of context 0's threshold register (its claim/complete register follows it).
pub const CONTEXT: u64 = 0x20_0000;
/// Distance between two contexts' threshold registers.
pub const CONTEXT_STRIDE: u64 = 0x1000;

/// A PLIC with `CONTEXTS` contexts (2 per hart).
#[derive(Clone, Debug)]
pub struct Plic<const CONTEXTS: usize> {
    priority: [u8; SOURCES],
    level: [u32; WORDS],
    pending: [u32; WORDS],
    in_service: [u32; WORDS],
    enable: [[u32; WORDS]; CONTEXTS],
    threshold: [u8; CONTEXTS],
}

impl<const CONTEXTS: usize> Default for Plic<CONTEXTS> {
    fn default() -> Self {
        Self::new()
    }
}

fn bit(src: u32) -> Option<(usize, u32)> {
    let s = usize::try_from(src).ok().filter(|&s| s > 0 && s < SOURCES)?;
    Some((s / 32, 1 << (s % 32)))
}

impl<const CONTEXTS: usize> Plic<CONTEXTS> {
    /// A PLIC after reset: every priority, enable and threshold zero, nothing pending.
    pub const fn new() -> Self {
        Self {
            priority: [0; SOURCES],
            level: [0; WORDS],
            pending: [0; WORDS],
            in_service: [0; WORDS],
            enable: [[0; WORDS]; CONTEXTS],
            threshold: [0; CONTEXTS],
        }
    }

    /// Sets the level of source `src`'s input line (IDs outside 1..SOURCES are ignored).
    pub fn set_level(&mut self, src: u32, high: bool) {
        let Some((w, m)) = bit(src) else { return };
        if high {
            self.level[w] |= m;
            if self.in_service[w] & m == 0 {
                self.pending[w] |= m;
            }
        } else {
            self.level[w] &= !m;
            self.pending[w] &= !m;
        }
    }

    /// Whether source `src` is pending.
    pub fn is_pending(&self, src: u32) -> bool {
        bit(src).is_some_and(|(w, m)| self.pending[w] & m != 0)
    }

    /// The source a claim by context `ctx` would return (0: none).
    fn best(&self, ctx: usize) -> u32 {
        let Some(enable) = self.enable.get(ctx) else { return 0 };
        let threshold = self.threshold[ctx];
        let mut best = 0;
        let mut best_prio = threshold;
        for (w, word) in enable.iter().enumerate() {
            let mut bits = word & self.pending[w];
            while bits != 0 {
                let s = w * 32 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                let p = self.priority[s];
                if p > best_prio {
                    best_prio = p;
                    best = s as u32;
                }
            }
        }
        best
    }

    /// Whether context `ctx` has an interrupt to take: its `MEIP`/`SEIP` level.
    pub fn irq(&self, ctx: usize) -> bool {
        self.best(ctx) != 0
    }

    /// Claims the best interrupt of context `ctx` (0: none).
    pub fn claim(&mut self, ctx: usize) -> u32 {
        let src = self.best(ctx);
        if let Some((w, m)) = bit(src) {
            self.pending[w] &= !m;
            self.in_service[w] |= m;
        }
        src
    }

    /// Completes source `src` for context `ctx`; ignored unless `src` is enabled for it.
    pub fn complete(&mut self, ctx: usize, src: u32) {
        let Some((w, m)) = bit(src) else { return };
        let Some(enable) = self.enable.get(ctx) else { return };
        if enable[w] & m == 0 {
            return;
        }
        self.in_service[w] &= !m;
        if self.level[w] & m != 0 {
            self.pending[w] |= m;
        }
    }
}

impl<const CONTEXTS: usize> Mmio for Plic<CONTEXTS> {
    fn read(&mut self, _env: &mut Env<'_>, offset: u64, width: Width) -> Result<u64, MmioError> {
        if width != Width::B4 {
            return Err(MmioError::Width);
        }
        let v = match Reg::decode(offset, CONTEXTS) {
            Reg::Priority(s) => u32::from(self.priority[s]),
            Reg::Pending(w) => self.pending[w],
            Reg::Enable(c, w) => self.enable[c][w],
            Reg::Threshold(c) => u32::from(self.threshold[c]),
            Reg::Claim(c) => self.claim(c),
            Reg::Reserved => 0,
        };
        Ok(u64::from(v))
    }

    fn write(&mut self, _env: &mut Env<'_>, offset: u64, width: Width, value: u64) -> Result<(), MmioError> {
        if width != Width::B4 {
            return Err(MmioError::Width);
        }
        let v = value as u32;
        match Reg::decode(offset, CONTEXTS) {
            Reg::Priority(s) => self.priority[s] = (v & MAX_PRIORITY) as u8,
            Reg::Enable(c, w) => self.enable[c][w] = if w == 0 { v & !1 } else { v },
            Reg::Threshold(c) => self.threshold[c] = (v & MAX_PRIORITY) as u8,
            Reg::Claim(c) => self.complete(c, v),
            Reg::Pending(_) | Reg::Reserved => {}
        }
        Ok(())
    }
}

/// A decoded register offset; indices are in range.
enum Reg {
    Priority(usize),
    Pending(usize),
    Enable(usize, usize),
    Threshold(usize),
    Claim(usize),
    Reserved,
}

impl Reg {
    fn decode(offset: u64, contexts: usize) -> Self {
        let idx = |v: u64, limit: usize| usize::try_from(v).ok().filter(|&i| i < limit);
        let r = match offset {
            PRIORITY..PENDING => idx((offset - PRIORITY) / 4, SOURCES).filter(|&s| s > 0).map(Reg::Priority),
            PENDING..ENABLE => idx((offset - PENDING) / 4, WORDS).map(Reg::Pending),
            ENABLE..CONTEXT => {
                let rel = offset - ENABLE;
                idx(rel / ENABLE_STRIDE, contexts)
                    .and_then(|c| idx(rel % ENABLE_STRIDE / 4, WORDS).map(|w| Reg::Enable(c, w)))
            }
            CONTEXT.. => {
                let rel = offset - CONTEXT;
                idx(rel / CONTEXT_STRIDE, contexts).and_then(|c| match rel % CONTEXT_STRIDE {
                    0 => Some(Reg::Threshold(c)),
                    4 => Some(Reg::Claim(c)),
                    _ => None,
                })
            }
        };
        r.unwrap_or(Reg::Reserved)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{TestClock, TestConsole};
    use super::*;

    struct T {
        plic: Plic<2>,
        clock: TestClock,
        con: TestConsole,
    }

    impl T {
        fn new() -> Self {
            Self { plic: Plic::new(), clock: TestClock::default(), con: TestConsole::new() }
        }
        fn rd(&mut self, off: u64) -> u32 {
            let mut e = Env { clock: &self.clock, wall: &self.clock, console: &mut self.con };
            self.plic.read(&mut e, off, Width::B4).unwrap() as u32
        }
        fn wr(&mut self, off: u64, v: u32) {
            let mut e = Env { clock: &self.clock, wall: &self.clock, console: &mut self.con };
            self.plic.write(&mut e, off, Width::B4, u64::from(v)).unwrap();
        }
    }

    const CLAIM0: u64 = CONTEXT + 4;
    const CLAIM1: u64 = CONTEXT + CONTEXT_STRIDE + 4;

    #[test]
    fn nothing_without_priority_and_enable() {
        let mut t = T::new();
        t.plic.set_level(10, true);
        assert!(t.plic.is_pending(10));
        assert_eq!(t.rd(PENDING), 1 << 10);
        assert!(!t.plic.irq(0) && !t.plic.irq(1));
        t.wr(ENABLE, 1 << 10);
        assert!(!t.plic.irq(0), "priority 0 never interrupts");
        t.wr(PRIORITY + 4 * 10, 1);
        assert!(t.plic.irq(0) && !t.plic.irq(1));
        // Threshold masks priorities <= it.
        t.wr(CONTEXT, 1);
        assert!(!t.plic.irq(0));
        assert_eq!(t.rd(CLAIM0), 0);
        t.wr(CONTEXT, 0);
        assert!(t.plic.irq(0));
    }

    #[test]
    fn claim_complete_level_triggered() {
        let mut t = T::new();
        t.wr(PRIORITY + 4 * 10, 1);
        t.wr(ENABLE + ENABLE_STRIDE, 1 << 10); // context 1 (S-mode)
        t.plic.set_level(10, true);
        assert!(t.plic.irq(1));
        assert_eq!(t.rd(CLAIM1), 10);
        // In service: not pending, no interrupt, although the line is still high.
        assert!(!t.plic.is_pending(10) && !t.plic.irq(1));
        t.plic.set_level(10, true);
        assert!(!t.plic.irq(1));
        assert_eq!(t.rd(CLAIM1), 0);
        // Completion while the line is still high: pending again.
        t.wr(CLAIM1, 10);
        assert!(t.plic.irq(1));
        assert_eq!(t.rd(CLAIM1), 10);
        // Device lowers its line, then the handler completes: quiet.
        t.plic.set_level(10, false);
        t.wr(CLAIM1, 10);
        assert!(!t.plic.irq(1) && !t.plic.is_pending(10));
    }

    #[test]
    fn lowered_line_withdraws_request() {
        let mut t = T::new();
        t.wr(PRIORITY + 4 * 3, 2);
        t.wr(ENABLE, 1 << 3);
        t.plic.set_level(3, true);
        t.plic.set_level(3, false);
        assert!(!t.plic.irq(0));
        assert_eq!(t.rd(CLAIM0), 0);
    }

    #[test]
    fn priority_order_and_ties() {
        let mut t = T::new();
        for s in [1, 5, 11] {
            t.wr(PRIORITY + 4 * s, 1);
            t.plic.set_level(s as u32, true);
        }
        t.wr(ENABLE, (1 << 1) | (1 << 5) | (1 << 11));
        t.wr(PRIORITY + 4 * 11, 3);
        assert_eq!(t.rd(CLAIM0), 11);
        assert_eq!(t.rd(CLAIM0), 1, "ties: lowest ID first");
        assert_eq!(t.rd(CLAIM0), 5);
        assert_eq!(t.rd(CLAIM0), 0);
    }

    #[test]
    fn completion_of_disabled_source_is_ignored() {
        let mut t = T::new();
        t.wr(PRIORITY + 4 * 8, 1);
        t.wr(ENABLE, 1 << 8);
        t.plic.set_level(8, true);
        assert_eq!(t.rd(CLAIM0), 8);
        // Context 1 does not enable source 8: its completion is ignored.
        t.wr(CLAIM1, 8);
        assert!(!t.plic.irq(0));
        t.wr(CLAIM0, 8);
        assert!(t.plic.irq(0));
        // Completing an ID out of range is ignored too.
        t.wr(CLAIM0, 1000);
        t.wr(CLAIM0, 0);
    }

    #[test]
    fn registers_and_masks() {
        let mut t = T::new();
        t.wr(PRIORITY + 4 * 95, 0xffff_ffff);
        assert_eq!(t.rd(PRIORITY + 4 * 95), MAX_PRIORITY);
        t.wr(PRIORITY, 5);
        assert_eq!(t.rd(PRIORITY), 0, "source 0 does not exist");
        t.wr(PRIORITY + 4 * 96, 5);
        assert_eq!(t.rd(PRIORITY + 4 * 96), 0);
        t.wr(ENABLE, 0xffff_ffff);
        assert_eq!(t.rd(ENABLE), 0xffff_fffe);
        t.wr(ENABLE + 8, 0xffff_ffff);
        assert_eq!(t.rd(ENABLE + 8), 0xffff_ffff);
        t.wr(ENABLE + 12, 0xffff_ffff);
        assert_eq!(t.rd(ENABLE + 12), 0, "beyond source 95");
        t.wr(ENABLE + 2 * ENABLE_STRIDE, 1 << 4);
        assert_eq!(t.rd(ENABLE + 2 * ENABLE_STRIDE), 0, "no context 2");
        t.wr(CONTEXT + CONTEXT_STRIDE, 9);
        assert_eq!(t.rd(CONTEXT + CONTEXT_STRIDE), 1, "WARL: the low 3 bits, as QEMU");
        t.wr(PENDING, 0xffff_ffff);
        assert_eq!(t.rd(PENDING), 0, "pending bits are read-only");
        assert_eq!(t.rd(CONTEXT + 8), 0);
        assert_eq!(t.rd(0x3ff_fffc), 0);
        // High sources work like low ones.
        t.wr(PRIORITY + 4 * 70, 1);
        t.plic.set_level(70, true);
        assert_eq!(t.rd(PENDING + 8), 1 << 6);
        assert_eq!(t.rd(CLAIM0), 70);
        let mut e = Env { clock: &t.clock, wall: &t.clock, console: &mut t.con };
        assert_eq!(t.plic.read(&mut e, PRIORITY, Width::B8), Err(MmioError::Width));
        assert_eq!(t.plic.write(&mut e, CLAIM0, Width::B1, 0), Err(MmioError::Width));
    }
}
