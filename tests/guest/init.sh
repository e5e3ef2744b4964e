#!/bin/busybox sh
# /init of kemu's riscv64 test guest (Debian's kernel + busybox initramfs). The kernel
# command line picks what it does:
#   kemu.mode=test   (default) load the virtio/ext4 modules, mount /dev/vda read-write,
#                    write kemu.nonce into /mnt/kemu-test.txt and read it back, run pi,
#                    unmount, power off
#   kemu.mode=ro     like test, but the disk is read-only: mounting read-write and
#                    writing must both fail
#   kemu.mode=ddloop mount /dev/vda and write numbered 64 KiB files with dd conv=fsync,
#                    printing `KEMU-GUEST: synced N` after each one's fsync returned,
#                    until the host stops the VM (the stop-during-writes test)
#   kemu.mode=shell  load the modules, mount /dev/vda, start a shell on the console
#   kemu.mode=bench  the benchmark (`make bench`): run the workloads named by
#                    kemu.bench=LIST (comma-separated, run in that order; default
#                    pi,float,disk,lat,mem,file,xz,7z,sqlite,gcc) and print every result
#                    as one line
#                    `KEMU-BENCH <metric> <value> <unit>` (a decimal; units ms, MiB/s,
#                    IOPS, ns, us):
#                      pi     pi_ms                  /bin/pi 1000
#                      float  float_ms               /usr/local/bin/float STEPS (src/float.c),
#                                                    also `float: checksum ...`, which must
#                                                    equal build-guest.sh's float-native STEPS
#                      disk   disk_{seqwr,rndwr}_{wb,wt}_{mibs,iops}
#                                                    sysbench fileio, 4 KiB writes, fsync after
#                                                    each, one file, on the disks labelled
#                                                    KEMU-WB / KEMU-WT (scratch ext4 images the
#                                                    host attaches in writeback / write-through
#                                                    mode); a missing one prints
#                                                    `KEMU-BENCH-SKIP disk_wb|disk_wt ...`
#                      lat    lat_syscall_ns, lat_ctx_us   /usr/local/bin/lat (src/lat.c)
#                      mem    mem_rd_mibs, mem_wr_mibs     sysbench memory, 1 thread
#                      file   file_rd_mibs           sysbench fileio sequential read of a
#                                                    page-cached file on the guest disk
#                    and the branchy real programs (Debian's builds; fixed inputs, outputs
#                    checked against sha256 constants below; timed by src/timeit.c):
#                      xz     xz_compress_ms, xz_decompress_ms
#                                                    xz -6 -T1 of 1 MiB of src/corpus.py's
#                                                    text (quick: 256 KiB) and back
#                      7z     sevenzip_ms, sevenzip_{comp,decomp}_mips
#                                                    7za b -mmt1 -md18 -mtic=30 (quick: 28),
#                                                    fixed work; its own ratings
#                      sqlite sqlite_ms              sqlite3 :memory: running src/bench.sql
#                                                    with 30000 orders (quick: 5000)
#                      gcc    gcc_ms                 cc1 -O2 (quick: -O0) src/cc1-input.c
#                    kemu.bench.quick=1 shrinks every workload to a smoke run of a few
#                    seconds (`make test`); the normal sizes take about 35 s of guest time
#                    under QEMU TCG, plus about 17 s for xz,7z,sqlite,gcc. sysbench and the two programs run chrooted in the
#                    guest disk's /bench-root (see build-guest.sh); the guest disk is found
#                    by its label, kemu-guest, since with several disks /dev/vda need not be
#                    it, and mounted read-write (file writes there: give it a copy of
#                    guest.img). `KEMU-GUEST: bench W took N s` gives each workload's guest
#                    time. A failing workload prints `KEMU-GUEST: FAIL ...` (result FAIL).
# Every step prints `KEMU-GUEST: ...` lines that the host-side tests read; the guest's
# own uptime is printed at init so boot-to-init time can be read off the console.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
echo "KEMU-GUEST: init at uptime $(cut -d' ' -f1 /proc/uptime) s"

mode=test; nonce=none; bench=pi,float,disk,lat,mem,file,xz,7z,sqlite,gcc; quick=0
for arg in $(cat /proc/cmdline); do
    case "$arg" in
        kemu.mode=*) mode=${arg#kemu.mode=} ;;
        kemu.nonce=*) nonce=${arg#kemu.nonce=} ;;
        kemu.bench=*) bench=${arg#kemu.bench=} ;;
        kemu.bench.quick=*) quick=${arg#kemu.bench.quick=} ;;
        kemu.bench.float_steps=*) float_steps_arg=${arg#kemu.bench.float_steps=} ;;
    esac
done
fails=0
fail() { echo "KEMU-GUEST: FAIL $*"; fails=$((fails + 1)); }
finish() {
    if [ "$fails" = 0 ]; then echo "KEMU-GUEST: result PASS"; else echo "KEMU-GUEST: result FAIL ($fails)"; fi
    echo "KEMU-GUEST: poweroff at uptime $(cut -d' ' -f1 /proc/uptime) s"
    poweroff -f
}

for m in crc32c_generic virtio_mmio virtio_blk crc16 mbcache jbd2 ext4; do
    insmod "/lib/modules/$m.ko" || fail "insmod $m"
done
# virtio_blk probes asynchronously: wait for the disk node.
i=0; while [ ! -b /dev/vda ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ -b /dev/vda ] || { fail "no /dev/vda"; finish; }
mkdir -p /mnt

# ---- kemu.mode=bench ----------------------------------------------------------------
BR=/mnt/bench-root
# The sha256 of the tool workloads' outputs on their fixed inputs (quick and normal
# sizes), computed once with QEMU, the reference runner: xz -6 -T1 of the first
# xz_bytes of /usr/local/share/kemu/corpus; the output of sqlite3 running bench.sql with
# sqlite_n orders; the assembly cc1 writes for cc1-input.c. A different result fails.
# (The xz and sqlite ones are also what the x86-64 builds of xz 5.4.1 and sqlite 3.40.1
# give on the same inputs.)
XZ_SUM_QUICK=a630bfc856d2c546d5502b5671777da7a6ab39fd6ae14987a7a3818bf30926b6
XZ_SUM=964fc3c63ec2c4e018eb252539d18d43735e72c6a89641c10b2722efe40dcd21
SQLITE_SUM_QUICK=22e20c9aaf4e442a551e95f27189d33df02f3e3bef57ba637a7982fb40537b69
SQLITE_SUM=17afb29d805473a2eb1c55a34071897c7ba09fb2447a2919fe18ce6b48a81e22
CC1_SUM_QUICK=c96cc8a6955f7d02949c55d2876d0cb708c4f43b4188b9f848e0476b286dd08f
CC1_SUM=8aae37aa08fe93bfe6c88952ba017752037ce94b5d023b38f0c8f0e934139d70
if [ "$quick" = 1 ]; then
    float_steps=500
    lat_syscall_ms=100 lat_ctx_ms=200
    mem_opts="--memory-total-size=32M --time=1"
    file_size=4M file_opts="--events=64 --time=1"
    disk_size=1M disk_opts="--events=32 --time=1"
    xz_bytes=262144 xz_sum=$XZ_SUM_QUICK
    sqlite_n=5000 sqlite_sum=$SQLITE_SUM_QUICK
    cc1_opt=-O0 cc1_sum=$CC1_SUM_QUICK
    sevenzip_tic=28
else
    float_steps=5000
    lat_syscall_ms=1000 lat_ctx_ms=2000
    mem_opts="--memory-total-size=100G --time=3"
    file_size=16M file_opts="--time=3"
    disk_size=8M disk_opts="--time=4"
    xz_bytes=1048576 xz_sum=$XZ_SUM
    sqlite_n=30000 sqlite_sum=$SQLITE_SUM
    cc1_opt=-O2 cc1_sum=$CC1_SUM
    sevenzip_tic=30
fi
# The bench driver passes the float size, so the native build can do the same work.
[ -n "${float_steps_arg:-}" ] && float_steps=$float_steps_arg
is_num() { case "$1" in ''|.|*[!0-9.]*) return 1 ;; esac; }
# sysbench_in DIR ARGS...: sysbench chrooted into /bench-root with DIR (a directory inside
# it) as working directory, where fileio keeps its test files; busybox chroot always
# starts in /, nsenter -rROOT -wDIR is the same chroot(2) plus that directory. Output in
# /tmp/sb.out; on failure its tail is shown.
sysbench_in() {
    dir=$1; shift
    if nsenter -r"$BR" -w"$BR$dir" /usr/bin/sysbench "$@" > /tmp/sb.out 2>&1; then
        return 0
    fi
    fail "sysbench $* (in $dir): $(tail -n 4 /tmp/sb.out | tr '\n' ' ')"
    return 1
}
# sb_field PATTERN FIELD: a number from /tmp/sb.out (awk field FIELD of the line matching).
sb_field() { awk -v f="$2" "/$1/ { v = \$f } END { print v }" /tmp/sb.out; }
bench_out() { # bench_out METRIC VALUE UNIT WHAT
    if is_num "$2"; then echo "KEMU-BENCH $1 $2 $3"; else fail "$4: no $1 in: $(tail -n 4 /tmp/sb.out | tr '\n' ' ')"; fi
}
bench_pi() {
    out=$(/bin/pi 1000) || { fail "pi"; return; }
    case "$out" in 3.14159265358979323846264338327950288*) ;; *) fail "pi: wrong digits" ;; esac
    line=$(echo "$out" | grep '^pi: ')
    echo "$line"
    bench_out pi_ms "$(echo "$line" | sed -n 's/^pi: 1000 digits in \([0-9]*\) ms$/\1/p')" ms pi
}
bench_float() {
    out=$(chroot "$BR" /usr/local/bin/float "$float_steps") || { fail "float $float_steps: $out"; return; }
    echo "$out"
    echo "$out" | grep -q '^KEMU-BENCH float_ms [0-9.]* ms$' || fail "float: no float_ms line"
}
bench_lat() {
    for t in syscall ctx; do
        eval ms=\$lat_${t}_ms
        out=$(chroot "$BR" /usr/local/bin/lat "$t" "$ms") || { fail "lat $t: $out"; continue; }
        echo "$out"
        echo "$out" | grep -q '^KEMU-BENCH lat_' || fail "lat $t: no result line"
    done
}
bench_mem() {
    for op in rd wr; do
        # shellcheck disable=SC2086
        chroot "$BR" /usr/bin/sysbench memory --threads=1 --memory-block-size=1M \
            --memory-oper="$(echo $op | sed 's/rd/read/; s/wr/write/')" --memory-access-mode=seq \
            $mem_opts run > /tmp/sb.out 2>&1 \
            || { fail "sysbench memory $op: $(tail -n 4 /tmp/sb.out | tr '\n' ' ')"; continue; }
        v=$(sed -n 's/.* MiB transferred (\([0-9.]*\) MiB\/sec).*/\1/p' /tmp/sb.out)
        bench_out "mem_${op}_mibs" "$v" MiB/s "sysbench memory $op"
    done
}
bench_file() {
    # One file, read sequentially in 64 KiB blocks while it is in the page cache (it was
    # just written), on the guest disk's ext4, like lmbench's bw_file_rd.
    set -- fileio --file-num=1 --file-total-size="$file_size" --file-block-size=64K
    sysbench_in /tmp "$@" prepare || return
    sync
    # shellcheck disable=SC2086
    if sysbench_in /tmp "$@" --file-test-mode=seqrd $file_opts run; then
        bench_out file_rd_mibs "$(sb_field 'read, MiB\/s:' 3)" MiB/s "sysbench fileio seqrd"
    fi
    sysbench_in /tmp "$@" cleanup
}
# tool METRIC OUT PROGRAM ARG...: PROGRAM run chrooted in /bench-root by timeit (its
# stdout into OUT, a path there), which prints `KEMU-BENCH METRIC <ms> ms` when it exits
# with 0; that line is printed, anything else fails the workload.
tool() {
    metric=$1 o=$2
    shift 2
    out=$(chroot "$BR" /usr/local/bin/timeit "$o" "$metric" "$@" 2>&1)
    rc=$?
    line=$(echo "$out" | grep "^KEMU-BENCH $metric [0-9.]* ms$")
    if [ "$rc" != 0 ] || [ -z "$line" ]; then
        fail "$metric: $* exited with $rc: $(echo "$out" | tail -n 4 | tr '\n' ' ')"
        return 1
    fi
    echo "$line"
}
# check_sum WHAT FILE EXPECTED: FILE's sha256 must be EXPECTED.
check_sum() {
    sum=$(sha256sum "$2" | cut -d' ' -f1)
    if [ "$sum" = "$3" ]; then
        echo "KEMU-GUEST: $1 output ok (sha256 $sum)"
    else
        fail "$1: output sha256 $sum, expected $3 ($(wc -c < "$2") bytes)"
    fi
}
S=/usr/local/share/kemu
bench_xz() {
    head -c "$xz_bytes" "$BR$S/corpus" > "$BR/scratch/in" || { fail "xz: no input"; return; }
    if tool xz_compress_ms /scratch/in.xz /usr/bin/xz -6 -T1 -c /scratch/in; then
        check_sum "xz ($xz_bytes bytes)" "$BR/scratch/in.xz" "$xz_sum"
        if tool xz_decompress_ms /scratch/out /usr/bin/xz -d -T1 -c /scratch/in.xz; then
            if cmp -s "$BR/scratch/in" "$BR/scratch/out"; then
                echo "KEMU-GUEST: xz round trip ok"
            else
                fail "xz: the decompressed file differs from the input"
            fi
        fi
    fi
    rm -f "$BR/scratch/in" "$BR/scratch/in.xz" "$BR/scratch/out"
}
bench_7z() {
    # 7-Zip's own benchmark: its CPU-frequency loop, then LZMA compression and
    # decompression of its generated data, every decompression checked against the
    # data's CRC (7za exits non-zero and prints an error on a mismatch). One thread, a
    # 256 KiB dictionary, and a fixed amount of work, 2^sevenzip_tic instructions of its
    # model per test (-mtic: by default it sizes the tests to run for seconds each).
    # Besides the whole run's time, 7-Zip's own ratings of the two tests (its "Avr:"
    # line: MIPS of its model, over guest time; higher is better).
    tool sevenzip_ms /scratch/7z.out /usr/bin/7za b -mmt1 -md18 "-mtic=$sevenzip_tic" \
        || { cat "$BR/scratch/7z.out"; return; }
    cat "$BR/scratch/7z.out"
    if grep -qi error "$BR/scratch/7z.out"; then
        fail "7za b: it reports an error"
    elif ! grep -q '^Tot:' "$BR/scratch/7z.out"; then
        fail "7za b: no Tot: line"
    else
        # Avr: <KiB/s> <usage %> <R/U> <rating> | <KiB/s> <usage %> <R/U> <rating>
        avr=$(grep '^Avr:' "$BR/scratch/7z.out")
        for f in 5:comp 10:decomp; do
            v=$(echo "$avr" | awk -v f="${f%%:*}" '{ print $f }')
            if is_num "$v"; then echo "KEMU-BENCH sevenzip_${f#*:}_mips $v MIPS"; else fail "7za b: no rating in '$avr'"; fi
        done
    fi
    rm -f "$BR/scratch/7z.out"
}
bench_sqlite() {
    if tool sqlite_ms /scratch/sqlite.out /usr/bin/sqlite3 -batch :memory: \
            "CREATE TABLE cfg(n INTEGER); INSERT INTO cfg VALUES($sqlite_n);" ".read $S/bench.sql"; then
        check_sum "sqlite ($sqlite_n orders)" "$BR/scratch/sqlite.out" "$sqlite_sum"
    fi
    rm -f "$BR/scratch/sqlite.out"
}
bench_gcc() {
    if tool gcc_ms /scratch/cc1.out /usr/libexec/gcc/riscv64-linux-gnu/14/cc1 -quiet -nostdinc "$cc1_opt" \
            "$S/cc1-input.c" -o /scratch/cc1.s; then
        check_sum "gcc ($cc1_opt)" "$BR/scratch/cc1.s" "$cc1_sum"
    fi
    rm -f "$BR/scratch/cc1.out" "$BR/scratch/cc1.s"
}
bench_disk() {
    for wb in wb wt; do
        label=KEMU-$(echo $wb | tr a-z A-Z)
        dev=$(findfs "LABEL=$label" 2>/dev/null)
        if [ -z "$dev" ]; then echo "KEMU-BENCH-SKIP disk_$wb no disk labelled $label"; continue; fi
        echo "KEMU-GUEST: bench disk_$wb on $dev"
        mount -t ext4 "$dev" "$BR/mnt" || { fail "mount $label ($dev)"; continue; }
        # 4 KiB writes, fsync after each one, into one file; seqwr (re)creates the file,
        # rndwr overwrites the prepared one at random offsets.
        set -- fileio --file-num=1 --file-total-size="$disk_size" --file-block-size=4K \
            --file-fsync-all=on
        for t in seqwr rndwr; do
            sysbench_in /mnt "$@" --file-test-mode=$t prepare || continue
            sync
            # shellcheck disable=SC2086
            sysbench_in /mnt "$@" --file-test-mode=$t $disk_opts run || continue
            bench_out "disk_${t}_${wb}_mibs" "$(sb_field 'written, MiB\/s:' 3)" MiB/s "sysbench fileio $t on $label"
            bench_out "disk_${t}_${wb}_iops" "$(sb_field 'writes\/s:' 2)" IOPS "sysbench fileio $t on $label"
        done
        sysbench_in /mnt "$@" cleanup
        umount "$BR/mnt" || fail "umount $label"
    done
}
bench_main() {
    # virtio_blk probes asynchronously: wait until every virtio block device (virtio
    # device id 2) has its disk, so the labelled scratch disks can be found.
    n=0
    for d in /sys/bus/virtio/devices/*; do
        [ "$(cat "$d/device" 2>/dev/null)" = 0x0002 ] && n=$((n + 1))
    done
    i=0
    while [ "$(ls /sys/block | grep -c '^vd')" -lt "$n" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
    root=$(findfs LABEL=kemu-guest 2>/dev/null) || root=/dev/vda
    [ -n "$root" ] || root=/dev/vda
    mount -t ext4 "$root" /mnt || { fail "mount $root"; return; }
    if [ ! -x "$BR/usr/bin/sysbench" ]; then
        fail "no $BR/usr/bin/sysbench on $root (guest.img from an older build-guest.sh?)"
        umount /mnt; return
    fi
    mount --bind /proc "$BR/proc" && mount --bind /dev "$BR/dev" || fail "bind mounts"
    # The tool workloads' files live in RAM, not on the guest disk.
    mount -t tmpfs -o size=64m tmpfs "$BR/scratch" || fail "mount tmpfs on $BR/scratch"
    sizes=normal; [ "$quick" = 1 ] && sizes=quick
    echo "KEMU-GUEST: bench $bench ($sizes sizes, guest disk $root, $n virtio disks) at uptime $(cut -d' ' -f1 /proc/uptime) s"
    for w in $(echo "$bench" | tr ',' ' '); do
        t0=$(cut -d' ' -f1 /proc/uptime)
        case "$w" in
            pi|float|disk|lat|mem|file|xz|7z|sqlite|gcc) "bench_$w" ;;
            *) fail "unknown benchmark $w in kemu.bench=$bench"; continue ;;
        esac
        t1=$(cut -d' ' -f1 /proc/uptime)
        echo "KEMU-GUEST: bench $w took $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s"
    done
    umount "$BR/scratch" "$BR/dev" "$BR/proc"
    umount /mnt || fail "umount $root"
}

case "$mode" in
test)
    mount -t ext4 /dev/vda /mnt || { fail "mount /dev/vda"; finish; }
    echo "kemu guest wrote this: $nonce" > /mnt/kemu-test.txt || fail "write"
    sync
    echo 3 > /proc/sys/vm/drop_caches
    got=$(cat /mnt/kemu-test.txt)
    [ "$got" = "kemu guest wrote this: $nonce" ] && echo "KEMU-GUEST: file ok" || fail "read back: $got"
    /bin/pi 1000 || fail "pi"
    umount /mnt || fail "umount"
    ;;
ro)
    if mount -t ext4 -o rw /dev/vda /mnt 2>/dev/null && touch /mnt/should-not-exist 2>/dev/null; then
        fail "writing to a read-only disk succeeded"
    else
        echo "KEMU-GUEST: read-only disk refused writes"
    fi
    umount /mnt 2>/dev/null
    mount -t ext4 -o ro /dev/vda /mnt && [ -e /mnt/boot ] && echo "KEMU-GUEST: read-only mount ok" || fail "ro mount"
    umount /mnt 2>/dev/null
    ;;
ddloop)
    mount -t ext4 /dev/vda /mnt || { fail "mount /dev/vda"; finish; }
    mkdir -p /mnt/dd && sync
    i=1
    while :; do
        # Each file holds its own number in every byte-row, so the host can tell a
        # complete file from a torn one.
        yes "kemu dd block $i" | head -c 65536 > /tmp/block
        dd if=/tmp/block of=/mnt/dd/$i bs=4096 conv=fsync 2>/dev/null || { fail "dd $i"; finish; }
        echo "KEMU-GUEST: synced $i"
        i=$((i + 1))
    done
    ;;
shell)
    mount -t ext4 /dev/vda /mnt && echo "KEMU-GUEST: /dev/vda mounted on /mnt"
    echo "KEMU-GUEST: shell (poweroff -f to leave)"
    setsid cttyhack sh
    umount /mnt 2>/dev/null
    ;;
bench)
    bench_main
    ;;
*) fail "unknown kemu.mode=$mode" ;;
esac
finish
