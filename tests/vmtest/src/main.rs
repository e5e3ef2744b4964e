//! `kemu-vmtest`: checks `/dev/kemu`'s ABI against the real module, inside the test VM.
//!
//! Each check prints `ok - ...` or `not ok - ...`; the last line is
//! `vmtest: N passed, M failed` and the exit status is non-zero if anything failed.
//! Deliberately hostile: bad pointers, unknown and malformed ioctl numbers, many opens,
//! an unprivileged opener.

use std::ffi::CString;
use std::io;
use std::time::{Duration, Instant};

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

    fn ioctl_in<T>(&self, cmd: u32, arg: &T) -> Result<libc::c_int, i32> {
        self.ioctl_raw(cmd, std::ptr::from_ref(arg) as usize)
    }

    fn status(&self) -> Result<KemuStatus, i32> {
        let mut st = KemuStatus::default();
        self.ioctl_raw(KEMU_STATUS, std::ptr::from_mut(&mut st) as usize)?;
        Ok(st)
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
    skipped: u32,
}

impl Report {
    /// A check this kernel cannot run, said on its own line and counted in the summary.
    fn skip(&mut self, name: &str, why: &str) {
        self.skipped += 1;
        println!("skip - {name}: {why}");
    }

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

const RAM_BASE: u64 = 0x8000_0000;

fn config(ram_size: u64) -> KemuVmConfig {
    KemuVmConfig { ram_size, tb_cache_size: 0, harts: 1, flags: 0, reserved: [0; 4] }
}

/// A new VM running the bare-metal program /guests/NAME.bin at the start of RAM.
fn boot_guest(name: &str) -> Result<Fd, String> {
    let image = std::fs::read(format!("/guests/{name}.bin")).map_err(|e| format!("/guests/{name}.bin: {e}"))?;
    let fd = Fd::open(DEV).map_err(|e| e.to_string())?;
    fd.ioctl_in(KEMU_CREATE_VM, &config(16 << 20)).map_err(|e| format!("CREATE_VM: errno {e}"))?;
    let load = KemuLoad { guest_addr: RAM_BASE, user_addr: image.as_ptr() as u64, size: image.len() as u64, flags: 0 };
    fd.ioctl_in(KEMU_LOAD, &load).map_err(|e| format!("LOAD: errno {e}"))?;
    let start = KemuStart { pc: RAM_BASE, args: [0, 0, 0], flags: 0, ..Default::default() };
    fd.ioctl_in(KEMU_START, &start).map_err(|e| format!("START: errno {e}"))?;
    Ok(fd)
}

fn wait_stopped(fd: &Fd, timeout: Duration) -> Result<KemuStatus, String> {
    let t0 = Instant::now();
    loop {
        let st = fd.status().map_err(|e| format!("STATUS: errno {e}"))?;
        if st.state == KEMU_STATE_STOPPED {
            return Ok(st);
        }
        if t0.elapsed() > timeout {
            return Err(format!("still in state {} after {timeout:?}", st.state));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn expect_exit(name: &str, reason: u32, code: u32) -> Result<(), String> {
    let fd = boot_guest(name)?;
    let st = wait_stopped(&fd, Duration::from_secs(30))?;
    if (st.exit_reason, st.exit_code) != (reason, code) {
        return Err(format!("exit reason {} code {}, want {reason} {code}", st.exit_reason, st.exit_code));
    }
    if st.instructions == 0 || st.tbs_translated == 0 {
        return Err(format!("counters not updated: {st:?}"));
    }
    Ok(())
}

fn read_console(fd: &Fd) -> Result<String, String> {
    let mut out = Vec::new();
    let mut buf = [0u8; 64];
    loop {
        // SAFETY: `buf` is a writable buffer of the given length.
        let n = unsafe { libc::read(fd.0, buf.as_mut_ptr().cast(), buf.len()) };
        match n {
            0 => return String::from_utf8(out).map_err(|e| e.to_string()),
            n if n > 0 => out.extend_from_slice(&buf[..n as usize]),
            _ => return Err(format!("read: {}", io::Error::last_os_error())),
        }
    }
}

fn vcpu_threads() -> usize {
    std::fs::read_dir("/proc")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter_map(|e| std::fs::read_to_string(e.path().join("comm")).ok())
                .filter(|c| c.starts_with("kemu-vcpu"))
                .count()
        })
        .unwrap_or(0)
}

fn disk(fd: i32, slot: u32, flags: u32, cache_mode: u32) -> KemuDisk {
    KemuDisk { fd, slot, flags, cache_mode, reserved: [0; 2] }
}

fn open_path(path: &str, flags: libc::c_int) -> libc::c_int {
    let c = CString::new(path).expect("no NUL");
    // SAFETY: `c` is NUL-terminated.
    unsafe { libc::open(c.as_ptr(), flags | libc::O_CLOEXEC) }
}

fn disk_checks(r: &mut Report) {
    std::fs::write("/tmp/disk.img", vec![0u8; 1 << 20]).expect("writing /tmp/disk.img");
    let vm = Fd::open(DEV).expect("open /dev/kemu");
    vm.ioctl_in(KEMU_CREATE_VM, &config(16 << 20)).expect("CREATE_VM");
    let rw = open_path("/tmp/disk.img", libc::O_RDWR);
    let ro = open_path("/tmp/disk.img", libc::O_RDONLY);
    let null = open_path("/dev/null", libc::O_RDWR);
    let mut pipe = [0; 2];
    // SAFETY: `pipe` has room for two descriptors.
    unsafe { libc::pipe(pipe.as_mut_ptr()) };
    let wb = KEMU_CACHE_WRITEBACK;
    r.check(
        "ATTACH_DISK with a bad fd gives EBADF",
        [-1, 9999].iter().try_for_each(|&fd| expect_errno(vm.ioctl_in(KEMU_ATTACH_DISK, &disk(fd, 0, 0, wb)), libc::EBADF)),
    );
    r.check(
        "ATTACH_DISK of a pipe or a character device gives EINVAL",
        [pipe[0], null].iter().try_for_each(|&fd| expect_errno(vm.ioctl_in(KEMU_ATTACH_DISK, &disk(fd, 0, 0, wb)), libc::EINVAL)),
    );
    r.check(
        "ATTACH_DISK of a read-only fd as a writable disk gives EBADF",
        expect_errno(vm.ioctl_in(KEMU_ATTACH_DISK, &disk(ro, 0, 0, wb)), libc::EBADF),
    );
    let append = open_path("/tmp/disk.img", libc::O_RDWR | libc::O_APPEND);
    let ro_append = open_path("/tmp/disk.img", libc::O_RDONLY | libc::O_APPEND);
    r.check(
        "ATTACH_DISK of an O_APPEND fd gives EINVAL (its writes would go to the end of the file)",
        [disk(append, 0, 0, wb), disk(ro_append, 0, KEMU_DISK_READONLY, wb)]
            .iter()
            .try_for_each(|d| expect_errno(vm.ioctl_in(KEMU_ATTACH_DISK, d), libc::EINVAL)),
    );
    r.check(
        "ATTACH_DISK with a bad slot, flags, cache mode or reserved field gives EINVAL",
        [
            disk(rw, 8, 0, wb),
            disk(rw, u32::MAX, 0, wb),
            disk(rw, 0, 2, wb),
            disk(rw, 0, 0, 2),
            KemuDisk { reserved: [0, 1], ..disk(rw, 0, 0, wb) },
        ]
        .iter()
        .try_for_each(|d| expect_errno(vm.ioctl_in(KEMU_ATTACH_DISK, d), libc::EINVAL)),
    );
    r.check("ATTACH_DISK of a read-only fd as a read-only disk works", vm.ioctl_in(KEMU_ATTACH_DISK, &disk(ro, 1, KEMU_DISK_READONLY, wb)).map(drop).map_err(|e| format!("errno {e}")));
    r.check("ATTACH_DISK of a read-write file works", vm.ioctl_in(KEMU_ATTACH_DISK, &disk(rw, 0, 0, KEMU_CACHE_WRITETHROUGH)).map(drop).map_err(|e| format!("errno {e}")));
    r.check("ATTACH_DISK to a taken slot gives EEXIST", expect_errno(vm.ioctl_in(KEMU_ATTACH_DISK, &disk(rw, 0, 0, wb)), libc::EEXIST));
    let spin = std::fs::read("/guests/spin.bin").unwrap_or_default();
    let load = KemuLoad { guest_addr: RAM_BASE, user_addr: spin.as_ptr() as u64, size: spin.len() as u64, flags: 0 };
    let started = vm.ioctl_in(KEMU_LOAD, &load).and_then(|_| vm.ioctl_in(KEMU_START, &KemuStart { pc: RAM_BASE, args: [0; 3], flags: 0, ..Default::default() }));
    r.check("ATTACH_DISK after START gives EBUSY", started.map_err(|e| format!("start: errno {e}")).and_then(|_| expect_errno(vm.ioctl_in(KEMU_ATTACH_DISK, &disk(rw, 2, 0, wb)), libc::EBUSY)));
    // SAFETY: closing descriptors this function opened.
    unsafe {
        for fd in [rw, ro, append, ro_append, null, pipe[0], pipe[1]] {
            libc::close(fd);
        }
    }
    drop(vm);
    let _ = std::fs::remove_file("/tmp/disk.img");
    r.check("a disk switched to O_APPEND after ATTACH_DISK fails the guest's write, not appends", append_after_attach());
}

/// diskio writes sector 1 of a disk whose fd got O_APPEND (fcntl) after the attach: its
/// write must fail (guest step 11: an error status), not land at the end of the file.
fn append_after_attach() -> Result<(), String> {
    let path = "/tmp/append.img";
    std::fs::write(path, vec![0u8; 1 << 20]).map_err(|e| format!("{path}: {e}"))?;
    let image = std::fs::read("/guests/diskio.bin").map_err(|e| format!("/guests/diskio.bin: {e}"))?;
    let file = open_path(path, libc::O_RDWR);
    if file < 0 {
        return Err(format!("open {path}: {}", io::Error::last_os_error()));
    }
    let run = || -> Result<KemuStatus, String> {
        let fd = Fd::open(DEV).map_err(|e| e.to_string())?;
        fd.ioctl_in(KEMU_CREATE_VM, &config(16 << 20)).map_err(|e| format!("CREATE_VM: errno {e}"))?;
        let load = KemuLoad { guest_addr: RAM_BASE, user_addr: image.as_ptr() as u64, size: image.len() as u64, flags: 0 };
        fd.ioctl_in(KEMU_LOAD, &load).map_err(|e| format!("LOAD: errno {e}"))?;
        let d = disk(file, 0, 0, KEMU_CACHE_WRITEBACK);
        fd.ioctl_in(KEMU_ATTACH_DISK, &d).map_err(|e| format!("ATTACH_DISK: errno {e}"))?;
        // SAFETY: `file` is an open descriptor of this process.
        if unsafe { libc::fcntl(file, libc::F_SETFL, libc::O_APPEND) } != 0 {
            return Err(format!("F_SETFL O_APPEND: {}", io::Error::last_os_error()));
        }
        fd.ioctl_in(KEMU_START, &KemuStart { pc: RAM_BASE, args: [0; 3], flags: 0, ..Default::default() }).map_err(|e| format!("START: errno {e}"))?;
        wait_stopped(&fd, Duration::from_secs(30))
    };
    let st = run();
    // SAFETY: closing the descriptor opened above.
    unsafe { libc::close(file) };
    let size = std::fs::metadata(path).map(|m| m.len());
    let _ = std::fs::remove_file(path);
    let st = st?;
    match size {
        Ok(n) if n == 1 << 20 => {}
        Ok(n) => return Err(format!("the disk file grew to {n} bytes: the guest's write was appended")),
        Err(e) => return Err(format!("{path}: {e}")),
    }
    if (st.exit_reason, st.exit_code) != (KEMU_EXIT_FAIL, 11) {
        return Err(format!("guest exit reason {} code {}, want FAIL 11 (write refused)", st.exit_reason, st.exit_code));
    }
    Ok(())
}

fn lifecycle_checks(r: &mut Report) {
    let fresh = || Fd::open(DEV).expect("open /dev/kemu");
    let fd = fresh();
    let load = KemuLoad { guest_addr: RAM_BASE, user_addr: 0, size: 0, flags: 0 };
    let start = KemuStart::default();
    r.check(
        "LOAD/START/STOP/STATUS before CREATE_VM give EBADFD",
        [fd.ioctl_in(KEMU_LOAD, &load), fd.ioctl_in(KEMU_START, &start), fd.ioctl_raw(KEMU_STOP, 0), fd.status().map(|_| 0)]
            .into_iter()
            .try_for_each(|res| expect_errno(res, libc::EBADFD)),
    );
    let bad_configs = [
        KemuVmConfig { harts: 0, ..config(16 << 20) },
        KemuVmConfig { harts: 2, ..config(16 << 20) },
        config(0),
        config(8 << 20),
        config((16 << 20) + 4096),
        config(u64::MAX),
        KemuVmConfig { flags: 1, ..config(16 << 20) },
        KemuVmConfig { reserved: [0, 0, 1, 0], ..config(16 << 20) },
        KemuVmConfig { tb_cache_size: 4096, ..config(16 << 20) },
        KemuVmConfig { tb_cache_size: 1 << 30, ..config(16 << 20) },
        KemuVmConfig { tb_cache_size: (1 << 20) + 1, ..config(16 << 20) },
    ];
    r.check(
        "CREATE_VM rejects bad configurations with EINVAL",
        bad_configs.iter().try_for_each(|c| expect_errno(fd.ioctl_in(KEMU_CREATE_VM, c), libc::EINVAL)),
    );
    r.check(
        "CREATE_VM with more RAM than the host can give gets ENOMEM",
        expect_errno(fd.ioctl_in(KEMU_CREATE_VM, &config(4 << 30)), libc::ENOMEM),
    );
    r.check("CREATE_VM returns a VM id", match fd.ioctl_in(KEMU_CREATE_VM, &config(16 << 20)) {
        Ok(id) if id > 0 => Ok(()),
        other => Err(format!("{other:?}")),
    });
    r.check("CREATE_VM twice gives EEXIST", expect_errno(fd.ioctl_in(KEMU_CREATE_VM, &config(16 << 20)), libc::EEXIST));
    r.check("STATUS of a new VM says CREATED", match fd.status() {
        Ok(st) if st.state == KEMU_STATE_CREATED && st.ram_size == 16 << 20 && st.exit_reason == KEMU_EXIT_NONE => Ok(()),
        other => Err(format!("{other:?}")),
    });
    let data = [0x13u8; 64];
    let p = data.as_ptr() as u64;
    let bad_loads = [
        KemuLoad { guest_addr: RAM_BASE - 4, user_addr: p, size: 8, flags: 0 },
        KemuLoad { guest_addr: 0, user_addr: p, size: 8, flags: 0 },
        KemuLoad { guest_addr: RAM_BASE + (16 << 20) - 8, user_addr: p, size: 16, flags: 0 },
        KemuLoad { guest_addr: u64::MAX - 4, user_addr: p, size: 16, flags: 0 },
        KemuLoad { guest_addr: RAM_BASE, user_addr: p, size: u64::MAX, flags: 0 },
        KemuLoad { guest_addr: RAM_BASE, user_addr: p, size: 8, flags: 1 },
    ];
    r.check(
        "LOAD outside guest RAM (or with flags) gives EINVAL",
        bad_loads.iter().try_for_each(|l| expect_errno(fd.ioctl_in(KEMU_LOAD, l), libc::EINVAL)),
    );
    r.check(
        "LOAD from a bad user pointer gives EFAULT",
        expect_errno(fd.ioctl_in(KEMU_LOAD, &KemuLoad { guest_addr: RAM_BASE, user_addr: 16, size: 64, flags: 0 }), libc::EFAULT),
    );
    r.check("STOP of a VM that never started gives EINVAL", expect_errno(fd.ioctl_raw(KEMU_STOP, 0), libc::EINVAL));
    r.check(
        "START with unknown flags gives EINVAL",
        expect_errno(fd.ioctl_in(KEMU_START, &KemuStart { flags: 2, ..KemuStart::default() }), libc::EINVAL),
    );
    r.check(
        "START with a tier-2 threshold but no KEMU_START_TIER2 gives EINVAL",
        expect_errno(
            fd.ioctl_in(KEMU_START, &KemuStart { flags: 5 << KEMU_START_T2_THRESHOLD_SHIFT, ..KemuStart::default() }),
            libc::EINVAL,
        ),
    );
    drop(fd);

    r.check("guest powering off stops with POWEROFF 0", expect_exit("poweroff", KEMU_EXIT_POWEROFF, 0));
    r.check("guest reporting failure stops with FAIL 42", expect_exit("fail42", KEMU_EXIT_FAIL, 42));
    r.check("guest in WFI wakes on the CLINT timer and powers off", (|| {
        let fd = boot_guest("timer")?;
        let st = wait_stopped(&fd, Duration::from_secs(30))?;
        if st.exit_reason != KEMU_EXIT_POWEROFF {
            return Err(format!("exit reason {} code {}", st.exit_reason, st.exit_code));
        }
        if st.uptime_ns < 20_000_000 {
            return Err(format!("woke after {} ns, before the 20 ms timer", st.uptime_ns));
        }
        Ok(())
    })());
    r.check("guest UART output comes out of read(), then end of file", (|| {
        let fd = boot_guest("hello")?;
        let text = read_console(&fd)?;
        if text != "hello from a RISC-V guest inside kemu.ko\n" {
            return Err(format!("console said {text:?}"));
        }
        let st = wait_stopped(&fd, Duration::from_secs(30))?;
        (st.exit_reason == KEMU_EXIT_POWEROFF).then_some(()).ok_or(format!("{st:?}"))
    })());
    r.check("read() blocked on the console returns end of file when a guest ends (200 short guests)", (|| {
        // `hello` prints a line and powers off at once: the reader wakes for the last
        // bytes, reads them and checks the state again just as the guest ends. A wake-up
        // lost between its check and its sleep would block it forever. (The read path
        // waits without a timeout; kemu.ko takes the reader's lock before it notifies.)
        for run in 0..200 {
            let fd = boot_guest("hello")?;
            let raw = Fd(fd.0);
            let (tx, rx) = std::sync::mpsc::channel();
            let reader = std::thread::spawn(move || {
                let r = read_console(&raw);
                std::mem::forget(raw); // `fd` owns the descriptor
                let _ = tx.send(r);
            });
            match rx.recv_timeout(Duration::from_secs(20)) {
                Ok(Ok(text)) if text == "hello from a RISC-V guest inside kemu.ko\n" => {}
                Ok(Ok(text)) => return Err(format!("run {run}: the console said {text:?}")),
                Ok(Err(e)) => return Err(format!("run {run}: {e}")),
                Err(_) => return Err(format!("run {run}: read() still blocked 20 s after START of a guest that ends at once")),
            }
            let _ = reader.join();
        }
        Ok(())
    })());
    r.check("a running VM: START/LOAD give EBUSY, STOP stops it, START after gives EINVAL", (|| {
        let fd = boot_guest("spin")?;
        // Counters are published after each slice of the vCPU loop: wait for two.
        let progress = |after: u64| -> Result<KemuStatus, String> {
            let t0 = Instant::now();
            loop {
                let st = fd.status().map_err(|e| format!("errno {e}"))?;
                if st.state != KEMU_STATE_RUNNING {
                    return Err(format!("not running: {st:?}"));
                }
                if st.instructions > after {
                    return Ok(st);
                }
                if t0.elapsed() > Duration::from_secs(20) {
                    return Err(format!("no progress past {after} instructions: {st:?}"));
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        };
        let st1 = progress(0)?;
        progress(st1.instructions)?;
        expect_errno(fd.ioctl_in(KEMU_START, &KemuStart::default()), libc::EBUSY)?;
        expect_errno(fd.ioctl_in(KEMU_LOAD, &KemuLoad { guest_addr: RAM_BASE, user_addr: p, size: 8, flags: 0 }), libc::EBUSY)?;
        // SAFETY: switching the descriptor to non-blocking mode.
        unsafe { libc::fcntl(fd.0, libc::F_SETFL, libc::O_NONBLOCK) };
        let mut b = [0u8; 8];
        // SAFETY: `b` is writable.
        let n = unsafe { libc::read(fd.0, b.as_mut_ptr().cast(), b.len()) };
        if n != -1 || io::Error::last_os_error().raw_os_error() != Some(libc::EAGAIN) {
            return Err("non-blocking read of an empty console did not give EAGAIN".into());
        }
        fd.ioctl_raw(KEMU_STOP, 0).map_err(|e| format!("STOP: errno {e}"))?;
        let st = fd.status().map_err(|e| format!("errno {e}"))?;
        if (st.state, st.exit_reason) != (KEMU_STATE_STOPPED, KEMU_EXIT_STOPPED) {
            return Err(format!("after STOP: {st:?}"));
        }
        expect_errno(fd.ioctl_in(KEMU_START, &KemuStart::default()), libc::EINVAL)?;
        fd.ioctl_raw(KEMU_STOP, 0).map_err(|e| format!("second STOP: errno {e}"))?;
        Ok(())
    })());
    r.check("closing a running VM ends its vCPU thread", (|| {
        let fd = boot_guest("spin")?;
        std::thread::sleep(Duration::from_millis(20));
        if vcpu_threads() == 0 {
            return Err("no kemu-vcpu thread while running".into());
        }
        drop(fd);
        match vcpu_threads() {
            0 => Ok(()),
            n => Err(format!("{n} kemu-vcpu threads left")),
        }
    })());
    r.check("four VMs at once all run to power-off", (|| {
        let fds: Vec<Fd> = (0..4).map(|_| boot_guest("hello")).collect::<Result<_, _>>()?;
        for fd in &fds {
            let st = wait_stopped(fd, Duration::from_secs(30))?;
            if st.exit_reason != KEMU_EXIT_POWEROFF {
                return Err(format!("{st:?}"));
            }
            let text = read_console(fd)?;
            if !text.starts_with("hello from") {
                return Err(format!("console said {text:?}"));
            }
        }
        Ok(())
    })());
}

/// `write()` of `len` bytes at `addr` to `fd`: the count, or the errno.
fn write_raw(fd: libc::c_int, addr: usize, len: usize) -> Result<usize, i32> {
    // SAFETY: `write` only reads from `addr`; an address that is not readable makes the
    // kernel fail the copy (EFAULT), it cannot harm this process.
    let n = unsafe { libc::write(fd, addr as *const libc::c_void, len) };
    usize::try_from(n).map_err(|_| io::Error::last_os_error().raw_os_error().unwrap_or(0))
}

fn console_write_checks(r: &mut Report) {
    r.check("console write(): bytes taken, EFAULT from bad buffers, short write into an unmapped page, EPIPE after STOP", (|| {
        let vm = boot_guest("spin")?;
        let data = *b"input for the guest\n";
        match write_raw(vm.0, data.as_ptr() as usize, data.len()) {
            Ok(n) if n == data.len() => {}
            other => return Err(format!("write of {} bytes: {other:?}", data.len())),
        }
        // SAFETY: two anonymous pages, the second made inaccessible; unmapped below.
        let two = unsafe {
            libc::mmap(std::ptr::null_mut(), 8192, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0)
        };
        if two == libc::MAP_FAILED {
            return Err(format!("mmap: {}", io::Error::last_os_error()));
        }
        // SAFETY: the second page of the mapping made above.
        unsafe { libc::mprotect(two.cast::<u8>().add(4096).cast(), 4096, libc::PROT_NONE) };
        let page = two as usize;
        let result = (|| {
            for (what, addr) in [("NULL", 0), ("a PROT_NONE page", page + 4096), ("a kernel address", 0xffff_8880_0000_0000)] {
                let t0 = Instant::now();
                expect_errno(write_raw(vm.0, addr, 16).map(|n| n as i32), libc::EFAULT).map_err(|e| format!("from {what}: {e}"))?;
                if t0.elapsed() > Duration::from_secs(1) {
                    return Err(format!("EFAULT from {what} took {:?}", t0.elapsed()));
                }
            }
            match write_raw(vm.0, page + 4096 - 8, 16) {
                Ok(n) if (1..=8).contains(&n) => {}
                other => return Err(format!("write straddling into a PROT_NONE page: {other:?}, want a short write")),
            }
            Ok(())
        })();
        // SAFETY: `two` is the 8192-byte mapping made above.
        unsafe { libc::munmap(two, 8192) };
        result?;
        vm.ioctl_raw(KEMU_STOP, 0).map_err(|e| format!("STOP: errno {e}"))?;
        expect_errno(write_raw(vm.0, data.as_ptr() as usize, data.len()).map(|n| n as i32), libc::EPIPE).map_err(|e| format!("after STOP: {e}"))
    })());
    r.check("console write() fills the 64 KiB input buffer (a short write, then EAGAIN), then blocks until STOP (EPIPE)", (|| {
        // The spin guest never reads its UART: the buffer fills (64 KiB and the UART's
        // receive FIFO, 1 or 16 bytes).
        let vm = boot_guest("spin")?;
        // SAFETY: switching the descriptor to non-blocking mode.
        unsafe { libc::fcntl(vm.0, libc::F_SETFL, libc::O_NONBLOCK) };
        let chunk = [b'x'; 256];
        let (mut total, mut short) = (0usize, 0usize);
        loop {
            match write_raw(vm.0, chunk.as_ptr() as usize, chunk.len()) {
                Ok(256) if short == 0 => total += 256,
                Ok(n) if n > 0 && n < 256 && short == 0 => {
                    total += n;
                    short = n;
                }
                Err(e) if e == libc::EAGAIN => break,
                other => return Err(format!("after {total} bytes (short write {short}): {other:?}")),
            }
            if total > 1 << 20 {
                return Err("the input buffer never filled".into());
            }
        }
        if !(65536..=65536 + 16).contains(&total) || total % 256 != short {
            return Err(format!("took {total} bytes (short write {short}) before EAGAIN, want 64 KiB and the UART's FIFO"));
        }
        // SAFETY: back to blocking mode.
        unsafe { libc::fcntl(vm.0, libc::F_SETFL, 0) };
        let raw = vm.0;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(write_raw(raw, chunk.as_ptr() as usize, 16));
        });
        if let Ok(res) = rx.recv_timeout(Duration::from_millis(300)) {
            return Err(format!("a blocking write into the full buffer returned {res:?}"));
        }
        vm.ioctl_raw(KEMU_STOP, 0).map_err(|e| format!("STOP: errno {e}"))?;
        match rx.recv_timeout(Duration::from_secs(5)) {
            Ok(res) => expect_errno(res.map(|n| n as i32), libc::EPIPE),
            Err(_) => Err("the blocked write did not return within 5 s of STOP".into()),
        }
    })());
    match uffd_write_vs_stop() {
        Ok(Some(d)) => {
            println!("# STOP returned in {} ms while a console write() was blocked in a userfaultfd fault", d.as_millis());
            r.check("console write() blocked in a userfaultfd fault holds no lock: STOP returns", Ok(()));
        }
        Ok(None) => r.skip(
            "console write() blocked in a userfaultfd fault holds no lock: STOP returns",
            "this kernel has no userfaultfd (CONFIG_USERFAULTFD is not in tests/vm/kernel.config)",
        ),
        Err(e) => r.check("console write() blocked in a userfaultfd fault holds no lock: STOP returns", Err(e)),
    }
}

/// `struct uffdio_api` and `struct uffdio_register` (linux/userfaultfd.h), which the libc
/// crate does not define.
#[repr(C)]
struct UffdioApi {
    api: u64,
    features: u64,
    ioctls: u64,
}

#[repr(C)]
struct UffdioRegister {
    start: u64,
    len: u64,
    mode: u64,
    ioctls: u64,
}

const UFFD_API: u64 = 0xaa;
const UFFDIO_API: u32 = ioc(IOC_READ | IOC_WRITE, 0xaa, 0x3f, std::mem::size_of::<UffdioApi>());
const UFFDIO_REGISTER: u32 = ioc(IOC_READ | IOC_WRITE, 0xaa, 0x00, std::mem::size_of::<UffdioRegister>());
const UFFDIO_REGISTER_MODE_MISSING: u64 = 1;
const UFFD_EVENT_PAGEFAULT: u8 = 0x12;

/// A console `write()` from a userfaultfd-registered page that nobody serves sleeps in
/// the page fault; meanwhile STOP of that VM must return (the write must not hold the
/// machine lock while it copies). The STOP latency; `None` if the kernel has no
/// userfaultfd. Closing the userfaultfd then lets the write finish (EPIPE: stopped).
fn uffd_write_vs_stop() -> Result<Option<Duration>, String> {
    // SAFETY: the userfaultfd syscall takes only flags.
    let uffd = unsafe { libc::syscall(libc::SYS_userfaultfd, libc::O_CLOEXEC | libc::O_NONBLOCK) };
    if uffd < 0 {
        let e = io::Error::last_os_error();
        return if e.raw_os_error() == Some(libc::ENOSYS) { Ok(None) } else { Err(format!("userfaultfd: {e}")) };
    }
    let uffd = Fd(uffd as libc::c_int);
    let mut api = UffdioApi { api: UFFD_API, features: 0, ioctls: 0 };
    uffd.ioctl_raw(UFFDIO_API, std::ptr::from_mut(&mut api) as usize).map_err(|e| format!("UFFDIO_API: errno {e}"))?;
    // SAFETY: one anonymous page, left unmapped for the process's lifetime only if the
    // write below never returns (then the check has failed anyway).
    let page = unsafe {
        libc::mmap(std::ptr::null_mut(), 4096, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0)
    };
    if page == libc::MAP_FAILED {
        return Err(format!("mmap: {}", io::Error::last_os_error()));
    }
    let mut reg = UffdioRegister { start: page as u64, len: 4096, mode: UFFDIO_REGISTER_MODE_MISSING, ioctls: 0 };
    uffd.ioctl_raw(UFFDIO_REGISTER, std::ptr::from_mut(&mut reg) as usize).map_err(|e| format!("UFFDIO_REGISTER: errno {e}"))?;
    let vm = boot_guest("spin")?;
    let (raw, addr) = (vm.0, page as usize);
    let (tx, writer) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(write_raw(raw, addr, 16));
    });
    let result = (|| {
        // The write is in the fault once the userfaultfd reports it.
        let mut pfd = libc::pollfd { fd: uffd.0, events: libc::POLLIN, revents: 0 };
        // SAFETY: `pfd` is one valid pollfd.
        if unsafe { libc::poll(&mut pfd, 1, 5000) } != 1 {
            return Err(format!("no userfaultfd event within 5 s (the write returned {:?})", writer.try_recv()));
        }
        let mut msg = [0u8; 32];
        // SAFETY: `msg` is writable and as large as a `struct uffd_msg`.
        let n = unsafe { libc::read(uffd.0, msg.as_mut_ptr().cast(), msg.len()) };
        if n != 32 || msg[0] != UFFD_EVENT_PAGEFAULT {
            return Err(format!("userfaultfd read {n} bytes, event {:#x}", msg[0]));
        }
        // STOP from another thread, so that a STOP that never returns fails the check
        // instead of hanging the test (closing the userfaultfd below then unwedges it).
        let (tx, stopper) = std::sync::mpsc::channel();
        let t0 = Instant::now();
        std::thread::spawn(move || {
            // SAFETY: KEMU_STOP takes no argument. `raw` is `vm`'s descriptor; should the
            // check fail and close it first, the ioctl holds its own reference to the file.
            let r = unsafe { libc::ioctl(raw, libc::c_ulong::from(KEMU_STOP), 0) };
            let _ = tx.send(if r < 0 { Err(io::Error::last_os_error()) } else { Ok(t0.elapsed()) });
        });
        match stopper.recv_timeout(Duration::from_secs(5)) {
            Ok(Ok(took)) => Ok(took),
            Ok(Err(e)) => Err(format!("STOP: {e}")),
            Err(_) => Err("STOP did not return within 5 s while a console write() was blocked in a page fault".into()),
        }
    })();
    // Closing the userfaultfd resolves the fault (the page becomes a zero page).
    drop(uffd);
    let took = result?;
    match writer.recv_timeout(Duration::from_secs(5)) {
        Ok(res) => expect_errno(res.map(|n| n as i32), libc::EPIPE).map_err(|e| format!("the faulting write, after STOP: {e}"))?,
        Err(_) => return Err("the faulting write did not return within 5 s of closing the userfaultfd".into()),
    }
    drop(vm);
    // SAFETY: the page mapped above; the write that used it has returned.
    unsafe { libc::munmap(page, 4096) };
    Ok(Some(took))
}

/// `kemu-vmtest bpf-load`: loads (and closes) a two-instruction program with
/// bpf(BPF_PROG_LOAD), through the kernel's verifier and JIT, to show the host can
/// still load BPF programs. The type is BPF_PROG_TYPE_SYSCALL (sleepable), the one
/// every kernel with the bpf() syscall has (the test kernel has no networking).
fn bpf_load() -> Result<(), String> {
    // r0 = 0; exit
    let insns: [u64; 2] = [0x0000_0000_0000_00b7, 0x0000_0000_0000_0095];
    let license = c"GPL";
    // union bpf_attr's BPF_PROG_LOAD head: prog_type, insn_cnt, insns, license.
    let mut attr = [0u8; 128];
    attr[0..4].copy_from_slice(&31u32.to_ne_bytes()); // BPF_PROG_TYPE_SYSCALL
    attr[4..8].copy_from_slice(&2u32.to_ne_bytes());
    attr[8..16].copy_from_slice(&(insns.as_ptr() as u64).to_ne_bytes());
    attr[16..24].copy_from_slice(&(license.as_ptr() as u64).to_ne_bytes());
    attr[44..48].copy_from_slice(&(1u32 << 4).to_ne_bytes()); // prog_flags: BPF_F_SLEEPABLE
    // SAFETY: `attr` is a valid bpf_attr for BPF_PROG_LOAD (5) of its length; the
    // pointers in it stay valid for the call.
    let fd = unsafe { libc::syscall(libc::SYS_bpf, 5, attr.as_ptr(), attr.len()) };
    if fd < 0 {
        return Err(format!("BPF_PROG_LOAD: {}", io::Error::last_os_error()));
    }
    // SAFETY: `fd` is the program's file descriptor, owned here.
    unsafe { libc::close(fd as libc::c_int) };
    println!("bpf-load: a BPF program loaded");
    Ok(())
}

mod fuzz;

/// Issues `cmd` with its size field set to `size` on `arg`.
fn ioctl_sized(fd: &Fd, cmd: u32, size: usize, arg: usize) -> Result<libc::c_int, i32> {
    fd.ioctl_raw(ioc_with_size(cmd, size), arg)
}

/// Guard byte around replies.
const GUARD: u8 = 0xa5;

/// Callers built against older (or newer) ABI struct sizes, against this module: replies
/// fill exactly the caller's size (zero past the module's struct), requests shorter
/// than the module's struct read as zero-extended, longer ones must be zero at the end,
/// and list entries come at the caller's stride.
fn abi_compat_checks(r: &mut Report) {
    let ours = std::mem::size_of::<KemuStatus>();
    r.check("STATUS in the sizes of ABI 1.3 to 1.6 and larger: exactly that many bytes, zero past ours", (|| {
        let vm = boot_guest("spin")?;
        let full = vm.status().map_err(|e| format!("STATUS: errno {e}"))?;
        for size in [KEMU_STATUS_SIZE_VER0, status_size(4), status_size(5), ours, ours + 40] {
            let mut buf = vec![GUARD; size + 16];
            ioctl_sized(&vm, KEMU_STATUS, size, buf.as_mut_ptr() as usize).map_err(|e| format!("size {size}: errno {e}"))?;
            if buf[size..].iter().any(|&b| b != GUARD) {
                return Err(format!("size {size}: bytes written past the caller's struct"));
            }
            if buf[ours.min(size)..size].iter().any(|&b| b != 0) {
                return Err(format!("size {size}: bytes past the module's struct are not zero"));
            }
            let id = u32::from_ne_bytes(buf[0..4].try_into().unwrap());
            let ram = u64::from_ne_bytes(buf[16..24].try_into().unwrap());
            if id != full.id || ram != full.ram_size {
                return Err(format!("size {size}: id {id}, RAM {ram}; want {} and {}", full.id, full.ram_size));
            }
        }
        let mut buf = [0u8; 64];
        expect_errno(ioctl_sized(&vm, KEMU_STATUS, KEMU_STATUS_SIZE_VER0 - 8, buf.as_mut_ptr() as usize), libc::EINVAL)
            .map_err(|e| format!("below the first version: {e}"))
    })());
    r.check("CREATE_VM from a larger struct: zero tail accepted, nonzero tail E2BIG", (|| {
        let mut big = [0u8; std::mem::size_of::<KemuVmConfig>() + 16];
        let cfg = config(16 << 20);
        // SAFETY: `KemuVmConfig` is repr(C) integers; its bytes are copied into `big`.
        unsafe { std::ptr::copy_nonoverlapping(std::ptr::from_ref(&cfg).cast::<u8>(), big.as_mut_ptr(), std::mem::size_of::<KemuVmConfig>()) };
        let a = Fd::open(DEV).map_err(|e| e.to_string())?;
        ioctl_sized(&a, KEMU_CREATE_VM, big.len(), big.as_ptr() as usize).map_err(|e| format!("zero tail: errno {e}"))?;
        *big.last_mut().unwrap() = 1;
        let b = Fd::open(DEV).map_err(|e| e.to_string())?;
        expect_errno(ioctl_sized(&b, KEMU_CREATE_VM, big.len(), big.as_ptr() as usize), libc::E2BIG)
    })());
    r.check("START in the ABI 1.5 size (no HTIF fields) starts the VM", (|| {
        let image = std::fs::read("/guests/poweroff.bin").map_err(|e| e.to_string())?;
        let fd = Fd::open(DEV).map_err(|e| e.to_string())?;
        fd.ioctl_in(KEMU_CREATE_VM, &config(16 << 20)).map_err(|e| format!("CREATE_VM: errno {e}"))?;
        let load = KemuLoad { guest_addr: RAM_BASE, user_addr: image.as_ptr() as u64, size: image.len() as u64, flags: 0 };
        fd.ioctl_in(KEMU_LOAD, &load).map_err(|e| format!("LOAD: errno {e}"))?;
        let start = KemuStart { pc: RAM_BASE, ..Default::default() };
        ioctl_sized(&fd, KEMU_START, KEMU_START_SIZE_VER0, std::ptr::from_ref(&start) as usize).map_err(|e| format!("START: errno {e}"))?;
        let st = wait_stopped(&fd, Duration::from_secs(30))?;
        if st.exit_reason != KEMU_EXIT_POWEROFF {
            return Err(format!("exit reason {}", st.exit_reason));
        }
        Ok(())
    })());
    r.check("LIST_VMS: entry_size 0 gives ABI 1.3 entries, other sizes their stride, bad sizes EINVAL", (|| {
        let vms = [boot_guest("spin")?, boot_guest("spin")?];
        let ids: Vec<u32> = vms.iter().map(|v| v.status().map(|s| s.id)).collect::<Result<_, _>>().map_err(|e| format!("STATUS: errno {e}"))?;
        for (entry_size, stride) in [(0u32, KEMU_STATUS_SIZE_VER0), (96, 96), (128, 128), (ours as u32, ours), (ours as u32 + 24, ours + 24)] {
            let cap = 16;
            let mut buf = vec![GUARD; cap * stride + 16];
            let l = KemuVmList { statuses: buf.as_mut_ptr() as u64, capacity: cap as u32, entry_size };
            let n = vms[0].ioctl_in(KEMU_LIST_VMS, &l).map_err(|e| format!("entry_size {entry_size}: errno {e}"))? as usize;
            if n > cap || buf[n * stride..].iter().any(|&b| b != GUARD) {
                return Err(format!("entry_size {entry_size}: {n} VMs, or bytes written past {n} entries of {stride}"));
            }
            let listed: Vec<u32> = (0..n).map(|i| u32::from_ne_bytes(buf[i * stride..i * stride + 4].try_into().unwrap())).collect();
            if ids.iter().any(|id| !listed.contains(id)) {
                return Err(format!("entry_size {entry_size}: listed ids {listed:?}, want {ids:?} among them"));
            }
        }
        for bad in [1u32, KEMU_STATUS_SIZE_VER0 as u32 - 1, KEMU_LIST_ENTRY_MAX + 1] {
            let mut buf = [0u8; 64];
            let l = KemuVmList { statuses: buf.as_mut_ptr() as u64, capacity: 0, entry_size: bad };
            expect_errno(vms[0].ioctl_in(KEMU_LIST_VMS, &l), libc::EINVAL).map_err(|e| format!("entry_size {bad}: {e}"))?;
        }
        Ok(())
    })());
}

/// `kemu-vmtest stop-latency GUEST MEM_MIB [DISK] BOUND_MS`: how long kemu.ko itself takes to stop a
/// hostile guest, measured around the syscalls in this process (no fork, exec or polling
/// in the measurement, so a busy VM does not blur it). The guest (/guests/GUEST.bin, tier 2
/// on, as `kemuctl start` runs it) runs for 3 s, then: STOP (ioctl, the threads end and the disks are
/// synced) and close (the memory goes); then a second VM is only closed (the path of
/// `kill -9` of its owner). Fails if either exceeds `bound`.
fn stop_latency(args: &[String]) -> Result<(), String> {
    let (Some(guest), Some(mib)) = (args.first(), args.get(1).and_then(|m| m.parse::<u64>().ok())) else {
        return Err("usage: kemu-vmtest stop-latency GUEST MEM_MIB [DISK] BOUND_MS".into());
    };
    let disk_path = args.get(2).filter(|_| args.len() > 3);
    let bound = Duration::from_millis(args.last().and_then(|b| b.parse().ok()).ok_or("BOUND_MS missing")?);
    let image = std::fs::read(format!("/guests/{guest}.bin")).map_err(|e| format!("/guests/{guest}.bin: {e}"))?;
    let boot = || -> Result<Fd, String> {
        let fd = Fd::open(DEV).map_err(|e| e.to_string())?;
        fd.ioctl_in(KEMU_CREATE_VM, &config(mib << 20)).map_err(|e| format!("CREATE_VM: errno {e}"))?;
        let load = KemuLoad { guest_addr: RAM_BASE, user_addr: image.as_ptr() as u64, size: image.len() as u64, flags: 0 };
        fd.ioctl_in(KEMU_LOAD, &load).map_err(|e| format!("LOAD: errno {e}"))?;
        if let Some(p) = disk_path {
            let f = open_path(p, libc::O_RDWR);
            if f < 0 {
                return Err(format!("{p}: {}", io::Error::last_os_error()));
            }
            let r = fd.ioctl_in(KEMU_ATTACH_DISK, &disk(f, 0, 0, KEMU_CACHE_WRITEBACK));
            // SAFETY: `f` is a descriptor this function opened; the VM holds its own reference.
            unsafe { libc::close(f) };
            r.map_err(|e| format!("ATTACH_DISK: errno {e}"))?;
        }
        let start = KemuStart { pc: RAM_BASE, flags: KEMU_START_TIER2, ..Default::default() };
        fd.ioctl_in(KEMU_START, &start).map_err(|e| format!("START: errno {e}"))?;
        std::thread::sleep(Duration::from_secs(3));
        let st = fd.status().map_err(|e| format!("STATUS: errno {e}"))?;
        if st.state != KEMU_STATE_RUNNING {
            return Err(format!("{guest} is not running after 3 s (state {}, exit {})", st.state, st.exit_reason));
        }
        Ok(fd)
    };
    let fd = boot()?;
    let t0 = Instant::now();
    fd.ioctl_raw(KEMU_STOP, 0).map_err(|e| format!("STOP: errno {e}"))?;
    let stop = t0.elapsed();
    let t1 = Instant::now();
    drop(fd);
    let free = t1.elapsed();
    let fd = boot()?;
    let t2 = Instant::now();
    drop(fd);
    let close = t2.elapsed();
    println!(
        "stop-latency: {guest}: STOP {} ms, then close (memory freed) {} ms; close of a running VM {} ms (bound {} ms)",
        stop.as_millis(),
        free.as_millis(),
        close.as_millis(),
        bound.as_millis()
    );
    if stop > bound || close > bound {
        return Err(format!("{guest}: stopping took longer than {} ms", bound.as_millis()));
    }
    if vcpu_threads() != 0 {
        return Err("a kemu-vcpu thread is left after close".into());
    }
    Ok(())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("fuzz") {
        let seed = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1);
        let secs = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(60);
        std::process::exit(fuzz::main(seed, secs));
    }
    if args.get(1).map(String::as_str) == Some("stop-latency") {
        if let Err(e) = stop_latency(&args[2..]) {
            println!("stop-latency: {e}");
            std::process::exit(1);
        }
        return;
    }
    if std::env::args().nth(1).as_deref() == Some("bpf-load") {
        if let Err(e) = bpf_load() {
            println!("bpf-load: {e}");
            std::process::exit(1);
        }
        return;
    }
    let mut r = Report { passed: 0, failed: 0, skipped: 0 };
    r.check("/dev/kemu is a root-only (0600) character device", device_node());
    let fd = match Fd::open(DEV) {
        Ok(fd) => fd,
        Err(e) => {
            println!("not ok - open {DEV}: {e}");
            println!("vmtest: {} passed, {} failed, {} skipped", r.passed, r.failed + 1, r.skipped);
            std::process::exit(1);
        }
    };
    r.check("KEMU_GET_VERSION reports this ABI", version_matches(&fd));

    let unknown_nr = ioc(IOC_NONE, KEMU_IOC_MAGIC, 0xff, 0);
    r.check("unknown ioctl number gives ENOTTY", expect_errno(fd.ioctl_raw(unknown_nr, 0), libc::ENOTTY));
    let foreign = ioc(IOC_READ, u32::from(b'T'), 0x01, 8);
    r.check("foreign ioctl type gives ENOTTY", expect_errno(fd.ioctl_raw(foreign, 0), libc::ENOTTY));
    let too_small = ioc(IOC_READ, KEMU_IOC_MAGIC, 0x00, 8);
    let mut buf = [0u8; 64];
    r.check(
        "GET_VERSION encoded with a size below its struct gives EINVAL",
        expect_errno(fd.ioctl_raw(too_small, buf.as_mut_ptr() as usize), libc::EINVAL),
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
    lifecycle_checks(&mut r);
    disk_checks(&mut r);
    console_write_checks(&mut r);
    abi_compat_checks(&mut r);

    println!("vmtest: {} passed, {} failed, {} skipped", r.passed, r.failed, r.skipped);
    std::process::exit(i32::from(r.failed != 0));
}
