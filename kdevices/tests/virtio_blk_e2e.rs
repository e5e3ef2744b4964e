//! virtio-blk end to end through the bus, driven the way Linux's virtio_mmio and
//! virtio_blk drivers drive it: probe, reset, feature negotiation, config reads, queue
//! setup, then requests written into guest memory (direct and indirect descriptors),
//! kicks, the host's worker, the interrupt through the PLIC, claim/ack/complete.

use kdevices::host;
use kdevices::machine::{Machine, MIP_SEIP};
use kdevices::memmap::{PLIC_BASE, RAM_BASE, VIRTIO_BASE, VIRTIO_IRQ, VIRTIO_STRIDE};
use kdevices::mmio::{Env, Width};
use kdevices::plic;
use kdevices::virtio_blk::{
    BlkConfig, BlkWorker, VIRTIO_BLK_F_BLK_SIZE, VIRTIO_BLK_F_FLUSH, VIRTIO_BLK_F_RO, VIRTIO_BLK_F_SEG_MAX,
    VIRTIO_BLK_S_IOERR, VIRTIO_BLK_S_OK, VIRTIO_BLK_T_FLUSH, VIRTIO_BLK_T_GET_ID, VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT,
};
use kdevices::virtio_mmio::{
    reg, VirtioDevice, INT_USED_RING, STATUS_ACKNOWLEDGE, STATUS_DEVICE_NEEDS_RESET, STATUS_DRIVER, STATUS_DRIVER_OK,
    STATUS_FEATURES_OK, VIRTIO_F_INDIRECT_DESC, VIRTIO_F_VERSION_1,
};
use kdevices::virtqueue::{DESC_F_INDIRECT, DESC_F_NEXT, DESC_F_WRITE};

#[path = "../src/testutil.rs"]
mod testutil;

use testutil::{TestClock, TestConsole, VecDisk, VecMemory};

const SLOT: u64 = 2;
const BASE: u64 = VIRTIO_BASE + SLOT * VIRTIO_STRIDE;
const QSIZE: u16 = 256;
const DESC: u64 = RAM_BASE + 0x10000;
const AVAIL: u64 = DESC + 16 * QSIZE as u64;
const USED: u64 = RAM_BASE + 0x20000;
const HDR: u64 = RAM_BASE + 0x30000;
const STATUS: u64 = RAM_BASE + 0x30100;
const TABLE: u64 = RAM_BASE + 0x30200;
const BUF: u64 = RAM_BASE + 0x40000;
const S_CTX: u64 = 1;
const IRQ: u32 = VIRTIO_IRQ + SLOT as u32;

/// The guest's driver and the host around one machine.
struct Vm {
    machine: Machine,
    clock: TestClock,
    console: TestConsole,
    mem: VecMemory,
    disk: VecDisk,
    worker: BlkWorker,
    scratch: Vec<u8>,
    // Driver state.
    avail_idx: u16,
    last_used: u16,
    next_desc: u16,
}

impl Vm {
    fn new(disk: VecDisk) -> Self {
        let mut machine = Machine::new(0);
        assert!(machine.set_virtio(SLOT as usize, Some(VirtioDevice::Block(BlkConfig::for_storage(&disk)))));
        Self {
            machine,
            clock: TestClock::at(0, 0),
            console: TestConsole::new(),
            mem: VecMemory::new(RAM_BASE, 0x100000),
            disk,
            worker: BlkWorker::new(b"KEMU-SERIAL-0123456789"),
            scratch: vec![0; 65536],
            avail_idx: 0,
            last_used: 0,
            next_desc: 0,
        }
    }

    fn readl(&mut self, addr: u64) -> u32 {
        let mut env = Env { clock: &self.clock, wall: &self.clock, console: &mut self.console };
        self.machine.read(&mut env, addr, Width::B4).expect("mmio read") as u32
    }

    fn writel(&mut self, addr: u64, v: u32) {
        let mut env = Env { clock: &self.clock, wall: &self.clock, console: &mut self.console };
        self.machine.write(&mut env, addr, Width::B4, u64::from(v)).expect("mmio write");
        self.host_events();
    }

    /// What the host does after an MMIO exit: run the worker for kicked slots.
    fn host_events(&mut self) {
        let ev = self.machine.take_events();
        if ev.kicks() & (1 << SLOT) != 0 {
            while let Some(job) = self.machine.virtio_job(SLOT as usize) {
                // (In kemu.ko this runs on the worker thread, without the machine lock.)
                let done = self.worker.process(&job, &mut self.mem, &mut self.disk, &mut self.scratch);
                self.machine.virtio_complete(SLOT as usize, &done);
                if !done.more {
                    break;
                }
            }
        }
    }

    fn status(&mut self) -> u32 {
        self.readl(BASE + reg::STATUS)
    }

    fn set_status(&mut self, bits: u32) {
        let s = self.status();
        self.writel(BASE + reg::STATUS, s | bits);
    }

    /// virtio_mmio probe + virtio core + virtblk_probe up to DRIVER_OK. Returns the
    /// negotiated features.
    fn bring_up(&mut self, wanted: u64) -> u64 {
        assert_eq!(self.readl(BASE + reg::MAGIC_VALUE), 0x7472_6976);
        assert_eq!(self.readl(BASE + reg::VERSION), 2);
        assert_eq!(self.readl(BASE + reg::DEVICE_ID), 2);
        self.readl(BASE + reg::VENDOR_ID);

        // virtio_dev_probe: reset, ACKNOWLEDGE, DRIVER.
        self.writel(BASE + reg::STATUS, 0);
        assert_eq!(self.status(), 0);
        self.set_status(STATUS_ACKNOWLEDGE);
        self.set_status(STATUS_DRIVER);

        // vm_get_features.
        self.writel(BASE + reg::DEVICE_FEATURES_SEL, 1);
        let mut dev = u64::from(self.readl(BASE + reg::DEVICE_FEATURES)) << 32;
        self.writel(BASE + reg::DEVICE_FEATURES_SEL, 0);
        dev |= u64::from(self.readl(BASE + reg::DEVICE_FEATURES));
        let features = dev & wanted;

        // vm_finalize_features, then FEATURES_OK and the check that it stuck.
        self.writel(BASE + reg::DRIVER_FEATURES_SEL, 1);
        self.writel(BASE + reg::DRIVER_FEATURES, (features >> 32) as u32);
        self.writel(BASE + reg::DRIVER_FEATURES_SEL, 0);
        self.writel(BASE + reg::DRIVER_FEATURES, features as u32);
        self.set_status(STATUS_FEATURES_OK);
        assert_ne!(self.status() & STATUS_FEATURES_OK, 0, "device accepted the features");

        // vm_setup_vq for queue 0.
        self.writel(BASE + reg::QUEUE_SEL, 0);
        assert_eq!(self.readl(BASE + reg::QUEUE_READY), 0);
        let max = self.readl(BASE + reg::QUEUE_NUM_MAX);
        assert!(max >= u32::from(QSIZE));
        self.writel(BASE + reg::QUEUE_NUM, u32::from(QSIZE));
        for (lo, addr) in [(reg::QUEUE_DESC_LOW, DESC), (reg::QUEUE_DRIVER_LOW, AVAIL), (reg::QUEUE_DEVICE_LOW, USED)] {
            self.writel(BASE + lo, addr as u32);
            self.writel(BASE + lo + 4, (addr >> 32) as u32);
        }
        self.writel(BASE + reg::QUEUE_READY, 1);

        // The PLIC as Linux's irq-sifive-plic sets it up for the S-mode context.
        self.writel(PLIC_BASE + 4 * u64::from(IRQ), 1);
        self.writel(PLIC_BASE + plic::ENABLE + S_CTX * plic::ENABLE_STRIDE, 1 << IRQ);
        self.writel(PLIC_BASE + plic::CONTEXT + S_CTX * plic::CONTEXT_STRIDE, 0);

        self.set_status(STATUS_DRIVER_OK);
        features
    }

    /// A 64-bit config field read as Linux does for virtio-mmio v2: two 32-bit reads,
    /// retried while the config generation changes.
    fn config_u64(&mut self, off: u64) -> u64 {
        loop {
            let gen = self.readl(BASE + reg::CONFIG_GENERATION);
            let lo = self.readl(BASE + reg::CONFIG + off);
            let hi = self.readl(BASE + reg::CONFIG + off + 4);
            if gen == self.readl(BASE + reg::CONFIG_GENERATION) {
                return u64::from(lo) | (u64::from(hi) << 32);
            }
        }
    }

    fn put_desc(&mut self, table: u64, i: u16, addr: u64, len: u32, flags: u16, next: u16) {
        let d = table + 16 * u64::from(i);
        self.mem.put_u64(d, addr);
        self.mem.put_u32(d + 8, len);
        self.mem.put_u16(d + 12, flags);
        self.mem.put_u16(d + 14, next);
    }

    /// virtqueue_add_split + virtqueue_kick: `segs` as a direct chain or through an
    /// indirect table; returns the head.
    fn submit(&mut self, segs: &[(u64, u32, u16)], indirect: bool) -> u16 {
        let head = self.next_desc;
        if indirect {
            for (i, &(addr, len, flags)) in segs.iter().enumerate() {
                let i = i as u16;
                let more = usize::from(i) + 1 < segs.len();
                self.put_desc(TABLE, i, addr, len, flags | if more { DESC_F_NEXT } else { 0 }, i + 1);
            }
            self.put_desc(DESC, head, TABLE, 16 * segs.len() as u32, DESC_F_INDIRECT, 0);
            self.next_desc = (head + 1) % QSIZE;
        } else {
            for (i, &(addr, len, flags)) in segs.iter().enumerate() {
                let d = (head + i as u16) % QSIZE;
                let more = i + 1 < segs.len();
                self.put_desc(DESC, d, addr, len, flags | if more { DESC_F_NEXT } else { 0 }, (d + 1) % QSIZE);
            }
            self.next_desc = (head + segs.len() as u16) % QSIZE;
        }
        let slot = u64::from(self.avail_idx % QSIZE);
        self.mem.put_u16(AVAIL + 4 + 2 * slot, head);
        self.avail_idx = self.avail_idx.wrapping_add(1);
        self.mem.put_u16(AVAIL + 2, self.avail_idx);
        self.writel(BASE + reg::QUEUE_NOTIFY, 0);
        head
    }

    /// The interrupt path: SEIP, PLIC claim, vm_interrupt (status, ack), vring_interrupt
    /// (used ring), PLIC complete. Returns the used elements (id, len).
    fn take_interrupt(&mut self) -> Vec<(u32, u32)> {
        assert_ne!(self.machine.mip(0, 0) & MIP_SEIP, 0, "SEIP raised");
        let claim = PLIC_BASE + plic::CONTEXT + S_CTX * plic::CONTEXT_STRIDE + 4;
        assert_eq!(self.readl(claim), IRQ);
        let isr = self.readl(BASE + reg::INTERRUPT_STATUS);
        assert_eq!(isr, INT_USED_RING);
        self.writel(BASE + reg::INTERRUPT_ACK, isr);
        let mut used = Vec::new();
        let used_idx = self.mem.get_u16(USED + 2);
        while self.last_used != used_idx {
            let e = USED + 4 + 8 * u64::from(self.last_used % QSIZE);
            used.push((self.mem.get_u32(e), self.mem.get_u32(e + 4)));
            self.last_used = self.last_used.wrapping_add(1);
        }
        self.writel(claim, IRQ);
        assert_eq!(self.machine.mip(0, 0) & MIP_SEIP, 0, "SEIP dropped after ack + complete");
        used
    }

    fn header(&mut self, kind: u32, sector: u64) {
        self.mem.put_u32(HDR, kind);
        self.mem.put_u32(HDR + 4, 0);
        self.mem.put_u64(HDR + 8, sector);
        self.mem.put(STATUS, &[0xff]);
    }

    fn request_status(&self) -> u8 {
        self.mem.get(STATUS, 1)[0]
    }
}

const LINUX_BLK_FEATURES: u64 = VIRTIO_F_VERSION_1
    | VIRTIO_F_INDIRECT_DESC
    | (1 << 29) // VIRTIO_RING_F_EVENT_IDX: asked for, not offered
    | VIRTIO_BLK_F_SEG_MAX
    | (1 << 4) // GEOMETRY
    | VIRTIO_BLK_F_RO
    | VIRTIO_BLK_F_BLK_SIZE
    | VIRTIO_BLK_F_FLUSH
    | (1 << 10) // TOPOLOGY
    | (1 << 11) // CONFIG_WCE
    | (1 << 12) // MQ
    | (1 << 13) // DISCARD
    | (1 << 14); // WRITE_ZEROES

#[test]
fn linux_style_session() {
    let mut vm = Vm::new(VecDisk::new(1 << 20));
    let features = vm.bring_up(LINUX_BLK_FEATURES);
    assert_eq!(
        features,
        VIRTIO_F_VERSION_1 | VIRTIO_F_INDIRECT_DESC | VIRTIO_BLK_F_SEG_MAX | VIRTIO_BLK_F_BLK_SIZE | VIRTIO_BLK_F_FLUSH
    );
    assert_eq!(vm.config_u64(0), 2048, "capacity in 512-byte sectors");
    assert_eq!(vm.readl(BASE + reg::CONFIG + 0x0c), 254, "seg_max");
    assert_eq!(vm.readl(BASE + reg::CONFIG + 0x14), 512, "blk_size");
    assert_eq!(vm.machine.mip(0, 0), 0);

    // GET_ID (virtblk_get_id), direct descriptors.
    vm.header(VIRTIO_BLK_T_GET_ID, 0);
    let head = vm.submit(&[(HDR, 16, 0), (BUF, 20, DESC_F_WRITE), (STATUS, 1, DESC_F_WRITE)], false);
    assert_eq!(vm.take_interrupt(), [(u32::from(head), 21)]);
    assert_eq!(vm.request_status(), VIRTIO_BLK_S_OK);
    assert_eq!(vm.mem.get(BUF, 20), b"KEMU-SERIAL-01234567");

    // A read of 3 sectors at sector 100 into two pages.
    vm.header(VIRTIO_BLK_T_IN, 100);
    let head = vm.submit(
        &[(HDR, 16, 0), (BUF, 1024, DESC_F_WRITE), (BUF + 0x1000, 512, DESC_F_WRITE), (STATUS, 1, DESC_F_WRITE)],
        false,
    );
    assert_eq!(vm.take_interrupt(), [(u32::from(head), 1537)]);
    assert_eq!(vm.request_status(), VIRTIO_BLK_S_OK);
    assert_eq!(vm.mem.get(BUF, 1024), vm.disk.data[100 * 512..102 * 512]);
    assert_eq!(vm.mem.get(BUF + 0x1000, 512), vm.disk.data[102 * 512..103 * 512]);

    // A write of 3 sectors from three buffers, through an indirect table (as Linux does
    // when VIRTIO_F_INDIRECT_DESC is negotiated).
    let data: Vec<u8> = (0..1536u32).map(|i| (i * 7 + 3) as u8).collect();
    vm.mem.put(BUF + 0x2000, &data[..512]);
    vm.mem.put(BUF + 0x3000, &data[512..1024]);
    vm.mem.put(BUF + 0x5000, &data[1024..]);
    vm.header(VIRTIO_BLK_T_OUT, 2000);
    let head = vm.submit(
        &[
            (HDR, 16, 0),
            (BUF + 0x2000, 512, 0),
            (BUF + 0x3000, 512, 0),
            (BUF + 0x5000, 512, 0),
            (STATUS, 1, DESC_F_WRITE),
        ],
        true,
    );
    assert_eq!(vm.take_interrupt(), [(u32::from(head), 1)]);
    assert_eq!(vm.request_status(), VIRTIO_BLK_S_OK);
    assert_eq!(vm.disk.data[2000 * 512..2003 * 512], data[..]);
    assert_eq!(vm.disk.unflushed, 1536);

    // FLUSH makes it durable.
    vm.header(VIRTIO_BLK_T_FLUSH, 0);
    vm.submit(&[(HDR, 16, 0), (STATUS, 1, DESC_F_WRITE)], true);
    vm.take_interrupt();
    assert_eq!(vm.request_status(), VIRTIO_BLK_S_OK);
    assert_eq!(vm.disk.flushes, 1);
    assert_eq!(vm.disk.unflushed, 0);

    // Read the written sectors back.
    vm.mem.put(BUF, &[0; 1536]);
    vm.header(VIRTIO_BLK_T_IN, 2000);
    vm.submit(&[(HDR, 16, 0), (BUF, 1536, DESC_F_WRITE), (STATUS, 1, DESC_F_WRITE)], true);
    vm.take_interrupt();
    assert_eq!(vm.mem.get(BUF, 1536), data);

    // A read past the end of the disk fails cleanly.
    vm.header(VIRTIO_BLK_T_IN, 2047);
    vm.submit(&[(HDR, 16, 0), (BUF, 1024, DESC_F_WRITE), (STATUS, 1, DESC_F_WRITE)], false);
    vm.take_interrupt();
    assert_eq!(vm.request_status(), VIRTIO_BLK_S_IOERR);

    // Many requests around the ring (index wrap of the descriptor table).
    for i in 0..300u64 {
        vm.header(VIRTIO_BLK_T_IN, i);
        vm.submit(&[(HDR, 16, 0), (BUF, 512, DESC_F_WRITE), (STATUS, 1, DESC_F_WRITE)], i % 2 == 0);
        assert_eq!(vm.take_interrupt().len(), 1);
        assert_eq!(vm.request_status(), VIRTIO_BLK_S_OK);
        assert_eq!(vm.mem.get(BUF, 512), vm.disk.data[i as usize * 512..(i as usize + 1) * 512]);
    }

    // Driver removal: reset. The host is told; the device is quiet and idle.
    vm.writel(BASE + reg::STATUS, 0);
    assert_eq!(vm.status(), 0);
    assert_eq!(vm.readl(BASE + reg::QUEUE_READY), 0);
    assert_eq!(vm.machine.virtio_job(SLOT as usize), None);
}

#[test]
fn reset_is_reported_to_the_host() {
    let mut vm = Vm::new(VecDisk::new(1 << 16));
    vm.bring_up(LINUX_BLK_FEATURES);
    let mut env = Env { clock: &vm.clock, wall: &vm.clock, console: &mut vm.console };
    vm.machine.write(&mut env, BASE + reg::STATUS, Width::B4, 0).unwrap();
    let ev = vm.machine.take_events();
    assert_eq!(ev.resets(), 1 << SLOT);
    assert_eq!(ev.kicks(), 0);
}

#[test]
fn read_only_disk() {
    let mut disk = VecDisk::new(1 << 16);
    disk.read_only = true;
    let before = disk.data.clone();
    let mut vm = Vm::new(disk);
    let features = vm.bring_up(LINUX_BLK_FEATURES);
    assert_ne!(features & VIRTIO_BLK_F_RO, 0);
    vm.mem.put(BUF, &[0x55; 512]);
    vm.header(VIRTIO_BLK_T_OUT, 0);
    vm.submit(&[(HDR, 16, 0), (BUF, 512, 0), (STATUS, 1, DESC_F_WRITE)], false);
    vm.take_interrupt();
    assert_eq!(vm.request_status(), VIRTIO_BLK_S_IOERR);
    assert_eq!(vm.disk.data, before);
    assert_eq!(vm.disk.writes, 0);
}

#[test]
fn broken_driver_gets_needs_reset_not_a_crash() {
    let mut vm = Vm::new(VecDisk::new(1 << 16));
    vm.bring_up(LINUX_BLK_FEATURES);
    // A descriptor chain that loops on itself.
    vm.put_desc(DESC, 0, HDR, 16, DESC_F_NEXT, 0);
    vm.mem.put_u16(AVAIL + 4, 0);
    vm.mem.put_u16(AVAIL + 2, 1);
    vm.writel(BASE + reg::QUEUE_NOTIFY, 0);
    assert_ne!(vm.status() & STATUS_DEVICE_NEEDS_RESET, 0);
    // The configuration-change interrupt tells the driver.
    assert_ne!(vm.machine.mip(0, 0) & MIP_SEIP, 0);
    assert_eq!(vm.readl(BASE + reg::INTERRUPT_STATUS), 2);
    assert_eq!(vm.machine.virtio_job(SLOT as usize), None);
    // Reset and bring-up recover it.
    vm.writel(BASE + reg::INTERRUPT_ACK, 2);
    let claim = PLIC_BASE + plic::CONTEXT + S_CTX * plic::CONTEXT_STRIDE + 4;
    let src = vm.readl(claim);
    vm.writel(claim, src);
    vm.avail_idx = 0;
    vm.next_desc = 0;
    vm.last_used = 0;
    vm.mem.put(DESC, &[0; 0x10000]);
    vm.mem.put(USED, &[0; 0x1000]);
    vm.bring_up(LINUX_BLK_FEATURES);
    vm.header(VIRTIO_BLK_T_FLUSH, 0);
    vm.submit(&[(HDR, 16, 0), (STATUS, 1, DESC_F_WRITE)], false);
    vm.take_interrupt();
    assert_eq!(vm.request_status(), VIRTIO_BLK_S_OK);
}

/// The threading model with real threads: the machine behind a mutex (the "machine
/// lock"), a worker thread owning the disk and its `BlkWorker`, serving kicks without
/// holding the machine lock while it does I/O.
#[test]
fn worker_on_its_own_thread() {
    use std::sync::mpsc;
    use std::sync::{Arc, Mutex};

    let disk = VecDisk::new(1 << 16);
    let expected = disk.data.clone();
    let mut vm = Vm::new(VecDisk::new(0));
    vm.machine.set_virtio(SLOT as usize, Some(VirtioDevice::Block(BlkConfig::for_storage(&disk))));
    vm.bring_up(LINUX_BLK_FEATURES);

    let machine = Arc::new(Mutex::new(vm.machine.clone()));
    let mem = Arc::new(Mutex::new(std::mem::replace(&mut vm.mem, VecMemory::new(0, 0))));
    let (kick_tx, kick_rx) = mpsc::channel::<bool>();
    let (done_tx, done_rx) = mpsc::channel::<()>();

    let worker = {
        let machine = Arc::clone(&machine);
        let mem = Arc::clone(&mem);
        std::thread::spawn(move || {
            let mut disk = disk;
            let mut w = BlkWorker::new(b"t");
            let mut scratch = vec![0; 4096];
            while kick_rx.recv() == Ok(true) {
                loop {
                    let Some(job) = machine.lock().unwrap().virtio_job(SLOT as usize) else { break };
                    // No machine lock held here.
                    let done = w.process(&job, &mut *mem.lock().unwrap(), &mut disk, &mut scratch);
                    machine.lock().unwrap().virtio_complete(SLOT as usize, &done);
                    if !done.more {
                        break;
                    }
                }
                done_tx.send(()).unwrap();
            }
        })
    };

    let clock = TestClock::default();
    let mut console = TestConsole::new();
    for i in 0..50u64 {
        let head = (i % 128) as u16 * 2;
        {
            let mut m = mem.lock().unwrap();
            m.put_u32(HDR, VIRTIO_BLK_T_IN);
            m.put_u64(HDR + 8, i);
            let d = DESC + 16 * u64::from(head);
            m.put_u64(d, HDR);
            m.put_u32(d + 8, 16);
            m.put_u16(d + 12, DESC_F_NEXT);
            m.put_u16(d + 14, head + 1);
            m.put_u64(d + 16, BUF);
            m.put_u32(d + 24, 513);
            m.put_u16(d + 28, DESC_F_WRITE);
            m.put_u16(AVAIL + 4 + 2 * (i % u64::from(QSIZE)), head);
            m.put_u16(AVAIL + 2, i as u16 + 1);
        }
        let kicked = {
            let mut m = machine.lock().unwrap();
            let mut env = Env { clock: &clock, wall: &clock, console: &mut console };
            m.write(&mut env, BASE + reg::QUEUE_NOTIFY, Width::B4, 0).unwrap();
            m.take_events().kicks() & (1 << SLOT) != 0
        };
        assert!(kicked);
        kick_tx.send(true).unwrap();
        done_rx.recv().unwrap();
        let mut m = machine.lock().unwrap();
        assert_ne!(m.mip(0, 0) & MIP_SEIP, 0);
        let mut env = Env { clock: &clock, wall: &clock, console: &mut console };
        let claim = PLIC_BASE + plic::CONTEXT + S_CTX * plic::CONTEXT_STRIDE + 4;
        assert_eq!(m.read(&mut env, claim, Width::B4), Ok(u64::from(IRQ)));
        m.write(&mut env, BASE + reg::INTERRUPT_ACK, Width::B4, u64::from(INT_USED_RING)).unwrap();
        m.write(&mut env, claim, Width::B4, u64::from(IRQ)).unwrap();
        let mm = mem.lock().unwrap();
        assert_eq!(mm.get(BUF + 512, 1), [VIRTIO_BLK_S_OK]);
        assert_eq!(mm.get(BUF, 512), expected[i as usize * 512..(i as usize + 1) * 512]);
        assert_eq!(mm.get_u16(USED + 2), i as u16 + 1);
    }
    kick_tx.send(false).unwrap();
    worker.join().unwrap();
}
