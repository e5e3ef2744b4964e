//! The shared machine loop on a small std host: a bare-metal program that prints through
//! the UART and ends through the SiFive test device or HTIF, and a stop request from
//! another thread ending a guest that spins forever.

use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use kvmm::host::{request_stop, Queue, VmHost};
use kvmm::kdevices::host::{MonotonicClock, WallClock};
use kvmm::kdevices::machine::Machine;
use kvmm::kdevices::memmap::RAM_BASE;
use kvmm::kdevices::sifive_test::MachineEvent;
use kvmm::ktranslator::hart::{prv, Hart};
use kvmm::ktranslator::ram::GuestRam;
use kvmm::ktranslator::tcache::{TcArena, DEFAULT_ARENA_BYTES};
use kvmm::ring::Ring;
use kvmm::state::{Control, Disks, MachineState};
use kvmm::vcpu::{run_vcpu, End, HtifPorts};

/// A host with no disks (the worker is not started).
struct TestHost {
    origin: Instant,
    machine: Mutex<MachineState<Vec<u8>>>,
    worker: Mutex<Disks<NoDisk>>,
    out: Mutex<Ring<Vec<u8>>>,
    wake: Condvar,
    control: Control,
}

struct NoDisk;

impl kvmm::kdevices::host::BlockStorage for NoDisk {
    fn size_bytes(&self) -> u64 {
        0
    }
    fn read_only(&self) -> bool {
        true
    }
    fn read_at(&mut self, _: u64, _: &mut [u8]) -> Result<(), kvmm::kdevices::host::BlockError> {
        Err(kvmm::kdevices::host::BlockError::Io)
    }
    fn write_at(&mut self, _: u64, _: &[u8]) -> Result<(), kvmm::kdevices::host::BlockError> {
        Err(kvmm::kdevices::host::BlockError::Io)
    }
    fn flush(&mut self) -> Result<(), kvmm::kdevices::host::BlockError> {
        Ok(())
    }
}

impl MonotonicClock for TestHost {
    fn monotonic_ns(&self) -> u64 {
        self.origin.elapsed().as_nanos() as u64
    }
}

impl WallClock for TestHost {
    fn wall_ns(&self) -> u64 {
        0
    }
}

impl VmHost for TestHost {
    type Buf = Vec<u8>;
    type Disk = NoDisk;
    type MachineGuard<'a> = MutexGuard<'a, MachineState<Vec<u8>>>;
    type WorkerGuard<'a> = MutexGuard<'a, Disks<NoDisk>>;
    type ConsoleGuard<'a> = MutexGuard<'a, Ring<Vec<u8>>>;

    fn machine(&self) -> Self::MachineGuard<'_> {
        self.machine.lock().unwrap()
    }
    fn worker(&self) -> Self::WorkerGuard<'_> {
        self.worker.lock().unwrap()
    }
    fn console_out(&self) -> Self::ConsoleGuard<'_> {
        self.out.lock().unwrap()
    }
    fn wait<'a>(&'a self, q: Queue, g: Self::MachineGuard<'a>, ns: u64) -> Self::MachineGuard<'a> {
        assert_eq!(q, Queue::Vcpu, "only the vCPU waits here");
        self.wake.wait_timeout(g, Duration::from_nanos(ns)).unwrap().0
    }
    fn notify(&self, q: Queue) {
        if q == Queue::Vcpu {
            self.wake.notify_all();
        }
    }
    fn control(&self) -> &Control {
        &self.control
    }
}

fn host() -> TestHost {
    let ring = || Ring::new(vec![0u8; kvmm::CONSOLE_BUFFER]).unwrap();
    TestHost {
        origin: Instant::now(),
        machine: Mutex::new(MachineState::new(Machine::new(0), ring())),
        worker: Mutex::new(Disks::default()),
        out: Mutex::new(ring()),
        wake: Condvar::new(),
        control: Control::new(),
    }
}

// RV64 encodings of the few instructions the programs use (t0 = x5, t1 = x6).
const T0: u32 = 5;
const T1: u32 = 6;
fn lui(rd: u32, imm20: u32) -> u32 {
    (imm20 << 12) | (rd << 7) | 0x37
}
fn auipc(rd: u32, imm20: u32) -> u32 {
    (imm20 << 12) | (rd << 7) | 0x17
}
fn addi(rd: u32, rs1: u32, imm: i32) -> u32 {
    (((imm as u32) & 0xfff) << 20) | (rs1 << 15) | (rd << 7) | 0x13
}
fn store(funct3: u32, rs2: u32, rs1: u32) -> u32 {
    (rs2 << 20) | (rs1 << 15) | (funct3 << 12) | 0x23
}
const SPIN: u32 = 0x0000_006f; // jal x0, 0

/// Runs `program` (at the start of RAM) to its end; returns the end and the console.
fn run(program: &[u32], htif: HtifPorts, host: &TestHost) -> (End, Vec<u8>) {
    let mut ram_buf = vec![0u8; 1 << 20];
    let mut arena = vec![0u64; DEFAULT_ARENA_BYTES / 8];
    for (i, w) in program.iter().enumerate() {
        ram_buf[i * 4..i * 4 + 4].copy_from_slice(&w.to_le_bytes());
    }
    // SAFETY: both buffers outlive the hart (dropped after it, below).
    let (ram, tc) = unsafe {
        (GuestRam::new(ram_buf.as_mut_ptr(), ram_buf.len(), RAM_BASE), TcArena::new(arena.as_mut_ptr(), arena.len()))
    };
    let mut hart = Box::<Hart>::new_uninit();
    // SAFETY: the box is valid memory for one Hart; init_in_place initialises all of it.
    let mut hart = unsafe {
        Hart::init_in_place(hart.as_mut_ptr(), ram, tc, 0);
        hart.assume_init()
    };
    hart.set_privilege(prv::M);
    hart.set_pc(RAM_BASE);
    let mut slices = 0u64;
    let end = run_vcpu(host, &mut hart, htif, |_| slices += 1);
    assert!(slices > 0, "after_slice runs after every slice");
    drop(hart);
    let mut out = vec![0u8; 256];
    let n = host.console_out().pop(&mut out);
    out.truncate(n);
    (end, out)
}

#[test]
fn uart_output_then_test_device_failure() {
    let h = host();
    let program = [
        lui(T0, 0x10000),
        addi(T1, 0, i32::from(b'k')),
        store(0, T1, T0),
        lui(T0, 0x100),
        lui(T1, 0x73),        // 0x73000
        addi(T1, T1, 0x333),  // 0x73333 = (7 << 16) | 0x3333 (the finisher's failure)
        store(2, T1, T0),
        SPIN,
    ];
    let (end, out) = run(&program, HtifPorts::default(), &h);
    assert_eq!(end, End::Machine(MachineEvent::Fail(7)));
    assert_eq!(end.status(), 7);
    assert_eq!(out, b"k");
}

#[test]
fn htif_exit_and_unsupported() {
    let tohost = RAM_BASE + 0x1000;
    let exit3 = [auipc(T0, 1), addi(T1, 0, 7), store(2, T1, T0), SPIN];
    let (end, _) = run(&exit3, HtifPorts { tohost, fromhost: 0 }, &host());
    assert_eq!((end, end.status()), (End::HtifExit(3), 3));
    let proxied = [auipc(T0, 1), addi(T1, 0, 0x100), store(2, T1, T0), SPIN];
    let (end, _) = run(&proxied, HtifPorts { tohost, fromhost: 0 }, &host());
    assert_eq!((end, end.status()), (End::HtifUnsupported(0x100), 1));
}

/// Runs `program` while another thread asks the VM to stop after 100 ms.
fn run_until_stopped(program: &[u32]) -> (End, Vec<u8>) {
    let h = host();
    std::thread::scope(|s| {
        s.spawn(|| {
            std::thread::sleep(Duration::from_millis(100));
            request_stop(&h);
        });
        run(program, HtifPorts::default(), &h)
    })
}

#[test]
fn stop_request_ends_a_spinning_guest() {
    let (end, out) = run_until_stopped(&[SPIN]);
    assert_eq!(end, End::Stopped);
    assert!(out.is_empty());
}

#[test]
fn wfi_sleeps_until_stopped() {
    // wfi; j wfi (no interrupt is enabled: only the stop request ends it).
    let (end, _) = run_until_stopped(&[0x1050_0073, 0xffdf_f06f]);
    assert_eq!(end, End::Stopped);
}
