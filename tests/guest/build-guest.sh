#!/usr/bin/env bash
# Builds kemu's riscv64 test guest from real Debian trixie packages:
#   Image       Debian's stock riscv64 kernel (linux-image-6.12.*-riscv64)
#   initrd.img  busybox-static + the kernel's virtio/ext4 modules + our init + pi
#   guest.img   ext4 disk image (label kemu-guest) whose /boot holds the kernel and the
#               initrd, and whose /bench-root is a minimal root filesystem for the
#               benchmark mode (init.sh's kemu.mode=bench, run there with chroot):
#                 /usr/bin/sysbench (Debian's sysbench) and exactly the shared libraries it
#                 needs, found by following the ELF NEEDED entries recursively through the
#                 unpacked packages of sysbench's recursive Depends (the build fails if one
#                 cannot be found), the dynamic loader (/lib -> usr/lib), /proc /dev /tmp
#                 /mnt /scratch; /usr/local/bin/lat and /usr/local/bin/float (src/lat.c,
#                 src/float.c: syscall and context-switch latency, a double-precision n-body
#                 kernel), linked dynamically against that same Debian libc, which keeps the
#                 initramfs (loaded in every mode) as small as before. The same way, the
#                 tools of the branchy real workloads (issue 22), Debian's own builds:
#                 /usr/bin/xz (xz-utils), /usr/bin/7za (7zip's standalone 7-Zip; Debian
#                 ships no 7zz), /usr/bin/sqlite3 (sqlite3) and gcc's compiler proper,
#                 /usr/libexec/gcc/riscv64-linux-gnu/14/cc1 (cpp-14-riscv64-linux-gnu:
#                 54 MiB, its libraries 3.6 MiB more), with their libraries; their fixed
#                 inputs in /usr/local/share/kemu: corpus (1 MiB of text-like data from
#                 src/corpus.py, deterministic), bench.sql and cc1-input.c (from src/); and
#                 /usr/local/bin/timeit (src/timeit.c), which times them
#   pi-native, float-native
#               src/pi.c and src/float.c built for the host (x86_64, static) with the same
#               flags as the guest's copies: `float-native STEPS` prints the same
#               `float: checksum ...` line as the guest's `float STEPS` on a correct
#               IEEE 754 implementation (init.sh prints the STEPS it used)
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
# Two groups of packages, each fetched when missing (or all with --refresh): the kernel and
# busybox-static; the benchmark tools ($tools) and the lib*/zlib* packages of their
# recursive Depends. bench-tools.list names the tools of the last complete download of
# the second group (written last: a changed list or an interrupted download fetches the
# group again).
tools="sysbench xz-utils 7zip sqlite3 cpp-14-riscv64-linux-gnu"
need_boot=$refresh need_bench=$refresh
ls "$debs"/linux-image-*.deb "$debs"/busybox-static_*.deb >/dev/null 2>&1 || need_boot=1
[ "$(cat "$debs/bench-tools.list" 2>/dev/null)" = "$tools" ] || need_bench=1
if [ "$need_boot" = 1 ] || [ "$need_bench" = 1 ]; then
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
    # Each group is downloaded into a scratch directory and moved into debs/ only when
    # complete, so an interrupted download is retried instead of half-used.
    part="$debs/.partial"
    if [ "$need_boot" = 1 ]; then
        # The versioned kernel package behind the linux-image-riscv64 metapackage.
        kpkg=$(apt-cache "${aptopts[@]}" depends linux-image-riscv64 | sed -n 's/^ *Depends: \(linux-image-[0-9].*-riscv64\)$/\1/p' | head -n 1)
        [ -n "$kpkg" ] || { echo "build-guest.sh: cannot resolve linux-image-riscv64" >&2; exit 1; }
        echo "build-guest.sh: downloading $kpkg busybox-static"
        rm -rf "$part" && mkdir -p "$part"
        (cd "$part" && apt-get "${aptopts[@]}" -q download "$kpkg" busybox-static >/dev/null)
        rm -f "$debs"/linux-image-*.deb "$debs"/busybox-static_*.deb
        mv "$part"/*.deb "$debs"/
    fi
    if [ "$need_bench" = 1 ]; then
        # Only the shared-library packages matter for /bench-root (the rest of the Depends
        # closure is data, config and base packages).
        # shellcheck disable=SC2086
        bpkgs=$(apt-cache "${aptopts[@]}" depends --recurse --no-recommends --no-suggests --no-conflicts \
                    --no-breaks --no-replaces --no-enhances $tools | grep -E '^(lib|zlib)' | sort -u)
        [ -n "$bpkgs" ] || { echo "build-guest.sh: cannot resolve the dependencies of $tools" >&2; exit 1; }
        echo "build-guest.sh: downloading $tools and $(echo "$bpkgs" | wc -l) library packages:" $bpkgs
        rm -rf "$part" && mkdir -p "$part"
        # shellcheck disable=SC2086
        (cd "$part" && apt-get "${aptopts[@]}" -q download $tools $bpkgs >/dev/null)
        rm -f "$debs/bench-tools.list"
        for t in $tools; do rm -f "$debs/${t}"_*.deb; done
        rm -f "$debs"/lib*.deb "$debs"/zlib*.deb
        mv "$part"/*.deb "$debs"/
        echo "$tools" > "$debs/bench-tools.list"   # last: marks the group complete
    fi
    rm -rf "$part"
fi

key=$( { (cd "$debs" && ls -1 ./*.deb); cat "$0" "$here/init.sh";
         (cd "$here/src" && for f in *; do echo "== $f"; cat "$f"; done);
         riscv64-linux-gnu-gcc --version | head -n 1; gcc --version | head -n 1; } \
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

echo "build-guest.sh: building /bench-root (sysbench, xz, 7za, sqlite3, cc1, lat, float, timeit and their libraries)"
pkgs="$work/bench-pkgs"
mkdir -p "$pkgs"
for t in $tools; do dpkg-deb -x "$(ls "$debs/${t}"_*.deb)" "$pkgs"; done
for d in "$debs"/lib*.deb "$debs"/zlib*.deb; do
    dpkg-deb -x "$d" "$pkgs"
done
br="$disk/bench-root"
libdir=usr/lib/riscv64-linux-gnu
cc1dir=usr/libexec/gcc/riscv64-linux-gnu/14
share=usr/local/share/kemu
mkdir -p "$br"/{usr/bin,usr/local/bin,$libdir,$cc1dir,$share,proc,dev,tmp,mnt,scratch}
ln -s usr/lib "$br/lib"
cp "$pkgs/usr/bin/sysbench" "$pkgs/usr/bin/xz" "$pkgs/usr/bin/sqlite3" "$br/usr/bin/"
cp "$pkgs/usr/lib/7zip/7za" "$br/usr/bin/7za"   # /usr/bin/7za is a script that runs this one
cp "$pkgs/$cc1dir/cc1" "$br/$cc1dir/cc1"
riscv64-linux-gnu-gcc -O2 -Wall -o "$br/usr/local/bin/lat" "$here/src/lat.c"
riscv64-linux-gnu-gcc -O2 -ffp-contract=off -Wall -o "$br/usr/local/bin/float" "$here/src/float.c" -lm
riscv64-linux-gnu-gcc -O2 -Wall -o "$br/usr/local/bin/timeit" "$here/src/timeit.c"
python3 "$here/src/corpus.py" 1048576 > "$br/$share/corpus"
cp "$here/src/bench.sql" "$here/src/cc1-input.c" "$br/$share/"
# Follow NEEDED entries breadth-first from the programs; each library is looked up
# in the unpacked packages the way the loader would (multiarch directories first) and
# copied under its NEEDED name into /usr/lib/riscv64-linux-gnu.
queue=("$br/usr/bin/sysbench" "$br/usr/bin/xz" "$br/usr/bin/7za" "$br/usr/bin/sqlite3" "$br/$cc1dir/cc1"
       "$br/usr/local/bin/lat" "$br/usr/local/bin/float" "$br/usr/local/bin/timeit")
declare -A have=()
missing=""
while [ ${#queue[@]} -gt 0 ]; do
    elf=${queue[0]}
    queue=("${queue[@]:1}")
    for lib in $(riscv64-linux-gnu-readelf -d "$elf" | sed -n 's/.*(NEEDED).*\[\(.*\)\]$/\1/p'); do
        [ -n "${have[$lib]:-}" ] && continue
        src=""
        for dir in usr/lib/riscv64-linux-gnu lib/riscv64-linux-gnu usr/lib lib; do
            if [ -e "$pkgs/$dir/$lib" ]; then src=$(readlink -f "$pkgs/$dir/$lib"); break; fi
        done
        case "$src" in
            "$pkgs"/*) ;;
            *) missing="$missing $lib (needed by ${elf#"$br"})"; have[$lib]=missing; continue ;;
        esac
        cp "$src" "$br/$libdir/$lib"
        have[$lib]=1
        queue+=("$br/$libdir/$lib")
    done
done
if [ -n "$missing" ]; then
    echo "build-guest.sh: /bench-root: shared libraries not found in the tools' dependency packages:$missing" >&2
    exit 1
fi
# The program interpreter (/lib/ld-linux-riscv64-lp64d.so.1) through the /lib -> usr/lib
# link, as on Debian: usr/lib/NAME -> riscv64-linux-gnu/NAME.
interp=$(riscv64-linux-gnu-readelf -l "$br/usr/bin/sysbench" | sed -n 's/.*Requesting program interpreter: \(.*\)]$/\1/p')
case "$interp" in
    /lib/*/*) echo "build-guest.sh: unexpected program interpreter $interp" >&2; exit 1 ;;
    /lib/*) ;;
    *) echo "build-guest.sh: unexpected program interpreter '$interp'" >&2; exit 1 ;;
esac
[ -f "$br/$libdir/${interp#/lib/}" ] || cp -L "$pkgs/$libdir/${interp#/lib/}" "$br/$libdir/${interp#/lib/}" \
    || { echo "build-guest.sh: program interpreter $interp not found in libc6" >&2; exit 1; }
ln -s "riscv64-linux-gnu/${interp#/lib/}" "$br/usr${interp}"
echo "build-guest.sh: /bench-root: $(ls "$br/$libdir" | wc -l) shared libraries," \
     "$(du -sk "$br/$libdir" | cut -f1) KiB; cc1 $(du -sk "$br/$cc1dir/cc1" | cut -f1) KiB;" \
     "/bench-root $(du -sk "$br" | cut -f1) KiB"

echo "build-guest.sh: building pi-native and float-native for the host"
gcc -O2 -static -o "$out/pi-native" "$here/src/pi.c"
gcc -O2 -ffp-contract=off -static -o "$out/float-native" "$here/src/float.c" -lm
mke2fs -q -F -t ext4 -L kemu-guest -d "$disk" "$out/guest.img" 256M
echo "$kver" > "$out/kernel-version"
rm -rf "$work"
touch "$out/.done"
for old in "$cache"/*/; do
    [ "${old%/}" = "$out" ] || [ "$(basename "$old")" = debs ] || [ "$(basename "$old")" = apt ] || rm -rf "$old"
done
echo "$out"
