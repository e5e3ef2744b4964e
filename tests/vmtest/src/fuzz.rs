//! `kemu-vmtest fuzz SEED SECONDS`: a randomized driver of `/dev/kemu`'s whole surface,
//! in the spirit of syzkaller's `dev_kvm.txt` (see `tests/vm/kemu.syz.txt`).
//!
//! Several threads share a table of open files and, for `SECONDS`, each picks random
//! operations: open (blocking or not), close at any point, every ioctl with random and
//! boundary arguments (valid, NULL, unmapped, kernel and misaligned pointers; sizes,
//! flags and ids at and past their limits) in whatever state the file is, console
//! `read()`/`write()` from faulting buffers, and VMs started on hostile bare-metal
//! guests: random instruction streams aimed at RAM, MMIO and the virtio queues, with
//! tier 2 compiling every block, and the test guests in `/guests`. Everything is
//! reproducible from the seed (per thread: seed + thread index; the kernel's own
//! scheduling aside). At the end every file is closed and detached VMs are stopped.
//!
//! The program itself fails on a panic or on a hang (a watchdog thread); the harness
//! (`tests/vm/run-tests.sh`) fails the run on any KASAN, lockdep, kmemleak or WARN line
//! in the kernel log, and the seed is printed first, so a failure can be replayed.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use uapi::*;

/// xorshift64*.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, one_in: u64) -> bool {
        self.below(one_in) == 0
    }
    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len() as u64) as usize]
    }
}

/// Files the threads share (slots may be empty).
const SLOTS: usize = 8;

struct Shared {
    fds: Mutex<[i32; SLOTS]>,
    /// Memory that faults on every access (PROT_NONE), for bad buffers.
    no_access: usize,
    /// Bare-metal guests to start (raw ELF files from /guests).
    guests: Vec<Vec<u8>>,
    ops: AtomicU64,
    /// Successful CREATE_VM, START, LOAD, and console reads that returned data.
    created: AtomicU64,
    started: AtomicU64,
    loaded: AtomicU64,
    read_data: AtomicU64,
    done: AtomicBool,
}

/// A valid user buffer, NULL, a PROT_NONE page, a kernel address or a misaligned
/// pointer into a valid buffer.
fn pointer(r: &mut Rng, valid: usize, sh: &Shared) -> usize {
    match r.below(8) {
        0 => 0,
        1 => sh.no_access,
        2 => 0xffff_8880_0000_0000,
        3 => valid.wrapping_add(1),
        4 => usize::MAX - 7,
        _ => valid,
    }
}

/// Boundary-biased 64-bit values.
fn value(r: &mut Rng) -> u64 {
    match r.below(10) {
        0 => 0,
        1 => u64::MAX,
        2 => 1 << r.below(64),
        3 => (1 << r.below(64)) - 1,
        4 => 0x8000_0000 + r.below(64 << 20),
        5 => r.below(4096),
        _ => r.next(),
    }
}

fn ioctl(fd: i32, cmd: u32, arg: usize) -> i64 {
    // SAFETY: an ioctl on our own fd; the kernel checks `arg`, which points at a live
    // buffer of at least the encoded size, or is meant to fault.
    i64::from(unsafe { libc::ioctl(fd, libc::c_ulong::from(cmd), arg) })
}

/// A random RISC-V program that hammers the machine: registers aimed at RAM, MMIO
/// (UART, virtio-mmio slots and queues, PLIC, CLINT, RTC, test device) and random
/// addresses, then random loads, stores, AMOs, CSR accesses, branches, fences, WFI and
/// ecall, looping forever.
fn random_guest(r: &mut Rng) -> Vec<u8> {
    const BASES: [u64; 9] = [0x8000_0000, 0x8010_0000, 0x1000_0000, 0x1000_1000, 0x1000_8000, 0x0c00_0000, 0x0200_0000, 0x0010_1000, 0x0010_0000];
    let mut w: Vec<u32> = Vec::new();
    for rd in 1..32u32 {
        // lui rd, hi; addi rd, rd, lo
        let v = if r.chance(4) { r.next() as u32 } else { r.pick(&BASES) as u32 + (r.below(0x1000) as u32 & !3) };
        let lo = v & 0xfff;
        let hi = v.wrapping_add(if lo >= 0x800 { 0x1000 } else { 0 }) & 0xffff_f000;
        w.push(hi | (rd << 7) | 0x37);
        w.push((lo << 20) | (rd << 15) | (rd << 7) | 0x13);
    }
    let n = 16 + r.below(200) as u32;
    for i in 0..n {
        let rd = 1 + r.below(31) as u32;
        let rs1 = r.below(32) as u32;
        let rs2 = r.below(32) as u32;
        let imm = (r.below(4096) as u32) & 0xfff;
        let insn = match r.below(12) {
            // Loads (lb..lwu, ld) and stores (sb..sd).
            0..=2 => (imm << 20) | (rs1 << 15) | ((r.below(7) as u32) << 12) | (rd << 7) | 0x03,
            3..=5 => ((imm >> 5) << 25) | (rs2 << 20) | (rs1 << 15) | ((r.below(4) as u32) << 12) | ((imm & 31) << 7) | 0x23,
            // AMOs (word and double).
            6 => ((r.pick(&[0u32, 1, 4, 8, 12, 16, 20, 24, 28, 2, 3])) << 27) | (rs2 << 20) | (rs1 << 15) | ((2 + r.below(2) as u32) << 12) | (rd << 7) | 0x2f,
            // CSR read/write/set/clear of a random CSR number.
            7 => ((r.below(4096) as u32) << 20) | (rs1 << 15) | ((1 + r.below(7) as u32) << 12) | (rd << 7) | 0x73,
            // ALU.
            8 => ((r.pick(&[0u32, 0x20, 1])) << 25) | (rs2 << 20) | (rs1 << 15) | ((r.below(8) as u32) << 12) | (rd << 7) | 0x33,
            // Forward branch inside the program (or past its end).
            9 => {
                let off = 4 * (1 + r.below(8) as u32);
                ((off >> 12 & 1) << 31) | ((off >> 5 & 0x3f) << 25) | (rs2 << 20) | (rs1 << 15) | ((r.pick(&[0u32, 1, 4, 5, 6, 7])) << 12) | ((off >> 1 & 0xf) << 8) | ((off >> 11 & 1) << 7) | 0x63
            }
            // fence.i, fence, wfi, ecall, sfence.vma.
            10 => r.pick(&[0x0000_100f, 0x0ff0_000f, 0x1050_0073, 0x0000_0073, 0x1200_0073]),
            // Random bits.
            _ => r.next() as u32,
        };
        let _ = i;
        w.push(insn);
    }
    // j back to the first random instruction.
    let back = -(4 * n as i32);
    let b = back as u32;
    w.push(((b >> 20 & 1) << 31) | ((b >> 1 & 0x3ff) << 21) | ((b >> 11 & 1) << 20) | ((b >> 12 & 0xff) << 12) | 0x6f);
    w.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// A tiny ELF-less load: KEMU_LOAD of `code` at the RAM base.
fn load(fd: i32, code: &[u8], addr: u64) -> i64 {
    let l = KemuLoad { guest_addr: addr, user_addr: code.as_ptr() as u64, size: code.len() as u64, flags: 0 };
    ioctl(fd, KEMU_LOAD, std::ptr::from_ref(&l) as usize)
}

/// The loadable segments of an ELF64 file, as (paddr, bytes).
fn elf_segments(elf: &[u8]) -> Vec<(u64, &[u8])> {
    let rd = |o: usize, n: usize| -> u64 {
        elf.get(o..o + n).map_or(0, |b| b.iter().rev().fold(0u64, |a, &x| a << 8 | u64::from(x)))
    };
    let (phoff, phentsize, phnum) = (rd(0x20, 8) as usize, rd(0x36, 2) as usize, rd(0x38, 2) as usize);
    let mut out = Vec::new();
    for i in 0..phnum {
        let p = phoff + i * phentsize;
        if rd(p, 4) != 1 {
            continue;
        }
        let (off, paddr, filesz) = (rd(p + 8, 8) as usize, rd(p + 0x18, 8), rd(p + 0x20, 8) as usize);
        if let Some(b) = elf.get(off..off + filesz) {
            out.push((paddr, b));
        }
    }
    out
}

fn take_fd(sh: &Shared, r: &mut Rng) -> Option<i32> {
    let fds = sh.fds.lock().unwrap();
    let fd = fds[r.below(SLOTS as u64) as usize];
    (fd >= 0).then_some(fd)
}

/// Bytes of the buffer every pointer argument points into: more than the largest size an
/// ioctl number can encode (14 bits) plus the one-byte misalignment, since struct sizes
/// come from the number (ABI 1.6) and the fuzzer flips size bits.
const BUF_BYTES: usize = (1 << 14) + 64;

/// One random operation; `buf` is this thread's scratch buffer.
fn step(r: &mut Rng, sh: &Shared, disk: i32, buf: &mut [u8]) {
    buf.fill(0);
    for b in buf.iter_mut().take(64) {
        *b = r.next() as u8;
    }
    let valid = buf.as_mut_ptr() as usize;
    match r.below(22) {
        // open / close
        0 | 1 => {
            let flags = libc::O_RDWR | libc::O_CLOEXEC | libc::O_NONBLOCK;
            // SAFETY: a NUL-terminated path.
            let fd = unsafe { libc::open(c"/dev/kemu".as_ptr(), flags) };
            if fd >= 0 {
                let mut fds = sh.fds.lock().unwrap();
                let i = r.below(SLOTS as u64) as usize;
                if fds[i] >= 0 {
                    // SAFETY: our fd, replaced in the table under its lock.
                    unsafe { libc::close(fds[i]) };
                }
                fds[i] = fd;
            }
        }
        2 => {
            let mut fds = sh.fds.lock().unwrap();
            let i = r.below(SLOTS as u64) as usize;
            if fds[i] >= 0 {
                // SAFETY: our fd, removed from the table under its lock.
                unsafe { libc::close(fds[i]) };
                fds[i] = -1;
            }
        }
        // CREATE_VM with boundary sizes.
        3 | 4 => {
            let Some(fd) = take_fd(sh, r) else { return };
            // Small VMs (the test VM has 2 GiB), and invalid sizes.
            let ram = if r.chance(3) { value(r) | (1 << 40) } else { r.pick(&[16u64 << 20, 18 << 20, 0, 1]) };
            let cfg = KemuVmConfig {
                ram_size: ram,
                tb_cache_size: r.pick(&[0, 1 << 20, 2 << 20, 1, u64::MAX, 1 << 40]),
                harts: if r.chance(8) { r.next() as u32 } else { 1 },
                flags: if r.chance(8) { r.next() as u32 } else { 0 },
                reserved: [0; 4],
            };
            let ptr = if r.chance(6) { pointer(r, valid, sh) } else { std::ptr::from_ref(&cfg) as usize };
            if ioctl(fd, KEMU_CREATE_VM, ptr) >= 0 {
                sh.created.fetch_add(1, Ordering::Relaxed);
            }
        }
        // LOAD: a hostile program, a test guest, or random bytes anywhere.
        5..=7 => {
            let Some(fd) = take_fd(sh, r) else { return };
            match r.below(4) {
                0 => {
                    let code = random_guest(r);
                    if load(fd, &code, 0x8000_0000) == 0 {
                        sh.loaded.fetch_add(1, Ordering::Relaxed);
                    }
                }
                1 if !sh.guests.is_empty() => {
                    let g = &sh.guests[r.below(sh.guests.len() as u64) as usize];
                    for (paddr, bytes) in elf_segments(g) {
                        load(fd, bytes, paddr);
                    }
                }
                _ => {
                    let l = KemuLoad { guest_addr: value(r), user_addr: pointer(r, valid, sh) as u64, size: value(r) & 0xfff, flags: if r.chance(8) { value(r) } else { 0 } };
                    ioctl(fd, KEMU_LOAD, std::ptr::from_ref(&l) as usize);
                }
            }
        }
        // ATTACH_DISK: the scratch disk or random fds, slots, flags.
        8 => {
            let Some(fd) = take_fd(sh, r) else { return };
            let d = KemuDisk {
                fd: if r.chance(4) { r.next() as i32 % 64 } else { disk },
                slot: if r.chance(4) { r.next() as u32 } else { r.below(8) as u32 },
                flags: if r.chance(6) { r.next() as u32 } else { r.below(2) as u32 },
                cache_mode: if r.chance(6) { r.next() as u32 } else { r.below(2) as u32 },
                reserved: [0; 2],
            };
            ioctl(fd, KEMU_ATTACH_DISK, std::ptr::from_ref(&d) as usize);
        }
        // START: tier 2 at threshold 1 (every block compiled) or random flags.
        9 | 10 => {
            let Some(fd) = take_fd(sh, r) else { return };
            let flags = match r.below(4) {
                0 => KEMU_START_TIER2 | (1 << KEMU_START_T2_THRESHOLD_SHIFT),
                1 => KEMU_START_TIER2,
                2 => value(r),
                _ => 0,
            };
            let htif = if r.chance(3) { r.pick(&[0x8000_1000, 0x8000_0000, 0, u64::MAX]) } else { 0 };
            let s = KemuStart { pc: if r.chance(5) { value(r) } else { 0x8000_0000 }, args: [0, value(r), 0], flags, tohost: htif, fromhost: htif.wrapping_add(8) };
            if ioctl(fd, KEMU_START, std::ptr::from_ref(&s) as usize) == 0 {
                sh.started.fetch_add(1, Ordering::Relaxed);
            }
        }
        11 => {
            let Some(fd) = take_fd(sh, r) else { return };
            ioctl(fd, KEMU_STOP, 0);
        }
        12 | 13 => {
            let Some(fd) = take_fd(sh, r) else { return };
            ioctl(fd, KEMU_STATUS, pointer(r, valid, sh));
        }
        14 => {
            let Some(fd) = take_fd(sh, r) else { return };
            ioctl(fd, KEMU_DETACH, 0);
        }
        15 => {
            let Some(fd) = take_fd(sh, r) else { return };
            let cap = if r.chance(3) { r.next() as u32 } else { r.below(4) as u32 };
            let l = KemuVmList { statuses: pointer(r, valid, sh) as u64, capacity: cap, entry_size: if r.chance(6) { r.next() as u32 } else { r.pick(&[0, 72, 96, 128, 144, 300]) } };
            // A capacity above what `buf` holds only with a pointer that faults.
            // Into `buf` only as many entries as fit (entries up to 300 bytes: 3 of them).
            let l = if l.statuses == valid as u64 && (l.capacity > 3 || l.entry_size > 300) { KemuVmList { capacity: 3, entry_size: 128, ..l } } else { l };
            ioctl(fd, KEMU_LIST_VMS, std::ptr::from_ref(&l) as usize);
        }
        16 => {
            let Some(fd) = take_fd(sh, r) else { return };
            let id: u32 = if r.chance(2) { r.below(64) as u32 } else { r.next() as u32 };
            ioctl(fd, KEMU_ATTACH_VM, if r.chance(6) { pointer(r, valid, sh) } else { std::ptr::from_ref(&id) as usize });
        }
        // Unknown numbers, wrong sizes and directions.
        17 => {
            let Some(fd) = take_fd(sh, r) else { return };
            let cmd = match r.below(3) {
                0 => r.next() as u32,
                1 => ioc(r.below(4) as u32, KEMU_IOC_MAGIC, r.below(16) as u32, r.below(300) as usize),
                _ => KEMU_IOCTLS[r.below(KEMU_IOCTLS.len() as u64) as usize].1 ^ (1 << r.below(32)),
            };
            ioctl(fd, cmd, pointer(r, valid, sh));
        }
        // Console read/write with good and faulting buffers (the files are O_NONBLOCK).
        18 | 19 => {
            let Some(fd) = take_fd(sh, r) else { return };
            let p = pointer(r, valid, sh);
            let n = r.pick(&[0usize, 1, 64, 512]);
            // SAFETY: `p` is in `buf` (BUF_BYTES, at most 1 byte in) or meant to fault; the
            // kernel checks it.
            if unsafe { libc::read(fd, p as *mut libc::c_void, n) } > 0 {
                sh.read_data.fetch_add(1, Ordering::Relaxed);
            }
        }
        20 => {
            let Some(fd) = take_fd(sh, r) else { return };
            let p = pointer(r, valid, sh);
            let n = r.pick(&[0usize, 1, 64, 512]);
            // SAFETY: as for read.
            unsafe { libc::write(fd, p as *const libc::c_void, n) };
        }
        // Let guests run a little.
        _ => std::thread::sleep(Duration::from_millis(r.below(20))),
    }
    sh.ops.fetch_add(1, Ordering::Relaxed);
}

/// Stops and releases every VM that is still detached (so the module can go).
fn cleanup() {
    // SAFETY: a NUL-terminated path.
    let fd = unsafe { libc::open(c"/dev/kemu".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
    if fd < 0 {
        return;
    }
    let mut st = [KemuStatus::default(); 64];
    let l = KemuVmList { statuses: st.as_mut_ptr() as u64, capacity: st.len() as u32, entry_size: std::mem::size_of::<KemuStatus>() as u32 };
    let n = ioctl(fd, KEMU_LIST_VMS, std::ptr::from_ref(&l) as usize).clamp(0, 64) as usize;
    // SAFETY: closing our fd.
    unsafe { libc::close(fd) };
    for s in st.iter().take(n) {
        // SAFETY: a NUL-terminated path.
        let f = unsafe { libc::open(c"/dev/kemu".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
        if f >= 0 {
            if ioctl(f, KEMU_ATTACH_VM, std::ptr::from_ref(&s.id) as usize) == 0 {
                ioctl(f, KEMU_STOP, 0);
            }
            // SAFETY: closing our fd.
            unsafe { libc::close(f) };
        }
    }
}

/// Runs the fuzzer; returns the process exit status.
pub(crate) fn main(seed: u64, secs: u64) -> i32 {
    println!("fuzz: seed {seed}, {secs} s (replay: kemu-vmtest fuzz {seed} {secs})");
    // SAFETY: an anonymous PROT_NONE mapping, never unmapped while threads run.
    let no_access = unsafe {
        libc::mmap(std::ptr::null_mut(), 4096, libc::PROT_NONE, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0)
    } as usize;
    let mut guests = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/guests") {
        let mut names: Vec<_> = dir.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|x| x == "elf")).collect();
        names.sort();
        for p in names {
            if let Ok(b) = std::fs::read(&p) {
                guests.push(b);
            }
        }
    }
    let disk_path = c"/tmp/fuzz-disk.img";
    // SAFETY: a NUL-terminated path; the fd is closed at the end.
    let disk = unsafe { libc::open(disk_path.as_ptr(), libc::O_RDWR | libc::O_CREAT | libc::O_CLOEXEC, 0o600) };
    // SAFETY: our fd.
    unsafe { libc::ftruncate(disk, 4 << 20) };
    let sh = Arc::new(Shared {
        fds: Mutex::new([-1; SLOTS]),
        no_access,
        guests,
        ops: AtomicU64::new(0),
        created: AtomicU64::new(0),
        started: AtomicU64::new(0),
        loaded: AtomicU64::new(0),
        read_data: AtomicU64::new(0),
        done: AtomicBool::new(false),
    });
    let deadline = Instant::now() + Duration::from_secs(secs);
    let threads: Vec<_> = (0..3u64)
        .map(|t| {
            let sh = sh.clone();
            std::thread::spawn(move || {
                let mut r = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15).wrapping_add(t + 1) | 1);
                let mut last_cleanup = Instant::now();
                let mut buf = vec![0u8; BUF_BYTES];
                while Instant::now() < deadline {
                    step(&mut r, &sh, disk, &mut buf);
                    // Detached VMs outlive their files: stop them now and then, so
                    // they cannot pile up.
                    if t == 0 && last_cleanup.elapsed() > Duration::from_secs(2) {
                        cleanup();
                        last_cleanup = Instant::now();
                    }
                }
            })
        })
        .collect();
    // Watchdog: every operation returns promptly (files are non-blocking, STOP is
    // bounded), so the threads end soon after the deadline.
    let wd = {
        let sh = sh.clone();
        std::thread::spawn(move || {
            let limit = deadline + Duration::from_secs(60);
            while !sh.done.load(Ordering::Relaxed) {
                if Instant::now() > limit {
                    println!("fuzz: FAIL: operations still running 60 s after the deadline (seed {seed})");
                    std::process::exit(1);
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        })
    };
    let mut ok = true;
    for t in threads {
        ok &= t.join().is_ok();
    }
    {
        let mut fds = sh.fds.lock().unwrap();
        for fd in fds.iter_mut() {
            if *fd >= 0 {
                // SAFETY: our fd.
                unsafe { libc::close(*fd) };
                *fd = -1;
            }
        }
    }
    cleanup();
    sh.done.store(true, Ordering::Relaxed);
    let _ = wd.join();
    // SAFETY: our fd; the path is NUL-terminated.
    unsafe {
        libc::close(disk);
        libc::unlink(disk_path.as_ptr());
    }
    let n = |c: &AtomicU64| c.load(Ordering::Relaxed);
    let (created, loaded, started, read) = (n(&sh.created), n(&sh.loaded), n(&sh.started), n(&sh.read_data));
    println!(
        "fuzz: {} operations: {created} VMs created, {loaded} random guests loaded, {started} started, {read} console reads with data",
        n(&sh.ops)
    );
    // A run that never got a VM going tested only the error paths: that is a failure
    // of the fuzzer, not a pass.
    let deep = created > 0 && started > 0 && loaded > 0;
    if !deep {
        println!("fuzz: FAIL: the run never created, loaded and started VMs (seed {seed})");
    }
    if !ok {
        println!("fuzz: FAIL: a thread panicked (seed {seed})");
    }
    i32::from(!(ok && deep))
}
