#!/usr/bin/env bash
# Boots kemu's riscv64 test guest (tests/guest/build-guest.sh) and checks what it does:
#   rw case: init reached, the virtio/ext4 modules load, a file written in the guest is
#            read back there and found by the host in the image (debugfs), pi prints the
#            right 1000 digits, the guest powers off cleanly;
#   ro case: the disk is attached read-only and the guest's writes fail.
# Runners: `qemu` (qemu-system-riscv64 -M virt, the reference; its rw case runs twice,
# once with QEMU's own device tree and once with the one `kemuctl plan` generates, which
# checks kemu's device tree against the real firmware and kernel) and `kemu-run`
# (`kemuctl run`: kemu's CPU and devices in a process, kernel and initrd taken from the
# image's /boot, stdin not a terminal). Each case is checked the same way for every
# runner, so kemu is cross-checked against QEMU.
#
#   tests/guest/run-guest-tests.sh [--runner qemu|kemu-run]
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
runner=qemu
while [ $# -gt 0 ]; do
    case "$1" in
        --runner) runner=$2; shift 2 ;;
        *) echo "run-guest-tests.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
timeout_s=${KEMU_GUEST_TIMEOUT:-300}
firmware=/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin
guest=$("$here/build-guest.sh" | tail -n 1)
out="$repo/target/guest-tests/$runner"
mkdir -p "$out"

# pi's first 1000 digits, computed independently of the guest program (Machin's formula
# in Python's exact integers).
pi_ref=$(python3 "$here/pi_reference.py" 1000)

kemuctl="$repo/target/release/kemuctl"
cargo build -q --release -p kemuctl --manifest-path "$repo/Cargo.toml"

boot() { # boot CASE DISK READONLY(0|1) APPEND [DTB] -> console log in $out/CASE.log
    local case=$1 disk=$2 ro=$3 append=$4 dtb=${5:-} log="$out/$1.log"
    case "$runner" in
        qemu)
            local ro_opt="" dtb_opt=()
            [ "$ro" = 1 ] && ro_opt=",readonly=on"
            [ -n "$dtb" ] && dtb_opt=(-dtb "$dtb")
            timeout --kill-after=10 "$timeout_s" qemu-system-riscv64 -M virt -m 512 -smp 1 "${dtb_opt[@]}" \
                -nographic -no-reboot -monitor none -serial stdio -bios "$firmware" \
                -kernel "$guest/Image" -initrd "$guest/initrd.img" -append "console=ttyS0 $append" \
                -drive "file=$disk,format=raw,if=none,id=hd0$ro_opt" -device virtio-blk-device,drive=hd0 \
                </dev/null >"$log" 2>&1 || return $?
            ;;
        kemu-run)
            local ro_opt=()
            [ "$ro" = 1 ] && ro_opt=(--ro)
            timeout --kill-after=10 "$timeout_s" "$kemuctl" run --mem 512M --stats --firmware "$firmware" \
                --append "console=ttyS0 $append" "${ro_opt[@]}" "$disk" </dev/null >"$log" 2>&1 || return $?
            ;;
        *) echo "run-guest-tests.sh: unknown runner $runner" >&2; return 2 ;;
    esac
}

passed=0; failed=0
verdict() { # verdict NAME OK(0|1) DETAIL
    if [ "$2" = 1 ]; then passed=$((passed + 1)); echo "ok - $runner: $1 ($3)";
    else failed=$((failed + 1)); echo "not ok - $runner: $1 ($3)"; fi
}

rw_case() { # rw_case NAME [DTB]
nonce="n$RANDOM$RANDOM"
cp "$guest/guest.img" "$out/$1.img"
start=$SECONDS; rc=0
boot "$1" "$out/$1.img" 0 "kemu.mode=test kemu.nonce=$nonce" "${2:-}" || rc=$?
took=$((SECONDS - start)); log="$out/$1.log"
init_at=$(sed -n 's/^KEMU-GUEST: init at uptime \([0-9.]*\) s.*/\1/p' "$log" | tr -d '\r')
pi_ms=$(sed -n 's/^pi: 1000 digits in \([0-9]*\) ms.*/\1/p' "$log" | tr -d '\r')
mips=$(sed -n 's/.*(\([0-9.]*\) MIPS).*/\1/p' "$log" | tail -n 1)
ok=1; why="boot to init at ${init_at:-?} s guest uptime, pi ${pi_ms:-?} ms, ${took}s wall${mips:+, $mips MIPS}"
[ "$rc" = 0 ] || { ok=0; why="runner exit $rc; $why"; }
grep -q "KEMU-GUEST: result PASS" "$log" || { ok=0; why="guest reported failure: $(grep 'KEMU-GUEST: FAIL' "$log" | head -3 | tr '\n' ' ')"; }
grep -qxF "$pi_ref" <(tr -d '\r' < "$log") || { ok=0; why="pi digits wrong; $why"; }
host_sees=$(debugfs -R 'cat /kemu-test.txt' "$out/$1.img" 2>/dev/null)
[ "$host_sees" = "kemu guest wrote this: $nonce" ] || { ok=0; why="host reads '$host_sees' from the image; $why"; }
e2fsck -fn "$out/$1.img" >/dev/null 2>&1 || { ok=0; why="e2fsck -n finds errors; $why"; }
local what="boot Debian's kernel, ext4 write read back on the host, pi"
[ -n "${2:-}" ] && what="$what, with kemuctl's device tree"
verdict "$what" "$ok" "$why"
}

rw_case rw
if [ "$runner" = qemu ]; then
    "$kemuctl" plan --mem 512M "$guest/guest.img" --dump-dtb "$out/kemu.dtb" >/dev/null
    rw_case rw-kemu-dtb "$out/kemu.dtb"
fi

# ro case
cp "$guest/guest.img" "$out/ro.img"
before=$(sha256sum < "$out/ro.img")
rc=0; boot ro "$out/ro.img" 1 "kemu.mode=ro" || rc=$?
log="$out/ro.log"; ok=1; why="writes refused"
[ "$rc" = 0 ] || { ok=0; why="runner exit $rc"; }
grep -q "KEMU-GUEST: read-only disk refused writes" "$log" || { ok=0; why="guest could write"; }
grep -q "KEMU-GUEST: result PASS" "$log" || { ok=0; why="guest reported failure: $(grep 'KEMU-GUEST: FAIL' "$log" | head -3 | tr '\n' ' ')"; }
[ "$(sha256sum < "$out/ro.img")" = "$before" ] || { ok=0; why="the read-only image changed"; }
verdict "read-only disk refuses guest writes" "$ok" "$why"

echo "guest tests ($runner): $passed passed, $failed failed"
[ "$failed" = 0 ]
