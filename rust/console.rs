// SPDX-License-Identifier: GPL-2.0

//! The guest console on the VM file: `read()` drains guest output from kvmm's output
//! ring (filled by the UART on the vCPU thread; when it is full the UART shows a busy
//! transmitter, so the guest waits instead of losing output), `write()` queues input for
//! the UART.

use core::sync::atomic::Ordering;

use kernel::{
    iov::{IovIterDest, IovIterSource},
    prelude::*,
};

use crate::kvmm::host::{Queue, VmHost};
use crate::uapi;
use crate::vm::Shared;

impl Shared {
    /// `read()` on the VM file: guest console output. Blocks until there is some unless
    /// `nonblock`; returns 0 (end of file) once the VM has stopped and all was read.
    pub(crate) fn console_read(&self, out: &mut IovIterDest<'_>, nonblock: bool) -> Result<usize> {
        let mut chunk = [0u8; 256];
        let mut ring = self.console_out.lock();
        while ring.is_empty() {
            if self.state.load(Ordering::Acquire) == uapi::KEMU_STATE_STOPPED {
                return Ok(0);
            }
            if nonblock {
                return Err(EAGAIN);
            }
            if self.console_wait.wait_interruptible(&mut ring) {
                return Err(ERESTARTSYS);
            }
        }
        let was_full = ring.room() == 0;
        let want = out.len().min(chunk.len());
        let n = ring.pop(&mut chunk[..want]);
        drop(ring);
        if was_full {
            // The UART may be holding output back: let the vCPU retry now.
            self.notify(Queue::Vcpu);
        }
        let copied = out.copy_to_iter(&chunk[..n]);
        if copied == 0 && n > 0 {
            return Err(EFAULT);
        }
        Ok(copied)
    }

    /// `write()` on the VM file: guest console input. Blocks while the input buffer is
    /// full unless `nonblock`; `EPIPE` once the VM has stopped.
    ///
    /// The bytes are copied from userspace before the machine lock is taken (as
    /// [`Self::console_read`] copies out after dropping its lock): the copy can sleep in a
    /// page fault for as long as userspace likes (userfaultfd, FUSE), and the vCPU and
    /// STOP need that lock. At most one chunk per call; what the ring has no room for is
    /// handed back to the iterator (a short write).
    pub(crate) fn console_write(&self, input: &mut IovIterSource<'_>, nonblock: bool) -> Result<usize> {
        if self.state.load(Ordering::Acquire) == uapi::KEMU_STATE_STOPPED {
            return Err(EPIPE);
        }
        let mut chunk = [0u8; 256];
        let want = input.len().min(chunk.len());
        let n = input.copy_from_iter(&mut chunk[..want]);
        if n == 0 && want > 0 {
            return Err(EFAULT);
        }
        let mut m = self.machine.lock();
        loop {
            if self.state.load(Ordering::Acquire) == uapi::KEMU_STATE_STOPPED {
                return Err(EPIPE);
            }
            if m.input.room() > 0 {
                break;
            }
            if nonblock {
                return Err(EAGAIN);
            }
            if self.input_room.wait_interruptible(&mut m) {
                return Err(ERESTARTSYS);
            }
        }
        let sent = m.queue_input(&chunk[..n]);
        drop(m);
        self.notify(Queue::Vcpu);
        if sent < n {
            // SAFETY: `copy_from_iter` advanced the iterator by exactly `n` bytes, so going
            // back `n - sent` of them stays after its beginning.
            unsafe { input.revert(n - sent) };
        }
        Ok(sent)
    }
}
