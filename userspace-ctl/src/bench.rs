//! `kemuctl bench`: runs the same guest under several configurations, each several
//! times after warm-ups, and records one JSON line per run.
//!
//! Configurations, each booting the guest with the kernel command line
//! `console=ttyS0 kemu.mode=bench kemu.bench=<workloads>[ kemu.bench.quick=1]`:
//!
//! - `kernel`: `kemuctl start --stats-json TMP ...` (the guest inside kemu.ko);
//! - `user`: `kemuctl run --stats-json TMP ...` (the same engine as a process);
//! - `qemu`: `qemu-system-riscv64 -M virt` (TCG) with the same firmware, kernel, initrd,
//!   command line and disks (the image, then `--disk-wb` with cache=writeback, then
//!   `--disk-wt` with cache=writethrough, in kemu's slot order: /dev/vda, vdb, vdc);
//! - `native`: no guest: x86 builds of the guest's programs (`--native-pi PATH` run as
//!   `PATH 1000`, `--native-float PATH`), for the pi and float workloads.
//!
//! Every run is one JSON object on one line, appended to `--out` and printed on stdout
//! after `KEMU-BENCH-JSON ` (how results leave a test VM through its console):
//!
//! | key | value |
//! |---|---|
//! | `env` | `--env` label (default: the host name) |
//! | `config` | `"kernel"`, `"kernel-t2"`, `"user"`, `"user-t2"`, `"qemu"` or `"native"` |
//! | `iteration` | 0, 1, ...: warm-ups first, then the measured runs |
//! | `warmup` | true for a warm-up |
//! | `ok` | exit status 0, the guest printed `KEMU-GUEST: result PASS` (not for native), and every workload gave a metric (`pi_*`, `float_*`, `disk_*`, `lat_*`, `mem_*`, `file_*`, `xz_*`, `sevenzip_*`, `sqlite_*`, `gcc_*`) |
//! | `wall_init_ms` | integer ms from spawn to the guest's `KEMU-GUEST: init` line, or null |
//! | `guest_init_s` | the guest's own uptime at init, a JSON number with the digits it printed, or null |
//! | `wall_total_ms` | integer ms from spawn to exit |
//! | `metrics` | `KEMU-BENCH <metric> <value> <unit>` lines: metric to value, a JSON number with exactly the printed digits (never through a float: the workspace denies float arithmetic); `pi: N digits in M ms` gives `pi_ms`; and one string, `float_checksum` (`"0x..."`, from `float: checksum 0x...`) |
//! | `units` | metric to unit text |
//! | `stats` | the child's `--stats-json` object (kernel and user; `{}` otherwise or if none was written) |
//! | `exit_status` | exit code, or null (killed by a signal, or not started) |
//! | `timeout` | killed at `--timeout` |
//! | `problems` | why the run is not ok, one text each (empty when ok) |
//! | `workloads`, `quick` | what was asked |
//! | `host` | `{"kernel": uname -r, "cpu": model name, "cpus": n, "cmdline": /proc/cmdline}` |
//! | `time_unix` | integer seconds since the epoch at the start of the run |
//!
//! A failed run is recorded and reported, and the next runs go on; `kemuctl bench`
//! exits with 1 if any run failed (warm-ups included).

mod child;
mod parse;
mod record;

use std::ffi::OsString;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::{Args, ValueEnum};
use serde_json::{Map, Value};

use crate::machine_args::{parse_size, DEFAULT_FIRMWARE};
use parse::Parsed;
use record::{Host, Run};

/// A way to run the guest's workloads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Config {
    /// `kemuctl start --tier 1`: inside kemu.ko, tier 1 only.
    Kernel,
    /// `kemuctl start --tier 2`: inside kemu.ko, hot blocks through the kernel's BPF JIT.
    #[value(name = "kernel-t2")]
    KernelT2,
    /// `kemuctl run --tier 1`: kemu as a process, tier 1 only.
    User,
    /// `kemuctl run --tier 2`: kemu as a process, hot blocks through kemuctl's eBPF JIT.
    #[value(name = "user-t2")]
    UserT2,
    /// qemu-system-riscv64, TCG.
    Qemu,
    /// x86 builds of the guest's programs, on the host.
    Native,
}

impl Config {
    fn name(self) -> &'static str {
        match self {
            Config::Kernel => "kernel",
            Config::KernelT2 => "kernel-t2",
            Config::User => "user",
            Config::UserT2 => "user-t2",
            Config::Qemu => "qemu",
            Config::Native => "native",
        }
    }
}

/// A benchmark of the guest (see tests/guest/init.sh, `kemu.mode=bench`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Workload {
    /// 1000 digits of pi (integer).
    Pi,
    /// Floating-point kernel.
    Float,
    /// Sequential and random writes to the writeback and write-through disks.
    Disk,
    /// System-call and context-switch latency.
    Lat,
    /// Memory bandwidth.
    Mem,
    /// File reads through the page cache.
    File,
    /// Debian's xz: compression and decompression of a fixed file.
    Xz,
    /// Debian's 7-Zip: its built-in benchmark, fixed work.
    #[value(name = "7z")]
    SevenZip,
    /// Debian's sqlite3: a fixed SQL script on an in-memory database.
    Sqlite,
    /// Debian's gcc (cc1): compiling a fixed C file.
    Gcc,
}

impl Workload {
    const ALL: [Workload; 10] = [
        Workload::Pi,
        Workload::Float,
        Workload::Disk,
        Workload::Lat,
        Workload::Mem,
        Workload::File,
        Workload::Xz,
        Workload::SevenZip,
        Workload::Sqlite,
        Workload::Gcc,
    ];

    fn name(self) -> &'static str {
        match self {
            Workload::Pi => "pi",
            Workload::Float => "float",
            Workload::Disk => "disk",
            Workload::Lat => "lat",
            Workload::Mem => "mem",
            Workload::File => "file",
            Workload::Xz => "xz",
            Workload::SevenZip => "7z",
            Workload::Sqlite => "sqlite",
            Workload::Gcc => "gcc",
        }
    }

    /// The prefix of the metrics this workload produces.
    fn prefix(self) -> &'static str {
        match self {
            Workload::Pi => "pi_",
            Workload::Float => "float_",
            Workload::Disk => "disk_",
            Workload::Lat => "lat_",
            Workload::Mem => "mem_",
            Workload::File => "file_",
            Workload::Xz => "xz_",
            Workload::SevenZip => "sevenzip_",
            Workload::Sqlite => "sqlite_",
            Workload::Gcc => "gcc_",
        }
    }
}

/// Options of `kemuctl bench`.
#[derive(Args, Debug, Clone)]
pub(crate) struct BenchArgs {
    /// Configurations, run in this order [default: kernel,kernel-t2,user,user-t2,qemu,native; native only
    /// when --native-pi or --native-float is given].
    #[arg(long, value_enum, value_delimiter = ',', value_name = "LIST")]
    pub(crate) configs: Option<Vec<Config>>,
    /// Measured runs per configuration.
    #[arg(long, default_value_t = 5)]
    pub(crate) runs: u32,
    /// The kemuctl that runs the kemu configurations [default: this one]: another build,
    /// to measure it with this one's workloads and parsing (its `run`/`start` options
    /// must be the same).
    #[arg(long, value_name = "PATH")]
    pub(crate) kemuctl: Option<PathBuf>,
    /// Warm-up runs per configuration, before the measured ones (recorded with
    /// "warmup": true).
    #[arg(long, default_value_t = 1)]
    pub(crate) warmup: u32,
    /// Workloads the guest runs (kernel command line kemu.bench=...) [default:
    /// pi,float,disk,lat,mem,file,xz,7z,sqlite,gcc].
    #[arg(long, value_enum, value_delimiter = ',', value_name = "LIST")]
    pub(crate) workloads: Option<Vec<Workload>>,
    /// Shorter workloads (kemu.bench.quick=1).
    #[arg(long)]
    pub(crate) quick: bool,
    /// Scratch disk of the disk workload, attached with writeback caching: kemu's
    /// virtio slot 1 and QEMU's second drive (the guest finds it by its ext4 label,
    /// KEMU-WB).
    #[arg(long, value_name = "PATH")]
    pub(crate) disk_wb: Option<PathBuf>,
    /// Scratch disk of the disk workload, attached write-through, after --disk-wb
    /// (label KEMU-WT).
    #[arg(long, value_name = "PATH")]
    pub(crate) disk_wt: Option<PathBuf>,
    /// QEMU binary of the qemu configuration.
    #[arg(long, default_value = "qemu-system-riscv64", value_name = "PATH")]
    pub(crate) qemu: PathBuf,
    /// Kernel Image for every configuration (default: the newest in IMAGE's /boot).
    #[arg(long, value_name = "PATH")]
    pub(crate) kernel: Option<PathBuf>,
    /// Initial ramdisk (default: the one beside the kernel in IMAGE's /boot).
    #[arg(long, value_name = "PATH")]
    pub(crate) initrd: Option<PathBuf>,
    /// Firmware (OpenSBI fw_dynamic).
    #[arg(long, default_value = DEFAULT_FIRMWARE, value_name = "PATH")]
    pub(crate) firmware: PathBuf,
    /// Guest RAM (a number of MiB, or with a K/M/G suffix).
    #[arg(long, default_value = "512M", value_parser = parse_size)]
    pub(crate) mem: u64,
    /// Seconds after which a run is killed (and recorded with "timeout": true).
    #[arg(long, default_value_t = 900, value_name = "SECS")]
    pub(crate) timeout: u64,
    /// `--tier2-threshold N` for the tier-2 configurations (default: each host's own,
    /// see `kemuctl run --help`).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) tier2_threshold: Option<u32>,
    /// Native build of the guest's pi program (run as `PATH 1000`).
    #[arg(long, value_name = "PATH")]
    pub(crate) native_pi: Option<PathBuf>,
    /// Native build of the guest's float program.
    #[arg(long, value_name = "PATH")]
    pub(crate) native_float: Option<PathBuf>,
    /// Label of this environment in every record [default: the host name].
    #[arg(long, value_name = "LABEL")]
    pub(crate) env: Option<String>,
    /// Append the JSON lines to this file too.
    #[arg(long, value_name = "FILE")]
    pub(crate) out: Option<PathBuf>,
    /// Save each run's console, every line with its host time since spawn, as
    /// DIR/<config>-<iteration>.log.
    #[arg(long, value_name = "DIR")]
    pub(crate) log_dir: Option<PathBuf>,
    /// Instead of the Debian guest: a bare-metal RISC-V ELF program run with no firmware
    /// (`--bios none`, M-mode at its entry) that ends by writing the SiFive test device
    /// (power-off): CPU speed alone. No workloads, disks or image; a run is ok when the
    /// program exits with 0. Configurations kernel, user and qemu.
    #[arg(long, value_name = "ELF", conflicts_with_all = ["image", "workloads", "disk_wb", "disk_wt"])]
    pub(crate) bare: Option<PathBuf>,
    /// The guest's raw disk image (/dev/vda; its /boot has the kernel unless --kernel).
    /// Not needed for native alone.
    pub(crate) image: Option<PathBuf>,
}

/// Steps of the float workload (tests/guest/src/float.c): the guest gets the number on
/// its command line and the native build as its argument, so both do the same work and
/// their checksums must agree.
fn float_steps(quick: bool) -> &'static str {
    if quick {
        "500"
    } else {
        "5000"
    }
}

/// The kernel command line of every guest run.
fn kernel_cmdline(workloads: &[Workload], quick: bool) -> String {
    let names: Vec<&str> = workloads.iter().map(|w| w.name()).collect();
    let mut s = format!("console=ttyS0 kemu.mode=bench kemu.bench={}", names.join(","));
    if quick {
        s.push_str(" kemu.bench.quick=1");
    }
    if workloads.contains(&Workload::Float) {
        s.push_str(" kemu.bench.float_steps=");
        s.push_str(float_steps(quick));
    }
    s
}

/// A size as kemuctl's `--mem` takes it.
fn size_arg(bytes: u64) -> String {
    if bytes & ((1 << 20) - 1) == 0 {
        format!("{}M", bytes >> 20)
    } else {
        format!("{}K", bytes >> 10)
    }
}

/// Arguments of `kemuctl start|run` for one run.
fn kemu_args(config: Config, device: &Path, stats: &Path, a: &BenchArgs, image: &Path, cmdline: &str) -> Vec<OsString> {
    let mut v: Vec<OsString> = Vec::new();
    if matches!(config, Config::Kernel | Config::KernelT2) {
        v.extend(["start".into(), "--device".into(), device.into()]);
    } else {
        v.push("run".into());
    }
    let t2 = matches!(config, Config::KernelT2 | Config::UserT2);
    v.extend(["--tier".into(), if t2 { "2" } else { "1" }.into()]);
    if let Some(n) = a.tier2_threshold.filter(|_| t2) {
        v.extend(["--tier2-threshold".into(), n.to_string().into()]);
    }
    if let Some(elf) = &a.bare {
        v.extend(["--stats-json".into(), stats.into(), "--bios".into(), "none".into()]);
        v.extend(["--mem".into(), size_arg(a.mem).into(), "--kernel".into(), elf.into()]);
        return v;
    }
    v.extend(["--stats-json".into(), stats.into(), "--firmware".into(), a.firmware.clone().into()]);
    v.extend(["--mem".into(), size_arg(a.mem).into(), "--append".into(), cmdline.into()]);
    if let Some(k) = &a.kernel {
        v.extend(["--kernel".into(), k.into()]);
    }
    if let Some(i) = &a.initrd {
        v.extend(["--initrd".into(), i.into()]);
    }
    if let Some(d) = &a.disk_wb {
        v.extend(["--disk".into(), d.into()]);
    }
    if let Some(d) = &a.disk_wt {
        let mut spec = OsString::from(d);
        spec.push(",writethrough");
        v.extend(["--disk".into(), spec]);
    }
    v.push(image.into());
    v
}

/// A path inside a QEMU option value (commas doubled).
fn qemu_path(p: &Path) -> OsString {
    OsString::from(p.to_string_lossy().replace(',', ",,"))
}

/// Arguments of QEMU for one run.
fn qemu_args(a: &BenchArgs, image: &Path, kernel: &Path, initrd: Option<&Path>, cmdline: &str) -> Vec<OsString> {
    let mut v: Vec<OsString> = ["-M", "virt", "-m"].map(OsString::from).to_vec();
    v.push(format!("{}", a.mem >> 20).into());
    v.extend(["-smp", "1", "-nographic", "-no-reboot", "-monitor", "none", "-serial", "stdio", "-bios"].map(OsString::from));
    if let Some(elf) = &a.bare {
        v.extend(["none".into(), "-kernel".into(), elf.into()]);
        return v;
    }
    v.extend([a.firmware.clone().into(), "-kernel".into(), kernel.into()]);
    if let Some(i) = initrd {
        v.extend(["-initrd".into(), i.into()]);
    }
    v.extend(["-append".into(), cmdline.into()]);
    let disks = [Some((image, "writeback")), a.disk_wb.as_deref().map(|d| (d, "writeback")), a.disk_wt.as_deref().map(|d| (d, "writethrough"))];
    for (n, (path, cache)) in disks.into_iter().flatten().enumerate() {
        let mut drive = OsString::from("file=");
        drive.push(qemu_path(path));
        drive.push(format!(",format=raw,if=none,id=hd{n},cache={cache}"));
        v.extend(["-drive".into(), drive, "-device".into(), format!("virtio-blk-device,drive=hd{n}").into()]);
    }
    v
}

/// A directory removed with everything in it when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Result<Self, String> {
        let p = std::env::temp_dir().join(format!("kemu-bench-{}", std::process::id()));
        std::fs::create_dir_all(&p).map_err(|e| format!("{}: {e}", p.display()))?;
        Ok(TempDir(p))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A native program of the `native` configuration.
struct NativeProgram {
    workload: Workload,
    path: PathBuf,
    args: Vec<&'static str>,
}

/// Everything decided before the first run.
struct Setup<'a> {
    a: &'a BenchArgs,
    device: &'a Path,
    exe: PathBuf,
    configs: Vec<Config>,
    workloads: Vec<Workload>,
    cmdline: String,
    native: Vec<NativeProgram>,
    /// Kernel and initrd for QEMU.
    qemu_boot: Option<(PathBuf, Option<PathBuf>)>,
    tmp: TempDir,
    host: Host,
    env: String,
}

fn must_exist(what: &str, p: &Path) -> Result<(), String> {
    if p.exists() {
        Ok(())
    } else {
        Err(format!("{what} {}: not found", p.display()))
    }
}

/// The native programs for `workloads`; with `explicit` (native was asked for), each
/// of pi and float that is asked for needs its program.
fn native_programs(a: &BenchArgs, workloads: &[Workload], explicit: bool) -> Result<Vec<NativeProgram>, String> {
    let mut progs = Vec::new();
    for (w, path, opt, args) in [
        (Workload::Pi, &a.native_pi, "--native-pi", vec!["1000"]),
        (Workload::Float, &a.native_float, "--native-float", vec![float_steps(a.quick)]),
    ] {
        if !workloads.contains(&w) {
            continue;
        }
        match path {
            Some(p) => progs.push(NativeProgram { workload: w, path: p.clone(), args }),
            None if explicit => return Err(format!("--configs native with workload {} needs {opt} PATH", w.name())),
            None => {}
        }
    }
    if explicit && progs.is_empty() {
        return Err("--configs native runs the pi and float workloads only, and --workloads has neither".into());
    }
    Ok(progs)
}

impl<'a> Setup<'a> {
    fn new(device: &'a Path, a: &'a BenchArgs) -> Result<Self, Box<dyn std::error::Error>> {
        let explicit_native = a.configs.as_ref().is_some_and(|c| c.contains(&Config::Native));
        let mut configs =
            a.configs.clone().unwrap_or_else(|| {
                vec![Config::Kernel, Config::KernelT2, Config::User, Config::UserT2, Config::Qemu, Config::Native]
            });
        let mut workloads = match &a.bare {
            Some(_) => Vec::new(),
            None => a.workloads.clone().unwrap_or_else(|| Workload::ALL.to_vec()),
        };
        let mut seen = Vec::new();
        workloads.retain(|w| !seen.contains(w) && {
            seen.push(*w);
            true
        });
        if let Some(elf) = &a.bare {
            if configs.contains(&Config::Native) && a.configs.is_some() {
                return Err("--bare runs kernel, user and qemu only".into());
            }
            configs.retain(|&c| c != Config::Native);
            must_exist("bare-metal program", elf)?;
        }
        let native = if configs.contains(&Config::Native) {
            native_programs(a, &workloads, explicit_native)?
        } else {
            Vec::new()
        };
        if native.is_empty() {
            configs.retain(|&c| c != Config::Native);
        }
        if configs.is_empty() {
            return Err("nothing to run: --configs native needs --native-pi or --native-float".into());
        }
        for p in &native {
            must_exist("native program", &p.path)?;
        }
        let guest = configs.iter().any(|&c| c != Config::Native);
        let tmp = TempDir::new()?;
        let mut qemu_boot = None;
        if guest && a.bare.is_none() {
            let image = a.image.as_deref().ok_or("the guest configurations need the disk IMAGE")?;
            must_exist("image", image)?;
            must_exist("firmware", &a.firmware)?;
            for (what, p) in [("kernel", &a.kernel), ("initrd", &a.initrd), ("disk", &a.disk_wb), ("disk", &a.disk_wt)] {
                if let Some(p) = p {
                    must_exist(what, p)?;
                }
            }
            for d in [&a.disk_wb, &a.disk_wt].into_iter().flatten() {
                if d.to_string_lossy().contains(',') {
                    return Err(format!("{}: a disk path with a comma cannot be given to --disk", d.display()).into());
                }
            }
            if workloads.contains(&Workload::Disk) && a.disk_wb.is_none() && a.disk_wt.is_none() {
                eprintln!("kemuctl bench: note: workload disk without --disk-wb or --disk-wt: the guest has no scratch disk");
            }
            if configs.contains(&Config::Qemu) {
                qemu_boot = Some(qemu_kernel(a, image, &tmp.0)?);
            }
        }
        if let Some(d) = &a.log_dir {
            std::fs::create_dir_all(d).map_err(|e| format!("{}: {e}", d.display()))?;
        }
        let env = a.env.clone().unwrap_or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname").map(|s| s.trim().to_string()).unwrap_or_default()
        });
        Ok(Setup {
            a,
            device,
            exe: match &a.kemuctl {
                Some(p) => p.clone(),
                None => std::env::current_exe().map_err(|e| format!("finding kemuctl's own path: {e}"))?,
            },
            configs,
            cmdline: kernel_cmdline(&workloads, a.quick),
            workloads,
            native,
            qemu_boot,
            tmp,
            host: Host::read(),
            env,
        })
    }

    /// One run of `config`.
    fn run(&self, config: Config, iteration: u32) -> (Run, String) {
        let time_unix = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let warmup = iteration < self.a.warmup;
        let mut log = format!(
            "# kemuctl bench: {} iteration {iteration}{}, env {}\n",
            config.name(),
            if warmup { " (warm-up)" } else { "" },
            self.env
        );
        let mut parsed = Parsed::default();
        let mut problems = Vec::new();
        let mut stats = Map::new();
        let t0 = Instant::now();
        let deadline = t0 + Duration::from_secs(self.a.timeout);
        let mut ends = Vec::new();
        let required: Vec<Workload> = match config {
            Config::Native => self.native.iter().map(|p| p.workload).collect(),
            _ => self.workloads.clone(),
        };
        match config {
            Config::Kernel | Config::KernelT2 | Config::User | Config::UserT2 | Config::Qemu => {
                let image = self.a.image.as_deref().unwrap_or(Path::new(""));
                let stats_path = self.tmp.0.join(format!("stats-{}-{iteration}.json", config.name()));
                let _ = std::fs::remove_file(&stats_path);
                let mut cmd = if config == Config::Qemu {
                    let (k, i) = self.qemu_boot.as_ref().map_or((Path::new(""), None), |(k, i)| (k.as_path(), i.as_deref()));
                    let mut c = Command::new(&self.a.qemu);
                    c.args(qemu_args(self.a, image, k, i, &self.cmdline));
                    c
                } else {
                    let mut c = Command::new(&self.exe);
                    c.args(kemu_args(config, self.device, &stats_path, self.a, image, &self.cmdline));
                    c
                };
                ends.push(child::run(&mut cmd, t0, deadline, &mut parsed, &mut log));
                if let Ok(text) = std::fs::read_to_string(&stats_path) {
                    match serde_json::from_str::<Value>(&text) {
                        Ok(Value::Object(m)) => stats = m,
                        _ => log.push_str("# the --stats-json file is no JSON object\n"),
                    }
                }
                let _ = std::fs::remove_file(&stats_path);
            }
            Config::Native => {
                for p in &self.native {
                    let mut cmd = Command::new(&p.path);
                    cmd.args(&p.args);
                    ends.push(child::run(&mut cmd, t0, deadline, &mut parsed, &mut log));
                    if ends.last().is_some_and(|e| e.timeout) {
                        break;
                    }
                }
            }
        }
        for e in &ends {
            problems.extend(end_problems(e, self.a.timeout));
        }
        if config != Config::Native && self.a.bare.is_none() {
            match parsed.guest_ok {
                Some(true) => {}
                Some(false) => problems.push("the guest printed result FAIL".to_string()),
                None => problems.push("no KEMU-GUEST: result line".to_string()),
            }
        }
        // The first child that did not exit with 0 decides (native runs two).
        let exit_status = match ends.iter().find(|e| e.code != Some(0)) {
            Some(e) => e.code,
            None if ends.is_empty() => None,
            None => Some(0),
        };
        let missing: Vec<&str> = required.iter().filter(|w| !parsed.has_prefix(w.prefix())).map(|w| w.name()).collect();
        if !missing.is_empty() {
            problems.push(format!("no metrics for {}", missing.join(", ")));
        }
        let wall_total = ends.last().map_or(t0.elapsed(), |e| e.at);
        let run = Run {
            env: self.env.clone(),
            config: config.name(),
            iteration,
            warmup,
            workloads: required.iter().map(|w| w.name()).collect(),
            quick: self.a.quick,
            parsed,
            wall_total,
            exit_status,
            timeout: ends.iter().any(|e| e.timeout),
            stats,
            problems,
            time_unix,
        };
        (run, log)
    }
}

/// Why a child's end makes its run fail.
fn end_problems(e: &child::Ended, timeout_s: u64) -> Vec<String> {
    let mut v = Vec::new();
    if let Some(err) = &e.error {
        v.push(err.clone());
    }
    if e.timeout {
        v.push(format!("killed at the {timeout_s} s timeout"));
    } else if let Some(sig) = e.signal {
        v.push(format!("killed by signal {sig}"));
    }
    match e.code {
        Some(0) | None => {}
        Some(c) => v.push(match &e.last_stderr {
            Some(l) => format!("exit status {c}: {}", l.trim()),
            None => format!("exit status {c}"),
        }),
    }
    v
}

/// The kernel and initrd QEMU boots: `--kernel`/`--initrd`, or those of the image's
/// /boot copied out into `tmp`.
fn qemu_kernel(a: &BenchArgs, image: &Path, tmp: &Path) -> Result<(PathBuf, Option<PathBuf>), String> {
    if let Some(k) = &a.kernel {
        return Ok((k.clone(), a.initrd.clone()));
    }
    let found = crate::boot::bootfs::find_kernel(image).map_err(|e| e.to_string())?;
    let kernel = tmp.join("Image");
    std::fs::write(&kernel, &found.kernel).map_err(|e| format!("{}: {e}", kernel.display()))?;
    let initrd = match (&a.initrd, found.initrd) {
        (Some(i), _) => Some(i.clone()),
        (None, Some((_, data))) => {
            let p = tmp.join("initrd.img");
            std::fs::write(&p, data).map_err(|e| format!("{}: {e}", p.display()))?;
            Some(p)
        }
        (None, None) => None,
    };
    Ok((kernel, initrd))
}

/// `kemuctl bench`: true if every run was ok.
pub(crate) fn cmd_bench(device: &Path, a: &BenchArgs) -> Result<bool, Box<dyn std::error::Error>> {
    let setup = Setup::new(device, a)?;
    let mut out = match &a.out {
        Some(p) => {
            Some(OpenOptions::new().create(true).append(true).open(p).map_err(|e| format!("{}: {e}", p.display()))?)
        }
        None => None,
    };
    let mut all_ok = true;
    for &config in &setup.configs {
        for iteration in 0..a.warmup.saturating_add(a.runs) {
            let (run, log) = setup.run(config, iteration);
            all_ok &= run.ok();
            let line = record::to_json(&run, &setup.host).to_string();
            if let Some(f) = out.as_mut() {
                writeln!(f, "{line}").and_then(|()| f.flush()).map_err(|e| format!("writing the results: {e}"))?;
            }
            {
                let mut so = std::io::stdout().lock();
                writeln!(so, "KEMU-BENCH-JSON {line}").and_then(|()| so.flush())?;
            }
            if let Some(d) = &a.log_dir {
                let p = d.join(format!("{}-{iteration}.log", config.name()));
                std::fs::write(&p, log).map_err(|e| format!("{}: {e}", p.display()))?;
            }
            eprintln!("{}", record::summary(&run, a.runs, a.warmup));
        }
    }
    Ok(all_ok)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        a: BenchArgs,
    }

    fn args(v: &[&str]) -> BenchArgs {
        Cli::parse_from(std::iter::once("bench").chain(v.iter().copied())).a
    }

    fn strs(v: &[OsString]) -> Vec<String> {
        v.iter().map(|s| s.to_string_lossy().into_owned()).collect()
    }

    #[test]
    fn command_lines() {
        let a = args(&[
            "--workloads", "pi,disk", "--quick", "--disk-wb", "/d/wb.img", "--disk-wt", "/d/wt,x.img", "--mem", "256M",
            "--firmware", "/fw.bin", "guest.img",
        ]);
        let cmdline = kernel_cmdline(a.workloads.as_deref().unwrap(), a.quick);
        assert_eq!(cmdline, "console=ttyS0 kemu.mode=bench kemu.bench=pi,disk kemu.bench.quick=1");
        let cmdline = kernel_cmdline(&[Workload::Float], false);
        assert_eq!(cmdline, "console=ttyS0 kemu.mode=bench kemu.bench=float kemu.bench.float_steps=5000");
        let image = a.image.clone().unwrap();
        assert_eq!(
            strs(&kemu_args(Config::Kernel, Path::new("/dev/kemu"), Path::new("/t/s.json"), &a, &image, &cmdline)).join(" "),
            format!("start --device /dev/kemu --tier 1 --stats-json /t/s.json --firmware /fw.bin --mem 256M --append {cmdline} --disk /d/wb.img --disk /d/wt,x.img,writethrough guest.img")
        );
        assert_eq!(strs(&kemu_args(Config::User, Path::new("/dev/kemu"), Path::new("/t/s.json"), &a, &image, "c"))[..5], ["run", "--tier", "1", "--stats-json", "/t/s.json"]);
        assert_eq!(strs(&kemu_args(Config::UserT2, Path::new("/dev/kemu"), Path::new("/t/s.json"), &a, &image, "c"))[..3], ["run", "--tier", "2"]);
        assert_eq!(strs(&kemu_args(Config::KernelT2, Path::new("/dev/kemu"), Path::new("/t/s.json"), &a, &image, "c"))[..5], ["start", "--device", "/dev/kemu", "--tier", "2"]);
        assert_eq!(
            strs(&qemu_args(&a, &image, Path::new("/t/Image"), Some(Path::new("/t/initrd.img")), "c")).join(" "),
            "-M virt -m 256 -smp 1 -nographic -no-reboot -monitor none -serial stdio -bios /fw.bin -kernel /t/Image \
             -initrd /t/initrd.img -append c \
             -drive file=guest.img,format=raw,if=none,id=hd0,cache=writeback -device virtio-blk-device,drive=hd0 \
             -drive file=/d/wb.img,format=raw,if=none,id=hd1,cache=writeback -device virtio-blk-device,drive=hd1 \
             -drive file=/d/wt,,x.img,format=raw,if=none,id=hd2,cache=writethrough -device virtio-blk-device,drive=hd2"
        );
        // Only the write-through disk: it is hd1, /dev/vdb.
        let a = args(&["--disk-wt", "wt.img", "--kernel", "K", "--initrd", "I", "g.img"]);
        let q = strs(&qemu_args(&a, Path::new("g.img"), Path::new("K"), None, "c")).join(" ");
        assert!(q.ends_with("-drive file=wt.img,format=raw,if=none,id=hd1,cache=writethrough -device virtio-blk-device,drive=hd1"), "{q}");
        let k = strs(&kemu_args(Config::User, Path::new("/dev/kemu"), Path::new("s"), &a, Path::new("g.img"), "c")).join(" ");
        assert!(k.ends_with("--mem 512M --append c --kernel K --initrd I --disk wt.img,writethrough g.img"), "{k}");
        assert_eq!(size_arg(3 << 19), "1536K");
    }

    #[test]
    fn defaults_and_native_rules() {
        let a = args(&["g.img"]);
        assert_eq!((a.runs, a.warmup, a.timeout, a.mem), (5, 1, 900, 512 << 20));
        assert_eq!(a.configs, None);
        let all = Workload::ALL.to_vec();
        // Not asked for: skipped without programs.
        assert!(native_programs(&a, &all, false).unwrap().is_empty());
        // Asked for: every asked-for workload it can run needs its program.
        let e = native_programs(&a, &all, true).err().unwrap();
        assert_eq!(e, "--configs native with workload pi needs --native-pi PATH");
        let a = args(&["--native-pi", "p", "--configs", "native"]);
        assert!(native_programs(&a, &all, true).is_err());
        let p = native_programs(&a, &[Workload::Pi, Workload::Disk], true).unwrap();
        assert_eq!((p.len(), p[0].args.clone()), (1, vec!["1000"]));
        assert!(native_programs(&a, &[Workload::Disk], true).is_err());
        assert_eq!(args(&["--configs", "user,qemu"]).configs, Some(vec![Config::User, Config::Qemu]));
        assert_eq!(args(&["--configs", "kernel-t2,user-t2"]).configs, Some(vec![Config::KernelT2, Config::UserT2]));
        assert!(Cli::try_parse_from(["bench", "--configs", "user,vmware"]).is_err());
        assert!(Cli::try_parse_from(["bench", "--workloads", "pi,gpu"]).is_err());
        let a = args(&["--workloads", "xz,7z,sqlite,gcc"]);
        assert_eq!(a.workloads, Some(vec![Workload::Xz, Workload::SevenZip, Workload::Sqlite, Workload::Gcc]));
        assert_eq!(
            kernel_cmdline(a.workloads.as_deref().unwrap(), true),
            "console=ttyS0 kemu.mode=bench kemu.bench=xz,7z,sqlite,gcc kemu.bench.quick=1"
        );
    }

    #[test]
    fn end_problem_texts() {
        let e = child::Ended { code: Some(1), last_stderr: Some("kemuctl: /dev/kemu not found".into()), ..Default::default() };
        assert_eq!(end_problems(&e, 900), ["exit status 1: kemuctl: /dev/kemu not found"]);
        let e = child::Ended { timeout: true, signal: Some(9), ..Default::default() };
        assert_eq!(end_problems(&e, 60), ["killed at the 60 s timeout"]);
        let e = child::Ended { signal: Some(11), ..Default::default() };
        assert_eq!(end_problems(&e, 60), ["killed by signal 11"]);
        assert!(end_problems(&child::Ended { code: Some(0), ..Default::default() }, 1).is_empty());
    }
}
