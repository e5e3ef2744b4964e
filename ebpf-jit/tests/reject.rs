//! Programs the JIT must refuse (with an error, never a panic or bad code).

mod common;
use common::*;
use ebpf_jit::{JitArena, JitError};

fn compile(p: &[u64]) -> Result<(), JitError> {
    let mut a = JitArena::new(1 << 16).unwrap();
    a.compile(p, &no_helper).map(|_| ())
}

fn bad(p: &[u64]) -> (usize, &'static str) {
    match compile(p) {
        Err(JitError::BadProgram { pc, what }) => (pc, what),
        other => panic!("expected BadProgram, got {other:?}"),
    }
}

fn unsupported(p: &[u64]) -> (usize, u8) {
    match compile(p) {
        Err(JitError::Unsupported { pc, opcode }) => (pc, opcode),
        other => panic!("expected Unsupported, got {other:?}"),
    }
}

#[test]
fn bad_registers() {
    assert_eq!(bad(&[insn(ALU64 | MOV | K, 11, 0, 0, 1), exit()]).0, 0);
    assert_eq!(
        bad(&[mov64_imm(0, 0), insn(ALU64 | ADD | X, 0, 15, 0, 0), exit()]).0,
        1
    );
    assert_eq!(bad(&[insn(LDX | MEM | DW, 0, 12, 0, 0), exit()]).0, 0);
    // r10 is read-only.
    assert_eq!(bad(&[insn(ALU64 | MOV | K, 10, 0, 0, 1), exit()]).0, 0);
    assert_eq!(bad(&[insn(ALU | ADD | X, 10, 1, 0, 0), exit()]).0, 0);
    assert_eq!(bad(&[insn(LDX | MEM | W, 10, 1, 0, 0), exit()]).0, 0);
    assert_eq!(bad(&prog(&[&ld_imm64(10, 5), &[exit()]])).0, 0);
    // But it is a fine source and memory base.
    compile(&[insn(STX | MEM | DW, 10, 10, -8, 0), mov64(0, 10), exit()]).unwrap();
}

#[test]
fn bad_jumps() {
    // Out of range forwards and backwards.
    assert_eq!(bad(&[insn(JMP | JA, 0, 0, 1, 0), exit()]).0, 0);
    assert_eq!(
        bad(&[mov64_imm(0, 0), insn(JMP | JEQ | K, 0, 0, -3, 0), exit()]).0,
        1
    );
    assert_eq!(
        bad(&[mov64_imm(0, 0), insn(JMP32 | JNE | X, 0, 2, 5, 0), exit()]).0,
        1
    );
    // Onto the second half of an LD_IMM64.
    let p = prog(&[&[insn(JMP | JA, 0, 0, 1, 0)], &ld_imm64(0, 1), &[exit()]]);
    assert_eq!(bad(&p).0, 0);
    let p = prog(&[&ld_imm64(0, 1), &[insn(JMP | JGT | K, 0, 0, -2, 0), exit()]]);
    assert_eq!(bad(&p).0, 2);
    // The first half is a fine target.
    let p = prog(&[&[insn(JMP | JA, 0, 0, 0, 0)], &ld_imm64(0, 1), &[exit()]]);
    compile(&p).unwrap();
}

#[test]
fn must_end_with_exit_or_ja() {
    assert!(matches!(bad(&[]), (0, _)));
    assert_eq!(bad(&[mov64_imm(0, 0)]).0, 0);
    assert_eq!(
        bad(&[mov64_imm(0, 0), insn(JMP | JEQ | K, 0, 0, -2, 0)]).0,
        1
    );
    // An LD_IMM64 cut in half, or as the last instruction.
    assert_eq!(bad(&[exit(), ld_imm64(0, 1)[0]]).0, 1);
    assert_eq!(bad(&prog(&[&[exit()], &ld_imm64(0, 1)])).0, 2);
    // JA backwards as the last instruction is fine (an infinite loop, not run here).
    compile(&[mov64_imm(0, 0), insn(JMP | JA, 0, 0, -2, 0)]).unwrap();
}

#[test]
fn unknown_and_unsupported_opcodes() {
    // Class LD other than LD_IMM64: LD_ABS / LD_IND.
    assert_eq!(
        unsupported(&[insn(LD | ABS | W, 0, 0, 0, 0), exit()]),
        (0, LD | ABS | W)
    );
    assert_eq!(unsupported(&[insn(LD | IND | B, 0, 1, 0, 0), exit()]).0, 0);
    // LD_IMM64 with a pseudo source (map fd etc.).
    let mut p = prog(&[&ld_imm64(0, 1), &[exit()]]);
    p[0] |= 1 << 12;
    assert_eq!(unsupported(&p).0, 0);
    // Atomics; MEMSX of 8 bytes (there is none) and in a store class.
    assert_eq!(
        unsupported(&[insn(STX | ATOMIC | DW, 1, 2, 0, 0), exit()]).0,
        0
    );
    assert_eq!(
        unsupported(&[insn(LDX | MEMSX | DW, 0, 1, 0, 0), exit()]).0,
        0
    );
    assert_eq!(
        unsupported(&[insn(STX | MEMSX | W, 1, 0, 0, 0), exit()]).0,
        0
    );
    // Signed division; MOVSX other than the 64-bit forms from 8, 16 and 32 bits.
    assert_eq!(
        unsupported(&[insn(ALU64 | DIV | X, 0, 2, 1, 0), exit()]).0,
        0
    );
    assert_eq!(unsupported(&[insn(ALU | MOD | K, 0, 0, 1, 3), exit()]).0, 0);
    assert_eq!(
        unsupported(&[insn(ALU | MOV | X, 0, 2, 8, 0), exit()]).0,
        0
    );
    assert_eq!(
        unsupported(&[insn(ALU64 | MOV | X, 0, 2, 24, 0), exit()]).0,
        0
    );
    // BSWAP (ALU64 END), unknown ALU ops 0xe0 / 0xf0.
    assert_eq!(unsupported(&[insn(ALU64 | END, 0, 0, 0, 16), exit()]).0, 0);
    assert_eq!(
        unsupported(&[insn(ALU64 | 0xe0, 0, 0, 0, 0), exit()]),
        (0, 0xe7)
    );
    assert_eq!(
        unsupported(&[insn(ALU | 0xf0 | X, 0, 1, 0, 0), exit()]).0,
        0
    );
    // Tail call / bpf-to-bpf / kfunc calls, JMP32 JA (gotol), unknown jump ops.
    assert_eq!(unsupported(&[insn(JMP | CALL, 0, 1, 0, 1), exit()]).0, 0);
    assert_eq!(unsupported(&[insn(JMP | CALL, 0, 2, 0, 1), exit()]).0, 0);
    assert_eq!(unsupported(&[insn(JMP32 | JA, 0, 0, 0, 0), exit()]).0, 0);
    assert_eq!(unsupported(&[insn(JMP | 0xe0, 0, 0, 0, 0), exit()]).0, 0);
    assert_eq!(unsupported(&[insn(JMP | 0xf0, 0, 0, 0, 0), exit()]).0, 0);
    assert_eq!(unsupported(&[insn(JMP32 | EXIT, 0, 0, 0, 0), exit()]).0, 0);
    // Bad END width, reserved fields, unknown helper.
    assert_eq!(bad(&[insn(ALU | END | TO_BE, 0, 0, 0, 8), exit()]).0, 0);
    assert_eq!(bad(&[insn(ALU64 | ADD | K, 0, 3, 0, 1), exit()]).0, 0);
    assert_eq!(bad(&[insn(ALU64 | ADD | X, 0, 3, 0, 1), exit()]).0, 0);
    assert_eq!(bad(&[insn(JMP | CALL, 0, 0, 0, 1), exit()]).0, 0);
    assert_eq!(bad(&[insn(JMP | EXIT, 0, 0, 0, 1)]).0, 0);
}

/// Every possible opcode byte with zeroed fields either compiles or is refused; none
/// panics.
#[test]
fn every_opcode_byte() {
    let mut a = JitArena::new(1 << 20).unwrap();
    for code in 0..=255u8 {
        for (dst, src, off, imm) in [
            (0, 0, 0, 0),
            (1, 2, 1, 16),
            (10, 10, -1, -1),
            (15, 15, 0, 64),
        ] {
            let p = [insn(code, dst, src, off, imm), exit(), exit()];
            match a.compile(&p, &|_| Some(0x1000)) {
                Ok(_) | Err(JitError::BadProgram { .. } | JitError::Unsupported { .. }) => {}
                Err(JitError::Full) => unsafe_reset(&mut a),
                Err(e) => panic!("{e}"),
            }
        }
    }
}

fn unsafe_reset(a: &mut JitArena) {
    // SAFETY: nothing compiled here is ever called.
    unsafe { a.reset() }
}

#[test]
fn full_arena() {
    let mut a = JitArena::new(256).unwrap();
    let p = [mov64_imm(0, 1), exit()];
    let mut n = 0;
    loop {
        match a.compile(&p, &no_helper) {
            Ok(f) => {
                n += 1;
                // SAFETY: a register-only program.
                assert_eq!(unsafe { f(std::ptr::null_mut()) }, 1);
            }
            Err(JitError::Full) => break,
            Err(e) => panic!("{e}"),
        }
        assert!(n < 100);
    }
    assert!(n >= 2, "{n}");
    assert!(a.used() <= a.capacity());
    // A program larger than the whole arena.
    let big: Vec<u64> = std::iter::repeat_n(mov64_imm(0, 1), 100)
        .chain([exit()])
        .collect();
    unsafe_reset(&mut a);
    assert!(matches!(a.compile(&big, &no_helper), Err(JitError::Full)));
    // A bad program is reported as such even when full.
    assert!(matches!(
        a.compile(&[mov64_imm(11, 0), exit()], &no_helper),
        Err(JitError::BadProgram { .. })
    ));
    // After a reset, small programs fit again.
    let f = a.compile(&p, &no_helper).unwrap();
    // SAFETY: as above.
    assert_eq!(unsafe { f(std::ptr::null_mut()) }, 1);
    // Errors display.
    assert!(JitError::Full.to_string().contains("full"));
}
