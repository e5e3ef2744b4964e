//! `kemu-vmtest`: checks `/dev/kemu`'s ABI against the real module, inside the test VM.
//!
//! Each check prints `ok - ...` or `not ok - ...`; the last line is
//! `vmtest: N passed, M failed` and the exit status is non-zero if anything failed.
//! Deliberately hostile: bad pointers, unknown and malformed ioctl numbers, many opens,
//! an unprivileged opener.

use std::ffi::CString;
use std::io;

use uapi::*;

const DEV: &str = "/dev/kemu";

struct Fd(libc::c_int);

impl Fd {
    fn open(path: &str) -> io::Result<Fd> {
        let c = CString::new(path).expect("no NUL in path");
        // SAFETY: `c` is a valid NUL-terminated string for the duration of the call.
        let fd = unsafe { libc::open(c.as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
        if fd < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(Fd(fd))
        }
    }

    /// Issues `cmd` with a raw argument, returning the errno on failure.
    fn ioctl_raw(&self, cmd: u32, arg: usize) -> Result<libc::c_int, i32> {
        // SAFETY: an ioctl with an arbitrary argument cannot harm this process beyond
        // what the kernel writes through `arg`; every caller passes either a pointer to
        // a live object of the size encoded in `cmd` or an address meant to fault.
        let r = unsafe { libc::ioctl(self.0, libc::c_ulong::from(cmd), arg) };
        if r < 0 {
            Err(io::Error::last_os_error().raw_os_error().unwrap_or(0))
        } else {
            Ok(r)
        }
    }

    fn version(&self) -> Result<KemuVersion, i32> {
        let mut v = KemuVersion::default();
        self.ioctl_raw(KEMU_GET_VERSION, std::ptr::from_mut(&mut v) as usize)?;
        Ok(v)
    }
}

impl Drop for Fd {
    fn drop(&mut self) {
        // SAFETY: the descriptor is owned by this `Fd` and closed once.
        unsafe { libc::close(self.0) };
    }
}

struct Report {
    passed: u32,
    failed: u32,
}

impl Report {
    fn check(&mut self, name: &str, result: Result<(), String>) {
        match result {
            Ok(()) => {
                self.passed += 1;
                println!("ok - {name}");
            }
            Err(why) => {
                self.failed += 1;
                println!("not ok - {name}: {why}");
            }
        }
    }
}

fn expect_errno(what: Result<libc::c_int, i32>, want: i32) -> Result<(), String> {
    match what {
        Err(e) if e == want => Ok(()),
        Err(e) => Err(format!("errno {e} ({}), want {want}", io::Error::from_raw_os_error(e))),
        Ok(r) => Err(format!("succeeded with {r}, want errno {want}")),
    }
}

fn device_node() -> Result<(), String> {
    let c = CString::new(DEV).expect("no NUL");
    // SAFETY: all-zero bytes are a valid `libc::stat`.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is NUL-terminated and `st` is a writable `stat`.
    if unsafe { libc::stat(c.as_ptr(), &mut st) } != 0 {
        return Err(format!("stat: {}", io::Error::last_os_error()));
    }
    if st.st_mode & libc::S_IFMT != libc::S_IFCHR {
        return Err(format!("not a character device (mode {:o})", st.st_mode));
    }
    if st.st_mode & 0o7777 != 0o600 || st.st_uid != 0 {
        return Err(format!("mode {:o} uid {}, want 600 uid 0", st.st_mode & 0o7777, st.st_uid));
    }
    Ok(())
}

fn version_matches(fd: &Fd) -> Result<(), String> {
    let v = fd.version().map_err(|e| format!("errno {e}"))?;
    if (v.abi_major, v.abi_minor) != (KEMU_ABI_MAJOR, KEMU_ABI_MINOR) {
        return Err(format!("module ABI {}.{}", v.abi_major, v.abi_minor));
    }
    if v.features & !KEMU_FEATURES_ALL != 0 {
        return Err(format!("unknown feature bits {:#x}", v.features));
    }
    Ok(())
}

fn unprivileged_open_refused() -> Result<(), String> {
    // SAFETY: fork in a single-threaded program; the child only calls async-signal-safe
    // functions (setgid, setuid, open, _exit).
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(format!("fork: {}", io::Error::last_os_error()));
    }
    if pid == 0 {
        let path = b"/dev/kemu\0";
        // SAFETY: in the child: drop to nobody, then try to open the device.
        unsafe {
            if libc::setgid(65534) != 0 || libc::setuid(65534) != 0 {
                libc::_exit(3);
            }
            let fd = libc::open(path.as_ptr().cast(), libc::O_RDWR);
            let code = if fd >= 0 {
                1
            } else if *libc::__errno_location() == libc::EACCES {
                0
            } else {
                2
            };
            libc::_exit(code);
        }
    }
    let mut status = 0;
    // SAFETY: `pid` is our child and `status` is writable.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    match libc::WEXITSTATUS(status) {
        0 => Ok(()),
        1 => Err("nobody could open /dev/kemu".into()),
        2 => Err("open failed with an errno other than EACCES".into()),
        c => Err(format!("child could not drop privileges ({c})")),
    }
}

fn main() {
    let mut r = Report { passed: 0, failed: 0 };
    r.check("/dev/kemu is a root-only (0600) character device", device_node());
    let fd = match Fd::open(DEV) {
        Ok(fd) => fd,
        Err(e) => {
            println!("not ok - open {DEV}: {e}");
            println!("vmtest: {} passed, {} failed", r.passed, r.failed + 1);
            std::process::exit(1);
        }
    };
    r.check("KEMU_GET_VERSION reports this ABI", version_matches(&fd));

    let unknown_nr = ioc(IOC_NONE, KEMU_IOC_MAGIC, 0xff, 0);
    r.check("unknown ioctl number gives ENOTTY", expect_errno(fd.ioctl_raw(unknown_nr, 0), libc::ENOTTY));
    let foreign = ioc(IOC_READ, u32::from(b'T'), 0x01, 8);
    r.check("foreign ioctl type gives ENOTTY", expect_errno(fd.ioctl_raw(foreign, 0), libc::ENOTTY));
    let wrong_size = ioc(IOC_READ, KEMU_IOC_MAGIC, 0x00, 8);
    let mut buf = [0u8; 64];
    r.check(
        "GET_VERSION encoded with the wrong size gives ENOTTY",
        expect_errno(fd.ioctl_raw(wrong_size, buf.as_mut_ptr() as usize), libc::ENOTTY),
    );
    let wrong_dir = ioc(IOC_WRITE, KEMU_IOC_MAGIC, 0x00, std::mem::size_of::<KemuVersion>());
    r.check(
        "GET_VERSION encoded with the wrong direction gives ENOTTY",
        expect_errno(fd.ioctl_raw(wrong_dir, buf.as_mut_ptr() as usize), libc::ENOTTY),
    );

    for (what, addr) in [
        ("NULL", 0usize),
        ("page zero + 16", 16),
        ("a kernel address", 0xffff_8880_0000_0000),
        ("a non-canonical address", 0x8000_0000_0000_0000),
        ("the last byte of the address space", usize::MAX),
    ] {
        r.check(
            &format!("GET_VERSION into {what} gives EFAULT"),
            expect_errno(fd.ioctl_raw(KEMU_GET_VERSION, addr), libc::EFAULT),
        );
    }
    // SAFETY: an anonymous read-only mapping of one page; unmapped below.
    let ro = unsafe {
        libc::mmap(std::ptr::null_mut(), 4096, libc::PROT_READ, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0)
    };
    if ro == libc::MAP_FAILED {
        r.check("mmap a read-only page", Err(io::Error::last_os_error().to_string()));
    } else {
        r.check(
            "GET_VERSION into a read-only page gives EFAULT",
            expect_errno(fd.ioctl_raw(KEMU_GET_VERSION, ro as usize), libc::EFAULT),
        );
        // SAFETY: `ro` is the 4096-byte mapping made above.
        unsafe { libc::munmap(ro, 4096) };
    }
    // A reply straddling into an unmapped page must fault, not write the first part
    // somewhere unexpected or oops.
    // SAFETY: two anonymous pages, the second made inaccessible; unmapped below.
    let two = unsafe {
        libc::mmap(std::ptr::null_mut(), 8192, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0)
    };
    if two != libc::MAP_FAILED {
        // SAFETY: the second page of the mapping made above.
        unsafe { libc::mprotect(two.cast::<u8>().add(4096).cast(), 4096, libc::PROT_NONE) };
        let straddle = two as usize + 4096 - 8;
        r.check(
            "GET_VERSION straddling into an unmapped page gives EFAULT",
            expect_errno(fd.ioctl_raw(KEMU_GET_VERSION, straddle), libc::EFAULT),
        );
        // SAFETY: `two` is the 8192-byte mapping made above.
        unsafe { libc::munmap(two, 8192) };
    }
    r.check("the fd still answers after the bad calls", version_matches(&fd));

    let many: Result<Vec<Fd>, String> = (0..64).map(|_| Fd::open(DEV).map_err(|e| e.to_string())).collect();
    r.check(
        "64 concurrent opens each answer GET_VERSION",
        many.and_then(|fds| fds.iter().try_for_each(version_matches)),
    );
    r.check("an unprivileged user cannot open /dev/kemu", unprivileged_open_refused());

    println!("vmtest: {} passed, {} failed", r.passed, r.failed);
    std::process::exit(i32::from(r.failed != 0));
}
