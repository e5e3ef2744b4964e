//! The guest console's byte rings. Output is filled by the UART on the vCPU thread and
//! drained by the host (`read()` on kemu.ko's VM file, stdout in `kemuctl run`); when it
//! is full the UART shows a busy transmitter, so the guest waits instead of losing
//! output. Input is filled by the host and fed to the UART as its FIFO has room.

use core::ops::DerefMut;

use super::super::kdevices::host::ConsoleSink;

/// A byte ring over host-allocated storage whose length is a power of two (positions
/// wrap with a mask, so nothing here can panic).
///
/// # Invariants
/// `buf.len()` is a nonzero power of two; `head < buf.len()`; `len <= buf.len()`.
pub struct Ring<B> {
    buf: B,
    head: usize,
    len: usize,
}

impl<B: DerefMut<Target = [u8]>> Ring<B> {
    /// An empty ring over `buf`; `None` unless its length is a nonzero power of two.
    pub fn new(buf: B) -> Option<Self> {
        buf.len().is_power_of_two().then_some(Self { buf, head: 0, len: 0 })
    }

    fn mask(&self) -> usize {
        self.buf.len() - 1
    }

    /// Bytes held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the ring holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Room left, in bytes.
    pub fn room(&self) -> usize {
        self.buf.len() - self.len
    }

    /// Copies up to `out.len()` bytes out without removing them; returns how many.
    pub fn peek(&self, out: &mut [u8]) -> usize {
        let n = out.len().min(self.len);
        let mask = self.mask();
        for (i, o) in out.iter_mut().take(n).enumerate() {
            *o = self.buf.get(self.head.wrapping_add(i) & mask).copied().unwrap_or(0);
        }
        n
    }

    /// Drops the first `n` bytes (at most all of them).
    pub fn consume(&mut self, n: usize) {
        let n = n.min(self.len);
        self.head = self.head.wrapping_add(n) & self.mask();
        self.len -= n;
    }

    /// Moves up to `out.len()` bytes out; returns how many.
    pub fn pop(&mut self, out: &mut [u8]) -> usize {
        let n = self.peek(out);
        self.consume(n);
        n
    }
}

impl<B: DerefMut<Target = [u8]>> ConsoleSink for Ring<B> {
    fn send(&mut self, bytes: &[u8]) -> usize {
        let n = bytes.len().min(self.room());
        let (mask, tail) = (self.mask(), self.head.wrapping_add(self.len));
        for (i, b) in bytes.iter().take(n).enumerate() {
            if let Some(slot) = self.buf.get_mut(tail.wrapping_add(i) & mask) {
                *slot = *b;
            }
        }
        self.len += n;
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_and_fills() {
        let mut twelve = [0u8; 12];
        assert!(Ring::new(&mut twelve[..]).is_none(), "not a power of two");
        assert!(Ring::new(&mut [0u8; 0][..]).is_none());
        let mut eight = [0u8; 8];
        let mut r = Ring::new(&mut eight[..]).unwrap();
        assert_eq!(r.send(b"abcdef"), 6);
        let mut out = [0u8; 4];
        assert_eq!(r.pop(&mut out), 4);
        assert_eq!(&out, b"abcd");
        assert_eq!(r.send(b"ghijklmn"), 6, "only the room left");
        assert_eq!(r.room(), 0);
        let mut all = [0u8; 16];
        assert_eq!(r.pop(&mut all), 8);
        assert_eq!(&all[..8], b"efghijkl");
        assert!(r.is_empty());
    }
}
