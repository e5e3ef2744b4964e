// SPDX-License-Identifier: GPL-2.0

//! Glue between the shared ABI definitions (`uapi`) and the kernel's user-copy traits.

use core::mem::size_of;

use kernel::{
    ioctl::{_IO, _IOR, _IOW},
    transmute::{AsBytes, FromBytes},
};

use crate::uapi::{self, KemuDisk, KemuLoad, KemuStart, KemuStatus, KemuVersion, KemuVmConfig, KemuVmList};

// uapi encodes ioctl numbers itself (it is shared with userspace); they must be exactly
// what the kernel's own macros produce for this architecture.
const _: () = {
    const M: u32 = uapi::KEMU_IOC_MAGIC;
    assert!(uapi::KEMU_GET_VERSION == _IOR::<KemuVersion>(M, 0x00));
    assert!(uapi::KEMU_CREATE_VM == _IOW::<KemuVmConfig>(M, 0x01));
    assert!(uapi::KEMU_LOAD == _IOW::<KemuLoad>(M, 0x02));
    assert!(uapi::KEMU_START == _IOW::<KemuStart>(M, 0x03));
    assert!(uapi::KEMU_STOP == _IO(M, 0x04));
    assert!(uapi::KEMU_STATUS == _IOR::<KemuStatus>(M, 0x05));
    assert!(uapi::KEMU_ATTACH_DISK == _IOW::<KemuDisk>(M, 0x06));
    assert!(uapi::KEMU_DETACH == _IO(M, 0x07));
    assert!(uapi::KEMU_LIST_VMS == _IOW::<KemuVmList>(M, 0x08));
    assert!(uapi::KEMU_ATTACH_VM == _IOW::<u32>(M, 0x09));
};

// No padding anywhere in the ABI structs: each size is the sum of its fields' sizes, so
// every byte copied to userspace is initialised and every byte from userspace is a field.
const _: () = assert!(size_of::<KemuVersion>() == 4 + 4 + 8);
const _: () = assert!(size_of::<KemuVmConfig>() == 8 + 8 + 4 + 4 + 4 * 8);
const _: () = assert!(size_of::<KemuLoad>() == 4 * 8);
const _: () = assert!(size_of::<KemuStart>() == 8 + 3 * 8 + 8 + 2 * 8);
const _: () = assert!(size_of::<KemuStatus>() == 4 * 4 + 7 * 8 + 3 * 8 + 4 * 8 + 2 * 8);
const _: () = assert!(size_of::<KemuDisk>() == 4 * 4 + 2 * 8);
const _: () = assert!(size_of::<KemuVmList>() == 8 + 4 + 4);

// The first versions' sizes that older callers use are prefixes of today's structs.
const _: () = assert!(uapi::KEMU_STATUS_SIZE_VER0 <= size_of::<KemuStatus>());
const _: () = assert!(uapi::KEMU_START_SIZE_VER0 <= size_of::<KemuStart>());

// SAFETY (all impls below): each type is `repr(C)`, made only of integers and arrays of
// integers, with no padding (asserted above). So all of its bytes are initialised (AsBytes)
// and any byte pattern is a valid value (FromBytes).
unsafe impl AsBytes for KemuVersion {}
// SAFETY: see above.
unsafe impl FromBytes for KemuVersion {}
// SAFETY: see above.
unsafe impl AsBytes for KemuStatus {}
// SAFETY: see above.
unsafe impl FromBytes for KemuStatus {}
// SAFETY: see above.
unsafe impl FromBytes for KemuVmConfig {}
// SAFETY: see above.
unsafe impl AsBytes for KemuVmConfig {}
// SAFETY: see above.
unsafe impl FromBytes for KemuLoad {}
// SAFETY: see above.
unsafe impl AsBytes for KemuLoad {}
// SAFETY: see above.
unsafe impl FromBytes for KemuStart {}
// SAFETY: see above.
unsafe impl AsBytes for KemuStart {}
// SAFETY: see above.
unsafe impl FromBytes for KemuDisk {}
// SAFETY: see above.
unsafe impl AsBytes for KemuDisk {}
// SAFETY: see above.
unsafe impl FromBytes for KemuVmList {}
// SAFETY: see above.
unsafe impl AsBytes for KemuVmList {}
