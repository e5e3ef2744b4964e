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
# Every step prints `KEMU-GUEST: ...` lines that the host-side tests read; the guest's
# own uptime is printed at init so boot-to-init time can be read off the console.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
echo "KEMU-GUEST: init at uptime $(cut -d' ' -f1 /proc/uptime) s"

mode=test; nonce=none
for arg in $(cat /proc/cmdline); do
    case "$arg" in
        kemu.mode=*) mode=${arg#kemu.mode=} ;;
        kemu.nonce=*) nonce=${arg#kemu.nonce=} ;;
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
*) fail "unknown kemu.mode=$mode" ;;
esac
finish
