#!/usr/bin/env bash
# Builds (or reuses) kemu's Rust-enabled x86_64 test kernel.
#
#   tests/vm/build-kernel.sh [--variant base|kasan] [--print-dir]
#
# Variants: base (the test kernel: lockdep, atomic-sleep checks, kmemleak), kasan (base
# plus KASAN). (Benchmarks and the demo run Debian's own kernels: tests/vm/kernels.sh.)
# The build tree lives outside the repository, in $KEMU_CACHE (default ~/.cache/kemu),
# keyed by everything that goes into it: the linux-source package version, the config
# fragments, the build recipe's version (below) and the toolchain versions. A finished
# tree is reused as is. The last line printed is the build directory (usable as KDIR).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
variant=base
print_only=0
while [ $# -gt 0 ]; do
    case "$1" in
        --variant) variant=$2; shift 2 ;;
        --print-dir) print_only=1; shift ;;
        *) echo "build-kernel.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
case "$variant" in
    base) fragments=("$here/kernel.config" "$here/kernel-debug.config") ;;
    kasan) fragments=("$here/kernel.config" "$here/kernel-debug.config" "$here/kernel-kasan.config") ;;
    *) echo "build-kernel.sh: unknown variant $variant (base|kasan)" >&2; exit 2 ;;
esac
# Bump when the configure or build steps below change what a tree contains (the cache
# key covers the fragments and the toolchain by their content already).
recipe="kemu-kernel-recipe 1: tinyconfig + merge_config -m + olddefconfig; bzImage modules"

# shellcheck source=toolchain.sh
. "$here/toolchain.sh"

cache=${KEMU_CACHE:-$HOME/.cache/kemu}
srcpkg=$(dpkg-query -W -f='${Version}' linux-source-7.3 2>/dev/null || true)
[ -n "$srcpkg" ] || { echo "build-kernel.sh: linux-source-7.3 is not installed (run tests/vm/setup-host.sh)" >&2; exit 1; }
key=$( { echo "$srcpkg"; cat "${fragments[@]}"; echo "$recipe"; cat "$here/toolchain.sh"; kemu_toolchain_versions; } \
       | sha256sum | cut -c1-16)
out="$cache/kernel/$variant-$key"
if [ "$print_only" = 1 ]; then echo "$out"; exit 0; fi

mkdir -p "$cache/kernel" "$cache/src"
# One lock per variant: a module build against one variant never waits for another
# variant's kernel build.
exec 9>"$cache/kernel/.lock-$variant"
flock 9

if [ -f "$out/.kemu-done" ]; then
    echo "build-kernel.sh: reusing cached $variant kernel"
    echo "$out"
    exit 0
fi

src="$cache/src/linux-source-${srcpkg//[~:]/_}"
if [ ! -f "$src/.kemu-unpacked" ]; then
    echo "build-kernel.sh: unpacking linux-source-7.3 $srcpkg"
    rm -rf "$src" "$cache/src/linux-source-7.3"
    tar -C "$cache/src" -xf /usr/src/linux-source-7.3.tar.xz
    mv "$cache/src/linux-source-7.3" "$src"
    touch "$src/.kemu-unpacked"
fi

rm -rf "$out"
mkdir -p "$out"
start=$(date +%s)
echo "build-kernel.sh: configuring $variant kernel in $out"
kmake() { make -C "$src" O="$out" "${KEMU_KMAKE_ARGS[@]}" "$@"; }
kmake rustavailable
kmake tinyconfig >/dev/null
"$src/scripts/kconfig/merge_config.sh" -m -O "$out" "$out/.config" "${fragments[@]}" >/dev/null
kmake olddefconfig >/dev/null
# Options can be dropped silently by unmet dependencies: refuse to build a kernel that
# lacks any option the fragments ask for.
missing=0
while IFS= read -r line; do
    case "$line" in CONFIG_*=*) ;; *) continue ;; esac
    grep -qxF "$line" "$out/.config" || { echo "build-kernel.sh: option lost in .config: $line" >&2; missing=1; }
done < <(cat "${fragments[@]}")
[ "$missing" = 0 ] || exit 1

echo "build-kernel.sh: building bzImage and modules ($(nproc) jobs)"
kmake -j"$(nproc)" bzImage modules >"$out/build.log" 2>&1 || { tail -50 "$out/build.log" >&2; exit 1; }
touch "$out/.kemu-done"
# Older trees of this variant (other keys) are stale: keep the cache from growing.
for old in "$cache/kernel/$variant"-*; do
    [ "$old" = "$out" ] || rm -rf "$old"
done
echo "build-kernel.sh: $variant kernel built in $(( $(date +%s) - start )) s"
echo "$out"
