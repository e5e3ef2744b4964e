//! VM ids as kemu.ko's registry hands them out (`rust/registry.rs`), written here so
//! that the rule is tested on std.

/// The first id at or after `next` (wrapping) that is free: not 0, which is never an id,
/// and not one that `live` says belongs to a listed VM. `nlive` is how many VMs are
/// listed: among `nlive + 2` consecutive candidates at most `nlive` are live and one is
/// 0, so one of them is free; `None` only if `nlive` is not below 2^32 - 2.
pub fn free_id(next: u32, nlive: usize, live: impl Fn(u32) -> bool) -> Option<u32> {
    let tries = u32::try_from(nlive).ok()?.checked_add(2)?;
    let mut id = next;
    for _ in 0..tries {
        if id != 0 && !live(id) {
            return Some(id);
        }
        id = id.wrapping_add(1);
    }
    None
}
