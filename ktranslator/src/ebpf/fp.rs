//! The F/D ops that are bit manipulation, lowered natively: sign injection (`fmv`,
//! `fneg`, `fabs` are its special cases), moves between the register files,
//! comparisons and classification. The arithmetic calls its direct helpers (fpu.rs).
//!
//! Each lowering does what the op's tier-1 handler does (fpu.rs `fp_handlers!`):
//! with mstatus.FS off it runs the generic helper, which raises illegal instruction;
//! otherwise it writes its result and marks FS dirty. The helper also takes every case
//! that needs more than bits: a comparison with a NaN operand (the flags it raises)
//! and a single-precision operand that is not NaN-boxed (it reads as the canonical
//! NaN). Those cases only ever leave the fast path, so the fast path needs no flags.

use super::super::bpf::*;
use super::super::decode::{Op, Uop};
use super::{foff, x_uses, Emitter, CTX, R0, R2, R3, R4, R5};

/// Where a format's fields sit once a value is shifted left by `shift` (the sign
/// shifted out, the exponent's top bit at bit 63).
struct Fmt {
    /// 1 for doubles, 33 for singles (in the low half of a NaN-boxed register).
    shift: i32,
    /// The sign bit's position in the register.
    sign: i32,
    /// The smallest normal magnitude, shifted.
    min_normal: u64,
    /// Infinity's magnitude, shifted: anything above it is a NaN.
    inf: u64,
    /// The quiet bit's position after the shift.
    quiet: i32,
}

const D: Fmt = Fmt { shift: 1, sign: 63, min_normal: 1 << 53, inf: 0x7ff0_0000_0000_0000 << 1, quiet: 52 };
const S: Fmt = Fmt { shift: 33, sign: 31, min_normal: 1 << 56, inf: 0x7f80_0000 << 33, quiet: 55 };

/// The upper half of a NaN-boxed single.
const BOX: u64 = 0xffff_ffff_0000_0000;

/// Most jumps to the slow path one op has (a single-precision comparison: FS off, two
/// operands not NaN-boxed, two NaNs).
const MAX_SLOW: usize = 5;

/// The jumps of one op to its slow path.
struct Slow {
    at: [usize; MAX_SLOW],
    n: usize,
}

impl Emitter<'_> {
    /// Lowers F/D op `u` (at `uop_addr`) natively if it is one of this file's; false
    /// for every other op (the caller calls its helper).
    pub(super) fn fp_bits(&mut self, u: &Uop, uop_addr: u64) -> bool {
        use Op::*;
        let fmt = match u.op {
            FsgnjD | FsgnjnD | FsgnjxD | FmvXD | FmvDX | FeqD | FltD | FleD | FclassD => &D,
            FsgnjS | FsgnjnS | FsgnjxS | FmvXW | FmvWX | FeqS | FltS | FleS | FclassS => &S,
            _ => return false,
        };
        let single = fmt.shift != 1;
        // The register cache where the slow path starts.
        let before = self.c;
        let mut slow = Slow { at: [0; MAX_SLOW], n: 0 };
        let fs_off = self.fs_off();
        self.slow(&mut slow, fs_off);
        match u.op {
            FmvXD | FmvXW => {
                // The bits as they are (fmv.x.w takes the low word, boxed or not).
                self.ldx(DW, R2, CTX, foff(u.rs1));
                if single {
                    self.sext32(R2);
                }
                self.set_x(u.rd, R2);
            }
            FmvDX | FmvWX => {
                let src = self.operand(R2, u.rs1, true);
                if single {
                    self.alu32_x(MOV, R3, src);
                    self.ld_imm64(R0, BOX);
                    self.alu64_x(OR, R3, R0);
                    self.stx(DW, CTX, foff(u.rd), R3);
                } else {
                    self.stx(DW, CTX, foff(u.rd), src);
                }
            }
            FsgnjD | FsgnjnD | FsgnjxD | FsgnjS | FsgnjnS | FsgnjxS => {
                self.two_operands(u, single, &mut slow);
                self.sign_inject(u.op, single);
                self.stx(DW, CTX, foff(u.rd), R2);
            }
            FeqD | FltD | FleD | FeqS | FltS | FleS => {
                self.two_operands(u, single, &mut slow);
                // r4, r5: the magnitudes shifted; either above infinity's is a NaN.
                self.alu64_x(MOV, R4, R2);
                self.alu64_k(LSH, R4, fmt.shift);
                self.alu64_x(MOV, R5, R3);
                self.alu64_k(LSH, R5, fmt.shift);
                self.ld_imm64(R0, fmt.inf);
                let (a, b) = (self.jmp_x(JGT, R4, R0), self.jmp_x(JGT, R5, R0));
                self.slow(&mut slow, a);
                self.slow(&mut slow, b);
                self.ordered(R4, R2, fmt);
                self.ordered(R5, R3, fmt);
                let cond = match u.op {
                    FeqD | FeqS => JEQ,
                    FltD | FltS => JSLT,
                    _ => JSLE,
                };
                self.alu64_k(MOV, R2, 1);
                let holds = self.jmp_x(cond, R4, R5);
                self.alu64_k(MOV, R2, 0);
                self.patch(holds);
                self.set_x(u.rd, R2);
            }
            _ => {
                // fclass.d, fclass.s.
                self.ldx(DW, R2, CTX, foff(u.rs1));
                if single {
                    let a = self.unboxed(R2);
                    self.slow(&mut slow, a);
                }
                self.classify(fmt);
                self.set_x(u.rd, R2);
            }
        }
        self.fs_dirty();
        self.emit(insn(JMP | JA, 0, 0, 0, 0));
        let done = self.n - 1;
        for &at in slow.at.get(..slow.n).unwrap_or(&[]) {
            self.patch(at);
        }
        // The x register the op writes, if any, for the slow path's reload (an f
        // destination is not in the register cache).
        self.slow_path(before, uop_addr, x_uses(u).1);
        self.patch(done);
        true
    }

    /// r2 = f[rs1], r3 = f[rs2]; singles must be NaN-boxed (else to the slow path).
    fn two_operands(&mut self, u: &Uop, single: bool, slow: &mut Slow) {
        self.ldx(DW, R2, CTX, foff(u.rs1));
        self.ldx(DW, R3, CTX, foff(u.rs2));
        if single {
            let (a, b) = (self.unboxed(R2), self.unboxed(R3));
            self.slow(slow, a);
            self.slow(slow, b);
        }
    }

    /// Records jump `at` to the slow path (a program with more than [`MAX_SLOW`] is
    /// not compiled).
    fn slow(&mut self, slow: &mut Slow, at: usize) {
        match slow.at.get_mut(slow.n) {
            Some(s) => {
                *s = at;
                slow.n += 1;
            }
            None => self.full = true,
        }
    }

    /// Jumps (returned, to patch) unless register `r` holds a NaN-boxed single: its
    /// upper half all ones. Clobbers r0.
    fn unboxed(&mut self, r: u8) -> usize {
        self.alu64_x(MOV, R0, r);
        self.alu64_k(ARSH, R0, 32);
        // (The immediate is sign-extended: all ones.)
        self.jmp_k(JNE, R0, -1)
    }

    /// r2 = r2 with the sign of r3 (`FsgnjX`), its inverse (`FsgnjnX`) or their
    /// exclusive or (`FsgnjxX`); singles are NaN-boxed in and out. Clobbers r0, r3.
    fn sign_inject(&mut self, op: Op, single: bool) {
        use Op::*;
        if single {
            // In the low words (32-bit operations clear the upper halves), then boxed.
            self.emit(insn(ALU | K | AND, R3, 0, 0, i32::MIN));
            if matches!(op, FsgnjnS) {
                self.emit(insn(ALU | K | XOR, R3, 0, 0, i32::MIN));
            }
            if matches!(op, FsgnjxS) {
                self.alu32_x(XOR, R2, R3);
            } else {
                self.emit(insn(ALU | K | AND, R2, 0, 0, i32::MAX));
                self.alu32_x(OR, R2, R3);
            }
            self.ld_imm64(R0, BOX);
            self.alu64_x(OR, R2, R0);
            return;
        }
        // The sign bit of r3 alone (inverted first for fsgnjn).
        self.alu64_k(RSH, R3, 63);
        if matches!(op, FsgnjnD) {
            self.alu64_k(XOR, R3, 1);
        }
        self.alu64_k(LSH, R3, 63);
        if !matches!(op, FsgnjxD) {
            // r2's magnitude.
            self.alu64_k(LSH, R2, 1);
            self.alu64_k(RSH, R2, 1);
        }
        self.alu64_x(if matches!(op, FsgnjxD) { XOR } else { OR }, R2, R3);
    }

    /// `mag` (a magnitude shifted left by `fmt.shift`, not a NaN's) becomes a signed
    /// integer ordered as the value in `val` is: the magnitude, negated if the sign is
    /// set. Both zeros give 0. Clobbers r0.
    fn ordered(&mut self, mag: u8, val: u8, fmt: &Fmt) {
        self.alu64_k(RSH, mag, fmt.shift);
        // r0 = all ones if the sign is set, else 0.
        self.alu64_x(MOV, R0, val);
        if fmt.sign != 63 {
            self.alu64_k(LSH, R0, 63 - fmt.sign);
        }
        self.alu64_k(ARSH, R0, 63);
        self.alu64_x(XOR, mag, R0);
        self.alu64_x(SUB, mag, R0);
    }

    /// r2 = the class mask of the value in r2 (fclass: bit 0 negative infinity, 1
    /// negative normal, 2 negative subnormal, 3 negative zero, 4-7 the same positive in
    /// reverse order, 8 signalling NaN, 9 quiet NaN). Clobbers r0, r3-r5.
    fn classify(&mut self, fmt: &Fmt) {
        // r3: the magnitude shifted; r4: its kind (0 zero, 1 subnormal, 2 normal, 3
        // infinite), found by comparing r3 with the kinds' bounds.
        self.alu64_x(MOV, R3, R2);
        self.alu64_k(LSH, R3, fmt.shift);
        self.alu64_k(MOV, R4, 0);
        let zero = self.jmp_k(JEQ, R3, 0);
        self.alu64_k(MOV, R4, 1);
        self.ld_imm64(R0, fmt.min_normal);
        let subnormal = self.jmp_x(JLT, R3, R0);
        self.alu64_k(MOV, R4, 2);
        self.ld_imm64(R0, fmt.inf);
        let normal = self.jmp_x(JLT, R3, R0);
        self.alu64_k(MOV, R4, 3);
        let infinite = self.jmp_x(JEQ, R3, R0);
        // A NaN: bit 8, or 9 if quiet, whatever the sign.
        self.alu64_k(RSH, R3, fmt.quiet);
        self.alu64_k(AND, R3, 1);
        self.alu64_k(ADD, R3, 8);
        self.emit(insn(JMP | JA, 0, 0, 0, 0));
        let nan = self.n - 1;
        for at in [zero, subnormal, normal, infinite] {
            self.patch(at);
        }
        // Negative kinds count down from bit 3, positive ones up from bit 4.
        self.alu64_x(MOV, R5, R2);
        self.alu64_k(RSH, R5, fmt.sign);
        self.alu64_k(AND, R5, 1);
        self.alu64_k(MOV, R3, 4);
        self.alu64_x(ADD, R3, R4);
        let positive = self.jmp_k(JEQ, R5, 0);
        self.alu64_k(MOV, R3, 3);
        self.alu64_x(SUB, R3, R4);
        self.patch(positive);
        self.patch(nan);
        self.alu64_k(MOV, R2, 1);
        self.alu64_x(LSH, R2, R3);
    }
}
