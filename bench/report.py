#!/usr/bin/env python3
"""Turns `kemuctl bench` JSON lines into kemu's benchmark report.

    bench/report.py [--date D] [--command C] [--out DIR] [--smoke] [--expect ENV=CONFIGS]... RUNS.jsonl...

Writes DIR/<date>.json (every run plus the summary), DIR/<date>.md (the tables, as in
README) and DIR/<date>.svg (a chart: each configuration's speed relative to QEMU, per
workload and environment), and prints the tables. Only runs of the same environment
are compared. Warm-up runs are kept in the JSON but left out of the statistics.
With --smoke it also checks that every configuration produced every metric once, and
that every `--expect 'ENV-PATTERN=CONFIG,...'` (an fnmatch pattern over the runs'
environments) is there: some environment matches and has an ok run of each configuration
(what `make test` asserts; no timing is ever asserted).
"""

import argparse
import fnmatch
import json
import os
import platform
import statistics
import sys

CONFIG_ORDER = ["kernel", "kernel-t2", "user", "user-t2", "qemu", "native"]
KEMU_CONFIGS = ("kernel", "kernel-t2", "user", "user-t2")
CONFIG_LABEL = {
    "kernel": "kernel (kemuctl start, kemu.ko), tier 1",
    "kernel-t2": "kernel, tier 2 (kernel BPF JIT)",
    "user": "user (kemuctl run), tier 1",
    "user-t2": "user, tier 2 (kemuctl's eBPF JIT)",
    "qemu": "qemu (qemu-system-riscv64 TCG)",
    "native": "native (x86_64 build)",
}

# metric -> (label, unit, lower_is_better)
METRICS = [
    ("bare_mips", "MIPS, whole process (bare-metal program)", "MIPS", False),
    ("wall_init_s", "boot to init, host wall clock", "s", True),
    ("guest_init_s", "boot to init, guest uptime", "s", True),
    ("wall_total_s", "whole run to poweroff, host wall clock", "s", True),
    ("pi_ms", "pi, 1000 digits", "ms", True),
    ("float_ms", "float kernel (soft-float in kemu)", "ms", True),
    ("disk_seqwr_wb_mibs", "disk seq. 4 KiB write+fsync, writeback", "MiB/s", False),
    ("disk_seqwr_wb_iops", "disk seq. 4 KiB write+fsync, writeback", "IOPS", False),
    ("disk_rndwr_wb_mibs", "disk rand. 4 KiB write+fsync, writeback", "MiB/s", False),
    ("disk_rndwr_wb_iops", "disk rand. 4 KiB write+fsync, writeback", "IOPS", False),
    ("disk_seqwr_wt_mibs", "disk seq. 4 KiB write+fsync, write-through", "MiB/s", False),
    ("disk_seqwr_wt_iops", "disk seq. 4 KiB write+fsync, write-through", "IOPS", False),
    ("disk_rndwr_wt_mibs", "disk rand. 4 KiB write+fsync, write-through", "MiB/s", False),
    ("disk_rndwr_wt_iops", "disk rand. 4 KiB write+fsync, write-through", "IOPS", False),
    ("lat_syscall_ns", "syscall latency (getppid)", "ns", True),
    ("lat_ctx_us", "context switch (pipe ping-pong)", "us", True),
    ("mem_rd_mibs", "memory read bandwidth (sysbench)", "MiB/s", False),
    ("mem_wr_mibs", "memory write bandwidth (sysbench)", "MiB/s", False),
    ("file_rd_mibs", "file read bandwidth, cached (sysbench)", "MiB/s", False),
    ("xz_compress_ms", "xz -6 compression of a text file", "ms", True),
    ("xz_decompress_ms", "xz decompression of it", "ms", True),
    ("sevenzip_ms", "7-Zip benchmark (7za b, fixed work), whole run", "ms", True),
    ("sevenzip_comp_mips", "7-Zip LZMA compression rating", "MIPS", False),
    ("sevenzip_decomp_mips", "7-Zip LZMA decompression rating", "MIPS", False),
    ("sqlite_ms", "sqlite3: SQL script, in-memory database", "ms", True),
    ("gcc_ms", "gcc (cc1) compiling a C file", "ms", True),
]
# The metrics each workload must produce (smoke check), by guest workload.
WORKLOAD_METRICS = {
    "boot": ["wall_init_s", "guest_init_s", "wall_total_s"],
    "pi": ["pi_ms"],
    "float": ["float_ms"],
    "disk": [m for m, *_ in METRICS if m.startswith("disk_")],
    "lat": ["lat_syscall_ns", "lat_ctx_us"],
    "mem": ["mem_rd_mibs", "mem_wr_mibs"],
    "file": ["file_rd_mibs"],
    "xz": ["xz_compress_ms", "xz_decompress_ms"],
    "7z": ["sevenzip_ms", "sevenzip_comp_mips", "sevenzip_decomp_mips"],
    "sqlite": ["sqlite_ms"],
    "gcc": ["gcc_ms"],
}
NATIVE_METRICS = ["pi_ms", "float_ms"]
# Engine counters (kernel and user only): label, function of the stats dict.
STATS = [
    ("MIPS (guest instructions / wall time)", lambda s: ratio(s.get("instructions"), s.get("wall_ns"), 1e3)),
    ("TB executions served from the cache, %", lambda s: pct_hit(s)),
    ("TLB misses per 1000 instructions", lambda s: ratio(s.get("tlb_misses"), s.get("instructions"), 1e3)),
    ("time translating, % of wall", lambda s: ratio(s.get("translate_ns"), s.get("wall_ns"), 100)),
    ("blocks translated (millions)", lambda s: ratio(s.get("tbs_translated"), 1e6, 1)),
    ("tier 2: blocks compiled", lambda s: num(s.get("t2_compiled"))),
    ("tier 2: % of block executions", lambda s: ratio(s.get("t2_executed"), s.get("tbs_executed"), 100)),
    ("tier 2: vCPU time compiling (kemu.ko: queueing), % of wall", lambda s: ratio(s.get("t2_compile_ns"), s.get("wall_ns"), 100)),
]


def num(v):
    """A JSON value as a float: numbers as is, decimal strings parsed; None otherwise."""
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, (int, float)):
        return float(v)
    try:
        return float(str(v).strip())
    except ValueError:
        return None


def ratio(a, b, scale):
    a, b = num(a), num(b)
    if a is None or not b:
        return None
    return a / b * scale


def pct_hit(s):
    ex, tr = num(s.get("tbs_executed")), num(s.get("tbs_translated"))
    if not ex or tr is None:
        return None
    return max(0.0, (ex - tr) / ex * 100)


def legacy_dispatch(run):
    """Runs recorded while two dispatch designs existed name theirs in the environment
    ("..., dispatch match|fnptr"): the `match` ones are today's runs (the label goes);
    the function-pointer design was removed, its runs are left out (None)."""
    env = run.get("env", "?")
    if ", dispatch fnptr" in env:
        return None
    if ", dispatch match" in env:
        return dict(run, env=env.replace(", dispatch match", ""))
    return run


def is_bare(run):
    """A bare-metal program run (`kemuctl bench --bare`): no guest workloads."""
    return run.get("config") != "native" and not run.get("workloads")


def bare_program(env):
    """The program a bare-metal environment names ("..., bare-metal branchy, ..." ->
    "branchy"), None for the others."""
    _, found, rest = (env or "").partition("bare-metal ")
    return (rest.split(",")[0].strip() or None) if found else None


def metric_label(m, label, env):
    """A metric's label in env's table: the bare-metal MIPS row names its program."""
    prog = bare_program(env) if m == "bare_mips" else None
    return f"MIPS, whole process (bare-metal {prog})" if prog else label


def run_values(run):
    """metric -> value for one run (boot times from the run's own fields)."""
    vals = {}
    for key, field, scale in (("wall_init_s", "wall_init_ms", 1e-3), ("wall_total_s", "wall_total_ms", 1e-3)):
        v = num(run.get(field))
        if v is not None and run.get("config") != "native":
            vals[key] = v * scale
    g = num(run.get("guest_init_s"))
    if g is not None:
        vals["guest_init_s"] = g
    for k, v in (run.get("metrics") or {}).items():
        f = num(v)
        if f is not None:
            vals[k] = f
    return vals


def fmt(v):
    if v is None:
        return "-"
    a = abs(v)
    if a >= 1000:
        return f"{v:,.0f}"
    if a >= 100:
        return f"{v:.0f}"
    if a >= 10:
        return f"{v:.1f}"
    if a >= 1:
        return f"{v:.2f}"
    return f"{v:.3f}"


def summarize(runs):
    """env -> {configs, metrics: {metric: {config: {median, min, max, n}}}, stats, failed}."""
    envs = {}
    for r in runs:
        e = envs.setdefault(r.get("env", "?"), {"runs": [], "failed": 0, "host": r.get("host", {})})
        if r.get("warmup"):
            continue
        if not r.get("ok"):
            e["failed"] += 1
        e["runs"].append(r)
    out = {}
    for env, e in envs.items():
        configs = [c for c in CONFIG_ORDER if any(r.get("config") == c for r in e["runs"])]
        metrics = {}
        for m, *_ in METRICS:
            row = {}
            for c in configs:
                vs = [run_values(r).get(m) for r in e["runs"] if r.get("config") == c and r.get("ok")]
                vs = [v for v in vs if v is not None]
                if vs:
                    row[c] = {"median": statistics.median(vs), "min": min(vs), "max": max(vs), "n": len(vs)}
            if row:
                metrics[m] = row
        # Bare-metal runs execute the same instructions in every configuration: MIPS for
        # QEMU too, from kemu's instruction count and each run's whole wall time.
        insns = [num((r.get("stats") or {}).get("instructions")) for r in e["runs"] if r.get("ok") and is_bare(r)]
        insns = [v for v in insns if v]
        if insns:
            ref = statistics.median(insns)
            row = {}
            for c in configs:
                vs = [ref / (num(r.get("wall_total_ms")) * 1e3) for r in e["runs"]
                      if r.get("config") == c and r.get("ok") and num(r.get("wall_total_ms"))]
                if vs:
                    row[c] = {"median": statistics.median(vs), "min": min(vs), "max": max(vs), "n": len(vs)}
            if row:
                metrics["bare_mips"] = row
        stats = {}
        for label, f in STATS:
            row = {}
            for c in configs:
                vs = [f(r.get("stats") or {}) for r in e["runs"] if r.get("config") == c and r.get("ok")]
                vs = [v for v in vs if v is not None]
                if vs:
                    row[c] = statistics.median(vs)
            if row:
                stats[label] = row
        out[env] = {"configs": configs, "metrics": metrics, "stats": stats, "failed": e["failed"],
                    "host": e["host"], "runs": len(e["runs"])}
    return out


def table_md(env, s):
    cfgs = s["configs"]
    per = max((v["n"] for row in s["metrics"].values() for v in row.values()), default=0)
    lines = [f"**{env}** (up to {per} measured runs per configuration; median, min-max in brackets; "
             f"x qemu = this / qemu, x native likewise)", ""]
    hdr = "| workload | unit | " + " | ".join(cfgs) + " | " + " | ".join(
        f"{c} x qemu" for c in cfgs if c not in ("qemu", "native")) + " | kernel / user | kernel-t2 / user-t2 |"
    lines += [hdr, "|" + "---|" * (hdr.count("|") - 1)]
    for m, label, unit, _lower in METRICS:
        row = s["metrics"].get(m)
        if not row:
            continue
        label = metric_label(m, label, env)
        cells = []
        for c in cfgs:
            v = row.get(c)
            cells.append(f"{fmt(v['median'])} ({fmt(v['min'])}-{fmt(v['max'])})" if v else "-")
        q = row.get("qemu", {}).get("median")
        rat = []
        for c in cfgs:
            if c in ("qemu", "native"):
                continue
            v = row.get(c, {}).get("median")
            rat.append(f"{v / q:.2f}" if v is not None and q else "-")
        ku = []
        for kc, uc in (("kernel", "user"), ("kernel-t2", "user-t2")):
            k, u = row.get(kc, {}).get("median"), row.get(uc, {}).get("median")
            ku.append(f"{k / u:.2f}" if k is not None and u else "-")
        ku = " | ".join(ku)
        n = row.get("native", {}).get("median")
        if n and m in NATIVE_METRICS:
            label = f"{label} (x native: " + ", ".join(
                f"{c} {row[c]['median'] / n:.1f}" for c in cfgs if c != "native" and c in row) + ")"
        lines.append(f"| {label} | {unit} | " + " | ".join(cells) + " | " + " | ".join(rat) + f" | {ku} |")
    if s["stats"]:
        kc = [c for c in cfgs if c in KEMU_CONFIGS]
        lines += ["", "| engine counters (median) | " + " | ".join(kc) + " |", "|---|" + "---|" * len(kc)]
        for label, row in s["stats"].items():
            lines.append(f"| {label} | " + " | ".join(fmt(row.get(c)) for c in kc) + " |")
    if s["failed"]:
        lines += ["", f"{s['failed']} measured run(s) failed and are left out; see the JSON."]
    return "\n".join(lines)


def chart_svg(summary):
    """Grouped bars: speed relative to QEMU (qemu = 1; higher is better) per workload."""
    colors = {"kernel": "#c0392b", "kernel-t2": "#78281f", "user": "#2471a3", "user-t2": "#1b4f72",
              "qemu": "#7f8c8d", "native": "#27ae60"}
    panels = []
    for env, s in summary.items():
        groups = []
        for m, label, unit, lower in METRICS:
            row = s["metrics"].get(m)
            if not row or "qemu" not in row:
                continue
            q = row["qemu"]["median"]
            bars = []
            for c in s["configs"]:
                v = row.get(c, {}).get("median")
                if v is None or not q or not v:
                    continue
                bars.append((c, q / v if lower else v / q))
            if bars:
                groups.append((m, bars))
        panels.append((env, groups))
    bw, gap, left, top, ph = 9, 14, 60, 40, 260
    width = max(left + 20 + 3 * 300,
                left + 20 + max((sum(len(b) * bw + gap for _, b in g) for _, g in panels), default=100))
    height = top + len(panels) * (ph + 150) + 50
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="11">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{left}" y="18" font-size="14">kemu benchmark: speed relative to QEMU TCG '
           f'(qemu = 1, higher is better; log scale)</text>']
    import math
    lo, hi = -2.0, 2.0  # log10 range: 0.01x .. 100x
    y0 = top
    for env, groups in panels:
        out.append(f'<text x="{left}" y="{y0 + 14}" font-size="12" font-weight="bold">{env}</text>')
        base = y0 + 24

        def ypos(r):
            lr = min(hi, max(lo, math.log10(r)))
            return base + (hi - lr) / (hi - lo) * ph

        for t in (0.01, 0.1, 1, 10, 100):
            y = ypos(t)
            out.append(f'<line x1="{left}" x2="{width - 10}" y1="{y:.1f}" y2="{y:.1f}" stroke="{"#000" if t == 1 else "#ddd"}"/>')
            out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{t:g}x</text>')
        x = left + 6
        for m, bars in groups:
            gx = x
            for c, r in bars:
                y1, y2 = ypos(r), ypos(1)
                ytop, h = min(y1, y2), abs(y2 - y1)
                out.append(f'<rect x="{x}" y="{ytop:.1f}" width="{bw - 1}" height="{max(h, 0.5):.1f}" fill="{colors[c]}">'
                           f'<title>{c} {m}: {r:.3g}x qemu</title></rect>')
                x += bw
            cx = (gx + x) / 2
            ly = base + ph + 8
            out.append(f'<text x="{cx:.1f}" y="{ly}" transform="rotate(60 {cx:.1f} {ly})">{m}</text>')
            x += gap
        y0 += ph + 150
    for i, c in enumerate(CONFIG_ORDER):
        lx, ly = left + (i % 3) * 300, height - 40 + (i // 3) * 18
        out.append(f'<rect x="{lx}" y="{ly}" width="10" height="10" fill="{colors[c]}"/>'
                   f'<text x="{lx + 14}" y="{ly + 9}">{CONFIG_LABEL[c]}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def expect_check(runs, expects):
    """Each `ENV-PATTERN=CONFIG,...` names an environment present with an ok run of each
    configuration (an empty VM table, say, fails here)."""
    problems = []
    for e in expects:
        pattern, _, configs = e.partition("=")
        envs = {r.get("env") for r in runs if fnmatch.fnmatchcase(r.get("env") or "", pattern)}
        if not envs:
            problems.append(f"no runs in an environment like '{pattern}'")
            continue
        for env in sorted(envs):
            have = {r.get("config") for r in runs if r.get("env") == env and r.get("ok")}
            missing = [c for c in configs.split(",") if c and c not in have]
            if missing:
                problems.append(f"{env}: no ok run of {', '.join(missing)}")
    return problems


def smoke_check(runs):
    """Every configuration ran once, ok, with every metric of its workloads."""
    problems = []
    by_env = {}
    for r in runs:
        by_env.setdefault(r.get("env"), []).append(r)
    for env, rs in by_env.items():
        for r in rs:
            c = r.get("config")
            if not r.get("ok"):
                problems.append(f"{env}/{c}: run failed (exit {r.get('exit_status')}, timeout {r.get('timeout')})")
                continue
            vals = run_values(r)
            if c == "native":
                want = [m for w in r.get("workloads") or [] for m in WORKLOAD_METRICS.get(w, [])]
            elif is_bare(r):
                want = ["wall_total_s"]
            else:
                want = WORKLOAD_METRICS["boot"] + [m for w in r.get("workloads") or [] for m in WORKLOAD_METRICS.get(w, [])]
            missing = [m for m in want if m not in vals]
            if missing:
                problems.append(f"{env}/{c}: missing {', '.join(missing)}")
            if c in ("kernel", "kernel-t2", "user", "user-t2"):
                st = r.get("stats") or {}
                if not num(st.get("instructions")):
                    problems.append(f"{env}/{c}: no instruction count in stats")
        # The float kernel's checksum must agree between configurations (soft-float check).
        sums = {r.get("config"): (r.get("metrics") or {}).get("float_checksum") for r in rs}
        sums = {c: v for c, v in sums.items() if v is not None}
        if len(set(sums.values())) > 1:
            problems.append(f"{env}: float checksums differ: {sums}")
    return problems


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--date", default=None)
    ap.add_argument("--command", default="make bench")
    ap.add_argument("--out", default="bench/results")
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--expect", action="append", default=[])
    ap.add_argument("files", nargs="+")
    a = ap.parse_args()
    runs = []
    for f in a.files:
        with open(f) as fh:
            for line in fh:
                line = line.strip()
                if line:
                    runs.append(json.loads(line))
    if not runs:
        print("report.py: no runs recorded", file=sys.stderr)
        return 1
    date = a.date or runs[0].get("date") or "undated"
    summary = summarize([r for r in map(legacy_dispatch, runs) if r is not None])
    md = [f"`{a.command}`, {date}; host: {platform.node()}, {os.cpu_count()} CPUs, {platform.release()}.", ""]
    for env, s in summary.items():
        md += [table_md(env, s), ""]
    text = "\n".join(md)
    print(text)
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, f"{date}.md"), "w") as fh:
        fh.write(text + "\n")
    with open(os.path.join(a.out, f"{date}.json"), "w") as fh:
        json.dump({"date": date, "command": a.command, "summary": summary, "runs": runs}, fh, indent=1)
        fh.write("\n")
    with open(os.path.join(a.out, f"{date}.svg"), "w") as fh:
        fh.write(chart_svg(summary))
    print(f"report.py: wrote {a.out}/{date}.json, .md, .svg")
    if a.smoke:
        problems = smoke_check(runs) + expect_check(runs, a.expect)
        for p in problems:
            print(f"bench smoke: FAIL {p}", file=sys.stderr)
        if problems:
            return 1
        print(f"bench smoke: ok ({len(runs)} runs in {len(a.expect)} expected environments, every configuration produced every metric)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
