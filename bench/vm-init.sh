#!/bin/busybox sh
# /init of the bench VM (x86_64 test VM booted by bench/run-bench.sh). Disks, in PCI
# order: vda the Debian riscv64 guest image, vdb and vdc the scratch disks (ext4
# KEMU-WB and KEMU-WT), vdd the tools disk (kemu.ko, kemuctl, qemu-system-riscv64 and
# its libraries, the guest's kernel, initrd and firmware, native builds of the workloads).
# Runs `kemuctl bench` over kernel, user, qemu and native; its JSON lines leave the VM
# on the serial console (`KEMU-BENCH-JSON ...`), then the VM powers off.
/bin/busybox --install -s /bin
export PATH=/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t tmpfs tmpfs /tmp
echo "KEMU-BENCHVM: init, kernel $(uname -r), $(nproc) cpus"

runs=5; warmup=1; quick=0; kvariant=debian-cloud; mitigations=on; workloads=pi,float,disk,lat,mem,file,xz,7z,sqlite,gcc
configs=kernel,kernel-t2,user,user-t2,qemu,native; t2threshold=0; bare=1; modparams=""; perf=""
for arg in $(cat /proc/cmdline); do
    case "$arg" in
        kemu.runs=*) runs=${arg#kemu.runs=} ;;
        kemu.warmup=*) warmup=${arg#kemu.warmup=} ;;
        kemu.quick=*) quick=${arg#kemu.quick=} ;;
        kemu.kvariant=*) kvariant=${arg#kemu.kvariant=} ;;
        kemu.mitigations=*) mitigations=${arg#kemu.mitigations=} ;;
        kemu.workloads=*) workloads=${arg#kemu.workloads=} ;;
        kemu.configs=*) configs=${arg#kemu.configs=} ;;
        kemu.t2threshold=*) t2threshold=${arg#kemu.t2threshold=} ;;
        kemu.bare=*) bare=${arg#kemu.bare=} ;;
        kemu.modparams=*) modparams=$(echo "${arg#kemu.modparams=}" | tr ',' ' ') ;;
        kemu.perf=*) perf=$(echo "${arg#kemu.perf=}" | tr ',' ' ') ;;
    esac
done
for v in /sys/devices/system/cpu/vulnerabilities/*; do
    [ -e "$v" ] && echo "KEMU-BENCHVM: vulnerability $(basename "$v"): $(cat "$v")"
done

finish() {
    echo "KEMU-BENCHVM: done ($1)"
    poweroff -f
}

# Modules Debian builds as modules that this VM needs (virtio_blk), from Debian's package.
if [ -f "/lib/modules/$(uname -r)/load-order" ]; then
    for m in $(cat "/lib/modules/$(uname -r)/load-order"); do
        insmod "/lib/modules/$(uname -r)/$m.ko" || finish "insmod $m failed"
    done
fi
mkdir -p /tools
mount -t ext4 -o ro /dev/vdd /tools || finish "no tools disk"
# qemu-system-riscv64 is dynamically linked: its loader and libraries are on the tools disk.
mkdir -p /lib64
ln -s /tools/lib/ld-linux-x86-64.so.2 /lib64/ld-linux-x86-64.so.2
export LD_LIBRARY_PATH=/tools/lib
# shellcheck disable=SC2086
insmod /tools/kemu.ko $modparams || finish "insmod kemu.ko $modparams failed"
/tools/bin/kemuctl version

# Profiling instead of measuring (run-bench.sh --vm-perf): each kemu configuration boots
# the guest once with the workloads (and the extra guest arguments) under `perf record
# -a`; the top of the profile leaves on the console as `KEMU-PERF <config>: ...` lines.
if [ -n "$perf" ]; then
    [ -x /tools/bin/perf ] || finish "no perf on the tools disk"
    [ "$perf" = - ] && perf=""
    [ "$quick" = 1 ] && perf="$perf kemu.bench.quick=1"
    echo 0 > /proc/sys/kernel/kptr_restrict
    echo -1 > /proc/sys/kernel/perf_event_paranoid
    for c in $(echo "$configs" | tr ',' ' '); do
        case $c in
            kernel) cmd="start --tier 1" ;;
            kernel-t2) cmd="start --tier 2" ;;
            user) cmd="run --tier 1" ;;
            user-t2) cmd="run --tier 2" ;;
            *) echo "KEMU-PERF $c: not profiled (not a kemu configuration)"; continue ;;
        esac
        case "$c,$t2threshold" in *-t2,0) ;; *-t2,*) cmd="$cmd --tier2-threshold $t2threshold" ;; esac
        # shellcheck disable=SC2086
        /tools/bin/perf record -q -a -F 499 -o /tmp/perf.data -- /tools/bin/kemuctl $cmd \
            --kernel /tools/Image --initrd /tools/initrd.img --firmware /tools/fw_dynamic.bin --mem 512M \
            --append "console=ttyS0 kemu.mode=bench kemu.bench=$workloads $perf" \
            --disk /dev/vdb --disk /dev/vdc,writethrough /dev/vda >/tmp/perf-guest.log 2>&1
        echo "KEMU-PERF $c: kemuctl $cmd exit $?; $(grep -a '^KEMU-BENCH ' /tmp/perf-guest.log | tr -d '\r' | tr '\n' ' ')"
        for sort in dso dso,sym; do
            /tools/bin/perf report -i /tmp/perf.data --no-children --sort $sort --stdio 2>/dev/null \
                | grep -v '^#' | grep -v '^$' | head -150 | sed "s/^/KEMU-PERF $c: /"
        done
        rm -f /tmp/perf.data
    done
    rmmod kemu
    finish ok
fi

quick_opt=""
[ "$quick" = 1 ] && quick_opt=--quick
env="x86-64 TCG VM, $kvariant kernel $(uname -r), mitigations $mitigations${modparams:+, kemu.ko $modparams}"
t2_opt=""
[ "$t2threshold" != 0 ] && t2_opt="--tier2-threshold $t2threshold"
/tools/bin/kemuctl bench --configs "$configs" --runs "$runs" --warmup "$warmup" $quick_opt $t2_opt \
    --workloads "$workloads" \
    --disk-wb /dev/vdb --disk-wt /dev/vdc --qemu /tools/bin/qemu-system-riscv64 \
    --kernel /tools/Image --initrd /tools/initrd.img --firmware /tools/fw_dynamic.bin \
    --native-pi /tools/pi-native --native-float /tools/float-native \
    --env "$env" --timeout 3600 /dev/vda
echo "KEMU-BENCHVM: kemuctl bench exit $?"

# CPU only: ktranslator's bare-metal pi and branchy programs (no firmware, no OS), for MIPS.
[ "$bare" = 1 ] || finish ok
for prog in pi branchy; do
    /tools/bin/kemuctl bench --configs kernel,kernel-t2,user,user-t2,qemu --runs "$runs" --warmup "$warmup" $t2_opt \
        --bare "/tools/$prog-bare.elf" --mem 64M --qemu /tools/bin/qemu-system-riscv64 \
        --env "x86-64 TCG VM, bare-metal $prog, mitigations $mitigations${modparams:+, kemu.ko $modparams}" \
        --timeout 3600
    echo "KEMU-BENCHVM: bare-metal $prog exit $?"
done
rmmod kemu
finish ok
