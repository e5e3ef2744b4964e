// SPDX-License-Identifier: GPL-2.0

//! kemu: a whole-system RISC-V emulator inside the Linux kernel.
//!
//! Loading the module registers the misc device `/dev/kemu` (root-only). Each open of it
//! is one VM context, driven by the ioctls defined in `uapi/`.
//!
//! kbuild builds one crate per module, so the `no_std` core crates of the workspace are
//! compiled into this one as modules with `#[path]`; they are written to work both ways.

#[path = "../uapi/src/abi.rs"]
pub mod uapi;

#[path = "../ktranslator/src/ktranslator.rs"]
pub mod ktranslator;

#[path = "../kdevices/src/kdevices.rs"]
pub mod kdevices;

#[path = "../kvmm/src/kvmm.rs"]
pub mod kvmm;

mod abi;
mod clock;
mod console;
mod device;
mod file_io;
mod jit;
mod kthread;
mod registry;
mod vm;

use kernel::{
    miscdevice::{MiscDeviceOptions, MiscDeviceRegistration},
    prelude::*,
};

module! {
    type: KemuModule,
    name: "kemu",
    authors: ["the kemu developers"],
    description: "kemu: in-kernel RISC-V system emulator (/dev/kemu)",
    license: "GPL",
}

/// The loaded module: owns the `/dev/kemu` registration.
#[pin_data(PinnedDrop)]
struct KemuModule {
    #[pin]
    _miscdev: MiscDeviceRegistration<device::KemuFile>,
}

impl kernel::InPlaceModule for KemuModule {
    fn init(_module: &'static ThisModule) -> impl PinInit<Self, Error> {
        pr_info!(
            "ABI {}.{}, guest {} (misa {:#x}), {} memory-map regions\n",
            uapi::KEMU_ABI_MAJOR,
            uapi::KEMU_ABI_MINOR,
            ktranslator::isa::ISA_STRING,
            ktranslator::isa::misa(),
            kdevices::memmap::MEMMAP.len()
        );
        registry::init();
        jit::probe();
        try_pin_init!(Self {
            _miscdev <- MiscDeviceRegistration::register(MiscDeviceOptions { name: c"kemu" }),
        })
    }
}

#[pinned_drop]
impl PinnedDrop for KemuModule {
    fn drop(self: Pin<&mut Self>) {
        registry::exit();
    }
}
