//! `kemuctl bench` end to end, without a real guest: shell scripts stand in for the
//! native programs and for QEMU, and for the `user` configuration a bare-metal firmware
//! (built with the riscv64 cross compiler) prints the guest's lines and
//! powers off under `kemuctl run`.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

mod common;

use common::{require_tool, CROSS_CC};

fn tmp(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bench").join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn script(dir: &Path, name: &str, body: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, format!("#!/bin/sh\n{body}")).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p.display().to_string()
}

fn bench(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kemuctl"))
        .arg("bench")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("running kemuctl")
}

/// The JSON records on stdout.
fn records(o: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| {
            let json = l.strip_prefix("KEMU-BENCH-JSON ").unwrap_or_else(|| panic!("stray stdout line {l:?}"));
            serde_json::from_str(json).unwrap()
        })
        .collect()
}

#[test]
fn native_runs_are_recorded() {
    let d = tmp("native");
    let pi = script(&d, "pi", "echo 3.14159; echo \"pi: $1 digits in 42 ms\"\n");
    let float = script(&d, "float", "printf 'KEMU-BENCH float_ms 7.25 ms\\r\\n'\n");
    let out = d.join("runs.jsonl");
    let logs = d.join("logs");
    let o = bench(&[
        "--configs", "native", "--runs", "2", "--warmup", "1", "--native-pi", &pi, "--native-float", &float,
        "--env", "unit-test", "--out", out.to_str().unwrap(), "--log-dir", logs.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    let recs = records(&o);
    assert_eq!(recs.len(), 3);
    for (i, r) in recs.iter().enumerate() {
        assert_eq!(r["env"], "unit-test");
        assert_eq!(r["config"], "native");
        assert_eq!(r["iteration"], i);
        assert_eq!(r["warmup"], i == 0);
        assert_eq!(r["ok"], true, "{r}");
        assert_eq!(r["metrics"].to_string(), r#"{"pi_ms":42,"float_ms":7.25}"#);
        assert_eq!(r["units"].to_string(), r#"{"pi_ms":"ms","float_ms":"ms"}"#);
        assert_eq!(r["exit_status"], 0);
        assert_eq!(r["timeout"], false);
        assert_eq!(r["workloads"].to_string(), r#"["pi","float"]"#);
        assert!(r["wall_init_ms"].is_null() && r["guest_init_s"].is_null());
        assert!(r["wall_total_ms"].is_u64() && r["time_unix"].as_u64().unwrap() > 1_700_000_000);
        assert!(r["host"]["cpus"].as_u64().unwrap() >= 1 && r["host"]["kernel"].is_string());
    }
    // The same lines in --out, one human line per run on stderr, one log per run.
    let file: Vec<Value> =
        std::fs::read_to_string(&out).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(file, recs);
    assert_eq!(err.lines().filter(|l| l.starts_with("kemuctl bench: native ")).count(), 3, "{err}");
    assert!(err.contains("kemuctl bench: native run 2/2: ok"), "{err}");
    let log = std::fs::read_to_string(logs.join("native-2.log")).unwrap();
    assert!(log.contains("] pi: 1000 digits in 42 ms\n") && log.contains("] KEMU-BENCH float_ms 7.25 ms\n"), "{log}");
    // Appending: a second invocation adds its lines.
    let o = bench(&["--configs", "native", "--runs", "1", "--warmup", "0", "--native-pi", &pi, "--workloads", "pi", "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(std::fs::read_to_string(&out).unwrap().lines().count(), 4);
}

#[test]
fn failed_and_timed_out_runs_do_not_stop_the_others() {
    let d = tmp("fail");
    // Fails on its first run only (a marker file remembers).
    let marker = d.join("ran-once");
    let pi = script(
        &d,
        "pi",
        &format!(
            "if [ -e {m} ]; then echo 'pi: 1000 digits in 40 ms'; else touch {m}; echo broken >&2; exit 3; fi\n",
            m = marker.display()
        ),
    );
    let float = script(&d, "float", "echo 'KEMU-BENCH float_other 1 x'\n");
    let o = bench(&["--configs", "native", "--runs", "1", "--native-pi", &pi, "--native-float", &float]);
    assert_eq!(o.status.code(), Some(1));
    let recs = records(&o);
    assert_eq!(recs.len(), 2);
    assert_eq!(recs[0]["ok"], false);
    assert_eq!(recs[0]["exit_status"], 3);
    assert_eq!(recs[0]["problems"].to_string(), r#"["exit status 3: broken","no metrics for pi"]"#);
    // float_other counts for float (any float_ metric).
    assert_eq!(recs[1]["ok"], true, "{}", recs[1]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("kemuctl bench: native warm-up 1/1: FAILED"), "{err}");

    let slow = script(&d, "slow", "echo 'pi: 1000 digits in 1 ms'; exec sleep 30\n");
    let start = std::time::Instant::now();
    let o = bench(&["--configs", "native", "--runs", "1", "--warmup", "0", "--timeout", "1", "--native-pi", &slow, "--workloads", "pi"]);
    assert!(start.elapsed().as_secs() < 20);
    assert_eq!(o.status.code(), Some(1));
    let r = &records(&o)[0];
    assert_eq!((r["timeout"].clone(), r["exit_status"].clone(), r["ok"].clone()), (true.into(), Value::Null, false.into()));
    assert_eq!(r["metrics"]["pi_ms"], 1);
    assert!(r["wall_total_ms"].as_u64().unwrap() >= 1000);
}

#[test]
fn setup_errors_are_one_line() {
    let cases: [(&[&str], &str); 5] = [
        (&["--configs", "native"], "kemuctl: --configs native with workload pi needs --native-pi PATH\n"),
        (&["--configs", "native", "--workloads", "disk"], "kemuctl: --configs native runs the pi and float workloads only, and --workloads has neither\n"),
        (&["--configs", "user"], "kemuctl: the guest configurations need the disk IMAGE\n"),
        (&["--configs", "user", "/nonexistent/guest.img"], "kemuctl: image /nonexistent/guest.img: not found\n"),
        // Every program given is checked before the first run.
        (&["--configs", "native", "--native-float", "/nonexistent/f", "--workloads", "float"], "kemuctl: native program /nonexistent/f: not found\n"),
    ];
    for (args, want) in cases {
        let o = bench(args);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        assert_eq!(String::from_utf8_lossy(&o.stderr), want, "{args:?}");
        assert!(o.stdout.is_empty());
    }
}

/// A flat firmware binary for RAM base that prints `text` on the UART and powers off.
fn firmware(dir: &Path, text: &str) -> Option<PathBuf> {
    if !require_tool(CROSS_CC, "--version") {
        return None;
    }
    let src = dir.join("fw.S");
    std::fs::write(
        &src,
        format!(
            ".section .text\n.globl _start\n_start:\n  la s0, msg\n  li s1, 0x10000000\n\
             1: lbu t0, 0(s0)\n  beqz t0, 3f\n2: lbu t1, 5(s1)\n  andi t1, t1, 0x20\n  beqz t1, 2b\n\
             sb t0, 0(s1)\n  addi s0, s0, 1\n  j 1b\n\
             3: li t0, 0x100000\n  li t1, 0x5555\n  sw t1, 0(t0)\n4: j 4b\n\
             msg: .asciz \"{}\"\n",
            text.replace('\n', "\\n")
        ),
    )
    .unwrap();
    let elf = dir.join("fw.elf");
    let o = Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/baremetal/cc"))
        .arg("-o")
        .arg(&elf)
        .arg(&src)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let bin = dir.join("fw.bin");
    let o = Command::new("riscv64-linux-gnu-objcopy").args(["-O", "binary"]).arg(&elf).arg(&bin).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    Some(bin)
}

/// A minimal RISC-V Linux Image header (the planner only reads the header).
fn fake_kernel(dir: &Path) -> PathBuf {
    let mut k = vec![0u8; 4096];
    k[0..2].copy_from_slice(b"MZ");
    k[8..16].copy_from_slice(&0x20_0000u64.to_le_bytes());
    k[16..24].copy_from_slice(&(64u64 << 10).to_le_bytes());
    k[48..56].copy_from_slice(b"RISCV\0\0\0");
    k[56..60].copy_from_slice(b"RSC\x05");
    let p = dir.join("Image");
    std::fs::write(&p, k).unwrap();
    p
}

#[test]
fn guest_configurations() {
    let d = tmp("guest");
    let kernel = fake_kernel(&d);
    let image = d.join("guest.img");
    std::fs::write(&image, vec![0u8; 64 << 10]).unwrap();
    let wb = d.join("wb.img");
    std::fs::write(&wb, vec![0u8; 64 << 10]).unwrap();
    // QEMU's stand-in prints its arguments and a passing guest's lines.
    let qemu = script(
        &d,
        "qemu",
        "echo \"args: $*\"\necho 'KEMU-GUEST: init at uptime 1.50 s'\necho 'KEMU-BENCH pi_ms 3 ms'\necho 'KEMU-GUEST: result PASS'\n",
    );
    let fw = firmware(&d, "KEMU-GUEST: init at uptime 0.25 s\r\nKEMU-BENCH pi_ms 5.5 ms\r\nKEMU-GUEST: result PASS\r\n");
    let fw_arg = fw.clone().unwrap_or_else(|| kernel.clone());
    let logs = d.join("logs");
    let configs = if fw.is_some() { "qemu,user,kernel" } else { "qemu,kernel" };
    let o = Command::new(env!("CARGO_BIN_EXE_kemuctl"))
        .args(["--device", "/nonexistent/kemu", "bench", "--configs", configs, "--runs", "1", "--warmup", "0"])
        .args(["--workloads", "pi", "--mem", "32M", "--qemu", &qemu, "--kernel"])
        .arg(&kernel)
        .arg("--firmware")
        .arg(&fw_arg)
        .arg("--disk-wb")
        .arg(&wb)
        .arg("--log-dir")
        .arg(&logs)
        .arg(&image)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    // The kernel configuration fails here (no kemu.ko): recorded, exit status 1.
    assert_eq!(o.status.code(), Some(1), "{err}");
    let recs = records(&o);
    let q = &recs[0];
    assert_eq!((q["config"].clone(), q["ok"].clone()), ("qemu".into(), true.into()), "{q}");
    assert_eq!(q["guest_init_s"].to_string(), "1.50");
    assert_eq!(q["stats"].to_string(), "{}");
    let qlog = std::fs::read_to_string(logs.join("qemu-0.log")).unwrap();
    let want = format!(
        "args: -M virt -m 32 -smp 1 -nographic -no-reboot -monitor none -serial stdio -bios {fw} -kernel {k} \
         -append console=ttyS0 kemu.mode=bench kemu.bench=pi \
         -drive file={img},format=raw,if=none,id=hd0,cache=writeback -device virtio-blk-device,drive=hd0 \
         -drive file={wb},format=raw,if=none,id=hd1,cache=writeback -device virtio-blk-device,drive=hd1\n",
        fw = fw_arg.display(),
        k = kernel.display(),
        img = image.display(),
        wb = wb.display()
    );
    assert!(qlog.contains(&want), "{qlog}\nwant {want}");
    let k = recs.last().unwrap();
    assert_eq!((k["config"].clone(), k["ok"].clone(), k["exit_status"].clone()), ("kernel".into(), false.into(), 1.into()));
    assert_eq!(
        k["problems"][0],
        "exit status 1: kemuctl: /nonexistent/kemu not found: load the module with insmod kemu.ko",
        "{k}"
    );
    if fw.is_some() {
        let u = &recs[1];
        assert_eq!((u["config"].clone(), u["ok"].clone()), ("user".into(), true.into()), "{u}");
        assert_eq!(u["metrics"].to_string(), r#"{"pi_ms":5.5}"#);
        assert_eq!(u["guest_init_s"].to_string(), "0.25");
        assert!(u["wall_init_ms"].as_u64().unwrap() <= u["wall_total_ms"].as_u64().unwrap());
        assert_eq!(u["stats"]["mode"], "run", "{u}");
        assert!(u["stats"]["instructions"].as_u64().unwrap() > 100, "{u}");
        let ulog = std::fs::read_to_string(logs.join("user-0.log")).unwrap();
        assert!(ulog.contains(" run --tier 1 --stats-json ") && ulog.contains("] KEMU-BENCH pi_ms 5.5 ms\n"), "{ulog}");
    }
}
