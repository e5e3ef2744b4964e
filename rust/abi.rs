// SPDX-License-Identifier: GPL-2.0

//! Glue between the shared ABI definitions (`uapi`) and the kernel's user-copy traits.

use kernel::{ioctl::_IOR, transmute::AsBytes};

use crate::uapi::{self, KemuVersion};

// uapi encodes ioctl numbers itself (it is shared with userspace); they must be exactly
// what the kernel's own macros produce for this architecture.
const _: () = assert!(uapi::KEMU_GET_VERSION == _IOR::<KemuVersion>(uapi::KEMU_IOC_MAGIC, 0x00));

// No padding anywhere in `KemuVersion`: every byte copied to userspace is initialised.
const _: () = assert!(
    core::mem::size_of::<KemuVersion>()
        == 2 * core::mem::size_of::<u32>() + core::mem::size_of::<u64>()
);

// SAFETY: `KemuVersion` is `repr(C)` with only integer fields and, as asserted above, no
// padding, so all of its bytes are initialised and any of its values may be exposed.
unsafe impl AsBytes for KemuVersion {}
