//! VM ids (`kvmm::ids::free_id`, kemu.ko's registry): after 2^32 VMs the counter wraps,
//! and the id it reaches may be 0 or belong to a VM still running.

use kvmm::ids::free_id;

#[test]
fn ids_count_up_from_the_next_free_one() {
    assert_eq!(free_id(1, 0, |_| false), Some(1));
    assert_eq!(free_id(7, 0, |_| false), Some(7));
    // Live ids are skipped, whatever their order in the list.
    let live = [9u32, 7, 8];
    assert_eq!(free_id(7, live.len(), |id| live.contains(&id)), Some(10));
}

#[test]
fn a_wrapped_counter_never_gives_zero_or_a_live_id() {
    assert_eq!(free_id(u32::MAX, 0, |_| false), Some(u32::MAX));
    assert_eq!(free_id(0, 0, |_| false), Some(1), "0 is never an id");
    // A VM that has run since the counter was at 1 keeps its id after the wrap.
    let live = [u32::MAX, 1, 2];
    assert_eq!(free_id(u32::MAX, live.len(), |id| live.contains(&id)), Some(3));
}

#[test]
fn every_free_id_is_found_within_the_bound() {
    // The worst case: the next `nlive` candidates after 0 are all live.
    for nlive in 0..40u32 {
        let live = |id: u32| (1..=nlive).contains(&id);
        assert_eq!(free_id(0, nlive as usize, live), Some(nlive + 1));
        assert_eq!(free_id(u32::MAX - 1, nlive as usize + 2, |id| live(id) || id >= u32::MAX - 1), Some(nlive + 1));
    }
    // A list that claims more VMs than there are candidates gets no id, not a wrong one.
    assert_eq!(free_id(5, 3, |_| true), None);
}
