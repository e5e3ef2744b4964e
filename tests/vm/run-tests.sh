#!/usr/bin/env bash
# kemu's VM tests: for each kernel variant, build kemu.ko against it and the static
# userspace tools, pack them into an initramfs with busybox, boot it under
# qemu-system-x86_64 (TCG: /dev/kvm here cannot run stock kernels) and check what the
# guest reports on its serial console.
#
#   tests/vm/run-tests.sh [--demo] [--variant VARIANT]...
#
# Variants: base (kemu's own test kernel: lockdep, atomic-sleep checks, kmemleak), kasan
# (the same plus KASAN), debian-cloud, debian-amd64, debian-rt (Debian's stock
# $DEBIAN_KERNEL_VERSION kernels from its packages, as a Debian user runs them:
# scripts/debian/). Default: all; --demo: debian-cloud.
#
# KEMU_VM_QUICK=1 leaves out the Debian riscv64 guest (for development runs; `make test`
# never sets it). KEMU_VM_STEPS=REGEX (no spaces) runs only the VM steps whose names match
# (the others are reported left out, and the run fails as PARTIAL).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
out="$repo/target/vm"
# Per VM run; the base variant boots Debian's kernel inside kemu.ko twice under TCG.
timeout_base=${KEMU_VM_TIMEOUT:-2400}
timeout_kasan=${KEMU_VM_TIMEOUT:-900}
variants=()
demo=0
while [ $# -gt 0 ]; do
    case "$1" in
        --demo) demo=1; shift ;;
        --variant) variants+=("$2"); shift 2 ;;
        *) echo "run-tests.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
if [ ${#variants[@]} = 0 ]; then
    if [ "$demo" = 1 ]; then variants=(debian-cloud); else variants=(base kasan debian-cloud debian-amd64 debian-rt); fi
fi
mkdir -p "$out"

echo "== building kemuctl and kemu-vmtest (static)"
make -s -C "$repo" kemuctl
bins="$repo/target/x86_64-unknown-linux-gnu/release"

# Bare-metal RISC-V programs the VM tests run inside kemu.ko (flat binaries at 0x80000000).
guests="$out/guests"
mkdir -p "$guests"
cross_cc() { "$repo/tests/baremetal/cc" "$@"; }
bm="$repo/tests/baremetal"
for src in "$bm"/vm/*.S "$bm"/vm/*.c; do
    g=$(basename "${src%.*}")
    case "$src" in
        *-start.S) continue ;;                                   # entry code of a C guest
        *.c) start="$bm/vm/$g-start.S"; [ -f "$start" ] || start="$bm/vm/diskio-start.S"
             cross_cc -O2 -ffreestanding -fno-builtin -o "$guests/$g.elf" "$start" "$src" ;;
        *) cross_cc -o "$guests/$g.elf" "$src" ;;
    esac
    riscv64-linux-gnu-objcopy -O binary "$guests/$g.elf" "$guests/$g.bin"
done
# ktranslator's self-checking ISA programs (they report through the SiFive test device,
# which kemu's board has at the same address), run inside kemu.ko with tier 2.
isa="$bm/isa"
for g in rv64i rv64m rv64a csr_trap smc fp vm; do
    cross_cc -o "$guests/isa-$g.elf" "$isa/$g.S"
done
# The branchy benchmark (lists, a tree, a lexer, CRC-32, a sort), small: tier 2 runs its
# loops as regions; it checks its checksum against the native build's.
gcc -O2 -DHOST -DN=1000 -o "$guests/branchy-host" "$isa/branchy.c"
branchy_sum=$("$guests/branchy-host" | sed -n 's/^branchy N=1000 checksum=\(0x[0-9a-f]*\)$/\1/p')
[ -n "$branchy_sum" ] || { echo "run-tests.sh: the native branchy printed no checksum" >&2; exit 1; }
cross_cc -O2 -DN=1000 -DEXPECT="$branchy_sum" -o "$guests/branchy.elf" "$isa/branchy.c"
rm -f "$guests/branchy-host"

# shellcheck source=bad-patterns.sh
. "$here/bad-patterns.sh"
# shellcheck source=kernels.sh
. "$here/kernels.sh"

# After a stop in the middle of the guest's `dd conv=fsync` loop: the file system is
# consistent, and every file the guest saw synced is there, whole.
check_dd_image() {
    local img=$1 log=$2 last fixed
    last=$(sed -n 's/^KEMU-DD: last synced \([0-9]*\).*/\1/p' "$log" | tr -d '\r' | tail -n 1)
    [ -n "$last" ] && [ "$last" -ge 5 ] || { echo "FAIL: the dd guest never synced 5 files" >&2; return 1; }
    e2fsck -fn "$img" >/dev/null 2>&1 || { echo "FAIL: e2fsck -n finds errors after the stop" >&2; return 1; }
    # Replay the journal on a copy, as the next mount would, and read the files back.
    fixed="$img.replayed"
    cp "$img" "$fixed"
    e2fsck -fy "$fixed" >/dev/null 2>&1
    local i
    for i in $(seq 1 "$last"); do
        if ! cmp -s <(debugfs -R "cat /dd/$i" "$fixed" 2>/dev/null) <(yes "kemu dd block $i" | head -c 65536); then
            echo "FAIL: /dd/$i, synced by the guest before the stop, is missing or torn" >&2
            return 1
        fi
    done
    echo "== stop during dd: all $last synced files intact, e2fsck -n clean"
    rm -f "$fixed"
}

# The commit of kemu's last ABI 1.5 release (the VM tests load its kemu.ko too).
old_abi_ref=fecf217

# Which of the VM's checks a kernel takes part in (vm-init.sh, kemutest.profile=...): the
# debug kernels take all; Debian's kernels have no kmemleak, and the ABI 1.5 module is
# only built for kemu's own kernels (its source predates building with rustc 1.85).
run_variant() {
    local variant=$1
    echo "== $variant kernel"
    kemu_kernel "$variant" "$out" || return 1
    local kdir=$KV_KDIR profile=$KV_PROFILE

    if [ "$profile" = debug ]; then
        # kemu.ko of ABI 1.5, the last release before extensible structs: this kemuctl
        # must drive it too (vm-init.sh, "ABI 1.5 module").
        echo "== building kemu.ko of ABI 1.5 ($old_abi_ref) against the $variant kernel"
        local old_src="$out/kemu-abi15-src"
        rm -rf "$old_src" && mkdir -p "$old_src"
        git -C "$repo" archive "$old_abi_ref" Kbuild rust ktranslator kdevices uapi | tar -x -C "$old_src"
        make -s -C "$repo" module KDIR="$kdir" MO="$out/kmod-abi15-$variant" MODULE_SRC="$old_src" >/dev/null
    fi

    local root="$out/initramfs-$variant"
    rm -rf "$root"
    mkdir -p "$root"/{bin,sbin,dev,proc,sys,tmp,etc,guests}
    cp "$guests"/*.bin "$guests"/*.elf "$root/guests/"
    cp /bin/busybox "$root/bin/busybox"
    cp "$here/vm-init.sh" "$root/init"
    cp "$KV_KO" "$root/kemu.ko"
    if [ "$profile" = debug ]; then
        cp "$out/kmod-abi15-$variant/kemu.ko" "$root/kemu-abi15.ko"
    else
        cp -r "$KV_LIB" "$root/lib" || return 1
        # As a Debian user installs it (README): `make install` into the VM's root, then
        # depmod, so that `modprobe kemu` finds it (vm-init.sh).
        local release=$KV_RELEASE
        make -s -C "$repo" install DEBIAN_KERNEL="$release" MO="$(dirname "$KV_KO")" DESTDIR="$root" PREFIX=/usr \
            >/dev/null || return 1
        touch "$root/lib/modules/$release/"{modules.order,modules.builtin,modules.builtin.modinfo} || return 1
        depmod -b "$root" "$release" || return 1
    fi
    cp "$bins/kemuctl" "$bins/kemu-vmtest" "$root/bin/"
    echo "root:x:0:0:root:/:/bin/sh" > "$root/etc/passwd"
    echo "nobody:x:65534:65534:nobody:/:/bin/false" >> "$root/etc/passwd"
    (cd "$root" && find . | cpio -o -H newc --quiet) | gzip -1 > "$out/initramfs-$variant.cpio.gz"

    # The Debian riscv64 guest boots inside kemu.ko on the lockdep kernel and on each of
    # Debian's kernels (under KASAN and TCG it would take too long; the smaller guests
    # above cover that kernel).
    local disk_opt=() append_extra="" nonce=""
    if [ "$variant" != kasan ] && [ "${KEMU_VM_QUICK:-0}" != 1 ]; then
        local guest
        guest=$("$repo/tests/guest/build-guest.sh" | tail -n 1)
        cp "$guest/guest.img" "$out/debian-$variant.img"
        cp "$guest/guest.img" "$out/dd-$variant.img"
        cp /usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin "$root/fw_dynamic.bin"
        (cd "$root" && find . | cpio -o -H newc --quiet) | gzip -1 > "$out/initramfs-$variant.cpio.gz"
        nonce="d$RANDOM$RANDOM"
        disk_opt=(-drive "file=$out/debian-$variant.img,if=virtio,format=raw"
                  -drive "file=$out/dd-$variant.img,if=virtio,format=raw")
        append_extra=" kemutest.debian=$nonce"
        # make demo: the Debian guest only (vm-init.sh), nothing of the test suite.
        [ "$demo" = 1 ] && append_extra="$append_extra kemutest.demo=1"
    fi
    local log="$out/console-$variant.log" timeout_s=$timeout_kasan
    [ -n "$nonce" ] && timeout_s=$timeout_base
    echo "== booting the $variant test VM (qemu-system-x86_64, TCG, timeout ${timeout_s}s); console:"
    local start=$SECONDS rc=0
    timeout --kill-after=10 "$timeout_s" qemu-system-x86_64 -m 2G -smp 2 -nographic -no-reboot \
        -monitor none -serial stdio \
        -kernel "$KV_IMAGE" -initrd "$out/initramfs-$variant.cpio.gz" "${disk_opt[@]}" \
        -append "console=ttyS0 panic=-1 oops=panic kemutest.profile=$profile$append_extra${KEMU_VM_STEPS:+ kemutest.steps=$KEMU_VM_STEPS}" </dev/null 2>&1 | tee "$log" | sed -u 's/^/  | /' || rc=$?
    local took=$((SECONDS - start))

    local ok=1
    if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
        echo "FAIL: the $variant VM did not finish within ${timeout_s}s" >&2; ok=0
    fi
    grep -q "KEMU-VM: init started" "$log" || { echo "FAIL: the $variant VM never reached init" >&2; ok=0; }
    grep -q "KEMU-VM: result PASS" "$log" || { echo "FAIL: steps failed in the $variant VM:" >&2; grep "KEMU-STEP FAIL" "$log" >&2 || true; ok=0; }
    if [ "$demo" = 0 ]; then
        grep -Eq "^vmtest: [0-9]+ passed, 0 failed, 0 skipped" "$log" || { echo "FAIL: kemu-vmtest did not pass (or skipped a check)" >&2; ok=0; }
    fi
    if grep -vE '^(debian|dd)\| ' "$log" | grep -En "$bad_patterns" >&2; then echo "FAIL: the kernel reported a problem (above)" >&2; ok=0; fi
    if [ -n "$nonce" ]; then
        # What the Debian guest did inside kemu.ko must be on its disk, consistently.
        local seen pi_ref
        seen=$(debugfs -R 'cat /kemu-test.txt' "$out/debian-$variant.img" 2>/dev/null)
        [ "$seen" = "kemu guest wrote this: $nonce" ] || { echo "FAIL: the host reads '$seen' from the Debian guest's disk" >&2; ok=0; }
        e2fsck -fn "$out/debian-$variant.img" >/dev/null 2>&1 || { echo "FAIL: e2fsck -n finds errors on the Debian guest's disk" >&2; ok=0; }
        pi_ref=$(python3 "$repo/tests/guest/pi_reference.py" 1000)
        # (grep reads the whole log: with -q it may exit early, and pipefail then sees tr's SIGPIPE.)
        tr -d '\r' < "$log" | grep -xF "debian| $pi_ref" >/dev/null || { echo "FAIL: the Debian guest's pi digits are wrong or missing" >&2; ok=0; }
        grep -E "^debian\| (KEMU-GUEST: init|pi: )|^KEMU-DEBIAN:" "$log" | tr -d '\r' | sed 's/^/== Debian in kemu.ko: /'
        [ "$demo" = 1 ] || check_dd_image "$out/dd-$variant.img" "$log" || ok=0
    fi
    if [ "$ok" = 1 ] && [ "$demo" = 1 ]; then
        echo "== demo: Debian's riscv64 kernel booted inside kemu.ko on Debian's $(sed -n 's/^KEMU-VM: init started, kernel \([^,]*\),.*/\1/p' "$log" | tr -d '\r'), in ${took}s"
        return 0
    elif [ "$ok" = 1 ]; then
        echo "== $variant VM: PASS in ${took}s ($(grep -c 'KEMU-STEP ok' "$log") steps; $(grep -E '^vmtest:' "$log"))"
        return 0
    fi
    return 1
}

failed=0
for v in "${variants[@]}"; do
    run_variant "$v" || failed=$((failed + 1))
done
total=${#variants[@]}
echo "$((total - failed)) passed, $failed failed"
[ "$failed" = 0 ]
