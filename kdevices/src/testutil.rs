//! Test backends for the host traits: guest RAM and a disk in `Vec`s, a settable clock, a
//! console that records output and can be told to refuse it. Compiled only for tests;
//! `tests/*.rs` include this file by `#[path]` next to a `use kdevices::host;`.

#![allow(dead_code, unreachable_pub)]

extern crate alloc;

use alloc::vec;
use alloc::vec::Vec;
use core::cell::Cell;

use super::host::{
    BlockError, BlockStorage, ConsoleSink, ConsoleSource, GuestMemory, MemError, MonotonicClock, WallClock,
};

/// Guest RAM of `len` bytes at guest-physical `base`.
pub struct VecMemory {
    pub base: u64,
    pub bytes: Vec<u8>,
}

impl VecMemory {
    pub fn new(base: u64, len: usize) -> Self {
        Self { base, bytes: vec![0; len] }
    }

    fn range(&self, addr: u64, len: usize) -> Result<core::ops::Range<usize>, MemError> {
        let start = addr.checked_sub(self.base).ok_or(MemError)?;
        let start = usize::try_from(start).map_err(|_| MemError)?;
        let end = start.checked_add(len).ok_or(MemError)?;
        if end > self.bytes.len() {
            return Err(MemError);
        }
        Ok(start..end)
    }

    pub fn put(&mut self, addr: u64, data: &[u8]) {
        self.write(addr, data).expect("test address in RAM");
    }

    pub fn get(&self, addr: u64, len: usize) -> Vec<u8> {
        let mut v = vec![0; len];
        self.read(addr, &mut v).expect("test address in RAM");
        v
    }

    pub fn put_u16(&mut self, addr: u64, v: u16) {
        self.put(addr, &v.to_le_bytes());
    }

    pub fn put_u32(&mut self, addr: u64, v: u32) {
        self.put(addr, &v.to_le_bytes());
    }

    pub fn put_u64(&mut self, addr: u64, v: u64) {
        self.put(addr, &v.to_le_bytes());
    }

    pub fn get_u16(&self, addr: u64) -> u16 {
        u16::from_le_bytes(self.get(addr, 2).try_into().unwrap())
    }

    pub fn get_u32(&self, addr: u64) -> u32 {
        u32::from_le_bytes(self.get(addr, 4).try_into().unwrap())
    }
}

impl GuestMemory for VecMemory {
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), MemError> {
        let r = self.range(addr, buf.len())?;
        buf.copy_from_slice(&self.bytes[r]);
        Ok(())
    }

    fn write(&mut self, addr: u64, data: &[u8]) -> Result<(), MemError> {
        let r = self.range(addr, data.len())?;
        self.bytes[r].copy_from_slice(data);
        Ok(())
    }
}

/// A disk in a `Vec`, counting calls so tests can check what reached it.
pub struct VecDisk {
    pub data: Vec<u8>,
    pub read_only: bool,
    /// Writes must be durable when they complete (`BlockStorage::write_through`).
    pub write_through: bool,
    pub fail: bool,
    /// Only `flush` fails.
    pub fail_flush: bool,
    pub reads: usize,
    pub writes: usize,
    pub flushes: usize,
    /// Bytes written since the last flush (what a crash could lose).
    pub unflushed: usize,
}

impl VecDisk {
    pub fn new(len: usize) -> Self {
        let data = (0..len).map(|i| (i % 251) as u8).collect();
        Self {
            data,
            read_only: false,
            write_through: false,
            fail: false,
            fail_flush: false,
            reads: 0,
            writes: 0,
            flushes: 0,
            unflushed: 0,
        }
    }

    fn range(&self, offset: u64, len: usize) -> Result<core::ops::Range<usize>, BlockError> {
        let start = usize::try_from(offset).map_err(|_| BlockError::OutOfRange)?;
        let end = start.checked_add(len).ok_or(BlockError::OutOfRange)?;
        if end > self.data.len() {
            return Err(BlockError::OutOfRange);
        }
        Ok(start..end)
    }
}

impl BlockStorage for VecDisk {
    fn size_bytes(&self) -> u64 {
        self.data.len() as u64
    }

    fn read_only(&self) -> bool {
        self.read_only
    }

    fn write_through(&self) -> bool {
        self.write_through
    }

    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), BlockError> {
        self.reads += 1;
        if self.fail {
            return Err(BlockError::Io);
        }
        let r = self.range(offset, buf.len())?;
        buf.copy_from_slice(&self.data[r]);
        Ok(())
    }

    fn write_at(&mut self, offset: u64, data: &[u8]) -> Result<(), BlockError> {
        self.writes += 1;
        if self.read_only {
            return Err(BlockError::ReadOnly);
        }
        if self.fail {
            return Err(BlockError::Io);
        }
        let r = self.range(offset, data.len())?;
        self.data[r].copy_from_slice(data);
        self.unflushed += data.len();
        Ok(())
    }

    fn flush(&mut self) -> Result<(), BlockError> {
        self.flushes += 1;
        if self.fail || self.fail_flush {
            return Err(BlockError::Io);
        }
        self.unflushed = 0;
        Ok(())
    }
}

/// A clock the test sets by hand; serves both as monotonic and wall clock.
#[derive(Default)]
pub struct TestClock {
    pub mono: Cell<u64>,
    pub wall: Cell<u64>,
}

impl TestClock {
    pub fn at(mono: u64, wall: u64) -> Self {
        Self { mono: Cell::new(mono), wall: Cell::new(wall) }
    }

    pub fn advance(&self, ns: u64) {
        self.mono.set(self.mono.get() + ns);
        self.wall.set(self.wall.get() + ns);
    }
}

impl MonotonicClock for TestClock {
    fn monotonic_ns(&self) -> u64 {
        self.mono.get()
    }
}

impl WallClock for TestClock {
    fn wall_ns(&self) -> u64 {
        self.wall.get()
    }
}

/// A console that records what it takes, taking at most `room` more bytes.
pub struct TestConsole {
    pub out: Vec<u8>,
    pub room: usize,
    pub input: Vec<u8>,
}

impl TestConsole {
    pub fn new() -> Self {
        Self { out: Vec::new(), room: usize::MAX, input: Vec::new() }
    }
}

impl ConsoleSink for TestConsole {
    fn send(&mut self, bytes: &[u8]) -> usize {
        let n = bytes.len().min(self.room);
        self.out.extend_from_slice(&bytes[..n]);
        self.room -= n;
        n
    }
}

impl ConsoleSource for TestConsole {
    fn recv(&mut self, buf: &mut [u8]) -> usize {
        let n = buf.len().min(self.input.len());
        buf[..n].copy_from_slice(&self.input[..n]);
        self.input.drain(..n);
        n
    }
}
