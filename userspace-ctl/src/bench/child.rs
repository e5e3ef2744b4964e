//! Running one child of a benchmark (a guest's emulator, or a native program): its
//! stdout and stderr read line by line, each line timestamped on the host's monotonic
//! clock since the run's spawn, parsed and logged; killed at the run's deadline.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::parse::Parsed;

/// How long to keep reading output after a timed-out child was killed (a grandchild
/// may hold the pipes open).
const DRAIN_AFTER_KILL: Duration = Duration::from_secs(2);
/// Poll interval while waiting for a child that closed its output but runs on.
const EXIT_POLL: Duration = Duration::from_millis(10);

/// How a child ended.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Ended {
    /// Its exit code (None: killed by a signal, or never started).
    pub(crate) code: Option<i32>,
    /// The signal that killed it.
    pub(crate) signal: Option<i32>,
    /// Killed at the deadline.
    pub(crate) timeout: bool,
    /// Host time from the run's start to the child's exit.
    pub(crate) at: Duration,
    /// It could not be started (or waited for): why.
    pub(crate) error: Option<String>,
    /// Its last line on stderr.
    pub(crate) last_stderr: Option<String>,
}

/// `[   12.345]` from a duration (integer arithmetic).
pub(crate) fn stamp(d: Duration) -> String {
    let ms = d.as_millis();
    format!("[{:>5}.{:03}]", ms / 1000, ms % 1000)
}

/// One line of output.
struct Line {
    at: Duration,
    stderr: bool,
    text: String,
}

fn reader(stream: impl Read + Send + 'static, stderr: bool, t0: Instant, tx: mpsc::Sender<Line>) {
    std::thread::spawn(move || {
        let mut r = BufReader::new(stream);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match r.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => return,
                Ok(_) => {
                    let text = String::from_utf8_lossy(&buf).trim_end_matches(['\n', '\r']).to_string();
                    if tx.send(Line { at: t0.elapsed(), stderr, text }).is_err() {
                        return;
                    }
                }
            }
        }
    });
}

/// Runs `cmd` (stdin /dev/null) until it exits or `deadline`, feeding its stdout lines
/// to `parsed` and both streams to `log` (`[secs] line`, stderr lines marked).
/// Timestamps count from `t0`.
pub(crate) fn run(cmd: &mut Command, t0: Instant, deadline: Instant, parsed: &mut Parsed, log: &mut String) -> Ended {
    log.push_str(&format!("{} $ {}\n", stamp(t0.elapsed()), show_command(cmd)));
    let mut child = match cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn() {
        Ok(c) => c,
        Err(e) => {
            let error = format!("cannot run {}: {e}", cmd.get_program().to_string_lossy());
            log.push_str(&format!("{} {error}\n", stamp(t0.elapsed())));
            return Ended { at: t0.elapsed(), error: Some(error), ..Ended::default() };
        }
    };
    let (tx, rx) = mpsc::channel();
    if let Some(out) = child.stdout.take() {
        reader(out, false, t0, tx.clone());
    }
    if let Some(err) = child.stderr.take() {
        reader(err, true, t0, tx);
    }
    let mut ended = Ended::default();
    let mut take = |l: Line, ended: &mut Ended| {
        if l.stderr {
            log.push_str(&format!("{} stderr: {}\n", stamp(l.at), l.text));
            if !l.text.trim().is_empty() {
                ended.last_stderr = Some(l.text);
            }
        } else {
            log.push_str(&format!("{} {}\n", stamp(l.at), l.text));
            parsed.line(&l.text, l.at);
        }
    };
    // Output until both pipes close, then the exit, each by the deadline.
    let mut open = true;
    let status = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if open {
            match rx.recv_timeout(left) {
                Ok(l) => take(l, &mut ended),
                Err(mpsc::RecvTimeoutError::Timeout) => break None,
                Err(mpsc::RecvTimeoutError::Disconnected) => open = false,
            }
            continue;
        }
        match child.try_wait() {
            Ok(Some(st)) => break Some(Ok(st)),
            Ok(None) if left.is_zero() => break None,
            Ok(None) => std::thread::sleep(EXIT_POLL.min(left)),
            Err(e) => break Some(Err(e)),
        }
    };
    let status = match status {
        Some(s) => s,
        None => {
            ended.timeout = true;
            let _ = child.kill();
            let st = child.wait();
            let drain_until = Instant::now() + DRAIN_AFTER_KILL;
            while let Ok(l) = rx.recv_timeout(drain_until.saturating_duration_since(Instant::now())) {
                take(l, &mut ended);
            }
            log.push_str(&format!("{} killed at the deadline\n", stamp(t0.elapsed())));
            st
        }
    };
    ended.at = t0.elapsed();
    match status {
        Ok(st) => {
            use std::os::unix::process::ExitStatusExt;
            ended.code = st.code();
            ended.signal = st.signal();
            log.push_str(&format!("{} {st}\n", stamp(ended.at)));
        }
        Err(e) => ended.error = Some(format!("waiting for {}: {e}", cmd.get_program().to_string_lossy())),
    }
    ended
}

/// The command line, for the log, quoted as for a shell where needed.
fn show_command(cmd: &Command) -> String {
    let quote = |a: &std::ffi::OsStr| {
        let a = a.to_string_lossy();
        let plain = |c: char| c.is_ascii_alphanumeric() || "_./,:=+-@%".contains(c);
        if !a.is_empty() && a.chars().all(plain) {
            a.into_owned()
        } else {
            format!("'{}'", a.replace('\'', "'\\''"))
        }
    };
    std::iter::once(cmd.get_program()).chain(cmd.get_args()).map(quote).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str, timeout: Duration) -> (Ended, Parsed, String) {
        let t0 = Instant::now();
        let mut p = Parsed::default();
        let mut log = String::new();
        let e = run(Command::new("sh").args(["-c", script]), t0, t0 + timeout, &mut p, &mut log);
        (e, p, log)
    }

    #[test]
    fn lines_status_and_log() {
        let (e, p, log) = sh(
            "echo 'KEMU-GUEST: init at uptime 1.5 s'; echo oops >&2; printf 'KEMU-BENCH pi_ms 12 ms\\r\\n'; exit 3",
            Duration::from_secs(60),
        );
        assert_eq!((e.code, e.signal, e.timeout, e.error.as_deref()), (Some(3), None, false, None));
        assert_eq!(e.last_stderr.as_deref(), Some("oops"));
        assert_eq!(p.guest_init_s.as_deref(), Some("1.5"));
        assert!(p.wall_init.unwrap() <= e.at);
        assert_eq!(p.metrics, [("pi_ms".to_string(), "12".to_string())]);
        assert!(log.contains("] KEMU-GUEST: init at uptime 1.5 s\n"), "{log}");
        assert!(log.contains("] stderr: oops\n"), "{log}");
        assert!(log.lines().next().unwrap().ends_with(r#"$ sh -c 'echo '\''KEMU-GUEST: init at uptime 1.5 s'\''; echo oops >&2; printf '\''KEMU-BENCH pi_ms 12 ms\r\n'\''; exit 3'"#), "{log}");
        assert!(log.trim_end().ends_with("exit status: 3"), "{log}");
    }

    #[test]
    fn killed_at_the_deadline() {
        let start = Instant::now();
        let (e, p, log) = sh("echo 'KEMU-BENCH x_ms 1 ms'; exec sleep 30", Duration::from_millis(300));
        assert!(e.timeout && e.code.is_none() && e.signal == Some(9), "{e:?}");
        assert!(start.elapsed() < Duration::from_secs(10));
        assert!(e.at >= Duration::from_millis(300));
        assert_eq!(p.metrics.len(), 1, "output before the kill is kept");
        assert!(log.contains("killed at the deadline"), "{log}");
    }

    #[test]
    fn missing_program() {
        let t0 = Instant::now();
        let mut log = String::new();
        let e = run(&mut Command::new("/nonexistent/prog"), t0, t0 + Duration::from_secs(5), &mut Parsed::default(), &mut log);
        assert!(e.error.unwrap().starts_with("cannot run /nonexistent/prog: "));
        assert_eq!(e.code, None);
    }

    #[test]
    fn stamps() {
        assert_eq!(stamp(Duration::from_micros(12_345_678)), "[   12.345]");
        assert_eq!(stamp(Duration::ZERO), "[    0.000]");
    }
}
