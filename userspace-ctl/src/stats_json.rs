//! `--stats-json FILE` of `kemuctl run` and `start`: the run's counters as one JSON
//! object, written when the guest has run (also after Ctrl-A x or a stop).
//!
//! Every value is an integer (the workspace denies float arithmetic). The keys come from
//! the counter lists, never from a copy of them:
//!
//! - `run`: `mode` = `"run"`, then every counter of ktranslator's `hart::Stats` under its
//!   key ([`Stats::NAMES`]: the field's name, `instructions` for `insns`),
//!   then the host's own: `wall_ns` (host wall time from the start of the guest to its
//!   end), `disk_requests` (virtio-blk requests served, all disks), `dma_code_flushes`
//!   (translation-cache invalidations by disk DMA into code), `disk_syncs` (fdatasync
//!   calls of the disks).
//! - `start`: `mode` = `"start"`, then every counter of the VM's final `KEMU_STATUS`
//!   ([`uapi::STATUS_COUNTERS`]) that the module's ABI version has (a key a module cannot
//!   measure is left out rather than written as 0), then `wall_ns` and `uptime_ns`
//!   (kemu.ko's own clock).

use std::path::Path;
use std::time::Duration;

use ktranslator::hart::Stats;
use serde_json::{Map, Value};

fn ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// The counters of `kemuctl run`.
pub(crate) fn run_stats(
    s: &Stats,
    wall: Duration,
    disk_requests: u64,
    disk_syncs: u64,
    dma_code_flushes: u64,
) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("mode".into(), "run".into());
    for (key, v) in Stats::NAMES.iter().zip(s.values()) {
        m.insert((*key).into(), v.into());
    }
    m.insert("wall_ns".into(), ns(wall).into());
    m.insert("disk_requests".into(), disk_requests.into());
    m.insert("dma_code_flushes".into(), dma_code_flushes.into());
    m.insert("disk_syncs".into(), disk_syncs.into());
    m
}

/// The counters of `kemuctl start`, from the VM's final `KEMU_STATUS`; `module_minor` is
/// the module's ABI minor version.
pub(crate) fn start_stats(st: &uapi::KemuStatus, wall: Duration, module_minor: u32) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("mode".into(), "start".into());
    for (&(name, since), v) in uapi::STATUS_COUNTERS.iter().zip(st.counters()) {
        if module_minor >= since {
            m.insert(name.into(), v.into());
        }
    }
    m.insert("wall_ns".into(), ns(wall).into());
    m.insert("uptime_ns".into(), st.uptime_ns.into());
    m
}

/// Writes `stats` to `path` as one line of JSON.
pub(crate) fn write(path: &Path, stats: &Map<String, Value>) -> Result<(), String> {
    let mut text = Value::Object(stats.clone()).to_string();
    text.push('\n');
    std::fs::write(path, text).map_err(|e| format!("writing the statistics to {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_keys_and_values() {
        let s = Stats { insns: 1000, tbs_executed: 7, fence_i: 3, jc_hits: 4, translate_ns: 5, ..Stats::default() };
        let m = run_stats(&s, Duration::from_millis(1500), 12, 2, 1);
        let keys: Vec<&str> = m.keys().map(String::as_str).collect();
        assert_eq!(&keys[..3], ["mode", "instructions", "traps"]);
        assert_eq!(m["instructions"], 1000);
        assert_eq!(m["tbs_executed"], 7);
        assert_eq!(m["fence_i"], 3);
        assert_eq!((m["jc_hits"].clone(), m["translate_ns"].clone()), (4.into(), 5.into()));
        assert_eq!(m["wall_ns"], 1_500_000_000u64);
        assert_eq!(m["disk_requests"], 12);
        assert_eq!(m["disk_syncs"], 2);
        assert_eq!(m["dma_code_flushes"], 1);
        assert!(m.values().skip(1).all(Value::is_u64));
    }

    /// Every field of hart::Stats is in the JSON under its name (its Debug text names
    /// them all, independently of the macro that lists them).
    #[test]
    fn every_hart_counter_is_written() {
        let debug = format!("{:?}", Stats::default());
        let inner = debug.trim_start_matches("Stats {").trim_end_matches('}');
        let m = run_stats(&Stats::default(), Duration::ZERO, 0, 0, 0);
        let fields: Vec<&str> = inner.split(',').filter_map(|f| f.split(':').next()).map(str::trim).filter(|f| !f.is_empty()).collect();
        assert_eq!(fields.len(), Stats::NAMES.len());
        for field in fields {
            let key = if field == "insns" { "instructions" } else { field };
            assert!(m.contains_key(key), "hart::Stats::{field} is missing from run_stats");
        }
    }

    /// The kernel's counters and the hart's agree on names, except where the hart has
    /// no such counter (the host's own).
    #[test]
    fn status_counters_are_named_as_the_harts() {
        let run = run_stats(&Stats::default(), Duration::ZERO, 0, 0, 0);
        for (name, _) in uapi::STATUS_COUNTERS {
            let host_own = ["t2_jit_bytes", "t2_refused"].contains(&name);
            assert!(host_own || run.contains_key(name), "KEMU_STATUS.{name} has no counterpart in kemuctl run");
        }
    }

    #[test]
    fn start_reserved_counters_only_when_known() {
        let mut st = uapi::KemuStatus { instructions: 5, disk_requests: 2, uptime_ns: 9, ..Default::default() };
        let old = start_stats(&st, Duration::from_nanos(10), 3);
        assert!(!old.contains_key("tbs_executed") && !old.contains_key("translate_ns") && !old.contains_key("chained"));
        assert_eq!((old["instructions"].clone(), old["uptime_ns"].clone(), old["wall_ns"].clone()), (5.into(), 9.into(), 10.into()));
        let new = start_stats(&st, Duration::from_nanos(10), 4);
        assert_eq!(new["tbs_executed"], 0);
        (st.tbs_executed, st.translate_ns, st.chained) = (11, 22, 33);
        let filled = start_stats(&st, Duration::from_nanos(10), 4);
        assert_eq!((filled["tbs_executed"].clone(), filled["translate_ns"].clone(), filled["chained"].clone()), (11.into(), 22.into(), 33.into()));
    }

    #[test]
    fn written_as_one_line() {
        let dir = std::env::temp_dir().join(format!("kemu-stats-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("s.json");
        write(&p, &run_stats(&Stats::default(), Duration::ZERO, 0, 0, 0)).unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        assert_eq!(text.lines().count(), 1);
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["mode"], "run");
        assert!(write(&dir.join("no/such/dir"), &Map::new()).unwrap_err().starts_with("writing the statistics to "));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
