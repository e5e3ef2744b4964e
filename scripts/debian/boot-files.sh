#!/usr/bin/env bash
# What the VM tests need to boot one of Debian's stock kernels: its image and the modules
# the test VM uses that Debian builds as modules (virtio_blk), from Debian's packages
# (linux-binary-RELEASE, linux-modules-RELEASE; fetched once, kept in $KEMU_CACHE).
#
#   scripts/debian/boot-files.sh RELEASE OUTDIR
#
# OUTDIR receives vmlinuz, config and lib/modules/RELEASE/<module>.ko (decompressed).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${KEMU_CACHE:-$HOME/.cache/kemu}
[ $# = 2 ] || { echo "usage: boot-files.sh RELEASE OUTDIR" >&2; exit 2; }
release=$1 outdir=$2
# shellcheck source=lib.sh
. "$here/lib.sh"

# The modules the VM needs that Debian builds as modules, in load order (what else the VM
# needs is built in: a missing one shows as a failed step in the VM).
modules=(drivers/block/virtio_blk)

binary_deb=$(fetch "linux-binary-$release")
modules_deb=$(fetch "linux-modules-$release")
rm -rf "$outdir" && mkdir -p "$outdir/lib/modules/$release"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
dpkg-deb -x "$binary_deb" "$tmp"
img=$(find "$tmp" -name "vmlinuz*" -type f | head -n 1)
[ -n "$img" ] || { echo "boot-files.sh: no vmlinuz in $(basename "$binary_deb")" >&2; exit 1; }
cp "$img" "$outdir/vmlinuz"
cfg=$(find "$tmp" -name "config*" -type f | head -n 1)
[ -n "$cfg" ] && cp "$cfg" "$outdir/config"
pats=()
for m in "${modules[@]}"; do pats+=("*/kernel/$m.ko*"); done
dpkg-deb --fsys-tarfile "$modules_deb" | tar -x -C "$tmp" --wildcards "${pats[@]}"
for m in "${modules[@]}"; do
    f=$(find "$tmp" -path "*/kernel/$m.ko*" | head -n 1)
    [ -n "$f" ] || { echo "boot-files.sh: $m is not in $(basename "$modules_deb")" >&2; exit 1; }
    case "$f" in
        *.xz) xz -dc "$f" ;;
        *.zst) zstd -dcq "$f" ;;
        *) cat "$f" ;;
    esac > "$outdir/lib/modules/$release/$(basename "$m").ko"
done
printf '%s\n' "${modules[@]##*/}" > "$outdir/lib/modules/$release/load-order"
echo "$outdir"
