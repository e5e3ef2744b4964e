// SPDX-License-Identifier: GPL-2.0

//! Every VM of the module, by id: those owned by an open file and the detached ones,
//! which nobody's file owns and which keep the module loaded until they are stopped.

use kernel::{bindings, prelude::*, sync::Arc, ModuleMetadata};

use crate::kvmm::ids::free_id;
use crate::uapi::KemuStatus;
use crate::vm::Vm;

/// The VMs and the id counter, under one lock: an id is chosen and its VM listed in one
/// critical section, so two VMs can never share one.
struct Vms {
    list: KVec<Arc<Vm>>,
    /// The next id to try.
    next: u32,
}

kernel::sync::global_lock! {
    // SAFETY: `init` is called in the module initialiser, before `/dev/kemu` exists.
    unsafe(uninit) static VMS: Mutex<Vms> = Vms { list: KVec::new(), next: 1 };
}

/// Initialises the registry; called once, in the module initialiser.
pub(crate) fn init() {
    // SAFETY: called exactly once, before any other use of `VMS`.
    unsafe { VMS.init() };
}

/// Frees the registry's memory at module unload (statics are never dropped). By then no
/// VM exists: each open file and each detached VM holds a module reference.
pub(crate) fn exit() {
    let old = core::mem::replace(&mut VMS.lock().list, KVec::new());
    drop(old);
}

/// Adds a new VM (not yet listed, with no id yet) and gives it its id, which it returns.
///
/// Ids count up from 1 and wrap, but 0 is never handed out and neither is the id of a VM
/// still listed: those are skipped ([`free_id`]; the list is far shorter than 2^32 - 2,
/// each VM holding megabytes of RAM, so `ENOSPC` only if that were ever false).
pub(crate) fn add(vm: Arc<Vm>) -> Result<u32> {
    let mut vms = VMS.lock();
    vms.list.reserve(1, GFP_KERNEL)?;
    let list = &vms.list;
    let id = free_id(vms.next, list.len(), |id| list.iter().any(|v| v.id() == id)).ok_or(ENOSPC)?;
    vms.next = id.wrapping_add(1);
    vm.set_id(id);
    vms.list.push(vm, GFP_KERNEL)?;
    Ok(id)
}

/// Removes the VM with this id, returning it so that the caller drops it unlocked.
pub(crate) fn remove(id: u32) -> Option<Arc<Vm>> {
    let mut vms = VMS.lock();
    let i = vms.list.iter().position(|v| v.id() == id)?;
    vms.list.remove(i).ok()
}

/// The VM with this id.
pub(crate) fn find(id: u32) -> Option<Arc<Vm>> {
    VMS.lock().list.iter().find(|v| v.id() == id).cloned()
}

/// The status of every VM, by id.
pub(crate) fn statuses() -> Result<KVec<KemuStatus>> {
    let vms = VMS.lock();
    let mut out = KVec::with_capacity(vms.list.len(), GFP_KERNEL)?;
    for v in vms.list.iter() {
        out.push(v.status(), GFP_KERNEL)?;
    }
    drop(vms);
    out.sort_unstable_by_key(|s| s.id);
    Ok(out)
}

/// Keeps the module loaded while a detached VM exists (`rmmod` then says "in use").
pub(crate) fn module_get() {
    // SAFETY: the module is loaded (this runs in one of its ioctls), so taking one more
    // reference on it is allowed.
    unsafe { bindings::__module_get(crate::KemuModule::THIS_MODULE.as_ptr()) };
}

/// Drops the reference taken by [`module_get`] for a detached VM.
pub(crate) fn module_put() {
    // SAFETY: pairs with one earlier `module_get`; this runs in an ioctl of an open file,
    // which holds its own module reference, so the module cannot go away under us.
    unsafe { bindings::module_put(crate::KemuModule::THIS_MODULE.as_ptr()) };
}
