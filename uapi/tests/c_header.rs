//! Checks that `uapi/kemu.h` describes exactly the ABI of `uapi/src/abi.rs`: the test
//! generates a C program from the Rust definitions, compiles it against the header with
//! the host C compiler and compares every number it prints.

use std::fmt::Write as _;
use std::mem::{offset_of, size_of};
use std::path::PathBuf;
use std::process::Command;

use uapi::*;

/// `(C expression, value the Rust side says it has)`.
fn expectations() -> Vec<(String, u64)> {
    let mut v: Vec<(String, u64)> = Vec::new();
    macro_rules! consts {
        ($($name:ident),* $(,)?) => { $(v.push((stringify!($name).into(), u64::from($name)));)* };
    }
    // Layout of a struct: its size and the offset of every field.
    macro_rules! layout {
        ($ty:ty, $c:literal, $($field:ident),* $(,)?) => {
            v.push((format!("sizeof(struct {})", $c), size_of::<$ty>() as u64));
            $(v.push((format!("offsetof(struct {}, {})", $c, stringify!($field)), offset_of!($ty, $field) as u64));)*
        };
    }
    consts!(
        KEMU_ABI_MAJOR, KEMU_ABI_MINOR, KEMU_IOC_MAGIC, KEMU_FEATURE_VM, KEMU_FEATURE_DISK, KEMU_FEATURE_DETACH, KEMU_FEATURE_TIER2, KEMU_FEATURES_ALL, KEMU_START_TIER2,
        KEMU_START_T2_THRESHOLD_SHIFT, KEMU_TIER2_THRESHOLD_DEFAULT,
        KEMU_DISK_READONLY, KEMU_CACHE_WRITEBACK, KEMU_CACHE_WRITETHROUGH, KEMU_DISK_SLOTS,
        KEMU_RAM_MIN, KEMU_RAM_MAX, KEMU_RAM_ALIGN, KEMU_TB_CACHE_DEFAULT, KEMU_TB_CACHE_MAX, KEMU_TB_CACHE_MIN,
        KEMU_STATE_CREATED, KEMU_STATE_RUNNING, KEMU_STATE_STOPPED,
        KEMU_EXIT_NONE, KEMU_EXIT_POWEROFF, KEMU_EXIT_REBOOT, KEMU_EXIT_FAIL, KEMU_EXIT_STOPPED,
    );
    layout!(KemuVersion, "kemu_version", abi_major, abi_minor, features);
    layout!(KemuVmConfig, "kemu_vm_config", ram_size, tb_cache_size, harts, flags, reserved);
    layout!(KemuLoad, "kemu_load", guest_addr, user_addr, size, flags);
    layout!(KemuStart, "kemu_start", pc, args, flags, tohost, fromhost);
    layout!(KemuDisk, "kemu_disk", fd, slot, flags, cache_mode, reserved);
    layout!(KemuVmList, "kemu_vm_list", statuses, capacity, entry_size);
    layout!(KemuStatus, "kemu_status", id, state, exit_reason, exit_code, ram_size, uptime_ns);
    // The counters, from the one list that declares them: every one must be in kemu.h,
    // in order, as a __u64 right after the previous one.
    let first = offset_of!(KemuStatus, uptime_ns) + 8;
    for (i, (name, _)) in STATUS_COUNTERS.iter().enumerate() {
        v.push((format!("offsetof(struct kemu_status, {name})"), (first + 8 * i) as u64));
        v.push((format!("sizeof(((struct kemu_status *)0)->{name})"), 8));
    }
    v.push(("KEMU_STATUS_SIZE_VER0".into(), KEMU_STATUS_SIZE_VER0 as u64));
    v.push(("KEMU_START_SIZE_VER0".into(), KEMU_START_SIZE_VER0 as u64));
    v.push(("KEMU_LIST_ENTRY_MAX".into(), u64::from(KEMU_LIST_ENTRY_MAX)));
    for (name, value) in KEMU_IOCTLS {
        v.push(((*name).into(), (*value).into()));
    }
    v
}

#[test]
fn c_header_agrees_with_rust_abi() {
    let exp = expectations();
    let mut src = String::from("#include <stdio.h>\n#include <stddef.h>\n#include \"kemu.h\"\nint main(void) {\n");
    for (expr, _) in &exp {
        writeln!(src, "    printf(\"%llu\\n\", (unsigned long long)({expr}));").unwrap();
    }
    src.push_str("    return 0;\n}\n");

    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("c_header");
    std::fs::create_dir_all(&dir).unwrap();
    let c_file = dir.join("check.c");
    let exe = dir.join("check");
    std::fs::write(&c_file, src).unwrap();
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let status = Command::new(&cc)
        .args(["-std=c11", "-Wall", "-Werror", "-I", env!("CARGO_MANIFEST_DIR"), "-o"])
        .arg(&exe)
        .arg(&c_file)
        .status()
        .expect("running the C compiler");
    assert!(status.success(), "kemu.h does not compile");
    let out = Command::new(&exe).output().expect("running the check program");
    assert!(out.status.success());
    let got: Vec<u64> = String::from_utf8(out.stdout).unwrap().lines().map(|l| l.parse().unwrap()).collect();
    assert_eq!(got.len(), exp.len());
    for ((expr, want), got) in exp.iter().zip(got) {
        assert_eq!(got, *want, "kemu.h disagrees with abi.rs on {expr}");
    }
}

#[test]
fn ioctl_encoding_matches_linux_generic_layout() {
    // _IOR('|', 0x81, int) on x86_64 is 0x80047c81 (from the kernel's rust_misc_device sample).
    assert_eq!(ioc(IOC_READ, u32::from(b'|'), 0x81, 4), 0x8004_7c81);
    assert_eq!(ioc(IOC_NONE, u32::from(b'|'), 0x80, 0), 0x0000_7c80);
    assert_eq!(ioc(IOC_WRITE, u32::from(b'|'), 0x82, 4), 0x4004_7c82);
    assert_eq!(ioc_size(KEMU_GET_VERSION), size_of::<KemuVersion>());
    assert_eq!(ioc_type(KEMU_GET_VERSION), KEMU_IOC_MAGIC);
}
