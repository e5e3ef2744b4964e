//! A userspace x86-64 JIT compiler for Linux eBPF programs (`struct bpf_insn` encoding).
//!
//! The RISC-V emulator generates eBPF for guest blocks; in the kernel module the kernel's
//! own BPF JIT runs them, in userspace this crate does, with the same semantics (those of
//! the kernel's x86-64 JIT at run time, e.g. division by zero gives 0, shift counts are
//! masked). No verifier runs: every accepted instruction is compiled exactly, anything
//! else is rejected with a [`JitError`].
//!
//! Design:
//! - Code space is one memfd mapped twice: a read-write view the compiler writes and a
//!   read-execute view the code runs from. No page is ever writable and executable at
//!   once (W^X) and no `mprotect` (and no TLB shootdown) is needed per program. Programs
//!   are bump-allocated, 16-byte aligned; [`JitArena::reset`] forgets them all.
//! - Registers use the Linux x86-64 BPF JIT's mapping, so a helper call needs no
//!   argument moves (r1-r5 are the SysV argument registers, r0 is the return register,
//!   r6-r9 are callee-saved): r0=rax, r1=rdi, r2=rsi, r3=rdx, r4=rcx, r5=r8, r6=rbx,
//!   r7=r13, r8=r14, r9=r15, r10=rbp. x86 r9, r10 and r11 are scratch registers.
//! - Frame: `push rbp; mov rbp, rsp; sub rsp, 512; push rbx, r13, r14, r15`. r10 (rbp)
//!   points at the top of the 512-byte eBPF stack and rsp stays 16-byte aligned, so
//!   helpers are called directly. Every EXIT inlines the epilogue.
//! - One pass emits into a buffer with rel32 jumps, recording each instruction's code
//!   offset; a fixup pass then patches the jumps. The program's final address is known
//!   before emission, so helper calls use `call rel32` when in range.
//! - As in the kernel, only r1 (ctx) and r10 are defined on entry: r0 and r2-r9 hold
//!   whatever the caller left there. x86 keeps instruction fetch coherent with stores
//!   through the other view on the same CPU; a program compiled on one thread and run on
//!   another needs the usual happens-before synchronisation (e.g. the channel or lock
//!   that hands over the `JitFn`).

pub mod hooks;

use std::fmt;

use ktranslator::bpf::{self, Insn};

/// A compiled program: `unsafe extern "C" fn(ctx: *mut u8) -> u64` (eBPF r1 = ctx,
/// returns r0).
pub type JitFn = unsafe extern "C" fn(ctx: *mut u8) -> u64;

/// Why a program could not be compiled.
#[derive(Debug)]
pub enum JitError {
    /// A valid eBPF instruction this JIT does not implement (atomics, LD_ABS/LD_IND,
    /// tail calls, bpf-to-bpf calls, cpuv4 signed division, 32-bit MOVSX, ...).
    Unsupported {
        /// Index of the instruction (in 8-byte slots).
        pc: usize,
        /// Its opcode byte.
        opcode: u8,
    },
    /// A malformed program (bad register, jump out of range, unknown helper, ...).
    BadProgram {
        /// Index of the instruction (in 8-byte slots).
        pc: usize,
        /// What is wrong.
        what: &'static str,
    },
    /// The program does not fit in the arena's remaining space.
    Full,
    /// Creating or mapping the code space failed.
    Io(std::io::Error),
}

impl fmt::Display for JitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JitError::Unsupported { pc, opcode } => {
                write!(f, "unsupported eBPF instruction {opcode:#04x} at pc {pc}")
            }
            JitError::BadProgram { pc, what } => write!(f, "bad eBPF program at pc {pc}: {what}"),
            JitError::Full => write!(f, "JIT code space full"),
            JitError::Io(e) => write!(f, "JIT code space: {e}"),
        }
    }
}

impl std::error::Error for JitError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            JitError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<std::io::Error> for JitError {
    fn from(e: std::io::Error) -> Self {
        JitError::Io(e)
    }
}

impl From<rustix::io::Errno> for JitError {
    fn from(e: rustix::io::Errno) -> Self {
        JitError::Io(e.into())
    }
}

/// Bump-allocated code space for compiled programs (one memfd mapped read-write and
/// read-execute).
pub struct JitArena {
    rw: *mut u8,
    rx: *mut u8,
    map_len: usize,
    cap: usize,
    used: usize,
}

// SAFETY: the arena exclusively owns its two mappings; the raw pointers are not shared
// with anything that is tied to a thread.
unsafe impl Send for JitArena {}

impl fmt::Debug for JitArena {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JitArena")
            .field("rx", &self.rx)
            .field("used", &self.used)
            .field("capacity", &self.cap)
            .finish()
    }
}

impl Drop for JitArena {
    fn drop(&mut self) {
        // SAFETY: both mappings were created by `new` with `map_len` bytes and are not
        // used after this point (compiled programs must not outlive the arena).
        unsafe {
            let _ = rustix::mm::munmap(self.rw.cast(), self.map_len);
            let _ = rustix::mm::munmap(self.rx.cast(), self.map_len);
        }
    }
}

const PAGE: usize = 4096;
/// Bytes of eBPF stack below r10.
const STACK_SIZE: i32 = 512;

impl JitArena {
    /// `bytes` of code space: one memfd mapped twice (a read-write view the compiler
    /// writes, a read-execute view the code runs from: W^X, no mprotect per program).
    pub fn new(bytes: usize) -> Result<JitArena, JitError> {
        if bytes > i32::MAX as usize {
            // Keeps every offset inside a program and the arena within rel32.
            return Err(JitError::Io(std::io::Error::from(
                std::io::ErrorKind::InvalidInput,
            )));
        }
        let map_len = bytes.max(1).div_ceil(PAGE) * PAGE;
        use rustix::fs::MemfdFlags;
        // MFD_EXEC: with the vm.memfd_noexec sysctl set, a memfd is not executable unless
        // asked for; kernels before 6.3 do not know the flag (EINVAL): retry without.
        let fd =
            match rustix::fs::memfd_create("kemu-ebpf-jit", MemfdFlags::CLOEXEC | MemfdFlags::EXEC)
            {
                Err(rustix::io::Errno::INVAL) => {
                    rustix::fs::memfd_create("kemu-ebpf-jit", MemfdFlags::CLOEXEC)?
                }
                r => r?,
            };
        rustix::fs::ftruncate(&fd, map_len as u64)?;
        use rustix::mm::{MapFlags, ProtFlags};
        // SAFETY: a fresh shared mapping of our own memfd at an address the kernel picks.
        let rw = unsafe {
            rustix::mm::mmap(
                std::ptr::null_mut(),
                map_len,
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::SHARED,
                &fd,
                0,
            )?
        };
        // SAFETY: as above, a second view of the same memfd, read-execute.
        let rx = unsafe {
            rustix::mm::mmap(
                std::ptr::null_mut(),
                map_len,
                ProtFlags::READ | ProtFlags::EXEC,
                MapFlags::SHARED,
                &fd,
                0,
            )
        };
        let rx = match rx {
            Ok(p) => p,
            Err(e) => {
                // SAFETY: `rw` was mapped above with `map_len` bytes and is unused.
                unsafe {
                    let _ = rustix::mm::munmap(rw, map_len);
                }
                return Err(e.into());
            }
        };
        // The mappings keep the memfd alive: its descriptor can be closed.
        drop(fd);
        Ok(JitArena {
            rw: rw.cast(),
            rx: rx.cast(),
            map_len,
            cap: bytes,
            used: 0,
        })
    }

    /// Compiles `insns` (each u64 is one 8-byte struct bpf_insn as the kernel lays it
    /// out, little-endian: code u8, dst_reg:4 | src_reg:4 << 4, off i16, imm i32).
    /// `helper(imm)` resolves a bpf::CALL's imm to the absolute address of an
    /// `extern "C" fn(u64, u64, u64, u64, u64) -> u64`; None -> JitError::BadProgram.
    ///
    /// The returned function runs from this arena: it must not be called after the arena
    /// is dropped or reset. Calling it is `unsafe`: the program's loads and stores and
    /// helpers must be valid for the `ctx` passed.
    pub fn compile(
        &mut self,
        insns: &[u64],
        helper: &dyn Fn(i32) -> Option<usize>,
    ) -> Result<JitFn, JitError> {
        let start = self.used.next_multiple_of(16);
        if start >= self.cap {
            // Validate anyway so that a bad program is reported as such.
            Compiler::new(insns, helper, 0).run()?;
            return Err(JitError::Full);
        }
        let base = self.rx as usize + start;
        let code = Compiler::new(insns, helper, base).run()?;
        if code.len() > self.cap - start {
            return Err(JitError::Full);
        }
        // SAFETY: [used, start + code.len()) lies inside the read-write mapping
        // (start + code.len() <= cap <= map_len) and no compiled program occupies it.
        unsafe {
            let dst = self.rw.add(self.used);
            std::ptr::write_bytes(dst, 0xcc, start - self.used);
            std::ptr::copy_nonoverlapping(code.as_ptr(), self.rw.add(start), code.len());
        }
        self.used = start + code.len();
        // SAFETY: the read-execute view maps the same memfd pages, which now hold a
        // complete function following the SysV ABI for `JitFn`. x86 keeps instruction
        // fetch coherent with the stores just made through the other view.
        let f = unsafe { std::mem::transmute::<*mut u8, JitFn>(self.rx.add(start)) };
        Ok(f)
    }

    /// Bytes used.
    pub fn used(&self) -> usize {
        self.used
    }

    /// Capacity in bytes.
    pub fn capacity(&self) -> usize {
        self.cap
    }

    /// Forgets every compiled program (the caller guarantees none runs or will be
    /// called again).
    ///
    /// # Safety
    /// No function returned by [`JitArena::compile`] may be running or be called after
    /// this; if other threads ran them, the caller must have synchronised with them.
    pub unsafe fn reset(&mut self) {
        self.used = 0;
    }
}

// ---------------------------------------------------------------------------------------
// The eBPF encoding is ktranslator's (`ktranslator::bpf`), shared with the lowering.

// x86 registers.
const RAX: u8 = 0;
const RCX: u8 = 1;
const RDX: u8 = 2;
const RBX: u8 = 3;
const RSP: u8 = 4;
const RBP: u8 = 5;
const RSI: u8 = 6;
const RDI: u8 = 7;
const R8: u8 = 8;
const R9: u8 = 9;
const R10: u8 = 10;
const R11: u8 = 11;
const R13: u8 = 13;
const R14: u8 = 14;
const R15: u8 = 15;

/// eBPF register -> x86 register.
const REG: [u8; 11] = [RAX, RDI, RSI, RDX, RCX, R8, RBX, R13, R14, R15, RBP];


/// x86 condition codes (the low nibble of `0f 8x` jcc).
const CC_B: u8 = 0x2;
const CC_AE: u8 = 0x3;
const CC_E: u8 = 0x4;
const CC_NE: u8 = 0x5;
const CC_BE: u8 = 0x6;
const CC_A: u8 = 0x7;
const CC_L: u8 = 0xc;
const CC_GE: u8 = 0xd;
const CC_LE: u8 = 0xe;
const CC_G: u8 = 0xf;

struct Compiler<'a> {
    insns: &'a [u64],
    helper: &'a dyn Fn(i32) -> Option<usize>,
    /// Address the code will run at (0 when only validating).
    base: usize,
    code: Vec<u8>,
    /// Code offset of each instruction slot.
    offsets: Vec<u32>,
    /// (position of a rel32 field, target instruction).
    fixups: Vec<(usize, usize)>,
}

type R<T> = Result<T, JitError>;

impl<'a> Compiler<'a> {
    fn new(insns: &'a [u64], helper: &'a dyn Fn(i32) -> Option<usize>, base: usize) -> Self {
        Compiler {
            insns,
            helper,
            base,
            code: Vec::with_capacity(insns.len() * 8 + 32),
            offsets: vec![0; insns.len()],
            fixups: Vec::new(),
        }
    }

    // ---- byte emission -------------------------------------------------------------

    fn b(&mut self, byte: u8) {
        self.code.push(byte);
    }

    fn bytes(&mut self, b: &[u8]) {
        self.code.extend_from_slice(b);
    }

    fn imm32(&mut self, v: i32) {
        self.bytes(&v.to_le_bytes());
    }

    /// REX prefix for ModRM `reg`/`rm` (no index). `force` emits it even when empty
    /// (byte access to spl/bpl/sil/dil).
    fn rex(&mut self, w: bool, reg: u8, rm: u8, force: bool) {
        let r = 0x40 | (u8::from(w) << 3) | ((reg >> 3) << 2) | (rm >> 3);
        if r != 0x40 || force {
            self.b(r);
        }
    }

    fn modrm_reg(&mut self, reg: u8, rm: u8) {
        self.b(0xc0 | ((reg & 7) << 3) | (rm & 7));
    }

    /// ModRM (+SIB) (+disp) for `[base + disp]`; always mod=01/10 so rbp/r13 work.
    fn modrm_mem(&mut self, reg: u8, base: u8, disp: i32) {
        let m = if i8::try_from(disp).is_ok() {
            0x40
        } else {
            0x80
        };
        self.b(m | ((reg & 7) << 3) | (base & 7));
        if base & 7 == RSP {
            self.b(0x24);
        }
        if m == 0x40 {
            self.b(disp as i8 as u8);
        } else {
            self.imm32(disp);
        }
    }

    /// `op r/m, reg` register-register form (`rm` is the destination).
    fn rr(&mut self, op: u8, w: bool, rm: u8, reg: u8) {
        self.rex(w, reg, rm, false);
        self.b(op);
        self.modrm_reg(reg, rm);
    }

    /// Group-1 ALU op with immediate: `ext` = /0 add, /1 or, /4 and, /5 sub, /6 xor, /7 cmp.
    fn alu_imm(&mut self, ext: u8, w: bool, rm: u8, imm: i32) {
        self.rex(w, 0, rm, false);
        if let Ok(i) = i8::try_from(imm) {
            self.b(0x83);
            self.modrm_reg(ext, rm);
            self.b(i as u8);
        } else {
            self.b(0x81);
            self.modrm_reg(ext, rm);
            self.imm32(imm);
        }
    }

    /// `mov dst, src` (64-bit, or 32-bit zero-extending).
    fn mov_rr(&mut self, w: bool, dst: u8, src: u8) {
        self.rr(0x89, w, dst, src);
    }

    /// Loads a 32-bit immediate: zero-extended (`sext == false`) or sign-extended to 64.
    fn mov_imm32(&mut self, dst: u8, imm: i32, sext: bool) {
        if imm == 0 {
            self.rr(0x31, false, dst, dst); // xor r32, r32
        } else if !sext || imm > 0 {
            self.rex(false, 0, dst, false);
            self.b(0xb8 + (dst & 7));
            self.imm32(imm);
        } else {
            self.rex(true, 0, dst, false);
            self.b(0xc7);
            self.modrm_reg(0, dst);
            self.imm32(imm);
        }
    }

    fn mov_imm64(&mut self, dst: u8, v: u64) {
        if let Ok(i) = u32::try_from(v) {
            self.mov_imm32(dst, i as i32, false);
        } else if let Ok(i) = i32::try_from(v as i64) {
            self.mov_imm32(dst, i, true);
        } else {
            self.rex(true, 0, dst, false);
            self.b(0xb8 + (dst & 7));
            self.bytes(&v.to_le_bytes());
        }
    }

    /// Emits `jcc rel8` (cc < 16) or `jmp rel8` (cc == 0xff) with a placeholder;
    /// returns the position to patch with [`Self::patch8`].
    fn jmp8(&mut self, cc: u8) -> usize {
        if cc == 0xff {
            self.b(0xeb);
        } else {
            self.b(0x70 | cc);
        }
        self.b(0);
        self.code.len() - 1
    }

    /// Points the rel8 at `at` to the current position.
    fn patch8(&mut self, at: usize) {
        let rel = self.code.len() - (at + 1);
        debug_assert!(rel < 128);
        self.code[at] = rel as u8;
    }

    fn epilogue(&mut self) {
        // pop r15; pop r14; pop r13; pop rbx; leave; ret
        self.bytes(&[0x41, 0x5f, 0x41, 0x5e, 0x41, 0x5d, 0x5b, 0xc9, 0xc3]);
    }

    fn prologue(&mut self) {
        // push rbp; mov rbp, rsp; sub rsp, 512; push rbx; push r13; push r14; push r15
        self.bytes(&[0x55, 0x48, 0x89, 0xe5, 0x48, 0x81, 0xec]);
        self.imm32(STACK_SIZE);
        self.bytes(&[0x53, 0x41, 0x55, 0x41, 0x56, 0x41, 0x57]);
    }

    // ---- compilation -----------------------------------------------------------------

    fn run(mut self) -> R<Vec<u8>> {
        let n = self.insns.len();
        if n == 0 {
            return Err(JitError::BadProgram {
                pc: 0,
                what: "empty program",
            });
        }
        // Second halves of LD_IMM64: not instructions, not jump targets.
        let mut second = vec![false; n];
        let mut pc = 0;
        while pc < n {
            let i = Insn::decode(self.insns[pc]);
            if i.code == bpf::LD | bpf::IMM | bpf::DW {
                if pc + 1 >= n {
                    return Err(JitError::BadProgram {
                        pc,
                        what: "truncated LD_IMM64",
                    });
                }
                second[pc + 1] = true;
                pc += 2;
            } else {
                pc += 1;
            }
        }
        let last = Insn::decode(self.insns[n - 1]);
        if second[n - 1] || (last.code != bpf::JMP | bpf::EXIT && last.code != bpf::JMP | bpf::JA) {
            return Err(JitError::BadProgram {
                pc: n - 1,
                what: "last instruction is not EXIT or JA",
            });
        }

        self.prologue();
        let mut pc = 0;
        while pc < n {
            self.offsets[pc] = self.code.len() as u32;
            let i = Insn::decode(self.insns[pc]);
            if i.dst > 10 || i.src > 10 {
                return Err(JitError::BadProgram {
                    pc,
                    what: "bad register",
                });
            }
            match i.code & 7 {
                bpf::ALU | bpf::ALU64 => self.alu(pc, i)?,
                bpf::JMP | bpf::JMP32 => self.jmp(pc, i, &second)?,
                bpf::LDX | bpf::ST | bpf::STX => self.mem(pc, i)?,
                bpf::LD => {
                    if i.code != bpf::LD | bpf::IMM | bpf::DW {
                        // LD_ABS / LD_IND and friends.
                        return Err(JitError::Unsupported { pc, opcode: i.code });
                    }
                    let hi = Insn::decode(self.insns[pc + 1]);
                    if hi.code != 0 || hi.dst != 0 || hi.src != 0 || hi.off != 0 {
                        return Err(JitError::BadProgram {
                            pc,
                            what: "bad LD_IMM64 second slot",
                        });
                    }
                    if i.src != 0 {
                        return Err(JitError::Unsupported { pc, opcode: i.code });
                    }
                    if i.off != 0 {
                        return Err(JitError::BadProgram {
                            pc,
                            what: "reserved field set",
                        });
                    }
                    if i.dst == 10 {
                        return Err(JitError::BadProgram {
                            pc,
                            what: "write to r10",
                        });
                    }
                    let v = u64::from(i.imm as u32) | (u64::from(hi.imm as u32) << 32);
                    self.mov_imm64(REG[usize::from(i.dst)], v);
                    pc += 1;
                    self.offsets[pc] = self.code.len() as u32;
                }
                _ => unreachable!(),
            }
            pc += 1;
        }
        for &(at, target) in &self.fixups {
            let rel = i64::from(self.offsets[target]) - (at as i64 + 4);
            let rel = i32::try_from(rel).map_err(|_| JitError::BadProgram {
                pc: target,
                what: "jump exceeds rel32",
            })?;
            self.code[at..at + 4].copy_from_slice(&rel.to_le_bytes());
        }
        if self.code.len() > i32::MAX as usize {
            return Err(JitError::BadProgram {
                pc: 0,
                what: "program too large",
            });
        }
        Ok(self.code)
    }

    fn alu(&mut self, pc: usize, i: Insn) -> R<()> {
        let w = i.code & 7 == bpf::ALU64;
        let op = i.code & 0xf0;
        let x = i.code & bpf::X != 0;
        let bad = |what| Err(JitError::BadProgram { pc, what });
        let unsupported = Err(JitError::Unsupported { pc, opcode: i.code });
        if i.dst == 10 {
            return bad("write to r10");
        }
        let dst = REG[usize::from(i.dst)];
        let src = REG[usize::from(i.src)];
        if op == bpf::MOV && x && w && matches!(i.off, 8 | 16 | 32) {
            // cpuv4 MOVSX, 64-bit: movsx r64, r8 / r16; movsxd r64, r32 (REX.W always:
            // it also selects sil/dil/spl/bpl as byte registers).
            if i.imm != 0 {
                return bad("reserved field set");
            }
            self.rex(true, dst, src, false);
            match i.off {
                8 => self.bytes(&[0x0f, 0xbe]),
                16 => self.bytes(&[0x0f, 0xbf]),
                _ => self.b(0x63),
            }
            self.modrm_reg(dst, src);
            return Ok(());
        }
        if i.off != 0 {
            // cpuv4 sdiv/smod and the other movsx forms use `off`; nothing else may.
            return if matches!(op, bpf::DIV | bpf::MOD | bpf::MOV) {
                unsupported
            } else {
                bad("reserved field set")
            };
        }
        if op == bpf::END {
            if w {
                return unsupported; // cpuv4 unconditional bswap
            }
            if i.src != 0 {
                return bad("reserved field set");
            }
            return self.endian(pc, dst, x, i.imm);
        }
        if op == bpf::NEG {
            if x || i.src != 0 || i.imm != 0 {
                return bad("reserved field set");
            }
            self.rex(w, 0, dst, false);
            self.b(0xf7);
            self.modrm_reg(3, dst);
            return Ok(());
        }
        if x && i.imm != 0 || !x && i.src != 0 {
            return bad("reserved field set");
        }
        match op {
            bpf::ADD | bpf::SUB | bpf::OR | bpf::AND | bpf::XOR => {
                let (rr_op, ext) = match op {
                    bpf::ADD => (0x01, 0),
                    bpf::SUB => (0x29, 5),
                    bpf::OR => (0x09, 1),
                    bpf::AND => (0x21, 4),
                    _ => (0x31, 6),
                };
                if x {
                    self.rr(rr_op, w, dst, src);
                } else {
                    self.alu_imm(ext, w, dst, i.imm);
                }
            }
            bpf::MOV => {
                if x {
                    self.mov_rr(w, dst, src);
                } else {
                    self.mov_imm32(dst, i.imm, w);
                }
            }
            bpf::MUL => {
                if x {
                    // imul dst, src
                    self.rex(w, dst, src, false);
                    self.bytes(&[0x0f, 0xaf]);
                    self.modrm_reg(dst, src);
                } else {
                    // imul dst, dst, imm (the low 32/64 bits are sign-agnostic)
                    self.rex(w, dst, dst, false);
                    if let Ok(b) = i8::try_from(i.imm) {
                        self.b(0x6b);
                        self.modrm_reg(dst, dst);
                        self.b(b as u8);
                    } else {
                        self.b(0x69);
                        self.modrm_reg(dst, dst);
                        self.imm32(i.imm);
                    }
                }
            }
            bpf::LSH | bpf::RSH | bpf::ARSH => {
                let ext = match op {
                    bpf::LSH => 4,
                    bpf::RSH => 5,
                    _ => 7,
                };
                if x {
                    self.shift_reg(ext, w, dst, src);
                } else {
                    let count = (i.imm as u32) & if w { 63 } else { 31 };
                    if count == 0 {
                        if !w {
                            self.mov_rr(false, dst, dst); // still zero-extends
                        }
                    } else {
                        self.rex(w, 0, dst, false);
                        self.b(0xc1);
                        self.modrm_reg(ext, dst);
                        self.b(count as u8);
                    }
                }
            }
            bpf::DIV | bpf::MOD => self.divmod(w, op == bpf::MOD, dst, x.then_some(src), i.imm),
            _ => return unsupported,
        }
        Ok(())
    }

    /// Variable shift: x86 takes the count in CL, and eBPF r4 lives in rcx.
    fn shift_reg(&mut self, ext: u8, w: bool, dst: u8, src: u8) {
        let shift = |c: &mut Self, reg: u8| {
            c.rex(w, 0, reg, false);
            c.b(0xd3);
            c.modrm_reg(ext, reg);
        };
        if src == RCX {
            shift(self, dst);
        } else if dst == RCX {
            self.mov_rr(true, R11, RCX);
            self.mov_rr(true, RCX, src);
            shift(self, R11);
            self.mov_rr(w, RCX, R11);
        } else {
            self.mov_rr(true, R11, RCX);
            self.mov_rr(true, RCX, src);
            shift(self, dst);
            self.mov_rr(true, RCX, R11);
        }
    }

    /// Unsigned DIV/MOD with the kernel's run-time semantics for a zero divisor.
    fn divmod(&mut self, w: bool, is_mod: bool, dst: u8, src: Option<u8>, imm: i32) {
        // Divisor -> r11.
        match src {
            None if imm == 0 => {
                if !is_mod {
                    self.rr(0x31, false, dst, dst);
                } else if !w {
                    self.mov_rr(false, dst, dst);
                }
                return;
            }
            None => self.mov_imm32(R11, imm, w),
            Some(s) => self.mov_rr(w, R11, s),
        }
        let mut skip_zero = None;
        let mut to_end = None;
        if src.is_some() {
            self.rr(0x85, w, R11, R11); // test r11, r11
            if is_mod && w {
                to_end = Some(self.jmp8(CC_E));
            } else {
                skip_zero = Some(self.jmp8(CC_NE));
                if is_mod {
                    self.mov_rr(false, dst, dst);
                } else {
                    self.rr(0x31, false, dst, dst);
                }
                to_end = Some(self.jmp8(0xff));
            }
        }
        if let Some(at) = skip_zero {
            self.patch8(at);
        }
        // r9 = rax, r10 = rdx, rax = dst, edx = 0; div r11; r11 = result;
        // restore rax/rdx; dst = r11.
        self.mov_rr(true, R9, RAX);
        self.mov_rr(true, R10, RDX);
        if dst != RAX {
            self.mov_rr(true, RAX, dst);
        }
        self.rr(0x31, false, RDX, RDX);
        self.rex(w, 0, R11, false);
        self.b(0xf7);
        self.modrm_reg(6, R11); // div r11
        self.mov_rr(true, R11, if is_mod { RDX } else { RAX });
        self.mov_rr(true, RAX, R9);
        self.mov_rr(true, RDX, R10);
        self.mov_rr(true, dst, R11);
        if let Some(at) = to_end {
            self.patch8(at);
        }
    }

    fn endian(&mut self, pc: usize, dst: u8, to_be: bool, imm: i32) -> R<()> {
        match (to_be, imm) {
            (false, 16) => self.movzx16(dst),
            (false, 32) => self.mov_rr(false, dst, dst),
            (false, 64) => {}
            (true, 16) => {
                // rol dst16, 8; movzx dst32, dst16
                self.b(0x66);
                self.rex(false, 0, dst, false);
                self.b(0xc1);
                self.modrm_reg(0, dst);
                self.b(8);
                self.movzx16(dst);
            }
            (true, 32 | 64) => {
                self.rex(imm == 64, 0, dst, false);
                self.b(0x0f);
                self.b(0xc8 + (dst & 7));
            }
            _ => {
                return Err(JitError::BadProgram {
                    pc,
                    what: "bad bpf::END width",
                })
            }
        }
        Ok(())
    }

    fn movzx16(&mut self, r: u8) {
        self.rex(false, r, r, false);
        self.bytes(&[0x0f, 0xb7]);
        self.modrm_reg(r, r);
    }

    fn mem(&mut self, pc: usize, i: Insn) -> R<()> {
        let class = i.code & 7;
        let mode = i.code & 0xe0;
        let size = i.code & 0x18;
        if mode != bpf::MEM && !(mode == bpf::MEMSX && class == bpf::LDX && size != bpf::DW) {
            // Atomics, ...
            return Err(JitError::Unsupported { pc, opcode: i.code });
        }
        let disp = i32::from(i.off);
        let dst = REG[usize::from(i.dst)];
        let src = REG[usize::from(i.src)];
        let bad = |what| Err(JitError::BadProgram { pc, what });
        match class {
            bpf::LDX => {
                if i.dst == 10 {
                    return bad("write to r10");
                }
                if i.imm != 0 {
                    return bad("reserved field set");
                }
                match (size, mode == bpf::MEMSX) {
                    (bpf::B | bpf::H, false) => {
                        self.rex(false, dst, src, false);
                        self.bytes(&[0x0f, if size == bpf::B { 0xb6 } else { 0xb7 }]);
                    }
                    // movsx r64, r/m8 / r/m16
                    (bpf::B | bpf::H, true) => {
                        self.rex(true, dst, src, false);
                        self.bytes(&[0x0f, if size == bpf::B { 0xbe } else { 0xbf }]);
                    }
                    // movsxd r64, r/m32
                    (_, true) => {
                        self.rex(true, dst, src, false);
                        self.b(0x63);
                    }
                    _ => {
                        self.rex(size == bpf::DW, dst, src, false);
                        self.b(0x8b);
                    }
                }
                self.modrm_mem(dst, src, disp);
            }
            bpf::STX => {
                if i.imm != 0 {
                    return bad("reserved field set");
                }
                match size {
                    bpf::B => {
                        self.rex(false, src, dst, (4..8).contains(&src));
                        self.b(0x88);
                    }
                    bpf::H => {
                        self.b(0x66);
                        self.rex(false, src, dst, false);
                        self.b(0x89);
                    }
                    _ => {
                        self.rex(size == bpf::DW, src, dst, false);
                        self.b(0x89);
                    }
                }
                self.modrm_mem(src, dst, disp);
            }
            _ => {
                if i.src != 0 {
                    return bad("reserved field set");
                }
                match size {
                    bpf::B => {
                        self.rex(false, 0, dst, false);
                        self.b(0xc6);
                        self.modrm_mem(0, dst, disp);
                        self.b(i.imm as u8);
                    }
                    bpf::H => {
                        self.b(0x66);
                        self.rex(false, 0, dst, false);
                        self.b(0xc7);
                        self.modrm_mem(0, dst, disp);
                        self.bytes(&(i.imm as u16).to_le_bytes());
                    }
                    _ => {
                        self.rex(size == bpf::DW, 0, dst, false);
                        self.b(0xc7);
                        self.modrm_mem(0, dst, disp);
                        self.imm32(i.imm);
                    }
                }
            }
        }
        Ok(())
    }

    fn jmp(&mut self, pc: usize, i: Insn, second: &[bool]) -> R<()> {
        let w = i.code & 7 == bpf::JMP;
        let op = i.code & 0xf0;
        let x = i.code & bpf::X != 0;
        let bad = |what| Err(JitError::BadProgram { pc, what });
        let unsupported = Err(JitError::Unsupported { pc, opcode: i.code });
        match op {
            bpf::EXIT => {
                if !w || x {
                    return unsupported;
                }
                if i.dst != 0 || i.src != 0 || i.off != 0 || i.imm != 0 {
                    return bad("reserved field set");
                }
                self.epilogue();
                return Ok(());
            }
            bpf::CALL => {
                if !w || x || i.src != 0 {
                    // bpf-to-bpf (src 1), kfunc (src 2), JMP32 CALL.
                    return unsupported;
                }
                if i.dst != 0 || i.off != 0 {
                    return bad("reserved field set");
                }
                let Some(addr) = (self.helper)(i.imm) else {
                    return bad("unknown helper");
                };
                let end = self.base.wrapping_add(self.code.len() + 5);
                let rel = (addr as i64).wrapping_sub(end as i64);
                match i32::try_from(rel) {
                    Ok(rel) if self.base != 0 => {
                        self.b(0xe8);
                        self.imm32(rel);
                    }
                    _ => {
                        self.rex(true, 0, R11, false);
                        self.b(0xb8 + (R11 & 7));
                        self.bytes(&(addr as u64).to_le_bytes());
                        self.bytes(&[0x41, 0xff, 0xd3]); // call r11
                    }
                }
                return Ok(());
            }
            bpf::JA if !w => return unsupported, // cpuv4 gotol
            bpf::JA | bpf::JEQ | bpf::JNE | bpf::JSET | bpf::JGT | bpf::JGE | bpf::JLT | bpf::JLE
            | bpf::JSGT | bpf::JSGE | bpf::JSLT | bpf::JSLE => {}
            _ => return unsupported,
        }
        let target = pc as i64 + 1 + i64::from(i.off);
        if target < 0 || target >= self.insns.len() as i64 || second[target as usize] {
            return bad("jump target out of range");
        }
        let target = target as usize;
        if op == bpf::JA {
            if x || i.dst != 0 || i.src != 0 || i.imm != 0 {
                return bad("reserved field set");
            }
            if target == pc + 1 {
                // A jump to the next instruction: nothing (the kernel's JIT drops these
                // too; the lowering leaves them where a jump's target came right after).
                return Ok(());
            }
            self.b(0xe9);
        } else {
            let cc = match op {
                bpf::JEQ => CC_E,
                bpf::JNE | bpf::JSET => CC_NE,
                bpf::JGT => CC_A,
                bpf::JGE => CC_AE,
                bpf::JLT => CC_B,
                bpf::JLE => CC_BE,
                bpf::JSGT => CC_G,
                bpf::JSGE => CC_GE,
                bpf::JSLT => CC_L,
                _ => CC_LE, // bpf::JSLE
            };
            let dst = REG[usize::from(i.dst)];
            let src = REG[usize::from(i.src)];
            if x {
                if i.imm != 0 {
                    return bad("reserved field set");
                }
                // cmp dst, src / test dst, src
                self.rr(if op == bpf::JSET { 0x85 } else { 0x39 }, w, dst, src);
            } else {
                if i.src != 0 {
                    return bad("reserved field set");
                }
                if op == bpf::JSET {
                    self.rex(w, 0, dst, false);
                    self.b(0xf7);
                    self.modrm_reg(0, dst);
                    self.imm32(i.imm);
                } else if i.imm == 0 && matches!(op, bpf::JEQ | bpf::JNE) {
                    self.rr(0x85, w, dst, dst);
                } else {
                    self.alu_imm(7, w, dst, i.imm);
                }
            }
            self.b(0x0f);
            self.b(0x80 | cc);
        }
        self.fixups.push((self.code.len(), target));
        self.imm32(0);
        Ok(())
    }
}
