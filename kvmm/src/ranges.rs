//! The guest-RAM ranges DMA wrote: the vCPU drops translated code in them before the
//! guest may see the request done (see [`super::worker`]).

use super::DMA_RANGES;

/// Up to [`DMA_RANGES`] ranges `(start, length)`; a range that continues the last one
/// extends it, and one more than the log holds merges everything into one covering range
/// (dropping too much code is safe, dropping too little is not). No allocation.
#[derive(Clone, Debug)]
pub struct RangeLog {
    ranges: [(u64, u64); DMA_RANGES],
    len: usize,
}

impl Default for RangeLog {
    fn default() -> Self {
        Self::new()
    }
}

impl RangeLog {
    /// An empty log.
    pub const fn new() -> Self {
        Self { ranges: [(0, 0); DMA_RANGES], len: 0 }
    }

    /// Whether the log holds no range.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The ranges held.
    pub fn iter(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.ranges.iter().take(self.len).copied()
    }

    /// Records `len` bytes written at `addr`.
    pub fn push(&mut self, addr: u64, len: u64) {
        if let Some(last) = self.len.checked_sub(1).and_then(|i| self.ranges.get_mut(i)) {
            if last.0.wrapping_add(last.1) == addr {
                last.1 = last.1.saturating_add(len);
                return;
            }
        }
        if let Some(slot) = self.ranges.get_mut(self.len) {
            *slot = (addr, len);
            self.len += 1;
            return;
        }
        // Full: one range covering all of them and the new one.
        let (mut lo, mut hi) = (addr, addr.saturating_add(len));
        for (a, l) in self.iter() {
            lo = lo.min(a);
            hi = hi.max(a.saturating_add(l));
        }
        self.ranges[0] = (lo, hi - lo);
        self.len = 1;
    }

    /// Moves every range of `other` into this log (merging as [`RangeLog::push`] does).
    pub fn append(&mut self, other: &mut RangeLog) {
        for (a, l) in other.iter() {
            self.push(a, l);
        }
        other.clear();
    }

    /// Forgets every range.
    pub fn clear(&mut self) {
        self.len = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extends_then_merges() {
        let mut log = RangeLog::new();
        log.push(0x1000, 0x10);
        log.push(0x1010, 0x10);
        assert_eq!(log.iter().next(), Some((0x1000, 0x20)), "contiguous writes extend the last range");
        for i in 1..DMA_RANGES as u64 {
            log.push(0x10_0000 * i, 8);
        }
        assert_eq!(log.iter().count(), DMA_RANGES);
        log.push(0x9000_0000, 8);
        assert_eq!(log.iter().count(), 1, "one more merges all");
        assert_eq!(log.iter().next(), Some((0x1000, 0x9000_0008 - 0x1000)));
        let mut other = RangeLog::new();
        other.push(u64::MAX - 1, 10);
        log.append(&mut other);
        assert!(other.is_empty());
        assert_eq!(log.iter().nth(1), Some((u64::MAX - 1, 10)));
    }
}
