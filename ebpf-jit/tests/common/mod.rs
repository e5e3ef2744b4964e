//! Shared helpers for the tests: instruction builders, opcode constants, a runner.
#![allow(dead_code, missing_docs, unreachable_pub)]

use ebpf_jit::{JitArena, JitError, JitFn};

// The encoding is ktranslator's; what tier 2 never emits (for the refusal tests) is here.
pub use ktranslator::bpf::*;

pub const ABS: u8 = 0x20;
pub const IND: u8 = 0x40;
pub const MEMSX: u8 = 0x80;
pub const ATOMIC: u8 = 0xc0;

pub const TO_LE: u8 = 0x00;
pub const TO_BE: u8 = 0x08;

/// The ALU operations with a source operand.
pub const ALU_OPS: [u8; 11] = [ADD, SUB, MUL, DIV, OR, AND, LSH, RSH, MOD, XOR, MOV];
pub const ALU_OPS_ALL: [u8; 12] = [ADD, SUB, MUL, DIV, OR, AND, LSH, RSH, MOD, XOR, MOV, ARSH];
pub const JMP_OPS: [u8; 11] = [JEQ, JGT, JGE, JSET, JNE, JSGT, JSGE, JLT, JLE, JSLT, JSLE];

/// One `struct bpf_insn`.
pub fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> u64 {
    u64::from(code)
        | u64::from(dst & 0xf) << 8
        | u64::from(src & 0xf) << 12
        | u64::from(off as u16) << 16
        | u64::from(imm as u32) << 32
}

pub fn ld_imm64(dst: u8, v: u64) -> [u64; 2] {
    [
        insn(LD | IMM | DW, dst, 0, 0, v as u32 as i32),
        insn(0, 0, 0, 0, (v >> 32) as u32 as i32),
    ]
}

pub fn exit() -> u64 {
    insn(JMP | EXIT, 0, 0, 0, 0)
}

pub fn mov64(dst: u8, src: u8) -> u64 {
    insn(ALU64 | MOV | X, dst, src, 0, 0)
}

pub fn mov64_imm(dst: u8, imm: i32) -> u64 {
    insn(ALU64 | MOV | K, dst, 0, 0, imm)
}

pub fn no_helper(_: i32) -> Option<usize> {
    None
}

/// An arena that recycles itself when full.
pub struct Runner {
    pub arena: JitArena,
}

impl Runner {
    pub fn new() -> Self {
        Runner {
            arena: JitArena::new(1 << 20).unwrap(),
        }
    }

    pub fn compile_h(&mut self, prog: &[u64], helper: &dyn Fn(i32) -> Option<usize>) -> JitFn {
        match self.arena.compile(prog, helper) {
            Ok(f) => f,
            Err(JitError::Full) => {
                // SAFETY: the tests never call a function compiled before the reset again.
                unsafe { self.arena.reset() };
                self.arena.compile(prog, helper).unwrap()
            }
            Err(e) => panic!("compile failed: {e}"),
        }
    }

    /// Compiles and runs `prog` with r1 = `ctx`.
    pub fn run_ptr(&mut self, prog: &[u64], ctx: *mut u8) -> u64 {
        let f = self.compile_h(prog, &no_helper);
        // SAFETY: test programs only touch ctx within the buffers the tests pass, and the stack.
        unsafe { f(ctx) }
    }

    pub fn run(&mut self, prog: &[u64]) -> u64 {
        self.run_ptr(prog, std::ptr::null_mut())
    }
}

/// Flattens a program built from pieces.
pub fn prog(parts: &[&[u64]]) -> Vec<u64> {
    parts.iter().flat_map(|p| p.iter().copied()).collect()
}

/// A small xorshift64* PRNG.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    pub fn pick<T: Copy>(&mut self, s: &[T]) -> T {
        s[self.below(s.len() as u64) as usize]
    }
    /// A value biased towards edge cases.
    pub fn value(&mut self) -> u64 {
        match self.below(8) {
            0 => self.pick(&EDGES),
            1 => self.below(64),
            2 => u64::from(self.next() as u32),
            3 => i64::from(self.next() as i32) as u64,
            4 => self
                .pick(&EDGES)
                .wrapping_add(self.below(5))
                .wrapping_sub(2),
            _ => self.next(),
        }
    }
}

pub const EDGES: [u64; 14] = [
    0,
    1,
    2,
    u64::MAX,
    u64::MAX - 1,
    i64::MIN as u64,
    i64::MAX as u64,
    i32::MIN as u32 as u64,
    0xffff_ffff_8000_0000, // i32::MIN sign-extended
    i32::MAX as u64,
    u32::MAX as u64,
    1 << 32,
    (1 << 32) + 1,
    0x8000_0000_8000_0001,
];
