#!/usr/bin/env bash
# Prepares (once, cached) a module build tree for one of Debian's stock kernels.
#
#   scripts/debian/kdir.sh [--print-dir] [RELEASE]     # RELEASE: e.g. 7.3.4+deb13-cloud-amd64
#                                                      # (default: the running kernel, uname -r)
#   scripts/debian/kdir.sh --latest FLAVOUR            # Debian's newest 7.3 release of FLAVOUR
#                                                      # (amd64, cloud-amd64, rt-amd64)
#
# Debian's linux-headers packages carry no Rust metadata, which out-of-tree Rust modules
# need. This rebuilds it the way Debian built its kernel: linux-source-7.3 with Debian's
# .config (from linux-headers-RELEASE), KERNELRELEASE=RELEASE, trixie's rustc 1.85.1, gcc-14
# and bindgen 0.71 (scripts/debian/trixie-root.sh), `make prepare` (which builds rust/),
# and Debian's own Module.symvers, so that modpost checks kemu.ko's undefined symbols
# against what that kernel exports. The tree is cached in $KEMU_CACHE/debian-kernel/,
# keyed by the package versions, the toolchain and this recipe. The last line printed is
# the build directory (usable as KDIR). The packages themselves (including the kernel image
# and modules the VM tests boot) are kept in $KEMU_CACHE/debian-kernel/debs.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${KEMU_CACHE:-$HOME/.cache/kemu}
print_only=0
release=""
latest=""
while [ $# -gt 0 ]; do
    case "$1" in
        --print-dir) print_only=1; shift ;;
        --latest) latest=$2; shift 2 ;;
        -*) echo "kdir.sh: unknown argument $1" >&2; exit 2 ;;
        *) release=$1; shift ;;
    esac
done
# shellcheck source=lib.sh
. "$here/lib.sh"
if [ -n "$latest" ]; then latest_release "$latest"; exit; fi
[ -n "$release" ] || release=$(uname -r)
case "$release" in
    7.3.*+deb1[3-9]-*) ;;
    *+deb1[3-9]-*) echo "kdir.sh: $release is a Debian kernel, but kemu.ko is built for Debian's 7.3 kernels (trixie-backports: linux-image-7.3.*-amd64, -cloud-amd64, -rt-amd64); set DEBIAN_KERNEL" >&2; exit 1 ;;
    *) echo "kdir.sh: '$release' is not a Debian kernel release (like 7.3.4+deb13-cloud-amd64); set DEBIAN_KERNEL" >&2; exit 1 ;;
esac
recipe="kemu-debian-kdir recipe 1: source + Debian .config, olddefconfig, prepare, modules_prepare, Debian Module.symvers"

headers_deb=$(fetch "linux-headers-$release")
# The source of the same upload as the headers (both come from Debian's `linux` package).
headers_ver=$(dpkg-deb -f "$headers_deb" Version)
source_deb=$(fetch linux-source-7.3 "$headers_ver")
toolchain=$(in_root bash -c 'rustc --version; gcc-14 --version | head -1; bindgen --version; clang-19 --version | head -1')
key=$( { basename "$headers_deb"; basename "$source_deb"; echo "$toolchain"; echo "$recipe"; } | sha256sum | cut -c1-16)
out="$cache/debian-kernel/$release-$key"
if [ "$print_only" = 1 ]; then echo "$out"; exit 0; fi

exec 9>"$cache/debian-kernel/.lock-$release"
flock 9
if [ -f "$out/.kemu-done" ]; then
    echo "kdir.sh: reusing the prepared tree for $release" >&2
    echo "$out"; exit 0
fi

# The source, unpacked once per linux-source version.
srcver=$(basename "$source_deb" .deb)
src="$cache/debian-kernel/src-$srcver"
exec 8>"$cache/debian-kernel/.lock-src"
flock 8
if [ ! -f "$src/.kemu-unpacked" ]; then
    echo "kdir.sh: unpacking $srcver" >&2
    rm -rf "$src" "$src.tmp" && mkdir -p "$src.tmp"
    dpkg-deb --fsys-tarfile "$source_deb" | tar -x -C "$src.tmp" --wildcards './usr/src/linux-source-7.3.tar.*'
    tar -C "$src.tmp" -xf "$src.tmp"/usr/src/linux-source-7.3.tar.*
    mv "$src.tmp/linux-source-7.3" "$src"
    rm -rf "$src.tmp"
    touch "$src/.kemu-unpacked"
fi
flock -u 8

start=$SECONDS
rm -rf "$out" "$out.hdr" && mkdir -p "$out" "$out.hdr"
dpkg-deb -x "$headers_deb" "$out.hdr"
hdir="$out.hdr/usr/src/linux-headers-$release"
[ -f "$hdir/.config" ] && [ -f "$hdir/Module.symvers" ] || { echo "kdir.sh: linux-headers-$release lacks .config or Module.symvers" >&2; exit 1; }
grep -qx 'CONFIG_RUST=y' "$hdir/.config" || { echo "kdir.sh: $release is not built with CONFIG_RUST=y: kemu.ko cannot load into it" >&2; exit 1; }
want_rustc=$(sed -n 's/^CONFIG_RUSTC_VERSION_TEXT="\(.*\)"/\1/p' "$hdir/.config")
case "$toolchain" in
    *"$want_rustc"*) ;;
    *) echo "kdir.sh: $release was built with '$want_rustc'; the build root has '$(echo "$toolchain" | head -1)'" >&2; exit 1 ;;
esac
cp "$hdir/.config" "$out/.config"
cp "$hdir/Module.symvers" "$out/Module.symvers.debian"
rm -rf "$out.hdr"

echo "kdir.sh: preparing $release in $out (Rust metadata with $(echo "$toolchain" | head -1))" >&2
kmake() {
    in_root make -C "$src" O="$out" KERNELRELEASE="$release" CC=gcc-14 HOSTCC=gcc-14 \
        RUSTC=rustc HOSTRUSTC=rustc BINDGEN=bindgen "$@"
}
{
    kmake olddefconfig
    kmake -j"$(nproc)" prepare modules_prepare
} >"$out/prepare.log" 2>&1 || { tail -40 "$out/prepare.log" >&2; exit 1; }
# modpost resolves kemu.ko's undefined symbols against Debian's list of exports.
cp "$out/Module.symvers.debian" "$out/Module.symvers"
[ -f "$out/rust/libkernel.rmeta" ] || { echo "kdir.sh: prepare built no rust/libkernel.rmeta" >&2; exit 1; }
touch "$out/.kemu-done"
for old in "$cache/debian-kernel/$release"-*; do
    [ "$old" = "$out" ] || rm -rf "$old"
done
echo "kdir.sh: $release prepared in $((SECONDS - start)) s" >&2
echo "$out"
