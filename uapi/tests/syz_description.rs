//! `tests/vm/kemu.syz.txt` (the syzkaller description of /dev/kemu) names every ioctl of
//! the ABI with the number `uapi` gives it.

use uapi::KEMU_IOCTLS;

#[test]
fn syz_description_agrees_with_rust_abi() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/vm/kemu.syz.txt");
    let text = std::fs::read_to_string(path).expect("kemu.syz.txt");
    for (name, cmd) in KEMU_IOCTLS {
        let key = format!("ioctl${name}(");
        let line = text.lines().find(|l| l.starts_with(&key)).unwrap_or_else(|| panic!("{name} missing"));
        let num = line.split("cmd const[").nth(1).and_then(|r| r.split(']').next()).expect("cmd const");
        let val = u32::from_str_radix(num.trim_start_matches("0x"), 16).expect("hex number");
        assert_eq!(val, *cmd, "{name}: {num} in kemu.syz.txt, {cmd:#x} in uapi");
    }
}
