// SPDX-License-Identifier: GPL-2.0

//! `/dev/kemu`: each open file owns at most one VM, or is a window on a detached one;
//! the ioctl dispatcher.

use core::mem::size_of;

use kernel::{
    bindings,
    fs::{File, Kiocb},
    iov::{IovIterDest, IovIterSource},
    miscdevice::{MiscDevice, MiscDeviceRegistration},
    new_mutex,
    prelude::*,
    sync::{Arc, Mutex},
    transmute::{AsBytes, FromBytes},
    uaccess::{UserPtr, UserSlice, UserSliceWriter},
};

use crate::registry;
use crate::uapi;
use crate::vm::Vm;

/// The VM a file reaches.
struct FileVm {
    vm: Arc<Vm>,
    /// This file created the VM: closing it stops the VM (unless it was detached).
    owner: bool,
}

/// One open of `/dev/kemu`: empty until `KEMU_CREATE_VM` or `KEMU_ATTACH_VM`.
#[pin_data(PinnedDrop)]
pub(crate) struct KemuFile {
    #[pin]
    vm: Mutex<Option<FileVm>>,
}

fn read_arg<T: FromBytes>(arg: usize) -> Result<T> {
    UserSlice::new(UserPtr::from_addr(arg), size_of::<T>()).reader().read::<T>()
}

/// Reads an extensible struct of `usize` bytes (the size in the caller's ioctl number),
/// as `copy_struct_from_user`: fields the caller does not have read as zero, bytes it has
/// beyond this module's struct must be zero (`E2BIG`), and fewer than `min` bytes (the
/// struct's first version) is `EINVAL`.
fn read_arg_sized<T: FromBytes + AsBytes + Default>(arg: usize, usize: usize, min: usize) -> Result<T> {
    if usize < min {
        return Err(EINVAL);
    }
    let mut value = T::default();
    let ours = size_of::<T>();
    let mut reader = UserSlice::new(UserPtr::from_addr(arg), usize).reader();
    reader.read_slice(&mut value.as_bytes_mut()[..usize.min(ours)])?;
    let mut rest = usize.saturating_sub(ours);
    let mut chunk = [0u8; 64];
    while rest > 0 {
        let n = rest.min(chunk.len());
        reader.read_slice(&mut chunk[..n])?;
        if chunk[..n].iter().any(|&b| b != 0) {
            return Err(E2BIG);
        }
        rest -= n;
    }
    Ok(value)
}

/// Writes an extensible struct into the caller's `usize` bytes (`copy_struct_to_user`):
/// as much of `value` as fits, zeros past it; fewer than `min` bytes is `EINVAL`.
fn write_arg_sized<T: AsBytes>(arg: usize, usize: usize, min: usize, value: &T) -> Result {
    if usize < min {
        return Err(EINVAL);
    }
    let mut writer = UserSlice::new(UserPtr::from_addr(arg), usize).writer();
    write_sized(&mut writer, usize, value)
}

/// Writes `value` cut to, or zero-filled up to, `usize` bytes.
fn write_sized<T: AsBytes>(writer: &mut UserSliceWriter, usize: usize, value: &T) -> Result {
    let bytes = value.as_bytes();
    writer.write_slice(&bytes[..usize.min(bytes.len())])?;
    let mut rest = usize.saturating_sub(bytes.len());
    let zeros = [0u8; 64];
    while rest > 0 {
        let n = rest.min(zeros.len());
        writer.write_slice(&zeros[..n])?;
        rest -= n;
    }
    Ok(())
}

/// Ioctl numbers without their size field (see uapi's "Extensible structs").
mod nr {
    use crate::uapi::{self, ioc_without_size as n};
    pub(super) const GET_VERSION: u32 = n(uapi::KEMU_GET_VERSION);
    pub(super) const CREATE_VM: u32 = n(uapi::KEMU_CREATE_VM);
    pub(super) const LOAD: u32 = n(uapi::KEMU_LOAD);
    pub(super) const START: u32 = n(uapi::KEMU_START);
    pub(super) const STATUS: u32 = n(uapi::KEMU_STATUS);
    pub(super) const ATTACH_DISK: u32 = n(uapi::KEMU_ATTACH_DISK);
    pub(super) const LIST_VMS: u32 = n(uapi::KEMU_LIST_VMS);
}

/// Whether the file behind `kiocb` was opened (or set) with `O_NONBLOCK`.
fn nonblocking(kiocb: &Kiocb<'_, Pin<KBox<KemuFile>>>) -> bool {
    // SAFETY: `kiocb` is valid for this call and `ki_filp` is the file being accessed.
    let f_flags = unsafe { (*(*kiocb.as_raw()).ki_filp).f_flags };
    f_flags & bindings::O_NONBLOCK != 0
}

#[vtable]
impl MiscDevice for KemuFile {
    type Ptr = Pin<KBox<Self>>;

    fn open(_file: &File, _misc: &MiscDeviceRegistration<Self>) -> Result<Pin<KBox<Self>>> {
        KBox::try_pin_init(try_pin_init!(KemuFile { vm <- new_mutex!(None) }), GFP_KERNEL)
    }

    fn ioctl(me: Pin<&KemuFile>, _file: &File, cmd: u32, arg: usize) -> Result<isize> {
        // Struct arguments are extensible: matched without their size, which says how
        // big the caller's struct is.
        let size = uapi::ioc_size(cmd);
        match uapi::ioc_without_size(cmd) {
            nr::GET_VERSION => me.get_version(arg, size),
            nr::CREATE_VM => me.create_vm(arg, size),
            nr::LOAD => me.with_vm(|vm| vm.load(&read_arg_sized(arg, size, size_of::<uapi::KemuLoad>())?)),
            nr::ATTACH_DISK => {
                me.with_vm(|vm| vm.attach_disk(&read_arg_sized(arg, size, size_of::<uapi::KemuDisk>())?))
            }
            nr::START => me.with_vm(|vm| vm.start(&read_arg_sized(arg, size, uapi::KEMU_START_SIZE_VER0)?)),
            nr::STATUS => me.with_vm(|vm| write_arg_sized(arg, size, uapi::KEMU_STATUS_SIZE_VER0, &vm.status())),
            nr::LIST_VMS => list_vms(arg, size),
            _ => match cmd {
                uapi::KEMU_STOP => me.stop(),
                uapi::KEMU_DETACH => me.detach(),
                uapi::KEMU_ATTACH_VM => me.attach_vm(arg),
                _ => Err(ENOTTY),
            },
        }
    }

    fn read_iter(kiocb: Kiocb<'_, Self::Ptr>, iov: &mut IovIterDest<'_>) -> Result<usize> {
        let nonblock = nonblocking(&kiocb);
        // Take the VM's shared state and let go of the file's lock before sleeping.
        let shared = kiocb.file().vm.lock().as_ref().ok_or(EBADFD)?.vm.shared();
        shared.console_read(iov, nonblock)
    }

    fn write_iter(kiocb: Kiocb<'_, Self::Ptr>, iov: &mut IovIterSource<'_>) -> Result<usize> {
        let nonblock = nonblocking(&kiocb);
        let shared = kiocb.file().vm.lock().as_ref().ok_or(EBADFD)?.vm.shared();
        shared.console_write(iov, nonblock)
    }

    #[cfg(CONFIG_COMPAT)]
    fn compat_ioctl(me: Pin<&KemuFile>, file: &File, cmd: u32, arg: usize) -> Result<isize> {
        // Every kemu ioctl argument has the same layout for 32- and 64-bit callers.
        Self::ioctl(me, file, cmd, arg)
    }
}

/// `KEMU_LIST_VMS`: entries of the caller's `entry_size` (0: the ABI 1.3 size, which
/// every caller's array can take).
fn list_vms(arg: usize, size: usize) -> Result<isize> {
    let req: uapi::KemuVmList = read_arg_sized(arg, size, size_of::<uapi::KemuVmList>())?;
    let entry = match req.entry_size {
        0 => uapi::KEMU_STATUS_SIZE_VER0,
        e if (uapi::KEMU_STATUS_SIZE_VER0 as u32..=uapi::KEMU_LIST_ENTRY_MAX).contains(&e) => usize::try_from(e)?,
        _ => return Err(EINVAL),
    };
    let all = registry::statuses()?;
    let n = all.len().min(usize::try_from(req.capacity)?);
    let base = usize::try_from(req.statuses)?;
    let mut writer = UserSlice::new(UserPtr::from_addr(base), n.checked_mul(entry).ok_or(EINVAL)?).writer();
    for st in all.iter().take(n) {
        write_sized(&mut writer, entry, st)?;
    }
    Ok(isize::try_from(all.len())?)
}

impl KemuFile {
    fn get_version(&self, arg: usize, size: usize) -> Result<isize> {
        let reply = uapi::KemuVersion {
            abi_major: uapi::KEMU_ABI_MAJOR,
            abi_minor: uapi::KEMU_ABI_MINOR,
            features: if crate::jit::available() {
                uapi::KEMU_FEATURES_ALL
            } else {
                uapi::KEMU_FEATURES_ALL & !uapi::KEMU_FEATURE_TIER2
            },
        };
        write_arg_sized(arg, size, size_of::<uapi::KemuVersion>(), &reply)?;
        Ok(0)
    }

    fn create_vm(&self, arg: usize, size: usize) -> Result<isize> {
        let cfg: uapi::KemuVmConfig = read_arg_sized(arg, size, size_of::<uapi::KemuVmConfig>())?;
        let mut slot = self.vm.lock();
        if slot.is_some() {
            return Err(EEXIST);
        }
        let vm = Vm::create(&cfg)?;
        let id = registry::add(vm.clone())?;
        *slot = Some(FileVm { vm, owner: true });
        Ok(isize::try_from(id)?)
    }

    /// Runs `f` on this file's VM; `EBADFD` if the file has none.
    fn with_vm(&self, f: impl FnOnce(&Vm) -> Result) -> Result<isize> {
        let slot = self.vm.lock();
        let vm = &slot.as_ref().ok_or(EBADFD)?.vm;
        f(vm)?;
        Ok(0)
    }

    /// `KEMU_STOP`: a detached VM that gets stopped leaves the registry (and lets the
    /// module go) once no file reaches it any more.
    fn stop(&self) -> Result<isize> {
        let slot = self.vm.lock();
        let vm = &slot.as_ref().ok_or(EBADFD)?.vm;
        vm.stop()?;
        if vm.take_detached() {
            drop(registry::remove(vm.id()));
            registry::module_put();
        }
        Ok(0)
    }

    fn detach(&self) -> Result<isize> {
        let mut slot = self.vm.lock();
        let entry = slot.as_ref().ok_or(EBADFD)?;
        if !entry.owner {
            return Err(EPERM);
        }
        entry.vm.detach()?;
        registry::module_get();
        let id = entry.vm.id();
        *slot = None;
        Ok(isize::try_from(id)?)
    }

    fn attach_vm(&self, arg: usize) -> Result<isize> {
        let id: u32 = read_arg(arg)?;
        let mut slot = self.vm.lock();
        if slot.is_some() {
            return Err(EEXIST);
        }
        let vm = registry::find(id).ok_or(ENOENT)?;
        if !vm.is_detached() {
            return Err(EBUSY);
        }
        *slot = Some(FileVm { vm, owner: false });
        Ok(0)
    }
}

#[pinned_drop]
impl PinnedDrop for KemuFile {
    fn drop(self: Pin<&mut Self>) {
        let Some(entry) = self.vm.lock().take() else { return };
        if entry.owner {
            // The owner closed its file (or died): the VM goes away with it. It leaves the
            // registry once stopped, so that its id is not handed out while it still runs.
            entry.vm.shutdown();
            drop(registry::remove(entry.vm.id()));
        }
    }
}
