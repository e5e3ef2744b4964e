//! `kemuctl run` end to end on bare-metal programs (`--bios none`), built with the
//! riscv64 cross compiler at test time: exit statuses through the SiFive test device and
//! through HTIF `tohost`, console output, timer interrupts in WFI, ktranslator's own
//! self-checking guest programs, and one-line errors for bad inputs.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

mod common;

use common::{require_tool, CROSS_CC};

fn tmp() -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("run");
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn ktranslator_guest_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/baremetal/isa")
}

/// The VM tests' bare-metal guests (their shared `virtio-blk.h`).
fn vm_guest_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/baremetal/vm")
}

/// Assembles `src` (GNU as syntax, entry `_start`) into an ELF linked at 0x80000000.
fn build(name: &str, src: &str) -> PathBuf {
    let dir = tmp();
    let s = dir.join(format!("{name}.S"));
    std::fs::write(&s, src).unwrap();
    build_file(name, &s)
}

fn build_file(name: &str, src: &Path) -> PathBuf {
    build_files(name, &[src])
}

fn build_files(name: &str, srcs: &[&Path]) -> PathBuf {
    let out = tmp().join(format!("{name}.elf"));
    // The one build fragment of the bare-metal programs (flags and linker script).
    let o = Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/baremetal/cc"))
        .args(["-O2", "-ffreestanding", "-fno-builtin", "-o"])
        .arg(&out)
        .args(srcs)
        .output()
        .expect("running the cross compiler");
    assert!(o.status.success(), "building {name}: {}", String::from_utf8_lossy(&o.stderr));
    out
}

fn kemuctl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kemuctl")).args(args).stdin(Stdio::null()).output().expect("running kemuctl")
}

fn run_bare(elf: &Path) -> Output {
    kemuctl(&["run", "--bios", "none", "--mem", "16M", "--kernel", elf.to_str().unwrap()])
}

macro_rules! need_cc {
    () => {
        if !require_tool(CROSS_CC, "--version") {
            return;
        }
    };
}

/// Writes `value` to the SiFive test device (0x100000), as Linux's syscon and OpenSBI do.
fn sifive(value: u32) -> String {
    format!(".section .text.init\n.globl _start\n_start:\n  li t0, 0x100000\n  li t1, {value}\n  sw t1, 0(t0)\n1: j 1b\n")
}

#[test]
fn sifive_test_device_exit_statuses() {
    need_cc!();
    // QEMU virt's finisher: 0x5555 power off (0), (code << 16) | 0x3333 fail with code.
    let o = run_bare(&build("sifive_pass", &sifive(0x5555)));
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(o.stderr.is_empty(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = run_bare(&build("sifive_fail", &sifive((42 << 16) | 0x3333)));
    assert_eq!(o.status.code(), Some(42));
    assert_eq!(String::from_utf8_lossy(&o.stderr), "kemuctl: the guest powered off with failure code 42\n");
    // Reboot (0x7777): kemuctl never restarts a guest; it stops with 0 and says so.
    let o = run_bare(&build("sifive_reboot", &sifive(0x7777)));
    assert_eq!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stderr).contains("reboot"));
}

/// A riscv-tests style program: writes `value` to `tohost`, then spins.
fn htif(value: u64) -> String {
    format!(
        ".section .text.init\n.globl _start\n_start:\n  la t0, tohost\n  li t1, {value}\n  sd t1, 0(t0)\n1: j 1b\n\
         .section .tohost, \"aw\", @progbits\n.align 6\n.globl tohost\ntohost: .dword 0\n.align 6\n.globl fromhost\nfromhost: .dword 0\n"
    )
}

#[test]
fn htif_tohost_exit_statuses() {
    need_cc!();
    // riscv-tests' RVTEST_PASS writes 1; RVTEST_FAIL writes (TESTNUM << 1) | 1.
    let o = run_bare(&build("htif_pass", &htif(1)));
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let o = run_bare(&build("htif_fail", &htif((7 << 1) | 1)));
    assert_eq!(o.status.code(), Some(7));
    assert_eq!(String::from_utf8_lossy(&o.stderr), "kemuctl: the program failed with HTIF code 7\n");
}

#[test]
fn htif_console_and_uart_output() {
    need_cc!();
    // HTIF putchar (device 1, command 1), waiting for fromhost each time as riscv-pk's
    // console does, then "ok" through the 16550 UART at 0x10000000, then HTIF exit.
    let src = ".section .text.init\n.globl _start\n_start:\n  la s0, msg\n  la s1, tohost\n  la s2, fromhost\n\
        next:\n  lbu t0, 0(s0)\n  beqz t0, uart\n  li t1, 0x0101000000000000\n  or t1, t1, t0\n  sd t1, 0(s1)\n\
        wait:\n  ld t2, 0(s2)\n  beqz t2, wait\n  sd zero, 0(s2)\n  addi s0, s0, 1\n  j next\n\
        uart:\n  li t0, 0x10000000\n  li t1, 'o'\n  sb t1, 0(t0)\n  li t1, 'k'\n  sb t1, 0(t0)\n  li t1, 10\n  sb t1, 0(t0)\n\
        \n  li t1, 1\n  sd t1, 0(s1)\n1: j 1b\n\
        .section .rodata\nmsg: .asciz \"hi\\n\"\n\
        .section .tohost, \"aw\", @progbits\n.align 6\n.globl tohost\ntohost: .dword 0\n.align 6\n.globl fromhost\nfromhost: .dword 0\n";
    let o = run_bare(&build("htif_putchar", src));
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "hi\nok\n");
}

#[test]
fn timer_interrupt_wakes_wfi() {
    need_cc!();
    // mtimecmp = mtime + 200000 ticks (20 ms at the CLINT's 10 MHz), MTIE on, MIE off:
    // WFI wakes when MTIP rises (privileged spec: WFI ignores the global enable), and
    // the program checks mip.MTIP and that mtime has reached mtimecmp.
    let src = ".section .text.init\n.globl _start\n_start:\n\
        li s0, 0x200bff8\n  li s1, 0x2004000\n  ld t0, 0(s0)\n  li t1, 200000\n  add s2, t0, t1\n  sd s2, 0(s1)\n\
        li t0, 0x80\n  csrs mie, t0\n\
        1: wfi\n  csrr t0, mip\n  andi t0, t0, 0x80\n  beqz t0, 1b\n\
        ld t0, 0(s0)\n  bltu t0, s2, fail\n\
        li t0, 0x100000\n  li t1, 0x5555\n  sw t1, 0(t0)\n2: j 2b\n\
        fail:\n  li t0, 0x100000\n  li t1, 0x13333\n  sw t1, 0(t0)\n3: j 3b\n";
    let elf = build("timer_wfi", src);
    let start = Instant::now();
    let o = kemuctl(&["run", "--bios", "none", "--mem", "16M", "--stats", "--kernel", elf.to_str().unwrap()]);
    let took = start.elapsed();
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(took >= Duration::from_millis(20), "the timer cannot fire before 20 ms: {took:?}");
    // Sleeping, not spinning: a WFI loop that spun would retire millions of instructions.
    let err = String::from_utf8_lossy(&o.stderr);
    let insns: u64 = err
        .split("stats: ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no stats line: {err}"));
    assert!(insns < 1000, "{insns} instructions: the hart spun instead of sleeping in WFI");
}

#[test]
fn ktranslator_guest_programs_pass() {
    need_cc!();
    let dir = ktranslator_guest_dir();
    for name in ["rv64i", "rv64m", "rv64a", "csr_trap", "smc", "fp", "vm"] {
        let elf = build_file(&format!("kt_{name}"), &dir.join(format!("{name}.S")));
        let o = run_bare(&elf);
        assert_eq!(o.status.code(), Some(0), "{name}: {}", String::from_utf8_lossy(&o.stderr));
    }
}

fn one_line_failure(o: &Output, expect: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "must fail: {err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(err.starts_with("kemuctl: ") && err.contains(expect), "{err:?} should mention {expect:?}");
}

#[test]
fn bad_inputs_are_one_clear_line() {
    let dir = tmp();
    // Image not found.
    let o = kemuctl(&["run", "/nonexistent/guest.img"]);
    one_line_failure(&o, "/nonexistent/guest.img: not found");
    // An ext4 image without /boot: no kernel to find.
    let img = dir.join("noboot.img");
    let _ = std::fs::remove_file(&img);
    if require_tool("mkfs.ext4", "-V") {
        let mk = Command::new("mkfs.ext4").args(["-q", "-F"]).arg(&img).arg("4M").output().unwrap();
        assert!(mk.status.success(), "mkfs.ext4: {mk:?}");
        let o = kemuctl(&["run", "--firmware", "/dev/null", img.to_str().unwrap()]);
        one_line_failure(&o, "kernel not found in image");
    }
    // A kernel whose header says it needs 64 MiB, in 32 MiB of RAM.
    let mut k = vec![0u8; 4096];
    k[0..2].copy_from_slice(b"MZ");
    k[8..16].copy_from_slice(&0x20_0000u64.to_le_bytes());
    k[16..24].copy_from_slice(&(64u64 << 20).to_le_bytes());
    k[48..56].copy_from_slice(b"RISCV\0\0\0");
    k[56..60].copy_from_slice(b"RSC\x05");
    let kernel = dir.join("big-Image");
    std::fs::write(&kernel, &k).unwrap();
    let fw = dir.join("fw.bin");
    std::fs::write(&fw, [0x6fu8, 0, 0, 0]).unwrap();
    let o = kemuctl(&[
        "run",
        "--mem",
        "32M",
        "--firmware",
        fw.to_str().unwrap(),
        "--kernel",
        kernel.to_str().unwrap(),
    ]);
    one_line_failure(&o, "more RAM please");
    // --bios none with something that is no ELF program.
    let o = kemuctl(&["run", "--bios", "none", "--kernel", kernel.to_str().unwrap()]);
    one_line_failure(&o, "needs a bare-metal ELF program");
}

/// A disk image of 64 KiB whose sector 0 holds `label` (NUL-terminated).
fn labelled_disk(name: &str, label: &str) -> PathBuf {
    let p = tmp().join(name);
    let mut d = vec![0u8; 64 << 10];
    d[..label.len()].copy_from_slice(label.as_bytes());
    std::fs::write(&p, d).unwrap();
    p
}

#[test]
fn several_disks_in_slot_order() {
    need_cc!();
    let guest_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/baremetal/run");
    let elf = build_file("multidisk", &guest_dir.join("multidisk.c"));
    let d0 = labelled_disk("md0.img", "the image");
    let d1 = labelled_disk("md1.img", "first extra");
    let d2 = labelled_disk("md2.img", "read-only extra");
    let d3 = labelled_disk("md3.img", "write-through extra");
    let stats = tmp().join("multidisk-stats.json");
    let _ = std::fs::remove_file(&stats);
    let spec = |p: &Path, opts: &str| format!("{}{opts}", p.display());
    let o = kemuctl(&[
        "run",
        "--bios",
        "none",
        "--mem",
        "16M",
        "--kernel",
        elf.to_str().unwrap(),
        "--stats-json",
        stats.to_str().unwrap(),
        "--disk",
        &spec(&d1, ""),
        "--disk",
        &spec(&d2, ",ro"),
        "--disk",
        &spec(&d3, ",writethrough"),
        d0.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "slot 0: the image\nslot 1: first extra\nslot 2: read-only extra\nslot 2: read-only\nslot 3: write-through extra\ndisks: 4\n"
    );
    for (n, d) in [(0, &d0), (1, &d1), (3, &d3)] {
        let got = std::fs::read(d).unwrap();
        let want = format!("slot {n} was here");
        assert_eq!(&got[512..512 + want.len()], want.as_bytes(), "{}", d.display());
    }
    assert!(std::fs::read(&d2).unwrap()[512..1024].iter().all(|&b| b == 0), "the read-only disk was written");
    // The counters: 4 requests per writable disk (read, write, read back, flush), 3 for
    // the read-only one (its write fails); fdatasync on each writable disk's flush, plus
    // one per write on the write-through disk.
    let text = std::fs::read_to_string(&stats).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["mode"], "run");
    assert_eq!(v["disk_requests"], 15, "{text}");
    assert_eq!(v["disk_syncs"], 4, "{text}");
    assert!(v["instructions"].as_u64().unwrap() > 1000, "{text}");
    assert!(v["wall_ns"].as_u64().unwrap() > 0, "{text}");
}

#[test]
fn disk_options_are_checked() {
    let d = labelled_disk("opt.img", "x");
    let o = kemuctl(&["run", "--disk", &format!("{},rw", d.display()), "--kernel", "/nonexistent"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(err.starts_with("error: invalid value") && err.contains("unknown option 'rw' (expected PATH[,ro][,writethrough])"), "{err}");
    let o = kemuctl(&["run", "--bios", "none", "--kernel", d.to_str().unwrap(), "--disk", "/nonexistent/disk.img"]);
    one_line_failure(&o, "/nonexistent/disk.img: not found");
    let mut args = vec!["run", "--bios", "none", "--kernel", "/nonexistent"];
    let spec = d.display().to_string();
    for _ in 0..8 {
        args.extend(["--disk", &spec]);
    }
    one_line_failure(&kemuctl(&args), "too many disks: 8 --disk given, at most 7 fit");
}

/// Code read by disk DMA over code that already ran and was translated: the guest polls
/// the used ring and calls the new code at once, which must run (tests/baremetal/vm/dmacode.c;
/// the VM tests run it inside kemu.ko too). In both tiers.
#[test]
fn dma_over_translated_code_runs_the_new_code() {
    need_cc!();
    let g = vm_guest_dir();
    let elf = build_files("dmacode", &[&g.join("diskio-start.S"), &g.join("dmacode.c")]);
    for tier in ["1", "2"] {
        let disk = tmp().join(format!("dmacode-{tier}.img"));
        let mut img = vec![0u8; 1 << 20];
        // li a0, 2; ret
        img[..8].copy_from_slice(&[0x13, 0x05, 0x20, 0x00, 0x67, 0x80, 0x00, 0x00]);
        std::fs::write(&disk, img).unwrap();
        let o = kemuctl(&["run", "--tier", tier, "--tier2-threshold", "1", "--bios", "none", "--mem", "16M", "--kernel", elf.to_str().unwrap(), disk.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(0), "tier {tier}: {}", String::from_utf8_lossy(&o.stderr));
        assert_eq!(String::from_utf8_lossy(&o.stdout), "dmacode ok\n", "tier {tier}");
    }
}
