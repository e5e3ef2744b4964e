//! `kemuctl`: the userspace controller of kemu.

mod bench;
mod boot;
mod device;
mod machine_args;
mod run;
mod start;
mod stats_json;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use device::{features_string, Device};
use machine_args::MachineArgs;

/// Control kemu, the in-kernel RISC-V system emulator.
#[derive(Parser, Debug)]
#[command(name = "kemuctl", version, about)]
struct Cli {
    /// The kemu device node.
    #[arg(long, global = true, env = "KEMU_DEVICE", default_value = "/dev/kemu")]
    device: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Print kemuctl's version and the ABI of the loaded kemu.ko.
    Version,
    /// Show whether kemu.ko is loaded and what it offers.
    Status,
    /// Run a guest machine in this process (the same engine as kemu.ko). Exit status:
    /// the guest's (power-off 0, syscon failure code, HTIF code; reboot stops with 0),
    /// 0 after Ctrl-A x, 1 when kemuctl itself fails.
    Run {
        #[command(flatten)]
        machine: MachineArgs,
        /// Print instructions, MIPS, translated blocks, TLB misses and wall time to
        /// stderr at exit.
        #[arg(long)]
        stats: bool,
        /// At exit, write the run's counters to this file as one JSON object (integers:
        /// instructions, tbs_translated, tbs_executed, chained, tlb_misses, traps,
        /// interrupts, tc_flushes, code_page_flushes, wall_ns, disk_requests, and the
        /// translator's other counters).
        #[arg(long, value_name = "FILE")]
        stats_json: Option<PathBuf>,
    },
    /// Boot a guest inside kemu.ko (the same machine as `run`) with this terminal as its
    /// console; the exit status is the guest's.
    Start {
        #[command(flatten)]
        machine: MachineArgs,
        /// Hand the VM to kemu.ko and print its id instead of attaching the console
        /// (then `kemuctl console ID`, `kemuctl stop ID`).
        #[arg(long)]
        detach: bool,
        /// When the VM has stopped, write its final counters (KEMU_STATUS) to this file
        /// as one JSON object: instructions, tbs_translated, tlb_misses, traps,
        /// disk_requests, uptime_ns, wall_ns (and tbs_executed, chained, translate_ns
        /// from a module of ABI 1.4 or later).
        #[arg(long, value_name = "FILE", conflicts_with = "detach")]
        stats_json: Option<PathBuf>,
    },
    /// Attach the terminal to a detached VM's console (Ctrl-A x leaves it running).
    Console {
        /// VM id (see `kemuctl status`).
        id: u32,
    },
    /// Stop a detached VM.
    Stop {
        /// VM id (see `kemuctl status`).
        id: u32,
    },
    /// Show where firmware, kernel, initrd and device tree would go in guest RAM,
    /// without running anything.
    Plan {
        #[command(flatten)]
        machine: MachineArgs,
        /// Also write the generated device tree blob to this file.
        #[arg(long)]
        dump_dtb: Option<PathBuf>,
    },
    /// Run the guest's benchmarks under several configurations, N times each after
    /// warm-ups, and record one JSON line per run.
    ///
    /// Configurations, in the order given: `kernel` and `kernel-t2` (kemuctl start: inside
    /// kemu.ko, with `--tier 1` and `--tier 2`), `user` and `user-t2` (kemuctl run, tier 1
    /// and tier 2), `qemu` (qemu-system-riscv64 -M virt, TCG), `native` (x86
    /// builds of the guest's pi and float programs, run on this host). Every guest boots
    /// IMAGE with `console=ttyS0 kemu.mode=bench kemu.bench=<workloads>` (plus
    /// `kemu.bench.quick=1` with --quick), the same firmware, kernel, initrd, RAM and
    /// disks (IMAGE first, then --disk-wb with writeback caching, then --disk-wt
    /// write-through), and prints `KEMU-BENCH <metric> <value> <unit>` lines.
    ///
    /// Each run's console is read line by line with host timestamps: `KEMU-GUEST: init at
    /// uptime S s` gives the boot time (guest and host), `KEMU-GUEST: result PASS` that
    /// the guest is content. A run is ok when the child exits 0, the guest passed, and
    /// every workload produced a metric; a run is killed after --timeout seconds. Each run
    /// is one JSON object, printed on stdout after `KEMU-BENCH-JSON ` and appended to
    /// --out; its keys: env, config, iteration, warmup, ok, wall_init_ms, guest_init_s,
    /// wall_total_ms, metrics, units, stats (kemuctl's --stats-json), exit_status,
    /// timeout, problems, workloads, quick, host {kernel, cpu, cpus, cmdline},
    /// time_unix. Metric values are JSON numbers with exactly the digits the guest
    /// printed. One line per run goes to stderr for people.
    ///
    /// Exit status: 0 when every run was ok, 1 when one failed (the others still run) or
    /// when kemuctl bench itself cannot start (one line on stderr).
    Bench(Box<bench::BenchArgs>),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let status_cmd = match &cli.command {
        Command::Start { machine, detach, stats_json } => {
            Some(start::cmd_start(&cli.device, machine, *detach, stats_json.as_deref()))
        }
        Command::Console { id } => Some(start::cmd_console(&cli.device, *id)),
        Command::Stop { id } => Some(start::cmd_stop(&cli.device, *id)),
        _ => None,
    };
    if let Some(result) = status_cmd {
        return match result {
            Ok(status) => ExitCode::from(status),
            Err(e) => {
                eprintln!("kemuctl: {e}");
                ExitCode::FAILURE
            }
        };
    }
    if let Command::Bench(args) = &cli.command {
        return match bench::cmd_bench(&cli.device, args) {
            Ok(all_ok) => {
                if all_ok {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::FAILURE
                }
            }
            Err(e) => {
                eprintln!("kemuctl: {e}");
                ExitCode::FAILURE
            }
        };
    }
    if let Command::Run { machine, stats, stats_json } = &cli.command {
        return match run::cmd_run(machine, *stats, stats_json.as_deref()) {
            Ok(status) => ExitCode::from(status),
            Err(e) => {
                eprintln!("kemuctl: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let result: Result<(), Box<dyn std::error::Error>> = match cli.command {
        Command::Version => cmd_version(&cli.device).map_err(Into::into),
        Command::Status => cmd_status(&cli.device).map_err(Into::into),
        Command::Plan { machine, dump_dtb } => cmd_plan(&machine, dump_dtb.as_deref()),
        Command::Run { .. }
        | Command::Start { .. }
        | Command::Console { .. }
        | Command::Stop { .. }
        | Command::Bench(_) => {
            unreachable!("handled above")
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kemuctl: {e}");
            ExitCode::FAILURE
        }
    }
}

fn cmd_plan(machine: &MachineArgs, dump_dtb: Option<&std::path::Path>) -> Result<(), Box<dyn std::error::Error>> {
    let plan = machine.plan()?;
    println!("RAM      {:#x}..{:#x} ({} MiB)", kdevices::memmap::RAM_BASE, kdevices::memmap::RAM_BASE + plan.ram_size, plan.ram_size >> 20);
    let mut loads: Vec<_> = plan.loads.iter().collect();
    loads.sort_by_key(|l| l.addr);
    for l in loads {
        println!("{:<16} {:#x}..{:#x} ({} bytes)", l.what, l.addr, l.addr + l.data.len() as u64, l.data.len());
    }
    println!("entry    pc={:#x} a0={:#x} a1={:#x} a2={:#x} (M-mode)", plan.entry, plan.args[0], plan.args[1], plan.args[2]);
    for d in machine.slot_disks()? {
        let ro = if d.spec.read_only { ", read-only" } else { "" };
        let cache = if d.spec.writethrough { "write-through" } else { "writeback" };
        println!("disk     virtio slot {}: {} ({cache}{ro})", d.slot, d.spec.path.display());
    }
    if let Some(t) = plan.tohost {
        println!("tohost   {t:#x}");
    }
    if let Some(path) = dump_dtb {
        let dtb = plan.loads.iter().find(|l| l.what == "device tree").map(|l| l.data.as_slice()).unwrap_or_default();
        std::fs::write(path, dtb).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}

fn cmd_version(path: &std::path::Path) -> Result<(), device::Error> {
    println!(
        "kemuctl {} (ABI {}.{})",
        env!("CARGO_PKG_VERSION"),
        uapi::KEMU_ABI_MAJOR,
        uapi::KEMU_ABI_MINOR
    );
    let dev = Device::open(path)?;
    let v = dev.version()?;
    println!("kemu.ko ABI {}.{}, features: {}", v.abi_major, v.abi_minor, features_string(v.features));
    Ok(())
}

fn cmd_status(path: &std::path::Path) -> Result<(), device::Error> {
    let dev = Device::open(path)?;
    let v = dev.checked_version()?;
    println!("module:   loaded ({}, ABI {}.{})", path.display(), v.abi_major, v.abi_minor);
    println!("features: {}", features_string(v.features));
    if v.features & uapi::KEMU_FEATURE_DETACH == 0 {
        return Ok(());
    }
    let vms = dev.list_vms()?;
    if vms.is_empty() {
        println!("VMs:      none");
        return Ok(());
    }
    println!("{:>4}  {:<8} {:>8} {:>7} {:>14} {:>9}  EXIT", "ID", "STATE", "UPTIME", "RAM", "INSTRUCTIONS", "DISK-REQS");
    for st in vms {
        let state = match st.state {
            uapi::KEMU_STATE_CREATED => "created",
            uapi::KEMU_STATE_RUNNING => "running",
            _ => "stopped",
        };
        let exit = match st.exit_reason {
            uapi::KEMU_EXIT_POWEROFF => "poweroff".to_string(),
            uapi::KEMU_EXIT_REBOOT => "reboot".to_string(),
            uapi::KEMU_EXIT_FAIL => format!("fail {}", st.exit_code),
            uapi::KEMU_EXIT_STOPPED => "stopped".to_string(),
            _ => "-".to_string(),
        };
        println!(
            "{:>4}  {:<8} {:>8} {:>6}M {:>14} {:>9}  {}",
            st.id,
            state,
            start::fmt_uptime(st.uptime_ns),
            st.ram_size >> 20,
            st.instructions,
            st.disk_requests,
            exit
        );
    }
    Ok(())
}
