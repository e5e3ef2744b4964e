//! The eBPF instruction set as tier 2 uses it: the encoding of Linux's `struct bpf_insn`
//! (include/uapi/linux/bpf.h, Documentation/bpf/standardization/instruction-set.rst).
//! One definition, shared by the lowering ([`super::ebpf`]) and kemuctl's JIT
//! (`ebpf-jit/`). The program checker ([`super::t2check`]) spells the
//! encoding out again on purpose: a mistake here must not fool both the lowering and the
//! check of its output.
//!
//! An opcode is `class | size | mode` (loads and stores) or `class | op | source`
//! (arithmetic and jumps).

// Instruction classes (low 3 bits).
/// Wide immediate loads (`LD | IMM | DW`: two slots).
pub const LD: u8 = 0x00;
/// Loads from memory into a register.
pub const LDX: u8 = 0x01;
/// Stores of an immediate.
pub const ST: u8 = 0x02;
/// Stores of a register.
pub const STX: u8 = 0x03;
/// 32-bit arithmetic (the result is zero-extended).
pub const ALU: u8 = 0x04;
/// 64-bit jumps, calls and exit.
pub const JMP: u8 = 0x05;
/// Jumps comparing the low 32 bits.
pub const JMP32: u8 = 0x06;
/// 64-bit arithmetic.
pub const ALU64: u8 = 0x07;

// Sizes (loads and stores).
/// 4 bytes.
pub const W: u8 = 0x00;
/// 2 bytes.
pub const H: u8 = 0x08;
/// 1 byte.
pub const B: u8 = 0x10;
/// 8 bytes.
pub const DW: u8 = 0x18;

// Modes (loads and stores).
/// Immediate (`LD | IMM | DW`).
pub const IMM: u8 = 0x00;
/// Memory at `reg + off`.
pub const MEM: u8 = 0x60;
/// Sign-extending load mode (`BPF_MEMSX`, cpu v4: Linux 6.6 and later).
pub const MEMSX: u8 = 0x80;

// Sources (arithmetic and jumps).
/// The immediate.
pub const K: u8 = 0x00;
/// The source register.
pub const X: u8 = 0x08;

// Arithmetic operations.
/// `dst += src`
pub const ADD: u8 = 0x00;
/// `dst -= src`
pub const SUB: u8 = 0x10;
/// `dst *= src`
pub const MUL: u8 = 0x20;
/// `dst /= src` (unsigned; 0 when `src` is 0)
pub const DIV: u8 = 0x30;
/// `dst |= src`
pub const OR: u8 = 0x40;
/// `dst &= src`
pub const AND: u8 = 0x50;
/// `dst <<= src`
pub const LSH: u8 = 0x60;
/// `dst >>= src` (logical)
pub const RSH: u8 = 0x70;
/// `dst = -dst`
pub const NEG: u8 = 0x80;
/// `dst %= src` (unsigned; `dst` unchanged when `src` is 0)
pub const MOD: u8 = 0x90;
/// `dst ^= src`
pub const XOR: u8 = 0xa0;
/// `dst = src`
pub const MOV: u8 = 0xb0;
/// `dst >>= src` (arithmetic)
pub const ARSH: u8 = 0xc0;
/// Byte swap (`imm` = width).
pub const END: u8 = 0xd0;

// Jump operations.
/// Always.
pub const JA: u8 = 0x00;
/// `==`
pub const JEQ: u8 = 0x10;
/// `>` unsigned
pub const JGT: u8 = 0x20;
/// `>=` unsigned
pub const JGE: u8 = 0x30;
/// `dst & src != 0`
pub const JSET: u8 = 0x40;
/// `!=`
pub const JNE: u8 = 0x50;
/// `>` signed
pub const JSGT: u8 = 0x60;
/// `>=` signed
pub const JSGE: u8 = 0x70;
/// Call helper `imm`.
pub const CALL: u8 = 0x80;
/// Return `r0`.
pub const EXIT: u8 = 0x90;
/// `<` unsigned
pub const JLT: u8 = 0xa0;
/// `<=` unsigned
pub const JLE: u8 = 0xb0;
/// `<` signed
pub const JSLT: u8 = 0xc0;
/// `<=` signed
pub const JSLE: u8 = 0xd0;

/// One eBPF instruction, as the kernel's `struct bpf_insn` lays it out in memory
/// (code, dst | src << 4, off, imm; little-endian), read as a little-endian u64.
pub const fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> u64 {
    (code as u64) | (((dst & 15) | (src << 4)) as u64) << 8 | ((off as u16) as u64) << 16 | ((imm as u32) as u64) << 32
}

/// An instruction's fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Insn {
    /// Opcode.
    pub code: u8,
    /// Destination register.
    pub dst: u8,
    /// Source register.
    pub src: u8,
    /// Signed offset (memory, jumps).
    pub off: i16,
    /// Signed immediate.
    pub imm: i32,
}

impl Insn {
    /// Splits an instruction word (the inverse of [`insn`]).
    pub const fn decode(raw: u64) -> Insn {
        Insn {
            code: raw as u8,
            dst: (raw >> 8) as u8 & 0xf,
            src: (raw >> 12) as u8 & 0xf,
            off: (raw >> 16) as u16 as i16,
            imm: (raw >> 32) as u32 as i32,
        }
    }

    /// The instruction class (`LD` ... `ALU64`).
    pub const fn class(self) -> u8 {
        self.code & 7
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_decode_round_trip() {
        let w = insn(ALU64 | ADD | X, 3, 9, -2, -7);
        assert_eq!(Insn::decode(w), Insn { code: 0x0f, dst: 3, src: 9, off: -2, imm: -7 });
        // Linux: BPF_EXIT_INSN() is { .code = BPF_JMP | BPF_EXIT } = 0x95.
        assert_eq!(insn(JMP | EXIT, 0, 0, 0, 0), 0x95);
        assert_eq!(Insn::decode(insn(LDX | MEM | DW, 1, 6, 8, 0)).class(), LDX);
    }
}
