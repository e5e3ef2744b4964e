//! `kemuctl`: the userspace controller of kemu.

mod device;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use device::{features_string, Device};

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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Version => cmd_version(&cli.device),
        Command::Status => cmd_status(&cli.device),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kemuctl: {e}");
            ExitCode::FAILURE
        }
    }
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
    Ok(())
}
