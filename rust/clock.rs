// SPDX-License-Identifier: GPL-2.0

//! Host clocks for the device models: monotonic (the CLINT's `mtime`) and wall (the RTC).

use kernel::{
    bindings,
    time::{Instant, Monotonic},
};

use crate::kdevices::host::{MonotonicClock, WallClock};

/// Monotonic nanoseconds since the VM was created.
#[derive(Clone, Copy)]
pub(crate) struct VmClock {
    epoch: Instant<Monotonic>,
}

impl VmClock {
    /// A clock reading 0 now.
    pub(crate) fn new() -> Self {
        Self { epoch: Instant::now() }
    }

    /// Nanoseconds since creation.
    pub(crate) fn ns(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(0)
    }
}

impl MonotonicClock for VmClock {
    fn monotonic_ns(&self) -> u64 {
        self.ns()
    }
}

/// The kernel's real-time clock.
pub(crate) struct KernelWallClock;

impl WallClock for KernelWallClock {
    fn wall_ns(&self) -> u64 {
        let mut ts = bindings::timespec64::default();
        // SAFETY: `ts` is a valid, writable `timespec64`.
        unsafe { bindings::ktime_get_real_ts64(&mut ts) };
        let secs = u64::try_from(ts.tv_sec).unwrap_or(0);
        let nsecs = u64::try_from(ts.tv_nsec).unwrap_or(0);
        secs.saturating_mul(1_000_000_000).saturating_add(nsecs)
    }
}
