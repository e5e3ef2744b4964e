//! The disk image behind a virtio-blk device: positional reads and writes on the file,
//! fdatasync for a guest flush (writeback) or after every write (write-through).

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::Path;

use kdevices::host::{BlockError, BlockStorage};

/// A raw disk image file.
pub(crate) struct FileDisk {
    file: File,
    size: u64,
    read_only: bool,
    /// Every write is followed by fdatasync before it completes.
    writethrough: bool,
    /// fdatasync calls made (for the statistics).
    syncs: u64,
}

impl FileDisk {
    /// Opens `path`, for reading only with `read_only`; with `writethrough` every write
    /// is durable (fdatasync) before it completes, otherwise only a guest flush syncs.
    pub(crate) fn open(path: &Path, read_only: bool, writethrough: bool) -> Result<Self, String> {
        let file = OpenOptions::new()
            .read(true)
            .write(!read_only)
            .open(path)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        // Seeking to the end gives the size of block devices too (their metadata says 0).
        let size = (&file).seek(SeekFrom::End(0)).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(Self { file, size, read_only, writethrough, syncs: 0 })
    }

    /// fdatasync calls made so far.
    pub(crate) fn syncs(&self) -> u64 {
        self.syncs
    }

    fn sync(&mut self) -> Result<(), BlockError> {
        self.syncs += 1;
        self.file.sync_data().map_err(|_| BlockError::Io)
    }

    fn check(&self, offset: u64, len: usize) -> Result<(), BlockError> {
        match offset.checked_add(len as u64) {
            Some(end) if end <= self.size => Ok(()),
            _ => Err(BlockError::OutOfRange),
        }
    }
}

impl BlockStorage for FileDisk {
    fn size_bytes(&self) -> u64 {
        self.size
    }
    fn read_only(&self) -> bool {
        self.read_only
    }
    fn write_through(&self) -> bool {
        self.writethrough
    }
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), BlockError> {
        self.check(offset, buf.len())?;
        self.file.read_exact_at(buf, offset).map_err(|_| BlockError::Io)
    }
    fn write_at(&mut self, offset: u64, data: &[u8]) -> Result<(), BlockError> {
        if self.read_only {
            return Err(BlockError::ReadOnly);
        }
        self.check(offset, data.len())?;
        // (Write-through: the device syncs before it completes the write, see
        // `BlockStorage::write_through`.)
        self.file.write_all_at(data, offset).map_err(|_| BlockError::Io)
    }
    fn flush(&mut self) -> Result<(), BlockError> {
        if self.read_only {
            return Ok(());
        }
        self.sync()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_and_read_only() {
        let dir = std::env::temp_dir().join(format!("kemu-disk-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("d.img");
        std::fs::write(&p, vec![7u8; 1024]).unwrap();
        let mut d = FileDisk::open(&p, false, false).unwrap();
        assert_eq!(d.size_bytes(), 1024);
        d.write_at(512, &[1, 2, 3]).unwrap();
        let mut b = [0u8; 4];
        d.read_at(511, &mut b).unwrap();
        assert_eq!(b, [7, 1, 2, 3]);
        assert_eq!(d.read_at(1022, &mut b), Err(BlockError::OutOfRange));
        assert_eq!(d.write_at(u64::MAX, &b), Err(BlockError::OutOfRange));
        assert_eq!(d.syncs(), 0, "writeback: no sync before a flush");
        d.flush().unwrap();
        assert_eq!(d.syncs(), 1);
        let mut r = FileDisk::open(&p, true, false).unwrap();
        assert!(r.read_only());
        assert_eq!(r.write_at(0, &b), Err(BlockError::ReadOnly));
        assert_eq!(std::fs::read(&p).unwrap()[512..515], [1, 2, 3]);
        // Write-through: the device syncs (a flush after each batch of writes), the
        // writes themselves do not.
        let mut w = FileDisk::open(&p, false, true).unwrap();
        assert!(w.write_through() && !d.write_through());
        w.write_at(1020, &[9, 8, 7, 6]).unwrap();
        w.write_at(0, &[5]).unwrap();
        assert_eq!(w.syncs(), 0);
        w.flush().unwrap();
        assert_eq!(w.syncs(), 1);
        let mut b1 = [0u8; 1];
        w.read_at(0, &mut b1).unwrap();
        assert_eq!(b1, [5]);
        assert_eq!(std::fs::read(&p).unwrap()[1020..], [9, 8, 7, 6]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
