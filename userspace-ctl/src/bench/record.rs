//! One benchmark run as one line of JSON, and the host facts every line carries.

use std::time::Duration;

use serde_json::{json, Map, Number, Value};

use super::parse::Parsed;

/// Facts about the host, read once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Host {
    /// `uname -r`.
    pub(crate) kernel: String,
    /// The first `model name` of /proc/cpuinfo.
    pub(crate) cpu: String,
    /// CPUs online.
    pub(crate) cpus: u64,
    /// /proc/cmdline.
    pub(crate) cmdline: String,
}

fn read_trimmed(path: &str) -> String {
    std::fs::read_to_string(path).map(|s| s.trim().to_string()).unwrap_or_default()
}

/// The CPU model and count from /proc/cpuinfo's text.
pub(crate) fn cpuinfo(text: &str) -> (String, u64) {
    let field = |l: &str, name: &str| {
        l.split_once(':').filter(|(k, _)| k.trim() == name).map(|(_, v)| v.trim().to_string())
    };
    let model = text.lines().find_map(|l| field(l, "model name").or_else(|| field(l, "uarch"))).unwrap_or_default();
    let n = text.lines().filter(|l| field(l, "processor").is_some()).count();
    (model, n as u64)
}

impl Host {
    /// Reads this host's facts.
    pub(crate) fn read() -> Self {
        let (cpu, mut cpus) = cpuinfo(&read_trimmed("/proc/cpuinfo"));
        if cpus == 0 {
            cpus = std::thread::available_parallelism().map_or(0, |n| n.get() as u64);
        }
        Host { kernel: read_trimmed("/proc/sys/kernel/osrelease"), cpu, cpus, cmdline: read_trimmed("/proc/cmdline") }
    }
}

/// Everything known about one run.
#[derive(Debug, Clone)]
pub(crate) struct Run {
    /// `--env`.
    pub(crate) env: String,
    /// kernel, user, qemu or native.
    pub(crate) config: &'static str,
    /// 0, 1, ... over warm-ups and measured runs together.
    pub(crate) iteration: u32,
    /// A warm-up run.
    pub(crate) warmup: bool,
    /// The workloads asked for.
    pub(crate) workloads: Vec<&'static str>,
    /// `--quick`.
    pub(crate) quick: bool,
    /// What the console said.
    pub(crate) parsed: Parsed,
    /// Host time from spawn to the (last) child's exit.
    pub(crate) wall_total: Duration,
    /// Exit code (None: killed by a signal or never started).
    pub(crate) exit_status: Option<i32>,
    /// Killed at `--timeout`.
    pub(crate) timeout: bool,
    /// The `--stats-json` object (empty if none).
    pub(crate) stats: Map<String, Value>,
    /// Why the run is not ok (empty: ok).
    pub(crate) problems: Vec<String>,
    /// Seconds since the Unix epoch at the start of the run.
    pub(crate) time_unix: u64,
}

impl Run {
    /// Whether the run counts.
    pub(crate) fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// A decimal text as a JSON number with exactly its digits (serde_json's
/// arbitrary_precision: no float on the way).
fn decimal(s: &str) -> Value {
    s.parse::<Number>().map_or_else(|_| Value::String(s.to_string()), Value::Number)
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The run's JSON object (see `bench.rs` for the schema).
pub(crate) fn to_json(run: &Run, host: &Host) -> Value {
    let p = &run.parsed;
    let mut metrics: Map<String, Value> = p.metrics.iter().map(|(k, v)| (k.clone(), decimal(v))).collect();
    for (k, v) in &p.checks {
        metrics.insert(k.clone(), Value::String(v.clone()));
    }
    let units: Map<String, Value> = p
        .metrics
        .iter()
        .filter_map(|(k, _)| p.units.get(k).map(|u| (k.clone(), Value::String(u.clone()))))
        .collect();
    json!({
        "env": run.env,
        "config": run.config,
        "iteration": run.iteration,
        "warmup": run.warmup,
        "ok": run.ok(),
        "wall_init_ms": p.wall_init.map(ms),
        "guest_init_s": p.guest_init_s.as_deref().map(decimal),
        "wall_total_ms": ms(run.wall_total),
        "metrics": metrics,
        "units": units,
        "stats": run.stats,
        "exit_status": run.exit_status,
        "timeout": run.timeout,
        "problems": run.problems,
        "workloads": run.workloads,
        "quick": run.quick,
        "host": {"kernel": host.kernel, "cpu": host.cpu, "cpus": host.cpus, "cmdline": host.cmdline},
        "time_unix": run.time_unix,
    })
}

/// The run in one line for people (stderr).
pub(crate) fn summary(run: &Run, of: u32, warmups: u32) -> String {
    let secs = |d: Duration| {
        let m = d.as_millis();
        format!("{}.{:03} s", m / 1000, m % 1000)
    };
    let which = if run.warmup {
        format!("warm-up {}/{warmups}", run.iteration + 1)
    } else {
        format!("run {}/{of}", run.iteration + 1 - warmups)
    };
    let mut s = format!("kemuctl bench: {} {which}: ", run.config);
    s.push_str(if run.ok() { "ok" } else { "FAILED" });
    s.push_str(&format!(", {} total", secs(run.wall_total)));
    if let (Some(g), Some(w)) = (&run.parsed.guest_init_s, run.parsed.wall_init) {
        s.push_str(&format!(", init at {g} s guest / {} host", secs(w)));
    }
    let shown: Vec<String> = run.parsed.metrics.iter().map(|(k, v)| format!("{k}={v}")).collect();
    if !shown.is_empty() {
        s.push_str(&format!(", {}", shown.join(" ")));
    }
    if !run.ok() {
        s.push_str(&format!(" ({})", run.problems.join("; ")));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host() -> Host {
        Host { kernel: "6.1.0".into(), cpu: "Some CPU".into(), cpus: 2, cmdline: "ro quiet".into() }
    }

    fn run() -> Run {
        let mut parsed = Parsed::default();
        for l in [
            "KEMU-GUEST: init at uptime 4.910 s",
            "KEMU-BENCH pi_ms 130 ms",
            "KEMU-BENCH disk_seqwr_wb_mibs 12.30 MiB/s",
            "KEMU-BENCH lat_ctx_us 0.000001234567890123456789 us",
            "float: checksum 0x00ff",
            "KEMU-GUEST: result PASS",
        ] {
            parsed.line(l, Duration::from_millis(5123));
        }
        Run {
            env: "host-a".into(),
            config: "user",
            iteration: 2,
            warmup: false,
            workloads: vec!["pi", "disk"],
            quick: true,
            parsed,
            wall_total: Duration::from_micros(12_034_999),
            exit_status: Some(0),
            timeout: false,
            stats: json!({"mode": "run", "instructions": 18446744073709551615u64}).as_object().unwrap().clone(),
            problems: vec![],
            time_unix: 1_790_000_000,
        }
    }

    #[test]
    fn json_line() {
        let text = to_json(&run(), &host()).to_string();
        assert_eq!(
            text,
            concat!(
                r#"{"env":"host-a","config":"user","iteration":2,"warmup":false,"ok":true,"#,
                r#""wall_init_ms":5123,"guest_init_s":4.910,"wall_total_ms":12034,"#,
                r#""metrics":{"pi_ms":130,"disk_seqwr_wb_mibs":12.30,"lat_ctx_us":0.000001234567890123456789,"float_checksum":"0x00ff"},"#,
                r#""units":{"pi_ms":"ms","disk_seqwr_wb_mibs":"MiB/s","lat_ctx_us":"us"},"#,
                r#""stats":{"mode":"run","instructions":18446744073709551615},"exit_status":0,"timeout":false,"#,
                r#""problems":[],"workloads":["pi","disk"],"quick":true,"#,
                r#""host":{"kernel":"6.1.0","cpu":"Some CPU","cpus":2,"cmdline":"ro quiet"},"time_unix":1790000000}"#
            )
        );
        // It reads back as JSON, with the decimals intact.
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["metrics"]["disk_seqwr_wb_mibs"].to_string(), "12.30");
    }

    #[test]
    fn failed_run() {
        let mut r = run();
        r.parsed = Parsed::default();
        r.exit_status = None;
        r.timeout = true;
        r.problems = vec!["killed at the 900 s timeout".into()];
        r.warmup = true;
        r.iteration = 0;
        let v = to_json(&r, &host());
        assert_eq!(v["ok"], false);
        assert_eq!(v["wall_init_ms"], Value::Null);
        assert_eq!(v["guest_init_s"], Value::Null);
        assert_eq!(v["exit_status"], Value::Null);
        assert_eq!(v["metrics"], json!({}));
        assert_eq!(
            summary(&r, 5, 1),
            "kemuctl bench: user warm-up 1/1: FAILED, 12.034 s total (killed at the 900 s timeout)"
        );
    }

    #[test]
    fn summary_line() {
        assert_eq!(
            summary(&run(), 5, 1),
            "kemuctl bench: user run 2/5: ok, 12.034 s total, init at 4.910 s guest / 5.123 s host, pi_ms=130 disk_seqwr_wb_mibs=12.30 lat_ctx_us=0.000001234567890123456789"
        );
    }

    #[test]
    fn cpuinfo_fields() {
        let x86 = "processor\t: 0\nmodel name\t: AMD EPYC 7B13\nflags\t\t: fpu\n\nprocessor\t: 1\nmodel name\t: AMD EPYC 7B13\n";
        assert_eq!(cpuinfo(x86), ("AMD EPYC 7B13".to_string(), 2));
        let rv = "processor\t: 0\nhart\t\t: 0\nisa\t\t: rv64imafdc\nuarch\t\t: sifive,u74-mc\n";
        assert_eq!(cpuinfo(rv), ("sifive,u74-mc".to_string(), 1));
        assert_eq!(cpuinfo(""), (String::new(), 0));
    }
}
