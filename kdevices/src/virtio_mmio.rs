//! virtio-mmio transport, version 2 ("modern", virtio 1.x section 4.2.2), one per slot of
//! the memory map. A slot holds a device ([`VirtioDevice`]) or is empty: an empty slot
//! answers MagicValue, Version 2 and VendorID with DeviceID 0, which Linux's virtio_mmio
//! probes and skips (as QEMU's empty slots), and reads zero elsewhere.
//!
//! # Threading model
//!
//! A virtio device is split in two halves that the host may run on different threads:
//!
//! - [`VirtioMmio`], this transport: the registers. It lives in the bus
//!   ([`super::machine::Machine`]) and is only touched by MMIO accesses from the vCPU
//!   thread and by short calls from the host, under the host's machine lock. A
//!   `QueueNotify` write does no I/O: it only records a kick, which the bus reports to the
//!   host as an event.
//! - The request processor (for virtio-blk: [`super::virtio_blk::BlkWorker`]), owned by the
//!   host's worker thread (a kthread in kemu.ko, a thread in kemuctl) together with the
//!   disk. It walks the rings and does the I/O without the machine lock.
//!
//! They meet in two short critical sections per batch:
//!
//! 1. under the machine lock, [`VirtioMmio::job`] hands out a copy of the queue's
//!    configuration ([`QueueJob`]), or `None` while the driver has not made the device
//!    live;
//! 2. without the lock, the worker's `process(job, memory, disk, scratch)` serves the
//!    available ring, writes the used ring and returns a [`Completion`];
//! 3. under the lock again, [`VirtioMmio::complete`] raises the interrupt status (and
//!    `DEVICE_NEEDS_RESET` if the driver broke the rules).
//!
//! Each job carries the transport's generation, bumped by every device reset and every
//! queue (re)enable: a completion from an older generation is ignored, and the worker
//! restarts its ring indexes when it sees a new one. A device reset (Status = 0) is also
//! reported as an event: the host must let the guest run on only once no `process` call
//! that started before the reset is still running (e.g. the vCPU takes the worker's lock
//! once), since the driver may free the rings right after it reads back Status = 0.
//! A host without threads simply calls the three steps in a row.

use super::mmio::{Env, Mmio, MmioError, Width};
use super::virtio_blk::BlkConfig;
use super::virtqueue::SplitQueue;

/// `MagicValue`: "virt".
pub const MAGIC: u32 = 0x7472_6976;
/// `Version` of the modern transport.
pub const VERSION: u32 = 2;
/// `VendorID`: "KEMU" in little-endian bytes.
pub const VENDOR_ID: u32 = 0x554d_454b;
/// Largest queue size offered (`QueueNumMax`).
pub const QUEUE_SIZE_MAX: u16 = 256;

/// Feature bit: indirect descriptors.
pub const VIRTIO_F_INDIRECT_DESC: u64 = 1 << 28;
/// Feature bit: the device and driver follow virtio 1.x (required by this transport).
pub const VIRTIO_F_VERSION_1: u64 = 1 << 32;

/// Status bit: the guest noticed the device.
pub const STATUS_ACKNOWLEDGE: u32 = 1;
/// Status bit: the guest has a driver for it.
pub const STATUS_DRIVER: u32 = 2;
/// Status bit: the driver is ready; the device is live.
pub const STATUS_DRIVER_OK: u32 = 4;
/// Status bit: feature negotiation is done (cleared by the device if it refuses them).
pub const STATUS_FEATURES_OK: u32 = 8;
/// Status bit: the device hit an error and needs a reset.
pub const STATUS_DEVICE_NEEDS_RESET: u32 = 64;
/// Status bit: the driver gave up on the device.
pub const STATUS_FAILED: u32 = 128;

/// Interrupt status bit: the used ring was updated.
pub const INT_USED_RING: u32 = 1;
/// Interrupt status bit: the configuration changed (also sent with `DEVICE_NEEDS_RESET`).
pub const INT_CONFIG: u32 = 2;

/// Register offsets (virtio 1.x 4.2.2).
pub mod reg {
    /// Magic value "virt" (R).
    pub const MAGIC_VALUE: u64 = 0x000;
    /// Device version number (R).
    pub const VERSION: u64 = 0x004;
    /// Virtio subsystem device ID (R).
    pub const DEVICE_ID: u64 = 0x008;
    /// Virtio subsystem vendor ID (R).
    pub const VENDOR_ID: u64 = 0x00c;
    /// Device feature bits of the selected word (R).
    pub const DEVICE_FEATURES: u64 = 0x010;
    /// Device feature word selection (W).
    pub const DEVICE_FEATURES_SEL: u64 = 0x014;
    /// Driver feature bits of the selected word (W).
    pub const DRIVER_FEATURES: u64 = 0x020;
    /// Driver feature word selection (W).
    pub const DRIVER_FEATURES_SEL: u64 = 0x024;
    /// Virtqueue index (W).
    pub const QUEUE_SEL: u64 = 0x030;
    /// Maximum virtqueue size (R).
    pub const QUEUE_NUM_MAX: u64 = 0x034;
    /// Virtqueue size (W).
    pub const QUEUE_NUM: u64 = 0x038;
    /// Virtqueue ready bit (RW).
    pub const QUEUE_READY: u64 = 0x044;
    /// Queue notifier (W).
    pub const QUEUE_NOTIFY: u64 = 0x050;
    /// Interrupt status (R).
    pub const INTERRUPT_STATUS: u64 = 0x060;
    /// Interrupt acknowledge (W).
    pub const INTERRUPT_ACK: u64 = 0x064;
    /// Device status (RW).
    pub const STATUS: u64 = 0x070;
    /// Descriptor table address, low half (W).
    pub const QUEUE_DESC_LOW: u64 = 0x080;
    /// Descriptor table address, high half (W).
    pub const QUEUE_DESC_HIGH: u64 = 0x084;
    /// Available ring address, low half (W).
    pub const QUEUE_DRIVER_LOW: u64 = 0x090;
    /// Available ring address, high half (W).
    pub const QUEUE_DRIVER_HIGH: u64 = 0x094;
    /// Used ring address, low half (W).
    pub const QUEUE_DEVICE_LOW: u64 = 0x0a0;
    /// Used ring address, high half (W).
    pub const QUEUE_DEVICE_HIGH: u64 = 0x0a4;
    /// Shared memory region selection (W).
    pub const SHM_SEL: u64 = 0x0ac;
    /// Shared memory region length, low half (R).
    pub const SHM_LEN_LOW: u64 = 0x0b0;
    /// Shared memory region length, high half (R).
    pub const SHM_LEN_HIGH: u64 = 0x0b4;
    /// Shared memory region base, low half (R).
    pub const SHM_BASE_LOW: u64 = 0x0b8;
    /// Shared memory region base, high half (R).
    pub const SHM_BASE_HIGH: u64 = 0x0bc;
    /// Configuration atomicity value (R).
    pub const CONFIG_GENERATION: u64 = 0x0fc;
    /// Start of the device-specific configuration space.
    pub const CONFIG: u64 = 0x100;
}

/// The device behind a transport.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VirtioDevice {
    /// A virtio-blk disk.
    Block(BlkConfig),
}

impl VirtioDevice {
    /// Virtio device ID.
    pub const fn device_id(&self) -> u32 {
        match self {
            Self::Block(_) => super::virtio_blk::DEVICE_ID,
        }
    }

    /// Feature bits the device offers (transport bits included).
    pub const fn features(&self) -> u64 {
        match self {
            Self::Block(b) => b.features(),
        }
    }

    fn config_byte(&self, offset: u64) -> u8 {
        match self {
            Self::Block(b) => b.config_byte(offset),
        }
    }
}

/// What the worker needs to serve a queue: a copy taken under the machine lock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueJob {
    /// The transport's generation when the job was taken.
    pub generation: u32,
    /// Where the rings are.
    pub queue: SplitQueue,
    /// The negotiated feature bits.
    pub features: u64,
    /// The device offered `VIRTIO_BLK_F_RO`: writes must fail.
    pub read_only: bool,
}

/// What a worker's pass over a queue produced, for [`VirtioMmio::complete`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Completion {
    /// Generation of the job served.
    pub generation: u32,
    /// Used buffers were added and the driver wants to hear of it.
    pub notify: bool,
    /// The driver broke the virtqueue rules: set `DEVICE_NEEDS_RESET`.
    pub needs_reset: bool,
    /// The pass stopped at its budget with requests left: run it again.
    pub more: bool,
}

/// One virtio-mmio slot.
#[derive(Clone, Debug, Default)]
pub struct VirtioMmio {
    device: Option<VirtioDevice>,
    status: u32,
    device_features_sel: u32,
    driver_features_sel: u32,
    driver_features: u64,
    queue_sel: u32,
    queue_num: u16,
    queue_ready: bool,
    queue_desc: u64,
    queue_driver: u64,
    queue_device: u64,
    interrupt_status: u32,
    generation: u32,
    kicked: bool,
    was_reset: bool,
}

impl VirtioMmio {
    /// An empty slot.
    pub fn empty() -> Self {
        Self::default()
    }

    /// A slot holding `device`, after reset.
    pub fn with_device(device: VirtioDevice) -> Self {
        Self { device: Some(device), ..Self::default() }
    }

    /// The device in the slot.
    pub fn device(&self) -> Option<&VirtioDevice> {
        self.device.as_ref()
    }

    /// Puts `device` in the slot (or empties it), resetting the transport.
    pub fn set_device(&mut self, device: Option<VirtioDevice>) {
        let generation = self.generation.wrapping_add(1);
        *self = Self { device, generation, ..Self::default() };
    }

    /// The device status register.
    pub fn status(&self) -> u32 {
        self.status
    }

    /// The driver's accepted feature bits.
    pub fn driver_features(&self) -> u64 {
        self.driver_features
    }

    /// Level of the slot's interrupt line: some interrupt status bit set.
    pub fn irq(&self) -> bool {
        self.interrupt_status != 0
    }

    /// Whether the driver notified the queue since the last call.
    pub fn take_kick(&mut self) -> bool {
        core::mem::take(&mut self.kicked)
    }

    /// Whether the driver reset the device since the last call.
    pub fn take_reset(&mut self) -> bool {
        core::mem::take(&mut self.was_reset)
    }

    fn reset(&mut self) {
        let device = self.device;
        let generation = self.generation.wrapping_add(1);
        *self = Self { device, generation, was_reset: true, ..Self::default() };
    }

    fn device_features(&self) -> u64 {
        self.device.map_or(0, |d| d.features())
    }

    fn set_status(&mut self, value: u32) {
        if value == 0 {
            self.reset();
            return;
        }
        let mut v = value & 0xff & !STATUS_DEVICE_NEEDS_RESET;
        if v & STATUS_FEATURES_OK != 0 && self.status & STATUS_FEATURES_OK == 0 {
            let f = self.driver_features;
            let acceptable = f & !self.device_features() == 0 && f & VIRTIO_F_VERSION_1 != 0;
            if !acceptable {
                v &= !STATUS_FEATURES_OK;
            }
        }
        self.status = v | (self.status & STATUS_DEVICE_NEEDS_RESET);
    }

    fn needs_reset(&mut self) {
        self.status |= STATUS_DEVICE_NEEDS_RESET;
        if self.status & STATUS_DRIVER_OK != 0 {
            self.interrupt_status |= INT_CONFIG;
        }
    }

    /// The queue's configuration for the worker, if the device is live: driver OK, queue
    /// ready, no reset needed. A live queue of an invalid size (not a power of two, or
    /// above [`QUEUE_SIZE_MAX`]) sets `DEVICE_NEEDS_RESET` instead.
    pub fn job(&mut self) -> Option<QueueJob> {
        let VirtioDevice::Block(config) = self.device?;
        let live = self.status & STATUS_DRIVER_OK != 0 && self.status & STATUS_DEVICE_NEEDS_RESET == 0;
        if !live || !self.queue_ready {
            return None;
        }
        let size = self.queue_num;
        if size == 0 || size > QUEUE_SIZE_MAX || !size.is_power_of_two() {
            self.needs_reset();
            return None;
        }
        Some(QueueJob {
            generation: self.generation,
            queue: SplitQueue {
                desc: self.queue_desc,
                avail: self.queue_driver,
                used: self.queue_device,
                size,
                indirect: self.driver_features & VIRTIO_F_INDIRECT_DESC != 0,
            },
            features: self.driver_features,
            read_only: config.read_only,
        })
    }

    /// Applies a worker's [`Completion`] (ignored if it belongs to an older generation).
    pub fn complete(&mut self, c: &Completion) {
        if c.generation != self.generation || self.device.is_none() {
            return;
        }
        if c.notify {
            self.interrupt_status |= INT_USED_RING;
        }
        if c.needs_reset {
            self.needs_reset();
        }
    }

    fn read32(&self, offset: u64) -> u32 {
        let Some(dev) = self.device else {
            return match offset {
                reg::MAGIC_VALUE => MAGIC,
                reg::VERSION => VERSION,
                reg::VENDOR_ID => VENDOR_ID,
                _ => 0,
            };
        };
        let q0 = self.queue_sel == 0;
        match offset {
            reg::MAGIC_VALUE => MAGIC,
            reg::VERSION => VERSION,
            reg::DEVICE_ID => dev.device_id(),
            reg::VENDOR_ID => VENDOR_ID,
            reg::DEVICE_FEATURES => match self.device_features_sel {
                0 => dev.features() as u32,
                1 => (dev.features() >> 32) as u32,
                _ => 0,
            },
            reg::QUEUE_NUM_MAX if q0 => u32::from(QUEUE_SIZE_MAX),
            reg::QUEUE_READY if q0 => u32::from(self.queue_ready),
            reg::INTERRUPT_STATUS => self.interrupt_status,
            reg::STATUS => self.status,
            // No shared memory regions: length "-1" (virtio 1.x 4.2.2).
            reg::SHM_LEN_LOW | reg::SHM_LEN_HIGH | reg::SHM_BASE_LOW | reg::SHM_BASE_HIGH => u32::MAX,
            reg::CONFIG_GENERATION => 0,
            _ => 0,
        }
    }

    fn write32(&mut self, offset: u64, v: u32) {
        if self.device.is_none() {
            return;
        }
        // Queue registers may change only while the selected queue is not ready.
        let q0_setup = self.queue_sel == 0 && !self.queue_ready;
        // Feature words may change only before FEATURES_OK.
        let negotiating = self.status & STATUS_FEATURES_OK == 0;
        match offset {
            reg::DEVICE_FEATURES_SEL => self.device_features_sel = v,
            reg::DRIVER_FEATURES if negotiating => match self.driver_features_sel {
                0 => self.driver_features = (self.driver_features & !0xffff_ffff) | u64::from(v),
                1 => self.driver_features = (self.driver_features & 0xffff_ffff) | (u64::from(v) << 32),
                _ => {}
            },
            reg::DRIVER_FEATURES_SEL => self.driver_features_sel = v,
            reg::QUEUE_SEL => self.queue_sel = v,
            reg::QUEUE_NUM if q0_setup => self.queue_num = v.min(u32::from(u16::MAX)) as u16,
            reg::QUEUE_READY if self.queue_sel == 0 => {
                let ready = v & 1 != 0;
                if ready && !self.queue_ready {
                    self.generation = self.generation.wrapping_add(1);
                }
                self.queue_ready = ready;
            }
            // The value is the queue index (no VIRTIO_F_NOTIFICATION_DATA); only queue 0.
            reg::QUEUE_NOTIFY if v & 0xffff == 0 => self.kicked = true,
            reg::INTERRUPT_ACK => self.interrupt_status &= !v,
            reg::STATUS => self.set_status(v),
            reg::QUEUE_DESC_LOW if q0_setup => self.queue_desc = lo(self.queue_desc, v),
            reg::QUEUE_DESC_HIGH if q0_setup => self.queue_desc = hi(self.queue_desc, v),
            reg::QUEUE_DRIVER_LOW if q0_setup => self.queue_driver = lo(self.queue_driver, v),
            reg::QUEUE_DRIVER_HIGH if q0_setup => self.queue_driver = hi(self.queue_driver, v),
            reg::QUEUE_DEVICE_LOW if q0_setup => self.queue_device = lo(self.queue_device, v),
            reg::QUEUE_DEVICE_HIGH if q0_setup => self.queue_device = hi(self.queue_device, v),
            _ => {}
        }
    }
}

fn lo(r: u64, v: u32) -> u64 {
    (r & !0xffff_ffff) | u64::from(v)
}

fn hi(r: u64, v: u32) -> u64 {
    (r & 0xffff_ffff) | (u64::from(v) << 32)
}

impl Mmio for VirtioMmio {
    /// Control registers answer 32-bit accesses only (other widths read zero and ignore
    /// writes, as QEMU); the configuration space answers any width.
    fn read(&mut self, _env: &mut Env<'_>, offset: u64, width: Width) -> Result<u64, MmioError> {
        if offset >= reg::CONFIG {
            let Some(dev) = self.device else { return Ok(0) };
            let rel = offset - reg::CONFIG;
            let mut v = 0u64;
            for i in 0..width.bytes() {
                v |= u64::from(dev.config_byte(rel.saturating_add(i))) << (8 * i);
            }
            return Ok(v);
        }
        if width != Width::B4 {
            return Ok(0);
        }
        Ok(u64::from(self.read32(offset)))
    }

    fn write(&mut self, _env: &mut Env<'_>, offset: u64, width: Width, value: u64) -> Result<(), MmioError> {
        // The virtio-blk configuration has no field the driver may write unless
        // VIRTIO_BLK_F_CONFIG_WCE is negotiated, which is not offered.
        if offset < reg::CONFIG && width == Width::B4 {
            self.write32(offset, value as u32);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{TestClock, TestConsole};
    use super::super::virtio_blk::{BlkConfig, VIRTIO_BLK_F_FLUSH, VIRTIO_BLK_F_RO};
    use super::reg::{
        CONFIG, CONFIG_GENERATION, DEVICE_FEATURES, DEVICE_FEATURES_SEL, DEVICE_ID, DRIVER_FEATURES,
        DRIVER_FEATURES_SEL, INTERRUPT_ACK, INTERRUPT_STATUS, MAGIC_VALUE, QUEUE_DESC_HIGH, QUEUE_DESC_LOW,
        QUEUE_DEVICE_HIGH, QUEUE_DEVICE_LOW, QUEUE_DRIVER_HIGH, QUEUE_DRIVER_LOW, QUEUE_NOTIFY, QUEUE_NUM,
        QUEUE_NUM_MAX, QUEUE_READY, QUEUE_SEL, SHM_LEN_LOW, STATUS,
    };
    use super::*;

    struct T {
        v: VirtioMmio,
        clock: TestClock,
        con: TestConsole,
    }

    impl T {
        fn new(dev: Option<VirtioDevice>) -> Self {
            let v = dev.map_or_else(VirtioMmio::empty, VirtioMmio::with_device);
            Self { v, clock: TestClock::default(), con: TestConsole::new() }
        }
        fn rdw(&mut self, off: u64, w: Width) -> u64 {
            let mut e = Env { clock: &self.clock, wall: &self.clock, console: &mut self.con };
            self.v.read(&mut e, off, w).unwrap()
        }
        fn rd(&mut self, off: u64) -> u32 {
            self.rdw(off, Width::B4) as u32
        }
        fn wrw(&mut self, off: u64, w: Width, val: u64) {
            let mut e = Env { clock: &self.clock, wall: &self.clock, console: &mut self.con };
            self.v.write(&mut e, off, w, val).unwrap();
        }
        fn wr(&mut self, off: u64, val: u32) {
            self.wrw(off, Width::B4, u64::from(val));
        }
    }

    fn blk(read_only: bool) -> Option<VirtioDevice> {
        Some(VirtioDevice::Block(BlkConfig { capacity: 2048, read_only, flush: true, blk_size: 512 }))
    }

    /// The Linux virtio_mmio + virtio core sequence up to DRIVER_OK.
    fn bring_up(t: &mut T, features: u64) {
        t.wr(STATUS, 0);
        t.wr(STATUS, STATUS_ACKNOWLEDGE);
        t.wr(STATUS, STATUS_ACKNOWLEDGE | STATUS_DRIVER);
        t.wr(DRIVER_FEATURES_SEL, 1);
        t.wr(DRIVER_FEATURES, (features >> 32) as u32);
        t.wr(DRIVER_FEATURES_SEL, 0);
        t.wr(DRIVER_FEATURES, features as u32);
        t.wr(STATUS, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK);
        assert_ne!(t.rd(STATUS) & STATUS_FEATURES_OK, 0);
        t.wr(QUEUE_SEL, 0);
        assert_eq!(t.rd(QUEUE_READY), 0);
        assert_eq!(t.rd(QUEUE_NUM_MAX), 256);
        t.wr(QUEUE_NUM, 128);
        t.wr(QUEUE_DESC_LOW, 0x8000_1000);
        t.wr(QUEUE_DESC_HIGH, 1);
        t.wr(QUEUE_DRIVER_LOW, 0x8000_2000);
        t.wr(QUEUE_DRIVER_HIGH, 0);
        t.wr(QUEUE_DEVICE_LOW, 0x8000_3000);
        t.wr(QUEUE_DEVICE_HIGH, 0);
        t.wr(QUEUE_READY, 1);
        t.wr(STATUS, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK);
    }

    #[test]
    fn empty_slot_is_probed_and_skipped() {
        let mut t = T::new(None);
        assert_eq!(t.rd(MAGIC_VALUE), 0x7472_6976);
        assert_eq!(t.rd(reg::VERSION), 2);
        assert_eq!(t.rd(DEVICE_ID), 0);
        assert_eq!(t.rd(reg::VENDOR_ID), VENDOR_ID);
        assert_eq!(t.rd(QUEUE_NUM_MAX), 0);
        t.wr(STATUS, 1);
        assert_eq!(t.rd(STATUS), 0);
        t.wr(QUEUE_NOTIFY, 0);
        assert!(!t.v.take_kick());
        assert_eq!(t.rdw(CONFIG, Width::B8), 0);
        assert_eq!(t.v.job(), None);
    }

    #[test]
    fn identification_and_features() {
        let mut t = T::new(blk(true));
        assert_eq!(t.rd(MAGIC_VALUE), MAGIC);
        assert_eq!(t.rd(reg::VERSION), 2);
        assert_eq!(t.rd(DEVICE_ID), 2);
        t.wr(DEVICE_FEATURES_SEL, 1);
        assert_eq!(t.rd(DEVICE_FEATURES), 1, "VIRTIO_F_VERSION_1 is bit 32");
        t.wr(DEVICE_FEATURES_SEL, 0);
        let lo = t.rd(DEVICE_FEATURES);
        assert_ne!(u64::from(lo) & VIRTIO_BLK_F_RO, 0);
        assert_ne!(u64::from(lo) & VIRTIO_BLK_F_FLUSH, 0);
        assert_ne!(u64::from(lo) & VIRTIO_F_INDIRECT_DESC, 0);
        t.wr(DEVICE_FEATURES_SEL, 2);
        assert_eq!(t.rd(DEVICE_FEATURES), 0);
        // Config: capacity 2048 sectors, readable in any width.
        assert_eq!(t.rdw(CONFIG, Width::B8), 2048);
        assert_eq!(t.rd(CONFIG), 2048);
        assert_eq!(t.rd(CONFIG + 4), 0);
        assert_eq!(t.rdw(CONFIG + 1, Width::B1), 8);
        assert_eq!(t.rd(CONFIG + 0x14), 512, "blk_size");
        assert_eq!(t.rd(CONFIG + 0xc), 254, "seg_max");
        assert_eq!(t.rd(CONFIG + 0x800), 0);
        assert_eq!(t.rd(CONFIG_GENERATION), 0);
        assert_eq!(t.rd(SHM_LEN_LOW), u32::MAX);
        // Config writes are ignored.
        t.wr(CONFIG, 7);
        assert_eq!(t.rd(CONFIG), 2048);
    }

    #[test]
    fn feature_negotiation() {
        let mut t = T::new(blk(false));
        t.wr(STATUS, STATUS_ACKNOWLEDGE | STATUS_DRIVER);
        // Without VERSION_1 the device refuses FEATURES_OK.
        t.wr(DRIVER_FEATURES, VIRTIO_BLK_F_FLUSH as u32);
        t.wr(STATUS, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK);
        assert_eq!(t.rd(STATUS) & STATUS_FEATURES_OK, 0);
        // A feature the device did not offer (RO on a writable disk): refused too.
        t.wr(DRIVER_FEATURES_SEL, 1);
        t.wr(DRIVER_FEATURES, 1);
        t.wr(DRIVER_FEATURES_SEL, 0);
        t.wr(DRIVER_FEATURES, (VIRTIO_BLK_F_FLUSH | VIRTIO_BLK_F_RO) as u32);
        t.wr(STATUS, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK);
        assert_eq!(t.rd(STATUS) & STATUS_FEATURES_OK, 0);
        t.wr(DRIVER_FEATURES, VIRTIO_BLK_F_FLUSH as u32);
        t.wr(STATUS, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK);
        assert_ne!(t.rd(STATUS) & STATUS_FEATURES_OK, 0);
        assert_eq!(t.v.driver_features(), VIRTIO_F_VERSION_1 | VIRTIO_BLK_F_FLUSH);
        // Frozen after FEATURES_OK.
        t.wr(DRIVER_FEATURES, 0);
        assert_eq!(t.v.driver_features(), VIRTIO_F_VERSION_1 | VIRTIO_BLK_F_FLUSH);
    }

    #[test]
    fn queue_setup_job_and_reset() {
        let mut t = T::new(blk(false));
        assert_eq!(t.v.job(), None);
        bring_up(&mut t, VIRTIO_F_VERSION_1 | VIRTIO_F_INDIRECT_DESC);
        let job = t.v.job().unwrap();
        assert_eq!(job.queue.desc, 0x1_8000_1000);
        assert_eq!(job.queue.avail, 0x8000_2000);
        assert_eq!(job.queue.used, 0x8000_3000);
        assert_eq!(job.queue.size, 128);
        assert!(job.queue.indirect);
        assert_eq!(t.rd(QUEUE_READY), 1);
        // Ready queue: its registers are frozen.
        t.wr(QUEUE_NUM, 4);
        assert_eq!(t.v.job().unwrap().queue.size, 128);
        // Other queues do not exist.
        t.wr(QUEUE_SEL, 1);
        assert_eq!(t.rd(QUEUE_NUM_MAX), 0);
        assert_eq!(t.rd(QUEUE_READY), 0);
        t.wr(QUEUE_NOTIFY, 1);
        assert!(!t.v.take_kick());
        t.wr(QUEUE_NOTIFY, 0);
        assert!(t.v.take_kick());
        assert!(!t.v.take_kick());

        // A completion raises the used-ring interrupt; ACK lowers it.
        t.v.complete(&Completion { generation: job.generation, notify: true, ..Completion::default() });
        assert!(t.v.irq());
        assert_eq!(t.rd(INTERRUPT_STATUS), INT_USED_RING);
        t.wr(INTERRUPT_ACK, INT_USED_RING);
        assert!(!t.v.irq());

        // Reset: everything back to zero, old completions ignored.
        t.wr(STATUS, 0);
        assert!(t.v.take_reset());
        assert_eq!(t.rd(STATUS), 0);
        t.wr(QUEUE_SEL, 0);
        assert_eq!(t.rd(QUEUE_READY), 0);
        assert_eq!(t.v.job(), None);
        t.v.complete(&Completion { generation: job.generation, notify: true, ..Completion::default() });
        assert!(!t.v.irq());
        bring_up(&mut t, VIRTIO_F_VERSION_1);
        let job2 = t.v.job().unwrap();
        assert_ne!(job2.generation, job.generation);
        assert!(!job2.queue.indirect);
    }

    #[test]
    fn needs_reset() {
        let mut t = T::new(blk(false));
        bring_up(&mut t, VIRTIO_F_VERSION_1);
        let job = t.v.job().unwrap();
        t.v.complete(&Completion { generation: job.generation, needs_reset: true, ..Completion::default() });
        assert_ne!(t.rd(STATUS) & STATUS_DEVICE_NEEDS_RESET, 0);
        assert_eq!(t.rd(INTERRUPT_STATUS), INT_CONFIG);
        assert_eq!(t.v.job(), None);
        // The driver cannot clear the bit by writing status; only a reset does.
        t.wr(STATUS, 0x0f);
        assert_ne!(t.rd(STATUS) & STATUS_DEVICE_NEEDS_RESET, 0);
        t.wr(STATUS, 0);
        assert_eq!(t.rd(STATUS), 0);
        assert!(!t.v.irq());
    }

    #[test]
    fn bad_queue_size_needs_reset() {
        for size in [0u32, 3, 512, 100_000] {
            let mut t = T::new(blk(false));
            bring_up(&mut t, VIRTIO_F_VERSION_1);
            t.wr(QUEUE_READY, 0);
            t.wr(QUEUE_NUM, size);
            t.wr(QUEUE_READY, 1);
            assert_eq!(t.v.job(), None, "size {size}");
            assert_ne!(t.rd(STATUS) & STATUS_DEVICE_NEEDS_RESET, 0);
        }
    }

    #[test]
    fn odd_widths_on_control_registers() {
        let mut t = T::new(blk(false));
        assert_eq!(t.rdw(MAGIC_VALUE, Width::B1), 0);
        assert_eq!(t.rdw(MAGIC_VALUE, Width::B8), 0);
        t.wrw(STATUS, Width::B2, 1);
        assert_eq!(t.rd(STATUS), 0);
        assert_eq!(t.rd(0x0f8), 0);
    }
}
