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
    assert_eq!(stdout, format!("kemuctl {} (ABI 1.0)\n", env!("CARGO_PKG_VERSION")));
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
