//! ktranslator's [`Bus`] for one hart: every guest access outside RAM takes the machine
//! lock for that one access, then does what kdevices' [`HartLink::after_access`] asks.

use super::super::kdevices::machine::Machine;
use super::super::kdevices::mmio::{Env, Width};
use super::super::kdevices::sifive_test::MachineEvent;
use super::super::kdevices::vcpu::HartLink;
use super::super::ktranslator::bus::Bus;
use super::host::{Queue, VmHost};

/// The bus of one hart.
pub struct VcpuBus<'a, H: VmHost> {
    host: &'a H,
    /// The interrupt lines the hart was last given.
    pub(super) link: HartLink,
    /// An access asked the hart to end its slice.
    stop: bool,
    /// The guest asked to power off, reboot or fail (the first request wins).
    pub(super) event: Option<MachineEvent>,
}

impl<'a, H: VmHost> VcpuBus<'a, H> {
    /// The bus of hart `hart` of `host`'s machine.
    pub fn new(host: &'a H, hart: usize) -> Self {
        Self { host, link: HartLink::new(hart), stop: false, event: None }
    }

    /// Runs one device access with the machine and console locked, then applies what the
    /// access asked of the host.
    fn access<R>(&mut self, f: impl FnOnce(&mut Machine, &mut Env<'_>) -> R) -> R {
        let h = self.host;
        let mut g = h.machine();
        let now = h.monotonic_ns();
        let (r, wrote) = {
            let mut out = h.console_out();
            let before = out.len();
            let mut env = Env { clock: h, wall: h, console: &mut *out };
            let r = f(&mut g.machine, &mut env);
            (r, out.len() != before)
        };
        if wrote {
            h.notify(Queue::ConsoleOut);
        }
        let a = self.link.after_access(&mut g.machine, now);
        if a.kicks != 0 {
            g.kicks |= a.kicks;
            h.notify(Queue::Worker);
        }
        if a.console_feed {
            g.feed_input();
            h.notify(Queue::InputRoom);
        }
        if a.console_flush {
            g.tx_blocked = true;
        }
        if self.event.is_none() {
            self.event = a.machine;
        }
        self.stop |= a.stop();
        drop(g);
        if a.resets != 0 {
            // Wait for a request that started before the reset (kdevices' virtio_mmio).
            drop(h.worker());
        }
        r
    }
}

impl<H: VmHost> Bus for VcpuBus<'_, H> {
    fn mmio_read(&mut self, paddr: u64, size: u8) -> Option<u64> {
        let width = Width::from_bytes(u64::from(size))?;
        self.access(|m, env| m.read(env, paddr, width).ok())
    }

    fn mmio_write(&mut self, paddr: u64, size: u8, val: u64) -> bool {
        let Some(width) = Width::from_bytes(u64::from(size)) else { return false };
        self.access(|m, env| m.write(env, paddr, width, val).is_ok())
    }

    fn time(&mut self) -> u64 {
        let now = self.host.monotonic_ns();
        self.host.machine().machine.mtime(now)
    }

    fn stop_requested(&mut self) -> bool {
        core::mem::take(&mut self.stop) || self.host.control().stop_requested()
    }

    fn host_ns(&mut self) -> u64 {
        self.host.monotonic_ns()
    }
}
