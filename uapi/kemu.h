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
#define KEMU_ABI_MINOR 6

#define KEMU_IOC_MAGIC 0xBE

/*
 * ABI 1.6: struct arguments are extensible. The module matches an ioctl by direction,
 * type and number and takes the caller's struct size from _IOC_SIZE: a shorter request
 * reads as zero-extended, a longer one must be zero past the module's struct (E2BIG),
 * one below the first version's size is EINVAL; a reply fills the caller's size, zero
 * past the module's struct. Modules before 1.6 match the exact number: use the size of
 * the module's minor version (KEMU_GET_VERSION) with them.
 */

/* VM lifecycle: CREATE_VM, LOAD, START, STOP, STATUS. */
#define KEMU_FEATURE_VM (1ULL << 0)
/* virtio-blk disks (ATTACH_DISK) and console input through write(). */
#define KEMU_FEATURE_DISK (1ULL << 1)
/* Detached VMs: DETACH, LIST_VMS, ATTACH_VM. */
#define KEMU_FEATURE_DETACH (1ULL << 2)
/* ABI 1.5: tier 2 (hot blocks through the kernel's BPF JIT), when its probe succeeded. */
#define KEMU_FEATURE_TIER2 (1ULL << 3)
#define KEMU_FEATURES_ALL (KEMU_FEATURE_VM | KEMU_FEATURE_DISK | KEMU_FEATURE_DETACH | KEMU_FEATURE_TIER2)

struct kemu_version {
	__u32 abi_major;
	__u32 abi_minor;
	__u64 features;
};

#define KEMU_GET_VERSION _IOR(KEMU_IOC_MAGIC, 0x00, struct kemu_version)

#define KEMU_RAM_MIN (16ULL << 20)
#define KEMU_RAM_MAX (4ULL << 30)
#define KEMU_RAM_ALIGN (2ULL << 20)
#define KEMU_TB_CACHE_DEFAULT (16ULL << 20)
#define KEMU_TB_CACHE_MAX (256ULL << 20)
#define KEMU_TB_CACHE_MIN (1ULL << 20)

/* KEMU_CREATE_VM: RAM at guest-physical 0x80000000, zeroed. */
struct kemu_vm_config {
	__u64 ram_size;		/* multiple of KEMU_RAM_ALIGN, MIN..MAX */
	__u64 tb_cache_size;	/* 0: ram_size / 4 within [KEMU_TB_CACHE_DEFAULT, 128 MiB] */
	__u32 harts;		/* must be 1 */
	__u32 flags;		/* must be 0 */
	__u64 reserved[4];	/* must be 0 */
};

#define KEMU_CREATE_VM _IOW(KEMU_IOC_MAGIC, 0x01, struct kemu_vm_config)

/* KEMU_LOAD: copy user memory into guest RAM before START; all or nothing. */
struct kemu_load {
	__u64 guest_addr;
	__u64 user_addr;
	__u64 size;
	__u64 flags;		/* must be 0 */
};

#define KEMU_LOAD _IOW(KEMU_IOC_MAGIC, 0x02, struct kemu_load)

#define KEMU_DISK_READONLY (1U << 0)
#define KEMU_CACHE_WRITEBACK 0
#define KEMU_CACHE_WRITETHROUGH 1
#define KEMU_DISK_SLOTS 8

/* KEMU_ATTACH_DISK: a regular file or block device fd, not O_APPEND (EINVAL), before START. */
struct kemu_disk {
	__s32 fd;
	__u32 slot;		/* 0..KEMU_DISK_SLOTS-1; slot 0 is the guest's /dev/vda */
	__u32 flags;		/* KEMU_DISK_* */
	__u32 cache_mode;	/* KEMU_CACHE_* */
	__u64 reserved[2];	/* must be 0 */
};

#define KEMU_ATTACH_DISK _IOW(KEMU_IOC_MAGIC, 0x06, struct kemu_disk)

/* KEMU_START: the hart starts in M-mode at pc with a0..a2 = args. */
struct kemu_start {
	__u64 pc;
	__u64 args[3];
	__u64 flags;		/* KEMU_START_TIER2 or 0 */
	__u64 tohost;		/* ABI 1.6: HTIF tohost address of a bare-metal program (0: none) */
	__u64 fromhost;		/* ABI 1.6: HTIF fromhost address (0: none) */
};

/* Size of struct kemu_start before ABI 1.6. */
#define KEMU_START_SIZE_VER0 40

/* ABI 1.5: hot blocks through tier 2 (EOPNOTSUPP without KEMU_FEATURE_TIER2). */
#define KEMU_START_TIER2 (1ULL << 0)
/* With KEMU_START_TIER2: flags >> 32 = tier-1 runs of a block before tier 2 compiles it
 * (0: KEMU_TIER2_THRESHOLD_DEFAULT). */
#define KEMU_START_T2_THRESHOLD_SHIFT 32
#define KEMU_TIER2_THRESHOLD_DEFAULT 4096

#define KEMU_START _IOW(KEMU_IOC_MAGIC, 0x03, struct kemu_start)
#define KEMU_STOP _IO(KEMU_IOC_MAGIC, 0x04)

#define KEMU_STATE_CREATED 1
#define KEMU_STATE_RUNNING 2
#define KEMU_STATE_STOPPED 3

#define KEMU_EXIT_NONE 0
#define KEMU_EXIT_POWEROFF 1
#define KEMU_EXIT_REBOOT 2
#define KEMU_EXIT_FAIL 3
#define KEMU_EXIT_STOPPED 4

struct kemu_status {
	__u32 id;
	__u32 state;		/* KEMU_STATE_* */
	__u32 exit_reason;	/* KEMU_EXIT_* */
	__u32 exit_code;
	__u64 ram_size;
	__u64 uptime_ns;
	__u64 instructions;
	__u64 tbs_translated;
	__u64 tlb_misses;
	__u64 traps;
	__u64 disk_requests;
	__u64 tbs_executed;	/* ABI 1.4: translated blocks executed */
	__u64 translate_ns;	/* ABI 1.4: time spent translating guest code */
	__u64 chained;		/* ABI 1.4: block transitions through a direct chain */
	__u64 t2_compiled;	/* ABI 1.5: blocks compiled by tier 2 */
	__u64 t2_rejected;	/* ABI 1.5: hot blocks tier 2 did not compile */
	__u64 t2_executed;	/* ABI 1.5: tier-2 program entries (a program runs a region of blocks) */
	__u64 t2_compile_ns;	/* ABI 1.5: vCPU time spent compiling (now: queueing) them */
	__u64 t2_jit_bytes;	/* ABI 1.6: bytes of tier-2 programs the VM has in use */
	__u64 t2_refused;	/* ABI 1.6: tier-2 programs the checker refused */
};

/* Size of struct kemu_status in ABI 1.3 (72), 1.4 (96), 1.5 (128). */
#define KEMU_STATUS_SIZE_VER0 72

#define KEMU_STATUS _IOR(KEMU_IOC_MAGIC, 0x05, struct kemu_status)

/* KEMU_DETACH: the running VM lives on in the module; returns its id. */
#define KEMU_DETACH _IO(KEMU_IOC_MAGIC, 0x07)

/* KEMU_LIST_VMS: statuses of all VMs, up to capacity; returns how many exist. */
struct kemu_vm_list {
	__u64 statuses;		/* user pointer to capacity entries of entry_size bytes */
	__u32 capacity;
	__u32 entry_size;	/* ABI 1.6: bytes per entry, KEMU_STATUS_SIZE_VER0..KEMU_LIST_ENTRY_MAX;
				 * 0 (before 1.6: flags, must be 0): KEMU_STATUS_SIZE_VER0 */
};

#define KEMU_LIST_ENTRY_MAX 4096

#define KEMU_LIST_VMS _IOW(KEMU_IOC_MAGIC, 0x08, struct kemu_vm_list)

/* KEMU_ATTACH_VM: this file becomes a window on a detached VM (by id). */
#define KEMU_ATTACH_VM _IOW(KEMU_IOC_MAGIC, 0x09, __u32)

#endif /* _UAPI_KEMU_H */
