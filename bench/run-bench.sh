#!/usr/bin/env bash
# `make bench`: kemu inside the kernel vs kemu as a process vs QEMU, on the same Debian
# riscv64 guest, in the same run. Two tables, each from one environment:
#   vm:   the x86_64 test VM (qemu-system-x86_64, TCG) running Debian's own cloud
#         kernel (linux-image-7.3.*-cloud-amd64, as a Debian user runs it: retpolines,
#         IBT, every mitigation its config has); configurations kernel (`kemuctl start`,
#         kemu.ko), user (`kemuctl run`), qemu (qemu-system-riscv64 inside the same VM)
#         and native (the workloads built for x86_64, run in the VM). Measured twice:
#         mitigations as booted and with `mitigations=off`.
#   host: this machine directly: user, qemu and native (no kernel row: kemu.ko cannot be
#         loaded into the host's kernel here, see README).
# Every run is a `kemuctl bench` JSON line (kemuctl bench's stdout carries only those, and
# they also go to --out, hence >/dev/null below); bench/report.py turns them into the table on
# stdout, bench/results/<date>.json (every run) and bench/results/<date>.svg (chart).
#
#   bench/run-bench.sh [--runs N] [--warmup N] [--vm-runs N] [--vm-warmup N] [--quick]
#                      [--smoke] [--only vm|host]
#                      [--kernel-variant VARIANT] [--mitigations both|on|off]
#                      [--out DIR] [--vm-configs LIST] [--vm-workloads LIST] [--vm-no-bare]
#                      [--tier2-threshold N] [--module-params "P=V ..."]
#                      [--vm-perf GUEST-ARGS]
# --vm-configs/--vm-workloads: what the VM table runs (default: every configuration and
# workload); --vm-no-bare: no bare-metal programs (pi, branchy) in the VM;
# --tier2-threshold: passed to the tier-2 configurations (default: each host's own
# threshold); --kernel-variant: the VM's
# kernel (tests/vm/kernels.sh; default debian-cloud: the generic debian-amd64 has ext4 as
# a module, which the bench VM does not load yet); --module-params: kemu.ko's module
# parameters in the VM (e.g. "t2_blind=1"; named in the results' environment).
# --vm-perf: profile instead of measuring: in the VM, each of --vm-configs (kemu's own:
# kernel, kernel-t2, user, user-t2) boots the guest once with --vm-workloads under `perf
# record -a` (cpu-clock, both CPUs), and the top of `perf report --sort dso` and `--sort
# dso,sym` goes to
# DIR/perf-vm-<mitigations>.txt. GUEST-ARGS: more guest kernel arguments, comma-separated
# (e.g. kemu.bench.float_steps=500000, so that the workload outweighs the boot), or "-".
# Installs linux-perf if the host has no perf (its binary and libraries go to the VM).
# --smoke: one run per configuration, no warm-up, small workloads, Debian's cloud kernel
# (already prepared for the tests), one mitigation setting, results under target/bench-smoke: what
# `make test` runs to keep this script working. Timings are never asserted.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
command_line="bench/run-bench.sh $*"
runs=${KEMU_BENCH_RUNS:-5}
warmup=${KEMU_BENCH_WARMUP:-1}
quick=0; smoke=0; only=""; kvariant=debian-cloud; mitig=both; out=""
vm_workloads=pi,float,disk,lat,mem,file,xz,7z,sqlite,gcc
vm_runs=""; vm_warmup=""
vm_configs=kernel,kernel-t2,user,user-t2,qemu,native
vm_bare=1
t2_opt=()
modparams=""
perf_args=""
while [ $# -gt 0 ]; do
    case "$1" in
        --runs) runs=$2; shift 2 ;;
        --vm-runs) vm_runs=$2; shift 2 ;;
        --vm-warmup) vm_warmup=$2; shift 2 ;;
        --warmup) warmup=$2; shift 2 ;;
        --quick) quick=1; shift ;;
        --smoke) smoke=1; shift ;;
        --only) only=$2; shift 2 ;;
        --kernel-variant) kvariant=$2; shift 2 ;;
        --mitigations) mitig=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        --vm-configs) vm_configs=$2; shift 2 ;;
        --vm-workloads) vm_workloads=$2; shift 2 ;;
        --tier2-threshold) t2_opt=(--tier2-threshold "$2"); shift 2 ;;
        --module-params) modparams=$2; shift 2 ;;
        --vm-no-bare) vm_bare=0; shift ;;
        --vm-perf) perf_args=$2; shift 2 ;;
        *) echo "run-bench.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
if [ "$smoke" = 1 ]; then
    runs=1; warmup=0; quick=1; kvariant=debian-cloud; mitig=on
    # In the VM (slow: nested emulation) only the workloads whose host
    # side differs there: pi and the two disks through kemu.ko; the host runs them all.
    # And not `user` on tier 1 there (its Debian boot takes 200 s in that VM; the host
    # smoke runs it, and user-t2 runs the same process in the VM).
    vm_workloads=pi,disk
    vm_configs=kernel,kernel-t2,user-t2,qemu,native
    out=${out:-$repo/target/bench-smoke}
fi
if [ -n "$perf_args" ]; then
    [ "$only" = host ] && { echo "run-bench.sh: --vm-perf profiles in the VM; not with --only host" >&2; exit 2; }
    case "$perf_args" in *" "*) echo "run-bench.sh: --vm-perf takes comma-separated guest arguments, no spaces" >&2; exit 2 ;; esac
    only=vm
fi
vm_runs=${vm_runs:-$runs}
vm_warmup=${vm_warmup:-$warmup}
date_tag=$(date -u +%Y-%m-%d)
out=${out:-$repo/bench/results}
work="$repo/target/bench"
mkdir -p "$out" "$work"
rm -f "$work"/*.jsonl
quick_opt=()
[ "$quick" = 1 ] && quick_opt=(--quick)
firmware=/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin

echo "== guest kit, kemuctl (static)"
guest=$("$repo/tests/guest/build-guest.sh" | tail -n 1)
make -s -C "$repo" kemuctl
kemuctl="$repo/target/x86_64-unknown-linux-gnu/release/kemuctl"

# CPU-only comparison (MIPS): ktranslator's bare-metal pi and branchy benchmark
# programs, run with no firmware and no OS (`--bios none`) by every configuration.
ktests="$repo/tests/baremetal/isa"
"$repo/tests/baremetal/cc" -O2 -DN="$([ "$quick" = 1 ] && echo 300 || echo 2000)" -o "$work/pi-bare.elf" "$ktests/pi.c"
# And branchy code with short blocks (a list, a tree, a lexer, CRC-32, a sort: issue 22),
# N rounds; its native build prints the checksum the RISC-V build must reach (-DEXPECT:
# a run with another one fails).
branchy_n=$([ "$quick" = 1 ] && echo 1000 || echo 30000)
gcc -O2 -DHOST -DN="$branchy_n" -o "$work/branchy-host" "$ktests/branchy.c"
branchy_sum=$("$work/branchy-host" | sed -n 's/^branchy N=[0-9]* checksum=\(0x[0-9a-f]*\)$/\1/p')
[ -n "$branchy_sum" ] || { echo "run-bench.sh: the native build of branchy.c printed no checksum" >&2; exit 1; }
"$repo/tests/baremetal/cc" -O2 -DN="$branchy_n" -DEXPECT="$branchy_sum" -o "$work/branchy-bare.elf" "$ktests/branchy.c"

# The scratch disks the guest's disk workload writes to: ext4, found by label.
scratch() { # scratch FILE LABEL
    rm -f "$1"
    mke2fs -q -F -t ext4 -L "$2" "$1" 64M
}

host_table() {
    echo "== host table: kemuctl run, qemu-system-riscv64 and native, on this machine"
    cp "$guest/guest.img" "$work/host-guest.img"
    scratch "$work/host-wb.img" KEMU-WB
    scratch "$work/host-wt.img" KEMU-WT
    local rc=0
    "$kemuctl" bench --configs user,user-t2,qemu,native --runs "$runs" --warmup "$warmup" "${quick_opt[@]}" "${t2_opt[@]}" \
        --disk-wb "$work/host-wb.img" --disk-wt "$work/host-wt.img" \
        --kernel "$guest/Image" --initrd "$guest/initrd.img" --firmware "$firmware" \
        --native-pi "$guest/pi-native" --native-float "$guest/float-native" \
        --env host --log-dir "$work/logs-host" --out "$work/host.jsonl" \
        "$work/host-guest.img" >/dev/null || rc=$?
    "$kemuctl" bench --configs user,user-t2,qemu --runs "$runs" --warmup "$warmup" "${t2_opt[@]}" --bare "$work/pi-bare.elf" \
        --mem 64M --env "host, bare-metal pi" --log-dir "$work/logs-host" \
        --out "$work/host-bare.jsonl" >/dev/null || rc=$?
    "$kemuctl" bench --configs user,user-t2,qemu --runs "$runs" --warmup "$warmup" "${t2_opt[@]}" --bare "$work/branchy-bare.elf" \
        --mem 64M --env "host, bare-metal branchy" --log-dir "$work/logs-host-branchy" \
        --out "$work/host-branchy.jsonl" >/dev/null || rc=$?
    return "$rc"
}

# The x86 VM's tools disk: kemu.ko, qemu-system-riscv64 with its libraries, the guest's
# kernel, initrd and firmware, the native builds of the workloads.
tools_disk() { # tools_disk IMG
    local img=$1 root="$work/tools"
    kemu_kernel "$kvariant" "$work" || return 1
    rm -rf "$root"
    mkdir -p "$root/bin" "$root/lib"
    cp "$KV_KO" "$root/kemu.ko"
    cp "$work/pi-bare.elf" "$root/pi-bare.elf"
    cp "$work/branchy-bare.elf" "$root/branchy-bare.elf"
    cp "$kemuctl" "$root/bin/kemuctl"
    cp "$guest/Image" "$guest/initrd.img" "$firmware" "$guest/pi-native" "$guest/float-native" "$root/"
    local qemu
    qemu=$(command -v qemu-system-riscv64)
    cp "$qemu" "$root/bin/qemu-system-riscv64"
    local bins=("$qemu") bin
    if [ -n "$perf_args" ]; then
        command -v perf >/dev/null 2>&1 \
            || { apt-get update -q && apt-get install -y -q --no-install-recommends linux-perf; } >&2 \
            || { echo "run-bench.sh: --vm-perf needs perf (apt-get install linux-perf failed)" >&2; return 1; }
        bins+=("$(command -v perf)")
        cp "${bins[1]}" "$root/bin/perf" || return 1
    fi
    # Their shared libraries, loaded through the loader with an explicit library path.
    local libs
    libs=$(for bin in "${bins[@]}"; do
        ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}'
    done | sort -u) || return 1
    # shellcheck disable=SC2086
    cp -L $libs "$root/lib/" || return 1
    mke2fs -q -F -t ext4 -L kemu-tools -d "$root" "$img" 512M || return 1
}

vm_table() {
    tools_disk "$work/tools.img" || { echo "run-bench.sh: building the bench VM's tools failed" >&2; return 1; }
    # The VM's initramfs: busybox, the init script and the modules its kernel needs for
    # the disks; everything else is on the tools disk.
    local iroot="$work/initramfs"
    rm -rf "$iroot"
    mkdir -p "$iroot"/{bin,dev,proc,sys,tmp,mnt}
    cp /bin/busybox "$iroot/bin/busybox"
    cp "$here/vm-init.sh" "$iroot/init"
    [ -n "$KV_LIB" ] && cp -r "$KV_LIB" "$iroot/lib"
    (cd "$iroot" && find . | cpio -o -H newc --quiet) | gzip -1 > "$work/initramfs.cpio.gz"
    local -a settings
    case "$mitig" in both) settings=(on off) ;; on|off) settings=("$mitig") ;; *) echo "bad --mitigations $mitig" >&2; exit 2 ;; esac
    local m rc=0
    for m in "${settings[@]}"; do
        echo "== vm table ($kvariant kernel, mitigations $m): kernel, user, qemu, native inside the x86_64 test VM"
        cp "$guest/guest.img" "$work/vm-guest.img"
        scratch "$work/vm-wb.img" KEMU-WB
        scratch "$work/vm-wt.img" KEMU-WT
        local append="console=ttyS0 panic=-1 kemu.runs=$vm_runs kemu.warmup=$vm_warmup kemu.quick=$quick kemu.kvariant=$kvariant kemu.mitigations=$m kemu.workloads=$vm_workloads kemu.configs=$vm_configs kemu.bare=$vm_bare kemu.t2threshold=${t2_opt[1]:-0} kemu.modparams=${modparams// /,}"
        [ -n "$perf_args" ] && append="$append kemu.perf=$perf_args"
        [ "$m" = off ] && append="$append mitigations=off"
        local log="$work/console-vm-$m.log"
        # Generous: the runs inside are bounded by kemuctl bench's own per-run timeout.
        timeout --kill-after=10 $((600 + (vm_runs + vm_warmup) * 4000)) qemu-system-x86_64 -m 3G -smp 2 \
            -nographic -no-reboot -monitor none -serial stdio \
            -kernel "$KV_IMAGE" -initrd "$work/initramfs.cpio.gz" \
            -drive "file=$work/vm-guest.img,if=virtio,format=raw" \
            -drive "file=$work/vm-wb.img,if=virtio,format=raw" \
            -drive "file=$work/vm-wt.img,if=virtio,format=raw" \
            -drive "file=$work/tools.img,if=virtio,format=raw,readonly=on" \
            -append "$append" </dev/null 2>&1 | tee "$log" | grep --line-buffered -v '^KEMU-BENCH-JSON ' \
            | sed -u 's/^/  | /' || rc=$?
        tr -d '\r' < "$log" | sed -n 's/^KEMU-BENCH-JSON //p' > "$work/vm-$m.jsonl"
        [ -n "$perf_args" ] && tr -d '\r' < "$log" | sed -n 's/^KEMU-PERF //p' > "$out/perf-vm-$m.txt"
        grep -q "^KEMU-BENCHVM: done (ok)" <(tr -d '\r' < "$log") || { echo "run-bench.sh: the bench VM did not finish well (rc $rc): $(grep -a "KEMU-BENCHVM: done" "$log")" >&2; rc=1; }
        # The x86 kernel must not complain.
        if grep -v '^KEMU-BENCH-JSON ' "$log" | grep -En "$bad_patterns" >&2; then
            echo "run-bench.sh: the bench VM's kernel reported a problem (above)" >&2; rc=1
        fi
    done
    return "$rc"
}

# Kernel-reported problems in the bench VM's console, as in the VM tests.
# shellcheck source=../tests/vm/bad-patterns.sh
. "$repo/tests/vm/bad-patterns.sh"
# shellcheck source=../tests/vm/kernels.sh
. "$repo/tests/vm/kernels.sh"

status=0
if [ "$only" != vm ]; then host_table || status=1; fi
if [ "$only" != host ]; then vm_table || status=1; fi
if [ -n "$perf_args" ]; then
    echo "== profiles: $out/perf-vm-*.txt"
    exit "$status"
fi

echo "== report"
report_args=(--date "$date_tag" --command "$command_line" --out "$out")
if [ "$smoke" = 1 ]; then
    # The whole matrix this run was asked for: every environment with every configuration.
    report_args+=(--smoke)
    if [ "$only" != vm ]; then
        report_args+=(--expect "host=user,user-t2,qemu,native"
                      --expect "host, bare-metal pi=user,user-t2,qemu"
                      --expect "host, bare-metal branchy=user,user-t2,qemu")
    fi
    if [ "$only" != host ]; then
        for m in $( [ "$mitig" = both ] && echo on off || echo "$mitig" ); do
            report_args+=(--expect "x86-64 TCG VM, $kvariant kernel *, mitigations $m*=$vm_configs")
            if [ "$vm_bare" = 1 ]; then
                report_args+=(--expect "x86-64 TCG VM, bare-metal pi, mitigations $m*=kernel,kernel-t2,user,user-t2,qemu"
                              --expect "x86-64 TCG VM, bare-metal branchy, mitigations $m*=kernel,kernel-t2,user,user-t2,qemu")
            fi
        done
    fi
fi
# Tables in this order: host, then the VM with mitigations on, then off.
jsonl=()
for f in host host-bare host-branchy vm-on vm-off; do [ -s "$work/$f.jsonl" ] && jsonl+=("$work/$f.jsonl"); done
python3 "$here/report.py" "${report_args[@]}" "${jsonl[@]}" || status=1
exit "$status"
