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
    let mut v: Vec<(String, u64)> = vec![
        ("KEMU_ABI_MAJOR".into(), KEMU_ABI_MAJOR.into()),
        ("KEMU_ABI_MINOR".into(), KEMU_ABI_MINOR.into()),
        ("KEMU_IOC_MAGIC".into(), KEMU_IOC_MAGIC.into()),
        ("KEMU_FEATURES_ALL".into(), KEMU_FEATURES_ALL),
        ("sizeof(struct kemu_version)".into(), size_of::<KemuVersion>() as u64),
        ("offsetof(struct kemu_version, abi_major)".into(), offset_of!(KemuVersion, abi_major) as u64),
        ("offsetof(struct kemu_version, abi_minor)".into(), offset_of!(KemuVersion, abi_minor) as u64),
        ("offsetof(struct kemu_version, features)".into(), offset_of!(KemuVersion, features) as u64),
    ];
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
