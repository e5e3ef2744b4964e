//! Hand-written programs per instruction group, checked against the eBPF spec
//! (Documentation/bpf/standardization/instruction-set.rst) with the kernel's run-time
//! semantics for the corner cases (division by zero, shift counts masked).

mod common;
use common::*;

/// The spec's ALU semantics. `b` is the source operand already extended as the spec says
/// (BPF_K: imm sign-extended to 64 bits for ALU64, the 32-bit imm for ALU).
fn alu_model(op: u8, w64: bool, a: u64, b: u64) -> u64 {
    if w64 {
        match op {
            ADD => a.wrapping_add(b),
            SUB => a.wrapping_sub(b),
            MUL => a.wrapping_mul(b),
            DIV => a.checked_div(b).unwrap_or(0),
            MOD => a.checked_rem(b).unwrap_or(a),
            OR => a | b,
            AND => a & b,
            XOR => a ^ b,
            LSH => a << (b & 63),
            RSH => a >> (b & 63),
            ARSH => ((a as i64) >> (b & 63)) as u64,
            MOV => b,
            NEG => (a as i64).wrapping_neg() as u64,
            _ => unreachable!(),
        }
    } else {
        let (a, b) = (a as u32, b as u32);
        u64::from(match op {
            ADD => a.wrapping_add(b),
            SUB => a.wrapping_sub(b),
            MUL => a.wrapping_mul(b),
            DIV => a.checked_div(b).unwrap_or(0),
            MOD => a.checked_rem(b).unwrap_or(a),
            OR => a | b,
            AND => a & b,
            XOR => a ^ b,
            LSH => a << (b & 31),
            RSH => a >> (b & 31),
            ARSH => ((a as i32) >> (b & 31)) as u32,
            MOV => b,
            NEG => (a as i32).wrapping_neg() as u32,
            _ => unreachable!(),
        })
    }
}

/// dst = a; src = b; dst op= src (or imm); r0 = dst; exit.
fn alu_x(r: &mut Runner, class: u8, op: u8, dst: u8, src: u8, a: u64, b: u64) -> u64 {
    let p = prog(&[
        &ld_imm64(src, b),
        &ld_imm64(dst, a),
        &[insn(class | op | X, dst, src, 0, 0), mov64(0, dst), exit()],
    ]);
    r.run(&p)
}

fn alu_k(r: &mut Runner, class: u8, op: u8, dst: u8, a: u64, imm: i32) -> u64 {
    let p = prog(&[
        &ld_imm64(dst, a),
        &[insn(class | op | K, dst, 0, 0, imm), mov64(0, dst), exit()],
    ]);
    r.run(&p)
}

const REGS: [u8; 10] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];

#[test]
fn alu_all_ops_values() {
    let mut r = Runner::new();
    let mut vals: Vec<u64> = EDGES.to_vec();
    vals.extend([
        3,
        7,
        31,
        32,
        33,
        63,
        64,
        65,
        0x1234_5678_9abc_def0,
        0xdead_beef,
    ]);
    for class in [ALU64, ALU] {
        let w = class == ALU64;
        for op in ALU_OPS_ALL {
            for &a in &vals {
                for &b in &vals {
                    let got = alu_x(&mut r, class, op, 2, 3, a, b);
                    let want = alu_model(op, w, a, b);
                    assert_eq!(got, want, "class {class:#x} op {op:#x} X {a:#x}, {b:#x}");
                    let imm = b as i32;
                    let bk = if w {
                        i64::from(imm) as u64
                    } else {
                        u64::from(imm as u32)
                    };
                    let got = alu_k(&mut r, class, op, 2, a, imm);
                    let want = alu_model(op, w, a, bk);
                    assert_eq!(got, want, "class {class:#x} op {op:#x} K {a:#x}, {imm:#x}");
                }
            }
            // NEG
            let got = alu_k(&mut r, class, NEG, 5, vals[3], 0);
            assert_eq!(got, alu_model(NEG, w, vals[3], 0));
        }
        for &a in &vals {
            assert_eq!(
                alu_k(&mut r, class, NEG, 7, a, 0),
                alu_model(NEG, w, a, 0),
                "neg {a:#x}"
            );
        }
    }
}

/// Every (dst, src) register pair, including r4 (rcx, the x86 shift count register) and
/// r0/r3 (rax/rdx, which x86 division uses), for every op.
#[test]
fn alu_all_register_pairs() {
    let mut r = Runner::new();
    let pairs = [
        (0xfedc_ba98_7654_3210u64, 37u64),
        (0x8000_0000_0000_0001, 0x41),
        (0x1234_5678_8765_4321, 0),
        (5, u64::MAX),
    ];
    for class in [ALU64, ALU] {
        let w = class == ALU64;
        for op in ALU_OPS_ALL {
            for dst in REGS {
                for src in REGS {
                    for &(a, b) in &pairs {
                        let got = alu_x(&mut r, class, op, dst, src, a, b);
                        let b_eff = if dst == src { a } else { b };
                        let want = alu_model(op, w, a, b_eff);
                        assert_eq!(
                            got, want,
                            "class {class:#x} op {op:#x} r{dst} r{src} {a:#x} {b:#x}"
                        );
                    }
                }
            }
        }
    }
}

/// The source register must survive every op (in particular shifts that borrow rcx and
/// divisions that borrow rax/rdx).
#[test]
fn alu_preserves_other_registers() {
    let mut r = Runner::new();
    for class in [ALU64, ALU] {
        for op in ALU_OPS_ALL {
            for dst in REGS {
                for src in REGS {
                    if dst == src {
                        continue;
                    }
                    // Set every register r0..r9 to a distinct value, run the op, then
                    // fold every register except dst into r0 with a checksum.
                    let mut p = Vec::new();
                    for reg in REGS {
                        p.extend(ld_imm64(
                            reg,
                            0x1111_0000_0000_0101u64.wrapping_mul(u64::from(reg) + 3),
                        ));
                    }
                    p.push(insn(class | op | X, dst, src, 0, 0));
                    // Fold into the stack: store all registers but dst, then sum them.
                    for reg in REGS {
                        if reg != dst {
                            p.push(insn(STX | MEM | DW, 10, reg, -8 * (i16::from(reg) + 1), 0));
                        }
                    }
                    p.push(mov64_imm(0, 0));
                    for reg in REGS {
                        if reg != dst {
                            p.push(insn(LDX | MEM | DW, 2, 10, -8 * (i16::from(reg) + 1), 0));
                            p.push(insn(ALU64 | MUL | K, 0, 0, 0, 31));
                            p.push(insn(ALU64 | ADD | X, 0, 2, 0, 0));
                        }
                    }
                    p.push(exit());
                    let mut want = 0u64;
                    for reg in REGS {
                        if reg != dst {
                            let v = 0x1111_0000_0000_0101u64.wrapping_mul(u64::from(reg) + 3);
                            want = want.wrapping_mul(31).wrapping_add(v);
                        }
                    }
                    assert_eq!(r.run(&p), want, "class {class:#x} op {op:#x} r{dst} r{src}");
                }
            }
        }
    }
}

#[test]
fn alu_literals() {
    let mut r = Runner::new();
    // 32-bit results are zero-extended.
    assert_eq!(alu_k(&mut r, ALU, ADD, 0, u64::MAX, 1), 0);
    assert_eq!(alu_k(&mut r, ALU, MOV, 0, u64::MAX, -1), 0xffff_ffff);
    assert_eq!(alu_k(&mut r, ALU64, MOV, 0, 0, -1), u64::MAX);
    assert_eq!(alu_k(&mut r, ALU64, ADD, 0, 1, -2), u64::MAX);
    assert_eq!(
        alu_k(&mut r, ALU64, AND, 0, u64::MAX, -256),
        0xffff_ffff_ffff_ff00
    );
    assert_eq!(
        alu_k(&mut r, ALU, ARSH, 0, 0xffff_ffff_8000_0000, 4),
        0xf800_0000
    );
    assert_eq!(
        alu_k(&mut r, ALU64, ARSH, 0, 0x8000_0000_0000_0000, 63),
        u64::MAX
    );
    assert_eq!(alu_k(&mut r, ALU, NEG, 0, 1, 0), 0xffff_ffff);
    assert_eq!(alu_k(&mut r, ALU64, NEG, 0, 1, 0), u64::MAX);
    assert_eq!(alu_k(&mut r, ALU64, MUL, 0, 3, -3), (-9i64) as u64);
    assert_eq!(alu_k(&mut r, ALU, MUL, 0, 0x1_0000_0003, -3), 0xffff_fff7);
    // A 32-bit shift by 0 still zero-extends.
    assert_eq!(alu_k(&mut r, ALU, LSH, 0, 0xffff_ffff_0000_0001, 0), 1);
    assert_eq!(alu_x(&mut r, ALU, LSH, 0, 2, 0xffff_ffff_0000_0001, 32), 1);
    assert_eq!(alu_x(&mut r, ALU, RSH, 4, 2, 0xffff_ffff_0000_0001, 64), 1);
    // Shift counts are masked (x86 semantics, which the kernel JIT has).
    assert_eq!(alu_x(&mut r, ALU64, LSH, 0, 4, 1, 65), 2);
    assert_eq!(alu_x(&mut r, ALU, LSH, 4, 4, 33, 0), 66); // 33 << (33 & 31)
    assert_eq!(alu_x(&mut r, ALU64, RSH, 4, 0, 0x100, 68), 0x10);
    // Unsigned division.
    assert_eq!(alu_k(&mut r, ALU64, DIV, 0, u64::MAX, 2), u64::MAX / 2);
    assert_eq!(alu_k(&mut r, ALU64, DIV, 0, u64::MAX, -1), 1); // imm sign-extended
    assert_eq!(alu_k(&mut r, ALU, DIV, 0, u64::MAX, -1), 1);
    assert_eq!(alu_k(&mut r, ALU, DIV, 0, 0xffff_fffe, -1), 0);
    assert_eq!(alu_k(&mut r, ALU64, MOD, 0, 100, 7), 2);
    assert_eq!(alu_k(&mut r, ALU, MOD, 0, 0x1_0000_0064, 7), 2);
}

#[test]
fn div_mod_by_zero() {
    let mut r = Runner::new();
    let a = 0xdead_beef_1234_5678u64;
    for (dst, src) in [(0, 3), (3, 0), (2, 4), (4, 2), (6, 9)] {
        // DIV by 0 gives 0.
        assert_eq!(alu_x(&mut r, ALU64, DIV, dst, src, a, 0), 0);
        assert_eq!(alu_x(&mut r, ALU, DIV, dst, src, a, 0), 0);
        // ALU32 only looks at the low 32 bits of the divisor.
        assert_eq!(alu_x(&mut r, ALU, DIV, dst, src, a, 0x7_0000_0000), 0);
        // MOD by 0: ALU64 leaves dst unchanged, ALU32 zero-extends its low 32 bits.
        assert_eq!(alu_x(&mut r, ALU64, MOD, dst, src, a, 0), a);
        assert_eq!(alu_x(&mut r, ALU, MOD, dst, src, a, 0), 0x1234_5678);
        assert_eq!(
            alu_x(&mut r, ALU, MOD, dst, src, a, 0x7_0000_0000),
            0x1234_5678
        );
    }
    assert_eq!(alu_k(&mut r, ALU64, DIV, 5, a, 0), 0);
    assert_eq!(alu_k(&mut r, ALU, DIV, 5, a, 0), 0);
    assert_eq!(alu_k(&mut r, ALU64, MOD, 5, a, 0), a);
    assert_eq!(alu_k(&mut r, ALU, MOD, 5, a, 0), 0x1234_5678);
}

#[test]
fn endian() {
    let mut r = Runner::new();
    let v = 0x0102_0304_0506_0708u64;
    let cases = [
        (TO_LE, 16, 0x0708),
        (TO_LE, 32, 0x0506_0708),
        (TO_LE, 64, v),
        (TO_BE, 16, 0x0807),
        (TO_BE, 32, 0x0807_0605),
        (TO_BE, 64, 0x0807_0605_0403_0201),
    ];
    for dst in REGS {
        for (kind, width, want) in cases {
            let p = prog(&[
                &ld_imm64(dst, v),
                &[
                    insn(ALU | END | kind, dst, 0, 0, width),
                    mov64(0, dst),
                    exit(),
                ],
            ]);
            assert_eq!(r.run(&p), want, "r{dst} {kind:#x} {width}");
        }
    }
}

#[test]
fn ld_imm64_values() {
    let mut r = Runner::new();
    for dst in REGS {
        for v in EDGES.iter().copied().chain([
            0x1234_5678_9abc_def0,
            0x7fff_ffff,
            0x8000_0000,
            0xffff_ffff_0000_0000,
        ]) {
            let p = prog(&[&ld_imm64(dst, v), &[mov64(0, dst), exit()]]);
            assert_eq!(r.run(&p), v, "r{dst} {v:#x}");
        }
    }
}

fn jmp_model(op: u8, w64: bool, a: u64, b: u64) -> bool {
    let (a, b) = if w64 {
        (a, b)
    } else {
        (u64::from(a as u32), u64::from(b as u32))
    };
    let (sa, sb) = if w64 {
        (a as i64, b as i64)
    } else {
        (i64::from(a as u32 as i32), i64::from(b as u32 as i32))
    };
    match op {
        JEQ => a == b,
        JNE => a != b,
        JGT => a > b,
        JGE => a >= b,
        JLT => a < b,
        JLE => a <= b,
        JSET => a & b != 0,
        JSGT => sa > sb,
        JSGE => sa >= sb,
        JSLT => sa < sb,
        JSLE => sa <= sb,
        _ => unreachable!(),
    }
}

#[test]
fn jumps_all_conditions() {
    let mut r = Runner::new();
    let mut vals: Vec<u64> = EDGES.to_vec();
    vals.extend([
        0xffff_ffff_0000_0000,
        0x0000_0001_ffff_ffff,
        0x7fff_ffff_ffff_fffe,
        5,
    ]);
    for class in [JMP, JMP32] {
        let w = class == JMP;
        for op in JMP_OPS {
            for &a in &vals {
                for &b in &vals {
                    for (dst, src) in [(2u8, 3u8), (0, 4), (4, 0), (9, 6)] {
                        let p = prog(&[
                            &ld_imm64(dst, a),
                            &ld_imm64(src, b),
                            &[
                                insn(class | op | X, dst, src, 2, 0),
                                mov64_imm(0, 0),
                                exit(),
                                mov64_imm(0, 1),
                                exit(),
                            ],
                        ]);
                        let want = jmp_model(op, w, a, b);
                        // mov r0 happens after the jump, so r0 as dst/src is fine.
                        assert_eq!(
                            r.run(&p) == 1,
                            want,
                            "class {class:#x} op {op:#x} X r{dst} r{src} {a:#x} {b:#x}"
                        );
                    }
                    let imm = b as i32;
                    let bk = i64::from(imm) as u64; // sign-extended for JMP; JMP32 uses the low 32 bits
                    let p = prog(&[
                        &ld_imm64(7, a),
                        &[
                            insn(class | op | K, 7, 0, 2, imm),
                            mov64_imm(0, 0),
                            exit(),
                            mov64_imm(0, 1),
                            exit(),
                        ],
                    ]);
                    let want = jmp_model(op, w, a, bk);
                    assert_eq!(
                        r.run(&p) == 1,
                        want,
                        "class {class:#x} op {op:#x} K {a:#x} {imm:#x}"
                    );
                }
            }
        }
    }
}

#[test]
fn jump_literals() {
    let mut r = Runner::new();
    let cond = |r: &mut Runner, code: u8, a: u64, imm: i32| {
        let p = prog(&[
            &ld_imm64(2, a),
            &[
                insn(code, 2, 0, 2, imm),
                mov64_imm(0, 0),
                exit(),
                mov64_imm(0, 1),
                exit(),
            ],
        ]);
        r.run(&p) == 1
    };
    // JMP K sign-extends imm: -1 is u64::MAX.
    assert!(cond(&mut r, JMP | JEQ | K, u64::MAX, -1));
    assert!(!cond(&mut r, JMP | JEQ | K, 0xffff_ffff, -1));
    assert!(cond(&mut r, JMP32 | JEQ | K, 0xffff_ffff, -1));
    assert!(cond(&mut r, JMP | JGT | K, u64::MAX, -2));
    assert!(!cond(&mut r, JMP | JGT | K, 0xffff_ffff, -2));
    assert!(cond(&mut r, JMP | JSLT | K, i64::MIN as u64, i32::MIN));
    assert!(!cond(
        &mut r,
        JMP | JSLT | K,
        i64::from(i32::MIN) as u64,
        i32::MIN
    ));
    assert!(cond(&mut r, JMP32 | JSLT | K, 0x1_8000_0000, 0)); // low half negative
    assert!(!cond(&mut r, JMP | JSLT | K, 0x1_8000_0000, 0));
    assert!(cond(&mut r, JMP | JSET | K, 1 << 40, -1)); // sign-extended mask
    assert!(!cond(&mut r, JMP32 | JSET | K, 1 << 40, -1));
    assert!(cond(&mut r, JMP | JNE | K, 0, 1));
    assert!(!cond(&mut r, JMP | JNE | K, 0, 0));
    assert!(cond(&mut r, JMP | JLE | K, 0, 0));
    assert!(cond(&mut r, JMP32 | JGE | K, 0x5_0000_0000, 0));
    // Large immediates (not imm8).
    assert!(cond(&mut r, JMP | JEQ | K, 1000, 1000));
    assert!(cond(&mut r, JMP | JSGT | K, 1001, 1000));
}

#[test]
fn ja_and_backward_loop() {
    let mut r = Runner::new();
    // r0 = 0; r2 = 10; loop: r0 += r2; r2 -= 1; if r2 != 0 goto loop; exit
    let p = [
        mov64_imm(0, 0),
        mov64_imm(2, 10),
        insn(ALU64 | ADD | X, 0, 2, 0, 0),
        insn(ALU64 | SUB | K, 2, 0, 0, 1),
        insn(JMP | JNE | K, 2, 0, -3, 0),
        exit(),
    ];
    assert_eq!(r.run(&p), 55);
    // A long loop (and a jump over an LD_IMM64, and a JA as the last instruction).
    let p = prog(&[
        &[mov64_imm(0, 0), mov64_imm(2, 0)],
        &[insn(JMP | JA, 0, 0, 2, 0)],
        &ld_imm64(0, 0xdead),
        // loop: r0 += 3; r2 += 1; if r2 < 100000 goto loop; goto out
        &[
            insn(ALU64 | ADD | K, 0, 0, 0, 3),
            insn(ALU64 | ADD | K, 2, 0, 0, 1),
        ],
        &[
            insn(JMP | JLT | K, 2, 0, -3, 100_000),
            insn(JMP | JA, 0, 0, 1, 0),
        ],
        &[exit(), insn(JMP | JA, 0, 0, -2, 0)],
    ]);
    assert_eq!(r.run(&p), 300_000);
    // A JA to the next instruction emits nothing, also as a loop's target.
    let p = [
        mov64_imm(0, 0),
        mov64_imm(2, 5),
        insn(JMP | JA, 0, 0, 0, 0),
        insn(ALU64 | ADD | X, 0, 2, 0, 0),
        insn(JMP | JA, 0, 0, 0, 0),
        insn(ALU64 | SUB | K, 2, 0, 0, 1),
        insn(JMP | JNE | K, 2, 0, -5, 0),
        exit(),
    ];
    assert_eq!(r.run(&p), 15);
    let used = r.arena.used();
    r.run(&p);
    let with_nops = r.arena.used() - used;
    let q: Vec<u64> = p.iter().copied().filter(|&i| i != insn(JMP | JA, 0, 0, 0, 0)).collect();
    let q: Vec<u64> = q.iter().map(|&i| if i == insn(JMP | JNE | K, 2, 0, -5, 0) { insn(JMP | JNE | K, 2, 0, -3, 0) } else { i }).collect();
    assert_eq!(r.run(&q), 15);
    assert_eq!(r.arena.used() - used - with_nops, with_nops, "the same code without the JA +0");
    // JA with a large forward offset (rel32 needed) over many instructions.
    let mut p = vec![mov64_imm(0, 7), insn(JMP | JA, 0, 0, 2000, 0)];
    p.extend(std::iter::repeat_n(mov64_imm(0, 1), 2000));
    p.push(exit());
    assert_eq!(r.run(&p), 7);
}

#[test]
fn loads_stores_all_sizes_and_bases() {
    let mut r = Runner::new();
    let mut buf = [0u8; 1024];
    let init: Vec<u8> = (0..1024u32).map(|i| (i * 7 + 3) as u8).collect();
    let read = |b: &[u8], at: usize, n: usize| {
        let mut v = [0u8; 8];
        v[..n].copy_from_slice(&b[at..at + n]);
        u64::from_le_bytes(v)
    };
    let sizes = [(B, 1usize), (H, 2), (W, 4), (DW, 8)];
    let offs: [i16; 8] = [-512, -300, -129, -1, 0, 1, 127, 500];
    for base in 1..=9u8 {
        for dst in REGS {
            for (sz, n) in sizes {
                for off in offs {
                    buf.copy_from_slice(&init);
                    let ctx = buf.as_mut_ptr().wrapping_add(512);
                    // LDX
                    let p = [
                        mov64(base, 1),
                        insn(LDX | MEM | sz, dst, base, off, 0),
                        mov64(0, dst),
                        exit(),
                    ];
                    let at = (512 + i32::from(off)) as usize;
                    assert_eq!(
                        r.run_ptr(&p, ctx),
                        read(&init, at, n),
                        "ldx r{dst} [r{base}{off:+}] size {n}"
                    );
                    if dst == base || dst == 1 {
                        continue;
                    }
                    // STX
                    let v = 0x8877_6655_4433_2211u64 ^ u64::from(dst);
                    let p = prog(&[
                        &ld_imm64(dst, v),
                        &[
                            mov64(base, 1),
                            insn(STX | MEM | sz, base, dst, off, 0),
                            mov64_imm(0, 0),
                            exit(),
                        ],
                    ]);
                    r.run_ptr(&p, ctx);
                    let mut want = init.clone();
                    want[at..at + n].copy_from_slice(&v.to_le_bytes()[..n]);
                    assert_eq!(&buf[..], &want[..], "stx [r{base}{off:+}] r{dst} size {n}");
                }
            }
        }
        // ST (imm sign-extended to DW)
        for (sz, n) in sizes {
            for off in offs {
                for imm in [-2i32, 0x1234_5678, 0x80, -0x7fff_ffff] {
                    buf.copy_from_slice(&init);
                    let ctx = buf.as_mut_ptr().wrapping_add(512);
                    let p = [
                        mov64(base, 1),
                        insn(ST | MEM | sz, base, 0, off, imm),
                        mov64_imm(0, 0),
                        exit(),
                    ];
                    r.run_ptr(&p, ctx);
                    let at = (512 + i32::from(off)) as usize;
                    let mut want = init.clone();
                    want[at..at + n].copy_from_slice(&i64::from(imm).to_le_bytes()[..n]);
                    assert_eq!(&buf[..], &want[..], "st [r{base}{off:+}] {imm:#x} size {n}");
                }
            }
        }
    }
    // Byte stores of r10 (rbp: needs a REX prefix, or it would store ch) and r1/r2 (rdi, rsi).
    let mut b8 = [0u8; 8];
    let p = [
        mov64(2, 10),
        mov64(3, 1),
        insn(STX | MEM | B, 1, 10, 0, 0),
        insn(STX | MEM | B, 1, 2, 1, 0),
        insn(STX | MEM | B, 1, 1, 2, 0),
        insn(STX | MEM | B, 1, 3, 3, 0),
        insn(STX | MEM | H, 1, 10, 4, 0),
        insn(STX | MEM | H, 1, 2, 6, 0),
        mov64_imm(0, 0),
        exit(),
    ];
    r.run_ptr(&p, b8.as_mut_ptr());
    assert_eq!(b8[0], b8[1]);
    assert_eq!(b8[2], b8[3]);
    assert_eq!(b8[2], b8.as_ptr() as usize as u8);
    assert_eq!(b8[4..6], b8[6..8]);
    // Loads zero-extend into the whole register.
    let mut b8 = [0xffu8; 8];
    for (sz, want) in [(B, 0xffu64), (H, 0xffff), (W, 0xffff_ffff), (DW, u64::MAX)] {
        let p = prog(&[
            &ld_imm64(0, 0x5555_5555_5555_5555),
            &[insn(LDX | MEM | sz, 0, 1, 0, 0), exit()],
        ]);
        assert_eq!(r.run_ptr(&p, b8.as_mut_ptr()), want);
    }
}

/// BPF_MOVSX, 64-bit, from 8, 16 and 32 bits: every register pair, values with the
/// sign bit set and clear.
#[test]
fn sign_extending_moves() {
    let mut r = Runner::new();
    for bits in [8i16, 16, 32] {
        for dst in REGS {
            for src in REGS {
                for v in [0x7fu64, 0x80, 0x7fff, 0x8000, 0x7fff_ffff, 0x8000_0000, 0xfedc_ba98_7654_3210] {
                    let p = prog(&[&ld_imm64(src, v), &[insn(ALU64 | MOV | X, dst, src, bits, 0), mov64(0, dst), exit()]]);
                    let sh = 64 - bits as u32;
                    let want = ((v << sh) as i64 >> sh) as u64;
                    assert_eq!(r.run(&p), want, "movsx r{dst}, r{src} from {bits} bits of {v:#x}");
                }
            }
        }
    }
}

/// BPF_MEMSX (sign-extending loads of 1, 2 and 4 bytes), every destination and base
/// register, values with the sign bit set and clear.
#[test]
fn sign_extending_loads() {
    let mut r = Runner::new();
    for (sz, n) in [(B, 1usize), (H, 2), (W, 4)] {
        for base in 1..=9u8 {
            for dst in REGS {
                for v in [0x7fu64, 0x80, 0x7fff, 0x8000, 0x7fff_ffff, 0x8000_0000, 0x1234_5687_89ab_cdef] {
                    let mut b8 = v.to_le_bytes();
                    let p = [mov64(base, 1), insn(LDX | MEMSX | sz, dst, base, 0, 0), mov64(0, dst), exit()];
                    let bits = 8 * n as u32;
                    let want = ((v << (64 - bits)) as i64 >> (64 - bits)) as u64;
                    assert_eq!(r.run_ptr(&p, b8.as_mut_ptr()), want, "ldsx r{dst} [r{base}] size {n} of {v:#x}");
                }
            }
        }
    }
}

#[test]
fn stack_through_r10() {
    let mut r = Runner::new();
    // Store every size at the top and the bottom of the 512-byte stack, and through a
    // copy of r10, then read back.
    let p = prog(&[
        &ld_imm64(2, 0x0102_0304_0506_0708),
        &[
            insn(STX | MEM | DW, 10, 2, -8, 0),
            insn(STX | MEM | DW, 10, 2, -512, 0),
            insn(ST | MEM | W, 10, 0, -300, -5),
            insn(ST | MEM | B, 10, 0, -1, 0x7f),
            insn(ALU64 | MOV | X, 6, 10, 0, 0),
            insn(ALU64 | SUB | K, 6, 0, 0, 256),
            insn(STX | MEM | H, 6, 2, 0, 0),
            insn(LDX | MEM | DW, 3, 10, -8, 0), // 0x7f02030405060708
            insn(LDX | MEM | DW, 4, 10, -512, 0),
            insn(LDX | MEM | W, 5, 10, -300, 0),
            insn(LDX | MEM | H, 7, 10, -256, 0),
            insn(LDX | MEM | B, 8, 6, 255, 0),
            // r0 = r3 ^ r4 ^ r5 ^ r7 ^ r8
            mov64(0, 3),
            insn(ALU64 | XOR | X, 0, 4, 0, 0),
            insn(ALU64 | XOR | X, 0, 5, 0, 0),
            insn(ALU64 | XOR | X, 0, 7, 0, 0),
            insn(ALU64 | XOR | X, 0, 8, 0, 0),
            exit(),
        ],
    ]);
    let want = 0x7f02_0304_0506_0708u64 ^ 0x0102_0304_0506_0708 ^ 0xffff_fffb ^ 0x0708 ^ 0x7f;
    assert_eq!(r.run(&p), want);
}

extern "C" fn helper5(a: u64, b: u64, c: u64, d: u64, e: u64) -> u64 {
    a.wrapping_mul(1)
        .wrapping_add(b.wrapping_mul(10))
        .wrapping_add(c.wrapping_mul(100))
        .wrapping_add(d.wrapping_mul(1000))
        .wrapping_add(e.wrapping_mul(10000))
}

extern "C" fn helper_clobber(_: u64, _: u64, _: u64, _: u64, _: u64) -> u64 {
    // Uses lots of registers to exercise the callee-saved contract.
    let mut v = [0u64; 16];
    for (i, x) in v.iter_mut().enumerate() {
        *x = std::hint::black_box(i as u64 * 3);
    }
    v.iter().sum()
}

fn helpers(imm: i32) -> Option<usize> {
    match imm {
        1 => Some(helper5 as *const () as usize),
        2 => Some(helper_clobber as *const () as usize),
        _ => None,
    }
}

#[test]
fn helper_call_five_args_and_callee_saved() {
    let mut r = Runner::new();
    let p = prog(&[
        &ld_imm64(6, 0x0123_4567_89ab_cdef),
        &ld_imm64(7, 0x1111),
        &ld_imm64(8, 0x2222_0000_0000),
        &ld_imm64(9, 0x4000_0000_0000_0000),
        &[
            insn(ST | MEM | DW, 10, 0, -8, 42),
            mov64_imm(1, 1),
            mov64_imm(2, 2),
            mov64_imm(3, 3),
            mov64_imm(4, 4),
            mov64_imm(5, 5),
            insn(JMP | CALL, 0, 0, 0, 1),
            insn(STX | MEM | DW, 10, 0, -16, 0), // 54321
            insn(JMP | CALL, 0, 0, 0, 2),
            insn(LDX | MEM | DW, 2, 10, -16, 0),
            insn(ALU64 | ADD | X, 0, 2, 0, 0),
            // r0 += r6 ^ r7 ^ r8 ^ r9 + stack slot
            mov64(3, 6),
            insn(ALU64 | XOR | X, 3, 7, 0, 0),
            insn(ALU64 | XOR | X, 3, 8, 0, 0),
            insn(ALU64 | XOR | X, 3, 9, 0, 0),
            insn(ALU64 | ADD | X, 0, 3, 0, 0),
            insn(LDX | MEM | DW, 4, 10, -8, 0),
            insn(ALU64 | ADD | X, 0, 4, 0, 0),
            exit(),
        ],
    ]);
    let f = r.compile_h(&p, &helpers);
    // SAFETY: the program only uses its stack and the helpers.
    let got = unsafe { f(std::ptr::null_mut()) };
    let clob: u64 = (0..16).map(|i| i * 3).sum();
    let want = 54321u64
        + clob
        + (0x0123_4567_89ab_cdefu64 ^ 0x1111 ^ 0x2222_0000_0000 ^ 0x4000_0000_0000_0000)
        + 42;
    assert_eq!(got, want);
}

/// A helper inside the arena itself is within rel32 reach (`call rel32`); a Rust helper
/// usually is not (mmap area vs. executable), which takes `mov r11, imm64; call r11`.
#[test]
fn helper_call_near_is_rel32() {
    let mut r = Runner::new();
    // The callee: a JIT-compiled eBPF program is itself a SysV function of r1..r5.
    let callee = [
        mov64(0, 1),
        insn(ALU64 | MUL | K, 2, 0, 0, 10),
        insn(ALU64 | ADD | X, 0, 2, 0, 0),
        insn(ALU64 | MUL | K, 3, 0, 0, 100),
        insn(ALU64 | ADD | X, 0, 3, 0, 0),
        insn(ALU64 | MUL | K, 4, 0, 0, 1000),
        insn(ALU64 | ADD | X, 0, 4, 0, 0),
        insn(ALU64 | MUL | K, 5, 0, 0, 10000),
        insn(ALU64 | ADD | X, 0, 5, 0, 0),
        exit(),
    ];
    let callee_fn = r.compile_h(&callee, &no_helper) as usize;
    let before = r.arena.used();
    let caller = [
        mov64_imm(1, 9),
        mov64_imm(2, 8),
        mov64_imm(3, 7),
        mov64_imm(4, 6),
        mov64_imm(5, 5),
        mov64_imm(6, 1234),
        insn(JMP | CALL, 0, 0, 0, 77),
        insn(ALU64 | ADD | X, 0, 6, 0, 0),
        exit(),
    ];
    let f = r.compile_h(&caller, &|imm| (imm == 77).then_some(callee_fn));
    assert!((f as usize).abs_diff(callee_fn) < 1 << 20);
    // The call site is a 5-byte `e8 rel32`: look for it in the code.
    // SAFETY: the code lies in the arena's read-execute view, which is readable.
    let code = unsafe {
        std::slice::from_raw_parts(
            f as usize as *const u8,
            r.arena.used() - before.next_multiple_of(16),
        )
    };
    let found = (0..code.len().saturating_sub(5)).any(|i| {
        code[i] == 0xe8 && {
            let rel = i32::from_le_bytes(code[i + 1..i + 5].try_into().unwrap());
            (f as usize + i + 5).wrapping_add(rel as isize as usize) == callee_fn
        }
    });
    assert!(found, "expected a direct call rel32");
    // SAFETY: register-only program.
    let got = unsafe { f(std::ptr::null_mut()) };
    assert_eq!(got, 9 + 80 + 700 + 6000 + 50000 + 1234);
}

#[test]
fn arena_alignment_and_accounting() {
    let mut a = ebpf_jit::JitArena::new(4096).unwrap();
    assert_eq!(a.capacity(), 4096);
    assert_eq!(a.used(), 0);
    let p = [mov64_imm(0, 3), exit()];
    let mut last = 0;
    for _ in 0..5 {
        let f = a.compile(&p, &no_helper).unwrap();
        assert_eq!(f as usize % 16, 0);
        assert!(a.used() > last);
        last = a.used();
        // SAFETY: register-only program.
        assert_eq!(unsafe { f(std::ptr::null_mut()) }, 3);
    }
    // SAFETY: none of the programs is used again.
    unsafe { a.reset() };
    assert_eq!(a.used(), 0);
    let f = a.compile(&p, &no_helper).unwrap();
    // SAFETY: register-only program.
    assert_eq!(unsafe { f(std::ptr::null_mut()) }, 3);
    // Rewriting code at an address that already ran runs the new code.
    let first = f as usize;
    for v in 4..20 {
        // SAFETY: none of the programs is used again.
        unsafe { a.reset() };
        let f = a.compile(&[mov64_imm(0, v), exit()], &no_helper).unwrap();
        assert_eq!(f as usize, first);
        // SAFETY: register-only program.
        assert_eq!(unsafe { f(std::ptr::null_mut()) }, v as u64);
    }
}
