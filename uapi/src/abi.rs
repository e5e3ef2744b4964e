//! The `/dev/kemu` ioctl ABI (shared verbatim by kemu.ko and userspace).
//!
//! Ioctl numbers use the generic Linux encoding of `asm-generic/ioctl.h` (x86, arm64,
//! riscv...): `dir << 30 | size << 16 | type << 8 | nr`.
//!
//! Versioning: [`KEMU_ABI_MAJOR`] changes on any incompatible change; [`KEMU_ABI_MINOR`]
//! grows when ioctls or fields are added compatibly. Userspace must refuse to drive a
//! module whose major version differs from its own.
//!
//! Extensible structs (ABI 1.6, as Linux's `copy_struct_from_user`, openat2 and clone3):
//! the module recognizes an ioctl by its direction, type and number, and takes the
//! argument's size from the command number (`_IOC_SIZE`), so a struct can grow at its
//! end without a new number. For an argument the module reads, a caller's struct that is
//! shorter than the module's reads as if the missing fields were zero, and a longer one
//! must be zero past the module's size (`E2BIG` otherwise); one shorter than the
//! struct's first version (`*_SIZE_VER0`) is `EINVAL`. For a reply, the module writes as
//! many bytes as the caller asked for, zero past its own struct. Modules before ABI 1.6
//! match the exact number only: a newer caller uses the size of the module's minor
//! version ([`status_size`], [`start_size`]), and [`KEMU_LIST_VMS`] entries carry their
//! size ([`KemuVmList::entry_size`]).

/// Major ABI version: bumped on incompatible changes.
pub const KEMU_ABI_MAJOR: u32 = 1;
/// Minor ABI version: bumped on compatible additions.
pub const KEMU_ABI_MINOR: u32 = 6;

/// Ioctl type ("magic") byte of `/dev/kemu`, unused by in-tree drivers.
pub const KEMU_IOC_MAGIC: u32 = 0xBE;

const IOC_NRBITS: u32 = 8;
const IOC_TYPEBITS: u32 = 8;
const IOC_SIZEBITS: u32 = 14;
const IOC_NRSHIFT: u32 = 0;
const IOC_TYPESHIFT: u32 = IOC_NRSHIFT + IOC_NRBITS;
const IOC_SIZESHIFT: u32 = IOC_TYPESHIFT + IOC_TYPEBITS;
const IOC_DIRSHIFT: u32 = IOC_SIZESHIFT + IOC_SIZEBITS;

/// Ioctl direction: no data.
pub const IOC_NONE: u32 = 0;
/// Ioctl direction: userspace writes, the kernel reads.
pub const IOC_WRITE: u32 = 1;
/// Ioctl direction: the kernel writes, userspace reads.
pub const IOC_READ: u32 = 2;

/// Builds an ioctl number like the C `_IOC(dir, type, nr, size)` macro.
///
/// `size` must fit in 14 bits; a larger one fails constant evaluation.
pub const fn ioc(dir: u32, ty: u32, nr: u32, size: usize) -> u32 {
    assert!(size < (1 << IOC_SIZEBITS), "ioctl argument too large");
    assert!(ty < (1 << IOC_TYPEBITS) && nr < (1 << IOC_NRBITS));
    #[allow(clippy::cast_possible_truncation)] // Checked just above.
    let size = size as u32;
    (dir << IOC_DIRSHIFT) | (size << IOC_SIZESHIFT) | (ty << IOC_TYPESHIFT) | (nr << IOC_NRSHIFT)
}

/// Extracts the argument size from an ioctl number (C `_IOC_SIZE`).
pub const fn ioc_size(cmd: u32) -> usize {
    ((cmd >> IOC_SIZESHIFT) & ((1 << IOC_SIZEBITS) - 1)) as usize
}

/// An ioctl number without its size field: what identifies an extensible ioctl.
pub const fn ioc_without_size(cmd: u32) -> u32 {
    cmd & !(((1 << IOC_SIZEBITS) - 1) << IOC_SIZESHIFT)
}

/// `cmd` with its size field set to `size` (the caller's struct size).
pub const fn ioc_with_size(cmd: u32, size: usize) -> u32 {
    let dir = cmd >> IOC_DIRSHIFT;
    let ty = (cmd >> IOC_TYPESHIFT) & ((1 << IOC_TYPEBITS) - 1);
    let nr = cmd & ((1 << IOC_NRBITS) - 1);
    ioc(dir, ty, nr, size)
}

/// Extracts the type byte from an ioctl number (C `_IOC_TYPE`).
pub const fn ioc_type(cmd: u32) -> u32 {
    (cmd >> IOC_TYPESHIFT) & ((1 << IOC_TYPEBITS) - 1)
}

/// Reply of [`KEMU_GET_VERSION`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KemuVersion {
    /// The module's [`KEMU_ABI_MAJOR`].
    pub abi_major: u32,
    /// The module's [`KEMU_ABI_MINOR`].
    pub abi_minor: u32,
    /// Bitmap of `KEMU_FEATURE_*` flags the module implements.
    pub features: u64,
}

/// Feature: VM lifecycle (`KEMU_CREATE_VM`, `KEMU_LOAD`, `KEMU_START`, `KEMU_STOP`,
/// `KEMU_STATUS`) with the hart running on a kthread.
pub const KEMU_FEATURE_VM: u64 = 1 << 0;

/// Feature: virtio-blk disks on the in-kernel VFS (`KEMU_ATTACH_DISK`), served by a
/// `kemu-dma/<vm>` kthread, and console input through `write()`.
pub const KEMU_FEATURE_DISK: u64 = 1 << 1;

/// Feature: VMs that outlive their file (`KEMU_DETACH`), listed with `KEMU_LIST_VMS` and
/// reached again with `KEMU_ATTACH_VM`.
pub const KEMU_FEATURE_DETACH: u64 = 1 << 2;

/// Feature (ABI 1.5): tier 2, hot guest blocks compiled by the kernel's BPF JIT
/// ([`KEMU_START_TIER2`]). Reported only when the module's probe of the JIT at load
/// time succeeded.
pub const KEMU_FEATURE_TIER2: u64 = 1 << 3;

/// Every feature flag this ABI version defines.
pub const KEMU_FEATURES_ALL: u64 = KEMU_FEATURE_VM | KEMU_FEATURE_DISK | KEMU_FEATURE_DETACH | KEMU_FEATURE_TIER2;

/// `_IOR(KEMU_IOC_MAGIC, 0x00, struct kemu_version)`: the module's ABI version and
/// features. Valid on any open `/dev/kemu`.
pub const KEMU_GET_VERSION: u32 =
    ioc(IOC_READ, KEMU_IOC_MAGIC, 0x00, core::mem::size_of::<KemuVersion>());

/// Smallest guest RAM (16 MiB).
pub const KEMU_RAM_MIN: u64 = 16 << 20;
/// Largest guest RAM kemu.ko accepts (4 GiB).
pub const KEMU_RAM_MAX: u64 = 4 << 30;
/// Guest RAM sizes are multiples of this (2 MiB).
pub const KEMU_RAM_ALIGN: u64 = 2 << 20;
/// Smallest default translation-cache size (16 MiB). A config asking for 0 gets a
/// quarter of its RAM, at least this and at most 128 MiB, less (down to this) where the
/// host has no room for it (modules of 2026-12-07 and before: an eighth, at most 64
/// MiB; older ones: always this).
pub const KEMU_TB_CACHE_DEFAULT: u64 = 16 << 20;
/// Largest translation cache (256 MiB).
pub const KEMU_TB_CACHE_MAX: u64 = 256 << 20;
/// Smallest translation cache (1 MiB).
pub const KEMU_TB_CACHE_MIN: u64 = 1 << 20;

/// Argument of [`KEMU_CREATE_VM`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KemuVmConfig {
    /// Guest RAM in bytes: a multiple of [`KEMU_RAM_ALIGN`] in
    /// [[`KEMU_RAM_MIN`], [`KEMU_RAM_MAX`]]. RAM starts at guest-physical 0x8000_0000.
    pub ram_size: u64,
    /// Translation-cache size in bytes (0: a quarter of `ram_size` within
    /// [[`KEMU_TB_CACHE_DEFAULT`], 128 MiB], less where the host has no room).
    pub tb_cache_size: u64,
    /// Number of harts: must be 1.
    pub harts: u32,
    /// No flags are defined: must be 0.
    pub flags: u32,
    /// Must be zero.
    pub reserved: [u64; 4],
}

/// `_IOW(KEMU_IOC_MAGIC, 0x01, struct kemu_vm_config)`: turns this open file into a VM
/// with zeroed RAM (charged to the caller's memory cgroup). Once per file: `EEXIST` after.
pub const KEMU_CREATE_VM: u32 = ioc(IOC_WRITE, KEMU_IOC_MAGIC, 0x01, core::mem::size_of::<KemuVmConfig>());

/// Argument of [`KEMU_LOAD`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KemuLoad {
    /// Guest-physical destination.
    pub guest_addr: u64,
    /// Userspace address of the bytes.
    pub user_addr: u64,
    /// Number of bytes.
    pub size: u64,
    /// No flags are defined: must be 0.
    pub flags: u64,
}

/// `_IOW(KEMU_IOC_MAGIC, 0x02, struct kemu_load)`: copies a user buffer into guest RAM
/// before the VM starts. A range not entirely inside RAM is `EINVAL` and copies nothing.
pub const KEMU_LOAD: u32 = ioc(IOC_WRITE, KEMU_IOC_MAGIC, 0x02, core::mem::size_of::<KemuLoad>());

/// [`KemuDisk::flags`]: the guest sees a read-only disk (virtio-blk `RO`).
pub const KEMU_DISK_READONLY: u32 = 1 << 0;
/// [`KemuDisk::cache_mode`]: writes reach the page cache; a guest FLUSH fsyncs.
pub const KEMU_CACHE_WRITEBACK: u32 = 0;
/// [`KemuDisk::cache_mode`]: every write is fsynced before the guest sees it complete.
pub const KEMU_CACHE_WRITETHROUGH: u32 = 1;
/// Number of virtio-mmio slots a disk can occupy (0..8).
pub const KEMU_DISK_SLOTS: u32 = 8;

/// Argument of [`KEMU_ATTACH_DISK`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KemuDisk {
    /// An open file descriptor of the caller: a regular file or a block device, open
    /// read-write unless [`KEMU_DISK_READONLY`]. The module keeps its own reference.
    pub fd: i32,
    /// virtio-mmio slot, below [`KEMU_DISK_SLOTS`] (the guest's `/dev/vda` is slot 0).
    pub slot: u32,
    /// `KEMU_DISK_*` flags.
    pub flags: u32,
    /// `KEMU_CACHE_WRITEBACK` or `KEMU_CACHE_WRITETHROUGH`.
    pub cache_mode: u32,
    /// Must be zero.
    pub reserved: [u64; 2],
}

/// `_IOW(KEMU_IOC_MAGIC, 0x06, struct kemu_disk)`: attaches a disk before START.
/// `EBADF`: bad fd, or not writable for a writable disk; `EINVAL`: not a file or block
/// device, opened with `O_APPEND` (writes would go to the end of the file, not where the
/// guest asks), bad slot/flags/mode; `EEXIST`: slot taken; `EBUSY`: VM already started.
/// A disk whose fd is switched to `O_APPEND` later (fcntl) fails the guest's writes.
pub const KEMU_ATTACH_DISK: u32 = ioc(IOC_WRITE, KEMU_IOC_MAGIC, 0x06, core::mem::size_of::<KemuDisk>());

/// Argument of [`KEMU_START`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KemuStart {
    /// Initial pc (the hart starts in M-mode).
    pub pc: u64,
    /// Initial a0, a1, a2 (hart id, device tree, firmware info by convention).
    pub args: [u64; 3],
    /// [`KEMU_START_TIER2`] or 0; other bits: `EINVAL`.
    pub flags: u64,
    /// ABI 1.6: guest-physical address of a bare-metal program's HTIF `tohost` word (0:
    /// none). The module polls it between slices, as `kemuctl run` does: an exit
    /// request ends the VM (code 0: `KEMU_EXIT_POWEROFF`, else `KEMU_EXIT_FAIL` with
    /// that code), a character goes to the console.
    pub tohost: u64,
    /// ABI 1.6: guest-physical address of `fromhost` (0: none), acknowledged after a
    /// character.
    pub fromhost: u64,
}

/// Size of [`KemuStart`] before ABI 1.6 (no HTIF fields).
pub const KEMU_START_SIZE_VER0: usize = 40;

/// The size of [`KemuStart`] a module of ABI minor `minor` takes (pre-1.6 modules match
/// the exact size).
pub const fn start_size(minor: u32) -> usize {
    if minor >= 6 {
        core::mem::size_of::<KemuStart>()
    } else {
        KEMU_START_SIZE_VER0
    }
}

/// [`KemuStart::flags`] (ABI 1.5): run hot blocks through tier 2 (the kernel's BPF
/// JIT). `EOPNOTSUPP` when the module lacks [`KEMU_FEATURE_TIER2`].
pub const KEMU_START_TIER2: u64 = 1 << 0;
/// [`KemuStart::flags`] (ABI 1.5), with [`KEMU_START_TIER2`]: bits 32-63 are how many
/// times tier 1 runs a block before tier 2 compiles it (0: the module's default,
/// [`KEMU_TIER2_THRESHOLD_DEFAULT`]).
pub const KEMU_START_T2_THRESHOLD_SHIFT: u32 = 32;
/// The module's default tier-2 threshold. The kernel's BPF JIT is slow to compile a
/// block (allocating the `bpf_prog`, the JIT's passes, copying into the executable
/// pack), so only blocks that stay hot pay off; 4096 was about the best for both
/// Debian's boot and pi in the bench VM (see docs/journal-code.md).
pub const KEMU_TIER2_THRESHOLD_DEFAULT: u32 = 4096;

/// `_IOW(KEMU_IOC_MAGIC, 0x03, struct kemu_start)`: starts the VM's hart on a kthread.
/// Once: `EBUSY` while running, `EINVAL` after it stopped.
pub const KEMU_START: u32 = ioc(IOC_WRITE, KEMU_IOC_MAGIC, 0x03, core::mem::size_of::<KemuStart>());

/// `_IO(KEMU_IOC_MAGIC, 0x04)`: stops a running VM and waits for its threads to end.
pub const KEMU_STOP: u32 = ioc(IOC_NONE, KEMU_IOC_MAGIC, 0x04, 0);

/// [`KemuStatus::state`]: created, not started.
pub const KEMU_STATE_CREATED: u32 = 1;
/// [`KemuStatus::state`]: running.
pub const KEMU_STATE_RUNNING: u32 = 2;
/// [`KemuStatus::state`]: stopped (see the exit reason).
pub const KEMU_STATE_STOPPED: u32 = 3;

/// [`KemuStatus::exit_reason`]: still running or never started.
pub const KEMU_EXIT_NONE: u32 = 0;
/// The guest powered off (SiFive test device 0x5555); exit code 0.
pub const KEMU_EXIT_POWEROFF: u32 = 1;
/// The guest asked for a reboot (0x7777).
pub const KEMU_EXIT_REBOOT: u32 = 2;
/// The guest reported failure (`code << 16 | 0x3333`); the code is in `exit_code`.
pub const KEMU_EXIT_FAIL: u32 = 3;
/// Stopped by `KEMU_STOP`, the last close or the owner's death.
pub const KEMU_EXIT_STOPPED: u32 = 4;

/// Declares [`KemuStatus`] and [`STATUS_COUNTERS`] from one list: the header fields,
/// then the counters (all `u64`), each with the ABI minor version that added it.
macro_rules! kemu_status {
    (
        header { $($(#[$hdoc:meta])* $h:ident: $ht:ty,)* }
        counters { $($(#[$cdoc:meta])* $c:ident since $minor:literal,)* }
    ) => {
        /// Reply of [`KEMU_STATUS`].
        #[repr(C)]
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
        pub struct KemuStatus {
            $($(#[$hdoc])* pub $h: $ht,)*
            $($(#[$cdoc])* pub $c: u64,)*
        }

        /// The counters of [`KemuStatus`], in struct order: the field's name (also
        /// `kemuctl`'s JSON key) and the ABI minor version that added it (older modules
        /// leave it 0).
        pub const STATUS_COUNTERS: [(&str, u32); [$(stringify!($c),)*].len()] = [$((stringify!($c), $minor),)*];

        impl KemuStatus {
            /// The counters' values, in the order of [`STATUS_COUNTERS`].
            pub fn counters(&self) -> [u64; STATUS_COUNTERS.len()] {
                [$(self.$c,)*]
            }

            /// Sets the counters from values in the order of [`STATUS_COUNTERS`].
            pub fn set_counters(&mut self, values: [u64; STATUS_COUNTERS.len()]) {
                let [$($c,)*] = values;
                $(self.$c = $c;)*
            }
        }
    };
}

kemu_status! {
    header {
        /// VM id (unique while the module is loaded).
        id: u32,
        /// One of the `KEMU_STATE_*` values.
        state: u32,
        /// One of the `KEMU_EXIT_*` values.
        exit_reason: u32,
        /// The guest's exit code (for [`KEMU_EXIT_FAIL`]; 0 otherwise).
        exit_code: u32,
        /// Guest RAM in bytes.
        ram_size: u64,
        /// Nanoseconds since START (frozen when stopped).
        uptime_ns: u64,
    }
    counters {
        /// Guest instructions retired.
        instructions since 0,
        /// Translated blocks created.
        tbs_translated since 0,
        /// Soft-MMU TLB misses.
        tlb_misses since 0,
        /// Traps taken by the hart.
        traps since 0,
        /// virtio-blk requests served.
        disk_requests since 0,
        /// Translated blocks executed (ABI 1.4; 0 from older modules).
        tbs_executed since 4,
        /// Nanoseconds the hart spent translating guest code (ABI 1.4).
        translate_ns since 4,
        /// Block transitions through a direct chain, without a lookup (ABI 1.4).
        chained since 4,
        /// Blocks compiled by tier 2 (ABI 1.5).
        t2_compiled since 5,
        /// Hot blocks tier 2 did not compile (ABI 1.5).
        t2_rejected since 5,
        /// Tier-2 program entries (ABI 1.5; a program runs a region of blocks, which count
        /// once per entry).
        t2_executed since 5,
        /// Nanoseconds the vCPU spent lowering and JIT-compiling tier-2 blocks (ABI 1.5;
        /// since the module compiles on its `kemu-jit/<id>` thread: lowering and
        /// queueing them, and checking the regions compiled again, which the thread
        /// checks too).
        t2_compile_ns since 5,
        /// Bytes of tier-2 programs the VM has in use now (ABI 1.6), against its budget
        /// (released programs waiting to be freed are not counted).
        t2_jit_bytes since 6,
        /// Tier-2 programs the checker refused (ABI 1.6; a lowering bug if not 0).
        t2_refused since 6,
    }
}

/// Size of [`KemuStatus`] in ABI 1.3 (the first with [`KEMU_LIST_VMS`]): the legacy
/// entry size of that list, and the smallest reply.
pub const KEMU_STATUS_SIZE_VER0: usize = 72;

/// The size of [`KemuStatus`] a module of ABI minor `minor` writes (pre-1.6 modules
/// match the exact size, and write entries of it in [`KEMU_LIST_VMS`]).
pub const fn status_size(minor: u32) -> usize {
    match minor {
        0..=3 => KEMU_STATUS_SIZE_VER0,
        4 => 96,
        5 => 128,
        _ => core::mem::size_of::<KemuStatus>(),
    }
}

/// `_IOR(KEMU_IOC_MAGIC, 0x05, struct kemu_status)`: the VM's state and counters.
pub const KEMU_STATUS: u32 = ioc(IOC_READ, KEMU_IOC_MAGIC, 0x05, core::mem::size_of::<KemuStatus>());

/// `_IO(KEMU_IOC_MAGIC, 0x07)`: hands this file's running VM to the module: it runs on
/// with no file open (the module stays loaded meanwhile) and this file is empty again.
/// Returns the VM id. `EINVAL` unless the VM was started (one that already ended is
/// detached too, since 1.6.1: its console output and exit status stay until it is
/// attached again); `EPERM` on a file that only attached.
pub const KEMU_DETACH: u32 = ioc(IOC_NONE, KEMU_IOC_MAGIC, 0x07, 0);

/// Argument of [`KEMU_LIST_VMS`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KemuVmList {
    /// Userspace address of an array of `capacity` entries of `entry_size` bytes.
    pub statuses: u64,
    /// Entries the array holds.
    pub capacity: u32,
    /// ABI 1.6: bytes per entry, at least [`KEMU_STATUS_SIZE_VER0`] and at most 4096:
    /// each entry is a [`KemuStatus`] cut to (or zero-filled up to) that size. 0 (the
    /// only value before 1.6, when this field was `flags`) means entries of
    /// [`KEMU_STATUS_SIZE_VER0`] bytes: the one size every caller's array can take.
    pub entry_size: u32,
}

/// Largest [`KemuVmList::entry_size`].
pub const KEMU_LIST_ENTRY_MAX: u32 = 4096;

/// `_IOW(KEMU_IOC_MAGIC, 0x08, struct kemu_vm_list)`: fills the array with the status of
/// every VM (attached or detached, by id), up to `capacity`; returns how many VMs exist.
/// Valid on any open file. `EINVAL`: an `entry_size` out of range.
pub const KEMU_LIST_VMS: u32 = ioc(IOC_WRITE, KEMU_IOC_MAGIC, 0x08, core::mem::size_of::<KemuVmList>());

/// `_IOW(KEMU_IOC_MAGIC, 0x09, __u32)`: makes this (empty) file a window on the detached
/// VM with this id: console `read()`/`write()`, `KEMU_STATUS` and `KEMU_STOP` work on it,
/// and closing the file leaves the VM running. `ENOENT`: no such VM; `EBUSY`: the VM
/// belongs to another file; `EEXIST`: this file already has a VM.
pub const KEMU_ATTACH_VM: u32 = ioc(IOC_WRITE, KEMU_IOC_MAGIC, 0x09, core::mem::size_of::<u32>());

/// Every ioctl of this ABI by its C name, for the C-header agreement test and tools.
pub const KEMU_IOCTLS: &[(&str, u32)] = &[
    ("KEMU_GET_VERSION", KEMU_GET_VERSION),
    ("KEMU_CREATE_VM", KEMU_CREATE_VM),
    ("KEMU_LOAD", KEMU_LOAD),
    ("KEMU_START", KEMU_START),
    ("KEMU_STOP", KEMU_STOP),
    ("KEMU_STATUS", KEMU_STATUS),
    ("KEMU_ATTACH_DISK", KEMU_ATTACH_DISK),
    ("KEMU_DETACH", KEMU_DETACH),
    ("KEMU_LIST_VMS", KEMU_LIST_VMS),
    ("KEMU_ATTACH_VM", KEMU_ATTACH_VM),
];
