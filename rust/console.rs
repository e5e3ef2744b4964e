// SPDX-License-Identifier: GPL-2.0

//! The guest console's byte rings. Output: filled by the UART on the vCPU thread, drained
//! by `read()` on the VM file; when it is full the UART sees a busy transmitter, so the
//! guest waits instead of losing output. Input: filled by `write()`, fed to the UART as
//! its receive FIFO has room.

use kernel::prelude::*;

use crate::kdevices::host::ConsoleSink;

/// Bytes of guest output kept until someone reads them (a power of two: positions wrap
/// with a mask, so no arithmetic here can panic).
pub(crate) const CONSOLE_BUFFER: usize = 64 * 1024;
const MASK: usize = CONSOLE_BUFFER - 1;
const _: () = assert!(CONSOLE_BUFFER.is_power_of_two());

/// A fixed-size byte ring.
pub(crate) struct Ring {
    buf: KVec<u8>,
    head: usize,
    len: usize,
}

impl Ring {
    /// An empty ring of [`CONSOLE_BUFFER`] bytes.
    pub(crate) fn new() -> Result<Self> {
        Ok(Self { buf: KVec::from_elem(0u8, CONSOLE_BUFFER, GFP_KERNEL)?, head: 0, len: 0 })
    }

    /// Bytes waiting to be read.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Copies up to `out.len()` bytes out without removing them; returns how many.
    pub(crate) fn peek(&self, out: &mut [u8]) -> usize {
        let n = out.len().min(self.len);
        for (i, o) in out.iter_mut().take(n).enumerate() {
            *o = self.buf.get(self.head.wrapping_add(i) & MASK).copied().unwrap_or(0);
        }
        n
    }

    /// Drops the first `n` bytes (at most all of them).
    pub(crate) fn consume(&mut self, n: usize) {
        let n = n.min(self.len);
        self.head = self.head.wrapping_add(n) & MASK;
        self.len -= n;
    }

    /// Room left, in bytes.
    pub(crate) fn room(&self) -> usize {
        CONSOLE_BUFFER.saturating_sub(self.len)
    }

    /// Moves up to `out.len()` bytes out; returns how many.
    pub(crate) fn pop(&mut self, out: &mut [u8]) -> usize {
        let n = self.peek(out);
        self.consume(n);
        n
    }
}

impl ConsoleSink for Ring {
    fn send(&mut self, bytes: &[u8]) -> usize {
        let n = bytes.len().min(CONSOLE_BUFFER.saturating_sub(self.len));
        for (i, b) in bytes.iter().take(n).enumerate() {
            if let Some(slot) = self.buf.get_mut(self.head.wrapping_add(self.len).wrapping_add(i) & MASK) {
                *slot = *b;
            }
        }
        self.len = self.len.saturating_add(n);
        n
    }
}
