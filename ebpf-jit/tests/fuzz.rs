//! Differential fuzzing against rbpf's interpreter: random straight-line programs with
//! forward branches, over random register values, ALU ops in all forms, loads and stores
//! into a ctx buffer and the stack. The returned r0, every register (dumped into the
//! buffer at the end), the buffer and the used stack must match.
//!
//! Where rbpf's semantics differ from the kernel's, the fuzzer avoids the case and a
//! hand-written test in `insns.rs` covers it instead:
//! - 32-bit MOD by zero: rbpf leaves dst unchanged, the kernel zero-extends its low 32
//!   bits. Every ALU32 MOD is preceded by `w(dst) = w(dst)` so both agree.
//! - 64-bit JEQ/JNE/JGT/JGE/JLT/JLE with BPF_K: rbpf zero-extends imm, the kernel
//!   sign-extends it. The fuzzer only uses non-negative imm there (`jump_literals`
//!   covers negative ones).
//! - 64-bit NEG of i64::MIN: rbpf computes `-(x as i64)`, which panics on overflow in
//!   test builds. Every ALU64 NEG is preceded by `dst |= 1` (`alu_all_ops_values` covers
//!   i64::MIN).
//! - Helper calls are not fuzzed: after a call, r1-r5 are undefined in the kernel (and
//!   clobbered here) but preserved by rbpf.

mod common;
use common::*;

/// ctx layout: [0, 64) random data the program loads and stores; [64, 144) the final
/// registers r0, r2..r9, r10 slot unused; [144, 208) the 64 bytes of stack the program uses.
const DATA: usize = 64;
const REG_DUMP: usize = 64;
const STACK_DUMP: usize = 144;
const CTX_LEN: usize = 208;
const GPR: [u8; 9] = [0, 2, 3, 4, 5, 6, 7, 8, 9];

enum Item {
    Plain(Vec<u64>),
    /// A conditional or unconditional jump whose target (an item index) is filled in later.
    Jump {
        insn: u64,
        target: usize,
    },
}

fn random_program(rng: &mut Rng) -> Vec<u64> {
    let mut head = Vec::new();
    for reg in GPR {
        head.extend(ld_imm64(reg, rng.value()));
    }
    for k in 1..=8 {
        head.push(insn(ST | MEM | DW, 10, 0, -8 * k, 0));
    }
    let n = 5 + rng.below(60) as usize;
    let mut items = Vec::with_capacity(n);
    for idx in 0..n {
        let dst = rng.pick(&GPR);
        let src = rng.pick(&GPR);
        let item = match rng.below(20) {
            0..=9 => {
                let class = if rng.below(2) == 0 { ALU64 } else { ALU };
                let op = match rng.below(16) {
                    0..=11 => ALU_OPS_ALL[rng.below(12) as usize],
                    12 => NEG,
                    13 => END,
                    _ => rng.pick(&[LSH, RSH, ARSH, DIV, MOD]),
                };
                let x = rng.below(2) == 0;
                let mut v = Vec::new();
                if op == MOD && class == ALU {
                    v.push(insn(ALU | MOV | X, dst, dst, 0, 0)); // see the module comment
                }
                match op {
                    NEG => {
                        if class == ALU64 {
                            v.push(insn(ALU64 | OR | K, dst, 0, 0, 1)); // see the module comment
                        }
                        v.push(insn(class | NEG, dst, 0, 0, 0));
                    }
                    END => {
                        let kind = rng.pick(&[TO_LE, TO_BE]);
                        v.push(insn(ALU | END | kind, dst, 0, 0, rng.pick(&[16, 32, 64])));
                    }
                    _ if x => v.push(insn(class | op | X, dst, src, 0, 0)),
                    _ => {
                        let imm = match op {
                            LSH | RSH | ARSH => {
                                rng.below(if class == ALU64 { 64 } else { 32 }) as i32
                            }
                            _ => match rng.below(4) {
                                0 => rng.below(16) as i32,
                                1 => rng.value() as i32,
                                _ => rng.next() as i32,
                            },
                        };
                        v.push(insn(class | op | K, dst, 0, 0, imm));
                    }
                }
                Item::Plain(v)
            }
            10 => Item::Plain(ld_imm64(dst, rng.value()).to_vec()),
            11..=14 => {
                let (sz, n) = rng.pick(&[(B, 1i16), (H, 2), (W, 4), (DW, 8)]);
                let (base, off) = if rng.below(2) == 0 {
                    (1, rng.below((DATA as i16 - n + 1) as u64) as i16)
                } else {
                    (10, -(n + rng.below((64 - n + 1) as u64) as i16))
                };
                Item::Plain(vec![match rng.below(3) {
                    0 => insn(LDX | MEM | sz, dst, base, off, 0),
                    1 => insn(STX | MEM | sz, base, src, off, 0),
                    _ => insn(ST | MEM | sz, base, 0, off, rng.value() as i32),
                }])
            }
            _ => {
                let target = idx + 1 + rng.below((n - idx) as u64) as usize;
                let op = if rng.below(12) == 0 {
                    JA
                } else {
                    rng.pick(&JMP_OPS)
                };
                let class = if op == JA || rng.below(2) == 0 {
                    JMP
                } else {
                    JMP32
                };
                let insn = if op == JA {
                    insn(JMP | JA, 0, 0, 0, 0)
                } else if rng.below(2) == 0 {
                    insn(class | op | X, dst, src, 0, 0)
                } else {
                    let mut imm = match rng.below(3) {
                        0 => rng.below(8) as i32,
                        1 => rng.value() as i32,
                        _ => rng.next() as i32,
                    };
                    if class == JMP && matches!(op, JEQ | JNE | JGT | JGE | JLT | JLE) {
                        imm &= i32::MAX; // see the module comment
                    }
                    insn(class | op | K, dst, 0, 0, imm)
                };
                Item::Jump { insn, target }
            }
        };
        items.push(item);
    }
    // Slot index of each item boundary (items.len() = the dump section).
    let mut slot = Vec::with_capacity(n + 1);
    let mut s = head.len();
    for it in &items {
        slot.push(s);
        s += match it {
            Item::Plain(v) => v.len(),
            Item::Jump { .. } => 1,
        };
    }
    slot.push(s);
    let mut p = head;
    for (idx, it) in items.iter().enumerate() {
        match it {
            Item::Plain(v) => p.extend(v),
            Item::Jump { insn, target } => {
                let off = (slot[*target] - slot[idx] - 1) as i16;
                p.push(insn | u64::from(off as u16) << 16);
            }
        }
    }
    for (i, reg) in GPR.iter().enumerate() {
        p.push(insn(STX | MEM | DW, 1, *reg, (REG_DUMP + 8 * i) as i16, 0));
    }
    for k in 1..=8i16 {
        p.push(insn(LDX | MEM | DW, 2, 10, -8 * k, 0));
        p.push(insn(
            STX | MEM | DW,
            1,
            2,
            STACK_DUMP as i16 + 8 * (k - 1),
            0,
        ));
    }
    p.push(exit());
    p
}

fn no_verifier(_: &[u8]) -> Result<(), std::io::Error> {
    Ok(())
}

#[test]
fn differential_vs_rbpf() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut runner = Runner::new();
    let iterations = 20_000;
    let mut branches_taken = 0u64;
    for iter in 0..iterations {
        let p = random_program(&mut rng);
        let bytes: Vec<u8> = p.iter().flat_map(|i| i.to_le_bytes()).collect();
        let mut data = [0u8; CTX_LEN];
        for b in &mut data[..DATA] {
            *b = rng.next() as u8;
        }

        let mut expect = data;
        let mut vm = rbpf::EbpfVmRaw::new(None).unwrap();
        vm.set_verifier(no_verifier).unwrap();
        vm.set_program(&bytes).unwrap();
        let want = vm
            .execute_program(&mut expect)
            .unwrap_or_else(|e| panic!("rbpf failed on #{iter}: {e}"));

        let mut got = data;
        let r0 = runner.run_ptr(&p, got.as_mut_ptr());
        if r0 != want || got != expect {
            let dis: Vec<String> = p.iter().map(|i| format!("{i:016x}")).collect();
            panic!(
                "mismatch on program #{iter}: jit r0 {r0:#x} rbpf r0 {want:#x}\njit  {:x?}\nrbpf {:x?}\nprogram {dis:?}",
                &got[DATA..],
                &expect[DATA..]
            );
        }
        branches_taken += u64::from(got[DATA..] != data[DATA..]);
    }
    assert!(branches_taken > 0);
}
