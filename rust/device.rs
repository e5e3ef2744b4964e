// SPDX-License-Identifier: GPL-2.0

//! `/dev/kemu`: one VM context per open file, and the ioctl dispatcher.

use core::mem::size_of;
use core::sync::atomic::{AtomicU32, Ordering};

use kernel::{
    bindings,
    fs::{File, Kiocb},
    iov::{IovIterDest, IovIterSource},
    miscdevice::{MiscDevice, MiscDeviceRegistration},
    new_mutex,
    prelude::*,
    sync::Mutex,
    transmute::{AsBytes, FromBytes},
    uaccess::{UserPtr, UserSlice},
};

use crate::uapi;
use crate::vm::Vm;

/// Source of VM ids, unique for the module's lifetime.
static NEXT_VM_ID: AtomicU32 = AtomicU32::new(1);

/// Whether the file behind `kiocb` was opened (or set) with `O_NONBLOCK`.
fn nonblocking(kiocb: &Kiocb<'_, Pin<KBox<KemuFile>>>) -> bool {
    // SAFETY: `kiocb` is valid for this call and `ki_filp` is the file being accessed.
    let f_flags = unsafe { (*(*kiocb.as_raw()).ki_filp).f_flags };
    f_flags & bindings::O_NONBLOCK != 0
}

/// One open of `/dev/kemu`: empty until `KEMU_CREATE_VM` makes it a VM.
#[pin_data]
pub(crate) struct KemuFile {
    #[pin]
    vm: Mutex<Option<Pin<KBox<Vm>>>>,
}

fn read_arg<T: FromBytes>(arg: usize) -> Result<T> {
    UserSlice::new(UserPtr::from_addr(arg), size_of::<T>()).reader().read::<T>()
}

fn write_arg<T: AsBytes>(arg: usize, value: &T) -> Result {
    UserSlice::new(UserPtr::from_addr(arg), size_of::<T>()).writer().write(value)
}

#[vtable]
impl MiscDevice for KemuFile {
    type Ptr = Pin<KBox<Self>>;

    fn open(_file: &File, _misc: &MiscDeviceRegistration<Self>) -> Result<Pin<KBox<Self>>> {
        KBox::try_pin_init(try_pin_init!(KemuFile { vm <- new_mutex!(None) }), GFP_KERNEL)
    }

    fn ioctl(me: Pin<&KemuFile>, _file: &File, cmd: u32, arg: usize) -> Result<isize> {
        match cmd {
            uapi::KEMU_GET_VERSION => me.get_version(arg),
            uapi::KEMU_CREATE_VM => me.create_vm(arg),
            uapi::KEMU_LOAD => me.with_vm(|vm| vm.load(&read_arg(arg)?)),
            uapi::KEMU_START => me.with_vm(|vm| vm.start(&read_arg(arg)?)),
            uapi::KEMU_STOP => me.with_vm(|vm| vm.stop()),
            uapi::KEMU_STATUS => me.with_vm(|vm| write_arg(arg, &vm.status())),
            uapi::KEMU_ATTACH_DISK => me.with_vm(|vm| vm.attach_disk(&read_arg(arg)?)),
            _ => Err(ENOTTY),
        }
    }

    fn read_iter(kiocb: Kiocb<'_, Self::Ptr>, iov: &mut IovIterDest<'_>) -> Result<usize> {
        let nonblock = nonblocking(&kiocb);
        // Take the VM's shared state and let go of the file's lock before sleeping.
        let shared = kiocb.file().vm.lock().as_ref().ok_or(EBADFD)?.shared();
        shared.console_read(iov, nonblock)
    }

    fn write_iter(kiocb: Kiocb<'_, Self::Ptr>, iov: &mut IovIterSource<'_>) -> Result<usize> {
        let nonblock = nonblocking(&kiocb);
        let shared = kiocb.file().vm.lock().as_ref().ok_or(EBADFD)?.shared();
        shared.console_write(iov, nonblock)
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
        write_arg(arg, &reply)?;
        Ok(0)
    }

    fn create_vm(&self, arg: usize) -> Result<isize> {
        let cfg: uapi::KemuVmConfig = read_arg(arg)?;
        let mut slot = self.vm.lock();
        if slot.is_some() {
            return Err(EEXIST);
        }
        let id = NEXT_VM_ID.fetch_add(1, Ordering::Relaxed);
        *slot = Some(Vm::create(id, &cfg)?);
        Ok(isize::try_from(id)?)
    }

    /// Runs `f` on this file's VM; `EBADFD` if the file is not a VM yet.
    fn with_vm(&self, f: impl FnOnce(&Vm) -> Result) -> Result<isize> {
        let slot = self.vm.lock();
        let vm = slot.as_ref().ok_or(EBADFD)?;
        f(vm)?;
        Ok(0)
    }
}
