//! Test harness shared by the integration tests: a machine (hart + RAM + arena + a
//! test bus), a minimal ELF64 loader and the cross-compilation of guest programs.
#![allow(dead_code, unreachable_pub, missing_docs)]

use std::alloc::{alloc, dealloc, Layout};
use std::path::{Path, PathBuf};
use std::process::Command;

use ktranslator::bus::Bus;
use ktranslator::hart::{Exit, Hart};
use ktranslator::ram::GuestRam;
use ktranslator::tcache::TcArena;
use ktranslator::tier2::Tier2Host;
use ktranslator::t2check::{check, CheckEnv};

use ebpf_jit::hooks::{self, HookJit};

pub const RAM_BASE: u64 = 0x8000_0000;
pub const TESTDEV: u64 = 0x10_0000;
pub const UART: u64 = 0x1000_0000;

/// SiFive test device + a write-only byte console + a fake timer.
#[derive(Default)]
pub struct TestBus {
    pub result: Option<u32>,
    pub console: Vec<u8>,
    pub time: u64,
    pub mmio_log: Vec<(u64, u8, u64)>,
    stop: bool,
}

impl Bus for TestBus {
    fn mmio_read(&mut self, paddr: u64, size: u8) -> Option<u64> {
        match paddr {
            TESTDEV..=0x10_0fff => Some(0),
            UART..=0x1000_00ff => Some(0x1234_5678_9abc_def0 & ((1u128 << (size * 8)) - 1) as u64),
            _ => None,
        }
    }
    fn mmio_write(&mut self, paddr: u64, size: u8, val: u64) -> bool {
        match paddr {
            TESTDEV => {
                self.result = Some(val as u32);
                self.stop = true;
                true
            }
            UART => {
                self.console.push(val as u8);
                true
            }
            0x1000_0001..=0x1000_00ff => {
                self.mmio_log.push((paddr, size, val));
                true
            }
            _ => false,
        }
    }
    fn time(&mut self) -> u64 {
        self.time += 1;
        self.time
    }
    fn stop_requested(&mut self) -> bool {
        std::mem::take(&mut self.stop)
    }
}

/// A hart with its own RAM and translation cache, allocated on the heap.
pub struct Machine {
    hart: *mut Hart,
    pub ram: Vec<u8>,
    arena: Vec<u64>,
    pub bus: TestBus,
    /// Tier 2's JIT, when enabled (dropped after the hart released its programs).
    jit: Option<Box<HookJit>>,
    /// Programs a queued tier 2 (`enable_tier2_queued`) submitted: `(ticket, program,
    /// the checker's environment)`.
    pub queue: Vec<(u64, Vec<u64>, CheckEnv)>,
    /// Whether the queue takes no more programs (`submit` answers busy).
    pub queue_full: bool,
}

/// The `free` hook of `enable_tier2_queued`: `opaque` is the machine, whose JIT
/// releases the handle.
unsafe extern "C" fn free_hook(opaque: *mut std::ffi::c_void, handle: u64) {
    // SAFETY: `opaque` is the machine that installed this hook, with its JIT alive.
    let m = unsafe { &mut *opaque.cast::<Machine>() };
    let jit = m.jit.as_mut().expect("tier 2 on").opaque();
    // SAFETY: the hart releases a handle of this JIT once.
    unsafe { hooks::free(jit, handle) };
}

/// The `submit` hook of `enable_tier2_queued`: `opaque` is the machine.
unsafe extern "C" fn submit_hook(
    opaque: *mut std::ffi::c_void,
    insns: *const u64,
    n: usize,
    env: *const CheckEnv,
    ticket: u64,
) -> bool {
    // SAFETY: `opaque` is the machine that installed this hook, not otherwise borrowed
    // while its hart runs; the hart passes `n` instructions at `insns` and a valid
    // environment.
    let (m, prog, env) = unsafe { (&mut *opaque.cast::<Machine>(), std::slice::from_raw_parts(insns, n), *env) };
    if m.queue_full {
        return false;
    }
    m.queue.push((ticket, prog.to_vec(), env));
    true
}

impl Machine {
    pub fn new(ram_bytes: usize, arena_words: usize) -> Machine {
        let mut ram = vec![0u8; ram_bytes];
        let mut arena = vec![0u64; arena_words];
        // SAFETY: the vectors' heap buffers live as long as the machine and are only
        // reached through the hart (their Vec handles are never used to access them
        // while the hart runs).
        let (gr, ta) = unsafe {
            (GuestRam::new(ram.as_mut_ptr(), ram.len(), RAM_BASE), TcArena::new(arena.as_mut_ptr(), arena.len()))
        };
        let layout = Layout::new::<Hart>();
        // SAFETY: `layout` has non-zero size; the result is checked for null.
        let p = unsafe { alloc(layout) }.cast::<Hart>();
        assert!(!p.is_null());
        // SAFETY: `p` is a fresh allocation of the right layout, used only via `self`.
        unsafe { Hart::init_in_place(p, gr, ta, 0) };
        Machine { hart: p, ram, arena, bus: TestBus::default(), jit: None, queue: Vec::new(), queue_full: false }
    }

    /// Turns tier 2 on: blocks are compiled by the userspace eBPF JIT after `threshold`
    /// tier-1 executions (1: at their first). Only on x86_64 hosts (false elsewhere).
    pub fn enable_tier2(&mut self, threshold: u32) -> bool {
        if !cfg!(target_arch = "x86_64") {
            return false;
        }
        let mut jit = Box::new(HookJit::new(64 << 20).expect("JIT arena"));
        let host = Tier2Host {
            compile: Some(hooks::compile),
            submit: None,
            free: Some(hooks::free),
            opaque: jit.opaque(),
            helper_imm: hooks::HELPER_IMM,
            threshold,
            max_blocks: 1 << 20,
        };
        // SAFETY: the hooks compile with `jit`, which lives in `self` until the hart
        // released its programs (`disable_tier2`, also called by `drop`).
        unsafe { self.hart().set_tier2(Some(host)) };
        self.jit = Some(jit);
        true
    }

    /// Turns tier 2 on the way kemu.ko runs it: hot blocks are queued (`self.queue`),
    /// and compiled when the test calls `compile_queued`. `self` must not move while
    /// tier 2 is on (the hook reaches it through a pointer). False on non-x86_64 hosts.
    pub fn enable_tier2_queued(&mut self, threshold: u32) -> bool {
        if !self.enable_tier2(threshold) {
            return false;
        }
        let host = Tier2Host {
            compile: None,
            submit: Some(submit_hook),
            free: Some(free_hook),
            opaque: std::ptr::from_mut(self).cast(),
            helper_imm: hooks::HELPER_IMM,
            threshold,
            max_blocks: 1 << 20,
        };
        // SAFETY: the hooks reach `self`, which the caller keeps in place, and its JIT,
        // which lives until the hart turned tier 2 off.
        unsafe { self.hart().set_tier2(Some(host)) };
        true
    }

    /// Checks and compiles the queued programs (oldest first), as a host's thread
    /// would, and hands each to the hart; returns how many it took. A program the
    /// checker refuses goes to `t2_refuse`; one the hart does not take is released.
    pub fn compile_queued(&mut self) -> usize {
        let jobs = std::mem::take(&mut self.queue);
        let opaque = self.jit.as_mut().expect("tier 2 on").opaque();
        let mut taken = 0;
        for (ticket, prog, env) in jobs {
            if let Err(refusal) = check(&prog, &env) {
                self.hart().t2_refuse(ticket, refusal);
                continue;
            }
            let mut entry = 0u64;
            // SAFETY: `opaque` is the live JIT; `prog` holds `prog.len()` instructions.
            let handle = unsafe { hooks::compile(opaque, prog.as_ptr(), prog.len(), &mut entry) };
            // SAFETY: `handle`/`entry` are the JIT's compilation of this ticket's program.
            if unsafe { self.hart().t2_install(ticket, handle, entry) } {
                taken += 1;
            } else if handle != 0 {
                // SAFETY: a handle of this JIT that the hart did not take.
                unsafe { hooks::free(opaque, handle) };
            }
        }
        taken
    }

    /// Turns tier 2 off (releasing every program); returns the JIT's count of programs
    /// still alive (0 unless something leaked).
    pub fn disable_tier2(&mut self) -> usize {
        // SAFETY: `None` installs no hooks.
        unsafe { self.hart().set_tier2(None) };
        self.jit.take().map_or(0, |j| j.live())
    }

    pub fn hart(&mut self) -> &mut Hart {
        // SAFETY: `hart` was initialised in `new` and is owned by `self`.
        unsafe { &mut *self.hart }
    }

    pub fn run(&mut self, budget: u64) -> Exit {
        // SAFETY: as in `hart`; the bus is a distinct field.
        let h = unsafe { &mut *self.hart };
        h.run(&mut self.bus, budget)
    }

    /// Writes bytes at a guest-physical address.
    pub fn write(&mut self, paddr: u64, data: &[u8]) {
        assert!(self.hart().ram().write_bytes(paddr, data), "write outside RAM");
    }

    pub fn write_words(&mut self, paddr: u64, words: &[u32]) {
        let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
        self.write(paddr, &bytes);
    }

    pub fn read_u64(&mut self, paddr: u64) -> u64 {
        let mut b = [0u8; 8];
        assert!(self.hart().ram().read_bytes(paddr, &mut b));
        u64::from_le_bytes(b)
    }

    /// Loads the PT_LOAD segments of an ELF64 little-endian RISC-V executable and sets
    /// pc to its entry point.
    pub fn load_elf(&mut self, elf: &[u8]) {
        let u16_at = |o: usize| u16::from_le_bytes(elf[o..o + 2].try_into().unwrap());
        let u32_at = |o: usize| u32::from_le_bytes(elf[o..o + 4].try_into().unwrap());
        let u64_at = |o: usize| u64::from_le_bytes(elf[o..o + 8].try_into().unwrap());
        assert_eq!(&elf[0..4], b"\x7fELF");
        assert_eq!(elf[4], 2, "ELFCLASS64");
        assert_eq!(elf[5], 1, "little endian");
        assert_eq!(u16_at(18), 243, "EM_RISCV");
        let entry = u64_at(24);
        let phoff = u64_at(32) as usize;
        let phentsize = u16_at(54) as usize;
        let phnum = u16_at(56) as usize;
        for i in 0..phnum {
            let ph = phoff + i * phentsize;
            if u32_at(ph) != 1 {
                continue; // not PT_LOAD
            }
            let off = u64_at(ph + 8) as usize;
            let paddr = u64_at(ph + 24);
            let filesz = u64_at(ph + 32) as usize;
            let memsz = u64_at(ph + 40) as usize;
            let mut seg = elf[off..off + filesz].to_vec();
            seg.resize(memsz, 0);
            self.write(paddr, &seg);
        }
        self.hart().set_pc(entry);
    }

    /// Runs until the test device is written (or `max` steps), returning its value.
    pub fn run_to_result(&mut self, max: u64) -> Option<u32> {
        let mut left = max;
        while left > 0 && self.bus.result.is_none() {
            let step = left.min(1_000_000);
            match self.run(step) {
                Exit::Budget => left -= step,
                Exit::Stop => {}
                Exit::Wfi => panic!("unexpected WFI at pc {:#x}", self.hart().pc()),
            }
        }
        self.bus.result
    }
}

impl Drop for Machine {
    fn drop(&mut self) {
        self.disable_tier2();
        // SAFETY: allocated in `new` with this layout; Hart needs no drop glue.
        unsafe { dealloc(self.hart.cast(), Layout::new::<Hart>()) };
    }
}

pub const CROSS_CC: &str = "riscv64-linux-gnu-gcc";

/// Whether the cross compiler is installed.
pub fn have_cross_cc() -> bool {
    Command::new(CROSS_CC).arg("--version").output().map(|o| o.status.success()).unwrap_or(false)
}

/// Whether the guest-program tests can run: true if the cross compiler is installed.
/// Without it they fail (tests/vm/setup-host.sh installs it), unless KEMU_ALLOW_SKIP=1
/// (for a developer's quick loop; `.ci/run` never sets it) lets them pass as skipped.
pub fn require_cross_cc() -> bool {
    if have_cross_cc() {
        return true;
    }
    assert!(
        std::env::var_os("KEMU_ALLOW_SKIP").is_some_and(|v| v == "1"),
        "{CROSS_CC} is not installed: run tests/vm/setup-host.sh (KEMU_ALLOW_SKIP=1 skips these tests)"
    );
    eprintln!("SKIPPED (KEMU_ALLOW_SKIP=1): {CROSS_CC} not installed");
    false
}

fn guest_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/baremetal/isa")
}

/// Builds `tests/baremetal/isa/<name>` (a .S or .c file) into an ELF in the target tmpdir.
pub fn build_guest(name: &str, extra: &[&str]) -> Vec<u8> {
    let out_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("guest");
    std::fs::create_dir_all(&out_dir).unwrap();
    let src = guest_dir().join(name);
    // One output file per build: tests run in parallel and may build the same guest.
    static BUILDS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = BUILDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let out = out_dir.join(format!("{name}.{}.{n}.elf", std::process::id()));
    // The one build fragment of the bare-metal programs (flags and linker script).
    let output = Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/baremetal/cc"))
        .args(extra)
        .arg("-o")
        .arg(&out)
        .arg(&src)
        .output()
        .expect("running the cross compiler");
    assert!(output.status.success(), "building {name} failed:\n{}", String::from_utf8_lossy(&output.stderr));
    let elf = std::fs::read(&out).unwrap();
    let _ = std::fs::remove_file(&out);
    elf
}

/// Builds and runs a guest program, asserting that it reports a pass.
pub fn run_guest(name: &str) -> Machine {
    run_guest_tier(name, None)
}

/// Like [`run_guest`], with tier 2 on at `threshold` if given (skipped, i.e. tier 1,
/// where tier 2 is unavailable).
pub fn run_guest_tier(name: &str, tier2_threshold: Option<u32>) -> Machine {
    let elf = build_guest(name, &[]);
    let mut m = Machine::new(8 << 20, 1 << 19);
    if let Some(t) = tier2_threshold {
        m.enable_tier2(t);
    }
    m.load_elf(&elf);
    let r = m.run_to_result(50_000_000);
    match r {
        Some(0x5555) => {}
        Some(v) if v & 0xffff == 0x3333 => panic!(
            "{name}: failed case {} (pc {:#x}, console {:?})",
            v >> 16,
            m.hart().pc(),
            String::from_utf8_lossy(&m.bus.console)
        ),
        other => panic!("{name}: no result ({other:?}), pc {:#x}", m.hart().pc()),
    }
    m
}

/// An I-type instruction (unprivileged spec, "Base Instruction Formats").
pub fn i_type(op: u32, rd: u32, f3: u32, rs1: u32, imm: i32) -> u32 {
    op | (rd << 7) | (f3 << 12) | (rs1 << 15) | (((imm as u32) & 0xfff) << 20)
}

/// `addi rd, rs1, imm`.
pub fn addi(rd: u32, rs1: u32, imm: i32) -> u32 {
    i_type(0x13, rd, 0, rs1, imm)
}

/// Registers by ABI name.
pub const T0: u32 = 5;
pub const T1: u32 = 6;
pub const T2: u32 = 7;
pub const S0: u32 = 8;
pub const S1: u32 = 9;

/// `jal x0, 0`: a loop on itself (where a test program parks).
pub const J_SELF: u32 = 0x0000_006f;

/// An S-type instruction (stores).
pub fn s_type(f3: u32, rs1: u32, rs2: u32, imm: i32) -> u32 {
    let i = imm as u32;
    0x23 | ((i & 0x1f) << 7) | (f3 << 12) | (rs1 << 15) | (rs2 << 20) | ((i >> 5 & 0x7f) << 25)
}

/// A B-type instruction (conditional branches; `f3` selects the condition).
pub fn b_type(f3: u32, rs1: u32, rs2: u32, off: i32) -> u32 {
    let o = off as u32;
    0x63 | ((o >> 11 & 1) << 7)
        | ((o >> 1 & 0xf) << 8)
        | (f3 << 12)
        | (rs1 << 15)
        | (rs2 << 20)
        | ((o >> 5 & 0x3f) << 25)
        | ((o >> 12 & 1) << 31)
}

/// `bne rs1, rs2, off` (B-type).
pub fn bne(rs1: u32, rs2: u32, off: i32) -> u32 {
    b_type(1, rs1, rs2, off)
}

/// `jal rd, off` (J-type).
pub fn jal(rd: u32, off: i32) -> u32 {
    let o = off as u32;
    0x6f | (rd << 7) | (o & 0xff000) | ((o >> 11) & 1) << 20 | ((o >> 1) & 0x3ff) << 21 | ((o >> 20) & 1) << 31
}

/// xorshift64*: a small deterministic generator for the fuzz tests.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `0..n` (n > 0; the modulo bias does not matter here).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Runs, in S-mode from virtual `pc`, a loop that calls a function `turns` times, with
/// t0 counting the turns down and a0 starting at 0 (`call f; t0 -= 1; bnez t0, loop;
/// j .`, the function adding to a0): the function's sum in a0, and the block or program
/// entries the run took.
pub fn run_call_loop(m: &mut Machine, pc: u64, turns: u64) -> (u64, u64) {
    const A0: usize = 10;
    let h = m.hart();
    h.set_privilege(ktranslator::hart::prv::S);
    h.set_xreg(T0 as usize, turns);
    h.set_xreg(A0, 0);
    h.set_pc(pc);
    let entries = h.stats.tbs_executed;
    assert_eq!(m.run(5 * turns + 10), Exit::Budget);
    let h = m.hart();
    assert_eq!(h.xreg(T0 as usize), 0, "the loop ended");
    (h.xreg(A0), h.stats.tbs_executed - entries)
}
