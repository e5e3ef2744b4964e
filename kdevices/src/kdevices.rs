//! Module root of the device models (shared by the `kdevices` crate and kemu.ko).
//!
//! | module          | what                                                        |
//! |-----------------|-------------------------------------------------------------|
//! | `host`          | traits the host implements: disk, clocks, console, guest RAM |
//! | `mmio`          | the device-side MMIO interface: `Mmio`, `Width`, `Env`      |
//! | `memmap`        | the machine's memory map (QEMU `virt` layout)               |
//! | `machine`       | the bus: routing, PLIC wiring, `mip` bits, host events      |
//! | `clint`         | SiFive CLINT: msip, mtimecmp, mtime at 10 MHz               |
//! | `plic`          | SiFive PLIC: 95 sources, 2 contexts per hart                |
//! | `uart`          | NS16550A                                                    |
//! | `rtc`           | goldfish RTC                                                |
//! | `sifive_test`   | SiFive test device (poweroff, reboot, fail)                 |
//! | `virtio_mmio`   | virtio-mmio v2 transport; the threading model               |
//! | `virtqueue`     | split virtqueues, checked descriptor chain walking          |
//! | `virtio_blk`    | virtio-blk configuration and request processing             |
//! | `vcpu`          | host vCPU loop bookkeeping: actions, lines, WFI, exit codes |

pub mod clint;
pub mod host;
pub mod machine;
pub mod memmap;
pub mod mmio;
pub mod plic;
pub mod rtc;
pub mod sifive_test;
pub mod uart;
pub mod virtio_blk;
pub mod virtio_mmio;
pub mod virtqueue;
pub mod vcpu;

#[cfg(test)]
mod testutil;
