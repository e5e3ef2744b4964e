//! The device tree of kemu's `virt` machine, generated from the one memory map
//! (`kdevices::memmap`), one function per node (bindings under Documentation/devicetree/
//! bindings in the Linux tree: riscv/cpus.yaml, interrupt-controller/sifive,plic-1.0.0.yaml,
//! timer/sifive,clint.yaml, serial/8250.yaml, virtio/mmio.yaml, rtc/google,goldfish-rtc,
//! power/reset/syscon-poweroff.yaml and syscon-reboot.yaml).

use kdevices::memmap::{self, Kind, Region};
use vm_fdt::{FdtWriter, FdtWriterResult};

/// phandle of hart 0's local interrupt controller.
const PHANDLE_CPU0_INTC: u32 = 1;
/// phandle of the PLIC.
const PHANDLE_PLIC: u32 = 2;
/// phandle of the test/syscon device.
const PHANDLE_TEST: u32 = 3;

/// Local interrupt numbers (mip bits) used in `interrupts-extended`.
const IRQ_M_SOFT: u32 = 3;
const IRQ_M_TIMER: u32 = 7;
const IRQ_S_EXT: u32 = 9;
const IRQ_M_EXT: u32 = 11;

/// CLINT/mtime frequency (10 MHz, as on QEMU's virt board), from the CLINT model.
pub(crate) const TIMEBASE_HZ: u32 = kdevices::clint::MTIME_HZ as u32;
/// The UART's input clock (QEMU virt's value; Linux derives the divisor from it).
const UART_CLOCK_HZ: u32 = 3_686_400;
/// Interrupt sources the PLIC model implements (riscv,ndev).
pub(crate) const PLIC_SOURCES: u32 = kdevices::plic::NDEV;

/// What goes into the device tree besides the fixed machine.
#[derive(Debug, Clone)]
pub(crate) struct FdtConfig {
    /// RAM size in bytes (RAM starts at `memmap::RAM_BASE`).
    pub(crate) ram_size: u64,
    /// Kernel command line.
    pub(crate) bootargs: String,
    /// Guest-physical [start, end) of the initrd, if any.
    pub(crate) initrd: Option<(u64, u64)>,
    /// ISA string of the hart (`riscv,isa`), e.g. "rv64imafdc_zicsr_zifencei".
    pub(crate) isa: &'static str,
    /// Largest paging mode the hart supports ("riscv,sv39", "riscv,sv48"...).
    pub(crate) mmu_type: &'static str,
    /// Bytes for `/chosen/rng-seed` (none if empty); see [`RNG_SEED_LEN`].
    pub(crate) rng_seed: Vec<u8>,
}

/// Size of `/chosen/rng-seed`, as QEMU's virt board: Linux mixes the seed into its
/// entropy pool at boot and credits it (random.trust_bootloader, on by default), and 32
/// bytes (256 bits) make the crng ready at once. Without it the kernel has no entropy
/// source here (no RNG device, no Zkr), the crng stays unseeded for the whole run, and
/// every `get_random_*` becomes a full key extraction: Linux picks a random kernel stack
/// offset on every system call (`choose_random_kstack_offset(get_random_u16())`), which
/// then cost about 15,000 guest instructions of ChaCha/BLAKE2s per system call.
pub(crate) const RNG_SEED_LEN: usize = 32;

/// Builds the flattened device tree blob.
pub(crate) fn build(cfg: &FdtConfig) -> FdtWriterResult<Vec<u8>> {
    let mut fdt = FdtWriter::new()?;
    let root = fdt.begin_node("")?;
    fdt.property_u32("#address-cells", 2)?;
    fdt.property_u32("#size-cells", 2)?;
    fdt.property_string("compatible", "riscv-virtio")?;
    fdt.property_string("model", "kemu,virt")?;
    chosen(&mut fdt, cfg)?;
    memory(&mut fdt, cfg.ram_size)?;
    cpus(&mut fdt, cfg)?;
    soc(&mut fdt)?;
    syscon_action(&mut fdt, "poweroff", "syscon-poweroff", 0x5555)?;
    syscon_action(&mut fdt, "reboot", "syscon-reboot", 0x7777)?;
    fdt.end_node(root)?;
    fdt.finish()
}

fn node_name(name: &str, base: u64) -> String {
    format!("{name}@{base:x}")
}

fn reg(fdt: &mut FdtWriter, r: &Region) -> FdtWriterResult<()> {
    fdt.property_array_u64("reg", &[r.base, r.size])
}

fn stdout_path() -> String {
    format!("/soc/{}", node_name("serial", memmap::UART_BASE))
}

fn chosen(fdt: &mut FdtWriter, cfg: &FdtConfig) -> FdtWriterResult<()> {
    let node = fdt.begin_node("chosen")?;
    fdt.property_string("bootargs", &cfg.bootargs)?;
    fdt.property_string("stdout-path", &stdout_path())?;
    if let Some((start, end)) = cfg.initrd {
        fdt.property_u64("linux,initrd-start", start)?;
        fdt.property_u64("linux,initrd-end", end)?;
    }
    if !cfg.rng_seed.is_empty() {
        fdt.property("rng-seed", &cfg.rng_seed)?;
    }
    fdt.end_node(node)
}

fn memory(fdt: &mut FdtWriter, ram_size: u64) -> FdtWriterResult<()> {
    let node = fdt.begin_node(&node_name("memory", memmap::RAM_BASE))?;
    fdt.property_string("device_type", "memory")?;
    fdt.property_array_u64("reg", &[memmap::RAM_BASE, ram_size])?;
    fdt.end_node(node)
}

/// Splits an ISA string into the names `riscv,isa-extensions` lists: one per
/// single-letter extension, then each multi-letter one.
pub(crate) fn isa_extensions(isa: &str) -> Vec<String> {
    let rest = isa.strip_prefix("rv64").or_else(|| isa.strip_prefix("rv32")).unwrap_or(isa);
    let mut parts = rest.split('_');
    let mut out: Vec<String> = parts.next().unwrap_or("").chars().map(|c| c.to_string()).collect();
    out.extend(parts.filter(|p| !p.is_empty()).map(str::to_string));
    out
}

fn cpus(fdt: &mut FdtWriter, cfg: &FdtConfig) -> FdtWriterResult<()> {
    let cpus = fdt.begin_node("cpus")?;
    fdt.property_u32("#address-cells", 1)?;
    fdt.property_u32("#size-cells", 0)?;
    fdt.property_u32("timebase-frequency", TIMEBASE_HZ)?;
    let cpu = fdt.begin_node("cpu@0")?;
    fdt.property_string("device_type", "cpu")?;
    fdt.property_u32("reg", 0)?;
    fdt.property_string("status", "okay")?;
    fdt.property_string("compatible", "riscv")?;
    fdt.property_string("riscv,isa", cfg.isa)?;
    // The base ISA: "rv64" (or "rv32") plus "i".
    let base = cfg.isa.get(..4).map_or_else(|| "rv64i".to_string(), |b| format!("{b}i"));
    fdt.property_string("riscv,isa-base", &base)?;
    fdt.property_string_list("riscv,isa-extensions", isa_extensions(cfg.isa))?;
    fdt.property_string("mmu-type", cfg.mmu_type)?;
    let intc = fdt.begin_node("interrupt-controller")?;
    fdt.property_u32("#interrupt-cells", 1)?;
    fdt.property_null("interrupt-controller")?;
    fdt.property_string("compatible", "riscv,cpu-intc")?;
    fdt.property_phandle(PHANDLE_CPU0_INTC)?;
    fdt.end_node(intc)?;
    fdt.end_node(cpu)?;
    fdt.end_node(cpus)
}

fn soc(fdt: &mut FdtWriter) -> FdtWriterResult<()> {
    let soc = fdt.begin_node("soc")?;
    fdt.property_u32("#address-cells", 2)?;
    fdt.property_u32("#size-cells", 2)?;
    fdt.property_string("compatible", "simple-bus")?;
    fdt.property_null("ranges")?;
    for r in memmap::MEMMAP {
        match r.kind {
            Kind::Test => test_device(fdt, r)?,
            Kind::Rtc => rtc(fdt, r)?,
            Kind::Clint => clint(fdt, r)?,
            Kind::Plic => plic(fdt, r)?,
            Kind::Uart => uart(fdt, r)?,
            Kind::VirtioMmio => virtio_mmio(fdt, r)?,
            Kind::Ram => {}
        }
    }
    fdt.end_node(soc)
}

fn device_irq(fdt: &mut FdtWriter, r: &Region) -> FdtWriterResult<()> {
    if let Some(irq) = r.irq {
        fdt.property_u32("interrupts", irq)?;
        fdt.property_u32("interrupt-parent", PHANDLE_PLIC)?;
    }
    Ok(())
}

fn test_device(fdt: &mut FdtWriter, r: &Region) -> FdtWriterResult<()> {
    let node = fdt.begin_node(&node_name("test", r.base))?;
    fdt.property_string_list("compatible", vec!["sifive,test1".into(), "sifive,test0".into(), "syscon".into()])?;
    reg(fdt, r)?;
    fdt.property_phandle(PHANDLE_TEST)?;
    fdt.end_node(node)
}

fn rtc(fdt: &mut FdtWriter, r: &Region) -> FdtWriterResult<()> {
    let node = fdt.begin_node(&node_name("rtc", r.base))?;
    fdt.property_string("compatible", "google,goldfish-rtc")?;
    reg(fdt, r)?;
    device_irq(fdt, r)?;
    fdt.end_node(node)
}

fn clint(fdt: &mut FdtWriter, r: &Region) -> FdtWriterResult<()> {
    let node = fdt.begin_node(&node_name("clint", r.base))?;
    fdt.property_string_list("compatible", vec!["sifive,clint0".into(), "riscv,clint0".into()])?;
    reg(fdt, r)?;
    fdt.property_array_u32(
        "interrupts-extended",
        &[PHANDLE_CPU0_INTC, IRQ_M_SOFT, PHANDLE_CPU0_INTC, IRQ_M_TIMER],
    )?;
    fdt.end_node(node)
}

fn plic(fdt: &mut FdtWriter, r: &Region) -> FdtWriterResult<()> {
    let node = fdt.begin_node(&node_name("plic", r.base))?;
    fdt.property_string_list("compatible", vec!["sifive,plic-1.0.0".into(), "riscv,plic0".into()])?;
    reg(fdt, r)?;
    fdt.property_u32("#address-cells", 0)?;
    fdt.property_u32("#interrupt-cells", 1)?;
    fdt.property_null("interrupt-controller")?;
    // Context 0: hart 0 M-mode, context 1: hart 0 S-mode (QEMU virt's order).
    fdt.property_array_u32("interrupts-extended", &[PHANDLE_CPU0_INTC, IRQ_M_EXT, PHANDLE_CPU0_INTC, IRQ_S_EXT])?;
    fdt.property_u32("riscv,ndev", PLIC_SOURCES)?;
    fdt.property_phandle(PHANDLE_PLIC)?;
    fdt.end_node(node)
}

fn uart(fdt: &mut FdtWriter, r: &Region) -> FdtWriterResult<()> {
    let node = fdt.begin_node(&node_name("serial", r.base))?;
    fdt.property_string("compatible", "ns16550a")?;
    reg(fdt, r)?;
    fdt.property_u32("clock-frequency", UART_CLOCK_HZ)?;
    device_irq(fdt, r)?;
    fdt.end_node(node)
}

fn virtio_mmio(fdt: &mut FdtWriter, r: &Region) -> FdtWriterResult<()> {
    let node = fdt.begin_node(&node_name("virtio_mmio", r.base))?;
    fdt.property_string("compatible", "virtio,mmio")?;
    reg(fdt, r)?;
    device_irq(fdt, r)?;
    fdt.end_node(node)
}

fn syscon_action(fdt: &mut FdtWriter, name: &str, compatible: &str, value: u32) -> FdtWriterResult<()> {
    let node = fdt.begin_node(name)?;
    fdt.property_string("compatible", compatible)?;
    fdt.property_u32("regmap", PHANDLE_TEST)?;
    fdt.property_u32("offset", 0)?;
    fdt.property_u32("value", value)?;
    fdt.end_node(node)
}
