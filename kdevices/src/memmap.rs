//! The one memory map of kemu's RISC-V `virt` machine, laid out like QEMU's `virt`
//! board (hw/riscv/virt.c) so that firmware and kernels built for it boot unchanged.
//! The bus, the device-tree builder and the tests all read this table.

/// What sits in a region of the physical address space.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// SiFive test device (syscon): poweroff and reboot.
    Test,
    /// Goldfish real-time clock.
    Rtc,
    /// Core-local interruptor: msip, mtimecmp, mtime.
    Clint,
    /// Platform-level interrupt controller.
    Plic,
    /// NS16550A UART.
    Uart,
    /// A virtio-mmio transport slot.
    VirtioMmio,
    /// Guest RAM (the region's size is the largest RAM kemu supports; the machine's
    /// actual RAM size comes from its configuration).
    Ram,
}

/// One entry of the memory map.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Region {
    /// What the region holds.
    pub kind: Kind,
    /// Index among regions of the same kind (the virtio slot number; 0 otherwise).
    pub index: u32,
    /// First guest-physical address.
    pub base: u64,
    /// Length in bytes.
    pub size: u64,
    /// PLIC interrupt source, if the device has one.
    pub irq: Option<u32>,
}

impl Region {
    const fn new(kind: Kind, index: u32, base: u64, size: u64, irq: Option<u32>) -> Self {
        Self { kind, index, base, size, irq }
    }

    /// Whether `addr` falls inside this region.
    pub const fn contains(&self, addr: u64) -> bool {
        addr >= self.base && addr - self.base < self.size
    }
}

/// Base address of the SiFive test device.
pub const TEST_BASE: u64 = 0x10_0000;
/// Base address of the goldfish RTC.
pub const RTC_BASE: u64 = 0x10_1000;
/// Base address of the CLINT.
pub const CLINT_BASE: u64 = 0x200_0000;
/// Base address of the PLIC.
pub const PLIC_BASE: u64 = 0xc00_0000;
/// Base address of the UART.
pub const UART_BASE: u64 = 0x1000_0000;
/// Base address of virtio-mmio slot 0; slot `n` is at `VIRTIO_BASE + n * VIRTIO_STRIDE`.
pub const VIRTIO_BASE: u64 = 0x1000_1000;
/// Distance between virtio-mmio slots.
pub const VIRTIO_STRIDE: u64 = 0x1000;
/// Number of virtio-mmio slots.
pub const VIRTIO_SLOTS: u32 = 8;
/// First PLIC source of the virtio slots (slot `n` uses `VIRTIO_IRQ + n`).
pub const VIRTIO_IRQ: u32 = 1;
/// PLIC source of the UART.
pub const UART_IRQ: u32 = 10;
/// PLIC source of the RTC.
pub const RTC_IRQ: u32 = 11;
/// Base address of guest RAM.
pub const RAM_BASE: u64 = 0x8000_0000;
/// Largest guest RAM size the map leaves room for (64 GiB).
pub const RAM_MAX: u64 = 64 << 30;

const fn virtio(n: u32) -> Region {
    Region::new(Kind::VirtioMmio, n, VIRTIO_BASE + n as u64 * VIRTIO_STRIDE, VIRTIO_STRIDE, Some(VIRTIO_IRQ + n))
}

/// The memory map, sorted by base address, regions disjoint.
pub const MEMMAP: &[Region] = &[
    Region::new(Kind::Test, 0, TEST_BASE, 0x1000, None),
    Region::new(Kind::Rtc, 0, RTC_BASE, 0x1000, Some(RTC_IRQ)),
    Region::new(Kind::Clint, 0, CLINT_BASE, 0x1_0000, None),
    Region::new(Kind::Plic, 0, PLIC_BASE, 0x400_0000, None),
    Region::new(Kind::Uart, 0, UART_BASE, 0x100, Some(UART_IRQ)),
    virtio(0),
    virtio(1),
    virtio(2),
    virtio(3),
    virtio(4),
    virtio(5),
    virtio(6),
    virtio(7),
    Region::new(Kind::Ram, 0, RAM_BASE, RAM_MAX, None),
];

/// The region containing `addr`, if any.
pub fn lookup(addr: u64) -> Option<&'static Region> {
    MEMMAP.iter().find(|r| r.contains(addr))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_and_disjoint() {
        for pair in MEMMAP.windows(2) {
            assert!(pair[0].base + pair[0].size <= pair[1].base, "{:?} overlaps {:?}", pair[0], pair[1]);
        }
    }

    #[test]
    fn qemu_virt_addresses() {
        // Addresses and interrupt numbers of QEMU's virt board, which Linux and OpenSBI
        // images for it expect.
        assert_eq!(lookup(0x1000_0005).map(|r| r.kind), Some(Kind::Uart));
        assert_eq!(lookup(0x1000_8000).map(|r| (r.kind, r.index, r.irq)), Some((Kind::VirtioMmio, 7, Some(8))));
        assert_eq!(lookup(0x1000_1000).map(|r| r.irq), Some(Some(1)));
        assert_eq!(lookup(0x200_bff8).map(|r| r.kind), Some(Kind::Clint));
        assert_eq!(lookup(0xc20_1000).map(|r| r.kind), Some(Kind::Plic));
        assert_eq!(lookup(0x8020_0000).map(|r| r.kind), Some(Kind::Ram));
        assert_eq!(lookup(0x10_0000).map(|r| r.kind), Some(Kind::Test));
        assert_eq!(lookup(0x10_1000).map(|r| r.irq), Some(Some(11)));
    }

    #[test]
    fn holes_are_unmapped() {
        assert_eq!(lookup(0), None);
        assert_eq!(lookup(0x1000_0100), None);
        assert_eq!(lookup(0x1000_9000), None);
        assert_eq!(lookup(u64::MAX), None);
    }
}
