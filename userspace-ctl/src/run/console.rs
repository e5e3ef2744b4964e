//! The console of `kemuctl run`: stdin feeds the UART, the UART's output goes to stdout
//! (written by the vCPU thread, see `flush_console`).
//!
//! When stdin is a terminal it is put in raw mode (every key goes to the guest, Ctrl-C
//! included) and restored on every way out: normal return, panic, and the signals that
//! end the process (SIGTERM, SIGHUP, SIGINT, SIGQUIT). Escapes, as QEMU's `-nographic`:
//!
//! | keys          | effect                                                     |
//! |---------------|------------------------------------------------------------|
//! | Ctrl-A x      | quit: kemuctl stops the guest and exits with status 0      |
//! | Ctrl-A Ctrl-A | send one Ctrl-A to the guest                               |
//! | Ctrl-A h      | print this help                                            |
//! | Ctrl-A other  | ignored                                                    |
//!
//! When stdin is not a terminal (pipes, CI) bytes pass through unchanged, with no
//! escapes; at end of input the guest simply gets no more.

use std::io::Read;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use rustix::termios::{isatty, tcgetattr, tcsetattr, OptionalActions, Termios};

/// Where console input goes and who is told to quit: the userspace machine of
/// `kemuctl run`, or the VM file of `kemuctl start`.
pub(crate) trait ConsoleTarget: Send + Sync {
    /// Queues input for the guest's UART; false while there is no room (the console
    /// waits and retries).
    fn console_input(&self, bytes: &[u8]) -> bool;
    /// Asks the run to end (Ctrl-A x).
    fn request_quit(&self);
}

/// Ctrl-A.
const ESCAPE: u8 = 0x01;

/// What a key does.
#[derive(Debug, PartialEq, Eq)]
enum Key {
    /// Send this byte to the guest.
    Send(u8),
    /// Quit.
    Quit,
    /// Print the escapes.
    Help,
    /// Nothing (the first key of an escape, or an unknown escape).
    Nothing,
}

/// The escape-sequence state of a terminal.
#[derive(Default)]
struct Escapes {
    after_escape: bool,
}

impl Escapes {
    fn key(&mut self, b: u8) -> Key {
        if std::mem::take(&mut self.after_escape) {
            return match b {
                b'x' | b'X' => Key::Quit,
                ESCAPE => Key::Send(ESCAPE),
                b'h' | b'H' | b'?' => Key::Help,
                _ => Key::Nothing,
            };
        }
        if b == ESCAPE {
            self.after_escape = true;
            return Key::Nothing;
        }
        Key::Send(b)
    }
}

/// The terminal settings to restore, once raw mode is on.
static SAVED: OnceLock<Termios> = OnceLock::new();

/// Puts the terminal back as it was before raw mode (no-op if it never changed). Only
/// an ioctl: async-signal-safe. Stdin may be anything by now, in which case it fails
/// harmlessly.
pub(crate) fn restore_terminal() {
    if let Some(t) = SAVED.get() {
        let _ = tcsetattr(std::io::stdin(), OptionalActions::Now, t);
    }
}

extern "C" fn on_fatal_signal(sig: libc::c_int) {
    restore_terminal();
    // SAFETY: signal() and raise() are async-signal-safe; with the default disposition
    // back, raising the signal again ends the process as it would have without us.
    unsafe {
        libc::signal(sig, libc::SIG_DFL);
        libc::raise(sig);
    }
}

/// Puts the terminal on stdin in raw mode; false if stdin is no terminal.
fn enter_raw_mode() -> bool {
    let stdin = std::io::stdin();
    if !isatty(&stdin) {
        return false;
    }
    let Ok(t) = tcgetattr(&stdin) else { return false };
    let mut raw = t.clone();
    if SAVED.set(t).is_err() {
        return false;
    }
    // (Installing a signal handler is outside rustix: libc.)
    for sig in [libc::SIGTERM, libc::SIGHUP, libc::SIGINT, libc::SIGQUIT] {
        // SAFETY: the handler only calls async-signal-safe functions.
        unsafe { libc::signal(sig, on_fatal_signal as extern "C" fn(libc::c_int) as libc::sighandler_t) };
    }
    raw.make_raw();
    tcsetattr(&stdin, OptionalActions::Now, &raw).is_ok()
}

/// The console; restores the terminal when dropped.
pub(crate) struct Console {
    raw: bool,
}

impl Console {
    /// Starts the console thread (and raw mode if stdin is a terminal).
    pub(crate) fn start(vm: Arc<dyn ConsoleTarget>) -> std::io::Result<Console> {
        // A panic in any thread restores the terminal and ends the process: the other
        // threads could not go on without the one that died.
        let prev = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore_terminal();
            prev(info);
            std::process::exit(101);
        }));
        let raw = enter_raw_mode();
        if raw {
            eprint!("kemuctl: console on this terminal; Ctrl-A x quits, Ctrl-A h for help\r\n");
        }
        std::thread::Builder::new().name("kemu-console".into()).spawn(move || console_main(&*vm, raw))?;
        Ok(Console { raw })
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        if self.raw {
            restore_terminal();
        }
    }
}

fn send(vm: &dyn ConsoleTarget, bytes: &[u8]) {
    while !vm.console_input(bytes) {
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn console_main(vm: &dyn ConsoleTarget, raw: bool) {
    let mut stdin = std::io::stdin().lock();
    let mut buf = [0u8; 4096];
    let mut esc = Escapes::default();
    loop {
        let n = match stdin.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return,
        };
        if !raw {
            send(vm, &buf[..n]);
            continue;
        }
        let mut keys = Vec::with_capacity(n);
        for &b in &buf[..n] {
            match esc.key(b) {
                Key::Send(c) => keys.push(c),
                Key::Quit => {
                    send(vm, &keys);
                    vm.request_quit();
                    return;
                }
                Key::Help => eprint!(
                    "\r\nC-a x    quit kemuctl (exit status 0)\r\nC-a C-a  send C-a\r\nC-a h    this help\r\n"
                ),
                Key::Nothing => {}
            }
        }
        if !keys.is_empty() {
            send(vm, &keys);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        let mut e = Escapes::default();
        assert_eq!(e.key(b'a'), Key::Send(b'a'));
        assert_eq!(e.key(3), Key::Send(3), "Ctrl-C goes to the guest");
        assert_eq!(e.key(ESCAPE), Key::Nothing);
        assert_eq!(e.key(ESCAPE), Key::Send(ESCAPE));
        assert_eq!(e.key(ESCAPE), Key::Nothing);
        assert_eq!(e.key(b'q'), Key::Nothing, "unknown escapes are dropped");
        assert_eq!(e.key(b'x'), Key::Send(b'x'), "x alone is a key");
        assert_eq!(e.key(ESCAPE), Key::Nothing);
        assert_eq!(e.key(b'h'), Key::Help);
        assert_eq!(e.key(ESCAPE), Key::Nothing);
        assert_eq!(e.key(b'x'), Key::Quit);
    }
}
