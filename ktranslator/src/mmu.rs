//! Soft-MMU: Sv39/Sv48 page walks, the per-access-type TLBs and the load/store paths.
//!
//! A TLB hit is a compare and an add: the entry's tag is the virtual page plus the key
//! it was filled under (privilege of the access, SUM, MXR, epoch), and the comparison
//! also includes the low bits of the address that must be zero for an aligned access
//! of that size, so misaligned accesses fall to the slow path. Changing privilege or
//! mstatus only changes the current keys; satp writes and `sfence.vma` of every address
//! bump the epoch, `sfence.vma` of one address drops that page's entries
//! ([`Hart::tlb_flush_page`]). Only RAM
//! pages are ever entered; MMIO always goes through the slow path to the [`Bus`]. Pages
//! holding translated code are never entered in the store TLB, so stores to them reach
//! the slow path, which invalidates the translations of that page (self-modifying
//! code).

use super::bus::Bus;
use super::csr::{cause, MSTATUS_MPP, MSTATUS_MPRV, MSTATUS_MXR, MSTATUS_SUM};
use super::hart::{jc_set, mega_bit, prv, Hart, TlbEntry, ACC_FETCH, ACC_LOAD, ACC_STORE, TLB_INVALID, TLB_SIZE};
use super::ram::GuestRam;

impl TlbEntry {
    /// The RAM offset of `va`, in the page this entry maps (tier 1 then checks it, as
    /// any RAM offset).
    #[inline(always)]
    fn ram_offset(self, ram: &GuestRam, va: u64) -> u64 {
        ram.host_offset(self.host).wrapping_add(va & 0xfff)
    }
}

const PTE_V: u64 = 1 << 0;
const PTE_R: u64 = 1 << 1;
const PTE_W: u64 = 1 << 2;
const PTE_X: u64 = 1 << 3;
const PTE_U: u64 = 1 << 4;
const PTE_A: u64 = 1 << 6;
const PTE_D: u64 = 1 << 7;
const PTE_PPN_MASK: u64 = (1 << 44) - 1;

// A TLB tag is the virtual page (bits 12 and up) | the key of the entry (bits 3 to 11,
// which are zero in every address a lookup compares: see `load`). Key: privilege of
// the access (bits 3-4; the reserved value 2 marks empty entries, `TLB_INVALID`), SUM
// (bit 5), MXR (bit 6), epoch (bits 7-11).
const KEY_PRV_SHIFT: u32 = 3;
const KEY_SUM: u64 = 1 << 5;
const KEY_MXR: u64 = 1 << 6;
const KEY_EPOCH_SHIFT: u32 = 7;
const TLB_EPOCHS_MASK: u64 = 31;

/// Why a memory access did not complete normally.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Stop {
    /// An exception is pending in `exc_cause`/`exc_tval`.
    Trap,
    /// The access completed but translated code was invalidated: the block must end
    /// after this instruction.
    Resync,
}

fn page_fault(acc: usize) -> u64 {
    match acc {
        ACC_FETCH => cause::FETCH_PAGE,
        ACC_LOAD => cause::LOAD_PAGE,
        _ => cause::STORE_PAGE,
    }
}
fn access_fault(acc: usize) -> u64 {
    match acc {
        ACC_FETCH => cause::FETCH_ACCESS,
        ACC_LOAD => cause::LOAD_ACCESS,
        _ => cause::STORE_ACCESS,
    }
}

impl Hart {
    /// Flushes the TLBs and the jump cache (satp writes, sfence.vma): both are tagged
    /// with an epoch, so this is an increment; the entries are only cleared when the
    /// epoch wraps (every 32 flushes for the TLBs, 2^32 for the jump cache).
    pub(super) fn tlb_flush(&mut self) {
        self.stats.tlb_flushes += 1;
        self.tlb_epoch = (self.tlb_epoch + 1) & TLB_EPOCHS_MASK;
        if self.tlb_epoch == 0 {
            self.tlb_clear_all();
        }
        // No entry of the new epoch exists yet.
        self.tlb_leaf_max = [0; 2];
        self.tlb_mega = [0; super::hart::MEGA_WORDS];
        self.jc_flush();
        self.tlb_update_keys();
    }

    /// Empties the jump cache (an increment of its epoch).
    fn jc_flush(&mut self) {
        self.jc_epoch = self.jc_epoch.wrapping_add(1);
        if self.jc_epoch == 0 {
            self.jc.fill(0);
        }
    }

    /// `sfence.vma` of virtual address `va`: drops the translations the leaf mapping
    /// `va` may have given, and the blocks of those pages from the jump cache. The
    /// TLBs and the jump cache hold 4 KiB pages, so if the walks since the last full
    /// flush found a 2 MiB leaf in `va`'s 2 MiB range (`tlb_mega`'s bit), the entries
    /// of that whole range go (512 slots of each TLB, and the whole jump cache); with
    /// larger leaves in `va`'s half of the address space everything does. (A Debian
    /// guest's kernel fences its fixmap pages, mapped in 4 KiB pages next to its 2 MiB
    /// linear map: 93,000 times while xz compresses. With one bit for the whole half,
    /// each emptied the jump cache.) Before, every such fence flushed
    /// everything: xz compressing in a Debian guest issued about 130,000 of them (one
    /// per page fault, `update_mmu_cache`, and per page of small unmapped ranges) and
    /// refilled the TLB after each.
    pub(super) fn tlb_flush_page(&mut self, va: u64) {
        let leaf = self.tlb_leaf_max[(va >> 63) as usize & 1];
        if leaf > 1 {
            return self.tlb_flush();
        }
        self.stats.tlb_page_flushes += 1;
        let bit = mega_bit(va);
        let mega = self.tlb_mega.get(bit / 64).is_some_and(|w| w >> (bit % 64) & 1 != 0);
        let pages: u64 = if leaf == 1 && mega { 512 } else { 1 };
        let first = (va >> 12) & !(pages - 1);
        for vpn in first..first + pages {
            let idx = vpn as usize & (TLB_SIZE - 1);
            // (Entries of other keys and epochs go too: dropping an entry is always
            // correct.)
            for acc in [ACC_FETCH, ACC_LOAD, ACC_STORE] {
                let e = self.tlb_entry(acc, idx);
                if e.tag >> 12 == vpn {
                    e.tag = TLB_INVALID;
                }
            }
        }
        if pages == 1 {
            // The set of the page's pcs (other pages' entries in it go too).
            if let Some(set) = self.jc.get_mut(jc_set(va)) {
                set.fill(0);
            }
        } else {
            self.jc_flush();
        }
    }

    /// Empties the three TLBs.
    pub(super) fn tlb_clear_all(&mut self) {
        for pair in self.tlb.iter_mut() {
            for e in pair.iter_mut() {
                e.tag = TLB_INVALID;
            }
        }
        for e in self.tlb_fetch.iter_mut() {
            e.tag = TLB_INVALID;
        }
    }

    /// Entry `idx` of TLB `acc` (an `ACC_*`).
    #[inline(always)]
    fn tlb_entry(&mut self, acc: usize, idx: usize) -> &mut TlbEntry {
        let idx = idx & (TLB_SIZE - 1);
        match acc {
            ACC_FETCH => &mut self.tlb_fetch[idx],
            ACC_LOAD => &mut self.tlb[idx][ACC_LOAD - 1],
            _ => &mut self.tlb[idx][ACC_STORE - 1],
        }
    }

    /// Recomputes the keys that TLB entries are tagged with (epoch, the privilege the
    /// access is checked against, and for data accesses SUM and MXR): called whenever
    /// one of them changes (privilege, mstatus, a flush). Entries filled under another
    /// key stay in place but never match, so changing privilege (every trap and xRET)
    /// or toggling SUM flushes nothing, and the entries of the previous mode are valid
    /// again when it comes back.
    pub(super) fn tlb_update_keys(&mut self) {
        let epoch = self.tlb_epoch << KEY_EPOCH_SHIFT;
        let st = self.csr.mstatus;
        let dp = self.data_prv();
        // SUM only matters to S-mode accesses, MXR only to loads.
        let sum = if dp == prv::S && st & MSTATUS_SUM != 0 { KEY_SUM } else { 0 };
        let mxr = if st & MSTATUS_MXR != 0 { KEY_MXR } else { 0 };
        self.tlb_key[ACC_FETCH] = epoch | (u64::from(self.prv) << KEY_PRV_SHIFT);
        let data = epoch | (u64::from(dp) << KEY_PRV_SHIFT) | sum;
        self.tlb_key[ACC_LOAD] = data | mxr;
        self.tlb_key[ACC_STORE] = data;
    }

    /// Flushes the store TLB (a page just became a code page).
    pub(super) fn tlb_flush_store(&mut self) {
        for pair in self.tlb.iter_mut() {
            pair[ACC_STORE - 1].tag = TLB_INVALID;
        }
    }

    fn set_exc(&mut self, c: u64, tval: u64) {
        self.exc_cause = c;
        self.exc_tval = tval;
    }

    /// The privilege used for loads and stores (MPRV).
    fn data_prv(&self) -> u8 {
        if self.prv == prv::M && self.csr.mstatus & MSTATUS_MPRV != 0 {
            ((self.csr.mstatus & MSTATUS_MPP) >> 11) as u8
        } else {
            self.prv
        }
    }

    /// Translates `va` for an access of type `acc`; on failure the exception is left
    /// in `exc_cause`/`exc_tval`.
    pub(super) fn translate(&mut self, va: u64, acc: usize) -> Result<u64, ()> {
        let p = if acc == ACC_FETCH { self.prv } else { self.data_prv() };
        let satp = self.csr.satp;
        let mode = satp >> 60;
        if p == prv::M || mode == 0 {
            return Ok(va);
        }
        let levels: u32 = if mode == 9 { 4 } else { 3 };
        let va_bits = 12 + 9 * levels;
        // The address must be the sign extension of its low va_bits bits.
        let sh = 64 - va_bits;
        if ((va << sh) as i64 >> sh) as u64 != va {
            self.set_exc(page_fault(acc), va);
            return Err(());
        }
        let mut table = (satp & PTE_PPN_MASK) << 12;
        let mut level = levels;
        while level > 0 {
            level -= 1;
            let vpn = (va >> (12 + 9 * level)) & 0x1ff;
            let pte_addr = table.wrapping_add(vpn * 8);
            let Some(off) = self.ram.offset_of(pte_addr, 8) else {
                self.set_exc(access_fault(acc), va);
                return Err(());
            };
            let pte = self.ram.read(off, 8).unwrap_or(0);
            if pte & PTE_V == 0 || (pte & PTE_R == 0 && pte & PTE_W != 0) || pte >> 54 != 0 {
                break;
            }
            let ppn = (pte >> 10) & PTE_PPN_MASK;
            if pte & (PTE_R | PTE_X) == 0 {
                if level == 0 {
                    break;
                }
                table = ppn << 12;
                continue;
            }
            // Leaf: permissions.
            let user = pte & PTE_U != 0;
            let ok_mode = match p {
                prv::U => user,
                _ => !user || (acc != ACC_FETCH && self.csr.mstatus & MSTATUS_SUM != 0),
            };
            let ok_perm = match acc {
                ACC_FETCH => pte & PTE_X != 0,
                ACC_LOAD => pte & PTE_R != 0 || (self.csr.mstatus & MSTATUS_MXR != 0 && pte & PTE_X != 0),
                _ => pte & PTE_W != 0,
            };
            // Superpages must be aligned.
            let low_mask = (1u64 << (9 * level)) - 1;
            if !ok_mode || !ok_perm || ppn & low_mask != 0 {
                break;
            }
            let want = PTE_A | if acc == ACC_STORE { PTE_D } else { 0 };
            if pte & want != want {
                // Hardware A/D update (the PTE was read from RAM just above).
                self.ram.write(off, 8, pte | want);
                self.smc_check_phys(pte_addr);
            }
            let page_off = va & ((1u64 << (12 + 9 * level)) - 1);
            // (Level < 4: fits.)
            let half = &mut self.tlb_leaf_max[(va >> 63) as usize & 1];
            *half = (*half).max(level as u8);
            if level == 1 {
                let bit = mega_bit(va);
                if let Some(w) = self.tlb_mega.get_mut(bit / 64) {
                    *w |= 1 << (bit % 64);
                }
            }
            return Ok((ppn << 12) | page_off);
        }
        self.set_exc(page_fault(acc), va);
        Err(())
    }

    /// Enters the 4 KiB page of `va` -> `pa` into TLB `acc` if it is all RAM (and, for
    /// stores, holds no translated code).
    fn tlb_fill(&mut self, va: u64, pa: u64, acc: usize) {
        let vpage = va & !0xfff;
        let Some(off) = self.ram.offset_of(pa & !0xfff, 4096) else { return };
        if acc == ACC_STORE && self.tc.is_code_page(off >> 12) {
            return;
        }
        let idx = (va >> 12) as usize & (TLB_SIZE - 1);
        let key = self.tlb_key.get(acc).copied().unwrap_or(TLB_INVALID);
        *self.tlb_entry(acc, idx) = TlbEntry { tag: vpage | key, host: self.ram.host_addr(off) };
    }

    /// Translates an instruction fetch address to a guest-RAM offset (fetches from
    /// anything but RAM are access faults).
    pub(super) fn fetch_offset(&mut self, va: u64) -> Result<u64, ()> {
        let e = self.tlb_fetch[(va >> 12) as usize & (TLB_SIZE - 1)];
        if e.tag == (va & !0xfff) | self.tlb_key[ACC_FETCH] {
            return Ok(e.ram_offset(&self.ram, va));
        }
        self.stats.tlb_misses += 1;
        let pa = self.translate(va, ACC_FETCH)?;
        match self.ram.offset_of(pa, 2) {
            Some(off) => {
                self.tlb_fill(va, pa, ACC_FETCH);
                Ok(off)
            }
            None => {
                self.set_exc(cause::FETCH_ACCESS, va);
                Err(())
            }
        }
    }

    /// Loads `size` bytes (1, 2, 4, 8) at virtual `va`, zero-extended.
    #[inline(always)]
    pub(super) fn load(&mut self, bus: &mut dyn Bus, va: u64, size: usize) -> Result<u64, ()> {
        let e = self.tlb[(va >> 12) as usize & (TLB_SIZE - 1)][ACC_LOAD - 1];
        // Bits 3-11 of the masked address are zero: the key must match exactly, and
        // bits 0-2 (zero in tags) catch misaligned accesses.
        if e.tag == (va & (!0xfff | (size as u64 - 1))) | self.tlb_key[ACC_LOAD] {
            if let Some(v) = self.ram.read(e.ram_offset(&self.ram, va), size) {
                return Ok(v);
            }
        }
        self.load_slow(bus, va, size)
    }

    #[inline(never)]
    fn load_slow(&mut self, bus: &mut dyn Bus, va: u64, size: usize) -> Result<u64, ()> {
        if va & (size as u64 - 1) != 0 {
            // Misaligned: emulated byte by byte (MMIO bytes included).
            let mut v = 0;
            for i in 0..size as u64 {
                v |= self.load_slow(bus, va.wrapping_add(i), 1)? << (8 * i);
            }
            return Ok(v);
        }
        self.stats.tlb_misses += 1;
        let pa = self.translate(va, ACC_LOAD)?;
        if let Some(off) = self.ram.offset_of(pa, size as u64) {
            self.tlb_fill(va, pa, ACC_LOAD);
            return self.ram.read(off, size).ok_or(());
        }
        let r = bus.mmio_read(pa, size as u8);
        if bus.stop_requested() {
            self.request_exit();
        }
        match r {
            Some(v) => Ok(if size < 8 { v & ((1u64 << (size * 8)) - 1) } else { v }),
            None => {
                self.set_exc(cause::LOAD_ACCESS, va);
                Err(())
            }
        }
    }

    /// Stores the low `size` bytes of `val` at virtual `va`.
    #[inline(always)]
    pub(super) fn store(&mut self, bus: &mut dyn Bus, va: u64, size: usize, val: u64) -> Result<(), Stop> {
        let e = self.tlb[(va >> 12) as usize & (TLB_SIZE - 1)][ACC_STORE - 1];
        if e.tag == (va & (!0xfff | (size as u64 - 1))) | self.tlb_key[ACC_STORE] && self.ram.write(e.ram_offset(&self.ram, va), size, val) {
            return Ok(());
        }
        self.store_slow(bus, va, size, val)
    }

    #[inline(never)]
    fn store_slow(&mut self, bus: &mut dyn Bus, va: u64, size: usize, val: u64) -> Result<(), Stop> {
        self.stats.tlb_misses += 1;
        if va & (size as u64 - 1) != 0 {
            // Misaligned: check both ends first so that nothing is written on a fault.
            let last = va.wrapping_add(size as u64 - 1);
            let pa0 = self.translate(va, ACC_STORE).map_err(|_| Stop::Trap)?;
            let pa1 = self.translate(last, ACC_STORE).map_err(|_| Stop::Trap)?;
            if self.ram.offset_of(pa0, 1).is_none() || self.ram.offset_of(pa1, 1).is_none() {
                self.set_exc(cause::STORE_ACCESS, va);
                return Err(Stop::Trap);
            }
            let mut res = Ok(());
            for i in 0..size as u64 {
                let a = va.wrapping_add(i);
                let pa = if (a ^ va) & !0xfff == 0 { pa0.wrapping_add(a.wrapping_sub(va)) } else { pa1.wrapping_sub(last.wrapping_sub(a)) };
                let r = self.store_phys(bus, va, pa, 1, val >> (8 * i));
                if r == Err(Stop::Trap) {
                    return r;
                }
                if r.is_err() {
                    res = r;
                }
            }
            return res;
        }
        let pa = self.translate(va, ACC_STORE).map_err(|_| Stop::Trap)?;
        if self.ram.offset_of(pa, size as u64).is_some() {
            self.tlb_fill(va, pa, ACC_STORE);
        }
        self.store_phys(bus, va, pa, size, val)
    }

    /// Stores to physical `pa` (RAM with code-page check, or MMIO).
    fn store_phys(&mut self, bus: &mut dyn Bus, va: u64, pa: u64, size: usize, val: u64) -> Result<(), Stop> {
        if let Some(off) = self.ram.offset_of(pa, size as u64) {
            self.ram.write(off, size, val);
            if self.invalidate_code_page(off >> 12) {
                self.stats.smc_flushes += 1;
                return Err(Stop::Resync);
            }
            return Ok(());
        }
        let ok = bus.mmio_write(pa, size as u8, val);
        if bus.stop_requested() {
            self.request_exit();
        }
        if ok {
            Ok(())
        } else {
            self.set_exc(cause::STORE_ACCESS, va);
            Err(Stop::Trap)
        }
    }

    /// Invalidates the translated code of the page of physical `pa`, if any (writes
    /// made by AMOs, SC and the page walker). Returns true if something was dropped.
    pub(super) fn smc_check_phys(&mut self, pa: u64) -> bool {
        match self.ram.offset_of(pa, 1) {
            Some(off) if self.invalidate_code_page(off >> 12) => {
                self.stats.smc_flushes += 1;
                true
            }
            _ => false,
        }
    }

    /// Translates an AMO/LR/SC address: must be naturally aligned and in RAM. Returns
    /// the RAM offset. `lr` selects load (LR) instead of store/AMO fault causes.
    pub(super) fn amo_offset(&mut self, va: u64, size: usize, lr: bool) -> Result<u64, ()> {
        if va & (size as u64 - 1) != 0 {
            let c = if lr { cause::LOAD_MISALIGNED } else { cause::STORE_MISALIGNED };
            self.set_exc(c, va);
            return Err(());
        }
        let pa = self.translate(va, if lr { ACC_LOAD } else { ACC_STORE })?;
        match self.ram.offset_of(pa, size as u64) {
            Some(off) => Ok(off),
            None => {
                self.set_exc(if lr { cause::LOAD_ACCESS } else { cause::STORE_ACCESS }, va);
                Err(())
            }
        }
    }
}
