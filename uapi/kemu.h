/* SPDX-License-Identifier: GPL-2.0-only WITH Linux-syscall-note */
/*
 * kemu: the /dev/kemu ioctl ABI for C users.
 *
 * The Rust definitions in uapi/src/abi.rs are the source of truth; a test in the uapi
 * crate compiles this header and checks that every number, size and offset agrees.
 */
#ifndef _UAPI_KEMU_H
#define _UAPI_KEMU_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define KEMU_ABI_MAJOR 1
#define KEMU_ABI_MINOR 0

#define KEMU_IOC_MAGIC 0xBE

/* No feature flags are defined in ABI 1.0 yet. */
#define KEMU_FEATURES_ALL 0ULL

struct kemu_version {
	__u32 abi_major;
	__u32 abi_minor;
	__u64 features;
};

#define KEMU_GET_VERSION _IOR(KEMU_IOC_MAGIC, 0x00, struct kemu_version)

#endif /* _UAPI_KEMU_H */
