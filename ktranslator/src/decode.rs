//! Instruction decoder: one table of encodings (mask/match pairs, in the spirit of the
//! riscv-opcodes lists) feeds the decoder, which turns a 32-bit instruction word into a
//! pre-decoded micro-op ([`Uop`]). Compressed instructions are first expanded to their
//! 32-bit equivalents ([`expand_compressed`]) and then decoded through the same table.

/// Defines [`Op`] and its list of all variants from one list of names.
macro_rules! define_ops {
    ($($(#[$m:meta])* $name:ident),* $(,)?) => {
        /// Micro-operation kinds. Most are one RISC-V instruction; a few are internal
        /// (`Li`, `Illegal`, `Nop`, `End`).
        #[repr(u8)]
        #[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
        #[allow(missing_docs)]
        pub enum Op {
            #[default]
            $($(#[$m])* $name),*
        }
        /// Every [`Op`], in declaration order.
        pub const ALL_OPS: &[Op] = &[$(Op::$name),*];
    };
}

define_ops! {
    /// Raise an illegal-instruction exception (`imm` holds the instruction bits).
    Illegal,
    // The ops up to `HOT_LAST` are the 32 most executed in a Debian boot and guest
    // test run, about 97% of all (docs/journal-code.md): builds without jump tables
    // dispatch them through a compare tree of their own (exec.rs).
    Add, Or, Ld, Addi, Srliw, Xor, Slliw, Addw, Sd, Slli, Srli, Bne, And, Mul, Lbu, Sltu,
    Addiw, Beq, Sub, Lw, Bltu, Bgeu, Jalr, Sw, Andi,
    /// `x[rd] = imm` (lui, auipc with the pc folded in at translation time).
    Li,
    Jal, Subw,
    /// Not an instruction: follows the last micro-op of every translated block and
    /// leaves it through the fall-through exit (`idx` instructions retired, pc at
    /// `pc_off`). The executor's loop needs no end check because of it.
    End,
    Xori, Sltiu, Sb,
    // The rest.
    /// No architectural effect (fence, hints).
    Nop,
    Blt, Bge,
    Lb, Lh, Lwu, Lhu, Sh,
    Slti, Ori, Srai,
    Sll, Slt, Srl, Sra,
    Sraiw, Sllw, Srlw, Sraw,
    Mulh, Mulhsu, Mulhu, Div, Divu, Rem, Remu,
    Mulw, Divw, Divuw, Remw, Remuw,
    FenceI, Ecall, Ebreak, Mret, Sret, Wfi, SfenceVma,
    Csrrw, Csrrs, Csrrc, Csrrwi, Csrrsi, Csrrci,
    LrW, ScW, AmoswapW, AmoaddW, AmoxorW, AmoandW, AmoorW, AmominW, AmomaxW, AmominuW, AmomaxuW,
    LrD, ScD, AmoswapD, AmoaddD, AmoxorD, AmoandD, AmoorD, AmominD, AmomaxD, AmominuD, AmomaxuD,
    Flw, Fsw, Fld, Fsd,
    FmaddS, FmsubS, FnmsubS, FnmaddS, FaddS, FsubS, FmulS, FdivS, FsqrtS,
    FsgnjS, FsgnjnS, FsgnjxS, FminS, FmaxS, FcvtWS, FcvtWuS, FcvtLS, FcvtLuS,
    FmvXW, FeqS, FltS, FleS, FclassS, FcvtSW, FcvtSWu, FcvtSL, FcvtSLu, FmvWX,
    FmaddD, FmsubD, FnmsubD, FnmaddD, FaddD, FsubD, FmulD, FdivD, FsqrtD,
    FsgnjD, FsgnjnD, FsgnjxD, FminD, FmaxD, FcvtWD, FcvtWuD, FcvtLD, FcvtLuD,
    FmvXD, FeqD, FltD, FleD, FclassD, FcvtDW, FcvtDWu, FcvtDL, FcvtDLu, FmvDX,
    FcvtSD, FcvtDS,
}

/// The last of the hot ops (see the list): `Illegal` and the 32 before it.
pub const HOT_LAST: Op = Op::Sb;

/// Index of the integer "sink" register that writes to `x0` are redirected to, so that
/// the executor never needs to test `rd == 0`.
pub const X_SINK: u8 = 32;

/// A pre-decoded micro-op: 16 bytes, stored in the translation cache.
///
/// `imm` carries the immediate (sign-extended), or for ops that do not need a 64-bit
/// immediate, small operands in the low 32 bits (CSR number; rounding mode in bits 0-2
/// and the third source register of fused multiply-adds in bits 8-12) and the
/// original instruction bits in the high 32 bits (for `mtval` on illegal instructions).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Uop {
    /// Operation.
    pub op: Op,
    /// Destination register (integer writes to x0 go to [`X_SINK`]).
    pub rd: u8,
    /// First source register (or CSR immediate).
    pub rs1: u8,
    /// Second source register.
    pub rs2: u8,
    /// Index of the instruction in its translated block, i.e. how many instructions
    /// of the block retire before it (set by the translator; 0 from the decoder).
    pub idx: u8,
    /// Instruction length in bytes (2 or 4).
    pub len: u8,
    /// Byte offset of the instruction from the start of its translated block.
    pub pc_off: u16,
    /// Immediate / packed operands, see the type docs.
    pub imm: u64,
}

impl Uop {
    /// The original instruction bits of an op that packs them into `imm`'s high half.
    #[inline]
    pub fn insn_bits(&self) -> u64 {
        self.imm >> 32
    }
    /// The low 32 bits of `imm` (CSR number, rounding mode).
    #[inline]
    pub fn aux(&self) -> u32 {
        self.imm as u32
    }
    /// Third source register of a floating-point op (fused multiply-add).
    #[inline]
    pub fn rs3(&self) -> u8 {
        ((self.imm >> 8) & 31) as u8
    }
}

/// How the operands of an encoding are laid out.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Fmt {
    /// rd, rs1, rs2.
    R,
    /// rd, rs1, imm[11:0].
    I,
    /// rs1, rs2, imm store split.
    S,
    /// rs1, rs2, branch offset.
    B,
    /// rd, imm[31:12].
    U,
    /// rd, jump offset.
    J,
    /// rd, rs1, shamt (6 bits for 64-bit shifts, 5 for word shifts: masked by the table).
    Shift,
    /// rd, rs1 (or 5-bit immediate), csr number; instruction bits kept.
    Csr,
    /// No operands; instruction bits kept (system ops).
    Sys,
    /// sfence.vma rs1, rs2; instruction bits kept.
    Sfence,
    /// rd, rs1, rs2 for AMOs (aq/rl ignored: a single hart is sequentially consistent).
    Amo,
    /// Floating point: rd, rs1, rs2, rs3, rm (low bits of imm), instruction bits kept.
    Fp,
    /// Floating point with a rounding-mode field: rm 5 and 6 are reserved.
    FpRm,
}

/// Register class of `rd`: integer writes to x0 are redirected to the sink.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Rd {
    X,
    F,
    None,
}

/// One table row: `insn & mask == bits` selects `op`.
#[derive(Clone, Copy, Debug)]
struct Pattern {
    mask: u32,
    bits: u32,
    op: Op,
    fmt: Fmt,
    rd: Rd,
}

const M_OP: u32 = 0x7f;
const M_F3: u32 = 0x707f;
const M_F7: u32 = 0xfe00_707f;
const M_F6: u32 = 0xfc00_707f;
const M_ALL: u32 = 0xffff_ffff;
const M_AMO: u32 = 0xf800_707f;
const M_LR: u32 = 0xf9f0_707f;
const M_FP2: u32 = 0xfe00_007f; // funct7 + opcode, rm free
const M_FP1: u32 = 0xfff0_007f; // funct7 + rs2 + opcode, rm free
const M_FP1F3: u32 = 0xfff0_707f; // funct7 + rs2 + funct3 + opcode
const M_FMA: u32 = 0x0600_007f; // fmt + opcode

const fn p(mask: u32, bits: u32, op: Op, fmt: Fmt, rd: Rd) -> Pattern {
    Pattern { mask, bits, op, fmt, rd }
}
const fn f3(opc: u32, f3: u32) -> u32 {
    opc | (f3 << 12)
}
const fn f7(opc: u32, f3: u32, f7: u32) -> u32 {
    opc | (f3 << 12) | (f7 << 25)
}
const fn amo(f3v: u32, f5: u32) -> u32 {
    0x2f | (f3v << 12) | (f5 << 27)
}
const fn fp(f7v: u32) -> u32 {
    0x53 | (f7v << 25)
}
const fn fp1(f7v: u32, rs2: u32) -> u32 {
    0x53 | (f7v << 25) | (rs2 << 20)
}
const fn fp1f3(f7v: u32, rs2: u32, f3v: u32) -> u32 {
    fp1(f7v, rs2) | (f3v << 12)
}

use super::csr;
use self::Fmt::*;
use self::Op::*;
use self::Rd::{F as RF, None as RN, X as RX};

/// The instruction table of RV64IMAFD + Zicsr + Zifencei + privileged instructions.
static TABLE: &[Pattern] = &[
    // RV64I
    p(M_OP, 0x37, Li, U, RX), // lui (auipc handled by the same path, see decode)
    p(M_OP, 0x17, Li, U, RX), // auipc
    p(M_OP, 0x6f, Jal, J, RX),
    p(M_F3, f3(0x67, 0), Jalr, I, RX),
    p(M_F3, f3(0x63, 0), Beq, B, RN),
    p(M_F3, f3(0x63, 1), Bne, B, RN),
    p(M_F3, f3(0x63, 4), Blt, B, RN),
    p(M_F3, f3(0x63, 5), Bge, B, RN),
    p(M_F3, f3(0x63, 6), Bltu, B, RN),
    p(M_F3, f3(0x63, 7), Bgeu, B, RN),
    p(M_F3, f3(0x03, 0), Lb, I, RX),
    p(M_F3, f3(0x03, 1), Lh, I, RX),
    p(M_F3, f3(0x03, 2), Lw, I, RX),
    p(M_F3, f3(0x03, 3), Ld, I, RX),
    p(M_F3, f3(0x03, 4), Lbu, I, RX),
    p(M_F3, f3(0x03, 5), Lhu, I, RX),
    p(M_F3, f3(0x03, 6), Lwu, I, RX),
    p(M_F3, f3(0x23, 0), Sb, S, RN),
    p(M_F3, f3(0x23, 1), Sh, S, RN),
    p(M_F3, f3(0x23, 2), Sw, S, RN),
    p(M_F3, f3(0x23, 3), Sd, S, RN),
    p(M_F3, f3(0x13, 0), Addi, I, RX),
    p(M_F3, f3(0x13, 2), Slti, I, RX),
    p(M_F3, f3(0x13, 3), Sltiu, I, RX),
    p(M_F3, f3(0x13, 4), Xori, I, RX),
    p(M_F3, f3(0x13, 6), Ori, I, RX),
    p(M_F3, f3(0x13, 7), Andi, I, RX),
    p(M_F6, f3(0x13, 1), Slli, Shift, RX),
    p(M_F6, f3(0x13, 5), Srli, Shift, RX),
    p(M_F6, f3(0x13, 5) | (0x10 << 26), Srai, Shift, RX),
    p(M_F7, f7(0x33, 0, 0), Add, R, RX),
    p(M_F7, f7(0x33, 0, 0x20), Sub, R, RX),
    p(M_F7, f7(0x33, 1, 0), Sll, R, RX),
    p(M_F7, f7(0x33, 2, 0), Slt, R, RX),
    p(M_F7, f7(0x33, 3, 0), Sltu, R, RX),
    p(M_F7, f7(0x33, 4, 0), Xor, R, RX),
    p(M_F7, f7(0x33, 5, 0), Srl, R, RX),
    p(M_F7, f7(0x33, 5, 0x20), Sra, R, RX),
    p(M_F7, f7(0x33, 6, 0), Or, R, RX),
    p(M_F7, f7(0x33, 7, 0), And, R, RX),
    p(M_F3, f3(0x1b, 0), Addiw, I, RX),
    p(M_F7, f7(0x1b, 1, 0), Slliw, Shift, RX),
    p(M_F7, f7(0x1b, 5, 0), Srliw, Shift, RX),
    p(M_F7, f7(0x1b, 5, 0x20), Sraiw, Shift, RX),
    p(M_F7, f7(0x3b, 0, 0), Addw, R, RX),
    p(M_F7, f7(0x3b, 0, 0x20), Subw, R, RX),
    p(M_F7, f7(0x3b, 1, 0), Sllw, R, RX),
    p(M_F7, f7(0x3b, 5, 0), Srlw, R, RX),
    p(M_F7, f7(0x3b, 5, 0x20), Sraw, R, RX),
    p(M_F3, f3(0x0f, 0), Nop, Sys, RN), // fence (fm/pred/succ ignored)
    p(M_F3, f3(0x0f, 1), FenceI, Sys, RN),
    // Privileged
    p(M_ALL, 0x0000_0073, Ecall, Sys, RN),
    p(M_ALL, 0x0010_0073, Ebreak, Sys, RN),
    p(M_ALL, 0x3020_0073, Mret, Sys, RN),
    p(M_ALL, 0x1020_0073, Sret, Sys, RN),
    p(M_ALL, 0x1050_0073, Wfi, Sys, RN),
    p(0xfe00_7fff, 0x1200_0073, SfenceVma, Sfence, RN),
    // Zicsr
    p(M_F3, f3(0x73, 1), Csrrw, Csr, RX),
    p(M_F3, f3(0x73, 2), Csrrs, Csr, RX),
    p(M_F3, f3(0x73, 3), Csrrc, Csr, RX),
    p(M_F3, f3(0x73, 5), Csrrwi, Csr, RX),
    p(M_F3, f3(0x73, 6), Csrrsi, Csr, RX),
    p(M_F3, f3(0x73, 7), Csrrci, Csr, RX),
    // M
    p(M_F7, f7(0x33, 0, 1), Mul, R, RX),
    p(M_F7, f7(0x33, 1, 1), Mulh, R, RX),
    p(M_F7, f7(0x33, 2, 1), Mulhsu, R, RX),
    p(M_F7, f7(0x33, 3, 1), Mulhu, R, RX),
    p(M_F7, f7(0x33, 4, 1), Div, R, RX),
    p(M_F7, f7(0x33, 5, 1), Divu, R, RX),
    p(M_F7, f7(0x33, 6, 1), Rem, R, RX),
    p(M_F7, f7(0x33, 7, 1), Remu, R, RX),
    p(M_F7, f7(0x3b, 0, 1), Mulw, R, RX),
    p(M_F7, f7(0x3b, 4, 1), Divw, R, RX),
    p(M_F7, f7(0x3b, 5, 1), Divuw, R, RX),
    p(M_F7, f7(0x3b, 6, 1), Remw, R, RX),
    p(M_F7, f7(0x3b, 7, 1), Remuw, R, RX),
    // A
    p(M_LR, amo(2, 0x02), LrW, Amo, RX),
    p(M_AMO, amo(2, 0x03), ScW, Amo, RX),
    p(M_AMO, amo(2, 0x01), AmoswapW, Amo, RX),
    p(M_AMO, amo(2, 0x00), AmoaddW, Amo, RX),
    p(M_AMO, amo(2, 0x04), AmoxorW, Amo, RX),
    p(M_AMO, amo(2, 0x0c), AmoandW, Amo, RX),
    p(M_AMO, amo(2, 0x08), AmoorW, Amo, RX),
    p(M_AMO, amo(2, 0x10), AmominW, Amo, RX),
    p(M_AMO, amo(2, 0x14), AmomaxW, Amo, RX),
    p(M_AMO, amo(2, 0x18), AmominuW, Amo, RX),
    p(M_AMO, amo(2, 0x1c), AmomaxuW, Amo, RX),
    p(M_LR, amo(3, 0x02), LrD, Amo, RX),
    p(M_AMO, amo(3, 0x03), ScD, Amo, RX),
    p(M_AMO, amo(3, 0x01), AmoswapD, Amo, RX),
    p(M_AMO, amo(3, 0x00), AmoaddD, Amo, RX),
    p(M_AMO, amo(3, 0x04), AmoxorD, Amo, RX),
    p(M_AMO, amo(3, 0x0c), AmoandD, Amo, RX),
    p(M_AMO, amo(3, 0x08), AmoorD, Amo, RX),
    p(M_AMO, amo(3, 0x10), AmominD, Amo, RX),
    p(M_AMO, amo(3, 0x14), AmomaxD, Amo, RX),
    p(M_AMO, amo(3, 0x18), AmominuD, Amo, RX),
    p(M_AMO, amo(3, 0x1c), AmomaxuD, Amo, RX),
    // F and D loads/stores
    p(M_F3, f3(0x07, 2), Flw, I, RF),
    p(M_F3, f3(0x07, 3), Fld, I, RF),
    p(M_F3, f3(0x27, 2), Fsw, S, RN),
    p(M_F3, f3(0x27, 3), Fsd, S, RN),
    // Fused multiply-add (fmt 0 = S, 1 = D)
    p(M_FMA, 0x43, FmaddS, FpRm, RF),
    p(M_FMA, 0x47, FmsubS, FpRm, RF),
    p(M_FMA, 0x4b, FnmsubS, FpRm, RF),
    p(M_FMA, 0x4f, FnmaddS, FpRm, RF),
    p(M_FMA, 0x43 | (1 << 25), FmaddD, FpRm, RF),
    p(M_FMA, 0x47 | (1 << 25), FmsubD, FpRm, RF),
    p(M_FMA, 0x4b | (1 << 25), FnmsubD, FpRm, RF),
    p(M_FMA, 0x4f | (1 << 25), FnmaddD, FpRm, RF),
    // Single precision
    p(M_FP2, fp(0x00), FaddS, FpRm, RF),
    p(M_FP2, fp(0x04), FsubS, FpRm, RF),
    p(M_FP2, fp(0x08), FmulS, FpRm, RF),
    p(M_FP2, fp(0x0c), FdivS, FpRm, RF),
    p(M_FP1, fp1(0x2c, 0), FsqrtS, FpRm, RF),
    p(M_F7, f7(0x53, 0, 0x10), FsgnjS, Fp, RF),
    p(M_F7, f7(0x53, 1, 0x10), FsgnjnS, Fp, RF),
    p(M_F7, f7(0x53, 2, 0x10), FsgnjxS, Fp, RF),
    p(M_F7, f7(0x53, 0, 0x14), FminS, Fp, RF),
    p(M_F7, f7(0x53, 1, 0x14), FmaxS, Fp, RF),
    p(M_FP1, fp1(0x60, 0), FcvtWS, FpRm, RX),
    p(M_FP1, fp1(0x60, 1), FcvtWuS, FpRm, RX),
    p(M_FP1, fp1(0x60, 2), FcvtLS, FpRm, RX),
    p(M_FP1, fp1(0x60, 3), FcvtLuS, FpRm, RX),
    p(M_FP1F3, fp1f3(0x70, 0, 0), FmvXW, Fp, RX),
    p(M_F7, f7(0x53, 2, 0x50), FeqS, Fp, RX),
    p(M_F7, f7(0x53, 1, 0x50), FltS, Fp, RX),
    p(M_F7, f7(0x53, 0, 0x50), FleS, Fp, RX),
    p(M_FP1F3, fp1f3(0x70, 0, 1), FclassS, Fp, RX),
    p(M_FP1, fp1(0x68, 0), FcvtSW, FpRm, RF),
    p(M_FP1, fp1(0x68, 1), FcvtSWu, FpRm, RF),
    p(M_FP1, fp1(0x68, 2), FcvtSL, FpRm, RF),
    p(M_FP1, fp1(0x68, 3), FcvtSLu, FpRm, RF),
    p(M_FP1F3, fp1f3(0x78, 0, 0), FmvWX, Fp, RF),
    // Double precision
    p(M_FP2, fp(0x01), FaddD, FpRm, RF),
    p(M_FP2, fp(0x05), FsubD, FpRm, RF),
    p(M_FP2, fp(0x09), FmulD, FpRm, RF),
    p(M_FP2, fp(0x0d), FdivD, FpRm, RF),
    p(M_FP1, fp1(0x2d, 0), FsqrtD, FpRm, RF),
    p(M_F7, f7(0x53, 0, 0x11), FsgnjD, Fp, RF),
    p(M_F7, f7(0x53, 1, 0x11), FsgnjnD, Fp, RF),
    p(M_F7, f7(0x53, 2, 0x11), FsgnjxD, Fp, RF),
    p(M_F7, f7(0x53, 0, 0x15), FminD, Fp, RF),
    p(M_F7, f7(0x53, 1, 0x15), FmaxD, Fp, RF),
    p(M_FP1, fp1(0x61, 0), FcvtWD, FpRm, RX),
    p(M_FP1, fp1(0x61, 1), FcvtWuD, FpRm, RX),
    p(M_FP1, fp1(0x61, 2), FcvtLD, FpRm, RX),
    p(M_FP1, fp1(0x61, 3), FcvtLuD, FpRm, RX),
    p(M_FP1F3, fp1f3(0x71, 0, 0), FmvXD, Fp, RX),
    p(M_F7, f7(0x53, 2, 0x51), FeqD, Fp, RX),
    p(M_F7, f7(0x53, 1, 0x51), FltD, Fp, RX),
    p(M_F7, f7(0x53, 0, 0x51), FleD, Fp, RX),
    p(M_FP1F3, fp1f3(0x71, 0, 1), FclassD, Fp, RX),
    p(M_FP1, fp1(0x69, 0), FcvtDW, FpRm, RF),
    p(M_FP1, fp1(0x69, 1), FcvtDWu, FpRm, RF),
    p(M_FP1, fp1(0x69, 2), FcvtDL, FpRm, RF),
    p(M_FP1, fp1(0x69, 3), FcvtDLu, FpRm, RF),
    p(M_FP1F3, fp1f3(0x79, 0, 0), FmvDX, Fp, RF),
    p(M_FP1, fp1(0x20, 1), FcvtSD, FpRm, RF),
    p(M_FP1, fp1(0x21, 0), FcvtDS, FpRm, RF),
];

/// For each major opcode (bits 6:2), the range of `TABLE` rows to scan.
struct Index {
    start: [u16; 32],
    end: [u16; 32],
}

const fn build_index() -> Index {
    let mut idx = Index { start: [0; 32], end: [0; 32] };
    let mut maj = 0;
    while maj < 32 {
        let mut first = usize::MAX;
        let mut last = 0;
        let mut i = 0;
        while i < TABLE.len() {
            if ((TABLE[i].bits >> 2) & 31) as usize == maj {
                if first == usize::MAX {
                    first = i;
                }
                last = i + 1;
            }
            i += 1;
        }
        if first != usize::MAX {
            idx.start[maj] = first as u16;
            idx.end[maj] = last as u16;
        }
        maj += 1;
    }
    idx
}

static INDEX: Index = build_index();

const fn sext(v: u32, bits: u32) -> i64 {
    let sh = 64 - bits;
    (((v as u64) << sh) as i64) >> sh
}

fn imm_i(w: u32) -> i64 {
    i64::from((w as i32) >> 20)
}
fn imm_s(w: u32) -> i64 {
    sext(((w >> 25) << 5) | ((w >> 7) & 0x1f), 12)
}
fn imm_b(w: u32) -> i64 {
    let v = (((w >> 31) & 1) << 12) | (((w >> 7) & 1) << 11) | (((w >> 25) & 0x3f) << 5) | (((w >> 8) & 0xf) << 1);
    sext(v, 13)
}
fn imm_u(w: u32) -> i64 {
    i64::from((w & 0xffff_f000) as i32)
}
fn imm_j(w: u32) -> i64 {
    let v = (((w >> 31) & 1) << 20) | (((w >> 12) & 0xff) << 12) | (((w >> 20) & 1) << 11) | (((w >> 21) & 0x3ff) << 1);
    sext(v, 21)
}

/// Decodes a 32-bit instruction word into a micro-op (pc-relative fields are left as
/// offsets: `Li` from auipc holds the offset and is fixed up by the translator, see
/// [`decode_at`]). Unknown or reserved encodings decode to [`Op::Illegal`].
pub fn decode(w: u32) -> Uop {
    let illegal = Uop { op: Illegal, len: 4, imm: u64::from(w) << 32, ..Uop::default() };
    if w & 3 != 3 {
        return illegal;
    }
    let maj = ((w >> 2) & 31) as usize;
    let (Some(&s), Some(&e)) = (INDEX.start.get(maj), INDEX.end.get(maj)) else { return illegal };
    let Some(rows) = TABLE.get(usize::from(s)..usize::from(e)) else { return illegal };
    let Some(pat) = rows.iter().find(|p| w & p.mask == p.bits) else { return illegal };
    let rd = ((w >> 7) & 31) as u8;
    let rs1 = ((w >> 15) & 31) as u8;
    let rs2 = ((w >> 20) & 31) as u8;
    let rs3 = u64::from((w >> 27) & 31) << 8;
    let bits_hi = u64::from(w) << 32;
    let mut u = Uop { op: pat.op, rd, rs1, rs2, idx: 0, len: 4, pc_off: 0, imm: 0 };
    u.imm = match pat.fmt {
        R | Amo => 0,
        I => imm_i(w) as u64,
        S => imm_s(w) as u64,
        B => imm_b(w) as u64,
        U => imm_u(w) as u64,
        J => imm_j(w) as u64,
        Shift => u64::from((w >> 20) & 0x3f),
        Csr => bits_hi | u64::from(w >> 20),
        Sys | Sfence => bits_hi,
        Fp => bits_hi | rs3 | u64::from((w >> 12) & 7),
        FpRm => {
            let rm = (w >> 12) & 7;
            if rm == 5 || rm == 6 {
                return illegal;
            }
            bits_hi | rs3 | u64::from(rm)
        }
    };
    match pat.rd {
        Rd::X if rd == 0 => u.rd = X_SINK,
        Rd::None => u.rd = X_SINK,
        _ => {}
    }
    u
}

/// Decodes the instruction `raw` found at guest virtual address `pc`: a 16-bit
/// compressed instruction (in the low half, when its low two bits are not `11`) or a
/// 32-bit one. PC-relative values are resolved: `auipc` becomes `Li` of `pc + imm`.
/// The returned op has `len` set; `pc_off` is left for the caller.
pub fn decode_at(raw: u32, pc: u64) -> Uop {
    let (word, len) = if raw & 3 != 3 {
        match expand_compressed(raw as u16) {
            Some(w) => (w, 2),
            None => {
                return Uop { op: Illegal, len: 2, imm: u64::from(raw & 0xffff) << 32, ..Uop::default() };
            }
        }
    } else {
        (raw, 4)
    };
    let mut u = decode(word);
    u.len = len;
    if u.op == Illegal {
        // mtval gets the instruction as fetched (16 bits for a compressed one).
        let orig = if len == 2 { raw & 0xffff } else { raw };
        u.imm = u64::from(orig) << 32;
    } else if len == 2 && u.op == Ebreak {
        u.imm = u64::from(raw & 0xffff) << 32;
    }
    if word & 0x7f == 0x17 {
        u.imm = pc.wrapping_add(u.imm); // auipc
    }
    u
}

const fn enc_i(opc: u32, rd: u32, f3v: u32, rs1: u32, imm: i32) -> u32 {
    opc | (rd << 7) | (f3v << 12) | (rs1 << 15) | (((imm as u32) & 0xfff) << 20)
}
const fn enc_s(opc: u32, f3v: u32, rs1: u32, rs2: u32, imm: i32) -> u32 {
    let i = imm as u32;
    opc | ((i & 0x1f) << 7) | (f3v << 12) | (rs1 << 15) | (rs2 << 20) | (((i >> 5) & 0x7f) << 25)
}
const fn enc_r(opc: u32, rd: u32, f3v: u32, rs1: u32, rs2: u32, f7v: u32) -> u32 {
    opc | (rd << 7) | (f3v << 12) | (rs1 << 15) | (rs2 << 20) | (f7v << 25)
}
const fn enc_b(f3v: u32, rs1: u32, rs2: u32, imm: i32) -> u32 {
    let i = imm as u32;
    0x63 | (((i >> 11) & 1) << 7)
        | (((i >> 1) & 0xf) << 8)
        | (f3v << 12)
        | (rs1 << 15)
        | (rs2 << 20)
        | (((i >> 5) & 0x3f) << 25)
        | (((i >> 12) & 1) << 31)
}
const fn enc_j(rd: u32, imm: i32) -> u32 {
    let i = imm as u32;
    0x6f | (rd << 7) | (((i >> 12) & 0xff) << 12) | (((i >> 11) & 1) << 20) | (((i >> 1) & 0x3ff) << 21) | (((i >> 20) & 1) << 31)
}

#[inline]
fn bit(c: u32, n: u32) -> u32 {
    (c >> n) & 1
}
#[inline]
fn bits(c: u32, hi: u32, lo: u32) -> u32 {
    (c >> lo) & ((1 << (hi - lo + 1)) - 1)
}

/// Expands a 16-bit RV64C instruction into the equivalent 32-bit instruction, or `None`
/// for reserved/illegal encodings (including the all-zero halfword).
pub fn expand_compressed(c16: u16) -> Option<u32> {
    let c = u32::from(c16);
    let f3v = bits(c, 15, 13);
    let rdp = bits(c, 4, 2) + 8; // rd'/rs2'
    let rs1p = bits(c, 9, 7) + 8; // rs1'/rd'
    let rd = bits(c, 11, 7);
    let rs2 = bits(c, 6, 2);
    // 6-bit signed immediate imm[5] = c[12], imm[4:0] = c[6:2]
    let imm6 = sext((bit(c, 12) << 5) | bits(c, 6, 2), 6) as i32;
    let shamt = (bit(c, 12) << 5) | bits(c, 6, 2);
    match (c & 3, f3v) {
        (0, 0) => {
            let nz = (bits(c, 12, 11) << 4) | (bits(c, 10, 7) << 6) | (bit(c, 6) << 2) | (bit(c, 5) << 3);
            if nz == 0 {
                return None;
            }
            Some(enc_i(0x13, rdp, 0, 2, nz as i32))
        }
        (0, 1) | (0, 3) | (0, 5) | (0, 7) => {
            let off = (bits(c, 12, 10) << 3) | (bits(c, 6, 5) << 6);
            Some(match f3v {
                1 => enc_i(0x07, rdp, 3, rs1p, off as i32),
                3 => enc_i(0x03, rdp, 3, rs1p, off as i32),
                5 => enc_s(0x27, 3, rs1p, rdp, off as i32),
                _ => enc_s(0x23, 3, rs1p, rdp, off as i32),
            })
        }
        (0, 2) | (0, 6) => {
            let off = (bits(c, 12, 10) << 3) | (bit(c, 6) << 2) | (bit(c, 5) << 6);
            Some(if f3v == 2 { enc_i(0x03, rdp, 2, rs1p, off as i32) } else { enc_s(0x23, 2, rs1p, rdp, off as i32) })
        }
        (1, 0) => Some(enc_i(0x13, rd, 0, rd, imm6)), // c.addi / c.nop (hints allowed)
        (1, 1) => {
            if rd == 0 {
                return None;
            }
            Some(enc_i(0x1b, rd, 0, rd, imm6)) // c.addiw
        }
        (1, 2) => Some(enc_i(0x13, rd, 0, 0, imm6)), // c.li
        (1, 3) => {
            if rd == 2 {
                let v = (bit(c, 12) << 9) | (bit(c, 6) << 4) | (bit(c, 5) << 6) | (bits(c, 4, 3) << 7) | (bit(c, 2) << 5);
                if v == 0 {
                    return None;
                }
                Some(enc_i(0x13, 2, 0, 2, sext(v, 10) as i32)) // c.addi16sp
            } else {
                if imm6 == 0 {
                    return None;
                }
                Some(0x37 | (rd << 7) | (((imm6 as u32) & 0xfffff) << 12)) // c.lui
            }
        }
        (1, 4) => match bits(c, 11, 10) {
            0 => Some(enc_i(0x13, rs1p, 5, rs1p, shamt as i32)),
            1 => Some(enc_i(0x13, rs1p, 5, rs1p, (shamt | 0x400) as i32)),
            2 => Some(enc_i(0x13, rs1p, 7, rs1p, imm6)),
            _ => {
                let (opc, f3x, f7x) = match (bit(c, 12), bits(c, 6, 5)) {
                    (0, 0) => (0x33, 0, 0x20),
                    (0, 1) => (0x33, 4, 0),
                    (0, 2) => (0x33, 6, 0),
                    (0, 3) => (0x33, 7, 0),
                    (1, 0) => (0x3b, 0, 0x20),
                    (1, 1) => (0x3b, 0, 0),
                    _ => return None,
                };
                Some(enc_r(opc, rs1p, f3x, rs1p, rdp, f7x))
            }
        },
        (1, 5) => {
            let v = (bit(c, 12) << 11)
                | (bit(c, 11) << 4)
                | (bits(c, 10, 9) << 8)
                | (bit(c, 8) << 10)
                | (bit(c, 7) << 6)
                | (bit(c, 6) << 7)
                | (bits(c, 5, 3) << 1)
                | (bit(c, 2) << 5);
            Some(enc_j(0, sext(v, 12) as i32))
        }
        (1, 6) | (1, 7) => {
            let v = (bit(c, 12) << 8) | (bits(c, 11, 10) << 3) | (bits(c, 6, 5) << 6) | (bits(c, 4, 3) << 1) | (bit(c, 2) << 5);
            Some(enc_b(f3v - 6, rs1p, 0, sext(v, 9) as i32))
        }
        (2, 0) => Some(enc_i(0x13, rd, 1, rd, shamt as i32)), // c.slli
        (2, 1) | (2, 3) => {
            let off = (bit(c, 12) << 5) | (bits(c, 6, 5) << 3) | (bits(c, 4, 2) << 6);
            if f3v == 1 {
                Some(enc_i(0x07, rd, 3, 2, off as i32))
            } else if rd == 0 {
                None
            } else {
                Some(enc_i(0x03, rd, 3, 2, off as i32))
            }
        }
        (2, 2) => {
            let off = (bit(c, 12) << 5) | (bits(c, 6, 4) << 2) | (bits(c, 3, 2) << 6);
            if rd == 0 {
                return None;
            }
            Some(enc_i(0x03, rd, 2, 2, off as i32))
        }
        (2, 4) => match (bit(c, 12), rd, rs2) {
            (0, 0, 0) => None,
            (0, _, 0) => Some(enc_i(0x67, 0, 0, rd, 0)),    // c.jr
            (0, _, _) => Some(enc_r(0x33, rd, 0, 0, rs2, 0)), // c.mv
            (1, 0, 0) => Some(0x0010_0073),                  // c.ebreak
            (1, _, 0) => Some(enc_i(0x67, 1, 0, rd, 0)),     // c.jalr
            _ => Some(enc_r(0x33, rd, 0, rd, rs2, 0)),       // c.add
        },
        (2, 5) | (2, 7) => {
            let off = (bits(c, 12, 10) << 3) | (bits(c, 9, 7) << 6);
            Some(if f3v == 5 { enc_s(0x27, 3, 2, rs2, off as i32) } else { enc_s(0x23, 3, 2, rs2, off as i32) })
        }
        (2, 6) => {
            let off = (bits(c, 12, 9) << 2) | (bits(c, 8, 7) << 6);
            Some(enc_s(0x23, 2, 2, rs2, off as i32))
        }
        _ => None,
    }
}

/// True for micro-ops that end a translated block (control flow or state changes).
pub fn ends_block(u: &Uop) -> bool {
    matches!(
        u.op,
        Illegal | Jal | Jalr | Beq | Bne | Blt | Bge | Bltu | Bgeu | FenceI | Ecall | Ebreak | Mret | Sret | Wfi | SfenceVma
    ) || own_block(u)
}

/// True for the F/D computational ops (everything but the loads and stores), the ops
/// at the end of the list.
pub fn is_fp_compute(op: Op) -> bool {
    op as u8 >= FmaddS as u8
}

/// True for CSR instructions.
pub fn is_csr(op: Op) -> bool {
    matches!(op, Csrrw | Csrrs | Csrrc | Csrrwi | Csrrsi | Csrrci)
}

/// True for the CSR instructions on `fflags`, `frm` and `fcsr` (glibc's `frflags` and
/// `fsflags` around quiet comparisons, the rounding-mode switches of libm): they read
/// no counter and change nothing that translation or the TLB depends on, so they run
/// inside blocks as floating-point ops do.
pub fn is_fp_csr(u: &Uop) -> bool {
    is_csr(u.op) && matches!((u.aux() & 0xfff) as u16, csr::num::FFLAGS..=csr::num::FCSR)
}

/// True for micro-ops that are a block of their own: every CSR instruction but those
/// of [`is_fp_csr`] (so that the counters they read are exact without per-instruction
/// bookkeeping, and what their writes change holds from the next block on).
pub fn own_block(u: &Uop) -> bool {
    is_csr(u.op) && !is_fp_csr(u)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn op_is_one_byte_and_uop_sixteen() {
        assert_eq!(core::mem::size_of::<Op>(), 1);
        assert_eq!(core::mem::size_of::<Uop>(), 16);
        assert!(ALL_OPS.len() < 256);
        for (i, op) in ALL_OPS.iter().enumerate() {
            assert_eq!(*op as usize, i);
        }
    }

    #[test]
    fn base_formats() {
        // addi x1, x2, -1  = 0xfff10093
        let u = decode(0xfff1_0093);
        assert_eq!((u.op, u.rd, u.rs1, u.imm as i64), (Addi, 1, 2, -1));
        // sd x5, -8(x2) = 0xfe513c23
        let u = decode(0xfe51_3c23);
        assert_eq!((u.op, u.rs1, u.rs2, u.imm as i64), (Sd, 2, 5, -8));
        // beq x1, x2, -4 = 0xfe208ee3
        let u = decode(0xfe20_8ee3);
        assert_eq!((u.op, u.rs1, u.rs2, u.imm as i64), (Beq, 1, 2, -4));
        // jal x1, 2048 = 0x001000ef (imm[11] set)
        let u = decode(0x0010_00ef);
        assert_eq!((u.op, u.rd, u.imm as i64), (Jal, 1, 2048));
        // lui x3, 0xfffff = 0xfffff1b7
        let u = decode(0xffff_f1b7);
        assert_eq!((u.op, u.rd, u.imm as i64), (Li, 3, -4096));
        // srai x1, x1, 63 = 0x43f0d093
        let u = decode(0x43f0_d093);
        assert_eq!((u.op, u.imm), (Srai, 63));
        // slliw with shamt[5] set is reserved: 0x0200109b
        assert_eq!(decode(0x0200_109b).op, Illegal);
        // add x0, x1, x2 writes the sink
        assert_eq!(decode(0x0020_8033).rd, X_SINK);
        // csrrw x1, mstatus, x2 = 0x300110f3
        let u = decode(0x3001_10f3);
        assert_eq!((u.op, u.aux(), u.insn_bits()), (Csrrw, 0x300, 0x3001_10f3));
        assert_eq!(decode(0).op, Illegal);
        assert_eq!(decode(0xffff_ffff).op, Illegal);
        // fadd.d with rm=5 is reserved
        assert_eq!(decode(0x0220_d0d3).op, Illegal);
        assert_eq!(decode(0x0220_70d3).op, FaddD);
        // lr.w with rs2 != 0 is reserved
        assert_eq!(decode(0x1000_a1af).op, LrW);
        assert_eq!(decode(0x1010_a1af).op, Illegal);
    }

    #[test]
    fn fused_multiply_add_keeps_rs3() {
        // fmadd.d f1, f2, f3, f4 (dynamic rounding)
        let w = (4 << 27) | (1 << 25) | (3 << 20) | (2 << 15) | (7 << 12) | (1 << 7) | 0x43;
        let u = decode(w);
        assert_eq!((u.op, u.rd, u.rs1, u.rs2, u.rs3(), u.aux() & 7), (FmaddD, 1, 2, 3, 4, 7));
        assert_eq!(u.insn_bits(), u64::from(w));
        assert_eq!(u.idx, 0);
    }

    #[test]
    fn auipc_folds_pc() {
        // auipc x5, 1 = 0x00001297
        let u = decode_at(0x0000_1297, 0x8000_0000);
        assert_eq!((u.op, u.rd, u.imm), (Li, 5, 0x8000_1000));
    }

    #[test]
    fn compressed_expansions() {
        // (16-bit, 32-bit) pairs assembled by GNU as (rv64gc, with and without RVC).
        let pairs: &[(u16, u32)] = &[
            (0x4501, 0x00000513),
            (0x1141, 0xff010113),
            (0xe406, 0x00113423),
            (0x60a2, 0x00813083),
            (0x8082, 0x00008067),
            (0x852e, 0x00b00533),
            (0x9002, 0x00100073),
            (0x0800, 0x01010413),
            (0x47b2, 0x00c12783),
            (0x357d, 0xfff5051b),
            (0x9d89, 0x40a585bb),
            (0x6505, 0x00001537),
            (0x757d, 0xfffff537),
            (0x8505, 0x40155513),
            (0x90fd, 0x03f4d493),
            (0x9975, 0xffd57513),
            (0xc1c8, 0x00a5a223),
            (0x7ef0, 0x0f86b603),
            (0x2588, 0x0085b507),
            (0xbfa2, 0x1e813c27),
            (0x7101, 0xe0010113),
            (0x9782, 0x000780e7),
            (0x952e, 0x00b50533),
            (0x1506, 0x02151513),
            (0x8c65, 0x00947433),
            (0x8c45, 0x00946433),
            (0x8c25, 0x00944433),
            (0x9c25, 0x0094043b),
            (0xc101, 0x00050063),
            (0xe391, 0x00079263),
            (0xbff5, 0xffdff06f),
            (0xaffd, 0x7fe0006f),
        ];
        for &(c, w) in pairs {
            assert_eq!(expand_compressed(c), Some(w), "c {c:#06x}");
        }
        assert_eq!(expand_compressed(0x0000), None); // all-zero halfword
        assert_eq!(expand_compressed(0x6101), None); // c.addi16sp with imm 0
        assert_eq!(expand_compressed(0x6001), None); // c.lui with imm 0
        assert_eq!(expand_compressed(0x9c41), None); // reserved CA encoding (bit12, funct2=10)
        assert_eq!(expand_compressed(0x2001), None); // c.addiw with rd = 0
        assert_eq!(expand_compressed(0x4002), None); // c.lwsp with rd = 0
        assert_eq!(expand_compressed(0x8002), None); // c.jr with rs1 = 0
        assert_eq!(expand_compressed(0x8000), None); // quadrant 0, funct3 100 reserved
    }
}
