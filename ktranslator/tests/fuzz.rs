//! Fuzzing: random instruction words with random register and CSR state never panic
//! the engine, and every run ends in retired instructions or architectural traps with
//! sane state (x0 = 0, a valid privilege level, valid exception causes).

mod common;

use common::{Machine, Rng, RAM_BASE};
use ktranslator::hart::{prv, Exit};

fn check_state(m: &mut Machine) {
    let mut bus = common::TestBus::default();
    let h = m.hart();
    assert_eq!(h.xreg(0), 0);
    assert!(matches!(h.privilege(), prv::U | prv::S | prv::M));
    let mcause = h.csr_read(&mut bus, ktranslator::csr::num::MCAUSE).unwrap();
    let code = mcause & !(1 << 63);
    if mcause >> 63 == 0 {
        assert!(matches!(code, 0..=9 | 11..=13 | 15), "mcause {mcause:#x}");
    }
    assert_eq!(h.pc() & 1, 0);
}

fn random_state(m: &mut Machine, rng: &mut Rng) {
    let h = m.hart();
    h.reset();
    for r in 1..32 {
        let v = match rng.next() % 4 {
            0 => RAM_BASE + (rng.next() % (1 << 20)),
            1 => rng.next() % 64,
            _ => rng.next(),
        };
        h.set_xreg(r, v);
        h.set_freg(r, rng.next());
    }
    // Trap vector: a wfi (so traps end the run) somewhere in RAM.
    h.csr_write(ktranslator::csr::num::MTVEC, RAM_BASE + 0x8000);
    h.csr_write(ktranslator::csr::num::MSTATUS, rng.next() & 0x6000); // random FS
    h.set_pc(RAM_BASE);
}

#[test]
fn random_single_instructions() {
    let mut m = Machine::new(1 << 20, 1 << 16);
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let mut traps = 0u64;
    let mut retired = 0u64;
    for _ in 0..30_000 {
        random_state(&mut m, &mut rng);
        let w = rng.next() as u32;
        // Random instruction, then wfi (x2, in case the first is compressed).
        let words = [w, 0x1050_0073, 0x1050_0073];
        m.write_words(RAM_BASE, &words);
        m.write_words(RAM_BASE + 0x8000, &[0x1050_0073]);
        let t0 = m.hart().stats.traps;
        let i0 = m.hart().stats.insns;
        let e = m.run(50);
        assert!(matches!(e, Exit::Wfi | Exit::Budget | Exit::Stop));
        traps += m.hart().stats.traps - t0;
        retired += m.hart().stats.insns - i0;
        check_state(&mut m);
    }
    eprintln!("traps {traps} retired {retired}");
    assert!(traps > 1000 && retired > 1000, "traps {traps} retired {retired}");
}

#[test]
fn random_instruction_sequences() {
    let mut m = Machine::new(1 << 20, 1 << 15);
    let mut rng = Rng(0xfeed_f00d_dead_beef);
    // Encodings biased towards valid ones: keep the random word's operands, pick the
    // opcode (bits 6:0) from the major opcodes of RV64GC.
    const OPS: [u32; 18] =
        [0x03, 0x07, 0x0f, 0x13, 0x17, 0x1b, 0x23, 0x27, 0x2f, 0x33, 0x37, 0x3b, 0x43, 0x53, 0x63, 0x67, 0x6f, 0x73];
    for _ in 0..3_000 {
        random_state(&mut m, &mut rng);
        let mut words = Vec::new();
        for _ in 0..64 {
            let w = rng.next() as u32;
            let w = if rng.next() & 3 == 0 { w } else { (w & !0x7f) | OPS[(rng.next() % 18) as usize] };
            words.push(w);
        }
        m.write_words(RAM_BASE, &words);
        m.write_words(RAM_BASE + 0x8000, &[0x1050_0073]);
        let e = m.run(500);
        assert!(matches!(e, Exit::Wfi | Exit::Budget | Exit::Stop));
        check_state(&mut m);
    }
}
