//! Reading a benchmark run's console: the lines the guest (or a native program) prints.
//!
//! | line (anywhere in it; a trailing `\r` is ignored) | gives |
//! |---|---|
//! | `KEMU-GUEST: init at uptime <secs> s` | `guest_init_s` (first one), and the host time of the line |
//! | `KEMU-BENCH <metric> <value> [<unit>]` | `metrics[metric] = value`, `units[metric] = unit` |
//! | `pi: <n> digits in <ms> ms` | `pi_ms` (unless a `KEMU-BENCH pi_ms` line gives it) |
//! | `float: checksum 0x<hex>` | `checks["float_checksum"]`, the text (float.c's result, to compare across configurations) |
//! | `KEMU-GUEST: result PASS` / `result FAIL...` | `guest_ok` true / false |
//!
//! Values are decimal texts (`-?digits[.digits]`) and stay texts here: the JSON record
//! writes them as JSON numbers with exactly these digits, never through a float (the
//! workspace denies float arithmetic, and a float would add digits the guest never
//! printed). A line whose value is no such decimal is not a measurement.

use std::collections::BTreeMap;
use std::time::Duration;

/// What a run's console said.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Parsed {
    /// Metric name to its decimal text, in the order first seen.
    pub(crate) metrics: Vec<(String, String)>,
    /// Metric name to its unit.
    pub(crate) units: BTreeMap<String, String>,
    /// Results that are no measurement (checksums), name to text.
    pub(crate) checks: Vec<(String, String)>,
    /// The guest's uptime at init, as it printed it (decimal seconds).
    pub(crate) guest_init_s: Option<String>,
    /// Host time from spawn to the init line.
    pub(crate) wall_init: Option<Duration>,
    /// `result PASS` (true) or `result FAIL` (false), the last one printed.
    pub(crate) guest_ok: Option<bool>,
    /// `pi_ms` came from a `KEMU-BENCH` line (which then wins over the `pi:` line).
    pi_from_bench: bool,
}

/// Whether `s` is `-?[0-9]+(\.[0-9]+)?`.
pub(crate) fn is_decimal(s: &str) -> bool {
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    let s = s.strip_prefix('-').unwrap_or(s);
    match s.split_once('.') {
        Some((int, frac)) => digits(int) && digits(frac),
        None => digits(s),
    }
}

fn is_metric_name(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

impl Parsed {
    /// Takes one console line (without its `\n`), printed `at` after the spawn.
    pub(crate) fn line(&mut self, line: &str, at: Duration) {
        let line = line.trim_end_matches(['\r', '\n']);
        if let Some(i) = line.find("KEMU-GUEST: ") {
            self.guest_line(&line[i + "KEMU-GUEST: ".len()..], at);
        } else if let Some(i) = line.find("KEMU-BENCH ") {
            self.bench_line(&line[i + "KEMU-BENCH ".len()..]);
        } else if let Some(i) = line.find("float: checksum ") {
            let sum = line[i + "float: checksum ".len()..].trim();
            let hex = sum.strip_prefix("0x").filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_hexdigit()));
            if hex.is_some() {
                self.checks.retain(|(n, _)| n != "float_checksum");
                self.checks.push(("float_checksum".into(), sum.to_string()));
            }
        } else if let Some(i) = line.find("pi: ") {
            self.pi_line(&line[i + "pi: ".len()..]);
        }
    }

    fn guest_line(&mut self, rest: &str, at: Duration) {
        if let Some(r) = rest.strip_prefix("init at uptime ") {
            let mut w = r.split_whitespace();
            if let (Some(secs), Some("s"), None) = (w.next(), w.next(), w.next()) {
                if is_decimal(secs) && self.guest_init_s.is_none() {
                    self.guest_init_s = Some(secs.to_string());
                    self.wall_init = Some(at);
                }
            }
        } else if let Some(r) = rest.strip_prefix("result ") {
            if r.starts_with("PASS") {
                self.guest_ok = Some(true);
            } else if r.starts_with("FAIL") {
                self.guest_ok = Some(false);
            }
        }
    }

    fn bench_line(&mut self, rest: &str) {
        let mut w = rest.split_whitespace();
        let (Some(name), Some(value)) = (w.next(), w.next()) else { return };
        if !is_metric_name(name) || !is_decimal(value) {
            return;
        }
        let unit = w.collect::<Vec<_>>().join(" ");
        if name == "pi_ms" {
            self.pi_from_bench = true;
        }
        self.set(name, value, &unit);
    }

    /// `<n> digits in <ms> ms`, pi.c's closing line.
    fn pi_line(&mut self, rest: &str) {
        let w: Vec<&str> = rest.split_whitespace().collect();
        if let [n, "digits", "in", ms, "ms"] = w[..] {
            if is_decimal(n) && is_decimal(ms) && !self.pi_from_bench {
                self.set("pi_ms", ms, "ms");
            }
        }
    }

    fn set(&mut self, name: &str, value: &str, unit: &str) {
        match self.metrics.iter_mut().find(|(n, _)| n == name) {
            Some((_, v)) => *v = value.to_string(),
            None => self.metrics.push((name.to_string(), value.to_string())),
        }
        if unit.is_empty() {
            self.units.remove(name);
        } else {
            self.units.insert(name.to_string(), unit.to_string());
        }
    }

    /// Whether some metric starts with `prefix`.
    pub(crate) fn has_prefix(&self, prefix: &str) -> bool {
        self.metrics.iter().any(|(n, _)| n.starts_with(prefix))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(lines: &[&str]) -> Parsed {
        let mut p = Parsed::default();
        for (i, l) in lines.iter().enumerate() {
            p.line(l, Duration::from_millis(100 * i as u64));
        }
        p
    }

    #[test]
    fn decimals() {
        for ok in ["0", "12", "12.345", "-3", "-0.5", "007"] {
            assert!(is_decimal(ok), "{ok}");
        }
        for bad in ["", "-", ".5", "5.", "1.2.3", "1e3", "nan", "+1", "1,5", " 1", "12ms"] {
            assert!(!is_decimal(bad), "{bad}");
        }
    }

    #[test]
    fn guest_console() {
        let p = parse(&[
            "[    0.000000] Linux version 6.12",
            "KEMU-GUEST: init at uptime 4.91 s\r",
            "KEMU-GUEST: init at uptime 9.99 s",
            "KEMU-BENCH disk_seqwr_wb_mibs 12.345 MiB/s\r",
            "KEMU-BENCH lat_syscall_ns 850 ns",
            "KEMU-BENCH mem_rd_mibs 1000",
            "KEMU-BENCH-JSON {\"not\": \"a metric\"}",
            "KEMU-BENCH bad name 1 x",
            "KEMU-BENCH float_ms 1e3 ms",
            "KEMU-BENCH float_ms",
            "KEMU-BENCH disk_seqwr_wb_mibs 13.5 MiB/s",
            "KEMU-GUEST: result PASS",
        ]);
        assert_eq!(p.guest_init_s.as_deref(), Some("4.91"));
        assert_eq!(p.wall_init, Some(Duration::from_millis(100)));
        assert_eq!(
            p.metrics,
            [("disk_seqwr_wb_mibs", "13.5"), ("lat_syscall_ns", "850"), ("mem_rd_mibs", "1000")]
                .map(|(a, b)| (a.to_string(), b.to_string()))
        );
        assert_eq!(p.units.get("disk_seqwr_wb_mibs").map(String::as_str), Some("MiB/s"));
        assert_eq!(p.units.get("mem_rd_mibs"), None);
        assert_eq!(p.guest_ok, Some(true));
        assert!(p.has_prefix("disk_") && p.has_prefix("lat_") && !p.has_prefix("float_"));
    }

    #[test]
    fn results_and_noise() {
        assert_eq!(parse(&["KEMU-GUEST: result FAIL (2)"]).guest_ok, Some(false));
        assert_eq!(parse(&["KEMU-GUEST: result PASS", "KEMU-GUEST: result FAIL (1)"]).guest_ok, Some(false));
        assert_eq!(parse(&["KEMU-GUEST: FAIL insmod ext4"]).guest_ok, None);
        // Kernel messages interleaved before the marker.
        let p = parse(&["[ 5.1] virtio_blk virtio1: 1/0/0 queues KEMU-BENCH pi_ms 130 ms"]);
        assert_eq!(p.metrics, [("pi_ms".to_string(), "130".to_string())]);
        assert_eq!(parse(&["KEMU-GUEST: init at uptime soon s"]).guest_init_s, None);
    }

    #[test]
    fn pi_line() {
        let p = parse(&["3.14159265", "pi: 1000 digits in 130 ms\r"]);
        assert_eq!(p.metrics, [("pi_ms".to_string(), "130".to_string())]);
        assert_eq!(p.units["pi_ms"], "ms");
        // A KEMU-BENCH pi_ms wins, before or after the pi: line.
        let p = parse(&["KEMU-BENCH pi_ms 131 ms", "pi: 1000 digits in 130 ms"]);
        assert_eq!(p.metrics[0].1, "131");
        let p = parse(&["pi: 1000 digits in 130 ms", "KEMU-BENCH pi_ms 129.5 ms"]);
        assert_eq!(p.metrics[0].1, "129.5");
        assert!(parse(&["pi: digits must be 1..100000"]).metrics.is_empty());
    }

    #[test]
    fn checksum() {
        let p = parse(&["float: 8 bodies, 5000 steps in 12.000 ms, energy -0.16907", "float: checksum 0x3fc5a1b2c3d4e5f6\r"]);
        assert_eq!(p.checks, [("float_checksum".to_string(), "0x3fc5a1b2c3d4e5f6".to_string())]);
        assert!(p.metrics.is_empty() && !p.has_prefix("float_"), "a checksum is no measurement");
        assert!(parse(&["float: checksum 0x", "float: checksum 12", "float: checksum 0xZZ"]).checks.is_empty());
    }
}
