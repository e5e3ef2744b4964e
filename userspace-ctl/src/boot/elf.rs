//! Bare-metal ELF programs (`--bios none --kernel prog.elf`): segments and the HTIF
//! `tohost` symbol used by standard ISA test binaries.

use object::elf;
use object::read::elf::{ElfFile64, FileHeader, ProgramHeader};
use object::{Endianness, Object, ObjectSymbol};

use super::{BootError, Load};

/// A parsed RISC-V ELF64 executable.
#[derive(Debug)]
pub(crate) struct ElfProgram {
    /// Entry point.
    pub(crate) entry: u64,
    /// PT_LOAD segments at their physical addresses (bss included, zero-filled).
    pub(crate) loads: Vec<Load>,
    /// Address of the `tohost` symbol, if the program has one.
    pub(crate) tohost: Option<u64>,
    /// Address of the `fromhost` symbol, if the program has one.
    pub(crate) fromhost: Option<u64>,
}

/// Whether `data` starts like an ELF file.
pub(crate) fn is_elf(data: &[u8]) -> bool {
    data.starts_with(b"\x7fELF")
}

/// Parses a little-endian RISC-V ELF64 executable; `name` is used in errors.
pub(crate) fn parse(data: &[u8], name: &str) -> Result<ElfProgram, BootError> {
    let bad = |why: String| BootError::BadKernel(format!("{name}: {why}"));
    let file = ElfFile64::<Endianness>::parse(data).map_err(|e| bad(format!("not a 64-bit ELF ({e})")))?;
    let header = file.elf_header();
    let endian = file.endian();
    if header.e_machine(endian) != elf::EM_RISCV {
        return Err(bad("not a RISC-V ELF".into()));
    }
    let mut loads = Vec::new();
    for ph in file.elf_program_headers() {
        if ph.p_type(endian) != elf::PT_LOAD || ph.p_memsz(endian) == 0 {
            continue;
        }
        let bytes = ph.data(endian, data).map_err(|_| bad("segment outside the file".into()))?;
        let memsz = ph.p_memsz(endian);
        if (bytes.len() as u64) > memsz || memsz > (1 << 32) {
            return Err(bad("segment sizes are inconsistent".into()));
        }
        let mut image = bytes.to_vec();
        image.resize(memsz as usize, 0);
        loads.push(Load { what: "ELF segment", addr: ph.p_paddr(endian), data: image });
    }
    if loads.is_empty() {
        return Err(bad("no loadable segments".into()));
    }
    let tohost = file.symbols().find(|s| s.name() == Ok("tohost")).map(|s| s.address());
    let fromhost = file.symbols().find(|s| s.name() == Ok("fromhost")).map(|s| s.address());
    Ok(ElfProgram { entry: file.entry(), loads, tohost, fromhost })
}
