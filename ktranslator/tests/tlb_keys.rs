//! The soft-MMU tags TLB entries with the privilege, SUM, MXR and a flush epoch
//! instead of flushing on every change of them: an entry filled under one regime must
//! never serve an access under another (each case first fills the entry, then changes
//! the regime and checks that the same access now faults).

mod common;

use common::{i_type, Machine, J_SELF, RAM_BASE};
use ktranslator::csr::cause::LOAD_PAGE as LOAD_PAGE_FAULT;
use ktranslator::csr::num::{MCAUSE, MSTATUS, MTVEC, SATP};
use ktranslator::csr::{MSTATUS_MPRV, MSTATUS_MXR, MSTATUS_SUM};
use ktranslator::hart::{prv, Exit};

const A0: u32 = 10;
const A1: u32 = 11;

const PTE_V: u64 = 1;
const PTE_R: u64 = 2;
const PTE_W: u64 = 4;
const PTE_X: u64 = 8;
const PTE_U: u64 = 0x10;
const PTE_A: u64 = 0x40;
const PTE_D: u64 = 0x80;

const MSTATUS_MPP_S: u64 = 1 << 11;

// Virtual pages (all in one level-0 table).
const VA: u64 = 0x4000_0000;
const CODE_S: u64 = VA; // supervisor code: ld a0, 0(a1); j .
const CODE_U: u64 = VA + 0x1000; // the same, user page
const DATA_U: u64 = VA + 0x2000; // user data
const DATA_S: u64 = VA + 0x3000; // supervisor data
const EXEC_ONLY: u64 = VA + 0x4000; // supervisor, execute-only
const VALUE: u64 = 0x1234_5678;

fn machine() -> Machine {
    let mut m = Machine::new(1 << 20, 1 << 16);
    let (root, l1, l0) = (RAM_BASE + 0x10000, RAM_BASE + 0x11000, RAM_BASE + 0x12000);
    let table = |pa: u64| ((pa >> 12) << 10) | PTE_V;
    m.write(root + 8 * ((VA >> 30) & 511), &table(l1).to_le_bytes());
    m.write(l1 + 8 * ((VA >> 21) & 511), &table(l0).to_le_bytes());
    let pages = [
        (CODE_S, PTE_R | PTE_X),
        (CODE_U, PTE_R | PTE_X | PTE_U),
        (DATA_U, PTE_R | PTE_W | PTE_U),
        (DATA_S, PTE_R | PTE_W),
        (EXEC_ONLY, PTE_X),
    ];
    for (i, (va, flags)) in pages.into_iter().enumerate() {
        let pa = RAM_BASE + 0x20000 + 0x1000 * i as u64;
        let pte = ((pa >> 12) << 10) | PTE_V | PTE_A | PTE_D | flags;
        m.write(l0 + 8 * ((va >> 12) & 511), &pte.to_le_bytes());
        let ld = i_type(0x03, A0, 3, A1, 0);
        m.write_words(pa, &[ld, J_SELF]);
        m.write(pa + 0x100, &VALUE.to_le_bytes());
    }
    assert!(m.hart().csr_write(SATP, (8 << 60) | (root >> 12)));
    // Traps go to M-mode, to a `j .` (physical).
    m.write_words(RAM_BASE + 0x30000, &[J_SELF]);
    assert!(m.hart().csr_write(MTVEC, RAM_BASE + 0x30000));
    m
}

/// Runs `ld a0, 0x100(page)` from `code` at privilege `p` with `mstatus`; returns
/// whether it loaded the value (else it must have taken a load page fault to M).
fn load(m: &mut Machine, p: u8, mstatus: u64, code: u64, page: u64) -> bool {
    let h = m.hart();
    h.set_privilege(p);
    assert!(h.csr_write(MSTATUS, mstatus));
    assert!(h.csr_write(MCAUSE, 0));
    h.set_xreg(A0 as usize, 0);
    h.set_xreg(A1 as usize, page + 0x100);
    h.set_pc(code);
    let traps = h.stats.traps;
    assert_eq!(m.run(2), Exit::Budget);
    let h = m.hart();
    if h.stats.traps == traps {
        assert_eq!(h.xreg(A0 as usize), VALUE);
        true
    } else {
        assert_eq!(h.csr_read(&mut common::TestBus::default(), MCAUSE), Some(LOAD_PAGE_FAULT));
        false
    }
}

#[test]
fn sum_cleared_after_a_user_page_was_used() {
    let mut m = machine();
    assert!(load(&mut m, prv::S, MSTATUS_SUM, CODE_S, DATA_U));
    assert!(!load(&mut m, prv::S, 0, CODE_S, DATA_U), "stale SUM entry used");
    assert!(load(&mut m, prv::S, MSTATUS_SUM, CODE_S, DATA_U));
}

#[test]
fn mxr_cleared_after_an_execute_only_page_was_read() {
    let mut m = machine();
    assert!(load(&mut m, prv::S, MSTATUS_MXR, CODE_S, EXEC_ONLY));
    assert!(!load(&mut m, prv::S, 0, CODE_S, EXEC_ONLY), "stale MXR entry used");
}

#[test]
fn user_mode_after_supervisor_used_a_page() {
    let mut m = machine();
    assert!(load(&mut m, prv::S, 0, CODE_S, DATA_S));
    assert!(!load(&mut m, prv::U, 0, CODE_U, DATA_S), "S entry used by U");
    assert!(load(&mut m, prv::U, 0, CODE_U, DATA_U));
    // And S without SUM may not use the entry U just filled.
    assert!(!load(&mut m, prv::S, 0, CODE_S, DATA_U), "U entry used by S");
}

#[test]
fn mprv_follows_mpp() {
    let mut m = machine();
    // M-mode code runs untranslated: use the physical address of CODE_S's page.
    let code_m = RAM_BASE + 0x20000;
    assert!(load(&mut m, prv::M, MSTATUS_MPRV | MSTATUS_MPP_S, code_m, DATA_S));
    assert!(!load(&mut m, prv::M, MSTATUS_MPRV, code_m, DATA_S), "MPP=U used the S entry");
    assert!(load(&mut m, prv::M, MSTATUS_MPRV, code_m, DATA_U));
}

#[test]
fn remap_after_many_flushes() {
    // More satp writes than TLB epochs: entries of the old mapping never come back.
    let mut m = machine();
    assert!(load(&mut m, prv::S, 0, CODE_S, DATA_S));
    let l0 = RAM_BASE + 0x12000;
    let pte_addr = l0 + 8 * ((DATA_S >> 12) & 511);
    let satp = m.hart().csr_read(&mut common::TestBus::default(), SATP).unwrap();
    for i in 0..100u64 {
        // Alternately unmap and map the page, flushing each time.
        let pte = if i % 2 == 0 { 0 } else { ((RAM_BASE + 0x23000) >> 12) << 10 | PTE_V | PTE_R | PTE_W | PTE_A | PTE_D };
        m.write(pte_addr, &pte.to_le_bytes());
        assert!(m.hart().csr_write(SATP, satp));
        assert_eq!(load(&mut m, prv::S, 0, CODE_S, DATA_S), i % 2 == 1, "round {i}");
    }
}
