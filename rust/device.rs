// SPDX-License-Identifier: GPL-2.0

//! `/dev/kemu`: one VM context per open file, and the ioctl dispatcher.

use core::sync::atomic::{AtomicU32, Ordering};

use kernel::{
    fs::File,
    miscdevice::{MiscDevice, MiscDeviceRegistration},
    new_mutex,
    prelude::*,
    sync::Mutex,
    uaccess::{UserPtr, UserSlice},
};

use crate::uapi;

/// Source of VM ids, unique for the module's lifetime.
static NEXT_VM_ID: AtomicU32 = AtomicU32::new(1);

/// What a VM context holds. Machine state arrives with VM creation (a later ABI step).
struct VmState {
    /// Ioctls served by this context, for the release log line.
    ioctls: u64,
}

/// One open of `/dev/kemu`: one VM context.
#[pin_data(PinnedDrop)]
pub(crate) struct KemuFile {
    id: u32,
    #[pin]
    state: Mutex<VmState>,
}

#[vtable]
impl MiscDevice for KemuFile {
    type Ptr = Pin<KBox<Self>>;

    fn open(_file: &File, _misc: &MiscDeviceRegistration<Self>) -> Result<Pin<KBox<Self>>> {
        let id = NEXT_VM_ID.fetch_add(1, Ordering::Relaxed);
        pr_debug!("vm {}: opened\n", id);
        KBox::try_pin_init(
            try_pin_init!(KemuFile {
                id,
                state <- new_mutex!(VmState { ioctls: 0 }),
            }),
            GFP_KERNEL,
        )
    }

    fn ioctl(me: Pin<&KemuFile>, _file: &File, cmd: u32, arg: usize) -> Result<isize> {
        me.state.lock().ioctls += 1;
        match cmd {
            uapi::KEMU_GET_VERSION => me.get_version(arg),
            _ => Err(ENOTTY),
        }
    }

    #[cfg(CONFIG_COMPAT)]
    fn compat_ioctl(me: Pin<&KemuFile>, file: &File, cmd: u32, arg: usize) -> Result<isize> {
        // Every kemu ioctl argument has the same layout for 32- and 64-bit callers.
        Self::ioctl(me, file, cmd, arg)
    }
}

impl KemuFile {
    fn get_version(&self, arg: usize) -> Result<isize> {
        let reply = uapi::KemuVersion {
            abi_major: uapi::KEMU_ABI_MAJOR,
            abi_minor: uapi::KEMU_ABI_MINOR,
            features: uapi::KEMU_FEATURES_ALL,
        };
        let mut writer =
            UserSlice::new(UserPtr::from_addr(arg), core::mem::size_of::<uapi::KemuVersion>()).writer();
        writer.write(&reply)?;
        Ok(0)
    }
}

#[pinned_drop]
impl PinnedDrop for KemuFile {
    fn drop(self: Pin<&mut Self>) {
        pr_debug!("vm {}: released after {} ioctls\n", self.id, self.state.lock().ioctls);
    }
}
