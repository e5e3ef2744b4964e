//! `--stats-json FILE` of `kemuctl run` and `start`: the run's counters as one JSON
//! object, written when the guest has run (also after Ctrl-A x or a stop).
//!
//! Every value is an integer (the workspace denies float arithmetic). Keys, in order:
//!
//! | key | `run` | `start` |
//! |---|---|---|
//! | `mode` | `"run"` | `"start"` |
//! | `instructions` | guest instructions retired | `KEMU_STATUS.instructions` |
//! | `tbs_translated` | translated blocks created | same, from kemu.ko |
//! | `tbs_executed` | translated blocks executed | ABI 1.4 (see below) |
//! | `chained` | block transitions through a direct chain | ABI 1.4 |
//! | `tlb_misses` | soft-MMU TLB misses | from kemu.ko |
//! | `traps` | traps taken (exceptions and interrupts) | from kemu.ko |
//! | `interrupts` | interrupts taken | - |
//! | `tc_flushes` | whole translation-cache flushes | - |
//! | `code_page_flushes` | code pages dropped because they were written | - |
//! | `translate_ns` | host time spent translating blocks | ABI 1.4 |
//! | `wall_ns` | host wall time from the start of the guest to its end | same |
//! | `disk_requests` | virtio-blk requests served, all disks | from kemu.ko |
//! | `t2_compiled` | blocks compiled by tier 2 | ABI 1.5 |
//! | `t2_rejected` | hot blocks tier 2 did not compile | ABI 1.5 |
//! | `t2_executed` | blocks executed through tier-2 code | ABI 1.5 |
//! | `t2_compile_ns` | host time spent lowering and compiling them | ABI 1.5 |
//! | `t2_jit_bytes` | - | bytes of tier-2 programs at the end (ABI 1.6) |
//! | `t2_refused` | - | programs the tier-2 checker refused (ABI 1.6) |
//! | `uptime_ns` | - | `KEMU_STATUS.uptime_ns` (kemu.ko's own clock) |
//!
//! `run` then adds every other field of ktranslator's `hart::Stats` under its own name
//! (`tbs_straddle`, `straddle_drops`, `smc_flushes`, `fence_i`,
//! `tlb_flushes`, `jc_hits`, `jc_misses`, `tb_lookups`, `tb_lookup_hits`, `t2_freed`; a unit test
//! fails when ktranslator gains a counter that is not written) and its own counters:
//! `dma_code_flushes` (translation-cache invalidations by disk DMA into code) and
//! `disk_syncs` (fdatasync calls of the disks). A key a host cannot measure is left out
//! rather than written as 0.

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
    let fields: [(&str, u64); 27] = [
        ("instructions", s.insns),
        ("tbs_translated", s.tbs_translated),
        ("tbs_executed", s.tbs_executed),
        ("chained", s.chained),
        ("tlb_misses", s.tlb_misses),
        ("traps", s.traps),
        ("interrupts", s.interrupts),
        ("tc_flushes", s.tc_flushes),
        ("code_page_flushes", s.code_page_flushes),
        ("translate_ns", s.translate_ns),
        ("wall_ns", ns(wall)),
        ("disk_requests", disk_requests),
        ("t2_compiled", s.t2_compiled),
        ("t2_rejected", s.t2_rejected),
        ("t2_executed", s.t2_executed),
        ("t2_compile_ns", s.t2_compile_ns),
        // The rest of hart::Stats, in its order.
        ("tbs_straddle", s.tbs_straddle),
        ("straddle_drops", s.straddle_drops),
        ("smc_flushes", s.smc_flushes),
        ("fence_i", s.fence_i),
        ("tlb_flushes", s.tlb_flushes),
        ("jc_hits", s.jc_hits),
        ("jc_misses", s.jc_misses),
        ("tb_lookups", s.tb_lookups),
        ("tb_lookup_hits", s.tb_lookup_hits),
        ("t2_freed", s.t2_freed),
        // kemuctl run's own.
        ("dma_code_flushes", dma_code_flushes),
    ];
    let mut m = Map::new();
    m.insert("mode".into(), "run".into());
    for (k, v) in fields {
        m.insert(k.into(), v.into());
    }
    m.insert("disk_syncs".into(), disk_syncs.into());
    m
}

/// The counters of `kemuctl start`, from the VM's final `KEMU_STATUS`; `module_minor` is
/// the module's ABI minor version.
pub(crate) fn start_stats(st: &uapi::KemuStatus, wall: Duration, module_minor: u32) -> Map<String, Value> {
    // `tbs_executed`, `translate_ns` and `chained` came with ABI 1.4: an older module
    // leaves them 0, which must not read as "no blocks executed".
    let (tbs_executed, translate_ns, chained) = (st.tbs_executed, st.translate_ns, st.chained);
    let abi_1_4 = module_minor >= 4;
    let mut m = Map::new();
    m.insert("mode".into(), "start".into());
    m.insert("instructions".into(), st.instructions.into());
    m.insert("tbs_translated".into(), st.tbs_translated.into());
    if abi_1_4 {
        m.insert("tbs_executed".into(), tbs_executed.into());
        m.insert("chained".into(), chained.into());
    }
    m.insert("tlb_misses".into(), st.tlb_misses.into());
    m.insert("traps".into(), st.traps.into());
    if abi_1_4 {
        m.insert("translate_ns".into(), translate_ns.into());
    }
    m.insert("wall_ns".into(), ns(wall).into());
    m.insert("disk_requests".into(), st.disk_requests.into());
    if module_minor >= 5 {
        m.insert("t2_compiled".into(), st.t2_compiled.into());
        m.insert("t2_rejected".into(), st.t2_rejected.into());
        m.insert("t2_executed".into(), st.t2_executed.into());
        m.insert("t2_compile_ns".into(), st.t2_compile_ns.into());
    }
    if module_minor >= 6 {
        m.insert("t2_jit_bytes".into(), st.t2_jit_bytes.into());
        m.insert("t2_refused".into(), st.t2_refused.into());
    }
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
        assert_eq!(&keys[..4], ["mode", "instructions", "tbs_translated", "tbs_executed"]);
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

    /// Every field of hart::Stats is in the JSON (its Debug text names them all), so a
    /// counter added to ktranslator fails here until it is written out.
    #[test]
    fn every_hart_counter_is_written() {
        let debug = format!("{:?}", Stats::default());
        let inner = debug.trim_start_matches("Stats {").trim_end_matches('}');
        let m = run_stats(&Stats::default(), Duration::ZERO, 0, 0, 0);
        for field in inner.split(',').filter_map(|f| f.split(':').next()).map(str::trim).filter(|f| !f.is_empty()) {
            let key = if field == "insns" { "instructions" } else { field };
            assert!(m.contains_key(key), "hart::Stats::{field} is missing from run_stats");
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
