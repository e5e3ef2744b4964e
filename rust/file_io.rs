// SPDX-License-Identifier: GPL-2.0

//! Disk images on the in-kernel VFS: the one place that calls `kernel_read`,
//! `kernel_write` and `vfs_fsync` (7.3 has no Rust abstraction for them). I/O always uses
//! explicit positions, never the file's own position, which userspace shares.

use kernel::{
    bindings,
    fs::{file, File, LocalFile},
    prelude::*,
    sync::aref::ARef,
};

use crate::kdevices::host::{BlockError, BlockStorage};

/// A disk image attached to a VM: a regular file or a block device, held by reference.
pub(crate) struct DiskFile {
    file: ARef<File>,
    size: u64,
    read_only: bool,
    write_through: bool,
}

impl DiskFile {
    /// Takes a reference on the file behind `fd` of the calling process (like loop's
    /// LOOP_SET_FD). `EBADF`: not an open fd, or not open for writing while
    /// `read_only` is false; `EINVAL`: neither a regular file nor a block device, or
    /// opened with `O_APPEND` (a write there goes to the end of the file, whatever
    /// position it names; as splice(2) refuses such a target).
    pub(crate) fn from_fd(fd: i32, read_only: bool, write_through: bool) -> Result<Self> {
        let fd = u32::try_from(fd).map_err(|_| EBADF)?;
        let local = LocalFile::fget(fd)?;
        // SAFETY: called from an ioctl, which holds no `fdget_pos` on this thread.
        let file = unsafe { LocalFile::assume_no_fdget_pos(local) };
        let raw = file.as_ptr();
        // SAFETY: `raw` is a live file (we hold a reference); `f_inode` and `f_mapping`
        // are set for every open file and stay valid while it is open. For a block device
        // `f_mapping->host` is the device's inode, whose size is the device's.
        let (mode, size) = unsafe {
            let mode = u32::from((*(*raw).f_inode).i_mode);
            let host = (*(*raw).f_mapping).host;
            (mode, (*host).i_size)
        };
        let kind = mode & bindings::S_IFMT;
        if kind != bindings::S_IFREG && kind != bindings::S_IFBLK {
            return Err(EINVAL);
        }
        let access = file.flags() & file::flags::O_ACCMODE;
        if access == file::flags::O_WRONLY || (!read_only && access != file::flags::O_RDWR) {
            return Err(EBADF);
        }
        if file.flags() & file::flags::O_APPEND != 0 {
            return Err(EINVAL);
        }
        let size = u64::try_from(size).map_err(|_| EINVAL)?;
        Ok(Self { file, size, read_only, write_through })
    }

    fn check(&self, offset: u64, len: usize) -> Result<i64, BlockError> {
        let end = offset.checked_add(len as u64).ok_or(BlockError::OutOfRange)?;
        if end > self.size {
            return Err(BlockError::OutOfRange);
        }
        i64::try_from(offset).map_err(|_| BlockError::OutOfRange)
    }

    /// fsync (data only), as for a guest FLUSH.
    pub(crate) fn sync(&self) -> Result<(), BlockError> {
        if self.read_only {
            return Ok(());
        }
        // SAFETY: the file is live (we hold a reference).
        let r = unsafe { bindings::vfs_fsync(self.file.as_ptr(), 1) };
        if r == 0 { Ok(()) } else { Err(BlockError::Io) }
    }
}

impl BlockStorage for DiskFile {
    fn size_bytes(&self) -> u64 {
        self.size
    }

    fn read_only(&self) -> bool {
        self.read_only
    }

    fn write_through(&self) -> bool {
        self.write_through
    }

    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), BlockError> {
        let mut pos = self.check(offset, buf.len())?;
        let mut done = 0;
        while done < buf.len() {
            let rest = &mut buf[done..];
            // SAFETY: the file is live; `rest` is a writable kernel buffer of the given
            // length; `pos` is a local position (the file's own one is not touched).
            let n = unsafe { bindings::kernel_read(self.file.as_ptr(), rest.as_mut_ptr().cast(), rest.len(), &mut pos) };
            // 0 (end of file inside the checked range) or an error: the guest gets IOERR.
            let n = usize::try_from(n).ok().filter(|&n| n > 0).ok_or(BlockError::Io)?;
            done += n.min(rest.len());
        }
        Ok(())
    }

    fn write_at(&mut self, offset: u64, data: &[u8]) -> Result<(), BlockError> {
        if self.read_only {
            return Err(BlockError::ReadOnly);
        }
        let mut pos = self.check(offset, data.len())?;
        if self.file.flags() & file::flags::O_APPEND != 0 {
            // Set with fcntl(F_SETFL) after the attach: the write would land at the end of
            // the file, not at `pos`. The guest gets an I/O error instead.
            return Err(BlockError::Io);
        }
        let mut done = 0;
        while done < data.len() {
            let rest = &data[done..];
            // SAFETY: as in `read_at`, with a readable buffer.
            let n = unsafe { bindings::kernel_write(self.file.as_ptr(), rest.as_ptr().cast(), rest.len(), &mut pos) };
            // A short write is retried; no progress at all is an I/O error for the guest.
            let n = usize::try_from(n).ok().filter(|&n| n > 0).ok_or(BlockError::Io)?;
            done += n.min(rest.len());
        }
        // (Write-through: the device syncs before it completes the write, see
        // `BlockStorage::write_through`.)
        Ok(())
    }

    fn flush(&mut self) -> Result<(), BlockError> {
        self.sync()
    }
}
