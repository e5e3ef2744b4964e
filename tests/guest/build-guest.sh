#!/usr/bin/env bash
# Builds kemu's riscv64 test guest from real Debian trixie packages:
#   Image       Debian's stock riscv64 kernel (linux-image-6.12.*-riscv64)
#   initrd.img  busybox-static + the kernel's virtio/ext4 modules + our init + pi
#   guest.img   ext4 disk image whose /boot holds the kernel and the initrd
# Packages come from `apt-get download` with a private apt state (riscv64 indexes only, no
# system-wide multiarch). Everything is cached in $KEMU_CACHE/guest (default
# ~/.cache/kemu/guest), keyed by the package files and the inputs in tests/guest/.
#
#   tests/guest/build-guest.sh [--refresh]    (last line printed: the output directory)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${KEMU_CACHE:-$HOME/.cache/kemu}/guest
refresh=0
[ "${1:-}" = "--refresh" ] && refresh=1
mkdir -p "$cache/debs"
exec 9>"$cache/.lock"
flock 9

debs="$cache/debs"
if [ "$refresh" = 1 ] || ! ls "$debs"/linux-image-*.deb "$debs"/busybox-static_*.deb >/dev/null 2>&1; then
    apt="$cache/apt"
    mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial"
    echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main" \
        > "$apt/sources.list"
    : > "$apt/status"
    aptopts=(-o Dir::Etc::SourceList="$apt/sources.list" -o Dir::Etc::SourceParts=/dev/null
             -o Dir::State::Lists="$apt/lists" -o Dir::Cache="$apt/cache" -o Dir::State::Status="$apt/status"
             -o Dir::Etc::Preferences=/dev/null -o Dir::Etc::PreferencesParts=/dev/null
             -o APT::Architecture=riscv64 -o APT::Architectures=riscv64 -o APT::Sandbox::User=root)
    echo "build-guest.sh: fetching riscv64 package indexes (trixie)"
    apt-get "${aptopts[@]}" -q update >/dev/null
    # The versioned kernel package behind the linux-image-riscv64 metapackage.
    kpkg=$(apt-cache "${aptopts[@]}" depends linux-image-riscv64 | sed -n 's/^ *Depends: \(linux-image-[0-9].*-riscv64\)$/\1/p' | head -n 1)
    [ -n "$kpkg" ] || { echo "build-guest.sh: cannot resolve linux-image-riscv64" >&2; exit 1; }
    rm -f "$debs"/*.deb
    echo "build-guest.sh: downloading $kpkg busybox-static"
    (cd "$debs" && apt-get "${aptopts[@]}" -q download "$kpkg" busybox-static >/dev/null)
fi

key=$( { (cd "$debs" && ls -1 ./*.deb); cat "$0" "$here/init.sh" "$here/src/pi.c"; riscv64-linux-gnu-gcc --version | head -n 1; } \
       | sha256sum | cut -c1-16)
out="$cache/$key"
if [ -f "$out/.done" ]; then
    echo "build-guest.sh: reusing cached guest"
    echo "$out"
    exit 0
fi

rm -rf "$out"
mkdir -p "$out"
work="$out/work"
mkdir -p "$work/kernel" "$work/busybox"
dpkg-deb -x "$(ls "$debs"/linux-image-*.deb)" "$work/kernel"
dpkg-deb -x "$(ls "$debs"/busybox-static_*.deb)" "$work/busybox"
kver=$(ls "$work/kernel/usr/lib/modules")
cp "$work/kernel/boot/vmlinux-$kver" "$out/Image"

echo "build-guest.sh: building the initramfs for $kver"
root="$work/initramfs"
mkdir -p "$root"/{bin,dev,proc,sys,mnt,tmp,lib/modules}
cp "$work/busybox/usr/bin/busybox" "$root/bin/busybox"
cp "$here/init.sh" "$root/init"
for m in crypto/crc32c_generic drivers/virtio/virtio_mmio drivers/block/virtio_blk lib/crc16 \
         fs/mbcache fs/jbd2/jbd2 fs/ext4/ext4; do
    xz -dc "$work/kernel/usr/lib/modules/$kver/kernel/$m.ko.xz" > "$root/lib/modules/$(basename "$m").ko"
done
riscv64-linux-gnu-gcc -O2 -static -o "$root/bin/pi" "$here/src/pi.c"
(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet --reproducible) | gzip -9n > "$out/initrd.img"

echo "build-guest.sh: building guest.img (ext4)"
disk="$work/disk"
mkdir -p "$disk/boot" "$disk/data"
cp "$out/Image" "$disk/boot/vmlinux-$kver"
cp "$out/initrd.img" "$disk/boot/initrd.img-$kver"
echo "kemu test guest: Debian $kver, busybox" > "$disk/data/README"
mke2fs -q -F -t ext4 -L kemu-guest -d "$disk" "$out/guest.img" 256M
echo "$kver" > "$out/kernel-version"
rm -rf "$work"
touch "$out/.done"
for old in "$cache"/*/; do
    [ "${old%/}" = "$out" ] || [ "$(basename "$old")" = debs ] || [ "$(basename "$old")" = apt ] || rm -rf "$old"
done
echo "$out"
