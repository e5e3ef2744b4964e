//! kemuctl's behaviour without a loaded module (the VM tests cover it with kemu.ko).

use std::process::Command;

fn kemuctl(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_kemuctl")).args(args).output().expect("running kemuctl")
}

#[test]
fn missing_device_is_one_clear_line_and_failure() {
    for cmd in ["version", "status"] {
        let out = kemuctl(&["--device", "/nonexistent/kemu", cmd]);
        assert!(!out.status.success(), "{cmd} must fail without the module");
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(
            err,
            "kemuctl: /nonexistent/kemu not found: load the module with insmod kemu.ko\n",
            "{cmd}"
        );
    }
}

#[test]
fn version_prints_own_abi_even_without_module() {
    let out = kemuctl(&["--device", "/nonexistent/kemu", "version"]);
    let stdout = String::from_utf8(out.stdout).unwrap();
    let abi = format!("{}.{}", uapi::KEMU_ABI_MAJOR, uapi::KEMU_ABI_MINOR);
    assert_eq!(stdout, format!("kemuctl {} (ABI {abi})\n", env!("CARGO_PKG_VERSION")));
}

#[test]
fn a_file_that_is_no_device_is_reported() {
    // /dev/null is a character device without kemu's ioctls: ENOTTY.
    let out = kemuctl(&["--device", "/dev/null", "status"]);
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.starts_with("kemuctl: KEMU_GET_VERSION: "), "{err}");
    assert_eq!(err.lines().count(), 1);
}

#[test]
fn plan_errors_are_one_clear_line() {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cli_plan");
    std::fs::create_dir_all(&dir).unwrap();
    let not_ext4 = dir.join("zeros.img");
    std::fs::write(&not_ext4, vec![0u8; 1 << 20]).unwrap();
    let garbage_kernel = dir.join("garbage-Image");
    std::fs::write(&garbage_kernel, vec![0xabu8; 4096]).unwrap();
    let cases: Vec<(Vec<String>, String)> = vec![
        (vec!["plan".into(), "/nonexistent/guest.img".into()], "kemuctl: /nonexistent/guest.img: not found\n".into()),
        (
            vec!["plan".into(), not_ext4.display().to_string()],
            format!("kemuctl: {}: not an ext2/3/4 image", not_ext4.display()),
        ),
        (
            vec!["plan".into(), "--kernel".into(), garbage_kernel.display().to_string()],
            format!("kemuctl: {}: not a RISC-V Linux Image", garbage_kernel.display()),
        ),
        (
            vec!["plan".into(), "--kernel".into(), garbage_kernel.display().to_string(), "--mem".into(), "1G1".into()],
            "error: invalid value '1G1' for '--mem <MEM>'".into(),
        ),
        (vec!["plan".into()], "kemuctl: no kernel: give a disk image with a kernel in /boot, or --kernel\n".into()),
    ];
    for (args, want) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = kemuctl(&args);
        assert!(!out.status.success(), "{args:?} must fail");
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.starts_with(&want), "{args:?}: got {err:?}, want it to start with {want:?}");
        if err.starts_with("kemuctl:") {
            assert_eq!(err.lines().count(), 1, "{args:?}: {err:?}");
        }
    }
}
