//! How a translated block ends: [`ExitKind`], shared by the executor (exec.rs), the
//! run loop (hart.rs) and tier 2 (ebpf.rs, tier2.rs).
//!
//! Tier-2 programs return the kind as a plain number (`ExitKind::X as u8`, stored into
//! r0 by ebpf.rs; the helper returns what the tier-1 handler returned), so the values
//! are fixed: the run loop relies on the two chain exits being 0 and 1 (the chain slot),
//! and on every real exit being at most [`ExitKind::Wfi`].

/// What a micro-op handler returns, and so how a block ends. The first six are the
/// exits the run loop sees; [`ExitKind::Chained`] and [`ExitKind::Next`] never leave
/// the executor (`Hart::exec_tb`).
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ExitKind {
    /// Left through the taken/static exit (chain slot 0).
    Chain0 = 0,
    /// Left through the fall-through exit (chain slot 1).
    Chain1 = 1,
    /// Indirect jump: look the target up.
    Jump = 2,
    /// Static state changed (CSR, xRET, fences, invalidated code): look up again.
    Sync = 3,
    /// A trap was taken.
    Trap = 4,
    /// WFI retired.
    Wfi = 5,
    /// Not an exit: a chain exit went on to the next block (`Hart::next_uop`), inside
    /// `exec_tb`.
    Chained = 0xfe,
    /// Not an exit: go on with the next micro-op of the block (the tier-2 helper's
    /// "go on" value, `ebpf::HELPER_NEXT`).
    Next = 0xff,
}

impl ExitKind {
    /// The chain slot of a chain exit (0: taken/static, 1: fall-through), `None` for
    /// any other kind.
    #[inline(always)]
    pub(super) fn chain_slot(self) -> Option<usize> {
        if self as u8 <= ExitKind::Chain1 as u8 {
            Some(usize::from(self as u8))
        } else {
            None
        }
    }

    /// The exit kind a tier-2 program returned: programs only return real exits
    /// (up to [`ExitKind::Wfi`]); anything else resynchronises ([`ExitKind::Sync`]).
    #[inline(always)]
    pub(super) fn from_t2(r: u64) -> ExitKind {
        if r <= u64::from(ExitKind::Wfi as u8) {
            if let Ok(k) = ExitKind::try_from(r as u8) {
                return k;
            }
        }
        ExitKind::Sync
    }
}

impl From<ExitKind> for u8 {
    #[inline(always)]
    fn from(k: ExitKind) -> u8 {
        k as u8
    }
}

impl TryFrom<u8> for ExitKind {
    type Error = u8;

    /// The kind numbered `v`, or `Err(v)` if no kind has that number.
    #[inline]
    fn try_from(v: u8) -> Result<ExitKind, u8> {
        use ExitKind::*;
        Ok(match v {
            0 => Chain0,
            1 => Chain1,
            2 => Jump,
            3 => Sync,
            4 => Trap,
            5 => Wfi,
            0xfe => Chained,
            0xff => Next,
            _ => return Err(v),
        })
    }
}

// The values tier-2 programs and the run loop rely on.
const _: () = assert!(ExitKind::Chain0 as u8 == 0 && ExitKind::Chain1 as u8 == 1);
const _: () = assert!(ExitKind::Wfi as u8 == 5 && ExitKind::Next as u8 == 0xff);

#[cfg(test)]
mod tests {
    use super::ExitKind;

    #[test]
    fn numbers_round_trip() {
        for v in 0..=u8::MAX {
            match ExitKind::try_from(v) {
                Ok(k) => assert_eq!(u8::from(k), v),
                Err(e) => assert_eq!(e, v),
            }
        }
        assert_eq!(ExitKind::try_from(6), Err(6));
    }

    #[test]
    fn tier2_results() {
        assert_eq!(ExitKind::from_t2(0), ExitKind::Chain0);
        assert_eq!(ExitKind::from_t2(5), ExitKind::Wfi);
        for r in [6, 0xfe, 0xff, 0x100, u64::MAX] {
            assert_eq!(ExitKind::from_t2(r), ExitKind::Sync);
        }
    }

    #[test]
    fn chain_slots() {
        assert_eq!(ExitKind::Chain0.chain_slot(), Some(0));
        assert_eq!(ExitKind::Chain1.chain_slot(), Some(1));
        assert_eq!(ExitKind::Jump.chain_slot(), None);
        assert_eq!(ExitKind::Next.chain_slot(), None);
    }
}
