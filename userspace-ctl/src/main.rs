//! `kemuctl`: the userspace controller of kemu.

mod boot;
mod device;
mod machine_args;
mod run;
mod start;

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
    },
    /// Boot a guest inside kemu.ko (the same machine as `run`) with this terminal as its
    /// console; the exit status is the guest's.
    Start {
        #[command(flatten)]
        machine: MachineArgs,
        /// Fsync every guest write before the guest sees it complete (default: writeback,
        /// where a guest FLUSH fsyncs).
        #[arg(long)]
        writethrough: bool,
        /// Hand the VM to kemu.ko and print its id instead of attaching the console
        /// (then `kemuctl console ID`, `kemuctl stop ID`).
        #[arg(long)]
        detach: bool,
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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let status_cmd = match &cli.command {
        Command::Start { machine, writethrough, detach } => Some(start::cmd_start(&cli.device, machine, *writethrough, *detach)),
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
    if let Command::Run { machine, stats } = &cli.command {
        return match run::cmd_run(machine, *stats) {
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
        Command::Run { .. } | Command::Start { .. } | Command::Console { .. } | Command::Stop { .. } => {
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
