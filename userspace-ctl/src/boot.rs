//! Boot planning, shared by `kemuctl run` (userspace) and `kemuctl start` (kemu.ko):
//! turns firmware, kernel, initrd and command line into a list of guest-physical loads
//! plus the hart's entry state, laid out like QEMU's `virt` board:
//!
//! | what                     | where                                                  |
//! |--------------------------|--------------------------------------------------------|
//! | firmware (OpenSBI)       | RAM base (0x8000_0000), entered in M-mode              |
//! | kernel `Image`           | RAM base + header `text_offset` (at least 2 MiB)       |
//! | initrd                   | just below the DTB region, page aligned               |
//! | DTB, fw_dynamic info     | the last 2 MiB-aligned 2 MiB of RAM                    |
//!
//! The hart starts at the firmware with a0 = hart id, a1 = DTB, a2 = the fw_dynamic info
//! block that tells OpenSBI where the kernel is (next_addr, S-mode). With `--bios none`
//! the kernel is a bare-metal ELF, entered directly in M-mode with a0/a1 as above.

pub(crate) mod bootfs;
pub(crate) mod elf;
pub(crate) mod fdt;
pub(crate) mod image;

use std::fmt;

use kdevices::memmap::RAM_BASE;

/// Size and alignment of the region at the top of RAM holding the DTB and the
/// fw_dynamic info block (2 MiB, so Linux's early FDT mapping never straddles it).
const TOP_REGION: u64 = 2 << 20;
/// Largest DTB accepted (it shares the top region with the fw_dynamic info).
const DTB_MAX: u64 = 1 << 20;
/// RV64 kernels are loaded 2 MiB aligned.
const KERNEL_ALIGN: u64 = 2 << 20;
const PAGE: u64 = 4096;
/// OpenSBI's fw_dynamic info magic ("OSBI") and the version we fill in.
const FW_DYNAMIC_MAGIC: u64 = 0x4942_534f;
const FW_DYNAMIC_VERSION: u64 = 2;
/// fw_dynamic `next_mode` for S-mode.
const FW_DYNAMIC_NEXT_MODE_S: u64 = 1;
/// Smallest RAM the planner accepts.
pub(crate) const RAM_MIN: u64 = 16 << 20;

/// Why a guest cannot be booted, each one line for the user.
#[derive(Debug)]
pub(crate) enum BootError {
    /// A file could not be read.
    Io(String, std::io::Error),
    /// The disk image has no kernel in /boot (or is no ext4 image).
    KernelNotFound(String),
    /// The kernel, firmware or program is malformed.
    BadKernel(String),
    /// Things do not fit in guest RAM.
    DoesNotFit(String),
    /// The device tree could not be built.
    Fdt(String),
}

impl fmt::Display for BootError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BootError::Io(path, e) if e.kind() == std::io::ErrorKind::NotFound => write!(f, "{path}: not found"),
            BootError::Io(path, e) => write!(f, "{path}: {e}"),
            BootError::KernelNotFound(m) | BootError::BadKernel(m) | BootError::DoesNotFit(m) => f.write_str(m),
            BootError::Fdt(m) => write!(f, "building the device tree: {m}"),
        }
    }
}

impl std::error::Error for BootError {}

/// One block of bytes to place in guest RAM.
#[derive(Debug, Clone)]
pub(crate) struct Load {
    /// What it is, for messages.
    pub(crate) what: &'static str,
    /// Guest-physical address.
    pub(crate) addr: u64,
    /// The bytes.
    pub(crate) data: Vec<u8>,
}

/// Everything needed to start a guest.
#[derive(Debug)]
pub(crate) struct BootPlan {
    /// RAM size in bytes.
    pub(crate) ram_size: u64,
    /// Blocks to copy into RAM (disjoint, inside RAM).
    pub(crate) loads: Vec<Load>,
    /// Initial pc (M-mode).
    pub(crate) entry: u64,
    /// Initial a0, a1, a2.
    pub(crate) args: [u64; 3],
    /// HTIF `tohost` address of a bare-metal program, if it has one.
    pub(crate) tohost: Option<u64>,
    /// HTIF `fromhost` address, if the program has one.
    pub(crate) fromhost: Option<u64>,
}

/// What to boot.
#[derive(Debug, Clone)]
pub(crate) struct BootInputs {
    /// RAM size in bytes.
    pub(crate) ram_size: u64,
    /// Firmware (flat binary or ELF), or None for `--bios none`.
    pub(crate) firmware: Option<(String, Vec<u8>)>,
    /// Kernel `Image` (with firmware) or bare-metal ELF (without), with its name.
    pub(crate) kernel: (String, Vec<u8>),
    /// Initrd, with its name.
    pub(crate) initrd: Option<(String, Vec<u8>)>,
    /// Kernel command line.
    pub(crate) bootargs: String,
}

fn align_down(x: u64, a: u64) -> u64 {
    x & !(a - 1)
}

fn align_up(x: u64, a: u64) -> Option<u64> {
    Some(x.checked_add(a - 1)? & !(a - 1))
}

/// Lays the guest out in RAM and builds its device tree.
pub(crate) fn plan(inp: &BootInputs) -> Result<BootPlan, BootError> {
    if inp.ram_size < RAM_MIN || inp.ram_size % TOP_REGION != 0 || inp.ram_size > kdevices::memmap::RAM_MAX {
        return Err(BootError::DoesNotFit(format!(
            "RAM size {} MiB: must be a multiple of 2 MiB between {} MiB and {} GiB",
            inp.ram_size >> 20,
            RAM_MIN >> 20,
            kdevices::memmap::RAM_MAX >> 30
        )));
    }
    let ram_end = RAM_BASE + inp.ram_size;
    let top = align_down(ram_end - TOP_REGION, TOP_REGION);
    let dtb_addr = top;
    let fw_info_addr = top + DTB_MAX;
    let mut loads = Vec::new();
    // `reserved_end`: end of what the firmware and kernel occupy, bss included.
    let (entry, tohost, fromhost, reserved_end);

    match &inp.firmware {
        Some((fw_name, fw)) => {
            let (kname, kernel) = &inp.kernel;
            let header = image::parse(kernel, kname)?;
            let kernel_addr = RAM_BASE + align_up(header.text_offset.max(KERNEL_ALIGN), KERNEL_ALIGN)
                .ok_or_else(|| BootError::BadKernel(format!("{kname}: absurd text_offset")))?;
            if elf::is_elf(fw) {
                let prog = elf::parse(fw, fw_name)?;
                entry = prog.entry;
                loads.extend(prog.loads.into_iter().map(|l| Load { what: "firmware", ..l }));
            } else {
                entry = RAM_BASE;
                loads.push(Load { what: "firmware", addr: RAM_BASE, data: fw.clone() });
            }
            for l in loads.iter().filter(|l| l.what == "firmware") {
                if l.addr.saturating_add(l.data.len() as u64) > kernel_addr {
                    return Err(BootError::DoesNotFit(format!(
                        "{fw_name}: firmware reaches past {kernel_addr:#x}, where the kernel goes"
                    )));
                }
            }
            let kernel_end = kernel_addr.saturating_add(header.image_size);
            if kernel_end > top {
                return Err(BootError::DoesNotFit(format!(
                    "{kname}: the kernel needs {} MiB: more RAM please (--mem)",
                    header.image_size >> 20
                )));
            }
            loads.push(Load { what: "kernel", addr: kernel_addr, data: kernel.clone() });
            reserved_end = kernel_end;
            tohost = None;
            fromhost = None;
            let mut info = Vec::with_capacity(48);
            for v in [FW_DYNAMIC_MAGIC, FW_DYNAMIC_VERSION, kernel_addr, FW_DYNAMIC_NEXT_MODE_S, 0, 0] {
                info.extend_from_slice(&v.to_le_bytes());
            }
            loads.push(Load { what: "fw_dynamic info", addr: fw_info_addr, data: info });
        }
        None => {
            let (kname, kernel) = &inp.kernel;
            if !elf::is_elf(kernel) {
                return Err(BootError::BadKernel(format!("{kname}: --bios none needs a bare-metal ELF program")));
            }
            let prog = elf::parse(kernel, kname)?;
            entry = prog.entry;
            tohost = prog.tohost;
            fromhost = prog.fromhost;
            loads.extend(prog.loads);
            reserved_end = loads.iter().map(|l| l.addr.saturating_add(l.data.len() as u64)).max().unwrap_or(RAM_BASE);
        }
    }

    let initrd_range = match &inp.initrd {
        Some((name, data)) => {
            let len = data.len() as u64;
            let start = align_down(dtb_addr.saturating_sub(len), PAGE);
            if len > dtb_addr - RAM_BASE || start < reserved_end {
                return Err(BootError::DoesNotFit(format!("{name}: the initrd does not fit in RAM: more RAM please (--mem)")));
            }
            loads.push(Load { what: "initrd", addr: start, data: data.clone() });
            Some((start, start + len))
        }
        None => None,
    };

    let dtb = fdt::build(&fdt::FdtConfig {
        ram_size: inp.ram_size,
        bootargs: inp.bootargs.clone(),
        initrd: initrd_range,
        isa: ktranslator::isa::ISA_STRING,
        mmu_type: "riscv,sv48",
        rng_seed: host_random(fdt::RNG_SEED_LEN),
    })
    .map_err(|e| BootError::Fdt(e.to_string()))?;
    if dtb.len() as u64 > DTB_MAX {
        return Err(BootError::Fdt("device tree larger than 1 MiB".into()));
    }
    loads.push(Load { what: "device tree", addr: dtb_addr, data: dtb });

    check_layout(&loads, ram_end)?;
    Ok(BootPlan { ram_size: inp.ram_size, loads, entry, args: [0, dtb_addr, fw_info_addr], tohost, fromhost })
}

/// `len` bytes from the host's random number generator, or none if it cannot be read
/// (the guest then boots without a seed, only slower: see [`fdt::RNG_SEED_LEN`]).
fn host_random(len: usize) -> Vec<u8> {
    use std::io::Read;
    let mut seed = vec![0u8; len];
    match std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut seed)) {
        Ok(()) => seed,
        Err(_) => Vec::new(),
    }
}

/// Every load inside RAM, no two overlapping.
fn check_layout(loads: &[Load], ram_end: u64) -> Result<(), BootError> {
    for l in loads {
        let end = l.addr.checked_add(l.data.len() as u64);
        if l.addr < RAM_BASE || end.is_none_or(|e| e > ram_end) {
            return Err(BootError::DoesNotFit(format!(
                "{} at {:#x} ({} bytes) lies outside guest RAM [{RAM_BASE:#x}, {ram_end:#x})",
                l.what,
                l.addr,
                l.data.len()
            )));
        }
    }
    let mut sorted: Vec<&Load> = loads.iter().collect();
    sorted.sort_by_key(|l| l.addr);
    for w in sorted.windows(2) {
        if w[0].addr + w[0].data.len() as u64 > w[1].addr {
            return Err(BootError::DoesNotFit(format!("{} overlaps {} in guest RAM", w[0].what, w[1].what)));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake RISC-V Image: a valid header, `len` bytes, occupying `image_size` in RAM.
    fn kernel_image(len: usize, image_size: u64) -> Vec<u8> {
        let mut k = vec![0u8; len];
        k[8..16].copy_from_slice(&0x20_0000u64.to_le_bytes());
        k[16..24].copy_from_slice(&image_size.to_le_bytes());
        k[56..60].copy_from_slice(&0x0543_5352u32.to_le_bytes());
        k
    }

    fn inputs(ram: u64, initrd_len: usize) -> BootInputs {
        BootInputs {
            ram_size: ram,
            firmware: Some(("fw".into(), vec![0x13; 300_000])),
            kernel: ("Image".into(), kernel_image(1 << 20, 4 << 20)),
            initrd: (initrd_len > 0).then(|| ("initrd".into(), vec![7; initrd_len])),
            bootargs: "console=ttyS0 quiet".into(),
        }
    }

    fn load<'a>(p: &'a BootPlan, what: &str) -> &'a Load {
        p.loads.iter().find(|l| l.what == what).unwrap()
    }

    #[test]
    fn linux_layout_like_qemu_virt() {
        let p = plan(&inputs(512 << 20, 3 << 20)).unwrap();
        assert_eq!(p.entry, RAM_BASE);
        assert_eq!(load(&p, "firmware").addr, RAM_BASE);
        assert_eq!(load(&p, "kernel").addr, RAM_BASE + 0x20_0000);
        let dtb = load(&p, "device tree").addr;
        assert_eq!(dtb, RAM_BASE + (512 << 20) - (2 << 20));
        assert_eq!(p.args, [0, dtb, dtb + (1 << 20)]);
        let initrd = load(&p, "initrd");
        assert_eq!(initrd.addr % PAGE, 0);
        assert!(initrd.addr + initrd.data.len() as u64 <= dtb);
        // fw_dynamic info: magic, version 2, next_addr = kernel, next_mode = S.
        let info = &load(&p, "fw_dynamic info").data;
        let word = |i: usize| u64::from_le_bytes(info[i * 8..i * 8 + 8].try_into().unwrap());
        assert_eq!((word(0), word(1), word(2), word(3)), (0x4942_534f, 2, RAM_BASE + 0x20_0000, 1));
    }

    #[test]
    fn device_tree_describes_the_machine() {
        let p = plan(&inputs(256 << 20, 4096)).unwrap();
        let initrd = load(&p, "initrd");
        let blob = &load(&p, "device tree").data;
        let fdt = ::fdt::Fdt::new(blob).expect("a valid FDT");
        assert_eq!(fdt.chosen().bootargs(), Some("console=ttyS0 quiet"));
        assert_eq!(fdt.chosen().stdout().map(|s| s.name), Some("serial@10000000"));
        let mem = fdt.memory().regions().next().unwrap();
        assert_eq!((mem.starting_address as u64, mem.size), (RAM_BASE, Some(256 << 20)));
        let chosen = fdt.find_node("/chosen").unwrap();
        let prop_u64 = |n: &str| u64::from_be_bytes(chosen.property(n).unwrap().value.try_into().unwrap());
        assert_eq!(prop_u64("linux,initrd-start"), initrd.addr);
        assert_eq!(prop_u64("linux,initrd-end"), initrd.addr + 4096);
        // A fresh seed for the guest's crng (fdt::RNG_SEED_LEN).
        assert_eq!(chosen.property("rng-seed").map(|p| p.value.len()), Some(fdt::RNG_SEED_LEN));
        let cpu = fdt.cpus().next().unwrap();
        assert_eq!(cpu.property("riscv,isa").and_then(|p| p.as_str()), Some(ktranslator::isa::ISA_STRING));
        assert_eq!(fdt.find_node("/cpus").unwrap().property("timebase-frequency").unwrap().as_usize(), Some(10_000_000));
        for (path, compat) in [
            ("/soc/serial@10000000", "ns16550a"),
            ("/soc/plic@c000000", "sifive,plic-1.0.0"),
            ("/soc/clint@2000000", "sifive,clint0"),
            ("/soc/rtc@101000", "google,goldfish-rtc"),
            ("/soc/test@100000", "sifive,test1"),
            ("/soc/virtio_mmio@10008000", "virtio,mmio"),
            ("/poweroff", "syscon-poweroff"),
            ("/reboot", "syscon-reboot"),
        ] {
            let node = fdt.find_node(path).unwrap_or_else(|| panic!("{path} missing"));
            assert_eq!(node.compatible().map(|c| c.first()), Some(compat), "{path}");
        }
        let virtio_nodes = fdt.all_nodes().filter(|n| n.name.starts_with("virtio_mmio@")).count();
        assert_eq!(virtio_nodes, 8);
        let uart = fdt.find_node("/soc/serial@10000000").unwrap();
        assert_eq!(uart.property("interrupts").unwrap().as_usize(), Some(10));
    }

    #[test]
    fn isa_extension_list() {
        assert_eq!(
            fdt::isa_extensions("rv64imafdc_zicsr_zifencei"),
            ["i", "m", "a", "f", "d", "c", "zicsr", "zifencei"]
        );
    }

    #[test]
    fn refuses_what_does_not_fit() {
        // Kernel bss reaching into the top region.
        let mut inp = inputs(32 << 20, 0);
        inp.kernel.1 = kernel_image(1 << 20, 31 << 20);
        assert!(matches!(plan(&inp), Err(BootError::DoesNotFit(_))));
        // Initrd larger than the room between kernel and DTB.
        assert!(matches!(plan(&inputs(32 << 20, 40 << 20)), Err(BootError::DoesNotFit(_))));
        // RAM sizes out of range or unaligned.
        for ram in [0, 1 << 20, (512 << 20) + 4096, 1 << 40] {
            assert!(matches!(plan(&inputs(ram, 0)), Err(BootError::DoesNotFit(_))), "{ram}");
        }
        // Firmware running into the kernel.
        let mut inp = inputs(512 << 20, 0);
        inp.firmware = Some(("fw".into(), vec![0; 3 << 20]));
        assert!(matches!(plan(&inp), Err(BootError::DoesNotFit(_))));
    }

    #[test]
    fn refuses_garbage_kernels() {
        let mut inp = inputs(512 << 20, 0);
        inp.kernel.1 = vec![0xff; 100_000];
        assert!(matches!(plan(&inp), Err(BootError::BadKernel(_))));
        inp.kernel.1 = vec![];
        assert!(matches!(plan(&inp), Err(BootError::BadKernel(_))));
        // --bios none wants an ELF.
        let mut inp = inputs(512 << 20, 0);
        inp.firmware = None;
        assert!(matches!(plan(&inp), Err(BootError::BadKernel(_))));
        inp.kernel.1 = b"\x7fELF garbage".to_vec();
        assert!(matches!(plan(&inp), Err(BootError::BadKernel(_))));
    }
}
