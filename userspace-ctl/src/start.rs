//! `kemuctl start`: the same machine as `kemuctl run`, hosted by kemu.ko.
//!
//! kemuctl builds the boot plan (firmware, kernel, initrd, device tree) exactly as for
//! `run`, creates a VM on `/dev/kemu`, loads the plan into guest RAM, attaches the disk
//! image (slot 0) and each `--disk` (slots 1, 2, ...) by file descriptor, starts the hart
//! and then is the console: guest output read from the VM file goes to stdout, stdin is
//! written to it (raw mode and the Ctrl-A escapes of `kemuctl run` when stdin is a
//! terminal). The run ends when the guest powers off; kemuctl's exit status is the
//! guest's. The VM belongs to this process: Ctrl-A x, or kemuctl dying for any reason
//! (even SIGKILL), closes the file and kemu.ko stops the VM, waits for in-flight disk
//! requests, fsyncs and releases the disks.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use uapi::{KemuDisk, KemuStart, KemuVmConfig};

use crate::device::{Device, Error};
use crate::machine_args::MachineArgs;
use crate::run::console::{Console, ConsoleTarget};

/// The console's side of a VM file.
struct VmConsole {
    dev: Arc<Device>,
    quit: AtomicBool,
    /// Ctrl-A x stops the VM (the owner's console) rather than only leaving.
    stops: bool,
}

impl ConsoleTarget for VmConsole {
    fn console_input(&self, mut bytes: &[u8]) -> bool {
        while !bytes.is_empty() {
            match rustix::io::write(self.dev.file(), bytes) {
                Ok(n) if n > 0 => bytes = bytes.get(n..).unwrap_or(&[]),
                Err(rustix::io::Errno::INTR) => {}
                _ => return true, // The VM has stopped (EPIPE): the input has nowhere to go.
            }
        }
        true
    }

    fn request_quit(&self) {
        self.quit.store(true, Ordering::SeqCst);
        if self.stops {
            let _ = self.dev.stop();
        } else {
            // Leave the VM running: the console's blocking read ends with the process.
            crate::run::console::restore_terminal();
            eprintln!("\nkemuctl: left the console; the VM runs on");
            std::process::exit(0);
        }
    }
}

/// Runs the guest in kemu.ko with the terminal as its console; returns the exit status.
/// With `stats_json`, writes the VM's final counters there once the guest has run.
pub(crate) fn cmd_start(
    device: &Path,
    args: &MachineArgs,
    detach: bool,
    stats_json: Option<&Path>,
) -> Result<u8, Box<dyn std::error::Error>> {
    let dev = Device::open(device)?;
    let v = dev.checked_version()?;
    let needed = uapi::KEMU_FEATURE_VM | uapi::KEMU_FEATURE_DISK;
    if v.features & needed != needed {
        return Err(Box::new(Error::AbiMismatch { module: v.abi_major }));
    }
    let plan = args.plan()?;
    let disks = args.slot_disks()?;
    let cfg = KemuVmConfig { ram_size: plan.ram_size, tb_cache_size: 0, harts: 1, flags: 0, reserved: [0; 4] };
    let id = dev.create_vm(&cfg)?;
    for l in &plan.loads {
        dev.load(l.what, l.addr, &l.data)?;
    }
    // Each disk file stays open until the VM is set up; kemu.ko holds its own reference.
    let mut disk_files = Vec::new();
    for d in &disks {
        let (path, ro) = (&d.spec.path, d.spec.read_only);
        let file = OpenOptions::new().read(true).write(!ro).open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let disk = KemuDisk {
            fd: file.as_raw_fd(),
            slot: u32::try_from(d.slot).unwrap_or(u32::MAX),
            flags: if ro { uapi::KEMU_DISK_READONLY } else { 0 },
            cache_mode: if d.spec.writethrough { uapi::KEMU_CACHE_WRITETHROUGH } else { uapi::KEMU_CACHE_WRITEBACK },
            reserved: [0; 2],
        };
        dev.attach_disk(path, file.as_fd(), &disk)?;
        disk_files.push(file);
    }
    let tier2 = args.tier.resolve(
        v.features & uapi::KEMU_FEATURE_TIER2 != 0,
        "kemu.ko has no tier 2 (older module, or its probe of the kernel's BPF JIT failed: see dmesg)",
    )?;
    let threshold = u64::from(args.tier2_threshold.unwrap_or(0));
    let flags = if tier2 { uapi::KEMU_START_TIER2 | threshold << uapi::KEMU_START_T2_THRESHOLD_SHIFT } else { 0 };
    dev.start(&KemuStart {
        pc: plan.entry,
        args: plan.args,
        flags,
        tohost: plan.tohost.unwrap_or(0),
        fromhost: plan.fromhost.unwrap_or(0),
    })?;
    let started = Instant::now();
    if detach {
        let id = dev.detach()?;
        println!("{id}");
        return Ok(0);
    }
    let (status, st) = console_until_stopped(Arc::new(dev), id, true)?;
    if let Some(path) = stats_json {
        crate::stats_json::write(path, &crate::stats_json::start_stats(&st, started.elapsed(), v.abi_minor))?;
    }
    Ok(status)
}

/// Attaches the terminal to the detached VM `id` until it stops (exit status: the
/// guest's) or Ctrl-A x (which leaves the VM running; exit status 0).
pub(crate) fn cmd_console(device: &Path, id: u32) -> Result<u8, Box<dyn std::error::Error>> {
    let dev = Device::open(device)?;
    dev.checked_version()?;
    dev.attach_vm(id)?;
    console_until_stopped(Arc::new(dev), id, false).map(|(status, _)| status)
}

/// Stops the detached VM `id`, waiting for its threads, its disks' fsync and release.
pub(crate) fn cmd_stop(device: &Path, id: u32) -> Result<u8, Box<dyn std::error::Error>> {
    let dev = Device::open(device)?;
    dev.checked_version()?;
    dev.attach_vm(id)?;
    dev.stop()?;
    let st = dev.status()?;
    println!("VM {id} stopped after {}", fmt_uptime(st.uptime_ns));
    Ok(0)
}

/// `3m07s`-style uptime.
pub(crate) fn fmt_uptime(ns: u64) -> String {
    let s = ns / 1_000_000_000;
    match s {
        0..=59 => format!("{}.{:01}s", s, ns / 100_000_000 % 10),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, s / 60 % 60),
    }
}

/// Copies the VM's console to the terminal and the terminal to the VM. `owner`: this
/// process created the VM, so Ctrl-A x stops it; otherwise Ctrl-A x only detaches.
/// Returns the exit status and the stopped VM's final status.
fn console_until_stopped(
    dev: Arc<Device>,
    id: u32,
    owner: bool,
) -> Result<(u8, uapi::KemuStatus), Box<dyn std::error::Error>> {
    let target = Arc::new(VmConsole { dev: Arc::clone(&dev), quit: AtomicBool::new(false), stops: owner });
    let console = Console::start(Arc::clone(&target) as Arc<dyn ConsoleTarget>)?;
    let mut stdout = std::io::stdout().lock();
    let mut buf = [0u8; 4096];
    loop {
        match rustix::io::read(dev.file(), &mut buf) {
            Ok(0) => break,
            Ok(n) => {
                stdout.write_all(buf.get(..n).unwrap_or(&[]))?;
                stdout.flush()?;
            }
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(format!("reading the console of VM {id}: {}", std::io::Error::from(e)).into()),
        }
    }
    drop(console);
    if !owner {
        // The detached VM stopped on its own: take it out of the module's list.
        dev.stop()?;
    }
    let st = dev.status()?;
    let status = match st.exit_reason {
        uapi::KEMU_EXIT_POWEROFF => 0,
        uapi::KEMU_EXIT_FAIL => {
            eprintln!("kemuctl: the guest powered off with failure code {}", st.exit_code);
            u8::try_from(st.exit_code).unwrap_or(u8::MAX).max(1)
        }
        uapi::KEMU_EXIT_REBOOT => {
            eprintln!("kemuctl: the guest asked to reboot: stopping");
            0
        }
        _ if target.quit.load(Ordering::SeqCst) => 0,
        _ => {
            eprintln!("kemuctl: VM {id} was stopped");
            1
        }
    };
    Ok((status, st))
}
